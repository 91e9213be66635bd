/*
 * compute_db_test: the servers list order of controller/compute_db.c over
 * a real LMDB store: compute_db_instance_each_newest() walks one project or all
 * of them newest first (created_at desc, uuid desc), resumes after a
 * marker, reads only what the callback takes, and instances_by_created
 * follows every compute_db_instance_put()/compute_db_instance_del(). The schema-5 step
 * of `db sync` (controller/db.c) builds the index for instances stored
 * before it existed. The status filter's walk (compute_db_instance_each_state(),
 * instances_by_state) answers what the full walk filtered answers, across
 * state changes, markers and deletes; the schema-14 step builds its index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include "uuid.h"

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
	/* A marker newer or older than all of a scope. */
	assert_string_equal(walk("p1", U("9"), 0), "dbcae");
	assert_string_equal(walk(NULL, U("9"), 0), "dbfcae");
	assert_string_equal(walk("p", U("9"), 0), "");
	assert_string_equal(walk("p", U("e"), 0), "");
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

	/* Stored ascending: older sorts first; on a tie, the smaller uuid
	 * first (the list walks it backwards). */
	l1 = db_instance_created_key(k1, "p", 2000, U("a"));
	l2 = db_instance_created_key(k2, "p", 1000, U("a"));
	assert_int_equal(l1, 2 + 16 + CODEC_UUID_LEN);
	assert_int_equal(l1, l2);
	assert_true(memcmp(k2, k1, l1) < 0);
	assert_memory_equal(k1, "p\0" "00000000000007d0" U("a"), l1);
	l2 = db_instance_created_key(k2, "p", 2000, U("b"));
	assert_true(memcmp(k1, k2, l1) < 0);
	/* A negative time sorts as 0, not as the newest. */
	l2 = db_instance_created_key(k2, "p", -5, U("a"));
	assert_true(memcmp(k2, k1, l1) < 0);
	assert_memory_equal(k2, "p\0" "0000000000000000" U("a"), l2);
	/* The all-projects family starts with the NUL. */
	l1 = db_instance_created_key(k1, "", 1, U("a"));
	assert_int_equal(l1, 1 + 16 + CODEC_UUID_LEN);
	assert_int_equal(k1[0], '\0');
	/* A scope longer than a project id is refused. */
	memset(scope, 'x', sizeof(scope) - 1);
	scope[sizeof(scope) - 1] = '\0';
	assert_int_equal(db_instance_created_key(k1, scope, 1, U("a")), 0);

	/* The list-order form (instances_by_state; instances_by_created up
	 * to schema 16): newer sorts first; on a tie, the greater uuid. */
	l1 = db_instance_desc_key(k1, "p", 2000, U("a"));
	l2 = db_instance_desc_key(k2, "p", 1000, U("a"));
	assert_int_equal(l1, 2 + 16 + CODEC_UUID_LEN);
	assert_int_equal(l1, l2);
	assert_true(memcmp(k1, k2, l1) < 0);
	l2 = db_instance_desc_key(k2, "p", 2000, U("b"));
	assert_true(memcmp(k2, k1, l1) < 0);
	l2 = db_instance_desc_key(k2, "p", -5, U("a"));
	assert_true(memcmp(k1, k2, l1) < 0);
	l1 = db_instance_desc_key(k1, "", 1, U("a"));
	assert_int_equal(l1, 1 + 16 + CODEC_UUID_LEN);
	assert_int_equal(k1[0], '\0');
	assert_int_equal(db_instance_desc_key(k1, scope, 1, U("a")), 0);
}

/* ---- the status filter's index ----------------------------------------- */

struct sstate {
	const char	*vm, *task;
};

