/*
 * volume: the Block Storage API (Cinder v3) service of the controller.
 *
 * It serves the versions documents and microversion header (3.0 to
 * 3.44: the attachments API of 3.27 and its os-complete of 3.44, which
 * Nova's new attach flow needs; of the changes between, only those to
 * routes served here would matter, and the others' routes are 404 at any
 * version),
 * absolute limits and os-quota-sets with the usage kept in volume_usage
 * records, one availability zone ("nova"), the os-services row of the
 * controller's scheduler, the one volume type Cinder always has
 * (__DEFAULT__), volumes (create, list, show, update, delete, actions,
 * metadata), snapshots and backups (schemas/volume.schema). A new volume is placed
 * on a storage host (its source's, else the up agent with the most free
 * space); the storage sync (storesync.h) makes the hosts hold what the
 * records say and moves the records on from the hosts' reports.
 *
 * Every route is under /v3/{project_id}: as in Cinder, a URL project other
 * than the token's is 400 "Malformed request url" (checked after the
 * policy, so a refused caller learns nothing more). Errors take Cinder's
 * shape ({"itemNotFound": {"code", "message"}}, apierr APIERR_VOLUME).
 *
 * Threads: created on the main thread before the API listens; handlers run
 * on the HTTP pool and share nothing mutable but the store.
 */
#ifndef TS_CONTROLLER_VOLUME_H
#define TS_CONTROLLER_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/policy.h"
#include "http/http.h"
#include "volume/storesync.h"	/* the storage sync, also public */

struct config;
struct store;
struct store_txn;
struct volume;

/* The microversions served: "volume 3.0" to "volume 3.<VOLUME_MV_MAX>". */
#define VOLUME_MV_MIN	0
#define VOLUME_MV_MAX	44

/* The service over the borrowed store and configuration; host names the
 * controller in os-services (borrowed, outlives the service). NULL with
 * err set. */
struct volume	*volume_new(const struct config *, struct store *,
		    const char *host);
/* Accepts NULL, clears *sp. */
void		 volume_free(struct volume **sp);
/* The storage sync the API tells of its changes (volume_changed());
 * borrowed, set once before the listeners start (services.c). */
void		 volume_set_storesync(struct volume *, struct storesync *);

/* The route table of the volume listener (port [api] volume_port). */
extern const struct http_route volume_routes[];
/* Built-in policy rules of the volume API (Cinder's names). */
extern const struct policy_default volume_policy_defaults[];

/*
 * ---- the compute side (Nova's use of Cinder) ----------------------------
 *
 * Called by controller/compute inside the caller's store_write()
 * transaction, so that the instance's record and the volume's attachment
 * commit together or not at all; call volume_changed() after the commit
 * (the storage sync then exports or unexports the volume to the host).
 * Errors are recorded with err_set and map through the one status table:
 * TS_ENOTFOUND (404: no such volume in that project), TS_EINVAL (400:
 * "Invalid volume: volume status must be available or ..." as Nova
 * relays Cinder's refusal; a second attach of a volume that is not
 * multiattach), TS_ECONFLICT (409).
 */

/* What an attachment needs on the instance's host: the target and the
 * credentials (copied out of the volume record; the secret is the
 * caller's to wipe). */
struct volume_conn {
	char		volume_id[37];
	char		attachment_id[37];
	char		server_id[37];	/* the instance it is attached to */
	char		portal[256];	/* the storage host's "address:port" */
	char		iqn[256];
	uint32_t	lun;
	char		initiator[256];	/* the attachment's: its host's name when made */
	char		chap_user[65];
	char		chap_secret[65];
	bool		readonly;
	uint64_t	size_gb;
	bool		ready;		/* exported to the host: the guest may
					 * connect now */
};

/* The iSCSI initiator name of a host (one rule for both sides):
 * "iqn.2010-10.org.openstack.tinystack:" + the host name with every
 * character outside [a-z0-9.-] made '-'. 0, or -1 when it does not fit. */
int	volume_initiator_name(const char *host, char *out, size_t outlen);

/* available (or in-use, multiattach) -> attaching: adds an attachment for
 * server_id on host with fresh CHAP credentials; *attachment_id (37 bytes)
 * receives its id. */
