/*
 * compute_images: Nova's image proxy (GET /images, /images/detail,
 * /images/{id}, DELETE /images/{id} and /images/{id}/metadata[/{key}]),
 * served from microversion 2.1 to 2.35 (2.36 removed the proxies: 404).
 *
 * Nova asks Glance with the user's token and has no rule of its own here;
 * so the routes name the image service's rules and the image service
 * (image.h, image_proxy_*) enforces them with this request's credentials
 * on the stored image: an image the caller may not see is 404 "Image not
 * found.", as Nova turns Glance's 404. The view is Nova's images view:
 * Glance's status in upper case (queued/saving SAVING, active ACTIVE,
 * others UNKNOWN) with a progress, min_ram/min_disk as minRam/minDisk, the
 * extra properties as metadata, the server of a snapshot (property
 * instance_uuid), OS-EXT-IMG-SIZE:size and OS-DCF:diskConfig (property
 * auto_disk_config).
 *
 * Metadata writes read the image first and check the project's
 * metadata_items limit on the result (Nova's
 * check_img_metadata_properties_quota: 403 "Image metadata limit
 * exceeded"), then change the properties in one write of the image
 * service; like Nova's proxy, the limit check and the write are two steps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "codec.h"
#include "compute_db.h"
#include "compute_int.h"
#include "err.h"
#include "http/http.h"
#include "http/jsonreq.h"
#include "image/image.h"

/* Nova's images view ---------------------------------------------------------- */

static const char *
nova_status(const char *s)
{
	if (strcmp(s, "active") == 0)
		return "ACTIVE";
	if (strcmp(s, "queued") == 0 || strcmp(s, "saving") == 0)
		return "SAVING";
	if (strcmp(s, "deleted") == 0 || strcmp(s, "pending_delete") == 0)
		return "DELETED";
	if (strcmp(s, "killed") == 0)
		return "ERROR";
	return "UNKNOWN";
}

static int
nova_progress(const char *s)
{
	if (strcmp(s, "queued") == 0)
		return 25;
	if (strcmp(s, "saving") == 0)
		return 50;
	return strcmp(s, "active") == 0 ? 100 : 0;
}

static const char *
prop(const struct rec_image *img, const char *k)
{
	for (size_t i = 0; i < img->properties.n; i++)
		if (strcmp(img->properties.items[i].k, k) == 0)
			return img->properties.items[i].v;
	return NULL;
}

/* oslo's bool_from_string (strict off): anything else is false. */
static bool
str_true(const char *s)
{
	static const char *const t[] = { "1", "t", "true", "on", "y", "yes",
	    NULL };

	for (size_t i = 0; t[i] != NULL; i++)
		if (strcasecmp(s, t[i]) == 0)
			return true;
	return false;
}

static json_t *
props_json(const struct rec_image *img)
{
	json_t *m = json_object();

	for (size_t i = 0; m != NULL && i < img->properties.n; i++)
		if (json_object_set_new(m, img->properties.items[i].k,
		    json_string(img->properties.items[i].v)) == -1) {
			json_decref(m);
			return NULL;
		}
	return m;
}

/* self and bookmark (compute_links()) and Glance's alternate. */
static json_t *
image_links(struct http_req *req, const char *id)
{
	json_t *l = compute_links(req, "images", id);
	char alt[1200];

	if (l != NULL && compute_snapshot_image_url(req, id, alt,
	    sizeof(alt)) == 0 && json_array_append_new(l, json_pack(
	    "{s:s, s:s, s:s}", "rel", "alternate", "type",
	    "application/vnd.openstack.image", "href", alt)) == -1) {
		json_decref(l);
		return NULL;
	}
	return l;
}

static json_t *
image_view(struct http_req *req, const struct rec_image *img, bool detail)
{
	const char *uuid, *adc;
	json_t *o;

	o = json_pack("{s:s, s:o, s:o*}", "id", img->id, "name",
	    img->name != NULL ? json_string(img->name) : json_null(), "links",
	    image_links(req, img->id));
	if (o == NULL || !detail)
		return o;
	if (json_object_update_new(o, json_pack("{s:I, s:I, s:o*, s:o, s:o, "
	    "s:s, s:i, s:o}",
	    "minRam", (json_int_t)img->min_ram,
	    "minDisk", (json_int_t)img->min_disk,
	    "metadata", props_json(img),
	    "created", compute_time_or_null(img->created_at, 0),
	    "updated", compute_time_or_null(img->updated_at, 0),
	    "status", nova_status(img->status),
	    "progress", nova_progress(img->status),
	    "OS-EXT-IMG-SIZE:size", img->has_size ?
	    json_integer((json_int_t)img->size) : json_null())) == -1)
		goto nomem;
	if ((uuid = prop(img, "instance_uuid")) != NULL &&
	    json_object_set_new(o, "server", compute_ref(req, "servers",
	    uuid)) == -1)
		goto nomem;
	if ((adc = prop(img, "auto_disk_config")) != NULL &&
	    json_object_set_new(o, "OS-DCF:diskConfig", json_string(
	    str_true(adc) ? "AUTO" : "MANUAL")) == -1)
		goto nomem;
	return o;
nomem:
	json_decref(o);
	return NULL;
}

