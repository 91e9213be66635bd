#!/bin/bash
# Installs dependencies, builds, and starts an all-in-one tinystack cloud on
# this machine: the controller plus one agent on the local libvirtd.
# Idempotent: run it again and it rebuilds, and restarts only the daemons
# whose binary or configuration changed. ./unstack.sh stops everything.
#
# Overridable locations (defaults in brackets):
#   TS_ETC_DIR [/etc/tinystack]  TS_STATE_DIR [/var/lib/tinystack]
#   TS_LOG_DIR [/var/log/tinystack]  TS_RUN_DIR [/run/tinystack]
#   TS_PREFIX [/usr/local]  TS_HOST [$(hostname)]
# Networking: a project network "private" (VXLAN) with the subnet
#   TS_FIXED_RANGE [10.0.0.0/26] and DHCP, so `server create` needs no
#   network flag. On the host, its bridge is host-only: nothing is bridged
#   to an uplink. An external network "public" (172.24.4.0/24, flat on
#   the host-only bridge br-ex holding 172.24.4.1, as devstack's) and
#   router1 joining the two, for floating IPs. Nothing reaches the host's
#   uplink unless the operator names it: TS_PUBLIC_INTERFACE=eth0 puts it
#   on br-ex (not in namespace mode).
# Namespace mode, TS_NETNS=1 (tests and CI use it): the controller stays on
#   the host with every API and the bus on 127.0.0.1, while each of the
#   TS_HOSTS [1] hypervisors (named TS_NETNS_PREFIX [ts] + "-hN") runs its
#   own libvirtd, agent, bridges, dnsmasq and guests in network and mount
#   namespaces of its own (packaging/fakehost.sh), joined by an underlay in
#   namespace <prefix>-ul. No address outside loopback and those
#   namespaces sees a packet: reach guests with `ip netns exec ts-h1 ...`.
# TLS, TS_TLS=1: a small CA of the all-in-one's own and a certificate for
#   the controller's APIs in $TS_ETC_DIR/tls (packaging/tls.sh; kept across
#   runs); the controller serves every API over https ([api] tls_cert_file),
#   the agents download images over https verified against the CA
#   ([image] ca_file), and ~/keystonerc_admin exports OS_CACERT. A later run
#   without TS_TLS=1 leaves a TLS configuration as it is.
set -euo pipefail
cd "$(dirname "$0")"
TOP=$(pwd)
ETC=${TS_ETC_DIR:-/etc/tinystack}
STATE=${TS_STATE_DIR:-/var/lib/tinystack}
LOGS=${TS_LOG_DIR:-/var/log/tinystack}
RUN=${TS_RUN_DIR:-/run/tinystack}
PREFIX=${TS_PREFIX:-/usr/local}
HOST=${TS_HOST:-$(hostname)}
BIN=$PREFIX/bin
MANAGE="$BIN/tinystack-manage --config $ETC/controller.conf"
export TS_RUN_DIR=$RUN
NETNS=${TS_NETNS:-0}
NHOSTS=${TS_HOSTS:-1}
NSPRE=${TS_NETNS_PREFIX:-ts}
FIXED_RANGE=${TS_FIXED_RANGE:-10.0.0.0/26}
TLS=${TS_TLS:-0}
case $NHOSTS in [1-9]) ;; *) echo "stack.sh: TS_HOSTS must be 1..9" >&2; exit 1 ;; esac
if [ "$NETNS" = 1 ]; then
	AGENTS=$(for n in $(seq 1 "$NHOSTS"); do echo "$NSPRE-h$n"; done)
	BUS_HOST=127.0.0.1
else
	AGENTS=$HOST
	BUS_HOST=0.0.0.0
fi

[ "$(id -u)" = 0 ] || { echo "stack.sh: run as root" >&2; exit 1; }
# Each step with the seconds since the start: where a slow run spends them.
say() { printf 'stack.sh: [%3ds] %s\n' "$SECONDS" "$*"; }

