/*
 * store: LMDB environment, tables, group commit, migrations; see store.h.
 *
 * Group commit: store_write() puts a request (on the caller's stack) on a
 * FIFO and sleeps on the request's own condition variable. The committer
 * thread takes up to STORE_BATCH_MAX requests, opens one write transaction,
 * runs each function in a nested transaction, commits once (the fsync is the
 * expensive part, so it is shared), and only then marks each request done
 * and wakes its caller. While it syncs, new requests queue up and become the
 * next batch. The err slot is thread-local, so a function's error is copied
 * into its request and raised again on the caller's thread.
 *
 * Locking: st->lock guards the queue, the stopping flag and the stats.
 * LMDB's own writer mutex serializes the committer with direct write
 * transactions (tools, migrations) in this and other processes.
 */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "hash.h"
#include "log.h"
#include "store.h"

#define DEFAULT_MAP_SIZE	((size_t)1 << 30)
#define VERSION_KEY		"schema_version"

enum txn_kind {
	TXN_READ,
	TXN_WRITE,	/* direct, owned by the thread that began it */
	TXN_BATCH,	/* nested in a group commit, owned by the committer */
};

struct store_txn {
	struct store	*st;
	MDB_txn		*txn;
	enum txn_kind	 kind;
	int		 lent;	/* handed to a callback that must not end it */
};

struct table {
	char		*name;
	uint32_t	 hash;		/* hash_fnv32(name) */
	MDB_dbi		 dbi;
	int		 present;	/* 0 only for a read-only open */
};

/* Where this thread's last store_write() waited (store_write_last). */
static _Thread_local struct store_write_times last_times;

/* One store_write() call; lives on the caller's stack until done is set. */
struct wreq {
	int		(*fn)(struct store_txn *, void *);
	void		*arg;
	struct wreq	*next;
	pthread_cond_t	 cv;
	int		 done;
	int		 rc;
	struct ts_err	 err;
	char		 reqid[64];
	int64_t		 queued_at, done_at;	/* mono_us() */
	int64_t		 queued_us, run_us, commit_us;	/* set by the committer */
};

struct store {
	MDB_env		*env;
	struct table	*tables;
	size_t		 ntables;
	int		 read_only;
	int		 maxkey;
	size_t		 map_size;

	pthread_mutex_t	 lock;
	pthread_cond_t	 work;
	struct wreq	*head, *tail;
	int		 stopping;
	int		 have_committer;
	pthread_t	 committer;
	struct store_stats stats;

	/* store_foreign_gen(): the id of this process's last commit, and the
	 * count of other writers' commits seen (a lower bound is never
	 * kept: an own write it could not account for counts too). */
	_Atomic uint64_t own_last;
	_Atomic uint64_t foreign_gen;
};

/* Set on the committer thread: a store_write() from inside a batch would
 * wait for itself. */
static _Thread_local struct store *committer_of;
/* Direct write transactions open on this thread: the committer would block
 * on LMDB's writer lock that this thread holds. */
static _Thread_local int write_txns;


/* Record an LMDB failure with the mapped code and context. */
static void __attribute__((format(printf, 2, 3)))
mdb_err(int rc, const char *fmt, ...)
{
	char ctx[256];
	enum ts_errcode code;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	switch (rc) {
	case MDB_NOTFOUND:
		code = TS_ENOT_FOUND;
		break;
	case MDB_MAP_FULL:
		code = TS_EDB_FULL;
		break;
	case MDB_READERS_FULL:
		code = TS_EUNAVAILABLE;
		break;
	case MDB_KEYEXIST:
		code = TS_ECONFLICT;
		break;
	case MDB_BAD_VALSIZE:
		code = TS_EINVALID;
		break;
	default:
		code = TS_EIO;
		break;
	}
	err_set(code, "store: %s: %s", ctx, mdb_strerror(rc));
}

static struct table *
table_find(struct store *st, const char *name)
{
	size_t i;
	uint32_t h;

	/* Every get and iteration names its table: the hash first, so a
	 * look-up costs one strcmp and not one per table before it. */
	if (name != NULL) {
		h = hash_fnv32(name);
		for (i = 0; i < st->ntables; i++)
			if (st->tables[i].hash == h &&
			    strcmp(st->tables[i].name, name) == 0)
				return &st->tables[i];
	}
	err_set(TS_EINVALID, "store: no table '%s'", name ? name : "(null)");
	return NULL;
}

static int
key_check(struct store *st, const char *table, size_t klen)
{
	if (klen == 0 || klen > (size_t)st->maxkey) {
		err_set(TS_EINVALID, "store: %s: key of %zu bytes (1..%d)",
		    table, klen, st->maxkey);
		return -1;
	}
	return 0;
}

static int
writable(struct store_txn *t, const char *table)
{
	if (t->kind == TXN_READ) {
		err_set(TS_EINVALID, "store: %s: write in a read transaction",
		    table);
		return -1;
	}
	return 0;
}

