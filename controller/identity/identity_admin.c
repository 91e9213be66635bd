/*
 * identity_admin: domains, projects, users and roles (Keystone v3); see
 * identity.h for the rules every handler follows. Grants, groups, role
 * assignments and implied roles are in identity_assign.c.
 *
 * Records built here own every string (setstr()), so codec_clear() is the
 * one cleanup. Write functions re-read the record they change inside the
 * write transaction and apply the request body to that, so concurrent
 * updates are serialized and uniqueness is decided by idstore in the same
 * transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "identity_int.h"
#include "http/jsonreq.h"
#include "log.h"
#include "compliance.h"
#include "password.h"

static int
nomem(void)
{
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

/* Replace an owned string field with a copy of v (NULL allowed). */
static int
setstr(char **field, const char *v)
{
	char *n = NULL;

	if (v != NULL && (n = strdup(v)) == NULL)
		return nomem();
	free(*field);
	*field = n;
	return 0;
}

static int
respond(struct http_resp *resp, int status, const char *key, json_t *obj)
{
	if (obj == NULL)
		return nomem();
	return http_resp_json(resp, status, json_pack("{s:o}", key, obj));
}

/* The domain new objects go to when the body names none: the caller's
 * scope's domain, else the default domain (Keystone's behaviour). */
static const char *
caller_domain(struct http_req *req)
{
	const struct request_ctx *c = request_ctx_of(req);

	if (c != NULL && c->scope == TOKEN_SCOPE_PROJECT &&
	    c->project_domain_id != NULL && *c->project_domain_id)
		return c->project_domain_id;
	if (c != NULL && c->scope == TOKEN_SCOPE_DOMAIN &&
	    c->project_id != NULL && *c->project_id)
		return c->project_id;
	return IDSTORE_DEFAULT_DOMAIN;
}

/* Query filter "enabled": -1 absent, else 0/1. */
static int
query_bool(struct http_req *req, const char *key)
{
	const char *v = http_req_query(req, key);

	if (v == NULL)
		return -1;
	return jsonreq_query_bool(JSONREQ_KEYSTONE, v) ? 1 : 0;
}

static bool
eq_or_unset(const char *filter, const char *value)
{
	return filter == NULL || (value != NULL && strcmp(filter, value) == 0);
}

/* ---- JSON of the records ------------------------------------------------ */

static json_t *
tags_json(const struct rec_project *p)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < p->tags.n; i++)
		json_array_append_new(a, json_string(p->tags.items[i]));
	return a;
}

static json_t *
project_json(struct http_req *req, const struct rec_project *p)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:o, s:s, s:b, s:o, s:b, s:o, s:{}, s:{s:o}}",
	    "id", p->id, "name", p->name,
	    "domain_id", identity_json_str_or_null(p->is_domain ? NULL : p->domain_id),
	    "description", p->description ? p->description : "",
	    "enabled", p->enabled,
	    "parent_id", identity_json_str_or_null(p->is_domain ? NULL : p->parent_id),
	    "is_domain", p->is_domain, "tags", tags_json(p), "options",
	    "links", "self", identity_json_url(req, "/v3/projects/%s", p->id));
	if (o != NULL)
		identity_json_merge_extra(o, p->extra);
	return o;
}

static json_t *
domain_json(struct http_req *req, const struct rec_project *d)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:{}, s:{s:o}}",
	    "id", d->id, "name", d->name,
	    "description", d->description ? d->description : "",
	    "enabled", d->enabled, "tags", tags_json(d), "options",
	    "links", "self", identity_json_url(req, "/v3/domains/%s", d->id));
	if (o != NULL)
		identity_json_merge_extra(o, d->extra);
	return o;
}

static json_t *
user_json(struct http_req *req, const struct rec_user *u)
{

	char t[IDENTITY_JSON_TIME_BUFSZ];
	json_t *o, *opts;
	size_t i;

	if (u->password_expires_at != 0)
		identity_json_time(u->password_expires_at, t);
	o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:{}, s:{s:o}}",
	    "id", u->id, "name", u->name, "domain_id", u->domain_id,
	    "enabled", u->enabled, "password_expires_at",
	    u->password_expires_at != 0 ? json_string(t) : json_null(),
	    "options",
	    "links", "self", identity_json_url(req, "/v3/users/%s", u->id));
	if (o == NULL)
		return NULL;
	opts = json_object_get(o, "options");
	for (i = 0; compliance_option_names[i] != NULL; i++)
		if (u->options & (1u << i))
			json_object_set_new(opts, compliance_option_names[i],
			    json_true());
	if (u->default_project_id != NULL)
		json_object_set_new(o, "default_project_id",
		    json_string(u->default_project_id));
	identity_json_merge_extra(o, u->extra);
	return o;
}

/* ---- body fields -------------------------------------------------------- */

/* Keystone's tag rules: at most 80, 1-255 characters, no ',' or '/'. */
static int
tags_set(json_t *o, struct rec_project *p)
{
	json_t *a = json_object_get(o, "tags"), *t;
	char **items;
	size_t i, n;
	const char *s;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 80) {
		err_set(TS_EINVALID, "Invalid input for field 'tags': at most "
		    "80 strings.");
		return -1;
	}
	n = json_array_size(a);
	if ((items = calloc(n + 1, sizeof(*items))) == NULL)
		return nomem();
	json_array_foreach(a, i, t) {
		s = json_string_value(t);
		if (s == NULL || *s == '\0' || strlen(s) > 255 ||
		    strpbrk(s, ",/") != NULL) {
			err_set(TS_EINVALID, "Invalid input for field 'tags': "
			    "a tag is 1-255 characters without ',' or '/'.");
			goto fail;
		}
		if ((items[i] = strdup(s)) == NULL) {
			nomem();
			goto fail;
		}
	}
	for (i = 0; i < p->tags.n; i++)
		free(p->tags.items[i]);
	free(p->tags.items);
	p->tags.items = items;
	p->tags.n = n;
	return 0;
fail:
	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
	return -1;
}

static const char *const project_known[] = {
	"id", "name", "domain_id", "parent_id", "is_domain", "enabled",
	"description", "tags", "options", "links", NULL
};

