/* network_networks: the networks collection of the Networking API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "network_int.h"

static int
subnet_id_cb(const struct rec_subnet *s, void *arg)
{
	return json_array_append_new(arg, json_string(s->id)) == 0 ? 0 : -1;
}

json_t *
network_net_json(struct http_req *req, struct store_txn *txn,
    const struct rec_network *n, bool admin)
{
	json_t *o, *subnets = json_array();

	(void)req;
	if (subnets == NULL || network_db_subnet_each_network(txn, n->id,
	    subnet_id_cb, subnets) == -1) {
		json_decref(subnets);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:o, s:b, s:b, "
	    "s:i, s:b, s:o, s:I, s:o, s:o, s:[], s:[], s:n, s:n, s:b}",
	    "id", n->id, "name", n->name, "tenant_id", n->project_id,
	    "project_id", n->project_id, "description", n->description,
	    "admin_state_up", n->admin_state_up, "status", n->status,
	    "subnets", subnets, "shared", n->shared,
	    "router:external", n->router_external, "mtu", (int)n->mtu,
	    "port_security_enabled", n->port_security_enabled,
	    "tags", network_strs(n->tags.items, n->tags.n),
	    "revision_number", (json_int_t)n->revision_number,
	    "created_at", network_time(n->created_at),
	    "updated_at", network_time(n->updated_at),
	    "availability_zones", "availability_zone_hints",
	    "ipv4_address_scope", "ipv6_address_scope", "l2_adjacency", true);
	if (o == NULL)
		return NULL;
	if (admin) {
		json_object_set_new(o, "provider:network_type",
		    json_string(n->network_type));
		json_object_set_new(o, "provider:physical_network",
		    n->physical_network != NULL ?
		    json_string(n->physical_network) : json_null());
		json_object_set_new(o, "provider:segmentation_id",
		    n->has_segmentation_id ?
		    json_integer(n->segmentation_id) : json_null());
	}
	return o;
}

/* Own, shared and external networks are readable; admins read all. */
static bool
readable(struct http_req *req, const struct rec_network *n, bool admin)
{
	return admin || n->shared || n->router_external ||
	    network_allowed(req, "get_network", n->project_id, NULL);
}

int
network_net_visible(struct http_req *req, struct store_txn *txn,
    const char *id, struct rec_network *n)
{
	if (network_db_network_get(txn, id, n) == -1)
		return -1;
	if (n->shared || n->router_external)
		return 0;
	if (network_enforce(req, "get_network", n->project_id, NULL,
	    "") == -1) {
		/* Failed: the caller gets nothing to clear. */
		codec_clear(&schema_rec_network, n);
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Network %s could not be "
			    "found.", id);
		return -1;
	}
	return 0;
}

/* ---- list / show --------------------------------------------------------- */

struct list_arg {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*out;
	bool			 admin;
};

static int
list_cb(const struct rec_network *n, void *arg)
{
	struct list_arg *la = arg;
	json_t *o;

	if (!readable(la->req, n, la->admin))
		return 0;
	if ((o = network_net_json(la->req, la->txn, n, la->admin)) == NULL)
		return -1;
	json_array_append_new(la->out, o);
	return 0;
}

