#!/bin/bash
# Cinder volume backups through the real CLI and the agent's storage
# worker, all on 127.0.0.1: the controller and one agent (test:///default
# libvirt, [storage] enabled: file backend under $T/vols, its own tgtd).
# A 1 GiB volume gets known bytes written into its file at three offsets;
# `openstack volume backup create --name b1 --container c1` goes
# available (the agent snapshots the volume and PUTs it to the
# controller's backup store with its capability; the volume is
# backing-up meanwhile and available after); `volume backup list/show`
# show it with its container; `--incremental` is Cinder's 400;
# `openstack volume backup restore b1 rv1` makes a new volume whose file
# is byte for byte the original's (cmp), and `cinder backup-restore
# --volume v2 b1` fills an existing one the same way; the limits count the backup;
# `volume backup delete` removes it, its data file in the controller's
# [backup] store_path and its usage. (The deadlines that end a backup or
# restore no host answers are 10 min and more: not waited for here;
# unit.handlers_volume_backups_test covers them.)
. "$(dirname "$0")/lib.sh"
set +o pipefail
for c in openstack cinder tgtd tgtadm jq curl cmp; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
osc_start

BUS=$(free_port)
IDP=$(free_port)
VP=$(free_port)
PORT=$(free_port)
CTLP=$(tgt_control_port) || exit 1
our_tgtd() { tgtd_pids "$CTLP"; }
cleanup_bk() {
	local rc=$? p
	stop_daemons
	for p in $(our_tgtd); do kill -9 "$p" 2>/dev/null || true; done
	(exit $rc)
	cleanup
}
trap cleanup_bk EXIT

