/*
 * image_int: what image's own files share (not for other modules: they
 * use image.h). The Image service (Glance v2) on the controller's image
 * port, spread over
 *   image.c         service state, start-up recovery, the route table and
 *                   handlers (images, data upload/download, tags, actions,
 *                   members), the policy defaults
 *   image_db.c      records: images (+ images_by_owner), members
 *                   (+ image_members_by_member), per-project usage
 *   image_json.c    image/member JSON, create validation, JSON-patch
 *   image_list.c    list queries: filters, sorting, marker pagination
 *   image_schema.c  the JSON-schema documents clients download
 *   image_store.c   data files (image_store.h), image_md5.c (checksum)
 *   image_snapshot.c the images of server snapshots and backups (compute:
 *                   createImage, createBackup) and the backups' rotation
 *
 * Rules the handlers follow:
 * - Reads use a read transaction of their own; every change goes through
 *   store_write() with a function that re-reads the image inside the write
 *   transaction and re-checks what it depends on (status, protection,
 *   quota), so concurrent requests cannot both pass a check.
 * - Visibility: a caller who may not see an image gets 404, never 403, so
 *   it cannot learn that the image exists. Visible: admins see everything;
 *   others see public and community images, their project's images, and
 *   shared images their project is a member of. Role checks are
 *   oslo.policy rules (image_policy_defaults) whose target is the stored
 *   image (project_id = its owner, member_id = the caller's project when
 *   it is a member), never the request body.
 * - Image data only ever becomes active through a complete, verified
 *   upload: streamed to a temporary file with MD5, SHA-512 and the format
 *   inspector (imgfmt_check_declared against the declared disk_format),
 *   renamed into place, then activated in one transaction that re-checks
 *   the quota. Any failure leaves the image queued and no file behind.
 */
#ifndef TS_IMAGE_INT_H
#define TS_IMAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "image.h"

/* Glance's defaults: image_property_quota, image_tag_quota,
 * image_member_quota, limit_param_default, api_limit_max. */
#define IMAGE_PROPERTY_MAX	128
#define IMAGE_TAG_MAX		128
#define IMAGE_TAG_LEN_MAX	255
#define IMAGE_MEMBER_MAX	128
#define IMAGE_LIMIT_DEFAULT	25
#define IMAGE_LIMIT_MAX		1000
#define IMAGE_TIME_BUFSZ	24	/* "2026-11-25T08:14:15Z" */

/* The service (image.c; image_snapshot.c works on its store and files). */
struct image_store;
struct image_service {
	const struct config	*cfg;		/* borrowed */
	struct store		*store;		/* borrowed */
	struct image_store	*data;		/* owned */
};

/* ---- records (image_db.c), besides image_db_get() ------------------------- */

/* Insert (old NULL; TS_ECONFLICT if the id exists) or replace the image,
 * keeping images_by_owner in step with old's owner. */
int	image_db_put(struct store_txn *, const struct rec_image *img,
	    const struct rec_image *old);
/* Delete the image, its owner index entry and all its members. */
int	image_db_delete(struct store_txn *, const struct rec_image *);
/* Calls cb with each image (decoded, borrowed for the call) in id order;
 * cb returns 0 to go on, 1 to stop, -1 (err set) to fail. */
int	image_db_each(struct store_txn *,
	    int (*cb)(const struct rec_image *, void *), void *arg);
/* Sum of the sizes of owner's images, except the image `except` (may be
 * NULL). */
int	image_db_usage(struct store_txn *, const char *owner,
	    const char *except, uint64_t *bytes);

int	image_db_member_get(struct store_txn *, const char *image_id,
	    const char *member_id, struct rec_image_member *);
/* flags 0 or STORE_NOOVERWRITE (TS_ECONFLICT if the member exists). */
int	image_db_member_put(struct store_txn *, const struct rec_image_member *,
	    int flags);
int	image_db_member_delete(struct store_txn *, const char *image_id,
	    const char *member_id);
/* Members of an image in member order; cb as for image_db_each(). */
int	image_db_member_each(struct store_txn *, const char *image_id,
	    int (*cb)(const struct rec_image_member *, void *), void *arg);
int	image_db_member_count(struct store_txn *, const char *image_id,
	    size_t *n);

/* ---- JSON (image_json.c) --------------------------------------------------- */

/* Glance's time format "2026-11-25T08:14:15Z". */
void	image_json_time(int64_t ms, char out[IMAGE_TIME_BUFSZ]);
/* The image as Glance returns it (extra properties, base attributes, null
 * for unset ones, self/file/schema links). NULL with TS_ENOMEM. */
json_t	*image_json_to_json(const struct rec_image *);
json_t	*image_json_member_to_json(const struct rec_image_member *);

