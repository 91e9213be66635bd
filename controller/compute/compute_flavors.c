/*
 * compute_flavors: flavors, their extra specs and access lists (Nova's
 * flavors, os-flavor-manage, os-flavor-extra-specs, os-flavor-access).
 *
 * Instances copy the flavor they are built with, so deleting or changing
 * a flavor never changes an existing server. A private flavor is visible
 * to the admin and to the projects on its access list only; to others it
 * does not exist (404).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "compute_int.h"
#include "core/db.h"
#include "err.h"
#include "log.h"

#define FLAVOR_ID_MAX		255
#define EXTRA_SPECS_MAX		256

static json_t *
flavor_json(struct http_req *req, const struct rec_flavor *f, bool detail)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "id", f->id, "name", f->name,
	    "links", compute_links(req, "flavors", f->id));

	if (o == NULL || !detail)
		return o;
	json_object_set_new(o, "ram", json_integer((json_int_t)f->ram));
	json_object_set_new(o, "vcpus", json_integer(f->vcpus));
	json_object_set_new(o, "disk", json_integer((json_int_t)f->disk));
	/* Nova shows a zero swap as "". */
	json_object_set_new(o, "swap", f->swap ?
	    json_integer((json_int_t)f->swap) : json_string(""));
	json_object_set_new(o, "OS-FLV-EXT-DATA:ephemeral",
	    json_integer((json_int_t)f->ephemeral));
	json_object_set_new(o, "rxtx_factor",
	    json_real((double)f->rxtx_milli / 1000.0));
	json_object_set_new(o, "os-flavor-access:is_public",
	    json_boolean(f->is_public));
	json_object_set_new(o, "OS-FLV-DISABLED:disabled",
	    json_boolean(f->disabled));
	return o;
}

static bool
has_access(const struct rec_flavor *f, const char *project)
{
	if (f->is_public)
		return true;
	for (size_t k = 0; project && k < f->projects.n; k++)
		if (strcmp(f->projects.items[k], project) == 0)
			return true;
	return false;
}

/* The flavor of {flavor_id}, if the caller may see it. */
static int
load(struct http_req *req, struct rec_flavor *f)
{
	const char *id = http_req_param(req, "flavor_id");
	const struct request_ctx *c = compute_ctx(req);
	struct store_txn *txn = NULL;
	int rc;

	memset(f, 0, sizeof(*f));
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_flavor_get(txn, id, f);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	if (!compute_is_admin(req) && !has_access(f, c->project_id)) {
		codec_clear(&schema_rec_flavor, f);
		err_set(TS_ENOT_FOUND, "Flavor %s could not be found.", id);
		return -1;
	}
	return 0;
}

/* ---- list ----------------------------------------------------------------- */

struct flist {
	const char		*project;
	int			 is_public;	/* 1 public, 0 private, -1 all */
	bool			 admin;
	int64_t			 min_ram, min_disk;
	struct rec_flavor	*v;
	size_t			 n, cap;
	/* Nova finds the marker among every flavor the caller may see,
	 * whatever the filters (_flavor_get_all_from_db): a copy, owned. */
	const char		*marker;
	struct rec_flavor	 mk;
	bool			 has_mk;
};

static int
copy_flavor(const struct rec_flavor *f, struct rec_flavor *out)
{
	struct buf b = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = codec_record_encode(&schema_rec_flavor, f, &b) == -1 ||
	    codec_record_decode(&schema_rec_flavor, b.data, b.len, out,
	    NULL) == -1 ? -1 : 0;
	buf_free(&b);
	if (rc == -1)
		codec_clear(&schema_rec_flavor, out);
	return rc;
}

