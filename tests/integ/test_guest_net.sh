#!/bin/bash
# Guest networking end to end with real TCG guests and the real `openstack`
# CLI. The controller runs on the host with every API on 127.0.0.1; the
# hypervisors h1 and h2 are fake hosts made by packaging/fakehost.sh (as
# `TS_NETNS=1 ./stack.sh` makes them): each a network namespace
# (tsgn$$-hN) and a mount namespace of its own, with its own libvirtd
# (state under $T/hN), its agent, bridges, VXLAN devices, dnsmasq and the
# guests' taps, on an underlay bridge in namespace tsgn$$-ul (10.250.0.N).
# The bus and image API ports of the host's 127.0.0.1 are relayed into
# each fake host's 127.0.0.1 (packaging/nsfwd.py): no address outside
# loopback and the test's namespaces sees a packet.
#
# The guest is tests/e2e/mkguest.sh's: it runs udhcpc on every NIC and
# prints TINYSTACK-GUEST-LEASE, and pings the addresses its user_data asks
# for ("TINYSTACK-PING A TRIES" lines), printing TINYSTACK-GUEST-PING-OK or
# -FAIL. Proves:
#  - network + subnet through the CLI; `server create --network --wait`:
#    the guest's DHCP lease (in `openstack console log show`) is exactly
#    its port's fixed IP;
#  - a second guest on the same network and host, with a fixed IP: each
#    pings the other; at the same time a fourth guest on the same network
#    on h2 gets its lease from h2's dnsmasq and reaches both guests on h1
#    over VXLAN;
#  - a third guest on another network with the same CIDR, given the very
#    address of the first guest: it gets its lease, and cannot reach the
#    second guest;
#  - a fifth guest on h1, booted with a key pair (`keypair create
#    --public-key`) and user_data, fetches meta_data.json, user_data and
#    the EC2 openssh-key from http://169.254.169.254/ (routed there by
#    DHCP option 121): its uuid is the server's id, its key the key
#    pair's, its user_data the one given;
#  - healing with live guests: the fifth guest pings the first in a loop
#    (a console line per round); h1's agent restarted, h1's dnsmasq
#    killed, the network's bridge deleted by hand in h1's namespace:
#    after each, h1 converges (dnsmasq running again, the bridge back with
#    the guests' taps on it) and the loop succeeds again in a later round;
#  - floating IPs and security groups seen from the external namespace
#    $NSP-ext (172.24.4.1, as devstack's br-ex): a router from gnnet1 to
#    the flat external network gnpublic; floating IPs of gnvm1 (h1) and
#    gnvm4 (h2) answer ping once an ICMP rule allows it, not before, not
#    after its deletion;
#  - tcp/80 (the guests' busybox httpd, whose page carries the server's
#    uuid) through the floating IPs: dropped before a rule allows it, then
#    served to 172.24.4.1 by a rule of 172.24.4.1/32 alone, dropped from a
#    second address 172.24.4.3 of $NSP-ext that pings the same floating IP;
#  - an established echo session (tcp/7007, gnvm4's busybox nc) through a
#    floating IP is cut when its rule is deleted (no echo), while new
#    sessions are dropped and tcp/80 of the same guest still works;
#  - SNAT: gnvm2, without a floating IP, pings 172.24.4.1 through the
#    router; $NSP-ext sees the echo requests come from the router's gateway
#    address, and (once the router is in place) no packet from gnnet1's
#    fixed IPs;
#  - server remove floating ip: that address silent to ping and tcp/80,
#    the other floating IP still answering both;
#  - auto_assign_floating_ip (with default_floating_pool gnpublic, which
#    does not exist yet when gnvm1..5 are created: they are created all
#    the same, without one): gnvm6, created on gnnet1 once the router is
#    in place with nothing but `server create`, has a floating IP of
#    gnpublic (`floating ip list --port`) that serves its page to
#    $NSP-ext.
#  - resize across hosts, then revert: gnvm6 (h2) resized to m1.gn2 runs
#    on h1 (VERIFY_RESIZE) from a copy of its disk; `server resize revert`
#    brings it back to h2 with m1.gn: a new boot of h2's kept disk (the
#    mark its last boot on h2 wrote there, not the one of the boot on h1),
#    nothing left on h1, both hosts' usage as before, os-migrations
#    "reverted", its page through its floating IP.
#  - (last) evacuation of a crashed host: h1's agent killed -9 (its
#    libvirtd and guests live on), h1 forced down, `nova evacuate gnvm4
#    h2`: a new boot on h2, same port, IP and floating IP; the stale copy
#    on h1 destroyed when h1's agent returns, the server never taken off
#    h2; `compute service set --up h1`. h2's router announces the floating
#    IP by gratuitous ARP: $NSP-ext's neighbour entry moves from h1's qg
#    MAC to h2's without $NSP-ext asking, so the floating IP answers at
#    once when h1 is back (not after the entry's probes to h1 fail).
# Every wait polls an event (a console marker, a state) with a bound. On
# exit: domains destroyed and undefined, agents, libvirtds, dnsmasqs and
# relays stopped, the namespaces (and with them every link in them) and
# the host's veth end removed. No packet leaves the namespaces, the veths
# or loopback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
set +o pipefail

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, libvirtd)"
for c in openstack qemu-img genisoimage jq curl dnsmasq ip libvirtd virsh unshare ssh-keygen; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
BOOT_TIMEOUT=${TS_BOOT_TIMEOUT:-120}
NSP=tsgn$$		# fake hosts $NSP-hN, underlay $NSP-ul
FH=$TS_SOURCE_DIR/packaging/fakehost.sh
HOSTS="1 2"

lv() { virsh -c "$("$FH" uri "$T/h$1")" "${@:2}"; }

gn_cleanup() {
	local rc=$? e p f n
	[ -n "${ECPID:-}" ] && kill "$ECPID" 2>/dev/null
	# The daemons first: a controller still running re-creates the
	# guests destroyed below on their hosts (a guest missing is a gap
	# it closes), and such a late guest outlived the run.
	stop_daemons_and_dnsmasq
	# Every domain of the fake hosts' libvirtds is this test's (even one
	# whose create was still under way).
	for n in $HOSTS; do
		for e in $(lv "$n" list --all --name 2>/dev/null); do
			lv "$n" destroy "$e" >/dev/null 2>&1 || true
			lv "$n" undefine "$e" --managed-save --nvram >/dev/null 2>&1 || true
		done
	done
	# A guest whose libvirtd died (a test kills one) is out of libvirt's
	# reach: its qemu, named by this test's paths, is stopped by pid.
	pkill -9 -f "^/usr/bin/qemu-system-[^ ]* .*$T/" 2>/dev/null || true
	for n in $HOSTS; do "$FH" down "$NSP" "$n" "$T/h$n" || true; done
	# The router's namespaces (tsr-<11 hex>-<host>), made by the agents
	# where the host's `ip netns` sees them.
	if [ -n "${RID:-}" ]; then
		for n in $HOSTS; do
			ip netns del "tsr-$(echo "$RID" | tr -d - | cut -c1-11)-h$n" 2>/dev/null || true
		done
	fi
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

# ---- controller on the host, the agents in their namespaces ---------------------
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
	"[network]" "vni_ranges = 4100:4110" \
	"auto_assign_floating_ip = true" "default_floating_pool = gnpublic"
for n in $HOSTS; do
	"$FH" up "$NSP" "$n" "$T/h$n" "$BUS" "$IMP" > "$T/fakehost-h$n.log" 2>&1 ||
		fail "fake host h$n: $(cat "$T/fakehost-h$n.log")"
done
ok "fake hosts h1, h2: namespaces with their own libvirtd, on an underlay bridge, bus and image API relayed in"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
for n in $HOSTS; do
	ns=$NSP-h$n
	enrol_agent "h$n"
	agent_conf "h$n" "$BUS" "$("$FH" uri "$T/h$n")"
	cat >> "$T/agent-h$n.conf" <<C
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
local_ip = 10.250.0.$n
dhcp_state_dir = $T/h${n}dhcp
physical_interface_mappings = public:ex0
[vnc]
# the relay to its VNC ports in the namespace (packaging/fakehost.sh)
server_proxyclient_address = $("$FH" vncaddr "$NSP" "$n")
C
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" "$AGENT" > "$T/agent-h$n-in-ns"
	chmod 755 "$T/agent-h$n-in-ns"
	start "agent-h$n" "$T/agent-h$n-in-ns" "$T/agent-h$n.conf"
done
for n in $HOSTS; do wait_for 30 "h$n up" is_state "h$n" up; done
wait_http 15 "http://127.0.0.1:$CP/"
wait_http 15 "http://127.0.0.1:$IMP/"
for n in $HOSTS; do
	ip netns exec "$NSP-h$n" curl -s -o /dev/null "http://127.0.0.1:$IMP/" ||
		fail "the image API is not reachable from $NSP-h$n"
done
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
admin_token	# (TOK; compute_lib.sh)
NP=$(sed -n 's/^network_port = //p' "$T/controller.conf")
ok "controller on the host (APIs and bus on 127.0.0.1), agents h1 and h2 in their namespaces"

# ---- images, flavor, networks ----------------------------------------------------
# (images through the image API with curl: the CLI costs seconds a call
# on a busy machine, and what is proven here is the network.)
upload() {
	local id
	id=$(curl -s -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
		-d "{\"name\": \"$1\", \"disk_format\": \"$2\", \"container_format\": \"$3\"${5:+, $5}}" \
		"http://127.0.0.1:$IMP/v2/images" | jq -r '.id // empty')
	[ -n "$id" ] || fail "image create $1"
	[ "$(http_code PUT "http://127.0.0.1:$IMP/v2/images/$id/file" \
		-H "X-Auth-Token: $TOK" -H 'Content-Type: application/octet-stream' \
		--data-binary "@$4")" = 204 ] || fail "image upload $1"
	echo "$id"
}
KID=$(upload gn-kernel aki aki "$GUEST/vmlinux")
RID=$(upload gn-ramdisk ari ari "$GUEST/initrd.gz")
IID=$(upload gn-root qcow2 bare "$T/base.qcow2" "\"kernel_id\": \"$KID\", \"ramdisk_id\": \"$RID\"")
openstack flavor create --ram 256 --disk 1 --vcpus 1 --ephemeral 0 \
	m1.gn >/dev/null || fail "flavor create"
openstack network create gnnet1 >/dev/null || fail "network create"
openstack subnet create --network gnnet1 --subnet-range 10.66.10.0/24 \
	gnsub1 >/dev/null || fail "subnet create"
# net NAME FIELD: a field of a network, from the network API.
net() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$NP/v2.0/networks?name=$1" |
	    jq -r ".networks[0][\"$2\"]"
}
NET1=$(net gnnet1 id)
[ "$(net gnnet1 provider:network_type)" = vxlan ] || fail "gnnet1 is not a VXLAN network"
ok "images uploaded; flavor, VXLAN network gnnet1 and subnet 10.66.10.0/24 through the openstack CLI"
ssh-keygen -q -t ed25519 -N '' -C gnkey@tinystack-test -f "$T/gnkey" ||
	fail "ssh-keygen"
