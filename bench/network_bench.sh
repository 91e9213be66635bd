#!/bin/bash
# network_bench.sh - Networking I numbers (issue 12), as root, with every
# daemon, link and packet inside network namespaces this script creates
# (tsbn-*-$$, removed on exit):
#
#   api       POST /v2.0/ports under wrk (unbound ports on one /16): the API,
#             the JSON kit, policy, IPAM and the LMDB commit per port;
#             ports/s and latency at each concurrency, then a check that
#             every port got a distinct address.
#   lease     a port created for host h1 (binding:host_id) -> the agent's
#             dnsmasq has its hosts entry -> a client with the port's MAC
#             (busybox udhcpc on a veth to the network's bridge) holds the
#             lease. The real controller and agent; ROUNDS rounds, p50/p99.
#   converge  a fresh host given 1,000 ports on 100 VXLAN networks by
#             tests/integ/netctl (the agent's netconv: links over netlink,
#             dnsmasq per network, hosts files): wall time to converge,
#             links and dnsmasq count; then the CPU of the re-converge loop
#             at the agent's tick (NETSVC_TICK_MS, 5 s) over IDLE seconds,
#             and at a 300 ms tick to show the per-pass cost.
#
# Usage: bench/network_bench.sh [BUILD_DIR] [api|lease|converge|all]
# Knobs: DUR (wrk seconds, 10), CONC ("1 4 16"), ROUNDS (lease, 20),
#        IDLE (converge idle window, 30).
set -euo pipefail
export LC_ALL=C
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-build}" && pwd)
WHAT=${2:-all}
DUR=${DUR:-10}
CONC=${CONC:-"1 4 16"}
ROUNDS=${ROUNDS:-20}
IDLE=${IDLE:-30}
[ "$(id -u)" = 0 ] || { echo "network_bench.sh: needs root (namespaces)" >&2; exit 1; }
for c in wrk curl jq dnsmasq busybox ip python3; do
	command -v $c >/dev/null || { echo "network_bench.sh: $c missing" >&2; exit 1; }
done
export TS_BUILD_DIR=$B TS_SOURCE_DIR=$TOP
# lib.sh: $T, start/stop of daemons, config writers, bounded waits.
. "$TOP/tests/integ/lib.sh"
NETCTL=$B/tests/unit/netctl
NS=tsbn-h-$$; CL=tsbn-c-$$; NSC=tsbn-v-$$
chmod 755 "$T"

bench_cleanup() {
	local rc=$? f pid
	stop_daemons_and_dnsmasq
	for n in $NS $CL $NSC; do ip netns del $n 2>/dev/null || true; done
	set +e
	(exit $rc)
	cleanup
}
trap bench_cleanup EXIT

in_ns() { ip netns exec $NS "$@"; }
pct() {	# pct P FILE: the P-th percentile (nearest rank) of one number per line
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		i = int((p * NR + 99) / 100); if (i < 1) i = 1; printf "%.1f", v[i] }'
}
now_ms() { date +%s%3N; }

# ---- controller (+ agent h1) in $NS; APIs on its 127.0.0.1 --------------
cloud_up() {
	ip netns add $NS
	ip -n $NS link set lo up
	ip -n $NS addr add 10.250.0.1/32 dev lo
	local port
	port=$(free_port)
	controller_conf "$T/controller.conf" "$port" "[network]" "vni_ranges = 300:399"
	sed -i "s|^listen = tcp://127.0.0.1:|listen = tcp://10.250.0.1:|" "$T/controller.conf"
	identity_bootstrap bench-pass
	enrol_agent h1
	agent_conf h1 "$port" test:///default
	sed -i "s|^controller = tcp://127.0.0.1:|controller = tcp://10.250.0.1:|" "$T/agent-h1.conf"
	cat >> "$T/agent-h1.conf" <<C

[network]
local_ip = 10.250.0.1
dhcp_state_dir = $T/h1dhcp
C
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$CTL" > "$T/ctl-in-ns"
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$AGENT" > "$T/agent-in-ns"
	chmod 755 "$T/ctl-in-ns" "$T/agent-in-ns"
	start ctl "$T/ctl-in-ns" "$T/controller.conf"
	start agent-h1 "$T/agent-in-ns" "$T/agent-h1.conf"
	wait_for 20 "h1 up" is_state h1 up
	IDURL=$(sed -n 's/^export OS_AUTH_URL=//p' "$T/openrc" | tr -d "'\"")
	NETURL=http://127.0.0.1:$(sed -n 's/^network_port = //p' "$T/controller.conf")
	local tok
	tok=($(in_ns env -i PATH="$PATH" bash -c \
	    ". '$T/openrc'; openstack token issue -f value -c id -c project_id"))
	TOKEN=${tok[0]:-}; PROJECT=${tok[1]:-}
	[ -n "$PROJECT" ] || fail "no token from $IDURL"
	# Neutron's default quota (500 ports) would turn the run into 409s.
	api PUT "/v2.0/quotas/$PROJECT" '{"quota":{"port":-1,"network":-1,"subnet":-1}}' >/dev/null
}
api() {	# api METHOD PATH [BODY]: JSON out, fails on a non-2xx
	in_ns curl -sf -X "$1" -H "X-Auth-Token: $TOKEN" \
	    -H "Content-Type: application/json" ${3:+-d "$3"} "$NETURL$2"
}
mknet() {	# mknet NAME CIDR: prints the network id; a subnet with DHCP
	local n
	n=$(api POST /v2.0/networks "{\"network\":{\"name\":\"$1\"}}" | jq -r .network.id)
	api POST /v2.0/subnets "{\"subnet\":{\"network_id\":\"$n\",\"ip_version\":4,\"cidr\":\"$2\"}}" >/dev/null
	echo "$n"
}

