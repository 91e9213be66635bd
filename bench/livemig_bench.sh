#!/bin/bash
# livemig_bench.sh - live migration of the tiny guest between two hosts:
# RUNS times (10), back and forth, os-migrateLive (the body of 2.1) and
# time until the server is ACTIVE on the other host without a task
# ("total", as a user sees it: the target's preparation, libvirt's
# peer-to-peer migration with the disk copied, the controller's
# bookkeeping), and the guest's downtime as libvirt measured it (the
# completed job's "Total downtime" on the target, `virsh domjobinfo
# --completed`). Prints p50/p99 of both; the anchor is a total under 3 s
# and a downtime under 300 ms. Also per run, without the client's polling:
# "api", the controller's own figure (the live-migration action's event,
# start at the POST's commit, finish at the commit of its end), and what
# libvirt says of its part (the completed job on the target: time
# elapsed, setup, memory and disk copied, iterations).
#
# Against the all-in-one in namespace mode with two hosts
# (`TS_NETNS=1 TS_HOSTS=2 ./stack.sh`): boots m1.nano from tinystack-guest
# on the "private" network on HOST_A, deleted at the end. Or on a server
# and set-up given by the caller (tests/integ/test_guest_net.sh with
# TS_LM_BENCH=N runs it so on its gnvm4): SERVER, HOST_A (where it is),
# HOST_B, URI_A, URI_B (each host's libvirt), COMPUTE (the compute API's
# URL) and TOKEN (an admin token) in the environment.
#
# The set-up (the all-in-one's, or the caller's) and the helpers are
# bench/lm_lib.sh's, shared with bench/drain_bench.sh.
#
# Usage: bench/livemig_bench.sh     Knobs: RUNS (10), HOST_A (ts-h1),
#        HOST_B (ts-h2), BOUND (120 s for one migration), LOGDIR (the
#        controller's and agents' logs: per-run phases, bench/lm_phases.py)
set -euo pipefail
# shellcheck source=bench/lm_lib.sh
. "$(dirname "$0")/lm_lib.sh"
RUNS=${RUNS:-10}
W=$(mktemp -d /tmp/livemig-bench.XXXXXX)
MADE=

cleanup() {
	[ -n "$MADE" ] && api DELETE "/servers/$MADE" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT

if [ -z "${SERVER:-}" ]; then
	lm_env
	MADE=$(lm_boot lmbench)
	SERVER=$MADE
	lm_wait "$BOUND" "$SERVER" "ACTIVE $HOST_A null" || true
fi
# ms: an API time stamp (2026-12-06T18:00:00.123000, UTC) in epoch ms.
ms() { date -u -d "$1" +%s%3N; }
# api_ms: the last live migration's event, finish - start (ms).
api_ms() {
	local rid se
	rid=$(api GET "/servers/$SERVER/os-instance-actions" |
	    jq -r '[.instanceActions[] | select(.action == "live-migration")] | sort_by(.start_time) | last | .request_id')
	se=$(api GET "/servers/$SERVER/os-instance-actions/$rid" |
	    jq -r '.instanceAction.events[0] | "\(.start_time) \(.finish_time)"')
	echo $(($(ms "${se#* }") - $(ms "${se% *}")))
}
# job: what libvirt says of the completed migration (target's domjobinfo).
job() {
	awk -F': *' 'function t(x) { gsub(/ +/, " ", x); return x }
	    /^Time elapsed:/ && !e { e = $2 } /^Setup time:/ { s = $2 }
	    /^Memory processed:/ { m = $2 } /^File processed:/ { f = $2 }
	    /^Iteration:/ { i = $2 }
	    END { printf "libvirt: elapsed %s, setup %s, memory %s, disk %s, iterations %s",
	        t(e), t(s), t(m), f ? t(f) : "-", i }' "$1"
}
where() { lm_where "$SERVER"; }
[ "$(where)" = "ACTIVE $HOST_A null" ] || { echo "server $SERVER is not ACTIVE on $HOST_A: $(where)" >&2; exit 1; }

from=$HOST_A to=$HOST_B uri=$URI_B
for r in $(seq 1 "$RUNS"); do
	t0=$(now_ms)
	api POST "/servers/$SERVER/action" \
	    "{\"os-migrateLive\": {\"host\": \"$to\", \"block_migration\": false, \"disk_over_commit\": false}}" >/dev/null
	ok=0
	for _ in $(seq 1 $((BOUND * 20))); do
		if [ "$(where)" = "ACTIVE $to null" ]; then ok=1; break; fi
		sleep 0.05
	done
	t1=$(now_ms)
	[ $ok = 1 ] || { echo "run $r: not ACTIVE on $to within $BOUND s: $(where)" >&2; exit 1; }
	echo $((t1 - t0)) >> "$W/total"
	virsh -c "$uri" domjobinfo --completed "instance-$SERVER" > "$W/job" 2>&1 || true
	down=$(sed -n 's/^Total downtime: *\([0-9]*\) *ms.*/\1/p' "$W/job")
	echo "${down:-0}" >> "$W/down"
	a=$(api_ms 2>/dev/null) || a=0
	echo "$a" >> "$W/api"
	echo "run $r: $from -> $to total $((t1 - t0)) ms (api $a ms), downtime ${down:-?} ms; $(job "$W/job")"
	# SETTLE=1: the next run starts once this run's source has let go of
	# the guest (libvirt's Confirm there, its agent's clean-up: after the
	# move ends, since the move ends on the target's resume), outside
	# both runs' times, as Rally's runs each start from a settled server.
	# SETTLE=0 measures back to back: a run then includes the previous
	# run's tail on its source (the prepare waits for that host's job).
	if [ "${SETTLE:-0}" = 1 ]; then
		src_uri=$([ "$to" = "$HOST_B" ] && echo "$URI_A" || echo "$URI_B")
		for _ in $(seq 1 $((BOUND * 20))); do
			virsh -c "$src_uri" domstate "instance-$SERVER" >/dev/null 2>&1 || break
			sleep 0.05
		done
	fi
	if [ "$to" = "$HOST_B" ]; then from=$HOST_B to=$HOST_A uri=$URI_A
	else from=$HOST_A to=$HOST_B uri=$URI_B; fi
done
# Per run, where the time went (bench/lm_phases.py), when the caller
# gives the directory of the controller's and agents' logs (LOGDIR).
if [ -n "${LOGDIR:-}" ]; then
	/usr/bin/python3 "$HERE/bench/lm_phases.py" "$LOGDIR" "$SERVER" | tail -n "$RUNS" || true
fi
echo "live migration of $SERVER, $RUNS runs: total p50 $(pct 50 "$W/total") ms p99 $(pct 99 "$W/total") ms; downtime p50 $(pct 50 "$W/down") ms p99 $(pct 99 "$W/down") ms; api p50 $(pct 50 "$W/api") ms p99 $(pct 99 "$W/api") ms"