/* name, description, enabled, tags, extra from the body onto p. */
static int
project_common(json_t *o, struct rec_project *p, bool create)
{
	const char *name = NULL, *desc = NULL;
	bool has_desc;
	char *extra = NULL;

	if (jsonreq_str(JSONREQ_KEYSTONE, o, "name", 1, 64, JSONREQ_BYTES |
	    (create ? JSONREQ_REQUIRED : 0) |
	    JSONREQ_NONBLANK, &name, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "description", 0, 65535,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &desc, &has_desc) == -1 ||
	    jsonreq_bool(JSONREQ_KEYSTONE, o, "enabled", 0, &p->enabled,
	    NULL) == -1 ||
	    tags_set(o, p) == -1)
		return -1;
	if (json_object_get(o, "options") != NULL &&
	    !json_is_object(json_object_get(o, "options"))) {
		err_set(TS_EINVALID, "Invalid input for field 'options'.");
		return -1;
	}
	if ((name != NULL && setstr(&p->name, name) == -1) ||
	    (has_desc && setstr(&p->description, desc) == -1))
		return -1;
	if (identity_json_extra(o, project_known, p->extra, &extra) == -1)
		return -1;
	free(p->extra);
	p->extra = extra;
	return 0;
}

/* ---- domains ------------------------------------------------------------ */

struct list {
	struct http_req	*req;
	struct store_txn *txn;
	json_t		*items;
	const char	*name, *domain_id, *parent_id;
	int		 enabled;	/* -1: any */
	int		 is_domain;	/* -1: any */
	const char	*user_id;	/* projects of a user */
	bool		 v2;
};

static int
list_domain(const void *obj, void *arg)
{
	const struct rec_project *p = obj;
	struct list *l = arg;

	if (!p->is_domain || !eq_or_unset(l->name, p->name) ||
	    (l->enabled >= 0 && p->enabled != (l->enabled == 1)))
		return 0;
	return json_array_append_new(l->items, domain_json(l->req, p)) == 0 ?
	    0 : nomem();
}

static int
run_list(struct http_req *req, struct http_resp *resp, struct list *l,
    const struct schema_type *type, int (*cb)(const void *, void *),
    const char *key)
{
	int rc;

	l->req = req;
	if ((l->items = json_array()) == NULL)
		return nomem();
	if (identity_json_read(req, &l->txn) == -1) {
		json_decref(l->items);
		return -1;
	}
	rc = idstore_each(l->txn, type, cb, l);
	store_txn_end(&l->txn);
	if (rc == -1) {
		json_decref(l->items);
		return -1;
	}
	return http_resp_json(resp, 0, identity_json_list(req, key, l->items));
}

int
identity_admin_domain_list(struct http_req *req, struct http_resp *resp)
{
	struct list l = { .enabled = query_bool(req, "enabled") };

	l.name = http_req_query(req, "name");
	return run_list(req, resp, &l, &schema_rec_project, list_domain,
	    "domains");
}

int
identity_admin_domain_get(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct rec_project d;
	json_t *o = NULL;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_domain_get(txn, http_req_param(req, "domain_id"), &d);
	if (rc == 0 && (o = domain_json(req, &d)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_project, &d);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, "domain", o) : -1;
}

/* Shared by domain and project writes. */
struct pw {
	struct http_req		*req;
	json_t			*body;
	const char		*id;
	struct rec_project	 p;	/* create: the new record */
	json_t			*out;
	struct identity_revs	 revs;
	bool			 domain_api;	/* /v3/domains */
};

static int
domain_create_fn(struct store_txn *txn, void *arg)
{
	struct pw *w = arg;

	if (idstore_project_put(txn, &w->p, NULL) == -1)
		return -1;
	if ((w->out = w->domain_api ? domain_json(w->req, &w->p) :
	    project_json(w->req, &w->p)) == NULL)
		return nomem();
	return 0;
}

static int
create_domain(struct http_req *req, struct http_resp *resp, json_t *o,
    bool domain_api)
{
	struct pw w;
	char id[TOKEN_ID_BUFSZ];
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	w.domain_api = domain_api;
	w.p.enabled = true;
	w.p.is_domain = true;
	idstore_id_new(id);
	w.p.created_at = w.p.updated_at = db_now_ms();
	rc = project_common(o, &w.p, true);
	if (rc == 0)
		rc = setstr(&w.p.id, id);
	if (rc == 0)
		rc = identity_json_write(req, domain_create_fn, &w);
	codec_clear(&schema_rec_project, &w.p);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 201, domain_api ? "domain" : "project", w.out);
}

int
identity_admin_domain_create(struct http_req *req, struct http_resp *resp)
{
	json_t *o;

	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "domain",
	    &o) == -1)
		return -1;
	return create_domain(req, resp, o, true);
}

