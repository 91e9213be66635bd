/*
 * volume_db: the volume, snapshot, usage and storage host records and
 * their indexes (volumes_by_project, volumes_by_host,
 * volume_snapshots_by_project, volume_snapshots_by_volume); see
 * volume_int.h. An empty project or host has no index entry (index values
 * must not be empty): such records are found by full scans only.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "volume_db.h"

static int
idx_put(struct store_txn *txn, const char *idx, const char *val,
    const char *pk)
{
	if (val == NULL || *val == '\0')
		return 0;
	return store_index_put(txn, idx, val, strlen(val), pk, strlen(pk));
}

static int
idx_del(struct store_txn *txn, const char *idx, const char *val,
    const char *pk)
{
	if (val == NULL || *val == '\0')
		return 0;
	if (store_index_del(txn, idx, val, strlen(val), pk, strlen(pk)) ==
	    -1 && err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

/* ---- ids collected from an index or a table, then visited ----------------- */

struct ids {
	char	(*v)[CODEC_UUID_LEN + 1];
	size_t	 n, cap;
};

static int
ids_add(struct ids *s, const void *k, size_t kl)
{
	if (kl > CODEC_UUID_LEN)
		return 0;	/* not one of ours */
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *nv = realloc(s->v, nc * sizeof(*s->v));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		s->v = nv;
		s->cap = nc;
	}
	memcpy(s->v[s->n], k, kl);
	s->v[s->n][kl] = '\0';
	s->n++;
	return 0;
}

static int
ids_idx_cb(const void *pk, size_t pklen, void *arg)
{
	return ids_add(arg, pk, pklen);
}

static int
ids_tab_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	return ids_add(arg, k, kl);
}

static int
ids_collect(struct store_txn *txn, const char *table, const char *idx,
    const char *val, struct ids *s)
{
	if (val == NULL)
		return store_iter(txn, table, NULL, 0, ids_tab_cb, s);
	if (*val == '\0')
		return 0;
	return store_index_iter(txn, idx, val, strlen(val), ids_idx_cb, s);
}

/* ---- volumes ----------------------------------------------------------- */

int
volume_db_get(struct store_txn *txn, const char *id, struct rec_volume *v)
{
	if (strlen(id) > CODEC_UUID_LEN) {
		memset(v, 0, sizeof(*v));
		err_set(TS_ENOT_FOUND, "Volume %.255s could not be found.", id);
		return -1;
	}
	if (db_rec_get(txn, T_VOLUMES, id, &schema_rec_volume, v) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
			    id);
		return -1;
	}
	return 0;
}

int
volume_db_put(struct store_txn *txn, const struct rec_volume *old,
    const struct rec_volume *v)
{
	if (old != NULL && (idx_del(txn, T_VOLUMES_BY_PROJECT, old->project_id,
	    old->id) == -1 || idx_del(txn, T_VOLUMES_BY_HOST, old->host,
	    old->id) == -1))
		return -1;
	if (db_rec_put(txn, T_VOLUMES, v->id, &schema_rec_volume, v, 0) == -1 ||
	    idx_put(txn, T_VOLUMES_BY_PROJECT, v->project_id, v->id) == -1 ||
	    idx_put(txn, T_VOLUMES_BY_HOST, v->host, v->id) == -1)
		return -1;
	return 0;
}

