#!/bin/bash
# volume_attach_bench.sh - volume attach and detach latency to a running
# real TCG guest, through the Compute API, p50/p99 over RUNS cycles.
#
# Sets up what tests/integ/test_guest_volume_e2e.sh does, with one host:
# the controller on the host (every API on 127.0.0.1), the hypervisor h1 a
# fake host (packaging/fakehost.sh: a namespace with its own libvirtd and
# the agent, [storage] file backend, the agent's own tgtd on the underlay
# address 10.250.0.1:3260), tests/e2e/mkguest.sh's guest. Boots one
# server, creates one 1 GiB volume (on h1), then RUNS times, one after the
# other:
#   attach  POST /servers/{id}/os-volume_attachments (curl) -> the volume's
#           status is in-use (GET /volumes/{id} every 20 ms)
#   detach  DELETE /servers/{id}/os-volume_attachments/{vol} -> available
# and checks at the end that libvirt hot-plugged the disk into the running
# guest RUNS times (the agent's log) and that the guest saw disks come (its
# TINYSTACK-GUEST-DISK ... hotplug=1 lines).
#
# Breakdown of each attach, from the daemons' log timestamps (ms, one
# clock; debug logs):
#   derive   POST sent -> host_storage sent to h1 (controller)
#   export   host_storage sent -> its host_storage_state applied (the
#            agent's storage worker: volume store, tgtadm calls, reply)
#   hotplug  state applied -> "volume ... attached" logged by the agent's
#            compute worker (the ensure sent, libvirt attach in qemu)
#   settle   hot-plugged -> in-use seen by the client (the host's report,
#            the reconciler, the 20 ms poll)
#
# Usage: bench/volume_attach_bench.sh [BUILD_DIR]   (default ./build; as
#   root; tgtd, libvirtd, qemu installed: packaging/install-deps.sh)
# Knobs: RUNS (20), LOGS (a directory to keep the daemons' logs in).
# Bounded: every wait has a limit (60 s per step).
set -euo pipefail
export LC_ALL=C
TS_BUILD_DIR=$(cd "${1:-build}" && pwd)
TS_SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
export TS_BUILD_DIR TS_SOURCE_DIR
RUNS=${RUNS:-20}
. "$TS_SOURCE_DIR/tests/integ/lib.sh"
. "$TS_SOURCE_DIR/tests/integ/compute_lib.sh"
set +o pipefail
[ "$(id -u)" = 0 ] || fail "needs root (namespaces, libvirtd, tgtd)"
for c in openstack qemu-img jq curl ip libvirtd virsh tgtd tgtadm; do
	command -v "$c" >/dev/null || fail "$c is not installed (packaging/install-deps.sh)"
done
NSP=tsvb$$
FH=$TS_SOURCE_DIR/packaging/fakehost.sh
lv() { virsh -c "$("$FH" uri "$T/h1")" "$@"; }
bench_cleanup() {
	local rc=$? e
	[ -n "${LOGS:-}" ] && mkdir -p "$LOGS" && cp "$T/ctl.log" "$T/agent-h1.log" "$LOGS/" 2>/dev/null
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
trap bench_cleanup EXIT
chmod 0755 "$T"

"$TS_SOURCE_DIR/tests/e2e/mkguest.sh" "$T/guest" >/dev/null || fail "mkguest.sh"
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
	"[compute]" "build_timeout = 300" "resend_interval = 5" \
	"[scheduler]" "reserved_host_memory_mb = 0"
cat >> "$T/controller.conf" <<C
[DEFAULT]
debug = true
C
"$FH" up "$NSP" 1 "$T/h1" "$BUS" "$IMP" > "$T/fakehost-h1.log" 2>&1 ||
	fail "fake host h1: $(cat "$T/fakehost-h1.log")"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
enrol_agent h1
agent_conf h1 "$BUS" "$("$FH" uri "$T/h1")"
TGTC=$(free_port)
cat >> "$T/agent-h1.conf" <<C
[DEFAULT]
debug = true
[libvirt]
virt_type = qemu
kernel_cmdline = console=ttyS0 quiet panic=-1
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
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
openstack service delete network >/dev/null 2>&1 || true
admin_token	# TOK
PROJ=$(openstack token issue -f value -c project_id)
NOVA=http://127.0.0.1:$CP/v2.1
CINDER=http://127.0.0.1:$VP/v3/$PROJ
KID=$(openstack image create --disk-format aki --container-format aki \
	--file "$T/guest/vmlinux" vbk -f value -c id)
RID=$(openstack image create --disk-format ari --container-format ari \
	--file "$T/guest/initrd.gz" vbr -f value -c id)
IID=$(openstack image create --disk-format qcow2 --container-format bare \
	--file "$T/base.qcow2" --property kernel_id="$KID" \
	--property ramdisk_id="$RID" vbroot -f value -c id)
FID=$(openstack flavor create --ram 256 --disk 1 --vcpus 1 m1.vb -f value -c id)
printf 'TINYSTACK-HOTPLUG\n' > "$T/ud"

console() {
	curl -s -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
		-d '{"os-getConsoleOutput": {"length": null}}' \
		"$NOVA/servers/$1/action" | jq -r '.output // ""'
}
has_line() { console "$1" | grep -Eq "$2"; }
vol_status() { curl -s -H "X-Auth-Token: $TOK" "$CINDER/volumes/$1" | jq -r .volume.status; }
server_status() { curl -s -H "X-Auth-Token: $TOK" "$NOVA/servers/$1" | jq -r .server.status; }
# until_status VOL WANT: poll every 20 ms, 60 s at most.
until_status() {
	local i st
	for i in $(seq 1 3000); do
		st=$(vol_status "$1")
		[ "$st" = "$2" ] && return 0
		case $st in error*) fail "volume $1 went to $st";; esac
		sleep 0.02
	done
	fail "volume $1 not $2 within 60 s (is $st)"
}

