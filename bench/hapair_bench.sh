#!/bin/bash
# shellcheck disable=SC2317  # functions run through trap and wait_for
# hapair_bench.sh - a controller pair with a floating address, failed over
# (docs/SCALING.md, section 2). All in network namespaces this script
# creates (named tsha-<role>-<pid>; nothing in the root namespace's
# addresses or routes is touched):
#
#   node A, node B   one veth each (10.251.0.1, .2) into a bridge in a
#                    namespace of its own (the "switch"); keepalived in each
#                    (VRRP, unicast peers, state BACKUP + nopreempt on both,
#                    advert_int 1) holds the floating address 10.251.0.100.
#                    notify_master starts tinystack-controller in that
#                    node's namespace (from BUILD_DIR), notify_backup /
#                    notify_fault / notify_stop stop it (SIGTERM).
#   clients          10.251.0.3: AGENTS simulated agents (bench/fleetsim.c,
#                    CURVE, reconnect backoff capped at 2 s, ZMTP pings
#                    every 2 s, heartbeats every report_interval = 10 s) and
#                    the API clients, all pointing at the floating address.
#
# One configuration file and one state directory (LMDB environment, image
# files, token keys, the pid file) serve both nodes in turn: on one kernel
# that stands in for DRBD protocol C or a shared LUN with exclusive
# activation. The exclusive activation is the controller's pid-file lock
# on the state directory: notify_master waits (flock, bounded) until the
# other node's controller has let go of it, then starts. Two kernels would
# need fencing instead (STONITH); nothing here fences.
#
# Three rounds, while a client creates servers back to back through the
# floating address (bench/failover_probe.py load, a unique name each):
#
#   nodeloss    A active: A's keepalived frozen (SIGSTOP), A's link taken
#               down, A's controller and keepalived killed (SIGKILL): the
#               node vanished, no VRRP priority-0 advert, no TCP reset from
#               it. B takes the address when A's adverts stop (3 x
#               advert_int + skew). No fencing hardware: the kill stands in
#               for a fenced node. A then comes back (link up, its stale
#               address removed as a reboot would, keepalived started) as
#               BACKUP; nopreempt keeps B active.
#   switchover  B active: B's keepalived stopped (SIGTERM): it sends a
#               priority-0 advert and runs notify_stop (the controller gets
#               SIGTERM and exits cleanly); A takes the address and starts
#               its controller once B's has let go of the store.
#               keepalived removes the address before notify_stop runs.
#   handover    A active (B back as BACKUP): what an operator's switchover
#               does about that: A's controller stopped first (SIGTERM,
#               until it exited: its clients see their connections close
#               and are refused), then A's keepalived, as in switchover.
#
# For each round, from the failure: the new node master with the address
# (notify_master's time; and a 20 ms ip poll); the new controller started
# (lock acquired) and listening (its log); the first HTTP answer to a
# 50 ms curl poll inside the new node and in the clients' namespace (these
# lag under load); the creating client's first HTTP answer and first
# create acknowledged; every agent reported to the new controller
# (os-services updated_at after its start); a create then ACTIVE; the new
# controller's CPU time from its start to every agent reported. Then the
# history check (failover_probe.py check) on the new active node: every
# acknowledged server exists (same id) and is ACTIVE, no refused request
# left a server, unknown outcomes resolved by name. The bench takes about
# 2 minutes with 200 agents and 4.5 with 500 (load average 40-50).
#
# Usage: bench/hapair_bench.sh [BUILD_DIR]    (default: ./build)
# Knobs: AGENTS (200), PER_PROC (500 agents per fleetsim process), LOAD_S
#   (seconds of creates before each failure, 4), MAX_WAIT (bound of every
#   wait, 120 s), REQ_TIMEOUT (the creating client's timeout of one
#   request, 10 s: a create the dead node committed but never answered
#   holds the client that long), KEEP (set: keep the work directory with the logs, the
#   events and the clients' records). Needs root, a build with tinystack-controller,
#   tinystack-manage and fleetsim, keepalived (packaging/install-deps.sh,
#   test profile), iproute2, curl, flock, /usr/bin/python3.
set -euo pipefail
export LC_ALL=C
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CTL=$B/controller/tinystack-controller
MANAGE=$B/tools/tinystack-manage
SIM=$B/bench/fleetsim
PROBE=(/usr/bin/python3 "$HERE/failover_probe.py")
AGENTS=${AGENTS:-200}
PER_PROC=${PER_PROC:-500}
LOAD_S=${LOAD_S:-4}
MAX_WAIT=${MAX_WAIT:-120}
export FAILOVER_PROBE_TIMEOUT=${REQ_TIMEOUT:-10}
KEEPALIVED=$(command -v keepalived || echo /usr/sbin/keepalived)
[ "$(id -u)" = 0 ] || { echo "hapair_bench: needs root (namespaces)" >&2; exit 1; }
[ -x "$KEEPALIVED" ] || { echo "hapair_bench: keepalived missing (packaging/install-deps.sh)" >&2; exit 1; }
for f in "$CTL" "$MANAGE" "$SIM"; do
	[ -x "$f" ] || { echo "hapair_bench: $f missing (build it)" >&2; exit 1; }
