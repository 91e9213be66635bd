/*
 * disk: an instance's disk files, made with qemu-img.
 *
 * Every qemu-img run goes through common/proc (argv, no shell) with:
 *   - an explicit -f for every image it opens, and -F for a backing file:
 *     the format always comes from the control plane or from the image
 *     cache's inspection, never from probing a file the guest can write
 *     (security-and-reliability §1.1, invariant 1);
 *   - rlimits: address space 1 GiB, CPU time 30 s (Nova's QEMU_IMG_LIMITS)
 *     or, for a copy, 30 s plus 30 s per GiB of virtual size; RLIMIT_FSIZE
 *     no larger than the file being made can need; 64 open files;
 *   - a wall-clock timeout (60 s; a copy 120 s plus 60 s per GiB);
 *   - disk_qemu_img_env (below), which lets it live within that address
 *     space.
 * Paths must be absolute (so qemu never reads one as a protocol such as
 * "nbd:" or "json:") and free of control characters.
 *
 * Layout: an instance's files live in <instances_path>/<uuid>/ (the UUID
 * is checked to be canonical, so the directory name can never escape
 * instances_path): DISK_ROOT_NAME, DISK_EPHEMERAL_NAME, DISK_SWAP_NAME,
 * DISK_CONFIG_NAME, DISK_CONSOLE_NAME, as Nova names them.
 */
#ifndef TS_AGENT_DISK_H
#define TS_AGENT_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_ROOT_NAME		"disk"
#define DISK_EPHEMERAL_NAME	"disk.eph0"
#define DISK_SWAP_NAME		"disk.swap"
#define DISK_CONFIG_NAME	"disk.config"
#define DISK_CONSOLE_NAME	"console.log"

#define DISK_QEMU_IMG		"qemu-img"
#define DISK_AS_LIMIT		(1024ull * 1024 * 1024)	/* 1 GiB */

/*
 * Environment of every qemu-img run here and in volstore (NULL-terminated,
 * static). glibc gives each new thread its own malloc arena, up to 8 per
 * core, and each arena reserves 64 MiB of address space; qemu-img's I/O
 * thread pool then reached the 1 GiB RLIMIT_AS now and then, a thread could
 * not be created, and qemu-img aborted (a snapshot's convert died by SIGABRT
 * in about 1 run in 20). Two arenas leave it far inside the limit.
 */
extern const char *const disk_qemu_img_env[];
#define DISK_CPU_LIMIT		30	/* seconds */
#define DISK_TIMEOUT_MS		60000
/* qcow2 metadata of a new or grown image never needs more than this. */
#define DISK_QCOW2_FSIZE	(64ull * 1024 * 1024)
/* Largest disk made here (qemu's own limit for qcow2 is 64 TiB). */
#define DISK_SIZE_MAX		(64ull << 40)
#define DISK_PATH_MAX		4096	/* buffers, with the NUL */

enum disk_root_mode {
	/* qcow2 file whose backing file is the cached base (copy on
	 * write); the base must stay in the cache while the disk exists. */
	DISK_ROOT_OVERLAY = 0,
	/* Independent raw copy of the base (qemu-img convert), then grown. */
	DISK_ROOT_RAW_COPY,
};

/*
 * The root disk at path from the cached base image base_path, whose format
 * (qemu driver name: raw, qcow2, ...) and virtual size the image cache
 * determined. size is the flavor's root disk in bytes: the disk is made
 * that large; 0 keeps the image's virtual size. A size below the image's
 * virtual size is refused (TS_EINVALID) before anything runs. An existing
 * file at path is refused (TS_ECONFLICT): disks are never overwritten.
 * On failure nothing is left at path.
 */
int	disk_root_create(const char *path, const char *base_path,
	    const char *base_format, uint64_t base_virtual_size,
	    uint64_t size, enum disk_root_mode mode);

/*
 * A blank disk (ephemeral or swap) of size bytes (> 0) in format "raw"
 * (sparse) or "qcow2". Refuses an existing file (TS_ECONFLICT).
 */
int	disk_blank_create(const char *path, const char *format, uint64_t size);

/*
 * A standalone qcow2 copy at dst of the disk at path (format raw or
 * qcow2, its backing chain merged; virtual size vsize, for the limits):
 * the data of a server snapshot. dst must not exist (TS_ECONFLICT); on
 * failure nothing is left there. The guest may be running (-U).
 */
int	disk_snapshot_copy(const char *path, const char *format, uint64_t vsize,
	    const char *dst);

/*
 * Grows the disk at path, whose format the caller states, to size bytes.
 * Never shrinks: a size below the current virtual size is TS_EINVALID
 * (the current size is read with disk_info() first); equal is a no-op.
 */
int	disk_grow(const char *path, const char *format, uint64_t size);

/*
 * A copy at dst of the file at path as it is (a qcow2 overlay keeps its
 * backing file; holes stay holes: cp --sparse=always --reflink=auto), of
 * at most size bytes: the root disk kept for a resize's revert. dst must
 * not exist (TS_ECONFLICT); on failure nothing is left there.
 */
int	disk_copy(const char *path, const char *dst, uint64_t size);

struct disk_info {
	char		format[16];
	uint64_t	virtual_size;
	uint64_t	actual_size;	/* bytes allocated on the host */
	bool		has_backing;
	char		backing_file[DISK_PATH_MAX];
	char		backing_format[16];
};

/*
 * qemu-img info -f format --output=json on path (no backing chain
 * probing: a backing file's format must be recorded in the image, and a
 * qcow2 without one is reported with backing_format ""). -1 with TS_EIO
 * (qemu-img failed, e.g. the format is wrong) or TS_EDECODE (unexpected
 * output).
 */
int	disk_info(const char *path, const char *format, struct disk_info *);
/*
 * The backing file a qcow2 image at path names, read from its header in
 * process (no qemu-img: a live migration's source asks this on its way
 * to libvirt, where a process costs 0.1-0.5 s on a loaded host). 1 with
 * the name in out, 0 when path is a qcow2 image without one, -1 with
 * TS_EDECODE (not a qcow2 v2/v3 header, or a name outside the header
 * cluster or not fitting outlen) or TS_EIO.
 */
int	disk_backing_file(const char *path, char *out, size_t outlen);

/*
 * "<instances_path>/<uuid>[/<file>]" into buf. TS_EINVALID if uuid is not
 * a canonical UUID, instances_path not absolute, file not a plain name,
 * or the result does not fit.
 */
int	disk_instance_path(char *buf, size_t len, const char *instances_path,
	    const char *uuid, const char *file);
/* Creates <instances_path>/<uuid>/ (0755: qemu runs as another user and
 * must reach the files); an existing directory is fine, a symlink or other
 * file there is TS_ECONFLICT. */
int	disk_instance_dir_create(const char *instances_path, const char *uuid);
/*
 * Removes <instances_path>/<uuid>/ and everything in it, without following
 * symbolic links (a link inside is removed, not its target) and without
 * leaving the directory (depth-limited). Absent: 0.
 */
int	disk_instance_dir_remove(const char *instances_path, const char *uuid);

#endif