openstack keypair create --public-key "$T/gnkey.pub" gnkey >/dev/null ||
	fail "keypair create --public-key"

# ---- helpers --------------------------------------------------------------------
declare -A SID	# server name -> id
# console NAME: the console log through the compute API (the CLI's call;
# polled with curl, without the CLI's start-up cost).
console() {
	curl -s -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
		-d '{"os-getConsoleOutput": {"length": null}}' \
		"http://127.0.0.1:$CP/v2.1/servers/${SID[$1]}/action" | jq -r '.output // ""'
}
has_line() { console "$1" | grep -Eq "$2"; }
# lease_of: the address of the last DHCP lease on eth0 in a console log.
lease_of() {
	sed -n 's/^TINYSTACK-GUEST-LEASE if=eth0 ip=\([0-9.]*\) .*/\1/p' | tail -n 1
}
# fixed_ip NAME: the one fixed IP of the server's one port.
fixed_ip() {
	curl -s -H "X-Auth-Token: $TOK" \
	    "http://127.0.0.1:$NP/v2.0/ports?device_id=${SID[$1]}" |
	    jq -r 'if (.ports | length) == 1 and (.ports[0].fixed_ips | length) == 1
		then .ports[0].fixed_ips[0].ip_address else empty end'
}
# status NAME: the server's status, from the compute API.
status() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers/${SID[$1]}" |
	    jq -r '.server.status'
}
# create NAME HOST USERDATA NIC-ARGS...: `server create --wait` on fake
# host HOST (the admin's zone:host); its output in $T/create-NAME.txt.
# Runs in the background too (several guests boot at once).
create() {
	local name=$1 n=$2 ud=$3
	shift 3
	openstack server create --flavor m1.gn --image "$IID" \
		--availability-zone "nova:h$n" --user-data "$ud" "$@" \
		--wait "$name" > "$T/create-$name.txt" 2>&1 ||
		echo "CREATE-FAILED" >> "$T/create-$name.txt"
}
# created NAME HOST: after create, the id recorded; ACTIVE, running on
# HOST, the guest's DHCP lease on its console equal to its port's fixed
# IP. Sets IP (that address).
created() {
	local name=$1 n=$2 sid l
	grep -q CREATE-FAILED "$T/create-$name.txt" &&
		{ cat "$T/create-$name.txt"; fail "server create $name"; }
	sid=$(awk -F'|' '$2 ~ /^ id / { gsub(/ /, "", $3); print $3 }' "$T/create-$name.txt")
	[ -n "$sid" ] || { cat "$T/create-$name.txt"; fail "no server id for $name"; }
	SID[$name]=$sid
	[ "$(status "$name")" = ACTIVE ] || fail "$name not ACTIVE after create --wait"
	[ "$(lv "$n" domstate "instance-$sid" | head -n 1)" = running ] ||
		fail "$name is not running on h$n"
	IP=$(fixed_ip "$name")
	[ -n "$IP" ] || fail "$name has no fixed IP"
	wait_for "$BOOT_TIMEOUT" "$name's DHCP lease on its console" \
		has_line "$name" '^TINYSTACK-GUEST-LEASE if=eth0 '
	l=$(console "$name" | lease_of)
	[ "$l" = "$IP" ] || fail "$name leased '$l', its port has $IP"
}
# pinged NAME ADDR: waits for the guest's verdict on ADDR; true if OK.
pinged() {
	wait_for "$BOOT_TIMEOUT" "$1's ping of $2" \
		has_line "$1" "^TINYSTACK-GUEST-PING-(OK|FAIL) ip=$2 "
	has_line "$1" "^TINYSTACK-GUEST-PING-OK ip=$2 "
}

# ---- one guest: its DHCP lease is its port's address ----------------------------
# gnvm2's address is chosen now, so that gnvm1 can be told to ping it.
IP2=10.66.10.50
printf 'TINYSTACK-USERDATA-VM1\nTINYSTACK-PING %s 150\nTINYSTACK-HTTPD\n' "$IP2" > "$T/ud1"
t0=$(date +%s.%N)
create gnvm1 1 "$T/ud1" --network gnnet1
created gnvm1 1
t1=$(date +%s.%N)
IP1=$IP
L=$(openstack console log show gnvm1 | lease_of)
[ "$L" = "$IP1" ] || fail "openstack console log show gnvm1: lease '$L', not $IP1"
curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers/${SID[gnvm1]}/ips" |
	jq -e --arg ip "$IP1" '.addresses.gnnet1[0].addr == $ip' >/dev/null ||
	fail "/servers/gnvm1/ips does not list $IP1 on gnnet1"
ok "gnvm1 ACTIVE on h1, gnnet1; openstack console log show: DHCP lease $L = its port's fixed IP ($(echo "$t1 - $t0" | bc) s from create)"

# ---- two more guests on that network, one on h1, one on h2, at once ------------
# gnvm2 also pings the external network's gateway in a loop: it fails
# until the router (much later) gives gnnet1 a way out (SNAT, below).
XGW=172.24.4.1
printf 'TINYSTACK-USERDATA-VM2\nTINYSTACK-PING %s 60\nTINYSTACK-PINGLOOP %s\n' \
	"$IP1" "$XGW" > "$T/ud2"
# gnvm4 serves its page and echoes lines on tcp/$ECHOP (floating IPs, below).
ECHOP=7007
printf 'TINYSTACK-USERDATA-VM4\nTINYSTACK-PING %s 60\nTINYSTACK-PING %s 60\nTINYSTACK-HTTPD\nTINYSTACK-ECHO %s\n' \
	"$IP1" "$IP2" "$ECHOP" > "$T/ud4"
create gnvm2 1 "$T/ud2" --nic "net-id=$NET1,v4-fixed-ip=$IP2" &
C2=$!
create gnvm4 2 "$T/ud4" --network gnnet1 &
C4=$!
# gnvm5 asks the metadata service, and pings gnvm1 in a loop (below).
printf 'TINYSTACK-USERDATA-VM5\nTINYSTACK-METADATA\nTINYSTACK-PINGLOOP %s\n' \
	"$IP1" > "$T/ud5"
create gnvm5 1 "$T/ud5" --network gnnet1 --key-name gnkey &
C5=$!
wait $C2 $C4 $C5 || true
created gnvm2 1
[ "$IP" = "$IP2" ] || fail "gnvm2's port has $IP, not $IP2"
created gnvm4 2
IP4=$IP
pinged gnvm2 "$IP1" || fail "gnvm2 cannot ping gnvm1 ($IP1)"
pinged gnvm1 "$IP2" || fail "gnvm1 cannot ping gnvm2 ($IP2)"
ok "gnvm2 (fixed IP) leased $IP2; gnvm1 and gnvm2 ping each other over gnnet1 on h1"
pinged gnvm4 "$IP1" || fail "gnvm4 on h2 cannot ping gnvm1 on h1 ($IP1)"
pinged gnvm4 "$IP2" || fail "gnvm4 on h2 cannot ping gnvm2 on h1 ($IP2)"
ok "gnvm4 on h2, gnnet1: leased $IP4 from h2's dnsmasq, pings gnvm1 and gnvm2 on h1 over VXLAN"

# ---- the metadata service: key pair and user_data ----------------------------------
created gnvm5 1
wait_for "$BOOT_TIMEOUT" "gnvm5's last metadata fetch" \
	has_line gnvm5 '^TINYSTACK-GUEST-MD-(KEY |FAIL what=openssh-key)'
console gnvm5 | grep '^TINYSTACK-GUEST-MD' > "$T/md5.txt"
grep -q '^TINYSTACK-GUEST-MD-FAIL' "$T/md5.txt" &&
	{ cat "$T/md5.txt"; fail "gnvm5 could not fetch from the metadata service"; }
U=$(sed -n 's/^TINYSTACK-GUEST-MD uuid=//p' "$T/md5.txt")
[ "$U" = "${SID[gnvm5]}" ] ||
	fail "meta_data.json gave gnvm5 uuid '$U', the server is ${SID[gnvm5]}"
[ "$(sed -n 's/^TINYSTACK-GUEST-MD-USERDATA //p' "$T/md5.txt")" = TINYSTACK-USERDATA-VM5 ] ||
	{ cat "$T/md5.txt"; fail "gnvm5's user_data from the metadata service"; }
K=$(sed -n 's/^TINYSTACK-GUEST-MD-KEY //p' "$T/md5.txt")
KP=$(openstack keypair show --public-key gnkey | head -n 1)
[ "$K" = "$(head -n 1 "$T/gnkey.pub")" ] && [ "$K" = "$KP" ] ||
	fail "gnvm5's openssh-key '$K' is not key pair gnkey's '$KP'"
ok "gnvm5 (h1, key pair gnkey) from http://169.254.169.254/ over its option-121 route: meta_data.json uuid = its id, user_data as given, EC2 openssh-key = gnkey's public key"

