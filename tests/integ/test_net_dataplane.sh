#!/bin/bash
# The agent's L2 + DHCP dataplane (agent/net) on the real kernel and
# dnsmasq, driven by tests/integ/netctl (netconv over netlink):
#  - host 1 (netns) converges a VXLAN network: bridge, VXLAN device (VNI,
#    local address, dstport 4789, nolearning) enslaved to it, one flood
#    entry per peer, the DHCP address on the bridge, dnsmasq;
#  - a client netns on a veth to the bridge gets its fixed IP (and router,
#    MTU, classless routes) from `busybox udhcpc`;
#  - host 2 converges the same network with host 1 as its peer; the two
#    clients ping each other across VXLAN over a veth underlay;
#  - a peer leaves: its flood entry goes; dnsmasq killed: back within a
#    tick; bridge deleted by hand: back within a tick; empty desired
#    state: everything owned is gone;
#  - VLAN networks need 8021q, which this kernel lacks: not run here (the
#    golden test tests/golden/net/link_vlan.txt covers the operations).
# Every namespace is named tsnt-*-$$ and removed on exit; no traffic leaves
# them.
source "$(dirname "$0")/lib.sh"
# With pipefail, `cmd | grep -q` fails when grep exits early and cmd gets
# SIGPIPE: pipelines here let grep read everything (>/dev/null).

# CI is root and packaging/install-deps.sh installs every tool: a missing
# one is a broken set-up, not a reason to skip.
if [ "$(id -u)" != 0 ]; then echo "FAIL: needs root (network namespaces)"; exit 1; fi
for p in dnsmasq busybox bridge ip; do
	command -v $p >/dev/null || { echo "FAIL: $p not installed (packaging/install-deps.sh)"; exit 1; }
done
NETCTL=$TS_BUILD_DIR/tests/unit/netctl
[ -x "$NETCTL" ] || fail "netctl not built ($NETCTL): cmake --build build --target netctl"

H1=tsnt-h1-$$; H2=tsnt-h2-$$; C1=tsnt-c1-$$; C2=tsnt-c2-$$
VC1=tsnt-v1-$$; VC2=tsnt-v2-$$; VC3=tsnt-v3-$$	# VLAN clients
NET=6f1c2a30-0000-4000-8000-0000000000a1
SUB=aa000000-0000-4000-8000-0000000000a1
BR=tsb6f1c2a30000; VX=tsv6f1c2a30000
# dnsmasq re-reads its files as an unprivileged user after SIGHUP.
chmod 755 "$T"

net_cleanup() {
	local rc=$? f pid
	stop_daemons_and_dnsmasq
	for n in $H1 $H2 $C1 $C2 $VC1 $VC2 $VC3; do ip netns del $n 2>/dev/null || true; done
	# lib.sh's cleanup reads the status from $?; set -e must not fire.
	set +e
	(exit $rc)
	cleanup
}
trap net_cleanup EXIT

# desired FILE GENERATION DHCP_ADDRESS "PEERS" "PORTS": a host_network with
# the one VXLAN network (or none if PEERS is "none").
desired() {
	local f=$1 gen=$2 dhcp=$3 peers=$4 ports=$5
	if [ "$peers" = none ]; then
		echo "{\"host\":\"h\",\"generation\":$gen,\"networks\":[]}" > "$f.new"
	else
		cat > "$f.new" <<J
{"host":"h","generation":$gen,"networks":[{"id":"$NET","type":"vxlan",
 "segmentation_id":42,"mtu":1450,"vxlan_peers":[$peers]}],
 "subnets":[{"id":"$SUB","network_id":"$NET","cidr":"10.66.0.0/24",
   "ip_version":4,"gateway_ip":"10.66.0.1","enable_dhcp":true,
   "dhcp_address":"$dhcp","dns_nameservers":["10.66.0.1"],
   "host_routes":[{"destination":"10.20.0.0/16","nexthop":"10.66.0.254"}]}],
 "ports":[$ports]}
J
	fi
	mv "$f.new" "$f"
}
port() {	# port N MAC IP HOSTNAME
	echo "{\"id\":\"bb000000-0000-4000-8000-00000000000$1\",\"network_id\":\"$NET\",\"mac\":\"$2\",\"fixed_ips\":[{\"subnet_id\":\"$SUB\",\"ip_address\":\"$3\"}],\"hostname\":\"$4\"}"
}
P1=$(port 1 52:54:00:66:00:10 10.66.0.10 vm-one)
# JSON escapes: the name holds a quote and a newline.
P2=$(port 2 52:54:00:66:00:11 10.66.0.11 'evil,name\"\n--dhcp-script=/bin/sh')

