/*
 * identity: service state, token authentication and validation, the auth
 * and discovery routes, the v2.0 token call, the route table; see
 * identity.h for how the identity modules fit together.
 *
 * Token life: POST /v3/auth/tokens authenticates (argon2id on this worker
 * thread, outside any transaction), resolves the scope, and then builds the
 * response exactly as validation does (ctx_load(): user, domain, scope,
 * roles in one read transaction), so an issued token is always one that
 * validates, and GET /v3/auth/tokens shows the same body. A rescoped token
 * (token method) keeps its parent's expiry and audit chain (token.h).
 *
 * Revocation: events live in LMDB (idstore) and in the in-memory list
 * (token.h). Writers in this process add to both (identity_revs_*); the
 * main thread's tick picks up events other processes wrote (bootstrap
 * resetting a password) by sequence number, and prunes events older than
 * the token lifetime plus Keystone's half-hour buffer.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "identity_int.h"
#include "http/jsonreq.h"
#include "auth/capability.h"
#include "auth/keyrepo.h"
#include "log.h"
#include "compliance.h"
#include "password.h"

/* Keystone's [revoke] expiration_buffer: events outlive the tokens they
 * can match by this much. */
#define REVOKE_BUFFER_S		1800
#define PRUNE_EVERY_MS		(600 * 1000)
#define KEY_RETRY_MS		(10 * 1000)
#define V3_VERSION_ID		"v3.14"
#define V3_UPDATED		"2020-04-07T00:00:00Z"

struct identity {
	struct store		*store;
	_Atomic(struct keyrepo *) keys;		/* NULL until loaded */
	char			 key_dir[4096];
	struct timespec		 key_mtime;	/* tick thread only */
	int64_t			 next_key_try;	/* tick thread only */
	struct revoke_list	*revoked;
	uint64_t		 rev_seq;	/* tick thread only */
	int64_t			 next_prune;	/* tick thread only */
	unsigned		 lifetime;
	unsigned long long	 opslimit;
	size_t			 memlimit;
	struct compliance	*comp;		/* [security_compliance] */
};

unsigned
identity_token_lifetime(const struct identity *id)
{
	return id->lifetime;
}

unsigned long long
identity_pw_opslimit(const struct identity *id)
{
	return id->opslimit;
}

size_t
identity_pw_memlimit(const struct identity *id)
{
	return id->memlimit;
}

const struct compliance *
identity_compliance(const struct identity *id)
{
	return id->comp;
}

struct identity *
identity_of(struct http_req *req)
{
	return http_req_app(req);
}

struct store *
identity_store(const struct identity *id)
{
	return id->store;
}

/* ---- state -------------------------------------------------------------- */

static int
load_event(uint64_t seq, const struct revoke_event *ev, void *arg)
{
	struct identity *id = arg;

	if (token_revoke_list_add(id->revoked, ev) == -1)
		return -1;
	if (seq > id->rev_seq)
		id->rev_seq = seq;
	return 0;
}

/* Events with a sequence number above the last one loaded. */
static int
load_events(struct identity *id)
{
	struct store_txn *txn = NULL;
	uint64_t seq;
	int rc;

	if (store_read_begin(id->store, &txn) == -1)
		return -1;
	rc = idstore_revocation_seq(txn, &seq);
	if (rc == 0 && seq > id->rev_seq)
		rc = idstore_revocation_each(txn, id->rev_seq, load_event, id);
	store_txn_end(&txn);
	return rc;
}

static void
key_dir_mtime(const char *dir, struct timespec *ts)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		*ts = st.st_mtim;
	else
		memset(ts, 0, sizeof(*ts));
}

static void
keys_try_load(struct identity *id, bool quiet)
{
	struct keyrepo *k;

	key_dir_mtime(id->key_dir, &id->key_mtime);
	if ((k = keyrepo_load(id->key_dir)) == NULL) {
		if (!quiet)
			log_error("identity: token keys unavailable (%s); token "
			    "requests get 503 until 'tinystack-manage token "
			    "setup' has run", err_msg());
		return;
	}
	atomic_store(&id->keys, k);
	log_info("identity: %zu token key(s) loaded from %s, primary %u",
	    keyrepo_count(k), id->key_dir, keyrepo_primary_index(k));
}

