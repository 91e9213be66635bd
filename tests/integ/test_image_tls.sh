#!/bin/bash
# The agent's image download (agent/image/imgcache.c through
# tests/integ/imgfetch) from the real controller serving its APIs over
# TLS ([api] tls_cert_file/tls_key_file), with a throwaway CA made here
# with openssl: the download succeeds with the right CA file and the bytes
# are the image's; a wrong CA, the system CA store (which does not know the
# throwaway CA) and a host name the certificate does not name all fail
# with a certificate error and leave nothing in the cache; plain http to
# the TLS port gets no image either; a missing CA file fails at setup.
. "$(dirname "$0")/lib.sh"
for c in openstack openssl curl cmp; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
FETCH=$TS_BUILD_DIR/tests/unit/imgfetch
[ -x "$FETCH" ] || fail "$FETCH is not built"

# ---- a CA, a certificate for 127.0.0.1 signed by it, and another CA
P=$T/pki
mkdir -p "$P"
mkca() {	# mkca NAME: $P/NAME.key, $P/NAME.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$P/$1.key" -out "$P/$1.pem" -days 2 \
		-subj "/CN=tinystack test $1" >/dev/null 2>&1 ||
		fail "openssl: CA $1"
}
mkca ca
mkca otherca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$P/server.key" -out "$P/server.csr" -subj "/CN=127.0.0.1" \
	>/dev/null 2>&1 || fail "openssl: server key"
printf 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' \
	> "$P/server.ext"
openssl x509 -req -in "$P/server.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
	-CAcreateserial -days 2 -extfile "$P/server.ext" \
	-out "$P/server.pem" >/dev/null 2>&1 || fail "openssl: server cert"
ok "throwaway CA and a certificate for IP 127.0.0.1"

# ---- the controller, every API over TLS
BUS=$(free_port)
IDP=$(free_port)
IMP=$(free_port)
api_lines "$IDP"
API_LINES=("${API_LINES[@]/image_port = */image_port = $IMP}")
LINES=()
for l in "${API_LINES[@]}"; do
	LINES+=("$l")
	[ "$l" = "[api]" ] && LINES+=("tls_cert_file = $P/server.pem" \
		"tls_key_file = $P/server.key")
done
controller_conf "$T/controller.conf" "$BUS" "${LINES[@]}" \
	"[image]" "store_path = $T/images"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
IURL=https://127.0.0.1:$IMP
wait_for 15 "HTTPS on $IURL" curl -s -o /dev/null --cacert "$P/ca.pem" "$IURL/"
# shellcheck disable=SC1091
. "$T/openrc"
case $OS_AUTH_URL in https://*) ;; *) fail "openrc: $OS_AUTH_URL is not https";; esac
export OS_CACERT=$P/ca.pem
TOK=$(os_token)
[ -n "$TOK" ] || fail "no token"
ok "controller serves https; token issued over it"

