/* network_ports: the ports collection of the Networking API, and the
 * device ports the Compute service asks for (network.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "network_int.h"

json_t *
network_port_json(const struct rec_port *p, bool admin)
{
	json_t *ips = json_array(), *pairs = json_array(), *o;
	size_t i;

	for (i = 0; ips != NULL && i < p->fixed_ips.n; i++)
		json_array_append_new(ips, json_pack("{s:s, s:s}", "subnet_id",
		    p->fixed_ips.items[i].subnet_id, "ip_address",
		    p->fixed_ips.items[i].ip_address));
	for (i = 0; pairs != NULL && i < p->allowed_address_pairs.n; i++)
		json_array_append_new(pairs, json_pack("{s:s, s:s}",
		    "ip_address", p->allowed_address_pairs.items[i].ip_address,
		    "mac_address",
		    p->allowed_address_pairs.items[i].mac_address != NULL ?
		    p->allowed_address_pairs.items[i].mac_address :
		    p->mac_address));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, "
	    "s:s, s:o*, s:o, s:o*, s:b, s:s, s:o, s:I, s:o, s:o}",
	    "id", p->id, "name", p->name, "network_id", p->network_id,
	    "tenant_id", p->project_id, "project_id", p->project_id,
	    "description", p->description, "mac_address", p->mac_address,
	    "admin_state_up", p->admin_state_up, "status", p->status,
	    "device_id", p->device_id, "device_owner", p->device_owner,
	    "fixed_ips", ips, "security_groups",
	    network_strs(p->security_groups.items, p->security_groups.n),
	    "allowed_address_pairs", pairs,
	    "port_security_enabled", p->port_security_enabled,
	    "binding:vnic_type", p->binding_vnic_type,
	    "tags", network_strs(p->tags.items, p->tags.n),
	    "revision_number", (json_int_t)p->revision_number,
	    "created_at", network_time(p->created_at),
	    "updated_at", network_time(p->updated_at));
	if (o != NULL && admin) {
		json_object_set_new(o, "binding:host_id", json_string(
		    p->binding_host_id != NULL ? p->binding_host_id : ""));
		json_object_set_new(o, "binding:vif_type",
		    json_string(p->binding_vif_type));
		json_object_set_new(o, "binding:profile", json_object());
		json_object_set_new(o, "binding:vif_details", json_object());
	}
	return o;
}

/* The project of a port's network ("" if it is gone). */
static void
net_owner(struct store_txn *txn, const char *network_id, char out[65])
{
	struct rec_network n = { .id = "" };

	out[0] = '\0';
	if (network_db_network_get(txn, network_id, &n) == 0)
		snprintf(out, 65, "%s", n.project_id);
	else
		err_clear();
	codec_clear(&schema_rec_network, &n);
}

/* Load port id and enforce rule on it (404 for what the caller may not
 * read). */
static int
load_enforce(struct http_req *req, struct store_txn *txn, const char *id,
    const char *rule, struct rec_port *p)
{
	char owner[65];

	if (network_db_port_get(txn, id, p) == -1)
		return -1;
	net_owner(txn, p->network_id, owner);
	if (strcmp(rule, "get_port") != 0 && !network_allowed(req, "get_port",
	    p->project_id, owner)) {
		err_set(TS_ENOT_FOUND, "Port %s could not be found.", id);
		return -1;
	}
	if (network_enforce(req, rule, p->project_id, owner, "") == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Port %s could not be found.",
			    id);
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
list_cb(const struct rec_port *p, void *arg)
{
	struct list_arg *la = arg;
	char owner[65];

	if (!la->admin) {
		net_owner(la->txn, p->network_id, owner);
		if (!network_allowed(la->req, "get_port", p->project_id, owner))
			return 0;
	}
	json_array_append_new(la->out, network_port_json(p, la->admin));
	return 0;
}

int
network_ports_list(struct http_req *req, struct http_resp *resp)
{
	struct list_arg la = { .req = req, .out = json_array() };
	const char *dev = http_req_query(req, "device_id");
	int rc;

	la.admin = network_is_admin(req);
	if (la.out == NULL || store_read_begin(network_of(req)->store,
	    &la.txn) == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	/* One device's ports (nova's and OSC's look-up) through the index;
	 * the list engine still applies every filter. */
	if (dev != NULL && *dev != '\0' && http_req_query_next(req,
	    "device_id", &(size_t){ 1 }) == NULL)
		rc = network_db_port_each_device(la.txn, dev, list_cb, &la);
	else
		rc = network_db_port_each(la.txn, list_cb, &la);
	store_txn_abort(&la.txn);
	if (rc == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	return network_list_reply(req, resp, "ports", la.out) == -1 ?
	    network_fail(resp) : 0;
}

int
network_ports_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_port p = { .id = "" };
	struct store_txn *txn;
	json_t *o = NULL;
	int rc;

	if (store_read_begin(network_of(req)->store, &txn) == -1)
		return network_fail(resp);
	rc = load_enforce(req, txn, http_req_param(req, "port_id"), "get_port",
	    &p);
	store_txn_abort(&txn);
	if (rc == 0)
		o = network_port_json(&p, network_is_admin(req));
	codec_clear(&schema_rec_port, &p);
	if (rc == -1 || network_show_reply(req, resp, "port", o, 0) == -1)
		return network_fail(resp);
	return 0;
}

/* ---- create -------------------------------------------------------------- */

static const char *const port_attrs[] = { "name", "description",
    "network_id", "mac_address", "admin_state_up", "device_id",
    "device_owner", "fixed_ips", "security_groups", "port_security_enabled",
    "binding:host_id", "binding:vnic_type", "binding:profile",
    "allowed_address_pairs", "tenant_id", "project_id", "tags", NULL };

#define MAX_IPS	64

struct port_req {
	struct rec_port		 rec;
	json_t			*o;		/* borrowed from the body */
	struct ipam_ip_req	 ips[MAX_IPS];
	size_t			 nips;
	bool			 ips_given;
	bool			 sg_given;
};

static int
parse_fixed_ips(json_t *a, struct port_req *pr)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > MAX_IPS)
		return jsonreq_fail(NET_STYLE, "fixed_ips",
		    "Invalid data format for fixed IP");
	for (i = 0; i < json_array_size(a); i++) {
		json_t *e = json_array_get(a, i);
		const char *sn = NULL, *ip = NULL;

		if (!json_is_object(e))
			return jsonreq_fail(NET_STYLE, "fixed_ips",
			    "Invalid data format for fixed IP");
		if (jsonreq_uuid(NET_STYLE, e, "subnet_id", 0, &sn,
		    NULL) == -1 || jsonreq_str(NET_STYLE, e, "ip_address", 1,
		    64, 0, &ip, NULL) == -1)
			return -1;
		if (sn == NULL && ip == NULL)
			return jsonreq_fail(NET_STYLE, "fixed_ips",
			    "Invalid data format for fixed IP");
		pr->ips[i].subnet_id = sn;
		pr->ips[i].ip_address = ip;
	}
	pr->nips = json_array_size(a);
	pr->ips_given = true;
	return 0;
}

