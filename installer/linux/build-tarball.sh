#!/bin/sh
# build-tarball.sh --version VERSION --arch ARCH --binary MATTERSYNC --out FILE.tar.gz
#
# The Linux agent tarball: the binary, the systemd user unit template and
# install.sh/uninstall.sh (see docs/INSTALL.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version='' arch='' binary='' out=''
while [ $# -gt 0 ]; do
	case $1 in
	--version) version=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "build-tarball.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$version" ] && [ -n "$arch" ] && [ -n "$binary" ] && [ -n "$out" ] || {
	echo "usage: build-tarball.sh --version VERSION --arch ARCH --binary MATTERSYNC --out FILE.tar.gz" >&2
	exit 2
}
[ "$(od -An -c -N4 "$binary" | tr -d ' \n')" = 177ELF ] || {
	echo "build-tarball.sh: $binary is not a Linux executable" >&2
	exit 1
}
name=mattersync-$version-linux-$arch
stage=$(mktemp -d "${TMPDIR:-/tmp}/mattersync-linux.XXXXXX")
trap 'rm -rf "$stage"' EXIT
d=$stage/$name
mkdir -p "$d"
install -m 0755 "$binary" "$d/mattersync"
install -m 0755 "$here/install.sh" "$here/uninstall.sh" "$d/"
install -m 0644 "$here/mattersync.service.in" "$d/"
echo "$version" >"$d/VERSION"
cat >"$d/README.txt" <<README
mattersync $version for Linux ($arch); see docs/INSTALL.md.

  sudo ./install.sh --gateway-url URL --vault-addr URL          every user of this machine
  ./install.sh --user --gateway-url URL --vault-addr URL        just you
README
mkdir -p "$(dirname "$out")"
"$here/../tarball.sh" "$stage" "$name" "$out"
echo "wrote $out"
