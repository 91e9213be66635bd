#!/bin/bash
# Prometheus /metrics on the controller ([metrics] port) and on the agents:
# both outputs pass a strict exposition-format check (prom_check.py, and
# promtool when installed); the API request counters move by exactly the
# calls made, per service and status class; the hypervisor gauges equal
# the agents up and follow an agent that dies; the fleet figures show the
# test driver's host and a server's claim; the agent's figures move; a
# token-protected agent endpoint refuses a scrape without the token; an
# agent told to listen beyond loopback without a token does not start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
command -v jq >/dev/null || fail "jq is not installed"
PY=/usr/bin/python3
CHECK=$TS_SOURCE_DIR/tests/integ/prom_check.py

BUS=$(free_port)
IDP=$(free_port)
MP=$(free_port)
api_lines "$IDP"
CP=$(printf '%s\n' "${API_LINES[@]}" | sed -n 's/^compute_port = //p')
IMP=$(printf '%s\n' "${API_LINES[@]}" | sed -n 's/^image_port = //p')
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
	"[scheduler]" "reserved_host_memory_mb = 0" \
	"[metrics]" "port = $MP"
identity_bootstrap admin-pw
declare -A AMP
for n in h1 h2; do
	enrol_agent "$n"
	agent_conf "$n" "$BUS" test:///default
	AMP[$n]=$(free_port)
	printf '[metrics]\nport = %s\n' "${AMP[$n]}" >> "$T/agent-$n.conf"
done
echo "token = s3cret-token" >> "$T/agent-h2.conf"
start ctl "$CTL" "$T/controller.conf"
start agent-h1 "$AGENT" "$T/agent-h1.conf"
start agent-h2 "$AGENT" "$T/agent-h2.conf"
for n in h1 h2; do wait_for 15 "$n up" is_state "$n" up; done
wait_http 15 "http://127.0.0.1:$CP/"
ok "controller (metrics on $MP) and two agents up"

# scrape NAME URL [curl args]: $T/NAME.prom, checked strictly.
scrape() {
	local name=$1 url=$2
	shift 2
	curl -sf -o "$T/$name.prom" -D "$T/$name.hdr" "$@" "$url" ||
		fail "scrape $url"
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/$name.hdr" ||
		fail "$url: content type"
	$PY "$CHECK" "$T/$name.prom" || fail "$url: exposition format"
	if command -v promtool >/dev/null; then
		promtool check metrics < "$T/$name.prom" 2>&1 |
		    grep -v "counter metrics should have \"_total\" suffix" |
		    grep -q . && fail "$url: promtool"
	fi
	return 0
}
# val NAME QUERY: the value of QUERY in $T/NAME.prom.
val() { $PY "$CHECK" "$T/$1.prom" "$2"; }
# vals NAME QUERY...: V[0..] = their values, in one run of the checker.
vals() { local f=$1; shift; mapfile -t V < <($PY "$CHECK" "$T/$f.prom" "$@"); }
ctl_scrape() { scrape ctl "http://127.0.0.1:$MP/metrics"; }

# The figures are computed at scrape time: both hosts up.
hv_up() { ctl_scrape; [ "$(val ctl 'tinystack_hypervisors{state="up"}')" = "$1" ]; }
wait_for 10 "2 hypervisors up in /metrics" hv_up 2
# test:///default: a 16-CPU host with 3 GiB of memory.
vals ctl 'tinystack_hypervisors{state="down"}' \
    'openstack_nova_agent_state{hostname="h1"}' \
    'openstack_nova_vcpus_available{hostname="h1"}' \
    'openstack_nova_memory_available_bytes{hostname="h2"}' \
    tinystack_bus_messages_received_total \
    'tinystack_bus_sent_total{type="hello_ack"}' \
    'tinystack_bus_sent_total{type="other"}' \
    'tinystack_bus_received_total{type="agent_hello"}' \
    'tinystack_bus_received_total{type="other"}' \
    'tinystack_bus_received_total{type="heartbeat_ack"}'
