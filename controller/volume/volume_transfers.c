/*
 * volume_transfers: Cinder's volume transfers (os-volume-transfer, 3.0):
 * create, list (and detail), show, accept, delete. Controller only: the
 * data stays where it is, on its storage host.
 *
 * Create (the volume's project, the volume available): in one write the
 * volume goes awaiting-transfer and a transfer record is made with a fresh
 * auth key (16 hex digits, as Cinder's), of which only a salted hash is
 * kept: the key is in the create's answer and nowhere else. Accept (any
 * project but the giver's, presenting the key): in one write the volume
 * and its snapshots move to the caller's project (user the caller), their
 * usage leaves the giver's and enters the taker's (checked against its
 * quota: 413 and nothing moves), the volume is available again and the
 * transfer gone. Delete (the giver): the volume back to available, the
 * transfer gone.
 *
 * Visibility: a transfer is the giving project's (others 404, the admin
 * sees all); an accept finds any transfer by id, as Cinder's, since the
 * taker cannot list it: the key is what it must know.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "http/jsonreq.h"
#include "http/request.h"
#include "log.h"
#include "store.h"
#include "volume_int.h"

#define KEY_LEN		16	/* hex digits of an auth key (Cinder's) */
#define SALT_BYTES	16
#define HASH_BYTES	32

static json_t *
nstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
links(struct http_req *req, const char *project, const char *id)
{
	char base[512], self[900], book[900];

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		base[0] = '\0';
	snprintf(self, sizeof(self), "%s/v3/%s/os-volume-transfer/%s", base,
	    project, id);
	snprintf(book, sizeof(book), "%s/%s/os-volume-transfer/%s", base,
	    project, id);
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "href", self, "rel",
	    "self", "href", book, "rel", "bookmark");
}

/* Cinder's view: the summary (id, name, volume_id, links), with
 * created_at in show and detail. */
static json_t *
xfer_json(struct http_req *req, const struct rec_volume_transfer *x,
    bool detail)
{
	json_t *o = json_pack("{s:s, s:o, s:s, s:o}", "id", x->id, "name",
	    nstr(x->name), "volume_id", x->volume_id, "links", links(req,
	    volume_caller(req), x->id));

	if (o != NULL && detail)
		json_object_set_new(o, "created_at",
		    volume_time(x->created_at));
	return o;
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	sodium_bin2hex(out, n * 2 + 1, b, n);
}

/* The hash of key under salt (hex), into out (HASH_BYTES * 2 + 1). */
static int
key_hash(const char *salt_hex, const char *key, char *out)
{
	unsigned char salt[SALT_BYTES], h[HASH_BYTES];
	size_t n = 0;

	if (sodium_hex2bin(salt, sizeof(salt), salt_hex, strlen(salt_hex),
	    NULL, &n, NULL) != 0 || n != sizeof(salt)) {
		err_set(TS_EINTERNAL, "volume transfer: bad salt");
		return -1;
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)key,
	    strlen(key), salt, sizeof(salt));
	hex(h, sizeof(h), out);
	sodium_memzero(h, sizeof(h));
	return 0;
}

static int
xfer_get(struct store_txn *txn, const char *id,
    struct rec_volume_transfer *x)
{
	memset(x, 0, sizeof(*x));
	if (db_rec_get(txn, T_VOLUME_TRANSFERS, id,
	    &schema_rec_volume_transfer, x) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Transfer %.64s could not be "
			    "found.", id);
		return -1;
	}
	return 0;
}

/* The transfer id as the caller may see it: its project's, or the
 * admin's; then rule on its project. */
static int
xfer_find(struct http_req *req, struct store_txn *txn, const char *rule,
    const char *id, struct rec_volume_transfer *x)
{
	if (xfer_get(txn, id, x) == -1)
		return -1;
	if (volume_owner_check(req, rule, x->project_id, "Transfer", id) == -1) {
		codec_clear(&schema_rec_volume_transfer, x);
		return -1;
	}
	return 0;
}

/* ---- create --------------------------------------------------------------- */

struct xcreate {
	struct http_req			*req;
	const char			*volume_id, *name;
	char				 key[KEY_LEN + 1];
	struct rec_volume_transfer	 x;
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct xcreate *c = arg;
	struct rec_volume v, old;
	struct request_target t = { .n = 0 };
	int rc = -1;

