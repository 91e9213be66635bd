/*
 * volume_backups: the volume backups of the Block Storage API (Cinder v3):
 * list and detail (filters name, status, volume_id; limit/marker as the
 * volume list), create (of an available volume, or an in-use one with
 * force; quotas backups and backup_gigabytes in the same write as the
 * record; incremental backups are refused), show, update (3.9: name,
 * description), delete, restore (into a named available volume at least
 * as large, or into a new volume of the backup's size, placed as a new
 * volume is), and the admin's os-reset_status and os-force_delete.
 *
 * A backup's bytes are meant to live on the controller (so they survive
 * the loss of the volume's host), streamed there by the volume's storage
 * host; while a backup is made its volume is backing-up, while restored
 * into, restoring-backup, and the backup restoring. Every such state has
 * a deadline (found by the storage sync's derivation, ended by
 * volume_backups_expire()):
 * one not answered by then goes to error (a backup being made; its volume
 * back to its previous status) or back to available (a backup being
 * restored; the volume error_restoring, as Cinder leaves it), so a lost
 * message or a dead host never leaves a record stuck.
 *
 * Visibility as for volumes: another project's backup is 404 to anyone
 * but the admin, then the rule is enforced on its project.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "http/jsonreq.h"
#include "http/request.h"
#include "image/image.h"
#include "log.h"
#include "volume_int.h"

/* What a backup or restore may take: a base plus a minute per GiB. */
#define DEADLINE_BASE_MS	(10 * 60 * 1000)
#define DEADLINE_PER_GB_MS	(60 * 1000)

#define NOT_RECEIVED	"The backup's data was not received in time " \
			"from the volume's storage host."
#define NOT_RESTORED	"The backup's data was not restored in time " \
			"by the volume's storage host."

static int64_t
deadline_of(int64_t now, uint64_t size_gb)
{
	return now + DEADLINE_BASE_MS + (int64_t)size_gb * DEADLINE_PER_GB_MS;
}

static json_t *
nstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
links_json(struct http_req *req, const char *project, const char *id)
{
	char base[512], self[900], book[900];

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		base[0] = '\0';
	snprintf(self, sizeof(self), "%s/v3/%s/backups/%s", base, project, id);
	snprintf(book, sizeof(book), "%s/%s/backups/%s", base, project, id);
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "href", self, "rel",
	    "self", "href", book, "rel", "bookmark");
}

/* Cinder's detail view (views/backups.py). */
static json_t *
backup_json(struct http_req *req, const struct rec_volume_backup *b)
{
	json_t *o;

	o = json_pack("{s:s, s:o, s:o, s:s, s:I, s:i, s:s, s:o, s:o, s:o, "
	    "s:o, s:s, s:o*, s:b, s:b, s:o, s:o}",
	    "id", b->id, "name", nstr(b->name),
	    "description", nstr(b->description), "status", b->status,
	    "size", (json_int_t)b->size, "object_count", 0,
	    "availability_zone", b->availability_zone,
	    "container", nstr(b->container),
	    "created_at", volume_time(b->created_at),
	    "updated_at", b->updated_at ? volume_time(b->updated_at) :
	    json_null(), "fail_reason", nstr(b->fail_reason),
	    "volume_id", b->volume_id,
	    "links", links_json(req, b->project_id, b->id),
	    "is_incremental", 0, "has_dependent_backups", 0,
	    "snapshot_id", nstr(b->snapshot_id),
	    "data_timestamp", volume_time(b->data_timestamp ?
	    b->data_timestamp : b->created_at));
	if (o == NULL)
		return NULL;
	if (volume_req_mv(req) >= 18 && volume_is_admin(req))
		json_object_set_new(o, "os-backup-project-attr:project_id",
		    json_string(b->project_id));
	if (volume_req_mv(req) >= 43)
		json_object_set_new(o, "metadata", json_object());
	return o;
}

static int
backup_find(struct http_req *req, struct store_txn *txn, const char *rule,
    const char *id, struct rec_volume_backup *b)
{
	if (volume_db_backup_get(txn, id, b) == -1)
		return -1;
	if (volume_owner_check(req, rule, b->project_id, "Backup", id) == -1) {
		codec_clear(&schema_rec_volume_backup, b);
		return -1;
	}
	return 0;
}

/* The backup id of the route, visible to the caller and allowed by rule;
 * nothing kept (the write reads it again). */
