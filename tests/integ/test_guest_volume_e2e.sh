#!/bin/bash
# Block storage end to end with real TCG guests, the real `openstack` and
# `cinder` CLIs, the agents' storage workers (file backend) and their own
# tgtds. The controller runs on the host with every API on 127.0.0.1; the
# hypervisors h1 and h2 are fake hosts (packaging/fakehost.sh, as in
# integ.guest_net): each a network namespace with its own libvirtd and
# agent, on an underlay bridge (10.250.0.N). Each agent serves its volumes
# over iSCSI on its underlay address, so a guest on one host reads a
# volume held by the other through qemu's initiator, with the attachment's
# CHAP credentials and the host's initiator name.
#
# The guest (tests/e2e/mkguest.sh, with TINYSTACK-HOTPLUG in its user
# data) reports virtio disks that come and go, and writes its boot's mark
# (TSVOL-<bootid>) at the start of a blank one. Proves:
#  - `openstack volume create --size 1`: available, its file on the storage
#    host it was placed on;
#  - `openstack server add volume` to a guest on h1: in-use, the guest sees
#    a new 1 GiB disk and writes its mark; `server show` lists it;
#  - a second attach of the same volume to another server is refused (400)
#    and changes nothing;
#  - `openstack server remove volume`: available again, the guest sees the
#    disk go, the export's CHAP account and libvirt secret are gone;
#  - attached to a guest on h2: the guest reads the first guest's mark (the
#    data crossed hosts);
#  - `nova live-migration` of that guest (h2 -> h1) while it reads the
#    volume and writes a round-stamped sector every second: ACTIVE on h1,
#    the same boot, reading and writing on (the volume's file holds a
#    round written on h1); the target has h1's session alone, h2 no CHAP
#    secret left, the attachment (same id, same initiator) on h1;
#  - `openstack server migrate` of that guest with the volume (h1 -> h2):
#    VERIFY_RESIZE on h2, its new boot reads the mark and writes rounds
#    found in the volume's file, h2's session alone, the attachment on h2;
#    `server migrate revert`: h2's guest and secret gone, ACTIVE on h1, a
#    new boot reading and writing, h1's session alone, the attachment on h1;
#  - `nova evacuate` of a server with the volume attached, on the host that
#    does not hold the volume, to the volume's host, after its agent and
#    libvirtd were killed -9 (its qemu runs on) and it was forced down:
#    ACTIVE there, a new boot that finds the volume at boot (the rebuild
#    waited for the export naming the new host's initiator) and reads the
#    mark (the data survived), the attachment (same id) on the new host,
#    the target's ACL naming its initiator alone, and no session of the
#    dead host's initiator left on the target (the storage host closed the
#    old qemu's session, which outlived its agent, when the ACL changed:
#    no reconnect either) before that host returns; the dead host back (its
#    libvirtd first, finding the old guest running): the stale copy
#    fenced on its agent's hello, its domain, CHAP secret and session
#    gone, the server still ACTIVE with the same boot, the host up again;
#  - deleting the attached volume is refused (400); after the detach
#    `openstack volume delete` removes it: no record, no file, no target;
#  - a volume attached (2.20) to a shelved-offloaded server booted from a
#    volume: in-use at once without a host (409 at 2.19); its unshelve's
#    new boot finds it as vdb at boot, re-hosted to the new host;
#  - `cinder create --display_name test 1` / `cinder list` (the seed's
#    commands) and a volume over the quota refused with nothing created;
#  - Tempest's live migration classes (issue 16) on these two hosts: block
#    migration of an ACTIVE and of a PAUSED server (2.1 and 2.25's
#    "auto"), of a server booted from a volume, of one with a volume
#    attached, and the negative tests (an unknown host: 400, a SUSPENDED
#    server: 409), all passing, with a floor of passes; each skip printed
#    with tempest's reason; and its noVNC class (the console of a guest on
#    a fake host through the controller's proxy, a bad token refused).
# Every wait polls an event with a bound. On exit: domains destroyed and
# undefined, agents (and their tgtds), libvirtds and relays stopped, the
# namespaces removed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
. "$(dirname "$0")/tempest_lib.sh"
set +o pipefail

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, libvirtd, tgtd)"
for c in openstack cinder nova tempest qemu-img genisoimage jq curl ip libvirtd virsh unshare tgtd tgtadm; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
BOOT_TIMEOUT=${TS_BOOT_TIMEOUT:-120}
NSP=tsve$$		# fake hosts $NSP-hN, underlay $NSP-ul
FH=$TS_SOURCE_DIR/packaging/fakehost.sh
HOSTS="1 2"
ADOPTED=()

lv() { virsh -c "$("$FH" uri "$T/h$1")" "${@:2}"; }

