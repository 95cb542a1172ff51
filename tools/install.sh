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

# build_module NAME MODULE VERSION NOTE: builds tools/NAME, a module that
# requires MODULE at VERSION, once per content of its go.mod, go.sum and
# main.go, into the cache, and links it.
build_module() {
	local name=$1 module=$2 version=$3 note=$4 sum dir
	grep -q "$module $version\$" "$root/tools/$name/go.mod" ||
		{ say "tools/$name/go.mod does not require $name $version (tools/versions.env)"; exit 1; }
	sum=$(cat "$root/tools/$name/go.mod" "$root/tools/$name/go.sum" "$root/tools/$name/main.go" | sha256sum | cut -c1-12)
	dir=$cache/$name-${version#v}-$sum
	if [ ! -x "$dir/$name" ]; then
		say "building $name ${version#v} ($note)..."
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		(cd "$root/tools/$name" && GOFLAGS="$GOFLAGS -mod=readonly" go build -o "$dir.tmp/$name" .)
		publish "$name" "$dir"
	fi
	ln -sf "$dir/$name" "$bin/$name"
	say "$name ${version#v}: $dir/$name"
}

install_hydra() { build_module hydra github.com/ory/hydra/v2 "$HYDRA_VERSION" "cold build takes 10-20 minutes on 2 cores"; }

# Mailpit (the SMTP server receiving share recipients' codes in tests and
# make run) is never taken from PATH: tests read its API of this version.
install_mailpit() { build_module mailpit github.com/axllent/mailpit "$MAILPIT_VERSION" "cold build: about 2.5 CPU-minutes, 2-3 minutes on 2 idle cores"; }

# rclone is never taken from PATH: the bench compares against one pinned
# version.
install_rclone() { build_module rclone github.com/rclone/rclone "$RCLONE_VERSION" "cold build takes about 5 minutes on 2 cores"; }

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
