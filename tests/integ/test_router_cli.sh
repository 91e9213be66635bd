#!/bin/bash
# Routers and floating IPs (Neutron's router, ext-gw-mode, extraroute and
# fip-port-details) driven by the real python3-openstackclient against a
# controller on 127.0.0.1: an external network (admin), router create /
# set --external-gateway / add subnet / set --route / remove subnet /
# delete, floating ip create [--floating-ip-address] / set --port / unset
# --port / list / show / delete, quotas; and the bad input, each with its
# status, Neutron's error type and nothing changed: a gateway on a network
# that is not external, a subnet without gateway, a subnet twice, a
# nexthop not connected, a floating IP on a port with no router path, an
# address outside the external subnet or in use, a floating IP on a
# network that is not external, another project's floating IP and port,
# deleting a router with interfaces, removing an interface a floating IP
# needs, deleting a router's port through the port API; and
# `tinystack-manage floating create --ip-range --pool`.
. "$(dirname "$0")/lib.sh"
osc_start
for c in openstack curl jq; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
set +o pipefail

BUS=$(free_port)
IDP=$(free_port)
NP=$(free_port)
NURL=http://127.0.0.1:$NP
api_lines "$IDP"
API_LINES=("${API_LINES[@]/network_port = */network_port = $NP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$NURL/"
# shellcheck disable=SC1091
. "$T/openrc"
# A token without the CLI: each openstack call costs seconds.
TOK=$(curl -s -D - -o /dev/null -H "Content-Type: application/json" -d "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\": \"$OS_USERNAME\", \"domain\": {\"id\": \"default\"}, \"password\": \"$OS_PASSWORD\"}}}, \"scope\": {\"project\": {\"name\": \"$OS_PROJECT_NAME\", \"domain\": {\"id\": \"default\"}}}}}" \
	"$OS_AUTH_URL/auth/tokens" | awk 'tolower($1) == "x-subject-token:" {print $2}' | tr -d '\r')
[ -n "$TOK" ] || fail "admin token"

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
get() { curl -s -H "X-Auth-Token: ${2:-$TOK}" "$NURL/v2.0/$1"; }
# call METHOD PATH BODY: the setup the CLI is not under test for (each CLI
# call costs seconds), answered JSON on stdout; a failure fails the test.
call() {
	local code
	code=$(curl -s -o "$T/call.json" -w '%{http_code}' -X "$1" -H "X-Auth-Token: $TOK" \
		-H "Content-Type: application/json" -d "$3" "$NURL/v2.0/$2")
	case $code in 2*) cat "$T/call.json" ;; *) fail "$1 $2 $3: $code $(cat "$T/call.json")" ;; esac
}

curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/extensions" | jq -r '.extensions[].alias' > "$T/ext.txt"
for e in router ext-gw-mode extraroute fip-port-details; do
	grep -qx "$e" "$T/ext.txt" || fail "extension $e not listed"
done
ok "extensions router, ext-gw-mode, extraroute, fip-port-details listed"

# ---- external network, private network, router --------------------------------
openstack network create --external public >/dev/null || fail "network create --external"
PUB=$(get "networks?name=public" | jq -r '.networks[0].id')
call POST subnets "{\"subnet\": {\"network_id\": \"$PUB\", \"ip_version\": 4, \"cidr\": \"203.0.113.0/24\", \"enable_dhcp\": false, \"allocation_pools\": [{\"start\": \"203.0.113.10\", \"end\": \"203.0.113.50\"}]}}" >/dev/null
PRIV=$(call POST networks '{"network": {"name": "private"}}' | jq -r .network.id)
PRIVSUB=$(call POST subnets "{\"subnet\": {\"network_id\": \"$PRIV\", \"ip_version\": 4, \"cidr\": \"10.0.0.0/24\", \"name\": \"privsub\"}}" | jq -r .subnet.id)
NOGW=$(call POST subnets "{\"subnet\": {\"network_id\": \"$PRIV\", \"ip_version\": 4, \"cidr\": \"10.0.1.0/24\", \"gateway_ip\": null}}" | jq -r .subnet.id)
openstack router create r1 >/dev/null || fail "router create"
R1=$(get "routers?name=r1" | jq -r '.routers[0].id')
openstack router set --external-gateway public r1 || fail "router set --external-gateway"
get "routers/$R1" | jq .router > "$T/r1.json"
jq -e --arg n "$PUB" '.external_gateway_info.network_id == $n and .external_gateway_info.enable_snat == true
	and (.external_gateway_info.external_fixed_ips[0].ip_address | startswith("203.0.113."))' \
	"$T/r1.json" >/dev/null || fail "gateway: $(cat "$T/r1.json")"