static int
backup_check(struct http_req *req, const char *rule, const char *id)
{
	struct rec_volume_backup b;
	struct store_txn *txn = NULL;
	int rc;

	memset(&b, 0, sizeof(b));
	if (store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	rc = backup_find(req, txn, rule, id, &b);
	store_txn_end(&txn);
	codec_clear(&schema_rec_volume_backup, &b);
	return rc;
}

/* ---- lists ---------------------------------------------------------------- */

struct collect {
	struct http_req	*req;
	const char	*volume_id;	/* filter; NULL none */
	json_t		*arr;
};

static int
collect_cb(struct rec_volume_backup *b, void *arg)
{
	struct collect *c = arg;
	json_t *o;

	if (c->volume_id != NULL && strcmp(b->volume_id, c->volume_id) != 0)
		return 0;
	if ((o = backup_json(c->req, b)) == NULL ||
	    json_array_append_new(c->arr, o) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static const char *const sort_keys[] = { "id", "status", "size",
	"created_at", "updated_at", "name", "volume_id", "container",
	"availability_zone", NULL };

static int
backup_list(struct http_req *req, struct http_resp *resp, bool summary)
{
	bool admin = volume_is_admin(req);
	bool all = admin && jsonreq_query_bool(JSONREQ_NOVA,
	    http_req_query(req, "all_tenants"));
	const char *proj = http_req_query(req, "project_id");
	struct collect c = { .req = req,
	    .volume_id = http_req_query(req, "volume_id") };
	struct store_txn *txn = NULL;
	int rc;

	if (volume_begin(req, resp, "backup:get_all", volume_caller(req)) ==
	    -1)
		return -1;
	if ((c.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (store_read_begin(volume_of(req)->store, &txn) == -1) {
		json_decref(c.arr);
		return -1;
	}
	rc = volume_db_backup_each(txn, all ? proj : volume_caller(req),
	    collect_cb, &c);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(c.arr);
		return -1;
	}
	return volume_list_reply(req, resp, "backups", sort_keys, c.arr,
	    summary, "name");
}

int
volume_backups_list(struct http_req *req, struct http_resp *resp)
{
	return backup_list(req, resp, true);
}

int
volume_backups_detail(struct http_req *req, struct http_resp *resp)
{
	return backup_list(req, resp, false);
}

int
volume_backups_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume_backup b;
	struct store_txn *txn = NULL;
	json_t *o;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	memset(&b, 0, sizeof(b));
	rc = backup_find(req, txn, "backup:get", http_req_param(req,
	    "backup_id"), &b);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	o = backup_json(req, &b);
	codec_clear(&schema_rec_volume_backup, &b);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "backup", o));
}

/* ---- create ---------------------------------------------------------------- */

/* A string of at most max characters, or null/absent (*out NULL). */
static int
opt_str(json_t *o, const char *k, size_t max, const char **out,
    bool *present)
{
	json_t *jv = json_object_get(o, k);

	*out = NULL;
	if (present != NULL)
		*present = jv != NULL;
	if (jv == NULL || json_is_null(jv))
		return 0;
	if (!json_is_string(jv) || json_string_length(jv) > max ||
	    strlen(json_string_value(jv)) != json_string_length(jv)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %.64s. is not a string of at most %zu characters",
		    k, json_is_string(jv) ? json_string_value(jv) : "?", max);
		return -1;
	}
	*out = json_string_value(jv);
	return 0;
}

/* Cinder's boolean: true/false, or their strings; null/absent: false. */
static int
opt_bool(json_t *o, const char *k, bool *out)
{
	json_t *jv = json_object_get(o, k);
	const char *s;

	*out = false;
	if (jv == NULL || json_is_null(jv))
		return 0;
	if (json_is_boolean(jv)) {
		*out = json_is_true(jv);
		return 0;
	}
	if (json_is_string(jv)) {
		s = json_string_value(jv);
		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
			*out = strcasecmp(s, "true") == 0;
			return 0;
		}
	}
	err_set(TS_EINVALID, "Invalid input for field/attribute %s. Value: "
	    "?. is not a valid boolean", k);
	return -1;
}

