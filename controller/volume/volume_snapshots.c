/*
 * volume_snapshots: the snapshots of the Block Storage API (Cinder v3):
 * list and detail, create (of an available volume, or an in-use one with
 * force; quota snapshots and gigabytes in the same write as the record),
 * show, update and delete. A snapshot lives on its volume's storage host;
 * the storage sync creates and removes it there (storesync.h).
 *
 * Visibility as for volumes: another project's snapshot is 404 to anyone
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
#include "log.h"
#include "volume_int.h"

static json_t *
nstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
snap_json(const struct rec_volume_snapshot *s, bool get)
{
	json_t *m = json_object(), *o;

	for (size_t i = 0; m != NULL && i < s->metadata.n; i++)
		json_object_set_new(m, s->metadata.items[i].k,
		    json_string(s->metadata.items[i].v));
	o = json_pack("{s:s, s:o, s:o, s:s, s:I, s:s, s:o, s:o, s:o*}",
	    "id", s->id, "name", nstr(s->name),
	    "description", nstr(s->description), "volume_id", s->volume_id,
	    "size", (json_int_t)s->size, "status", s->status,
	    "created_at", volume_time(s->created_at),
	    "updated_at", s->updated_at ? volume_time(s->updated_at) :
	    json_null(), "metadata", m);
	/* Cinder's extended snapshot attributes: admin or owner (the only
	 * callers who see the snapshot at all). */
	if (o != NULL && get) {
		json_object_set_new(o, "os-extended-snapshot-attributes:"
		    "project_id", json_string(s->project_id));
		json_object_set_new(o, "os-extended-snapshot-attributes:"
		    "progress", json_string(strcmp(s->status, "available") ==
		    0 ? "100%" : "0%"));
	}
	return o;
}

static int
snap_find(struct http_req *req, struct store_txn *txn, const char *rule,
    const char *id, struct rec_volume_snapshot *s)
{
	if (volume_db_snap_get(txn, id, s) == -1)
		return -1;
	if (volume_owner_check(req, rule, s->project_id, "Snapshot", id) == -1) {
		codec_clear(&schema_rec_volume_snapshot, s);
		return -1;
	}
	return 0;
}

static int
snap_check(struct http_req *req, const char *rule, const char *id,
    struct rec_volume_snapshot *s)
{
	struct store_txn *txn = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	if (store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	rc = snap_find(req, txn, rule, id, s);
	store_txn_end(&txn);
	return rc;
}

/* ---- lists ---------------------------------------------------------------- */

struct collect {
	json_t	*arr;
};

static int
collect_cb(struct rec_volume_snapshot *s, void *arg)
{
	struct collect *c = arg;
	json_t *o = snap_json(s, true);

	if (o == NULL || json_array_append_new(c->arr, o) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static const char *const sort_keys[] = { "id", "status", "size",
	"created_at", "updated_at", "name", "display_name", "volume_id",
	NULL };

static int
snap_list(struct http_req *req, struct http_resp *resp, bool summary)
{
	bool admin = volume_is_admin(req);
	bool all = admin && jsonreq_query_bool(JSONREQ_NOVA,
	    http_req_query(req, "all_tenants"));
	struct collect c = { 0 };
	struct store_txn *txn = NULL;
	int rc;

	if (volume_begin(req, resp, "volume:get_all_snapshots",
	    volume_caller(req)) == -1)
		return -1;
	if ((c.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (store_read_begin(volume_of(req)->store, &txn) == -1) {
		json_decref(c.arr);
		return -1;
	}
	rc = volume_db_snap_each(txn, all ? NULL : volume_caller(req),
	    collect_cb, &c);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(c.arr);
		return -1;
	}
	/* Cinder's snapshot summary is the detail view without the admin's
	 * extras: no links. */
	if (summary) {
		size_t i;
		json_t *o;

		json_array_foreach(c.arr, i, o) {
			json_object_del(o, "os-extended-snapshot-attributes:"
			    "project_id");
			json_object_del(o, "os-extended-snapshot-attributes:"
			    "progress");
		}
	}
	return volume_list_reply(req, resp, "snapshots", sort_keys, c.arr,
	    false, "name");
}

int
volume_snapshots_list(struct http_req *req, struct http_resp *resp)
{
	return snap_list(req, resp, true);
}

int
volume_snapshots_detail(struct http_req *req, struct http_resp *resp)
{
	return snap_list(req, resp, false);
}

int
volume_snapshots_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume_snapshot s;
	json_t *o;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    snap_check(req, "volume:get_snapshot", http_req_param(req,
	    "snapshot_id"), &s) == -1)
		return -1;
	o = snap_json(&s, true);
	codec_clear(&schema_rec_volume_snapshot, &s);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "snapshot", o));
}

