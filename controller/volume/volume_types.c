/*
 * volume_types: Cinder's volume types and their extra specs (types,
 * types_manage, types_extra_specs), and the lookups volume create and
 * placement make; see volume_int.h. The built-in __DEFAULT__ type has no
 * record: it is public, has no extra specs and cannot be changed or
 * deleted. Admin-made types are rec_volume_type records.
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
#include "msg_gen.h"
#include "store.h"
#include "volume_db.h"
#include "volume_int.h"

#define BACKEND_SPEC	"volume_backend_name"

static bool
is_default(const char *ref)
{
	return strcmp(ref, VOLUME_TYPE_ID) == 0 ||
	    strcmp(ref, VOLUME_TYPE_NAME) == 0;
}

/* ---- lookups -------------------------------------------------------------- */

struct by_name {
	const char		*name;
	const char		*skip_id;	/* the type being renamed */
	struct rec_volume_type	*out;
	bool			 found;
};

static int
by_name_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct by_name *b = arg;
	struct rec_volume_type t;

	(void)k;
	(void)kl;
	memset(&t, 0, sizeof(t));
	if (codec_record_decode(&schema_rec_volume_type, v, vl, &t, NULL) ==
	    -1)
		return -1;
	if (strcmp(t.name, b->name) != 0 || (b->skip_id != NULL &&
	    strcmp(t.id, b->skip_id) == 0)) {
		codec_clear(&schema_rec_volume_type, &t);
		return 0;
	}
	b->found = true;
	if (b->out != NULL)
		*b->out = t;
	else
		codec_clear(&schema_rec_volume_type, &t);
	return 1;
}

static int	not_found_as(const char *, bool);

static int
not_found(const char *ref)
{
	return not_found_as(ref, jsonreq_uuid_like(ref));
}

/* Cinder's /types/{id} looks up ids only: its message names the id. */
static int
not_found_as(const char *ref, bool id)
{
	if (id)
		err_set(TS_ENOT_FOUND, "Volume type %.255s could not be found.",
		    ref);
	else
		err_set(TS_ENOT_FOUND, "Volume type with name %.255s could not "
		    "be found.", ref);
	return -1;
}

/* The stored type of id or name ref (zeroed first): Cinder's
 * get_by_name_or_id() messages when absent. */
static int
type_get(struct store_txn *txn, const char *ref, struct rec_volume_type *t,
    bool url)
{
	struct by_name b = { .name = ref, .out = t };

	memset(t, 0, sizeof(*t));
	if (jsonreq_uuid_like(ref)) {
		if (db_rec_get(txn, T_VOLUME_TYPES, ref, &schema_rec_volume_type,
		    t) == 0)
			return 0;
		if (err_code() != TS_ENOT_FOUND)
			return -1;
	}
	if (store_iter(txn, T_VOLUME_TYPES, NULL, 0, by_name_cb, &b) == -1)
		return -1;
	if (b.found)
		return 0;
	return url ? not_found_as(ref, true) : not_found(ref);
}

static const char *
spec_of(const struct rec_volume_type *t, const char *key)
{
	for (size_t i = 0; i < t->extra_specs.n; i++)
		if (strcmp(t->extra_specs.items[i].k, key) == 0)
			return t->extra_specs.items[i].v;
	return NULL;
}

int
volume_type_resolve(struct store_txn *txn, const char *ref, bool admin,
    char id[37], char *backend, size_t blen)
{
	struct rec_volume_type t;
	const char *b;

	backend[0] = '\0';
	if (ref == NULL || is_default(ref)) {
		snprintf(id, 37, "%s", VOLUME_TYPE_ID);
		return 0;
	}
	if (type_get(txn, ref, &t, false) == -1)
		return -1;
	/* A private type is not there for a project without access (no
	 * project has access here: type access lists are not kept). */
	if (!t.is_public && !admin) {
		codec_clear(&schema_rec_volume_type, &t);
		return not_found(ref);
	}
	snprintf(id, 37, "%s", t.id);
	if ((b = spec_of(&t, BACKEND_SPEC)) != NULL)
		snprintf(backend, blen, "%s", b);
	codec_clear(&schema_rec_volume_type, &t);
	return 0;
}

