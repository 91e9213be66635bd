#!/bin/bash
# Cinder's attachments API (3.27/3.44) through the real CLI, the agent's
# storage worker and its own tgtd, read back with qemu's iSCSI initiator,
# all on 127.0.0.1. The controller and one agent (test:///default
# libvirt, [storage] enabled: file backend, tgtd on a free portal) run on
# the host. `openstack volume create --size 1` goes available on the
# agent; `openstack --os-volume-api-version 3.44 volume attachment create
# --connect --initiator ...` answers the connection info (portal, iqn,
# LUN 1, CHAP user and password); qemu-img reads the volume through it as
# that initiator (polled with a bound: the export follows asynchronously);
# a wrong initiator is refused; `volume attachment complete` makes the
# volume in-use, `volume attachment list/show` show it; `volume
# attachment delete` leaves the volume available and takes the ACL and
# the CHAP account away: the same read is then refused.
. "$(dirname "$0")/lib.sh"
set +o pipefail
for c in openstack cinder tgtd tgtadm qemu-img jq curl; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
qemu-img --help | grep -qw iscsi ||
	fail "qemu-img has no iscsi driver (packaging/install-deps.sh installs qemu-block-extra)"
osc_start

BUS=$(free_port)
IDP=$(free_port)
VP=$(free_port)
PORT=$(free_port)
CTLP=$(tgt_control_port) || exit 1
our_tgtd() { tgtd_pids "$CTLP"; }
cleanup_att() {
	local rc=$? p
	stop_daemons
	for p in $(our_tgtd); do kill -9 "$p" 2>/dev/null || true; done
	(exit $rc)
	cleanup
}
trap cleanup_att EXIT

