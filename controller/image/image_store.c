/* image_store: image data files, streaming uploads; see image_store.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "err.h"
#include "image_store.h"
#include "log.h"
#include "uuid.h"

#define PART_SUFFIX	".part"
/* Bytes between writeback starts while an upload streams. */
#define FLUSH_EVERY	(32ULL * 1024 * 1024)
/* ".<uuid>.part" */
#define PART_NAME_MAX	(1 + CODEC_UUID_LEN + sizeof(PART_SUFFIX))

/* Read-back of committed data (see "warming" below). */
#define WARM_STEP	(1024 * 1024)	/* bytes per read */
#define WARM_QUEUE	8			/* files waiting, at most */

struct warm {
	int		 fd;		/* owned by the queue, then the thread */
	uint64_t	 size;
};

/* Bytes in flight for one project (uploads running). */
struct inflight {
	struct inflight	*next;
	char		*project;
	uint64_t	 bytes;
	unsigned	 uploads;
};

struct image_store {
	char		*path;
	int		 dirfd;
	uint64_t	 size_cap;
	uint64_t	 quota;
	pthread_mutex_t	 mu;		/* guards flights */
	struct inflight	*flights;
	/* The warming thread, started by the first committed upload that
	 * needs it and joined by image_store_free(). warm_mu guards the
	 * rest. */
	bool		 warm_off;
	pthread_mutex_t	 warm_mu;
	pthread_cond_t	 warm_cv;	/* queued, or quit */
	pthread_cond_t	 warm_idle;	/* queue empty and nothing running */
	struct warm	 warmq[WARM_QUEUE];
	unsigned	 warm_head, warm_len;
	bool		 warm_busy;	/* the thread holds one file */
	bool		 warm_quit;
	bool		 warm_started;
	pthread_t	 warm_th;
};


/* ---- warming committed data ---------------------------------------------- */

/*
 * Uploads write around the page cache (O_DIRECT, see direct_on()), so a
 * fresh image is not in memory and its first download would read the
 * disk and be the first to touch the new page-cache pages: on this VM
 * (free page reporting) the first CPU touch of a page the host took back
 * costs about 4 us, 1-2.5 s of the downloading side's system time per
 * GiB, on top of the disk (a first download took 2.3-2.6 s against 0.6 s
 * from the cache). Once an upload is committed, this thread reads the
 * file back with pread() into one reused buffer, at nice 10, so the pages
 * are filled and touched off every request's path (about 1 s of CPU per
 * GiB here, about a tenth of it where pages are not handed back) and the
 * image ends up cached as a buffered write would have left it. Filling
 * without touching (sendfile() to /dev/null, posix_fadvise's WILLNEED)
 * leaves that cost to the download. Holes are skipped. Best effort: at
 * most WARM_QUEUE files wait (the oldest is dropped), a file unlinked
 * meanwhile (image deleted) is abandoned at the next step, and a read
 * error ends that file's read-back: a download reads whatever is not
 * cached.
 */
