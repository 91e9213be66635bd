#!/bin/bash
# The agent's distributed routers and floating IPs (agent/net/router.c) on
# the real kernel, driven by tests/integ/netctl (netconv over netlink, the
# router namespaces through ip and nft):
#  - a fake host (netns) with two VXLAN tenant networks and the flat
#    external network "public" (mapped to a veth whose peer is in an "ext"
#    netns holding 172.24.4.1/24, as devstack's br-ex); veth "guests" in
#    their own namespaces, their host ends named as taps;
#  - a router with an interface on each tenant subnet, a gateway with SNAT
#    on this host and a floating IP for guest 1: its namespace, veths,
#    addresses and the host table tinystack_l3 appear;
#  - east-west: guest 1 pings guest 2 across the two subnets;
#  - ext reaches guest 1's TCP port through its floating IP and sees
#    guest 1's outgoing connections from the floating IP; guest 2 (no
#    floating IP) reaches ext through SNAT, seen as the gateway_ip;
#  - gratuitous ARP: ext's stale neighbour entries of the floating IP and
#    the gateway, naming a MAC that is nobody's (as after a move from
#    another host), take qg's MAC without ext asking (3 rounds of ARP
#    request + reply, counted in ext); netctl restarted over what exists
#    (an agent restart) announces them again;
#  - disassociating the floating IP cuts ext -> guest 1 (an established
#    TCP session too: conntrack entries deleted) and removes its
#    address; a namespace interface deleted by hand comes back;
#  - the router removed: its namespace and the host table go.
# Every namespace is named tsrt-*-$$ (router namespaces tsr-*-rt$$) and
# removed on exit; no traffic leaves them.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then echo "FAIL: needs root (network namespaces)"; exit 1; fi
for p in busybox ip nft conntrack python3; do
	command -v $p >/dev/null || { echo "FAIL: $p not installed (packaging/install-deps.sh)"; exit 1; }
done
NETCTL=$TS_BUILD_DIR/tests/unit/netctl
[ -x "$NETCTL" ] || fail "netctl not built ($NETCTL): cmake --build build --target netctl"

H=tsrt-h-$$; EXT=tsrt-e-$$; G1=tsrt-g1-$$; G2=tsrt-g2-$$
TAG=rt$$
NA=a71c2a30-0000-4000-8000-0000000000b1; SA=aa100000-0000-4000-8000-0000000000b1
NB=b72c2a30-0000-4000-8000-0000000000b2; SB=aa200000-0000-4000-8000-0000000000b2
NX=e7ec2a30-0000-4000-8000-0000000000be; SX=aae00000-0000-4000-8000-0000000000be
P1=bb100000-0000-4000-8000-0000000000b1; P2=bb200000-0000-4000-8000-0000000000b2
RID=12345678-9abc-4def-8000-0000000000b9
RNS=tsr-123456789ab-$TAG
QG=qg-123456789ab
TAP1=tapbb100000000; TAP2=tapbb200000000

rt_cleanup() {
	local rc=$?
	stop_daemons_and_dnsmasq
	for n in $H $EXT $G1 $G2 $RNS; do ip netns del $n 2>/dev/null || true; done
	set +e
	(exit $rc)
	cleanup
}
trap rt_cleanup EXIT

