/*
 * image: the Image service's state, start-up recovery, routes and handlers
 * (Glance v2); see image.h for the rules every handler follows.
 *
 * Image data upload (PUT /v2/images/{id}/file) is a streaming route:
 *   begin  the image is visible, the caller may upload, it is queued and
 *          has both formats; the data store opens the temporary file (the
 *          Content-Length, if any, is checked against the size cap and
 *          the quota now); the image becomes "saving" in the database
 *          (re-checked there, so two uploads cannot both start)
 *   data   every chunk goes to image_store_upload_write() (hashes, inspector,
 *          limits)
 *   end    the inspector's verdict against the declared disk_format, the
 *          rename into place, then one transaction that finds the image
 *          still saving, re-checks the quota against committed usage and
 *          makes it active with size, checksum, hashes and virtual size
 *   abort  (client gone, limit hit, server stopping) and any failure in
 *          end: the file is removed and the image goes back to "queued"
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/request.h"
#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "image_int.h"
#include "image_store.h"
#include "imgfmt.h"
#include "log.h"

#define ADMIN		"rule:image:context_is_admin"
#define PROJECT_MEMBER	"(role:member and project_id:%(project_id)s)"
#define ADMIN_OR_MEMBER	ADMIN " or " PROJECT_MEMBER

/*
 * Glance's default rules (glance/policies/), names prefixed "image:". The
 * visibility half of Glance's get_image/download_image rules ("'public':
 * %(visibility)s" and friends) is image_db_visible() in code: a caller who
 * may not see an image gets 404 before any rule is asked. Target keys:
 * project_id (the image's owner), owner (the owner an image is created
 * with), member_id (the member a membership call names, or the caller's
 * project when it is a member of the image).
 */
const struct policy_default image_policy_defaults[] = {
	{ "image:context_is_admin",	"role:admin",
	    "The Image API's admin: sees and manages every image." },
	{ "image:service_api",		"role:service or role:admin",
	    "Services acting for a user (download without membership)." },
	{ "image:get_images",		ADMIN " or role:reader",
	    "List images." },
	{ "image:get_image",		ADMIN " or role:reader",
	    "Show an image the caller may see." },
	{ "image:add_image",		ADMIN " or (role:member and "
					"project_id:%(owner)s)",
	    "Create an image." },
	{ "image:modify_image",		ADMIN_OR_MEMBER,
	    "Update an image's properties or tags." },
	{ "image:delete_image",		ADMIN_OR_MEMBER,
	    "Delete an image." },
	{ "image:upload_image",		ADMIN_OR_MEMBER,
	    "Upload an image's data." },
	{ "image:download_image",	ADMIN " or rule:image:service_api or "
					"role:member",
	    "Download an image's data." },
	{ "image:publicize_image",	ADMIN,
	    "Make an image public." },
	{ "image:communitize_image",	ADMIN_OR_MEMBER,
	    "Make an image a community image." },
	{ "image:deactivate",		ADMIN_OR_MEMBER,
	    "Deactivate an image." },
	{ "image:reactivate",		ADMIN_OR_MEMBER,
	    "Reactivate an image." },
	{ "image:add_member",		ADMIN_OR_MEMBER,
	    "Share an image with a project." },
	{ "image:delete_member",	ADMIN_OR_MEMBER,
	    "Stop sharing an image with a project." },
	{ "image:get_member",		ADMIN " or (role:reader and "
					"(project_id:%(project_id)s or "
					"project_id:%(member_id)s))",
	    "Show one member of an image." },
	{ "image:get_members",		ADMIN " or (role:reader and "
					"(project_id:%(project_id)s or "
					"project_id:%(member_id)s))",
	    "List the members of an image." },
	{ "image:modify_member",	ADMIN " or (role:member and "
					"project_id:%(member_id)s)",
	    "Accept or reject an image shared with the caller's project." },
	{ NULL, NULL, NULL }
};

/* ---- service ------------------------------------------------------------- */

/* Images an earlier run left "saving" go back to "queued": no upload
 * survives a restart. */
struct stuck {
	char	(*ids)[CODEC_UUID_LEN + 1];
	size_t	  n;
};

