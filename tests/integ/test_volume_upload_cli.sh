#!/bin/bash
# os-volume_upload_image through the real CLI and the agent's storage
# worker, on 127.0.0.1: the controller and one agent (test:///default
# libvirt, [storage] enabled: file backend, its own tgtd; [image] api_url
# the controller's image API). `openstack volume create --size 1` goes
# available; known bytes are written into its file; `openstack image create
# --volume VOL --disk-format raw` answers (Cinder's body: uploading), the
# volume goes uploading and back to available, the image active; `openstack
# image save` gives back exactly the volume's bytes (sha256 of the whole
# GiB). Then --disk-format qcow2: the image is a qcow2 (qemu-img info) and
# `qemu-img compare` finds it equal to the volume. Refusals change nothing:
# a bad disk format (400), an in-use volume without force (400), another
# project's user (404). A volume uploading cannot be deleted.
# Then volume transfers: `openstack volume transfer request
# create/list/show` (awaiting-transfer, the key only at create), accept by
# another project's user (a wrong key refused, nothing changed; then the
# volume and its usage move), create and delete (available again).
. "$(dirname "$0")/lib.sh"
set +o pipefail
for c in openstack cinder tgtd tgtadm qemu-img jq curl sha256sum; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
osc_start

BUS=$(free_port)
IDP=$(free_port)
VP=$(free_port)
PORT=$(free_port)
CTLP=$(tgt_control_port) || exit 1
our_tgtd() { tgtd_pids "$CTLP"; }
cleanup_up() {
	local rc=$? p
	stop_daemons
	for p in $(our_tgtd); do kill -9 "$p" 2>/dev/null || true; done
	(exit $rc)
	cleanup
}
trap cleanup_up EXIT

