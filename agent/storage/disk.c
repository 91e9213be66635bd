/*
 * disk: instance disks through qemu-img and common/proc; see disk.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "proc.h"
#include "storage/disk.h"
#include "uuid.h"

#define GIB		(1024ull * 1024 * 1024)
#define MIB		(1024ull * 1024)
#define NOFILE_LIMIT	64
/* Per GiB of data copied: CPU seconds and wall-clock milliseconds. */
#define COPY_CPU_PER_GIB	30
#define COPY_MS_PER_GIB		60000
#define COPY_BASE_MS		120000
/* Directory depth disk_instance_dir_remove() descends (Nova's layout is
 * flat; a config drive's work tree is three levels). */
#define REMOVE_DEPTH	8

/* Formats a base image may have (qemu driver names of the formats the
 * image cache lets through; luks needs a key and is not offered). */
static const char *const base_formats[] = { "raw", "qcow2", "vmdk", "vpc",
    "vhdx", "vdi", NULL };
static const char *const disk_formats[] = { "raw", "qcow2", NULL };

const char *const disk_qemu_img_env[] = { "MALLOC_ARENA_MAX=2", NULL };

static bool
one_of(const char *s, const char *const *set)
{
	if (s == NULL)
		return false;
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static int
check_path(const char *what, const char *p)
{
	if (p == NULL || p[0] != '/') {
		err_set(TS_EINVALID, "disk: %s must be an absolute path", what);
		return -1;
	}
	if (strlen(p) >= DISK_PATH_MAX) {
		err_set(TS_EINVALID, "disk: %s is too long", what);
		return -1;
	}
	for (const char *c = p; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			err_set(TS_EINVALID, "disk: %s holds a control character",
			    what);
			return -1;
		}
	}
	return 0;
}

/* The file must not exist yet: disks are never overwritten. */
static int
check_absent(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		err_set(TS_ECONFLICT, "disk: %s already exists", path);
		return -1;
	}
	if (errno != ENOENT) {
		err_set_errno(TS_EIO, "disk: stat %s", path);
		return -1;
	}
	return 0;
}

static uint64_t
gib_ceil(uint64_t bytes)
{
	return bytes / GIB + (bytes % GIB != 0);
}

/* Runs qemu-img with the module's limits; fsize is the largest file it
 * may write. res is cleared unless the caller wants it (out != NULL). */
static int
qemu_img(const char *const argv[], uint64_t fsize, uint64_t cpu_sec,
    unsigned timeout_ms, struct proc_result *out)
{
	struct proc_opts o = {
		.env = disk_qemu_img_env,
		.timeout_ms = timeout_ms,
		.new_pgroup = true,
		.limits = {
			.cpu_sec = cpu_sec,
			.as_bytes = DISK_AS_LIMIT,
			.fsize_bytes = fsize,
			.nofile = NOFILE_LIMIT,
		},
	};
	struct proc_result res = { 0 };
	int r;

	r = proc_run(argv, &o, &res);
	if (out != NULL && r == 0)
		*out = res;
	else
		proc_result_clear(&res);
	return r;
}

int
disk_root_create(const char *path, const char *base_path,
    const char *base_format, uint64_t base_vsize, uint64_t size,
    enum disk_root_mode mode)
{
	char sz[32];

	if (check_path("disk path", path) == -1 ||
	    check_path("base image path", base_path) == -1)
		return -1;
	if (!one_of(base_format, base_formats)) {
		err_set(TS_EINVALID, "disk: unsupported base image format '%s'",
		    base_format ? base_format : "");
		return -1;
	}
	if (base_vsize == 0 || base_vsize > DISK_SIZE_MAX ||
	    size > DISK_SIZE_MAX) {
		err_set(TS_EINVALID, "disk: image or disk size out of range");
		return -1;
	}
	if (size != 0 && size < base_vsize) {
		err_set(TS_EINVALID, "disk: flavor root disk (%" PRIu64
		    " bytes) is smaller than the image (%" PRIu64 " bytes)",
		    size, base_vsize);
		return -1;
	}
	if (mode != DISK_ROOT_OVERLAY && mode != DISK_ROOT_RAW_COPY) {
		err_set(TS_EINVALID, "disk: unknown root disk mode");
		return -1;
	}
	if (check_absent(path) == -1)
		return -1;
	snprintf(sz, sizeof(sz), "%" PRIu64, size);

