/*
 * image_blobs: the image data store (image_store.c) lent to another
 * service's blobs (volume backups), through image.h; see there.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "image.h"
#include "image_store.h"

struct image_store *
image_blobs_new(const char *dir)
{
	struct image_store_opts o = { .path = dir, .no_warm = true };
	struct image_store *st;

	if ((st = image_store_new(&o)) == NULL)
		return NULL;
	if (image_store_clean(st, NULL) == -1) {
		image_store_free(&st);
		return NULL;
	}
	return st;
}

void
image_blobs_free(struct image_store **sp)
{
	image_store_free(sp);
}

struct image_upload *
image_blobs_begin(struct image_store *st, const char *id, uint64_t declared)
{
	return image_store_upload_begin(st, id, NULL, 0, declared);
}

int
image_blobs_write(struct image_upload *up, const void *buf, size_t len)
{
	return image_store_upload_write(up, buf, len);
}

int
image_blobs_commit(struct image_upload *up, uint64_t *size, char sha512[129])
{
	const struct image_upload_result *r;

	if (image_store_upload_finish(up, &r) == -1 ||
	    image_store_upload_commit(up) == -1)
		return -1;
	*size = r->size;
	snprintf(sha512, 129, "%s", r->sha512);
	return 0;
}

void
image_blobs_upload_free(struct image_upload **up)
{
	image_store_upload_free(up);
}

int
image_blobs_open(struct image_store *st, const char *id, int *fd,
    uint64_t *size)
{
	return image_store_open(st, id, fd, size);
}

int
image_blobs_remove(struct image_store *st, const char *id)
{
	return image_store_remove(st, id);
}