# ---- another network, the same CIDR: no way across --------------------------------
openstack network create gnnet2 >/dev/null || fail "network create gnnet2"
openstack subnet create --network gnnet2 --subnet-range 10.66.10.0/24 \
	gnsub2 >/dev/null || fail "subnet create gnsub2 (overlapping CIDR)"
NET2=$(net gnnet2 id)
[ "$(net gnnet2 provider:segmentation_id)" != "$(net gnnet1 provider:segmentation_id)" ] ||
	fail "gnnet1 and gnnet2 share a VNI"
# gnvm3 has gnvm1's very address, on gnnet2; it tries gnvm2 (up and
# answering gnvm1 and gnvm4, above) 10 times.
printf 'TINYSTACK-USERDATA-VM3\nTINYSTACK-PING %s 10\nTINYSTACK-HOTPLUG\n' "$IP2" > "$T/ud3"
create gnvm3 1 "$T/ud3" --nic "net-id=$NET2,v4-fixed-ip=$IP1"
created gnvm3 1
[ "$IP" = "$IP1" ] || fail "gnvm3's port has $IP, not $IP1"
pinged gnvm3 "$IP2" && fail "gnvm3 on gnnet2 reached gnvm2 on gnnet1"
ok "gnvm3 on gnnet2 (same CIDR, VNI of its own) leased gnvm1's address $IP1 and cannot reach gnvm2"

# ---- a NIC hot-plugged into the running guest ---------------------------------------
openstack network create gnnet3 >/dev/null || fail "network create gnnet3"
openstack subnet create --network gnnet3 --subnet-range 10.66.30.0/24 \
	gnsub3 >/dev/null || fail "subnet create gnsub3"
openstack server add network gnvm3 gnnet3 || fail "server add network gnvm3 gnnet3"
IP3B=$(curl -s -H "X-Auth-Token: $TOK" \
    "http://127.0.0.1:$NP/v2.0/ports?device_id=${SID[gnvm3]}&network_id=$(net gnnet3 id)" |
    jq -r 'if (.ports | length) == 1 then .ports[0].fixed_ips[0].ip_address else empty end')
[ -n "$IP3B" ] || fail "gnvm3 has no one port on gnnet3"
wait_for "$BOOT_TIMEOUT" "gnvm3's new NIC eth1 in the guest" \
	has_line gnvm3 '^TINYSTACK-GUEST-NIC if=eth1 .*hotplug=1'
wait_for 60 "gnvm3's DHCP lease on eth1" \
	has_line gnvm3 '^TINYSTACK-GUEST-LEASE if=eth1 '
L=$(console gnvm3 | sed -n 's/^TINYSTACK-GUEST-LEASE if=eth1 ip=\([0-9.]*\) .*/\1/p' | tail -n 1)
[ "$L" = "$IP3B" ] || fail "gnvm3's hot-plugged eth1 leased '$L', its port has $IP3B"
[ "$(lv 1 domiflist "instance-${SID[gnvm3]}" | grep -c ' bridge ')" = 2 ] ||
	fail "gnvm3's domain does not have 2 bridge interfaces: $(lv 1 domiflist "instance-${SID[gnvm3]}")"
ok "server add network gnvm3 gnnet3: qemu hot-plugged eth1 into the running guest, which leased its new port's $IP3B"

# ---- healing with live guests: agent restart, dnsmasq killed, bridge deleted ------
NS1=$NSP-h1
BR=tsb$(echo "$NET1" | tr -d - | cut -c1-11)
DPID=$T/h1dhcp/$NET1/pid
[ -f "$DPID" ] || fail "no dnsmasq pid file $DPID on h1"
# within SECS WHAT CMD...: wait_for bounded by the clock, not by a count
# of tries (these checks cost a second each on a busy machine).
within() {
	local secs=$1 what=$2 end=$((SECONDS + $1))
	shift 2
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	fail "timed out after ${secs}s waiting for: $what"
}
# The taps of gnvm1, gnvm2 and gnvm5 on h1 (tap + 11 hex of the port id).
TAPS=$(curl -s -H "X-Auth-Token: $TOK" \
    "http://127.0.0.1:$NP/v2.0/ports?network_id=$NET1" |
    jq -r --arg a "${SID[gnvm1]}" --arg b "${SID[gnvm2]}" --arg c "${SID[gnvm5]}" \
	'.ports[] | select(.device_id == $a or .device_id == $b or .device_id == $c) |
	 "tap" + (.id | gsub("-"; ""))[0:11]')
[ "$(echo "$TAPS" | wc -w)" = 3 ] || fail "the taps of gnvm1, gnvm2, gnvm5: '$TAPS'"
# round NAME ADDR: the last round of NAME's ping loop to ADDR (0: none).
round() {
	local r
	r=$(console "$1" | sed -n "s/^TINYSTACK-GUEST-PINGLOOP ip=$2 n=\([0-9]*\) .*/\1/p" | tail -n 1)
	echo "${r:-0}"
}
# ok_after NAME ADDR N: NAME's loop reached ADDR in a round after N.
ok_after() {
	console "$1" | awk -v a="ip=$2" -v n="$3" '
		$1 == "TINYSTACK-GUEST-PINGLOOP" && $2 == a && $4 == "ok" {
			split($3, f, "="); if (f[2] + 0 > n + 0) found = 1 }
		END { exit !found }'
}
# taps_on_bridge: h1's bridge of gnnet1 exists, up, with the taps of
# gnvm1, gnvm2 and gnvm5 on it.
taps_on_bridge() {
	local p m
	ip -n "$NS1" link show "$BR" 2>/dev/null | grep -q ',UP' || return 1
	m=$(ip -n "$NS1" -o link show master "$BR" 2>/dev/null)
	for p in $TAPS; do
		case "$m" in *" $p:"*|*" $p@"*) ;; *) return 1 ;; esac
	done
}
# dnsmasq_up [OLD]: h1's dnsmasq of gnnet1 runs (with a pid other than OLD).
dnsmasq_up() {
	local p
	p=$(cat "$DPID" 2>/dev/null)
	[ -n "$p" ] && [ "$p" != "${1:-}" ] && kill -0 "$p" 2>/dev/null &&
		tr '\0' ' ' < "/proc/$p/cmdline" | grep -q -- "--pid-file=$DPID"
}
within 60 "gnvm5's ping loop to gnvm1" ok_after gnvm5 "$IP1" 0
taps_on_bridge || fail "h1's bridge $BR does not carry the guests' taps"

# healed WHAT: h1 converged, then gnvm5 reaches gnvm1 in a later round.
healed() {
	local r0 t0=$SECONDS
	within 60 "h1's bridge $BR back with the guests' taps ($1)" taps_on_bridge
	within 60 "h1's dnsmasq of gnnet1 running ($1)" dnsmasq_up
	r0=$(round gnvm5 "$IP1")
	within 60 "gnvm5 pinging gnvm1 again after round $r0 ($1)" \
		ok_after gnvm5 "$IP1" "$r0"
	HEAL_S=$((SECONDS - t0))
}

# 1. The agent of h1 restarted: it adopts the bridge, the VXLAN device and
# dnsmasq as it finds them.
P=$(pid_of agent-h1)
kill "$P"
within 30 "h1's agent to exit" eval "! kill -0 $P 2>/dev/null"
D0=$(cat "$DPID")
start agent-h1 "$T/agent-h1-in-ns" "$T/agent-h1.conf"
within 30 "h1 up again" is_state h1 up
healed "agent restarted"
ok "h1's agent restarted: bridge, taps and dnsmasq in place (dnsmasq pid $D0 -> $(cat "$DPID")), gnvm5 pings gnvm1 ($HEAL_S s)"

# 2. h1's dnsmasq of gnnet1 killed: the agent starts another.
D0=$(cat "$DPID")
kill "$D0"
within 30 "h1's dnsmasq $D0 to exit" eval "! kill -0 $D0 2>/dev/null"
within 60 "a new dnsmasq on h1" dnsmasq_up "$D0"
healed "dnsmasq killed"
ok "h1's dnsmasq $D0 killed: the agent started $(cat "$DPID"), gnvm5 pings gnvm1 ($HEAL_S s)"

