#!/usr/bin/env python3
"""The authorization matrix: every route of every service (from
`tinystack-manage policy routes --json`) x {no token, expired token, revoked
token, a token whose user was deleted or disabled or lost its role since,
another project's member, reader, member, project admin, system
admin} against a running controller.

Expected statuses are never written per route: an unauthenticated caller
gets 401 on every authenticated route; for a persona the route's rule is
evaluated by `tinystack-manage policy check --json` (the controller's own
engine and defaults) with the persona's effective roles and scope and the
target the route builds (path parameters, or the fixture's owner for rules
the handler enforces on the object). Bodies are the smallest valid ones
where a handler reads the body before it enforces (as Glance and Nova
validate first). Denied -> 403, or 404 for a
ROUTE_POLICY_IN_HANDLER route whose object belongs to another project
(hidden as if absent); allowed -> anything but 401 and 403. Self-scoped
routes must not answer 401. Rows that delete run last, on throwaway objects.

Usage: authz_matrix.py MANAGE CONFIG IDENTITY_PORT IMAGE_PORT COMPUTE_PORT
       ADMIN_PASSWORD TOKEN_LIFETIME NETWORK_PORT VOLUME_PORT DASHBOARD_PORT
"""
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

MANAGE, CONF, IDP, IMP, CP, ADMIN_PW, LIFETIME, NP, VP, DP = sys.argv[1:11]
LIFETIME = int(LIFETIME)
BASE = {"identity": "http://127.0.0.1:%s" % IDP,
        "image": "http://127.0.0.1:%s" % IMP,
        "compute": "http://127.0.0.1:%s" % CP,
        "network": "http://127.0.0.1:%s" % NP,
        "volume": "http://127.0.0.1:%s" % VP,
        "dashboard": "http://127.0.0.1:%s" % DP}
PW = "mx-pw-1"


def call(method, url, token=None, body=None, headers=None, ctype=None):
    h = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = json.dumps(body).encode()
        h["Content-Type"] = ctype or "application/json"
    if token:
        h["X-Auth-Token"] = token
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, raw, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def ok(method, url, token, body=None, want=(200, 201, 202, 204), **kw):
    st, raw, hdr = call(method, url, token, body, **kw)
    if st not in want:
        sys.exit("fixture: %s %s -> %d %s" % (method, url, st, raw[:300]))
    return (json.loads(raw) if raw else None), hdr


def issue(name, scope, password=PW):
    auth = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": name, "domain": {"id": "default"},
                 "password": password}}}, "scope": scope}}
    st, raw, hdr = call("POST", BASE["identity"] + "/v3/auth/tokens",
                        body=auth)
    if st != 201:
        sys.exit("token for %s: %d %s" % (name, st, raw[:200]))
    return hdr["X-Subject-Token"], json.loads(raw)["token"]


def proj_scope(pid):
    return {"project": {"id": pid}}


class Persona:
    def __init__(self, key, user, scope):
        self.key, self.user, self.scope_req = key, user, scope
        self.refresh()

    def refresh(self):
        self.token, body = issue(self.user, self.scope_req)
        self.at = time.time()
        self.user_id = body["user"]["id"]
        self.roles = [r["name"] for r in body.get("roles", [])]
        p = body.get("project")
        self.project_id = p["id"] if p else None
        self.project_domain_id = p["domain"]["id"] if p else None
        self.scope = "project" if p else ("system" if body.get("system")
                                          else "none")

    def tok(self):
        if time.time() - self.at > LIFETIME * 0.6:
            self.refresh()
        return self.token

    def creds(self):
        return {"roles": self.roles, "scope": self.scope,
                "user_id": self.user_id, "user_domain_id": "default",
                "project_id": self.project_id or "",
                "project_domain_id": self.project_domain_id or ""}


