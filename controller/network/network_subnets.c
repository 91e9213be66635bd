/* network_subnets: the subnets collection of the Networking API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "network_int.h"

json_t *
network_subnet_json(const struct rec_subnet *s)
{
	json_t *pools = json_array(), *routes = json_array();
	size_t i;

	for (i = 0; pools != NULL && i < s->allocation_pools.n; i++)
		json_array_append_new(pools, json_pack("{s:s, s:s}", "start",
		    s->allocation_pools.items[i].start, "end",
		    s->allocation_pools.items[i].end));
	for (i = 0; routes != NULL && i < s->host_routes.n; i++)
		json_array_append_new(routes, json_pack("{s:s, s:s}",
		    "destination", s->host_routes.items[i].destination,
		    "nexthop", s->host_routes.items[i].nexthop));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s*, "
	    "s:b, s:o*, s:o, s:o*, s:s*, s:s*, s:n, s:[], s:o, s:I, s:o, s:o}",
	    "id", s->id, "name", s->name, "network_id", s->network_id,
	    "tenant_id", s->project_id, "project_id", s->project_id,
	    "description", s->description, "cidr", s->cidr,
	    "ip_version", (int)s->ip_version, "gateway_ip", s->gateway_ip,
	    "enable_dhcp", s->enable_dhcp, "allocation_pools", pools,
	    "dns_nameservers", network_strs(s->dns_nameservers.items,
	    s->dns_nameservers.n), "host_routes", routes,
	    "ipv6_ra_mode", s->ipv6_ra_mode,
	    "ipv6_address_mode", s->ipv6_address_mode,
	    "subnetpool_id", "service_types",
	    "tags", network_strs(s->tags.items, s->tags.n),
	    "revision_number", (json_int_t)s->revision_number,
	    "created_at", network_time(s->created_at),
	    "updated_at", network_time(s->updated_at));
}

/*
 * Whether the caller may read subnet s: its project's, on a shared
 * network, or admin. An external network that is not shared shows its
 * subnets to no other project (Neutron's get_subnet: admin_or_owner or
 * shared). The network is looked up only when needed.
 */
static bool
subnet_readable(struct http_req *req, struct store_txn *txn,
    const struct rec_subnet *s, bool admin)
{
	struct rec_network n = { .id = "" };
	bool ok;

	if (admin || network_allowed(req, "get_subnet", s->project_id, NULL))
		return true;
	if (network_db_network_get(txn, s->network_id, &n) == -1) {
		err_clear();
		return false;
	}
	ok = n.shared;
	codec_clear(&schema_rec_network, &n);
	return ok;
}

/* The subnet id, readable by the caller (else 404). */
static int
subnet_visible(struct http_req *req, struct store_txn *txn, const char *id,
    struct rec_subnet *s)
{
	if (network_db_subnet_get(txn, id, s) == -1)
		return -1;
	if (!subnet_readable(req, txn, s, network_is_admin(req))) {
		err_set(TS_ENOT_FOUND, "Subnet %s could not be found.", id);
		return -1;
	}
	return 0;
}

/* The project of a subnet's network ("" if it is gone). */
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

/* ---- list / show --------------------------------------------------------- */

struct list_arg {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*out;
	bool			 admin;
};

static int
list_cb(const struct rec_subnet *s, void *arg)
{
	struct list_arg *la = arg;

	if (subnet_readable(la->req, la->txn, s, la->admin))
		json_array_append_new(la->out, network_subnet_json(s));
	return 0;
}