GWIP=$(jq -r '.external_gateway_info.external_fixed_ips[0].ip_address' "$T/r1.json")
get "ports?device_id=$R1" | jq -e '.ports | length == 1 and .[0].device_owner == "network:router_gateway"' \
	>/dev/null || fail "gateway port"
openstack router add subnet r1 privsub || fail "router add subnet"
get "ports?device_id=$R1&device_owner=network:router_interface" |
	jq -e '.ports | length == 1 and .[0].fixed_ips[0].ip_address == "10.0.0.1"' >/dev/null ||
	fail "interface port: $(get "ports?device_id=$R1")"
call PUT "routers/$R1" '{"router": {"routes": [{"destination": "192.168.50.0/24", "nexthop": "10.0.0.7"}]}}' >/dev/null
get "routers/$R1" | jq -e '.router.routes[0].nexthop == "10.0.0.7"' >/dev/null || fail "extra route"
get "routers?fields=name" | jq -e '[.routers[].name] | index("r1")' >/dev/null || fail "router list"
ok "router create, set --external-gateway (gateway port $GWIP), add subnet (gateway_ip), set --route, list"

# ---- router bad input ------------------------------------------------------------
NR=$(get "ports?device_id=$R1&fields=id" | jq '.ports | length')
refused 400 BadRequest PUT "routers/$R1" "{\"router\": {\"external_gateway_info\": {\"network_id\": \"$PRIV\"}}}"
get "routers/$R1" | jq -e --arg n "$PUB" '.router.external_gateway_info.network_id == $n' >/dev/null ||
	fail "refused gateway changed the router"
refused 400 BadRequest PUT "routers/$R1/add_router_interface" "{\"subnet_id\": \"$NOGW\"}"
refused 400 BadRequest PUT "routers/$R1/add_router_interface" "{\"subnet_id\": \"$PRIVSUB\"}"
refused 400 InvalidRoutes PUT "routers/$R1" '{"router": {"routes": [{"destination": "10.9.0.0/16", "nexthop": "172.16.0.1"}]}}'
get "routers/$R1" | jq -e '.router.routes | length == 1' >/dev/null || fail "refused route stored"
[ "$(get "ports?device_id=$R1&fields=id" | jq '.ports | length')" = "$NR" ] ||
	fail "a refused interface left a port"
refused 409 RouterInUse DELETE "routers/$R1" ""
get "routers/$R1" | jq -e '.router.id' >/dev/null || fail "router gone after a refused delete"
IFPORT=$(get "ports?device_id=$R1&device_owner=network:router_interface" | jq -r '.ports[0].id')
refused 409 L3PortInUse DELETE "ports/$IFPORT" ""
refused 409 NetworkInUse DELETE "networks/$PRIV" ""
ok "router bad input: non-external gateway, subnet without gateway, subnet twice, unconnected nexthop, delete with interfaces, port/network in use (nothing changed)"

# ---- floating IPs ---------------------------------------------------------------
call POST ports "{\"port\": {\"network_id\": \"$PRIV\", \"name\": \"vm1\", \"fixed_ips\": [{\"subnet_id\": \"$PRIVSUB\"}]}}" > "$T/vm1.json"
VM1=$(jq -r .port.id "$T/vm1.json")
VM1IP=$(jq -r '.port.fixed_ips[0].ip_address' "$T/vm1.json")
FIP=$(openstack floating ip create --floating-ip-address 203.0.113.40 public -f value -c id) ||
	fail "floating ip create --floating-ip-address"
get "floatingips?floating_ip_address=203.0.113.40" | jq -r '.floatingips[].id' | grep -qx "$FIP" ||
	fail "floating ip list filter floating_ip_address"
