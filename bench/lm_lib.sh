# shellcheck shell=bash
# lm_lib.sh - what bench/livemig_bench.sh and bench/drain_bench.sh share
# (sourced): the compute API with curl, the clock and percentiles, the
# two hosts and their credentials, and the tiny guest booted on HOST_A.
#
# Either the caller gives the set-up in the environment
# (tests/integ/test_guest_net.sh does: HOST_A, HOST_B, URI_A, URI_B,
# COMPUTE, TOKEN, and IMAGE, NET, FLAVOR for lm_boot), or lm_env takes it
# from the all-in-one in namespace mode (`TS_NETNS=1 TS_HOSTS=2
# ./stack.sh`): ~/keystonerc_admin, image tinystack-guest, network
# private, flavor m1.nano, the fake hosts' libvirtds.
# Knobs: HOST_A (ts-h1), HOST_B (ts-h2), BOUND (120 s for one migration).
export LC_ALL=C
BOUND=${BOUND:-120}
HOST_A=${HOST_A:-ts-h1}
HOST_B=${HOST_B:-ts-h2}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

now_ms() { date +%s%3N; }
# pct P FILE: the P-th percentile (nearest rank) of FILE's numbers.
pct() {
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END {
		i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'
}
# api METHOD PATH [BODY]: the compute API as the admin (fails on >= 400).
api() {
	curl -sf -X "$1" -H "X-Auth-Token: $TOKEN" -H "Content-Type: application/json" \
	    ${OS_CACERT:+--cacert "$OS_CACERT"} ${3:+-d "$3"} "$COMPUTE$2"
}

# lm_env: the all-in-one's set-up, where the caller gave none.
lm_env() {
	[ -n "${COMPUTE:-}" ] && [ -n "${TOKEN:-}" ] && return 0
	# shellcheck disable=SC1090,SC1091
	. "$HOME/keystonerc_admin"
	# (novaclient's session verifies with requests' bundle, not OS_CACERT)
	[ -n "${OS_CACERT:-}" ] && export REQUESTS_CA_BUNDLE=$OS_CACERT
	TOKEN=$(openstack token issue -f value -c id)
	COMPUTE=$(openstack endpoint list --service compute --interface public -f value -c URL | head -1)
	COMPUTE=${COMPUTE%/}
	# shellcheck disable=SC2034  # (the sourcing script's)
	URI_A=$("$HERE/packaging/fakehost.sh" uri "/var/lib/tinystack/netns/$HOST_A")
	# shellcheck disable=SC2034
	URI_B=$("$HERE/packaging/fakehost.sh" uri "/var/lib/tinystack/netns/$HOST_B")
	IMAGE=$(openstack image show tinystack-guest -f value -c id)
	NET=$(openstack network show private -f value -c id)
	FLAVOR=$(openstack flavor show m1.nano -f value -c id)
}

# lm_boot NAME: creates the tiny guest NAME on HOST_A; prints its id.
lm_boot() {
	api POST /servers "{\"server\": {\"name\": \"$1\", \"imageRef\": \"$IMAGE\",
	    \"flavorRef\": \"$FLAVOR\", \"networks\": [{\"uuid\": \"$NET\"}],
	    \"availability_zone\": \"nova:$HOST_A\"}}" | jq -r .server.id
}

# lm_where ID: "STATUS HOST TASK" of server ID.
lm_where() {
	api GET "/servers/$1" | jq -r '.server | "\(.status) \(.["OS-EXT-SRV-ATTR:host"]) \(.["OS-EXT-STS:task_state"])"'
}

# lm_wait SECS ID WANT: polls (every 0.2 s, at most SECS) until
# lm_where ID is WANT; false if it never was.
lm_wait() {
	local end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt $end ]; do
		[ "$(lm_where "$2")" = "$3" ] && return 0
		sleep 0.2
	done
	return 1
}

# lm_downtime URI ID: libvirt's "Total downtime" (ms) of the guest's last
# completed job on URI (its migration, on the target), or nothing.
lm_downtime() {
	{ virsh -c "$1" domjobinfo --completed "instance-$2" 2>/dev/null || true; } |
	    sed -n 's/^Total downtime: *\([0-9]*\) *ms.*/\1/p'
}
