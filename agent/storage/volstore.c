/* volstore: the volume store over its file or LVM backend; see volstore.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "err.h"
#include "image/imgcache.h"
#include "log.h"
#include "proc.h"
#include "storage/disk.h"
#include "storage/volfile.h"
#include "storage/vollvm.h"
#include "storage/volstore.h"
#include "uuid.h"

/* qemu-img convert's limits (as agent/storage/disk.h, whose environment it
 * shares): 1 GiB of address space, 30 s CPU plus 30 s per GiB, 120 s wall
 * clock plus 60 s per GiB. */
#define FILL_AS_LIMIT		(1024ull * 1024 * 1024)
#define FILL_CPU_PER_GIB	30
#define FILL_MS_PER_GIB		60000
#define FILL_BASE_MS		120000

enum backend { BACKEND_FILE, BACKEND_LVM };

struct volstore {
	enum backend		 backend;
	char			*dir;		/* file */
	char			*vg;		/* lvm */
	struct vollvm_conf	 lvm;
	struct imgcache		*cache;		/* borrowed, may be NULL */
	int64_t			 next_prune;	/* monotonic ms */
};

struct volstore *
volstore_new(const struct volstore_opts *o)
{
	struct volstore *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		err_set(TS_ENOMEM, "volstore: out of memory");
		return NULL;
	}
	s->cache = o->cache;
	if (o->backend != NULL && strcmp(o->backend, "file") == 0) {
		s->backend = BACKEND_FILE;
		if (o->file_dir == NULL || o->file_dir[0] != '/') {
			err_set(TS_EINVALID, "volstore: [storage] file_dir must "
			    "be an absolute path");
			goto fail;
		}
		if ((s->dir = strdup(o->file_dir)) == NULL) {
			err_set(TS_ENOMEM, "volstore: out of memory");
			goto fail;
		}
		if (daemon_mkdirs(s->dir, 0700) == -1)
			goto fail;
	} else if (o->backend != NULL && strcmp(o->backend, "lvm") == 0) {
		s->backend = BACKEND_LVM;
		if (!vollvm_vg_valid(o->lvm_vg)) {
			err_set(TS_EINVALID, "volstore: [storage] lvm_vg '%s' is "
			    "not a volume group name", o->lvm_vg ? o->lvm_vg :
			    "");
			goto fail;
		}
		if ((s->vg = strdup(o->lvm_vg)) == NULL) {
			err_set(TS_ENOMEM, "volstore: out of memory");
			goto fail;
		}
		s->lvm.vg = s->vg;
		s->lvm.activation = o->lvm_activation;
	} else {
		err_set(TS_EINVALID, "volstore: backend '%s' is neither file "
		    "nor lvm", o->backend ? o->backend : "");
		goto fail;
	}
	return s;
fail:
	volstore_free(&s);
	return NULL;
}

void
volstore_free(struct volstore **sp)
{
	struct volstore *s = *sp;

	if (s == NULL)
		return;
	free(s->dir);
	free(s->vg);
	free(s);
	*sp = NULL;
}

const char *
volstore_backend(const struct volstore *s)
{
	return s->backend == BACKEND_FILE ? "file" : "lvm";
}

bool
volstore_has_devices(const struct volstore *s)
{
	return s->backend == BACKEND_FILE || s->lvm.activation;
}

int
volstore_list(struct volstore *s, struct volstore_item **items, size_t *n)
{
	if (s->backend == BACKEND_FILE)
		return volfile_list(s->dir, items, n);
	return vollvm_list(&s->lvm, items, n);
}

int
volstore_capacity(struct volstore *s, uint64_t *total_b, uint64_t *free_b)
{
	*total_b = *free_b = 0;
	if (s->backend == BACKEND_FILE)
		return volfile_capacity(s->dir, total_b, free_b);
	return vollvm_capacity(&s->lvm, total_b, free_b);
}

int
volstore_path(const struct volstore *s, const char *id, bool snapshot,
    char *buf, size_t len)
{
	if (s->backend == BACKEND_FILE)
		return volfile_path(s->dir, id, snapshot, buf, len);
	return vollvm_path(&s->lvm, id, snapshot, buf, len);
}