/* Apply a PATCH body to a stored project or domain. */
static int
project_update_fn(struct store_txn *txn, void *arg)
{
	struct pw *w = arg;
	struct rec_project p, old;
	const char *s = NULL;
	bool present, isd, was_enabled;
	int rc = -1;
	int64_t now = db_now_ms();

	memset(&old, 0, sizeof(old));
	if ((w->domain_api ? idstore_domain_get(txn, w->id, &p) :
	    idstore_project_get(txn, w->id, &p)) == -1)
		return -1;
	if (idstore_project_get(txn, w->id, &old) == -1)
		goto out;
	was_enabled = p.enabled;
	if (jsonreq_str(JSONREQ_KEYSTONE, w->body, "domain_id", 0, 64,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &s, &present) == -1)
		goto out;
	if (present && !eq_or_unset(s, p.is_domain ? NULL : p.domain_id)) {
		err_set(TS_EINVALID, "Update of `domain_id` is not allowed.");
		goto out;
	}
	s = NULL;
	if (jsonreq_str(JSONREQ_KEYSTONE, w->body, "parent_id", 0, 64,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &s, &present) == -1)
		goto out;
	if (present && !eq_or_unset(s, p.is_domain ? NULL : p.parent_id)) {
		err_set(TS_EFORBIDDEN, "Update of `parent_id` is not "
		    "allowed.");
		goto out;
	}
	isd = p.is_domain;
	if (jsonreq_bool(JSONREQ_KEYSTONE, w->body, "is_domain", 0, &isd,
	    NULL) == -1)
		goto out;
	if (isd != p.is_domain) {
		err_set(TS_EINVALID, "Update of `is_domain` is not allowed.");
		goto out;
	}
	if (project_common(w->body, &p, false) == -1)
		goto out;
	p.updated_at = now;
	if (idstore_project_put(txn, &p, &old) == -1)
		goto out;
	/* Disabling ends the tokens scoped to it (re-enabling does not
	 * bring them back, as with Keystone's revocation events). */
	if (was_enabled && !p.enabled &&
	    identity_revs_project(&w->revs, txn, p.id, now) == -1)
		goto out;
	if ((w->out = w->domain_api ? domain_json(w->req, &p) :
	    project_json(w->req, &p)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_project, &p);
	codec_clear(&schema_rec_project, &old);
	return rc;
}

static int
update_project(struct http_req *req, struct http_resp *resp, bool domain_api)
{
	struct pw w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	w.domain_api = domain_api;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req),
	    domain_api ? "domain" : "project", &w.body) == -1)
		return -1;
	w.id = http_req_param(req, domain_api ? "domain_id" : "project_id");
	rc = identity_json_write(req, project_update_fn, &w);
	identity_revs_done(identity_of(req), &w.revs, rc == 0);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 0, domain_api ? "domain" : "project", w.out);
}

int
identity_admin_domain_update(struct http_req *req, struct http_resp *resp)
{
	return update_project(req, resp, true);
}

/* Ids of records (projects or users) of one domain, collected before
 * deleting. */
struct ids {
	const char	*domain_id;
	char		**v;
	size_t		 n, cap;
};

static int
ids_push(struct ids *c, const char *id)
{
	char **nv;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		if ((nv = realloc(c->v, c->cap * sizeof(*nv))) == NULL)
			return nomem();
		c->v = nv;
	}
	if ((c->v[c->n] = strdup(id)) == NULL)
		return nomem();
	c->n++;
	return 0;
}

