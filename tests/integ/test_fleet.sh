#!/bin/bash
# A controller and two agents (libvirt test driver) on loopback: agents
# register over CURVE, an unenrolled agent is refused, a killed agent goes
# down within service_down_time and comes back up when restarted, a
# restarted controller keeps its fleet, a revoked agent stays out.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
controller_conf "$T/controller.conf" "$PORT"
manage db sync | grep -q "database schema at version [1-9]" || fail "db sync"
v=$(manage db version)
manage db sync >/dev/null || fail "db sync is not idempotent"
[ "$(manage db version)" = "$v" ] || fail "db version changed on a second sync"
manage key setup >/dev/null
[ "$(stat -c %a "$T/keys/controller.key")" = 600 ] || fail "controller.key is not 0600"
ok "db sync, key setup (0600)"

"$CTL" -n --config "$T/controller.conf" > "$T/normalized.conf"
grep -q "^service_down_time = 3$" "$T/normalized.conf" || fail "-n output"
"$CTL" -n --config "$T/normalized.conf" | cmp -s - "$T/normalized.conf" || fail "-n output does not parse back to itself"
ok "controller -n prints a normalized config that parses back"

for n in h1 h2; do enrol_agent "$n"; agent_conf "$n" "$PORT" test:///default; done
# h3 has a key pair but is never enrolled.
manage agent keygen --host h3 --keys-dir "$T/keys-h3" >/dev/null
cp "$T/keys/controller.pub" "$T/keys-h3/"
agent_conf h3 "$PORT" test:///default
manage agent list | grep -q "| h1 .*active" || fail "agent list"

# key_prefix NAME: the first 8 characters of an agent's public key, as the
# controller's "refusing agent connection with key ..." line shows them.
key_prefix() { awk '$1 == "public" { print substr($3, 1, 8) }' "$T/keys-$1/agent.pub"; }
# refused_since CTL_LINE AGENT_LINE NAME: after those lines of the
# controller's and the agent's logs, the controller refused NAME's key at
# the handshake and the agent saw the refusal (it does not retry a refused
# key: that attempt was handled to its end, and no hello can follow).
# The controller logs refused keys once a second ("... (N similar
# suppressed)"): the first refusal after a quiet second is always logged,
# and this test's refusals (h3's at the start, restarted h2's at the end)
# are seconds apart, each the first of its second; so NAME's own line
# still shows, key prefix and all.
logged_after() {	# FILE LINE TEXT: TEXT in FILE after line LINE
	awk -v n="$2" -v t="$3" 'NR > n && index($0, t) { f = 1 } END { exit !f }' "$1"
}
refused_since() {
	logged_after "$T/ctl.log" "$1" \
		"refusing agent connection with key $(key_prefix "$3")" &&
	logged_after "$T/agent-$3.log" "$2" "refused this host's key"
}

start ctl "$CTL" "$T/controller.conf"
wait_for 10 "controller pid file" test -s "$T/controller.pid"
if timeout 10 "$CTL" --foreground --config "$T/controller.conf" >"$T/ctl2.log" 2>&1; then
	fail "a second controller with the same pid file started"
fi
grep -q "already running" "$T/ctl2.log" || fail "second controller: no 'already running' error"
ok "pid file lock refuses a second controller"

start agent-h1 "$AGENT" "$T/agent-h1.conf"
start agent-h2 "$AGENT" "$T/agent-h2.conf"
start agent-h3 "$AGENT" "$T/agent-h3.conf"
wait_for 15 "h1 up" is_state h1 up
wait_for 15 "h2 up" is_state h2 up
ok "two enrolled agents register and are up"

# The witness: h3's attempt handled to its end (refused on both sides)
# while h1 and h2 are up: a registration of h3 would show by now.
wait_for 15 "h3's key refused" refused_since 0 0 h3
is_state h3 absent || fail "unenrolled agent h3 appears in the service list"
ok "unenrolled agent is refused"

manage hypervisor list > "$T/hv.txt"
grep -q "| h1 .*| TEST " "$T/hv.txt" || { cat "$T/hv.txt"; fail "hypervisor h1 not reported by the test driver"; }
# test:///default describes a 16-CPU host with 3 GiB and one running guest.
awk -F'|' '$2 ~ / h1 / { gsub(/ /,"",$4); gsub(/ /,"",$5); gsub(/ /,"",$6);
	if ($4 != 16 || $5 != 3072 || $6 != 1) bad = 1; n++ }
	END { exit (bad || n != 1) }' "$T/hv.txt" || { cat "$T/hv.txt"; fail "h1 vcpus/memory/guests not from libvirt"; }
ok "hypervisor facts come from libvirt"

