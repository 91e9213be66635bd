#!/bin/bash
# fleetsim.sh - the compute control plane at fleet scale, on 127.0.0.1 only:
# a real tinystack-controller (CURVE on) and AGENTS simulated agents in
# fleetsim processes (bench/fleetsim.c: own socket, identity and CURVE key
# each, guests answered from memory, no libvirt; PER_PROC agents per
# process). Measures:
#   - registration: time until every agent's service is up
#   - creates: server creates over PAR keep-alive connections (wrk) until
#     the project holds INSTANCES servers: accepted (durable, 202) per
#     second and latency, then the time until all are ACTIVE (reported by
#     the agents); at RSS_AT servers (if INSTANCES reaches it) a
#     checkpoint of the lists and the controller's RSS
#   - list latency at each checkpoint (wrk, 4 connections, 5 s each, p50/
#     p99): GET /servers/detail (all, capped at 1000), ?limit=100, a page
#     of 100 behind a marker in the middle of the list, ?all_tenants=1&
#     limit=100, GET /servers?limit=100, status filters matching nothing
#     (?status=SHUTOFF&limit=1, ?status=BUILD&limit=1) and everything
#     (/detail?status=ACTIVE&limit=100), GET /os-hypervisors/detail (also
#     at 1 connection, and in pages of 1,000 at microversion 2.33)
#   - heartbeat cost: the controller's CPU over HB_WINDOW idle seconds
#     (only heartbeats) per heartbeat received
#   - the controller's RSS (now and peak) and CPU seconds, fleetsim's RSS
#   - the cost of a /metrics scrape (the [metrics] listener) at each checkpoint
#   - memory, split (after registration, before and after each checkpoint's
#     lists, after the heartbeat window): the controller's Rss, Anonymous
#     and file-backed (Rss - Anonymous) from /proc/PID/smaps_rollup;
#     malloc's in-use and kept-free bytes and arenas (its /metrics,
#     common/procmem: glibc's mallinfo2 or, in a controller linked with
#     jemalloc, jemalloc's stats; the allocator is named in the line;
#     in use counts pages allocated and never written, so it can exceed
#     the anonymous Rss; the dirty pages are jemalloc's freed pages not
#     purged yet); the LMDB map in use; the bus's connections (its own
#     ZMTP listener: no libzmq in the controller since branch
#     nativebus); with ZPM_MODE=busretire (or bus), for a controller
#     built before, libzmq's share of the heap at the same peer count,
#     measured by bench/zmq_peer_mem (linked with the controller's
#     malloc, so in the same units) with the frames per agent the
#     controller received and sent so far (capped at 600: a pipe's
#     chunks stop growing after 256) and the old bus's ZAP handler and
#     socket options, and ours = heap in use - the threads' caches
#     (jemalloc's tcache: freed regions, held by no one) - libzmq's;
#     libzmq's resident share the same way (zmq_peer_mem's RssAnon per
#     peer) and ours = anonymous - that; the anonymous memory by kind of mapping (malloc's main
#     arena, its other arenas, thread stacks, the rest: bench/
#     anon_split.py; jemalloc's extents apart when it is linked, and the
#     libraries' written data). With PROF (a directory) also jemalloc's
#     heap profile at each memory line, kept there, and who holds the
#     heap: ours by source file and function, libzmq, the other
#     libraries (bench/heap_owners.py; the controller runs with
#     MALLOC_CONF=prof:true,lg_prof_sample:PROF_LG (16), which costs CPU:
#     not for timings). With ARENAS=1 also malloc's in-use bytes per arena (gdb
#     with bench/heap_arenas.py; glibc's debug symbols): libzmq's I/O
#     thread's arena apart from the others (the controller's threads and
#     what libraries allocate on them), which stays right when inbound
#     messages queue up in libzmq (each pins a decode buffer)
# Plus, in-process: fleetsim sched (scheduling decisions/s and p99 at
# AGENTS hosts; durable placements/s).
#
# Usage: bench/fleetsim.sh [BUILD_DIR]          (default: ./build)
# Knobs: AGENTS (100), INSTANCES (1000), RSS_AT (10000), PAR (16
#   connections creating), PER_PROC (500 agents per fleetsim process),
#   HB_WINDOW (20 s), REPORT_INTERVAL (the agents' heartbeat interval the
#   controller hands out, 10 s; 1 fills libzmq's per-connection pipe chunks
#   ten times sooner: the steady-state memory), SYNC ([database] sync: full, the default, or
#   nometasync), PERF (a path: perf record of the controller during the
#   ?limit=100 detail list of each checkpoint, to PERF.<servers>), HV_PERF
#   (a path: the same during GET /os-hypervisors/detail, to
#   HV_PERF.<servers>), HB_PERF
#   (a path: perf record -g of the controller during the heartbeat
#   window; perf's own cost is then in the heartbeat figure), HOLD
#   (seconds to keep everything running before the scheduler runs, for
#   inspection), DASH_HOOK (a command: the controller also serves the
#   dashboard, and after the last checkpoint the command runs with the
#   page's URL, the controller's pid, AGENTS and the servers held as
#   arguments; then the script ends: bench/dashboard_bench.sh), MEM_EVERY
#   (seconds: a memory line during the creates, with the recon queue),
#   LOG (a path: the controller's log is copied there at the end), DB_STAT
#   (1: after the heartbeat window, the largest tables' pages (mdb_stat)
#   and their records' key, value and field-key bytes (lmdb_recsize.py)),
#   DB_COPY (a path: after the heartbeat window, mdb_copy of the store
#   there, free pages and all, for mdb_stat -a and bench/lmdb_fill.py),
#   ARENAS
#   (1: malloc's in-use bytes and top chunk per arena at each memory
#   line, with gdb; glibc's malloc only, a build with -DTS_JEMALLOC=OFF; the controller stops for a few seconds each time;
#   ARENAS_LOG, a path: every arena's line appended there), CTL_ENV
#   (VAR=value words in the controller's environment alone, e.g.
#   GLIBC_TUNABLES=glibc.malloc.arena_max=4), CREATES_ONLY (1:
#   registration and the creates to INSTANCES, then the end), PHASES (1:
#   after the creates, where a create and a store write spent their time,
#   per phase, from the controller's /metrics), CREATE_PERF (a path: perf
#   sched record of the whole machine for CREATE_PERF_S (5) seconds from
#   the start of the creates, for perf sched timehist/latency),
#   API_THREADS ([api] threads, 32), SIM_NICE (the simulators' nice
#   value, 0), CTL_CPU (a percentage of one core: the controller runs in
#   a cgroup (v1 cpu controller, root) with that CFS quota, as if the
#   machine were loaded; the simulators are not limited), SIM (the simulator binary, default
#   BUILD_DIR's: another build's, for before/after runs of the
#   simulator), RESTARTS, RESTART_BACKLOGS and RESTART_SIG (after the
#   heartbeat window: the controller killed and started again, each
#   round timed until every agent is back; see restart_round below),
#   FLEETSIM_RECONNECT_MAX_MS (the simulated agents' reconnect backoff
#   cap, 2000 ms; the agent's default is 5000), CHECKPOINTS=0 (no lists
#   at the checkpoints) and MEM=0 (no memory lines: zmq_peer_mem takes
#   minutes at 10,000 peers on a loaded machine), for the restarts alone. After each creates line: the CPU the machine spent while
#   wrk ran, per create, split between the controller, the simulator, wrk
#   and everything else; then the heartbeats during the creates, from
#   the simulators' hbstat lines: sent late (the simulator starved), the
#   controller's lag (the ack's server_time after the send), and the
#   "is down" / "is up again" lines the controller logged meanwhile.
#   Every wait is bounded (MAX_WAIT seconds, default
#   900).
set -euo pipefail
export LC_ALL=C
B=$(cd "${1:-build}" && pwd)
CTL=$B/controller/tinystack-controller
MANAGE=$B/tools/tinystack-manage
SIM=${SIM:-$B/bench/fleetsim}
ZPM=$B/bench/zmq_peer_mem
HERE=$(cd "$(dirname "$0")" && pwd)
AGENTS=${AGENTS:-100}
INSTANCES=${INSTANCES:-1000}
RSS_AT=${RSS_AT:-10000}
PAR=${PAR:-16}
PER_PROC=${PER_PROC:-500}
HB_WINDOW=${HB_WINDOW:-20}
REPORT_INTERVAL=${REPORT_INTERVAL:-10}
SYNC=${SYNC:-full}
MAX_WAIT=${MAX_WAIT:-900}
W=$(mktemp -d /tmp/fleetsim-bench.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -z "${LOG:-}" ] || cp "$W/ctl.log" "$LOG" 2>/dev/null || true
	rm -rf "$W"
	[ -z "${CG:-}" ] || rmdir "$CG" 2>/dev/null || true
}
trap cleanup EXIT

