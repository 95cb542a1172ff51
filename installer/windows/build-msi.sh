#!/bin/sh
# build-msi.sh --version VERSION --exe-dir DIR --out FILE.msi
#
# Builds the mattersync MSI (x64) on Linux with wixl from mattersync.wxs and
# the two Windows executables in DIR: mattersync.exe (the console CLI) and
# mattersyncw.exe (the same program linked with -H=windowsgui: the agent that
# runs at sign-in without a console window). `make msi` builds both and calls
# this. With SIGN_CERT set (see sign.sh) the executables are Authenticode-
# signed before they go into the MSI, and the MSI after.
#
# VERSION is the Makefile's (git describe); the MSI's numeric ProductVersion
# is MSI_VERSION if set, else msi-version.sh VERSION.
#
# Needs wixl and msibuild (Debian: wixl, msitools), osslsigncode to sign.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version='' exedir='' out=''
while [ $# -gt 0 ]; do
	case $1 in
	--version) version=$2; shift 2 ;;
	--exe-dir) exedir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "build-msi.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$version" ] && [ -n "$exedir" ] && [ -n "$out" ] || {
	echo "usage: build-msi.sh --version VERSION --exe-dir DIR --out FILE.msi" >&2
	exit 2
}
msiver=${MSI_VERSION:-$("$here/msi-version.sh" "$version")}
printf '%s\n' "$msiver" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' || {
	echo "build-msi.sh: MSI version $msiver is not a.b.c.d" >&2
	exit 2
}
for exe in mattersync.exe mattersyncw.exe; do
	[ -f "$exedir/$exe" ] || { echo "build-msi.sh: $exedir/$exe is missing (make msi builds it)" >&2; exit 1; }
	# A PE file starts with "MZ"; catch a Linux or macOS binary given by mistake.
	[ "$(head -c 2 "$exedir/$exe")" = MZ ] || { echo "build-msi.sh: $exedir/$exe is not a Windows executable" >&2; exit 1; }
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/mattersync-msi.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp "$exedir/mattersync.exe" "$exedir/mattersyncw.exe" "$here/mattersync.wxs" "$stage/"
if [ -n "${SIGN_CERT:-}" ]; then
	"$here/sign.sh" "$stage/mattersync.exe" "$stage/mattersyncw.exe"
fi

echo "wixl mattersync $version (ProductVersion $msiver, x64)"
# wixl resolves File/@Source relative to the .wxs, so it runs in the stage.
(cd "$stage" && wixl --arch x64 -D "Version=$msiver" -o mattersync.msi mattersync.wxs)

# What wixl cannot express (see extra.sql): one statement per line.
sed -e '/^#/d' -e '/^[[:space:]]*$/d' -e "s/@VERSION@/$msiver/g" "$here/extra.sql" >"$stage/extra.sql"
while IFS= read -r q; do
	msibuild "$stage/mattersync.msi" -q "$q" || { echo "build-msi.sh: msibuild failed: $q" >&2; exit 1; }
done <"$stage/extra.sql"

if [ -n "${SIGN_CERT:-}" ]; then
	"$here/sign.sh" "$stage/mattersync.msi"
fi
mkdir -p "$(dirname "$out")"
mv "$stage/mattersync.msi" "$out"
echo "wrote $out"
