#!/bin/bash
# The Identity API (Keystone v3 and the v2.0 token call) driven by Debian's
# real python3-openstackclient against a controller on 127.0.0.1: bootstrap
# and openrc, token issue, catalog and endpoints, project/user/role CRUD,
# grants, groups and role assignments, what a member may not do (403, 404),
# revocation when a user is disabled, a password changes, a role is removed
# or a token is revoked (also across a controller restart), key rotation,
# the legacy v2.0 flows, 20 concurrent creates of one name, and the error
# codes.
. "$(dirname "$0")/lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"

BUS=$(free_port)
IDP=$(free_port)
URL=http://127.0.0.1:$IDP
PW='s3cret pass'"'"'word'	# a space and a quote: the openrc quoting
api_lines "$IDP"
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap "$PW"
[ "$(stat -c %a "$T/openrc")" = 600 ] || fail "openrc is not 0600"
[ "$(stat -c %a "$T/token-keys")" = 700 ] || fail "token key repository is not 0700"
printf '%s\n' "$PW" | manage bootstrap --admin-password-file - > "$T/boot2.txt"
grep -q "^bootstrap: 0 record(s) created" "$T/boot2.txt" || { cat "$T/boot2.txt"; fail "bootstrap is not idempotent"; }
# A password on the command line (every user's ps shows it) is refused
# before anything is read or written.
cp "$T/openrc" "$T/openrc.before"
rc=0; manage bootstrap --admin-password "other pass" --admin-username eve \
	--openrc "$T/openrc" > "$T/boot3.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "not accepted" "$T/boot3.txt" ||
	{ cat "$T/boot3.txt"; fail "bootstrap --admin-password: exit $rc, not 2 with the reason"; }
cmp -s "$T/openrc" "$T/openrc.before" || fail "a refused bootstrap rewrote the openrc"
manage token setup | grep "2 key(s), primary key 1" >/dev/null || fail "token setup is not idempotent"
ok "bootstrap and token setup (idempotent, password from stdin), openrc 0600; --admin-password on the command line refused"

start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"
[ "$(http_code GET "$URL/")" = 300 ] || fail "GET / is not 300"
curl -s "$URL/v3" | grep '"id":"v3.14"' >/dev/null || fail "GET /v3 version document"
ok "version discovery"

