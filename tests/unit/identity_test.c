/*
 * identity_test: the identity logic that needs no HTTP, against a real LMDB
 * environment with the controller's tables: name uniqueness per scope
 * (projects, domains, users, roles) and renames, role-assignment filtering
 * through each access path and the cascades of deletes, effective roles
 * with the implied defaults, revocation events (sequence, catch-up,
 * pruning), endpoint URL templates, and catalog rendering in the v3 and
 * v2.0 shapes.
 */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "identity/identity_int.h"
#include "identity/idstore.h"
#include "log.h"
#include "msg_gen.h"
#include "store.h"

struct fx {
	char		 dir[64];
	struct store	*st;
	struct store_txn *w;	/* open write transaction, if any */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_opts o = { .tables = db_tables };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/identity_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	o.path = f->dir;
	if ((f->st = store_open(&o)) == NULL)
		fail_msg("store_open: %s", err_msg());
	assert_int_equal(store_write_begin(f->st, &f->w), 0);
	*state = f;
	return 0;
}

static int
rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(p);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_txn_end(&f->w);
	store_free(&f->st);
	assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* ---- builders (static strings: records are only read by the store) ------ */

static void
put_domain(struct store_txn *t, const char *id, const char *name)
{
	struct rec_project d = { 0 };

	d.id = (char *)id;
	d.name = (char *)name;
	d.is_domain = true;
	d.enabled = true;
	if (idstore_project_put(t, &d, NULL) == -1)
		fail_msg("domain %s: %s", id, err_msg());
}

static int
put_project(struct store_txn *t, const char *id, const char *domain,
    const char *name)
{
	struct rec_project p = { 0 };

	p.id = (char *)id;
	p.name = (char *)name;
	p.domain_id = (char *)domain;
	p.parent_id = (char *)domain;
	p.enabled = true;
	return idstore_project_put(t, &p, NULL);
}

static int
put_user(struct store_txn *t, const char *id, const char *domain,
    const char *name)
{
	struct rec_user u = { 0 };

	u.id = (char *)id;
	u.name = (char *)name;
	u.domain_id = (char *)domain;
	u.enabled = true;
	return idstore_user_put(t, &u, NULL);
}

static int
put_role(struct store_txn *t, const char *id, const char *name)
{
	struct rec_role r = { 0 };

	r.id = (char *)id;
	r.name = (char *)name;
	return idstore_role_put(t, &r, NULL);
}

#define U1	"11111111111111111111111111111111"
#define U2	"22222222222222222222222222222222"
#define P1	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define P2	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"
#define D2	"dddddddddddddddddddddddddddddddd"
#define RA	"ffffffffffffffffffffffffffffff01"	/* admin */
#define RM	"ffffffffffffffffffffffffffffff02"	/* member */
#define RR	"ffffffffffffffffffffffffffffff03"	/* reader */
#define RC	"ffffffffffffffffffffffffffffff04"	/* custom */

/* ---- names -------------------------------------------------------------- */

