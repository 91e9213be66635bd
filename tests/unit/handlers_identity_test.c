/*
 * handlers_identity_test: the Identity API's handlers (controller/identity/)
 * over HTTP against the in-process controller of ctltest.h: projects,
 * users (and password change), roles, grants and role assignments,
 * domains and groups uniqueness, token issue/validate/revoke.
 *
 * The personas' tokens must stay valid for the whole binary: tests that
 * change a password or revoke a token do it to users they create.
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

#define K	CT_IDENTITY

static struct ctltest	*T;
static char		 path[512], msg[512], body[1024];

/* ---- helpers ------------------------------------------------------------------ */

/* POST /v3/auth/tokens with a password, project-scoped when project is
 * not NULL; returns the status, the token in tok (when 201). */
static int
password_token(const char *user, const char *pw, const char *project,
    char tok[256])
{
	char scope[256] = "";
	const char *h;

	if (project != NULL)
		snprintf(scope, sizeof(scope), ", \"scope\": {\"project\": "
		    "{\"name\": \"%s\", \"domain\": {\"id\": \"default\"}}}",
		    project);
	snprintf(body, sizeof(body), "{\"auth\": {\"identity\": {\"methods\": "
	    "[\"password\"], \"password\": {\"user\": {\"name\": \"%s\", "
	    "\"domain\": {\"id\": \"default\"}, \"password\": \"%s\"}}}%s}}",
	    user, pw, scope);
	ctltest_call(T, K, CT_ANON, "POST", "/v3/auth/tokens", body, NULL);
	tok[0] = '\0';
	if (T->r.status == 201 && (h = ctltest_header(T, "X-Subject-Token")))
		snprintf(tok, 256, "%s", h);
	return T->r.status;
}

/* A call with an explicit token (and an optional subject token). */
static int
call_tok(const char *tok, const char *method, const char *p,
    const char *b, const char *subject)
{
	char h[700];
	int n;

	n = snprintf(h, sizeof(h), "X-Auth-Token: %s\r\n", tok);
	if (subject != NULL)
		snprintf(h + n, sizeof(h) - (size_t)n, "X-Subject-Token: %s\r\n",
		    subject);
	return ctltest_call(T, K, CT_ANON, method, p, b, h);
}

static int
call_subject(enum ctltest_who who, const char *method, const char *subject)
{
	char h[300];

	snprintf(h, sizeof(h), "X-Subject-Token: %s\r\n", subject);
	return ctltest_call(T, K, who, method, "/v3/auth/tokens", NULL, h);
}

static size_t
list_count(const char *p, const char *key)
{
	CT_CALL(T, K, CT_ADMIN, "GET", p, NULL, 200, NULL);
	return json_array_size(ctltest_get(T, key));
}

/* A user (password "pw-<name>") with role on project alpha; its id. */
static void
user_new(const char *name, const char *role, char id[64])
{
	char rid[64];

	snprintf(body, sizeof(body), "{\"user\": {\"name\": \"%s\", "
	    "\"password\": \"pw-%s\"}}", name, name);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users", body, 201, NULL);
	snprintf(id, 64, "%s", ctltest_str(T, "user.id"));
	snprintf(path, sizeof(path), "/v3/roles?name=%s", role);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	snprintf(rid, sizeof(rid), "%s", ctltest_str(T, "roles.0.id"));
	snprintf(path, sizeof(path), "/v3/projects/%s/users/%s/roles/%s",
	    T->project_id[CT_MEMBER], id, rid);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 204, NULL);
}

/* ---- projects ------------------------------------------------------------------- */

static const struct {
	const char	*body;
	int		 status;
	const char	*msg;
} project_cases[] = {
	{ "{\"project\": {\"name\": \"alpha\"}}", 409,
	  "Conflict occurred attempting to store project - Duplicate entry "
	  "found with name alpha." },
	{ "{\"project\": {}}", 400,
	  "Invalid input for field 'name': 'name' is a required property." },
	{ "{\"project\": {\"name\": \"\"}}", 400,
	  "Invalid input for field 'name': length 0 is not between 1 and 64." },
	{ "{\"project\": {\"name\": \"d\", \"enabled\": \"yes\"}}", 400,
	  "Invalid input for field 'enabled': not a boolean." },
	{ "{\"project\": {\"name\": \"d\", \"domain_id\": \"nope\"}}", 404,
	  "Could not find domain: nope." },
	{ "{\"project\": {\"name\": \"d\", \"parent_id\": \"nope\"}}", 404,
	  "Could not find project: nope." },
	{ "{}", 400, "Invalid input for field 'project': expected an object." },
	{ "xx", 400, "Malformed JSON in request body: '[' or '{' expected near "
	  "'xx' (line 1, column 2, position 2)." },
};

