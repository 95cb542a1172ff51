#!/bin/sh
# tarball.sh DIR NAME OUT.tar.gz: pack DIR/NAME as OUT, owned by root, in a
# stable order with stable times when GNU tar allows (reproducible builds).
set -eu
dir=$1 name=$2 out=$3
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
if tar --version 2>/dev/null | grep -q 'GNU tar'; then
	mtime=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
	tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -cf - "$name" | gzip -9n >"$out"
else
	tar -C "$dir" --uid 0 --gid 0 -cf - "$name" | gzip -9n >"$out"
fi
