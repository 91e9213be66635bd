/* network_quotas: Neutron's quotas extension (network, subnet, port,
 * security_group, security_group_rule, router, floatingip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "network_int.h"

/* What Neutron's quotas list shows for resources this API does not serve
 * (the clients print them; -1 is unlimited). */
static const char *const other_res[] = { "rbac_policy", "subnetpool",
    NULL };

/* In enum network_res order. */
static const char *const res_name[] = { "network", "subnet", "port",
    "security_group", "security_group_rule", "router", "floatingip" };
#define NRES	(sizeof(res_name) / sizeof(res_name[0]))

static void
limits(const struct network *svc, const struct rec_network_quota *q,
    int64_t out[NRES])
{
	out[0] = q->has_network ? q->network : svc->quota_network;
	out[1] = q->has_subnet ? q->subnet : svc->quota_subnet;
	out[2] = q->has_port ? q->port : svc->quota_port;
	out[3] = q->has_security_group ? q->security_group :
	    svc->quota_secgroup;
	out[4] = q->has_security_group_rule ? q->security_group_rule :
	    svc->quota_sgrule;
	out[5] = q->has_router ? q->router : svc->quota_router;
	out[6] = q->has_floatingip ? q->floatingip : svc->quota_floatingip;
}

static void
usage_of(const struct rec_network_usage *u, int64_t out[NRES])
{
	out[0] = u->networks;
	out[1] = u->subnets;
	out[2] = u->ports;
	out[3] = u->security_groups;
	out[4] = u->security_group_rules;
	out[5] = u->has_routers ? u->routers : 0;
	out[6] = u->has_floatingips ? u->floatingips : 0;
}

int
network_quota_check(struct network *svc, struct store_txn *txn,
    const char *project_id, enum network_res res, int64_t more)
{
	struct rec_network_quota q;
	struct rec_network_usage u;
	int64_t lim[NRES], used[NRES];

	memset(&q, 0, sizeof(q));
	memset(&u, 0, sizeof(u));
	if (network_db_quota_get(txn, project_id, &q) == -1 ||
	    network_db_usage_get(txn, project_id, &u) == -1)
		return -1;
	limits(svc, &q, lim);
	usage_of(&u, used);
	if (lim[res] >= 0 && used[res] + more > lim[res]) {
		/* Neutron's OverQuota is a 409 Conflict. */
		err_set(TS_ECONFLICT, "Quota exceeded for resources: ['%s'].",
		    res_name[res]);
		return -1;
	}
	return 0;
}

static json_t *
quota_json(const int64_t lim[NRES], const struct rec_network_usage *u)
{
	json_t *o = json_object();
	int64_t used[NRES];
	size_t i;

	if (u != NULL)
		usage_of(u, used);
	for (i = 0; o != NULL && i < NRES; i++)
		json_object_set_new(o, res_name[i], u == NULL ?
		    json_integer(lim[i]) : json_pack("{s:I, s:I, s:i}",
		    "limit", (json_int_t)lim[i], "used", (json_int_t)used[i],
		    "reserved", 0));
	for (i = 0; o != NULL && other_res[i] != NULL; i++)
		json_object_set_new(o, other_res[i], u == NULL ?
		    json_integer(-1) : json_pack("{s:i, s:i, s:i}", "limit",
		    -1, "used", 0, "reserved", 0));
	return o;
}

/* get_quota on the URL's project (404-free: quotas of any project id
 * exist, as Neutron's defaults). */
static int
enforce_get(struct http_req *req)
{
	struct request_target t = { .n = 0 };
	const char *pid = http_req_param(req, "project_id");

	if (request_target_add(&t, "project_id", pid) == -1 ||
	    request_target_add(&t, "tenant_id", pid) == -1 ||
	    request_target_add(&t, "network:tenant_id", pid) == -1)
		return -1;
	return request_enforce(req, "get_quota", &t);
}

static int
show(struct http_req *req, struct http_resp *resp, bool details,
    bool defaults)
{
	struct network *svc = network_of(req);
	struct rec_network_quota q;
	struct rec_network_usage u;
	struct store_txn *txn;
	const char *pid = http_req_param(req, "project_id");
	int64_t lim[NRES];
	int rc = 0;

	memset(&q, 0, sizeof(q));
	memset(&u, 0, sizeof(u));
	if (enforce_get(req) == -1 ||
	    store_read_begin(svc->store, &txn) == -1)
		return network_fail(resp);
	if (!defaults)
		rc = network_db_quota_get(txn, pid, &q);
	if (rc == 0 && details)
		rc = network_db_usage_get(txn, pid, &u);
	store_txn_abort(&txn);
	if (rc == -1)
		return network_fail(resp);
	limits(svc, &q, lim);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "quota",
	    quota_json(lim, details ? &u : NULL)));
}

int
network_quotas_show(struct http_req *req, struct http_resp *resp)
{
	return show(req, resp, false, false);
}

