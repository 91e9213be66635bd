/*
 * volume_int: what the volume_*.c files share (not for other modules).
 * volume.c: service, discovery, quotas, limits, zones, services, types,
 * routes and policy; volume_volumes.c: volumes, their actions and
 * metadata; volume_snapshots.c: snapshots; volume_attach.c: the compute
 * side (volume.h); volume_db.c: records and indexes; storesync.c: the
 * storage hosts.
 */
#ifndef TS_CONTROLLER_VOLUME_INT_H
#define TS_CONTROLLER_VOLUME_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "msg_gen.h"
#include "store.h"
#include "volume.h"
#include "volume_db.h"

struct storesync;

/* The one volume type. Cinder makes __DEFAULT__ at its first db sync with
 * a random id; ours is fixed, so it reads the same after a restore. */
#define VOLUME_TYPE_ID		"5c3ac9c3-9d7e-4d39-8a69-0f5a1d1b2c3e"
#define VOLUME_TYPE_NAME	"__DEFAULT__"
#define VOLUME_ZONE		"nova"
/* The iSCSI target of a volume: prefix + its id, LUN 1. */
#define VOLUME_IQN_PREFIX	"iqn.2010-10.org.openstack:volume-"
#define VOLUME_LUN		1
/* The instance of an attachment that has none (legacy os-attach to a
 * host, os-initialize_connection before os-attach). */
#define VOLUME_NO_SERVER	"00000000-0000-0000-0000-000000000000"
/* How long an os-volume_upload_image may take before the controller gives
 * up (discards the image, puts the volume back): a base plus a time per
 * GiB of the volume, qemu-img's and the upload's together. */
#define VOLUME_UPLOAD_BASE_MS		(10 * 60 * 1000)
#define VOLUME_UPLOAD_PER_GIB_MS	(2 * 60 * 1000)

/* The quota resources in the order of the fields of rec_volume_quota. */
enum volume_qres {
	Q_VOLUMES, Q_GIGABYTES, Q_SNAPSHOTS, Q_BACKUPS, Q_BACKUP_GIGABYTES,
	Q_PER_VOLUME_GIGABYTES, Q_GROUPS, Q_VOLUMES_TYPE, Q_GIGABYTES_TYPE,
	Q_SNAPSHOTS_TYPE, NQRES
};

struct volume {
	struct store	*store;		/* borrowed */
	const char	*host;		/* borrowed */
	int64_t		 qdef[NQRES];	/* [volume] quota_*; -1 unlimited */
	int64_t		 down_ms;	/* [DEFAULT] service_down_time */
	/* Set once before the listeners start (volume_set_storesync()),
	 * read by the handlers' threads. */
	_Atomic(struct storesync *) ss;
	/* The backups' data files ([backup] store_path), one per backup,
	 * named by its id (image.h's blob stores). */
	struct image_store *data;
};

struct volume	*volume_of(struct http_req *);
/* The caller's project ("" without one). */
const char	*volume_caller(struct http_req *);
const char	*volume_caller_user(struct http_req *);
/* Whether the caller is the Block Storage API's admin. */
bool		 volume_is_admin(struct http_req *);
int		 volume_owner_check(struct http_req *, const char *rule,
		    const char *project_id, const char *what, const char *id);
/*
 * What every /v3/{project_id} handler does first: the microversion, the
 * rule (NULL: the route's, already enforced) on a target naming
 * target_project, then Cinder's check that the URL's project is the
 * token's.
 */
int		 volume_begin(struct http_req *, struct http_resp *,
		    const char *rule, const char *target_project);
/* The request's volume microversion's minor number (3.N -> N; absent:
 * 0), once volume_begin() accepted it. */
long		 volume_req_mv(struct http_req *);
/* Fresh CHAP credentials of an attachment (20 characters each). */
int		 volume_chap(char user[21], char secret[21]);
/* The limits in force for a project, inside txn. */
int		 volume_quota_limits(struct volume *, struct store_txn *,
		    const char *project, int64_t out[NQRES]);
/* Cinder's "2026-12-05T07:50:35.000000". */
json_t		*volume_time(int64_t ms);
/* Tell the storage sync (if any) that records changed. */
void		 volume_kick(struct volume *);

/* ---- placement and helpers shared by volumes and snapshots --------------- */

/*
 * A storage host for a new volume, inside txn: an up agent (its service's
 * last heartbeat within service_down_time, neither disabled nor forced
 * down), the one with the most free_gb among those that reported a
 * backend, else (none reported yet) the first that has not reported;
 * never one that reported backend "none". backend (NULL or "": any; the
 * volume type's volume_backend_name) admits only hosts that reported that
 * backend. "" when there is none.
 */
int	volume_place(struct volume *, struct store_txn *, const char *backend,
	    char *host, size_t len);
