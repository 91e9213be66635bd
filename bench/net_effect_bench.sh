#!/bin/bash
# net_effect_bench.sh - Networking II (issue 13): time from an API change to
# its effect in the dataplane, measured by traffic, as root. Every daemon,
# link and packet lives in network namespaces this script creates
# (tsne-*-$$, and the agent's router namespace), all removed on exit:
#
#   tsne-h-$$   the hypervisor host: the real controller (APIs and bus on
#               its own loopback) and the real agent (libvirt test driver,
#               no guest needed), its bridges, VXLAN, dnsmasq, nftables;
#               ex0, its uplink for the flat external network "public"
#   tsne-x-$$   the outside world: 172.24.4.1/24 on the other end of ex0,
#               where bench/net_effect_probe.py sends its probes from
#   tsne-g-$$   the "guest": a veth whose host end is named as the port's
#               tap, with the port's MAC and fixed IP (it answers ICMP)
#
# Set-up through the Networking API: external network + subnet (floating
# IP pool), a tenant network, a router (gateway + interface), a security
# group without ingress rules, the guest's port bound to the host, a
# floating IP. Then, on a small host (the guest's port and the router's),
# and again on a loaded host (LOAD_PORTS ports bound to the same host in
# LOAD_GROUPS groups with LOAD_RULES rules, as bench/fwbench.c's synthetic
# host, made through the API while the agent is stopped; the agent then
# restarts and applies it whole), ROUNDS rounds of:
# (1,000 ports / 200 groups / 5,000 rules is the issue's size, but on a
# busy 2-core machine the agent's first nft transaction for it outlasts
# the runner's 30 s timeout, again at every retry: docs/PERFORMANCE.md.
# The script then stops, saying so.)
#   rule-add / rule-del     POST an ICMP ingress rule to the guest's group
#                           (floating IP associated) -> first answer;
#                           DELETE it -> probes stop being answered
#   fip-assoc / -disassoc   PUT the floating IP's port_id (ICMP allowed)
#                           -> first answer; PUT null -> answers stop
# p50/p99/max of each, for a new flow per probe and for one flow through
# the change (see net_effect_probe.py), with the controller's and the
# agent's log lines showing where the time went.
#
# Usage: bench/net_effect_bench.sh [BUILD_DIR]
# Knobs: ROUNDS (30), INTERVAL_MS (5), TIMEOUT (10 s: a change without
#        effect by then fails its round), QUIET (1 s without an answer =
#        cut), LOAD (1: also the loaded host), LOAD_PORTS (300),
#        LOAD_GROUPS (60), LOAD_RULES (1500), LOAD_NETS (4),
#        RESULTS (a file to keep the raw rows in).
set -euo pipefail
export LC_ALL=C
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-30}
INTERVAL_MS=${INTERVAL_MS:-5}
TIMEOUT=${TIMEOUT:-10}
QUIET=${QUIET:-1}
LOAD=${LOAD:-1}
LOAD_PORTS=${LOAD_PORTS:-300}
LOAD_GROUPS=${LOAD_GROUPS:-60}
LOAD_RULES=${LOAD_RULES:-1500}
LOAD_NETS=${LOAD_NETS:-4}
[ "$(id -u)" = 0 ] || { echo "net_effect_bench.sh: needs root (namespaces)" >&2; exit 1; }
for c in curl jq dnsmasq ip nft conntrack python3; do
	command -v $c >/dev/null || { echo "net_effect_bench.sh: $c missing" >&2; exit 1; }
done
export TS_BUILD_DIR=$B TS_SOURCE_DIR=$TOP
# lib.sh: $T, start/stop of daemons, config writers, bounded waits.
. "$TOP/tests/integ/lib.sh"
PROBE=$TOP/bench/net_effect_probe.py
NS=tsne-h-$$; EXT=tsne-x-$$; G=tsne-g-$$
# The agent's host name tags its router namespaces: unique, so that no
# other agent on this machine takes them for its own.
HOSTN=ne$$
RNS=""
chmod 755 "$T"

