/*
 * store: the controller's database, one LMDB environment holding every table.
 *
 * Invariants:
 * - One environment per process, opened once (LMDB breaks its advisory
 *   locking if the same environment is opened twice in one process, and an
 *   environment must not be used across fork()).
 * - Durable by default: every commit is synced (MDB_NOMETASYNC at most, which
 *   may undo only the last commit on a power loss). WRITEMAP, MAPASYNC and
 *   NOSYNC cannot be requested: they trade integrity or durability away.
 * - Tables are named LMDB databases opened once, at store_open(), in one write
 *   transaction. A "meta" table always exists and holds "schema_version".
 * - One writer. Daemon code writes through store_write(): a single committer
 *   thread batches everything waiting into one durable transaction (group
 *   commit), each caller's function in its own nested transaction, so a
 *   failing function is rolled back alone. Readers never block and never
 *   touch the writer.
 * - Read transactions use MDB_NOTLS: a read transaction may be ended on any
 *   thread, and a thread may hold several. Keep them short: an open reader
 *   pins old pages, the file grows, and MDB_MAP_FULL follows.
 * - LMDB errors are mapped once: MDB_NOTFOUND -> TS_ENOT_FOUND, MDB_MAP_FULL
 *   -> TS_EDB_FULL, MDB_READERS_FULL -> TS_EUNAVAILABLE, MDB_KEYEXIST ->
 *   TS_ECONFLICT, key or value size -> TS_EINVALID, anything else TS_EIO.
 *
 * Keys are at most STORE_KEY_MAX bytes and never empty. Every pointer that
 * the store hands out of a transaction (store_get, iteration callbacks) points
 * into the memory map: read-only, valid until the transaction ends, and, in a
 * write transaction, only until the next write in that transaction.
 */
#ifndef TS_STORE_H
#define TS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "err.h"

/* LMDB's compiled-in maximum key size (mdb_env_get_maxkeysize()). */
#define STORE_KEY_MAX		511
/* Upper bound on the functions one group commit runs in one transaction. */
#define STORE_BATCH_MAX		256
/* Name of the table that is always opened, holding "schema_version". */
#define STORE_META_TABLE	"meta"

struct store;
struct store_txn;

enum store_sync {
	STORE_SYNC_FULL = 0,	/* fsync data and meta page on every commit */
	STORE_SYNC_NOMETASYNC,	/* skip the meta-page sync: a power loss may
				 * undo the last commit, never corrupt */
};

struct store_opts {
	const char	 *path;		/* directory; created 0700 if missing
					 * (not for read_only) */
	size_t		  map_size;	/* bytes; 0 -> 1 GiB */
	unsigned int	  max_readers;	/* 0 -> LMDB's default (126) */
	enum store_sync	  sync;
	/* NULL-terminated table names, besides "meta"; borrowed for the
	 * duration of store_open() only. */
	const char *const *tables;
	/* Open without the committer thread, for tools that only read. The
	 * lock file is still written (reader slots live there), so the
	 * caller needs write access to <path>/lock.mdb. Tables missing from
	 * the database read as empty. */
	int		  read_only;
};

/* Open (creating if needed) the store. Clears stale reader slots left by
 * processes that died mid-read and logs how many (a process opening the
 * environment alone gets a fresh reader table from LMDB anyway; the check
 * matters while another process, e.g. a tool, still has it open). Returns an owned store, or
 * NULL with err set (TS_EINVALID bad options, TS_ECONFIG/TS_EIO on an
 * unusable path or file, TS_ENOT_FOUND read-only without a database). */
struct store	*store_open(const struct store_opts *);
/* Runs every store_write() already queued, stops the committer, closes the
 * environment. No transaction may be open. Accepts NULL; clears *sp. */
void		 store_free(struct store **sp);

/* Release reader slots of dead processes; call periodically. *cleared (may
 * be NULL) receives the number released. */
int		 store_reader_check(struct store *, int *cleared);

