/*
 * Unit tests for controller/policy.c: the rule language, load-time checks,
 * and the identity defaults, whose decisions for a set of personas are
 * compared with tests/golden/policy/identity-defaults.txt (regenerate with
 * TS_UPDATE_GOLDEN=1 and review the diff).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "auth/policy.h"

static const char *const r_admin[] = { "admin", "member", "reader" };
static const char *const r_member[] = { "member", "reader" };
static const char *const r_reader[] = { "reader" };
static const char *const r_service[] = { "service" };

#define ROLES(a)	(a), sizeof(a) / sizeof((a)[0])

static const struct policy_kv own_kv[] = {
	{ "user_id",			"u-member" },
	{ "target.user.id",		"u-member" },
	{ "target.project.id",		"p-1" },
	{ "target.domain.id",		"d-1" },
	{ "target.token.user_id",	"u-member" },
};
static const struct policy_target own = { own_kv, 5 };

static const struct policy_kv other_kv[] = {
	{ "user_id",			"u-other" },
	{ "target.user.id",		"u-other" },
	{ "target.project.id",		"p-2" },
	{ "target.domain.id",		"d-2" },
	{ "target.token.user_id",	"u-other" },
};
static const struct policy_target other = { other_kv, 5 };

struct persona {
	const char		*name;
	struct policy_creds	 c;
};

static const struct persona personas[] = {
	{ "admin", { .user_id = "u-admin", .project_id = "p-admin",
	    .project_domain_id = "d-1", .user_domain_id = "d-1",
	    .roles = ROLES(r_admin) } },
	{ "member", { .user_id = "u-member", .project_id = "p-1",
	    .project_domain_id = "d-1", .user_domain_id = "d-1",
	    .roles = ROLES(r_member) } },
	{ "reader", { .user_id = "u-reader", .project_id = "p-1",
	    .project_domain_id = "d-1", .user_domain_id = "d-1",
	    .roles = ROLES(r_reader) } },
	{ "sysreader", { .user_id = "u-sys", .system_scope = true,
	    .user_domain_id = "d-1", .roles = ROLES(r_reader) } },
	{ "service", { .user_id = "u-svc", .project_id = "p-service",
	    .project_domain_id = "d-1", .user_domain_id = "d-1",
	    .roles = ROLES(r_service) } },
	{ "noroles", { .user_id = "u-member", .user_domain_id = "d-1" } },
};

static const struct persona *
who(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(personas) / sizeof(personas[0]); i++)
		if (strcmp(personas[i].name, name) == 0)
			return &personas[i];
	fail_msg("no persona %s", name);
	return NULL;
}

static struct policy *
identity_policy(void)
{
	const struct policy_default *tabs[] = { policy_identity_defaults,
	    NULL };
	struct policy *p = policy_new(tabs, NULL, 0, NULL);

	if (p == NULL)
		fail_msg("identity defaults: %s", err_msg());
	return p;
}

/* A policy of just { "t": check } (and a few helper rules). */
static struct policy *
one_rule(const char *check)
{
	const struct policy_default t[] = {
		{ "t", check, NULL },
		{ "is_a", "role:a", NULL },
		{ NULL, NULL, NULL },
	};
	const struct policy_default *tabs[] = { t, NULL };

	return policy_new(tabs, NULL, 0, NULL);
}

static bool
allows(const char *check, const struct policy_creds *c,
    const struct policy_target *t)
{
	struct policy *p = one_rule(check);
	int rc;

	if (p == NULL)
		fail_msg("\"%s\" does not parse: %s", check, err_msg());
	rc = policy_enforce(p, "t", c, t);
	policy_free(&p);
	return rc == 0;
}

