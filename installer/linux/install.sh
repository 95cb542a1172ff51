#!/bin/sh
# install.sh: install the mattersync agent from this tarball.
#
# For every user of the machine (as root):
#   sudo ./install.sh --gateway-url https://mattersync.firm.example \
#                     --vault-addr https://vault.firm.example:8200 [--auth userpass|token|oidc] [--root DIR]
#                     [--sync-matters all|none|ID,ID...]
#   binary /usr/local/lib/mattersync/mattersync, CLI /usr/local/bin/mattersync,
#   config /etc/mattersync/agent.yaml, user unit
#   /usr/local/lib/systemd/user/mattersync.service enabled globally: every
#   user's session starts its own agent at login.
#
# For yourself only (no root):
#   ./install.sh --user --gateway-url ... --vault-addr ...
#   ~/.local/bin/mattersync, ~/.config/mattersync/agent.yaml,
#   ~/.config/systemd/user/mattersync.service, enabled and started now.
#
# Without --gateway-url/--vault-addr an existing config is kept.
# DESTDIR=/some/dir installs into a staging tree and runs no systemctl.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mode=system
set_gateway='' set_vault='' auth='' username='' root='' sync_matters=''
while [ $# -gt 0 ]; do
	case $1 in
	--user) mode=user; shift ;;
	--gateway-url) set_gateway=$2; shift 2 ;;
	--vault-addr) set_vault=$2; shift 2 ;;
	--auth) auth=$2; shift 2 ;;
	--username) username=$2; shift 2 ;;
	--root) root=$2; shift 2 ;;
	--sync-matters) sync_matters=$2; shift 2 ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
dest=${DESTDIR:-}
dest=${dest%/}
if [ "$mode" = system ]; then
	[ -n "$dest" ] || [ "$(id -u)" = 0 ] || {
		echo "install.sh: run it with sudo, or pass --user to install for yourself only" >&2
		exit 1
	}
	libdir=/usr/local/lib/mattersync
	binary=$libdir/mattersync
	cli=/usr/local/bin/mattersync
	config=/etc/mattersync/agent.yaml
	unitdir=/usr/local/lib/systemd/user
else
	[ "$(id -u)" != 0 ] || [ -n "$dest" ] || {
		echo "install.sh: --user installs for the current user; do not run it as root" >&2
		exit 1
	}
	binary=$HOME/.local/bin/mattersync
	cli=
	config=${XDG_CONFIG_HOME:-$HOME/.config}/mattersync/agent.yaml
	unitdir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
fi

if [ -z "$set_gateway" ] || [ -z "$set_vault" ]; then
	if [ ! -f "$dest$config" ]; then
		echo "install.sh: --gateway-url and --vault-addr are required (no $config yet)" >&2
		exit 2
	fi
fi

# Stop a running agent before its binary is replaced (an upgrade).
if [ -z "$dest" ] && [ "$mode" = user ]; then
	systemctl --user stop mattersync.service 2>/dev/null || true
fi

install -d "$dest$(dirname "$binary")" "$dest$unitdir"
install -m 0755 "$here/mattersync" "$dest$binary"
if [ -n "$cli" ]; then
	install -d "$dest$(dirname "$cli")"
	# The CLI with the machine config as its default (--config and
	# $MATTERSYNC_CONFIG still win), so `mattersync status` finds the agent.
	cat >"$dest$cli" <<WRAPPER
#!/bin/sh
# mattersync CLI: the agent with the machine config as default.
: "\${MATTERSYNC_CONFIG:=$config}"
export MATTERSYNC_CONFIG
exec "$binary" "\$@"
WRAPPER
	chmod 0755 "$dest$cli"
fi
if [ -n "$set_gateway" ] && [ -n "$set_vault" ]; then
	set -- config init --config "$dest$config" --gateway-url "$set_gateway" --vault-addr "$set_vault" --force
	[ -n "$auth" ] && set -- "$@" --auth "$auth"
	[ -n "$username" ] && set -- "$@" --username "$username"
	[ -n "$root" ] && set -- "$@" --root "$root"
	[ -n "$sync_matters" ] && set -- "$@" --sync-matters "$sync_matters"
	"$dest$binary" "$@"
	chmod 0644 "$dest$config"
fi
sed -e "s|@BINARY@|$binary|g" -e "s|@CONFIG@|$config|g" "$here/mattersync.service.in" >"$dest$unitdir/mattersync.service"
chmod 0644 "$dest$unitdir/mattersync.service"
cp "$here/uninstall.sh" "$dest$(dirname "$binary")/mattersync-uninstall.sh"
chmod 0755 "$dest$(dirname "$binary")/mattersync-uninstall.sh"

[ -z "$dest" ] || exit 0
if [ "$mode" = system ]; then
	systemctl --global enable mattersync.service
	# Users logged in now: (re)start their agent on the new binary.
	for uid in $(loginctl list-users --no-legend 2>/dev/null | awk '{ print $1 }'); do
		systemctl --machine="$uid@.host" --user daemon-reload 2>/dev/null || continue
		systemctl --machine="$uid@.host" --user restart mattersync.service 2>/dev/null || true
	done
	echo "mattersync installed: every user's agent starts at login"
	echo "uninstall: sudo $(dirname "$binary")/mattersync-uninstall.sh"
else
	systemctl --user daemon-reload
	systemctl --user enable --now mattersync.service
	echo "mattersync installed and started: systemctl --user status mattersync"
	echo "uninstall: $(dirname "$binary")/mattersync-uninstall.sh --user"
fi
