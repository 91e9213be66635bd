/*
 * volume_volumes: the volumes of the Block Storage API (Cinder v3): list
 * and detail (filters, sorting, marker pagination), create (empty, from an
 * image, a snapshot or another volume; quota and placement in the same
 * write as the record and the usage), show, update, delete, the volume
 * actions and the volume metadata routes.
 *
 * Who sees what: a volume of another project is 404 to anyone but the
 * admin (Cinder's VolumeNotFound), then the route's rule is enforced on
 * the volume's project (403). Every write re-reads the volume inside its
 * transaction and checks its state there, so two concurrent requests
 * cannot both pass a state check.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "http/jsonreq.h"
#include "http/request.h"
#include "image/image.h"
#include "log.h"
#include "volume_int.h"

#define LIST_MAX	1000	/* Cinder's osapi_max_limit */
#define NO_BACKEND	VOLUME_NO_BACKEND

/* ---- JSON --------------------------------------------------------------- */

static json_t *
strmap_json(const struct ts_strmap *m)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < m->n; i++)
		json_object_set_new(o, m->items[i].k, json_string(
		    m->items[i].v));
	return o;
}

static json_t *
links_json(struct http_req *req, const char *project, const char *coll,
    const char *id)
{
	char base[512], self[900], book[900];

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		base[0] = '\0';
	snprintf(self, sizeof(self), "%s/v3/%s/%s/%s", base, project, coll, id);
	snprintf(book, sizeof(book), "%s/%s/%s/%s", base, project, coll, id);
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "href", self, "rel",
	    "self", "href", book, "rel", "bookmark");
}

static json_t *
nstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/*
 * A volume as Cinder shows it. extras: the admin's GET attributes (and
 * volume_image_metadata, which Cinder shows on GET only: tempest's
 * create and update schemas forbid it).
 */
static json_t *
vol_json(struct http_req *req, const struct rec_volume *v, bool admin,
    bool get)
{
	json_t *o, *att = json_array();
	char tname[256];

	for (size_t i = 0; att != NULL && i < v->attachments.n; i++) {
		const struct sch_vol_attachment *a = &v->attachments.items[i];

		if (strcmp(a->status, "attached") != 0)
			continue;
		/* host_name null: a shelved-offloaded server's, no host
		 * (Cinder's attachment without a connector) */
		json_array_append_new(att, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:o, s:o, s:o}", "id", v->id, "attachment_id", a->id,
		    "volume_id", v->id, "server_id", a->server_id,
		    "host_name", nstr(a->host_name && *a->host_name ?
		    a->host_name : NULL), "device", nstr(a->device),
		    "attached_at", a->attached_at ?
		    volume_time(a->attached_at) : json_null()));
	}
	volume_type_name(volume_of(req), v->volume_type, tname, sizeof(tname));
	o = json_pack("{s:s, s:o, s:o, s:I, s:s, s:s, s:o, s:o, s:s, s:o, "
	    "s:o, s:o, s:s, s:b, s:b, s:n, s:n, s:s, s:o, s:o}",
	    "id", v->id, "name", nstr(v->name),
	    "description", nstr(v->description),
	    "size", (json_int_t)v->size, "status", v->status,
	    "availability_zone", v->availability_zone,
	    "created_at", volume_time(v->created_at),
	    "updated_at", v->updated_at ? volume_time(v->updated_at) :
	    json_null(),
	    "volume_type", tname,
	    "snapshot_id", nstr(v->snapshot_id),
	    "source_volid", nstr(v->source_volid),
	    "metadata", strmap_json(&v->metadata),
	    "bootable", v->bootable ? "true" : "false",
	    "encrypted", 0, "multiattach", v->multiattach,
	    "replication_status", "consistencygroup_id",
	    "user_id", v->user_id,
	    "attachments", att != NULL ? att : json_array(),
	    "links", links_json(req, v->project_id, "volumes", v->id));
	if (o == NULL)
		return NULL;
	/* Cinder's visible admin metadata: readonly once it was set. */
	if (v->readonly_set)
		json_object_set_new(json_object_get(o, "metadata"), "readonly",
		    json_string(v->readonly ? "True" : "False"));
	if (get && v->image_metadata.n > 0)
		json_object_set_new(o, "volume_image_metadata",
		    strmap_json(&v->image_metadata));
	/* Cinder's volume_tenant_attribute: the project's readers and the
	 * admin, the only callers who see the volume at all (Tempest's
	 * transfer test reads it as the taker). */
	if (get)
		json_object_set_new(o, "os-vol-tenant-attr:tenant_id",
		    json_string(v->project_id));
	if (get && admin) {
		json_object_set_new(o, "os-vol-host-attr:host",
		    v->host != NULL && *v->host != '\0' ? json_sprintf(
		    "%s@%s#%s", v->host, "tinystack", "tinystack") :
		    json_null());
		json_object_set_new(o, "os-vol-mig-status-attr:migstat",
		    json_null());
		json_object_set_new(o, "os-vol-mig-status-attr:name_id",
		    json_null());
		json_object_set_new(o, "migration_status", json_null());
	}
	return o;
}

/* ---- lookups ------------------------------------------------------------ */

/* The volume id as the caller may see it, in txn: another project's is
 * 404 to anyone but the admin; then rule (NULL: none) on its project. */
static int
vol_find(struct http_req *req, struct store_txn *txn, const char *rule,
    const char *id, struct rec_volume *v)
{
	if (volume_db_get(txn, id, v) == -1)
		return -1;
	if (volume_owner_check(req, rule, v->project_id, "Volume", id) == -1) {
		codec_clear(&schema_rec_volume, v);
		return -1;
	}
	return 0;
}

/* vol_find() in a read snapshot of its own (the caller's check before a
 * write, which re-reads the record). */
static int
vol_check(struct http_req *req, const char *rule, const char *id,
    struct rec_volume *v)
{
	struct store_txn *txn = NULL;
	int rc;

	memset(v, 0, sizeof(*v));
	if (store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	rc = vol_find(req, txn, rule, id, v);
	store_txn_end(&txn);
	return rc;
}

/* The checks of vol_check() alone, before a body is read: a caller who
 * may not see the volume learns nothing from the body's errors. */
static int
vol_visible(struct http_req *req, const char *rule, const char *id)
{
	struct rec_volume v;

	if (vol_check(req, rule, id, &v) == -1)
		return -1;
	codec_clear(&schema_rec_volume, &v);
	return 0;
}

/* ---- lists -------------------------------------------------------------- */

struct collect {
	struct http_req	*req;
	json_t		*arr;
	bool		 admin;
};

static int
collect_cb(struct rec_volume *v, void *arg)
{
	struct collect *c = arg;
	json_t *o = vol_json(c->req, v, c->admin, true);

	if (o == NULL || json_array_append_new(c->arr, o) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* Cinder's filter on metadata: a JSON object (or Python's repr of a dict,
 * as cinderclient sends it) whose pairs must all be in the volume's. */
static int
meta_filter(const char *q, json_t **out)
{
	char *s, *p;

	*out = json_loads(q, 0, NULL);
	if (*out == NULL && (s = strdup(q)) != NULL) {
		for (p = s; *p != '\0'; p++)
			if (*p == '\'')
				*p = '"';
		*out = json_loads(s, 0, NULL);
		free(s);
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		err_set(TS_EINVALID, "Invalid input received: Invalid "
		    "metadata filter %.255s", q);
		return -1;
	}
	return 0;
}

static bool
str_eq(json_t *o, const char *k, const char *want)
{
	json_t *j = json_object_get(o, k);

	return json_is_string(j) && strcmp(json_string_value(j), want) == 0;
}

static bool
matches(json_t *o, const char *name, const char *status, const char *boot,
    json_t *meta)
{
	const char *k;
	json_t *jv, *m;

	if (name != NULL && !str_eq(o, "name", name))
		return false;
	if (status != NULL && !str_eq(o, "status", status))
		return false;
	if (boot != NULL) {
		bool want = strcasecmp(boot, "true") == 0 ||
		    strcmp(boot, "1") == 0;

		if (!str_eq(o, "bootable", want ? "true" : "false"))
			return false;
	}
	if (meta != NULL) {
		m = json_object_get(o, "metadata");
		json_object_foreach(meta, k, jv) {
			json_t *have = json_object_get(m, k);

			if (!json_is_string(have) || !json_is_string(jv) ||
			    strcmp(json_string_value(have),
			    json_string_value(jv)) != 0)
				return false;
		}
	}
	return true;
}

struct sortkey {
	char	key[32];
	bool	asc;
};

static const char *const sort_keys[] = { "id", "status", "size",
	"availability_zone", "created_at", "updated_at", "name",
	"display_name", "bootable", "volume_type", NULL };

struct sortspec {
	const struct sortkey	*k;
	size_t			 n;
};

static int
jcmp(json_t *a, json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) < json_integer_value(b) ? -1 :
		    json_integer_value(a) > json_integer_value(b);
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	/* null (or absent) sorts first, as in SQL ascending */
	{
		bool na = a == NULL || json_is_null(a);
		bool nb = b == NULL || json_is_null(b);

		if (na != nb)
			return na ? -1 : 1;
	}
	return 0;
}

static int
cmp_objs(const void *pa, const void *pb, void *arg)
{
	const struct sortspec *sp = arg;
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;

	for (size_t i = 0; i < sp->n; i++) {
		const char *k = strcmp(sp->k[i].key, "display_name") == 0 ?
		    "name" : sp->k[i].key;
		int c = jcmp(json_object_get(a, k), json_object_get(b, k));

		if (c != 0)
			return sp->k[i].asc ? c : -c;
	}
	return 0;
}

/* The query of a list but limit and marker, percent-encoded, each
 * "k=v&", for the next link (what does not fit is left out). */
static void
keep_query(struct http_req *req, char *out, size_t len)
{
	static const char *const keys[] = { "sort", "sort_key", "sort_dir",
	    "all_tenants", "project_id", "name", "display_name", "status",
	    "bootable", "metadata", NULL };
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; keys[i] != NULL; i++) {
		const char *v = http_req_query(req, keys[i]);
		size_t start = o;
		bool fits = true;

		if (v == NULL)
			continue;
		for (const char *k = keys[i]; *k != '\0' && fits; k++)
			if ((fits = o + 1 < len))
				out[o++] = *k;
		if (fits && (fits = o + 1 < len))
			out[o++] = '=';
		for (const unsigned char *c = (const unsigned char *)v;
		    *c != '\0' && fits; c++) {
			if (isalnum(*c) || strchr("-._~:,", *c) != NULL) {
				if ((fits = o + 1 < len))
					out[o++] = (char)*c;
			} else if ((fits = o + 3 < len)) {
				out[o++] = '%';
				out[o++] = hex[*c >> 4];
				out[o++] = hex[*c & 0xf];
			}
		}
		if (fits && (fits = o + 1 < len))
			out[o++] = '&';
		if (!fits)
			o = start;
		out[o] = '\0';
	}
}

