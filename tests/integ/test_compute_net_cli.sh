#!/bin/bash
# Servers on networks, driven by the real openstack client against a
# controller and one agent on libvirt's test driver (127.0.0.1 only):
# `network create` + `subnet create`, then `server create --network N`,
# `--nic net-id=N,v4-fixed-ip=IP` and `--port P`; `server show` lists the
# addresses (from the ports); `server delete` deletes the ports it created
# and unbinds the one it was given (`port list --device-id`); a network
# that does not exist and a port in use are refused. os-interface: `server
# add port`, `server add network`, `server remove port`, `server add fixed
# ip` (and the removeFixedIp action), `port list --server`, the guest's NICs following, and the refusals (409/404/400)
# that change nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"
set +o pipefail

KEEP_NETWORK=1 compute_setup 1
. "$T/openrc"

openstack flavor create --ram 128 --disk 1 --vcpus 1 m1.tiny >/dev/null
head -c 1048576 /dev/zero > "$T/disk.raw"
openstack image create --disk-format raw --container-format bare --public \
	--file "$T/disk.raw" img >/dev/null
openstack network create net1 >/dev/null || fail "network create"
openstack subnet create --network net1 --subnet-range 10.30.0.0/24 sub1 >/dev/null ||
	fail "subnet create"
NET1=$(openstack network show net1 -f value -c id)

# ---- --network ---------------------------------------------------------------
openstack server create --flavor m1.tiny --image img --network net1 --wait vm1 \
	> "$T/vm1.txt" || { cat "$T/vm1.txt"; fail "server create --network"; }
VM1=$(openstack server show vm1 -f value -c id)
openstack server show vm1 -f value -c addresses | grep -q "net1.*10\.30\.0\." ||
	fail "server show lists no net1 address: $(openstack server show vm1 -f value -c addresses)"
openstack port list --device-id "$VM1" -f value -c ID > "$T/p1.txt"
[ "$(wc -l < "$T/p1.txt")" = 1 ] || fail "vm1 has not one port"
P1=$(cat "$T/p1.txt")
[ "$(openstack port show "$P1" -f value -c binding_host_id)" = h1 ] ||
	fail "vm1's port is not bound to h1"
[ "$(openstack port show "$P1" -f value -c device_owner)" = compute:nova ] ||
	fail "vm1's port owner"
openstack server list -f value -c Networks | grep -q "10\.30\.0\." || fail "server list Networks"
ok "server create --network: a port on net1, bound to the host, address in show and list"

# ---- --nic net-id=,v4-fixed-ip= ---------------------------------------------------
openstack server create --flavor m1.tiny --image img \
	--nic "net-id=$NET1,v4-fixed-ip=10.30.0.77" --wait vm2 >/dev/null ||
	fail "server create --nic v4-fixed-ip"
openstack server show vm2 -f value -c addresses | grep -q "10\.30\.0\.77" ||
	fail "vm2 has not 10.30.0.77"
openstack server create --flavor m1.tiny --image img \
	--nic "net-id=$NET1,v4-fixed-ip=10.30.0.77" vm2b 2>"$T/err.txt" &&
	fail "a fixed IP in use accepted"
grep -q "HTTP 400" "$T/err.txt" || { cat "$T/err.txt"; fail "fixed IP in use: not 400"; }
# The client looks a network up itself first: Nova's own answer through
# the API.
admin_token
FL=$(openstack flavor show m1.tiny -f value -c id)
IMG=$(openstack image show img -f value -c id)
curl -s -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
	-d "{\"server\": {\"name\": \"vmx\", \"flavorRef\": \"$FL\", \"imageRef\": \"$IMG\",
	\"networks\": [{\"uuid\": \"0c4ab6e0-0000-4000-8000-000000000000\"}]}}" \
	"http://127.0.0.1:$CP/v2.1/servers" > "$T/err.json"
[ "$(jq -r .badRequest.message "$T/err.json")" = \
	"Network 0c4ab6e0-0000-4000-8000-000000000000 could not be found." ] ||
	{ cat "$T/err.json"; fail "unknown network: not Nova's 400"; }
openstack server show vm2b >/dev/null 2>&1 && fail "vm2b exists"
openstack server show vmx >/dev/null 2>&1 && fail "vmx exists"
ok "server create --nic net-id,v4-fixed-ip; a fixed IP in use and an unknown network refused, nothing created"

# ---- --port -----------------------------------------------------------------------
openstack port create --network net1 p3 >/dev/null || fail "port create"
P3=$(openstack port show p3 -f value -c id)
openstack server create --flavor m1.tiny --image img --port p3 --wait vm3 >/dev/null ||
	fail "server create --port"
VM3=$(openstack server show vm3 -f value -c id)
[ "$(openstack port show p3 -f value -c device_id)" = "$VM3" ] || fail "p3 not bound to vm3"
openstack server create --flavor m1.tiny --image img --port p3 vm4 2>"$T/err.txt" &&
	fail "a port in use accepted"
