#!/bin/bash
# The Compute API (Nova v2.1) driven by Debian's real openstack and nova
# clients against a controller and two agents on libvirt's test driver
# (127.0.0.1 only): version discovery and microversions, flavors (OSC and
# `nova flavor-create ... auto`), key pairs (import, server-side ed25519
# that ssh-keygen reads), a server's life (create --wait, list/show,
# stop/start/suspend/resume/pause/unpause, soft and hard reboot, 409 on a
# wrong state, console log, reset-state, lock, delete --wait), instance
# actions, hypervisors, compute services (disable steers the scheduler),
# host aggregates and availability zones (placement by zone, forced host
# and aggregate metadata), snapshots and backups with rotation,
# quotas (a third create refused with 403; resize, racing resizes and the
# revert of a downsize over the cores quota refused with 403) and limits,
# resize/revert/confirm and cold migration on the same host, and what a
# member of another project may not see or do.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"
command -v nova >/dev/null || fail "python3-novaclient is not installed"
# `cmd | grep -q x` would fail under pipefail when grep exits early and the
# client gets SIGPIPE; grep's verdict is what the checks below want.
set +o pipefail

# The agents upload snapshots to the image API (createImage, createBackup).
agent_image_api() {
	local port h
	port=$(sed -n 's/^image_port = //p' "$T/controller.conf")
	for h in h1 h2; do
		printf '\n[image]\napi_url = http://127.0.0.1:%s\n' "$port" >> "$T/agent-$h.conf"
	done
}
AGENT_CONF_HOOK=agent_image_api
compute_setup 2
. "$T/openrc"
NOVA="http://127.0.0.1:$CP"

# ---- discovery -----------------------------------------------------------
[ "$(http_code GET "$NOVA/")" = 200 ] || fail "GET / is not 200"
curl -s "$NOVA/" | python3 -c '
import json, sys
v = json.load(sys.stdin)["versions"]
assert [x["id"] for x in v] == ["v2.0", "v2.1"], v
assert v[1]["version"] == "2.33" and v[1]["min_version"] == "2.1", v[1]
' || fail "version list"
for u in /v2 /v2/ /v2.1 /v2.1/; do
	[ "$(http_code GET "$NOVA$u")" = 200 ] || fail "GET $u is not 200"
done
[ "$(http_code GET "$NOVA/v2.1/0123456789abcdef0123456789abcdef")" = 404 ] || fail "GET /v2.1/<project> is not 404"
TOK=$(os_token)
H=(-H "X-Auth-Token: $TOK")
# nv PATH [JQ]: a compute GET as the admin, filtered by jq (quicker than a
# client for checking what the clients did).
nv() { curl -s "${H[@]}" "$NOVA/v2.1$1" | jq -r "${2:-.}"; }
[ "$(http_code GET "$NOVA/v2.1/flavors" "${H[@]}" -H 'X-OpenStack-Nova-API-Version: 2.99')" = 406 ] ||
	fail "an unsupported microversion is not 406"
curl -s -D "$T/h.txt" -o /dev/null "${H[@]}" -H 'OpenStack-API-Version: compute latest' "$NOVA/v2.1/flavors"
grep -qi '^OpenStack-API-Version: compute 2.33' "$T/h.txt" || fail "microversion not echoed"
grep -qi '^X-OpenStack-Nova-API-Version: 2.33' "$T/h.txt" || fail "legacy microversion header not echoed"
ok "version documents, microversion negotiation (406, echo)"

# ---- flavors ---------------------------------------------------------------
openstack flavor create --id 11 --ram 512 --disk 1 --vcpus 1 m1.tiny >/dev/null
nova flavor-create m1.x auto 256 1 1 >/dev/null 2>&1 || fail "nova flavor-create m1.x auto 256 1 1"
openstack flavor create --id 42 --ram 128 --disk 0 --vcpus 2 --private m1.priv >/dev/null
openstack flavor list -f value -c Name > "$T/fl.txt"
grep -qx m1.tiny "$T/fl.txt" && grep -qx m1.x "$T/fl.txt" || fail "flavor list"
grep -qx m1.priv "$T/fl.txt" && fail "private flavor in the public list"
openstack flavor list --all -f value -c Name | grep -qx m1.priv || fail "flavor list --all"
[ "$(openstack flavor show m1.x -f value -c ram)" = 256 ] || fail "flavor show"
openstack flavor show m1.x -f value -c id | grep -Eq '^[0-9a-f-]{36}$' || fail "auto id is not a UUID"
openstack flavor create --ram 1 --disk 1 --vcpus 1 m1.tiny >/dev/null 2>&1 && fail "duplicate flavor name accepted"
openstack flavor set --property hw:cpu_policy=shared m1.x
openstack flavor show m1.x -f json | grep -q '"hw:cpu_policy": "shared"' || fail "extra specs"
ok "flavor create/list/show, nova flavor-create auto, private flavor, 409 on a duplicate, extra specs"
# Nova's flavors query schema: sort_key and sort_dir are enums (400, as
# novaclient sends them), a negative minRam filters nothing out, an
# admin's is_public is a strict boolean.
nfl=$(nv "/flavors?is_public=None" '.flavors|length')
nova flavor-list --sort-key bogus >/dev/null 2>"$T/err.txt" && fail "flavor-list --sort-key bogus accepted"
grep -q "HTTP 400" "$T/err.txt" && grep -q "'bogus' is not one of \['created_at'" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "flavor-list --sort-key bogus is not Nova's 400"; }
nova flavor-list --sort-key name --sort-dir desc >/dev/null 2>"$T/err.txt" ||
	{ cat "$T/err.txt"; fail "flavor-list --sort-key name --sort-dir desc"; }