ve_cleanup() {
	local rc=$? e n
	# The daemons first: a controller still running re-creates the
	# guests destroyed below on their hosts (a guest missing is a gap
	# it closes), and such a late guest outlived the run.
	stop_daemons_and_dnsmasq
	for n in $HOSTS; do
		for e in $(lv "$n" list --all --name 2>/dev/null); do
			lv "$n" destroy "$e" >/dev/null 2>&1 || true
			lv "$n" undefine "$e" --managed-save --nvram >/dev/null 2>&1 || true
		done
	done
	# A guest whose libvirtd died (a test kills one) is out of libvirt's
	# reach: its qemu, named by this test's paths, is stopped by pid.
	pkill -9 -f "^/usr/bin/qemu-system-[^ ]* .*$T/" 2>/dev/null || true
	# An adopted tgtd outlives its agent's clean stop (only the tgtd an
	# agent started is stopped with it): killed by pid.
	for n in "${ADOPTED[@]+"${ADOPTED[@]}"}"; do kill -9 "$n" 2>/dev/null || true; done
	for n in $HOSTS; do "$FH" down "$NSP" "$n" "$T/h$n" || true; done
	set +e
	(exit $rc)
	cleanup
}
trap ve_cleanup EXIT
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
VP=$(free_port)
api_lines "$IDP"
API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
API_LINES=("${API_LINES[@]/image_port = */image_port = $IMP}")
API_LINES=("${API_LINES[@]/volume_port = */volume_port = $VP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[image]" "store_path = $T/images" \
	"[compute]" "build_timeout = $BOOT_TIMEOUT" "action_timeout = 120" \
	"resend_interval = 5" "console_timeout = 10" \
	"[scheduler]" "reserved_host_memory_mb = 0" \
	"[volume]" "quota_gigabytes = 4"
for n in $HOSTS; do
	"$FH" up "$NSP" "$n" "$T/h$n" "$BUS" "$IMP" > "$T/fakehost-h$n.log" 2>&1 ||
		fail "fake host h$n: $(cat "$T/fakehost-h$n.log")"
done
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
for n in $HOSTS; do
	ns=$NSP-h$n
	enrol_agent "h$n"
	agent_conf "h$n" "$BUS" "$("$FH" uri "$T/h$n")"
	# tgtd's control channel is a unix socket on the shared file system:
	# one of its own per agent (below 32768, as tgtd wants).
	TGTC[$n]=$(free_port)
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
[storage]
enabled = true
backend = file
file_dir = $T/vols-h$n
iscsi_portal = 10.250.0.$n:3260
tgt_control_port = ${TGTC[$n]}
[network]
local_ip = 10.250.0.$n
dhcp_state_dir = $T/h${n}dhcp
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
wait_http 15 "http://127.0.0.1:$VP/"
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
for s in network; do openstack service delete "$s" >/dev/null 2>&1 || true; done
admin_token	# (TOK; compute_lib.sh)
PROJ=$(openstack token issue -f value -c project_id)
nv() { curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$CP/v2.1$1" | jq -r "${2:-.}"; }
cv() { curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$VP/v3/$PROJ$1" | jq -r "${2:-.}"; }
ok "controller on the host, agents h1 and h2 in their namespaces with [storage] (file backend, tgtd on 10.250.0.N:3260)"

# ---- images and flavor -------------------------------------------------------------
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
# Public: tempest's projects (the last stage) boot them too.
PUB='"visibility": "public"'
KID=$(upload ve-kernel aki aki "$GUEST/vmlinux" "$PUB")
RID=$(upload ve-ramdisk ari ari "$GUEST/initrd.gz" "$PUB")
IID=$(upload ve-root qcow2 bare "$T/base.qcow2" "$PUB, \"kernel_id\": \"$KID\", \"ramdisk_id\": \"$RID\"")
openstack flavor create --ram 256 --disk 1 --vcpus 1 --ephemeral 0 \
	m1.ve >/dev/null || fail "flavor create"
printf 'TINYSTACK-HOTPLUG\nTINYSTACK-VOLREAD\n' > "$T/ud"
printf 'TINYSTACK-HOTPLUG\nTINYSTACK-VOLREAD\nTINYSTACK-VOLWRITE\n' > "$T/ud-write"

# ---- helpers -----------------------------------------------------------------------
# console SID: the console log through the compute API.
console() {
	curl -s -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
		-d '{"os-getConsoleOutput": {"length": null}}' \
		"http://127.0.0.1:$CP/v2.1/servers/$1/action" | jq -r '.output // ""'
}
has_line() { console "$1" | grep -Eq "$2"; }
vol_status() { cv "/volumes/$1" '.volume.status'; }
vol_is() { [ "$(vol_status "$1")" = "$2" ]; }
# boot NAME HOST [USERDATA]: a server on HOST, ACTIVE and booted; prints
# its id.
boot() {
	local id
	id=$(openstack server create --flavor m1.ve --image "$IID" \
		--availability-zone "nova:$2" --user-data "${3:-$T/ud}" "$1" \
		-f value -c id) || fail "server create $1"
	wait_for "$BOOT_TIMEOUT" "$1 ACTIVE" \
		sh -c "[ \"\$(curl -s -H 'X-Auth-Token: $TOK' http://127.0.0.1:$CP/v2.1/servers/$id | jq -r .server.status)\" = ACTIVE ]"
	wait_for "$BOOT_TIMEOUT" "$1 booted" has_line "$id" '^TINYSTACK-GUEST-UP '
	echo "$id"
}
tgt_targets() {	# tgt_targets N: the targets of h N's tgtd
	tgtadm -C "${TGTC[$1]}" --lld iscsi --op show --mode target 2>/dev/null |
		sed -n 's/^Target [0-9]*: //p'
}

# ---- a volume ------------------------------------------------------------------------
t0=$(date +%s.%N)
VID=$(openstack volume create --size 1 vevol1 -f value -c id) || fail "volume create"
wait_for 30 "vevol1 available" vol_is "$VID" available
t1=$(date +%s.%N)
VH=$(cv "/volumes/$VID" '.volume."os-vol-host-attr:host"')
VH=${VH%%@*}	# Cinder's host@backend#pool
case $VH in h1|h2) ;; *) fail "vevol1 on host '$VH'";; esac
VN=${VH#h}
[ -f "$T/vols-$VH/volume-$VID" ] || { ls -la "$T/vols-$VH"; fail "no volume file on $VH"; }
[ "$(stat -c %s "$T/vols-$VH/volume-$VID")" = 1073741824 ] || fail "volume file is not 1 GiB"
ok "volume create --size 1: available in $(echo "$t1 - $t0" | bc) s on $VH, a 1 GiB file there"

# ---- attach to a guest on h1 ------------------------------------------------------------
S1=$(boot vevm1 h1) || exit 1
B1=$(console "$S1" | sed -n 's/^TINYSTACK-GUEST-UP bootid=\([0-9a-f]*\).*/\1/p' | tail -1)
t0=$(date +%s.%N)
openstack server add volume vevm1 vevol1 || fail "server add volume"
wait_for 60 "vevol1 in-use" vol_is "$VID" in-use
t1=$(date +%s.%N)
wait_for 60 "vevm1 sees the volume" has_line "$S1" '^TINYSTACK-GUEST-DISK vd[a-z] sectors=2097152 .*hotplug=1'
wait_for 30 "vevm1 marks the volume" has_line "$S1" "^TINYSTACK-GUEST-DISK-WROTE vd[a-z] mark=TSVOL-$B1"
t2=$(date +%s.%N)
[ "$(nv "/servers/$S1" '.server."os-extended-volumes:volumes_attached"[0].id')" = "$VID" ] ||
	fail "server show does not list the volume"
[ "$(cv "/volumes/$VID" '.volume.attachments[0].server_id')" = "$S1" ] ||
	fail "the volume's attachments do not name vevm1"
tgt_targets "$VN" | grep -qx "iqn.2010-10.org.openstack:volume-$VID" || fail "no target on $VH"
[ "$(lv 1 secret-list | grep -c tinystack-chap-)" = 1 ] || fail "no CHAP secret on h1"
ok "server add volume: in-use in $(echo "$t1 - $t0" | bc) s, the guest wrote on the new 1 GiB disk $(echo "$t2 - $t0" | bc) s after the request; target on $VH, secret on h1"

# ---- tgtd and the agent restarted under a reading guest ------------------------------
# vevm1 reads the volume's first 16 bytes again every second (O_DIRECT:
# each read goes through qemu's iSCSI session to the target). tgtd killed
# (-9): the agent's supervisor starts another and re-creates the export;
# qemu's initiator logs in again (the new tgtd has its I_T nexus) and the
# guest reads its mark again. Then the volume's agent killed (-9) and
# restarted: it adopts the running tgtd, re-creates nothing, the guest
# goes on reading, the volume stays in-use with the same attachment.
rt0=$(date +%s.%N)
lastread() {	# the round of vevm1's last read of its mark
	console "$S1" | sed -n "s/^TINYSTACK-GUEST-VOLREAD vd[a-z] n=\([0-9]*\) ok head=TSVOL-$B1\$/\1/p" | tail -n 1
}
read_after() { local n; n=$(lastread); [ -n "$n" ] && [ "$n" -gt "${1:-0}" ]; }
our_tgtd() {	# the pid of h N's tgtd
	local p
	for p in $(pgrep -x tgtd || true); do
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null |
			grep -q -- "^tgtd -f -C ${TGTC[$1]} " && echo "$p"
	done
	return 0
}
target_of() {	# target_of N: "TID IQN" of the volume's target on h N
	tgtadm -C "${TGTC[$1]}" --lld iscsi --op show --mode target 2>/dev/null |
		sed -n "s/^Target \([0-9]*\): \(iqn.2010-10.org.openstack:volume-$VID\)\$/\1 \2/p"
}
nexus_of_h1() {	# h1's initiator logged in to the volume's target on h VN
	tgtadm -C "${TGTC[$VN]}" --lld iscsi --op show --mode target 2>/dev/null |
		awk -v iqn="iqn.2010-10.org.openstack:volume-$VID" '
			/^Target / { on = ($3 == iqn) } on && /Initiator: / { n++ } END { exit !n }'
}
wait_for 30 "vevm1 reads its mark" read_after 0
QPID=$(pgrep -f "qemu-system.*instance-$S1" | head -n 1)
P1=$(our_tgtd "$VN")
[ -n "$P1" ] && [ "$(echo "$P1" | wc -w)" = 1 ] || fail "not one tgtd of $VH: '$P1'"
nexus_of_h1 || fail "no I_T nexus of h1's initiator on $VH's tgtd"
kill -9 "$P1"
t0=$(date +%s.%N)
new_tgtd() { local p; p=$(our_tgtd "$VN"); [ -n "$p" ] && [ "$p" != "$P1" ]; }
wait_for 30 "$VH's tgtd restarted" new_tgtd
wait_for 30 "the export re-created on $VH" sh -c "[ -n \"\$(tgtadm -C ${TGTC[$VN]} --lld iscsi --op show --mode target | grep -x 'Target [0-9]*: iqn.2010-10.org.openstack:volume-$VID')\" ]"
R0=$(lastread)	# any later round completed after the export came back
wait_for 90 "vevm1 reads its mark after tgtd's restart" read_after "$R0"
t1=$(date +%s.%N)
wait_for 10 "h1's initiator logged in to the new tgtd" nexus_of_h1
P2=$(our_tgtd "$VN")
ADOPTED+=("$P2")
[ "$(pgrep -f "qemu-system.*instance-$S1" | head -n 1)" = "$QPID" ] || fail "vevm1's qemu changed"
vol_is "$VID" in-use || fail "the volume is not in-use after tgtd's restart"
ok "$VH's tgtd killed (-9): restarted, export re-created, qemu logged in again; vevm1 read TSVOL-$B1 again (round $(lastread)) $(echo "$t1 - $t0" | bc) s after the kill"

ATT0=$(cv "/volumes/$VID" '.volume.attachments[0].attachment_id')
TGT0=$(target_of "$VN")
[ -n "$TGT0" ] || fail "no target of the volume on $VH"
MADE0=$(grep -c "volume $VID made" "$T/agent-h$VN.log" || true)
STARTS0=$(grep -c 'tgt: starting tgtd' "$T/agent-h$VN.log" || true)
GEN0=$(grep -c 'host_storage generation' "$T/agent-h$VN.log" || true)
PA=$(pid_of "agent-h$VN")
kill -9 "$PA"
t0=$(date +%s.%N)
wait_for 10 "the killed agent h$VN gone" dead "$PA"
start "agent-h$VN" "$T/agent-h$VN-in-ns" "$T/agent-h$VN.conf"
wait_for 30 "h$VN's agent adopts tgtd" grep -q "tgt: tgtd on control port ${TGTC[$VN]} is running: adopted" "$T/agent-h$VN.log"
# (the console goes through h1's agent: when that is the one restarted,
# there is none until it is back)
wait_for 30 "vevm1's console again" read_after 0
R1=$(lastread)	# any later round completed after the adoption
wait_for 60 "vevm1 reads its mark after the agent's restart" read_after "$R1"
t1=$(date +%s.%N)
wait_for 30 "h$VN up again" is_state "h$VN" up
# The restarted agent has applied its host's storage state (its first
# generation log line) with nothing to change.
wait_for 30 "h$VN's storage state applied" sh -c "[ \$(grep -c 'host_storage generation' '$T/agent-h$VN.log') -gt $GEN0 ]"
[ "$(our_tgtd "$VN")" = "$P2" ] || fail "tgtd changed across the agent's restart"
[ "$(target_of "$VN")" = "$TGT0" ] || fail "the target changed: '$(target_of "$VN")', was '$TGT0'"
[ "$(grep -c 'tgt: starting tgtd' "$T/agent-h$VN.log" || true)" = "$STARTS0" ] || fail "the restarted agent started a tgtd"
[ "$(grep -c "volume $VID made" "$T/agent-h$VN.log" || true)" = "$MADE0" ] || fail "the volume was made again"
vol_is "$VID" in-use || fail "the volume is not in-use after the agent's restart"
[ "$(cv "/volumes/$VID" '.volume.attachments | length')" = 1 ] &&
	[ "$(cv "/volumes/$VID" '.volume.attachments[0].attachment_id')" = "$ATT0" ] ||
	fail "the attachment changed across the agent's restart"
[ "$(nv "/servers/$S1" '.server."os-extended-volumes:volumes_attached"[0].id')" = "$VID" ] ||
	fail "vevm1 no longer lists the volume"
lv 1 dumpxml "instance-$S1" | grep -q "iqn.2010-10.org.openstack:volume-$VID" ||
	fail "the disk left vevm1's live definition"
[ "$(lv 1 secret-list | grep -c tinystack-chap-)" = 1 ] || fail "h1's CHAP secret changed"
console "$S1" | grep -q '^TINYSTACK-GUEST-DISK-GONE' && fail "vevm1 saw the disk go"
ok "h$VN's agent killed (-9) and restarted: tgtd $P2 adopted, target $TGT0 kept, volume in-use with attachment $ATT0, vevm1 read its mark again $(echo "$t1 - $t0" | bc) s after the kill; $(console "$S1" | grep -c '^TINYSTACK-GUEST-VOLREAD .* fail$' || true) failed reads; both restarts in $(echo "$(date +%s.%N) - $rt0" | bc) s"

# ---- a second attach is refused --------------------------------------------------------
S2=$(boot vevm2 h2 "$T/ud-write") || exit 1
code=$(http_code POST "http://127.0.0.1:$CP/v2.1/servers/$S2/os-volume_attachments" \
	-H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
	-d "{\"volumeAttachment\": {\"volumeId\": \"$VID\"}}")
[ "$code" = 400 ] || fail "second attach: HTTP $code, wanted 400"
vol_is "$VID" in-use || fail "the refused attach changed the volume"
[ "$(cv "/volumes/$VID" '.volume.attachments | length')" = 1 ] || fail "the refused attach added an attachment"
[ "$(nv "/servers/$S2" '.server."os-extended-volumes:volumes_attached" | length')" = 0 ] ||
	fail "the refused attach is listed on vevm2"
code=$(http_code DELETE "http://127.0.0.1:$VP/v3/$PROJ/volumes/$VID" -H "X-Auth-Token: $TOK")
[ "$code" = 400 ] || fail "delete of an attached volume: HTTP $code, wanted 400"
vol_is "$VID" in-use || fail "the refused delete changed the volume"
ok "a second attach (400) and the delete of an attached volume (400) are refused, nothing changed"

# ---- detach ----------------------------------------------------------------------------------
t0=$(date +%s.%N)
openstack server remove volume vevm1 vevol1 || fail "server remove volume"
wait_for 60 "vevol1 available again" vol_is "$VID" available
t1=$(date +%s.%N)
wait_for 30 "vevm1 sees the disk go" has_line "$S1" '^TINYSTACK-GUEST-DISK-GONE vd[a-z]'
wait_for 30 "h1's secret removed" sh -c "[ \$(virsh -c '$("$FH" uri "$T/h1")' secret-list | grep -c tinystack-chap-) = 0 ]"
[ "$(nv "/servers/$S1" '.server."os-extended-volumes:volumes_attached" | length')" = 0 ] ||
	fail "vevm1 still lists the volume"
ok "server remove volume: available in $(echo "$t1 - $t0" | bc) s, the guest saw the disk go, h1's secret is gone"

# ---- the data crosses hosts --------------------------------------------------------------
openstack server add volume vevm2 vevol1 || fail "server add volume (vevm2)"
wait_for 60 "vevol1 in-use on vevm2" vol_is "$VID" in-use
wait_for 60 "vevm2 reads vevm1's mark" has_line "$S2" "^TINYSTACK-GUEST-DISK vd[a-z] .*head=TSVOL-$B1 hotplug=1"
ok "attached to vevm2 on h2: it reads vevm1's mark TSVOL-$B1 (the volume is on $VH)"

# ---- live migration with the volume attached (issue 16) ----------------------------
# vevm2 reads the volume's mark and writes TSW-vdX-N at byte 512 (O_DIRECT,
# read back) every second while `nova live-migration` moves it to h1
# (over the underlay, its root disk copied). The attachment keeps its
# initiator name and CHAP (volume_attach_follow()): h1's qemu logs in
# with them before the switch-over; afterwards the volume's target has
# h1's session alone (tgtd's I_T nexus from 10.250.0.1), h2 no secret
# left, h1 the attachment's; the volume stays in-use with the same
# attachment, now on h1; the guest (the same boot) reads and writes on,
# and the volume's file on the storage host holds a round it wrote on h1.
lastw() { console "$S2" | sed -n 's/^TINYSTACK-GUEST-VOLWRITE vd[a-z] n=\([0-9]*\) ok$/\1/p' | tail -n 1; }
lastr2() { console "$S2" | sed -n "s/^TINYSTACK-GUEST-VOLREAD vd[a-z] n=\([0-9]*\) ok head=TSVOL-$B1\$/\1/p" | tail -n 1; }
wrote_after() { local n; n=$(lastw); [ -n "$n" ] && [ "$n" -gt "${1:-0}" ]; }
read2_after() { local n; n=$(lastr2); [ -n "$n" ] && [ "$n" -gt "${1:-0}" ]; }
nexus_ips() {	# the addresses of the sessions to the volume's target
	tgtadm -C "${TGTC[$VN]}" --lld iscsi --op show --mode target 2>/dev/null |
		awk -v iqn="iqn.2010-10.org.openstack:volume-$VID" '
			/^Target / { on = ($3 == iqn) } on && /IP Address: / { print $3 }' |
		sort | tr '\n' ' '
}
where2() {	# status, host and task of vevm2
	nv "/servers/$S2" '[.server.status, .server."OS-EXT-SRV-ATTR:host", (.server."OS-EXT-STS:task_state" // "none")] | join(" ")'
}
where2_is() { [ "$(where2)" = "$1" ]; }
nexus_is() { [ "$(nexus_ips)" = "$1" ]; }
wait_for 30 "vevm2 writes the volume" wrote_after 0
B2=$(console "$S2" | sed -n 's/^TINYSTACK-GUEST-UP bootid=\([0-9a-f]*\).*/\1/p' | tail -1)
ATT2=$(cv "/volumes/$VID" '.volume.attachments[0].attachment_id')
[ "$(nexus_ips)" = "10.250.0.2 " ] || fail "the volume's sessions before the move: '$(nexus_ips)', wanted h2's alone"
t0=$(date +%s.%N)
nova live-migration "$S2" h1 > "$T/lm.txt" 2>&1 || { cat "$T/lm.txt"; fail "nova live-migration vevm2 h1"; }
wait_for 180 "vevm2 ACTIVE on h1" where2_is "ACTIVE h1 none" ||
	fail "vevm2 after its live migration: $(where2)"
t1=$(date +%s.%N)
lv 1 domstate "instance-$S2" | grep -qx running || fail "vevm2 is not running on h1"
# (the move ends when the guest runs on h1; h2's libvirtd then stops and
# undefines its paused copy)
gone_h2() { ! lv 2 list --all --name | grep -qx "instance-$S2"; }
wait_for 30 "vevm2 undefined on h2" gone_h2
W0=$(lastw)	# h1's console: rounds written since the guest arrived
wait_for 60 "vevm2 writes the volume from h1" wrote_after "${W0:-0}"
wait_for 30 "vevm2 reads the mark from h1" read2_after 0
W1=$(lastw)
console "$S2" | grep -q "^TINYSTACK-GUEST-TICK n=[0-9]* bootid=$B2\$" || fail "vevm2's console on h1 is not the same boot ($B2)"
VW=$(dd if="$T/vols-$VH/volume-$VID" bs=512 skip=1 count=1 2>/dev/null | tr -dc 'A-Za-z0-9_-')
case $VW in TSW-vd?-*) [ "${VW##*-}" -gt "${W0:-0}" ] || fail "the volume's file holds $VW, not a round written on h1 (after ${W0:-0})";;
	*) fail "the volume's file holds '$VW' at byte 512";; esac