static int
set_state_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;	/* uuid, vm_state, task_state (NULL) */
	struct rec_instance i, old;
	int rc;

	if (compute_db_instance_get(txn, a[0], &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, a[0], &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.vm_state);
	free(i.task_state);
	i.vm_state = strdup(a[1]);
	i.task_state = a[2] ? strdup(a[2]) : NULL;
	i.updated_at++;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static void
set_state(const char *uuid, const char *vm, const char *task)
{
	const char *a[3] = { uuid, vm, task };

	assert_int_equal(store_write(st, set_state_fn, a), 0);
}

static int
sput_fn(struct store_txn *txn, void *arg)
{
	const void **a = arg;	/* struct mk *, vm_state, task_state */
	struct rec_instance i;

	fill(&i, a[0]);
	i.vm_state = (char *)a[1];
	i.task_state = (char *)a[2];
	return compute_db_instance_put(txn, &i, NULL);
}

static void
sput(const char *uuid, int64_t created, const char *vm, const char *task)
{
	struct mk m = { uuid, "ps", created, "h1" };
	const void *a[3] = { &m, vm, task };

	assert_int_equal(store_write(st, sput_fn, a), 0);
}

/* A filter: vm_states, and task states (NULL: any). */
struct sfilter {
	const char	*vms[4];
	size_t		 nvm;
	const char	*tasks[6];
	size_t		 ntasks;	/* 0: any */
};

static const struct sfilter sfilters[] = {
	{ { "active" }, 1, { NULL }, 0 },
	{ { "active" }, 1, { "rebooting" }, 1 },
	{ { "stopped" }, 1, { NULL }, 0 },
	{ { "active", "stopped" }, 2, { "resize_prep", "resize_migrating",
	    "resize_migrated", "resize_finish" }, 4 },
	{ { "resized" }, 1, { "resize_reverting" }, 1 },
	{ { "resized" }, 1, { NULL }, 0 },
	{ { "active", "stopped", "error" }, 3, { NULL }, 0 },
	{ { "stopped", "active" }, 2, { "rebooting", "resize_prep" }, 2 },
	{ { "building" }, 1, { NULL }, 0 },
	{ { "rescued" }, 1, { NULL }, 0 },
};
#define NSFILTERS	(sizeof(sfilters) / sizeof(sfilters[0]))

struct fwalk {
	struct walk		 w;
	const struct sfilter	*f;
};

static bool
sf_match(const struct sfilter *f, const struct rec_instance *i)
{
	bool vm = false, task = f->ntasks == 0;

	for (size_t k = 0; k < f->nvm; k++)
		vm = vm || strcmp(i->vm_state, f->vms[k]) == 0;
	for (size_t k = 0; i->task_state && k < f->ntasks; k++)
		task = task || strcmp(i->task_state, f->tasks[k]) == 0;
	return vm && task;
}

static int
fwalk_cb(const struct rec_instance *i, void *arg)
{
	struct fwalk *fw = arg;

	if (!sf_match(fw->f, i))
		return 0;
	return walk_cb(i, &fw->w);
}

/* Filter f over project (NULL: all) after marker, stopping after stop_at
 * matches: through the index (index true) or the full walk filtered. */
static const char *
fwalk(bool index, const struct sfilter *f, const char *project,
    const char *marker, size_t stop_at)
{
	static struct fwalk fw;
	struct store_txn *txn = NULL;
	struct rec_instance m;

	memset(&fw, 0, sizeof(fw));
	fw.w.stop_at = stop_at;
	fw.f = f;
	assert_int_equal(store_read_begin(st, &txn), 0);
	if (marker)
		assert_int_equal(compute_db_instance_get(txn, marker, &m), 0);
	if (index)
		assert_int_equal(compute_db_instance_each_state(txn, project,
		    f->vms, f->nvm, f->ntasks ? f->tasks : NULL, f->ntasks,
		    marker ? &m : NULL, fwalk_cb, &fw), 0);
	else
		assert_int_equal(compute_db_instance_each_newest(txn, project,
		    marker ? &m : NULL, fwalk_cb, &fw), 0);
	if (marker)
		codec_clear(&schema_rec_instance, &m);
	store_txn_end(&txn);
	return fw.w.seen;
}

static const char *const smarkers[] = { NULL, U("1"), U("2"), U("3"),
    U("4"), U("5"), U("6"), U("7"), U("8"), U("9"), U("a"), U("e") };
#define NSMARKERS	(sizeof(smarkers) / sizeof(smarkers[0]))

static bool
exists(const char *uuid)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	bool yes;

	if (uuid == NULL)
		return true;
	assert_int_equal(store_read_begin(st, &txn), 0);
	yes = compute_db_instance_get(txn, uuid, &i) == 0;
	if (yes)
		codec_clear(&schema_rec_instance, &i);
	store_txn_end(&txn);
	return yes;
}

/* Every filter, scope, marker and stop: the index's answer is the full
 * walk's. */
static void
same_as_walk(void)
{
	char want[64];

	for (size_t f = 0; f < NSFILTERS; f++)
		for (size_t m = 0; m < NSMARKERS; m++)
			for (size_t stop = 0; exists(smarkers[m]) && stop < 3;
			    stop++) {
				const char *sc[2] = { "ps", NULL };

				for (int k = 0; k < 2; k++) {
					snprintf(want, sizeof(want), "%s",
					    fwalk(false, &sfilters[f], sc[k],
					    smarkers[m], stop));
					assert_string_equal(fwalk(true,
					    &sfilters[f], sc[k], smarkers[m],
					    stop), want);
				}
			}
	/* each instance has its two entries, no more */
	assert_int_equal(count(T_INSTANCES_BY_STATE), 2 * count(T_INSTANCES));
}

static void
test_state_index(void **state)
{
	sput(U("1"), 1010, "active", NULL);
	sput(U("2"), 1020, "active", "rebooting");
	sput(U("3"), 1030, "stopped", NULL);
	sput(U("4"), 1040, "stopped", "resize_prep");
	sput(U("5"), 1050, "error", NULL);
	sput(U("6"), 1060, "resized", "resize_reverting");
	sput(U("7"), 1070, "active", "spawning");
	sput(U("8"), 1080, "building", NULL);
	/* what the filters answer, spelled out once */
	assert_string_equal(fwalk(true, &sfilters[0], "ps", NULL, 0), "721");
	assert_string_equal(fwalk(true, &sfilters[1], "ps", NULL, 0), "2");
	assert_string_equal(fwalk(true, &sfilters[2], "ps", NULL, 0), "43");
	assert_string_equal(fwalk(true, &sfilters[3], "ps", NULL, 0), "4");
	assert_string_equal(fwalk(true, &sfilters[4], "ps", NULL, 0), "6");
	assert_string_equal(fwalk(true, &sfilters[6], "ps", NULL, 0),
	    "754321");
	assert_string_equal(fwalk(true, &sfilters[7], "ps", NULL, 0), "42");
	assert_string_equal(fwalk(true, &sfilters[6], "ps", U("4"), 2), "32");
	assert_string_equal(fwalk(true, &sfilters[9], NULL, NULL, 0), "");
	same_as_walk();

	/* state changes move the entries: into and out of a task the filter
	 * names, between vm_states, and tasks it does not name */
	set_state(U("3"), "active", NULL);
	set_state(U("2"), "active", NULL);
	set_state(U("7"), "active", "rebooting");
	set_state(U("8"), "active", "spawning");
	set_state(U("6"), "active", NULL);
	set_state(U("1"), "stopped", "powering-off");
	assert_string_equal(fwalk(true, &sfilters[0], "ps", NULL, 0), "87632");
	assert_string_equal(fwalk(true, &sfilters[1], "ps", NULL, 0), "7");
	assert_string_equal(fwalk(true, &sfilters[2], "ps", NULL, 0), "41");
	same_as_walk();

	/* a delete takes both entries */
	assert_int_equal(store_write(st, del_fn, U("4")), 0);
	assert_string_equal(fwalk(true, &sfilters[2], "ps", NULL, 0), "1");
	same_as_walk();
}

/* A database of schema 13 has no instances_by_state: the version-14 step
 * builds it, the same keys as the puts wrote. */
