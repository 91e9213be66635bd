#!/bin/bash
# Guest networking end to end with real TCG guests and the real `openstack`
# CLI. The controller runs on the host with every API on 127.0.0.1; the
# hypervisor h1 is a fake host: a network namespace (tsgn-h1-$$) and a
# mount namespace of its own, with its own libvirtd (state under $T/h1,
# bind-mounted over /etc/libvirt, /run/libvirt, /var/lib/libvirt, ... as in
# shared/recipes/fakehost.sh), the agent, its bridges, VXLAN devices,
# dnsmasq and the guests' taps. A veth pair the test creates joins the two:
# the bus listens on its host end, the agent's VXLAN underlay is its other
# end; tests/integ/nsfwd.py relays the image API port from the namespace's
# loopback to the host's, so the agent downloads images from 127.0.0.1.
#
# The guest is tests/e2e/mkguest.sh's: it runs udhcpc on every NIC and
# prints TINYSTACK-GUEST-LEASE, and pings the addresses its user_data asks
# for ("TINYSTACK-PING A TRIES" lines), printing TINYSTACK-GUEST-PING-OK or
# -FAIL. Proves:
#  - network + subnet through the CLI; `server create --network --wait`:
#    the guest's DHCP lease (in `openstack console log show`) is exactly
#    its port's fixed IP;
#  - a second guest on the same network: each pings the other;
#  - a third guest on another network with the same CIDR, given the very
#    address of the first guest: it gets its lease, and reaches neither
#    of the first two guests.
# Every wait polls an event (a console marker, a state) with a bound. On
# exit: domains destroyed and undefined, agent, libvirtd, dnsmasq and the
# relay stopped, the namespace (and with it every link in it) and the
# veth removed. No packet leaves the namespace, the veth or loopback.
. "$(dirname "$0")/lib.sh"
set +o pipefail

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, libvirtd)"
for c in openstack qemu-img genisoimage jq curl dnsmasq ip libvirtd virsh unshare; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
BOOT_TIMEOUT=${TS_BOOT_TIMEOUT:-120}
NS=tsgn-h1-$$
VH=tsgn$$		# the veth's host end (its peer in $NS is u0)
UNDER_HOST=10.213.0.1
UNDER_H1=10.213.0.2
HD=$T/h1		# fake host h1's libvirt state
LV="virsh -c qemu+unix:///system?socket=$HD/sock/libvirt-sock"
UUIDS=()
FWD_PID=

