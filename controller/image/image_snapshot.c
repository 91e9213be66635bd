/*
 * image_snapshot: the images of server snapshots and backups (Nova's
 * createImage and createBackup), as compute asks for them: a queued image
 * with Nova's properties made in compute's write transaction, the image
 * of a failed snapshot discarded, and the rotation of a server's backups.
 * The data arrives later through PUT /v2/images/{id}/file with the
 * agent's upload capability (image.c), like any upload.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "image_int.h"
#include "image_store.h"
#include "log.h"

static int
prop_add(struct ts_strmap *m, const char *k, const char *v)
{
	struct ts_strmap_ent *n;

	if (v == NULL)
		return 0;
	for (size_t j = 0; j < m->n; j++) {
		if (strcmp(m->items[j].k, k) == 0) {
			char *s = strdup(v);

			if (s == NULL)
				goto nomem;
			free(m->items[j].v);
			m->items[j].v = s;
			return 0;
		}
	}
	if (m->n >= IMAGE_PROPERTY_MAX) {
		err_set(TS_ETOO_LARGE, "Maximum number of image properties "
		    "exceeded");
		return -1;
	}
	if ((n = realloc(m->items, (m->n + 1) * sizeof(*n))) == NULL)
		goto nomem;
	m->items = n;
	n[m->n].k = strdup(k);
	n[m->n].v = strdup(v);
	if (n[m->n].k == NULL || n[m->n].v == NULL) {
		free(n[m->n].k);
		free(n[m->n].v);
		goto nomem;
	}
	m->n++;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static int
dup_to(char **dst, const char *s)
{
	if (s == NULL)
		return 0;
	if ((*dst = strdup(s)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int
image_snapshot_create(struct store_txn *txn,
    const struct image_snapshot_req *r, int64_t now, char id[37])
{
	struct rec_image img;
	int rc = -1;

	memset(&img, 0, sizeof(img));
	db_uuid(img.id);
	if (dup_to(&img.name, r->name) == -1 ||
	    dup_to(&img.status, "queued") == -1 ||
	    dup_to(&img.visibility, "private") == -1 ||
	    dup_to(&img.owner, r->project_id) == -1 ||
	    dup_to(&img.disk_format, r->disk_format) == -1 ||
	    dup_to(&img.container_format, r->container_format) == -1)
		goto out;
	img.min_disk = r->min_disk;
	img.min_ram = r->min_ram;
	/* Nova's properties first, then what the user gave, which wins
	 * (Nova's _create_image() updates its properties with the request's
	 * metadata, and _initialize_instance_snapshot_metadata() lets them
	 * take precedence: createImage's metadata {"image_type": "test"} is
	 * the image's image_type). */
	if (prop_add(&img.properties, "image_type", r->backup_type ?
	    "backup" : "snapshot") == -1 ||
	    prop_add(&img.properties, "instance_uuid", r->instance_uuid) ==
	    -1 || prop_add(&img.properties, "user_id", r->user_id) == -1 ||
	    prop_add(&img.properties, "base_image_ref", r->base_image_ref ?
	    r->base_image_ref : "") == -1 ||
	    prop_add(&img.properties, "backup_type", r->backup_type) == -1 ||
	    prop_add(&img.properties, "kernel_id", r->kernel_id) == -1 ||
	    prop_add(&img.properties, "ramdisk_id", r->ramdisk_id) == -1 ||
	    prop_add(&img.properties, "os_command_line", r->os_command_line) ==
	    -1)
		goto out;
	for (size_t k = 0; r->metadata != NULL && k < r->metadata->n; k++)
		if (prop_add(&img.properties, r->metadata->items[k].k,
		    r->metadata->items[k].v) == -1)
			goto out;
	/* but a backup's type is the request's (Nova's createBackup puts
	 * backup_type over the metadata) */
	if (prop_add(&img.properties, "backup_type", r->backup_type) == -1)
		goto out;
	img.created_at = img.updated_at = now;
	if (image_db_put(txn, &img, NULL) == -1)
		goto out;
	snprintf(id, 37, "%s", img.id);
	rc = 0;