static int
flist_cb(const struct rec_flavor *f, void *arg)
{
	struct flist *l = arg;

	if (l->marker != NULL && !l->has_mk && strcmp(f->id, l->marker) ==
	    0 && (l->admin || has_access(f, l->project))) {
		if (copy_flavor(f, &l->mk) == -1)
			return -1;
		l->has_mk = true;
	}
	if (l->admin) {
		if (l->is_public != -1 && (int)f->is_public != l->is_public)
			return 0;
	} else if (f->disabled || !has_access(f, l->project)) {
		return 0;
	}
	if ((int64_t)f->ram < l->min_ram || (int64_t)f->disk < l->min_disk)
		return 0;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct rec_flavor *nv = realloc(l->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		l->v = nv;
		l->cap = ncap;
	}
	if (copy_flavor(f, &l->v[l->n]) == -1)
		return -1;
	l->n++;
	return 0;
}

/* Nova sorts by flavorid; numeric ids in numeric order reads better and
 * is what its integer-id era gave. */
static int
cmp_id(const struct rec_flavor *x, const struct rec_flavor *y)
{
	char *ex, *ey;
	long long nx = strtoll(x->id, &ex, 10), ny = strtoll(y->id, &ey, 10);

	if (*x->id && *ex == '\0' && *y->id && *ey == '\0' && nx != ny)
		return nx < ny ? -1 : 1;
	return strcmp(x->id, y->id);
}

#define CMP(a, b)	((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

/*
 * Nova's sort_key (paginate_query over [sort_key, id], both in sort_dir).
 * Its internal id, updated_at and vcpu_weight (never set here) are the
 * creation order; a description absent sorts first, as SQL's NULL.
 */
enum fsort { FS_FLAVORID, FS_NAME, FS_RAM, FS_VCPUS, FS_DISK, FS_SWAP,
    FS_EPHEMERAL, FS_RXTX, FS_PUBLIC, FS_DISABLED, FS_DESCRIPTION,
    FS_CREATED };

struct fsort_by {
	enum fsort	key;
	int		dir;		/* 1 asc, -1 desc */
};

static const struct {
	const char	*name;
	enum fsort	 key;
} fsort_names[] = {
	{ "flavorid", FS_FLAVORID }, { "name", FS_NAME },
	{ "memory_mb", FS_RAM }, { "vcpus", FS_VCPUS },
	{ "root_gb", FS_DISK }, { "swap", FS_SWAP },
	{ "ephemeral_gb", FS_EPHEMERAL }, { "rxtx_factor", FS_RXTX },
	{ "is_public", FS_PUBLIC }, { "disabled", FS_DISABLED },
	{ "description", FS_DESCRIPTION }, { "created_at", FS_CREATED },
	{ "updated_at", FS_CREATED }, { "id", FS_CREATED },
	{ "vcpu_weight", FS_CREATED },
};

static int
cmp_key(const struct rec_flavor *x, const struct rec_flavor *y, enum fsort k)
{
	switch (k) {
	case FS_NAME:
		return strcmp(x->name, y->name);
	case FS_RAM:
		return CMP(x->ram, y->ram);
	case FS_VCPUS:
		return CMP(x->vcpus, y->vcpus);
	case FS_DISK:
		return CMP(x->disk, y->disk);
	case FS_SWAP:
		return CMP(x->swap, y->swap);
	case FS_EPHEMERAL:
		return CMP(x->ephemeral, y->ephemeral);
	case FS_RXTX:
		return CMP(x->rxtx_milli, y->rxtx_milli);
	case FS_PUBLIC:
		return CMP(x->is_public, y->is_public);
	case FS_DISABLED:
		return CMP(x->disabled, y->disabled);
	case FS_DESCRIPTION:
		if (x->description == NULL || y->description == NULL)
			return CMP(x->description != NULL,
			    y->description != NULL);
		return strcmp(x->description, y->description);
	case FS_CREATED:
		return CMP(x->created_at, y->created_at);
	default:
		return cmp_id(x, y);
	}
}