static void
test_projects(void **state)
{
	size_t before = list_count("/v3/projects", "projects");
	char id[64];

	(void)state;
	for (size_t i = 0; i < sizeof(project_cases) / sizeof(project_cases[0]);
	    i++)
		CT_CALL(T, K, CT_ADMIN, "POST", "/v3/projects",
		    project_cases[i].body, project_cases[i].status,
		    project_cases[i].msg);
	CT_CALL(T, K, CT_MEMBER, "POST", "/v3/projects",
	    "{\"project\": {\"name\": \"x\"}}", 403,
	    "Policy doesn't allow identity:create_project to be performed.");
	CT_CALL(T, K, CT_ANON, "POST", "/v3/projects",
	    "{\"project\": {\"name\": \"x\"}}", 401,
	    "The request you have made requires authentication.");
	assert_int_equal(list_count("/v3/projects", "projects"), before);

	/* listing: project readers may not, a system reader may */
	CT_CALL(T, K, CT_READER, "GET", "/v3/projects", NULL, 403,
	    "Policy doesn't allow identity:list_projects to be performed.");
	CT_CALL(T, K, CT_SYSADMIN, "GET", "/v3/projects", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "projects")), before);

	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/projects",
	    "{\"project\": {\"name\": \"gamma\", \"description\": \"g\"}}", 201,
	    NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "project.id"));
	assert_string_equal(ctltest_str(T, "project.domain_id"), "default");
	assert_true(json_is_true(ctltest_get(T, "project.enabled")));
	assert_int_equal(list_count("/v3/projects", "projects"), before + 1);

	/* a member sees its own project only */
	snprintf(path, sizeof(path), "/v3/projects/%s",
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, K, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "project.name"), "alpha");
	snprintf(msg, sizeof(msg), "Could not find project: %s.",
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, K, CT_OTHER, "GET", path, NULL, 404, msg);
	snprintf(path, sizeof(path), "/v3/projects/%s", id);
	snprintf(msg, sizeof(msg), "Could not find project: %s.", id);
	CT_CALL(T, K, CT_MEMBER, "GET", path, NULL, 404, msg);
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/projects/nope", NULL, 404,
	    "Could not find project: nope.");

	/* update */
	CT_CALL(T, K, CT_MEMBER, "PATCH", path,
	    "{\"project\": {\"name\": \"g2\"}}", 403,
	    "Policy doesn't allow identity:update_project to be performed.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"project\": {\"name\": \"alpha\"}}", 409,
	    "Conflict occurred attempting to store project - Duplicate entry "
	    "found with name alpha.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"project\": {\"domain_id\": \"x\"}}", 400,
	    "Update of `domain_id` is not allowed.");
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "project.name"), "gamma");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"project\": {\"name\": \"gamma2\", \"enabled\": false}}", 200,
	    NULL);
	assert_string_equal(ctltest_str(T, "project.name"), "gamma2");
	assert_true(json_is_false(ctltest_get(T, "project.enabled")));

	/* delete */
	CT_CALL(T, K, CT_MEMBER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow identity:delete_project to be performed.");
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 404, msg);
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 404, msg);
	assert_int_equal(list_count("/v3/projects", "projects"), before);
}

/* ---- users -------------------------------------------------------------------------- */

static void
test_users(void **state)
{
	size_t before = list_count("/v3/users", "users");
	char id[64];

	(void)state;
	CT_CALL(T, K, CT_MEMBER, "POST", "/v3/users",
	    "{\"user\": {\"name\": \"u1\"}}", 403,
	    "Policy doesn't allow identity:create_user to be performed.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users",
	    "{\"user\": {\"name\": \"member\"}}", 409,
	    "Conflict occurred attempting to store user - Duplicate entry found "
	    "with name member.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users", "{\"user\": {}}", 400,
	    "Invalid input for field 'name': 'name' is a required property.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users",
	    "{\"user\": {\"name\": \"u2\", \"password\": 5}}", 400,
	    "Invalid input for field 'password': not a string.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users",
	    "{\"user\": {\"name\": \"u2\", \"enabled\": 1}}", 400,
	    "Invalid input for field 'enabled': not a boolean.");
	assert_int_equal(list_count("/v3/users", "users"), before);

	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users",
	    "{\"user\": {\"name\": \"u1\", \"email\": \"u1@example.org\"}}",
	    201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "user.id"));
	assert_string_equal(ctltest_str(T, "user.email"), "u1@example.org");
	assert_null(ctltest_get(T, "user.password"));
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users",
	    "{\"user\": {\"name\": \"u1\"}}", 409,
	    "Conflict occurred attempting to store user - Duplicate entry found "
	    "with name u1.");
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/users?name=u1", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "users")), 1);
	assert_string_equal(ctltest_str(T, "users.0.id"), id);

	/* a user reads itself, not others */
	snprintf(path, sizeof(path), "/v3/users/%s", T->user_id[CT_MEMBER]);
	CT_CALL(T, K, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "user.name"), "member");
	CT_CALL(T, K, CT_OTHER, "GET", path, NULL, 403,
	    "Policy doesn't allow identity:get_user to be performed.");
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/users/nope", NULL, 404,
	    "Could not find user: nope.");
	snprintf(path, sizeof(path), "/v3/users/%s/projects",
	    T->user_id[CT_MEMBER]);
	CT_CALL(T, K, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "projects")), 1);
	assert_string_equal(ctltest_str(T, "projects.0.name"), "alpha");
	CT_CALL(T, K, CT_OTHER, "GET", path, NULL, 403, "Policy doesn't allow "
	    "identity:list_user_projects to be performed.");

	/* update and delete: admin only */
	snprintf(path, sizeof(path), "/v3/users/%s", id);
	CT_CALL(T, K, CT_MEMBER, "PATCH", path, "{\"user\": {\"name\": \"m2\"}}",
	    403, "Policy doesn't allow identity:update_user to be performed.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"user\": {\"name\": \"member\"}}", 409,
	    "Conflict occurred attempting to store user - Duplicate entry found "
	    "with name member.");
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "user.name"), "u1");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"user\": {\"name\": \"u1b\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "user.name"), "u1b");
	CT_CALL(T, K, CT_READER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow identity:delete_user to be performed.");
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "Could not find user: %s.", id);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 404, msg);
	assert_int_equal(list_count("/v3/users", "users"), before);
}