int
network_networks_list(struct http_req *req, struct http_resp *resp)
{
	struct list_arg la = { .req = req, .out = json_array() };
	int rc;

	la.admin = network_is_admin(req);
	if (la.out == NULL || store_read_begin(network_of(req)->store,
	    &la.txn) == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	rc = network_db_network_each(la.txn, list_cb, &la);
	store_txn_abort(&la.txn);
	if (rc == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	if (network_list_reply(req, resp, "networks", la.out) == -1)
		return network_fail(resp);
	return 0;
}

int
network_networks_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_network n = { .id = "" };
	struct store_txn *txn;
	json_t *o = NULL;
	int rc;

	if (store_read_begin(network_of(req)->store, &txn) == -1)
		return network_fail(resp);
	rc = network_net_visible(req, txn, http_req_param(req, "network_id"),
	    &n);
	if (rc == 0 && (o = network_net_json(req, txn, &n,
	    network_is_admin(req))) == NULL)
		rc = -1;
	store_txn_abort(&txn);
	codec_clear(&schema_rec_network, &n);
	if (rc == -1)
		return network_fail(resp);
	if (network_show_reply(req, resp, "network", o, 0) == -1)
		return network_fail(resp);
	return 0;
}

/* ---- create -------------------------------------------------------------- */

static const char *const net_attrs[] = { "name", "description",
    "admin_state_up", "shared", "router:external", "mtu",
    "port_security_enabled", "provider:network_type",
    "provider:physical_network", "provider:segmentation_id", "tenant_id",
    "project_id", "tags", "availability_zone_hints", NULL };

/* One requested network, parsed and checked before the transaction. */
struct net_req {
	struct rec_network	 rec;
	bool			 has_provider;
	struct ipam_segment_req	 seg;
	char			 seg_type[16], seg_phys[65];
};

/* The project an admin names (tenant_id / project_id), else the caller's. */
static int
owner_of(struct http_req *req, json_t *o, const char **owner)
{
	const char *t = NULL, *p = NULL;

	if (jsonreq_str(NET_STYLE, o, "tenant_id", 1, 64, 0, &t, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "project_id", 1, 64, 0, &p, NULL) == -1)
		return -1;
	if (t != NULL && p != NULL && strcmp(t, p) != 0) {
		err_set(TS_EINVALID, "Invalid input for operation: "
		    "'project_id' and 'tenant_id' do not match.");
		return -1;
	}
	if (p == NULL)
		p = t;
	*owner = network_project(req);
	if (p != NULL && strcmp(p, *owner) != 0) {
		if (!network_is_admin(req)) {
			err_set(TS_EINVALID, "Specifying 'project_id' or "
			    "'tenant_id' other than the authenticated project "
			    "in request requires admin privileges");
			return -1;
		}
		*owner = p;
	}
	return 0;
}

static int
net_parse(struct http_req *req, json_t *o, struct net_req *nr)
{
	static const char *const types[] = { "flat", "vlan", "vxlan", NULL };
	struct rec_network *n = &nr->rec;
	const char *name = "", *desc = "", *owner, *ty = NULL, *ph = NULL;
	bool up = true, shared = false, ext = false, ps = true, has_seg;
	int64_t mtu = 0, seg = 0;
	json_t *tags;

	if (network_check_attrs(o, net_attrs) == -1 ||
	    jsonreq_str(NET_STYLE, o, "name", 0, 255, 0, &name, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "description", 0, 255, 0, &desc,
	    NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "admin_state_up", 0, &up, NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "shared", 0, &shared, NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "router:external", 0, &ext,
	    NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "port_security_enabled", 0, &ps,
	    NULL) == -1 ||
	    jsonreq_int(NET_STYLE, o, "mtu", 68, 65535, 0, &mtu, NULL) == -1 ||
	    jsonreq_enum(NET_STYLE, o, "provider:network_type", types, NULL,
	    0, &ty, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "provider:physical_network", 1, 64,
	    JSONREQ_NULLABLE, &ph, NULL) == -1 ||
	    jsonreq_int(NET_STYLE, o, "provider:segmentation_id", 0,
	    INT32_MAX, JSONREQ_NULLABLE, &seg, &has_seg) == -1 ||
	    owner_of(req, o, &owner) == -1)
		return -1;
	if (has_seg && json_is_null(json_object_get(o,
	    "provider:segmentation_id")))
		has_seg = false;
	if ((shared && network_enforce_attr(req, "create_network:shared",
	    owner, NULL) == -1) ||
	    (ext && network_enforce_attr(req,
	    "create_network:router:external", owner, NULL) == -1) ||
	    (ty != NULL && network_enforce_attr(req,
	    "create_network:provider:network_type", owner, NULL) == -1) ||
	    (ph != NULL && network_enforce_attr(req,
	    "create_network:provider:physical_network", owner, NULL) == -1) ||
	    (has_seg && network_enforce_attr(req,
	    "create_network:provider:segmentation_id", owner, NULL) == -1))
		return -1;
	if ((ph != NULL || has_seg) && ty == NULL) {
		err_set(TS_EINVALID, "Invalid input for operation: "
		    "provider:network_type required.");
		return -1;
	}
	db_uuid(n->id);
	if (network_set_str(&n->project_id, owner) == -1 ||
	    network_set_str(&n->name, name) == -1 ||
	    network_set_str(&n->description, desc) == -1 ||
	    network_set_str(&n->status, "ACTIVE") == -1 ||
	    network_set_str(&n->network_type, "") == -1)
		return -1;
	if ((tags = json_object_get(o, "tags")) != NULL &&
	    network_set_strs(tags, "tags", &n->tags.items, &n->tags.n) == -1)
		return -1;
	n->admin_state_up = up;
	n->shared = shared;
	n->router_external = ext;
	n->port_security_enabled = ps;
	n->mtu = (uint32_t)mtu;
	n->created_at = n->updated_at = db_now_ms();
	n->revision_number = 1;
	if (ty != NULL) {
		nr->has_provider = true;
		snprintf(nr->seg_type, sizeof(nr->seg_type), "%s", ty);
		nr->seg.network_type = nr->seg_type;
		if (ph != NULL) {
			snprintf(nr->seg_phys, sizeof(nr->seg_phys), "%s", ph);
			nr->seg.physical_network = nr->seg_phys;
		}
		nr->seg.has_segmentation_id = has_seg;
		nr->seg.segmentation_id = (uint32_t)seg;
		if (has_seg && (seg < 1 || seg > 16777215)) {
			err_set(TS_EINVALID, "Invalid input for operation: "
			    "segmentation_id out of range (%s).",
			    strcmp(ty, "vlan") == 0 ? "1 through 4094" :
			    "1 through 16777215");
			return -1;
		}
	}
	return 0;
}

struct create_arg {
	struct network	*svc;
	struct net_req	*reqs;
	size_t		 n;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct create_arg *ca = arg;
	size_t i;

	for (i = 0; i < ca->n; i++) {
		struct net_req *nr = &ca->reqs[i];

		if (network_quota_check(ca->svc, txn, nr->rec.project_id,
		    NET_RES_NETWORK, 1) == -1 ||
		    ipam_network_create(txn, ca->svc->ipam, &nr->rec,
		    nr->has_provider ? &nr->seg : NULL) == -1)
			return -1;
	}
	return 0;
}

int
network_networks_create(struct http_req *req, struct http_resp *resp)
{
	struct create_arg ca = { .svc = network_of(req) };
	struct store_txn *txn = NULL;
	json_t *objs, *out = NULL;
	bool bulk, admin = network_is_admin(req);
	size_t i;
	int rc = -1;

	if (network_create_body(req, "network", "networks", &objs,
	    &bulk) == -1)
		return network_fail(resp);
	ca.n = bulk ? json_array_size(objs) : 1;
	if ((ca.reqs = calloc(ca.n, sizeof(*ca.reqs))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return network_fail(resp);
	}
	for (i = 0; i < ca.n; i++)
		if (net_parse(req, bulk ? json_array_get(objs, i) : objs,
		    &ca.reqs[i]) == -1)
			goto done;
	if (network_write(ca.svc, create_fn, &ca) == -1 ||
	    store_read_begin(ca.svc->store, &txn) == -1)
		goto done;
	out = json_array();
	for (i = 0; out != NULL && i < ca.n; i++)
		json_array_append_new(out, network_net_json(req, txn,
		    &ca.reqs[i].rec, admin));
	store_txn_abort(&txn);
	if (out == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto done;
	}
	if (bulk)
		rc = http_resp_json(resp, 201, json_pack("{s:o}", "networks",
		    out));
	else {
		rc = network_show_reply(req, resp, "network",
		    json_incref(json_array_get(out, 0)), 201);
		json_decref(out);
	}
done:
	for (i = 0; i < ca.n; i++)
		codec_clear(&schema_rec_network, &ca.reqs[i].rec);
	free(ca.reqs);
	return rc == -1 ? network_fail(resp) : 0;
}

/* ---- update / delete ----------------------------------------------------- */

static const char *const net_update_attrs[] = { "name", "description",
    "admin_state_up", "shared", "router:external", "mtu",
    "port_security_enabled", "tags", "provider:network_type",
    "provider:physical_network", "provider:segmentation_id", NULL };

struct update_arg {
	struct http_req		*req;
	const char		*id;
	json_t			*o;
	struct rec_network	 n;
};

static int
update_fn(struct store_txn *txn, void *arg)
{
	struct update_arg *ua = arg;
	struct rec_network old = { .id = "" }, *n = &ua->n;
	const char *s;
	bool b, present;
	int64_t mtu;
	json_t *tags;
	int rc = -1;

	codec_clear(&schema_rec_network, n);
	if (network_net_visible(ua->req, txn, ua->id, &old) == -1 ||
	    network_db_network_get(txn, ua->id, n) == -1)
		goto out;
	if ((old.shared || old.router_external) ? network_enforce_attr(ua->req,
	    "update_network", old.project_id, NULL) == -1 :
	    network_enforce(ua->req, "update_network", old.project_id, NULL,
	    "") == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Network %s could not be "
			    "found.", ua->id);
		goto out;
	}
	if (network_update_body(ua->o, net_update_attrs) == -1)
		goto out;
	if (json_object_get(ua->o, "provider:network_type") != NULL ||
	    json_object_get(ua->o, "provider:physical_network") != NULL ||
	    json_object_get(ua->o, "provider:segmentation_id") != NULL) {
		if (network_enforce_attr(ua->req,
		    "update_network:provider:network_type", old.project_id,
		    NULL) == -1)
			goto out;
		err_set(TS_EINVALID, "Invalid input for operation: Plugin "
		    "does not support updating provider attributes.");
		goto out;
	}
	if (jsonreq_str(NET_STYLE, ua->o, "name", 0, 255, 0, &s,
	    &present) == -1 || (present && network_set_str(&n->name,
	    s) == -1) ||
	    jsonreq_str(NET_STYLE, ua->o, "description", 0, 255, 0, &s,
	    &present) == -1 || (present && network_set_str(&n->description,
	    s) == -1) ||
	    jsonreq_bool(NET_STYLE, ua->o, "admin_state_up", 0,
	    &n->admin_state_up, NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, ua->o, "port_security_enabled", 0,
	    &n->port_security_enabled, NULL) == -1)
		goto out;
	if (jsonreq_bool(NET_STYLE, ua->o, "shared", 0, &b, &present) == -1 ||
	    (present && b != old.shared && network_enforce_attr(ua->req,
	    "update_network:shared", old.project_id, NULL) == -1))
		goto out;
	if (present)
		n->shared = b;
	if (jsonreq_bool(NET_STYLE, ua->o, "router:external", 0, &b,
	    &present) == -1 || (present && b != old.router_external &&
	    network_enforce_attr(ua->req, "update_network:router:external",
	    old.project_id, NULL) == -1))
		goto out;
	if (present)
		n->router_external = b;
	if (jsonreq_int(NET_STYLE, ua->o, "mtu", 68, 65535, 0, &mtu,
	    &present) == -1)
		goto out;
	if (present)
		n->mtu = (uint32_t)mtu;
	if ((tags = json_object_get(ua->o, "tags")) != NULL &&
	    network_set_strs(tags, "tags", &n->tags.items, &n->tags.n) == -1)
		goto out;
	n->revision_number = old.revision_number + 1;
	n->updated_at = db_now_ms();
	rc = network_db_network_put(txn, n, &old);
out:
	codec_clear(&schema_rec_network, &old);
	return rc;
}

int
network_networks_update(struct http_req *req, struct http_resp *resp)
{
	struct update_arg ua = { .req = req, .n = { .id = "" } };
	struct store_txn *txn;
	json_t *body = http_req_json(req), *o = NULL;
	int rc = -1;

	ua.id = http_req_param(req, "network_id");
	/* The body is checked once the object is loaded and the rule
	 * enforced: another project's object is a 404 whatever the body. */
	if (body == NULL || !json_is_object(ua.o = json_object_get(body,
	    "network")))
		ua.o = NULL;
	if (network_write(network_of(req), update_fn, &ua) == 0 &&
	    store_read_begin(network_of(req)->store, &txn) == 0) {
		o = network_net_json(req, txn, &ua.n, network_is_admin(req));
		store_txn_abort(&txn);
		rc = network_show_reply(req, resp, "network", o, 0);
	}
	codec_clear(&schema_rec_network, &ua.n);
	return rc == -1 ? network_fail(resp) : 0;
}

struct delete_arg {
	struct http_req	*req;
	const char	*id;
};

/* Ports Neutron removes itself with the network (its DHCP port). */
static int
dhcp_port_cb(const struct rec_port *p, void *arg)
{
	struct store_txn *txn = arg;

	if (strcmp(p->device_owner, "network:dhcp") == 0)
		return ipam_port_delete(txn, p) == -1 ? -1 : 0;
	return 0;
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct delete_arg *da = arg;
	struct rec_network n = { .id = "" };
	int rc = -1;

	if (network_net_visible(da->req, txn, da->id, &n) == -1)
		goto out;
	/* A network the caller can read (shared, external) is a 403. */
	if ((n.shared || n.router_external) ? network_enforce_attr(da->req,
	    "delete_network", n.project_id, NULL) == -1 :
	    network_enforce(da->req, "delete_network", n.project_id, NULL,
	    "") == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Network %s could not be "
			    "found.", da->id);
		goto out;
	}
	if (network_db_port_each_network(txn, n.id, dhcp_port_cb, txn) == -1)
		goto out;
	rc = ipam_network_delete(txn, &n);
out:
	codec_clear(&schema_rec_network, &n);
	return rc;
}

int
network_networks_delete(struct http_req *req, struct http_resp *resp)
{
	struct delete_arg da = { .req = req };

	da.id = http_req_param(req, "network_id");
	if (network_write(network_of(req), delete_fn, &da) == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}
