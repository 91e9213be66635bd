#!/bin/bash
# fleetsim.sh - the compute control plane at fleet scale, on 127.0.0.1 only:
# a real tinystack-controller (CURVE on) and AGENTS simulated agents in one
# fleetsim process (bench/fleetsim.c: own socket, identity and CURVE key
# each, guests answered from memory, no libvirt). Measures:
#   - registration: time until every agent's service is up
#   - creates: DUR seconds of server creates over PAR keep-alive
#     connections (wrk): 202s per second and latency, then the time until
#     all are ACTIVE (reported by the agents)
#   - list latency: GET /servers/detail (all, up to 1000), with limit=100,
#     GET /servers?limit=100, GET /os-hypervisors/detail (wrk, p50/p99)
#   - the controller's RSS and CPU seconds, and fleetsim's RSS
# Plus, in-process: fleetsim sched (scheduler ranks/s, durable placements/s).
#
# Usage: bench/fleetsim.sh [BUILD_DIR]          (default: ./build)
# Knobs: AGENTS (100), PAR (16 connections creating), DUR (5 s of creates),
#   SYNC ([database] sync: full, the default, or nometasync)
set -euo pipefail
export LC_ALL=C
B=$(cd "${1:-build}" && pwd)
CTL=$B/controller/tinystack-controller
MANAGE=$B/tools/tinystack-manage
SIM=$B/bench/fleetsim
AGENTS=${AGENTS:-100}
PAR=${PAR:-16}
DUR=${DUR:-5}
SYNC=${SYNC:-full}
W=$(mktemp -d /tmp/fleetsim-bench.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BUS=$(port); IDP=$(port); CP=$(port); IMP=$(port)
cat > "$W/c.conf" <<C
[DEFAULT]
host = ctl
pid_file = $W/ctl.pid
state_path = $W
report_interval = 10
service_down_time = 60
[database]
path = $W/db
map_size_mb = 4096
sync = $SYNC
[bus]
listen = tcp://127.0.0.1:$BUS
keys_dir = $W/keys
[api]
bind_host = 127.0.0.1
public_host = 127.0.0.1
identity_port = $IDP
compute_port = $CP
image_port = $IMP
volume_port = $(port)
network_port = $(port)
threads = 8
connection_limit = 4096
[identity]
key_repository = $W/token-keys
password_hash_opslimit = 1
password_hash_memlimit_kb = 64
[image]
store_path = $W/images
[compute]
quota_instances = -1
quota_cores = -1
quota_ram = -1
C
m() { "$MANAGE" --config "$W/c.conf" "$@"; }
m db sync >/dev/null
m key setup >/dev/null
m token setup >/dev/null
m bootstrap --admin-password bench --openrc "$W/openrc" >/dev/null
"$SIM" keys "$W/sim" "$AGENTS" | while read -r h pub; do
	m agent enroll "$h" --public-key "$pub" >/dev/null
done
SRVPUB=$(sed -n 's/^public = //p' "$W/keys/controller.pub")

"$CTL" --foreground --config "$W/c.conf" > "$W/ctl.log" 2>&1 &
CPID=$!
PIDS+=("$CPID")
until curl -s -o /dev/null "http://127.0.0.1:$CP/"; do sleep 0.1; done
t0=$(date +%s.%N)
"$SIM" agents "tcp://127.0.0.1:$BUS" "$W/sim" "$AGENTS" "$SRVPUB" > "$W/sim.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
until [ "$(m service list | grep -c '| up ')" -ge "$AGENTS" ]; do sleep 0.2; done
t1=$(date +%s.%N)
echo "registration: $AGENTS agents up in $(echo "$t1 - $t0" | bc) s"

TOK=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{
    "auth": {"identity": {"methods": ["password"], "password": {"user":
    {"name": "admin", "domain": {"id": "default"}, "password": "bench"}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}' \
    "http://127.0.0.1:$IDP/v3/auth/tokens" |
    awk 'tolower($1) == "x-subject-token:" { sub("\r", "", $2); print $2 }')
H=(-H "X-Auth-Token: $TOK" -H 'Content-Type: application/json')
curl -s -o /dev/null "${H[@]}" -d '{"flavor": {"name": "b1", "id": "b1",
    "ram": 64, "vcpus": 1, "disk": 0}}' "http://127.0.0.1:$CP/v2.1/flavors"
IMG=$(curl -s "${H[@]}" -d '{"name": "img", "disk_format": "raw",
    "container_format": "bare", "visibility": "public"}' \
    "http://127.0.0.1:$IMP/v2/images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
head -c 65536 /dev/zero | curl -s -o /dev/null -X PUT -H "X-Auth-Token: $TOK" \
    -H 'Content-Type: application/octet-stream' --data-binary @- \
    "http://127.0.0.1:$IMP/v2/images/$IMG/file"

cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ { print int($2 / 1024) " MiB" }' "/proc/$1/status"; }
total() {	# servers of the project (the usage: lists stop at 1000)
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/limits" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["limits"]["absolute"]["totalInstancesUsed"])'
}
building() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers?status=BUILD" |
	    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["servers"]))'
}
# wrk keeps its connections alive, so the clients cost next to nothing.
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' \
    "'{\"server\": {\"name\": \"b\", \"flavorRef\": \"b1\", \"imageRef\": \"$IMG\", \"networks\": \"none\"}}'" \
    > "$W/create.lua"
c0=$(cpu "$CPID")
t0=$(date +%s.%N)
wrk -t 2 -c "$PAR" -d "${DUR}s" --timeout 10s --latency -s "$W/create.lua" \
    -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers" > "$W/create.txt"
t1=$(date +%s.%N)
ok=$(total)
until [ "$(building)" = 0 ]; do sleep 0.2; done
t2=$(date +%s.%N)
c1=$(cpu "$CPID")
grep -q "Non-2xx" "$W/create.txt" && { cat "$W/create.txt"; echo "creates failed"; exit 1; }
echo "creates ($PAR connections, ${DUR}s): $ok accepted = $(echo "$ok / ($t1 - $t0)" | bc) /s," \
    "p50 $(awk '$1=="50%"{print $2}' "$W/create.txt"), p99 $(awk '$1=="99%"{print $2}' "$W/create.txt");" \
    "all ACTIVE $(echo "$t2 - $t1" | bc | cut -c1-5) s after the last;" \
    "controller CPU $(echo "($c1 - $c0) * 1000 / $ok" | bc -l | cut -c1-5) ms per create"

lat() {	# URL: p50/p99 of GETs at 4 connections
	wrk -t 2 -c 4 -d 5s --timeout 10s --latency -H "X-Auth-Token: $TOK" "$1" > "$W/lat.txt"
	echo "$(awk '/Requests\/sec/{print $2}' "$W/lat.txt") req/s," \
	    "p50 $(awk '$1=="50%"{print $2}' "$W/lat.txt"), p99 $(awk '$1=="99%"{print $2}' "$W/lat.txt")"
}
echo "GET /servers/detail ($ok servers, limit 1000): $(lat "http://127.0.0.1:$CP/v2.1/servers/detail")"
echo "GET /servers/detail?limit=100: $(lat "http://127.0.0.1:$CP/v2.1/servers/detail?limit=100")"
echo "GET /servers?limit=100: $(lat "http://127.0.0.1:$CP/v2.1/servers?limit=100")"
echo "GET /os-hypervisors/detail ($AGENTS hosts): $(lat "http://127.0.0.1:$CP/v2.1/os-hypervisors/detail")"
echo "RSS: controller $(rss "$CPID"), fleetsim ($AGENTS agents) $(rss "$SPID")"
echo "scheduler in-process:"
"$SIM" sched "$AGENTS" 2000 1 "$W/sched1" | sed 's/^/  /'
"$SIM" sched 1000 4000 16 "$W/sched2" | sed 's/^/  /'