struct bigkeyset {
	char	(*k)[DB_INSTANCE_STATE_KEY_MAX];
	size_t	*kl, n;
};

static int
bigcollect_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct bigkeyset *ks = arg;

	assert_true(ks->n < 256 && kl <= DB_INSTANCE_STATE_KEY_MAX);
	memcpy(ks->k[ks->n], k, kl);
	ks->kl[ks->n++] = kl;
	return 0;
}

static int
downgrade13_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v13[4] = { 0, 0, 0, 13 };
	struct bigkeyset *ks = arg;

	for (size_t j = 0; j < ks->n; j++)
		if (store_del(txn, T_INSTANCES_BY_STATE, ks->k[j],
		    ks->kl[j]) == -1)
			return -1;
	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v13, 4,
	    0);
}

static void
test_state_migration(void **state)
{
	static char k1[256][DB_INSTANCE_STATE_KEY_MAX], k2[256][DB_INSTANCE_STATE_KEY_MAX];
	static size_t l1[256], l2[256];
	struct bigkeyset a = { k1, l1, 0 }, b = { k2, l2, 0 };
	struct store_txn *txn = NULL;
	uint32_t v;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_iter(txn, T_INSTANCES_BY_STATE, NULL, 0,
	    bigcollect_fn, &a), 0);
	store_txn_end(&txn);
	assert_true(a.n >= 2 * 7);
	assert_int_equal(store_write(st, downgrade13_fn, &a), 0);
	assert_int_equal(count(T_INSTANCES_BY_STATE), 0);
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, 13);
	assert_int_equal(db_check_version(st), -1);

	assert_int_equal(db_sync(st), 0);
	assert_int_equal(db_check_version(st), 0);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_iter(txn, T_INSTANCES_BY_STATE, NULL, 0,
	    bigcollect_fn, &b), 0);
	store_txn_end(&txn);
	assert_int_equal(b.n, a.n);
	for (size_t j = 0; j < a.n; j++) {
		assert_int_equal(l1[j], l2[j]);
		assert_memory_equal(k1[j], k2[j], l1[j]);
	}
	same_as_walk();
}

static void
test_state_key_format(void **state)
{
	char k1[DB_INSTANCE_STATE_KEY_MAX], k2[DB_INSTANCE_STATE_KEY_MAX];
	char c[DB_INSTANCE_CREATED_KEY_MAX], p[DB_INSTANCE_STATE_KEY_MAX];
	char long_task[DB_INSTANCE_STATE_PART_MAX + 2];
	size_t l1, l2, cl, pl;

	/* prefix + the (ascending) created key's order part */
	l1 = db_instance_state_key(k1, "p", "active", "rebooting", 2000, U("a"));
	pl = db_instance_state_prefix(p, "p", "active", "rebooting");
	cl = db_instance_created_key(c, "", 2000, U("a"));
	assert_int_equal(pl, strlen("p") + strlen("active") +
	    strlen("rebooting") + 3);
	assert_int_equal(l1, pl + cl - 1);
	assert_memory_equal(k1, p, pl);
	assert_memory_equal(k1 + pl, c + 1, cl - 1);
	/* a task the filter never names is keyed as none */
	l1 = db_instance_state_key(k1, "p", "active", "spawning", 2000, U("a"));
	l2 = db_instance_state_key(k2, "p", "active", NULL, 2000, U("a"));
	assert_int_equal(l1, l2);
	assert_memory_equal(k1, k2, l1);
	/* older first within a stream (walked backwards); on a tie, the
	 * lesser uuid */
	l2 = db_instance_state_key(k2, "p", "active", NULL, 1000, U("a"));
	assert_true(memcmp(k2, k1, l1) < 0);
	l2 = db_instance_state_key(k2, "p", "active", NULL, 2000, U("b"));
	assert_true(memcmp(k1, k2, l1) < 0);
	assert_memory_equal(k1, "p\0active\0\0" "00000000000007d0" U("a"), l1);
	/* too long a part: 0 (a task too long is none: not in the list) */
	memset(long_task, 'x', sizeof(long_task) - 1);
	long_task[sizeof(long_task) - 1] = '\0';
	assert_int_equal(db_instance_state_key(k1, "p", long_task, NULL, 1,
	    U("a")), 0);
	assert_int_equal(db_instance_state_prefix(k1, "p", "active",
	    long_task), 0);
}

/* Schema 15 stores records keyed by field number: a store written by name
 * (as before) is rewritten by the version-15 step, reads back equal, byte
 * for byte what the new code writes, and smaller; a value the step cannot
 * prove it converts losslessly (an unknown key here) is left as stored. */
#define CM_MAX	64
#define JUNK_KEY	"zz-not-an-instance"
struct cmset {
	const struct schema_type *t;
	char	 k[CM_MAX][64];
	size_t	 kl[CM_MAX];
	struct buf v[CM_MAX];	/* as stored */
	size_t	 n;
};

static int
cm_collect(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct cmset *c = arg;

	assert_true(c->n < CM_MAX && kl <= sizeof(c->k[0]));
	memcpy(c->k[c->n], k, kl);
	c->kl[c->n] = kl;
	c->v[c->n].len = 0;
	assert_int_equal(buf_append(&c->v[c->n], v, vl), 0);
	c->n++;
	return 0;
}

static void
cm_read(struct cmset *c, const struct schema_type *t)
{
	struct store_txn *txn = NULL;

	c->t = t;
	c->n = 0;
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_iter(txn, t->table, NULL, 0, cm_collect, c), 0);
	store_txn_end(&txn);
}

