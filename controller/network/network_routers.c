/*
 * network_routers: the routers collection of the Networking API (router,
 * ext-gw-mode, extraroute). A router's interfaces and gateway are ports
 * (device_id the router): interfaces device_owner network:router_interface
 * in the router's project, the gateway network:router_gateway in no
 * project, so ipam hands out their addresses and a network or subnet
 * behind a router is "in use" for the network and subnet deletes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "network_int.h"

#define OWNER_IF	"network:router_interface"
#define OWNER_GW	"network:router_gateway"

/* ---- ports of a router ---------------------------------------------------- */

/* The interface ports of a router (copies of their ids and fixed IPs). */
struct rtr_ifs {
	struct {
		char	port_id[37], subnet_id[37], network_id[37];
		char	ip[IPAM_ADDR_STRLEN];
	} v[64];
	size_t	n;
};

static int
if_cb(const struct rec_port *p, void *arg)
{
	struct rtr_ifs *ifs = arg;

	if (strcmp(p->device_owner, OWNER_IF) != 0)
		return 0;
	for (size_t i = 0; i < p->fixed_ips.n && ifs->n < 64; i++) {
		snprintf(ifs->v[ifs->n].port_id, 37, "%s", p->id);
		snprintf(ifs->v[ifs->n].network_id, 37, "%s", p->network_id);
		snprintf(ifs->v[ifs->n].subnet_id, 37, "%s",
		    p->fixed_ips.items[i].subnet_id);
		snprintf(ifs->v[ifs->n].ip, IPAM_ADDR_STRLEN, "%s",
		    p->fixed_ips.items[i].ip_address);
		ifs->n++;
	}
	return 0;
}

int
network_router_ifs(struct store_txn *txn, const char *router_id,
    struct rtr_ifs **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL) {
		err_set(TS_ENOMEM, "network: out of memory");
		return -1;
	}
	if (network_db_port_each_device(txn, router_id, if_cb, *out) == -1) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

size_t
network_router_ifs_n(const struct rtr_ifs *ifs)
{
	return ifs->n;
}

const char *
network_router_ifs_subnet(const struct rtr_ifs *ifs, size_t i)
{
	return ifs->v[i].subnet_id;
}

/* ---- JSON ----------------------------------------------------------------- */

static json_t *
gw_json(struct store_txn *txn, const struct rec_router *r)
{
	struct rec_port p = { .id = "" };
	json_t *ips = json_array();

	if (r->gw_network_id == NULL || *r->gw_network_id == '\0') {
		json_decref(ips);
		return json_null();
	}
	if (r->gw_port_id != NULL && network_db_port_get(txn, r->gw_port_id,
	    &p) == 0) {
		for (size_t i = 0; ips != NULL && i < p.fixed_ips.n; i++)
			json_array_append_new(ips, json_pack("{s:s, s:s}",
			    "subnet_id", p.fixed_ips.items[i].subnet_id,
			    "ip_address", p.fixed_ips.items[i].ip_address));
	} else {
		err_clear();
	}
	codec_clear(&schema_rec_port, &p);
	return json_pack("{s:s, s:b, s:o*}", "network_id", r->gw_network_id,
	    "enable_snat", r->enable_snat, "external_fixed_ips", ips);
}

static json_t *
routes_json(const struct rec_router *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < r->routes.n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}",
		    "destination", r->routes.items[i].destination,
		    "nexthop", r->routes.items[i].nexthop));
	return a;
}

static json_t *
router_json(struct store_txn *txn, const struct rec_router *r)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:o*, s:o*, "
	    "s:o, s:I, s:o, s:o}",
	    "id", r->id, "name", r->name, "description", r->description,
	    "tenant_id", r->project_id, "project_id", r->project_id,
	    "admin_state_up", r->admin_state_up, "status", r->status,
	    "external_gateway_info", gw_json(txn, r),
	    "routes", routes_json(r),
	    "tags", network_strs(r->tags.items, r->tags.n),
	    "revision_number", (json_int_t)r->revision_number,
	    "created_at", network_time(r->created_at),
	    "updated_at", network_time(r->updated_at));
}

/* Load router id and enforce rule on it (404 for what the caller may not
 * read). */