int
network_subnets_list(struct http_req *req, struct http_resp *resp)
{
	struct list_arg la = { .req = req, .out = json_array() };
	int rc;

	la.admin = network_is_admin(req);
	if (la.out == NULL || store_read_begin(network_of(req)->store,
	    &la.txn) == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	rc = network_db_subnet_each(la.txn, list_cb, &la);
	store_txn_abort(&la.txn);
	if (rc == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	return network_list_reply(req, resp, "subnets", la.out) == -1 ?
	    network_fail(resp) : 0;
}

int
network_subnets_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_subnet s = { .id = "" };
	struct store_txn *txn;
	json_t *o = NULL;
	int rc;

	if (store_read_begin(network_of(req)->store, &txn) == -1)
		return network_fail(resp);
	rc = subnet_visible(req, txn, http_req_param(req, "subnet_id"), &s);
	if (rc == 0)
		o = network_subnet_json(&s);
	store_txn_abort(&txn);
	codec_clear(&schema_rec_subnet, &s);
	if (rc == -1 || network_show_reply(req, resp, "subnet", o, 0) == -1)
		return network_fail(resp);
	return 0;
}

/* ---- the request's subnet attributes ------------------------------------ */

static int
parse_pools(json_t *a, struct rec_subnet *s)
{
	size_t i, n;

	if (!json_is_array(a))
		return jsonreq_fail(NET_STYLE, "allocation_pools",
		    "Invalid data format for IP pool");
	n = json_array_size(a);
	if (n > 256)
		return jsonreq_fail(NET_STYLE, "allocation_pools",
		    "Too many pools");
	if (n > 0 && (s->allocation_pools.items = calloc(n,
	    sizeof(*s->allocation_pools.items))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		json_t *p = json_array_get(a, i);
		const char *st = NULL, *en = NULL;

		if (!json_is_object(p) || jsonreq_str(NET_STYLE, p, "start",
		    1, 64, JSONREQ_REQUIRED, &st, NULL) == -1 ||
		    jsonreq_str(NET_STYLE, p, "end", 1, 64, JSONREQ_REQUIRED,
		    &en, NULL) == -1) {
			if (err_code() == TS_EOK || !json_is_object(p))
				jsonreq_fail(NET_STYLE, "allocation_pools",
				    "Invalid data format for IP pool");
			return -1;
		}
		s->allocation_pools.n++;
		if (network_set_str(&s->allocation_pools.items[i].start,
		    st) == -1 || network_set_str(
		    &s->allocation_pools.items[i].end, en) == -1)
			return -1;
	}
	return 0;
}

static int
parse_routes(json_t *a, struct rec_subnet *s)
{
	size_t i, n;

	if (!json_is_array(a))
		return jsonreq_fail(NET_STYLE, "host_routes",
		    "Invalid data format for hostroute");
	n = json_array_size(a);
	if (n > 256)
		return jsonreq_fail(NET_STYLE, "host_routes", "Too many routes");
	for (i = 0; i < s->host_routes.n; i++) {
		free(s->host_routes.items[i].destination);
		free(s->host_routes.items[i].nexthop);
	}
	free(s->host_routes.items);
	s->host_routes.items = NULL;
	s->host_routes.n = 0;
	if (n > 0 && (s->host_routes.items = calloc(n,
	    sizeof(*s->host_routes.items))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(a, i);
		const char *d = NULL, *h = NULL;

		if (!json_is_object(r) || jsonreq_str(NET_STYLE, r,
		    "destination", 1, 64, JSONREQ_REQUIRED, &d, NULL) == -1 ||
		    jsonreq_str(NET_STYLE, r, "nexthop", 1, 64,
		    JSONREQ_REQUIRED, &h, NULL) == -1) {
			if (!json_is_object(r))
				jsonreq_fail(NET_STYLE, "host_routes",
				    "Invalid data format for hostroute");
			return -1;
		}
		s->host_routes.n++;
		if (network_set_str(&s->host_routes.items[i].destination,
		    d) == -1 || network_set_str(&s->host_routes.items[i].nexthop,
		    h) == -1)
			return -1;
	}
	return 0;
}

/* The attributes a create and an update share, into s. */
static int
parse_common(json_t *o, struct rec_subnet *s, enum ipam_gateway *gw,
    bool *pools_given)
{
	const char *v;
	bool present;
	json_t *a;

	if (jsonreq_str(NET_STYLE, o, "name", 0, 255, 0, &v, &present) == -1 ||
	    (present && network_set_str(&s->name, v) == -1) ||
	    jsonreq_str(NET_STYLE, o, "description", 0, 255, 0, &v,
	    &present) == -1 ||
	    (present && network_set_str(&s->description, v) == -1) ||
	    jsonreq_bool(NET_STYLE, o, "enable_dhcp", 0, &s->enable_dhcp,
	    NULL) == -1)
		return -1;
	if ((a = json_object_get(o, "gateway_ip")) != NULL) {
		if (json_is_null(a))
			*gw = IPAM_GW_NONE;
		else if (jsonreq_str(NET_STYLE, o, "gateway_ip", 1, 64, 0, &v,
		    NULL) == -1 || network_set_str(&s->gateway_ip, v) == -1)
			return -1;
		else
			*gw = IPAM_GW_GIVEN;
	}
	if ((a = json_object_get(o, "allocation_pools")) != NULL) {
		size_t i;

		for (i = 0; i < s->allocation_pools.n; i++) {
			free(s->allocation_pools.items[i].start);
			free(s->allocation_pools.items[i].end);
		}
		free(s->allocation_pools.items);
		s->allocation_pools.items = NULL;
		s->allocation_pools.n = 0;
		if (parse_pools(a, s) == -1)
			return -1;
		*pools_given = true;
	}
	if ((a = json_object_get(o, "dns_nameservers")) != NULL &&
	    network_set_strs(a, "dns_nameservers", &s->dns_nameservers.items,
	    &s->dns_nameservers.n) == -1)
		return -1;
	if ((a = json_object_get(o, "host_routes")) != NULL &&
	    parse_routes(a, s) == -1)
		return -1;
	if ((a = json_object_get(o, "tags")) != NULL &&
	    network_set_strs(a, "tags", &s->tags.items, &s->tags.n) == -1)
		return -1;
	return 0;
}

/* ---- create -------------------------------------------------------------- */

static const char *const subnet_attrs[] = { "name", "description",
    "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp",
    "allocation_pools", "dns_nameservers", "host_routes", "ipv6_ra_mode",
    "ipv6_address_mode", "tenant_id", "project_id", "tags",
    "subnetpool_id", "prefixlen", "use_default_subnetpool",
    "service_types", "segment_id", NULL };

struct subnet_req {
	struct rec_subnet	 rec;
};

static int
subnet_parse(struct http_req *req, json_t *o, struct rec_subnet *s)
{
	static const char *const modes[] = { "slaac", "dhcpv6-stateful",
	    "dhcpv6-stateless", NULL };
	const char *net = NULL, *cidr = NULL, *t = NULL, *p = NULL, *ra = NULL,
	    *am = NULL, *owner;
	int64_t ver = 0;
	enum ipam_gateway gw = IPAM_GW_DEFAULT;
	bool pools = false;

	s->enable_dhcp = true;
	if (network_check_attrs(o, subnet_attrs) == -1 ||
	    jsonreq_uuid(NET_STYLE, o, "network_id", JSONREQ_REQUIRED, &net,
	    NULL) == -1 ||
	    jsonreq_int(NET_STYLE, o, "ip_version", 4, 6, JSONREQ_REQUIRED,
	    &ver, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "cidr", 1, 64, JSONREQ_REQUIRED, &cidr,
	    NULL) == -1 ||
	    jsonreq_enum(NET_STYLE, o, "ipv6_ra_mode", modes, NULL,
	    JSONREQ_NULLABLE, &ra, NULL) == -1 ||
	    jsonreq_enum(NET_STYLE, o, "ipv6_address_mode", modes, NULL,
	    JSONREQ_NULLABLE, &am, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "tenant_id", 1, 64, 0, &t, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "project_id", 1, 64, 0, &p, NULL) == -1)
		return -1;
	if (ver == 5) {
		err_set(TS_EINVALID, "Invalid input for ip_version. Reason: "
		    "5 is not in [4, 6].");
		return -1;
	}
	owner = network_project(req);
	if (p == NULL)
		p = t;
	if (p != NULL && strcmp(p, owner) != 0) {
		if (!network_is_admin(req)) {
			err_set(TS_EINVALID, "Specifying 'project_id' or "
			    "'tenant_id' other than the authenticated project "
			    "in request requires admin privileges");
			return -1;
		}
		owner = p;
	}
	db_uuid(s->id);
	snprintf(s->network_id, sizeof(s->network_id), "%s", net);
	s->ip_version = (uint32_t)ver;
	if (network_set_str(&s->project_id, owner) == -1 ||
	    network_set_str(&s->name, "") == -1 ||
	    network_set_str(&s->description, "") == -1 ||
	    network_set_str(&s->cidr, cidr) == -1 ||
	    (ra != NULL && network_set_str(&s->ipv6_ra_mode, ra) == -1) ||
	    (am != NULL && network_set_str(&s->ipv6_address_mode, am) == -1) ||
	    parse_common(o, s, &gw, &pools) == -1)
		return -1;
	if (ver == 4 && (ra != NULL || am != NULL)) {
		err_set(TS_EINVALID, "Invalid input for operation: "
		    "ipv6_ra_mode or ipv6_address_mode cannot be set when "
		    "enable_dhcp is set to False.");
		return -1;
	}
	s->revision_number = 1;
	s->created_at = s->updated_at = db_now_ms();
	return ipam_subnet_prepare(network_of(req)->ipam, s, gw, pools);
}

struct create_arg {
	struct http_req		*req;
	struct network		*svc;
	struct subnet_req	*reqs;
	size_t			 n;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct create_arg *ca = arg;
	size_t i;

	for (i = 0; i < ca->n; i++) {
		struct rec_subnet *s = &ca->reqs[i].rec;
		struct rec_network n = { .id = "" };
		int rc;

		if (network_net_visible(ca->req, txn, s->network_id, &n) == -1)
			return -1;
		rc = network_enforce(ca->req, "create_subnet", s->project_id,
		    n.project_id, "");
		codec_clear(&schema_rec_network, &n);
		if (rc == -1) {
			if (err_code() == TS_ENOT_FOUND)
				err_set(TS_ENOT_FOUND, "Network %s could not "
				    "be found.", s->network_id);
			return -1;
		}
		if (network_quota_check(ca->svc, txn, s->project_id,
		    NET_RES_SUBNET, 1) == -1 ||
		    ipam_subnet_create(txn, s) == -1)
			return -1;
	}
	return 0;
}

int
network_subnets_create(struct http_req *req, struct http_resp *resp)
{
	struct create_arg ca = { .req = req, .svc = network_of(req) };
	json_t *objs, *out = NULL;
	bool bulk;
	size_t i;
	int rc = -1;

	if (network_create_body(req, "subnet", "subnets", &objs, &bulk) == -1)
		return network_fail(resp);
	ca.n = bulk ? json_array_size(objs) : 1;
	if ((ca.reqs = calloc(ca.n, sizeof(*ca.reqs))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return network_fail(resp);
	}
	for (i = 0; i < ca.n; i++)
		if (subnet_parse(req, bulk ? json_array_get(objs, i) : objs,
		    &ca.reqs[i].rec) == -1)
			goto done;
	if (network_write(ca.svc, create_fn, &ca) == -1)
		goto done;
	if ((out = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < ca.n; i++)
		json_array_append_new(out, network_subnet_json(&ca.reqs[i].rec));
	if (bulk)
		rc = http_resp_json(resp, 201, json_pack("{s:o}", "subnets",
		    out));
	else {
		rc = network_show_reply(req, resp, "subnet",
		    json_incref(json_array_get(out, 0)), 201);
		json_decref(out);
	}
done:
	for (i = 0; i < ca.n; i++)
		codec_clear(&schema_rec_subnet, &ca.reqs[i].rec);
	free(ca.reqs);
	return rc == -1 ? network_fail(resp) : 0;
}

/* ---- update / delete ----------------------------------------------------- */

static const char *const subnet_update_attrs[] = { "name", "description",
    "gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers",
    "host_routes", "tags", "service_types", NULL };

struct one_arg {
	struct http_req		*req;
	const char		*id;
	json_t			*o;
	struct rec_subnet	 s;
};

/* Load the subnet and enforce rule (with its network's project). */
static int
load_enforce(struct one_arg *oa, struct store_txn *txn, const char *rule,
    struct rec_subnet *s)
{
	char owner[65];

	if (subnet_visible(oa->req, txn, oa->id, s) == -1)
		return -1;
	net_owner(txn, s->network_id, owner);
	if (network_enforce(oa->req, rule, s->project_id, owner, "") == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Subnet %s could not be found.",
			    oa->id);
		return -1;
	}
	return 0;
}

static int
update_fn(struct store_txn *txn, void *arg)
{
	struct one_arg *oa = arg;
	struct rec_subnet old = { .id = "" }, *s = &oa->s;
	enum ipam_gateway gw;
	bool pools = false;
	int rc = -1;

	codec_clear(&schema_rec_subnet, s);
	if (load_enforce(oa, txn, "update_subnet", &old) == -1 ||
	    network_db_subnet_get(txn, oa->id, s) == -1)
		goto out;
	if (network_update_body(oa->o, subnet_update_attrs) == -1)
		goto out;
	gw = s->gateway_ip != NULL ? IPAM_GW_GIVEN : IPAM_GW_NONE;
	if (parse_common(oa->o, s, &gw, &pools) == -1)
		goto out;
	/* Kept pools stay as they are: prepare re-validates them. */
	if (!pools && s->allocation_pools.n > 0)
		pools = true;
	if (ipam_subnet_prepare(network_of(oa->req)->ipam, s, gw,
	    pools) == -1)
		goto out;
	s->revision_number = old.revision_number + 1;
	s->updated_at = db_now_ms();
	rc = ipam_subnet_update(txn, s, &old);
out:
	codec_clear(&schema_rec_subnet, &old);
	return rc;
}

int
network_subnets_update(struct http_req *req, struct http_resp *resp)
{
	struct one_arg oa = { .req = req, .s = { .id = "" } };
	json_t *body = http_req_json(req);
	int rc = -1;

	oa.id = http_req_param(req, "subnet_id");
	/* The body is checked once the object is loaded and the rule
	 * enforced: another project's object is a 404 whatever the body. */
	if (body == NULL || !json_is_object(oa.o = json_object_get(body,
	    "subnet")))
		oa.o = NULL;
	if (network_write(network_of(req), update_fn, &oa) == 0)
		rc = network_show_reply(req, resp, "subnet",
		    network_subnet_json(&oa.s), 0);
	codec_clear(&schema_rec_subnet, &oa.s);
	return rc == -1 ? network_fail(resp) : 0;
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct one_arg *oa = arg;
	struct rec_subnet s = { .id = "" };
	int rc = -1;

	if (load_enforce(oa, txn, "delete_subnet", &s) == 0)
		rc = ipam_subnet_delete(txn, &s);
	codec_clear(&schema_rec_subnet, &s);
	return rc;
}

int
network_subnets_delete(struct http_req *req, struct http_resp *resp)
{
	struct one_arg oa = { .req = req };

	oa.id = http_req_param(req, "subnet_id");
	if (network_write(network_of(req), delete_fn, &oa) == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}
