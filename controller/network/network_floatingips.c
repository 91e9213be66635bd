/*
 * network_floatingips: the floatingips collection of the Networking API
 * (with fip-port-details). The address is held by a port of the external
 * network (device_owner network:floatingip, device_id the floating IP, no
 * project), so ipam cannot give it to another port and the external
 * network is in use while it exists. An association names the fixed port
 * and address and the router that reaches them: the one whose gateway is
 * on the floating network with an interface on the fixed address's subnet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "network_int.h"

#define OWNER_FIP	"network:floatingip"

static json_t *
port_details(struct store_txn *txn, const struct rec_floatingip *f)
{
	struct rec_port p = { .id = "" };
	json_t *o;

	if (f->port_id == NULL || *f->port_id == '\0')
		return json_null();
	if (network_db_port_get(txn, f->port_id, &p) == -1) {
		err_clear();
		return json_null();
	}
	o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "name", p.name,
	    "network_id", p.network_id, "mac_address", p.mac_address,
	    "admin_state_up", p.admin_state_up, "status", p.status,
	    "device_id", p.device_id, "device_owner", p.device_owner);
	codec_clear(&schema_rec_port, &p);
	return o;
}

static json_t *
opt_str(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

static json_t *
fip_json(struct store_txn *txn, const struct rec_floatingip *f)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, "
	    "s:s, s:o, s:I, s:o, s:o, s:o*}",
	    "id", f->id, "tenant_id", f->project_id, "project_id",
	    f->project_id, "floating_network_id", f->floating_network_id,
	    "floating_ip_address", f->floating_ip_address,
	    "port_id", opt_str(f->port_id),
	    "fixed_ip_address", opt_str(f->fixed_ip_address),
	    "router_id", opt_str(f->router_id), "status", f->status,
	    "description", f->description,
	    "tags", network_strs(f->tags.items, f->tags.n),
	    "revision_number", (json_int_t)f->revision_number,
	    "created_at", network_time(f->created_at),
	    "updated_at", network_time(f->updated_at),
	    "port_details", port_details(txn, f));
}

static int
load_enforce(struct http_req *req, struct store_txn *txn, const char *id,
    const char *rule, struct rec_floatingip *f)
{
	char nf[128];

	snprintf(nf, sizeof(nf), "Floating IP %s could not be found", id);
	if (network_db_floatingip_get(txn, id, f) == -1)
		return -1;
	if (strcmp(rule, "get_floatingip") != 0 && !network_allowed(req,
	    "get_floatingip", f->project_id, NULL)) {
		err_set(TS_ENOT_FOUND, "%s", nf);
		return -1;
	}
	return network_enforce(req, rule, f->project_id, NULL, nf);
}

/* ---- association ---------------------------------------------------------- */

struct reach {
	const char	*ext_net;
	const char	*subnet_id;
	struct store_txn *txn;
	char		 router_id[37];
};

static int
reach_cb(const struct rec_router *r, void *arg)
{
	struct reach *re = arg;
	struct rtr_ifs *ifs = NULL;
	bool hit = false;

	if (r->gw_network_id == NULL || strcmp(r->gw_network_id,
	    re->ext_net) != 0)
		return 0;
	if (network_router_ifs(re->txn, r->id, &ifs) == -1)
		return -1;
	for (size_t i = 0; !hit && i < network_router_ifs_n(ifs); i++)
		hit = strcmp(network_router_ifs_subnet(ifs, i),
		    re->subnet_id) == 0;
	free(ifs);
	if (!hit)
		return 0;
	snprintf(re->router_id, sizeof(re->router_id), "%s", r->id);
	return 1;
}

struct taken {
	const char	*self, *fixed;
	bool		 yes;
};

static int
taken_cb(const struct rec_floatingip *f, void *arg)
{
	struct taken *t = arg;

	if (strcmp(f->id, t->self) != 0 && f->fixed_ip_address != NULL &&
	    strcmp(f->fixed_ip_address, t->fixed) == 0) {
		t->yes = true;
		return 1;
	}
	return 0;
}

