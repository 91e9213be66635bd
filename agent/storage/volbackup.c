/* volbackup: volume backups and restores of the storage worker; see
 * volbackup.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "image/imgcache.h"
#include "log.h"
#include "storage/volbackup.h"
#include "storage/volstore.h"

#define DONE_MAX	1024	/* schema maximum of host_storage.backups */

struct done {
	char	id[37];
	bool	restore, ok;
	char	msg[512];
};

struct volbackup {
	char		 host[256];
	struct done	*done;
	size_t		 n, cap;
};

struct volbackup *
volbackup_new(const char *host)
{
	struct volbackup *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		err_set(TS_ENOMEM, "volbackup: out of memory");
		return NULL;
	}
	snprintf(b->host, sizeof(b->host), "%s", host);
	return b;
}

void
volbackup_free(struct volbackup **bp)
{
	if (bp == NULL || *bp == NULL)
		return;
	free((*bp)->done);
	free(*bp);
	*bp = NULL;
}

static struct done *
done_find(struct volbackup *b, const char *id, bool restore)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->done[i].restore == restore &&
		    strcmp(b->done[i].id, id) == 0)
			return &b->done[i];
	return NULL;
}

static struct imgcache_http *
client(struct volbackup *b, const struct sch_sto_backup *op)
{
	struct imgcache_http *h;

	if (op->data_url == NULL || op->token == NULL) {
		err_set(TS_EINVALID, "no data URL or capability");
		return NULL;
	}
	if ((h = imgcache_http_new(op->data_url, NULL, 0)) == NULL)
		return NULL;
	if (imgcache_http_set_host(h, b->host) == -1) {
		imgcache_http_free(&h);
		return NULL;
	}
	return h;
}

/* A regular file only (the file backend): the upload sizes the body
 * from fstat(), which says 0 for a block device. */
static int
regular(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		err_set_errno(TS_EIO, "%s", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(TS_ENOT_IMPLEMENTED, "backups of block device volumes "
		    "are not supported yet");
		return -1;
	}
	return 0;
}

static int
do_backup(struct volbackup *b, struct volstore *vs,
    const struct sch_sto_backup *op)
{
	struct imgcache_http *h = NULL;
	char path[4096], urlpath[128];
	int rc = -1;

	/* Of a snapshot the user named: its file as it is. */
	if (op->snapshot_id != NULL && *op->snapshot_id != '\0') {
		snprintf(urlpath, sizeof(urlpath), "/v3/backup-data/%s",
		    op->id);
		if (volstore_path(vs, op->snapshot_id, true, path,
		    sizeof(path)) == -1 || regular(path) == -1 ||
		    (h = client(b, op)) == NULL)
			return -1;
		rc = imgcache_http_upload_path(h, urlpath, op->token, path);
		imgcache_http_free(&h);
		return rc;
	}
	/* A snapshot a crashed run left goes first. */
	if (volstore_snap_remove(vs, op->id) == -1 ||
	    volstore_snap_create(vs, op->id, op->volume_id) == -1)
		return -1;
	if (volstore_path(vs, op->id, true, path, sizeof(path)) == -1 ||
	    regular(path) == -1 || (h = client(b, op)) == NULL)
		goto out;
	snprintf(urlpath, sizeof(urlpath), "/v3/backup-data/%s", op->id);
	rc = imgcache_http_upload_path(h, urlpath, op->token, path);
out:
	imgcache_http_free(&h);
	if (volstore_snap_remove(vs, op->id) == -1)
		log_warnx("backup %s: removing its snapshot: %s", op->id,
		    err_msg());
	return rc;
}

#define HOLE	4096

static bool
zero(const char *p, size_t n)
{
	return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

struct fill {
	int				 fd;
	uint64_t			 bytes, max;
	crypto_hash_sha512_state	 sha;
};

static int
fill_sink(const void *buf, size_t len, void *arg)
{
	struct fill *f = arg;
	const char *p = buf;
	size_t off = 0;

	if (len > f->max - f->bytes) {
		err_set(TS_ETOO_LARGE, "more data than the backup holds");
		return -1;
	}
	crypto_hash_sha512_update(&f->sha, buf, len);
	while (off < len) {
		off_t at = (off_t)(f->bytes + off);
		size_t n = len - off;
		ssize_t w;

		/* A block of zeros at a block boundary becomes a hole: a
		 * volume stays sparse, and reads as zeros all the same. */
		if (at % HOLE == 0 && n >= HOLE && zero(p + off, HOLE)) {
			if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE |
			    FALLOC_FL_KEEP_SIZE, at, HOLE) == 0) {
				off += HOLE;
				continue;
			}
			n = HOLE;	/* no holes here: written */
		} else if (at % HOLE != 0 && n > HOLE - (size_t)(at % HOLE))
			n = HOLE - (size_t)(at % HOLE);
		else if (n > HOLE)
			n = HOLE;
		w = pwrite(f->fd, p + off, n, at);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			err_set_errno(TS_EIO, "writing the volume");
			return -1;
		}
		off += (size_t)w;
	}
	f->bytes += len;
	return 0;
}

