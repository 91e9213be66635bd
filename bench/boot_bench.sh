#!/bin/bash
# boot_bench.sh - time from POST /servers to ACTIVE and to the guest's
# boot marker on the console, for real TCG guests on qemu:///system, with
# the images already in the agent's cache.
#
# Sets up what tests/integ/test_guest_e2e.sh does (controller + one agent
# on 127.0.0.1, tests/e2e/mkguest.sh's guest uploaded as aki/ari + a qcow2
# root disk), boots one server once to fill the image cache, then RUNS
# times: POST /servers with curl, poll GET /servers/{id} every 10 ms until
# ACTIVE, poll the console (os-getConsoleOutput) every 50 ms until the
# TINYSTACK-GUEST-UP line, DELETE and wait until it is gone. One guest at a
# time (the machine has 2 cores).
#
# Breakdown per boot, from the daemons' log timestamps (ms, one clock):
#   controller  POST sent -> "sent spawning" (API, store, scheduler, bus)
#   agent       "instance_ensure ... started" -> "defined": image cache
#               look-ups, qemu-img overlay, genisoimage, domain XML, define
#               (of which qemu-img and genisoimage, external processes)
#   qemu start  "defined" -> "ensured" (virDomainCreate: libvirt + qemu)
#   report      "ensured" -> ACTIVE seen by the client (reply, store, GET)
#   guest boot  ACTIVE -> marker seen on the console
#
# Usage: bench/boot_bench.sh [BUILD_DIR]     (default ./build; as root,
#   libvirtd running: packaging/libvirtd.sh start)
# Knobs: RUNS (10).
set -euo pipefail
export LC_ALL=C
TS_BUILD_DIR=$(cd "${1:-build}" && pwd)
TS_SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
export TS_BUILD_DIR TS_SOURCE_DIR
RUNS=${RUNS:-10}
. "$TS_SOURCE_DIR/tests/integ/lib.sh"
set +o pipefail
V="virsh -c qemu:///system"
$V version >/dev/null 2>&1 || fail "libvirtd is not answering on qemu:///system"
SIDS=()
bench_cleanup() {
	local rc=$? u
	for u in "${SIDS[@]+"${SIDS[@]}"}"; do
		if $V dominfo "instance-$u" >/dev/null 2>&1; then
			$V destroy "instance-$u" >/dev/null 2>&1 || true
			$V undefine "instance-$u" --managed-save --nvram >/dev/null 2>&1 || true
		fi
		rm -f "/var/log/libvirt/qemu/instance-$u.log"
	done
	(exit $rc) || cleanup
	cleanup
}
trap bench_cleanup EXIT
chmod 0711 "$T"

"$TS_SOURCE_DIR/tests/e2e/mkguest.sh" "$T/guest" >/dev/null
printf 'TSBASEIMAGE-0001' > "$T/base.raw"
truncate -s 8M "$T/base.raw"
qemu-img convert -f raw -O qcow2 "$T/base.raw" "$T/base.qcow2"

