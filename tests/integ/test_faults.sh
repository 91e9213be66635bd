#!/bin/bash
# Fault injection with a history check, short form (docs/RELIABILITY.md):
# a controller and two agents in a network and mount namespace of their
# own. The agents use libvirt's test driver served by a private libvirtd
# (its sockets and state under $T, bind-mounted in this test's mount
# namespace), so that the libvirtd can be restarted under load without
# touching the system's. Both agents run the network dataplane (bridges,
# dnsmasq, nft): h2 in the test's namespace, h1 in a namespace of its own
# (tsf-h1, reaching the controller's bus and image API through
# packaging/nsfwd.py). Both agents serve volumes (file backend) through
# a tgtd of their own (lib.sh's storage_conf). tests/integ/faults/driver.py
# drives a mixed load (server create/delete/stop/start/reboot, ports,
# floating IPs, security group rules, volume create/delete and
# attach/detach) over the REST APIs while it kills -9 the controller, an
# agent and a tgtd, partitions agent h2 from the bus (nft drop of its own
# loopback source address), fills the controller's store (a tmpfs),
# restarts the libvirtd and kills -9 a dnsmasq; it heals every fault,
# waits (bounded) for convergence and checks the final state against the
# acknowledged history, each host's dnsmasq against the ports bound there
# and its volume files and tgtd targets against the volumes. The seed
# is fixed here (TSF_SEED overrides it) and printed; TSF_ARGS passes more
# driver options (TSF_ARGS=--long: the long form).
if [ -z "${TSF_NS:-}" ]; then
	for p in unshare nft dnsmasq libvirtd virsh ip tgtd tgtadm; do
		command -v $p >/dev/null ||
			{ echo "not ok - $p is needed (packaging/install-deps.sh)"; exit 1; }
	done
	# A private network namespace (the nft rules and the 127.0.0.2 source
	# address stay in it) and mount namespace (the tmpfs store); both go
	# away with the last process in them.
	unshare --net --mount true 2>/dev/null ||
		{ echo "not ok - cannot create network/mount namespaces"; exit 1; }
	exec unshare --net --mount --propagation private bash -c \
	    'ip link set lo up && TSF_NS=1 exec bash "$0"' "$0"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
command -v jq >/dev/null || fail "jq is not installed"

SEED=${TSF_SEED:-20261205}
# The store on a small tmpfs of its own, for the disk-full fault.
mkdir -p "$T/db"
mount -t tmpfs -o size=48m tsfaults "$T/db"
# dnsmasq re-reads its files as an unprivileged user after SIGHUP.
chmod 755 "$T"
# h1's network namespace: its name lives on a /run/netns private to this
# test's mount namespace, so nothing is left in the system's /run/netns.
mkdir -p /run/netns
mount -t tmpfs -o size=1m tsfnetns /run/netns
faults_cleanup() {
	local rc=$?
	# Daemons the driver restarted, for lib.sh's cleanup to stop (agents
	# first: an agent would restart the dnsmasq killed next).
	if [ -f "$T/extra-pids" ]; then
		while read -r p; do PIDS+=("$p"); done < "$T/extra-pids"
	fi
	stop_daemons_and_dnsmasq
	# The agents' tgtds: one started by an agent killed -9, or adopted by
	# its successor, outlives the agent's stop.
	local c p
	for c in "${TGTC[@]+"${TGTC[@]}"}"; do
		for p in $(tgtd_pids "$c"); do kill -9 "$p" 2>/dev/null || true; done
		rm -f "/var/run/tgtd/socket.$c" "/var/run/tgtd/socket.$c.lock"
	done
	ip netns del tsf-h1 2>/dev/null || true
	umount "$T/db" 2>/dev/null || umount -l "$T/db" 2>/dev/null || true
	(exit $rc)
	cleanup
}
trap faults_cleanup EXIT

