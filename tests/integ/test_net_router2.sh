#!/bin/bash
# A distributed router across two fake hosts (agent/net/router.c), driven
# by tests/integ/netctl on each, over a VXLAN underlay (a veth between the
# hosts' namespaces):
#  - both hosts hold both tenant networks and the router (interfaces on
#    both subnets, the same MACs and addresses); guest A (subnet 1) is on
#    host 1, guest B (subnet 2) on host 2;
#  - each router namespace holds A and B as permanent neighbours
#    (net_router.neighbors), on the interface of their subnet;
#  - A pings B and B pings A: each direction routed on the sender's host
#    (ttl 63), its frames leaving with the sender host's MAC
#    (fa:17 + the underlay address), which the other host's bridge learns
#    on its VXLAN port, never the router MAC;
#  - a neighbour withdrawn from host 1 is deleted there, and host 1's
#    router then cannot reach B (its ARP stays local);
#  - the routers removed: namespaces and host tables go.
# Every namespace is named tsr2-*-$$ (router namespaces tsr-*-r2h{1,2}$$)
# and removed on exit; no traffic leaves them.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then echo "FAIL: needs root (network namespaces)"; exit 1; fi
for p in busybox bridge ip nft nsenter; do
	command -v $p >/dev/null || { echo "FAIL: $p not installed (packaging/install-deps.sh)"; exit 1; }
done
NETCTL=$TS_BUILD_DIR/tests/unit/netctl
[ -x "$NETCTL" ] || fail "netctl not built ($NETCTL): cmake --build build --target netctl"

H1=tsr2-h1-$$; H2=tsr2-h2-$$; GA=tsr2-ga-$$; GB=tsr2-gb-$$
NA=a81c2a30-0000-4000-8000-0000000000c1; SA=ab100000-0000-4000-8000-0000000000c1
NB=b82c2a30-0000-4000-8000-0000000000c2; SB=ab200000-0000-4000-8000-0000000000c2
PA=bc100000-0000-4000-8000-0000000000c1; PB=bc200000-0000-4000-8000-0000000000c2
RID=23456789-abcd-4def-8000-0000000000c9
RNS1=tsr-23456789abc-r2h1$$; RNS2=tsr-23456789abc-r2h2$$
QRA=qr-ab100000000; QRB=qr-ab200000000
BRA=tsba81c2a30000; VXA=tsva81c2a30000; BRB=tsbb82c2a30000; VXB=tsvb82c2a30000
TAPA=tapbc100000000; TAPB=tapbc200000000
MACA=52:54:00:81:00:05; MACB=52:54:00:82:00:06
RMACA=fa:16:3e:81:00:01; RMACB=fa:16:3e:82:00:01
# The host MACs: fa:17 + the IPv4 underlay address (router.h).
HMAC1=fa:17:0a:61:00:01; HMAC2=fa:17:0a:61:00:02

r2_cleanup() {
	local rc=$?
	stop_daemons_and_dnsmasq
	for n in $H1 $H2 $GA $GB $RNS1 $RNS2; do ip netns del $n 2>/dev/null || true; done
	set +e
	(exit $rc)
	cleanup
}
trap r2_cleanup EXIT