	if (volume_db_get(txn, c->volume_id, &v) == -1)
		return -1;
	if (volume_db_get(txn, c->volume_id, &old) == -1) {
		codec_clear(&schema_rec_volume, &v);
		return -1;
	}
	if (strcmp(v.project_id, volume_caller(c->req)) != 0 &&
	    !volume_is_admin(c->req)) {
		err_set(TS_ENOT_FOUND, "Volume %s could not be found.", v.id);
		goto out;
	}
	if (request_target_add(&t, "project_id", v.project_id) == -1 ||
	    request_enforce(c->req, "volume:create_transfer", &t) == -1)
		goto out;
	if (strcmp(v.status, "available") != 0) {
		err_set(TS_EINVALID, "Invalid volume: Status of volume %s must "
		    "be available, but current status is: %s.", v.id, v.status);
		goto out;
	}
	if (codec_str_set(&c->x.project_id, v.project_id) == -1 ||
	    codec_str_set(&v.status, "awaiting-transfer") == -1)
		goto out;
	v.updated_at = db_now_ms();
	if (volume_db_put(txn, &old, &v) == -1 ||
	    db_rec_put(txn, T_VOLUME_TRANSFERS, c->x.id,
	    &schema_rec_volume_transfer, &c->x, 0) == -1)
		goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_volume, &v);
	codec_clear(&schema_rec_volume, &old);
	return rc;
}

int
volume_transfers_create(struct http_req *req, struct http_resp *resp)
{
	struct xcreate c = { .req = req };
	json_t *body = http_req_json(req), *o, *out;
	unsigned char salt[SALT_BYTES], kb[KEY_LEN / 2];
	char salt_hex[SALT_BYTES * 2 + 1], h[HASH_BYTES * 2 + 1];
	int rc = -1;

	/* The caller's own project first (as a volume create), then the
	 * volume's in the write (the admin may offer another's). */
	if (volume_begin(req, resp, "volume:create_transfer",
	    volume_caller(req)) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "transfer"))) {
		err_set(TS_EINVALID, "Missing required element 'transfer' in "
		    "request body.");
		return -1;
	}
	if (jsonreq_str(JSONREQ_NOVA, o, "volume_id", 1, 64, JSONREQ_BYTES |
	    JSONREQ_REQUIRED, &c.volume_id, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, o, "name", 0, 255, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &c.name, NULL) == -1)
		return -1;
	if (!jsonreq_uuid_like(c.volume_id)) {
		err_set(TS_ENOT_FOUND, "Volume %.64s could not be found.",
		    c.volume_id);
		return -1;
	}
	/* The key: shown in this answer only; the record keeps its hash. */
	randombytes_buf(kb, sizeof(kb));
	hex(kb, sizeof(kb), c.key);
	randombytes_buf(salt, sizeof(salt));
	hex(salt, sizeof(salt), salt_hex);
	db_uuid(c.x.id);
	snprintf(c.x.volume_id, sizeof(c.x.volume_id), "%s", c.volume_id);
	c.x.created_at = db_now_ms();
	if (key_hash(salt_hex, c.key, h) == -1 ||
	    codec_str_set(&c.x.user_id, volume_caller_user(req)) == -1 ||
	    codec_str_set(&c.x.name, c.name) == -1 ||
	    codec_str_set(&c.x.salt, salt_hex) == -1 ||
	    codec_str_set(&c.x.crypt_hash, h) == -1)
		goto out;
	if (store_write(volume_of(req)->store, create_fn, &c) == -1)
		goto out;
	log_info("volume %s: transfer %s offered by project %s",
	    c.x.volume_id, c.x.id, c.x.project_id);
	if ((out = xfer_json(req, &c.x, true)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	json_object_set_new(out, "auth_key", json_string(c.key));
	rc = http_resp_json(resp, 202, json_pack("{s:o}", "transfer", out));
out:
	sodium_memzero(c.key, sizeof(c.key));
	sodium_memzero(kb, sizeof(kb));
	codec_clear(&schema_rec_volume_transfer, &c.x);
	return rc;
}

/* ---- list, show --------------------------------------------------------- */

struct xlist {
	struct http_req	*req;
	const char	*project;	/* NULL: all */
	json_t		*arr;
	bool		 detail;
};

static int
list_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct xlist *l = arg;
	struct rec_volume_transfer x;
	json_t *o;

	memset(&x, 0, sizeof(x));
	if (codec_record_decode(&schema_rec_volume_transfer, v, vl, &x,
	    NULL) == -1) {
		log_warnx("volume transfer %.*s: undecodable record: %s",
		    (int)(kl < 64 ? kl : 64), (const char *)k, err_msg());
		return 0;
	}
	if (l->project == NULL || strcmp(x.project_id, l->project) == 0) {
		if ((o = xfer_json(l->req, &x, l->detail)) == NULL ||
		    json_array_append_new(l->arr, o) == -1) {
			codec_clear(&schema_rec_volume_transfer, &x);
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
	}
	codec_clear(&schema_rec_volume_transfer, &x);
	return 0;
}

static int
list(struct http_req *req, struct http_resp *resp, bool detail)
{
	struct xlist l = { .req = req, .detail = detail };
	struct store_txn *txn = NULL;
	const char *all = http_req_query(req, "all_tenants");
	int rc;

	if (volume_begin(req, resp, "volume:get_all_transfers",
	    volume_caller(req)) == -1)
		return -1;
	/* The admin sees every project's with all_tenants (Cinder). */
	l.project = volume_is_admin(req) && all != NULL && strcmp(all, "0") !=
	    0 && strcasecmp(all, "false") != 0 ? NULL : volume_caller(req);
	if ((l.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (store_read_begin(volume_of(req)->store, &txn) == -1) {
		json_decref(l.arr);
		return -1;
	}
	rc = store_iter(txn, T_VOLUME_TRANSFERS, NULL, 0, list_cb, &l);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(l.arr);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "transfers",
	    l.arr));
}

int
volume_transfers_list(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, false);
}

