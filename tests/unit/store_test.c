/*
 * store_test: the raw LMDB layer of common/store.c: CRUD, iteration,
 * indexes, migrations, group commit (batching, isolation of a failing
 * function), MAP_FULL, reader slots, reopen, and durability across kill -9.
 * Every test works in its own temporary directory, removed afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "log.h"
#include "store.h"

static const char *const tables[] = { "things", "by_status", NULL };

struct fx {
	char		 dir[64];	/* mkdtemp'd, removed in teardown */
	char		 path[96];	/* dir/db: store_open creates it */
	struct store	*st;
};

static struct store *
open_store(struct fx *f, size_t map_size)
{
	struct store_opts o = { .path = f->path, .map_size = map_size,
	    .tables = tables };
	struct store *st = store_open(&o);

	if (st == NULL)
		fail_msg("store_open: %s", err_msg());
	return st;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/store_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	*state = f;
	return 0;
}

static int
setup_open(void **state)
{
	struct fx *f;

	setup(state);
	f = *state;
	f->st = open_store(f, 0);
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

	store_free(&f->st);
	assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* --- small helpers ------------------------------------------------------ */

static void
put_str(struct store *st, const char *table, const char *k, const char *v)
{
	struct store_txn *t;

	assert_int_equal(store_write_begin(st, &t), 0);
	assert_int_equal(store_put(t, table, k, strlen(k), v, strlen(v), 0), 0);
	assert_int_equal(store_txn_commit(&t), 0);
	assert_null(t);
}

/* Returns 1 if present with value v (v NULL: any value), 0 if absent. */
static int
has_key(struct store *st, const char *table, const char *k, const char *v)
{
	struct store_txn *t;
	const void *val;
	size_t vlen;
	int rc;

	assert_int_equal(store_read_begin(st, &t), 0);
	rc = store_get(t, table, k, strlen(k), &val, &vlen);
	if (rc == -1) {
		assert_int_equal(err_code(), TS_ENOT_FOUND);
		store_txn_end(&t);
		return 0;
	}
	if (v != NULL) {
		assert_int_equal(vlen, strlen(v));
		assert_memory_equal(val, v, vlen);
	}
	store_txn_end(&t);
	return 1;
}

/* Collects keys as "k1,k2,..." for iteration tests. */
struct collect {
	char	buf[1024];
	int	n;
	int	stop_after;	/* 0: never */
	int	fail_at;	/* 0: never; else fail on the n-th key */
};

static void
collect_add(struct collect *c, const void *k, size_t klen)
{
	size_t len = strlen(c->buf);

	assert_true(len + klen + 2 < sizeof(c->buf));
	if (len > 0)
		c->buf[len++] = ',';
	memcpy(c->buf + len, k, klen);
	c->buf[len + klen] = '\0';
}

static int
collect_cb(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct collect *c = arg;

	c->n++;
	if (c->fail_at && c->n == c->fail_at) {
		err_set(TS_EDECODE, "bad record %d", c->n);
		return -1;
	}
	collect_add(c, k, klen);
	return c->stop_after && c->n >= c->stop_after;
}

static int
collect_pk_cb(const void *pk, size_t pklen, void *arg)
{
	struct collect *c = arg;

	c->n++;
	collect_add(c, pk, pklen);
	return 0;
}

/* --- CRUD --------------------------------------------------------------- */

static void
test_crud(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	const void *val;
	size_t vlen, n;
	char big[STORE_KEY_MAX + 1];

	put_str(f->st, "things", "a", "one");
	put_str(f->st, "things", "b", "two");
	assert_true(has_key(f->st, "things", "a", "one"));
	assert_true(has_key(f->st, "things", "b", "two"));
	assert_false(has_key(f->st, "by_status", "a", NULL));

	/* Overwrite without flags replaces the value. */
	put_str(f->st, "things", "a", "uno");
	assert_true(has_key(f->st, "things", "a", "uno"));

	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_count(t, "things", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_del(t, "things", "a", 1), 0);
	assert_int_equal(store_del(t, "things", "a", 1), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(store_get(t, "things", "a", 1, &val, &vlen), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	/* Empty values are values. */
	assert_int_equal(store_put(t, "things", "e", 1, "", 0, 0), 0);
	assert_int_equal(store_get(t, "things", "e", 1, &val, &vlen), 0);
	assert_int_equal(vlen, 0);
	assert_int_equal(store_txn_commit(&t), 0);
	assert_false(has_key(f->st, "things", "a", NULL));

	/* An aborted write leaves nothing behind. */
	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_put(t, "things", "c", 1, "x", 1, 0), 0);
	store_txn_abort(&t);
	assert_null(t);
	assert_false(has_key(f->st, "things", "c", NULL));

	/* Bad arguments are refused with TS_EINVALID, not passed to LMDB. */
	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_get(t, "nope", "a", 1, &val, &vlen), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_get(t, "things", "", 0, &val, &vlen), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	memset(big, 'k', sizeof(big));
	assert_int_equal(store_get(t, "things", big, sizeof(big), &val,
	    &vlen), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_get(t, "things", big, STORE_KEY_MAX, &val,
	    &vlen), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(store_put(t, "things", "z", 1, "v", 1, 0), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_del(t, "things", "b", 1), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_count(t, "things", &n), 0);
	assert_int_equal(n, 2);
	store_txn_end(&t);
	assert_null(t);

	/* The longest key works. */
	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_put(t, "things", big, STORE_KEY_MAX, "v", 1, 0),
	    0);
	assert_int_equal(store_txn_commit(&t), 0);
}

static void
test_nooverwrite(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;

	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_put(t, "things", "k", 1, "first", 5,
	    STORE_NOOVERWRITE), 0);
	assert_int_equal(store_put(t, "things", "k", 1, "second", 6,
	    STORE_NOOVERWRITE), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	/* The conflict does not poison the transaction. */
	assert_int_equal(store_put(t, "things", "l", 1, "other", 5,
	    STORE_NOOVERWRITE), 0);
	assert_int_equal(store_put(t, "things", "k", 1, "v", 1, 0x80), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_txn_commit(&t), 0);
	assert_true(has_key(f->st, "things", "k", "first"));
	assert_true(has_key(f->st, "things", "l", "other"));
}

/* A read transaction is a snapshot, and may end on another thread. */
static void *
end_txn_thread(void *arg)
{
	store_txn_end(arg);
	return NULL;
}

static void
test_snapshot(void **state)
{
	struct fx *f = *state;
	struct store_txn *r;
	const void *val;
	size_t vlen;
	pthread_t th;

	put_str(f->st, "things", "old", "1");
	assert_int_equal(store_read_begin(f->st, &r), 0);
	put_str(f->st, "things", "new", "2");
	assert_int_equal(store_get(r, "things", "old", 3, &val, &vlen), 0);
	assert_int_equal(store_get(r, "things", "new", 3, &val, &vlen), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(pthread_create(&th, NULL, end_txn_thread, &r), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_null(r);
	assert_true(has_key(f->st, "things", "new", "2"));
}

/* --- iteration ---------------------------------------------------------- */

static void
test_iter(void **state)
{
	struct fx *f = *state;
	static const char *keys[] = { "p/b", "o/z", "p/a", "q/a", "p/c", "p" };
	struct store_txn *t;
	struct collect c;
	char last[sizeof(((struct collect *)0)->buf)];
	size_t i;
	int pages;

	assert_int_equal(store_write_begin(f->st, &t), 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(store_put(t, "things", keys[i],
		    strlen(keys[i]), "v", 1, 0), 0);
	assert_int_equal(store_txn_commit(&t), 0);
	assert_int_equal(store_read_begin(f->st, &t), 0);

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter(t, "things", NULL, 0, collect_cb, &c), 0);
	assert_string_equal(c.buf, "o/z,p,p/a,p/b,p/c,q/a");

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter(t, "things", "p/", 2, collect_cb, &c), 0);
	assert_string_equal(c.buf, "p/a,p/b,p/c");

	/* Prefix matching nothing, before and after every key. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter(t, "things", "a", 1, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter(t, "things", "zz", 2, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);

	/* The callback stops (1) or fails (-1, err kept). */
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(store_iter(t, "things", "p/", 2, collect_cb, &c), 0);
	assert_string_equal(c.buf, "p/a,p/b");
	memset(&c, 0, sizeof(c));
	c.fail_at = 2;
	assert_int_equal(store_iter(t, "things", "p/", 2, collect_cb, &c), -1);
	assert_int_equal(err_code(), TS_EDECODE);
	assert_string_equal(err_msg(), "bad record 2");

	/* Start after a marker: an existing key, a key between two, a marker
	 * before the prefix, the last key, past the end. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter_after(t, "things", "p/", 2, "p/a", 3,
	    collect_cb, &c), 0);
	assert_string_equal(c.buf, "p/b,p/c");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter_after(t, "things", "p/", 2, "p/bb", 4,
	    collect_cb, &c), 0);
	assert_string_equal(c.buf, "p/c");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter_after(t, "things", "p/", 2, "a", 1,
	    collect_cb, &c), 0);
	assert_string_equal(c.buf, "p/a,p/b,p/c");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter_after(t, "things", "p/", 2, "p/c", 3,
	    collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter_after(t, "things", NULL, 0, "p/c", 3,
	    collect_cb, &c), 0);
	assert_string_equal(c.buf, "q/a");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter_after(t, "things", NULL, 0, NULL, 0,
	    collect_cb, &c), 0);
	assert_int_equal(c.n, 6);

	/* Marker pagination, two per page, reassembles the full order. */
	memset(&c, 0, sizeof(c));
	last[0] = '\0';
	for (pages = 0; pages < 10; pages++) {
		struct collect page;
		const char *comma;

		memset(&page, 0, sizeof(page));
		page.stop_after = 2;
		assert_int_equal(store_iter_after(t, "things", NULL, 0, last,
		    strlen(last), collect_cb, &page), 0);
		if (page.n == 0)
			break;
		collect_add(&c, page.buf, strlen(page.buf));
		comma = strrchr(page.buf, ',');
		snprintf(last, sizeof(last), "%s", comma ? comma + 1 :
		    page.buf);
	}
	assert_int_equal(pages, 3);
	assert_string_equal(c.buf, "o/z,p,p/a,p/b,p/c,q/a");

	/* Unknown table. */
	assert_int_equal(store_iter(t, "nope", NULL, 0, collect_cb, &c), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	store_txn_end(&t);
}

/* Backwards, one prefix: c.buf after store_iter_before(). */
static const char *
back(struct store_txn *t, const char *prefix, size_t plen, const char *before,
    size_t blen, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(store_iter_before(t, "things", prefix, plen, before,
	    blen, collect_cb, c), 0);
	return c->buf;
}

/*
 * The reverse walk's edges: the start is "just below min(marker, end of
 * the prefix)" (MDB_SET_RANGE then MDB_PREV, or MDB_LAST when nothing is
 * at or above it), and the walk ends at the first key not under the prefix.
 */
static void
test_iter_before(void **state)
{
	struct fx *f = *state;
	/* "p" is a prefix of "p/...", and "p/\xff..." ends the "p/" scope */
	static const char *keys[] = { "p/b", "o/z", "p/a", "q/a", "p/c", "p",
	    "p/\xff", "p/\xff\xff", "\xff\xff" };
	struct store_txn *t;
	struct collect c;
	char last[sizeof(((struct collect *)0)->buf)];
	size_t i;
	int pages;

	assert_int_equal(store_write_begin(f->st, &t), 0);
	/* an empty (never written) table first */
	assert_string_equal(back(t, NULL, 0, NULL, 0, &c), "");
	assert_string_equal(back(t, "p/", 2, "p/b", 3, &c), "");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(store_put(t, "things", keys[i],
		    strlen(keys[i]), "v", 1, 0), 0);
	assert_int_equal(store_txn_commit(&t), 0);
	assert_int_equal(store_read_begin(f->st, &t), 0);

	/* Whole table, and after the last key. */
	assert_string_equal(back(t, NULL, 0, NULL, 0, &c),
	    "\xff\xff,q/a,p/\xff\xff,p/\xff,p/c,p/b,p/a,p,o/z");
	assert_string_equal(back(t, NULL, 0, "\xff\xff\xff", 3, &c),
	    "\xff\xff,q/a,p/\xff\xff,p/\xff,p/c,p/b,p/a,p,o/z");
	assert_string_equal(back(t, NULL, 0, "p0", 2, &c),
	    "p/\xff\xff,p/\xff,p/c,p/b,p/a,p,o/z");

	/* One scope; a prefix that is a prefix of the other's keys. */
	assert_string_equal(back(t, "p/", 2, NULL, 0, &c),
	    "p/\xff\xff,p/\xff,p/c,p/b,p/a");
	assert_string_equal(back(t, "p", 1, NULL, 0, &c),
	    "p/\xff\xff,p/\xff,p/c,p/b,p/a,p");
	assert_string_equal(back(t, "o/", 2, NULL, 0, &c), "o/z");
	assert_string_equal(back(t, "q/", 2, NULL, 0, &c), "q/a");
	/* the prefix's end is past every key (all 0xff: no upper bound) */
	assert_string_equal(back(t, "\xff", 1, NULL, 0, &c), "\xff\xff");
	assert_string_equal(back(t, "p/\xff", 3, NULL, 0, &c),
	    "p/\xff\xff,p/\xff");

	/* Empty scopes: before, between and after every key. */
	assert_string_equal(back(t, "a", 1, NULL, 0, &c), "");
	assert_string_equal(back(t, "p/x", 3, NULL, 0, &c), "");
	assert_string_equal(back(t, "p0", 2, NULL, 0, &c), "");
	assert_string_equal(back(t, "\xff\xff\xff", 3, NULL, 0, &c), "");

	/* Markers: the scope's first and last keys, a key between two,
	 * before the scope, between scopes, after everything. */
	assert_string_equal(back(t, "p/", 2, "p/a", 3, &c), "");
	assert_string_equal(back(t, "p/", 2, "p/\xff\xff", 4, &c),
	    "p/\xff,p/c,p/b,p/a");
	assert_string_equal(back(t, "p/", 2, "p/bb", 4, &c), "p/b,p/a");
	assert_string_equal(back(t, "p/", 2, "p/", 2, &c), "");
	assert_string_equal(back(t, "p/", 2, "a", 1, &c), "");
	assert_string_equal(back(t, "p/", 2, "p0", 2, &c),
	    "p/\xff\xff,p/\xff,p/c,p/b,p/a");
	assert_string_equal(back(t, "q/", 2, "p0", 2, &c), "");
	assert_string_equal(back(t, "o/", 2, "p0", 2, &c), "o/z");
	assert_string_equal(back(t, "q/", 2, "\xff\xff\xff", 3, &c), "q/a");

	/* The callback stops (1) or fails (-1, err kept). */
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(store_iter_before(t, "things", "p/", 2, NULL, 0,
	    collect_cb, &c), 0);
	assert_string_equal(c.buf, "p/\xff\xff,p/\xff");
	memset(&c, 0, sizeof(c));
	c.fail_at = 2;
	assert_int_equal(store_iter_before(t, "things", "p/", 2, NULL, 0,
	    collect_cb, &c), -1);
	assert_int_equal(err_code(), TS_EDECODE);

	/* Marker pagination, two per page, reassembles the reverse order. */
	memset(&c, 0, sizeof(c));
	last[0] = '\0';
	for (pages = 0; pages < 10; pages++) {
		struct collect page;
		const char *comma;

		memset(&page, 0, sizeof(page));
		page.stop_after = 2;
		assert_int_equal(store_iter_before(t, "things", "p", 1, last,
		    strlen(last), collect_cb, &page), 0);
		if (page.n == 0)
			break;
		collect_add(&c, page.buf, strlen(page.buf));
		comma = strrchr(page.buf, ',');
		snprintf(last, sizeof(last), "%s", comma ? comma + 1 :
		    page.buf);
	}
	assert_int_equal(pages, 3);
	assert_string_equal(c.buf, "p/\xff\xff,p/\xff,p/c,p/b,p/a,p");

	/* Too long a key; unknown table. */
	memset(last, 'x', sizeof(last));
	assert_int_equal(store_iter_before(t, "things", NULL, 0, last,
	    STORE_KEY_MAX + 1, collect_cb, &c), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_iter_before(t, "nope", NULL, 0, NULL, 0,
	    collect_cb, &c), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	store_txn_end(&t);
}

/* store_clear() empties a table, which stays usable; the others keep
 * their keys; a read transaction may not. */
static void
test_clear(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	size_t n;

	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_put(t, "things", "a", 1, "v", 1, 0), 0);
	assert_int_equal(store_put(t, "things", "b", 1, "v", 1, 0), 0);
	assert_int_equal(store_index_put(t, "by_status", "x", 1, "a", 1), 0);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_clear(t, "things"), 0);
	assert_int_equal(store_count(t, "things", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_put(t, "things", "c", 1, "v", 1, 0), 0);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_count(t, "things", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_count(t, "by_status", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_clear(t, "things"), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_clear(t, "nope"), -1);
	store_txn_end(&t);
}

/* --- indexes ------------------------------------------------------------ */

static void
test_index(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct collect c;
	size_t n;

	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_index_put(t, "by_status", "active", 6, "u3", 2),
	    0);
	assert_int_equal(store_index_put(t, "by_status", "active", 6, "u1", 2),
	    0);
	assert_int_equal(store_index_put(t, "by_status", "active", 6, "u2", 2),
	    0);
	/* Idempotent. */
	assert_int_equal(store_index_put(t, "by_status", "active", 6, "u2", 2),
	    0);
	/* A value that extends another must not leak into its results. */
	assert_int_equal(store_index_put(t, "by_status", "activeX", 7, "u5",
	    2), 0);
	assert_int_equal(store_index_put(t, "by_status", "deleted", 7, "u4",
	    2), 0);
	/* NUL in an index value, empty value or primary key: refused. */
	assert_int_equal(store_index_put(t, "by_status", "a\0b", 3, "u9", 2),
	    -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_index_put(t, "by_status", "", 0, "u9", 2), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_index_put(t, "by_status", "x", 1, "", 0), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_count(t, "by_status", &n), 0);
	assert_int_equal(n, 5);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_index_iter(t, "by_status", "active", 6,
	    collect_pk_cb, &c), 0);
	assert_string_equal(c.buf, "u1,u2,u3");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_index_iter(t, "by_status", "gone", 4,
	    collect_pk_cb, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(store_index_iter(t, "by_status", "a\0", 2,
	    collect_pk_cb, &c), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	store_txn_end(&t);

	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_index_del(t, "by_status", "active", 6, "u2", 2),
	    0);
	assert_int_equal(store_index_del(t, "by_status", "active", 6, "u2", 2),
	    -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_read_begin(f->st, &t), 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_index_iter(t, "by_status", "active", 6,
	    collect_pk_cb, &c), 0);
	assert_string_equal(c.buf, "u1,u3");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_index_iter(t, "by_status", "activeX", 7,
	    collect_pk_cb, &c), 0);
	assert_string_equal(c.buf, "u5");
	store_txn_end(&t);
}

/* --- migrations --------------------------------------------------------- */

struct mig {
	int	calls[4];
	int	fail_step2;
};

static int
mig_put(struct store_txn *t, const char *k)
{
	return store_put(t, "things", k, strlen(k), "m", 1, 0);
}

static int
mig1(struct store_txn *t, void *arg)
{
	struct mig *m = arg;

	m->calls[1]++;
	return mig_put(t, "m1");
}

static int
mig2(struct store_txn *t, void *arg)
{
	struct mig *m = arg;

	m->calls[2]++;
	if (mig_put(t, "m2") == -1)
		return -1;
	if (m->fail_step2) {
		err_set(TS_EINVALID, "boom");
		return -1;
	}
	return 0;
}

static void
test_migrate(void **state)
{
	struct fx *f = *state;
	struct mig m = { { 0 }, 0 };
	const struct store_migration steps[] = {
		{ 1, 2, "add m2", mig2, &m },	/* order does not matter */
		{ 0, 1, "add m1", mig1, &m },
	};
	uint32_t v = 99;

	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(store_migrate(f->st, steps, 2, 2), 0);
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(m.calls[1], 1);
	assert_int_equal(m.calls[2], 1);
	assert_true(has_key(f->st, "things", "m1", "m"));
	assert_true(has_key(f->st, "things", "m2", "m"));

	/* Re-running is a no-op. */
	assert_int_equal(store_migrate(f->st, steps, 2, 2), 0);
	assert_int_equal(m.calls[1], 1);
	assert_int_equal(m.calls[2], 1);

	/* An older binary refuses a newer database, and changes nothing. */
	assert_int_equal(store_migrate(f->st, steps, 1, 1), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_string_equal(err_msg(), "database schema 2 is newer than this "
	    "binary supports (1); upgrade tinystack");
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 2);

	/* No step leading on. */
	assert_int_equal(store_migrate(f->st, steps, 2, 3), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 2);

	/* Survives reopening. */
	store_free(&f->st);
	f->st = open_store(f, 0);
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 2);
}

static void
test_migrate_failure(void **state)
{
	struct fx *f = *state;
	struct mig m = { { 0 }, 1 };
	const struct store_migration steps[] = {
		{ 0, 1, "add m1", mig1, &m },
		{ 1, 2, "add m2", mig2, &m },
	};
	const struct store_migration bad[] = {
		{ 1, 1, "loop", mig1, &m },
	};
	uint32_t v;

	assert_int_equal(store_migrate(f->st, steps, 2, 2), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "1 -> 2 (add m2)"));
	assert_non_null(strstr(err_msg(), "boom"));
	/* Step 1 is committed, step 2 rolled back entirely. */
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 1);
	assert_true(has_key(f->st, "things", "m1", "m"));
	assert_false(has_key(f->st, "things", "m2", NULL));

	/* Fixed, the re-run resumes at step 2. */
	m.fail_step2 = 0;
	assert_int_equal(store_migrate(f->st, steps, 2, 2), 0);
	assert_int_equal(m.calls[1], 1);
	assert_int_equal(m.calls[2], 2);
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 2);
	assert_true(has_key(f->st, "things", "m2", "m"));

	assert_int_equal(store_migrate(f->st, bad, 1, 2), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

/* --- group commit ------------------------------------------------------- */

#define GC_THREADS	8
#define GC_WRITES	500

struct kv {
	char	k[32];
	char	v[32];
	int	fail;		/* fn writes then fails */
};

static int
put_kv(struct store_txn *t, void *arg)
{
	struct kv *kv = arg;

	if (store_put(t, "things", kv->k, strlen(kv->k), kv->v, strlen(kv->v),
	    0) == -1)
		return -1;
	if (kv->fail) {
		err_set(TS_ECONFLICT, "refused %s", kv->k);
		return -1;
	}
	return 0;
}

struct writer {
	struct store	*st;
	int		 id;
	int		 failures;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct kv kv = { .fail = 0 };
	int i;

	for (i = 0; i < GC_WRITES; i++) {
		snprintf(kv.k, sizeof(kv.k), "w%d-%04d", w->id, i);
		snprintf(kv.v, sizeof(kv.v), "v%d", i);
		if (store_write(w->st, put_kv, &kv) == -1)
			w->failures++;
	}
	return NULL;
}

static void
test_group_commit(void **state)
{
	struct fx *f = *state;
	struct writer w[GC_THREADS];
	pthread_t th[GC_THREADS];
	struct store_stats s;
	struct store_txn *t;
	char k[32], v[32];
	const void *val;
	size_t vlen, n;
	int i, j;

	for (i = 0; i < GC_THREADS; i++) {
		w[i].st = f->st;
		w[i].id = i;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, writer_main,
		    &w[i]), 0);
	}
	for (i = 0; i < GC_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}

	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_count(t, "things", &n), 0);
	assert_int_equal(n, GC_THREADS * GC_WRITES);
	for (i = 0; i < GC_THREADS; i++)
		for (j = 0; j < GC_WRITES; j++) {
			snprintf(k, sizeof(k), "w%d-%04d", i, j);
			snprintf(v, sizeof(v), "v%d", j);
			assert_int_equal(store_get(t, "things", k, strlen(k),
			    &val, &vlen), 0);
			assert_int_equal(vlen, strlen(v));
			assert_memory_equal(val, v, vlen);
		}
	store_txn_end(&t);

	store_stats(f->st, &s);
	assert_int_equal(s.writes, GC_THREADS * GC_WRITES);
	assert_int_equal(s.writes_failed, 0);
	assert_int_equal(s.commits_failed, 0);
	assert_int_equal(s.queued, 0);
	assert_true(s.commits >= 1);
	/* Group commit: concurrent writers share commits. */
	assert_true(s.commits < s.writes);
	assert_true(s.max_batch > 1);
	assert_true(s.max_batch <= STORE_BATCH_MAX);
	/* Every durable commit (an fdatasync) takes time, and the waits are
	 * summed: a writer queued behind a running batch waited for it. */
	assert_true(s.commit_us > 0);
	assert_true(s.queued_us > 0);
	print_message("group commit: %llu writes in %llu commits "
	    "(largest batch %llu); per write %.0f us queued, %.0f us woken; "
	    "per commit %.0f us run, %.0f us committing\n",
	    (unsigned long long)s.writes,
	    (unsigned long long)s.commits, (unsigned long long)s.max_batch,
	    (double)s.queued_us / (double)s.writes,
	    (double)s.wake_us / (double)s.writes,
	    (double)s.run_us / (double)s.commits,
	    (double)s.commit_us / (double)s.commits);
}