static int
cmp_flavor(const void *a, const void *b, void *arg)
{
	const struct rec_flavor *x = a, *y = b;
	const struct fsort_by *by = arg;
	int c = cmp_key(x, y, by->key);

	if (c == 0)
		c = CMP(x->created_at, y->created_at);
	if (c == 0)
		c = cmp_id(x, y);
	return by->dir * c;
}

/* Nova's flavors index_query (2.1-2.74; sort keys of before 2.102). */
static const char *const sort_keys[] = { "created_at", "description",
    "disabled", "ephemeral_gb", "flavorid", "id", "is_public", "memory_mb",
    "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpu_weight",
    "vcpus", NULL };
static const char *const sort_dirs[] = { "asc", "desc", NULL };
static const struct jsonreq_qparam list_query[] = {
	{ "limit", JSONREQ_Q_UINT, NULL },
	{ "sort_key", JSONREQ_Q_ENUM, sort_keys },
	{ "sort_dir", JSONREQ_Q_ENUM, sort_dirs },
};

/* minRam/minDisk: Nova's int() of the string; a negative one filters
 * nothing out. */
static int
min_filter(struct http_req *req, const char *k, int64_t *out)
{
	const char *v = http_req_query(req, k);
	char *end;
	long long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	while (end != v && isspace((unsigned char)*end))
		end++;
	if (end == v || *end != '\0' || errno) {
		err_set(TS_EINVALID, "Invalid %s filter [%.64s]", k, v);
		return -1;
	}
	*out = n;
	return 0;
}

static int
flavor_list(struct http_req *req, struct http_resp *resp, bool detail)
{
	const struct request_ctx *c = compute_ctx(req);
	struct flist l = { .is_public = 1, .min_ram = INT64_MIN,
	    .min_disk = INT64_MIN, .marker = http_req_query(req, "marker") };
	struct store_txn *txn = NULL;
	const char *pub = http_req_query(req, "is_public");
	struct fsort_by by = { FS_FLAVORID, 1 };
	const char *sk;
	int64_t limit;
	bool has_limit, b;
	size_t start = 0, end;
	json_t *arr, *body;
	int rc, mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    COMPUTE_QUERY_CHECK(req, list_query, false) == -1)
		return -1;
	limit = compute_query_limit(req, 1000, &has_limit);
	/* The table admitted only Nova's keys and directions. */
	if ((sk = http_req_query(req, "sort_key")) != NULL)
		for (size_t k = 0; k < sizeof(fsort_names) /
		    sizeof(fsort_names[0]); k++)
			if (strcmp(sk, fsort_names[k].name) == 0)
				by.key = fsort_names[k].key;
	if ((sk = http_req_query(req, "sort_dir")) != NULL &&
	    strcmp(sk, "desc") == 0)
		by.dir = -1;
	l.admin = compute_is_admin(req);
	l.project = c->project_id;
	/* is_public, an admin's filter (others' is ignored, as Nova's):
	 * absent -> public only; "None" -> all; else a strict boolean. */
	if (l.admin && pub != NULL) {
		if (strcasecmp(pub, "none") == 0) {
			l.is_public = -1;
		} else if (jsonreq_query_bool_strict(pub, &b) == 0) {
			l.is_public = b ? 1 : 0;
		} else {
			err_set(TS_EINVALID, "Invalid is_public filter [%.64s]",
			    pub);
			return -1;
		}
	}
	if (min_filter(req, "minRam", &l.min_ram) == -1 ||
	    min_filter(req, "minDisk", &l.min_disk) == -1)
		return -1;
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_flavor_each(txn, flist_cb, &l);
	store_txn_end(&txn);
	if (rc == -1)
		goto out;
	if (l.n > 1)
		qsort_r(l.v, l.n, sizeof(*l.v), cmp_flavor, &by);
	if (l.marker != NULL) {
		if (!l.has_mk) {
			err_set(TS_EINVALID, "marker [%.64s] not found",
			    l.marker);
			rc = -1;
			goto out;
		}
		/* The page starts after the marker's place in the order. */
		while (start < l.n && cmp_flavor(&l.v[start], &l.mk, &by) <= 0)
			start++;
	}
	end = start + (size_t)limit < l.n ? start + (size_t)limit : l.n;
	arr = json_array();
	for (size_t k = start; arr && k < end; k++)
		json_array_append_new(arr, flavor_json(req, &l.v[k], detail));
	body = json_pack("{s:o}", "flavors", arr);
	/* Nova's _get_collection_links(): a full page has a next link
	 * (also the last one), with the request's query. */
	if (body != NULL && limit > 0 && end > start &&
	    end - start == (size_t)limit) {
		char href[2048];

		if (compute_next_href(req, detail ? "flavors/detail" :
		    "flavors", l.v[end - 1].id, href, sizeof(href)) == 0)
			json_object_set_new(body, "flavors_links", json_pack(
			    "[{s:s, s:s}]", "rel", "next", "href", href));
	}
	rc = http_resp_json(resp, 200, body);