static int
copy_map(struct ts_strmap *dst, const struct ts_strmap *src)
{
	if (src->n == 0)
		return 0;
	if ((dst->items = calloc(src->n, sizeof(*dst->items))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (; dst->n < src->n; dst->n++) {
		dst->items[dst->n].k = strdup(src->items[dst->n].k);
		dst->items[dst->n].v = strdup(src->items[dst->n].v);
		if (dst->items[dst->n].k == NULL ||
		    dst->items[dst->n].v == NULL) {
			dst->n++;
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
	}
	return 0;
}

struct bcreate {
	struct volume		*vs;
	bool			 admin, force;
	struct rec_volume_backup b;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct bcreate *c = arg;
	struct rec_volume v;
	int rc = -1;

	if (volume_db_get(txn, c->b.volume_id, &v) == -1)
		return -1;
	if (!c->admin && strcmp(v.project_id, c->b.project_id) != 0) {
		err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
		    c->b.volume_id);
		goto out;
	}
	if (strcmp(v.status, "available") != 0 &&
	    strcmp(v.status, "in-use") != 0) {
		err_set(TS_EINVALID, "Invalid volume: Volume to be backed up "
		    "must be available or in-use, but the current status is "
		    "\"%s\".", v.status);
		goto out;
	}
	if (strcmp(v.status, "in-use") == 0 && !c->force) {
		err_set(TS_EINVALID, "Invalid volume: Backing up an in-use "
		    "volume must use the force flag.");
		goto out;
	}
	if (c->b.snapshot_id != NULL) {
		struct rec_volume_snapshot s;

		if (volume_db_snap_get(txn, c->b.snapshot_id, &s) == -1)
			goto out;
		if (strcmp(s.volume_id, v.id) != 0 ||
		    strcmp(s.status, "available") != 0) {
			err_set(TS_EINVALID, "Invalid snapshot: Snapshot %s "
			    "must be an available snapshot of volume %s.",
			    s.id, v.id);
			codec_clear(&schema_rec_volume_snapshot, &s);
			goto out;
		}
		codec_clear(&schema_rec_volume_snapshot, &s);
	}
	c->b.size = v.size;
	if (volume_quota_check_backup(c->vs, txn, v.project_id,
	    (int64_t)v.size) == -1)
		goto out;
	/* The backup belongs to the volume's project, as in Cinder. */
	if (codec_str_set(&c->b.project_id, v.project_id) == -1 ||
	    codec_str_set(&c->b.host, v.host) == -1 ||
	    codec_str_set(&c->b.prev_status, v.status) == -1 ||
	    codec_str_set(&c->b.status, "creating") == -1 ||
	    copy_map(&c->b.volume_metadata, &v.metadata) == -1 ||
	    copy_map(&c->b.image_metadata, &v.image_metadata) == -1)
		goto out;
	c->b.bootable = v.bootable;
	c->b.deadline = deadline_of(c->b.created_at, v.size);
	/* The volume is backing-up while its bytes are read, so neither a
	 * delete nor an extend changes them underneath. Its indexed fields
	 * stay: it is its own old record for volume_db_put(). */
	if (codec_str_set(&v.status, "backing-up") == -1)
		goto out;
	v.updated_at = c->b.created_at;
	if (volume_db_put(txn, &v, &v) == -1 ||
	    volume_db_backup_put(txn, &c->b) == -1 ||
	    volume_db_usage_add_backup(txn, v.project_id, 1,
	    (int64_t)v.size) == -1)
		goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_backups_create(struct http_req *req, struct http_resp *resp)
{
	struct bcreate c = { .vs = volume_of(req) };
	json_t *body = http_req_json(req), *o, *out;
	const char *name, *desc, *vid, *snap, *cont, *az;
	bool incr;

	if (volume_begin(req, resp, "backup:create", volume_caller(req)) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "backup"))) {
		err_set(TS_EINVALID, "Missing required element 'backup' in "
		    "request body.");
		return -1;
	}
	if (opt_str(o, "name", 255, &name, NULL) == -1 ||
	    opt_str(o, "description", 255, &desc, NULL) == -1 ||
	    opt_str(o, "volume_id", 64, &vid, NULL) == -1 ||
	    opt_str(o, "snapshot_id", 64, &snap, NULL) == -1 ||
	    opt_str(o, "container", 255, &cont, NULL) == -1 ||
	    opt_str(o, "availability_zone", 255, &az, NULL) == -1 ||
	    opt_bool(o, "incremental", &incr) == -1 ||
	    opt_bool(o, "force", &c.force) == -1)
		return -1;
	if (vid == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "backup. Value: %s. 'volume_id' is a required property",
		    "{}");
		return -1;
	}
	if (!jsonreq_uuid_like(vid)) {
		err_set(TS_ENOT_FOUND, "Volume %.64s could not be found.", vid);
		return -1;
	}
	if (snap != NULL && !jsonreq_uuid_like(snap)) {
		err_set(TS_ENOT_FOUND, "Snapshot %.64s could not be found.",
		    snap);
		return -1;
	}
	/* Every backup is a full one: Cinder's answer when there is no full
	 * backup to build on. */
	if (incr) {
		err_set(TS_EINVALID, "Invalid backup: No backups available to "
		    "do an incremental backup.");
		return -1;
	}
	if (az != NULL && strcmp(az, VOLUME_ZONE) != 0) {
		err_set(TS_EINVALID, "Invalid input received: Availability "
		    "zone '%s' is invalid.", az);
		return -1;
	}
	c.admin = volume_is_admin(req);
	db_uuid(c.b.id);
	snprintf(c.b.volume_id, sizeof(c.b.volume_id), "%s", vid);
	c.b.created_at = c.b.data_timestamp = db_now_ms();
	if (codec_str_set(&c.b.project_id, volume_caller(req)) == -1 ||
	    codec_str_set(&c.b.user_id, volume_caller_user(req)) == -1 ||
	    codec_str_set(&c.b.name, name) == -1 ||
	    codec_str_set(&c.b.description, desc) == -1 ||
	    codec_str_set(&c.b.container, cont) == -1 ||
	    codec_str_set(&c.b.snapshot_id, snap) == -1 ||
	    codec_str_set(&c.b.availability_zone, VOLUME_ZONE) == -1 ||
	    store_write(c.vs->store, create_fn, &c) == -1) {
		codec_clear(&schema_rec_volume_backup, &c.b);
		return -1;
	}
	log_info("backup %s of volume %s: %s", c.b.id, c.b.volume_id,
	    c.b.status);
	volume_kick(c.vs);
	out = json_pack("{s:s, s:o, s:o*}", "id", c.b.id, "name",
	    nstr(c.b.name), "links", links_json(req, c.b.project_id,
	    c.b.id));
	codec_clear(&schema_rec_volume_backup, &c.b);
	return http_resp_json(resp, 202, json_pack("{s:o*}", "backup", out));
}

/* ---- update, delete, actions ------------------------------------------------ */