# Underlay: a veth between the two host namespaces.
ip netns add $H1; ip netns add $H2; ip netns add $C1; ip netns add $C2
for n in $H1 $H2 $C1 $C2; do ip -n $n link set lo up; done
ip link add u0 netns $H1 type veth peer name u0 netns $H2
ip -n $H1 addr add 10.99.0.1/24 dev u0; ip -n $H1 link set u0 up
ip -n $H2 addr add 10.99.0.2/24 dev u0; ip -n $H2 link set u0 up

serve() {	# serve HOST N LOCAL_IP [EXT]: desired state in $T/hN.EXT
	ip netns exec $1 "$NETCTL" --state-dir "$T/h$2dhcp" --local-ip $3 \
	    --tick-ms 200 serve "$T/h$2.${4:-json}" "$T/h$2.state" >> "$T/netctl-h$2.log" 2>&1 &
	PIDS+=($!)
}
state_ok() { grep -q '"ok":true' "$1" && grep -q '"dhcp":true' "$1"; }

# ---- host 1 alone
desired "$T/h1.json" 1 10.66.0.2 '"10.99.0.2","10.99.0.3"' "$P1"
serve $H1 1 10.99.0.1
wait_for 10 "host 1 converged" state_ok "$T/h1.state"
ok "host 1 reports the network converged with DHCP"

ip -n $H1 -d link show $BR | grep "bridge " >/dev/null || fail "no bridge $BR"
ip -n $H1 link show $BR | grep "mtu 1450" >/dev/null || fail "bridge MTU"
ip -n $H1 -d link show $VX | grep "master $BR" >/dev/null || fail "$VX not enslaved"
ip -n $H1 -d link show $VX | grep -E "vxlan id 42 local 10.99.0.1 .*dstport 4789 nolearning" >/dev/null ||
	fail "vxlan parameters: $(ip -n $H1 -d link show $VX)"
ok "bridge $BR and vxlan $VX (VNI 42, local, dstport 4789, nolearning) exist"
# The bridge's address is set once: a port with a lower MAC joining and
# leaving does not move it (guests' ARP entries for the DHCP address stay).
brmac() { ip -n $H1 -o link show $BR | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p'; }
M0=$(brmac)
ip link add tslow0 netns $H1 address 00:00:5e:00:00:01 type veth peer name tslow1 netns $H1
ip -n $H1 link set tslow0 master $BR up
[ "$(brmac)" = "$M0" ] || fail "bridge MAC followed a port: $M0 -> $(brmac)"
ip -n $H1 link del tslow0
[ "$(brmac)" = "$M0" ] || fail "bridge MAC changed when a port left"
ok "the bridge keeps its own address ($M0) as ports come and go"
fdb() { ip netns exec $H1 bridge fdb show dev $VX | grep "^00:00:00:00:00:00 dst $1 "; }
fdb 10.99.0.2 >/dev/null && fdb 10.99.0.3 >/dev/null || fail "fdb: $(ip netns exec $H1 bridge fdb show dev $VX)"
ok "one flood entry per peer"
ip -n $H1 addr show dev $BR | grep "inet 10.66.0.2/24" >/dev/null || fail "DHCP address not on the bridge"
grep -qx "52:54:00:66:00:10,10.66.0.10,vm-one" "$T"/h1dhcp/$NET/hosts || fail "hosts file"
ok "DHCP address on the bridge, hosts file MAC,IP,hostname"

# Client 1: a veth to the bridge with port 1's MAC.
cat > "$T/udhcpc.sh" <<'S'
#!/bin/sh
# busybox udhcpc hook: configure the lease, log what the server sent.
case "$1" in bound|renew)
	ip addr add "$ip/$mask" dev "$interface"
	echo "ip=$ip router=$router mtu=$mtu staticroutes=$staticroutes dns=$dns" >> "$LOG";;
