/*
 * compute_aggregates: the os-aggregates handlers (declared in
 * compute_int.h). The records and what a host's zone is: aggregates.h.
 * Every change refreshes the scheduler's cache, which is where the zones
 * of hosts are read from (server views, os-services, the zone list).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "codec.h"
#include "aggregates.h"
#include "compute_int.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "store.h"

#define SEQ_KEY		"aggregate_seq"
#define META_MAX	256	/* the record's strmap max= */
#define HOSTS_MAX	4096	/* the record's list max= */

/* ---- record edits ------------------------------------------------------- */

static int
meta_set(struct ts_strmap *m, const char *k, const char *v)
{
	struct ts_strmap_ent *nv;
	char *dv;

	for (size_t i = 0; m->items && i < m->n; i++)
		if (strcmp(m->items[i].k, k) == 0) {
			if ((dv = strdup(v)) == NULL)
				goto nomem;
			free(m->items[i].v);
			m->items[i].v = dv;
			return 0;
		}
	if (m->n >= META_MAX) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "metadata. Value: more than %d keys.", META_MAX);
		return -1;
	}
	if ((nv = realloc(m->items, (m->n + 1) * sizeof(*nv))) == NULL)
		goto nomem;
	m->items = nv;
	nv[m->n].k = strdup(k);
	nv[m->n].v = strdup(v);
	if (nv[m->n].k == NULL || nv[m->n].v == NULL) {
		free(nv[m->n].k);
		free(nv[m->n].v);
		goto nomem;
	}
	m->n++;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static void
meta_del(struct ts_strmap *m, const char *k)
{
	for (size_t i = 0; m->items && i < m->n; i++)
		if (strcmp(m->items[i].k, k) == 0) {
			free(m->items[i].k);
			free(m->items[i].v);
			m->items[i] = m->items[--m->n];
			return;
		}
}

enum op { OP_CREATE, OP_UPDATE, OP_DELETE, OP_ADD, OP_REMOVE, OP_META };

/* What one write does; after is the record written (owned). */
struct edit {
	enum op			 op;
	uint32_t		 id;
	const char		*id_text;	/* as the URL gave it */
	const char		*name;		/* create, update: NULL none */
	bool			 has_az;
	const char		*az;		/* NULL: JSON null */
	const char		*host;		/* add, remove */
	json_t			*meta;		/* set_metadata */
	int64_t			 now;
	struct rec_aggregate	 after;
};

static int
get(struct store_txn *txn, const struct edit *e, struct rec_aggregate *a)
{
	char k[AGGREGATES_KEY_LEN];

	aggregates_key(e->id, k);
	memset(a, 0, sizeof(*a));
	if (store_rec_get(txn, T_AGGREGATES, k, strlen(k),
	    &schema_rec_aggregate, a) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Aggregate %s could not be "
			    "found.", e->id_text);
		return -1;
	}
	return 0;
}

static int
put(struct store_txn *txn, const struct rec_aggregate *a)
{
	char k[AGGREGATES_KEY_LEN];

	aggregates_key(a->id, k);
	return store_rec_put(txn, T_AGGREGATES, k, strlen(k),
	    &schema_rec_aggregate, a, 0);
}

static int
name_taken(const struct aggregates *all, const char *name,
    uint32_t self)
{
	for (size_t k = 0; k < all->n; k++)
		if (all->v[k].id != self && strcmp(all->v[k].name, name) == 0) {
			err_set(TS_ECONFLICT, "Aggregate %s already exists.",
			    name);
			return -1;
		}
	return 0;
}