	if (mode == DISK_ROOT_OVERLAY) {
		const char *argv[] = { DISK_QEMU_IMG, "create", "-f", "qcow2",
		    "-F", base_format, "-b", base_path, path,
		    size ? sz : NULL, NULL };

		if (qemu_img(argv, DISK_QCOW2_FSIZE, DISK_CPU_LIMIT,
		    DISK_TIMEOUT_MS, NULL) == -1)
			goto fail;
		return 0;
	} else {
		uint64_t gib = gib_ceil(base_vsize);
		const char *conv[] = { DISK_QEMU_IMG, "convert", "-f",
		    base_format, "-O", "raw", base_path, path, NULL };
		const char *grow[] = { DISK_QEMU_IMG, "resize", "-f", "raw",
		    path, sz, NULL };

		if (qemu_img(conv, base_vsize + MIB,
		    DISK_CPU_LIMIT + COPY_CPU_PER_GIB * gib,
		    (unsigned)(COPY_BASE_MS + COPY_MS_PER_GIB * gib),
		    NULL) == -1)
			goto fail;
		if (size > base_vsize &&
		    qemu_img(grow, size + MIB, DISK_CPU_LIMIT,
		    DISK_TIMEOUT_MS, NULL) == -1)
			goto fail;
		return 0;
	}
fail:
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("disk: removing %s after a failure", path);
	return -1;
}

int
disk_snapshot_copy(const char *path, const char *format, uint64_t vsize,
    const char *dst)
{
	uint64_t gib;

	if (check_path("disk path", path) == -1 ||
	    check_path("snapshot path", dst) == -1)
		return -1;
	if (!one_of(format, disk_formats)) {
		err_set(TS_EINVALID, "disk: unsupported disk format '%s'",
		    format ? format : "");
		return -1;
	}
	if (vsize == 0 || vsize > DISK_SIZE_MAX) {
		err_set(TS_EINVALID, "disk: disk size out of range");
		return -1;
	}
	if (check_absent(dst) == -1)
		return -1;
	gib = gib_ceil(vsize);
	{
		/* -U: the running guest's qemu holds the image lock; the
		 * caller pauses the guest around the copy. The backing chain
		 * is read through (its formats are recorded in the overlay)
		 * and merged: the result has no backing file. */
		const char *argv[] = { DISK_QEMU_IMG, "convert", "-U", "-f",
		    format, "-O", "qcow2", path, dst, NULL };

		if (qemu_img(argv, vsize + DISK_QCOW2_FSIZE,
		    DISK_CPU_LIMIT + COPY_CPU_PER_GIB * gib,
		    (unsigned)(COPY_BASE_MS + COPY_MS_PER_GIB * gib),
		    NULL) == -1) {
			if (unlink(dst) == -1 && errno != ENOENT)
				log_warn("disk: removing %s after a failure",
				    dst);
			return -1;
		}
	}
	return 0;
}