# Every agent costs the simulator three sockets (and their descriptors) in
# its process's ZeroMQ context, and the controller one connection (the
# controller raises its own soft limit to the hard one, too).
ulimit -n "$(ulimit -Hn)"

# wait_for SECONDS CMD...: runs CMD every WAIT_IVL (0.2) s until it
# succeeds; fails the benchmark after SECONDS.
wait_for() {
	local limit=$1 t0=$SECONDS
	shift
	until "$@"; do
		[ $((SECONDS - t0)) -lt "$limit" ] || { echo "timed out: $*" >&2; exit 1; }
		sleep "${WAIT_IVL:-0.2}"
	done
}

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BUS=$(port); IDP=$(port); CP=$(port); IMP=$(port); MP=$(port); DP=$(port)
cat > "$W/c.conf" <<C
[DEFAULT]
host = ctl
pid_file = $W/ctl.pid
state_path = $W
report_interval = $REPORT_INTERVAL
service_down_time = 60
[database]
path = $W/db
map_size_mb = 8192
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
threads = ${API_THREADS:-32}
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
[metrics]
port = $MP
[dashboard]
enabled = $([ -n "${DASH_HOOK:-}" ] && echo true || echo false)
port = $DP
C
m() { "$MANAGE" --config "$W/c.conf" "$@"; }
m db sync >/dev/null
m key setup >/dev/null
m token setup >/dev/null
OS_BOOTSTRAP_PASSWORD=bench m bootstrap --openrc "$W/openrc" >/dev/null
# One transaction per 1,000 keys (tinystack-manage agent enroll, once per
# agent, takes minutes at 10,000).
"$B/bench/fleetsim" keys "$W/sim" "$AGENTS" > /dev/null
"$B/bench/fleetsim" enroll "$W/db" "$W/sim" "$AGENTS" 8192
SRVPUB=$(sed -n 's/^public = //p' "$W/keys/controller.pub")

# PROF: jemalloc's sampling heap profiler on (Debian's libjemalloc is
# built with it), one sample per 2^PROF_LG bytes allocated on average
[ -z "${PROF:-}" ] || CTL_ENV="${CTL_ENV:-} MALLOC_CONF=prof:true,lg_prof_sample:${PROF_LG:-16},prof_prefix:$W/prof"
env ${CTL_ENV:-} "$CTL" --foreground --config "$W/c.conf" > "$W/ctl.log" 2>&1 &
CPID=$!
PIDS+=("$CPID")
if [ -n "${CTL_CPU:-}" ]; then	# the controller's CPU capped (cgroup v1)
	CG=/sys/fs/cgroup/cpu/fleetsim.$$
	mkdir "$CG"
	echo 100000 > "$CG/cpu.cfs_period_us"
	echo $((CTL_CPU * 1000)) > "$CG/cpu.cfs_quota_us"
	for t in /proc/$CPID/task/*; do echo "${t##*/}" > "$CG/tasks"; done
	echo "$CPID" > "$CG/cgroup.procs"
	echo "controller capped at $CTL_CPU% of one core ($CG)"
fi
wait_for 60 curl -s -o /dev/null "http://127.0.0.1:$CP/"
t0=$(date +%s.%N)
SPIDS=()
for ((first = 1; first <= AGENTS; first += PER_PROC)); do
	n=$((AGENTS - first + 1 < PER_PROC ? AGENTS - first + 1 : PER_PROC))
	nice -n "${SIM_NICE:-0}" "$SIM" agents "tcp://127.0.0.1:$BUS" "$W/sim" "$n" "$SRVPUB" \
	    "$first" > "$W/sim-$first.log" 2>&1 &
	SPIDS+=($!)
	PIDS+=($!)