/* sort=k1:dir,k2 or sort_key/sort_dir (not both), then id; default
 * created_at desc, id desc, as Cinder. */
static int
parse_sort(struct http_req *req, const char *const *allowed,
    struct sortkey *out, size_t max, size_t *n)
{
	const char *sort = http_req_query(req, "sort");
	const char *sk = http_req_query(req, "sort_key");
	const char *sd = http_req_query(req, "sort_dir");
	char buf[512], *save = NULL, *tok;
	bool has_id = false;

	*n = 0;
	if (sort != NULL && (sk != NULL || sd != NULL)) {
		err_set(TS_EINVALID, "Invalid input received: The 'sort_key' "
		    "and 'sort_dir' parameters are deprecated and cannot be "
		    "used with the 'sort' parameter.");
		return -1;
	}
	if (sort != NULL)
		snprintf(buf, sizeof(buf), "%s", sort);
	else if (sk != NULL)
		snprintf(buf, sizeof(buf), "%s:%s", sk, sd != NULL ? sd :
		    "desc");
	else
		snprintf(buf, sizeof(buf), "created_at:%s", sd != NULL ? sd :
		    "desc");
	for (tok = strtok_r(buf, ",", &save); tok != NULL && *n < max - 1;
	    tok = strtok_r(NULL, ",", &save)) {
		char *c = strchr(tok, ':');
		const char *dir = "desc";
		size_t i;

		if (c != NULL) {
			*c = '\0';
			dir = c + 1;
		}
		while (*tok == ' ')
			tok++;
		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], tok) != 0;
		    i++)
			;
		if (allowed[i] == NULL) {
			err_set(TS_EINVALID, "Invalid input received: Invalid "
			    "sort key %.64s", tok);
			return -1;
		}
		if (strcmp(dir, "asc") != 0 && strcmp(dir, "desc") != 0) {
			err_set(TS_EINVALID, "Invalid input received: Unknown "
			    "sort direction, must be 'desc' or 'asc'");
			return -1;
		}
		snprintf(out[*n].key, sizeof(out[*n].key), "%s", tok);
		out[*n].asc = strcmp(dir, "asc") == 0;
		has_id = has_id || strcmp(tok, "id") == 0;
		(*n)++;
	}
	if (!has_id) {
		snprintf(out[*n].key, sizeof(out[*n].key), "id");
		out[*n].asc = *n > 0 ? out[*n - 1].asc : false;
		(*n)++;
	}
	return 0;
}

/*
 * Filter, sort and page objs (stolen, every visible object in detail
 * form) and answer {coll: [...], coll_links: [next]}; summary keeps id,
 * name and links only.
 */
int
volume_list_reply(struct http_req *req, struct http_resp *resp,
    const char *coll, const char *const *keys, json_t *objs, bool summary,
    const char *name_key)
{
	const char *name = http_req_query(req, "name");
	const char *status = http_req_query(req, "status");
	const char *boot = http_req_query(req, "bootable");
	const char *mq = http_req_query(req, "metadata");
	const char *marker = http_req_query(req, "marker");
	const char *lq = http_req_query(req, "limit");
	struct sortkey sk[8];
	size_t nsk, n = 0, start = 0, i;
	json_t *meta = NULL, *out, **v = NULL;
	int64_t limit = LIST_MAX;
	bool more = false;
	struct sortspec spec;

	if (name == NULL)
		name = http_req_query(req, "display_name");
	if (lq != NULL) {
		char *end;

		errno = 0;
		limit = strtoll(lq, &end, 10);
		if (*lq == '\0' || *end != '\0' || errno != 0) {
			json_decref(objs);
			err_set(TS_EINVALID, "Invalid input received: limit "
			    "param must be an integer");
			return -1;
		}
		if (limit < 0) {
			json_decref(objs);
			err_set(TS_EINVALID, "Invalid input received: limit "
			    "param must be positive");
			return -1;
		}
		if (limit > LIST_MAX)
			limit = LIST_MAX;
	}
	if ((mq != NULL && meta_filter(mq, &meta) == -1) ||
	    parse_sort(req, keys, sk, 8, &nsk) == -1) {
		json_decref(objs);
		json_decref(meta);	/* a bad sort after a good filter */
		return -1;
	}
	if ((v = calloc(json_array_size(objs) + 1, sizeof(*v))) == NULL) {
		json_decref(objs);
		json_decref(meta);
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < json_array_size(objs); i++) {
		json_t *o = json_array_get(objs, i);

		if (matches(o, name, status, boot, meta))
			v[n++] = o;
	}
	json_decref(meta);
	spec.k = sk;
	spec.n = nsk;
	qsort_r(v, n, sizeof(*v), cmp_objs, &spec);
	if (marker != NULL) {
		for (i = 0; i < n && !str_eq(v[i], "id", marker); i++)
			;
		if (i == n) {
			free(v);
			json_decref(objs);
			err_set(TS_ENOT_FOUND, "Marker %.64s could not be "
			    "found.", marker);
			return -1;
		}
		start = i + 1;
	}
	out = json_array();
	for (i = start; out != NULL && i < n; i++) {
		json_t *o = v[i];

		if ((int64_t)(i - start) == limit) {
			more = true;
			break;
		}
		if (summary)
			o = json_pack("{s:O, s:O, s:O}", "id",
			    json_object_get(o, "id"), "name",
			    json_object_get(o, name_key), "links",
			    json_object_get(o, "links"));
		else
			json_incref(o);
		json_array_append_new(out, o);
	}
	/* Cinder links the next page whenever this one is full, even when
	 * it is the last (the next is then empty): tempest's pagination
	 * test follows that. */
	if ((int64_t)json_array_size(out) == limit)
		more = true;
	{
		json_t *body = json_pack("{s:o*}", coll, out);

		if (body != NULL && more && json_array_size(out) > 0) {
			char base[512], lk[80], keep[700];
			json_t *last = json_array_get(out,
			    json_array_size(out) - 1);
			const char *path = http_req_param(req, "project_id");

			if (http_req_base_url(req, base, sizeof(base)) == -1)
				base[0] = '\0';
			snprintf(lk, sizeof(lk), "%s_links", coll);
			keep_query(req, keep, sizeof(keep));
			json_object_set_new(body, lk, json_pack("[{s:o*, s:s}]",
			    "href", json_sprintf("%s/v3/%s/%s%s?%slimit=%lld"
			    "&marker=%s", base, path ? path : "", coll,
			    summary ? "" : "/detail", keep, (long long)limit,
			    json_string_value(json_object_get(last, "id"))),
			    "rel", "next"));
		}
		free(v);
		json_decref(objs);
		return http_resp_json(resp, 200, body);
	}
}

