/*
 * volume_attachments: Cinder's attachments API (microversion 3.27, and
 * os-complete since 3.44) and the legacy connection actions
 * (os-initialize_connection, os-terminate_connection), over the same
 * vol_attachment records Nova's internal path makes (volume_attach.c).
 *
 * An attachment is kept in its volume's record; its id is found by
 * scanning the caller's project's volumes (the admin's: every volume).
 * A connector names the initiator: the attachment then carries it and
 * fresh CHAP credentials, and the storage sync exports the volume to that
 * initiator with them (storesync.h). The connection info is answered at
 * once: it is deterministic (target iqn = prefix + volume id, LUN 1, the
 * storage host's portal, the attachment's CHAP), while the export itself
 * follows asynchronously, as with a real Cinder whose os-brick retries
 * its login until the target accepts it. Deleting the attachment (or
 * os-terminate_connection for its initiator) takes the export, its ACL
 * and its CHAP account away.
 *
 * States: attachment reserved (no connector) -> attaching (connector) ->
 * attached (os-complete); the volume reserved -> attaching -> in-use, and
 * available again when its last attachment is deleted.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "http/jsonreq.h"
#include "http/request.h"
#include "log.h"
#include "volume_int.h"

#define MV_ATTACH	27	/* NEW_ATTACH */
#define MV_COMPLETE	44	/* NEW_ATTACH_COMPLETION */

/* ---- views -------------------------------------------------------------- */

/* The connection info of attachment a of v (portal: the storage host's);
 * NULL with err set when it cannot be built. */
static json_t *
conn_json(const struct rec_volume *v, const struct sch_vol_attachment *a,
    const char *portal)
{
	char iqn[300];

	snprintf(iqn, sizeof(iqn), VOLUME_IQN_PREFIX "%s", v->id);
	return json_pack("{s:s, s:{s:b, s:s, s:s, s:I, s:s, s:s, s:s, s:s, "
	    "s:s, s:b, s:n, s:b, s:b}}",
	    "driver_volume_type", "iscsi", "data",
	    "target_discovered", 0, "target_portal", portal,
	    "target_iqn", iqn, "target_lun", (json_int_t)VOLUME_LUN,
	    "volume_id", v->id, "auth_method", "CHAP",
	    "auth_username", a->chap_user ? a->chap_user : "",
	    "auth_password", a->chap_secret ? a->chap_secret : "",
	    "access_mode", v->readonly || strcmp(a->mode, "ro") == 0 ? "ro" :
	    "rw", "encrypted", 0, "qos_specs", "cacheable", 0, "discard", 0);
}

static bool
has_conn(const struct sch_vol_attachment *a)
{
	return a->initiator != NULL && *a->initiator != '\0';
}

/* Cinder's attachment views: summary (id, status, instance, volume_id) or
 * detail (and attached_at, detached_at, attach_mode, connection_info). */
static json_t *
att_json(const struct rec_volume *v, const struct sch_vol_attachment *a,
    bool detail, const char *portal)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s}", "id", a->id, "status",
	    a->status, "instance", a->server_id, "volume_id", v->id);
	if (o == NULL || !detail)
		return o;
	json_object_set_new(o, "attached_at", a->attached_at ?
	    volume_time(a->attached_at) : json_string(""));
	json_object_set_new(o, "detached_at", json_string(""));
	json_object_set_new(o, "attach_mode", json_string(a->mode));
	json_object_set_new(o, "connection_info", has_conn(a) && portal !=
	    NULL && *portal != '\0' ? conn_json(v, a, portal) : json_null());
	return o;
}

/* The portal of v's storage host, inside txn ("" when it never
 * reported). */
static int
portal_of(struct store_txn *txn, const struct rec_volume *v, char *out,
    size_t len)
{
	struct rec_storage_host h;

	out[0] = '\0';
	if (v->host == NULL || *v->host == '\0')
		return 0;
	if (volume_db_host_get(txn, v->host, &h) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		err_clear();
		return 0;
	}
	snprintf(out, len, "%s", h.portal);
	codec_clear(&schema_rec_storage_host, &h);
	return 0;
}

/* ---- lookups ------------------------------------------------------------ */

static struct sch_vol_attachment *
att_in(struct rec_volume *v, const char *id)
{
	for (size_t i = 0; i < v->attachments.n; i++)
		if (strcmp(v->attachments.items[i].id, id) == 0)
			return &v->attachments.items[i];
	return NULL;
}

