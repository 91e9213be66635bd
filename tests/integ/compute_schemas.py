#!/usr/bin/python3
"""Validate the Compute API's responses against Tempest's JSON schemas.

Usage: compute_schemas.py BASE_URL ADMIN_TOKEN MEMBER_TOKEN IMAGE_ID

BASE_URL is the compute endpoint without a version (http://127.0.0.1:P).
Every call checks the status code and the body exactly as Tempest's
RestClient.validate_response() does (same schemas, same format checker),
at microversion 2.1. Prints one line per call; exits 1 on the first
failure.
"""
import json
import sys
import time
import urllib.error
import urllib.request

from tempest.lib.api_schema.response.compute.v2_1 import (
    aggregates, availability_zone, flavors, flavors_access,
    flavors_extra_specs, hypervisors, keypairs, limits, quotas, servers,
    services, versions)
from tempest.lib.api_schema.response.compute.v2_2 import (
    keypairs as keypairs22)
from tempest.lib.api_schema.response.compute.v2_3 import (
    servers as servers23)
from tempest.lib.api_schema.response.compute.v2_9 import (
    servers as servers29)
from tempest.lib.api_schema.response.compute.v2_11 import (
    services as services211)
from tempest.lib.api_schema.response.compute.v2_16 import (
    servers as servers216)
from tempest.lib.api_schema.response.compute.v2_19 import (
    servers as servers219)
from tempest.lib.api_schema.response.compute.v2_26 import (
    servers as servers226)
from tempest.lib.api_schema.response.compute.v2_28 import (
    hypervisors as hypervisors228)
from tempest.lib.api_schema.response.compute.v2_33 import (
    hypervisors as hypervisors233)
from tempest.lib.common.rest_client import RestClient

BASE, ADMIN, MEMBER, IMAGE, NET = sys.argv[1:6]
CHECKED = 0


class Resp:
    def __init__(self, status, headers):
        self.status = status
        self.headers = headers

    def get(self, k, d=None):
        return self.headers.get(k, d)


