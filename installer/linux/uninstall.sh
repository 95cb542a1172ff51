#!/bin/sh
# uninstall.sh [--user]: remove what install.sh installed (system-wide, or
# with --user the current user's install): the agent, its unit, the CLI and
# the config. Users' files stay: ~/Matters and ~/.local/state/mattersync (the
# local index) are the users' data. DESTDIR=/some/dir works on a staging tree.
set -eu
mode=system
[ "${1:-}" = --user ] && mode=user
dest=${DESTDIR:-}
dest=${dest%/}
if [ "$mode" = system ]; then
	[ -n "$dest" ] || [ "$(id -u)" = 0 ] || { echo "uninstall.sh: run it with sudo (or --user)" >&2; exit 1; }
	if [ -z "$dest" ]; then
		systemctl --global disable mattersync.service 2>/dev/null || true
		# Stop the agent in every running user manager.
		for uid in $(loginctl list-users --no-legend 2>/dev/null | awk '{ print $1 }'); do
			systemctl --machine="$uid@.host" --user stop mattersync.service 2>/dev/null || true
		done
	fi
	rm -f "$dest/usr/local/lib/systemd/user/mattersync.service" "$dest/usr/local/bin/mattersync"
	rm -rf "$dest/usr/local/lib/mattersync" "$dest/etc/mattersync"
else
	if [ -z "$dest" ]; then
		systemctl --user disable --now mattersync.service 2>/dev/null || true
	fi
	cfg=${XDG_CONFIG_HOME:-$HOME/.config}
	rm -f "$dest$cfg/systemd/user/mattersync.service" "$dest$HOME/.local/bin/mattersync" "$dest$HOME/.local/bin/mattersync-uninstall.sh"
	rm -rf "$dest$cfg/mattersync"
	[ -n "$dest" ] || systemctl --user daemon-reload 2>/dev/null || true
fi
echo "mattersync removed (users' ~/Matters folders were left in place)"