/* qemu-img convert -n of the source (format fmt) into the volume. */
static int
convert(const char *fmt, const char *src, const char *dst, uint64_t bytes)
{
	uint64_t gib = bytes / VOLSTORE_GIB + 1;
	struct proc_opts o = {
		.env = disk_qemu_img_env,
		.timeout_ms = (unsigned)(FILL_BASE_MS + gib * FILL_MS_PER_GIB),
		.limits = { .as_bytes = FILL_AS_LIMIT,
		    .cpu_sec = FILL_CPU_PER_GIB * (gib + 1), .nofile = 64 },
	};
	/* -n: the volume exists, sized by the backend; -f from the control
	 * plane or the image cache's inspection, never probed. */
	const char *argv[] = { VOLSTORE_QEMU_IMG, "convert", "-n", "-f", fmt,
	    "-O", "raw", src, dst, NULL };
	struct proc_result r = { 0 };
	int rc;

	rc = proc_run(argv, &o, &r);
	proc_result_clear(&r);
	return rc;
}

static int
fill(struct volstore *s, const char *id, uint64_t size_gb,
    const struct volstore_source *src)
{
	char dst[VOLSTORE_PATH_MAX], from[VOLSTORE_PATH_MAX];
	uint64_t bytes = size_gb * VOLSTORE_GIB;
	struct stat st;
	int rc;

	if (!volstore_has_devices(s)) {
		err_set(TS_EUNAVAILABLE, "volstore: metadata-only LVM "
		    "([storage] lvm_activation = false) cannot fill a volume");
		return -1;
	}
	if (volstore_path(s, id, false, dst, sizeof(dst)) == -1)
		return -1;
	if (src->source_volume != NULL || src->source_snapshot != NULL) {
		bool snap = src->source_volume == NULL;
		const char *sid = snap ? src->source_snapshot :
		    src->source_volume;

		if (volstore_path(s, sid, snap, from, sizeof(from)) == -1)
			return -1;
		if (stat(from, &st) == -1) {
			err_set(TS_ENOT_FOUND, "volstore: source %s %s is not "
			    "on this host", snap ? "snapshot" : "volume", sid);
			return -1;
		}
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > bytes) {
			err_set(TS_EINVALID, "volstore: source %s is larger "
			    "than the volume", sid);
			return -1;
		}
		return convert("raw", from, dst, bytes);
	}
	/* An image through the agent's cache, verified (hash, format). */
	{
		struct imgcache_image img = { .id = src->image_id,
		    .disk_format = src->image_disk_format,
		    .sha512 = src->image_sha512, .size = src->image_size,
		    .token = src->image_token };
		struct imgcache_base base;

		if (s->cache == NULL) {
			err_set(TS_EUNAVAILABLE, "volstore: no image cache on "
			    "this host (set [image] api_url)");
			return -1;
		}
		if (src->image_sha512 == NULL || src->image_sha512[0] == '\0') {
			err_set(TS_EINVALID, "volstore: image %s has no "
			    "checksum to verify it against", src->image_id);
			return -1;
		}
		/* The volume holds the reference only while it is filled: the
		 * copy does not depend on the base afterwards. */
		if (imgcache_get(s->cache, &img, id, &base) == -1) {
			err_prefix("image %s: ", src->image_id);
			return -1;
		}
		if (base.virtual_size > bytes) {
			err_set(TS_EINVALID, "volstore: image %s (%" PRIu64
			    " bytes) is larger than the volume",
			    src->image_id, base.virtual_size);
			rc = -1;
		} else
			rc = convert(base.format, base.path, dst, bytes);
		imgcache_release(s->cache, src->image_id, id);
		return rc;
	}
}

int
volstore_create(struct volstore *s, const char *id, uint64_t size_gb,
    const struct volstore_source *src)
{
	int rc;

	if (size_gb == 0 || size_gb > VOLSTORE_SIZE_MAX_GB) {
		err_set(TS_EINVALID, "volstore: size %" PRIu64 " GiB out of "
		    "range", size_gb);
		return -1;
	}
	if (s->backend == BACKEND_FILE)
		rc = volfile_create(s->dir, id, size_gb * VOLSTORE_GIB);
	else
		rc = vollvm_create(&s->lvm, id, size_gb);
	if (rc == -1 || src == NULL || (src->source_volume == NULL &&
	    src->source_snapshot == NULL && src->image_id == NULL))
		return rc;
	if (fill(s, id, size_gb, src) == -1) {
		char msg[1024];

		/* A half-filled volume is no volume: wiped and removed, the
		 * next converge tries again. */
		snprintf(msg, sizeof(msg), "%s", err_msg());
		if (volstore_remove(s, id) == -1)
			log_warnx("volume %s: %s", id, err_msg());
		err_set(TS_EIO, "%s", msg);
		return -1;
	}
	return 0;
}