SID=$(openstack server create --flavor "$FID" --image "$IID" --user-data "$T/ud" \
	vbvm -f value -c id) || fail "server create"
wait_for 300 "vbvm ACTIVE" sh -c "[ \"\$(curl -s -H 'X-Auth-Token: $TOK' $NOVA/servers/$SID | jq -r .server.status)\" = ACTIVE ]"
wait_for 300 "vbvm booted" has_line "$SID" '^TINYSTACK-GUEST-UP '
VID=$(openstack volume create --size 1 vbvol -f value -c id) || fail "volume create"
until_status "$VID" available
echo "# server $SID booted on h1, volume $VID available; $RUNS cycles"

: > "$T/results"
for n in $(seq 1 "$RUNS"); do
	t0=$(date +%s%3N)
	code=$(curl -s -o "$T/att-$n.json" -w '%{http_code}' -H "X-Auth-Token: $TOK" \
		-H 'Content-Type: application/json' \
		-d "{\"volumeAttachment\": {\"volumeId\": \"$VID\"}}" \
		"$NOVA/servers/$SID/os-volume_attachments")
	[ "$code" = 200 ] || fail "attach $n: HTTP $code $(cat "$T/att-$n.json")"
	until_status "$VID" in-use
	t1=$(date +%s%3N)
	code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-Auth-Token: $TOK" \
		"$NOVA/servers/$SID/os-volume_attachments/$VID")
	[ "$code" = 202 ] || fail "detach $n: HTTP $code"
	until_status "$VID" available
	t2=$(date +%s%3N)
	echo "$n $t0 $t1 $t2" >> "$T/results"
	printf 'cycle %d: attach %d ms, detach %d ms\n' "$n" $((t1 - t0)) $((t2 - t1))
done
# Every attach reached the guest: libvirt hot-plugged the disk into the
# running qemu each time, and the guest itself saw disks come (it polls
# its disks, so a short cycle may come and go between two of its polls).
natt=$(grep -c "volume $VID attached as .* (running guest)" "$T/agent-h1.log")
[ "$natt" -ge "$RUNS" ] || fail "libvirt hot-plugged $natt times, not $RUNS"
wait_for 30 "the guest saw a hot-plugged disk" has_line "$SID" '^TINYSTACK-GUEST-DISK vd[a-z] .*hotplug=1'
nguest=$(console "$SID" | grep -c '^TINYSTACK-GUEST-DISK vd[a-z] .*hotplug=1')
echo "# hot-plugged into the running guest $natt times; the guest saw $nguest of them"
[ "$(server_status "$SID")" = ACTIVE ] || fail "the server is not ACTIVE after the cycles"

/usr/bin/python3 - "$T/results" "$T/ctl.log" "$T/agent-h1.log" "$VID" <<'PY'
import datetime, sys
def ms(line):
    d = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
    return int(d.timestamp() * 1000)
ctl = [l for l in open(sys.argv[2], errors="replace").read().splitlines() if l[:2] == "20"]
agl = [l for l in open(sys.argv[3], errors="replace").read().splitlines() if l[:2] == "20"]
vid = sys.argv[4]
def after(lines, t, *needles):
    for l in lines:
        if all(n in l for n in needles):
            try:
                v = ms(l)
            except ValueError:
                continue
            if v >= t:
                return v
    return None
def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100
    lo = int(k); hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)
rows = []
for r in open(sys.argv[1]):
    n, t0, t1, t2 = map(int, r.split())
    row = dict(attach=t1 - t0, detach=t2 - t1)
    sent = after(ctl, t0, "host_storage", "sent to h1")
    applied = after(agl, sent or t0, "host_storage_state generation", "sent") if sent else None
    plugged = after(agl, t0, "volume " + vid, "attached as", "(running guest)")
    if sent and applied and plugged and plugged <= t1 + 5:
        row.update(derive=sent - t0, export=applied - sent,
                   hotplug=plugged - applied, settle=t1 - plugged)
    unplugged = after(agl, t1, "volume " + vid, "detached (running guest)")
    if unplugged and unplugged <= t2 + 5:
        row.update(unplug=unplugged - t1, dsettle=t2 - unplugged)
    rows.append(row)
cols = [("attach", "attach: POST -> in-use"),
        ("derive", "  controller: POST -> host_storage sent"),
        ("export", "  agent storage: export, reply"),
        ("hotplug", "  ensure + libvirt hot-plug"),
        ("settle", "  hot-plugged -> in-use seen"),
        ("detach", "detach: DELETE -> available"),
        ("unplug", "  DELETE -> libvirt unplug done"),
        ("dsettle", "  unplugged -> available seen")]
print("cycles: %d" % len(rows))
print("| step | p50 ms | p99 ms | max ms | samples |")
print("|---|---|---|---|---|")
for k, name in cols:
    v = [r[k] for r in rows if k in r]
    if v:
        print("| %s | %.0f | %.0f | %d | %d |" % (name, pct(v, 50), pct(v, 99), max(v), len(v)))
PY