/* LMDB's default key order: bytes, then the shorter first. */
static int
keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}


/* --- open / close ------------------------------------------------------- */

static void	*committer_main(void *);

static int
opts_check(const struct store_opts *o, size_t *ntables)
{
	size_t j, n = 0;

	if (o == NULL || o->path == NULL || o->path[0] == '\0') {
		err_set(TS_EINVALID, "store: no path");
		return -1;
	}
	if (o->sync != STORE_SYNC_FULL && o->sync != STORE_SYNC_NOMETASYNC) {
		err_set(TS_EINVALID, "store: unknown sync mode %d", (int)o->sync);
		return -1;
	}
	if (o->tables != NULL)
		for (; o->tables[n] != NULL; n++) {
			if (o->tables[n][0] == '\0' ||
			    strlen(o->tables[n]) > 255) {
				err_set(TS_EINVALID, "store: bad table name");
				return -1;
			}
			if (strcmp(o->tables[n], STORE_META_TABLE) == 0) {
				err_set(TS_EINVALID, "store: table name '%s' "
				    "is reserved", STORE_META_TABLE);
				return -1;
			}
			for (j = 0; j < n; j++)
				if (strcmp(o->tables[j], o->tables[n]) == 0) {
					err_set(TS_EINVALID, "store: table "
					    "'%s' listed twice", o->tables[n]);
					return -1;
				}
		}
	*ntables = n + 1;	/* + meta */
	return 0;
}

static int
dir_prepare(const struct store_opts *o)
{
	struct stat sb;

	if (!o->read_only && mkdir(o->path, 0700) == -1 && errno != EEXIST) {
		err_set_errno(TS_EIO, "store: mkdir %s", o->path);
		return -1;
	}
	if (stat(o->path, &sb) == -1) {
		err_set_errno(errno == ENOENT ? TS_ENOT_FOUND : TS_EIO,
		    "store: %s", o->path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		err_set(TS_ECONFIG, "store: %s is not a directory", o->path);
		return -1;
	}
	return 0;
}

/* Open every table's DBI in one transaction; the handles stay valid for the
 * environment's lifetime once that transaction commits. */
static int
tables_open(struct store *st)
{
	MDB_txn *txn;
	size_t i;
	int rc;

	rc = mdb_txn_begin(st->env, NULL, st->read_only ? MDB_RDONLY : 0,
	    &txn);
	if (rc != 0) {
		mdb_err(rc, "begin (opening tables)");
		return -1;
	}
	for (i = 0; i < st->ntables; i++) {
		rc = mdb_dbi_open(txn, st->tables[i].name,
		    st->read_only ? 0 : MDB_CREATE, &st->tables[i].dbi);
		if (rc == MDB_NOTFOUND && st->read_only)
			continue;	/* reads as empty */
		if (rc != 0) {
			mdb_txn_abort(txn);
			mdb_err(rc, "open table %s", st->tables[i].name);
			return -1;
		}
		st->tables[i].present = 1;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		mdb_err(rc, "commit (opening tables)");
		return -1;
	}
	return 0;
}

static void
store_destroy(struct store *st)
{
	size_t i;

	if (st->env != NULL)
		mdb_env_close(st->env);
	for (i = 0; i < st->ntables; i++)
		free(st->tables[i].name);
	free(st->tables);
	pthread_cond_destroy(&st->work);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

struct store *
store_open(const struct store_opts *o)
{
	struct store *st;
	unsigned int flags;
	size_t i, n, pg;
	int rc, dead = 0;

	if (opts_check(o, &n) == -1 || dir_prepare(o) == -1)
		return NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->tables = calloc(n, sizeof(*st->tables))) == NULL) {
		free(st);
		err_set(TS_ENOMEM, "store: out of memory");
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->work, NULL);
	st->ntables = n;
	st->read_only = o->read_only;
	for (i = 0; i < n; i++) {
		st->tables[i].name = strdup(i == 0 ? STORE_META_TABLE :
		    o->tables[i - 1]);
		if (st->tables[i].name == NULL) {
			err_set(TS_ENOMEM, "store: out of memory");
			goto fail;
		}
		st->tables[i].hash = hash_fnv32(st->tables[i].name);
	}

	/* LMDB wants a multiple of the page size. */
	pg = (size_t)sysconf(_SC_PAGESIZE);
	st->map_size = o->map_size ? o->map_size : DEFAULT_MAP_SIZE;
	st->map_size = (st->map_size + pg - 1) / pg * pg;

	if ((rc = mdb_env_create(&st->env)) != 0) {
		mdb_err(rc, "create environment");
		goto fail;
	}
	if ((rc = mdb_env_set_mapsize(st->env, st->map_size)) != 0 ||
	    (o->max_readers &&
	    (rc = mdb_env_set_maxreaders(st->env, o->max_readers)) != 0) ||
	    (rc = mdb_env_set_maxdbs(st->env, (MDB_dbi)n)) != 0) {
		mdb_err(rc, "configure environment");
		goto fail;
	}
	/* NOTLS: reader slots belong to transactions, not threads, so HTTP
	 * worker threads cannot leak slots and a reader may end anywhere.
	 * NORDAHEAD: lookups are random; the kernel's readahead would bring
	 * (and map into our RSS) neighbouring pages no one asked for. */
	flags = MDB_NOTLS | MDB_NORDAHEAD;
	if (o->sync == STORE_SYNC_NOMETASYNC)
		flags |= MDB_NOMETASYNC;
	if (o->read_only)
		flags |= MDB_RDONLY;
	if ((rc = mdb_env_open(st->env, o->path, flags, 0600)) != 0) {
		if (rc == ENOENT && o->read_only)
			err_set(TS_ENOT_FOUND, "store: no database in %s "
			    "(run 'tinystack-manage db sync')", o->path);
		else if (rc == EACCES)
			err_set(TS_EIO, "store: %s: %s (a read-only open "
			    "still writes lock.mdb)", o->path, mdb_strerror(rc));
		else
			mdb_err(rc, "open %s", o->path);
		goto fail;
	}
	st->maxkey = mdb_env_get_maxkeysize(st->env);
	if (st->maxkey > STORE_KEY_MAX)
		st->maxkey = STORE_KEY_MAX;

	/* A process killed mid-read leaves its reader slot behind; those pin
	 * old pages until cleared. */
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		mdb_err(rc, "reader check");
		goto fail;
	}
	if (dead > 0)
		log_warnx("store: %s: cleared %d stale reader slot(s)",
		    o->path, dead);
	else
		log_debug("store: %s: no stale reader slots", o->path);
	st->stats.stale_readers = (uint64_t)dead;

	if (tables_open(st) == -1)
		goto fail;

	if (!st->read_only) {
		sigset_t all, old;

		/* Signals belong to the daemon's own handling thread, never
		 * to the committer mid-commit. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&st->committer, NULL, committer_main, st);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			errno = rc;
			err_set_errno(TS_EINTERNAL, "store: committer thread");
			goto fail;
		}
		st->have_committer = 1;
	}
	log_info("store: opened %s (%zu tables, map %zu MiB%s%s)", o->path,
	    n, st->map_size >> 20,
	    o->sync == STORE_SYNC_NOMETASYNC ? ", nometasync" : "",
	    o->read_only ? ", read-only" : "");
	return st;

fail:
	store_destroy(st);
	return NULL;
}

void
store_free(struct store **sp)
{
	struct store *st;

	if (sp == NULL || (st = *sp) == NULL)
		return;
	*sp = NULL;
	if (st->have_committer) {
		/* The committer exits only once the queue is empty. */
		pthread_mutex_lock(&st->lock);
		st->stopping = 1;
		pthread_cond_signal(&st->work);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->committer, NULL);
	}
	store_destroy(st);
}