static int
port_parse(struct http_req *req, json_t *o, struct port_req *pr)
{
	static const char *const vnics[] = { "normal", "direct", "macvtap",
	    "baremetal", "direct-physical", "virtio-forwarder", NULL };
	struct rec_port *p = &pr->rec;
	const char *net = NULL, *name = "", *desc = "", *mac = NULL,
	    *dev = "", *owner_dev = "", *host = NULL, *vnic = "normal",
	    *t = NULL, *pj = NULL, *owner;
	bool up = true, ps = true;
	json_t *a;

	pr->o = o;
	if (network_check_attrs(o, port_attrs) == -1 ||
	    jsonreq_uuid(NET_STYLE, o, "network_id", JSONREQ_REQUIRED, &net,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "name", 0, 255, 0, &name, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "description", 0, 255, 0, &desc,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "mac_address", 1, 32, 0, &mac,
	    NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "admin_state_up", 0, &up, NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "port_security_enabled", 0, &ps,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "device_id", 0, 255, 0, &dev,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "device_owner", 0, 255, 0, &owner_dev,
	    NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "binding:host_id", 0, 255, 0, &host,
	    NULL) == -1 ||
	    jsonreq_enum(NET_STYLE, o, "binding:vnic_type", vnics, NULL, 0,
	    &vnic, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "tenant_id", 1, 64, 0, &t, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "project_id", 1, 64, 0, &pj, NULL) == -1)
		return -1;
	owner = network_project(req);
	if (pj == NULL)
		pj = t;
	if (pj != NULL && strcmp(pj, owner) != 0) {
		if (!network_is_admin(req)) {
			err_set(TS_EINVALID, "Specifying 'project_id' or "
			    "'tenant_id' other than the authenticated project "
			    "in request requires admin privileges");
			return -1;
		}
		owner = pj;
	}
	if ((a = json_object_get(o, "fixed_ips")) != NULL &&
	    parse_fixed_ips(a, pr) == -1)
		return -1;
	db_uuid(p->id);
	snprintf(p->network_id, sizeof(p->network_id), "%s", net);
	if (network_set_str(&p->project_id, owner) == -1 ||
	    network_set_str(&p->name, name) == -1 ||
	    network_set_str(&p->description, desc) == -1 ||
	    network_set_str(&p->device_id, dev) == -1 ||
	    network_set_str(&p->device_owner, owner_dev) == -1 ||
	    network_set_str(&p->status, "DOWN") == -1 ||
	    network_set_str(&p->binding_vnic_type, vnic) == -1 ||
	    network_set_str(&p->binding_vif_type, host != NULL && *host ?
	    "bridge" : "unbound") == -1 ||
	    (host != NULL && network_set_str(&p->binding_host_id,
	    host) == -1) ||
	    (mac != NULL && network_set_str(&p->mac_address, mac) == -1))
		return -1;
	if ((a = json_object_get(o, "security_groups")) != NULL &&
	    !json_is_null(a)) {
		if (network_set_strs(a, "security_groups",
		    &p->security_groups.items, &p->security_groups.n) == -1)
			return -1;
		pr->sg_given = true;
	}
	if ((a = json_object_get(o, "tags")) != NULL &&
	    network_set_strs(a, "tags", &p->tags.items, &p->tags.n) == -1)
		return -1;
	p->admin_state_up = up;
	p->port_security_enabled = ps;
	p->revision_number = 1;
	p->created_at = p->updated_at = db_now_ms();
	return 0;
}

/* The attribute rules that read the port's network (inside the txn). */
static int
port_enforce_create(struct http_req *req, struct store_txn *txn,
    struct port_req *pr)
{
	struct rec_network n = { .id = "" };
	const char *owner = pr->rec.project_id;
	size_t i;
	int rc = -1;

