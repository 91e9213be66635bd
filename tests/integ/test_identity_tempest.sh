#!/bin/bash
# Tempest 33's identity classes of the acceptance subset
# (/work/shared/tempest/tempest-subset-classes.txt) against a controller on
# 127.0.0.1 with dynamic credentials. Every test must pass or self-skip.
# The controller runs with Keystone's [security_compliance] lockout and
# password history, and tempest's [identity] is told the same values, so
# the four security-compliance tests run (and must pass). Bounded: tempest
# gets 300 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tempest_lib.sh"
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
# Tempest's defaults for its [identity] user_lockout_failure_attempts,
# user_lockout_duration and user_unique_last_password_count; the two
# configs must agree (given to both below). No minimum age, regex or
# first-use change: tempest changes passwords back to back and logs in
# with the ones an administrator set.
LOCKOUT=2 LOCKOUT_S=5 UNIQUE=2
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[security_compliance]" "lockout_failure_attempts = $LOCKOUT" \
	"lockout_duration = $LOCKOUT_S" "unique_last_password_count = $UNIQUE"
identity_bootstrap "$PW"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "http://127.0.0.1:$IDP/v3"

tempest_setup "$IDP" "$PW" "$CLASSES" <<C
[service_available]
nova = false
glance = false
cinder = false
neutron = false
swift = false
horizon = false
[identity]
user_lockout_failure_attempts = $LOCKOUT
user_lockout_duration = $LOCKOUT_S
user_unique_last_password_count = $UNIQUE
[identity-feature-enabled]
security_compliance = true
C

tempest_run 300
tempest_no_failure "identity subset"
npass=$(tempest_count ok)
nskip=$(tempest_count SKIPPED)
tempest_skips
# The four that need security compliance ran and passed.
for t in v3.test_users.IdentityV3UsersTest.test_user_update_own_password \
	v3.test_users.IdentityV3UsersTest.test_password_history_check_self_service_api \
	v3.test_users.IdentityV3UsersTest.test_user_account_lockout \
	admin.v3.test_users.UsersV3TestJSON.test_password_history_not_enforced_in_admin_reset; do
	grep -F "tempest.api.identity.$t" "$T/results.txt" | grep -q '\.\.\. ok' ||
		{ cat "$T/results.txt"; fail "tempest: $t did not pass"; }
done
[ "$npass" -ge 48 ] || { cat "$T/results.txt"; fail "tempest: only $npass tests passed"; }
ok "tempest identity subset with security compliance: $npass passed, $nskip skipped, 0 failed"
echo "$NPASS passed, 0 failed"