# desired N GEN PEER PORT ROUTERS: host N's host_network in $T/hN.json.
desired() {
	cat > "$T/h$1.json.new" <<J
{"host":"h$1","generation":$2,"networks":[
 {"id":"$NA","type":"vxlan","segmentation_id":201,"mtu":1450,"vxlan_peers":["$3"]},
 {"id":"$NB","type":"vxlan","segmentation_id":202,"mtu":1450,"vxlan_peers":["$3"]}],
 "subnets":[
 {"id":"$SA","network_id":"$NA","cidr":"10.81.0.0/24","ip_version":4,"gateway_ip":"10.81.0.1","enable_dhcp":false},
 {"id":"$SB","network_id":"$NB","cidr":"10.82.0.0/24","ip_version":4,"gateway_ip":"10.82.0.1","enable_dhcp":false}],
 "ports":[$4],
 "routers":[$5]}
J
	mv "$T/h$1.json.new" "$T/h$1.json"
}
PORTA="{\"id\":\"$PA\",\"network_id\":\"$NA\",\"mac\":\"$MACA\",\"fixed_ips\":[{\"subnet_id\":\"$SA\",\"ip_address\":\"10.81.0.5\"}]}"
PORTB="{\"id\":\"$PB\",\"network_id\":\"$NB\",\"mac\":\"$MACB\",\"fixed_ips\":[{\"subnet_id\":\"$SB\",\"ip_address\":\"10.82.0.6\"}]}"
NEIGHA="{\"ip\":\"10.81.0.5\",\"mac\":\"$MACA\"}"
NEIGHB="{\"ip\":\"10.82.0.6\",\"mac\":\"$MACB\"}"
router() {	# router NEIGHBORS
	echo "{\"id\":\"$RID\",\"interfaces\":[
 {\"subnet_id\":\"$SA\",\"network_id\":\"$NA\",\"ip_address\":\"10.81.0.1\",\"mac\":\"$RMACA\"},
 {\"subnet_id\":\"$SB\",\"network_id\":\"$NB\",\"ip_address\":\"10.82.0.1\",\"mac\":\"$RMACB\"}],
 \"neighbors\":[$1]}"
}

# Two fake hosts on an underlay veth; each guest a veth named as a tap.
for n in $H1 $H2 $GA $GB; do ip netns add $n; ip -n $n link set lo up; done
ip link add ul0 netns $H1 type veth peer name ul0 netns $H2
ip -n $H1 addr add 10.97.0.1/24 dev ul0; ip -n $H1 link set ul0 up
ip -n $H2 addr add 10.97.0.2/24 dev ul0; ip -n $H2 link set ul0 up
guest() {	# guest HOST NS TAP MAC IP/PREFIX GW
	ip link add $3 netns $1 mtu 1450 type veth peer name eth0 netns $2 mtu 1450
	ip -n $1 link set $3 up
	ip -n $2 link set eth0 address $4 up
	ip -n $2 addr add $5 dev eth0
	ip -n $2 route add default via $6
}
guest $H1 $GA $TAPA $MACA 10.81.0.5/24 10.81.0.1
guest $H2 $GB $TAPB $MACB 10.82.0.6/24 10.82.0.1

desired 1 1 10.97.0.2 "$PORTA" "$(router "$NEIGHA,$NEIGHB")"
desired 2 1 10.97.0.1 "$PORTB" "$(router "$NEIGHA,$NEIGHB")"
serve() {	# serve N LOCAL_IP
	local h=tsr2-h$1-$$
	nsenter --net=/run/netns/$h "$NETCTL" --state-dir "$T/h$1dhcp" --local-ip $2 \
	    --router-tag r2h$1$$ --tick-ms 200 \
	    serve "$T/h$1.json" "$T/h$1.state" >> "$T/netctl-h$1.log" 2>&1 &
	PIDS+=($!)
}
serve 1 10.97.0.1
serve 2 10.97.0.2

neigh_is() {	# neigh_is NS IP MAC DEV
	ip -n $1 neigh show nud permanent | grep -E "^$2 dev $4 lladdr $3 PERMANENT *\$" >/dev/null
}
wait_for 15 "host 1's router holds B as a neighbour" neigh_is $RNS1 10.82.0.6 $MACB $QRB
wait_for 15 "host 2's router holds A as a neighbour" neigh_is $RNS2 10.81.0.5 $MACA $QRA
neigh_is $RNS1 10.81.0.5 $MACA $QRA && neigh_is $RNS2 10.82.0.6 $MACB $QRB ||
	fail "neighbours: $(ip -n $RNS1 neigh show; ip -n $RNS2 neigh show)"
ok "both hosts' router namespaces hold A and B as permanent neighbours on their subnets' interfaces"

l3_has() {	# l3_has HOST PATTERN
	ip netns exec $1 nft list table bridge tinystack_l3 > "$T/l3.txt" && grep -F -- "$2" "$T/l3.txt"
}
wait_for 10 "host 1 rewrites the router MAC" l3_has $H1 "oifname \"$VXB\" ether saddr $RMACB ether saddr set $HMAC1"
wait_for 10 "host 2 rewrites the router MAC" l3_has $H2 "oifname \"$VXA\" ether saddr $RMACA ether saddr set $HMAC2"
l3_has $H2 "iifname \"$VXA\" ether saddr $RMACA drop" >/dev/null &&
	l3_has $H2 "oifname \"$VXA\" arp saddr ip 10.81.0.1 drop" >/dev/null ||
	fail "host table: router MAC in, router ARP out not dropped: $(cat "$T/l3.txt")"
ok "host tables: router MAC rewritten to the host's ($HMAC1, $HMAC2) going out, dropped coming in, router ARP dropped"

ping_ttl() {	# ping_ttl NS IP: routed once
	ip netns exec $1 busybox ping -c 1 -W 1 $2 | grep 'ttl=63'
}
wait_for 20 "A pings B across hosts" ping_ttl $GA 10.82.0.6
ok "A (10.81.0.5, host 1) pings B (10.82.0.6, host 2), each direction routed once (ttl 63)"
wait_for 10 "B pings A across hosts" ping_ttl $GB 10.81.0.5
ok "B (host 2) pings A (host 1)"

# On the wire: each host's bridge learned the other's host MAC on its
# VXLAN port, and no router MAC there (FDB learning stays right).
fdb_has() { ip netns exec $1 bridge fdb show dev $2 | grep "^$3 " >/dev/null; }
fdb_has $H2 $VXB $HMAC1 || fail "host 2 did not see host 1's MAC on $VXB: $(ip netns exec $H2 bridge fdb show dev $VXB)"
fdb_has $H1 $VXA $HMAC2 || fail "host 1 did not see host 2's MAC on $VXA: $(ip netns exec $H1 bridge fdb show dev $VXA)"
for h in $H1 $H2; do for v in $VXA $VXB; do
	if fdb_has $h $v $RMACA || fdb_has $h $v $RMACB; then fail "a router MAC learned on $v of $h"; fi
done; done
ok "routed frames crossed with the sending host's MAC, no router MAC learned on a VXLAN port"

# B withdrawn from host 1's neighbours: deleted; host 1's router cannot
# ARP for B across the tunnel, so A no longer reaches B.
desired 1 2 10.97.0.2 "$PORTA" "$(router "$NEIGHA")"
neigh_gone() { ! ip -n $RNS1 neigh show nud permanent | grep "^10.82.0.6 " >/dev/null; }
wait_for 10 "B's neighbour deleted on host 1" neigh_gone
neigh_is $RNS1 10.81.0.5 $MACA $QRA || fail "A's neighbour lost with B's"
if ip netns exec $GA busybox ping -c 2 -W 1 10.82.0.6 >/dev/null 2>&1; then
	fail "A still reaches B without the neighbour: ARP crossed the tunnel"
fi
ok "a withdrawn neighbour is deleted; without it the router's ARP stays local (A cannot reach B)"
desired 1 3 10.97.0.2 "$PORTA" "$(router "$NEIGHA,$NEIGHB")"
wait_for 10 "B's neighbour back on host 1" neigh_is $RNS1 10.82.0.6 $MACB $QRB
wait_for 10 "A pings B again" ping_ttl $GA 10.82.0.6
ok "the neighbour back: A reaches B again"

desired 1 4 10.97.0.2 "$PORTA" ""
desired 2 2 10.97.0.1 "$PORTB" ""
ns_gone() { ! ip netns list | grep -e "^$RNS1" -e "^$RNS2" >/dev/null; }
wait_for 10 "router namespaces removed" ns_gone
l3_gone() { ! ip netns exec $H1 nft list table bridge tinystack_l3 && ! ip netns exec $H2 nft list table bridge tinystack_l3; }
wait_for 10 "host tables removed" l3_gone
ok "routers removed on both hosts: namespaces and host tables gone"
