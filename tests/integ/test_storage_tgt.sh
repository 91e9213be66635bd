#!/bin/bash
# The storage worker's iSCSI exports through a real tgtd, read back with
# qemu's libiscsi initiator (qemu-img), all on loopback: tests/integ/storctl
# runs agent/storage/storsvc with the file backend and its own tgtd (on a
# free portal and control port). A volume with a marker is exported to
# one initiator with CHAP; the right initiator and password read the
# marker, a wrong password or initiator is refused; tgtd killed with -9 is
# restarted and the export comes back; a storage worker killed with -9
# leaves tgtd serving and the next one adopts it; unexport removes the
# target and the account; delete removes the file. Fencing: an initiator
# taken off the ACL (an evacuation renames the attachment's initiator)
# loses the session it holds open (a qemu-io), and cannot log in again;
# a session of an initiator not in the wanted ACL is closed even when
# the ACL was changed before (level-triggered).
. "$(dirname "$0")/lib.sh"
for c in tgtd tgtadm qemu-img qemu-io mkfifo; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
qemu-img --help | grep -qw iscsi ||
	fail "qemu-img has no iscsi driver (packaging/install-deps.sh installs qemu-block-extra)"
STORCTL=$TS_BUILD_DIR/tests/unit/storctl
[ -x "$STORCTL" ] || fail "no $STORCTL"

VA=aaaaaaaa-1111-4000-8000-$(printf '%012d' $$)
IQN=iqn.2010-10.org.openstack:volume-$VA
INI=iqn.2010-10.org.openstack.tinystack:host-a
USER=u$$
PASS=Secret$$x
PORT=$(free_port)
# A tgtd management channel nobody uses (the lock is tgtd's own).
CTLP=
for i in $(seq 1 50); do
	c=$((10000 + RANDOM % 22000))
	if ! tgtadm -C $c --op show --mode sys >/dev/null 2>&1 &&
	    [ ! -e /var/run/tgtd/socket.$c.lock ]; then CTLP=$c; break; fi
done
[ -n "$CTLP" ] || fail "no free tgtd control port"

# tgtd processes of this test (children of its storctl), killed at exit
# by pid whatever happened.
TGTD_PIDS=()
our_tgtd() {
	local p
	for p in $(pgrep -x tgtd || true); do
		tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null |
		    grep -q -- "^tgtd -f -C $CTLP --iscsi portal=127.0.0.1:$PORT " &&
		    echo "$p"
	done
	return 0
}
cleanup_storage() {
	local rc=$? p
	exec 3>&- 4>&- || true
	stop_daemons
	for p in "${TGTD_PIDS[@]+"${TGTD_PIDS[@]}"}" $(our_tgtd); do
		kill -9 "$p" 2>/dev/null || true
	done
	(exit $rc)
	cleanup
}
trap cleanup_storage EXIT

start_storctl() {
	rm -f "$T/in"
	mkfifo "$T/in"
	"$STORCTL" --host host-a --dir "$T/vols" --portal 127.0.0.1:$PORT \
	    --control $CTLP --tick-ms 500 --debug < "$T/in" >> "$T/out.log" \
	    2>> "$T/storctl.log" &
	STORCTL_PID=$!
	PIDS+=($STORCTL_PID)
	exec 3> "$T/in"
}
send() { printf '%s\n' "$@" >&3; }

# read_as USER PASS INITIATOR OUT: the LUN through qemu's iSCSI initiator.
read_as() {
	rm -f "$4"
	timeout 60 qemu-img convert -O raw --object secret,id=s0,data="$2" \
	    --image-opts "driver=iscsi,transport=tcp,portal=127.0.0.1:$PORT,target=$IQN,lun=1,user=$1,password-secret=s0,initiator-name=$3" \
	    "$4" 2>> "$T/qemu-img.log"
}
reads_marker() { read_as "$USER" "$PASS" "$INI" "$T/read.raw" &&
    [ "$(head -c 12 "$T/read.raw")" = "TSVOLMARKER1" ]; }

mkdir -p "$T/vols"
start_storctl
# The volume is made by the first message; the marker goes in, then the
# export is asked for.
send "vol $VA 1 1" "apply 1"
wait_for 30 "volume made" grep -q "^vol $VA present=1 ok=1 size=1 iqn=- " "$T/out.log"
grep -q "^state gen=1 reply=req-1 backend=file portal=127.0.0.1:$PORT " "$T/out.log" ||
	fail "no reply to generation 1"
