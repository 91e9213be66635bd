#!/bin/bash
# Installs dependencies, builds, and runs every tinystack test:
#   1. normal build: unit + integration (+ end-to-end) tests through ctest
#   2. ASan/UBSan build: the same tests again, but those booting TCG guests
#      and the Tempest classes
#   3. ThreadSanitizer build: the unit tests whose own threads share data
#   4. libFuzzer build (clang): each fuzz target for a bounded time
# Usage: ./run_tests.sh [-R REGEX] [--no-asan] [--no-tsan] [--no-fuzz]
#   TS_FUZZ_SECONDS=N  seconds per fuzz target (default 8: 15 targets take
#                      ~2 min after each has replayed its seeds; the whole
#                      run aims under an hour on 2 cores)
# Run one test:  ctest --test-dir build -R unit.config_test --output-on-failure
set -uo pipefail
cd "$(dirname "$0")"
TOP=$(pwd)
FILTER=""; ASAN=1; TSAN=1; FUZZ=1
while [ $# -gt 0 ]; do
	case "$1" in
	-R) FILTER="$2"; shift 2 ;;
	--no-asan) ASAN=0; shift ;;
	--no-tsan) TSAN=0; shift ;;
	--no-fuzz) FUZZ=0; shift ;;
	*) echo "usage: $0 [-R REGEX] [--no-asan] [--no-tsan] [--no-fuzz]" >&2; exit 2 ;;
	esac
done
JOBS=$(nproc 2>/dev/null || echo 2)
FUZZ_SECONDS=${TS_FUZZ_SECONDS:-8}
passed=0; failed=0; failures=(); skipped=0; skips=()

step() { echo; echo "==== $* ($(date +%H:%M:%S))"; }
fail_hard() { echo "run_tests.sh: $*" >&2; exit 1; }

step "dependencies"
if [ "$(id -u)" = 0 ]; then
	packaging/install-deps.sh || fail_hard "dependency installation failed"
	packaging/libvirtd.sh start || fail_hard "libvirtd did not start"
else
	echo "not root: skipping package installation and libvirtd start"
fi

# ctest prints "N% tests passed, M tests failed out of T"; count from it.
run_ctest() {
	local dir=$1 label=$2 out
	shift 2
	out=$(mktemp)
	ctest --test-dir "$dir" --output-on-failure -j "$JOBS" \
	    --timeout 900 ${FILTER:+-R "$FILTER"} "$@" 2>&1 | tee "$out"
	local t f s n
	t=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$out" | tail -1)
	f=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$out" | tail -1)
	# ctest counts a skipped test among the passed ones: it is not.
	s=0
	while read -r n; do
		s=$((s + 1)); skips+=("$label: $n")
	done < <(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$out")
	if [ -z "$t" ]; then
		failed=$((failed + 1)); failures+=("$label: ctest did not run")
	else
		passed=$((passed + t - f - s)); failed=$((failed + f))
		skipped=$((skipped + s))
		[ "$f" -gt 0 ] && failures+=("$label: $f failed")
	fi
	rm -f "$out"
}

step "build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTS_TESTS=ON >/dev/null &&
    cmake --build build -j "$JOBS" || fail_hard "build failed"

step "tests (normal build)"
run_ctest build normal

if [ $ASAN = 1 ]; then
	step "build (ASan + UBSan)"
	if cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTS_SANITIZE=ON >/dev/null &&
	    cmake --build build-asan -j "$JOBS"; then
		step "tests (ASan + UBSan)"
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		# Real TCG guests once (above) is enough: under the sanitizers
		# they only slow down, and the daemons' code paths they drive
		# are the API and agent tests' too. The Tempest classes (label
		# tempest, the real clients' compatibility suite, ~10 min) run
		# once as well: the handlers they drive run under the sanitizers
		# through the unit, CLI, negative and authz-matrix tests, and the
		# whole run stays near an hour on 2 cores. The fault-injection
		# run (label faults) is timing-driven: once, in the normal build.
		# The browser test (label browser) drives Chromium against the
		# dashboard's page: the controller code it reaches is the mounted
		# APIs', which the API tests drive under the sanitizers.
		run_ctest build-asan sanitizer -LE "guest|tempest|faults|browser"
		unset ASAN_OPTIONS UBSAN_OPTIONS
	else
		failed=$((failed + 1)); failures+=("sanitizer build failed")
	fi
fi

# The unit tests whose code runs threads of ours over shared data: image
# uploads' hashing threads, the HTTP pool, token key reloads under
# validation, compute's workers. bus_test is not among them: libzmq is not
# built with TSan, so its lock-free pipes between our thread and its I/O
# thread look like races to it.
TSAN_TESTS="image_store_test http_test token_test compute_agent_test"
if [ $TSAN = 1 ] && [ -z "$FILTER" ]; then
	step "build (ThreadSanitizer: $TSAN_TESTS)"
	# shellcheck disable=SC2086
	if cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DTS_TSAN=ON >/dev/null &&
	    cmake --build build-tsan -j "$JOBS" --target $TSAN_TESTS; then
		step "tests (ThreadSanitizer)"
		export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
		run_ctest build-tsan tsan -R "^unit\.(${TSAN_TESTS// /|})\$"
		unset TSAN_OPTIONS
	else
		failed=$((failed + 1)); failures+=("ThreadSanitizer build failed")
	fi
fi

if [ $FUZZ = 1 ]; then
	step "build (libFuzzer, clang)"
	if CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTS_FUZZ=ON >/dev/null &&
	    cmake --build build-fuzz -j "$JOBS"; then
		for bin in build-fuzz/tests/fuzz/fuzz_*; do
			[ -x "$bin" ] || continue
			name=$(basename "$bin")
			step "fuzz $name for ${FUZZ_SECONDS}s"
			corpus="build-fuzz/corpus-$name"
			mkdir -p "$corpus"
			seeds="$TOP/tests/fuzz/seeds/$name"
			[ -d "$seeds" ] || seeds=""
			if (cd build-fuzz && "./tests/fuzz/$name" -max_total_time="$FUZZ_SECONDS" \
			    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
			    "$TOP/$corpus" $seeds 2>&1 | tail -15); then
				passed=$((passed + 1))
			else
				failed=$((failed + 1)); failures+=("fuzz $name found a crash")
			fi
		done
	else
		failed=$((failed + 1)); failures+=("fuzz build failed")
	fi
fi

echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
# A skip is never a pass: each is listed (the test printed why).
for f in "${skips[@]+"${skips[@]}"}"; do echo "SKIPPED: $f"; done
[ "$skipped" = 0 ] || echo "$skipped skipped (not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