out:
	for (size_t k = 0; k < l.n; k++)
		codec_clear(&schema_rec_flavor, &l.v[k]);
	free(l.v);
	if (l.has_mk)
		codec_clear(&schema_rec_flavor, &l.mk);
	return rc;
}

int
compute_flavors_list(struct http_req *req, struct http_resp *resp)
{
	return flavor_list(req, resp, false);
}

int
compute_flavors_detail(struct http_req *req, struct http_resp *resp)
{
	return flavor_list(req, resp, true);
}

int
compute_flavors_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_flavor f;
	json_t *o;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || load(req, &f) == -1)
		return -1;
	o = flavor_json(req, &f, true);
	codec_clear(&schema_rec_flavor, &f);
	return http_resp_json(resp, 200, json_pack("{s:o}", "flavor", o));
}

/* ---- create / delete ----------------------------------------------------------- */

static int
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > FLAVOR_ID_MAX || id[0] == ' ' || id[n - 1] == ' ')
		goto bad;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._- ", *p))
			goto bad;
	return 0;
bad:
	err_set(TS_EINVALID, "Invalid input for field/attribute id. Value: "
	    "%.64s. It must be 1-255 of letters, digits, '.', '_', '-' and "
	    "inner spaces.", id);
	return -1;
}

struct fcreate {
	struct rec_flavor	f;
};

static int
flavor_create_fn(struct store_txn *txn, void *arg)
{
	struct fcreate *c = arg;

	return compute_db_flavor_add(txn, &c->f);
}

