#!/bin/sh
# uninstall.sh (installed as /usr/local/mattersync/uninstall.sh): stop every
# user's agent and remove what the installer put on this Mac: the program,
# the LaunchAgent, the CLI wrapper, the machine config and the pkg receipt.
#
# Users' files stay: ~/Matters and ~/Library/Application Support/mattersync
# (the local index) are the users' data; delete them separately if wanted.
# DESTDIR=/some/dir uninstalls from a staging tree.
set -eu
vol=${DESTDIR:-/}
vol=${vol%/}
label=com.mattersync.agent
if [ -z "$vol" ] && [ "$(id -u)" != 0 ]; then
	echo "uninstall.sh: run it with sudo" >&2
	exit 1
fi
if [ -z "$vol" ]; then
	for uid in $(ps -axo uid=,comm= | awk '$2 ~ /(^|\/)mattersync$/ { print $1 }' | sort -u); do
		/bin/launchctl bootout "gui/$uid/$label" 2>/dev/null || true
	done
fi
rm -f "$vol/Library/LaunchAgents/$label.plist"
# The wrapper only if it is ours (it names our binary).
if grep -q /usr/local/mattersync/bin/mattersync "$vol/usr/local/bin/mattersync" 2>/dev/null; then
	rm -f "$vol/usr/local/bin/mattersync"
fi
rm -rf "$vol/Library/Application Support/mattersync"
rm -rf "$vol/usr/local/mattersync"
if [ -z "$vol" ] && /usr/sbin/pkgutil --pkg-info "$label" >/dev/null 2>&1; then
	/usr/sbin/pkgutil --forget "$label" >/dev/null
fi
echo "mattersync removed (users' ~/Matters folders were left in place)"