static void
test_each_construct(void **state)
{
	static const char *const r_a[] = { "A" };
	static const char *const r_bc[] = { "b", "c" };
	struct policy_creds a = { .user_id = "u1", .project_id = "p1",
	    .domain_id = "d1", .project_domain_id = "pd1",
	    .user_domain_id = "ud1", .roles = ROLES(r_a) };
	struct policy_creds bc = { .user_id = "u2", .roles = ROLES(r_bc),
	    .is_admin = true, .system_scope = true };
	static const struct policy_kv kv[] = {
		{ "project_id", "p1" }, { "target.user.id", "u1" },
		{ "target.domain.id", "d1" }, { "empty", "" },
	};
	struct policy_target t = { kv, 4 };

	assert_true(allows("", &a, &t));
	assert_true(allows("  \t", &a, &t));
	assert_true(allows("@", &a, &t));
	assert_false(allows("!", &a, &t));
	assert_true(allows("role:a", &a, &t));	/* case-insensitive */
	assert_true(allows("role:A", &a, &t));
	assert_false(allows("role:b", &a, &t));
	assert_true(allows("rule:is_a", &a, &t));
	assert_false(allows("rule:is_a", &bc, &t));
	assert_true(allows("is_admin:True", &bc, &t));
	assert_true(allows("is_admin:1", &bc, &t));
	assert_false(allows("is_admin:True", &a, &t));
	assert_true(allows("is_admin:False", &a, &t));
	assert_true(allows("project_id:%(project_id)s", &a, &t));
	assert_false(allows("project_id:%(project_id)s", &bc, &t));
	assert_true(allows("token.project.id:%(project_id)s", &a, &t));
	assert_true(allows("user_id:%(target.user.id)s", &a, &t));
	assert_false(allows("user_id:%(target.user.id)s", &bc, &t));
	assert_true(allows("domain_id:%(target.domain.id)s", &a, &t));
	assert_true(allows("token.domain.id:d1", &a, &t));
	assert_true(allows("project_domain_id:pd1", &a, &t));
	assert_true(allows("token.project.domain.id:pd1", &a, &t));
	assert_true(allows("user_domain_id:ud1", &a, &t));
	assert_true(allows("token.user.domain.id:ud1", &a, &t));
	assert_true(allows("user_id:u1", &a, &t));
	assert_true(allows("system_scope:all", &bc, &t));
	assert_false(allows("system_scope:all", &a, &t));
	/* Absent target keys, unset or empty credentials never match. */
	assert_false(allows("user_id:%(nope)s", &a, &t));
	assert_false(allows("user_id:%(empty)s", &a, &t));
	assert_false(allows("project_id:%(project_id)s", &a, NULL));
	assert_false(allows("domain_id:%(empty)s", &bc, &t));
	assert_false(allows("role:a", NULL, &t));
	assert_true(allows("not role:a", NULL, NULL));
	assert_true(allows("(role:b)", &bc, &t));
	assert_true(allows("((( @ )))", &a, &t));
}

static void
test_precedence(void **state)
{
	static const char *const r_a[] = { "a" }, *const r_b[] = { "b" };
	static const char *const r_ab[] = { "a", "b" };
	static const char *const r_bc[] = { "b", "c" };
	static const char *const r_ac[] = { "a", "c" };
	struct policy_creds a = { .roles = ROLES(r_a) };
	struct policy_creds b = { .roles = ROLES(r_b) };
	struct policy_creds ab = { .roles = ROLES(r_ab) };
	struct policy_creds bc = { .roles = ROLES(r_bc) };
	struct policy_creds ac = { .roles = ROLES(r_ac) };
	struct policy_creds none = { 0 };

	/* and binds tighter than or: a or (b and c) */
	assert_true(allows("role:a or role:b and role:c", &a, NULL));
	assert_false(allows("role:a or role:b and role:c", &b, NULL));
	assert_true(allows("role:a or role:b and role:c", &bc, NULL));
	/* (b and c) or a, the same from the other side */
	assert_true(allows("role:b and role:c or role:a", &a, NULL));
	assert_false(allows("role:b and role:c or role:a", &b, NULL));
	/* not binds tightest: (not a) and b / (not a) or b */
	assert_true(allows("not role:a and role:b", &b, NULL));
	assert_false(allows("not role:a and role:b", &ab, NULL));
	assert_false(allows("not role:a or role:b", &a, NULL));
	assert_true(allows("not role:a or role:b", &none, NULL));
	assert_true(allows("not not role:a", &a, NULL));
	/* parentheses override */
	assert_false(allows("(role:a or role:b) and role:c", &a, NULL));
	assert_true(allows("(role:a or role:b) and role:c", &ac, NULL));
	assert_false(allows("not (role:a or role:b)", &b, NULL));
	/* keywords are case-insensitive; long chains */
	assert_true(allows("role:x OR role:y Or role:a", &a, NULL));
	assert_false(allows("role:a AND role:b AND role:c", &ab, NULL));
	assert_true(allows("role:a and role:a and role:a and role:a and "
	    "role:a and role:a and role:a", &a, NULL));
	assert_true(allows("role:q or role:q or role:q or role:q or role:q or "
	    "role:q or role:a", &a, NULL));
	/* parentheses need no spaces */
	assert_true(allows("(role:a)or(role:b)", &b, NULL));
}

