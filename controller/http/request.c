/* request: request context, policy enforcement and auth hooks; see
 * request.h. */
#include <sys/stat.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/capability.h"
#include "err.h"
#include "http/request.h"
#include "log.h"

/* A replaced policy is freed this long after the swap: a request that
 * borrowed the old pointer (its context holds it from authentication to the
 * response) is long done by then. */
#define POLICY_RETIRE_MS	60000
#define POLICY_RETIRED_MAX	8
#define POLICY_PATH_MAX		4096

/* What the policy file looked like when last read. */
struct policy_stamp {
	bool		exists;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	int64_t		mtime_ns;
};

struct request {
	/* Owned: every service's rules. Swapped whole by request_tick() when
	 * the policy file changes; handlers load the pointer atomically and
	 * the old one is freed POLICY_RETIRE_MS later. */
	struct policy *_Atomic	 policy;
	const struct policy_default *const *tables;	/* static */
	char			 policy_path[POLICY_PATH_MAX];	/* "": none */
	struct policy_stamp	 stamp;
	struct {
		struct policy	*policy;
		int64_t		 since_ms;
	}			 retired[POLICY_RETIRED_MAX];
	size_t			 nretired;
	request_authenticate_fn	 check;
	void			*check_arg;	/* borrowed */
	request_capability_fn	 cap_check;
	void			*cap_arg;	/* borrowed */
	/* Per-service policy-target builders (indexed by apierr_service):
	 * they read path parameters and the database, never the body. */
	request_target_fn	 targets[APIERR__NSERVICES];
};

/* ---- context ------------------------------------------------------------ */

struct request_ctx *
request_ctx_new(void)
{
	struct request_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		err_set(TS_ENOMEM, "out of memory");
	return c;
}

void
request_ctx_clear(struct request_ctx *c)
{
	size_t i;

	free(c->user_id);
	free(c->user_name);
	free(c->user_domain_id);
	free(c->user_domain_name);
	free(c->project_id);
	free(c->project_name);
	free(c->project_domain_id);
	free(c->project_domain_name);
	for (i = 0; i < c->nroles; i++) {
		free(c->roles[i].id);
		free(c->roles[i].name);
	}
	free(c->roles);
	free(c->role_names);
	explicit_bzero(c->token, sizeof(c->token));
	memset(c, 0, sizeof(*c));
}

void
request_ctx_free(struct request_ctx **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	request_ctx_clear(*cp);
	free(*cp);
	*cp = NULL;
}

static void
ctx_free_cb(void *p)
{
	struct request_ctx *c = p;

	request_ctx_free(&c);
}

int
request_ctx_set(char **field, const char *s)
{
	char *n = strdup(s != NULL ? s : "");

	if (n == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	free(*field);
	*field = n;
	return 0;
}

bool
request_ctx_has_role(const struct request_ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nroles; i++)
		if (strcasecmp(c->roles[i].name, name) == 0)
			return true;
	return false;
}