BUS=$(free_port)
IDP=$(free_port)
CP=$(free_port)
NP=$(free_port)
api_lines "$IDP"
API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
API_LINES=("${API_LINES[@]/network_port = */network_port = $NP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[compute]" "build_timeout = 30" "action_timeout = 20" \
	"resend_interval = 1" "console_timeout = 5" \
	"quota_instances = -1" "quota_cores = -1" "quota_ram = -1" \
	"[network]" "quota_port = -1" "quota_floatingip = -1" \
	"quota_security_group_rule = -1" \
	"[volume]" "quota_volumes = -1" "quota_gigabytes = -1" \
	"[scheduler]" "reserved_host_memory_mb = 0"
identity_bootstrap admin-pw

# A private libvirtd, serving the agents' test-driver connections: the
# libvirtd-restart fault restarts it. Its directories are bind-mounted over
# libvirt's in this test's mount namespace (as packaging/fakehost.sh
# does), so it shares no socket, lock or state with the system's.
LV=$T/lv
mkdir -p "$LV/etc" "$LV/run" "$LV/lib" "$LV/cache" "$LV/log" "$LV/sock"
cat > "$LV/etc/libvirtd.conf" <<C
unix_sock_dir = "$LV/sock"
listen_tls = 0
listen_tcp = 0
auth_unix_rw = "none"
log_outputs = "3:file:$LV/libvirtd.log"
C
for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt \
    cache:/var/cache/libvirt log:/var/log/libvirt; do
	mkdir -p "${d#*:}"
	mount --bind "$LV/${d%%:*}" "${d#*:}"
done
libvirtd -f "$LV/etc/libvirtd.conf" -p "$LV/libvirtd.pid" >>"$T/libvirtd.log" 2>&1 &
PIDS+=($!)
disown $!
# Each agent opens its own node file: a connection to a custom test
# driver has state of its own (test:///default would be shared by both
# agents). The node is test:///default's, with its "test" guest, but 64
# CPUs and 16 GiB: the long form's hundreds of servers fit, so that a "No
# valid host" means a host seen down, not a full one.
for h in h1 h2; do
	cat > "$T/node-$h.xml" <<X
<node>
  <cpu><mhz>1400</mhz><model>i686</model><active>64</active><nodes>2</nodes>
    <sockets>2</sockets><cores>8</cores><threads>4</threads></cpu>
  <memory>16777216</memory>
  <domain type='test'>
    <name>test</name><memory>8388608</memory><currentMemory>2097152</currentMemory>
    <vcpu>2</vcpu><os><type>hvm</type></os>
  </domain>
</node>
X
done
lv_uri() { echo "test+unix://$T/node-$1.xml?socket=$LV/sock/libvirt-sock"; }
wait_for 60 "private libvirtd answers" virsh -c "$(lv_uri h1)" version
echo "$LV/libvirtd.pid" > "$T/libvirtd.pidfile"

for h in h1 h2; do
	enrol_agent "$h"
	agent_conf "$h" "$BUS" "$(lv_uri $h)"
done
# h1's dataplane in a namespace of its own (two agents' bridges for one
# network have the same name), h2's in the test's namespace; a veth pair
# between them is the underlay (VXLAN). h1's bus and image traffic are
# relayed into its namespace by nsfwd.py.
ip netns add tsf-h1
ip -n tsf-h1 link set lo up
ip link add u0 type veth peer name u0 netns tsf-h1
ip -n tsf-h1 addr add 10.250.0.1/24 dev u0
ip -n tsf-h1 link set u0 up
ip addr add 10.250.0.2/24 dev u0
ip link set u0 up
for n in 1 2; do
	cat >> "$T/agent-h$n.conf" <<C

[network]
local_ip = 10.250.0.$n
dhcp_state_dir = $T/h${n}dhcp
C
	# Volumes: files under $T/vols-hN, exported by the agent's own tgtd
	# on its underlay address (the tgtd-kill fault kills it).
	TGTC[$n]=$(tgt_control_port) || exit 1
	storage_conf "h$n" "10.250.0.$n:3260" "${TGTC[$n]}" "$T/vols-h$n"
done
IMP=$(printf '%s\n' "${API_LINES[@]}" | sed -n 's/^image_port = //p')
setsid python3 "$TS_SOURCE_DIR/packaging/nsfwd.py" tsf-h1 "$BUS" "$IMP" \
    >>"$T/nsfwd.out" 2>&1 </dev/null &
PIDS+=($!)
disown $!
wait_for 10 "relay into tsf-h1" grep -qx ready "$T/nsfwd.out"
printf '#!/bin/sh\nexec ip netns exec tsf-h1 %s "$@"\n' "$AGENT" > "$T/agent-h1.exec"
chmod 755 "$T/agent-h1.exec"
# h2's bus connection leaves from 127.0.0.2 (ZeroMQ's source-address
# syntax), the address the partition drops.
sed -i "s|^controller = .*|controller = tcp://127.0.0.2:0;127.0.0.1:$BUS|" "$T/agent-h2.conf"
start ctl "$CTL" "$T/controller.conf"
start agent-h1 "$T/agent-h1.exec" "$T/agent-h1.conf"
start agent-h2 "$AGENT" "$T/agent-h2.conf"
wait_for 15 "h1 up" is_state h1 up
wait_for 15 "h2 up" is_state h2 up
wait_http 15 "http://127.0.0.1:$CP/"
wait_for 15 "h2 connected from 127.0.0.2" bash -c \
	"ss -tnH state established 'src 127.0.0.2 dport = :$BUS' | grep -q ."
ok "private libvirtd, controller and two agents with dataplanes up; h2 on the bus from 127.0.0.2"

# Fixtures straight over the REST APIs (the client's start-up costs
# seconds a call on a loaded machine).
admin_token
post() {	# URL JSON: the answer's body; fails on a status >= 300
	local code
	code=$(curl -s -o "$T/post.json" -w '%{http_code}' "${H[@]}" \
	    -H 'Content-Type: application/json' -d "$2" "$1")
	[ "$code" -lt 300 ] || { cat "$T/post.json"; fail "POST $1: $code"; }
	cat "$T/post.json"
}
post "http://127.0.0.1:$CP/v2.1/flavors" '{"flavor": {"name": "f16", "id": "16",
    "ram": 16, "disk": 0, "vcpus": 1}}' >/dev/null