/* volume_place() at time now (ms) with service_down_time down_ms, for
 * storesync's re-placement. */
int	volume_place_at(struct store_txn *, int64_t now, int64_t down_ms,
	    const char *backend, char *host, size_t len);
/*
 * Volumes still `creating` on host, which has no storage (its record says
 * "none" already, so placement skips it), would stay so for ever. Each
 * moves to the host volume_place_at() picks, else goes to error with
 * VOLUME_NO_BACKEND and no host (no host is asked for it); quota usage
 * stays, the volume exists. A clone's data is on its source's host, so it
 * errs. Snapshots need an available volume, which such a host never has.
 * Inside the caller's write txn; *moved += how many changed.
 */
int	volume_strand(struct store_txn *, const char *host, int64_t down_ms,
	    unsigned *moved);
/* The fault of a volume no storage host can take (Cinder's scheduler's). */
#define VOLUME_NO_BACKEND	"No valid backend was found. No weighed " \
				"backends available"
/* Whether host's agent reported a storage backend. */
bool	volume_host_serves(struct volume *, struct store_txn *,
	    const char *host);
/* Adds to v an attachment of server_id on host (its initiator, fresh CHAP
 * credentials, status attaching); *attachment_id (37 bytes) its id. The
 * caller writes v. */
int	volume_attach_add(struct rec_volume *v, const char *server_id,
	    const char *host, const char *device, char *attachment_id);
/* Check one more volume of size GiB (volumes = 1) or a snapshot (0) or a
 * growth of an existing volume (volumes = 0, gb = the growth) against the
 * project's limits and usage, inside the write: 413 with Cinder's
 * message. snapshots: 1 for a snapshot. */
int	volume_quota_check(struct volume *, struct store_txn *,
	    const char *project, int64_t volumes, int64_t gb,
	    int64_t snapshots, int64_t new_size);
/* Check one more backup of gb GiB against the project's backups and
 * backup_gigabytes, inside the write: 413 with Cinder's message. */
int	volume_quota_check_backup(struct volume *, struct store_txn *,
	    const char *project, int64_t gb);

/*
 * Answer a GET on a collection: objs (every visible object in detail
 * form, stolen) filtered by name, status, bootable and metadata, sorted
 * (sort=key:dir,... or sort_key/sort_dir, among keys; then id), paged
 * (limit/marker, with "<coll>_links" next), and sent as {coll: [...]};
 * summary keeps id, name (name_key) and links.
 */
int	volume_list_reply(struct http_req *, struct http_resp *,
	    const char *coll, const char *const *keys, json_t *objs,
	    bool summary, const char *name_key);

/* Cinder's metadata body: an object of at most 128 string values, keys of
 * 1 to 255 characters, values of at most 255; copied into m (its previous
 * content kept when merge). Volumes' and snapshots'. */
int	volume_meta_parse(json_t *jm, struct ts_strmap *m, bool merge);

/* ---- volume types (volume_types.c) -------------------------------------- */

/*
 * The type named or numbered ref (NULL: the default) inside txn: its id
 * into id and its volume_backend_name extra spec ("" none) into backend.
 * A private type is found by the admin only. 404 with Cinder's message.
 */
int	volume_type_resolve(struct store_txn *, const char *ref, bool admin,
	    char id[37], char *backend, size_t blen);
/* The volume_backend_name of type id ("" none, or the type is gone). */
int	volume_type_backend(struct store_txn *, const char *id, char *backend,
	    size_t blen);
/* The name of type id for a volume's view, read in a snapshot of its own
 * (the id itself when the type is gone). */
void	volume_type_name(struct volume *, const char *id, char *out,
	    size_t len);

/* ---- handlers ----------------------------------------------------------- */

int	volume_volumes_list(struct http_req *, struct http_resp *);
int	volume_volumes_detail(struct http_req *, struct http_resp *);
int	volume_volumes_create(struct http_req *, struct http_resp *);
int	volume_volumes_show(struct http_req *, struct http_resp *);
int	volume_volumes_update(struct http_req *, struct http_resp *);
int	volume_volumes_delete(struct http_req *, struct http_resp *);
int	volume_volumes_action(struct http_req *, struct http_resp *);
int	volume_meta_list(struct http_req *, struct http_resp *);
int	volume_meta_create(struct http_req *, struct http_resp *);
int	volume_meta_replace(struct http_req *, struct http_resp *);
int	volume_meta_show(struct http_req *, struct http_resp *);
int	volume_meta_update(struct http_req *, struct http_resp *);
int	volume_meta_delete(struct http_req *, struct http_resp *);

