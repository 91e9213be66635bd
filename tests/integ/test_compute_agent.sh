#!/bin/bash
# Agents failing under the controller:
# - kill -9 of an agent during 40 creates, then a restart: everything
#   converges to ACTIVE, and guests the test driver lost with the dead
#   agent are re-created from the desired state (reconciliation on hello);
# - a host that goes silent (SIGSTOP): its servers stay where they are
#   (never silently moved) and show power state NOSTATE; a delete there
#   completes locally and leaves a tombstone, and when the host comes back
#   (SIGCONT) the guest is destroyed and the tombstone dropped;
# - a task on a host that stays down goes to ERROR with a fault at its
#   deadline, never stays in a task state.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"
command -v jq >/dev/null || fail "jq is not installed"

compute_setup 2 "[compute]" "quota_instances = -1" "quota_cores = -1" \
    "quota_ram = -1" "action_timeout = 6"
. "$T/openrc"
openstack flavor create --id 16 --ram 16 --disk 0 --vcpus 1 f16 >/dev/null
head -c 65536 /dev/zero > "$T/disk.raw"
IMG=$(openstack image create --disk-format raw --container-format bare \
    --public --file "$T/disk.raw" img -f value -c id)
admin_token
ok "two hosts"

# ---- kill -9 of an agent during creates --------------------------------------
create_many 40 10 16 "$IMG" a &
CREATES=$!
# The kill comes once h1 has an ACTIVE server (whatever the machine's
# speed), so that a settled guest is lost with the agent and must be
# re-created from the desired state, while other creates are in flight.
active_on_h1() {
	[ "$(nv '/servers/detail?all_tenants=1&host=h1&status=ACTIVE' '.servers | length')" -ge 1 ]
}
wait_for 30 "a server ACTIVE on h1" active_on_h1
P1=$(pid_of agent-h1)
kill -9 "$P1"
wait "$CREATES" || true
[ "$(codes a)" = "202 40" ] || { codes a; fail "creates refused"; }
wait_for 10 "the killed agent h1 gone" dead "$P1"
start agent-h1 "$AGENT" "$T/agent-h1.conf"
wait_for 15 "h1 up again" is_state h1 up
wait_for 60 "every server settled" settled
nv '/servers/detail' > "$T/s.json"
[ "$(jq '[.servers[] | select(.status == "ACTIVE")] | length' "$T/s.json")" = 40 ] ||
	{ jq -r '.servers[] | .name + " " + .status' "$T/s.json"; fail "not all 40 ACTIVE"; }
ON1=$(jq '[.servers[] | select(."OS-EXT-SRV-ATTR:host" == "h1")] | length' "$T/s.json")
[ "$ON1" -gt 0 ] || fail "nothing was placed on h1"
full() { [ "$(hv_guests h1)" = $((ON1 + 1)) ] && [ "$(hv_guests h2)" = $((40 - ON1 + 1)) ]; }
wait_for 20 "every guest back on its host" full
check_claims || fail "claims or usage differ"
grep -q "is missing on h1: re-creating it" "$T/ctl.log" || fail "no re-creation logged"
ok "agent h1 killed during 40 creates and restarted: 40 ACTIVE, $ON1 guests on h1 re-created"

# ---- a silent host ------------------------------------------------------------------
V2=$(jq -r '[.servers[] | select(."OS-EXT-SRV-ATTR:host" == "h2")][0].id' "$T/s.json")
V2B=$(jq -r '[.servers[] | select(."OS-EXT-SRV-ATTR:host" == "h2")][1].id' "$T/s.json")
kill -STOP "$(pid_of agent-h2)"
wait_for 10 "h2 down" is_state h2 down
nostate() { [ "$(nv "/servers/$V2" '.server."OS-EXT-STS:power_state"')" = 0 ]; }
wait_for 5 "NOSTATE on the down host" nostate
[ "$(nv "/servers/$V2" '.server."OS-EXT-SRV-ATTR:host"')" = h2 ] || fail "server moved off the down host"
[ "$(nv "/servers/$V2" '.server.status')" = ACTIVE ] || fail "status changed on the down host"
ok "a down host's servers stay on it and show NOSTATE"

# A stop there cannot happen: ERROR with a fault at its deadline.
curl -s -o /dev/null "${H[@]}" -H 'Content-Type: application/json' \
    -d '{"os-stop": null}' "http://127.0.0.1:$CP/v2.1/servers/$V2B/action"
errored() { [ "$(nv "/servers/$V2B" '.server.status')" = ERROR ]; }
wait_for 15 "stop on the down host times out" errored
nv "/servers/$V2B" '.server.fault.message' | grep -q "Timed out after 6 s waiting for host h2 to finish powering-off (the host is down)" ||
	fail "fault of the timed-out stop"
[ "$(nv "/servers/$V2B" '.server."OS-EXT-STS:task_state"')" = null ] || fail "task left set"
ok "a task on a down host goes to ERROR with a fault at its deadline"

[ "$(http_code DELETE "http://127.0.0.1:$CP/v2.1/servers/$V2" "${H[@]}")" = 204 ] || fail "delete on the down host"
[ "$(http_code GET "http://127.0.0.1:$CP/v2.1/servers/$V2" "${H[@]}")" = 404 ] || fail "server not deleted locally"
grep -q "host h2 of instance $V2 is down: deleted locally" "$T/ctl.log" || fail "local delete not logged"
kill -CONT "$(pid_of agent-h2)"
wait_for 15 "h2 up again" is_state h2 up
reaped() { grep -q "instance $V2 deleted" "$T/agent-h2.log"; }
wait_for 15 "the deleted server's guest destroyed on h2" reaped
grep -q "guest $V2 on h2 belongs to a deleted instance" "$T/ctl.log" || fail "tombstone not acted on"
tomb_gone() { grep -q "guest $V2 of a deleted instance is gone from h2" "$T/ctl.log"; }
wait_for 30 "tombstone dropped" tomb_gone
check_claims || fail "claims or usage differ after the local delete"
ok "local delete on a down host; its guest destroyed when the host returns"

echo "$NPASS passed, 0 failed"