bench_cleanup() {
	local rc=$? p i
	stop_daemons_and_dnsmasq
	# The daemons are disowned (lib.sh's start): `wait` does not wait for
	# them, and an agent still converging would make its router
	# namespace again after it was deleted.
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		for i in $(seq 1 100); do dead "$p" && break; sleep 0.1; done
	done
	for n in $NS $EXT $G $RNS; do ip netns del "$n" 2>/dev/null || true; done
	[ -z "${RESULTS:-}" ] || [ ! -f "$T/rows" ] || cp "$T/rows" "$RESULTS"
	set +e
	(exit $rc)
	cleanup
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { ip netns exec $NS "$@"; }
api() {	# api METHOD PATH [BODY]: JSON out, fails on a non-2xx
	in_ns curl -sf -X "$1" -H "X-Auth-Token: $TOKEN" \
	    -H "Content-Type: application/json" ${3:+-d "$3"} "$NETURL$2" ||
	    fail "$1 $2 ${3:-}"
}

# ---- namespaces ------------------------------------------------------------
for n in $NS $EXT $G; do ip netns add $n; ip -n $n link set lo up; done
ip -n $NS addr add 10.250.0.1/32 dev lo
ip link add ex0 netns $NS type veth peer name eth0 netns $EXT
ip -n $NS link set ex0 up
ip -n $EXT addr add 172.24.4.1/24 dev eth0
ip -n $EXT link set eth0 up

# ---- controller and agent in $NS ------------------------------------------------
BUS=$(free_port)
controller_conf "$T/controller.conf" "$BUS" "[network]" "vni_ranges = 300:399" \
	"quota_port = -1" "quota_network = -1" "quota_subnet = -1" \
	"quota_security_group = -1" "quota_security_group_rule = -1"
sed -i "s|^listen = tcp://127.0.0.1:|listen = tcp://10.250.0.1:|" "$T/controller.conf"
identity_bootstrap bench-pass
enrol_agent $HOSTN
agent_conf $HOSTN "$BUS" test:///default
sed -i "s|^controller = tcp://127.0.0.1:|controller = tcp://10.250.0.1:|" "$T/agent-$HOSTN.conf"
# debug: the runner logs every command with its duration (where the
# time goes).
cat >> "$T/agent-$HOSTN.conf" <<C

[DEFAULT]
debug = true

[network]
local_ip = 10.250.0.1
dhcp_state_dir = $T/hdhcp
physical_interface_mappings = public:ex0
C
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$CTL" > "$T/ctl-in-ns"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$AGENT" > "$T/agent-in-ns"
chmod 755 "$T/ctl-in-ns" "$T/agent-in-ns"
start ctl "$T/ctl-in-ns" "$T/controller.conf"
start agent "$T/agent-in-ns" "$T/agent-$HOSTN.conf"
wait_for 30 "agent $HOSTN up" is_state $HOSTN up
NETURL=http://127.0.0.1:$(sed -n 's/^network_port = //p' "$T/controller.conf")
# shellcheck disable=SC1091
. "$T/openrc"
TOKEN=$(in_ns python3 "$PROBE" token "$OS_AUTH_URL" "$OS_USERNAME" \
	"$OS_PASSWORD" "$OS_PROJECT_NAME" | cut -d' ' -f1) || fail "token"
[ -n "$TOKEN" ] || fail "no token"
echo "# $(date -u '+%F %T') UTC, $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); tinystack $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')"

# ---- the cloud: external network, router, guest port, floating IP ------------------
PUB=$(api POST /v2.0/networks '{"network":{"name":"public","router:external":true,"provider:network_type":"flat","provider:physical_network":"public"}}' | jq -r .network.id)
api POST /v2.0/subnets "{\"subnet\":{\"network_id\":\"$PUB\",\"ip_version\":4,\"cidr\":\"172.24.4.0/24\",\"enable_dhcp\":false,\"gateway_ip\":\"172.24.4.1\",\"allocation_pools\":[{\"start\":\"172.24.4.10\",\"end\":\"172.24.4.250\"}]}}" >/dev/null
NET=$(api POST /v2.0/networks '{"network":{"name":"private"}}' | jq -r .network.id)
SUB=$(api POST /v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"ip_version\":4,\"cidr\":\"10.90.0.0/24\"}}" | jq -r .subnet.id)
RID=$(api POST /v2.0/routers "{\"router\":{\"name\":\"r1\",\"external_gateway_info\":{\"network_id\":\"$PUB\"}}}" | jq -r .router.id)
api PUT "/v2.0/routers/$RID/add_router_interface" "{\"subnet_id\":\"$SUB\"}" >/dev/null
rid=${RID//-/}; RNS=tsr-${rid:0:11}-$HOSTN
SG=$(api POST /v2.0/security-groups '{"security_group":{"name":"bench"}}' | jq -r .security_group.id)
api POST /v2.0/ports "{\"port\":{\"network_id\":\"$NET\",\"binding:host_id\":\"$HOSTN\",\"device_owner\":\"compute:nova\",\"device_id\":\"guest-$$\",\"security_groups\":[\"$SG\"]}}" > "$T/port.json"
PORT=$(jq -r .port.id "$T/port.json"); MAC=$(jq -r .port.mac_address "$T/port.json")
IP=$(jq -r '.port.fixed_ips[0].ip_address' "$T/port.json")
FIPJ=$(api POST /v2.0/floatingips "{\"floatingip\":{\"floating_network_id\":\"$PUB\"}}")
FIP=$(jq -r .floatingip.id <<<"$FIPJ"); FIPA=$(jq -r .floatingip.floating_ip_address <<<"$FIPJ")
pid=${PORT//-/}; TAP=tap${pid:0:11}
nid=${NET//-/}; BR=tsb${nid:0:11}
ip link add eth0 netns $G address "$MAC" mtu 1450 type veth peer name $TAP netns $NS mtu 1450
ip -n $NS link set $TAP up
ip -n $G addr add "$IP/24" dev eth0; ip -n $G link set eth0 up
ip -n $G route add default via 10.90.0.1
on_bridge() { ip -n $NS link show $TAP | grep "master $BR" >/dev/null; }
wait_for 60 "$TAP on $BR (the agent plugs it)" on_bridge
echo "guest $IP ($TAP) behind router $RID, floating IP $FIPA; probes from $EXT"

fip_set() { api PUT "/v2.0/floatingips/$FIP" "{\"floatingip\":{\"port_id\":$1}}" >/dev/null; }
# The floating IP's own ICMP rule for the fip rounds: a prefix, so that
# it is not the rule the rule rounds add.
R2=""
rule2_add() {
	R2=$(api POST /v2.0/security-group-rules "{\"security_group_rule\":{\"security_group_id\":\"$SG\",\"direction\":\"ingress\",\"ethertype\":\"IPv4\",\"protocol\":\"icmp\",\"remote_ip_prefix\":\"172.24.4.0/24\"}}" | jq -r .security_group_rule.id)
}
rule2_del() { api DELETE "/v2.0/security-group-rules/$R2" >/dev/null; }
probe() {	# probe LABEL MODE
	in_ns python3 "$PROBE" run --ext-ns $EXT --target "$FIPA" --url "$NETURL" \
	    --token "$TOKEN" --mode "$2" --sg "$SG" --fip "$FIP" --port "$PORT" \
	    --label "$1" --rounds "$ROUNDS" --interval-ms "$INTERVAL_MS" \
	    --timeout "$TIMEOUT" --quiet "$QUIET" --out "$T/rows" \
	    --ctl-log "$T/ctl.log" --agent-log "$T/agent.log" --host $HOSTN | tee -a "$T/probe.log" |
	    awk 'NR % 10 == 1' || fail "probe $1 $2 (see $T/probe.log)"
}
phase() {	# phase LABEL: rule rounds (floating IP on), then fip rounds
	local t0=$SECONDS
	fip_set "\"$PORT\""
	probe "$1" rule
	rule2_add
	fip_set null
	probe "$1" fip
	rule2_del
	echo "# phase $1: $((SECONDS - t0)) s"
}

phase small

if [ "$LOAD" = 1 ]; then
	# The load is made while the agent is stopped (thousands of API
	# writes would otherwise each be applied), then the agent restarts and
	# applies the whole host once, as after a reboot.
	kill "$(pid_of agent)"
	wait_for 20 "agent stopped" dead "$(pid_of agent)"
	t0=$SECONDS
	in_ns python3 "$PROBE" load "$NETURL" "$TOKEN" $HOSTN "$LOAD_PORTS" \
	    "$LOAD_GROUPS" "$LOAD_RULES" "$LOAD_NETS" || fail "load"
	echo "# load through the API: $((SECONDS - t0)) s"
	t0=$SECONDS
	start agent "$T/agent-in-ns" "$T/agent-$HOSTN.conf"
	# Converged: the agent applied the controller's latest generation
	# (the one after the restart's DHCP ports, too) and every port has its
	# chains. Applied is not programmed: an nft transaction past the
	# runner's timeout is logged and retried, the ports unfiltered
	# meanwhile; that ends the wait at once.
	nto=$(grep -c "nft timed out" "$T/agent.log" || true)
	latest() { sed -n "s/.* host $HOSTN: network state generation \([0-9]*\) .*/\1/p" "$T/ctl.log" | tail -1; }
	chains() { in_ns nft list table inet tinystack_fw 2>/dev/null | grep -c '^[[:space:]]*chain in_tap' || true; }
	timed_out() { [ "$(grep -c "nft timed out" "$T/agent.log" || true)" -gt "$nto" ]; }
	converged() {
		timed_out || { grep -q "host_network generation $(latest): " "$T/agent.log" &&
		    [ "$(chains)" -gt "$LOAD_PORTS" ]; }
	}
	wait_for 600 "the agent to program the loaded host ($(chains) chains so far)" converged
	timed_out && fail "the agent cannot program the loaded host: nft timed out (the runner's 30 s), $(chains) chains; see $T/agent.log"
	echo "# agent restart -> loaded host applied: $((SECONDS - t0)) s; $(in_ns nft list ruleset | wc -c) bytes of nft ruleset, $(chains) ports' ingress chains"
	# The restarted agent may make the router's veths again (new MACs,
	# see docs/PERFORMANCE.md): the outside forgets the old one, as an
	# upstream router would in time, so the rounds time the changes and
	# not an ARP cache's expiry.
	ip -n $EXT neigh flush all
	phase loaded
fi

echo
in_ns python3 "$PROBE" report "$T/rows" "$T/ctl.log" "$T/agent.log" $HOSTN