/* Rewrite every value of the set by name, [version, {name: ...}]. */
static int
downgrade14_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v14[4] = { 0, 0, 0, 14 };
	struct cmset **sets = arg;
	struct buf b = { 0 };
	void *obj;

	for (; *sets != NULL; sets++)
		for (size_t j = 0; j < (*sets)->n; j++) {
			const struct schema_type *t = (*sets)->t;

			assert_non_null(obj = codec_new(t));
			assert_int_equal(codec_record_decode(t,
			    (*sets)->v[j].data, (*sets)->v[j].len, obj, NULL), 0);
			b.len = 0;
			assert_int_equal(buf_append(&b, "\x92", 1), 0);
			assert_int_equal(buf_append(&b,
			    &(uint8_t){ (uint8_t)t->version }, 1), 0);
			assert_int_equal(codec_encode(t, obj, &b), 0);
			codec_free(t, &obj);
			assert_int_equal(store_put(txn, t->table, (*sets)->k[j],
			    (*sets)->kl[j], b.data, b.len, 0), 0);
		}
	buf_free(&b);
	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v14, 4,
	    0);
}

static void
hv_fill(struct rec_hypervisor *h)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->id, sizeof(h->id), "%s", U("9"));
	h->host = "h1";
	h->hypervisor_type = "QEMU";
	h->libvirt_uri = "qemu:///system";
	h->cpu_model = "host";
	h->cpu_arch = "x86_64";
	h->vcpus = 8;
	h->memory_mb = 16384;
	h->tunnel_ip = "127.0.0.1";
	h->updated_at = 1234;
}

static void
guests_fill(struct rec_hypervisor_guests *gl, struct sch_guest g[2])
{
	memset(gl, 0, sizeof(*gl));
	memset(g, 0, 2 * sizeof(*g));
	for (int j = 0; j < 2; j++) {
		snprintf(g[j].uuid, sizeof(g[j].uuid), "%s", j ? U("1") : U("2"));
		g[j].name = "instance-1";
		g[j].state = "running";
		g[j].power_state = 1;
		g[j].vcpus = 1;
		g[j].memory_mb = 512;
	}
	gl->host = "h1";
	gl->updated_at = 1234;
	gl->guests.items = g;
	gl->guests.n = 2;
}

static int
hv_put_fn(struct store_txn *txn, void *arg)
{
	struct rec_hypervisor h;

	hv_fill(&h);
	return store_rec_put(txn, NULL, h.id, strlen(h.id),
	    &schema_rec_hypervisor, &h, 0);
}

/* An instance stored by name with a key this schema does not know. */
static int
junk_put_fn(struct store_txn *txn, void *arg)
{
	struct buf *b = arg;

	return store_put(txn, T_INSTANCES, JUNK_KEY, strlen(JUNK_KEY), b->data,
	    b->len, 0);
}

static int
junk_del_fn(struct store_txn *txn, void *arg)
{
	return store_del(txn, T_INSTANCES, JUNK_KEY, strlen(JUNK_KEY));
}

static void
test_compact_migration(void **state)
{
	static struct cmset inst, hv, after;
	struct cmset *sets[] = { &inst, &hv, NULL };
	struct buf junk = { 0 };
	struct store_txn *txn = NULL;
	const void *v;
	size_t vl, named = 0, numbered = 0;
	uint32_t ver;
	void *a, *b;

	if (store_write(st, hv_put_fn, NULL) != 0)
		fail_msg("hypervisor: %s", err_msg());
	cm_read(&inst, &schema_rec_instance);
	cm_read(&hv, &schema_rec_hypervisor);
	assert_true(inst.n >= 4);
	assert_int_equal(hv.n, 1);
	assert_int_equal(store_write(st, downgrade14_fn, sets), 0);
	assert_int_equal(store_schema_version(st, &ver), 0);
	assert_int_equal(ver, 14);
	assert_int_equal(db_check_version(st), -1);

	/* One more value by name: the first instance's plus a key
	 * "zzz": nil at the end (the map header counts one more entry). */
	cm_read(&after, &schema_rec_instance);
	assert_int_equal(buf_append(&junk, after.v[0].data, after.v[0].len),
	    0);
	if (junk.data[2] == 0xde) {		/* map 16: most instances */
		assert_true(junk.data[4] < 0xff);
		junk.data[4]++;
	} else {
		assert_true(junk.data[2] >= 0x80 && junk.data[2] < 0x8f);
		junk.data[2]++;
	}
	assert_int_equal(buf_append(&junk, "\xa3zzz\xc0", 5), 0);
	assert_int_equal(store_write(st, junk_put_fn, &junk), 0);

	/* The named store is what the step reads: every value larger. */
	cm_read(&after, &schema_rec_instance);
	for (size_t j = 0; j < after.n; j++)
		if (after.kl[j] != strlen(JUNK_KEY) ||
		    memcmp(after.k[j], JUNK_KEY, after.kl[j]) != 0)
			named += after.v[j].len;

	assert_int_equal(db_sync(st), 0);
	assert_int_equal(db_check_version(st), 0);
	for (struct cmset **s = sets; *s != NULL; s++) {
		cm_read(&after, (*s)->t);
		for (size_t j = 0, i = 0; j < after.n; j++) {
			if (after.kl[j] == strlen(JUNK_KEY) &&
			    memcmp(after.k[j], JUNK_KEY, after.kl[j]) == 0)
				continue;
			assert_true(i < (*s)->n);
			assert_int_equal(after.kl[j], (*s)->kl[i]);
			assert_memory_equal(after.k[j], (*s)->k[i],
			    after.kl[j]);
			/* Byte for byte what the new code wrote. */
			assert_int_equal(after.v[j].len, (*s)->v[i].len);
			assert_memory_equal(after.v[j].data, (*s)->v[i].data,
			    after.v[j].len);
			if (*s == &inst)
				numbered += after.v[j].len;
			i++;
		}
	}
	/* The value with the unknown key: as stored, and still read. */
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_get(txn, T_INSTANCES, JUNK_KEY, strlen(JUNK_KEY),
	    &v, &vl), 0);
	assert_int_equal(vl, junk.len);
	assert_memory_equal(v, junk.data, vl);
	assert_non_null(a = codec_new(&schema_rec_instance));
	assert_non_null(b = codec_new(&schema_rec_instance));
	assert_int_equal(codec_record_decode(&schema_rec_instance, v, vl, a,
	    NULL), 0);
	assert_int_equal(codec_record_decode(&schema_rec_instance,
	    inst.v[0].data, inst.v[0].len, b, NULL), 0);
	store_txn_end(&txn);
	assert_string_equal(((struct rec_instance *)a)->uuid,
	    ((struct rec_instance *)b)->uuid);
	codec_free(&schema_rec_instance, &a);
	codec_free(&schema_rec_instance, &b);
	assert_true(numbered > 0 && numbered < named);
	print_message("instances: %zu bytes by name, %zu by number\n", named,
	    numbered);
	for (size_t j = 0; j < CM_MAX; j++) {
		buf_free(&inst.v[j]);
		buf_free(&hv.v[j]);
		buf_free(&after.v[j]);
	}
	buf_free(&junk);
	assert_int_equal(store_write(st, junk_del_fn, NULL), 0);
	same_as_walk();
}

