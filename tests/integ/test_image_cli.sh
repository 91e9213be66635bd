#!/bin/bash
# The Image API (Glance v2) driven by Debian's real python3-openstackclient
# and python3-glanceclient against a controller on 127.0.0.1: discovery and
# schemas, create/upload (Content-Length and chunked), list, show, save
# (byte-identical, checksum = md5sum), set (properties, tags, protection,
# deactivate), members, delete; what a member of another project may and
# may not do (404 for private images, 403 for publicizing); hostile images
# made with qemu-img (qcow2 declared raw, qcow2 with a backing file, vmdk
# with an external extent) refused with a 400 and nothing left behind; a
# 2 GiB sparse image up and down with the controller's peak RSS under
# 64 MiB; uploads cut off by the client or by a controller crash; the size
# cap and the per-project storage quota while streaming.
. "$(dirname "$0")/lib.sh"
osc_start
for c in openstack glance qemu-img curl; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done

BUS=$(free_port)
IDP=$(free_port)
IMP=$(free_port)
IURL=http://127.0.0.1:$IMP
api_lines "$IDP"
API_LINES=("${API_LINES[@]/image_port = */image_port = $IMP}")
STORE=$T/images
# conf [extra lines...]: the controller config (rewritten for restarts).
conf() {
	controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
		"[image]" "store_path = $STORE" "$@"
}
conf
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$IURL/"
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home	# glanceclient caches the schemas under ~/.glanceclient
mkdir -p "$HOME"
TOK=$(os_token)
A=(-H "X-Auth-Token: $TOK")