static void
test_user_password(void **state)
{
	char id[64], tok[256], tok2[256];

	(void)state;
	user_new("pwuser", "member", id);
	assert_int_equal(password_token("pwuser", "pw-pwuser", "alpha", tok),
	    201);
	snprintf(path, sizeof(path), "/v3/users/%s/password", id);
	call_tok(tok, "POST", path, "{\"user\": {\"password\": \"new\", "
	    "\"original_password\": \"wrong\"}}", NULL);
	ctltest_expect(T, 401, "Error when changing user password: the "
	    "original password is wrong.");
	call_tok(tok, "POST", path, "{\"user\": {\"password\": \"new\"}}", NULL);
	ctltest_expect(T, 400, "Invalid input for field 'original_password': "
	    "'original_password' is a required property.");
	/* refused: the old password and token still work */
	assert_int_equal(password_token("pwuser", "pw-pwuser", NULL, tok2), 201);
	call_tok(tok, "GET", "/v3/auth/projects", NULL, NULL);
	ctltest_expect(T, 200, NULL);
	call_tok(tok, "POST", path, "{\"user\": {\"password\": \"newpw\", "
	    "\"original_password\": \"pw-pwuser\"}}", NULL);
	ctltest_expect(T, 204, NULL);
	/* the change ends the user's tokens */
	call_tok(tok, "GET", "/v3/auth/projects", NULL, NULL);
	ctltest_expect(T, 401, "The request you have made requires "
	    "authentication.");
	assert_int_equal(password_token("pwuser", "pw-pwuser", NULL, tok2), 401);
	assert_int_equal(password_token("pwuser", "newpw", "alpha", tok2), 201);
}

/* ---- roles and grants ------------------------------------------------------------------ */

static void
test_roles(void **state)
{
	size_t before = list_count("/v3/roles", "roles");
	char id[64];

	(void)state;
	CT_CALL(T, K, CT_MEMBER, "POST", "/v3/roles",
	    "{\"role\": {\"name\": \"r1\"}}", 403,
	    "Policy doesn't allow identity:create_role to be performed.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/roles",
	    "{\"role\": {\"name\": \"member\"}}", 409,
	    "Conflict occurred attempting to store role - Duplicate entry found "
	    "with name member.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/roles", "{\"role\": {}}", 400,
	    "Invalid input for field 'name': 'name' is a required property.");
	assert_int_equal(list_count("/v3/roles", "roles"), before);
	CT_CALL(T, K, CT_READER, "GET", "/v3/roles", NULL, 403,
	    "Policy doesn't allow identity:list_roles to be performed.");
	CT_CALL(T, K, CT_SYSADMIN, "GET", "/v3/roles", NULL, 200, NULL);

	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/roles",
	    "{\"role\": {\"name\": \"r1\"}}", 201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "role.id"));
	/* names are unique as written: another case is another role */
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/roles",
	    "{\"role\": {\"name\": \"r1\"}}", 409,
	    "Conflict occurred attempting to store role - Duplicate entry found "
	    "with name r1.");
	snprintf(path, sizeof(path), "/v3/roles/%s", id);
	CT_CALL(T, K, CT_MEMBER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow identity:delete_role to be performed.");
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "role.name"), "r1");
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "Could not find role: %s.", id);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 404, msg);
	assert_int_equal(list_count("/v3/roles", "roles"), before);
}

static void
test_grants(void **state)
{
	char uid[64], rid[64], grant[512];
	const char *alpha = T->project_id[CT_MEMBER];

	(void)state;
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/users",
	    "{\"user\": {\"name\": \"grantee\"}}", 201, NULL);
	snprintf(uid, sizeof(uid), "%s", ctltest_str(T, "user.id"));
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/roles",
	    "{\"role\": {\"name\": \"granted\"}}", 201, NULL);
	snprintf(rid, sizeof(rid), "%s", ctltest_str(T, "role.id"));
	snprintf(grant, sizeof(grant), "/v3/projects/%s/users/%s/roles/%s",
	    alpha, uid, rid);

	CT_CALL(T, K, CT_ADMIN, "HEAD", grant, NULL, 404, NULL);
	CT_CALL(T, K, CT_MEMBER, "PUT", grant, NULL, 403,
	    "Policy doesn't allow identity:create_grant to be performed.");
	CT_CALL(T, K, CT_ADMIN, "HEAD", grant, NULL, 404, NULL);
	snprintf(path, sizeof(path), "/v3/projects/%s/users/%s/roles/nope",
	    alpha, uid);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 404,
	    "Could not find role: nope.");
	snprintf(path, sizeof(path), "/v3/projects/nope/users/%s/roles/%s",
	    uid, rid);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 404,
	    "Could not find project: nope.");
	snprintf(path, sizeof(path), "/v3/projects/%s/users/nope/roles/%s",
	    alpha, rid);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 404,
	    "Could not find user: nope.");
	snprintf(path, sizeof(path), "/v3/role_assignments?user.id=%s", uid);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "role_assignments")),
	    0);

	CT_CALL(T, K, CT_ADMIN, "PUT", grant, NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "PUT", grant, NULL, 204, NULL);	/* idempotent */
	CT_CALL(T, K, CT_ADMIN, "HEAD", grant, NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "GET", grant, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v3/projects/%s/users/%s/roles", alpha,
	    uid);
	CT_CALL(T, K, CT_READER, "GET", path, NULL, 403,
	    "Policy doesn't allow identity:list_grants to be performed.");
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "roles")), 1);
	assert_string_equal(ctltest_str(T, "roles.0.name"), "granted");
	snprintf(path, sizeof(path), "/v3/role_assignments?user.id=%s", uid);
	CT_CALL(T, K, CT_READER, "GET", path, NULL, 403, "Policy doesn't allow "
	    "identity:list_role_assignments to be performed.");
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "role_assignments")),
	    1);
	assert_string_equal(ctltest_str(T,
	    "role_assignments.0.scope.project.id"), alpha);
	assert_string_equal(ctltest_str(T, "role_assignments.0.role.id"), rid);

	CT_CALL(T, K, CT_MEMBER, "DELETE", grant, NULL, 403,
	    "Policy doesn't allow identity:revoke_grant to be performed.");
	CT_CALL(T, K, CT_ADMIN, "HEAD", grant, NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "DELETE", grant, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "Could not find role assignment with role: "
	    "%s, user or group: %s, project, domain, or system: %s.", rid, uid,
	    alpha);
	CT_CALL(T, K, CT_ADMIN, "DELETE", grant, NULL, 404, msg);
	CT_CALL(T, K, CT_ADMIN, "HEAD", grant, NULL, 404, NULL);
	/* deleting the role removes its grants */
	CT_CALL(T, K, CT_ADMIN, "PUT", grant, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v3/roles/%s", rid);
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v3/role_assignments?user.id=%s", uid);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "role_assignments")),
	    0);
}

