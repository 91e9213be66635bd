/*
 * identity_catalog_api: /v3/services, /v3/endpoints and /v3/regions (the
 * records behind the catalog that identity_catalog.c renders). See
 * identity.h for the rules the identity handlers follow.
 *
 * The three resources share one create/list/show/update/delete path,
 * driven by a struct catalog_kind per resource: what differs (body fields,
 * references checked in the write transaction, list filters, the JSON of
 * a record) sits in the descriptor, so a fix to the path reaches all three.
 * Policy names and status codes live in the route table (identity.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "identity_int.h"
#include "http/jsonreq.h"
#include "log.h"

/* Storage for any one record; the descriptor says which member is live. */
union catalog_rec {
	struct rec_catalog_service	service;
	struct rec_catalog_endpoint	endpoint;
	struct rec_region		region;
};

#define CATALOG_FILTERS	3

struct catalog_kind {
	const char			*key;	/* body and response wrapper */
	const char			*list_key;
	const char			*param;	/* URL parameter of the id */
	const struct schema_type	*type;
	const char *const		*known;	/* fields kept out of extra */
	/* Offsets of the fields every record has. */
	size_t				 id_off, extra_off, created_off;
	/* List filters: query parameter and the string field it matches. */
	struct {
		const char	*query;
		size_t		 off;
	}				 filters[CATALOG_FILTERS];
	/* The client may name a new record (POST body "id" or PUT URL). */
	bool				 client_id;
	json_t	*(*json)(struct http_req *, const void *rec);
	/* Body fields into rec, strings borrowed from the body; on create
	 * rec is zeroed and the function sets the defaults. */
	int	 (*fields)(json_t *body, void *rec, bool create);
	/* What rec refers to exists (in the write transaction); NULL: none. */
	int	 (*refs)(struct store_txn *, const void *rec);
	int	 (*get)(struct store_txn *, const char *id, void *rec);
	int	 (*put)(struct store_txn *, const void *rec, bool replace);
	int	 (*del)(struct store_txn *, const char *id);
};

static char **
str_at(void *rec, size_t off)
{
	return (char **)((char *)rec + off);
}

static const char *
cstr_at(const void *rec, size_t off)
{
	return *(char *const *)((const char *)rec + off);
}

static int
nomem(void)
{
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

/* Respond {key: obj} with status (0: the route's). */
static int
respond(struct http_resp *resp, int status, const char *key, json_t *obj)
{
	if (obj == NULL)
		return nomem();
	return http_resp_json(resp, status, json_pack("{s:o}", key, obj));
}

/* ---- services ----------------------------------------------------------- */

static json_t *
service_json(struct http_req *req, const void *rec)
{
	const struct rec_catalog_service *s = rec;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:b, s:{s:o}}", "id", s->id, "type",
	    s->type, "name", s->name ? s->name : "", "enabled", s->enabled,
	    "links", "self", identity_json_url(req, "/v3/services/%s", s->id));
	if (o == NULL)
		return NULL;
	if (s->description != NULL)
		json_object_set_new(o, "description",
		    json_string(s->description));
	identity_json_merge_extra(o, s->extra);
	return o;
}

static const char *const service_known[] = {
	"id", "type", "name", "description", "enabled", "links", NULL
};

static int
service_fields(json_t *o, void *rec, bool create)
{
	struct rec_catalog_service *s = rec;
	const char *type, *name, *desc;

	if (create)
		s->enabled = true;
	type = s->type;
	name = s->name;
	desc = s->description;
	if (jsonreq_str(JSONREQ_KEYSTONE, o, "type", 1, 255, JSONREQ_BYTES |
	    (create ? JSONREQ_REQUIRED : 0) |
	    JSONREQ_NONBLANK, &type, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "name", 0, 255, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &name, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "description", 0, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &desc, NULL) == -1 ||
	    jsonreq_bool(JSONREQ_KEYSTONE, o, "enabled", 0, &s->enabled,
	    NULL) == -1)
		return -1;
	s->type = (char *)type;
	s->name = (char *)name;
	s->description = (char *)desc;
	return 0;
}

