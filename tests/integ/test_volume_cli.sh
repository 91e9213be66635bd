#!/bin/bash
# The Block Storage API (Cinder v3) slice driven by Debian's real
# python3-openstackclient and python3-cinderclient's cinder
# against a controller on 127.0.0.1: discovery (300 on /, one CURRENT v3.0,
# the microversion header and its 406), `openstack limits show --absolute`
# with the volume rows, `openstack quota show` and `quota set --volumes
# --gigabytes` by the admin (and refused to a member, nothing changed),
# `openstack volume list` (empty) and show (Cinder's 404), `availability
# zone list --volume`, `volume service list`, `volume type list`; then
# volumes without a storage agent (none runs here: the agent-backed end
# to end, creating -> available, belongs to the storage worker's tests):
# `openstack volume create/list/show/set/delete` and `cinder create
# --display_name test 1`, `cinder list`, `cinder delete` on volumes that
# go to error (no valid backend), quota exceeded (413) and bad input
# (400) with nothing created, another project's volume not found; volume
# types: `openstack volume type create --property volume_backend_name=file`
# (409 on a taken name, 403 to a member), set/unset/show/list, `volume
# create --type` (error: no host reports that backend), `volume type
# delete` refused while a volume uses it, then done.
. "$(dirname "$0")/lib.sh"
osc_start
for c in openstack cinder curl jq; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
set +o pipefail