IMG=$(post "http://127.0.0.1:$IMP/v2/images" '{"name": "img", "disk_format": "raw",
    "container_format": "bare", "visibility": "public"}' | jq -r .id)
head -c 65536 /dev/zero > "$T/disk.raw"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${H[@]}" -X PUT \
    -H 'Content-Type: application/octet-stream' --data-binary @"$T/disk.raw" \
    "http://127.0.0.1:$IMP/v2/images/$IMG/file")" = 204 ] || fail "image upload"
NET=$(post "http://127.0.0.1:$NP/v2.0/networks" '{"network": {"name": "net1"}}' | jq -r .network.id)
post "http://127.0.0.1:$NP/v2.0/subnets" "{\"subnet\": {\"network_id\": \"$NET\",
    \"ip_version\": 4, \"cidr\": \"10.77.0.0/22\", \"name\": \"sub1\"}}" >/dev/null
EXT=$(post "http://127.0.0.1:$NP/v2.0/networks" '{"network": {"name": "public",
    "router:external": true}}' | jq -r .network.id)
post "http://127.0.0.1:$NP/v2.0/subnets" "{\"subnet\": {\"network_id\": \"$EXT\",
    \"ip_version\": 4, \"cidr\": \"172.30.0.0/22\", \"enable_dhcp\": false,
    \"name\": \"pub1\"}}" >/dev/null
SG=$(curl -s "${H[@]}" "http://127.0.0.1:$NP/v2.0/security-groups?name=default" |
    jq -r '.security_groups[0].id')
[ -n "$IMG" ] && [ -n "$NET" ] && [ -n "$EXT" ] && [ "$SG" != null ] || fail "fixtures"
wait_for 15 "image active" bash -c "curl -s -H 'X-Auth-Token: $TOK' \
    http://127.0.0.1:$IMP/v2/images/$IMG | grep -q '\"status\": *\"active\"'"
jq -n --arg img "$IMG" --arg net "$NET" --arg ext "$EXT" --arg sg "$SG" \
    '{flavor: "16", image: $img, net: $net, ext: $ext, sg: $sg}' > "$T/fixtures.json"
ok "fixtures: flavor, image, network, external network, security group"

VP=$(printf '%s\n' "${API_LINES[@]}" | sed -n 's/^volume_port = //p')
wait_http 15 "http://127.0.0.1:$VP/"
# TSF_NETNS: where the driver reads each host's links and nft tables
# (h2's are in this namespace).
export T IDP="http://127.0.0.1:$IDP" CP_URL="http://127.0.0.1:$CP" \
	NP_URL="http://127.0.0.1:$NP" VP_URL="http://127.0.0.1:$VP" \
	TSF_TGT="h1=${TGTC[1]},h2=${TGTC[2]}" TSF_NETNS=h1=tsf-h1 ADMIN_PW=admin-pw \
	TSF_LIBVIRT_PROBE="test+unix:///default?socket=$LV/sock/libvirt-sock"
# shellcheck disable=SC2086
if python3 "$TS_SOURCE_DIR/tests/integ/faults/driver.py" --seed "$SEED" \
    --fixtures "$T/fixtures.json" --history "$T/history.jsonl" ${TSF_ARGS:-}; then
	ok "history check: no anomaly (seed $SEED)"
else
	[ -z "${TSF_HISTORY_OUT:-}" ] || cp "$T/history.jsonl" "$TSF_HISTORY_OUT"
	fail "history check found anomalies (seed $SEED; history $T/history.jsonl with TS_KEEP=1)"
fi
[ -z "${TSF_HISTORY_OUT:-}" ] || cp "$T/history.jsonl" "$TSF_HISTORY_OUT"
echo "$NPASS passed, 0 failed"