/* volume_transfers.c: os-volume-transfer */
int	volume_transfers_create(struct http_req *, struct http_resp *);
int	volume_transfers_list(struct http_req *, struct http_resp *);
int	volume_transfers_detail(struct http_req *, struct http_resp *);
int	volume_transfers_show(struct http_req *, struct http_resp *);
int	volume_transfers_accept(struct http_req *, struct http_resp *);
int	volume_transfers_delete(struct http_req *, struct http_resp *);

/* volume_types.c: types, types_manage, types_extra_specs */
int	volume_types_list(struct http_req *, struct http_resp *);
int	volume_types_show(struct http_req *, struct http_resp *);
int	volume_types_create(struct http_req *, struct http_resp *);
int	volume_types_update(struct http_req *, struct http_resp *);
int	volume_types_delete(struct http_req *, struct http_resp *);
int	volume_types_specs_list(struct http_req *, struct http_resp *);
int	volume_types_specs_create(struct http_req *, struct http_resp *);
int	volume_types_specs_show(struct http_req *, struct http_resp *);
int	volume_types_specs_update(struct http_req *, struct http_resp *);
int	volume_types_specs_delete(struct http_req *, struct http_resp *);

/* volume_attachments.c: the attachments API (3.27, os-complete 3.44) */
int	volume_attachments_list(struct http_req *, struct http_resp *);
int	volume_attachments_detail(struct http_req *, struct http_resp *);
int	volume_attachments_create(struct http_req *, struct http_resp *);
int	volume_attachments_show(struct http_req *, struct http_resp *);
int	volume_attachments_update(struct http_req *, struct http_resp *);
int	volume_attachments_delete(struct http_req *, struct http_resp *);
int	volume_attachments_action(struct http_req *, struct http_resp *);
/* The legacy connection actions on v (a: the action's argument), inside
 * the action's write: *out gets {"connection_info": ...} (owned). 0, 1
 * when nothing changed, -1 with err set. */
int	volume_conn_initialize(struct store_txn *, struct rec_volume *v,
	    json_t *a, json_t **out);
int	volume_conn_terminate(struct store_txn *, struct rec_volume *v,
	    json_t *a);

int	volume_snapshots_list(struct http_req *, struct http_resp *);
int	volume_snapshots_detail(struct http_req *, struct http_resp *);
int	volume_snapshots_create(struct http_req *, struct http_resp *);
int	volume_snapshots_show(struct http_req *, struct http_resp *);
int	volume_snapshots_update(struct http_req *, struct http_resp *);
int	volume_snapshots_delete(struct http_req *, struct http_resp *);

/* volume_backups.c: backups (3.9 update), restore, admin actions */
int	volume_backups_list(struct http_req *, struct http_resp *);
int	volume_backups_detail(struct http_req *, struct http_resp *);
int	volume_backups_create(struct http_req *, struct http_resp *);
int	volume_backups_show(struct http_req *, struct http_resp *);
int	volume_backups_update(struct http_req *, struct http_resp *);
int	volume_backups_delete(struct http_req *, struct http_resp *);
int	volume_backups_restore(struct http_req *, struct http_resp *);
int	volume_backups_action(struct http_req *, struct http_resp *);
/* The storage host's data routes (a capability, no token):
 * PUT /v3/backup-data/{image_id} streams a backup's bytes in,
 * GET /v3/backup-data/{image_id} sends them to a restore. */
extern const struct http_stream_ops volume_backups_data_stream;
int	volume_backups_data_get(struct http_req *, struct http_resp *);
/*
 * Ends the backups and restores ids (found past their deadline by
 * volume_backups_derive()) still past it at now (ms), in one write: a
 * backup being made goes to error, one being restored back to available;
 * the volume each held goes back to its previous status (a restore's
 * target to error_restoring).
 */
int	volume_backups_expire(struct store *, int64_t now,
	    const char (*ids)[CODEC_UUID_LEN + 1], size_t n);
/*
 * For storesync's derivation, inside its read txn: cb(host, op, arg) for
 * each backup being made or restored whose volume is placed on a host
 * (op borrowed for the call; data_url, token and the strings are the
 * caller's to copy); expired(id, arg), and no op, for one past its
 * deadline at now (ms).
 */
int	volume_backups_derive(struct store_txn *, int64_t now,
	    int (*cb)(const char *host, const struct sch_sto_backup *op,
	    void *arg), int (*expired)(const char *id, void *arg), void *arg);
/* A storage host's report of its backups and restores, inside storesync's
 * report write: a failed backup goes to error (its volume back to its
 * previous status); a restore done leaves the backup and the volume
 * available (failed: the volume error_restoring). Only operations whose
 * volume is placed on host count. *changed += how many moved. */
int	volume_backups_report(struct store_txn *, const char *host,
	    const struct sch_sto_backup_status *, size_t n,
	    unsigned *changed);

#endif