static int
next_id(struct store_txn *txn, uint32_t *id)
{
	const void *v;
	size_t vl;
	unsigned char be[4];
	uint32_t seq = 0;

	if (store_get(txn, STORE_META_TABLE, SEQ_KEY, strlen(SEQ_KEY), &v,
	    &vl) == 0 && vl == 4) {
		memcpy(be, v, 4);
		seq = (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 |
		    (uint32_t)be[2] << 8 | be[3];
	} else if (err_code() != TS_ENOT_FOUND && err_code() != TS_EOK) {
		return -1;
	}
	if (seq == UINT32_MAX) {
		err_set(TS_ECONFLICT, "no aggregate id left");
		return -1;
	}
	seq++;
	be[0] = (unsigned char)(seq >> 24);
	be[1] = (unsigned char)(seq >> 16);
	be[2] = (unsigned char)(seq >> 8);
	be[3] = (unsigned char)seq;
	*id = seq;
	return store_put(txn, STORE_META_TABLE, SEQ_KEY, strlen(SEQ_KEY), be, 4,
	    0);
}

/* Nova's InvalidAggregateAction wording per action. */
static int
refuse(enum op op, uint32_t id, const char *reason)
{
	switch (op) {
	case OP_ADD:
		err_set(TS_ECONFLICT, "Cannot add host to aggregate %u. "
		    "Reason: %s.", id, reason);
		break;
	case OP_UPDATE:
		err_set(TS_EINVALID, "Cannot update aggregate %u. Reason: %s.",
		    id, reason);
		break;
	case OP_META:
		err_set(TS_EINVALID, "Cannot update metadata of aggregate %u. "
		    "Reason: %s.", id, reason);
		break;
	default:
		err_set(TS_EINVALID, "Cannot remove aggregate %u. Reason: %s.",
		    id, reason);
		break;
	}
	return -1;
}

static int
count_cb(const struct rec_instance *i, void *arg)
{
	(void)i;
	*(bool *)arg = true;
	return 1;
}

/*
 * Nova's is_safe_to_update_az(): a to-be zone must be named, and the hosts
 * (the aggregate's, or the one being added) must not be in an aggregate of
 * another zone; changing a zone needs its hosts without servers.
 */
static int
zone_check(struct store_txn *txn, const struct aggregates *all,
    const struct rec_aggregate *a, const char *zone, const char *const *hosts,
    size_t nhosts, enum op op)
{
	const char *cur = aggregates_zone_of(a);
	char conf[1024] = "";
	size_t used = 0;

	if (zone == NULL || *zone == '\0') {
		char why[400];

		snprintf(why, sizeof(why), "Aggregate %s does not support "
		    "empty named availability zone", a->name);
		return refuse(op, a->id, why);
	}
	for (size_t k = 0; k < all->n; k++) {
		const char *z = aggregates_zone_of(&all->v[k]);
		bool hit = false;

		if (all->v[k].id == a->id || z == NULL || strcmp(z, zone) == 0)
			continue;
		for (size_t h = 0; !hit && h < nhosts; h++)
			hit = aggregates_has_host(&all->v[k], hosts[h]);
		if (hit && used < sizeof(conf))
			used += (size_t)snprintf(conf + used, sizeof(conf) -
			    used, "%s'%s'", used ? ", " : "", z);
	}
	if (used) {
		char why[1200];

		snprintf(why, sizeof(why), "One or more hosts already in "
		    "availability zone(s) [%s]", conf);
		return refuse(op, a->id, why);
	}
	if (op != OP_ADD && (cur == NULL || strcmp(cur, zone) != 0)) {
		bool any = false;

		for (size_t h = 0; !any && h < nhosts; h++)
			if (compute_db_instance_each_host(txn, hosts[h],
			    count_cb, &any) == -1)
				return -1;
		if (any)
			return refuse(op, a->id, "One or more hosts contain "
			    "instances in this zone");
	}
	return 0;
}

static int
host_known(struct store_txn *txn, const char *host)
{
	struct rec_service svc;

	if (db_service_by_host(txn, host, &svc) == -1)
		return -1;
	codec_clear(&schema_rec_service, &svc);
	return 0;
}

static int
add_host(struct rec_aggregate *a, const char *host)
{
	char **nv;

	if (a->hosts.n >= HOSTS_MAX || (nv = realloc(a->hosts.items,
	    (a->hosts.n + 1) * sizeof(*nv))) == NULL) {
		err_set(TS_ECONFLICT, "Cannot add host to aggregate %u. "
		    "Reason: too many hosts.", a->id);
		return -1;
	}
	a->hosts.items = nv;
	if ((nv[a->hosts.n] = strdup(host)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	a->hosts.n++;
	return 0;
}

static void
remove_host(struct rec_aggregate *a, const char *host)
{
	for (size_t i = 0; i < a->hosts.n; i++)
		if (strcmp(a->hosts.items[i], host) == 0) {
			free(a->hosts.items[i]);
			memmove(&a->hosts.items[i], &a->hosts.items[i + 1],
			    (a->hosts.n - i - 1) * sizeof(*a->hosts.items));
			a->hosts.n--;
			return;
		}
}

static int
create(struct store_txn *txn, struct edit *e,
    const struct aggregates *all)
{
	struct rec_aggregate *a = &e->after;
	uuid_t u;

	if (name_taken(all, e->name, 0) == -1 || next_id(txn, &a->id) == -1)
		return -1;
	uuid_generate_random(u);
	uuid_unparse_lower(u, a->uuid);
	if ((a->name = strdup(e->name)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	a->created_at = e->now;
	if (e->az != NULL && meta_set(&a->metadata, AGGREGATES_AZ_KEY,
	    e->az) == -1)
		return -1;
	return put(txn, a);
}

static int
change(struct store_txn *txn, struct edit *e,
    const struct aggregates *all)
{
	struct rec_aggregate *a = &e->after;
	const char *const *hosts = (const char *const *)a->hosts.items;
	char k[AGGREGATES_KEY_LEN];
	const char *key;
	json_t *v;

	switch (e->op) {
	case OP_DELETE:
		if (a->hosts.n > 0)
			return refuse(OP_DELETE, a->id, "Host aggregate is not "
			    "empty");
		aggregates_key(a->id, k);
		return store_del(txn, T_AGGREGATES, k, strlen(k));
	case OP_UPDATE:
		if (e->name != NULL) {
			char *n;

			if (name_taken(all, e->name, a->id) == -1 ||
			    (n = strdup(e->name)) == NULL)
				return -1;
			free(a->name);
			a->name = n;
		}
		if (e->has_az && (zone_check(txn, all, a, e->az, hosts,
		    a->hosts.n, OP_UPDATE) == -1 || meta_set(&a->metadata,
		    AGGREGATES_AZ_KEY, e->az) == -1))
			return -1;
		break;
	case OP_ADD:
		if (host_known(txn, e->host) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				err_set(TS_ENOT_FOUND, "Compute host %s could "
				    "not be found.", e->host);
			return -1;
		}
		if (aggregates_has_host(a, e->host)) {
			err_set(TS_ECONFLICT, "Aggregate %u already has host "
			    "%s.", a->id, e->host);
			return -1;
		}
		if (aggregates_zone_of(a) != NULL && zone_check(txn,
		    all, a, aggregates_zone_of(a), &e->host, 1,
		    OP_ADD) == -1)
			return -1;
		if (add_host(a, e->host) == -1)
			return -1;
		break;
	case OP_REMOVE:
		if (!aggregates_has_host(a, e->host)) {
			err_set(TS_ENOT_FOUND, "Cannot remove host %s in "
			    "aggregate %s", e->host, e->id_text);
			return -1;
		}
		remove_host(a, e->host);
		break;
	case OP_META:
		if ((v = json_object_get(e->meta, AGGREGATES_AZ_KEY)) !=
		    NULL && zone_check(txn, all, a, json_string_value(v), hosts,
		    a->hosts.n, OP_META) == -1)
			return -1;
		json_object_foreach(e->meta, key, v) {
			if (json_is_null(v))
				meta_del(&a->metadata, key);
			else if (meta_set(&a->metadata, key,
			    json_string_value(v)) == -1)
				return -1;
		}
		break;
	default:
		break;
	}
	a->updated_at = e->now;
	return put(txn, a);
}

static int
edit_fn(struct store_txn *txn, void *arg)
{
	struct edit *e = arg;
	struct aggregates all;
	int rc;

	/* Each attempt starts afresh: a batch may run fn again. */
	codec_clear(&schema_rec_aggregate, &e->after);
	memset(&e->after, 0, sizeof(e->after));
	if (aggregates_load(txn, &all) == -1)
		return -1;
	if (e->op == OP_CREATE)
		rc = create(txn, e, &all);
	else
		rc = get(txn, e, &e->after) == -1 ? -1 : change(txn, e, &all);
	aggregates_clear(&all);
	return rc;
}

/* ---- views -------------------------------------------------------------- */

/* Nova's aggregate object as the API shows it (no uuid below 2.41). */
static json_t *
agg_json(const struct rec_aggregate *a, bool full)
{
	const char *z = aggregates_zone_of(a);
	json_t *o = json_pack("{s:i, s:s, s:o, s:o, s:o, s:b, s:n}",
	    "id", (json_int_t)a->id, "name", a->name, "availability_zone",
	    z ? json_string(z) : json_null(), "created_at",
	    compute_time_or_null(a->created_at, 1), "updated_at",
	    compute_time_or_null(a->updated_at, 1), "deleted", 0,
	    "deleted_at");
	json_t *hosts, *md;

	if (o == NULL || !full)
		return o;
	hosts = json_array();
	md = json_object();
	for (size_t i = 0; a->hosts.items && i < a->hosts.n; i++)
		json_array_append_new(hosts, json_string(a->hosts.items[i]));
	for (size_t i = 0; a->metadata.items && i < a->metadata.n; i++)
		json_object_set_new(md, a->metadata.items[i].k,
		    json_string(a->metadata.items[i].v));
	json_object_set_new(o, "hosts", hosts);
	json_object_set_new(o, "metadata", md);
	return o;
}

/* ---- handlers ----------------------------------------------------------- */

/* Nova validates the id as an integer first (400), then looks it up. */
static int
parse_id(struct http_req *req, struct edit *e)
{
	const char *s = http_req_param(req, "aggregate_id");
	unsigned long long v;
	char *end;

	e->id_text = s;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || !isdigit((unsigned char)*s) || *end != '\0') {
		err_set(TS_EINVALID, "Invalid input received: id must be an "
		    "integer");
		return -1;
	}
	/* Too large to be any aggregate's: not found. */
	e->id = errno || v > UINT32_MAX ? 0 : (uint32_t)v;
	return 0;
}

/* Only the listed members (jsonschema's additionalProperties: false). */
static int
only(json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], k) != 0; i++)
			;
		if (allowed[i] == NULL) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "aggregate. Value: %.64s. Additional properties are "
			    "not allowed ('%.64s' was unexpected)", k, k);
			return -1;
		}
	}
	return 0;
}