static int
vol_list(struct http_req *req, struct http_resp *resp, bool summary)
{
	struct volume *vs = volume_of(req);
	bool admin = volume_is_admin(req);
	bool all = admin && jsonreq_query_bool(JSONREQ_NOVA,
	    http_req_query(req, "all_tenants"));
	const char *proj = http_req_query(req, "project_id");
	struct collect c = { .req = req, .admin = admin };
	struct store_txn *txn = NULL;
	int rc;

	if (volume_begin(req, resp, "volume:get_all", volume_caller(req)) ==
	    -1)
		return -1;
	if ((c.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (store_read_begin(vs->store, &txn) == -1) {
		json_decref(c.arr);
		return -1;
	}
	rc = volume_db_each(txn, all ? (admin && proj != NULL ? proj : NULL) :
	    volume_caller(req), collect_cb, &c);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(c.arr);
		return -1;
	}
	return volume_list_reply(req, resp, "volumes", sort_keys, c.arr,
	    summary, "name");
}

int
volume_volumes_list(struct http_req *req, struct http_resp *resp)
{
	return vol_list(req, resp, true);
}

int
volume_volumes_detail(struct http_req *req, struct http_resp *resp)
{
	return vol_list(req, resp, false);
}

int
volume_volumes_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume v;
	json_t *o;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_check(req, "volume:get", http_req_param(req, "volume_id"),
	    &v) == -1)
		return -1;
	o = vol_json(req, &v, volume_is_admin(req), true);
	codec_clear(&schema_rec_volume, &v);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "volume", o));
}

/* ---- body checks -------------------------------------------------------- */

/* Cinder's jsonschema wording. */
static int
bad_field(const char *k, json_t *jv, const char *why)
{
	char *val = jv != NULL ? json_dumps(jv, JSON_ENCODE_ANY) : NULL;

	err_set(TS_EINVALID, "Invalid input for field/attribute %s. Value: "
	    "%.300s. %s", k, val != NULL ? val : "None", why);
	free(val);
	return -1;
}

/* An optional string member of at most 255 characters (null allowed):
 * *out NULL when absent or null, *present whether given. */
static int
opt_str(json_t *o, const char *k, const char **out, bool *present)
{
	json_t *jv = json_object_get(o, k);

	*out = NULL;
	if (present != NULL)
		*present = jv != NULL;
	if (jv == NULL || json_is_null(jv))
		return 0;
	if (!json_is_string(jv))
		return bad_field(k, jv, "is not of type 'string', 'null'");
	if (json_string_length(jv) > 255) {
		char why[64];

		snprintf(why, sizeof(why), "is too long (%zu characters, "
		    "at most 255)", json_string_length(jv));
		return bad_field(k, jv, why);
	}
	if (strlen(json_string_value(jv)) != json_string_length(jv))
		return bad_field(k, jv, "contains a NUL character");
	*out = json_string_value(jv);
	return 0;
}

/* A size: an integer or a string of digits in [1, MAX_INT]. */
static int
parse_size(json_t *o, const char *k, int64_t *out, bool *present)
{
	json_t *jv = json_object_get(o, k);
	long long n;

	*present = jv != NULL && !json_is_null(jv);
	if (!*present)
		return 0;
	if (json_is_integer(jv))
		n = json_integer_value(jv);
	else if (json_is_string(jv)) {
		const char *s = json_string_value(jv);
		char *end;

		if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
			return bad_field(k, jv, "does not match '^[0-9]+$'");
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0)
			n = 0x7FFFFFFFLL + 1;
	} else
		return bad_field(k, jv, "is not of type 'integer', 'string', "
		    "'null'");
	if (n < 1) {
		char why[64];

		snprintf(why, sizeof(why), "%lld is less than the minimum of 1",
		    n);
		return bad_field(k, jv, why);
	}
	if (n > 0x7FFFFFFFLL) {
		char why[80];

		snprintf(why, sizeof(why), "%lld is greater than the maximum "
		    "of 2147483647", n);
		return bad_field(k, jv, why);
	}
	*out = n;
	return 0;
}

int
volume_meta_parse(json_t *jm, struct ts_strmap *m, bool merge)
{
	const char *k;
	json_t *jv;

	if (!json_is_object(jm))
		return bad_field("metadata", jm, "is not of type 'object'");
	json_object_foreach(jm, k, jv) {
		if (*k == '\0' || strlen(k) > 255) {
			err_set(TS_EINVALID, "Invalid input received: Metadata "
			    "property key blank or greater than 255 "
			    "characters.");
			return -1;
		}
		if (!json_is_string(jv) || json_string_length(jv) > 255 ||
		    strlen(json_string_value(jv)) != json_string_length(jv)) {
			err_set(TS_EINVALID, "Invalid input received: Metadata "
			    "property value greater than 255 characters or "
			    "not a string.");
			return -1;
		}
	}
	if (!merge) {
		for (size_t i = 0; i < m->n; i++) {
			free(m->items[i].k);
			free(m->items[i].v);
		}
		free(m->items);
		m->items = NULL;
		m->n = 0;
	}
	json_object_foreach(jm, k, jv) {
		size_t i;

		for (i = 0; i < m->n && strcmp(m->items[i].k, k) != 0; i++)
			;
		if (i == m->n) {
			void *nv;

			if (m->n >= 128) {
				err_set(TS_ETOO_LARGE, "Maximum number of "
				    "metadata items (128) exceeded");
				return -1;
			}
			if ((nv = realloc(m->items, (m->n + 1) *
			    sizeof(*m->items))) == NULL)
				goto nomem;
			m->items = nv;
			m->items[i].k = NULL;
			m->items[i].v = NULL;
			if ((m->items[i].k = strdup(k)) == NULL)
				goto nomem;
			m->n++;
		}
		if (codec_str_set(&m->items[i].v, json_string_value(jv)) ==
		    -1)
			return -1;
	}
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static int
add_meta(struct ts_strmap *m, const char *k, const char *v)
{
	json_t *o = json_pack("{s:s}", k, v);
	int rc;

	if (o == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	rc = volume_meta_parse(o, m, true);
	json_decref(o);
	return rc;
}

/* volume_image_metadata max=64 (schemas/volume.schema) */
#define VOLUME_IMAGE_META_MAX	64

/* ---- create ------------------------------------------------------------- */

struct vcreate {
	struct volume		*vs;
	struct image_viewer	 viewer;
	bool			 admin;
	bool			 size_given;
	const char		*type;
	const char		*image;
	struct rec_volume	 v;	/* the new record */
};

static int
fill_from_image(struct vcreate *c, struct store_txn *txn)
{
	struct rec_image im;
	bool member = false;
	int vis;
	uint64_t gib;
	char num[32];

	if (image_db_get(txn, c->image, &im) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		err_set(TS_EINVALID, "Invalid input received: Invalid image "
		    "identifier or unable to access requested image.");
		return -1;
	}
	vis = image_db_visible(txn, &c->viewer, &im, &member, NULL);
	if (vis != 1 || strcmp(im.status, "active") != 0) {
		codec_clear(&schema_rec_image, &im);
		if (vis == -1)
			return -1;
		err_set(TS_EINVALID, "Invalid input received: Invalid image "
		    "identifier or unable to access requested image.");
		return -1;
	}
	gib = im.has_size ? (im.size + (1ULL << 30) - 1) >> 30 : 0;
	if (!c->size_given)
		c->v.size = gib > im.min_disk ? gib : im.min_disk;
	if (c->v.size == 0)
		c->v.size = 1;
	if (gib > c->v.size) {
		err_set(TS_EINVALID, "Invalid input received: Size of specified "
		    "image %llu is larger than volume size %llu.",
		    (unsigned long long)gib, (unsigned long long)c->v.size);
		codec_clear(&schema_rec_image, &im);
		return -1;
	}
	if (im.min_disk > c->v.size) {
		err_set(TS_EINVALID, "Invalid input received: Volume size "
		    "%lluGB cannot be smaller than the image minDisk size "
		    "%uGB.", (unsigned long long)c->v.size, im.min_disk);
		codec_clear(&schema_rec_image, &im);
		return -1;
	}
	if (codec_str_set(&c->v.image_id, im.id) == -1)
		goto fail;
	if (add_meta(&c->v.image_metadata, "image_id", im.id) == -1 ||
	    (im.name != NULL && add_meta(&c->v.image_metadata, "image_name",
	    im.name) == -1) ||
	    (im.checksum != NULL && add_meta(&c->v.image_metadata, "checksum",
	    im.checksum) == -1) ||
	    (im.disk_format != NULL && add_meta(&c->v.image_metadata,
	    "disk_format", im.disk_format) == -1) ||
	    (im.container_format != NULL && add_meta(&c->v.image_metadata,
	    "container_format", im.container_format) == -1))
		goto fail;
	snprintf(num, sizeof(num), "%u", im.min_disk);
	if (add_meta(&c->v.image_metadata, "min_disk", num) == -1)
		goto fail;
	snprintf(num, sizeof(num), "%u", im.min_ram);
	if (add_meta(&c->v.image_metadata, "min_ram", num) == -1)
		goto fail;
	if (im.has_size) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)im.size);
		if (add_meta(&c->v.image_metadata, "size", num) == -1)
			goto fail;
	}
	/* As Cinder: the image's properties too (Nova boots a volume with
	 * its kernel_id, ramdisk_id and os_command_line), as many as fit. */
	for (size_t i = 0; i < im.properties.n &&
	    c->v.image_metadata.n < VOLUME_IMAGE_META_MAX; i++)
		if (add_meta(&c->v.image_metadata, im.properties.items[i].k,
		    im.properties.items[i].v) == -1)
			goto fail;
	codec_clear(&schema_rec_image, &im);
	return 0;
fail:
	codec_clear(&schema_rec_image, &im);
	return -1;
}

/* The snapshot or source volume, in the caller's project (any for the
 * admin): its size and host become the new volume's defaults. */
