#!/bin/bash
# Every nftables ruleset in the agent's golden files goes through the real
# nft's parser and checker (`nft -c`, in a network namespace of its own):
# a golden file only proves that the code writes what it wrote yesterday,
# and a name nft's grammar refuses ("fwd" once) made a whole router
# ruleset fail on real hosts while its golden test passed.
# A block that replaces its table (it says "delete table") is checked on
# its own; the firewall's incremental blocks are checked on top of the
# full firewall ruleset they follow (fw_full.txt), applied for real first.
. "$(dirname "$0")/lib.sh"
for c in nft unshare awk; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
G=$TS_SOURCE_DIR/tests/golden/net
[ -f "$G/fw_full.txt" ] || fail "no $G/fw_full.txt"

# blocks FILE: each `nft -f - <<'EOF'` here-document of FILE to
# $T/blk.NAME.N, one file per block.
blocks() {
	awk -v pre="$T/blk.$(basename "$1" .txt)." '
		/nft -f - <<.EOF.$/ { f = 1; n++; out = sprintf("%s%02d", pre, n); next }
		f && /^EOF$/ { f = 0; close(out); next }
		f { print > out }' "$1"
}
for f in "$G"/*.txt; do blocks "$f"; done
BASE=$T/blk.fw_full.01
[ -s "$BASE" ] || fail "fw_full.txt holds no nft block"

n=0
for b in "$T"/blk.*; do
	if grep -q "^delete table" "$b"; then
		unshare -n nft -c -f "$b" > "$T/out" 2>&1 ||
			{ cat "$T/out"; fail "nft -c refuses $(basename "$b")"; }
	else
		unshare -n sh -c 'nft -f "$1" && nft -c -f "$2"' sh "$BASE" "$b" \
			> "$T/out" 2>&1 ||
			{ cat "$T/out"; fail "nft -c refuses $(basename "$b") after fw_full"; }
	fi
	n=$((n + 1))
done
[ "$n" -ge 5 ] || fail "only $n nft blocks found in $G"
ok "nft -c accepts all $n nft blocks of the agent's golden files"
echo "1..$NPASS"
