/* network_db: typed access to the network tables; see network_db.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "network/network_db.h"

/*
 * The three object kinds share one implementation, described by a table:
 * networks, subnets and ports differ only in their table, their indexes
 * and the usage counter they move.
 */
enum usage_col { U_NETWORKS, U_SUBNETS, U_PORTS, U_SECGROUPS, U_SGRULES,
    U_ROUTERS, U_FLOATINGIPS };

struct kind_idx {
	const char	 *index;
	const char	*(*val)(const void *);
};

struct kind {
	const char		 *table;
	const struct schema_type *type;
	const char		 *what;		/* Neutron's noun in messages */
	const char		*(*id)(const void *);
	const char		*(*project)(const void *);
	enum usage_col		  col;
	struct kind_idx		  idx[2];
	size_t			  nidx;
};

static const char *net_id(const void *o) { return ((const struct rec_network *)o)->id; }
static const char *net_proj(const void *o) { return ((const struct rec_network *)o)->project_id; }
static const char *sub_id(const void *o) { return ((const struct rec_subnet *)o)->id; }
static const char *sub_proj(const void *o) { return ((const struct rec_subnet *)o)->project_id; }
static const char *sub_net(const void *o) { return ((const struct rec_subnet *)o)->network_id; }
static const char *port_id(const void *o) { return ((const struct rec_port *)o)->id; }
static const char *port_proj(const void *o) { return ((const struct rec_port *)o)->project_id; }
static const char *port_net(const void *o) { return ((const struct rec_port *)o)->network_id; }
static const char *port_dev(const void *o) { return ((const struct rec_port *)o)->device_id; }

static const char *rtr_id(const void *o) { return ((const struct rec_router *)o)->id; }
static const char *rtr_proj(const void *o) { return ((const struct rec_router *)o)->project_id; }
static const char *fip_id(const void *o) { return ((const struct rec_floatingip *)o)->id; }
static const char *fip_proj(const void *o) { return ((const struct rec_floatingip *)o)->project_id; }
static const char *fip_port(const void *o) { return ((const struct rec_floatingip *)o)->port_id; }

static const struct kind K_NETWORK = {
	T_NETWORKS, &schema_rec_network, "Network", net_id, net_proj,
	U_NETWORKS, { { T_NETWORKS_BY_PROJECT, net_proj } }, 1
};
static const struct kind K_SUBNET = {
	T_SUBNETS, &schema_rec_subnet, "Subnet", sub_id, sub_proj,
	U_SUBNETS, { { T_SUBNETS_BY_NETWORK, sub_net } }, 1
};
static const char *sg_id(const void *o) { return ((const struct rec_security_group *)o)->id; }
static const char *sg_proj(const void *o) { return ((const struct rec_security_group *)o)->project_id; }
static const char *sgr_id(const void *o) { return ((const struct rec_security_group_rule *)o)->id; }
static const char *sgr_proj(const void *o) { return ((const struct rec_security_group_rule *)o)->project_id; }
static const char *sgr_group(const void *o) { return ((const struct rec_security_group_rule *)o)->security_group_id; }

static const struct kind K_SECGROUP = {
	T_SECURITY_GROUPS, &schema_rec_security_group, "Security group",
	sg_id, sg_proj, U_SECGROUPS,
	{ { T_SECURITY_GROUPS_BY_PROJECT, sg_proj } }, 1
};
static const struct kind K_SGRULE = {
	T_SG_RULES, &schema_rec_security_group_rule, "Security group rule",
	sgr_id, sgr_proj, U_SGRULES, { { T_SG_RULES_BY_GROUP, sgr_group } }, 1
};
static const struct kind K_PORT = {
	T_PORTS, &schema_rec_port, "Port", port_id, port_proj, U_PORTS,
	{ { T_PORTS_BY_NETWORK, port_net }, { T_PORTS_BY_DEVICE, port_dev } },
	2
};

static const struct kind K_ROUTER = {
	T_ROUTERS, &schema_rec_router, "Router", rtr_id, rtr_proj,
	U_ROUTERS, { { T_ROUTERS_BY_PROJECT, rtr_proj } }, 1
};
static const struct kind K_FLOATINGIP = {
	T_FLOATINGIPS, &schema_rec_floatingip, "Floating IP", fip_id,
	fip_proj, U_FLOATINGIPS, { { T_FLOATINGIPS_BY_PORT, fip_port },
	{ T_FLOATINGIPS_BY_PROJECT, fip_proj } }, 2
};

