# mattersync build, test and local stack. `make help` lists the targets.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BINARIES := mattersync mattersync-gateway mattersync-admin
TOOLS    := $(CURDIR)/.tools/bin
FUZZTIME ?= 20s

# Agent for every desktop platform; gateway and admin for the servers and IT's Macs.
AGENT_PLATFORMS  := windows/amd64 windows/arm64 darwin/amd64 darwin/arm64 linux/amd64
SERVER_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

export GOTOOLCHAIN := local
SHELL := bash

.PHONY: help build test test-short tools cross lint bench bench-peer fuzz run clean-run clean

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the three binaries into bin/
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./cmd/,$(BINARIES))

tools: ## build (once, cached) the pinned Vault, MinIO, Hydra, Mailpit and staticcheck into .tools/bin
	tools/install.sh

test: tools ## everything: bounded fuzzing, then unit, integration and e2e tests against real Vault/MinIO/PostgreSQL with -race
	$(MAKE) --no-print-directory fuzz
	$(GO) test -run '^$$' -bench . -benchtime 1x ./bench/... ./format/  # every benchmark still runs (figures: make bench)
	@mkdir -p bin; set -o pipefail; $(GO) test -race -count=1 -timeout 30m ./... 2>&1 | tee bin/test.log; status=$$?; \
		echo "packages: $$(grep -c '^ok ' bin/test.log) passed, $$(grep -c '^FAIL[[:space:]]' bin/test.log) failed"; exit $$status

test-short: ## unit tests only, no services
	$(GO) test -short -count=1 ./...

fuzz: ## run every fuzz target for FUZZTIME (default 20s) each
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/mattersync-fuzz.$$$$.log 2>&1 || { cat /tmp/mattersync-fuzz.$$$$.log; exit 1; }; \
		done; \
	done; rm -f /tmp/mattersync-fuzz.*.log

cross: ## compile the agent for Windows/macOS/Linux and the servers for Linux/macOS (CGO_ENABLED=0)
	@set -e; for p in $(AGENT_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "cross mattersync $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cross/$$os-$$arch/mattersync$$ext ./cmd/mattersync; \
	done
	@set -e; for p in $(SERVER_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		for b in mattersync-gateway mattersync-admin; do \
			echo "cross $$b $$os/$$arch"; \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cross/$$os-$$arch/$$b ./cmd/$$b; \
		done; \
	done

lint: ## gofmt check, go mod tidy check, go vet, staticcheck (pinned)
	tools/install.sh staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

bench: ## run every benchmark once (figures are reported, never asserted)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

bench-peer: ## mattersync against rclone crypt on the same MinIO (issue 22): builds rclone once (tools/install.sh rclone), 3 interleaved rounds, one table
	tools/install.sh vault minio rclone
	$(GO) run ./bench/peer $(BENCH_PEER_FLAGS)

run: build tools ## the local stack: Vault, MinIO, gateway and two agents on demo folders (state in .run/); SSO=1 adds an identity provider and MFA; REPLICAS=3 runs three gateways on PostgreSQL behind HAProxy (.run-cluster/)
	@# A built binary, not `go run`: go run exits 1 after a Ctrl-C even when
	@# the stack stopped cleanly, and make would report an error.
	$(GO) build -o bin/devstack ./internal/cmd/devstack
	$(if $(REPLICAS),installer/ensure-tools.sh haproxy)
	bin/devstack --dir .run$(if $(REPLICAS),-cluster) --bin bin --tools $(TOOLS) $(if $(SSO),--sso) $(if $(REPLICAS),--replicas $(REPLICAS))

clean-run: ## remove the local stack's state (.run/, .run-cluster/)
	rm -rf .run .run-cluster

clean: ## remove build output (keeps the shared tools cache)
	rm -rf bin .tools

# ---- Installers (installer/, docs/INSTALL.md) --------------------------------
# Each target builds the agent binaries it packs (same flags as `make cross`).
# msi: Windows x64 MSI with wixl (wixl 0.101 has no arm64 target; Windows on
# Arm runs the x64 MSI and agent under emulation). MSI_VERSION overrides the
# numeric ProductVersion derived from VERSION (installer/windows/msi-version.sh).
# SIGN_CERT=… SIGN_KEY=… (see installer/windows/sign.sh) Authenticode-signs the
# executables and the MSI with osslsigncode.
.PHONY: msi macos-pkg linux-tarball installers
WINDOWS_AGENT := bin/cross/windows-amd64

msi: ## Windows MSI (x64) in bin/, built with wixl; SIGN_CERT=… SIGN_KEY=… signs it
	installer/ensure-tools.sh wixl msibuild msiinfo $(if $(SIGN_CERT),osslsigncode)
	@mkdir -p $(WINDOWS_AGENT)
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(WINDOWS_AGENT)/mattersync.exe ./cmd/mattersync
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS) -H=windowsgui' -o $(WINDOWS_AGENT)/mattersyncw.exe ./cmd/mattersync
	installer/windows/build-msi.sh --version '$(VERSION)' --exe-dir $(WINDOWS_AGENT) --out bin/mattersync-$(VERSION)-x64.msi

macos-pkg: ## macOS installer payload (universal binary, LaunchAgent, pkg scripts, MDM profile) as bin/…-macos.tar.gz
	@set -e; for arch in amd64 arm64; do \
		echo "build mattersync darwin/$$arch"; \
		CGO_ENABLED=0 GOOS=darwin GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cross/darwin-$$arch/mattersync ./cmd/mattersync; \
	done
	@mkdir -p bin/cross/darwin-universal
	$(GO) run ./installer/macos/lipo -o bin/cross/darwin-universal/mattersync bin/cross/darwin-amd64/mattersync bin/cross/darwin-arm64/mattersync
	installer/macos/build-payload.sh --version '$(VERSION)' --binary bin/cross/darwin-universal/mattersync --out bin/mattersync-$(VERSION)-macos.tar.gz

linux-tarball: ## Linux agent tarball (binary, systemd user unit, install/uninstall scripts) in bin/
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cross/linux-amd64/mattersync ./cmd/mattersync
	installer/linux/build-tarball.sh --version '$(VERSION)' --arch amd64 --binary bin/cross/linux-amd64/mattersync --out bin/mattersync-$(VERSION)-linux-amd64.tar.gz

installers: msi macos-pkg linux-tarball ## all three installers
