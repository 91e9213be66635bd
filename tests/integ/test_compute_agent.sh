#!/bin/bash
# Agents failing under the controller:
# - kill -9 of an agent during 40 creates, then a restart: everything
#   converges to ACTIVE, and guests the test driver lost with the dead
#   agent are re-created from the desired state (reconciliation on hello);
# - a host that goes silent (SIGSTOP): its servers stay where they are
#   (never silently moved) and show power state NOSTATE; a delete there
#   completes locally and leaves a tombstone, and when the host comes back
#   (SIGCONT) the guest is destroyed and the tombstone dropped;
# - evacuation (os-evacuate, nova evacuate): refused while the host is up
#   and for an unknown target; from the silent host to the other one (its
#   port follows: binding:host_id), and
#   the stale copy destroyed when the silent host returns (fencing);
# - live migration (os-migrateLive, nova live-migration) on the test
#   driver, which cannot migrate between agents: the API's refusals, and
#   the accepted one failed by the agent and rolled back (claims intact);
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
V2C=$(jq -r '[.servers[] | select(."OS-EXT-SRV-ATTR:host" == "h2")][2].id' "$T/s.json")
# trigger_crash_dump (2.17; novaclient negotiates the maximum): 202 and
# the action recorded at once, no task; h2's agent injects the NMI
# (libvirt's test driver has virDomainInjectNMI) and its answer ends the
# action's event; the server stays ACTIVE as it was.
nova trigger-crash-dump "$V2" > "$T/nova-tcd.txt" 2>&1 || { cat "$T/nova-tcd.txt"; fail "nova trigger-crash-dump"; }
[ "$(nv "/servers/$V2/os-instance-actions" '.instanceActions[0].action')" = trigger_crash_dump ] ||
	fail "no trigger_crash_dump action"
TCD=$(nv "/servers/$V2/os-instance-actions" '.instanceActions[0].request_id')
tcd_ended() { [ "$(nv "/servers/$V2/os-instance-actions/$TCD" '.instanceAction.events[0].result')" = Success ]; }
wait_for 20 "the crash dump's event ended by h2's answer" tcd_ended
[ "$(nv "/servers/$V2" '.server.status + " " + (.server."OS-EXT-STS:task_state" // "-")')" = "ACTIVE -" ] ||
	fail "the crash dump changed the server"
grep -q "instance $V2: NMI injected" "$T/agent-h2.log" || fail "h2 logged no NMI"
ok "nova trigger-crash-dump: recorded, h2 injected the NMI, its answer ended the event; server unchanged"

# Evacuation is refused while the source host is up (Nova's
# ComputeServiceInUse: 400) and for an unknown target (404); nothing moves.
evac() { curl -s -o "$T/evac.json" -w '%{http_code}' "${H[@]}" \
    -H 'Content-Type: application/json' -d "{\"evacuate\": $2}" \
    "http://127.0.0.1:$CP/v2.1/servers/$1/action"; }
acts() { nv "/servers/$1/os-instance-actions" '.instanceActions | length'; }
# V2C gets a port (os-interface) bound to h2: it must follow to h1.
NP=$(sed -n 's/^network_port = //p' "$T/controller.conf")
NET=$(curl -s "${H[@]}" -H 'Content-Type: application/json' -d '{"network": {"name": "evac-net"}}' \
    "http://127.0.0.1:$NP/v2.0/networks" | jq -r .network.id)
curl -s -o /dev/null "${H[@]}" -H 'Content-Type: application/json' -d "{\"subnet\": {\"network_id\": \"$NET\",
    \"ip_version\": 4, \"cidr\": \"10.77.0.0/24\"}}" "http://127.0.0.1:$NP/v2.0/subnets"
curl -s -o /dev/null "${H[@]}" -H 'Content-Type: application/json' -d "{\"interfaceAttachment\": {\"net_id\": \"$NET\"}}" \
    "http://127.0.0.1:$CP/v2.1/servers/$V2C/os-interface"
port_host() { curl -s "${H[@]}" "http://127.0.0.1:$NP/v2.0/ports?device_id=$V2C" | jq -r '.ports[0]."binding:host_id"'; }
[ "$(port_host)" = h2 ] || fail "V2C's port is not bound to h2"
A0=$(acts "$V2C")
[ "$(evac "$V2C" '{"onSharedStorage": false}')" = 400 ] || { cat "$T/evac.json"; fail "evacuate from an up host"; }
jq -e '.badRequest.message == "Compute service of h2 is still in use."' "$T/evac.json" >/dev/null || fail "message of the refused evacuate"
[ "$(evac "$V2C" '{"host": "nohost", "onSharedStorage": false}')" = 404 ] || fail "evacuate to an unknown host"
jq -e '.itemNotFound.message == "Compute host nohost not found."' "$T/evac.json" >/dev/null || fail "message of the unknown host"
[ "$(nv "/servers/$V2C" '.server."OS-EXT-SRV-ATTR:host" + " " + .server.status + " " + (.server."OS-EXT-STS:task_state" // "-")')" = "h2 ACTIVE -" ] ||
	fail "the refused evacuate changed the server"
[ "$(acts "$V2C")" = "$A0" ] || fail "the refused evacuate recorded an action"
ok "evacuate refused while h2 is up (400) and to an unknown host (404); nothing changed"

