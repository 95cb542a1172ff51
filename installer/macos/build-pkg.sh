#!/bin/sh
# build-pkg.sh: on a Mac with Xcode's command line tools, turn this payload
# into mattersync-VERSION.pkg: optionally codesigned (hardened runtime),
# signed with a Developer ID Installer certificate, notarized and stapled.
#
#   MACOS_APP_IDENTITY="Developer ID Application: Firm LLP (TEAMID)" \
#   MACOS_INSTALLER_IDENTITY="Developer ID Installer: Firm LLP (TEAMID)" \
#   MACOS_NOTARY_PROFILE=mattersync-notary \
#   ./build-pkg.sh
#
# Each variable is optional: without them the .pkg is unsigned (fine for a
# test Mac; MDM and Gatekeeper want it signed and notarized). The notary
# profile is created once with `xcrun notarytool store-credentials`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/VERSION")
out=${1:-$here/../mattersync-$version.pkg}
work=$(mktemp -d "${TMPDIR:-/tmp}/mattersync-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -Rp "$here/root" "$work/root"
if [ -n "${MACOS_APP_IDENTITY:-}" ]; then
	codesign --force --options runtime --timestamp --identifier com.mattersync.agent \
		--sign "$MACOS_APP_IDENTITY" "$work/root/usr/local/mattersync/bin/mattersync"
fi
pkgbuild --root "$work/root" --scripts "$here/scripts" --identifier com.mattersync.agent \
	--version "$version" --install-location / --ownership recommended "$work/component.pkg"
set -- --package "$work/component.pkg"
[ -n "${MACOS_INSTALLER_IDENTITY:-}" ] && set -- "$@" --sign "$MACOS_INSTALLER_IDENTITY" --timestamp
productbuild "$@" "$out"
if [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
	xcrun notarytool submit "$out" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
	xcrun stapler staple "$out"
fi
echo "wrote $out"