int
compute_flavors_create(struct http_req *req, struct http_resp *resp)
{
	struct fcreate c;
	json_t *b, *idv, *swapv, *rx;
	const char *name = NULL, *desc = NULL;
	char idbuf[FLAVOR_ID_MAX + 1];
	int64_t ram = 0, vcpus = 0, disk = 0, swap = 0, eph = 0;
	bool pub = true, has_ram, has_vcpus, has_disk;
	double rxtx = 1.0;
	json_t *out;
	int mv, rc;

	memset(&c, 0, sizeof(c));
	if (compute_version(req, resp, &mv) == -1 ||
	    jsonreq_body(JSONREQ_NOVA, http_req_json(req), "flavor", &b) == -1)
		return -1;
	if (jsonreq_str(JSONREQ_NOVA, b, "name", 1, 255, JSONREQ_BYTES, &name,
	    NULL) == -1 ||
	    jsonreq_int(JSONREQ_NOVA, b, "ram", 1, INT32_MAX, 0, &ram,
	    &has_ram) == -1 ||
	    jsonreq_int(JSONREQ_NOVA, b, "vcpus", 1, INT32_MAX, 0, &vcpus,
	    &has_vcpus) == -1 ||
	    jsonreq_int(JSONREQ_NOVA, b, "disk", 0, INT32_MAX, 0, &disk,
	    &has_disk) == -1 ||
	    jsonreq_int(JSONREQ_NOVA, b, "OS-FLV-EXT-DATA:ephemeral", 0,
	    INT32_MAX, 0, &eph,
	    NULL) == -1 ||
	    jsonreq_bool(JSONREQ_NOVA, b, "os-flavor-access:is_public", 0, &pub,
	    NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, b, "description", 0, 65535,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &desc, NULL) == -1)
		return -1;
	if (name == NULL || !has_ram || !has_vcpus || !has_disk) {
		err_set(TS_EINVALID, "Invalid input for field/attribute flavor. "
		    "'name', 'ram', 'vcpus' and 'disk' are required.");
		return -1;
	}
	if (jsonreq_name(JSONREQ_NOVA, "name", name) == -1)
		return -1;
	swapv = json_object_get(b, "swap");
	if (swapv && !(json_is_string(swapv) &&
	    json_string_length(swapv) == 0) &&
	    jsonreq_int(JSONREQ_NOVA, b, "swap", 0, INT32_MAX, 0, &swap,
	    NULL) == -1)
		return -1;
	rx = json_object_get(b, "rxtx_factor");
	if (rx != NULL) {
		if (json_is_number(rx))
			rxtx = json_number_value(rx);
		else if (json_is_string(rx))
			rxtx = strtod(json_string_value(rx), NULL);
		if (!(rxtx > 0 && rxtx <= 3.40282e38) || isnan(rxtx)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "rxtx_factor.");
			return -1;
		}
	}
	/* id: absent, null or "auto" -> a UUID; numbers become strings. */
	idv = json_object_get(b, "id");
	if (idv == NULL || json_is_null(idv) || (json_is_string(idv) &&
	    strcmp(json_string_value(idv), "auto") == 0)) {
		db_uuid(idbuf);
	} else if (json_is_integer(idv)) {
		snprintf(idbuf, sizeof(idbuf), "%lld",
		    (long long)json_integer_value(idv));
	} else if (json_is_string(idv) && json_string_length(idv) <=
	    FLAVOR_ID_MAX) {
		snprintf(idbuf, sizeof(idbuf), "%s", json_string_value(idv));
	} else {
		err_set(TS_EINVALID, "Invalid input for field/attribute id.");
		return -1;
	}
	if (id_ok(idbuf) == -1)
		return -1;
	c.f.id = idbuf;
	c.f.name = (char *)name;
	c.f.ram = (uint64_t)ram;
	c.f.vcpus = (uint32_t)vcpus;
	c.f.disk = (uint64_t)disk;
	c.f.swap = (uint64_t)swap;
	c.f.ephemeral = (uint64_t)eph;
	c.f.rxtx_milli = (uint32_t)(rxtx * 1000.0 + 0.5);
	c.f.is_public = pub;
	c.f.description = (char *)desc;
	c.f.created_at = db_now_ms();
	rc = compute_write(req, flavor_create_fn, &c);
	if (rc == -1)
		return -1;
	log_info("flavor %s (%s) created", c.f.id, c.f.name);
	out = flavor_json(req, &c.f, true);
	return http_resp_json(resp, 200, json_pack("{s:o}", "flavor", out));
}

static int
flavor_delete_fn(struct store_txn *txn, void *arg)
{
	return compute_db_flavor_del(txn, arg);
}

int
compute_flavors_delete(struct http_req *req, struct http_resp *resp)
{
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    compute_write(req, flavor_delete_fn,
	    (void *)http_req_param(req, "flavor_id")) == -1)
		return -1;
	return http_resp_status(resp, 202);
}

/* ---- access ------------------------------------------------------------------------ */

static json_t *
access_json(const struct rec_flavor *f)
{
	json_t *a = json_array();

	for (size_t k = 0; a && k < f->projects.n; k++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "flavor_id",
		    f->id, "tenant_id", f->projects.items[k]));
	return json_pack("{s:o}", "flavor_access", a);
}