# 3. The network's bridge deleted by hand in h1's namespace: the agent
# recreates it and puts the running guests' taps back on it.
r0=$(round gnvm5 "$IP1")
ip -n "$NS1" link del "$BR" || fail "ip link del $BR in $NS1"
healed "bridge deleted"
F=$(console gnvm5 | awk -v a="ip=$IP1" -v n="$r0" '
	$1 == "TINYSTACK-GUEST-PINGLOOP" && $2 == a && $4 == "fail" {
		split($3, f, "="); if (f[2] + 0 > n + 0) c++ }
	END { print c + 0 }')
ok "h1's bridge $BR deleted by hand: back with gnvm1, gnvm2 and gnvm5's taps on it, dnsmasq running; gnvm5 pings gnvm1 again ($F rounds failed, $HEAL_S s)"

# ---- floating IPs and security groups, seen from the outside (issue 13) ----------
# $NSP-ext (packaging/fakehost.sh) holds 172.24.4.1 on br-ex, joined to each
# host's ex0: the external network "public" (physical network public).
EXT=$NSP-ext
# Counters in $EXT of what arrives from gnnet1 (the ping loop of gnvm2,
# which has no floating IP): "fixed" counts any packet whose source is still
# a fixed IP of gnnet1's subnet (it must stay 0), "gw" (added once the
# router's gateway address is known) echo requests from that address.
ip netns exec "$EXT" nft -f - <<N || fail "nft counters in $EXT"
table ip gntest {
	chain in {
		type filter hook input priority 0; policy accept;
		ip saddr 10.66.10.0/24 counter comment "fixed"
	}
}
N
# counter NAME: packets of $EXT's counter NAME.
counter() {
	ip netns exec "$EXT" nft list chain ip gntest in |
	    sed -n "s/.* counter packets \([0-9]*\) .*comment \"$1\".*/\1/p"
}
openstack network create --external --provider-network-type flat \
	--provider-physical-network public gnpublic >/dev/null || fail "network create gnpublic"
openstack subnet create --network gnpublic --no-dhcp --subnet-range 172.24.4.0/24 \
	--gateway 172.24.4.1 --allocation-pool start=172.24.4.10,end=172.24.4.250 \
	gnpubsub >/dev/null || fail "subnet create gnpubsub"
RID=$(openstack router create gnr1 -f value -c id) || fail "router create"
openstack router set --external-gateway gnpublic gnr1 || fail "router set --external-gateway"
openstack router add subnet gnr1 "$(openstack subnet list --network gnnet1 -f value -c ID)" ||
	fail "router add subnet"
GW=$(curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$NP/v2.0/routers?name=gnr1" |
    jq -r '.routers[0].external_gateway_info.external_fixed_ips[0].ip_address // empty')
[ -n "$GW" ] || fail "gnr1 has no gateway address on gnpublic"
ip netns exec "$EXT" nft add rule ip gntest in ip saddr "$GW" icmp type echo-request \
	counter comment '"gw"' || fail "nft counter of $GW in $EXT"
# Rounds of gnvm2's loop to $XGW from now on may pass through the router.
R2=$(round gnvm2 "$XGW")
# gnvm6 asks for no floating IP: auto_assign_floating_ip gives it one from
# default_floating_pool gnpublic, now that gnnet1 has a router to it. It
# boots on h2 while the checks below run.
# (TINYSTACK-ROOTMARK: each boot writes its id at the root disk's start,
# read by the resize revert below)
printf 'TINYSTACK-USERDATA-VM6\nTINYSTACK-HTTPD\nTINYSTACK-ROOTMARK\n' > "$T/ud6"
create gnvm6 2 "$T/ud6" --network gnnet1 &
C6=$!
FIP1=$(openstack floating ip create gnpublic -f value -c floating_ip_address)
FIP4=$(openstack floating ip create gnpublic -f value -c floating_ip_address)
[ -n "$FIP1" ] && [ -n "$FIP4" ] || fail "floating ip create: '$FIP1' '$FIP4'"
openstack server add floating ip gnvm1 "$FIP1" || fail "server add floating ip gnvm1"
openstack server add floating ip gnvm4 "$FIP4" || fail "server add floating ip gnvm4"
pings_ext() { ip netns exec "$EXT" ping -c 1 -W 1 "$1" >/dev/null 2>&1; }
# Witness first: $EXT's ARP for the floating IP is answered (the address
# is wired on h1's router), so a ping that fails is refused by the group.
arp_ok() { pings_ext "$1"; ip -n "$EXT" neigh show "$1" | grep -q lladdr; }
within 60 "ARP for $FIP1 answered in $EXT (wired on h1)" arp_ok "$FIP1"
pings_ext "$FIP1" && fail "$FIP1 answers ICMP from outside though no rule allows it"
openstack security group rule create --proto icmp --remote-ip 172.24.4.0/24 default \
	-f value -c id > "$T/icmp-rule" || fail "security group rule create icmp"
t0=$SECONDS
within 30 "gnvm1 through $FIP1 (h1)" pings_ext "$FIP1"
within 30 "gnvm4 through $FIP4 (h2)" pings_ext "$FIP4"
ok "router gnr1 (gnnet1 to gnpublic); $FIP1 -> gnvm1 on h1 and $FIP4 -> gnvm4 on h2 answer $EXT's ping once an ICMP rule allows it ($((SECONDS - t0)) s), not before"
openstack security group rule delete "$(cat "$T/icmp-rule")" || fail "rule delete"
within 30 "the ICMP rule's removal to take effect" eval '! pings_ext "$FIP1"'
openstack security group rule create --proto icmp --remote-ip 172.24.4.0/24 default \
	>/dev/null || fail "security group rule create icmp (again)"
within 30 "gnvm1 through $FIP1 again" pings_ext "$FIP1"
ok "rule deleted: $FIP1 silent; rule back: answers"

# tcp/80 through the floating IPs, allowed from $XGW alone. The page
# carries the server's uuid: it is that guest that answers.
for v in gnvm1 gnvm4; do
	has_line "$v" "^TINYSTACK-GUEST-HTTPD port=80 uuid=${SID[$v]} " ||
		fail "$v's httpd is not listening"
done
# page ADDR ID [SRC]: http://ADDR/ from $EXT (source SRC, else $XGW) is the
# page of server ID.
page() {
	ip netns exec "$EXT" curl -s --max-time 3 --interface "${3:-$XGW}" "http://$1/" |
	    grep -q "^TINYSTACK-PAGE uuid=$2 "
}
# timed_out ADDR SRC: http://ADDR/ from SRC in $EXT gets no answer at all
# (curl's 28: dropped, neither reset nor served).
timed_out() {
	local rc=0
	ip netns exec "$EXT" curl -s -o /dev/null --max-time 3 --interface "$2" \
	    "http://$1/" || rc=$?
	[ "$rc" = 28 ] || { echo "curl http://$1/ from $2: exit $rc" >&2; return 1; }
}
# (the ping above is the witness: $FIP1 is wired, the group allows ICMP)
timed_out "$FIP1" "$XGW" || fail "$FIP1's tcp/80 is not dropped before a rule allows it"
openstack security group rule create --proto tcp --dst-port 80 --remote-ip "$XGW/32" \
	default >/dev/null || fail "security group rule create tcp/80"
t0=$SECONDS
within 30 "gnvm1's page through $FIP1" page "$FIP1" "${SID[gnvm1]}"
within 30 "gnvm4's page through $FIP4" page "$FIP4" "${SID[gnvm4]}"
t1=$((SECONDS - t0))
# A second source in $EXT: the ICMP rule (172.24.4.0/24) lets it ping, the
# tcp/80 rule (only $XGW/32) does not let it in.
XSRC=172.24.4.3
ip -n "$EXT" addr add "$XSRC/24" dev br-ex || fail "ip addr add $XSRC in $EXT"
pings_from() { ip netns exec "$EXT" ping -c 1 -W 1 -I "$2" "$1" >/dev/null 2>&1; }
within 30 "$FIP1 answering $XSRC's ping" pings_from "$FIP1" "$XSRC"
timed_out "$FIP1" "$XSRC" || fail "$FIP1's tcp/80 from $XSRC is not dropped (rule allows $XGW/32 only)"
page "$FIP1" "${SID[gnvm1]}" || fail "gnvm1's page from $XGW after $XSRC's try"
ok "tcp/80 rule from $XGW/32: $EXT gets gnvm1's page through $FIP1 (h1) and gnvm4's through $FIP4 (h2) ($t1 s), dropped before the rule, and dropped from $XSRC which pings $FIP1"

# An established session is cut when the rule that let it in goes.
# echo_once: a new session to gnvm4's echo service through $FIP4 echoes.
echo_once() {
	echo gn-probe | timeout 5 ip netns exec "$EXT" busybox nc "$FIP4" "$ECHOP" 2>/dev/null |
	    grep -qx gn-probe
}
has_line gnvm4 "^TINYSTACK-GUEST-ECHO port=$ECHOP" || fail "gnvm4's echo service is not started"
openstack security group rule create --proto tcp --dst-port "$ECHOP" --remote-ip 172.24.4.0/24 \
	default -f value -c id > "$T/echo-rule" || fail "security group rule create tcp/$ECHOP"
within 30 "a session to gnvm4's tcp/$ECHOP through $FIP4" echo_once
coproc EC { exec ip netns exec "$EXT" busybox nc "$FIP4" "$ECHOP" 2> "$T/echo-nc.err"; }
ECPID=$EC_PID ECR=${EC[0]} ECW=${EC[1]}
# send LINE: to the session. (No subshell: a coprocess's descriptors are
# closed in subshells; a session that died is no SIGPIPE for us.)
send() {
	trap '' PIPE
	echo "$1" 2>/dev/null >&"$ECW" || true
	trap - PIPE
}
l=
send gn-line-1
read -t 10 -r l 2>/dev/null <&"$ECR" || true
[ "$l" = gn-line-1 ] || fail "the echo session through $FIP4 answered '$l', not gn-line-1"
openstack security group rule delete "$(cat "$T/echo-rule")" || fail "rule delete tcp/$ECHOP"
# The rule is out of the kernel once new sessions fail (the agent cuts the
# tracked ones right after); tcp/80 of the same guest is the witness that
# the path still works.
within 30 "new sessions to tcp/$ECHOP dropped after the rule's removal" eval '! echo_once'
page "$FIP4" "${SID[gnvm4]}" || fail "gnvm4's page through $FIP4 after tcp/$ECHOP's rule went"
l=
send gn-line-2
read -t 5 -r l 2>/dev/null <&"$ECR" || true
[ -z "$l" ] || fail "the established session through $FIP4 still echoed '$l' after its rule was deleted"
kill "$ECPID" 2>/dev/null || true
ECPID=
ok "an echo session through $FIP4 (tcp/$ECHOP rule) echoes; rule deleted: new sessions dropped, the established one cut (no echo in 5 s) while gnvm4's page still loads"

# SNAT: gnvm2 has no floating IP; its pings reach $XGW from the router's
# gateway address $GW, never from its fixed IP.
P2=$(curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$NP/v2.0/ports?device_id=${SID[gnvm2]}" |
    jq -r '.ports[0].id // empty')
[ -n "$P2" ] || fail "gnvm2's port"
[ -z "$(openstack floating ip list --port "$P2" -f value -c ID)" ] ||
	fail "gnvm2 has a floating IP"
within 60 "gnvm2 pinging $XGW after round $R2 (the router's SNAT)" ok_after gnvm2 "$XGW" "$R2"
# Counted from a round that got through on: the router in place. (While
# it was being set up, a packet may leave before its SNAT rule is loaded:
# the agent sets routes before the ruleset; NFIX0 says how many did.)
NGW0=$(counter gw)
NFIX0=$(counter fixed)
r=$(round gnvm2 "$XGW")
within 60 "gnvm2 pinging $XGW again after round $r" ok_after gnvm2 "$XGW" "$r"
NGW=$(counter gw)
NFIX=$(counter fixed)
[ "${NGW:-0}" -gt "${NGW0:-0}" ] || fail "no more echo requests from $GW reached $EXT ($NGW0 -> $NGW)"
[ "$NFIX" = "$NFIX0" ] || fail "$((NFIX - NFIX0)) packets reached $EXT from gnnet1's fixed IPs (no SNAT)"
ok "gnvm2 (no floating IP, fixed $IP2) pings $XGW through gnr1: $EXT saw echo requests from the router's gateway $GW ($NGW0 -> $NGW), none from 10.66.10.0/24 in that time ($NFIX0 before, during set-up)"

openstack server remove floating ip gnvm1 "$FIP1" || fail "server remove floating ip"
within 30 "$FIP1 to stop answering" eval '! pings_ext "$FIP1"'
page "$FIP1" "${SID[gnvm1]}" && fail "gnvm1's page still loads through $FIP1 after its removal"
pings_ext "$FIP4" || fail "gnvm4's $FIP4 stopped answering when gnvm1's went"
page "$FIP4" "${SID[gnvm4]}" || fail "gnvm4's page through $FIP4 stopped when gnvm1's floating IP went"
ok "server remove floating ip: $FIP1 silent to ping and tcp/80, while $FIP4 still answers both"

# ---- auto_assign_floating_ip --------------------------------------------------------
# port_of NAME: the id of the server's one port.
port_of() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$NP/v2.0/ports?device_id=${SID[$1]}" |
	    jq -r 'if (.ports | length) == 1 then .ports[0].id else empty end'
}
wait $C6 || true
created gnvm6 2
P6=$(port_of gnvm6)
[ -n "$P6" ] || fail "gnvm6 has no one port"
FIP6=$(openstack floating ip list --port "$P6" -f value -c "Floating IP Address")
[ -n "$FIP6" ] && [ "$(echo "$FIP6" | wc -l)" = 1 ] ||
	fail "gnvm6's port has not one floating IP: '$FIP6'"
