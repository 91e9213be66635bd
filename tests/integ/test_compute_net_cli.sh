#!/bin/bash
# Servers on networks, driven by the real openstack client against a
# controller and one agent on libvirt's test driver (127.0.0.1 only):
# `network create` + `subnet create`, then `server create --network N`,
# `--nic net-id=N,v4-fixed-ip=IP` and `--port P`; `server show` lists the
# addresses (from the ports); `server delete` deletes the ports it created
# and unbinds the one it was given (`port list --device-id`); a network
# that does not exist and a port in use are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
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

# ---- delete ---------------------------------------------------------------------------
openstack server delete --wait vm1 vm2 vm3 || fail "server delete"
[ -z "$(openstack port list --device-id "$VM1" -f value -c ID)" ] || fail "vm1's port left"
openstack port show "$P1" >/dev/null 2>&1 && fail "vm1's port still exists"
openstack port show p3 >/dev/null 2>&1 || fail "p3 (given, not created) was deleted"
[ -z "$(openstack port show p3 -f value -c device_id)" ] || fail "p3 still bound"
[ "$(openstack port list --network net1 -f value -c ID)" = "$P3" ] ||
	fail "ports left on net1: $(openstack port list --network net1 -f value -c ID)"
ok "server delete deletes the ports it made and unbinds the one it was given"