static void
expect_error(const char *check, const char *what, int column)
{
	struct policy *p;
	char col[32];

	err_clear();
	p = one_rule(check);
	if (p != NULL)
		fail_msg("\"%s\" parsed but should not", check);
	assert_int_equal(err_code(), TS_ECONFIG);
	if (strstr(err_msg(), what) == NULL)
		fail_msg("\"%s\": expected \"%s\" in \"%s\"", check, what,
		    err_msg());
	if (column > 0) {
		snprintf(col, sizeof(col), "at column %d", column);
		if (strstr(err_msg(), col) == NULL)
			fail_msg("\"%s\": expected \"%s\" in \"%s\"", check,
			    col, err_msg());
	}
	assert_non_null(strstr(err_msg(), "rule \"t\""));
}

static void
test_syntax_errors_have_positions(void **state)
{
	expect_error("role:admin and", "unexpected end", 15);
	expect_error("(role:admin", "expected ')'", 12);
	expect_error("(role:admin", "of column 1", 12);
	expect_error("role:admin)", "unbalanced ')'", 11);
	expect_error("role:admin role:x", "expected 'and', 'or'", 12);
	expect_error("admin", "expected a check", 1);
	expect_error("role:", "both sides", 1);
	expect_error(":x", "both sides", 1);
	expect_error("role:a or foo:bar", "unknown credential attribute", 11);
	expect_error("project_id:%(project_id", "unterminated", 1);
	expect_error("project_id:x%(y)s", "whole %(key)s", 12);
	expect_error("project_id:%()s", "bad substitution", 12);
	expect_error("is_admin:yes", "True or False", 10);
	expect_error("http://example.com/check", "http checks", 1);
	expect_error("@ or rule:nope", "unknown rule \"nope\"", 11);
	expect_error("role:%(x)s", "literal", 6);
	expect_error("and role:a", "expected a check", 1);
	expect_error("not", "unexpected end", 4);
	expect_error("()", "expected a check", 2);
	expect_error("role:a or or role:b", "expected a check", 11);
}

static struct policy *
rules(const struct policy_default *t)
{
	const struct policy_default *tabs[] = { t, NULL };

	return policy_new(tabs, NULL, 0, NULL);
}

static void
test_cycles_are_refused(void **state)
{
	const struct policy_default two[] = {
		{ "a", "rule:b", NULL }, { "b", "role:x or rule:a", NULL },
		{ NULL, NULL, NULL } };
	const struct policy_default self[] = {
		{ "a", "@ or rule:a", NULL }, { NULL, NULL, NULL } };
	const struct policy_default three[] = {
		{ "a", "rule:b", NULL }, { "b", "not rule:c", NULL },
		{ "c", "(rule:a)", NULL }, { NULL, NULL, NULL } };
	const struct policy_default diamond[] = {
		{ "top", "rule:l and rule:r", NULL },
		{ "l", "rule:base", NULL }, { "r", "not rule:base", NULL },
		{ "base", "role:x", NULL }, { NULL, NULL, NULL } };
	struct policy *p;

	err_clear();
	assert_null(rules(two));
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_non_null(strstr(err_msg(), "cycle"));
	assert_null(rules(self));
	assert_non_null(strstr(err_msg(), "cycle"));
	assert_null(rules(three));
	assert_non_null(strstr(err_msg(), "cycle"));
	p = rules(diamond);
	assert_non_null(p);
	assert_int_equal(policy_enforce(p, "top", NULL, NULL), -1);
	policy_free(&p);
}

static char *
repeat(const char *head, int n, const char *mid, const char *tail)
{
	size_t len = strlen(head) * n + strlen(mid) + strlen(tail) * n + 1;
	char *s = malloc(len);
	int i;

	assert_non_null(s);
	s[0] = '\0';
	for (i = 0; i < n; i++)
		strcat(s, head);
	strcat(s, mid);
	for (i = 0; i < n; i++)
		strcat(s, tail);
	return s;
}

