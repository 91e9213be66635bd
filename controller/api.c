/* api: the controller's HTTP server, auth hooks and enforcement; see api.h. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "compute/compute.h"
#include "config.h"
#include "err.h"
#include "identity/identity.h"
#include "image/image.h"
#include "log.h"
#include "auth/policy.h"
#include "routes.h"

/* A replaced policy is freed this long after the swap: a handler that read
 * the old pointer is done with it within microseconds (enforcement takes
 * no lock and allocates nothing), so a minute is ample. */
#define POLICY_RETIRE_MS	60000

/*
 * Per-service policy-target builders (indexed by apierr_service): they
 * read path parameters and the database, never the body. A service
 * without one enforces its route rules against an empty target.
 */
static int (*const target_builders[APIERR__NSERVICES])(struct http_req *,
    struct api_target *) = {
	[APIERR_IDENTITY] = identity_policy_target,
};

/* ---- context ------------------------------------------------------------ */

struct api_ctx *
api_ctx_new(void)
{
	struct api_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		err_set(TS_ENOMEM, "out of memory");
	return c;
}

void
api_ctx_clear(struct api_ctx *c)
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
api_ctx_free(struct api_ctx **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	api_ctx_clear(*cp);
	free(*cp);
	*cp = NULL;
}

static void
ctx_free_cb(void *p)
{
	struct api_ctx *c = p;

	api_ctx_free(&c);
}

int
api_ctx_set(char **field, const char *s)
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
api_ctx_has_role(const struct api_ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nroles; i++)
		if (strcasecmp(c->roles[i].name, name) == 0)
			return true;
	return false;
}

