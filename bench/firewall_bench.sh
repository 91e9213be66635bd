#!/bin/sh
# firewall_bench: security-group rulesets through agent/net/firewall with the
# real nft, in a scratch network namespace (the host's ruleset is never
# touched). Issue 13.
#
#   1. full apply of a big host (default 1,000 ports, 200 groups, 5,000
#      rules): time, bytes sent to nft, peak RSS of nft, `nft list ruleset`
#      size;
#   2. one-port changes (a rule added to a group of one port, a port added,
#      a remote-group member joining, one leaving), REPS times each: bytes per transaction
#      and apply time p50/p99, on the big host and on a 10-port host.
#
# Each configuration runs twice: once through a recording wrapper around nft
# (bytes per transaction, RSS via /usr/bin/time) and once with nft itself
# (the times reported). Needs root, nft, ip; run from the source tree after
# building (build/bench/fwbench).
#
# Usage: bench/firewall_bench.sh [PORTS GROUPS RULES REPS]
set -eu

PORTS=${1:-1000}
GROUPS_N=${2:-200}
RULES=${3:-5000}
REPS=${4:-50}
BIN=${FWBENCH:-build/bench/fwbench}
NS=tsfwb-$$
TMP=$(mktemp -d /tmp/fwbench.XXXXXX)

# KEEP=DIR: the raw times and transaction log of each run kept in DIR.
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

[ -x "$BIN" ] || { echo "firewall_bench: build $BIN first" >&2; exit 2; }
ip netns add "$NS"

# The recording wrapper: the transaction to a file, its size and nft's peak
# RSS appended to the log, then nft on it.
cat >"$TMP/nftrec" <<W
#!/bin/sh
n=\$(ls "$TMP"/tx.* 2>/dev/null | wc -l)
cat >"$TMP/tx.\$n"
/usr/bin/time -f %M -o "$TMP/rss.\$n" nft "\$@" <"$TMP/tx.\$n"
rc=\$?
echo "\$(wc -c <"$TMP/tx.\$n") \$(cat "$TMP/rss.\$n")" >>"$TMP/rec.log"
exit \$rc
W
chmod +x "$TMP/nftrec"

# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE.
pct() {
	sort -g "$1" | awk -v p="$2" '{ a[NR] = $1 } END {
		r = int((p * NR + 99) / 100); if (r < 1) r = 1; print a[r] }'
}

run() {	# run LABEL PORTS GROUPS RULES
	label=$1
	ip netns exec "$NS" nft flush ruleset
	rm -f "$TMP"/tx.* "$TMP"/rss.* "$TMP/rec.log"
	ip netns exec "$NS" "$BIN" --nft "$TMP/nftrec" "$2" "$3" "$4" "$REPS" \
	    >"$TMP/rec.times"
	rs=$(ip netns exec "$NS" nft list ruleset | wc -c)
	ip netns exec "$NS" nft flush ruleset
	ip netns exec "$NS" "$BIN" "$2" "$3" "$4" "$REPS" >"$TMP/times"
	# rec.log line k is transaction k: full, (noop sends nothing), then
	# REPS each of rule, port, member, leave.
	echo "== $label: $2 ports, $3 groups, $4 rules; $REPS reps =="
	echo "ruleset after the run (nft list ruleset): $rs bytes"
	nl=$(wc -l <"$TMP/rec.log")
	echo "nft calls: $nl (expected $((1 + 4 * REPS)): no call for the no-op apply)"
	set -- full rule port member leave
	i=0
	for ph in "$@"; do
		grep "^$ph " "$TMP/times" | cut -d' ' -f2 >"$TMP/t.$ph"
		if [ "$ph" = full ]; then
			sed -n 1p "$TMP/rec.log" >"$TMP/r.$ph"
		else
			sed -n "$((2 + i * REPS)),$((1 + (i + 1) * REPS))p" \
			    "$TMP/rec.log" >"$TMP/r.$ph"
			i=$((i + 1))
		fi
		cut -d' ' -f1 "$TMP/r.$ph" >"$TMP/b.$ph"
		cut -d' ' -f2 "$TMP/r.$ph" >"$TMP/m.$ph"
		printf '%-7s apply s p50 %s p99 %s max %s | tx bytes p50 %s max %s | nft RSS KiB max %s\n' \
		    "$ph" "$(pct "$TMP/t.$ph" 50)" "$(pct "$TMP/t.$ph" 99)" \
		    "$(pct "$TMP/t.$ph" 100)" "$(pct "$TMP/b.$ph" 50)" \
		    "$(pct "$TMP/b.$ph" 100)" "$(pct "$TMP/m.$ph" 100)"
	done
	printf 'noop    apply s %s\n' "$(grep '^noop ' "$TMP/times" | cut -d' ' -f2)"
	if [ -n "${KEEP:-}" ]; then
		mkdir -p "$KEEP"
		for f in times rec.times rec.log; do
			cp "$TMP/$f" "$KEEP/$label.$f"
		done
	fi
}

uname -r; nft --version; nproc
run big "$PORTS" "$GROUPS_N" "$RULES"
run small 10 3 25
