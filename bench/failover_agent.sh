#!/bin/bash
# failover_agent.sh - what one real tinystack-agent (libvirt's test driver,
# test:///default: no guests are started) does when its controller is
# killed, on 127.0.0.1 only (docs/SCALING.md, section 1). report_interval
# = 10 s, the agent's [bus] reconnect options at their defaults (100 ms
# doubling to 5 s). Two cases:
#
#   1. kill -9 of the controller, started again at once on the same store
#      and address: the agent reconnects and goes on heartbeating (no new
#      hello: the controller loaded it from the store).
#   2. kill -9, the controller away AWAY seconds (default 35, more than 3 x
#      report_interval): the agent's silence detection marks it
#      unregistered, it says hello with backoff until the new controller
#      answers.
#
# Prints, for each case, the agent's log lines after the kill, the number
# of hellos it sent, and the time from the start of the new controller to
# the agent's first report accepted by it (service updated_at).
#
# Usage: bench/failover_agent.sh [BUILD_DIR]    (default: ./build)
# Needs: tinystack-controller, tinystack-manage and tinystack-agent built;
# libvirt's client library (the test driver runs in the agent's process).
set -euo pipefail
export LC_ALL=C
B=$(cd "${1:-build}" && pwd)
AWAY=${AWAY:-35}
W=$(mktemp -d /tmp/failover-agent.XXXXXX)
PIDS=()
CPID=
cleanup() {
	for p in "${PIDS[@]+"${PIDS[@]}"}" ${CPID:+"$CPID"}; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

wait_for() {	# SECONDS CMD...
	local limit=$1 t0=$SECONDS
	shift
	until "$@"; do
		[ $((SECONDS - t0)) -lt "$limit" ] || { echo "timed out: $*" >&2; exit 1; }
		sleep 0.1
	done
}
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BUS=$(port)
cat > "$W/c.conf" <<C
[DEFAULT]
host = ctl
verbose = true
pid_file = $W/ctl.pid
state_path = $W
report_interval = 10
service_down_time = 60
[database]
path = $W/db
[bus]
listen = tcp://127.0.0.1:$BUS
keys_dir = $W/keys
[api]
bind_host = 127.0.0.1
identity_port = $(port)
compute_port = $(port)
image_port = $(port)
volume_port = $(port)
network_port = $(port)
[identity]
key_repository = $W/token-keys
C
m() { "$B/tools/tinystack-manage" --config "$W/c.conf" "$@"; }
m db sync >/dev/null
m key setup >/dev/null
m token setup >/dev/null
m agent keygen --host h1 --keys-dir "$W/keys-h1" >/dev/null
cp "$W/keys/controller.pub" "$W/keys-h1/"
m agent enroll h1 --key-file "$W/keys-h1/agent.pub" >/dev/null
mkdir -p "$W/inst"
cat > "$W/a.conf" <<C
[DEFAULT]
host = h1
verbose = true
pid_file = $W/agent.pid
instances_path = $W/inst
state_path = $W/state
report_interval = 10
[libvirt]
connection_uri = test:///default
[bus]
controller = tcp://127.0.0.1:$BUS
keys_dir = $W/keys-h1
C
start_ctl() {
	T_START=$(date +%s.%N)
	"$B/controller/tinystack-controller" --foreground --config "$W/c.conf" \
	    >> "$W/ctl.log" 2>&1 &
	CPID=$!
}
# reported SINCE: h1's service updated_at (whole seconds in the manage
# listing) is in a later second than SINCE.
reported() {
	local u
	u=$(m service list | awk -F'|' '$3 ~ / h1 / { print $7 }' | sed 's/^ *//; s/ *$//')
	[ -n "$u" ] && [ "$(date -u -d "$u" +%s)" -gt "${1%.*}" ]
}
hellos() { grep -c 'hello sent' "$W/agent.log" || true; }

start_ctl
"$B/agent/tinystack-agent" --foreground --config "$W/a.conf" >> "$W/agent.log" 2>&1 &
PIDS+=($!)
wait_for 60 grep -q "registered with controller" "$W/agent.log"
sleep 3

kill_restart() {	# CASE DELAY
	local n0 t
	n0=$(wc -l < "$W/agent.log")
	h0=$(hellos)
	kill -9 "$CPID"
	wait "$CPID" 2>/dev/null || true
	sleep "$2"
	start_ctl
	wait_for 120 reported "$T_START"
	t=$(echo "$(date +%s.%N) - $T_START" | bc | awk '{ printf "%.1f", $1 }')
	echo "== case $1 (controller away $2 s): first report accepted by the" \
	    "new controller within $t s of its start (1 s resolution);" \
	    "hellos sent since the kill: $(($(hellos) - h0))"
	tail -n +"$((n0 + 1))" "$W/agent.log" |
	    sed 's/^[0-9-]* \([0-9:.]*\) [0-9]* \([A-Z]*\) tinystack-agent \[-\] /  \1 \2 /'
}
kill_restart 1 0
kill_restart 2 "$AWAY"