int
compute_flavors_access_list(struct http_req *req, struct http_resp *resp)
{
	struct rec_flavor f;
	json_t *o;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || load(req, &f) == -1)
		return -1;
	if (f.is_public) {
		codec_clear(&schema_rec_flavor, &f);
		err_set(TS_ENOT_FOUND, "Access list not available for public "
		    "flavors.");
		return -1;
	}
	o = access_json(&f);
	codec_clear(&schema_rec_flavor, &f);
	return http_resp_json(resp, 200, o);
}

/* A change to a flavor inside the write: re-read, edit, write back; the
 * result is kept for the response. */
struct fedit {
	const char		*id;
	int			(*edit)(struct rec_flavor *, struct fedit *);
	const char		*tenant;
	json_t			*specs;		/* set/merge */
	const char		*key;		/* delete */
	struct rec_flavor	 after;
};

static int
fedit_fn(struct store_txn *txn, void *arg)
{
	struct fedit *e = arg;
	struct rec_flavor f;
	struct buf b = { 0 };
	int rc;

	if (compute_db_flavor_get(txn, e->id, &f) == -1)
		return -1;
	rc = e->edit(&f, e);
	if (rc == 0)
		rc = compute_db_flavor_update(txn, &f);
	if (rc == 0 && (codec_record_encode(&schema_rec_flavor, &f, &b) ==
	    -1 || codec_record_decode(&schema_rec_flavor, b.data, b.len,
	    &e->after, NULL) == -1))
		rc = -1;
	buf_free(&b);
	codec_clear(&schema_rec_flavor, &f);
	return rc;
}

static int
add_tenant(struct rec_flavor *f, struct fedit *e)
{
	char **nv;

	if (f->is_public) {
		err_set(TS_ECONFLICT, "Can not add access to a public "
		    "flavor.");
		return -1;
	}
	for (size_t k = 0; k < f->projects.n; k++)
		if (strcmp(f->projects.items[k], e->tenant) == 0) {
			err_set(TS_ECONFLICT, "Flavor access already exists "
			    "for flavor %s and project %s combination.", f->id,
			    e->tenant);
			return -1;
		}
	if (f->projects.n >= 4096 || (nv = realloc(f->projects.items,
	    (f->projects.n + 1) * sizeof(*nv))) == NULL) {
		err_set(TS_EINVALID, "Too many projects on the access list.");
		return -1;
	}
	f->projects.items = nv;
	if ((nv[f->projects.n] = strdup(e->tenant)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	f->projects.n++;
	return 0;
}

static int
remove_tenant(struct rec_flavor *f, struct fedit *e)
{
	for (size_t k = 0; k < f->projects.n; k++) {
		if (strcmp(f->projects.items[k], e->tenant) != 0)
			continue;
		free(f->projects.items[k]);
		memmove(&f->projects.items[k], &f->projects.items[k + 1],
		    (f->projects.n - k - 1) * sizeof(*f->projects.items));
		f->projects.n--;
		return 0;
	}
	err_set(TS_ENOT_FOUND, "Flavor access not found for %s / %s "
	    "combination.", f->id, e->tenant);
	return -1;
}

int
compute_flavors_action(struct http_req *req, struct http_resp *resp)
{
	struct fedit e = { .id = http_req_param(req, "flavor_id") };
	json_t *b = http_req_json(req), *a;
	const char *rule;
	json_t *o;
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (b && (a = json_object_get(b, "addTenantAccess")) != NULL) {
		e.edit = add_tenant;
		rule = "os_compute_api:os-flavor-access:add_tenant_access";
	} else if (b && (a = json_object_get(b, "removeTenantAccess")) !=
	    NULL) {
		e.edit = remove_tenant;
		rule = "os_compute_api:os-flavor-access:remove_tenant_access";
	} else {
		err_set(TS_EINVALID, "Invalid flavor action: addTenantAccess or "
		    "removeTenantAccess expected.");
		return -1;
	}
	if (compute_enforce(req, rule) == -1)
		return -1;
	if (!json_is_object(a) || jsonreq_str(JSONREQ_NOVA, a, "tenant", 1, 64,
	    JSONREQ_BYTES, &e.tenant, NULL) == -1 || e.tenant == NULL) {
		if (err_code() != TS_EINVALID)
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "tenant.");
		return -1;
	}
	if (compute_write(req, fedit_fn, &e) == -1)
		return -1;
	o = access_json(&e.after);
	codec_clear(&schema_rec_flavor, &e.after);
	return http_resp_json(resp, 200, o);
}

/* ---- extra specs ---------------------------------------------------------------------- */

static json_t *
specs_json(const struct rec_flavor *f)
{
	json_t *o = json_object();

	for (size_t k = 0; o && f->extra_specs.items && k < f->extra_specs.n;
	    k++)
		json_object_set_new(o, f->extra_specs.items[k].k,
		    json_string(f->extra_specs.items[k].v));
	return o;
}

int
compute_flavors_extra_specs_list(struct http_req *req, struct http_resp *resp)
{
	struct rec_flavor f;
	json_t *o;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || load(req, &f) == -1)
		return -1;
	o = specs_json(&f);
	codec_clear(&schema_rec_flavor, &f);
	return http_resp_json(resp, 200, json_pack("{s:o}", "extra_specs", o));
}

