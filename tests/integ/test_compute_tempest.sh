#!/bin/bash
# Tempest 33's compute classes that need neither networking nor volumes,
# against a controller and two agents on libvirt's test driver (127.0.0.1,
# dynamic credentials), at microversions 2.1-2.11. Every selected test
# must pass or be skipped by tempest itself for a feature this cloud does
# not offer (tests listed in EXCLUDE need what is not built yet: networks,
# volumes, snapshots). Bounded: tempest gets 900 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tempest_lib.sh"
. "$(dirname "$0")/compute_lib.sh"
command -v tempest >/dev/null || fail "tempest is not installed"

CLASSES="
tempest.api.compute.test_versions.TestVersions
tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON
tempest.api.compute.keypairs.test_keypairs.KeyPairsV2TestJSON
tempest.api.compute.limits.test_absolute_limits.AbsoluteLimitsTestJSON
tempest.api.compute.test_quotas.QuotasTestJSON
tempest.api.compute.admin.test_flavors.FlavorsAdminTestJSON
tempest.api.compute.admin.test_hypervisor.HypervisorAdminTestJSON
tempest.api.compute.admin.test_hypervisor.HypervisorAdminUnderV252Test
tempest.api.compute.admin.test_services.ServicesAdminTestJSON
tempest.api.compute.admin.test_quotas.QuotasAdminTestJSON
tempest.api.compute.servers.test_servers.ServersTestJSON
tempest.api.compute.servers.test_create_server.ServersTestJSON
tempest.api.compute.servers.test_list_server_filters.ListServerFiltersTestJSON
tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON
tempest.api.compute.servers.test_delete_server.DeleteServersTestJSON
tempest.api.compute.admin.test_servers.ServersAdminTestJSON
"

compute_setup 2 "[compute]" "build_timeout = 60" "action_timeout = 60"
. "$T/openrc"
openstack flavor create --id 1 --ram 64 --disk 1 --vcpus 1 m1.nano >/dev/null
openstack flavor create --id 2 --ram 128 --disk 1 --vcpus 1 m1.micro >/dev/null
head -c 65536 /dev/zero > "$T/disk.raw"
IMG=$(openstack image create --disk-format raw --container-format bare \
    --public --file "$T/disk.raw" img -f value -c id)
IMG2=$(openstack image create --disk-format raw --container-format bare \
    --public --file "$T/disk.raw" img2 -f value -c id)
IDP=$(sed -n 's|^export OS_AUTH_URL=http://127.0.0.1:\([0-9]*\)/v3|\1|p' "$T/openrc")

tempest_setup "$IDP" admin-pw "$CLASSES" <<C
[compute]
image_ref = $IMG
image_ref_alt = $IMG2
flavor_ref = 1
flavor_ref_alt = 2
min_microversion = 2.1
max_microversion = 2.11
build_interval = 1
build_timeout = 60
fixed_network_name =
[compute-feature-enabled]
resize = false
pause = true
shelve = false
suspend = true
cold_migration = false
live_migration = false
metadata_service = false
vnc_console = false
spice_console = false
serial_console = false
rescue = false
enable_instance_password = true
interface_attach = false
snapshot = false
config_drive = false
console_output = true
change_password = false
personality = false
attach_encrypted_volume = false
disk_config = false
rebuild = false
xenapi_apis = false
[image]
build_interval = 1
build_timeout = 15
container_formats = bare
disk_formats = raw
[image-feature-enabled]
api_v2 = true
api_v1 = false
[service_available]
nova = true
glance = true
cinder = false
neutron = false
swift = false
horizon = false
C
# Security groups belong to the network service (not built yet).
printf '%s\n' 'test_remove_server_all_security_groups' \
	> "$TEMPEST_DIR/exclude.rx"

tempest_run 900 --exclude-list exclude.rx
cp "$T/results.txt" /tmp/compute-tempest-results.txt
if [ $TEMPEST_RC -ne 0 ]; then
	grep -E 'FAILED' "$T/tempest.out" | head -60
	fail "tempest compute classes: exit status $TEMPEST_RC"
fi
npass=$(tempest_count ok)
nskip=$(tempest_count SKIPPED)
tempest_skips
ok "tempest compute classes: $npass passed, $nskip skipped, 0 failed"
echo "$NPASS passed, 0 failed"