[ "$(http_code GET "$NOVA/v2.1/flavors?sort_dir=up" "${H[@]}")" = 400 ] || fail "flavors?sort_dir=up is not 400"
[ "$(http_code GET "$NOVA/v2.1/flavors?is_public=maybe" "${H[@]}")" = 400 ] || fail "flavors?is_public=maybe is not 400"
[ "$(nv "/flavors?minRam=-1" '.flavors|length')" = "$(nv /flavors '.flavors|length')" ] || fail "flavors?minRam=-1"
[ "$(nv "/flavors?is_public=None" '.flavors|length')" = "$nfl" ] || fail "the refused lists changed the flavors"
ok "flavor list: sort_key/sort_dir 400 (nova flavor-list --sort-key bogus, raw), minRam=-1, is_public=maybe 400"

# ---- key pairs ----------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C k1@test -f "$T/k1"
openstack keypair create --public-key "$T/k1.pub" k1 >/dev/null
want=$(ssh-keygen -l -E md5 -f "$T/k1.pub" | awk '{sub("MD5:", "", $2); print $2}')
[ "$(openstack keypair show k1 -f value -c fingerprint)" = "$want" ] || fail "fingerprint differs from ssh-keygen's"
openstack keypair create k2 > "$T/k2.pem"
chmod 600 "$T/k2.pem"
ssh-keygen -y -f "$T/k2.pem" > "$T/k2.pub" || fail "generated private key is not readable by ssh-keygen"
nova keypair-show k2 2>/dev/null | grep -q "$(awk '{print $2}' "$T/k2.pub")" ||
	fail "stored public key does not match the private key"
openstack keypair list -f value -c Name | sort | tr '\n' ' ' | grep -qx "k1 k2 " || fail "keypair list"
openstack keypair delete k2
openstack keypair show k2 >/dev/null 2>&1 && fail "deleted key pair still shown"
echo "ssh-rsa AAAAnot-base64" > "$T/bad.pub"
openstack keypair create --public-key "$T/bad.pub" bad >/dev/null 2>&1 && fail "invalid public key accepted"
ok "keypair import (MD5 fingerprint as ssh-keygen), ed25519 generation (ssh-keygen -y reads it), list/show/delete, bad key refused"

# ---- a server's life -------------------------------------------------------------
head -c 1048576 /dev/zero > "$T/disk.raw"
openstack image create --disk-format raw --container-format bare --public --file "$T/disk.raw" img >/dev/null
openstack server create --flavor m1.tiny --image img --key-name k1 --wait vm1 > "$T/vm1.txt" ||
	{ cat "$T/vm1.txt"; fail "server create --wait"; }
grep -q "| status .*| ACTIVE" "$T/vm1.txt" || fail "vm1 is not ACTIVE"
VM1=$(openstack server show vm1 -f value -c id)
HOST=$(openstack server show vm1 -f value -c OS-EXT-SRV-ATTR:host)
case "$HOST" in h1|h2) ;; *) fail "vm1 host '$HOST'";; esac
[ "$(openstack server show vm1 -f value -c key_name)" = k1 ] || fail "key_name"
[ "$(openstack server show vm1 -f value -c OS-EXT-STS:power_state)" = 1 ] || fail "power state"
openstack server list -f value -c Name | grep -qx vm1 || fail "server list"
openstack server list --long -f value -c Host | grep -qw "$HOST" || fail "server list --long host"
ok "server create --wait reaches ACTIVE on $HOST, list/show"

# An AMI-style image whose kernel image does not exist cannot boot: 400
# at the API, nothing created.
openstack image create --disk-format raw --container-format bare --file "$T/disk.raw" \
	--property kernel_id=0d2f6b1e-93a4-4c55-9d7e-2b8a3f1c6e01 amibad >/dev/null
openstack server create --flavor m1.tiny --image amibad vmbad 2>"$T/err.txt" &&
	fail "server with a missing kernel image accepted"
grep -q "HTTP 400" "$T/err.txt" && grep -q "Kernel image 0d2f6b1e-93a4-4c55-9d7e-2b8a3f1c6e01 could not be found" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "missing kernel image: not a 400 naming it"; }
openstack server show vmbad >/dev/null 2>&1 && fail "vmbad exists"
openstack image delete amibad
ok "a missing kernel_id image is refused with 400"

status() { nv "/servers/detail?name=^vm1\$" '.servers[0].status'; }
# server_is NAME STATUS; wait_server NAME STATUS (faster than the
# clients' --wait, which polls every 5 s).
server_is() {
	[ "$(nv "/servers/detail?name=^$1\$&all_tenants=1" '.servers[0].status')" = "$2" ]
}
wait_server() { wait_for 30 "$1 $2" server_is "$1" "$2"; }
wait_status() { wait_server vm1 "$1"; }
openstack server stop vm1; wait_status SHUTOFF
[ "$(nv "/servers/$VM1" '.server."OS-EXT-STS:power_state"')" = 4 ] || fail "power state after stop"
openstack server start vm1 2>/dev/null; wait_status ACTIVE
openstack server suspend vm1; wait_status SUSPENDED
openstack server resume vm1; wait_status ACTIVE
openstack server pause vm1; wait_status PAUSED
openstack server unpause vm1; wait_status ACTIVE
openstack server reboot vm1; wait_status ACTIVE
openstack server reboot --hard vm1; wait_status ACTIVE
openstack server rebuild --image img vm1 >/dev/null; wait_status ACTIVE
openstack server stop vm1; wait_status SHUTOFF
openstack server rebuild --image img vm1 >/dev/null; wait_status SHUTOFF
openstack server start vm1; wait_status ACTIVE
ok "stop/start/suspend/resume/pause/unpause/reboot soft and hard/rebuild (from ACTIVE and SHUTOFF) reach their states"

openstack server start vm1 2>"$T/err.txt" && fail "start of an ACTIVE server accepted"
grep -q "HTTP 409" "$T/err.txt" || fail "start of an ACTIVE server is not 409"
openstack server resume vm1 2>"$T/err.txt" && fail "resume of an ACTIVE server accepted"
grep -q "409" "$T/err.txt" || fail "resume of an ACTIVE server is not 409"
ok "wrong-state actions are 409"