/*
 * A batch with failing and succeeding functions. A first write blocks the
 * committer until the others are queued, so they all land in one batch.
 */
#define MIX_N	10

struct gate {
	struct store	*st;
	uint64_t	 want_queued;
	int		 started;	/* atomic: gate_fn is running */
};

static int
gate_fn(struct store_txn *t, void *arg)
{
	struct gate *g = arg;
	struct store_stats s;
	int i;

	__atomic_store_n(&g->started, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < 10000; i++) {
		store_stats(g->st, &s);
		if (s.queued >= g->want_queued)
			return store_put(t, "things", "gate", 4, "1", 1, 0);
		usleep(1000);
	}
	err_set(TS_ETIMEOUT, "writers never queued");
	return -1;
}

static void *
gate_thread(void *arg)
{
	struct gate *g = arg;

	if (store_write(g->st, gate_fn, g) == -1)
		fail_msg("gate: %s", err_msg());
	return NULL;
}

struct mixed {
	struct store	*st;
	struct kv	 kv;
	int		 rc;
	struct ts_err	 err;
};

static void *
mixed_thread(void *arg)
{
	struct mixed *m = arg;

	m->rc = store_write(m->st, put_kv, &m->kv);
	m->err = *err_last();
	return NULL;
}

static void
test_batch_isolation(void **state)
{
	struct fx *f = *state;
	struct gate g = { f->st, MIX_N, 0 };
	struct mixed m[MIX_N];
	pthread_t gth, th[MIX_N];
	struct store_stats s0, s;
	char msg[64];
	int i;

	store_stats(f->st, &s0);
	assert_int_equal(pthread_create(&gth, NULL, gate_thread, &g), 0);
	/* Wait until the gate runs in the committer, off the queue. */
	while (!__atomic_load_n(&g.started, __ATOMIC_SEQ_CST))
		usleep(1000);
	store_stats(f->st, &s);
	assert_int_equal(s.queued, 0);
	for (i = 0; i < MIX_N; i++) {
		m[i].st = f->st;
		snprintf(m[i].kv.k, sizeof(m[i].kv.k), "mix%d", i);
		snprintf(m[i].kv.v, sizeof(m[i].kv.v), "val%d", i);
		m[i].kv.fail = i % 3 == 1;
		assert_int_equal(pthread_create(&th[i], NULL, mixed_thread,
		    &m[i]), 0);
	}
	assert_int_equal(pthread_join(gth, NULL), 0);
	for (i = 0; i < MIX_N; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);

	for (i = 0; i < MIX_N; i++) {
		if (m[i].kv.fail) {
			/* Each caller gets its own function's error. */
			assert_int_equal(m[i].rc, -1);
			assert_int_equal(m[i].err.code, TS_ECONFLICT);
			snprintf(msg, sizeof(msg), "refused mix%d", i);
			assert_string_equal(m[i].err.msg, msg);
			assert_false(has_key(f->st, "things", m[i].kv.k, NULL));
		} else {
			assert_int_equal(m[i].rc, 0);
			assert_true(has_key(f->st, "things", m[i].kv.k,
			    m[i].kv.v));
		}
	}
	assert_true(has_key(f->st, "things", "gate", "1"));
	store_stats(f->st, &s);
	/* The gate's batch, then all MIX_N together. */
	assert_int_equal(s.commits - s0.commits, 2);
	assert_int_equal(s.max_batch, MIX_N);
	assert_int_equal(s.writes - s0.writes, MIX_N + 1);
	assert_int_equal(s.writes_failed - s0.writes_failed, 3); /* 1, 4, 7 */
}

