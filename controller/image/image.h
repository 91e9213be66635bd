/*
 * image: the Image service (Glance v2) as the rest of the controller sees
 * it: life cycle, the listener's route table and policy rules, and what
 * compute needs to boot from an image (the record and whether the caller
 * may see it). Image's own files share image_int.h, which also maps them.
 */
#ifndef TS_IMAGE_H
#define TS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "msg_gen.h"
#include "auth/policy.h"
#include "store.h"

struct config;
struct image_service;

/* ---- service (image.c) ----------------------------------------------------- */

/*
 * Read the [image] options, open the data store, and recover from a crash:
 * images left "saving" go back to "queued", partial uploads are removed,
 * and data files of images that are gone or not active/deactivated are
 * deleted. NULL with err set.
 */
struct image_service	*image_service_new(const struct config *,
			    struct store *);
void			 image_service_free(struct image_service **);

/* The image listener's route table, and the built-in policy rules (Glance's
 * rule names with an "image:" prefix). */
/*
 * MHD's pool per connection on the image port. It sets how much of an
 * upload one read takes (about half of it): at the server's 32 KiB an
 * upload is 16 KiB reads, 65,536 reads and callbacks per GiB, a
 * noticeable share of an upload's CPU. MHD clears the whole pool for every
 * request of a connection (a few microseconds at this size).
 */
#define IMAGE_CONN_MEMORY	(256 * 1024)

extern const struct http_route image_routes[];
extern const struct policy_default image_policy_defaults[];

/* ---- records (image_db.c) -------------------------------------------------- */

/* The image with id (zeroed first; codec_clear() it). TS_ENOT_FOUND
 * "No image found with ID <id>". */
int	image_db_get(struct store_txn *, const char *id, struct rec_image *);

/* ---- who is asking ------------------------------------------------------- */

/* The caller as the visibility rules see it; strings borrowed. */
struct image_viewer {
	const char	*project_id;	/* "" for none */
	bool		 admin;		/* image:context_is_admin holds */
};

/*
 * Whether viewer may see img (see the file comment). *member (may be NULL)
 * is set when the viewer's project is a member of the (shared) image; its
 * status is copied to member_status (at least 16 bytes, may be NULL).
 * -1 only on a database error.
 */
int	image_db_visible(struct store_txn *, const struct image_viewer *,
	    const struct rec_image *, bool *member, char *member_status);

/* ---- server snapshots and backups (image_snapshot.c) ----------------------- */

/* What compute's createImage/createBackup ask for; strings borrowed. */
struct image_snapshot_req {
	const char		*name;
	const char		*project_id;	/* owner: the instance's */
	const char		*user_id;	/* the requester */
	const char		*instance_uuid;
	const char		*base_image_ref;	/* NULL: "" (volume) */
	const char		*backup_type;	/* NULL: a snapshot */
	const char		*disk_format;	/* of the data to come */
	const char		*container_format;
	/* the base's boot properties a boot of the snapshot needs (NULL:
	 * none): kernel_id, ramdisk_id, os_command_line */
	const char		*kernel_id, *ramdisk_id, *os_command_line;
	uint32_t		 min_disk, min_ram;
	const struct ts_strmap	*metadata;	/* the request's; may be NULL */
};

/*
 * In the caller's write transaction: a new queued private image for
 * the snapshot (Nova's properties image_type snapshot|backup,
 * instance_uuid, user_id, base_image_ref, backup_type), its id into id.
 * No quota is checked here: the upload's activation checks it.
 */
int	image_snapshot_create(struct store_txn *,
	    const struct image_snapshot_req *, int64_t now, char id[37]);
/* A failed snapshot's image goes (record, then its data file after the
 * commit) unless it became active or is protected; gone already: 0. Own
 * write transaction. */
int	image_snapshot_discard(struct image_service *, const char *id);
/* A cross-host resize's temporary snapshot (compute_resize.c) goes once
 * the target built the guest from it, or the move failed: active or not
 * (unless protected); gone already: 0. Own write transaction. */
int	image_snapshot_drop(struct image_service *, const char *id);
/*
 * createBackup's rotation (Nova's _rotate_backups): of the images with
 * image_type backup, instance_uuid and backup_type, all but the newest
 * keep (created_at, then id) are deleted (0: all); protected ones are
 * kept and logged. *deleted (may be NULL) gets how many went. Own write
 * transaction; data files removed after the commit.
 */
int	image_backup_rotate(struct image_service *, const char *instance_uuid,
	    const char *backup_type, unsigned keep, unsigned *deleted);

