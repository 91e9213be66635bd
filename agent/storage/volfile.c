/* volfile: the file backend of the volume store; see volfile.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "proc.h"
#include "storage/volfile.h"
#include "uuid.h"

#define LIST_MAX	65536	/* entries read from the directory */
#define COPY_TIMEOUT_MS	(30 * 60 * 1000)

int
volfile_path(const char *dir, const char *id, bool snapshot, char *buf,
    size_t len)
{
	int n;

	if (!uuid_valid(id)) {
		err_set(TS_EINVALID, "volfile: '%s' is not a UUID", id);
		return -1;
	}
	n = snprintf(buf, len, "%s/%s-%s", dir,
	    snapshot ? "snapshot" : "volume", id);
	if (n < 0 || (size_t)n >= len) {
		err_set(TS_EINVALID, "volfile: path too long");
		return -1;
	}
	return 0;
}

int
volfile_list(const char *dir, struct volstore_item **items, size_t *n)
{
	struct volstore_item *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*items = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		err_set_errno(TS_EIO, "volfile: %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && cnt < LIST_MAX) {
		const char *id;
		bool snap;
		struct stat st;

		if (strncmp(de->d_name, "volume-", 7) == 0) {
			id = de->d_name + 7;
			snap = false;
		} else if (strncmp(de->d_name, "snapshot-", 9) == 0) {
			id = de->d_name + 9;
			snap = true;
		} else
			continue;
		if (!uuid_valid(id) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISREG(st.st_mode))
			continue;	/* not ours: left alone */
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				err_set(TS_ENOMEM, "volfile: out of memory");
				return -1;
			}
			v = nv;
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		snprintf(v[cnt].id, sizeof(v[cnt].id), "%s", id);
		v[cnt].snapshot = snap;
		v[cnt].size = (uint64_t)st.st_size;
		cnt++;
	}
	closedir(d);
	*items = v;
	*n = cnt;
	return 0;
}

int
volfile_capacity(const char *dir, uint64_t *total_b, uint64_t *free_b)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) == -1) {
		err_set_errno(TS_EIO, "volfile: statvfs %s", dir);
		return -1;
	}
	*total_b = (uint64_t)sv.f_blocks * sv.f_frsize;
	*free_b = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

int
volfile_create(const char *dir, const char *id, uint64_t bytes)
{
	char p[VOLSTORE_PATH_MAX];
	int fd;

	if (volfile_path(dir, id, false, p, sizeof(p)) == -1)
		return -1;
	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		err_set_errno(errno == EEXIST ? TS_ECONFLICT : TS_EIO,
		    "volfile: creating %s", p);
		return -1;
	}
	if (ftruncate(fd, (off_t)bytes) == -1) {
		err_set_errno(TS_EIO, "volfile: sizing %s", p);
		close(fd);
		unlink(p);
		return -1;
	}
	close(fd);
	return 0;
}

int
volfile_extend(const char *dir, const char *id, uint64_t bytes)
{
	char p[VOLSTORE_PATH_MAX];
	struct stat st;
	int fd, rc = 0;

	if (volfile_path(dir, id, false, p, sizeof(p)) == -1)
		return -1;
	if ((fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		err_set_errno(errno == ENOENT ? TS_ENOT_FOUND : TS_EIO,
		    "volfile: %s", p);
		return -1;
	}
	if (fstat(fd, &st) == -1 || ((uint64_t)st.st_size < bytes &&
	    ftruncate(fd, (off_t)bytes) == -1)) {
		err_set_errno(TS_EIO, "volfile: extending %s", p);
		rc = -1;
	}
	close(fd);
	return rc;
}

int
volfile_remove(const char *dir, const char *id, bool snapshot)
{
	char p[VOLSTORE_PATH_MAX];
	struct stat st;
	int fd;

	if (volfile_path(dir, id, snapshot, p, sizeof(p)) == -1)
		return -1;
	if ((fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 0;
		err_set_errno(TS_EIO, "volfile: %s", p);
		return -1;
	}
	/* The blocks go back to the file system deallocated (they read as
	 * zeroes to whoever gets them next); a file system without hole
	 * punching still frees them at the truncate. */
	if (fstat(fd, &st) == -1 || (st.st_size > 0 &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
	    st.st_size) == -1 && errno != EOPNOTSUPP) ||
	    ftruncate(fd, 0) == -1 || fsync(fd) == -1) {
		err_set_errno(TS_EIO, "volfile: wiping %s", p);
		close(fd);
		return -1;
	}
	close(fd);
	if (unlink(p) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "volfile: removing %s", p);
		return -1;
	}
	return 0;
}

int
volfile_snap_create(const char *dir, const char *snap_id, const char *vol_id)
{
	char src[VOLSTORE_PATH_MAX], dst[VOLSTORE_PATH_MAX];
	struct proc_opts o = { .timeout_ms = COPY_TIMEOUT_MS };
	struct proc_result r = { 0 };
	int fd, rc;

	if (volfile_path(dir, vol_id, false, src, sizeof(src)) == -1 ||
	    volfile_path(dir, snap_id, true, dst, sizeof(dst)) == -1)
		return -1;
	/* The copy goes into a file made here, 0600 and new, so that it is
	 * never anybody else's and never more readable than the volume. */
	if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		err_set_errno(errno == EEXIST ? TS_ECONFLICT : TS_EIO,
		    "volfile: creating %s", dst);
		return -1;
	}
	close(fd);
	{
		const char *argv[] = { "cp", "--reflink=auto",
		    "--sparse=always", "--", src, dst, NULL };

		rc = proc_run(argv, &o, &r);
	}
	proc_result_clear(&r);
	if (rc == -1) {
		unlink(dst);
		err_prefix("volfile: snapshot %s: ", snap_id);
		return -1;
	}
	return 0;
}