# Live migration (os-migrateLive, novaclient's nova live-migration):
# refused to the current host (400) with nothing changed; accepted to h1,
# where the claim is taken first; libvirt's test driver has no peer to
# migrate to (each agent's test:///default lives in its own process), so
# the source's agent fails it and the controller rolls back: ACTIVE on h2,
# the action in error, h1's claim released (check_claims).
lm() { curl -s -o "$T/lm.json" -w '%{http_code}' "${H[@]}" \
    -H 'Content-Type: application/json' -d "{\"os-migrateLive\": $2}" \
    "http://127.0.0.1:$CP/v2.1/servers/$1/action"; }
[ "$(lm "$V2C" '{"host": "h2", "block_migration": false, "disk_over_commit": false}')" = 400 ] ||
	{ cat "$T/lm.json"; fail "live migration to the current host"; }
jq -e ".badRequest.message == \"Unable to migrate instance ($V2C) to current host (h2).\"" "$T/lm.json" >/dev/null ||
	{ cat "$T/lm.json"; fail "message of the refused live migration"; }
[ "$(acts "$V2C")" = "$A0" ] || fail "the refused live migration recorded an action"
nova live-migration "$V2C" h1 > "$T/nova-lm.txt" 2>&1 || { cat "$T/nova-lm.txt"; fail "nova live-migration"; }
lm_back() { [ "$(nv "/servers/$V2C" '.server."OS-EXT-SRV-ATTR:host" + " " + .server.status + " " + (.server."OS-EXT-STS:task_state" // "-")')" = "h2 ACTIVE -" ]; }
wait_for 20 "the failed live migration rolled back" lm_back
[ "$(nv "/servers/$V2C/os-instance-actions" '.instanceActions[0].action')" = live-migration ] || fail "no live-migration action"
grep -q "live migration of $V2C from h2 to h1 failed: libvirt's test driver cannot live-migrate" "$T/ctl.log" ||
	fail "the failure is not logged with its cause"
[ "$(port_host)" = h2 ] || fail "the port moved with a failed live migration"
check_claims || fail "claims after the rolled-back live migration"
ok "live migration: 400 to the current host; to h1 taken, failed by the test driver, rolled back (ACTIVE on h2, claims as before)"

kill -STOP "$(pid_of agent-h2)"
wait_for 10 "h2 down" is_state h2 down
nostate() { [ "$(nv "/servers/$V2" '.server."OS-EXT-STS:power_state"')" = 0 ]; }
wait_for 5 "NOSTATE on the down host" nostate
[ "$(nv "/servers/$V2" '.server."OS-EXT-SRV-ATTR:host"')" = h2 ] || fail "server moved off the down host"
[ "$(nv "/servers/$V2" '.server.status')" = ACTIVE ] || fail "status changed on the down host"
ok "a down host's servers stay on it and show NOSTATE"

# Evacuation of the down host's server (novaclient's nova evacuate, as an
# operator would): rebuilt on h1 from its image, ACTIVE there, the claims
# moved; the guest frozen on h2 is the stale copy fenced below.
G1=$(hv_guests h1)
T0=$(date +%s%N)
nova evacuate "$V2C" h1 > "$T/nova-evac.txt" || { cat "$T/nova-evac.txt"; fail "nova evacuate"; }
# novaclient negotiates the controller's maximum: from 2.14 Nova answers
# an evacuation without the password.
! grep -q adminPass "$T/nova-evac.txt" || fail "nova evacuate printed an adminPass (none from 2.14)"
evacuated() { [ "$(nv "/servers/$V2C" '.server."OS-EXT-SRV-ATTR:host" + " " + .server.status + " " + (.server."OS-EXT-STS:task_state" // "-")')" = "h1 ACTIVE -" ]; }
wait_for 30 "evacuated server ACTIVE on h1" evacuated
EVAC_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
on_h1() { [ "$(hv_guests h1)" = $((G1 + 1)) ]; }
wait_for 15 "its guest reported by h1" on_h1
nv "/servers/$V2C/os-instance-actions" '.instanceActions[0].action' | grep -qx evacuate || fail "no evacuate action"
[ "$(port_host)" = h1 ] || fail "the port did not follow the server to h1"
ok "nova evacuate $V2C h1: ACTIVE on h1 in $EVAC_MS ms, its port bound to h1"

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
# Fencing: h2 comes back still holding the evacuated server's old guest
# (generation N, the instance is at N+1 on h1): the reconciler deletes it
# on h2's first report and h2 never ensures it again.
fenced() { grep -q "instance $V2C deleted" "$T/agent-h2.log"; }
wait_for 15 "the evacuated server's stale guest destroyed on h2" fenced
grep -q "guest $V2C on h2 belongs to an instance placed on h1: deleting it" "$T/ctl.log" ||
	fail "stale guest not fenced by the controller"
! grep -q "instance $V2C ensured" <(sed -n "/instance $V2C deleted/,\$p" "$T/agent-h2.log") ||
	fail "h2 ensured the evacuated server after fencing"
[ "$(nv "/servers/$V2C" '.server."OS-EXT-SRV-ATTR:host" + " " + .server.status')" = "h1 ACTIVE" ] ||
	fail "the evacuated server moved again"
ok "h2 returned: its stale copy of $V2C destroyed, the server stays ACTIVE on h1"
reaped() { grep -q "instance $V2 deleted" "$T/agent-h2.log"; }
wait_for 15 "the deleted server's guest destroyed on h2" reaped
grep -q "guest $V2 on h2 belongs to a deleted instance" "$T/ctl.log" || fail "tombstone not acted on"
tomb_gone() { grep -q "guest $V2 of a deleted instance is gone from h2" "$T/ctl.log"; }
wait_for 30 "tombstone dropped" tomb_gone
check_claims || fail "claims or usage differ after the local delete"
ok "local delete on a down host; its guest destroyed when the host returns"

echo "$NPASS passed, 0 failed"