static int
fill_from_source(struct vcreate *c, struct store_txn *txn, char *host,
    size_t hlen)
{
	if (c->v.snapshot_id != NULL) {
		struct rec_volume_snapshot s;
		struct rec_volume src;

		if (volume_db_snap_get(txn, c->v.snapshot_id, &s) == -1)
			return -1;
		if (!c->admin && strcmp(s.project_id, c->v.project_id) != 0) {
			codec_clear(&schema_rec_volume_snapshot, &s);
			err_set(TS_ENOT_FOUND, "Snapshot %s could not be "
			    "found.", c->v.snapshot_id);
			return -1;
		}
		if (strcmp(s.status, "available") != 0) {
			codec_clear(&schema_rec_volume_snapshot, &s);
			err_set(TS_EINVALID, "Invalid snapshot: Originating "
			    "snapshot status must be one of 'available' "
			    "values");
			return -1;
		}
		if (!c->size_given)
			c->v.size = s.size;
		if (c->v.size < s.size) {
			err_set(TS_EINVALID, "Invalid input received: Volume "
			    "size '%llu'GB cannot be smaller than the snapshot "
			    "size %lluGB. They must be >= original snapshot "
			    "size.", (unsigned long long)c->v.size,
			    (unsigned long long)s.size);
			codec_clear(&schema_rec_volume_snapshot, &s);
			return -1;
		}
		snprintf(host, hlen, "%s", s.host != NULL ? s.host : "");
		if (volume_db_get(txn, s.volume_id, &src) == 0) {
			c->v.bootable = src.bootable;
			/* Cinder: the source's type unless one was asked. */
			if (c->type == NULL && codec_str_set(
			    &c->v.volume_type, src.volume_type) == -1) {
				codec_clear(&schema_rec_volume, &src);
				codec_clear(&schema_rec_volume_snapshot, &s);
				return -1;
			}
			codec_clear(&schema_rec_volume, &src);
		}
		codec_clear(&schema_rec_volume_snapshot, &s);
		return 0;
	}
	if (c->v.source_volid != NULL) {
		struct rec_volume src;

		if (volume_db_get(txn, c->v.source_volid, &src) == -1)
			return -1;
		if (!c->admin && strcmp(src.project_id, c->v.project_id) != 0) {
			codec_clear(&schema_rec_volume, &src);
			err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
			    c->v.source_volid);
			return -1;
		}
		if (strcmp(src.status, "available") != 0 &&
		    strcmp(src.status, "in-use") != 0) {
			codec_clear(&schema_rec_volume, &src);
			err_set(TS_EINVALID, "Invalid volume: Source volume "
			    "status must be available or in-use.");
			return -1;
		}
		if (!c->size_given)
			c->v.size = src.size;
		if (c->v.size < src.size) {
			err_set(TS_EINVALID, "Invalid input received: Volume "
			    "size '%llu'GB cannot be smaller than original "
			    "volume size %lluGB. They must be >= original "
			    "volume size.", (unsigned long long)c->v.size,
			    (unsigned long long)src.size);
			codec_clear(&schema_rec_volume, &src);
			return -1;
		}
		snprintf(host, hlen, "%s", src.host != NULL ? src.host : "");
		c->v.bootable = src.bootable;
		if (c->type == NULL && codec_str_set(&c->v.volume_type,
		    src.volume_type) == -1) {
			codec_clear(&schema_rec_volume, &src);
			return -1;
		}
		for (size_t i = 0; i < src.image_metadata.n; i++)
			if (add_meta(&c->v.image_metadata,
			    src.image_metadata.items[i].k,
			    src.image_metadata.items[i].v) == -1) {
				codec_clear(&schema_rec_volume, &src);
				return -1;
			}
		codec_clear(&schema_rec_volume, &src);
	}
	return 0;
}

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct vcreate *c = arg;
	char host[256] = "", backend[256], tid[37];

	if (volume_type_resolve(txn, c->type, c->admin, tid, backend,
	    sizeof(backend)) == -1 ||
	    codec_str_set(&c->v.volume_type, tid) == -1)
		return -1;
	if (fill_from_source(c, txn, host, sizeof(host)) == -1)
		return -1;
	if (c->image != NULL && fill_from_image(c, txn) == -1)
		return -1;
	if (c->v.size == 0) {
		err_set(TS_EINVALID, "Invalid input received: Size must be "
		    "specified.");
		return -1;
	}
	if (volume_quota_check(c->vs, txn, c->v.project_id, 1,
	    (int64_t)c->v.size, 0, (int64_t)c->v.size) == -1)
		return -1;
	if (host[0] == '\0' && volume_place(c->vs, txn, backend, host,
	    sizeof(host)) == -1)
		return -1;
	if (host[0] == '\0') {
		if (codec_str_set(&c->v.status, "error") == -1 ||
		    codec_str_set(&c->v.fault, NO_BACKEND) == -1)
			return -1;
	} else if (codec_str_set(&c->v.host, host) == -1)
		return -1;
	if (volume_db_put(txn, NULL, &c->v) == -1)
		return -1;
	return volume_db_usage_add(txn, c->v.project_id, 1,
	    (int64_t)c->v.size, 0);
}

/* The create body's members into c (strings borrowed from body until
 * copied into the record). */
static int
parse_create(struct http_req *req, json_t *o, struct vcreate *c)
{
	const char *name, *dname, *desc, *ddesc, *az, *snap, *src;
	int64_t size = 0;
	json_t *jm;

	if (parse_size(o, "size", &size, &c->size_given) == -1 ||
	    opt_str(o, "name", &name, NULL) == -1 ||
	    opt_str(o, "display_name", &dname, NULL) == -1 ||
	    opt_str(o, "description", &desc, NULL) == -1 ||
	    opt_str(o, "display_description", &ddesc, NULL) == -1 ||
	    opt_str(o, "availability_zone", &az, NULL) == -1 ||
	    opt_str(o, "volume_type", &c->type, NULL) == -1 ||
	    opt_str(o, "snapshot_id", &snap, NULL) == -1 ||
	    opt_str(o, "source_volid", &src, NULL) == -1 ||
	    opt_str(o, "imageRef", &c->image, NULL) == -1)
		return -1;
	if (c->image == NULL && opt_str(o, "image_id", &c->image, NULL) == -1)
		return -1;
	if (az != NULL && strcmp(az, VOLUME_ZONE) != 0) {
		err_set(TS_EINVALID, "Invalid input received: Availability "
		    "zone '%s' is invalid.", az);
		return -1;
	}
	if ((snap != NULL) + (src != NULL) + (c->image != NULL) > 1) {
		err_set(TS_EINVALID, "Invalid input received: Only one of "
		    "snapshot_id, source_volid or imageRef may be given.");
		return -1;
	}
	if ((snap != NULL && !jsonreq_uuid_like(snap)) ||
	    (src != NULL && !jsonreq_uuid_like(src))) {
		err_set(TS_ENOT_FOUND, "%s %s could not be found.",
		    snap != NULL ? "Snapshot" : "Volume", snap != NULL ? snap :
		    src);
		return -1;
	}
	if (c->image != NULL && !jsonreq_uuid_like(c->image)) {
		err_set(TS_EINVALID, "Invalid input received: Invalid image "
		    "identifier or unable to access requested image.");
		return -1;
	}
	if (!c->size_given && snap == NULL && src == NULL && c->image == NULL)
		return bad_field("size", json_object_get(o, "size"),
		    "None is not of type 'integer', 'string'");
	db_uuid(c->v.id);
	c->v.size = (uint64_t)size;
	c->v.created_at = db_now_ms();
	if (codec_str_set(&c->v.project_id, volume_caller(req)) == -1 ||
	    codec_str_set(&c->v.user_id, volume_caller_user(req)) == -1 ||
	    codec_str_set(&c->v.name, name != NULL ? name : dname) == -1 ||
	    codec_str_set(&c->v.description, desc != NULL ? desc :
	    ddesc) == -1 ||
	    codec_str_set(&c->v.status, "creating") == -1 ||
	    codec_str_set(&c->v.availability_zone, VOLUME_ZONE) == -1 ||
	    codec_str_set(&c->v.volume_type, VOLUME_TYPE_ID) == -1 ||
	    codec_str_set(&c->v.snapshot_id, snap) == -1 ||
	    codec_str_set(&c->v.source_volid, src) == -1)
		return -1;
	c->v.generation = 1;
	if ((jm = json_object_get(o, "metadata")) != NULL && !json_is_null(jm)
	    && volume_meta_parse(jm, &c->v.metadata, false) == -1)
		return -1;
	return 0;
}