# desired GEN FIPS ROUTERS: the host_network in $T/h.json.
desired() {
	cat > "$T/h.json.new" <<J
{"host":"h","generation":$1,"networks":[
 {"id":"$NA","type":"vxlan","segmentation_id":101,"mtu":1450,"vxlan_peers":["10.98.0.2"]},
 {"id":"$NB","type":"vxlan","segmentation_id":102,"mtu":1450,"vxlan_peers":["10.98.0.2"]},
 {"id":"$NX","type":"flat","physical_network":"public","mtu":1500}],
 "subnets":[
 {"id":"$SA","network_id":"$NA","cidr":"10.71.0.0/24","ip_version":4,"gateway_ip":"10.71.0.1","enable_dhcp":false},
 {"id":"$SB","network_id":"$NB","cidr":"10.72.0.0/24","ip_version":4,"gateway_ip":"10.72.0.1","enable_dhcp":false},
 {"id":"$SX","network_id":"$NX","cidr":"172.24.4.0/24","ip_version":4,"gateway_ip":"172.24.4.1","enable_dhcp":false}],
 "ports":[
 {"id":"$P1","network_id":"$NA","mac":"52:54:00:71:00:05","fixed_ips":[{"subnet_id":"$SA","ip_address":"10.71.0.5"}]},
 {"id":"$P2","network_id":"$NB","mac":"52:54:00:72:00:06","fixed_ips":[{"subnet_id":"$SB","ip_address":"10.72.0.6"}]}],
 "routers":[$3]}
J
	mv "$T/h.json.new" "$T/h.json"
}
router() {	# router FIPS
	echo "{\"id\":\"$RID\",\"interfaces\":[
 {\"subnet_id\":\"$SA\",\"network_id\":\"$NA\",\"ip_address\":\"10.71.0.1\",\"mac\":\"fa:16:3e:71:00:01\"},
 {\"subnet_id\":\"$SB\",\"network_id\":\"$NB\",\"ip_address\":\"10.72.0.1\",\"mac\":\"fa:16:3e:72:00:01\"}],
 \"gateway_network_id\":\"$NX\",\"gateway_subnet_id\":\"$SX\",\"gateway_ip\":\"172.24.4.2\",
 \"enable_snat\":true,\"snat_host\":true,\"floatingips\":[$1]}"
}
FIP1="{\"id\":\"f1000000-0000-4000-8000-0000000000b1\",\"floating_ip\":\"172.24.4.10\",\"fixed_ip\":\"10.71.0.5\",\"port_id\":\"$P1\"}"

# The fake host: an underlay address for the VXLAN devices, the external
# uplink ex0 (peer in EXT), and the guests' veths named as taps.
for n in $H $EXT $G1 $G2; do ip netns add $n; ip -n $n link set lo up; done
ip -n $H link add ul0 type veth peer name ul1
ip -n $H addr add 10.98.0.1/24 dev ul0
ip -n $H link set ul0 up; ip -n $H link set ul1 up
ip link add ex0 netns $H type veth peer name eth0 netns $EXT
ip -n $H link set ex0 up
ip -n $EXT addr add 172.24.4.1/24 dev eth0; ip -n $EXT link set eth0 up
# ext as a floating IP's old host left it: stale entries of the floating
# IP and the gateway naming a MAC that is nobody's. Counted in ext: the
# gratuitous ARPs that arrive (sender = target) and the ARP requests ext
# sends for these addresses itself (none: it must learn by being told).
OLDMAC=02:00:00:00:00:99
ip -n $EXT neigh add 172.24.4.10 lladdr $OLDMAC dev eth0 nud stale
ip -n $EXT neigh add 172.24.4.2 lladdr $OLDMAC dev eth0 nud stale
ip netns exec $EXT nft -f - <<N || fail "nft arp counters in $EXT"
table arp garp {
	chain in {
		type filter hook input priority 0; policy accept;
		arp operation request arp saddr ip 172.24.4.10 arp daddr ip 172.24.4.10 counter comment "req10"
		arp operation reply arp saddr ip 172.24.4.10 arp daddr ip 172.24.4.10 counter comment "rep10"
		arp operation request arp saddr ip 172.24.4.2 arp daddr ip 172.24.4.2 counter comment "req2"
	}
	chain out {
		type filter hook output priority 0; policy accept;
		arp operation request arp daddr ip { 172.24.4.2, 172.24.4.10 } counter comment "ask"
	}
}
N
# garps NAME: packets of ext's arp counter NAME.
garps() { ip netns exec $EXT nft list table arp garp | sed -n "s/.* counter packets \([0-9]*\) .*comment \"$1\".*/\1/p"; }
guest() {	# guest NS TAP MAC IP/PREFIX GW
	ip link add $2 netns $H mtu 1450 type veth peer name eth0 netns $1 mtu 1450
	ip -n $H link set $2 up
	ip -n $1 link set eth0 address $3 up
	ip -n $1 addr add $4 dev eth0
	ip -n $1 route add default via $5
}
guest $G1 $TAP1 52:54:00:71:00:05 10.71.0.5/24 10.71.0.1
guest $G2 $TAP2 52:54:00:72:00:06 10.72.0.6/24 10.72.0.1

# HTTP servers: guest 1 serves a page, ext tells who connected.
mkdir -p "$T/www1/cgi-bin" "$T/wwwx/cgi-bin"
echo guest-one > "$T/www1/index.html"
printf '#!/bin/sh\necho "Content-type: text/plain"\necho\necho "$REMOTE_ADDR"\n' > "$T/wwwx/cgi-bin/ip"
cp "$T/wwwx/cgi-bin/ip" "$T/www1/cgi-bin/ip"
chmod 755 "$T" "$T/www1" "$T/wwwx" "$T"/*/cgi-bin "$T"/*/cgi-bin/ip
ip netns exec $G1 busybox httpd -f -p 10.71.0.5:8080 -h "$T/www1" & PIDS+=($!)
ip netns exec $EXT busybox httpd -f -p 172.24.4.1:8080 -h "$T/wwwx" & PIDS+=($!)

desired 1 "" "$(router "$FIP1")"
netctl_serve() {
	nsenter --net=/run/netns/$H "$NETCTL" --state-dir "$T/hdhcp" --local-ip 10.98.0.1 \
	    --ifmap public:ex0 --router-tag $TAG --tick-ms 200 \
	    serve "$T/h.json" "$T/h.state" >> "$T/netctl.log" 2>&1 &
	NCPID=$!
	PIDS+=($NCPID)
}
netctl_serve

has_addr() { ip -n $RNS -br addr show dev $1 2>/dev/null | grep -w -- "$2" >/dev/null; }
wait_for 15 "router namespace with the floating IP on $QG" has_addr $QG 172.24.4.10/32
has_addr $QG 172.24.4.2/24 || fail "gateway_ip not on $QG"
has_addr qr-aa100000000 10.71.0.1/24 || fail "interface address missing"
# Forwarding is the router's last step, after its ruleset (a router must
# not route before its NAT is in): wait for it, the address came earlier.
forwarding() { [ "$(ip netns exec $RNS cat /proc/sys/net/ipv4/ip_forward)" = 1 ]; }
wait_for 15 "forwarding in the router namespace" forwarding
[ "$(ip netns exec $H cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || fail "forwarding switched on in the host namespace"
ip -n $RNS link show qr-aa100000000 | grep -i "fa:16:3e:71:00:01" >/dev/null || fail "router MAC not set"
ok "router namespace: interfaces with the router's addresses and MACs, gateway and floating IP on $QG, forwarding only inside"

QGMAC=$(ip -n $RNS -o link show $QG | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[ -n "$QGMAC" ] || fail "no MAC on $QG"
ext_neigh() { ip -n $EXT neigh show $1 dev eth0 | grep "lladdr $2 " >/dev/null; }
wait_for 10 "ext's entry of 172.24.4.10 to name $QG's MAC" ext_neigh 172.24.4.10 $QGMAC
wait_for 10 "ext's entry of 172.24.4.2 to name $QG's MAC" ext_neigh 172.24.4.2 $QGMAC
rounds() { [ "$(garps req10)" = "$1" ] && [ "$(garps rep10)" = "$1" ] && [ "$(garps req2)" = "$1" ]; }
wait_for 15 "3 rounds of gratuitous ARP (request and reply) for 172.24.4.10 and 172.24.4.2" rounds 3
[ "$(garps ask)" = 0 ] || fail "ext sent $(garps ask) ARP requests for the addresses itself"
ok "gratuitous ARP: ext's stale entries of 172.24.4.10 and 172.24.4.2 name $QG's MAC without ext asking; 3 rounds of request and reply each"

# An agent restart: netctl again over what exists adopts the router and
# announces qg's addresses again (they may have moved while it was away).
kill $NCPID
wait $NCPID 2>/dev/null
ip -n $EXT neigh replace 172.24.4.10 lladdr $OLDMAC dev eth0 nud stale
netctl_serve
wait_for 10 "ext's entry of 172.24.4.10 back on $QG's MAC after the restart" ext_neigh 172.24.4.10 $QGMAC
[ "$(garps req10)" -gt 3 ] || fail "no new gratuitous ARP of 172.24.4.10 after the restart"
[ "$(garps ask)" = 0 ] || fail "ext sent $(garps ask) ARP requests for the addresses itself"
has_addr $QG 172.24.4.10/32 || fail "the floating IP lost over the restart"
ok "netctl restarted over the existing router: 172.24.4.10 announced again, ext's entry back on $QG's MAC"
l3_up() { ip netns exec $H nft list table bridge tinystack_l3 > "$T/l3.txt"; }
wait_for 10 "host table tinystack_l3" l3_up
grep 'iifname "tsva71c2a30000" ether saddr fa:16:3e:71:00:01 drop' "$T/l3.txt" >/dev/null &&
    grep 'oifname "tsva71c2a30000" arp daddr ip 10.71.0.1 drop' "$T/l3.txt" >/dev/null ||
    fail "host table tinystack_l3 lacks the router's rules: $(cat "$T/l3.txt")"
ok "host table tinystack_l3 keeps the router MAC and ARP off the VXLAN uplinks"

ping_ok() { ip netns exec $1 busybox ping -c 1 -W 1 $2; }
wait_for 15 "guest 1 pings guest 2 through the router" ping_ok $G1 10.72.0.6
ip netns exec $G1 busybox ping -c 1 -W 1 10.72.0.6 | grep 'ttl=63' >/dev/null || fail "east-west not routed (ttl)"
ok "east-west: guest 1 (10.71.0.5) pings guest 2 (10.72.0.6), routed on this host (ttl 63)"

# busybox 1.35 wget -T crashes: timeout(1) bounds it instead.
get() { ip netns exec $1 timeout 3 busybox wget -q -O - "$2"; }
wait_for ${TSRT_WAIT:-15} "ext reaches guest 1 through its floating IP" get $EXT http://172.24.4.10:8080/
[ "$(get $EXT http://172.24.4.10:8080/)" = guest-one ] || fail "wrong page via the floating IP"
ok "ext reaches guest 1's TCP port 8080 through floating IP 172.24.4.10"
[ "$(get $G1 http://172.24.4.1:8080/cgi-bin/ip)" = 172.24.4.10 ] || fail "guest 1 not seen as its floating IP"
ok "guest 1 reaches ext, seen as its floating IP 172.24.4.10"
src=$(get $G2 http://172.24.4.1:8080/cgi-bin/ip) || fail "guest 2 cannot reach ext through SNAT"
[ "$src" = 172.24.4.2 ] || fail "guest 2 seen as '$src', want the gateway_ip 172.24.4.2"
ok "guest 2 (no floating IP) reaches ext through SNAT, seen as gateway_ip 172.24.4.2"

# A hand-deleted namespace interface comes back (level-triggered).
ip -n $RNS link del qr-aa200000000
wait_for 10 "qr-aa200000000 back" has_addr qr-aa200000000 10.72.0.1/24
wait_for 10 "east-west again" ping_ok $G1 10.72.0.6
ok "an interface deleted by hand in the router namespace comes back within a tick"

# An established TCP session from ext to guest 1 through the floating IP
# (an echo, one line every 0.1 s; $T/sess holds the count of echoes, then
# "cut" when one is not answered within 1 s). NAT is decided at a flow's
# first packet: unless its conntrack entry goes with the floating IP, the
# session keeps the old translation.
cp "$(dirname "$0")/echo_server.py" "$T/srv.py"
cp "$(dirname "$0")/echo_session.py" "$T/session.py"
ip netns exec $G1 python3 -S "$T/srv.py" 5009 10.71.0.5 & PIDS+=($!)
wait_for 5 "echo server in guest 1" sh -c "ip netns exec $G1 ss -ltn | grep -q :5009"
ip netns exec $EXT python3 -S "$T/session.py" 172.24.4.10 5009 "$T/sess" & PIDS+=($!)
wait_for 10 "session ext -> 172.24.4.10:5009 running" sh -c "[ \"\$(cat $T/sess 2>/dev/null)\" -gt 5 ] 2>/dev/null"
ip netns exec $RNS conntrack -L -d 172.24.4.10 2>/dev/null | grep "dport=5009" >/dev/null ||
	fail "session not tracked in the router namespace: $(ip netns exec $RNS conntrack -L 2>&1)"

# Disassociate the floating IP.
desired 2 "" "$(router "")"
gone_addr() { ! has_addr $QG 172.24.4.10/32; }
wait_for 10 "floating IP address removed" gone_addr
no_dnat() { ip netns exec $RNS nft list table ip tinystack_router > "$T/rules.txt" && ! grep 172.24.4.10 "$T/rules.txt"; }
wait_for 10 "floating IP rules removed" no_dnat
has_addr $QG 172.24.4.2/24 || fail "gateway_ip lost with the floating IP"
if get $EXT http://172.24.4.10:8080/ >/dev/null 2>&1; then fail "floating IP still reaches guest 1"; fi
[ "$(get $G1 http://172.24.4.1:8080/cgi-bin/ip)" = 172.24.4.2 ] || fail "guest 1 not SNATed to the gateway_ip after the disassociation"
ok "disassociated: ext no longer reaches guest 1, its address and rules are gone, guest 1 leaves through SNAT"
wait_for 5 "established session through the old floating IP cut" grep -qx cut "$T/sess"
# Retransmits after the cut make new, untranslated entries: only one
# still translating to the guest (reply source 10.71.0.5) is wrong.
ip netns exec $RNS conntrack -L -d 172.24.4.10 2>/dev/null | grep "dport=5009 .*src=10.71.0.5" >/dev/null &&
	fail "conntrack entry translating the old floating IP left: $(ip netns exec $RNS conntrack -L 2>&1)"
ok "disassociated: the established session through the floating IP is cut (its conntrack entries deleted)"

# The router removed: its namespace and the host table go.
desired 3 "" ""
ns_gone() { ! ip netns list | grep -w $RNS; }
wait_for 10 "router namespace removed" ns_gone
l3_gone() { ! ip netns exec $H nft list table bridge tinystack_l3; }
wait_for 10 "host table removed" l3_gone
ip -n $H link show $TAP1 >/dev/null || fail "a guest tap was removed"
ok "router removed: its namespace (and veths) and the host table are gone, guests untouched"