get "floatingips/$FIP" | jq -e '.floatingip.status == "DOWN"' >/dev/null || fail "unassociated not DOWN"
openstack floating ip set --port vm1 "$FIP" || fail "floating ip set --port"
get "floatingips/$FIP" | jq .floatingip > "$T/fip.json"
jq -e --arg p "$VM1" --arg ip "$VM1IP" --arg r "$R1" --arg n "$PRIV" '.port_id == $p and .fixed_ip_address == $ip
	and .router_id == $r and .status == "ACTIVE" and .port_details.network_id == $n and .port_details.name == "vm1"' \
	"$T/fip.json" >/dev/null || fail "association: $(cat "$T/fip.json")"
get "floatingips?port_id=$VM1&router_id=$R1&status=ACTIVE" | jq -r '.floatingips[].id' | grep -qx "$FIP" ||
	fail "floating ip list filters"
openstack floating ip create public -f value -c floating_ip_address > "$T/fip2.txt" ||
	fail "floating ip create"
grep -q '^203\.0\.113\.' "$T/fip2.txt" || fail "allocated address: $(cat "$T/fip2.txt")"
ok "floating ip create (given $(cat "$T/fip2.txt") and 203.0.113.40), set --port, show (port_details, router_id, ACTIVE), list filters"

# ---- floating IP bad input -------------------------------------------------------
NF=$(get floatingips | jq '.floatingips | length')
refused 400 InvalidIpForSubnet POST floatingips "{\"floatingip\": {\"floating_network_id\": \"$PUB\", \"floating_ip_address\": \"198.51.100.5\"}}"
refused 409 IpAddressAlreadyAllocated POST floatingips "{\"floatingip\": {\"floating_network_id\": \"$PUB\", \"floating_ip_address\": \"203.0.113.40\"}}"
refused 400 BadRequest POST floatingips "{\"floatingip\": {\"floating_network_id\": \"$PRIV\"}}"
# A port on a network no router connects to the external network.
LN=$(call POST networks '{"network": {"name": "lonely"}}' | jq -r .network.id)
call POST subnets "{\"subnet\": {\"network_id\": \"$LN\", \"ip_version\": 4, \"cidr\": \"10.5.0.0/24\"}}" >/dev/null
LP=$(call POST ports "{\"port\": {\"network_id\": \"$LN\"}}" | jq -r .port.id)
refused 404 ExternalGatewayForFloatingIPNotFound POST floatingips "{\"floatingip\": {\"floating_network_id\": \"$PUB\", \"port_id\": \"$LP\"}}"
[ "$(get floatingips | jq '.floatingips | length')" = "$NF" ] || fail "a refused floating IP was created"
refused 409 RouterInterfaceInUseByFloatingIP PUT "routers/$R1/remove_router_interface" "{\"subnet_id\": \"$PRIVSUB\"}"
refused 409 RouterExternalGatewayInUseByFloatingIp PUT "routers/$R1" '{"router": {"external_gateway_info": {}}}'
get "floatingips/$FIP" | jq -e --arg p "$VM1" '.floatingip.port_id == $p' >/dev/null ||
	fail "refused calls changed the association"
# Another project: the floating IP is not found, its port cannot be used.
IURL=$OS_AUTH_URL
ik() { curl -s -X "$1" -H "X-Auth-Token: $TOK" -H "Content-Type: application/json" ${3:+-d "$3"} "$IURL/$2"; }
DEMO=$(ik POST projects '{"project": {"name": "demo", "domain_id": "default"}}' | jq -r .project.id)
ALICE=$(ik POST users "{\"user\": {\"name\": \"alice\", \"password\": \"alice-pw\", \"domain_id\": \"default\", \"default_project_id\": \"$DEMO\"}}" | jq -r .user.id)
MEMBER=$(ik GET "roles?name=member" | jq -r '.roles[0].id')
ik PUT "projects/$DEMO/users/$ALICE/roles/$MEMBER" >/dev/null
ATOK=$(curl -s -D - -o /dev/null -H "Content-Type: application/json" -d "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"id\": \"$ALICE\", \"password\": \"alice-pw\"}}}, \"scope\": {\"project\": {\"id\": \"$DEMO\"}}}}" \
	"$IURL/auth/tokens" | awk 'tolower($1) == "x-subject-token:" {print $2}' | tr -d '\r')
