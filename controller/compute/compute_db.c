/* compute_db: typed access to the compute tables; see compute_db.h. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "buf.h"
#include "codec.h"
#include "compute_db.h"
#include "core/db.h"
#include "err.h"
#include "log.h"

/* Two-part key "a NUL b" (keypairs, actions). */
static int
key2(char *out, size_t outlen, const char *a, const char *b, size_t *klen)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + 1 + lb > outlen || la + 1 + lb > STORE_KEY_MAX) {
		err_set(TS_EINVALID, "key too long");
		return -1;
	}
	memcpy(out, a, la);
	out[la] = '\0';
	memcpy(out + la + 1, b, lb);
	*klen = la + 1 + lb;
	return 0;
}

static int
get_k(struct store_txn *txn, const char *table, const void *key, size_t klen,
    const struct schema_type *type, void *obj)
{
	const void *v;
	size_t vl;

	memset(obj, 0, type->size);
	if (store_get(txn, table, key, klen, &v, &vl) == -1)
		return -1;
	if (codec_record_decode(type, v, vl, obj, NULL) == -1) {
		err_prefix("%s: ", table);
		return -1;
	}
	return 0;
}

static int
put_k(struct store_txn *txn, const char *table, const void *key, size_t klen,
    const struct schema_type *type, const void *obj, int flags)
{
	return store_rec_put(txn, table, key, klen, type, obj, flags);
}

/* Decoding iteration: the callback gets (key, decoded record). */
struct each {
	const struct schema_type *type;
	int	(*cb)(const void *k, size_t kl, void *rec, void *arg);
	void	*arg;
};

static int
each_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct each *e = arg;
	union {
		struct rec_flavor		f;
		struct rec_keypair		k;
		struct rec_instance		i;
		struct rec_instance_tombstone	t;
		struct rec_instance_action	a;
		struct rec_compute_usage	u;
		struct rec_host_usage		h;
		struct rec_compute_node		n;
		struct rec_migration		m;
	} obj;
	int rc;

	memset(&obj, 0, sizeof(obj));
	if (codec_record_decode(e->type, v, vl, &obj, NULL) == -1) {
		/* One unreadable record must not hide the others. */
		log_warnx("%s: skipping undecodable record: %s", e->type->name,
		    err_msg());
		return 0;
	}
	rc = e->cb(k, kl, &obj, e->arg);
	codec_clear(e->type, &obj);
	return rc;
}

static int
each_rec(struct store_txn *txn, const char *table, const void *prefix,
    size_t plen, const void *after, size_t alen,
    const struct schema_type *type,
    int (*cb)(const void *, size_t, void *, void *), void *arg)
{
	struct each e = { type, cb, arg };

	return store_iter_after(txn, table, prefix, plen, after, alen, each_cb,
	    &e);
}

/* ---------------------------------------------------------------- flavors */

int
compute_db_flavor_get(struct store_txn *txn, const char *id, struct rec_flavor *f)
{
	if (get_k(txn, T_FLAVORS, id, strlen(id), &schema_rec_flavor, f) ==
	    -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Flavor %s could not be found.",
			    id);
		return -1;
	}
	return 0;
}

struct first {
	char	pk[STORE_KEY_MAX + 1];
	int	found;
};

static int
first_pk(const void *pk, size_t pklen, void *arg)
{
	struct first *f = arg;

	if (pklen > STORE_KEY_MAX)
		return 0;
	memcpy(f->pk, pk, pklen);
	f->pk[pklen] = '\0';
	f->found = 1;
	return 1;
}

int
compute_db_flavor_by_name(struct store_txn *txn, const char *name,
    struct rec_flavor *f)
{
	struct first fp = { .found = 0 };

	if (*name != '\0' && store_index_iter(txn, T_FLAVORS_BY_NAME, name,
	    strlen(name), first_pk, &fp) == -1)
		return -1;
	if (!fp.found) {
		err_set(TS_ENOT_FOUND, "Flavor with name %s could not be "
		    "found.", name);
		return -1;
	}
	return compute_db_flavor_get(txn, fp.pk, f);
}

int
compute_db_flavor_add(struct store_txn *txn, const struct rec_flavor *f)
{
	struct rec_flavor old;

	if (compute_db_flavor_by_name(txn, f->name, &old) == 0) {
		codec_clear(&schema_rec_flavor, &old);
		err_set(TS_ECONFLICT, "Flavor with name %s already exists.",
		    f->name);
		return -1;
	} else if (err_code() != TS_ENOT_FOUND) {
		return -1;
	}
	if (put_k(txn, T_FLAVORS, f->id, strlen(f->id), &schema_rec_flavor, f,
	    STORE_NOOVERWRITE) == -1) {
		if (err_code() == TS_ECONFLICT)
			err_set(TS_ECONFLICT, "Flavor with ID %s already "
			    "exists.", f->id);
		return -1;
	}
	return store_index_put(txn, T_FLAVORS_BY_NAME, f->name,
	    strlen(f->name), f->id, strlen(f->id));
}

int
compute_db_flavor_update(struct store_txn *txn, const struct rec_flavor *f)
{
	return put_k(txn, T_FLAVORS, f->id, strlen(f->id), &schema_rec_flavor,
	    f, 0);
}