/* Stores value at the hypervisor's key and the schema version 15, and
 * drops any guest list of h1: a store as schema 15 left it. */
static int
hv_v3_put_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v15[4] = { 0, 0, 0, 15 };
	struct buf *b = arg;

	if (store_del(txn, T_HYPERVISOR_GUESTS, "h1", 2) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	if (store_put(txn, T_HYPERVISORS, U("9"), strlen(U("9")), b->data,
	    b->len, 0) == -1)
		return -1;
	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v15, 4,
	    0);
}

/* 15 -> 16: a hypervisor record of version 3 with its guest list (field
 * 15) becomes version 4 without it, byte for byte what the new code
 * writes, and the list moves to hypervisor_guests under the host. */
static void
test_hv_guests_migration(void **state)
{
	struct rec_hypervisor h, back;
	struct rec_hypervisor_guests gl, got;
	struct sch_guest g[2];
	struct buf v4 = { 0 }, v3 = { 0 }, glb = { 0 };
	struct store_txn *txn = NULL;
	const uint8_t *raw;
	const void *v;
	size_t rawlen, vl;
	uint32_t ver;

	hv_fill(&h);
	guests_fill(&gl, g);
	assert_int_equal(codec_record_encode(&schema_rec_hypervisor, &h, &v4),
	    0);
	assert_int_equal(codec_record_encode(&schema_rec_hypervisor_guests,
	    &gl, &glb), 0);
	/* Version 3: the same map with one more entry, 15: [guests]. */
	assert_int_equal(codec_record_raw_field(glb.data, glb.len, 2, "guests",
	    &raw, &rawlen), 0);
	assert_int_equal(buf_append(&v3, v4.data, v4.len), 0);
	assert_int_equal(v3.data[1], 4);
	v3.data[1] = 3;
	if (v3.data[2] == 0xde) {		/* map 16 */
		assert_true(v3.data[4] < 0xff);
		v3.data[4]++;
	} else {
		assert_true(v3.data[2] >= 0x80 && v3.data[2] < 0x8f);
		v3.data[2]++;
	}
	assert_int_equal(buf_append(&v3, "\x0f", 1), 0);
	assert_int_equal(buf_append(&v3, raw, rawlen), 0);
	/* What schema 15 stored still reads, without the list. */
	assert_int_equal(codec_record_decode(&schema_rec_hypervisor, v3.data,
	    v3.len, &back, &ver), 0);
	assert_int_equal(ver, 3);
	assert_string_equal(back.host, "h1");
	codec_clear(&schema_rec_hypervisor, &back);

	assert_int_equal(store_write(st, hv_v3_put_fn, &v3), 0);
	assert_int_equal(db_check_version(st), -1);
	assert_int_equal(db_sync(st), 0);
	assert_int_equal(db_check_version(st), 0);

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_get(txn, T_HYPERVISORS, U("9"), strlen(U("9")),
	    &v, &vl), 0);
	assert_int_equal(vl, v4.len);
	assert_memory_equal(v, v4.data, vl);
	assert_int_equal(store_get(txn, T_HYPERVISOR_GUESTS, "h1", 2, &v, &vl),
	    0);
	assert_int_equal(vl, glb.len);
	assert_memory_equal(v, glb.data, vl);
	assert_int_equal(db_hypervisor_guests_get(txn, "h1", &got), 0);
	store_txn_end(&txn);
	assert_string_equal(got.host, "h1");
	assert_int_equal(got.updated_at, 1234);
	assert_int_equal(got.guests.n, 2);
	assert_string_equal(got.guests.items[0].uuid, U("2"));
	assert_string_equal(got.guests.items[1].uuid, U("1"));
	assert_int_equal(got.guests.items[1].memory_mb, 512);
	print_message("hypervisor: %zu bytes with its guests, %zu without\n",
	    v3.len, v4.len);
	codec_clear(&schema_rec_hypervisor_guests, &got);
	buf_free(&v4);
	buf_free(&v3);
	buf_free(&glb);
}

/* ---- 16 -> 17: instances_by_created ascending ----------------------------- */

#define NENT	128
#define ENT_KEY_MAX	(DB_INSTANCE_STATE_KEY_MAX > \
    DB_INSTANCE_CREATED_KEY_MAX ? DB_INSTANCE_STATE_KEY_MAX : \
    DB_INSTANCE_CREATED_KEY_MAX)

/* The entries of an index (instances_by_created, instances_by_state), in
 * key order. */
struct entset {
	char	k[NENT][ENT_KEY_MAX];
	size_t	kl[NENT];
	char	u[NENT][CODEC_UUID_LEN + 1];
	size_t	n;
};

static int
ent_collect(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct entset *es = arg;

	assert_true(es->n < NENT && kl <= ENT_KEY_MAX &&
	    vl <= CODEC_UUID_LEN);
	memcpy(es->k[es->n], k, kl);
	es->kl[es->n] = kl;
	memcpy(es->u[es->n], v, vl);
	es->u[es->n][vl] = '\0';
	es->n++;
	return 0;
}