/* ---- domains and groups ------------------------------------------------------------------ */

static void
test_domains_groups(void **state)
{
	size_t before = list_count("/v3/domains", "domains");

	(void)state;
	CT_CALL(T, K, CT_MEMBER, "POST", "/v3/domains",
	    "{\"domain\": {\"name\": \"d1\"}}", 403,
	    "Policy doesn't allow identity:create_domain to be performed.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/domains",
	    "{\"domain\": {\"name\": \"d1\"}}", 201, NULL);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/domains",
	    "{\"domain\": {\"name\": \"d1\"}}", 409,
	    "Conflict occurred attempting to store domain - Duplicate entry "
	    "found with name d1.");
	assert_int_equal(list_count("/v3/domains", "domains"), before + 1);
	CT_CALL(T, K, CT_ADMIN, "DELETE", "/v3/domains/default", NULL, 403,
	    "Cannot delete a domain that is enabled, please disable it first.");
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/domains/default", NULL, 200, NULL);
	assert_true(json_is_true(ctltest_get(T, "domain.enabled")));

	CT_CALL(T, K, CT_MEMBER, "POST", "/v3/groups",
	    "{\"group\": {\"name\": \"g1\"}}", 403,
	    "Policy doesn't allow identity:create_group to be performed.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/groups",
	    "{\"group\": {\"name\": \"g1\"}}", 201, NULL);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/groups",
	    "{\"group\": {\"name\": \"g1\"}}", 409,
	    "Conflict occurred attempting to store group - Duplicate entry "
	    "found with name g1.");
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/groups?name=g1", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "groups")), 1);
}

/* ---- tokens ---------------------------------------------------------------------------------- */

static const struct {
	const char	*body;
	int		 status;
	const char	*msg;
} issue_cases[] = {
	{ "{\"auth\": {\"identity\": {\"methods\": [\"password\"], "
	  "\"password\": {\"user\": {\"name\": \"admin\", \"domain\": {\"id\": "
	  "\"default\"}, \"password\": \"wrong\"}}}}}", 401,
	  "The request you have made requires authentication." },
	{ "{\"auth\": {\"identity\": {\"methods\": [\"password\"], "
	  "\"password\": {\"user\": {\"name\": \"nobody\", \"domain\": {\"id\": "
	  "\"default\"}, \"password\": \"x\"}}}}}", 401,
	  "The request you have made requires authentication." },
	/* no role on the project asked for */
	{ "{\"auth\": {\"identity\": {\"methods\": [\"password\"], "
	  "\"password\": {\"user\": {\"name\": \"tokuser\", \"domain\": "
	  "{\"id\": \"default\"}, \"password\": \"pw-tokuser\"}}}, \"scope\": "
	  "{\"project\": {\"name\": \"beta\", \"domain\": {\"id\": "
	  "\"default\"}}}}}", 401,
	  "User %s has no access to the requested scope." },
	/* no role on the system */
	{ "{\"auth\": {\"identity\": {\"methods\": [\"password\"], "
	  "\"password\": {\"user\": {\"name\": \"tokuser\", \"domain\": "
	  "{\"id\": \"default\"}, \"password\": \"pw-tokuser\"}}}, \"scope\": "
	  "{\"system\": {\"all\": true}}}}", 401,
	  "User %s has no access to the requested scope." },
	{ "{\"auth\": {\"identity\": {\"methods\": [\"totp\"]}}}", 401,
	  "Attempted to authenticate with an unsupported method." },
	{ "{\"auth\": {}}", 400, "Invalid input for field 'identity'." },
	{ "{}", 400, "Expecting to find auth in request body." },
	{ "{\"auth\": {\"identity\": {\"methods\": [\"token\"], \"token\": "
	  "{\"id\": \"garbage\"}}}}", 404, "Could not find token." },
};

