/*
 * image_db: image and member records and their indexes (image.h). Every
 * function runs inside the caller's transaction; writers keep a record and
 * its index entries in the same transaction, so they never disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "image_int.h"
#include "log.h"
#include "uuid.h"

/* "<image_id>/<member_id>" */
#define MEMBER_KEY_MAX	(CODEC_UUID_LEN + 1 + 255 + 1)

int
image_db_get(struct store_txn *txn, const char *id, struct rec_image *img)
{
	memset(img, 0, sizeof(*img));
	if (!uuid_valid(id)) {
		err_set(TS_ENOT_FOUND, "No image found with ID %s", id);
		return -1;
	}
	if (db_rec_get(txn, T_IMAGES, id, &schema_rec_image, img) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "No image found with ID %s",
			    id);
		return -1;
	}
	return 0;
}

static bool
has_owner(const struct rec_image *img)
{
	return img != NULL && img->owner != NULL && *img->owner != '\0';
}

int
image_db_put(struct store_txn *txn, const struct rec_image *img,
    const struct rec_image *old)
{
	if (db_rec_put(txn, T_IMAGES, img->id, &schema_rec_image, img,
	    old == NULL ? STORE_NOOVERWRITE : 0) == -1) {
		if (err_code() == TS_ECONFLICT)
			err_set(TS_ECONFLICT, "Image with identifier %s "
			    "already exists!", img->id);
		return -1;
	}
	if (has_owner(old) && (!has_owner(img) ||
	    strcmp(old->owner, img->owner) != 0) &&
	    store_index_del(txn, T_IMAGES_BY_OWNER, old->owner,
	    strlen(old->owner), old->id, strlen(old->id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	if (has_owner(img) && store_index_put(txn, T_IMAGES_BY_OWNER,
	    img->owner, strlen(img->owner), img->id, strlen(img->id)) == -1)
		return -1;
	return 0;
}

/* Member keys of one image, collected before deleting (no writes while
 * iterating a table). */
struct key_list {
	char	**v;
	size_t	  n;
};

static int
collect_key(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct key_list *kl_ = arg;
	char **nv, *s;

	if ((nv = realloc(kl_->v, (kl_->n + 1) * sizeof(*nv))) == NULL ||
	    (s = strndup(k, kl)) == NULL) {
		if (nv != NULL)
			kl_->v = nv;
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	kl_->v = nv;
	kl_->v[kl_->n++] = s;
	return 0;
}

static void
key_list_clear(struct key_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
image_db_delete(struct store_txn *txn, const struct rec_image *img)
{
	struct key_list keys = { NULL, 0 };
	char prefix[CODEC_UUID_LEN + 2];
	const char *member;
	size_t i;
	int rc = -1;

	if (store_del(txn, T_IMAGES, img->id, strlen(img->id)) == -1)
		return -1;
	if (has_owner(img) && store_index_del(txn, T_IMAGES_BY_OWNER,
	    img->owner, strlen(img->owner), img->id, strlen(img->id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	snprintf(prefix, sizeof(prefix), "%s/", img->id);
	if (store_iter(txn, T_IMAGE_MEMBERS, prefix, strlen(prefix),
	    collect_key, &keys) == -1)
		goto out;
	for (i = 0; i < keys.n; i++) {
		member = keys.v[i] + strlen(prefix);
		if (store_del(txn, T_IMAGE_MEMBERS, keys.v[i],
		    strlen(keys.v[i])) == -1)
			goto out;
		if (store_index_del(txn, T_IMAGE_MEMBERS_BY_MEMBER, member,
		    strlen(member), img->id, strlen(img->id)) == -1 &&
		    err_code() != TS_ENOT_FOUND)
			goto out;
	}
	rc = 0;
out:
	key_list_clear(&keys);
	return rc;
}

struct each_image {
	int	(*cb)(const struct rec_image *, void *);
	void	*arg;
};

static int
each_image(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct each_image *e = arg;
	struct rec_image img;
	int rc;

	memset(&img, 0, sizeof(img));
	if (codec_record_decode(&schema_rec_image, v, vl, &img, NULL) == -1) {
		/* One unreadable record must not hide the others. */
		log_warnx("images: skipping undecodable record %.*s: %s",
		    (int)(kl > 64 ? 64 : kl), (const char *)k, err_msg());
		return 0;
	}
	rc = e->cb(&img, e->arg);
	codec_clear(&schema_rec_image, &img);
	return rc;
}

int
image_db_each(struct store_txn *txn,
    int (*cb)(const struct rec_image *, void *), void *arg)
{
	struct each_image e = { cb, arg };

	return store_iter(txn, T_IMAGES, NULL, 0, each_image, &e);
}

struct usage {
	struct store_txn	*txn;
	const char		*except;
	uint64_t		 bytes;
};

static int
add_usage(const void *pk, size_t pklen, void *arg)
{
	struct usage *u = arg;
	char id[CODEC_UUID_LEN + 1];
	struct rec_image img;

	if (pklen != CODEC_UUID_LEN)
		return 0;
	memcpy(id, pk, pklen);
	id[pklen] = '\0';
	if (u->except != NULL && strcmp(id, u->except) == 0)
		return 0;
	if (image_db_get(u->txn, id, &img) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (img.has_size)
		u->bytes += img.size;
	codec_clear(&schema_rec_image, &img);
	return 0;
}

int
image_db_usage(struct store_txn *txn, const char *owner, const char *except,
    uint64_t *bytes)
{
	struct usage u = { txn, except, 0 };

	*bytes = 0;
	if (owner == NULL || *owner == '\0')
		return 0;
	if (store_index_iter(txn, T_IMAGES_BY_OWNER, owner, strlen(owner),
	    add_usage, &u) == -1)
		return -1;
	*bytes = u.bytes;
	return 0;
}

/* ---- members --------------------------------------------------------------- */

static int
member_key(char *buf, const char *image_id, const char *member_id)
{
	size_t ml = strlen(member_id);

	if (ml == 0 || ml > 255 || strchr(member_id, '/') != NULL) {
		err_set(TS_ENOT_FOUND, "%s is not a member of image %s",
		    member_id, image_id);
		return -1;
	}
	snprintf(buf, MEMBER_KEY_MAX, "%s/%s", image_id, member_id);
	return 0;
}

int
image_db_member_get(struct store_txn *txn, const char *image_id,
    const char *member_id, struct rec_image_member *m)
{
	char key[MEMBER_KEY_MAX];

	memset(m, 0, sizeof(*m));
	if (member_key(key, image_id, member_id) == -1)
		return -1;
	if (db_rec_get(txn, T_IMAGE_MEMBERS, key, &schema_rec_image_member,
	    m) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "%s is not a member of image "
			    "%s", member_id, image_id);
		return -1;
	}
	return 0;
}

int
image_db_member_put(struct store_txn *txn, const struct rec_image_member *m,
    int flags)
{
	char key[MEMBER_KEY_MAX];

	if (member_key(key, m->image_id, m->member_id) == -1)
		return -1;
	if (db_rec_put(txn, T_IMAGE_MEMBERS, key, &schema_rec_image_member, m,
	    flags) == -1) {
		if (err_code() == TS_ECONFLICT)
			err_set(TS_ECONFLICT, "The target member %s is "
			    "already associated with image %s.",
			    m->member_id, m->image_id);
		return -1;
	}
	return store_index_put(txn, T_IMAGE_MEMBERS_BY_MEMBER, m->member_id,
	    strlen(m->member_id), m->image_id, strlen(m->image_id));
}

int
image_db_member_delete(struct store_txn *txn, const char *image_id,
    const char *member_id)
{
	char key[MEMBER_KEY_MAX];

	if (member_key(key, image_id, member_id) == -1)
		return -1;
	if (store_del(txn, T_IMAGE_MEMBERS, key, strlen(key)) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "%s is not a member of image "
			    "%s", member_id, image_id);
		return -1;
	}
	if (store_index_del(txn, T_IMAGE_MEMBERS_BY_MEMBER, member_id,
	    strlen(member_id), image_id, strlen(image_id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

struct each_member {
	int	(*cb)(const struct rec_image_member *, void *);
	void	*arg;
	size_t	 n;
};

static int
each_member(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct each_member *e = arg;
	struct rec_image_member m;
	int rc;

	e->n++;
	if (e->cb == NULL)
		return 0;
	memset(&m, 0, sizeof(m));
	if (codec_record_decode(&schema_rec_image_member, v, vl, &m,
	    NULL) == -1) {
		log_warnx("image_members: skipping undecodable record: %s",
		    err_msg());
		return 0;
	}
	rc = e->cb(&m, e->arg);
	codec_clear(&schema_rec_image_member, &m);
	return rc;
}

int
image_db_member_each(struct store_txn *txn, const char *image_id,
    int (*cb)(const struct rec_image_member *, void *), void *arg)
{
	struct each_member e = { cb, arg, 0 };
	char prefix[CODEC_UUID_LEN + 2];

	snprintf(prefix, sizeof(prefix), "%s/", image_id);
	return store_iter(txn, T_IMAGE_MEMBERS, prefix, strlen(prefix),
	    each_member, &e);
}

int
image_db_member_count(struct store_txn *txn, const char *image_id, size_t *n)
{
	struct each_member e = { NULL, NULL, 0 };
	char prefix[CODEC_UUID_LEN + 2];

	snprintf(prefix, sizeof(prefix), "%s/", image_id);
	if (store_iter(txn, T_IMAGE_MEMBERS, prefix, strlen(prefix),
	    each_member, &e) == -1)
		return -1;
	*n = e.n;
	return 0;
}

/* ---- visibility ------------------------------------------------------------ */

int
image_db_visible(struct store_txn *txn, const struct image_viewer *v,
    const struct rec_image *img, bool *member, char *member_status)
{
	struct rec_image_member m;
	bool is_member = false;

	if (member != NULL)
		*member = false;
	if (v->project_id != NULL && *v->project_id != '\0' &&
	    strcmp(img->visibility, "shared") == 0) {
		if (image_db_member_get(txn, img->id, v->project_id, &m) == 0) {
			is_member = true;
			if (member != NULL)
				*member = true;
			if (member_status != NULL)
				snprintf(member_status, 16, "%s", m.status);
			codec_clear(&schema_rec_image_member, &m);
		} else if (err_code() != TS_ENOT_FOUND) {
			return -1;
		}
	}
	if (v->admin || is_member)
		return 1;
	if (strcmp(img->visibility, "public") == 0 ||
	    strcmp(img->visibility, "community") == 0)
		return 1;
	if (has_owner(img) && v->project_id != NULL &&
	    strcmp(img->owner, v->project_id) == 0)
		return 1;
	return 0;
}
