/* dashboard: the fleet status page's static files; see dashboard.h. */
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "dashboard/dashboard.h"
#include "err.h"
#include "http/http.h"

struct dashboard {
	const struct dashboard_asset	*assets;	/* static */
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
dashboard_new(const struct config *cfg)
{
	struct dashboard *d;

	(void)cfg;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	d->assets = dashboard_assets;
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

#define NA	ROUTE_NO_AUTH

const struct http_route dashboard_routes[] = {
	{ "GET", "/", dashboard_root, NULL, NA, 200, NULL },
	{ "GET", "/dashboard", dashboard_bare, NULL,
	    NA | ROUTE_TRAILING_SLASH, 200, NULL },
	{ "GET", "/dashboard/{file}", dashboard_file, NULL, NA, 200, NULL },
	HTTP_ROUTE_END
};

/* No route needs a rule: the page's data come through the APIs' own. */
const struct policy_default dashboard_policy_defaults[] = {
	{ NULL, NULL, NULL }
};