static void
index_entries(const char *table, struct entset *es)
{
	struct store_txn *txn = NULL;

	memset(es, 0, sizeof(*es));
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_iter(txn, table, NULL, 0, ent_collect, es), 0);
	store_txn_end(&txn);
}

static void
entries(struct entset *es)
{
	index_entries(T_INSTANCES_BY_CREATED, es);
}

/* The time part of an ascending key. */
static int64_t
key_time(const char *k)
{
	char hex[17];

	memcpy(hex, k + strlen(k) + 1, 16);
	hex[16] = '\0';
	return (int64_t)strtoull(hex, NULL, 16);
}

/* What schema 16 left: every entry under its descending key, and one
 * entry no key parser would take. */
static int
v16_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v16[4] = { 0, 0, 0, 16 };
	struct entset *es = arg;
	char k[DB_INSTANCE_CREATED_KEY_MAX];
	size_t kl;

	for (size_t j = 0; j < es->n; j++) {
		if (store_del(txn, T_INSTANCES_BY_CREATED, es->k[j],
		    es->kl[j]) == -1)
			return -1;
		kl = db_instance_desc_key(k, es->k[j], key_time(es->k[j]),
		    es->u[j]);
		if (kl == 0 || store_put(txn, T_INSTANCES_BY_CREATED, k, kl,
		    es->u[j], strlen(es->u[j]), 0) == -1)
			return -1;
	}
	if (store_put(txn, T_INSTANCES_BY_CREATED, "junk", 4, U("a"),
	    strlen(U("a")), 0) == -1)
		return -1;
	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v16, 4,
	    0);
}

static int
v16_only_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v16[4] = { 0, 0, 0, 16 };

	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v16, 4,
	    0);
}

/* ---- db purge ------------------------------------------------------------ */

struct act {
	const char	*uuid, *reqid;
	int64_t		 start, finish;	/* finish 0: no event */
};

static int
act_fn(struct store_txn *txn, void *arg)
{
	const struct act *x = arg;
	struct sch_action_event ev = { .event = "compute__do", .start_time =
	    x->start, .finish_time = x->finish, .result = "Success" };
	struct rec_instance_action a = { .request_id = (char *)x->reqid,
	    .action = "create", .user_id = "u", .project_id = "p1",
	    .start_time = x->start };

	snprintf(a.instance_uuid, sizeof(a.instance_uuid), "%s", x->uuid);
	if (x->finish) {
		a.events.items = &ev;
		a.events.n = 1;
	}
	return compute_db_action_put(txn, &a);
}

struct mig {
	const char	*uuid;
	int64_t		 at;
};

static int
mig_fn(struct store_txn *txn, void *arg)
{
	const struct mig *x = arg;
	struct rec_migration m = { .migration_type = "migration",
	    .status = "finished", .created_at = x->at, .updated_at = x->at };

	snprintf(m.uuid, sizeof(m.uuid), "%s", x->uuid);
	snprintf(m.instance_uuid, sizeof(m.instance_uuid), "%s", x->uuid);
	return compute_db_migration_add(txn, &m);
}

struct purge_arg {
	int64_t			 before;
	bool			 dry;
	struct compute_db_purged out;
};

static int
purge_fn(struct store_txn *txn, void *arg)
{
	struct purge_arg *p = arg;

	return compute_db_purge(txn, p->before, p->dry, &p->out);
}

/*
 * `db purge`: a gone server's actions go all together once its newest
 * time (an event's finish counts) is before the cut; a live server's
 * never; migrations of gone servers go, but the highest id stays (the
 * next id counts from it); a dry run counts the same and removes nothing.
 */
static void
test_purge(void **state)
{
	struct purge_arg p = { .before = 800, .dry = true };
	struct rec_instance_action ra;
	struct rec_migration m;
	struct store_txn *txn = NULL;

	(void)state;
	put(U("a"), "p1", 100);
	put(U("b"), "p1", 100);
	assert_int_equal(store_write(st, act_fn, &(struct act){ U("a"),
	    "req-a1", 100, 0 }), 0);
	assert_int_equal(store_write(st, act_fn, &(struct act){ U("b"),
	    "req-b1", 100, 0 }), 0);
	assert_int_equal(store_write(st, act_fn, &(struct act){ U("b"),
	    "req-b2", 500, 900 }), 0);
	assert_int_equal(store_write(st, mig_fn, &(struct mig){ U("b"), 100 }),
	    0);
	assert_int_equal(store_write(st, mig_fn, &(struct mig){ U("a"), 100 }),
	    0);
	assert_int_equal(store_write(st, mig_fn, &(struct mig){ U("b"), 200 }),
	    0);
	assert_int_equal(store_write(st, del_fn, U("b")), 0);
	assert_int_equal(count(T_INSTANCE_ACTIONS), 3);
	assert_int_equal(count(T_MIGRATIONS), 3);

	/* b's newest is its event's finish, 900: its actions stay; its
	 * first migration goes, its second is the highest id */
	assert_int_equal(store_write(st, purge_fn, &p), 0);
	assert_int_equal(p.out.servers, 0);
	assert_int_equal(p.out.actions, 0);
	assert_int_equal(p.out.migrations, 1);
	assert_int_equal(count(T_MIGRATIONS), 3);	/* dry */
	p.dry = false;
	assert_int_equal(store_write(st, purge_fn, &p), 0);
	assert_int_equal(p.out.migrations, 1);
	assert_int_equal(count(T_INSTANCE_ACTIONS), 3);
	assert_int_equal(count(T_MIGRATIONS), 2);

	p.before = 1000;
	assert_int_equal(store_write(st, purge_fn, &p), 0);
	assert_int_equal(p.out.servers, 1);
	assert_int_equal(p.out.actions, 2);
	assert_int_equal(p.out.migrations, 0);
	assert_int_equal(count(T_INSTANCE_ACTIONS), 1);
	assert_int_equal(count(T_MIGRATIONS), 2);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_action_get(txn, U("a"), "req-a1", &ra), 0);
	codec_clear(&schema_rec_instance_action, &ra);
	assert_int_equal(compute_db_migration_get(txn, 2, &m), 0);
	assert_string_equal(m.instance_uuid, U("a"));
	codec_clear(&schema_rec_migration, &m);
	assert_int_equal(compute_db_migration_get(txn, 3, &m), 0);
	codec_clear(&schema_rec_migration, &m);
	store_txn_end(&txn);
	/* the next id is still 4 */
	assert_int_equal(store_write(st, mig_fn, &(struct mig){ U("a"), 300 }),
	    0);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_migration_get(txn, 4, &m), 0);
	codec_clear(&schema_rec_migration, &m);
	store_txn_end(&txn);
	assert_int_equal(store_write(st, del_fn, U("a")), 0);
}

