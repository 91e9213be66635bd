#!/bin/bash
# The network dataplane end to end: a real controller and a real agent,
# both in a network namespace this test creates (the bus on 127.0.0.1
# inside it; the agent's underlay a veth pair there), network
# records written to the store as the API would (tests/integ/netseed,
# through ipam):
#  - a port bound to h1: the controller allocates h1's DHCP port, derives
#    h1's host_network and sends it; the agent makes the bridge and VXLAN
#    device, puts the DHCP address on the bridge and starts dnsmasq with
#    the port's hosts entry;
#  - dnsmasq killed, bridge deleted by hand: back within the agent's tick;
#  - the port deleted: the network leaves the host, the DHCP port is
#    released.
# Namespaces are named tsnw-*-$$ and removed on exit; no traffic leaves
# them.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces)"; exit 0; fi
for p in dnsmasq ip; do
	command -v $p >/dev/null || { echo "SKIP: $p not installed"; exit 0; }
done
SEED=$TS_BUILD_DIR/tests/unit/netseed
[ -x "$SEED" ] || fail "netseed not built ($SEED): cmake --build build --target netseed"

NS=tsnw-h1-$$
NET=7a2b3c40-0000-4000-8000-0000000000a1
SUB=7a2b3c40-0000-4000-8000-1000000000a1
PORT1=7a2b3c40-0000-4000-8000-2000000000a1
id=${NET//-/}
BR=tsb${id:0:11}; VX=tsv${id:0:11}
PIDF=$T/h1dhcp/$NET/pid
# dnsmasq re-reads its files as an unprivileged user after SIGHUP.
chmod 755 "$T"

net_cleanup() {
	local rc=$? f pid
	# The agent first: it would restart the dnsmasq killed below.
	for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$pid" 2>/dev/null || true; done
	for f in "$T"/h*dhcp/*/pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		# Only a dnsmasq started for this test (its pid file is ours).
		if [ -n "$pid" ] && tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null |
		    grep -- "--pid-file=$f" >/dev/null; then
			kill "$pid" 2>/dev/null || true
		fi
	done
	ip netns del $NS 2>/dev/null || true
	set +e
	(exit $rc)
	cleanup
}
trap net_cleanup EXIT

ip netns add $NS
ip -n $NS link set lo up
# The underlay: a veth pair inside the namespace (no dummy module here).
ip -n $NS link add u0 type veth peer name u1
ip -n $NS link set u1 up
ip -n $NS addr add 10.250.0.1/24 dev u0
ip -n $NS link set u0 up

PORT=$(free_port)
controller_conf "$T/controller.conf" "$PORT" "[network]" "vni_ranges = 300:310"
manage db sync >/dev/null || fail "db sync"
manage key setup >/dev/null
enrol_agent h1
agent_conf h1 "$PORT" test:///default
cat >> "$T/agent-h1.conf" <<C

[network]
local_ip = 10.250.0.1
dhcp_state_dir = $T/h1dhcp
C
# Both daemons in the namespace (start() runs "$bin" --foreground ...).
for d in ctl:$CTL agent:$AGENT; do
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "${d#*:}" > "$T/${d%%:*}-in-ns"
	chmod 755 "$T/${d%%:*}-in-ns"
done
start ctl "$T/ctl-in-ns" "$T/controller.conf"
start agent-h1 "$T/agent-in-ns" "$T/agent-h1.conf"
wait_for 15 "h1 up" is_state h1 up
ok "controller and agent up in namespace $NS"

# ---- a port lands on h1
"$SEED" "$T/controller.conf" network $NET $SUB 10.77.0.0/24 || fail "network"
read -r MAC IP < <("$SEED" "$T/controller.conf" port $PORT1 $NET h1 vm-one) || fail "port"
[ "$IP" = 10.77.0.2 ] || fail "port address $IP"
dhcp_port() { "$SEED" "$T/controller.conf" dhcp-ports | grep -x "$NET h1 10.77.0.3"; }
wait_for 10 "h1's DHCP port allocated" dhcp_port
ok "the controller allocated h1's DHCP port (10.77.0.3)"

bridge_up() { ip -n $NS -d link show $BR | grep "bridge " >/dev/null; }
wait_for 15 "bridge $BR in $NS" bridge_up
ip -n $NS -d link show $VX | grep -E "vxlan id 300 local 10.250.0.1 " >/dev/null ||
	fail "vxlan: $(ip -n $NS -d link show $VX 2>&1)"
ip -n $NS link show $BR | grep "mtu 1450" >/dev/null || fail "bridge MTU"
ok "bridge $BR and vxlan $VX (VNI 300, local 10.250.0.1, MTU 1450)"

dnsmasq_pid() {
	local p
	p=$(cat "$PIDF" 2>/dev/null) && [ -n "$p" ] &&
	    tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep "^dnsmasq .*--pid-file=$PIDF" >/dev/null &&
	    echo "$p"
}
wait_for 15 "dnsmasq for $NET" dnsmasq_pid
ip -n $NS addr show $BR | grep "inet 10.77.0.3/24" >/dev/null || fail "DHCP address on the bridge: $(ip -n $NS addr show $BR)"
grep -qx "$MAC,10.77.0.2,vm-one" "$T/h1dhcp/$NET/hosts" || fail "hosts file: $(cat "$T/h1dhcp/$NET/hosts")"
ok "dnsmasq serves from 10.77.0.3 with the port's hosts entry"
applied() { grep -E "host_network generation [0-9]+: 1 networks" "$T/agent-h1.log"; }
wait_for 5 "the agent applied it" applied

# ---- the dataplane heals within the agent's tick
OLD=$(dnsmasq_pid)
kill "$OLD"
new_dnsmasq() { local p; p=$(dnsmasq_pid) && [ "$p" != "$OLD" ]; }
wait_for 15 "dnsmasq back" new_dnsmasq
ok "dnsmasq killed: back within the tick"
ip -n $NS link del $BR
wait_for 15 "bridge back" bridge_up
ip -n $NS -d link show $VX | grep "master $BR" >/dev/null || fail "$VX not enslaved again"
ok "bridge deleted by hand: back within the tick"

# ---- the port leaves
"$SEED" "$T/controller.conf" port-delete $PORT1 || fail "port delete"
bridge_gone() { ! ip -n $NS link show $BR >/dev/null 2>&1; }
wait_for 15 "bridge gone" bridge_gone
no_dnsmasq() { ! dnsmasq_pid; }
wait_for 10 "dnsmasq stopped" no_dnsmasq
no_dhcp_port() { [ -z "$("$SEED" "$T/controller.conf" dhcp-ports)" ]; }
wait_for 10 "DHCP port released" no_dhcp_port
ok "port deleted: the network left h1 and its DHCP port was released"
