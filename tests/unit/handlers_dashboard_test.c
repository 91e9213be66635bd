/*
 * handlers_dashboard_test: the dashboard's listener (controller/dashboard/)
 * over HTTP against the in-process controller of ctltest.h: the page and
 * its files with their content types and security headers, the relative
 * redirects, 404 and 405, HEAD; and the APIs mounted under their names on
 * the same port answering as on their own (same handlers, same policy:
 * 401 without a token, 403 for a member on an admin route), so the page
 * gets nothing the API would refuse it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctltest.h"

#define D	CT_DASHBOARD

static struct ctltest	*T;

static void
assert_header(const char *name, const char *want)
{
	const char *v = ctltest_header(T, name);

	if (v == NULL)
		fail_msg("no %s header", name);
	assert_string_equal(v, want);
}

static void
assert_page_headers(const char *ctype)
{
	const char *csp;

	assert_header("Content-Type", ctype);
	/* Borrowed until the next ctltest_header(). */
	csp = ctltest_header(T, "Content-Security-Policy");
	assert_non_null(csp);
	assert_non_null(strstr(csp, "default-src 'self'"));
	assert_non_null(strstr(csp, "frame-ancestors 'none'"));
	assert_header("X-Frame-Options", "DENY");
	assert_header("X-Content-Type-Options", "nosniff");
}

/* ---- tests -------------------------------------------------------------- */

static void
test_page(void **state)
{
	(void)state;
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/", NULL, 200, NULL);
	assert_page_headers("text/html; charset=UTF-8");
	assert_non_null(strstr(T->r.raw, "<title>tinystack fleet</title>"));
	/* Nothing from elsewhere: the page names only its own files. */
	assert_null(strstr(T->r.raw, "http:"));
	assert_null(strstr(T->r.raw, "https:"));
	assert_null(strstr(T->r.raw, "//"));

	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/app.js", NULL, 200, NULL);
	assert_page_headers("text/javascript; charset=UTF-8");
	/* Data are rendered as text, never parsed as HTML. */
	assert_null(strstr(T->r.raw, "innerHTML"));
	assert_null(strstr(T->r.raw, "outerHTML"));
	assert_null(strstr(T->r.raw, "insertAdjacentHTML"));
	assert_null(strstr(T->r.raw, "document.write"));
	assert_null(strstr(T->r.raw, "localStorage"));
	assert_null(strstr(T->r.raw, "sessionStorage"));

	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/app.css", NULL, 200, NULL);
	assert_page_headers("text/css; charset=UTF-8");
}

static void
test_redirects(void **state)
{
	(void)state;
	/* Relative: the page works behind a proxy under any path. */
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard", NULL, 302, NULL);
	assert_header("Location", "dashboard/");
	assert_header("X-Frame-Options", "DENY");
	CT_CALL(T, D, CT_ANON, "GET", "/", NULL, 302, NULL);
	assert_header("Location", "dashboard/");
}

static void
test_not_found(void **state)
{
	(void)state;
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/nope.js", NULL, 404, NULL);
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/..%2Fapp.js", NULL, 404,
	    NULL);
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/x/app.js", NULL, 404, NULL);
	CT_CALL(T, D, CT_ANON, "GET", "/index.html", NULL, 404, NULL);
	CT_CALL(T, D, CT_ANON, "GET", "/nope/v2.1/servers", NULL, 404, NULL);
	CT_CALL(T, D, CT_ANON, "POST", "/dashboard/app.js", "{}", 405, NULL);
	assert_non_null(ctltest_header(T, "Allow"));
	CT_CALL(T, D, CT_ANON, "DELETE", "/dashboard/", NULL, 405, NULL);
	/* The other APIs' ports do not serve the page. */
	CT_CALL(T, CT_COMPUTE, CT_ANON, "GET", "/dashboard/", NULL, 404, NULL);
	CT_CALL(T, CT_IDENTITY, CT_ANON, "GET", "/dashboard/app.js", NULL, 404,
	    NULL);
}

/* GET /dashboard/api/host-status: ours, admin only; nothing for a member
 * or without a token. */