done

NET=10.251.0
VIP=$NET.100
NS_S=tsha-s-$$
NS_A=tsha-a-$$
NS_B=tsha-b-$$
NS_C=tsha-c-$$
W=$(mktemp -d /tmp/hapair-bench.XXXXXX)
PIDS=()		# fleetsim and load processes (in NS_C)
T_EXITED=	# handover: when the old controller had exited
declare -A KA=()	# node -> keepalived's pid
declare -A NSOF=([A]=$NS_A [B]=$NS_B)
declare -A IPOF=([A]=$NET.1 [B]=$NET.2)

alive() {	# PID: running (a zombie no longer counts)
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]
}
gone() { ! alive "$1"; }
cleanup() {
	local n p t
	set +e
	for n in A B; do
		[ -n "${KA[$n]:-}" ] && kill -TERM "${KA[$n]}" 2>/dev/null
	done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	# The controllers are not this shell's children (keepalived's notify
	# script started them): bounded poll, then SIGKILL.
	for n in A B; do
		[ -f "$W/$n.ctl" ] && kill -TERM "$(cat "$W/$n.ctl" 2>/dev/null)" 2>/dev/null
	done
	for ((t = 0; t < 100; t++)); do
		p=
		for n in A B; do
			[ -f "$W/$n.ctl" ] && alive "$(cat "$W/$n.ctl" 2>/dev/null)" && p=1
			[ -n "${KA[$n]:-}" ] && alive "${KA[$n]}" && p=1
		done
		[ -z "$p" ] && break
		sleep 0.1
	done
	# Whatever is still inside the namespaces this script made is its own.
	for n in "$NS_A" "$NS_B" "$NS_C" "$NS_S"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	wait 2>/dev/null
	for n in "$NS_A" "$NS_B" "$NS_C" "$NS_S"; do
		ip netns del "$n" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then echo "kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

wait_for() {	# SECONDS INTERVAL CMD...: CMD every INTERVAL s until it succeeds
	local limit=$1 ivl=$2 t0=$SECONDS
	shift 2
	until "$@"; do
		[ $((SECONDS - t0)) -lt "$limit" ] || { echo "timed out: $*" >&2; exit 1; }
		sleep "$ivl"
	done
}
now() { date +%s.%N; }
dt() { echo "$2 - $1" | bc | awk '{ printf "%.2f", $1 }'; }
inC() { ip netns exec "$NS_C" "$@"; }

# ---- the network: a switch namespace with a bridge, three nodes on it -----
for n in "$NS_S" "$NS_A" "$NS_B" "$NS_C"; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip -n "$NS_S" link add br0 type bridge
ip -n "$NS_S" link set br0 up
i=1
for n in "$NS_A" "$NS_B" "$NS_C"; do
	ip -n "$NS_S" link add "p$i" type veth peer name eth0 netns "$n"
	ip -n "$NS_S" link set "p$i" master br0 up
	ip -n "$n" addr add "$NET.$i/24" dev eth0
	ip -n "$n" link set eth0 up
	i=$((i + 1))
done

# ---- one configuration and one state directory for both nodes -------------
S=$W/state
cat > "$W/controller.conf" <<C
[DEFAULT]
host = ctl
pid_file = $S/controller.pid
state_path = $S
report_interval = 10
service_down_time = 60
[database]
path = $S/db
map_size_mb = 1024
[bus]
listen = tcp://0.0.0.0:5670
keys_dir = $W/keys
[api]
bind_host = 0.0.0.0
public_host = $VIP
[identity]
key_repository = $S/token-keys
password_hash_opslimit = 1
password_hash_memlimit_kb = 64
[image]
store_path = $S/images
[compute]
quota_instances = -1
quota_cores = -1
quota_ram = -1
C
mkdir -p "$S"
m() { "$MANAGE" --config "$W/controller.conf" "$@"; }
m db sync >/dev/null
m key setup >/dev/null
m token setup >/dev/null
OS_BOOTSTRAP_PASSWORD=bench m bootstrap --openrc "$W/openrc" >/dev/null
"$SIM" keys "$W/sim" "$AGENTS" | while read -r h pub; do
	m agent enroll "$h" --public-key "$pub" >/dev/null
done
SRVPUB=$(sed -n 's/^public = //p' "$W/keys/controller.pub")

# keepalived's notify script, the same on both nodes: ACTION NODE. It runs in
# the node's namespace (keepalived's). Events go to $W/events with the time.
cat > "$W/node.sh" <<EOF
#!/bin/sh
W=$W
CTL=$CTL
EOF
cat >> "$W/node.sh" <<'EOF'
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
ulimit -n "$(ulimit -Hn)"
act=$1 n=$2
ev() { echo "$n $1 $(date +%s.%N)" >> "$W/events"; }
alive() { s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]; }
# The SIGTERM first: keepalived may end this script when it exits itself.
pid=
if [ "$act" != master ] && [ -f "$W/$n.ctl" ]; then
	pid=$(cat "$W/$n.ctl")
	rm -f "$W/$n.ctl"
	kill -TERM "$pid" 2>/dev/null || pid=