int
compute_flavors_extra_spec_show(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_req_param(req, "key");
	struct rec_flavor f;
	json_t *o = NULL;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || load(req, &f) == -1)
		return -1;
	for (size_t k = 0; k < f.extra_specs.n; k++)
		if (strcmp(f.extra_specs.items[k].k, key) == 0)
			o = json_pack("{s:s}", key, f.extra_specs.items[k].v);
	codec_clear(&schema_rec_flavor, &f);
	if (o == NULL) {
		err_set(TS_ENOT_FOUND, "Flavor %s has no extra specs with key "
		    "%s.", http_req_param(req, "flavor_id"), key);
		return -1;
	}
	return http_resp_json(resp, 200, o);
}

static int
spec_key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 255)
		goto bad;
	for (const char *p = k; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-. :", *p))
			goto bad;
	return 0;
bad:
	err_set(TS_EINVALID, "Invalid input for field/attribute extra_specs. "
	    "Key '%.64s' must match ^[a-zA-Z0-9_.: -]{1,255}$.", k);
	return -1;
}

/* Values may come as numbers or booleans (tempest, the CLIs): stored as
 * their text. The caller owns the result. */
static char *
spec_value(json_t *v)
{
	char buf[64];

	if (json_is_string(v))
		return json_string_length(v) <= 255 ?
		    strdup(json_string_value(v)) : NULL;
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		return strdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	}
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "True" : "False");
	return NULL;
}

/* The given specs with every value as its stored text. */
static json_t *
specs_text(json_t *specs)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach(specs, k, v) {
		char *t = spec_value(v);

		if (o && t)
			json_object_set_new(o, k, json_string(t));
		free(t);
	}
	return o;
}

static int
check_specs(json_t *specs)
{
	const char *k;
	json_t *v;

	if (!json_is_object(specs)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "extra_specs. Value must be an object.");
		return -1;
	}
	json_object_foreach(specs, k, v) {
		char *s;

		if (spec_key_ok(k) == -1)
			return -1;
		if ((s = spec_value(v)) == NULL) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "extra_specs: the value of '%.64s' must be a string "
			    "of at most 255 characters.", k);
			return -1;
		}
		free(s);
	}
	return 0;
}

