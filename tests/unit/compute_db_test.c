/*
 * compute_db_test: the servers list order of controller/compute_db.c over
 * a real LMDB store: compute_db_instance_each_newest() walks one project or all
 * of them newest first (created_at desc, uuid desc), resumes after a
 * marker, reads only what the callback takes, and instances_by_created
 * follows every compute_db_instance_put()/compute_db_instance_del(). The schema-5 step
 * of `db sync` (controller/db.c) builds the index for instances stored
 * before it existed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "compute/compute_db.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "store.h"

static char		 dir[] = "/tmp/compute_db_test.XXXXXX";
static struct store	*st;

/* ---- fixtures ------------------------------------------------------------ */

struct mk {
	const char	*uuid;
	const char	*project;
	int64_t		 created;
	const char	*host;
};

static void
fill(struct rec_instance *i, const struct mk *m)
{
	memset(i, 0, sizeof(*i));
	snprintf(i->uuid, sizeof(i->uuid), "%s", m->uuid);
	i->name = "vm";
	i->project_id = (char *)m->project;
	i->user_id = "u";
	i->reservation_id = "r-1";
	i->hostname = "vm";
	i->flavor.id = "1";
	i->flavor.name = "m1";
	i->image_ref = "";
	i->availability_zone = "nova";
	i->host = (char *)m->host;
	i->vm_state = "active";
	i->created_at = m->created;
}

static int
put_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance i;

	fill(&i, arg);
	return compute_db_instance_put(txn, &i, NULL);
}

static void
put(const char *uuid, const char *project, int64_t created)
{
	struct mk m = { uuid, project, created, "h1" };

	assert_int_equal(store_write(st, put_fn, &m), 0);
}

static int
del_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance i;
	int rc;

	if (compute_db_instance_get(txn, arg, &i) == -1)
		return -1;
	rc = compute_db_instance_del(txn, &i);
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

/* An update that keeps the sort keys: the entries must stay single. */
static int
touch_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance i, old;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, arg, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	i.power_state = 4;
	i.updated_at = i.created_at + 5;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* Walk results: the uuids seen (first letters suffice: all differ). */
struct walk {
	char	seen[64];
	size_t	n, stop_at;
};

static int
walk_cb(const struct rec_instance *i, void *arg)
{
	struct walk *w = arg;

	w->seen[w->n++] = i->uuid[0];
	w->seen[w->n] = '\0';
	return w->stop_at && w->n == w->stop_at ? 1 : 0;
}

/* The walk of project (NULL: all) after marker (NULL: from the newest),
 * stopping after stop_at records (0: all), as a string of first letters. */
static const char *
walk(const char *project, const char *marker, size_t stop_at)
{
	static struct walk w;
	struct store_txn *txn = NULL;
	struct rec_instance m;

	memset(&w, 0, sizeof(w));
	w.stop_at = stop_at;
	assert_int_equal(store_read_begin(st, &txn), 0);
	if (marker)
		assert_int_equal(compute_db_instance_get(txn, marker, &m), 0);
	assert_int_equal(compute_db_instance_each_newest(txn, project,
	    marker ? &m : NULL, walk_cb, &w), 0);
	if (marker)
		codec_clear(&schema_rec_instance, &m);
	store_txn_end(&txn);
	return w.seen;
}

static size_t
count(const char *table)
{
	struct store_txn *txn = NULL;
	size_t n;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_count(txn, table, &n), 0);
	store_txn_end(&txn);
	return n;
}

#define U(c)	c "0000000-0000-4000-8000-000000000000"

/* p1: a (t=100), b (t=300), c (t=200), d (t=300: ties with b, its uuid is
 * greater so it comes first), e (t=50); p2: f (t=250). */