int
volume_type_backend(struct store_txn *txn, const char *id, char *backend,
    size_t blen)
{
	struct rec_volume_type t;
	const char *b;

	backend[0] = '\0';
	if (id == NULL || is_default(id))
		return 0;
	if (db_rec_get(txn, T_VOLUME_TYPES, id, &schema_rec_volume_type,
	    &t) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if ((b = spec_of(&t, BACKEND_SPEC)) != NULL)
		snprintf(backend, blen, "%s", b);
	codec_clear(&schema_rec_volume_type, &t);
	return 0;
}

void
volume_type_name(struct volume *v, const char *id, char *out, size_t len)
{
	struct store_txn *txn = NULL;
	struct rec_volume_type t;

	snprintf(out, len, "%s", id != NULL && !is_default(id) ? id :
	    VOLUME_TYPE_NAME);
	if (id == NULL || is_default(id) || v == NULL ||
	    store_read_begin(v->store, &txn) == -1) {
		err_clear();
		return;
	}
	if (db_rec_get(txn, T_VOLUME_TYPES, id, &schema_rec_volume_type,
	    &t) == 0) {
		snprintf(out, len, "%s", t.name);
		codec_clear(&schema_rec_volume_type, &t);
	}
	err_clear();
	store_txn_end(&txn);
}

/* ---- views ---------------------------------------------------------------- */

static json_t *
specs_json(const struct ts_strmap *m)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < m->n; i++)
		json_object_set_new(o, m->items[i].k,
		    json_string(m->items[i].v));
	return o;
}

/* Cinder's view builder: show and list are full (qos_specs_id and the
 * type access extension's is_public); create and update are brief, create
 * with the extension's is_public (tempest's schemas forbid the rest). */
enum tview { TV_FULL, TV_CREATE, TV_UPDATE };

/* Cinder's view: extra_specs for those allowed to read them. t NULL: the
 * built-in type. */
static json_t *
type_json(struct http_req *req, const struct rec_volume_type *t,
    enum tview mode)
{
	bool specs = request_allowed(req,
	    "volume_extension:access_types_extra_specs", NULL);
	json_t *o;

	err_clear();
	if (t == NULL)
		o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:n}",
		    "id", VOLUME_TYPE_ID, "name", VOLUME_TYPE_NAME,
		    "description", "Default Volume Type", "is_public", 1,
		    "os-volume-type-access:is_public", 1, "qos_specs_id");
	else
		o = json_pack("{s:s, s:s, s:o, s:b, s:b, s:n}",
		    "id", t->id, "name", t->name, "description",
		    t->description != NULL ? json_string(t->description) :
		    json_null(), "is_public", t->is_public,
		    "os-volume-type-access:is_public", t->is_public,
		    "qos_specs_id");
	if (o != NULL && specs)
		json_object_set_new(o, "extra_specs", t != NULL ?
		    specs_json(&t->extra_specs) : json_object());
	if (o != NULL && mode != TV_FULL)
		json_object_del(o, "qos_specs_id");
	if (o != NULL && mode == TV_UPDATE)
		json_object_del(o, "os-volume-type-access:is_public");
	return o;
}

/* ---- list and show -------------------------------------------------------- */

struct tlist {
	struct http_req	*req;
	json_t		*arr;
	int		 pub;	/* 1 public, 0 private, -1 both */
};

static int
list_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct tlist *l = arg;
	struct rec_volume_type t;

	(void)k;
	(void)kl;
	memset(&t, 0, sizeof(t));
	if (codec_record_decode(&schema_rec_volume_type, v, vl, &t, NULL) ==
	    -1)
		return -1;
	if (l->pub == -1 || (l->pub == 1) == t.is_public)
		json_array_append_new(l->arr, type_json(l->req, &t, TV_FULL));
	codec_clear(&schema_rec_volume_type, &t);
	return 0;
}

int
volume_types_list(struct http_req *req, struct http_resp *resp)
{
	struct tlist l = { .req = req, .pub = 1 };
	const char *q = http_req_query(req, "is_public");
	struct store_txn *txn = NULL;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	/* Cinder's _parse_is_public(), for the admin only: others see the
	 * public types. */
	if (volume_is_admin(req) && q != NULL) {
		if (strcasecmp(q, "none") == 0)
			l.pub = -1;
		else if (jsonreq_query_bool(JSONREQ_NOVA, q))
			l.pub = 1;
		else if (strcasecmp(q, "false") == 0 || strcmp(q, "0") == 0 ||
		    strcasecmp(q, "no") == 0 || strcasecmp(q, "off") == 0 ||
		    strcasecmp(q, "f") == 0 || strcasecmp(q, "n") == 0)
			l.pub = 0;
		else {
			err_set(TS_EINVALID, "Invalid is_public filter [%.64s]",
			    q);
			return -1;
		}
	}
	if ((l.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (l.pub != 0)
		json_array_append_new(l.arr, type_json(req, NULL, TV_FULL));
	if ((rc = store_read_begin(volume_of(req)->store, &txn)) == 0)
		rc = store_iter(txn, T_VOLUME_TYPES, NULL, 0, list_cb, &l);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(l.arr);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "volume_types",
	    l.arr));
}