case "$FIP6" in 172.24.4.*) ;; *) fail "gnvm6's floating IP $FIP6 is not of gnpublic" ;; esac
[ -z "$(openstack floating ip list --port "$(port_of gnvm5)" -f value -c ID)" ] ||
	fail "gnvm5 (created before gnpublic existed) has a floating IP"
has_line gnvm6 "^TINYSTACK-GUEST-HTTPD port=80 uuid=${SID[gnvm6]} " ||
	fail "gnvm6's httpd is not listening"
t0=$SECONDS
within 60 "gnvm6's page through its floating IP $FIP6" page "$FIP6" "${SID[gnvm6]}"
ok "auto_assign_floating_ip: gnvm6 (h2), created with no floating IP asked, got $FIP6 from gnpublic; $EXT gets its page through it ($((SECONDS - t0)) s after ACTIVE); gnvm1..5, created before gnpublic existed, were created without"

# ---- live migration between the fake hosts ------------------------------------
# `nova live-migration` (os-migrateLive at the served microversion): the
# target prepares the guest's files, the source's libvirtd migrates it
# peer to peer over the underlay (qemu+tcp://10.250.0.N, the disks
# copied). The guest keeps running: its console on the target goes on
# with the same boot id and a tick counter past the last one seen on the
# source, and no new boot; its page answers through the floating IP from
# $EXT. A migration to a host whose libvirtd is stopped fails and leaves
# it ACTIVE where it was, the target's claim given back.
host_of() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers/${SID[$1]}" |
	    jq -r '.server | "\(.status) \(.["OS-EXT-SRV-ATTR:host"]) \(.["OS-EXT-STS:task_state"])"'
}
# tick NAME: "N BOOTID" of the last second's tick on the console.
tick() {
	console "$1" | sed -n 's/^TINYSTACK-GUEST-TICK n=\([0-9]*\) bootid=\([^ ]*\).*/\1 \2/p' | tail -n 1
}
# used HOST: "vcpus_used memory_mb_used running_vms" of hypervisor HOST.
used() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/os-hypervisors/detail" |
	    jq -r --arg h "$1" '.hypervisors[] | select(.hypervisor_hostname == $h) |
		"\(.vcpus_used) \(.memory_mb_used) \(.running_vms)"'
}
# ticks_on NAME BOOTID N: the console shows a tick of boot BOOTID past N.
ticks_on() {
	local t
	t=$(tick "$1")
	[ "${t#* }" = "$2" ] && [ "${t%% *}" -gt "$3" ]
}
# migrated NAME FROM TO: live-migrates NAME, waits for it ACTIVE on hTO;
# the console goes on (same boot, later tick, no GUEST-UP on the target).
migrated() {
	local name=$1 from=$2 to=$3 t n b t0=$SECONDS
	t=$(tick "$name")
	n=${t%% *}
	b=${t#* }
	[ -n "$n" ] && [ -n "$b" ] || fail "no tick of $name on its console before the migration"
	nova live-migration "${SID[$name]}" "h$to" > "$T/lm-$name.txt" 2>&1 ||
		{ cat "$T/lm-$name.txt"; fail "nova live-migration $name h$to"; }
	within 180 "$name ACTIVE on h$to" eval '[ "$(host_of "$name")" = "ACTIVE h$to null" ]'
	LMSECS=$((SECONDS - t0))
	[ "$(lv "$to" domstate "instance-${SID[$name]}" | head -n 1)" = running ] ||
		fail "$name is not running on h$to after its live migration"
	# (the move ends when the guest runs on the target; the source's
	# libvirtd then stops and undefines its paused copy)
	within 30 "$name undefined on h$from after its live migration" \
	    eval '! lv "$from" list --all --name | grep -qx "instance-${SID[$name]}"'
	within 30 "$name's console on h$to ticking on from $n (boot $b)" ticks_on "$name" "$b" "$n"
	console "$name" | grep '^TINYSTACK-GUEST-UP ' | grep -qv "bootid=$b " &&
		fail "$name booted again on h$to"
	lv "$to" domjobinfo --completed "instance-${SID[$name]}" > "$T/jobinfo-$name-h$to.txt" 2>&1 || true
	LMDOWN=$(sed -n 's/^Total downtime: *\([0-9]*\) *ms.*/\1/p' "$T/jobinfo-$name-h$to.txt")
	[ -n "$LMDOWN" ] || LMDOWN="? ($(head -c 200 "$T/jobinfo-$name-h$to.txt" | tr '\n' ' '))"
	return 0
}
migrated gnvm4 2 1
within 60 "gnvm4's page through $FIP4 from h1" page "$FIP4" "${SID[gnvm4]}"
ok "nova live-migration gnvm4 h1: ACTIVE on h1 in $LMSECS s (downtime ${LMDOWN:-?} ms), gone from h2; its console on h1 ticks on with the same boot id, no new boot; its page still answers through $FIP4"

# A target whose libvirtd is stopped: refused by libvirt, rolled back.
U0=$(used h2)
kill "$(cat "$T/h2/libvirtd.pid")" || fail "stopping h2's libvirtd"
wait_for 30 "h2's libvirtd to stop" eval '! kill -0 "$(cat "$T/h2/libvirtd.pid")"'
A0=$(curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers/${SID[gnvm4]}/os-instance-actions" |
    jq '.instanceActions | length')
nova live-migration "${SID[gnvm4]}" h2 > "$T/lm-fail.txt" 2>&1 ||
	{ cat "$T/lm-fail.txt"; fail "nova live-migration gnvm4 h2 (accepted before it fails)"; }
lm_over() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers/${SID[gnvm4]}/os-instance-actions" |
	    jq -e --argjson n "$A0" '(.instanceActions | length) > $n' >/dev/null &&
	    [ "$(host_of gnvm4)" = "ACTIVE h1 null" ]
}
within 180 "the failed live migration of gnvm4 to be rolled back" lm_over
[ "$(used h2)" = "$U0" ] || fail "h2's usage after the failed migration: $(used h2), before: $U0"
[ "$(lv 1 domstate "instance-${SID[gnvm4]}" | head -n 1)" = running ] ||
	fail "gnvm4 not running on h1 after the failed migration"
grep -q "live migration of ${SID[gnvm4]} from h1 to h2 failed" "$T/ctl.log" ||
	fail "the controller did not log the failed migration"
page "$FIP4" "${SID[gnvm4]}" || fail "gnvm4's page after the failed migration"
"$FH" up "$NSP" 2 "$T/h2" "$BUS" "$IMP" > "$T/fakehost-h2-again.log" 2>&1 ||
	fail "restarting h2's libvirtd: $(cat "$T/fakehost-h2-again.log")"
# What h2 prepared for it (overlays, config drive, the prepared marker)
# goes: the controller's clean-up at the failure found h2's libvirtd down
# (no domain check, nothing removed), so h2's leftover report (prepared
# over 15 s ago, no domain of it) brings it back, level-triggered.
grep -q "instance ${SID[gnvm4]}: prepared for an incoming live migration" "$T/agent-h2.log" ||
	fail "h2 did not prepare gnvm4's files before the failed migration"
t0=$SECONDS
within 90 "h2's directory of gnvm4 removed after the failed migration" eval '[ ! -e "$T/inst-h2/${SID[gnvm4]}" ]'
ok "live migration to h2 with its libvirtd stopped: accepted, then rolled back: gnvm4 ACTIVE and running on h1, its page answering; h2's usage as before ($U0); h2's prepared files of it removed $((SECONDS - t0)) s after its libvirtd came back"

# Aborted (`nova live-migration-abort`, DELETE /servers/{id}/migrations/{mid}
# at 2.24): gnvm4's migrations throttled to 1 MiB/s on h1 (virsh
# migrate-setspeed: the disk copy and the memory then take minutes), the
# abort sent once the migration record is running and h1's libvirtd has
# the job; libvirt's virDomainAbortJob cancels it, the roll-back leaves
# gnvm4 running on h1, the record "cancelled", nothing of it on h2.
U0=$(used h2)
lv 1 migrate-setspeed "instance-${SID[gnvm4]}" 1 || fail "virsh migrate-setspeed on h1"
t0=$SECONDS
nova live-migration "${SID[gnvm4]}" h2 > "$T/lm-abort.txt" 2>&1 ||
	{ cat "$T/lm-abort.txt"; fail "nova live-migration gnvm4 h2 (to abort)"; }
