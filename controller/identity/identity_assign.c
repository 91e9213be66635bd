/*
 * identity_assign: who holds which role where. Grants of roles to users
 * and groups on projects, domains and the system; /v3/role_assignments
 * (with Keystone's `effective`: groups expanded to their members, implied
 * roles added, domain-specific roles left out); groups and their members;
 * implied-role rules. See identity.h for the rules every handler follows.
 *
 * Removing anything a token's roles came from (a grant, a membership, a
 * group, a role) persists revocation events for the (user, target) pairs
 * it affected, in the same write transaction: the tokens end at once even
 * though roles are also looked up at every validation.
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

static int
nomem(void)
{
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static int
respond(struct http_resp *resp, int status, const char *key, json_t *obj)
{
	if (obj == NULL)
		return nomem();
	return http_resp_json(resp, status, json_pack("{s:o}", key, obj));
}

json_t *
identity_assign_role_json(struct http_req *req, const struct rec_role *r)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:o, s:o, s:{}, s:{s:o}}",
	    "id", r->id, "name", r->name,
	    "domain_id", identity_json_str_or_null(r->domain_id),
	    "description", identity_json_str_or_null(r->description), "options",
	    "links", "self", identity_json_url(req, "/v3/roles/%s", r->id));
	if (o != NULL)
		identity_json_merge_extra(o, r->extra);
	return o;
}

/* ---- revocations of an assignment --------------------------------------- */

struct rev_member {
	struct identity_revs		*revs;
	struct store_txn		*txn;
	const struct rec_assignment	*a;
	int64_t				 now;
};

static int
rev_user(struct identity_revs *revs, struct store_txn *txn,
    const char *user_id, const struct rec_assignment *a, int64_t now)
{
	if (strcmp(a->target_type, "system") == 0)
		return identity_revs_user(revs, txn, user_id, now);
	return identity_revs_user_project(revs, txn, user_id, a->target_id,
	    now);
}

static int
rev_member_cb(const char *user_id, void *arg)
{
	struct rev_member *rm = arg;

	return rev_user(rm->revs, rm->txn, user_id, rm->a, rm->now);
}

int
identity_assign_revs_assignment(struct identity_revs *revs, struct store_txn *txn,
    const struct rec_assignment *a, int64_t now)
{
	struct rev_member rm = { revs, txn, a, now };

	if (a->actor_type != NULL && strcmp(a->actor_type, "group") == 0)
		return idstore_group_users_each(txn, a->actor_id, rev_member_cb,
		    &rm);
	return rev_user(revs, txn, a->actor_id, a, now);
}

struct rev_each {
	struct identity_revs	*revs;
	struct store_txn	*txn;
	int64_t			 now;
	const char		*only_user;	/* a membership going away */
};

static int
rev_each_cb(const struct rec_assignment *a, void *arg)
{
	struct rev_each *re = arg;

	if (re->only_user != NULL)
		return rev_user(re->revs, re->txn, re->only_user, a, re->now);
	return identity_assign_revs_assignment(re->revs, re->txn, a, re->now);
}

int
identity_assign_revs_matching(struct identity_revs *revs, struct store_txn *txn,
    const struct idstore_filter *f, int64_t now)
{
	struct rev_each re = { revs, txn, now, NULL };

	return idstore_assignment_each(txn, f, rev_each_cb, &re);
}

/* ---- grants ------------------------------------------------------------- */

struct gw {
	enum idstore_actor	 at;
	const char		*actor;
	enum idstore_target	 tt;
	const char		*target;
	const char		*role;
	struct identity_revs	 revs;
};

/* The grant route's target, actor and role from the URL. */
static void
grant_args(struct http_req *req, struct gw *g)
{
	memset(g, 0, sizeof(*g));
	if ((g->target = http_req_param(req, "project_id")) != NULL)
		g->tt = IDSTORE_PROJECT;
	else if ((g->target = http_req_param(req, "domain_id")) != NULL)
		g->tt = IDSTORE_DOMAIN;
	else {
		g->tt = IDSTORE_SYSTEM;
		g->target = "all";
	}
	if ((g->actor = http_req_param(req, "group_id")) != NULL)
		g->at = IDSTORE_GROUP;
	else {
		g->at = IDSTORE_USER;
		g->actor = http_req_param(req, "user_id");
	}
	g->role = http_req_param(req, "role_id");
}

/* Target, actor and (if named) role exist: 404 otherwise. */
static int
grant_refs(struct store_txn *txn, const struct gw *g)
{
	struct rec_project p;
	struct rec_user u;
	struct rec_group gr;
	struct rec_role r;

	if (g->tt == IDSTORE_PROJECT) {
		if (idstore_project_get(txn, g->target, &p) == -1)
			return -1;
		codec_clear(&schema_rec_project, &p);
	} else if (g->tt == IDSTORE_DOMAIN) {
		if (idstore_domain_get(txn, g->target, &p) == -1)
			return -1;
		codec_clear(&schema_rec_project, &p);
	}
	if (g->at == IDSTORE_GROUP) {
		if (idstore_group_get(txn, g->actor, &gr) == -1)
			return -1;
		codec_clear(&schema_rec_group, &gr);
	} else {
		if (idstore_user_get(txn, g->actor, &u) == -1)
			return -1;
		codec_clear(&schema_rec_user, &u);
	}
	if (g->role != NULL) {
		if (idstore_role_get(txn, g->role, &r) == -1)
			return -1;
		codec_clear(&schema_rec_role, &r);
	}
	return 0;
}