t0=$(date +%s)
P1=$(pid_of agent-h1)
kill -9 "$P1"
wait_for 10 "h1 down" is_state h1 down
t1=$(date +%s)
[ $((t1 - t0)) -le 6 ] || fail "h1 took $((t1 - t0)) s to go down (service_down_time 3)"
is_state h2 up || fail "h2 went down with h1"
wait_for 10 "down logged" grep -q "host h1 is down" "$T/ctl.log"
ok "killed agent is down within service_down_time ($((t1 - t0)) s)"

# Its pid file stays locked until it is gone (a start before that is
# refused: "already running").
wait_for 10 "the killed agent h1 gone" dead "$P1"
start agent-h1 "$AGENT" "$T/agent-h1.conf"
wait_for 10 "h1 up again" is_state h1 up
ok "restarted agent is up again"

kill -TERM "$(pid_of ctl)"
wait_for 10 "controller exit" bash -c "! kill -0 $(pid_of ctl) 2>/dev/null"
[ ! -e "$T/controller.pid" ] || fail "pid file left behind after SIGTERM"
# With the controller away longer than service_down_time, the stored last
# heartbeats say down; only heartbeats to the new controller make them up.
wait_for 10 "h1 down while the controller is away" is_state h1 down
start ctl "$CTL" "$T/controller.conf"
wait_for 15 "h1 up with the new controller" is_state h1 up
wait_for 15 "h2 up with the new controller" is_state h2 up
grep -q "fleet: 2 known agent" "$T/ctl.log" || fail "restarted controller did not load its fleet"
ok "controller restart: fleet kept, agents reconnect by themselves"

# A hung controller (SIGSTOP): each agent's silence rule (no word for 3
# report intervals) rebuilds its connection, though an idle agent asks for
# an ack on every other heartbeat only and has no ZMTP pings; after
# SIGCONT both are up again.
a1=$(wc -l < "$T/agent-h1.log")
a2=$(wc -l < "$T/agent-h2.log")
kill -STOP "$(pid_of ctl)"
t0=$(date +%s)
wait_for 10 "h1 finds the controller silent" logged_after "$T/agent-h1.log" "$a1" "controller silent for"
wait_for 10 "h2 finds the controller silent" logged_after "$T/agent-h2.log" "$a2" "controller silent for"
t1=$(date +%s)
kill -CONT "$(pid_of ctl)"
wait_for 15 "h1 up after the stop" is_state h1 up
wait_for 15 "h2 up after the stop" is_state h2 up
ok "hung controller: found silent by its agents in $((t1 - t0)) s (report_interval 1), up again after"

# One key, one host: enrolling h1's key for another host is refused.
if manage agent enroll h9 --key-file "$T/keys-h1/agent.pub" >"$T/dup.txt" 2>&1; then
	fail "h1's key was enrolled for h9 too"
fi
grep -q "already enrolled for host h1" "$T/dup.txt" || { cat "$T/dup.txt"; fail "duplicate key: no clear error"; }
ok "a key already enrolled for another host is refused"

# Re-enrolling h1 with a new key (after a leak) cuts off the connection
# still using the old key; the agent restarted with the new key is up.
cp -a "$T/keys-h1" "$T/keys-h1-old"
manage agent keygen --force --host h1 --keys-dir "$T/keys-h1" >/dev/null
manage agent enroll h1 --key-file "$T/keys-h1/agent.pub" >/dev/null
wait_for 10 "h1 cut off after re-enrolment" is_state h1 down
grep -q "agent h1 is not enrolled with the key" "$T/ctl.log" || fail "no refusal of h1's old-key connection"
P1=$(pid_of agent-h1)
kill -9 "$P1"
wait_for 10 "the killed agent h1 gone" dead "$P1"
start agent-h1 "$AGENT" "$T/agent-h1.conf"
wait_for 10 "h1 up with its new key" is_state h1 up
ok "re-enrolment with a new key cuts off the old key's connection"

# Revocation cuts off the live connection at its next message, and a
# restarted agent with the revoked key is refused at the handshake.
manage agent revoke h2 >/dev/null
wait_for 10 "h2 down after revocation" is_state h2 down
wait_for 5 "refusal of the live connection" grep -q "agent h2 is not enrolled with the key" "$T/ctl.log"
P2=$(pid_of agent-h2)
kill -9 "$P2"
wait_for 10 "the killed agent h2 gone" dead "$P2"
n0=$(wc -l < "$T/ctl.log")
a0=$(wc -l < "$T/agent-h2.log")
start agent-h2 "$AGENT" "$T/agent-h2.conf"
# The witness: the restarted agent's revoked key refused at the handshake,
# on both sides.
wait_for 15 "restarted h2's key refused" refused_since "$n0" "$a0" h2
is_state h2 down || fail "revoked agent came back"
is_state h1 up || fail "h1 affected by h2's revocation"
ok "revoked agent is cut off and cannot reconnect"

echo "$NPASS passed, 0 failed"