/* ------------------------------------------------------------------ usage */

int
network_db_usage_get(struct store_txn *txn, const char *project_id,
    struct rec_network_usage *u)
{
	if (db_rec_get(txn, T_NETWORK_USAGE, project_id,
	    &schema_rec_network_usage, u) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(u, 0, sizeof(*u));
	}
	return 0;
}

/* A count below zero means a bug elsewhere; it is logged, not propagated,
 * so one bad release cannot block every later create of the project. */
static int
usage_add(struct store_txn *txn, const char *project_id, enum usage_col c,
    int64_t d)
{
	struct rec_network_usage u;
	int64_t *v;

	if (project_id == NULL || *project_id == '\0')
		return 0;
	if (network_db_usage_get(txn, project_id, &u) == -1)
		return -1;
	switch (c) {
	case U_NETWORKS:	v = &u.networks; break;
	case U_SUBNETS:		v = &u.subnets; break;
	case U_PORTS:		v = &u.ports; break;
	case U_SECGROUPS:	v = &u.security_groups; break;
	case U_SGRULES:		v = &u.security_group_rules; break;
	case U_ROUTERS:		v = &u.routers; u.has_routers = true; break;
	default:		v = &u.floatingips; u.has_floatingips = true;
	}
	if (*v + d < 0) {
		log_warnx("network usage of %s would go below zero (%lld "
		    "%+lld); clamped", project_id, (long long)*v,
		    (long long)d);
		*v = 0;
	} else {
		*v += d;
	}
	return db_rec_put(txn, T_NETWORK_USAGE, project_id,
	    &schema_rec_network_usage, &u, 0);
}

struct usage_each {
	int	(*cb)(const char *, const struct rec_network_usage *, void *);
	void	*arg;
};

static int
usage_each_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct usage_each *e = arg;
	struct rec_network_usage u;
	char key[STORE_KEY_MAX + 1];

	memset(&u, 0, sizeof(u));
	if (codec_record_decode(&schema_rec_network_usage, v, vl, &u,
	    NULL) == -1) {
		log_warnx("network_usage: skipping undecodable record: %s",
		    err_msg());
		return 0;
	}
	memcpy(key, k, kl);
	key[kl] = '\0';
	return e->cb(key, &u, e->arg);
}

int
network_db_usage_each(struct store_txn *txn,
    int (*cb)(const char *, const struct rec_network_usage *, void *),
    void *arg)
{
	struct usage_each e = { cb, arg };

	return store_iter(txn, T_NETWORK_USAGE, NULL, 0, usage_each_cb, &e);
}

/* ---------------------------------------------------------- generic kinds */

static int
obj_get(struct store_txn *txn, const struct kind *k, const char *id,
    void *obj)
{
	if (db_rec_get(txn, k->table, id, k->type, obj) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, (k->col == U_SECGROUPS ||
			    k->col == U_SGRULES) ?
			    "%s %s does not exist" : "%s %s could not be found.",
			    k->what, id);
		return -1;
	}
	return 0;
}

