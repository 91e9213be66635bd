#!/bin/bash
# failover_bench.sh - a controller lost and brought back, on 127.0.0.1 only
# (docs/SCALING.md, "A highly available controller pair"): a real
# tinystack-controller (CURVE on, [database] sync = full) and AGENTS
# simulated agents (bench/fleetsim.c: own socket, identity and CURVE key
# each, ZeroMQ reconnect backoff capped at 2 s, heartbeats every
# report_interval = 10 s), while a client creates servers one after the
# other (bench/failover_probe.py load), each with a unique name. Two rounds:
#
#   restart:  kill -9 of the controller during the creates, then the same
#             binary started again on the same state directory (LMDB
#             environment, image files) and the same addresses: a process
#             crash, or Pacemaker restarting the resource in place.
#   promote:  kill -9 again, then a copy of the whole state directory
#             (taken after the kill, as DRBD protocol C holds every
#             acknowledged write on the peer) started as a second
#             controller with its own state_path and pid file, on the same
#             bus and API addresses: the floating address moved to the
#             peer. Moving an address between hosts is the cluster
#             manager's job and is not simulated (127.0.0.1 stays).
#
# For each round: kill -> first HTTP answer; kill -> every agent reported to
# the new process (its service's updated_at after the start); kill -> first
# create acknowledged (202) by the new process; a create after that ->
# ACTIVE. At the end, the history check (failover_probe.py check): every
# server acknowledged before or after the kills exists and is ACTIVE, no
# refused request left a server, unknown outcomes (connection broken after
# sending) resolved by name.
#
# Usage: bench/failover_bench.sh [BUILD_DIR]    (default: ./build)
# Knobs: AGENTS (100), PER_PROC (500 agents per fleetsim process), LOAD_S
#   (seconds of creates before each kill, 4), MAX_WAIT (bound of every
#   wait, 300 s). Needs: a build with tinystack-controller, tinystack-manage
#   and fleetsim; curl; /usr/bin/python3.
set -euo pipefail
export LC_ALL=C
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CTL=$B/controller/tinystack-controller
MANAGE=$B/tools/tinystack-manage
SIM=$B/bench/fleetsim
PROBE="/usr/bin/python3 $HERE/failover_probe.py"
AGENTS=${AGENTS:-100}
PER_PROC=${PER_PROC:-500}
LOAD_S=${LOAD_S:-4}
MAX_WAIT=${MAX_WAIT:-300}
W=$(mktemp -d /tmp/failover-bench.XXXXXX)
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
ulimit -n "$(ulimit -Hn)"

wait_for() {	# SECONDS CMD...: CMD every 0.1 s until it succeeds
	local limit=$1 t0=$SECONDS
	shift
	until "$@"; do
		[ $((SECONDS - t0)) -lt "$limit" ] || { echo "timed out: $*" >&2; exit 1; }
		sleep 0.1
	done
}
now() { date +%s.%N; }
dt() { echo "$2 - $1" | bc | awk '{ printf "%.2f", $1 }'; }

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BUS=$(port); IDP=$(port); CP=$(port); IMP=$(port); VP=$(port); NP=$(port)
# conf NODE: both nodes share everything but their state directory and pid
# file (in a real pair: the same keys, token keys and configuration on
# both, the state directory on the DRBD device).
conf() {
	cat > "$W/$1.conf" <<C
[DEFAULT]
host = ctl
pid_file = $W/$1.pid
state_path = $W/$1
report_interval = 10
service_down_time = 60
[database]
path = $W/$1/db
map_size_mb = 1024
[bus]
listen = tcp://127.0.0.1:$BUS
keys_dir = $W/keys
[api]
bind_host = 127.0.0.1
public_host = 127.0.0.1
identity_port = $IDP
compute_port = $CP
image_port = $IMP
volume_port = $VP
network_port = $NP
[identity]
key_repository = $W/token-keys
password_hash_opslimit = 1
password_hash_memlimit_kb = 64
[image]
store_path = $W/$1/images
[compute]
quota_instances = -1
quota_cores = -1
quota_ram = -1
C
}
mkdir -p "$W/a"
conf a
conf b
m() { "$MANAGE" --config "$W/a.conf" "$@"; }
m db sync >/dev/null
m key setup >/dev/null
m token setup >/dev/null
OS_BOOTSTRAP_PASSWORD=bench m bootstrap --openrc "$W/openrc" >/dev/null
"$SIM" keys "$W/sim" "$AGENTS" | while read -r h pub; do
	m agent enroll "$h" --public-key "$pub" >/dev/null
done
SRVPUB=$(sed -n 's/^public = //p' "$W/keys/controller.pub")

api_up() { curl -s -o /dev/null "http://127.0.0.1:$CP/"; }
start_ctl() {	# NODE: start the controller of NODE; sets CPID, T_START
	T_START=$(now)
	"$CTL" --foreground --config "$W/$1.conf" >> "$W/ctl-$1.log" 2>&1 &
	CPID=$!
}
start_ctl a
wait_for 60 api_up
t0=$(now)
for ((first = 1; first <= AGENTS; first += PER_PROC)); do
	n=$((AGENTS - first + 1 < PER_PROC ? AGENTS - first + 1 : PER_PROC))
	"$SIM" agents "tcp://127.0.0.1:$BUS" "$W/sim" "$n" "$SRVPUB" \
	    "$first" > "$W/sim-$first.log" 2>&1 &
	PIDS+=($!)