wait_for 30 "h1's session alone on the volume's target" nexus_is "10.250.0.1 "
wait_for 30 "h2's secret undefined" sh -c "[ \$(virsh -c '$("$FH" uri "$T/h2")' secret-list | grep -c tinystack-chap-) = 0 ]"
lv 1 secret-list | grep -q "tinystack-chap-$ATT2" || fail "h1 has no secret of attachment $ATT2"
vol_is "$VID" in-use || fail "the volume is not in-use after the move"
[ "$(cv "/volumes/$VID" '.volume.attachments | length')" = 1 ] &&
	[ "$(cv "/volumes/$VID" '.volume.attachments[0].attachment_id')" = "$ATT2" ] &&
	[ "$(cv "/volumes/$VID" '.volume.attachments[0].host_name')" = h1 ] ||
	fail "the attachment after the move: $(cv "/volumes/$VID" '.volume.attachments')"
ok "nova live-migration vevm2 h1 with vevol1 attached: ACTIVE on h1 in $(echo "$t1 - $t0" | bc) s, the same boot; it reads the mark and writes (round $W1, $VW in the volume's file on $VH); the target has h1's session alone, h2 no secret, the attachment $ATT2 on h1 ($(( $(date +%s) - ${t0%.*} )) s in all)"

# ---- cold migration and its revert with the volume attached (issue 16) -------
# `openstack server migrate vevm2` (h1 -> h2: the other host first): h1
# stops the guest (its qemu logs out), the attachment follows to h2 (same
# id and initiator), h2 boots it with the volume on the same device:
# VERIFY_RESIZE; the new boot reads the mark and writes rounds found in
# the volume's file; the target has h2's session alone. `server migrate
# revert`: h2 deletes its guest first (session and secret gone), then h1
# starts its kept guest: ACTIVE on h1, a new boot reading and writing.
lastboot() { console "$S2" | sed -n 's/^TINYSTACK-GUEST-UP bootid=\([0-9a-f]*\).*/\1/p' | tail -n 1; }
newboot() { local b; b=$(lastboot); [ -n "$b" ] && [ "$b" != "$1" ]; }
sinceboot() { console "$S2" | sed -n "/^TINYSTACK-GUEST-UP bootid=$1/,\$p"; }
lastw_of() { sinceboot "$1" | sed -n 's/^TINYSTACK-GUEST-VOLWRITE vd[a-z] n=\([0-9]*\) ok$/\1/p' | tail -n 1; }
reads_in() { sinceboot "$1" | grep -q "^TINYSTACK-GUEST-VOLREAD $2 n=[0-9]* ok head=TSVOL-$B1\$"; }
vw() { dd if="$T/vols-$VH/volume-$VID" bs=512 skip=1 count=1 2>/dev/null | tr -dc 'A-Za-z0-9_-'; }
wrote_in() {	# wrote_in BOOT OLD: the file holds a round BOOT wrote (not OLD)
	local v n; v=$(vw); n=$(lastw_of "$1")
	case $v in "TSW-$DEV2-"*) ;; *) return 1;; esac
	[ -n "$n" ] && [ "$v" != "$2" ] && [ "${v##*-}" -le "$n" ]
}
att_on() { [ "$(cv "/volumes/$VID" '[.volume.attachments[] | .attachment_id + " " + .host_name] | join(",")')" = "$ATT2 $1" ]; }
no_guest_on() {	# no_guest_on N: no domain of vevm2 and no CHAP secret on h N
	! lv "$1" list --all --name | grep -qx "instance-$S2" &&
		[ "$(lv "$1" secret-list | grep -c tinystack-chap-)" = 0 ]
}
DEV2=$(console "$S2" | sed -n "s/^TINYSTACK-GUEST-VOLREAD \(vd[a-z]\) n=[0-9]* ok head=TSVOL-$B1\$/\1/p" | tail -n 1)
[ -n "$DEV2" ] || fail "vevm2's volume device is unknown"
BB=$(lastboot) VW0=$(vw)
t0=$(date +%s.%N)
openstack server migrate vevm2 || fail "server migrate vevm2"
wait_for 240 "vevm2 VERIFY_RESIZE on h2" where2_is "VERIFY_RESIZE h2 none" ||
	fail "vevm2 after its cold migration: $(where2)"
