/*
 * volume_db: the block storage records (schemas/volume.schema) and their
 * indexes, for the volume service and the storage sync. Every function
 * runs inside the caller's transaction; records read are zeroed first and
 * are the caller's to codec_clear(). Not found: TS_ENOT_FOUND with
 * Cinder's message ("Volume <id> could not be found.").
 */
#ifndef TS_CONTROLLER_VOLUME_DB_H
#define TS_CONTROLLER_VOLUME_DB_H

#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"
#include "store.h"

int	volume_db_get(struct store_txn *, const char *id, struct rec_volume *);
/* Write v; old (NULL for a new one) is the record as it was, whose index
 * entries are replaced. */
int	volume_db_put(struct store_txn *, const struct rec_volume *old,
	    const struct rec_volume *v);
int	volume_db_del(struct store_txn *, const struct rec_volume *);
/* Every volume of project (NULL: all), decoded and borrowed for the call;
 * cb returns 0 to go on, 1 to stop, -1 to fail. */
int	volume_db_each(struct store_txn *, const char *project,
	    int (*cb)(struct rec_volume *, void *), void *arg);
int	volume_db_each_host(struct store_txn *, const char *host,
	    int (*cb)(struct rec_volume *, void *), void *arg);

int	volume_db_snap_get(struct store_txn *, const char *id,
	    struct rec_volume_snapshot *);
int	volume_db_snap_put(struct store_txn *,
	    const struct rec_volume_snapshot *);
/* s to project (its project index entry replaced), written. */
int	volume_db_snap_move(struct store_txn *, struct rec_volume_snapshot *s,
	    const char *project);
int	volume_db_snap_del(struct store_txn *,
	    const struct rec_volume_snapshot *);
int	volume_db_snap_each(struct store_txn *, const char *project,
	    int (*cb)(struct rec_volume_snapshot *, void *), void *arg);
/* How many snapshots a volume has. */
int	volume_db_snap_count(struct store_txn *, const char *volume_id,
	    size_t *n);
int	volume_db_snap_each_volume(struct store_txn *, const char *volume_id,
	    int (*cb)(struct rec_volume_snapshot *, void *), void *arg);

/* A project's usage (zero when it has no record). */
int	volume_db_usage_get(struct store_txn *, const char *project,
	    struct rec_volume_usage *);
/* Add the deltas (never below zero). */
int	volume_db_usage_add(struct store_txn *, const char *project,
	    int64_t volumes, int64_t gigabytes, int64_t snapshots);

/* Add backups and backup GiB to a project's usage (never below zero). */
int	volume_db_usage_add_backup(struct store_txn *, const char *project,
	    int64_t backups, int64_t gigabytes);

/* Backups (not found: "Backup <id> could not be found."). */
int	volume_db_backup_get(struct store_txn *, const char *id,
	    struct rec_volume_backup *);
int	volume_db_backup_put(struct store_txn *,
	    const struct rec_volume_backup *);
int	volume_db_backup_del(struct store_txn *,
	    const struct rec_volume_backup *);
/* Every backup of project (NULL: all), as volume_db_each(). */
int	volume_db_backup_each(struct store_txn *, const char *project,
	    int (*cb)(struct rec_volume_backup *, void *), void *arg);

int	volume_db_host_get(struct store_txn *, const char *host,
	    struct rec_storage_host *);
int	volume_db_host_put(struct store_txn *, const struct rec_storage_host *);

#endif
