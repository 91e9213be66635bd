#!/bin/bash
# The network dataplane end to end: a real controller and two real agents
# in network namespaces this test creates (the controller and h1 in one,
# h2 in the other; a veth pair between them is the underlay and carries
# the bus, which listens on h1's underlay address), network records written
# to the store as the API would (tests/integ/netseed, through ipam):
#  - a port bound to h1: the controller allocates h1's DHCP port, derives
#    h1's host_network and sends it; the agent makes the bridge and VXLAN
#    device, puts the DHCP address on the bridge and starts dnsmasq with
#    the port's hosts entry;
#  - dnsmasq killed, bridge deleted by hand: back within the agent's tick;
#  - a port of the same network on h2: each host's VXLAN device floods to
#    the other's tunnel address (reported in its hello), h2 gets its own
#    DHCP port and dnsmasq; h2's port deleted: h1's flood entry goes;
#  - the port deleted: the network leaves the host, the DHCP port is
#    released.
# Namespaces are named tsnw-*-$$ and removed on exit; no traffic leaves
# them.
source "$(dirname "$0")/lib.sh"

# CI is root and packaging/install-deps.sh installs every tool: a missing
# one is a broken set-up, not a reason to skip.
if [ "$(id -u)" != 0 ]; then echo "FAIL: needs root (network namespaces)"; exit 1; fi
for p in dnsmasq ip; do
	command -v $p >/dev/null || { echo "FAIL: $p not installed (packaging/install-deps.sh)"; exit 1; }
done
SEED=$TS_BUILD_DIR/tests/unit/netseed
[ -x "$SEED" ] || fail "netseed not built ($SEED): cmake --build build --target netseed"