static int
grant_put_fn(struct store_txn *txn, void *arg)
{
	struct gw *g = arg;

	if (grant_refs(txn, g) == -1)
		return -1;
	return idstore_grant(txn, g->at, g->actor, g->tt, g->target, g->role,
	    db_now_ms());
}

int
identity_assign_grant_put(struct http_req *req, struct http_resp *resp)
{
	struct gw g;

	grant_args(req, &g);
	if (identity_json_write(req, grant_put_fn, &g) == -1)
		return -1;
	log_info("identity: role %s granted to %s %s on %s %s", g.role,
	    idstore_actor_name(g.at), g.actor, idstore_target_name(g.tt),
	    g.target);
	return 0;
}

int
identity_assign_grant_check(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct gw g;
	int rc;

	grant_args(req, &g);
	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = grant_refs(txn, &g);
	if (rc == 0)
		rc = idstore_grant_check(txn, g.at, g.actor, g.tt, g.target,
		    g.role);
	store_txn_end(&txn);
	return rc;
}

static int
grant_del_fn(struct store_txn *txn, void *arg)
{
	struct gw *g = arg;
	struct rec_assignment a = { 0 };

	if (grant_refs(txn, g) == -1 || idstore_grant_check(txn, g->at,
	    g->actor, g->tt, g->target, g->role) == -1)
		return -1;
	a.actor_id = (char *)g->actor;
	a.actor_type = (char *)idstore_actor_name(g->at);
	a.target_type = (char *)idstore_target_name(g->tt);
	a.target_id = (char *)g->target;
	a.role_id = (char *)g->role;
	/* Roles are looked up at validation, but a removed role also ends
	 * the tokens it was issued under, as Keystone does. */
	if (identity_assign_revs_assignment(&g->revs, txn, &a, db_now_ms()) == -1)
		return -1;
	return idstore_grant_del(txn, g->at, g->actor, g->tt, g->target,
	    g->role);
}

int
identity_assign_grant_delete(struct http_req *req, struct http_resp *resp)
{
	struct gw g;
	int rc;

	grant_args(req, &g);
	rc = identity_json_write(req, grant_del_fn, &g);
	identity_revs_done(identity_of(req), &g.revs, rc == 0);
	if (rc == 0)
		log_info("identity: role %s removed from %s %s on %s %s",
		    g.role, idstore_actor_name(g.at), g.actor,
		    idstore_target_name(g.tt), g.target);
	return rc;
}

struct glist {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*items;
};

