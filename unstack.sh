#!/bin/bash
# Stops everything ./stack.sh started (daemons, and libvirtd if stack.sh
# started it). State, configuration and keys are kept.
set -uo pipefail
cd "$(dirname "$0")"
RUN=${TS_RUN_DIR:-/run/tinystack}
export TS_RUN_DIR=$RUN
for name in agent controller; do
	if [ -d /run/systemd/system ] && systemctl list-unit-files "tinystack-$name.service" >/dev/null 2>&1; then
		systemctl stop "tinystack-$name" 2>/dev/null || true
	fi
	pidf=$RUN/$name.pid
	if [ -s "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		echo "unstack.sh: stopping $name"
		pid=$(cat "$pidf")
		kill "$pid"
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			echo "unstack.sh: $name (pid $pid) ignored SIGTERM for 10 s; killing it"
			kill -9 "$pid"
		fi
	fi
done
packaging/libvirtd.sh stop
echo "unstack.sh: stopped"