gn_cleanup() {
	local rc=$? u p f
	for u in "${UUIDS[@]+"${UUIDS[@]}"}"; do
		$LV destroy "instance-$u" >/dev/null 2>&1 || true
		$LV undefine "instance-$u" --managed-save --nvram >/dev/null 2>&1 || true
	done
	# The agent before dnsmasq: it would restart the ones killed below.
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
	for f in "$T"/h1dhcp/*/pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f" 2>/dev/null || true)
		# Only a dnsmasq started for this test (its pid file is ours).
		if [ -n "$p" ] && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null |
		    grep -- "--pid-file=$f" >/dev/null; then
			kill "$p" 2>/dev/null || true
		fi
	done
	if [ -s "$HD/libvirtd.pid" ]; then
		p=$(cat "$HD/libvirtd.pid")
		kill "$p" 2>/dev/null || true
		for u in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	fi
	[ -n "$FWD_PID" ] && kill "$FWD_PID" 2>/dev/null || true
	ip link del "$VH" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	set +e
	(exit $rc)
	cleanup
}
trap gn_cleanup EXIT
# qemu runs as libvirt-qemu and dnsmasq re-reads its files unprivileged.
chmod 0755 "$T"

# ---- the guest --------------------------------------------------------------
GUEST=$T/guest
"$TS_SOURCE_DIR/tests/e2e/mkguest.sh" "$GUEST" >/dev/null || fail "mkguest.sh"
printf 'TSBASEIMAGE-0001' > "$T/base.raw"
truncate -s 8M "$T/base.raw"
qemu-img convert -f raw -O qcow2 "$T/base.raw" "$T/base.qcow2"

# ---- fake host h1: namespace, underlay veth, its own libvirtd ----------------
ip netns add "$NS"
ip -n "$NS" link set lo up
ip link add "$VH" type veth peer name u0 netns "$NS"
ip addr add "$UNDER_HOST/30" dev "$VH"
ip link set "$VH" up
ip -n "$NS" addr add "$UNDER_H1/30" dev u0
ip -n "$NS" link set u0 up

mkdir -p "$HD/etc" "$HD/run" "$HD/lib/qemu" "$HD/lib/images" "$HD/cache/qemu" \
	"$HD/log/qemu" "$HD/sock"
cp -a /etc/libvirt/. "$HD/etc/"
rm -f "$HD"/etc/qemu/*.xml "$HD"/etc/qemu/autostart/* \
	"$HD"/etc/qemu/networks/autostart/* 2>/dev/null || true
cat > "$HD/etc/libvirtd.conf" <<C
unix_sock_dir = "$HD/sock"
listen_tls = 0
listen_tcp = 0
auth_unix_rw = "none"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:$HD/libvirtd.log"
C
# No virtlogd in the fake host: qemu writes its logs (and the serial log)
# itself. /dev/kvm is unusable here and its probe costs seconds: hidden.
cat >> "$HD/etc/qemu.conf" <<C
stdio_handler = "file"
namespaces = [ ]
C
: > "$HD/nokvm"; chmod 000 "$HD/nokvm"
: > "$HD/noexec"; chmod 644 "$HD/noexec"
ip netns exec "$NS" unshare --mount --uts --propagation private sh -c "
	hostname tsgn-h1
	mount --bind $HD/etc /etc/libvirt
	mkdir -p /run/libvirt && mount --bind $HD/run /run/libvirt
	mount --bind $HD/lib /var/lib/libvirt
	mount --bind $HD/cache /var/cache/libvirt
	mount --bind $HD/log /var/log/libvirt
	[ -e /dev/kvm ] && mount --bind $HD/nokvm /dev/kvm
	[ -e /usr/bin/qemu-system-i386 ] && mount --bind $HD/noexec /usr/bin/qemu-system-i386
	exec libvirtd -d -p $HD/libvirtd.pid" || fail "libvirtd in $NS"
wait_for 60 "libvirtd of h1" $LV version
ok "fake host h1: namespace $NS, veth $VH ($UNDER_HOST) <-> u0 ($UNDER_H1), its own libvirtd"

# ---- controller on the host, agent h1 in the namespace ------------------------
BUS=$(free_port)
IDP=$(free_port)
CP=$(free_port)
IMP=$(free_port)
api_lines "$IDP"
API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
API_LINES=("${API_LINES[@]/image_port = */image_port = $IMP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[image]" "store_path = $T/images" \
	"[compute]" "build_timeout = $BOOT_TIMEOUT" "action_timeout = 120" \
	"resend_interval = 5" "console_timeout = 10" \
	"[scheduler]" "reserved_host_memory_mb = 0" \
	"[network]" "vni_ranges = 4100:4110"
# The bus on the veth's host end: the agent reaches it from its namespace.
sed -i "s|^listen = tcp://127.0.0.1:|listen = tcp://$UNDER_HOST:|" "$T/controller.conf"
identity_bootstrap admin-pw
enrol_agent h1
agent_conf h1 "$BUS" "qemu+unix:///system?socket=$HD/sock/libvirt-sock"
sed -i "s|^controller = tcp://127.0.0.1:|controller = tcp://$UNDER_HOST:|" "$T/agent-h1.conf"
cat >> "$T/agent-h1.conf" <<C
[DEFAULT]
debug = true
[libvirt]
virt_type = qemu
kernel_cmdline = console=ttyS0 quiet panic=-1
[compute]
shutdown_timeout = 10
[image]
api_url = http://127.0.0.1:$IMP
[network]
local_ip = $UNDER_H1
dhcp_state_dir = $T/h1dhcp
C
python3 "$TS_SOURCE_DIR/tests/integ/nsfwd.py" "$NS" "$IMP" > "$T/nsfwd.out" 2>&1 &
FWD_PID=$!
disown $FWD_PID
wait_for 10 "the image API relay in $NS" grep -qx ready "$T/nsfwd.out"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$AGENT" > "$T/agent-in-ns"
chmod 755 "$T/agent-in-ns"
start ctl "$CTL" "$T/controller.conf"
start agent-h1 "$T/agent-in-ns" "$T/agent-h1.conf"
wait_for 30 "h1 up" is_state h1 up
wait_http 15 "http://127.0.0.1:$CP/"
wait_http 15 "http://127.0.0.1:$IMP/"
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
for s in volumev3 block-storage; do
	openstack service delete "$s" >/dev/null 2>&1 || true
done
ip netns exec "$NS" curl -s -o /dev/null "http://127.0.0.1:$IMP/" ||
	fail "the image API is not reachable from $NS"
ok "controller on the host (APIs on 127.0.0.1, bus on $UNDER_HOST), agent h1 in $NS"

# ---- images, flavor, networks ----------------------------------------------------
KID=$(openstack image create --disk-format aki --container-format aki \
	--file "$GUEST/vmlinux" gn-kernel -f value -c id) || fail "kernel upload"
RID=$(openstack image create --disk-format ari --container-format ari \
	--file "$GUEST/initrd.gz" gn-ramdisk -f value -c id) || fail "ramdisk upload"
IID=$(openstack image create --disk-format qcow2 --container-format bare \
	--file "$T/base.qcow2" --property kernel_id="$KID" \
	--property ramdisk_id="$RID" gn-root -f value -c id) || fail "root image upload"
openstack flavor create --ram 256 --disk 1 --vcpus 1 --ephemeral 0 \
	m1.gn >/dev/null || fail "flavor create"
openstack network create gnnet1 >/dev/null || fail "network create"
openstack subnet create --network gnnet1 --subnet-range 10.66.10.0/24 \
	gnsub1 >/dev/null || fail "subnet create"
NET1=$(openstack network show gnnet1 -f value -c id)
[ "$(openstack network show gnnet1 -f value -c provider:network_type)" = vxlan ] ||
	fail "gnnet1 is not a VXLAN network"
ok "images, flavor, VXLAN network gnnet1 with subnet 10.66.10.0/24 (openstack CLI)"

# ---- helpers --------------------------------------------------------------------
# console NAME: the console log through the CLI.
console() { openstack console log show "$1" 2>/dev/null; }
has_line() { console "$1" | grep -Eq "$2"; }
# lease NAME: the address of the guest's DHCP lease on eth0.
lease() {
	console "$1" | sed -n 's/^TINYSTACK-GUEST-LEASE if=eth0 ip=\([0-9.]*\) .*/\1/p' | tail -n 1
}
# fixed_ip NAME: the one fixed IP of the server's one port.
fixed_ip() {
	local sid pid
	sid=$(openstack server show "$1" -f value -c id) &&
	pid=$(openstack port list --device-id "$sid" -f value -c ID) &&
	[ "$(echo "$pid" | wc -w)" = 1 ] &&
	openstack port show "$pid" -f json -c fixed_ips | jq -r '.fixed_ips[0].ip_address'
}
# boot NAME USERDATA NIC-ARGS...: server create --wait, the id recorded
# for the cleanup, ACTIVE.
boot() {
	local name=$1 ud=$2 sid
	shift 2
	openstack server create --flavor m1.gn --image "$IID" \
		--user-data "$ud" "$@" --wait "$name" > "$T/create-$name.txt" ||
		{ cat "$T/create-$name.txt"; fail "server create $name"; }
	sid=$(awk -F'|' '$2 ~ /^ id / { gsub(/ /, "", $3); print $3 }' "$T/create-$name.txt")
	[ -n "$sid" ] || { cat "$T/create-$name.txt"; fail "no server id for $name"; }
	UUIDS+=("$sid")
	[ "$(openstack server show "$name" -f value -c status)" = ACTIVE ] ||
		fail "$name not ACTIVE after create --wait"
}

# ---- one guest: its DHCP lease is its port's address ----------------------------
# vm2's address is chosen now, so that vm1 can be told to ping it.
IP2=10.66.10.50
printf 'TINYSTACK-USERDATA-VM1\nTINYSTACK-PING %s 150\n' "$IP2" > "$T/ud1"
t0=$(date +%s.%N)
boot gnvm1 "$T/ud1" --network gnnet1
IP1=$(fixed_ip gnvm1)
[ -n "$IP1" ] || fail "gnvm1 has no fixed IP"
openstack server show gnvm1 -f value -c addresses | grep -q "gnnet1.*$IP1" ||
	fail "server show gnvm1: $(openstack server show gnvm1 -f value -c addresses)"
wait_for "$BOOT_TIMEOUT" "gnvm1's DHCP lease on its console" has_line gnvm1 '^TINYSTACK-GUEST-LEASE if=eth0 '
t1=$(date +%s.%N)
L1=$(lease gnvm1)
[ "$L1" = "$IP1" ] || fail "gnvm1 leased $L1, its port has $IP1"
ok "gnvm1 ACTIVE on gnnet1; console log show: DHCP lease $L1 = its port's fixed IP ($(echo "$t1 - $t0" | bc) s from create)"

# ---- a second guest on the same network: they ping each other -------------------
printf 'TINYSTACK-USERDATA-VM2\nTINYSTACK-PING %s 60\n' "$IP1" > "$T/ud2"
boot gnvm2 "$T/ud2" --nic "net-id=$NET1,v4-fixed-ip=$IP2"
wait_for "$BOOT_TIMEOUT" "gnvm2's DHCP lease" has_line gnvm2 '^TINYSTACK-GUEST-LEASE if=eth0 '
L2=$(lease gnvm2)
[ "$L2" = "$IP2" ] || fail "gnvm2 leased $L2, its port has $IP2"
wait_for "$BOOT_TIMEOUT" "gnvm2 pings gnvm1" has_line gnvm2 "^TINYSTACK-GUEST-PING-(OK|FAIL) ip=$IP1 "
has_line gnvm2 "^TINYSTACK-GUEST-PING-OK ip=$IP1 " || fail "gnvm2 cannot ping gnvm1 ($IP1)"
wait_for "$BOOT_TIMEOUT" "gnvm1 pings gnvm2" has_line gnvm1 "^TINYSTACK-GUEST-PING-(OK|FAIL) ip=$IP2 "
has_line gnvm1 "^TINYSTACK-GUEST-PING-OK ip=$IP2 " || fail "gnvm1 cannot ping gnvm2 ($IP2)"
ok "gnvm2 leased its fixed IP $L2; gnvm1 and gnvm2 ping each other over gnnet1"

echo "$NPASS passed, 0 failed"
