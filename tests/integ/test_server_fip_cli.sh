#!/bin/bash
# nova-network's auto_assign_floating_ip, and floating IPs and security
# groups as Nova shows a server, driven by the real openstack client
# against a controller ([network] auto_assign_floating_ip = true, the
# default pool "public") and one agent on libvirt's test driver (127.0.0.1
# only):
# - before the pool network exists, a server is created ACTIVE without a
#   floating IP, nothing else created, one warning logged;
# - once public, its subnet and a router (gateway public, interface on the
#   private subnet) exist, `server create` gives the server a floating IP
#   on its port: `server show` / `server list` list it after the fixed
#   address (type "floating" in the API), `floating ip list` shows it
#   associated; `server show` shows the security groups;
# - a server over the project's floatingip quota, or whose first port has
#   no router path to public, gets none;
# - `server delete` deletes the auto-assigned floating IP (and its
#   address), while one associated by hand to another server survives
#   that server's deletion, disassociated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"
set +o pipefail

KEEP_NETWORK=1 compute_setup 1 "[network]" "auto_assign_floating_ip = true"
. "$T/openrc"
admin_token

openstack flavor create --ram 128 --disk 1 --vcpus 1 m1.tiny >/dev/null
head -c 1048576 /dev/zero > "$T/disk.raw"
openstack image create --disk-format raw --container-format bare --public \
	--file "$T/disk.raw" img >/dev/null
openstack network create net1 >/dev/null || fail "network create net1"
openstack subnet create --network net1 --subnet-range 10.41.0.0/24 sub1 >/dev/null ||
	fail "subnet create sub1"

fip_count() { openstack floating ip list -f value -c ID | wc -l; }
# Ports holding floating addresses (the DHCP port the dataplane adds when a
# network's first port lands on a host is no business of this test).
fip_port_count() { openstack port list --device-owner network:floatingip -f value -c ID | wc -l; }
port_of() { openstack port list --device-id "$1" --network "$2" -f value -c ID; }
# The API's addresses entries of server $1 of type $2 ("fixed", "floating").
addrs_of() {
	nv "/servers/$1" "[.server.addresses[][] | select(.\"OS-EXT-IPS:type\" == \"$2\") | .addr] | join(\",\")"
}

# ---- no pool network: created without a floating IP ----------------------------
F0=$(fip_count); P0=$(fip_port_count)
openstack server create --flavor m1.tiny --image img --network net1 --wait vm0 \
	> "$T/vm0.txt" || { cat "$T/vm0.txt"; fail "server create without a pool"; }
VM0=$(openstack server show vm0 -f value -c id)
[ "$(openstack server show vm0 -f value -c status)" = ACTIVE ] || fail "vm0 not ACTIVE"
[ "$(openstack port list --device-id "$VM0" -f value -c ID | wc -l)" = 1 ] || fail "vm0 has not one port"
[ "$(fip_port_count)" = "$P0" ] || fail "an address port appeared without a pool"
[ "$(fip_count)" = "$F0" ] || fail "a floating IP appeared without a pool: $(openstack floating ip list)"
[ -n "$(addrs_of "$VM0" fixed)" ] || fail "vm0 has no fixed address"
[ -z "$(addrs_of "$VM0" floating)" ] || fail "vm0 has a floating address: $(addrs_of "$VM0" floating)"
wait_for 10 "the no-pool warning" grep -q "server $VM0: no floating IP auto-assigned from pool public: no external network named 'public'" "$T/ctl.log"
[ "$(grep -c "server $VM0: no floating IP" "$T/ctl.log")" = 1 ] || fail "not one warning for vm0"
ok "no pool network: server ACTIVE, no floating IP, only its port created, one warning"

# ---- the pool, a router to it ------------------------------------------------------
openstack network create --external public >/dev/null || fail "network create --external public"
openstack subnet create --network public --subnet-range 203.0.113.0/24 --no-dhcp \
	pubsub >/dev/null || fail "subnet create pubsub"
openstack router create r1 >/dev/null || fail "router create"
openstack router set --external-gateway public r1 || fail "router set --external-gateway"
openstack router add subnet r1 sub1 || fail "router add subnet"

openstack server create --flavor m1.tiny --image img --network net1 --wait vm1 \
	> "$T/vm1.txt" || { cat "$T/vm1.txt"; fail "server create vm1"; }
VM1=$(openstack server show vm1 -f value -c id)
P1=$(port_of "$VM1" net1)
FIX1=$(addrs_of "$VM1" fixed)
FL1=$(addrs_of "$VM1" floating)
case "$FL1" in 203.0.113.*) ;; *) fail "vm1's floating address: '$FL1'";; esac
nv "/servers/$VM1" '.server.addresses.net1' > "$T/vm1-addr.json"
jq -e --arg f "$FIX1" --arg fl "$FL1" 'length == 2 and .[0].addr == $f and .[1].addr == $fl
	and .[1]."OS-EXT-IPS-MAC:mac_addr" == .[0]."OS-EXT-IPS-MAC:mac_addr" and .[1].version == 4' \
	"$T/vm1-addr.json" >/dev/null || { cat "$T/vm1-addr.json"; fail "vm1's addresses"; }
openstack server show vm1 -f value -c addresses | grep -q "$FL1" ||
	fail "server show does not list $FL1: $(openstack server show vm1 -f value -c addresses)"