struct afind {
	const char		*id;
	char			 volume_id[37];
};

static int
afind_cb(struct rec_volume *v, void *arg)
{
	struct afind *f = arg;

	if (att_in(v, f->id) == NULL)
		return 0;
	snprintf(f->volume_id, sizeof(f->volume_id), "%s", v->id);
	return 1;
}

/* The volume holding attachment id as the caller may see it (the
 * caller's project's, the admin's any), in txn; 404 as Cinder's
 * VolumeAttachmentNotFound otherwise. */
static int
att_find(struct http_req *req, struct store_txn *txn, const char *id,
    struct rec_volume *v)
{
	struct afind f = { .id = id };

	memset(v, 0, sizeof(*v));
	if (id == NULL || volume_db_each(txn, volume_is_admin(req) ? NULL :
	    volume_caller(req), afind_cb, &f) == -1)
		return -1;
	if (f.volume_id[0] == '\0') {
		err_set(TS_ENOT_FOUND, "Volume attachment %.64s could not be "
		    "found.", id != NULL ? id : "");
		return -1;
	}
	return volume_db_get(txn, f.volume_id, v);
}

/* att_find() in a read snapshot of its own, then rule on the volume's
 * project: what a handler checks before it reads a body. */
static int
att_visible(struct http_req *req, const char *id, const char *rule)
{
	struct request_target t = { .n = 0 };
	struct store_txn *txn = NULL;
	struct rec_volume v;
	int rc;

	if (store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	rc = att_find(req, txn, id, &v);
	store_txn_end(&txn);
	if (rc == 0 && (request_target_add(&t, "project_id", v.project_id) ==
	    -1 || request_enforce(req, rule, &t) == -1))
		rc = -1;
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

/* The microversion check of an attachments route: below 3.27 the route
 * does not exist (Cinder's VersionNotFoundForAPIMethod, a 404). */
static int
att_begin(struct http_req *req, struct http_resp *resp, int min,
    const char *rule)
{
	if (volume_begin(req, resp, rule, rule != NULL ? volume_caller(req) :
	    NULL) == -1)
		return -1;
	if (volume_req_mv(req) < min) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	return 0;
}

/* ---- the connector ------------------------------------------------------- */

struct connector {
	const char	*initiator;
	const char	*host;
	const char	*mountpoint;	/* NULL: none */
	const char	*mode;		/* NULL: the volume's */
};

static bool
iqn_chars(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == ':' ||
		    *s == '-'))
			return false;
	return true;
}

static int
str_member(json_t *o, const char *k, size_t max, const char **out)
{
	json_t *j = json_object_get(o, k);

	*out = NULL;
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_string(j) || json_string_length(j) > max) {
		err_set(TS_EINVALID, "Invalid input received: connector %s "
		    "must be a string of at most %zu characters.", k, max);
		return -1;
	}
	*out = json_string_value(j);
	return 0;
}

/* An os-brick connector: an iSCSI one needs its initiator (the ACL's
 * name: iqn/eui characters only, it reaches tgtadm). */
static int
parse_connector(json_t *j, struct connector *c)
{
	memset(c, 0, sizeof(*c));
	if (!json_is_object(j) || json_object_size(j) == 0) {
		err_set(TS_EINVALID, "Invalid input received: connector must "
		    "be an object with at least one property.");
		return -1;
	}
	if (str_member(j, "initiator", 223, &c->initiator) == -1 ||
	    str_member(j, "host", 255, &c->host) == -1 ||
	    str_member(j, "mountpoint", 32, &c->mountpoint) == -1 ||
	    str_member(j, "mode", 4, &c->mode) == -1)
		return -1;
	if (c->initiator == NULL || *c->initiator == '\0' ||
	    !iqn_chars(c->initiator)) {
		err_set(TS_EINVALID, "Invalid input received: connector must "
		    "name an iSCSI initiator (iqn/eui characters).");
		return -1;
	}
	if (c->mode != NULL && strcmp(c->mode, "rw") != 0 &&
	    strcmp(c->mode, "ro") != 0) {
		err_set(TS_EINVALID, "Invalid input received: Invalid attaching "
		    "mode '%.8s'.", c->mode);
		return -1;
	}
	return 0;
}