# mid: the id of gnvm4's running live migration (2.23's list), if any.
mid() {
	curl -s -H "X-Auth-Token: $TOK" -H "OpenStack-API-Version: compute 2.24" \
	    "http://127.0.0.1:$CP/v2.1/servers/${SID[gnvm4]}/migrations" |
	    jq -r '[.migrations[] | select(.status == "running")][0].id // empty'
}
lm_job() {
	[ -n "$(mid)" ] &&
	    lv 1 domjobinfo "instance-${SID[gnvm4]}" | grep -Eq '^Job type: +Unbounded'
}
within 120 "gnvm4's live migration to h2 running in h1's libvirtd" lm_job
[ -e "$T/inst-h2/${SID[gnvm4]}/disk" ] || fail "h2 has no prepared root disk of gnvm4 while it migrates there"
MID=$(mid)
nova live-migration-abort "${SID[gnvm4]}" "$MID" > "$T/lm-abort2.txt" 2>&1 ||
	{ cat "$T/lm-abort2.txt"; fail "nova live-migration-abort gnvm4 $MID"; }
within 120 "the aborted live migration of gnvm4 to be rolled back" eval '[ "$(host_of gnvm4)" = "ACTIVE h1 null" ]'
ABSECS=$((SECONDS - t0))
MST=$(curl -s -H "X-Auth-Token: $TOK" -H "OpenStack-API-Version: compute 2.24" \
    "http://127.0.0.1:$CP/v2.1/os-migrations?instance_uuid=${SID[gnvm4]}" |
    jq -r --argjson id "$MID" '.migrations[] | select(.id == $id) | .status')
[ "$MST" = cancelled ] || fail "migration $MID of gnvm4 after the abort: '$MST', not cancelled"
[ "$(lv 1 domstate "instance-${SID[gnvm4]}" | head -n 1)" = running ] ||
	fail "gnvm4 not running on h1 after the aborted migration"
lv 2 list --all --name | grep -qx "instance-${SID[gnvm4]}" &&
	fail "gnvm4 is defined on h2 after the aborted migration"
[ "$(used h2)" = "$U0" ] || fail "h2's usage after the aborted migration: $(used h2), before: $U0"
within 30 "h2's directory of gnvm4 removed after the aborted migration" eval '[ ! -e "$T/inst-h2/${SID[gnvm4]}" ]'
page "$FIP4" "${SID[gnvm4]}" || fail "gnvm4's page after the aborted migration"
lv 1 migrate-setspeed "instance-${SID[gnvm4]}" 8796093022207 || fail "virsh migrate-setspeed back on h1"
ok "nova live-migration-abort gnvm4 $MID (its migration to h2 throttled to 1 MiB/s): rolled back in $ABSECS s, migration cancelled, gnvm4 running on h1 with its page answering, nothing on h2 (not defined, its directory removed), h2's usage as before"

migrated gnvm4 1 2
within 60 "gnvm4's page through $FIP4 from h2 again" page "$FIP4" "${SID[gnvm4]}"
ok "and back: nova live-migration gnvm4 h2: ACTIVE on h2 in $LMSECS s (downtime ${LMDOWN:-?} ms), its console still the same boot, its page answering through $FIP4"

# ---- cold migration between the fake hosts --------------------------------------
# `openstack server migrate` (os-migrate, admin, no host: the scheduler
# prefers another host): h2 stops gnvm4 and uploads its root disk into a
# temporary image, h1 boots it from that image with the same port (its
# page answers through $FIP4 again), VERIFY_RESIZE while h2 keeps the
# stopped guest for a revert; `openstack server migrate confirm` drops it
# and the image. gnvm4 then live-migrates back to h2 (the drain below).
cold_migrated() {
	local name=$1 from=$2 to=$3 t0=$SECONDS
	openstack server migrate "$name" > "$T/cm-$name.txt" 2>&1 ||
		{ cat "$T/cm-$name.txt"; fail "openstack server migrate $name"; }
	within 300 "$name VERIFY_RESIZE on h$to" eval '[ "$(host_of "$name")" = "VERIFY_RESIZE h$to null" ]'
	[ "$(lv "$to" domstate "instance-${SID[$name]}" | head -n 1)" = running ] ||
		fail "$name is not running on h$to after its cold migration"
	[ "$(lv "$from" domstate "instance-${SID[$name]}" | head -n 1)" = "shut off" ] ||
		fail "h$from does not keep $name shut off for a revert"
	within 180 "$name's page through $FIP4 from h$to" page "$FIP4" "${SID[$name]}"
	CMSECS=$((SECONDS - t0))
	openstack server migrate confirm "$name" > "$T/cm-confirm-$name.txt" 2>&1 ||
		{ cat "$T/cm-confirm-$name.txt"; fail "openstack server migrate confirm $name"; }
	within 60 "$name ACTIVE on h$to" eval '[ "$(host_of "$name")" = "ACTIVE h$to null" ]'
	within 60 "$name's stopped copy gone from h$from" eval '! lv "$from" list --all --name | grep -qx "instance-${SID[$name]}"'
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$IMP/v2/images" |
	    jq -e '[.images[] | select(.name | test("-resize-temp$"))] | length == 0' >/dev/null ||
		fail "a temporary resize image is left"
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/os-migrations?instance_uuid=${SID[$name]}" |
	    jq -e --arg f "h$from" --arg t "h$to" '[.migrations[] | select(.status == "confirmed" and
		.source_compute == $f and .dest_compute == $t)] | length == 1' >/dev/null ||
		fail "no confirmed migration h$from -> h$to of $name in os-migrations"
	return 0
}
t0=$SECONDS
cold_migrated gnvm4 2 1
ok "openstack server migrate gnvm4: VERIFY_RESIZE and running on h1 in $CMSECS s (h2 keeping it shut off), its page answering through $FIP4; migrate confirm: ACTIVE on h1, h2's copy and the temporary image gone, os-migrations h2 -> h1 confirmed ($((SECONDS - t0)) s in all)"
migrated gnvm4 1 2
within 60 "gnvm4's page through $FIP4 from h2 after the cold migration" page "$FIP4" "${SID[gnvm4]}"

# ---- resize across hosts, then revert (issue 16) --------------------------------
# `openstack server resize --flavor m1.gn2 gnvm6`: without
# allow_resize_to_same_host the scheduler takes another host, h1; h2 stops
# gnvm6 and keeps it (disk and claim) for a revert, h1 boots it from a copy
# of its root disk with the new flavor: VERIFY_RESIZE. gnvm6's user_data
# has TINYSTACK-ROOTMARK: a boot shows the mark the previous boot of that
# disk left at its start (TINYSTACK-GUEST-DISK vda head=) and writes its
# own. `openstack server resize revert gnvm6`: ACTIVE on h2 with m1.gn
# again, a new boot of h2's kept disk (it finds the mark of gnvm6's boot on
# h2, not that of the boot on h1), h1's copy gone (domain and directory),
# the claims back (os-hypervisors usage of both as before), the migration
# "reverted" in os-migrations, the page through $FIP6 from the new boot.
# lastboot NAME: "BOOT HEAD MARK" of the console's last boot: its boot id,
# the root disk's first bytes it found, the mark it wrote (none yet: "-").
lastboot() {
	console "$1" | awk '
		$1 == "TINYSTACK-GUEST-UP" { b = $2; sub(/^bootid=/, "", b); h = "-"; m = "-" }
		$1 == "TINYSTACK-GUEST-DISK" && $2 == "vda" {
			for (i = 3; i <= NF; i++) if ($i ~ /^head=/) h = substr($i, 6) }
		$1 == "TINYSTACK-GUEST-ROOTMARK" && $2 == "vda" { m = substr($3, 6) }
		END { if (b != "") print b, (h == "" ? "-" : h), m }'
}
# booted_from NAME NOT...: the console's last boot is none of NOT and has
# written its mark; sets LB to its "BOOT HEAD MARK".
booted_from() {
	local b m x
	LB=$(lastboot "$1")
	read -r b _ m <<< "$LB"
	shift
	[ -n "$b" ] && [ "$m" = "TSROOT-$b" ] || return 1
	for x in "$@"; do [ "$b" != "$x" ] || return 1; done
}
RVT0=$SECONDS
openstack flavor create --ram 320 --disk 1 --vcpus 1 --ephemeral 0 \
	m1.gn2 >/dev/null || fail "flavor create m1.gn2"
FL1=$(curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/flavors" |
    jq -r '.flavors[] | select(.name == "m1.gn") | .id')
flavor_of() {
	curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers/${SID[$1]}" | jq -r '.server.flavor.id'
}
[ "$(host_of gnvm6)" = "ACTIVE h2 null" ] || fail "gnvm6 before its resize: $(host_of gnvm6)"
[ "$(flavor_of gnvm6)" = "$FL1" ] || fail "gnvm6's flavor before its resize: $(flavor_of gnvm6), not m1.gn ($FL1)"
within 30 "gnvm6's boot on h2 marking its root disk" booted_from gnvm6
read -r RB1 _ _ <<< "$LB"
RU1=$(used h1)
RU2=$(used h2)
t0=$SECONDS
openstack server resize --flavor m1.gn2 gnvm6 > "$T/rs-gnvm6.txt" 2>&1 ||
	{ cat "$T/rs-gnvm6.txt"; fail "openstack server resize --flavor m1.gn2 gnvm6"; }