fi
ev "$act"
echo "$act" > "$W/$n.state"
case $act in
master)
	# Exclusive activation of the store: wait until the other node's
	# controller let go of it (its pid-file flock; the kernel releases it
	# when a killed process is gone).
	if ! flock -w 60 "$W/state/controller.pid" true; then
		ev lock-timeout
		exit 1
	fi
	[ "$(cat "$W/$n.state")" = master ] || { ev gave-up; exit 0; }
	ev start
	setsid "$CTL" --foreground --config "$W/controller.conf" \
	    >> "$W/ctl-$n.log" 2>&1 < /dev/null &
	echo $! > "$W/$n.ctl"
	;;
*)
	[ -n "$pid" ] || exit 0
	i=0
	while alive "$pid" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	alive "$pid" && kill -KILL "$pid"
	ev stopped
	;;
esac
EOF
chmod 755 "$W/node.sh"

ka_conf() {	# NODE PRIORITY PEER_NODE
	cat > "$W/ka-$1.conf" <<K
global_defs {
	router_id tsha_$1
	script_user root
}
vrrp_instance ctl {
	state BACKUP
	nopreempt
	interface eth0
	virtual_router_id 51
	priority $2
	advert_int 1
	unicast_src_ip ${IPOF[$1]}
	unicast_peer {
		${IPOF[$3]}
	}
	virtual_ipaddress {
		$VIP/24 dev eth0
	}
	notify_master "$W/node.sh master $1"
	notify_backup "$W/node.sh backup $1"
	notify_fault "$W/node.sh fault $1"
	notify_stop "$W/node.sh stop $1"
}
K
}
ka_conf A 100 B
ka_conf B 90 A
ka_start() {	# NODE
	ip netns exec "${NSOF[$1]}" "$KEEPALIVED" --dont-fork --log-console --no-syslog \
	    --log-detail --vrrp --use-file "$W/ka-$1.conf" \
	    --pid "$W/ka-$1.pid" --vrrp_pid "$W/ka-$1.vrrp.pid" \
	    >> "$W/ka-$1.log" 2>&1 &
	KA[$1]=$!
}
state_is() { [ "$(cat "$W/$1.state" 2>/dev/null)" = "$2" ]; }
vip_on() { ip -n "${NSOF[$1]}" -o addr show dev eth0 | grep -q " $VIP/"; }
http_in() {	# NS: the compute API answers on the floating address
	ip netns exec "$1" curl -s -o /dev/null --max-time 1 "http://$VIP:8774/"
}
ev_after() {	# NODE EVENT T: the time of NODE's first EVENT after T
	awk -v n="$1" -v e="$2" -v t="$3" \
	    '$1 == n && $2 == e && $3 >= t { print $3; f = 1; exit } END { exit !f }' \
	    "$W/events"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(now)
ka_start A
wait_for "$MAX_WAIT" 0.1 state_is A master
wait_for "$MAX_WAIT" 0.1 http_in "$NS_C"
ka_start B
wait_for "$MAX_WAIT" 0.1 state_is B backup
echo "pair up: A active, B backup, in $(dt "$t0" "$(now)") s"

t0=$(now)
for ((first = 1; first <= AGENTS; first += PER_PROC)); do
	n=$((AGENTS - first + 1 < PER_PROC ? AGENTS - first + 1 : PER_PROC))
	inC "$SIM" agents "tcp://$VIP:5670" "$W/sim" "$n" "$SRVPUB" \
	    "$first" > "$W/sim-$first.log" 2>&1 &
	PIDS+=($!)
done
TOK=$(inC curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{
    "auth": {"identity": {"methods": ["password"], "password": {"user":
    {"name": "admin", "domain": {"id": "default"}, "password": "bench"}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}' \
    "http://$VIP:5000/v3/auth/tokens" |
    awk 'tolower($1) == "x-subject-token:" { sub("\r", "", $2); print $2 }')
U=http://$VIP:8774/v2.1
wait_for "$MAX_WAIT" 0.2 inC "${PROBE[@]}" reported "$U" "$TOK" 0 "$AGENTS"
echo "registration: $AGENTS agents up in $(dt "$t0" "$(now)") s"
H=(-H "X-Auth-Token: $TOK" -H 'Content-Type: application/json')
inC curl -s -o /dev/null "${H[@]}" -d '{"flavor": {"name": "b1", "id": "b1",
    "ram": 64, "vcpus": 1, "disk": 0}}' "$U/flavors"
IMG=$(inC curl -s "${H[@]}" -d '{"name": "img", "disk_format": "raw",
    "container_format": "bare", "visibility": "public"}' \
    "http://$VIP:9292/v2/images" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
head -c 65536 /dev/zero | inC curl -s -o /dev/null -X PUT -H "X-Auth-Token: $TOK" \
    -H 'Content-Type: application/octet-stream' --data-binary @- \
    "http://$VIP:9292/v2/images/$IMG/file"

none_building() {
	[ "$(inC curl -s -H "X-Auth-Token: $TOK" "$U/servers?status=BUILD&limit=1" |
	    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["servers"]))')" = 0 ]
}
# first_ack OUT SINCE [any]: the first create answered at or after SINCE
# with a 202 (with "any": with any HTTP answer). The old controller has
# exited before the new one starts (the lock), so an answer after the
# new one's start is the new one's.
first_ack() {
	/usr/bin/python3 - "$1" "$2" "${3:-}" <<'P'
import json, sys
t = [r["t1"] for r in map(json.loads, open(sys.argv[1]))
     if r["t1"] >= float(sys.argv[2]) and (r["outcome"] == "acked" or
     (sys.argv[3] == "any" and r["outcome"].startswith("http-")))]
sys.exit(0 if t and print("%.6f" % min(t)) is None else 1)
P
}
outcomes() {	# OUT: the round's outcomes, counted; the failed ones listed
	/usr/bin/python3 -c 'import json, sys, collections
rs = list(map(json.loads, open(sys.argv[1])))
c = collections.Counter(r["outcome"] for r in rs)
print(", ".join("%s %d" % kv for kv in sorted(c.items())) + "".join(
    "; %s after %.2f s (%s)" % (r["outcome"], r["t1"] - r["t0"],
    r.get("error", "")[:40]) for r in rs if r["outcome"] != "acked"))' "$1"
}
acked_between() {	# OUT T0 T1: creates acknowledged between T0 and T1
	/usr/bin/python3 -c 'import json, sys; print(sum(1 for r in map(json.loads, open(sys.argv[1])) if r["outcome"] == "acked" and float(sys.argv[2]) <= r["t1"] < float(sys.argv[3])))' "$1" "$2" "$3"
}
one_create() {	# NAME: a create, then the time until it is ACTIVE
	local id t0
	t0=$(now)
	id=$(inC curl -s "${H[@]}" -d "{\"server\": {\"name\": \"$1\",
	    \"flavorRef\": \"b1\", \"imageRef\": \"$IMG\", \"networks\": \"none\"}}" \
	    "$U/servers" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["id"])')
	active() {
		inC curl -s -H "X-Auth-Token: $TOK" "$U/servers/$id" | grep -q '"status": *"ACTIVE"'
	}
	wait_for "$MAX_WAIT" 0.1 active
	dt "$t0" "$(now)"
}
listening() {	# NODE T: the time NODE's controller logged its start after T
	/usr/bin/python3 - "$W/ctl-$1.log" "$2" <<'PY'
import sys, time
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) > 5 and f[5:7] == ["[-]", "started"]:
        t = time.mktime(time.strptime(f[0] + " " + f[1][:8],
                        "%Y-%m-%d %H:%M:%S")) + float("0" + f[1][8:])
        if t >= float(sys.argv[2]) - 0.001:
            print("%.3f" % t)
            sys.exit(0)
sys.exit(1)
PY
}
cpu_s() {	# PID: user + system CPU seconds so far
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
	    "/proc/$1/stat"
}