int
volstore_extend(struct volstore *s, const char *id, uint64_t size_gb)
{
	if (size_gb == 0 || size_gb > VOLSTORE_SIZE_MAX_GB) {
		err_set(TS_EINVALID, "volstore: size %" PRIu64 " GiB out of "
		    "range", size_gb);
		return -1;
	}
	if (s->backend == BACKEND_FILE)
		return volfile_extend(s->dir, id, size_gb * VOLSTORE_GIB);
	return vollvm_extend(&s->lvm, id, size_gb);
}

int
volstore_remove(struct volstore *s, const char *id)
{
	if (s->backend == BACKEND_FILE)
		return volfile_remove(s->dir, id, false);
	return vollvm_remove(&s->lvm, id, false, 0);
}

int
volstore_snap_create(struct volstore *s, const char *snap_id,
    const char *vol_id)
{
	struct volstore_item *items;
	uint64_t size = 0;
	size_t n;
	bool found = false;

	if (s->backend == BACKEND_FILE)
		return volfile_snap_create(s->dir, snap_id, vol_id);
	if (vollvm_list(&s->lvm, &items, &n) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!items[i].snapshot && strcmp(items[i].id, vol_id) == 0) {
			found = true;
			size = items[i].size;
		}
	free(items);
	if (!found) {
		err_set(TS_ENOT_FOUND, "volstore: volume %s is not on this "
		    "host", vol_id);
		return -1;
	}
	return vollvm_snap_create(&s->lvm, snap_id, vol_id,
	    (size + VOLSTORE_GIB - 1) / VOLSTORE_GIB);
}

int
volstore_snap_remove(struct volstore *s, const char *snap_id)
{
	if (s->backend == BACKEND_FILE)
		return volfile_remove(s->dir, snap_id, true);
	return vollvm_remove(&s->lvm, snap_id, true, 0);
}

int
volstore_prune_images(struct volstore *s)
{
	int64_t now = clock_mono_ms();
	int n;

	if (s->cache == NULL || now < s->next_prune)
		return 0;
	s->next_prune = now + VOLSTORE_PRUNE_SEC * 1000;
	/* The volumes' references last only while they are filled: every
	 * image idle for the cache's grace goes. */
	if ((n = imgcache_prune(s->cache)) > 0)
		log_info("volume image cache: %d idle images pruned", n);
	else if (n == -1)
		log_warnx("volume image cache: %s", err_msg());
	return n < 0 ? 0 : n;
}

int
volstore_export(struct volstore *s, const char *id, const char *fmt,
    const char *dst)
{
	char src[VOLSTORE_PATH_MAX];
	uint64_t gib = VOLSTORE_SIZE_MAX_GB;
	struct stat st;
	int rc;

	if (fmt == NULL || (strcmp(fmt, "raw") != 0 &&
	    strcmp(fmt, "qcow2") != 0)) {
		err_set(TS_EINVALID, "volstore: export format '%s' is neither "
		    "raw nor qcow2", fmt ? fmt : "");
		return -1;
	}
	if (!volstore_has_devices(s)) {
		err_set(TS_EUNAVAILABLE, "volstore: metadata-only LVM volumes "
		    "have no data to export");
		return -1;
	}
	if (volstore_path(s, id, false, src, sizeof(src)) == -1)
		return -1;
	if (stat(src, &st) == -1) {
		err_set(TS_ENOT_FOUND, "volstore: volume %s is not on this host",
		    id);
		return -1;
	}
	if (S_ISREG(st.st_mode))
		gib = (uint64_t)st.st_size / VOLSTORE_GIB + 1;
	/* Whatever an earlier try left. */
	if (unlink(dst) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "volstore: %s", dst);
		return -1;
	}
	{
		struct proc_opts o = {
			.env = disk_qemu_img_env,
			.timeout_ms = (unsigned)(FILL_BASE_MS + gib *
			    FILL_MS_PER_GIB),
			.limits = { .as_bytes = FILL_AS_LIMIT,
			    .cpu_sec = FILL_CPU_PER_GIB * (gib + 1),
			    .nofile = 64 },
		};
		/* The volume is raw; never probed. */
		const char *argv[] = { VOLSTORE_QEMU_IMG, "convert", "-f", "raw",
		    "-O", fmt, src, dst, NULL };
		struct proc_result r = { 0 };

		rc = proc_run(argv, &o, &r);
		proc_result_clear(&r);
	}
	if (rc == -1)
		(void)unlink(dst);
	return rc;
}