static void
fixture(void)
{
	put(U("a"), "p1", 100);
	put(U("b"), "p1", 300);
	put(U("c"), "p1", 200);
	put(U("d"), "p1", 300);
	put(U("e"), "p1", 50);
	put(U("f"), "p2", 250);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_order_and_scope(void **state)
{
	fixture();
	assert_string_equal(walk("p1", NULL, 0), "dbcae");
	assert_string_equal(walk("p2", NULL, 0), "f");
	assert_string_equal(walk(NULL, NULL, 0), "dbfcae");
	assert_string_equal(walk("p3", NULL, 0), "");
	/* A project whose id is a prefix of another's sees only its own. */
	put(U("9"), "p", 400);
	assert_string_equal(walk("p", NULL, 0), "9");
	assert_string_equal(walk("p1", NULL, 0), "dbcae");
	assert_int_equal(count(T_INSTANCES_BY_CREATED), 2 * 7);
}

static void
test_marker_and_stop(void **state)
{
	/* After a marker: strictly after its place, also on a tie. */
	assert_string_equal(walk("p1", U("d"), 0), "bcae");
	assert_string_equal(walk("p1", U("b"), 0), "cae");
	assert_string_equal(walk("p1", U("e"), 0), "");
	/* The marker's place counts, not its project. */
	assert_string_equal(walk("p1", U("f"), 0), "cae");
	assert_string_equal(walk(NULL, U("f"), 0), "cae");
	/* The callback's stop ends the walk: only that many are read. */
	assert_string_equal(walk(NULL, NULL, 2), "9d");
	assert_string_equal(walk("p1", U("b"), 1), "c");
}

static void
test_maintained_on_put_and_del(void **state)
{
	/* Updates that keep created_at leave exactly two entries each. */
	assert_int_equal(store_write(st, touch_fn, U("c")), 0);
	assert_int_equal(count(T_INSTANCES_BY_CREATED), 2 * 7);
	assert_string_equal(walk("p1", NULL, 0), "dbcae");
	/* Deleting removes both entries. */
	assert_int_equal(store_write(st, del_fn, U("b")), 0);
	assert_int_equal(count(T_INSTANCES_BY_CREATED), 2 * 6);
	assert_string_equal(walk("p1", NULL, 0), "dcae");
	assert_string_equal(walk(NULL, NULL, 0), "9dfcae");
	assert_int_equal(store_write(st, del_fn, U("9")), 0);
	assert_string_equal(walk("p", NULL, 0), "");
}

/* The snapshot id of a fresh read transaction. */
static uint64_t
snap_id(void)
{
	struct store_txn *txn = NULL;
	uint64_t id;

	assert_int_equal(store_read_begin(st, &txn), 0);
	id = store_txn_id(txn);
	store_txn_end(&txn);
	return id;
}

/* compute_db_host_changed_txn(): a write naming a host stamps it with an
 * id that the snapshots before it are below and the ones after it reach;
 * a host not named keeps its stamp. */
static void
test_host_stamps(void **state)
{
	struct mk m = { "00000000-0000-4000-8000-0000000000aa", "p9", 1000,
	    "hs1" };
	uint64_t before = snap_id(), other = compute_db_host_changed_txn("hs2");

	assert_true(compute_db_host_changed_txn("hs1") <= before);
	assert_int_equal(store_write(st, put_fn, &m), 0);
	assert_true(compute_db_host_changed_txn("hs1") > before);
	assert_true(compute_db_host_changed_txn("hs1") <= snap_id());
	before = snap_id();
	assert_int_equal(store_write(st, touch_fn, (void *)m.uuid), 0);
	assert_true(compute_db_host_changed_txn("hs1") > before);
	before = snap_id();
	assert_int_equal(store_write(st, del_fn, (void *)m.uuid), 0);
	assert_true(compute_db_host_changed_txn("hs1") > before);
	assert_true(compute_db_host_changed_txn("hs1") <= snap_id());
	/* (hs2 shares no slot with hs1: FNV-1a of both differ mod 16384) */
	assert_int_equal(compute_db_host_changed_txn("hs2"), other);
}

/* A database of schema 4 has instances but no instances_by_created: the
 * version-5 step of db sync indexes them. */
struct keyset {
	char	k[32][DB_INSTANCE_CREATED_KEY_MAX];
	size_t	kl[32], n;
};

static int
downgrade_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v4[4] = { 0, 0, 0, 4 };
	struct keyset *ks = arg;

	for (size_t j = 0; j < ks->n; j++)
		if (store_del(txn, T_INSTANCES_BY_CREATED, ks->k[j],
		    ks->kl[j]) == -1)
			return -1;
	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v4, 4,
	    0);
}