static int
service_get(struct store_txn *txn, const char *id, void *rec)
{
	return idstore_service_get(txn, id, rec);
}

static int
service_put(struct store_txn *txn, const void *rec, bool replace)
{
	return idstore_service_put(txn, rec, replace);
}

static const struct catalog_kind service_kind = {
	.key = "service",
	.list_key = "services",
	.param = "service_id",
	.type = &schema_rec_catalog_service,
	.known = service_known,
	.id_off = offsetof(struct rec_catalog_service, id),
	.extra_off = offsetof(struct rec_catalog_service, extra),
	.created_off = offsetof(struct rec_catalog_service, created_at),
	.filters = {
		{ "type", offsetof(struct rec_catalog_service, type) },
		{ "name", offsetof(struct rec_catalog_service, name) },
	},
	.json = service_json,
	.fields = service_fields,
	.get = service_get,
	.put = service_put,
	.del = idstore_service_del,
};

/* ---- endpoints ---------------------------------------------------------- */

static json_t *
endpoint_json(struct http_req *req, const void *rec)
{
	const struct rec_catalog_endpoint *e = rec;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:b, s:{s:o}}",
	    "id", e->id, "interface", e->interface, "service_id", e->service_id,
	    "region_id", identity_json_str_or_null(e->region_id),
	    "region", identity_json_str_or_null(e->region_id), "url", e->url,
	    "enabled", e->enabled,
	    "links", "self", identity_json_url(req, "/v3/endpoints/%s", e->id));
	if (o != NULL)
		identity_json_merge_extra(o, e->extra);
	return o;
}

static const char *const endpoint_known[] = {
	"id", "service_id", "interface", "region_id", "region", "url",
	"enabled", "links", "legacy_endpoint_id", NULL
};

static int
endpoint_fields(json_t *o, void *rec, bool create)
{
	struct rec_catalog_endpoint *e = rec;
	const char *svc, *itf, *region, *url, *legacy = NULL;
	unsigned req = create ? JSONREQ_REQUIRED : 0;
	bool has_region = false;

	if (create)
		e->enabled = true;
	svc = e->service_id;
	itf = e->interface;
	region = e->region_id;
	url = e->url;
	if (jsonreq_str(JSONREQ_KEYSTONE, o, "service_id", 1, 64,
	    JSONREQ_BYTES | req, &svc, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "interface", 1, 16, JSONREQ_BYTES |
	    req, &itf, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "url", 1, 2048, JSONREQ_BYTES |
	    req, &url, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "region", 0, 255, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &legacy, &has_region) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "region_id", 0, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &region, NULL) == -1 ||
	    jsonreq_bool(JSONREQ_KEYSTONE, o, "enabled", 0, &e->enabled,
	    NULL) == -1)
		return -1;
	/* Older clients send "region"; "region_id" wins when both are
	 * present. */
	if (json_object_get(o, "region_id") == NULL && has_region)
		region = legacy;
	if (region != NULL && *region == '\0')
		region = NULL;
	if (strcmp(itf, "public") != 0 && strcmp(itf, "internal") != 0 &&
	    strcmp(itf, "admin") != 0) {
		err_set(TS_EINVALID, "Invalid input for field 'interface': "
		    "'%s' is not one of public, internal, admin.", itf);
		return -1;
	}
	if (strchr(url, ':') == NULL) {
		err_set(TS_EINVALID, "Invalid input for field 'url': not a "
		    "URL.");
		return -1;
	}
	e->service_id = (char *)svc;
	e->interface = (char *)itf;
	e->region_id = (char *)region;
	e->url = (char *)url;
	return 0;
}

/* A missing service keeps idstore's not-found (404); a missing region is
 * a bad value of the body's region_id (400). */