# Consoles in Nova's order (remote_consoles.py, then the compute API's
# check_instance_host/reject_instance_state, then the host's type checks):
# a stopped server on a host is 409 for VNC (ours; Nova's libvirt driver
# hands out a URL to port -1) and 400 for the console types not served,
# naming the type; nothing changes.
openstack server stop vm1; wait_status SHUTOFF
openstack console url show vm1 2>"$T/err.txt" && fail "console url of a SHUTOFF server"
# (openstacksdk words it "ConflictException: 409: Client Error ...")
grep -q "Instance $VM1 is not ready" "$T/err.txt" && grep -q "409" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "console url of a SHUTOFF server is not 409 'not ready'"; }
openstack console url show --spice vm1 2>"$T/err.txt" && fail "spice console accepted"
grep -q "Unavailable console type spice-html5\." "$T/err.txt" && grep -q "400" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "spice console is not 400 naming spice-html5"; }
nova --os-compute-api-version 2.5 get-serial-console vm1 2>"$T/err.txt" && fail "serial console (2.5) accepted"
grep -q "Unavailable console type serial\." "$T/err.txt" && grep -q "HTTP 400" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "os-getSerialConsole is not 400 naming serial"; }
code=$(curl -s -o "$T/rc.out" -w '%{http_code}' "${H[@]}" \
	-H 'OpenStack-API-Version: compute 2.6' -H 'Content-Type: application/json' \
	-d '{"remote_console": {"protocol": "vnc", "type": "xvpvnc"}}' \
	"$NOVA/v2.1/servers/$VM1/remote-consoles")
[ "$code" = 400 ] && grep -q 'Invalid console type xvpvnc' "$T/rc.out" ||
	fail "remote-consoles vnc/xvpvnc: HTTP $code $(cat "$T/rc.out")"
[ "$(status)" = SHUTOFF ] && [ "$(nv "/servers/$VM1" '.server."OS-EXT-STS:task_state"')" = null ] ||
	fail "a refused console changed the server"
openstack server start vm1; wait_status ACTIVE
ok "consoles of a SHUTOFF server: VNC 409, spice (remote-consoles) and serial (2.5 action) 400 naming the type, xvpvnc 400, server unchanged"

openstack console log show vm1 > "$T/console.txt"
grep -q "instance-$VM1 defined" "$T/console.txt" || fail "console log lacks the definition"
grep -q "login:" "$T/console.txt" || fail "console log lacks the boot"
[ "$(openstack console log show --lines 3 vm1 | wc -l)" -le 3 ] || fail "console log --lines 3"
ok "console log show (all, --lines)"

# Diagnostics come from libvirt through the agent (the test driver's guest:
# its vCPU's CPU time, its memory in KiB), Nova's libvirt flat form (the
# 2.48 object needs a microversion above today's 2.11).
openstack server show --diagnostics vm1 -f json > "$T/diag.json"
jq -e '.cpu0_time >= 0 and .memory == 524288 and ."memory-actual" > 0' "$T/diag.json" >/dev/null ||
	{ cat "$T/diag.json"; fail "server show --diagnostics"; }
# changePassword: no guest agent can set it: Nova's 409, the server untouched.
openstack server set --password x1 vm1 2>"$T/err.txt" && fail "server set --password accepted"
grep -q "HTTP 409" "$T/err.txt" || { cat "$T/err.txt"; fail "server set --password is not 409"; }
curl -s "${H[@]}" -H 'Content-Type: application/json' -d '{"changePassword": {"adminPass": "x1"}}' \
	-o "$T/err.txt" -w '%{http_code}\n' "$NOVA/v2.1/servers/$VM1/action" | grep -qx 409 ||
	{ cat "$T/err.txt"; fail "changePassword is not 409"; }
grep -q "QEMU guest agent is not enabled" "$T/err.txt" || { cat "$T/err.txt"; fail "changePassword message"; }
[ "$(nv "/servers/$VM1" '.server."OS-EXT-STS:task_state"')" = null ] && [ "$(status)" = ACTIVE ] ||
	fail "changePassword changed the server"
ok "server show --diagnostics (libvirt's figures), changePassword 409 without a change"

nova reset-state vm1 >/dev/null 2>&1
[ "$(status)" = ERROR ] || fail "nova reset-state (default error)"
nova reset-state --active vm1 >/dev/null 2>&1
[ "$(status)" = ACTIVE ] || fail "nova reset-state --active"
openstack server set --name vm1b vm1
openstack server set --name vm1 vm1b
ok "nova reset-state (error, --active), rename"

openstack server event list vm1 -f value -c Action > "$T/events.txt"
for a in create stop start suspend resume pause unpause reboot; do
	grep -qx "$a" "$T/events.txt" || fail "instance action $a missing"
done
REQ=$(openstack server event list vm1 -f value -c "Request ID" | head -1)
openstack server event show vm1 "$REQ" -f json | grep -q '"result": "Success"' || fail "event show"
ok "server event list/show (os-instance-actions)"

# ---- inventory ---------------------------------------------------------------------
openstack hypervisor list -f value -c "Hypervisor Hostname" | sort | tr '\n' ' ' | grep -qx "h1 h2 " || fail "hypervisor list"
openstack hypervisor show "$HOST" -f value -c running_vms | grep -qx 1 || fail "hypervisor show running_vms"
openstack hypervisor show "$HOST" -f value -c uptime | grep -q "day" || fail "hypervisor uptime"
[ "$(openstack hypervisor stats show -f value -c count)" = 2 ] || fail "hypervisor stats count"
[ "$(openstack hypervisor stats show -f value -c vcpus_used)" = 1 ] || fail "hypervisor stats vcpus_used"
nova hypervisor-servers "$HOST" 2>/dev/null | grep -q "$VM1" || fail "nova hypervisor-servers"
openstack compute service list -f value -c Binary -c Host -c State | sort > "$T/svc.txt"
printf 'nova-compute h1 up\nnova-compute h2 up\n' | cmp -s - "$T/svc.txt" || { cat "$T/svc.txt"; fail "compute service list"; }
ok "hypervisor list/show/uptime/stats, nova hypervisor-servers, compute service list"