t1=$(date +%s.%N)
wait_for 60 "vevm2 booted on h2" newboot "$BB"
BM=$(lastboot)
wait_for 60 "vevm2 reads the mark on h2 ($DEV2)" reads_in "$BM" "$DEV2"
wait_for 60 "vevm2's rounds from h2 in the volume's file" wrote_in "$BM" "$VW0"
VW1=$(vw)
wait_for 30 "h2's session alone on the volume's target" nexus_is "10.250.0.2 "
att_on h2 || fail "the attachment after the migration: $(cv "/volumes/$VID" '.volume.attachments')"
vol_is "$VID" in-use || fail "the volume is not in-use after the migration"
lv 1 domstate "instance-$S2" | grep -qx "shut off" || fail "h1's kept guest is not shut off: $(lv 1 domstate "instance-$S2")"
t2=$(date +%s.%N)
ok "server migrate vevm2 with vevol1 attached: VERIFY_RESIZE on h2 in $(echo "$t1 - $t0" | bc) s; the new boot reads TSVOL-$B1 on $DEV2 and writes ($VW1 in the volume's file); h2's session alone, the attachment $ATT2 on h2, h1's guest kept shut off ($(echo "$t2 - $t0" | bc) s in all)"
t0=$(date +%s.%N)
openstack server migrate revert vevm2 || fail "server migrate revert vevm2"
wait_for 240 "vevm2 ACTIVE on h1" where2_is "ACTIVE h1 none" ||
	fail "vevm2 after the revert: $(where2)"
