/*
 * volstore: the volumes and snapshots of this host's block storage
 * backend, behind one small interface (agent/storage/storsvc.c uses it).
 *
 * Backends:
 *   - "file" (volfile.h): sparse files <file_dir>/volume-<uuid> and
 *     <file_dir>/snapshot-<uuid>, for hosts without LVM;
 *   - "lvm" (vollvm.h): logical volumes volume-<uuid> and _snapshot-<uuid>
 *     (Cinder's names) in a configured volume group. With lvm_activation
 *     false the LVM commands run in metadata-only mode (no device-mapper
 *     on these machines, see ../shared/recipes/host-demo.sh 5b): the LVs
 *     exist in the metadata only, have no device node, and cannot be
 *     filled, wiped or exported.
 *
 * Filling: a new volume is filled once from its source (another volume or
 * a snapshot on this host, or an image from the agent's image cache with
 * the controller's capability token), with qemu-img convert -n into the
 * volume through common/proc; no source: zeroes (a new sparse file, a new
 * LV zeroed by lvcreate).
 *
 * Removal wipes first, so no data of one project is readable by the next:
 * a file's blocks are punched out and it is truncated to 0 before unlink;
 * an active LV is overwritten with zeroes (Cinder's volume_clear=zero) before
 * lvremove. A metadata-only LV never had a device anything could write
 * through, so there is nothing to wipe.
 *
 * Threads: one owner (the storage worker); the image cache it borrows is
 * thread-safe.
 */
#ifndef TS_AGENT_VOLSTORE_H
#define TS_AGENT_VOLSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOLSTORE_GIB		(1024ull * 1024 * 1024)
#define VOLSTORE_SIZE_MAX_GB	(64ull * 1024)	/* 64 TiB */
#define VOLSTORE_PATH_MAX	4096
#define VOLSTORE_QEMU_IMG	"qemu-img"

/* One volume or snapshot found on the backend. */
struct volstore_item {
	char		id[37];		/* canonical UUID */
	bool		snapshot;
	uint64_t	size;		/* bytes */
};

/* The fill source of a new volume, borrowed for the call; at most one of
 * source_volume, source_snapshot and image_id set. */
struct volstore_source {
	const char	*source_volume;
	const char	*source_snapshot;
	const char	*image_id;
	const char	*image_disk_format;
	const char	*image_sha512;
	uint64_t	 image_size;	/* 0: unknown */
	const char	*image_token;	/* never logged */
};

struct volstore_opts {
	const char	*backend;	/* "file" | "lvm" */
	const char	*file_dir;	/* file: absolute directory */
	const char	*lvm_vg;	/* lvm: volume group name */
	bool		 lvm_activation;	/* false: metadata-only */
	struct imgcache	*cache;		/* borrowed, may be NULL: no images */
};

struct imgcache;
struct volstore;

/* NULL with err set (TS_EINVALID for bad options). The file directory is
 * created (0700) if missing. */
struct volstore	*volstore_new(const struct volstore_opts *);
void		 volstore_free(struct volstore **);

const char	*volstore_backend(const struct volstore *);
/* false for a metadata-only LVM backend: volumes cannot be exported. */
bool		 volstore_has_devices(const struct volstore *);

/* Everything the backend holds (*items owned by the caller, free()). */
int	volstore_list(struct volstore *, struct volstore_item **items,
	    size_t *n);
/* Bytes of the backend and free bytes (free_b is 0 when unknown). */
int	volstore_capacity(struct volstore *, uint64_t *total_b,
	    uint64_t *free_b);
/* The block device or file of volume id (a snapshot's with snapshot). */
int	volstore_path(const struct volstore *, const char *id, bool snapshot,
	    char *buf, size_t len);

/* A new volume of size_gb GiB filled from src (NULL: zeroes). A volume
 * that fails to fill is removed again. TS_ECONFLICT if it exists. */
int	volstore_create(struct volstore *, const char *id, uint64_t size_gb,
	    const struct volstore_source *src);
/* Grows a volume to size_gb; a volume already that large or larger is
 * left alone (never shrunk). */
int	volstore_extend(struct volstore *, const char *id, uint64_t size_gb);
/* Wipes and removes a volume; one that does not exist: 0. */
int	volstore_remove(struct volstore *, const char *id);
/* A snapshot of volume vol_id as it is now. TS_ECONFLICT if it exists. */
int	volstore_snap_create(struct volstore *, const char *snap_id,
	    const char *vol_id);
/* Prunes the image cache's idle images (imgcache_prune), at most every
 * VOLSTORE_PRUNE_SEC; the storage worker calls it every tick. Returns the
 * number of files deleted (0 without a cache or before the interval). */
#define VOLSTORE_PRUNE_SEC	600
int	volstore_prune_images(struct volstore *);
/* The volume's data converted (qemu-img convert -f raw -O fmt, through
 * common/proc) into a new file dst (replaced if it exists, removed on
 * failure); fmt raw or qcow2. For os-volume_upload_image. */
int	volstore_export(struct volstore *, const char *id, const char *fmt,
	    const char *dst);
/* Removes a snapshot (wiped as a volume is); absent: 0. */
int	volstore_snap_remove(struct volstore *, const char *snap_id);

#endif