/* The type of the URL (NULL t: the built-in one), as the caller may see
 * it: private types are the admin's. */
static int
url_type(struct http_req *req, struct rec_volume_type *t, bool *builtin)
{
	const char *id = http_req_param(req, "type_id");
	struct store_txn *txn = NULL;
	int rc;

	*builtin = id == NULL || is_default(id);
	memset(t, 0, sizeof(*t));
	if (*builtin)
		return 0;
	if ((rc = store_read_begin(volume_of(req)->store, &txn)) == 0)
		rc = type_get(txn, id, t, true);
	store_txn_end(&txn);
	if (rc == 0 && !t->is_public && !volume_is_admin(req)) {
		codec_clear(&schema_rec_volume_type, t);
		return not_found_as(id, true);
	}
	return rc;
}

/* /types/default and /types/{id}: by id or name, as Cinder's
 * volume_types.get_by_name_or_id(). */
int
volume_types_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume_type t;
	bool builtin;
	json_t *o;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    url_type(req, &t, &builtin) == -1)
		return -1;
	o = type_json(req, builtin ? NULL : &t, TV_FULL);
	codec_clear(&schema_rec_volume_type, &t);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "volume_type", o));
}

/* ---- manage --------------------------------------------------------------- */

/* A string member of at most 255 characters; *out NULL when absent or
 * null. */
static int
str_member(json_t *o, const char *k, const char **out, bool *given)
{
	json_t *jv = json_object_get(o, k);

	*out = NULL;
	if (given != NULL)
		*given = jv != NULL && !json_is_null(jv);
	if (jv == NULL || json_is_null(jv))
		return 0;
	if (!json_is_string(jv) || json_string_length(jv) > 255 ||
	    strlen(json_string_value(jv)) != json_string_length(jv)) {
		char *val = json_dumps(jv, JSON_ENCODE_ANY);

		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %.300s. is not a string of at most 255 characters",
		    k, val != NULL ? val : "None");
		free(val);
		return -1;
	}
	*out = json_string_value(jv);
	return 0;
}

/* Cinder's boolean: true/false or their string forms. */
static int
bool_member(json_t *o, const char *k, bool *out, bool *given)
{
	json_t *jv = json_object_get(o, k);
	const char *s;

	*given = jv != NULL && !json_is_null(jv);
	if (!*given)
		return 0;
	if (json_is_boolean(jv)) {
		*out = json_is_true(jv);
		return 0;
	}
	s = json_is_string(jv) ? json_string_value(jv) : "";
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*out = false;
		return 0;
	}
	err_set(TS_EINVALID, "Invalid value '%.64s' for %s.", s, k);
	return -1;
}

static json_t *
type_body(struct http_req *req)
{
	json_t *body = http_req_json(req), *o;

	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "volume_type"))) {
		err_set(TS_EINVALID, "Missing required element 'volume_type' "
		    "in request body.");
		return NULL;
	}
	return o;
}

static int
name_free(struct store_txn *txn, const char *name, const char *skip_id)
{
	struct by_name b = { .name = name, .skip_id = skip_id };

	if (strcmp(name, VOLUME_TYPE_NAME) == 0)
		b.found = true;
	else if (store_iter(txn, T_VOLUME_TYPES, NULL, 0, by_name_cb, &b) ==
	    -1)
		return -1;
	if (b.found) {
		err_set(TS_ECONFLICT, "Volume Type %.255s already exists.",
		    name);
		return -1;
	}
	return 0;
}

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct rec_volume_type *t = arg;

	if (name_free(txn, t->name, NULL) == -1)
		return -1;
	return db_rec_put(txn, T_VOLUME_TYPES, t->id, &schema_rec_volume_type,
	    t, STORE_NOOVERWRITE);
}