openstack compute service set --disable --disable-reason maintenance h2 nova-compute
openstack compute service list -f value -c Host -c Status | grep -qx "h2 disabled" || fail "service disable"
openstack server create --flavor m1.x --image img --min 3 --max 3 d >/dev/null || fail "create d-1..3"
for n in 1 2 3; do
	wait_server "d-$n" ACTIVE
	[ "$(nv "/servers/detail?name=^d-$n\$" '.servers[0]."OS-EXT-SRV-ATTR:host"')" = h1 ] ||
		fail "d-$n placed on a disabled host"
done
openstack compute service set --enable h2 nova-compute
openstack compute service list -f value -c Host -c Status | grep -qx "h2 enabled" || fail "service enable"
openstack compute service set --down h2 nova-compute
openstack compute service list -f value -c Host -c State | grep -qx "h2 down" || fail "force-down"
curl -s "${H[@]}" -H 'X-OpenStack-Nova-API-Version: 2.11' "$NOVA/v2.1/os-services?host=h2" |
	jq -e '.services[0].forced_down == true' >/dev/null || fail "forced_down at 2.11"
# tinystack-manage status: h2 forced down makes it exit 1; up again, 0.
manage status > "$T/status.txt" && fail "manage status exits 0 with an agent down"
grep -Eq '^\| h2 +\| enabled +\| down ' "$T/status.txt" || { cat "$T/status.txt"; fail "manage status: h2 not down"; }
openstack compute service set --up h2 nova-compute
openstack compute service list -f value -c Host -c State | grep -qx "h2 up" || fail "force-down cleared"
manage status > "$T/status.txt" && grep -q "controller ports: all accept connections" "$T/status.txt" &&
	grep -Eq '^\| h1 +\| enabled +\| up ' "$T/status.txt" &&
	grep -Eq '^\| h2 +\| enabled +\| up .*\| 0\.1\.0 +\| ' "$T/status.txt" || { cat "$T/status.txt"; fail "manage status"; }
# Sorted by the API (sort_key/sort_dir), through novaclient's --sort.
nova list --name '^d-' --sort display_name:asc --fields name > "$T/sorted.txt" || fail "nova list --sort"
awk -F'|' '$3 ~ /d-/ { gsub(/ /, "", $3); printf "%s ", $3 }' "$T/sorted.txt" | grep -qx "d-1 d-2 d-3 " ||
	{ cat "$T/sorted.txt"; fail "nova list --sort display_name:asc"; }
nova list --name '^d-' --sort display_name --fields name > "$T/sorted.txt" || fail "nova list --sort (desc)"
awk -F'|' '$3 ~ /d-/ { gsub(/ /, "", $3); printf "%s ", $3 }' "$T/sorted.txt" | grep -qx "d-3 d-2 d-1 " ||
	{ cat "$T/sorted.txt"; fail "nova list --sort display_name"; }
nova list --sort host:asc > /dev/null 2>&1 || fail "nova list --sort host (admin)"
openstack server delete d-1 d-2 d-3
ok "a disabled service gets no new servers (multi-create d-1..3); enable; force-down (2.11) and back; tinystack-manage status; nova list --sort"

# ---- host aggregates and availability zones ------------------------------------------------
# $HOST has vm1; the other host gets zone az1 and property ssd=true.
[ "$HOST" = h1 ] && OTHER=h2 || OTHER=h1
# nvc METHOD PATH [BODY]: the status code of a compute call as the admin.
nvc() { curl -s -o "$T/nvc.json" -w '%{http_code}' -X "$1" "${H[@]}" \
	-H 'Content-Type: application/json' ${3:+-d "$3"} "$NOVA/v2.1$2"; }
openstack aggregate create --zone az1 agg1 -f json > "$T/agg1.json" || fail "aggregate create"
jq -e '.availability_zone == "az1"' "$T/agg1.json" >/dev/null || fail "aggregate create --zone"
AGG1=$(jq -r .id "$T/agg1.json")
openstack aggregate add host agg1 "$OTHER" >/dev/null || fail "aggregate add host"
openstack aggregate set --property ssd=true agg1 || fail "aggregate set --property"
openstack aggregate show agg1 -f json > "$T/agg1.json"
jq -e --arg h "$OTHER" '.hosts == [$h] and .availability_zone == "az1" and
    (.properties | tostring | test("ssd"))' "$T/agg1.json" >/dev/null ||
	{ cat "$T/agg1.json"; fail "aggregate show"; }
openstack aggregate list -f value -c Name -c "Availability Zone" | grep -qx "agg1 az1" || fail "aggregate list"
openstack availability zone list --compute -f value -c "Zone Name" | sort | tr '\n' ' ' |
	grep -qx "az1 nova " || fail "availability zone list"
openstack availability zone list --compute --long -f value -c "Zone Name" -c "Host Name" > "$T/azl.txt"
grep -qx "az1 $OTHER" "$T/azl.txt" && grep -qx "nova $HOST" "$T/azl.txt" ||
	{ cat "$T/azl.txt"; fail "availability zone list --long"; }
openstack compute service list -f value -c Host -c Zone | grep -qx "$OTHER az1" || fail "service zone"
# Refusals, each with Nova's code and nothing changed.
agg1_same() { nv "/os-aggregates/$AGG1" '.aggregate | [.name, .hosts, .availability_zone] | tojson' |
	grep -Fqx "[\"agg1\",[\"$OTHER\"],\"az1\"]"; }
[ "$(nvc POST /os-aggregates '{"aggregate": {"name": "agg1"}}')" = 409 ] &&
	grep -q "Aggregate agg1 already exists." "$T/nvc.json" || fail "duplicate aggregate name not 409"
[ "$(nvc POST "/os-aggregates/$AGG1/action" '{"add_host": {"host": "nohost"}}')" = 404 ] &&
	grep -q "Compute host nohost could not be found." "$T/nvc.json" || fail "unknown host not 404"