int
request_ctx_add_role(struct request_ctx *c, const char *id, const char *name)
{
	struct request_role *nr;
	const char **nn;
	size_t i, at;

	for (i = 0; i < c->nroles; i++)
		if (strcmp(c->roles[i].id, id) == 0)
			return 0;
	if ((nr = realloc(c->roles, (c->nroles + 1) * sizeof(*nr))) == NULL)
		goto nomem;
	c->roles = nr;
	if ((nn = realloc(c->role_names, (c->nroles + 1) * sizeof(*nn))) ==
	    NULL)
		goto nomem;
	c->role_names = nn;
	for (at = 0; at < c->nroles; at++)
		if (strcmp(name, c->roles[at].name) < 0)
			break;
	memmove(&c->roles[at + 1], &c->roles[at],
	    (c->nroles - at) * sizeof(*nr));
	c->roles[at].id = strdup(id);
	c->roles[at].name = strdup(name);
	c->nroles++;
	for (i = 0; i < c->nroles; i++)
		c->role_names[i] = c->roles[i].name;
	if (c->roles[at].id == NULL || c->roles[at].name == NULL)
		goto nomem;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

const struct request_ctx *
request_ctx_of(const struct http_req *req)
{
	return http_req_ctx(req);
}

/* ---- policy ------------------------------------------------------------- */

int
request_target_add(struct request_target *t, const char *key, const char *value)
{
	size_t len = strlen(value) + 1;

	if (t->n == REQUEST_TARGET_MAX || t->used + len > sizeof(t->buf)) {
		err_set(TS_EINTERNAL, "policy target full at %s", key);
		return -1;
	}
	memcpy(t->buf + t->used, value, len);
	t->kv[t->n].key = key;
	t->kv[t->n].value = t->buf + t->used;
	t->used += len;
	t->n++;
	return 0;
}

static void
creds_of(const struct request_ctx *c, struct policy_creds *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->user_id = c->user_id;
	pc->user_domain_id = c->user_domain_id;
	if (c->scope == TOKEN_SCOPE_PROJECT) {
		pc->project_id = c->project_id;
		pc->project_domain_id = c->project_domain_id;
	} else if (c->scope == TOKEN_SCOPE_DOMAIN) {
		pc->domain_id = c->project_id;
	}
	pc->system_scope = c->scope == TOKEN_SCOPE_SYSTEM;
	pc->roles = c->role_names;
	pc->nroles = c->nroles;
}

bool
request_mv_has(int minor, int since)
{
	return minor >= since;
}

int
request_enforce(struct http_req *req, const char *rule,
    const struct request_target *t)
{
	const struct request_ctx *c = request_ctx_of(req);
	struct policy_target pt = { NULL, 0 };
	struct policy_creds pc;

	if (c == NULL || c->capability) {
		err_set(TS_EFORBIDDEN, "Policy doesn't allow %s to be "
		    "performed.", rule);
		return -1;
	}
	creds_of(c, &pc);
	if (t != NULL) {
		pt.kv = t->kv;
		pt.n = t->n;
	}
	if (policy_enforce(c->policy, rule, &pc, &pt) == -1) {
		log_info("policy: %s denied to user %s", rule, c->user_id);
		return -1;
	}
	return 0;
}

int
request_enforce_owned(struct http_req *req, const char *rule,
    const struct request_target *t, const char *owner_project_id,
    const char *what, const char *id)
{
	const struct request_ctx *c = request_ctx_of(req);

	if (request_enforce(req, rule, t) == 0)
		return 0;
	if (c == NULL || c->scope != TOKEN_SCOPE_PROJECT ||
	    owner_project_id == NULL ||
	    strcmp(c->project_id, owner_project_id) != 0)
		err_set(TS_ENOT_FOUND, "Could not find %s: %s.", what, id);
	return -1;
}

bool
request_allowed(struct http_req *req, const char *rule,
    const struct request_target *t)
{
	const struct request_ctx *c = request_ctx_of(req);
	struct policy_target pt = { NULL, 0 };
	struct policy_creds pc;

	if (c == NULL || c->capability)
		return false;
	creds_of(c, &pc);
	if (t != NULL) {
		pt.kv = t->kv;
		pt.n = t->n;
	}
	return policy_enforce(c->policy, rule, &pc, &pt) == 0;
}

/* ---- hooks -------------------------------------------------------------- */

/* The one place a capability is accepted: routes that take one, with the
 * checker in place; the image id is the route's, never the caller's. */
static int
capability(struct request *rq, struct http_req *req, const char *tok,
    struct request_ctx *c)
{
	const struct http_route *rt = http_req_route(req);

	if (rt == NULL || !(rt->flags & (ROUTE_CAPABILITY |
	    ROUTE_CAPABILITY_UPLOAD)) || rq->cap_check == NULL) {
		err_set(TS_EUNAUTHORIZED, "capability presented to a route "
		    "that takes none");
		return -1;
	}
	if (rq->cap_check(rq->cap_arg, tok,
	    http_req_header(req, "X-Tinystack-Host"),
	    http_req_param(req, "image_id"),
	    (rt->flags & ROUTE_CAPABILITY_UPLOAD) != 0, c) == -1)
		return -1;
	if (!c->capability) {
		err_set(TS_EINTERNAL, "capability checker left no capability "
		    "context");
		return -1;
	}
	return 0;
}

static int
authenticate(struct http_req *req, void *arg)
{
	struct request *rq = arg;
	const char *tok = http_req_header(req, "X-Auth-Token");
	struct request_ctx *c;
	int rc;

	if (tok == NULL || *tok == '\0') {
		err_set(TS_EUNAUTHORIZED, "The request you have made requires "
		    "authentication.");
		return -1;
	}
	if (rq->check == NULL) {
		err_set(TS_EINTERNAL, "no token checker");
		return -1;
	}
	if ((c = request_ctx_new()) == NULL)
		return -1;
	if (capability_is(tok))
		rc = capability(rq, req, tok, c);
	else
		rc = rq->check(rq->check_arg, tok, c);
	if (rc == -1) {
		if (err_code() == TS_EUNAUTHORIZED) {
			log_info("auth: token refused: %s", err_msg());
			err_set(TS_EUNAUTHORIZED, "The request you have made "
			    "requires authentication.");
		}
		request_ctx_free(&c);
		return -1;
	}
	c->policy = atomic_load(&rq->policy);
	http_req_set_ctx(req, c, ctx_free_cb);
	return 0;
}

static int
authorize(struct http_req *req, const char *rule, void *arg)
{
	struct request *rq = arg;
	enum apierr_service svc = http_req_service(req);
	struct request_target *t;
	int rc;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	rc = 0;
	if ((unsigned)svc < APIERR__NSERVICES && rq->targets[svc] != NULL)
		rc = rq->targets[svc](req, t);
	if (rc == 0)
		rc = request_enforce(req, rule, t);
	free(t);
	return rc;
}

/* ---- life cycle --------------------------------------------------------- */

static void
policy_stamp(const char *path, struct policy_stamp *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) == -1)
		return;
	s->exists = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec;
}

