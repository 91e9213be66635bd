#!/bin/bash
# An agent on the real system libvirtd (qemu:///system; run_tests.sh starts
# libvirtd without systemd, as in shared/recipes) registers the host with
# the facts libvirt reports: QEMU, this machine's CPUs and memory.
. "$(dirname "$0")/lib.sh"

virsh -c qemu:///system version >/dev/null 2>&1 ||
	fail "libvirtd is not answering on qemu:///system (run_tests.sh starts it: packaging/libvirtd.sh start)"

PORT=$(free_port)
controller_conf "$T/controller.conf" "$PORT"
manage db sync >/dev/null
manage key setup >/dev/null
enrol_agent real1
agent_conf real1 "$PORT" qemu:///system
start ctl "$CTL" "$T/controller.conf"
start agent-real1 "$AGENT" "$T/agent-real1.conf"
wait_for 20 "real1 up" is_state real1 up
ok "agent on qemu:///system registers"

manage hypervisor list > "$T/hv.txt"
line=$(grep "| real1 " "$T/hv.txt") || { cat "$T/hv.txt"; fail "no hypervisor real1"; }
type=$(echo "$line" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
cpus=$(echo "$line" | awk -F'|' '{gsub(/ /,"",$4); print $4}')
mem=$(echo "$line" | awk -F'|' '{gsub(/ /,"",$5); print $5}')
[ "$type" = QEMU ] || fail "hypervisor type '$type', expected QEMU"
[ "$cpus" = "$(nproc --all)" ] || fail "vcpus $cpus, host has $(nproc --all)"
memtotal=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
diff=$((mem > memtotal ? mem - memtotal : memtotal - mem))
[ $((diff * 20)) -le "$memtotal" ] || fail "memory $mem MiB, host has $memtotal MiB"
ok "hypervisor facts: $type, $cpus vCPUs, $mem MiB (host: $memtotal MiB)"

echo "$NPASS passed, 0 failed"