/* ---- volume uploads (image_snapshot.c) ------------------------------------ */

/* What the volume API's os-volume_upload_image asks for; borrowed. */
struct image_volume_req {
	const char		*name;
	const char		*project_id;	/* owner: the volume's */
	const char		*disk_format;	/* raw | qcow2 (checked by the
						 * caller) */
	const char		*container_format;
	const char		*visibility;	/* checked here */
	bool			 protected;
	/* the volume's volume_image_metadata; Glance's core attributes in
	 * it are skipped. May be NULL. */
	const struct ts_strmap	*image_metadata;
};
/*
 * In the caller's write transaction: a new queued image the storage host
 * will PUT the volume's data to with an upload capability, its id into
 * id. No quota is checked here: the upload's activation checks it.
 */
int	image_volume_upload_create(struct store_txn *,
	    const struct image_volume_req *, int64_t now, char id[37]);
/* A failed or abandoned upload's image goes (record, then any data file
 * after the commit) unless it became active; protected or not (it never
 * held data). Gone already: 0. Own write transaction. */
int	image_volume_upload_discard(struct image_service *, const char *id);

/* ---- the compute API's image proxy (image.c) ------------------------------ */

/* A query pair or a property; strings borrowed. */
struct image_kv {
	const char	*key;
	const char	*value;
};

/* One page of a listing: owned images, and whether more follow. */
struct image_page {
	struct rec_image	*items;
	size_t			 n;
	bool			 more;
};
void	image_list_page_clear(struct image_page *);

/*
 * Glance's answers to another API's caller (Nova's /v2.1/images proxy,
 * which asks Glance with the user's token): req is that API's request,
 * whose credentials the image rules are enforced with (image:get_image,
 * image:delete_image, image:modify_image on the stored image; the route
 * enforces image:get_images); an image the caller may not see is
 * TS_ENOT_FOUND, as Glance answers. The list takes Glance v2's query
 * pairs (filters on attributes and extra properties, limit, marker).
 */
int	image_proxy_list(struct image_service *, struct http_req *,
	    const struct image_kv *query, size_t n, struct image_page *);
/* The image (zeroed first; codec_clear() it). */
int	image_proxy_get(struct image_service *, struct http_req *,
	    const char *id, struct rec_image *);
/* Glance's delete (403 protected), data file after the commit. */
int	image_proxy_delete(struct image_service *, struct http_req *,
	    const char *id);
/*
 * The image's extra properties in one write: with purge every one goes
 * first, remove (NULL: none) goes (TS_ENOT_FOUND when absent), then set's
 * n pairs are added or replaced (Glance's checks on names and values).
 * out (may be NULL; codec_clear() it) gets the stored image.
 */
int	image_proxy_props(struct image_service *, struct http_req *,
	    const char *id, const struct image_kv *set, size_t n, bool purge,
	    const char *remove, struct rec_image *out);

/* ---- blob stores for other services (volume backups) ------------------ */

/*
 * The image data store's machinery (image_store.c: uploads streamed to
 * "<dir>/.<id>.part", SHA-512 while the bytes arrive, blocks of zeros
 * left as holes, fsync, rename to "<dir>/<id>" at commit) over a
 * directory of files named by canonical UUIDs, for another service's
 * blobs: no size cap, no quota, no page-cache warming. The directory is
 * created (0700) and its ".part" files (uploads a crash cut) removed.
 * Types are the store's own, opaque here.
 */
struct image_store;
struct image_upload;

struct image_store	*image_blobs_new(const char *dir);
void			 image_blobs_free(struct image_store **);
/* A new upload of id (TS_ECONFLICT while another of id runs); declared:
 * the Content-Length or UINT64_MAX. */
struct image_upload	*image_blobs_begin(struct image_store *, const char *id,
			    uint64_t declared);
int	image_blobs_write(struct image_upload *, const void *buf, size_t len);
/* End of stream: the file fsynced and renamed to its final name (one of
 * that id already there: TS_ECONFLICT); its size and SHA-512 (hex). */
int	image_blobs_commit(struct image_upload *, uint64_t *size,
	    char sha512[129]);
/* Unlinks the temporary file unless committed. Accepts NULL, clears. */
void	image_blobs_upload_free(struct image_upload **);
/* *fd (O_RDONLY, the caller's) and size of id's file; TS_ENOT_FOUND. */
int	image_blobs_open(struct image_store *, const char *id, int *fd,
	    uint64_t *size);
/* No file is not an error. */
int	image_blobs_remove(struct image_store *, const char *id);

#endif