static void
test_tokens(void **state)
{
	char uid[64], tok[256], admtok[256];

	(void)state;
	user_new("tokuser", "member", uid);
	for (size_t i = 0; i < sizeof(issue_cases) / sizeof(issue_cases[0]);
	    i++) {
		ctltest_call(T, K, CT_ANON, "POST", "/v3/auth/tokens",
		    issue_cases[i].body, NULL);
		ctltest_subst(msg, sizeof(msg), issue_cases[i].msg, uid);
		ctltest_expect(T, issue_cases[i].status, msg);
		assert_null(ctltest_header(T, "X-Subject-Token"));
	}

	/* issue */
	assert_int_equal(password_token("tokuser", "pw-tokuser", "alpha", tok),
	    201);
	assert_int_equal(strlen(tok), 172);
	assert_string_equal(ctltest_str(T, "token.user.id"), uid);
	assert_string_equal(ctltest_str(T, "token.project.name"), "alpha");
	assert_string_equal(ctltest_str(T, "token.roles.0.name"), "member");
	assert_non_null(ctltest_get(T, "token.catalog"));
	assert_int_equal(password_token("admin", T->admin_password, "admin",
	    admtok), 201);

	/* validate: the subject itself, an admin; not another user */
	call_tok(tok, "GET", "/v3/auth/tokens", NULL, tok);
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_str(T, "token.user.name"), "tokuser");
	call_subject(CT_ADMIN, "GET", tok);
	ctltest_expect(T, 200, NULL);
	call_subject(CT_MEMBER, "GET", admtok);
	ctltest_expect(T, 403, "Policy doesn't allow identity:validate_token "
	    "to be performed.");
	call_subject(CT_MEMBER, "HEAD", admtok);
	ctltest_expect(T, 403, NULL);
	call_subject(CT_ADMIN, "GET", "garbage");
	ctltest_expect(T, 404, "Could not find token.");
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/auth/tokens", NULL, 400,
	    "X-Subject-Token header is required.");
	CT_CALL(T, K, CT_ANON, "GET", "/v3/auth/tokens", NULL, 401,
	    "The request you have made requires authentication.");

	/* revoke: not someone else's */
	call_subject(CT_MEMBER, "DELETE", admtok);
	ctltest_expect(T, 403, "Policy doesn't allow identity:revoke_token to "
	    "be performed.");
	call_subject(CT_ADMIN, "HEAD", admtok);
	ctltest_expect(T, 200, NULL);
	/* an admin revokes a user's token; it stops working at once */
	call_subject(CT_ADMIN, "DELETE", tok);
	ctltest_expect(T, 204, NULL);
	call_subject(CT_ADMIN, "GET", tok);
	ctltest_expect(T, 404, "Could not find token.");
	call_subject(CT_ADMIN, "HEAD", tok);
	ctltest_expect(T, 404, NULL);
	call_subject(CT_ADMIN, "DELETE", tok);
	ctltest_expect(T, 404, "Could not find token.");
	call_tok(tok, "GET", "/v3/auth/projects", NULL, NULL);
	ctltest_expect(T, 401, "The request you have made requires "
	    "authentication.");
	/* a user revokes its own token */
	call_tok(admtok, "DELETE", "/v3/auth/tokens", NULL, admtok);
	ctltest_expect(T, 204, NULL);
	call_subject(CT_ADMIN, "GET", admtok);
	ctltest_expect(T, 404, "Could not find token.");
	/* the other tokens of the same users are untouched */
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/auth/projects", NULL, 200, NULL);
	assert_int_equal(password_token("tokuser", "pw-tokuser", NULL, tok),
	    201);
}

static void
test_auth_scopes(void **state)
{
	(void)state;
	CT_CALL(T, K, CT_MEMBER, "GET", "/v3/auth/projects", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "projects")), 1);
	assert_string_equal(ctltest_str(T, "projects.0.name"), "alpha");
	CT_CALL(T, K, CT_OTHER, "GET", "/v3/auth/projects", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "projects.0.name"), "beta");
	CT_CALL(T, K, CT_MEMBER, "GET", "/v3/auth/catalog", NULL, 200, NULL);
	assert_true(json_array_size(ctltest_get(T, "catalog")) > 0);
	CT_CALL(T, K, CT_ANON, "GET", "/v3/auth/catalog", NULL, 401,
	    "The request you have made requires authentication.");
}

/* ---- api.c: the authenticate hook on every service ------------------------------------ */

