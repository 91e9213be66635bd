/*
 * backend_qemu: what the driver (virt/driver.c) needs of the host for
 * qemu (TCG) and kvm guests, beyond libvirt's life cycle.
 *
 * A guest is made of files in <instances_path>/<uuid>/: the root disk (a
 * qcow2 overlay on a base from the image cache, or a raw copy of it, per
 * [libvirt] images_type), ephemeral and swap disks, the config drive, the
 * console log, and "disk.info" (the root disk's format as it was made, so
 * that a later change of images_type never makes a disk be read with the
 * wrong format: formats are never probed). Base images, kernels and
 * ramdisks come from the image cache (agent/image/imgcache), downloaded
 * with the command's image capability (its image_token) and the agent's
 * host, and referenced by the instance UUID; the
 * references are re-added from each domain's metadata when the backend is
 * made (agent restart) and a thread of the backend prunes unused bases
 * every cache_grace/4 s (at most 600 s). The domain XML comes from
 * virt/domxml.
 *
 * Failure of a make-guest step never leaves what a retry would trip over:
 * backend_qemu_undo() removes the files made by the failed call (and the
 * instance directory with its image references when the call created
 * it); files that existed before the call (a disk holding the guest's
 * data) are never removed.
 *
 * Threads: as the driver's (several guests at once, one call at a time per
 * guest).
 */
#ifndef TS_AGENT_BACKEND_QEMU_H
#define TS_AGENT_BACKEND_QEMU_H

#include <stddef.h>
#include <stdint.h>

struct backend_qemu;
struct driver_opts;
struct driver_spec;
struct virt;

/* What one make-guest call created, so that a failure undoes exactly
 * that. */
struct backend_qemu_made {
	int	dir;		/* the instance directory (and image refs) */
	int	root, info, eph, swap, cfg;
};

/* Options (o->cfg: [image], [libvirt], [vnc]; see driver.h), the image
 * cache and its pruner; the cache references of every managed domain on
 * virt's connection are added again. kvm: domains of type kvm, else qemu.
 * NULL with err set (TS_EINVALID for a bad option). */
struct backend_qemu	*backend_qemu_new(struct virt *,
			    const struct driver_opts *o, int kvm);
/* Stops the pruner. Accepts NULL; clears *qp. */
void			 backend_qemu_free(struct backend_qemu **);

/* Makes what the guest needs on the host (each disk and the config drive
 * only if missing), recording it in *m, and returns its owned domain XML
 * in *xml. -1 with err set; then undo with *m. */
int	backend_qemu_render(struct backend_qemu *, const struct driver_spec *,
	    struct backend_qemu_made *m, char **xml);
/* Removes what m says a failed render made. */
/*
 * What an incoming live migration needs here (backend_qemu_render()'s
 * files, no definition), in a directory marked as prepared
 * (BACKEND_QEMU_PREPARED_NAME, its mtime the prepare's; the marker stays
 * after the guest arrives, harmless: only directories without a domain
 * count as leftovers). fresh (no domain of the guest here): disks that an
 * earlier prepare left are made again, empty. *backing: the root disk
 * was made now as an empty qcow2 overlay over the spec's base image (an
 * incremental copy suffices). A failure undoes what this call made.
 */
#define BACKEND_QEMU_PREPARED_NAME	"migrate.prepared"
int	backend_qemu_prepare(struct backend_qemu *, const struct driver_spec *,
	    int fresh, int *backing);
/* 1 with the age of uuid's prepared marker in *age_ms, 0 when there is
 * none; -1 with err set. */
int	backend_qemu_prepared_age(struct backend_qemu *, const char *uuid,
	    int64_t *age_ms);
/* Whether uuid's root disk here is a qcow2 overlay whose backing file is
 * image_id's base in this host's image cache (0 when unsure). */
int	backend_qemu_root_backed(struct backend_qemu *, const char *uuid,
	    const char *image_id);
/* Where this host keeps guests and its image cache (borrowed). */
void	backend_qemu_paths(const struct backend_qemu *,
	    const char **instances, const char **cache);
void	backend_qemu_undo(struct backend_qemu *, const struct driver_spec *,
	    const struct backend_qemu_made *m);
/* The tail of the guest's console log, at most max bytes (sanitized, cut
 * on a character boundary), owned by the caller; "" when there is none. */
int	backend_qemu_console(struct backend_qemu *, const char *uuid,
	    size_t max, char **out, size_t *len);
/* The data of a snapshot of the guest's root disk into image_id: a
 * standalone qcow2 at <instances_path>/<uuid>/snapshot-<image_id>, its
 * path into out; the caller uploads and removes it. TS_ENOT_FOUND without
 * a root disk (a guest booted from a volume). */
int	backend_qemu_snapshot_copy(struct backend_qemu *, const char *uuid,
	    const char *image_id, char *out, size_t outlen);
/*
 * The root disk of a resize on this host (the guest shut off): mode 1
 * keeps a copy of the disk ("disk.resize", once: a repeated call keeps the
 * first) and grows the disk to root_gb; 3 puts the copy back (revert);
 * 0 drops a copy left (confirmed). A guest without a root disk (boot from
 * volume) has nothing to do. On a failed grow the copy is put back.
 */
int	backend_qemu_resize(struct backend_qemu *, const char *uuid, int mode,
	    uint64_t root_gb);
/* After the domain and its directory are gone: drops its image cache
 * references and, for a local qemu:///system, libvirt's
 * /var/log/libvirt/qemu/<name>.log. */
void	backend_qemu_forget(struct backend_qemu *, const char *uuid);

#endif
