#!/bin/bash
# The Networking API (Neutron v2.0) driven by Debian's real
# python3-openstackclient against a controller on 127.0.0.1: discovery and
# extensions, network/subnet/port create|list|show|set|delete (fixed IP,
# MAC, device), bad input (each a 400/409/404 NeutronError with nothing
# created: overlapping CIDR, pool or fixed IP outside the subnet, address
# or MAC in use, VLAN 4095, VNI out of range, another project's network),
# what a member of another project may not see or do, `openstack network
# agent list/show` with a real agent (alive, then down), quotas
# (openstack quota set --networks, then a refused create), the seed's
# `tinystack-manage network create`, and the IPAM race through the
# API: 200 concurrent POST /v2.0/ports on a /25 give distinct addresses or
# a clean 409 once the pool is exhausted, never a duplicate.
. "$(dirname "$0")/lib.sh"
osc_start
for c in openstack curl jq xargs; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
set +o pipefail

BUS=$(free_port)
IDP=$(free_port)
NP=$(free_port)
NURL=http://127.0.0.1:$NP
api_lines "$IDP"
API_LINES=("${API_LINES[@]/network_port = */network_port = $NP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[network]" "network_vlan_ranges = physnet1"
identity_bootstrap admin-pw
enrol_agent h1
agent_conf h1 "$BUS" test:///default
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$NURL/"
# shellcheck disable=SC1091
. "$T/openrc"
TOK=$(os_token)
A=(-H "X-Auth-Token: $TOK" -H "Content-Type: application/json")

# ---- discovery ---------------------------------------------------------------
curl -s "$NURL/" | jq -e '.versions[0].id == "v2.0"' >/dev/null || fail "GET /"
curl -s "$NURL/v2.0/" | jq -e '[.resources[].collection] | index("networks")' >/dev/null ||
	fail "GET /v2.0/"
curl -s "${A[@]}" "$NURL/v2.0/extensions" | jq -r '.extensions[].alias' > "$T/ext.txt"
for e in provider external-net quotas standard-attr-revisions; do
	grep -qx "$e" "$T/ext.txt" || fail "extension $e not listed"
done
[ "$(http_code GET "$NURL/v2.0/extensions/nope" "${A[@]}")" = 404 ] || fail "unknown extension not 404"
ok "discovery (/, /v2.0/), extensions list and show"

# ---- networks, subnets, ports -------------------------------------------------
openstack network create net1 >/dev/null || fail "network create"
openstack network list -f value -c Name | grep -qx net1 || fail "network list"
[ "$(openstack network show net1 -f value -c status)" = ACTIVE ] || fail "network show"
openstack network show net1 -f value -c provider:network_type | grep -qx vxlan ||
	fail "admin does not see provider:network_type"
openstack subnet create --network net1 --subnet-range 10.0.0.0/24 sub1 >/dev/null ||
	fail "subnet create"
[ "$(openstack subnet show sub1 -f value -c gateway_ip)" = 10.0.0.1 ] || fail "gateway"
openstack subnet show sub1 -f json -c allocation_pools > "$T/pools.json"
grep -q '10.0.0.2' "$T/pools.json" && grep -q '10.0.0.254' "$T/pools.json" ||
	fail "allocation pool: $(cat "$T/pools.json")"
openstack subnet create --network net1 --subnet-range 10.0.0.128/25 sub2 >/dev/null 2>&1 &&
	fail "overlapping subnet accepted"
SUB=$(openstack subnet show sub1 -f value -c id)
openstack port create --network net1 --fixed-ip subnet=sub1,ip-address=10.0.0.50 \
	--mac-address fa:16:3e:aa:bb:cc --device dev-1 p1 >/dev/null || fail "port create"
openstack port show p1 -f json > "$T/p1.json"
jq -e '.fixed_ips[0].ip_address == "10.0.0.50" and .mac_address == "fa:16:3e:aa:bb:cc" and .device_id == "dev-1"' \
	"$T/p1.json" >/dev/null || fail "port show: $(cat "$T/p1.json")"
openstack port create --network net1 --fixed-ip subnet=sub1,ip-address=10.0.0.50 p2 >/dev/null 2>&1 &&
	fail "an allocated address accepted twice"
openstack port create --network net1 --mac-address fa:16:3e:aa:bb:cc p3 >/dev/null 2>&1 &&
	fail "a MAC in use accepted"
openstack port set --name p1b --fixed-ip subnet="$SUB",ip-address=10.0.0.60 p1 ||
	fail "port set"
openstack port show p1b -f json | jq -e '[.fixed_ips[].ip_address] | index("10.0.0.60")' >/dev/null ||
	fail "port set --fixed-ip"
openstack port list -f value -c Name | grep -qx p1b || fail "port list"
# ---- bad input: each a 400/409 with a NeutronError, nothing half-created ----
# refused STATUS TYPE METHOD PATH BODY [TOKEN]: the status and Neutron's
# error type of one call.
refused() {
	local st=$1 type=$2 m=$3 p=$4 b=$5 tok=${6:-$TOK} code
	code=$(curl -s -o "$T/err.json" -w '%{http_code}' -X "$m" \
		-H "X-Auth-Token: $tok" -H "Content-Type: application/json" \
		-d "$b" "$NURL/v2.0/$p")
	[ "$code" = "$st" ] || fail "$m $p $b: $code, want $st: $(cat "$T/err.json")"
	jq -e --arg t "$type" '.NeutronError.type == $t and (.NeutronError.message | length > 0)' \
		"$T/err.json" >/dev/null || fail "$m $p: not a NeutronError $type: $(cat "$T/err.json")"
}
NET1=$(openstack network show net1 -f value -c id)
nports() { curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/ports?network_id=$NET1&fields=id" | jq '.ports | length'; }
nsubs() { curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/subnets?network_id=$NET1&fields=id" | jq '.subnets | length'; }
P0=$(nports)
S0=$(nsubs)
# A CIDR overlapping one of the same network (another network may reuse it).
refused 400 InvalidInput POST subnets "{\"subnet\": {\"network_id\": \"$NET1\", \"ip_version\": 4, \"cidr\": \"10.0.0.128/25\"}}"
# An allocation pool outside the subnet.
refused 400 OutOfBoundsAllocationPool POST subnets "{\"subnet\": {\"network_id\": \"$NET1\", \"ip_version\": 4, \"cidr\": \"10.1.0.0/24\", \"allocation_pools\": [{\"start\": \"10.2.0.2\", \"end\": \"10.2.0.9\"}]}}"
openstack subnet create --network net1 --subnet-range 10.1.0.0/24 \
	--allocation-pool start=10.2.0.2,end=10.2.0.9 badpool >/dev/null 2>&1 &&
	fail "openstack subnet create: a pool outside the subnet accepted"
[ "$(nsubs)" = "$S0" ] || fail "a refused subnet was created"
# A fixed IP outside the subnet, one already used, a MAC in use.
refused 400 InvalidIpForSubnet POST ports "{\"port\": {\"network_id\": \"$NET1\", \"fixed_ips\": [{\"subnet_id\": \"$SUB\", \"ip_address\": \"10.9.9.9\"}]}}"
openstack port create --network net1 --fixed-ip subnet=sub1,ip-address=10.9.9.9 pbad >/dev/null 2>&1 &&
	fail "openstack port create: a fixed IP outside the subnet accepted"
refused 409 IpAddressAlreadyAllocated POST ports "{\"port\": {\"network_id\": \"$NET1\", \"fixed_ips\": [{\"ip_address\": \"10.0.0.60\"}]}}"
refused 409 MacAddressInUse POST ports "{\"port\": {\"network_id\": \"$NET1\", \"mac_address\": \"fa:16:3e:aa:bb:cc\"}}"
[ "$(nports)" = "$P0" ] || fail "a refused port was created"
# A VLAN id 4095 (802.1Q reserves it) and VNIs outside 1-16777215 (a VNI
# outside [network] vni_ranges is a provider's choice, as in Neutron).
refused 400 InvalidInput POST networks '{"network": {"name": "bad-seg", "provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 4095}}'
openstack network create --provider-network-type vlan --provider-physical-network physnet1 \
	--provider-segment 4095 bad-seg >/dev/null 2>&1 && fail "openstack network create: VLAN 4095 accepted"
refused 400 InvalidInput POST networks '{"network": {"name": "bad-seg", "provider:network_type": "vxlan", "provider:segmentation_id": 16777216}}'
refused 400 InvalidInput POST networks '{"network": {"name": "bad-seg", "provider:network_type": "vxlan", "provider:segmentation_id": 0}}'
[ -z "$(openstack network list --name bad-seg -f value -c ID)" ] || fail "a refused network was created"
ok "bad input refused with nothing created: overlapping CIDR, pool outside, fixed IP outside/used, MAC in use, VLAN 4095, VNI out of range"

openstack network set --name net1b net1 || fail "network set"
openstack subnet set --name sub1b sub1 || fail "subnet set"
openstack network delete net1b 2>/dev/null && fail "network with ports deleted"
openstack port delete p1b || fail "port delete"
ok "network/subnet/port create, list, show, set; fixed IP, MAC, device; 409/400 refused"

# ---- another project ------------------------------------------------------------
openstack project create demo >/dev/null
openstack user create --password alice-pw --project demo alice >/dev/null
openstack role add --user alice --project demo member
NET=$(openstack network show net1b -f value -c id)
alice() { OS_USERNAME=alice OS_PASSWORD=alice-pw OS_PROJECT_NAME=demo openstack "$@"; }
alice network show "$NET" >/dev/null 2>&1 && fail "alice sees admin's network"
alice network list -f value -c ID | grep -q "$NET" && fail "alice lists admin's network"
alice network delete "$NET" >/dev/null 2>&1 && fail "alice deleted admin's network"
alice network create --provider-network-type vlan anet >/dev/null 2>&1 &&
	fail "a member set a provider attribute"
alice network create anet >/dev/null || fail "alice network create"
# Another project's network: no subnet, no port on it (404, as absent).
ATOK=$(OS_USERNAME=alice OS_PASSWORD=alice-pw OS_PROJECT_NAME=demo openstack token issue -f value -c id)
refused 404 NetworkNotFound POST subnets "{\"subnet\": {\"network_id\": \"$NET\", \"ip_version\": 4, \"cidr\": \"10.60.0.0/24\"}}" "$ATOK"
refused 404 NetworkNotFound POST ports "{\"port\": {\"network_id\": \"$NET\"}}" "$ATOK"
alice port create --network "$NET" aport >/dev/null 2>&1 && fail "alice made a port on admin's network"
[ "$(curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/subnets?cidr=10.60.0.0/24" | jq '.subnets | length')" = 0 ] ||
	fail "a refused subnet was created"
ok "another project: 404 on show, hidden in lists, no delete, no provider attributes"

# ---- network agents (the fleet's hypervisors) ---------------------------------
grep -qx agent "$T/ext.txt" || fail "extension agent not listed"
start agent-h1 "$AGENT" "$T/agent-h1.conf"
agents_alive() {
	openstack network agent list --host h1 -f json |
		jq -e '[.[] | select(.Alive == true)] | length == 3' >/dev/null
}
wait_for 20 "h1's three agents alive" agents_alive
openstack network agent list -f json > "$T/agents.json"
for t in "Linux bridge agent" "DHCP agent" "Metadata agent"; do
	jq -e --arg t "$t" '[.[] | select(."Agent Type" == $t and .Host == "h1")] | length == 1' \
		"$T/agents.json" >/dev/null || fail "agent list: no $t on h1: $(cat "$T/agents.json")"
done
[ "$(openstack network agent list --agent-type dhcp -f value -c Host)" = h1 ] ||
	fail "agent list --agent-type dhcp"
AID=$(openstack network agent list --agent-type linux-bridge -f value -c ID)
openstack network agent show "$AID" -f json > "$T/agent.json" || fail "agent show"
jq -e '.host == "h1" and .agent_type == "Linux bridge agent" and .binary == "neutron-linuxbridge-agent" and .alive == true and .admin_state_up == true and .last_heartbeat_at != null' \
	"$T/agent.json" >/dev/null || fail "agent show: $(cat "$T/agent.json")"
[ -z "$(alice network agent list -f value)" ] || fail "a member lists agents"
alice network agent show "$AID" >/dev/null 2>&1 && fail "a member shows an agent"
kill "$(pid_of agent-h1)"
agents_down() {
	openstack network agent list --host h1 -f json |
		jq -e '[.[] | select(.Alive == false)] | length == 3' >/dev/null
}
wait_for 20 "h1's agents down" agents_down
ok "network agent list/show: h1's L2, DHCP and metadata agents, alive then down; admin only"

# ---- quotas -------------------------------------------------------------------------
DEMO=$(openstack project show demo -f value -c id)
openstack quota set --networks 1 demo || fail "quota set --networks"
curl -s "${A[@]}" "$NURL/v2.0/quotas/$DEMO" | jq -e '.quota.network == 1' >/dev/null ||
	fail "quota not stored"
alice network create anet2 >/dev/null 2>&1 && fail "network over quota created"
curl -s "${A[@]}" "$NURL/v2.0/quotas/$DEMO/details.json" | jq -e '.quota.network.used == 1' >/dev/null ||
	fail "quota details"
# `quota show` also asks the volume API, which this controller does not
# serve; `quota list --detail --network` reads only details.json.
openstack quota list --detail --network --project demo -f json > "$T/q.json" ||
	fail "quota list --detail --network"
jq -e '.[] | select(.Resource == "networks" or .Resource == "network") | .Limit == 1 and ."In Use" == 1' \
	"$T/q.json" | grep -qx true || fail "quota list --detail: $(cat "$T/q.json")"
ok "quota set --networks, quota list --detail --network, over-quota create refused"

# ---- tinystack-manage network create ---------------------------------------------------
manage network create --label private --fixed-range 10.9.0.0/24 --vlan 100 >/dev/null ||
	fail "tinystack-manage network create"
openstack network show private -f value -c provider:segmentation_id | grep -qx 100 ||
	fail "manage network: segment"
openstack subnet list --network private -f value -c Subnet | grep -qx 10.9.0.0/24 ||
	fail "manage network: subnet"
ok "tinystack-manage network create --label --fixed-range --vlan"

# ---- the IPAM race ----------------------------------------------------------------------
openstack network create race >/dev/null
openstack subnet create --network race --subnet-range 10.50.0.0/25 rsub >/dev/null
RNET=$(openstack network show race -f value -c id)
mkdir -p "$T/race"
seq 1 200 | xargs -P 16 -I{} sh -c "curl -s -o '$T/race/{}.json' -w '%{http_code}\n' \
	-H 'X-Auth-Token: $TOK' -H 'Content-Type: application/json' \
	-d '{\"port\": {\"network_id\": \"$RNET\"}}' '$NURL/v2.0/ports'" > "$T/codes.txt"
n201=$(grep -c '^201$' "$T/codes.txt")
n409=$(grep -c '^409$' "$T/codes.txt")
[ "$((n201 + n409))" = 200 ] || fail "race: unexpected statuses: $(sort "$T/codes.txt" | uniq -c | tr '\n' ' ')"
# 10.50.0.0/25: .2-.126 in the pool (gateway .1).
[ "$n201" = 125 ] || fail "race: $n201 ports created, 125 expected"
cat "$T"/race/*.json | jq -r '.port.fixed_ips[0].ip_address // empty' | sort > "$T/ips.txt"
[ "$(sort -u "$T/ips.txt" | wc -l)" = 125 ] || fail "race: duplicate addresses"
[ "$(curl -s "${A[@]}" "$NURL/v2.0/ports?network_id=$RNET&fields=id" | jq '.ports | length')" = 125 ] ||
	fail "race: stored ports differ"
ok "200 concurrent port creates on a /25: 125 distinct addresses, 75 clean 409s"

echo "1..$NPASS"