# The build's packages first, then the build runs while the rest (QEMU,
# libvirt, the Python clients: most of dpkg's time) installs; its output
# goes to a log, shown if it fails.
say "installing the build's dependencies"
packaging/install-deps.sh --build
# Configured once: the build re-runs cmake itself when a CMakeLists.txt
# changed. Without the tests (TS_TESTS=OFF: no cmocka or msgpack-c to
# install); run_tests.sh reconfigures the same directory with them. Only
# what is installed: the tests and benchmarks are run_tests.sh's.
build_daemons() {
	[ -f build/CMakeCache.txt ] ||
		cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTS_TESTS=OFF >/dev/null
	cmake --build build -j "$(nproc)" --target tinystack-controller \
	    tinystack-agent tinystack-manage
}
mkdir -p "$LOGS"
say "building in the background (log: $LOGS/stack-build.log)"
build_daemons > "$LOGS/stack-build.log" 2>&1 &
build_pid=$!
say "installing the other dependencies"
packaging/install-deps.sh --stack || { kill "$build_pid" 2>/dev/null; exit 1; }
say "waiting for the build"
if ! wait "$build_pid"; then
	tail -n 30 "$LOGS/stack-build.log" >&2
	echo "stack.sh: the build failed; see $LOGS/stack-build.log" >&2
	exit 1
fi
cmake --install build --prefix "$PREFIX" >/dev/null

mkdir -p "$ETC/keys" "$STATE" "$STATE/instances" "$LOGS" "$RUN"
chmod 0700 "$ETC/keys"

# noVNC's page for the consoles, served by the controller from novnc_path:
# Debian's novnc package when installed (run_tests.sh's dependencies), else
# the files of its .deb: the package depends on Node.js, NumPy and
# websockify (about 40 packages), none of which the controller's own
# websocket proxy uses.
NOVNC=/usr/share/novnc
if [ ! -f "$NOVNC/vnc_lite.html" ]; then
	NOVNC=$PREFIX/share/tinystack/novnc-deb
	[ -d "$NOVNC" ] || say "noVNC's files from Debian's novnc .deb into $NOVNC"
	packaging/deb-extract.sh novnc "$NOVNC"
	NOVNC=$NOVNC/usr/share/novnc
fi

if [ ! -f "$ETC/controller.conf" ]; then
	say "writing $ETC/controller.conf"
	cat > "$ETC/controller.conf" <<C
[DEFAULT]
host = $HOST
state_path = $STATE
pid_file = $RUN/controller.pid
log_file = $LOGS/controller.log

[database]
path = $STATE/controller.lmdb

[bus]
listen = tcp://$BUS_HOST:5670
keys_dir = $ETC/keys
$([ "$NETNS" = 1 ] && printf '\n[api]\nbind_host = 127.0.0.1\npublic_host = 127.0.0.1\n')

[oslo_policy]
policy_file = $ETC/policy.yaml

[dashboard]
enabled = true
port = 8080
$([ "$NOVNC" != /usr/share/novnc ] && printf '\n[vnc]\nnovnc_path = %s\n' "$NOVNC")

[compute]
# one host: a resize stays on it (Nova's option, off by default)
allow_resize_to_same_host = true
C
fi
# The policy: every rule with its default, commented out, as a reference
# (rewritten each run, so it follows the code), and the file the controller
# reads, overriding nothing until an operator copies rules into it (kept
# across runs; changes apply within a second, no restart).
say "writing $ETC/policy.yaml.sample"
$MANAGE policy sample > "$ETC/policy.yaml.sample"
if [ ! -e "$ETC/policy.yaml" ]; then
	printf '%s\n' '# Policy overrides: copy rules from policy.yaml.sample' \
		'# here and uncomment them. Reloaded on change.' \
		> "$ETC/policy.yaml"
fi
if [ "$NETNS" != 1 ] && [ ! -f "$ETC/agent.conf" ]; then
	say "writing $ETC/agent.conf"
	cat > "$ETC/agent.conf" <<C
[DEFAULT]
host = $HOST
state_path = $STATE/agent
pid_file = $RUN/agent.pid
log_file = $LOGS/agent.log
instances_path = $STATE/instances

[libvirt]
connection_uri = qemu:///system
virt_type = qemu

[bus]
controller = tcp://127.0.0.1:5670
keys_dir = $ETC/keys
C
fi
conf_value() { "$BIN/tinystack-controller" -n --config "$ETC/controller.conf" | awk -v k="$1" '$1 == k { print $3; exit }'; }
# The same for a key that several sections have: conf_option SECTION KEY.
conf_option() { "$BIN/tinystack-controller" -n --config "$ETC/controller.conf" | awk -v s="[$1]" -v k="$2" '/^\[/ { sec = $1 } sec == s && $1 == k { print $3; exit }'; }
# Guests' images come from the controller's image API (an agent.conf
# written by an older stack.sh lacks the section).
if [ "$NETNS" != 1 ]; then
	if ! grep -q '^\[image\]' "$ETC/agent.conf"; then
		cat >> "$ETC/agent.conf" <<C