/*
 * Fill img from a create request body (POST /v2/images). img must be
 * zeroed; on success it owns what it holds (id only when the body gave
 * one; status, visibility default, owner and times are the caller's).
 * Errors as Glance: 400 for schema violations, 403 for read-only or
 * reserved attributes, 413 for too many properties or tags.
 */
int	image_json_from_create(json_t *body, struct rec_image *img);

/* JSON-patch media types Glance accepts. */
enum image_json_patch_media {
	IMAGE_PATCH_V20 = 4,	/* application/openstack-images-v2.0-json-patch:
				   {"replace": "/name", "value": ...}; add on
				   an existing attribute is a conflict */
	IMAGE_PATCH_V21 = 10,	/* ...-v2.1-json-patch: {"op", "path",
				   "value"}; add on an existing one replaces */
};

/* The media type of a Content-Type header, -1 (TS_EUNSUPPORTED_MEDIA) for
 * anything else. */
int	image_json_patch_media(const char *content_type, enum image_json_patch_media *);

/*
 * Apply a JSON-patch document to img in place (all or nothing: on failure
 * img is unchanged). admin allows changing the owner. Errors: 400 malformed
 * document or invalid value, 403 read-only/reserved attribute, removing a
 * base attribute, or owner change by a non-admin, 409 replace/remove of a
 * property that does not exist (or v2.0 add of one that does), 413 too many
 * properties or tags.
 */
int	image_json_patch_apply(struct rec_image *img, json_t *patch,
	    enum image_json_patch_media, bool admin);

/* Validators shared by create and patch. */
bool	image_json_disk_format_valid(const char *);
bool	image_json_container_format_valid(const char *);
bool	image_json_visibility_valid(const char *);

/*
 * Extra properties alone (compute's image metadata, image.h): with purge
 * all go first; remove (NULL: none) goes (TS_ENOT_FOUND when absent);
 * then set's pairs are added or replaced. Names as Glance checks them
 * (400 empty or too long; 403 read-only, reserved, or a base attribute),
 * 413 past IMAGE_PROPERTY_MAX. All or nothing.
 */
int	image_json_props_apply(struct rec_image *img, const struct image_kv *set,
	    size_t n, bool purge, const char *remove);

/* Deep copy src into dst (zeroed). -1 TS_ENOMEM. */
int	image_json_copy(struct rec_image *dst, const struct rec_image *src);

/* ---- listing (image_list.c) ------------------------------------------------ */

#define IMAGE_SORT_MAX		8
#define IMAGE_FILTER_MAX	32

enum image_sort_key {
	IMAGE_SORT_NAME = 0, IMAGE_SORT_STATUS, IMAGE_SORT_CONTAINER_FORMAT,
	IMAGE_SORT_DISK_FORMAT, IMAGE_SORT_SIZE, IMAGE_SORT_ID,
	IMAGE_SORT_CREATED_AT, IMAGE_SORT_UPDATED_AT,
};

/* A parsed GET /v2/images query. Strings borrowed from the query pairs. */
struct image_query {
	size_t		 limit;
	const char	*marker;		/* NULL: from the start */
	const char	*visibility;		/* NULL: the default set */
	const char	*member_status;		/* "accepted" by default */
	int		 os_hidden;		/* -1 any, 0 (default), 1 */
	struct {
		enum image_sort_key key;
		bool		 desc;
	}		 sort[IMAGE_SORT_MAX + 2];
	size_t		 nsort;
	struct image_filter {
		const char	*key;
		const char	*value;	/* after any "op:" prefix */
		int		 op;	/* IMAGE_OP_* */
		int64_t		 num;	/* ranges, sizes and times */
	}		 filters[IMAGE_FILTER_MAX];
	size_t		 nfilters;
	const char	*tags[IMAGE_TAG_MAX];
	size_t		 ntags;
};

/* Parse the query pairs (400 on bad values, as Glance words them). */
int	image_list_query_parse(struct image_query *, const struct image_kv *,
	    size_t n);
/* Whether img passes the query's attribute filters and tags (visibility
 * and os_hidden are the lister's business). */
bool	image_list_query_match(const struct image_query *, const struct rec_image *);
/* Order of a and b under the query's sort (ids break every tie). */
int	image_list_query_cmp(const struct image_query *, const struct rec_image *a,
	    const struct rec_image *b);


/*
 * Run the query for viewer in txn. Memory is bounded by the page size:
 * the scan keeps at most 2 * (limit + 1) candidate records. A marker the
 * viewer cannot see or that does not exist is 400, as in Glance.
 */
int	image_list_run(struct store_txn *, const struct image_query *,
	    const struct image_viewer *, struct image_page *);

/* ---- schemas (image_schema.c) ---------------------------------------------- */

/* The JSON text of /v2/schemas/<name> ("image", "images", "member",
 * "members", "metadefs/namespace", ...), static; NULL if unknown. */
const char	*image_schema_text(const char *name);

#endif