static int
collect_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct keyset *ks = arg;

	assert_true(ks->n < 32 && kl <= DB_INSTANCE_CREATED_KEY_MAX);
	memcpy(ks->k[ks->n], k, kl);
	ks->kl[ks->n++] = kl;
	return 0;
}

static void
test_migration_builds_index(void **state)
{
	struct keyset ks = { .n = 0 };
	struct store_txn *txn = NULL;
	uint32_t v;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_iter(txn, T_INSTANCES_BY_CREATED, NULL, 0,
	    collect_fn, &ks), 0);
	store_txn_end(&txn);
	assert_int_equal(ks.n, 2 * 5);
	assert_int_equal(store_write(st, downgrade_fn, &ks), 0);
	assert_int_equal(count(T_INSTANCES_BY_CREATED), 0);
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(db_check_version(st), -1);

	assert_int_equal(db_sync(st), 0);
	assert_int_equal(db_check_version(st), 0);
	assert_int_equal(count(T_INSTANCES_BY_CREATED), 2 * 5);
	assert_string_equal(walk("p1", NULL, 0), "dcae");
	assert_string_equal(walk(NULL, NULL, 0), "dfcae");
	assert_string_equal(walk("p1", U("c"), 0), "ae");
	/* A second sync has nothing to do and changes nothing. */
	assert_int_equal(db_sync(st), 0);
	assert_int_equal(count(T_INSTANCES_BY_CREATED), 2 * 5);
}

static void
test_key_format(void **state)
{
	char k1[DB_INSTANCE_CREATED_KEY_MAX], k2[DB_INSTANCE_CREATED_KEY_MAX];
	char scope[DB_INSTANCE_CREATED_SCOPE_MAX + 2];
	size_t l1, l2;

	/* Newer sorts first; on a tie, the greater uuid first. */
	l1 = db_instance_created_key(k1, "p", 2000, U("a"));
	l2 = db_instance_created_key(k2, "p", 1000, U("a"));
	assert_int_equal(l1, 2 + 16 + CODEC_UUID_LEN);
	assert_int_equal(l1, l2);
	assert_true(memcmp(k1, k2, l1) < 0);
	l2 = db_instance_created_key(k2, "p", 2000, U("b"));
	assert_true(memcmp(k2, k1, l1) < 0);
	/* A negative time sorts as 0, not as the newest. */
	l2 = db_instance_created_key(k2, "p", -5, U("a"));
	assert_true(memcmp(k1, k2, l1) < 0);
	/* The all-projects family starts with the NUL. */
	l1 = db_instance_created_key(k1, "", 1, U("a"));
	assert_int_equal(l1, 1 + 16 + CODEC_UUID_LEN);
	assert_int_equal(k1[0], '\0');
	/* A scope longer than a project id is refused. */
	memset(scope, 'x', sizeof(scope) - 1);
	scope[sizeof(scope) - 1] = '\0';
	assert_int_equal(db_instance_created_key(k1, scope, 1, U("a")), 0);
}

static int
setup(void **state)
{
	struct store_opts so = { 0 };

	assert_non_null(mkdtemp(dir));
	so.path = dir;
	so.tables = db_tables;
	so.map_size = 64 << 20;
	assert_non_null(st = store_open(&so));
	assert_int_equal(db_sync(st), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	store_free(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

int
main(void)
{
	/* Each test builds on the store the previous ones left. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_order_and_scope),
		cmocka_unit_test(test_marker_and_stop),
		cmocka_unit_test(test_maintained_on_put_and_del),
		cmocka_unit_test(test_migration_builds_index),
		cmocka_unit_test(test_host_stamps),
	};

	log_init("compute_db_test", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