static void
ids_free(struct ids *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

static int
project_of_domain(const void *obj, void *arg)
{
	const struct rec_project *p = obj;
	struct ids *c = arg;

	if (p->is_domain || p->domain_id == NULL ||
	    strcmp(p->domain_id, c->domain_id) != 0)
		return 0;
	return ids_push(c, p->id);
}

static int
user_of_domain(const void *obj, void *arg)
{
	const struct rec_user *u = obj;
	struct ids *c = arg;

	return strcmp(u->domain_id, c->domain_id) == 0 ? ids_push(c, u->id) : 0;
}

static int
group_of_domain(const void *obj, void *arg)
{
	const struct rec_group *g = obj;
	struct ids *c = arg;

	return strcmp(g->domain_id, c->domain_id) == 0 ? ids_push(c, g->id) : 0;
}

static int
role_of_domain(const void *obj, void *arg)
{
	const struct rec_role *r = obj;
	struct ids *c = arg;

	return r->domain_id != NULL && strcmp(r->domain_id, c->domain_id) ==
	    0 ? ids_push(c, r->id) : 0;
}

static int
delete_user_rec(struct store_txn *txn, const char *id,
    struct identity_revs *revs, int64_t now)
{
	struct rec_user u;
	int rc;

	if (idstore_user_get(txn, id, &u) == -1)
		return -1;
	rc = idstore_user_del(txn, &u);
	if (rc == 0)
		rc = identity_revs_user(revs, txn, u.id, now);
	codec_clear(&schema_rec_user, &u);
	return rc;
}

static int
delete_role_rec(struct store_txn *txn, const char *id,
    struct identity_revs *revs, int64_t now)
{
	struct idstore_filter f = { .role_id = id };
	struct rec_role r;
	int rc;

	if (idstore_role_get(txn, id, &r) == -1)
		return -1;
	rc = identity_assign_revs_matching(revs, txn, &f, now);
	if (rc == 0)
		rc = idstore_role_del(txn, &r);
	codec_clear(&schema_rec_role, &r);
	return rc;
}

/* DELETE of a user or role by its URL id: del() removes the record and
 * collects the revocation events of the tokens it ends in one write
 * transaction; the events take effect only if that transaction commits. */
struct rec_delete {
	int			(*del)(struct store_txn *, const char *id,
				    struct identity_revs *, int64_t now);
	const char		*id;
	struct identity_revs	 revs;
};

static int
rec_delete_fn(struct store_txn *txn, void *arg)
{
	struct rec_delete *w = arg;

	return w->del(txn, w->id, &w->revs, db_now_ms());
}

static int
delete_revoking(struct http_req *req, const char *param,
    int (*del)(struct store_txn *, const char *, struct identity_revs *,
    int64_t))
{
	struct rec_delete w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.del = del;
	w.id = http_req_param(req, param);
	rc = identity_json_write(req, rec_delete_fn, &w);
	identity_revs_done(identity_of(req), &w.revs, rc == 0);
	return rc;
}

/* A project with children cannot go (Keystone: not a leaf). */
struct child {
	const char	*id;
	bool		 found;
};

static int
find_child(const void *obj, void *arg)
{
	const struct rec_project *p = obj;
	struct child *c = arg;

	if (!p->is_domain && p->parent_id != NULL &&
	    strcmp(p->parent_id, c->id) == 0 && strcmp(p->id, c->id) != 0) {
		c->found = true;
		return 1;
	}
	return 0;
}

static int
delete_project_rec(struct store_txn *txn, const struct rec_project *p,
    struct identity_revs *revs, int64_t now)
{
	struct child ch = { p->id, false };

	if (idstore_each(txn, &schema_rec_project, find_child, &ch) == -1)
		return -1;
	if (ch.found) {
		err_set(TS_EFORBIDDEN, "Cannot delete the project %s since it "
		    "is not a leaf in the hierarchy.", p->id);
		return -1;
	}
	if (idstore_project_del(txn, p) == -1)
		return -1;
	return identity_revs_project(revs, txn, p->id, now);
}

/* Delete a (disabled) domain with its projects, users and roles, as
 * Keystone does. */
static int
delete_domain_rec(struct store_txn *txn, const struct rec_project *d,
    struct identity_revs *revs, int64_t now)
{
	struct ids c = { d->id, NULL, 0, 0 };
	struct rec_project p;
	size_t i;
	int rc;

	if (d->enabled) {
		err_set(TS_EFORBIDDEN, "Cannot delete a domain that is enabled, "
		    "please disable it first.");
		return -1;
	}
	/* Projects, children first: delete the leaves until none is left. */
	for (;;) {
		size_t deleted = 0;

		ids_free(&c);
		rc = idstore_each(txn, &schema_rec_project, project_of_domain,
		    &c);
		if (rc == -1 || c.n == 0)
			break;
		for (i = 0; rc == 0 && i < c.n; i++) {
			struct child ch = { c.v[i], false };

			rc = idstore_each(txn, &schema_rec_project, find_child,
			    &ch);
			if (rc == -1 || ch.found)
				continue;
			if ((rc = idstore_project_get(txn, c.v[i], &p)) == -1)
				break;
			rc = idstore_project_del(txn, &p);
			if (rc == 0)
				rc = identity_revs_project(revs, txn, p.id,
				    now);
			codec_clear(&schema_rec_project, &p);
			deleted++;
		}
		if (rc == 0 && deleted == 0) {
			err_set(TS_EINTERNAL, "the projects of domain %s form "
			    "a cycle", d->id);
			rc = -1;
		}
		if (rc == -1)
			break;
	}
	ids_free(&c);
	if (rc == 0)
		rc = idstore_each(txn, &schema_rec_user, user_of_domain, &c);
	for (i = 0; rc == 0 && i < c.n; i++)
		rc = delete_user_rec(txn, c.v[i], revs, now);
	ids_free(&c);
	if (rc == 0)
		rc = idstore_each(txn, &schema_rec_group, group_of_domain, &c);
	for (i = 0; rc == 0 && i < c.n; i++)
		rc = identity_assign_group_delete_rec(txn, c.v[i], revs, now);
	ids_free(&c);
	if (rc == 0)
		rc = idstore_each(txn, &schema_rec_role, role_of_domain, &c);
	for (i = 0; rc == 0 && i < c.n; i++)
		rc = delete_role_rec(txn, c.v[i], revs, now);
	ids_free(&c);
	if (rc == 0)
		rc = idstore_project_del(txn, d);
	if (rc == 0)
		rc = identity_revs_project(revs, txn, d->id, now);
	return rc;
}

static int
project_delete_fn(struct store_txn *txn, void *arg)
{
	struct pw *w = arg;
	struct rec_project p;
	int rc;

	if ((w->domain_api ? idstore_domain_get(txn, w->id, &p) :
	    idstore_project_get(txn, w->id, &p)) == -1)
		return -1;
	if (p.is_domain)
		rc = delete_domain_rec(txn, &p, &w->revs, db_now_ms());
	else
		rc = delete_project_rec(txn, &p, &w->revs, db_now_ms());
	codec_clear(&schema_rec_project, &p);
	return rc;
}

static int
delete_project(struct http_req *req, bool domain_api)
{
	struct pw w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	w.domain_api = domain_api;
	w.id = http_req_param(req, domain_api ? "domain_id" : "project_id");
	rc = identity_json_write(req, project_delete_fn, &w);
	identity_revs_done(identity_of(req), &w.revs, rc == 0);
	if (rc == 0)
		log_info("identity: %s %s deleted", domain_api ? "domain" :
		    "project", w.id);
	return rc;
}

int
identity_admin_domain_delete(struct http_req *req, struct http_resp *resp)
{
	return delete_project(req, true);
}

/* ---- projects ----------------------------------------------------------- */

static int
list_project(const void *obj, void *arg)
{
	const struct rec_project *p = obj;
	struct list *l = arg;

	if (p->is_domain != (l->is_domain == 1) ||
	    !eq_or_unset(l->name, p->name) ||
	    !eq_or_unset(l->domain_id, p->is_domain ? NULL : p->domain_id) ||
	    !eq_or_unset(l->parent_id, p->is_domain ? NULL : p->parent_id) ||
	    (l->enabled >= 0 && p->enabled != (l->enabled == 1)))
		return 0;
	return json_array_append_new(l->items, project_json(l->req, p)) == 0 ?
	    0 : nomem();
}

int
identity_admin_project_list(struct http_req *req, struct http_resp *resp)
{
	struct list l = { .enabled = query_bool(req, "enabled"),
	    .is_domain = query_bool(req, "is_domain") };

	/* Keystone lists the projects that are not domains by default. */
	if (l.is_domain < 0)
		l.is_domain = 0;
	l.name = http_req_query(req, "name");
	l.domain_id = http_req_query(req, "domain_id");
	l.parent_id = http_req_query(req, "parent_id");
	return run_list(req, resp, &l, &schema_rec_project, list_project,
	    "projects");
}

int
identity_admin_project_get(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "project_id");
	struct store_txn *txn = NULL;
	struct rec_project p;
	struct request_target t;
	json_t *o = NULL;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_project_get(txn, id, &p);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	memset(&t, 0, sizeof(t));
	rc = request_target_add(&t, "target.project.id", p.id);
	if (rc == 0 && p.domain_id != NULL)
		rc = request_target_add(&t, "target.project.domain_id",
		    p.domain_id);
	if (rc == 0)
		rc = request_enforce_owned(req, "identity:get_project", &t, p.id,
		    "project", id);
	if (rc == 0 && (o = project_json(req, &p)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_project, &p);
	return rc == 0 ? respond(resp, 0, "project", o) : -1;
}

/* Depth of p's ancestry below its domain (a root project is 1). */
static int
project_depth(struct store_txn *txn, const char *parent_id, int *depth)
{
	struct rec_project p;
	char id[IDSTORE_ID_BUFSZ];

	*depth = 1;
	snprintf(id, sizeof(id), "%s", parent_id);
	while (*depth <= IDSTORE_MAX_TREE_DEPTH + 1) {
		if (idstore_project_get(txn, id, &p) == -1)
			return -1;
		if (p.is_domain) {
			codec_clear(&schema_rec_project, &p);
			return 0;
		}
		(*depth)++;
		snprintf(id, sizeof(id), "%s", p.parent_id ? p.parent_id : "");
		codec_clear(&schema_rec_project, &p);
	}
	return 0;
}

static int
project_create_fn(struct store_txn *txn, void *arg)
{
	struct pw *w = arg;
	struct rec_project d, parent;
	int depth, rc = -1;

	memset(&parent, 0, sizeof(parent));
	if (w->p.parent_id != NULL) {
		if (idstore_project_get(txn, w->p.parent_id, &parent) == -1)
			return -1;
		if (w->p.domain_id == NULL && setstr(&w->p.domain_id,
		    parent.is_domain ? parent.id : parent.domain_id) == -1)
			goto out;
	}
	if (w->p.domain_id == NULL &&
	    setstr(&w->p.domain_id, caller_domain(w->req)) == -1)
		goto out;
	if (idstore_domain_get(txn, w->p.domain_id, &d) == -1)
		goto out;
	codec_clear(&schema_rec_project, &d);
	if (w->p.parent_id == NULL) {
		if (setstr(&w->p.parent_id, w->p.domain_id) == -1)
			goto out;
	} else if (strcmp(parent.is_domain ? parent.id : parent.domain_id,
	    w->p.domain_id) != 0) {
		err_set(TS_EINVALID, "Cannot create a project in a domain other "
		    "than its parent's.");
		goto out;
	}
	if (project_depth(txn, w->p.parent_id, &depth) == -1)
		goto out;
	if (depth > IDSTORE_MAX_TREE_DEPTH) {
		err_set(TS_EFORBIDDEN, "Max hierarchy depth reached for %s "
		    "branch.", w->p.parent_id);
		goto out;
	}
	if (idstore_project_put(txn, &w->p, NULL) == -1)
		goto out;
	if ((w->out = project_json(w->req, &w->p)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_project, &parent);
	return rc;
}

int
identity_admin_project_create(struct http_req *req, struct http_resp *resp)
{
	struct pw w;
	char id[TOKEN_ID_BUFSZ];
	const char *dom = NULL, *parent = NULL;
	bool isd = false;
	json_t *o;
	int rc;

	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "project",
	    &o) == -1 ||
	    jsonreq_bool(JSONREQ_KEYSTONE, o, "is_domain", 0, &isd,
	    NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "domain_id", 1, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &dom, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "parent_id", 1, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &parent, NULL) == -1)
		return -1;
	if (isd) {
		if (dom != NULL || parent != NULL) {
			err_set(TS_EINVALID, "A project acting as a domain has "
			    "neither domain_id nor parent_id.");
			return -1;
		}
		return create_domain(req, resp, o, false);
	}
	memset(&w, 0, sizeof(w));
	w.req = req;
	w.p.enabled = true;
	w.p.created_at = w.p.updated_at = db_now_ms();
	idstore_id_new(id);
	rc = project_common(o, &w.p, true);
	if (rc == 0)
		rc = setstr(&w.p.id, id);
	if (rc == 0)
		rc = setstr(&w.p.domain_id, dom);
	if (rc == 0)
		rc = setstr(&w.p.parent_id, parent);
	if (rc == 0)
		rc = identity_json_write(req, project_create_fn, &w);
	codec_clear(&schema_rec_project, &w.p);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 201, "project", w.out);
}

