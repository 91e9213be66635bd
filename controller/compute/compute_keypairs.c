/*
 * compute_keypairs: os-keypairs. Key pairs belong to a user (not a
 * project) and are named uniquely per user; a generated private key is in
 * the create response only and never stored. The key_pairs quota counts
 * per user, checked in the transaction that adds the key.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "compute_int.h"
#include "sshkey.h"
#include "core/db.h"
#include "err.h"
#include "log.h"

static int
name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 255)
		goto bad;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(" _-", *p))
			goto bad;
	if (n[0] == ' ' || n[len - 1] == ' ')
		goto bad;
	return 0;
bad:
	err_set(TS_EINVALID, "Keypair data is invalid: Keypair name contains "
	    "unsafe characters");
	return -1;
}

/* A key pair at microversion 2.mv (2.2 adds its type). */
static json_t *
keypair_json(const struct rec_keypair *k, bool full, int mv)
{
	char t[32];
	json_t *o;

	if (!full) {
		o = json_pack("{s:s, s:s, s:s}", "name", k->name,
		    "public_key", k->public_key, "fingerprint", k->fingerprint);
	} else {
		compute_time_usec(k->created_at, t);
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:n, s:n}",
		    "name", k->name, "public_key", k->public_key,
		    "fingerprint", k->fingerprint, "user_id", k->user_id,
		    "id", (json_int_t)k->id, "created_at", t, "deleted", 0,
		    "deleted_at", "updated_at");
	}
	if (o && request_mv_has(mv, MV_KEYPAIR_TYPE))
		json_object_set_new(o, "type", json_string(k->type));
	return o;
}

/*
 * Whose key pairs: the caller's, or (2.10, admin) the user named by
 * ?user_id=. The policy target's user decides, so a non-admin naming
 * another user is refused.
 */
static int
kp_user(struct http_req *req, int mv, const char *rule, const char *name,
    const char *body_user, const char **user)
{
	const struct request_ctx *c = compute_ctx(req);
	const char *q = request_mv_has(mv, MV_KEYPAIR_USER) ? (body_user ? body_user :
	    http_req_query(req, "user_id")) : NULL;

	*user = q && *q ? q : c->user_id;
	return compute_enforce_owned(req, rule, c->project_id ? c->project_id :
	    "", *user, "Keypair", name ? name : *user);
}

struct klist {
	json_t	*arr;
	int64_t	 limit;
	int64_t	 n;
	int	 mv;
};

static int
klist_cb(const struct rec_keypair *k, void *arg)
{
	struct klist *l = arg;

	if (l->n >= l->limit)
		return 1;
	l->n++;
	return json_array_append_new(l->arr, json_pack("{s:o}", "keypair",
	    keypair_json(k, false, l->mv))) == 0 ? 0 : -1;
}

int
compute_keypairs_list(struct http_req *req, struct http_resp *resp)
{
	struct klist l = { .limit = INT64_MAX };
	struct store_txn *txn = NULL;
	const char *user, *marker = NULL;
	bool has;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 ||
	    kp_user(req, mv, "os_compute_api:os-keypairs:index", NULL, NULL,
	    &user) == -1)
		return -1;
	/* Paging is 2.35's; before it Nova lists every key pair whatever
	 * limit and marker say. */
	if (request_mv_has(mv, MV_KEYPAIR_PAGING)) {
		if (jsonreq_query_int(JSONREQ_NOVA, "limit",
		    http_req_query(req, "limit"), 0, INT32_MAX, &l.limit,
		    &has) == -1)
			return -1;
		marker = http_req_query(req, "marker");
	}
	l.mv = mv;
	if ((l.arr = json_array()) == NULL || compute_read(req, &txn) == -1) {
		json_decref(l.arr);
		return -1;
	}
	rc = compute_db_keypair_each(txn, user, marker, klist_cb, &l);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(l.arr);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "keypairs",
	    l.arr));
}

static int
load(struct http_req *req, int mv, const char *rule, struct rec_keypair *k)
{
	const char *name = http_req_param(req, "keypair_name");
	struct store_txn *txn = NULL;
	const char *user;
	int rc;

	if (kp_user(req, mv, rule, name, NULL, &user) == -1 ||
	    compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_keypair_get(txn, user, name, k);
	store_txn_end(&txn);
	return rc;
}

int
compute_keypairs_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_keypair k;
	json_t *o;
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    load(req, mv, "os_compute_api:os-keypairs:show", &k) == -1)
		return -1;
	o = keypair_json(&k, true, mv);
	codec_clear(&schema_rec_keypair, &k);
	return http_resp_json(resp, 200, json_pack("{s:o}", "keypair", o));
}

struct kadd {
	struct compute	*svc;
	const char		*project_id;
	struct rec_keypair	 k;
};

