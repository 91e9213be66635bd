#!/bin/bash
# The agent's block storage wiring ([storage] in agent/main.c): with
# [storage] enabled the agent runs the storage worker and its own tgtd on
# the configured portal and control port (a child of the agent), makes the
# file backend's directory, and stops that tgtd when it stops; a bad
# [storage] setting stops the start-up with a clear message. No controller
# is needed for this (the agent keeps saying hello to a bus nobody serves);
# host_storage itself is covered by integ.storage_tgt and unit.storage_test.
. "$(dirname "$0")/lib.sh"
command -v tgtd >/dev/null || fail "tgtd is not installed"
BUSPORT=$(free_port)
PORT=$(free_port)
CTLP=
for i in $(seq 1 50); do
	c=$((10000 + RANDOM % 22000))
	if ! tgtadm -C $c --op show --mode sys >/dev/null 2>&1 &&
	    [ ! -e /var/run/tgtd/socket.$c.lock ]; then CTLP=$c; break; fi
done
[ -n "$CTLP" ] || fail "no free tgtd control port"
our_tgtd() {
	local p
	for p in $(pgrep -x tgtd || true); do
		tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null |
		    grep -q -- "^tgtd -f -C $CTLP --iscsi portal=127.0.0.1:$PORT " &&
		    echo "$p"
	done
	return 0
}
cleanup_agent() {
	local rc=$? p
	stop_daemons
	for p in $(our_tgtd); do kill -9 "$p" 2>/dev/null || true; done
	(exit $rc)
	cleanup
}
trap cleanup_agent EXIT

agent_conf a "$BUSPORT" test:///default
cat >> "$T/agent-a.conf" <<C
curve = false

[storage]
enabled = true
iscsi_portal = 127.0.0.1:$PORT
tgt_control_port = $CTLP
C
start agent-a "$AGENT" "$T/agent-a.conf"
A=$(pid_of agent-a)
has_tgtd() { [ -n "$(our_tgtd)" ]; }
wait_for 30 "the agent's tgtd" has_tgtd
P=$(our_tgtd)
[ "$(awk '{print $4}' /proc/$P/stat)" = "$A" ] || fail "tgtd is not the agent's child"
wait_for 10 "tgtd answers" tgtadm -C $CTLP --op show --mode sys
[ -d "$T/state-a/volumes" ] || fail "no file backend directory"
[ "$(stat -c %a "$T/state-a/volumes")" = 700 ] || fail "volume directory is not 0700"
grep -q "block storage: file backend, iSCSI portal 127.0.0.1:$PORT" "$T/agent-a.log" ||
	fail "no start-up line"
ok "agent with [storage]: the worker, its own tgtd on the portal and control port"

kill -TERM "$A"
wait_for 15 "agent stopped" dead "$A"
no_tgtd() { [ -z "$(our_tgtd)" ]; }
wait_for 15 "tgtd stopped with the agent" no_tgtd
ok "the agent's tgtd stops with it"

# A bad setting: refused at start, nothing left running.
sed -i 's/^enabled = true$/enabled = true\nbackend = lvm\nlvm_vg = -bad/' "$T/agent-a.conf"
rc=0
timeout 30 "$AGENT" --foreground --config "$T/agent-a.conf" > "$T/agent-bad.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "a bad lvm_vg was accepted"
grep -q "lvm_vg '-bad' is not a volume group name" "$T/agent-bad.out" ||
	fail "no clear message: $(tail -2 "$T/agent-bad.out")"
[ -z "$(our_tgtd)" ] || fail "a tgtd was left running"
ok "a bad [storage] lvm_vg stops the start-up with a clear message"