static void
test_limits(void **state)
{
	static const char *const r_a[] = { "a" };
	struct policy_creds a = { .roles = ROLES(r_a) };
	struct policy_default chain[202];
	char names[201][8], refs[201][16];
	struct policy *p;
	char *s;
	int i;

	s = repeat("(", POLICY_MAX_DEPTH, "role:a", ")");
	assert_true(allows(s, &a, NULL));
	free(s);
	s = repeat("(", POLICY_MAX_DEPTH + 1, "role:a", ")");
	expect_error(s, "nested deeper than 32", POLICY_MAX_DEPTH + 1);
	free(s);
	s = repeat("not ", POLICY_MAX_DEPTH, "role:a", "");
	assert_true(allows(s, &a, NULL));	/* an even number of nots */
	free(s);
	s = repeat("not ", POLICY_MAX_DEPTH + 1, "role:a", "");
	expect_error(s, "nested deeper than 32", 0);
	free(s);

	/* 128 checks and 127 ors are 255 terms; one more pair is too many. */
	s = repeat("role:x or ", 127, "role:a", "");
	assert_true(allows(s, &a, NULL));
	free(s);
	s = repeat("role:x or ", 128, "role:a", "");
	expect_error(s, "more than 256 terms", 0);
	free(s);

	s = repeat(" ", POLICY_MAX_CHECK, "@", "");
	expect_error(s, "longer than 4096", 0);
	free(s);

	/* A chain of 200 rule references nests too deeply to evaluate on a
	 * bounded stack. */
	for (i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "r%d", i);
		snprintf(refs[i], sizeof(refs[i]), "rule:r%d", i + 1);
		chain[i].name = names[i];
		chain[i].check = refs[i];
	}
	snprintf(names[200], sizeof(names[200]), "r200");
	chain[200].name = names[200];
	chain[200].check = "role:a";
	chain[201].name = NULL;
	chain[201].check = NULL;
	err_clear();
	assert_null(rules(chain));
	assert_non_null(strstr(err_msg(), "nests too deeply"));
	/* 100 is fine, and the reference is followed all the way. */
	chain[100].check = "role:a";
	chain[101].name = NULL;
	p = rules(chain);
	assert_non_null(p);
	assert_int_equal(policy_enforce(p, "r0", &a, NULL), 0);
	policy_free(&p);
}

static int
decide(const struct policy *p, const char *rule, const char *persona,
    const struct policy_target *t)
{
	return policy_enforce(p, rule, &who(persona)->c, t) == 0;
}

static void
test_identity_defaults(void **state)
{
	struct policy *p = identity_policy();

	/* Admin does everything; members and readers no administration. */
	assert_true(decide(p, "identity:create_user", "admin", &other));
	assert_false(decide(p, "identity:create_user", "member", &own));
	assert_false(decide(p, "identity:create_user", "reader", &own));
	assert_false(decide(p, "identity:delete_project", "member", &own));
	assert_false(decide(p, "identity:create_grant", "member", &own));
	assert_true(decide(p, "identity:list_users", "admin", &other));
	assert_false(decide(p, "identity:list_users", "member", &own));
	/* A system-scoped reader reads but does not write. */
	assert_true(decide(p, "identity:list_users", "sysreader", &other));
	assert_true(decide(p, "identity:get_project", "sysreader", &other));
	assert_false(decide(p, "identity:update_user", "sysreader", &other));
	/* Own user, own project, own domain. */
	assert_true(decide(p, "identity:get_user", "member", &own));
	assert_false(decide(p, "identity:get_user", "member", &other));
	assert_false(decide(p, "identity:get_user", "reader", &own));
	assert_true(decide(p, "identity:list_user_projects", "member", &own));
	assert_false(decide(p, "identity:list_user_projects", "member",
	    &other));
	assert_true(decide(p, "identity:get_project", "reader", &own));
	assert_false(decide(p, "identity:get_project", "reader", &other));
	assert_true(decide(p, "identity:get_domain", "member", &own));
	assert_false(decide(p, "identity:get_domain", "member", &other));
	/* Tokens: the subject checks and revokes its own, services
	 * validate any, nobody else's. */
	assert_true(decide(p, "identity:check_token", "member", &own));
	assert_false(decide(p, "identity:check_token", "member", &other));
	assert_true(decide(p, "identity:revoke_token", "member", &own));
	assert_false(decide(p, "identity:revoke_token", "reader", &own));
	assert_true(decide(p, "identity:validate_token", "service", &other));
	assert_false(decide(p, "identity:check_token", "service", &other));
	/* Open to any authenticated caller. */
	assert_true(decide(p, "identity:get_auth_projects", "noroles", NULL));
	assert_true(decide(p, "identity:list_regions", "reader", NULL));
	assert_false(decide(p, "identity:create_region", "member", NULL));
	policy_free(&p);
}