api_lines "$IDP"
API_LINES=("${API_LINES[@]/volume_port = */volume_port = $VP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
enrol_agent s1
agent_conf s1 "$BUS" test:///default
storage_conf s1 "127.0.0.1:$PORT" "$CTLP" "$T/vols"
start ctl "$CTL" "$T/controller.conf"
start agent-s1 "$AGENT" "$T/agent-s1.conf"
wait_for 20 "s1 up" is_state s1 up
wait_http 15 "http://127.0.0.1:$VP/"
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
ok "controller and agent s1 with [storage] (file backend, tgtd on 127.0.0.1:$PORT)"

vstatus() { openstack volume show "$1" -f value -c status 2>/dev/null; }
bstatus() { openstack volume backup show "$1" -f value -c status 2>/dev/null; }
is_v() { [ "$(vstatus "$1")" = "$2" ]; }
is_b() { [ "$(bstatus "$1")" = "$2" ]; }

V1=$(openstack volume create --size 1 -f value -c id v1) || fail "volume create"
wait_for 30 "v1 available" is_v "$V1" available
F1=$T/vols/volume-$V1
[ -f "$F1" ] || fail "no volume file $F1"
head -c 1048576 /dev/urandom > "$T/pat1"
head -c 65536 /dev/urandom > "$T/pat2"
dd if="$T/pat1" of="$F1" bs=1M seek=0 conv=notrunc status=none
dd if="$T/pat2" of="$F1" bs=64K seek=5000 conv=notrunc status=none
dd if="$T/pat1" of="$F1" bs=1M seek=1023 conv=notrunc status=none
sync "$F1"
ok "volume v1 available, known bytes written into $F1"

# ---- create --------------------------------------------------------------------
openstack volume backup create --name b1 --description first \
    --container c1 v1 -f json > "$T/bc.json" || fail "volume backup create"
B1=$(jq -r .id "$T/bc.json")
[ "$(jq -r .name "$T/bc.json")" = b1 ] || fail "backup create: $(cat "$T/bc.json")"
wait_for 120 "b1 available" is_b "$B1" available
wait_for 10 "v1 available again" is_v "$V1" available
openstack volume backup show b1 -f json > "$T/bs.json" || fail "backup show"
jq -e --arg v "$V1" '.container == "c1" and .size == 1 and
    .volume_id == $v and .description == "first" and
    .is_incremental == false' "$T/bs.json" >/dev/null ||
	fail "backup show: $(cat "$T/bs.json")"
openstack volume backup list -f json > "$T/bl.json" || fail "backup list"
jq -e --arg id "$B1" 'length == 1 and .[0].ID == $id and
    .[0].Status == "available"' "$T/bl.json" >/dev/null ||
	fail "backup list: $(cat "$T/bl.json")"
[ -f "$T/backups/$B1" ] || fail "no data file in the controller's backup store"
[ "$(stat -c %s "$T/backups/$B1")" = $((1024 * 1048576)) ] ||
	fail "backup data size $(stat -c %s "$T/backups/$B1")"
openstack limits show --absolute -f json |
	jq -e 'map(select(.Name == "totalBackupsUsed"))[0].Value == 1 and
	map(select(.Name == "totalBackupGigabytesUsed"))[0].Value == 1' \
	>/dev/null || fail "limits do not count the backup"
ok "openstack volume backup create: available, list, show, limits, data on the controller"

if openstack volume backup create --incremental v1 2> "$T/inc.txt"; then
	fail "an incremental backup was accepted"
fi
grep -q "No backups available to do an incremental backup" "$T/inc.txt" ||
	fail "incremental: $(cat "$T/inc.txt")"
[ "$(openstack volume backup list -f value | wc -l)" = 1 ] ||
	fail "a refused backup was created"
ok "volume backup create --incremental: Cinder's 400, nothing created"

# ---- restore -----------------------------------------------------------------------
# python3-openstackclient 6.0.0's `volume backup restore` sends the
# restore, then fails to print its answer (a ShowOne returning the
# restore object: "cannot unpack non-iterable VolumeBackupsRestore
# object", fixed upstream later); that one error is tolerated, any other
# is not, and the restore is checked through the API below.
if ! openstack volume backup restore b1 rv1 > "$T/r1.txt" 2> "$T/r1.err"; then
	grep -q "cannot unpack non-iterable VolumeBackupsRestore object" \
	    "$T/r1.err" || fail "restore to a new volume: $(cat "$T/r1.err")"
fi
RV1=$(openstack volume show rv1 -f value -c id) || fail "no volume rv1"
wait_for 120 "rv1 available" is_v "$RV1" available
wait_for 10 "b1 available again" is_b "$B1" available
cmp "$F1" "$T/vols/volume-$RV1" || fail "the restored volume differs from the original"
ok "openstack volume backup restore b1 rv1: a new volume, byte for byte v1"

V2=$(openstack volume create --size 1 -f value -c id v2) || fail "volume create v2"
wait_for 30 "v2 available" is_v "$V2" available
cinder backup-restore --volume v2 b1 > "$T/r2.txt" ||
	fail "cinder backup-restore --volume v2 b1"
grep -q "$V2" "$T/r2.txt" || fail "cinder backup-restore: $(cat "$T/r2.txt")"
wait_for 120 "v2 restored" is_v "$V2" available
wait_for 10 "b1 available again" is_b "$B1" available
cmp "$F1" "$T/vols/volume-$V2" || fail "v2 differs from the original after the restore"
ok "cinder backup-restore --volume v2 b1: v2 byte for byte v1"

# ---- delete --------------------------------------------------------------------------
openstack volume backup delete b1 || fail "backup delete"
wait_for 10 "b1 gone" sh -c "! openstack volume backup show $B1"
[ ! -e "$T/backups/$B1" ] || fail "the backup's data file is still there"
[ "$(openstack volume backup list -f value | wc -l)" = 0 ] || fail "backup list not empty"
openstack limits show --absolute -f json |
	jq -e 'map(select(.Name == "totalBackupsUsed"))[0].Value == 0' \
	>/dev/null || fail "the backup is still counted"
ok "openstack volume backup delete: record, data file and usage gone"
echo "1..$NPASS"