int
api_ctx_add_role(struct api_ctx *c, const char *id, const char *name)
{
	struct api_role *nr;
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

struct api *
api_of(const struct http_req *req)
{
	return http_req_app(req);
}

const struct api_ctx *
api_req_ctx(const struct http_req *req)
{
	return http_req_ctx(req);
}

/* ---- policy ------------------------------------------------------------- */

int
api_target_add(struct api_target *t, const char *key, const char *value)
{
	size_t len = strlen(value) + 1;

	if (t->n == API_TARGET_MAX || t->used + len > sizeof(t->buf)) {
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
creds_of(const struct api_ctx *c, struct policy_creds *pc)
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

int
api_enforce(struct http_req *req, const char *rule,
    const struct api_target *t)
{
	const struct api_ctx *c = api_req_ctx(req);
	struct policy_target pt = { NULL, 0 };
	struct policy_creds pc;

	if (c == NULL) {
		err_set(TS_EFORBIDDEN, "Policy doesn't allow %s to be "
		    "performed.", rule);
		return -1;
	}
	creds_of(c, &pc);
	if (t != NULL) {
		pt.kv = t->kv;
		pt.n = t->n;
	}
	if (policy_enforce(api_of(req)->policy, rule, &pc, &pt) == -1) {
		log_info("policy: %s denied to user %s", rule, c->user_id);
		return -1;
	}
	return 0;
}

int
api_enforce_owned(struct http_req *req, const char *rule,
    const struct api_target *t, const char *owner_project_id,
    const char *what, const char *id)
{
	const struct api_ctx *c = api_req_ctx(req);

	if (api_enforce(req, rule, t) == 0)
		return 0;
	if (c == NULL || c->scope != TOKEN_SCOPE_PROJECT ||
	    owner_project_id == NULL ||
	    strcmp(c->project_id, owner_project_id) != 0)
		err_set(TS_ENOT_FOUND, "Could not find %s: %s.", what, id);
	return -1;
}

/* ---- hooks -------------------------------------------------------------- */

static int
authenticate(struct http_req *req, void *arg)
{
	struct api *api = arg;
	const char *tok = http_req_header(req, "X-Auth-Token");
	struct api_ctx *c;

	if (tok == NULL || *tok == '\0') {
		err_set(TS_EUNAUTHORIZED, "The request you have made requires "
		    "authentication.");
		return -1;
	}
	if ((c = api_ctx_new()) == NULL)
		return -1;
	if (identity_token_check(api->identity, tok, c) == -1) {
		if (err_code() == TS_EUNAUTHORIZED) {
			log_info("auth: token refused: %s", err_msg());
			err_set(TS_EUNAUTHORIZED, "The request you have made "
			    "requires authentication.");
		}
		api_ctx_free(&c);
		return -1;
	}
	http_req_set_ctx(req, c, ctx_free_cb);
	return 0;
}

static int
authorize(struct http_req *req, const char *rule, void *arg)
{
	enum apierr_service svc = http_req_service(req);
	struct api_target *t;
	int rc;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	rc = 0;
	if ((unsigned)svc < APIERR__NSERVICES && target_builders[svc] != NULL)
		rc = target_builders[svc](req, t);
	if (rc == 0)
		rc = api_enforce(req, rule, t);
	free(t);
	return rc;
}

/* ---- policy file -------------------------------------------------------- */

/* What the file looked like when last read; exists false if it did not. */
static void
policy_stamp(const char *path, struct api_policy_stamp *s)
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

/*
 * [oslo_policy] policy_file, or the deprecated [identity] policy_file when
 * that is set. The oslo option's file may be missing (the built-in rules
 * apply until it appears), as with oslo.policy; the deprecated option
 * keeps its old meaning: a missing file is an error.
 */
static int
policy_file_init(struct api *api)
{
	const char *old = config_get_str(api->cfg, "identity", "policy_file");
	const char *pf = config_get_str(api->cfg, "oslo_policy",
	    "policy_file");
	bool must_exist = false;

	if (*old != '\0') {
		log_warnx("[identity] policy_file is deprecated: use "
		    "[oslo_policy] policy_file");
		pf = old;
		must_exist = true;
	}
	if (*pf == '\0') {
		api->policy = policy_load(routes_policy_tables, NULL);
		return api->policy != NULL ? 0 : -1;
	}
	if (strlen(pf) >= sizeof(api->policy_path)) {
		err_set(TS_ECONFIG, "policy_file: path too long");
		return -1;
	}
	strcpy(api->policy_path, pf);
	policy_stamp(pf, &api->policy_stamp);
	if (!api->policy_stamp.exists && !must_exist) {
		log_info("policy: %s does not exist: built-in rules only", pf);
		api->policy = policy_load(routes_policy_tables, NULL);
	} else {
		api->policy = policy_load(routes_policy_tables, pf);
	}
	return api->policy != NULL ? 0 : -1;
}

/*
 * Once a second: a changed policy file (other mtime, size or inode, or
 * created or removed) is read again and swapped in whole; one that does not
 * load leaves the current rules in place and says why, once per change.
 */
static void
policy_file_tick(struct api *api, int64_t now_ms)
{
	struct api_policy_stamp st;
	struct policy *np, *old;
	size_t i, j;

	for (i = j = 0; i < api->nretired; i++) {
		if (now_ms - api->retired[i].since_ms >= POLICY_RETIRE_MS)
			policy_free(&api->retired[i].policy);
		else
			api->retired[j++] = api->retired[i];
	}
	api->nretired = j;
	if (api->policy_path[0] == '\0')
		return;
	policy_stamp(api->policy_path, &st);
	if (memcmp(&st, &api->policy_stamp, sizeof(st)) == 0)
		return;
	if (api->nretired == API_POLICY_RETIRED_MAX)
		return;		/* changing faster than we retire: next tick */
	api->policy_stamp = st;
	np = policy_load(routes_policy_tables, st.exists ? api->policy_path :
	    NULL);
	if (np == NULL) {
		log_warnx("policy: %s not reloaded, keeping the previous "
		    "rules: %s", api->policy_path, err_msg());
		return;
	}
	old = api->policy;
	api->policy = np;
	api->retired[api->nretired].policy = old;
	api->retired[api->nretired].since_ms = now_ms;
	api->nretired++;
	log_warnx("policy: %s %s", api->policy_path, st.exists ?
	    "reloaded" : "removed: built-in rules only");
}

/* ---- life cycle --------------------------------------------------------- */

struct api *
api_new(const struct config *cfg, struct store *st, const char *host)
{
	struct http_opts o;
	struct api *api;
	const char *ph, *cert, *key;

	if ((api = calloc(1, sizeof(*api))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	api->cfg = cfg;
	api->store = st;
	ph = config_get_str(cfg, "api", "public_host");
	snprintf(api->public_host, sizeof(api->public_host), "%s",
	    *ph != '\0' ? ph : host);

	if (policy_file_init(api) == -1)
		goto fail;
	if ((api->identity = identity_new(cfg, st)) == NULL)
		goto fail;

	api->listeners[0].port = (uint16_t)config_get_int(cfg, "api",
	    "identity_port");
	api->listeners[0].service = APIERR_IDENTITY;
	api->listeners[0].routes = identity_routes;
	api->listeners[0].app = api;
	api->nlisteners = 1;

	/* Image (Glance v2): its data store is opened (and recovered after
	 * a crash) here. */
	if ((api->image = image_service_new(cfg, st)) == NULL)
		goto fail;
	api->listeners[api->nlisteners].port = (uint16_t)config_get_int(cfg,
	    "api", "image_port");
	api->listeners[api->nlisteners].service = APIERR_IMAGE;
	api->listeners[api->nlisteners].routes = image_routes;
	api->listeners[api->nlisteners].app = api;
	api->nlisteners++;

	/* Compute (Nova v2.1): handlers find their state in api->compute,
	 * which main sets before api_start(). */
	api->listeners[api->nlisteners].port = (uint16_t)config_get_int(cfg,
	    "api", "compute_port");
	api->listeners[api->nlisteners].service = APIERR_COMPUTE;
	api->listeners[api->nlisteners].routes = compute_routes;
	api->listeners[api->nlisteners].app = api;
	api->nlisteners++;

	memset(&o, 0, sizeof(o));
	o.bind = config_get_str(cfg, "api", "bind_host");
	o.listeners = api->listeners;
	o.nlisteners = api->nlisteners;
	o.threads = (unsigned)config_get_int(cfg, "api", "threads");
	o.max_connections = (unsigned)config_get_int(cfg, "api",
	    "connection_limit");
	o.conn_timeout = (unsigned)config_get_int(cfg, "api",
	    "connection_timeout");
	o.max_body_size = (size_t)config_get_int(cfg, "api", "max_body_size");
	cert = config_get_str(cfg, "api", "tls_cert_file");
	key = config_get_str(cfg, "api", "tls_key_file");
	o.tls_cert_file = *cert ? cert : NULL;
	o.tls_key_file = *key ? key : NULL;
	/* The controller blocks SIGPIPE in every thread (daemon.c), so
	 * writes to a closed socket fail with EPIPE instead of killing it. */
	o.sigpipe_ignored = true;
	o.authenticate = authenticate;
	o.authorize = authorize;
	o.auth_arg = api;
	if ((api->http = http_server_new(&o)) == NULL)
		goto fail;
	return api;
fail:
	api_free(&api);
	return NULL;
}

int
api_start(struct api *api)
{
	size_t i;

	if (http_server_start(api->http) == -1)
		return -1;
	for (i = 0; i < api->nlisteners; i++)
		log_warnx("%s API listening on %s port %u",
		    apierr_service_name(api->listeners[i].service),
		    config_get_str(api->cfg, "api", "bind_host"),
		    http_server_port(api->http, i));
	return 0;
}

void
api_stop(struct api *api)
{
	if (api != NULL && api->http != NULL)
		http_server_stop(api->http);
}

void
api_free(struct api **ap)
{
	struct api *api;
	struct policy *pol;
	size_t i;

	if (ap == NULL || (api = *ap) == NULL)
		return;
	http_server_free(&api->http);
	image_service_free(&api->image);
	identity_free(&api->identity);
	pol = api->policy;
	policy_free(&pol);
	for (i = 0; i < api->nretired; i++)
		policy_free(&api->retired[i].policy);
	free(api);
	*ap = NULL;
}

void
api_tick(struct api *api, int64_t now_ms)
{
	identity_tick(api->identity, now_ms);
	policy_file_tick(api, now_ms);
}

uint16_t
api_port(const struct api *api, size_t i)
{
	return http_server_port(api->http, i);
}