int
store_reader_check(struct store *st, int *cleared)
{
	int rc, dead = 0;

	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		mdb_err(rc, "reader check");
		return -1;
	}
	if (dead > 0) {
		log_warnx("store: cleared %d stale reader slot(s)", dead);
		pthread_mutex_lock(&st->lock);
		st->stats.stale_readers += (uint64_t)dead;
		pthread_mutex_unlock(&st->lock);
	}
	if (cleared != NULL)
		*cleared = dead;
	return 0;
}

void
store_stats(struct store *st, struct store_stats *out)
{
	MDB_envinfo info;
	MDB_stat ms;

	pthread_mutex_lock(&st->lock);
	*out = st->stats;
	pthread_mutex_unlock(&st->lock);
	if (mdb_env_info(st->env, &info) == 0 &&
	    mdb_env_stat(st->env, &ms) == 0) {
		out->map_size = (uint64_t)info.me_mapsize;
		out->map_used = ((uint64_t)info.me_last_pgno + 1) *
		    ms.ms_psize;
	}
}


/* --- transactions ------------------------------------------------------- */

/* A write of this process begins as id: one whose id does not follow our
 * last commit had another writer's commit before it. */
static void
own_begin(struct store *st, uint64_t id)
{
	if (id != atomic_load(&st->own_last) + 1)
		atomic_fetch_add(&st->foreign_gen, 1);
}

uint64_t
store_foreign_gen(struct store *st)
{
	MDB_envinfo info;

	if (mdb_env_info(st->env, &info) != 0 ||
	    (uint64_t)info.me_last_txnid > atomic_load(&st->own_last))
		atomic_fetch_add(&st->foreign_gen, 1);
	return atomic_load(&st->foreign_gen);
}