int
volume_volumes_create(struct http_req *req, struct http_resp *resp)
{
	struct vcreate c = { .vs = volume_of(req) };
	json_t *body = http_req_json(req), *o, *out;
	int rc;

	if (volume_begin(req, resp, "volume:create", volume_caller(req)) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "volume"))) {
		err_set(TS_EINVALID, "Missing required element 'volume' in "
		    "request body.");
		return -1;
	}
	c.admin = volume_is_admin(req);
	c.viewer.project_id = volume_caller(req);
	c.viewer.admin = c.admin;
	rc = parse_create(req, o, &c);
	if (rc == 0)
		rc = store_write(c.vs->store, create_fn, &c);
	if (rc == -1) {
		codec_clear(&schema_rec_volume, &c.v);
		return -1;
	}
	log_info("volume %s of project %s: %llu GiB, %s%s%s", c.v.id,
	    c.v.project_id, (unsigned long long)c.v.size, c.v.status,
	    c.v.host != NULL ? " on " : "", c.v.host != NULL ? c.v.host : "");
	volume_kick(c.vs);
	out = vol_json(req, &c.v, false, false);
	codec_clear(&schema_rec_volume, &c.v);
	return http_resp_json(resp, 202, json_pack("{s:o*}", "volume", out));
}

/* ---- update and delete -------------------------------------------------- */

/* A change to one volume: fn edits v (re-read in the transaction) and
 * returns 0 to write it, 1 to write nothing, -1 to refuse. */
struct vedit {
	struct volume	*vs;
	const char	*id;
	int		(*fn)(struct store_txn *, struct rec_volume *, void *);
	void		*arg;
	struct rec_volume out;	/* as written */
	bool		 gone;	/* removed */
};

static int
edit_fn(struct store_txn *txn, void *arg)
{
	struct vedit *e = arg;
	struct rec_volume old, v;
	int rc;

	if (volume_db_get(txn, e->id, &old) == -1)
		return -1;
	if (volume_db_get(txn, e->id, &v) == -1) {
		codec_clear(&schema_rec_volume, &old);
		return -1;
	}
	rc = e->fn(txn, &v, e->arg);
	if (rc == 0 && !e->gone) {
		v.updated_at = db_now_ms();
		rc = volume_db_put(txn, &old, &v);
	}
	codec_clear(&schema_rec_volume, &old);
	if (rc == -1) {
		codec_clear(&schema_rec_volume, &v);
		return -1;
	}
	codec_clear(&schema_rec_volume, &e->out);
	e->out = v;
	return 0;
}

/* Check rule on the volume (404/403), then apply fn in a write. */
static int
vol_edit(struct http_req *req, const char *rule, const char *id,
    int (*fn)(struct store_txn *, struct rec_volume *, void *), void *arg,
    struct vedit *e)
{
	struct rec_volume v;

	memset(e, 0, sizeof(*e));
	if (vol_check(req, rule, id, &v) == -1)
		return -1;
	codec_clear(&schema_rec_volume, &v);
	e->vs = volume_of(req);
	e->id = id;
	e->fn = fn;
	e->arg = arg;
	if (store_write(e->vs->store, edit_fn, e) == -1) {
		codec_clear(&schema_rec_volume, &e->out);
		return -1;
	}
	return 0;
}

struct vupdate {
	const char	*name, *desc;
	bool		 has_name, has_desc;
	json_t		*meta;
};

static int
update_edit(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vupdate *u = arg;

	if (u->has_name && codec_str_set(&v->name, u->name) == -1)
		return -1;
	if (u->has_desc && codec_str_set(&v->description, u->desc) == -1)
		return -1;
	if (u->meta != NULL && volume_meta_parse(u->meta, &v->metadata, false) == -1)
		return -1;
	return 0;
}

int
volume_volumes_update(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "volume_id");
	json_t *body = http_req_json(req), *o, *out;
	struct vupdate u = { 0 };
	const char *dn, *dd;
	bool hdn, hdd;
	struct vedit e;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_visible(req, "volume:update", id) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "volume"))) {
		err_set(TS_EINVALID, "Missing required element 'volume' in "
		    "request body.");
		return -1;
	}
	if (opt_str(o, "name", &u.name, &u.has_name) == -1 ||
	    opt_str(o, "description", &u.desc, &u.has_desc) == -1 ||
	    opt_str(o, "display_name", &dn, &hdn) == -1 ||
	    opt_str(o, "display_description", &dd, &hdd) == -1)
		return -1;
	if (!u.has_name && hdn) {
		u.name = dn;
		u.has_name = true;
	}
	if (!u.has_desc && hdd) {
		u.desc = dd;
		u.has_desc = true;
	}
	u.meta = json_object_get(o, "metadata");
	if (u.meta != NULL && !json_is_object(u.meta))
		return bad_field("metadata", u.meta, "is not of type 'object'");
	if (vol_edit(req, "volume:update", id, update_edit, &u, &e) == -1)
		return -1;
	volume_kick(e.vs);
	out = vol_json(req, &e.out, false, false);
	codec_clear(&schema_rec_volume, &e.out);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "volume", out));
}

static const char *const deletable[] = { "available", "error",
	"error_restoring", "error_extending", "error_managing", NULL };

static bool
in_set(const char *s, const char *const *set)
{
	for (size_t i = 0; set[i] != NULL; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

static int
delete_edit(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vedit *e = arg;
	size_t nsnap;

	if (!in_set(v->status, deletable) || v->attachments.n > 0) {
		err_set(TS_EINVALID, "Invalid volume: Volume status must be "
		    "available or error or error_restoring or error_extending "
		    "or error_managing and must not be migrating, attached, "
		    "belong to a group, have snapshots, awaiting a transfer, "
		    "or be disassociated from snapshots after volume "
		    "transfer.");
		return -1;
	}
	if (volume_db_snap_count(txn, v->id, &nsnap) == -1)
		return -1;
	if (nsnap > 0) {
		err_set(TS_EINVALID, "Invalid volume: Volume still has %zu "
		    "dependent snapshots.", nsnap);
		return -1;
	}
	/* Never placed: nothing on any host to remove. */
	if (v->host == NULL || *v->host == '\0') {
		e->gone = true;
		if (volume_db_del(txn, v) == -1)
			return -1;
		return volume_db_usage_add(txn, v->project_id, -1,
		    -(int64_t)v->size, 0);
	}
	v->generation++;
	return codec_str_set(&v->status, "deleting");
}

int
volume_volumes_delete(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "volume_id");
	struct vedit e, *ep = &e;

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	/* delete_edit reads e.gone through its argument: e itself. */
	if (vol_edit(req, "volume:delete", id, delete_edit, ep, &e) == -1)
		return -1;
	log_info("volume %s: %s", id, e.gone ? "deleted" : "deleting");
	codec_clear(&schema_rec_volume, &e.out);
	volume_kick(volume_of(req));
	return http_resp_status(resp, 202);
}

/* ---- for a server's block device mappings (volume.h) ---------------------- */

int
volume_create_attached(struct volume *vs, struct store_txn *txn,
    const struct volume_new_attached *n, char *volume_id,
    char *attachment_id)
{
	struct vcreate c = { .vs = vs };
	char host[256] = "";
	int rc = -1;

	c.viewer.project_id = n->project_id;
	c.size_given = n->size_gb > 0;
	c.image = n->image_id;
	c.v.size = n->size_gb;
	db_uuid(c.v.id);
	c.v.created_at = c.v.updated_at = db_now_ms();
	c.v.generation = 1;
	if (codec_str_set(&c.v.project_id, n->project_id) == -1 ||
	    codec_str_set(&c.v.user_id, n->user_id) == -1 ||
	    codec_str_set(&c.v.name, n->name) == -1 ||
	    codec_str_set(&c.v.status, "creating") == -1 ||
	    codec_str_set(&c.v.availability_zone, VOLUME_ZONE) == -1 ||
	    codec_str_set(&c.v.volume_type, VOLUME_TYPE_ID) == -1 ||
	    codec_str_set(&c.v.snapshot_id, n->snapshot_id) == -1)
		goto out;
	if (fill_from_source(&c, txn, host, sizeof(host)) == -1)
		goto out;
	if (c.image != NULL && fill_from_image(&c, txn) == -1)
		goto out;
	if (c.v.size == 0) {
		err_set(TS_EINVALID, "Invalid input received: Size must be "
		    "specified.");
		goto out;
	}
	if (volume_quota_check(vs, txn, c.v.project_id, 1, (int64_t)c.v.size,
	    0, (int64_t)c.v.size) == -1)
		goto out;
	/* The server's own host when it serves storage (no network hop),
	 * else wherever a volume would go. */
	if (host[0] == '\0' && n->prefer_host != NULL &&
	    volume_host_serves(vs, txn, n->prefer_host))
		snprintf(host, sizeof(host), "%s", n->prefer_host);
	if (host[0] == '\0' && volume_place(vs, txn, NULL, host,
	    sizeof(host)) == -1)
		goto out;
	if (host[0] == '\0') {
		err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
		    "%s", NO_BACKEND);
		goto out;
	}
	if (codec_str_set(&c.v.host, host) == -1 ||
	    volume_attach_add(&c.v, n->server_id, n->host, n->device,
	    attachment_id) == -1 ||
	    volume_db_put(txn, NULL, &c.v) == -1 ||
	    volume_db_usage_add(txn, c.v.project_id, 1, (int64_t)c.v.size,
	    0) == -1)
		goto out;
	memcpy(volume_id, c.v.id, CODEC_UUID_LEN + 1);
	log_info("volume %s of project %s: %llu GiB on %s for server %s",
	    c.v.id, c.v.project_id, (unsigned long long)c.v.size, host,
	    n->server_id);
	rc = 0;
out:
	codec_clear(&schema_rec_volume, &c.v);
	return rc;
}