# ---- an image: 3 MiB of random bytes, raw
head -c $((3 * 1024 * 1024)) /dev/urandom > "$T/disk.raw"
A=(-s --cacert "$P/ca.pem" -H "X-Auth-Token: $TOK")
ID=$(curl "${A[@]}" -X POST -H 'Content-Type: application/json' \
	-d '{"name":"tls","disk_format":"raw","container_format":"bare"}' \
	"$IURL/v2/images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
code=$(curl "${A[@]}" -o /dev/null -w '%{http_code}' -X PUT \
	-H 'Content-Type: application/octet-stream' --data-binary @"$T/disk.raw" \
	"$IURL/v2/images/$ID/file")
[ "$code" = 204 ] || fail "upload: HTTP $code"
SHA=$(curl "${A[@]}" "$IURL/v2/images/$ID" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["os_hash_value"])')
[ "$SHA" = "$(sha512sum < "$T/disk.raw" | cut -d' ' -f1)" ] ||
	fail "os_hash_value $SHA is not the file's SHA-512"
SIZE=$(stat -c %s "$T/disk.raw")
ok "image $ID uploaded over https"

# ---- ranges, as an agent resuming a download asks for them (Glance
# answers Range on /file too)
H=$(curl "${A[@]}" -D - -o "$T/part" -H 'Range: bytes=1000000-' \
	"$IURL/v2/images/$ID/file" | tr -d '\r')
echo "$H" | grep -q '^HTTP/1.1 206' || fail "Range N-: $(echo "$H" | head -1)"
echo "$H" | grep -qi "^Content-Range: bytes 1000000-$((SIZE - 1))/$SIZE\$" ||
	fail "Range N-: $(echo "$H" | grep -i content-range)"
tail -c +1000001 "$T/disk.raw" | cmp -s - "$T/part" || fail "Range N-: wrong bytes"
H=$(curl "${A[@]}" -D - -o "$T/part" -H 'Range: bytes=10-19' \
	"$IURL/v2/images/$ID/file" | tr -d '\r')
echo "$H" | grep -qi "^Content-Range: bytes 10-19/$SIZE\$" || fail "Range N-M: $H"
head -c 20 "$T/disk.raw" | tail -c 10 | cmp -s - "$T/part" || fail "Range N-M: wrong bytes"
code=$(curl "${A[@]}" -o /dev/null -w '%{http_code}' -H "Range: bytes=$SIZE-" \
	"$IURL/v2/images/$ID/file")
[ "$code" = 416 ] || fail "Range beyond the end: HTTP $code"
# anything else is answered with the whole image
code=$(curl "${A[@]}" -o "$T/part" -w '%{http_code}' -H 'Range: bytes=-5' \
	"$IURL/v2/images/$ID/file")
if [ "$code" != 200 ] || ! cmp -s "$T/disk.raw" "$T/part"; then
	fail "suffix range: HTTP $code"
fi
ok "image data ranges: 206 with Content-Range for N- and N-M, 416 beyond the end, 200 whole otherwise"

# fetch DIR URL [--ca-file F]: one download into DIR; output in $T/fetch.out
fetch() {
	local dir=$1 url=$2
	shift 2
	"$FETCH" --url "$url" --dir "$dir" --token "$TOK" --id "$ID" \
		--sha512 "$SHA" --format raw --size "$SIZE" "$@" \
		> "$T/fetch.out" 2>&1
}
# cache_empty DIR: no image file and no partial download in DIR
cache_empty() { [ -z "$(ls -A "$1")" ]; }

# ---- the right CA: the image, byte for byte
fetch "$T/c1" "$IURL" --ca-file "$P/ca.pem" ||
	fail "download with the right CA: $(cat "$T/fetch.out")"
grep -q "^ok $T/c1/$ID $SIZE\$" "$T/fetch.out" || fail "$(cat "$T/fetch.out")"
cmp -s "$T/disk.raw" "$T/c1/$ID" || fail "the cached file differs"
[ "$(stat -c %a "$T/c1/$ID")" = 444 ] || fail "cached file mode"
ok "https download verified against the CA file: bytes and checksum right"

# ---- refusals: each fails on the certificate, leaves the cache empty
# expect_cert_fail NAME DIR URL [args]
expect_cert_fail() {
	local name=$1 dir=$2 url=$3
	shift 3
	if fetch "$dir" "$url" "$@"; then
		fail "$name: the download succeeded"
	fi
	grep -q "^error UNAUTHORIZED: .*certificate does not verify" "$T/fetch.out" ||
		fail "$name: $(cat "$T/fetch.out")"
	cache_empty "$dir" || fail "$name: left $(ls -A "$dir")"
	ok "$name: refused ($(sed 's/.*verify: //' "$T/fetch.out" | head -c 100)), nothing cached"
}
expect_cert_fail "another CA" "$T/c2" "$IURL" --ca-file "$P/otherca.pem"
expect_cert_fail "the system CA store" "$T/c3" "$IURL"
# the certificate names IP 127.0.0.1 only, not "localhost"
if getent hosts localhost | grep -q '^127\.0\.0\.1'; then
	expect_cert_fail "host name mismatch (localhost)" "$T/c4" \
		"https://localhost:$IMP" --ca-file "$P/ca.pem"
else
	fail "localhost does not resolve to 127.0.0.1 here"
fi
# plain http to the TLS port: no image
if fetch "$T/c5" "http://127.0.0.1:$IMP" --ca-file "$P/ca.pem"; then
	fail "plain http to the TLS port succeeded"
fi
cache_empty "$T/c5" || fail "http: left $(ls -A "$T/c5")"
ok "plain http to the TLS port fails ($(head -c 100 "$T/fetch.out")), nothing cached"

# ---- a bad CA file is refused before any connection
if fetch "$T/c6" "$IURL" --ca-file "$T/nonexistent.pem"; then
	fail "a missing CA file was accepted"
fi
grep -q "^error INVALID: .*CA file" "$T/fetch.out" || fail "$(cat "$T/fetch.out")"
ok "a missing CA file: INVALID at setup"

echo "1..$NPASS"