within 300 "gnvm6 VERIFY_RESIZE on h1" eval '[ "$(host_of gnvm6)" = "VERIFY_RESIZE h1 null" ]'
[ "$(lv 1 domstate "instance-${SID[gnvm6]}" | head -n 1)" = running ] || fail "gnvm6 is not running on h1 after its resize"
[ "$(lv 2 domstate "instance-${SID[gnvm6]}" | head -n 1)" = "shut off" ] || fail "h2 does not keep gnvm6 shut off for a revert"
within "$BOOT_TIMEOUT" "gnvm6's boot on h1 marking its copy of the disk" booted_from gnvm6 "$RB1"
read -r RB2 RH2 _ <<< "$LB"
[ "$RH2" = "TSROOT-$RB1" ] || fail "gnvm6's boot on h1 found '$RH2' on its disk, not h2's boot's TSROOT-$RB1"
RSS=$((SECONDS - t0))
t0=$SECONDS
openstack server resize revert gnvm6 > "$T/rv-gnvm6.txt" 2>&1 ||
	{ cat "$T/rv-gnvm6.txt"; fail "openstack server resize revert gnvm6"; }
within 180 "gnvm6 ACTIVE on h2 after the revert" eval '[ "$(host_of gnvm6)" = "ACTIVE h2 null" ]'
RVS=$((SECONDS - t0))
[ "$(lv 2 domstate "instance-${SID[gnvm6]}" | head -n 1)" = running ] || fail "gnvm6 is not running on h2 after the revert"
[ "$(flavor_of gnvm6)" = "$FL1" ] || fail "gnvm6's flavor after the revert: $(flavor_of gnvm6), not m1.gn ($FL1)"
within "$BOOT_TIMEOUT" "gnvm6's new boot on h2" booted_from gnvm6 "$RB1" "$RB2"
read -r RB3 RH3 _ <<< "$LB"
[ "$RH3" = "TSROOT-$RB1" ] ||
	fail "gnvm6 on h2 after the revert found '$RH3' on its disk, not TSROOT-$RB1 (h2's kept disk; TSROOT-$RB2: h1's copy)"
within 60 "gnvm6's copy gone from h1" eval '! lv 1 list --all --name | grep -qx "instance-${SID[gnvm6]}"'
within 60 "gnvm6's directory gone from h1" eval '[ ! -e "$T/inst-h1/${SID[gnvm6]}" ]'
[ "$(used h1)" = "$RU1" ] || fail "h1's usage after the revert: $(used h1), before the resize: $RU1"
[ "$(used h2)" = "$RU2" ] || fail "h2's usage after the revert: $(used h2), before the resize: $RU2"
curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/os-migrations?instance_uuid=${SID[gnvm6]}" |
    jq -e '[.migrations[] | select(.status == "reverted" and .source_compute == "h2" and
	.dest_compute == "h1")] | length == 1' >/dev/null ||
	fail "no reverted migration h2 -> h1 of gnvm6 in os-migrations"
curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$IMP/v2/images" |
    jq -e '[.images[] | select(.name | test("-resize-temp$"))] | length == 0' >/dev/null ||
	fail "a temporary resize image is left after the revert"
# rv_page: $FIP6 serves gnvm6's page of boot RB3.
rv_page() {
	ip netns exec "$EXT" curl -s --max-time 3 --interface "$XGW" "http://$FIP6/" |
	    grep -q "^TINYSTACK-PAGE uuid=${SID[gnvm6]} .* bootid=$RB3\$"
}
within 90 "gnvm6's page (boot $RB3) through $FIP6 from h2" rv_page
ok "openstack server resize --flavor m1.gn2 gnvm6: VERIFY_RESIZE on h1 in $RSS s (boot $RB2 from a copy of h2's disk, which held TSROOT-$RB1); resize revert: ACTIVE on h2 with m1.gn in $RVS s, boot $RB3 of h2's kept disk (TSROOT-$RB1, not h1's TSROOT-$RB2), nothing left on h1, usage of h1 ($RU1) and h2 ($RU2) as before, os-migrations h2 -> h1 reverted, its page through $FIP6 ($((SECONDS - RVT0)) s in all)"

# TS_LM_BENCH=N (an even number, not in CI): bench/livemig_bench.sh on
# gnvm4 in this set-up, N migrations between h2 and h1 (docs/PERFORMANCE.md).
if [ -n "${TS_LM_BENCH:-}" ]; then
	RUNS=$TS_LM_BENCH SERVER=${SID[gnvm4]} HOST_A=h2 HOST_B=h1 \
	    URI_A=$("$FH" uri "$T/h2") URI_B=$("$FH" uri "$T/h1") \
	    COMPUTE=http://127.0.0.1:$CP/v2.1 TOKEN=$TOK LOGDIR=$T \
	    "$TS_SOURCE_DIR/bench/livemig_bench.sh" | tee "$T/lmbench.txt" ||
		fail "bench/livemig_bench.sh"
	cp "$T/lmbench.txt" /tmp/lmbench-$$.txt
fi

# Draining h2 as an operator does (tests/integ/drain_host.py: novaclient's
# hypervisors.search(h2, servers=True), then servers.live_migrate() for
# each, no host named): gnvm4 and gnvm6 (both on gnnet1, which h1 has)
# end up ACTIVE on h1, still the same boot, their pages answering.
T4=$(tick gnvm4)
T6=$(tick gnvm6)
t0=$SECONDS
/usr/bin/python3 "$TS_SOURCE_DIR/tests/integ/drain_host.py" h2 240 > "$T/drain.txt" 2> "$T/drain.err" ||
	{ cat "$T/drain.txt" "$T/drain.err"; fail "drain_host.py h2"; }
