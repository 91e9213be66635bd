/* dashboard: the fleet status page's static files; see dashboard.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/policy.h"
#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "core/hoststatus.h"
#include "dashboard/dashboard.h"
#include "err.h"
#include "http/http.h"
#include "store.h"

struct dashboard {
	const struct dashboard_asset	*assets;	/* static */
	struct store			*store;		/* borrowed */
	int64_t				 down_ms;	/* service_down_time */
};

/* On every page answer: the page loads only its own files and talks only
 * to its own origin; it may not be framed (clickjacking). */
static const struct {
	const char	*name, *value;
} security_headers[] = {
	{ "Content-Security-Policy", "default-src 'self'; base-uri 'none'; "
	    "form-action 'self'; frame-ancestors 'none'" },
	{ "X-Frame-Options", "DENY" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cache-Control", "no-cache" },
};

static const struct {
	const char	*suffix, *type;
} types[] = {
	{ ".html", "text/html; charset=UTF-8" },
	{ ".js", "text/javascript; charset=UTF-8" },
	{ ".css", "text/css; charset=UTF-8" },
	{ ".svg", "image/svg+xml" },
};

struct dashboard *
dashboard_new(const struct config *cfg, struct store *st)
{
	struct dashboard *d;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	d->assets = dashboard_assets;
	d->store = st;
	d->down_ms = cfg ? config_get_int(cfg, "DEFAULT",
	    "service_down_time") * 1000 : 60000;
	return d;
}

void
dashboard_free(struct dashboard **dp)
{
	if (dp == NULL || *dp == NULL)
		return;
	free(*dp);
	*dp = NULL;
}

static const char *
content_type(const char *name)
{
	size_t n = strlen(name), k;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		k = strlen(types[i].suffix);
		if (n > k && strcmp(name + n - k, types[i].suffix) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

static int
add_security_headers(struct http_resp *resp)
{
	for (size_t i = 0; i < sizeof(security_headers) /
	    sizeof(security_headers[0]); i++)
		if (http_resp_header(resp, security_headers[i].name,
		    security_headers[i].value) == -1)
			return -1;
	return 0;
}

static int
serve(struct http_req *req, struct http_resp *resp, const char *name)
{
	const struct dashboard *d = http_req_app(req);
	const struct dashboard_asset *a;

	for (a = d->assets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			break;
	if (a->name == NULL) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (http_resp_text(resp, 200, content_type(a->name),
	    (const char *)a->data, a->len) == -1)
		return -1;
	return add_security_headers(resp);
}

/* "/" and "/dashboard" lead to the page; the Location is relative so that
 * it holds behind a reverse proxy under a path. */
static int
redirect(struct http_resp *resp, const char *to)
{
	if (http_resp_status(resp, 302) == -1 ||
	    http_resp_header(resp, "Location", to) == -1)
		return -1;
	return add_security_headers(resp);
}

static int
dashboard_root(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	return redirect(resp, "dashboard/");
}

static int
dashboard_bare(struct http_req *req, struct http_resp *resp)
{
	/* "/dashboard/" arrives here too (trailing slash flag). */
	if (strcmp(http_req_path(req), "/dashboard/") == 0)
		return serve(req, resp, "index.html");
	return redirect(resp, "dashboard/");
}

static int
dashboard_file(struct http_req *req, struct http_resp *resp)
{
	return serve(req, resp, http_req_param(req, "file"));
}

/* ---- host status (admin) ------------------------------------------------ */

static json_t *
jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
deps_json(const struct rec_host_status *hs)
{
	json_t *a = json_array();

	for (size_t i = 0; hs != NULL && i < hs->deps.n; i++) {
		const struct sch_host_dep *d = &hs->deps.items[i];
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(d->name));
		json_object_set_new(o, "state", json_string(d->state));
		json_object_set_new(o, "detail", jstr(d->detail));
		json_object_set_new(o, "error", jstr(d->error));
		json_object_set_new(o, "error_at", d->has_error_at ?
		    json_integer(d->error_at) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

struct hs_build {
	const struct dashboard	*d;
	struct store_txn	*txn;
	int64_t			 now;
	json_t			*hosts;
};

static int
host_one(const struct rec_service *sv, void *arg)
{
	struct hs_build *b = arg;
	struct rec_hypervisor hv;
	struct rec_host_status hs;
	json_t *o = json_object();
	bool has_hv, has_hs;

	has_hv = db_hypervisor_by_host(b->txn, sv->host, &hv) == 0;
	has_hs = hoststatus_get(b->txn, HOSTSTATUS_AGENT, sv->host, &hs) == 0;
	json_object_set_new(o, "host", json_string(sv->host));
	json_object_set_new(o, "state", json_string(!sv->forced_down &&
	    b->now - sv->last_seen_at <= b->d->down_ms ? "up" : "down"));
	json_object_set_new(o, "status", json_string(sv->disabled ?
	    "disabled" : "enabled"));
	json_object_set_new(o, "agent_version", has_hv && hv.agent_version ?
	    json_string(hv.agent_version) : json_null());
	json_object_set_new(o, "last_heartbeat", json_integer(
	    sv->last_seen_at));
	json_object_set_new(o, "services", deps_json(has_hs ? &hs : NULL));
	json_array_append_new(b->hosts, o);
	if (has_hv)
		codec_clear(&schema_rec_hypervisor, &hv);
	if (has_hs)
		codec_clear(&schema_rec_host_status, &hs);
	return 0;
}

static int
ctl_one(const struct rec_host_status *hs, void *arg)
{
	json_t *a = arg, *o;

	if (strcmp(hs->binary, HOSTSTATUS_CONTROLLER) != 0)
		return 0;
	o = json_object();
	json_object_set_new(o, "host", json_string(hs->host));
	json_object_set_new(o, "updated_at", json_integer(hs->updated_at));
	json_object_set_new(o, "services", deps_json(hs));
	json_array_append_new(a, o);
	return 0;
}

/* GET /dashboard/api/host-status: per agent its version, state and the
 * services it depends on; the controllers' own. Ours, not Nova's (its
 * schemas refuse extra fields in os-hypervisors); admin only. */
static int
dashboard_host_status(struct http_req *req, struct http_resp *resp)
{
	const struct dashboard *d = http_req_app(req);
	struct hs_build b = { .d = d };
	json_t *body, *ctls;
	int rc;

	if (d->store == NULL) {
		err_set(TS_EUNAVAILABLE, "no store");
		return -1;
	}
	if (store_read_begin(d->store, &b.txn) == -1)
		return -1;
	b.now = db_now_ms();
	b.hosts = json_array();
	ctls = json_array();
	rc = db_service_each(b.txn, host_one, &b);
	if (rc == 0)
		rc = hoststatus_each(b.txn, ctl_one, ctls);
	store_txn_end(&b.txn);
	if (rc == -1) {
		json_decref(b.hosts);
		json_decref(ctls);
		return -1;
	}
	body = json_object();
	json_object_set_new(body, "hosts", b.hosts);
	json_object_set_new(body, "controllers", ctls);
	if (http_resp_json(resp, 200, body) == -1)
		return -1;
	return add_security_headers(resp);
}

#define NA	ROUTE_NO_AUTH

const struct http_route dashboard_routes[] = {
	{ "GET", "/", dashboard_root, NULL, NA, 200, NULL },
	{ "GET", "/dashboard", dashboard_bare, NULL,
	    NA | ROUTE_TRAILING_SLASH, 200, NULL },
	{ "GET", "/dashboard/{file}", dashboard_file, NULL, NA, 200, NULL },
	{ "GET", "/dashboard/api/host-status", dashboard_host_status,
	    "dashboard:host_status", 0, 200, NULL },
	HTTP_ROUTE_END
};

/* The page's data come through the APIs' own rules, but for the host
 * status, which no OpenStack API has. */
const struct policy_default dashboard_policy_defaults[] = {
	{ "dashboard:host_status", "rule:admin_required",
	    "Show every host's agent version and the state and most recent "
	    "error of the services it depends on (dashboard)." },
	{ NULL, NULL, NULL }
};