int
compute_db_flavor_del(struct store_txn *txn, const char *id)
{
	struct rec_flavor f;
	int rc;

	if (compute_db_flavor_get(txn, id, &f) == -1)
		return -1;
	rc = store_del(txn, T_FLAVORS, id, strlen(id));
	if (rc == 0 && store_index_del(txn, T_FLAVORS_BY_NAME, f.name,
	    strlen(f.name), id, strlen(id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		rc = -1;
	codec_clear(&schema_rec_flavor, &f);
	return rc;
}

struct typed_cb {
	int	(*cb)(const void *, void *);
	void	*arg;
};

static int
typed_each(const void *k, size_t kl, void *rec, void *arg)
{
	struct typed_cb *t = arg;

	return t->cb(rec, t->arg);
}

int
compute_db_flavor_each(struct store_txn *txn,
    int (*cb)(const struct rec_flavor *, void *), void *arg)
{
	struct typed_cb t = { (int (*)(const void *, void *))cb, arg };

	return each_rec(txn, T_FLAVORS, NULL, 0, NULL, 0, &schema_rec_flavor,
	    typed_each, &t);
}

/* --------------------------------------------------------------- keypairs */

int
compute_db_keypair_get(struct store_txn *txn, const char *user_id, const char *name,
    struct rec_keypair *k)
{
	char key[STORE_KEY_MAX + 1];
	size_t kl;

	if (key2(key, sizeof(key), user_id, name, &kl) == -1)
		return -1;
	if (get_k(txn, T_KEYPAIRS, key, kl, &schema_rec_keypair, k) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Keypair %s not found for user "
			    "%s", name, user_id);
		return -1;
	}
	return 0;
}

int
compute_db_keypair_add(struct store_txn *txn, const struct rec_keypair *k)
{
	char key[STORE_KEY_MAX + 1];
	size_t kl;

	if (key2(key, sizeof(key), k->user_id, k->name, &kl) == -1)
		return -1;
	if (put_k(txn, T_KEYPAIRS, key, kl, &schema_rec_keypair, k,
	    STORE_NOOVERWRITE) == -1) {
		if (err_code() == TS_ECONFLICT)
			err_set(TS_ECONFLICT, "Key pair '%s' already exists.",
			    k->name);
		return -1;
	}
	return 0;
}

int
compute_db_keypair_del(struct store_txn *txn, const char *user_id, const char *name)
{
	char key[STORE_KEY_MAX + 1];
	size_t kl;

	if (key2(key, sizeof(key), user_id, name, &kl) == -1)
		return -1;
	if (store_del(txn, T_KEYPAIRS, key, kl) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Keypair %s not found for user "
			    "%s", name, user_id);
		return -1;
	}
	return 0;
}

int
compute_db_keypair_each(struct store_txn *txn, const char *user_id,
    const char *marker, int (*cb)(const struct rec_keypair *, void *),
    void *arg)
{
	struct typed_cb t = { (int (*)(const void *, void *))cb, arg };
	char prefix[STORE_KEY_MAX + 1], after[STORE_KEY_MAX + 1];
	size_t plen = strlen(user_id) + 1, alen = 0;

	if (plen > STORE_KEY_MAX) {
		err_set(TS_EINVALID, "user id too long");
		return -1;
	}
	memcpy(prefix, user_id, plen);
	if (marker && key2(after, sizeof(after), user_id, marker, &alen) == -1)
		return -1;
	return each_rec(txn, T_KEYPAIRS, prefix, plen, marker ? after : NULL,
	    alen, &schema_rec_keypair, typed_each, &t);
}

static int
count_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

int
compute_db_keypair_count(struct store_txn *txn, const char *user_id, size_t *n)
{
	size_t plen = strlen(user_id) + 1;
	char prefix[STORE_KEY_MAX + 1];

	*n = 0;
	if (plen > STORE_KEY_MAX) {
		err_set(TS_EINVALID, "user id too long");
		return -1;
	}
	memcpy(prefix, user_id, plen);
	return store_iter(txn, T_KEYPAIRS, prefix, plen, count_cb, n);
}

/* -------------------------------------------------------------- instances */

int
compute_db_instance_get(struct store_txn *txn, const char *uuid,
    struct rec_instance *i)
{
	if (get_k(txn, T_INSTANCES, uuid, strlen(uuid), &schema_rec_instance,
	    i) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Instance %s could not be "
			    "found.", uuid);
		return -1;
	}
	return 0;
}

static int
has_host(const struct rec_instance *i)
{
	return i != NULL && i->host != NULL && i->host[0] != '\0';
}

static int
has_task(const struct rec_instance *i)
{
	return i != NULL && i->task_state != NULL;
}