static int
glist_cb(const struct rec_assignment *a, void *arg)
{
	struct glist *gl = arg;
	struct rec_role r;
	int rc;

	if (idstore_role_get(gl->txn, a->role_id, &r) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	rc = json_array_append_new(gl->items, identity_assign_role_json(gl->req,
	    &r)) == 0 ? 0 : nomem();
	codec_clear(&schema_rec_role, &r);
	return rc;
}

int
identity_assign_grant_list(struct http_req *req, struct http_resp *resp)
{
	struct idstore_filter f = { .has_target_type = true };
	struct glist gl = { req, NULL, json_array() };
	struct gw g;
	int rc;

	grant_args(req, &g);
	if (g.at == IDSTORE_GROUP)
		f.group_id = g.actor;
	else
		f.user_id = g.actor;
	f.target_type = g.tt;
	f.target_id = g.target;
	if (gl.items == NULL)
		return nomem();
	if (identity_json_read(req, &gl.txn) == -1) {
		json_decref(gl.items);
		return -1;
	}
	rc = grant_refs(gl.txn, &g);
	if (rc == 0)
		rc = idstore_assignment_each(gl.txn, &f, glist_cb, &gl);
	store_txn_end(&gl.txn);
	if (rc == -1) {
		json_decref(gl.items);
		return -1;
	}
	return http_resp_json(resp, 0, identity_json_list(req, "roles", gl.items));
}

/* ---- /v3/role_assignments ----------------------------------------------- */

struct ra {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*items;
	json_t			*seen;		/* effective: dedup keys */
	bool			 names;
	bool			 effective;
	const char		*user_filter;	/* effective: members kept */
	const char		*role_filter;	/* effective: applied last */
};

/* {"id", "name", "domain": {"id", "name"}}; with names off, {"id"}. A
 * vanished record keeps its id only. */
static json_t *
named_ref(struct ra *ra, const char *id, const char *name,
    const char *domain_id)
{
	struct rec_project d;
	json_t *o = json_pack("{s:s}", "id", id);

	if (o == NULL || !ra->names || name == NULL)
		return o;
	json_object_set_new(o, "name", json_string(name));
	if (domain_id != NULL) {
		if (idstore_project_get(ra->txn, domain_id, &d) == 0)
			json_object_set_new(o, "domain", json_pack(
			    "{s:s, s:s}", "id", d.id, "name", d.name));
		codec_clear(&schema_rec_project, &d);
		err_clear();
	}
	return o;
}

static json_t *
actor_ref(struct ra *ra, enum idstore_actor at, const char *id)
{
	struct rec_user u;
	struct rec_group g;
	json_t *o;

	if (at == IDSTORE_GROUP) {
		if (idstore_group_get(ra->txn, id, &g) == -1) {
			err_clear();
			return named_ref(ra, id, NULL, NULL);
		}
		o = named_ref(ra, id, g.name, g.domain_id);
		codec_clear(&schema_rec_group, &g);
		return o;
	}
	if (idstore_user_get(ra->txn, id, &u) == -1) {
		err_clear();
		return named_ref(ra, id, NULL, NULL);
	}
	o = named_ref(ra, id, u.name, u.domain_id);
	codec_clear(&schema_rec_user, &u);
	return o;
}

/* The role reference, or NULL (no error) when effective listings must
 * leave the role out (domain-specific, or gone). */
static json_t *
role_ref(struct ra *ra, const char *role_id, bool *skip)
{
	struct rec_role r;
	json_t *o;

	*skip = false;
	if (idstore_role_get(ra->txn, role_id, &r) == -1) {
		err_clear();
		*skip = ra->effective;
		return named_ref(ra, role_id, NULL, NULL);
	}
	*skip = ra->effective && r.domain_id != NULL;
	o = named_ref(ra, role_id, r.name, r.domain_id);
	codec_clear(&schema_rec_role, &r);
	return o;
}

static json_t *
scope_json(struct ra *ra, const struct rec_assignment *a)
{
	struct rec_project p;
	json_t *o;
	bool hp;

	if (strcmp(a->target_type, "system") == 0)
		return json_pack("{s:{s:b}}", "system", "all", 1);
	hp = idstore_project_get(ra->txn, a->target_id, &p) == 0;
	err_clear();
	if (strcmp(a->target_type, "domain") == 0)
		o = json_pack("{s:o}", "domain", named_ref(ra, a->target_id,
		    hp ? p.name : NULL, NULL));
	else
		o = json_pack("{s:o}", "project", named_ref(ra, a->target_id,
		    hp ? p.name : NULL, hp ? p.domain_id : NULL));
	if (hp)
		codec_clear(&schema_rec_project, &p);
	return o;
}

static json_t *
assignment_link(struct ra *ra, const struct rec_assignment *a)
{
	const char *actors = a->actor_type != NULL &&
	    strcmp(a->actor_type, "group") == 0 ? "groups" : "users";

	if (strcmp(a->target_type, "system") == 0)
		return identity_json_url(ra->req, "/v3/system/%s/%s/roles/%s", actors,
		    a->actor_id, a->role_id);
	return identity_json_url(ra->req, "/v3/%ss/%s/%s/%s/roles/%s",
	    a->target_type, a->target_id, actors, a->actor_id, a->role_id);
}

/*
 * Emit one entry: role role_id for (actor, a's target). via_group and
 * prior_role (may be NULL) add the "membership" and "prior_role" links of
 * Keystone's effective listings.
 */
static int
emit(struct ra *ra, const struct rec_assignment *a, enum idstore_actor at,
    const char *actor, const char *role_id, const char *via_group,
    const char *prior_role)
{
	json_t *o, *links, *role;
	char key[512];
	bool skip;

	if (ra->effective) {
		if (ra->role_filter != NULL &&
		    strcmp(ra->role_filter, role_id) != 0)
			return 0;
		snprintf(key, sizeof(key), "%s/%s/%s/%s", actor,
		    a->target_type, a->target_id, role_id);
		if (json_object_get(ra->seen, key) != NULL)
			return 0;
		if (json_object_set_new(ra->seen, key, json_true()) == -1)
			return nomem();
	}
	if ((role = role_ref(ra, role_id, &skip)) == NULL)
		return nomem();
	if (skip) {
		json_decref(role);
		return 0;
	}
	links = json_pack("{s:o}", "assignment", assignment_link(ra, a));
	if (links != NULL && via_group != NULL)
		json_object_set_new(links, "membership", identity_json_url(ra->req,
		    "/v3/groups/%s/users/%s", via_group, actor));
	if (links != NULL && prior_role != NULL)
		json_object_set_new(links, "prior_role", identity_json_url(ra->req,
		    "/v3/roles/%s", prior_role));
	o = json_pack("{s:o, s:o, s:o, s:o}", "role", role,
	    at == IDSTORE_GROUP ? "group" : "user", actor_ref(ra, at, actor),
	    "scope", scope_json(ra, a), "links", links);
	if (o == NULL || json_array_append_new(ra->items, o) == -1)
		return nomem();
	return 0;
}

/* Effective: the role and every role it implies. */
struct implied_walk {
	struct ra			*ra;
	const struct rec_assignment	*a;
	const char			*user;
	const char			*via_group;
	const char			*prior;
	json_t				*visited;
};

static int walk_implied(struct implied_walk *, const char *role_id);

static int
walk_cb(const struct rec_implied_role *r, void *arg)
{
	struct implied_walk *w = arg;
	struct implied_walk sub = *w;

	sub.prior = r->prior_role_id;
	return walk_implied(&sub, r->implied_role_id);
}

static int
walk_implied(struct implied_walk *w, const char *role_id)
{
	if (json_object_get(w->visited, role_id) != NULL)
		return 0;	/* a cycle of rules */
	if (json_object_set_new(w->visited, role_id, json_true()) == -1)
		return nomem();
	if (emit(w->ra, w->a, IDSTORE_USER, w->user, role_id, w->via_group,
	    w->prior) == -1)
		return -1;
	return idstore_implied_each(w->ra->txn, role_id, walk_cb, w);
}

static int
effective_user(struct ra *ra, const struct rec_assignment *a,
    const char *user, const char *via_group)
{
	struct implied_walk w = { ra, a, user, via_group, NULL, json_object() };
	int rc;

	if (w.visited == NULL)
		return nomem();
	rc = walk_implied(&w, a->role_id);
	json_decref(w.visited);
	return rc;
}

struct members {
	struct ra			*ra;
	const struct rec_assignment	*a;
};

static int
member_cb(const char *user_id, void *arg)
{
	struct members *m = arg;

	if (m->ra->user_filter != NULL &&
	    strcmp(m->ra->user_filter, user_id) != 0)
		return 0;
	return effective_user(m->ra, m->a, user_id, m->a->actor_id);
}

static int
ra_cb(const struct rec_assignment *a, void *arg)
{
	struct ra *ra = arg;
	struct members m = { ra, a };
	bool group = a->actor_type != NULL &&
	    strcmp(a->actor_type, "group") == 0;

	if (!ra->effective)
		return emit(ra, a, group ? IDSTORE_GROUP : IDSTORE_USER,
		    a->actor_id, a->role_id, NULL, NULL);
	if (group)
		return idstore_group_users_each(ra->txn, a->actor_id, member_cb,
		    &m);
	return effective_user(ra, a, a->actor_id, NULL);
}

/* Effective with a user filter: the user's groups' assignments too. */
struct ugroups {
	struct ra			*ra;
	const struct idstore_filter	*f;
};

static int
ugroup_cb(const char *group_id, void *arg)
{
	struct ugroups *ug = arg;
	struct idstore_filter f = *ug->f;

	f.user_id = NULL;
	f.group_id = group_id;
	return idstore_assignment_each(ug->ra->txn, &f, ra_cb, ug->ra);
}

int
identity_assign_role_assignments(struct http_req *req, struct http_resp *resp)
{
	struct idstore_filter f = { 0 };
	struct ra ra = { req, NULL, json_array(), json_object(), false, false,
	    NULL, NULL };
	struct ugroups ug = { &ra, &f };
	const char *proj = http_req_query(req, "scope.project.id");
	const char *dom = http_req_query(req, "scope.domain.id");
	const char *sys = http_req_query(req, "scope.system");
	int rc;

	if (ra.items == NULL || ra.seen == NULL) {
		rc = nomem();
		goto out;
	}
	ra.names = jsonreq_query_bool(JSONREQ_KEYSTONE, http_req_query(req,
	    "include_names"));
	ra.effective = http_req_query(req, "effective") != NULL;
	f.user_id = http_req_query(req, "user.id");
	f.group_id = http_req_query(req, "group.id");
	f.role_id = http_req_query(req, "role.id");
	if ((proj != NULL) + (dom != NULL) + (sys != NULL) > 1) {
		err_set(TS_EINVALID, "Specify one of scope.project.id, "
		    "scope.domain.id and scope.system.");
		rc = -1;
		goto out;
	}
	if (ra.effective && f.group_id != NULL) {
		err_set(TS_EINVALID, "Combining effective and group filter "
		    "will always result in an empty list.");
		rc = -1;
		goto out;
	}
	if (proj != NULL || dom != NULL || sys != NULL) {
		f.has_target_type = true;
		f.target_type = proj ? IDSTORE_PROJECT : dom ? IDSTORE_DOMAIN :
		    IDSTORE_SYSTEM;
		f.target_id = proj ? proj : dom ? dom : "all";
	}
	if (ra.effective) {
		/* Implied roles can match a role filter: filter at the end. */
		ra.role_filter = f.role_id;
		ra.user_filter = f.user_id;
		f.role_id = NULL;
	}
	if ((rc = identity_json_read(req, &ra.txn)) == -1)
		goto out;
	rc = idstore_assignment_each(ra.txn, &f, ra_cb, &ra);
	if (rc == 0 && ra.effective && f.user_id != NULL)
		rc = idstore_user_groups_each(ra.txn, f.user_id, ugroup_cb,
		    &ug);
	store_txn_end(&ra.txn);
out:
	json_decref(ra.seen);
	if (rc == -1) {
		json_decref(ra.items);
		return -1;
	}
	return http_resp_json(resp, 0, identity_json_list(req, "role_assignments",
	    ra.items));
}

/* ---- groups ------------------------------------------------------------- */

static json_t *
group_json(struct http_req *req, const struct rec_group *g)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:{s:o}}", "id", g->id, "name",
	    g->name, "domain_id", g->domain_id, "description",
	    g->description ? g->description : "",
	    "links", "self", identity_json_url(req, "/v3/groups/%s", g->id));
	if (o != NULL)
		identity_json_merge_extra(o, g->extra);
	return o;
}

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