static int
txn_begin(struct store *st, struct store_txn **tp, enum txn_kind kind)
{
	struct store_txn *t;
	int rc;

	*tp = NULL;
	if (kind == TXN_WRITE && st->read_only) {
		err_set(TS_EINVALID, "store: opened read-only");
		return -1;
	}
	if ((t = malloc(sizeof(*t))) == NULL) {
		err_set(TS_ENOMEM, "store: out of memory");
		return -1;
	}
	rc = mdb_txn_begin(st->env, NULL, kind == TXN_READ ? MDB_RDONLY : 0,
	    &t->txn);
	if (rc != 0) {
		free(t);
		mdb_err(rc, "begin %s transaction",
		    kind == TXN_READ ? "read" : "write");
		return -1;
	}
	t->st = st;
	t->kind = kind;
	t->lent = 0;
	if (kind == TXN_WRITE) {
		own_begin(st, (uint64_t)mdb_txn_id(t->txn));
		write_txns++;
	}
	*tp = t;
	return 0;
}

int
store_read_begin(struct store *st, struct store_txn **tp)
{
	return txn_begin(st, tp, TXN_READ);
}

int
store_write_begin(struct store *st, struct store_txn **tp)
{
	if (committer_of == st) {
		err_set(TS_EINTERNAL, "store: write transaction begun inside "
		    "a store_write() function");
		*tp = NULL;
		return -1;
	}
	return txn_begin(st, tp, TXN_WRITE);
}

/* A transaction lent to a store_write() function or a migration step is
 * ended by the store; a callback that tries has a bug, which must not free
 * the transaction under the store's feet. */
static int
lent_misuse(struct store_txn *t)
{
	if (!t->lent)
		return 0;
	err_set(TS_EINTERNAL, "store: a callback may not end the transaction "
	    "it was given");
	log_err("store");
	return 1;
}

int
store_txn_commit(struct store_txn **tp)
{
	struct store_txn *t;
	uint64_t id;
	int rc;

	if (tp == NULL || (t = *tp) == NULL)
		return 0;
	if (lent_misuse(t))
		return -1;
	*tp = NULL;
	id = (uint64_t)mdb_txn_id(t->txn);
	rc = mdb_txn_commit(t->txn);
	if (t->kind == TXN_WRITE) {
		write_txns--;
		if (rc == 0)
			atomic_store(&t->st->own_last, id);
	}
	free(t);
	if (rc != 0) {
		mdb_err(rc, "commit");
		return -1;
	}
	return 0;
}

void
store_txn_abort(struct store_txn **tp)
{
	struct store_txn *t;

	if (tp == NULL || (t = *tp) == NULL || lent_misuse(t))
		return;
	*tp = NULL;
	mdb_txn_abort(t->txn);
	if (t->kind == TXN_WRITE)
		write_txns--;
	free(t);
}

void
store_txn_end(struct store_txn **tp)
{
	store_txn_abort(tp);
}

uint64_t
store_txn_id(const struct store_txn *t)
{
	return (uint64_t)mdb_txn_id(t->txn);
}


/* --- group commit ------------------------------------------------------- */

/* (not common/clock: the unit tests link the store without it) */
static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
req_fail(struct wreq *r)
{
	r->rc = -1;
	r->err = *err_last();
}

/* Run one request in a nested transaction of outer. */
static void
run_one(struct store *st, MDB_txn *outer, struct wreq *r)
{
	struct store_txn t;
	MDB_txn *child;
	int rc;

	if ((rc = mdb_txn_begin(st->env, outer, 0, &child)) != 0) {
		mdb_err(rc, "begin nested transaction");
		req_fail(r);
		return;
	}
	t.st = st;
	t.txn = child;
	t.kind = TXN_BATCH;
	t.lent = 1;
	err_clear();
	log_set_request_id(r->reqid);
	if (r->fn(&t, r->arg) != 0) {
		if (err_code() == TS_EOK)
			err_set(TS_EINTERNAL, "store: write function failed "
			    "without recording an error");
		req_fail(r);
		mdb_txn_abort(child);
		return;
	}
	/* Fails (MDB_BAD_TXN) if fn ignored an error that poisoned child. */
	if ((rc = mdb_txn_commit(child)) != 0) {
		mdb_err(rc, "commit nested transaction");
		req_fail(r);
		return;
	}
	r->rc = 0;
}

/* Returns 1 if an outer transaction was committed. *run_us and
 * *commit_us receive the time spent in the functions and in the commit. */
static int
run_batch(struct store *st, struct wreq *batch, int64_t *run_us,
    int64_t *commit_us)
{
	struct wreq *r;
	MDB_txn *outer;
	uint64_t id;
	int rc, ok = 0;
	int64_t t0 = mono_us(), t1;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &outer)) != 0) {
		mdb_err(rc, "begin write transaction");
		for (r = batch; r != NULL; r = r->next)
			req_fail(r);
		return -1;
	}
	id = (uint64_t)mdb_txn_id(outer);
	own_begin(st, id);
	for (r = batch; r != NULL; r = r->next) {
		run_one(st, outer, r);
		ok += r->rc == 0;
	}
	log_set_request_id(NULL);
	t1 = mono_us();
	*run_us = t1 - t0;
	if (ok == 0) {
		mdb_txn_abort(outer);	/* nothing to sync */
		return 0;
	}
	rc = mdb_txn_commit(outer);
	*commit_us = mono_us() - t1;
	if (rc == 0)
		atomic_store(&st->own_last, id);
	if (rc != 0) {
		mdb_err(rc, "commit of %d write(s)", ok);
		log_err("store");
		for (r = batch; r != NULL; r = r->next)
			if (r->rc == 0)
				req_fail(r);
		return -1;
	}
	return 1;
}