fail_nodeloss() {	# OLD: the node vanishes
	local ns=${NSOF[$1]} vrrp
	vrrp=$(cat "$W/ka-$1.vrrp.pid")
	kill -STOP "${KA[$1]}" "$vrrp"
	ip -n "$ns" link set eth0 down
	kill -KILL "$(cat "$W/$1.ctl")"
	kill -KILL "$vrrp" "${KA[$1]}"
	rm -f "$W/$1.ctl"
	wait "${KA[$1]}" 2>/dev/null || true
	KA[$1]=
}
restore() {	# NODE: back after a reboot: no address, keepalived as BACKUP
	ip -n "${NSOF[$1]}" addr del "$VIP/24" dev eth0 2>/dev/null || true
	ip -n "${NSOF[$1]}" link set eth0 up
	rm -f "$W/$1.state"
	ka_start "$1"
	wait_for "$MAX_WAIT" 0.1 state_is "$1" backup
}
fail_switchover() {	# OLD: keepalived stopped cleanly
	kill -TERM "${KA[$1]}"
	wait "${KA[$1]}" 2>/dev/null || true
	KA[$1]=
}
fail_handover() {	# OLD: its controller stopped first, then keepalived
	local pid
	pid=$(cat "$W/$1.ctl")
	kill -TERM "$pid"
	wait_for "$MAX_WAIT" 0.02 gone "$pid"
	T_EXITED=$(now)
	fail_switchover "$1"
}

