#!/bin/sh
# ensure-tools.sh COMMAND...: make sure each command is on PATH, installing
# its Debian package with apt-get when it is not (as root, or through sudo
# when that works without a password). apt-get update runs once, only if the
# first install attempt fails. Exits non-zero, naming what is missing, when
# a command cannot be had.
set -eu
pkg() {
	case $1 in
	wixl | wixl-heat) echo wixl ;;
	msiinfo | msibuild | msidump | msiextract) echo msitools ;;
	osslsigncode) echo osslsigncode ;;
	*) echo "$1" ;;
	esac
}
missing='' pkgs=''
for c in "$@"; do
	command -v "$c" >/dev/null 2>&1 && continue
	missing="$missing $c"
	p=$(pkg "$c")
	case " $pkgs " in *" $p "*) ;; *) pkgs="$pkgs $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	sudo=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo -n"
else
	echo "ensure-tools.sh: missing$missing; install the Debian packages$pkgs (needs root)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-tools.sh: missing$missing and no apt-get; install$pkgs by hand" >&2
	exit 1
fi
echo "ensure-tools.sh: installing$pkgs" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of $sudo and $pkgs is intended
if ! $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null 2>&1; then
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
for c in "$@"; do
	command -v "$c" >/dev/null 2>&1 || { echo "ensure-tools.sh: $c still missing after installing$pkgs" >&2; exit 1; }
done