static void
warm_file(struct image_store *st, uint8_t *buf, int fd, uint64_t size)
{
	struct stat sb;
	off_t off = 0, data, hole;
	size_t len;
	ssize_t n;
	bool quit;

	/* The kernel's readahead would run on into holes; the reads ahead
	 * are asked for here instead (WILLNEED on the next piece). */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	while ((uint64_t)off < size) {
		pthread_mutex_lock(&st->warm_mu);
		quit = st->warm_quit;
		pthread_mutex_unlock(&st->warm_mu);
		if (quit || fstat(fd, &sb) == -1 || sb.st_nlink == 0)
			break;
		/* Holes (zero blocks never written) are not read: no disk
		 * behind them, and no memory spent on their zeros. */
		if ((data = lseek(fd, off, SEEK_DATA)) == -1 ||
		    (hole = lseek(fd, data, SEEK_HOLE)) == -1)
			break;
		len = hole - data < WARM_STEP ? (size_t)(hole - data) :
		    WARM_STEP;
		if (hole - data > (off_t)len)
			(void)posix_fadvise(fd, data + (off_t)len,
			    hole - data - (off_t)len < WARM_STEP ?
			    hole - data - (off_t)len : WARM_STEP,
			    POSIX_FADV_WILLNEED);
		n = pread(fd, buf, len, data);
		if (n == -1 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			break;
		off = data + n;
	}
}

static void *
warm_main(void *arg)
{
	struct image_store *st = arg;
	struct warm w;
	uint8_t *buf;

	/* Behind the requests: the read-back is never urgent. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	/* Without it nothing is warmed: the queue is still drained. */
	if ((buf = malloc(WARM_STEP)) == NULL)
		log_warnx("image store: out of memory for the read-back; "
		    "fresh images are read from the disk");
	pthread_mutex_lock(&st->warm_mu);
	for (;;) {
		while (st->warm_len == 0 && !st->warm_quit) {
			st->warm_busy = false;
			pthread_cond_broadcast(&st->warm_idle);
			pthread_cond_wait(&st->warm_cv, &st->warm_mu);
		}
		if (st->warm_quit)
			break;
		w = st->warmq[st->warm_head];
		st->warm_head = (st->warm_head + 1) % WARM_QUEUE;
		st->warm_len--;
		st->warm_busy = true;
		pthread_mutex_unlock(&st->warm_mu);
		if (buf != NULL)
			warm_file(st, buf, w.fd, w.size);
		close(w.fd);
		pthread_mutex_lock(&st->warm_mu);
	}
	st->warm_busy = false;
	pthread_cond_broadcast(&st->warm_idle);
	pthread_mutex_unlock(&st->warm_mu);
	free(buf);
	return NULL;
}

/* Queue fd (owned: closed here on every path) for the read-back. */
static void
warm_queue(struct image_store *st, int fd, uint64_t size)
{
	int drop = -1;

	pthread_mutex_lock(&st->warm_mu);
	if (!st->warm_started) {
		if (pthread_create(&st->warm_th, NULL, warm_main, st) != 0) {
			pthread_mutex_unlock(&st->warm_mu);
			log_warnx("image store: cannot start the warming "
			    "thread; fresh images are read from the disk");
			close(fd);
			return;
		}
		(void)pthread_setname_np(st->warm_th, "image-warm");
		st->warm_started = true;
	}
	if (st->warm_len == WARM_QUEUE) {
		drop = st->warmq[st->warm_head].fd;
		st->warm_head = (st->warm_head + 1) % WARM_QUEUE;
		st->warm_len--;
	}
	st->warmq[(st->warm_head + st->warm_len) % WARM_QUEUE] =
	    (struct warm){ .fd = fd, .size = size };
	st->warm_len++;
	pthread_cond_signal(&st->warm_cv);
	pthread_mutex_unlock(&st->warm_mu);
	if (drop != -1)
		close(drop);
}

/* Stop and join the thread; close what is still queued. */
static void
warm_stop(struct image_store *st)
{
	pthread_mutex_lock(&st->warm_mu);
	st->warm_quit = true;
	pthread_cond_broadcast(&st->warm_cv);
	pthread_mutex_unlock(&st->warm_mu);
	if (st->warm_started)
		pthread_join(st->warm_th, NULL);
	st->warm_started = false;
	for (; st->warm_len > 0; st->warm_len--) {
		close(st->warmq[st->warm_head].fd);
		st->warm_head = (st->warm_head + 1) % WARM_QUEUE;
	}
}

void
image_store_warm_wait(struct image_store *st)
{
	pthread_mutex_lock(&st->warm_mu);
	while (st->warm_started && (st->warm_len > 0 || st->warm_busy))
		pthread_cond_wait(&st->warm_idle, &st->warm_mu);
	pthread_mutex_unlock(&st->warm_mu);
}

struct image_store *
image_store_new(const struct image_store_opts *o)
{
	struct image_store *st;
	struct stat sb;

	if (o->path == NULL || *o->path == '\0') {
		err_set(TS_ECONFIG, "image store: no store_path");
		return NULL;
	}
	if (mkdir(o->path, 0700) == -1 && errno != EEXIST) {
		err_set_errno(TS_ECONFIG, "image store: mkdir %s", o->path);
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(o->path)) == NULL) {
		free(st);
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	st->dirfd = open(o->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd == -1) {
		err_set_errno(TS_ECONFIG, "image store: open %s", o->path);
		goto fail;
	}
	if (fstat(st->dirfd, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		err_set(TS_ECONFIG, "image store: %s is not a directory",
		    o->path);
		goto fail;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		/* Another user could plant or swap image files. */
		err_set(TS_ECONFIG, "image store: %s is writable by group or "
		    "others", o->path);
		goto fail;
	}
	st->size_cap = o->size_cap;
	st->quota = o->project_quota;
	st->warm_off = o->no_warm;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->warm_mu, NULL);
	pthread_cond_init(&st->warm_cv, NULL);
	pthread_cond_init(&st->warm_idle, NULL);
	return st;
fail:
	if (st->dirfd > 0)
		close(st->dirfd);
	free(st->path);
	free(st);
	return NULL;
}

void
image_store_free(struct image_store **sp)
{
	struct image_store *st;
	struct inflight *f, *n;

	if (sp == NULL || (st = *sp) == NULL)
		return;
	warm_stop(st);
	for (f = st->flights; f != NULL; f = n) {
		n = f->next;
		free(f->project);
		free(f);
	}
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->warm_mu);
	pthread_cond_destroy(&st->warm_cv);
	pthread_cond_destroy(&st->warm_idle);
	close(st->dirfd);
	free(st->path);
	free(st);
	*sp = NULL;
}