int
volume_boot_info(struct volume *vs, struct store_txn *txn,
    const char *project_id, const char *volume_id, struct volume_boot *b)
{
	struct rec_volume v;

	(void)vs;
	memset(b, 0, sizeof(*b));
	if (volume_db_get(txn, volume_id, &v) == -1)
		return -1;
	if (strcmp(v.project_id, project_id) != 0) {
		codec_clear(&schema_rec_volume, &v);
		err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
		    volume_id);
		return -1;
	}
	b->size_gb = v.size;
	b->bootable = v.bootable;
	snprintf(b->status, sizeof(b->status), "%s", v.status);
	for (size_t i = 0; i < v.image_metadata.n; i++) {
		const char *k = v.image_metadata.items[i].k,
		    *val = v.image_metadata.items[i].v;

		if (strcmp(k, "image_id") == 0)
			snprintf(b->image_id, sizeof(b->image_id), "%s", val);
		else if (strcmp(k, "kernel_id") == 0)
			snprintf(b->kernel_id, sizeof(b->kernel_id), "%s", val);
		else if (strcmp(k, "ramdisk_id") == 0)
			snprintf(b->ramdisk_id, sizeof(b->ramdisk_id), "%s",
			    val);
	}
	codec_clear(&schema_rec_volume, &v);
	return 0;
}

int
volume_delete_detached(struct volume *vs, struct store_txn *txn,
    const char *volume_id)
{
	struct vedit e = { .vs = vs, .id = volume_id };
	struct rec_volume old, v;
	int rc;

	if (volume_db_get(txn, volume_id, &old) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (volume_db_get(txn, volume_id, &v) == -1) {
		codec_clear(&schema_rec_volume, &old);
		return -1;
	}
	rc = delete_edit(txn, &v, &e);
	if (rc == 0 && !e.gone) {
		v.updated_at = db_now_ms();
		rc = volume_db_put(txn, &old, &v);
	}
	if (rc == 0)
		log_info("volume %s: deleting with its server", volume_id);
	codec_clear(&schema_rec_volume, &old);
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

/* ---- actions ------------------------------------------------------------ */

struct vaction {
	struct http_req	*req;
	struct volume	*vs;
	json_t		*a;	/* the action's argument */
	const char	*name;
	json_t		*out;	/* the answer's body (NULL: none) */
};

static int
bad_state(const struct rec_volume *v, const char *what)
{
	err_set(TS_EINVALID, "Invalid volume: Volume %s status must be %s, "
	    "but current status is: %s.", v->id, what, v->status);
	return -1;
}

static int
act_extend(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vaction *x = arg;
	int64_t n = 0;
	bool given;

	if (!json_is_object(x->a))
		return bad_field("os-extend", x->a, "is not of type 'object'");
	if (parse_size(x->a, "new_size", &n, &given) == -1)
		return -1;
	if (!given)
		return bad_field("new_size", NULL, "'new_size' is a required "
		    "property");
	if (strcmp(v->status, "available") != 0)
		return bad_state(v, "available to extend");
	if ((uint64_t)n <= v->size) {
		err_set(TS_EINVALID, "Invalid input received: New size for "
		    "extend must be greater than current size. (current: "
		    "%llu, extended: %lld).", (unsigned long long)v->size,
		    (long long)n);
		return -1;
	}
	if (volume_quota_check(x->vs, txn, v->project_id, 0,
	    n - (int64_t)v->size, 0, n) == -1 ||
	    volume_db_usage_add(txn, v->project_id, 0, n - (int64_t)v->size,
	    0) == -1)
		return -1;
	v->size = (uint64_t)n;
	v->generation++;
	return codec_str_set(&v->status, "extending");
}

static const char *const statuses[] = { "creating", "available",
	"reserved", "attaching", "in-use", "detaching", "deleting", "error",
	"error_deleting", "extending", "error_extending", "maintenance",
	"downloading", "uploading", "retyping", "backing-up", "restoring-backup",
	"error_restoring", "error_managing", "managing", "awaiting-transfer",
	NULL };

static int
act_reset(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vaction *x = arg;
	json_t *js;

	if (!json_is_object(x->a))
		return bad_field("os-reset_status", x->a, "is not of type "
		    "'object'");
	js = json_object_get(x->a, "status");
	if (js == NULL && json_object_get(x->a, "attach_status") == NULL &&
	    json_object_get(x->a, "migration_status") == NULL) {
		err_set(TS_EINVALID, "Invalid input received: Must specify "
		    "'status', 'attach_status' or 'migration_status' for "
		    "update.");
		return -1;
	}
	if (js != NULL && (!json_is_string(js) ||
	    !in_set(json_string_value(js), statuses))) {
		err_set(TS_EINVALID, "Invalid input received: Must specify a "
		    "valid status");
		return -1;
	}
	if (js == NULL)
		return 1;
	return codec_str_set(&v->status, json_string_value(js));
}

static int
json_flag(json_t *o, const char *k, bool *out)
{
	json_t *jv = json_object_get(o, k);

	if (json_is_boolean(jv)) {
		*out = json_is_true(jv);
		return 0;
	}
	if (json_is_string(jv)) {
		const char *s = json_string_value(jv);

		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "t") == 0 ||
		    strcasecmp(s, "yes") == 0 || strcasecmp(s, "y") == 0 ||
		    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, "false") == 0 || strcasecmp(s, "f") == 0 ||
		    strcasecmp(s, "no") == 0 || strcasecmp(s, "n") == 0 ||
		    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0) {
			*out = false;
			return 0;
		}
	}
	err_set(TS_EINVALID, "Invalid input received: '%s' is not a valid "
	    "boolean value", k);
	return -1;
}

static int
act_bootable(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vaction *x = arg;
	bool b;

	if (!json_is_object(x->a) || json_flag(x->a, "bootable", &b) == -1)
		return -1;
	v->bootable = b;
	return 0;
}

static int
act_readonly(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vaction *x = arg;
	bool b;

	if (!json_is_object(x->a) || json_flag(x->a, "readonly", &b) == -1)
		return -1;
	if (strcmp(v->status, "available") != 0 &&
	    strcmp(v->status, "in-use") != 0)
		return bad_state(v, "available or in-use to update readonly "
		    "flag");
	v->readonly = b;
	v->has_readonly_set = true;
	v->readonly_set = true;
	return 0;
}

/* The legacy attach flow's flips, as Cinder's volume API does them. */
static int
flip(struct rec_volume *v, const char *from1, const char *from2,
    const char *to, const char *what)
{
	if (strcmp(v->status, from1) != 0 && (from2 == NULL ||
	    strcmp(v->status, from2) != 0)) {
		char want[64];

		snprintf(want, sizeof(want), "%s%s%s", from1, from2 ? " or " :
		    "", from2 ? from2 : "");
		err_set(TS_EINVALID, "Invalid volume: Volume status must be "
		    "%s to %s.", want, what);
		return -1;
	}
	return codec_str_set(&v->status, to);
}

static int
act_reserve(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	return flip(v, "available", v->multiattach ? "in-use" : NULL,
	    "attaching", "reserve");
}

static int
act_unreserve(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	if (strcmp(v->status, "attaching") != 0)
		return 1;	/* Cinder: a no-op in any other state */
	return codec_str_set(&v->status, v->attachments.n > 0 ? "in-use" :
	    "available");
}

static int
act_begin_detaching(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	return flip(v, "in-use", NULL, "detaching", "begin detaching");
}

static int
act_roll_detaching(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	if (strcmp(v->status, "detaching") != 0)
		return 1;
	return codec_str_set(&v->status, "in-use");
}

