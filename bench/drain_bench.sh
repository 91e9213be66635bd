#!/bin/bash
# drain_bench.sh - drain time of a host with N (10) tiny TCG guests, as
# an operator drains it: N guests booted on HOST_A (bench/lm_lib.sh's
# tiny guest and flavor, 256 MB in the guest test), then the seed's drain,
# tests/integ/drain_host.py, unchanged, with the installed novaclient
# (hypervisors.search(HOST_A, servers=True), servers.live_migrate() of
# each with no host named, polled once a second until each is ACTIVE on
# another host without a task). Reports:
#  - the drain's total time (drain_host.py's start to its exit, every
#    server moved);
#  - per guest, drain_host.py's figure (its live_migrate() call to the
#    poll that saw the server moved: queueing behind the others, the
#    agent's 4 compute workers, included; 0.1 s resolution, 1 s polls),
#    p50 and max; libvirt's downtime of each (the completed job's "Total
#    downtime" on HOST_B), p50 and max;
# and checks (exit 1 if not): every guest ACTIVE on HOST_B without a task
# and running in HOST_B's libvirtd, its console ticking on with the boot
# id it had on HOST_A and no new boot; HOST_A with no server
# (os-hypervisors running_vms 0) and no domain in its libvirtd.
#
# Memory: N guests run at once, up to 4 of them in flight on both hosts:
# (N + 4) x (flavor RAM + 128 MiB of qemu) + 512 MiB must be available
# (MemAvailable), else it stops before booting any. Quota: the project's
# instances and cores are raised for the N guests where needed and put
# back on exit. On exit the guests are deleted, and waited for (the API
# and both libvirtds without them), so what runs next sees the hosts as
# they were.
#
# Against the all-in-one in namespace mode with two hosts
# (`TS_NETNS=1 TS_HOSTS=2 ./stack.sh`, lm_lib.sh's lm_env), or in the set-up
# of tests/integ/test_guest_net.sh, which runs it with TS_DRAIN_BENCH=N
# after its own drain of h2 (h2 empty; HOST_A=h2, HOST_B=h1, the test's
# image, network gnnet1, flavor m1.gn and its openrc for drain_host.py).
#
# Usage: bench/drain_bench.sh    Knobs: N (10), HOST_A (ts-h1), HOST_B
#        (ts-h2), BOOT_BOUND (600 s for the N boots), DRAIN_BOUND (600 s,
#        drain_host.py's timeout)
set -euo pipefail
# shellcheck source=bench/lm_lib.sh
. "$(dirname "$0")/lm_lib.sh"
N=${N:-10}
BOOT_BOUND=${BOOT_BOUND:-600}
DRAIN_BOUND=${DRAIN_BOUND:-600}
W=$(mktemp -d /tmp/drain-bench.XXXXXX)
MADE=()
QUOTA0=
PROJECT=