int
volume_types_create(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume_type t;
	const char *name, *desc;
	bool pub = true, given, pg;
	json_t *o, *js, *out;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    (o = type_body(req)) == NULL ||
	    str_member(o, "name", &name, NULL) == -1 ||
	    str_member(o, "description", &desc, NULL) == -1 ||
	    bool_member(o, "os-volume-type-access:is_public", &pub, &given) ==
	    -1)
		return -1;
	if (!given && bool_member(o, "is_public", &pub, &pg) == -1)
		return -1;
	if (name == NULL || *name == '\0') {
		err_set(TS_EINVALID, "Volume type name can not be empty.");
		return -1;
	}
	db_uuid(t.id);
	t.is_public = pub;
	t.created_at = t.updated_at = db_now_ms();
	if (codec_str_set(&t.name, name) == -1 ||
	    codec_str_set(&t.description, desc) == -1)
		goto out;
	if ((js = json_object_get(o, "extra_specs")) != NULL &&
	    !json_is_null(js) && volume_meta_parse(js, &t.extra_specs, false) ==
	    -1)
		goto out;
	if (store_write(volume_of(req)->store, create_fn, &t) == -1)
		goto out;
	log_info("volume type %s (%s) created", t.id, t.name);
	out = type_json(req, &t, TV_CREATE);
	rc = http_resp_json(resp, 200, json_pack("{s:o*}", "volume_type", out));
out:
	codec_clear(&schema_rec_volume_type, &t);
	return rc;
}

/* An edit of the URL's type inside one write: fn changes *t. */
struct tedit {
	const char		*ref;
	int			(*fn)(struct store_txn *, struct rec_volume_type *,
				    void *);
	void			*arg;
	struct rec_volume_type	 out;
};

static int
edit_fn(struct store_txn *txn, void *arg)
{
	struct tedit *e = arg;

	codec_clear(&schema_rec_volume_type, &e->out);
	if (type_get(txn, e->ref, &e->out, true) == -1 ||
	    e->fn(txn, &e->out, e->arg) == -1)
		return -1;
	e->out.updated_at = db_now_ms();
	return db_rec_put(txn, T_VOLUME_TYPES, e->out.id,
	    &schema_rec_volume_type, &e->out, 0);
}

static int
type_edit(struct http_req *req, struct tedit *e)
{
	const char *id = http_req_param(req, "type_id");

	memset(&e->out, 0, sizeof(e->out));
	if (id == NULL || is_default(id)) {
		err_set(TS_EINVALID, "Invalid volume type: The default volume "
		    "type %s cannot be changed.", VOLUME_TYPE_NAME);
		return -1;
	}
	e->ref = id;
	if (store_write(volume_of(req)->store, edit_fn, e) == -1) {
		codec_clear(&schema_rec_volume_type, &e->out);
		return -1;
	}
	return 0;
}

struct tupdate {
	const char	*name, *desc;
	bool		 has_desc, has_pub, pub;
};

static int
update_edit(struct store_txn *txn, struct rec_volume_type *t, void *arg)
{
	struct tupdate *u = arg;

	if (u->name != NULL) {
		if (name_free(txn, u->name, t->id) == -1 ||
		    codec_str_set(&t->name, u->name) == -1)
			return -1;
	}
	if (u->has_desc && codec_str_set(&t->description, u->desc) == -1)
		return -1;
	if (u->has_pub)
		t->is_public = u->pub;
	return 0;
}

int
volume_types_update(struct http_req *req, struct http_resp *resp)
{
	struct tupdate u = { 0 };
	struct tedit e = { .fn = update_edit, .arg = &u };
	bool has_name;
	json_t *o, *out;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    (o = type_body(req)) == NULL ||
	    str_member(o, "name", &u.name, &has_name) == -1 ||
	    str_member(o, "description", &u.desc, &u.has_desc) == -1 ||
	    bool_member(o, "is_public", &u.pub, &u.has_pub) == -1)
		return -1;
	/* Cinder: a description may be cleared with "", a name may not. */
	if (!has_name && !u.has_desc && !u.has_pub &&
	    !json_object_get(o, "description")) {
		err_set(TS_EINVALID, "Specify volume type name, description, "
		    "is_public or a combination thereof.");
		return -1;
	}
	if (has_name && *u.name == '\0') {
		err_set(TS_EINVALID, "Volume type name can not be empty.");
		return -1;
	}
	if (!u.has_desc && json_object_get(o, "description") != NULL)
		u.has_desc = true;	/* null: cleared */
	if (type_edit(req, &e) == -1)
		return -1;
	out = type_json(req, &e.out, TV_UPDATE);
	codec_clear(&schema_rec_volume_type, &e.out);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "volume_type",
	    out));
}

struct in_use {
	const char	*id;
	bool		 used;
};

