#!/bin/sh
# Make sure the system libvirtd answers on qemu:///system.
# Through systemd where it runs the machine; otherwise virtlogd -d first (a
# privileged libvirtd does not spawn it) and then libvirtd -d, as proven in
# shared/recipes. Waits (bounded) until virsh can connect.
#   packaging/libvirtd.sh start|stop|status
set -eu
RUNDIR=${TS_RUN_DIR:-/run/tinystack}
URI=qemu:///system

ready() { virsh -c "$URI" version >/dev/null 2>&1; }

case "${1:-start}" in
start)
	if ready; then exit 0; fi
	mkdir -p "$RUNDIR"
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		systemctl start virtlogd.socket libvirtd.service || true
	else
		pgrep -x virtlogd >/dev/null || virtlogd -d -p "$RUNDIR/virtlogd.pid"
		# Not ready, so no libvirtd serves qemu:///system (the ones of
		# packaging/fakehost.sh's hosts, named libvirtd too, serve
		# sockets of their own): start it.
		libvirtd -d -p "$RUNDIR/libvirtd.pid"
		: > "$RUNDIR/libvirtd.ours"
	fi
	# The first connection probes qemu's capabilities: seconds under TCG.
	i=0
	while [ $i -lt 600 ]; do
		ready && exit 0
		sleep 0.1; i=$((i + 1))
	done
	echo "libvirtd.sh: libvirtd did not answer on $URI within 60 s" >&2
	exit 1 ;;
stop)
	# Only stop a libvirtd this script started (never the operator's).
	if [ -f "$RUNDIR/libvirtd.ours" ]; then
		for p in libvirtd virtlogd; do
			[ -s "$RUNDIR/$p.pid" ] && kill "$(cat "$RUNDIR/$p.pid")" 2>/dev/null || true
			rm -f "$RUNDIR/$p.pid"
		done
		rm -f "$RUNDIR/libvirtd.ours"
	fi ;;
status)
	ready && echo "libvirtd: running" || { echo "libvirtd: not running"; exit 1; } ;;
*)
	echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