[ "$(nvc POST "/os-aggregates/$AGG1/action" "{\"add_host\": {\"host\": \"$OTHER\"}}")" = 409 ] ||
	fail "host already member not 409"
[ "$(nvc POST /os-aggregates '{"aggregate": {"name": "agg2", "availability_zone": "a:b"}}')" = 400 ] ||
	fail "zone with a colon not 400"
openstack aggregate create --zone az2 agg2 >/dev/null || fail "aggregate create agg2"
AGG2=$(openstack aggregate show agg2 -f value -c id)
[ "$(nvc POST "/os-aggregates/$AGG2/action" "{\"add_host\": {\"host\": \"$OTHER\"}}")" = 409 ] &&
	grep -q "already in availability zone(s) \['az1'\]" "$T/nvc.json" || fail "host in two zones not 409"
[ "$(nvc DELETE "/os-aggregates/$AGG1")" = 400 ] || fail "delete of a non-empty aggregate not 400"
[ "$(nvc GET /os-aggregates/x)" = 400 ] && [ "$(nvc GET /os-aggregates/999)" = 404 ] || fail "bad aggregate ids"
[ "$(nv "/os-aggregates/$AGG2" '.aggregate.hosts | tojson')" = "[]" ] && agg1_same ||
	fail "a refused aggregate call changed something"
# Placement: the zone, a zone nobody has, a forced host, the extra specs.
openstack server create --flavor m1.x --image img --availability-zone az1 --wait z1 -f json > "$T/z1.json" ||
	fail "create in az1"
jq -e --arg h "$OTHER" '."OS-EXT-SRV-ATTR:host" == $h and ."OS-EXT-AZ:availability_zone" == "az1"' \
	"$T/z1.json" >/dev/null || fail "z1 not on $OTHER in az1"
n0=$(nv /servers '.servers | length')
openstack server create --flavor m1.x --image img --availability-zone nozone bad 2>"$T/err.txt" &&
	fail "unknown zone accepted"
grep -q "HTTP 400" "$T/err.txt" && grep -q "availability zone is not available" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "unknown zone not 400"; }
[ "$(nv /servers '.servers | length')" = "$n0" ] || fail "a server was made for an unknown zone"
openstack server create --flavor m1.x --image img --availability-zone "nova:$HOST" --wait z2 -f json > "$T/z2.json" ||
	fail "create on a forced host"
jq -e --arg h "$HOST" '."OS-EXT-SRV-ATTR:host" == $h' "$T/z2.json" >/dev/null || fail "z2 not on $HOST"
openstack flavor create --ram 256 --disk 1 --vcpus 1 --property aggregate_instance_extra_specs:ssd=true m1.ssd >/dev/null
openstack server create --flavor m1.ssd --image img --wait z3 -f json > "$T/z3.json" || fail "create m1.ssd"
jq -e --arg h "$OTHER" '."OS-EXT-SRV-ATTR:host" == $h' "$T/z3.json" >/dev/null || fail "z3 not on the ssd host"
openstack server delete --wait z1 z2 z3
openstack aggregate remove host agg1 "$OTHER" >/dev/null || fail "aggregate remove host"
openstack aggregate delete agg1 agg2 || fail "aggregate delete"
[ "$(nv /os-aggregates '.aggregates | length')" = 0 ] || fail "aggregates left"
openstack availability zone list --compute -f value -c "Zone Name" | grep -qx nova || fail "zones after delete"
openstack flavor delete m1.ssd
ok "aggregate create/add host/set --property/show/list/remove host/delete, zone list [--long], refusals (409/404/400, nothing changed), placement by zone, forced host and aggregate_instance_extra_specs"

# ---- another project's member -----------------------------------------------------------
openstack project create demo >/dev/null
openstack user create --password demo-pw --project demo demo >/dev/null
openstack role add --user demo --project demo member
(
	export OS_USERNAME=demo OS_PASSWORD=demo-pw OS_PROJECT_NAME=demo
	openstack server show "$VM1" >/dev/null 2>&1 && fail "member sees another project's server"
	openstack server list -f value | grep -q . && fail "member lists another project's servers"
	openstack flavor create --ram 1 --disk 1 --vcpus 1 nope >/dev/null 2>&1 && fail "member created a flavor"
	openstack hypervisor list >/dev/null 2>&1 && fail "member listed hypervisors"
	openstack server create --flavor m1.x --image img mine > "$T/mine.txt" || fail "member create"
	wait_server mine ACTIVE
	openstack server show mine -f json > "$T/mine.json"
	grep -q OS-EXT-SRV-ATTR "$T/mine.json" && fail "member sees OS-EXT-SRV-ATTR"
	grep -q '"OS-EXT-STS:vm_state": "active"' "$T/mine.json" || fail "member's server"
	openstack server delete mine
) || exit 1
ok "a member: 404 on another project's server, 403 on admin APIs, no OS-EXT-SRV-ATTR"

openstack server lock vm1
curl -s -o /dev/null -w '%{http_code}' -X POST "${H[@]}" -H 'Content-Type: application/json' \
	-d '{"os-stop": null}' "$NOVA/v2.1/servers/$VM1/action" | grep -qx 202 || fail "admin stop of a locked server"
wait_status SHUTOFF
openstack server unlock vm1
openstack server start vm1; wait_status ACTIVE
ok "lock/unlock"

# ---- snapshots and backups (the agent uploads a synthetic qcow2) ------------------------
# Waits are on the server's task (set by the API call itself, cleared by
# the agent's answer after the upload), not the clients' --wait (5 s polls).
t0=$SECONDS
task_clear() { [ "$(nv "/servers/$VM1" '.server["OS-EXT-STS:task_state"]')" = null ]; }
openstack server image create --name snap1 vm1 >/dev/null || fail "server image create"
wait_for 20 "snapshot task ends" task_clear
openstack image show snap1 -f json > "$T/snap.json"
jq -e --arg v "$VM1" '.status == "active" and .disk_format == "qcow2" and
	.properties.instance_uuid == $v and .properties.image_type == "snapshot"' \
	"$T/snap.json" >/dev/null || { cat "$T/snap.json"; fail "snapshot image"; }
[ "$(status)" = ACTIVE ] || fail "server not ACTIVE after its snapshot"
ls "$T"/inst-h*/.snapshot-* >/dev/null 2>&1 && fail "snapshot file left on the host"
# a bad rotation: 400, no image, no task
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "${H[@]}" -H 'Content-Type: application/json' \
	-d '{"createBackup": {"name": "bkx", "backup_type": "daily", "rotation": -1}}' \
	"$NOVA/v2.1/servers/$VM1/action")" = 400 ] || fail "negative rotation not 400"