done

TOK=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{
    "auth": {"identity": {"methods": ["password"], "password": {"user":
    {"name": "admin", "domain": {"id": "default"}, "password": "bench"}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}' \
    "http://127.0.0.1:$IDP/v3/auth/tokens" |
    awk 'tolower($1) == "x-subject-token:" { sub("\r", "", $2); print $2 }')
U=http://127.0.0.1:$CP/v2.1
wait_for "$MAX_WAIT" $PROBE reported "$U" "$TOK" 0 "$AGENTS"
echo "registration: $AGENTS agents up in $(dt "$t0" "$(now)") s"
H=(-H "X-Auth-Token: $TOK" -H 'Content-Type: application/json')
curl -s -o /dev/null "${H[@]}" -d '{"flavor": {"name": "b1", "id": "b1",
    "ram": 64, "vcpus": 1, "disk": 0}}' "$U/flavors"
IMG=$(curl -s "${H[@]}" -d '{"name": "img", "disk_format": "raw",
    "container_format": "bare", "visibility": "public"}' \
    "http://127.0.0.1:$IMP/v2/images" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
head -c 65536 /dev/zero | curl -s -o /dev/null -X PUT -H "X-Auth-Token: $TOK" \
    -H 'Content-Type: application/octet-stream' --data-binary @- \
    "http://127.0.0.1:$IMP/v2/images/$IMG/file"

none_building() {
	[ "$(curl -s -H "X-Auth-Token: $TOK" "$U/servers?status=BUILD&limit=1" |
	    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["servers"]))')" = 0 ]
}
# first_ack OUT SINCE [any]: the end of the first create sent at or after
# SINCE that was acknowledged (with "any": that got an HTTP answer at all)
first_ack() {
	/usr/bin/python3 - "$1" "$2" "${3:-}" <<'P'
import json, sys
t = [r["t1"] for r in map(json.loads, open(sys.argv[1]))
     if r["t0"] >= float(sys.argv[2]) and (r["outcome"] == "acked" or
     (sys.argv[3] == "any" and r["outcome"].startswith("http-")))]
sys.exit(0 if t and print("%.6f" % min(t)) is None else 1)
P
}
acked_before() {	# OUT T: creates acknowledged before T
	/usr/bin/python3 -c 'import json, sys; print(sum(1 for r in map(json.loads, open(sys.argv[1])) if r["outcome"] == "acked" and r["t1"] < float(sys.argv[2])))' "$1" "$2"
}
one_create() {	# NAME: a create, then the time until it is ACTIVE
	local id t0=$(now)
	id=$(curl -s "${H[@]}" -d "{\"server\": {\"name\": \"$1\",
	    \"flavorRef\": \"b1\", \"imageRef\": \"$IMG\", \"networks\": \"none\"}}" \
	    "$U/servers" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["id"])')
	active() {
		curl -s -H "X-Auth-Token: $TOK" "$U/servers/$id" | grep -q '"status": *"ACTIVE"'
	}
	wait_for "$MAX_WAIT" active
	echo "$(dt "$t0" "$(now)")"
}

# round NAME NEXT_NODE PROMOTE
round() {
	local name=$1 node=$2 promote=$3 lpid tk t_http t_rep t_ack t_any
	rm -f "$W/stop"
	$PROBE load "$U" "$TOK" "$IMG" "$name" "$W/load-$name.jsonl" "$W/stop" 100000 &
	lpid=$!
	PIDS+=("$lpid")
	sleep "$LOAD_S"
	tk=$(now)
	kill -9 "$CPID"
	wait "$CPID" 2>/dev/null || true
	CPID=
	if [ "$promote" = 1 ]; then
		# DRBD promotion: the peer's copy of the device, consistent
		# because the writer is dead (fenced) before it is read.
		rm -rf "$W/$node"
		cp -a "$W/a" "$W/$node"
	fi
	start_ctl "$node"
	wait_for "$MAX_WAIT" api_up
	t_http=$(now)
	wait_for "$MAX_WAIT" $PROBE reported "$U" "$TOK" "$T_START" "$AGENTS"
	t_rep=$(now)
	wait_for "$MAX_WAIT" first_ack "$W/load-$name.jsonl" "$T_START" > /dev/null
	t_ack=$(first_ack "$W/load-$name.jsonl" "$T_START")
	t_any=$(first_ack "$W/load-$name.jsonl" "$T_START" any)
	touch "$W/stop"
	wait "$lpid" || true
	echo "$name ($AGENTS agents): kill -> first HTTP answer" \
	    "$(dt "$tk" "$t_any") s (to the client; $(dt "$tk" "$t_http") s to the" \
	    "0.1 s poll of curl);" \
	    "-> all $AGENTS agents reported $(dt "$tk" "$t_rep") s;" \
	    "-> first create acknowledged $(dt "$tk" "$t_ack") s;" \
	    "a create then ACTIVE in $(one_create "$name-after") s;" \
	    "$(acked_before "$W/load-$name.jsonl" "$tk") creates acknowledged before" \
	    "the kill, $(grep -c acked "$W/load-$name.jsonl") in the round"
}

round restart a 0
round promote b 1
wait_for "$MAX_WAIT" none_building
echo "history check (both rounds, on the promoted copy):"
rc=0
$PROBE check "$U" "$TOK" "$W"/load-*.jsonl || rc=$?
exit "$rc"
