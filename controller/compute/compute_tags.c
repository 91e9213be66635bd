/*
 * compute_tags: Nova's server tags (microversion 2.26):
 * /servers/{server_id}/tags (GET the list, PUT the whole list, DELETE all)
 * and /servers/{server_id}/tags/{tag} (GET 204/404, PUT 201/204, DELETE).
 *
 * The tags live in the instance record (rec_instance.tags, at most
 * COMPUTE_TAGS_MAX, in the order first set), so a change is one write
 * transaction on the instance and the servers list filters (tags, tags-any,
 * not-tags, not-tags-any) read them with the record they already have.
 * As Nova's: a tag is 1 to 60 characters without '/' or ','; changes need
 * the server in vm_state active, paused, suspended or stopped (Nova's
 * shelved states do not exist here), reads need nothing but the policy.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "compute_db.h"
#include "compute_int.h"
#include "core/db.h"
#include "err.h"
#include "http/http.h"
#include "http/jsonreq.h"
#include "store.h"

#define TAG_CHARS	60

/* UTF-8 characters of s (jansson checked the encoding). */
static size_t
chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

bool
compute_tag_valid(const char *t)
{
	size_t n = t ? chars(t) : 0;

	return n >= 1 && n <= TAG_CHARS && strpbrk(t, "/,") == NULL;
}

bool
compute_tag_has(const struct rec_instance *i, const char *t)
{
	for (size_t k = 0; k < i->tags.n; k++)
		if (strcmp(i->tags.items[k], t) == 0)
			return true;
	return false;
}

static json_t *
tags_json(const struct rec_instance *i)
{
	json_t *a = json_array();

	for (size_t k = 0; a && k < i->tags.n; k++)
		json_array_append_new(a, json_string(i->tags.items[k]));
	return a;
}

json_t *
compute_tags_json(const struct rec_instance *i)
{
	return tags_json(i);
}

/* Nova's _check_instance_in_valid_state for a tag change. */
static int
state_ok(const struct rec_instance *i, const char *what)
{
	if (strcmp(i->vm_state, VM_ACTIVE) != 0 &&
	    strcmp(i->vm_state, VM_PAUSED) != 0 &&
	    strcmp(i->vm_state, VM_SUSPENDED) != 0 &&
	    strcmp(i->vm_state, VM_STOPPED) != 0) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "vm_state %s", what, i->uuid, i->vm_state);
		return -1;
	}
	return 0;
}

static void
tags_clear(struct rec_instance *i)
{
	for (size_t k = 0; k < i->tags.n; k++)
		free(i->tags.items[k]);
	free(i->tags.items);
	i->tags.items = NULL;
	i->tags.n = 0;
}