/* Every handler: the proxies end at 2.36 (Nova: 404). */
static int
proxy_version(struct http_req *req, struct http_resp *resp)
{
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (request_mv_has(mv, MV_NO_PROXY)) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (compute_of(req)->image == NULL) {
		err_set(TS_EUNAVAILABLE, "The image service is not "
		    "available.");
		return -1;
	}
	return 0;
}

/* Glance's 404 as Nova words it. */
static int
not_found(void)
{
	if (err_code() == TS_ENOT_FOUND)
		err_set(TS_ENOT_FOUND, "Image not found.");
	return -1;
}

/* ---- list ---------------------------------------------------------------- */

#define QUERY_MAX	64

/* Nova's _get_filters() and Glance v2 translation (nova/image/glance.py):
 * its filters and pagination as Glance query pairs into q (n set). */
static int
glance_query(struct http_req *req, struct image_kv *q, size_t *n,
    char *since, size_t sincelen)
{
	static const struct {
		const char *nova, *glance;
	} map[] = {
		{ "name", "name" }, { "status", "status" },
		{ "server", "instance_uuid" }, { "type", "image_type" },
		{ "minRam", "min_ram" }, { "minDisk", "min_disk" },
		{ "limit", "limit" }, { "marker", "marker" },
	};
	size_t i, j, cnt = http_req_query_count(req);
	bool limit = false, present;
	int64_t lim;

	*n = 0;
	for (i = 0; i < cnt && *n < QUERY_MAX - 1; i++) {
		const char *k, *v, *slash;

		if (http_req_query_at(req, i, &k, &v) == -1) {
			err_set(TS_EINTERNAL, "query pair %zu", i);
			return -1;
		}
		if (strcmp(k, "changes-since") == 0) {
			snprintf(since, sincelen, "gte:%s", v);
			q[(*n)++] = (struct image_kv){ "updated_at", since };
			continue;
		}
		if (strncmp(k, "property-", 9) == 0 && k[9] != '\0') {
			q[(*n)++] = (struct image_kv){ k + 9, v };
			continue;
		}
		for (j = 0; j < sizeof(map) / sizeof(map[0]); j++)
			if (strcmp(k, map[j].nova) == 0)
				break;
		if (j == sizeof(map) / sizeof(map[0]))
			continue;	/* Nova ignores the others */
		if (strcmp(k, "limit") == 0) {
			if (jsonreq_query_int(JSONREQ_NOVA, k, v, 0, INT64_MAX,
			    &lim, &present) == -1)
				return -1;
			limit = true;
		}
		/* a server reference is its last path segment */
		if (strcmp(k, "server") == 0 && (slash = strrchr(v, '/')) !=
		    NULL)
			v = slash + 1;
		q[(*n)++] = (struct image_kv){ map[j].glance, v };
	}
	/* glanceclient follows Glance's pages: all of them, up to Nova's
	 * max_limit. */
	if (!limit)
		q[(*n)++] = (struct image_kv){ "limit", "1000" };
	return 0;
}

