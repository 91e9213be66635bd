#!/bin/bash
# Tempest 33's identity classes of the acceptance subset
# (/work/shared/tempest/tempest-subset-classes.txt) against a controller on
# 127.0.0.1 with dynamic credentials. Every test must pass or self-skip
# (the four security-compliance tests do, as configured). The workspace is
# made by hand in $T (no `tempest init`, which would register it in
# ~/.tempest). Bounded: tempest gets 300 s.
. "$(dirname "$0")/lib.sh"
command -v tempest >/dev/null || fail "tempest is not installed"

CLASSES="
tempest.api.identity.v3.test_tokens.TokensV3Test
tempest.api.identity.v3.test_api_discovery.TestApiDiscovery
tempest.api.identity.v3.test_catalog.IdentityCatalogTest
tempest.api.identity.v3.test_projects.IdentityV3ProjectsTest
tempest.api.identity.v3.test_users.IdentityV3UsersTest
tempest.api.identity.v3.test_domains.DefaultDomainTestJSON
tempest.api.identity.admin.v3.test_projects.ProjectsTestJSON
tempest.api.identity.admin.v3.test_users.UsersV3TestJSON
tempest.api.identity.admin.v3.test_roles.RolesV3TestJSON
tempest.api.identity.admin.v3.test_tokens.TokensV3TestJSON
"

BUS=$(free_port)
IDP=$(free_port)
PW=tempest-admin-pw
api_lines "$IDP"
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap "$PW"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "http://127.0.0.1:$IDP/v3"

W=$T/tempest
mkdir -p "$W/etc" "$W/logs" "$W/lock"
cat > "$W/.stestr.conf" <<C
[DEFAULT]
test_path=/usr/lib/python3/dist-packages/tempest/test_discover
top_dir=/usr/lib/python3/dist-packages/tempest
group_regex=([^\.]*\.)*
C
cat > "$W/etc/tempest.conf" <<C
[DEFAULT]
log_file = tempest.log
log_dir = $W/logs
[oslo_concurrency]
lock_path = $W/lock
[auth]
admin_username = admin
admin_password = $PW
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = true
create_isolated_networks = false
tempest_roles = member
[identity]
uri_v3 = http://127.0.0.1:$IDP/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public
[identity-feature-enabled]
api_v2 = false
api_v3 = true
trust = false
application_credentials = false
access_rules = false
project_tags = false
security_compliance = false
[service_available]
nova = false
glance = false
cinder = false
neutron = false
swift = false
horizon = false
[validation]
run_validation = false
C
for c in $CLASSES; do echo "^${c//./\\.}\\."; done > "$W/include.rx"

cd "$W"
rc=0
timeout 300 tempest run --serial --include-list include.rx \
	> "$T/tempest.out" 2>&1 || rc=$?
grep -E '\.\.\. (ok|FAILED|SKIPPED)' "$T/tempest.out" | sed 's/^{0} //' > "$T/results.txt" || true
if [ $rc -ne 0 ]; then
	grep -E 'FAILED|Error|Traceback' "$T/tempest.out" | head -40
	tail -20 "$T/tempest.out"
	fail "tempest identity subset: exit status $rc"
fi
npass=$(grep -c '\.\.\. ok' "$T/results.txt" || true)
nfail=$(grep -c '\.\.\. FAILED' "$T/results.txt" || true)
nskip=$(grep -c '\.\.\. SKIPPED' "$T/results.txt" || true)
[ "$nfail" = 0 ] || fail "tempest: $nfail failed"
[ "$npass" -ge 40 ] || { cat "$T/results.txt"; fail "tempest: only $npass tests passed"; }
ok "tempest identity subset: $npass passed, $nskip skipped (security compliance), 0 failed"
echo "$NPASS passed, 0 failed"