/*
 * A store of schema 16 holds instances_by_created descending; the 16 -> 17
 * step rewrites every entry ascending (a malformed one dropped), and the
 * list walks, with and without markers, answer as before. A second run of
 * the step (ascending keys at version 16) leaves the keys as they are.
 */
static void
test_created_asc_migration(void **state)
{
	static const char *scopes[] = { NULL, "p1", "p2", "ps", "p" };
	static const char *markers[] = { NULL, U("d"), U("b"), U("e"),
	    U("f"), U("1") };
	char want[5][6][64];
	struct entset a, d, b;
	uint32_t v;

	put(U("0"), "p2", 250);		/* ties with f */
	for (size_t s = 0; s < 5; s++)
		for (size_t m = 0; m < 6; m++)
			snprintf(want[s][m], sizeof(want[s][m]), "%s",
			    exists(markers[m]) ? walk(scopes[s], markers[m],
			    0) : "-");
	entries(&a);
	assert_true(a.n >= 2 * 8 && a.n == 2 * count(T_INSTANCES));
	/* ascending: each scope's times never decrease */
	for (size_t j = 1; j < a.n; j++)
		if (strcmp(a.k[j], a.k[j - 1]) == 0)
			assert_true(key_time(a.k[j]) >= key_time(a.k[j - 1]));

	assert_int_equal(store_write(st, v16_fn, &a), 0);
	assert_int_equal(db_check_version(st), -1);
	entries(&d);
	assert_int_equal(d.n, a.n + 1);
	assert_int_equal(db_sync(st), 0);
	assert_int_equal(db_check_version(st), 0);
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, DB_SCHEMA_VERSION);
	/* the same keys and values as the new code writes; junk gone */
	entries(&b);
	assert_int_equal(b.n, a.n);
	for (size_t j = 0; j < a.n; j++) {
		assert_int_equal(b.kl[j], a.kl[j]);
		assert_memory_equal(b.k[j], a.k[j], a.kl[j]);
		assert_string_equal(b.u[j], a.u[j]);
	}
	for (size_t s = 0; s < 5; s++)
		for (size_t m = 0; m < 6; m++)
			if (exists(markers[m]))
				assert_string_equal(walk(scopes[s], markers[m],
				    0), want[s][m]);

	/* Run twice: ascending keys at version 16 stay. */
	assert_int_equal(store_write(st, v16_only_fn, NULL), 0);
	assert_int_equal(db_sync(st), 0);
	entries(&b);
	assert_int_equal(b.n, a.n);
	for (size_t j = 0; j < a.n; j++)
		assert_memory_equal(b.k[j], a.k[j], a.kl[j]);
	assert_string_equal(walk(NULL, NULL, 0), want[0][0]);
}

/* ---- 17 -> 18: instances_by_state ascending ---------------------------- */

/* The length of a state key's prefix (scope, vm_state, task and their
 * NULs). */
static size_t
sprefix_len(const char *k)
{
	size_t pl = 0;

	for (int part = 0; part < 3; part++)
		pl += strlen(k + pl) + 1;
	return pl;
}

/* What schema 17 left: every entry under its key with the descending
 * order part (db_instance_desc_key()'s), and four no parser would take. */
static int
v17_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v17[4] = { 0, 0, 0, 17 };
	static const char notime[] = "ps\0active\0\0" "zzzzzzzzzzzzzzzz" "u";
	static const char shortk[] = "ps\0active\0\0" "0123";
	/* a vm_state longer than DB_INSTANCE_STATE_PART_MAX */
	static const char longvm[] = "ps\0" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\0\0" "0000000000000001" "u";
	struct entset *es = arg;
	char k[DB_INSTANCE_STATE_KEY_MAX], hex[17];
	size_t pl, cl;

	for (size_t j = 0; j < es->n; j++) {
		if (store_del(txn, T_INSTANCES_BY_STATE, es->k[j],
		    es->kl[j]) == -1)
			return -1;
		pl = sprefix_len(es->k[j]);
		memcpy(hex, es->k[j] + pl, 16);
		hex[16] = '\0';
		memcpy(k, es->k[j], pl);
		cl = db_instance_desc_key(k + pl - 1, "",
		    (int64_t)strtoull(hex, NULL, 16), es->u[j]);
		if (cl == 0 || store_put(txn, T_INSTANCES_BY_STATE, k,
		    pl - 1 + cl, es->u[j], strlen(es->u[j]), 0) == -1)
			return -1;
	}
	if (store_put(txn, T_INSTANCES_BY_STATE, "junk", 4, U("a"),
	    strlen(U("a")), 0) == -1 ||
	    store_put(txn, T_INSTANCES_BY_STATE, notime, sizeof(notime) - 1,
	    U("a"), strlen(U("a")), 0) == -1 ||
	    store_put(txn, T_INSTANCES_BY_STATE, shortk, sizeof(shortk) - 1,
	    U("a"), strlen(U("a")), 0) == -1 ||
	    store_put(txn, T_INSTANCES_BY_STATE, longvm, sizeof(longvm) - 1,
	    U("a"), strlen(U("a")), 0) == -1)
		return -1;
	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v17, 4,
	    0);
}