static const char *const group_known[] = {
	"id", "name", "domain_id", "description", "links", NULL
};

static int
group_fields(json_t *o, struct rec_group *g, bool create)
{
	const char *name = NULL, *desc = NULL;
	bool has_desc;
	char *extra = NULL;

	if (jsonreq_str(JSONREQ_KEYSTONE, o, "name", 1, 64, JSONREQ_BYTES |
	    (create ? JSONREQ_REQUIRED : 0) |
	    JSONREQ_NONBLANK, &name, NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "description", 0, 65535,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &desc, &has_desc) == -1)
		return -1;
	if ((name != NULL && setstr(&g->name, name) == -1) ||
	    (has_desc && setstr(&g->description, desc) == -1))
		return -1;
	if (identity_json_extra(o, group_known, g->extra, &extra) == -1)
		return -1;
	free(g->extra);
	g->extra = extra;
	return 0;
}

struct grw {
	struct http_req		*req;
	json_t			*body;
	const char		*id;
	const char		*user;
	struct rec_group	 g;
	json_t			*out;
	struct identity_revs	 revs;
};

struct glist2 {
	struct http_req	*req;
	json_t		*items;
	const char	*name, *domain_id;
};

static int
list_group(const void *obj, void *arg)
{
	const struct rec_group *g = obj;
	struct glist2 *l = arg;

	if ((l->name != NULL && strcmp(l->name, g->name) != 0) ||
	    (l->domain_id != NULL && strcmp(l->domain_id, g->domain_id) != 0))
		return 0;
	return json_array_append_new(l->items, group_json(l->req, g)) == 0 ?
	    0 : nomem();
}