# ---- api -----------------------------------------------------------------
bench_api() {
	local net c out rps p50 p99 errs n d
	net=$(mknet bench-api 10.128.0.0/16)
	cat > "$T/port.lua" <<L
wrk.method = "POST"
wrk.body = '{"port":{"network_id":"$net"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Auth-Token"] = "$TOKEN"
L
	echo "## api: POST /v2.0/ports, ${DUR}s per concurrency (wrk, keep-alive)"
	printf '%-6s %10s %10s %10s %8s\n' conc ports/s p50_ms p99_ms non2xx
	for c in $CONC; do
		out=$(in_ns wrk -t "$(( c < 4 ? c : 4 ))" -c "$c" -d "${DUR}s" --latency \
		    -s "$T/port.lua" "$NETURL/v2.0/ports")
		rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
		p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
		p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
		errs=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
		printf '%-6s %10s %10s %10s %8s\n' "$c" "$rps" "$p50" "$p99" "${errs:-0}"
	done
	api GET "/v2.0/ports?network_id=$net&fields=fixed_ips" |
	    jq -r '.ports[].fixed_ips[].ip_address' > "$T/ips"
	n=$(wc -l < "$T/ips"); d=$(sort -u "$T/ips" | wc -l)
	echo "ports on the network: $n, distinct addresses: $d"
	[ "$n" = "$d" ] || fail "duplicate addresses"
}

# ---- lease ---------------------------------------------------------------
bench_lease() {
	local net i t0 t1 t2 mac id br hosts
	net=$(mknet bench-lease 10.129.0.0/24)
	br=tsb$(tr -d - <<<"$net" | cut -c1-11)
	hosts=$T/h1dhcp/$net/hosts
	# An anchor port: the network (bridge, VXLAN, dnsmasq) is on h1 before
	# the rounds, so they time a port joining a live network.
	api POST /v2.0/ports "{\"port\":{\"network_id\":\"$net\",\"binding:host_id\":\"h1\"}}" >/dev/null
	wait_for 20 "bridge $br" in_ns ip link show "$br"
	wait_for 20 "dnsmasq hosts file" test -s "$hosts"
	ip netns add $CL
	ip link add c0 netns $CL type veth peer name tsbnt0 netns $NS
	ip -n $NS link set tsbnt0 master "$br" up
	: > "$T/lease.applied"; : > "$T/lease.total"
	for i in $(seq 1 "$ROUNDS"); do
		ip -n $CL link set c0 down
		t0=$(now_ms)
		read -r id mac < <(api POST /v2.0/ports \
		    "{\"port\":{\"network_id\":\"$net\",\"binding:host_id\":\"h1\"}}" |
		    jq -r '.port.id + " " + .port.mac_address')
		ip -n $CL link set c0 address "$mac" up
		# The agent wrote the entry (and sent dnsmasq SIGHUP): 5 ms polls.
		for _ in $(seq 1 2000); do
			grep -qi "^$mac," "$hosts" && break
			sleep 0.005
		done
		grep -qi "^$mac," "$hosts" || fail "round $i: no hosts entry for $mac"
		t1=$(now_ms)
		timeout 30 ip netns exec $CL busybox udhcpc -i c0 -n -q -f -t 20 -T 1 \
		    -s /bin/true > "$T/udhcpc.log" 2>&1 || fail "round $i: no lease: $(cat "$T/udhcpc.log")"
		t2=$(now_ms)
		echo $((t1 - t0)) >> "$T/lease.applied"
		echo $((t2 - t0)) >> "$T/lease.total"
		api DELETE "/v2.0/ports/$id" >/dev/null
	done
	echo "## lease: port create -> hosts entry -> DHCP lease, $ROUNDS rounds (ms)"
	printf '%-28s %8s %8s\n' step p50 p99
	printf '%-28s %8s %8s\n' "create -> dnsmasq hosts" "$(pct 50 "$T/lease.applied")" "$(pct 99 "$T/lease.applied")"
	printf '%-28s %8s %8s\n' "create -> lease held" "$(pct 50 "$T/lease.total")" "$(pct 99 "$T/lease.total")"
}

