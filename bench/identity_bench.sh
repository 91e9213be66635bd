#!/bin/bash
# identity_bench.sh - the Identity API of tinystack-controller under wrk, on
# 127.0.0.1 only, with the same four requests as the Keystone peer
# (/work/shared/peers/keystone/keystone-peer.sh) so the two can be compared:
#
#   token_issue     POST /v3/auth/tokens, password method, project scope
#                   (argon2id verify + token seal + catalog)
#   token_rescope   POST /v3/auth/tokens, token method (no password hash)
#   token_validate  GET /v3/auth/tokens with X-Subject-Token (what every
#                   service's auth hook does)
#   list_projects   GET /v3/projects (22: admin, service and 20 more)
#
# Besides wrk's throughput and latency it records the controller's CPU time
# per request (utime+stime of the process / requests), which stays
# meaningful on a shared machine, and its RSS.
#
# Usage: bench/identity_bench.sh [BUILD_DIR]      (default: ./build)
# Knobs: DUR (seconds per run, 10), CONC ("1 4 16"), THREADS ([api]
#   threads, 4), HASH (argon2id costs: "default" = opslimit 2, 64 MiB, the
#   shipped default; "cheap" = the minimum, to isolate the API cost),
#   KEEPALIVE (1: wrk's keep-alive connections; 0: one request per
#   connection, like the Keystone peer's uWSGI http-socket).
set -euo pipefail
export LC_ALL=C
B=$(cd "${1:-build}" && pwd)
CTL=$B/controller/tinystack-controller
MANAGE=$B/tools/tinystack-manage
DUR=${DUR:-10}
CONC=${CONC:-"1 4 16"}
THREADS=${THREADS:-4}
HASH=${HASH:-default}
KEEPALIVE=${KEEPALIVE:-1}
NPROC=$(nproc)
PASS=bench-admin-pass
W=$(mktemp -d /tmp/identity-bench.XXXXXX)
PID=

cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IDP=$(port)
URL=http://127.0.0.1:$IDP
if [ "$HASH" = cheap ]; then
	HASHCONF="password_hash_opslimit = 1
password_hash_memlimit_kb = 64"
else
	HASHCONF=""
fi
cat > "$W/controller.conf" <<C
[DEFAULT]
host = bench
pid_file = $W/controller.pid
state_path = $W
[database]
path = $W/db
[bus]
listen = tcp://127.0.0.1:$(port)
curve = false
keys_dir = $W/keys
[api]
bind_host = 127.0.0.1
public_host = 127.0.0.1
identity_port = $IDP
compute_port = $(port)
image_port = $(port)
volume_port = $(port)
network_port = $(port)
threads = $THREADS
[identity]
key_repository = $W/token-keys
$HASHCONF
C
M() { "$MANAGE" --config "$W/controller.conf" "$@"; }
M db sync >/dev/null
M token setup >/dev/null
OS_BOOTSTRAP_PASSWORD="$PASS" M bootstrap >/dev/null
"$CTL" --foreground --config "$W/controller.conf" > "$W/controller.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "$URL/v3" && break; sleep 0.1; done

auth_body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"'$PASS'"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}'
TOK=$(curl -sf -o /dev/null -D - -H 'Content-Type: application/json' -d "$auth_body" "$URL/v3/auth/tokens" |
	awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r')
[ -n "$TOK" ] || { echo "no token" >&2; cat "$W/controller.log" >&2; exit 1; }
for i in $(seq 1 20); do
	curl -sf -o /dev/null -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
	    -d "{\"project\":{\"name\":\"bench-p$i\",\"domain_id\":\"default\"}}" "$URL/v3/projects"
done
rescope_body='{"auth":{"identity":{"methods":["token"],"token":{"id":"'$TOK'"}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}'
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' \
	"'$auth_body'" > "$W/issue.lua"
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' \
	"'$rescope_body'" > "$W/rescope.lua"
CLOSE=()
[ "$KEEPALIVE" = 1 ] || CLOSE=(-H "Connection: close")

ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss() { awk '/^VmRSS/{print $2}' "/proc/$PID/status"; }
HZ=$(getconf CLK_TCK)

run() {	# name conc [wrk args...]
	local name=$1 c=$2 out k0 k1 n
	shift 2
	out=$W/$name-c$c.txt
	k0=$(ticks)
	wrk -t "$((c < NPROC ? c : NPROC))" -c "$c" -d "${DUR}s" --timeout 10s \
	    --latency "${CLOSE[@]}" "$@" > "$out"
	k1=$(ticks)
	n=$(awk '/requests in/{print $1}' "$out")
	printf '%-15s c=%-3s %9s req/s  p50 %9s  p99 %9s  non2xx %-4s CPU %7.3f ms/req\n' \
	    "$name" "$c" "$(awk '/Requests\/sec/{print $2}' "$out")" \
	    "$(awk '$1=="50%"{print $2}' "$out")" "$(awk '$1=="99%"{print $2}' "$out")" \
	    "$(awk '/Non-2xx/{print $NF}' "$out" | grep . || echo 0)" \
	    "$(awk -v k=$((k1 - k0)) -v n="$n" -v hz="$HZ" 'BEGIN{print (n ? k * 1000 / hz / n : 0)}')"
}

echo "== tinystack identity bench $(date -Is) host=$(hostname) nproc=$NPROC"
echo "controller $B, [api] threads=$THREADS, argon2id=$HASH, keep-alive=$KEEPALIVE, ${DUR}s per run"
echo "projects=$(curl -s -H "X-Auth-Token: $TOK" "$URL/v3/projects" | grep -o '"id"' | wc -l) token bytes=${#TOK}"
echo "RSS idle: $(( $(rss) / 1024 )) MiB"
for c in $CONC; do run token_issue "$c" -s "$W/issue.lua" "$URL/v3/auth/tokens"; done
for c in $CONC; do run token_rescope "$c" -s "$W/rescope.lua" "$URL/v3/auth/tokens"; done
for c in $CONC; do
	run token_validate "$c" -H "X-Auth-Token: $TOK" -H "X-Subject-Token: $TOK" "$URL/v3/auth/tokens"
done
for c in $CONC; do run list_projects "$c" -H "X-Auth-Token: $TOK" "$URL/v3/projects"; done
echo "RSS after load: $(( $(rss) / 1024 )) MiB"