out:
	codec_clear(&schema_rec_image, &img);
	return rc;
}

/* ---- after a snapshot: discard and rotation (own transactions) ---------- */

struct gone {
	char	(*ids)[37];
	size_t	  n, cap;
};

static int
gone_add(struct gone *g, const char *id)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		char (*n)[37] = realloc(g->ids, cap * sizeof(*n));

		if (n == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		g->ids = n;
		g->cap = cap;
	}
	snprintf(g->ids[g->n++], 37, "%s", id);
	return 0;
}

/* Data files go after the commit (an upload still streaming finds its
 * image gone and removes its own file, as for a DELETE). */
static void
remove_files(struct image_service *svc, const struct gone *g)
{
	for (size_t k = 0; k < g->n; k++) {
		if (image_store_remove(svc->data, g->ids[k]) == -1)
			log_error("image %s deleted; its data file stays until "
			    "the next start: %s", g->ids[k], err_msg());
		log_info("image %s deleted", g->ids[k]);
	}
}

struct discard {
	const char	*id;
	struct gone	 gone;
	bool		 active_too;	/* image_snapshot_drop() */
	bool		 protected_too;	/* image_volume_upload_discard() */
};

static int
discard_fn(struct store_txn *txn, void *arg)
{
	struct discard *d = arg;
	struct rec_image img;
	int rc = 0;

	d->gone.n = 0;
	if (image_db_get(txn, d->id, &img) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	/* An image that became active was uploaded whole: it stays (the
	 * task failed after the upload, e.g. a lost answer). */
	if ((d->active_too || strcmp(img.status, "active") != 0) &&
	    (d->protected_too || !img.protected)) {
		rc = image_db_delete(txn, &img);
		if (rc == 0)
			rc = gone_add(&d->gone, img.id);
	}
	codec_clear(&schema_rec_image, &img);
	return rc;
}

static int
discard_run(struct image_service *svc, const char *id, bool active_too,
    bool protected_too)
{
	struct discard d = { .id = id, .active_too = active_too,
	    .protected_too = protected_too };
	int rc;

	rc = store_write(svc->store, discard_fn, &d);
	if (rc == 0)
		remove_files(svc, &d.gone);
	free(d.gone.ids);
	return rc;
}

int
image_snapshot_discard(struct image_service *svc, const char *id)
{
	return discard_run(svc, id, false, false);
}

int
image_snapshot_drop(struct image_service *svc, const char *id)
{
	return discard_run(svc, id, true, false);
}

/* ---- volume uploads (os-volume_upload_image) ------------------------------ */

/* Glance's core attributes, which Cinder never copies from a volume's
 * image metadata into the new image's properties. */
static bool
core_key(const char *k)
{
	static const char *const core[] = { "checksum", "container_format",
	    "disk_format", "image_name", "image_id", "min_disk", "min_ram",
	    "name", "size", "id", "status", "visibility", "protected",
	    "owner", "os_hash_algo", "os_hash_value", "os_hidden",
	    "virtual_size", "created_at", "updated_at", "tags", "locations",
	    "direct_url", "file", "schema", "self", NULL };

	for (size_t j = 0; core[j] != NULL; j++)
		if (strcmp(core[j], k) == 0)
			return true;
	return false;
}

int
image_volume_upload_create(struct store_txn *txn,
    const struct image_volume_req *r, int64_t now, char id[37])
{
	struct rec_image img;
	int rc = -1;

	if (!image_json_visibility_valid(r->visibility)) {
		err_set(TS_EINVALID, "Invalid visibility: %.32s", r->visibility);
		return -1;
	}
	memset(&img, 0, sizeof(img));
	db_uuid(img.id);
	if (dup_to(&img.name, r->name) == -1 ||
	    dup_to(&img.status, "queued") == -1 ||
	    dup_to(&img.visibility, r->visibility) == -1 ||
	    dup_to(&img.owner, r->project_id) == -1 ||
	    dup_to(&img.disk_format, r->disk_format) == -1 ||
	    dup_to(&img.container_format, r->container_format) == -1)
		goto out;
	img.protected = r->protected;
	/* The source image's properties, as Cinder's upload carries the
	 * volume_image_metadata over (but not Glance's core attributes). */
	for (size_t k = 0; r->image_metadata != NULL &&
	    k < r->image_metadata->n; k++)
		if (!core_key(r->image_metadata->items[k].k) &&
		    prop_add(&img.properties, r->image_metadata->items[k].k,
		    r->image_metadata->items[k].v) == -1)
			goto out;
	img.created_at = img.updated_at = now;
	if (image_db_put(txn, &img, NULL) == -1)
		goto out;
	snprintf(id, 37, "%s", img.id);
	rc = 0;
out:
	codec_clear(&schema_rec_image, &img);
	return rc;
}

int
image_volume_upload_discard(struct image_service *svc, const char *id)
{
	return discard_run(svc, id, false, true);
}

struct rotate {
	const char	*instance, *type;
	unsigned	 keep;
	struct cand {
		char	 id[37];
		int64_t	 created_at;
	}		*c;
	size_t		 n, cap;
	struct gone	 gone;
};

static const char *
prop(const struct rec_image *img, const char *k)
{
	for (size_t j = 0; j < img->properties.n; j++)
		if (strcmp(img->properties.items[j].k, k) == 0)
			return img->properties.items[j].v;
	return NULL;
}

static int
rot_cb(const struct rec_image *img, void *arg)
{
	struct rotate *r = arg;
	const char *t = prop(img, "image_type"), *u = prop(img,
	    "instance_uuid"), *bt = prop(img, "backup_type");

	if (t == NULL || strcmp(t, "backup") != 0 || u == NULL ||
	    strcmp(u, r->instance) != 0 || bt == NULL ||
	    strcmp(bt, r->type) != 0)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct cand *n = realloc(r->c, cap * sizeof(*n));

		if (n == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		r->c = n;
		r->cap = cap;
	}
	snprintf(r->c[r->n].id, 37, "%s", img->id);
	r->c[r->n].created_at = img->created_at;
	r->n++;
	return 0;
}

/* Newest first; ids break ties (as Glance's default sort). */
static int
cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->created_at != y->created_at)
		return x->created_at > y->created_at ? -1 : 1;
	return strcmp(y->id, x->id);
}

