#!/bin/bash
# volume_io_bench.sh - sequential throughput of a block storage volume read
# and written inside a TCG guest through iSCSI, as a ratio to the same file
# read and written on the host.
#
# Starts its own stack the way tests/integ/test_guest_volume_e2e.sh does
# (its helpers: tests/integ/lib.sh, compute_lib.sh): the controller on the
# host, one fake hypervisor h1 (packaging/fakehost.sh: a namespace with its
# own libvirtd and agent), the agent's storage worker with the file backend
# and its own tgtd on h1's underlay address. Then:
#  1. `openstack volume create --size 1`: a sparse 1 GiB file on h1;
#  2. on the host, that file: MB MiB written (dd bs=1M oflag=direct
#     conv=notrunc,fsync, zeros) then read (iflag=direct); its page cache
#     dropped (iflag=nocache), so the guest's reads reach the disk too;
#  3. a guest (tests/e2e/mkguest.sh, "TINYSTACK-DDBENCH MB" in its user
#     data) boots, the volume is attached (`openstack server add volume`):
#     qemu's libiscsi -> tgtd (bstype rdwr) -> the file. The guest reads
#     MB MiB then writes them (busybox dd bs=1M, O_DIRECT, fsync at the
#     end) and prints MiB/s on its console, read through the compute API.
# Prints host and guest MiB/s and guest/host. Bounded: every wait has a
# limit (the guest's dd 600 s); everything is torn down on exit.
#
# Usage: bench/volume_io_bench.sh       (root; a built tree in build/)
# Knobs: MB (64, at most 1024), TS_BUILD_DIR (build), TS_BOOT_TIMEOUT (120)
set -euo pipefail
export LC_ALL=C
SRC=$(cd "$(dirname "$0")/.." && pwd)
export TS_SOURCE_DIR=$SRC
export TS_BUILD_DIR=${TS_BUILD_DIR:-$SRC/build}
MB=${MB:-64}
[ "$MB" -ge 1 ] && [ "$MB" -le 1024 ] || { echo "MB must be 1..1024" >&2; exit 1; }
# shellcheck source=../tests/integ/lib.sh
. "$SRC/tests/integ/lib.sh"
# shellcheck source=../tests/integ/compute_lib.sh
. "$SRC/tests/integ/compute_lib.sh"
set +o pipefail

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, libvirtd, tgtd)"
for c in openstack qemu-img jq curl ip libvirtd virsh tgtd tgtadm bc; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
BOOT_TIMEOUT=${TS_BOOT_TIMEOUT:-120}
NSP=tsvb$$
FH=$SRC/packaging/fakehost.sh
lv() { virsh -c "$("$FH" uri "$T/h1")" "$@"; }
vb_cleanup() {
	local rc=$? e
	for e in $(lv list --all --name 2>/dev/null); do
		lv destroy "$e" >/dev/null 2>&1 || true
		lv undefine "$e" --managed-save --nvram >/dev/null 2>&1 || true
	done
	stop_daemons_and_dnsmasq
	"$FH" down "$NSP" 1 "$T/h1" || true
	set +e
	(exit $rc)
	cleanup
}
trap vb_cleanup EXIT
chmod 0755 "$T"
now() { date +%s.%N; }
mibs() { echo "scale=1; $1 / ($3 - $2)" | bc; }

GUEST=$T/guest
"$SRC/tests/e2e/mkguest.sh" "$GUEST" >/dev/null || fail "mkguest.sh"
printf 'TSBASEIMAGE-0001' > "$T/base.raw"
truncate -s 8M "$T/base.raw"
qemu-img convert -f raw -O qcow2 "$T/base.raw" "$T/base.qcow2"