die() { echo "drain_bench.sh: $*" >&2; exit 1; }
# gone ID: the server is deleted and neither libvirtd has its domain.
gone() {
	! api GET "/servers/$1" >/dev/null 2>&1 &&
	    ! virsh -c "$URI_A" list --all --name 2>/dev/null | grep -qx "instance-$1" &&
	    ! virsh -c "$URI_B" list --all --name 2>/dev/null | grep -qx "instance-$1"
}
cleanup() {
	local rc=$? id end
	for id in "${MADE[@]}"; do api DELETE "/servers/$id" >/dev/null 2>&1 || true; done
	end=$(($(date +%s) + 300))
	for id in "${MADE[@]}"; do
		until gone "$id"; do
			[ "$(date +%s)" -lt $end ] || { echo "drain_bench.sh: $id not gone in 300 s" >&2; rc=1; break; }
			sleep 0.5
		done
	done
	if [ -n "$QUOTA0" ]; then
		api PUT "/os-quota-sets/$PROJECT" "$QUOTA0" >/dev/null 2>&1 ||
			{ echo "drain_bench.sh: could not put project $PROJECT's quota back: $QUOTA0" >&2; rc=1; }
	fi
	rm -rf "$W"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

lm_env
[ -n "${OS_AUTH_URL:-}" ] || die "no OS_* credentials in the environment (drain_host.py needs them)"

# ---- room: memory and quota ---------------------------------------------------
RAM=$(api GET "/flavors/$FLAVOR" | jq -r .flavor.ram)
VCPUS=$(api GET "/flavors/$FLAVOR" | jq -r .flavor.vcpus)
NEED=$(((N + 4) * (RAM + 128) + 512))
AVAIL=$(($(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))
[ "$AVAIL" -ge "$NEED" ] ||
	die "$N guests of $RAM MiB need about $NEED MiB, $AVAIL MiB available"
echo "memory: $AVAIL MiB available, about $NEED MiB needed ($N x $RAM MiB guests)"
PROJECT=$(openstack token issue -f value -c project_id)
Q=$(api GET "/os-quota-sets/$PROJECT/detail")
qi=$(echo "$Q" | jq -r --argjson n "$N" '.quota_set.instances |
	if .limit >= 0 and .in_use + $n > .limit then .in_use + $n else empty end')
qc=$(echo "$Q" | jq -r --argjson n $((N * VCPUS)) '.quota_set.cores |
	if .limit >= 0 and .in_use + $n > .limit then .in_use + $n else empty end')
if [ -n "$qi$qc" ]; then
	QUOTA0=$(echo "$Q" | jq -c '{quota_set: {instances: .quota_set.instances.limit, cores: .quota_set.cores.limit}}')
	api PUT "/os-quota-sets/$PROJECT" "$(jq -nc --arg i "$qi" --arg c "$qc" \
	    '{quota_set: ({} + (if $i != "" then {instances: ($i | tonumber)} else {} end)
		+ (if $c != "" then {cores: ($c | tonumber)} else {} end))}')" >/dev/null ||
		die "raising the quota of project $PROJECT"
	echo "quota of $PROJECT raised for the bench (put back on exit): instances ${qi:-as is}, cores ${qc:-as is}"
fi

# ---- N guests on HOST_A ---------------------------------------------------------
console() {
	api POST "/servers/$1/action" '{"os-getConsoleOutput": {"length": null}}' | jq -r '.output // ""'
}
# tick ID: "N BOOTID" of the guest's last tick on its console.
tick() {
	console "$1" | sed -n 's/^TINYSTACK-GUEST-TICK n=\([0-9]*\) bootid=\([^ ]*\).*/\1 \2/p' | tail -n 1
}
t0=$(now_ms)
for i in $(seq 1 "$N"); do
	id=$(lm_boot "drainbench-$i") || die "server create drainbench-$i"
	case "$id" in ''|null) die "server create drainbench-$i: no id" ;; esac
	MADE+=("$id")
done
end=$(($(date +%s) + BOOT_BOUND))
for id in "${MADE[@]}"; do
	lm_wait $((end - $(date +%s))) "$id" "ACTIVE $HOST_A null" ||
		die "$id not ACTIVE on $HOST_A in $BOOT_BOUND s: $(lm_where "$id")"
done
t1=$(now_ms)
declare -A BOOT TICK
for id in "${MADE[@]}"; do
	until t=$(tick "$id") && [ -n "$t" ]; do
		[ "$(date +%s)" -lt $end ] || die "$id: no tick on its console in $BOOT_BOUND s"
		sleep 1
	done
	BOOT[$id]=${t#* }
done
t2=$(now_ms)
echo "boot: $N guests ACTIVE on $HOST_A in $(((t1 - t0) / 1000)) s, all ticking in $(((t2 - t0) / 1000)) s"

# ---- the drain -------------------------------------------------------------------
for id in "${MADE[@]}"; do
	t=$(tick "$id")
	[ "${t#* }" = "${BOOT[$id]}" ] || die "$id booted again on $HOST_A before the drain"
	TICK[$id]=${t%% *}
done
t0=$(now_ms)
/usr/bin/python3 "$HERE/tests/integ/drain_host.py" "$HOST_A" "$DRAIN_BOUND" \
    > "$W/drain.txt" 2> "$W/drain.err" ||
	{ cat "$W/drain.txt" "$W/drain.err" >&2; die "drain_host.py $HOST_A"; }
t1=$(now_ms)
TOTAL=$((t1 - t0))
MOVED=$(wc -l < "$W/drain.txt")

# ---- where everything is now ---------------------------------------------------
# ticks_on ID: the console (HOST_B's) ticks past the last tick seen on
# HOST_A, of the same boot, and shows no other boot.
ticks_on() {
	local c t
	c=$(console "$1")
	t=$(echo "$c" | sed -n 's/^TINYSTACK-GUEST-TICK n=\([0-9]*\) bootid=\([^ ]*\).*/\1 \2/p' | tail -n 1)
	[ -n "$t" ] && [ "${t#* }" = "${BOOT[$1]}" ] && [ "${t%% *}" -gt "${TICK[$1]}" ] || return 1
	! echo "$c" | grep '^TINYSTACK-GUEST-UP ' | grep -qv "bootid=${BOOT[$1]} "
}
for id in "${MADE[@]}"; do
	grep -q "^$id $HOST_A $HOST_B " "$W/drain.txt" ||
		die "drain_host.py did not report $id moved to $HOST_B: $(grep "^$id " "$W/drain.txt" || echo none)"
	[ "$(lm_where "$id")" = "ACTIVE $HOST_B null" ] || die "$id after the drain: $(lm_where "$id")"
	[ "$(virsh -c "$URI_B" domstate "instance-$id" | head -n 1)" = running ] ||
		die "$id is not running in $HOST_B's libvirtd"
	end=$(($(date +%s) + 60))
	until ticks_on "$id"; do
		[ "$(date +%s)" -lt $end ] ||
			die "$id: its console on $HOST_B does not tick on with boot ${BOOT[$id]} past ${TICK[$id]}: $(tick "$id")"
		sleep 0.5
	done
	awk -v id="$id" '$1 == id { print $4 }' "$W/drain.txt" >> "$W/per"
	d=$(lm_downtime "$URI_B" "$id")
	[ -n "$d" ] && echo "$d" >> "$W/down"
	echo "guest $id: $HOST_A -> $HOST_B in $(awk -v id="$id" '$1 == id { print $4 }' "$W/drain.txt") s, downtime ${d:-?} ms, boot ${BOOT[$id]} ticking on"
done
[ -z "$(virsh -c "$URI_A" list --all --name)" ] ||
	die "$HOST_A still has domains: $(virsh -c "$URI_A" list --all --name | xargs)"
RVMS=$(api GET /os-hypervisors/detail | jq -r --arg h "$HOST_A" \
    '.hypervisors[] | select(.hypervisor_hostname == $h) | .running_vms')
[ "$RVMS" = 0 ] || die "$HOST_A's running_vms after the drain: '$RVMS'"
[ -s "$W/down" ] || echo 0 > "$W/down"
echo "drain of $HOST_A (drain_host.py, $MOVED servers, $N of them this bench's): total $TOTAL ms;" \
    "per guest p50 $(pct 50 "$W/per") s max $(pct 100 "$W/per") s;" \
    "downtime p50 $(pct 50 "$W/down") ms max $(pct 100 "$W/down") ms ($(wc -l < "$W/down") of $N reported)"
echo "after: all $N ACTIVE on $HOST_B and running there, same boot ids, consoles ticking on, no new boot;" \
    "$HOST_A: running_vms 0, no domain"