BUS=$(free_port); IDP=$(free_port); CP=$(free_port); IMP=$(free_port)
api_lines "$IDP"
API_LINES=("${API_LINES[@]/compute_port = */compute_port = $CP}")
API_LINES=("${API_LINES[@]/image_port = */image_port = $IMP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[image]" "store_path = $T/images" \
	"[compute]" "build_timeout = 300" "resend_interval = 30" \
	"[scheduler]" "reserved_host_memory_mb = 0"
identity_bootstrap admin-pw
enrol_agent h1
agent_conf h1 "$BUS" qemu:///system
cat >> "$T/agent-h1.conf" <<C
[DEFAULT]
debug = true
[libvirt]
virt_type = qemu
kernel_cmdline = console=ttyS0 quiet panic=-1
[image]
api_url = http://127.0.0.1:$IMP
C
start ctl "$CTL" "$T/controller.conf"
start agent-h1 "$AGENT" "$T/agent-h1.conf"
wait_for 30 "h1 up" is_state h1 up
wait_http 15 "http://127.0.0.1:$CP/"
. "$T/openrc"
export HOME=$T/home
mkdir -p "$HOME"
KID=$(openstack image create --disk-format aki --container-format aki \
	--file "$T/guest/vmlinux" bk -f value -c id)
RID=$(openstack image create --disk-format ari --container-format ari \
	--file "$T/guest/initrd.gz" br -f value -c id)
IID=$(openstack image create --disk-format qcow2 --container-format bare \
	--file "$T/base.qcow2" --property kernel_id="$KID" \
	--property ramdisk_id="$RID" broot -f value -c id)
FID=$(openstack flavor create --ram 256 --disk 1 --vcpus 1 m1.bench -f value -c id)
TOK=$(os_token)
NOVA=http://127.0.0.1:$CP/v2.1

boot_one() {	# boot_one N: one measured boot, a result line in $T/results
	local n=$1 hdr sid reqid t0 ta tm st out i
	hdr=$T/hdr-$n
	t0=$(date +%s%3N)
	curl -s -D "$hdr" -o "$T/post-$n.json" -H "X-Auth-Token: $TOK" \
		-H 'Content-Type: application/json' -d "{\"server\": {\"name\":
		\"b$n\", \"flavorRef\": \"$FID\", \"imageRef\": \"$IID\"}}" \
		"$NOVA/servers"
	sid=$(jq -r .server.id "$T/post-$n.json")
	SIDS+=("$sid")
	reqid=$(awk 'tolower($1) ~ /request-id:/ { sub("\r", "", $2); print $2; exit }' "$hdr")
	for i in $(seq 1 30000); do
		st=$(curl -s -H "X-Auth-Token: $TOK" "$NOVA/servers/$sid" | jq -r .server.status)
		[ "$st" = ACTIVE ] && break
		[ "$st" = ERROR ] && fail "boot $n: ERROR"
		sleep 0.01
	done
	ta=$(date +%s%3N)
	for i in $(seq 1 6000); do
		out=$(curl -s -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
			-d '{"os-getConsoleOutput": {"length": 50}}' \
			"$NOVA/servers/$sid/action" | jq -r '.output // ""')
		echo "$out" | grep -q '^TINYSTACK-GUEST-UP ' && break
		sleep 0.05
	done
	tm=$(date +%s%3N)
	echo "$n $sid $reqid $t0 $ta $tm" >> "$T/results"
	curl -s -o /dev/null -X DELETE -H "X-Auth-Token: $TOK" "$NOVA/servers/$sid"
	for i in $(seq 1 3000); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $TOK" "$NOVA/servers/$sid")" = 404 ] && break
		sleep 0.05
	done
	while $V dominfo "instance-$sid" >/dev/null 2>&1; do sleep 0.05; done
}

echo "# warm-up boot (fills the image cache)"
boot_one 0
: > "$T/results"
for n in $(seq 1 "$RUNS"); do
	boot_one "$n"
	echo "# boot $n done"
done

python3 - "$T/results" "$T/ctl.log" "$T/agent-h1.log" <<'PY'
import datetime, re, sys
def ms(line):
    d = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
    return int(d.timestamp() * 1000)
ctl = open(sys.argv[2]).read().splitlines()
agl = open(sys.argv[3]).read().splitlines()
def first(lines, *needles):
    for l in lines:
        if all(n in l for n in needles):
            return l
    return None
rows = []
for r in open(sys.argv[1]):
    n, sid, req, t0, ta, tm = r.split()
    t0, ta, tm = int(t0), int(ta), int(tm)
    sent = ms(first(ctl, "sent spawning of instance " + sid))
    start = ms(first(agl, "instance_ensure " + sid + ": started"))
    pl = first(agl, "guest " + sid + ": prepared in")
    defined = ms(pl)
    ext = 0
    for l in agl:
        if req in l and re.search(r"(qemu-img|genisoimage): status", l):
            ext += int(re.search(r"in (\d+) ms", l).group(1))
    ens = ms(first(agl, "instance " + sid + " ensured"))
    rows.append(dict(active=ta - t0, marker=tm - t0, ctl=sent - t0,
        bus=start - sent, agent=defined - start, ext=ext,
        qemu=ens - defined, report=ta - ens, guest=tm - ta))
def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100
    lo = int(k); hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)
cols = [("active", "POST -> ACTIVE"), ("marker", "POST -> console marker"),
        ("ctl", "controller (POST -> command sent)"),
        ("bus", "bus + agent queue"), ("agent", "agent prepare + define"),
        ("ext", "  of which qemu-img + genisoimage"),
        ("qemu", "qemu start (virDomainCreate)"),
        ("report", "reply -> ACTIVE seen (10 ms poll)"),
        ("guest", "guest boot to marker (50 ms poll)")]
print("boots: %d" % len(rows))
print("| step | p50 ms | p99 ms | max ms |")
print("|---|---|---|---|")
for k, name in cols:
    v = [r[k] for r in rows]
    print("| %s | %.0f | %.0f | %d |" % (name, pct(v, 50), pct(v, 99), max(v)))
PY