static void
test_forbidden_message_and_default_fallback(void **state)
{
	const struct policy_default nodefault[] = {
		{ "x", "@", NULL }, { NULL, NULL, NULL } };
	struct policy *p = identity_policy();

	err_clear();
	assert_int_equal(policy_enforce(p, "identity:create_user",
	    &who("member")->c, &own), -1);
	assert_int_equal(err_code(), TS_EFORBIDDEN);
	assert_string_equal(err_msg(),
	    "Policy doesn't allow identity:create_user to be performed.");
	/* Undefined rules fall back to "default" (admin only). */
	assert_false(policy_has_rule(p, "identity:frobnicate"));
	assert_true(policy_has_rule(p, "default"));
	assert_int_equal(policy_enforce(p, "identity:frobnicate",
	    &who("admin")->c, NULL), 0);
	assert_int_equal(policy_enforce(p, "identity:frobnicate",
	    &who("member")->c, NULL), -1);
	assert_string_equal(err_msg(),
	    "Policy doesn't allow identity:frobnicate to be performed.");
	policy_free(&p);
	/* ... and with no "default", to a denial. */
	p = rules(nodefault);
	assert_non_null(p);
	assert_int_equal(policy_enforce(p, "x", NULL, NULL), 0);
	assert_int_equal(policy_enforce(p, "y", &who("admin")->c, NULL), -1);
	policy_free(&p);
	policy_free(&p);
}

static const char *
source_dir(void)
{
	const char *s = getenv("TS_SOURCE_DIR");

	return s != NULL ? s : TS_TEST_SOURCE_DIR;
}

static void
test_json_file_overrides_defaults(void **state)
{
	const struct policy_default *tabs[] = { policy_identity_defaults,
	    NULL };
	static const char *const r_op[] = { "operator" };
	struct policy_creds op = { .user_id = "u-op", .project_id = "p-1",
	    .roles = ROLES(r_op) };
	char path[1024];
	struct policy *p;

	snprintf(path, sizeof(path), "%s/tests/golden/policy/override.json",
	    source_dir());
	p = policy_load(tabs, path);
	if (p == NULL)
		fail_msg("%s: %s", path, err_msg());
	/* Overridden: readers may list users; operators create projects. */
	assert_true(decide(p, "identity:list_users", "reader", &own));
	assert_true(policy_enforce(p, "identity:create_project", &op,
	    NULL) == 0);
	assert_false(decide(p, "identity:create_project", "member", NULL));
	/* Overrides reach rules that refer to them: admin_required now also
	 * admits operators, so every admin-only default does. */
	assert_true(policy_enforce(p, "identity:delete_user", &op, NULL) == 0);
	/* Untouched defaults stay. */
	assert_true(decide(p, "identity:get_user", "member", &own));
	assert_false(decide(p, "identity:get_user", "member", &other));
	assert_true(policy_has_rule(p, "cloud_operator"));
	policy_free(&p);

	/* The file's errors name the file. */
	err_clear();
	assert_null(policy_load(tabs, "/nonexistent/policy.json"));
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_non_null(strstr(err_msg(), "/nonexistent/policy.json"));
	p = policy_load(tabs, NULL);	/* defaults only */
	assert_non_null(p);
	policy_free(&p);
}

static void
expect_json_error(const char *json, const char *what)
{
	const struct policy_default *tabs[] = { policy_identity_defaults,
	    NULL };

	err_clear();
	assert_null(policy_new(tabs, json, strlen(json), "test.json"));
	assert_int_equal(err_code(), TS_ECONFIG);
	if (strstr(err_msg(), what) == NULL || strstr(err_msg(),
	    "test.json") == NULL)
		fail_msg("expected \"%s\" and the origin in \"%s\"", what,
		    err_msg());
}