static int
parse_zone(json_t *o, struct edit *e)
{
	if (jsonreq_str(JSONREQ_NOVA, o, "availability_zone", 1, 255,
	    JSONREQ_NULLABLE, &e->az, &e->has_az) == -1)
		return -1;
	if (e->az == NULL)
		return 0;
	if (jsonreq_name(JSONREQ_NOVA, "availability_zone", e->az) == -1)
		return -1;
	if (strchr(e->az, ':') != NULL)
		return jsonreq_fail(JSONREQ_NOVA, "availability_zone",
		    "An availability zone name cannot contain ':'.");
	return 0;
}

static int
reply(struct http_req *req, struct http_resp *resp, struct edit *e, bool full)
{
	struct compute *svc = compute_of(req);
	json_t *o;
	int rc;

	rc = compute_write(req, edit_fn, e);
	if (rc == 0 && scheduler_refresh(svc->sched) == -1)
		log_warnx("aggregates: scheduler refresh: %s", err_msg());
	if (rc == -1 || e->op == OP_DELETE) {
		codec_clear(&schema_rec_aggregate, &e->after);
		return rc == -1 ? -1 : http_resp_status(resp, 200);
	}
	o = agg_json(&e->after, full);
	codec_clear(&schema_rec_aggregate, &e->after);
	return http_resp_json(resp, 200, json_pack("{s:o}", "aggregate", o));
}

