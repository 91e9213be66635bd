#!/bin/bash
# Security groups, anti-spoofing and host protection (agent/net/firewall)
# on the real kernel and nft, driven by tests/integ/netctl --firewall
# (netconv + firewall, as the agent runs them) with host_network files:
#  - a host netns with the network's bridge (VXLAN, no peers) and dnsmasq;
#    three "guests", each a netns on a veth whose host end is named as the
#    port's tap; ports 1 and 2 have port security, port 3 has none;
#  - ICMP is blocked until a rule allows it; TCP 5001 open only from the
#    allowed prefix; removing the rule cuts an established session
#    (conntrack flushed in the network's zone);
#  - a guest forging its source IP or MAC gets nothing through; it sends
#    neighbour advertisements only for its own IPv6 addresses;
#  - a remote-group rule follows the group's membership;
#  - guests reach the host's bridge address only for DHCP/DNS/metadata and
#    ping;
#  - port security off passes everything.
# With pipefail, `cmd | grep -q` can fail on SIGPIPE: pipelines here let
# grep read everything (>/dev/null). Every namespace is named tsfw-*-$$
# and removed on exit; no traffic leaves them.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then echo "FAIL: needs root (network namespaces)"; exit 1; fi
for p in dnsmasq busybox ip nft conntrack python3; do
	command -v $p >/dev/null || { echo "FAIL: $p not installed (packaging/install-deps.sh)"; exit 1; }
done
NETCTL=$TS_BUILD_DIR/tests/unit/netctl
[ -x "$NETCTL" ] || fail "netctl not built ($NETCTL): cmake --build build --target netctl"

H=tsfw-h-$$; G1=tsfw-g1-$$; G2=tsfw-g2-$$; G3=tsfw-g3-$$
NET=6f1c2a30-0000-4000-8000-0000000000f1
SUB=aa000000-0000-4000-8000-0000000000f1
SGA=5e000000-0000-4000-8000-0000000000a1
SGB=5e000000-0000-4000-8000-0000000000b1
PID1=b1000000-0000-4000-8000-0000000000f1; TAP1=tapb1000000000
PID2=b2000000-0000-4000-8000-0000000000f2; TAP2=tapb2000000000
PID3=b3000000-0000-4000-8000-0000000000f3; TAP3=tapb3000000000
MAC1=52:54:00:66:00:11; MAC2=52:54:00:66:00:12; MAC3=52:54:00:66:00:13
IP1=10.66.0.11; IP2=10.66.0.12; IP3=10.66.0.13; HOSTIP=10.66.0.2
BR=tsb6f1c2a30000
chmod 755 "$T"

fw_cleanup() {
	local rc=$?
	stop_daemons_and_dnsmasq
	for n in $H $G1 $G2 $G3; do ip netns del $n 2>/dev/null || true; done
	set +e
	(exit $rc)
	cleanup
}
trap fw_cleanup EXIT

# The desired state: $RULES_A (group A's rules), $MEMBERS_B (group B's
# members), port 3's port security $PS3.
RULES_A=""; MEMBERS_B=""; PS3=false; GEN=0
port() {	# port ID MAC IP SECURITY
	echo "{\"id\":\"$1\",\"network_id\":\"$NET\",\"mac\":\"$2\",\"fixed_ips\":[{\"subnet_id\":\"$SUB\",\"ip_address\":\"$3\"}],\"port_security\":$4,\"security_groups\":[\"$SGA\"]}"
}
publish() {	# write generation GEN+1 and wait until netctl applied it
	GEN=$((GEN + 1))
	cat > "$T/h.json.new" <<J
{"host":"h","generation":$GEN,"networks":[{"id":"$NET","type":"vxlan",
 "segmentation_id":42,"mtu":1450}],
 "subnets":[{"id":"$SUB","network_id":"$NET","cidr":"10.66.0.0/24",
   "ip_version":4,"gateway_ip":"10.66.0.1","enable_dhcp":true,
   "dhcp_address":"$HOSTIP"}],
 "ports":[$(port $PID1 $MAC1 $IP1 true),$(port $PID2 $MAC2 $IP2 true),
   $(port $PID3 $MAC3 $IP3 $PS3)],
 "security_groups":[{"id":"$SGA","rules":[{"direction":"egress","ethertype":"IPv4"}$RULES_A]},
   {"id":"$SGB","members":[$MEMBERS_B]}]}
J
	mv "$T/h.json.new" "$T/h.json"
	[ "${1:-}" = nowait ] || wait_for 10 "generation $GEN applied (see h.state)" applied $GEN
}
applied() { grep -q "\"generation\":$1[,}]" "$T/h.state" && grep -q '"ok":true' "$T/h.state" && ! grep -q '"ok":false' "$T/h.state"; }