int
volume_db_del(struct store_txn *txn, const struct rec_volume *v)
{
	if (idx_del(txn, T_VOLUMES_BY_PROJECT, v->project_id, v->id) == -1 ||
	    idx_del(txn, T_VOLUMES_BY_HOST, v->host, v->id) == -1)
		return -1;
	if (store_del(txn, T_VOLUMES, v->id, strlen(v->id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

static int
vol_visit(struct store_txn *txn, struct ids *s,
    int (*cb)(struct rec_volume *, void *), void *arg)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		struct rec_volume v;

		if (volume_db_get(txn, s->v[i], &v) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			rc = -1;
			break;
		}
		rc = cb(&v, arg);
		codec_clear(&schema_rec_volume, &v);
	}
	free(s->v);
	return rc == -1 ? -1 : 0;
}

int
volume_db_each(struct store_txn *txn, const char *project,
    int (*cb)(struct rec_volume *, void *), void *arg)
{
	struct ids s = { 0 };

	if (ids_collect(txn, T_VOLUMES, T_VOLUMES_BY_PROJECT, project,
	    &s) == -1) {
		free(s.v);
		return -1;
	}
	return vol_visit(txn, &s, cb, arg);
}

int
volume_db_each_host(struct store_txn *txn, const char *host,
    int (*cb)(struct rec_volume *, void *), void *arg)
{
	struct ids s = { 0 };

	if (ids_collect(txn, T_VOLUMES, T_VOLUMES_BY_HOST, host != NULL ?
	    host : "", &s) == -1) {
		free(s.v);
		return -1;
	}
	return vol_visit(txn, &s, cb, arg);
}

/* ---- snapshots --------------------------------------------------------- */

int
volume_db_snap_get(struct store_txn *txn, const char *id,
    struct rec_volume_snapshot *s)
{
	if (strlen(id) > CODEC_UUID_LEN) {
		memset(s, 0, sizeof(*s));
		err_set(TS_ENOT_FOUND, "Snapshot %.255s could not be found.",
		    id);
		return -1;
	}
	if (db_rec_get(txn, T_VOLUME_SNAPSHOTS, id,
	    &schema_rec_volume_snapshot, s) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Snapshot %s could not be "
			    "found.", id);
		return -1;
	}
	return 0;
}

int
volume_db_snap_put(struct store_txn *txn, const struct rec_volume_snapshot *s)
{
	if (db_rec_put(txn, T_VOLUME_SNAPSHOTS, s->id,
	    &schema_rec_volume_snapshot, s, 0) == -1 ||
	    idx_put(txn, T_VOLUME_SNAPSHOTS_BY_PROJECT, s->project_id,
	    s->id) == -1 ||
	    idx_put(txn, T_VOLUME_SNAPSHOTS_BY_VOLUME, s->volume_id, s->id) ==
	    -1)
		return -1;
	return 0;
}

int
volume_db_snap_move(struct store_txn *txn, struct rec_volume_snapshot *s,
    const char *project)
{
	if (idx_del(txn, T_VOLUME_SNAPSHOTS_BY_PROJECT, s->project_id,
	    s->id) == -1 || codec_str_set(&s->project_id, project) == -1)
		return -1;
	return volume_db_snap_put(txn, s);
}

int
volume_db_snap_del(struct store_txn *txn, const struct rec_volume_snapshot *s)
{
	if (idx_del(txn, T_VOLUME_SNAPSHOTS_BY_PROJECT, s->project_id,
	    s->id) == -1 || idx_del(txn, T_VOLUME_SNAPSHOTS_BY_VOLUME,
	    s->volume_id, s->id) == -1)
		return -1;
	if (store_del(txn, T_VOLUME_SNAPSHOTS, s->id, strlen(s->id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

static int
snap_visit(struct store_txn *txn, struct ids *s,
    int (*cb)(struct rec_volume_snapshot *, void *), void *arg)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		struct rec_volume_snapshot v;

		if (volume_db_snap_get(txn, s->v[i], &v) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			rc = -1;
			break;
		}
		rc = cb(&v, arg);
		codec_clear(&schema_rec_volume_snapshot, &v);
	}
	free(s->v);
	return rc == -1 ? -1 : 0;
}

int
volume_db_snap_each(struct store_txn *txn, const char *project,
    int (*cb)(struct rec_volume_snapshot *, void *), void *arg)
{
	struct ids s = { 0 };

	if (ids_collect(txn, T_VOLUME_SNAPSHOTS, T_VOLUME_SNAPSHOTS_BY_PROJECT,
	    project, &s) == -1) {
		free(s.v);
		return -1;
	}
	return snap_visit(txn, &s, cb, arg);
}

int
volume_db_snap_each_volume(struct store_txn *txn, const char *volume_id,
    int (*cb)(struct rec_volume_snapshot *, void *), void *arg)
{
	struct ids s = { 0 };

	if (ids_collect(txn, T_VOLUME_SNAPSHOTS, T_VOLUME_SNAPSHOTS_BY_VOLUME,
	    volume_id, &s) == -1) {
		free(s.v);
		return -1;
	}
	return snap_visit(txn, &s, cb, arg);
}

int
volume_db_snap_count(struct store_txn *txn, const char *volume_id, size_t *n)
{
	struct ids s = { 0 };
	int rc;

	rc = ids_collect(txn, T_VOLUME_SNAPSHOTS, T_VOLUME_SNAPSHOTS_BY_VOLUME,
	    volume_id, &s);
	*n = s.n;
	free(s.v);
	return rc;
}

/* ---- usage and storage hosts --------------------------------------------- */

int
volume_db_usage_get(struct store_txn *txn, const char *project,
    struct rec_volume_usage *u)
{
	if (*project == '\0' || db_rec_get(txn, T_VOLUME_USAGE, project,
	    &schema_rec_volume_usage, u) == -1) {
		if (*project != '\0' && err_code() != TS_ENOT_FOUND)
			return -1;
		memset(u, 0, sizeof(*u));
	}
	return 0;
}

static int64_t
nonneg(int64_t v)
{
	return v < 0 ? 0 : v;
}

int
volume_db_usage_add(struct store_txn *txn, const char *project,
    int64_t volumes, int64_t gigabytes, int64_t snapshots)
{
	struct rec_volume_usage u;

	if (*project == '\0')
		return 0;
	if (volume_db_usage_get(txn, project, &u) == -1)
		return -1;
	u.volumes = nonneg(u.volumes + volumes);
	u.gigabytes = nonneg(u.gigabytes + gigabytes);
	u.snapshots = nonneg(u.snapshots + snapshots);
	return db_rec_put(txn, T_VOLUME_USAGE, project,
	    &schema_rec_volume_usage, &u, 0);
}

int
volume_db_usage_add_backup(struct store_txn *txn, const char *project,
    int64_t backups, int64_t gigabytes)
{
	struct rec_volume_usage u;

	if (*project == '\0')
		return 0;
	if (volume_db_usage_get(txn, project, &u) == -1)
		return -1;
	u.backups = nonneg(u.backups + backups);
	u.backup_gigabytes = nonneg(u.backup_gigabytes + gigabytes);
	u.has_backups = u.has_backup_gigabytes = true;
	return db_rec_put(txn, T_VOLUME_USAGE, project,
	    &schema_rec_volume_usage, &u, 0);
}

/* ---- backups ------------------------------------------------------------- */

int
volume_db_backup_get(struct store_txn *txn, const char *id,
    struct rec_volume_backup *b)
{
	if (strlen(id) > CODEC_UUID_LEN) {
		memset(b, 0, sizeof(*b));
		err_set(TS_ENOT_FOUND, "Backup %.255s could not be found.", id);
		return -1;
	}
	if (db_rec_get(txn, T_VOLUME_BACKUPS, id, &schema_rec_volume_backup,
	    b) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Backup %s could not be found.",
			    id);
		return -1;
	}
	return 0;
}

int
volume_db_backup_put(struct store_txn *txn, const struct rec_volume_backup *b)
{
	if (db_rec_put(txn, T_VOLUME_BACKUPS, b->id, &schema_rec_volume_backup,
	    b, 0) == -1 || idx_put(txn, T_VOLUME_BACKUPS_BY_PROJECT,
	    b->project_id, b->id) == -1)
		return -1;
	return 0;
}

int
volume_db_backup_del(struct store_txn *txn, const struct rec_volume_backup *b)
{
	if (idx_del(txn, T_VOLUME_BACKUPS_BY_PROJECT, b->project_id,
	    b->id) == -1)
		return -1;
	if (store_del(txn, T_VOLUME_BACKUPS, b->id, strlen(b->id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

int
volume_db_backup_each(struct store_txn *txn, const char *project,
    int (*cb)(struct rec_volume_backup *, void *), void *arg)
{
	struct ids s = { 0 };
	int rc = 0;

	if (ids_collect(txn, T_VOLUME_BACKUPS, T_VOLUME_BACKUPS_BY_PROJECT,
	    project, &s) == -1) {
		free(s.v);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		struct rec_volume_backup b;

		if (volume_db_backup_get(txn, s.v[i], &b) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			rc = -1;
			break;
		}
		rc = cb(&b, arg);
		codec_clear(&schema_rec_volume_backup, &b);
	}
	free(s.v);
	return rc == -1 ? -1 : 0;
}

int
volume_db_host_get(struct store_txn *txn, const char *host,
    struct rec_storage_host *h)
{
	if (host == NULL || *host == '\0' || strlen(host) > STORE_KEY_MAX) {
		memset(h, 0, sizeof(*h));
		err_set(TS_ENOT_FOUND, "no storage host %.255s", host ? host :
		    "");
		return -1;
	}
	return db_rec_get(txn, T_STORAGE_HOSTS, host, &schema_rec_storage_host,
	    h);
}

int
volume_db_host_put(struct store_txn *txn, const struct rec_storage_host *h)
{
	return db_rec_put(txn, T_STORAGE_HOSTS, h->host,
	    &schema_rec_storage_host, h, 0);
}