int
identity_admin_project_update(struct http_req *req, struct http_resp *resp)
{
	return update_project(req, resp, false);
}

int
identity_admin_project_delete(struct http_req *req, struct http_resp *resp)
{
	return delete_project(req, false);
}

/* ---- users -------------------------------------------------------------- */

static int
list_user(const void *obj, void *arg)
{
	const struct rec_user *u = obj;
	struct list *l = arg;

	if (!eq_or_unset(l->name, u->name) ||
	    !eq_or_unset(l->domain_id, u->domain_id) ||
	    (l->enabled >= 0 && u->enabled != (l->enabled == 1)))
		return 0;
	return json_array_append_new(l->items, user_json(l->req, u)) == 0 ?
	    0 : nomem();
}

int
identity_admin_user_list(struct http_req *req, struct http_resp *resp)
{
	struct list l = { .enabled = query_bool(req, "enabled") };

	l.name = http_req_query(req, "name");
	l.domain_id = http_req_query(req, "domain_id");
	return run_list(req, resp, &l, &schema_rec_user, list_user, "users");
}

int
identity_admin_user_get(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct rec_user u;
	json_t *o = NULL;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_user_get(txn, http_req_param(req, "user_id"), &u);
	if (rc == 0 && (o = user_json(req, &u)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_user, &u);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, "user", o) : -1;
}

static const char *const user_known[] = {
	"id", "name", "domain_id", "default_project_id", "enabled",
	"password", "options", "links", "password_expires_at", NULL
};

struct uw {
	struct http_req		*req;
	json_t			*body;
	const char		*id;
	struct rec_user		 u;	/* create: the new record */
	char			 hash[PASSWORD_HASH_BUFSZ];
	bool			 has_password;
	const char		*old_hash;	/* password change */
	json_t			*out;
	struct identity_revs	 revs;
};

/* Hash the body's password (on this worker thread), if it has one. A
 * JSON null password removes it. */
static int
body_password(struct http_req *req, json_t *o, struct uw *w, const char *field)
{
	struct identity *id = identity_of(req);
	const char *pw = NULL;

	if (jsonreq_str(JSONREQ_KEYSTONE, o, field, 0, PASSWORD_MAX_LEN,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &pw, &w->has_password) == -1)
		return -1;
	w->hash[0] = '\0';
	if (pw == NULL)
		return 0;
	if (compliance_check_text(identity_compliance(id), pw) == -1)
		return -1;
	return password_hash(pw, identity_pw_opslimit(id),
	    identity_pw_memlimit(id), w->hash);
}