static void
disassociate(struct rec_floatingip *f)
{
	free(f->port_id);
	free(f->fixed_ip_address);
	free(f->router_id);
	f->port_id = f->fixed_ip_address = f->router_id = NULL;
}

/*
 * Point f at port p (fixed: the address asked, NULL: the port's one IPv4
 * address), reachable through a router with its gateway on the floating
 * network. Only reads: the caller writes f. Refusals are TS_EINVALID,
 * TS_ENOT_FOUND or TS_ECONFLICT; anything else is the store's.
 */
static int
bind_port(struct store_txn *txn, struct rec_floatingip *f,
    const struct rec_port *p, const char *fixed)
{
	const char *port_id = p->id;
	struct reach re = { .ext_net = f->floating_network_id, .txn = txn };
	struct taken tk = { .self = f->id };
	const char *ip = NULL, *sid = NULL;
	size_t nv4 = 0;
	int rc = -1;

	for (size_t i = 0; i < p->fixed_ips.n; i++) {
		const char *a = p->fixed_ips.items[i].ip_address;

		if (strchr(a, ':') != NULL)
			continue;
		nv4++;
		if (fixed == NULL || strcmp(fixed, a) == 0) {
			ip = a;
			sid = p->fixed_ips.items[i].subnet_id;
		}
	}
	if (fixed != NULL && ip == NULL) {
		err_set(TS_EINVALID, "Bad floatingip request: Port %s does not "
		    "have fixed ip %s.", port_id, fixed);
		goto out;
	}
	if (nv4 == 0) {
		err_set(TS_EINVALID, "Bad floatingip request: Port %s does not "
		    "have any IPv4 address.", port_id);
		goto out;
	}
	if (fixed == NULL && nv4 > 1) {
		err_set(TS_EINVALID, "Bad floatingip request: Port %s has "
		    "multiple fixed IPv4 addresses. Must provide a specific "
		    "IPv4 address when assigning a floating IP.", port_id);
		goto out;
	}
	re.subnet_id = sid;
	if (network_db_router_each(txn, reach_cb, &re) == -1)
		goto out;
	if (re.router_id[0] == '\0') {
		err_set(TS_ENOT_FOUND, "External network %s is not reachable "
		    "from subnet %s.  Therefore, cannot associate Port %s with "
		    "a Floating IP.", f->floating_network_id, sid, port_id);
		goto out;
	}
	tk.fixed = ip;
	if (network_db_floatingip_each_port(txn, port_id, taken_cb,
	    &tk) == -1)
		goto out;
	if (tk.yes) {
		err_set(TS_ECONFLICT, "Cannot associate floating IP %s (%s) "
		    "with port %s using fixed IP %s, as that fixed IP already "
		    "has a floating IP on external network %s.",
		    f->floating_ip_address ? f->floating_ip_address : "",
		    f->id, port_id, ip, f->floating_network_id);
		goto out;
	}
	if (network_set_str(&f->port_id, port_id) == -1 ||
	    network_set_str(&f->fixed_ip_address, ip) == -1 ||
	    network_set_str(&f->router_id, re.router_id) == -1)
		goto out;
	rc = 0;
out:
	return rc;
}

/* bind_port() of port_id, which must be the floating IP's project's and
 * visible to the caller (404 otherwise). */
static int
associate(struct http_req *req, struct store_txn *txn,
    struct rec_floatingip *f, const char *port_id, const char *fixed)
{
	struct rec_port p = { .id = "" };
	int rc = -1;

	if (network_db_port_get(txn, port_id, &p) == -1)
		return -1;
	if (strcmp(p.project_id, f->project_id) != 0 ||
	    !network_allowed(req, "get_port", p.project_id, NULL))
		err_set(TS_ENOT_FOUND, "Port %s could not be found.", port_id);
	else
		rc = bind_port(txn, f, &p, fixed);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

/* The association part of a create or update body. */
static int
assoc_body(struct http_req *req, struct store_txn *txn,
    struct rec_floatingip *f, json_t *o)
{
	const char *pid = NULL, *fixed = NULL;
	bool has_pid = false;

