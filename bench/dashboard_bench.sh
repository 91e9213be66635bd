#!/bin/bash
# dashboard_bench.sh - the fleet dashboard at fleet scale, on 127.0.0.1 only.
# bench/fleetsim.sh brings up a real controller with AGENTS simulated hosts
# and INSTANCES servers (its own checkpoint of the API lists runs too), then
# bench/dashboard_probe.py drives the page in Debian's headless Chromium
# over the DevTools protocol: time from the login submit to the first fleet
# row, the full fleet table, the first instance rows and every instance
# loaded; then the controller's CPU over WINDOW seconds with 0, 1 and 5
# logged-in dashboards left open (each polling).
#
# Usage: bench/dashboard_bench.sh [BUILD_DIR]      (default: ./build)
# Knobs: AGENTS (2500), INSTANCES (20000), WINDOW (60 s), and fleetsim.sh's.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-build}" && pwd)
export AGENTS=${AGENTS:-2500} INSTANCES=${INSTANCES:-20000} RSS_AT=100000
export WINDOW=${WINDOW:-60}
[ -x /usr/bin/chromium ] || { echo "dashboard_bench: /usr/bin/chromium is not installed" >&2; exit 1; }
cmake --build "$B" --target tinystack-controller tinystack-manage fleetsim >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
DASH_HOOK="/usr/bin/python3 $HERE/dashboard_probe.py" "$HERE/fleetsim.sh" "$B"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
