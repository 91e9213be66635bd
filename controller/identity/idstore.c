/* idstore: identity records, name indexes and assignments; see idstore.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "idstore.h"
#include "log.h"

/* Longest index value or assignment key we build ("u/<64>/p/<64>/<64>",
 * "<64>/<255>"): well under STORE_KEY_MAX with the primary key appended. */
#define KEYBUF	400

#define META_REVOKE_SEQ	"revoke_seq"

static int	members_del_all(struct store_txn *, const char *, bool);
static int	implied_del_role(struct store_txn *, const char *);

void
idstore_id_new(char out[TOKEN_ID_BUFSZ])
{
	uuid_t u;
	size_t i;

	uuid_generate_random(u);
	for (i = 0; i < sizeof(u); i++)
		snprintf(out + i * 2, 3, "%02x", u[i]);
}

/* ---- generic helpers ---------------------------------------------------- */

static int
rec_get(struct store_txn *txn, const struct schema_type *type, const char *id,
    void *obj, const char *what)
{
	memset(obj, 0, type->size);
	if (strlen(id) > STORE_KEY_MAX || *id == '\0') {
		err_set(TS_ENOT_FOUND, "Could not find %s: %s.", what, id);
		return -1;
	}
	if (db_rec_get(txn, type->table, id, type, obj) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Could not find %s: %s.", what,
			    id);
		return -1;
	}
	return 0;
}

/* The one primary key stored under an index value, if any. */
struct first {
	char	pk[STORE_KEY_MAX + 1];
	bool	found;
};

static int
take_first(const void *pk, size_t len, void *arg)
{
	struct first *f = arg;

	if (len > STORE_KEY_MAX)
		return 0;
	memcpy(f->pk, pk, len);
	f->pk[len] = '\0';
	f->found = true;
	return 1;
}

static int
index_first(struct store_txn *txn, const char *index, const char *ival,
    struct first *f)
{
	f->found = false;
	return store_index_iter(txn, index, ival, strlen(ival), take_first, f);
}

/* Index value "<scope>/<name>"; scope NULL is "*" (domains, global
 * roles), which no id can be. */
static int
name_key(char *buf, size_t len, const char *scope, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", scope ? scope : "*", name) >=
	    len) {
		err_set(TS_EINVALID, "name too long");
		return -1;
	}
	return 0;
}

/*
 * Keep a name index in step with a record: on insert (old_ival NULL) the
 * name must be free; on a rename the new one must be free and the old entry
 * goes. The id owning the name is compared so that re-putting a record
 * under its own name is not a conflict.
 */