int
compute_aggregates_list(struct http_req *req, struct http_resp *resp)
{
	struct aggregates all;
	struct store_txn *txn = NULL;
	json_t *arr;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 ||
	    compute_read(req, &txn) == -1)
		return -1;
	rc = aggregates_load(txn, &all);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	arr = json_array();
	for (size_t k = 0; arr && k < all.n; k++)
		json_array_append_new(arr, agg_json(&all.v[k], true));
	aggregates_clear(&all);
	return http_resp_json(resp, 200, json_pack("{s:o}", "aggregates", arr));
}

int
compute_aggregates_show(struct http_req *req, struct http_resp *resp)
{
	struct edit e = { .op = OP_UPDATE };
	struct rec_aggregate a;
	struct store_txn *txn = NULL;
	json_t *o;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 || parse_id(req, &e) == -1 ||
	    compute_read(req, &txn) == -1)
		return -1;
	rc = get(txn, &e, &a);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	o = agg_json(&a, true);
	codec_clear(&schema_rec_aggregate, &a);
	return http_resp_json(resp, 200, json_pack("{s:o}", "aggregate", o));
}

int
compute_aggregates_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "name", "availability_zone",
	    NULL };
	struct edit e = { .op = OP_CREATE, .now = db_now_ms() };
	json_t *o;
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    jsonreq_body(JSONREQ_NOVA, http_req_json(req), "aggregate", &o) ==
	    -1 || only(o, keys) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, o, "name", 1, 255, JSONREQ_REQUIRED,
	    &e.name, NULL) == -1 || jsonreq_name(JSONREQ_NOVA, "name",
	    e.name) == -1 || parse_zone(o, &e) == -1)
		return -1;
	return reply(req, resp, &e, false);
}

