# Tempest workspace for the tempest tests (sourced after lib.sh). The
# workspace is made by hand in $T/tempest, not by `tempest init`, which
# would register it in ~/.tempest and outlive the test.

TEMPEST_DIR=$T/tempest

# tempest_setup IDENTITY_PORT ADMIN_PASSWORD CLASSES < SECTIONS: the
# workspace, with a tempest.conf whose identity part (admin of the
# bootstrap, dynamic credentials, Keystone v3 on 127.0.0.1:IDENTITY_PORT)
# every test shares and whose service sections the test gives on stdin;
# CLASSES (whitespace-separated test classes) become the include list.
# TEMPEST_ISOLATED_NETWORKS=true has tempest give each project it creates
# a network, subnet and router (create_isolated_networks).
tempest_setup() {
	local idp=$1 pw=$2 classes=$3 c
	mkdir -p "$TEMPEST_DIR/etc" "$TEMPEST_DIR/logs" "$TEMPEST_DIR/lock"
	cat > "$TEMPEST_DIR/.stestr.conf" <<C
[DEFAULT]
test_path=/usr/lib/python3/dist-packages/tempest/test_discover
top_dir=/usr/lib/python3/dist-packages/tempest
group_regex=([^\.]*\.)*
C
	{
		cat <<C
[DEFAULT]
log_file = tempest.log
log_dir = $TEMPEST_DIR/logs
[oslo_concurrency]
lock_path = $TEMPEST_DIR/lock
[auth]
admin_username = admin
admin_password = $pw
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = true
create_isolated_networks = ${TEMPEST_ISOLATED_NETWORKS:-false}
tempest_roles = member
[identity]
uri_v3 = http://127.0.0.1:$idp/v3
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
C
		cat
		# Validation logs in to guests over a network; no test here has one.
		printf '%s\n' "[validation]" "run_validation = false"
	} > "$TEMPEST_DIR/etc/tempest.conf"
	for c in $classes; do echo "^${c//./\\.}\\."; done \
		> "$TEMPEST_DIR/include.rx"
}

# tempest_run SECONDS [tempest run options...]: the include list, bounded;
# serially unless TEMPEST_WORKERS says how many workers share the controller
# (tempest's own waits, such as its 10 s sleep before every subnet delete,
# dominate a serial run; classes run in parallel with dynamic credentials); the output goes to
# $T/tempest.out, one line a test to $T/results.txt; TEMPEST_RC is
# tempest's exit status. Leaves the shell in the workspace.
tempest_run() {
	local secs=$1
	shift
	cd "$TEMPEST_DIR"
	TEMPEST_RC=0
	local par=(--serial)
	[ "${TEMPEST_WORKERS:-1}" -gt 1 ] && par=(--concurrency "$TEMPEST_WORKERS")
	timeout "$secs" tempest run "${par[@]}" --include-list include.rx "$@" \
		> "$T/tempest.out" 2>&1 || TEMPEST_RC=$?
	grep -E '\.\.\. (ok|FAILED|SKIPPED)' "$T/tempest.out" |
		sed 's/^{[0-9]*} //' > "$T/results.txt" || true
}

# tempest_skips: each skipped test with tempest's reason (a feature the
# run's tempest.conf says tinystack does not offer yet).
tempest_skips() { grep '\.\.\. SKIPPED' "$T/results.txt" | sed 's/^/# skipped: /' || true; }

# tempest_count ok|FAILED|SKIPPED: how many tests of the run ended so.
tempest_count() { grep -c "\.\.\. $1" "$T/results.txt" || true; }

# tempest_no_failure WHAT: fails the test, with tempest's errors, when
# tempest exited non-zero or any test failed; WHAT names the run.
tempest_no_failure() {
	local nfail
	if [ $TEMPEST_RC -ne 0 ]; then
		grep -E 'FAILED|Error|Traceback' "$T/tempest.out" | head -40
		tail -20 "$T/tempest.out"
		fail "tempest $1: exit status $TEMPEST_RC"
	fi
	nfail=$(tempest_count FAILED)
	[ "$nfail" = 0 ] || fail "tempest: $nfail failed"
}