esac
S
chmod 755 "$T/udhcpc.sh"
ip link add c0 netns $C1 address 52:54:00:66:00:10 type veth peer name tap1 netns $H1
ip -n $H1 link set tap1 master $BR up; ip -n $C1 link set c0 up
timeout 30 ip netns exec $C1 env LOG="$T/c1.lease" busybox udhcpc -i c0 -n -q -f -O mtu -O staticroutes \
	-t 10 -T 1 -s "$T/udhcpc.sh" > "$T/udhcpc-c1.log" 2>&1 || fail "udhcpc on client 1: $(cat "$T/udhcpc-c1.log")"
grep -q "ip=10.66.0.10 router=10.66.0.1 mtu=1450" "$T/c1.lease" || fail "lease: $(cat "$T/c1.lease")"
grep -q "staticroutes=10.20.0.0/16 10.66.0.254 0.0.0.0/0 10.66.0.1" "$T/c1.lease" || fail "routes: $(cat "$T/c1.lease")"
ok "client 1 got its fixed IP 10.66.0.10 with router, MTU 1450 and classless routes"

# ---- host 2: the same network, host 1 as peer; its own port and DHCP address
# Host 2 reads the message body as msgpack, as it comes off the bus.
desired "$T/h2.json" 1 10.66.0.3 '"10.99.0.1"' "$P2"
"$NETCTL" encode "$T/h2.json" "$T/h2.msgpack" || fail "encode host 2's state"
serve $H2 2 10.99.0.2 msgpack
wait_for 10 "host 2 converged" state_ok "$T/h2.state"
HN=$(cut -d, -f3 "$T"/h2dhcp/$NET/hosts)
[ "$(wc -l < "$T"/h2dhcp/$NET/hosts)" = 1 ] && echo "$HN" | grep -Eqx '[a-z][a-z0-9-]{0,62}' ||
	fail "hostile hostname not sanitised: $(cat "$T"/h2dhcp/$NET/hosts)"
ok "host 2 converged; a hostile hostname became '$HN' (one line, [a-z0-9-])"
ip link add c0 netns $C2 address 52:54:00:66:00:11 type veth peer name tap2 netns $H2
ip -n $H2 link set tap2 master $BR up; ip -n $C2 link set c0 up
timeout 30 ip netns exec $C2 env LOG="$T/c2.lease" busybox udhcpc -i c0 -n -q -f -O mtu -O staticroutes \
	-t 10 -T 1 -s "$T/udhcpc.sh" > "$T/udhcpc-c2.log" 2>&1 || fail "udhcpc on client 2: $(cat "$T/udhcpc-c2.log")"
grep -q "ip=10.66.0.11 " "$T/c2.lease" || fail "lease 2: $(cat "$T/c2.lease")"
ok "client 2 got 10.66.0.11 from host 2's dnsmasq"
ip netns exec $C1 busybox ping -c 2 -W 2 10.66.0.11 > "$T/ping.log" 2>&1 || fail "ping across VXLAN: $(cat "$T/ping.log")"
ip netns exec $C2 busybox ping -c 1 -W 2 10.66.0.10 >> "$T/ping.log" 2>&1 || fail "ping back across VXLAN"
ok "clients on host 1 and host 2 ping each other across VXLAN"