[ "${V[0]}" = 0 ] || fail "hosts down"
[ "${V[1]}" = 1 ] || fail "h1 agent_state"
[ "${V[2]}" = 16 ] || fail "h1 vcpus"
[ "${V[3]}" = $((3072 * 1048576)) ] || fail "h2 memory"
[ "${V[4]}" -gt 0 ] || fail "no bus messages counted"
# sends by message type: each agent's registration answered
[ "${V[5]}" -ge 2 ] || fail "hello_ack sends: ${V[5]}, 2 agents"
[ "${V[6]}" = 0 ] || fail "sends of no known type: ${V[6]}"
# receipts by message type: each agent's hello, nothing unknown, no
# series for a type only the controller sends; every frame counted
# under a type (the by-type counters are read after the total, so their
# sum is at least the total, never less)
[ "${V[7]}" -ge 2 ] || fail "agent_hello receipts: ${V[7]}, 2 agents"
[ "${V[8]}" = 0 ] || fail "receipts of no known type: ${V[8]}"
[ "${V[9]}" = absent ] || fail "a received series for heartbeat_ack"
rsum=$(val ctl tinystack_bus_received_total)	# (the sum of its series)
[ "$rsum" -ge "${V[4]}" ] || fail "received by type $rsum < received ${V[4]}"
M=(tinystack_store_commits_total tinystack_store_map_size_bytes
    tinystack_store_map_used_bytes tinystack_store_commit_batch_size_count
    openstack_nova_total_vms openstack_cinder_volumes openstack_neutron_ports
    openstack_glance_images 'tinystack_bus_dropped_total{reason="impostor"}'
    'tinystack_fleet_messages_rejected_total{reason="malformed"}'
    tinystack_process_heap_inuse_bytes tinystack_process_heap_cached_bytes
    tinystack_process_heap_free_bytes tinystack_process_heap_dirty_bytes tinystack_process_heap_mmapped_bytes tinystack_process_heap_system_bytes
    tinystack_process_heap_arenas
    'tinystack_process_resident_bytes{kind="anonymous"}'
    'tinystack_process_resident_bytes{kind="file"}')
vals ctl "${M[@]}"
for i in "${!M[@]}"; do [ "${V[$i]}" != absent ] || fail "${M[$i]} absent"; done
# The process's memory (common/procmem): malloc's bytes (glibc's,
# jemalloc's, or under a sanitizer the sanitizer's, which has no arenas)
# and the kernel's anonymous/file split.
vals ctl tinystack_process_heap_inuse_bytes tinystack_process_heap_system_bytes \
    tinystack_process_heap_arenas 'tinystack_process_resident_bytes{kind="anonymous"}' \
    'tinystack_process_resident_bytes{kind="file"}' \
    'tinystack_process_heap_allocator{allocator="sanitizer"}'
[ "${V[0]}" -gt 0 ] && [ "${V[1]}" -ge "${V[0]}" ] ||
	fail "heap: in use ${V[0]}, from the system ${V[1]}"
[ "${V[2]}" -ge 1 ] || [ "${V[5]}" = 1 ] || fail "heap arenas: ${V[2]}"
[ "${V[3]}" -gt 1048576 ] && [ "${V[4]}" -gt 1048576 ] ||
	fail "resident: anonymous ${V[3]}, file ${V[4]}"
ok "controller /metrics: strict format, hypervisors up = 2, host figures from libvirt"

# ---- request counters move by exactly the calls made -------------------------
admin_token
Q=('tinystack_http_requests_total{service="compute",status_class="2xx"}'
    'tinystack_http_requests_total{service="compute",status_class="4xx"}'
    'tinystack_http_request_duration_seconds_count{service="compute",status_class="2xx"}'
    'tinystack_http_requests_total{service="image",status_class="2xx"}')
