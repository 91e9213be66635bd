# Compute helpers for tests/integ/test_compute_*.sh (sourced after lib.sh).

# compute_setup N [extra controller lines...]: a controller (every API on
# 127.0.0.1, compute port in $CP, bus port in $BUS, short compute
# deadlines) and N agents h1..hN on libvirt's test driver, bootstrapped, up
# and registered. The network service is taken out of the catalog
# (KEEP_NETWORK=1 keeps it), so that openstackclient's quota and limits
# commands ask only compute and volume (which the controller serves).
compute_setup() {
	local n=$1 i
	shift
	BUS=$(free_port)
	IDP=$(free_port)
	CP=$(free_port)
	api_lines "$IDP"
	API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
	controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
		"[compute]" "build_timeout = 30" "action_timeout = 20" \
		"resend_interval = 1" "console_timeout = 5" \
		"allow_resize_to_same_host = true" \
		"[scheduler]" "reserved_host_memory_mb = 0" "$@"
	identity_bootstrap admin-pw
	for i in $(seq 1 "$n"); do
		enrol_agent "h$i"
		agent_conf "h$i" "$BUS" test:///default
	done
	# AGENT_CONF_HOOK: a command that adds to the agents' configs.
	[ -z "${AGENT_CONF_HOOK:-}" ] || "$AGENT_CONF_HOOK"
	start ctl "$CTL" "$T/controller.conf"
	for i in $(seq 1 "$n"); do
		start "agent-h$i" "$AGENT" "$T/agent-h$i.conf"
	done
	for i in $(seq 1 "$n"); do
		wait_for 15 "h$i up" is_state "h$i" up
	done
	wait_http 15 "http://127.0.0.1:$CP/"
	(
		local drop=""
		[ -n "${KEEP_NETWORK:-}" ] || drop="network"
		. "$T/openrc"
		for s in $drop; do
			openstack service delete "$s" >/dev/null 2>&1 || true
		done
	)
}

# hv_guests HOST: guests the host's agent last reported (test:///default
# always has its own domain "test", so an idle host reports 1).
hv_guests() {
	manage hypervisor list | awk -F'|' -v h="$1" '
		{ gsub(/ /, "", $2); gsub(/ /, "", $6) } $2 == h { print $6 }'
}

# admin_token: sets TOK and H (curl header args) for the admin of
# $T/openrc, straight from the identity API (no client start-up cost).
admin_token() {
	local idp
	idp=$(sed -n 's|^export OS_AUTH_URL=||p' "$T/openrc")
	TOK=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{
	    "auth": {"identity": {"methods": ["password"], "password": {"user":
	    {"name": "admin", "domain": {"id": "default"}, "password":
	    "admin-pw"}}}, "scope": {"project": {"name": "admin", "domain":
	    {"id": "default"}}}}}' "$idp/auth/tokens" |
	    awk 'tolower($1) == "x-subject-token:" { sub("\r", "", $2); print $2 }')
	[ -n "$TOK" ] || fail "no admin token"
	H=(-H "X-Auth-Token: $TOK")
}

# nv PATH [JQ]: a compute GET as the admin, filtered by jq.
nv() { curl -s "${H[@]}" "http://127.0.0.1:$CP/v2.1$1" | jq -r "${2:-.}"; }

# create_many N PARALLEL FLAVOR IMAGE PREFIX: N concurrent server creates
# named PREFIX1..PREFIXN with curl; the status code of create i goes to
# $T/code-PREFIXi ("000" when the connection failed) and its body to
# $T/body-PREFIXi.
create_many() {
	local n=$1 par=$2 fl=$3 img=$4 pre=$5
	seq 1 "$n" | TOK=$TOK CP=$CP T=$T FL=$fl IMG=$img PRE=$pre \
	    xargs -P "$par" -I{} bash -c '
		curl -s -m 60 -o "$T/body-$PRE$0" -w "%{http_code}" \
		    -H "X-Auth-Token: $TOK" -H "Content-Type: application/json" \
		    -d "{\"server\": {\"name\": \"$PRE$0\", \"flavorRef\": \"$FL\",
		    \"imageRef\": \"$IMG\"}}" \
		    "http://127.0.0.1:$CP/v2.1/servers" > "$T/code-$PRE$0" || true' {}
}

# codes PREFIX: how many creates got each status code ("202 50" lines).
codes() { awk 1 "$T"/code-"$1"* | sort | uniq -c | awk '{ print $2, $1 }'; }

# settled: no server of any project is building or has a task.
settled() {
	[ "$(nv '/servers/detail?all_tenants=1' '[.servers[] | select(.status ==
	    "BUILD" or ."OS-EXT-STS:task_state" != null)] | length')" = 0 ]
}

# check_claims: every host's claims (hypervisor vcpus/memory used) equal
# the sum of the flavors of the servers placed there, and the project
# usage equals the servers it owns; prints what differs.
check_claims() {
	nv '/servers/detail?all_tenants=1' > "$T/servers.json"
	nv '/os-hypervisors/detail' > "$T/hv.json"
	nv '/limits' > "$T/limits.json"
	python3 - "$T/servers.json" "$T/hv.json" "$T/limits.json" <<'PY'
import json, sys
servers = json.load(open(sys.argv[1]))["servers"]
hvs = json.load(open(sys.argv[2]))["hypervisors"]
lim = json.load(open(sys.argv[3]))["limits"]["absolute"]
bad = []
for h in hvs:
    mine = [s for s in servers if s["OS-EXT-SRV-ATTR:host"] == h["hypervisor_hostname"]]
    if h["vcpus_used"] != len(mine) or h["running_vms"] != len(mine):
        bad.append("%s: vcpus_used %d running_vms %d for %d servers" %
                   (h["hypervisor_hostname"], h["vcpus_used"], h["running_vms"], len(mine)))
    if h["memory_mb_used"] != 16 * len(mine):
        bad.append("%s: memory_mb_used %d for %d servers" %
                   (h["hypervisor_hostname"], h["memory_mb_used"], len(mine)))
if lim["totalInstancesUsed"] != len(servers) or lim["totalCoresUsed"] != len(servers):
    bad.append("project usage %d instances %d cores for %d servers" %
               (lim["totalInstancesUsed"], lim["totalCoresUsed"], len(servers)))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