F=$T/vols/volume-$VA
[ "$(stat -c %s "$F")" = 1073741824 ] || fail "volume file is not 1 GiB"
printf 'TSVOLMARKER1' | dd of="$F" conv=notrunc status=none
ok "volume file made (1 GiB, sparse), marker written"

send "vol $VA 1 1 $INI $USER $PASS" "apply 2"
wait_for 30 "export" grep -q "^vol $VA present=1 ok=1 size=1 iqn=$IQN " "$T/out.log"
tgtadm -C $CTLP --lld iscsi --op show --mode target > "$T/show.txt"
grep -q "Target 1: $IQN" "$T/show.txt" || fail "no target"
grep -q "Backing store path: $F" "$T/show.txt" || fail "LUN 1 is not the file"
grep -q "^        $INI\$" "$T/show.txt" || fail "initiator not in the ACL"
grep -q "^        $USER\$" "$T/show.txt" || fail "account not bound"
ok "target, LUN 1, ACL and CHAP account made"

grep -q -- "--password=" "$T/storctl.log" || fail "tgtadm account command not logged"
grep -q -- "$PASS" "$T/storctl.log" && fail "the CHAP secret is in the log"
ok "the CHAP secret never reaches the log (tgtadm --password= redacted)"
reads_marker || fail "the exported volume does not read back"
ok "qemu-img reads the marker through iSCSI with CHAP"

read_as "$USER" "WrongPass$$" "$INI" "$T/bad1.raw" && fail "wrong CHAP password accepted"
[ -s "$T/bad1.raw" ] && fail "wrong CHAP password read data"
grep -q "Authentication failure" "$T/qemu-img.log" || fail "no authentication failure"
read_as "$USER" "$PASS" "iqn.2010-10.org.openstack.tinystack:host-b" "$T/bad2.raw" &&
	fail "wrong initiator accepted"
[ -s "$T/bad2.raw" ] && fail "wrong initiator read data"
ok "wrong CHAP password and wrong initiator refused"

# hold_as INITIATOR: a qemu-io logged in as INITIATOR, its commands from
# fd 4 (a fifo): the session stays open until fd 4 is closed or it is
# killed (HOLD_PID; timeout bounds it whatever happens).
hold_as() {
	rm -f "$T/hold"
	mkfifo "$T/hold"
	timeout 120 qemu-io --object secret,id=s0,data="$PASS" \
	    --image-opts "driver=iscsi,transport=tcp,portal=127.0.0.1:$PORT,target=$IQN,lun=1,user=$USER,password-secret=s0,initiator-name=$1" \
	    < "$T/hold" >> "$T/qemu-io.log" 2>&1 &
	HOLD_PID=$!
	PIDS+=($HOLD_PID)
	exec 4> "$T/hold"
	printf 'read 0 512\n' >&4
}
unhold() {
	exec 4>&-
	kill "$HOLD_PID" 2>/dev/null || true
	wait "$HOLD_PID" 2>/dev/null || true
}
show() { tgtadm -C $CTLP --lld iscsi --op show --mode target; }
nexus_of() { show | grep -q "^            Initiator: $1 alias: "; }
no_nexus_of() { show > "$T/show.now" && ! grep -q "^            Initiator: $1 alias: " "$T/show.now"; }
INI2=iqn.2010-10.org.openstack.tinystack:host-b

hold_as "$INI"
wait_for 30 "session of $INI" nexus_of "$INI"
# The attachment's initiator renamed (evacuation): same volume and CHAP
# account, the other host's initiator.
send "vol $VA 1 1 $INI2 $USER $PASS" "apply 3"
wait_for 30 "export to $INI2" grep -q "^state gen=3 " "$T/out.log"
sed -n '/^state gen=3 /,$p' "$T/out.log" | grep -q "^vol $VA present=1 ok=1 size=1 iqn=$IQN " ||
	fail "export to $INI2 failed"
wait_for 30 "session of $INI closed" no_nexus_of "$INI"
grep -q "^        $INI\$" "$T/show.now" && fail "$INI still in the ACL"
grep -q "^        $INI2\$" "$T/show.now" || fail "$INI2 not in the ACL"
grep -q "closing session .* of $INI on target $IQN" "$T/storctl.log" ||
	fail "no closing of the session logged"
read_as "$USER" "$PASS" "$INI" "$T/bad4.raw" && fail "$INI logged in again after the ACL change"
[ -s "$T/bad4.raw" ] && fail "$INI read data after the ACL change"
# The held qemu-io's own reconnects (libiscsi retries) are refused too.
nexus_of "$INI" && fail "a session of $INI came back"
read_as "$USER" "$PASS" "$INI2" "$T/read2.raw" &&
    [ "$(head -c 12 "$T/read2.raw")" = "TSVOLMARKER1" ] || fail "$INI2 does not read the volume"