/* Buckets of store_stats.batch_hist: 1, 2, 4, ... 2^(N-1) writes. */
#define STORE_BATCH_BUCKETS	9
struct store_stats {
	uint64_t	writes;		/* store_write() functions run */
	uint64_t	writes_failed;	/* of which failed (fn or commit) */
	uint64_t	commits;	/* outer transactions committed */
	uint64_t	commits_failed;	/* outer transactions that failed */
	uint64_t	max_batch;	/* largest batch committed at once */
	uint64_t	stale_readers;	/* reader slots cleared, open + checks */
	uint64_t	queued;		/* writes waiting for the committer now */
	/* Committed batches by size: batch_hist[i] counts those of more
	 * than 2^(i-1) and at most 2^i writes (non-cumulative). */
	uint64_t	batch_hist[STORE_BATCH_BUCKETS];
	uint64_t	batch_writes;	/* writes in committed batches */
	/* Where a store_write() waits, summed in microseconds: queued until
	 * the committer takes its batch (per write), the batch's functions
	 * and LMDB's commit (pwrite + fdatasync: per batch), and from the
	 * committer's wake-up to the caller running again (per write). */
	uint64_t	queued_us;
	uint64_t	run_us;
	uint64_t	commit_us;
	uint64_t	wake_us;
	uint64_t	map_size;	/* bytes: the LMDB map */
	uint64_t	map_used;	/* bytes: pages in use up to the last */
};
void		 store_stats(struct store *, struct store_stats *);

/*
 * Transactions.
 *
 * store_read_begin(): a snapshot; many may be open at once on any threads.
 * store_write_begin(): a direct write transaction on the calling thread, for
 * tools and migrations. It waits for LMDB's writer lock, which the committer
 * also takes, so a thread holding one must not call store_write() (refused
 * with TS_EINTERNAL rather than deadlocking).
 *
 * store_txn_end() ends any transaction (a write is aborted).
 * store_txn_commit() commits a write (durably) or ends a read; on failure
 * the transaction is aborted and err set. Both free the txn and clear *tp;
 * they accept a NULL *tp. store_txn_abort() is store_txn_end(). A
 * transaction lent to a store_write() function or a migration step belongs
 * to the store: ending it is refused (TS_EINTERNAL) and logged.
 */
int		 store_read_begin(struct store *, struct store_txn **);
int		 store_write_begin(struct store *, struct store_txn **);
int		 store_txn_commit(struct store_txn **);
void		 store_txn_abort(struct store_txn **);
void		 store_txn_end(struct store_txn **);
/* LMDB's transaction id: for a read, the newest commit its snapshot sees;
 * for a write (and the nested one a store_write() function runs in), the
 * id it commits as. A snapshot sees a write's changes iff its id is >= the
 * write's (one environment; an aborted write's id is used again). */
uint64_t	 store_txn_id(const struct store_txn *);
/*
 * A count that moves whenever another process (a tool) may have committed
 * to the environment since the last call: for in-memory copies of records
 * only other processes write (the fleet's enrolment check), valid while
 * it has not moved. It may move without such a write (a commit of this
 * process not yet accounted for), never stay put after one. Any thread;
 * a few loads, no lock.
 */
uint64_t	 store_foreign_gen(struct store *);

/*
 * Group commit. fn runs on the committer thread inside a nested transaction
 * of the current batch. It returns 0, or -1 with err set; on -1 its changes
 * are rolled back and nothing else in the batch is affected. store_write()
 * returns only after the batch is durable (0), or with fn's error, or with
 * the commit's error when the whole batch failed. The caller's request id is
 * carried to the committer for logging. fn must not call store_write() and
 * must not block on anything a store_write() caller may hold. Safe to call
 * from any number of threads.
 */
int		 store_write(struct store *, int (*fn)(struct store_txn *,
		    void *), void *arg);
/* Where this thread's last store_write() waited, in microseconds: queued
 * for its batch, the batch's functions and commit, the wake-up after it
 * (as summed in store_stats). Zeros before the first. */
struct store_write_times {
	int64_t		 queued_us, run_us, commit_us, wake_us;
};
void		 store_write_last(struct store_write_times *);

/*
 * Raw access. table is a name given at open (or STORE_META_TABLE).
 * store_get(): *val borrowed, see the file comment; TS_ENOT_FOUND if absent.
 * store_put(): flags 0 or STORE_NOOVERWRITE (TS_ECONFLICT if the key exists).
 * store_del(): TS_ENOT_FOUND if absent.
 */
#define STORE_NOOVERWRITE	0x1

int		 store_get(struct store_txn *, const char *table,
		    const void *key, size_t klen, const void **val,
		    size_t *vlen);
int		 store_put(struct store_txn *, const char *table,
		    const void *key, size_t klen, const void *val,
		    size_t vlen, int flags);
int		 store_del(struct store_txn *, const char *table,
		    const void *key, size_t klen);
int		 store_count(struct store_txn *, const char *table, size_t *);
/* Deletes every key of table (mdb_drop(), the table stays): a migration
 * that rewrites all of a table's keys. Write transactions only. */
int		 store_clear(struct store_txn *, const char *table);