NS=tsnw-h1-$$; NS2=tsnw-h2-$$
NET=7a2b3c40-0000-4000-8000-0000000000a1
SUB=7a2b3c40-0000-4000-8000-1000000000a1
PORT1=7a2b3c40-0000-4000-8000-2000000000a1
PORT2=7a2b3c40-0000-4000-8000-2000000000a2
id=${NET//-/}
BR=tsb${id:0:11}; VX=tsv${id:0:11}
PIDF=$T/h1dhcp/$NET/pid
# dnsmasq re-reads its files as an unprivileged user after SIGHUP.
chmod 755 "$T"

net_cleanup() {
	local rc=$? f pid
	stop_daemons_and_dnsmasq
	ip netns del $NS 2>/dev/null || true
	ip netns del $NS2 2>/dev/null || true
	set +e
	(exit $rc)
	cleanup
}
trap net_cleanup EXIT

ip netns add $NS; ip netns add $NS2
ip -n $NS link set lo up; ip -n $NS2 link set lo up
ip link add u0 netns $NS type veth peer name u0 netns $NS2
ip -n $NS addr add 10.250.0.1/24 dev u0; ip -n $NS link set u0 up
ip -n $NS2 addr add 10.250.0.2/24 dev u0; ip -n $NS2 link set u0 up

PORT=$(free_port)
controller_conf "$T/controller.conf" "$PORT" "[network]" "vni_ranges = 300:310"
manage db sync >/dev/null || fail "db sync"
manage key setup >/dev/null
# The bus on h1's underlay address, so that h2's agent reaches it.
sed -i "s|^listen = tcp://127.0.0.1:|listen = tcp://10.250.0.1:|" "$T/controller.conf"
for h in 1 2; do
	enrol_agent h$h
	agent_conf h$h "$PORT" test:///default
	sed -i "s|^controller = tcp://127.0.0.1:|controller = tcp://10.250.0.1:|" "$T/agent-h$h.conf"
	cat >> "$T/agent-h$h.conf" <<C

[network]
local_ip = 10.250.0.$h
dhcp_state_dir = $T/h${h}dhcp
C
done
# The daemons in their namespaces (start() runs "$bin" --foreground ...).
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$CTL" > "$T/ctl-in-ns"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS "$AGENT" > "$T/agent1-in-ns"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' $NS2 "$AGENT" > "$T/agent2-in-ns"
chmod 755 "$T/ctl-in-ns" "$T/agent1-in-ns" "$T/agent2-in-ns"
start ctl "$T/ctl-in-ns" "$T/controller.conf"
start agent-h1 "$T/agent1-in-ns" "$T/agent-h1.conf"
start agent-h2 "$T/agent2-in-ns" "$T/agent-h2.conf"
wait_for 15 "h1 up" is_state h1 up
wait_for 15 "h2 up" is_state h2 up
ok "controller and agent h1 up in $NS, agent h2 in $NS2"

# ---- a port lands on h1
"$SEED" "$T/controller.conf" network $NET $SUB 10.77.0.0/24 || fail "network"
read -r MAC IP < <("$SEED" "$T/controller.conf" port $PORT1 $NET h1 vm-one) || fail "port"
[ "$IP" = 10.77.0.2 ] || fail "port address $IP"
dhcp_port() { "$SEED" "$T/controller.conf" dhcp-ports | grep -x "$NET h1 10.77.0.3"; }
wait_for 10 "h1's DHCP port allocated" dhcp_port
ok "the controller allocated h1's DHCP port (10.77.0.3)"

bridge_up() { ip -n $NS -d link show $BR | grep "bridge " >/dev/null; }
wait_for 15 "bridge $BR in $NS" bridge_up
ip -n $NS -d link show $VX | grep -E "vxlan id 300 local 10.250.0.1 " >/dev/null ||
	fail "vxlan: $(ip -n $NS -d link show $VX 2>&1)"
ip -n $NS link show $BR | grep "mtu 1450" >/dev/null || fail "bridge MTU"
ok "bridge $BR and vxlan $VX (VNI 300, local 10.250.0.1, MTU 1450)"

dnsmasq_pid() {
	local p
	p=$(cat "$PIDF" 2>/dev/null) && [ -n "$p" ] &&
	    tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep "^dnsmasq .*--pid-file=$PIDF" >/dev/null &&
	    echo "$p"
}
wait_for 15 "dnsmasq for $NET" dnsmasq_pid
ip -n $NS addr show $BR | grep "inet 10.77.0.3/24" >/dev/null || fail "DHCP address on the bridge: $(ip -n $NS addr show $BR)"
grep -qx "$MAC,10.77.0.2,vm-one" "$T/h1dhcp/$NET/hosts" || fail "hosts file: $(cat "$T/h1dhcp/$NET/hosts")"
ok "dnsmasq serves from 10.77.0.3 with the port's hosts entry"
applied() { grep -E "host_network generation [0-9]+: 1 networks" "$T/agent-h1.log"; }
wait_for 5 "the agent applied it" applied

# ---- the dataplane heals within the agent's tick, and says so
# `tinystack-manage status --json` in the controller's namespace (its API
# and bus ports are there); status_wait polls it (one python process, no
# fixed sleep) until HOST's SERVICE is in STATE, with an error containing
# ERR timestamped at or after SINCE_MS when given, and checks the exit
# status (1 while something is down, 0 when all is up).
nsmanage() { ip netns exec $NS "$MANAGE_BIN" --config "$T/controller.conf" "$@"; }
status_wait() {
	/usr/bin/python3 - "$@" <<'P' || fail "status: $1 s waiting for $3 $4 $5 ${6:-}: $(cat "$T/status.out")"
import json, os, subprocess, sys, time
secs, host, svc, state = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
err = sys.argv[5] if len(sys.argv) > 5 else None
since = int(sys.argv[6]) if len(sys.argv) > 6 else 0
T = os.environ["T"]
cmd = ["ip", "netns", "exec", os.environ["NS"], os.environ["MANAGE_BIN"],
       "--config", T + "/controller.conf", "status", "--json"]
end = time.time() + secs
while time.time() < end:
    p = subprocess.run(cmd, capture_output=True, text=True)
    open(T + "/status.out", "w").write(p.stdout + p.stderr)
    doc = json.loads(p.stdout)
    a = [x for x in doc["agents"] if x["host"] == host]
    d = [s for s in a[0]["services"] if s["name"] == svc] if a else []
    if d and d[0]["state"] == state and (err is None or (
            err in (d[0]["error"] or "") and d[0]["error_at"] >= since)):
        want = 1 if state == "down" else 0
        if p.returncode != want or doc["ok"] != (want == 0):
            sys.exit("exit status %d, ok %s" % (p.returncode, doc["ok"]))
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
P
}
export T NS MANAGE_BIN
status_wait 15 h1 dnsmasq up
status_wait 15 h1 libvirtd up
ok "status: h1's libvirtd and dnsmasq up, exit 0"
OLD=$(dnsmasq_pid)
KILLED=$(date +%s%3N)
T0=$(date +%s.%N)
kill -9 "$OLD"
status_wait 15 h1 dnsmasq down "dnsmasq $OLD" "$KILLED"
T1=$(date +%s.%N)
ok "dnsmasq killed -9: status reports h1's dnsmasq down with its error, exit 1 ($(awk "BEGIN { printf \"%.1f\", $T1 - $T0 }") s)"
new_dnsmasq() { local p; p=$(dnsmasq_pid) && [ "$p" != "$OLD" ]; }
wait_for 15 "dnsmasq back" new_dnsmasq
ok "dnsmasq killed: back within the tick"
status_wait 15 h1 dnsmasq up "dnsmasq $OLD" "$KILLED"
nsmanage status > "$T/status.txt" || fail "status exits $? with all up: $(cat "$T/status.txt")"
grep -E "^\| h1 +\| dnsmasq +\| up +\| 1 network\(s\) +\| [0-9: -]+ \| network $NET: dnsmasq $OLD " "$T/status.txt" >/dev/null ||
	fail "status table: $(cat "$T/status.txt")"