int
network_quotas_default(struct http_req *req, struct http_resp *resp)
{
	return show(req, resp, false, true);
}

int
network_quotas_details(struct http_req *req, struct http_resp *resp)
{
	return show(req, resp, true, false);
}

static int
list_cb(const char *project_id, const struct rec_network_usage *u, void *arg)
{
	(void)u;
	return json_array_append_new(arg, json_string(project_id));
}

/* Projects with quotas set (Neutron lists only those). */
int
network_quotas_list(struct http_req *req, struct http_resp *resp)
{
	struct network *svc = network_of(req);
	struct store_txn *txn;
	json_t *ids = json_array(), *out = json_array();
	size_t i;
	int rc = 0;

	if (ids == NULL || out == NULL ||
	    store_read_begin(svc->store, &txn) == -1) {
		json_decref(ids);
		json_decref(out);
		return network_fail(resp);
	}
	rc = network_db_usage_each(txn, list_cb, ids);
	for (i = 0; rc == 0 && i < json_array_size(ids); i++) {
		struct rec_network_quota q;
		int64_t lim[NRES];
		const char *pid = json_string_value(json_array_get(ids, i));
		json_t *o;

		memset(&q, 0, sizeof(q));
		if ((rc = network_db_quota_get(txn, pid, &q)) == -1)
			break;
		if (!q.has_network && !q.has_subnet && !q.has_port &&
		    !q.has_security_group && !q.has_security_group_rule &&
		    !q.has_router && !q.has_floatingip)
			continue;
		limits(svc, &q, lim);
		if ((o = quota_json(lim, NULL)) == NULL)
			continue;
		json_object_set_new(o, "project_id", json_string(pid));
		json_object_set_new(o, "tenant_id", json_string(pid));
		json_array_append_new(out, o);
	}
	store_txn_abort(&txn);
	json_decref(ids);
	if (rc == -1) {
		json_decref(out);
		return network_fail(resp);
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "quotas", out));
}

struct update_arg {
	const char		*pid;
	json_t			*o;
	struct rec_network_quota q;
};

static int
update_fn(struct store_txn *txn, void *arg)
{
	struct update_arg *ua = arg;
	struct rec_network_quota q;
	int64_t v;
	bool present;
	size_t i;

	memset(&q, 0, sizeof(q));
	if (network_db_quota_get(txn, ua->pid, &q) == -1)
		return -1;
	for (i = 0; i < NRES; i++) {
		if (jsonreq_int(NET_STYLE, ua->o, res_name[i], -1, INT32_MAX,
		    0, &v, &present) == -1)
			return -1;
		if (!present)
			continue;
		if (i == 0) {
			q.has_network = true;
			q.network = v;
		} else if (i == 1) {
			q.has_subnet = true;
			q.subnet = v;
		} else if (i == 2) {
			q.has_port = true;
			q.port = v;
		} else if (i == 3) {
			q.has_security_group = true;
			q.security_group = v;
		} else if (i == 4) {
			q.has_security_group_rule = true;
			q.security_group_rule = v;
		} else if (i == 5) {
			q.has_router = true;
			q.router = v;
		} else {
			q.has_floatingip = true;
			q.floatingip = v;
		}
	}
	ua->q = q;
	return network_db_quota_put(txn, ua->pid, &q);
}

int
network_quotas_update(struct http_req *req, struct http_resp *resp)
{
	struct update_arg ua = { .pid = http_req_param(req, "project_id") };
	json_t *body = http_req_json(req);
	const char *k;
	json_t *v;
	int64_t lim[NRES];
	size_t i;

	if (body == NULL || !json_is_object(ua.o = json_object_get(body,
	    "quota"))) {
		err_set(TS_EINVALID, "Resource body required");
		return network_fail(resp);
	}
	/* Resources we do not serve are accepted and ignored, as Neutron
	 * does for quota resources of plugins not loaded; unknown names are
	 * 400. */
	json_object_foreach(ua.o, k, v) {
		bool known = false;

		for (i = 0; !known && i < NRES; i++)
			known = strcmp(k, res_name[i]) == 0;
		for (i = 0; !known && other_res[i] != NULL; i++)
			known = strcmp(k, other_res[i]) == 0;
		if (!known) {
			err_set(TS_EINVALID, "Unrecognized attribute(s) '%s'",
			    k);
			return network_fail(resp);
		}
	}
	if (store_write(network_of(req)->store, update_fn, &ua) == -1)
		return network_fail(resp);
	limits(network_of(req), &ua.q, lim);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "quota",
	    quota_json(lim, NULL)));
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	return network_db_quota_del(txn, arg);
}

int
network_quotas_delete(struct http_req *req, struct http_resp *resp)
{
	if (store_write(network_of(req)->store, delete_fn,
	    (void *)http_req_param(req, "project_id")) == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}