	if (jsonreq_uuid(NET_STYLE, o, "port_id", JSONREQ_NULLABLE, &pid,
	    &has_pid) == -1 ||
	    jsonreq_str(NET_STYLE, o, "fixed_ip_address", 1, 64,
	    JSONREQ_NULLABLE, &fixed, NULL) == -1)
		return -1;
	if (!has_pid)
		return 0;
	if (pid == NULL)
		disassociate(f);
	else if (associate(req, txn, f, pid, fixed) == -1)
		return -1;
	return network_set_str(&f->status, f->port_id ? "ACTIVE" : "DOWN");
}

/* ---- list / show ---------------------------------------------------------- */

struct list_arg {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*out;
};

static int
list_cb(const struct rec_floatingip *f, void *arg)
{
	struct list_arg *la = arg;
	json_t *o;

	if (!network_allowed(la->req, "get_floatingip", f->project_id, NULL))
		return 0;
	if ((o = fip_json(la->txn, f)) == NULL) {
		err_set(TS_ENOMEM, "network: out of memory");
		return -1;
	}
	json_array_append_new(la->out, o);
	return 0;
}

int
network_floatingips_list(struct http_req *req, struct http_resp *resp)
{
	struct list_arg la = { .req = req, .out = json_array() };
	int rc;

	if (la.out == NULL || store_read_begin(network_of(req)->store,
	    &la.txn) == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	rc = network_db_floatingip_each(la.txn, list_cb, &la);
	store_txn_abort(&la.txn);
	if (rc == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	if (network_list_reply(req, resp, "floatingips", la.out) == -1)
		return network_fail(resp);
	return 0;
}

int
network_floatingips_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_floatingip f = { .id = "" };
	struct store_txn *txn;
	json_t *o = NULL;
	int rc;

	if (store_read_begin(network_of(req)->store, &txn) == -1)
		return network_fail(resp);
	rc = load_enforce(req, txn, http_req_param(req, "floatingip_id"),
	    "get_floatingip", &f);
	if (rc == 0 && (o = fip_json(txn, &f)) == NULL) {
		err_set(TS_ENOMEM, "network: out of memory");
		rc = -1;
	}
	store_txn_abort(&txn);
	codec_clear(&schema_rec_floatingip, &f);
	if (rc == -1)
		return network_fail(resp);
	if (network_show_reply(req, resp, "floatingip", o, 0) == -1)
		return network_fail(resp);
	return 0;
}

/* ---- create / update / delete --------------------------------------------- */

static const char *const create_attrs[] = { "floating_network_id",
    "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address",
    "description", "tenant_id", "project_id", "tags", NULL };
static const char *const update_attrs[] = { "port_id", "fixed_ip_address",
    "description", NULL };

struct write_arg {
	struct http_req		*req;
	struct network		*svc;
	const char		*id;
	json_t			*o;
	struct rec_floatingip	 f;
};

/*
 * The port holding f's address on f's floating network (ir NULL: one IPv4
 * address of any subnet, as Neutron gives; else that request): stored,
 * with f->floating_ip_address and f->floating_port_id filled in.
 */
static int
hold_address(struct network *svc, struct store_txn *txn,
    struct rec_floatingip *f, const struct ipam_ip_req *ir)
{
	struct rec_port p = { .id = "" };
	int rc = -1;

	db_uuid(p.id);
	memcpy(p.network_id, f->floating_network_id, sizeof(p.network_id));
	p.admin_state_up = true;
	p.revision_number = 1;
	p.created_at = p.updated_at = f->created_at;
	if (network_set_str(&p.project_id, "") == -1 ||
	    network_set_str(&p.name, "") == -1 ||
	    network_set_str(&p.description, "") == -1 ||
	    network_set_str(&p.device_id, f->id) == -1 ||
	    network_set_str(&p.device_owner, OWNER_FIP) == -1 ||
	    network_set_str(&p.status, "N/A") == -1 ||
	    network_set_str(&p.binding_vnic_type, "normal") == -1 ||
	    network_set_str(&p.binding_vif_type, "unbound") == -1)
		goto out;
	if (ipam_port_create(txn, svc->ipam, &p, ir, ir != NULL ? 1 : 0,
	    ir != NULL) == -1)
		goto out;
	for (size_t i = 0; i < p.fixed_ips.n && f->floating_ip_address ==
	    NULL; i++)
		if (strchr(p.fixed_ips.items[i].ip_address, ':') == NULL &&
		    network_set_str(&f->floating_ip_address,
		    p.fixed_ips.items[i].ip_address) == -1)
			goto out;
	if (f->floating_ip_address == NULL) {
		err_set(TS_EINVALID, "Bad floatingip request: Network %s has "
		    "no IPv4 subnet.", f->floating_network_id);
		goto out;
	}
	memcpy(f->floating_port_id, p.id, sizeof(f->floating_port_id));
	rc = 0;
out:
	codec_clear(&schema_rec_port, &p);
	return rc;
}

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct write_arg *wa = arg;
	struct rec_floatingip *f = &wa->f;
	struct rec_network n = { .id = "" };
	struct ipam_ip_req ir = { 0 };
	const char *net = NULL, *desc = "", *owner, *t = NULL, *pj = NULL;
	json_t *tags;
	int rc = -1;

	codec_clear(&schema_rec_floatingip, f);
	memset(f, 0, sizeof(*f));
	if (jsonreq_uuid(NET_STYLE, wa->o, "floating_network_id",
	    JSONREQ_REQUIRED, &net, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, wa->o, "floating_ip_address", 1, 64, 0,
	    &ir.ip_address, NULL) == -1 ||
	    jsonreq_uuid(NET_STYLE, wa->o, "subnet_id", 0, &ir.subnet_id,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, wa->o, "description", 0, 255, 0, &desc,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, wa->o, "tenant_id", 1, 64, 0, &t,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, wa->o, "project_id", 1, 64, 0, &pj,
	    NULL) == -1)
		return -1;
	owner = network_project(wa->req);
	if (pj == NULL)
		pj = t;
	if (pj != NULL && strcmp(pj, owner) != 0) {
		if (!network_is_admin(wa->req)) {
			err_set(TS_EINVALID, "Specifying 'project_id' or "
			    "'tenant_id' other than the authenticated project "
			    "in request requires admin privileges");
			return -1;
		}
		owner = pj;
	}
	if (ir.ip_address != NULL && network_enforce_attr(wa->req,
	    "create_floatingip:floating_ip_address", owner, NULL) == -1)
		return -1;
	if (network_db_network_get(txn, net, &n) == -1)
		return -1;
	if (!n.router_external) {
		err_set(TS_EINVALID, "Bad floatingip request: Network %s is "
		    "not a valid external network.", net);
		goto out;
	}
	if (network_quota_check(wa->svc, txn, owner, NET_RES_FLOATINGIP,
	    1) == -1)
		goto out;
	db_uuid(f->id);
	snprintf(f->floating_network_id, sizeof(f->floating_network_id), "%s",
	    net);
	f->revision_number = 1;
	f->created_at = f->updated_at = db_now_ms();
	if (network_set_str(&f->project_id, owner) == -1 ||
	    network_set_str(&f->description, desc) == -1 ||
	    network_set_str(&f->status, "DOWN") == -1)
		goto out;
	if ((tags = json_object_get(wa->o, "tags")) != NULL &&
	    network_set_strs(tags, "tags", &f->tags.items, &f->tags.n) == -1)
		goto out;
	if (hold_address(wa->svc, txn, f, ir.ip_address == NULL &&
	    ir.subnet_id == NULL ? NULL : &ir) == -1 ||
	    assoc_body(wa->req, txn, f, wa->o) == -1)
		goto out;
	rc = network_db_floatingip_put(txn, f, NULL);
out:
	codec_clear(&schema_rec_network, &n);
	return rc;
}

/* network_written_reply()'s renderer. */
static json_t *
render(struct store_txn *txn, const void *rec)
{
	return fip_json(txn, rec);
}

/* The answer to a create or update: the floatingip as written (wa->f,
 * cleared here), or the error of rc == -1. */
static int
written_reply(struct http_req *req, struct http_resp *resp,
    struct write_arg *wa, int rc, int status)
{
	rc = network_written_reply(req, resp, render, &wa->f, "floatingip", rc,
	    status);
	codec_clear(&schema_rec_floatingip, &wa->f);
	return rc;
}

int
network_floatingips_create(struct http_req *req, struct http_resp *resp)
{
	struct write_arg wa = { .req = req, .svc = network_of(req) };
	json_t *objs;
	bool bulk;
	int rc;

	if (network_create_body(req, "floatingip", "floatingips", &objs,
	    &bulk) == -1)
		return network_fail(resp);
	if (bulk) {
		err_set(TS_EINVALID, "Bulk operation not supported for "
		    "floatingips");
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
	struct rec_floatingip old = { .id = "" };
	struct rec_floatingip *f = &wa->f;
	const char *desc = NULL;
	int rc = -1;

	codec_clear(&schema_rec_floatingip, f);
	memset(f, 0, sizeof(*f));
	if (load_enforce(wa->req, txn, wa->id, "update_floatingip",
	    &old) == -1 || network_db_floatingip_get(txn, wa->id, f) == -1 ||
	    network_update_body(wa->o, update_attrs) == -1 ||
	    jsonreq_str(NET_STYLE, wa->o, "description", 0, 255, 0, &desc,
	    NULL) == -1 ||
	    (desc != NULL && network_set_str(&f->description, desc) == -1) ||
	    assoc_body(wa->req, txn, f, wa->o) == -1)
		goto out;
	/* Moved or freed by hand: the user's from now on, no longer
	 * released with the server it was given to. */
	if (json_object_get(wa->o, "port_id") != NULL)
		f->has_auto_assigned = f->auto_assigned = false;
	f->revision_number++;
	f->updated_at = db_now_ms();
	rc = network_db_floatingip_put(txn, f, &old);
out:
	codec_clear(&schema_rec_floatingip, &old);
	return rc;
}

int
network_floatingips_update(struct http_req *req, struct http_resp *resp)
{
	struct write_arg wa = { .req = req, .svc = network_of(req) };
	int rc;

	wa.id = http_req_param(req, "floatingip_id");
	/* The body is checked once the floating IP is loaded and the rule
	 * enforced: another project's is a 404 whatever the body. */
	if (!json_is_object(wa.o = json_object_get(http_req_json(req),
	    "floatingip")))
		wa.o = NULL;
	rc = network_write(wa.svc, update_fn, &wa);
	return written_reply(req, resp, &wa, rc, 0);
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct write_arg *wa = arg;
	struct rec_port p = { .id = "" };
	int rc = -1;

	if (load_enforce(wa->req, txn, wa->id, "delete_floatingip",
	    &wa->f) == -1)
		return -1;
	if (network_db_port_get(txn, wa->f.floating_port_id, &p) == 0) {
		if (ipam_port_delete(txn, &p) == -1)
			goto out;
	} else if (err_code() != TS_ENOT_FOUND) {
		goto out;
	}
	rc = network_db_floatingip_del(txn, &wa->f);
out:
	codec_clear(&schema_rec_port, &p);
	return rc;
}

int
network_floatingips_delete(struct http_req *req, struct http_resp *resp)
{
	struct write_arg wa = { .req = req, .svc = network_of(req) };
	int rc;

	wa.id = http_req_param(req, "floatingip_id");
	rc = network_write(wa.svc, delete_fn, &wa);
	codec_clear(&schema_rec_floatingip, &wa.f);
	if (rc == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}

/* ---- ports going away ----------------------------------------------------- */

struct gone {
	char	ids[64][37];
	size_t	n;
};

static int
gone_cb(const struct rec_floatingip *f, void *arg)
{
	struct gone *g = arg;

	if (g->n == 64)
		return 1;
	snprintf(g->ids[g->n++], 37, "%s", f->id);
	return 0;
}

int
network_floatingip_port_gone(struct store_txn *txn, const char *port_id)
{
	struct gone g = { .n = 0 };

	if (network_db_floatingip_each_port(txn, port_id, gone_cb, &g) == -1)
		return -1;
	for (size_t i = 0; i < g.n; i++) {
		struct rec_floatingip f = { .id = "" }, old = { .id = "" };
		int rc;

		rc = network_db_floatingip_get(txn, g.ids[i], &f) == -1 ||
		    network_db_floatingip_get(txn, g.ids[i], &old) == -1 ?
		    -1 : 0;
		if (rc == 0) {
			disassociate(&f);
			f.revision_number++;
			f.updated_at = db_now_ms();
			rc = network_set_str(&f.status, "DOWN") == -1 ||
			    network_db_floatingip_put(txn, &f, &old) == -1 ?
			    -1 : 0;
		}
		codec_clear(&schema_rec_floatingip, &f);
		codec_clear(&schema_rec_floatingip, &old);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* ---- nova-network's auto-assigned floating IPs ---------------------------- */

struct pool_arg {
	const char	*name;
	char		 id[37];
};

/* The first external network of that name (ids order): Nova's pool names
 * are network names, which Neutron does not make unique. */
static int
pool_cb(const struct rec_network *n, void *arg)
{
	struct pool_arg *pa = arg;

	if (!n->router_external || strcmp(n->name, pa->name) != 0)
		return 0;
	snprintf(pa->id, sizeof(pa->id), "%s", n->id);
	return 1;
}

struct v4_arg {
	char	ids[64][37];
	size_t	n;
};

static int
v4_cb(const struct rec_subnet *sn, void *arg)
{
	struct v4_arg *va = arg;

	if (sn->ip_version == 4 && va->n < 64)
		snprintf(va->ids[va->n++], 37, "%s", sn->id);
	return 0;
}

/*
 * A free IPv4 address of network_id for the port port_id is about to hold,
 * to out: found without leaving anything behind (the probe's allocation
 * is released), so a pool with none writes nothing. *found false: none.
 */
static int
free_v4(struct store_txn *txn, const char *network_id, const char *port_id,
    char subnet_id[37], char out[IPAM_ADDR_STRLEN], bool *found)
{
	struct v4_arg va = { .n = 0 };

	*found = false;
	if (network_db_subnet_each_network(txn, network_id, v4_cb, &va) == -1)
		return -1;
	for (size_t i = 0; i < va.n && !*found; i++) {
		struct rec_subnet sn = { .id = "" };
		int rc;

		if (network_db_subnet_get(txn, va.ids[i], &sn) == -1) {
			codec_clear(&schema_rec_subnet, &sn);
			return -1;
		}
		rc = ipam_ip_allocate(txn, &sn, port_id, NULL, out);
		codec_clear(&schema_rec_subnet, &sn);
		if (rc == -1 && err_code() == TS_ECONFLICT)
			continue;	/* full: the next subnet */
		if (rc == -1 || ipam_ip_release(txn, va.ids[i], out,
		    port_id) == -1)
			return -1;
		snprintf(subnet_id, 37, "%s", va.ids[i]);
		*found = true;
	}
	return 0;
}

/* A refusal of the pool, not a failure of the transaction. */
static bool
refusal(void)
{
	return err_code() == TS_EINVALID || err_code() == TS_ENOT_FOUND ||
	    err_code() == TS_ECONFLICT || err_code() == TS_EOVER_QUOTA;
}

int
network_floatingip_auto(struct network *svc, struct store_txn *txn,
    const char *project_id, const char *device_id, const char *port_id)
{
	struct pool_arg pa = { .name = svc->fip_pool };
	struct rec_floatingip f = { .id = "" };
	struct rec_port p = { .id = "" };
	struct ipam_ip_req ir;
	char why[ERR_MSG_MAX] = "", sid[37], addr[IPAM_ADDR_STRLEN], hold[37];
	const char *fixed = NULL;
	bool found;
	int rc = -1;

	if (!svc->auto_fip)
		return 0;
	/* Every check reads: a refusal leaves the transaction as it was. */
	if (network_db_network_each(txn, pool_cb, &pa) == -1)
		goto out;
	if (pa.id[0] == '\0') {
		snprintf(why, sizeof(why), "no external network named '%s'",
		    svc->fip_pool);
		goto refused;
	}
	if (network_quota_check(svc, txn, project_id, NET_RES_FLOATINGIP,
	    1) == -1)
		goto check;
	if (network_db_port_get(txn, port_id, &p) == -1)
		goto out;
	for (size_t i = 0; i < p.fixed_ips.n && fixed == NULL; i++)
		if (strchr(p.fixed_ips.items[i].ip_address, ':') == NULL)
			fixed = p.fixed_ips.items[i].ip_address;
	if (fixed == NULL) {
		snprintf(why, sizeof(why), "port %s has no IPv4 address",
		    port_id);
		goto refused;
	}
	db_uuid(f.id);
	memcpy(f.floating_network_id, pa.id, sizeof(f.floating_network_id));
	f.revision_number = 1;
	f.created_at = f.updated_at = db_now_ms();
	f.has_auto_assigned = f.auto_assigned = true;
	if (network_set_str(&f.project_id, project_id) == -1 ||
	    network_set_str(&f.description, "") == -1 ||
	    network_set_str(&f.status, "ACTIVE") == -1)
		goto out;
	if (bind_port(txn, &f, &p, fixed) == -1)
		goto check;
	db_uuid(hold);
	if (free_v4(txn, pa.id, hold, sid, addr, &found) == -1)
		goto out;
	if (!found) {
		snprintf(why, sizeof(why), "No more IP addresses available "
		    "on network %s.", pa.id);
		goto refused;
	}
	/* From here every step writes: a failure aborts the create. */
	ir.subnet_id = sid;
	ir.ip_address = addr;
	if (hold_address(svc, txn, &f, &ir) == -1 ||
	    network_db_floatingip_put(txn, &f, NULL) == -1)
		goto out;
	log_info("server %s: floating IP %s from pool %s auto-assigned to "
	    "port %s", device_id, f.floating_ip_address, svc->fip_pool,
	    port_id);
	rc = 0;
	goto out;
check:
	if (!refusal())
		goto out;
	snprintf(why, sizeof(why), "%s", err_msg());
refused:
	err_clear();
	log_warnx("server %s: no floating IP auto-assigned from pool %s: %s",
	    device_id, svc->fip_pool, why);
	rc = 0;
out:
	codec_clear(&schema_rec_port, &p);
	codec_clear(&schema_rec_floatingip, &f);
	return rc;
}

struct auto_ids {
	char	ids[64][37];
	size_t	n;
};

static int
auto_cb(const struct rec_floatingip *f, void *arg)
{
	struct auto_ids *a = arg;

	if (!f->auto_assigned || a->n == 64)
		return 0;
	snprintf(a->ids[a->n++], 37, "%s", f->id);
	return 0;
}

int
network_floatingip_release_auto(struct store_txn *txn, const char *port_id)
{
	struct auto_ids a = { .n = 0 };

	/* Ids first: the index changes under the walk otherwise. */
	if (network_db_floatingip_each_port(txn, port_id, auto_cb, &a) == -1)
		return -1;
	for (size_t i = 0; i < a.n; i++) {
		struct rec_floatingip f = { .id = "" };
		struct rec_port p = { .id = "" };
		int rc = network_db_floatingip_get(txn, a.ids[i], &f);

		if (rc == 0 && network_db_port_get(txn, f.floating_port_id,
		    &p) == 0)
			rc = ipam_port_delete(txn, &p);
		else if (rc == 0 && err_code() != TS_ENOT_FOUND)
			rc = -1;
		if (rc == 0)
			rc = network_db_floatingip_del(txn, &f);
		codec_clear(&schema_rec_port, &p);
		codec_clear(&schema_rec_floatingip, &f);
		if (rc == -1)
			return -1;
	}
	return 0;
}