# shellcheck disable=SC1091
. "$T/openrc"
TOK=$(os_token)
[ ${#TOK} = 172 ] || fail "token issue: '$TOK'"
openstack catalog list -f value -c Type > "$T/catalog.txt"
for t in identity compute image volumev3 block-storage network; do
	grep -qx "$t" "$T/catalog.txt" || fail "catalog lacks $t"
done
# The catalog the controller was configured to serve: each API's port and
# public_host as the controller reads them (-n prints the config it runs
# with), the API paths bootstrap registers, and the three interfaces.
"$CTL" -n --config "$T/controller.conf" > "$T/effective.conf"
api_opt() { awk -F' = ' -v k="$1" '/^\[/ { s = $0 } s == "[api]" && $1 == k { print $2 }' "$T/effective.conf"; }
PH=$(api_opt public_host)
[ -n "$PH" ] || fail "no [api] public_host in the controller's config"
while read -r type port path; do
	case $port in
	'' | *[!0-9]*) fail "no [api] port for $type in the controller's config" ;;
	esac
	for i in public internal admin; do
		echo "$type $i http://$PH:$port$path"
	done
done > "$T/endpoints.want" <<EP
identity $(api_opt identity_port) /v3
compute $(api_opt compute_port) /v2.1
image $(api_opt image_port)
volumev3 $(api_opt volume_port) /v3/%(project_id)s
block-storage $(api_opt volume_port) /v3/%(project_id)s
network $(api_opt network_port)
EP
sort -o "$T/endpoints.want" "$T/endpoints.want"
openstack endpoint list -f value -c "Service Type" -c Interface -c URL |
	sort > "$T/endpoints.got"
diff -u "$T/endpoints.want" "$T/endpoints.got" ||
	fail "endpoint list differs from the configured catalog ($(wc -l < "$T/endpoints.want") endpoints expected)"
openstack endpoint list --interface admin --service identity -f value -c URL | grep -x "$URL/v3" >/dev/null || fail "identity admin endpoint"
ok "openstack token issue, catalog list, endpoint list"

openstack project create --domain default --description "demo project" demo >/dev/null
openstack project create p2 >/dev/null
openstack project list -f value -c Name | grep -x demo >/dev/null || fail "project list"
openstack project show demo -f value -c description | grep -x "demo project" >/dev/null || fail "project show"
openstack project set --disable p2
[ "$(openstack project show p2 -f value -c enabled)" = False ] || fail "project set --disable"
openstack project delete p2
openstack project show p2 >/dev/null 2>&1 && fail "deleted project still shown"
ok "project create/list/show/set --disable/delete"

openstack user create --password alice-pw-1 --project demo --email alice@example.org alice >/dev/null
openstack user list -f value -c Name | grep -x alice >/dev/null || fail "user list"
openstack user show alice -f value -c email | grep -x alice@example.org >/dev/null || fail "user show (email)"
openstack user create --password x bob >/dev/null
openstack user set --password y bob
openstack user delete bob
openstack user show bob >/dev/null 2>&1 && fail "deleted user still shown"
openstack role create auditor >/dev/null
openstack role list -f value -c Name | sort | tr '\n' ' ' | grep "admin auditor member reader" >/dev/null || fail "role list"
openstack role add --user alice --project demo member
openstack role assignment list --user alice --names -f value -c Role -c User -c Project > "$T/ra.txt"
grep -qx "member alice@Default demo@Default" "$T/ra.txt" || { cat "$T/ra.txt"; fail "role assignment list --names"; }
ok "user create/list/show/set --password/delete, role create/list/add, role assignment list --names"

as_alice() { env OS_USERNAME=alice OS_PASSWORD="$APW" OS_PROJECT_NAME=demo openstack "$@"; }
APW=alice-pw-1
ATOK=$(as_alice token issue -f value -c id)
[ ${#ATOK} = 172 ] || fail "alice cannot get a token"
DEMO=$(openstack project show demo -f value -c id)
ADMINP=$(openstack project show admin -f value -c id)
as_alice project show demo -f value -c id | grep -x "$DEMO" >/dev/null || fail "member cannot see its own project"
as_alice user list > "$T/ul.txt" 2>&1 && fail "a member listed users"
grep -q "HTTP 403" "$T/ul.txt" || fail "member user list: not 403"
[ "$(http_code GET "$URL/v3/projects/$ADMINP" -H "X-Auth-Token: $ATOK")" = 404 ] || fail "member sees another project (expected 404)"
[ "$(http_code GET "$URL/v3/projects/$ADMINP" -H "X-Auth-Token: $TOK")" = 200 ] || fail "admin cannot see the admin project"
ok "member: token issue, 403 on user list, 404 for another project"

# Revocation: the subject token answers 404 to an admin's validation (as
# Keystone), and 401 when used.
subject() { http_code GET "$URL/v3/auth/tokens" -H "X-Auth-Token: $TOK" -H "X-Subject-Token: $1"; }
[ "$(subject "$ATOK")" = 200 ] || fail "alice's token does not validate"
[ "$(http_code HEAD "$URL/v3/auth/tokens" -H "X-Auth-Token: $TOK" -H "X-Subject-Token: $ATOK")" = 200 ] || fail "HEAD /v3/auth/tokens"
openstack user set --disable alice
[ "$(subject "$ATOK")" = 404 ] || fail "token of a disabled user still validates"
[ "$(http_code GET "$URL/v3/auth/projects" -H "X-Auth-Token: $ATOK")" = 401 ] || fail "token of a disabled user still accepted"
as_alice token issue >/dev/null 2>&1 && fail "a disabled user got a token"
openstack user set --enable alice
[ "$(subject "$ATOK")" = 404 ] || fail "re-enabling brought an old token back"
ok "disabling a user revokes its tokens (404 on validation, 401 on use)"

ATOK=$(as_alice token issue -f value -c id)
openstack user set --password alice-pw-2 alice
[ "$(subject "$ATOK")" = 404 ] || fail "token survived a password change"
as_alice token issue >/dev/null 2>&1 && fail "the old password still works"
APW=alice-pw-2
ATOK=$(as_alice token issue -f value -c id)
as_alice user password set --password alice-pw-3 --original-password alice-pw-2 >/dev/null
[ "$(subject "$ATOK")" = 404 ] || fail "token survived the user's own password change"
APW=alice-pw-3
ok "a password change (admin's or the user's own) revokes the user's tokens"

ATOK=$(as_alice token issue -f value -c id)
openstack role remove --user alice --project demo member
[ "$(subject "$ATOK")" = 404 ] || fail "token survived the removal of its role"
as_alice token issue > "$T/noaccess.txt" 2>&1 && fail "token issued without a role"
grep -q "HTTP 401" "$T/noaccess.txt" || fail "scoping without a role: not 401"
openstack role add --user alice --project demo member
ATOK=$(as_alice token issue -f value -c id)
openstack token revoke "$ATOK"
[ "$(subject "$ATOK")" = 404 ] || fail "revoked token still validates"
ok "role removal and token revoke invalidate tokens"

# Roles through a group: carol's token has member on demo only while she
# is in the group.
openstack user create --password carol-pw carol >/dev/null
openstack group create ops >/dev/null
openstack group add user ops carol
openstack role add --group ops --project demo member
CTOK=$(env OS_USERNAME=carol OS_PASSWORD=carol-pw OS_PROJECT_NAME=demo openstack token issue -f value -c id)
openstack role assignment list --project demo --effective --names -f value -c Role -c User > "$T/eff.txt"
grep -x "member carol@Default" "$T/eff.txt" >/dev/null || { cat "$T/eff.txt"; fail "effective assignments via the group"; }
grep -x "reader carol@Default" "$T/eff.txt" >/dev/null || { cat "$T/eff.txt"; fail "implied reader role not listed"; }
[ "$(subject "$CTOK")" = 200 ] || fail "group member's token does not validate"
openstack group remove user ops carol
[ "$(subject "$CTOK")" = 404 ] || fail "token survived leaving the group"
ok "roles through a group (effective assignments, implied reader); leaving the group revokes"

ATOK2=$(as_alice token issue -f value -c id)
kill -TERM "$(pid_of ctl)"
wait_for 10 "controller exit" bash -c "! kill -0 $(pid_of ctl) 2>/dev/null"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"
TOK=$(os_token)
[ "$(subject "$ATOK")" = 404 ] || fail "a revoked token validates after a restart"
[ "$(subject "$ATOK2")" = 200 ] || fail "a valid token was lost in the restart"
ok "revocations survive a controller restart; valid tokens stay valid"

# Key rotation: with max_active_keys 3 a token survives one rotation.
reloads() { grep -c "identity: token keys reloaded" "$T/ctl.log" || true; }
reloaded_since() { [ "$(reloads)" -gt "$1" ]; }
r0=$(reloads)
manage token rotate >/dev/null
# the controller reloads on its next tick: wait until it says so
wait_for 10 "token keys reloaded" reloaded_since "$r0"
[ "$(subject "$ATOK2")" = 200 ] || fail "token invalid after one rotation"
NEWTOK=$(as_alice token issue -f value -c id)
[ "$(subject "$NEWTOK")" = 200 ] || fail "token sealed under the new primary key does not validate"
TOK=$(os_token)		# the admin's, under the new primary
manage token rotate >/dev/null
wait_for 10 "old key pruned" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Auth-Token: $TOK' -H 'X-Subject-Token: $ATOK2' $URL/v3/auth/tokens)\" = 404 ]"
ok "token rotate: old tokens live through one rotation, not two"
TOK=$(os_token)

# Legacy v2.0: the classic curl example (no Content-Type), and keystoneauth's
# v2 password plugin with OS_AUTH_URL=.../v2.0 and no domain variables.
curl -s -X POST "$URL/v2.0/tokens" -d '{"auth":{"passwordCredentials":{"username":"admin","password":"'"$PW"'"},"tenantName":"admin"}}' > "$T/v2.json"
python3 - "$T/v2.json" <<'P' || fail "POST /v2.0/tokens: $(cat "$T/v2.json")"
import json, sys
a = json.load(open(sys.argv[1]))["access"]
assert len(a["token"]["id"]) == 172 and a["token"]["tenant"]["name"] == "admin"
assert any(s["type"] == "identity" and s["endpoints"][0]["publicURL"] for s in a["serviceCatalog"])
P
V2TOK=$(env -u OS_USER_DOMAIN_NAME -u OS_PROJECT_DOMAIN_NAME OS_AUTH_URL="$URL/v2.0" \
	OS_IDENTITY_API_VERSION=2 openstack token issue -f value -c id)
[ "$(subject "$V2TOK")" = 200 ] || fail "token from the v2.0 API does not validate"
curl -s -H "X-Auth-Token: $V2TOK" "$URL/v2.0/tenants" | grep '"name":"admin"' >/dev/null || fail "GET /v2.0/tenants"
ok "legacy POST /v2.0/tokens (curl and OS_AUTH_URL=.../v2.0), GET /v2.0/tenants"

for i in $(seq 1 20); do
	openstack user create --password x racer >"$T/race.$i" 2>&1 &
done
wait
nok=0; nconflict=0
for i in $(seq 1 20); do
	if grep -q "^| name .*racer" "$T/race.$i"; then nok=$((nok + 1)); fi
	if grep -q "HTTP 409" "$T/race.$i"; then nconflict=$((nconflict + 1)); fi
done
[ "$nok" = 1 ] && [ "$nconflict" = 19 ] || { cat "$T"/race.*; fail "20 concurrent creates: $nok succeeded, $nconflict conflicts"; }
[ "$(openstack user list -f value -c Name | grep -cx racer)" = 1 ] || fail "more than one racer stored"
ok "20 concurrent 'user create' of one name: one 201, nineteen 409"

J=(-H "Content-Type: application/json")
A=(-H "X-Auth-Token: $TOK")
[ "$(http_code POST "$URL/v3/projects" "${A[@]}" "${J[@]}" -d '{"project": ')" = 400 ] || fail "malformed JSON: not 400"
[ "$(http_code POST "$URL/v3/projects" "${A[@]}" "${J[@]}" -d '{"project": {"name": 5}}')" = 400 ] || fail "bad field type: not 400"
[ "$(http_code POST "$URL/v3/projects" "${A[@]}" "${J[@]}" -d '{"project": {"name": "demo"}}')" = 409 ] || fail "duplicate project: not 409"
[ "$(http_code POST "$URL/v3/auth/tokens" "${J[@]}" -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"wrong"}}}}}')" = 401 ] || fail "wrong password: not 401"
[ "$(http_code POST "$URL/v3/auth/tokens" "${J[@]}" -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"nobody","domain":{"id":"default"},"password":"x"}}}}}')" = 401 ] || fail "unknown user: not 401"
[ "$(http_code GET "$URL/v3/users")" = 401 ] || fail "no token: not 401"
[ "$(http_code GET "$URL/v3/users" -H "X-Auth-Token: garbage")" = 401 ] || fail "bad token: not 401"
[ "$(http_code GET "$URL/v3/users/nosuchuser" "${A[@]}")" = 404 ] || fail "unknown user id: not 404"
head -c 2000000 /dev/zero | tr '\0' 'a' > "$T/big.json"
[ "$(http_code POST "$URL/v3/projects" "${A[@]}" "${J[@]}" --data-binary @"$T/big.json")" = 413 ] || fail "oversized body: not 413"
curl -s "$URL/v3/users" | grep '"error":{"code":401,"title":"Unauthorized"' >/dev/null || fail "keystone error body"
ok "errors: 400 malformed/invalid, 401, 403 (above), 404, 409, 413 in keystone's body shape"

if grep -q -e "alice-pw" -e "s3cret" "$T/ctl.log"; then
	fail "a password appears in the controller log"
fi
ok "no password in the controller log"

echo "$NPASS passed, 0 failed"