/* Nova's lowercasing of status for Glance. */
static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int
list(struct http_req *req, struct http_resp *resp, bool detail)
{
	struct image_kv q[QUERY_MAX];
	struct image_page page = { NULL, 0, false };
	char since[300], status[32];
	const char *limit = NULL;
	json_t *out = NULL, *items;
	size_t n, i;
	int rc = -1;

	if (proxy_version(req, resp) == -1 ||
	    glance_query(req, q, &n, since, sizeof(since)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(q[i].key, "status") == 0) {
			snprintf(status, sizeof(status), "%s", q[i].value);
			lower(status);
			q[i].value = status;
		}
		if (strcmp(q[i].key, "limit") == 0)
			limit = q[i].value;
	}
	if (image_proxy_list(compute_of(req)->image, req, q, n, &page) == -1)
		return -1;
	if ((out = json_object()) == NULL || (items = json_array()) == NULL ||
	    json_object_set_new(out, "images", items) == -1)
		goto nomem;
	for (i = 0; i < page.n; i++)
		if (json_array_append_new(items, image_view(req,
		    &page.items[i], detail)) == -1)
			goto nomem;
	/* Nova's _get_collection_links(): a full page links the next. */
	if (page.n > 0 && limit != NULL && page.n == strtoull(limit, NULL,
	    10)) {
		char href[1200];

		if (compute_url(req, false, href, sizeof(href),
		    "images%s?limit=%s&marker=%s", detail ? "/detail" : "",
		    limit, page.items[page.n - 1].id) == 0 &&
		    json_object_set_new(out, "images_links", json_pack(
		    "[{s:s, s:s}]", "rel", "next", "href", href)) == -1)
			goto nomem;
	}
	rc = http_resp_json(resp, 200, out);
	out = NULL;
	goto done;
nomem:
	err_set(TS_ENOMEM, "out of memory");
done:
	json_decref(out);
	image_list_page_clear(&page);
	return rc;
}

int
compute_images_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, false);
}

int
compute_images_detail(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, true);
}

/* ---- one image ----------------------------------------------------------- */

static int
get(struct http_req *req, struct rec_image *img)
{
	if (image_proxy_get(compute_of(req)->image, req,
	    http_req_param(req, "image_id"), img) == -1)
		return not_found();
	return 0;
}

int
compute_images_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_image img;
	json_t *o;

	if (proxy_version(req, resp) == -1 || get(req, &img) == -1)
		return -1;
	o = image_view(req, &img, true);
	codec_clear(&schema_rec_image, &img);
	return http_resp_json(resp, 200, json_pack("{s:o}", "image", o));
}

int
compute_images_delete(struct http_req *req, struct http_resp *resp)
{
	if (proxy_version(req, resp) == -1)
		return -1;
	if (image_proxy_delete(compute_of(req)->image, req,
	    http_req_param(req, "image_id")) == -1) {
		if (err_code() == TS_EFORBIDDEN)
			err_set(TS_EFORBIDDEN, "You are not allowed to delete "
			    "the image.");
		return not_found();
	}
	return http_resp_status(resp, 204);
}

/* ---- metadata ------------------------------------------------------------ */

/* Nova's metadata key pattern ^[a-zA-Z0-9-_:. ]{1,255}$. */
static bool
key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 255)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		    (*k >= '0' && *k <= '9') || strchr("-_:. ", *k) != NULL))
			return false;
	return true;
}

/* The body's object under key (Nova's schemas: required, nothing else
 * beside it; keys by the pattern, values strings of at most 255). */