t1=$(date +%s.%N)
no_guest_on 2 || fail "h2 still has vevm2's guest or a secret once it is ACTIVE on h1"
wait_for 60 "vevm2 booted again on h1" newboot "$BM"
BR=$(lastboot)
wait_for 60 "vevm2 reads the mark on h1 ($DEV2)" reads_in "$BR" "$DEV2"
wait_for 60 "vevm2's rounds from h1 in the volume's file" wrote_in "$BR" "$VW1"
VW2=$(vw)
wait_for 30 "h1's session alone on the volume's target" nexus_is "10.250.0.1 "
att_on h1 || fail "the attachment after the revert: $(cv "/volumes/$VID" '.volume.attachments')"
lv 1 secret-list | grep -q "tinystack-chap-$ATT2" || fail "h1 has no secret of attachment $ATT2"
t2=$(date +%s.%N)
ok "server migrate revert vevm2: ACTIVE on h1 in $(echo "$t1 - $t0" | bc) s, h2's guest and secret gone before; the new boot reads TSVOL-$B1 on $DEV2 and writes ($VW2 in the volume's file); h1's session alone, the attachment $ATT2 on h1 ($(echo "$t2 - $t0" | bc) s in all)"

openstack server remove volume vevm2 vevol1 || fail "server remove volume (vevm2)"
wait_for 60 "vevol1 available (vevm2)" vol_is "$VID" available

# ---- evacuation with the volume attached --------------------------------------
# A guest on the host that does not hold the volume (h$GN) reads the mark;
# h$GN's agent and libvirtd are killed -9 (its qemu runs on, still logged
# in to the target: the hard case for fencing), h$GN is forced down
# (2.11) and `nova evacuate` rebuilds the server on the volume's host:
# the attachment (same id) moves there with that host's initiator name,
# the target's ACL follows, and the rebuild waits until the storage host
# exports the volume to it, so the new boot finds the volume at boot and
# reads the mark. h$GN back (its libvirtd first, which finds the old qemu
# running): the controller fences the stale copy on the agent's hello, so
# h$GN's domain, CHAP secret and session go; the server stays ACTIVE on
# h$VN with the same boot; `compute service set --up` returns h$GN.
EVT0=$(date +%s.%N)
GN=$((3 - VN))
S5=$(boot veevac "h$GN") || exit 1
openstack server add volume veevac vevol1 || fail "server add volume (veevac)"
wait_for 60 "vevol1 in-use on veevac" vol_is "$VID" in-use
lastboot5() { console "$S5" | sed -n 's/^TINYSTACK-GUEST-UP bootid=\([0-9a-f]*\).*/\1/p' | tail -n 1; }
since5() { console "$S5" | sed -n "/^TINYSTACK-GUEST-UP bootid=$1/,\$p"; }
reads5() { since5 "$1" | grep -q "^TINYSTACK-GUEST-VOLREAD vd[a-z] n=[0-9]* ok head=TSVOL-$B1\$"; }
where5() { nv "/servers/$S5" '[.server.status, .server."OS-EXT-SRV-ATTR:host", (.server."OS-EXT-STS:task_state" // "none")] | join(" ")'; }
where5_is() { [ "$(where5)" = "$1" ]; }
acl_of() {	# the initiators in the ACL of the volume's target
	tgtadm -C "${TGTC[$VN]}" --lld iscsi --op show --mode target 2>/dev/null |
		awk -v iqn="iqn.2010-10.org.openstack:volume-$VID" '
			/^Target / { on = ($3 == iqn); acl = 0; next }
			on && /^ *ACL information:/ { acl = 1; next }
			on && acl && NF == 1 { print $1 }' | sort | tr '\n' ' '
}
acl_is() { [ "$(acl_of)" = "$1" ]; }
secrets_of() { lv "$1" secret-list | grep -c tinystack-chap- || true; }
INIT=iqn.2010-10.org.openstack.tinystack:h
B5=$(lastboot5)
wait_for 60 "veevac reads the mark on h$GN" reads5 "$B5"
ATT5=$(cv "/volumes/$VID" '.volume.attachments[0].attachment_id')
acl_is "${INIT}$GN " || fail "the target's ACL before the evacuation: '$(acl_of)'"
wait_for 30 "h$GN's session alone on the volume's target" nexus_is "10.250.0.$GN "
PA=$(pid_of "agent-h$GN")
PL=$(cat "$T/h$GN/libvirtd.pid")
TG=$(our_tgtd "$GN")	# lives on (its own process group): adopted on the return
[ -n "$TG" ] && ADOPTED+=("$TG")
kill -9 "$PA" "$PL"
wait_for 30 "h$GN's agent to die" dead "$PA"
wait_for 30 "h$GN's libvirtd to die" dead "$PL"
openstack --os-compute-api-version 2.11 compute service set --down "h$GN" nova-compute ||
	fail "compute service set --down h$GN nova-compute"