int
identity_assign_group_list(struct http_req *req, struct http_resp *resp)
{
	struct glist2 l = { req, json_array(), http_req_query(req, "name"),
	    http_req_query(req, "domain_id") };
	struct store_txn *txn = NULL;
	int rc;

	if (l.items == NULL)
		return nomem();
	if (identity_json_read(req, &txn) == -1) {
		json_decref(l.items);
		return -1;
	}
	rc = idstore_each(txn, &schema_rec_group, list_group, &l);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(l.items);
		return -1;
	}
	return http_resp_json(resp, 0, identity_json_list(req, "groups", l.items));
}

int
identity_assign_group_get(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct rec_group g;
	json_t *o = NULL;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_group_get(txn, http_req_param(req, "group_id"), &g);
	if (rc == 0 && (o = group_json(req, &g)) == NULL)
		rc = nomem();
	codec_clear(&schema_rec_group, &g);
	store_txn_end(&txn);
	return rc == 0 ? respond(resp, 0, "group", o) : -1;
}

static int
group_create_fn(struct store_txn *txn, void *arg)
{
	struct grw *w = arg;
	struct rec_project d;

	if (idstore_domain_get(txn, w->g.domain_id, &d) == -1)
		return -1;
	codec_clear(&schema_rec_project, &d);
	if (idstore_group_put(txn, &w->g, NULL) == -1)
		return -1;
	return (w->out = group_json(w->req, &w->g)) == NULL ? nomem() : 0;
}

int
identity_assign_group_create(struct http_req *req, struct http_resp *resp)
{
	const struct request_ctx *c = request_ctx_of(req);
	struct grw w;
	char id[TOKEN_ID_BUFSZ];
	const char *dom = NULL;
	json_t *o;
	int rc;

	memset(&w, 0, sizeof(w));
	w.req = req;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "group",
	    &o) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "domain_id", 1, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &dom, NULL) == -1)
		return -1;
	if (dom == NULL)
		dom = c->scope == TOKEN_SCOPE_PROJECT ? c->project_domain_id :
		    c->scope == TOKEN_SCOPE_DOMAIN ? c->project_id :
		    IDSTORE_DEFAULT_DOMAIN;
	idstore_id_new(id);
	w.g.created_at = db_now_ms();
	rc = group_fields(o, &w.g, true);
	if (rc == 0)
		rc = setstr(&w.g.id, id);
	if (rc == 0)
		rc = setstr(&w.g.domain_id, dom);
	if (rc == 0)
		rc = identity_json_write(req, group_create_fn, &w);
	codec_clear(&schema_rec_group, &w.g);
	if (rc == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 201, "group", w.out);
}