/*
 * Keystone's boolean user options onto *bits: true sets, false or null
 * clears (Keystone drops an option set to null). Options tinystack does
 * not implement are accepted and ignored, as before.
 */
static int
user_options(json_t *opts, uint32_t *bits)
{
	json_t *v;
	size_t i;

	if (opts == NULL)
		return 0;
	if (!json_is_object(opts)) {
		err_set(TS_EINVALID, "Invalid input for field 'options'.");
		return -1;
	}
	for (i = 0; compliance_option_names[i] != NULL; i++) {
		if ((v = json_object_get(opts, compliance_option_names[i])) ==
		    NULL)
			continue;
		if (!json_is_boolean(v) && !json_is_null(v)) {
			err_set(TS_EINVALID, "Invalid input for field "
			    "'options/%s': not a boolean.",
			    compliance_option_names[i]);
			return -1;
		}
		if (json_is_true(v))
			*bits |= 1u << i;
		else
			*bits &= ~(1u << i);
	}
	return 0;
}

/* Fields of a user body onto u (create or update). */
static int
user_fields(json_t *o, struct rec_user *u, bool create)
{
	const char *name = NULL, *dp = NULL;
	bool has_dp;
	char *extra = NULL;

	if (jsonreq_str(JSONREQ_KEYSTONE, o, "name", 1, 255, JSONREQ_BYTES |
	    (create ? JSONREQ_REQUIRED : 0) |
	    JSONREQ_NONBLANK, &name, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "default_project_id", 1, 64,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &dp, &has_dp) == -1 ||
	    jsonreq_bool(JSONREQ_KEYSTONE, o, "enabled", 0, &u->enabled,
	    NULL) == -1)
		return -1;
	if (user_options(json_object_get(o, "options"), &u->options) == -1)
		return -1;
	if ((name != NULL && setstr(&u->name, name) == -1) ||
	    (has_dp && setstr(&u->default_project_id, dp) == -1))
		return -1;
	if (identity_json_extra(o, user_known, u->extra, &extra) == -1)
		return -1;
	free(u->extra);
	u->extra = extra;
	return 0;
}

static int
user_create_fn(struct store_txn *txn, void *arg)
{
	struct uw *w = arg;
	struct rec_project d;

	if (idstore_domain_get(txn, w->u.domain_id, &d) == -1)
		return -1;
	codec_clear(&schema_rec_project, &d);
	if (idstore_user_put(txn, &w->u, NULL) == -1)
		return -1;
	if ((w->out = user_json(w->req, &w->u)) == NULL)
		return nomem();
	return 0;
}

int
identity_admin_user_create(struct http_req *req, struct http_resp *resp)
{
	struct uw w;
	char id[TOKEN_ID_BUFSZ];
	const char *dom = NULL;
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "user",
	    &o) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "domain_id", 1, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &dom, NULL) == -1)
		return -1;
	w.u.enabled = true;
	w.u.created_at = w.u.updated_at = w.u.password_changed_at =
	    db_now_ms();
	idstore_id_new(id);
	rc = user_fields(o, &w.u, true);
	if (rc == 0)
		rc = setstr(&w.u.id, id);
	if (rc == 0)
		rc = setstr(&w.u.domain_id, dom ? dom : caller_domain(req));
	if (rc == 0)
		rc = body_password(req, o, &w, "password");
	if (rc == 0 && w.hash[0] != '\0')
		rc = compliance_set_password(identity_compliance(identity_of(req)),
		    &w.u, w.hash, false, w.u.created_at);
	if (rc == 0)
		rc = identity_json_write(req, user_create_fn, &w);
	explicit_bzero(w.hash, sizeof(w.hash));
	codec_clear(&schema_rec_user, &w.u);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 201, "user", w.out);
}

static int
user_update_fn(struct store_txn *txn, void *arg)
{
	struct uw *w = arg;
	struct rec_user u, old;
	const char *dom = NULL;
	bool present, was_enabled;
	int64_t now = db_now_ms();
	int rc = -1;

	memset(&old, 0, sizeof(old));
	if (idstore_user_get(txn, w->id, &u) == -1)
		return -1;
	if (idstore_user_get(txn, w->id, &old) == -1)
		goto out;
	was_enabled = u.enabled;
	if (jsonreq_str(JSONREQ_KEYSTONE, w->body, "domain_id", 0, 64,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &dom, &present) == -1)
		goto out;
	if (present && !eq_or_unset(dom, u.domain_id)) {
		err_set(TS_EINVALID, "Cannot change the domain of a user.");
		goto out;
	}
	if (user_fields(w->body, &u, false) == -1)
		goto out;
	/* An administrator's reset: no history or age check, and with
	 * change_password_upon_first_use the password is expired at once. */
	if (w->has_password && compliance_set_password(
	    identity_compliance(identity_of(w->req)), &u,
	    w->hash[0] ? w->hash : NULL, false, now) == -1)
		goto out;
	/* Enabling a user is how an administrator ends a lockout (Keystone's
	 * documented way). */
	if (json_is_true(json_object_get(w->body, "enabled")))
		compliance_success(&u);
	u.updated_at = now;
	if (idstore_user_put(txn, &u, &old) == -1)
		goto out;
	if ((w->has_password || (was_enabled && !u.enabled)) &&
	    identity_revs_user(&w->revs, txn, u.id, now) == -1)
		goto out;
	if ((w->out = user_json(w->req, &u)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_user, &u);
	codec_clear(&schema_rec_user, &old);
	return rc;
}

int
identity_admin_user_update(struct http_req *req, struct http_resp *resp)
{
	struct uw w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "user",
	    &w.body) == -1 ||
	    body_password(req, w.body, &w, "password") == -1)
		return -1;
	w.id = http_req_param(req, "user_id");
	rc = identity_json_write(req, user_update_fn, &w);
	explicit_bzero(w.hash, sizeof(w.hash));
	identity_revs_done(identity_of(req), &w.revs, rc == 0);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	if (w.has_password)
		log_info("identity: password of user %s changed", w.id);
	return respond(resp, 0, "user", w.out);
}

