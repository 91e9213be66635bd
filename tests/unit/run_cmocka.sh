#!/bin/bash
# run_cmocka.sh TEST [ARGS...]: runs one cmocka test binary for ctest.
# cmocka exits 0 when a test called skip() and none failed; this exits 77
# then (SKIP_RETURN_CODE in tests/unit/CMakeLists.txt), so ctest reports
# the run as skipped, never as a pass. A failure stays a failure, whether
# or not something else skipped. A test may skip only when the kernel
# lacks a feature, and prints why.
out=$(mktemp /tmp/run_cmocka.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ]; then
	grep -q '^\[  SKIPPED \]' "$out" && rc=77
elif [ "$rc" -eq 77 ]; then
	rc=1	# 77 failed tests: still a failure
fi
exit "$rc"