static void
test_bad_json(void **state)
{
	const struct policy_default dup[] = {
		{ "a", "@", NULL }, { "a", "!", NULL }, { NULL, NULL, NULL } };

	expect_json_error("{\"a\": \"@\",}", "line 1");
	expect_json_error("[\"@\"]", "JSON object");
	expect_json_error("{\"a\": true}", "must be a string");
	expect_json_error("{\"a\": \"@\", \"a\": \"!\"}", "duplicate");
	expect_json_error("{\"\": \"@\"}", "rule names");
	expect_json_error("{\"a\": \"@\"} x", "line 1");
	expect_json_error("{\"identity:get_user\": \"role:\"}", "column 1");
	expect_json_error("{\"a\": \"rule:b\", \"b\": \"rule:a\"}", "cycle");
	err_clear();
	assert_null(rules(dup));
	assert_non_null(strstr(err_msg(), "defined twice"));
}

/* Decisions of every default rule for every persona, on their own and on
 * someone else's objects, against the reviewed golden file. */
static void
test_identity_defaults_golden(void **state)
{
	const struct policy_default *d;
	struct policy *p = identity_policy();
	char path[1024], *got, *want;
	size_t len = 0, cap = 1 << 16, i;
	FILE *fp;
	long n;

	got = malloc(cap);
	assert_non_null(got);
	for (d = policy_identity_defaults; d->name != NULL; d++) {
		if (strncmp(d->name, "identity:", 9) != 0)
			continue;
		len += (size_t)snprintf(got + len, cap - len, "%-32s", d->name);
		for (i = 0; i < sizeof(personas) / sizeof(personas[0]); i++)
			len += (size_t)snprintf(got + len, cap - len,
			    " %s=%s/%s", personas[i].name,
			    decide(p, d->name, personas[i].name, &own) ? "y" :
			    "n", decide(p, d->name, personas[i].name,
			    &other) ? "y" : "n");
		len += (size_t)snprintf(got + len, cap - len, "\n");
		assert_true(len < cap);
	}
	policy_free(&p);

	snprintf(path, sizeof(path), "%s/tests/golden/policy/"
	    "identity-defaults.txt", source_dir());
	if (getenv("TS_UPDATE_GOLDEN") != NULL) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs("# rule  persona=<on user u-member, project p-1, domain "
		    "d-1>/<on u-other, p-2, d-2>; personas in policy_test.c\n",
		    fp);
		fputs(got, fp);
		fclose(fp);
	}
	fp = fopen(path, "r");
	if (fp == NULL)
		fail_msg("%s: %s (TS_UPDATE_GOLDEN=1 creates it)", path,
		    strerror(errno));
	want = malloc(cap);
	assert_non_null(want);
	n = (long)fread(want, 1, cap - 1, fp);
	fclose(fp);
	want[n] = '\0';
	/* Skip the header line. */
	assert_non_null(strchr(want, '\n'));
	assert_string_equal(strchr(want, '\n') + 1, got);
	free(want);
	free(got);
}

/* A policy of the t/u rules overridden by text; asserts it loads. */
static struct policy *
yaml_policy(const char *text)
{
	const struct policy_default t[] = {
		{ "t", "!", NULL }, { "u", "!", NULL }, { NULL, NULL, NULL } };
	const struct policy_default *tabs[] = { t, NULL };
	struct policy *p;

	err_clear();
	if ((p = policy_new(tabs, text, strlen(text), "test.yaml")) == NULL)
		fail_msg("%s: %s", text, err_msg());
	return p;
}

static bool
yaml_allows(const struct policy *p, const char *rule, const char *role)
{
	const char *roles[] = { role };
	struct policy_creds c = { .roles = roles, .nroles = 1 };

	return policy_enforce(p, rule, &c, NULL) == 0;
}

