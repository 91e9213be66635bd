#!/bin/bash
# 200 concurrent server creates against a quota of 50 instances: exactly
# 50 are accepted (202) and 150 refused (403), exactly 50 servers exist and
# become ACTIVE, and the project's usage and every host's claims equal
# what the servers hold: the quota check, the scheduler's claim and the
# record are one LMDB transaction, so no race can over-allocate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"
command -v jq >/dev/null || fail "jq is not installed"

compute_setup 2
. "$T/openrc"
openstack flavor create --id 16 --ram 16 --disk 0 --vcpus 1 f16 >/dev/null
head -c 65536 /dev/zero > "$T/disk.raw"
IMG=$(openstack image create --disk-format raw --container-format bare \
    --public --file "$T/disk.raw" img -f value -c id)
openstack quota set --instances 50 --cores -1 --ram -1 admin
admin_token
ok "two hosts, quota of 50 instances"

create_many 200 50 16 "$IMG" q
codes q > "$T/codes.txt"
grep -qx "202 50" "$T/codes.txt" && grep -qx "403 150" "$T/codes.txt" &&
	[ "$(wc -l < "$T/codes.txt")" = 2 ] || { cat "$T/codes.txt"; fail "status codes"; }
grep -l "Quota exceeded for instances" "$T"/body-q* | wc -l | grep -qx 150 || fail "403 bodies"
ok "200 concurrent creates: exactly 50 accepted, 150 refused with 403"

[ "$(nv '/servers' '.servers | length')" = 50 ] || fail "server count"
wait_for 60 "50 servers settled" settled
[ "$(nv '/servers/detail' '[.servers[] | select(.status == "ACTIVE")] | length')" = 50 ] ||
	fail "not all 50 ACTIVE"
check_claims || fail "claims or usage differ from the servers"
idle() { [ $(( $(hv_guests h1) + $(hv_guests h2) )) = 52 ]; }
wait_for 10 "50 guests on the hosts (plus the test driver's own two)" idle
ok "50 servers ACTIVE, usage and claims exact, 50 guests on the hosts"

# Deleting them all concurrently gives everything back.
nv '/servers' '.servers[].id' | xargs -P 25 -I{} curl -s -o /dev/null \
    -X DELETE "${H[@]}" "http://127.0.0.1:$CP/v2.1/servers/{}"
gone() { [ "$(nv '/servers' '.servers | length')" = 0 ]; }
if ! (wait_for 90 "all servers deleted" gone); then
	nv '/servers/detail' '.servers[] | .id + " " + .status + " " +
	    (."OS-EXT-STS:task_state" // "-")'
	fail "servers left after delete"
fi
check_claims || fail "claims or usage left after delete"
ok "concurrent deletes release usage and claims"

echo "$NPASS passed, 0 failed"