enum bedit_op { B_UPDATE, B_DELETE, B_FORCE_DELETE, B_RESET };

struct bedit {
	const char		*id;
	enum bedit_op		 op;
	const char		*name, *desc, *status;
	bool			 has_name, has_desc;
	struct rec_volume_backup out;
};

/* The volume a backup in a transitional state holds goes back to status
 * (prev_status when NULL); a volume gone or moved on is left alone. */
static int
release_volume(struct store_txn *txn, const char *volume_id,
    const char *busy, const char *status, int64_t now)
{
	struct rec_volume v;
	int rc = 0;

	if (volume_id == NULL || *volume_id == '\0')
		return 0;
	if (volume_db_get(txn, volume_id, &v) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (strcmp(v.status, busy) == 0) {
		v.updated_at = now;
		rc = codec_str_set(&v.status, status) == -1 ||
		    volume_db_put(txn, &v, &v) == -1 ? -1 : 0;
	}
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

/* Give back what a backup in a transitional state holds (its volume, or
 * the volume it is restored into). */
static int
release_all(struct store_txn *txn, const struct rec_volume_backup *b,
    int64_t now)
{
	if (strcmp(b->status, "creating") == 0)
		return release_volume(txn, b->volume_id, "backing-up",
		    b->prev_status != NULL ? b->prev_status : "available",
		    now);
	if (strcmp(b->status, "restoring") == 0)
		return release_volume(txn, b->restore_volume_id,
		    "restoring-backup", "error_restoring", now);
	return 0;
}

static int
edit_fn(struct store_txn *txn, void *arg)
{
	struct bedit *e = arg;
	struct rec_volume_backup b;
	int64_t now = db_now_ms();

	if (volume_db_backup_get(txn, e->id, &b) == -1)
		return -1;
	switch (e->op) {
	case B_DELETE:
		if (strcmp(b.status, "available") != 0 &&
		    strcmp(b.status, "error") != 0) {
			err_set(TS_EINVALID, "Invalid backup: Backup status "
			    "must be available or error");
			goto fail;
		}
		/* FALLTHROUGH */
	case B_FORCE_DELETE:
		/* Nothing on a storage host to wait for: the record goes
		 * now (data files with it, volume_backups.h). */
		if (release_all(txn, &b, now) == -1 ||
		    volume_db_backup_del(txn, &b) == -1 ||
		    volume_db_usage_add_backup(txn, b.project_id, -1,
		    -(int64_t)b.size) == -1)
			goto fail;
		e->out = b;
		return 0;
	case B_RESET:
		if (release_all(txn, &b, now) == -1 ||
		    codec_str_set(&b.status, e->status) == -1)
			goto fail;
		b.deadline = 0;
		free(b.restore_volume_id);
		b.restore_volume_id = NULL;
		break;
	case B_UPDATE:
		if ((e->has_name && codec_str_set(&b.name, e->name) ==
		    -1) || (e->has_desc && codec_str_set(&b.description,
		    e->desc) == -1))
			goto fail;
		break;
	}
	b.updated_at = now;
	if (volume_db_backup_put(txn, &b) == -1)
		goto fail;
	e->out = b;
	return 0;
fail:
	codec_clear(&schema_rec_volume_backup, &b);
	return -1;
}

int
volume_backups_update(struct http_req *req, struct http_resp *resp)
{
	struct bedit e = { .id = http_req_param(req, "backup_id"),
	    .op = B_UPDATE };
	json_t *body = http_req_json(req), *o, *out;

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	/* Cinder serves the route from 3.9 on. */
	if (volume_req_mv(req) < 9) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (backup_check(req, "backup:update", e.id) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "backup"))) {
		err_set(TS_EINVALID, "Missing required element 'backup' in "
		    "request body.");
		return -1;
	}
	if (opt_str(o, "name", 255, &e.name, &e.has_name) == -1 ||
	    opt_str(o, "description", 255, &e.desc, &e.has_desc) == -1)
		return -1;
	if (store_write(volume_of(req)->store, edit_fn, &e) == -1)
		return -1;
	out = json_pack("{s:s, s:o, s:o*}", "id", e.out.id, "name",
	    nstr(e.out.name), "links", links_json(req, e.out.project_id,
	    e.out.id));
	codec_clear(&schema_rec_volume_backup, &e.out);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "backup", out));
}

static int
do_delete(struct http_req *req, struct http_resp *resp, struct bedit *e)
{
	if (store_write(volume_of(req)->store, edit_fn, e) == -1)
		return -1;
	/* After the commit: a backup whose record is gone has no data. */
	if (image_blobs_remove(volume_of(req)->data, e->id) == -1)
		log_warnx("backup %s: removing its data: %s", e->id,
		    err_msg());
	log_info("backup %s of volume %s: deleted (%s)", e->id,
	    e->out.volume_id, e->out.status);
	codec_clear(&schema_rec_volume_backup, &e->out);
	volume_kick(volume_of(req));
	return http_resp_status(resp, 202);
}

int
volume_backups_delete(struct http_req *req, struct http_resp *resp)
{
	struct bedit e = { .id = http_req_param(req, "backup_id"),
	    .op = B_DELETE };

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    backup_check(req, "backup:delete", e.id) == -1)
		return -1;
	return do_delete(req, resp, &e);
}