/* Appends t (owned copy); the caller checked the count. */
static int
tags_add(struct rec_instance *i, const char *t)
{
	char **v = realloc(i->tags.items, (i->tags.n + 1) * sizeof(*v));

	if (v == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	i->tags.items = v;
	if ((v[i->tags.n] = strdup(t)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	i->tags.n++;
	return 0;
}

enum op { OP_SET_ALL, OP_DEL_ALL, OP_ADD, OP_DEL };

struct change {
	struct http_req	*req;
	enum op		 op;
	const char	*rule;
	const char	*what;		/* Nova's action name in a 409 */
	json_t		*all;		/* OP_SET_ALL: the checked list */
	const char	*tag;		/* OP_ADD, OP_DEL */
	bool		 existed;	/* OP_ADD: already there */
	json_t		*result;	/* OP_SET_ALL: the new list, owned */
};

static int
change_fn(struct store_txn *txn, void *arg)
{
	struct change *c = arg;
	struct rec_instance i, old;
	int rc = -1;

	c->existed = false;
	json_decref(c->result);
	c->result = NULL;
	if (compute_server_load_txn(c->req, txn, c->rule, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (state_ok(&i, c->what) == -1)
		goto out;
	switch (c->op) {
	case OP_SET_ALL: {
		size_t k;
		json_t *v;

		tags_clear(&i);
		json_array_foreach(c->all, k, v)
			if (!compute_tag_has(&i, json_string_value(v)) &&
			    tags_add(&i, json_string_value(v)) == -1)
				goto out;
		break;
	}
	case OP_DEL_ALL:
		tags_clear(&i);
		break;
	case OP_ADD:
		if (compute_tag_has(&i, c->tag)) {
			c->existed = true;
			rc = 0;
			goto out;
		}
		if (i.tags.n >= COMPUTE_TAGS_MAX) {
			err_set(TS_EINVALID, "The number of tags exceeded the "
			    "per-server limit %d", COMPUTE_TAGS_MAX);
			goto out;
		}
		if (tags_add(&i, c->tag) == -1)
			goto out;
		break;
	case OP_DEL: {
		size_t k;

		for (k = 0; k < i.tags.n; k++)
			if (strcmp(i.tags.items[k], c->tag) == 0)
				break;
		if (k == i.tags.n) {
			err_set(TS_ENOT_FOUND, "Instance %s has no tag '%s'",
			    i.uuid, c->tag);
			goto out;
		}
		free(i.tags.items[k]);
		memmove(&i.tags.items[k], &i.tags.items[k + 1],
		    (i.tags.n - k - 1) * sizeof(*i.tags.items));
		i.tags.n--;
		break;
	}
	}
	i.updated_at = db_now_ms();
	if (compute_db_instance_put(txn, &i, &old) == -1)
		goto out;
	if (c->op == OP_SET_ALL && (c->result = tags_json(&i)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* Below 2.26 the routes do not exist (Nova's VersionNotFoundForAPIMethod,
 * a 404). */
static int
version(struct http_req *req, struct http_resp *resp)
{
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (!request_mv_has(mv, MV_SERVER_TAGS)) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	return 0;
}

/* The path's {tag}, checked as Nova checks it (a 400). */
static const char *
path_tag(struct http_req *req)
{
	const char *t = http_req_param(req, "tag");

	if (!compute_tag_valid(t)) {
		err_set(TS_EINVALID, "Tag '%.240s' is invalid. It must be a "
		    "non empty string without characters '/' and ','.",
		    t ? t : "");
		return NULL;
	}
	return t;
}

static int
read_server(struct http_req *req, const char *rule, struct rec_instance *i)
{
	struct store_txn *txn = NULL;
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, i);
	store_txn_end(&txn);
	return rc;
}

int
compute_tags_index(struct http_req *req, struct http_resp *resp)
{
	struct rec_instance i;
	json_t *a;

	if (version(req, resp) == -1 || read_server(req,
	    "os_compute_api:os-server-tags:index", &i) == -1)
		return -1;
	a = tags_json(&i);
	codec_clear(&schema_rec_instance, &i);
	return http_resp_json(resp, 200, json_pack("{s:o}", "tags", a));
}

int
compute_tags_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_instance i;
	const char *t;
	bool has;

	if (version(req, resp) == -1 || read_server(req,
	    "os_compute_api:os-server-tags:show", &i) == -1)
		return -1;
	t = http_req_param(req, "tag");
	has = t != NULL && compute_tag_has(&i, t);
	if (!has)
		err_set(TS_ENOT_FOUND, "Instance %s has no tag '%.240s'",
		    i.uuid, t ? t : "");
	codec_clear(&schema_rec_instance, &i);
	if (!has)
		return -1;
	return http_resp_status(resp, 204);
}

/* Nova's update_all schema: {"tags": [tag...]}, unique items, at most
 * COMPUTE_TAGS_MAX, nothing else. */
static int
parse_all(json_t *b, json_t **all)
{
	const char *k;
	json_t *v;
	size_t n;

	if (!json_is_object(b)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute tags. "
		    "The request body must be an object.");
		return -1;
	}
	json_object_foreach(b, k, v)
		if (strcmp(k, "tags") != 0) {
			err_set(TS_EINVALID, "Additional properties are not "
			    "allowed ('%.64s' was unexpected)", k);
			return -1;
		}
	*all = json_object_get(b, "tags");
	if (*all == NULL)
		return jsonreq_fail(JSONREQ_NOVA, "tags", "'tags' is a "
		    "required property");
	if (!json_is_array(*all))
		return jsonreq_fail(JSONREQ_NOVA, "tags", "is not of type "
		    "'array'");
	if (json_array_size(*all) > COMPUTE_TAGS_MAX)
		return jsonreq_fail(JSONREQ_NOVA, "tags", "is too long");
	json_array_foreach(*all, n, v) {
		if (!json_is_string(v) || !compute_tag_valid(
		    json_string_value(v)))
			return jsonreq_fail(JSONREQ_NOVA, "tags", "is not a "
			    "valid tag (1 to 60 characters, no '/' or ',')");
		for (size_t m = 0; m < n; m++)
			if (json_equal(json_array_get(*all, m), v))
				return jsonreq_fail(JSONREQ_NOVA, "tags",
				    "has non-unique elements");
	}
	return 0;
}

int
compute_tags_update_all(struct http_req *req, struct http_resp *resp)
{
	struct change c = { .req = req, .op = OP_SET_ALL,
	    .rule = "os_compute_api:os-server-tags:update_all",
	    .what = "update tags" };
	struct rec_instance i;

	/* The policy and the server first (404 before 400, as Nova's). */
	if (version(req, resp) == -1 || read_server(req, c.rule, &i) == -1)
		return -1;
	codec_clear(&schema_rec_instance, &i);
	if (parse_all(http_req_json(req), &c.all) == -1 ||
	    compute_write(req, change_fn, &c) == -1) {
		json_decref(c.result);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "tags", c.result));
}

int
compute_tags_delete_all(struct http_req *req, struct http_resp *resp)
{
	struct change c = { .req = req, .op = OP_DEL_ALL,
	    .rule = "os_compute_api:os-server-tags:delete_all",
	    .what = "delete tags" };

	if (version(req, resp) == -1 || compute_write(req, change_fn, &c) ==
	    -1)
		return -1;
	return http_resp_status(resp, 204);
}

int
compute_tags_update(struct http_req *req, struct http_resp *resp)
{
	struct change c = { .req = req, .op = OP_ADD,
	    .rule = "os_compute_api:os-server-tags:update",
	    .what = "update tag" };
	struct rec_instance i;
	char loc[1200];
	int rc;

	if (version(req, resp) == -1 || read_server(req, c.rule, &i) == -1)
		return -1;
	rc = state_ok(&i, c.what);
	codec_clear(&schema_rec_instance, &i);
	if (rc == -1 || (c.tag = path_tag(req)) == NULL ||
	    compute_write(req, change_fn, &c) == -1)
		return -1;
	if (c.existed)
		return http_resp_status(resp, 204);
	if (compute_url(req, false, loc, sizeof(loc), "servers/%s/tags/%s",
	    http_req_param(req, "server_id"), c.tag) == 0 &&
	    http_resp_header(resp, "Location", loc) == -1)
		return -1;
	return http_resp_status(resp, 201);
}

int
compute_tags_delete(struct http_req *req, struct http_resp *resp)
{
	struct change c = { .req = req, .op = OP_DEL,
	    .rule = "os_compute_api:os-server-tags:delete",
	    .what = "delete tag" };

	if (version(req, resp) == -1)
		return -1;
	if ((c.tag = http_req_param(req, "tag")) == NULL) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (compute_write(req, change_fn, &c) == -1)
		return -1;
	return http_resp_status(resp, 204);
}