static bool
is_part_name(const char *n)
{
	size_t l = strlen(n);

	return l == PART_NAME_MAX - 1 && n[0] == '.' &&
	    strcmp(n + 1 + CODEC_UUID_LEN, PART_SUFFIX) == 0;
}

/* A copy of the directory stream, so the store's fd keeps its offset. */
static DIR *
open_dir(struct image_store *st)
{
	int fd;
	DIR *d;

	if ((fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		err_set_errno(TS_EIO, "image store: %s", st->path);
		return NULL;
	}
	if ((d = fdopendir(fd)) == NULL) {
		err_set_errno(TS_EIO, "image store: %s", st->path);
		close(fd);
	}
	return d;
}

int
image_store_clean(struct image_store *st, int *removed)
{
	struct dirent *de;
	DIR *d;
	int n = 0, rc = 0;

	if ((d = open_dir(st)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!is_part_name(de->d_name))
			continue;
		if (unlinkat(st->dirfd, de->d_name, 0) == -1) {
			if (rc == 0)
				err_set_errno(TS_EIO, "image store: unlink "
				    "%s/%s", st->path, de->d_name);
			rc = -1;
			continue;
		}
		log_info("image store: removed interrupted upload %s",
		    de->d_name);
		n++;
	}
	closedir(d);
	if (removed != NULL)
		*removed = n;
	return rc;
}

int
image_store_each(struct image_store *st,
    int (*cb)(const char *, void *), void *arg)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = open_dir(st)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!uuid_valid(de->d_name))
			continue;
		if ((rc = cb(de->d_name, arg)) != 0)
			break;
	}
	closedir(d);
	return rc == 0 ? 0 : -1;
}

/* ---- quota accounting --------------------------------------------------- */

/* The project's entry, created with one more upload; NULL on ENOMEM. */
static struct inflight *
flight_join(struct image_store *st, const char *project)
{
	struct inflight *f;

	pthread_mutex_lock(&st->mu);
	for (f = st->flights; f != NULL; f = f->next)
		if (strcmp(f->project, project) == 0)
			break;
	if (f == NULL && (f = calloc(1, sizeof(*f))) != NULL) {
		if ((f->project = strdup(project)) == NULL) {
			free(f);
			f = NULL;
		} else {
			f->next = st->flights;
			st->flights = f;
		}
	}
	if (f != NULL)
		f->uploads++;
	pthread_mutex_unlock(&st->mu);
	if (f == NULL)
		err_set(TS_ENOMEM, "out of memory");
	return f;
}

static void
flight_leave(struct image_store *st, struct inflight *f, uint64_t bytes)
{
	struct inflight **pp;

	pthread_mutex_lock(&st->mu);
	f->bytes -= bytes;
	if (--f->uploads == 0) {
		for (pp = &st->flights; *pp != f; pp = &(*pp)->next)
			;
		*pp = f->next;
		free(f->project);
		free(f);
	}
	pthread_mutex_unlock(&st->mu);
}