# Store files other than the data of active images: must stay empty.
stray_files() {
	local f id st
	for f in "$STORE"/* "$STORE"/.[!.]*; do
		[ -e "$f" ] || continue
		id=$(basename "$f")
		st=$(curl -s "${A[@]}" "$IURL/v2/images/$id" | python3 -c \
			'import json,sys
try: print(json.load(sys.stdin)["status"])
except Exception: print("none")')
		case $st in active|deactivated) ;; *) echo "$id";; esac
	done
}
# has [-x] PATTERN COMMAND...: COMMAND succeeds and prints a line matching
# PATTERN (a whole line with -x). The output goes through a file: grep -q
# on a pipe would close it early and the client die of a broken pipe.
has() {
	local x=
	if [ "$1" = -x ]; then x=-x; shift; fi
	local pat=$1
	shift
	"$@" > "$T/has.txt" 2>&1 || return 2
	grep -q $x -- "$pat" "$T/has.txt"
}
# has_part: a partial upload is in the store.
has_part() { compgen -G "$STORE/.*.part" > /dev/null; }
export -f has_part
export STORE
# img_field ID FIELD: one attribute of an image, via the API.
img_field() {
	curl -s "${A[@]}" "$IURL/v2/images/$1" | python3 -c \
		'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$2"
}
# new_image JSON: create a queued image with curl (the CLIs upload stdin
# when it is not a terminal, as it is not under ctest), print its id.
new_image() {
	curl -s -X POST "${A[@]}" -H "Content-Type: application/json" -d "$1" \
		"$IURL/v2/images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

[ "$(http_code GET "$IURL/")" = 300 ] || fail "GET / is not 300"
[ "$(http_code GET "$IURL/versions")" = 200 ] || fail "GET /versions is not 200"
has '"id":"v2.[0-9]*","status":"CURRENT"' curl -s "$IURL/versions" || fail "no CURRENT v2 version"
for s in image images member members metadefs/namespace metadefs/resource_type; do
	[ "$(http_code GET "$IURL/v2/schemas/$s" "${A[@]}")" = 200 ] || fail "schema $s"
done
curl -s "${A[@]}" "$IURL/v2/schemas/image" | python3 -c '
import json, sys
s = json.load(sys.stdin)
p = s["properties"]
assert s["name"] == "image" and s["additionalProperties"] == {"type": "string"}
assert p["os_hash_value"]["maxLength"] == 128 and p["os_hash_algo"]["maxLength"] == 64
assert "raw" in p["disk_format"]["enum"] and "bare" in p["container_format"]["enum"]
' || fail "image schema"
[ "$(http_code GET "$IURL/v2/images")" = 401 ] || fail "no token: not 401"
ok "discovery (300 on /, 200 on /versions), schemas, 401 without a token"

# ---- openstack image create / list / show / save / set / delete ----------
head -c 3000001 /dev/urandom > "$T/F"
MD5=$(md5sum "$T/F" | cut -d' ' -f1)
openstack image create --disk-format raw --container-format bare --file "$T/F" \
	--public --property os_distro=cirros cirros -f value -c id > "$T/id" || fail "openstack image create"
ID=$(cat "$T/id")
has -x "cirros active" openstack image list -f value -c Name -c Status || fail "image list"
[ "$(openstack image show cirros -f value -c checksum)" = "$MD5" ] || fail "checksum is not md5sum F"
[ "$(openstack image show cirros -f value -c size)" = 3000001 ] || fail "size"
[ "$(img_field "$ID" virtual_size)" = 3000001 ] || fail "virtual_size"
[ "$(img_field "$ID" os_hash_algo)" = sha512 ] || fail "os_hash_algo"
[ "$(img_field "$ID" os_hash_value)" = "$(sha512sum "$T/F" | cut -d' ' -f1)" ] || fail "os_hash_value"
[ "$(img_field "$ID" os_distro)" = cirros ] || fail "extra property"
openstack image save --file "$T/G" cirros || fail "image save"
cmp -s "$T/F" "$T/G" || fail "downloaded data differs"
[ -f "$STORE/$ID" ] || fail "no data file named by the id"
[ -z "$(stray_files)" ] || fail "stray files in the store: $(stray_files)"
ok "openstack image create --file --public, list, show (checksum = md5sum), save (identical)"

openstack image set --property k=v --min-ram 64 --tag t1 cirros
[ "$(img_field "$ID" k)" = v ] || fail "image set --property"
[ "$(img_field "$ID" min_ram)" = 64 ] || fail "image set --min-ram"
openstack image set --property k=w cirros	# add on an existing key replaces
[ "$(img_field "$ID" k)" = w ] || fail "property replace"
openstack image unset --property k cirros
[ "$(img_field "$ID" k)" = None ] || fail "image unset --property"
has t1 openstack image show cirros -f value -c tags || fail "tag"
openstack image set --protected cirros
openstack image delete cirros > "$T/out" 2>&1 && fail "a protected image was deleted"
grep -q 403 "$T/out" || { cat "$T/out"; fail "protected delete: not 403"; }
openstack image set --unprotected cirros
ok "image set --property/--min-ram/--tag, unset, --protected refuses delete (403)"

openstack image set --deactivate cirros
[ "$(img_field "$ID" status)" = deactivated ] || fail "deactivate"
openstack image set --activate cirros
[ "$(img_field "$ID" status)" = active ] || fail "reactivate"
# JSON-patch, both media types; add on an existing key is an upsert in v2.1
P21=(-H "Content-Type: application/openstack-images-v2.1-json-patch")
P20=(-H "Content-Type: application/openstack-images-v2.0-json-patch")
[ "$(http_code PATCH "$IURL/v2/images/$ID" "${A[@]}" "${P21[@]}" -d '[{"op":"add","path":"/name","value":"cirros2"}]')" = 200 ] || fail "v2.1 patch"
[ "$(http_code PATCH "$IURL/v2/images/$ID" "${A[@]}" "${P20[@]}" -d '[{"replace":"/name","value":"cirros"}]')" = 200 ] || fail "v2.0 patch"
[ "$(http_code PATCH "$IURL/v2/images/$ID" "${A[@]}" "${P20[@]}" -d '[{"add":"/name","value":"x"}]')" = 409 ] || fail "v2.0 add of an existing attribute: not 409"
[ "$(http_code PATCH "$IURL/v2/images/$ID" "${A[@]}" -H "Content-Type: application/json" -d '[]')" = 415 ] || fail "patch as application/json: not 415"
[ "$(http_code PATCH "$IURL/v2/images/$ID" "${A[@]}" "${P21[@]}" -d '[{"op":"replace","path":"/status","value":"active"}]')" = 403 ] || fail "patch of status: not 403"
[ "$(http_code PATCH "$IURL/v2/images/$ID" "${A[@]}" "${P21[@]}" -d '[{"op":"replace","path":"/disk_format","value":"qcow2"}]')" = 403 ] || fail "disk_format of an active image changed"
[ "$(http_code PUT "$IURL/v2/images/$ID/file" "${A[@]}" -H "Content-Type: application/octet-stream" --data-binary @"$T/F")" = 409 ] || fail "second upload: not 409"
[ "$(img_field "$ID" name)" = cirros ] || fail "patch result"
ok "deactivate/reactivate, JSON-patch v2.0/v2.1 (409 add-existing in v2.0, 415, 403 read-only and formats), 409 re-upload"

# ---- glance CLI: chunked upload ---------------------------------------------
glance image-create --name="arch linux" --visibility public --disk-format raw \
	--container-format bare --file "$T/F" > "$T/gc.txt" || { cat "$T/gc.txt"; fail "glance image-create"; }
grep -q "WARNING" "$T/gc.txt" && fail "glanceclient fell back: $(cat "$T/gc.txt")"
GID=$(awk '$2 == "id" { print $4 }' "$T/gc.txt")
grep -q "| status *| active" "$T/gc.txt" || fail "glance image-create: not active"
has "arch linux" glance image-list || fail "glance image-list"
has "os_distro *| arch" glance image-update --property os_distro=arch --min-disk 1 "$GID" || fail "glance image-update"
glance image-tag-update "$GID" mytag > /dev/null
has mytag glance image-show "$GID" || fail "glance image-tag-update"
glance image-tag-delete "$GID" mytag
has mytag glance image-show "$GID" && fail "glance image-tag-delete"
glance image-download --file "$T/H" "$GID"
cmp -s "$T/F" "$T/H" || fail "glance image-download differs"
glance image-delete "$GID"
glance image-show "$GID" > /dev/null 2>&1 && fail "deleted image still shown"
[ -e "$STORE/$GID" ] && fail "deleted image's data file left"
ok "glance image-create (chunked) / image-list / image-update / tags / image-download / image-delete"

# ---- a member of another project ------------------------------------------
openstack project create demo > /dev/null
openstack user create --password alice-pw --project demo alice > /dev/null
openstack role add --user alice --project demo member
as_alice() { env OS_USERNAME=alice OS_PASSWORD=alice-pw OS_PROJECT_NAME=demo "$@"; }
PRIV=$(new_image '{"name":"admin-private","visibility":"private","disk_format":"raw","container_format":"bare"}')
as_alice openstack image list -f value -c Name > "$T/al.txt"
grep -qx cirros "$T/al.txt" || fail "member does not see the public image"
grep -qx admin-private "$T/al.txt" && fail "member sees a private image of another project"
as_alice openstack image show "$PRIV" > "$T/out" 2>&1 && fail "member can show another project's private image"
ATOK=$(as_alice openstack token issue -f value -c id)
[ "$(http_code GET "$IURL/v2/images/$PRIV" -H "X-Auth-Token: $ATOK")" = 404 ] || fail "private image of another project: not 404"
[ "$(http_code DELETE "$IURL/v2/images/$ID" -H "X-Auth-Token: $ATOK")" = 403 ] || fail "member deleting a public image: not 403"
as_alice openstack image create --disk-format raw --container-format bare --file "$T/F" \
	--public alice-public > "$T/out" 2>&1 && fail "a member created a public image"
grep -q 403 "$T/out" || { cat "$T/out"; fail "publicize by a member: not 403"; }
as_alice openstack image create --disk-format raw --container-format bare --file "$T/F" \
	--private alice-img -f value -c id > "$T/aid" || fail "member image create"
AID=$(cat "$T/aid")
[ "$(img_field "$AID" owner)" = "$(openstack project show demo -f value -c id)" ] || fail "owner of a member's image"
openstack image set --deactivate cirros
[ "$(http_code GET "$IURL/v2/images/$ID/file" -H "X-Auth-Token: $ATOK")" = 403 ] || fail "download of a deactivated image by a member: not 403"
openstack image set --activate cirros
# sharing: pending members do not list the image, accepted ones do
SH=$(new_image '{"name":"shared-img","visibility":"shared","disk_format":"raw","container_format":"bare"}')
openstack image add project "$SH" demo > /dev/null || fail "image add project"
has -x shared-img as_alice openstack image list -f value -c Name && fail "pending member lists the image"
has -x shared-img as_alice openstack image list --member-status pending -f value -c Name || fail "member-status pending"
as_alice openstack image set --accept "$SH" || fail "image set --accept"
has -x shared-img as_alice openstack image list -f value -c Name || fail "accepted member does not list the image"
openstack image remove project "$SH" demo
[ "$(http_code GET "$IURL/v2/images/$SH" -H "X-Auth-Token: $ATOK")" = 404 ] || fail "removed member still sees the image"
ok "member: public listed, others' private 404, delete 403, publicize 403, deactivated download 403, members pending/accept/remove"

# ---- hostile images ---------------------------------------------------------
cd "$T"
qemu-img create -f qcow2 q.qcow2 16M > /dev/null
qemu-img create -f qcow2 -b /etc/hosts -F raw qb.qcow2 16M > /dev/null
qemu-img create -f vmdk -o subformat=monolithicFlat v.vmdk 16M > /dev/null
sed 's|"v-flat.vmdk"|"/etc/hosts"|' v.vmdk > vleak.vmdk
qemu-img create -f vmdk -o subformat=monolithicSparse vs.vmdk 16M > /dev/null
cd - > /dev/null
reject() {	# reject NAME FILE DISK_FORMAT WHAT
	local out=$T/reject-$1.txt
	openstack image create --disk-format "$3" --container-format bare --file "$2" "$1" > "$out" 2>&1 \
		&& fail "$4 accepted"
	grep -q "400" "$out" || { cat "$out"; fail "$4: not a 400"; }
	grep -q "rejected" "$out" || { cat "$out"; fail "$4: no clear reason"; }
	has "^$1 active" openstack image list -f value -c Name -c Status && fail "$4 is active"
	glance image-create --name "$1-g" --disk-format "$3" --container-format bare --file "$2" > "$out" 2>&1 \
		&& fail "$4 accepted (glance, chunked)"
	grep -q "400 Bad Request" "$out" || { cat "$out"; fail "$4 (glance): not a 400"; }
	[ "$(openstack image show "$1-g" -f value -c status)" = queued ] || fail "$4 (glance): not back to queued"
}
reject qcow2-as-raw "$T/q.qcow2" raw "qcow2 declared raw"
grep -q "format mismatch: declared raw, detected qcow2" "$T/reject-qcow2-as-raw.txt" || fail "mismatch message"
reject qcow2-backing "$T/qb.qcow2" qcow2 "qcow2 with a backing file"
grep -q "backing file" "$T/reject-qcow2-backing.txt" || fail "backing file message"
reject vmdk-flat "$T/v.vmdk" vmdk "vmdk with an external extent"
reject vmdk-leak "$T/vleak.vmdk" vmdk "vmdk extent naming /etc/hosts"
reject vmdk-as-raw "$T/vs.vmdk" raw "vmdk declared raw"
[ -z "$(stray_files)" ] || fail "refused uploads left files: $(stray_files)"
openstack image create --disk-format qcow2 --container-format bare --file "$T/q.qcow2" good-qcow2 -f value -c id > "$T/qid" || fail "a clean qcow2 was refused"
[ "$(img_field "$(cat "$T/qid")" virtual_size)" = 16777216 ] || fail "qcow2 virtual_size"
ok "hostile images refused with 400 and a reason, nothing left behind; a clean qcow2 accepted (virtual_size 16 MiB)"

# ---- 2 GiB sparse image, bounded memory -----------------------------------
truncate -s 2G "$T/big.raw"
printf 'start' | dd of="$T/big.raw" bs=1 seek=1000000 conv=notrunc 2>/dev/null
printf 'end' | dd of="$T/big.raw" bs=1 seek=2147000000 conv=notrunc 2>/dev/null
BMD5=$(md5sum "$T/big.raw" | cut -d' ' -f1)
BID=$(new_image '{"name":"big","disk_format":"raw","container_format":"bare"}')
PID=$(pid_of ctl)
peak=0
sample() { local r; r=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status"); [ "$r" -gt "$peak" ] && peak=$r; true; }
curl -s -o "$T/up.out" -w '%{http_code}' -X PUT "${A[@]}" -H "Content-Type: application/octet-stream" \
	-H "Transfer-Encoding: chunked" -T "$T/big.raw" "$IURL/v2/images/$BID/file" > "$T/up.code" &
UP=$!
while kill -0 $UP 2>/dev/null; do sample; sleep 0.2; done
wait $UP || true
[ "$(cat "$T/up.code")" = 204 ] || fail "2 GiB upload: $(cat "$T/up.code") $(cat "$T/up.out")"
[ "$(img_field "$BID" checksum)" = "$BMD5" ] || fail "2 GiB checksum"
[ "$(img_field "$BID" size)" = 2147483648 ] || fail "2 GiB size"
[ "$(du -k "$STORE/$BID" | cut -f1)" -lt 1024 ] || fail "the sparse image is not sparse in the store"
curl -s "${A[@]}" "$IURL/v2/images/$BID/file" | md5sum | cut -d' ' -f1 > "$T/down.md5" &
DOWN=$!
while kill -0 $DOWN 2>/dev/null; do sample; sleep 0.2; done
wait $DOWN
[ "$(cat "$T/down.md5")" = "$BMD5" ] || fail "2 GiB download differs"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$PID/status")
# AddressSanitizer's shadow memory and quarantine inflate RSS; a sanitized
# build only has to stay clearly bounded.
limit=65536
# (clang links the runtime in; gcc imports __asan_init from libasan.so)
grep -qaE "AddressSanitizer|__asan_init" "$CTL" && limit=262144
[ "$hwm" -lt "$limit" ] || fail "controller peak RSS ${hwm} KiB >= $((limit / 1024)) MiB"
ok "2 GiB sparse image: chunked upload and download, md5 equal, controller VmHWM ${hwm} KiB (sampled VmRSS peak ${peak} KiB)"
curl -s -o /dev/null -X DELETE "${A[@]}" "$IURL/v2/images/$BID"

# ---- interrupted uploads -------------------------------------------------------
# A client that sends 5 MiB of a chunked upload and disappears.
CID=$(new_image '{"name":"cut","disk_format":"raw","container_format":"bare"}')
python3 - "$IMP" "$TOK" "$CID" <<'P'
import socket, sys
port, tok, iid = sys.argv[1:]
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall(("PUT /v2/images/%s/file HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: %s\r\n"
           "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
           % (iid, tok)).encode())
chunk = b"x" * 65536
for _ in range(80):
    s.sendall(b"10000\r\n" + chunk + b"\r\n")
# Leave only once the server is streaming (the image is "saving").
import json, time, urllib.request
req = urllib.request.Request("http://127.0.0.1:%s/v2/images/%s" % (port, iid),
                             headers={"X-Auth-Token": tok})
for _ in range(100):
    if json.load(urllib.request.urlopen(req))["status"] == "saving":
        break
    time.sleep(0.05)
else:
    sys.exit("the upload never started")
s.close()
P
wait_for 30 "cut upload back to queued" bash -c "[ \"\$(curl -s -H 'X-Auth-Token: $TOK' $IURL/v2/images/$CID | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])')\" = queued ]"
wait_for 10 "no partial file" bash -c "! has_part"
ok "client gone mid-upload: image back to queued, no partial file"

# An image deleted while its data streams in: the upload ends in a 409,
# its data goes with it, the image stays deleted.
DID=$(new_image '{"name":"doomed","disk_format":"raw","container_format":"bare"}')
python3 - "$IMP" "$TOK" "$DID" > "$T/doomed.out" 2>&1 <<'P' &
import socket, sys, time
port, tok, iid = sys.argv[1:]
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall(("PUT /v2/images/%s/file HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: %s\r\n"
           "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
           % (iid, tok)).encode())
for _ in range(40):
    s.sendall(b"10000\r\n" + b"z" * 65536 + b"\r\n")
    time.sleep(0.05)
s.sendall(b"0\r\n\r\n")
print(s.recv(4096).split(b"\r\n")[0].decode())
P
DOOMED=$!
wait_for 10 "upload in progress" has_part
[ "$(http_code DELETE "$IURL/v2/images/$DID" "${A[@]}")" = 204 ] || fail "delete during an upload"
wait $DOOMED || true
grep -q "HTTP/1.1 409" "$T/doomed.out" || fail "upload of a deleted image: $(cat "$T/doomed.out")"
has_part && fail "partial file of a deleted image left"
[ -e "$STORE/$DID" ] && fail "data of an image deleted during its upload left"
[ "$(http_code GET "$IURL/v2/images/$DID" "${A[@]}")" = 404 ] || fail "image deleted during its upload came back"
ok "image deleted during its upload: the upload gets 409, nothing is left"

# A controller killed (SIGKILL) in the middle of an upload.
python3 - "$IMP" "$TOK" "$CID" > "$T/slow.out" 2>&1 <<'P' &
import socket, sys, time
port, tok, iid = sys.argv[1:]
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall(("PUT /v2/images/%s/file HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: %s\r\n"
           "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
           % (iid, tok)).encode())
try:
    while True:
        s.sendall(b"10000\r\n" + b"y" * 65536 + b"\r\n")
        time.sleep(0.01)
except OSError:
    pass
P
SLOW=$!
wait_for 10 "upload in progress" has_part
[ "$(img_field "$CID" status)" = saving ] || fail "status during an upload: $(img_field "$CID" status)"
kill -9 "$(pid_of ctl)"
wait $SLOW 2>/dev/null || true
has_part || fail "the crash left no partial file to clean up (test is void)"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$IURL/"
[ "$(img_field "$CID" status)" = queued ] || fail "after a crash mid-upload: $(img_field "$CID" status)"
has_part && fail "partial file survived the restart"
[ -z "$(stray_files)" ] || fail "stray files after restart: $(stray_files)"
[ "$(img_field "$ID" status)" = active ] || fail "active image lost in the restart"
ok "controller killed mid-upload: after restart the image is queued and the partial file gone"

# ---- size cap and per-project quota -----------------------------------------
kill -TERM "$(pid_of ctl)"
wait_for 10 "controller exit" bash -c "! kill -0 $(pid_of ctl) 2>/dev/null"
conf "image_size_cap = 6291456" "user_storage_quota = 12582912"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$IURL/"
TOK=$(os_token)
A=(-H "X-Auth-Token: $TOK")
head -c 7000000 /dev/urandom > "$T/7m"
head -c 5000000 /dev/urandom > "$T/5m"
# the size cap (the admin project uses about 3.2 MB of its 12 MiB)
openstack image create --disk-format raw --container-format bare --file "$T/7m" too-big > "$T/out" 2>&1 && fail "image over the size cap accepted"
grep -q 413 "$T/out" || { cat "$T/out"; fail "size cap: not 413"; }
grep -q "too large" "$T/out" || { cat "$T/out"; fail "size cap: no clear message"; }
glance image-create --name too-big-g --disk-format raw --container-format bare --file "$T/7m" > "$T/out" 2>&1 && fail "chunked image over the size cap accepted"
grep -q "413" "$T/out" || { cat "$T/out"; fail "size cap (chunked): not 413"; }
grep -q "too large" "$T/out" || { cat "$T/out"; fail "size cap (chunked): no clear message"; }
# alice's project has the 3 MB alice-img: 5 MB more fits in 12 MiB, another
# 5 MB does not
as_alice glance image-create --name q1 --disk-format raw --container-format bare --file "$T/5m" > "$T/out" 2>&1 || { cat "$T/out"; fail "upload within the quota"; }
as_alice glance image-create --name q2 --disk-format raw --container-format bare --file "$T/5m" > "$T/out" 2>&1 && fail "chunked upload over the quota accepted"
grep -q "413" "$T/out" || { cat "$T/out"; fail "quota (chunked): not 413"; }
grep -q "quota" "$T/out" || { cat "$T/out"; fail "quota: no clear message"; }
as_alice openstack image create --disk-format raw --container-format bare --file "$T/5m" q3 > "$T/out" 2>&1 && fail "upload over the quota accepted"
grep -q 413 "$T/out" || { cat "$T/out"; fail "quota (Content-Length): not 413"; }
[ -z "$(stray_files)" ] || fail "refused uploads left files: $(stray_files)"
as_alice openstack image delete q1
as_alice glance image-create --name q4 --disk-format raw --container-format bare --file "$T/5m" > "$T/out" 2>&1 || { cat "$T/out"; fail "quota not freed by delete"; }
ok "size cap and per-project quota: 413 while streaming (chunked and Content-Length), nothing left, freed by delete"

echo "$NPASS passed, 0 failed"