BUS=$(free_port)
IDP=$(free_port)
VP=$(free_port)
VURL=http://127.0.0.1:$VP
api_lines "$IDP"
API_LINES=("${API_LINES[@]/volume_port = */volume_port = $VP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$VURL/"
# shellcheck disable=SC1091
. "$T/openrc"
TOK=$(os_token)
[ -n "$TOK" ] || fail "no admin token"
ADMIN_PID=$(openstack project show admin -f value -c id)

# ---- discovery ---------------------------------------------------------------
[ "$(http_code GET "$VURL/")" = 300 ] || fail "GET / is not 300"
curl -s "$VURL/" | jq -e '.versions | length == 1 and .[0].id == "v3.0" and
    .[0].status == "CURRENT" and .[0].min_version == "3.0"' >/dev/null ||
	fail "GET / versions: $(curl -s "$VURL/")"
curl -s "$VURL/v3/" | jq -e '.versions[0].id == "v3.0"' >/dev/null ||
	fail "GET /v3/"
[ "$(http_code GET "$VURL/v3/$ADMIN_PID/limits" -H "X-Auth-Token: $TOK" \
    -H "OpenStack-API-Version: volume 3.1000")" = 406 ] ||
	fail "an unsupported microversion is not 406"
ok "discovery: 300 versions, v3.0 CURRENT, microversion 406"

# ---- limits ------------------------------------------------------------------
openstack limits show --absolute -f json > "$T/limits.json" ||
	fail "openstack limits show --absolute"
for k in maxTotalVolumes maxTotalSnapshots maxTotalVolumeGigabytes \
    maxTotalBackups maxTotalBackupGigabytes totalVolumesUsed \
    totalGigabytesUsed totalSnapshotsUsed totalBackupsUsed \
    totalBackupGigabytesUsed; do
	jq -e --arg k "$k" 'map(select(.Name == $k)) | length == 1' \
	    "$T/limits.json" >/dev/null || fail "limits show: no $k row"
done
jq -e 'map(select(.Name == "maxTotalVolumes"))[0].Value == 10' \
    "$T/limits.json" >/dev/null || fail "maxTotalVolumes is not 10"
# The compute rows are still there.
jq -e 'map(select(.Name == "maxTotalInstances")) | length == 1' \
    "$T/limits.json" >/dev/null || fail "limits show lost the compute rows"
ok "openstack limits show --absolute: the volume rows"

# ---- quotas ------------------------------------------------------------------
openstack project create vq1 >/dev/null || fail "project create"
openstack user create --password secret vq1-member >/dev/null ||
	fail "user create"
openstack role add --project vq1 --user vq1-member member >/dev/null ||
	fail "role add"
openstack quota show vq1 -f json > "$T/q0.json" || fail "quota show"
jq -e '.volumes == 10 and .gigabytes == 1000 and .snapshots == 10 and
    .backups == 10 and ."backup-gigabytes" == 1000 and
    ."per-volume-gigabytes" == -1' "$T/q0.json" >/dev/null ||
	fail "quota show defaults: $(cat "$T/q0.json")"
openstack quota set --volumes 5 --gigabytes 50 vq1 || fail "quota set"
openstack quota show vq1 -f json > "$T/q1.json" || fail "quota show"
jq -e '.volumes == 5 and .gigabytes == 50 and .snapshots == 10' \
    "$T/q1.json" >/dev/null || fail "quota set not shown: $(cat "$T/q1.json")"
ok "openstack quota set --volumes 5 --gigabytes 50, then show"

# A member may not change its project's quota; nothing changes.
if OS_USERNAME=vq1-member OS_PASSWORD=secret OS_PROJECT_NAME=vq1 \
    openstack quota set --volumes 99 vq1 2> "$T/qerr.txt"; then
	fail "a member set its quota"
fi
grep -q "403" "$T/qerr.txt" || fail "member quota set: $(cat "$T/qerr.txt")"
openstack quota show vq1 -f json | jq -e '.volumes == 5' >/dev/null ||
	fail "a refused quota set changed the quota"
# Bad values are Cinder's 400, nothing changed.
VQ1=$(openstack project show vq1 -f value -c id)
curl -s -X PUT -H "X-Auth-Token: $TOK" -H "Content-Type: application/json" \
    -d '{"quota_set": {"volumes": -2}}' \
    "$VURL/v3/$ADMIN_PID/os-quota-sets/$VQ1" > "$T/bad.json"
jq -e '.badRequest.code == 400 and .badRequest.message ==
    "volumes must be >= -1"' "$T/bad.json" >/dev/null ||
	fail "quota -2: $(cat "$T/bad.json")"
openstack quota show vq1 -f json | jq -e '.volumes == 5' >/dev/null ||
	fail "a refused quota set changed the quota"
# The member sees the new limits in its own limits.
OS_USERNAME=vq1-member OS_PASSWORD=secret OS_PROJECT_NAME=vq1 \
    openstack limits show --absolute -f json |
	jq -e 'map(select(.Name == "maxTotalVolumes"))[0].Value == 5' \
	>/dev/null || fail "the member's limits do not show its quota"
ok "quota: member refused (403), bad value 400, nothing changed"

# ---- volumes, zones, services, types ----------------------------------------
[ "$(openstack volume list -f json)" = "[]" ] ||
	fail "volume list: $(openstack volume list -f json)"
openstack volume show 6f1d7c2e-0000-4000-8000-000000000001 2> "$T/vs.txt" &&
	fail "volume show found a volume"
curl -s -H "X-Auth-Token: $TOK" \
    "$VURL/v3/$ADMIN_PID/volumes/6f1d7c2e-0000-4000-8000-000000000001" |
	jq -e '.itemNotFound.code == 404 and .itemNotFound.message ==
	"Volume 6f1d7c2e-0000-4000-8000-000000000001 could not be found."' \
	>/dev/null || fail "volume show body"
ok "openstack volume list (empty), volume show (404)"

openstack availability zone list --volume -f json > "$T/az.json" ||
	fail "availability zone list --volume"
jq -e 'length == 1 and .[0]["Zone Name"] == "nova" and
    .[0]["Zone Status"] == "available"' "$T/az.json" >/dev/null ||
	fail "az list: $(cat "$T/az.json")"
openstack volume service list -f json > "$T/svc.json" ||
	fail "volume service list"
jq -e 'length == 1 and .[0].Binary == "cinder-scheduler" and
    .[0].State == "up" and .[0].Status == "enabled"' "$T/svc.json" \
    >/dev/null || fail "volume service list: $(cat "$T/svc.json")"
openstack volume type list -f json > "$T/types.json" ||
	fail "volume type list"
jq -e 'length == 1 and .[0].Name == "__DEFAULT__"' "$T/types.json" \
    >/dev/null || fail "volume type list: $(cat "$T/types.json")"
ok "availability zone list --volume, volume service list, volume type list"

# ---- cinder ------------------------------------------------------------------
cinder absolute-limits > "$T/cl.txt" || fail "cinder absolute-limits"
grep -Eq "maxTotalVolumes +\| +10 " "$T/cl.txt" ||
	fail "cinder absolute-limits: $(cat "$T/cl.txt")"
cinder quota-show "$VQ1" > "$T/cq.txt" || fail "cinder quota-show"
grep -Eq "\| +volumes +\| +5 +\|" "$T/cq.txt" ||
	fail "cinder quota-show: $(cat "$T/cq.txt")"
cinder list > "$T/clist.txt" || fail "cinder list"
ok "cinder absolute-limits, quota-show, list"

# ---- volumes (no storage agent: no valid backend) ------------------------------
openstack volume create --size 1 test -f json > "$T/vc.json" ||
	fail "openstack volume create"
jq -e '.size == 1 and .name == "test" and .bootable == "false" and
    (.status == "error" or .status == "creating")' "$T/vc.json"     >/dev/null || fail "volume create: $(cat "$T/vc.json")"
VID=$(jq -r .id "$T/vc.json")
curl -s -H "X-Auth-Token: $TOK" "$VURL/v3/$ADMIN_PID/volumes/$VID" |
	jq -e '.volume.status == "error"' >/dev/null ||
	fail "a volume without a storage host is not in error"
openstack volume list -f json > "$T/vl.json" || fail "volume list"
jq -e --arg id "$VID" 'length == 1 and .[0].ID == $id and
    .[0].Name == "test" and .[0].Status == "error" and .[0].Size == 1'     "$T/vl.json" >/dev/null || fail "volume list: $(cat "$T/vl.json")"
openstack volume set --name test2 --description described     --property color=blue test || fail "openstack volume set"
openstack volume show test2 -f json > "$T/vs.json" || fail "volume show"
jq -e --arg id "$VID" '.id == $id and .description == "described" and
    .properties.color == "blue"' "$T/vs.json" >/dev/null ||
	fail "volume show after set: $(cat "$T/vs.json")"
openstack limits show --absolute -f json |
	jq -e 'map(select(.Name == "totalVolumesUsed"))[0].Value == 1 and
	map(select(.Name == "totalGigabytesUsed"))[0].Value == 1' >/dev/null ||
	fail "limits do not count the volume"
ok "openstack volume create (202, error without a backend), list, set, show"

cinder create --display_name cvol 1 > "$T/cc.txt" || fail "cinder create"
cinder list > "$T/cl2.txt" || fail "cinder list"
grep -q "cvol" "$T/cl2.txt" && grep -q "test2" "$T/cl2.txt" ||
	fail "cinder list: $(cat "$T/cl2.txt")"
cinder show cvol > "$T/cs.txt" || fail "cinder show"
grep -Eq "\| +size +\| +1 +\|" "$T/cs.txt" ||
	fail "cinder show: $(cat "$T/cs.txt")"
ok "cinder create --display_name cvol 1, cinder list, cinder show"

# Quota and bad input: clear 4xx, nothing created.
if OS_USERNAME=vq1-member OS_PASSWORD=secret OS_PROJECT_NAME=vq1 \
    openstack volume create --size 60 big 2> "$T/qe.txt"; then
	fail "a volume over the gigabytes quota was created"
fi
grep -q "exceeds allowed gigabytes quota" "$T/qe.txt" ||
	fail "over quota: $(cat "$T/qe.txt")"
LONG=$(printf 'n%.0s' $(seq 300))
[ "$(http_code POST "$VURL/v3/$ADMIN_PID/volumes" -H "X-Auth-Token: $TOK" \
    -H "Content-Type: application/json" \
    -d "{\"volume\":{\"size\":1,\"name\":\"$LONG\"}}")" = 400 ] ||
	fail "a name of 300 characters is not 400"
for bad in '{"volume":{"size":0}}' '{"volume":{"size":-1}}' \
    '{"volume":{"size":1,"imageRef":"6f1d7c2e-0000-4000-8000-000000000009"}}'; do
	[ "$(http_code POST "$VURL/v3/$ADMIN_PID/volumes" \
	    -H "X-Auth-Token: $TOK" -H "Content-Type: application/json" \
	    -d "$bad")" = 400 ] || fail "$bad is not 400"
done
[ "$(openstack volume list -f value -c ID | wc -l)" = 2 ] ||
	fail "a refused create made a volume: $(openstack volume list)"
OS_USERNAME=vq1-member OS_PASSWORD=secret OS_PROJECT_NAME=vq1 \
    openstack volume list -f json | jq -e 'length == 0' >/dev/null ||
	fail "the member's refused create made a volume"
# Another project's volume: not found.
if OS_USERNAME=vq1-member OS_PASSWORD=secret OS_PROJECT_NAME=vq1 \
    openstack volume show "$VID" 2> "$T/xp.txt"; then
	fail "another project's volume was shown"
fi
ok "quota exceeded (413), bad size/name/image (400), another project's volume (404): nothing created"

openstack volume delete test2 || fail "openstack volume delete"
cinder delete cvol || fail "cinder delete"
# Never placed, so removed at once (no host to wait for).
[ "$(openstack volume list -f value -c ID | wc -l)" = 0 ] ||
	fail "volumes left after delete: $(openstack volume list)"
openstack limits show --absolute -f json |
	jq -e 'map(select(.Name == "totalVolumesUsed"))[0].Value == 0' \
	>/dev/null || fail "the usage was not released"
ok "openstack volume delete, cinder delete: gone, usage released"

# ---- volume types ------------------------------------------------------------
openstack volume type create --property volume_backend_name=file \
    --description "file backend" tfile -f json > "$T/tc.json" ||
	fail "openstack volume type create"
jq -e '.name == "tfile" and .description == "file backend"' "$T/tc.json" \
    >/dev/null || fail "volume type create: $(cat "$T/tc.json")"
if openstack volume type create tfile 2> "$T/tdup.txt"; then
	fail "a second type named tfile was created"
fi
grep -q "Volume Type tfile already exists" "$T/tdup.txt" ||
	fail "duplicate type: $(cat "$T/tdup.txt")"
if OS_USERNAME=vq1-member OS_PASSWORD=secret OS_PROJECT_NAME=vq1 \
    openstack volume type create mine 2> "$T/tm.txt"; then
	fail "a member created a volume type"
fi
[ "$(openstack volume type list -f value -c ID | wc -l)" = 2 ] ||
	fail "volume type list: $(openstack volume type list)"
openstack volume type set --property color=blue tfile ||
	fail "volume type set --property"
openstack volume type unset --property color tfile ||
	fail "volume type unset --property"
openstack volume type show tfile -f json > "$T/ts.json" ||
	fail "volume type show"
jq -e '(.properties | tostring | contains("volume_backend_name")) and
    (.properties | tostring | contains("color") | not)' "$T/ts.json" \
    >/dev/null || fail "volume type show: $(cat "$T/ts.json")"
ok "openstack volume type create (409 on a taken name, 403 to a member), list, set/unset --property, show"

# No storage host reports the file backend here: the volume errs.
openstack volume create --type tfile --size 1 tv -f json > "$T/tv.json" ||
	fail "volume create --type"
jq -e '.type == "tfile"' "$T/tv.json" >/dev/null ||
	fail "volume create --type: $(cat "$T/tv.json")"
openstack volume show tv -f json | jq -e '.type == "tfile" and
    .status == "error"' >/dev/null || fail "volume show tv: $(openstack volume show tv)"
if openstack volume type delete tfile 2> "$T/td.txt"; then
	fail "a volume type in use was deleted"
fi
grep -q "still in use" "$T/td.txt" || fail "type delete: $(cat "$T/td.txt")"
openstack volume type show tfile >/dev/null || fail "the refused delete removed tfile"
if openstack volume create --type nope --size 1 tn 2> "$T/tn.txt"; then
	fail "a volume of an unknown type was created"
fi
[ "$(openstack volume list -f value -c ID | wc -l)" = 1 ] ||
	fail "volumes: $(openstack volume list)"
openstack volume delete tv || fail "volume delete tv"
[ "$(openstack volume list -f value -c ID | wc -l)" = 0 ] ||
	fail "tv left: $(openstack volume list)"
openstack volume type delete tfile || fail "volume type delete"
[ "$(openstack volume type list -f value -c ID | wc -l)" = 1 ] ||
	fail "tfile left: $(openstack volume type list)"
ok "volume create --type (error: no file backend), type delete refused in use (400), unknown type refused, type delete"

echo "1..$NPASS"