static int
load_enforce(struct http_req *req, struct store_txn *txn, const char *id,
    const char *rule, struct rec_router *r)
{
	char nf[128];

	snprintf(nf, sizeof(nf), "Router %s could not be found.", id);
	if (network_db_router_get(txn, id, r) == -1)
		return -1;
	if (strcmp(rule, "get_router") != 0 && !network_allowed(req,
	    "get_router", r->project_id, NULL)) {
		err_set(TS_ENOT_FOUND, "%s", nf);
		return -1;
	}
	return network_enforce(req, rule, r->project_id, NULL, nf);
}

/* ---- list / show ---------------------------------------------------------- */

struct list_arg {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*out;
};

static int
list_cb(const struct rec_router *r, void *arg)
{
	struct list_arg *la = arg;
	json_t *o;

	if (!network_allowed(la->req, "get_router", r->project_id, NULL))
		return 0;
	if ((o = router_json(la->txn, r)) == NULL) {
		err_set(TS_ENOMEM, "network: out of memory");
		return -1;
	}
	json_array_append_new(la->out, o);
	return 0;
}

int
network_routers_list(struct http_req *req, struct http_resp *resp)
{
	struct list_arg la = { .req = req, .out = json_array() };
	int rc;

	if (la.out == NULL || store_read_begin(network_of(req)->store,
	    &la.txn) == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	rc = network_db_router_each(la.txn, list_cb, &la);
	store_txn_abort(&la.txn);
	if (rc == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	if (network_list_reply(req, resp, "routers", la.out) == -1)
		return network_fail(resp);
	return 0;
}

int
network_routers_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_router r = { .id = "" };
	struct store_txn *txn;
	json_t *o = NULL;
	int rc;

	if (store_read_begin(network_of(req)->store, &txn) == -1)
		return network_fail(resp);
	rc = load_enforce(req, txn, http_req_param(req, "router_id"),
	    "get_router", &r);
	if (rc == 0 && (o = router_json(txn, &r)) == NULL) {
		err_set(TS_ENOMEM, "network: out of memory");
		rc = -1;
	}
	store_txn_abort(&txn);
	codec_clear(&schema_rec_router, &r);
	if (rc == -1)
		return network_fail(resp);
	if (network_show_reply(req, resp, "router", o, 0) == -1)
		return network_fail(resp);
	return 0;
}

/* ---- gateway -------------------------------------------------------------- */

struct fip_use {
	const char	*router_id;
	const char	*subnet_cidr;	/* NULL: any fixed address */
	bool		 used;
};

static int
fip_use_cb(const struct rec_floatingip *f, void *arg)
{
	struct fip_use *u = arg;
	struct ipam_cidr c;
	struct ipam_addr a;

	if (f->router_id == NULL || strcmp(f->router_id, u->router_id) != 0)
		return 0;
	if (u->subnet_cidr == NULL || (f->fixed_ip_address != NULL &&
	    ipam_cidr_parse(u->subnet_cidr, 0, &c) == 0 &&
	    ipam_addr_parse(f->fixed_ip_address, &a) == 0 &&
	    ipam_cidr_contains(&c, &a))) {
		u->used = true;
		return 1;
	}
	err_clear();
	return 0;
}

static int
gw_clear(struct store_txn *txn, struct rec_router *r)
{
	struct fip_use u = { .router_id = r->id };
	struct rec_port p = { .id = "" };

	if (r->gw_network_id == NULL || *r->gw_network_id == '\0')
		return 0;
	if (network_db_floatingip_each(txn, fip_use_cb, &u) == -1)
		return -1;
	if (u.used) {
		err_set(TS_ECONFLICT, "Gateway cannot be updated for router "
		    "%s, since a gateway to external network %s is required "
		    "by one or more floating IPs.", r->id, r->gw_network_id);
		return -1;
	}
	if (r->gw_port_id != NULL && *r->gw_port_id != '\0') {
		if (network_db_port_get(txn, r->gw_port_id, &p) == 0) {
			if (ipam_port_delete(txn, &p) == -1) {
				codec_clear(&schema_rec_port, &p);
				return -1;
			}
		} else if (err_code() != TS_ENOT_FOUND) {
			return -1;
		}
		codec_clear(&schema_rec_port, &p);
	}
	free(r->gw_network_id);
	free(r->gw_port_id);
	r->gw_network_id = r->gw_port_id = NULL;
	r->enable_snat = true;
	return 0;
}

/*
 * Set the gateway of r from an external_gateway_info object (null or {}:
 * clear it). enable_snat and external_fixed_ips are admin-only (Neutron's
 * policy), so the checks need the request.
 */
static int
gw_set(struct http_req *req, struct network *svc, struct store_txn *txn,
    struct rec_router *r, json_t *info)
{
	static const char *const attrs[] = { "network_id", "enable_snat",
	    "external_fixed_ips", NULL };
	struct rec_network n = { .id = "" };
	struct rec_port p = { .id = "" };
	struct ipam_ip_req reqs[8];
	const char *net = NULL;
	bool snat = true, has_snat = false;
	json_t *fixed;
	size_t nreq = 0, i;
	int rc = -1;

	if (info == NULL || json_is_null(info) || (json_is_object(info) &&
	    json_object_size(info) == 0))
		return gw_clear(txn, r);
	if (!json_is_object(info)) {
		err_set(TS_EINVALID, "Invalid input for "
		    "external_gateway_info. Reason: Invalid data format.");
		return -1;
	}
	if (network_check_attrs(info, attrs) == -1 ||
	    jsonreq_uuid(NET_STYLE, info, "network_id", JSONREQ_REQUIRED,
	    &net, NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, info, "enable_snat", 0, &snat,
	    &has_snat) == -1)
		return -1;
	if (has_snat && network_enforce_attr(req,
	    "create_router:external_gateway_info:enable_snat", r->project_id,
	    NULL) == -1)
		return -1;
	fixed = json_object_get(info, "external_fixed_ips");
	if (fixed != NULL) {
		if (network_enforce_attr(req, "create_router:"
		    "external_gateway_info:external_fixed_ips", r->project_id,
		    NULL) == -1)
			return -1;
		if (!json_is_array(fixed) || json_array_size(fixed) > 8) {
			err_set(TS_EINVALID, "Invalid input for "
			    "external_fixed_ips. Reason: Invalid data format.");
			return -1;
		}
		for (i = 0; i < json_array_size(fixed); i++) {
			json_t *e = json_array_get(fixed, i);

			memset(&reqs[nreq], 0, sizeof(reqs[nreq]));
			if (!json_is_object(e) || jsonreq_uuid(NET_STYLE, e,
			    "subnet_id", 0, &reqs[nreq].subnet_id,
			    NULL) == -1 || jsonreq_str(NET_STYLE, e,
			    "ip_address", 1, 64, 0, &reqs[nreq].ip_address,
			    NULL) == -1) {
				if (err_code() == TS_EOK)
					err_set(TS_EINVALID, "Invalid input "
					    "for external_fixed_ips. Reason: "
					    "Invalid data format.");
				return -1;
			}
			nreq++;
		}
	}
	/* Same network, same addresses asked: only enable_snat changes. */
	if (r->gw_network_id != NULL && strcmp(r->gw_network_id, net) == 0 &&
	    fixed == NULL) {
		r->enable_snat = has_snat ? snat : r->enable_snat;
		return 0;
	}
	if (network_db_network_get(txn, net, &n) == -1)
		return -1;
	if (!n.router_external) {
		err_set(TS_EINVALID, "Bad router request: Network %s is not an "
		    "external network.", net);
		goto out;
	}
	if (gw_clear(txn, r) == -1)
		goto out;
	db_uuid(p.id);
	snprintf(p.network_id, sizeof(p.network_id), "%s", net);
	p.admin_state_up = true;
	p.port_security_enabled = false;
	p.revision_number = 1;
	p.created_at = p.updated_at = db_now_ms();
	if (network_set_str(&p.project_id, "") == -1 ||
	    network_set_str(&p.name, "") == -1 ||
	    network_set_str(&p.description, "") == -1 ||
	    network_set_str(&p.device_id, r->id) == -1 ||
	    network_set_str(&p.device_owner, OWNER_GW) == -1 ||
	    network_set_str(&p.status, "ACTIVE") == -1 ||
	    network_set_str(&p.binding_vnic_type, "normal") == -1 ||
	    network_set_str(&p.binding_vif_type, "unbound") == -1 ||
	    ipam_port_create(txn, svc->ipam, &p, reqs, nreq,
	    fixed != NULL) == -1)
		goto out;
	if (p.fixed_ips.n == 0) {
		err_set(TS_EINVALID, "Bad router request: No subnets defined "
		    "on network %s.", net);
		goto out;
	}
	if (network_set_str(&r->gw_network_id, net) == -1 ||
	    network_set_str(&r->gw_port_id, p.id) == -1)
		goto out;
	r->enable_snat = has_snat ? snat : true;
	rc = 0;
out:
	codec_clear(&schema_rec_network, &n);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

/* ---- routes (extraroute) -------------------------------------------------- */

/* Replace r's routes: each nexthop must be inside a subnet the router has
 * an interface on. */
static int
routes_set(struct store_txn *txn, struct rec_router *r, json_t *a)
{
	struct rtr_ifs *ifs = NULL;
	struct sch_subnet_route *v = NULL;
	size_t n, i, j;
	int rc = -1;

	if (json_is_null(a))
		n = 0;
	else if (!json_is_array(a) || (n = json_array_size(a)) > 32) {
		err_set(TS_EINVALID, "Invalid input for routes. Reason: "
		    "Invalid data format.");
		return -1;
	}
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		err_set(TS_ENOMEM, "network: out of memory");
		return -1;
	}
	if (network_router_ifs(txn, r->id, &ifs) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		const char *d = NULL, *h = NULL;
		struct ipam_cidr dc;
		struct ipam_addr ha;
		char buf[IPAM_ADDR_STRLEN];
		bool ok = false;

		if (!json_is_object(e) || jsonreq_str(NET_STYLE, e,
		    "destination", 1, 64, JSONREQ_REQUIRED, &d, NULL) == -1 ||
		    jsonreq_str(NET_STYLE, e, "nexthop", 1, 64,
		    JSONREQ_REQUIRED, &h, NULL) == -1 ||
		    ipam_cidr_parse(d, 0, &dc) == -1 ||
		    ipam_addr_parse(h, &ha) == -1) {
			err_set(TS_EINVALID, "Invalid input for routes. "
			    "Reason: Invalid data format.");
			goto out;
		}
		for (j = 0; !ok && j < ifs->n; j++) {
			struct rec_subnet s = { .id = "" };
			struct ipam_cidr sc;

			if (network_db_subnet_get(txn, ifs->v[j].subnet_id,
			    &s) == 0 && ipam_cidr_parse(s.cidr, 0, &sc) == 0 &&
			    ipam_cidr_contains(&sc, &ha))
				ok = true;
			err_clear();
			codec_clear(&schema_rec_subnet, &s);
		}
		if (!ok) {
			err_set(TS_EINVALID, "Invalid format for routes: "
			    "[{'destination': '%s', 'nexthop': '%s'}], the "
			    "nexthop is not connected with router", d, h);
			goto out;
		}
		if ((v[i].destination = strdup(ipam_cidr_format(&dc,
		    buf))) == NULL || (v[i].nexthop = strdup(
		    ipam_addr_format(&ha, buf))) == NULL) {
			err_set(TS_ENOMEM, "network: out of memory");
			goto out;
		}
	}
	for (i = 0; i < r->routes.n; i++) {
		free(r->routes.items[i].destination);
		free(r->routes.items[i].nexthop);
	}
	free(r->routes.items);
	r->routes.items = v;
	r->routes.n = n;
	v = NULL;
	rc = 0;
out:
	for (i = 0; v != NULL && i < n; i++) {
		free(v[i].destination);
		free(v[i].nexthop);
	}
	free(v);
	free(ifs);
	return rc;
}

/* ---- create / update / delete --------------------------------------------- */

static const char *const create_attrs[] = { "name", "description",
    "admin_state_up", "external_gateway_info", "tenant_id", "project_id",
    "tags", "availability_zone_hints", NULL };
static const char *const update_attrs[] = { "name", "description",
    "admin_state_up", "external_gateway_info", "routes", "tags", NULL };

struct write_arg {
	struct http_req		*req;
	struct network		*svc;
	const char		*id;
	json_t			*o;
	struct rec_router	 r;
};

static int
owner_of(struct http_req *req, json_t *o, const char **owner)
{
	const char *t = NULL, *p = NULL;

	if (jsonreq_str(NET_STYLE, o, "tenant_id", 1, 64, 0, &t, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "project_id", 1, 64, 0, &p, NULL) == -1)
		return -1;
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

/* The plain members of a create or update. */
static int
set_plain(struct rec_router *r, json_t *o)
{
	const char *name = NULL, *desc = NULL;
	bool up = r->admin_state_up;
	json_t *tags;

	if (jsonreq_str(NET_STYLE, o, "name", 0, 255, 0, &name, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "description", 0, 255, 0, &desc,
	    NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "admin_state_up", 0, &up, NULL) == -1)
		return -1;
	r->admin_state_up = up;
	if ((name != NULL && network_set_str(&r->name, name) == -1) ||
	    (desc != NULL && network_set_str(&r->description, desc) == -1))
		return -1;
	if ((tags = json_object_get(o, "tags")) != NULL &&
	    network_set_strs(tags, "tags", &r->tags.items, &r->tags.n) == -1)
		return -1;
	return 0;
}

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct write_arg *wa = arg;
	struct rec_router *r = &wa->r;
	const char *owner;

	codec_clear(&schema_rec_router, r);
	memset(r, 0, sizeof(*r));
	if (owner_of(wa->req, wa->o, &owner) == -1)
		return -1;
	db_uuid(r->id);
	r->admin_state_up = true;
	r->enable_snat = true;
	r->revision_number = 1;
	r->created_at = r->updated_at = db_now_ms();
	if (network_set_str(&r->project_id, owner) == -1 ||
	    network_set_str(&r->name, "") == -1 ||
	    network_set_str(&r->description, "") == -1 ||
	    network_set_str(&r->status, "ACTIVE") == -1 ||
	    set_plain(r, wa->o) == -1 ||
	    network_quota_check(wa->svc, txn, owner, NET_RES_ROUTER, 1) == -1)
		return -1;
	if (json_object_get(wa->o, "external_gateway_info") != NULL &&
	    gw_set(wa->req, wa->svc, txn, r, json_object_get(wa->o,
	    "external_gateway_info")) == -1)
		return -1;
	return network_db_router_put(txn, r, NULL);
}

/* network_written_reply()'s renderer. */
static json_t *
render(struct store_txn *txn, const void *rec)
{
	return router_json(txn, rec);
}

/* The answer to a create or update: the router as written (wa->r,
 * cleared here), or the error of rc == -1. */
static int
written_reply(struct http_req *req, struct http_resp *resp,
    struct write_arg *wa, int rc, int status)
{
	rc = network_written_reply(req, resp, render, &wa->r, "router", rc,
	    status);
	codec_clear(&schema_rec_router, &wa->r);
	return rc;
}

int
network_routers_create(struct http_req *req, struct http_resp *resp)
{
	struct write_arg wa = { .req = req, .svc = network_of(req) };
	json_t *objs;
	bool bulk;
	int rc;

	if (network_create_body(req, "router", "routers", &objs, &bulk) == -1)
		return network_fail(resp);
	if (bulk) {
		err_set(TS_EINVALID, "Bulk operation not supported for "
		    "routers");
		return network_fail(resp);
	}
	wa.o = objs;
	if (network_check_attrs(wa.o, create_attrs) == -1)
		return network_fail(resp);
	rc = network_write(wa.svc, create_fn, &wa);
	return written_reply(req, resp, &wa, rc, 201);
}

static int
update_fn(struct store_txn *txn, void *arg)
{
	struct write_arg *wa = arg;
	struct rec_router old = { .id = "" };
	struct rec_router *r = &wa->r;
	json_t *v;
	int rc = -1;

	codec_clear(&schema_rec_router, r);
	memset(r, 0, sizeof(*r));
	if (load_enforce(wa->req, txn, wa->id, "update_router", &old) == -1 ||
	    network_db_router_get(txn, wa->id, r) == -1 ||
	    network_update_body(wa->o, update_attrs) == -1 ||
	    set_plain(r, wa->o) == -1)
		goto out;
	if ((v = json_object_get(wa->o, "external_gateway_info")) != NULL &&
	    gw_set(wa->req, wa->svc, txn, r, v) == -1)
		goto out;
	if ((v = json_object_get(wa->o, "routes")) != NULL &&
	    routes_set(txn, r, v) == -1)
		goto out;
	r->revision_number++;
	r->updated_at = db_now_ms();
	rc = network_db_router_put(txn, r, &old);
out:
	codec_clear(&schema_rec_router, &old);
	return rc;
}

int
network_routers_update(struct http_req *req, struct http_resp *resp)
{
	struct write_arg wa = { .req = req, .svc = network_of(req) };
	int rc;

	wa.id = http_req_param(req, "router_id");
	/* The body is checked once the router is loaded and the rule
	 * enforced: another project's router is a 404 whatever the body. */
	if (!json_is_object(wa.o = json_object_get(http_req_json(req),
	    "router")))
		wa.o = NULL;
	rc = network_write(wa.svc, update_fn, &wa);
	return written_reply(req, resp, &wa, rc, 0);
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct write_arg *wa = arg;
	struct rec_router *r = &wa->r;
	struct rtr_ifs *ifs = NULL;
	int rc = -1;

	if (load_enforce(wa->req, txn, wa->id, "delete_router", r) == -1 ||
	    network_router_ifs(txn, r->id, &ifs) == -1)
		goto out;
	if (ifs->n > 0) {
		err_set(TS_ECONFLICT, "Router %s still has ports", r->id);
		goto out;
	}
	if (gw_clear(txn, r) == -1)
		goto out;
	rc = network_db_router_del(txn, r);
out:
	free(ifs);
	return rc;
}

int
network_routers_delete(struct http_req *req, struct http_resp *resp)
{
	struct write_arg wa = { .req = req, .svc = network_of(req) };
	int rc;

	wa.id = http_req_param(req, "router_id");
	rc = network_write(wa.svc, delete_fn, &wa);
	codec_clear(&schema_rec_router, &wa.r);
	if (rc == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}

/* ---- interfaces ----------------------------------------------------------- */

struct if_arg {
	struct http_req		*req;
	struct network		*svc;
	const char		*id;
	json_t			*o;
	bool			 add;
	char			 port_id[37], subnet_id[37], network_id[37];
	char			 project_id[65];
};

/* The new interface's subnet may not overlap one the router has. */
static int
check_overlap(struct store_txn *txn, const struct rtr_ifs *ifs,
    const struct rec_subnet *s)
{
	struct ipam_cidr nc;

	if (ipam_cidr_parse(s->cidr, 0, &nc) == -1)
		return -1;
	for (size_t i = 0; i < ifs->n; i++) {
		struct rec_subnet o = { .id = "" };
		struct ipam_cidr oc;
		int bad;

		if (strcmp(ifs->v[i].subnet_id, s->id) == 0) {
			err_set(TS_EINVALID, "Bad router request: Router "
			    "already has a port on subnet %s.", s->id);
			return -1;
		}
		if (network_db_subnet_get(txn, ifs->v[i].subnet_id, &o) == -1) {
			err_clear();
			continue;
		}
		bad = ipam_cidr_parse(o.cidr, 0, &oc) == 0 &&
		    ipam_cidr_overlap(&oc, &nc);
		if (bad)
			err_set(TS_EINVALID, "Bad router request: Cidr %s of "
			    "subnet %s overlaps with cidr %s of subnet %s.",
			    s->cidr, s->id, o.cidr, o.id);
		codec_clear(&schema_rec_subnet, &o);
		if (bad)
			return -1;
	}
	return 0;
}

/* A subnet the caller may attach: its own, or any for an admin. */
static int
subnet_load(struct if_arg *ia, struct store_txn *txn, const char *id,
    struct rec_subnet *s)
{
	if (network_db_subnet_get(txn, id, s) == -1)
		return -1;
	if (network_enforce(ia->req, "get_subnet", s->project_id, NULL,
	    "") == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Subnet %s could not be found.",
			    id);
		return -1;
	}
	return 0;
}

static int
if_add(struct if_arg *ia, struct store_txn *txn, struct rec_router *r,
    const char *subnet_id, const char *port_id)
{
	struct rtr_ifs *ifs = NULL;
	struct rec_subnet s = { .id = "" };
	struct rec_port p = { .id = "" }, old = { .id = "" };
	int rc = -1;

	if (network_router_ifs(txn, r->id, &ifs) == -1)
		return -1;
	if (subnet_id != NULL) {
		struct ipam_ip_req ir = { .subnet_id = subnet_id };

		if (subnet_load(ia, txn, subnet_id, &s) == -1)
			goto out;
		if (s.gateway_ip == NULL || *s.gateway_ip == '\0') {
			err_set(TS_EINVALID, "Bad router request: Subnet for "
			    "router interface must have a gateway IP.");
			goto out;
		}
		if (check_overlap(txn, ifs, &s) == -1)
			goto out;
		ir.ip_address = s.gateway_ip;
		db_uuid(p.id);
		snprintf(p.network_id, sizeof(p.network_id), "%s",
		    s.network_id);
		p.admin_state_up = true;
		p.revision_number = 1;
		p.created_at = p.updated_at = db_now_ms();
		if (network_set_str(&p.project_id, r->project_id) == -1 ||
		    network_set_str(&p.name, "") == -1 ||
		    network_set_str(&p.description, "") == -1 ||
		    network_set_str(&p.device_id, r->id) == -1 ||
		    network_set_str(&p.device_owner, OWNER_IF) == -1 ||
		    network_set_str(&p.status, "ACTIVE") == -1 ||
		    network_set_str(&p.binding_vnic_type, "normal") == -1 ||
		    network_set_str(&p.binding_vif_type, "unbound") == -1 ||
		    ipam_port_create(txn, ia->svc->ipam, &p, &ir, 1,
		    true) == -1)
			goto out;
	} else {
		if (network_db_port_get(txn, port_id, &p) == -1 ||
		    network_db_port_get(txn, port_id, &old) == -1)
			goto out;
		if (network_enforce(ia->req, "update_port", p.project_id,
		    NULL, "") == -1) {
			if (err_code() == TS_ENOT_FOUND)
				err_set(TS_ENOT_FOUND, "Port %s could not be "
				    "found.", port_id);
			goto out;
		}
		if (*p.device_id != '\0' || *p.device_owner != '\0') {
			err_set(TS_ECONFLICT, "Unable to complete operation "
			    "on port %s for network %s. Port already has an "
			    "attached device %s.", p.id, p.network_id,
			    p.device_id);
			goto out;
		}
		if (p.fixed_ips.n == 0) {
			err_set(TS_EINVALID, "Bad router request: Router port "
			    "must have at least one fixed IP.");
			goto out;
		}
		if (subnet_load(ia, txn, p.fixed_ips.items[0].subnet_id,
		    &s) == -1 || check_overlap(txn, ifs, &s) == -1)
			goto out;
		if (network_set_str(&p.device_id, r->id) == -1 ||
		    network_set_str(&p.device_owner, OWNER_IF) == -1 ||
		    network_set_str(&p.status, "ACTIVE") == -1)
			goto out;
		p.revision_number++;
		p.updated_at = db_now_ms();
		if (network_db_port_put(txn, &p, &old) == -1)
			goto out;
	}
	snprintf(ia->port_id, 37, "%s", p.id);
	snprintf(ia->subnet_id, 37, "%s", s.id);
	snprintf(ia->network_id, 37, "%s", p.network_id);
	rc = 0;
out:
	free(ifs);
	codec_clear(&schema_rec_subnet, &s);
	codec_clear(&schema_rec_port, &p);
	codec_clear(&schema_rec_port, &old);
	return rc;
}

static int
if_remove(struct if_arg *ia, struct store_txn *txn, struct rec_router *r,
    const char *subnet_id, const char *port_id)
{
	struct rtr_ifs *ifs = NULL;
	struct rec_port p = { .id = "" };
	struct rec_subnet s = { .id = "" };
	struct fip_use u = { .router_id = r->id };
	size_t i;
	int rc = -1;

	if (network_router_ifs(txn, r->id, &ifs) == -1)
		return -1;
	for (i = 0; i < ifs->n; i++)
		if ((subnet_id == NULL || strcmp(ifs->v[i].subnet_id,
		    subnet_id) == 0) && (port_id == NULL ||
		    strcmp(ifs->v[i].port_id, port_id) == 0))
			break;
	if (i == ifs->n) {
		if (subnet_id != NULL && port_id == NULL)
			err_set(TS_ENOT_FOUND, "Router %s has no interface on "
			    "subnet %s", r->id, subnet_id);
		else
			err_set(TS_ENOT_FOUND, "Router %s does not have an "
			    "interface with id %s", r->id, port_id);
		goto out;
	}
	snprintf(ia->port_id, 37, "%s", ifs->v[i].port_id);
	snprintf(ia->subnet_id, 37, "%s", ifs->v[i].subnet_id);
	snprintf(ia->network_id, 37, "%s", ifs->v[i].network_id);
	if (network_db_subnet_get(txn, ia->subnet_id, &s) == -1)
		goto out;
	u.subnet_cidr = s.cidr;
	if (network_db_floatingip_each(txn, fip_use_cb, &u) == -1)
		goto out;
	if (u.used) {
		err_set(TS_ECONFLICT, "Router interface for subnet %s on "
		    "router %s cannot be deleted, as it is required by one or "
		    "more floating IPs.", ia->subnet_id, r->id);
		goto out;
	}
	if (network_db_port_get(txn, ia->port_id, &p) == -1 ||
	    ipam_port_delete(txn, &p) == -1)
		goto out;
	rc = 0;
out:
	free(ifs);
	codec_clear(&schema_rec_port, &p);
	codec_clear(&schema_rec_subnet, &s);
	return rc;
}

static int
if_fn(struct store_txn *txn, void *arg)
{
	struct if_arg *ia = arg;
	struct rec_router r = { .id = "" }, old = { .id = "" };
	const char *sid = NULL, *pid = NULL;
	int rc = -1;

	if (load_enforce(ia->req, txn, ia->id, ia->add ?
	    "add_router_interface" : "remove_router_interface", &r) == -1 ||
	    network_db_router_get(txn, ia->id, &old) == -1)
		goto out;
	if (ia->o == NULL) {
		err_set(TS_EINVALID, "Resource body required");
		goto out;
	}
	if (jsonreq_uuid(NET_STYLE, ia->o, "subnet_id", 0, &sid, NULL) == -1 ||
	    jsonreq_uuid(NET_STYLE, ia->o, "port_id", 0, &pid, NULL) == -1)
		goto out;
	if (ia->add && (sid == NULL) == (pid == NULL)) {
		err_set(TS_EINVALID, sid == NULL ? "Bad router request: "
		    "Either subnet_id or port_id must be specified." :
		    "Bad router request: Cannot specify both subnet-id and "
		    "port-id.");
		goto out;
	}
	if (!ia->add && sid == NULL && pid == NULL) {
		err_set(TS_EINVALID, "Bad router request: Either subnet_id or "
		    "port_id must be specified.");
		goto out;
	}
	snprintf(ia->project_id, sizeof(ia->project_id), "%s", r.project_id);
	if ((ia->add ? if_add(ia, txn, &r, sid, pid) :
	    if_remove(ia, txn, &r, sid, pid)) == -1)
		goto out;
	r.revision_number++;
	r.updated_at = db_now_ms();
	rc = network_db_router_put(txn, &r, &old);
out:
	codec_clear(&schema_rec_router, &r);
	codec_clear(&schema_rec_router, &old);
	return rc;
}

static int
interface(struct http_req *req, struct http_resp *resp, bool add)
{
	struct if_arg ia = { .req = req, .svc = network_of(req), .add = add };

	ia.id = http_req_param(req, "router_id");
	/* Checked after the router's rule, as an update's body. */
	if (!json_is_object(ia.o = http_req_json(req)))
		ia.o = NULL;
	if (network_write(ia.svc, if_fn, &ia) == -1)
		return network_fail(resp);
	return http_resp_json(resp, 200, json_pack("{s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:[s]}", "id", ia.id, "tenant_id", ia.project_id,
	    "project_id", ia.project_id, "port_id", ia.port_id,
	    "network_id", ia.network_id, "subnet_id", ia.subnet_id,
	    "subnet_ids", ia.subnet_id));
}

int
network_routers_add_interface(struct http_req *req, struct http_resp *resp)
{
	return interface(req, resp, true);
}

int
network_routers_remove_interface(struct http_req *req,
    struct http_resp *resp)
{
	return interface(req, resp, false);
}
