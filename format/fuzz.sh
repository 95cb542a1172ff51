#!/bin/sh
# Runs every fuzz target of package format for a bounded time each.
# Usage: format/fuzz.sh [seconds]   (default 20; or FUZZTIME=20s)
# The seed corpora (f.Add and testdata/fuzz) also run in plain `go test`.
# New failing inputs are written to format/testdata/fuzz/<Target>/: commit
# them with the fix, they become regression seeds.
set -eu
cd "$(dirname "$0")/.."
time="${FUZZTIME:-${1:-20}s}"
case "$time" in *ss) time="${time%s}" ;; esac
for target in FuzzOpenChunk FuzzOpenManifest FuzzDecodeManifest FuzzSafeLocalPath; do
	echo "== $target ($time)"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" ./format
done