class Oracle:
    def __init__(self):
        self.p = subprocess.Popen([MANAGE, "--config", CONF, "policy",
                                   "check", "--json"],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def allows(self, rule, persona, target):
        q = dict(persona.creds(), rule=rule, target=target)
        self.p.stdin.write(json.dumps(q) + "\n")
        self.p.stdin.flush()
        a = self.p.stdout.readline().strip()
        if a not in ("allow", "deny"):
            sys.exit("policy check: %r" % a)
        return a == "allow"


# ---- fixtures ----------------------------------------------------------------

ID = BASE["identity"]
admin_tok, admin_body = issue("admin", {"project": {"name": "admin",
                              "domain": {"id": "default"}}}, ADMIN_PW)
admin_at = time.time()


def adm():
    global admin_tok, admin_at
    if time.time() - admin_at > LIFETIME * 0.6:
        admin_tok, _ = issue("admin", {"project": {"name": "admin",
                             "domain": {"id": "default"}}}, ADMIN_PW)
        admin_at = time.time()
    return admin_tok


def uniq(p):
    return "%s-%s" % (p, uuid.uuid4().hex[:8])


def mk_project(name=None):
    b, _ = ok("POST", ID + "/v3/projects", adm(), {"project": {
        "name": name or uniq("mxp"), "domain_id": "default"}})
    return b["project"]["id"]


def mk_user(name=None):
    b, _ = ok("POST", ID + "/v3/users", adm(), {"user": {
        "name": name or uniq("mxu"), "password": PW,
        "domain_id": "default"}})
    return b["user"]["id"]


def mk_role(name=None):
    b, _ = ok("POST", ID + "/v3/roles", adm(), {"role": {
        "name": name or uniq("mxr")}})
    return b["role"]["id"]


roles, _ = ok("GET", ID + "/v3/roles", adm())
RID = {r["name"]: r["id"] for r in roles["roles"]}
P1 = mk_project("mx-p1")
P2 = mk_project("mx-p2")
users = {}
for u, proj, role in [("mx-reader", P1, "reader"), ("mx-member", P1, "member"),
                      ("mx-padmin", P1, "admin"), ("mx-other", P2, "member"),
                      ("mx-victim", P1, "member")]:
    users[u] = mk_user(u)
    ok("PUT", "%s/v3/projects/%s/users/%s/roles/%s" % (ID, proj, users[u],
       RID[role]), adm())
users["mx-sys"] = mk_user("mx-sys")
ok("PUT", "%s/v3/system/users/%s/roles/%s" % (ID, users["mx-sys"],
   RID["admin"]), adm())
TARGET_USER = mk_user("mx-target")

# The expired token first: it must outlive nothing.
expired_tok, _ = issue("mx-victim", proj_scope(P1))
expired_at = time.time()
revoked_tok, _ = issue("mx-victim", proj_scope(P1))
ok("DELETE", ID + "/v3/auth/tokens", adm(),
   headers={"X-Subject-Token": revoked_tok})
# Tokens that were valid when issued and whose user is gone or disabled
# since, or whose project role was taken away: Keystone refuses them all.
for u in ("mx-gone", "mx-disabled", "mx-unassigned"):
    users[u] = mk_user(u)
    ok("PUT", "%s/v3/projects/%s/users/%s/roles/%s" % (ID, P1, users[u],
       RID["member"]), adm())
gone_tok, _ = issue("mx-gone", proj_scope(P1))
disabled_tok, _ = issue("mx-disabled", proj_scope(P1))
unassigned_tok, _ = issue("mx-unassigned", proj_scope(P1))
ok("DELETE", "%s/v3/users/%s" % (ID, users["mx-gone"]), adm())
ok("PATCH", "%s/v3/users/%s" % (ID, users["mx-disabled"]), adm(),
   {"user": {"enabled": False}})
ok("DELETE", "%s/v3/projects/%s/users/%s/roles/%s" % (ID, P1,
   users["mx-unassigned"], RID["member"]), adm())

personas = [Persona("other", "mx-other", proj_scope(P2)),
            Persona("reader", "mx-reader", proj_scope(P1)),
            Persona("member", "mx-member", proj_scope(P1)),
            Persona("admin", "mx-padmin", proj_scope(P1)),
            Persona("sysadmin", "mx-sys", {"system": {"all": True}})]
member = personas[2]


def mk_domain():
    b, _ = ok("POST", ID + "/v3/domains", adm(), {"domain": {
        "name": uniq("mxd")}})
    did = b["domain"]["id"]
    ok("PATCH", "%s/v3/domains/%s" % (ID, did), adm(),
       {"domain": {"enabled": False}})
    return did


def mk_group():
    b, _ = ok("POST", ID + "/v3/groups", adm(), {"group": {
        "name": uniq("mxg"), "domain_id": "default"}})
    return b["group"]["id"]


def mk_service():
    b, _ = ok("POST", ID + "/v3/services", adm(), {"service": {
        "type": uniq("mxsvc"), "name": uniq("mxs")}})
    return b["service"]["id"]


def mk_endpoint():
    b, _ = ok("POST", ID + "/v3/endpoints", adm(), {"endpoint": {
        "service_id": SERVICE, "interface": "public",
        "url": "http://127.0.0.1:1/" + uniq("e")}})
    return b["endpoint"]["id"]


def mk_region():
    b, _ = ok("POST", ID + "/v3/regions", adm(), {"region": {
        "id": uniq("mxregion")}})
    return b["region"]["id"]


def mk_implied():
    r = mk_role()
    ok("PUT", "%s/v3/roles/%s/implies/%s" % (ID, PRIOR, r), adm())
    return r


DOMAIN = mk_domain()
GROUP = mk_group()
ok("PUT", "%s/v3/groups/%s/users/%s" % (ID, GROUP, TARGET_USER), adm())
SERVICE = mk_service()
ENDPOINT = mk_endpoint()
REGION = mk_region()
PRIOR = mk_role()
IMPLIED = mk_implied()
XROLE = mk_role()

IM = BASE["image"]


def mk_image(visibility="private", upload=False):
    b, _ = ok("POST", IM + "/v2/images", member.tok(), {
        "name": uniq("mximg"), "disk_format": "raw",
        "container_format": "bare", "visibility": visibility})
    if upload:
        ok("PUT", "%s/v2/images/%s/file" % (IM, b["id"]), member.tok(),
           b"\0" * 4096, ctype="application/octet-stream")
    return b["id"]


def mk_shared():
    i = mk_image("shared")
    ok("POST", "%s/v2/images/%s/members" % (IM, i), member.tok(),
       {"member": P2})
    return i


IMAGE = mk_image(upload=True)
SHARED = mk_shared()

CO = BASE["compute"] + "/v2.1"
ok("POST", CO + "/flavors", adm(), {"flavor": {
    "name": "mx.f", "ram": 64, "vcpus": 1, "disk": 1, "id": "mxf1"}})
ok("POST", CO + "/flavors/mxf1/os-extra_specs", adm(),
   {"extra_specs": {"k": "v"}})


def mk_server():
    b, _ = ok("POST", CO + "/servers", member.tok(), {"server": {
        "name": uniq("mxvm"), "imageRef": IMAGE, "flavorRef": "mxf1",
        "networks": "none"}})
    return b["server"]["id"]


def mk_flavor():
    fid = uniq("mxf")
    ok("POST", CO + "/flavors", adm(), {"flavor": {
        "name": fid, "ram": 64, "vcpus": 1, "disk": 1, "id": fid}})
    return fid


def mk_aggregate():
    b, _ = ok("POST", CO + "/os-aggregates", adm(), {"aggregate": {
        "name": uniq("mxagg")}})
    return str(b["aggregate"]["id"])


SERVER = mk_server()
AGGREGATE = mk_aggregate()
acts, _ = ok("GET", "%s/servers/%s/os-instance-actions" % (CO, SERVER),
             member.tok())
REQUEST = acts["instanceActions"][0]["request_id"]
ok("POST", CO + "/os-keypairs", member.tok(), {"keypair": {"name": "mxkp"}})

NE = BASE["network"] + "/v2.0"


def mk_net():
    b, _ = ok("POST", NE + "/networks", member.tok(),
              {"network": {"name": uniq("mxnet")}})
    return b["network"]["id"]


NET = mk_net()
_sb, _ = ok("POST", NE + "/subnets", member.tok(), {"subnet": {
    "network_id": NET, "ip_version": 4, "cidr": "10.77.0.0/16"}})
SUBNET = _sb["subnet"]["id"]


def mk_subnet():
    n = mk_net()
    b, _ = ok("POST", NE + "/subnets", member.tok(), {"subnet": {
        "network_id": n, "ip_version": 4, "cidr": "10.78.0.0/24"}})
    return b["subnet"]["id"]


def mk_port():
    b, _ = ok("POST", NE + "/ports", member.tok(),
              {"port": {"network_id": NET}})
    return b["port"]["id"]


PORT = mk_port()


# Every DELETE row makes a fresh group: more than the default quota of 10.
ok("PUT", NE + "/quotas/" + P1, adm(), {"quota": {
    "security_group": -1, "security_group_rule": -1}})


def mk_sg():
    b, _ = ok("POST", NE + "/security-groups", member.tok(),
              {"security_group": {"name": uniq("mxsg")}})
    return b["security_group"]["id"]


SG = mk_sg()
_rule_port = [1000]


def mk_rule():
    # A distinct port each time: the same rule twice is a 409.
    _rule_port[0] += 1
    b, _ = ok("POST", NE + "/security-group-rules", member.tok(),
              {"security_group_rule": {
                  "security_group_id": SG, "direction": "ingress",
                  "protocol": "tcp", "port_range_min": _rule_port[0],
                  "port_range_max": _rule_port[0]}})
    return b["security_group_rule"]["id"]


RULE = mk_rule()


# An external network (the admin's) for floating IPs.
_ext, _ = ok("POST", NE + "/networks", adm(), {"network": {
    "name": uniq("mxext"), "router:external": True}})
ok("POST", NE + "/subnets", adm(), {"subnet": {
    "network_id": _ext["network"]["id"], "ip_version": 4,
    "cidr": "198.18.0.0/16", "enable_dhcp": False}})
EXT = _ext["network"]["id"]


def mk_router():
    b, _ = ok("POST", NE + "/routers", member.tok(),
              {"router": {"name": uniq("mxr")}})
    return b["router"]["id"]


def mk_fip():
    b, _ = ok("POST", NE + "/floatingips", member.tok(),
              {"floatingip": {"floating_network_id": EXT}})
    return b["floatingip"]["id"]


ROUTER = mk_router()
FIP = mk_fip()

# A volume of P1 (no storage host here: it is in error, which every
# route may read, update or delete). The quota is lifted so that the
# throwaway volumes of the delete rows never hit it.
VO = BASE["volume"] + "/v3/%s" % P1
ok("PUT", BASE["volume"] + "/v3/%s/os-quota-sets/%s" % (
    admin_body["project"]["id"], P1), adm(),
   {"quota_set": {"volumes": -1, "gigabytes": -1, "snapshots": -1}})


def mk_volume():
    b, _ = ok("POST", VO + "/volumes", member.tok(),
              {"volume": {"size": 1, "name": uniq("mxvol")}})
    return b["volume"]["id"]


VOLUME = mk_volume()


def mk_type():
    b, _ = ok("POST", BASE["volume"] + "/v3/%s/types" %
              admin_body["project"]["id"], adm(),
              {"volume_type": {"name": uniq("mxtype")}})
    return b["volume_type"]["id"]


VMV = {"OpenStack-API-Version": "volume 3.44"}


def mk_attachment():
    # A reserve (no connector: no storage host needed) on a fresh volume
    # the admin resets to available.
    v = mk_volume()
    ok("POST", BASE["volume"] + "/v3/%s/volumes/%s/action" % (
        admin_body["project"]["id"], v), adm(),
       {"os-reset_status": {"status": "available"}})
    b, _ = ok("POST", VO + "/attachments", member.tok(),
              {"attachment": {"volume_uuid": v,
                              "instance_uuid": str(uuid.uuid4())}},
              headers=VMV)
    return b["attachment"]["id"]


ATTACHMENT = mk_attachment()


def mk_backup():
    # A backup of a fresh volume the admin resets to available; with no
    # storage host it stays creating, which every {backup_id} route can
    # find (and the allowed refuse with 400, not 401/403). Shared by the
    # deletes too: a creating backup is not deleted (400), and a fresh
    # one per delete would take a volume each, past the volume quota.
    v = mk_volume()
    ok("POST", BASE["volume"] + "/v3/%s/volumes/%s/action" % (
        admin_body["project"]["id"], v), adm(),
       {"os-reset_status": {"status": "available"}})
    b, _ = ok("POST", VO + "/backups", member.tok(),
              {"backup": {"volume_id": v, "name": uniq("mxbak")}})
    return b["backup"]["id"]


BACKUP = mk_backup()

# ---- rows -------------------------------------------------------------------

SHARED_PARAMS = {
    # the dashboard's own routes (the host status) take no parameter
    "dashboard": {},
    "identity": {"user_id": TARGET_USER, "project_id": P1,
                 "domain_id": DOMAIN, "role_id": XROLE, "group_id": GROUP,
                 "service_id": SERVICE, "endpoint_id": ENDPOINT,
                 "region_id": REGION, "prior_role_id": PRIOR,
                 "implied_role_id": IMPLIED},
    "image": {"image_id": IMAGE, "tag": "mxtag", "member_id": P2,
              "name": "image"},
    "compute": {"server_id": SERVER, "request_id": REQUEST,
                "flavor_id": "mxf1", "key": "k", "keypair_name": "mxkp",
                "hypervisor_id": "1", "pattern": "mx", "service_id": "1",
                "service_action": "disable", "tenant_id": P1,
                "network_label": "mxnet", "port_id": PORT,
                "security_group_id": SG, "volume_id": VOLUME,
                "aggregate_id": AGGREGATE, "tag": "mxtag",
                "migration_id": "1", "image_id": IMAGE},
    "network": {"network_id": NET, "subnet_id": SUBNET, "port_id": PORT,
                "security_group_id": SG, "rule_id": RULE,
                "router_id": ROUTER, "floatingip_id": FIP,
                "project_id": P1, "alias": "provider",
                "agent_id": "00000000-0000-0000-0000-000000000000"},
    # No snapshot exists (no storage host makes one available):
    # {snapshot_id} is always 404 (hidden or not); nor does a transfer
    # (it needs an available volume): {transfer_id} likewise; {image_id}
    # of the storage hosts' backup-data routes, which take a capability,
    # never a token.
    "volume": {"target_project_id": P1, "type_id": "__DEFAULT__",
               "volume_id": VOLUME, "key": "k",
               "snapshot_id": "00000000-0000-0000-0000-000000000000",
               "transfer_id": "00000000-0000-0000-0000-000000000000",
               "backup_id": BACKUP,
               "image_id": "00000000-0000-0000-0000-000000000000",
               "attachment_id": ATTACHMENT},
}
FRESH = {
    ("identity", "user_id"): mk_user, ("identity", "project_id"): mk_project,
    ("identity", "domain_id"): mk_domain, ("identity", "role_id"): mk_role,
    ("identity", "group_id"): mk_group,
    ("identity", "service_id"): mk_service,
    ("identity", "endpoint_id"): mk_endpoint,
    ("identity", "region_id"): mk_region,
    ("identity", "implied_role_id"): mk_implied,
    ("image", "image_id"): mk_image, ("compute", "server_id"): mk_server,
    ("compute", "image_id"): mk_image,
    ("compute", "flavor_id"): mk_flavor,
    ("compute", "aggregate_id"): mk_aggregate,
    ("network", "network_id"): mk_net, ("network", "subnet_id"): mk_subnet,
    ("network", "port_id"): mk_port,
    ("network", "security_group_id"): mk_sg,
    ("network", "rule_id"): mk_rule,
    ("network", "port_id"): mk_port, ("network", "router_id"): mk_router,
    ("network", "floatingip_id"): mk_fip,
    ("volume", "volume_id"): mk_volume,
    ("volume", "attachment_id"): mk_attachment,
    ("volume", "type_id"): mk_type,
}


def params_of(pattern):
    out, i = [], 0
    while True:
        a = pattern.find("{", i)
        if a < 0:
            return out
        b = pattern.index("}", a)
        out.append(pattern[a + 1:b])
        i = b


def fill(route, persona, fresh):
    svc, pat = route["service"], route["pattern"]
    vals = dict(SHARED_PARAMS[svc])
    names = params_of(pat)
    if svc in ("compute", "volume"):
        vals["project_id"] = (persona.project_id if persona and
                              persona.project_id else P1)
    if svc == "image" and "/members" in pat:
        vals["image_id"] = SHARED
    # Removing a server's tags leaves the server: the shared one does.
    if fresh and names and not pat.endswith("/tags"):
        last = names[-1]
        if svc == "image" and last == "member_id":
            vals["image_id"] = mk_shared()
        elif svc == "compute" and last == "keypair_name":
            vals["keypair_name"] = uniq("mxkp-none")
        elif (svc, last) in FRESH:
            vals[last] = FRESH[(svc, last)]()
    path = pat
    for n in names:
        path = path.replace("{%s}" % n, vals[n], 1)
    return path, vals


def target_of(route, persona, vals):
    """The target the route's rule is enforced on (see the handlers)."""
    svc, flags = route["service"], route["flags"]
    names = params_of(route["pattern"])
    t = {}
    if svc == "identity":
        keys = {"user_id": ["user_id", "target.user.id"],
                "project_id": ["target.project.id"],
                "domain_id": ["target.domain.id"],
                "role_id": ["target.role.id"],
                "group_id": ["target.group.id"]}
        for n in names:
            for k in keys.get(n, []):
                t[k] = vals[n]
        if route["pattern"] == "/v3/auth/tokens":
            t["target.token.user_id"] = (users["mx-victim"]
                                         if route["method"] == "DELETE"
                                         else persona.user_id)
        return t, P1 if "project_id" in names else None
    if svc == "network":
        t = {"project_id": P1, "tenant_id": P1, "network:tenant_id": P1}
        if "policy_in_handler" not in flags:
            return ({"project_id": persona.project_id or "",
                     "tenant_id": persona.project_id or "",
                     "network:tenant_id": persona.project_id or ""}
                    if route["rule"] in ("create_network", "create_port")
                    else {}), None
        if not names:
            # lists filter per object and never refuse; create_subnet
            # reads the body's network: the caller's own project here
            own = persona.project_id or ""
            return {"project_id": own, "tenant_id": own,
                    "network:tenant_id": own}, None
        # quotas: the URL's project, a plain 403
        return t, P1 if names and "project_id" not in names else None
    if svc == "volume":
        if "policy_in_handler" not in flags:
            return {}, None
        if "target_project_id" in names:
            # quotas: the URL's project, a plain 403
            return {"project_id": vals["target_project_id"]}, None
        if ("volume_id" in names or "snapshot_id" in names or
                "attachment_id" in names or "transfer_id" in names or
                "backup_id" in names):
            # P1's volume (another project's caller: not found); the
            # snapshot that does not exist: not found whoever asks
            return {"project_id": P1}, P1
        # limits, volume lists: the caller's own project
        return {"project_id": persona.project_id or ""}, None
    if "policy_in_handler" not in flags:
        return t, None
    if svc == "image":
        if route["method"] == "POST" and route["pattern"] == "/v2/images":
            own = persona.project_id or ""
            return {"owner": own, "project_id": own}, own
        t = {"project_id": P1, "owner": P1}
        if "/members" not in route["pattern"]:
            return t, P1
        # The shared image: P2, its member, sees it (no 404 to hide).
        if "member_id" in names:
            t["member_id"] = vals["member_id"]
        elif persona.project_id == P2:
            t["member_id"] = P2
        return t, None if persona.project_id == P2 else P1
    if "keypair" in route["pattern"]:
        return {"user_id": persona.user_id}, persona.project_id
    if "tenant_id" in names:
        # quota_allowed(): a plain 403, another project's quota is no
        # secret.
        return {"project_id": vals["tenant_id"]}, None
    return {"project_id": P1, "user_id": users["mx-member"]}, P1


def send(route, path, token, extra_headers=None):
    m = route["method"]
    h = dict(extra_headers or {})
    body, ctype = None, None
    if "/v2/images/{image_id}/file" in route["pattern"] and m == "PUT":
        body, ctype = b"x" * 16, "application/octet-stream"
    elif m == "PATCH" and route["service"] == "image":
        body, ctype = [], "application/openstack-images-v2.1-json-patch"
    elif m == "PUT" and route["pattern"].endswith("/members/{member_id}"):
        body = {"status": "accepted"}
    elif m == "POST" and route["pattern"].endswith("/members"):
        body = {"member": uniq("mx-nobody")}
    elif m == "POST" and route["pattern"].endswith("/os-interface"):
        # Nova validates the body first; {} attaches on the one network
        # (the matrix's server has no host: 409 once allowed).
        body = {"interfaceAttachment": {}}
    elif m == "POST" and route["pattern"].endswith("/remote-consoles"):
        # From 2.6 (a 404 before); the matrix's server has no host: 409
        # once allowed.
        body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
        h["OpenStack-API-Version"] = "compute 2.6"
    elif route["service"] == "compute" and m in ("POST", "PUT") and \
            "/images/{image_id}/metadata" in route["pattern"]:
        # the image proxy validates Nova's body before Glance's rule
        body = ({"meta": {"k": "v"}} if route["pattern"].endswith("{key}")
                else {"metadata": {}})
    elif m == "POST" and route["pattern"].endswith("/backups/{backup_id}/"
                                                   "action"):
        # the action names the rule (admin-only both): reset_status's
        body = {"os-reset_status": {"status": "error"}}
    elif m in ("POST", "PUT", "PATCH"):
        body = {}
    if route["service"] == "compute" and "OpenStack-API-Version" not in h:
        # The server tags routes exist from 2.26 (404 below).
        h["OpenStack-API-Version"] = ("compute 2.26" if "/tags" in
                                      route["pattern"] else "compute 2.1")
    if route["service"] == "volume":
        h.update(VMV)    # the attachments routes exist from 3.27
    st, raw, _ = call(m, BASE[route["service"]] + path, token, body, h,
                      ctype)
    return st, raw


routes = json.loads(subprocess.check_output([MANAGE, "--config", CONF,
                                            "policy", "routes", "--json"]))
authed = [r for r in routes if "no_auth" not in r["flags"]]
oracle = Oracle()
failures, checks = [], 0


def check(route, who, got, want_desc, good, raw):
    global checks
    checks += 1
    if not good:
        failures.append("%-6s %-60s %-9s got %d, want %s (rule %s): %s" % (
            route["method"], route["pattern"], who, got, want_desc,
            route.get("rule"),
            " ".join(raw.decode("utf-8", "replace").split())[:200]))


def subject(route, persona):
    if route["pattern"] != "/v3/auth/tokens":
        return {}
    if route["method"] == "DELETE":
        t, _ = issue("mx-victim", proj_scope(P1))
        return {"X-Subject-Token": t}
    return {"X-Subject-Token": persona.tok()}


# 1. Without a valid token: 401 everywhere, before any handler runs.
for r in authed:
    path, _ = fill(r, None, False)
    for who, tok in (("none", None), ("revoked", revoked_tok),
                     ("deleted user", gone_tok),
                     ("disabled user", disabled_tok),
                     ("role removed", unassigned_tok),
                     ("garbage", "gAAAA" + "x" * 100)):
        st, raw = send(r, path, tok, subject(r, member))
        check(r, who, st, "401", st == 401, raw)

# 2. The personas: non-deleting rows first, then the deletes on throwaway
# objects; personas from the least to the most privileged.
ordered = ([r for r in authed if r["method"] != "DELETE"] +
           [r for r in authed if r["method"] == "DELETE"])
for r in ordered:
    fresh = r["method"] == "DELETE"
    for p in personas:
        path, vals = fill(r, p, fresh)
        st, raw = send(r, path, p.tok(), subject(r, p))
        if "self_scoped" in r["flags"] or r.get("rule") is None:
            check(r, p.key, st, "not 401", st != 401, raw)
            continue
        target, owner = target_of(r, p, vals)
        if r["rule"] == "get_agent" and not oracle.allows(r["rule"], p,
                                                          target):
            # Neutron's agents: a caller the rule refuses lists none
            # and finds none (no 403 tells them agents exist).
            if "{" in r["pattern"]:
                check(r, p.key, st, "404 (hidden)", st == 404, raw)
            else:
                check(r, p.key, st, "200 and no agents",
                      st == 200 and json.loads(raw)["agents"] == [], raw)
            continue
        if oracle.allows(r["rule"], p, target):
            check(r, p.key, st, "allowed (not 401/403)",
                  st not in (401, 403), raw)
        elif "policy_in_handler" in r["flags"] and owner is not None and \
                p.project_id != owner:
            check(r, p.key, st, "404 (hidden)", st == 404, raw)
        else:
            check(r, p.key, st, "403", st == 403, raw)

# 2b. Server actions with a rule of their own, enforced by the handler
# after the server is found (POST /servers/{id}/action is one route: its
# route rule is servers:show). Another project's caller does not find the
# server (404); an allowed caller passes the rule (the matrix's server has
# no host: a 400 or 409 follows, never 401/403). Bodies are valid.
ACTION_RULES = [
    ("os_compute_api:os-migrate-server:migrate_live",
     {"os-migrateLive": {"host": None, "block_migration": False,
                         "disk_over_commit": False}}),
    ("os_compute_api:os-remote-consoles",
     {"os-getVNCConsole": {"type": "novnc"}}),
    ("os_compute_api:os-migrate-server:migrate", {"migrate": None}),
    ("os_compute_api:servers:resize", {"resize": {"flavorRef": "mxf1"}}),
    ("os_compute_api:servers:confirm_resize", {"confirmResize": None}),
    ("os_compute_api:servers:revert_resize", {"revertResize": None}),
]
for rule, abody in ACTION_RULES:
    arow = {"method": "POST", "pattern": "/v2.1/servers/{server_id}/action "
            + list(abody)[0], "rule": rule}
    for p in personas:
        st, raw, _ = call("POST", CO + "/servers/%s/action" % SERVER,
                          p.tok(), abody,
                          {"OpenStack-API-Version": "compute 2.1"})
        if oracle.allows("os_compute_api:servers:show", p,
                         {"project_id": P1}) and \
                oracle.allows(rule, p, {"project_id": P1}):
            check(arow, p.key, st, "allowed (not 401/403)",
                  st not in (401, 403), raw)
        else:
            check(arow, p.key, st, "403 or 404", st in (403, 404), raw)

# 3. An expired token: 401 everywhere.
wait = expired_at + LIFETIME + 1.5 - time.time()
if wait > 0:
    time.sleep(wait)
for r in authed:
    path, _ = fill(r, None, False)
    st, raw = send(r, path, expired_tok, subject(r, member) if
                   r["method"] != "GET" else {})
    check(r, "expired", st, "401", st == 401, raw)

for f in failures:
    print("MISMATCH " + f)
print("personas: " + "; ".join("%s=%s@%s" % (p.key, ",".join(p.roles),
                                            p.scope) for p in personas))
print("authz matrix: %d routes (%d authenticated, %s), %d checks, "
      "%d mismatches" % (len(routes), len(authed),
                         ", ".join("%s %d" % (s, sum(
                             1 for r in routes if r["service"] == s))
                             for s in ("identity", "image", "compute",
                                       "network", "volume", "dashboard")),
                         checks, len(failures)))
sys.exit(1 if failures else 0)