# ---- host 1: a peer leaves and a port arrives (new generation)
PIDF=$T/h1dhcp/$NET/pid
OLD=$(cat "$PIDF")
P3=$(port 3 52:54:00:66:00:12 10.66.0.12 vm-three)
desired "$T/h1.json" 2 10.66.0.2 '"10.99.0.2"' "$P1,$P3"
gen2() { grep -q '"generation":2' "$T/h1.state"; }
wait_for 10 "host 1 reports generation 2" gen2
state_ok "$T/h1.state" || fail "state: $(cat "$T/h1.state")"
! fdb 10.99.0.3 >/dev/null || fail "flood entry of 10.99.0.3 still there"
fdb 10.99.0.2 >/dev/null || fail "flood entry of 10.99.0.2 lost"
ok "peer 10.99.0.3 left: its flood entry is gone, 10.99.0.2 stays (generation 2)"
grep -qx "52:54:00:66:00:12,10.66.0.12,vm-three" "$T"/h1dhcp/$NET/hosts || fail "new port not in the hosts file"
[ "$(cat "$PIDF")" = "$OLD" ] || fail "dnsmasq was restarted for a new port"
ip link add c1b netns $C1 address 52:54:00:66:00:12 type veth peer name tap1b netns $H1
ip -n $H1 link set tap1b master $BR up; ip -n $C1 link set c1b up
timeout 30 ip netns exec $C1 env LOG="$T/c1b.lease" busybox udhcpc -i c1b -n -q -f \
	-t 10 -T 1 -s /bin/true > "$T/udhcpc-c1b.log" 2>&1 || fail "udhcpc for the new port: $(cat "$T/udhcpc-c1b.log")"
grep -q "lease of 10.66.0.12 obtained" "$T/udhcpc-c1b.log" || fail "new port lease: $(cat "$T/udhcpc-c1b.log")"
ok "a new port is served after a reload (SIGHUP), same dnsmasq ($OLD)"

# ---- a port deleted, its address given to a new port (another MAC)
# dnsmasq offers no address leased to another client: the old lease must
# be released for the new port to get it.
P4=$(port 4 52:54:00:66:00:13 10.66.0.12 vm-four)
desired "$T/h1.json" 3 10.66.0.2 '"10.99.0.2"' "$P1,$P4"
released() { ! grep -q " 52:54:00:66:00:12 " "$T/h1dhcp/$NET/leases"; }
wait_for 10 "the deleted port's lease released" released
ip link add c1c netns $C1 address 52:54:00:66:00:13 type veth peer name tap1c netns $H1
ip -n $H1 link set tap1c master $BR up; ip -n $C1 link set c1c up
timeout 30 ip netns exec $C1 busybox udhcpc -i c1c -n -q -f \
	-t 10 -T 1 -s /bin/true > "$T/udhcpc-c1c.log" 2>&1 || fail "udhcpc for the reused address: $(cat "$T/udhcpc-c1c.log")"
grep -q "lease of 10.66.0.12 obtained" "$T/udhcpc-c1c.log" || fail "reused address: $(cat "$T/udhcpc-c1c.log")"
ok "a deleted port's lease is released: its address serves the next port at once"

# ---- dnsmasq killed -> restarted within a tick
kill -9 "$OLD"
restarted() {
	local p
	p=$(cat "$PIDF" 2>/dev/null) && [ -n "$p" ] && [ "$p" != "$OLD" ] &&
	    tr '\0' ' ' < /proc/$p/cmdline | grep "^dnsmasq .*--pid-file=$PIDF" >/dev/null
}
wait_for 10 "dnsmasq restarted" restarted
ok "killed dnsmasq ($OLD) runs again ($(cat "$PIDF"))"

# ---- bridge deleted by hand -> back within a tick (with its uplink)
ip -n $H1 link del $BR
back() {
	ip -n $H1 -d link show $VX | grep "master $BR" >/dev/null &&
	    ip -n $H1 addr show dev $BR | grep "inet 10.66.0.2/24" >/dev/null &&
	    ip -n $H1 link show $BR | grep ",UP" >/dev/null
}
wait_for 10 "bridge recreated" back
ok "hand-deleted bridge is back, vxlan enslaved, DHCP address restored"
# The guest's tap is the hypervisor's to re-plug (libvirt); here by hand.
ip -n $H1 link set tap1 master $BR
ip netns exec $C1 busybox ping -c 1 -W 3 10.66.0.11 > /dev/null 2>&1 ||
	ip netns exec $C1 busybox ping -c 1 -W 3 10.66.0.11 > "$T/ping2.log" 2>&1 || fail "ping after bridge recreation"
