/*
 * identity_catalog_api: /v3/services, /v3/endpoints and /v3/regions (the
 * records behind the catalog that identity_catalog.c renders). See
 * identity.h for the rules the identity handlers follow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "db.h"
#include "err.h"
#include "identity.h"
#include "log.h"

/* ---- JSON of the records ------------------------------------------------ */

static json_t *
service_json(struct http_req *req, const struct rec_catalog_service *s)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:b, s:{s:o}}", "id", s->id, "type",
	    s->type, "name", s->name ? s->name : "", "enabled", s->enabled,
	    "links", "self", idjson_url(req, "/v3/services/%s", s->id));
	if (o == NULL)
		return NULL;
	if (s->description != NULL)
		json_object_set_new(o, "description",
		    json_string(s->description));
	idjson_merge_extra(o, s->extra);
	return o;
}

static json_t *
endpoint_json(struct http_req *req, const struct rec_catalog_endpoint *e)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:b, s:{s:o}}",
	    "id", e->id, "interface", e->interface, "service_id", e->service_id,
	    "region_id", idjson_str_or_null(e->region_id),
	    "region", idjson_str_or_null(e->region_id), "url", e->url,
	    "enabled", e->enabled,
	    "links", "self", idjson_url(req, "/v3/endpoints/%s", e->id));
	if (o != NULL)
		idjson_merge_extra(o, e->extra);
	return o;
}

static json_t *
region_json(struct http_req *req, const struct rec_region *r)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:o, s:{s:o}}", "id", r->id, "description",
	    r->description ? r->description : "", "parent_region_id",
	    idjson_str_or_null(r->parent_region_id),
	    "links", "self", idjson_url(req, "/v3/regions/%s", r->id));
	if (o != NULL)
		idjson_merge_extra(o, r->extra);
	return o;
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

/* ---- lists -------------------------------------------------------------- */

struct list {
	struct http_req	*req;
	json_t		*items;
	const char	*f1, *f2, *f3;	/* filters, per list */
};

static bool
eq_or_unset(const char *filter, const char *value)
{
	return filter == NULL || (value != NULL && strcmp(filter, value) == 0);
}

static int
list_service(const void *obj, void *arg)
{
	const struct rec_catalog_service *s = obj;
	struct list *l = arg;

	if (!eq_or_unset(l->f1, s->type) || !eq_or_unset(l->f2, s->name))
		return 0;
	return json_array_append_new(l->items, service_json(l->req, s)) == 0 ?
	    0 : nomem();
}

static int
list_endpoint(const void *obj, void *arg)
{
	const struct rec_catalog_endpoint *e = obj;
	struct list *l = arg;

	if (!eq_or_unset(l->f1, e->interface) ||
	    !eq_or_unset(l->f2, e->service_id) ||
	    !eq_or_unset(l->f3, e->region_id))
		return 0;
	return json_array_append_new(l->items, endpoint_json(l->req, e)) == 0 ?
	    0 : nomem();
}

static int
list_region(const void *obj, void *arg)
{
	const struct rec_region *r = obj;
	struct list *l = arg;

	if (!eq_or_unset(l->f1, r->parent_region_id))
		return 0;
	return json_array_append_new(l->items, region_json(l->req, r)) == 0 ?
	    0 : nomem();
}

static int
list(struct http_req *req, struct http_resp *resp,
    const struct schema_type *type, int (*cb)(const void *, void *),
    const char *key, const char *f1, const char *f2, const char *f3)
{
	struct list l = { req, json_array(), f1, f2, f3 };
	struct store_txn *txn = NULL;
	int rc;

	if (l.items == NULL)
		return nomem();
	if (idjson_read(req, &txn) == -1) {
		json_decref(l.items);
		return -1;
	}
	rc = idstore_each(txn, type, cb, &l);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(l.items);
		return -1;
	}
	return http_resp_json(resp, 0, idjson_list(req, key, l.items));
}

int
identity_service_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, &schema_rec_catalog_service, list_service,
	    "services", http_req_query(req, "type"),
	    http_req_query(req, "name"), NULL);
}

int
identity_endpoint_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, &schema_rec_catalog_endpoint, list_endpoint,
	    "endpoints", http_req_query(req, "interface"),
	    http_req_query(req, "service_id"),
	    http_req_query(req, "region_id"));
}

int
identity_region_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, &schema_rec_region, list_region, "regions",
	    http_req_query(req, "parent_region_id"), NULL, NULL);
}

/* ---- get ---------------------------------------------------------------- */