int	volume_attach_begin(struct volume *, struct store_txn *,
	    const char *project_id, const char *volume_id,
	    const char *server_id, const char *host, const char *device,
	    char *attachment_id);
/* The attachment of a server that has no host (Nova 2.20's attach to a
 * shelved-offloaded server): available (or in-use, multiattach) -> in-use
 * at once, the attachment attached without a host, an initiator or a
 * device, so nothing is exported; volume_attach_rehost() gives it a host
 * when the server is unshelved. Checks as volume_attach_begin(). */
int	volume_attach_hostless(struct volume *, struct store_txn *,
	    const char *project_id, const char *volume_id,
	    const char *server_id, char *attachment_id);
/* The attachment's device becomes device (picked when its server gets a
 * host). */
int	volume_attach_device(struct volume *, struct store_txn *,
	    const char *volume_id, const char *attachment_id,
	    const char *device);
/* The connection of an attachment (in any state but gone). */
int	volume_attach_conn(struct volume *, struct store_txn *,
	    const char *volume_id, const char *attachment_id,
	    struct volume_conn *);
/* attaching -> in-use: the guest has the disk. */
int	volume_attach_done(struct volume *, struct store_txn *,
	    const char *volume_id, const char *attachment_id);
/* The attachment follows its server to another host (an evacuation):
 * host and initiator become the new host's, the credentials and status
 * stay; the storage sync then exports the volume to the new initiator
 * only. */
int	volume_attach_rehost(struct volume *, struct store_txn *,
	    const char *volume_id, const char *attachment_id,
	    const char *host);
/* The attachment follows its server in a live migration: host_name
 * becomes host; initiator, credentials and status stay (the guest keeps
 * its session identity across the move; see volume_attach.c), so the
 * export is unchanged. */
int	volume_attach_follow(struct volume *, struct store_txn *,
	    const char *volume_id, const char *attachment_id,
	    const char *host);
/* in-use -> detaching (the guest is being told to let go). */
int	volume_detach_begin(struct volume *, struct store_txn *,
	    const char *volume_id, const char *attachment_id);
/* The attachment is removed (its export goes with it): the volume is
 * available again (or stays in-use with its other attachments). Also the
 * roll-back of a volume_attach_begin() whose attach failed. A missing
 * attachment is not an error (idempotent). */
int	volume_detach_done(struct volume *, struct store_txn *,
	    const char *volume_id, const char *attachment_id);

/*
 * Boot from volume and Nova's other block device mappings that make a
 * volume (source image, blank or snapshot, destination volume): a new
 * volume of the project, quota checked, placed on prefer_host when its
 * agent serves storage (else where any volume would go), with the
 * server's attachment from the start: it goes creating -> attaching when
 * its host has made (and filled) it, then in-use as for an attach.
 * image_id, snapshot_id: the fill (both NULL: blank); size_gb 0: the
 * source's. *volume_id and *attachment_id (37 bytes each) get the ids.
 */
struct volume_new_attached {
	const char	*project_id, *user_id;
	const char	*name;		/* NULL: none */
	uint64_t	 size_gb;
	const char	*image_id;
	const char	*snapshot_id;
	const char	*server_id;
	const char	*host;		/* the server's */
	const char	*prefer_host;
	const char	*device;
};
int	volume_create_attached(struct volume *, struct store_txn *,
	    const struct volume_new_attached *, char *volume_id,
	    char *attachment_id);

/* What Nova needs to boot a server from an existing volume of project
 * (404 for another project's). */
struct volume_boot {
	uint64_t	size_gb;
	bool		bootable;
	char		status[32];
	char		image_id[37];	/* volume_image_metadata; "" none */
	char		kernel_id[37];
	char		ramdisk_id[37];
};
int	volume_boot_info(struct volume *, struct store_txn *,
	    const char *project_id, const char *volume_id,
	    struct volume_boot *);

/* A server's volume whose delete_on_termination is set, once detached
 * (volume_detach_done() in the same transaction): deleting, as a DELETE
 * would (refused in the states Cinder refuses). A missing volume is not
 * an error. */
int	volume_delete_detached(struct volume *, struct store_txn *,
	    const char *volume_id);

/* Tell the storage sync that volume records changed (any thread; after
 * the commit). Accepts NULL. */
void	volume_changed(struct volume *);

#endif