grep -q "HTTP 409" "$T/err.txt" && grep -q "Port $P3 is still in use" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "port in use: not 409"; }
ok "server create --port binds the port; a port in use is refused with 409"

# ---- os-interface: server add/remove port and network ------------------------------
# The agent's test driver has no device hot-plug: the agent re-defines the
# guest with the new NIC list and says so in its log ("NICs re-defined").
nics_logged() { grep -q "guest $1: NICs re-defined ($2)" "$T/agent-h1.log"; }
ports_of() { openstack port list --server "$1" -f value -c ID | sort; }
openstack port create --network net1 p5 >/dev/null || fail "port create p5"
P5=$(openstack port show p5 -f value -c id)
P5IP=$(openstack port show p5 -f json -c fixed_ips | jq -r '.fixed_ips[0].ip_address')
openstack server add port vm1 p5 || fail "server add port"
[ "$(openstack port show p5 -f value -c device_id)" = "$VM1" ] || fail "p5 not bound to vm1"
[ "$(openstack port show p5 -f value -c binding_host_id)" = h1 ] || fail "p5 not bound to h1"
openstack server show vm1 -f value -c addresses | grep -q "$P5IP" ||
	fail "server show vm1 lacks p5's $P5IP: $(openstack server show vm1 -f value -c addresses)"
[ "$(ports_of vm1)" = "$(printf '%s\n' "$P1" "$P5" | sort)" ] ||
	fail "port list --server vm1: $(ports_of vm1)"
wait_for 15 "vm1's guest gets its second NIC" nics_logged "$VM1" "1 -> 2"
admin_token
curl -s "${H[@]}" "http://127.0.0.1:$CP/v2.1/servers/$VM1/os-interface" > "$T/ifs.json"
[ "$(jq '.interfaceAttachments | length' "$T/ifs.json")" = 2 ] ||
	{ cat "$T/ifs.json"; fail "os-interface list"; }
jq -e --arg p "$P5" --arg n "$NET1" --arg ip "$P5IP" '.interfaceAttachments[] |
	select(.port_id == $p and .net_id == $n and .port_state == "ACTIVE" and
	.fixed_ips[0].ip_address == $ip and (.mac_addr | length) == 17)' "$T/ifs.json" >/dev/null ||
	{ cat "$T/ifs.json"; fail "p5's interfaceAttachment"; }
ok "server add port: bound to vm1 on h1, in addresses, port list --server and os-interface; the guest gets the NIC"

# Negatives: nothing changes.
openstack server add port vm2 p5 2>"$T/err.txt" && fail "a port in use attached"
grep -q -E "HTTP 409|409:" "$T/err.txt" || { cat "$T/err.txt"; fail "port in use: not 409"; }
[ "$(openstack port show p5 -f value -c device_id)" = "$VM1" ] || fail "p5 moved"
curl -s -o "$T/err.json" -w '%{http_code}' "${H[@]}" -H 'Content-Type: application/json' \
	-d '{"interfaceAttachment": {"port_id": "0c4ab6e0-0000-4000-8000-000000000000"}}' \
	"http://127.0.0.1:$CP/v2.1/servers/$VM1/os-interface" > "$T/code.txt"
[ "$(cat "$T/code.txt")" = 404 ] || { cat "$T/err.json"; fail "unknown port: not 404"; }
code=$(curl -s -o "$T/err.json" -w '%{http_code}' "${H[@]}" -X DELETE \
	"http://127.0.0.1:$CP/v2.1/servers/0c4ab6e0-0000-4000-8000-000000000000/os-interface/$P5")
[ "$code" = 404 ] || { cat "$T/err.json"; fail "unknown server: not 404"; }
openstack server remove port vm2 p5 2>"$T/err.txt" && fail "a port of another server detached"
grep -q -E "HTTP 404|404:" "$T/err.txt" || { cat "$T/err.txt"; fail "port of another server: not 404"; }
code=$(curl -s -o "$T/err.json" -w '%{http_code}' "${H[@]}" -H 'Content-Type: application/json' \
	-d '{"interfaceAttachment": {"port_id": 7}}' \
	"http://127.0.0.1:$CP/v2.1/servers/$VM1/os-interface")
[ "$code" = 400 ] || { cat "$T/err.json"; fail "bad body: not 400"; }
openstack port create --network net1 p6 >/dev/null || fail "port create p6"
openstack server suspend vm2 || fail "suspend vm2"
wait_for 15 "vm2 SUSPENDED" sh -c "openstack server show vm2 -f value -c status | grep -qx SUSPENDED"
openstack server add port vm2 p6 2>"$T/err.txt" && fail "attached to a suspended server"
grep -q -E "HTTP 409|409:" "$T/err.txt" || { cat "$T/err.txt"; fail "suspended: not 409"; }
[ -z "$(openstack port show p6 -f value -c device_id)" ] || fail "p6 bound by a refused attach"
[ "$(ports_of vm1)" = "$(printf '%s\n' "$P1" "$P5" | sort)" ] || fail "vm1's ports changed"
openstack server resume vm2 || fail "resume vm2"
ok "a port in use (409), an unknown port or server (404), another server's port (404), a bad body (400), a suspended server (409): nothing changed"

