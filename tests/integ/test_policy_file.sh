#!/bin/bash
# The policy file ([oslo_policy] policy_file, YAML): a running controller
# sees an override written into it within seconds and without a restart
# (identity and compute rules), a file that does not load keeps the rules
# in force and says why in the log, a restart keeps the override, and
# emptying the file brings the built-in rules back. Also the deprecated
# [identity] policy_file (JSON) still works.
. "$(dirname "$0")/lib.sh"

BUS=$(free_port)
IDP=$(free_port)
CP=$(free_port)
URL=http://127.0.0.1:$IDP
CURL=http://127.0.0.1:$CP/v2.1
api_lines "$IDP"
API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"

# token USER PASSWORD PROJECT: a project-scoped token, straight from the API.
token() {
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{
	    "auth": {"identity": {"methods": ["password"], "password": {"user":
	    {"name": "'"$1"'", "domain": {"id": "default"}, "password":
	    "'"$2"'"}}}, "scope": {"project": {"name": "'"$3"'", "domain":
	    {"id": "default"}}}}}' "$URL/v3/auth/tokens" |
	    awk 'tolower($1) == "x-subject-token:" { sub("\r", "", $2); print $2 }'
}
ADM=$(token admin admin-pw admin)
[ -n "$ADM" ] || fail "no admin token"
api() { curl -s -H "X-Auth-Token: $ADM" -H 'Content-Type: application/json' "$@"; }
PID=$(api -d '{"project": {"name": "demo", "domain_id": "default"}}' "$URL/v3/projects" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["project"]["id"])')
UID_=$(api -d '{"user": {"name": "alice", "password": "alice-pw", "domain_id": "default"}}' \
	"$URL/v3/users" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')
RID=$(api "$URL/v3/roles?name=member" | python3 -c 'import json,sys; print(json.load(sys.stdin)["roles"][0]["id"])')
api -X PUT "$URL/v3/projects/$PID/users/$UID_/roles/$RID" >/dev/null
ALICE=$(token alice alice-pw demo)
[ -n "$ALICE" ] || fail "no token for alice"

code() { http_code GET "$1" -H "X-Auth-Token: $2"; }
# is_code URL TOKEN STATUS: for wait_for, which runs it again each time.
is_code() { [ "$(code "$1" "$2")" = "$3" ]; }
[ "$(code "$URL/v3/auth/catalog" "$ALICE")" = 200 ] || fail "member: catalog not 200 with the built-in rules"
[ "$(code "$CURL/limits" "$ADM")" = 200 ] || fail "admin: limits not 200 with the built-in rules"
ok "built-in rules without a policy file"

# The sample as installed: all comments, overrides nothing.
manage policy sample > "$T/policy.yaml"
sleep 1.2
[ "$(code "$URL/v3/auth/catalog" "$ALICE")" = 200 ] || fail "the commented sample changed a rule"
grep -q "policy: $T/policy.yaml reloaded" "$T/ctl.log" || fail "sample not reloaded"
ok "the generated sample loads and overrides nothing"

cat >> "$T/policy.yaml" <<'Y'
# Only the admin reads the catalog, nobody the compute limits.
"identity:get_auth_catalog": "role:admin"
os_compute_api:limits: '!'   # plain key, single-quoted check
Y
wait_for 10 "the override denies the member" \
	is_code "$URL/v3/auth/catalog" "$ALICE" 403
[ "$(code "$URL/v3/auth/catalog" "$ADM")" = 200 ] || fail "admin denied the catalog"
wait_for 10 "the override denies limits" is_code "$CURL/limits" "$ADM" 403
ok "an override written into policy.yaml is enforced without a restart"

cp "$T/policy.yaml" "$T/policy.good"
printf '"identity:get_auth_catalog": "role:"\n' > "$T/policy.yaml"
wait_for 10 "the bad file is logged" grep -q "not reloaded, keeping the previous rules" "$T/ctl.log"
grep "not reloaded" "$T/ctl.log" | grep -q "column" || fail "the log does not say where the file is wrong"
[ "$(code "$URL/v3/auth/catalog" "$ALICE")" = 403 ] || fail "a bad file dropped the override"
[ "$(code "$URL/v3/auth/catalog" "$ADM")" = 200 ] || fail "a bad file broke the admin"
printf '"identity:get_auth_catalog": @\n' > "$T/policy.yaml"
wait_for 10 "the YAML error is logged" grep -q "line 1: a check string starting" "$T/ctl.log"
[ "$(code "$URL/v3/auth/catalog" "$ALICE")" = 403 ] || fail "a bad YAML file dropped the override"
ok "a file that does not load keeps the previous rules and says why"

cp "$T/policy.good" "$T/policy.yaml"
kill "$(pid_of ctl)"
wait_for 10 "controller stopped" sh -c "! kill -0 $(pid_of ctl) 2>/dev/null"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"
[ "$(code "$URL/v3/auth/catalog" "$ALICE")" = 403 ] || fail "the override is lost on restart"
[ "$(code "$URL/v3/auth/catalog" "$ADM")" = 200 ] || fail "admin denied after restart"
[ "$(code "$CURL/limits" "$ADM")" = 403 ] || fail "limits override lost on restart"
ok "a restart keeps the override"

: > "$T/policy.yaml"
wait_for 10 "the empty file restores the defaults" \
	is_code "$URL/v3/auth/catalog" "$ALICE" 200
wait_for 10 "limits allowed again" is_code "$CURL/limits" "$ADM" 200
rm "$T/policy.yaml"
sleep 1.2
[ "$(code "$URL/v3/auth/catalog" "$ALICE")" = 200 ] || fail "a removed file changed the rules"
ok "an empty or removed file means the built-in rules"

# The deprecated option: JSON, read instead, must exist.
kill "$(pid_of ctl)"
wait_for 10 "controller stopped" sh -c "! kill -0 $(pid_of ctl) 2>/dev/null"
printf '{"identity:get_auth_catalog": "role:admin"}\n' > "$T/old.json"
sed -i "s|^key_repository = |policy_file = $T/old.json\nkey_repository = |" "$T/controller.conf"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"
[ "$(code "$URL/v3/auth/catalog" "$ALICE")" = 403 ] || fail "[identity] policy_file is not read"
grep -q "\[identity\] policy_file is deprecated" "$T/ctl.log" || fail "no deprecation warning"
ok "[identity] policy_file still works, with a deprecation warning"
echo "policy_file: $NPASS checks passed"