static int
kadd_fn(struct store_txn *txn, void *arg)
{
	struct kadd *a = arg;
	struct rec_compute_quota q;
	struct compute_quota_defaults lim;
	size_t n;

	if (compute_db_quota_get(txn, a->project_id, &q) == -1)
		return -1;
	compute_admin_quota_limits(a->svc, &q, &lim);
	codec_clear(&schema_rec_compute_quota, &q);
	if (compute_db_keypair_count(txn, a->k.user_id, &n) == -1)
		return -1;
	if (lim.key_pairs >= 0 && (int64_t)n + 1 > lim.key_pairs) {
		err_set(TS_EOVER_QUOTA, "Quota exceeded, too many key pairs.");
		return -1;
	}
	return compute_db_keypair_add(txn, &a->k);
}

int
compute_keypairs_create(struct http_req *req, struct http_resp *resp)
{
	const struct request_ctx *c = compute_ctx(req);
	struct kadd a = { .svc = compute_of(req) };
	const char *name = NULL, *pub = NULL, *type = NULL, *buser = NULL,
	    *user;
	char *line = NULL, *priv = NULL, ktype[32], fp[SSHKEY_FP_LEN + 1];
	uint8_t *blob = NULL;
	size_t blen;
	json_t *b, *o;
	int mv, rc = -1;

	if (compute_version(req, resp, &mv) == -1 ||
	    jsonreq_body(JSONREQ_NOVA, http_req_json(req), "keypair",
	    &b) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, b, "name", 1, 255, JSONREQ_BYTES, &name,
	    NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, b, "public_key", 0, SSHKEY_TEXT_MAX,
	    JSONREQ_BYTES, &pub, NULL) == -1 ||
	    (request_mv_has(mv, MV_KEYPAIR_TYPE) && jsonreq_str(JSONREQ_NOVA, b, "type", 1, 16,
	    JSONREQ_BYTES, &type, NULL) == -1) ||
	    (request_mv_has(mv, MV_KEYPAIR_USER) && jsonreq_str(JSONREQ_NOVA, b, "user_id", 1, 64,
	    JSONREQ_BYTES, &buser, NULL) == -1) ||
	    kp_user(req, mv, "os_compute_api:os-keypairs:create", NULL,
	    buser, &user) == -1)
		return -1;
	if (name == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute name. "
		    "It is required.");
		return -1;
	}
	if (name_ok(name) == -1)
		return -1;
	if (type != NULL && strcmp(type, "ssh") != 0) {
		err_set(TS_EINVALID, "Keypair data is invalid: only type 'ssh' "
		    "is supported (x509 certificates are not).");
		return -1;
	}
	if (pub != NULL) {
		size_t n;

		if (sshkey_public_parse(pub, ktype, &blob, &blen) == -1)
			return -1;
		sshkey_fingerprint(blob, blen, fp);
		free(blob);
		if ((line = strdup(pub)) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		    line[n - 1] == ' '))
			line[--n] = '\0';
	} else if (sshkey_ed25519_new(name, &line, &priv, fp) == -1) {
		return -1;
	}
	a.project_id = c->project_id ? c->project_id : "";
	a.k.name = (char *)name;
	a.k.user_id = (char *)user;
	a.k.type = "ssh";
	a.k.public_key = line;
	a.k.fingerprint = fp;
	a.k.created_at = db_now_ms();
	a.k.id = (uint64_t)a.k.created_at;
	if (compute_write(req, kadd_fn, &a) == -1)
		goto out;
	o = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "public_key", line,
	    "fingerprint", fp, "user_id", user);
	if (o && priv)
		json_object_set_new(o, "private_key", json_string(priv));
	if (o && request_mv_has(mv, MV_KEYPAIR_TYPE))
		json_object_set_new(o, "type", json_string("ssh"));
	/* 2.2 made the create a 201. */
	rc = http_resp_json(resp, request_mv_has(mv, MV_KEYPAIR_TYPE) ? 201 : 200, json_pack("{s:o}",
	    "keypair", o));
out:
	free(line);
	sshkey_private_free(&priv);
	return rc;
}

struct kdel {
	const char	*user;
	const char	*name;
};

static int
kdel_fn(struct store_txn *txn, void *arg)
{
	struct kdel *d = arg;

	return compute_db_keypair_del(txn, d->user, d->name);
}

int
compute_keypairs_delete(struct http_req *req, struct http_resp *resp)
{
	struct kdel d = { NULL, http_req_param(req, "keypair_name") };
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    kp_user(req, mv, "os_compute_api:os-keypairs:delete", d.name, NULL,
	    &d.user) == -1 || compute_write(req, kdel_fn, &d) == -1)
		return -1;
	/* 2.2 made the delete a 204. */
	return http_resp_status(resp, request_mv_has(mv, MV_KEYPAIR_TYPE) ? 204 : 202);
}