int
volume_backups_action(struct http_req *req, struct http_resp *resp)
{
	struct bedit e = { .id = http_req_param(req, "backup_id") };
	json_t *body = http_req_json(req), *a;
	const char *rule;

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	if (!json_is_object(body) || json_object_size(body) != 1) {
		err_set(TS_EINVALID, "Invalid input received: one action "
		    "expected.");
		return -1;
	}
	if (json_object_get(body, "os-force_delete") != NULL) {
		e.op = B_FORCE_DELETE;
		rule = "backup:force_delete";
	} else if ((a = json_object_get(body, "os-reset_status")) != NULL) {
		e.op = B_RESET;
		rule = "volume_extension:backup_admin_actions:reset_status";
		if (!json_is_object(a) || opt_str(a, "status", 32, &e.status,
		    NULL) == -1 || e.status == NULL) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "status. Value: None. None is not of type 'string'");
			return -1;
		}
		if (strcmp(e.status, "available") != 0 &&
		    strcmp(e.status, "error") != 0) {
			err_set(TS_EINVALID, "Invalid backup: Status %.32s is "
			    "not available or error.", e.status);
			return -1;
		}
	} else {
		err_set(TS_EINVALID, "Invalid input received: There is no "
		    "such action: %s", json_object_iter_key(json_object_iter(
		    body)));
		return -1;
	}
	if (backup_check(req, rule, e.id) == -1)
		return -1;
	if (e.op == B_FORCE_DELETE)
		return do_delete(req, resp, &e);
	if (store_write(volume_of(req)->store, edit_fn, &e) == -1)
		return -1;
	log_info("backup %s: status reset to %s", e.id, e.status);
	codec_clear(&schema_rec_volume_backup, &e.out);
	volume_kick(volume_of(req));
	return http_resp_status(resp, 202);
}

/* ---- restore ---------------------------------------------------------------- */

struct brestore {
	struct volume	*vs;
	const char	*id;
	bool		 admin;
	const char	*caller, *user;
	const char	*volume_id;	/* NULL: a new volume */
	const char	*name;
	char		 new_id[CODEC_UUID_LEN + 1];
	char		*vol_name;	/* owned: the target's name */
};