static int
group_update_fn(struct store_txn *txn, void *arg)
{
	struct grw *w = arg;
	struct rec_group g, old;
	const char *dom = NULL;
	bool present;
	int rc = -1;

	memset(&old, 0, sizeof(old));
	if (idstore_group_get(txn, w->id, &g) == -1)
		return -1;
	if (idstore_group_get(txn, w->id, &old) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, w->body, "domain_id", 0, 64,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &dom, &present) == -1)
		goto out;
	if (present && (dom == NULL || strcmp(dom, g.domain_id) != 0)) {
		err_set(TS_EINVALID, "Cannot change the domain of a group.");
		goto out;
	}
	if (group_fields(w->body, &g, false) == -1 ||
	    idstore_group_put(txn, &g, &old) == -1)
		goto out;
	if ((w->out = group_json(w->req, &g)) == NULL) {
		nomem();
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_group, &g);
	codec_clear(&schema_rec_group, &old);
	return rc;
}

int
identity_assign_group_update(struct http_req *req, struct http_resp *resp)
{
	struct grw w;

	memset(&w, 0, sizeof(w));
	w.req = req;
	if (jsonreq_body(JSONREQ_KEYSTONE, http_req_json(req), "group",
	    &w.body) == -1)
		return -1;
	w.id = http_req_param(req, "group_id");
	if (identity_json_write(req, group_update_fn, &w) == -1) {
		json_decref(w.out);
		return -1;
	}
	return respond(resp, 0, "group", w.out);
}

int
identity_assign_group_delete_rec(struct store_txn *txn, const char *id,
    struct identity_revs *revs, int64_t now)
{
	struct idstore_filter f = { .group_id = id };
	struct rec_group g;
	int rc;

	if (idstore_group_get(txn, id, &g) == -1)
		return -1;
	rc = identity_assign_revs_matching(revs, txn, &f, now);
	if (rc == 0)
		rc = idstore_group_del(txn, &g);
	codec_clear(&schema_rec_group, &g);
	return rc;
}

static int
group_delete_fn(struct store_txn *txn, void *arg)
{
	struct grw *w = arg;

	return identity_assign_group_delete_rec(txn, w->id, &w->revs, db_now_ms());
}

int
identity_assign_group_delete(struct http_req *req, struct http_resp *resp)
{
	struct grw w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.id = http_req_param(req, "group_id");
	rc = identity_json_write(req, group_delete_fn, &w);
	identity_revs_done(identity_of(req), &w.revs, rc == 0);
	return rc;
}

/* Group and user exist (404 otherwise). */
static int
member_refs(struct store_txn *txn, const char *group, const char *user)
{
	struct rec_group g;
	struct rec_user u;

	if (idstore_group_get(txn, group, &g) == -1)
		return -1;
	codec_clear(&schema_rec_group, &g);
	if (user == NULL)
		return 0;
	if (idstore_user_get(txn, user, &u) == -1)
		return -1;
	codec_clear(&schema_rec_user, &u);
	return 0;
}

static int
member_add_fn(struct store_txn *txn, void *arg)
{
	struct grw *w = arg;

	if (member_refs(txn, w->id, w->user) == -1)
		return -1;
	return idstore_member_add(txn, w->id, w->user);
}

int
identity_assign_member_add(struct http_req *req, struct http_resp *resp)
{
	struct grw w;

	memset(&w, 0, sizeof(w));
	w.id = http_req_param(req, "group_id");
	w.user = http_req_param(req, "user_id");
	if (identity_json_write(req, member_add_fn, &w) == -1)
		return -1;
	log_info("identity: user %s added to group %s", w.user, w.id);
	return 0;
}

int
identity_assign_member_check(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	const char *g = http_req_param(req, "group_id");
	const char *u = http_req_param(req, "user_id");
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = member_refs(txn, g, u);
	if (rc == 0)
		rc = idstore_member_check(txn, g, u);
	store_txn_end(&txn);
	return rc;
}

static int
member_del_fn(struct store_txn *txn, void *arg)
{
	struct grw *w = arg;
	struct idstore_filter f = { .group_id = w->id };
	struct rev_each re = { &w->revs, txn, db_now_ms(), w->user };

	if (member_refs(txn, w->id, w->user) == -1 ||
	    idstore_member_check(txn, w->id, w->user) == -1)
		return -1;
	/* The roles the user held through the group end with its tokens. */
	if (idstore_assignment_each(txn, &f, rev_each_cb, &re) == -1)
		return -1;
	return idstore_member_del(txn, w->id, w->user);
}

int
identity_assign_member_delete(struct http_req *req, struct http_resp *resp)
{
	struct grw w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.id = http_req_param(req, "group_id");
	w.user = http_req_param(req, "user_id");
	rc = identity_json_write(req, member_del_fn, &w);
	identity_revs_done(identity_of(req), &w.revs, rc == 0);
	if (rc == 0)
		log_info("identity: user %s removed from group %s", w.user,
		    w.id);
	return rc;
}

