#!/bin/bash
# The LVM backend for real in metadata-only mode ([storage] lvm_activation
# = false: these machines have no device-mapper, see
# ../shared/recipes/host-demo.sh 5b), on a volume group the test makes on
# a loop device: tests/integ/storctl runs agent/storage/storsvc; volumes
# are created, extended and removed through lvcreate/lvextend/lvremove,
# the state read back with lvs --reportformat json; an LV the messages
# never name is reported unknown and left alone; a snapshot or an export
# of a metadata-only LV is refused with a clear message (both need
# device-mapper; their commands are covered by unit.storage_test's golden
# files).
. "$(dirname "$0")/lib.sh"
for c in losetup pvcreate vgcreate lvs lvcreate mkfifo; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
STORCTL=$TS_BUILD_DIR/tests/unit/storctl
[ -x "$STORCTL" ] || fail "no $STORCTL"
export LVM_SUPPRESS_FD_WARNINGS=1
NOACT=(--config 'global{activation=0}')
VG=tsvg$$
VA=aaaaaaaa-2222-4000-8000-$(printf '%012d' $$)
VB=bbbbbbbb-2222-4000-8000-$(printf '%012d' $$)
VU=ffffffff-2222-4000-8000-$(printf '%012d' $$)
SA=5aaaaaaa-2222-4000-8000-$(printf '%012d' $$)
LOOP=

cleanup_lvm() {
	local rc=$?
	exec 3>&- || true
	stop_daemons
	if vgs "${NOACT[@]}" "$VG" >/dev/null 2>&1; then
		vgremove "${NOACT[@]}" -qq -f "$VG" >/dev/null 2>&1 || true
	fi
	if [ -n "$LOOP" ]; then
		pvremove -qq "$LOOP" >/dev/null 2>&1 || true
		losetup -d "$LOOP" 2>/dev/null || true
	fi
	(exit $rc)
	cleanup
}
trap cleanup_lvm EXIT

truncate -s 8G "$T/pv.img"
LOOP=$(losetup -f --show "$T/pv.img") || fail "no loop device"
pvcreate -qq "$LOOP" >/dev/null || fail "pvcreate"
vgcreate -qq "$VG" "$LOOP" >/dev/null || fail "vgcreate"
ok "volume group $VG on $LOOP"

lvnames() { lvs "${NOACT[@]}" --noheadings -o lv_name "$VG" 2>/dev/null | tr -d ' '; }
lvsize() { lvs "${NOACT[@]}" --noheadings --units b --nosuffix -o lv_size "$VG/$1" 2>/dev/null | tr -d ' '; }

mkfifo "$T/in"
"$STORCTL" --host host-a --backend lvm --vg "$VG" --no-activation \
    --tick-ms 500 < "$T/in" > "$T/out.log" 2> "$T/storctl.log" &
PIDS+=($!)
exec 3> "$T/in"
send() { printf '%s\n' "$@" >&3; }

send "vol $VA 1 1" "apply 1"
wait_for 60 "volume made" grep -q "^vol $VA present=1 ok=1 size=1 " "$T/out.log"
grep -q "^state gen=1 reply=req-1 backend=lvm portal= total=7 free=6" "$T/out.log" ||
	fail "generation 1: $(grep '^state' "$T/out.log" | head -1)"
[ "$(lvsize volume-$VA)" = 1073741824 ] || fail "LV is not 1 GiB"
ok "lvcreate (metadata only): volume-$VA, 1 GiB; capacity from vgs"

send "vol $VA 2 1" "snap $SA $VA 1" "apply 2"
wait_for 60 "extend" grep -q "^vol $VA present=1 ok=1 size=2 " "$T/out.log"
[ "$(lvsize volume-$VA)" = 2147483648 ] || fail "LV is not 2 GiB"
# LVM makes no snapshot without device-mapper: refused, said why.
grep -q "^snap $SA present=0 ok=0 size=0 iqn=- msg=snapshot: vollvm: metadata-only LVM" "$T/out.log" ||
	fail "snapshot: $(grep "^snap $SA" "$T/out.log" | head -1)"
lvnames | grep -q "_snapshot-$SA" && fail "a snapshot LV appeared"
ok "lvextend to 2 GiB; a snapshot refused in metadata-only mode, with the reason"

# Shrinking is never done; an LV nobody named is reported, never removed.
lvcreate "${NOACT[@]}" -an -Zn -qq -L 1g -n "volume-$VU" "$VG" >/dev/null ||
	fail "lvcreate by the test"
send "vol $VA 1 1" "snap $SA $VA 1" "apply 3"
wait_for 60 "generation 3" grep -q "^state gen=3 " "$T/out.log"
sed -n '/^state gen=3 /,/^end/p' "$T/out.log" | grep -q "^unknown $VU" ||
	fail "$VU not reported unknown"
grep -q "^vol $VA present=1 ok=1 size=2 " "$T/out.log" || fail "size not reported"
[ "$(lvsize volume-$VA)" = 2147483648 ] || fail "LV shrunk"
ok "never shrunk; an LV not named is reported unknown"

send "vol $VA 1 1" "vol $VB 1 1 iqn.x:h u p" "snap $SA $VA 1" "apply 4"
wait_for 30 "export refused" grep -q "^vol $VB present=1 ok=0 size=1 iqn=- msg=export: metadata-only" "$T/out.log"
ok "an export of a metadata-only LV is refused, with the reason"

send "vol $VA 1 0" "vol $VB 1 0" "snap $SA $VA 0" "apply 5"
wait_for 60 "removal" grep -q "^vol $VA present=0 ok=1 size=0 " "$T/out.log"
grep -q "^snap $SA present=0 ok=1 " "$T/out.log" || fail "snapshot not removed"
[ "$(lvnames | sort | tr '\n' ' ')" = "volume-$VU " ] ||
	fail "LVs left: $(lvnames | tr '\n' ' ')"
ok "lvremove of the snapshot and the volumes; the unknown LV kept"
exec 3>&-