static void
test_yaml_subset(void **state)
{
	struct policy *p;

	/* The sample as generated: every line a comment: no overrides. */
	p = yaml_policy("# List users.\n#\"t\": \"role:a\"\n\n");
	assert_false(yaml_allows(p, "t", "a"));
	policy_free(&p);
	p = yaml_policy("");
	policy_free(&p);
	/* One uncommented line of the sample. */
	p = yaml_policy("# x\n\"t\": \"role:a\"\n\n");
	assert_true(yaml_allows(p, "t", "a"));
	assert_false(yaml_allows(p, "u", "a"));
	policy_free(&p);
	/* Plain and single-quoted scalars, CRLF, comments after values,
	 * a document start, names with colons, '' and \" escapes. */
	p = yaml_policy("---\r\n"
	    "t: role:a or role:b   # why\r\n"
	    "  # indented comment\n"
	    "'u': 'role:it''s'\n"
	    "os_compute_api:servers:index: \"role:\\\"q\"\n"
	    "\"v\": \"\"\n");
	assert_true(yaml_allows(p, "t", "b"));
	assert_true(yaml_allows(p, "u", "it's"));
	assert_true(yaml_allows(p, "os_compute_api:servers:index", "\"q"));
	assert_true(yaml_allows(p, "v", "anything"));
	policy_free(&p);
	/* The last line may lack its newline. */
	p = yaml_policy("t: \"@\"");
	assert_true(yaml_allows(p, "t", "x"));
	policy_free(&p);
	/* JSON still works. */
	p = yaml_policy("\n {\"t\": \"role:a\"}");
	assert_true(yaml_allows(p, "t", "a"));
	policy_free(&p);
}

static void
expect_yaml_error(const char *text, const char *what)
{
	const struct policy_default t[] = {
		{ "t", "!", NULL }, { NULL, NULL, NULL } };
	const struct policy_default *tabs[] = { t, NULL };

	err_clear();
	assert_null(policy_new(tabs, text, strlen(text), "test.yaml"));
	assert_int_equal(err_code(), TS_ECONFIG);
	if (strstr(err_msg(), what) == NULL || strstr(err_msg(),
	    "test.yaml") == NULL)
		fail_msg("%s: expected \"%s\" in \"%s\"", text, what,
		    err_msg());
}

static void
test_yaml_errors(void **state)
{
	expect_yaml_error("t: \"@\"\n  u: \"@\"\n", "line 2: indented");
	expect_yaml_error("t: @\n", "line 1: a check string starting");
	expect_yaml_error("t: !\n", "must be quoted");
	expect_yaml_error("t: [a]\n", "must be quoted");
	expect_yaml_error("t: {a: b}\n", "must be quoted");
	expect_yaml_error("t: &x a\n", "must be quoted");
	expect_yaml_error("t: |\n  role:a\n", "must be quoted");
	expect_yaml_error("t:\n", "missing check string");
	expect_yaml_error("t: # c\n", "missing check string");
	expect_yaml_error("t\n", "expected \"rule\": \"check\"");
	expect_yaml_error("t:role:a\n", "expected \"rule\": \"check\"");
	expect_yaml_error("t: \"x\n", "unterminated");
	expect_yaml_error("t: 'x\n", "unterminated");
	expect_yaml_error("t: \"\\n\"\n", "unsupported escape");
	expect_yaml_error("t: \"a\" b\n", "unexpected text");
	expect_yaml_error("t: role:a or x: y\n", "quote it");
	expect_yaml_error("t: \"@\"\nt: \"!\"\n", "line 2: rule \"t\" "
	    "defined twice");
	expect_yaml_error("\"\": \"@\"\n", "empty rule name");
	expect_yaml_error("- t\n", "indicator must be quoted");
	expect_yaml_error("# c\n\nt: \"role:\"\n", "column");
	expect_yaml_error("t: \"a\xff\"\n", "UTF-8");
	expect_yaml_error("u: \"rule:nope\"\n", "nope");
}

static void
test_sample_format(void **state)
{
	const struct policy_default t[] = {
		{ "a:b", "role:x or \"q\"", "Short." },
		{ "long", "", "Word word word word word word word word word "
		    "word word word word word word end." },
		{ NULL, NULL, NULL } };
	const struct policy_default *tabs[] = { t, NULL };
	char buf[1024];
	FILE *fp = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(fp);
	assert_int_equal(policy_print_sample(tabs, fp), 0);
	fclose(fp);
	assert_string_equal(buf,
	    "# Short.\n"
	    "#\"a:b\": \"role:x or \\\"q\\\"\"\n"
	    "\n"
	    "# Word word word word word word word word word word word word word\n"
	    "# word word end.\n"
	    "#\"long\": \"\"\n"
	    "\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_construct),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_syntax_errors_have_positions),
		cmocka_unit_test(test_cycles_are_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_identity_defaults),
		cmocka_unit_test(test_forbidden_message_and_default_fallback),
		cmocka_unit_test(test_json_file_overrides_defaults),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_identity_defaults_golden),
		cmocka_unit_test(test_yaml_subset),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_sample_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