unhold
ok "initiator taken off the ACL: its open session closed, a new login refused, the new initiator reads"

send "vol $VA 1 1 $INI $USER $PASS" "apply 4"
wait_for 30 "export to $INI again" grep -q "^state gen=4 " "$T/out.log"
reads_marker || fail "$INI does not read after its export came back"

# tgtd dies: restarted, the export comes back.
P1=$(our_tgtd)
[ -n "$P1" ] && [ "$(echo "$P1" | wc -w)" = 1 ] || fail "not one tgtd of ours: '$P1'"
[ "$(awk '{print $4}' /proc/$P1/stat)" = "$STORCTL_PID" ] || fail "tgtd is not the worker's child"
TGTD_PIDS+=($P1)
kill -9 "$P1"
new_tgtd() { local p; p=$(our_tgtd); [ -n "$p" ] && [ "$p" != "$P1" ]; }
wait_for 30 "tgtd restarted" new_tgtd
wait_for 30 "export re-created" reads_marker
P2=$(our_tgtd)
TGTD_PIDS+=($P2)
ok "tgtd killed with -9: restarted and the export re-created"

# The worker dies (an agent crash): tgtd keeps serving; the next one
# adopts it and converges to the same state.
kill -9 "$STORCTL_PID"
wait "$STORCTL_PID" 2>/dev/null || true
exec 3>&-
reads_marker || fail "tgtd stopped serving when the worker died"
[ "$(our_tgtd)" = "$P2" ] || fail "tgtd changed"
# Level-triggered fencing: meanwhile (no worker) a session of $INI2 was
# opened and $INI2 taken off the ACL by hand, as by a worker that died
# between its unbind and its close: the ACL is as wanted, the session
# stays open (tgtd checks the ACL at login only). The next worker,
# which unbinds nothing, closes it.
TID=$(tgtadm -C $CTLP --lld iscsi --op show --mode target |
    awk -v q="$IQN" '$1 == "Target" && $3 == q { sub(":", "", $2); print $2 }')
[ -n "$TID" ] || fail "no tid of $IQN"
tgtadm -C $CTLP --lld iscsi --op bind --mode target --tid "$TID" --initiator-name "$INI2"
hold_as "$INI2"
wait_for 30 "session of $INI2" nexus_of "$INI2"
tgtadm -C $CTLP --lld iscsi --op unbind --mode target --tid "$TID" --initiator-name "$INI2"
nexus_of "$INI2" || fail "the session of $INI2 went with the unbind alone"
: > "$T/out.log"
start_storctl
send "vol $VA 1 1 $INI $USER $PASS" "apply 5"
wait_for 30 "converged after restart" grep -q "^vol $VA present=1 ok=1 size=1 iqn=$IQN " "$T/out.log"
wait_for 30 "session of $INI2 closed by the new worker" no_nexus_of "$INI2"
unhold
ok "a session of an initiator not in the wanted ACL is closed by a restarted worker (level-triggered)"
[ "$(our_tgtd)" = "$P2" ] || fail "the running tgtd was not adopted"
[ "$(tgtadm -C $CTLP --lld iscsi --op show --mode target | grep -c '^Target ')" = 1 ] ||
	fail "targets duplicated"
reads_marker || fail "no read after the worker's restart"
ok "worker restarted: tgtd adopted, one target, still reads"

# Unexport: target and account gone; then delete: the file is gone.
send "vol $VA 1 1" "apply 6"
wait_for 30 "unexport" grep -q "^state gen=6 " "$T/out.log"
grep -q "^vol $VA present=1 ok=1 size=1 iqn=- " "$T/out.log" || fail "not unexported"
tgtadm -C $CTLP --lld iscsi --op show --mode target | grep -q "$IQN" && fail "target still there"
tgtadm -C $CTLP --lld iscsi --op show --mode account | grep -q "$USER" && fail "account still there"
read_as "$USER" "$PASS" "$INI" "$T/bad3.raw" && fail "read after unexport"
ok "unexport removed the target and the CHAP account"
send "vol $VA 1 0" "apply 7"
wait_for 30 "delete" grep -q "^vol $VA present=0 ok=1 size=0 " "$T/out.log"
[ -e "$F" ] && fail "volume file still there"
ok "volume wiped and removed"
exec 3>&-
storctl_gone() { ! kill -0 "$STORCTL_PID" 2>/dev/null; }
wait_for 20 "worker exit at the end of its input" storctl_gone
ok "worker stopped"