# ---- host and guests
ip netns add $H
ip -n $H link set lo up
# Per namespace on this kernel: start with them off, the firewall sets them.
for f in iptables ip6tables; do
	ip netns exec $H sh -c "echo 0 > /proc/sys/net/bridge/bridge-nf-call-$f"
done
ip -n $H link add und0 type veth peer name und1
ip -n $H addr add 10.99.0.1/24 dev und0; ip -n $H link set und1 up; ip -n $H link set und0 up
i=0
for g in $G1 $G2 $G3; do
	i=$((i + 1)); eval "tap=\$TAP$i mac=\$MAC$i ip=\$IP$i"
	ip netns add $g; ip -n $g link set lo up
	ip link add e0 netns $g address $mac type veth peer name $tap netns $H
	ip -n $g addr add $ip/24 dev e0; ip -n $g link set e0 up
	ip -n $H link set $tap up
done
publish nowait
ip netns exec $H "$NETCTL" --state-dir "$T/dhcp" --local-ip 10.99.0.1 --firewall \
    --tick-ms 200 serve "$T/h.json" "$T/h.state" >> "$T/netctl.log" 2>&1 &
PIDS+=($!)
wait_for 15 "generation 1 applied (see h.state)" applied 1
for t in $TAP1 $TAP2 $TAP3; do
	wait_for 5 "$t on $BR" sh -c "ip -n $H link show $t | grep -q 'master $BR'"
done
ip netns exec $H nft list table inet tinystack_fw > "$T/inet.txt" || fail "no inet table"
ip netns exec $H nft list table bridge tinystack_fw > "$T/bridge.txt" || fail "no bridge table"
grep -q "chain in_$TAP1" "$T/inet.txt" && grep -q "chain in_$TAP2" "$T/inet.txt" ||
	fail "per-port chains missing: $(cat "$T/inet.txt")"
