#!/bin/bash
# Tempest 33's identity classes of the acceptance subset
# (/work/shared/tempest/tempest-subset-classes.txt) against a controller on
# 127.0.0.1 with dynamic credentials. Every test must pass or self-skip
# (the four security-compliance tests do, as configured). Bounded: tempest
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
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
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
C

tempest_run 300
tempest_no_failure "identity subset"
npass=$(tempest_count ok)
nskip=$(tempest_count SKIPPED)
tempest_skips
[ "$npass" -ge 40 ] || { cat "$T/results.txt"; fail "tempest: only $npass tests passed"; }
ok "tempest identity subset: $npass passed, $nskip skipped (security compliance), 0 failed"
echo "$NPASS passed, 0 failed"