static int
endpoint_refs(struct store_txn *txn, const void *rec)
{
	const struct rec_catalog_endpoint *e = rec;
	struct rec_catalog_service s;
	struct rec_region r;

	if (idstore_service_get(txn, e->service_id, &s) == -1)
		return -1;
	codec_clear(&schema_rec_catalog_service, &s);
	if (e->region_id == NULL)
		return 0;
	if (idstore_region_get(txn, e->region_id, &r) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_EINVALID, "Invalid input for field "
			    "'region_id': region %s does not exist.",
			    e->region_id);
		return -1;
	}
	codec_clear(&schema_rec_region, &r);
	return 0;
}

static int
endpoint_get(struct store_txn *txn, const char *id, void *rec)
{
	return idstore_endpoint_get(txn, id, rec);
}

static int
endpoint_put(struct store_txn *txn, const void *rec, bool replace)
{
	return idstore_endpoint_put(txn, rec, replace);
}

static const struct catalog_kind endpoint_kind = {
	.key = "endpoint",
	.list_key = "endpoints",
	.param = "endpoint_id",
	.type = &schema_rec_catalog_endpoint,
	.known = endpoint_known,
	.id_off = offsetof(struct rec_catalog_endpoint, id),
	.extra_off = offsetof(struct rec_catalog_endpoint, extra),
	.created_off = offsetof(struct rec_catalog_endpoint, created_at),
	.filters = {
		{ "interface", offsetof(struct rec_catalog_endpoint,
		    interface) },
		{ "service_id", offsetof(struct rec_catalog_endpoint,
		    service_id) },
		{ "region_id", offsetof(struct rec_catalog_endpoint,
		    region_id) },
	},
	.json = endpoint_json,
	.fields = endpoint_fields,
	.refs = endpoint_refs,
	.get = endpoint_get,
	.put = endpoint_put,
	.del = idstore_endpoint_del,
};

/* ---- regions ------------------------------------------------------------ */

static json_t *
region_json(struct http_req *req, const void *rec)
{
	const struct rec_region *r = rec;
	json_t *o;

	o = json_pack("{s:s, s:s, s:o, s:{s:o}}", "id", r->id, "description",
	    r->description ? r->description : "", "parent_region_id",
	    identity_json_str_or_null(r->parent_region_id),
	    "links", "self", identity_json_url(req, "/v3/regions/%s", r->id));
	if (o != NULL)
		identity_json_merge_extra(o, r->extra);
	return o;
}

static const char *const region_known[] = {
	"id", "description", "parent_region_id", "links", NULL
};

static int
region_fields(json_t *o, void *rec, bool create)
{
	struct rec_region *r = rec;
	const char *desc = r->description, *parent = r->parent_region_id;

	if (jsonreq_str(JSONREQ_KEYSTONE, o, "description", 0, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &desc, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "parent_region_id", 1, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &parent, NULL) == -1)
		return -1;
	r->description = (char *)desc;
	r->parent_region_id = (char *)parent;
	return 0;
}

static int
region_refs(struct store_txn *txn, const void *rec)
{
	const struct rec_region *r = rec;
	struct rec_region p;

	if (r->parent_region_id == NULL)
		return 0;
	if (strcmp(r->parent_region_id, r->id) == 0) {
		err_set(TS_EINVALID, "A region cannot be its own parent.");
		return -1;
	}
	if (idstore_region_get(txn, r->parent_region_id, &p) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_EINVALID, "Parent region %s not found.",
			    r->parent_region_id);
		return -1;
	}
	codec_clear(&schema_rec_region, &p);
	return 0;
}

static int
region_get(struct store_txn *txn, const char *id, void *rec)
{
	return idstore_region_get(txn, id, rec);
}

static int
region_put(struct store_txn *txn, const void *rec, bool replace)
{
	return idstore_region_put(txn, rec, replace);
}

static const struct catalog_kind region_kind = {
	.key = "region",
	.list_key = "regions",
	.param = "region_id",
	.type = &schema_rec_region,
	.known = region_known,
	.id_off = offsetof(struct rec_region, id),
	.extra_off = offsetof(struct rec_region, extra),
	.created_off = offsetof(struct rec_region, created_at),
	.filters = {
		{ "parent_region_id", offsetof(struct rec_region,
		    parent_region_id) },
	},
	.client_id = true,
	.json = region_json,
	.fields = region_fields,
	.refs = region_refs,
	.get = region_get,
	.put = region_put,
	.del = idstore_region_del,
};

