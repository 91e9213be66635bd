#!/bin/bash
# A server's security groups, driven by the real openstack client against
# a controller and one agent on libvirt's test driver (127.0.0.1 only):
# `server add security group` (the client finds the group through Nova's
# os-security-groups proxy, then posts addSecurityGroup) puts the group on
# the server's port (`port show`), `server remove security group` takes it
# off; an unknown group (404) and removing one not associated (400) are
# refused, the port's groups unchanged.
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
openstack subnet create --network net1 --subnet-range 10.31.0.0/24 sub1 >/dev/null ||
	fail "subnet create"
openstack server create --flavor m1.tiny --image img --network net1 --wait vm1 \
	> "$T/vm1.txt" || { cat "$T/vm1.txt"; fail "server create --network"; }
VM1=$(openstack server show vm1 -f value -c id)
P1=$(openstack port list --device-id "$VM1" -f value -c ID)
[ -n "$P1" ] || fail "vm1 has no port"
WEB=$(openstack security group create web -f value -c id) || fail "security group create"
groups_of() { openstack port show "$P1" -f json | jq -r '.security_group_ids | sort | join(",")'; }
G0=$(groups_of)

# ---- add ---------------------------------------------------------------------
openstack server add security group vm1 web || fail "server add security group"
groups_of | grep -q "$WEB" || fail "web not on vm1's port: $(groups_of)"
G1=$(groups_of)
openstack server add security group vm1 web || fail "adding again is not 202"
[ "$(groups_of)" = "$G1" ] || fail "a second add changed the port: $(groups_of)"
ok "server add security group: the group on the server's port; again: no change"

# ---- refusals: nothing changes ------------------------------------------------
admin_token
code=$(curl -s -o "$T/err.json" -w '%{http_code}' "${H[@]}" -H 'Content-Type: application/json' \
	-d '{"addSecurityGroup": {"name": "nope"}}' "http://127.0.0.1:$CP/v2.1/servers/$VM1/action")
[ "$code" = 404 ] || { cat "$T/err.json"; fail "unknown group: $code, not 404"; }
grep -q "Security group nope not found for project" "$T/err.json" ||
	{ cat "$T/err.json"; fail "unknown group message"; }
openstack server add security group vm1 nope 2>/dev/null && fail "unknown group added"
[ "$(groups_of)" = "$G1" ] || fail "an unknown group changed the port: $(groups_of)"
openstack server remove security group vm1 web || fail "server remove security group"
[ "$(groups_of)" = "$G0" ] || fail "web still on vm1's port: $(groups_of)"
code=$(curl -s -o "$T/err.json" -w '%{http_code}' "${H[@]}" -H 'Content-Type: application/json' \
	-d '{"removeSecurityGroup": {"name": "web"}}' "http://127.0.0.1:$CP/v2.1/servers/$VM1/action")
[ "$code" = 400 ] || { cat "$T/err.json"; fail "remove not associated: $code, not 400"; }
grep -q "Security group web not associated with the instance" "$T/err.json" ||
	{ cat "$T/err.json"; fail "not associated message"; }
openstack server remove security group vm1 web 2>/dev/null && fail "a group not associated removed"
[ "$(groups_of)" = "$G0" ] || fail "a refused remove changed the port: $(groups_of)"
ok "server remove security group; unknown group 404, not associated 400, the port unchanged"

openstack server delete --wait vm1 || fail "server delete"
ok "server secgroup done"