uint64_t
image_store_inflight(struct image_store *st, const char *project)
{
	struct inflight *f;
	uint64_t b = 0;

	pthread_mutex_lock(&st->mu);
	for (f = st->flights; f != NULL; f = f->next)
		if (strcmp(f->project, project) == 0)
			b = f->bytes;
	pthread_mutex_unlock(&st->mu);
	return b;
}

static void
quota_error(const struct image_store *st, uint64_t used, uint64_t want)
{
	err_set(TS_ETOO_LARGE, "Denying attempt to upload image because it "
	    "exceeds the quota: The size of the data %llu will exceed the "
	    "limit. %lld bytes remaining.", (unsigned long long)want,
	    used >= st->quota ? 0LL : (long long)(st->quota - used));
}

static void
cap_error(const struct image_store *st)
{
	err_set(TS_ETOO_LARGE, "The provided image is too large: the image "
	    "size cap is %llu bytes.", (unsigned long long)st->size_cap);
}

/* ---- the hashing threads ------------------------------------------------ */

/*
 * MD5 (about 700 MB/s per CPU second here) and SHA-512 (about 1000 MB/s,
 * GnuTLS's) are most of an upload's CPU time, and neither can be split
 * within one stream. So each upload runs two threads of its own, one per
 * digest (the MD5 one also feeds the inspector), while the request's
 * thread only copies the bytes MHD hands it into a ring of RING_SLOTS
 * buffers and writes each full slot to the file: receiving, writing and
 * the two digests overlap on every core there is. The ring is the only
 * copy of data an upload keeps, so memory stays bounded; the producer
 * waits when every slot is still wanted by one of the threads, and a slot
 * is reused only when both are done with it.
 *
 * Slots hold SLOT_SIZE bytes at SLOT_SIZE-aligned offsets of the stream
 * (only the last may be short), so every write is one large pwrite (or a
 * few around zero blocks) at a hole-aligned offset, whatever sizes the
 * client's chunks come in.
 */
#define RING_SLOTS	8
#define SLOT_SIZE	(256 * 1024)	/* a multiple of IMAGE_STORE_HOLE */

enum { W_MD5, W_SHA512, NWORKERS };

struct ring {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv_data;	/* published grew, eof or quit */
	pthread_cond_t		 cv_space;	/* a worker finished a slot */
	uint8_t			*buf;		/* RING_SLOTS * SLOT_SIZE */
	size_t			 len[RING_SLOTS];
	uint64_t		 published;	/* slots handed to the workers */
	uint64_t		 done[NWORKERS];	/* slots each has finished */
	bool			 eof;		/* no more slots will come */
	bool			 quit;		/* abandoned: stop now */
};

struct worker {
	struct image_upload	*up;
	unsigned		 which;
	pthread_t		 th;
	bool			 running;	/* created, not yet joined */
};

struct image_upload {
	struct image_store	*st;
	char			 id[CODEC_UUID_LEN + 1];
	char			 part[PART_NAME_MAX];
	int			 fd;
	uint64_t		 used;		/* project's committed usage */
	uint64_t		 off;		/* bytes received */
	uint64_t		 flushed;	/* writeback started up to */
	/* The file takes O_DIRECT writes (see direct_on()). */
	bool			 direct;
	bool			 uncached;	/* some went around the cache */
	struct inflight		*flight;	/* NULL: not counted */
	struct ring		 ring;
	uint8_t			*slot;		/* the producer's slot, or NULL */
	size_t			 fill;		/* bytes in it */
	struct worker		 workers[NWORKERS];
	/* Touched only by the workers until they are joined. */
	struct image_md5	 md5;		/* W_MD5 */
	struct imgfmt		*insp;		/* W_MD5 */
	struct image_sha512	 sha;		/* W_SHA512 */
	bool			 failed;
	bool			 finished;
	bool			 committed;
	struct image_upload_result res;
};