static int
do_restore(struct volbackup *b, struct volstore *vs,
    const struct sch_sto_backup *op)
{
	struct imgcache_http *h = NULL;
	struct fill f = { .fd = -1 };
	unsigned char md[crypto_hash_sha512_BYTES];
	char path[4096], urlpath[128], hex[2 * crypto_hash_sha512_BYTES + 1];
	int rc = -1;

	if (!op->has_size || op->sha512 == NULL) {
		err_set(TS_EINVALID, "no size or SHA-512 for the restore");
		return -1;
	}
	if (volstore_path(vs, op->volume_id, false, path, sizeof(path)) ==
	    -1 || regular(path) == -1 || (h = client(b, op)) == NULL)
		goto out;
	if ((f.fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		err_set_errno(TS_EIO, "%s", path);
		goto out;
	}
	f.max = op->size;
	crypto_hash_sha512_init(&f.sha);
	snprintf(urlpath, sizeof(urlpath), "/v3/backup-data/%s", op->id);
	if (imgcache_http_fetch_path(h, urlpath, op->token, fill_sink, &f) ==
	    -1)
		goto out;
	crypto_hash_sha512_final(&f.sha, md);
	sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
	if (f.bytes != op->size || strcmp(hex, op->sha512) != 0) {
		err_set(TS_EIO, "the backup's data does not match its size "
		    "and SHA-512 (%" PRIu64 " bytes received)", f.bytes);
		goto out;
	}
	if (fdatasync(f.fd) == -1) {
		err_set_errno(TS_EIO, "%s", path);
		goto out;
	}
	rc = 0;
out:
	if (f.fd != -1)
		close(f.fd);
	imgcache_http_free(&h);
	return rc;
}

int
volbackup_run(struct volbackup *b, struct volstore *vs,
    const struct msg_host_storage *m, struct msg_host_storage_state *st)
{
	size_t n = m->backups.n, k = 0;

	/* Forget what is no longer asked for. */
	for (size_t i = 0; i < b->n; i++) {
		bool named = false;

		for (size_t j = 0; j < n && !named; j++)
			named = m->backups.items[j].restore ==
			    b->done[i].restore && strcmp(m->backups.items[j].id,
			    b->done[i].id) == 0;
		if (named)
			b->done[k++] = b->done[i];
	}
	b->n = k;
	if (n == 0)
		return 0;
	if (n > DONE_MAX)
		n = DONE_MAX;
	if ((st->backups.items = calloc(n, sizeof(*st->backups.items))) ==
	    NULL) {
		err_set(TS_ENOMEM, "volbackup: out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sch_sto_backup *op = &m->backups.items[i];
		struct sch_sto_backup_status *o;
		struct done *d = done_find(b, op->id, op->restore);

		if (d == NULL) {
			if (b->n == b->cap) {
				size_t nc = b->cap ? b->cap * 2 : 8;
				void *nv = realloc(b->done, nc * sizeof(*d));

				if (nv == NULL) {
					err_set(TS_ENOMEM, "volbackup: out of "
					    "memory");
					return -1;
				}
				b->done = nv;
				b->cap = nc;
			}
			d = &b->done[b->n++];
			memset(d, 0, sizeof(*d));
			memcpy(d->id, op->id, sizeof(d->id));
			d->restore = op->restore;
			log_info("%s %s of volume %s", op->restore ?
			    "restore of backup" : "backup", op->id,
			    op->volume_id);
			d->ok = (op->restore ? do_restore(b, vs, op) :
			    do_backup(b, vs, op)) == 0;
			if (!d->ok) {
				snprintf(d->msg, sizeof(d->msg), "%s",
				    err_msg());
				log_warnx("%s %s: %s", op->restore ?
				    "restore of backup" : "backup", op->id,
				    d->msg);
			} else
				log_info("%s %s: done", op->restore ?
				    "restore of backup" : "backup", op->id);
		}
		o = &st->backups.items[st->backups.n++];
		memcpy(o->id, d->id, sizeof(o->id));
		o->restore = d->restore;
		o->done = true;
		o->ok = d->ok;
		if (!d->ok && (o->message = strdup(d->msg)) == NULL) {
			err_set(TS_ENOMEM, "volbackup: out of memory");
			return -1;
		}
	}
	return 0;
}