# ---- converge ------------------------------------------------------------
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
bench_converge() {
	local t0 t1 pid c0 c1 hz links dns tick
	[ -x "$NETCTL" ] || fail "netctl not built: cmake --build $B --target netctl"
	ip netns add $NSC
	ip -n $NSC link set lo up
	ip -n $NSC addr add 10.99.0.1/32 dev lo
	python3 - "$T/conv.json" <<'P'
import json, sys
nets, subs, ports = [], [], []
for n in range(100):
    nid = "cc%06x-0000-4000-8000-000000000000" % n
    sid = "dd%06x-0000-4000-8000-000000000000" % n
    nets.append({"id": nid, "type": "vxlan", "segmentation_id": 1000 + n,
                 "mtu": 1450, "vxlan_peers": ["10.99.0.2", "10.99.0.3"]})
    subs.append({"id": sid, "network_id": nid, "cidr": "10.%d.%d.0/24" % (100 + n // 200, n % 200),
                 "ip_version": 4, "gateway_ip": "10.%d.%d.1" % (100 + n // 200, n % 200),
                 "enable_dhcp": True, "dhcp_address": "10.%d.%d.2" % (100 + n // 200, n % 200),
                 "dns_nameservers": [], "host_routes": []})
    for p in range(10):
        ports.append({"id": "ee%06x-%04x-4000-8000-000000000000" % (n, p), "network_id": nid,
                      "mac": "52:54:01:%02x:%02x:%02x" % (n >> 8, n & 255, p),
                      "fixed_ips": [{"subnet_id": sid, "ip_address": "10.%d.%d.%d" % (100 + n // 200, n % 200, 10 + p)}],
                      "hostname": "vm-%d-%d" % (n, p)})
json.dump({"host": "h", "generation": 1, "networks": nets, "subnets": subs, "ports": ports},
          open(sys.argv[1], "w"))
P
	t0=$(now_ms)
	ip netns exec $NSC "$NETCTL" --state-dir "$T/cdhcp" --local-ip 10.99.0.1 \
	    apply "$T/conv.json" > "$T/conv.out" 2>&1 || fail "converge: $(tail -5 "$T/conv.out")"
	t1=$(now_ms)
	links=$(ip -n $NSC -o link show | grep -c ' ts[bv]')
	dns=$(ls "$T"/cdhcp/*/pid | wc -l)
	echo "## converge: 100 VXLAN networks (2 peers each), 1,000 ports, fresh host"
	echo "converge once: $((t1 - t0)) ms; links tsb*/tsv*: $links; dnsmasq: $dns"
	hz=$(getconf CLK_TCK)
	for tick in 5000 300; do
		ip netns exec $NSC "$NETCTL" --state-dir "$T/cdhcp" --local-ip 10.99.0.1 \
		    --tick-ms $tick serve "$T/conv.json" "$T/conv.state" >> "$T/conv-serve.log" 2>&1 &
		pid=$!; PIDS+=($pid)
		wait_for 120 "serve's first pass" test -s "$T/conv.state"
		c0=$(cpu_ticks $pid)
		t0=$(now_ms)
		# The window is the measurement itself, not a wait for an event.
		sleep "$IDLE"
		c1=$(cpu_ticks $pid); t1=$(now_ms)
		awk -v c=$((c1 - c0)) -v hz="$hz" -v ms=$((t1 - t0)) -v tick=$tick 'BEGIN {
			printf "idle re-converge every %d ms: %.2f%% of one CPU (%.0f ms CPU in %.0f s)\n",
			    tick, 100 * c / hz * 1000 / ms, c / hz * 1000, ms / 1000 }'
		kill $pid; wait $pid 2>/dev/null || true
		rm -f "$T/conv.state"
	done
}

case $WHAT in
api) cloud_up; bench_api ;;
lease) cloud_up; bench_lease ;;
converge) bench_converge ;;
all) cloud_up; bench_api; bench_lease; bench_converge ;;
*) echo "usage: $0 [BUILD_DIR] [api|lease|converge|all]" >&2; exit 2 ;;
esac