struct request *
request_new(const struct policy_default *const *tables,
    const char *policy_file, bool must_exist)
{
	struct request *rq;
	struct policy *p;

	if ((rq = calloc(1, sizeof(*rq))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	rq->tables = tables;
	if (policy_file != NULL && *policy_file != '\0') {
		if (strlen(policy_file) >= sizeof(rq->policy_path)) {
			err_set(TS_ECONFIG, "policy_file: path too long");
			free(rq);
			return NULL;
		}
		strcpy(rq->policy_path, policy_file);
		policy_stamp(policy_file, &rq->stamp);
		if (!rq->stamp.exists && !must_exist) {
			log_info("policy: %s does not exist: built-in rules "
			    "only", policy_file);
			policy_file = NULL;
		}
	} else {
		policy_file = NULL;
	}
	if ((p = policy_load(tables, policy_file)) == NULL) {
		free(rq);
		return NULL;
	}
	atomic_store(&rq->policy, p);
	return rq;
}

void
request_tick(struct request *rq, int64_t now_ms)
{
	struct policy_stamp st;
	struct policy *np, *old;
	size_t i, j;

	for (i = j = 0; i < rq->nretired; i++) {
		if (now_ms - rq->retired[i].since_ms >= POLICY_RETIRE_MS)
			policy_free(&rq->retired[i].policy);
		else
			rq->retired[j++] = rq->retired[i];
	}
	rq->nretired = j;
	if (rq->policy_path[0] == '\0')
		return;
	policy_stamp(rq->policy_path, &st);
	if (memcmp(&st, &rq->stamp, sizeof(st)) == 0)
		return;
	if (rq->nretired == POLICY_RETIRED_MAX)
		return;		/* changing faster than we retire: next tick */
	rq->stamp = st;
	np = policy_load(rq->tables, st.exists ? rq->policy_path : NULL);
	if (np == NULL) {
		log_warnx("policy: %s not reloaded, keeping the previous "
		    "rules: %s", rq->policy_path, err_msg());
		return;
	}
	old = atomic_exchange(&rq->policy, np);
	rq->retired[rq->nretired].policy = old;
	rq->retired[rq->nretired].since_ms = now_ms;
	rq->nretired++;
	log_warnx("policy: %s %s", rq->policy_path, st.exists ?
	    "reloaded" : "removed: built-in rules only");
}

void
request_free(struct request **rp)
{
	struct request *rq;
	struct policy *p;
	size_t i;

	if (rp == NULL || (rq = *rp) == NULL)
		return;
	p = atomic_load(&rq->policy);
	policy_free(&p);
	for (i = 0; i < rq->nretired; i++)
		policy_free(&rq->retired[i].policy);
	free(rq);
	*rp = NULL;
}

void
request_set_authenticator(struct request *rq, request_authenticate_fn fn,
    void *arg)
{
	rq->check = fn;
	rq->check_arg = arg;
}

void
request_set_capability_checker(struct request *rq, request_capability_fn fn,
    void *arg)
{
	rq->cap_check = fn;
	rq->cap_arg = arg;
}

void
request_set_target(struct request *rq, enum apierr_service svc,
    request_target_fn fn)
{
	if ((unsigned)svc < APIERR__NSERVICES)
		rq->targets[svc] = fn;
}

void
request_http_opts(struct request *rq, struct http_opts *o)
{
	o->authenticate = authenticate;
	o->authorize = authorize;
	o->auth_arg = rq;
}