[ -n "$ATOK" ] || fail "token of another project"
refused 404 FloatingIPNotFound GET "floatingips/$FIP" "" "$ATOK"
refused 404 FloatingIPNotFound PUT "floatingips/$FIP" '{"floatingip": {"port_id": null}}' "$ATOK"
refused 404 FloatingIPNotFound DELETE "floatingips/$FIP" "" "$ATOK"
refused 404 PortNotFound POST floatingips "{\"floatingip\": {\"floating_network_id\": \"$PUB\", \"port_id\": \"$VM1\"}}" "$ATOK"
[ "$(get floatingips "$ATOK" | jq '.floatingips | length')" = 0 ] || fail "another project lists our floating IPs"
get "floatingips/$FIP" | jq -e --arg p "$VM1" '.floatingip.port_id == $p' >/dev/null ||
	fail "another project changed the floating IP"
[ "$(get floatingips | jq '.floatingips | length')" = "$NF" ] || fail "another project created a floating IP"
ok "floating IP bad input: outside the subnet, in use, non-external network, no router path, interface/gateway in use, another project's (nothing changed)"

# ---- quotas ---------------------------------------------------------------------
get "quotas/$DEMO" | jq -e '.quota.router == 10 and .quota.floatingip == 50' >/dev/null ||
	fail "default quotas: $(get "quotas/$DEMO")"
call PUT "quotas/$DEMO" '{"quota": {"router": 0}}' >/dev/null
refused 409 OverQuota POST routers '{"router": {"name": "over"}}' "$ATOK"
ok "quotas: router 10 and floatingip 50 by default, router quota enforced"

# ---- teardown through the API ----------------------------------------------------
openstack floating ip unset --port "$FIP" || fail "floating ip unset --port"
get "floatingips/$FIP" | jq -e '.floatingip.port_id == null and .floatingip.status == "DOWN"' >/dev/null ||
	fail "unset --port"
call PUT "floatingips/$FIP" "{\"floatingip\": {\"port_id\": \"$VM1\"}}" >/dev/null
call DELETE "ports/$VM1" "" >/dev/null
get "floatingips/$FIP" | jq -e '.floatingip.port_id == null' >/dev/null ||
	fail "a deleted port's floating IP kept its association"
openstack floating ip delete "$FIP" || fail "floating ip delete"
openstack floating ip list -f value -c ID | grep -qx "$FIP" && fail "deleted floating IP listed"
[ -z "$(get "ports?device_id=$FIP" | jq -r '.ports[].id')" ] || fail "floating IP port left"
# The released address can be taken again.
call POST floatingips "{\"floatingip\": {\"floating_network_id\": \"$PUB\", \"floating_ip_address\": \"203.0.113.40\"}}" >/dev/null
openstack router remove subnet r1 privsub || fail "router remove subnet"
get "ports?device_id=$R1&device_owner=network:router_interface" | jq -e '.ports | length == 0' >/dev/null ||
	fail "interface port left"
openstack router unset --external-gateway r1 || fail "router unset --external-gateway"
openstack router delete r1 || fail "router delete"
get "ports?device_id=$R1" | jq -e '.ports | length == 0' >/dev/null || fail "gateway port left"
ok "floating ip unset --port, port delete disassociates, floating ip delete releases; router remove subnet, unset gateway, delete"

# ---- tinystack-manage floating create ----------------------------------------------
manage floating create --ip-range 192.0.2.0/28 --pool ext2 >/dev/null || fail "floating create"
manage floating create --ip-range 192.0.2.16/28 --pool ext2 --physnet other >/dev/null ||
	fail "floating create (reuse)"
get "networks?name=ext2" > "$T/ext2.json"
jq -e '.networks | length == 1 and .[0]."router:external" == true and .[0]."provider:network_type" == "flat"
	and .[0]."provider:physical_network" == "ext2" and (.[0].subnets | length == 2)' "$T/ext2.json" >/dev/null ||
	fail "floating pool: $(cat "$T/ext2.json")"
E2=$(jq -r '.networks[0].id' "$T/ext2.json")
call POST floatingips "{\"floatingip\": {\"floating_network_id\": \"$E2\"}}" |
	jq -e '.floatingip.floating_ip_address | startswith("192.0.2.")' >/dev/null || fail "floating IP from the pool"
manage floating create --ip-range 192.0.2.0/28 --pool ext2 >/dev/null 2>&1 && fail "overlapping range accepted"
get "networks?name=ext2" | jq -e '.networks[0].subnets | length == 2' >/dev/null || fail "refused range stored"
ok "tinystack-manage floating create --ip-range --pool: external flat network reused, subnets, floating IPs from it"
echo "1..$NPASS"
