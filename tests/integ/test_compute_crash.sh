#!/bin/bash
# kill -9 of the controller while 100 server creates are in flight, then
# a restart: every create that got a 202 ends ACTIVE or ERROR (none stuck
# in BUILD or a task, none lost), no server exists twice, every guest on
# the hosts belongs to a server and every ACTIVE server has its guest, and
# usage and claims equal what the servers hold. The controller journals
# the desired state before it answers; commands lost with it are sent
# again after the restart (same request id: agents de-duplicate).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"
command -v jq >/dev/null || fail "jq is not installed"

compute_setup 2 "[compute]" "quota_instances = -1" "quota_cores = -1" \
    "quota_ram = -1"
. "$T/openrc"
openstack flavor create --id 16 --ram 16 --disk 0 --vcpus 1 f16 >/dev/null
head -c 65536 /dev/zero > "$T/disk.raw"
IMG=$(openstack image create --disk-format raw --container-format bare \
    --public --file "$T/disk.raw" img -f value -c id)
admin_token
ok "two hosts, no quota"

# The agents are frozen first, so that every accepted create still has its
# task open when the controller dies: its commands are lost or unanswered.
kill -STOP "$(pid_of agent-h1)" "$(pid_of agent-h2)"
create_many 100 20 16 "$IMG" c &
CREATES=$!
# Kill it once a fair share of the creates was answered.
answered() { [ "$(cat "$T"/code-c* 2>/dev/null | grep -o 202 | wc -l)" -ge 25 ]; }
wait_for 60 "25 creates answered" answered
kill -9 "$(pid_of ctl)"
wait "$CREATES" || true
codes c > "$T/codes.txt"
ACCEPTED=$(awk '$1 == 202 { print $2 }' "$T/codes.txt")
[ "${ACCEPTED:-0}" -ge 25 ] && [ "$ACCEPTED" -lt 100 ] || { cat "$T/codes.txt"; fail "the kill did not land mid-way"; }
for f in "$T"/code-c*; do
	if [ "$(cat "$f")" = 202 ]; then
		jq -r .server.id "$T/body-${f##*/code-}"
	fi
done | sort > "$T/accepted.txt"
ok "controller killed with $ACCEPTED of 100 creates accepted"

start ctl "$CTL" "$T/controller.conf"
wait_http 15 "http://127.0.0.1:$CP/"
kill -CONT "$(pid_of agent-h1)" "$(pid_of agent-h2)"
wait_for 20 "h1 up again" is_state h1 up
wait_for 20 "h2 up again" is_state h2 up
wait_for 90 "every server settled" settled
# The new controller sent the journaled tasks again (after its second
# start line in the log).
RESENT=$(awk '/started on ctl/ { n++ } n == 2 && /sent spawning of instance/' "$T/ctl.log" | wc -l)
[ "$RESENT" -ge 1 ] || fail "no journaled task sent again after the restart"
ok "restarted controller re-sent $RESENT journaled builds; every server settled"

nv '/servers/detail' > "$T/after.json"
jq -r '.servers[].id' "$T/after.json" | sort > "$T/ids.txt"
[ -z "$(comm -23 "$T/accepted.txt" "$T/ids.txt")" ] || fail "accepted servers lost"
[ "$(jq -r '.servers[].name' "$T/after.json" | sort | uniq -d | wc -l)" = 0 ] || fail "a server exists twice"
jq -r '.servers[].status' "$T/after.json" | sort | uniq -c > "$T/status.txt"
if grep -vE ' (ACTIVE|ERROR)$' "$T/status.txt"; then fail "servers neither ACTIVE nor ERROR"; fi
N=$(wc -l < "$T/ids.txt")
ok "all $ACCEPTED accepted servers exist once ($N in all): $(tr -s ' \n' ' ' < "$T/status.txt")"

check_claims || fail "claims or usage differ from the servers"
NACTIVE=$(jq '[.servers[] | select(.status == "ACTIVE")] | length' "$T/after.json")
guests() { [ $(( $(hv_guests h1) + $(hv_guests h2) - 2 )) = "$NACTIVE" ]; }
wait_for 15 "one guest per ACTIVE server" guests
ok "claims and usage exact; one guest per ACTIVE server ($NACTIVE)"

echo "$NPASS passed, 0 failed"