static void *
committer_main(void *arg)
{
	struct store *st = arg;
	struct wreq *batch, *r, *next;
	uint64_t n, failed;
	int64_t now, run_us, commit_us;
	int res;

	committer_of = st;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (st->head == NULL && !st->stopping)
			pthread_cond_wait(&st->work, &st->lock);
		if (st->head == NULL)
			break;	/* stopping and drained */
		batch = st->head;
		for (n = 1, r = batch; r->next != NULL &&
		    n < STORE_BATCH_MAX; n++)
			r = r->next;
		st->head = r->next;
		if (st->head == NULL)
			st->tail = NULL;
		r->next = NULL;
		st->stats.queued -= n;
		now = mono_us();
		for (r = batch; r != NULL; r = r->next) {
			r->queued_us = now - r->queued_at;
			st->stats.queued_us += (uint64_t)r->queued_us;
		}
		pthread_mutex_unlock(&st->lock);

		run_us = commit_us = 0;
		res = run_batch(st, batch, &run_us, &commit_us);

		pthread_mutex_lock(&st->lock);
		st->stats.run_us += (uint64_t)run_us;
		st->stats.commit_us += (uint64_t)commit_us;
		st->stats.writes += n;
		if (res == 1) {
			size_t k = 0;

			st->stats.commits++;
			if (n > st->stats.max_batch)
				st->stats.max_batch = n;
			while (k + 1 < STORE_BATCH_BUCKETS &&
			    ((size_t)1 << k) < n)
				k++;
			st->stats.batch_hist[k]++;
			st->stats.batch_writes += n;
		} else if (res == -1)
			st->stats.commits_failed++;
		/* The caller frees its request as soon as it sees done, and
		 * it needs the lock we hold to see it: read next first. */
		now = mono_us();
		for (failed = 0, r = batch; r != NULL; r = next) {
			next = r->next;
			failed += r->rc != 0;
			r->done_at = now;
			r->run_us = run_us;
			r->commit_us = commit_us;
			r->done = 1;
			pthread_cond_signal(&r->cv);
		}
		st->stats.writes_failed += failed;
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int
store_write(struct store *st, int (*fn)(struct store_txn *, void *),
    void *arg)
{
	struct wreq r;

	if (fn == NULL) {
		err_set(TS_EINVALID, "store: store_write() without a function");
		return -1;
	}
	if (st->read_only) {
		err_set(TS_EINVALID, "store: opened read-only");
		return -1;
	}
	if (committer_of == st) {
		err_set(TS_EINTERNAL, "store: store_write() called from a "
		    "store_write() function");
		return -1;
	}
	if (write_txns > 0) {
		err_set(TS_EINTERNAL, "store: store_write() called while this "
		    "thread holds a write transaction");
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.fn = fn;
	r.arg = arg;
	snprintf(r.reqid, sizeof(r.reqid), "%s", log_request_id());
	pthread_cond_init(&r.cv, NULL);

	pthread_mutex_lock(&st->lock);
	if (st->stopping) {
		pthread_mutex_unlock(&st->lock);
		pthread_cond_destroy(&r.cv);
		err_set(TS_EUNAVAILABLE, "store: closing");
		return -1;
	}
	if (st->tail != NULL)
		st->tail->next = &r;
	else
		st->head = &r;
	st->tail = &r;
	st->stats.queued++;
	r.queued_at = mono_us();
	pthread_cond_signal(&st->work);
	while (!r.done)
		pthread_cond_wait(&r.cv, &st->lock);
	last_times.wake_us = mono_us() - r.done_at;
	st->stats.wake_us += (uint64_t)last_times.wake_us;
	pthread_mutex_unlock(&st->lock);
	last_times.queued_us = r.queued_us;
	last_times.run_us = r.run_us;
	last_times.commit_us = r.commit_us;
	pthread_cond_destroy(&r.cv);

	if (r.rc != 0) {
		err_set_(r.err.code, r.err.file, r.err.line, "%s", r.err.msg);
		return -1;
	}
	return 0;
}


void
store_write_last(struct store_write_times *out)
{
	*out = last_times;
}


/* --- raw access --------------------------------------------------------- */

int
store_get(struct store_txn *t, const char *table, const void *key,
    size_t klen, const void **val, size_t *vlen)
{
	struct table *tb;
	MDB_val k, v;
	int rc;

	if ((tb = table_find(t->st, table)) == NULL ||
	    key_check(t->st, table, klen) == -1)
		return -1;
	if (!tb->present) {
		err_set(TS_ENOT_FOUND, "store: %s: not found", table);
		return -1;
	}
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if ((rc = mdb_get(t->txn, tb->dbi, &k, &v)) != 0) {
		mdb_err(rc, "%s: get", table);
		return -1;
	}
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 0;
}

int
store_put(struct store_txn *t, const char *table, const void *key,
    size_t klen, const void *val, size_t vlen, int flags)
{
	struct table *tb;
	MDB_val k, v;
	int rc;

	if ((tb = table_find(t->st, table)) == NULL ||
	    writable(t, table) == -1 || key_check(t->st, table, klen) == -1)
		return -1;
	if ((flags & ~STORE_NOOVERWRITE) != 0) {
		err_set(TS_EINVALID, "store: %s: bad put flags %#x", table,
		    (unsigned)flags);
		return -1;
	}
	k.mv_data = (void *)key;
	k.mv_size = klen;
	v.mv_data = (void *)val;
	v.mv_size = vlen;
	rc = mdb_put(t->txn, tb->dbi, &k, &v,
	    (flags & STORE_NOOVERWRITE) ? MDB_NOOVERWRITE : 0);
	if (rc != 0) {
		if (rc == MDB_KEYEXIST)
			err_set(TS_ECONFLICT, "store: %s: key exists", table);
		else
			mdb_err(rc, "%s: put (%zu bytes)", table, vlen);
		return -1;
	}
	return 0;
}

int
store_del(struct store_txn *t, const char *table, const void *key,
    size_t klen)
{
	struct table *tb;
	MDB_val k;
	int rc;

	if ((tb = table_find(t->st, table)) == NULL ||
	    writable(t, table) == -1 || key_check(t->st, table, klen) == -1)
		return -1;
	k.mv_data = (void *)key;
	k.mv_size = klen;
	if ((rc = mdb_del(t->txn, tb->dbi, &k, NULL)) != 0) {
		mdb_err(rc, "%s: delete", table);
		return -1;
	}
	return 0;
}

int
store_count(struct store_txn *t, const char *table, size_t *count)
{
	struct table *tb;
	MDB_stat ms;
	int rc;

	if ((tb = table_find(t->st, table)) == NULL)
		return -1;
	*count = 0;
	if (!tb->present)
		return 0;
	if ((rc = mdb_stat(t->txn, tb->dbi, &ms)) != 0) {
		mdb_err(rc, "%s: stat", table);
		return -1;
	}
	*count = ms.ms_entries;
	return 0;
}

int
store_clear(struct store_txn *t, const char *table)
{
	struct table *tb;
	int rc;

	if ((tb = table_find(t->st, table)) == NULL ||
	    writable(t, table) == -1)
		return -1;
	if ((rc = mdb_drop(t->txn, tb->dbi, 0)) != 0) {
		mdb_err(rc, "%s: clear", table);
		return -1;
	}
	return 0;
}

/*
 * From the entry the cursor is on (rc: the positioning's result), hands
 * entries to cb in the direction op (MDB_NEXT or MDB_PREV) while their
 * keys start with prefix; a walk leaves the prefix only once, whichever
 * way it goes. 0, or -1 when cb or LMDB failed (the error recorded).
 */
static int
walk(MDB_cursor *cur, int rc, MDB_val *k, MDB_val *v, MDB_cursor_op op,
    const void *prefix, size_t plen, store_iter_fn *cb, void *arg,
    const char *table)
{
	int r;

	while (rc == 0) {
		if (plen > 0 && (k->mv_size < plen ||
		    memcmp(k->mv_data, prefix, plen) != 0))
			break;
		r = cb(k->mv_data, k->mv_size, v->mv_data, v->mv_size, arg);
		if (r < 0)
			return -1;
		if (r > 0)
			break;
		rc = mdb_cursor_get(cur, k, v, op);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_err(rc, "%s: iterate", table);
		return -1;
	}
	return 0;
}

int
store_iter_after(struct store_txn *t, const char *table, const void *prefix,
    size_t plen, const void *after, size_t alen, store_iter_fn *cb,
    void *arg)
{
	struct table *tb;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, ret = 0;

	if ((tb = table_find(t->st, table)) == NULL)
		return -1;
	if (plen > (size_t)t->st->maxkey || alen > (size_t)t->st->maxkey) {
		err_set(TS_EINVALID, "store: %s: iteration key too long",
		    table);
		return -1;
	}
	if (!tb->present)
		return 0;
	if ((rc = mdb_cursor_open(t->txn, tb->dbi, &cur)) != 0) {
		mdb_err(rc, "%s: cursor", table);
		return -1;
	}
	if (after == NULL)
		alen = 0;
	/* Start at the later of "the prefix" and "just after the marker". */
	if (alen > 0 && (plen == 0 || keycmp(after, alen, prefix, plen) >= 0)) {
		k.mv_data = (void *)after;
		k.mv_size = alen;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && keycmp(k.mv_data, k.mv_size, after, alen) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else if (plen > 0) {
		k.mv_data = (void *)prefix;
		k.mv_size = plen;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);

	ret = walk(cur, rc, &k, &v, MDB_NEXT, prefix, plen, cb, arg, table);
	mdb_cursor_close(cur);
	return ret;
}

/*
 * Puts the cursor on the greatest key strictly less than bound (NULL: the
 * last key). MDB_SET_RANGE finds the least key >= bound; the one before it
 * is ours. When no key is >= bound, MDB_SET_RANGE leaves the cursor
 * unpositioned and the answer is the table's last key.
 */
static int
seek_below(MDB_cursor *cur, const uint8_t *bound, size_t blen, MDB_val *k,
    MDB_val *v)
{
	int rc;

	if (bound == NULL)
		return mdb_cursor_get(cur, k, v, MDB_LAST);
	k->mv_data = (void *)bound;
	k->mv_size = blen;
	rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == 0)
		return mdb_cursor_get(cur, k, v, MDB_PREV);
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(cur, k, v, MDB_LAST);
	return rc;
}

int
store_iter_before(struct store_txn *t, const char *table, const void *prefix,
    size_t plen, const void *before, size_t blen, store_iter_fn *cb,
    void *arg)
{
	uint8_t upper[STORE_KEY_MAX];
	const uint8_t *bound = NULL;
	struct table *tb;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t ulen = plen;
	int rc, ret = 0;

	if ((tb = table_find(t->st, table)) == NULL)
		return -1;
	if (plen > (size_t)t->st->maxkey || blen > (size_t)t->st->maxkey) {
		err_set(TS_EINVALID, "store: %s: iteration key too long",
		    table);
		return -1;
	}
	if (!tb->present)
		return 0;
	if (before == NULL)
		blen = 0;
	/*
	 * The keys starting with prefix are those in [prefix, upper), upper
	 * the prefix with its trailing 0xff bytes dropped and its last byte
	 * incremented; none (all 0xff, or no prefix) means up to the end.
	 * Start below the lesser of upper and the marker.
	 */
	if (plen > 0)
		memcpy(upper, prefix, plen);
	while (ulen > 0 && upper[ulen - 1] == 0xff)
		ulen--;
	if (ulen > 0) {
		upper[ulen - 1]++;
		bound = upper;
	}
	if (blen > 0 && (bound == NULL ||
	    keycmp(before, blen, upper, ulen) < 0)) {
		bound = before;
		ulen = blen;
	}
	if ((rc = mdb_cursor_open(t->txn, tb->dbi, &cur)) != 0) {
		mdb_err(rc, "%s: cursor", table);
		return -1;
	}
	rc = seek_below(cur, bound, ulen, &k, &v);
	/* Every key below the start and not under the prefix is below the
	 * prefix, as all that follow: the first such ends the walk. */
	ret = walk(cur, rc, &k, &v, MDB_PREV, prefix, plen, cb, arg, table);
	mdb_cursor_close(cur);
	return ret;
}

int
store_iter(struct store_txn *t, const char *table, const void *prefix,
    size_t plen, store_iter_fn *cb, void *arg)
{
	return store_iter_after(t, table, prefix, plen, NULL, 0, cb, arg);
}


/* --- secondary indexes -------------------------------------------------- */

/* Builds <ival> 0x00 <pk> (pk may be empty: the iteration prefix) into buf
 * of STORE_KEY_MAX bytes. Returns its length or 0 with err set. */
static size_t
index_key(struct store *st, const char *index, uint8_t *buf,
    const void *ival, size_t ilen, const void *pk, size_t pklen)
{
	if (ilen == 0 || memchr(ival, 0, ilen) != NULL) {
		err_set(TS_EINVALID, "store: %s: index value empty or "
		    "containing NUL", index);
		return 0;
	}
	if (ilen + 1 + pklen > (size_t)st->maxkey) {
		err_set(TS_EINVALID, "store: %s: index key of %zu bytes "
		    "(max %d)", index, ilen + 1 + pklen, st->maxkey);
		return 0;
	}
	memcpy(buf, ival, ilen);
	buf[ilen] = 0;
	if (pklen > 0)
		memcpy(buf + ilen + 1, pk, pklen);
	return ilen + 1 + pklen;
}

int
store_index_put(struct store_txn *t, const char *index, const void *ival,
    size_t ilen, const void *pk, size_t pklen)
{
	uint8_t key[STORE_KEY_MAX];
	size_t n;

	if (pklen == 0) {
		err_set(TS_EINVALID, "store: %s: empty primary key", index);
		return -1;
	}
	if ((n = index_key(t->st, index, key, ival, ilen, pk, pklen)) == 0)
		return -1;
	return store_put(t, index, key, n, "", 0, 0);
}

int
store_index_del(struct store_txn *t, const char *index, const void *ival,
    size_t ilen, const void *pk, size_t pklen)
{
	uint8_t key[STORE_KEY_MAX];
	size_t n;

	if (pklen == 0) {
		err_set(TS_EINVALID, "store: %s: empty primary key", index);
		return -1;
	}
	if ((n = index_key(t->st, index, key, ival, ilen, pk, pklen)) == 0)
		return -1;
	return store_del(t, index, key, n);
}

struct index_iter_arg {
	size_t	 skip;
	int	(*cb)(const void *, size_t, void *);
	void	*arg;
};

static int
index_iter_cb(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct index_iter_arg *ia = arg;

	return ia->cb((const uint8_t *)k + ia->skip, klen - ia->skip, ia->arg);
}

int
store_index_iter(struct store_txn *t, const char *index, const void *ival,
    size_t ilen, int (*cb)(const void *, size_t, void *), void *arg)
{
	uint8_t prefix[STORE_KEY_MAX];
	struct index_iter_arg ia;
	size_t n;

	if ((n = index_key(t->st, index, prefix, ival, ilen, NULL, 0)) == 0)
		return -1;
	ia.skip = n;
	ia.cb = cb;
	ia.arg = arg;
	return store_iter(t, index, prefix, n, index_iter_cb, &ia);
}


/* --- schema version and migrations -------------------------------------- */

static int
version_get(struct store_txn *t, uint32_t *version)
{
	struct table *meta = &t->st->tables[0];
	const uint8_t *p;
	MDB_val k, v;
	int rc;

	*version = 0;
	if (!meta->present)
		return 0;
	k.mv_data = (void *)VERSION_KEY;
	k.mv_size = sizeof(VERSION_KEY) - 1;
	rc = mdb_get(t->txn, meta->dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		mdb_err(rc, "read schema version");
		return -1;
	}
	if (v.mv_size != 4) {
		err_set(TS_EDECODE, "store: schema_version has %zu bytes, "
		    "expected 4", v.mv_size);
		return -1;
	}
	p = v.mv_data;
	*version = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	return 0;
}

static int
version_put(struct store_txn *t, uint32_t version)
{
	uint8_t b[4];

	b[0] = version >> 24;
	b[1] = version >> 16;
	b[2] = version >> 8;
	b[3] = version;
	return store_put(t, STORE_META_TABLE, VERSION_KEY,
	    sizeof(VERSION_KEY) - 1, b, sizeof(b), 0);
}

int
store_schema_version(struct store *st, uint32_t *version)
{
	struct store_txn *t;
	int rc;

	if (store_read_begin(st, &t) == -1)
		return -1;
	rc = version_get(t, version);
	store_txn_end(&t);
	return rc;
}

/* The step leaving v that gets furthest without passing target. */
static const struct store_migration *
step_find(const struct store_migration *steps, size_t n, uint32_t v,
    uint32_t target)
{
	const struct store_migration *best = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (steps[i].from == v && steps[i].to <= target &&
		    (best == NULL || steps[i].to > best->to))
			best = &steps[i];
	return best;
}

int
store_migrate(struct store *st, const struct store_migration *steps,
    size_t n, uint32_t target)
{
	const struct store_migration *s;
	struct store_txn *t;
	const char *name;
	uint32_t v;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if (steps[i].to <= steps[i].from || steps[i].fn == NULL) {
			err_set(TS_EINVALID, "store: bad migration step %zu "
			    "(%u -> %u)", i, steps[i].from, steps[i].to);
			return -1;
		}
	for (;;) {
		/* Version read and bump in the same transaction, so a
		 * concurrent db sync cannot run a step twice. */
		if (store_write_begin(st, &t) == -1)
			return -1;
		if (version_get(t, &v) == -1)
			goto fail;
		if (v == target) {
			store_txn_abort(&t);
			log_info("store: schema version %u is current", v);
			return 0;
		}
		if (v > target) {
			err_set(TS_ECONFIG, "database schema %u is newer than "
			    "this binary supports (%u); upgrade tinystack", v,
			    target);
			goto fail;
		}
		if ((s = step_find(steps, n, v, target)) == NULL) {
			err_set(TS_ECONFIG, "store: no migration from schema "
			    "%u towards %u", v, target);
			goto fail;
		}
		name = s->name ? s->name : "unnamed";
		log_info("store: migrating schema %u -> %u (%s)", s->from,
		    s->to, name);
		t->lent = 1;
		rc = s->fn(t, s->arg);
		t->lent = 0;
		if (rc != 0) {
			if (err_code() == TS_EOK)
				err_set(TS_EINTERNAL, "failed without "
				    "recording an error");
			err_prefix("store: migration %u -> %u (%s): ",
			    s->from, s->to, name);
			goto fail;
		}
		if (version_put(t, s->to) == -1)
			goto fail;
		if (store_txn_commit(&t) == -1)
			return -1;
		log_info("store: schema version now %u", s->to);
	}

fail:
	store_txn_abort(&t);
	return -1;
}