int
identity_admin_user_delete(struct http_req *req, struct http_resp *resp)
{
	return delete_revoking(req, "user_id", delete_user_rec);
}

static int
password_change_fn(struct store_txn *txn, void *arg)
{
	struct uw *w = arg;
	struct rec_user u, old;
	int64_t now = db_now_ms();
	int rc = -1;

	memset(&old, 0, sizeof(old));
	if (idstore_user_get(txn, w->id, &u) == -1)
		return -1;
	if (u.password_hash == NULL || strcmp(u.password_hash,
	    w->old_hash) != 0) {
		err_set(TS_ECONFLICT, "The password changed meanwhile.");
		goto out;
	}
	if (idstore_user_get(txn, w->id, &old) == -1 ||
	    compliance_set_password(identity_compliance(identity_of(w->req)),
	    &u, w->hash, true, now) == -1)
		goto out;
	u.updated_at = now;
	if (idstore_user_put(txn, &u, &old) == -1 ||
	    identity_revs_user(&w->revs, txn, u.id, now) == -1)
		goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_user, &u);
	codec_clear(&schema_rec_user, &old);
	return rc;
}

int
identity_admin_user_password(struct http_req *req, struct http_resp *resp)
{
	struct identity *id = identity_of(req);
	const struct compliance *comp = identity_compliance(id);
	struct store_txn *txn = NULL;
	struct rec_user u;
	struct uw w;
	const char *orig = NULL, *newpw = NULL;
	bool wrong;
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	memset(&u, 0, sizeof(u));
	w.req = req;
	w.id = http_req_param(req, "user_id");
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "user",
	    &o) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "original_password", 0,
	    PASSWORD_MAX_LEN,
	    JSONREQ_BYTES | JSONREQ_REQUIRED, &orig, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "password", 0, PASSWORD_MAX_LEN,
	    JSONREQ_BYTES | JSONREQ_REQUIRED, &newpw, NULL) == -1)
		return -1;
	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_user_get(txn, w.id, &u);
	store_txn_end(&txn);
	if (rc == -1 && err_code() == TS_ENOT_FOUND) {
		/* Without a token anyone may call this: an unknown user is the
		 * same 401, after the same work, as a wrong password. */
		password_verify_nouser(orig, identity_pw_opslimit(id),
		    identity_pw_memlimit(id));
		err_set(TS_EUNAUTHORIZED, "Error when changing user password: "
		    "the original password is wrong.");
	}
	if (rc == -1)
		return -1;
	/*
	 * Keystone's order: the original password as a login checks it
	 * (lockout first, a wrong one counted; an expired one may still be
	 * changed), then the new one's text, the self-service rules and the
	 * history. Verify and hash here, on the worker thread, outside the
	 * write.
	 */
	rc = identity_password_check(id, &u, orig, &wrong);
	if (rc == -1 && wrong)
		err_set(TS_EUNAUTHORIZED, "Error when changing user password: "
		    "the original password is wrong.");
	if (rc == 0)
		rc = compliance_check_text(comp, newpw);
	if (rc == 0)
		rc = compliance_check_self_change(comp, &u, db_now_ms());
	if (rc == 0)
		rc = compliance_check_history(comp, &u, newpw);
	if (rc == 0)
		rc = body_password(req, o, &w, "password");
	if (rc == 0) {
		w.old_hash = u.password_hash;
		rc = identity_json_write(req, password_change_fn, &w);
	}
	explicit_bzero(w.hash, sizeof(w.hash));
	identity_revs_done(id, &w.revs, rc == 0);
	codec_clear(&schema_rec_user, &u);
	if (rc == 0)
		log_info("identity: user %s changed its password", w.id);
	return rc == 0 ? http_resp_status(resp, 204) : -1;
}

/* Projects (or domains) user_id holds a role on. */
struct uproj {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*items;
	json_t			*seen;
	bool			 enabled_only;
	bool			 v2;
	enum idstore_target	 tt;
};

