#!/bin/bash
# Stops everything ./stack.sh started (daemons, and libvirtd if stack.sh
# started it). State, configuration and keys are kept.
set -uo pipefail
cd "$(dirname "$0")"
RUN=${TS_RUN_DIR:-/run/tinystack}
STATE=${TS_STATE_DIR:-/var/lib/tinystack}
export TS_RUN_DIR=$RUN
# The agents of namespace hosts (TS_NETNS=1) are agent-<host>.pid.
names=$(cd "$RUN" 2>/dev/null && for f in agent-*.pid; do [ -e "$f" ] && echo "${f%.pid}"; done)
for name in $names agent controller; do
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
# Namespace hosts: their guests (stopped, still defined), their libvirtd,
# relay and namespaces.
if [ -s "$STATE/netns/prefix" ]; then
	pre=$(cat "$STATE/netns/prefix")
	for d in "$STATE"/netns/"$pre"-h*/; do
		[ -d "$d" ] || continue
		d=${d%/}; a=${d##*/}; n=${a##*-h}
		uri=$(packaging/fakehost.sh uri "$d")
		for dom in $(virsh -c "$uri" list --name 2>/dev/null); do
			virsh -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
		done
		echo "unstack.sh: stopping namespace host $a"
		packaging/fakehost.sh down "$pre" "$n" "$d"
	done
fi
# Router namespaces the agents made (ours by shape: tsr-, 11 hex, the
# agent's host as tag); their agents are stopped above.
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^tsr-[0-9a-f]{11}(-[A-Za-z0-9_.-]+)?$/ { print $1 }'); do
	ip netns del "$ns" 2>/dev/null || true
done
packaging/libvirtd.sh stop
echo "unstack.sh: stopped"
