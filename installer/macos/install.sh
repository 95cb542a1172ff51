#!/bin/sh
# install.sh: install the mattersync agent from this payload without a .pkg
# (the .pkg, built with build-pkg.sh on a Mac, runs the same scripts).
#
#   sudo ./install.sh --gateway-url https://mattersync.firm.example \
#                     --vault-addr https://vault.firm.example:8200 \
#                     [--auth oidc|token|userpass] [--username NAME] [--root DIR]
#
# Without flags the settings come from the MDM profile
# (com.mattersync.agent.mobileconfig), or an existing config is kept.
# DESTDIR=/some/dir installs into a staging tree and starts nothing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
while [ $# -gt 0 ]; do
	case $1 in
	--gateway-url) MATTERSYNC_GATEWAY_URL=$2; shift 2 ;;
	--vault-addr) MATTERSYNC_VAULT_ADDR=$2; shift 2 ;;
	--auth) MATTERSYNC_VAULT_AUTH=$2; shift 2 ;;
	--username) MATTERSYNC_VAULT_USERNAME=$2; shift 2 ;;
	--root) MATTERSYNC_MATTERS_ROOT=$2; shift 2 ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
export MATTERSYNC_GATEWAY_URL MATTERSYNC_VAULT_ADDR MATTERSYNC_VAULT_AUTH MATTERSYNC_VAULT_USERNAME MATTERSYNC_MATTERS_ROOT
dest=${DESTDIR:-/}
if [ "$dest" = / ] && [ "$(id -u)" != 0 ]; then
	echo "install.sh: run it with sudo (it installs for every user of this Mac)" >&2
	exit 1
fi
"$here/scripts/preinstall" "$here" / "$dest"
# The payload, as the .pkg would lay it down (root:wheel, modes kept).
mkdir -p "$dest"
(cd "$here/root" && tar -cf - .) | (cd "$dest" && tar -xpf - --no-same-owner)
if [ "$(id -u)" = 0 ]; then
	chown -R 0:0 "$dest/usr/local/mattersync" "$dest/Library/LaunchAgents/com.mattersync.agent.plist" "$dest/usr/local/bin/mattersync"
fi
"$here/scripts/postinstall" "$here" / "$dest"
echo "mattersync installed; uninstall with: sudo /usr/local/mattersync/uninstall.sh"
