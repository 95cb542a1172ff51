#!/usr/bin/env bash
# Builds the pinned Vault, MinIO, ORY Hydra and Mailpit servers (and staticcheck) from the Go
# module proxy, once per version, into a cache shared by every clone on this
# machine, and links them into .tools/bin/. A vault or minio already on PATH
# is used instead when its version is acceptable. rclone (the peer of
# `make bench-peer`) is built only when named: no test needs it.
#
# Usage: tools/install.sh [vault|minio|hydra|mailpit|staticcheck|rclone ...]   (default: all but rclone)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$root/tools/versions.env"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/mattersync/tools
bin=$root/.tools/bin
mkdir -p "$bin" "$cache"
export GOTOOLCHAIN=local GOFLAGS=-trimpath

say() { printf 'tools: %s\n' "$*" >&2; }

# on_path NAME: prints the path of NAME found on PATH outside .tools/bin.
on_path() {
	local p
	p=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd: -) type -P "$1" 2>/dev/null) || return 1
	printf '%s\n' "$p"
}

# publish NAME DIR: builds happened in DIR.tmp; move it into place atomically
# so concurrent clones never see a half-written binary.
publish() {
	local dir=$2
	if [ -x "$dir/$1" ]; then rm -rf "$dir.tmp"; return; fi
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

install_vault() {
	local p v want=${VAULT_VERSION#v}
	grep -q "github.com/hashicorp/vault $VAULT_VERSION\$" "$root/tools/vault/go.mod" ||
		{ say "tools/vault/go.mod does not require vault $VAULT_VERSION (tools/versions.env)"; exit 1; }
	if p=$(on_path vault); then
		v=$("$p" version 2>/dev/null | sed -n 's/^Vault v\([0-9][0-9.]*\).*/\1/p')
		# Any 1.15+ dev server has every endpoint mattersync uses.
		if [ -n "$v" ] && printf '1.15.0\n%s\n' "$v" | sort -V -C; then
			say "using vault $v from $p"
			ln -sf "$p" "$bin/vault"
			return
		fi
	fi
	local sum dir
	sum=$(cat "$root/tools/vault/go.mod" "$root/tools/vault/go.sum" "$root/tools/vault/main.go" | sha256sum | cut -c1-12)
	dir=$cache/vault-$want-$sum
	if [ ! -x "$dir/vault" ]; then
		say "building vault $want (cold build takes 7-12 minutes on 2 cores)..."
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		(cd "$root/tools/vault" && GONOSUMDB=github.com/hashicorp GOFLAGS="$GOFLAGS -mod=readonly" go build -o "$dir.tmp/vault" .)
		publish vault "$dir"
	fi
	ln -sf "$dir/vault" "$bin/vault"
	say "vault $want: $dir/vault"
}

install_minio() {
	local p
	if p=$(on_path minio) && "$p" --version >/dev/null 2>&1; then
		say "using minio from $p"
		ln -sf "$p" "$bin/minio"
		return
	fi
	local dir=$cache/minio-$MINIO_VERSION
	if [ ! -x "$dir/minio" ]; then
		say "building minio $MINIO_VERSION (cold build takes about 5 minutes)..."
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		GOBIN=$dir.tmp go install "github.com/minio/minio@$MINIO_VERSION"
		publish minio "$dir"
	fi
	ln -sf "$dir/minio" "$bin/minio"
	say "minio $MINIO_VERSION: $dir/minio"
}

install_hydra() {
	grep -q "github.com/ory/hydra/v2 $HYDRA_VERSION\$" "$root/tools/hydra/go.mod" ||
		{ say "tools/hydra/go.mod does not require hydra $HYDRA_VERSION (tools/versions.env)"; exit 1; }
	local sum dir
	sum=$(cat "$root/tools/hydra/go.mod" "$root/tools/hydra/go.sum" "$root/tools/hydra/main.go" | sha256sum | cut -c1-12)
	dir=$cache/hydra-${HYDRA_VERSION#v}-$sum
	if [ ! -x "$dir/hydra" ]; then
		say "building hydra ${HYDRA_VERSION#v} (cold build takes 10-20 minutes on 2 cores)..."
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		(cd "$root/tools/hydra" && GOFLAGS="$GOFLAGS -mod=readonly" go build -o "$dir.tmp/hydra" .)
		publish hydra "$dir"
	fi
	ln -sf "$dir/hydra" "$bin/hydra"
	say "hydra ${HYDRA_VERSION#v}: $dir/hydra"
}

# Mailpit (the SMTP server receiving share recipients' codes in tests and
# make run) is never taken from PATH: tests read its API of this version.
install_mailpit() {
	grep -q "github.com/axllent/mailpit $MAILPIT_VERSION\$" "$root/tools/mailpit/go.mod" ||
		{ say "tools/mailpit/go.mod does not require mailpit $MAILPIT_VERSION (tools/versions.env)"; exit 1; }
	local sum dir
	sum=$(cat "$root/tools/mailpit/go.mod" "$root/tools/mailpit/go.sum" "$root/tools/mailpit/main.go" | sha256sum | cut -c1-12)
	dir=$cache/mailpit-${MAILPIT_VERSION#v}-$sum
	if [ ! -x "$dir/mailpit" ]; then
		say "building mailpit ${MAILPIT_VERSION#v} (cold build: about 2.5 CPU-minutes, 2-3 minutes on 2 idle cores)..."
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		(cd "$root/tools/mailpit" && GOFLAGS="$GOFLAGS -mod=readonly" go build -o "$dir.tmp/mailpit" .)
		publish mailpit "$dir"
	fi
	ln -sf "$dir/mailpit" "$bin/mailpit"
	say "mailpit ${MAILPIT_VERSION#v}: $dir/mailpit"
}

# rclone is never taken from PATH: the bench compares against one pinned
# version.
install_rclone() {
	grep -q "github.com/rclone/rclone $RCLONE_VERSION\$" "$root/tools/rclone/go.mod" ||
		{ say "tools/rclone/go.mod does not require rclone $RCLONE_VERSION (tools/versions.env)"; exit 1; }
	local sum dir
	sum=$(cat "$root/tools/rclone/go.mod" "$root/tools/rclone/go.sum" "$root/tools/rclone/main.go" | sha256sum | cut -c1-12)
	dir=$cache/rclone-${RCLONE_VERSION#v}-$sum
	if [ ! -x "$dir/rclone" ]; then
		say "building rclone ${RCLONE_VERSION#v} (cold build takes about 5 minutes on 2 cores)..."
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		(cd "$root/tools/rclone" && GOFLAGS="$GOFLAGS -mod=readonly" go build -o "$dir.tmp/rclone" .)
		publish rclone "$dir"
	fi
	ln -sf "$dir/rclone" "$bin/rclone"
	say "rclone ${RCLONE_VERSION#v}: $dir/rclone"
}

install_staticcheck() {
	local dir=$cache/staticcheck-$STATICCHECK_VERSION
	if [ ! -x "$dir/staticcheck" ]; then
		say "building staticcheck $STATICCHECK_VERSION..."
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		GOBIN=$dir.tmp go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
		publish staticcheck "$dir"
	fi
	ln -sf "$dir/staticcheck" "$bin/staticcheck"
}

[ $# -gt 0 ] || set -- vault minio hydra mailpit staticcheck
# One build at a time per cache: two clones (or CI beside a session) building
# the same tool at once would share, and clobber, its .tmp directory.
if command -v flock >/dev/null; then
	exec 9>"$cache/.lock"
	flock -n 9 || { say "waiting for another tools/install.sh to finish..."; flock 9; }
fi
for t in "$@"; do
	case $t in
	vault | minio | hydra | mailpit | staticcheck | rclone) "install_$t" ;;
	*) say "unknown tool $t (want vault, minio, hydra, mailpit, staticcheck or rclone)"; exit 2 ;;
	esac
done