int
identity_service_get(struct http_req *req, struct http_resp *resp)
{
	struct rec_catalog_service s;
	struct store_txn *txn = NULL;
	json_t *o = NULL;
	int rc;

	if (idjson_read(req, &txn) == -1)
		return -1;
	rc = idstore_service_get(txn, http_req_param(req, "service_id"), &s);
	if (rc == 0 && (o = service_json(req, &s)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_catalog_service, &s);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, "service", o) : -1;
}

int
identity_endpoint_get(struct http_req *req, struct http_resp *resp)
{
	struct rec_catalog_endpoint e;
	struct store_txn *txn = NULL;
	json_t *o = NULL;
	int rc;

	if (idjson_read(req, &txn) == -1)
		return -1;
	rc = idstore_endpoint_get(txn, http_req_param(req, "endpoint_id"), &e);
	if (rc == 0 && (o = endpoint_json(req, &e)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_catalog_endpoint, &e);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, "endpoint", o) : -1;
}

int
identity_region_get(struct http_req *req, struct http_resp *resp)
{
	struct rec_region r;
	struct store_txn *txn = NULL;
	json_t *o = NULL;
	int rc;

	if (idjson_read(req, &txn) == -1)
		return -1;
	rc = idstore_region_get(txn, http_req_param(req, "region_id"), &r);
	if (rc == 0 && (o = region_json(req, &r)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_region, &r);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, "region", o) : -1;
}

/* ---- services: create, update, delete ----------------------------------- */

static const char *const service_known[] = {
	"id", "type", "name", "description", "enabled", "links", NULL
};

/* Fields of a service body into s (strings borrowed from the body). */
static int
service_fields(json_t *o, struct rec_catalog_service *s, bool create)
{
	const char *type = s->type, *name = s->name, *desc = s->description;

	if (idjson_str(o, "type", 1, 255, (create ? IDJ_REQUIRED : 0) |
	    IDJ_NONBLANK, &type, NULL) == -1 ||
	    idjson_str(o, "name", 0, 255, IDJ_NULLABLE, &name, NULL) == -1 ||
	    idjson_str(o, "description", 0, 255, IDJ_NULLABLE, &desc,
	    NULL) == -1 ||
	    idjson_bool(o, "enabled", &s->enabled, NULL) == -1)
		return -1;
	s->type = (char *)type;
	s->name = (char *)name;
	s->description = (char *)desc;
	return 0;
}

struct svc_write {
	struct rec_catalog_service	 s;	/* strings borrowed */
	char				*extra;
	json_t				*body;
	const char			*id;
	json_t				*out;
	struct http_req			*req;
};

static int
service_create_fn(struct store_txn *txn, void *arg)
{
	struct svc_write *w = arg;

	return idstore_service_put(txn, &w->s, false);
}

int
identity_service_create(struct http_req *req, struct http_resp *resp)
{
	struct svc_write w;
	char id[TOKEN_ID_BUFSZ];
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	if (idjson_body(req, "service", &o) == -1)
		return -1;
	w.s.enabled = true;
	if (service_fields(o, &w.s, true) == -1 ||
	    idjson_extra(o, service_known, NULL, &w.extra) == -1)
		return -1;
	idstore_id_new(id);
	w.s.id = id;
	w.s.extra = w.extra;
	w.s.created_at = db_now_ms();
	rc = idjson_write(req, service_create_fn, &w);
	if (rc == 0)
		rc = respond(resp, 201, "service", service_json(req, &w.s));
	free(w.extra);
	return rc;
}