static int
act_attach(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vaction *x = arg;
	const char *inst = NULL, *mp = NULL, *mode = "rw", *hostn = NULL;
	struct sch_vol_attachment *a;
	void *nv;

	if (!json_is_object(x->a))
		return bad_field("os-attach", x->a, "is not of type 'object'");
	if (opt_str(x->a, "instance_uuid", &inst, NULL) == -1 ||
	    opt_str(x->a, "mountpoint", &mp, NULL) == -1 ||
	    opt_str(x->a, "host_name", &hostn, NULL) == -1)
		return -1;
	if (json_is_string(json_object_get(x->a, "mode")))
		mode = json_string_value(json_object_get(x->a, "mode"));
	if (strcmp(mode, "rw") != 0 && strcmp(mode, "ro") != 0) {
		err_set(TS_EINVALID, "Invalid input received: Invalid attaching "
		    "mode '%.8s' for volume %s.", mode, v->id);
		return -1;
	}
	if ((inst == NULL) == (hostn == NULL)) {
		err_set(TS_EINVALID, "Invalid request to attach volume to an "
		    "invalid target");
		return -1;
	}
	if (inst != NULL && !jsonreq_uuid_like(inst)) {
		err_set(TS_EINVALID, "Invalid request to attach volume with an "
		    "invalid UUID");
		return -1;
	}
	if (mp == NULL) {
		err_set(TS_EINVALID, "Invalid input received: mountpoint is "
		    "required");
		return -1;
	}
	if (strcmp(v->status, "attaching") != 0 &&
	    strcmp(v->status, "available") != 0 &&
	    !(v->multiattach && strcmp(v->status, "in-use") == 0))
		return bad_state(v, "available or attaching to attach");
	/* The connection os-initialize_connection made for no instance yet
	 * becomes this attachment (its export stays). */
	for (size_t i = 0; i < v->attachments.n; i++) {
		a = &v->attachments.items[i];
		if (strcmp(a->server_id, VOLUME_NO_SERVER) != 0 ||
		    strcmp(a->status, "attaching") != 0 ||
		    a->initiator == NULL || *a->initiator == '\0')
			continue;
		if (inst != NULL)
			snprintf(a->server_id, sizeof(a->server_id), "%s",
			    inst);
		a->attached_at = db_now_ms();
		if ((hostn != NULL && codec_str_set(&a->host_name,
		    hostn) == -1) || codec_str_set(&a->device, mp) == -1 ||
		    codec_str_set(&a->status, "attached") == -1 ||
		    codec_str_set(&a->mode, mode) == -1)
			return -1;
		return codec_str_set(&v->status, "in-use");
	}
	if (v->attachments.n >= 16) {
		err_set(TS_EINVALID, "Invalid volume: too many attachments");
		return -1;
	}
	if ((nv = realloc(v->attachments.items, (v->attachments.n + 1) *
	    sizeof(*a))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	v->attachments.items = nv;
	a = &v->attachments.items[v->attachments.n++];
	memset(a, 0, sizeof(*a));
	db_uuid(a->id);
	snprintf(a->server_id, sizeof(a->server_id), "%s", inst != NULL ?
	    inst : VOLUME_NO_SERVER);
	a->attached_at = db_now_ms();
	/* A legacy attachment names no initiator: nothing is exported for
	 * it (Nova's path is volume_attach_begin()). */
	if (codec_str_set(&a->host_name, hostn != NULL ? hostn : "") ==
	    -1 || codec_str_set(&a->initiator, "") == -1 ||
	    codec_str_set(&a->device, mp) == -1 ||
	    codec_str_set(&a->status, "attached") == -1 ||
	    codec_str_set(&a->mode, mode) == -1 ||
	    codec_str_set(&a->chap_user, "") == -1 ||
	    codec_str_set(&a->chap_secret, "") == -1)
		return -1;
	return codec_str_set(&v->status, "in-use");
}

static int
act_detach(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vaction *x = arg;
	const char *aid = NULL;
	size_t i, k = 0;

	if (json_is_object(x->a) && opt_str(x->a, "attachment_id", &aid,
	    NULL) == -1)
		return -1;
	if (strcmp(v->status, "in-use") != 0 &&
	    strcmp(v->status, "detaching") != 0)
		return bad_state(v, "in-use or detaching to detach");
	if (aid == NULL && v->attachments.n > 1) {
		err_set(TS_EINVALID, "Invalid volume: Volume %s is attached to "
		    "more than one instance: an attachment_id is required.",
		    v->id);
		return -1;
	}
	for (i = 0; i < v->attachments.n; i++) {
		struct sch_vol_attachment *a = &v->attachments.items[i];

		if (aid == NULL || strcmp(a->id, aid) == 0)
			codec_clear(&schema_sch_vol_attachment, a);
		else
			v->attachments.items[k++] = *a;
	}
	if (k == v->attachments.n) {
		err_set(TS_ENOT_FOUND, "Volume attachment %.64s could not be "
		    "found.", aid ? aid : "");
		return -1;
	}
	v->attachments.n = k;
	if (k == 0) {
		free(v->attachments.items);
		v->attachments.items = NULL;
	}
	v->generation++;
	return codec_str_set(&v->status, k > 0 ? "in-use" : "available");
}

static int
act_init_conn(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct vaction *x = arg;

	json_decref(x->out);	/* a retried write answers once */
	x->out = NULL;
	return volume_conn_initialize(txn, v, x->a, &x->out);
}

static int
act_term_conn(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	return volume_conn_terminate(txn, v, ((struct vaction *)arg)->a);
}

/*
 * os-volume_upload_image: in this transaction a queued image (the
 * volume's project its owner, volume_image_metadata as its properties)
 * and the volume `uploading` with the image, its format, the status to go
 * back to and a deadline; storesync then asks the volume's host to PUT
 * the converted data to the image with an upload capability, and the
 * host's answer (or the deadline) puts the volume back (a failure
 * discards the image).
 */
static int
act_upload(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	static const char *const disk_formats[] = { "raw", "qcow2", NULL };
	static const char *const cinder_formats[] = { "raw", "vmdk", "vdi",
	    "qcow2", "vhd", "vhdx", "ploop", NULL };
	struct vaction *x = arg;
	struct image_volume_req ir = { 0 };
	const char *name = NULL, *cf = "bare", *df = "raw", *vis = "private";
	bool force = false, prot = false, in_use;
	char image_id[37], tname[256];
	struct request_target t = { .n = 0 };
	int64_t now = db_now_ms();
	size_t j;

	if (!json_is_object(x->a))
		return bad_field("os-volume_upload_image", x->a, "is not of "
		    "type 'object'");
	if (jsonreq_str(JSONREQ_NOVA, x->a, "image_name", 1, 255,
	    JSONREQ_BYTES | JSONREQ_REQUIRED, &name, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, x->a, "container_format", 0, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &cf, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, x->a, "disk_format", 0, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &df, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, x->a, "visibility", 0, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &vis, NULL) == -1)
		return -1;
	if (json_object_get(x->a, "force") != NULL &&
	    json_flag(x->a, "force", &force) == -1)
		return -1;
	if (json_object_get(x->a, "protected") != NULL &&
	    json_flag(x->a, "protected", &prot) == -1)
		return -1;
	if (cf == NULL)
		cf = "bare";
	if (df == NULL)
		df = "raw";
	if (vis == NULL)
		vis = "private";
	if (strcmp(cf, "bare") != 0) {
		err_set(TS_EINVALID, "Invalid input received: Container format "
		    "'%.32s' is not supported (bare only).", cf);
		return -1;
	}
	for (j = 0; cinder_formats[j] != NULL &&
	    strcmp(cinder_formats[j], df) != 0; j++)
		;
	if (cinder_formats[j] == NULL) {
		err_set(TS_EINVALID, "Invalid disk-format '%.32s' is "
		    "specified. Allowed disk-formats are raw, vmdk, vdi, "
		    "qcow2, vhd, vhdx, ploop.", df);
		return -1;
	}
	for (j = 0; disk_formats[j] != NULL &&
	    strcmp(disk_formats[j], df) != 0; j++)
		;
	if (disk_formats[j] == NULL) {
		err_set(TS_EINVALID, "Invalid input received: disk format "
		    "'%.32s' is not supported here (raw, qcow2).", df);
		return -1;
	}
	/* Cinder's upload_public rule for an image everyone sees. */
	if (strcmp(vis, "public") == 0 && (request_target_add(&t,
	    "project_id", v->project_id) == -1 || request_enforce(x->req,
	    "volume_extension:volume_actions:upload_public", &t) == -1))
		return -1;
	in_use = strcmp(v->status, "in-use") == 0;
	if (strcmp(v->status, "available") != 0 && !(in_use && force)) {
		if (in_use) {
			err_set(TS_EINVALID, "Invalid volume: Volume %s status "
			    "must be available (or in-use with force), but "
			    "current status is: in-use.", v->id);
			return -1;
		}
		return bad_state(v, "available or in-use");
	}
	if (v->host == NULL || *v->host == '\0') {
		err_set(TS_EINVALID, "Invalid volume: Volume %s has no storage "
		    "host.", v->id);
		return -1;
	}
	ir.name = name;
	ir.project_id = v->project_id;
	ir.disk_format = df;
	ir.container_format = cf;
	ir.visibility = vis;
	ir.protected = prot;
	ir.image_metadata = &v->image_metadata;
	if (image_volume_upload_create(txn, &ir, now, image_id) == -1)
		return -1;
	if (codec_str_set(&v->upload_image_id, image_id) == -1 ||
	    codec_str_set(&v->upload_disk_format, df) == -1 ||
	    codec_str_set(&v->upload_prev_status, v->status) == -1 ||
	    codec_str_set(&v->status, "uploading") == -1)
		return -1;
	v->has_upload_deadline = true;
	v->upload_deadline = now + VOLUME_UPLOAD_BASE_MS +
	    (int64_t)v->size * VOLUME_UPLOAD_PER_GIB_MS;
	v->generation++;
	/* The type's name from this transaction (volume_type_name() would
	 * open a read transaction inside this write). */
	snprintf(tname, sizeof(tname), "%s", VOLUME_TYPE_NAME);
	if (v->volume_type != NULL && *v->volume_type != '\0' &&
	    strcmp(v->volume_type, VOLUME_TYPE_ID) != 0 &&
	    strcmp(v->volume_type, VOLUME_TYPE_NAME) != 0) {
		struct rec_volume_type vt;

		snprintf(tname, sizeof(tname), "%s", v->volume_type);
		if (db_rec_get(txn, T_VOLUME_TYPES, v->volume_type,
		    &schema_rec_volume_type, &vt) == 0) {
			snprintf(tname, sizeof(tname), "%s", vt.name);
			codec_clear(&schema_rec_volume_type, &vt);
		}
		err_clear();
	}
	x->out = json_pack("{s:{s:s, s:o, s:s, s:o, s:I, s:{s:s, s:s, s:n, "
	    "s:b, s:b, s:{}, s:n}, s:s, s:s, s:s, s:s, s:b, s:s}}",
	    "os-volume_upload_image",
	    "id", v->id, "updated_at", volume_time(now),
	    "status", "uploading",
	    "display_description", nstr(v->description),
	    "size", (json_int_t)v->size,
	    "volume_type", "id", v->volume_type, "name", tname,
	    "description", "is_public", 1, "deleted", 0, "extra_specs",
	    "qos_specs_id",
	    "image_id", image_id, "container_format", cf,
	    "disk_format", df, "image_name", name, "protected", prot,
	    "visibility", vis);
	if (x->out == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static const struct {
	const char	*name;
	const char	*rule;
	int		(*fn)(struct store_txn *, struct rec_volume *, void *);
	int		 status;
} actions[] = {
	{ "os-extend", "volume:extend", act_extend, 202 },
	{ "os-reset_status",
	    "volume_extension:volume_admin_actions:reset_status", act_reset,
	    202 },
	{ "os-set_bootable", "volume:update", act_bootable, 200 },
	{ "os-update_readonly_flag", "volume:update_readonly_flag",
	    act_readonly, 202 },
	{ "os-reserve", "volume_extension:volume_actions:reserve",
	    act_reserve, 202 },
	{ "os-unreserve", "volume_extension:volume_actions:unreserve",
	    act_unreserve, 202 },
	{ "os-begin_detaching",
	    "volume_extension:volume_actions:begin_detaching",
	    act_begin_detaching, 202 },
	{ "os-roll_detaching", "volume_extension:volume_actions:roll_detaching",
	    act_roll_detaching, 202 },
	{ "os-attach", "volume_extension:volume_actions:attach", act_attach,
	    202 },
	{ "os-detach", "volume_extension:volume_actions:detach", act_detach,
	    202 },
	{ "os-initialize_connection",
	    "volume_extension:volume_actions:initialize_connection",
	    act_init_conn, 200 },
	{ "os-terminate_connection",
	    "volume_extension:volume_actions:terminate_connection",
	    act_term_conn, 202 },
	{ "os-volume_upload_image",
	    "volume_extension:volume_actions:upload_image", act_upload, 202 },
};

/* Cinder's policy names of the actions, for the route table's checker. */
const char *const volume_action_rules[] = {
	"volume:extend", "volume_extension:volume_admin_actions:reset_status",
	"volume:update", "volume:update_readonly_flag",
	"volume_extension:volume_actions:reserve",
	"volume_extension:volume_actions:unreserve",
	"volume_extension:volume_actions:begin_detaching",
	"volume_extension:volume_actions:roll_detaching",
	"volume_extension:volume_actions:attach",
	"volume_extension:volume_actions:detach",
	"volume_extension:volume_actions:initialize_connection",
	"volume_extension:volume_actions:terminate_connection",
	"volume_extension:volume_actions:upload_image",
	"volume_extension:volume_actions:upload_public", NULL
};

int
volume_volumes_action(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "volume_id");
	json_t *body = http_req_json(req);
	struct vaction x = { .req = req, .vs = volume_of(req) };
	struct vedit e;
	const char *k;
	json_t *jv;
	size_t i;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_visible(req, NULL, id) == -1)
		return -1;
	if (!json_is_object(body) || json_object_size(body) != 1) {
		err_set(TS_EINVALID, "Invalid request body: one action "
		    "expected.");
		return -1;
	}
	json_object_foreach(body, k, jv) {
		x.name = k;
		x.a = jv;
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]) &&
	    strcmp(actions[i].name, x.name) != 0; i++)
		;
	if (i == sizeof(actions) / sizeof(actions[0])) {
		err_set(TS_EINVALID, "There is no such action: %.64s", x.name);
		return -1;
	}
	if (vol_edit(req, actions[i].rule, id, actions[i].fn, &x, &e) == -1) {
		json_decref(x.out);
		return -1;
	}
	log_info("volume %s: %s (%s)", id, x.name, e.out.status);
	codec_clear(&schema_rec_volume, &e.out);
	volume_kick(x.vs);
	if (x.out != NULL)
		return http_resp_json(resp, actions[i].status, x.out);
	return http_resp_status(resp, actions[i].status);
}

