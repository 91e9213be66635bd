#!/bin/bash
# The metadata service end to end: a controller and agent h1 (libvirt's
# test driver, dataplane on: [network] local_ip) in a network namespace of
# their own (tsmd-h1-$$); servers created through the real openstack
# client inside it, on a VXLAN network with DHCP. The guests are "fake
# guests": a namespace each, a veth plugged into the network's bridge in
# h1 carrying the port's MAC and IP, a route to 169.254.169.254 via h1's
# DHCP address (what dnsmasq hands out as option 121), and curl:
#  - vm1's namespace gets vm1's meta_data.json (uuid, key), user_data and
#    EC2 documents; vm2's namespace gets vm2's, whatever headers or query
#    it sends naming vm1;
#  - a namespace with an unknown MAC/IP, and one with vm1's IP but another
#    MAC, get 404;
#  - dnsmasq's options carry the route; 169.254.169.254 is on the bridge;
#  - a deleted server's documents are gone.
# Namespaces and links are named tsmd-*-$$; no traffic leaves them.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then echo "FAIL: needs root (network namespaces)"; exit 1; fi
for p in dnsmasq ip curl openstack jq; do
	command -v $p >/dev/null || { echo "FAIL: $p not installed (packaging/install-deps.sh)"; exit 1; }
done
set +o pipefail

NS=tsmd-h1-$$; G1=tsmd-g1-$$; G2=tsmd-g2-$$; GX=tsmd-gx-$$; GS=tsmd-gs-$$
chmod 755 "$T"	# dnsmasq re-reads its files as an unprivileged user

md_cleanup() {
	local rc=$? f pid
	stop_daemons_and_dnsmasq
	for n in $NS $G1 $G2 $GX $GS; do ip netns del $n 2>/dev/null || true; done
	set +e
	(exit $rc)
	cleanup
}
trap md_cleanup EXIT

ip netns add $NS
ip -n $NS link set lo up
ip -n $NS link add u0 type veth peer name u1
ip -n $NS link set u1 up
ip -n $NS addr add 10.251.0.1/24 dev u0
ip -n $NS link set u0 up

BUS=$(free_port)
IDP=$(free_port)
api_lines "$IDP"
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[compute]" "build_timeout = 30" "action_timeout = 20" \
	"resend_interval = 1" "[scheduler]" "reserved_host_memory_mb = 0" \
	"[network]" "vni_ranges = 400:410"
identity_bootstrap admin-pw
enrol_agent h1
agent_conf h1 "$BUS" test:///default
cat >> "$T/agent-h1.conf" <<C

[network]
local_ip = 10.251.0.1
dhcp_state_dir = $T/h1dhcp

[metadata]
enabled = true
port = 80
C
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$CTL" > "$T/ctl-in-ns"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$AGENT" > "$T/agent-in-ns"
chmod 755 "$T/ctl-in-ns" "$T/agent-in-ns"
start ctl "$T/ctl-in-ns" "$T/controller.conf"
start agent-h1 "$T/agent-in-ns" "$T/agent-h1.conf"
wait_for 15 "h1 up" is_state h1 up
CP=$(sed -n 's/^compute_port = //p' "$T/controller.conf")
wait_for 15 "compute API" ip netns exec $NS curl -s -o /dev/null "http://127.0.0.1:$CP/"
grep -q "metadata: serving http://169.254.169.254:80/" "$T/agent-h1.log" ||
	fail "the agent does not serve metadata: $(tail -5 "$T/agent-h1.log")"
ok "controller and agent h1 up in $NS, metadata service started"

. "$T/openrc"
os() { ip netns exec $NS openstack "$@"; }
os flavor create --ram 128 --disk 1 --vcpus 1 m1.tiny >/dev/null || fail "flavor"
head -c 1048576 /dev/zero > "$T/disk.raw"
os image create --disk-format raw --container-format bare --public \
	--file "$T/disk.raw" img >/dev/null || fail "image"