ok "status: h1's dnsmasq up again, its last error kept, exit 0"
sed 's/^/# /' "$T/status.txt"
logged() { nsmanage logs errors --since 5m | grep "h1 tinystack-agent: dhcp: network $NET: dnsmasq $OLD exited unexpectedly"; }
wait_for 10 "logs errors shows the dnsmasq exit" logged
nsmanage logs errors --json --since "$(date -u -d '-5 min' +%Y-%m-%dT%H:%M:%SZ)" |
	/usr/bin/python3 -c 'import json,sys; l=json.load(sys.stdin); assert any(x["host"]=="h1" and "dnsmasq '"$OLD"' exited" in x["text"] for x in l), l; assert [x["at"] for x in l]==sorted(x["at"] for x in l)' ||
	fail "logs errors --json"
[ -z "$(nsmanage logs errors --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)")" ] || fail "logs errors --since the future is not empty"
rc=0; nsmanage logs errors --since yesterday >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "a bad --since exits $rc, not 2"
ok "logs errors shows h1's dnsmasq error (text, --json oldest first, --since ISO and relative; a bad --since exits 2)"
ip -n $NS link del $BR
wait_for 15 "bridge back" bridge_up
ip -n $NS -d link show $VX | grep "master $BR" >/dev/null || fail "$VX not enslaved again"
ok "bridge deleted by hand: back within the tick"

# ---- a second host on the network: VXLAN peers both ways
read -r MAC2 IP2 < <("$SEED" "$T/controller.conf" port $PORT2 $NET h2 vm-two) || fail "port 2"
fdb() { ip netns exec $1 bridge fdb show dev $VX 2>/dev/null | grep "^00:00:00:00:00:00 dst $2 "; }
wait_for 15 "h1 floods to h2" fdb $NS 10.250.0.2
wait_for 15 "h2 floods to h1" fdb $NS2 10.250.0.1
[ "$IP2" = 10.77.0.4 ] || fail "port 2 address $IP2"
h2_dhcp() {
	local p
	grep -qx "$MAC2,10.77.0.4,vm-two" "$T/h2dhcp/$NET/hosts" &&
	    ip -n $NS2 addr show $BR | grep "inet 10.77.0.5/24" >/dev/null &&
	    p=$(cat "$T/h2dhcp/$NET/pid") && kill -0 "$p"
}
wait_for 15 "h2's dnsmasq on 10.77.0.5" h2_dhcp
"$SEED" "$T/controller.conf" dhcp-ports | grep -x "$NET h2 10.77.0.5" >/dev/null || fail "no DHCP port for h2"
ok "h2 joins: VXLAN flood entries to each other's tunnel address, h2's own DHCP port (10.77.0.5) and dnsmasq"
"$SEED" "$T/controller.conf" port-delete $PORT2 || fail "port 2 delete"
no_fdb() { ! fdb $NS 10.250.0.2; }
wait_for 15 "h1's flood entry to h2 gone" no_fdb
h2_clean() { ! ip -n $NS2 link show $BR >/dev/null 2>&1; }
wait_for 15 "network gone from h2" h2_clean
ok "h2's port deleted: the network left h2, h1 no longer floods to it"

# ---- the port leaves
"$SEED" "$T/controller.conf" port-delete $PORT1 || fail "port delete"
bridge_gone() { ! ip -n $NS link show $BR >/dev/null 2>&1; }
wait_for 15 "bridge gone" bridge_gone
no_dnsmasq() { ! dnsmasq_pid; }
wait_for 10 "dnsmasq stopped" no_dnsmasq
no_dhcp_port() { [ -z "$("$SEED" "$T/controller.conf" dhcp-ports)" ]; }
wait_for 10 "DHCP port released" no_dhcp_port
ok "port deleted: the network left h1 and its DHCP port was released"
