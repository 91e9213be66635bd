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

[ "$(id -u)" = 0 ] || { echo "stack.sh: run as root" >&2; exit 1; }
say() { echo "stack.sh: $*"; }

say "installing dependencies"
packaging/install-deps.sh

say "building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
cmake --install build --prefix "$PREFIX" >/dev/null

mkdir -p "$ETC/keys" "$STATE" "$STATE/instances" "$LOGS" "$RUN"
chmod 0700 "$ETC/keys"

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
listen = tcp://0.0.0.0:5670
keys_dir = $ETC/keys

[oslo_policy]
policy_file = $ETC/policy.yaml
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
if [ ! -f "$ETC/agent.conf" ]; then
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
# Guests' images come from the controller's image API (an agent.conf
# written by an older stack.sh lacks the section).
if ! grep -q '^\[image\]' "$ETC/agent.conf"; then
	cat >> "$ETC/agent.conf" <<C

[image]
api_url = http://127.0.0.1:$(conf_value image_port)
cache_dir = $STATE/instances/_base
C
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
[ -f "$ETC/keys/agent.key" ] || $MANAGE agent keygen --host "$HOST" --keys-dir "$ETC/keys"
$MANAGE agent enroll "$HOST" --key-file "$ETC/keys/agent.pub"

say "libvirtd"
packaging/libvirtd.sh start

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
ensure_daemon controller
ensure_daemon agent

say "waiting for the agent on $HOST to register"
up=0
for _ in $(seq 1 300); do
	if $MANAGE service list 2>/dev/null | grep -E "^\| *[^|]*\| *$HOST *\|.*\| *up *\|" >/dev/null; then
		up=1; break
	fi
	sleep 0.2
done
$MANAGE service list
if [ $up = 0 ]; then
	echo "stack.sh: the agent on $HOST did not register within 60 s; see $LOGS/agent.log and $LOGS/controller.log" >&2
	exit 1
fi

PUBLIC=$(conf_value public_host)
PUBLIC=${PUBLIC:-$HOST}

# Flavors and a sample image, each made only when missing. The image is
# tests/e2e/mkguest.sh's tiny guest (this host's Debian kernel and a
# busybox initramfs), booted AMI-style: kernel and ramdisk images named
# by the root disk image's kernel_id/ramdisk_id properties.
say "flavors and the sample image"
(
	set +u
	. "$HOME/keystonerc_admin"
	set -u
	flavor() {
		openstack flavor show "$1" >/dev/null 2>&1 ||
			openstack flavor create --id "$2" --ram "$3" --disk "$4" \
			    --vcpus "$5" "$1" >/dev/null
	}
	flavor m1.nano 0 128 1 1
	flavor m1.tiny 1 512 1 1
	flavor m1.small 2 2048 20 1
	flavor m1.medium 3 4096 40 2
	flavor m1.large 4 8192 80 4
	if ! openstack image show tinystack-guest >/dev/null 2>&1; then
		G=$STATE/sample-guest
		tests/e2e/mkguest.sh "$G" >/dev/null
		rm -f "$G/disk.qcow2"
		qemu-img create -q -f qcow2 "$G/disk.qcow2" 1G
		kid=$(openstack image create --public --disk-format aki \
		    --container-format aki --file "$G/vmlinux" \
		    tinystack-guest-kernel -f value -c id)
		rid=$(openstack image create --public --disk-format ari \
		    --container-format ari --file "$G/initrd.gz" \
		    tinystack-guest-ramdisk -f value -c id)
		openstack image create --public --disk-format qcow2 \
		    --container-format bare --file "$G/disk.qcow2" \
		    --property kernel_id="$kid" --property ramdisk_id="$rid" \
		    --property os_type=linux tinystack-guest >/dev/null
	fi
)
cat <<M

tinystack is running on $HOST.
  identity API (Keystone v3):  http://$PUBLIC:$(conf_value identity_port)/v3
  catalog endpoints (answered once their service is in the controller):
    compute  http://$PUBLIC:$(conf_value compute_port)/v2.1
    image    http://$PUBLIC:$(conf_value image_port)
    volume   http://$PUBLIC:$(conf_value volume_port)/v3/<project_id>
    network  http://$PUBLIC:$(conf_value network_port)
  admin credentials:  . $HOME/keystonerc_admin   (then: openstack token issue)
  try:  openstack server create --flavor m1.nano --image tinystack-guest --wait vm1
        openstack console log show vm1
  agent bus (ZeroMQ, CURVE):  tcp://0.0.0.0:5670
  configuration:  $ETC/controller.conf  $ETC/agent.conf
  state:          $STATE   logs: $LOGS
  services:       $MANAGE service list
  stop:           ./unstack.sh
M