static int
nested_write_fn(struct store_txn *t, void *arg)
{
	struct store *st = arg;
	struct store_txn *w;

	assert_int_equal(store_write(st, put_kv, NULL), -1);
	assert_int_equal(err_code(), TS_EINTERNAL);
	assert_int_equal(store_write_begin(st, &w), -1);
	assert_int_equal(err_code(), TS_EINTERNAL);
	/* The batch's transaction cannot be ended by the function. */
	assert_int_equal(store_txn_commit(&t), -1);
	assert_int_equal(err_code(), TS_EINTERNAL);
	assert_non_null(t);
	store_txn_abort(&t);
	assert_non_null(t);
	return store_put(t, "things", "nested", 6, "ok", 2, 0);
}

static int
silent_fail_fn(struct store_txn *t, void *arg)
{
	return -1;
}

static void
capture_line(enum log_level lvl, const char *line, void *arg)
{
	char *buf = arg;
	size_t len = strlen(buf);

	if (lvl == LOG_LVL_ERROR)
		snprintf(buf + len, 1024 - len, "%s\n", line);
}

static void
test_write_misuse(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	char logged[1024] = "";

	/* The refused commit and abort are logged as bugs. */
	log_set_capture(capture_line, logged);
	assert_int_equal(store_write(f->st, nested_write_fn, f->st), 0);
	log_set_capture(NULL, NULL);
	assert_non_null(strstr(logged, "may not end the transaction"));
	assert_true(has_key(f->st, "things", "nested", "ok"));

	assert_int_equal(store_write(f->st, silent_fail_fn, NULL), -1);
	assert_int_equal(err_code(), TS_EINTERNAL);
	assert_int_equal(store_write(f->st, NULL, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	/* Holding a write transaction, store_write would deadlock. */
	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_write(f->st, silent_fail_fn, NULL), -1);
	assert_int_equal(err_code(), TS_EINTERNAL);
	store_txn_abort(&t);
}

/* --- limits ------------------------------------------------------------- */

struct blob {
	char	k[32];
	size_t	len;
	char	*v;
};

static int
put_blob(struct store_txn *t, void *arg)
{
	struct blob *b = arg;

	return store_put(t, "things", b->k, strlen(b->k), b->v, b->len, 0);
}

static void
test_map_full(void **state)
{
	struct fx *f = *state;
	struct blob b;
	struct store_txn *t;
	size_t n;
	int i, ok = 0;

	f->st = open_store(f, 256 * 1024);
	b.len = 8192;
	b.v = malloc(b.len);
	assert_non_null(b.v);
	memset(b.v, 'x', b.len);
	for (i = 0; i < 100; i++) {
		snprintf(b.k, sizeof(b.k), "blob%03d", i);
		if (store_write(f->st, put_blob, &b) == -1)
			break;
		ok++;
	}
	assert_true(i < 100);
	assert_int_equal(err_code(), TS_EDB_FULL);
	assert_true(ok > 0);

	/* Reads keep working, and every acknowledged write is there. */
	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_count(t, "things", &n), 0);
	assert_int_equal(n, (size_t)ok);
	store_txn_end(&t);
	snprintf(b.k, sizeof(b.k), "blob%03d", ok - 1);
	assert_true(has_key(f->st, "things", b.k, NULL));

	/* A direct write transaction hits the same limit. */
	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_put(t, "things", "more", 4, b.v, b.len, 0), -1);
	assert_int_equal(err_code(), TS_EDB_FULL);
	store_txn_abort(&t);

	/* Small writes still go through the committer. */
	snprintf(b.k, sizeof(b.k), "tiny");
	b.len = 1;
	assert_int_equal(store_write(f->st, put_blob, &b), 0);
	assert_true(has_key(f->st, "things", "tiny", "x"));
	free(b.v);
}