api_lines "$IDP"
API_LINES=("${API_LINES[@]/volume_port = */volume_port = $VP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
enrol_agent s1
agent_conf s1 "$BUS" test:///default
storage_conf s1 "127.0.0.1:$PORT" "$CTLP"
IMP=$(sed -n 's/^image_port = //p' "$T/controller.conf")
[ -n "$IMP" ] || fail "no image_port in the controller's configuration"
printf '\n[image]\napi_url = http://127.0.0.1:%s\n' "$IMP" >> "$T/agent-s1.conf"
start ctl "$CTL" "$T/controller.conf"
start agent-s1 "$AGENT" "$T/agent-s1.conf"
wait_for 20 "s1 up" is_state s1 up
wait_http 15 "http://127.0.0.1:$VP/"
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
ok "controller and agent s1 with [storage] and [image] api_url"

VOL=$(openstack volume create --size 1 -f value -c id upvol) || fail "volume create"
vstatus() { openstack volume show "$VOL" -f value -c status; }
is_avail() { [ "$(vstatus)" = available ]; }
wait_for 30 "volume available" is_avail
F=$T/state-s1/volumes/volume-$VOL
[ -f "$F" ] || F=$(find "$T/state-s1" -name "*$VOL*" -type f | head -1)
[ -n "$F" ] && [ -f "$F" ] || fail "no volume file for $VOL"
# Known bytes: a marker at the start, random data at 1 MiB and at the
# end, the rest sparse zeroes.
printf 'TSUPLOADMARKER' | dd of="$F" conv=notrunc status=none
head -c 65536 /dev/urandom | dd of="$F" bs=1M seek=1 conv=notrunc status=none
head -c 4096 /dev/urandom | dd of="$F" bs=4096 seek=$((262144 - 1)) \
    conv=notrunc status=none
WANT=$(sha256sum < "$F" | cut -d' ' -f1)
ok "openstack volume create --size 1: available, known bytes written"

# ---- refusals: nothing changes -----------------------------------------------
openstack image create --volume "$VOL" --disk-format vmdk bad 2> "$T/e1.txt" &&
	fail "a vmdk upload was accepted"
grep -q "not supported here" "$T/e1.txt" || fail "vmdk: $(cat "$T/e1.txt")"
[ "$(vstatus)" = available ] || fail "a refused upload changed the volume"
[ "$(openstack image list -f value -c Name | grep -c '^bad$')" = 0 ] ||
	fail "a refused upload made an image"
openstack project create other >/dev/null || fail "project create"
openstack user create --password secret other-member >/dev/null ||
	fail "user create"
openstack role add --project other --user other-member member >/dev/null ||
	fail "role add"
OS_USERNAME=other-member OS_PASSWORD=secret OS_PROJECT_NAME=other \
    openstack image create --volume "$VOL" stolen 2> "$T/e2.txt" &&
	fail "another project uploaded the volume"
[ "$(vstatus)" = available ] || fail "a refused upload changed the volume"
ok "refused: vmdk (400), another project's user; nothing changed"

# ---- raw ---------------------------------------------------------------------------
openstack image create --volume "$VOL" --disk-format raw \
    --container-format bare upraw -f json > "$T/up1.json" ||
	fail "openstack image create --volume (raw)"
jq -e '.status == "uploading" and .image_name == "upraw" and
    .disk_format == "raw" and .container_format == "bare" and
    .volume_type == "__DEFAULT__"' "$T/up1.json" >/dev/null ||
	fail "image create --volume answer: $(cat "$T/up1.json")"
IMG1=$(jq -r .image_id "$T/up1.json")
# While it uploads (if it still does), no delete.
if [ "$(vstatus)" = uploading ]; then
	openstack volume delete "$VOL" 2>/dev/null &&
		fail "an uploading volume was deleted"
fi
istatus() { openstack image show "$1" -f value -c status; }
img_active() { [ "$(istatus "$1")" = active ]; }
wait_for 60 "image $IMG1 active" img_active "$IMG1"
wait_for 30 "volume available again" is_avail
openstack image save --file "$T/img1.raw" "$IMG1" || fail "image save"
GOT=$(sha256sum < "$T/img1.raw" | cut -d' ' -f1)
[ "$GOT" = "$WANT" ] || fail "the raw image differs from the volume ($GOT, $WANT)"
[ "$(stat -c %s "$T/img1.raw")" = $((1024 * 1024 * 1024)) ] ||
	fail "the raw image is $(stat -c %s "$T/img1.raw") bytes"
ok "image create --volume (raw): uploading -> available, image active, the same bytes"

# ---- qcow2 -------------------------------------------------------------------------
openstack image create --volume "$VOL" --disk-format qcow2 upq \
    -f json > "$T/up2.json" || fail "openstack image create --volume (qcow2)"
IMG2=$(jq -r .image_id "$T/up2.json")
wait_for 60 "image $IMG2 active" img_active "$IMG2"
wait_for 30 "volume available again" is_avail
openstack image show "$IMG2" -f json | jq -e '.disk_format == "qcow2"' \
    >/dev/null || fail "the image's disk_format is not qcow2"
openstack image save --file "$T/img2.qcow2" "$IMG2" || fail "image save"
qemu-img info --output=json "$T/img2.qcow2" |
	jq -e '.format == "qcow2" and ."virtual-size" == 1073741824' >/dev/null ||
	fail "not a 1 GiB qcow2: $(qemu-img info "$T/img2.qcow2")"
qemu-img compare -f raw -F qcow2 "$F" "$T/img2.qcow2" > "$T/cmp.txt" ||
	fail "qemu-img compare: $(cat "$T/cmp.txt")"
ok "image create --volume --disk-format qcow2: a qcow2 equal to the volume (qemu-img compare)"

# ---- in-use: only with --force -------------------------------------------------------
TOK=$(openstack token issue -f value -c id)
PROJ=$(openstack token issue -f value -c project_id)
cinder reset-state --state in-use "$VOL" || fail "reset-state in-use"
openstack image create --volume "$VOL" inuse 2> "$T/e3.txt" &&
	fail "an in-use volume was uploaded without force"
grep -q "in-use with force" "$T/e3.txt" || fail "in-use: $(cat "$T/e3.txt")"
openstack image create --volume "$VOL" --force inuse -f json > "$T/up3.json" ||
	fail "image create --volume --force"
IMG3=$(jq -r .image_id "$T/up3.json")
wait_for 60 "image $IMG3 active" img_active "$IMG3"
is_inuse() { [ "$(vstatus)" = in-use ]; }
wait_for 30 "volume in-use again" is_inuse
cinder reset-state --state available "$VOL" || fail "reset-state available"
ok "in-use: refused without --force (400), uploaded with it, back to in-use"

openstack image delete "$IMG1" "$IMG2" "$IMG3" || fail "image delete"

# ---- volume transfers: to the other project's user ------------------------------
AS_OTHER() { OS_USERNAME=other-member OS_PASSWORD=secret \
    OS_PROJECT_NAME=other "$@"; }
openstack volume transfer request create --name gift "$VOL" -f json \
    > "$T/x1.json" || fail "volume transfer request create"
XID=$(jq -r .id "$T/x1.json")
KEY=$(jq -r .auth_key "$T/x1.json")
[ ${#KEY} = 16 ] || fail "transfer create: $(cat "$T/x1.json")"
[ "$(vstatus)" = awaiting-transfer ] || fail "volume is $(vstatus), not awaiting-transfer"
openstack volume transfer request list -f json | jq -e --arg x "$XID" \
    'map(select(.ID == $x)) | length == 1' >/dev/null ||
	fail "transfer list does not show $XID"
openstack volume transfer request show "$XID" -f json > "$T/x2.json" ||
	fail "transfer show"
jq -e --arg v "$VOL" '.volume_id == $v and .name == "gift" and
    (has("auth_key") | not)' "$T/x2.json" >/dev/null ||
	fail "transfer show: $(cat "$T/x2.json")"
ok "volume transfer request create/list/show: awaiting-transfer, the key only at create"

AS_OTHER openstack volume transfer request accept --auth-key 0000000000000000 \
    "$XID" 2> "$T/e4.txt" && fail "a wrong auth key was accepted"
grep -qi "invalid auth key" "$T/e4.txt" || fail "wrong key: $(cat "$T/e4.txt")"
[ "$(vstatus)" = awaiting-transfer ] || fail "a refused accept changed the volume"
AS_OTHER openstack volume transfer request accept --auth-key "$KEY" "$XID" ||
	fail "volume transfer request accept"
AS_OTHER openstack volume show "$VOL" -f json > "$T/x3.json" ||
	fail "the other project does not see the volume"
jq -e '.status == "available"' "$T/x3.json" >/dev/null ||
	fail "accepted volume: $(cat "$T/x3.json")"
[ "$(openstack volume list -f value -c ID | grep -c "$VOL")" = 0 ] ||
	fail "the giving project still lists the volume"
AS_OTHER openstack limits show --absolute -f json |
	jq -e 'map(select(.Name == "totalVolumesUsed"))[0].Value == 1 and
	map(select(.Name == "totalGigabytesUsed"))[0].Value == 1' >/dev/null ||
	fail "the taker's usage does not count the volume"
openstack limits show --absolute -f json |
	jq -e 'map(select(.Name == "totalVolumesUsed"))[0].Value == 0' \
	>/dev/null || fail "the giver's usage still counts the volume"
ok "volume transfer request accept by another project's user: the volume and its usage moved"

AS_OTHER openstack volume transfer request create "$VOL" -f json > "$T/x4.json" ||
	fail "transfer create (other)"
AS_OTHER openstack volume transfer request delete "$(jq -r .id "$T/x4.json")" ||
	fail "transfer delete"
[ "$(AS_OTHER openstack volume show "$VOL" -f value -c status)" = available ] ||
	fail "a deleted transfer left the volume awaiting-transfer"
[ "$(AS_OTHER openstack volume transfer request list -f value | wc -l)" = 0 ] ||
	fail "a deleted transfer is still listed"
ok "volume transfer request delete: the volume available again"

AS_OTHER openstack volume delete "$VOL" || fail "volume delete"
echo "$NPASS passed, 0 failed"
