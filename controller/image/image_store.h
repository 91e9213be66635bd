/*
 * image_store: the Image API's data files, one directory ([image]
 * store_path) holding one regular file per image, named by the image's
 * canonical UUID and nothing else (security §1.6: no name, path or
 * location ever comes from a client).
 *
 * Uploads stream into "<dir>/.<id>.part" (O_EXCL, 0600) while MD5 (the
 * Glance checksum), SHA-512 (os_hash_value) and the format inspector
 * (common/imgfmt) see every byte. The digests run on two threads of each
 * upload's own, fed through a ring of fixed buffers (2 MiB), so they
 * overlap with each other and with receiving and writing; memory per
 * upload is that ring, the inspector's bounded buffers and the hash
 * states, whatever the image size. Blocks of
 * zeros aligned to IMAGE_STORE_HOLE are not written, so a sparse image
 * stays sparse on disk (the bytes, sizes and hashes are those of the
 * stream). Finish fsyncs the file and reports the digests and inspection;
 * only commit renames it to "<dir>/<id>" (and fsyncs the directory), after
 * the caller has accepted the format, and queues the file's read-back into
 * the page cache (image_store_warm_wait()). Freeing an upload that was not
 * committed unlinks the temporary file, so a failed, refused or interrupted
 * upload leaves nothing behind. A crash mid-upload leaves a ".part" file
 * that image_store_clean() (run at start-up) removes.
 *
 * Limits are enforced while the bytes arrive, whatever the client
 * declared: the image size cap per upload, and the per-project quota
 * against the project's committed usage (given by the caller at begin,
 * from the database) plus the bytes every upload of that project currently
 * has in flight. Both fail the write with TS_ETOO_LARGE (413, as Glance
 * answers). The caller re-checks the quota against the database in the
 * transaction that activates the image, because usage committed by
 * another upload after this one began is not in `used`.
 *
 * Threads: the store may be used from any number of threads; an upload by
 * one thread at a time (an HTTP request's callbacks). An upload's hashing
 * threads start at begin and are joined by finish or free, whichever
 * comes first, on every path (end of stream, limit exceeded, write error,
 * client gone, server stopping); nothing of theirs outlives the upload.
 * The store's one warming thread starts with the first read-back and is
 * joined by image_store_free().
 */
#ifndef TS_IMAGE_STORE_H
#define TS_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgfmt.h"
#include "image_hash.h"

#define IMAGE_STORE_HOLE	4096	/* zero blocks skipped, file offsets */
#define IMAGE_SHA512_HEX_LEN	128
#define IMAGE_STORE_SIZE_UNKNOWN	UINT64_MAX

struct image_store_opts {
	const char	*path;		/* created 0700 if missing */
	uint64_t	 size_cap;	/* largest image, bytes; 0 = no cap */
	uint64_t	 project_quota;	/* bytes per project; 0 = unlimited */
	/* Tests: leave committed data out of the page cache (see
	 * image_store_warm_wait()). */
	bool		 no_warm;
};

struct image_store;
struct image_upload;

/* What a finished upload holds (valid until the upload is freed). */
struct image_upload_result {
	uint64_t		size;
	char			checksum[IMAGE_MD5_HEX_LEN + 1];	/* md5 */
	char			sha512[IMAGE_SHA512_HEX_LEN + 1];
	struct imgfmt_result	inspect;
};

/* Opens (creating, 0700) the directory. NULL with err set (TS_ECONFIG when
 * the path is unusable). The options are copied. */
struct image_store	*image_store_new(const struct image_store_opts *);
/* No upload may be open. Accepts NULL; clears the caller's pointer. */
void			 image_store_free(struct image_store **);

/* Remove every ".part" file (uploads a crash interrupted). Only at
 * start-up, before any upload begins. *removed (may be NULL) gets the
 * count. 0 or -1 (TS_EIO, the others are still tried). */
int	image_store_clean(struct image_store *, int *removed);

/*
 * Calls cb with the id of every committed data file (names that are
 * canonical UUIDs; anything else is left alone), for the start-up sweep of
 * files without an image. cb returns 0 to go on, -1 to stop (err set).
 */
int	image_store_each(struct image_store *,
	    int (*cb)(const char *image_id, void *arg), void *arg);

/*
 * Start an upload for image_id (a canonical UUID, else TS_EINVALID) owned
 * by project (NULL or "": not counted against any quota). used is the
 * project's committed usage in bytes. declared is the Content-Length, or
 * IMAGE_STORE_SIZE_UNKNOWN: a declared size over the cap or the quota is
 * refused at once (TS_ETOO_LARGE), before a byte is read. TS_ECONFLICT if
 * the temporary file already exists (another upload of the image is
 * running), TS_EIO on file errors. Returns an owned upload.
 */
struct image_upload	*image_store_upload_begin(struct image_store *,
			    const char *image_id, const char *project,
			    uint64_t used, uint64_t declared);
/* The next piece of the stream. -1 TS_ETOO_LARGE (cap or quota), TS_EIO;
 * after a failure only image_store_upload_free() may follow. */
int	image_store_upload_write(struct image_upload *, const void *buf, size_t len);
/*
 * End of stream: sizes the file, fsyncs it and fills *res (borrowed,
 * valid until the upload is freed). The file is still temporary.
 */
int	image_store_upload_finish(struct image_upload *,
	    const struct image_upload_result **res);
/* Rename the finished file to its final name and fsync the directory.
 * TS_ECONFLICT if a data file of that id already exists. */
int	image_store_upload_commit(struct image_upload *);
/* Bytes received so far. */
uint64_t image_store_upload_size(const struct image_upload *);
/* Unlinks the temporary file unless committed and releases the bytes
 * counted in flight. Accepts NULL; clears the caller's pointer. */
void	image_store_upload_free(struct image_upload **);

/*
 * Uploads write around the page cache; once committed, a store thread
 * reads an upload's file back into it (pread(), at nice 10) so the
 * first download is served from memory, as after a buffered write. Waits
 * until every read-back queued so far is done. For tests; returns at
 * once if nothing was ever queued.
 */
void	image_store_warm_wait(struct image_store *);

/* Bytes the uploads of project currently have in flight. */
uint64_t image_store_inflight(struct image_store *, const char *project);

/*
 * Open an image's committed data for reading: *fd (O_RDONLY, close-on-exec,
 * owned by the caller) and its size. TS_ENOT_FOUND when there is none.
 */
int	image_store_open(struct image_store *, const char *image_id, int *fd,
	    uint64_t *size);
/* Delete an image's data file; no file is not an error. */
int	image_store_remove(struct image_store *, const char *image_id);
/* Whether a committed data file exists. */
bool	image_store_exists(struct image_store *, const char *image_id);

#endif
