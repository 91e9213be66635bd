#!/bin/bash
# status_list_ab.sh BUILD DB [ROUNDS]: the servers list's status filter on
# a store kept from a fleet run (fleetsim.sh DB_COPY=...; a copy is used,
# the original is left alone), by BUILD's controller alone (no agents):
# each list below for 5 s under wrk (4 connections), req/s, p50/p99 and the
# controller's CPU per request. For an A/B of index layouts on the same
# servers: a v17 store under main's build against its `db sync`ed copy
# under this branch's (docs/PERFORMANCE.md, "instances_by_state
# ascending"). Needs wrk, curl, mdb_copy; 127.0.0.1 only.
set -euo pipefail
export LC_ALL=C
B=$(cd "$1" && pwd)
SRC=$2
W=$(mktemp -d /tmp/status-ab.XXXXXX)
CPID=""
cleanup() {
	[ -z "$CPID" ] || { kill "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null || true; }
	rm -rf "$W"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BUS=$(port); IDP=$(port); CP=$(port)
mkdir "$W/db"
cp "$SRC/data.mdb" "$W/db/"
cat > "$W/c.conf" <<C
[DEFAULT]
host = ctl
pid_file = $W/ctl.pid
state_path = $W
[database]
path = $W/db
map_size_mb = 8192
[bus]
listen = tcp://127.0.0.1:$BUS
keys_dir = $W/keys
[api]
bind_host = 127.0.0.1
public_host = 127.0.0.1
identity_port = $IDP
compute_port = $CP
image_port = $(port)
volume_port = $(port)
network_port = $(port)
threads = 32
[identity]
key_repository = $W/token-keys
[image]
store_path = $W/images
C
m() { "$B/tools/tinystack-manage" --config "$W/c.conf" "$@"; }
m key setup >/dev/null
m token setup >/dev/null
echo "schema $(m db version 2>&1 | head -1), $B"
"$B/controller/tinystack-controller" --foreground --config "$W/c.conf" > "$W/ctl.log" 2>&1 &
CPID=$!
for i in $(seq 1 300); do
	curl -s -o /dev/null "http://127.0.0.1:$CP/" && break
	sleep 0.2
done
TOK=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{
    "auth": {"identity": {"methods": ["password"], "password": {"user":
    {"name": "admin", "domain": {"id": "default"}, "password": "bench"}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}' \
    "http://127.0.0.1:$IDP/v3/auth/tokens" |
    awk 'tolower($1) == "x-subject-token:" { sub("\r", "", $2); print $2 }')
[ -n "$TOK" ] || { echo "no token" >&2; exit 1; }
cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
lat() {
	local c0 c1
	c0=$(cpu "$CPID")
	wrk -t 2 -c 4 -d 5s --timeout 10s --latency -H "X-Auth-Token: $TOK" "$1" > "$W/lat.txt"
	c1=$(cpu "$CPID")
	grep -q "Non-2xx" "$W/lat.txt" && { cat "$W/lat.txt"; echo "GET $1 failed"; exit 1; }
	echo "$(awk '/Requests\/sec/{print $2}' "$W/lat.txt") req/s," \
	    "p50 $(awk '$1=="50%"{print $2}' "$W/lat.txt"), p99 $(awk '$1=="99%"{print $2}' "$W/lat.txt")," \
	    "CPU $(awk -v d="$(echo "$c1 - $c0" | bc -l)" '/requests in/ { printf "%.3f ms/req", d * 1000 / $1 }' "$W/lat.txt")"
}
U=http://127.0.0.1:$CP/v2.1
# the marker: the last of MID_PAGES (50) pages of 1,000 ACTIVE servers
M=""
for i in $(seq 1 "${MID_PAGES:-50}"); do
	M=$(curl -s -H "X-Auth-Token: $TOK" "$U/servers?status=ACTIVE&limit=1000${M:+&marker=$M}" |
	    python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[-1]["id"] if s else "")')
	[ -n "$M" ] || { echo "fewer than ${MID_PAGES:-50},000 ACTIVE servers" >&2; exit 1; }
done
set -- "" "$M"
echo "marker: the ${MID_PAGES:-50},000th ACTIVE server, $2"
for q in "servers?status=ACTIVE&limit=100" "servers?status=ACTIVE&limit=100&marker=$2" \
    "servers?all_tenants=1&status=ACTIVE&limit=100" "servers/detail?status=ACTIVE&limit=100" \
    "servers?status=ACTIVE&status=SHUTOFF&limit=100" "servers?status=SHUTOFF&limit=1" \
    "servers?limit=100"; do
	echo "GET /${q/$2/<middle>}: $(lat "$U/$q")"
done