static int
service_update_fn(struct store_txn *txn, void *arg)
{
	struct svc_write *w = arg;
	struct rec_catalog_service s;
	char *keep[4];
	int rc = -1;

	if (idstore_service_get(txn, w->id, &s) == -1)
		return -1;
	keep[0] = s.type;
	keep[1] = s.name;
	keep[2] = s.description;
	keep[3] = s.extra;
	if (service_fields(w->body, &s, false) == -1 ||
	    idjson_extra(w->body, service_known, keep[3], &w->extra) == -1)
		goto out;
	s.extra = w->extra;
	if (idstore_service_put(txn, &s, true) == -1)
		goto out;
	if ((w->out = service_json(w->req, &s)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	s.type = keep[0];
	s.name = keep[1];
	s.description = keep[2];
	s.extra = keep[3];
	codec_clear(&schema_rec_catalog_service, &s);
	return rc;
}

int
identity_service_update(struct http_req *req, struct http_resp *resp)
{
	struct svc_write w;
	int rc;

	memset(&w, 0, sizeof(w));
	if (idjson_body(req, "service", &w.body) == -1)
		return -1;
	w.id = http_req_param(req, "service_id");
	w.req = req;
	rc = idjson_write(req, service_update_fn, &w);
	free(w.extra);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 0, "service", w.out);
}

static int
service_delete_fn(struct store_txn *txn, void *arg)
{
	return idstore_service_del(txn, arg);
}

int
identity_service_delete(struct http_req *req, struct http_resp *resp)
{
	return idjson_write(req, service_delete_fn,
	    (void *)http_req_param(req, "service_id"));
}

/* ---- endpoints ---------------------------------------------------------- */

static const char *const endpoint_known[] = {
	"id", "service_id", "interface", "region_id", "region", "url",
	"enabled", "links", "legacy_endpoint_id", NULL
};

static int
endpoint_fields(json_t *o, struct rec_catalog_endpoint *e, bool create)
{
	const char *svc = e->service_id, *itf = e->interface,
	    *region = e->region_id, *url = e->url, *legacy = NULL;
	unsigned req = create ? IDJ_REQUIRED : 0;
	bool has_region = false;

	if (idjson_str(o, "service_id", 1, 64, req, &svc, NULL) == -1 ||
	    idjson_str(o, "interface", 1, 16, req, &itf, NULL) == -1 ||
	    idjson_str(o, "url", 1, 2048, req, &url, NULL) == -1 ||
	    idjson_str(o, "region", 0, 255, IDJ_NULLABLE, &legacy,
	    &has_region) == -1 ||
	    idjson_str(o, "region_id", 0, 255, IDJ_NULLABLE, &region,
	    NULL) == -1 ||
	    idjson_bool(o, "enabled", &e->enabled, NULL) == -1)
		return -1;
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

/* The references of an endpoint exist (in the write transaction). */
static int
endpoint_refs(struct store_txn *txn, const struct rec_catalog_endpoint *e)
{
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

struct ep_write {
	struct rec_catalog_endpoint	 e;
	char				*extra;
	json_t				*body;
	const char			*id;
	json_t				*out;
	struct http_req			*req;
};

static int
endpoint_create_fn(struct store_txn *txn, void *arg)
{
	struct ep_write *w = arg;

	if (endpoint_refs(txn, &w->e) == -1)
		return -1;
	return idstore_endpoint_put(txn, &w->e, false);
}

int
identity_endpoint_create(struct http_req *req, struct http_resp *resp)
{
	struct ep_write w;
	char id[TOKEN_ID_BUFSZ];
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	if (idjson_body(req, "endpoint", &o) == -1)
		return -1;
	w.e.enabled = true;
	if (endpoint_fields(o, &w.e, true) == -1 ||
	    idjson_extra(o, endpoint_known, NULL, &w.extra) == -1)
		return -1;
	idstore_id_new(id);
	w.e.id = id;
	w.e.extra = w.extra;
	w.e.created_at = db_now_ms();
	rc = idjson_write(req, endpoint_create_fn, &w);
	if (rc == 0)
		rc = respond(resp, 201, "endpoint", endpoint_json(req, &w.e));
	free(w.extra);
	return rc;
}

static int
endpoint_update_fn(struct store_txn *txn, void *arg)
{
	struct ep_write *w = arg;
	struct rec_catalog_endpoint e;
	char *keep[5];
	int rc = -1;

	if (idstore_endpoint_get(txn, w->id, &e) == -1)
		return -1;
	keep[0] = e.service_id;
	keep[1] = e.interface;
	keep[2] = e.region_id;
	keep[3] = e.url;
	keep[4] = e.extra;
	if (endpoint_fields(w->body, &e, false) == -1 ||
	    endpoint_refs(txn, &e) == -1 ||
	    idjson_extra(w->body, endpoint_known, keep[4], &w->extra) == -1)
		goto out;
	e.extra = w->extra;
	if (idstore_endpoint_put(txn, &e, true) == -1)
		goto out;
	if ((w->out = endpoint_json(w->req, &e)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	e.service_id = keep[0];
	e.interface = keep[1];
	e.region_id = keep[2];
	e.url = keep[3];
	e.extra = keep[4];
	codec_clear(&schema_rec_catalog_endpoint, &e);
	return rc;
}

int
identity_endpoint_update(struct http_req *req, struct http_resp *resp)
{
	struct ep_write w;
	int rc;

	memset(&w, 0, sizeof(w));
	if (idjson_body(req, "endpoint", &w.body) == -1)
		return -1;
	w.id = http_req_param(req, "endpoint_id");
	w.req = req;
	rc = idjson_write(req, endpoint_update_fn, &w);
	free(w.extra);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 0, "endpoint", w.out);
}

static int
endpoint_delete_fn(struct store_txn *txn, void *arg)
{
	return idstore_endpoint_del(txn, arg);
}

int
identity_endpoint_delete(struct http_req *req, struct http_resp *resp)
{
	return idjson_write(req, endpoint_delete_fn,
	    (void *)http_req_param(req, "endpoint_id"));
}

/* ---- regions ------------------------------------------------------------ */

static const char *const region_known[] = {
	"id", "description", "parent_region_id", "links", NULL
};

struct rg_write {
	struct rec_region	 r;
	char			*extra;
	json_t			*body;
	json_t			*out;
	struct http_req		*req;
};

static int
region_fields(json_t *o, struct rec_region *r)
{
	const char *desc = r->description, *parent = r->parent_region_id;

	if (idjson_str(o, "description", 0, 255, IDJ_NULLABLE, &desc,
	    NULL) == -1 ||
	    idjson_str(o, "parent_region_id", 1, 255, IDJ_NULLABLE, &parent,
	    NULL) == -1)
		return -1;
	r->description = (char *)desc;
	r->parent_region_id = (char *)parent;
	return 0;
}

static int
region_parent_ok(struct store_txn *txn, const struct rec_region *r)
{
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
region_create_fn(struct store_txn *txn, void *arg)
{
	struct rg_write *w = arg;

	if (region_parent_ok(txn, &w->r) == -1)
		return -1;
	return idstore_region_put(txn, &w->r, false);
}

/* POST (id from the body or generated) and PUT /v3/regions/{id}. */
static int
region_create(struct http_req *req, struct http_resp *resp, const char *url_id)
{
	struct rg_write w;
	char gen[TOKEN_ID_BUFSZ];
	const char *id = NULL;
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	if (idjson_body(req, "region", &o) == -1)
		return -1;
	if (idjson_str(o, "id", 1, 255, IDJ_NONBLANK, &id, NULL) == -1 ||
	    region_fields(o, &w.r) == -1 ||
	    idjson_extra(o, region_known, NULL, &w.extra) == -1)
		return -1;
	if (url_id != NULL) {
		if (id != NULL && strcmp(id, url_id) != 0) {
			free(w.extra);
			err_set(TS_EINVALID, "The region id in the body does "
			    "not match the URL.");
			return -1;
		}
		id = url_id;
	}
	if (id == NULL) {
		idstore_id_new(gen);
		id = gen;
	}
	w.r.id = (char *)id;
	w.r.extra = w.extra;
	w.r.created_at = db_now_ms();
	rc = idjson_write(req, region_create_fn, &w);
	if (rc == 0)
		rc = respond(resp, 201, "region", region_json(req, &w.r));
	free(w.extra);
	return rc;
}

int
identity_region_create(struct http_req *req, struct http_resp *resp)
{
	return region_create(req, resp, NULL);
}

int
identity_region_put(struct http_req *req, struct http_resp *resp)
{
	return region_create(req, resp, http_req_param(req, "region_id"));
}

static int
region_update_fn(struct store_txn *txn, void *arg)
{
	struct rg_write *w = arg;
	struct rec_region r;
	char *keep[3];
	int rc = -1;

	if (idstore_region_get(txn, http_req_param(w->req, "region_id"), &r) ==
	    -1)
		return -1;
	keep[0] = r.description;
	keep[1] = r.parent_region_id;
	keep[2] = r.extra;
	if (region_fields(w->body, &r) == -1 ||
	    region_parent_ok(txn, &r) == -1 ||
	    idjson_extra(w->body, region_known, keep[2], &w->extra) == -1)
		goto out;
	r.extra = w->extra;
	if (idstore_region_put(txn, &r, true) == -1)
		goto out;
	if ((w->out = region_json(w->req, &r)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	r.description = keep[0];
	r.parent_region_id = keep[1];
	r.extra = keep[2];
	codec_clear(&schema_rec_region, &r);
	return rc;
}

int
identity_region_update(struct http_req *req, struct http_resp *resp)
{
	struct rg_write w;
	int rc;

	memset(&w, 0, sizeof(w));
	if (idjson_body(req, "region", &w.body) == -1)
		return -1;
	w.req = req;
	rc = idjson_write(req, region_update_fn, &w);
	free(w.extra);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 0, "region", w.out);
}

static int
region_delete_fn(struct store_txn *txn, void *arg)
{
	return idstore_region_del(txn, arg);
}

int
identity_region_delete(struct http_req *req, struct http_resp *resp)
{
	return idjson_write(req, region_delete_fn,
	    (void *)http_req_param(req, "region_id"));
}
