/*
 * Unit tests for controller/routes.c: every authenticated route of every
 * service (services_routes()) names a policy rule that the built-in defaults
 * define, or carries ROUTE_SELF_SCOPED; and the policy sample that
 * `tinystack-manage policy sample` prints reads back, uncommented, as the
 * very same rules, and packaging/policy.yaml.sample is that sample.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "auth/policy.h"
#include "http/http.h"
#include "services.h"

/* services_policy_tables lists the builder's rule tables in its order:
 * the one list of services is services.c's table, this must follow it. */
static void
test_policy_tables_follow_services(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; services_name(i) != NULL; i++) {
		assert_non_null(services_policy_tables[i]);
		assert_ptr_equal(services_policy_tables[i], services_policy(i));
	}
	assert_null(services_policy_tables[i]);
	assert_true(i >= 3);
}

/* Nova's os-interface: four routes, each under the four compute prefixes,
 * enforced on the loaded server (another project's answers 404) under
 * the os-attach-interfaces rules, with Nova's success statuses. */
static void
test_os_interface_routes(void **state)
{
	static const struct {
		const char	*method, *suffix, *rule;
		int		 status;
	} want[] = {
		{ "GET", "/servers/{server_id}/os-interface",
		    "os_compute_api:os-attach-interfaces:list", 200 },
		{ "POST", "/servers/{server_id}/os-interface",
		    "os_compute_api:os-attach-interfaces:create", 200 },
		{ "GET", "/servers/{server_id}/os-interface/{port_id}",
		    "os_compute_api:os-attach-interfaces:show", 200 },
		{ "DELETE", "/servers/{server_id}/os-interface/{port_id}",
		    "os_compute_api:os-attach-interfaces:delete", 202 },
	};
	static const char *const prefixes[] = { "/v2.1", "/v2.1/{project_id}",
	    "/v2", "/v2/{project_id}" };
	const struct http_route *r = NULL;
	size_t si;

	(void)state;
	for (si = 0; services_name(si) != NULL; si++)
		if (strcmp(services_name(si), "compute") == 0)
			r = services_routes(si);
	assert_non_null(r);
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		for (size_t p = 0; p < 4; p++) {
			char pat[256];
			const struct http_route *x;
			int found = 0;

			snprintf(pat, sizeof(pat), "%s%s", prefixes[p],
			    want[w].suffix);
			for (x = r; x->method != NULL; x++) {
				if (strcmp(x->method, want[w].method) != 0 ||
				    strcmp(x->pattern, pat) != 0)
					continue;
				found++;
				assert_string_equal(x->policy, want[w].rule);
				assert_true(x->flags & ROUTE_POLICY_IN_HANDLER);
				assert_int_equal(x->success_status,
				    want[w].status);
			}
			if (found != 1)
				fail_msg("%s %s: %d routes", want[w].method, pat,
				    found);
		}
	}
}

/* A download capability is accepted on two routes only: the image
 * download, authenticated, with the rule enforced in the handler (which
 * serves a capability without one), and a volume backup's data, which
 * serves a capability only (self-scoped: it refuses every token). An
 * upload capability likewise on the image upload and a backup's upload. */
static void
test_capability_routes(void **state)
{
	static const struct {
		int		 flag;
		const char	*svc, *method, *pattern;
		bool		 self;
	} want[] = {
		{ ROUTE_CAPABILITY, "image", "GET",
		    "/v2/images/{image_id}/file", false },
		{ ROUTE_CAPABILITY, "volume", "GET",
		    "/v3/backup-data/{image_id}", true },
		{ ROUTE_CAPABILITY_UPLOAD, "image", "PUT",
		    "/v2/images/{image_id}/file", false },
		{ ROUTE_CAPABILITY_UPLOAD, "volume", "PUT",
		    "/v3/backup-data/{image_id}", true },
	};
	const struct http_route *r;
	size_t si, n = 0, w;

	(void)state;
	for (si = 0; services_name(si) != NULL; si++)
		for (r = services_routes(si); r->method != NULL; r++) {
			if (!(r->flags & (ROUTE_CAPABILITY |
			    ROUTE_CAPABILITY_UPLOAD)))
				continue;
			n++;
			for (w = 0; w < sizeof(want) / sizeof(want[0]); w++)
				if ((r->flags & want[w].flag) &&
				    strcmp(services_name(si), want[w].svc) ==
				    0 && strcmp(r->method, want[w].method) ==
				    0 && strcmp(r->pattern, want[w].pattern) ==
				    0)
					break;
			if (w == sizeof(want) / sizeof(want[0]))
				fail_msg("capability on %s %s %s",
				    services_name(si), r->method, r->pattern);
			assert_false(r->flags & ROUTE_NO_AUTH);
			assert_true(r->flags & (want[w].self ?
			    ROUTE_SELF_SCOPED : ROUTE_POLICY_IN_HANDLER));
		}
	assert_int_equal(n, 4);
}