int
disk_blank_create(const char *path, const char *format, uint64_t size)
{
	char sz[32];
	const char *argv[] = { DISK_QEMU_IMG, "create", "-f", format, path, sz,
	    NULL };
	bool raw;

	if (check_path("disk path", path) == -1)
		return -1;
	if (!one_of(format, disk_formats)) {
		err_set(TS_EINVALID, "disk: blank disks are raw or qcow2, not "
		    "'%s'", format ? format : "");
		return -1;
	}
	if (size == 0 || size > DISK_SIZE_MAX) {
		err_set(TS_EINVALID, "disk: size out of range");
		return -1;
	}
	if (check_absent(path) == -1)
		return -1;
	raw = strcmp(format, "raw") == 0;
	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	if (qemu_img(argv, raw ? size + MIB : DISK_QCOW2_FSIZE,
	    DISK_CPU_LIMIT, DISK_TIMEOUT_MS, NULL) == -1) {
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("disk: removing %s after a failure", path);
		return -1;
	}
	return 0;
}

int
disk_grow(const char *path, const char *format, uint64_t size)
{
	struct disk_info di;
	char sz[32];
	const char *argv[] = { DISK_QEMU_IMG, "resize", "-f", format, path, sz,
	    NULL };

	if (!one_of(format, disk_formats)) {
		err_set(TS_EINVALID, "disk: only raw and qcow2 disks are grown");
		return -1;
	}
	if (size == 0 || size > DISK_SIZE_MAX) {
		err_set(TS_EINVALID, "disk: size out of range");
		return -1;
	}
	if (disk_info(path, format, &di) == -1)
		return -1;
	if (size < di.virtual_size) {
		err_set(TS_EINVALID, "disk: %s is %" PRIu64 " bytes; disks are "
		    "never shrunk (asked %" PRIu64 ")", path, di.virtual_size,
		    size);
		return -1;
	}
	if (size == di.virtual_size)
		return 0;
	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	return qemu_img(argv, strcmp(format, "raw") == 0 ? size + MIB :
	    DISK_QCOW2_FSIZE, DISK_CPU_LIMIT, DISK_TIMEOUT_MS, NULL);
}

int
disk_copy(const char *path, const char *dst, uint64_t size)
{
	const char *argv[] = { "cp", "--sparse=always", "--reflink=auto",
	    "--", path, dst, NULL };
	uint64_t gib = size / GIB + 1;
	struct proc_opts o = {
		.timeout_ms = (unsigned)(COPY_BASE_MS + COPY_MS_PER_GIB * gib),
		.new_pgroup = true,
		.limits = {
			.cpu_sec = DISK_CPU_LIMIT + COPY_CPU_PER_GIB * gib,
			.fsize_bytes = size + MIB,
			.nofile = NOFILE_LIMIT,
		},
	};
	struct proc_result res = { 0 };
	int r;

	if (check_path("disk path", path) == -1 ||
	    check_path("copy path", dst) == -1 || check_absent(dst) == -1)
		return -1;
	if (size == 0 || size > DISK_SIZE_MAX) {
		err_set(TS_EINVALID, "disk: size out of range");
		return -1;
	}
	r = proc_run(argv, &o, &res);
	proc_result_clear(&res);
	if (r == -1)
		unlink(dst);
	return r;
}

static int
get_size(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int
get_text(json_t *o, const char *key, char *out, size_t len)
{
	json_t *j = json_object_get(o, key);
	const char *s;

	out[0] = '\0';
	if (j == NULL)
		return 0;
	if (!json_is_string(j) || strlen(s = json_string_value(j)) >= len)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static uint64_t
be_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int k = 0; k < 8; k++)
		v = v << 8 | p[k];
	return v;
}

static uint32_t
be_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