struct mlist {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*items;
	bool			 groups;	/* list groups of a user */
};

static int
mlist_cb(const char *id, void *arg)
{
	struct mlist *ml = arg;
	struct rec_group g;
	struct rec_user u;
	json_t *o;
	int rc;

	if (ml->groups) {
		if (idstore_group_get(ml->txn, id, &g) == -1)
			return err_code() == TS_ENOT_FOUND ? 0 : -1;
		o = group_json(ml->req, &g);
		codec_clear(&schema_rec_group, &g);
	} else {
		if (idstore_user_get(ml->txn, id, &u) == -1)
			return err_code() == TS_ENOT_FOUND ? 0 : -1;
		o = json_pack("{s:s, s:s, s:s, s:b, s:n, s:{s:o}}", "id", u.id,
		    "name", u.name, "domain_id", u.domain_id, "enabled",
		    u.enabled, "password_expires_at", "links", "self",
		    identity_json_url(ml->req, "/v3/users/%s", u.id));
		codec_clear(&schema_rec_user, &u);
	}
	rc = json_array_append_new(ml->items, o) == 0 ? 0 : nomem();
	return rc;
}

static int
member_list(struct http_req *req, struct http_resp *resp, bool groups)
{
	struct mlist ml = { req, NULL, json_array(), groups };
	struct rec_user u;
	int rc;

	if (ml.items == NULL)
		return nomem();
	if (identity_json_read(req, &ml.txn) == -1) {
		json_decref(ml.items);
		return -1;
	}
	if (groups) {
		const char *uid = http_req_param(req, "user_id");

		rc = idstore_user_get(ml.txn, uid, &u);
		codec_clear(&schema_rec_user, &u);
		if (rc == 0)
			rc = idstore_user_groups_each(ml.txn, uid, mlist_cb,
			    &ml);
	} else {
		const char *gid = http_req_param(req, "group_id");

		rc = member_refs(ml.txn, gid, NULL);
		if (rc == 0)
			rc = idstore_group_users_each(ml.txn, gid, mlist_cb,
			    &ml);
	}
	store_txn_end(&ml.txn);
	if (rc == -1) {
		json_decref(ml.items);
		return -1;
	}
	return http_resp_json(resp, 0, identity_json_list(req, groups ? "groups" :
	    "users", ml.items));
}

int
identity_assign_group_users(struct http_req *req, struct http_resp *resp)
{
	return member_list(req, resp, false);
}

int
identity_assign_user_groups(struct http_req *req, struct http_resp *resp)
{
	return member_list(req, resp, true);
}

/* ---- implied roles ------------------------------------------------------ */

static json_t *
role_brief(struct http_req *req, const struct rec_role *r)
{
	return json_pack("{s:s, s:s, s:{s:o}}", "id", r->id, "name", r->name,
	    "links", "self", identity_json_url(req, "/v3/roles/%s", r->id));
}

/* {"prior_role": {...}, "implies": [...] or {...}} for one prior role. */
struct inference {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*implies;
};