int
volume_transfers_detail(struct http_req *req, struct http_resp *resp)
{
	return list(req, resp, true);
}

int
volume_transfers_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_volume_transfer x;
	struct store_txn *txn = NULL;
	int rc;

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    store_read_begin(volume_of(req)->store, &txn) == -1)
		return -1;
	rc = xfer_find(req, txn, "volume:get_transfer", http_req_param(req,
	    "transfer_id"), &x);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	rc = http_resp_json(resp, 200, json_pack("{s:o*}", "transfer",
	    xfer_json(req, &x, true)));
	codec_clear(&schema_rec_volume_transfer, &x);
	return rc;
}

/* ---- accept ---------------------------------------------------------------- */

struct xaccept {
	struct http_req			*req;
	struct volume			*vs;
	const char			*id, *key;
	struct rec_volume_transfer	 x;	/* as it was */
	char				 from[65];
	uint64_t			 moved_snaps;
};

struct snap_ids {
	char	(*ids)[CODEC_UUID_LEN + 1];
	size_t	  n;
	int64_t	  gb;
};

static int
snap_cb(struct rec_volume_snapshot *s, void *arg)
{
	struct snap_ids *l = arg;
	void *n = realloc(l->ids, (l->n + 1) * sizeof(*l->ids));

	if (n == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	l->ids = n;
	snprintf(l->ids[l->n++], CODEC_UUID_LEN + 1, "%s", s->id);
	l->gb += (int64_t)s->size;
	return 0;
}

static int
accept_fn(struct store_txn *txn, void *arg)
{
	struct xaccept *a = arg;
	struct rec_volume v, old;
	struct snap_ids sl = { 0 };
	const char *to = volume_caller(a->req);
	char h[HASH_BYTES * 2 + 1];
	int64_t gb;
	int rc = -1;

	codec_clear(&schema_rec_volume_transfer, &a->x);
	if (xfer_get(txn, a->id, &a->x) == -1)
		return -1;
	if (key_hash(a->x.salt, a->key, h) == -1)
		return -1;
	if (strlen(h) != strlen(a->x.crypt_hash) ||
	    sodium_memcmp(h, a->x.crypt_hash, strlen(h)) != 0) {
		err_set(TS_EINVALID, "Invalid auth key: Attempt to transfer %s "
		    "with invalid auth key.", a->x.id);
		return -1;
	}
	if (strcmp(a->x.project_id, to) == 0) {
		err_set(TS_EINVALID, "Invalid volume: The volume is already "
		    "in project %s.", to);
		return -1;
	}
	snprintf(a->from, sizeof(a->from), "%s", a->x.project_id);
	if (volume_db_get(txn, a->x.volume_id, &v) == -1)
		return -1;
	if (volume_db_get(txn, a->x.volume_id, &old) == -1) {
		codec_clear(&schema_rec_volume, &v);
		return -1;
	}
	if (strcmp(v.status, "awaiting-transfer") != 0) {
		err_set(TS_EINVALID, "Invalid volume: Status of volume %s must "
		    "be awaiting-transfer, but current status is: %s.", v.id,
		    v.status);
		goto out;
	}
	if (volume_db_snap_each_volume(txn, v.id, snap_cb, &sl) == -1)
		goto out;
	/* The taker's quota, then the usage moved, in this write. */
	gb = (int64_t)v.size + sl.gb;
	if (volume_quota_check(a->vs, txn, to, 1, gb, (int64_t)sl.n,
	    (int64_t)v.size) == -1 ||
	    volume_db_usage_add(txn, v.project_id, -1, -gb,
	    -(int64_t)sl.n) == -1 ||
	    volume_db_usage_add(txn, to, 1, gb, (int64_t)sl.n) == -1)
		goto out;
	for (size_t i = 0; i < sl.n; i++) {
		struct rec_volume_snapshot s;
		int r;

		if (volume_db_snap_get(txn, sl.ids[i], &s) == -1)
			goto out;
		r = volume_db_snap_move(txn, &s, to);
		codec_clear(&schema_rec_volume_snapshot, &s);
		if (r == -1)
			goto out;
	}
	a->moved_snaps = sl.n;
	if (codec_str_set(&v.project_id, to) == -1 ||
	    codec_str_set(&v.user_id, volume_caller_user(a->req)) == -1 ||
	    codec_str_set(&v.status, "available") == -1)
		goto out;
	v.updated_at = db_now_ms();
	if (volume_db_put(txn, &old, &v) == -1 ||
	    store_del(txn, T_VOLUME_TRANSFERS, a->x.id, strlen(a->x.id)) == -1)
		goto out;
	rc = 0;
out:
	free(sl.ids);
	codec_clear(&schema_rec_volume, &v);
	codec_clear(&schema_rec_volume, &old);
	return rc;
}

int
volume_transfers_accept(struct http_req *req, struct http_resp *resp)
{
	struct xaccept a = { .req = req, .vs = volume_of(req),
	    .id = http_req_param(req, "transfer_id") };
	json_t *body = http_req_json(req), *o, *out;
	int rc;

	if (volume_begin(req, resp, "volume:accept_transfer",
	    volume_caller(req)) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(o = json_object_get(body,
	    "accept"))) {
		err_set(TS_EINVALID, "Missing required element 'accept' in "
		    "request body.");
		return -1;
	}
	if (jsonreq_str(JSONREQ_NOVA, o, "auth_key", 1, 255, JSONREQ_BYTES |
	    JSONREQ_REQUIRED, &a.key, NULL) == -1)
		return -1;
	if (store_write(a.vs->store, accept_fn, &a) == -1) {
		codec_clear(&schema_rec_volume_transfer, &a.x);
		return -1;
	}
	log_info("volume %s: transfer %s accepted: project %s -> %s "
	    "(%llu snapshots)", a.x.volume_id, a.x.id, a.from,
	    volume_caller(req), (unsigned long long)a.moved_snaps);
	out = xfer_json(req, &a.x, false);
	rc = http_resp_json(resp, 202, json_pack("{s:o*}", "transfer", out));
	codec_clear(&schema_rec_volume_transfer, &a.x);
	return rc;
}

/* ---- delete ------------------------------------------------------------------ */

struct xdelete {
	struct http_req	*req;
	const char	*id;
	char		 volume_id[CODEC_UUID_LEN + 1];
};

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct xdelete *d = arg;
	struct rec_volume_transfer x;
	struct rec_volume v, old;
	int rc = -1;

	if (xfer_find(d->req, txn, "volume:delete_transfer", d->id, &x) == -1)
		return -1;
	snprintf(d->volume_id, sizeof(d->volume_id), "%s", x.volume_id);
	if (store_del(txn, T_VOLUME_TRANSFERS, x.id, strlen(x.id)) == -1) {
		codec_clear(&schema_rec_volume_transfer, &x);
		return -1;
	}
	codec_clear(&schema_rec_volume_transfer, &x);
	if (volume_db_get(txn, d->volume_id, &v) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (volume_db_get(txn, d->volume_id, &old) == -1) {
		codec_clear(&schema_rec_volume, &v);
		return -1;
	}
	rc = 0;
	if (strcmp(v.status, "awaiting-transfer") == 0) {
		v.updated_at = db_now_ms();
		if (codec_str_set(&v.status, "available") == -1 ||
		    volume_db_put(txn, &old, &v) == -1)
			rc = -1;
	}
	codec_clear(&schema_rec_volume, &v);
	codec_clear(&schema_rec_volume, &old);
	return rc;
}

int
volume_transfers_delete(struct http_req *req, struct http_resp *resp)
{
	struct xdelete d = { .req = req, .id = http_req_param(req,
	    "transfer_id") };

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    store_write(volume_of(req)->store, delete_fn, &d) == -1)
		return -1;
	log_info("volume %s: transfer %s deleted", d.volume_id, d.id);
	return http_resp_status(resp, 202);
}