int
compute_aggregates_update(struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "name", "availability_zone",
	    NULL };
	struct edit e = { .op = OP_UPDATE, .now = db_now_ms() };
	bool has_name = false;
	json_t *o;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || parse_id(req, &e) == -1 ||
	    jsonreq_body(JSONREQ_NOVA, http_req_json(req), "aggregate", &o) ==
	    -1 || only(o, keys) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, o, "name", 1, 255, 0, &e.name,
	    &has_name) == -1 || (has_name && jsonreq_name(JSONREQ_NOVA,
	    "name", e.name) == -1) || parse_zone(o, &e) == -1)
		return -1;
	if (!has_name && !e.has_az)
		return jsonreq_fail(JSONREQ_NOVA, "aggregate", "Value: {}. {} "
		    "is not valid under any of the given schemas");
	return reply(req, resp, &e, true);
}

int
compute_aggregates_delete(struct http_req *req, struct http_resp *resp)
{
	struct edit e = { .op = OP_DELETE };
	int mv;

	if (compute_version(req, resp, &mv) == -1 || parse_id(req, &e) == -1)
		return -1;
	return reply(req, resp, &e, true);
}

/* Nova's fqdn parameter type: [a-zA-Z0-9-._]{1,255}. */
static int
parse_host(json_t *a, struct edit *e)
{
	static const char *const keys[] = { "host", NULL };

	if (!json_is_object(a))
		return jsonreq_fail(JSONREQ_NOVA, "host", "Value must be an "
		    "object.");
	if (only(a, keys) == -1 || jsonreq_str(JSONREQ_NOVA, a, "host", 1,
	    255, JSONREQ_REQUIRED | JSONREQ_BYTES, &e->host, NULL) == -1)
		return -1;
	for (const char *p = e->host; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
			return jsonreq_fail(JSONREQ_NOVA, "host", "Value does "
			    "not match '^[a-zA-Z0-9-._]*$'.");
	return 0;
}

/* Nova's metadata_with_null: keys [a-zA-Z0-9-_:. ]{1,255}, values strings
 * of at most 255 characters, or null (remove the key). */
static int
parse_meta(json_t *a, struct edit *e)
{
	static const char *const keys[] = { "metadata", NULL };
	const char *k;
	json_t *m, *v;

	if (!json_is_object(a) || only(a, keys) == -1)
		return json_is_object(a) ? -1 : jsonreq_fail(JSONREQ_NOVA,
		    "set_metadata", "Value must be an object.");
	m = json_object_get(a, "metadata");
	if (!json_is_object(m))
		return jsonreq_fail(JSONREQ_NOVA, "metadata", m ? "Value must "
		    "be an object." : "'metadata' is a required property");
	if (json_object_size(m) > META_MAX)
		return jsonreq_fail(JSONREQ_NOVA, "metadata", "too many keys.");
	json_object_foreach(m, k, v) {
		size_t kl = strlen(k);

		if (kl == 0 || kl > 255 || strspn(k, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. ") != kl)
			return jsonreq_fail(JSONREQ_NOVA, "metadata", "Additional "
			    "properties are not allowed: invalid key.");
		if (!json_is_null(v) && (!json_is_string(v) ||
		    json_string_length(v) > 255 ||
		    strlen(json_string_value(v)) != json_string_length(v)))
			return jsonreq_fail(JSONREQ_NOVA, k, "Value must be a "
			    "string of at most 255 characters, or null.");
	}
	e->meta = m;
	return 0;
}

/* Self-scoped route: the action picks Nova's rule. */
int
compute_aggregates_action(struct http_req *req, struct http_resp *resp)
{
	struct edit e = { .now = db_now_ms() };
	json_t *b = http_req_json(req), *a = NULL;
	const char *rule = NULL;
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (json_is_object(b) && json_object_size(b) == 1) {
		if ((a = json_object_get(b, "add_host")) != NULL) {
			e.op = OP_ADD;
			rule = "os_compute_api:os-aggregates:add_host";
		} else if ((a = json_object_get(b, "remove_host")) != NULL) {
			e.op = OP_REMOVE;
			rule = "os_compute_api:os-aggregates:remove_host";
		} else if ((a = json_object_get(b, "set_metadata")) != NULL) {
			e.op = OP_META;
			rule = "os_compute_api:os-aggregates:set_metadata";
		}
	}
	if (rule == NULL) {
		err_set(TS_EINVALID, "There is no such action: %s",
		    json_is_object(b) && json_object_size(b) ?
		    json_object_iter_key(json_object_iter(b)) : "");
		return -1;
	}
	if (compute_enforce(req, rule) == -1 || parse_id(req, &e) == -1 ||
	    (e.op == OP_META ? parse_meta(a, &e) : parse_host(a, &e)) == -1)
		return -1;
	return reply(req, resp, &e, true);
}