struct identity *
identity_new(const struct config *cfg, struct store *st)
{
	struct identity *id;
	size_t n;

	if ((id = calloc(1, sizeof(*id))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	id->store = st;
	atomic_init(&id->keys, NULL);
	snprintf(id->key_dir, sizeof(id->key_dir), "%s",
	    config_get_str(cfg, "identity", "key_repository"));
	id->lifetime = (unsigned)config_get_int(cfg, "identity",
	    "token_expiration");
	id->opslimit = (unsigned long long)config_get_int(cfg, "identity",
	    "password_hash_opslimit");
	id->memlimit = (size_t)config_get_int(cfg, "identity",
	    "password_hash_memlimit_kb") * 1024;
	if ((id->comp = compliance_new(cfg)) == NULL ||
	    (id->revoked = token_revoke_list_new()) == NULL ||
	    load_events(id) == -1) {
		identity_free(&id);
		return NULL;
	}
	n = token_revoke_list_prune(id->revoked, time(NULL),
	    id->lifetime + REVOKE_BUFFER_S);
	log_info("identity: %zu revocation event(s) loaded, %zu expired",
	    token_revoke_list_count(id->revoked) + n, n);
	keys_try_load(id, false);
	id->next_key_try = db_now_ms() + KEY_RETRY_MS;
	return id;
}

void
identity_free(struct identity **idp)
{
	struct identity *id;
	struct keyrepo *k;

	if (idp == NULL || (id = *idp) == NULL)
		return;
	k = atomic_load(&id->keys);
	keyrepo_free(&k);
	token_revoke_list_free(&id->revoked);
	compliance_free(&id->comp);
	free(id);
	*idp = NULL;
}

struct prune_arg {
	int64_t	before_ms;
	size_t	n;
};

static int
prune_fn(struct store_txn *txn, void *arg)
{
	struct prune_arg *p = arg;

	return idstore_revocation_prune(txn, p->before_ms, &p->n);
}

void
identity_tick(struct identity *id, int64_t now_ms)
{
	struct keyrepo *k = atomic_load(&id->keys);
	struct timespec ts;
	struct prune_arg p;
	unsigned horizon = id->lifetime + REVOKE_BUFFER_S;

	if (k == NULL) {
		if (now_ms >= id->next_key_try) {
			keys_try_load(id, true);
			id->next_key_try = now_ms + KEY_RETRY_MS;
		}
	} else {
		/* Rotation renames files in the directory: its mtime moves. */
		key_dir_mtime(id->key_dir, &ts);
		if (ts.tv_sec != id->key_mtime.tv_sec ||
		    ts.tv_nsec != id->key_mtime.tv_nsec) {
			id->key_mtime = ts;
			if (keyrepo_reload(k) == -1)
				log_err("identity: reloading token keys");
			else
				log_warnx("identity: token keys reloaded, "
				    "primary %u of %zu",
				    keyrepo_primary_index(k), keyrepo_count(k));
		}
	}
	if (load_events(id) == -1)
		log_err("identity: loading revocation events");
	if (now_ms >= id->next_prune) {
		id->next_prune = now_ms + PRUNE_EVERY_MS;
		token_revoke_list_prune(id->revoked, (time_t)(now_ms / 1000),
		    horizon);
		p.before_ms = now_ms - (int64_t)horizon * 1000;
		p.n = 0;
		if (store_write(id->store, prune_fn, &p) == -1)
			log_err("identity: pruning revocation events");
		else if (p.n > 0)
			log_info("identity: %zu expired revocation event(s) "
			    "pruned", p.n);
	}
}

/* ---- revocations tied to a write ---------------------------------------- */

int
identity_revs_add(struct identity_revs *r, struct store_txn *txn,
    const struct revoke_event *ev)
{
	struct revoke_event *nv;

	if (idstore_revocation_add(txn, ev, db_now_ms(), NULL) == -1)
		return -1;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4;
		if ((nv = realloc(r->v, r->cap * sizeof(*nv))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		r->v = nv;
	}
	r->v[r->n++] = *ev;
	return 0;
}

static int
parse_id(const char *s, uint8_t out[TOKEN_ID_LEN])
{
	if (token_id_parse(s, out) == -1) {
		err_set(TS_EINTERNAL, "stored id '%s' is not an identity id",
		    s);
		return -1;
	}
	return 0;
}

int
identity_revs_user(struct identity_revs *r, struct store_txn *txn,
    const char *user_id, int64_t now_ms)
{
	struct revoke_event ev = { .kind = REVOKE_USER };

	if (parse_id(user_id, ev.user_id) == -1)
		return -1;
	ev.issued_before_ms = (uint64_t)now_ms;
	return identity_revs_add(r, txn, &ev);
}

int
identity_revs_project(struct identity_revs *r, struct store_txn *txn,
    const char *project_id, int64_t now_ms)
{
	struct revoke_event ev = { .kind = REVOKE_PROJECT };

	if (parse_id(project_id, ev.project_id) == -1)
		return -1;
	ev.issued_before_ms = (uint64_t)now_ms;
	return identity_revs_add(r, txn, &ev);
}

int
identity_revs_user_project(struct identity_revs *r, struct store_txn *txn,
    const char *user_id, const char *project_id, int64_t now_ms)
{
	struct revoke_event ev = { .kind = REVOKE_USER_PROJECT };

	if (parse_id(user_id, ev.user_id) == -1 ||
	    parse_id(project_id, ev.project_id) == -1)
		return -1;
	ev.issued_before_ms = (uint64_t)now_ms;
	return identity_revs_add(r, txn, &ev);
}

void
identity_revs_done(struct identity *id, struct identity_revs *r,
    bool committed)
{
	size_t i;

	for (i = 0; committed && i < r->n; i++)
		if (token_revoke_list_add(id->revoked, &r->v[i]) == -1)
			/* Persisted: the next tick's catch-up retries. */
			log_err("identity: revocation event");
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* ---- roles and validation ----------------------------------------------- */

static int
add_role(const char *id, const char *name, void *arg)
{
	return request_ctx_add_role(arg, id, name);
}

int
identity_roles_load(struct store_txn *txn, const char *user_id,
    enum idstore_target tt, const char *target_id, struct request_ctx *ctx)
{
	return idstore_roles_effective(txn, user_id, tt, target_id, add_role,
	    ctx);
}

static int __attribute__((format(printf, 1, 2)))
unauthorized(const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(TS_EUNAUTHORIZED, "%s", msg);
	return -1;
}

/* Every string of ctx set to "" (filled in later where it applies), as
 * request.h promises. */
static int
ctx_blank(struct request_ctx *ctx)
{
	if (request_ctx_set(&ctx->user_id, "") == -1 ||
	    request_ctx_set(&ctx->user_name, "") == -1 ||
	    request_ctx_set(&ctx->user_domain_id, "") == -1 ||
	    request_ctx_set(&ctx->user_domain_name, "") == -1 ||
	    request_ctx_set(&ctx->project_id, "") == -1 ||
	    request_ctx_set(&ctx->project_name, "") == -1 ||
	    request_ctx_set(&ctx->project_domain_id, "") == -1 ||
	    request_ctx_set(&ctx->project_domain_name, "") == -1)
		return -1;
	return 0;
}

/*
 * Fill ctx for payload p from the database as it is now: the user exists
 * and is enabled, so is its domain, the scope exists and is enabled, and the
 * user holds a role on it. TS_EUNAUTHORIZED (with the reason) otherwise.
 */
static int
ctx_load(struct store_txn *txn, const struct token_payload *p,
    struct request_ctx *ctx)
{
	char uid[TOKEN_ID_BUFSZ], sid[TOKEN_ID_BUFSZ];
	struct rec_user u;
	struct rec_project d, pr;
	enum idstore_target tt = IDSTORE_PROJECT;
	int rc = -1, n;

	memset(&u, 0, sizeof(u));
	memset(&d, 0, sizeof(d));
	memset(&pr, 0, sizeof(pr));
	request_ctx_clear(ctx);
	if (ctx_blank(ctx) == -1)
		return -1;
	ctx->tok = *p;
	ctx->scope = p->scope_type;
	token_id_format(p->user_id, uid);
	token_id_format(p->scope_id, sid);
	if (idstore_user_get(txn, uid, &u) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			return unauthorized("user %s does not exist", uid);
		return -1;
	}
	if (!u.enabled) {
		unauthorized("user %s is disabled", uid);
		goto out;
	}
	if (idstore_domain_get(txn, u.domain_id, &d) == -1 || !d.enabled) {
		unauthorized("the domain %s of user %s is disabled or gone",
		    u.domain_id, uid);
		goto out;
	}
	if (request_ctx_set(&ctx->user_id, u.id) == -1 ||
	    request_ctx_set(&ctx->user_name, u.name) == -1 ||
	    request_ctx_set(&ctx->user_domain_id, d.id) == -1 ||
	    request_ctx_set(&ctx->user_domain_name, d.name) == -1)
		goto out;
	codec_clear(&schema_rec_project, &d);

	switch (p->scope_type) {
	case TOKEN_SCOPE_UNSCOPED:
		rc = 0;
		goto out;
	case TOKEN_SCOPE_SYSTEM:
		if ((n = identity_roles_load(txn, uid, IDSTORE_SYSTEM, "all",
		    ctx)) == -1)
			goto out;
		if (n == 0) {
			unauthorized("user %s has no role on the system", uid);
			goto out;
		}
		rc = 0;
		goto out;
	case TOKEN_SCOPE_DOMAIN:
		tt = IDSTORE_DOMAIN;
		if (idstore_domain_get(txn, sid, &pr) == -1 || !pr.enabled) {
			unauthorized("domain %s is disabled or gone (user %s)",
			    sid, uid);
			goto out;
		}
		break;
	case TOKEN_SCOPE_PROJECT:
		if (idstore_project_get(txn, sid, &pr) == -1 || pr.is_domain ||
		    !pr.enabled) {
			unauthorized("project %s is disabled or gone (user %s)",
			    sid, uid);
			goto out;
		}
		if (idstore_domain_get(txn, pr.domain_id, &d) == -1 ||
		    !d.enabled) {
			unauthorized("the domain of project %s is disabled or "
			    "gone (user %s)", sid, uid);
			goto out;
		}
		if (request_ctx_set(&ctx->project_domain_id, d.id) == -1 ||
		    request_ctx_set(&ctx->project_domain_name, d.name) == -1)
			goto out;
		break;
	}
	if (request_ctx_set(&ctx->project_id, pr.id) == -1 ||
	    request_ctx_set(&ctx->project_name, pr.name) == -1)
		goto out;
	if ((n = identity_roles_load(txn, uid, tt, sid, ctx)) == -1)
		goto out;
	if (n == 0) {
		unauthorized("user %s has no role on %s", uid, sid);
		goto out;
	}
	rc = 0;
out:
	codec_clear(&schema_rec_user, &u);
	codec_clear(&schema_rec_project, &d);
	codec_clear(&schema_rec_project, &pr);
	return rc;
}

static struct keyrepo *
keys_or_503(struct identity *id)
{
	struct keyrepo *k = atomic_load(&id->keys);

	if (k == NULL)
		err_set(TS_EUNAVAILABLE, "Token keys are not set up: run "
		    "'tinystack-manage token setup'.");
	return k;
}

int
identity_token_mint(struct identity *id, const char *user_id,
    const char *project_id, unsigned lifetime_s, char *out, size_t outlen)
{
	uint8_t uid[TOKEN_ID_LEN], pid[TOKEN_ID_LEN];
	struct token_payload p;
	struct keyrepo *k;

	if ((k = keys_or_503(id)) == NULL)
		return -1;
	if (token_id_parse(user_id, uid) == -1 ||
	    token_id_parse(project_id, pid) == -1) {
		err_set(TS_EINVALID, "token for a malformed user or project id");
		return -1;
	}
	if (lifetime_s == 0 || lifetime_s > id->lifetime)
		lifetime_s = id->lifetime;
	token_payload_init(&p, TOKEN_METHOD_TOKEN, uid, TOKEN_SCOPE_PROJECT,
	    pid, (uint64_t)clock_wall_ms(),
	    lifetime_s);
	return token_issue(k, &p, out, outlen);
}

int
identity_capability_mint(struct identity *id, const char *host,
    const char *instance, const char *const *images, size_t n,
    unsigned lifetime_s, char *out, size_t outlen)
{
	struct keyrepo *k;

	if ((k = keys_or_503(id)) == NULL)
		return -1;
	return capability_issue(k, host, instance, images, n,
	    (time_t)(clock_wall_ms() / 1000), lifetime_s, out, outlen);
}

int
identity_capability_mint_upload(struct identity *id, const char *host,
    const char *instance, const char *image, unsigned lifetime_s, char *out,
    size_t outlen)
{
	struct keyrepo *k;

	if ((k = keys_or_503(id)) == NULL)
		return -1;
	return capability_issue_upload(k, host, instance, image,
	    (time_t)(clock_wall_ms() / 1000), lifetime_s, out, outlen);
}

int
identity_capability_check(void *arg, const char *cap, const char *host,
    const char *image_id, bool upload, struct request_ctx *ctx)
{
	struct identity *id = arg;
	struct keyrepo *k;
	char inst[37];

	request_ctx_clear(ctx);
	if ((k = keys_or_503(id)) == NULL ||
	    (upload ? capability_check_upload : capability_check)(k, cap,
	    (time_t)(clock_wall_ms() / 1000), host, image_id, inst) == -1)
		return -1;
	/* A capability's context names nobody. */
	if (ctx_blank(ctx) == -1) {
		request_ctx_clear(ctx);
		return -1;
	}
	ctx->scope = TOKEN_SCOPE_UNSCOPED;
	ctx->capability = true;
	ctx->cap_upload = upload;
	memcpy(ctx->cap_instance, inst, sizeof(inst));
	return 0;
}

/* Validate tok against keys and the revocation list (no database). */
static int
token_open(struct identity *id, const char *tok, struct token_payload *p)
{
	struct keyrepo *k;

	if ((k = keys_or_503(id)) == NULL)
		return -1;
	if (token_validate(k, tok, time(NULL), p) == -1)
		return -1;
	return token_revoke_list_check(id->revoked, p);
}

static int
token_check_txn(struct identity *id, struct store_txn *txn, const char *tok,
    struct request_ctx *ctx)
{
	struct token_payload p;

	if (token_open(id, tok, &p) == -1 || ctx_load(txn, &p, ctx) == -1)
		return -1;
	snprintf(ctx->token, sizeof(ctx->token), "%s", tok);
	return 0;
}

int
identity_token_check(struct identity *id, const char *tok, struct request_ctx *ctx)
{
	struct store_txn *txn = NULL;
	struct token_payload p;
	int rc;

	/* The crypto and revocation check need no transaction. */
	if (token_open(id, tok, &p) == -1)
		return -1;
	if (store_read_begin(id->store, &txn) == -1)
		return -1;
	rc = ctx_load(txn, &p, ctx);
	store_txn_end(&txn);
	if (rc == 0)
		snprintf(ctx->token, sizeof(ctx->token), "%s", tok);
	return rc;
}

/* ---- token bodies ------------------------------------------------------- */

static json_t *
methods_json(uint8_t m)
{
	json_t *a = json_array();

	if (a == NULL)
		return NULL;
	if (m & TOKEN_METHOD_PASSWORD)
		json_array_append_new(a, json_string("password"));
	if (m & TOKEN_METHOD_TOKEN)
		json_array_append_new(a, json_string("token"));
	return a;
}

static json_t *
roles_json(const struct request_ctx *c, bool v2)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < c->nroles; i++)
		if (json_array_append_new(a, v2 ?
		    json_pack("{s:s}", "name", c->roles[i].name) :
		    json_pack("{s:s, s:s}", "id", c->roles[i].id, "name",
		    c->roles[i].name)) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
audit_ids_json(const struct token_payload *p)
{
	char a[TOKEN_AUDIT_BUFSZ], b[TOKEN_AUDIT_BUFSZ];

	token_audit_id_format(p->audit_id, a);
	if (!p->has_parent)
		return json_pack("[s]", a);
	token_audit_id_format(p->parent_audit_id, b);
	return json_pack("[s, s]", a, b);
}

/* The v3 token body for a loaded context; NULL with err set. */
static json_t *
token_json(struct store_txn *txn, const struct request_ctx *c, bool catalog)
{
	char issued[IDENTITY_JSON_TIME_BUFSZ], expires[IDENTITY_JSON_TIME_BUFSZ];
	json_t *t, *cat;

	identity_json_time((int64_t)c->tok.issued_at_ms, issued);
	identity_json_time((int64_t)c->tok.expires_at_ms, expires);
	t = json_pack("{s:o, s:{s:{s:s, s:s}, s:s, s:s, s:n}, s:o, s:s, s:s}",
	    "methods", methods_json(c->tok.methods),
	    "user", "domain", "id", c->user_domain_id, "name",
	    c->user_domain_name, "id", c->user_id, "name", c->user_name,
	    "password_expires_at",
	    "audit_ids", audit_ids_json(&c->tok),
	    "expires_at", expires, "issued_at", issued);
	if (t == NULL)
		goto nomem;
	switch (c->scope) {
	case TOKEN_SCOPE_UNSCOPED:
		/* No project, roles or catalog, as Keystone. */
		return json_pack("{s:o}", "token", t);
	case TOKEN_SCOPE_PROJECT:
		if (json_object_set_new(t, "project", json_pack(
		    "{s:{s:s, s:s}, s:s, s:s}", "domain", "id",
		    c->project_domain_id, "name", c->project_domain_name,
		    "id", c->project_id, "name", c->project_name)) == -1 ||
		    json_object_set_new(t, "is_domain", json_false()) == -1)
			goto nomem;
		break;
	case TOKEN_SCOPE_DOMAIN:
		if (json_object_set_new(t, "domain", json_pack("{s:s, s:s}",
		    "id", c->project_id, "name", c->project_name)) == -1)
			goto nomem;
		break;
	case TOKEN_SCOPE_SYSTEM:
		if (json_object_set_new(t, "system", json_pack("{s:b}", "all",
		    1)) == -1)
			goto nomem;
		break;
	}
	if (json_object_set_new(t, "roles", roles_json(c, false)) == -1)
		goto nomem;
	if (catalog) {
		if ((cat = identity_catalog_v3(txn, c->scope ==
		    TOKEN_SCOPE_PROJECT ? c->project_id : NULL)) == NULL) {
			json_decref(t);
			return NULL;
		}
		if (json_object_set_new(t, "catalog", cat) == -1)
			goto nomem;
	}
	return json_pack("{s:o}", "token", t);
nomem:
	json_decref(t);
	err_set(TS_ENOMEM, "out of memory");
	return NULL;
}

/* ---- POST /v3/auth/tokens ----------------------------------------------- */

enum scope_req {
	SC_DEFAULT = 0,		/* none given: the default project, if any */
	SC_UNSCOPED,
	SC_PROJECT,
	SC_DOMAIN,
	SC_SYSTEM,
};

struct auth_in {
	uint8_t		 methods;
	/* password */
	const char	*user_id, *user_name, *udom_id, *udom_name, *password;
	/* token */
	const char	*token;
	enum scope_req	 scope;
	const char	*s_id, *s_name, *s_dom_id, *s_dom_name;
};

static int
bad_field(const char *f)
{
	err_set(TS_EINVALID, "Invalid input for field '%s'.", f);
	return -1;
}

/* {"id": ...} or {"name": ...} (of a domain reference). */
static int
parse_ref(json_t *o, const char *field, const char **id, const char **name)
{
	if (!json_is_object(o))
		return bad_field(field);
	if (jsonreq_str(JSONREQ_KEYSTONE, o, "id", 1, 64, JSONREQ_BYTES, id,
	    NULL) == -1 ||
	    jsonreq_str(JSONREQ_KEYSTONE, o, "name", 1, 255, JSONREQ_BYTES,
	    name, NULL) == -1)
		return -1;
	if (*id == NULL && *name == NULL)
		return bad_field(field);
	return 0;
}

static int
parse_auth(json_t *auth, struct auth_in *in)
{
	json_t *ident, *methods, *m, *pw, *user, *tok, *scope, *o, *dom;
	const char *s;
	size_t i;

	memset(in, 0, sizeof(*in));
	ident = json_object_get(auth, "identity");
	if (!json_is_object(ident))
		return bad_field("identity");
	methods = json_object_get(ident, "methods");
	if (!json_is_array(methods) || json_array_size(methods) == 0)
		return bad_field("methods");
	json_array_foreach(methods, i, m) {
		s = json_string_value(m);
		if (s != NULL && strcmp(s, "password") == 0)
			in->methods |= TOKEN_METHOD_PASSWORD;
		else if (s != NULL && strcmp(s, "token") == 0)
			in->methods |= TOKEN_METHOD_TOKEN;
		else {
			err_set(TS_EUNAUTHORIZED, "Attempted to authenticate "
			    "with an unsupported method.");
			return -1;
		}
	}
	if (in->methods & TOKEN_METHOD_PASSWORD) {
		pw = json_object_get(ident, "password");
		user = json_is_object(pw) ? json_object_get(pw, "user") : NULL;
		if (!json_is_object(user))
			return bad_field("password");
		if (jsonreq_str(JSONREQ_KEYSTONE, user, "id", 1, 64,
		    JSONREQ_BYTES, &in->user_id, NULL) == -1 ||
		    jsonreq_str(JSONREQ_KEYSTONE, user, "name", 1, 255,
		    JSONREQ_BYTES, &in->user_name, NULL) == -1 ||
		    jsonreq_str(JSONREQ_KEYSTONE, user, "password", 0,
		    PASSWORD_MAX_LEN,
		    JSONREQ_BYTES | JSONREQ_REQUIRED, &in->password,
		    NULL) == -1)
			return -1;
		if (in->user_id == NULL) {
			if (in->user_name == NULL)
				return bad_field("user");
			dom = json_object_get(user, "domain");
			if (dom == NULL) {
				err_set(TS_EINVALID, "Expecting to find domain "
				    "in user. The server could not comply with "
				    "the request since it is either malformed "
				    "or otherwise incorrect.");
				return -1;
			}
			if (parse_ref(dom, "domain", &in->udom_id,
			    &in->udom_name) == -1)
				return -1;
		}
	}
	if (in->methods & TOKEN_METHOD_TOKEN) {
		tok = json_object_get(ident, "token");
		if (!json_is_object(tok))
			return bad_field("token");
		if (jsonreq_str(JSONREQ_KEYSTONE, tok, "id", 1, 1024,
		    JSONREQ_BYTES | JSONREQ_REQUIRED, &in->token, NULL) == -1)
			return -1;
	}
	scope = json_object_get(auth, "scope");
	if (scope == NULL)
		return 0;
	if (json_is_string(scope)) {
		if (strcmp(json_string_value(scope), "unscoped") != 0)
			return bad_field("scope");
		in->scope = SC_UNSCOPED;
		return 0;
	}
	if (!json_is_object(scope) || json_object_size(scope) != 1)
		return bad_field("scope");
	if ((o = json_object_get(scope, "project")) != NULL) {
		in->scope = SC_PROJECT;
		if (parse_ref(o, "project", &in->s_id, &in->s_name) == -1)
			return -1;
		if (in->s_id == NULL) {
			dom = json_object_get(o, "domain");
			if (dom == NULL)
				return bad_field("domain");
			if (parse_ref(dom, "domain", &in->s_dom_id,
			    &in->s_dom_name) == -1)
				return -1;
		}
	} else if ((o = json_object_get(scope, "domain")) != NULL) {
		in->scope = SC_DOMAIN;
		if (parse_ref(o, "domain", &in->s_id, &in->s_name) == -1)
			return -1;
	} else if ((o = json_object_get(scope, "system")) != NULL) {
		if (!json_is_object(o) ||
		    !json_is_true(json_object_get(o, "all")))
			return bad_field("system");
		in->scope = SC_SYSTEM;
	} else {
		err_set(TS_EINVALID, "Only project, domain and system scopes "
		    "are supported.");
		return -1;
	}
	return 0;
}

/* The domain id of a {"id"} / {"name"} reference, in txn. */
static int
domain_ref(struct store_txn *txn, const char *id, const char *name,
    char out[IDSTORE_ID_BUFSZ])
{
	struct rec_project d;
	int rc;

	if (id != NULL)
		rc = idstore_domain_get(txn, id, &d);
	else
		rc = idstore_project_find(txn, NULL, name, &d);
	if (rc == 0)
		snprintf(out, IDSTORE_ID_BUFSZ, "%s", d.id);
	codec_clear(&schema_rec_project, &d);
	return rc;
}

/* Look the password user up into *u (a copy: no transaction is held
 * across the hashing). 1 found, 0 no such user, -1 error. */
static int
pw_user_lookup(struct identity *id, const struct auth_in *in,
    struct rec_user *u)
{
	struct store_txn *txn = NULL;
	char dom[IDSTORE_ID_BUFSZ];
	int rc;

	memset(u, 0, sizeof(*u));
	if (store_read_begin(id->store, &txn) == -1)
		return -1;
	if (in->user_id != NULL)
		rc = idstore_user_get(txn, in->user_id, u);
	else if ((rc = domain_ref(txn, in->udom_id, in->udom_name, dom)) == 0)
		rc = idstore_user_find(txn, dom, in->user_name, u);
	store_txn_end(&txn);
	if (rc == 0)
		return 1;
	codec_clear(&schema_rec_user, u);
	return err_code() == TS_ENOT_FOUND ? 0 : -1;
}

struct rehash {
	const char	*user_id;
	const char	*old_hash;
	char		 hash[PASSWORD_HASH_BUFSZ];
};

/* Store a hash at the current costs, unless the password changed since
 * it was verified. Not a password change: no revocation. */
static int
rehash_fn(struct store_txn *txn, void *arg)
{
	struct rehash *r = arg;
	struct rec_user u;
	char *keep;
	int rc = 0;

	if (idstore_user_get(txn, r->user_id, &u) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (u.password_hash != NULL &&
	    strcmp(u.password_hash, r->old_hash) == 0) {
		keep = u.password_hash;
		u.password_hash = r->hash;
		rc = idstore_user_put(txn, &u, &u);
		u.password_hash = keep;
	}
	codec_clear(&schema_rec_user, &u);
	return rc;
}

struct failcount {
	const struct compliance	*comp;
	const char		*user_id;
	bool			 failed;	/* else: clear the count */
	int64_t			 now;
};

/* Count a failed check (or clear the count) on the record as it is now:
 * concurrent failures each add one. */
static int
failcount_fn(struct store_txn *txn, void *arg)
{
	struct failcount *f = arg;
	struct rec_user u;
	bool changed;
	int rc = 0;

	if (idstore_user_get(txn, f->user_id, &u) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	changed = f->failed ? compliance_failure(f->comp, &u, f->now) :
	    compliance_success(&u);
	if (changed)
		rc = idstore_user_put(txn, &u, &u);
	codec_clear(&schema_rec_user, &u);
	return rc;
}

int
identity_password_check(struct identity *id, const struct rec_user *u,
    const char *pw, bool *wrong)
{
	struct failcount f = { .comp = id->comp, .user_id = u->id };
	int64_t now = db_now_ms();

	*wrong = false;
	/* Before any verification: a locked-out user is no oracle. */
	if (compliance_locked(id->comp, u, now)) {
		log_info("auth: user %s is locked out (%u failures)", u->id,
		    u->failed_auth_count);
		err_set(TS_EUNAUTHORIZED, "The account is locked for user: %s.",
		    u->id);
		return -1;
	}
	if (u->password_hash == NULL) {
		password_verify_nouser(pw, id->opslimit, id->memlimit);
		err_set(TS_EUNAUTHORIZED, "no password");
	} else if (password_verify(u->password_hash, pw) == 0) {
		if (u->failed_auth_count != 0 &&
		    store_write(id->store, failcount_fn, &f) == -1)
			log_err("auth: clearing a user's failed attempts");
		return 0;
	}
	if (err_code() != TS_EUNAUTHORIZED)
		return -1;
	*wrong = true;
	f.failed = true;
	f.now = now;
	if (compliance_counts_failures(id->comp) &&
	    store_write(id->store, failcount_fn, &f) == -1)
		return -1;
	err_set(TS_EUNAUTHORIZED, "The request you have made requires "
	    "authentication.");
	return -1;
}

/* Password method: the user id, or 401. */
static int
auth_password(struct identity *id, const struct auth_in *in,
    char user_id[IDSTORE_ID_BUFSZ])
{
	struct rec_user u;
	struct rehash rh;
	bool wrong;
	int found, rc = -1;

	if ((found = pw_user_lookup(id, in, &u)) == -1)
		return -1;
	if (found == 0) {
		/* The same work as a real verification (CVE-2018-20170). */
		password_verify_nouser(in->password, id->opslimit,
		    id->memlimit);
		/* Not the text as typed: a password typed into the user
		 * field would land in the log. */
		log_info("auth: no such user (user %s of %zu bytes)",
		    in->user_id ? "id" : "name", strlen(in->user_id ?
		    in->user_id : in->user_name ? in->user_name : ""));
		err_set(TS_EUNAUTHORIZED, "The request you have made requires "
		    "authentication.");
		return -1;
	}
	if (identity_password_check(id, &u, in->password, &wrong) == -1) {
		if (wrong)
			log_info("auth: wrong password for user %s", u.id);
		goto out;
	}
	if (!u.enabled) {
		err_set(TS_EUNAUTHORIZED, "The account is disabled for user: "
		    "%s.", u.id);
		goto out;
	}
	if (compliance_expired(&u, db_now_ms())) {
		log_info("auth: password of user %s expired", u.id);
		err_set(TS_EUNAUTHORIZED, "The password is expired and needs to "
		    "be changed for user: %s.", u.id);
		goto out;
	}
	if (password_needs_rehash(u.password_hash, id->opslimit,
	    id->memlimit) == 1 &&
	    password_hash(in->password, id->opslimit, id->memlimit,
	    rh.hash) == 0) {
		rh.user_id = u.id;
		rh.old_hash = u.password_hash;
		if (store_write(id->store, rehash_fn, &rh) == -1)
			log_err("auth: storing a rehashed password");
		explicit_bzero(rh.hash, sizeof(rh.hash));
	}
	snprintf(user_id, IDSTORE_ID_BUFSZ, "%s", u.id);
	rc = 0;
out:
	codec_clear(&schema_rec_user, &u);
	return rc;
}

/*
 * The scope's type and id: named project/domain looked up, the default
 * project when none was asked for (unscoped when it is not usable, as
 * Keystone does). 401 for a scope that does not exist.
 */
static int
resolve_scope(struct store_txn *txn, const struct auth_in *in,
    const char *user_id, enum token_scope *type, uint8_t sid[TOKEN_ID_LEN],
    bool *is_default)
{
	struct rec_project p;
	struct rec_user u;
	char dom[IDSTORE_ID_BUFSZ];
	int rc = 0;

	*is_default = false;
	memset(sid, 0, TOKEN_ID_LEN);
	memset(&p, 0, sizeof(p));
	switch (in->scope) {
	case SC_UNSCOPED:
		*type = TOKEN_SCOPE_UNSCOPED;
		return 0;
	case SC_SYSTEM:
		*type = TOKEN_SCOPE_SYSTEM;
		return 0;
	case SC_DEFAULT:
		*type = TOKEN_SCOPE_UNSCOPED;
		if (idstore_user_get(txn, user_id, &u) == -1)
			return -1;
		if (u.default_project_id != NULL &&
		    token_id_parse(u.default_project_id, sid) == 0) {
			*type = TOKEN_SCOPE_PROJECT;
			*is_default = true;
		}
		codec_clear(&schema_rec_user, &u);
		return 0;
	case SC_PROJECT:
		*type = TOKEN_SCOPE_PROJECT;
		if (in->s_id != NULL)
			rc = idstore_project_get(txn, in->s_id, &p);
		else if ((rc = domain_ref(txn, in->s_dom_id, in->s_dom_name,
		    dom)) == 0)
			rc = idstore_project_find(txn, dom, in->s_name, &p);
		break;
	case SC_DOMAIN:
		*type = TOKEN_SCOPE_DOMAIN;
		if (in->s_id != NULL)
			rc = idstore_domain_get(txn, in->s_id, &p);
		else
			rc = idstore_project_find(txn, NULL, in->s_name, &p);
		break;
	}
	if (rc == 0 && token_id_parse(p.id, sid) == -1)
		rc = -1;
	codec_clear(&schema_rec_project, &p);
	if (rc == -1 && (err_code() == TS_ENOT_FOUND ||
	    err_code() == TS_EINVALID)) {
		log_info("auth: scope not found: %s", err_msg());
		err_set(TS_EUNAUTHORIZED, "The request you have made requires "
		    "authentication.");
	}
	return rc;
}

/*
 * Authenticate the auth object and fill p (the new token) and ctx (its
 * validated context) in txn-consistent state. Errors: 400 malformed, 401
 * authentication or scope, 404 an invalid token for the token method.
 */
static int
authenticate_auth(struct http_req *req, json_t *auth, struct token_payload *p,
    struct request_ctx *ctx, struct store_txn **txnp)
{
	struct identity *id = identity_of(req);
	struct auth_in in;
	struct token_payload parent;
	struct request_ctx *pctx = NULL;
	char user_id[IDSTORE_ID_BUFSZ] = "", pu[IDSTORE_ID_BUFSZ];
	uint8_t uid[TOKEN_ID_LEN], sid[TOKEN_ID_LEN];
	enum token_scope st = TOKEN_SCOPE_UNSCOPED;
	bool is_default;
	uint64_t now = (uint64_t)db_now_ms();

	memset(&parent, 0, sizeof(parent));
	if (parse_auth(auth, &in) == -1)
		return -1;
	if (keys_or_503(id) == NULL)
		return -1;
	if (in.methods & TOKEN_METHOD_TOKEN) {
		if ((pctx = request_ctx_new()) == NULL)
			return -1;
		if (identity_token_check(id, in.token, pctx) == -1) {
			request_ctx_free(&pctx);
			if (err_code() != TS_EUNAUTHORIZED)
				return -1;
			log_info("auth: token method: %s", err_msg());
			err_set(TS_ENOT_FOUND, "Could not find token.");
			return -1;
		}
		parent = pctx->tok;
		snprintf(user_id, sizeof(user_id), "%s", pctx->user_id);
		request_ctx_free(&pctx);
	}
	if (in.methods & TOKEN_METHOD_PASSWORD) {
		/* Both methods: they must name the same user. */
		snprintf(pu, sizeof(pu), "%s", user_id);
		if (auth_password(id, &in, user_id) == -1)
			return -1;
		if ((in.methods & TOKEN_METHOD_TOKEN) &&
		    strcmp(user_id, pu) != 0) {
			err_set(TS_EUNAUTHORIZED, "The password and the token "
			    "name different users.");
			return -1;
		}
	}
	if (token_id_parse(user_id, uid) == -1) {
		err_set(TS_EINTERNAL, "user id '%s' does not parse", user_id);
		return -1;
	}
	if (store_read_begin(id->store, txnp) == -1)
		return -1;
	if (resolve_scope(*txnp, &in, user_id, &st, sid, &is_default) == -1)
		return -1;
	for (;;) {
		if (in.methods & TOKEN_METHOD_TOKEN) {
			token_payload_rescope(&parent, st, sid, now, p);
			p->methods |= in.methods;
		} else {
			token_payload_init(p, in.methods, uid, st, sid, now,
			    id->lifetime);
		}
		if (ctx_load(*txnp, p, ctx) == 0)
			return 0;
		if (err_code() != TS_EUNAUTHORIZED || !is_default)
			break;
		/* An unusable default project gives an unscoped token. */
		log_info("auth: default project of %s not usable (%s): "
		    "unscoped token", user_id, err_msg());
		is_default = false;
		st = TOKEN_SCOPE_UNSCOPED;
		memset(sid, 0, sizeof(sid));
	}
	if (err_code() == TS_EUNAUTHORIZED) {
		log_info("auth: %s", err_msg());
		if (in.scope == SC_PROJECT || in.scope == SC_DOMAIN ||
		    in.scope == SC_SYSTEM)
			err_set(TS_EUNAUTHORIZED, "User %s has no access to the "
			    "requested scope.", user_id);
		else
			err_set(TS_EUNAUTHORIZED, "The request you have made "
			    "requires authentication.");
	}
	return -1;
}

static int
auth_tokens_post(struct http_req *req, struct http_resp *resp)
{
	json_t *body = http_req_json(req), *auth, *out;
	struct store_txn *txn = NULL;
	struct request_ctx *ctx;
	struct token_payload p;
	struct keyrepo *k;
	char tok[TOKEN_BUFSZ];
	int rc = -1;

	auth = json_is_object(body) ? json_object_get(body, "auth") : NULL;
	if (!json_is_object(auth)) {
		err_set(TS_EINVALID, "Expecting to find auth in request body.");
		return -1;
	}
	if ((ctx = request_ctx_new()) == NULL)
		return -1;
	if (authenticate_auth(req, auth, &p, ctx, &txn) == -1)
		goto out;
	out = token_json(txn, ctx, http_req_query(req, "nocatalog") == NULL);
	store_txn_end(&txn);
	if (out == NULL)
		goto out;
	if ((k = keys_or_503(identity_of(req))) == NULL ||
	    token_issue(k, &p, tok, sizeof(tok)) == -1 ||
	    http_resp_header(resp, "X-Subject-Token", tok) == -1) {
		json_decref(out);
		goto out;
	}
	explicit_bzero(tok, sizeof(tok));
	log_info("auth: token issued to user %s (scope %d)", ctx->user_id,
	    (int)ctx->scope);
	rc = http_resp_json(resp, 201, out);
out:
	store_txn_end(&txn);
	request_ctx_free(&ctx);
	return rc;
}

/* ---- GET/HEAD/DELETE /v3/auth/tokens ------------------------------------ */

/* The X-Subject-Token's context (404 when it does not validate), with the
 * read transaction left open for rendering. */
static int
subject_load(struct http_req *req, struct request_ctx *sub,
    struct store_txn **txn)
{
	const char *st = http_req_header(req, "X-Subject-Token");

	if (st == NULL || *st == '\0') {
		err_set(TS_EINVALID, "X-Subject-Token header is required.");
		return -1;
	}
	if (identity_json_read(req, txn) == -1)
		return -1;
	if (token_check_txn(identity_of(req), *txn, st, sub) == -1) {
		if (err_code() == TS_EUNAUTHORIZED) {
			log_info("auth: subject token: %s", err_msg());
			err_set(TS_ENOT_FOUND, "Could not find token.");
		}
		return -1;
	}
	return 0;
}

static int
subject_enforce(struct http_req *req, const struct request_ctx *sub,
    const char *rule)
{
	struct request_target t;

	memset(&t, 0, sizeof(t));
	if (request_target_add(&t, "target.token.user_id", sub->user_id) == -1)
		return -1;
	return request_enforce(req, rule, &t);
}

static int
auth_tokens_get(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct request_ctx *sub;
	json_t *out;
	int rc = -1;
	bool head = strcmp(http_req_method(req), "HEAD") == 0;

	if ((sub = request_ctx_new()) == NULL)
		return -1;
	if (subject_load(req, sub, &txn) == -1 ||
	    subject_enforce(req, sub, head ? "identity:check_token" :
	    "identity:validate_token") == -1)
		goto out;
	if (head) {
		rc = http_resp_status(resp, 200);
		goto out;
	}
	out = token_json(txn, sub, http_req_query(req, "nocatalog") == NULL);
	if (out == NULL || http_resp_header(resp, "X-Subject-Token",
	    sub->token) == -1) {
		json_decref(out);
		goto out;
	}
	rc = http_resp_json(resp, 200, out);
out:
	store_txn_end(&txn);
	request_ctx_free(&sub);
	return rc;
}

struct revoke_one {
	struct identity_revs	revs;
	struct revoke_event	ev;
};

static int
revoke_fn(struct store_txn *txn, void *arg)
{
	struct revoke_one *r = arg;

	return identity_revs_add(&r->revs, txn, &r->ev);
}

static int
auth_tokens_delete(struct http_req *req, struct http_resp *resp)
{
	struct store_txn *txn = NULL;
	struct request_ctx *sub;
	struct revoke_one r;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if ((sub = request_ctx_new()) == NULL)
		return -1;
	if (subject_load(req, sub, &txn) == -1)
		goto out;
	store_txn_end(&txn);
	if (subject_enforce(req, sub, "identity:revoke_token") == -1)
		goto out;
	r.ev.kind = REVOKE_AUDIT_ID;
	memcpy(r.ev.audit_id, sub->tok.audit_id, TOKEN_ID_LEN);
	r.ev.issued_before_ms = (uint64_t)db_now_ms();
	rc = identity_json_write(req, revoke_fn, &r);
	identity_revs_done(identity_of(req), &r.revs, rc == 0);
	if (rc == 0) {
		log_info("auth: token of user %s revoked", sub->user_id);
		rc = http_resp_status(resp, 204);
	}
out:
	store_txn_end(&txn);
	request_ctx_free(&sub);
	return rc;
}

static int
auth_catalog(struct http_req *req, struct http_resp *resp)
{
	const struct request_ctx *c = request_ctx_of(req);
	struct store_txn *txn = NULL;
	json_t *cat, *self;

	if (c->scope == TOKEN_SCOPE_UNSCOPED) {
		err_set(TS_EFORBIDDEN, "A scoped token is required to produce "
		    "a service catalog.");
		return -1;
	}
	if (identity_json_read(req, &txn) == -1)
		return -1;
	cat = identity_catalog_v3(txn, c->scope == TOKEN_SCOPE_PROJECT ?
	    c->project_id : NULL);
	store_txn_end(&txn);
	self = identity_json_url(req, "/v3/auth/catalog");
	if (cat == NULL || self == NULL) {
		json_decref(cat);
		json_decref(self);
		return -1;
	}
	return http_resp_json(resp, 0, json_pack("{s:o, s:{s:o}}", "catalog",
	    cat, "links", "self", self));
}

/* ---- discovery ---------------------------------------------------------- */

static json_t *
version_v3_json(struct http_req *req)
{
	json_t *href = identity_json_url(req, "/v3/");

	if (href == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:[{s:s, s:o}], s:[{s:s, s:s}]}",
	    "id", V3_VERSION_ID, "status", "stable", "updated", V3_UPDATED,
	    "links", "rel", "self", "href", href,
	    "media-types", "base", "application/json", "type",
	    "application/vnd.openstack.identity-v3+json");
}

static int
version_root(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_v3_json(req);

	if (v == NULL)
		return -1;
	return http_resp_json(resp, 300, json_pack("{s:{s:[o]}}", "versions",
	    "values", v));
}

static int
version_v3(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_v3_json(req);

	if (v == NULL)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}", "version", v));
}

static int
version_v2(struct http_req *req, struct http_resp *resp)
{
	json_t *href = identity_json_url(req, "/v2.0/");

	if (href == NULL)
		return -1;
	return http_resp_json(resp, 200, json_pack(
	    "{s:{s:s, s:s, s:s, s:[{s:s, s:o}], s:[{s:s, s:s}]}}", "version",
	    "id", "v2.0", "status", "deprecated", "updated",
	    "2014-04-17T00:00:00Z", "links", "rel", "self", "href", href,
	    "media-types", "base", "application/json", "type",
	    "application/vnd.openstack.identity-v2.0+json"));
}

/* ---- POST /v2.0/tokens -------------------------------------------------- */

/*
 * The v2.0 request in v3 terms: passwordCredentials (a user of the default
 * domain) or token, and tenantName/tenantId (in the default domain).
 */
static json_t *
v2_to_v3(json_t *auth)
{
	json_t *pc = json_object_get(auth, "passwordCredentials");
	json_t *tok = json_object_get(auth, "token");
	json_t *tn = json_object_get(auth, "tenantName");
	json_t *ti = json_object_get(auth, "tenantId");
	json_t *ident, *out, *scope = NULL;

	if (json_is_object(pc)) {
		if (!json_is_string(json_object_get(pc, "username")) ||
		    !json_is_string(json_object_get(pc, "password")))
			return NULL;
		ident = json_pack("{s:[s], s:{s:{s:O, s:{s:s}, s:O}}}",
		    "methods", "password", "password", "user", "name",
		    json_object_get(pc, "username"), "domain", "id",
		    IDSTORE_DEFAULT_DOMAIN, "password",
		    json_object_get(pc, "password"));
	} else if (json_is_object(tok) &&
	    json_is_string(json_object_get(tok, "id"))) {
		ident = json_pack("{s:[s], s:{s:O}}", "methods", "token",
		    "token", "id", json_object_get(tok, "id"));
	} else {
		return NULL;
	}
	if (json_is_string(ti))
		scope = json_pack("{s:{s:O}}", "project", "id", ti);
	else if (json_is_string(tn))
		scope = json_pack("{s:{s:O, s:{s:s}}}", "project", "name", tn,
		    "domain", "id", IDSTORE_DEFAULT_DOMAIN);
	else
		scope = json_string("unscoped");
	out = json_pack("{s:o, s:o}", "identity", ident, "scope", scope);
	return out;
}

static json_t *
v2_access_json(struct store_txn *txn, const struct request_ctx *c,
    const char *tok)
{
	char issued[IDENTITY_JSON_TIME_BUFSZ], expires[IDENTITY_JSON_TIME_BUFSZ];
	char audit[TOKEN_AUDIT_BUFSZ];
	json_t *token, *cat, *role_ids;
	size_t i;

	identity_json_time((int64_t)c->tok.issued_at_ms, issued);
	identity_json_time((int64_t)c->tok.expires_at_ms, expires);
	token_audit_id_format(c->tok.audit_id, audit);
	token = json_pack("{s:s, s:s, s:s, s:[s]}", "id", tok, "expires",
	    expires, "issued_at", issued, "audit_ids", audit);
	if (token == NULL)
		return NULL;
	if (c->scope == TOKEN_SCOPE_PROJECT) {
		json_object_set_new(token, "tenant", json_pack(
		    "{s:s, s:s, s:b, s:s}", "id", c->project_id, "name",
		    c->project_name, "enabled", 1, "description", ""));
		cat = identity_catalog_v2(txn, c->project_id);
	} else {
		cat = json_array();
	}
	role_ids = json_array();
	for (i = 0; role_ids != NULL && i < c->nroles; i++)
		json_array_append_new(role_ids, json_string(c->roles[i].id));
	if (cat == NULL || role_ids == NULL) {
		json_decref(token);
		json_decref(cat);
		json_decref(role_ids);
		return NULL;
	}
	return json_pack("{s:{s:o, s:{s:s, s:s, s:s, s:o, s:[]}, s:o, "
	    "s:{s:i, s:o}}}", "access", "token", token,
	    "user", "id", c->user_id, "name", c->user_name, "username",
	    c->user_name, "roles", roles_json(c, true), "roles_links",
	    "serviceCatalog", cat,
	    "metadata", "is_admin", 0, "roles", role_ids);
}

/*
 * The body is parsed here whatever its Content-Type (a raw-body route): the
 * classic `curl -d '{"auth": ...}'` example sends it form-encoded.
 */
static int
v2_tokens_post(struct http_req *req, struct http_resp *resp)
{
	json_t *body, *auth, *v3, *out;
	struct store_txn *txn = NULL;
	struct request_ctx *ctx;
	struct token_payload p;
	struct keyrepo *k;
	json_error_t jerr;
	const char *raw;
	size_t len;
	char tok[TOKEN_BUFSZ];
	int rc = -1;

	raw = http_req_body(req, &len);
	if (raw == NULL || len == 0 || (body = json_loadb(raw, len,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		err_set(TS_EINVALID, "Malformed JSON in request body.");
		return -1;
	}
	auth = json_is_object(body) ? json_object_get(body, "auth") : NULL;
	v3 = json_is_object(auth) ? v2_to_v3(auth) : NULL;
	json_decref(body);
	if (v3 == NULL) {
		err_set(TS_EINVALID, "Expecting to find passwordCredentials or "
		    "token in auth.");
		return -1;
	}
	if ((ctx = request_ctx_new()) == NULL) {
		json_decref(v3);
		return -1;
	}
	if (authenticate_auth(req, v3, &p, ctx, &txn) == -1)
		goto out;
	if ((k = keys_or_503(identity_of(req))) == NULL ||
	    token_issue(k, &p, tok, sizeof(tok)) == -1)
		goto out;
	out = v2_access_json(txn, ctx, tok);
	explicit_bzero(tok, sizeof(tok));
	if (out == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	rc = http_resp_json(resp, 200, out);
out:
	store_txn_end(&txn);
	request_ctx_free(&ctx);
	json_decref(v3);
	return rc;
}

/* ---- policy targets ----------------------------------------------------- */

int
identity_policy_target(struct http_req *req, struct request_target *t)
{
	const char *uid = http_req_param(req, "user_id");
	const char *pid = http_req_param(req, "project_id");
	const char *did = http_req_param(req, "domain_id");
	const char *rid = http_req_param(req, "role_id");
	const char *gid = http_req_param(req, "group_id");
	struct store_txn *txn = NULL;
	struct rec_user u;
	struct rec_project p;
	int rc = 0;

	if (uid == NULL && pid == NULL && did == NULL && rid == NULL &&
	    gid == NULL)
		return 0;
	if (identity_json_read(req, &txn) == -1)
		return -1;
	if (uid != NULL) {
		rc |= request_target_add(t, "user_id", uid);
		rc |= request_target_add(t, "target.user.id", uid);
		if (idstore_user_get(txn, uid, &u) == 0)
			rc |= request_target_add(t, "target.user.domain_id",
			    u.domain_id);
		codec_clear(&schema_rec_user, &u);
	}
	if (pid != NULL) {
		rc |= request_target_add(t, "target.project.id", pid);
		if (idstore_project_get(txn, pid, &p) == 0 &&
		    p.domain_id != NULL)
			rc |= request_target_add(t, "target.project.domain_id",
			    p.domain_id);
		codec_clear(&schema_rec_project, &p);
	}
	if (did != NULL)
		rc |= request_target_add(t, "target.domain.id", did);
	if (rid != NULL)
		rc |= request_target_add(t, "target.role.id", rid);
	if (gid != NULL)
		rc |= request_target_add(t, "target.group.id", gid);
	store_txn_end(&txn);
	err_clear();
	if (rc != 0) {
		err_set(TS_EINTERNAL, "policy target overflow");
		return -1;
	}
	return 0;
}

/* ---- routes ------------------------------------------------------------- */

#define R(m, p, h, pol, fl, st) { m, p, h, pol, fl, st, NULL }
#define NA	ROUTE_NO_AUTH
#define IH	ROUTE_POLICY_IN_HANDLER
#define SELF	ROUTE_SELF_SCOPED
#define GRANTS(base)							\
	R("GET", base "/roles", identity_assign_grant_list,			\
	    "identity:list_grants", 0, 0),				\
	R("PUT", base "/roles/{role_id}", identity_assign_grant_put,		\
	    "identity:create_grant", 0, 204),				\
	R("GET", base "/roles/{role_id}", identity_assign_grant_check,	\
	    "identity:check_grant", 0, 204),				\
	R("DELETE", base "/roles/{role_id}", identity_assign_grant_delete,	\
	    "identity:revoke_grant", 0, 204)

const struct http_route identity_routes[] = {
	R("GET", "/", version_root, NULL, NA, 300),
	R("GET", "/v3", version_v3, NULL, NA | ROUTE_TRAILING_SLASH, 0),
	R("GET", "/v2.0", version_v2, NULL, NA | ROUTE_TRAILING_SLASH, 0),

	R("POST", "/v3/auth/tokens", auth_tokens_post, NULL, NA, 201),
	/* The rules read the X-Subject-Token's user: the handler loads it
	 * first (404 for a bad one); HEAD checks identity:check_token. */
	R("GET", "/v3/auth/tokens", auth_tokens_get, "identity:validate_token",
	    IH, 0),
	R("DELETE", "/v3/auth/tokens", auth_tokens_delete,
	    "identity:revoke_token", IH, 204),
	R("GET", "/v3/auth/catalog", auth_catalog,
	    "identity:get_auth_catalog", 0, 0),
	R("GET", "/v3/auth/projects", identity_admin_auth_projects,
	    "identity:get_auth_projects", 0, 0),
	R("GET", "/v3/auth/domains", identity_admin_auth_domains,
	    "identity:get_auth_domains", 0, 0),
	R("POST", "/v2.0/tokens", v2_tokens_post, NULL, NA | ROUTE_RAW_BODY,
	    200),
	/* Self-scoped: the caller's own projects, as Keystone v2 listed them
	 * (no rule upstream either). */
	R("GET", "/v2.0/tenants", identity_admin_v2_tenants, NULL, SELF, 0),

	R("GET", "/v3/domains", identity_admin_domain_list,
	    "identity:list_domains", 0, 0),
	R("POST", "/v3/domains", identity_admin_domain_create,
	    "identity:create_domain", 0, 201),
	R("GET", "/v3/domains/{domain_id}", identity_admin_domain_get,
	    "identity:get_domain", 0, 0),
	R("PATCH", "/v3/domains/{domain_id}", identity_admin_domain_update,
	    "identity:update_domain", 0, 0),
	R("DELETE", "/v3/domains/{domain_id}", identity_admin_domain_delete,
	    "identity:delete_domain", 0, 204),

	R("GET", "/v3/projects", identity_admin_project_list,
	    "identity:list_projects", 0, 0),
	R("POST", "/v3/projects", identity_admin_project_create,
	    "identity:create_project", 0, 201),
	/* Enforced by the handler: another project answers 404. */
	R("GET", "/v3/projects/{project_id}", identity_admin_project_get,
	    "identity:get_project", IH, 0),
	R("PATCH", "/v3/projects/{project_id}", identity_admin_project_update,
	    "identity:update_project", 0, 0),
	R("DELETE", "/v3/projects/{project_id}", identity_admin_project_delete,
	    "identity:delete_project", 0, 204),

	R("GET", "/v3/users", identity_admin_user_list, "identity:list_users", 0, 0),
	R("POST", "/v3/users", identity_admin_user_create, "identity:create_user",
	    0, 201),
	R("GET", "/v3/users/{user_id}", identity_admin_user_get,
	    "identity:get_user", 0, 0),
	R("PATCH", "/v3/users/{user_id}", identity_admin_user_update,
	    "identity:update_user", 0, 0),
	R("DELETE", "/v3/users/{user_id}", identity_admin_user_delete,
	    "identity:delete_user", 0, 204),
	/* Unauthenticated, as Keystone's (unenforced, no token needed): the
	 * original password is the proof, and a user whose password expired
	 * (or must be changed upon first use) has no way to get a token. The
	 * lockout of [security_compliance] guards it as it guards logins. */
	R("POST", "/v3/users/{user_id}/password", identity_admin_user_password,
	    NULL, NA, 204),
	R("GET", "/v3/users/{user_id}/projects", identity_admin_user_projects,
	    "identity:list_user_projects", 0, 0),
	R("GET", "/v3/users/{user_id}/groups", identity_assign_user_groups,
	    "identity:list_groups_for_user", 0, 0),

	R("GET", "/v3/roles", identity_admin_role_list, "identity:list_roles", 0,
	    0),
	R("POST", "/v3/roles", identity_admin_role_create, "identity:create_role",
	    0, 201),
	R("GET", "/v3/roles/{role_id}", identity_admin_role_get,
	    "identity:get_role", 0, 0),
	R("PATCH", "/v3/roles/{role_id}", identity_admin_role_update,
	    "identity:update_role", 0, 0),
	R("DELETE", "/v3/roles/{role_id}", identity_admin_role_delete,
	    "identity:delete_role", 0, 204),

	GRANTS("/v3/projects/{project_id}/users/{user_id}"),
	GRANTS("/v3/projects/{project_id}/groups/{group_id}"),
	GRANTS("/v3/domains/{domain_id}/users/{user_id}"),
	GRANTS("/v3/domains/{domain_id}/groups/{group_id}"),
	GRANTS("/v3/system/users/{user_id}"),
	GRANTS("/v3/system/groups/{group_id}"),

	R("GET", "/v3/groups", identity_assign_group_list, "identity:list_groups", 0,
	    0),
	R("POST", "/v3/groups", identity_assign_group_create,
	    "identity:create_group", 0, 201),
	R("GET", "/v3/groups/{group_id}", identity_assign_group_get,
	    "identity:get_group", 0, 0),
	R("PATCH", "/v3/groups/{group_id}", identity_assign_group_update,
	    "identity:update_group", 0, 0),
	R("DELETE", "/v3/groups/{group_id}", identity_assign_group_delete,
	    "identity:delete_group", 0, 204),
	R("GET", "/v3/groups/{group_id}/users", identity_assign_group_users,
	    "identity:list_users_in_group", 0, 0),
	R("PUT", "/v3/groups/{group_id}/users/{user_id}", identity_assign_member_add,
	    "identity:add_user_to_group", 0, 204),
	R("GET", "/v3/groups/{group_id}/users/{user_id}",
	    identity_assign_member_check, "identity:check_user_in_group", 0, 204),
	R("DELETE", "/v3/groups/{group_id}/users/{user_id}",
	    identity_assign_member_delete, "identity:remove_user_from_group", 0, 204),

	R("GET", "/v3/role_inferences", identity_assign_role_inferences,
	    "identity:list_role_inference_rules", 0, 0),
	R("GET", "/v3/roles/{prior_role_id}/implies", identity_assign_implied_list,
	    "identity:list_implied_roles", 0, 0),
	R("PUT", "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
	    identity_assign_implied_put, "identity:create_implied_role", 0, 201),
	R("GET", "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
	    identity_assign_implied_get, "identity:get_implied_role", 0, 0),
	/* Keystone answers HEAD here with 204, GET with 200 and a body. */
	R("HEAD", "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
	    identity_assign_implied_check, "identity:check_implied_role", 0, 204),
	R("DELETE", "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
	    identity_assign_implied_delete, "identity:delete_implied_role", 0, 204),
	R("GET", "/v3/role_assignments", identity_assign_role_assignments,
	    "identity:list_role_assignments", 0, 0),

	R("GET", "/v3/services", identity_catalog_api_service_list,
	    "identity:list_services", 0, 0),
	R("POST", "/v3/services", identity_catalog_api_service_create,
	    "identity:create_service", 0, 201),
	R("GET", "/v3/services/{service_id}", identity_catalog_api_service_get,
	    "identity:get_service", 0, 0),
	R("PATCH", "/v3/services/{service_id}", identity_catalog_api_service_update,
	    "identity:update_service", 0, 0),
	R("DELETE", "/v3/services/{service_id}", identity_catalog_api_service_delete,
	    "identity:delete_service", 0, 204),
	R("GET", "/v3/endpoints", identity_catalog_api_endpoint_list,
	    "identity:list_endpoints", 0, 0),
	R("POST", "/v3/endpoints", identity_catalog_api_endpoint_create,
	    "identity:create_endpoint", 0, 201),
	R("GET", "/v3/endpoints/{endpoint_id}", identity_catalog_api_endpoint_get,
	    "identity:get_endpoint", 0, 0),
	R("PATCH", "/v3/endpoints/{endpoint_id}", identity_catalog_api_endpoint_update,
	    "identity:update_endpoint", 0, 0),
	R("DELETE", "/v3/endpoints/{endpoint_id}", identity_catalog_api_endpoint_delete,
	    "identity:delete_endpoint", 0, 204),
	R("GET", "/v3/regions", identity_catalog_api_region_list, "identity:list_regions",
	    0, 0),
	R("POST", "/v3/regions", identity_catalog_api_region_create,
	    "identity:create_region", 0, 201),
	R("PUT", "/v3/regions/{region_id}", identity_catalog_api_region_put,
	    "identity:create_region", 0, 201),
	R("GET", "/v3/regions/{region_id}", identity_catalog_api_region_get,
	    "identity:get_region", 0, 0),
	R("PATCH", "/v3/regions/{region_id}", identity_catalog_api_region_update,
	    "identity:update_region", 0, 0),
	R("DELETE", "/v3/regions/{region_id}", identity_catalog_api_region_delete,
	    "identity:delete_region", 0, 204),
	HTTP_ROUTE_END
};