static int
idx_del(struct store_txn *txn, const char *index, const char *ival,
    const char *pk)
{
	if (store_index_del(txn, index, ival, strlen(ival), pk, strlen(pk)) ==
	    -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

static int
set(const char *s)
{
	return s != NULL && *s != '\0';
}

static int
obj_put(struct store_txn *txn, const struct kind *k, const void *obj,
    const void *old)
{
	const char *id = k->id(obj), *np = k->project(obj), *op;

	if (old != NULL && strcmp(k->id(old), id) != 0) {
		err_set(TS_EINTERNAL, "%s %s: old version of another object",
		    k->what, id);
		return -1;
	}
	if (db_rec_put(txn, k->table, id, k->type, obj, old ? 0 :
	    STORE_NOOVERWRITE) == -1) {
		if (err_code() == TS_ECONFLICT)
			err_set(TS_ECONFLICT, "%s %s already exists.",
			    k->what, id);
		return -1;
	}
	for (size_t j = 0; j < k->nidx; j++) {
		const char *nv = k->idx[j].val(obj);
		const char *ov = old ? k->idx[j].val(old) : NULL;

		if (set(ov) && (!set(nv) || strcmp(ov, nv) != 0) &&
		    idx_del(txn, k->idx[j].index, ov, id) == -1)
			return -1;
		if (set(nv) && store_index_put(txn, k->idx[j].index, nv,
		    strlen(nv), id, strlen(id)) == -1)
			return -1;
	}
	if (old == NULL)
		return usage_add(txn, np, k->col, 1);
	op = k->project(old);
	if (strcmp(op ? op : "", np ? np : "") != 0 &&
	    (usage_add(txn, op, k->col, -1) == -1 ||
	    usage_add(txn, np, k->col, 1) == -1))
		return -1;
	return 0;
}

static int
obj_del(struct store_txn *txn, const struct kind *k, const void *obj)
{
	const char *id = k->id(obj);

	if (store_del(txn, k->table, id, strlen(id)) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "%s %s could not be found.",
			    k->what, id);
		return -1;
	}
	for (size_t j = 0; j < k->nidx; j++) {
		const char *v = k->idx[j].val(obj);

		if (set(v) && idx_del(txn, k->idx[j].index, v, id) == -1)
			return -1;
	}
	return usage_add(txn, k->project(obj), k->col, -1);
}

union any_obj {
	struct rec_network	n;
	struct rec_subnet	s;
	struct rec_port		p;
	struct rec_security_group g;
	struct rec_security_group_rule sr;
	struct rec_router	r;
	struct rec_floatingip	f;
};

struct each {
	struct store_txn	 *txn;
	const struct kind	 *k;
	int			(*cb)(const void *, void *);
	void			 *arg;
};

static int
each_cb(const void *key, size_t kl, const void *v, size_t vl, void *arg)
{
	struct each *e = arg;
	union any_obj o;
	int rc;

	memset(&o, 0, sizeof(o));
	if (codec_record_decode(e->k->type, v, vl, &o, NULL) == -1) {
		/* One unreadable record must not hide the others. */
		log_warnx("%s: skipping undecodable record: %s", e->k->table,
		    err_msg());
		return 0;
	}
	rc = e->cb(&o, e->arg);
	codec_clear(e->k->type, &o);
	return rc;
}

static int
obj_each(struct store_txn *txn, const struct kind *k,
    int (*cb)(const void *, void *), void *arg)
{
	struct each e = { txn, k, cb, arg };

	return store_iter(txn, k->table, NULL, 0, each_cb, &e);
}

static int
idx_each_cb(const void *pk, size_t pklen, void *arg)
{
	struct each *e = arg;
	char id[STORE_KEY_MAX + 1];
	union any_obj o;
	int rc;

	if (pklen > STORE_KEY_MAX)
		return 0;
	memcpy(id, pk, pklen);
	id[pklen] = '\0';
	if (db_rec_get(e->txn, e->k->table, id, e->k->type, &o) == -1) {
		/* An index entry without its record: skipped, not fatal,
		 * as for an undecodable record. */
		log_warnx("%s: index entry %s: %s", e->k->table, id,
		    err_msg());
		return 0;
	}
	rc = e->cb(&o, e->arg);
	codec_clear(e->k->type, &o);
	return rc;
}

static int
obj_each_idx(struct store_txn *txn, const struct kind *k, const char *index,
    const char *val, int (*cb)(const void *, void *), void *arg)
{
	struct each e = { txn, k, cb, arg };

	if (!set(val))
		return 0;
	return store_index_iter(txn, index, val, strlen(val), idx_each_cb,
	    &e);
}

typedef int any_cb(const void *, void *);

/* --------------------------------------------------------------- networks */

int
network_db_network_get(struct store_txn *txn, const char *id,
    struct rec_network *n)
{
	return obj_get(txn, &K_NETWORK, id, n);
}

int
network_db_network_put(struct store_txn *txn, const struct rec_network *n,
    const struct rec_network *old)
{
	return obj_put(txn, &K_NETWORK, n, old);
}

int
network_db_network_del(struct store_txn *txn, const struct rec_network *n)
{
	return obj_del(txn, &K_NETWORK, n);
}

int
network_db_network_each(struct store_txn *txn,
    int (*cb)(const struct rec_network *, void *), void *arg)
{
	return obj_each(txn, &K_NETWORK, (any_cb *)cb, arg);
}

int
network_db_network_each_project(struct store_txn *txn,
    const char *project_id, int (*cb)(const struct rec_network *, void *),
    void *arg)
{
	return obj_each_idx(txn, &K_NETWORK, T_NETWORKS_BY_PROJECT,
	    project_id, (any_cb *)cb, arg);
}

/* ---------------------------------------------------------------- subnets */

int
network_db_subnet_get(struct store_txn *txn, const char *id,
    struct rec_subnet *s)
{
	return obj_get(txn, &K_SUBNET, id, s);
}

int
network_db_subnet_put(struct store_txn *txn, const struct rec_subnet *s,
    const struct rec_subnet *old)
{
	return obj_put(txn, &K_SUBNET, s, old);
}

int
network_db_subnet_del(struct store_txn *txn, const struct rec_subnet *s)
{
	return obj_del(txn, &K_SUBNET, s);
}

int
network_db_subnet_each(struct store_txn *txn,
    int (*cb)(const struct rec_subnet *, void *), void *arg)
{
	return obj_each(txn, &K_SUBNET, (any_cb *)cb, arg);
}

int
network_db_subnet_each_network(struct store_txn *txn,
    const char *network_id, int (*cb)(const struct rec_subnet *, void *),
    void *arg)
{
	return obj_each_idx(txn, &K_SUBNET, T_SUBNETS_BY_NETWORK, network_id,
	    (any_cb *)cb, arg);
}

/* ------------------------------------------------------------------ ports */

int
network_db_port_get(struct store_txn *txn, const char *id,
    struct rec_port *p)
{
	return obj_get(txn, &K_PORT, id, p);
}

int
network_db_port_put(struct store_txn *txn, const struct rec_port *p,
    const struct rec_port *old)
{
	return obj_put(txn, &K_PORT, p, old);
}

int
network_db_port_del(struct store_txn *txn, const struct rec_port *p)
{
	return obj_del(txn, &K_PORT, p);
}

int
network_db_port_each(struct store_txn *txn,
    int (*cb)(const struct rec_port *, void *), void *arg)
{
	return obj_each(txn, &K_PORT, (any_cb *)cb, arg);
}

int
network_db_port_each_network(struct store_txn *txn, const char *network_id,
    int (*cb)(const struct rec_port *, void *), void *arg)
{
	return obj_each_idx(txn, &K_PORT, T_PORTS_BY_NETWORK, network_id,
	    (any_cb *)cb, arg);
}

int
network_db_port_each_device(struct store_txn *txn, const char *device_id,
    int (*cb)(const struct rec_port *, void *), void *arg)
{
	return obj_each_idx(txn, &K_PORT, T_PORTS_BY_DEVICE, device_id,
	    (any_cb *)cb, arg);
}

static int
count_pk(const void *pk, size_t pklen, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

int
network_db_port_count_network(struct store_txn *txn, const char *network_id,
    size_t *n)
{
	*n = 0;
	if (!set(network_id))
		return 0;
	return store_index_iter(txn, T_PORTS_BY_NETWORK, network_id,
	    strlen(network_id), count_pk, n);
}

/* -------------------------------------------------------- security groups */

int
network_db_secgroup_get(struct store_txn *txn, const char *id,
    struct rec_security_group *g)
{
	return obj_get(txn, &K_SECGROUP, id, g);
}

int
network_db_secgroup_put(struct store_txn *txn,
    const struct rec_security_group *g, const struct rec_security_group *old)
{
	return obj_put(txn, &K_SECGROUP, g, old);
}

int
network_db_secgroup_del(struct store_txn *txn,
    const struct rec_security_group *g)
{
	return obj_del(txn, &K_SECGROUP, g);
}

int
network_db_secgroup_each(struct store_txn *txn,
    int (*cb)(const struct rec_security_group *, void *), void *arg)
{
	return obj_each(txn, &K_SECGROUP, (any_cb *)cb, arg);
}

int
network_db_secgroup_each_project(struct store_txn *txn,
    const char *project_id,
    int (*cb)(const struct rec_security_group *, void *), void *arg)
{
	return obj_each_idx(txn, &K_SECGROUP, T_SECURITY_GROUPS_BY_PROJECT,
	    project_id, (any_cb *)cb, arg);
}

int
network_db_sgrule_get(struct store_txn *txn, const char *id,
    struct rec_security_group_rule *r)
{
	return obj_get(txn, &K_SGRULE, id, r);
}

int
network_db_sgrule_put(struct store_txn *txn,
    const struct rec_security_group_rule *r,
    const struct rec_security_group_rule *old)
{
	return obj_put(txn, &K_SGRULE, r, old);
}

int
network_db_sgrule_del(struct store_txn *txn,
    const struct rec_security_group_rule *r)
{
	return obj_del(txn, &K_SGRULE, r);
}

int
network_db_sgrule_each(struct store_txn *txn,
    int (*cb)(const struct rec_security_group_rule *, void *), void *arg)
{
	return obj_each(txn, &K_SGRULE, (any_cb *)cb, arg);
}

int
network_db_sgrule_each_group(struct store_txn *txn, const char *group_id,
    int (*cb)(const struct rec_security_group_rule *, void *), void *arg)
{
	return obj_each_idx(txn, &K_SGRULE, T_SG_RULES_BY_GROUP, group_id,
	    (any_cb *)cb, arg);
}

/* ----------------------------------------------------------------- quotas */

int
network_db_quota_get(struct store_txn *txn, const char *project_id,
    struct rec_network_quota *q)
{
	if (db_rec_get(txn, T_NETWORK_QUOTAS, project_id,
	    &schema_rec_network_quota, q) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(q, 0, sizeof(*q));
	}
	return 0;
}

int
network_db_quota_put(struct store_txn *txn, const char *project_id,
    const struct rec_network_quota *q)
{
	return db_rec_put(txn, T_NETWORK_QUOTAS, project_id,
	    &schema_rec_network_quota, q, 0);
}

int
network_db_quota_del(struct store_txn *txn, const char *project_id)
{
	if (store_del(txn, T_NETWORK_QUOTAS, project_id,
	    strlen(project_id)) == -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- routers */

int
network_db_router_get(struct store_txn *txn, const char *id,
    struct rec_router *r)
{
	return obj_get(txn, &K_ROUTER, id, r);
}

int
network_db_router_put(struct store_txn *txn, const struct rec_router *r,
    const struct rec_router *old)
{
	return obj_put(txn, &K_ROUTER, r, old);
}

int
network_db_router_del(struct store_txn *txn, const struct rec_router *r)
{
	return obj_del(txn, &K_ROUTER, r);
}

int
network_db_router_each(struct store_txn *txn,
    int (*cb)(const struct rec_router *, void *), void *arg)
{
	return obj_each(txn, &K_ROUTER, (any_cb *)cb, arg);
}

/* ----------------------------------------------------------- floating IPs */

int
network_db_floatingip_get(struct store_txn *txn, const char *id,
    struct rec_floatingip *f)
{
	if (obj_get(txn, &K_FLOATINGIP, id, f) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Floating IP %s could not be "
			    "found", id);
		return -1;
	}
	return 0;
}

int
network_db_floatingip_put(struct store_txn *txn,
    const struct rec_floatingip *f, const struct rec_floatingip *old)
{
	return obj_put(txn, &K_FLOATINGIP, f, old);
}

int
network_db_floatingip_del(struct store_txn *txn,
    const struct rec_floatingip *f)
{
	return obj_del(txn, &K_FLOATINGIP, f);
}

int
network_db_floatingip_each(struct store_txn *txn,
    int (*cb)(const struct rec_floatingip *, void *), void *arg)
{
	return obj_each(txn, &K_FLOATINGIP, (any_cb *)cb, arg);
}

int
network_db_floatingip_each_port(struct store_txn *txn, const char *port_id,
    int (*cb)(const struct rec_floatingip *, void *), void *arg)
{
	return obj_each_idx(txn, &K_FLOATINGIP, T_FLOATINGIPS_BY_PORT,
	    port_id, (any_cb *)cb, arg);
}