/* ---- create ---------------------------------------------------------------- */

/* A name or description: a string of at most 255 characters, or null. */
static int
opt_str(json_t *o, const char *k, const char **out, bool *present)
{
	json_t *jv = json_object_get(o, k);

	*out = NULL;
	if (present != NULL)
		*present = jv != NULL;
	if (jv == NULL || json_is_null(jv))
		return 0;
	if (!json_is_string(jv) || json_string_length(jv) > 255 ||
	    strlen(json_string_value(jv)) != json_string_length(jv)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %.64s. is not a string of at most 255 characters",
		    k, json_is_string(jv) ? json_string_value(jv) : "?");
		return -1;
	}
	*out = json_string_value(jv);
	return 0;
}

struct screate {
	struct volume			*vs;
	bool				 admin, force;
	struct rec_volume_snapshot	 s;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct screate *c = arg;
	struct rec_volume v;
	int rc = -1;

	if (volume_db_get(txn, c->s.volume_id, &v) == -1)
		return -1;
	if (!c->admin && strcmp(v.project_id, c->s.project_id) != 0) {
		err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
		    c->s.volume_id);
		goto out;
	}
	if (strcmp(v.status, "available") != 0 && !(c->force &&
	    strcmp(v.status, "in-use") == 0)) {
		err_set(TS_EINVALID, "Invalid volume: Volume %s status must be "
		    "available%s, but current status is: %s.", v.id,
		    c->force ? " or in-use" : "", v.status);
		goto out;
	}
	c->s.size = v.size;
	if (volume_quota_check(c->vs, txn, v.project_id, 0, (int64_t)v.size,
	    1, 0) == -1)
		goto out;
	/* The snapshot belongs to the volume's project, as in Cinder. */
	if (codec_str_set(&c->s.project_id, v.project_id) == -1 ||
	    codec_str_set(&c->s.host, v.host) == -1 ||
	    codec_str_set(&c->s.status, v.host != NULL && *v.host !=
	    '\0' ? "creating" : "error") == -1)
		goto out;
	if (volume_db_snap_put(txn, &c->s) == -1 ||
	    volume_db_usage_add(txn, v.project_id, 0, (int64_t)v.size, 1) ==
	    -1)
		goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_snapshots_create(struct http_req *req, struct http_resp *resp)
{
	struct screate c = { .vs = volume_of(req) };
	json_t *body = http_req_json(req), *o, *jf, *jm, *out;
	const char *name, *dn, *desc, *dd, *vid;

	if (volume_begin(req, resp, "volume:create_snapshot",
	    volume_caller(req)) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "snapshot"))) {
		err_set(TS_EINVALID, "Missing required element 'snapshot' in "
		    "request body.");
		return -1;
	}
	if (opt_str(o, "name", &name, NULL) == -1 ||
	    opt_str(o, "display_name", &dn, NULL) == -1 ||
	    opt_str(o, "description", &desc, NULL) == -1 ||
	    opt_str(o, "display_description", &dd, NULL) == -1 ||
	    opt_str(o, "volume_id", &vid, NULL) == -1)
		return -1;
	if (vid == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "snapshot. Value: %s. 'volume_id' is a required property",
		    "{}");
		return -1;
	}
	if (!jsonreq_uuid_like(vid)) {
		err_set(TS_ENOT_FOUND, "Volume %.64s could not be found.", vid);
		return -1;
	}
	if ((jf = json_object_get(o, "force")) != NULL) {
		if (json_is_boolean(jf))
			c.force = json_is_true(jf);
		else if (json_is_string(jf) && (strcasecmp(json_string_value(
		    jf), "true") == 0 || strcasecmp(json_string_value(jf),
		    "false") == 0))
			c.force = strcasecmp(json_string_value(jf), "true") ==
			    0;
		else {
			err_set(TS_EINVALID, "Invalid input for field/"
			    "attribute force. Value: ?. is not a valid "
			    "boolean");
			return -1;
		}
	}
	if ((jm = json_object_get(o, "metadata")) != NULL &&
	    !json_is_null(jm) &&
	    volume_meta_parse(jm, &c.s.metadata, false) == -1) {
		codec_clear(&schema_rec_volume_snapshot, &c.s);
		return -1;
	}
	c.admin = volume_is_admin(req);
	db_uuid(c.s.id);
	snprintf(c.s.volume_id, sizeof(c.s.volume_id), "%s", vid);
	c.s.created_at = db_now_ms();
	if (codec_str_set(&c.s.project_id, volume_caller(req)) == -1 ||
	    codec_str_set(&c.s.user_id, volume_caller_user(req)) == -1 ||
	    codec_str_set(&c.s.name, name != NULL ? name : dn) == -1 ||
	    codec_str_set(&c.s.description, desc != NULL ? desc : dd) ==
	    -1 || store_write(c.vs->store, create_fn, &c) == -1) {
		codec_clear(&schema_rec_volume_snapshot, &c.s);
		return -1;
	}
	log_info("snapshot %s of volume %s: %s", c.s.id, c.s.volume_id,
	    c.s.status);
	volume_kick(c.vs);
	out = snap_json(&c.s, false);
	codec_clear(&schema_rec_volume_snapshot, &c.s);
	return http_resp_json(resp, 202, json_pack("{s:o*}", "snapshot", out));
}