static int
set_specs(struct rec_flavor *f, struct fedit *e)
{
	const char *k;
	json_t *v;

	json_object_foreach(e->specs, k, v) {
		char *val = spec_value(v);
		size_t j;

		if (val == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		for (j = 0; j < f->extra_specs.n; j++)
			if (strcmp(f->extra_specs.items[j].k, k) == 0)
				break;
		if (j < f->extra_specs.n) {
			free(f->extra_specs.items[j].v);
			f->extra_specs.items[j].v = val;
			continue;
		}
		if (f->extra_specs.n >= EXTRA_SPECS_MAX) {
			free(val);
			err_set(TS_EINVALID, "At most %d extra specs per "
			    "flavor.", EXTRA_SPECS_MAX);
			return -1;
		}
		{
			struct ts_strmap_ent *nv = realloc(
			    f->extra_specs.items, (f->extra_specs.n + 1) *
			    sizeof(*nv));

			if (nv == NULL || (nv[f->extra_specs.n].k =
			    strdup(k)) == NULL) {
				if (nv)
					f->extra_specs.items = nv;
				free(val);
				err_set(TS_ENOMEM, "out of memory");
				return -1;
			}
			nv[f->extra_specs.n].v = val;
			f->extra_specs.items = nv;
			f->extra_specs.n++;
		}
	}
	return 0;
}

static int
del_spec(struct rec_flavor *f, struct fedit *e)
{
	for (size_t j = 0; j < f->extra_specs.n; j++) {
		if (strcmp(f->extra_specs.items[j].k, e->key) != 0)
			continue;
		free(f->extra_specs.items[j].k);
		free(f->extra_specs.items[j].v);
		memmove(&f->extra_specs.items[j], &f->extra_specs.items[j + 1],
		    (f->extra_specs.n - j - 1) * sizeof(*f->extra_specs.items));
		f->extra_specs.n--;
		return 0;
	}
	err_set(TS_ENOT_FOUND, "Flavor %s has no extra specs with key %s.",
	    f->id, e->key);
	return -1;
}

int
compute_flavors_extra_specs_create(struct http_req *req, struct http_resp *resp)
{
	struct fedit e = { .id = http_req_param(req, "flavor_id"),
	    .edit = set_specs };
	json_t *b = http_req_json(req);
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (b == NULL || (e.specs = json_object_get(b, "extra_specs")) == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "extra_specs. It is required.");
		return -1;
	}
	if (check_specs(e.specs) == -1 || compute_write(req, fedit_fn, &e) == -1)
		return -1;
	codec_clear(&schema_rec_flavor, &e.after);
	/* Nova answers with what was set, as the strings stored. */
	return http_resp_json(resp, 200, json_pack("{s:o}", "extra_specs",
	    specs_text(e.specs)));
}

int
compute_flavors_extra_spec_update(struct http_req *req, struct http_resp *resp)
{
	struct fedit e = { .id = http_req_param(req, "flavor_id"),
	    .edit = set_specs };
	const char *key = http_req_param(req, "key");
	json_t *b = http_req_json(req);
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (b == NULL || !json_is_object(b) || json_object_size(b) != 1 ||
	    json_object_get(b, key) == NULL) {
		err_set(TS_EINVALID, "Request body and URI mismatch");
		return -1;
	}
	e.specs = b;
	if (check_specs(e.specs) == -1 || compute_write(req, fedit_fn, &e) == -1)
		return -1;
	codec_clear(&schema_rec_flavor, &e.after);
	return http_resp_json(resp, 200, specs_text(b));
}

int
compute_flavors_extra_spec_delete(struct http_req *req, struct http_resp *resp)
{
	struct fedit e = { .id = http_req_param(req, "flavor_id"),
	    .edit = del_spec, .key = http_req_param(req, "key") };
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    compute_write(req, fedit_fn, &e) == -1)
		return -1;
	codec_clear(&schema_rec_flavor, &e.after);
	return http_resp_status(resp, 200);
}
