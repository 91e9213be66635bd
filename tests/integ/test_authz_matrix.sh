#!/bin/bash
# The authorization matrix (authz_matrix.py): every route of identity,
# image, network, compute, volume and the dashboard, generated from the route tables, x
# {no token, expired, revoked, user deleted / disabled / role removed since
# issue, another project's member, reader, member, project admin, system
# admin}, each status checked against the rule the policy engine evaluates
# for that persona. Tokens live 60 s here so that one can expire during the
# run.
. "$(dirname "$0")/lib.sh"

BUS=$(free_port)
IDP=$(free_port)
CP=$(free_port)
IMP=$(free_port)
NP=$(free_port)
VP=$(free_port)
DP=$(free_port)
api_lines "$IDP"
API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
API_LINES=("${API_LINES[@]/image_port = */image_port = $IMP}")
API_LINES=("${API_LINES[@]/network_port = */network_port = $NP}")
API_LINES=("${API_LINES[@]/volume_port = */volume_port = $VP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"token_expiration = 60" "[dashboard]" "enabled = true" "port = $DP"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "http://127.0.0.1:$IDP/v3"
wait_http 15 "http://127.0.0.1:$CP/"
wait_http 15 "http://127.0.0.1:$IMP/"
wait_http 15 "http://127.0.0.1:$NP/"
wait_http 15 "http://127.0.0.1:$VP/"
wait_http 15 "http://127.0.0.1:$DP/dashboard/"

python3 "$TS_SOURCE_DIR/tests/integ/authz_matrix.py" "$MANAGE_BIN" \
	"$T/controller.conf" "$IDP" "$IMP" "$CP" admin-pw 60 "$NP" "$VP" "$DP" | tee "$T/matrix.txt" ||
	fail "authorization matrix: $(grep -c ^MISMATCH "$T/matrix.txt") mismatch(es)"
ok "$(tail -1 "$T/matrix.txt")"