/*
 * Iteration in key order over the keys starting with prefix (plen 0: all).
 * The callback gets borrowed key and value; it returns 0 to go on, 1 to stop,
 * -1 (err set) to fail the iteration. It must not write to the table being
 * iterated (collect keys, then write). Returns 0 (also when stopped) or -1.
 * store_iter_after() starts strictly after the key `after` (marker-based
 * pagination: pass the last key of the previous page); after NULL or alen 0
 * is the same as store_iter().
 * store_iter_before() walks the same keys backwards (greatest first),
 * starting strictly before the key `before` (NULL or blen 0: from the
 * prefix's last key): the newest-first walk of an index whose keys grow
 * with time, so that new keys append on the right of the B-tree.
 */
typedef int store_iter_fn(const void *k, size_t klen, const void *v,
    size_t vlen, void *arg);

int		 store_iter(struct store_txn *, const char *table,
		    const void *prefix, size_t plen, store_iter_fn *cb,
		    void *arg);
int		 store_iter_after(struct store_txn *, const char *table,
		    const void *prefix, size_t plen, const void *after,
		    size_t alen, store_iter_fn *cb, void *arg);
int		 store_iter_before(struct store_txn *, const char *table,
		    const void *prefix, size_t plen, const void *before,
		    size_t blen, store_iter_fn *cb, void *arg);

/*
 * Secondary indexes. An index is an ordinary table whose keys are
 * <index value> 0x00 <primary key> with empty values, so all primary keys of
 * one value are adjacent and come out in primary-key order. Index values must
 * be non-empty and contain no NUL byte (TS_EINVALID). store_index_put() is
 * idempotent; store_index_del() returns TS_ENOT_FOUND if the entry is absent.
 * The iteration callback gets the borrowed primary key and returns 0/1/-1 as
 * for store_iter().
 */
int		 store_index_put(struct store_txn *, const char *index,
		    const void *ival, size_t ilen, const void *pk, size_t pklen);
int		 store_index_del(struct store_txn *, const char *index,
		    const void *ival, size_t ilen, const void *pk, size_t pklen);
int		 store_index_iter(struct store_txn *, const char *index,
		    const void *ival, size_t ilen,
		    int (*cb)(const void *pk, size_t pklen, void *arg), void *arg);

/*
 * Schema version and migrations. The version is a big-endian u32 under
 * "schema_version" in the meta table; a database without it is version 0.
 *
 * store_migrate() brings the database to `target`: from the current version
 * v it runs the step with from == v (and to <= target), each step in its own
 * write transaction that also stores the new version, so a crash or a failed
 * step leaves the database at the last completed step and a re-run resumes
 * there. Already at target: nothing to do. A database newer than target is
 * refused with TS_ECONFIG (the binary is too old). A gap with no step is
 * TS_ECONFIG. Each step is logged. Not for use from a store_write() function.
 */
struct store_migration {
	uint32_t	 from;
	uint32_t	 to;
	const char	*name;
	int		(*fn)(struct store_txn *, void *arg);	/* 0 or -1 + err */
	void		*arg;
};

int		 store_schema_version(struct store *, uint32_t *);
int		 store_migrate(struct store *, const struct store_migration *,
		    size_t n, uint32_t target);

/*
 * Typed records: values encoded by the codec as [record version, body map]
 * (codec_record_encode). table NULL means the record type's own table
 * (type->table). store_rec_get() decodes into obj, which must be zeroed or
 * cleared and is owned by the caller afterwards (codec_clear()); it does not
 * borrow from the transaction. A stored record older than the type decodes
 * with the newer fields absent; a newer one, or a malformed one, fails with
 * TS_EDECODE. These are inline so that store.c has no link-time dependency
 * on the codec: code using only the raw layer need not link codec.c.
 */
static inline int
store_rec_get(struct store_txn *t, const char *table, const void *key,
    size_t klen, const struct schema_type *type, void *obj)
{
	const void *val;
	size_t vlen;

	if (table == NULL)
		table = type->table;
	if (store_get(t, table, key, klen, &val, &vlen) == -1)
		return -1;
	if (codec_record_decode(type, (const uint8_t *)val, vlen, obj,
	    NULL) == -1) {
		err_prefix("store: %s: ", table);
		return -1;
	}
	return 0;
}

/* flags as for store_put(). obj is only read. */
static inline int
store_rec_put(struct store_txn *t, const char *table, const void *key,
    size_t klen, const struct schema_type *type, const void *obj, int flags)
{
	struct buf b = { 0 };
	int rc;

	if (table == NULL)
		table = type->table;
	if (codec_record_encode(type, obj, &b) == -1) {
		buf_free(&b);	/* may hold storage even on failure */
		err_prefix("store: %s: ", table);
		return -1;
	}
	rc = store_put(t, table, key, klen, b.data, b.len, flags);
	buf_free(&b);
	return rc;
}

#endif