/* ---- update and delete ------------------------------------------------------ */

struct sedit {
	const char			*id;
	const char			*name, *desc;
	bool				 has_name, has_desc, del;
	struct rec_volume_snapshot	 out;
};

static int
edit_fn(struct store_txn *txn, void *arg)
{
	struct sedit *e = arg;
	struct rec_volume_snapshot s;

	if (volume_db_snap_get(txn, e->id, &s) == -1)
		return -1;
	if (e->del) {
		if (strcmp(s.status, "available") != 0 &&
		    strcmp(s.status, "error") != 0 &&
		    strcmp(s.status, "error_deleting") != 0) {
			err_set(TS_EINVALID, "Invalid snapshot: Snapshot status "
			    "must be available or error and must not be part "
			    "of a group.");
			codec_clear(&schema_rec_volume_snapshot, &s);
			return -1;
		}
		if (s.host == NULL || *s.host == '\0') {
			int rc = volume_db_snap_del(txn, &s) == -1 ||
			    volume_db_usage_add(txn, s.project_id, 0,
			    -(int64_t)s.size, -1) == -1 ? -1 : 0;

			codec_clear(&schema_rec_volume_snapshot, &s);
			return rc;
		}
		if (codec_str_set(&s.status, "deleting") == -1) {
			codec_clear(&schema_rec_volume_snapshot, &s);
			return -1;
		}
	}
	if ((e->has_name && codec_str_set(&s.name, e->name) == -1) ||
	    (e->has_desc && codec_str_set(&s.description, e->desc) ==
	    -1)) {
		codec_clear(&schema_rec_volume_snapshot, &s);
		return -1;
	}
	s.updated_at = db_now_ms();
	if (volume_db_snap_put(txn, &s) == -1) {
		codec_clear(&schema_rec_volume_snapshot, &s);
		return -1;
	}
	e->out = s;
	return 0;
}

int
volume_snapshots_update(struct http_req *req, struct http_resp *resp)
{
	struct sedit e = { .id = http_req_param(req, "snapshot_id") };
	struct rec_volume_snapshot s;
	json_t *body = http_req_json(req), *o, *out;
	const char *dn, *dd;
	bool hdn, hdd;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    snap_check(req, "volume:update_snapshot", e.id, &s) == -1)
		return -1;
	codec_clear(&schema_rec_volume_snapshot, &s);
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "snapshot"))) {
		err_set(TS_EINVALID, "Missing required element 'snapshot' in "
		    "request body.");
		return -1;
	}
	if (opt_str(o, "name", &e.name, &e.has_name) == -1 ||
	    opt_str(o, "description", &e.desc, &e.has_desc) == -1 ||
	    opt_str(o, "display_name", &dn, &hdn) == -1 ||
	    opt_str(o, "display_description", &dd, &hdd) == -1)
		return -1;
	if (!e.has_name && hdn) {
		e.name = dn;
		e.has_name = true;
	}
	if (!e.has_desc && hdd) {
		e.desc = dd;
		e.has_desc = true;
	}
	if (store_write(volume_of(req)->store, edit_fn, &e) == -1)
		return -1;
	out = snap_json(&e.out, false);
	codec_clear(&schema_rec_volume_snapshot, &e.out);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "snapshot", out));
}

int
volume_snapshots_delete(struct http_req *req, struct http_resp *resp)
{
	struct sedit e = { .id = http_req_param(req, "snapshot_id"),
	    .del = true };
	struct rec_volume_snapshot s;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    snap_check(req, "volume:delete_snapshot", e.id, &s) == -1)
		return -1;
	codec_clear(&schema_rec_volume_snapshot, &s);
	if (store_write(volume_of(req)->store, edit_fn, &e) == -1)
		return -1;
	log_info("snapshot %s: %s", e.id, e.out.status != NULL ?
	    e.out.status : "deleted");
	codec_clear(&schema_rec_volume_snapshot, &e.out);
	volume_kick(volume_of(req));
	return http_resp_status(resp, 202);
}