static void
work_slot(struct image_upload *up, unsigned which, const uint8_t *p,
    size_t len)
{
	if (which == W_MD5) {
		image_hash_md5_update(&up->md5, p, len);
		/* Fails only when fed after finish or past 2^64 bytes,
		 * neither of which the store does. */
		(void)imgfmt_feed(up->insp, p, len);
	} else
		image_hash_sha512_update(&up->sha, p, len);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct image_upload *up = w->up;
	struct ring *r = &up->ring;
	uint64_t seq;
	unsigned slot;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->done[w->which] == r->published && !r->eof &&
		    !r->quit)
			pthread_cond_wait(&r->cv_data, &r->mu);
		if (r->quit || r->done[w->which] == r->published)
			break;
		seq = r->done[w->which];
		slot = (unsigned)(seq % RING_SLOTS);
		/* The slot stays unfinished while it is read, so the
		 * producer cannot refill it. */
		pthread_mutex_unlock(&r->mu);
		work_slot(up, w->which, r->buf + (size_t)slot * SLOT_SIZE,
		    r->len[slot]);
		pthread_mutex_lock(&r->mu);
		r->done[w->which] = seq + 1;
		pthread_cond_signal(&r->cv_space);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Stop the workers: after the slots published so far are done (finish),
 * or at once (abandon). Joins every one that runs; safe to call twice. */
static void
workers_stop(struct image_upload *up, bool abandon)
{
	struct ring *r = &up->ring;
	unsigned i;

	pthread_mutex_lock(&r->mu);
	if (abandon)
		r->quit = true;
	r->eof = true;
	pthread_cond_broadcast(&r->cv_data);
	pthread_mutex_unlock(&r->mu);
	for (i = 0; i < NWORKERS; i++) {
		if (!up->workers[i].running)
			continue;
		pthread_join(up->workers[i].th, NULL);
		up->workers[i].running = false;
	}
}

/*
 * Writes go around the page cache (O_DIRECT) where the file system takes
 * it: on this VM, filling 1 GiB of fresh page-cache pages cost 2.3-3.1 s
 * of system time in some rounds (the host handing pages back after free
 * page reporting), half an upload's budget, and nothing reads the file
 * before it is complete. Every write is DIRECT_ALIGN-aligned in memory,
 * offset and length but the last, short one, which goes through the page
 * cache (buffered_from()); a file system that refuses O_DIRECT (tmpfs at
 * fcntl, others at the first write) gets buffered writes.
 */
#define DIRECT_ALIGN	4096	/* IMAGE_STORE_HOLE: offsets are its multiples */
_Static_assert(IMAGE_STORE_HOLE % DIRECT_ALIGN == 0 &&
    SLOT_SIZE % DIRECT_ALIGN == 0, "O_DIRECT alignment of the writes");

static bool
direct_on(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl != -1 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
}

static void
buffered_from(struct image_upload *up)
{
	int fl = fcntl(up->fd, F_GETFL);

	if (fl != -1)
		(void)fcntl(up->fd, F_SETFL, fl & ~O_DIRECT);
	up->direct = false;
}

static int
workers_start(struct image_upload *up)
{
	static const char *names[NWORKERS] = { "image-md5", "image-sha512" };
	struct ring *r = &up->ring;
	unsigned i;

	/* Aligned for O_DIRECT: slots start at multiples of DIRECT_ALIGN. */
	if (posix_memalign((void **)&r->buf, DIRECT_ALIGN,
	    (size_t)RING_SLOTS * SLOT_SIZE) != 0) {
		r->buf = NULL;
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv_data, NULL);
	pthread_cond_init(&r->cv_space, NULL);
	for (i = 0; i < NWORKERS; i++) {
		up->workers[i].up = up;
		up->workers[i].which = i;
		if (pthread_create(&up->workers[i].th, NULL, worker_main,
		    &up->workers[i]) != 0) {
			err_set(TS_EINTERNAL, "image store: cannot start a "
			    "hashing thread");
			return -1;	/* the caller frees, joining the others */
		}
		up->workers[i].running = true;
		(void)pthread_setname_np(up->workers[i].th, names[i]);
	}
	return 0;
}