static void
test_auth_hook(void **state)
{
	static const struct {
		enum ctltest_svc svc;
		const char	*path;
	} where[] = {
		{ CT_IDENTITY, "/v3/auth/projects" },
		{ CT_IMAGE, "/v2/images" },
		{ CT_COMPUTE, "/v2.1/servers" },
	};
	char pid[64], rid[64], tok[256], h[300];

	(void)state;
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		ctltest_call(T, where[i].svc, CT_ANON, "GET", where[i].path,
		    NULL, "X-Auth-Token: garbage\r\n");
		ctltest_expect(T, 401, "The request you have made requires "
		    "authentication.");
		ctltest_call(T, where[i].svc, CT_ANON, "GET", where[i].path,
		    NULL, NULL);
		ctltest_expect(T, 401, "The request you have made requires "
		    "authentication.");
		assert_non_null(ctltest_header(T, "WWW-Authenticate"));
		ctltest_call(T, where[i].svc, CT_MEMBER, "GET", where[i].path,
		    NULL, NULL);
		ctltest_expect(T, 200, NULL);
	}
	/* Version documents need no token. */
	CT_CALL(T, CT_IDENTITY, CT_ANON, "GET", "/v3", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "version.id"), "v3.14");
	CT_CALL(T, CT_IMAGE, CT_ANON, "GET", "/versions", NULL, 200, NULL);
	CT_CALL(T, CT_COMPUTE, CT_ANON, "GET", "/v2.1", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "version.version"), "2.33");

	/* A token stops working when its project is disabled, and stays
	 * revoked after the project is enabled again (Keystone). */
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/projects",
	    "{\"project\": {\"name\": \"delta\"}}", 201, NULL);
	snprintf(pid, sizeof(pid), "%s", ctltest_str(T, "project.id"));
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/roles?name=member", NULL, 200,
	    NULL);
	snprintf(rid, sizeof(rid), "%s", ctltest_str(T, "roles.0.id"));
	snprintf(path, sizeof(path), "/v3/projects/%s/users/%s/roles/%s", pid,
	    T->user_id[CT_MEMBER], rid);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 204, NULL);
	assert_int_equal(password_token("member", "secret", "delta", tok), 201);
	snprintf(h, sizeof(h), "X-Auth-Token: %s\r\n", tok);
	ctltest_call(T, CT_COMPUTE, CT_ANON, "GET", "/v2.1/servers", NULL, h);
	ctltest_expect(T, 200, NULL);
	snprintf(path, sizeof(path), "/v3/projects/%s", pid);
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"project\": {\"enabled\": false}}", 200, NULL);
	ctltest_call(T, CT_COMPUTE, CT_ANON, "GET", "/v2.1/servers", NULL, h);
	ctltest_expect(T, 401, "The request you have made requires "
	    "authentication.");
	assert_int_equal(password_token("member", "secret", "delta", tok), 401);
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"project\": {\"enabled\": true}}", 200, NULL);
	ctltest_call(T, CT_COMPUTE, CT_ANON, "GET", "/v2.1/servers", NULL, h);
	ctltest_expect(T, 401, NULL);
	assert_int_equal(password_token("member", "secret", "delta", tok), 201);
	/* the member's other tokens were not touched */
	CT_CALL(T, CT_COMPUTE, CT_MEMBER, "GET", "/v2.1/servers", NULL, 200,
	    NULL);
}

/* ---- catalog: regions, services, endpoints --------------------------------------------- */

static void
test_catalog(void **state)
{
	char sid[64], b[512];

	(void)state;
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/regions",
	    "{\"region\": {\"id\": \"R2\"}}", 201, NULL);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/regions",
	    "{\"region\": {\"id\": \"R2\"}}", 409, "Conflict occurred "
	    "attempting to store region - Duplicate ID, R2.");
	CT_CALL(T, K, CT_MEMBER, "POST", "/v3/regions",
	    "{\"region\": {\"id\": \"R3\"}}", 403,
	    "Policy doesn't allow identity:create_region to be performed.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/regions",
	    "{\"region\": {\"parent_region_id\": \"nope\"}}", 400,
	    "Parent region nope not found.");
	CT_CALL(T, K, CT_MEMBER, "GET", "/v3/regions", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "regions")), 2);

	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/services", "{\"service\": {}}", 400,
	    "Invalid input for field 'type': 'type' is a required property.");
	CT_CALL(T, K, CT_MEMBER, "POST", "/v3/services",
	    "{\"service\": {\"type\": \"dns\"}}", 403,
	    "Policy doesn't allow identity:create_service to be performed.");
	CT_CALL(T, K, CT_READER, "GET", "/v3/services", NULL, 403,
	    "Policy doesn't allow identity:list_services to be performed.");
	CT_CALL(T, K, CT_SYSADMIN, "GET", "/v3/services?type=compute", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "services")), 1);
	assert_string_equal(ctltest_str(T, "services.0.type"), "compute");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/services",
	    "{\"service\": {\"type\": \"dns\", \"name\": \"designate\"}}", 201,
	    NULL);
	snprintf(sid, sizeof(sid), "%s", ctltest_str(T, "service.id"));

	snprintf(b, sizeof(b), "{\"endpoint\": {\"service_id\": \"%s\", "
	    "\"interface\": \"sideways\", \"url\": \"http://x:1\"}}", sid);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/endpoints", b, 400,
	    "Invalid input for field 'interface': 'sideways' is not one of "
	    "public, internal, admin.");
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/endpoints", "{\"endpoint\": "
	    "{\"service_id\": \"nope\", \"interface\": \"public\", \"url\": "
	    "\"http://x:1\"}}", 404, "Could not find service: nope.");
	snprintf(b, sizeof(b), "{\"endpoint\": {\"service_id\": \"%s\", "
	    "\"interface\": \"public\"}}", sid);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/endpoints", b, 400,
	    "Invalid input for field 'url': 'url' is a required property.");
	snprintf(path, sizeof(path), "/v3/endpoints?service_id=%s", sid);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "endpoints")), 0);
	snprintf(b, sizeof(b), "{\"endpoint\": {\"service_id\": \"%s\", "
	    "\"interface\": \"public\", \"url\": \"http://dns:53\", "
	    "\"region_id\": \"R2\"}}", sid);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/endpoints", b, 201, NULL);
	assert_string_equal(ctltest_str(T, "endpoint.region_id"), "R2");
	/* in the next token's catalog */
	CT_CALL(T, K, CT_MEMBER, "GET", "/v3/auth/catalog", NULL, 200, NULL);
	assert_non_null(strstr(T->r.raw, "http://dns:53"));
	snprintf(path, sizeof(path), "/v3/services/%s", sid);
	CT_CALL(T, K, CT_MEMBER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow identity:delete_service to be performed.");
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, K, CT_MEMBER, "GET", "/v3/auth/catalog", NULL, 200, NULL);
	assert_null(strstr(T->r.raw, "http://dns:53"));
}

