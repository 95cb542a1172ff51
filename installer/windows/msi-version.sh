#!/bin/sh
# msi-version.sh VERSION [COMMITS]: the MSI ProductVersion (a.b.c.d, numeric)
# for the Makefile's VERSION (`git describe --tags --always --dirty`).
#
#   v1.4.2              -> 1.4.2.0     a release tag
#   v1.4.2-7-gabc1234   -> 1.4.2.7     7 commits after it (-dirty is dropped)
#   1.4.2               -> 1.4.2.0     the leading v is optional
#   anything else       -> 0.0.0.N     no tag yet: N = COMMITS (default: the
#                                      commit count of HEAD, else 0)
#
# Windows Installer compares only the first three fields, so builds of one
# release (x.y.z.N) replace each other in either direction (the MSI allows
# equal-version upgrades), and a higher release always upgrades.
# Limits: a, b <= 255, c, d <= 65535.
set -eu
v=${1:?usage: msi-version.sh VERSION [COMMITS]}
v=${v#v}
v=${v%-dirty}
case $v in
*-*-g*) n=${v%-g*}; n=${n##*-}; base=${v%-*-g*} ;;
*) n=0; base=$v ;;
esac
if printf '%s\n' "$base" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' && printf '%s\n' "$n" | grep -Eq '^[0-9]+$'; then
	a=${base%%.*}; rest=${base#*.}; b=${rest%%.*}; c=${rest#*.}
else
	a=0 b=0 c=0
	n=${2:-$(git rev-list --count HEAD 2>/dev/null || echo 0)}
fi
# Strip leading zeros (so the shell does not read them as octal).
a=$(echo "$a" | sed 's/^0*\([0-9]\)/\1/'); b=$(echo "$b" | sed 's/^0*\([0-9]\)/\1/')
c=$(echo "$c" | sed 's/^0*\([0-9]\)/\1/'); n=$(echo "$n" | sed 's/^0*\([0-9]\)/\1/')
if [ "$a" -gt 255 ] || [ "$b" -gt 255 ] || [ "$c" -gt 65535 ] || [ "$n" -gt 65535 ]; then
	echo "msi-version.sh: $1 gives $a.$b.$c.$n, out of the MSI's range (255.255.65535.65535); set MSI_VERSION" >&2
	exit 1
fi
echo "$a.$b.$c.$n"
