#!/bin/sh
# sign.sh FILE...: Authenticode-sign Windows executables and MSIs in place
# with osslsigncode (SHA-256). The signing material comes from the
# environment (see docs/INSTALL.md, "Signing"):
#
#   SIGN_CERT           certificate chain, PEM or DER; or a .p12/.pfx holding
#                       both certificate and key (then leave SIGN_KEY empty)
#   SIGN_KEY            private key, PEM or DER; with SIGN_PKCS11_MODULE, a
#                       PKCS#11 URI of a key in a token or HSM
#   SIGN_PKCS11_MODULE  PKCS#11 module (.so) for SIGN_KEY, e.g. the HSM vendor's
#   SIGN_PASS_FILE      file holding the key or .p12 password (never argv)
#   SIGN_TIMESTAMP      RFC 3161 time-stamp server URL; recommended for
#                       releases, so signatures outlive the certificate
#   SIGN_NAME, SIGN_URL description and URL shown in the signature
set -eu
: "${SIGN_CERT:?sign.sh: SIGN_CERT is not set}"
[ $# -gt 0 ] || { echo "usage: sign.sh FILE..." >&2; exit 2; }
# sign_one FILE: osslsigncode's arguments are built in the positional
# parameters, so each call has its own.
sign_one() {
	f=$1
	set -- sign -h sha256 -n "${SIGN_NAME:-mattersync}"
	[ -n "${SIGN_URL:-}" ] && set -- "$@" -i "$SIGN_URL"
	case $SIGN_CERT in
	*.p12 | *.pfx)
		[ -z "${SIGN_KEY:-}" ] || { echo "sign.sh: SIGN_CERT is a PKCS#12 file; leave SIGN_KEY empty" >&2; exit 2; }
		set -- "$@" -pkcs12 "$SIGN_CERT"
		;;
	*)
		: "${SIGN_KEY:?sign.sh: SIGN_KEY is not set}"
		[ -n "${SIGN_PKCS11_MODULE:-}" ] && set -- "$@" -pkcs11module "$SIGN_PKCS11_MODULE"
		set -- "$@" -certs "$SIGN_CERT" -key "$SIGN_KEY"
		;;
	esac
	[ -n "${SIGN_PASS_FILE:-}" ] && set -- "$@" -readpass "$SIGN_PASS_FILE"
	[ -n "${SIGN_TIMESTAMP:-}" ] && set -- "$@" -ts "$SIGN_TIMESTAMP"
	echo "sign $f"
	rm -f "$f.signed"
	osslsigncode "$@" -in "$f" -out "$f.signed" >/dev/null
	mv "$f.signed" "$f"
}
for f; do sign_one "$f"; done