[image]
api_url = http://127.0.0.1:$(conf_value image_port)
cache_dir = $STATE/instances/_base
C
	fi
	# One host: VXLAN networks need a local address but have no peers.
	if ! grep -q '^\[network\]' "$ETC/agent.conf"; then
		cat >> "$ETC/agent.conf" <<C

[network]
local_ip = 127.0.0.1
dhcp_state_dir = $STATE/dhcp
physical_bridge_mappings = public:br-ex
C
	fi
	# Block storage: sparse files exported by the agent's own tgtd on
	# loopback (port 3261: Debian's tgt service may hold 3260).
	if ! grep -q '^\[storage\]' "$ETC/agent.conf"; then
		cat >> "$ETC/agent.conf" <<C

[storage]
enabled = true
backend = file
file_dir = $STATE/volumes
iscsi_portal = 127.0.0.1:3261
tgt_control_port = 3261
C
	fi
	# The external network "public": a host-only bridge holding its
	# gateway (as devstack's br-ex); no uplink, nothing leaves the host.
	if ! ip link show br-ex >/dev/null 2>&1; then
		say "making the host-only bridge br-ex (172.24.4.1/24, physical network public)"
		ip link add br-ex type bridge
		ip addr add 172.24.4.1/24 dev br-ex
		ip link set br-ex up
	fi
	# Only when the operator names it (as devstack's PUBLIC_INTERFACE):
	# the uplink joins br-ex, so floating IPs are reachable from its LAN.
	if [ -n "${TS_PUBLIC_INTERFACE:-}" ]; then
		ip link show "$TS_PUBLIC_INTERFACE" >/dev/null 2>&1 ||
			{ echo "stack.sh: TS_PUBLIC_INTERFACE=$TS_PUBLIC_INTERFACE: no such interface" >&2; exit 1; }
		say "bridging $TS_PUBLIC_INTERFACE into br-ex (TS_PUBLIC_INTERFACE)"
		ip link set "$TS_PUBLIC_INTERFACE" master br-ex
	fi
else
	# agent-<host>.conf per namespace host; the bus and image API are
	# relayed into its namespace's 127.0.0.1.
	n=0
	for a in $AGENTS; do
		n=$((n + 1))
		[ -f "$ETC/agent-$a.conf" ] && continue
		say "writing $ETC/agent-$a.conf"
		mkdir -p "$STATE/$a/instances"
		cat > "$ETC/agent-$a.conf" <<C
[DEFAULT]
host = $a
state_path = $STATE/$a
pid_file = $RUN/agent-$a.pid
log_file = $LOGS/agent-$a.log
instances_path = $STATE/$a/instances

[libvirt]
connection_uri = $(packaging/fakehost.sh uri "$STATE/netns/$a")
virt_type = qemu

[bus]
controller = tcp://127.0.0.1:5670
keys_dir = $ETC/keys-$a

[image]
api_url = http://127.0.0.1:$(conf_value image_port)
cache_dir = $STATE/$a/instances/_base

[network]
local_ip = ${TS_UNDERLAY:-10.250.0}.$n
dhcp_state_dir = $STATE/$a/dhcp
# ex0: a veth to br-ex (172.24.4.1/24) in $NSPRE-ext (packaging/fakehost.sh)
physical_interface_mappings = public:ex0
C
	done
	# Sections added to an agent-<host>.conf of an earlier run too: the
	# VNC console (the relay from the host's loopback to the guests' VNC
	# ports in the namespace, packaging/fakehost.sh) and block storage,
	# served on the underlay so that every host's guests reach it.
	n=0
	for a in $AGENTS; do
		n=$((n + 1))
		grep -q '^\[vnc\]' "$ETC/agent-$a.conf" ||
			cat >> "$ETC/agent-$a.conf" <<C

[vnc]
server_proxyclient_address = $(packaging/fakehost.sh vncaddr "$NSPRE" "$n")
C
		grep -q '^\[storage\]' "$ETC/agent-$a.conf" && continue
		cat >> "$ETC/agent-$a.conf" <<C

[storage]
enabled = true
backend = file
file_dir = $STATE/$a/volumes
iscsi_portal = ${TS_UNDERLAY:-10.250.0}.$n:3260
tgt_control_port = $((3261 + n))
C
	done
fi