wait_for 30 "h$GN forced down" is_state "h$GN" down
t0=$(date +%s.%N)
nova evacuate "$S5" "h$VN" > "$T/evac.txt" 2>&1 || { cat "$T/evac.txt"; fail "nova evacuate veevac h$VN"; }
wait_for 180 "veevac ACTIVE on h$VN" where5_is "ACTIVE h$VN none" ||
	fail "veevac after its evacuation: $(where5)"
t1=$(date +%s.%N)
newboot5() { local b; b=$(lastboot5); [ -n "$b" ] && [ "$b" != "$B5" ]; }
wait_for 90 "veevac booted on h$VN" newboot5
BE=$(lastboot5)
wait_for 60 "veevac's new boot on h$VN reads the mark" reads5 "$BE"
t2=$(date +%s.%N)
# At boot, not hot-plugged: the rebuild waited for the export.
since5 "$BE" | grep -q "^TINYSTACK-GUEST-DISK vd[a-z] sectors=2097152 ro=0 head=TSVOL-$B1\$" ||
	fail "veevac's new boot did not find the volume at boot: $(since5 "$BE" | grep GUEST-DISK)"
[ "$(cv "/volumes/$VID" '[.volume.attachments[] | .attachment_id + " " + .host_name + " " + .server_id] | join(",")')" = "$ATT5 h$VN $S5" ] ||
	fail "the attachment after the evacuation: $(cv "/volumes/$VID" '.volume.attachments')"
vol_is "$VID" in-use || fail "the volume is not in-use after the evacuation"
acl_is "${INIT}$VN " || fail "the target's ACL after the evacuation: '$(acl_of)'"
lv "$VN" secret-list | grep -q "tinystack-chap-$ATT5" || fail "h$VN has no secret of attachment $ATT5"
# Storage-side fence: h$GN's old qemu (running on, its agent dead) had
# its session closed by the storage host's tgt when the ACL dropped its
# initiator, and its reconnects are refused; h$GN is still down.
nexus_inits() {	# the initiators of the sessions to the volume's target
	tgtadm -C "${TGTC[$VN]}" --lld iscsi --op show --mode target 2>/dev/null |
		awk -v iqn="iqn.2010-10.org.openstack:volume-$VID" '
			/^Target / { on = ($3 == iqn) } on && /^ *Initiator: / { print $2 }' |
		sort | tr '\n' ' '
}
no_session_of_gn() { ! nexus_inits | grep -q "${INIT}$GN "; }
wait_for 30 "no session of h$GN's initiator on the volume's target" no_session_of_gn
t3=$(date +%s.%N)
wait_for 30 "h$VN's session alone on the volume's target" nexus_is "10.250.0.$VN "
is_state "h$GN" down || fail "h$GN is no longer down"
NX=$(nexus_inits)
ok "h$GN's agent and libvirtd killed -9, forced down, nova evacuate veevac h$VN with vevol1 attached: ACTIVE on h$VN in $(echo "$t1 - $t0" | bc) s, a new boot ($B5 -> $BE) reading TSVOL-$B1 from its boot $(echo "$t2 - $t0" | bc) s after the request; attachment $ATT5 on h$VN, the ACL names h$VN's initiator alone; the sessions ($NX) none of h$GN's ($(echo "$t3 - $t0" | bc) s after the request), h$GN still down"

# h$GN returns with the stale copy under its libvirtd.
"$FH" up "$NSP" "$GN" "$T/h$GN" "$BUS" "$IMP" > "$T/fakehost-h$GN-again.log" 2>&1 ||
	fail "restarting h$GN's libvirtd: $(cat "$T/fakehost-h$GN-again.log")"
OLD=$(lv "$GN" domstate "instance-$S5" 2>/dev/null | head -n 1)
L0=$(wc -l < "$T/ctl.log")
t0=$(date +%s.%N)
start "agent-h$GN" "$T/agent-h$GN-in-ns" "$T/agent-h$GN.conf"
gone5() { ! lv "$GN" list --all --name | grep -qx "instance-$S5"; }
wait_for 60 "h$GN's stale veevac fenced" gone5
wait_for 30 "h$GN's CHAP secret undefined" sh -c "[ \$(virsh -c '$("$FH" uri "$T/h$GN")' secret-list | grep -c tinystack-chap-) = 0 ]"
wait_for 30 "h$VN's session alone on the volume's target" nexus_is "10.250.0.$VN "
t1=$(date +%s.%N)
tail -n "+$((L0 + 1))" "$T/ctl.log" | grep -q "guest $S5 on h$GN belongs to an instance placed on h$VN: deleting it" ||
	fail "the controller did not fence veevac's stale copy on h$GN"
where5_is "ACTIVE h$VN none" || fail "veevac after h$GN's return: $(where5)"
[ "$(lastboot5)" = "$BE" ] || fail "veevac booted again after h$GN's return"
acl_is "${INIT}$VN " || fail "the target's ACL after h$GN's return: '$(acl_of)'"
openstack --os-compute-api-version 2.11 compute service set --up "h$GN" nova-compute ||
	fail "compute service set --up h$GN nova-compute"
wait_for 30 "h$GN up again" is_state "h$GN" up
ok "h$GN back (its old veevac ${OLD:-absent}): fenced on the agent's hello, domain, CHAP secret and session gone $(echo "$t1 - $t0" | bc) s after its start; veevac ACTIVE on h$VN, the same boot; h$GN up again"
openstack server remove volume veevac vevol1 || fail "server remove volume (veevac)"
wait_for 60 "vevol1 available (veevac)" vol_is "$VID" available
openstack server delete --wait veevac || fail "server delete veevac"
ok "evacuation stage in $(echo "$(date +%s.%N) - $EVT0" | bc) s"

# ---- delete ----------------------------------------------------------------------------------
openstack volume delete vevol1 || fail "volume delete"
wait_for 30 "vevol1 gone" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Auth-Token: $TOK' http://127.0.0.1:$VP/v3/$PROJ/volumes/$VID)\" = 404 ]"
[ ! -e "$T/vols-$VH/volume-$VID" ] || fail "the volume file is still on $VH"
wait_for 15 "no target on $VH" sh -c "! tgtadm -C ${TGTC[$VN]} --lld iscsi --op show --mode target | grep -q 'volume-$VID'"
ok "volume delete: no record, no file, no target"

# ---- the seed's commands, the quota ----------------------------------------------------
cinder create --display_name test 1 > "$T/cinder.txt" || { cat "$T/cinder.txt"; fail "cinder create"; }
CID=$(awk -F'|' '$2 ~ /^ id / { gsub(/ /, "", $3); print $3 }' "$T/cinder.txt")
[ -n "$CID" ] || { cat "$T/cinder.txt"; fail "no id from cinder create"; }
wait_for 30 "test available" vol_is "$CID" available
cinder list > "$T/cinder-list.txt" || { cat "$T/cinder-list.txt"; fail "cinder list"; }
grep -Eq "^\| $CID +\| available +\| test +\| 1 " "$T/cinder-list.txt" ||
	{ cat "$T/cinder-list.txt"; fail "cinder list does not show test available"; }