static int
v17_only_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v17[4] = { 0, 0, 0, 17 };

	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v17, 4,
	    0);
}

/* Every filter, scope ("ps", all) and marker, without a stop, as a table
 * of answers ("-": the marker does not exist). */
typedef char sanswers[NSFILTERS][NSMARKERS][2][64];

static void
sanswer(sanswers out)
{
	const char *sc[2] = { "ps", NULL };

	for (size_t f = 0; f < NSFILTERS; f++)
		for (size_t m = 0; m < NSMARKERS; m++)
			for (int k = 0; k < 2; k++)
				snprintf(out[f][m][k], sizeof(out[f][m][k]),
				    "%s", exists(smarkers[m]) ? fwalk(true,
				    &sfilters[f], sc[k], smarkers[m], 0) : "-");
}

/*
 * The status filter's edges, then a store of schema 17 (instances_by_state
 * with descending order parts): the 17 -> 18 step rewrites every entry
 * ascending (malformed ones dropped), the filter answers as before, and a
 * second run leaves the keys as they are.
 */
static void
test_state_asc_migration(void **state)
{
	static sanswers want, got;
	static struct entset a, d, b;	/* large: not on the stack */
	uint32_t v;

	/* 9 ties with 5 (error) at 1050 in a stream of its own: the merge
	 * orders the tie by uuid across streams */
	sput(U("9"), 1050, "stopped", "rebooting");
	same_as_walk();
	/* stopped: 9 (stopped/rebooting), 1 (stopped/powering-off: no task
	 * in the key) */
	assert_string_equal(fwalk(true, &sfilters[2], "ps", NULL, 0), "91");
	/* a marker on a stream's newest, its oldest, the tie across
	 * streams, newer and older than everything, in another project */
	assert_string_equal(fwalk(true, &sfilters[2], "ps", U("9"), 0), "1");
	assert_string_equal(fwalk(true, &sfilters[2], "ps", U("1"), 0), "");
	assert_string_equal(fwalk(true, &sfilters[2], "ps", U("5"), 0), "1");
	assert_string_equal(fwalk(true, &sfilters[2], "ps", U("8"), 0), "91");
	assert_string_equal(fwalk(true, &sfilters[2], "ps", U("e"), 0), "");
	assert_string_equal(fwalk(true, &sfilters[2], "ps", U("a"), 0), "");
	/* three vm_states merged, six streams; stopped after one and two */
	assert_string_equal(fwalk(true, &sfilters[6], "ps", NULL, 0),
	    "87695321");
	assert_string_equal(fwalk(true, &sfilters[6], "ps", U("9"), 0),
	    "5321");
	assert_string_equal(fwalk(true, &sfilters[6], "ps", U("6"), 2), "95");
	assert_string_equal(fwalk(true, &sfilters[6], "ps", U("1"), 0), "");
	/* rebooting under active or stopped: the tie's other side */
	assert_string_equal(fwalk(true, &sfilters[7], "ps", NULL, 0), "79");
	assert_string_equal(fwalk(true, &sfilters[7], "ps", U("7"), 0), "9");
	sanswer(want);

	index_entries(T_INSTANCES_BY_STATE, &a);
	assert_true(a.n >= 2 * 9 && a.n == 2 * count(T_INSTANCES));
	assert_int_equal(store_write(st, v17_fn, &a), 0);
	assert_int_equal(db_check_version(st), -1);
	index_entries(T_INSTANCES_BY_STATE, &d);
	assert_int_equal(d.n, a.n + 4);
	assert_int_equal(db_sync(st), 0);
	assert_int_equal(db_check_version(st), 0);
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, 18);
	/* the same keys and values as the new code writes; junk gone */
	index_entries(T_INSTANCES_BY_STATE, &b);
	assert_int_equal(b.n, a.n);
	for (size_t j = 0; j < a.n; j++) {
		assert_int_equal(b.kl[j], a.kl[j]);
		assert_memory_equal(b.k[j], a.k[j], a.kl[j]);
		assert_string_equal(b.u[j], a.u[j]);
	}
	sanswer(got);
	assert_memory_equal(got, want, sizeof(want));
	same_as_walk();

	/* Run twice: ascending keys at version 17 stay. */
	assert_int_equal(store_write(st, v17_only_fn, NULL), 0);
	assert_int_equal(db_sync(st), 0);
	index_entries(T_INSTANCES_BY_STATE, &b);
	assert_int_equal(b.n, a.n);
	for (size_t j = 0; j < a.n; j++)
		assert_memory_equal(b.k[j], a.k[j], a.kl[j]);
	sanswer(got);
	assert_memory_equal(got, want, sizeof(want));
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

/* New servers' ids: canonical, version 7, RFC variant, and in creation
 * order by their leading 48 bits of milliseconds. */
static void
test_uuid_ordered(void **state)
{
	char a[37], b[37];

	(void)state;
	db_uuid_ordered(a);
	db_uuid_ordered(b);
	assert_true(uuid_valid(a) && uuid_valid(b));
	assert_int_equal(a[14], '7');
	assert_non_null(strchr("89ab", a[19]));
	assert_true(strncmp(a, b, 13) <= 0);
	assert_string_not_equal(a, b);
}

int
main(void)
{
	/* Each test builds on the store the previous ones left. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_uuid_ordered),
		cmocka_unit_test(test_order_and_scope),
		cmocka_unit_test(test_marker_and_stop),
		cmocka_unit_test(test_maintained_on_put_and_del),
		cmocka_unit_test(test_migration_builds_index),
		cmocka_unit_test(test_host_stamps),
		cmocka_unit_test(test_state_key_format),
		cmocka_unit_test(test_state_index),
		cmocka_unit_test(test_state_migration),
		cmocka_unit_test(test_compact_migration),
		cmocka_unit_test(test_hv_guests_migration),
		cmocka_unit_test(test_created_asc_migration),
		cmocka_unit_test(test_state_asc_migration),
		cmocka_unit_test(test_purge),
	};

	log_init("compute_db_test", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