# server add network: compute creates the port (and deletes it on detach).
openstack server add network vm1 net1 || fail "server add network"
PN=$(ports_of vm1 | grep -v -e "$P1" -e "$P5")
[ -n "$PN" ] || fail "server add network made no port"
[ "$(openstack port show "$PN" -f value -c device_owner)" = compute:nova ] ||
	fail "the port of add network is not compute's"
wait_for 15 "vm1's guest gets its third NIC" nics_logged "$VM1" "2 -> 3"
openstack server remove port vm1 "$PN" || fail "server remove port (created)"
openstack port show "$PN" >/dev/null 2>&1 && fail "the port compute made survived its detach"
openstack server remove port vm1 p5 || fail "server remove port (given)"
[ -z "$(openstack port show p5 -f value -c device_id)" ] || fail "p5 still bound"
[ -z "$(openstack port show p5 -f value -c binding_host_id)" ] || fail "p5 still on h1"
[ "$(ports_of vm1)" = "$P1" ] || fail "vm1's ports after detach: $(ports_of vm1)"
openstack server show vm1 -f value -c addresses | grep -q "$P5IP" && fail "p5's address still shown"
wait_for 15 "vm1's guest is back to one NIC" sh -c "grep -q 'guest $VM1: NICs re-defined (. -> 1)' '$T/agent-h1.log'"
openstack port delete p5 p6 || fail "port delete p5 p6"
ok "server add network creates a port; remove port deletes it, and unbinds a given one; the guest follows"

# server add/remove fixed ip: below 2.44 the clients send the multinic
# actions (addFixedIp on a network the server has a port on).
p1_ips() { openstack port show "$P1" -f json -c fixed_ips | jq -r '.fixed_ips[].ip_address'; }
P1IP=$(p1_ips)
openstack server add fixed ip vm1 net1 || fail "server add fixed ip"
NEWIP=$(p1_ips | grep -v -x "$P1IP")
[ "$(p1_ips | wc -l)" = 2 ] && [ -n "$NEWIP" ] || fail "p1 has not two addresses: $(p1_ips)"
openstack server show vm1 -f value -c addresses | grep -q "$NEWIP" ||
	fail "server show lacks $NEWIP"
# `openstack server remove fixed ip` cannot work with Debian 12's clients:
# openstackclient calls novaclient's Server.remove_fixed_ip(), which
# novaclient 18 no longer has (an AttributeError before any request). The
# request it used to send, as openstacksdk's remove_fixed_ip_from_server()
# still does, is the removeFixedIp action: sent here with curl.
rm_ip() {
	curl -s -o "$T/err.json" -w '%{http_code}' "${H[@]}" \
		-H 'Content-Type: application/json' \
		-d "{\"removeFixedIp\": {\"address\": \"$1\"}}" \
		"http://127.0.0.1:$CP/v2.1/servers/$VM1/action"
}
admin_token
[ "$(rm_ip 10.30.0.250)" = 400 ] || { cat "$T/err.json"; fail "unknown address: not 400"; }
[ "$(jq -r .badRequest.message "$T/err.json")" = \
	"Instance $VM1 doesn't have fixed IP '10.30.0.250'." ] ||
	{ cat "$T/err.json"; fail "unknown address: not Nova's message"; }
[ "$(p1_ips | wc -l)" = 2 ] || fail "a refused remove changed p1"
[ "$(rm_ip "$NEWIP")" = 202 ] || { cat "$T/err.json"; fail "removeFixedIp"; }
[ "$(p1_ips)" = "$P1IP" ] || fail "p1's addresses after remove: $(p1_ips)"
openstack server show vm1 -f value -c addresses | grep -q "$NEWIP" &&
	fail "server show still lists $NEWIP"
ok "server add fixed ip adds an address to vm1's port on net1; removeFixedIp takes it off (400 for one it lacks)"

# ---- delete ---------------------------------------------------------------------------
openstack server delete --wait vm1 vm2 vm3 || fail "server delete"
[ -z "$(openstack port list --device-id "$VM1" -f value -c ID)" ] || fail "vm1's port left"
openstack port show "$P1" >/dev/null 2>&1 && fail "vm1's port still exists"
openstack port show p3 >/dev/null 2>&1 || fail "p3 (given, not created) was deleted"
[ -z "$(openstack port show p3 -f value -c device_id)" ] || fail "p3 still bound"
[ "$(openstack port list --network net1 -f value -c ID)" = "$P3" ] ||
	fail "ports left on net1: $(openstack port list --network net1 -f value -c ID)"
ok "server delete deletes the ports it made and unbinds the one it was given"
