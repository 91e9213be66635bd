#!/bin/bash
# upgrade_state_check.sh: a store of schema 17 written by an old controller
# (TS_BUILD_DIR: a build of main before branch stateidx) is migrated by
# NEW_BUILD's `tinystack-manage db sync` (17 -> 18: instances_by_state
# ascending) and its controller answers every status filter as before, in
# the same order, paged and unpaged, one project and all. Adapted from the
# lead's check of 16 -> 17. Manual (not in ctest):
#   TS_SOURCE_DIR=$PWD TS_BUILD_DIR=OLD/build NEW_BUILD=$PWD/build \
#       bash bench/upgrade_state_check.sh
. "$TS_SOURCE_DIR/tests/integ/lib.sh"
. "$TS_SOURCE_DIR/tests/integ/compute_lib.sh"
trap cleanup EXIT
osc_start
compute_setup 2 "[compute]" "quota_instances = -1" "quota_cores = -1" "quota_ram = -1"
. "$T/openrc"
openstack flavor create --id 16 --ram 16 --disk 0 --vcpus 1 f16 >/dev/null
head -c 65536 /dev/zero > "$T/disk.raw"
IMG=$(openstack image create --disk-format raw --container-format bare --public --file "$T/disk.raw" img -f value -c id)
admin_token
act() {		# act ID BODY: a server action as the admin
	curl -s -o /dev/null -w '%{http_code}' "${H[@]}" -H 'Content-Type: application/json' \
	    -d "$2" "http://127.0.0.1:$CP/v2.1/servers/$1/action"
}
create_many 40 8 16 "$IMG" a
wait_for 90 "settled" settled
# every third server stopped, every seventh paused: three states, the
# streams of each interleaved in time
n=0
for id in $(nv '/servers?all_tenants=1' '.servers[].id'); do
	n=$((n + 1))
	if [ $((n % 3)) = 0 ]; then
		[ "$(act "$id" '{"os-stop": null}')" = 202 ] || fail "stop $id"
	elif [ $((n % 7)) = 0 ]; then
		[ "$(act "$id" '{"pause": null}')" = 202 ] || fail "pause $id"
	fi
done
wait_for 90 "settled" settled
QUERIES=("status=ACTIVE" "status=SHUTOFF" "status=PAUSED" "status=ACTIVE&status=SHUTOFF"
    "status=SHUTOFF&status=PAUSED&status=ACTIVE" "status=ERROR" "status=REBOOT")
# paged PATH: every page of 7 behind the previous page's last id
paged() {
	local m="" out="" page
	for i in $(seq 1 20); do
		page=$(nv "$1&limit=7${m:+&marker=$m}" '.servers[].id')
		[ -z "$page" ] && break
		out+="$page"$'\n'
		m=$(echo "$page" | tail -1)
	done
	printf '%s' "$out"
}
snapshot() {	# snapshot NAME: every query, paged and not, all and own project
	local q k=0
	: > "$T/$1.txt"
	for q in "${QUERIES[@]}"; do
		for scope in "all_tenants=1&" ""; do
			k=$((k + 1))
			{ echo "== ${scope}$q unpaged"; nv "/servers?${scope}$q" '.servers[].id'
			  echo "== ${scope}$q paged"; paged "/servers?${scope}$q"
			  echo "== ${scope}$q detail"; nv "/servers/detail?${scope}$q" '.servers[] | .id + " " + .status'
			} >> "$T/$1.txt"
		done
	done
}
snapshot before
echo "before: $(grep -vc '^==' "$T/before.txt") lines ($(nv '/servers?all_tenants=1&status=ACTIVE' '.servers | length') ACTIVE, $(nv '/servers?all_tenants=1&status=SHUTOFF' '.servers | length') SHUTOFF, $(nv '/servers?all_tenants=1&status=PAUSED' '.servers | length') PAUSED); schema: $(manage db version 2>&1 | head -2 | tr '\n' ' ')"
# each query's paged answer is its unpaged one
awk '/^== /{ split($0, a, " "); q = a[2]; kind = a[3]; next } kind == "unpaged" { u[q] = u[q] $0 "\n" } kind == "paged" { p[q] = p[q] $0 "\n" }
    END { for (q in u) if (u[q] != p[q]) { print "paged differs: " q; bad = 1 } exit bad }' "$T/before.txt" || fail "paged != unpaged before"
kill -TERM "$(pid_of ctl)"; wait_for 10 "ctl gone" dead "$(pid_of ctl)"
/usr/bin/time -f "db sync %e s" "$NEW_BUILD/tools/tinystack-manage" --config "$T/controller.conf" db sync
echo "schema after: $("$NEW_BUILD/tools/tinystack-manage" --config "$T/controller.conf" db version 2>&1 | head -2 | tr '\n' ' ')"
start ctl2 "$NEW_BUILD/controller/tinystack-controller" "$T/controller.conf"
wait_http 15 "http://127.0.0.1:$CP/"
snapshot after
cmp "$T/before.txt" "$T/after.txt" && echo "SAME ANSWERS after migration ($(grep -c '^==' "$T/after.txt") lists, $(grep -vc '^==' "$T/after.txt") lines)" ||
    { diff "$T/before.txt" "$T/after.txt" | head -20; fail "answers differ"; }
# new servers after the upgrade come first in their status's stream
create_many 5 5 16 "$IMG" b
wait_for 60 "settled" settled
first=$(nv '/servers?all_tenants=1&status=ACTIVE&limit=5' '.servers[].name' | tr '\n' ' ')
echo "ACTIVE, newest 5 after new creates: $first"
[ "$(echo "$first" | tr ' ' '\n' | grep -c '^b')" = 5 ] || fail "new servers not first"
stopped=$(nv '/servers?all_tenants=1&status=ACTIVE&limit=1' '.servers[0].id')
[ "$(act "$stopped" '{"os-stop": null}')" = 202 ] || fail "stop new"
wait_for 60 "settled" settled
[ "$(nv '/servers?all_tenants=1&status=SHUTOFF&limit=1' '.servers[0].id')" = "$stopped" ] || fail "stopped new server not first in SHUTOFF"
paged '/servers?all_tenants=1&status=ACTIVE' > "$T/after2.txt"
echo "after new creates: ACTIVE $(wc -l < "$T/after2.txt") paged, $(sort -u "$T/after2.txt" | wc -l) unique, newest stopped first in SHUTOFF"
cmp <(paged '/servers?all_tenants=1&status=ACTIVE') <(nv '/servers?all_tenants=1&status=ACTIVE' '.servers[].id') && echo "paged == unpaged after new creates"
