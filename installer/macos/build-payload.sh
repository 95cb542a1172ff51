#!/bin/sh
# build-payload.sh --version VERSION --binary MATTERSYNC --out FILE.tar.gz
#
# Builds the macOS installer payload as a tarball: everything a .pkg needs,
# laid out for pkgbuild (root/ and scripts/), plus install.sh/uninstall.sh to
# install without a .pkg, build-pkg.sh to make the signed and notarized .pkg
# on a Mac, and the MDM profile example. BINARY is the agent for macOS,
# preferably universal (`make macos-pkg` builds one with ./lipo).
#
# Debian has no pkgbuild/xar/mkbom, so the .pkg itself is made on a Mac.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version='' binary='' out=''
while [ $# -gt 0 ]; do
	case $1 in
	--version) version=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "build-payload.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$version" ] && [ -n "$binary" ] && [ -n "$out" ] || {
	echo "usage: build-payload.sh --version VERSION --binary MATTERSYNC --out FILE.tar.gz" >&2
	exit 2
}
case $(od -An -tx1 -N4 "$binary" | tr -d ' \n') in
cafebabe | cffaedfe) ;; # universal, or thin 64-bit Mach-O
*) echo "build-payload.sh: $binary is not a macOS executable" >&2; exit 1 ;;
esac

prefix=/usr/local/mattersync
bin=$prefix/bin/mattersync
config="/Library/Application Support/mattersync/agent.yaml"
name=mattersync-$version-macos
stage=$(mktemp -d "${TMPDIR:-/tmp}/mattersync-macos.XXXXXX")
trap 'rm -rf "$stage"' EXIT
d=$stage/$name
render() { sed -e "s|@BINARY@|$bin|g" -e "s|@CONFIG@|$config|g" "$1" >"$2"; }

mkdir -p "$d/root$prefix/bin" "$d/root/usr/local/bin" "$d/root/Library/LaunchAgents" "$d/scripts"
cp "$binary" "$d/root$bin"
cp "$here/uninstall.sh" "$d/root$prefix/uninstall.sh"
render "$here/mattersync.sh" "$d/root/usr/local/bin/mattersync"
render "$here/com.mattersync.agent.plist.in" "$d/root/Library/LaunchAgents/com.mattersync.agent.plist"
cp "$here/scripts/preinstall" "$here/scripts/postinstall" "$here/settings.sh" "$d/scripts/"
cp "$here/install.sh" "$here/uninstall.sh" "$here/build-pkg.sh" "$here/com.mattersync.agent.mobileconfig" "$d/"
chmod 0755 "$d/root$bin" "$d/root$prefix/uninstall.sh" "$d/root/usr/local/bin/mattersync" \
	"$d/scripts/preinstall" "$d/scripts/postinstall" "$d/install.sh" "$d/uninstall.sh" "$d/build-pkg.sh"
chmod 0644 "$d/root/Library/LaunchAgents/com.mattersync.agent.plist" "$d/scripts/settings.sh" "$d/com.mattersync.agent.mobileconfig"
echo "$version" >"$d/VERSION"
cat >"$d/README.txt" <<README
mattersync $version for macOS: installer payload (see docs/INSTALL.md).

  sudo ./install.sh --gateway-url URL --vault-addr URL   install without a .pkg
  ./build-pkg.sh                                          on a Mac: the signed, notarized .pkg
  com.mattersync.agent.mobileconfig                       MDM profile example (settings)
  sudo /usr/local/mattersync/uninstall.sh                 uninstall

root/ is the payload (pkgbuild --root), scripts/ the pkg scripts.
README

mkdir -p "$(dirname "$out")"
"$here/../tarball.sh" "$stage" "$name" "$out"
echo "wrote $out"