	if (network_net_visible(req, txn, pr->rec.network_id, &n) == -1)
		return -1;
	if (network_enforce_attr(req, "create_port", owner, n.project_id) == -1)
		goto out;
	if (pr->rec.mac_address != NULL && network_enforce_attr(req,
	    "create_port:mac_address", owner, n.project_id) == -1)
		goto out;
	if (*pr->rec.device_owner != '\0' &&
	    strncmp(pr->rec.device_owner, "network:", 8) == 0 &&
	    network_enforce_attr(req, "create_port:device_owner", owner,
	    n.project_id) == -1)
		goto out;
	if (json_object_get(pr->o, "port_security_enabled") != NULL &&
	    network_enforce_attr(req, "create_port:port_security_enabled",
	    owner, n.project_id) == -1)
		goto out;
	if (json_object_get(pr->o, "binding:host_id") != NULL &&
	    network_enforce_attr(req, "create_port:binding:host_id", owner,
	    n.project_id) == -1)
		goto out;
	for (i = 0; i < pr->nips; i++)
		if (pr->ips[i].ip_address != NULL && network_enforce_attr(req,
		    "create_port:fixed_ips:ip_address", owner,
		    n.project_id) == -1)
			goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_network, &n);
	return rc;
}

/*
 * A new port's security groups: those given (the caller's, or any for an
 * admin), else with port security its project's default group, made if
 * need be; Neutron's own ports (device_owner "network:*": DHCP, router
 * interfaces) get none.
 */