static int
meta_body(struct http_req *req, const char *key, json_t **out)
{
	json_t *b = http_req_json(req), *m, *v;
	const char *k;

	if (b == NULL || !json_is_object(b) || (m = json_object_get(b,
	    key)) == NULL)
		return jsonreq_fail(JSONREQ_NOVA, key, "It is required.");
	if (json_object_size(b) != 1)
		return jsonreq_fail(JSONREQ_NOVA, key, "Additional "
		    "properties are not allowed.");
	if (!json_is_object(m))
		return jsonreq_fail(JSONREQ_NOVA, key, "Value must be an "
		    "object.");
	json_object_foreach(m, k, v) {
		if (!key_ok(k))
			return jsonreq_fail(JSONREQ_NOVA, key, "Additional "
			    "properties are not allowed.");
		if (!json_is_string(v) || json_string_length(v) > 255 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return jsonreq_fail(JSONREQ_NOVA, key, "Values must "
			    "be strings of at most 255 characters.");
	}
	*out = m;
	return 0;
}

/* The project's metadata_items limit on n properties. */
static int
meta_quota(struct http_req *req, size_t n)
{
	struct compute *c = compute_of(req);
	struct compute_quota_defaults lim;
	struct rec_compute_quota q;
	struct store_txn *txn;
	const char *project = compute_ctx(req)->project_id;
	int rc;

	/* a token without a project has no project's limit */
	if (n == 0 || project == NULL || *project == '\0')
		return 0;
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_quota_get(txn, project, &q);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	compute_admin_quota_limits(c, &q, &lim);
	codec_clear(&schema_rec_compute_quota, &q);
	if (lim.metadata_items >= 0 && (int64_t)n > lim.metadata_items) {
		err_set(TS_EFORBIDDEN, "Image metadata limit exceeded");
		return -1;
	}
	return 0;
}

/* Set (merge or, with purge, replace) m's pairs on the image. */
static int
meta_write(struct http_req *req, json_t *m, bool purge, struct rec_image *out)
{
	struct image_kv *kv;
	struct rec_image cur;
	const char *k;
	json_t *v;
	size_t n = 0, total;
	int rc;

	if (get(req, &cur) == -1)
		return -1;
	total = json_object_size(m);
	if (!purge) {
		total += cur.properties.n;
		for (size_t i = 0; i < cur.properties.n; i++)
			if (json_object_get(m, cur.properties.items[i].k) !=
			    NULL)
				total--;
	}
	codec_clear(&schema_rec_image, &cur);
	if (meta_quota(req, total) == -1)
		return -1;
	if ((kv = calloc(json_object_size(m) + 1, sizeof(*kv))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	json_object_foreach(m, k, v)
		kv[n++] = (struct image_kv){ k, json_string_value(v) };
	rc = image_proxy_props(compute_of(req)->image, req,
	    http_req_param(req, "image_id"), kv, n, purge, NULL, out);
	free(kv);
	return rc == -1 ? not_found() : 0;
}

int
compute_images_metadata_list(struct http_req *req, struct http_resp *resp)
{
	struct rec_image img;
	json_t *m;

	if (proxy_version(req, resp) == -1 || get(req, &img) == -1)
		return -1;
	m = props_json(&img);
	codec_clear(&schema_rec_image, &img);
	return http_resp_json(resp, 200, json_pack("{s:o}", "metadata", m));
}

/* POST: merged into the image's; answers all of them. */
int
compute_images_metadata_create(struct http_req *req, struct http_resp *resp)
{
	struct rec_image img;
	json_t *m;

	if (proxy_version(req, resp) == -1 ||
	    meta_body(req, "metadata", &m) == -1 ||
	    meta_write(req, m, false, &img) == -1)
		return -1;
	m = props_json(&img);
	codec_clear(&schema_rec_image, &img);
	return http_resp_json(resp, 200, json_pack("{s:o}", "metadata", m));
}

/* PUT: the image's properties become the body's; answers the body's. */
int
compute_images_metadata_replace(struct http_req *req, struct http_resp *resp)
{
	struct rec_image img;
	json_t *m;

	if (proxy_version(req, resp) == -1 ||
	    meta_body(req, "metadata", &m) == -1 ||
	    meta_write(req, m, true, &img) == -1)
		return -1;
	codec_clear(&schema_rec_image, &img);
	return http_resp_json(resp, 200, json_pack("{s:O}", "metadata", m));
}

int
compute_images_metadata_show(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_req_param(req, "key"), *v;
	struct rec_image img;
	json_t *o;

	if (proxy_version(req, resp) == -1 || get(req, &img) == -1)
		return -1;
	if ((v = prop(&img, key)) == NULL) {
		codec_clear(&schema_rec_image, &img);
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	o = json_pack("{s:{s:s}}", "meta", key, v);
	codec_clear(&schema_rec_image, &img);
	return http_resp_json(resp, 200, o);
}

/* PUT one key: the body's one pair, under the URL's key. */
int
compute_images_metadata_update(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_req_param(req, "key");
	struct rec_image img;
	json_t *m;

	if (proxy_version(req, resp) == -1 ||
	    meta_body(req, "meta", &m) == -1)
		return -1;
	if (json_object_size(m) != 1)
		return jsonreq_fail(JSONREQ_NOVA, "meta", "It must have "
		    "exactly one property.");
	if (json_object_get(m, key) == NULL) {
		err_set(TS_EINVALID, "Request body and URI mismatch");
		return -1;
	}
	if (meta_write(req, m, false, &img) == -1)
		return -1;
	codec_clear(&schema_rec_image, &img);
	return http_resp_json(resp, 200, json_pack("{s:O}", "meta", m));
}

int
compute_images_metadata_delete(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_req_param(req, "key");

	if (proxy_version(req, resp) == -1)
		return -1;
	if (image_proxy_props(compute_of(req)->image, req,
	    http_req_param(req, "image_id"), NULL, 0, false, key, NULL) ==
	    -1) {
		/* the image is there, the key not: Nova's words */
		if (err_code() == TS_ENOT_FOUND && strncmp(err_msg(),
		    "Property ", 9) == 0) {
			err_set(TS_ENOT_FOUND, "Invalid metadata key");
			return -1;
		}
		return not_found();
	}
	return http_resp_status(resp, 204);
}
