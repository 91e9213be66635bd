#!/bin/bash
# A simulated hypervisor host on this machine (the namespace mode of
# stack.sh, TS_NETNS=1, and the guest tests): shared/recipes/fakehost.sh
# made reusable.
#
#   fakehost.sh up PREFIX N DIR [PORT...]
#   fakehost.sh down PREFIX N DIR
#   fakehost.sh uri DIR
#   fakehost.sh vncaddr PREFIX N
#
# up makes host N: a network namespace PREFIX-hN and a mount namespace of
# its own running a libvirtd (also listening on qemu+tcp://UNDERLAY.N, no
# authentication: live migration between the fake hosts) whose state lives under DIR (bind-mounted over
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
# /var/log/libvirt; its socket is DIR/sock/libvirt-sock, see `uri`). The
# agent of the host then runs in PREFIX-hN (ip netns exec): its bridges,
# VXLAN devices, dnsmasq and the guests' taps live there. Hosts share an
# underlay: a bridge in the namespace PREFIX-ul with a veth to each host
# (u0 in the host, ${TS_UNDERLAY:-10.250.0}.N/24), which carries VXLAN.
# The "outside world" of floating IPs: a namespace PREFIX-ext with a bridge
# br-ex holding the external network's gateway ${TS_EXT_GW:-172.24.4.1/24}
# (as devstack's br-ex), and a veth from it to each host (ex0 in the host,
# the agent's physical network "public": physical_interface_mappings =
# public:ex0). Each PORT of the host's 127.0.0.1 (the controller's bus and image API)
# is relayed into PREFIX-hN's 127.0.0.1 by packaging/nsfwd.py, so no
# address outside loopback and these namespaces ever sees a packet.
# The other way, for the controller's VNC proxy: the guests' VNC servers
# listen on PREFIX-hN's 127.0.0.1, on ports VNC_LO..VNC_HI (qemu.conf's
# remote_display_port_min/max), and the relay listens on the same ports of
# a loopback address of the host's own, `vncaddr PREFIX N` (127.X.Y.N,
# X.Y from PREFIX, so two prefixes' hosts can run side by side), which the
# agent reports as its [vnc] server_proxyclient_address.
# down stops the relay and libvirtd and deletes the namespace (with every
# link in it); the underlay and PREFIX-ext go with the last host. Idempotent.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
UNDERLAY=${TS_UNDERLAY:-10.250.0}
EXTGW=${TS_EXT_GW:-172.24.4.1/24}
VNC_LO=5900
VNC_HI=5963