done
cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
minflt() { awk '{ print $10 }' "/proc/$1/stat"; }	# minor page faults
rss() {	# resident: all (anonymous + file-backed, i.e. LMDB's map)
	awk '/VmRSS|RssAnon|RssFile/ { v[$1] = int($2 / 1024) }
	    END { printf "%d MiB (anon %d, file %d)\n", v["VmRSS:"],
	    v["RssAnon:"], v["RssFile:"] }' "/proc/$1/status"
}
# simcpu: CPU seconds of all simulator processes; busy: CPU seconds the
# whole machine spent outside idle and iowait (/proc/stat, USER_HZ 100).
simcpu() {
	local t=0 p
	for p in "${SPIDS[@]}"; do t=$(echo "$t + $(cpu "$p")" | bc -l); done
	echo "$t"
}
# phases: the controller's figures of where creates and writes wait.
phases() {
	curl -s "http://127.0.0.1:$MP/metrics" | grep -E \
	    '^tinystack_(create_phase|store_write_phase)_seconds_(sum|count)|^tinystack_http_request_duration_seconds_(sum|count)[{]service="compute",status_class="2xx"|^tinystack_process_heap_trim' || true
}
busy() { awk '$1 == "cpu" { print ($2 + $3 + $4 + $7 + $8 + $9) / 100 }' /proc/stat; }
hwm() { awk '/VmHWM/ { print int($2 / 1024) " MiB" }' "/proc/$1/status"; }
simrss() {
	local kb=0 p
	for p in "${SPIDS[@]}"; do
		kb=$((kb + $(awk '/VmRSS/ { print $2 }' "/proc/$p/status")))
	done
	echo "$((kb / 1024)) MiB"
}
# mem LABEL: memory, split (see the header).
mem() {
	[ "${MEM:-1}" != 0 ] || return 0
	local r a f hin hcache hfree hdirty ar map rx tx fin fout z zr zdesc
	read -r r a < <(awk '/^Rss:/ { r = $2 } /^Anonymous:/ { a = $2 }
	    END { print r, a }' "/proc/$CPID/smaps_rollup")
	f=$((r - a))
	curl -s -o "$W/mem.txt" "http://127.0.0.1:$MP/metrics"
	mval() { awk -v n="$1" '$1 == n { printf "%.0f", $2 }' "$W/mem.txt"; }
	hin=$(mval tinystack_process_heap_inuse_bytes)
	hcache=$(mval tinystack_process_heap_cached_bytes)
	hcache=${hcache:-0}
	hfree=$(mval tinystack_process_heap_free_bytes)
	hdirty=$(mval tinystack_process_heap_dirty_bytes)
	ar=$(mval tinystack_process_heap_arenas)
	map=$(mval tinystack_store_map_used_bytes)
	rx=$(mval tinystack_bus_messages_received_total)
	tx=$(mval tinystack_bus_messages_sent_total)
	fin=$((rx / AGENTS > 600 ? 600 : rx / AGENTS + 1))
	fout=$((tx / AGENTS > 600 ? 600 : tx / AGENTS + 1))
	# libzmq's heap per peer with these frames, once per pair: only
	# for a controller built before the bus had its own ZMTP listener
	# (branch nativebus), which has no libzmq at all: ZPM_MODE=busretire
	# (or bus, before zapcycle) to measure one
	if [ "${ZPM_MODE:-none}" = none ]; then
		ZPM_KIB=0; ZPM_RSS=0
		zdesc="libzmq none (the bus's own listener: $(mval tinystack_bus_connections) connections)"
	elif [ "${ZPM_AT:-}" != "$fin/$fout" ]; then
		# (its 30 s bound can run out on a loaded machine: no figure)
		# (busretire: CURVE with a ZAP handler and the ROUTER's
		# options as common/bus.c set them; libzmq keeps a pipe pair
		# to the handler per connection until the handler's socket is
		# replaced, which the bus did 1 s after its last answer, so
		# measured after a replacement; ZPM_MODE=bus for a controller
		# built before that)
		"$ZPM" "$AGENTS" "$fin" "$ZPM_MODE" "$fout" \
		    > "$W/zpm.txt" 2> "$W/zpm.err" || true
		ZPM_KIB=$(sed -n 's/.*: \([0-9.]*\) KiB per peer$/\1/p' "$W/zpm.txt")
		# resident (RssAnon after a release), the figure to take
		# out of the controller's anonymous memory
		ZPM_RSS=$(sed -n 's/.*: \([0-9.]*\) KiB per peer;.*/\1/p' "$W/zpm.txt")
		ZPM_AT=$fin/$fout
	fi
	[ -n "$ZPM_KIB" ] || { ZPM_AT=; ZPM_RSS=0
		ZPM_KIB="0 (zmq_peer_mem failed: $(tail -n 1 "$W/zpm.err" 2>/dev/null))"; }
	z=$(echo "${ZPM_KIB%% *} * $AGENTS / 1024" | bc)
	zr=$(echo "$ZPM_RSS * $AGENTS / 1024" | bc)
	[ "${ZPM_MODE:-none}" = none ] ||
		zdesc="libzmq at $AGENTS peers ($fin frames in, $fout out each: $ZPM_KIB KiB per peer) $z MiB"
	echo "memory ($1): controller Rss $((r / 1024)) MiB = anonymous" \
	    "$((a / 1024)) + file $((f / 1024)) (smaps_rollup); heap in use" \
	    "$((hin / 1048576)) MiB (allocated: pages never written count;" \
	    "threads' caches $((hcache / 1048576)) MiB of it)," \
	    "free kept $((hfree / 1048576)) MiB (dirty" \
	    "pages $((${hdirty:-0} / 1048576)) MiB)," \
	    "$ar arenas ($(sed -n 's/^tinystack_process_heap_allocator{allocator="\([a-z]*\)"} 1$/\1/p' "$W/mem.txt")); LMDB map used $((map / 1048576)) MiB; $zdesc;" \
	    "ours (heap in use - caches - libzmq)" \
	    "$(((hin - hcache) / 1048576 - z)) MiB;" \
	    "libzmq resident $ZPM_RSS KiB per peer, $zr MiB: ours (anonymous - that) $((a / 1024 - zr)) MiB;" \
	    "recon queue $(mval tinystack_recon_queue_events) events" \
	    "($(mval 'tinystack_recon_reports_total{outcome="superseded"}') superseded); peak $(hwm "$CPID")"
	[ -z "${PROF:-}" ] || prof_owners "$1"
	/usr/bin/python3 "$HERE/anon_split.py" "$CPID" 0 |
	    awk 'NR > 1 { sub(/^ +/, ""); gsub(/  +/, " "); printf "%s%s", (NR > 2 ? "; " : \
	    "  anonymous by mapping: "), $0 } END { print "" }'
	if [ -n "${ARENAS:-}" ]; then
		gdb -p "$CPID" -batch -x "$HERE/heap_arenas.py" 2>/dev/null |
		    sed -n '/^arena  in use/,/^all arenas/p' > "$W/arenas.txt"
		awk '/ZMQbg\/IO/ { z += $2 } /^0x/ { t += $4 }
		    /^all arenas/ { a = $3 }
		    END { printf "  by arena (gdb): libzmq I/O thread %.1f MiB, " \
		    "the other arenas %.1f MiB in use; top chunks (free) " \
		    "%.1f MiB\n", z, a - z, t }' "$W/arenas.txt"
		[ -z "${ARENAS_LOG:-}" ] || cat "$W/arenas.txt" >> "$ARENAS_LOG"
	fi
}
# prof_owners LABEL: with PROF (a directory), jemalloc's heap profile of
# the controller now (gdb calls mallctl("prof.dump")), kept in PROF as
# LABEL's, and who holds the bytes (bench/heap_owners.py).
prof_owners() {
	local d n f
	d=$(ls "$W"/prof.*.heap 2>/dev/null | wc -l || true)
	timeout 120 gdb -p "$CPID" -batch -ex \
	    'call ((int (*)(const char *, void *, void *, void *, unsigned long))mallctl)("prof.dump", 0, 0, 0, 0)' \
	    > "$W/gdb.txt" 2>&1 || true
	n=$(ls "$W"/prof.*.heap 2>/dev/null | wc -l || true)
	if [ "$n" -le "$d" ]; then
		echo "  heap profile: no dump ($(tail -1 "$W/gdb.txt"))"
		return 0
	fi
	f=$(ls -t "$W"/prof.*.heap | head -1)
	mkdir -p "$PROF"
	cp "$f" "$PROF/$(echo "$1" | tr -c 'A-Za-z0-9\n' _).heap"
	/usr/bin/python3 "$HERE/heap_owners.py" "$f" "${PROF_TOP:-12}" |
	    sed 's/^/  /'
}
# memtick SERVERS: one line during the creates (MEM_EVERY seconds apart).
memtick() {
	local r a
	read -r r a < <(awk '/^Rss:/ { r = $2 } /^Anonymous:/ { a = $2 }
	    END { print r, a }' "/proc/$CPID/smaps_rollup")
	curl -s -o "$W/tick.txt" "http://127.0.0.1:$MP/metrics"
	awk -v s="$1" -v r="$r" -v a="$a" '
	    $1 == "tinystack_recon_queue_events" { q = $2 }
	    $1 == "tinystack_recon_reports_total{outcome=\"superseded\"}" { x = $2 }
	    $1 == "tinystack_process_heap_inuse_bytes" { h = $2 }
	    END { printf "  %d servers: Rss %d MiB, anonymous %d, heap in use %d; " \
	    "recon queue %s (superseded %s)\n", s, r / 1024, a / 1024,
	    h / 1048576, q, x }' "$W/tick.txt"
}
all_up() {
	local p
	for p in "${SPIDS[@]}"; do	# a simulator that died: no wait
		kill -0 "$p" 2>/dev/null || { cat "$W"/sim-*.log >&2;
		    echo "a fleetsim process ended" >&2; exit 1; }
	done
	[ "$(m service list | grep -c '| up ')" -ge "$AGENTS" ]
}
# (the service list costs tens of ms of CPU at thousands of hosts: looked
# at once a second there)
WAIT_IVL=$([ "$AGENTS" -gt 2000 ] && echo 1 || echo 0.2) wait_for "$MAX_WAIT" all_up
t1=$(date +%s.%N)
echo "registration: $AGENTS agents up in $(echo "$t1 - $t0" | bc) s" \
    "(${#SPIDS[@]} fleetsim processes); controller RSS $(rss "$CPID")"
[ -n "${CREATES_ONLY:-}" ] || mem "after registration, 0 servers"

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

total() {	# servers of the project (the usage: lists stop at 1000)
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/limits" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["limits"]["absolute"]["totalInstancesUsed"])'
}
none_building() {
	[ "$(curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers?status=BUILD&limit=1" |
	    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["servers"]))')" = 0 ]
}
# The id of the K-th server of the list (newest first), paging by 1000.
nth_id() {
	python3 - "$1" "http://127.0.0.1:$CP/v2.1/servers" "$TOK" <<'P'
import json, sys, urllib.request
k, url, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3]
marker, seen = None, 0
for _ in range(k // 1000 + 1):
    q = url + "?limit=1000" + ("&marker=" + marker if marker else "")
    req = urllib.request.Request(q, headers={"X-Auth-Token": tok})
    s = json.load(urllib.request.urlopen(req))["servers"]
    if seen + len(s) >= k or not s:
        print(s[k - seen - 1]["id"] if s else "")
        break
    seen += len(s)
    marker = s[-1]["id"]
P
}

# wrk keeps its connections alive, so the clients cost next to nothing.
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' \
    "'{\"server\": {\"name\": \"b\", \"flavorRef\": \"b1\", \"imageRef\": \"$IMG\", \"networks\": \"none\"}}'" \
    > "$W/create.lua"

# fill N: creates until the project holds at least N servers (wrk is
# stopped when the count is reached; the overshoot is what was in
# flight), then waits until none is building.
fill() {
	local target=$1 have c0 c1 c1w f0 f1 s0 s1 b0 b1 wc1 t0 t1 t2 wpid ppid start
	have=$(total)
	[ "$have" -lt "$target" ] || return 0
	start=$have
	[ -z "${PHASES:-}" ] || phases > "$W/phases0.txt"
	c0=$(cpu "$CPID")
	f0=$(minflt "$CPID")
	s0=$(simcpu)
	b0=$(busy)
	if [ -n "${CREATE_PERF:-}" ]; then	# the whole machine's scheduling
		perf sched record -o "$CREATE_PERF" -- sleep "${CREATE_PERF_S:-5}" \
		    >/dev/null 2>&1 &
		ppid=$!
		PIDS+=("$ppid")
	fi
	t0=$(date +%s.%N)
	wrk -t 2 -c "$PAR" -d "${MAX_WAIT}s" --timeout 10s --latency \
	    -s "$W/create.lua" -H "X-Auth-Token: $TOK" \
	    "http://127.0.0.1:$CP/v2.1/servers" > "$W/create.txt" &
	wpid=$!
	PIDS+=("$wpid")
	local tick=$SECONDS n
	while kill -0 "$wpid" 2>/dev/null && n=$(total) && [ "$n" -lt "$target" ]; do
		if [ -n "${MEM_EVERY:-}" ] && [ $((SECONDS - tick)) -ge "$MEM_EVERY" ]; then
			tick=$SECONDS
			memtick "$n"
		fi
		sleep 0.5
	done
	wc1=$(cpu "$wpid" 2>/dev/null || echo 0)
	kill -INT "$wpid" 2>/dev/null || true
	wait "$wpid" || true
	t1=$(date +%s.%N)
	c1w=$(cpu "$CPID")
	f1=$(minflt "$CPID")
	s1=$(simcpu)
	b1=$(busy)
	have=$(total)
	grep -q "Non-2xx" "$W/create.txt" && { cat "$W/create.txt"; echo "creates failed"; exit 1; }
	wait_for "$MAX_WAIT" none_building
	t2=$(date +%s.%N)
	c1=$(cpu "$CPID")
	echo "creates ($PAR connections, $start -> $have servers):" \
	    "$(echo "($have - $start) / ($t1 - $t0)" | bc) /s accepted," \
	    "p50 $(awk '$1=="50%"{print $2}' "$W/create.txt"), p99 $(awk '$1=="99%"{print $2}' "$W/create.txt");" \
	    "all ACTIVE $(echo "$t2 - $t1" | bc | cut -c1-5) s after the last;" \
	    "controller CPU $(echo "($c1 - $c0) * 1000 / ($have - $start)" | bc -l | cut -c1-5) ms per create;" \
	    "RSS $(rss "$CPID")"
	# Who used the 2 cores while wrk ran (the controller, the simulated
	# agents, wrk; the rest is everything else on the machine).
	awk -v n="$((have - start))" -v s="$(echo "$t1 - $t0" | bc -l)" \
	    -v c="$(echo "$c1w - $c0" | bc -l)" -v f="$(echo "$s1 - $s0" | bc -l)" \
	    -v w="$wc1" -v b="$(echo "$b1 - $b0" | bc -l)" -v k="$(nproc)" \
	    -v pf="$((f1 - f0))" 'BEGIN {
	    printf "  CPU while creating (%.1f s, %d cores): machine busy %.0f%%; " \
	    "per create: controller %.2f ms, fleetsim %.2f ms, wrk %.2f ms, " \
	    "others %.2f ms; controller page faults %.1f per create\n", s, k,
	    b * 100 / (s * k), c * 1000 / n, f * 1000 / n,
	    w * 1000 / n, (b - c - f - w) * 1000 / n, pf / n }'
	hbsum "$t0" "$t2"
	if [ -n "${PHASES:-}" ]; then	# the controller's create phases
		phases > "$W/phases1.txt"
		# mean per create / per write / per batch over this fill
		awk 'NR == FNR { v0[$1] = $2; next } { v[$1] = $2 - v0[$1] }
		    END { for (x in v) if (x ~ /_sum/) { y = x; sub(/_sum/, "_count", y);
		    z = x; sub(/^tinystack_/, "", z); sub(/_seconds_sum/, "", z);
		    if (v[y] > 0) printf "  %s: %.3f ms mean over %d\n", z,
		    v[x] * 1000 / v[y], v[y] } }' "$W/phases0.txt" "$W/phases1.txt" | sort
		# the tick's malloc_trim() (glibc builds), from the start of
		# the creates to the last ACTIVE
		awk 'NR == FNR { v0[$1] = $2; next } { v[$1] = $2 - v0[$1] }
		    END { if ("tinystack_process_heap_trims_total" in v)
		    printf "  malloc_trim: %d calls, %.1f ms in all\n",
		    v["tinystack_process_heap_trims_total"],
		    v["tinystack_process_heap_trim_seconds"] * 1000 }' \
		    "$W/phases0.txt" "$W/phases1.txt"
	fi
	[ -z "${CREATE_PERF:-}" ] || wait "$ppid" || true
}

# hbsum T0 T1: the heartbeats between two wall-clock times (the
# simulators' hbstat lines, every 10 s) and the controller's down lines.
hbsum() {
	cat "$W"/sim-*.log | awk -v a="$1" -v b="$2" '
	    $1 == "hbstat" && $2 >= a && $2 <= b + 10 {
	    s += $4; k += $6; if ($8 > lm) lm = $8; l10 += $10
	    cs += $12 * $6; if ($14 > cm) cm = $14; c1 += $16; c10 += $18
	    if ($20 > rm) rm = $20 }
	    END { printf "  heartbeats meanwhile: %d sent, %d acked; sent late " \
	    "by up to %d ms (%d by over 10 s: the simulators); controller " \
	    "lag mean %.0f ms, max %d ms, %d over 1 s, %d over 10 s; ack " \
	    "read late by up to %d ms\n", s, k, lm, l10, k ? cs / k : 0, cm,
	    c1, c10, rm }'
	echo "  controller log so far: $(grep -c ' is down: ' "$W/ctl.log" || true)" \
	    "\"is down\" and $(grep -c ' is up again' "$W/ctl.log" || true) \"is up again\" lines," \
	    "$(grep -c 'timed out' "$W/ctl.log" || true) \"timed out\""
}

lat() {	# URL [CONNECTIONS [MICROVERSION]]: req/s, p50/p99 over 5 s (4
	# connections by default), and the controller's CPU per request
	local c=${2:-4} c0 c1 t0 t1 mv=()
	[ -z "${3:-}" ] || mv=(-H "OpenStack-API-Version: compute $3")
	c0=$(cpu "$CPID")
	t0=$(date +%s.%N)
	wrk -t "$((c < 2 ? 1 : 2))" -c "$c" -d 5s --timeout 10s --latency \
	    -H "X-Auth-Token: $TOK" "${mv[@]+"${mv[@]}"}" "$1" > "$W/lat.txt"
	t1=$(date +%s.%N)
	c1=$(cpu "$CPID")
	grep -q "Non-2xx" "$W/lat.txt" && { cat "$W/lat.txt"; echo "GET $1 failed"; exit 1; }
	# "net": less what the controller spends idle (heartbeats) over the
	# same time (IDLE_MS per second, measured at the checkpoint).
	echo "$(awk '/Requests\/sec/{print $2}' "$W/lat.txt") req/s," \
	    "p50 $(awk '$1=="50%"{print $2}' "$W/lat.txt"), p99 $(awk '$1=="99%"{print $2}' "$W/lat.txt")," \
	    "CPU $(awk -v d="$(echo "$c1 - $c0" | bc -l)" -v s="$(echo "$t1 - $t0" | bc -l)" \
	    -v i="${IDLE_MS:-0}" '/requests in/ { printf "%.2f ms/req (net %.2f)", d * 1000 / $1, (d * 1000 - i * s) / $1 }' "$W/lat.txt")"
}

# idle_ms: the controller's CPU per second over 5 s with only the
# heartbeats running (what lat() takes off for its "net" figure).
idle_ms() {
	local c0 c1
	c0=$(cpu "$CPID")
	sleep 5
	c1=$(cpu "$CPID")
	echo "($c1 - $c0) * 1000 / 5" | bc -l | cut -c1-6
}

checkpoint() {
	local n mid
	n=$(total)
	mid=$(nth_id $((n / 2)))
	IDLE_MS=$(idle_ms)
	echo "== $n servers, $AGENTS hosts; idle (heartbeats): $IDLE_MS ms of controller CPU per second"
	mem "$n servers, before the lists"
	echo "GET /servers/detail (limit 1000): $(lat "http://127.0.0.1:$CP/v2.1/servers/detail")"
	if [ -n "${PERF:-}" ]; then	# profile the controller during this one
		perf record -q -F 999 -g -p "$CPID" -o "$PERF.$n" -- sleep 4 \
		    >/dev/null 2>&1 &
		PIDS+=($!)
	fi
	echo "GET /servers/detail?limit=100: $(lat "http://127.0.0.1:$CP/v2.1/servers/detail?limit=100")"
	[ -z "${PERF:-}" ] || wait "${PIDS[-1]}" || true
	echo "GET /servers/detail?limit=100, 1 connection: $(lat "http://127.0.0.1:$CP/v2.1/servers/detail?limit=100" 1)"
	echo "GET /servers/detail?limit=100&marker=<server $((n / 2))>: $(lat "http://127.0.0.1:$CP/v2.1/servers/detail?limit=100&marker=$mid")"
	echo "GET /servers/detail?all_tenants=1&limit=100: $(lat "http://127.0.0.1:$CP/v2.1/servers/detail?all_tenants=1&limit=100")"
	echo "GET /servers?limit=100: $(lat "http://127.0.0.1:$CP/v2.1/servers?limit=100")"
	# status filters that match nothing (every server is ACTIVE here)
	# and one that matches all: instances_by_state
	echo "GET /servers?status=SHUTOFF&limit=1: $(lat "http://127.0.0.1:$CP/v2.1/servers?status=SHUTOFF&limit=1")"
	echo "GET /servers?status=BUILD&limit=1: $(lat "http://127.0.0.1:$CP/v2.1/servers?status=BUILD&limit=1")"
	echo "GET /servers/detail?status=ACTIVE&limit=100: $(lat "http://127.0.0.1:$CP/v2.1/servers/detail?status=ACTIVE&limit=100")"
	if [ -n "${HV_PERF:-}" ]; then	# profile the hypervisors list
		perf record -q -F 999 -g -p "$CPID" -o "$HV_PERF.$n" -- sleep 4 \
		    >/dev/null 2>&1 &
		PIDS+=($!)
	fi
	echo "GET /os-hypervisors/detail ($AGENTS hosts): $(lat "http://127.0.0.1:$CP/v2.1/os-hypervisors/detail")"
	[ -z "${HV_PERF:-}" ] || wait "${PIDS[-1]}" || true
	echo "GET /os-hypervisors/detail ($AGENTS hosts), 1 connection: $(lat "http://127.0.0.1:$CP/v2.1/os-hypervisors/detail" 1)"
	echo "GET /os-hypervisors/detail?limit=1000 at 2.33 ($AGENTS hosts): $(lat "http://127.0.0.1:$CP/v2.1/os-hypervisors/detail?limit=1000" 4 2.33)"
	curl -s -o "$W/metrics.txt" "http://127.0.0.1:$MP/metrics"
	echo "GET /metrics ($AGENTS hosts, $(wc -l < "$W/metrics.txt") lines, $(wc -c < "$W/metrics.txt") bytes), 1 connection: $(lat "http://127.0.0.1:$MP/metrics" 1)"
	echo "RSS: controller $(rss "$CPID") (peak $(hwm "$CPID")), fleetsim ($AGENTS agents) $(simrss)"
	mem "$n servers, after the lists"
}

if [ -n "${CREATES_ONLY:-}" ]; then	# the creates alone, then the end
	fill "$INSTANCES"
	exit 0
fi
if [ "$INSTANCES" -gt "$RSS_AT" ]; then
	fill "$RSS_AT"
	[ "${CHECKPOINTS:-1}" = 0 ] || checkpoint
fi
fill "$INSTANCES"
[ "${CHECKPOINTS:-1}" = 0 ] || checkpoint

if [ -n "${DASH_HOOK:-}" ]; then
	$DASH_HOOK "http://127.0.0.1:$DP/dashboard/" "$CPID" "$AGENTS" \
	    "$(total)"
	exit 0
fi

# Heartbeats alone: nothing else runs for HB_WINDOW seconds.
bus_frames() {	# FILE: received sent, the controller's bus counters
	# (its /metrics kept in FILE, for the sends by type)
	curl -s -o "$1" "http://127.0.0.1:$MP/metrics"
	awk '
	    $1 == "tinystack_bus_messages_received_total" { r = $2 }
	    $1 == "tinystack_bus_messages_sent_total" { s = $2 }
	    END { printf "%.0f %.0f\n", r, s }' "$1"
}
# by_type FAMILY: the window's frames by message type (the controller's
# tinystack_bus_sent_total or _received_total), most first
by_type() {
	awk -F'[{}" ]+' -v n="$1" '
	    $1 == n { v = $NF; if (NR == FNR) v0[$3] = v
	    else if (v - v0[$3] > 0) printf "%d %s\n", v - v0[$3], $3 }' \
	    "$W/hb0.txt" "$W/hb1.txt" | sort -rn | awk '{ printf "%s%s %d", \
	    (NR > 1 ? ", " : ""), $2, $1 } END { if (NR == 0) printf "none" }'
}
# The controller reads its bus counters near the start of a scrape (the
# bus collector is the second of its collectors; the per-host figures,
# most of a scrape's time at thousands of hosts, come after): the
# counters' window is from the first scrape's start to the second's, the
# CPU's from the end of the first to the start of the second. Rates over
# each window give the figures per message received; the first line keeps
# the older figures (CPU over HB_WINDOW / the nominal heartbeats).
hb_window() {
	local wa wb wc c0 c1 rx0 tx0 rx1 tx1 hb hbr
	wa=$(date +%s.%N)
	read -r rx0 tx0 < <(bus_frames "$W/hb0.txt")
	wb=$(date +%s.%N)
	c0=$(cpu "$CPID")
	if [ -n "${HB_PERF:-}" ]; then
		perf record -g -o "$HB_PERF" -p "$CPID" -- sleep "$HB_WINDOW" \
		    > /dev/null 2>&1 || echo "perf record failed" >&2
	else
		sleep "$HB_WINDOW"
	fi
	c1=$(cpu "$CPID")
	wc=$(date +%s.%N)
	read -r rx1 tx1 < <(bus_frames "$W/hb1.txt")
	hb=$((AGENTS * HB_WINDOW / REPORT_INTERVAL))
	echo "heartbeats${1:+ ($1)}: about $hb in ${HB_WINDOW} s ($AGENTS agents every $REPORT_INTERVAL s):" \
	    "controller CPU $(echo "($c1 - $c0) * 1000 / $hb" | bc -l | cut -c1-5) ms each," \
	    "$(echo "($c1 - $c0) * 100 / $HB_WINDOW" | bc -l | cut -c1-5)% of one core;" \
	    "the bus received $((rx1 - rx0)) messages and sent $((tx1 - tx0))" \
	    "($(echo "($c1 - $c0) * 1000 / $((rx1 > rx0 ? rx1 - rx0 : 1))" | bc -l | cut -c1-5) ms of CPU per message received)"
	echo "  sent by type in the window: $(by_type tinystack_bus_sent_total)"
	echo "  received by type in the window: $(by_type tinystack_bus_received_total)"
	hbr=$(by_type tinystack_bus_received_total | tr ',' '\n' |
	    awk '$1 == "heartbeat" { print $2 }')
	awk -v cw="$(echo "$wc - $wa" | bc -l)" -v sw="$(echo "$wc - $wb" | bc -l)" \
	    -v c="$(echo "$c1 - $c0" | bc -l)" -v rx="$((rx1 - rx0))" \
	    -v hb="${hbr:-0}" -v n="$AGENTS" -v ri="$REPORT_INTERVAL" 'BEGIN {
	    printf "  over the counters\047 window (scrape start to scrape start, " \
	    "%.2f s; the CPU over %.2f s of it): %.0f messages/s received, of " \
	    "which heartbeats %.0f/s (nominal %.0f/s); controller CPU %.2f%% " \
	    "of one core, %.4f ms per message received, %.4f ms per heartbeat " \
	    "received\n", cw, sw, rx / cw, hb / cw, n / ri, c * 100 / sw,
	    rx ? c / sw / (rx / cw) * 1000 : 0, hb ? c / sw / (hb / cw) * 1000 : 0 }'
	echo "  the simulators' heartbeats per second over their 10 s hbstat" \
	    "periods inside the window: $(cat "$W"/sim-*.log |
	    awk -v a="$wa" -v b="$wc" -v p="${#SPIDS[@]}" '
	    $1 == "hbstat" && $2 >= a + 10 && $2 <= b { s += $4; k++ }
	    END { if (k) printf "%.0f", s / (k * 10) * p; else printf "none" }')" \
	    "(nominal $((AGENTS / REPORT_INTERVAL)))"
}
hb_window
echo "controller: $(cpu "$CPID") CPU seconds in all, RSS $(rss "$CPID") (peak $(hwm "$CPID"))"
mem "after the heartbeat window"
if [ "${DB_STAT:-}" = 1 ]; then	# the largest tables' pages and record sizes
	mdb_stat -a "$W/db" | awk '/^Status of /{t=$3} /(Branch|Leaf|Overflow) pages:/{p[t]+=$NF}
	    /Entries:/{e[t]=$NF} END {for (t in p) printf "%s %d pages (%.1f MiB), %d entries\n",
	    t, p[t], p[t] * 4096 / 1048576, e[t]}' | sort |
	    grep -E '^(instances|instance_actions|instances_by_created|hypervisors|hypervisor_guests|instances_by_state) ' |
	    sed 's/^/  db table: /' || true
	for t in instances instance_actions hypervisors hypervisor_guests; do
		echo "  db record: $(/usr/bin/python3 "$(dirname "$0")/lmdb_recsize.py" "$W/db" "$t" 2>&1)"
	done