def call(method, path, body=None, token=ADMIN, raw=False, mv="2.1"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if token:
        req.add_header("X-Auth-Token", token)
    req.add_header("X-OpenStack-Nova-API-Version", mv)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            status, text, hdrs = r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        status, text, hdrs = e.code, e.read(), dict(e.headers)
    if raw:
        return status, text
    return status, (json.loads(text) if text else ""), hdrs


def check(name, schema, method, path, body=None, token=ADMIN, mv="2.1"):
    global CHECKED
    status, resp, hdrs = call(method, path, body, token, mv=mv)
    try:
        if status >= 400:
            raise AssertionError("HTTP %d: %s" % (status, resp))
        RestClient.validate_response(schema, Resp(status, hdrs), resp)
    except Exception as e:  # report which call, then fail
        print("FAIL %s: %s %s -> %s" % (name, method, path, e))
        sys.exit(1)
    CHECKED += 1
    if path.count("/") > 2 and hdrs.get("X-OpenStack-Nova-API-Version") != mv:
        print("FAIL %s: microversion %s not echoed (%s)" % (
            name, mv, hdrs.get("X-OpenStack-Nova-API-Version")))
        sys.exit(1)
    print("ok %s (%s %s %d at %s)" % (name, method, path, status, mv))
    return resp


def wait_status(sid, want, token=ADMIN):
    for _ in range(300):
        _, s, _ = call("GET", "/v2.1/servers/" + sid, token=token)
        if s["server"]["status"] == want:
            return
        time.sleep(0.1)
    print("FAIL server %s never reached %s" % (sid, want))
    sys.exit(1)


V = "/v2.1"
check("list_versions", versions.list_versions, "GET", "/", token=None)
check("get_one_version v2.1", versions.get_one_version, "GET", "/v2.1/",
      token=None)
check("get_one_version v2", versions.get_one_version, "GET", "/v2/",
      token=None)

# flavors
f = check("create flavor", flavors.create_update_get_flavor_details, "POST",
          V + "/flavors", {"flavor": {"name": "s1", "ram": "64",
                                      "vcpus": 1, "disk": 0, "id": None,
                                      "swap": "",
                                      "os-flavor-access:is_public": "True"}})
fid = f["flavor"]["id"]
check("show flavor", flavors.create_update_get_flavor_details, "GET",
      V + "/flavors/" + fid)
check("list flavors", flavors.list_flavors, "GET",
      V + "/flavors?minRam=1&minDisk=0&limit=10")
check("list flavors detail", flavors.list_flavors_details, "GET",
      V + "/flavors/detail?is_public=None")
check("set extra specs", flavors_extra_specs.set_get_flavor_extra_specs,
      "POST", V + "/flavors/%s/os-extra_specs" % fid,
      {"extra_specs": {"hw:numa_nodes": "1", "key 2": 5}})
check("get extra specs", flavors_extra_specs.set_get_flavor_extra_specs,
      "GET", V + "/flavors/%s/os-extra_specs" % fid)
check("update extra spec", flavors_extra_specs.set_get_flavor_extra_specs_key,
      "PUT", V + "/flavors/%s/os-extra_specs/hw:numa_nodes" % fid,
      {"hw:numa_nodes": "2"})
check("get extra spec", flavors_extra_specs.set_get_flavor_extra_specs_key,
      "GET", V + "/flavors/%s/os-extra_specs/hw:numa_nodes" % fid)
check("unset extra spec", flavors_extra_specs.unset_flavor_extra_specs,
      "DELETE", V + "/flavors/%s/os-extra_specs/hw:numa_nodes" % fid)
p = check("private flavor", flavors.create_update_get_flavor_details, "POST",
          V + "/flavors", {"flavor": {"name": "p1", "ram": 64, "vcpus": 1,
                                      "disk": 0, "id": "p1",
                                      "os-flavor-access:is_public": False}})
check("add flavor access", flavors_access.add_remove_list_flavor_access,
      "POST", V + "/flavors/p1/action",
      {"addTenantAccess": {"tenant": "0123456789abcdef0123456789abcdef"}})
check("list flavor access", flavors_access.add_remove_list_flavor_access,
      "GET", V + "/flavors/p1/os-flavor-access")
check("remove flavor access", flavors_access.add_remove_list_flavor_access,
      "POST", V + "/flavors/p1/action",
      {"removeTenantAccess": {"tenant": "0123456789abcdef0123456789abcdef"}})
check("delete flavor", flavors.delete_flavor, "DELETE", V + "/flavors/p1")

# key pairs
check("generate keypair", keypairs.create_keypair, "POST", V + "/os-keypairs",
      {"keypair": {"name": "g1"}})
check("import keypair", keypairs.create_keypair, "POST", V + "/os-keypairs",
      {"keypair": {"name": "i1", "public_key":
                   "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMDZnq8BFnAT4+CHb+"
                   "zRpFpvwPNcIgjiiQMMO/jPy6PJ test"}})
check("get keypair", keypairs.get_keypair, "GET", V + "/os-keypairs/i1")
check("list keypairs", keypairs.list_keypairs, "GET", V + "/os-keypairs")
check("delete keypair", keypairs.delete_keypair, "DELETE",
      V + "/os-keypairs/g1")

# servers
s = check("create server", servers.create_server_with_admin_pass, "POST",
          V + "/servers", {"server": {"name": "sv1", "flavorRef": fid,
                                      "imageRef": IMAGE, "key_name": "i1",
                                      "metadata": {"a": "b"},
                                      "networks": "none",
                                      "user_data": "IyEvYmluL3NoCg=="}})
sid = s["server"]["id"]
wait_status(sid, "ACTIVE")
check("get server", servers.get_server, "GET", V + "/servers/" + sid)
check("list servers", servers.list_servers, "GET", V + "/servers?limit=5")
check("list servers detail", servers.list_servers_detail, "GET",
      V + "/servers/detail?status=ACTIVE&flavor=" + fid)
check("update server", servers.update_server, "PUT", V + "/servers/" + sid,
      {"server": {"name": "sv1b"}})
check("addresses", servers.list_addresses, "GET",
      V + "/servers/%s/ips" % sid)
# a server on a network: addresses from its port
s2 = check("create server on a network", servers.create_server_with_admin_pass,
           "POST", V + "/servers", {"server": {"name": "sv2", "flavorRef": fid,
                                               "imageRef": IMAGE,
                                               "networks": [{"uuid": NET}]}})
sid2 = s2["server"]["id"]
wait_status(sid2, "ACTIVE")
g = check("get server on a network", servers.get_server, "GET",
          V + "/servers/" + sid2)
assert g["server"]["addresses"]["snet"][0]["addr"].startswith("10.40.0."), g
check("list servers detail on a network", servers.list_servers_detail, "GET",
      V + "/servers/detail")
check("addresses on a network", servers.list_addresses, "GET",
      V + "/servers/%s/ips" % sid2)
check("addresses by network", servers.list_addresses_by_network, "GET",
      V + "/servers/%s/ips/snet" % sid2)
check("delete server on a network", servers.delete_server, "DELETE",
      V + "/servers/" + sid2)
check("metadata", servers.list_server_metadata, "GET",
      V + "/servers/%s/metadata" % sid)
check("diagnostics", servers.show_server_diagnostics, "GET",
      V + "/servers/%s/diagnostics" % sid)
for act, want in (("os-stop", "SHUTOFF"), ("os-start", "ACTIVE"),
                  ("pause", "PAUSED"), ("unpause", "ACTIVE"),
                  ("suspend", "SUSPENDED"), ("resume", "ACTIVE")):
    check("action " + act, servers.server_actions_common_schema, "POST",
          V + "/servers/%s/action" % sid, {act: None})
    wait_status(sid, want)
check("reboot", servers.server_actions_common_schema, "POST",
      V + "/servers/%s/action" % sid, {"reboot": {"type": "HARD"}})
wait_status(sid, "ACTIVE")
check("rebuild", servers.rebuild_server_with_admin_pass, "POST",
      V + "/servers/%s/action" % sid, {"rebuild": {"imageRef": IMAGE,
                                                   "adminPass": "pw"}})
wait_status(sid, "ACTIVE")
check("rebuild 2.9", servers29.rebuild_server_with_admin_pass, "POST",
      V + "/servers/%s/action" % sid, {"rebuild": {"imageRef": IMAGE}},
      mv="2.9")
wait_status(sid, "ACTIVE")
check("console output", servers.get_console_output, "POST",
      V + "/servers/%s/action" % sid, {"os-getConsoleOutput": {"length": "5"}})
check("reset state", servers.server_actions_common_schema, "POST",
      V + "/servers/%s/action" % sid, {"os-resetState": {"state": "active"}})
check("lock", servers.server_actions_common_schema, "POST",
      V + "/servers/%s/action" % sid, {"lock": None})
check("unlock", servers.server_actions_common_schema, "POST",
      V + "/servers/%s/action" % sid, {"unlock": None})
a = check("instance actions", servers.list_instance_actions, "GET",
          V + "/servers/%s/os-instance-actions" % sid)
check("instance action", servers.show_instance_action, "GET",
      V + "/servers/%s/os-instance-actions/%s" %
      (sid, a["instanceActions"][0]["request_id"]))

# a member's view of its own server: no admin-only attributes
m = check("member create", servers.create_server_with_admin_pass, "POST",
          V + "/servers", {"server": {"name": "m1", "flavorRef": fid,
                                      "imageRef": IMAGE}}, token=MEMBER)
mid = m["server"]["id"]
wait_status(mid, "ACTIVE", token=MEMBER)
got = check("member get server", servers.get_server, "GET",
            V + "/servers/" + mid, token=MEMBER)
assert "OS-EXT-SRV-ATTR:host" not in got["server"], got
check("member delete", servers.delete_server, "DELETE", V + "/servers/" + mid,
      token=MEMBER)
check("member limits", limits.get_limit, "GET", V + "/limits", token=MEMBER)

# inventory
h = check("list hypervisors", hypervisors.list_search_hypervisors, "GET",
          V + "/os-hypervisors")
hid = str(h["hypervisors"][0]["id"])
hname = h["hypervisors"][0]["hypervisor_hostname"]
check("list hypervisors detail", hypervisors.list_hypervisors_detail, "GET",
      V + "/os-hypervisors/detail")
check("get hypervisor", hypervisors.get_hypervisor, "GET",
      V + "/os-hypervisors/" + hid)
check("hypervisor statistics", hypervisors.get_hypervisor_statistics, "GET",
      V + "/os-hypervisors/statistics")
check("hypervisor uptime", hypervisors.get_hypervisor_uptime, "GET",
      V + "/os-hypervisors/%s/uptime" % hid)
check("hypervisor servers", hypervisors.get_hypervisors_servers, "GET",
      V + "/os-hypervisors/%s/servers" % hname)
check("hypervisor search", hypervisors.list_search_hypervisors, "GET",
      V + "/os-hypervisors/%s/search" % hname)
check("list services", services.list_services, "GET",
      V + "/os-services?binary=nova-compute")
check("disable service", services.enable_disable_service, "PUT",
      V + "/os-services/disable", {"host": hname, "binary": "nova-compute"})
check("disable service with reason", services.disable_log_reason, "PUT",
      V + "/os-services/disable-log-reason",
      {"host": hname, "binary": "nova-compute", "disabled_reason": "test"})
check("enable service", services.enable_disable_service, "PUT",
      V + "/os-services/enable", {"host": hname, "binary": "nova-compute"})
check("availability zones", availability_zone.list_availability_zone_list,
      "GET", V + "/os-availability-zone")
check("availability zones detail",
      availability_zone.list_availability_zone_list_detail, "GET",
      V + "/os-availability-zone/detail")
check("aggregates", aggregates.list_aggregates, "GET", V + "/os-aggregates")

# quotas and limits
pid = "0123456789abcdef0123456789abcdef"
check("quota show", quotas.get_quota_set, "GET", V + "/os-quota-sets/" + pid)
check("quota defaults", quotas.get_quota_set, "GET",
      V + "/os-quota-sets/%s/defaults" % pid)
check("quota detail", quotas.get_quota_set_details, "GET",
      V + "/os-quota-sets/%s/detail" % pid)
check("quota update", quotas.update_quota_set, "PUT",
      V + "/os-quota-sets/" + pid, {"quota_set": {"instances": "5",
                                                  "cores": 10, "ram": -1}})
check("quota delete", quotas.delete_quota, "DELETE",
      V + "/os-quota-sets/" + pid)
check("limits", limits.get_limit, "GET", V + "/limits")

# microversions above 2.1 (the maximum served is 2.33)
check("keypair 2.2", keypairs22.create_keypair, "POST", V + "/os-keypairs",
      {"keypair": {"name": "g22", "type": "ssh"}}, mv="2.2")
check("get keypair 2.2", keypairs22.get_keypair, "GET",
      V + "/os-keypairs/g22", mv="2.2")
check("list keypairs 2.10", keypairs22.list_keypairs, "GET",
      V + "/os-keypairs", mv="2.10")
check("delete keypair 2.2", keypairs22.delete_keypair, "DELETE",
      V + "/os-keypairs/g22", mv="2.2")
check("get server 2.3", servers23.get_server, "GET", V + "/servers/" + sid,
      mv="2.3")
check("list servers detail 2.3", servers23.list_servers_detail, "GET",
      V + "/servers/detail", mv="2.3")
check("get server 2.9", servers29.get_server, "GET", V + "/servers/" + sid,
      mv="2.9")
check("list servers detail 2.11", servers29.list_servers_detail, "GET",
      V + "/servers/detail", mv="2.11")
check("update server 2.9", servers29.update_server, "PUT",
      V + "/servers/" + sid, {"server": {"name": "sv1c"}}, mv="2.9")
check("list services 2.11", services211.list_services, "GET",
      V + "/os-services", mv="2.11")
check("force down 2.11", services211.update_forced_down, "PUT",
      V + "/os-services/force-down",
      {"host": hname, "binary": "nova-compute", "forced_down": True},
      mv="2.11")
check("force up 2.11", services211.update_forced_down, "PUT",
      V + "/os-services/force-down",
      {"host": hname, "binary": "nova-compute", "forced_down": False},
      mv="2.11")
st, _, _ = call("PUT", V + "/os-services/force-down",
                {"host": hname, "binary": "nova-compute",
                 "forced_down": True}, mv="2.10")
assert st == 404, "force-down below 2.11 is %d" % st
check("get server 2.16", servers216.get_server, "GET", V + "/servers/" + sid,
      mv="2.16")
check("list servers detail 2.16", servers216.list_servers_detail, "GET",
      V + "/servers/detail", mv="2.16")
check("update server 2.19", servers219.update_server, "PUT",
      V + "/servers/" + sid, {"server": {"description": "d19"}}, mv="2.19")
g = check("get server 2.19", servers219.get_server, "GET",
          V + "/servers/" + sid, mv="2.19")
assert g["server"]["description"] == "d19", g["server"]
check("get server 2.26", servers226.get_server, "GET", V + "/servers/" + sid,
      mv="2.26")
check("list servers detail 2.26", servers226.list_servers_detail, "GET",
      V + "/servers/detail", mv="2.26")
check("update server 2.26", servers226.update_server, "PUT",
      V + "/servers/" + sid, {"server": {"description": None}}, mv="2.26")
check("update all tags 2.26", servers226.update_all_tags, "PUT",
      V + "/servers/%s/tags" % sid, {"tags": ["t1", "t2"]}, mv="2.26")
t = check("list tags 2.26", servers226.list_tags, "GET",
          V + "/servers/%s/tags" % sid, mv="2.26")
assert sorted(t["tags"]) == ["t1", "t2"], t
check("check tag 2.26", servers226.check_tag_existence, "GET",
      V + "/servers/%s/tags/t1" % sid, mv="2.26")
d = check("list servers detail tags 2.26", servers226.list_servers_detail,
          "GET", V + "/servers/detail?tags=t1,t2", mv="2.26")
assert [x["id"] for x in d["servers"]] == [sid], d
d = check("list servers detail not-tags-any 2.26",
          servers226.list_servers_detail, "GET",
          V + "/servers/detail?not-tags-any=t2", mv="2.26")
assert sid not in [x["id"] for x in d["servers"]], d
check("delete all tags 2.26", servers226.delete_all_tags, "DELETE",
      V + "/servers/%s/tags" % sid, mv="2.26")
st, _, _ = call("GET", V + "/servers/%s/tags" % sid, mv="2.25")
assert st == 404, "tags below 2.26 is %d" % st
h = check("get hypervisor 2.28", hypervisors228.get_hypervisor, "GET",
          V + "/os-hypervisors/" + hid, mv="2.28")
assert isinstance(h["hypervisor"]["cpu_info"], dict), h
h = check("list hypervisors detail 2.33 page", hypervisors233.
          list_hypervisors_detail, "GET",
          V + "/os-hypervisors/detail?limit=1", mv="2.33")
assert len(h["hypervisors"]) == 1 and "limit=1&marker=%s" % hid in \
    h["hypervisors_links"][0]["href"], h
last = str(check("list hypervisors 2.33", hypervisors233.
                 list_search_hypervisors, "GET", V + "/os-hypervisors",
                 mv="2.33")["hypervisors"][-1]["id"])
h = check("list hypervisors 2.33 after the last", hypervisors233.
          list_search_hypervisors, "GET",
          V + "/os-hypervisors?marker=%s" % last, mv="2.33")
assert h["hypervisors"] == [] and "hypervisors_links" not in h, h
st, _, _ = call("GET", V + "/os-hypervisors?marker=999999", mv="2.33")
assert st == 400, "an unknown marker is %d" % st
st, _, _ = call("GET", V + "/flavors", mv="2.34")
assert st == 406, "2.34 is %d" % st

check("delete server", servers.delete_server, "DELETE", V + "/servers/" + sid)
print("%d responses valid" % CHECKED)