static int
uproj_cb(const struct rec_assignment *a, void *arg)
{
	struct uproj *up = arg;
	struct rec_project p, d;
	json_t *o;
	int rc = 0;

	if (json_object_get(up->seen, a->target_id) != NULL)
		return 0;
	if (json_object_set_new(up->seen, a->target_id, json_true()) == -1)
		return nomem();
	if (idstore_project_get(up->txn, a->target_id, &p) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	memset(&d, 0, sizeof(d));
	if (up->enabled_only && (!p.enabled || (!p.is_domain &&
	    (idstore_domain_get(up->txn, p.domain_id, &d) == -1 ||
	    !d.enabled))))
		goto out;
	if (up->v2)
		o = json_pack("{s:s, s:s, s:s, s:b}", "id", p.id, "name",
		    p.name, "description", p.description ? p.description : "",
		    "enabled", p.enabled);
	else
		o = p.is_domain ? domain_json(up->req, &p) :
		    project_json(up->req, &p);
	if (json_array_append_new(up->items, o) == -1)
		rc = nomem();
out:
	err_clear();
	codec_clear(&schema_rec_project, &p);
	codec_clear(&schema_rec_project, &d);
	return rc;
}

/* The targets granted to one of the user's groups count too. */
static int
uproj_group(const char *group_id, void *arg)
{
	struct uproj *up = arg;
	struct idstore_filter f = { .group_id = group_id,
	    .has_target_type = true, .target_type = up->tt };

	return idstore_assignment_each(up->txn, &f, uproj_cb, up);
}

static int
user_targets(struct http_req *req, struct http_resp *resp,
    const char *user_id, enum idstore_target tt, bool enabled_only,
    bool v2)
{
	struct idstore_filter f = { .user_id = user_id,
	    .has_target_type = true, .target_type = tt };
	struct uproj up = { req, NULL, json_array(), json_object(),
	    enabled_only, v2, tt };
	int rc;

	if (up.items == NULL || up.seen == NULL) {
		rc = nomem();
		goto out;
	}
	if ((rc = identity_json_read(req, &up.txn)) == -1)
		goto out;
	rc = idstore_assignment_each(up.txn, &f, uproj_cb, &up);
	if (rc == 0)
		rc = idstore_user_groups_each(up.txn, user_id, uproj_group,
		    &up);
	store_txn_end(&up.txn);
	if (rc == -1)
		goto out;
	json_decref(up.seen);
	if (v2)
		return http_resp_json(resp, 0, json_pack("{s:o, s:[]}",
		    "tenants", up.items, "tenants_links"));
	return http_resp_json(resp, 0, identity_json_list(req, tt == IDSTORE_DOMAIN ?
	    "domains" : "projects", up.items));
out:
	json_decref(up.items);
	json_decref(up.seen);
	return -1;
}

int
identity_admin_user_projects(struct http_req *req, struct http_resp *resp)
{
	const char *uid = http_req_param(req, "user_id");
	struct store_txn *txn = NULL;
	struct rec_user u;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_user_get(txn, uid, &u);
	codec_clear(&schema_rec_user, &u);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	return user_targets(req, resp, uid, IDSTORE_PROJECT, false, false);
}

int
identity_admin_auth_projects(struct http_req *req, struct http_resp *resp)
{
	return user_targets(req, resp, request_ctx_of(req)->user_id,
	    IDSTORE_PROJECT, true, false);
}

int
identity_admin_auth_domains(struct http_req *req, struct http_resp *resp)
{
	return user_targets(req, resp, request_ctx_of(req)->user_id,
	    IDSTORE_DOMAIN, true, false);
}

int
identity_admin_v2_tenants(struct http_req *req, struct http_resp *resp)
{
	return user_targets(req, resp, request_ctx_of(req)->user_id,
	    IDSTORE_PROJECT, true, true);
}

/* ---- roles -------------------------------------------------------------- */

static int
list_role(const void *obj, void *arg)
{
	const struct rec_role *r = obj;
	struct list *l = arg;

	/* Keystone lists global roles unless asked for a domain's. */
	if (!eq_or_unset(l->name, r->name) ||
	    (l->domain_id == NULL ? r->domain_id != NULL :
	    !eq_or_unset(l->domain_id, r->domain_id)))
		return 0;
	return json_array_append_new(l->items,
	    identity_assign_role_json(l->req, r)) == 0 ? 0 : nomem();
}

int
identity_admin_role_list(struct http_req *req, struct http_resp *resp)
{
	struct list l = { .enabled = -1 };

	l.name = http_req_query(req, "name");
	l.domain_id = http_req_query(req, "domain_id");
	return run_list(req, resp, &l, &schema_rec_role, list_role, "roles");
}

int
identity_admin_role_get(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct rec_role r;
	json_t *o = NULL;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_role_get(txn, http_req_param(req, "role_id"), &r);
	if (rc == 0 && (o = identity_assign_role_json(req, &r)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_role, &r);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, "role", o) : -1;
}

static const char *const role_known[] = {
	"id", "name", "domain_id", "description", "options", "links", NULL
};

struct rw {
	struct http_req		*req;
	json_t			*body;
	const char		*id;
	struct rec_role		 r;
	json_t			*out;
};

static int
role_fields(json_t *o, struct rec_role *r, bool create)
{
	const char *name = NULL, *desc = NULL;
	bool has_desc;
	char *extra = NULL;

	if (jsonreq_str(JSONREQ_KEYSTONE, o, "name", 1, 255, JSONREQ_BYTES |
	    (create ? JSONREQ_REQUIRED : 0) |
	    JSONREQ_NONBLANK, &name, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "description", 0, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &desc, &has_desc) == -1)
		return -1;
	if ((name != NULL && setstr(&r->name, name) == -1) ||
	    (has_desc && setstr(&r->description, desc) == -1))
		return -1;
	if (identity_json_extra(o, role_known, r->extra, &extra) == -1)
		return -1;
	free(r->extra);
	r->extra = extra;
	return 0;
}

static int
role_create_fn(struct store_txn *txn, void *arg)
{
	struct rw *w = arg;
	struct rec_project d;

	if (w->r.domain_id != NULL) {
		if (idstore_domain_get(txn, w->r.domain_id, &d) == -1)
			return -1;
		codec_clear(&schema_rec_project, &d);
	}
	if (idstore_role_put(txn, &w->r, NULL) == -1)
		return -1;
	if ((w->out = identity_assign_role_json(w->req, &w->r)) == NULL)
		return nomem();
	return 0;
}

int
identity_admin_role_create(struct http_req *req, struct http_resp *resp)
{
	struct rw w;
	char id[TOKEN_ID_BUFSZ];
	const char *dom = NULL;
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "role",
	    &o) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "domain_id", 1, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &dom, NULL) == -1)
		return -1;
	idstore_id_new(id);
	w.r.created_at = db_now_ms();
	rc = role_fields(o, &w.r, true);
	if (rc == 0)
		rc = setstr(&w.r.id, id);
	if (rc == 0)
		rc = setstr(&w.r.domain_id, dom);
	if (rc == 0)
		rc = identity_json_write(req, role_create_fn, &w);
	codec_clear(&schema_rec_role, &w.r);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 201, "role", w.out);
}

static int
role_update_fn(struct store_txn *txn, void *arg)
{
	struct rw *w = arg;
	struct rec_role r, old;
	int rc = -1;

	memset(&old, 0, sizeof(old));
	if (idstore_role_get(txn, w->id, &r) == -1)
		return -1;
	if (idstore_role_get(txn, w->id, &old) == -1 ||
	    role_fields(w->body, &r, false) == -1 ||
	    idstore_role_put(txn, &r, &old) == -1)
		goto out;
	if ((w->out = identity_assign_role_json(w->req, &r)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_role, &r);
	codec_clear(&schema_rec_role, &old);
	return rc;
}

int
identity_admin_role_update(struct http_req *req, struct http_resp *resp)
{
	struct rw w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "role",
	    &w.body) == -1)
		return -1;
	w.id = http_req_param(req, "role_id");
	rc = identity_json_write(req, role_update_fn, &w);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 0, "role", w.out);
}

int
identity_admin_role_delete(struct http_req *req, struct http_resp *resp)
{
	return delete_revoking(req, "role_id", delete_role_rec);
}