static void
test_every_route_is_guarded(void **state)
{
	size_t si;
	const struct http_route *r;
	struct policy *p = policy_new(services_policy_tables, NULL, 0, NULL);
	size_t n = 0, bad = 0;

	(void)state;
	if (p == NULL)
		fail_msg("defaults: %s", err_msg());
	for (si = 0; services_name(si) != NULL; si++) {
		assert_non_null(services_routes(si));
		for (r = services_routes(si); r->method != NULL; r++, n++) {
			const char *why = NULL;

			if (r->flags & ROUTE_NO_AUTH) {
				if (r->policy != NULL ||
				    (r->flags & (ROUTE_SELF_SCOPED |
				    ROUTE_POLICY_IN_HANDLER)))
					why = "unauthenticated route with a "
					    "rule or mark";
			} else if (r->flags & ROUTE_SELF_SCOPED) {
				if (r->policy != NULL ||
				    (r->flags & ROUTE_POLICY_IN_HANDLER))
					why = "self-scoped route with a rule";
			} else if (r->policy == NULL) {
				why = "neither a rule nor ROUTE_SELF_SCOPED";
			} else if (!policy_has_rule(p, r->policy)) {
				why = "rule not in the defaults tables";
			}
			if (why != NULL) {
				print_error("%s %s %s (%s): %s\n", services_name(si),
				    r->method, r->pattern, r->policy ?
				    r->policy : "-", why);
				bad++;
			}
		}
	}
	policy_free(&p);
	assert_true(n > 100);
	assert_int_equal(bad, 0);
}

/* Every default has a description (the sample's comment line). */
static void
test_every_default_is_described(void **state)
{
	const struct policy_default *const *t;
	const struct policy_default *d;

	(void)state;
	for (t = services_policy_tables; *t != NULL; t++)
		for (d = *t; d->name != NULL; d++)
			if (d->description == NULL || *d->description == '\0' ||
			    strchr(d->description, '\n') != NULL)
				fail_msg("%s: no one-line description", d->name);
}

static void
test_sample_reads_back(void **state)
{
	const struct policy_default *const *t;
	const struct policy_default *d;
	const struct policy_default *none[] = { NULL };
	char *buf = NULL, *line, *save;
	size_t len = 0, nrules = 0;
	struct { char *text; size_t len; } out = { NULL, 0 };
	FILE *fp = open_memstream(&buf, &len);
	FILE *un;
	struct policy *p;

	(void)state;
	assert_non_null(fp);
	assert_int_equal(policy_print_sample(services_policy_tables, fp), 0);
	fclose(fp);
	/* Uncomment the rule lines, as an operator does. */
	un = open_memstream(&out.text, &out.len);
	assert_non_null(un);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "#\"", 2) == 0) {
			fprintf(un, "%s\n", line + 1);
			nrules++;
		} else {
			fprintf(un, "%s\n", line);
		}
	}
	fclose(un);
	/* Built with no defaults at all: every rule comes from the text. */
	p = policy_new(none, out.text, out.len, "sample");
	if (p == NULL)
		fail_msg("sample: %s", err_msg());
	for (t = services_policy_tables; *t != NULL; t++)
		for (d = *t; d->name != NULL; d++, nrules--)
			assert_true(policy_has_rule(p, d->name));
	assert_int_equal(nrules, 0);
	policy_free(&p);
	free(out.text);
	free(buf);
}

/* packaging/policy.yaml.sample is the generator's output
 * (TS_UPDATE_GOLDEN=1 rewrites it). */
static void
test_shipped_sample(void **state)
{
	const char *src = getenv("TS_SOURCE_DIR");
	char path[4096], *gen = NULL, *shipped;
	size_t glen = 0, n;
	FILE *fp;

	(void)state;
	if (src == NULL)
		fail_msg("TS_SOURCE_DIR is not set (run through ctest)");
	snprintf(path, sizeof(path), "%s/packaging/policy.yaml.sample", src);
	fp = open_memstream(&gen, &glen);
	assert_non_null(fp);
	assert_int_equal(policy_print_sample(services_policy_tables, fp), 0);
	fclose(fp);
	if (getenv("TS_UPDATE_GOLDEN") != NULL) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fwrite(gen, 1, glen, fp);
		fclose(fp);
	}
	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("%s: missing (TS_UPDATE_GOLDEN=1 creates it)", path);
	shipped = calloc(1, glen + 2);
	assert_non_null(shipped);
	n = fread(shipped, 1, glen + 1, fp);
	fclose(fp);
	if (n != glen || memcmp(shipped, gen, glen) != 0)
		fail_msg("%s differs from `tinystack-manage policy sample`; "
		    "regenerate with TS_UPDATE_GOLDEN=1", path);
	free(shipped);
	free(gen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_tables_follow_services),
		cmocka_unit_test(test_every_route_is_guarded),
		cmocka_unit_test(test_capability_routes),
		cmocka_unit_test(test_os_interface_routes),
		cmocka_unit_test(test_every_default_is_described),
		cmocka_unit_test(test_sample_reads_back),
		cmocka_unit_test(test_shipped_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