task_clear || fail "a refused backup started a task"
openstack image show bkx >/dev/null 2>&1 && fail "a refused backup made an image"
bk_names() { openstack image list -f value -c Name | grep '^bk' | sort | tr '\n' ' '; }
for b in 1 2 3; do
	openstack server backup create --name "bk$b" --type daily --rotate 2 vm1 >/dev/null ||
		fail "server backup create bk$b"
	wait_for 20 "backup bk$b task ends" task_clear
done
two_kept() { [ "$(bk_names)" = "bk2 bk3 " ]; }
wait_for 20 "rotation keeps the newest 2 daily backups" two_kept
openstack image show bk3 -f json | jq -e '.status == "active" and
	.properties.backup_type == "daily" and .properties.image_type == "backup"' >/dev/null ||
	fail "backup image"
openstack server create --flavor m1.x --image snap1 vmsnap >/dev/null || fail "server from the snapshot"
wait_server vmsnap ACTIVE
openstack server delete vmsnap
vmsnap_gone() { [ "$(nv '/servers/detail?name=^vmsnap$&all_tenants=1' '.servers | length')" = 0 ]; }
wait_for 20 "vmsnap deleted" vmsnap_gone
openstack image delete snap1 bk2 bk3
ok "server image create, server backup create --type daily --rotate 2 x3 keeps 2, 400 on rotation -1, a server from the snapshot ($((SECONDS - t0)) s)"

# ---- quotas ----------------------------------------------------------------------------
PID=$(openstack project show admin -f value -c id)
openstack quota set --instances 2 admin
[ "$(openstack quota show admin -f value -c instances)" = 2 ] || fail "quota show"
openstack server create --flavor m1.x --image img vm2 >/dev/null || fail "second server"
wait_server vm2 ACTIVE
openstack server create --flavor m1.x --image img vm3 2>"$T/err.txt" && fail "third server over quota accepted"
grep -q "Quota exceeded for instances" "$T/err.txt" && grep -q "HTTP 403" "$T/err.txt" || { cat "$T/err.txt"; fail "over-quota create is not 403"; }
openstack limits show --absolute -f value > "$T/limits.txt"
grep -qx "maxTotalInstances 2" "$T/limits.txt" || fail "limits maxTotalInstances"
grep -qx "totalInstancesUsed 2" "$T/limits.txt" || fail "limits totalInstancesUsed"
grep -qx "totalRAMUsed 768" "$T/limits.txt" || fail "limits totalRAMUsed"
nova quota-show --tenant "$PID" 2>/dev/null | grep -q "| instances .*| 2 " || fail "nova quota-show"
ok "quota set --instances 2, third create 403, limits show --absolute"

# ---- resize, revert, confirm (same host) --------------------------------------------
# [compute] allow_resize_to_same_host (compute_lib.sh): the new flavor is
# claimed on the server's host besides the old one until confirm/revert.
# Decimal flavor ids: os-migrations shows Nova's integer
# old/new_instance_type_id for them (null for a UUID).
openstack flavor create --id 12 --ram 1024 --disk 2 --vcpus 2 m1.big >/dev/null
TINY=$(openstack flavor show m1.tiny -f value -c id)
BIG=$(openstack flavor show m1.big -f value -c id)
flavor_of() { nv "/servers/$VM1" '.server.flavor.id'; }
host_of() { nv "/servers/$VM1" '.server["OS-EXT-SRV-ATTR:host"]'; }
used() { openstack hypervisor stats show -f value -c vcpus_used; }
U0=$(used)
openstack server resize --flavor m1.tiny vm1 2>"$T/err.txt" && fail "resize to the same flavor accepted"
grep -q "HTTP 400" "$T/err.txt" && grep -q "When resizing, instances must change flavor" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "same-flavor resize is not Nova's 400"; }
[ "$(status)" = ACTIVE ] && [ "$(flavor_of)" = "$TINY" ] && [ "$(used)" = "$U0" ] || fail "a refused resize changed the server"
openstack server resize --flavor m1.big vm1
wait_status VERIFY_RESIZE
[ "$(flavor_of)" = "$BIG" ] && [ "$(host_of)" = "$HOST" ] || fail "resized: flavor $(flavor_of) on $(host_of)"
[ "$(used)" = $((U0 + 2)) ] || fail "both claims while resized: vcpus_used $(used), want $((U0 + 2))"
openstack server resize revert vm1
wait_status ACTIVE
[ "$(flavor_of)" = "$TINY" ] && [ "$(host_of)" = "$HOST" ] || fail "revert: flavor $(flavor_of) on $(host_of), want $TINY on $HOST"
[ "$(used)" = "$U0" ] || fail "revert kept the target's claim: vcpus_used $(used)"
ok "resize then revert leaves the original flavor and host (refused same-flavor resize changes nothing)"
# Nova's upsize quota check: the growth of cores/ram over the project's
# quota is 403 with Nova's message, the server, usage and claims as they
# were. Then two racing resizes with room for one growth: one 202, one
# 403, never both (checked again in the resize's write).
CORES0=$(openstack quota show admin -f value -c cores)
VM2=$(openstack server show vm2 -f value -c id)
cores_used() { openstack limits show --absolute -f value | awk '$1 == "totalCoresUsed" { print $2 }'; }
C0=$(cores_used)
openstack quota set --cores "$C0" admin
openstack server resize --flavor m1.big vm1 2>"$T/err.txt" && fail "resize over the cores quota accepted"
grep -q "HTTP 403" "$T/err.txt" &&
	grep -q "Quota exceeded for cores: Requested 1, but already used $C0 of $C0 cores" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "resize over quota is not Nova's 403"; }