# Group A's rules once, in its own chains, which both ports' chains jump to.
[ "$(grep -c "chain gin_${SGA//-/} {" "$T/inet.txt")" = 1 ] && grep -q "chain geg_${SGA//-/} {" "$T/inet.txt" ||
	fail "no chains of group A: $(cat "$T/inet.txt")"
for t in $TAP1 $TAP2; do
	# Read whole before grep: grep -q may exit before nft has written
	# everything, and nft's EPIPE would then fail the pipe (pipefail).
	chain=$(ip netns exec $H nft list chain inet tinystack_fw in_$t) ||
		fail "no chain in_$t"
	grep -q "jump gin_${SGA//-/}" <<< "$chain" ||
		fail "in_$t does not jump to group A's chain"
done
! grep -q "$TAP3" "$T/inet.txt" "$T/bridge.txt" || fail "port 3 (no port security) is filtered"
for f in iptables ip6tables; do
	[ "$(ip netns exec $H cat /proc/sys/net/bridge/bridge-nf-call-$f)" = 1 ] || fail "bridge-nf-call-$f not set"
done
ok "tables tinystack_fw (bridge, inet) with chains for ports 1 and 2 only, group A's chains shared"

# ---- helpers run inside guests
cp "$(dirname "$0")/echo_server.py" "$T/srv.py"
cat > "$T/conn.py" <<'P'
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.6)
    c.sendall(b"hi\n"); sys.exit(0 if c.recv(10) == b"hi\n" else 1)
except OSError:
    sys.exit(1)
P
# session IP PORT OUT: one connection, a line every 0.1 s; OUT holds the
# number of echoes, then "cut" when one is not answered within 1 s.
cp "$(dirname "$0")/echo_session.py" "$T/session.py"
conn() { ip netns exec $1 python3 -S "$T/conn.py" $2 $3; }
ping1() { ip netns exec $1 ping -c 1 -W 1 $2 >/dev/null 2>&1; }
for g in $G1 $G2 $G3; do
	for p in 5001 5002; do ip netns exec $g python3 -S "$T/srv.py" $p & PIDS+=($!); done
done
wait_for 5 "echo servers" sh -c "ip netns exec $G3 ss -ltn | grep -q :5002"

# ---- ICMP: denied until a rule allows it
ping1 $G1 $IP2 && fail "ICMP passed without a rule"
ping1 $G3 $IP1 && fail "ICMP from port 3 passed without a rule"
ok "ICMP into ports with security groups is dropped without a rule"
ping1 $G1 $IP3 || fail "port 1 cannot reach port 3 (egress allowed, port 3 unfiltered)"
ip netns exec $G3 ip addr add 10.66.0.99/24 dev e0
ip netns exec $G3 ping -c 1 -W 1 -I 10.66.0.99 $HOSTIP >/dev/null || fail "port 3 (no port security) cannot send from any address"
ip netns exec $G3 ip addr del 10.66.0.99/24 dev e0
ok "port security off: port 3 is reached and sends from any address"

RULES_A=',{"direction":"ingress","ethertype":"IPv4","protocol":"icmp"}'
publish
wait_for 5 "ping port 1 -> port 2" ping1 $G1 $IP2
ping1 $G3 $IP1 || fail "ping port 3 -> port 1 after the ICMP rule"
ok "an ICMP ingress rule lets pings in"

# ---- TCP from an allowed prefix only
conn $G1 $IP2 5001 && fail "tcp 5001 open without a rule"
RULES_A="$RULES_A"',{"direction":"ingress","ethertype":"IPv4","protocol":"tcp","port_min":5001,"port_max":5001,"remote_ip_prefix":"10.66.0.11/32"}'
publish
wait_for 5 "tcp port 1 -> port 2:5001" conn $G1 $IP2 5001
conn $G3 $IP2 5001 && fail "tcp 5001 open from 10.66.0.13, outside the prefix"
conn $G1 $IP2 5002 && fail "tcp 5002 open, the rule names 5001"
ok "tcp 5001 open only from 10.66.0.11/32"

# ---- removing the rule cuts an established session
ip netns exec $G1 python3 -S "$T/session.py" $IP2 5001 "$T/sess" & PIDS+=($!)
wait_for 5 "session running" sh -c "[ \"\$(cat $T/sess 2>/dev/null)\" -gt 5 ] 2>/dev/null"
ip netns exec $H conntrack -L 2>/dev/null | grep "dport=5001" | grep "zone=" >/dev/null || fail "session not tracked in a zone: $(ip netns exec $H conntrack -L 2>&1)"
RULES_A=',{"direction":"ingress","ethertype":"IPv4","protocol":"icmp"}'
publish
wait_for 5 "session cut" grep -qx cut "$T/sess"
ok "removing the rule cut the established session (conntrack flushed)"

# ---- anti-spoofing
inechos() { ip netns exec $G2 awk '/^Icmp:/ && $3 ~ /^[0-9]+$/ {print $3 + 0}' /proc/net/snmp | head -1; }
ip netns exec $G1 ip neigh replace $IP2 lladdr $MAC2 dev e0
ping1 $G1 $IP2 || fail "ping before spoofing"
before=$(inechos)
ip netns exec $G1 ip addr add 10.66.0.50/24 dev e0
ip netns exec $G1 ping -c 1 -W 1 -I 10.66.0.50 $IP2 >/dev/null 2>&1 && fail "forged source IP got an answer"
ip netns exec $G1 ip addr del 10.66.0.50/24 dev e0
[ "$(inechos)" = "$before" ] || fail "echoes from a forged IP reached port 2 ($before -> $(inechos))"
ok "a forged source IP gets nothing through"
ip -n $G1 link set e0 address 52:54:00:66:00:99
ping1 $G1 $IP2 && fail "forged MAC got an answer"
[ "$(inechos)" = "$before" ] || fail "echoes from a forged MAC reached port 2"
ip -n $G1 link set e0 address $MAC1
wait_for 5 "ping with the real MAC again" ping1 $G1 $IP2
ok "a forged source MAC gets nothing through"

# ---- IPv6 neighbour discovery: advertisements only for its own addresses
# Port 1 sends an unsolicited neighbour advertisement to all nodes for an
# address it does not hold (port 2's link-local), then one for its own
# link-local. Port 2 counts both targets in an nft table of its own
# namespace: the own one arriving is the witness that the forged one,
# sent first on the same path, would have arrived too.
ll() { ip -n $1 -6 addr show dev e0 scope link | awk '/inet6/ && !/tentative/ {sub("/.*", "", $2); print $2}'; }
wait_for 10 "link-local addresses of ports 1 and 2 (DAD done)" sh -c "[ -n \"\$(ip -n $G1 -6 addr show dev e0 scope link | grep -v tentative | grep inet6)\" ] && [ -n \"\$(ip -n $G2 -6 addr show dev e0 scope link | grep -v tentative | grep inet6)\" ]"
LL1=$(ll $G1); LL2=$(ll $G2)
hex128() { python3 -c 'import ipaddress, sys; print("0x%032x" % int(ipaddress.IPv6Address(sys.argv[1])))' "$1"; }
ip netns exec $G2 nft -f - <<N
table inet tsfwtest {
	counter own {}
	counter forged {}
	chain in {
		type filter hook input priority 0; policy accept;
		icmpv6 type nd-neighbor-advert @th,64,128 $(hex128 $LL1) counter name own
		icmpv6 type nd-neighbor-advert @th,64,128 $(hex128 $LL2) counter name forged
	}
}
N
cat > "$T/na.py" <<'P'
import socket, struct, sys
src, target, mac = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.bind((src, 0, 0, socket.if_nametoindex("e0")))
# type 136, code 0, checksum (the kernel's), flags: override; target;
# option 2 (target link-layer address)
na = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + socket.inet_pton(socket.AF_INET6, target) \
    + bytes([2, 1]) + bytes.fromhex(mac.replace(":", ""))
s.sendto(na, ("ff02::1", 0, 0, socket.if_nametoindex("e0")))
P
counted() { ip netns exec $G2 nft list counter inet tsfwtest $1 | awk '/packets/ {print $2}'; }
na_round() {
	ip netns exec $G1 python3 -S "$T/na.py" "$LL1" "$LL2" $MAC1
	ip netns exec $G1 python3 -S "$T/na.py" "$LL1" "$LL1" $MAC1
	[ "$(counted own)" -gt 0 ]
}
wait_for 5 "port 2 receives port 1's advertisement for its own address" na_round
[ "$(counted forged)" = 0 ] || fail "a neighbour advertisement for port 2's address from port 1 reached port 2 ($(counted forged))"
ip netns exec $H nft list chain bridge tinystack_fw as_$TAP1 | grep "nd-neighbor-advert @th,64,128 != " >/dev/null ||
	fail "no ND target rule in as_$TAP1"
ok "IPv6 ND: port 1's advertisement for its own link-local passes, one for port 2's address is dropped"

# ---- remote group: rules follow membership
RULES_A="$RULES_A"',{"direction":"ingress","ethertype":"IPv4","protocol":"tcp","port_min":5002,"port_max":5002,"remote_group_id":"'$SGB'"}'
MEMBERS_B="\"$IP1\""
publish
wait_for 5 "tcp port 1 (member) -> port 2:5002" conn $G1 $IP2 5002
conn $G3 $IP2 5002 && fail "tcp 5002 open to port 3, not a member"
rules_before=$(ip netns exec $H nft list chain inet tinystack_fw gin_${SGA//-/} | grep -c accept)
MEMBERS_B="\"$IP3\""
publish
wait_for 5 "tcp port 3 (member now) -> port 2:5002" conn $G3 $IP2 5002
conn $G1 $IP2 5002 && fail "tcp 5002 still open to port 1 after it left group B"
[ "$(ip netns exec $H nft list chain inet tinystack_fw gin_${SGA//-/} | grep -c accept)" = "$rules_before" ] ||
	fail "membership change rewrote the rules"
ip netns exec $H nft list set inet tinystack_fw rg4_${SGB//-/} | grep "$IP3" >/dev/null || fail "set rg4_ of group B"
ok "a remote-group rule follows the group's membership (a set, not rules, changes)"

# Adjacent members (.11-.13), one leaving while the others stay: the set
# gets one delete element (an auto-merged interval set would hold them as
# one range, and deleting .11 alone failed); a prefix member beside them.
# The leaver's established session is cut (conntrack of the ports whose
# rules name the set).
MEMBERS_B="\"$IP3\",\"$IP1\",\"$IP2\",\"10.66.0.64/26\""
publish
wait_for 5 "tcp port 1 (member again) -> port 2:5002" conn $G1 $IP2 5002
conn $G3 $IP2 5002 || fail "port 3 lost access while port 1 joined"
rm -f "$T/sess"
ip netns exec $G1 python3 -S "$T/session.py" $IP2 5002 "$T/sess" & PIDS+=($!)
wait_for 5 "session 1 -> 2:5002 running" sh -c "[ \"\$(cat $T/sess 2>/dev/null)\" -gt 5 ] 2>/dev/null"
MEMBERS_B="\"$IP3\",\"$IP2\",\"10.66.0.64/26\""
publish
conn $G3 $IP2 5002 || fail "port 3 lost access when port 1 left"
wait_for 5 "port 1's session cut after it left group B" grep -qx cut "$T/sess"
conn $G1 $IP2 5002 && fail "tcp 5002 still open to port 1 after it left group B"
ip netns exec $H nft list set inet tinystack_fw rg4_${SGB//-/} > "$T/set.txt"
for e in "$IP2" "$IP3" 10.66.0.64/26; do
	grep -q "$e\b" "$T/set.txt" || fail "$e missing from set rg4_ of group B: $(cat "$T/set.txt")"
done
! grep -q "$IP1\b" "$T/set.txt" || fail "$IP1 still in set rg4_ of group B: $(cat "$T/set.txt")"
grep -q auto-merge "$T/set.txt" && fail "set rg4_ is auto-merged: $(cat "$T/set.txt")"
ok "one member leaves among adjacent ones: only it loses access, its session is cut"

# ---- host protection
ip netns exec $H python3 -S "$T/srv.py" 2222 & PIDS+=($!)
wait_for 5 "host server" sh -c "ip netns exec $H ss -ltn | grep -q :2222"
conn $H $HOSTIP 2222 || fail "host server not reachable from the host itself"
conn $G1 $HOSTIP 2222 && fail "port 1 reached tcp 2222 on the host"
conn $G3 $HOSTIP 2222 && fail "port 3 (no port security) reached tcp 2222 on the host"
ping1 $G1 $HOSTIP || fail "ping to the host's bridge address"
cat > "$T/udhcpc.sh" <<'S'
#!/bin/sh
case "$1" in bound|renew) echo "ip=$ip" >> "$LOG";; esac
S
chmod 755 "$T/udhcpc.sh"
timeout 20 ip netns exec $G1 env LOG="$T/lease" busybox udhcpc -i e0 -n -q -f -t 5 -T 1 \
	-s "$T/udhcpc.sh" > "$T/udhcpc.log" 2>&1 || fail "DHCP from port 1: $(cat "$T/udhcpc.log")"
grep -qx "ip=$IP1" "$T/lease" || fail "lease: $(cat "$T/lease")"
ok "guests reach the host only for DHCP, DNS, metadata and ping (tcp 2222 dropped)"

# ---- port security on for port 3: it becomes filtered, one port changes
PS3=true
publish
ping1 $G3 $IP1 || fail "port 3 with group A cannot ping port 1"
conn $G1 $IP3 5001 && fail "port 3's tcp 5001 open from port 1 without a matching rule"
ip netns exec $H nft list chain inet tinystack_fw in_$TAP3 >/dev/null || fail "no chain for port 3"
ok "turning port security on filters port 3"

# ---- exactly our two tables, nothing else
nft_ours() { ip netns exec $H nft list tables | grep -c tinystack_fw; }
[ "$(nft_ours)" = 2 ] || fail "tables: $(ip netns exec $H nft list tables)"
echo "$NPASS tests passed"