BUS=$(free_port); IDP=$(free_port); CP=$(free_port); IMP=$(free_port); VP=$(free_port)
api_lines "$IDP"
API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
API_LINES=("${API_LINES[@]/image_port = */image_port = $IMP}")
API_LINES=("${API_LINES[@]/volume_port = */volume_port = $VP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[image]" "store_path = $T/images" \
	"[compute]" "build_timeout = $BOOT_TIMEOUT" "action_timeout = 120" \
	"resend_interval = 5" "console_timeout = 10" \
	"[scheduler]" "reserved_host_memory_mb = 0"
"$FH" up "$NSP" 1 "$T/h1" "$BUS" "$IMP" > "$T/fakehost-h1.log" 2>&1 ||
	fail "fake host h1: $(cat "$T/fakehost-h1.log")"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
enrol_agent h1
agent_conf h1 "$BUS" "$("$FH" uri "$T/h1")"
TGTC=$(free_port)
cat >> "$T/agent-h1.conf" <<C
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
file_dir = $T/vols-h1
iscsi_portal = 10.250.0.1:3260
tgt_control_port = $TGTC
C
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NSP-h1" "$AGENT" > "$T/agent-h1-in-ns"
chmod 755 "$T/agent-h1-in-ns"
start agent-h1 "$T/agent-h1-in-ns" "$T/agent-h1.conf"
wait_for 30 "h1 up" is_state h1 up
wait_http 15 "http://127.0.0.1:$CP/"
wait_http 15 "http://127.0.0.1:$VP/"
# shellcheck disable=SC1091
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
openstack service delete network >/dev/null 2>&1 || true
admin_token
PROJ=$(openstack token issue -f value -c project_id)
cv() { curl -s -H "X-Auth-Token: $TOK" "http://127.0.0.1:$VP/v3/$PROJ$1" | jq -r "${2:-.}"; }
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
KID=$(upload vb-kernel aki aki "$GUEST/vmlinux")
RID=$(upload vb-ramdisk ari ari "$GUEST/initrd.gz")
IID=$(upload vb-root qcow2 bare "$T/base.qcow2" "\"kernel_id\": \"$KID\", \"ramdisk_id\": \"$RID\"")
openstack flavor create --ram 256 --disk 1 --vcpus 1 --ephemeral 0 m1.vb >/dev/null || fail "flavor create"
printf 'TINYSTACK-HOTPLUG\nTINYSTACK-DDBENCH %s\n' "$MB" > "$T/ud"
console() {
	curl -s -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
		-d '{"os-getConsoleOutput": {"length": null}}' \
		"http://127.0.0.1:$CP/v2.1/servers/$1/action" | jq -r '.output // ""'
}
has_line() { console "$1" | grep -Eq "$2"; }
vol_is() { [ "$(cv "/volumes/$1" '.volume.status')" = "$2" ]; }

# ---- the volume, measured on the host ----------------------------------------
VID=$(openstack volume create --size 1 vbvol -f value -c id) || fail "volume create"
wait_for 30 "vbvol available" vol_is "$VID" available
F=$T/vols-h1/volume-$VID
[ -f "$F" ] || fail "no volume file $F"
t0=$(now)
dd if=/dev/zero of="$F" bs=1M count="$MB" oflag=direct conv=notrunc,fsync status=none ||
	fail "host write"
t1=$(now)
dd if="$F" of=/dev/null bs=1M count="$MB" iflag=direct status=none || fail "host read"
t2=$(now)
dd if="$F" iflag=nocache count=0 status=none	# (the whole file's page cache)
HW=$(mibs "$MB" "$t0" "$t1")
HR=$(mibs "$MB" "$t1" "$t2")
echo "host: $MB MiB written in $(echo "$t1 - $t0" | bc) s ($HW MiB/s), read in $(echo "$t2 - $t1" | bc) s ($HR MiB/s)"

# ---- the same volume in a guest -------------------------------------------------
SID=$(openstack server create --flavor m1.vb --image "$IID" --user-data "$T/ud" vbvm \
	-f value -c id) || fail "server create"
wait_for "$BOOT_TIMEOUT" "vbvm booted" has_line "$SID" '^TINYSTACK-GUEST-UP '
openstack server add volume vbvm vbvol >/dev/null || fail "server add volume"
wait_for 60 "vbvol in-use" vol_is "$VID" in-use
wait_for 600 "the guest's dd" has_line "$SID" '^TINYSTACK-GUEST-DDBENCH'
L=$(console "$SID" | grep '^TINYSTACK-GUEST-DDBENCH' | head -n 1)
echo "guest: $L"
case $L in *-FAIL*) fail "the guest's dd failed: $L";; esac
GR=$(echo "$L" | sed -n 's/.* read_mbps=\([0-9.]*\).*/\1/p')
GW=$(echo "$L" | sed -n 's/.* write_mbps=\([0-9.]*\).*/\1/p')
[ -n "$GR" ] && [ -n "$GW" ] || fail "no numbers in '$L'"

printf '\n%-34s %10s %10s\n' "sequential, bs=1M, O_DIRECT, $MB MiB" read_MiB/s write_MiB/s
printf '%-34s %10s %10s\n' "host: the volume's file" "$HR" "$HW"
printf '%-34s %10s %10s\n' "TCG guest: iSCSI (libiscsi, tgtd)" "$GR" "$GW"
printf '%-34s %10s %10s\n' "guest / host" "$(echo "scale=3; $GR / $HR" | bc | sed "s/^\./0./")" "$(echo "scale=3; $GW / $HW" | bc | sed "s/^\./0./")"
openstack server delete --wait vbvm || fail "server delete"
wait_for 30 "vbvol available" vol_is "$VID" available
openstack volume delete vbvol || fail "volume delete"