usage() { echo "usage: $0 up PREFIX N DIR [PORT...] | down PREFIX N DIR | uri DIR | vncaddr PREFIX N" >&2; exit 2; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# stop_pid FILE: SIGTERM, up to 5 s, then SIGKILL.
stop_pid() {
	local p i
	alive "$1" || { rm -f "$1"; return 0; }
	p=$(cat "$1")
	kill "$p" 2>/dev/null || true
	for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	rm -f "$1"
}
uri() { echo "qemu+unix:///system?socket=$1/sock/libvirt-sock"; }
vncaddr() {
	local c
	c=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
	echo "127.$((100 + c % 150)).$(((c / 150) % 250 + 1)).$2"
}

up() {
	local pre=$1 n=$2 d=$3 ns=$1-h$2 ul=$1-ul ext=$1-ext i
	shift 3
	case $n in [1-9]|[1-9][0-9]) ;; *) echo "fakehost.sh: N must be 1..99" >&2; exit 2 ;; esac
	if ! ip netns list | grep -qx "$ul\( .*\)\?"; then
		ip netns add "$ul"
		ip -n "$ul" link add br0 type bridge
		ip -n "$ul" link set br0 up
	fi
	if ! ip netns list | grep -qx "$ns\( .*\)\?"; then
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip -n "$ul" link add "h$n" type veth peer name u0 netns "$ns"
		ip -n "$ul" link set "h$n" master br0 up
		ip -n "$ns" addr add "$UNDERLAY.$n/24" dev u0
		ip -n "$ns" link set u0 up
	fi
	if ! ip netns list | grep -qx "$ext\( .*\)\?"; then
		ip netns add "$ext"
		ip -n "$ext" link set lo up
		ip -n "$ext" link add br-ex type bridge
		ip -n "$ext" addr add "$EXTGW" dev br-ex
		ip -n "$ext" link set br-ex up
	fi
	if ! ip -n "$ns" link show ex0 >/dev/null 2>&1; then
		ip -n "$ext" link del "h$n" 2>/dev/null || true
		ip -n "$ext" link add "h$n" type veth peer name ex0 netns "$ns"
		ip -n "$ext" link set "h$n" master br-ex up
		ip -n "$ns" link set ex0 up
	fi
	mkdir -p "$d/etc" "$d/run" "$d/lib/qemu" "$d/lib/images" \
	    "$d/cache/qemu" "$d/log/qemu" "$d/sock"
	# The configuration is made on DIR's first up only: a libvirtd
	# restarted later (a test kills it) keeps its domains' persistent
	# definitions, as a real host's does (wiped, a guest running across
	# the restart came back transient and vanished when it stopped).
	if ! alive "$d/libvirtd.pid" && [ ! -e "$d/etc/libvirtd.conf" ]; then
		cp -a /etc/libvirt/. "$d/etc/"
		rm -f "$d"/etc/qemu/*.xml "$d"/etc/qemu/autostart/* \
		    "$d"/etc/qemu/networks/autostart/* 2>/dev/null || true
		# No virtlogd: qemu writes its log and serial file itself.
		# TCP without authentication on the underlay address only
		# (reachable from the other fake hosts' namespaces alone): the
		# peer-to-peer live migration's libvirtd-to-libvirtd channel,
		# as qemu+tcp://UNDERLAY.N/system; the migration stream itself
		# goes to qemu on the same address.
		cat > "$d/etc/libvirtd.conf" <<C
unix_sock_dir = "$d/sock"
listen_tls = 0
listen_tcp = 1
listen_addr = "$UNDERLAY.$n"
auth_tcp = "none"
auth_unix_rw = "none"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:$d/libvirtd.log"
C
		cat >> "$d/etc/qemu.conf" <<C
stdio_handler = "file"
namespaces = [ ]
migration_address = "$UNDERLAY.$n"
migration_host = "$UNDERLAY.$n"
C
		# KVM is unusable in these VMs and costs seconds per probe;
		# hiding qemu-system-i386 saves probing a second binary.
		: > "$d/nokvm"; chmod 000 "$d/nokvm"
		: > "$d/noexec"; chmod 644 "$d/noexec"
	fi
	# The VNC ports the relay covers (added to a configuration made by an
	# earlier version; read when libvirtd starts).
	if ! alive "$d/libvirtd.pid" && ! grep -q '^remote_display_port_max' "$d/etc/qemu.conf"; then
		cat >> "$d/etc/qemu.conf" <<C
remote_display_port_min = $VNC_LO
remote_display_port_max = $VNC_HI
C
	fi
	if ! alive "$d/libvirtd.pid"; then
		ip netns exec "$ns" unshare --mount --uts --propagation private sh -c "
			hostname $ns
			mount --bind $d/etc /etc/libvirt
			mkdir -p /run/libvirt && mount --bind $d/run /run/libvirt
			mount --bind $d/lib /var/lib/libvirt
			mount --bind $d/cache /var/cache/libvirt
			mount --bind $d/log /var/log/libvirt
			[ -e /dev/kvm ] && mount --bind $d/nokvm /dev/kvm
			[ -e /usr/bin/qemu-system-i386 ] && mount --bind $d/noexec /usr/bin/qemu-system-i386
			exec libvirtd -d --listen -p $d/libvirtd.pid"
		for i in $(seq 1 600); do
			virsh -c "$(uri "$d")" version >/dev/null 2>&1 && break
			sleep 0.1
		done
		virsh -c "$(uri "$d")" version >/dev/null 2>&1 ||
			{ echo "fakehost.sh: libvirtd of $ns did not answer within 60 s ($d/libvirtd.log)" >&2; exit 1; }
	fi
	# The relay is kept when it runs with the same ports: restarting it
	# would cut the agent's connections (and cost seconds on a re-run).
	set -- "$@" --back "$(vncaddr "$pre" "$n")" "$VNC_LO-$VNC_HI"
	if alive "$d/nsfwd.pid" &&
	    [ "$(cat "$d/nsfwd.args" 2>/dev/null)" = "$ns $*" ]; then
		:
	else
		stop_pid "$d/nsfwd.pid"
		: > "$d/nsfwd.out"
		# Debian's python3: a pyenv shim first on PATH costs seconds.
		setsid /usr/bin/python3 "$HERE/nsfwd.py" "$ns" "$@" >> "$d/nsfwd.out" 2>&1 < /dev/null &
		echo $! > "$d/nsfwd.pid"
		echo "$ns $*" > "$d/nsfwd.args"
		for i in $(seq 1 100); do grep -qx ready "$d/nsfwd.out" && break; sleep 0.1; done
		grep -qx ready "$d/nsfwd.out" ||
			{ echo "fakehost.sh: relay into $ns failed: $(cat "$d/nsfwd.out")" >&2; exit 1; }
	fi
}

down() {
	local pre=$1 n=$2 d=$3 ns=$1-h$2 ul=$1-ul ext=$1-ext
	stop_pid "$d/nsfwd.pid"
	stop_pid "$d/libvirtd.pid"
	ip netns del "$ns" 2>/dev/null || true
	if ! ip netns list | grep -q "^$pre-h[0-9]"; then
		ip netns del "$ul" 2>/dev/null || true
		ip netns del "$ext" 2>/dev/null || true
	fi
}

case "${1:-}" in
up) [ $# -ge 4 ] || usage; shift; up "$@" ;;
down) [ $# -eq 4 ] || usage; down "$2" "$3" "$4" ;;
uri) [ $# -eq 2 ] || usage; uri "$2" ;;
vncaddr) [ $# -eq 3 ] || usage; vncaddr "$2" "$3" ;;
*) usage ;;
esac