/* ---- list --------------------------------------------------------------- */

struct list {
	const struct catalog_kind	*kind;
	struct http_req			*req;
	json_t				*items;
	const char			*want[CATALOG_FILTERS];
};

static bool
eq_or_unset(const char *filter, const char *value)
{
	return filter == NULL || (value != NULL && strcmp(filter, value) == 0);
}

static int
list_one(const void *rec, void *arg)
{
	struct list *l = arg;
	size_t i;

	for (i = 0; i < CATALOG_FILTERS; i++)
		if (!eq_or_unset(l->want[i],
		    cstr_at(rec, l->kind->filters[i].off)))
			return 0;
	return json_array_append_new(l->items, l->kind->json(l->req, rec)) ==
	    0 ? 0 : nomem();
}

static int
list(struct http_req *req, struct http_resp *resp,
    const struct catalog_kind *k)
{
	struct list l = { k, req, json_array(), { NULL } };
	struct store_txn *txn = NULL;
	size_t i;
	int rc;

	if (l.items == NULL)
		return nomem();
	for (i = 0; i < CATALOG_FILTERS; i++)
		if (k->filters[i].query != NULL)
			l.want[i] = http_req_query(req, k->filters[i].query);
	if (identity_json_read(req, &txn) == -1) {
		json_decref(l.items);
		return -1;
	}
	rc = idstore_each(txn, k->type, list_one, &l);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(l.items);
		return -1;
	}
	return http_resp_json(resp, 0, identity_json_list(req, k->list_key, l.items));
}

/* ---- show --------------------------------------------------------------- */

static int
show(struct http_req *req, struct http_resp *resp,
    const struct catalog_kind *k)
{
	union catalog_rec rec;
	struct store_txn *txn = NULL;
	json_t *o = NULL;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = k->get(txn, http_req_param(req, k->param), &rec);
	if (rc == 0 && (o = k->json(req, &rec)) == NULL)
		rc = nomem();
	codec_clear(k->type, &rec);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, k->key, o) : -1;
}

/* ---- create, update, delete --------------------------------------------- */

/* What a write function works on. Strings in rec are borrowed from the
 * body (or the old record), except extra, which the handler frees. */
struct write {
	const struct catalog_kind	*kind;
	union catalog_rec		 rec;
	char				*extra;
	json_t				*body;
	const char			*id;
	json_t				*out;	/* update: the new record */
	struct http_req			*req;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct write *w = arg;

	if (w->kind->refs != NULL && w->kind->refs(txn, &w->rec) == -1)
		return -1;
	return w->kind->put(txn, &w->rec, false);
}

/* POST, and for kinds the client names, PUT to url_id (NULL for POST). */
static int
create(struct http_req *req, struct http_resp *resp,
    const struct catalog_kind *k, const char *url_id)
{
	struct write w;
	char gen[TOKEN_ID_BUFSZ];
	const char *id = NULL;
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	w.kind = k;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), k->key,
	    &o) == -1)
		return -1;
	if ((k->client_id && jsonreq_str(JSONREQ_KEYSTONE, o, "id", 1, 255,
	    JSONREQ_BYTES | JSONREQ_NONBLANK, &id, NULL) == -1) ||
	    k->fields(o, &w.rec, true) == -1 ||
	    identity_json_extra(o, k->known, NULL, &w.extra) == -1)
		return -1;
	if (url_id != NULL) {
		if (id != NULL && strcmp(id, url_id) != 0) {
			free(w.extra);
			err_set(TS_EINVALID, "The %s id in the body does "
			    "not match the URL.", k->key);
			return -1;
		}
		id = url_id;
	}
	if (id == NULL) {
		idstore_id_new(gen);
		id = gen;
	}
	*str_at(&w.rec, k->id_off) = (char *)id;
	*str_at(&w.rec, k->extra_off) = w.extra;
	*(int64_t *)((char *)&w.rec + k->created_off) = db_now_ms();
	rc = identity_json_write(req, create_fn, &w);
	if (rc == 0)
		rc = respond(resp, 201, k->key, k->json(req, &w.rec));
	free(w.extra);
	return rc;
}