# round NAME OLD NEW
round() {
	local name=$1 old=$2 new=$3 out=$W/load-$1.jsonl lpid tf t_addr t_master
	local t_start t_listen t_http t_httpc t_rep t_ack t_any cpid cpu stopped=
	rm -f "$W/stop"
	inC "${PROBE[@]}" load "$U" "$TOK" "$IMG" "$name" "$out" "$W/stop" 100000 &
	lpid=$!
	PIDS+=("$lpid")
	sleep "$LOAD_S"
	tf=$(now)
	"fail_$name" "$old"
	wait_for "$MAX_WAIT" 0.02 vip_on "$new"
	t_addr=$(now)
	wait_for "$MAX_WAIT" 0.05 ev_after "$new" start "$tf" > /dev/null
	t_master=$(ev_after "$new" master "$tf")
	t_start=$(ev_after "$new" start "$tf")
	cpid=$(cat "$W/$new.ctl")
	wait_for "$MAX_WAIT" 0.05 http_in "${NSOF[$new]}"
	t_http=$(now)
	wait_for "$MAX_WAIT" 0.05 http_in "$NS_C"
	t_httpc=$(now)
	wait_for "$MAX_WAIT" 0.1 inC "${PROBE[@]}" reported "$U" "$TOK" "$t_start" "$AGENTS"
	t_rep=$(now)
	cpu=$(cpu_s "$cpid")
	t_listen=$(listening "$new" "$t_start")
	wait_for "$MAX_WAIT" 0.1 first_ack "$out" "$t_start" > /dev/null
	t_ack=$(first_ack "$out" "$t_start")
	t_any=$(first_ack "$out" "$t_start" any)
	touch "$W/stop"
	wait "$lpid" || true
	if [ "$name" = switchover ]; then
		stopped=" ($old's controller exited on SIGTERM at $(t=$(ev_after \
		    "$old" stopped "$tf") && dt "$tf" "$t" || echo "(not recorded)") s)"
	elif [ "$name" = handover ]; then
		stopped=" ($old's controller exited at $(dt "$tf" "$T_EXITED") s, then its keepalived was stopped)"
	fi
	echo "$name ($old -> $new, $AGENTS agents), seconds from the failure:"
	echo "  $new master, address set (notify_master ran): $(dt "$tf" "$t_master")" \
	    "(the 20 ms ip poll saw the address at $(dt "$tf" "$t_addr"))"
	echo "  $new's controller started (store lock acquired): $(dt "$tf" "$t_start")$stopped"
	echo "  its APIs and bus listening (its log, 1 ms): $(dt "$tf" "$t_listen")"
	echo "  first HTTP answer: $(dt "$tf" "$t_http") (curl in $new, 50 ms poll)," \
	    "$(dt "$tf" "$t_httpc") (curl in the clients' namespace, 50 ms poll, 1 s timeout)"
	echo "  creating client: first HTTP answer $(dt "$tf" "$t_any"), first create" \
	    "acknowledged $(dt "$tf" "$t_ack") (timeout of one request: ${FAILOVER_PROBE_TIMEOUT} s)"
	echo "  all $AGENTS agents reported: $(dt "$tf" "$t_rep") ($new's controller:" \
	    "$cpu s of CPU from its start to then, serving $(acked_between "$out" \
	    "$t_start" "$t_rep") creates)"
	echo "  a create then ACTIVE in $(one_create "$name-after") s"
	echo "  client outcomes in the round: $(outcomes "$out")"
}

rc=0
round nodeloss A B
wait_for "$MAX_WAIT" 0.2 none_building
echo "history check on B after nodeloss:"
inC "${PROBE[@]}" check "$U" "$TOK" "$W/load-nodeloss.jsonl" || rc=1
restore A
echo "A back as backup; B stays active (nopreempt)"
round switchover B A
wait_for "$MAX_WAIT" 0.2 none_building
echo "history check on A after nodeloss and switchover:"
inC "${PROBE[@]}" check "$U" "$TOK" "$W"/load-*.jsonl || rc=1
restore B
echo "B back as backup"
round handover A B
wait_for "$MAX_WAIT" 0.2 none_building
echo "history check on B after the three rounds:"
inC "${PROBE[@]}" check "$U" "$TOK" "$W"/load-*.jsonl || rc=1
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$rc"