static int
idx_del(struct store_txn *txn, const char *index, const char *ival,
    const char *pk)
{
	if (store_index_del(txn, index, ival, strlen(ival), pk, strlen(pk)) ==
	    -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

/* The two instances_by_created entries of i (its project's, and the
 * all-projects one); see db_instance_created_key(). */
static int
created_keys(const struct rec_instance *i, char k[2][DB_INSTANCE_CREATED_KEY_MAX],
    size_t kl[2])
{
	kl[0] = db_instance_created_key(k[0], i->project_id, i->created_at, i->uuid);
	kl[1] = db_instance_created_key(k[1], "", i->created_at, i->uuid);
	if (kl[0] == 0 || kl[1] == 0) {
		err_set(TS_EINVALID, "instance %s: project id too long",
		    i->uuid);
		return -1;
	}
	return 0;
}

/* An instance's two entries (its project's and the all-projects one) of
 * an index whose value is the instance's id: put, or deleted (absent is
 * fine). */
static int
pair_put(struct store_txn *txn, const char *table, const char *k0, const char *k1,
    const size_t kl[2], const char *uuid)
{
	const char *k[2] = { k0, k1 };

	for (int j = 0; j < 2; j++)
		if (store_put(txn, table, k[j], kl[j], uuid, strlen(uuid),
		    0) == -1)
			return -1;
	return 0;
}

static int
pair_del(struct store_txn *txn, const char *table, const char *k0, const char *k1,
    const size_t kl[2])
{
	const char *k[2] = { k0, k1 };

	for (int j = 0; j < 2; j++)
		if (store_del(txn, table, k[j], kl[j]) == -1 &&
		    err_code() != TS_ENOT_FOUND)
			return -1;
	return 0;
}

static int
created_put(struct store_txn *txn, const struct rec_instance *i)
{
	char k[2][DB_INSTANCE_CREATED_KEY_MAX];
	size_t kl[2];

	if (created_keys(i, k, kl) == -1)
		return -1;
	return pair_put(txn, T_INSTANCES_BY_CREATED, k[0], k[1], kl, i->uuid);
}

static int
created_del(struct store_txn *txn, const struct rec_instance *i)
{
	char k[2][DB_INSTANCE_CREATED_KEY_MAX];
	size_t kl[2];

	if (created_keys(i, k, kl) == -1)
		return -1;
	return pair_del(txn, T_INSTANCES_BY_CREATED, k[0], k[1], kl);
}

/* The two instances_by_state entries of i; see db_instance_state_key(). */
static int
state_keys(const struct rec_instance *i, char k[2][DB_INSTANCE_STATE_KEY_MAX],
    size_t kl[2])
{
	kl[0] = db_instance_state_key(k[0], i->project_id, i->vm_state,
	    i->task_state, i->created_at, i->uuid);
	kl[1] = db_instance_state_key(k[1], "", i->vm_state, i->task_state,
	    i->created_at, i->uuid);
	if (kl[0] == 0 || kl[1] == 0) {
		err_set(TS_EINVALID, "instance %s: project id or state too "
		    "long", i->uuid);
		return -1;
	}
	return 0;
}

static int
state_put(struct store_txn *txn, const struct rec_instance *i)
{
	char k[2][DB_INSTANCE_STATE_KEY_MAX];
	size_t kl[2];

	if (state_keys(i, k, kl) == -1)
		return -1;
	return pair_put(txn, T_INSTANCES_BY_STATE, k[0], k[1], kl, i->uuid);
}

static int
state_del(struct store_txn *txn, const struct rec_instance *i)
{
	char k[2][DB_INSTANCE_STATE_KEY_MAX];
	size_t kl[2];

	if (state_keys(i, k, kl) == -1)
		return -1;
	return pair_del(txn, T_INSTANCES_BY_STATE, k[0], k[1], kl);
}

/* Whether the instances_by_state key of a differs from b's. */
static bool
state_moved(const struct rec_instance *a, const struct rec_instance *b)
{
	return a->created_at != b->created_at ||
	    strcmp(a->project_id, b->project_id) != 0 ||
	    strcmp(a->vm_state, b->vm_state) != 0 ||
	    strcmp(db_instance_state_task(a->task_state),
	    db_instance_state_task(b->task_state)) != 0;
}

/* See compute_db_instance_changed_ms(); 0: nothing put, never asked. */
static _Atomic int64_t changed_ms;

static void
changed_at_least(int64_t t)
{
	int64_t cur = atomic_load(&changed_ms);

	while (cur < t && !atomic_compare_exchange_weak(&changed_ms, &cur, t))
		;
}

int64_t
compute_db_instance_changed_ms(void)
{
	int64_t zero = 0;

	(void)atomic_compare_exchange_strong(&changed_ms, &zero, db_now_ms());
	return atomic_load(&changed_ms);
}

/* See compute_db_host_changed_txn(): written by write transactions (the
 * committer thread, a tool's direct write), read by the bus thread. */
static _Atomic uint64_t host_txn[COMPUTE_DB_HOST_STAMPS];

static size_t
host_slot(const char *host)
{
	return (size_t)(hash_fnv64(host) % COMPUTE_DB_HOST_STAMPS);
}

static void
host_stamp(struct store_txn *txn, const char *host)
{
	_Atomic uint64_t *slot;
	uint64_t id, cur;

	if (host == NULL || *host == '\0')
		return;
	slot = &host_txn[host_slot(host)];
	id = store_txn_id(txn);
	cur = atomic_load(slot);
	while (cur < id && !atomic_compare_exchange_weak(slot, &cur, id))
		;
}

static void
hosts_stamp(struct store_txn *txn, const struct rec_instance *i)
{
	if (i == NULL)
		return;
	host_stamp(txn, i->host);
	host_stamp(txn, i->migrate_host);
	host_stamp(txn, i->resize_source);
	host_stamp(txn, i->resize_release);
}

uint64_t
compute_db_host_changed_txn(const char *host)
{
	return atomic_load(&host_txn[host_slot(host)]);
}

int
compute_db_instance_put(struct store_txn *txn, const struct rec_instance *i,
    const struct rec_instance *old)
{
	const char *u = i->uuid;
	size_t ul = strlen(u);

	changed_at_least(i->updated_at ? i->updated_at : i->created_at);
	hosts_stamp(txn, i);
	hosts_stamp(txn, old);

	if (put_k(txn, T_INSTANCES, u, ul, &schema_rec_instance, i, 0) == -1)
		return -1;
	if (old == NULL && store_index_put(txn, T_INSTANCES_BY_PROJECT,
	    i->project_id, strlen(i->project_id), u, ul) == -1)
		return -1;
	/* The sort keys never change in practice (created_at and project_id
	 * are set once); follow them anyway rather than trust that. */
	if (old != NULL && (old->created_at != i->created_at ||
	    strcmp(old->project_id, i->project_id) != 0) &&
	    created_del(txn, old) == -1)
		return -1;
	if ((old == NULL || old->created_at != i->created_at ||
	    strcmp(old->project_id, i->project_id) != 0) &&
	    created_put(txn, i) == -1)
		return -1;
	/* The status filter's index moves with vm_state and the tasks the
	 * filter names (most task changes leave it). */
	if (old != NULL && state_moved(old, i) && state_del(txn, old) == -1)
		return -1;
	if ((old == NULL || state_moved(old, i)) && state_put(txn, i) == -1)
		return -1;
	if (has_host(old) && (!has_host(i) || strcmp(old->host, i->host) != 0)
	    && idx_del(txn, T_INSTANCES_BY_HOST, old->host, u) == -1)
		return -1;
	if (has_host(i) && store_index_put(txn, T_INSTANCES_BY_HOST, i->host,
	    strlen(i->host), u, ul) == -1)
		return -1;
	if (has_task(i) && !has_task(old) &&
	    store_put(txn, T_INSTANCE_TASKS, u, ul, "", 0, 0) == -1)
		return -1;
	if (!has_task(i) && has_task(old) &&
	    store_del(txn, T_INSTANCE_TASKS, u, ul) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

int
compute_db_instance_del(struct store_txn *txn, const struct rec_instance *i)
{
	const char *u = i->uuid;
	size_t ul = strlen(u);

	hosts_stamp(txn, i);
	if (store_del(txn, T_INSTANCES, u, ul) == -1)
		return -1;
	if (idx_del(txn, T_INSTANCES_BY_PROJECT, i->project_id, u) == -1 ||
	    created_del(txn, i) == -1 || state_del(txn, i) == -1)
		return -1;
	if (has_host(i) && idx_del(txn, T_INSTANCES_BY_HOST, i->host, u) == -1)
		return -1;
	if (store_del(txn, T_INSTANCE_TASKS, u, ul) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	/* The instance actions stay: Nova's os-instance-actions answers for
	 * a deleted server from microversion 2.21 (Nova keeps them until
	 * its operator archives deleted rows). */
	return 0;
}

int
compute_db_instance_each(struct store_txn *txn,
    int (*cb)(const struct rec_instance *, void *), void *arg)
{
	struct typed_cb t = { (int (*)(const void *, void *))cb, arg };

	return each_rec(txn, T_INSTANCES, NULL, 0, NULL, 0,
	    &schema_rec_instance, typed_each, &t);
}

struct idx_each {
	struct store_txn *txn;
	int	(*cb)(const struct rec_instance *, void *);
	void	*arg;
};

static int
idx_each_cb(const void *pk, size_t pklen, void *arg)
{
	struct idx_each *e = arg;
	struct rec_instance i;
	int rc;

	if (get_k(e->txn, T_INSTANCES, pk, pklen, &schema_rec_instance, &i) ==
	    -1) {
		/* An index entry without its record is a bug: say so, go on. */
		log_warnx("instance index entry %.*s: %s", (int)pklen,
		    (const char *)pk, err_msg());
		return 0;
	}
	rc = e->cb(&i, e->arg);
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

int
compute_db_instance_each_project(struct store_txn *txn, const char *project_id,
    int (*cb)(const struct rec_instance *, void *), void *arg)
{
	struct idx_each e = { txn, cb, arg };

	if (*project_id == '\0')
		return 0;
	return store_index_iter(txn, T_INSTANCES_BY_PROJECT, project_id,
	    strlen(project_id), idx_each_cb, &e);
}

int
compute_db_instance_each_host(struct store_txn *txn, const char *host,
    int (*cb)(const struct rec_instance *, void *), void *arg)
{
	struct idx_each e = { txn, cb, arg };

	if (*host == '\0')
		return 0;
	return store_index_iter(txn, T_INSTANCES_BY_HOST, host, strlen(host),
	    idx_each_cb, &e);
}

/* instances_by_created entries carry the uuid as value. */
static int
created_each_cb(const void *k, size_t kl, const void *v, size_t vl,
    void *arg)
{
	return idx_each_cb(v, vl, arg);
}

int
compute_db_instance_each_newest(struct store_txn *txn, const char *project_id,
    const struct rec_instance *after,
    int (*cb)(const struct rec_instance *, void *), void *arg)
{
	struct idx_each e = { txn, cb, arg };
	const char *scope = project_id ? project_id : "";
	char prefix[DB_INSTANCE_CREATED_KEY_MAX], ak[DB_INSTANCE_CREATED_KEY_MAX];
	size_t plen = strlen(scope) + 1, alen = 0;

	if (plen > DB_INSTANCE_CREATED_SCOPE_MAX + 1) {
		err_set(TS_EINVALID, "project id too long");
		return -1;
	}
	memcpy(prefix, scope, plen);
	if (after != NULL && (alen = db_instance_created_key(ak, scope,
	    after->created_at, after->uuid)) == 0) {
		err_set(TS_EINVALID, "bad marker");
		return -1;
	}
	/* ascending keys: newest first is backwards, from below the
	 * marker's key */
	return store_iter_before(txn, T_INSTANCES_BY_CREATED, prefix, plen,
	    after ? ak : NULL, alen, created_each_cb, &e);
}

/*
 * The status filter's walk: one stream of instances_by_state per (vm_state,
 * task) pair, each stored ascending and so in list order backwards, merged
 * greatest first. A stream is read a chunk at a time (store_iter_before()
 * from below its last key), so an empty one costs one seek and a page of N
 * costs about N record reads plus the chunks.
 */
#define STATE_CHUNK	16
#define STATE_ORD_MAX	(16 + CODEC_UUID_LEN)

struct sstream {
	char	 prefix[DB_INSTANCE_STATE_KEY_MAX];
	size_t	 plen;
	/* the buffered entries, greatest first: the key past the prefix
	 * (created_at and uuid) and the value (the uuid) */
	char	 ord[STATE_CHUNK][STATE_ORD_MAX];
	uint8_t	 olen[STATE_CHUNK];
	char	 uuid[STATE_CHUNK][CODEC_UUID_LEN];
	uint8_t	 ulen[STATE_CHUNK];
	size_t	 n, at;
	bool	 done;		/* the last chunk reached the stream's end */
};

static int
sfill_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct sstream *s = arg;

	if (kl <= s->plen || kl - s->plen > STATE_ORD_MAX ||
	    vl > CODEC_UUID_LEN) {
		log_warnx("instances_by_state: malformed entry skipped");
		return 0;
	}
	memcpy(s->ord[s->n], (const char *)k + s->plen, kl - s->plen);
	s->olen[s->n] = (uint8_t)(kl - s->plen);
	memcpy(s->uuid[s->n], v, vl);
	s->ulen[s->n] = (uint8_t)vl;
	return ++s->n == STATE_CHUNK ? 1 : 0;
}

/* Reads the stream's next chunk, strictly below ord (NULL: from its
 * newest). */
static int
sfill(struct store_txn *txn, struct sstream *s, const char *ord, size_t olen)
{
	char before[DB_INSTANCE_STATE_KEY_MAX];

	if (ord != NULL) {
		memcpy(before, s->prefix, s->plen);
		memcpy(before + s->plen, ord, olen);
	}
	s->n = s->at = 0;
	if (store_iter_before(txn, T_INSTANCES_BY_STATE, s->prefix, s->plen,
	    ord ? before : NULL, ord ? s->plen + olen : 0, sfill_cb, s) == -1)
		return -1;
	s->done = s->n < STATE_CHUNK;
	return 0;
}

static int
ord_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : al < bl ? -1 : al > bl ? 1 : 0;
}

int
compute_db_instance_each_state(struct store_txn *txn, const char *project_id,
    const char *const *vm_states, size_t nvm, const char *const *tasks,
    size_t ntasks, const struct rec_instance *after,
    int (*cb)(const struct rec_instance *, void *), void *arg)
{
	struct idx_each e = { txn, cb, arg };
	const char *scope = project_id ? project_id : "";
	struct sstream *ss = NULL;
	size_t nall = 0, ns = 0, per, mlen = 0, lastlen = 0;
	char mk[DB_INSTANCE_CREATED_KEY_MAX], last[STATE_ORD_MAX];
	int rc = 0;

	while (tasks == NULL && db_instance_state_tasks[nall] != NULL)
		nall++;
	/* without a task filter: the vm_state's untasked stream and one per
	 * task the key tells apart */
	per = tasks ? ntasks : nall + 1;
	if (nvm == 0 || per == 0)
		return 0;
	if (after != NULL && (mlen = db_instance_created_key(mk, "",
	    after->created_at, after->uuid)) == 0) {
		err_set(TS_EINVALID, "bad marker");
		return -1;
	}
	if ((ss = calloc(nvm * per, sizeof(*ss))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (size_t v = 0; v < nvm; v++)
		for (size_t t = 0; t < per; t++) {
			struct sstream *s = &ss[ns];
			const char *task = tasks ? db_instance_state_task(
			    tasks[t]) : t == 0 ? "" : db_instance_state_tasks[t - 1];

			/* a task the key does not tell apart matches
			 * nothing: Nova's filter names only these */
			if (tasks != NULL && *task == '\0')
				continue;
			if ((s->plen = db_instance_state_prefix(s->prefix,
			    scope, vm_states[v], task)) == 0)
				continue;	/* longer than any stored */
			/* mk[0] is the NUL of scope "": the order part
			 * follows it */
			if (sfill(txn, s, after ? mk + 1 : NULL, mlen ?
			    mlen - 1 : 0) == -1) {
				rc = -1;
				goto out;
			}
			if (s->n > 0)
				ns++;
		}
	for (;;) {
		struct sstream *best = NULL;
		size_t j;

		for (size_t k = 0; k < ns; k++) {
			struct sstream *s = &ss[k];

			if (s->at == s->n && !s->done && sfill(txn, s,
			    s->ord[s->n - 1], s->olen[s->n - 1]) == -1) {
				rc = -1;
				goto out;
			}
			if (s->at < s->n && (best == NULL ||
			    ord_cmp(s->ord[s->at], s->olen[s->at],
			    best->ord[best->at], best->olen[best->at]) > 0))
				best = s;
		}
		if (best == NULL)
			break;
		j = best->at++;
		/* the same instance twice (an entry left behind): once */
		if (lastlen > 0 && ord_cmp(best->ord[j], best->olen[j], last,
		    lastlen) == 0)
			continue;
		memcpy(last, best->ord[j], best->olen[j]);
		lastlen = best->olen[j];
		if ((rc = idx_each_cb(best->uuid[j], best->ulen[j], &e)) != 0)
			break;
	}
	if (rc == 1)
		rc = 0;
out:
	free(ss);
	return rc;
}

struct task_each {
	int	(*cb)(const char *, void *);
	void	*arg;
};

static int
task_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct task_each *t = arg;
	char u[CODEC_UUID_LEN + 1];

	if (kl != CODEC_UUID_LEN)
		return 0;
	memcpy(u, k, kl);
	u[kl] = '\0';
	return t->cb(u, t->arg);
}

int
compute_db_task_each(struct store_txn *txn, int (*cb)(const char *, void *),
    void *arg)
{
	struct task_each t = { cb, arg };

	return store_iter(txn, T_INSTANCE_TASKS, NULL, 0, task_cb, &t);
}

/* ------------------------------------------------------------- tombstones */

int
compute_db_tombstone_get(struct store_txn *txn, const char *uuid,
    struct rec_instance_tombstone *t)
{
	return get_k(txn, T_INSTANCE_TOMBSTONES, uuid, strlen(uuid),
	    &schema_rec_instance_tombstone, t);
}

int
compute_db_tombstone_put(struct store_txn *txn,
    const struct rec_instance_tombstone *t)
{
	host_stamp(txn, t->host);
	return put_k(txn, T_INSTANCE_TOMBSTONES, t->uuid, strlen(t->uuid),
	    &schema_rec_instance_tombstone, t, 0);
}

int
compute_db_tombstone_del(struct store_txn *txn, const char *uuid)
{
	return store_del(txn, T_INSTANCE_TOMBSTONES, uuid, strlen(uuid));
}

int
compute_db_tombstone_each(struct store_txn *txn,
    int (*cb)(const struct rec_instance_tombstone *, void *), void *arg)
{
	struct typed_cb t = { (int (*)(const void *, void *))cb, arg };

	return each_rec(txn, T_INSTANCE_TOMBSTONES, NULL, 0, NULL, 0,
	    &schema_rec_instance_tombstone, typed_each, &t);
}

/* ---------------------------------------------------------------- actions */

int
compute_db_action_get(struct store_txn *txn, const char *uuid,
    const char *request_id, struct rec_instance_action *a)
{
	char key[STORE_KEY_MAX + 1];
	size_t kl;

	if (key2(key, sizeof(key), uuid, request_id, &kl) == -1)
		return -1;
	if (get_k(txn, T_INSTANCE_ACTIONS, key, kl,
	    &schema_rec_instance_action, a) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Action for request_id %s on "
			    "instance %s not found", request_id, uuid);
		return -1;
	}
	return 0;
}

int
compute_db_action_put(struct store_txn *txn, const struct rec_instance_action *a)
{
	char key[STORE_KEY_MAX + 1];
	size_t kl;

	if (key2(key, sizeof(key), a->instance_uuid, a->request_id, &kl) == -1)
		return -1;
	return put_k(txn, T_INSTANCE_ACTIONS, key, kl,
	    &schema_rec_instance_action, a, 0);
}

int
compute_db_action_each(struct store_txn *txn, const char *uuid,
    int (*cb)(const struct rec_instance_action *, void *), void *arg)
{
	struct typed_cb t = { (int (*)(const void *, void *))cb, arg };
	char prefix[CODEC_UUID_LEN + 2];
	size_t ul = strlen(uuid);

	if (ul > CODEC_UUID_LEN) {
		err_set(TS_EINVALID, "bad instance id");
		return -1;
	}
	memcpy(prefix, uuid, ul);
	prefix[ul] = '\0';
	return each_rec(txn, T_INSTANCE_ACTIONS, prefix, ul + 1, NULL, 0,
	    &schema_rec_instance_action, typed_each, &t);
}

static const char *
event_name(const char *action)
{
	static const struct { const char *a, *e; } map[] = {
		{ "create",	"compute__do_build_and_run_instance" },
		{ "delete",	"compute_terminate_instance" },
		{ "stop",	"compute_stop_instance" },
		{ "start",	"compute_start_instance" },
		{ "reboot",	"compute_reboot_instance" },
		{ "pause",	"compute_pause_instance" },
		{ "unpause",	"compute_unpause_instance" },
		{ "suspend",	"compute_suspend_instance" },
		{ "resume",	"compute_resume_instance" },
		{ "rebuild",	"compute_rebuild_instance" },
		{ "trigger_crash_dump", "compute_trigger_crash_dump" },
		{ "evacuate",	"compute_rebuild_instance" },	/* as Nova */
		{ "live-migration", "compute_live_migration" },	/* as Nova */
		{ "shelve",	"compute_shelve_instance" },
		{ "shelveOffload", "compute_shelve_offload_instance" },
		{ "unshelve",	"compute_unshelve_instance" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].a, action) == 0)
			return map[i].e;
	return NULL;
}

int
compute_db_action_start(struct store_txn *txn, const struct rec_instance *i,
    const char *request_id, const char *action, const char *user_id,
    const char *project_id, int64_t now)
{
	struct rec_instance_action a = { 0 };
	struct sch_action_event ev = { 0 };
	const char *evname = event_name(action);

	snprintf(a.instance_uuid, sizeof(a.instance_uuid), "%s", i->uuid);
	a.request_id = (char *)request_id;
	a.action = (char *)action;
	a.user_id = (char *)user_id;
	a.project_id = (char *)project_id;
	a.start_time = now;
	if (evname != NULL) {
		ev.event = (char *)evname;
		ev.start_time = now;
		a.events.items = &ev;
		a.events.n = 1;
	}
	return compute_db_action_put(txn, &a);
}

int
compute_db_action_finish(struct store_txn *txn, const char *uuid,
    const char *request_id, int ok, const char *message, int64_t now)
{
	struct rec_instance_action a;
	char *tb = NULL;
	int rc = 0;

	if (request_id == NULL)
		return 0;
	if (compute_db_action_get(txn, uuid, request_id, &a) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	for (size_t j = 0; j < a.events.n; j++) {
		struct sch_action_event *e = &a.events.items[j];

		if (e->finish_time != 0)
			continue;
		e->finish_time = now;
		free(e->result);
		e->result = strdup(ok ? "Success" : "Error");
		if (!ok && message && (tb = strdup(message)) != NULL) {
			if (strlen(tb) > 4096)
				tb[4096] = '\0';
			free(e->traceback);
			e->traceback = tb;
		}
		if (e->result == NULL)
			rc = -1;
	}
	if (!ok && message && a.message == NULL &&
	    (a.message = strdup(message)) != NULL && strlen(a.message) > 1024)
		a.message[1024] = '\0';
	if (rc == -1)
		err_set(TS_ENOMEM, "out of memory");
	else
		rc = compute_db_action_put(txn, &a);
	codec_clear(&schema_rec_instance_action, &a);
	return rc;
}

/* ----------------------------------------------------------------- quotas */

int
compute_db_quota_get(struct store_txn *txn, const char *project_id,
    struct rec_compute_quota *q)
{
	if (get_k(txn, T_COMPUTE_QUOTAS, project_id, strlen(project_id),
	    &schema_rec_compute_quota, q) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(q, 0, sizeof(*q));
	}
	return 0;
}

int
compute_db_quota_put(struct store_txn *txn, const char *project_id,
    const struct rec_compute_quota *q)
{
	return put_k(txn, T_COMPUTE_QUOTAS, project_id, strlen(project_id),
	    &schema_rec_compute_quota, q, 0);
}

int
compute_db_quota_del(struct store_txn *txn, const char *project_id)
{
	if (store_del(txn, T_COMPUTE_QUOTAS, project_id, strlen(project_id)) ==
	    -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

int
compute_db_usage_get(struct store_txn *txn, const char *project_id,
    struct rec_compute_usage *u)
{
	if (get_k(txn, T_COMPUTE_USAGE, project_id, strlen(project_id),
	    &schema_rec_compute_usage, u) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(u, 0, sizeof(*u));
	}
	return 0;
}

int
compute_db_usage_put(struct store_txn *txn, const char *project_id,
    const struct rec_compute_usage *u)
{
	return put_k(txn, T_COMPUTE_USAGE, project_id, strlen(project_id),
	    &schema_rec_compute_usage, u, 0);
}

static int64_t
clamp_add(int64_t cur, int64_t d, const char *what, const char *who)
{
	if (cur + d < 0) {
		log_warnx("%s of %s would go below zero (%lld %+lld); "
		    "clamped", what, who, (long long)cur, (long long)d);
		return 0;
	}
	return cur + d;
}

int
compute_db_usage_add(struct store_txn *txn, const char *project_id,
    int64_t instances, int64_t cores, int64_t ram)
{
	struct rec_compute_usage u;

	if (compute_db_usage_get(txn, project_id, &u) == -1)
		return -1;
	u.instances = clamp_add(u.instances, instances, "instance count",
	    project_id);
	u.cores = clamp_add(u.cores, cores, "core count", project_id);
	u.ram = clamp_add(u.ram, ram, "RAM usage", project_id);
	return compute_db_usage_put(txn, project_id, &u);
}

struct usage_each {
	int	(*cb)(const char *, const struct rec_compute_usage *, void *);
	void	*arg;
};

static int
usage_each_cb(const void *k, size_t kl, void *rec, void *arg)
{
	struct usage_each *e = arg;
	char key[STORE_KEY_MAX + 1];

	memcpy(key, k, kl);
	key[kl] = '\0';
	return e->cb(key, rec, e->arg);
}

int
compute_db_usage_each(struct store_txn *txn,
    int (*cb)(const char *, const struct rec_compute_usage *, void *),
    void *arg)
{
	struct usage_each e = { cb, arg };

	return each_rec(txn, T_COMPUTE_USAGE, NULL, 0, NULL, 0,
	    &schema_rec_compute_usage, usage_each_cb, &e);
}

int
compute_db_host_usage_get(struct store_txn *txn, const char *host,
    struct rec_host_usage *h)
{
	if (get_k(txn, T_HOST_USAGE, host, strlen(host),
	    &schema_rec_host_usage, h) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(h, 0, sizeof(*h));
	}
	return 0;
}

int
compute_db_host_usage_put(struct store_txn *txn, const char *host,
    const struct rec_host_usage *h)
{
	host_stamp(txn, host);
	return put_k(txn, T_HOST_USAGE, host, strlen(host),
	    &schema_rec_host_usage, h, 0);
}

int
compute_db_host_usage_add(struct store_txn *txn, const char *host, int64_t vcpus,
    int64_t memory_mb, int64_t disk_gb, int64_t instances)
{
	struct rec_host_usage h;

	if (compute_db_host_usage_get(txn, host, &h) == -1)
		return -1;
	h.vcpus = (uint64_t)clamp_add((int64_t)h.vcpus, vcpus, "vCPU claim",
	    host);
	h.memory_mb = (uint64_t)clamp_add((int64_t)h.memory_mb, memory_mb,
	    "RAM claim", host);
	h.disk_gb = (uint64_t)clamp_add((int64_t)h.disk_gb, disk_gb,
	    "disk claim", host);
	h.instances = (uint32_t)clamp_add((int64_t)h.instances, instances,
	    "instance claim", host);
	return compute_db_host_usage_put(txn, host, &h);
}

struct hu_each {
	int	(*cb)(const char *, const struct rec_host_usage *, void *);
	void	*arg;
};

static int
hu_each_cb(const void *k, size_t kl, void *rec, void *arg)
{
	struct hu_each *e = arg;
	char key[STORE_KEY_MAX + 1];

	memcpy(key, k, kl);
	key[kl] = '\0';
	return e->cb(key, rec, e->arg);
}

int
compute_db_host_usage_each(struct store_txn *txn,
    int (*cb)(const char *, const struct rec_host_usage *, void *), void *arg)
{
	struct hu_each e = { cb, arg };

	return each_rec(txn, T_HOST_USAGE, NULL, 0, NULL, 0,
	    &schema_rec_host_usage, hu_each_cb, &e);
}

/* ------------------------------------------------------------------ nodes */

int
compute_db_node_get(struct store_txn *txn, const char *host,
    struct rec_compute_node *n)
{
	return get_k(txn, T_COMPUTE_NODES, host, strlen(host),
	    &schema_rec_compute_node, n);
}

/* The highest id ever given lives in the meta table, so that deleting the
 * newest host does not let its id be given again. */
#define NODE_SEQ_KEY	"compute_node_seq"

int
compute_db_node_ensure(struct store_txn *txn, const char *host, int64_t now,
    uint32_t *id)
{
	struct rec_compute_node n;
	const void *v;
	size_t vl;
	uint32_t seq = 0;
	unsigned char be[4];

	if (compute_db_node_get(txn, host, &n) == 0) {
		*id = n.id;
		codec_clear(&schema_rec_compute_node, &n);
		return 0;
	}
	if (err_code() != TS_ENOT_FOUND)
		return -1;
	if (store_get(txn, STORE_META_TABLE, NODE_SEQ_KEY,
	    strlen(NODE_SEQ_KEY), &v, &vl) == 0 && vl == 4) {
		memcpy(be, v, 4);
		seq = (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 |
		    (uint32_t)be[2] << 8 | be[3];
	} else if (err_code() != TS_ENOT_FOUND && err_code() != TS_EOK) {
		return -1;
	}
	seq++;
	be[0] = (unsigned char)(seq >> 24);
	be[1] = (unsigned char)(seq >> 16);
	be[2] = (unsigned char)(seq >> 8);
	be[3] = (unsigned char)seq;
	if (store_put(txn, STORE_META_TABLE, NODE_SEQ_KEY,
	    strlen(NODE_SEQ_KEY), be, 4, 0) == -1)
		return -1;
	memset(&n, 0, sizeof(n));
	n.id = seq;
	n.host = (char *)host;
	n.created_at = now;
	if (put_k(txn, T_COMPUTE_NODES, host, strlen(host),
	    &schema_rec_compute_node, &n, 0) == -1)
		return -1;
	*id = seq;
	return 0;
}

int
compute_db_node_each(struct store_txn *txn,
    int (*cb)(const struct rec_compute_node *, void *), void *arg)
{
	struct typed_cb t = { (int (*)(const void *, void *))cb, arg };

	return each_rec(txn, T_COMPUTE_NODES, NULL, 0, NULL, 0,
	    &schema_rec_compute_node, typed_each, &t);
}

uint64_t
compute_db_flavor_disk_gb(const struct sch_inst_flavor *f)
{
	return f->disk + f->ephemeral + (f->swap + 1023) / 1024;
}

uint64_t
compute_db_claim_disk_gb(const struct rec_instance *i,
    const struct sch_inst_flavor *f)
{
	for (size_t k = 0; k < i->volumes.n; k++)
		if (i->volumes.items[k].has_boot_index &&
		    i->volumes.items[k].boot_index == 0)
			return f->ephemeral + (f->swap + 1023) / 1024;
	return compute_db_flavor_disk_gb(f);
}

int
compute_db_instance_copy(const struct rec_instance *src,
    struct rec_instance *dst)
{
	struct buf b = { 0 };
	int rc;

	memset(dst, 0, sizeof(*dst));
	rc = codec_record_encode(&schema_rec_instance, src, &b);
	if (rc == 0)
		rc = codec_record_decode(&schema_rec_instance, b.data, b.len,
		    dst, NULL);
	buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------- migrations */

static void
mig_key(uint64_t id, uint8_t k[8])
{
	for (int b = 0; b < 8; b++)
		k[b] = (uint8_t)(id >> (56 - 8 * b));
}

static int
last_id_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	uint64_t *last = arg, id = 0;

	(void)v;
	(void)vl;
	if (kl != 8)
		return 0;
	for (size_t b = 0; b < 8; b++)
		id = id << 8 | ((const uint8_t *)k)[b];
	if (id > *last)
		*last = id;
	return 0;
}

int
compute_db_migration_add(struct store_txn *txn, struct rec_migration *m)
{
	uint64_t last = 0;
	uint8_t k[8];

	/* A walk of the keys only: migrations are few next to instances. */
	if (store_iter(txn, T_MIGRATIONS, NULL, 0, last_id_cb, &last) == -1)
		return -1;
	m->id = last + 1;
	mig_key(m->id, k);
	return put_k(txn, T_MIGRATIONS, k, sizeof(k), &schema_rec_migration, m,
	    STORE_NOOVERWRITE);
}

int
compute_db_migration_get(struct store_txn *txn, uint64_t id,
    struct rec_migration *m)
{
	uint8_t k[8];

	mig_key(id, k);
	if (get_k(txn, T_MIGRATIONS, k, sizeof(k), &schema_rec_migration, m) ==
	    -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Migration %llu could not be "
			    "found.", (unsigned long long)id);
		return -1;
	}
	return 0;
}

int
compute_db_migration_put(struct store_txn *txn, const struct rec_migration *m)
{
	uint8_t k[8];

	mig_key(m->id, k);
	return put_k(txn, T_MIGRATIONS, k, sizeof(k), &schema_rec_migration, m,
	    0);
}

int
compute_db_migration_status(struct store_txn *txn, uint64_t id,
    const char *status, int64_t now)
{
	struct rec_migration m;
	char *st;
	int rc;

	if (id == 0)
		return 0;
	if (compute_db_migration_get(txn, id, &m) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		log_warnx("%s", err_msg());
		return 0;
	}
	if ((st = strdup(status)) == NULL) {
		codec_clear(&schema_rec_migration, &m);
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	free(m.status);
	m.status = st;
	m.updated_at = now;
	rc = compute_db_migration_put(txn, &m);
	codec_clear(&schema_rec_migration, &m);
	return rc;
}

struct mig_list {
	struct rec_migration	*v;
	size_t			 n, cap;
};

static int
mig_collect_cb(const void *k, size_t kl, void *rec, void *arg)
{
	struct mig_list *l = arg;
	struct rec_migration *m = rec;

	(void)k;
	(void)kl;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct rec_migration *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	/* Taken over: each_cb's clear of the emptied record frees nothing. */
	l->v[l->n++] = *m;
	memset(m, 0, sizeof(*m));
	return 0;
}

int
compute_db_migration_each(struct store_txn *txn,
    int (*cb)(const struct rec_migration *, void *), void *arg)
{
	struct mig_list l = { 0 };
	int rc = 0;

	if (each_rec(txn, T_MIGRATIONS, NULL, 0, NULL, 0,
	    &schema_rec_migration, mig_collect_cb, &l) == -1)
		rc = -1;
	for (size_t j = l.n; rc == 0 && j > 0; j--) {
		int r = cb(&l.v[j - 1], arg);

		if (r == -1)
			rc = -1;
		if (r != 0)
			break;
	}
	for (size_t j = 0; j < l.n; j++)
		codec_clear(&schema_rec_migration, &l.v[j]);
	free(l.v);
	return rc;
}

/* ------------------------------------------------------------------ purge */

/* Keys to delete once the walk is over (a walk must not write its table). */
struct keys {
	struct buf	 b;	/* the keys, each klen bytes after its length */
	size_t		 n;
};

static int
keys_add(struct keys *ks, const void *k, size_t kl)
{
	if (buf_append(&ks->b, &kl, sizeof(kl)) == -1 ||
	    buf_append(&ks->b, k, kl) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	ks->n++;
	return 0;
}

static int
keys_del(struct store_txn *txn, const char *table, const struct keys *ks)
{
	size_t kl;

	for (size_t off = 0; off < ks->b.len; off += sizeof(kl) + kl) {
		memcpy(&kl, ks->b.data + off, sizeof(kl));
		if (store_del(txn, table, ks->b.data + off + sizeof(kl), kl) ==
		    -1)
			return -1;
	}
	return 0;
}

/* Whether instance uuid is gone (-1 on a read error). */
static int
instance_gone(struct store_txn *txn, const char *uuid)
{
	const void *v;
	size_t vl;

	if (store_get(txn, T_INSTANCES, uuid, strlen(uuid), &v, &vl) == 0)
		return 0;
	return err_code() == TS_ENOT_FOUND ? 1 : -1;
}

/*
 * The actions walk: keys come grouped by instance (uuid NUL request id),
 * so a server's actions are one run; at its end the run is kept for
 * deletion, or dropped from the list (group_start), as a whole.
 */
struct purge_walk {
	struct store_txn	*txn;
	int64_t			 before;
	struct keys		 ks;
	char			 uuid[CODEC_UUID_LEN + 1];
	size_t			 group_len, group_n;	/* ks at its start */
	size_t			 group_actions;
	int64_t			 newest;
	struct compute_db_purged *out;
};

static int
group_end(struct purge_walk *w)
{
	int gone;

	if (w->uuid[0] == '\0')
		return 0;
	if ((gone = instance_gone(w->txn, w->uuid)) == -1)
		return -1;
	if (gone && w->newest < w->before) {
		w->out->servers++;
		w->out->actions += w->group_actions;
	} else {
		w->ks.b.len = w->group_len;
		w->ks.n = w->group_n;
	}
	w->uuid[0] = '\0';
	return 0;
}

static int
purge_action_cb(const void *k, size_t kl, void *rec, void *arg)
{
	struct purge_walk *w = arg;
	struct rec_instance_action *a = rec;

	if (strcmp(a->instance_uuid, w->uuid) != 0) {
		if (group_end(w) == -1)
			return -1;
		snprintf(w->uuid, sizeof(w->uuid), "%s", a->instance_uuid);
		w->group_len = w->ks.b.len;
		w->group_n = w->ks.n;
		w->group_actions = 0;
		w->newest = INT64_MIN;
	}
	if (a->start_time > w->newest)
		w->newest = a->start_time;
	for (size_t e = 0; e < a->events.n; e++) {
		if (a->events.items[e].start_time > w->newest)
			w->newest = a->events.items[e].start_time;
		if (a->events.items[e].finish_time > w->newest)
			w->newest = a->events.items[e].finish_time;
	}
	w->group_actions++;
	return keys_add(&w->ks, k, kl);
}

struct purge_migs {
	struct store_txn	*txn;
	int64_t			 before;
	struct keys		 ks;
	uint64_t		 last;		/* the highest id */
	size_t			 last_at;	/* its place in ks, if there */
	int			 last_in;
};

static int
purge_mig_cb(const void *k, size_t kl, void *rec, void *arg)
{
	struct purge_migs *p = arg;
	struct rec_migration *m = rec;
	int gone;

	/* Walked in id order: the last one seen is the highest. */
	p->last = m->id;
	p->last_in = 0;
	if (m->updated_at >= p->before || m->created_at >= p->before)
		return 0;
	if ((gone = instance_gone(p->txn, m->instance_uuid)) == -1)
		return -1;
	if (!gone)
		return 0;
	p->last_at = p->ks.b.len;
	p->last_in = 1;
	return keys_add(&p->ks, k, kl);
}

int
compute_db_purge(struct store_txn *txn, int64_t before_ms, bool dry,
    struct compute_db_purged *out)
{
	struct purge_walk w = { .txn = txn, .before = before_ms, .out = out };
	struct purge_migs p = { .txn = txn, .before = before_ms };
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (each_rec(txn, T_INSTANCE_ACTIONS, NULL, 0, NULL, 0,
	    &schema_rec_instance_action, purge_action_cb, &w) == -1 ||
	    group_end(&w) == -1)
		goto out;
	if (each_rec(txn, T_MIGRATIONS, NULL, 0, NULL, 0,
	    &schema_rec_migration, purge_mig_cb, &p) == -1)
		goto out;
	/* The highest id stays: compute_db_migration_add() counts from it,
	 * and an id must never come back. */
	if (p.last_in) {
		p.ks.b.len = p.last_at;
		p.ks.n--;
	}
	out->migrations = p.ks.n;
	if (!dry && (keys_del(txn, T_INSTANCE_ACTIONS, &w.ks) == -1 ||
	    keys_del(txn, T_MIGRATIONS, &p.ks) == -1))
		goto out;
	rc = 0;
out:
	buf_free(&w.ks.b);
	buf_free(&p.ks.b);
	return rc;
}