static int
update_fn(struct store_txn *txn, void *arg)
{
	struct write *w = arg;
	const struct catalog_kind *k = w->kind;
	union catalog_rec keep;
	int rc = -1;

	if (k->get(txn, w->id, &w->rec) == -1)
		return -1;
	/* The fields borrow strings from the body; the stored record's own
	 * strings go back in before it is cleared. */
	keep = w->rec;
	if (k->fields(w->body, &w->rec, false) == -1 ||
	    (k->refs != NULL && k->refs(txn, &w->rec) == -1) ||
	    identity_json_extra(w->body, k->known, cstr_at(&keep, k->extra_off),
	    &w->extra) == -1)
		goto out;
	*str_at(&w->rec, k->extra_off) = w->extra;
	if (k->put(txn, &w->rec, true) == -1)
		goto out;
	if ((w->out = k->json(w->req, &w->rec)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	w->rec = keep;
	codec_clear(k->type, &w->rec);
	return rc;
}

static int
update(struct http_req *req, struct http_resp *resp,
    const struct catalog_kind *k)
{
	struct write w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.kind = k;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), k->key,
	    &w.body) == -1)
		return -1;
	w.id = http_req_param(req, k->param);
	w.req = req;
	rc = identity_json_write(req, update_fn, &w);
	free(w.extra);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 0, k->key, w.out);
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	const struct write *w = arg;

	return w->kind->del(txn, w->id);
}

static int
delete(struct http_req *req, const struct catalog_kind *k)
{
	struct write w;

	memset(&w, 0, sizeof(w));
	w.kind = k;
	w.id = http_req_param(req, k->param);
	return identity_json_write(req, delete_fn, &w);
}

/* ---- routes ------------------------------------------------------------- */

int
identity_catalog_api_service_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, &service_kind);
}

int
identity_catalog_api_service_create(struct http_req *req, struct http_resp *resp)
{
	return create(req, resp, &service_kind, NULL);
}

int
identity_catalog_api_service_get(struct http_req *req, struct http_resp *resp)
{
	return show(req, resp, &service_kind);
}

int
identity_catalog_api_service_update(struct http_req *req, struct http_resp *resp)
{
	return update(req, resp, &service_kind);
}

int
identity_catalog_api_service_delete(struct http_req *req, struct http_resp *resp)
{
	return delete(req, &service_kind);
}

int
identity_catalog_api_endpoint_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, &endpoint_kind);
}

int
identity_catalog_api_endpoint_create(struct http_req *req, struct http_resp *resp)
{
	return create(req, resp, &endpoint_kind, NULL);
}

int
identity_catalog_api_endpoint_get(struct http_req *req, struct http_resp *resp)
{
	return show(req, resp, &endpoint_kind);
}

int
identity_catalog_api_endpoint_update(struct http_req *req, struct http_resp *resp)
{
	return update(req, resp, &endpoint_kind);
}

int
identity_catalog_api_endpoint_delete(struct http_req *req, struct http_resp *resp)
{
	return delete(req, &endpoint_kind);
}

int
identity_catalog_api_region_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, &region_kind);
}

int
identity_catalog_api_region_create(struct http_req *req, struct http_resp *resp)
{
	return create(req, resp, &region_kind, NULL);
}

/* PUT /v3/regions/{region_id}: create under the client's id. */
int
identity_catalog_api_region_put(struct http_req *req, struct http_resp *resp)
{
	return create(req, resp, &region_kind,
	    http_req_param(req, "region_id"));
}

int
identity_catalog_api_region_get(struct http_req *req, struct http_resp *resp)
{
	return show(req, resp, &region_kind);
}

int
identity_catalog_api_region_update(struct http_req *req, struct http_resp *resp)
{
	return update(req, resp, &region_kind);
}

int
identity_catalog_api_region_delete(struct http_req *req, struct http_resp *resp)
{
	return delete(req, &region_kind);
}