os network create mdnet >/dev/null || fail "network create"
os subnet create --network mdnet --subnet-range 10.88.0.0/24 mdsub >/dev/null ||
	fail "subnet create"
NET=$(os network show mdnet -f value -c id)
id=${NET//-/}; BR=tsb${id:0:11}
KEY1="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQ0Xlh8VWBVNnPo0Jk4nYyZ0K2mSWAbUnjWq5PZ8kLN one@tsmd"
KEY2="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG0ZNdvq6fY8s0m1m7M6yqZr8dV2hGm4o0j5ZhWbKq2x two@tsmd"
echo "$KEY1" > "$T/k1.pub"; echo "$KEY2" > "$T/k2.pub"
os keypair create --public-key "$T/k1.pub" k1 >/dev/null || fail "keypair k1"
os keypair create --public-key "$T/k2.pub" k2 >/dev/null || fail "keypair k2"
printf '#!/bin/sh\necho hello from vm1\n' > "$T/ud1"
os server create --flavor m1.tiny --image img --network mdnet --key-name k1 \
	--user-data "$T/ud1" --wait vm1 >/dev/null || fail "server create vm1"
os server create --flavor m1.tiny --image img --network mdnet --key-name k2 \
	--wait vm2 >/dev/null || fail "server create vm2"
VM1=$(os server show vm1 -f value -c id)
VM2=$(os server show vm2 -f value -c id)
port_of() {	# SERVER -> "MAC IP"
	os port list --device-id "$1" -f json -c "MAC Address" -c "Fixed IP Addresses" |
	    jq -r '.[0] | "\(."MAC Address") \(."Fixed IP Addresses"[0].ip_address)"'
}
read -r MAC1 IP1 < <(port_of "$VM1")
read -r MAC2 IP2 < <(port_of "$VM2")
[ -n "$IP1" ] && [ -n "$IP2" ] && [ "$IP1" != null ] || fail "ports: '$MAC1 $IP1' '$MAC2 $IP2'"
ok "vm1 ($IP1, $MAC1, key k1, user data) and vm2 ($IP2, $MAC2, key k2) ACTIVE on h1"

# ---- the dataplane: bridge, DHCP address, metadata address, route
dhcp_ip() { ip -n $NS -4 addr show $BR 2>/dev/null | awk '$1 == "inet" && $2 !~ /^169\.254\./ { sub("/.*", "", $2); print $2; exit }'; }
wait_for 20 "DHCP address on $BR" test -n "$(dhcp_ip)"
md_addr() { ip -n $NS -4 addr show $BR | grep "inet 169.254.169.254/32"; }
wait_for 15 "169.254.169.254 on $BR" md_addr
DHCP=$(dhcp_ip)
opts_route() { grep "classless-static-route,169.254.169.254/32,$DHCP" "$T"/h1dhcp/$NET/opts; }
wait_for 15 "the metadata route in dnsmasq's options" opts_route
listening() { ip netns exec $NS ss -ltnH "src 169.254.169.254:80" | grep -q "%$BR"; }
wait_for 15 "a listener on 169.254.169.254:80%$BR" listening
ok "bridge $BR carries $DHCP and 169.254.169.254; dnsmasq hands out 169.254.169.254/32 via $DHCP; the agent listens on the bridge"

# ---- fake guests: NS NAME MAC IP
guest() {
	local g=$1 n=$2 mac=$3 ip=$4
	ip netns add $g
	ip -n $g link set lo up
	# The host end gets fe:... as libvirt gives a tap: a bridge takes
	# the lowest MAC of its ports, and a random one here could become
	# the bridge's and leave with the fake guest, stranding the others'
	# ARP entries for the DHCP address.
	ip link add $n netns $NS address "fe:${mac#??:}" type veth peer name eth0 netns $g
	ip -n $NS link set $n master $BR up
	ip -n $g link set eth0 address "$mac"
	ip -n $g addr add "$ip/24" dev eth0
	ip -n $g link set eth0 up
	ip -n $g route add 169.254.169.254/32 via "$DHCP" dev eth0
}
guest $G1 tsmd-v1-$$ "$MAC1" "$IP1"
guest $G2 tsmd-v2-$$ "$MAC2" "$IP2"
guest $GX tsmd-vx-$$ "fa:16:3e:de:ad:01" 10.88.0.200
guest $GS tsmd-vs-$$ "fa:16:3e:de:ad:02" "$IP1"	# vm1's IP, another MAC
# from GUEST PATH [curl args]: body on stdout; the status in $T/code.
from() {
	local g=$1 p=$2
	shift 2
	ip netns exec $g curl -sS -m 5 -o "$T/body" -w '%{http_code}' "$@" \
	    "http://169.254.169.254$p" > "$T/code" 2>"$T/curl.err" || echo " $(cat "$T/curl.err")" >> "$T/code"
	cat "$T/body" 2>/dev/null
}
code() { cat "$T/code"; }
md_up() { from $G1 /openstack/latest/meta_data.json >/dev/null; [ "$(code)" = 200 ]; }
wait_for 20 "vm1's meta_data.json" md_up

M1=$(from $G1 /openstack/latest/meta_data.json)
[ "$(code)" = 200 ] || fail "vm1 meta_data: $(code)"
[ "$(jq -r .uuid <<<"$M1")" = "$VM1" ] || fail "vm1 meta_data uuid: $M1"
[ "$(jq -r '.public_keys | to_entries[0].value' <<<"$M1")" = "$KEY1" ] || fail "vm1 key: $M1"
jq -e '.hostname and .name and (.launch_index == 0) and .availability_zone and .project_id' <<<"$M1" >/dev/null ||
	fail "vm1 meta_data fields: $M1"
grep -q "$VM2\|two@tsmd" <<<"$M1" && fail "vm2's data in vm1's document"
# As Nova's: the password is for the config drive only.
jq -e 'has("admin_pass")' <<<"$M1" >/dev/null && fail "the metadata service serves admin_pass"
[ "$(from $G1 /openstack/latest/user_data)" = "$(cat "$T/ud1")" ] || fail "vm1 user_data"
[ "$(from $G1 /latest/meta-data/instance-id)" = "$VM1" ] || fail "EC2 instance-id"
[ "$(from $G1 /latest/meta-data/local-ipv4)" = "$IP1" ] || fail "EC2 local-ipv4"
[ "$(from $G1 /latest/meta-data/public-keys/0/openssh-key)" = "$KEY1" ] || fail "EC2 openssh-key"
[ "$(from $G1 /latest/user-data)" = "$(cat "$T/ud1")" ] || fail "EC2 user-data"
from $G1 /openstack/latest/network_data.json | jq -e --arg ip "$IP1" \
	'.networks[0].ip_address == $ip' >/dev/null || fail "network_data.json"
from $G1 /openstack/ | grep -qx latest || fail "openstack/ listing"
from $G1 /openstack/latest/ | grep -qx meta_data.json || fail "openstack/latest/ listing"
ok "vm1's namespace: its uuid and key in meta_data.json, its user_data, EC2 instance-id/local-ipv4/openssh-key/user-data, network_data.json, listings"

M2=$(from $G2 /openstack/latest/meta_data.json?uuid=$VM1 \
	-H "X-Instance-ID: $VM1" -H "X-Forwarded-For: $IP1" -H "X-Tenant-ID: x")
[ "$(code)" = 200 ] || fail "vm2 meta_data: $(code)"
[ "$(jq -r .uuid <<<"$M2")" = "$VM2" ] || fail "vm2 got: $M2"
grep -q "$VM1\|one@tsmd" <<<"$M2" && fail "vm1's data in vm2's document"
[ "$(from $G2 /latest/meta-data/public-keys/0/openssh-key)" = "$KEY2" ] || fail "vm2 EC2 key"
from $G2 /openstack/latest/user_data >/dev/null; [ "$(code)" = 404 ] || fail "vm2 user_data: $(code), want 404"
ok "vm2's namespace gets vm2's documents, even naming vm1 in the query and X-Instance-ID/X-Forwarded-For/X-Tenant-ID; no user_data: 404"

from $GX /openstack/latest/meta_data.json >/dev/null; [ "$(code)" = 404 ] || fail "unknown source: $(code)"
from $GX /latest/meta-data/instance-id >/dev/null; [ "$(code)" = 404 ] || fail "unknown source EC2: $(code)"
ip -n $G1 link set eth0 down	# the real vm1 is quiet while its IP is borrowed
ip -n $NS neigh flush dev $BR
from $GS /openstack/latest/meta_data.json >/dev/null; [ "$(code)" = 404 ] || fail "vm1's IP with another MAC: $(code)"
ip netns del $GS
ip -n $NS neigh flush dev $BR
ip -n $G1 link set eth0 up	# down took its route away
ip -n $G1 route replace 169.254.169.254/32 via "$DHCP" dev eth0
ok "an unknown MAC/IP and vm1's IP from another MAC: 404"

# A request that is not GET/HEAD does not hurt the service.
from $GX / -X BREW >/dev/null; [ "$(code)" = 400 ] || fail "BREW request: $(code)"
from $G1 /openstack/latest/meta_data.json -X POST -d x >/dev/null; [ "$(code)" = 400 ] || fail "POST request: $(code)"
kill -0 "$(pid_of agent-h1)" || fail "the agent died"
ok "BREW and POST get 400; the agent lives"

# A guest holding connections open (more than the service's 64) does not
# starve the others: at most 8 are kept per source.
ip netns exec $GX bash -c 'for i in $(seq 70); do
	exec {fd}<>/dev/tcp/169.254.169.254/80 || true; done; sleep 4' 2>/dev/null &
HOG=$!
sleep 1
M1=$(from $G1 /openstack/latest/meta_data.json)
[ "$(code)" = 200 ] && [ "$(jq -r .uuid <<<"$M1")" = "$VM1" ] ||
	fail "vm1 starved by another guest's connections: $(code)"
wait $HOG 2>/dev/null || true
ok "70 idle connections from one guest: another guest is still served"

os server delete --wait vm2 || fail "server delete vm2"
gone() { from $G2 /openstack/latest/meta_data.json >/dev/null; [ "$(code)" != 200 ]; }
wait_for 15 "vm2's documents gone" gone
vm1_served() { [ "$(jq -r .uuid <<<"$(from $G1 /openstack/latest/meta_data.json)")" = "$VM1" ]; }
vm1_served || { sleep 3; vm1_served; } ||
	fail "vm1 after vm2's delete: $(code) $(cat "$T/body"); $(ip -n $NS neigh show dev $BR)"
ok "vm2 deleted: its documents are no longer served; vm1's still are"

# ---- the agent restarts: the saved documents are served again
SAVED=$T/state-h1/metadata/$VM1.json
[ "$(stat -c %a "$SAVED" 2>/dev/null)" = 600 ] || fail "vm1's documents not saved 0600 in $SAVED"
[ -e "$T/state-h1/metadata/$VM2.json" ] && fail "vm2's saved documents left after its delete"
OLD=$(pid_of agent-h1)
kill "$OLD"
stopped() { ! kill -0 "$OLD" 2>/dev/null; }
wait_for 10 "the agent stopped" stopped
start agent-h1 "$T/agent-in-ns" "$T/agent-h1.conf"
wait_for 30 "vm1 served after the agent's restart" vm1_served
ok "vm1's documents saved 0600 (vm2's removed) and served again after an agent restart"