openstack server list -c Networks | grep -q "net1=$FIX1, $FL1" ||
	fail "server list: $(openstack server list -c Networks)"
openstack floating ip list -f json > "$T/fips.json"
jq -e --arg fl "$FL1" --arg p "$P1" --arg f "$FIX1" \
	'[.[] | select(."Floating IP Address" == $fl and .Port == $p and ."Fixed IP Address" == $f)] | length == 1' \
	"$T/fips.json" >/dev/null || { cat "$T/fips.json"; fail "floating ip list"; }
AUTO=$(jq -r --arg fl "$FL1" '.[] | select(."Floating IP Address" == $fl) | .ID' "$T/fips.json")
ok "server create: floating IP $FL1 on vm1's port, after $FIX1 in show (type floating), list, floating ip list"

openstack server show vm1 -f value -c security_groups | grep -q "default" ||
	fail "server show security_groups: $(openstack server show vm1 -f value -c security_groups)"
nv "/servers/detail" "[.servers[] | select(.id == \"$VM1\") | .security_groups[].name] | join(\",\")" |
	grep -qx default || fail "detail security_groups"
ok "server show / detail: security_groups default"

# ---- the project's floatingip quota used up ----------------------------------------
openstack quota set --floating-ips "$(fip_count)" admin || fail "quota set --floating-ips"
F1=$(fip_count); P1N=$(fip_port_count)
openstack server create --flavor m1.tiny --image img --network net1 --wait vm3 \
	> "$T/vm3.txt" || { cat "$T/vm3.txt"; fail "server create over the floatingip quota"; }
VM3=$(openstack server show vm3 -f value -c id)
[ "$(openstack server show vm3 -f value -c status)" = ACTIVE ] || fail "vm3 not ACTIVE"
[ "$(fip_count)" = "$F1" ] || fail "a floating IP over the quota"
[ "$(fip_port_count)" = "$P1N" ] || fail "an address port over the quota"
[ -z "$(addrs_of "$VM3" floating)" ] || fail "vm3 shows a floating address"
wait_for 10 "the quota warning" grep -q "server $VM3: no floating IP auto-assigned from pool public: Quota exceeded for resources: \['floatingip'\]" "$T/ctl.log"
openstack server delete --wait vm3 || fail "server delete vm3"
openstack quota set --floating-ips 50 admin || fail "quota set back"
ok "floatingip quota used up: server ACTIVE, no floating IP, nothing created, a warning"

# ---- no router path from the first port ---------------------------------------------
openstack network create net2 >/dev/null || fail "network create net2"
openstack subnet create --network net2 --subnet-range 10.42.0.0/24 sub2 >/dev/null ||
	fail "subnet create sub2"
F1=$(fip_count)
openstack server create --flavor m1.tiny --image img --network net2 --network net1 \
	--wait vm2 > "$T/vm2.txt" || { cat "$T/vm2.txt"; fail "server create vm2"; }
VM2=$(openstack server show vm2 -f value -c id)
[ "$(openstack server show vm2 -f value -c status)" = ACTIVE ] || fail "vm2 not ACTIVE"
[ "$(fip_count)" = "$F1" ] || fail "vm2 got a floating IP without a router path"
[ -z "$(addrs_of "$VM2" floating)" ] || fail "vm2 shows a floating address"
wait_for 10 "the no-router warning" grep -q "server $VM2: no floating IP auto-assigned from pool public: External network .* is not reachable from subnet" "$T/ctl.log"
ok "first port without a router path: server ACTIVE, no floating IP, a warning"

# ---- by hand on vm2's second port; deletes ------------------------------------------
P2=$(port_of "$VM2" net1)
HAND=$(openstack floating ip create public -f value -c id) || fail "floating ip create"
openstack floating ip set --port "$P2" "$HAND" || fail "floating ip set --port"
HANDIP=$(openstack floating ip show "$HAND" -f value -c floating_ip_address)
[ "$(addrs_of "$VM2" floating)" = "$HANDIP" ] || fail "vm2's hand-made floating address not shown"

FPORTS=$(fip_port_count)
openstack server delete --wait vm1 || fail "server delete vm1"
openstack floating ip show "$AUTO" >/dev/null 2>&1 && fail "the auto-assigned floating IP survived vm1"
openstack floating ip list -f value -c "Floating IP Address" | grep -qx "$FL1" && fail "$FL1 still listed"
[ "$(fip_port_count)" = $((FPORTS - 1)) ] ||
	fail "the auto-assigned floating IP's address port survived"
openstack floating ip show "$HAND" -f value -c port_id | grep -q "$P2" || fail "vm1's delete touched vm2's floating IP"
ok "server delete: its auto-assigned floating IP and address gone, another's untouched"

openstack server delete --wait vm2 || fail "server delete vm2"
openstack floating ip show "$HAND" -f json > "$T/hand.json" || fail "the hand-made floating IP is gone"
jq -e '.port_id == null and .fixed_ip_address == null and .status == "DOWN"' "$T/hand.json" >/dev/null ||
	{ cat "$T/hand.json"; fail "the hand-made floating IP is still associated"; }
ok "server delete: a floating IP associated by hand survives, disassociated"

openstack server delete --wait vm0 || fail "server delete vm0"
ok "server fip done"