static void
test_host_status(void **state)
{
	json_t *hosts;

	(void)state;
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/api/host-status", NULL, 401,
	    NULL);
	CT_CALL(T, D, CT_MEMBER, "GET", "/dashboard/api/host-status", NULL,
	    403, NULL);
	assert_null(ctltest_get(T, "hosts"));
	CT_CALL(T, D, CT_ADMIN, "GET", "/dashboard/api/host-status", NULL,
	    200, NULL);
	hosts = ctltest_get(T, "hosts");
	assert_non_null(hosts);
	assert_true(json_is_array(hosts));
	assert_true(json_is_array(ctltest_get(T, "controllers")));
	/* Not on the APIs' own ports. */
	CT_CALL(T, CT_COMPUTE, CT_ADMIN, "GET", "/dashboard/api/host-status",
	    NULL, 404, NULL);
}

static void
test_head(void **state)
{
	const char *cl;
	char want[32];
	size_t len;

	(void)state;
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/app.js", NULL, 200, NULL);
	len = T->r.len;
	assert_true(len > 1000);
	snprintf(want, sizeof(want), "%zu", len);
	CT_CALL(T, D, CT_ANON, "HEAD", "/dashboard/app.js", NULL, 200, NULL);
	assert_int_equal(T->r.len, 0);
	cl = ctltest_header(T, "Content-Length");
	assert_non_null(cl);
	assert_string_equal(cl, want);
	assert_page_headers("text/javascript; charset=UTF-8");
	CT_CALL(T, D, CT_ANON, "HEAD", "/dashboard/nope", NULL, 404, NULL);
	assert_int_equal(T->r.len, 0);
}

static void
test_mounted_apis(void **state)
{
	char p[256];

	(void)state;
	/* Token issue, the page's login, through the mount. */
	CT_CALL(T, D, CT_ANON, "GET", "/identity/v3", NULL, 200, NULL);
	CT_CALL(T, D, CT_ANON, "GET", "/identity/v3/auth/tokens", NULL, 401,
	    NULL);
	assert_non_null(ctltest_header(T, "WWW-Authenticate"));
	/* Compute: the same answers as on its own port. */
	CT_CALL(T, D, CT_ANON, "GET", "/compute/v2.1/servers", NULL, 401, NULL);
	CT_CALL(T, D, CT_MEMBER, "GET", "/compute/v2.1/servers/detail", NULL,
	    200, NULL);
	assert_non_null(ctltest_get(T, "servers"));
	assert_non_null(ctltest_header(T, "x-compute-request-id"));
	CT_CALL(T, D, CT_ADMIN, "GET", "/compute/v2.1/os-hypervisors/detail",
	    NULL, 200, NULL);
	assert_non_null(ctltest_get(T, "hypervisors"));
	/* A member gets no hypervisor: compute's 403, in compute's shape. */
	CT_CALL(T, D, CT_MEMBER, "GET", "/compute/v2.1/os-hypervisors/detail",
	    NULL, 403, NULL);
	assert_non_null(ctltest_get(T, "forbidden"));
	assert_null(ctltest_get(T, "hypervisors"));
	CT_CALL(T, CT_COMPUTE, CT_MEMBER, "GET", "/v2.1/os-hypervisors/detail",
	    NULL, 403, NULL);
	/* Volume with the project in the path, network, image. */
	snprintf(p, sizeof(p), "/volume/v3/%s/volumes/detail",
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, D, CT_MEMBER, "GET", p, NULL, 200, NULL);
	assert_non_null(ctltest_get(T, "volumes"));
	CT_CALL(T, D, CT_MEMBER, "GET", "/network/v2.0/networks", NULL, 200,
	    NULL);
	assert_non_null(ctltest_get(T, "networks"));
	CT_CALL(T, D, CT_MEMBER, "GET", "/image/v2/images", NULL, 200, NULL);
	/* A prefix alone is the mounted API's root; no dashboard below. */
	CT_CALL(T, D, CT_ANON, "GET", "/compute/", NULL, 200, NULL);
	CT_CALL(T, D, CT_ANON, "GET", "/compute/dashboard/", NULL, 404, NULL);
	CT_CALL(T, D, CT_ANON, "GET", "/dashboard/compute/v2.1", NULL, 404,
	    NULL);
}

static int
setup(void **state)
{
	(void)state;
	return (T = ctltest_new()) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	ctltest_free(&T);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_host_status),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_mounted_apis),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