/* ---- group membership, v2.0 ------------------------------------------------------------- */

static void
test_group_members(void **state)
{
	char gid[64];

	(void)state;
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/groups",
	    "{\"group\": {\"name\": \"gm\"}}", 201, NULL);
	snprintf(gid, sizeof(gid), "%s", ctltest_str(T, "group.id"));
	snprintf(path, sizeof(path), "/v3/groups/%s/users/%s", gid,
	    T->user_id[CT_READER]);
	CT_CALL(T, K, CT_ADMIN, "HEAD", path, NULL, 404, NULL);
	CT_CALL(T, K, CT_MEMBER, "PUT", path, NULL, 403, "Policy doesn't allow "
	    "identity:add_user_to_group to be performed.");
	CT_CALL(T, K, CT_ADMIN, "HEAD", path, NULL, 404, NULL);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "HEAD", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v3/groups/%s/users/nope", gid);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 404,
	    "Could not find user: nope.");
	snprintf(path, sizeof(path), "/v3/groups/%s/users", gid);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "users")), 1);
	assert_string_equal(ctltest_str(T, "users.0.name"), "reader");
	snprintf(path, sizeof(path), "/v3/groups/%s/users/%s", gid,
	    T->user_id[CT_READER]);
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "HEAD", path, NULL, 404, NULL);
}

static void
test_v2(void **state)
{
	char b[256];

	(void)state;
	snprintf(b, sizeof(b), "{\"auth\": {\"passwordCredentials\": "
	    "{\"username\": \"admin\", \"password\": \"%s\"}, \"tenantName\": "
	    "\"admin\"}}", T->admin_password);
	CT_CALL(T, K, CT_ANON, "POST", "/v2.0/tokens", b, 200, NULL);
	assert_int_equal(strlen(ctltest_str(T, "access.token.id")), 172);
	CT_CALL(T, K, CT_ANON, "POST", "/v2.0/tokens", "{\"auth\": "
	    "{\"passwordCredentials\": {\"username\": \"admin\", \"password\": "
	    "\"bad\"}}}", 401,
	    "The request you have made requires authentication.");
	CT_CALL(T, K, CT_ANON, "POST", "/v2.0/tokens", "{}", 400,
	    "Expecting to find passwordCredentials or token in auth.");
	CT_CALL(T, K, CT_OTHER, "GET", "/v2.0/tenants", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "tenants")), 1);
	assert_string_equal(ctltest_str(T, "tenants.0.name"), "beta");
}

/* ---- the rest of the CRUD: domains, roles, implied roles, groups, regions,
 * services and endpoints ------------------------------------------------------------ */