static int
restore_new(struct brestore *r, struct store_txn *txn,
    const struct rec_volume_backup *b, int64_t now)
{
	struct rec_volume v;
	char host[256] = "";
	char name[300];
	int rc = -1;

	memset(&v, 0, sizeof(v));
	if (volume_quota_check(r->vs, txn, b->project_id, 1, (int64_t)b->size,
	    0, (int64_t)b->size) == -1)
		return -1;
	if (volume_place(r->vs, txn, NULL, host, sizeof(host)) == -1)
		return -1;
	if (host[0] == '\0') {
		err_set(TS_EINVALID, "Invalid input received: %s",
		    VOLUME_NO_BACKEND);
		return -1;
	}
	/* Cinder's name for a restore's new volume. */
	if (r->name != NULL)
		snprintf(name, sizeof(name), "%s", r->name);
	else
		snprintf(name, sizeof(name), "restore_backup_%s", b->id);
	db_uuid(v.id);
	v.size = b->size;
	v.created_at = v.updated_at = now;
	v.generation = 1;
	v.bootable = b->bootable;
	if (codec_str_set(&v.project_id, b->project_id) == -1 ||
	    codec_str_set(&v.user_id, r->user) == -1 ||
	    codec_str_set(&v.name, name) == -1 ||
	    codec_str_set(&v.status, "restoring-backup") == -1 ||
	    codec_str_set(&v.availability_zone, VOLUME_ZONE) == -1 ||
	    codec_str_set(&v.volume_type, VOLUME_TYPE_ID) == -1 ||
	    codec_str_set(&v.host, host) == -1 ||
	    copy_map(&v.metadata, &b->volume_metadata) == -1 ||
	    copy_map(&v.image_metadata, &b->image_metadata) == -1 ||
	    volume_db_put(txn, NULL, &v) == -1 ||
	    volume_db_usage_add(txn, v.project_id, 1, (int64_t)v.size, 0) ==
	    -1 || codec_str_set(&r->vol_name, name) == -1)
		goto out;
	memcpy(r->new_id, v.id, sizeof(r->new_id));
	rc = 0;
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

static int
restore_existing(struct brestore *r, struct store_txn *txn,
    const struct rec_volume_backup *b, int64_t now)
{
	struct rec_volume old;
	json_t *m = NULL;
	int rc = -1;

	if (volume_db_get(txn, r->volume_id, &old) == -1)
		return -1;
	if (!r->admin && strcmp(old.project_id, r->caller) != 0) {
		err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
		    r->volume_id);
		goto out;
	}
	if (strcmp(old.status, "available") != 0) {
		err_set(TS_EINVALID, "Invalid volume: Volume to be restored to "
		    "must be available");
		goto out;
	}
	if (old.size < b->size) {
		err_set(TS_EINVALID, "Invalid volume: volume size %llu is too "
		    "small to restore backup of size %llu.",
		    (unsigned long long)old.size, (unsigned long long)b->size);
		goto out;
	}
	if (codec_str_set(&old.status, "restoring-backup") == -1 ||
	    codec_str_set(&r->vol_name, old.name != NULL ? old.name :
	    "") == -1)
		goto out;
	/* Cinder restores the backed-up metadata over the volume's. */
	if ((m = json_object()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < b->volume_metadata.n; i++)
		json_object_set_new(m, b->volume_metadata.items[i].k,
		    json_string(b->volume_metadata.items[i].v));
	if (volume_meta_parse(m, &old.metadata, true) == -1)
		goto out;
	old.bootable = old.bootable || b->bootable;
	old.updated_at = now;
	/* Only the status changes among the indexed fields. */
	if (volume_db_put(txn, &old, &old) == -1)
		goto out;
	memcpy(r->new_id, old.id, sizeof(r->new_id));
	rc = 0;
out:
	json_decref(m);
	codec_clear(&schema_rec_volume, &old);
	return rc;
}

static int
restore_fn(struct store_txn *txn, void *arg)
{
	struct brestore *r = arg;
	struct rec_volume_backup b;
	int64_t now = db_now_ms();
	int rc = -1;

	if (volume_db_backup_get(txn, r->id, &b) == -1)
		return -1;
	if (strcmp(b.status, "available") != 0) {
		err_set(TS_EINVALID, "Invalid backup: Backup status must be "
		    "available");
		goto out;
	}
	if ((r->volume_id != NULL ? restore_existing(r, txn, &b, now) :
	    restore_new(r, txn, &b, now)) == -1)
		goto out;
	if (codec_str_set(&b.status, "restoring") == -1 ||
	    codec_str_set(&b.restore_volume_id, r->new_id) == -1)
		goto out;
	b.deadline = deadline_of(now, b.size);
	b.updated_at = now;
	rc = volume_db_backup_put(txn, &b);
out:
	codec_clear(&schema_rec_volume_backup, &b);
	return rc;
}

int
volume_backups_restore(struct http_req *req, struct http_resp *resp)
{
	struct brestore r = { .vs = volume_of(req),
	    .id = http_req_param(req, "backup_id") };
	json_t *body = http_req_json(req), *o;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    backup_check(req, "backup:restore", r.id) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "restore"))) {
		err_set(TS_EINVALID, "Missing required element 'restore' in "
		    "request body.");
		return -1;
	}
	if (opt_str(o, "volume_id", 64, &r.volume_id, NULL) == -1 ||
	    opt_str(o, "name", 255, &r.name, NULL) == -1)
		return -1;
	if (r.volume_id != NULL && !jsonreq_uuid_like(r.volume_id)) {
		err_set(TS_ENOT_FOUND, "Volume %.64s could not be found.",
		    r.volume_id);
		return -1;
	}
	r.admin = volume_is_admin(req);
	r.caller = volume_caller(req);
	r.user = volume_caller_user(req);
	if (store_write(r.vs->store, restore_fn, &r) == -1) {
		free(r.vol_name);
		return -1;
	}
	log_info("backup %s: restoring into volume %s", r.id, r.new_id);
	volume_kick(r.vs);
	rc = http_resp_json(resp, 202, json_pack("{s:{s:s, s:s, s:s}}",
	    "restore", "backup_id", r.id, "volume_id", r.new_id,
	    "volume_name", r.vol_name != NULL ? r.vol_name : ""));
	free(r.vol_name);
	return rc;
}

/* ---- deadlines ---------------------------------------------------------------- */

struct expire {
	int64_t		 now;
	const char	(*ids)[CODEC_UUID_LEN + 1];
	size_t		 n;
};