[ "$(wc -l < "$T/drain.txt")" = 2 ] || { cat "$T/drain.txt"; fail "drain_host.py moved not 2 servers"; }
for v in gnvm4:"$T4" gnvm6:"$T6"; do
	name=${v%%:*}
	t=${v#*:}
	[ "$(host_of "$name")" = "ACTIVE h1 null" ] || fail "$name after the drain: $(host_of "$name")"
	within 30 "$name's console ticking on h1 after the drain" ticks_on "$name" "${t#* }" "${t%% *}"
done
within 60 "gnvm4's page through $FIP4 after the drain" page "$FIP4" "${SID[gnvm4]}"
within 60 "gnvm6's page through $FIP6 after the drain" page "$FIP6" "${SID[gnvm6]}"
within 30 "h2 without guests after the drain" eval '[ -z "$(lv 2 list --all --name)" ]'
ok "drain of h2 (drain_host.py, novaclient): gnvm4 and gnvm6 live-migrated to h1 in $((SECONDS - t0)) s, same boots, pages answering through $FIP4 and $FIP6; h2 has no guest left"

# TS_DRAIN_BENCH=N (not in CI): bench/drain_bench.sh in this set-up, h2
# empty now: N guests booted on h2, drained to h1 by drain_host.py, checked
# and deleted (docs/PERFORMANCE.md).
if [ -n "${TS_DRAIN_BENCH:-}" ]; then
	# (pipefail: the bench's status, not tee's)
	(set -o pipefail
	N=$TS_DRAIN_BENCH HOST_A=h2 HOST_B=h1 \
	    URI_A=$("$FH" uri "$T/h2") URI_B=$("$FH" uri "$T/h1") \
	    COMPUTE=http://127.0.0.1:$CP/v2.1 TOKEN=$TOK IMAGE=$IID NET=$NET1 \
	    FLAVOR=$(openstack flavor show m1.gn -f value -c id) \
	    "$TS_SOURCE_DIR/bench/drain_bench.sh" | tee "$T/drainbench.txt") ||
		fail "bench/drain_bench.sh"
	cp "$T/drainbench.txt" "/tmp/drainbench-$$.txt"
	ok "bench/drain_bench.sh: $(grep '^drain of' "$T/drainbench.txt")"
fi

# ---- evacuation of a crashed host (issue 16) -------------------------------
# h1's agent and libvirtd killed -9 while its qemu guests run on (a
# crashed control plane, or an agent cut off by a partition: the hard
# case for fencing), h1 forced
# down (`compute service set --down`, 2.11), `nova evacuate gnvm4 h2`:
# rebuilt on h2 from its image (a new boot) with the same port, fixed IP
# and floating IP; the old qemu guest still runs on h1 meanwhile. h1's
# agent restarted: the controller fences the stale copy on the agent's
# first report (its hello): destroyed and undefined on h1, never ensured
# there, never counted for h1 (running_vms is the claims) nor taken for
# the server, which stays ACTIVE on h2 with the same boot; h1's other
# guests untouched; `compute service set --up` returns h1 to service.
# Then $FIP4 serves the new guest's page (its boot id) to $EXT.
# Meanwhile h2's router, given $FIP4, announces it (gratuitous ARP):
# $EXT's entry moves from h1's qg MAC to h2's (counted in $EXT: frames
# with sender = target = $FIP4), though $EXT sends nothing to $FIP4.
EVT0=$SECONDS
RHEX=$(echo "$RID" | tr -d - | cut -c1-11)
# qgmac N: the MAC of gnr1's qg on hN; ext_mac ADDR: $EXT's entry of ADDR.
# hN's agent runs under `ip netns exec`, in a mount namespace of its own
# (slave to ours): the router namespaces it adds are bound there, so they
# are read from inside it.
qgmac() {
	nsenter --mount="/proc/$(pid_of "agent-h$1")/ns/mnt" \
	    ip -n "tsr-$RHEX-h$1" -o link show "qg-$RHEX" 2>/dev/null |
	    sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}
ext_mac() { ip -n "$EXT" neigh show "$1" | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p'; }
M1=$(qgmac 1)
[ -n "$M1" ] && [ "$(ext_mac "$FIP4")" = "$M1" ] ||
	fail "$EXT's entry of $FIP4 is '$(ext_mac "$FIP4")', not h1's qg MAC '$M1', before the evacuation"
ip netns exec "$EXT" nft -f - <<N || fail "nft arp counter in $EXT"
table arp gngarp {
	chain in {
		type filter hook input priority 0; policy accept;
		arp saddr ip $FIP4 arp daddr ip $FIP4 counter comment "garp"
	}
}
N
garps() { ip netns exec "$EXT" nft list table arp gngarp | sed -n 's/.* counter packets \([0-9]*\) .*/\1/p'; }
P4=$(port_of gnvm4)
[ -n "$P4" ] || fail "gnvm4 has no one port"
# pboot NAME: the boot id on NAME's console's last GUEST-UP or TICK line
# (a guest that came by live migration has no GUEST-UP on this host's
# console, only ticks).
pboot() {
	console "$1" | sed -n 's/^TINYSTACK-GUEST-\(UP\|TICK\) .*bootid=\([^ ]*\).*/\2/p' | tail -n 1
}
B0=$(pboot gnvm4)
[ -n "$B0" ] || fail "no boot id of gnvm4 on its console"
[ "$(host_of gnvm4)" = "ACTIVE h1 null" ] || fail "gnvm4 before the evacuation: $(host_of gnvm4)"
OTHERS="gnvm1 gnvm2 gnvm3 gnvm5 gnvm6"
U1=$(used h1)
U2=$(used h2)
PA=$(pid_of agent-h1)
PL=$(cat "$T/h1/libvirtd.pid")
kill -9 "$PA" "$PL"
within 30 "h1's agent to die" dead "$PA"
within 30 "h1's libvirtd to die" dead "$PL"
openstack --os-compute-api-version 2.11 compute service set --down h1 nova-compute ||
	fail "compute service set --down h1 nova-compute"
within 30 "h1 forced down" is_state h1 down
curl -s -H "X-Auth-Token: $TOK" -H 'OpenStack-API-Version: compute 2.11' \
    "http://127.0.0.1:$CP/v2.1/os-services?host=h1&binary=nova-compute" |
	jq -e '.services[0].forced_down == true and .services[0].state == "down"' >/dev/null ||
	fail "h1 is not forced down at 2.11"
ev_t0=$(date +%s.%N)
nova evacuate "${SID[gnvm4]}" h2 > "$T/evac-gnvm4.txt" 2>&1 ||
	{ cat "$T/evac-gnvm4.txt"; fail "nova evacuate gnvm4 h2"; }
within 180 "gnvm4 ACTIVE on h2 after its evacuation" eval '[ "$(host_of gnvm4)" = "ACTIVE h2 null" ]'
ev_t1=$(date +%s.%N)
# moved: $EXT's entry of $FIP4 names h2's qg MAC, told by gratuitous ARP.
moved() { M2=$(qgmac 2); [ -n "$M2" ] && [ "$(ext_mac "$FIP4")" = "$M2" ] && [ "$(garps)" -gt 0 ]; }
within 60 "$EXT's entry of $FIP4 moved to h2's qg by gratuitous ARP" moved
ev_tg=$(date +%s.%N)
[ "$M2" != "$M1" ] || fail "h1 and h2's qg share the MAC $M1"
# newboot: gnvm4's console (now h2's) shows a boot other than B0's.
newboot() { local b; b=$(pboot gnvm4); [ -n "$b" ] && [ "$b" != "$B0" ]; }
within "$BOOT_TIMEOUT" "gnvm4's new boot on h2's console" newboot
ev_t2=$(date +%s.%N)
B1=$(pboot gnvm4)
within "$BOOT_TIMEOUT" "gnvm4's DHCP lease on h2" has_line gnvm4 '^TINYSTACK-GUEST-LEASE if=eth0 '
ev_t3=$(date +%s.%N)
[ "$(console gnvm4 | lease_of)" = "$IP4" ] || fail "gnvm4 on h2 leased '$(console gnvm4 | lease_of)', not its $IP4"
[ "$(port_of gnvm4)" = "$P4" ] || fail "gnvm4's port after the evacuation: '$(port_of gnvm4)', not $P4"
[ "$(fixed_ip gnvm4)" = "$IP4" ] || fail "gnvm4's fixed IP after the evacuation: '$(fixed_ip gnvm4)'"
[ "$(curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$NP/v2.0/ports/$P4" | jq -r '.port["binding:host_id"]')" = h2 ] ||
	fail "gnvm4's port is not bound to h2"
[ "$(openstack floating ip list --port "$P4" -f value -c "Floating IP Address")" = "$FIP4" ] ||
	fail "gnvm4's port lost its floating IP $FIP4"
[ "$(lv 2 domstate "instance-${SID[gnvm4]}" | head -n 1)" = running ] || fail "gnvm4 is not running on h2"
# The hard case: h1's qemu still runs the old guest (a libvirtd killed -9
# leaves its guests running); h1's libvirtd restarted finds it again.
"$FH" up "$NSP" 1 "$T/h1" "$BUS" "$IMP" > "$T/fakehost-h1-again.log" 2>&1 ||
	fail "restarting h1's libvirtd: $(cat "$T/fakehost-h1-again.log")"
[ "$(lv 1 domstate "instance-${SID[gnvm4]}" | head -n 1)" = running ] ||
	fail "the old gnvm4 is not running on h1 (the partitioned agent's guest should be)"
curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1/servers/${SID[gnvm4]}/os-instance-actions" |
	jq -e '.instanceActions[0].action == "evacuate"' >/dev/null || fail "no evacuate action on gnvm4"
# Usage moved: one server's less on h1, one more on h2 (vCPUs, MiB, servers).
read -r a b c <<< "$U1"
[ "$(used h1)" = "$((a - 1)) $((b - 256)) $((c - 1))" ] || fail "h1's usage after the evacuation: $(used h1), before: $U1"
read -r a b c <<< "$U2"
[ "$(used h2)" = "$((a + 1)) $((b + 256)) $((c + 1))" ] || fail "h2's usage after the evacuation: $(used h2), before: $U2"
EVS=$(echo "$ev_t1 - $ev_t0" | bc)
EVB=$(echo "$ev_t2 - $ev_t0" | bc)
EVL=$(echo "$ev_t3 - $ev_t0" | bc)
EVG=$(echo "$ev_tg - $ev_t0" | bc)
ok "h1's agent and libvirtd killed -9, h1 forced down (2.11), nova evacuate gnvm4 h2: ACTIVE on h2 in $EVS s, a new boot ($B0 -> $B1) in $EVB s, its lease of the same port's $IP4 in $EVL s; port $P4 bound to h2 with $FIP4, announced by gratuitous ARP ($EXT's entry on h2's qg $M2 in $EVG s, $(garps) announcements seen); the old guest still runs on h1"

# h1's agent returns with the stale copy under its libvirtd.
T4=$(tick gnvm4)
L0=$(wc -l < "$T/ctl.log")
LA=$(wc -l < "$T/agent-h1.log")
t0=$SECONDS
start agent-h1 "$T/agent-h1-in-ns" "$T/agent-h1.conf"
# gone: h1's libvirtd no longer has the domain; meanwhile the server stays
# ACTIVE on h2 (every sample).
gone() {
	local h
	h=$(host_of gnvm4)
	# (an empty answer is a slow API, not a state)
	[ -z "$h" ] || [ "$h" = "ACTIVE h2 null" ] || { echo "gnvm4: $h" >> "$T/evac-samples"; return 1; }
	! lv 1 list --all --name | grep -qx "instance-${SID[gnvm4]}"
}
within 60 "h1's stale copy of gnvm4 destroyed" gone
FENCE_S=$((SECONDS - t0))
[ ! -s "$T/evac-samples" ] || { cat "$T/evac-samples"; fail "gnvm4 left ACTIVE on h2 while h1 returned"; }
tail -n "+$((L0 + 1))" "$T/ctl.log" | grep -q "guest ${SID[gnvm4]} on h1 belongs to an instance placed on h2: deleting it" ||
	fail "the controller did not fence gnvm4's stale copy on h1"
tail -n "+$((LA + 1))" "$T/agent-h1.log" > "$T/agent-h1-back.log"
grep -q "instance ${SID[gnvm4]} deleted" "$T/agent-h1-back.log" || fail "h1's agent did not log the stale copy's deletion"
grep -q "instance ${SID[gnvm4]} ensured" "$T/agent-h1-back.log" && fail "h1's agent ensured the evacuated gnvm4"
[ "$(host_of gnvm4)" = "ACTIVE h2 null" ] || fail "gnvm4 after h1's return: $(host_of gnvm4)"
within 30 "gnvm4's console on h2 ticking on (boot $B1)" ticks_on gnvm4 "$B1" "${T4%% *}"
[ "$(pboot gnvm4)" = "$B1" ] || fail "gnvm4 booted again after h1's return"
read -r a b c <<< "$U1"
[ "$(used h1)" = "$((a - 1)) $((b - 256)) $((c - 1))" ] || fail "h1's usage after its return: $(used h1)"
for v in $OTHERS; do
	[ "$(lv 1 domstate "instance-${SID[$v]}" | head -n 1)" = running ] || fail "$v not running on h1 after its return"
	[ "$(host_of "$v")" = "ACTIVE h1 null" ] || fail "$v after h1's return: $(host_of "$v")"
done
ok "h1's agent back: the stale gnvm4 destroyed and undefined on h1 $FENCE_S s after its start (fenced on its hello), never ensured there; gnvm4 ACTIVE on h2 all along, same boot $B1 ticking; h1's usage without it; gnvm1/2/3/5/6 still running on h1"

openstack --os-compute-api-version 2.11 compute service set --up h1 nova-compute ||
	fail "compute service set --up h1 nova-compute"
within 30 "h1 up again" is_state h1 up
# pageboot ADDR ID BOOT: the page through ADDR is server ID's, of boot BOOT.
pageboot() {
	ip netns exec "$EXT" curl -s --max-time 3 --interface "$XGW" "http://$1/" |
	    grep -q "^TINYSTACK-PAGE uuid=$2 .* bootid=$3\$"
}
t0=$SECONDS
within 90 "gnvm4's new page (boot $B1) through $FIP4 from h2" pageboot "$FIP4" "${SID[gnvm4]}" "$B1"
within 60 "gnvm6's page through $FIP6 on h1" page "$FIP6" "${SID[gnvm6]}"
ok "compute service set --up h1: up; $EXT gets gnvm4's page of boot $B1 through $FIP4 (now h2's) $((SECONDS - t0)) s later, gnvm6's through $FIP6 on h1; evacuation section $((SECONDS - EVT0)) s"

echo "$NPASS passed, 0 failed"
