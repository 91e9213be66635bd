#!/bin/bash
# guest_ping_bench.sh - server create -> a pingable guest, against the
# all-in-one in namespace mode (`TS_NETNS=1 ./stack.sh`): RUNS times, one
# after the other, POST /servers (m1.nano, tinystack-guest, the "private"
# network) and time until the server is ACTIVE and until its fixed IP
# answers a ping sent from inside the hypervisor's namespace (ts-h1: the
# guest has to have booted, run udhcpc and got its lease from the agent's
# dnsmasq). Each server is deleted before the next. Prints p50/p99.
#
# Usage: bench/guest_ping_bench.sh        Knobs: RUNS (10), NS (ts-h1)
# Needs: ~/keystonerc_admin from stack.sh, curl, jq, ping.
set -euo pipefail
export LC_ALL=C
RUNS=${RUNS:-10}
NS=${NS:-ts-h1}
W=$(mktemp -d /tmp/guest-ping-bench.XXXXXX)
ID=
# shellcheck disable=SC1090
. "$HOME/keystonerc_admin"

cleanup() {
	[ -n "$ID" ] && api DELETE "/servers/$ID" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
pct() {
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END {
		i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'
}

TOKEN=$(openstack token issue -f value -c id)
COMPUTE=$(openstack endpoint list --service compute --interface public -f value -c URL | head -1)
COMPUTE=${COMPUTE%/}
IMAGE=$(openstack image show tinystack-guest -f value -c id)
NET=$(openstack network show private -f value -c id)
api() {
	curl -sf -X "$1" -H "X-Auth-Token: $TOKEN" -H "Content-Type: application/json" \
	    ${3:+-d "$3"} "$COMPUTE$2"
}
ip netns list | grep -q "^$NS\b" || { echo "no namespace $NS: run TS_NETNS=1 ./stack.sh" >&2; exit 1; }

: > "$W/active"; : > "$W/ping"
for i in $(seq 1 "$RUNS"); do
	t0=$(now_ms)
	ID=$(api POST /servers "{\"server\":{\"name\":\"pingbench-$i\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"0\",\"networks\":[{\"uuid\":\"$NET\"}]}}" |
	    jq -r .server.id)
	ACTIVE=; IP=
	# Bounded: 120 s at 50 ms per poll.
	for _ in $(seq 1 2400); do
		read -r st ip < <(api GET "/servers/$ID" |
		    jq -r '.server.status + " " + ([.server.addresses[][]?.addr] | first // "")')
		[ "$st" = ERROR ] && { echo "server $ID went to ERROR" >&2; exit 1; }
		if [ -z "$ACTIVE" ] && [ "$st" = ACTIVE ]; then ACTIVE=$(now_ms); fi
		IP=$ip
		if [ -n "$ACTIVE" ] && [ -n "$IP" ] &&
		    ip netns exec "$NS" ping -c 1 -W 0.2 "$IP" >/dev/null 2>&1; then
			break
		fi
		sleep 0.05
	done
	t2=$(now_ms)
	ip netns exec "$NS" ping -c 1 -W 1 "$IP" >/dev/null 2>&1 || { echo "run $i: $IP never answered" >&2; exit 1; }
	echo $((ACTIVE - t0)) >> "$W/active"
	echo $((t2 - t0)) >> "$W/ping"
	printf 'run %d: ACTIVE %d ms, pingable %d ms (%s)\n' "$i" $((ACTIVE - t0)) $((t2 - t0)) "$IP"
	api DELETE "/servers/$ID" >/dev/null
	for _ in $(seq 1 600); do
		api GET "/servers/$ID" >/dev/null 2>&1 || break
		sleep 0.1
	done
	ID=
done
printf '%-26s %8s %8s\n' "server create ->" p50_ms p99_ms
printf '%-26s %8s %8s\n' ACTIVE "$(pct 50 "$W/active")" "$(pct 99 "$W/active")"
printf '%-26s %8s %8s\n' "pingable from $NS" "$(pct 50 "$W/ping")" "$(pct 99 "$W/ping")"