fi
if [ -n "${DB_COPY:-}" ]; then	# the store as it is, kept after the run
	mkdir -p "$DB_COPY" && mdb_copy "$W/db" "$DB_COPY" ||
	    echo "mdb_copy failed" >&2
fi
# RESTARTS: the reconnection storm. The controller is killed (signal
# RESTART_SIG, KILL: a crash, or an operator's failover) and started again
# on the same store, keys and addresses, RESTARTS times; round r runs with
# [bus] backlog = the r-th word of RESTART_BACKLOGS (cycled; none: the
# binary's default), so "100 4096 100 4096" interleaves an A/B, and the
# r-th binary of RESTART_CTLS (cycled; none: BUILD_DIR's), for an A/B of
# two builds in one fleet. After each round a heartbeat window as above
# (RESTART_HB=0: none). Each
# round waits (MAX_WAIT at most) until every simulated agent is connected
# again (the simulators' conn lines: ZMTP handshakes done), every agent
# has reported to the new process (its service's updated_at after the
# start: bench/failover_probe.py reported) and one create made as soon as
# the API answered is ACTIVE. Printed: kill -> API up; start -> 50/90/99/
# 100% connected, all reported, the create acknowledged and ACTIVE; the
# new controller's CPU and peak RSS over the storm and the simulators'
# CPU; the listen socket's accept queue (ss: its most seen, and the
# backlog the kernel took) and the kernel's listen overflows and drops
# (/proc/net/netstat TcpExt, the whole network namespace, so other
# programs' too); the heartbeats meanwhile (hbsum).
netstat_ext() {	# the TcpExt counters ListenOverflows ListenDrops
	awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 }
	    else for (i = 2; i <= NF; i++) v[n[i]] = $i }
	    END { print v["ListenOverflows"] + 0, v["ListenDrops"] + 0 }' /proc/net/netstat
}
# conn_times T_KILL T_START: from the simulators' conn lines (each
# process's connected agents and handshakes so far, whenever they
# changed), merged in time order: the time after T_START at which the
# fleet's handshakes since T_KILL reached 50, 90, 99 and 100% of AGENTS
# ("all" also needs every agent connected at once), and the fewest
# connected after T_KILL.
conn_times() {
	local f
	for f in "$W"/sim-*.log; do
		awk -v f="$f" '$1 == "conn" { print $2, f, $3, $4 }' "$f"
	done | sort -n -k1,1 | awk -v k="$1" -v s="$2" -v n="$AGENTS" '
	    { tot += $3 - c[$2]; c[$2] = $3
	      if ($1 < k) { h0[$2] = $4; hs[$2] = $4; next }
	      new += $4 - (($2 in hs) ? hs[$2] : h0[$2]); hs[$2] = $4
	      if (!seen || tot < low) { low = tot; seen = 1 }
	      if ($1 < s) next
	      if (!p50 && new >= n * 0.5) p50 = $1 - s
	      if (!p90 && new >= n * 0.9) p90 = $1 - s
	      if (!p99 && new >= n * 0.99) p99 = $1 - s
	      if (!all && new >= n && tot >= n) all = $1 - s }
	    END { printf "%s %s %s %s %d\n", p50 ? p50 : "-", p90 ? p90 : "-",
	    p99 ? p99 : "-", all ? all : "-", low }'
}
restart_round() {	# ROUND BACKLOG CONTROLLER
	local r=$1 bl=$2 ctl=${3:-$CTL} tk ts ta t202 tact trep tconn sid c0 s0 o0 o1 q qmax=0 bq=
	local done_conn= done_rep= done_act= sig=${RESTART_SIG:-KILL}
	# (no word: no line, the binary's default; a controller without
	# the option, RESTART_CTLS' older builds, refuses the line)
	sed -i '/^backlog = /d' "$W/c.conf"
	[ -z "$bl" ] || sed -i '/^\[bus\]$/a backlog = '"$bl" "$W/c.conf"
	read -r o0 d0 < <(netstat_ext)
	s0=$(simcpu)
	tk=$(date +%s.%N)
	kill -"$sig" "$CPID"
	wait "$CPID" 2>/dev/null || true
	ts=$(date +%s.%N)
	env ${CTL_ENV:-} "$ctl" --foreground --config "$W/c.conf" >> "$W/ctl.log" 2>&1 &
	CPID=$!
	PIDS+=("$CPID")
	wait_for 60 curl -s -o /dev/null "http://127.0.0.1:$CP/"
	ta=$(date +%s.%N)
	sid=$(curl -s "${H[@]}" -d '{"server": {"name": "storm", "flavorRef": "b1",
	    "imageRef": "'"$IMG"'", "networks": "none"}}' \
	    "http://127.0.0.1:$CP/v2.1/servers" |
	    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["id"])') ||
	    { echo "restart $r: the create failed" >&2; exit 1; }
	t202=$(date +%s.%N)
	local t_end=$((SECONDS + MAX_WAIT))
	while [ -z "$done_conn" ] || [ -z "$done_rep" ] || [ -z "$done_act" ]; do
		[ "$SECONDS" -lt "$t_end" ] || { echo "restart $r: timed out" \
		    "(connected: ${done_conn:-no}, reported: ${done_rep:-no}," \
		    "ACTIVE: ${done_act:-no})" >&2; exit 1; }
		# the accept queue now (Recv-Q) and the backlog (Send-Q)
		read -r q bq < <(ss -Hltn "sport = :$BUS" | awk '{ print $2, $3 }')
		[ "${q:-0}" -le "$qmax" ] || qmax=$q
		if [ -z "$done_conn" ] &&
		    [ "$(conn_times "$tk" "$ts" | awk '{ print $4 }')" != - ]; then
			done_conn=$(date +%s.%N)
		fi
		if [ -z "$done_act" ] && curl -s "${H[@]}" \
		    "http://127.0.0.1:$CP/v2.1/servers/$sid" |
		    grep -q '"status": *"ACTIVE"'; then
			tact=$(date +%s.%N)
			done_act=1
		fi
		if [ -z "$done_rep" ] && /usr/bin/python3 "$HERE/failover_probe.py" \
		    reported "http://127.0.0.1:$CP/v2.1" "$TOK" "$ts" "$AGENTS"; then
			trep=$(date +%s.%N)
			done_rep=1
		fi
		sleep 0.5
	done
	read -r o1 d1 < <(netstat_ext)
	read -r p50 p90 p99 pall low < <(conn_times "$tk" "$ts")
	echo "restart $r (kill -$sig, $ctl, [bus] backlog ${bl:-default}; the kernel's" \
	    "backlog ${bq:-?}): kill -> API answering $(echo "$ta - $tk" | bc -l | cut -c1-5) s" \
	    "(least connected after the kill: $low);" \
	    "from the start: reconnected (handshakes since the kill) 50% $p50 s, 90% $p90 s, 99% $p99 s, all $pall s;" \
	    "all reported $(echo "$trep - $ts" | bc -l | cut -c1-5) s (polled each 0.5 s + the probe);" \
	    "a create at $(echo "$ta - $ts" | bc -l | cut -c1-5) s acknowledged" \
	    "$(echo "$t202 - $ta" | bc -l | cut -c1-5) s later, ACTIVE at" \
	    "$(echo "$tact - $ts" | bc -l | cut -c1-5) s"
	echo "  storm: controller CPU $(cpu "$CPID") s from its start to all three," \
	    "RSS $(rss "$CPID") (peak $(hwm "$CPID")); simulators' CPU" \
	    "$(echo "$(simcpu) - $s0" | bc -l | cut -c1-6) s; accept queue at most" \
	    "$qmax seen (0.5 s samples); listen overflows $((o1 - o0)), drops $((d1 - d0))" \
	    "(the namespace's TcpExt)"
	hbsum "$tk" "$(date +%s.%N)"
	[ "${RESTART_HB:-1}" = 0 ] || hb_window "after restart $r"
}
if [ "${RESTARTS:-0}" -gt 0 ]; then
	read -ra RBL <<< "${RESTART_BACKLOGS:-}"
	read -ra RCT <<< "${RESTART_CTLS:-}"
	for ((r = 1; r <= RESTARTS; r++)); do
		restart_round "$r" \
		    "${RBL[$(((r - 1) % (${#RBL[@]} > 0 ? ${#RBL[@]} : 1)))]:-}" \
		    "${RCT[$(((r - 1) % (${#RCT[@]} > 0 ? ${#RCT[@]} : 1)))]:-}"
	done
fi
if [ -n "${HOLD:-}" ]; then	# keep everything up for inspection
	echo "holding $HOLD s: controller pid $CPID, API http://127.0.0.1:$CP, token in $W/token"
	echo "$TOK" > "$W/token"
	sleep "$HOLD"
fi
# The scheduler alone, with the controller and the agents stopped.
for p in "$CPID" "${SPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait "$CPID" "${SPIDS[@]}" 2>/dev/null || true
echo "scheduler in-process:"
"$SIM" sched "$AGENTS" 4000 1 "$W/sched1" | sed 's/^/  /'
"$SIM" sched "$AGENTS" 8000 16 "$W/sched2" | sed 's/^/  /'