static int
rotate_fn(struct store_txn *txn, void *arg)
{
	struct rotate *r = arg;

	r->n = 0;
	r->gone.n = 0;
	if (image_db_each(txn, rot_cb, r) == -1)
		return -1;
	qsort(r->c, r->n, sizeof(*r->c), cmp_cand);
	for (size_t k = r->keep; k < r->n; k++) {
		struct rec_image img;
		int rc;

		if (image_db_get(txn, r->c[k].id, &img) == -1)
			return -1;
		rc = img.protected ? 0 : image_db_delete(txn, &img);
		if (rc == 0 && !img.protected)
			rc = gone_add(&r->gone, img.id);
		if (rc == 0 && img.protected)
			log_warnx("backup %s of instance %s is protected: not "
			    "rotated out", img.id, r->instance);
		codec_clear(&schema_rec_image, &img);
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
image_backup_rotate(struct image_service *svc, const char *instance_uuid,
    const char *backup_type, unsigned keep, unsigned *deleted)
{
	struct rotate r = { .instance = instance_uuid, .type = backup_type,
	    .keep = keep };
	int rc;

	rc = store_write(svc->store, rotate_fn, &r);
	if (rc == 0)
		remove_files(svc, &r.gone);
	if (deleted != NULL)
		*deleted = rc == 0 ? (unsigned)r.gone.n : 0;
	free(r.c);
	free(r.gone.ids);
	return rc;
}