/* a takes connector c: its initiator, host, device and mode, and CHAP
 * credentials of its own unless it has them (a reconnect keeps them). */
static int
att_connect(struct rec_volume *v, struct sch_vol_attachment *a,
    const struct connector *c)
{
	char user[21], secret[21];
	int rc = -1;

	if (a->chap_user == NULL || *a->chap_user == '\0') {
		if (volume_chap(user, secret) == -1)
			return -1;
		if (codec_str_set(&a->chap_user, user) == -1 ||
		    codec_str_set(&a->chap_secret, secret) == -1)
			goto out;
	}
	if (codec_str_set(&a->initiator, c->initiator) == -1 ||
	    codec_str_set(&a->host_name, c->host ? c->host : "") == -1 ||
	    (c->mountpoint != NULL && codec_str_set(&a->device,
	    c->mountpoint) == -1) ||
	    (c->mode != NULL && codec_str_set(&a->mode, c->mode) == -1))
		goto out;
	if (v->readonly && codec_str_set(&a->mode, "ro") == -1)
		goto out;
	v->generation++;
	rc = 0;
out:
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* ---- create ------------------------------------------------------------- */

struct acreate {
	struct http_req		*req;
	const char		*volume_id, *instance;
	struct connector	 c;
	bool			 has_conn;
	json_t			*out;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct acreate *x = arg;
	struct rec_volume v, old;
	struct sch_vol_attachment *a;
	char aid[37], portal[256];
	void *nv;
	int rc = -1;

	memset(&old, 0, sizeof(old));
	if (volume_db_get(txn, x->volume_id, &v) == -1)
		return -1;
	if (strcmp(v.project_id, volume_caller(x->req)) != 0 &&
	    !volume_is_admin(x->req)) {
		err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
		    x->volume_id);
		goto out;
	}
	{
		struct request_target t = { .n = 0 };

		if (request_target_add(&t, "project_id", v.project_id) == -1 ||
		    request_enforce(x->req, "volume:attachment_create", &t) ==
		    -1)
			goto out;
	}
	if (strcmp(v.status, "available") != 0 && !(v.multiattach &&
	    (strcmp(v.status, "in-use") == 0 ||
	    strcmp(v.status, "reserved") == 0 ||
	    strcmp(v.status, "attaching") == 0))) {
		err_set(TS_EINVALID, "Invalid volume: Volume %s status must be "
		    "%s", v.id, v.multiattach ? "available or in-use or "
		    "downloading or reserved" : "available or downloading");
		goto out;
	}
	if (v.attachments.n >= 16) {
		err_set(TS_EINVALID, "Invalid volume: Volume %s cannot take "
		    "another attachment.", v.id);
		goto out;
	}
	if (volume_db_get(txn, x->volume_id, &old) == -1)
		goto out;
	if ((nv = realloc(v.attachments.items, (v.attachments.n + 1) *
	    sizeof(*a))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	v.attachments.items = nv;
	a = &v.attachments.items[v.attachments.n++];
	memset(a, 0, sizeof(*a));
	db_uuid(a->id);
	snprintf(aid, sizeof(aid), "%s", a->id);
	snprintf(a->server_id, sizeof(a->server_id), "%s", x->instance);
	if (codec_str_set(&a->host_name, "") == -1 ||
	    codec_str_set(&a->initiator, "") == -1 ||
	    codec_str_set(&a->status, x->has_conn ? "attaching" :
	    "reserved") == -1 ||
	    codec_str_set(&a->mode, v.readonly ? "ro" : "rw") == -1 ||
	    codec_str_set(&a->chap_user, "") == -1 ||
	    codec_str_set(&a->chap_secret, "") == -1)
		goto out;
	if (x->has_conn && att_connect(&v, a, &x->c) == -1)
		goto out;
	/* A multiattach volume already in use stays in-use. */
	if (strcmp(v.status, "in-use") != 0 && codec_str_set(&v.status,
	    x->has_conn ? "attaching" : "reserved") == -1)
		goto out;
	v.generation++;
	v.updated_at = db_now_ms();
	if (volume_db_put(txn, &old, &v) == -1 ||
	    portal_of(txn, &v, portal, sizeof(portal)) == -1)
		goto out;
	if (x->has_conn && portal[0] == '\0') {
		err_set(TS_EINVALID, "Invalid volume: Volume %s has no iSCSI "
		    "portal yet.", v.id);
		goto out;
	}
	x->out = att_json(&v, att_in(&v, aid), true, portal);
	rc = x->out != NULL ? 0 : -1;
	if (rc == -1)
		err_set(TS_ENOMEM, "out of memory");
out:
	codec_clear(&schema_rec_volume, &old);
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

/* Cinder's schema errors: "Invalid input for field/attribute X. ..." */
static int
bad_input(const char *field, const char *why)
{
	err_set(TS_EINVALID, "Invalid input for field/attribute %s. %s",
	    field, why);
	return -1;
}

int
volume_attachments_create(struct http_req *req, struct http_resp *resp)
{
	json_t *body = http_req_json(req), *att, *jv;
	struct acreate x = { .req = req };
	const char *k;

	if (att_begin(req, resp, MV_ATTACH, NULL) == -1)
		return -1;
	if (!json_is_object(body) || (att = json_object_get(body,
	    "attachment")) == NULL)
		return bad_input("attachment", "'attachment' is a required "
		    "property");
	if (json_object_size(body) != 1)
		return bad_input("attachment", "Additional properties are not "
		    "allowed");
	if (!json_is_object(att))
		return bad_input("attachment", "Value is not of type 'object'");
	json_object_foreach(att, k, jv) {
		if (strcmp(k, "instance_uuid") != 0 &&
		    strcmp(k, "volume_uuid") != 0 &&
		    strcmp(k, "connector") != 0) {
			/* mode is a 3.54 member, beyond what is served */
			return bad_input("attachment", "Additional properties "
			    "are not allowed");
		}
	}
	jv = json_object_get(att, "volume_uuid");
	if (jv == NULL)
		return bad_input("attachment", "'volume_uuid' is a required "
		    "property");
	if (!json_is_string(jv) || !jsonreq_uuid_like(json_string_value(jv)))
		return bad_input("volume_uuid", "Value is not a valid UUID");
	x.volume_id = json_string_value(jv);
	jv = json_object_get(att, "instance_uuid");
	if (jv == NULL || json_is_null(jv)) {
		err_set(TS_EINVALID, "Must specify 'instance_uuid' to create "
		    "attachment.");
		return -1;
	}
	if (!json_is_string(jv) || !jsonreq_uuid_like(json_string_value(jv)))
		return bad_input("instance_uuid", "Value is not a valid UUID");
	x.instance = json_string_value(jv);
	jv = json_object_get(att, "connector");
	if (jv != NULL && !json_is_null(jv)) {
		if (!json_is_object(jv))
			return bad_input("connector", "Value is not of type "
			    "'object', 'null'");
		if (parse_connector(jv, &x.c) == -1)
			return -1;
		x.has_conn = true;
	}
	if (store_write(volume_of(req)->store, create_fn, &x) == -1)
		return -1;
	log_info("volume %s: attachment %s for %s", x.volume_id,
	    json_string_value(json_object_get(x.out, "id")), x.instance);
	volume_kick(volume_of(req));
	return http_resp_json(resp, 200, json_pack("{s:o}", "attachment",
	    x.out));
}

/* ---- show and list ------------------------------------------------------ */

int
volume_attachments_show(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "attachment_id");
	struct request_target t = { .n = 0 };
	struct store_txn *txn = NULL;
	struct rec_volume v;
	char portal[256];
	json_t *o = NULL;

	if (att_begin(req, resp, MV_ATTACH, NULL) == -1 ||
	    store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	if (att_find(req, txn, id, &v) == 0 &&
	    request_target_add(&t, "project_id", v.project_id) == 0 &&
	    request_enforce(req, "volume:get", &t) == 0 &&
	    portal_of(txn, &v, portal, sizeof(portal)) == 0)
		o = att_json(&v, att_in(&v, id), true, portal);
	store_txn_end(&txn);
	codec_clear(&schema_rec_volume, &v);
	if (o == NULL)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}", "attachment", o));
}

struct alist {
	struct store_txn	*txn;
	json_t			*arr;
	bool			 detail;
	const char		*volume_id, *instance;
};

static int
list_cb(struct rec_volume *v, void *arg)
{
	struct alist *l = arg;
	char portal[256] = "";

	if (l->volume_id != NULL && strcmp(v->id, l->volume_id) != 0)
		return 0;
	if (l->detail && portal_of(l->txn, v, portal, sizeof(portal)) == -1)
		return -1;
	for (size_t i = 0; i < v->attachments.n; i++) {
		const struct sch_vol_attachment *a = &v->attachments.items[i];

		if (l->instance != NULL && strcmp(a->server_id,
		    l->instance) != 0)
			continue;
		if (json_array_append_new(l->arr, att_json(v, a, l->detail,
		    portal)) == -1) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
	}
	return 0;
}

static const char *const att_sort_keys[] = { "id", "status", "volume_id",
	"instance", "created_at", NULL };

static int
att_list(struct http_req *req, struct http_resp *resp, bool detail)
{
	bool all = volume_is_admin(req) && jsonreq_query_bool(JSONREQ_NOVA,
	    http_req_query(req, "all_tenants"));
	struct alist l = { .detail = detail };
	int rc;

	if (att_begin(req, resp, MV_ATTACH, "volume:get_all") == -1)
		return -1;
	l.volume_id = http_req_query(req, "volume_id");
	l.instance = http_req_query(req, "instance_id");
	if ((l.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (store_read_begin(volume_of(req)->store, &l.txn) == -1) {
		json_decref(l.arr);
		return -1;
	}
	rc = volume_db_each(l.txn, all ? NULL : volume_caller(req), list_cb,
	    &l);
	store_txn_end(&l.txn);
	if (rc == -1) {
		json_decref(l.arr);
		return -1;
	}
	/* status (and Cinder's alias attach_status) filter like a volume's */
	return volume_list_reply(req, resp, "attachments", att_sort_keys,
	    l.arr, false, "id");
}

int
volume_attachments_list(struct http_req *req, struct http_resp *resp)
{
	return att_list(req, resp, false);
}

int
volume_attachments_detail(struct http_req *req, struct http_resp *resp)
{
	return att_list(req, resp, true);
}

/* ---- update, complete, delete ------------------------------------------- */

struct aedit {
	struct http_req		*req;
	const char		*id;
	const char		*rule;
	struct connector	 c;
	int			 op;	/* OP_* */
	json_t			*out;
};

enum { OP_UPDATE, OP_COMPLETE, OP_DELETE };

static int
edit_fn(struct store_txn *txn, void *arg)
{
	struct aedit *x = arg;
	struct request_target t = { .n = 0 };
	struct rec_volume v, old;
	struct sch_vol_attachment *a;
	char portal[256];
	int rc = -1;

	memset(&old, 0, sizeof(old));
	if (att_find(x->req, txn, x->id, &v) == -1)
		return -1;
	if (request_target_add(&t, "project_id", v.project_id) == -1 ||
	    request_enforce(x->req, x->rule, &t) == -1)
		goto out;
	if (x->op == OP_DELETE) {
		struct volume *vs = volume_of(x->req);
		char vid[37];
		json_t *arr;

		snprintf(vid, sizeof(vid), "%s", v.id);
		codec_clear(&schema_rec_volume, &v);
		if (volume_detach_done(vs, txn, vid, x->id) == -1 ||
		    volume_db_get(txn, vid, &v) == -1)
			return -1;
		if ((arr = json_array()) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < v.attachments.n; i++)
			json_array_append_new(arr, att_json(&v,
			    &v.attachments.items[i], false, NULL));
		x->out = arr;
		rc = 0;
		goto out;
	}
	if (volume_db_get(txn, v.id, &old) == -1)
		goto out;
	a = att_in(&v, x->id);
	if (x->op == OP_UPDATE) {
		if (strcmp(a->status, "detaching") == 0) {
			err_set(TS_EINVALID, "Invalid volume: attachment %s is "
			    "detaching.", a->id);
			goto out;
		}
		if (att_connect(&v, a, &x->c) == -1)
			goto out;
		if (strcmp(a->status, "reserved") == 0 &&
		    codec_str_set(&a->status, "attaching") == -1)
			goto out;
		if (strcmp(v.status, "reserved") == 0 &&
		    codec_str_set(&v.status, "attaching") == -1)
			goto out;
	} else {
		/* os-complete: as Cinder, whatever the state was */
		if (codec_str_set(&a->status, "attached") == -1 ||
		    codec_str_set(&v.status, "in-use") == -1)
			goto out;
		if (a->attached_at == 0)
			a->attached_at = db_now_ms();
	}
	v.updated_at = db_now_ms();
	if (volume_db_put(txn, &old, &v) == -1 ||
	    portal_of(txn, &v, portal, sizeof(portal)) == -1)
		goto out;
	if (x->op == OP_UPDATE && portal[0] == '\0') {
		err_set(TS_EINVALID, "Invalid volume: Volume %s has no iSCSI "
		    "portal yet.", v.id);
		goto out;
	}
	if (x->op == OP_UPDATE &&
	    (x->out = att_json(&v, a, true, portal)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_volume, &old);
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_attachments_update(struct http_req *req, struct http_resp *resp)
{
	json_t *body = http_req_json(req), *att, *jc;
	struct aedit x = { .req = req, .op = OP_UPDATE,
	    .rule = "volume:attachment_update" };

	x.id = http_req_param(req, "attachment_id");
	if (att_begin(req, resp, MV_ATTACH, NULL) == -1)
		return -1;
	/* Not found and refused before the body's errors: a caller who may
	 * not see or change the attachment learns nothing from them. */
	if (att_visible(req, x.id, x.rule) == -1)
		return -1;
	if (!json_is_object(body) || (att = json_object_get(body,
	    "attachment")) == NULL)
		return bad_input("attachment", "'attachment' is a required "
		    "property");
	if (json_object_size(body) != 1 || !json_is_object(att) ||
	    json_object_size(att) != 1 || (jc = json_object_get(att,
	    "connector")) == NULL)
		return bad_input("attachment", "'connector' is a required "
		    "property and the only one allowed");
	if (parse_connector(jc, &x.c) == -1)
		return -1;
	if (store_write(volume_of(req)->store, edit_fn, &x) == -1)
		return -1;
	log_info("volume attachment %s: connector %s", x.id, x.c.initiator);
	volume_kick(volume_of(req));
	return http_resp_json(resp, 200, json_pack("{s:o}", "attachment",
	    x.out));
}

int
volume_attachments_action(struct http_req *req, struct http_resp *resp)
{
	json_t *body = http_req_json(req);
	struct aedit x = { .req = req, .op = OP_COMPLETE,
	    .rule = "volume:attachment_complete" };
	const char *k;

	x.id = http_req_param(req, "attachment_id");
	if (att_begin(req, resp, MV_COMPLETE, NULL) == -1)
		return -1;
	if (att_visible(req, x.id, x.rule) == -1)
		return -1;
	if (!json_is_object(body) || json_object_size(body) != 1) {
		err_set(TS_EINVALID, "Invalid request body: one action "
		    "expected.");
		return -1;
	}
	k = json_object_iter_key(json_object_iter(body));
	if (strcmp(k, "os-complete") != 0) {
		err_set(TS_EINVALID, "There is no such action: %.64s", k);
		return -1;
	}
	if (store_write(volume_of(req)->store, edit_fn, &x) == -1)
		return -1;
	log_info("volume attachment %s: complete", x.id);
	volume_kick(volume_of(req));
	return http_resp_status(resp, 204);
}

int
volume_attachments_delete(struct http_req *req, struct http_resp *resp)
{
	struct aedit x = { .req = req, .op = OP_DELETE,
	    .rule = "volume:attachment_delete" };

	x.id = http_req_param(req, "attachment_id");
	if (att_begin(req, resp, MV_ATTACH, NULL) == -1)
		return -1;
	if (store_write(volume_of(req)->store, edit_fn, &x) == -1)
		return -1;
	log_info("volume attachment %s: deleted", x.id);
	volume_kick(volume_of(req));
	return http_resp_json(resp, 200, json_pack("{s:o}", "attachments",
	    x.out));
}

/* ---- the legacy connection actions --------------------------------------- */

/*
 * os-initialize_connection {"connector": {...}}: the connection of that
 * initiator: the attachment that already names it (a reconnect, or the
 * one os-attach completed), else a new one of no instance yet, attaching
 * (os-attach adopts it). The volume's status is the flips' business
 * (os-reserve, os-attach): unchanged here.
 */
int
volume_conn_initialize(struct store_txn *txn, struct rec_volume *v,
    json_t *a, json_t **out)
{
	struct connector c;
	struct sch_vol_attachment *at = NULL;
	char portal[256];
	json_t *jc;
	void *nv;

	if (!json_is_object(a) || (jc = json_object_get(a, "connector")) ==
	    NULL) {
		err_set(TS_EINVALID, "Invalid input received: Must specify "
		    "'connector'");
		return -1;
	}
	if (parse_connector(jc, &c) == -1)
		return -1;
	if (strcmp(v->status, "available") != 0 &&
	    strcmp(v->status, "reserved") != 0 &&
	    strcmp(v->status, "attaching") != 0 &&
	    strcmp(v->status, "in-use") != 0) {
		err_set(TS_EINVALID, "Invalid volume: Volume %s status must be "
		    "available, reserved, attaching or in-use to initialize "
		    "a connection, but current status is: %s.", v->id,
		    v->status);
		return -1;
	}
	if (portal_of(txn, v, portal, sizeof(portal)) == -1)
		return -1;
	if (portal[0] == '\0') {
		err_set(TS_EINVALID, "Invalid volume: Volume %s has no iSCSI "
		    "portal yet.", v->id);
		return -1;
	}
	for (size_t i = 0; i < v->attachments.n && at == NULL; i++)
		if (has_conn(&v->attachments.items[i]) && strcmp(
		    v->attachments.items[i].initiator, c.initiator) == 0)
			at = &v->attachments.items[i];
	if (at == NULL) {
		if (v->attachments.n >= 16) {
			err_set(TS_EINVALID, "Invalid volume: Volume %s has "
			    "too many attachments.", v->id);
			return -1;
		}
		if ((nv = realloc(v->attachments.items, (v->attachments.n +
		    1) * sizeof(*at))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		v->attachments.items = nv;
		at = &v->attachments.items[v->attachments.n++];
		memset(at, 0, sizeof(*at));
		db_uuid(at->id);
		snprintf(at->server_id, sizeof(at->server_id), VOLUME_NO_SERVER);
		if (codec_str_set(&at->status, "attaching") == -1 ||
		    codec_str_set(&at->mode, v->readonly ? "ro" : "rw") ==
		    -1 || codec_str_set(&at->chap_user, "") == -1 ||
		    codec_str_set(&at->chap_secret, "") == -1)
			return -1;
	}
	if (att_connect(v, at, &c) == -1)
		return -1;
	if ((*out = json_pack("{s:o}", "connection_info", conn_json(v, at,
	    portal))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * os-terminate_connection {"connector": {...}}: that initiator's export
 * goes (its ACL and CHAP account with it): a connection no instance took
 * is removed, an attached one keeps its record (os-detach's) without the
 * initiator. An initiator with no connection: nothing to do, as Cinder.
 */
int
volume_conn_terminate(struct store_txn *txn, struct rec_volume *v,
    json_t *a)
{
	struct connector c;
	json_t *jc;
	size_t k = 0;
	bool changed = false;

	(void)txn;
	if (!json_is_object(a) || (jc = json_object_get(a, "connector")) ==
	    NULL) {
		err_set(TS_EINVALID, "Invalid input received: Must specify "
		    "'connector'");
		return -1;
	}
	if (parse_connector(jc, &c) == -1)
		return -1;
	for (size_t i = 0; i < v->attachments.n; i++) {
		struct sch_vol_attachment *at = &v->attachments.items[i];

		if (!has_conn(at) || strcmp(at->initiator, c.initiator) != 0) {
			v->attachments.items[k++] = *at;
			continue;
		}
		changed = true;
		if (at->chap_secret != NULL)
			explicit_bzero(at->chap_secret, strlen(at->chap_secret));
		if (strcmp(at->server_id, VOLUME_NO_SERVER) == 0 &&
		    strcmp(at->status, "attached") != 0) {
			codec_clear(&schema_sch_vol_attachment, at);
			continue;
		}
		if (codec_str_set(&at->initiator, "") == -1 ||
		    codec_str_set(&at->chap_user, "") == -1 ||
		    codec_str_set(&at->chap_secret, "") == -1) {
			/* keep the list whole for the caller's clear */
			for (size_t j = i; j < v->attachments.n; j++)
				v->attachments.items[k++] =
				    v->attachments.items[j];
			v->attachments.n = k;
			return -1;
		}
		v->attachments.items[k++] = *at;
	}
	v->attachments.n = k;
	if (k == 0) {
		free(v->attachments.items);
		v->attachments.items = NULL;
	}
	if (changed)
		v->generation++;
	return changed ? 0 : 1;
}