/* ---- metadata ----------------------------------------------------------- */

static int
meta_reply(struct http_resp *resp, const struct rec_volume *v,
    const char *key)
{
	if (key == NULL)
		return http_resp_json(resp, 200, json_pack("{s:o*}",
		    "metadata", strmap_json(&v->metadata)));
	for (size_t i = 0; i < v->metadata.n; i++)
		if (strcmp(v->metadata.items[i].k, key) == 0)
			return http_resp_json(resp, 200, json_pack("{s:{s:s}}",
			    "meta", key, v->metadata.items[i].v));
	err_set(TS_ENOT_FOUND, "Volume %s has no metadata with key %.255s.",
	    v->id, key);
	return -1;
}

int
volume_meta_list(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume v;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_check(req, "volume:get_volume_metadata", http_req_param(req,
	    "volume_id"), &v) == -1)
		return -1;
	rc = meta_reply(resp, &v, NULL);
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_meta_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume v;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_check(req, "volume:get_volume_metadata", http_req_param(req,
	    "volume_id"), &v) == -1)
		return -1;
	rc = meta_reply(resp, &v, http_req_param(req, "key"));
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

struct mset {
	json_t		*m;
	bool		 merge;
	const char	*del;	/* a key to remove */
};

static int
meta_edit(struct store_txn *txn, struct rec_volume *v, void *arg)
{
	struct mset *s = arg;

	if (s->del != NULL) {
		size_t i;

		for (i = 0; i < v->metadata.n &&
		    strcmp(v->metadata.items[i].k, s->del) != 0; i++)
			;
		if (i == v->metadata.n) {
			err_set(TS_ENOT_FOUND, "Volume %s has no metadata with "
			    "key %.255s.", v->id, s->del);
			return -1;
		}
		free(v->metadata.items[i].k);
		free(v->metadata.items[i].v);
		v->metadata.items[i] = v->metadata.items[--v->metadata.n];
		return 0;
	}
	return volume_meta_parse(s->m, &v->metadata, s->merge);
}

/* POST merges, PUT replaces: {"metadata": {...}}. */
static int
meta_set(struct http_req *req, struct http_resp *resp, bool merge)
{
	json_t *body = http_req_json(req), *m;
	struct mset s = { .merge = merge };
	struct vedit e;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_visible(req, merge ? "volume:create_volume_metadata" :
	    "volume:update_volume_metadata", http_req_param(req,
	    "volume_id")) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(m = json_object_get(body,
	    "metadata"))) {
		err_set(TS_EINVALID, "Malformed request body");
		return -1;
	}
	s.m = m;
	if (vol_edit(req, merge ? "volume:create_volume_metadata" :
	    "volume:update_volume_metadata", http_req_param(req, "volume_id"),
	    meta_edit, &s, &e) == -1)
		return -1;
	rc = http_resp_json(resp, 200, json_pack("{s:o*}", "metadata",
	    merge ? strmap_json(&e.out.metadata) : json_incref(m)));
	codec_clear(&schema_rec_volume, &e.out);
	return rc;
}

int
volume_meta_create(struct http_req *req, struct http_resp *resp)
{
	return meta_set(req, resp, true);
}

int
volume_meta_replace(struct http_req *req, struct http_resp *resp)
{
	return meta_set(req, resp, false);
}

/* PUT /metadata/{key} {"meta": {key: value}}. */
int
volume_meta_update(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_req_param(req, "key");
	json_t *body = http_req_json(req), *m;
	struct mset s = { .merge = true };
	struct vedit e;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_visible(req, "volume:update_volume_metadata",
	    http_req_param(req, "volume_id")) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(m = json_object_get(body,
	    "meta"))) {
		err_set(TS_EINVALID, "Malformed request body");
		return -1;
	}
	if (json_object_size(m) > 1) {
		err_set(TS_EINVALID, "Request body contains too many items");
		return -1;
	}
	if (json_object_get(m, key) == NULL) {
		err_set(TS_EINVALID, "Request body and URI mismatch");
		return -1;
	}
	s.m = m;
	if (vol_edit(req, "volume:update_volume_metadata", http_req_param(req,
	    "volume_id"), meta_edit, &s, &e) == -1)
		return -1;
	codec_clear(&schema_rec_volume, &e.out);
	return http_resp_json(resp, 200, json_pack("{s:O}", "meta", m));
}

int
volume_meta_delete(struct http_req *req, struct http_resp *resp)
{
	struct mset s = { .del = http_req_param(req, "key") };
	struct vedit e;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    vol_edit(req, "volume:delete_volume_metadata", http_req_param(req,
	    "volume_id"), meta_edit, &s, &e) == -1)
		return -1;
	codec_clear(&schema_rec_volume, &e.out);
	return http_resp_status(resp, 200);
}
