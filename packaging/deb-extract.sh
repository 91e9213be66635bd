#!/bin/sh
# deb-extract.sh PACKAGE DIR: the files of Debian's PACKAGE (this machine's
# apt sources, its candidate version) in DIR, without installing the
# package: for a few files whose package would bring a dependency tree or a
# trigger that tinystack does not need (noVNC's static page drags in
# Node.js, NumPy and websockify; busybox-static would replace Debian's
# busybox and rebuild the host's initramfs). DIR appears whole or not at
# all; an existing DIR is left alone. dpkg does not know these files: they
# are not upgraded with the package.
set -eu
[ $# = 2 ] || { echo "usage: $0 PACKAGE DIR" >&2; exit 2; }
PKG=$1 DIR=$2
[ -d "$DIR" ] && exit 0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/deb-extract.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# root downloading into its own 0700 directory: no _apt sandbox user.
(cd "$TMP" && apt-get download -qq -o APT::Sandbox::User=root "$PKG") ||
	{ echo "deb-extract.sh: could not download $PKG (apt-get update?)" >&2; exit 1; }
dpkg-deb -x "$TMP/${PKG}_"*.deb "$TMP/root"
mkdir -p "$(dirname "$DIR")"
mv "$TMP/root" "$DIR.tmp.$$"
mv -T "$DIR.tmp.$$" "$DIR"