static int
expire_fn(struct store_txn *txn, void *arg)
{
	struct expire *x = arg;

	for (size_t i = 0; i < x->n; i++) {
		struct rec_volume_backup b;
		const char *to;
		int rc;

		if (volume_db_backup_get(txn, x->ids[i], &b) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		if (b.deadline == 0 || b.deadline > x->now ||
		    (strcmp(b.status, "creating") != 0 &&
		    strcmp(b.status, "restoring") != 0)) {
			codec_clear(&schema_rec_volume_backup, &b);
			continue;
		}
		/* A backup not made is an error; one not restored is still
		 * whole, as Cinder leaves it. */
		to = strcmp(b.status, "creating") == 0 ? "error" :
		    "available";
		log_warnx("backup %s: %s past its deadline -> %s", b.id,
		    b.status, to);
		rc = release_all(txn, &b, x->now) == -1 ||
		    codec_str_set(&b.fail_reason, strcmp(to, "error") ==
		    0 ? NOT_RECEIVED : NOT_RESTORED) == -1 ||
		    codec_str_set(&b.status, to) == -1 ? -1 : 0;
		free(b.restore_volume_id);
		b.restore_volume_id = NULL;
		b.deadline = 0;
		b.updated_at = x->now;
		if (rc == 0)
			rc = volume_db_backup_put(txn, &b);
		codec_clear(&schema_rec_volume_backup, &b);
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
volume_backups_expire(struct store *st, int64_t now,
    const char (*ids)[CODEC_UUID_LEN + 1], size_t n)
{
	struct expire x = { now, ids, n };

	return n > 0 ? store_write(st, expire_fn, &x) : 0;
}

/* ---- data: the storage host's upload and download ------------------------- */

/* Whether the request carries a capability of the right kind minted for
 * volume_id (storesync mints it for the backup's volume, or the volume a
 * restore writes). */
static bool
cap_for(struct http_req *req, bool upload, const char *volume_id)
{
	const struct request_ctx *c = request_ctx_of(req);

	return c != NULL && c->capability && c->cap_upload == upload &&
	    volume_id != NULL && strcmp(c->cap_instance, volume_id) == 0;
}

/* The backup of the data route, in the state the route needs. */
static int
data_backup(struct http_req *req, bool upload, struct rec_volume_backup *b)
{
	const char *id = http_req_param(req, "image_id");
	struct store_txn *txn = NULL;
	int rc;

	const struct request_ctx *c = request_ctx_of(req);

	memset(b, 0, sizeof(*b));
	/* Tokens are refused before anything is read: no one learns
	 * which backups exist here. */
	if (c == NULL || !c->capability || c->cap_upload != upload) {
		err_set(TS_EFORBIDDEN, "Backup data is for its storage host "
		    "only.");
		return -1;
	}
	if (store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	rc = volume_db_backup_get(txn, id, b);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	if (!cap_for(req, upload, upload ? b->volume_id :
	    b->restore_volume_id)) {
		err_set(TS_EFORBIDDEN, "Backup data is for its storage host "
		    "only.");
		goto fail;
	}
	if (strcmp(b->status, upload ? "creating" : "restoring") != 0) {
		err_set(TS_ECONFLICT, "Backup %s is %s.", b->id, b->status);
		goto fail;
	}
	return 0;
fail:
	codec_clear(&schema_rec_volume_backup, b);
	return -1;
}

struct bupload {
	char			 id[CODEC_UUID_LEN + 1];
	struct image_upload	*up;
	uint64_t		 size;
	char			 sha512[129];
};

static void
bupload_free(struct bupload **up)
{
	if (*up == NULL)
		return;
	image_blobs_upload_free(&(*up)->up);
	free(*up);
	*up = NULL;
}

static int
data_begin(struct http_req *req, struct http_resp *resp)
{
	struct volume *vs = volume_of(req);
	struct rec_volume_backup b;
	struct bupload *u;
	const char *cl = http_req_header(req, "Content-Length");
	uint64_t declared = UINT64_MAX;
	char *end;

	(void)resp;
	if (data_backup(req, true, &b) == -1)
		return -1;
	if (cl != NULL && http_req_header(req, "Transfer-Encoding") == NULL) {
		declared = strtoull(cl, &end, 10);
		if (end == cl || *end != '\0')
			declared = UINT64_MAX;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		codec_clear(&schema_rec_volume_backup, &b);
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	memcpy(u->id, b.id, sizeof(u->id));
	codec_clear(&schema_rec_volume_backup, &b);
	/* A retry (the host did not get the answer of an earlier upload
	 * that still left the backup creating) replaces its file. */
	if (image_blobs_remove(vs->data, u->id) == -1 ||
	    (u->up = image_blobs_begin(vs->data, u->id, declared)) == NULL) {
		bupload_free(&u);
		return -1;
	}
	http_req_set_state(req, u);
	return 0;
}

static int
data_data(struct http_req *req, const char *buf, size_t len)
{
	struct bupload *u = http_req_state(req);

	return image_blobs_write(u->up, buf, len);
}

static int
done_fn(struct store_txn *txn, void *arg)
{
	struct bupload *u = arg;
	struct rec_volume_backup b;
	int64_t now = db_now_ms();
	int rc = -1;

	if (volume_db_backup_get(txn, u->id, &b) == -1)
		return -1;
	if (strcmp(b.status, "creating") != 0) {
		err_set(TS_ECONFLICT, "Backup %s changed to %s during the "
		    "upload.", b.id, b.status);
		goto out;
	}
	if (release_all(txn, &b, now) == -1 ||
	    codec_str_set(&b.status, "available") == -1 ||
	    codec_str_set(&b.sha512, u->sha512) == -1)
		goto out;
	b.data_size = u->size;
	b.deadline = 0;
	b.updated_at = now;
	rc = volume_db_backup_put(txn, &b);
out:
	codec_clear(&schema_rec_volume_backup, &b);
	return rc;
}

static int
data_end(struct http_req *req, struct http_resp *resp)
{
	struct volume *vs = volume_of(req);
	struct bupload *u = http_req_state(req);
	struct ts_err saved;

	http_req_set_state(req, NULL);
	if (image_blobs_commit(u->up, &u->size, u->sha512) == -1)
		goto fail;
	if (store_write(vs->store, done_fn, u) == -1) {
		saved = *err_last();
		(void)image_blobs_remove(vs->data, u->id);
		err_restore(&saved);
		goto fail;
	}
	log_info("backup %s available: %llu bytes", u->id,
	    (unsigned long long)u->size);
	bupload_free(&u);
	volume_kick(vs);
	return http_resp_status(resp, 204);
fail:
	saved = *err_last();
	bupload_free(&u);
	err_restore(&saved);
	return -1;
}

static void
data_abort(struct http_req *req)
{
	struct bupload *u = http_req_state(req);

	http_req_set_state(req, NULL);
	bupload_free(&u);
}

const struct http_stream_ops volume_backups_data_stream = {
	data_begin, data_data, data_end, data_abort
};

int
volume_backups_data_get(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume_backup b;
	uint64_t size;
	int fd, rc;

	if (data_backup(req, false, &b) == -1)
		return -1;
	rc = image_blobs_open(volume_of(req)->data, b.id, &fd, &size);
	codec_clear(&schema_rec_volume_backup, &b);
	if (rc == -1)
		return -1;
	return http_resp_file(resp, 200, NULL, fd, (off_t)size);
}

/* ---- the storage sync's side ------------------------------------------------- */

struct derive_ctx {
	struct store_txn *txn;
	int64_t		 now;
	int		(*cb)(const char *, const struct sch_sto_backup *,
			    void *);
	int		(*expired)(const char *, void *);
	void		*arg;
};

static int
derive_cb(struct rec_volume_backup *b, void *arg)
{
	struct derive_ctx *d = arg;
	bool restore = strcmp(b->status, "restoring") == 0;
	const char *vid = restore ? b->restore_volume_id : b->volume_id;
	struct sch_sto_backup op;
	struct rec_volume v;
	int rc = 0;

	if (!restore && strcmp(b->status, "creating") != 0)
		return 0;
	/* Past its deadline: not asked for any more, and ended after this
	 * read (volume_backups_expire()). */
	if (b->deadline != 0 && b->deadline <= d->now)
		return d->expired(b->id, d->arg);
	if (vid == NULL)
		return 0;
	if (volume_db_get(d->txn, vid, &v) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (v.host != NULL && *v.host != '\0') {
		memset(&op, 0, sizeof(op));
		memcpy(op.id, b->id, sizeof(op.id));
		snprintf(op.volume_id, sizeof(op.volume_id), "%s", vid);
		op.restore = restore;
		if (!restore)
			op.snapshot_id = b->snapshot_id;
		if (restore) {
			op.has_size = true;
			op.size = b->data_size;
			op.sha512 = b->sha512;
		}
		rc = d->cb(v.host, &op, d->arg);
	}
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_backups_derive(struct store_txn *txn, int64_t now,
    int (*cb)(const char *, const struct sch_sto_backup *, void *),
    int (*expired)(const char *, void *), void *arg)
{
	struct derive_ctx d = { txn, now, cb, expired, arg };

	return volume_db_backup_each(txn, NULL, derive_cb, &d);
}

int
volume_backups_report(struct store_txn *txn, const char *host,
    const struct sch_sto_backup_status *st, size_t n, unsigned *changed)
{
	for (size_t i = 0; i < n; i++) {
		struct rec_volume_backup b;
		struct rec_volume v;
		const char *vid, *why;
		bool ours;
		int64_t now = db_now_ms();
		int rc = 0;

		if (!st[i].done || (!st[i].restore && st[i].ok))
			continue;	/* a backup made ends with its upload */
		if (volume_db_backup_get(txn, st[i].id, &b) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		vid = st[i].restore ? b.restore_volume_id : b.volume_id;
		if (strcmp(b.status, st[i].restore ? "restoring" :
		    "creating") != 0 || vid == NULL) {
			codec_clear(&schema_rec_volume_backup, &b);
			continue;
		}
		if (volume_db_get(txn, vid, &v) == -1) {
			codec_clear(&schema_rec_volume_backup, &b);
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		ours = v.host != NULL && strcmp(v.host, host) == 0;
		codec_clear(&schema_rec_volume, &v);
		if (!ours) {
			codec_clear(&schema_rec_volume_backup, &b);
			continue;
		}
		why = st[i].message != NULL && *st[i].message != '\0' ?
		    st[i].message : "The storage host failed.";
		if (!st[i].restore) {
			log_warnx("backup %s: %s", b.id, why);
			rc = release_all(txn, &b, now) == -1 ||
			    codec_str_set(&b.status, "error") == -1 ||
			    codec_str_set(&b.fail_reason, why) == -1 ?
			    -1 : 0;
		} else if (st[i].ok) {
			log_info("backup %s restored into volume %s", b.id,
			    vid);
			rc = release_volume(txn, vid, "restoring-backup",
			    "available", now) == -1 ||
			    codec_str_set(&b.status, "available") == -1 ?
			    -1 : 0;
		} else {
			log_warnx("backup %s: restore into volume %s: %s",
			    b.id, vid, why);
			rc = release_all(txn, &b, now) == -1 ||
			    codec_str_set(&b.status, "available") == -1 ?
			    -1 : 0;
		}
		free(b.restore_volume_id);
		b.restore_volume_id = NULL;
		b.deadline = 0;
		b.updated_at = now;
		if (rc == 0)
			rc = volume_db_backup_put(txn, &b);
		codec_clear(&schema_rec_volume_backup, &b);
		if (rc == -1)
			return -1;
		(*changed)++;
	}
	return 0;
}