n0=$(cv "/volumes" '.volumes | length')
code=$(http_code POST "http://127.0.0.1:$VP/v3/$PROJ/volumes" -H "X-Auth-Token: $TOK" \
	-H 'Content-Type: application/json' -d '{"volume": {"size": 4, "name": "toobig"}}')
[ "$code" = 413 ] || fail "a volume over the gigabytes quota: HTTP $code, wanted 413"
[ "$(cv "/volumes" '.volumes | length')" = "$n0" ] || fail "the refused volume was created"
cinder delete test || fail "cinder delete"
wait_for 30 "test gone" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Auth-Token: $TOK' http://127.0.0.1:$VP/v3/$PROJ/volumes/$CID)\" = 404 ]"
ok "cinder create --display_name test 1, cinder list, cinder delete; 4 GiB over a 4 GiB quota with 1 GiB used: 413, nothing created"

# ---- boot from volume ----------------------------------------------------------------
# An image-backed volume (filled on its host from the image API with the
# volume's capability), then a server whose root disk it is.
BV=$(openstack volume create --image "$IID" --size 1 vebootvol -f value -c id) ||
	fail "volume create --image"
wait_for 60 "vebootvol available" vol_is "$BV" available
[ "$(cv "/volumes/$BV" '.volume.bootable')" = true ] || fail "vebootvol is not bootable"
[ "$(cv "/volumes/$BV" '.volume.volume_image_metadata.kernel_id')" = "$KID" ] ||
	fail "vebootvol's volume_image_metadata lacks the image's kernel_id"
S3=$(openstack server create --flavor m1.ve --volume vebootvol \
	--availability-zone nova:h1 --user-data "$T/ud" vebfv1 -f value -c id) ||
	fail "server create --volume"
wait_for "$BOOT_TIMEOUT" "vebfv1 booted" has_line "$S3" '^TINYSTACK-GUEST-UP '
wait_for 30 "vebfv1 ACTIVE" sh -c "[ \"\$(curl -s -H 'X-Auth-Token: $TOK' http://127.0.0.1:$CP/v2.1/servers/$S3 | jq -r .server.status)\" = ACTIVE ]"
# (the guest lists its disks just after its boot line)
wait_for 30 "vebfv1's vda: the 1 GiB volume with the image's data" \
	has_line "$S3" '^TINYSTACK-GUEST-DISK vda sectors=2097152 .*head=TSBASEIMAGE'

[ "$(nv "/servers/$S3" '.server.image')" = "" ] || fail "a server booted from a volume shows an image"
[ "$(nv "/servers/$S3" '.server."os-extended-volumes:volumes_attached"[0].id')" = "$BV" ] ||
	fail "vebfv1 does not list its root volume"
wait_for 30 "vebootvol in-use" vol_is "$BV" in-use
[ -z "$(ls "$T/inst-h1/$S3" 2>/dev/null | grep -E '^disk$')" ] || fail "vebfv1 has a local root disk"
code=$(http_code DELETE "http://127.0.0.1:$CP/v2.1/servers/$S3/os-volume_attachments/$BV" -H "X-Auth-Token: $TOK")
[ "$code" = 400 ] || fail "detaching a root volume: HTTP $code, wanted 400"
ok "server create --volume: booted from the image-backed volume (vda holds the image's data, no local root disk), image \"\", the root volume cannot be detached (400)"
# --boot-from-volume: Nova makes the root volume from the image.
openstack server create --flavor m1.ve --image "$IID" --boot-from-volume 1 \
	--availability-zone nova:h2 --user-data "$T/ud" vebfv2 > /dev/null ||
	fail "server create --boot-from-volume"
S4=$(openstack server show vebfv2 -f value -c id)
wait_for "$BOOT_TIMEOUT" "vebfv2 booted" has_line "$S4" '^TINYSTACK-GUEST-UP '
wait_for 30 "vebfv2's vda: a 1 GiB volume with the image's data" \
	has_line "$S4" '^TINYSTACK-GUEST-DISK vda sectors=2097152 .*head=TSBASEIMAGE'

BV2=$(nv "/servers/$S4" '.server."os-extended-volumes:volumes_attached"[0].id')
wait_for 30 "vebfv2's volume in-use" vol_is "$BV2" in-use
ok "server create --image --boot-from-volume 1: a new 1 GiB volume made from the image is its root disk"
# Shelve a server booted from a volume: no image (its root disk is the
# volume), offloaded at once (no domain anywhere, no host, the volume
# stays in-use); unshelve builds it again where the scheduler puts it,
# booting from the same volume.
t0=$(date +%s.%N)
bootid_of() { console "$1" | sed -n 's/^TINYSTACK-GUEST-UP bootid=\([0-9a-f]*\).*/\1/p' | tail -1; }
settled() { [ "$(nv "/servers/$1" '.server.status + " " + (.server."OS-EXT-STS:task_state" // "none")')" = "$2 none" ]; }
BL=$(bootid_of "$S3")
openstack server shelve vebfv1 || fail "server shelve vebfv1"
wait_for 120 "vebfv1 SHELVED_OFFLOADED" settled "$S3" SHELVED_OFFLOADED
t1=$(date +%s.%N)
[ "$(nv "/servers/$S3" '.server."OS-EXT-SRV-ATTR:host" // "none"')" = none ] ||
	fail "the offloaded vebfv1 still has a host"
for n in $HOSTS; do
	lv "$n" dominfo "instance-$S3" >/dev/null 2>&1 && fail "vebfv1's domain left on h$n"
done
openstack image show vebfv1-shelved >/dev/null 2>&1 && fail "an image shelved for a volume-backed server"
vol_is "$BV" in-use || fail "vebootvol not in-use while vebfv1 is offloaded"
# Nova 2.20: a volume attached to the offloaded vebfv1 is recorded alone
# (in-use at once, its attachment without a host or device, nothing
# exported; 409 below 2.20), and the unshelve's guest boots with it (the
# ensure waits for its export to the new host).
SV=$(openstack volume create --size 1 veshvol -f value -c id) || fail "volume create veshvol"
wait_for 30 "veshvol available" vol_is "$SV" available
ATTACH_BODY="{\"volumeAttachment\": {\"volumeId\": \"$SV\"}}"
code=$(http_code POST "http://127.0.0.1:$CP/v2.1/servers/$S3/os-volume_attachments" "${H[@]}" \
	-H 'Content-Type: application/json' -H 'OpenStack-API-Version: compute 2.19' -d "$ATTACH_BODY")
[ "$code" = 409 ] || fail "attach to an offloaded server at 2.19: HTTP $code, wanted 409"
vol_is "$SV" available || fail "veshvol changed by a refused attach"
curl -s "${H[@]}" -H 'Content-Type: application/json' -H 'OpenStack-API-Version: compute 2.20' \
	-d "$ATTACH_BODY" "http://127.0.0.1:$CP/v2.1/servers/$S3/os-volume_attachments" > "$T/shv.json"
jq -e --arg v "$SV" '.volumeAttachment.volumeId == $v and .volumeAttachment.device == null' \
	"$T/shv.json" >/dev/null || { cat "$T/shv.json"; fail "attach to the offloaded vebfv1 at 2.20"; }
