#!/bin/bash
# list_ab.sh - the controller's CPU per server list page, A/B on one store.
#
#   bench/list_ab.sh make STORE [BUILD]        a store of INSTANCES (100,000)
#       servers on AGENTS (100) simulated hosts, made by bench/fleetsim.sh
#       (CHECKPOINTS=0, copied aside with mdb_copy through its DASH_HOOK)
#   bench/list_ab.sh run STORE BUILD LABEL     BUILD's controller on a copy of
#       STORE (no agents: the hosts are not up), then wrk (4 connections,
#       DUR (5) s) on each list: req/s, p99 and the controller's CPU per
#       request (utime + stime over the run); ONLY=<url> runs one; PERF=<path>
#       also records the controller with perf during each (PERF_CG: perf's
#       --call-graph, fp; dwarf,16384 for a build without frame pointers)
#   bench/list_ab.sh dump STORE BUILD DIR      the bodies and headers of the
#       same lists and one show at microversions 2.1-2.33 into DIR (the Date
#       and request id dropped, the port replaced by CP), for cmp -r between
#       two builds
#
# Run "run" for two builds in turn (base, new, base, new): both read the same
# servers, so their figures differ only by the code and the machine's load.
# Everything listens on 127.0.0.1; every wait is bounded.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: list_ab.sh make|run|dump STORE ...}
S=${2:?STORE}

if [ "$mode" = hook ]; then	# fleetsim's DASH_HOOK: URL PID AGENTS SERVERS
	conf=$(tr '\0' '\n' < "/proc/$4/cmdline" | grep 'c\.conf$')
	W=$(dirname "$conf")
	rm -rf "$S"
	mkdir -p "$S/db"
	cp -r "$W/c.conf" "$W/keys" "$W/token-keys" "$S/"
	[ ! -d "$W/images" ] || cp -r "$W/images" "$S/"
	mdb_copy "$W/db" "$S/db"
	echo "$W" > "$S/origW"
	echo "list_ab: $6 servers copied to $S"
	exit 0
fi
if [ "$mode" = make ]; then
	S=$(mkdir -p "$S" && cd "$S" && pwd)
	AGENTS=${AGENTS:-100} INSTANCES=${INSTANCES:-100000} \
	    RSS_AT=$((${INSTANCES:-100000} * 2)) CHECKPOINTS=0 MEM=0 \
	    HB_WINDOW=0 DASH_HOOK="$0 hook $S" "$HERE/fleetsim.sh" "${3:-build}"
	exit 0
fi

B=$(cd "${3:?BUILD}" && pwd)
W=$(mktemp -d /tmp/list_ab.XXXXXX)
OW=$(cat "$S/origW")
CPID=
cleanup() {
	[ -z "$CPID" ] || { kill "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null; } || true
	rm -rf "$W"
}
trap cleanup EXIT
cp -r "$S/keys" "$S/token-keys" "$W/"
[ ! -d "$S/images" ] || cp -r "$S/images" "$W/"
mkdir "$W/db"
cp "$S/db/data.mdb" "$W/db/"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# fleetsim's configuration, its paths and ports moved (the dashboard off)
sed "s#$OW#$W#g; s#^enabled = true#enabled = false#" "$S/c.conf" > "$W/c.conf"
sed -i "s#^listen = .*#listen = tcp://127.0.0.1:$(port)#" "$W/c.conf"
for k in identity_port compute_port image_port volume_port network_port port; do
	sed -i "0,/^$k = /s#^$k = .*#$k = $(port)#" "$W/c.conf"
done
IDP=$(sed -n 's/^identity_port = //p' "$W/c.conf")
CP=$(sed -n 's/^compute_port = //p' "$W/c.conf")
"$B/controller/tinystack-controller" --foreground --config "$W/c.conf" \
    > "$W/ctl.log" 2>&1 &
CPID=$!
for _ in $(seq 300); do
	! curl -s -o /dev/null "http://127.0.0.1:$CP/" || break
	kill -0 "$CPID" 2>/dev/null || { cat "$W/ctl.log"; exit 1; }
	sleep 0.2
done
TOK=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{
    "auth": {"identity": {"methods": ["password"], "password": {"user":
    {"name": "admin", "domain": {"id": "default"}, "password": "bench"}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}' \
    "http://127.0.0.1:$IDP/v3/auth/tokens" |
    awk 'tolower($1) == "x-subject-token:" { sub("\r", "", $2); print $2 }')
U=http://127.0.0.1:$CP/v2.1
MID=$(curl -s -H "X-Auth-Token: $TOK" "$U/servers?limit=1000" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["servers"][500]["id"])')
urls=("servers/detail" "servers/detail?limit=100" "servers?limit=100"
    "servers?limit=1000" "servers/detail?limit=100&marker=$MID"
    "servers/detail?all_tenants=1&limit=100"
    "servers/detail?status=ACTIVE&limit=100")

if [ "$mode" = dump ]; then
	D=${4:?DIR}
	mkdir -p "$D"
	k=0
	for u in "${urls[@]}" "servers/$MID"; do
		for mv in 2.1 2.3 2.9 2.16 2.19 2.26 2.33; do
			curl -s -D "$D/h$k-$mv" -o "$D/b$k-$mv" \
			    -H "X-Auth-Token: $TOK" \
			    -H "OpenStack-API-Version: compute $mv" "$U/$u"
			sed -i "/^[Dd]ate:/d; /[Rr]equest-[Ii]d/d; s/127.0.0.1:$CP/CP/g" \
			    "$D/h$k-$mv"
			sed -i "s/127.0.0.1:$CP/CP/g" "$D/b$k-$mv"
		done
		echo "$k $u" >> "$D/index"
		k=$((k + 1))
	done
	exit 0
fi

L=${4:?LABEL}
cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
echo "== $L $(uptime | sed 's/.*load/load/')"
for u in "${urls[@]}"; do
	[ -z "${ONLY:-}" ] || [ "$u" = "$ONLY" ] || continue
	pp=
	if [ -n "${PERF:-}" ]; then
		perf record -q -F "${PERF_F:-999}" --call-graph "${PERF_CG:-fp}" \
		    -p "$CPID" -o "$PERF.$(printf %s "${u%%&marker*}" | tr -c 'a-z0-9' _)" \
		    -- sleep 4 >/dev/null 2>&1 &
		pp=$!
	fi
	c0=$(cpu "$CPID")
	wrk -t 2 -c 4 -d "${DUR:-5}s" --timeout 10s --latency \
	    -H "X-Auth-Token: $TOK" "$U/$u" > "$W/lat.txt"
	c1=$(cpu "$CPID")
	[ -z "$pp" ] || wait "$pp" || true
	grep -q "Non-2xx" "$W/lat.txt" && { cat "$W/lat.txt"; exit 1; }
	echo "$L ${u%%&marker*}: $(awk '/Requests\/sec/{print $2}' "$W/lat.txt") req/s," \
	    "p99 $(awk '$1=="99%"{print $2}' "$W/lat.txt"), CPU $(awk -v d="$(echo "$c1 - $c0" | bc -l)" \
	    '/requests in/ { printf "%.3f", d * 1000 / $1 }' "$W/lat.txt") ms/req"
done