/* Wait for a free slot and make it the producer's. */
static void
slot_take(struct image_upload *up)
{
	struct ring *r = &up->ring;
	uint64_t oldest;
	unsigned i;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		oldest = r->done[0];
		for (i = 1; i < NWORKERS; i++)
			if (r->done[i] < oldest)
				oldest = r->done[i];
		if (r->published - oldest < RING_SLOTS)
			break;
		pthread_cond_wait(&r->cv_space, &r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	/* Unpublished: only this thread touches it until slot_give. */
	up->slot = r->buf + (size_t)(r->published % RING_SLOTS) * SLOT_SIZE;
	up->fill = 0;
}

/* Hand the producer's slot to the workers; it stays readable (nobody
 * writes it) until the producer takes it again RING_SLOTS slots later. */
static void
slot_give(struct image_upload *up)
{
	struct ring *r = &up->ring;

	pthread_mutex_lock(&r->mu);
	r->len[r->published % RING_SLOTS] = up->fill;
	r->published++;
	pthread_cond_broadcast(&r->cv_data);
	pthread_mutex_unlock(&r->mu);
}

/* ---- uploads -------------------------------------------------------------- */

struct image_upload *
image_store_upload_begin(struct image_store *st, const char *id,
    const char *project, uint64_t used, uint64_t declared)
{
	struct image_upload *up;
	uint64_t others;

	if (!uuid_valid(id)) {
		err_set(TS_EINVALID, "image store: bad image id");
		return NULL;
	}
	if (declared != IMAGE_STORE_SIZE_UNKNOWN) {
		if (st->size_cap != 0 && declared > st->size_cap) {
			cap_error(st);
			return NULL;
		}
		if (st->quota != 0 && project != NULL && *project != '\0') {
			others = image_store_inflight(st, project);
			if (used + others + declared > st->quota ||
			    used + others + declared < declared) {
				quota_error(st, used + others, declared);
				return NULL;
			}
		}
	}
	if ((up = calloc(1, sizeof(*up))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	up->st = st;
	up->fd = -1;
	up->used = used;
	memcpy(up->id, id, CODEC_UUID_LEN + 1);
	snprintf(up->part, sizeof(up->part), ".%s%s", id, PART_SUFFIX);
	image_hash_md5_init(&up->md5);
	if (image_hash_sha512_init(&up->sha) == -1 ||
	    (up->insp = imgfmt_new()) == NULL)
		goto fail;
	if (st->quota != 0 && project != NULL && *project != '\0' &&
	    (up->flight = flight_join(st, project)) == NULL)
		goto fail;
	up->fd = openat(st->dirfd, up->part, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (up->fd == -1) {
		if (errno == EEXIST)
			err_set(TS_ECONFLICT, "an upload of image %s is "
			    "already in progress", id);
		else
			err_set_errno(TS_EIO, "image store: create %s/%s",
			    st->path, up->part);
		up->committed = true;	/* not ours to unlink */
		goto fail;
	}
	up->direct = direct_on(up->fd);
	if (workers_start(up) == -1)
		goto fail;
	return up;
fail:
	image_store_upload_free(&up);
	return NULL;
}

static int
pwrite_all(struct image_upload *up, const uint8_t *p, size_t n, uint64_t off)
{
	ssize_t w;

	if (up->direct && n % DIRECT_ALIGN != 0) {
		size_t head = n - n % DIRECT_ALIGN;

		if (head > 0 && pwrite_all(up, p, head, off) == -1)
			return -1;
		buffered_from(up);
		p += head;
		n -= head;
		off += head;
	}
	while (n > 0) {
		w = pwrite(up->fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EINVAL && up->direct) {
				buffered_from(up);
				continue;
			}
			err_set_errno(TS_EIO, "image store: write %s/%s",
			    up->st->path, up->part);
			return -1;
		}
		if (up->direct)
			up->uncached = true;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	/* A non-zero first byte ends it at once for ordinary data. */
	return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/*
 * Write len bytes of p at file offset off (hole-aligned), leaving whole
 * blocks of zeros as holes (the file is new, so holes read back as zeros,
 * and finish sizes it); runs of data go out in one pwrite. A short last
 * block is written unless it is all zeros.
 */
static int
write_blocks(struct image_upload *up, const uint8_t *p, size_t len,
    uint64_t off)
{
	size_t i, n, run = 0;

	for (i = 0; i < len; i += IMAGE_STORE_HOLE) {
		n = len - i < IMAGE_STORE_HOLE ? len - i : IMAGE_STORE_HOLE;
		if (!all_zero(p + i, n))
			continue;
		if (i > run && pwrite_all(up, p + run, i - run, off + run) ==
		    -1)
			return -1;
		run = i + n;
	}
	if (len > run && pwrite_all(up, p + run, len - run, off + run) == -1)
		return -1;
	return 0;
}

/* Publish the producer's slot and write it to the file. */
static int
slot_flush(struct image_upload *up)
{
	uint64_t off = up->ring.published * SLOT_SIZE, end;
	const uint8_t *p = up->slot;
	size_t len = up->fill;

	/* The workers read the slot while it is written: both only read. */
	slot_give(up);
	up->slot = NULL;
	if (write_blocks(up, p, len, off) == -1)
		return -1;
	end = off + len;
	if (!up->direct && end - up->flushed >= FLUSH_EVERY) {
		/* Start writing back what is written so far, and wait for
		 * the window before it: the disk works while the stream
		 * goes on, the final fsync has little left to do, and dirty
		 * pages stay bounded. Failures show up at fsync. */
		if (up->flushed >= FLUSH_EVERY)
			(void)sync_file_range(up->fd,
			    (off_t)(up->flushed - FLUSH_EVERY), FLUSH_EVERY,
			    SYNC_FILE_RANGE_WAIT_BEFORE |
			    SYNC_FILE_RANGE_WRITE |
			    SYNC_FILE_RANGE_WAIT_AFTER);
		(void)sync_file_range(up->fd, (off_t)up->flushed,
		    (off_t)(end - up->flushed), SYNC_FILE_RANGE_WRITE);
		up->flushed = end;
	}
	return 0;
}

int
image_store_upload_write(struct image_upload *up, const void *buf, size_t len)
{
	struct image_store *st = up->st;
	const uint8_t *p = buf;
	uint64_t total, mine;
	size_t n;

	if (up->failed || up->finished) {
		err_set(TS_EINVALID, "image store: write after %s",
		    up->failed ? "a failure" : "finish");
		return -1;
	}
	if (len == 0)
		return 0;
	if (st->size_cap != 0 && (up->off + len > st->size_cap ||
	    up->off + len < up->off)) {
		up->failed = true;
		cap_error(st);
		return -1;
	}
	if (up->flight != NULL) {
		pthread_mutex_lock(&st->mu);
		up->flight->bytes += len;
		total = up->flight->bytes;
		pthread_mutex_unlock(&st->mu);
		if (up->used + total > st->quota) {
			up->failed = true;
			mine = up->off + len;
			/* Counted now, released by free. */
			up->off += len;
			quota_error(st, up->used + total - mine, mine);
			return -1;
		}
	}
	up->off += len;
	while (len > 0) {
		if (up->slot == NULL)
			slot_take(up);
		n = SLOT_SIZE - up->fill;
		if (n > len)
			n = len;
		memcpy(up->slot + up->fill, p, n);
		up->fill += n;
		p += n;
		len -= n;
		if (up->fill == SLOT_SIZE && slot_flush(up) == -1) {
			up->failed = true;
			return -1;
		}
	}
	return 0;
}

uint64_t
image_store_upload_size(const struct image_upload *up)
{
	return up->off;
}

int
image_store_upload_finish(struct image_upload *up,
    const struct image_upload_result **res)
{
	uint8_t md[IMAGE_MD5_LEN], sh[IMAGE_SHA512_LEN];

	if (up->failed || up->finished) {
		err_set(TS_EINVALID, "image store: finish after %s",
		    up->failed ? "a failure" : "finish");
		return -1;
	}
	up->finished = true;
	if (up->slot != NULL && up->fill > 0 && slot_flush(up) == -1) {
		up->failed = true;
		return -1;
	}
	/* The workers hash the last slots while the disk syncs. */
	if (ftruncate(up->fd, (off_t)up->off) == -1 || fsync(up->fd) == -1) {
		err_set_errno(TS_EIO, "image store: sync %s/%s", up->st->path,
		    up->part);
		up->failed = true;
		return -1;
	}
	workers_stop(up, false);
	image_hash_md5_final(&up->md5, md);
	if (image_hash_sha512_final(&up->sha, sh) == -1) {
		up->failed = true;
		return -1;
	}
	image_hash_hex(md, sizeof(md), up->res.checksum);
	image_hash_hex(sh, sizeof(sh), up->res.sha512);
	up->res.size = up->off;
	if (imgfmt_finish(up->insp, &up->res.inspect) == -1) {
		up->failed = true;
		return -1;
	}
	*res = &up->res;
	return 0;
}

int
image_store_upload_commit(struct image_upload *up)
{
	struct image_store *st = up->st;

	if (!up->finished || up->failed || up->committed) {
		err_set(TS_EINVALID, "image store: commit of an unfinished "
		    "upload");
		return -1;
	}
	if (faccessat(st->dirfd, up->id, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		err_set(TS_ECONFLICT, "image %s already has data", up->id);
		return -1;
	}
	if (renameat(st->dirfd, up->part, st->dirfd, up->id) == -1) {
		err_set_errno(TS_EIO, "image store: rename %s/%s", st->path,
		    up->part);
		return -1;
	}
	up->committed = true;
	if (fsync(st->dirfd) == -1) {
		/* The data is in place; only the name's durability is in
		 * doubt, and a lost name is swept at start-up. */
		log_warn("image store: fsync %s", st->path);
	}
	/* Buffered writes (tmpfs, a refused O_DIRECT) left it cached. */
	if (up->uncached && !st->warm_off) {
		/* Opened anew: up->fd's O_DIRECT would read around the
		 * cache. */
		int fd = openat(st->dirfd, up->id, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC);

		if (fd != -1)
			warm_queue(st, fd, up->off);
	}
	return 0;
}

void
image_store_upload_free(struct image_upload **upp)
{
	struct image_upload *up;

	if (upp == NULL || (up = *upp) == NULL)
		return;
	if (up->ring.buf != NULL) {
		/* Before anything the workers use goes away. */
		workers_stop(up, true);
		pthread_mutex_destroy(&up->ring.mu);
		pthread_cond_destroy(&up->ring.cv_data);
		pthread_cond_destroy(&up->ring.cv_space);
		free(up->ring.buf);
	}
	if (up->fd != -1) {
		close(up->fd);
		if (!up->committed && unlinkat(up->st->dirfd, up->part, 0) ==
		    -1 && errno != ENOENT)
			log_warn("image store: unlink %s/%s", up->st->path,
			    up->part);
	}
	if (up->flight != NULL)
		flight_leave(up->st, up->flight, up->off);
	imgfmt_free(&up->insp);
	image_hash_sha512_clear(&up->sha);
	free(up);
	*upp = NULL;
}

/* ---- committed data ------------------------------------------------------- */

int
image_store_open(struct image_store *st, const char *id, int *fdp,
    uint64_t *size)
{
	struct stat sb;
	int fd;

	if (!uuid_valid(id)) {
		err_set(TS_ENOT_FOUND, "no data for image");
		return -1;
	}
	fd = openat(st->dirfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			err_set(TS_ENOT_FOUND, "no data for image %s", id);
		else
			err_set_errno(TS_EIO, "image store: open %s/%s",
			    st->path, id);
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		err_set(TS_EIO, "image store: %s/%s is not a regular file",
		    st->path, id);
		close(fd);
		return -1;
	}
	*fdp = fd;
	*size = (uint64_t)sb.st_size;
	return 0;
}

int
image_store_remove(struct image_store *st, const char *id)
{
	if (!uuid_valid(id)) {
		err_set(TS_EINVALID, "image store: bad image id");
		return -1;
	}
	if (unlinkat(st->dirfd, id, 0) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "image store: unlink %s/%s", st->path,
		    id);
		return -1;
	}
	return 0;
}

bool
image_store_exists(struct image_store *st, const char *id)
{
	return uuid_valid(id) &&
	    faccessat(st->dirfd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}