int
disk_backing_file(const char *path, char *out, size_t outlen)
{
	/* qcow2 header: magic, version, backing_file_offset (u64 at 8),
	 * backing_file_size (u32 at 16), cluster_bits (u32 at 20). qemu
	 * keeps the name inside the first cluster, at most 1023 bytes. */
	unsigned char h[24];
	uint64_t off;
	uint32_t len, version, cbits;
	ssize_t n;
	int fd, rc = -1;

	if (outlen == 0 || check_path("disk path", path) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		err_set_errno(TS_EIO, "disk: %s", path);
		return -1;
	}
	if ((n = pread(fd, h, sizeof(h), 0)) == -1) {
		err_set_errno(TS_EIO, "disk: %s", path);
		goto out;
	}
	version = n == (ssize_t)sizeof(h) ? be_u32(h + 4) : 0;
	if (n != (ssize_t)sizeof(h) || memcmp(h, "QFI\xfb", 4) != 0 ||
	    (version != 2 && version != 3)) {
		err_set(TS_EDECODE, "disk: %s is not a qcow2 v2/v3 image", path);
		goto out;
	}
	off = be_u64(h + 8);
	len = be_u32(h + 16);
	cbits = be_u32(h + 20);
	if (off == 0) {
		out[0] = '\0';
		rc = 0;
		goto out;
	}
	if (cbits < 9 || cbits > 21 || len == 0 || len > 1023 ||
	    len >= outlen || off > (1ull << cbits) - len) {
		err_set(TS_EDECODE, "disk: %s: backing file name out of "
		    "bounds", path);
		goto out;
	}
	if ((n = pread(fd, out, len, (off_t)off)) == -1) {
		err_set_errno(TS_EIO, "disk: %s", path);
		goto out;
	}
	if (n != (ssize_t)len || memchr(out, '\0', len) != NULL) {
		err_set(TS_EDECODE, "disk: %s: backing file name truncated "
		    "or not text", path);
		goto out;
	}
	out[len] = '\0';
	rc = 1;
out:
	close(fd);
	return rc;
}

int
disk_info(const char *path, const char *format, struct disk_info *di)
{
	/* -U: the disk may be open in a running guest (qemu holds a write
	 * lock); reading its header does not need the lock. */
	const char *argv[] = { DISK_QEMU_IMG, "info", "-f", format, "-U",
	    "--output=json", path, NULL };
	struct proc_result res = { 0 };
	json_error_t jerr;
	json_t *o;
	int r = 0;

	memset(di, 0, sizeof(*di));
	if (check_path("disk path", path) == -1)
		return -1;
	if (!one_of(format, base_formats)) {
		err_set(TS_EINVALID, "disk: unsupported format '%s'",
		    format ? format : "");
		return -1;
	}
	if (qemu_img(argv, MIB, DISK_CPU_LIMIT, DISK_TIMEOUT_MS, &res) == -1)
		return -1;
	o = json_loadb(res.out, res.out_len, 0, &jerr);
	proc_result_clear(&res);
	if (!json_is_object(o) ||
	    get_text(o, "format", di->format, sizeof(di->format)) == -1 ||
	    get_size(o, "virtual-size", &di->virtual_size) == -1 ||
	    get_text(o, "backing-filename", di->backing_file,
	    sizeof(di->backing_file)) == -1 ||
	    get_text(o, "backing-filename-format", di->backing_format,
	    sizeof(di->backing_format)) == -1) {
		err_set(TS_EDECODE, "disk: unexpected qemu-img info output for "
		    "%s", path);
		r = -1;
	} else {
		/* actual-size is absent on some filesystems */
		if (get_size(o, "actual-size", &di->actual_size) == -1)
			di->actual_size = 0;
		di->has_backing = di->backing_file[0] != '\0';
	}
	json_decref(o);
	return r;
}

int
disk_instance_path(char *buf, size_t len, const char *instances_path,
    const char *uuid, const char *file)
{
	int n;

	if (check_path("instances_path", instances_path) == -1)
		return -1;
	if (!uuid_valid(uuid)) {
		err_set(TS_EINVALID, "disk: instance id is not a canonical UUID");
		return -1;
	}
	if (file != NULL && (file[0] == '\0' || strchr(file, '/') != NULL ||
	    strcmp(file, ".") == 0 || strcmp(file, "..") == 0)) {
		err_set(TS_EINVALID, "disk: '%s' is not a plain file name",
		    file);
		return -1;
	}
	n = file ? snprintf(buf, len, "%s/%s/%s", instances_path, uuid, file) :
	    snprintf(buf, len, "%s/%s", instances_path, uuid);
	if (n < 0 || (size_t)n >= len) {
		err_set(TS_EINVALID, "disk: instance path is too long");
		return -1;
	}
	return 0;
}