[ "$(status)" = ACTIVE ] && [ "$(flavor_of)" = "$TINY" ] && [ "$(used)" = "$U0" ] &&
	[ "$(cores_used)" = "$C0" ] || fail "a resize over quota changed the server or the usage"
[ "$(openstack server migration list --server vm1 -f value | wc -l)" = 1 ] ||
	fail "a resize over quota left a migration record"
openstack quota set --cores $((C0 + 1)) admin
pids=()
for s in "$VM1" "$VM2"; do
	curl -s -m 60 -o "$T/rz-$s.txt" -w '%{http_code}\n' -X POST "${H[@]}" \
		-H 'Content-Type: application/json' -d "{\"resize\": {\"flavorRef\": \"$BIG\"}}" \
		"$NOVA/v2.1/servers/$s/action" > "$T/rzc-$s" &
	pids+=($!)
done
wait "${pids[@]}"
[ "$(cat "$T/rzc-$VM1" "$T/rzc-$VM2" | sort | tr '\n' ' ')" = "202 403 " ] ||
	fail "racing resizes within one growth of the quota: $(cat "$T/rzc-$VM1" "$T/rzc-$VM2" | tr '\n' ' ')"
won=$VM1 lost=$VM2
[ "$(cat "$T/rzc-$VM1")" = 202 ] || { won=$VM2 lost=$VM1; }
grep -q "Quota exceeded for cores: Requested 1, but already used $((C0 + 1)) of $((C0 + 1)) cores" "$T/rz-$lost.txt" ||
	{ cat "$T/rz-$lost.txt"; fail "the racing resize's 403"; }
id_is() { [ "$(nv "/servers/$1" .server.status)" = "$2" ]; }
wait_for 30 "the accepted resize in VERIFY_RESIZE" id_is "$won" VERIFY_RESIZE
id_is "$lost" ACTIVE || fail "the refused resize changed its server"
openstack server resize revert "$won"
wait_for 30 "the accepted resize reverted" id_is "$won" ACTIVE
[ "$(cores_used)" = "$C0" ] && [ "$(used)" = "$U0" ] || fail "usage after the race: cores $(cores_used), vcpus_used $(used)"
openstack quota set --cores "$CORES0" admin
ok "resize over the cores quota: 403 \"Quota exceeded for cores\", nothing changed; two racing resizes with room for one: 202 + 403"
openstack server resize --flavor m1.big vm1
wait_status VERIFY_RESIZE
openstack server resize confirm vm1
wait_status ACTIVE
[ "$(flavor_of)" = "$BIG" ] && [ "$(used)" = $((U0 + 1)) ] || fail "confirm: flavor $(flavor_of), vcpus_used $(used)"
ok "resize confirm keeps the new flavor"

# ---- cold migrate to the other host: revert, then confirm ---------------------------
# The scheduler prefers another host for a cold migration; the disk goes
# through a temporary image (the test driver uploads a blank one); the
# source keeps its stopped guest until confirm or revert, and the claims
# of both hosts stay until then. (hv_guests counts running guests.)
G0=$(hv_guests "$HOST")
declare -A GB=([h1]=$(hv_guests h1) [h2]=$(hv_guests h2))
openstack server migrate vm1
wait_status VERIFY_RESIZE
OTHER=$(host_of)
case "$OTHER" in h1|h2) [ "$OTHER" != "$HOST" ] ;; *) false ;; esac ||
	fail "cold migrate: VERIFY_RESIZE on '$OTHER', not the other host of $HOST"
[ "$(used)" = $((U0 + 3)) ] || fail "both claims while migrated: vcpus_used $(used), want $((U0 + 3))"
fenced() { [ "$(hv_guests "$1")" = "$2" ]; }
# (the counts are the agents' heartbeats: wait for the one that shows
# vm1's copy running on $OTHER before counting on it)
H0=$((${GB[$OTHER]} + 1))
wait_for 15 "vm1 running on $OTHER" fenced "$OTHER" "$H0"
wait_for 15 "vm1 stopped on $HOST" fenced "$HOST" $((G0 - 1))
grep -q "guest $VM1 on $HOST belongs to an instance placed on" "$T/ctl.log" &&
	fail "$HOST's guest kept for a revert was fenced"
openstack server resize revert vm1
wait_status ACTIVE
[ "$(host_of)" = "$HOST" ] && [ "$(used)" = $((U0 + 1)) ] ||
	fail "revert of the cold migration: on $(host_of), vcpus_used $(used)"
wait_for 15 "the copy on $OTHER fenced" fenced "$OTHER" $((H0 - 1))
wait_for 15 "vm1 running again on $HOST" fenced "$HOST" "$G0"
ok "openstack server migrate vm1: VERIFY_RESIZE on $OTHER with both claims, $HOST keeping its guest; resize revert: ACTIVE on $HOST, one claim, the copy on $OTHER gone"
openstack server migrate vm1
wait_status VERIFY_RESIZE
[ "$(host_of)" = "$OTHER" ] || fail "second cold migrate to $(host_of)"
openstack server resize confirm vm1
wait_status ACTIVE
[ "$(host_of)" = "$OTHER" ] && [ "$(used)" = $((U0 + 1)) ] || fail "cold migrate: on $(host_of), vcpus_used $(used)"
kept_fenced() { grep -q "guest $VM1 on $HOST belongs to an instance placed on $OTHER: deleting it" "$T/ctl.log"; }
wait_for 15 "the guest kept on $HOST fenced after confirm" kept_fenced
openstack image list --private -f value -c Name | grep -q -- "-resize-temp" &&
	fail "a temporary resize image is left"