static int
port_groups(struct http_req *req, struct store_txn *txn, struct port_req *pr)
{
	struct rec_port *p = &pr->rec;
	char def[37];
	json_t *one;
	int rc;

	if (pr->sg_given)
		return network_secgroups_check(req, txn, p->project_id,
		    p->security_groups.items, &p->security_groups.n) == -1 ||
		    network_port_groups_check(p, true) == -1 ? -1 : 0;
	if (!p->port_security_enabled ||
	    strncmp(p->device_owner, "network:", 8) == 0)
		return 0;
	if (network_secgroup_default(txn, p->project_id, def) == -1)
		return -1;
	if (*def == '\0')
		return 0;
	if ((one = json_pack("[s]", def)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	rc = network_set_strs(one, "security_groups",
	    &p->security_groups.items, &p->security_groups.n);
	json_decref(one);
	return rc;
}

struct create_arg {
	struct http_req		*req;
	struct network		*svc;
	struct port_req		*reqs;
	size_t			 n;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct create_arg *ca = arg;
	size_t i;

	for (i = 0; i < ca->n; i++) {
		struct port_req *pr = &ca->reqs[i];

		if (port_enforce_create(ca->req, txn, pr) == -1 ||
		    port_groups(ca->req, txn, pr) == -1 ||
		    network_quota_check(ca->svc, txn, pr->rec.project_id,
		    NET_RES_PORT, 1) == -1 ||
		    ipam_port_create(txn, ca->svc->ipam, &pr->rec, pr->ips,
		    pr->nips, pr->ips_given) == -1)
			return -1;
	}
	return 0;
}

int
network_ports_create(struct http_req *req, struct http_resp *resp)
{
	struct create_arg ca = { .req = req, .svc = network_of(req) };
	json_t *objs, *out = NULL;
	bool bulk, admin = network_is_admin(req);
	size_t i;
	int rc = -1;

	if (network_create_body(req, "port", "ports", &objs, &bulk) == -1)
		return network_fail(resp);
	ca.n = bulk ? json_array_size(objs) : 1;
	if ((ca.reqs = calloc(ca.n, sizeof(*ca.reqs))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return network_fail(resp);
	}
	for (i = 0; i < ca.n; i++)
		if (port_parse(req, bulk ? json_array_get(objs, i) : objs,
		    &ca.reqs[i]) == -1)
			goto done;
	if (network_write(ca.svc, create_fn, &ca) == -1)
		goto done;
	if ((out = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < ca.n; i++)
		json_array_append_new(out, network_port_json(&ca.reqs[i].rec,
		    admin));
	if (bulk)
		rc = http_resp_json(resp, 201, json_pack("{s:o}", "ports", out));
	else {
		rc = network_show_reply(req, resp, "port",
		    json_incref(json_array_get(out, 0)), 201);
		json_decref(out);
	}
done:
	for (i = 0; i < ca.n; i++)
		codec_clear(&schema_rec_port, &ca.reqs[i].rec);
	free(ca.reqs);
	return rc == -1 ? network_fail(resp) : 0;
}

/* ---- update / delete ----------------------------------------------------- */

static const char *const port_update_attrs[] = { "name", "description",
    "mac_address", "admin_state_up", "device_id", "device_owner",
    "fixed_ips", "security_groups", "port_security_enabled",
    "binding:host_id", "binding:vnic_type", "binding:profile",
    "allowed_address_pairs", "tags", NULL };

struct one_arg {
	struct http_req		*req;
	struct network		*svc;
	const char		*id;
	json_t			*o;
	struct rec_port		 p;
};

struct find_arg {
	struct ipam_addr	 ad;
	char			*id;
};

static int
find_cb(const struct rec_subnet *s, void *arg)
{
	struct find_arg *fa = arg;
	struct ipam_cidr c;

	if (ipam_cidr_parse(s->cidr, s->ip_version, &c) == 0 &&
	    ipam_cidr_contains(&c, &fa->ad)) {
		snprintf(fa->id, 37, "%s", s->id);
		return 1;
	}
	err_clear();
	return 0;
}

/* The subnet of network_id holding address ip (400 if none). */
static int
subnet_of_ip(struct store_txn *txn, const char *network_id, const char *ip,
    char id[37])
{
	struct find_arg fa = { .id = id };

	if (ipam_addr_parse(ip, &fa.ad) == -1)
		return -1;
	if (network_db_subnet_each_network(txn, network_id, find_cb,
	    &fa) == -1)
		return -1;
	if (*id == '\0') {
		err_set(TS_EINVALID, "IP address %s is not a valid IP for "
		    "the specified subnet.", ip);
		return -1;
	}
	return 0;
}

/* A new fixed_ips list: addresses kept stay, the others are released and
 * the new ones allocated, all in the update's transaction. */
static int
update_ips(struct one_arg *oa, struct store_txn *txn, json_t *a,
    const struct rec_port *old, const char *net_project)
{
	struct port_req pr;
	struct rec_port *p = &oa->p;
	struct sch_port_fixed_ip *ips;
	size_t i, k;

	memset(&pr, 0, sizeof(pr));
	if (parse_fixed_ips(a, &pr) == -1)
		return -1;
	for (i = 0; i < pr.nips; i++)
		if (pr.ips[i].ip_address != NULL && network_enforce_attr(
		    oa->req, "update_port:fixed_ips:ip_address",
		    old->project_id, net_project) == -1)
			return -1;
	for (i = 0; i < old->fixed_ips.n; i++)
		if (ipam_ip_release(txn, old->fixed_ips.items[i].subnet_id,
		    old->fixed_ips.items[i].ip_address, old->id) == -1)
			return -1;
	if (pr.nips > 0 && (ips = calloc(pr.nips, sizeof(*ips))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	} else if (pr.nips == 0)
		ips = NULL;
	for (k = 0; k < p->fixed_ips.n; k++)
		free(p->fixed_ips.items[k].ip_address);
	free(p->fixed_ips.items);
	p->fixed_ips.items = ips;
	p->fixed_ips.n = 0;
	for (i = 0; i < pr.nips; i++) {
		struct rec_subnet s = { .id = "" };
		char out[IPAM_ADDR_STRLEN];
		const char *sid = pr.ips[i].subnet_id;
		int rc;

		char found[37] = "";

		if (sid == NULL) {
			if (subnet_of_ip(txn, p->network_id,
			    pr.ips[i].ip_address, found) == -1)
				return -1;
			sid = found;
		}
		if (network_db_subnet_get(txn, sid, &s) == -1)
			return -1;
		if (strcmp(s.network_id, p->network_id) != 0) {
			codec_clear(&schema_rec_subnet, &s);
			err_set(TS_EINVALID, "Invalid input for operation: "
			    "Failed to create port on network %s, because "
			    "fixed_ips included invalid subnet %s.",
			    p->network_id, sid);
			return -1;
		}
		rc = ipam_ip_allocate(txn, &s, p->id, pr.ips[i].ip_address,
		    out);
		codec_clear(&schema_rec_subnet, &s);
		if (rc == -1)
			return -1;
		snprintf(ips[i].subnet_id, sizeof(ips[i].subnet_id), "%s", sid);
		p->fixed_ips.n++;
		if (network_set_str(&ips[i].ip_address, out) == -1)
			return -1;
	}
	return 0;
}

static int
update_fn(struct store_txn *txn, void *arg)
{
	struct one_arg *oa = arg;
	struct rec_port old = { .id = "" }, *p = &oa->p;
	const char *s, *mac = NULL;
	char owner[65];
	bool present;
	json_t *a;
	int rc = -1;

	codec_clear(&schema_rec_port, p);
	if (load_enforce(oa->req, txn, oa->id, "update_port", &old) == -1 ||
	    network_db_port_get(txn, oa->id, p) == -1)
		goto out;
	if (network_update_body(oa->o, port_update_attrs) == -1)
		goto out;
	net_owner(txn, old.network_id, owner);
	if (jsonreq_str(NET_STYLE, oa->o, "name", 0, 255, 0, &s,
	    &present) == -1 || (present && network_set_str(&p->name,
	    s) == -1) ||
	    jsonreq_str(NET_STYLE, oa->o, "description", 0, 255, 0, &s,
	    &present) == -1 || (present && network_set_str(&p->description,
	    s) == -1) ||
	    jsonreq_str(NET_STYLE, oa->o, "device_id", 0, 255, 0, &s,
	    &present) == -1 || (present && network_set_str(&p->device_id,
	    s) == -1) ||
	    jsonreq_str(NET_STYLE, oa->o, "device_owner", 0, 255, 0, &s,
	    &present) == -1 || (present && network_set_str(&p->device_owner,
	    s) == -1) ||
	    jsonreq_bool(NET_STYLE, oa->o, "admin_state_up", 0,
	    &p->admin_state_up, NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, oa->o, "port_security_enabled", 0,
	    &p->port_security_enabled, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, oa->o, "mac_address", 1, 32, 0, &mac,
	    NULL) == -1)
		goto out;
	if (jsonreq_str(NET_STYLE, oa->o, "binding:host_id", 0, 255, 0, &s,
	    &present) == -1)
		goto out;
	if (present) {
		if (network_enforce_attr(oa->req, "update_port:binding:host_id",
		    old.project_id, owner) == -1 ||
		    network_set_str(&p->binding_host_id, s) == -1 ||
		    network_set_str(&p->binding_vif_type, *s ? "bridge" :
		    "unbound") == -1)
			goto out;
	}
	if (mac != NULL && (old.mac_address == NULL ||
	    strcasecmp(mac, old.mac_address) != 0)) {
		char out[18];

		if (network_enforce_attr(oa->req, "update_port:mac_address",
		    old.project_id, owner) == -1 ||
		    ipam_mac_allocate(txn, network_of(oa->req)->ipam,
		    p->network_id, p->id, mac, out) == -1 ||
		    ipam_mac_release(txn, old.mac_address, old.id) == -1 ||
		    network_set_str(&p->mac_address, out) == -1)
			goto out;
	}
	if ((a = json_object_get(oa->o, "security_groups")) != NULL) {
		if (json_is_null(a))
			a = json_array();	/* Neutron: null is none */
		else
			json_incref(a);
		rc = network_set_strs(a, "security_groups",
		    &p->security_groups.items, &p->security_groups.n);
		json_decref(a);
		if (rc == -1 || network_secgroups_check(oa->req, txn,
		    p->project_id, p->security_groups.items,
		    &p->security_groups.n) == -1) {
			rc = -1;
			goto out;
		}
		rc = -1;
	}
	if (network_port_groups_check(p, a != NULL &&
	    p->security_groups.n > 0) == -1)
		goto out;
	if ((a = json_object_get(oa->o, "tags")) != NULL &&
	    network_set_strs(a, "tags", &p->tags.items, &p->tags.n) == -1)
		goto out;
	if ((a = json_object_get(oa->o, "fixed_ips")) != NULL &&
	    update_ips(oa, txn, a, &old, owner) == -1)
		goto out;
	p->revision_number = old.revision_number + 1;
	p->updated_at = db_now_ms();
	rc = network_db_port_put(txn, p, &old);
out:
	codec_clear(&schema_rec_port, &old);
	return rc;
}

int
network_ports_update(struct http_req *req, struct http_resp *resp)
{
	struct one_arg oa = { .req = req, .p = { .id = "" } };
	json_t *body = http_req_json(req);
	int rc = -1;

	oa.id = http_req_param(req, "port_id");
	/* The body is checked once the object is loaded and the rule
	 * enforced: another project's object is a 404 whatever the body. */
	if (body == NULL || !json_is_object(oa.o = json_object_get(body,
	    "port")))
		oa.o = NULL;
	if (network_write(network_of(req), update_fn, &oa) == 0)
		rc = network_show_reply(req, resp, "port",
		    network_port_json(&oa.p, network_is_admin(req)), 0);
	codec_clear(&schema_rec_port, &oa.p);
	return rc == -1 ? network_fail(resp) : 0;
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct one_arg *oa = arg;
	struct rec_port p = { .id = "" };
	int rc = -1;

	if (load_enforce(oa->req, txn, oa->id, "delete_port", &p) == 0) {
		/* Routers and floating IPs own theirs (Neutron's
		 * prevent_l3_port_deletion). */
		if (strcmp(p.device_owner, "network:router_interface") == 0 ||
		    strcmp(p.device_owner, "network:router_gateway") == 0 ||
		    strcmp(p.device_owner, "network:floatingip") == 0)
			err_set(TS_ECONFLICT, "Port %s has owner %s and "
			    "therefore cannot be deleted directly via the "
			    "port API.", p.id, p.device_owner);
		else if (network_floatingip_port_gone(txn, p.id) == 0)
			rc = ipam_port_delete(txn, &p);
	}
	codec_clear(&schema_rec_port, &p);
	return rc;
}

int
network_ports_delete(struct http_req *req, struct http_resp *resp)
{
	struct one_arg oa = { .req = req };

	oa.id = http_req_param(req, "port_id");
	if (network_write(network_of(req), delete_fn, &oa) == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}

/* ---- device ports (network.h) -------------------------------------------- */

/* A device port starts in its project's default group, as Nova's ports
 * do in Neutron. */
static int
device_port_groups(struct store_txn *txn, struct rec_port *p)
{
	struct port_req pr;
	int rc;

	memset(&pr, 0, sizeof(pr));
	pr.rec = *p;
	rc = port_groups(NULL, txn, &pr);
	*p = pr.rec;
	return rc;
}

int
network_port_create(struct network *svc, struct store_txn *txn,
    const char *project_id, const char *network_id, bool admin,
    const char *device_id, const char *device_owner, const char *ip,
    const char *host, char port_id[37])
{
	bool bound = host != NULL && *host != '\0';
	struct rec_network n = { .id = "" };
	struct rec_port p = { .id = "" };
	struct ipam_ip_req r = { .ip_address = ip };
	bool ok;
	int rc = -1;

	if (network_db_network_get(txn, network_id, &n) == -1)
		return -1;
	ok = admin || n.shared || n.router_external ||
	    strcmp(n.project_id, project_id) == 0;
	codec_clear(&schema_rec_network, &n);
	if (!ok) {
		err_set(TS_ENOT_FOUND, "Network %s could not be found.",
		    network_id);
		return -1;
	}
	db_uuid(p.id);
	snprintf(p.network_id, sizeof(p.network_id), "%s", network_id);
	p.admin_state_up = p.port_security_enabled = true;
	p.revision_number = 1;
	p.created_at = p.updated_at = db_now_ms();
	if (network_set_str(&p.project_id, project_id) == 0 &&
	    network_set_str(&p.name, "") == 0 &&
	    network_set_str(&p.description, "") == 0 &&
	    network_set_str(&p.device_id, device_id) == 0 &&
	    network_set_str(&p.device_owner, device_owner) == 0 &&
	    network_set_str(&p.status, bound ? "ACTIVE" : "DOWN") == 0 &&
	    network_set_str(&p.binding_vnic_type, "normal") == 0 &&
	    network_set_str(&p.binding_vif_type, bound ? "bridge" :
	    "unbound") == 0 &&
	    (!bound || network_set_str(&p.binding_host_id, host) == 0) &&
	    device_port_groups(txn, &p) == 0 &&
	    network_quota_check(svc, txn, project_id, NET_RES_PORT, 1) == 0 &&
	    ipam_port_create(txn, svc->ipam, &p, &r, ip != NULL ? 1 : 0,
	    ip != NULL) == 0) {
		snprintf(port_id, 37, "%s", p.id);
		rc = 0;
	}
	codec_clear(&schema_rec_port, &p);
	return rc;
}

int
network_port_bind(struct network *svc, struct store_txn *txn,
    const char *project_id, const char *port_id, const char *device_id,
    const char *host)
{
	struct rec_port old = { .id = "" }, p = { .id = "" };
	bool bound;
	int rc = -1;

	(void)svc;
	if (network_db_port_get(txn, port_id, &old) == -1 ||
	    network_db_port_get(txn, port_id, &p) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Port id %s could not be found.",
			    port_id);
		goto out;
	}
	/* Another project's port is not there for this one (Nova asks
	 * Neutron with the user's token and gets the same). */
	if (strcmp(p.project_id, project_id) != 0) {
		err_set(TS_ENOT_FOUND, "Port id %s could not be found.",
		    port_id);
		goto out;
	}
	if (*p.device_id != '\0') {
		err_set(TS_ECONFLICT, "Port %s is still in use.", port_id);
		goto out;
	}
	bound = host != NULL && *host != '\0';
	if (network_set_str(&p.device_id, device_id) == -1 ||
	    network_set_str(&p.binding_host_id, bound ? host : "") == -1 ||
	    network_set_str(&p.binding_vif_type, bound ? "bridge" :
	    "unbound") == -1 ||
	    network_set_str(&p.status, bound ? "ACTIVE" : "DOWN") == -1)
		goto out;
	p.revision_number++;
	p.updated_at = db_now_ms();
	rc = network_db_port_put(txn, &p, &old);
out:
	codec_clear(&schema_rec_port, &old);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

struct device_arg {
	struct store_txn	*txn;
	int	(*cb)(const struct network_device_port *, void *);
	void	*arg;
};

/* The floating IPs of a port: fixed address -> floating address. */
struct fip_pairs {
	char	fixed[64][IPAM_ADDR_STRLEN], floating[64][IPAM_ADDR_STRLEN];
	size_t	n;
};

static int
fip_pair_cb(const struct rec_floatingip *f, void *arg)
{
	struct fip_pairs *fp = arg;

	if (f->fixed_ip_address == NULL || fp->n == 64)
		return 0;
	snprintf(fp->fixed[fp->n], IPAM_ADDR_STRLEN, "%s",
	    f->fixed_ip_address);
	snprintf(fp->floating[fp->n++], IPAM_ADDR_STRLEN, "%s",
	    f->floating_ip_address);
	return 0;
}

static int
device_cb(const struct rec_port *p, void *arg)
{
	struct device_arg *da = arg;
	struct rec_network n = { .id = "" };
	struct rec_security_group *sgs = NULL;
	struct fip_pairs *fp = NULL;
	const char *ips[64], *subnets[64], *fips[64], *sgnames[64];
	struct network_device_port dp = { .port_id = p->id,
	    .network_id = p->network_id, .mac = p->mac_address, .ips = ips,
	    .subnet_ids = subnets, .floating_ips = fips, .status = p->status,
	    .secgroup_names = sgnames };
	size_t nsg = 0;
	int rc = -1;

	if (network_db_network_get(da->txn, p->network_id, &n) == -1) {
		codec_clear(&schema_rec_network, &n);
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	}
	dp.network_name = n.name;
	dp.mtu = n.mtu;
	if ((fp = calloc(1, sizeof(*fp))) == NULL || (p->security_groups.n >
	    0 && (sgs = calloc(p->security_groups.n, sizeof(*sgs))) == NULL)) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	if (network_db_floatingip_each_port(da->txn, p->id, fip_pair_cb,
	    fp) == -1)
		goto out;
	for (size_t k = 0; k < p->fixed_ips.n && k < 64; k++) {
		subnets[dp.nips] = p->fixed_ips.items[k].subnet_id;
		fips[dp.nips] = NULL;
		for (size_t j = 0; j < fp->n; j++)
			if (strcmp(fp->fixed[j],
			    p->fixed_ips.items[k].ip_address) == 0)
				fips[dp.nips] = fp->floating[j];
		ips[dp.nips++] = p->fixed_ips.items[k].ip_address;
	}
	/* A group deleted under the port (not possible through the API,
	 * which refuses to delete a group in use) is left out. */
	for (size_t k = 0; k < p->security_groups.n && k < 64; k++) {
		if (network_db_secgroup_get(da->txn,
		    p->security_groups.items[k], &sgs[nsg]) == -1) {
			codec_clear(&schema_rec_security_group, &sgs[nsg]);
			if (err_code() != TS_ENOT_FOUND)
				goto out;
			continue;
		}
		/* Nova shows a group without a name by its id. */
		sgnames[nsg] = *sgs[nsg].name != '\0' ? sgs[nsg].name :
		    sgs[nsg].id;
		nsg++;
	}
	dp.nsecgroups = nsg;
	rc = da->cb(&dp, da->arg);
out:
	for (size_t k = 0; k < nsg; k++)
		codec_clear(&schema_rec_security_group, &sgs[k]);
	free(sgs);
	free(fp);
	codec_clear(&schema_rec_network, &n);
	return rc;
}

int
network_port_each_device(struct store_txn *txn, const char *device_id,
    int (*cb)(const struct network_device_port *, void *), void *arg)
{
	struct device_arg da = { txn, cb, arg };

	return network_db_port_each_device(txn, device_id, device_cb, &da);
}

struct auto_arg {
	const char	*project_id;
	char		*id;
	size_t		 n;
};

static int
auto_cb(const struct rec_network *n, void *arg)
{
	struct auto_arg *aa = arg;

	if (n->router_external || !(n->shared ||
	    strcmp(n->project_id, aa->project_id) == 0))
		return 0;
	if (aa->n++ == 0)
		snprintf(aa->id, 37, "%s", n->id);
	return aa->n > 1 ? 1 : 0;
}

int
network_auto_pick(struct store_txn *txn, const char *project_id,
    char network_id[37])
{
	struct auto_arg aa = { project_id, network_id, 0 };

	network_id[0] = '\0';
	/* A walk of every network: shared ones have no index of their own;
	 * it stops at the second candidate. */
	if (network_db_network_each(txn, auto_cb, &aa) == -1)
		return -1;
	if (aa.n > 1) {
		network_id[0] = '\0';
		err_set(TS_ECONFLICT, "Multiple possible networks found, use a "
		    "Network ID to be more specific.");
		return -1;
	}
	return 0;
}

/* Ids first: the records change under the index walk otherwise. */
struct release_arg {
	char	ids[64][37];
	size_t	n;
};

static int
release_cb(const struct rec_port *p, void *arg)
{
	struct release_arg *ra = arg;

	if (ra->n == sizeof(ra->ids) / sizeof(ra->ids[0]))
		return 1;
	snprintf(ra->ids[ra->n++], 37, "%s", p->id);
	return 0;
}

/* Deletes port_id if compute created it, else unbinds it, and the
 * floating IPs auto-assigned to it either way (they were the server's, not
 * the port's: nova-network released them with the instance); device_id
 * (not NULL): it must be that device's port, else TS_ENOT_FOUND. */
static int
release_one(struct store_txn *txn, const char *device_id,
    const char *port_id)
{
	struct rec_port old = { .id = "" }, p = { .id = "" };
	int rc;

	if (network_db_port_get(txn, port_id, &old) == -1 ||
	    network_db_port_get(txn, port_id, &p) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Port id %s could not be found.",
			    port_id);
		codec_clear(&schema_rec_port, &old);
		return -1;
	}
	if (device_id != NULL && strcmp(old.device_id, device_id) != 0) {
		err_set(TS_ENOT_FOUND, "Port %s is not attached to %s.",
		    port_id, device_id);
		rc = -1;
	} else if (network_floatingip_release_auto(txn, old.id) == -1)
		rc = -1;
	else if (strncmp(old.device_owner, "compute:", 8) == 0)
		rc = network_floatingip_port_gone(txn, old.id) == -1 ? -1 :
		    ipam_port_delete(txn, &old);
	else {
		rc = network_set_str(&p.device_id, "") == -1 ||
		    network_set_str(&p.device_owner, "") == -1 ||
		    network_set_str(&p.binding_host_id, "") == -1 ||
		    network_set_str(&p.binding_vif_type, "unbound") == -1 ||
		    network_set_str(&p.status, "DOWN") == -1 ? -1 : 0;
		if (rc == 0) {
			p.revision_number++;
			p.updated_at = db_now_ms();
			rc = network_db_port_put(txn, &p, &old);
		}
	}
	codec_clear(&schema_rec_port, &old);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

int
network_port_release_device(struct network *svc, struct store_txn *txn,
    const char *device_id)
{
	struct release_arg ra = { .n = 0 };
	size_t i;

	(void)svc;
	if (network_db_port_each_device(txn, device_id, release_cb, &ra) == -1)
		return -1;
	for (i = 0; i < ra.n; i++)
		if (release_one(txn, NULL, ra.ids[i]) == -1)
			return -1;
	return 0;
}

/* Rewrites every port of device_id in txn: edit changes a copy of each
 * (returns 0, or -1 with the error set), which replaces the stored one
 * with its indexes kept. */
static int
update_device_ports(struct store_txn *txn, const char *device_id,
    int (*edit)(struct rec_port *, const char *), const char *host)
{
	struct release_arg ra = { .n = 0 };

	if (network_db_port_each_device(txn, device_id, release_cb, &ra) == -1)
		return -1;
	for (size_t i = 0; i < ra.n; i++) {
		struct rec_port old = { .id = "" }, p = { .id = "" };
		int rc = -1;

		if (network_db_port_get(txn, ra.ids[i], &old) == 0 &&
		    network_db_port_get(txn, ra.ids[i], &p) == 0 &&
		    edit(&p, host) == 0)
			rc = network_db_port_put(txn, &p, &old);
		codec_clear(&schema_rec_port, &old);
		codec_clear(&schema_rec_port, &p);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
bind_moved(struct rec_port *p, const char *host)
{
	/* No host: the device keeps its ports, unbound (a shelved server
	 * offloaded, as Nova's unbind of its ports' binding:host_id). */
	int bound = host != NULL && *host != '\0';

	free(p->binding_host_id);
	p->binding_host_id = NULL;
	if ((bound && network_set_str(&p->binding_host_id, host) == -1) ||
	    network_set_str(&p->binding_vif_type, bound ? "bridge" :
	    "unbound") == -1 ||
	    network_set_str(&p->status, bound ? "ACTIVE" : "DOWN") == -1)
		return -1;
	free(p->migrating_to);
	p->migrating_to = NULL;
	p->revision_number++;
	p->updated_at = db_now_ms();
	return 0;
}

static int
mark_migrating(struct rec_port *p, const char *host)
{
	free(p->migrating_to);
	p->migrating_to = NULL;
	if (host != NULL && (p->migrating_to = strdup(host)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int
network_port_move_device(struct network *svc, struct store_txn *txn,
    const char *device_id, const char *host)
{
	(void)svc;
	return update_device_ports(txn, device_id, bind_moved, host);
}

int
network_port_migrating(struct network *svc, struct store_txn *txn,
    const char *device_id, const char *host)
{
	(void)svc;
	return update_device_ports(txn, device_id, mark_migrating, host);
}

int
network_port_release(struct network *svc, struct store_txn *txn,
    const char *device_id, const char *port_id)
{
	(void)svc;
	return release_one(txn, device_id, port_id);
}

/* ---- multinic: one more address, or one less ----------------------------- */

struct subnet_ids {
	char	ids[64][37];
	size_t	n;
};

static int
subnet_id_cb(const struct rec_subnet *sn, void *arg)
{
	struct subnet_ids *si = arg;

	if (si->n == sizeof(si->ids) / sizeof(si->ids[0]))
		return 1;
	snprintf(si->ids[si->n++], 37, "%s", sn->id);
	return 0;
}

/* Appends (subnet_id, ip) to p's fixed IPs. */
static int
ips_append(struct rec_port *p, const char *subnet_id, const char *ip)
{
	struct sch_port_fixed_ip *v;

	v = realloc(p->fixed_ips.items, (p->fixed_ips.n + 1) * sizeof(*v));
	if (v == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	p->fixed_ips.items = v;
	memset(&v[p->fixed_ips.n], 0, sizeof(v[0]));
	snprintf(v[p->fixed_ips.n].subnet_id, sizeof(v[0].subnet_id), "%s",
	    subnet_id);
	if ((v[p->fixed_ips.n].ip_address = strdup(ip)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	p->fixed_ips.n++;
	return 0;
}

int
network_port_ip_add(struct network *svc, struct store_txn *txn,
    const char *device_id, const char *network_id)
{
	struct release_arg ra = { .n = 0 };
	struct subnet_ids si = { .n = 0 };
	size_t i, k;

	(void)svc;
	if (network_db_port_each_device(txn, device_id, release_cb, &ra) == -1 ||
	    network_db_subnet_each_network(txn, network_id, subnet_id_cb,
	    &si) == -1)
		return -1;
	for (i = 0; i < ra.n; i++) {
		struct rec_port old = { .id = "" }, p = { .id = "" };
		int rc = 1;

		if (network_db_port_get(txn, ra.ids[i], &old) == -1 ||
		    network_db_port_get(txn, ra.ids[i], &p) == -1) {
			codec_clear(&schema_rec_port, &old);
			return -1;
		}
		if (strcmp(old.network_id, network_id) != 0)
			goto next;
		/* The first subnet with a free address, as Nova tries each. */
		for (k = 0; k < si.n && rc == 1; k++) {
			struct rec_subnet sn = { .id = "" };
			char out[IPAM_ADDR_STRLEN];

			if (network_db_subnet_get(txn, si.ids[k], &sn) == -1) {
				rc = -1;
				break;
			}
			if (ipam_ip_allocate(txn, &sn, p.id, NULL, out) == 0)
				rc = ips_append(&p, sn.id, out);
			else if (err_code() != TS_ECONFLICT)
				rc = -1;
			codec_clear(&schema_rec_subnet, &sn);
		}
		if (rc == 0) {
			p.revision_number++;
			p.updated_at = db_now_ms();
			rc = network_db_port_put(txn, &p, &old);
		} else if (rc == 1 && si.n > 0) {
			rc = -1;	/* every pool is full: ipam's 409 */
		}
next:
		codec_clear(&schema_rec_port, &old);
		codec_clear(&schema_rec_port, &p);
		if (rc != 1)
			return rc;
	}
	err_set(TS_EINVALID, "Network could not be found for instance %s.",
	    device_id);
	return -1;
}

int
network_port_ip_remove(struct network *svc, struct store_txn *txn,
    const char *device_id, const char *ip)
{
	struct release_arg ra = { .n = 0 };
	struct ipam_addr want;
	size_t i, k;

	(void)svc;
	if (ipam_addr_parse(ip, &want) == -1) {
		err_set(TS_EINVALID, "Instance %s doesn't have fixed IP '%s'.",
		    device_id, ip);
		return -1;
	}
	if (network_db_port_each_device(txn, device_id, release_cb, &ra) == -1)
		return -1;
	for (i = 0; i < ra.n; i++) {
		struct rec_port old = { .id = "" }, p = { .id = "" };
		int rc = 1;

		if (network_db_port_get(txn, ra.ids[i], &old) == -1 ||
		    network_db_port_get(txn, ra.ids[i], &p) == -1) {
			codec_clear(&schema_rec_port, &old);
			return -1;
		}
		for (k = 0; k < p.fixed_ips.n; k++) {
			struct ipam_addr a;

			if (ipam_addr_parse(p.fixed_ips.items[k].ip_address,
			    &a) == -1 || a.version != want.version ||
			    a.v != want.v) {
				err_clear();
				continue;
			}
			rc = ipam_ip_release(txn, p.fixed_ips.items[k].subnet_id,
			    p.fixed_ips.items[k].ip_address, p.id);
			free(p.fixed_ips.items[k].ip_address);
			memmove(&p.fixed_ips.items[k], &p.fixed_ips.items[k + 1],
			    (p.fixed_ips.n - k - 1) * sizeof(p.fixed_ips.items[0]));
			p.fixed_ips.n--;
			if (rc == 0) {
				p.revision_number++;
				p.updated_at = db_now_ms();
				rc = network_db_port_put(txn, &p, &old);
			}
			break;
		}
		codec_clear(&schema_rec_port, &old);
		codec_clear(&schema_rec_port, &p);
		if (rc != 1)
			return rc;
	}
	err_set(TS_EINVALID, "Instance %s doesn't have fixed IP '%s'.",
	    device_id, ip);
	return -1;
}