ok "traffic crosses VXLAN again after the bridge came back"

# ---- restart the converger on host 1: adopts, changes nothing
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
BEFORE=$(cat "$PIDF")
: > "$T/netctl-h1.log"
serve $H1 1 10.99.0.1
sleep 1
state_ok "$T/h1.state" || fail "state after restart"
[ "$(cat "$PIDF")" = "$BEFORE" ] || fail "dnsmasq restarted on adoption"
! grep -Eq "created|starting|deleting|recreating" "$T/netctl-h1.log" || fail "restart changed things: $(cat "$T/netctl-h1.log")"
ok "a restarted converger adopts the links and dnsmasq as they are"

# ---- empty desired state -> everything owned is gone
# An operator's links whose names merely start like ours stay.
ip -n $H1 link add tsbackup0 type bridge
ip -n $H1 link add tsv1 type bridge
desired "$T/h1.json" 4 - none ""
gone() {
	! ip -n $H1 link show $BR && ! ip -n $H1 link show $VX &&
	    [ -z "$(ls -A "$T/h1dhcp")" ] &&
	    ! tr '\0' ' ' < /proc/$BEFORE/cmdline 2>/dev/null | grep dnsmasq >/dev/null
}
wait_for 10 "owned links and dnsmasq removed" gone
for l in u0 tap1 tsbackup0 tsv1; do
	ip -n $H1 link show $l > /dev/null || fail "$l, a link we do not own, was removed"
done
ok "empty state: bridge, vxlan, dnsmasq and its files gone; underlay, tap and look-alike links kept"

# VLAN: only a kernel without 8021q excuses it (these machines have none);
# the probe asks the kernel itself rather than assuming.
if ! ip -n $H1 link add link u0 name u0.4000 type vlan id 4000 2>/dev/null; then
	echo "SKIP: kernel has no 8021q (creating a VLAN device failed): VLAN networks not run live; golden test net_link_test covers them"
	echo "# $NPASS passed"
	exit 0
fi
ip -n $H1 link del u0.4000

# ---- VLAN: two networks with the same CIDR on VLANs 100 and 101 of the
# underlay (physnet1 -> u0 on both hosts): a client on each host of VLAN
# 100 gets its lease and reaches the other; VLAN 101's client does not.
NV=7e1c2a31-0000-4000-8000-0000000000b1; SV=aa000000-0000-4000-8000-0000000000b1
NW=8e1c2a32-0000-4000-8000-0000000000c1; SW=aa000000-0000-4000-8000-0000000000c1
# The convergers above would prune links outside their own desired state.
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
vnet() {	# vnet NET SUB VID: a VLAN network and its subnet, as JSON pieces
	VNETS+="${VNETS:+,}{\"id\":\"$1\",\"type\":\"vlan\",\"physical_network\":\"physnet1\",\"segmentation_id\":$3,\"mtu\":1500}"
	VSUBS+="${VSUBS:+,}{\"id\":\"$2\",\"network_id\":\"$1\",\"cidr\":\"10.68.0.0/24\",\"ip_version\":4,\"gateway_ip\":\"10.68.0.1\",\"enable_dhcp\":true,\"dhcp_address\":\"$4\",\"dns_nameservers\":[],\"host_routes\":[]}"
}
vport() {	# vport ID NET SUB MAC IP
	echo "{\"id\":\"$1\",\"network_id\":\"$2\",\"mac\":\"$4\",\"fixed_ips\":[{\"subnet_id\":\"$3\",\"ip_address\":\"$5\"}],\"hostname\":\"v\"}"
}
VNETS=""; VSUBS=""
vnet $NV $SV 100 10.68.0.2; vnet $NW $SW 101 10.68.0.3
echo "{\"host\":\"h\",\"generation\":1,\"networks\":[$VNETS],\"subnets\":[$VSUBS],\"ports\":[$(vport cc000000-0000-4000-8000-000000000001 $NV $SV 52:54:00:68:00:10 10.68.0.10),$(vport cc000000-0000-4000-8000-000000000003 $NW $SW 52:54:00:68:00:12 10.68.0.12)]}" > "$T/v1.json"
VNETS=""; VSUBS=""
vnet $NV $SV 100 10.68.0.4
echo "{\"host\":\"h\",\"generation\":1,\"networks\":[$VNETS],\"subnets\":[$VSUBS],\"ports\":[$(vport cc000000-0000-4000-8000-000000000002 $NV $SV 52:54:00:68:00:11 10.68.0.11)]}" > "$T/v2.json"
ip netns exec $H1 "$NETCTL" --state-dir "$T/h1vdhcp" --ifmap physnet1:u0 apply "$T/v1.json" > "$T/v1.out" 2>&1 ||
	fail "VLAN converge on host 1: $(cat "$T/v1.out")"