int
disk_instance_dir_create(const char *instances_path, const char *uuid)
{
	char dir[DISK_PATH_MAX];
	struct stat st;

	if (disk_instance_path(dir, sizeof(dir), instances_path, uuid,
	    NULL) == -1)
		return -1;
	if (mkdir(dir, 0755) == -1) {
		if (errno != EEXIST) {
			err_set_errno(TS_EIO, "disk: mkdir %s", dir);
			return -1;
		}
		if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
			err_set(TS_ECONFLICT, "disk: %s exists and is not a "
			    "directory", dir);
			return -1;
		}
		return 0;
	}
	/* mkdir obeys the umask; qemu (another user) must traverse. */
	if (chmod(dir, 0755) == -1) {
		err_set_errno(TS_EIO, "disk: chmod %s", dir);
		return -1;
	}
	return 0;
}

/* Empties the directory open at dfd (closed here), never following links. */
static int
empty_dir(int dfd, const char *where, int depth)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (depth > REMOVE_DEPTH) {
		close(dfd);
		err_set(TS_EIO, "disk: %s is nested too deeply to remove", where);
		return -1;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		err_set_errno(TS_EIO, "disk: open %s", where);
		return -1;
	}
	while (r == 0 && (errno = 0, e = readdir(d)) != NULL) {
		struct stat st;
		int sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;
			err_set_errno(TS_EIO, "disk: stat %s/%s", where,
			    e->d_name);
			r = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1) {
				err_set_errno(TS_EIO, "disk: open %s/%s", where,
				    e->d_name);
				r = -1;
				break;
			}
			if (empty_dir(sub, where, depth + 1) == -1) {
				r = -1;
				break;
			}
			if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == -1 &&
			    errno != ENOENT) {
				err_set_errno(TS_EIO, "disk: rmdir %s/%s", where,
				    e->d_name);
				r = -1;
			}
		} else if (unlinkat(dirfd(d), e->d_name, 0) == -1 &&
		    errno != ENOENT) {
			err_set_errno(TS_EIO, "disk: unlink %s/%s", where,
			    e->d_name);
			r = -1;
		}
	}
	if (r == 0 && errno != 0) {
		err_set_errno(TS_EIO, "disk: read %s", where);
		r = -1;
	}
	closedir(d);
	return r;
}

int
disk_instance_dir_remove(const char *instances_path, const char *uuid)
{
	char dir[DISK_PATH_MAX];
	int pfd, dfd;

	if (disk_instance_path(dir, sizeof(dir), instances_path, uuid,
	    NULL) == -1)
		return -1;
	pfd = open(instances_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd == -1) {
		if (errno == ENOENT)
			return 0;
		err_set_errno(TS_EIO, "disk: open %s", instances_path);
		return -1;
	}
	dfd = openat(pfd, uuid, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd == -1) {
		int e = errno;

		if (e == ENOENT) {
			close(pfd);
			return 0;
		}
		/* A symlink or a plain file under our name: remove the name
		 * itself, never what it points to. */
		if ((e == ELOOP || e == ENOTDIR) &&
		    unlinkat(pfd, uuid, 0) == 0) {
			close(pfd);
			return 0;
		}
		errno = e;
		err_set_errno(TS_EIO, "disk: open %s", dir);
		close(pfd);
		return -1;
	}
	if (empty_dir(dfd, dir, 0) == -1) {
		close(pfd);
		return -1;
	}
	if (unlinkat(pfd, uuid, AT_REMOVEDIR) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "disk: rmdir %s", dir);
		close(pfd);
		return -1;
	}
	close(pfd);
	return 0;
}