static void
test_unique_names(void **state)
{
	struct fx *f = *state;
	struct rec_project p, old;
	struct rec_user u;

	put_domain(f->w, IDSTORE_DEFAULT_DOMAIN, "Default");
	put_domain(f->w, D2, "other");
	assert_int_equal(put_project(f->w, P1, "default", "demo"), 0);
	/* Same name, same domain: conflict; another domain: fine. */
	assert_int_equal(put_project(f->w, P2, "default", "demo"), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(put_project(f->w, P2, D2, "demo"), 0);
	/* A project may share a domain's name: separate namespaces. */
	assert_int_equal(put_project(f->w,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3", "default", "other"), 0);
	/* The same id twice: conflict. */
	assert_int_equal(put_project(f->w, P1, D2, "x"), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);

	assert_int_equal(idstore_project_find(f->w, D2, "demo", &p), 0);
	assert_string_equal(p.id, P2);
	codec_clear(&schema_rec_project, &p);
	assert_int_equal(idstore_project_find(f->w, NULL, "other", &p), 0);
	assert_string_equal(p.id, D2);
	assert_true(p.is_domain);
	codec_clear(&schema_rec_project, &p);
	assert_int_equal(idstore_project_find(f->w, "default", "nope", &p),
	    -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_string_equal(err_msg(), "Could not find project: nope.");

	/* Rename: onto a taken name fails, to a free one moves the index. */
	assert_int_equal(idstore_project_get(f->w, P1, &old), 0);
	assert_int_equal(idstore_project_get(f->w, P1, &p), 0);
	free(p.name);
	p.name = strdup("other");
	assert_int_equal(idstore_project_put(f->w, &p, &old), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	free(p.name);
	p.name = strdup("renamed");
	assert_int_equal(idstore_project_put(f->w, &p, &old), 0);
	codec_clear(&schema_rec_project, &p);
	codec_clear(&schema_rec_project, &old);
	assert_int_equal(idstore_project_find(f->w, "default", "renamed", &p),
	    0);
	codec_clear(&schema_rec_project, &p);
	assert_int_equal(idstore_project_find(f->w, "default", "demo", &p), -1);
	assert_int_equal(put_project(f->w, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4",
	    "default", "demo"), 0);
	/* A domain is not a project when asked for a domain, and back. */
	assert_int_equal(idstore_domain_get(f->w, P1, &p), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_string_equal(err_msg(), "Could not find domain: " P1 ".");

	/* Users: unique per domain. */
	assert_int_equal(put_user(f->w, U1, "default", "alice"), 0);
	assert_int_equal(put_user(f->w, U2, "default", "alice"), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(put_user(f->w, U2, D2, "alice"), 0);
	assert_int_equal(idstore_user_find(f->w, D2, "alice", &u), 0);
	assert_string_equal(u.id, U2);
	assert_int_equal(idstore_user_del(f->w, &u), 0);
	codec_clear(&schema_rec_user, &u);
	/* The name is free again once the user is gone. */
	assert_int_equal(put_user(f->w, U2, D2, "alice"), 0);

	/* Roles: global names unique. */
	assert_int_equal(put_role(f->w, RA, "admin"), 0);
	assert_int_equal(put_role(f->w, RM, "admin"), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
}

/* Two stores racing through group commit: one of the two creates wins. */
struct race {
	struct store	*st;
	const char	*id;
	int		 rc;
	enum ts_errcode	 code;
};

static int
race_fn(struct store_txn *t, void *arg)
{
	struct race *r = arg;

	return put_user(t, r->id, "default", "racer");
}

static void *
race_thread(void *arg)
{
	struct race *r = arg;

	r->rc = store_write(r->st, race_fn, r);
	r->code = err_code();
	return NULL;
}

static void
test_concurrent_create(void **state)
{
	struct fx *f = *state;
	static const char *ids[8] = {
		"00000000000000000000000000000001", "00000000000000000000000000000002",
		"00000000000000000000000000000003", "00000000000000000000000000000004",
		"00000000000000000000000000000005", "00000000000000000000000000000006",
		"00000000000000000000000000000007", "00000000000000000000000000000008",
	};
	struct race r[8];
	pthread_t th[8];
	int i, ok = 0, conflict = 0;

	put_domain(f->w, IDSTORE_DEFAULT_DOMAIN, "Default");
	assert_int_equal(store_txn_commit(&f->w), 0);
	for (i = 0; i < 8; i++) {
		r[i].st = f->st;
		r[i].id = ids[i];
		assert_int_equal(pthread_create(&th[i], NULL, race_thread,
		    &r[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		if (r[i].rc == 0)
			ok++;
		else if (r[i].code == TS_ECONFLICT)
			conflict++;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(conflict, 7);
}

/* ---- assignments -------------------------------------------------------- */

struct seen {
	char	 keys[32][200];
	size_t	 n;
};

static int
seen_cb(const struct rec_assignment *a, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 32);
	snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%.4s/%c/%.4s/%s",
	    a->actor_id, a->target_type[0], a->target_id, a->role_id + 30);
	return 0;
}

static size_t
count(struct store_txn *t, const struct idstore_filter *flt, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	if (idstore_assignment_each(t, flt, seen_cb, s) == -1)
		fail_msg("assignment_each: %s", err_msg());
	return s->n;
}

static void
grants(struct store_txn *t)
{
	put_domain(t, IDSTORE_DEFAULT_DOMAIN, "Default");
	assert_int_equal(put_project(t, P1, "default", "p1"), 0);
	assert_int_equal(put_project(t, P2, "default", "p2"), 0);
	assert_int_equal(put_user(t, U1, "default", "u1"), 0);
	assert_int_equal(put_user(t, U2, "default", "u2"), 0);
	assert_int_equal(put_role(t, RA, "admin"), 0);
	assert_int_equal(put_role(t, RM, "member"), 0);
	assert_int_equal(put_role(t, RR, "reader"), 0);
	assert_int_equal(put_role(t, RC, "custom"), 0);
	assert_int_equal(idstore_grant(t, IDSTORE_USER, U1, IDSTORE_PROJECT, P1, RM, 1), 0);
	assert_int_equal(idstore_grant(t, IDSTORE_USER, U1, IDSTORE_PROJECT, P1, RC, 1), 0);
	assert_int_equal(idstore_grant(t, IDSTORE_USER, U1, IDSTORE_PROJECT, P2, RA, 1), 0);
	assert_int_equal(idstore_grant(t, IDSTORE_USER, U2, IDSTORE_PROJECT, P1, RM, 1), 0);
	assert_int_equal(idstore_grant(t, IDSTORE_USER, U2, IDSTORE_DOMAIN, "default", RC,
	    1), 0);
	assert_int_equal(idstore_grant(t, IDSTORE_USER, U1, IDSTORE_SYSTEM, "all", RA, 1),
	    0);
	/* Idempotent. */
	assert_int_equal(idstore_grant(t, IDSTORE_USER, U1, IDSTORE_PROJECT,
	    P1, RM, 1), 0);
	/* Keystone's bootstrap rules. */
	assert_int_equal(idstore_implied_put(t, RA, RM, 1), 0);
	assert_int_equal(idstore_implied_put(t, RM, RR, 1), 0);
	assert_int_equal(idstore_implied_put(t, RM, RR, 1), 0);
}

static void
test_assignment_filters(void **state)
{
	struct fx *f = *state;
	struct idstore_filter flt;
	struct seen s;

	grants(f->w);
	memset(&flt, 0, sizeof(flt));
	assert_int_equal(count(f->w, &flt, &s), 6);

	flt.user_id = U1;
	assert_int_equal(count(f->w, &flt, &s), 4);
	/* Key order: by target type letter, then target, then role. */
	assert_string_equal(s.keys[0], "1111/p/aaaa/02");	/* P1, member */
	assert_string_equal(s.keys[1], "1111/p/aaaa/04");	/* P1, custom */
	assert_string_equal(s.keys[2], "1111/p/aaaa/01");	/* P2, admin */
	assert_string_equal(s.keys[3], "1111/s/all/01");

	flt.has_target_type = true;
	flt.target_type = IDSTORE_PROJECT;
	flt.target_id = P1;
	assert_int_equal(count(f->w, &flt, &s), 2);
	assert_string_equal(s.keys[0], "1111/p/aaaa/02");
	assert_string_equal(s.keys[1], "1111/p/aaaa/04");
	flt.role_id = RC;
	assert_int_equal(count(f->w, &flt, &s), 1);

	/* Target only (index), target type without id (scan), role only. */
	memset(&flt, 0, sizeof(flt));
	flt.has_target_type = true;
	flt.target_type = IDSTORE_PROJECT;
	flt.target_id = P1;
	assert_int_equal(count(f->w, &flt, &s), 3);
	flt.target_id = NULL;
	assert_int_equal(count(f->w, &flt, &s), 4);
	flt.target_type = IDSTORE_DOMAIN;
	assert_int_equal(count(f->w, &flt, &s), 1);
	assert_string_equal(s.keys[0], "2222/d/defa/04");
	memset(&flt, 0, sizeof(flt));
	flt.role_id = RM;
	assert_int_equal(count(f->w, &flt, &s), 2);
	flt.user_id = U2;
	assert_int_equal(count(f->w, &flt, &s), 1);
	flt.user_id = "nobody";
	assert_int_equal(count(f->w, &flt, &s), 0);

	assert_int_equal(idstore_grant_check(f->w, IDSTORE_USER, U2, IDSTORE_PROJECT, P1,
	    RM), 0);
	assert_int_equal(idstore_grant_check(f->w, IDSTORE_USER, U2, IDSTORE_PROJECT, P2,
	    RM), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(idstore_grant_del(f->w, IDSTORE_USER, U2, IDSTORE_PROJECT, P1, RM),
	    0);
	assert_int_equal(idstore_grant_del(f->w, IDSTORE_USER, U2, IDSTORE_PROJECT, P1, RM),
	    -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	memset(&flt, 0, sizeof(flt));
	flt.role_id = RM;
	assert_int_equal(count(f->w, &flt, &s), 1);	/* index updated */
}

static void
test_delete_cascades(void **state)
{
	struct fx *f = *state;
	struct idstore_filter flt;
	struct rec_project p;
	struct rec_user u;
	struct rec_role r;
	struct seen s;

	grants(f->w);
	assert_int_equal(idstore_role_get(f->w, RC, &r), 0);
	assert_int_equal(idstore_role_del(f->w, &r), 0);
	codec_clear(&schema_rec_role, &r);
	memset(&flt, 0, sizeof(flt));
	assert_int_equal(count(f->w, &flt, &s), 4);
	/* The role's name is free again. */
	assert_int_equal(put_role(f->w, RC, "custom"), 0);

	assert_int_equal(idstore_project_get(f->w, P1, &p), 0);
	assert_int_equal(idstore_project_del(f->w, &p), 0);
	codec_clear(&schema_rec_project, &p);
	assert_int_equal(count(f->w, &flt, &s), 2);
	flt.has_target_type = true;
	flt.target_type = IDSTORE_PROJECT;
	flt.target_id = P1;
	assert_int_equal(count(f->w, &flt, &s), 0);

	assert_int_equal(idstore_user_get(f->w, U1, &u), 0);
	assert_int_equal(idstore_user_del(f->w, &u), 0);
	codec_clear(&schema_rec_user, &u);
	memset(&flt, 0, sizeof(flt));
	assert_int_equal(count(f->w, &flt, &s), 0);
	flt.role_id = RA;
	assert_int_equal(count(f->w, &flt, &s), 0);
	assert_int_equal(idstore_user_get(f->w, U1, &u), -1);
	assert_string_equal(err_msg(), "Could not find user: " U1 ".");
}

/* ---- effective roles ---------------------------------------------------- */

struct names {
	char	 v[8][64];
	size_t	 n;
};

static int
name_cb(const char *id, const char *name, void *arg)
{
	struct names *n = arg;

	assert_true(n->n < 8);
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", name);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
effective(struct store_txn *t, const char *user, enum idstore_target tt,
    const char *target, struct names *n)
{
	int direct;

	memset(n, 0, sizeof(*n));
	direct = idstore_roles_effective(t, user, tt, target, name_cb, n);
	qsort(n->v, n->n, sizeof(n->v[0]), cmp_str);
	return direct;
}

static void
test_effective_roles(void **state)
{
	struct fx *f = *state;
	struct names n;
	struct rec_role r;

	grants(f->w);
	/* admin implies member implies reader. */
	assert_int_equal(effective(f->w, U1, IDSTORE_PROJECT, P2, &n), 3);
	assert_int_equal(n.n, 3);
	assert_string_equal(n.v[0], "admin");
	assert_string_equal(n.v[1], "member");
	assert_string_equal(n.v[2], "reader");
	/* member + custom: reader added, nothing else. */
	assert_int_equal(effective(f->w, U1, IDSTORE_PROJECT, P1, &n), 3);
	assert_int_equal(n.n, 3);
	assert_string_equal(n.v[0], "custom");
	assert_string_equal(n.v[1], "member");
	assert_string_equal(n.v[2], "reader");
	/* A custom role alone implies nothing. */
	assert_int_equal(effective(f->w, U2, IDSTORE_DOMAIN, "default", &n), 1);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.v[0], "custom");
	/* No grant: no access. */
	assert_int_equal(effective(f->w, U2, IDSTORE_PROJECT, P2, &n), 0);
	assert_int_equal(n.n, 0);
	assert_int_equal(effective(f->w, U1, IDSTORE_SYSTEM, "all", &n), 3);
	assert_int_equal(n.n, 3);
	/* Deleting a role deletes the rules naming it: nothing is invented. */
	assert_int_equal(idstore_role_get(f->w, RR, &r), 0);
	assert_int_equal(idstore_role_del(f->w, &r), 0);
	codec_clear(&schema_rec_role, &r);
	assert_int_equal(idstore_implied_check(f->w, RM, RR), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(effective(f->w, U1, IDSTORE_PROJECT, P2, &n), 2);
	/* A rule cycle ends. */
	assert_int_equal(idstore_implied_put(f->w, RM, RA, 1), 0);
	assert_int_equal(effective(f->w, U2, IDSTORE_PROJECT, P1, &n), 2);
	assert_string_equal(n.v[0], "admin");
	assert_string_equal(n.v[1], "member");
}

#define G1	"99999999999999999999999999999991"
#define RD	"ffffffffffffffffffffffffffffff05"	/* domain role */

static void
test_groups(void **state)
{
	struct fx *f = *state;
	struct idstore_filter flt;
	struct rec_group g = { 0 }, got;
	struct rec_role r = { 0 };
	struct rec_user u;
	struct names n;
	struct seen s;

	grants(f->w);
	g.id = (char *)G1;
	g.name = (char *)"ops";
	g.domain_id = (char *)"default";
	assert_int_equal(idstore_group_put(f->w, &g, NULL), 0);
	g.id = (char *)"99999999999999999999999999999992";
	assert_int_equal(idstore_group_put(f->w, &g, NULL), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(idstore_group_find(f->w, "default", "ops", &got), 0);
	assert_string_equal(got.id, G1);
	codec_clear(&schema_rec_group, &got);

	/* U2 gets custom on P2 only through the group. */
	assert_int_equal(effective(f->w, U2, IDSTORE_PROJECT, P2, &n), 0);
	assert_int_equal(idstore_grant(f->w, IDSTORE_GROUP, G1,
	    IDSTORE_PROJECT, P2, RC, 1), 0);
	assert_int_equal(idstore_member_add(f->w, G1, U2), 0);
	assert_int_equal(idstore_member_add(f->w, G1, U2), 0);
	assert_int_equal(idstore_member_check(f->w, G1, U2), 0);
	assert_int_equal(idstore_member_check(f->w, G1, U1), -1);
	assert_int_equal(effective(f->w, U2, IDSTORE_PROJECT, P2, &n), 1);
	assert_string_equal(n.v[0], "custom");

	/* Group assignments are apart from users' in the filters. */
	memset(&flt, 0, sizeof(flt));
	flt.group_id = G1;
	assert_int_equal(count(f->w, &flt, &s), 1);
	assert_string_equal(s.keys[0], "9999/p/aaaa/04");
	flt.group_id = NULL;
	flt.role_id = RC;
	assert_int_equal(count(f->w, &flt, &s), 3);
	flt.user_id = U2;
	assert_int_equal(count(f->w, &flt, &s), 1);	/* the domain grant */

	/* A domain role only implies; it never shows itself. */
	r.id = (char *)RD;
	r.name = (char *)"dr";
	r.domain_id = (char *)"default";
	assert_int_equal(idstore_role_put(f->w, &r, NULL), 0);
	assert_int_equal(idstore_implied_put(f->w, RD, RR, 1), 0);
	assert_int_equal(idstore_grant(f->w, IDSTORE_USER, U2,
	    IDSTORE_PROJECT, P2, RD, 1), 0);
	assert_int_equal(effective(f->w, U2, IDSTORE_PROJECT, P2, &n), 2);
	assert_string_equal(n.v[0], "custom");
	assert_string_equal(n.v[1], "reader");

	/* Deleting the user drops its membership; deleting the group its
	 * grants. */
	assert_int_equal(idstore_user_get(f->w, U2, &u), 0);
	assert_int_equal(idstore_user_del(f->w, &u), 0);
	codec_clear(&schema_rec_user, &u);
	assert_int_equal(idstore_member_check(f->w, G1, U2), -1);
	assert_int_equal(idstore_group_get(f->w, G1, &got), 0);
	assert_int_equal(idstore_group_del(f->w, &got), 0);
	codec_clear(&schema_rec_group, &got);
	memset(&flt, 0, sizeof(flt));
	flt.group_id = G1;
	assert_int_equal(count(f->w, &flt, &s), 0);
	assert_int_equal(idstore_group_find(f->w, "default", "ops", &got), -1);
}

/* ---- revocation events -------------------------------------------------- */

struct evs {
	uint64_t		seq[8];
	struct revoke_event	ev[8];
	size_t			n;
};

static int
ev_cb(uint64_t seq, const struct revoke_event *ev, void *arg)
{
	struct evs *e = arg;

	assert_true(e->n < 8);
	e->seq[e->n] = seq;
	e->ev[e->n++] = *ev;
	return 0;
}

static void
test_revocations(void **state)
{
	struct fx *f = *state;
	struct revoke_event ev;
	struct evs e;
	uint64_t seq;
	size_t n;

	assert_int_equal(idstore_revocation_seq(f->w, &seq), 0);
	assert_int_equal(seq, 0);
	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_USER;
	assert_int_equal(token_id_parse(U1, ev.user_id), 0);
	ev.issued_before_ms = 1000;
	assert_int_equal(idstore_revocation_add(f->w, &ev, 1000, &seq), 0);
	assert_int_equal(seq, 1);
	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_USER_PROJECT;
	assert_int_equal(token_id_parse(U2, ev.user_id), 0);
	assert_int_equal(token_id_parse("default", ev.project_id), 0);
	ev.issued_before_ms = 2000;
	assert_int_equal(idstore_revocation_add(f->w, &ev, 2000, &seq), 0);
	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_AUDIT_ID;
	memset(ev.audit_id, 0xab, sizeof(ev.audit_id));
	ev.issued_before_ms = 3000;
	assert_int_equal(idstore_revocation_add(f->w, &ev, 3000, &seq), 0);
	assert_int_equal(seq, 3);
	ev.kind = 99;
	assert_int_equal(idstore_revocation_add(f->w, &ev, 3000, &seq), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	memset(&e, 0, sizeof(e));
	assert_int_equal(idstore_revocation_each(f->w, 0, ev_cb, &e), 0);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.ev[0].kind, REVOKE_USER);
	assert_int_equal(token_id_parse(U1, ev.user_id), 0);
	assert_memory_equal(e.ev[0].user_id, ev.user_id, TOKEN_ID_LEN);
	assert_int_equal(e.ev[1].kind, REVOKE_USER_PROJECT);
	assert_int_equal(token_id_parse("default", ev.project_id), 0);
	assert_memory_equal(e.ev[1].project_id, ev.project_id, TOKEN_ID_LEN);
	assert_int_equal(e.ev[2].kind, REVOKE_AUDIT_ID);
	assert_int_equal(e.ev[2].audit_id[15], 0xab);
	assert_int_equal(e.ev[2].issued_before_ms, 3000);

	/* Catch-up from a known sequence number. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(idstore_revocation_each(f->w, 1, ev_cb, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.seq[0], 2);
	assert_int_equal(e.seq[1], 3);
	memset(&e, 0, sizeof(e));
	assert_int_equal(idstore_revocation_each(f->w, 3, ev_cb, &e), 0);
	assert_int_equal(e.n, 0);

	/* Pruning keeps the sequence counter going. */
	assert_int_equal(idstore_revocation_prune(f->w, 2500, &n), 0);
	assert_int_equal(n, 2);
	memset(&e, 0, sizeof(e));
	assert_int_equal(idstore_revocation_each(f->w, 0, ev_cb, &e), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.seq[0], 3);
	ev.kind = REVOKE_AUDIT_ID;
	assert_int_equal(idstore_revocation_add(f->w, &ev, 4000, &seq), 0);
	assert_int_equal(seq, 4);
}

/* ---- catalog ------------------------------------------------------------ */

static void
test_catalog_url(void **state)
{
	char out[64];

	assert_int_equal(identity_catalog_url("http://h:8776/v3/%(project_id)s",
	    "abc", out, sizeof(out)), 0);
	assert_string_equal(out, "http://h:8776/v3/abc");
	assert_int_equal(identity_catalog_url("http://h/$(tenant_id)s/x/"
	    "%(tenant_id)s", "p", out, sizeof(out)), 0);
	assert_string_equal(out, "http://h/p/x/p");
	assert_int_equal(identity_catalog_url("http://h:9292", NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "http://h:9292");
	/* A project is needed and there is none: left out (1). */
	assert_int_equal(identity_catalog_url("http://h/%(project_id)s", NULL,
	    out, sizeof(out)), 1);
	/* Unknown substitution, and a result that does not fit. */
	assert_int_equal(identity_catalog_url("http://h/%(user_id)s", "p",
	    out, sizeof(out)), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(identity_catalog_url("http://h/%(project_id)s",
	    "0123456789012345678901234567890123456789012345678901234567890",
	    out, sizeof(out)), -1);
	/* A lone "%(" without ")s" is literal. */
	assert_int_equal(identity_catalog_url("http://h/%(x", "p", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "http://h/%(x");
}

static void
put_service(struct store_txn *t, const char *id, const char *type,
    const char *name, bool enabled)
{
	struct rec_catalog_service s = { 0 };

	s.id = (char *)id;
	s.type = (char *)type;
	s.name = (char *)name;
	s.enabled = enabled;
	assert_int_equal(idstore_service_put(t, &s, false), 0);
}

static void
put_endpoint(struct store_txn *t, const char *id, const char *svc,
    const char *itf, const char *region, const char *url, bool enabled)
{
	struct rec_catalog_endpoint e = { 0 };

	e.id = (char *)id;
	e.service_id = (char *)svc;
	e.interface = (char *)itf;
	e.region_id = (char *)region;
	e.url = (char *)url;
	e.enabled = enabled;
	assert_int_equal(idstore_endpoint_put(t, &e, false), 0);
}

static void
catalog_fixture(struct store_txn *t)
{
	put_service(t, "s1", "compute", "nova", true);
	put_service(t, "s2", "volumev3", "cinderv3", true);
	put_service(t, "s3", "image", NULL, false);
	put_endpoint(t, "e1", "s1", "public", "RegionOne",
	    "http://h:8774/v2.1", true);
	put_endpoint(t, "e2", "s1", "internal", "RegionOne",
	    "http://i:8774/v2.1", true);
	put_endpoint(t, "e3", "s1", "admin", "RegionTwo",
	    "http://a:8774/v2.1", true);
	put_endpoint(t, "e4", "s2", "public", "RegionOne",
	    "http://h:8776/v3/%(project_id)s", true);
	put_endpoint(t, "e5", "s1", "public", "RegionOne", "http://off", false);
	put_endpoint(t, "e6", "s3", "public", "RegionOne", "http://h:9292",
	    true);
}

static void
test_catalog_v3(void **state)
{
	struct fx *f = *state;
	json_t *c, *s, *e;
	char *txt;

	catalog_fixture(f->w);
	c = identity_catalog_v3(f->w, "proj1");
	assert_non_null(c);
	/* The disabled service is left out; ids in key order. */
	assert_int_equal(json_array_size(c), 2);
	s = json_array_get(c, 0);
	assert_string_equal(json_string_value(json_object_get(s, "id")), "s1");
	assert_string_equal(json_string_value(json_object_get(s, "type")),
	    "compute");
	assert_string_equal(json_string_value(json_object_get(s, "name")),
	    "nova");
	/* e5 is disabled. */
	assert_int_equal(json_array_size(json_object_get(s, "endpoints")), 3);
	e = json_array_get(json_object_get(s, "endpoints"), 2);
	txt = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(txt, "{\"id\":\"e3\",\"interface\":\"admin\","
	    "\"region\":\"RegionTwo\",\"region_id\":\"RegionTwo\","
	    "\"url\":\"http://a:8774/v2.1\"}");
	free(txt);
	s = json_array_get(c, 1);
	e = json_array_get(json_object_get(s, "endpoints"), 0);
	assert_string_equal(json_string_value(json_object_get(e, "url")),
	    "http://h:8776/v3/proj1");
	json_decref(c);

	/* Without a project the templated endpoint is left out; the service
	 * stays, as Keystone shows it. */
	c = identity_catalog_v3(f->w, NULL);
	assert_non_null(c);
	assert_int_equal(json_array_size(c), 2);
	s = json_array_get(c, 1);
	assert_int_equal(json_array_size(json_object_get(s, "endpoints")), 0);
	json_decref(c);
}

static void
test_catalog_v2(void **state)
{
	struct fx *f = *state;
	json_t *c, *s, *eps, *e;

	catalog_fixture(f->w);
	c = identity_catalog_v2(f->w, "proj1");
	assert_non_null(c);
	assert_int_equal(json_array_size(c), 2);
	s = json_array_get(c, 0);
	assert_null(json_object_get(s, "id"));
	assert_true(json_is_array(json_object_get(s, "endpoints_links")));
	eps = json_object_get(s, "endpoints");
	/* Grouped per region: RegionOne (public + internal), RegionTwo. */
	assert_int_equal(json_array_size(eps), 2);
	e = json_array_get(eps, 0);
	assert_string_equal(json_string_value(json_object_get(e, "region")),
	    "RegionOne");
	assert_string_equal(json_string_value(json_object_get(e, "publicURL")),
	    "http://h:8774/v2.1");
	assert_string_equal(json_string_value(json_object_get(e,
	    "internalURL")), "http://i:8774/v2.1");
	assert_null(json_object_get(e, "adminURL"));
	e = json_array_get(eps, 1);
	assert_string_equal(json_string_value(json_object_get(e, "adminURL")),
	    "http://a:8774/v2.1");
	json_decref(c);
}

static void
test_service_delete_cascade(void **state)
{
	struct fx *f = *state;
	struct rec_catalog_endpoint e;
	json_t *c;

	catalog_fixture(f->w);
	assert_int_equal(idstore_service_del(f->w, "s1"), 0);
	assert_int_equal(idstore_endpoint_get(f->w, "e1", &e), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(idstore_endpoint_get(f->w, "e4", &e), 0);
	codec_clear(&schema_rec_catalog_endpoint, &e);
	assert_int_equal(idstore_service_del(f->w, "s1"), -1);
	assert_string_equal(err_msg(), "Could not find service: s1.");
	c = identity_catalog_v3(f->w, "p");
	assert_int_equal(json_array_size(c), 1);
	json_decref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_unique_names),
		T(test_concurrent_create),
		T(test_assignment_filters),
		T(test_delete_cascades),
		T(test_effective_roles),
		T(test_groups),
		T(test_revocations),
		T(test_catalog_url),
		T(test_catalog_v3),
		T(test_catalog_v2),
		T(test_service_delete_cascade),
#undef T
	};

	log_init("identity_test", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