static int
find_stuck(const struct rec_image *img, void *arg)
{
	struct stuck *s = arg;
	char (*n)[CODEC_UUID_LEN + 1];

	if (strcmp(img->status, "saving") != 0)
		return 0;
	if ((n = realloc(s->ids, (s->n + 1) * sizeof(*n))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	s->ids = n;
	memcpy(s->ids[s->n++], img->id, CODEC_UUID_LEN + 1);
	return 0;
}

static int
requeue_stuck(struct store_txn *txn, void *arg)
{
	struct stuck *s = arg;
	struct rec_image img, old;
	size_t i;
	int rc;

	for (i = 0; i < s->n; i++) {
		if (image_db_get(txn, s->ids[i], &img) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		rc = 0;
		if (strcmp(img.status, "saving") == 0 &&
		    image_json_copy(&old, &img) == 0) {
			free(img.status);
			img.status = strdup("queued");
			rc = img.status == NULL ? -1 : image_db_put(txn, &img,
			    &old);
			if (img.status == NULL)
				err_set(TS_ENOMEM, "out of memory");
			codec_clear(&schema_rec_image, &old);
			if (rc == 0)
				log_warnx("image %s: upload interrupted by a "
				    "restart; back to queued", img.id);
		} else if (strcmp(img.status, "saving") == 0) {
			rc = -1;
		}
		codec_clear(&schema_rec_image, &img);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Data files that no active or deactivated image owns are deleted. */
struct sweep {
	struct image_service	*svc;
	unsigned		 removed;
};

static int
sweep_one(const char *id, void *arg)
{
	struct sweep *sw = arg;
	struct store_txn *txn;
	struct rec_image img;
	bool keep = false;

	if (store_read_begin(sw->svc->store, &txn) == -1)
		return -1;
	if (image_db_get(txn, id, &img) == 0) {
		keep = strcmp(img.status, "active") == 0 ||
		    strcmp(img.status, "deactivated") == 0;
		codec_clear(&schema_rec_image, &img);
	} else if (err_code() != TS_ENOT_FOUND) {
		store_txn_end(&txn);
		return -1;
	}
	store_txn_end(&txn);
	if (keep)
		return 0;
	if (image_store_remove(sw->svc->data, id) == -1)
		return -1;
	log_warnx("image store: removed data file %s of no active image", id);
	sw->removed++;
	return 0;
}

static int
recover(struct image_service *svc)
{
	struct stuck s = { NULL, 0 };
	struct sweep sw = { svc, 0 };
	struct store_txn *txn;
	int rc;

	if (image_store_clean(svc->data, NULL) == -1)
		return -1;
	if (store_read_begin(svc->store, &txn) == -1)
		return -1;
	rc = image_db_each(txn, find_stuck, &s);
	store_txn_end(&txn);
	if (rc == 0 && s.n > 0)
		rc = store_write(svc->store, requeue_stuck, &s);
	free(s.ids);
	if (rc == -1)
		return -1;
	return image_store_each(svc->data, sweep_one, &sw);
}

struct image_service *
image_service_new(const struct config *cfg, struct store *st)
{
	struct image_store_opts o;
	struct image_service *svc;
	char path[PATH_MAX];

	if ((svc = calloc(1, sizeof(*svc))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	svc->cfg = cfg;
	svc->store = st;
	memset(&o, 0, sizeof(o));
	o.path = config_get_str(cfg, "image", "store_path");
	if (*o.path == '\0') {
		if ((size_t)snprintf(path, sizeof(path), "%s/images",
		    config_get_str(cfg, "DEFAULT", "state_path")) >=
		    sizeof(path)) {
			err_set(TS_ECONFIG, "image service: state_path is too "
			    "long");
			free(svc);
			return NULL;
		}
		o.path = path;
	}
	o.size_cap = (uint64_t)config_get_int(cfg, "image", "image_size_cap");
	o.project_quota = (uint64_t)config_get_int(cfg, "image",
	    "user_storage_quota");
	if ((svc->data = image_store_new(&o)) == NULL ||
	    recover(svc) == -1) {
		err_prefix("image service: ");
		image_service_free(&svc);
		return NULL;
	}
	return svc;
}

void
image_service_free(struct image_service **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	image_store_free(&(*sp)->data);
	free(*sp);
	*sp = NULL;
}

static struct image_service *
svc_of(struct http_req *req)
{
	return http_req_app(req);
}

/* ---- callers and policy -------------------------------------------------- */

static void
viewer_of(struct http_req *req, struct image_viewer *v)
{
	const struct request_ctx *c = request_ctx_of(req);

	v->project_id = c != NULL && c->scope == TOKEN_SCOPE_PROJECT &&
	    c->project_id != NULL ? c->project_id : "";
	v->admin = request_allowed(req, "image:context_is_admin", NULL);
}

/* The policy target of an image: its owner and, when the viewer's project
 * is a member, member_id. */
static int
image_target(struct request_target *t, const struct rec_image *img,
    const struct image_viewer *v, bool member)
{
	if (img->owner != NULL && *img->owner != '\0' &&
	    request_target_add(t, "project_id", img->owner) == -1)
		return -1;
	if (member && request_target_add(t, "member_id", v->project_id) == -1)
		return -1;
	return request_target_add(t, "visibility", img->visibility);
}

/*
 * Load the image id that viewer may see and enforce rule on it with req's
 * credentials (NULL: visibility only). 404 for an image the viewer cannot
 * see, 403 when the rule denies a visible one. *member tells whether the
 * viewer's project is a member.
 */
static int
load_image_id(struct http_req *req, struct store_txn *txn, const char *id,
    const struct image_viewer *v, const char *rule, struct rec_image *img,
    bool *member)
{
	struct request_target t;
	bool m = false;
	int vis;

	if (image_db_get(txn, id, img) == -1)
		return -1;
	if ((vis = image_db_visible(txn, v, img, &m, NULL)) != 1) {
		codec_clear(&schema_rec_image, img);
		if (vis == 0)
			err_set(TS_ENOT_FOUND, "No image found with ID %s", id);
		return -1;
	}
	if (member != NULL)
		*member = m;
	if (rule == NULL)
		return 0;
	memset(&t, 0, sizeof(t));
	if (image_target(&t, img, v, m) == -1 ||
	    request_enforce(req, rule, &t) == -1) {
		codec_clear(&schema_rec_image, img);
		return -1;
	}
	return 0;
}

/* load_image_id() of the request's {image_id}. */
static int
load_image(struct http_req *req, struct store_txn *txn,
    const struct image_viewer *v, const char *rule, struct rec_image *img,
    bool *member)
{
	return load_image_id(req, txn, http_req_param(req, "image_id"), v,
	    rule, img, member);
}

/* Run fn as a store_write() on the service's store. */
static int
write_txn(struct http_req *req, int (*fn)(struct store_txn *, void *),
    void *arg)
{
	return store_write(svc_of(req)->store, fn, arg);
}

static int
read_txn(struct http_req *req, struct store_txn **txn)
{
	return store_read_begin(svc_of(req)->store, txn);
}

/* ---- discovery and schemas ------------------------------------------------ */

static json_t *
versions_doc(struct http_req *req)
{
	static const char *const vers[] = {
		"v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0",
		NULL
	};
	char base[512], href[600];
	json_t *list, *v;
	size_t i;

	if (http_req_base_url(req, base, sizeof(base)) == -1) {
		err_set(TS_EINTERNAL, "base URL does not fit");
		return NULL;
	}
	snprintf(href, sizeof(href), "%s/v2/", base);
	if ((list = json_array()) == NULL)
		goto nomem;
	for (i = 0; vers[i] != NULL; i++) {
		v = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "id", vers[i],
		    "status", i == 0 ? "CURRENT" : "SUPPORTED", "links", "rel",
		    "self", "href", href);
		if (v == NULL || json_array_append_new(list, v) == -1) {
			json_decref(list);
			goto nomem;
		}
	}
	if ((v = json_pack("{s:o}", "versions", list)) != NULL)
		return v;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return NULL;
}

/* GET / answers 300 Multiple Choices (the route's status), GET /versions
 * 200, as Glance does. */
static int
versions_get(struct http_req *req, struct http_resp *resp)
{
	return http_resp_json(resp, 0, versions_doc(req));
}

static int
schema_get(struct http_req *req, struct http_resp *resp)
{
	const char *name = http_req_param(req, "name");
	const char *text;
	char full[300];

	if (strncmp(http_req_path(req), "/v2/schemas/metadefs/", 21) == 0) {
		snprintf(full, sizeof(full), "metadefs/%s", name);
		name = full;
	}
	if ((text = image_schema_text(name)) == NULL) {
		err_set(TS_ENOT_FOUND, "No schema named %s", name);
		return -1;
	}
	return http_resp_text(resp, 0, "application/json", text,
	    strlen(text));
}

/* ---- images ---------------------------------------------------------------- */

static int
create_fn(struct store_txn *txn, void *arg)
{
	return image_db_put(txn, arg, NULL);
}

static int
image_create(struct http_req *req, struct http_resp *resp)
{
	struct image_viewer v;
	struct rec_image img;
	struct request_target t;
	char base[512], loc[600];
	int64_t now = db_now_ms();
	json_t *out;
	int rc = -1;

	viewer_of(req, &v);
	memset(&img, 0, sizeof(img));
	if (image_json_from_create(http_req_json(req), &img) == -1)
		return -1;
	if (img.id[0] == '\0')
		db_uuid(img.id);
	if ((img.status == NULL && codec_str_set(&img.status, "queued") == -1) ||
	    (img.visibility == NULL && codec_str_set(&img.visibility, "shared") ==
	    -1) ||
	    (img.owner == NULL && *v.project_id != '\0' &&
	    codec_str_set(&img.owner, v.project_id) == -1))
		goto out;
	img.created_at = img.updated_at = now;

	memset(&t, 0, sizeof(t));
	if (img.owner != NULL && (request_target_add(&t, "owner", img.owner) ==
	    -1 || request_target_add(&t, "project_id", img.owner) == -1))
		goto out;
	if (request_enforce(req, "image:add_image", &t) == -1)
		goto out;
	if (strcmp(img.visibility, "public") == 0 &&
	    request_enforce(req, "image:publicize_image", &t) == -1)
		goto out;
	if (strcmp(img.visibility, "community") == 0 &&
	    request_enforce(req, "image:communitize_image", &t) == -1)
		goto out;

	if (write_txn(req, create_fn, &img) == -1)
		goto out;
	log_info("image %s created (owner %s, %s)", img.id,
	    img.owner ? img.owner : "-", img.visibility);
	if (http_req_base_url(req, base, sizeof(base)) == 0) {
		snprintf(loc, sizeof(loc), "%s/v2/images/%s", base, img.id);
		http_resp_header(resp, "Location", loc);
	}
	out = image_json_to_json(&img);
	rc = http_resp_json(resp, 0, out);
out:
	codec_clear(&schema_rec_image, &img);
	return rc;
}

static int
image_get(struct http_req *req, struct http_resp *resp)
{
	struct image_viewer v;
	struct store_txn *txn;
	struct rec_image img;
	int rc;

	viewer_of(req, &v);
	if (read_txn(req, &txn) == -1)
		return -1;
	rc = load_image(req, txn, &v, "image:get_image", &img, NULL);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	rc = http_resp_json(resp, 0, image_json_to_json(&img));
	codec_clear(&schema_rec_image, &img);
	return rc;
}

/* "/v2/images?<the request's query without marker>[&marker=M]" */
static json_t *
list_link(struct http_req *req, const char *marker)
{
	struct buf b = { 0 };
	json_t *s = NULL;

	if (buf_append(&b, "/v2/images", 10) == -1 ||
	    http_req_query_relink(req, marker, &b) == -1)
		goto out;
	s = json_stringn((const char *)b.data, b.len);
out:
	buf_free(&b);
	if (s == NULL)
		err_set(TS_ENOMEM, "out of memory");
	return s;
}

static int
image_list(struct http_req *req, struct http_resp *resp)
{
	struct image_kv *kv = NULL;
	struct image_query *q = NULL;
	struct image_page page = { NULL, 0, false };
	struct image_viewer v;
	struct store_txn *txn;
	json_t *out = NULL, *items, *link;
	size_t i, n = http_req_query_count(req);
	int rc = -1;

	viewer_of(req, &v);
	if ((q = malloc(sizeof(*q))) == NULL ||
	    (n > 0 && (kv = calloc(n, sizeof(*kv))) == NULL)) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (http_req_query_at(req, i, &kv[i].key, &kv[i].value) == -1) {
			err_set(TS_EINTERNAL, "query pair %zu", i);
			goto out;
		}
	if (image_list_query_parse(q, kv, n) == -1)
		goto out;
	if (read_txn(req, &txn) == -1)
		goto out;
	rc = image_list_run(txn, q, &v, &page);
	store_txn_end(&txn);
	if (rc == -1)
		goto out;
	rc = -1;
	if ((out = json_object()) == NULL || (items = json_array()) == NULL ||
	    json_object_set_new(out, "images", items) == -1)
		goto nomem;
	for (i = 0; i < page.n; i++)
		if (json_array_append_new(items, image_json_to_json(&page.items[i])) ==
		    -1)
			goto nomem;
	if ((link = list_link(req, NULL)) == NULL ||
	    json_object_set_new(out, "first", link) == -1 ||
	    json_object_set_new(out, "schema",
	    json_string("/v2/schemas/images")) == -1)
		goto nomem;
	if (page.more && page.n > 0 && ((link = list_link(req,
	    page.items[page.n - 1].id)) == NULL ||
	    json_object_set_new(out, "next", link) == -1))
		goto nomem;
	rc = http_resp_json(resp, 0, out);
	out = NULL;
	goto out;
nomem:
	err_set(TS_ENOMEM, "out of memory");
out:
	json_decref(out);
	image_list_page_clear(&page);
	free(kv);
	free(q);
	return rc;
}

/*
 * The common shape of a change: fn runs in the write transaction with the
 * image freshly loaded (visible, rule allowed) and returns 0 to store it
 * (updated_at is set), 1 to store nothing, -1 to fail.
 */
struct change {
	struct image_service		*svc;
	struct http_req			*req;
	const char			*id;
	const struct image_viewer	*v;
	const char			*rule;
	int	(*fn)(struct change *, struct store_txn *, struct rec_image *);
	void				*arg;
	bool				 deleted;	/* fn deleted the image */
	struct rec_image		 result;	/* the stored image */
};

static int
change_fn(struct store_txn *txn, void *arg)
{
	struct change *c = arg;
	struct rec_image img, old;
	bool member = false;
	int rc;

	if (load_image_id(c->req, txn, c->id, c->v, c->rule, &img, &member) ==
	    -1)
		return -1;
	if (image_json_copy(&old, &img) == -1) {
		codec_clear(&schema_rec_image, &img);
		return -1;
	}
	rc = c->fn(c, txn, &img);
	if (rc == 0) {
		img.updated_at = db_now_ms();
		rc = image_db_put(txn, &img, &old);
	} else if (rc == 1) {
		rc = 0;
	}
	codec_clear(&schema_rec_image, &old);
	if (rc == 0 && !c->deleted) {
		codec_clear(&schema_rec_image, &c->result);
		c->result = img;	/* moved */
	} else {
		codec_clear(&schema_rec_image, &img);
	}
	return rc;
}

/* A change of image id in svc, asked by req (of any API: its
 * credentials are the viewer's and the rule's). */
static int
change_run(struct image_service *svc, struct http_req *req, const char *id,
    const char *rule,
    int (*fn)(struct change *, struct store_txn *, struct rec_image *),
    void *arg, struct change *c)
{
	struct image_viewer v;
	int rc;

	memset(c, 0, sizeof(*c));
	viewer_of(req, &v);
	c->svc = svc;
	c->req = req;
	c->id = id;
	c->v = &v;
	c->rule = rule;
	c->fn = fn;
	c->arg = arg;
	rc = store_write(svc->store, change_fn, c);
	c->v = NULL;
	if (rc == -1)
		codec_clear(&schema_rec_image, &c->result);
	return rc;
}

/* A change of the request's {image_id} on the image listener. */
static int
run_change(struct http_req *req, const char *rule,
    int (*fn)(struct change *, struct store_txn *, struct rec_image *),
    void *arg, struct change *c)
{
	return change_run(svc_of(req), req, http_req_param(req, "image_id"),
	    rule, fn, arg, c);
}

struct patch_arg {
	json_t			*patch;
	enum image_json_patch_media	 media;
};

static int
patch_fn(struct change *c, struct store_txn *txn, struct rec_image *img)
{
	struct patch_arg *p = c->arg;
	struct request_target t;
	char old_vis[16];

	snprintf(old_vis, sizeof(old_vis), "%s", img->visibility);
	if (image_json_patch_apply(img, p->patch, p->media, c->v->admin) == -1)
		return -1;
	if (strcmp(old_vis, img->visibility) == 0)
		return 0;
	memset(&t, 0, sizeof(t));
	if (image_target(&t, img, c->v, false) == -1)
		return -1;
	if (strcmp(img->visibility, "public") == 0)
		return request_enforce(c->req, "image:publicize_image", &t);
	if (strcmp(img->visibility, "community") == 0)
		return request_enforce(c->req, "image:communitize_image", &t);
	return 0;
}

static int
image_update(struct http_req *req, struct http_resp *resp)
{
	struct patch_arg p;
	struct change c;
	int rc;

	if (image_json_patch_media(http_req_header(req, "Content-Type"),
	    &p.media) == -1)
		return -1;
	if ((p.patch = http_req_json(req)) == NULL) {
		err_set(TS_EINVALID, "Body expected in request.");
		return -1;
	}
	if (run_change(req, "image:modify_image", patch_fn, &p, &c) == -1)
		return -1;
	rc = http_resp_json(resp, 0, image_json_to_json(&c.result));
	codec_clear(&schema_rec_image, &c.result);
	return rc;
}

static int
delete_fn(struct change *c, struct store_txn *txn, struct rec_image *img)
{
	if (img->protected) {
		err_set(TS_EFORBIDDEN, "Image %s is protected and cannot be "
		    "deleted.", img->id);
		return -1;
	}
	if (image_db_delete(txn, img) == -1)
		return -1;
	c->deleted = true;
	return 1;
}

static int
delete_image(struct image_service *svc, struct http_req *req, const char *id)
{
	struct change c;

	if (change_run(svc, req, id, "image:delete_image", delete_fn, NULL,
	    &c) == -1)
		return -1;
	/* After the commit: an upload still streaming finds the image gone
	 * and removes its own file. */
	if (image_store_remove(svc->data, id) == -1)
		log_error("image %s deleted; its data file stays until the "
		    "next start: %s", id, err_msg());
	log_info("image %s deleted", id);
	return 0;
}

static int
image_delete(struct http_req *req, struct http_resp *resp)
{
	if (delete_image(svc_of(req), req, http_req_param(req, "image_id")) ==
	    -1)
		return -1;
	return http_resp_status(resp, 0);
}

static int
tag_add_fn(struct change *c, struct store_txn *txn, struct rec_image *img)
{
	const char *tag = c->arg;
	char **n, *s;
	size_t i;

	for (i = 0; i < img->tags.n; i++)
		if (strcmp(img->tags.items[i], tag) == 0)
			return 1;
	if (img->tags.n >= IMAGE_TAG_MAX) {
		err_set(TS_ETOO_LARGE, "Attempted to add more than %d tags: "
		    "maximum number of tags reached.", IMAGE_TAG_MAX);
		return -1;
	}
	if ((s = strdup(tag)) == NULL ||
	    (n = realloc(img->tags.items, (img->tags.n + 1) * sizeof(*n))) ==
	    NULL) {
		free(s);
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	img->tags.items = n;
	img->tags.items[img->tags.n++] = s;
	return 0;
}

static int
tag_del_fn(struct change *c, struct store_txn *txn, struct rec_image *img)
{
	const char *tag = c->arg;
	size_t i;

	for (i = 0; i < img->tags.n; i++)
		if (strcmp(img->tags.items[i], tag) == 0)
			break;
	if (i == img->tags.n) {
		err_set(TS_ENOT_FOUND, "Tag %s not found", tag);
		return -1;
	}
	free(img->tags.items[i]);
	memmove(&img->tags.items[i], &img->tags.items[i + 1],
	    (img->tags.n - i - 1) * sizeof(char *));
	img->tags.n--;
	return 0;
}

static int
tag_put(struct http_req *req, struct http_resp *resp)
{
	struct change c;

	if (run_change(req, "image:modify_image", tag_add_fn,
	    (void *)http_req_param(req, "tag"), &c) == -1)
		return -1;
	codec_clear(&schema_rec_image, &c.result);
	return http_resp_status(resp, 0);
}

static int
tag_delete(struct http_req *req, struct http_resp *resp)
{
	struct change c;

	if (run_change(req, "image:modify_image", tag_del_fn,
	    (void *)http_req_param(req, "tag"), &c) == -1)
		return -1;
	codec_clear(&schema_rec_image, &c.result);
	return http_resp_status(resp, 0);
}

static int
deactivate_fn(struct change *c, struct store_txn *txn, struct rec_image *img)
{
	if (strcmp(img->status, "deactivated") == 0)
		return 1;
	if (strcmp(img->status, "active") != 0) {
		err_set(TS_EFORBIDDEN, "Not allowed to deactivate image in "
		    "status '%s'", img->status);
		return -1;
	}
	return codec_str_set(&img->status, "deactivated");
}

static int
reactivate_fn(struct change *c, struct store_txn *txn, struct rec_image *img)
{
	if (strcmp(img->status, "active") == 0)
		return 1;
	if (strcmp(img->status, "deactivated") != 0) {
		err_set(TS_EFORBIDDEN, "Not allowed to reactivate image in "
		    "status '%s'", img->status);
		return -1;
	}
	return codec_str_set(&img->status, "active");
}

static int
image_deactivate(struct http_req *req, struct http_resp *resp)
{
	struct change c;

	if (run_change(req, "image:deactivate", deactivate_fn, NULL, &c) == -1)
		return -1;
	codec_clear(&schema_rec_image, &c.result);
	return http_resp_status(resp, 0);
}

static int
image_reactivate(struct http_req *req, struct http_resp *resp)
{
	struct change c;

	if (run_change(req, "image:reactivate", reactivate_fn, NULL, &c) == -1)
		return -1;
	codec_clear(&schema_rec_image, &c.result);
	return http_resp_status(resp, 0);
}

/* ---- data: download ------------------------------------------------------ */

/*
 * The data, whole (200) or, for "Range: bytes=N-" or "bytes=N-M" (one
 * range: what an agent resuming a download sends), that part (206 with
 * Content-Range), as Glance does for /file. A range starting beyond the
 * end is 416 with "Content-Range: bytes * /size"; any other Range value
 * (several ranges, suffix ranges, garbage) is ignored: 200 with the
 * whole, which RFC 9110 allows. fd is taken.
 */
static int
send_data(struct http_req *req, struct http_resp *resp, int fd, uint64_t size)
{
	const char *rg = http_req_header(req, "Range");
	unsigned long long first, last;
	char cr[96], *end;

	if (rg == NULL || strncmp(rg, "bytes=", 6) != 0 ||
	    strspn(rg + 6, "0123456789") == 0)
		goto whole;
	errno = 0;
	first = strtoull(rg + 6, &end, 10);
	if (errno != 0 || *end != '-')
		goto whole;
	if (end[1] == '\0') {
		last = size - 1;
	} else {
		if (strspn(end + 1, "0123456789") != strlen(end + 1))
			goto whole;
		last = strtoull(end + 1, &end, 10);
		if (errno != 0 || last < first)
			goto whole;
		if (last > size - 1)
			last = size - 1;
	}
	if (size == 0 || first >= size) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%llu",
		    (unsigned long long)size);
		http_resp_header(resp, "Content-Range", cr);
		return http_resp_status(resp, 416);
	}
	snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", first, last,
	    (unsigned long long)size);
	if (http_resp_header(resp, "Content-Range", cr) == -1) {
		close(fd);
		return -1;
	}
	return http_resp_file_at(resp, 206, "application/octet-stream", fd,
	    (off_t)first, (off_t)(last - first + 1));
whole:
	return http_resp_file(resp, 200, "application/octet-stream", fd,
	    (off_t)size);
}

static int
image_download(struct http_req *req, struct http_resp *resp)
{
	const struct request_ctx *c = request_ctx_of(req);
	bool cap = c != NULL && c->capability && !c->cap_upload;
	struct image_viewer v;
	struct store_txn *txn;
	struct rec_image img;
	uint64_t size;
	int fd, rc;

	viewer_of(req, &v);
	/* Services (an agent fetching a base image) read any image. An
	 * agent's capability was checked by the request layer for this
	 * {image_id}: the controller minted it for an image the compute API
	 * found visible to the instance's creator, so no visibility or rule
	 * applies; it is no admin, though: a deactivated image is refused
	 * as to its owner. */
	if (cap || request_allowed(req, "image:service_api", NULL))
		v.admin = true;
	if (read_txn(req, &txn) == -1)
		return -1;
	rc = load_image(req, txn, &v, cap ? NULL : "image:download_image",
	    &img, NULL);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	rc = -1;
	if (strcmp(img.status, "deactivated") == 0 && (!v.admin || cap)) {
		err_set(TS_EFORBIDDEN, "The requested image has been "
		    "deactivated. Image data download is forbidden.");
		goto out;
	}
	if ((strcmp(img.status, "active") != 0 &&
	    strcmp(img.status, "deactivated") != 0) || !img.has_size) {
		rc = http_resp_status(resp, 204);	/* no data yet */
		goto out;
	}
	if (image_store_open(svc_of(req)->data, img.id, &fd, &size) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_EIO, "image %s is active but its data file "
			    "is missing", img.id);
		goto out;
	}
	if (size != img.size) {
		close(fd);
		err_set(TS_EIO, "image %s: data file holds %llu bytes, the "
		    "image %llu; refusing to serve it", img.id,
		    (unsigned long long)size, (unsigned long long)img.size);
		goto out;
	}
	if (img.checksum != NULL)
		http_resp_header(resp, "Content-MD5", img.checksum);
	if (cap)
		log_info("image %s: data for instance %s (image capability)",
		    img.id, c->cap_instance);
	rc = send_data(req, resp, fd, size);
out:
	codec_clear(&schema_rec_image, &img);
	return rc;
}

/* ---- data: upload -------------------------------------------------------- */

struct upload {
	struct image_upload	*up;
	char			 id[CODEC_UUID_LEN + 1];
	char			*disk_format;
	char			*owner;
	bool			 saving;	/* we set status "saving" */
	/* for the activation transaction */
	const struct image_upload_result *res;
	uint64_t		 quota;
	/* A limit was hit: the file is gone, the error waits for end(). */
	bool			 refused;
	struct ts_err		 why;
	uint64_t		 received;	/* bytes, for the log */
	uint64_t		 discarded;	/* bytes read since the refusal */
};

/*
 * After a size-cap or quota refusal the rest of the body is read and
 * dropped, up to this much, so that the client can read its 413 (MHD
 * cannot answer in the middle of an upload); a client that keeps sending
 * beyond it is disconnected. Nothing read after the refusal is stored.
 */
#define UPLOAD_DISCARD_MAX	(64ULL * 1024 * 1024)

static void
upload_free(struct upload **up)
{
	if (*up == NULL)
		return;
	image_store_upload_free(&(*up)->up);
	free((*up)->disk_format);
	free((*up)->owner);
	free(*up);
	*up = NULL;
}

/* Status from -> to for the image of u, re-checked in the transaction. */
struct transition {
	const char	*id;
	const char	*from, *to;
};

static int
transition_fn(struct store_txn *txn, void *arg)
{
	struct transition *tr = arg;
	struct rec_image img, old;
	int rc;

	if (image_db_get(txn, tr->id, &img) == -1)
		return -1;
	if (strcmp(img.status, tr->from) != 0) {
		err_set(TS_ECONFLICT, "Image status transition from %s to %s "
		    "is not allowed", img.status, tr->to);
		codec_clear(&schema_rec_image, &img);
		return -1;
	}
	if (image_json_copy(&old, &img) == -1) {
		codec_clear(&schema_rec_image, &img);
		return -1;
	}
	rc = codec_str_set(&img.status, tr->to);
	if (rc == 0) {
		img.updated_at = db_now_ms();
		rc = image_db_put(txn, &img, &old);
	}
	codec_clear(&schema_rec_image, &old);
	codec_clear(&schema_rec_image, &img);
	return rc;
}

/* After a failed or interrupted upload: back to queued, as Glance does.
 * A clean-up: the caller's error is kept, a failure here only logged. */
static void
requeue(struct store *st, struct upload *u)
{
	struct transition tr = { u->id, "saving", "queued" };
	struct ts_err saved;

	if (!u->saving)
		return;
	u->saving = false;
	saved = *err_last();
	if (store_write(st, transition_fn, &tr) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		log_error("image %s: could not return to queued: %s", u->id,
		    err_msg());
	err_restore(&saved);
}

static int
upload_begin(struct http_req *req, struct http_resp *resp)
{
	const struct request_ctx *c = request_ctx_of(req);
	struct image_service *svc = svc_of(req);
	struct transition tr;
	struct image_viewer v;
	struct store_txn *txn;
	struct rec_image img;
	struct upload *u = NULL;
	const char *ct, *cl;
	uint64_t used = 0, declared = IMAGE_STORE_SIZE_UNKNOWN;
	char *end;
	bool cap;
	int rc;

	viewer_of(req, &v);
	/* An agent's upload capability was checked by the request layer for
	 * this {image_id}: the compute API created the image for the
	 * snapshot it minted it for, so no rule or visibility applies. */
	cap = c != NULL && c->capability && c->cap_upload;
	if (cap)
		v.admin = true;
	ct = http_req_header(req, "Content-Type");
	if (ct != NULL && *ct != '\0' &&
	    strncasecmp(ct, "application/octet-stream", 24) != 0) {
		err_set(TS_EUNSUPPORTED_MEDIA, "Image data must be sent as "
		    "application/octet-stream.");
		return -1;
	}
	if (read_txn(req, &txn) == -1)
		return -1;
	rc = load_image(req, txn, &v, cap ? NULL : "image:upload_image", &img,
	    NULL);
	if (rc == 0 && img.owner != NULL)
		rc = image_db_usage(txn, img.owner, img.id, &used);
	store_txn_end(&txn);
	if (rc == -1) {
		codec_clear(&schema_rec_image, &img);	/* safe when zeroed */
		return -1;
	}
	rc = -1;
	if (strcmp(img.status, "queued") != 0) {
		err_set(TS_ECONFLICT, "Image status transition from %s to "
		    "saving is not allowed", img.status);
		goto out;
	}
	if (img.disk_format == NULL || img.container_format == NULL) {
		err_set(TS_EINVALID, "Properties disk_format, "
		    "container_format must be set prior to saving data.");
		goto out;
	}
	cl = http_req_header(req, "Content-Length");
	if (cl != NULL && http_req_header(req, "Transfer-Encoding") == NULL) {
		errno = 0;
		declared = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0')
			declared = IMAGE_STORE_SIZE_UNKNOWN;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->disk_format = strdup(img.disk_format)) == NULL ||
	    (img.owner != NULL && (u->owner = strdup(img.owner)) == NULL)) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(u->id, img.id, sizeof(u->id));
	/*
	 * "saving" is committed before the partial file exists, so that
	 * anyone who sees the file also sees the status; a crash between
	 * the two leaves "saving" without a file, which start-up requeues.
	 */
	tr.id = u->id;
	tr.from = "queued";
	tr.to = "saving";
	if (write_txn(req, transition_fn, &tr) == -1)
		goto out;
	u->saving = true;
	if ((u->up = image_store_upload_begin(svc->data, img.id, img.owner,
	    used, declared)) == NULL) {
		requeue(svc->store, u);
		goto out;
	}
	http_req_set_state(req, u);
	u = NULL;
	rc = 0;
out:
	upload_free(&u);
	codec_clear(&schema_rec_image, &img);
	return rc;
}

static int
upload_data(struct http_req *req, const char *buf, size_t len)
{
	struct upload *u = http_req_state(req);

	if (u->refused) {
		u->discarded += len;
		if (u->discarded <= UPLOAD_DISCARD_MAX)
			return 0;
		err_set_(u->why.code, u->why.file, u->why.line, "%s",
		    u->why.msg);
		return -1;
	}
	u->received += len;
	if (image_store_upload_write(u->up, buf, len) == 0)
		return 0;
	if (err_code() != TS_ETOO_LARGE)
		return -1;
	/* Over the size cap or the quota: give the bytes and the image
	 * back now, answer when the client is done sending. */
	u->why = *err_last();
	u->refused = true;
	log_warnx("image %s: upload refused after %llu bytes: %s", u->id,
	    (unsigned long long)u->received, u->why.msg);
	image_store_upload_free(&u->up);
	requeue(svc_of(req)->store, u);
	return 0;
}

static int
activate_fn(struct store_txn *txn, void *arg)
{
	struct upload *u = arg;
	const struct image_upload_result *r = u->res;
	struct rec_image img, old;
	uint64_t used;
	int rc = -1;

	if (image_db_get(txn, u->id, &img) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ECONFLICT, "Image %s could not be found "
			    "after upload. The image may have been deleted "
			    "during the upload.", u->id);
		return -1;
	}
	if (strcmp(img.status, "saving") != 0) {
		err_set(TS_ECONFLICT, "Image %s changed to %s during the "
		    "upload.", u->id, img.status);
		goto out;
	}
	if (u->quota != 0 && img.owner != NULL) {
		if (image_db_usage(txn, img.owner, img.id, &used) == -1)
			goto out;
		if (used + r->size > u->quota) {
			err_set(TS_ETOO_LARGE, "Denying attempt to upload "
			    "image because it exceeds the quota: The size of "
			    "the data %llu will exceed the limit. %lld bytes "
			    "remaining.", (unsigned long long)r->size,
			    used >= u->quota ? 0LL :
			    (long long)(u->quota - used));
			goto out;
		}
	}
	if (image_json_copy(&old, &img) == -1)
		goto out;
	img.has_size = true;
	img.size = r->size;
	img.has_virtual_size = r->inspect.virtual_size_known;
	img.virtual_size = r->inspect.virtual_size_known ?
	    r->inspect.virtual_size : 0;
	img.updated_at = db_now_ms();
	if (codec_str_set(&img.status, "active") == 0 &&
	    codec_str_set(&img.checksum, r->checksum) == 0 &&
	    codec_str_set(&img.os_hash_algo, "sha512") == 0 &&
	    codec_str_set(&img.os_hash_value, r->sha512) == 0)
		rc = image_db_put(txn, &img, &old);
	codec_clear(&schema_rec_image, &old);
out:
	codec_clear(&schema_rec_image, &img);
	return rc;
}

static int
upload_end(struct http_req *req, struct http_resp *resp)
{
	struct image_service *svc = svc_of(req);
	struct upload *u = http_req_state(req);
	const struct image_upload_result *r;
	struct ts_err saved;
	bool committed = false;

	http_req_set_state(req, NULL);
	if (u->refused) {
		err_set_(u->why.code, u->why.file, u->why.line, "%s",
		    u->why.msg);
		goto fail;
	}
	if (image_store_upload_finish(u->up, &r) == -1)
		goto fail;
	if (imgfmt_check_declared(&r->inspect, u->disk_format) == -1) {
		err_prefix("Image data rejected: ");
		log_warnx("image %s: upload refused: %s", u->id, err_msg());
		goto fail;
	}
	if (image_store_upload_commit(u->up) == -1)
		goto fail;
	committed = true;
	u->res = r;
	u->quota = (uint64_t)config_get_int(svc_of(req)->cfg, "image",
	    "user_storage_quota");
	if (store_write(svc->store, activate_fn, u) == -1)
		goto fail;
	u->saving = false;
	log_info("image %s active: %llu bytes, %s, virtual size %llu", u->id,
	    (unsigned long long)r->size, r->inspect.format_name,
	    (unsigned long long)r->inspect.virtual_size);
	upload_free(&u);
	return http_resp_status(resp, 0);
fail:
	saved = *err_last();
	if (committed && image_store_remove(svc->data, u->id) == -1)
		log_error("image %s: removing refused data: %s", u->id,
		    err_msg());
	requeue(svc->store, u);
	upload_free(&u);
	err_restore(&saved);
	return -1;
}

static void
upload_abort(struct http_req *req)
{
	struct upload *u = http_req_state(req);

	http_req_set_state(req, NULL);
	if (u == NULL)
		return;
	log_warnx("image %s: upload aborted after %llu bytes", u->id,
	    (unsigned long long)(u->received + u->discarded));
	requeue(svc_of(req)->store, u);
	upload_free(&u);
}

static const struct http_stream_ops upload_ops = {
	upload_begin, upload_data, upload_end, upload_abort
};

/* ---- members ------------------------------------------------------------- */

static int
require_shared(const struct rec_image *img)
{
	if (strcmp(img->visibility, "shared") != 0) {
		err_set(TS_EFORBIDDEN, "Only shared images have members.");
		return -1;
	}
	return 0;
}

struct member_list {
	json_t		*arr;
	const char	*only;	/* list only this member (a member asking) */
};

static int
member_add_json(const struct rec_image_member *m, void *arg)
{
	struct member_list *l = arg;

	if (l->only != NULL && strcmp(m->member_id, l->only) != 0)
		return 0;
	if (json_array_append_new(l->arr, image_json_member_to_json(m)) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static int
members_list(struct http_req *req, struct http_resp *resp)
{
	struct member_list l = { NULL, NULL };
	struct image_viewer v;
	struct store_txn *txn;
	struct rec_image img;
	bool member = false, owner;
	int rc;

	viewer_of(req, &v);
	if (read_txn(req, &txn) == -1)
		return -1;
	rc = load_image(req, txn, &v, "image:get_members", &img, &member);
	if (rc == 0 && (rc = require_shared(&img)) == 0) {
		owner = img.owner != NULL && strcmp(img.owner, v.project_id) ==
		    0;
		/* A member sees its own membership only, as in Glance. */
		l.only = v.admin || owner ? NULL : v.project_id;
		if ((l.arr = json_array()) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			rc = -1;
		} else {
			rc = image_db_member_each(txn, img.id, member_add_json,
			    &l);
		}
	}
	store_txn_end(&txn);
	codec_clear(&schema_rec_image, &img);
	if (rc == -1) {
		json_decref(l.arr);
		return -1;
	}
	return http_resp_json(resp, 0, json_pack("{s:o, s:s}", "members",
	    l.arr, "schema", "/v2/schemas/members"));
}

static int
member_get(struct http_req *req, struct http_resp *resp)
{
	const char *mid = http_req_param(req, "member_id");
	struct rec_image_member m;
	struct image_viewer v;
	struct store_txn *txn;
	struct rec_image img;
	struct request_target t;
	int rc;

	viewer_of(req, &v);
	memset(&m, 0, sizeof(m));
	if (read_txn(req, &txn) == -1)
		return -1;
	rc = load_image(req, txn, &v, NULL, &img, NULL);
	if (rc == 0) {
		memset(&t, 0, sizeof(t));
		rc = image_target(&t, &img, &v, false);
		if (rc == 0)
			rc = request_target_add(&t, "member_id", mid);
		if (rc == 0)
			rc = request_enforce(req, "image:get_member", &t);
		if (rc == 0)
			rc = require_shared(&img);
		if (rc == 0)
			rc = image_db_member_get(txn, img.id, mid, &m);
		codec_clear(&schema_rec_image, &img);
	}
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	rc = http_resp_json(resp, 0, image_json_member_to_json(&m));
	codec_clear(&schema_rec_image_member, &m);
	return rc;
}

struct member_op {
	struct http_req			*req;
	const struct image_viewer	*v;
	const char			*rule;
	const char			*member_id;
	const char			*status;	/* update */
	int				 op;		/* 0 add 1 update 2 del */
	struct rec_image_member		 result;
};

static int
member_fn(struct store_txn *txn, void *arg)
{
	struct member_op *o = arg;
	struct rec_image_member m;
	struct rec_image img;
	struct request_target t;
	size_t n;
	int rc = -1;

	memset(&m, 0, sizeof(m));
	if (load_image(o->req, txn, o->v, NULL, &img, NULL) == -1)
		return -1;
	memset(&t, 0, sizeof(t));
	if (image_target(&t, &img, o->v, false) == -1 ||
	    request_target_add(&t, "member_id", o->member_id) == -1 ||
	    request_enforce(o->req, o->rule, &t) == -1 ||
	    require_shared(&img) == -1)
		goto out;
	switch (o->op) {
	case 0:
		if (image_db_member_count(txn, img.id, &n) == -1)
			goto out;
		if (n >= IMAGE_MEMBER_MAX) {
			err_set(TS_ETOO_LARGE, "Attempted to add more than %d "
			    "members: maximum number of members reached.",
			    IMAGE_MEMBER_MAX);
			goto out;
		}
		memcpy(m.image_id, img.id, sizeof(m.image_id));
		if ((m.member_id = strdup(o->member_id)) == NULL ||
		    (m.status = strdup("pending")) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			goto out;
		}
		m.created_at = m.updated_at = db_now_ms();
		if (image_db_member_put(txn, &m, STORE_NOOVERWRITE) == -1)
			goto out;
		break;
	case 1:
		if (image_db_member_get(txn, img.id, o->member_id, &m) == -1 ||
		    codec_str_set(&m.status, o->status) == -1)
			goto out;
		m.updated_at = db_now_ms();
		if (image_db_member_put(txn, &m, 0) == -1)
			goto out;
		break;
	default:
		if (image_db_member_delete(txn, img.id, o->member_id) == -1)
			goto out;
		break;
	}
	o->result = m;
	memset(&m, 0, sizeof(m));
	rc = 0;
out:
	codec_clear(&schema_rec_image_member, &m);
	codec_clear(&schema_rec_image, &img);
	return rc;
}

static int
member_run(struct http_req *req, struct member_op *o)
{
	struct image_viewer v;

	viewer_of(req, &v);
	o->req = req;
	o->v = &v;
	return write_txn(req, member_fn, o);
}

static int
member_create(struct http_req *req, struct http_resp *resp)
{
	struct member_op o;
	json_t *body = http_req_json(req), *mv;
	int rc;

	memset(&o, 0, sizeof(o));
	mv = body != NULL ? json_object_get(body, "member") : NULL;
	if (mv == NULL || !json_is_string(mv) ||
	    json_string_length(mv) == 0 || json_string_length(mv) > 255 ||
	    strchr(json_string_value(mv), '/') != NULL) {
		err_set(TS_EINVALID, "Member to be added not specified");
		return -1;
	}
	o.rule = "image:add_member";
	o.member_id = json_string_value(mv);
	o.op = 0;
	if (member_run(req, &o) == -1)
		return -1;
	rc = http_resp_json(resp, 0, image_json_member_to_json(&o.result));
	codec_clear(&schema_rec_image_member, &o.result);
	return rc;
}

static int
member_update(struct http_req *req, struct http_resp *resp)
{
	struct member_op o;
	json_t *body = http_req_json(req), *sv;
	const char *s;
	int rc;

	memset(&o, 0, sizeof(o));
	sv = body != NULL ? json_object_get(body, "status") : NULL;
	s = sv != NULL && json_is_string(sv) ? json_string_value(sv) : "";
	if (strcmp(s, "pending") != 0 && strcmp(s, "accepted") != 0 &&
	    strcmp(s, "rejected") != 0) {
		err_set(TS_EINVALID, "Status must be one of pending, "
		    "accepted, rejected");
		return -1;
	}
	o.rule = "image:modify_member";
	o.member_id = http_req_param(req, "member_id");
	o.status = s;
	o.op = 1;
	if (member_run(req, &o) == -1)
		return -1;
	rc = http_resp_json(resp, 0, image_json_member_to_json(&o.result));
	codec_clear(&schema_rec_image_member, &o.result);
	return rc;
}

static int
member_delete(struct http_req *req, struct http_resp *resp)
{
	struct member_op o;

	memset(&o, 0, sizeof(o));
	o.rule = "image:delete_member";
	o.member_id = http_req_param(req, "member_id");
	o.op = 2;
	if (member_run(req, &o) == -1)
		return -1;
	return http_resp_status(resp, 0);
}

/* ---- the compute API's image proxy (image.h) ------------------------------ */

int
image_proxy_list(struct image_service *svc, struct http_req *req,
    const struct image_kv *query, size_t n, struct image_page *page)
{
	struct image_query *q;
	struct image_viewer v;
	struct store_txn *txn;
	int rc = -1;

	memset(page, 0, sizeof(*page));
	viewer_of(req, &v);
	if ((q = malloc(sizeof(*q))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (image_list_query_parse(q, query, n) == 0 &&
	    store_read_begin(svc->store, &txn) == 0) {
		rc = image_list_run(txn, q, &v, page);
		store_txn_end(&txn);
	}
	free(q);
	return rc;
}

int
image_proxy_get(struct image_service *svc, struct http_req *req,
    const char *id, struct rec_image *img)
{
	struct image_viewer v;
	struct store_txn *txn;
	int rc;

	memset(img, 0, sizeof(*img));
	viewer_of(req, &v);
	if (store_read_begin(svc->store, &txn) == -1)
		return -1;
	rc = load_image_id(req, txn, id, &v, "image:get_image", img, NULL);
	store_txn_end(&txn);
	return rc;
}

int
image_proxy_delete(struct image_service *svc, struct http_req *req,
    const char *id)
{
	return delete_image(svc, req, id);
}

struct props_arg {
	const struct image_kv	*set;
	size_t			 n;
	bool			 purge;
	const char		*remove;
};

static int
props_fn(struct change *c, struct store_txn *txn, struct rec_image *img)
{
	const struct props_arg *p = c->arg;

	(void)txn;
	return image_json_props_apply(img, p->set, p->n, p->purge, p->remove);
}

int
image_proxy_props(struct image_service *svc, struct http_req *req,
    const char *id, const struct image_kv *set, size_t n, bool purge,
    const char *remove, struct rec_image *out)
{
	struct props_arg p = { set, n, purge, remove };
	struct change c;

	if (change_run(svc, req, id, "image:modify_image", props_fn, &p,
	    &c) == -1)
		return -1;
	log_info("image %s: properties %s by the compute API", id,
	    remove != NULL ? "removed" : purge ? "replaced" : "set");
	if (out != NULL)
		*out = c.result;	/* moved */
	else
		codec_clear(&schema_rec_image, &c.result);
	return 0;
}

/* ---- routes -------------------------------------------------------------- */

#define R(m, p, h, pol, fl, st) { m, p, h, pol, fl, st, NULL }
#define NA	ROUTE_NO_AUTH
#define IH	ROUTE_POLICY_IN_HANDLER
#define IMG	"/v2/images/{image_id}"

/*
 * Rules on one image read its owner and membership, so the handler
 * enforces them after image_db_visible(): an image the caller may not see
 * answers 404 before any rule is asked, as Glance does (IH).
 */
const struct http_route image_routes[] = {
	R("GET", "/", versions_get, NULL, NA, 300),
	R("GET", "/versions", versions_get, NULL, NA, 200),
	/* Self-scoped: the schemas document the API, Glance serves them to
	 * any token without a rule. */
	R("GET", "/v2/schemas/{name}", schema_get, NULL, ROUTE_SELF_SCOPED, 0),
	R("GET", "/v2/schemas/metadefs/{name}", schema_get, NULL,
	    ROUTE_SELF_SCOPED, 0),

	R("GET", "/v2/images", image_list, "image:get_images", 0, 0),
	/* The owner may come from the body: checked once it is known. */
	R("POST", "/v2/images", image_create, "image:add_image", IH, 201),
	R("GET", IMG, image_get, "image:get_image", IH, 0),
	R("PATCH", IMG, image_update, "image:modify_image", IH, 0),
	R("DELETE", IMG, image_delete, "image:delete_image", IH, 204),
	R("PUT", IMG "/tags/{tag}", tag_put, "image:modify_image", IH, 204),
	R("DELETE", IMG "/tags/{tag}", tag_delete, "image:modify_image", IH,
	    204),
	R("POST", IMG "/actions/deactivate", image_deactivate,
	    "image:deactivate", IH, 204),
	R("POST", IMG "/actions/reactivate", image_reactivate,
	    "image:reactivate", IH, 204),
	/* Also an agent's image capability (http/request.h). */
	R("GET", IMG "/file", image_download, "image:download_image",
	    IH | ROUTE_CAPABILITY, 0),
	/* Also an agent's snapshot upload capability. */
	{ "PUT", IMG "/file", NULL, "image:upload_image",
	    ROUTE_STREAM_BODY | IH | ROUTE_CAPABILITY_UPLOAD, 204,
	    &upload_ops },

	R("GET", IMG "/members", members_list, "image:get_members", IH, 0),
	R("POST", IMG "/members", member_create, "image:add_member", IH, 200),
	R("GET", IMG "/members/{member_id}", member_get, "image:get_member",
	    IH, 0),
	R("PUT", IMG "/members/{member_id}", member_update,
	    "image:modify_member", IH, 0),
	R("DELETE", IMG "/members/{member_id}", member_delete,
	    "image:delete_member", IH, 204),
	HTTP_ROUTE_END
};