vol_is "$SV" in-use || fail "veshvol not in-use at once"
[ "$(cv "/volumes/$SV" '.volume.attachments[0].server_id + " " + (.volume.attachments[0].host_name // "none")')" = "$S3 none" ] ||
	fail "veshvol's attachment while offloaded: $(cv "/volumes/$SV" '.volume.attachments')"
openstack server unshelve vebfv1 || fail "server unshelve vebfv1"
wait_for 120 "vebfv1 ACTIVE after unshelve" settled "$S3" ACTIVE
t2=$(date +%s.%N)
new_boot() { local b; b=$(bootid_of "$S3"); [ -n "$b" ] && [ "$b" != "$BL" ]; }
wait_for "$BOOT_TIMEOUT" "vebfv1 booted again" new_boot
wait_for 30 "vebfv1's vda after unshelve: its volume" \
	has_line "$S3" '^TINYSTACK-GUEST-DISK vda sectors=2097152 .*head=TSBASEIMAGE'
wait_for 30 "vebootvol in-use after unshelve" vol_is "$BV" in-use
BU=$(bootid_of "$S3")
SH3=$(nv "/servers/$S3" '.server."OS-EXT-SRV-ATTR:host"')
# At boot, not hot-plugged: the device the unshelve named (vdb).
since3() { console "$S3" | sed -n "/^TINYSTACK-GUEST-UP bootid=$BU/,\$p"; }
boot_has_vdb() { since3 | grep -q '^TINYSTACK-GUEST-DISK vdb sectors=2097152 ro=0 head=[^ ]*$'; }
wait_for 30 "vebfv1's new boot finds veshvol as vdb" boot_has_vdb
[ "$(nv "/servers/$S3/os-volume_attachments/$SV" '.volumeAttachment.device')" = /dev/vdb ] ||
	fail "veshvol's device after unshelve: $(nv "/servers/$S3/os-volume_attachments/$SV")"
[ "$(cv "/volumes/$SV" '.volume.attachments[0].host_name')" = "$SH3" ] ||
	fail "veshvol's attachment after unshelve: $(cv "/volumes/$SV" '.volume.attachments')"
openstack server remove volume vebfv1 veshvol || fail "server remove volume veshvol"
wait_for 60 "veshvol available after its detach" vol_is "$SV" available
openstack volume delete "$SV" || fail "volume delete veshvol"
ok "volume-backed vebfv1: shelve -> SHELVED_OFFLOADED in $(echo "$t1 - $t0" | bc) s (no domain, no image, its volume in-use); veshvol attached while offloaded (2.20; 409 at 2.19): in-use at once, no host; unshelve -> ACTIVE on $SH3 in $(echo "$t2 - $t1" | bc) s, booted again from its volume with veshvol as vdb from the boot"
openstack server delete --wait vebfv1 vebfv2 || fail "server delete (boot from volume)"
wait_for 30 "vebootvol available after its server" vol_is "$BV" available
wait_for 30 "vebfv2's volume available after its server" vol_is "$BV2" available
openstack volume delete "$BV" "$BV2" || fail "volume delete (boot volumes)"
ok "servers booted from volumes deleted: their volumes (delete_on_termination false) are available again"

openstack server delete --wait vevm1 vevm2 || fail "server delete"
for n in $HOSTS; do
	[ -z "$(lv "$n" list --all --name | grep .)" ] || fail "a domain is left on h$n"
	[ "$(lv "$n" secret-list | grep -c tinystack-chap-)" = 0 ] || fail "a secret is left on h$n"
done
ok "servers deleted: no domain, no secret left"

# ---- Tempest's live migration classes (issue 16) ------------------------------------
# The classes integ.compute_tempest cannot run (libvirt's test driver has
# no guest to move between processes), here against the two real hosts:
# TCG guests of the tiny image, block migration (the local disks copied),
# volume-backed and attached-volume variants through the agents' iSCSI
# exports, PAUSED kept across the move, the negative checks. What stays
# skipped (printed with tempest's reason): the trunk test (no trunk
# extension in tinystack's network API: api_extensions is the list it
# serves) and the serial console test (no serial console). The network
# service is not in this cloud's catalog (above), so tempest's projects
# get no network and their servers boot with none (below 2.37).
# With them the noVNC class (integ.compute_tempest's test driver has no VNC
# server): its page, the websocket through the controller's proxy to the
# guest's VNC server in its namespace (the relay of packaging/fakehost.sh),
# the RFB handshake, and a bad token answered with nothing but the close.
# Bounded: tempest gets 420 s (two workers).
LM_CLASSES="
tempest.api.compute.admin.test_live_migration.LiveMigrationTest
tempest.api.compute.admin.test_live_migration.LiveAutoBlockMigrationV225Test
tempest.api.compute.admin.test_live_migration.LiveMigrationRemoteConsolesV26Test
tempest.api.compute.admin.test_live_migration_negative.LiveMigrationNegativeTest
tempest.api.compute.servers.test_novnc.NoVNCConsoleTestJSON
"
LM_FLOOR=${TS_LM_TEMPEST_FLOOR:-12}
NP=$(sed -n 's/^network_port = //p' "$T/controller.conf")
EXT=$(curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$NP/v2.0/extensions" |
	jq -r '[.extensions[].alias] | join(",")')
[ -n "$EXT" ] || fail "no network extensions listed"
case ",$EXT," in *,trunk,*) fail "the network API lists trunk: run test_live_migration_with_trunk";; esac
FLV=$(openstack flavor show m1.ve -f value -c id) || fail "flavor show m1.ve"
tempest_setup "$IDP" admin-pw "$LM_CLASSES" <<C
[compute]
image_ref = $IID
image_ref_alt = $IID
flavor_ref = $FLV
flavor_ref_alt = $FLV
min_microversion = 2.1
max_microversion = 2.33
build_interval = 1
build_timeout = $BOOT_TIMEOUT
min_compute_nodes = 2
[compute-feature-enabled]
live_migration = true
block_migration_for_live_migration = true
volume_backed_live_migration = true
block_migrate_cinder_iscsi = true
can_migrate_between_any_hosts = true
pause = true
suspend = true
serial_console = false
vnc_console = true
spice_console = false
attach_encrypted_volume = false
[volume]
build_interval = 1
build_timeout = 60
min_microversion = 3.0
max_microversion = 3.0
volume_size = 1
[network-feature-enabled]
api_extensions = $EXT
[service_available]
nova = true
glance = true
cinder = true
neutron = false
swift = false
horizon = false
C
TEMPEST_WORKERS=${TEMPEST_WORKERS:-2}
t0=$(date +%s)
tempest_run 420
t1=$(date +%s)
tempest_no_failure "live migration and noVNC classes"
npass=$(tempest_count ok)
nskip=$(tempest_count SKIPPED)
tempest_skips
[ "$npass" -ge "$LM_FLOOR" ] || { cat "$T/results.txt"; fail "tempest: only $npass live migration tests passed (floor $LM_FLOOR)"; }
for n in $HOSTS; do
	wait_for 60 "tempest's domains gone from h$n" sh -c "[ -z \"\$(virsh -c '$("$FH" uri "$T/h$n")' list --all --name | grep .)\" ]"
done
ok "tempest live migration and noVNC classes on two real hosts: $npass passed, $nskip skipped, 0 failed in $((t1 - t0)) s"