ctl_scrape
vals ctl "${Q[@]}"
B=("${V[@]}")
for i in 1 2 3 4 5; do
	[ "$(http_code GET "http://127.0.0.1:$CP/v2.1/flavors" "${H[@]}")" = 200 ] || fail "flavors"
done
for i in 1 2 3; do
	[ "$(http_code GET "http://127.0.0.1:$CP/v2.1/servers/nope$i" "${H[@]}")" = 404 ] ||
		fail "404 expected"
done
[ "$(http_code GET "http://127.0.0.1:$IMP/v2/images" "${H[@]}")" = 200 ] || fail "images"
ctl_scrape
vals ctl "${Q[@]}"
[ "${V[0]}" = $((B[0] + 5)) ] || fail "compute 2xx: ${B[0]} -> ${V[0]}, 5 calls"
[ "${V[1]}" = $((B[1] + 3)) ] || fail "compute 4xx: ${B[1]} -> ${V[1]}, 3 calls"
[ "${V[2]}" = $((B[2] + 5)) ] || fail "compute latency count: ${B[2]} -> ${V[2]}, 5 calls"
[ "${V[3]}" = $((B[3] + 1)) ] || fail "image 2xx: ${B[3]} -> ${V[3]}, 1 call"
ok "request counters and latency histogram: +5 compute 2xx, +3 compute 4xx, +1 image 2xx"

# ---- a server's claim shows in the fleet figures --------------------------------
post() {	# URL JSON: the answer's body; fails on a status >= 300
	local code
	code=$(curl -s -o "$T/post.json" -w '%{http_code}' "${H[@]}" \
	    -H 'Content-Type: application/json' -d "$2" "$1")
	[ "$code" -lt 300 ] || { cat "$T/post.json"; fail "POST $1: $code"; }
	cat "$T/post.json"
}
post "http://127.0.0.1:$CP/v2.1/flavors" '{"flavor": {"name": "f2", "id": "2",
    "ram": 64, "disk": 0, "vcpus": 2}}' >/dev/null
IMG=$(post "http://127.0.0.1:$IMP/v2/images" '{"name": "img", "disk_format": "raw",
    "container_format": "bare", "visibility": "public"}' | jq -r .id)
head -c 65536 /dev/zero > "$T/disk.raw"
[ "$(http_code PUT "http://127.0.0.1:$IMP/v2/images/$IMG/file" "${H[@]}" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$T/disk.raw")" = 204 ] ||
	fail "image upload"
SRV=$(post "http://127.0.0.1:$CP/v2.1/servers" "{\"server\": {\"name\": \"s1\",
    \"flavorRef\": \"2\", \"imageRef\": \"$IMG\"}}" | jq -r .server.id)
active() {
	curl -s "${H[@]}" "http://127.0.0.1:$CP/v2.1/servers/$SRV" |
	    jq -e '.server.status == "ACTIVE"' >/dev/null
}
wait_for 20 "server ACTIVE" active
HOST=$(curl -s "${H[@]}" "http://127.0.0.1:$CP/v2.1/servers/$SRV" |
    jq -r '.server["OS-EXT-SRV-ATTR:host"]')
ctl_scrape
vals ctl openstack_nova_total_vms openstack_nova_running_vms \
    openstack_nova_vcpus_used openstack_nova_memory_used_bytes \
    openstack_glance_images "openstack_nova_vcpus_used{hostname=\"$HOST\"}" \
    'tinystack_create_phase_seconds_count{phase="write"}' \
    'tinystack_create_phase_seconds_sum{phase="write"}' \
    'tinystack_store_write_phase_seconds_sum{phase="commit"}'
[ "${V[0]}" = 1 ] || fail "total_vms"
[ "${V[1]}" = 1 ] || fail "running_vms (sum over hosts)"
[ "${V[2]}" = 2 ] || fail "vcpus_used (sum over hosts)"
[ "${V[3]}" = $((64 * 1048576)) ] || fail "memory_used"
[ "${V[4]}" = 1 ] || fail "glance_images"
[ "${V[5]}" = 2 ] || fail "vcpus_used on $HOST"
# Where the create waited: one create timed; its durable write and the
# store's commits took time.
[ "${V[6]}" = 1 ] || fail "create phases: ${V[6]} creates timed"
awk -v w="${V[7]}" -v c="${V[8]}" 'BEGIN { exit !(w > 0 && c > 0) }' ||
	fail "create write ${V[7]} s, store commits ${V[8]} s"
ok "a 2-vCPU server on $HOST: total_vms 1, vcpus_used 2, memory_used 64 MiB; its create's write ${V[7]} s"

# ---- the agents' endpoints ---------------------------------------------------------
scrape h1 "http://127.0.0.1:${AMP[h1]}/metrics"
vals h1 libvirt_up libvirt_domains tinystack_agent_heartbeats_total
[ "${V[0]}" = 1 ] || fail "h1 libvirt_up"
[ "${V[1]}" -ge 1 ] || fail "h1 libvirt_domains"
b1=${V[2]}
hb_moved() {
	scrape h1 "http://127.0.0.1:${AMP[h1]}/metrics"
	[ "$(val h1 tinystack_agent_heartbeats_total)" -gt "$b1" ]
}
wait_for 5 "h1 heartbeats counted" hb_moved
[ "$(val h1 tinystack_bus_messages_sent_total)" -gt 0 ] || fail "h1 bus sent"
scrape host "http://127.0.0.1:${AMP[$HOST]}/metrics" -H "Authorization: Bearer s3cret-token"
vals host 'tinystack_agent_commands_total{result="received"}' \
    'tinystack_agent_commands_total{result="executed"}'
[ "${V[0]}" -ge 1 ] || fail "$HOST counted no command"
[ "${V[1]}" -ge 1 ] || fail "$HOST executed no command"
ok "agent /metrics: strict format, libvirt_up 1, heartbeats and commands counted"

[ "$(http_code GET "http://127.0.0.1:${AMP[h2]}/metrics")" = 401 ] ||
	fail "h2 without the token"
[ "$(http_code GET "http://127.0.0.1:${AMP[h2]}/metrics" \
    -H "Authorization: Bearer wrong")" = 401 ] || fail "h2 with a wrong token"
[ "$(http_code GET "http://127.0.0.1:${AMP[h2]}/metrics" \
    -H "Authorization: Bearer s3cret-token")" = 200 ] || fail "h2 with the token"
ok "token-protected agent endpoint: 401 without or with a wrong token, 200 with it"

# An agent told to listen beyond loopback without a token refuses to start.
agent_conf h3 "$BUS" test:///default
sed -i "s|^keys_dir = .*|keys_dir = $T/keys-h1|" "$T/agent-h3.conf"
printf '[metrics]\nport = %s\nbind_host = 0.0.0.0\n' "$(free_port)" >> "$T/agent-h3.conf"
if timeout 20 "$AGENT" --foreground --config "$T/agent-h3.conf" >"$T/agent-h3.log" 2>&1; then
	fail "agent h3 started with a non-loopback metrics listener and no token"
fi
grep -q "set \[metrics\] token" "$T/agent-h3.log" || { cat "$T/agent-h3.log"; fail "h3: no error"; }
ok "a non-loopback [metrics] bind_host without a token is refused at start"

# ---- an agent that dies is counted down -------------------------------------------
kill -9 "$(pid_of agent-h2)"
hv_down() {
	ctl_scrape
	vals ctl 'tinystack_hypervisors{state="up"}' \
	    'tinystack_hypervisors{state="down"}' \
	    'openstack_nova_agent_state{hostname="h2"}'
	[ "${V[*]}" = "1 1 0" ]
}
wait_for 10 "h2 down in /metrics" hv_down
ok "a killed agent: hypervisors up 1, down 1, agent_state{h2} 0"
echo "$NPASS passed, 0 failed"