# TLS: certificates first (the controller reads them at start), then the
# lines that use them, in configurations new or written by an earlier run.
if [ "$TLS" = 1 ]; then
	say "TLS: CA and certificate in $ETC/tls"
	PUBLIC=$(conf_value public_host)
	names=$HOST
	case $PUBLIC in ''|127.0.0.1|localhost|"$HOST") ;; *) names="$names $PUBLIC" ;; esac
	# shellcheck disable=SC2086
	packaging/tls.sh certs "$ETC/tls" $names
	packaging/tls.sh controller "$ETC/controller.conf" "$ETC/tls"
	if [ "$NETNS" != 1 ]; then
		packaging/tls.sh agent "$ETC/agent.conf" "$ETC/tls/ca.pem"
	else
		for a in $AGENTS; do
			packaging/tls.sh agent "$ETC/agent-$a.conf" "$ETC/tls/ca.pem"
		done
	fi
fi

say "database schema"
$MANAGE db sync
[ -f "$ETC/keys/controller.key" ] || $MANAGE key setup
$MANAGE token setup

# Identity: the admin password is generated once and kept (0600) in
# $ETC/admin-password; bootstrap is idempotent and writes the openrc.
say "identity bootstrap"
if [ ! -s "$ETC/admin-password" ]; then
	(umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$ETC/admin-password")
fi
chmod 0600 "$ETC/admin-password"
$MANAGE bootstrap --admin-password-file "$ETC/admin-password" --openrc "$HOME/keystonerc_admin"
# (bootstrap rewrites the openrc: OS_CACERT goes in after it, every run)
if grep -qx "tls_cert_file = $ETC/tls/server.pem" "$ETC/controller.conf"; then
	packaging/tls.sh openrc "$HOME/keystonerc_admin" "$ETC/tls/ca.pem"
fi
if [ "$NETNS" != 1 ]; then
	[ -f "$ETC/keys/agent.key" ] || $MANAGE agent keygen --host "$HOST" --keys-dir "$ETC/keys"
	$MANAGE agent enroll "$HOST" --key-file "$ETC/keys/agent.pub"
	say "libvirtd"
	packaging/libvirtd.sh start
else
	for a in $AGENTS; do
		if [ ! -f "$ETC/keys-$a/agent.key" ]; then
			$MANAGE agent keygen --host "$a" --keys-dir "$ETC/keys-$a"
		fi
		cp "$ETC/keys/controller.pub" "$ETC/keys-$a/"
		$MANAGE agent enroll "$a" --key-file "$ETC/keys-$a/agent.pub"
	done
fi

# Restart a daemon when it is not running or its binary/config changed.
hashfile=$STATE/stack.hashes
touch "$hashfile"
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
ensure_daemon() {
	local name=$1 conf=$ETC/$1.conf pidf=$RUN/$1.pid h old
	h=$(cat "$BIN/tinystack-$name" "$conf" | sha256sum | cut -d' ' -f1)
	old=$(sed -n "s/^$name //p" "$hashfile")
	if running "$pidf" && [ "$h" = "$old" ]; then
		say "$name unchanged and running (pid $(cat "$pidf"))"
		return
	fi
	if running "$pidf"; then
		say "restarting $name"
		old=$(cat "$pidf")
		kill "$old"
		for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$old" 2>/dev/null; then
			say "$name (pid $old) ignored SIGTERM for 10 s; killing it"
			kill -9 "$old"; sleep 0.2
		fi
	else
		say "starting $name"
	fi
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		sed -e "s#@BIN@#$BIN#g" -e "s#@ETC@#$ETC#g" \
		    "packaging/systemd/tinystack-$name.service" \
		    > "/etc/systemd/system/tinystack-$name.service"
		systemctl daemon-reload
		systemctl restart "tinystack-$name"
	else
		"$BIN/tinystack-$name" --config "$conf"
	fi
	for _ in $(seq 1 100); do running "$pidf" && break; sleep 0.1; done
	running "$pidf" || { echo "stack.sh: $name did not start; see $LOGS/$name.log" >&2; exit 1; }
	sed -i "/^$name /d" "$hashfile"; echo "$name $h" >> "$hashfile"
}
# ensure_ns_agent HOST N: host N's namespaces and libvirtd (fakehost.sh),
# then its agent inside them; restarted only when its binary or
# configuration changed. No systemd unit: the namespaces are this
# script's.
ensure_ns_agent() {
	local a=$1 n=$2 conf=$ETC/agent-$1.conf pidf=$RUN/agent-$1.pid h old
	packaging/fakehost.sh up "$NSPRE" "$n" "$STATE/netns/$a" 5670 "$(conf_value image_port)"
	h=$(cat "$BIN/tinystack-agent" "$conf" | sha256sum | cut -d' ' -f1)
	old=$(sed -n "s/^agent-$a //p" "$hashfile")
	if running "$pidf" && [ "$h" = "$old" ]; then
		say "agent of $a unchanged and running (pid $(cat "$pidf"))"
		return
	fi
	if running "$pidf"; then
		say "restarting the agent of $a"
		old=$(cat "$pidf")
		kill "$old"
		for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$old" 2>/dev/null || true
	else
		say "starting the agent of $a in namespace $NSPRE-h$n"
	fi
	ip netns exec "$NSPRE-h$n" "$BIN/tinystack-agent" --config "$conf"
	for _ in $(seq 1 100); do running "$pidf" && break; sleep 0.1; done
	running "$pidf" || { echo "stack.sh: agent of $a did not start; see $LOGS/agent-$a.log" >&2; exit 1; }
	sed -i "/^agent-$a /d" "$hashfile"; echo "agent-$a $h" >> "$hashfile"
}
ensure_daemon controller
if [ "$NETNS" != 1 ]; then
	ensure_daemon agent
else
	mkdir -p "$STATE/netns"
	echo "$NSPRE" > "$STATE/netns/prefix"
	n=0
	for a in $AGENTS; do n=$((n + 1)); ensure_ns_agent "$a" $n; done
fi

for a in $AGENTS; do
	say "waiting for the agent on $a to register"
	up=0
	for _ in $(seq 1 300); do
		if $MANAGE service list 2>/dev/null | grep -E "^\| *[^|]*\| *$a *\|.*\| *up *\|" >/dev/null; then
			up=1; break
		fi
		sleep 0.2
	done
	if [ $up = 0 ]; then
		$MANAGE service list
		echo "stack.sh: the agent on $a did not register within 60 s; see $LOGS/ and $LOGS/controller.log" >&2
		exit 1
	fi
done
$MANAGE service list

PUBLIC=$(conf_value public_host)
PUBLIC=${PUBLIC:-$HOST}

# Flavors, a sample image, the networks and router1, each made only when
# missing (packaging/seed.py: one openstacksdk process, so a re-run costs
# a few reads). The image is tests/e2e/mkguest.sh's tiny guest (this
# host's Debian kernel and a busybox initramfs), booted AMI-style: kernel
# and ramdisk images named by the root disk image's kernel_id/ramdisk_id
# properties; it is made only when the image is missing.
say "flavors, the sample image, networks and router1"
(
	set +u
	. "$HOME/keystonerc_admin"
	set -u
	/usr/bin/python3 packaging/seed.py "$FIXED_RANGE" "$STATE/sample-guest"
)
say "done"
SCHEME=http
grep -q '^tls_cert_file *= *[^ ]' "$ETC/controller.conf" && SCHEME=https
cat <<M

tinystack is running on $HOST.
  identity API (Keystone v3):  $SCHEME://$PUBLIC:$(conf_value identity_port)/v3
  catalog endpoints (answered once their service is in the controller):
    compute  $SCHEME://$PUBLIC:$(conf_value compute_port)/v2.1
    image    $SCHEME://$PUBLIC:$(conf_value image_port)
    volume   $SCHEME://$PUBLIC:$(conf_value volume_port)/v3/<project_id>
    network  $SCHEME://$PUBLIC:$(conf_value network_port)
  fleet dashboard:  $SCHEME://$PUBLIC:$(conf_option dashboard port)/dashboard/  (log in as admin)
  admin credentials:  . $HOME/keystonerc_admin   (then: openstack token issue)
  try:  openstack server create --flavor m1.nano --image tinystack-guest --wait vm1
        openstack console log show vm1
  networks: "private" ($FIXED_RANGE, DHCP), router1 to "public" (172.24.4.0/24):
        openstack security group rule create --proto icmp default
        openstack floating ip create public; openstack server add floating ip vm1 ADDRESS
        $([ "$NETNS" = 1 ] && echo "ip netns exec $NSPRE-ext ping ADDRESS" || echo "ping ADDRESS")$([ "$NETNS" = 1 ] && printf '\n  hypervisors in namespaces: %s (reach guests: ip netns exec %s-h1 ping ADDRESS)' "$(echo $AGENTS)" "$NSPRE")
  agent bus (ZeroMQ, CURVE):  tcp://$BUS_HOST:5670
  configuration:  $ETC/controller.conf  $ETC/agent*.conf
  state:          $STATE   logs: $LOGS
  services:       $MANAGE service list
  stop:           ./unstack.sh
M