static int
in_use_cb(struct rec_volume *v, void *arg)
{
	struct in_use *u = arg;

	if (v->volume_type != NULL && strcmp(v->volume_type, u->id) == 0) {
		u->used = true;
		return 1;
	}
	return 0;
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	const char *ref = arg;
	struct rec_volume_type t;
	struct in_use u;
	int rc = -1;

	if (type_get(txn, ref, &t, true) == -1)
		return -1;
	u.id = t.id;
	u.used = false;
	if (volume_db_each(txn, NULL, in_use_cb, &u) == -1)
		goto out;
	if (u.used) {
		err_set(TS_EINVALID, "Target volume type is still in use.");
		goto out;
	}
	rc = store_del(txn, T_VOLUME_TYPES, t.id, strlen(t.id));
out:
	codec_clear(&schema_rec_volume_type, &t);
	return rc;
}

int
volume_types_delete(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "type_id");

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	if (id == NULL || is_default(id)) {
		err_set(TS_EINVALID, "The volume type %s is a default volume "
		    "type and cannot be deleted.", VOLUME_TYPE_ID);
		return -1;
	}
	if (store_write(volume_of(req)->store, delete_fn, (void *)id) == -1)
		return -1;
	log_info("volume type %s deleted", id);
	return http_resp_status(resp, 202);
}

/* ---- extra specs ---------------------------------------------------------- */

int
volume_types_specs_list(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume_type t;
	bool builtin;
	json_t *o;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    url_type(req, &t, &builtin) == -1)
		return -1;
	o = specs_json(&t.extra_specs);
	codec_clear(&schema_rec_volume_type, &t);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "extra_specs", o));
}

static int
specs_merge(struct store_txn *txn, struct rec_volume_type *t, void *arg)
{
	(void)txn;
	return volume_meta_parse(arg, &t->extra_specs, true);
}

static json_t *
specs_body(struct http_req *req)
{
	json_t *body = http_req_json(req), *o;

	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "extra_specs"))) {
		err_set(TS_EINVALID, "Missing required element 'extra_specs' "
		    "in request body.");
		return NULL;
	}
	return o;
}

int
volume_types_specs_create(struct http_req *req, struct http_resp *resp)
{
	struct tedit e = { .fn = specs_merge };
	json_t *o;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    (o = specs_body(req)) == NULL)
		return -1;
	e.arg = o;
	if (type_edit(req, &e) == -1)
		return -1;
	codec_clear(&schema_rec_volume_type, &e.out);
	return http_resp_json(resp, 200, json_pack("{s:O}", "extra_specs", o));
}

static int
no_key(const char *type, const char *key)
{
	err_set(TS_ENOT_FOUND, "Volume Type %.64s has no extra specs with key "
	    "%.255s.", type, key);
	return -1;
}

int
volume_types_specs_show(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_req_param(req, "key");
	struct rec_volume_type t;
	const char *val;
	bool builtin;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    url_type(req, &t, &builtin) == -1)
		return -1;
	if ((val = spec_of(&t, key)) == NULL)
		rc = no_key(builtin ? VOLUME_TYPE_ID : t.id, key);
	else
		rc = http_resp_json(resp, 200, json_pack("{s:s}", key, val));
	codec_clear(&schema_rec_volume_type, &t);
	return rc;
}

int
volume_types_specs_update(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_req_param(req, "key");
	struct tedit e = { .fn = specs_merge };
	json_t *body = http_req_json(req);

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	if (!json_is_object(body) || json_object_get(body, key) == NULL) {
		err_set(TS_EINVALID, "Request body and URI mismatch");
		return -1;
	}
	if (json_object_size(body) > 1) {
		err_set(TS_EINVALID, "Request body contains too many items");
		return -1;
	}
	e.arg = body;
	if (type_edit(req, &e) == -1)
		return -1;
	codec_clear(&schema_rec_volume_type, &e.out);
	return http_resp_json(resp, 200, json_pack("{s:O}", key,
	    json_object_get(body, key)));
}

static int
specs_del(struct store_txn *txn, struct rec_volume_type *t, void *arg)
{
	struct ts_strmap *m = &t->extra_specs;
	const char *key = arg;

	(void)txn;
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->items[i].k, key) != 0)
			continue;
		free(m->items[i].k);
		free(m->items[i].v);
		m->items[i] = m->items[--m->n];
		return 0;
	}
	return no_key(t->id, key);
}

int
volume_types_specs_delete(struct http_req *req, struct http_resp *resp)
{
	struct tedit e = { .fn = specs_del };

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	e.arg = (void *)http_req_param(req, "key");
	if (type_edit(req, &e) == -1)
		return -1;
	codec_clear(&schema_rec_volume_type, &e.out);
	return http_resp_status(resp, 202);
}
