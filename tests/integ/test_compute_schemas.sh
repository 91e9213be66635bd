#!/bin/bash
# Every Compute API response the clients and Tempest read, checked against
# Tempest's own JSON schemas (tempest/lib/api_schema/response/compute/v2_1)
# with Tempest's validator: versions, flavors (+ extra specs, access), key
# pairs, servers (create, show, list, update, actions, console output,
# instance actions, ips (of a server on a network too), metadata,
# diagnostics), hypervisors, services,
# availability zones, aggregates, quotas and limits; admin and member views.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"
/usr/bin/python3 -c 'import tempest.lib.common.rest_client, jsonschema' 2>/dev/null || fail "tempest and python3-jsonschema are needed"

KEEP_NETWORK=1 compute_setup 1
. "$T/openrc"
NET=$(openstack network create snet -f value -c id)
openstack subnet create --network snet --subnet-range 10.40.0.0/24 ssub >/dev/null
head -c 65536 /dev/zero > "$T/disk.raw"
IMG=$(openstack image create --disk-format raw --container-format bare \
    --public --file "$T/disk.raw" img -f value -c id)
openstack project create demo >/dev/null
openstack user create --password demo-pw --project demo demo >/dev/null
openstack role add --user demo --project demo member
MEMBER=$(OS_USERNAME=demo OS_PASSWORD=demo-pw OS_PROJECT_NAME=demo os_token)
admin_token
ok "controller, one host, an image, a member of another project"

/usr/bin/python3 "$TS_SOURCE_DIR/tests/integ/compute_schemas.py" "http://127.0.0.1:$CP" \
    "$TOK" "$MEMBER" "$IMG" "$NET" > "$T/schemas.log" 2>&1 || { cat "$T/schemas.log"; fail "schema validation"; }
ok "$(tail -1 "$T/schemas.log") against Tempest's schemas"

echo "$NPASS passed, 0 failed"