api_lines "$IDP"
API_LINES=("${API_LINES[@]/volume_port = */volume_port = $VP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
enrol_agent s1
agent_conf s1 "$BUS" test:///default
storage_conf s1 "127.0.0.1:$PORT" "$CTLP"
start ctl "$CTL" "$T/controller.conf"
start agent-s1 "$AGENT" "$T/agent-s1.conf"
wait_for 20 "s1 up" is_state s1 up
wait_http 15 "http://127.0.0.1:$VP/"
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
OS="openstack --os-volume-api-version 3.44"
ok "controller and agent s1 with [storage] (tgtd on 127.0.0.1:$PORT)"

VOL=$(openstack volume create --size 1 -f value -c id attvol) || fail "volume create"
vstatus() { openstack volume show "$VOL" -f value -c status; }
is_avail() { [ "$(vstatus)" = available ]; }
wait_for 30 "volume available" is_avail
F=$T/state-s1/volumes/volume-$VOL
[ -f "$F" ] || F=$(find "$T/state-s1" -name "*$VOL*" -type f | head -1)
[ -n "$F" ] && [ -f "$F" ] || fail "no volume file for $VOL"
printf 'TSATTMARKER1' | dd of="$F" conv=notrunc status=none
ok "openstack volume create --size 1: available on s1, marker written"

SRV=$(/usr/bin/python3 -c 'import uuid; print(uuid.uuid4())')
INI=iqn.1993-08.org.debian:01:ts$$
# (cinder's attachment-create: openstack's looks the server up in Nova,
# which this test does not run; the server is only a name to Cinder)
cinder --os-volume-api-version 3.44 attachment-create --connect true \
	--initiator "$INI" --host tshost --mountpoint /dev/vdb "$VOL" "$SRV" \
	> "$T/att.out" 2> "$T/att.err" || fail "attachment-create: $(cat "$T/att.err")"
$OS volume attachment list -f json > "$T/list0.json" || fail "attachment list"
ATT=$(jq -r '.[0].ID' "$T/list0.json")
grep -q "$ATT" "$T/att.out" || fail "attachment-create did not print $ATT"
[ "$(jq -r '.[0].Status' "$T/list0.json")" = attaching ] ||
	fail "attachment not attaching: $(cat "$T/list0.json")"
# the connection info as Nova reads it (the API's answer, not the CLI's
# rendering of it)
TOK=$(openstack token issue -f value -c id)
PROJ=$(openstack token issue -f value -c project_id)
curl -s -H "X-Auth-Token: $TOK" -H "OpenStack-API-Version: volume 3.44" \
	"http://127.0.0.1:$VP/v3/$PROJ/attachments/$ATT" > "$T/show.json"
D=.attachment.connection_info.data
[ "$(jq -r .attachment.connection_info.driver_volume_type "$T/show.json")" = iscsi ] ||
	fail "no iscsi connection info: $(jq -c . "$T/show.json" | head -c 300)"
PORTAL=$(jq -r "$D.target_portal" "$T/show.json")
IQN=$(jq -r "$D.target_iqn" "$T/show.json")
LUN=$(jq -r "$D.target_lun" "$T/show.json")
CU=$(jq -r "$D.auth_username" "$T/show.json")
CP=$(jq -r "$D.auth_password" "$T/show.json")
[ "$PORTAL" = "127.0.0.1:$PORT" ] || fail "portal $PORTAL"
[ "$IQN" = "iqn.2010-10.org.openstack:volume-$VOL" ] || fail "iqn $IQN"
[ "$LUN" = 1 ] && [ "$(jq -r "$D.auth_method" "$T/show.json")" = CHAP ] &&
	[ ${#CU} = 20 ] && [ ${#CP} = 20 ] || fail "bad connection info"
[ "$(vstatus)" = attaching ] || fail "volume is $(vstatus), not attaching"
ok "cinder attachment-create --connect: attaching, iscsi connection info (portal, iqn, LUN 1, CHAP)"

read_as() {	# INITIATOR OUT
	rm -f "$2"
	# the first 4 KiB only (a whole 1 GiB LUN would cost seconds)
	timeout 30 qemu-img dd --object secret,id=s0,data="$CP" --image-opts \
	    -O raw bs=4096 count=1 \
	    if="driver=iscsi,transport=tcp,portal=$PORTAL,target=$IQN,lun=$LUN,user=$CU,password-secret=s0,initiator-name=$1" \
	    of="$2" 2>> "$T/qemu-img.log"
}
reads_marker() { read_as "$INI" "$T/read.raw" &&
    [ "$(head -c 12 "$T/read.raw")" = TSATTMARKER1 ]; }
wait_for 30 "the export to $INI" reads_marker
ok "qemu-img reads the volume through the connection info as $INI"
read_as "iqn.1993-08.org.debian:01:other$$" "$T/bad.raw" && fail "another initiator read the volume"
[ -s "$T/bad.raw" ] && fail "another initiator got data"
ok "another initiator is refused"

$OS volume attachment complete "$ATT" || fail "attachment complete"
[ "$(vstatus)" = in-use ] || fail "volume is $(vstatus) after complete"
$OS volume attachment show -f json "$ATT" > "$T/att2.json" || fail "attachment show"
[ "$(jq -r '.Status' "$T/att2.json")" = attached ] || fail "not attached"
$OS volume attachment list -f json > "$T/list.json" || fail "attachment list"
[ "$(jq length "$T/list.json")" = 1 ] || fail "list: $(cat "$T/list.json")"
ok "volume attachment complete: attached, volume in-use; list and show"

tgtadm -C $CTLP --lld iscsi --op show --mode target > "$T/tgt1.txt"
grep -q "$INI" "$T/tgt1.txt" && grep -q "$CU" "$T/tgt1.txt" || fail "ACL/account not in tgtd"
$OS volume attachment delete "$ATT" || fail "attachment delete"
[ "$(vstatus)" = available ] || fail "volume is $(vstatus) after delete"
no_account() { ! tgtadm -C $CTLP --lld iscsi --op show --mode account | grep -q "$CU"; }
wait_for 30 "the CHAP account removed" no_account
tgtadm -C $CTLP --lld iscsi --op show --mode target | grep -q "$INI" && fail "ACL still there"
read_as "$INI" "$T/bad2.raw" && fail "read after the attachment's delete"
[ -s "$T/bad2.raw" ] && fail "data read after the delete"
$OS volume attachment show "$ATT" > /dev/null 2>&1 && fail "deleted attachment still shown"
ok "volume attachment delete: available, ACL and CHAP account gone, the read is refused"

openstack volume delete "$VOL" || fail "volume delete"
echo "$NPASS passed, 0 failed"