static int
inference_cb(const struct rec_implied_role *r, void *arg)
{
	struct inference *in = arg;
	struct rec_role role;
	int rc;

	if (idstore_role_get(in->txn, r->implied_role_id, &role) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	rc = json_array_append_new(in->implies, role_brief(in->req, &role)) ==
	    0 ? 0 : nomem();
	codec_clear(&schema_rec_role, &role);
	return rc;
}

static json_t *
inference_json(struct http_req *req, struct store_txn *txn,
    const struct rec_role *prior)
{
	struct inference in = { req, txn, json_array() };

	if (in.implies == NULL ||
	    idstore_implied_each(txn, prior->id, inference_cb, &in) == -1) {
		json_decref(in.implies);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "prior_role", role_brief(req, prior),
	    "implies", in.implies);
}

struct iw {
	struct http_req		*req;
	const char		*prior, *implied;
	json_t			*out;
};

static int
implied_refs(struct store_txn *txn, const char *prior, const char *implied,
    struct rec_role *p, struct rec_role *i)
{
	if (idstore_role_get(txn, prior, p) == -1)
		return -1;
	if (idstore_role_get(txn, implied, i) == -1) {
		codec_clear(&schema_rec_role, p);
		return -1;
	}
	return 0;
}

static json_t *
rule_json(struct http_req *req, const struct rec_role *p,
    const struct rec_role *i)
{
	return json_pack("{s:{s:o, s:o}, s:{s:o}}", "role_inference",
	    "prior_role", role_brief(req, p), "implies", role_brief(req, i),
	    "links", "self", identity_json_url(req, "/v3/roles/%s/implies/%s", p->id,
	    i->id));
}

static int
implied_put_fn(struct store_txn *txn, void *arg)
{
	struct iw *w = arg;
	struct rec_role p, i;
	int rc = -1;

	if (implied_refs(txn, w->prior, w->implied, &p, &i) == -1)
		return -1;
	if (i.domain_id != NULL && p.domain_id == NULL) {
		/* Keystone: a global role cannot imply a domain-specific
		 * one (domain-specific roles may imply anything). */
		err_set(TS_EFORBIDDEN, "%s is not an acceptable implied role.",
		    i.id);
		goto out;
	}
	if (strcmp(p.id, i.id) == 0) {
		err_set(TS_EINVALID, "A role cannot imply itself.");
		goto out;
	}
	if (idstore_implied_put(txn, p.id, i.id, db_now_ms()) == -1)
		goto out;
	rc = (w->out = rule_json(w->req, &p, &i)) == NULL ? nomem() : 0;
out:
	codec_clear(&schema_rec_role, &p);
	codec_clear(&schema_rec_role, &i);
	return rc;
}

int
identity_assign_implied_put(struct http_req *req, struct http_resp *resp)
{
	struct iw w = { req, http_req_param(req, "prior_role_id"),
	    http_req_param(req, "implied_role_id"), NULL };

	if (identity_json_write(req, implied_put_fn, &w) == -1) {
		json_decref(w.out);
		return -1;
	}
	return http_resp_json(resp, 201, w.out);
}

static int
implied_read(struct http_req *req, json_t **out)
{
	const char *prior = http_req_param(req, "prior_role_id");
	const char *implied = http_req_param(req, "implied_role_id");
	struct store_txn *txn = NULL;
	struct rec_role p, i;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = implied_refs(txn, prior, implied, &p, &i);
	if (rc == 0) {
		rc = idstore_implied_check(txn, prior, implied);
		if (rc == 0 && out != NULL &&
		    (*out = rule_json(req, &p, &i)) == NULL)
			rc = nomem();
		codec_clear(&schema_rec_role, &p);
		codec_clear(&schema_rec_role, &i);
	}
	store_txn_end(&txn);
	return rc;
}

int
identity_assign_implied_get(struct http_req *req, struct http_resp *resp)
{
	json_t *o = NULL;

	if (implied_read(req, &o) == -1)
		return -1;
	return http_resp_json(resp, 200, o);
}

int
identity_assign_implied_check(struct http_req *req, struct http_resp *resp)
{
	return implied_read(req, NULL);
}

static int
implied_del_fn(struct store_txn *txn, void *arg)
{
	struct iw *w = arg;
	struct rec_role p, i;

	if (implied_refs(txn, w->prior, w->implied, &p, &i) == -1)
		return -1;
	codec_clear(&schema_rec_role, &p);
	codec_clear(&schema_rec_role, &i);
	return idstore_implied_del(txn, w->prior, w->implied);
}

int
identity_assign_implied_delete(struct http_req *req, struct http_resp *resp)
{
	struct iw w = { req, http_req_param(req, "prior_role_id"),
	    http_req_param(req, "implied_role_id"), NULL };

	return identity_json_write(req, implied_del_fn, &w);
}

int
identity_assign_implied_list(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct rec_role p;
	json_t *inf = NULL, *self;
	int rc;

	if (identity_json_read(req, &txn) == -1)
		return -1;
	rc = idstore_role_get(txn, http_req_param(req, "prior_role_id"), &p);
	if (rc == 0) {
		if ((inf = inference_json(req, txn, &p)) == NULL)
			rc = -1;
		codec_clear(&schema_rec_role, &p);
	}
	store_txn_end(&txn);
	if (rc == -1)
		return err_code() == TS_EOK ? nomem() : -1;
	self = identity_json_url(req, "%s", http_req_path(req));
	return http_resp_json(resp, 0, json_pack("{s:o, s:{s:o}}",
	    "role_inference", inf, "links", "self", self));
}

struct inferences {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*items;
	json_t			*priors;	/* prior id -> its entry */
};

static int
inferences_cb(const struct rec_implied_role *r, void *arg)
{
	struct inferences *in = arg;
	struct rec_role p;
	json_t *e;

	if (json_object_get(in->priors, r->prior_role_id) != NULL)
		return 0;
	if (idstore_role_get(in->txn, r->prior_role_id, &p) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	e = inference_json(in->req, in->txn, &p);
	codec_clear(&schema_rec_role, &p);
	if (e == NULL || json_object_set(in->priors, r->prior_role_id, e) ==
	    -1 || json_array_append_new(in->items, e) == -1)
		return nomem();
	return 0;
}

int
identity_assign_role_inferences(struct http_req *req, struct http_resp *resp)
{
	struct inferences in = { req, NULL, json_array(), json_object() };
	int rc;

	if (in.items == NULL || in.priors == NULL) {
		rc = nomem();
		goto out;
	}
	if ((rc = identity_json_read(req, &in.txn)) == -1)
		goto out;
	rc = idstore_implied_each(in.txn, NULL, inferences_cb, &in);
	store_txn_end(&in.txn);
out:
	json_decref(in.priors);
	if (rc == -1) {
		json_decref(in.items);
		return -1;
	}
	return http_resp_json(resp, 0, identity_json_list(req, "role_inferences",
	    in.items));
}