static void
test_crud_rest(void **state)
{
	char id[64], r1[64], r2[64], b[256];

	(void)state;
	CT_CALL(T, K, CT_ANON, "GET", "/", NULL, 300, NULL);
	assert_string_equal(ctltest_str(T, "versions.values.0.id"), "v3.14");
	CT_CALL(T, K, CT_ANON, "GET", "/v2.0", NULL, 200, NULL);
	assert_non_null(ctltest_str(T, "version.id"));

	/* a domain is deleted once disabled */
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/domains",
	    "{\"domain\": {\"name\": \"dx\"}}", 201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "domain.id"));
	snprintf(path, sizeof(path), "/v3/domains/%s", id);
	CT_CALL(T, K, CT_MEMBER, "PATCH", path,
	    "{\"domain\": {\"enabled\": false}}", 403,
	    "Policy doesn't allow identity:update_domain to be performed.");
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 403, "Cannot delete a "
	    "domain that is enabled, please disable it first.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"domain\": {\"enabled\": false}}", 200, NULL);
	assert_true(json_is_false(ctltest_get(T, "domain.enabled")));
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "Could not find domain: %s.", id);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 404, msg);
	CT_CALL(T, K, CT_MEMBER, "GET", "/v3/auth/domains", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "domains")), 0);

	/* roles: update, implied roles */
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/roles",
	    "{\"role\": {\"name\": \"ra\"}}", 201, NULL);
	snprintf(r1, sizeof(r1), "%s", ctltest_str(T, "role.id"));
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/roles",
	    "{\"role\": {\"name\": \"rb\"}}", 201, NULL);
	snprintf(r2, sizeof(r2), "%s", ctltest_str(T, "role.id"));
	snprintf(path, sizeof(path), "/v3/roles/%s", r1);
	CT_CALL(T, K, CT_ADMIN, "PATCH", path, "{\"role\": {\"name\": \"rb\"}}",
	    409, "Conflict occurred attempting to store role - Duplicate entry "
	    "found with name rb.");
	CT_CALL(T, K, CT_MEMBER, "PATCH", path,
	    "{\"role\": {\"description\": \"y\"}}", 403,
	    "Policy doesn't allow identity:update_role to be performed.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"role\": {\"description\": \"x\"}}", 200, NULL);
	CT_CALL(T, K, CT_SYSADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "role.name"), "ra");
	assert_string_equal(ctltest_str(T, "role.description"), "x");
	snprintf(path, sizeof(path), "/v3/roles/%s/implies/%s", r1, r2);
	CT_CALL(T, K, CT_ADMIN, "HEAD", path, NULL, 404, NULL);
	CT_CALL(T, K, CT_MEMBER, "PUT", path, NULL, 403, "Policy doesn't allow "
	    "identity:create_implied_role to be performed.");
	CT_CALL(T, K, CT_ADMIN, "HEAD", path, NULL, 404, NULL);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 201, NULL);
	assert_string_equal(ctltest_str(T, "role_inference.implies.name"), "rb");
	CT_CALL(T, K, CT_ADMIN, "HEAD", path, NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v3/roles/%s/implies/nope", r1);
	CT_CALL(T, K, CT_ADMIN, "PUT", path, NULL, 404,
	    "Could not find role: nope.");
	snprintf(path, sizeof(path), "/v3/roles/%s/implies", r1);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T,
	    "role_inference.implies")), 1);
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/role_inferences", NULL, 200, NULL);
	assert_non_null(strstr(T->r.raw, r2));
	snprintf(path, sizeof(path), "/v3/roles/%s/implies/%s", r1, r2);
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "%s does not imply %s.", r1, r2);
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 404, msg);

	/* groups */
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/groups",
	    "{\"group\": {\"name\": \"gg\"}}", 201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "group.id"));
	snprintf(path, sizeof(path), "/v3/groups/%s", id);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	CT_CALL(T, K, CT_ADMIN, "PATCH", path, "{\"group\": {\"name\": \"gg2\"}}",
	    200, NULL);
	assert_string_equal(ctltest_str(T, "group.name"), "gg2");
	CT_CALL(T, K, CT_MEMBER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow identity:delete_group to be performed.");
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "Could not find group: %s.", id);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 404, msg);
	snprintf(path, sizeof(path), "/v3/users/%s/groups",
	    T->user_id[CT_READER]);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	CT_CALL(T, K, CT_OTHER, "GET", path, NULL, 403, "Policy doesn't allow "
	    "identity:list_groups_for_user to be performed.");

	/* regions by id */
	CT_CALL(T, K, CT_ADMIN, "PUT", "/v3/regions/R9",
	    "{\"region\": {\"description\": \"nine\"}}", 201, NULL);
	CT_CALL(T, K, CT_ADMIN, "PUT", "/v3/regions/R9",
	    "{\"region\": {\"description\": \"nine\"}}", 409, "Conflict "
	    "occurred attempting to store region - Duplicate ID, R9.");
	CT_CALL(T, K, CT_MEMBER, "GET", "/v3/regions/R9", NULL, 200, NULL);
	CT_CALL(T, K, CT_ADMIN, "PATCH", "/v3/regions/R9",
	    "{\"region\": {\"parent_region_id\": \"R9\"}}", 400,
	    "A region cannot be its own parent.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", "/v3/regions/R9",
	    "{\"region\": {\"description\": \"9\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "region.description"), "9");
	CT_CALL(T, K, CT_MEMBER, "DELETE", "/v3/regions/R9", NULL, 403,
	    "Policy doesn't allow identity:delete_region to be performed.");
	CT_CALL(T, K, CT_ADMIN, "DELETE", "/v3/regions/R9", NULL, 204, NULL);
	CT_CALL(T, K, CT_ADMIN, "GET", "/v3/regions/R9", NULL, 404,
	    "Could not find region: R9.");

	/* a service and its endpoint */
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/services",
	    "{\"service\": {\"type\": \"dns\"}}", 201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "service.id"));
	snprintf(path, sizeof(path), "/v3/services/%s", id);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"service\": {\"enabled\": \"no\"}}", 400,
	    "Invalid input for field 'enabled': not a boolean.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"service\": {\"name\": \"desig\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "service.name"), "desig");
	snprintf(b, sizeof(b), "{\"endpoint\": {\"service_id\": \"%s\", "
	    "\"interface\": \"public\", \"url\": \"http://x:1\"}}", id);
	CT_CALL(T, K, CT_ADMIN, "POST", "/v3/endpoints", b, 201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "endpoint.id"));
	snprintf(path, sizeof(path), "/v3/endpoints/%s", id);
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"endpoint\": {\"interface\": \"bogus\"}}", 400,
	    "Invalid input for field 'interface': 'bogus' is not one of "
	    "public, internal, admin.");
	CT_CALL(T, K, CT_ADMIN, "PATCH", path,
	    "{\"endpoint\": {\"url\": \"http://y:2\"}}", 200, NULL);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "endpoint.url"), "http://y:2");
	CT_CALL(T, K, CT_MEMBER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow identity:delete_endpoint to be performed.");
	CT_CALL(T, K, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "Could not find endpoint: %s.", id);
	CT_CALL(T, K, CT_ADMIN, "GET", path, NULL, 404, msg);
}

/* ---- fixture ---------------------------------------------------------------------------------- */

static int
group_setup(void **state)
{
	(void)state;
	return (T = ctltest_new()) != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	ctltest_free(&T);
	printf("handlers_identity_test: %u checks\n", ctltest_checks);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_projects),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_user_password),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_domains_groups),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_auth_scopes),
		cmocka_unit_test(test_auth_hook),
		cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_group_members),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_crud_rest),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