openstack server migration list --server vm1 -f value -c Status -c "Old Flavor" -c "New Flavor" > "$T/mig.txt"
# (vm1's own, and the racing resize's revert when vm1 won it)
raced=()
[ "$won" = "$VM1" ] && raced=("reverted $TINY $BIG")
want=$(printf '%s\n' "confirmed $BIG $BIG" "reverted $BIG $BIG" "confirmed $TINY $BIG" "reverted $TINY $BIG" "${raced[@]}" |
	sort | tr '\n' ' ')
[ "$(sort "$T/mig.txt" | tr '\n' ' ')" = "$want" ] ||
	{ cat "$T/mig.txt"; fail "server migration list"; }
MC=$(nv "/os-migrations?instance_uuid=$VM1" '[.migrations[] | select(.status == "confirmed" and .old_instance_type_id == .new_instance_type_id) | "\(.source_compute) \(.dest_compute)"] | join(",")')
[ "$MC" = "$HOST $OTHER" ] || fail "the confirmed cold migration's source/dest: '$MC', want '$HOST $OTHER'"
nova migration-list 2>/dev/null | grep -c "$VM1" | grep -qx $((4 + ${#raced[@]})) || fail "nova migration-list"
ok "cold migrate + resize confirm: ACTIVE on $OTHER, one claim, the guest kept on $HOST gone, no temporary image left; os-migrations $HOST -> $OTHER; server migration list / nova migration-list"
# Reverting a downsize grows again: Nova checks the quota there too.
openstack flavor create --id 13 --ram 512 --disk 2 --vcpus 1 m1.half >/dev/null
HALF=$(openstack flavor show m1.half -f value -c id)
openstack server resize --flavor m1.half vm1
wait_status VERIFY_RESIZE
C1=$(cores_used)
openstack quota set --cores "$C1" admin
openstack server resize revert vm1 2>"$T/err.txt" && fail "revert over the cores quota accepted"
grep -q "HTTP 403" "$T/err.txt" &&
	grep -q "Quota exceeded for cores: Requested 1, but already used $C1 of $C1 cores" "$T/err.txt" ||
	{ cat "$T/err.txt"; fail "revert over quota is not Nova's 403"; }
[ "$(status)" = VERIFY_RESIZE ] && [ "$(flavor_of)" = "$HALF" ] && [ "$(cores_used)" = "$C1" ] ||
	fail "a revert over quota changed the server or the usage"
openstack quota set --cores "$CORES0" admin
openstack server resize revert vm1
wait_status ACTIVE
[ "$(flavor_of)" = "$BIG" ] && [ "$(cores_used)" = $((C1 + 1)) ] || fail "revert of the downsize: flavor $(flavor_of)"
ok "the revert of a downsize over the cores quota: 403, still VERIFY_RESIZE; within it: back to m1.big"

# ---- deletes give everything back ------------------------------------------------------------
openstack server delete --wait vm1 vm2
[ -z "$(openstack server list -f value)" ] || fail "servers left after delete"
openstack limits show --absolute -f value | grep -qx "totalInstancesUsed 0" || fail "usage not released"
[ "$(openstack hypervisor stats show -f value -c vcpus_used)" = 0 ] || fail "claims not released"
idle() { [ "$(hv_guests h1)" = 1 ] && [ "$(hv_guests h2)" = 1 ]; }
wait_for 10 "guests gone from the hosts" idle
ok "server delete --wait: usage, claims and guests released"

# ---- db purge: what deleted servers left ---------------------------------------------------
# At 2.21 a deleted server's actions are still listed (as Nova's); `manage
# db purge --before TIME` removes what servers deleted before TIME left
# (as nova-manage db purge): a dry run and an earlier TIME change nothing;
# the newest migration stays (its id counts the next ones).
acts() { curl -s -o "$T/acts.json" -w '%{http_code}' "${H[@]}" \
	-H 'OpenStack-API-Version: compute 2.21' "$NOVA/v2.1/servers/$1/os-instance-actions"; }
nmig() { nv "/os-migrations" '.migrations | length'; }
[ "$(acts "$VM1")" = 200 ] && jq -e '.instanceActions | map(.action) | index("delete")' \
	"$T/acts.json" >/dev/null || fail "a deleted server's actions at 2.21"
M0=$(nmig)
[ "$M0" -ge 2 ] || fail "expected vm1's migrations, found $M0"
LATER=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
manage db purge --before 1d > "$T/purge.txt" || fail "db purge --before 1d"
grep -q '^purged 0 instance actions of 0 deleted servers and 0 migrations' "$T/purge.txt" ||
	{ cat "$T/purge.txt"; fail "db purge --before 1d purged something"; }
manage db purge --dry-run --before "$LATER" > "$T/purge.txt" || fail "db purge --dry-run"
grep -Eq '^would purge [1-9][0-9]* instance actions of [1-9][0-9]* deleted servers and '"$((M0 - 1))"' migrations' \
	"$T/purge.txt" || { cat "$T/purge.txt"; fail "db purge --dry-run: $(cat "$T/purge.txt")"; }
[ "$(acts "$VM1")" = 200 ] && [ "$(nmig)" = "$M0" ] || fail "db purge --dry-run changed something"
manage db purge --before "$LATER" > "$T/purge.txt" || fail "db purge"
grep -Eq '^purged [1-9][0-9]* instance actions' "$T/purge.txt" || { cat "$T/purge.txt"; fail "db purge"; }
[ "$(acts "$VM1")" = 404 ] || fail "a purged server's actions: HTTP $(acts "$VM1")"
[ "$(nmig)" = 1 ] || fail "migrations after the purge: $(nmig), expected the newest only"
manage db purge --before "$LATER" | grep -q '^purged 0 instance actions of 0 deleted servers and 0 migrations' ||
	fail "a second purge found more"
ok "tinystack-manage db purge: a deleted server's actions (2.21) and migrations go, dry run and earlier TIME change nothing, the newest migration stays ($(cat "$T/purge.txt"))"

echo "$NPASS passed, 0 failed"