static int
name_claim(struct store_txn *txn, const char *index, const char *ival,
    const char *old_ival, const char *id, const char *what, const char *name)
{
	struct first f;

	if (old_ival != NULL && strcmp(ival, old_ival) == 0)
		return 0;
	if (index_first(txn, index, ival, &f) == -1)
		return -1;
	if (f.found && strcmp(f.pk, id) != 0) {
		err_set(TS_ECONFLICT, "Conflict occurred attempting to store "
		    "%s - Duplicate entry found with name %s.", what, name);
		return -1;
	}
	if (old_ival != NULL && store_index_del(txn, index, old_ival,
	    strlen(old_ival), id, strlen(id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return store_index_put(txn, index, ival, strlen(ival), id, strlen(id));
}

/* TS_ECONFLICT if a record with this id exists. Checked before anything
 * is written so that a refused insert changes nothing, even in a
 * transaction the caller goes on using. */
static int
id_free(struct store_txn *txn, const struct schema_type *type,
    const char *id, const char *what)
{
	const void *v;
	size_t vl;

	if (store_get(txn, type->table, id, strlen(id), &v, &vl) == 0) {
		err_set(TS_ECONFLICT, "Conflict occurred attempting to store "
		    "%s - Duplicate ID, %s.", what, id);
		return -1;
	}
	return err_code() == TS_ENOT_FOUND ? 0 : -1;
}

static int
insert_new(struct store_txn *txn, const struct schema_type *type,
    const char *id, const void *obj, const char *what)
{
	if (id_free(txn, type, id, what) == -1)
		return -1;
	return db_rec_put(txn, type->table, id, type, obj, STORE_NOOVERWRITE);
}

/* ---- assignments -------------------------------------------------------- */

static const char target_letter[] = { 'p', 'd', 's' };

const char *
idstore_target_name(enum idstore_target t)
{
	switch (t) {
	case IDSTORE_PROJECT:	return "project";
	case IDSTORE_DOMAIN:	return "domain";
	case IDSTORE_SYSTEM:	return "system";
	}
	return "?";
}

int
idstore_target_parse(const char *s)
{
	if (strcmp(s, "project") == 0)
		return IDSTORE_PROJECT;
	if (strcmp(s, "domain") == 0)
		return IDSTORE_DOMAIN;
	if (strcmp(s, "system") == 0)
		return IDSTORE_SYSTEM;
	return -1;
}

static const char actor_letter[] = { 'u', 'g' };

const char *
idstore_actor_name(enum idstore_actor a)
{
	return a == IDSTORE_GROUP ? "group" : "user";
}

/* The actor type of a stored assignment (absent: a user). */
static enum idstore_actor
rec_actor(const struct rec_assignment *a)
{
	return a->actor_type != NULL && strcmp(a->actor_type, "group") == 0 ?
	    IDSTORE_GROUP : IDSTORE_USER;
}

static int
grant_key(char *buf, size_t len, enum idstore_actor at, const char *actor,
    enum idstore_target t, const char *target, const char *role)
{
	if ((size_t)snprintf(buf, len, "%c/%s/%c/%s/%s", actor_letter[at],
	    actor, target_letter[t], target, role) >= len) {
		err_set(TS_EINVALID, "assignment key too long");
		return -1;
	}
	return 0;
}

static int
target_ival(char *buf, size_t len, enum idstore_target t, const char *target)
{
	if ((size_t)snprintf(buf, len, "%c/%s", target_letter[t], target) >=
	    len) {
		err_set(TS_EINVALID, "assignment target too long");
		return -1;
	}
	return 0;
}

int
idstore_grant(struct store_txn *txn, enum idstore_actor at, const char *actor,
    enum idstore_target t, const char *target, const char *role,
    int64_t now_ms)
{
	struct rec_assignment a = { 0 };
	char key[KEYBUF], ival[KEYBUF];

	if (grant_key(key, sizeof(key), at, actor, t, target, role) == -1 ||
	    target_ival(ival, sizeof(ival), t, target) == -1)
		return -1;
	a.actor_id = (char *)actor;
	a.actor_type = at == IDSTORE_GROUP ? (char *)"group" : NULL;
	a.target_type = (char *)idstore_target_name(t);
	a.target_id = (char *)target;
	a.role_id = (char *)role;
	a.created_at = now_ms;
	if (db_rec_put(txn, T_ASSIGNMENTS, key, &schema_rec_assignment, &a,
	    STORE_NOOVERWRITE) == -1)
		return err_code() == TS_ECONFLICT ? 0 : -1;
	if (store_index_put(txn, T_ASSIGNMENTS_BY_TARGET, ival, strlen(ival),
	    key, strlen(key)) == -1)
		return -1;
	return store_index_put(txn, T_ASSIGNMENTS_BY_ROLE, role, strlen(role),
	    key, strlen(key));
}

/* Delete one assignment given its decoded record. */
static int
grant_del_rec(struct store_txn *txn, const struct rec_assignment *a)
{
	char key[KEYBUF], ival[KEYBUF];
	int t = idstore_target_parse(a->target_type);

	if (t < 0) {
		err_set(TS_EINTERNAL, "assignment with target type '%s'",
		    a->target_type);
		return -1;
	}
	if (grant_key(key, sizeof(key), rec_actor(a), a->actor_id, t,
	    a->target_id, a->role_id) == -1 || target_ival(ival, sizeof(ival),
	    t, a->target_id) == -1)
		return -1;
	if (store_del(txn, T_ASSIGNMENTS, key, strlen(key)) == -1)
		return -1;
	/* Index entries missing would be an inconsistency, not a reason to
	 * keep the assignment. */
	if (store_index_del(txn, T_ASSIGNMENTS_BY_TARGET, ival, strlen(ival),
	    key, strlen(key)) == -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	if (store_index_del(txn, T_ASSIGNMENTS_BY_ROLE, a->role_id,
	    strlen(a->role_id), key, strlen(key)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

int
idstore_grant_del(struct store_txn *txn, enum idstore_actor at,
    const char *actor, enum idstore_target t, const char *target,
    const char *role)
{
	struct rec_assignment a = { 0 };

	a.actor_id = (char *)actor;
	a.actor_type = at == IDSTORE_GROUP ? (char *)"group" : NULL;
	a.target_type = (char *)idstore_target_name(t);
	a.target_id = (char *)target;
	a.role_id = (char *)role;
	if (idstore_grant_check(txn, at, actor, t, target, role) == -1)
		return -1;
	return grant_del_rec(txn, &a);
}

int
idstore_grant_check(struct store_txn *txn, enum idstore_actor at,
    const char *actor, enum idstore_target t, const char *target,
    const char *role)
{
	char key[KEYBUF];
	const void *v;
	size_t vl;

	if (grant_key(key, sizeof(key), at, actor, t, target, role) == -1)
		return -1;
	if (store_get(txn, T_ASSIGNMENTS, key, strlen(key), &v, &vl) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Could not find role assignment "
			    "with role: %s, user or group: %s, project, domain, "
			    "or system: %s.", role, actor, target);
		return -1;
	}
	return 0;
}

struct afilter {
	struct store_txn		*txn;
	const struct idstore_filter	*f;
	int	(*cb)(const struct rec_assignment *, void *);
	void	*arg;
};

static bool
amatch(const struct idstore_filter *f, const struct rec_assignment *a)
{
	enum idstore_actor at = rec_actor(a);

	if (f->user_id != NULL && (at != IDSTORE_USER ||
	    strcmp(f->user_id, a->actor_id) != 0))
		return false;
	if (f->group_id != NULL && (at != IDSTORE_GROUP ||
	    strcmp(f->group_id, a->actor_id) != 0))
		return false;
	if (f->has_target_type) {
		if (strcmp(idstore_target_name(f->target_type),
		    a->target_type) != 0)
			return false;
		if (f->target_id != NULL &&
		    strcmp(f->target_id, a->target_id) != 0)
			return false;
	}
	return f->role_id == NULL || strcmp(f->role_id, a->role_id) == 0;
}

static int
afilter_rec(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct afilter *af = arg;
	struct rec_assignment a;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	if (codec_record_decode(&schema_rec_assignment, v, vl, &a, NULL) ==
	    -1) {
		log_warnx("idstore: skipping undecodable assignment: %s",
		    err_msg());
		return 0;
	}
	if (amatch(af->f, &a))
		rc = af->cb(&a, af->arg);
	codec_clear(&schema_rec_assignment, &a);
	return rc;
}

/* Index walk: fetch each assignment by its primary key. */
static int
afilter_pk(const void *pk, size_t len, void *arg)
{
	struct afilter *af = arg;
	const void *v;
	size_t vl;

	if (store_get(af->txn, T_ASSIGNMENTS, pk, len, &v, &vl) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			return 0;	/* index ahead of a delete: skip */
		return -1;
	}
	return afilter_rec(pk, len, v, vl, arg);
}

int
idstore_assignment_each(struct store_txn *txn, const struct idstore_filter *f,
    int (*cb)(const struct rec_assignment *, void *), void *arg)
{
	struct afilter af = { txn, f, cb, arg };
	char buf[KEYBUF];
	const char *actor = f->user_id ? f->user_id : f->group_id;
	char letter = f->user_id ? 'u' : 'g';
	int n;

	if (f->user_id != NULL && f->group_id != NULL)
		return 0;	/* an assignment has one actor */
	if (actor != NULL) {
		if (f->has_target_type && f->target_id != NULL)
			n = snprintf(buf, sizeof(buf), "%c/%s/%c/%s/", letter,
			    actor, target_letter[f->target_type], f->target_id);
		else
			n = snprintf(buf, sizeof(buf), "%c/%s/", letter, actor);
		if (n < 0 || (size_t)n >= sizeof(buf))
			return 0;	/* longer than any stored key */
		return store_iter(txn, T_ASSIGNMENTS, buf, (size_t)n,
		    afilter_rec, &af);
	}
	if (f->has_target_type && f->target_id != NULL) {
		if (target_ival(buf, sizeof(buf), f->target_type,
		    f->target_id) == -1)
			return 0;
		return store_index_iter(txn, T_ASSIGNMENTS_BY_TARGET, buf,
		    strlen(buf), afilter_pk, &af);
	}
	if (f->role_id != NULL) {
		if (*f->role_id == '\0')
			return 0;
		return store_index_iter(txn, T_ASSIGNMENTS_BY_ROLE, f->role_id,
		    strlen(f->role_id), afilter_pk, &af);
	}
	return store_iter(txn, T_ASSIGNMENTS, NULL, 0, afilter_rec, &af);
}

/* Delete every assignment matching f: collected first, since a table may
 * not be written while it is iterated. */
struct collect {
	struct rec_assignment	*v;
	size_t			 n, cap;
};

static char *
dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = true;
	return d;
}

static int
collect_cb(const struct rec_assignment *a, void *arg)
{
	struct collect *c = arg;
	struct rec_assignment *nv, *d;
	bool fail = false;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		if ((nv = realloc(c->v, c->cap * sizeof(*nv))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		c->v = nv;
	}
	d = &c->v[c->n++];
	memset(d, 0, sizeof(*d));
	d->actor_id = dup_or_null(a->actor_id, &fail);
	d->actor_type = dup_or_null(a->actor_type, &fail);
	d->target_type = dup_or_null(a->target_type, &fail);
	d->target_id = dup_or_null(a->target_id, &fail);
	d->role_id = dup_or_null(a->role_id, &fail);
	if (fail) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static int
grants_del_matching(struct store_txn *txn, const struct idstore_filter *f)
{
	struct collect c = { NULL, 0, 0 };
	size_t i;
	int rc;

	rc = idstore_assignment_each(txn, f, collect_cb, &c);
	for (i = 0; rc == 0 && i < c.n; i++)
		rc = grant_del_rec(txn, &c.v[i]);
	for (i = 0; i < c.n; i++)
		codec_clear(&schema_rec_assignment, &c.v[i]);
	free(c.v);
	return rc;
}

/* ---- effective roles ---------------------------------------------------- */

/* A set of role ids, then their records. */
struct eroles {
	struct store_txn	*txn;
	char			(*id)[IDSTORE_ID_BUFSZ];
	size_t			 n, cap;
	size_t			 direct;	/* the first `direct` are granted */
};

static int
eroles_add(struct eroles *er, const char *id)
{
	size_t i;
	void *p;

	for (i = 0; i < er->n; i++)
		if (strcmp(er->id[i], id) == 0)
			return 0;
	if (er->n == er->cap) {
		er->cap = er->cap ? er->cap * 2 : 8;
		if ((p = realloc(er->id, er->cap * sizeof(*er->id))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		er->id = p;
	}
	snprintf(er->id[er->n++], IDSTORE_ID_BUFSZ, "%s", id);
	return 0;
}

static int
eroles_granted(const struct rec_assignment *a, void *arg)
{
	return eroles_add(arg, a->role_id);
}

static int
eroles_group(const void *pk, size_t len, void *arg)
{
	struct eroles *er = ((void **)arg)[0];
	const struct idstore_filter *uf = ((void **)arg)[1];
	struct idstore_filter f = *uf;
	char gid[IDSTORE_ID_BUFSZ];

	if (len >= sizeof(gid))
		return 0;
	memcpy(gid, pk, len);
	gid[len] = '\0';
	f.user_id = NULL;
	f.group_id = gid;
	return idstore_assignment_each(er->txn, &f, eroles_granted, er);
}

static int
eroles_implied(const struct rec_implied_role *r, void *arg)
{
	return eroles_add(arg, r->implied_role_id);
}

int
idstore_roles_effective(struct store_txn *txn, const char *user_id,
    enum idstore_target tt, const char *target_id,
    int (*cb)(const char *, const char *, void *), void *arg)
{
	struct idstore_filter f = { .user_id = user_id,
	    .has_target_type = true, .target_type = tt,
	    .target_id = target_id };
	struct eroles er = { txn, NULL, 0, 0, 0 };
	void *ga[2] = { &er, &f };
	struct rec_role r;
	size_t i;
	int rc, n = 0;

	/* Granted to the user, then to its groups. */
	rc = idstore_assignment_each(txn, &f, eroles_granted, &er);
	if (rc == 0)
		rc = store_index_iter(txn, T_USER_GROUPS, user_id,
		    strlen(user_id), eroles_group, ga);
	er.direct = er.n;
	/* The closure over the implied-role rules (the set grows while it
	 * is walked; ids are never added twice, so this ends). */
	for (i = 0; rc == 0 && i < er.n; i++)
		rc = idstore_implied_each(txn, er.id[i], eroles_implied, &er);
	for (i = 0; rc == 0 && i < er.n; i++) {
		if (idstore_role_get(txn, er.id[i], &r) == -1) {
			if (err_code() != TS_ENOT_FOUND)	/* racing a delete */
				rc = -1;
			continue;
		}
		/* Domain-specific roles only imply; Keystone never puts them
		 * in a token. */
		if (r.domain_id == NULL) {
			rc = cb(r.id, r.name, arg);
			n++;
		}
		codec_clear(&schema_rec_role, &r);
	}
	free(er.id);
	return rc == -1 ? -1 : n;
}

/* ---- projects and domains ----------------------------------------------- */

int
idstore_project_get(struct store_txn *txn, const char *id,
    struct rec_project *p)
{
	return rec_get(txn, &schema_rec_project, id, p, "project");
}

int
idstore_domain_get(struct store_txn *txn, const char *id, struct rec_project *p)
{
	if (rec_get(txn, &schema_rec_project, id, p, "domain") == -1)
		return -1;
	if (!p->is_domain) {
		codec_clear(&schema_rec_project, p);
		err_set(TS_ENOT_FOUND, "Could not find domain: %s.", id);
		return -1;
	}
	return 0;
}

int
idstore_project_find(struct store_txn *txn, const char *domain_id,
    const char *name, struct rec_project *p)
{
	char ival[KEYBUF];
	struct first f;
	const char *what = domain_id ? "project" : "domain";

	memset(p, 0, sizeof(*p));
	if (name_key(ival, sizeof(ival), domain_id, name) == -1 ||
	    index_first(txn, T_PROJECTS_BY_NAME, ival, &f) == -1)
		return -1;
	if (!f.found) {
		err_set(TS_ENOT_FOUND, "Could not find %s: %s.", what, name);
		return -1;
	}
	return rec_get(txn, &schema_rec_project, f.pk, p, what);
}

int
idstore_project_put(struct store_txn *txn, const struct rec_project *p,
    const struct rec_project *old)
{
	char ival[KEYBUF], oval[KEYBUF];
	const char *what = p->is_domain ? "domain" : "project";

	if (name_key(ival, sizeof(ival), p->is_domain ? NULL : p->domain_id,
	    p->name) == -1)
		return -1;
	if (old != NULL && name_key(oval, sizeof(oval), old->is_domain ? NULL :
	    old->domain_id, old->name) == -1)
		return -1;
	if (old == NULL && id_free(txn, &schema_rec_project, p->id, what) == -1)
		return -1;
	if (name_claim(txn, T_PROJECTS_BY_NAME, ival, old ? oval : NULL, p->id,
	    what, p->name) == -1)
		return -1;
	return db_rec_put(txn, T_PROJECTS, p->id, &schema_rec_project, p, 0);
}

int
idstore_project_del(struct store_txn *txn, const struct rec_project *p)
{
	struct idstore_filter f = { .has_target_type = true };
	char ival[KEYBUF];

	if (name_key(ival, sizeof(ival), p->is_domain ? NULL : p->domain_id,
	    p->name) == -1)
		return -1;
	if (store_del(txn, T_PROJECTS, p->id, strlen(p->id)) == -1)
		return -1;
	if (store_index_del(txn, T_PROJECTS_BY_NAME, ival, strlen(ival), p->id,
	    strlen(p->id)) == -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	f.target_type = p->is_domain ? IDSTORE_DOMAIN : IDSTORE_PROJECT;
	f.target_id = p->id;
	return grants_del_matching(txn, &f);
}

/* ---- users -------------------------------------------------------------- */

int
idstore_user_get(struct store_txn *txn, const char *id, struct rec_user *u)
{
	return rec_get(txn, &schema_rec_user, id, u, "user");
}

int
idstore_user_find(struct store_txn *txn, const char *domain_id,
    const char *name, struct rec_user *u)
{
	char ival[KEYBUF];
	struct first f;

	memset(u, 0, sizeof(*u));
	if (name_key(ival, sizeof(ival), domain_id, name) == -1 ||
	    index_first(txn, T_USERS_BY_NAME, ival, &f) == -1)
		return -1;
	if (!f.found) {
		err_set(TS_ENOT_FOUND, "Could not find user: %s.", name);
		return -1;
	}
	return rec_get(txn, &schema_rec_user, f.pk, u, "user");
}

int
idstore_user_put(struct store_txn *txn, const struct rec_user *u,
    const struct rec_user *old)
{
	char ival[KEYBUF], oval[KEYBUF];

	if (name_key(ival, sizeof(ival), u->domain_id, u->name) == -1 ||
	    (old != NULL && name_key(oval, sizeof(oval), old->domain_id,
	    old->name) == -1))
		return -1;
	if (old == NULL && id_free(txn, &schema_rec_user, u->id, "user") == -1)
		return -1;
	if (name_claim(txn, T_USERS_BY_NAME, ival, old ? oval : NULL, u->id,
	    "user", u->name) == -1)
		return -1;
	return db_rec_put(txn, T_USERS, u->id, &schema_rec_user, u, 0);
}

int
idstore_user_del(struct store_txn *txn, const struct rec_user *u)
{
	struct idstore_filter f = { .user_id = u->id };
	char ival[KEYBUF];

	if (name_key(ival, sizeof(ival), u->domain_id, u->name) == -1)
		return -1;
	if (store_del(txn, T_USERS, u->id, strlen(u->id)) == -1)
		return -1;
	if (store_index_del(txn, T_USERS_BY_NAME, ival, strlen(ival), u->id,
	    strlen(u->id)) == -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	if (members_del_all(txn, u->id, true) == -1)
		return -1;
	return grants_del_matching(txn, &f);
}

/* ---- roles -------------------------------------------------------------- */

int
idstore_role_get(struct store_txn *txn, const char *id, struct rec_role *r)
{
	return rec_get(txn, &schema_rec_role, id, r, "role");
}

int
idstore_role_find(struct store_txn *txn, const char *domain_id,
    const char *name, struct rec_role *r)
{
	char ival[KEYBUF];
	struct first f;

	memset(r, 0, sizeof(*r));
	if (name_key(ival, sizeof(ival), domain_id, name) == -1 ||
	    index_first(txn, T_ROLES_BY_NAME, ival, &f) == -1)
		return -1;
	if (!f.found) {
		err_set(TS_ENOT_FOUND, "Could not find role: %s.", name);
		return -1;
	}
	return rec_get(txn, &schema_rec_role, f.pk, r, "role");
}

int
idstore_role_put(struct store_txn *txn, const struct rec_role *r,
    const struct rec_role *old)
{
	char ival[KEYBUF], oval[KEYBUF];

	if (name_key(ival, sizeof(ival), r->domain_id, r->name) == -1 ||
	    (old != NULL && name_key(oval, sizeof(oval), old->domain_id,
	    old->name) == -1))
		return -1;
	if (old == NULL && id_free(txn, &schema_rec_role, r->id, "role") == -1)
		return -1;
	if (name_claim(txn, T_ROLES_BY_NAME, ival, old ? oval : NULL, r->id,
	    "role", r->name) == -1)
		return -1;
	return db_rec_put(txn, T_ROLES, r->id, &schema_rec_role, r, 0);
}

int
idstore_role_del(struct store_txn *txn, const struct rec_role *r)
{
	struct idstore_filter f = { .role_id = r->id };
	char ival[KEYBUF];

	if (name_key(ival, sizeof(ival), r->domain_id, r->name) == -1)
		return -1;
	if (store_del(txn, T_ROLES, r->id, strlen(r->id)) == -1)
		return -1;
	if (store_index_del(txn, T_ROLES_BY_NAME, ival, strlen(ival), r->id,
	    strlen(r->id)) == -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	if (implied_del_role(txn, r->id) == -1)
		return -1;
	return grants_del_matching(txn, &f);
}

/* ---- groups ------------------------------------------------------------- */

int
idstore_group_get(struct store_txn *txn, const char *id, struct rec_group *g)
{
	return rec_get(txn, &schema_rec_group, id, g, "group");
}

int
idstore_group_find(struct store_txn *txn, const char *domain_id,
    const char *name, struct rec_group *g)
{
	char ival[KEYBUF];
	struct first f;

	memset(g, 0, sizeof(*g));
	if (name_key(ival, sizeof(ival), domain_id, name) == -1 ||
	    index_first(txn, T_GROUPS_BY_NAME, ival, &f) == -1)
		return -1;
	if (!f.found) {
		err_set(TS_ENOT_FOUND, "Could not find group: %s.", name);
		return -1;
	}
	return rec_get(txn, &schema_rec_group, f.pk, g, "group");
}

int
idstore_group_put(struct store_txn *txn, const struct rec_group *g,
    const struct rec_group *old)
{
	char ival[KEYBUF], oval[KEYBUF];

	if (name_key(ival, sizeof(ival), g->domain_id, g->name) == -1 ||
	    (old != NULL && name_key(oval, sizeof(oval), old->domain_id,
	    old->name) == -1))
		return -1;
	if (old == NULL && id_free(txn, &schema_rec_group, g->id, "group") ==
	    -1)
		return -1;
	if (name_claim(txn, T_GROUPS_BY_NAME, ival, old ? oval : NULL, g->id,
	    "group", g->name) == -1)
		return -1;
	return db_rec_put(txn, T_GROUPS, g->id, &schema_rec_group, g, 0);
}

/* Ids collected from an index walk, to be changed afterwards. */
struct idlist {
	char	(*v)[IDSTORE_ID_BUFSZ];
	size_t	 n, cap;
};

static int
idlist_pk(const void *pk, size_t len, void *arg)
{
	struct idlist *l = arg;
	void *p;

	if (len >= IDSTORE_ID_BUFSZ)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((p = realloc(l->v, l->cap * sizeof(*l->v))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		l->v = p;
	}
	memcpy(l->v[l->n], pk, len);
	l->v[l->n++][len] = '\0';
	return 0;
}

int
idstore_member_add(struct store_txn *txn, const char *group_id,
    const char *user_id)
{
	if (store_index_put(txn, T_GROUP_USERS, group_id, strlen(group_id),
	    user_id, strlen(user_id)) == -1)
		return -1;
	return store_index_put(txn, T_USER_GROUPS, user_id, strlen(user_id),
	    group_id, strlen(group_id));
}

int
idstore_member_del(struct store_txn *txn, const char *group_id,
    const char *user_id)
{
	if (store_index_del(txn, T_GROUP_USERS, group_id, strlen(group_id),
	    user_id, strlen(user_id)) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "User %s is not a member of group "
			    "%s.", user_id, group_id);
		return -1;
	}
	if (store_index_del(txn, T_USER_GROUPS, user_id, strlen(user_id),
	    group_id, strlen(group_id)) == -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

struct one {
	const char	*want;
	bool		 found;
};

static int
one_pk(const void *pk, size_t len, void *arg)
{
	struct one *o = arg;

	if (strlen(o->want) == len && memcmp(pk, o->want, len) == 0) {
		o->found = true;
		return 1;
	}
	return 0;
}

int
idstore_member_check(struct store_txn *txn, const char *group_id,
    const char *user_id)
{
	struct one o = { user_id, false };

	if (store_index_iter(txn, T_GROUP_USERS, group_id, strlen(group_id),
	    one_pk, &o) == -1)
		return -1;
	if (!o.found) {
		err_set(TS_ENOT_FOUND, "User %s is not a member of group %s.",
		    user_id, group_id);
		return -1;
	}
	return 0;
}

struct idcb {
	int	(*cb)(const char *, void *);
	void	*arg;
};

static int
idcb_pk(const void *pk, size_t len, void *arg)
{
	struct idcb *c = arg;
	char id[IDSTORE_ID_BUFSZ];

	if (len >= sizeof(id))
		return 0;
	memcpy(id, pk, len);
	id[len] = '\0';
	return c->cb(id, c->arg);
}

int
idstore_group_users_each(struct store_txn *txn, const char *group_id,
    int (*cb)(const char *, void *), void *arg)
{
	struct idcb c = { cb, arg };

	return store_index_iter(txn, T_GROUP_USERS, group_id, strlen(group_id),
	    idcb_pk, &c);
}

int
idstore_user_groups_each(struct store_txn *txn, const char *user_id,
    int (*cb)(const char *, void *), void *arg)
{
	struct idcb c = { cb, arg };

	return store_index_iter(txn, T_USER_GROUPS, user_id, strlen(user_id),
	    idcb_pk, &c);
}

/* Drop every membership of a user (is_user) or of a group. */
static int
members_del_all(struct store_txn *txn, const char *id, bool is_user)
{
	struct idlist l = { NULL, 0, 0 };
	size_t i;
	int rc;

	rc = store_index_iter(txn, is_user ? T_USER_GROUPS : T_GROUP_USERS, id,
	    strlen(id), idlist_pk, &l);
	for (i = 0; rc == 0 && i < l.n; i++)
		rc = is_user ? idstore_member_del(txn, l.v[i], id) :
		    idstore_member_del(txn, id, l.v[i]);
	free(l.v);
	return rc;
}

int
idstore_group_del(struct store_txn *txn, const struct rec_group *g)
{
	struct idstore_filter f = { .group_id = g->id };
	char ival[KEYBUF];

	if (name_key(ival, sizeof(ival), g->domain_id, g->name) == -1)
		return -1;
	if (store_del(txn, T_GROUPS, g->id, strlen(g->id)) == -1)
		return -1;
	if (store_index_del(txn, T_GROUPS_BY_NAME, ival, strlen(ival), g->id,
	    strlen(g->id)) == -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	if (members_del_all(txn, g->id, false) == -1)
		return -1;
	return grants_del_matching(txn, &f);
}

/* ---- implied roles ------------------------------------------------------ */

static int
implied_key(char *buf, size_t len, const char *prior, const char *implied)
{
	if ((size_t)snprintf(buf, len, "%s/%s", prior, implied) >= len) {
		err_set(TS_EINVALID, "implied role key too long");
		return -1;
	}
	return 0;
}

int
idstore_implied_put(struct store_txn *txn, const char *prior,
    const char *implied, int64_t now_ms)
{
	struct rec_implied_role r = { 0 };
	char key[KEYBUF];

	if (implied_key(key, sizeof(key), prior, implied) == -1)
		return -1;
	r.prior_role_id = (char *)prior;
	r.implied_role_id = (char *)implied;
	r.created_at = now_ms;
	if (db_rec_put(txn, T_IMPLIED_ROLES, key, &schema_rec_implied_role, &r,
	    STORE_NOOVERWRITE) == -1)
		return err_code() == TS_ECONFLICT ? 0 : -1;
	return 0;
}

int
idstore_implied_check(struct store_txn *txn, const char *prior,
    const char *implied)
{
	char key[KEYBUF];
	const void *v;
	size_t vl;

	if (implied_key(key, sizeof(key), prior, implied) == -1)
		return -1;
	if (store_get(txn, T_IMPLIED_ROLES, key, strlen(key), &v, &vl) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "%s does not imply %s.", prior,
			    implied);
		return -1;
	}
	return 0;
}

int
idstore_implied_del(struct store_txn *txn, const char *prior,
    const char *implied)
{
	char key[KEYBUF];

	if (idstore_implied_check(txn, prior, implied) == -1 ||
	    implied_key(key, sizeof(key), prior, implied) == -1)
		return -1;
	return store_del(txn, T_IMPLIED_ROLES, key, strlen(key));
}

struct ieach {
	int	(*cb)(const struct rec_implied_role *, void *);
	void	*arg;
};

static int
implied_rec(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct ieach *ie = arg;
	struct rec_implied_role r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (codec_record_decode(&schema_rec_implied_role, v, vl, &r, NULL) ==
	    -1) {
		log_warnx("idstore: skipping undecodable implied role: %s",
		    err_msg());
		return 0;
	}
	rc = ie->cb(&r, ie->arg);
	codec_clear(&schema_rec_implied_role, &r);
	return rc;
}

int
idstore_implied_each(struct store_txn *txn, const char *prior,
    int (*cb)(const struct rec_implied_role *, void *), void *arg)
{
	struct ieach ie = { cb, arg };
	char prefix[KEYBUF];
	int n = 0;

	if (prior != NULL) {
		n = snprintf(prefix, sizeof(prefix), "%s/", prior);
		if (n < 0 || (size_t)n >= sizeof(prefix))
			return 0;
	}
	return store_iter(txn, T_IMPLIED_ROLES, prefix, (size_t)n, implied_rec,
	    &ie);
}

/* Rules naming role_id on either side, collected then deleted. */
struct rules_of {
	const char	*role_id;
	char		(*keys)[2 * IDSTORE_ID_BUFSZ];
	size_t		 n, cap;
};

static int
rules_of_cb(const struct rec_implied_role *r, void *arg)
{
	struct rules_of *ro = arg;
	void *p;

	if (strcmp(r->prior_role_id, ro->role_id) != 0 &&
	    strcmp(r->implied_role_id, ro->role_id) != 0)
		return 0;
	if (ro->n == ro->cap) {
		ro->cap = ro->cap ? ro->cap * 2 : 8;
		if ((p = realloc(ro->keys, ro->cap * sizeof(*ro->keys))) ==
		    NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		ro->keys = p;
	}
	snprintf(ro->keys[ro->n++], sizeof(ro->keys[0]), "%s/%s",
	    r->prior_role_id, r->implied_role_id);
	return 0;
}

static int
implied_del_role(struct store_txn *txn, const char *role_id)
{
	struct rules_of ro = { role_id, NULL, 0, 0 };
	size_t i;
	int rc;

	rc = idstore_implied_each(txn, NULL, rules_of_cb, &ro);
	for (i = 0; rc == 0 && i < ro.n; i++)
		rc = store_del(txn, T_IMPLIED_ROLES, ro.keys[i],
		    strlen(ro.keys[i]));
	free(ro.keys);
	return rc;
}

/* ---- catalog ------------------------------------------------------------ */

static int
simple_put(struct store_txn *txn, const struct schema_type *type,
    const char *id, const void *obj, bool replace, const char *what)
{
	if (!replace)
		return insert_new(txn, type, id, obj, what);
	return db_rec_put(txn, type->table, id, type, obj, 0);
}

static int
simple_del(struct store_txn *txn, const char *table, const char *id,
    const char *what)
{
	if (store_del(txn, table, id, strlen(id)) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Could not find %s: %s.", what,
			    id);
		return -1;
	}
	return 0;
}

int
idstore_service_get(struct store_txn *txn, const char *id,
    struct rec_catalog_service *s)
{
	return rec_get(txn, &schema_rec_catalog_service, id, s, "service");
}

int
idstore_service_put(struct store_txn *txn, const struct rec_catalog_service *s,
    bool replace)
{
	return simple_put(txn, &schema_rec_catalog_service, s->id, s, replace,
	    "service");
}

struct ep_ids {
	const char	*service_id;
	char		**ids;
	size_t		 n, cap;
};

static int
ep_of_service(const void *obj, void *arg)
{
	const struct rec_catalog_endpoint *e = obj;
	struct ep_ids *c = arg;
	char **nv;

	if (strcmp(e->service_id, c->service_id) != 0)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		if ((nv = realloc(c->ids, c->cap * sizeof(*nv))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		c->ids = nv;
	}
	if ((c->ids[c->n] = strdup(e->id)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	c->n++;
	return 0;
}

int
idstore_service_del(struct store_txn *txn, const char *id)
{
	struct ep_ids c = { id, NULL, 0, 0 };
	size_t i;
	int rc;

	if ((rc = simple_del(txn, T_CATALOG_SERVICES, id, "service")) == 0)
		rc = idstore_each(txn, &schema_rec_catalog_endpoint,
		    ep_of_service, &c);
	for (i = 0; i < c.n; i++) {
		if (rc == 0)
			rc = store_del(txn, T_CATALOG_ENDPOINTS, c.ids[i],
			    strlen(c.ids[i]));
		free(c.ids[i]);
	}
	free(c.ids);
	return rc;
}

int
idstore_endpoint_get(struct store_txn *txn, const char *id,
    struct rec_catalog_endpoint *e)
{
	return rec_get(txn, &schema_rec_catalog_endpoint, id, e, "endpoint");
}

int
idstore_endpoint_put(struct store_txn *txn,
    const struct rec_catalog_endpoint *e, bool replace)
{
	return simple_put(txn, &schema_rec_catalog_endpoint, e->id, e, replace,
	    "endpoint");
}

int
idstore_endpoint_del(struct store_txn *txn, const char *id)
{
	return simple_del(txn, T_CATALOG_ENDPOINTS, id, "endpoint");
}

int
idstore_region_get(struct store_txn *txn, const char *id, struct rec_region *r)
{
	return rec_get(txn, &schema_rec_region, id, r, "region");
}

int
idstore_region_put(struct store_txn *txn, const struct rec_region *r,
    bool replace)
{
	return simple_put(txn, &schema_rec_region, r->id, r, replace,
	    "region");
}

int
idstore_region_del(struct store_txn *txn, const char *id)
{
	return simple_del(txn, T_REGIONS, id, "region");
}

/* ---- iteration ---------------------------------------------------------- */

struct each {
	const struct schema_type *type;
	void	*obj;
	int	(*cb)(const void *, void *);
	void	*arg;
};

static int
each_rec(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct each *e = arg;
	int rc;

	memset(e->obj, 0, e->type->size);
	if (codec_record_decode(e->type, v, vl, e->obj, NULL) == -1) {
		log_warnx("idstore: skipping undecodable %s record: %s",
		    e->type->name, err_msg());
		return 0;
	}
	rc = e->cb(e->obj, e->arg);
	codec_clear(e->type, e->obj);
	return rc;
}

int
idstore_each(struct store_txn *txn, const struct schema_type *type,
    int (*cb)(const void *, void *), void *arg)
{
	struct each e = { type, NULL, cb, arg };
	int rc;

	if ((e.obj = calloc(1, type->size)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	rc = store_iter(txn, type->table, NULL, 0, each_rec, &e);
	free(e.obj);
	return rc;
}

/* ---- revocation events -------------------------------------------------- */

static void
hex16(char out[TOKEN_ID_STR_LEN + 1], const uint8_t in[TOKEN_ID_LEN])
{
	size_t i;

	for (i = 0; i < TOKEN_ID_LEN; i++)
		snprintf(out + i * 2, 3, "%02x", in[i]);
}

static int
unhex16(const char *s, uint8_t out[TOKEN_ID_LEN])
{
	size_t i;
	unsigned v;

	if (s == NULL || strlen(s) != TOKEN_ID_STR_LEN)
		return -1;
	for (i = 0; i < TOKEN_ID_LEN; i++) {
		if (sscanf(s + i * 2, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int
idstore_revocation_seq(struct store_txn *txn, uint64_t *seq)
{
	const uint8_t *v;
	const void *vp;
	size_t vl, i;

	*seq = 0;
	if (store_get(txn, STORE_META_TABLE, META_REVOKE_SEQ,
	    strlen(META_REVOKE_SEQ), &vp, &vl) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (vl != 8) {
		err_set(TS_EDECODE, "meta %s: %zu bytes", META_REVOKE_SEQ, vl);
		return -1;
	}
	v = vp;
	for (i = 0; i < 8; i++)
		*seq = *seq << 8 | v[i];
	return 0;
}

int
idstore_revocation_add(struct store_txn *txn, const struct revoke_event *ev,
    int64_t now_ms, uint64_t *seqp)
{
	struct rec_revocation r = { 0 };
	char audit[TOKEN_ID_STR_LEN + 1], user[TOKEN_ID_BUFSZ],
	    project[TOKEN_ID_BUFSZ], key[17];
	uint8_t be[8];
	uint64_t seq;
	size_t i;

	r.kind = (uint32_t)ev->kind;
	switch (ev->kind) {
	case REVOKE_AUDIT_ID:
		hex16(audit, ev->audit_id);
		r.audit_id = audit;
		break;
	case REVOKE_USER:
		token_id_format(ev->user_id, user);
		r.user_id = user;
		break;
	case REVOKE_PROJECT:
		token_id_format(ev->project_id, project);
		r.project_id = project;
		break;
	case REVOKE_USER_PROJECT:
		token_id_format(ev->user_id, user);
		token_id_format(ev->project_id, project);
		r.user_id = user;
		r.project_id = project;
		break;
	default:
		err_set(TS_EINVALID, "revocation of unknown kind %d",
		    (int)ev->kind);
		return -1;
	}
	r.issued_before_ms = (int64_t)ev->issued_before_ms;
	r.created_at = now_ms;
	if (idstore_revocation_seq(txn, &seq) == -1)
		return -1;
	seq++;
	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(seq >> (56 - 8 * i));
	if (store_put(txn, STORE_META_TABLE, META_REVOKE_SEQ,
	    strlen(META_REVOKE_SEQ), be, sizeof(be), 0) == -1)
		return -1;
	snprintf(key, sizeof(key), "%016llx", (unsigned long long)seq);
	if (db_rec_put(txn, T_REVOCATIONS, key, &schema_rec_revocation, &r,
	    STORE_NOOVERWRITE) == -1)
		return -1;
	if (seqp != NULL)
		*seqp = seq;
	return 0;
}

/* The stored form back to an event; -1 if it does not make one. */
static int
rev_event(const struct rec_revocation *r, struct revoke_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = (enum revoke_kind)r->kind;
	ev->issued_before_ms = (uint64_t)r->issued_before_ms;
	switch (ev->kind) {
	case REVOKE_AUDIT_ID:
		return unhex16(r->audit_id, ev->audit_id);
	case REVOKE_USER:
		return r->user_id ? token_id_parse(r->user_id, ev->user_id) :
		    -1;
	case REVOKE_PROJECT:
		return r->project_id ? token_id_parse(r->project_id,
		    ev->project_id) : -1;
	case REVOKE_USER_PROJECT:
		if (r->user_id == NULL || r->project_id == NULL)
			return -1;
		if (token_id_parse(r->user_id, ev->user_id) == -1)
			return -1;
		return token_id_parse(r->project_id, ev->project_id);
	}
	return -1;
}

struct rev_each {
	int	(*cb)(uint64_t, const struct revoke_event *, void *);
	void	*arg;
};

static int
rev_rec(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct rev_each *re = arg;
	struct rec_revocation r;
	struct revoke_event ev;
	char key[17];
	unsigned long long seq;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	if (kl != 16) {
		log_warnx("idstore: revocation with a %zu-byte key skipped",
		    kl);
		return 0;
	}
	memcpy(key, k, 16);
	key[16] = '\0';
	seq = strtoull(key, NULL, 16);
	if (codec_record_decode(&schema_rec_revocation, v, vl, &r, NULL) ==
	    -1) {
		log_warnx("idstore: skipping undecodable revocation %s: %s",
		    key, err_msg());
		return 0;
	}
	if (rev_event(&r, &ev) == -1)
		log_warnx("idstore: skipping malformed revocation %s", key);
	else
		rc = re->cb((uint64_t)seq, &ev, re->arg);
	codec_clear(&schema_rec_revocation, &r);
	return rc;
}

int
idstore_revocation_each(struct store_txn *txn, uint64_t after,
    int (*cb)(uint64_t, const struct revoke_event *, void *), void *arg)
{
	struct rev_each re = { cb, arg };
	char key[17];

	if (after == 0)
		return store_iter(txn, T_REVOCATIONS, NULL, 0, rev_rec, &re);
	snprintf(key, sizeof(key), "%016llx", (unsigned long long)after);
	return store_iter_after(txn, T_REVOCATIONS, NULL, 0, key, 16, rev_rec,
	    &re);
}

struct prune {
	int64_t	 before_ms;
	char	(*keys)[17];
	size_t	 n, cap;
};

static int
prune_rec(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct prune *p = arg;
	struct rec_revocation r;
	char (*nk)[17];
	bool old;

	if (kl != 16)
		return 0;
	memset(&r, 0, sizeof(r));
	/* An undecodable record can match nothing; it goes too. */
	old = codec_record_decode(&schema_rec_revocation, v, vl, &r, NULL) ==
	    -1 || r.issued_before_ms < p->before_ms;
	codec_clear(&schema_rec_revocation, &r);
	if (!old)
		return 0;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		if ((nk = realloc(p->keys, p->cap * sizeof(*nk))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		p->keys = nk;
	}
	memcpy(p->keys[p->n], k, 16);
	p->keys[p->n][16] = '\0';
	p->n++;
	return 0;
}

int
idstore_revocation_prune(struct store_txn *txn, int64_t before_ms, size_t *n)
{
	struct prune p = { before_ms, NULL, 0, 0 };
	size_t i;
	int rc;

	rc = store_iter(txn, T_REVOCATIONS, NULL, 0, prune_rec, &p);
	for (i = 0; rc == 0 && i < p.n; i++)
		rc = store_del(txn, T_REVOCATIONS, p.keys[i], 16);
	free(p.keys);
	if (rc == 0 && n != NULL)
		*n = p.n;
	return rc;
}
