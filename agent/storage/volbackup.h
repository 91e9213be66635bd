/*
 * volbackup: the storage worker's volume backups and restores
 * (host_storage.backups, schemas/storage.schema). The bytes go to and come
 * from the controller's volume API (sto_backup.data_url), never stay here:
 *
 * - a backup of a snapshot the user named (sto_backup.snapshot_id) PUTs
 *   that snapshot's file; any other takes a snapshot of the volume
 *   (volstore_snap_create(), named by the backup's id: a reflink or a
 *   copy for the file backend, so an in-use volume is read as it was at
 *   one instant), PUTs the snapshot's
 *   file to <data_url>/v3/backup-data/<id> with the op's upload capability
 *   (imgcache_http_upload_path()), then removes the snapshot;
 * - a restore GETs <data_url>/v3/backup-data/<id> with the op's download
 *   capability into the volume (already made by the converge), from byte
 *   0, and checks the bytes' count and SHA-512 against the op's.
 *
 * Each op runs once per agent life: its result is kept while host_storage
 * names it (the controller drops it once it applied the report), and told
 * in every report (host_storage_state.backups). An agent restarted mid-op
 * runs it again (the controller's upload route replaces a partial file; a
 * restore writes from the start). Block devices (LVM) are refused for now:
 * only the file backend's regular files are streamed.
 *
 * Threads: the storage worker's only.
 */
#ifndef TS_AGENT_VOLBACKUP_H
#define TS_AGENT_VOLBACKUP_H

#include "msg_gen.h"

struct volbackup;
struct volstore;

/* host: the agent's name (X-Tinystack-Host); copied. NULL with err set. */
struct volbackup	*volbackup_new(const char *host);
void			 volbackup_free(struct volbackup **);

/*
 * Run every op of m not run yet (in order, one at a time), forget the
 * results of ops m no longer names, and fill st->backups with the result
 * of each op m names. -1 only when out of memory (an op's failure is its
 * result).
 */
int	volbackup_run(struct volbackup *, struct volstore *,
	    const struct msg_host_storage *m,
	    struct msg_host_storage_state *st);

#endif