ip netns exec $H2 "$NETCTL" --state-dir "$T/h2vdhcp" --ifmap physnet1:u0 apply "$T/v2.json" > "$T/v2.out" 2>&1 ||
	fail "VLAN converge on host 2: $(cat "$T/v2.out")"
BV=tsb${NV//-/}; BV=${BV:0:14}; BW=tsb${NW//-/}; BW=${BW:0:14}
ip -n $H1 -d link show u0.100 | grep -q "vlan protocol 802.1Q id 100" || fail "u0.100 on host 1: $(ip -n $H1 -d link show u0.100 2>&1)"
ip -n $H1 link show u0.100 | grep -q "master $BV" || fail "u0.100 not in $BV"
ip -n $H1 link show u0.101 | grep -q "master $BW" || fail "u0.101 not in $BW"
ip -n $H2 link show u0.100 | grep -q "master $BV" || fail "u0.100 not in $BV on host 2"
ok "VLAN networks: u0.100 and u0.101 in their bridges"
ip netns add $VC1; ip netns add $VC2; ip netns add $VC3
vclient() {	# vclient NS HOSTNS BRIDGE MAC TAP IP
	ip link add c0 netns $1 address $4 type veth peer name $5 netns $2
	ip -n $2 link set $5 master $3 up; ip -n $1 link set c0 up
	timeout 30 ip netns exec $1 env LOG="$T/$5.lease" busybox udhcpc -i c0 -n -q -f \
		-t 10 -T 1 -s "$T/udhcpc.sh" > "$T/udhcpc-$5.log" 2>&1 || fail "udhcpc on VLAN ($5): $(cat "$T/udhcpc-$5.log")"
	grep -q "ip=$6 " "$T/$5.lease" || fail "VLAN lease ($5): $(cat "$T/$5.lease")"
}
vclient $VC1 $H1 $BV 52:54:00:68:00:10 tapv1 10.68.0.10
vclient $VC2 $H2 $BV 52:54:00:68:00:11 tapv2 10.68.0.11
vclient $VC3 $H1 $BW 52:54:00:68:00:12 tapv3 10.68.0.12
ok "clients on VLAN 100 (both hosts) and VLAN 101 got their leases"
ip netns exec $VC1 busybox ping -c 2 -W 2 10.68.0.11 > "$T/vping.log" 2>&1 || fail "ping across VLAN 100: $(cat "$T/vping.log")"
ok "VLAN 100's clients reach each other across hosts"
! ip netns exec $VC3 busybox ping -c 2 -W 1 10.68.0.11 > /dev/null 2>&1 || fail "VLAN 101 reached VLAN 100"
! ip netns exec $VC3 busybox ping -c 2 -W 1 10.68.0.10 > /dev/null 2>&1 || fail "VLAN 101 reached VLAN 100 on its own host"
ok "VLAN 101 (same CIDR) reaches neither"
echo "# $NPASS passed"