static void
test_readers_full(void **state)
{
	struct fx *f = *state;
	struct store_opts o = { .path = f->path, .max_readers = 4,
	    .tables = tables };
	struct store_txn *t[1024];
	int i, n;

	f->st = store_open(&o);
	assert_non_null(f->st);
	/* LMDB rounds the reader table up to fill its page. */
	for (n = 0; n < 1024; n++)
		if (store_read_begin(f->st, &t[n]) == -1)
			break;
	assert_true(n >= 4 && n < 1024);
	assert_int_equal(err_code(), TS_EUNAVAILABLE);
	for (i = 0; i < n; i++)
		store_txn_end(&t[i]);
	/* Slots are released with their transactions. */
	assert_int_equal(store_read_begin(f->st, &t[0]), 0);
	store_txn_end(&t[0]);
}

/* --- open, reopen, read-only -------------------------------------------- */

static void
test_open_options(void **state)
{
	struct fx *f = *state;
	static const char *const meta_tables[] = { "x", "meta", NULL };
	static const char *const dup_tables[] = { "x", "y", "x", NULL };
	struct store_opts o = { .path = NULL, .tables = tables };
	char file[128];
	FILE *fp;

	assert_null(store_open(&o));
	assert_int_equal(err_code(), TS_EINVALID);
	o.path = f->path;
	o.tables = meta_tables;
	assert_null(store_open(&o));
	assert_int_equal(err_code(), TS_EINVALID);
	o.tables = dup_tables;
	assert_null(store_open(&o));
	assert_int_equal(err_code(), TS_EINVALID);
	o.tables = tables;
	o.sync = (enum store_sync)7;
	assert_null(store_open(&o));
	assert_int_equal(err_code(), TS_EINVALID);

	/* A read-only open never creates anything. */
	o.sync = STORE_SYNC_FULL;
	o.read_only = 1;
	assert_null(store_open(&o));
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(access(f->path, F_OK), -1);

	/* The path must be a directory. */
	snprintf(file, sizeof(file), "%s/file", f->dir);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	o.path = file;
	o.read_only = 0;
	assert_null(store_open(&o));
	assert_int_equal(err_code(), TS_ECONFIG);

	/* NOMETASYNC is accepted; the directory is created private. */
	o.path = f->path;
	o.sync = STORE_SYNC_NOMETASYNC;
	f->st = store_open(&o);
	assert_non_null(f->st);
	{
		struct stat sb;

		assert_int_equal(stat(f->path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0700);
	}
	put_str(f->st, "things", "k", "v");
	assert_true(has_key(f->st, "things", "k", "v"));
}

static void
test_reopen_and_read_only(void **state)
{
	struct fx *f = *state;
	static const char *const more_tables[] = { "things", "later", NULL };
	struct store_opts o = { .path = f->path, .tables = more_tables,
	    .read_only = 1 };
	struct kv kv = { "persist", "yes", 0 };
	struct store_txn *t;
	struct collect c;
	const void *val;
	size_t vlen, n;
	uint32_t v;

	f->st = open_store(f, 0);
	assert_int_equal(store_write(f->st, put_kv, &kv), 0);
	store_free(&f->st);
	assert_null(f->st);
	store_free(&f->st);	/* NULL is fine */

	f->st = open_store(f, 0);
	assert_true(has_key(f->st, "things", "persist", "yes"));
	store_free(&f->st);

	/* Read-only: sees the data, a table never created reads as empty,
	 * writes are refused. */
	f->st = store_open(&o);
	assert_non_null(f->st);
	assert_true(has_key(f->st, "things", "persist", "yes"));
	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_count(t, "later", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_get(t, "later", "k", 1, &val, &vlen), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_iter(t, "later", NULL, 0, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	store_txn_end(&t);
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(store_write(f->st, put_kv, &kv), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_write_begin(f->st, &t), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_null(t);
}

/* --- kill -9 ------------------------------------------------------------ */

#define CRASH_WRITERS	4

struct crash_writer {
	struct store	*st;
	int		 round, id, fd;
};

static void *
crash_writer_main(void *arg)
{
	struct crash_writer *w = arg;
	struct kv kv = { .fail = 0 };
	char line[40];
	int i, len;

	for (i = 0;; i++) {
		snprintf(kv.k, sizeof(kv.k), "r%d-w%d-%06d", w->round, w->id,
		    i);
		snprintf(kv.v, sizeof(kv.v), "v%d", i);
		if (store_write(w->st, put_kv, &kv) == -1)
			_exit(3);
		/* Reported only once durable; one write() < PIPE_BUF is
		 * atomic, so lines from the writers never interleave. */
		len = snprintf(line, sizeof(line), "%s\n", kv.k);
		if (write(w->fd, line, (size_t)len) != len)
			_exit(4);
	}
	return NULL;
}

/* Runs in the forked child until SIGKILL; never returns to cmocka. */
static void __attribute__((noreturn))
crash_child(const char *path, int round, int fd)
{
	struct store_opts o = { .path = path, .tables = tables };
	struct crash_writer w[CRASH_WRITERS];
	pthread_t th;
	struct store_txn *reader;
	struct store *st;
	int i;

	if ((st = store_open(&o)) == NULL)
		_exit(1);
	/* Held until death: a reader slot the parent must clean up. */
	if (store_read_begin(st, &reader) == -1)
		_exit(2);
	for (i = 0; i < CRASH_WRITERS; i++) {
		w[i].st = st;
		w[i].round = round;
		w[i].id = i;
		w[i].fd = fd;
		if (pthread_create(&th, NULL, crash_writer_main, &w[i]) != 0)
			_exit(5);
	}
	for (;;)
		pause();
}

struct keylist {
	char	(*k)[32];
	size_t	 n, cap;
	char	 partial[64];
	size_t	 plen;
};

/* Reads what is available (waiting up to 10 s); returns 0 on EOF. */
static int
read_keys(int fd, struct keylist *kl)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[4096];
	ssize_t r, i;

	assert_int_equal(poll(&pfd, 1, 10000), 1);
	r = read(fd, buf, sizeof(buf));
	assert_true(r >= 0);
	for (i = 0; i < r; i++) {
		if (buf[i] != '\n') {
			assert_true(kl->plen < sizeof(kl->partial) - 1);
			kl->partial[kl->plen++] = buf[i];
			continue;
		}
		if (kl->n == kl->cap) {
			kl->cap = kl->cap ? kl->cap * 2 : 256;
			kl->k = realloc(kl->k, kl->cap * sizeof(*kl->k));
			assert_non_null(kl->k);
		}
		assert_true(kl->plen < sizeof(kl->k[0]));
		memcpy(kl->k[kl->n], kl->partial, kl->plen);
		kl->k[kl->n][kl->plen] = '\0';
		kl->n++;
		kl->plen = 0;
	}
	return r > 0;
}

static void
assert_all_present(struct store *st, const struct keylist *kl)
{
	struct store_txn *t;
	const void *val;
	size_t i, vlen;

	assert_int_equal(store_read_begin(st, &t), 0);
	for (i = 0; i < kl->n; i++)
		if (store_get(t, "things", kl->k[i], strlen(kl->k[i]), &val,
		    &vlen) == -1)
			fail_msg("acknowledged key %s lost: %s", kl->k[i],
			    err_msg());
	store_txn_end(&t);
}

static int
put_k1(struct store_txn *t, void *arg)
{
	(void)arg;
	return store_put(t, "things", "k1", 2, "v", 1, 0);
}

/* store_foreign_gen() moves after another process's commit, and only
 * then: this process's commits, direct or through the committer, leave
 * it alone once one of them is accounted for. */
/* One commit of key = val into "things" by another process (a child with
 * its own environment, as tinystack-manage beside the controller). */
static void
foreign_commit(const char *path, const char *key, const char *val)
{
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_opts o = { .path = path, .tables = tables };
		struct store *st = store_open(&o);
		struct store_txn *t;
		int ok = st != NULL && store_write_begin(st, &t) == 0 &&
		    store_put(t, "things", key, strlen(key), val, strlen(val),
		    0) == 0 && store_txn_commit(&t) == 0;

		store_free(&st);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_foreign_gen(void **state)
{
	struct fx *f = *state;
	uint64_t g;

	put_str(f->st, "things", "a", "1");
	g = store_foreign_gen(f->st);
	assert_int_equal(store_foreign_gen(f->st), g);
	put_str(f->st, "things", "b", "2");
	assert_int_equal(store_write(f->st, put_k1, NULL), 0);
	assert_int_equal(store_foreign_gen(f->st), g);

	foreign_commit(f->path, "c", "3");
	assert_true(store_foreign_gen(f->st) != g);
	/* Still before this process's next commit, then settled again. */
	assert_true(store_foreign_gen(f->st) != store_foreign_gen(f->st));
	put_str(f->st, "things", "d", "4");
	g = store_foreign_gen(f->st);
	assert_int_equal(store_foreign_gen(f->st), g);
	/* Seen also by this process's next write when nobody asked before
	 * it: a foreign commit between two of ours. */
	foreign_commit(f->path, "e", "5");
	assert_int_equal(store_write(f->st, put_k1, NULL), 0);
	assert_true(store_foreign_gen(f->st) != g);
}

static void
test_kill9(void **state)
{
	struct fx *f = *state;
	struct keylist kl;
	int round, p[2], status, cleared, again;
	size_t want;
	pid_t pid;

	for (round = 0; round < 3; round++) {
		memset(&kl, 0, sizeof(kl));
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(f->path, round, p[1]);
		}
		close(p[1]);

		/* Open alongside the child once it is writing, so that this
		 * process sees its reader slot go stale. */
		while (kl.n == 0)
			if (!read_keys(p[0], &kl))
				fail_msg("child died before writing");
		f->st = open_store(f, 0);
		want = 50 + (size_t)round * 97;
		while (kl.n < want)
			if (!read_keys(p[0], &kl))
				fail_msg("child died early");
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
		/* Keys reported before the kill are still in the pipe. */
		while (read_keys(p[0], &kl))
			;
		close(p[0]);

		assert_int_equal(store_reader_check(f->st, &cleared), 0);
		assert_true(cleared >= 1);
		assert_int_equal(store_reader_check(f->st, &again), 0);
		assert_int_equal(again, 0);
		assert_all_present(f->st, &kl);
		/* Writing through the same environment takes LMDB's writer
		 * mutex, which the child may have died holding (robust). */
		put_str(f->st, "things", "after-crash", "ok");
		assert_true(has_key(f->st, "things", "after-crash", "ok"));

		/* And from a fresh open. */
		store_free(&f->st);
		f->st = open_store(f, 0);
		assert_all_present(f->st, &kl);
		assert_true(has_key(f->st, "things", "after-crash", "ok"));
		store_free(&f->st);
		print_message("kill -9 round %d: %zu acknowledged keys "
		    "present, %d stale reader slot(s) cleared\n", round, kl.n,
		    cleared);
		free(kl.k);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nooverwrite, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_iter, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_iter_before, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_index, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_failure,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_batch_isolation,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_write_misuse, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_options, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen_and_read_only,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_gen, setup_open,
		    teardown),
	};

	log_init("store_test", LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
