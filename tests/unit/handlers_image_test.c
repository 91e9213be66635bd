/*
 * handlers_image_test: the Image API's handlers (controller/image/) over
 * HTTP against the in-process controller of ctltest.h: create validation,
 * JSON-patch updates, visibility, tags, members, upload and download state
 * rules, deactivate/reactivate, listing queries, delete and protection.
 *
 * Glance answers errors with an HTML page: ctltest_expect() checks that
 * the page's text contains the message. Every refused change is followed
 * by a read showing that nothing changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/capability.h"
#include "ctltest.h"
#include "identity/identity.h"

#define I	CT_IMAGE

#define PATCH21	"Content-Type: application/openstack-images-v2.1-json-patch\r\n"
#define OCTET	"Content-Type: application/octet-stream\r\n"

static struct ctltest	*T;
static char		 path[512], msg[512];

/* ---- helpers ---------------------------------------------------------------- */

/* A queued image of who's project, into id. */
static void
image_new(enum ctltest_who who, const char *name, char id[64])
{
	char b[256];

	snprintf(b, sizeof(b), "{\"name\": \"%s\", \"disk_format\": \"raw\", "
	    "\"container_format\": \"bare\"}", name);
	CT_CALL(T, I, who, "POST", "/v2/images", b, 201, NULL);
	assert_string_equal(ctltest_str(T, "status"), "queued");
	snprintf(id, 64, "%s", ctltest_str(T, "id"));
}

static void
image_get(enum ctltest_who who, const char *id)
{
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	CT_CALL(T, I, who, "GET", path, NULL, 200, NULL);
}

static void
patch(enum ctltest_who who, const char *id, const char *ops, int status,
    const char *m)
{
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	ctltest_call(T, I, who, "PATCH", path, ops, PATCH21);
	ctltest_expect(T, status, m);
}

static void
upload(enum ctltest_who who, const char *id, const char *data, int status,
    const char *m)
{
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	ctltest_call(T, I, who, "PUT", path, data, OCTET);
	ctltest_expect(T, status, m);
}

static size_t
image_count(enum ctltest_who who)
{
	CT_CALL(T, I, who, "GET", "/v2/images?limit=1000", NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "images"));
}

/* ---- create ----------------------------------------------------------------- */

static const struct {
	enum ctltest_who who;
	const char	*body;
	int		 status;
	const char	*msg;
} create_cases[] = {
	{ CT_READER, "{\"name\": \"r1\"}", 403,
	  "Policy doesn't allow image:add_image to be performed." },
	{ CT_MEMBER, "{\"name\": \"p\", \"visibility\": \"public\"}", 403,
	  "Policy doesn't allow image:publicize_image to be performed." },
	{ CT_MEMBER, "{\"name\": \"p\", \"visibility\": \"bogus\"}", 400,
	  "Provided object does not match schema 'image': value is not one of "
	  "public, private, shared, community: 'visibility'" },
	{ CT_MEMBER, "{\"name\": \"p\", \"disk_format\": \"exe\"}", 400,
	  "Provided object does not match schema 'image': value is not one of "
	  "the supported formats: 'disk_format'" },
	{ CT_MEMBER, "{\"name\": \"p\", \"container_format\": \"zip\"}", 400,
	  "Provided object does not match schema 'image': value is not one of "
	  "the supported formats: 'container_format'" },
	{ CT_MEMBER, "{\"name\": \"p\", \"status\": \"active\"}", 403,
	  "Attribute 'status' is read-only." },
	{ CT_MEMBER, "{\"name\": \"p\", \"size\": 5}", 403,
	  "Attribute 'size' is read-only." },
	{ CT_MEMBER, "{\"name\": 5}", 400,
	  "Provided object does not match schema 'image': value is not a "
	  "string: 'name'" },
	{ CT_MEMBER, "{\"name\": \"p\", \"min_ram\": -1}", 400,
	  "Cannot set min_ram to a negative value." },
	{ CT_MEMBER, "{\"name\": \"p\", \"protected\": \"yes\"}", 400,
	  "Provided object does not match schema 'image': value is not a "
	  "boolean: 'protected'" },
	{ CT_MEMBER, "{\"name\": \"p\", \"id\": \"notauuid\"}", 400,
	  "Provided object does not match schema 'image': value does not match "
	  "the UUID pattern: 'id'" },
	{ CT_MEMBER, "{\"name\": \"p\", \"tags\": \"x\"}", 400,
	  "Provided object does not match schema 'image': value is not an "
	  "array: 'tags'" },
	/* the owner comes from the token: another is refused */
	{ CT_MEMBER, "{\"name\": \"p\", \"owner\": \"someone\"}", 403,
	  "Policy doesn't allow image:add_image to be performed." },
	{ CT_MEMBER, "[]", 400, "Body expected in request." },
	{ CT_MEMBER, "xx", 400, "Malformed JSON in request body: '[' or '{' "
	  "expected near 'xx' (line 1, column 2, position 2)." },
	{ CT_ANON, "{\"name\": \"p\"}", 401,
	  "The request you have made requires authentication." },
};

static void
test_create(void **state)
{
	size_t before = image_count(CT_ADMIN);
	char id[64];

	(void)state;
	for (size_t i = 0; i < sizeof(create_cases) / sizeof(create_cases[0]);
	    i++) {
		if (ctltest_call(T, I, create_cases[i].who, "POST",
		    "/v2/images", create_cases[i].body, NULL) !=
		    create_cases[i].status)
			print_error("case %zu: %s\n", i, create_cases[i].body);
		ctltest_expect(T, create_cases[i].status, create_cases[i].msg);
	}
	assert_int_equal(image_count(CT_ADMIN), before);

	/* defaults: shared, queued, owned by the caller's project */
	CT_CALL(T, I, CT_MEMBER, "POST", "/v2/images", "{\"name\": \"c1\", "
	    "\"tags\": [\"a\", \"b\"], \"color\": \"blue\", \"min_ram\": 64}",
	    201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "id"));
	assert_string_equal(ctltest_str(T, "visibility"), "shared");
	assert_string_equal(ctltest_str(T, "status"), "queued");
	assert_string_equal(ctltest_str(T, "owner"), T->project_id[CT_MEMBER]);
	assert_string_equal(ctltest_str(T, "color"), "blue");
	assert_int_equal(json_array_size(ctltest_get(T, "tags")), 2);
	assert_true(json_is_null(ctltest_get(T, "size")));
	assert_int_equal(image_count(CT_ADMIN), before + 1);
	/* a given id is kept, and taken only once */
	CT_CALL(T, I, CT_MEMBER, "POST", "/v2/images", "{\"name\": \"c2\", "
	    "\"id\": \"0f0f0f0f-0000-4000-8000-00000000c2c2\"}", 201, NULL);
	assert_string_equal(ctltest_str(T, "id"),
	    "0f0f0f0f-0000-4000-8000-00000000c2c2");
	ctltest_call(T, I, CT_MEMBER, "POST", "/v2/images", "{\"name\": \"c3\", "
	    "\"id\": \"0f0f0f0f-0000-4000-8000-00000000c2c2\"}", NULL);
	ctltest_expect(T, 409, NULL);
	image_get(CT_MEMBER, "0f0f0f0f-0000-4000-8000-00000000c2c2");
	assert_string_equal(ctltest_str(T, "name"), "c2");
	/* an admin may publish */
	CT_CALL(T, I, CT_ADMIN, "POST", "/v2/images", "{\"name\": \"pub\", "
	    "\"visibility\": \"public\"}", 201, NULL);
	assert_string_equal(ctltest_str(T, "visibility"), "public");
}

/* ---- visibility and update ---------------------------------------------------- */

static void
test_visibility(void **state)
{
	char id[64];

	(void)state;
	image_new(CT_MEMBER, "vis", id);
	/* the project's reader sees it; another project does not */
	image_get(CT_READER, id);
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	snprintf(msg, sizeof(msg), "No image found with ID %s", id);
	CT_CALL(T, I, CT_OTHER, "GET", path, NULL, 404, msg);
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images/nope", NULL, 404,
	    "No image found with ID nope");
	CT_CALL(T, I, CT_ADMIN, "GET", path, NULL, 200, NULL);
	/* listed for the project, not for another */
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=vis", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);
	CT_CALL(T, I, CT_READER, "GET", "/v2/images?name=vis", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	/* community: visible to everyone */
	patch(CT_MEMBER, id, "[{\"op\": \"replace\", \"path\": \"/visibility\", "
	    "\"value\": \"community\"}]", 200, NULL);
	image_get(CT_OTHER, id);
	assert_string_equal(ctltest_str(T, "visibility"), "community");
	patch(CT_OTHER, id, "[{\"op\": \"replace\", \"path\": \"/name\", "
	    "\"value\": \"mine\"}]", 403,
	    "Policy doesn't allow image:modify_image to be performed.");
	patch(CT_MEMBER, id, "[{\"op\": \"replace\", \"path\": \"/visibility\", "
	    "\"value\": \"private\"}]", 200, NULL);
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	CT_CALL(T, I, CT_OTHER, "GET", path, NULL, 404, msg);
	image_get(CT_MEMBER, id);
	assert_string_equal(ctltest_str(T, "name"), "vis");
}

static const struct {
	enum ctltest_who who;
	const char	*ops;
	const char	*hdrs;
	int		 status;
	const char	*msg;
} patch_cases[] = {
	{ CT_READER, "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": "
	  "\"x\"}]", PATCH21, 403,
	  "Policy doesn't allow image:modify_image to be performed." },
	{ CT_OTHER, "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": "
	  "\"x\"}]", PATCH21, 404, "No image found with ID %s" },
	{ CT_MEMBER, "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": "
	  "\"x\"}]", "Content-Type: application/json\r\n", 415,
	  "Image PATCH expects Content-Type one of: "
	  "application/openstack-images-v2.0-json-patch, "
	  "application/openstack-images-v2.1-json-patch" },
	{ CT_MEMBER, "[{\"op\": \"replace\", \"path\": \"/status\", "
	  "\"value\": \"active\"}]", PATCH21, 403,
	  "Attribute 'status' is read-only." },
	{ CT_MEMBER, "[{\"op\": \"remove\", \"path\": \"/nokey\"}]", PATCH21,
	  409, "Property nokey does not exist." },
	{ CT_MEMBER, "[{\"op\": \"move\", \"path\": \"/color\"}]", PATCH21, 400,
	  "Invalid operation: `move`. It must be one of the following: add, "
	  "remove, replace." },
	{ CT_MEMBER, "[{\"op\": \"replace\", \"path\": \"/visibility\", "
	  "\"value\": \"public\"}]", PATCH21, 403,
	  "Policy doesn't allow image:publicize_image to be performed." },
	{ CT_MEMBER, "[{\"op\": \"replace\", \"path\": \"/owner\", "
	  "\"value\": \"x\"}]", PATCH21, 403,
	  "Owner can't be updated by non admin." },
	{ CT_MEMBER, "[{\"op\": \"replace\", \"path\": \"/min_ram\", "
	  "\"value\": -3}]", PATCH21, 400,
	  "Cannot set min_ram to a negative value." },
	{ CT_MEMBER, "{}", PATCH21, 400,
	  "Request body must be a JSON array of operation objects." },
	/* all or nothing: the valid first operation is not applied */
	{ CT_MEMBER, "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": "
	  "\"half\"}, {\"op\": \"replace\", \"path\": \"/status\", "
	  "\"value\": \"active\"}]", PATCH21, 403,
	  "Attribute 'status' is read-only." },
};

static void
test_patch(void **state)
{
	char id[64], m[256];

	(void)state;
	image_new(CT_MEMBER, "patchme", id);
	for (size_t i = 0; i < sizeof(patch_cases) / sizeof(patch_cases[0]);
	    i++) {
		snprintf(path, sizeof(path), "/v2/images/%s", id);
		ctltest_call(T, I, patch_cases[i].who, "PATCH", path,
		    patch_cases[i].ops, patch_cases[i].hdrs);
		ctltest_subst(m, sizeof(m), patch_cases[i].msg, id);
		ctltest_expect(T, patch_cases[i].status, m);
		image_get(CT_MEMBER, id);
		assert_string_equal(ctltest_str(T, "name"), "patchme");
		assert_string_equal(ctltest_str(T, "status"), "queued");
		assert_string_equal(ctltest_str(T, "visibility"), "shared");
		assert_null(ctltest_get(T, "color"));
	}
	/* add, replace and remove an extra property; rename */
	patch(CT_MEMBER, id, "[{\"op\": \"add\", \"path\": \"/color\", "
	    "\"value\": \"blue\"}, {\"op\": \"replace\", \"path\": \"/name\", "
	    "\"value\": \"patched\"}]", 200, NULL);
	assert_string_equal(ctltest_str(T, "color"), "blue");
	assert_string_equal(ctltest_str(T, "name"), "patched");
	patch(CT_MEMBER, id, "[{\"op\": \"replace\", \"path\": \"/color\", "
	    "\"value\": \"red\"}]", 200, NULL);
	assert_string_equal(ctltest_str(T, "color"), "red");
	patch(CT_MEMBER, id, "[{\"op\": \"remove\", \"path\": \"/color\"}]", 200,
	    NULL);
	assert_null(ctltest_get(T, "color"));
	/* v2.0 patch: add on an existing attribute is a conflict */
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	ctltest_call(T, I, CT_MEMBER, "PATCH", path,
	    "[{\"add\": \"/flavor\", \"value\": \"x\"}]", "Content-Type: "
	    "application/openstack-images-v2.0-json-patch\r\n");
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_str(T, "flavor"), "x");
	/* an admin may change the owner */
	snprintf(m, sizeof(m), "[{\"op\": \"replace\", \"path\": \"/owner\", "
	    "\"value\": \"%s\"}]", T->project_id[CT_OTHER]);
	patch(CT_ADMIN, id, m, 200, NULL);
	image_get(CT_OTHER, id);
	assert_string_equal(ctltest_str(T, "owner"), T->project_id[CT_OTHER]);
}

/* ---- tags ------------------------------------------------------------------------ */

static void
test_tags(void **state)
{
	char id[64];

	(void)state;
	image_new(CT_MEMBER, "tagged", id);
	snprintf(path, sizeof(path), "/v2/images/%s/tags/web", id);
	CT_CALL(T, I, CT_READER, "PUT", path, NULL, 403,
	    "Policy doesn't allow image:modify_image to be performed.");
	snprintf(msg, sizeof(msg), "No image found with ID %s", id);
	CT_CALL(T, I, CT_OTHER, "PUT", path, NULL, 404, msg);
	image_get(CT_MEMBER, id);
	assert_int_equal(json_array_size(ctltest_get(T, "tags")), 0);
	snprintf(path, sizeof(path), "/v2/images/%s/tags/web", id);
	CT_CALL(T, I, CT_MEMBER, "PUT", path, NULL, 204, NULL);
	CT_CALL(T, I, CT_MEMBER, "PUT", path, NULL, 204, NULL);	/* idempotent */
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?tag=web", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	assert_string_equal(ctltest_str(T, "images.0.id"), id);
	snprintf(path, sizeof(path), "/v2/images/%s/tags/nope", id);
	CT_CALL(T, I, CT_MEMBER, "DELETE", path, NULL, 404, "Tag nope not found");
	snprintf(path, sizeof(path), "/v2/images/%s/tags/web", id);
	CT_CALL(T, I, CT_READER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow image:modify_image to be performed.");
	CT_CALL(T, I, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	image_get(CT_MEMBER, id);
	assert_int_equal(json_array_size(ctltest_get(T, "tags")), 0);
}

/* A tag over 255 characters (the request layer matches no path capture
 * over 255 bytes: 404, as for any unknown path) and a 129th tag (413, as
 * Glance's image_tag_quota): refused, the image's tags unchanged. */
static void
test_tag_limits(void **state)
{
	char id[64], big[300];
	int i;

	(void)state;
	image_new(CT_MEMBER, "tag-limits", id);
	memset(big, 't', 256);
	big[256] = '\0';
	snprintf(path, sizeof(path), "/v2/images/%s/tags/%s", id, big);
	CT_CALL(T, I, CT_MEMBER, "PUT", path, NULL, 404, NULL);
	image_get(CT_MEMBER, id);
	assert_int_equal(json_array_size(ctltest_get(T, "tags")), 0);
	for (i = 0; i < 128; i++) {
		snprintf(path, sizeof(path), "/v2/images/%s/tags/t%03d", id, i);
		CT_CALL(T, I, CT_MEMBER, "PUT", path, NULL, 204, NULL);
	}
	snprintf(path, sizeof(path), "/v2/images/%s/tags/one-more", id);
	CT_CALL(T, I, CT_MEMBER, "PUT", path, NULL, 413, "Attempted to add "
	    "more than 128 tags: maximum number of tags reached.");
	image_get(CT_MEMBER, id);
	assert_int_equal(json_array_size(ctltest_get(T, "tags")), 128);
}

/* ---- members ---------------------------------------------------------------------- */

static void
test_members(void **state)
{
	char id[64], b[256], mpath[512];
	const char *beta = T->project_id[CT_OTHER];

	(void)state;
	image_new(CT_MEMBER, "shared1", id);
	snprintf(path, sizeof(path), "/v2/images/%s/members", id);
	CT_CALL(T, I, CT_MEMBER, "POST", path, "{}", 400,
	    "Member to be added not specified");
	CT_CALL(T, I, CT_READER, "POST", path, "{\"member\": \"abd\"}", 403,
	    "Policy doesn't allow image:add_member to be performed.");
	snprintf(msg, sizeof(msg), "No image found with ID %s", id);
	CT_CALL(T, I, CT_OTHER, "POST", path, "{\"member\": \"abd\"}", 404, msg);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "members")), 0);

	/* share with beta: pending, beta sees the image but does not list it */
	snprintf(b, sizeof(b), "{\"member\": \"%s\"}", beta);
	CT_CALL(T, I, CT_MEMBER, "POST", path, b, 200, NULL);
	assert_string_equal(ctltest_str(T, "status"), "pending");
	CT_CALL(T, I, CT_MEMBER, "POST", path, b, 409, NULL);
	snprintf(msg, sizeof(msg), "The target member %s is already associated "
	    "with image %s.", beta, id);
	ctltest_expect(T, 409, msg);
	CT_CALL(T, I, CT_READER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "members")), 1);
	image_get(CT_OTHER, id);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=shared1", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);

	/* only the member project sets its status */
	snprintf(mpath, sizeof(mpath), "/v2/images/%s/members/%s", id, beta);
	CT_CALL(T, I, CT_OTHER, "GET", mpath, NULL, 200, NULL);
	CT_CALL(T, I, CT_OTHER, "PUT", mpath, "{\"status\": \"bogus\"}", 400,
	    "Status must be one of pending, accepted, rejected");
	CT_CALL(T, I, CT_MEMBER, "PUT", mpath, "{\"status\": \"accepted\"}",
	    403, "Policy doesn't allow image:modify_member to be performed.");
	CT_CALL(T, I, CT_OTHER, "GET", mpath, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "status"), "pending");
	CT_CALL(T, I, CT_OTHER, "PUT", mpath, "{\"status\": \"accepted\"}",
	    200, NULL);
	assert_string_equal(ctltest_str(T, "status"), "accepted");
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=shared1", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);

	/* only the owner removes a member */
	CT_CALL(T, I, CT_OTHER, "DELETE", mpath, NULL, 403,
	    "Policy doesn't allow image:delete_member to be performed.");
	CT_CALL(T, I, CT_OTHER, "GET", mpath, NULL, 200, NULL);
	CT_CALL(T, I, CT_MEMBER, "DELETE", mpath, NULL, 204, NULL);
	snprintf(msg, sizeof(msg), "%s is not a member of image %s", beta, id);
	CT_CALL(T, I, CT_MEMBER, "DELETE", mpath, NULL, 404, msg);
	snprintf(msg, sizeof(msg), "No image found with ID %s", id);
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	CT_CALL(T, I, CT_OTHER, "GET", path, NULL, 404, msg);
}

/* ---- data -------------------------------------------------------------------------- */

static void
test_upload_download(void **state)
{
	char id[64];

	(void)state;
	image_new(CT_MEMBER, "data", id);
	upload(CT_READER, id, "abc", 403,
	    "Policy doesn't allow image:upload_image to be performed.");
	snprintf(msg, sizeof(msg), "No image found with ID %s", id);
	upload(CT_OTHER, id, "abc", 404, msg);
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	ctltest_call(T, I, CT_MEMBER, "PUT", path, "abc",
	    "Content-Type: text/plain\r\n");
	ctltest_expect(T, 415, "Image data must be sent as "
	    "application/octet-stream.");
	/* no data yet: 204 */
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 204, NULL);
	image_get(CT_MEMBER, id);
	assert_string_equal(ctltest_str(T, "status"), "queued");
	assert_true(json_is_null(ctltest_get(T, "checksum")));

	upload(CT_MEMBER, id, "abcdef", 204, NULL);
	image_get(CT_MEMBER, id);
	assert_string_equal(ctltest_str(T, "status"), "active");
	assert_int_equal(json_integer_value(ctltest_get(T, "size")), 6);
	assert_string_equal(ctltest_str(T, "checksum"),
	    "e80b5017098950fc58aad83c8c14978e");	/* md5("abcdef") */
	assert_string_equal(ctltest_str(T, "os_hash_algo"), "sha512");
	/* data only once */
	upload(CT_MEMBER, id, "xyz", 409,
	    "Image status transition from active to saving is not allowed");
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(T->r.len, 6);
	assert_memory_equal(T->r.raw, "abcdef", 6);
	CT_CALL(T, I, CT_READER, "GET", path, NULL, 403,
	    "Policy doesn't allow image:download_image to be performed.");

	/* deactivated: no download, even for the owner */
	snprintf(path, sizeof(path), "/v2/images/%s/actions/deactivate", id);
	CT_CALL(T, I, CT_READER, "POST", path, NULL, 403,
	    "Policy doesn't allow image:deactivate to be performed.");
	image_get(CT_MEMBER, id);
	assert_string_equal(ctltest_str(T, "status"), "active");
	snprintf(path, sizeof(path), "/v2/images/%s/actions/deactivate", id);
	CT_CALL(T, I, CT_MEMBER, "POST", path, NULL, 204, NULL);
	image_get(CT_MEMBER, id);
	assert_string_equal(ctltest_str(T, "status"), "deactivated");
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 403, "The requested image "
	    "has been deactivated. Image data download is forbidden.");
	snprintf(path, sizeof(path), "/v2/images/%s/actions/reactivate", id);
	CT_CALL(T, I, CT_READER, "POST", path, NULL, 403,
	    "Policy doesn't allow image:reactivate to be performed.");
	CT_CALL(T, I, CT_MEMBER, "POST", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(T->r.len, 6);
}

/*
 * An agent's image capability (controller/auth/capability.h) downloads
 * exactly its images from its host, and nothing else anywhere: every
 * other use is the 401 of an invalid token, and changes nothing.
 */
#define AUTH401	"The request you have made requires authentication."
#define HOST1	"compute-1"
#define INST1	"0b6c8bfc-1d3a-4c1e-9a7e-3f0a3e2b1c4d"

static void
cap_call(enum ctltest_svc svc, const char *method, const char *p,
    const char *cap, const char *host, int status, const char *m)
{
	char h[CAPABILITY_BUFSZ + 128];

	snprintf(h, sizeof(h), "X-Auth-Token: %s\r\n%s%s%s", cap,
	    host ? "X-Tinystack-Host: " : "", host ? host : "",
	    host ? "\r\n" : "");
	ctltest_call(T, svc, CT_ANON, method, p, NULL, h);
	ctltest_expect(T, status, m);
}

static void
test_capability(void **state)
{
	char id[64], other[64], cap[CAPABILITY_BUFSZ];
	char bad[CAPABILITY_BUFSZ + 64];
	const char *ids[1];
	size_t n;

	(void)state;
	/* The image of a project the capability's holder is not in. */
	image_new(CT_OTHER, "cap-root", id);
	upload(CT_OTHER, id, "rootfs", 204, NULL);
	image_new(CT_OTHER, "cap-other", other);
	upload(CT_OTHER, other, "secret", 204, NULL);
	ids[0] = id;
	assert_int_equal(identity_capability_mint(ctltest_identity(T), HOST1,
	    INST1, ids, 1, 300, cap, sizeof(cap)), 0);

	/* Its image, from its host: the data. */
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	cap_call(I, "GET", path, cap, HOST1, 200, NULL);
	assert_int_equal(T->r.len, 6);
	assert_memory_equal(T->r.raw, "rootfs", 6);
	/* Another host, or none: 401 as for an invalid token. */
	cap_call(I, "GET", path, cap, "compute-2", 401, AUTH401);
	cap_call(I, "GET", path, cap, NULL, 401, AUTH401);
	/* One changed character: 401. */
	memcpy(bad, cap, sizeof(cap));
	bad[40] = bad[40] == 'A' ? 'B' : 'A';
	cap_call(I, "GET", path, bad, HOST1, 401, AUTH401);
	/* An image it does not name: 404, as Glance for an image the caller
	 * cannot see, so it does not tell whether the image exists. */
	snprintf(path, sizeof(path), "/v2/images/%s/file", other);
	snprintf(msg, sizeof(msg), "No image found with ID %s", other);
	cap_call(I, "GET", path, cap, HOST1, 404, msg);
	snprintf(path, sizeof(path), "/v2/images/%s/file",
	    "99999999-9999-4999-8999-999999999999");
	cap_call(I, "GET", path, cap, HOST1, 404, NULL);

	/* Every other route: 401, and nothing changed. */
	n = image_count(CT_OTHER);
	cap_call(I, "GET", "/v2/images", cap, HOST1, 401, AUTH401);
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	cap_call(I, "GET", path, cap, HOST1, 401, AUTH401);
	cap_call(I, "DELETE", path, cap, HOST1, 401, AUTH401);
	snprintf(path, sizeof(path), "/v2/images/%s/actions/deactivate", id);
	cap_call(I, "POST", path, cap, HOST1, 401, AUTH401);
	snprintf(path, sizeof(path), "/v2/images/%s/members", id);
	cap_call(I, "GET", path, cap, HOST1, 401, AUTH401);
	assert_int_equal(image_count(CT_OTHER), n);
	image_get(CT_OTHER, id);
	assert_string_equal(ctltest_str(T, "status"), "active");
	cap_call(CT_COMPUTE, "GET", "/v2.1/servers", cap, HOST1, 401, AUTH401);
	cap_call(CT_COMPUTE, "GET", "/v2.1/flavors", cap, HOST1, 401,
	    AUTH401);
	cap_call(CT_IDENTITY, "GET", "/v3/projects", cap, HOST1, 401, AUTH401);
	cap_call(CT_IDENTITY, "GET", "/v3/auth/tokens", cap, HOST1, 401,
	    AUTH401);
	/* Nor is it a token identity validates for someone else. */
	snprintf(bad, sizeof(bad), "X-Subject-Token: %s\r\n", cap);
	ctltest_call(T, CT_IDENTITY, CT_ADMIN, "GET", "/v3/auth/tokens", NULL,
	    bad);
	assert_int_equal(T->r.status, 404);

	/* Keystone tokens still work on the download route. */
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	CT_CALL(T, I, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_memory_equal(T->r.raw, "rootfs", 6);
	CT_CALL(T, I, CT_ADMIN, "GET", path, NULL, 200, NULL);
	snprintf(msg, sizeof(msg), "No image found with ID %s", id);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 404, msg);

	/* A deactivated image: refused as to its owner. */
	snprintf(path, sizeof(path), "/v2/images/%s/actions/deactivate", id);
	CT_CALL(T, I, CT_OTHER, "POST", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	cap_call(I, "GET", path, cap, HOST1, 403, "The requested image has "
	    "been deactivated. Image data download is forbidden.");
	snprintf(path, sizeof(path), "/v2/images/%s/actions/reactivate", id);
	CT_CALL(T, I, CT_OTHER, "POST", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	cap_call(I, "GET", path, cap, HOST1, 200, NULL);
}

/* ---- list queries ------------------------------------------------------------------- */

static void
test_list(void **state)
{
	char a[64], b[64];

	(void)state;
	image_new(CT_OTHER, "list-a", a);
	image_new(CT_OTHER, "list-b", b);
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?limit=x", NULL, 400,
	    "limit param must be an integer");
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?sort_key=bogus", NULL, 400,
	    "Invalid sort key: bogus. It must be one of the following: name, "
	    "status, container_format, disk_format, size, id, created_at, "
	    "updated_at.");
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?marker=nope", NULL, 400,
	    "marker nope not found");
	/* another project's image is no marker for this caller */
	snprintf(path, sizeof(path), "/v2/images?marker=%s", a);
	snprintf(msg, sizeof(msg), "marker %s not found", a);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 400, msg);
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?visibility=bogus", NULL,
	    400, "Invalid visibility value: bogus");
	CT_CALL(T, I, CT_ANON, "GET", "/v2/images", NULL, 401,
	    "The request you have made requires authentication.");

	/* sort and page through beta's two images */
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=in:list-a,list-b&"
	    "sort_key=name&sort_dir=asc&limit=1", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	assert_string_equal(ctltest_str(T, "images.0.name"), "list-a");
	assert_non_null(ctltest_str(T, "next"));
	snprintf(path, sizeof(path), "%s", ctltest_str(T, "next"));
	CT_CALL(T, I, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	assert_string_equal(ctltest_str(T, "images.0.name"), "list-b");
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=in:list-a,list-b&"
	    "sort_key=name&sort_dir=desc", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 2);
	assert_string_equal(ctltest_str(T, "images.0.name"), "list-b");
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?status=active&"
	    "name=list-a", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);

	/* schemas */
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/schemas/image", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "name"), "image");
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/schemas/nope", NULL, 404,
	    "No schema named nope");
}

/* ---- delete and protection ----------------------------------------------------------- */

static void
test_delete(void **state)
{
	char id[64];
	size_t before;

	(void)state;
	image_new(CT_MEMBER, "delme", id);
	upload(CT_MEMBER, id, "0123", 204, NULL);
	before = image_count(CT_MEMBER);
	patch(CT_MEMBER, id, "[{\"op\": \"replace\", \"path\": \"/protected\", "
	    "\"value\": true}]", 200, NULL);
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	snprintf(msg, sizeof(msg), "Image %s is protected and cannot be "
	    "deleted.", id);
	CT_CALL(T, I, CT_MEMBER, "DELETE", path, NULL, 403, msg);
	CT_CALL(T, I, CT_ADMIN, "DELETE", path, NULL, 403, msg);
	patch(CT_MEMBER, id, "[{\"op\": \"replace\", \"path\": \"/protected\", "
	    "\"value\": false}]", 200, NULL);
	CT_CALL(T, I, CT_READER, "DELETE", path, NULL, 403,
	    "Policy doesn't allow image:delete_image to be performed.");
	snprintf(msg, sizeof(msg), "No image found with ID %s", id);
	CT_CALL(T, I, CT_OTHER, "DELETE", path, NULL, 404, msg);
	assert_int_equal(image_count(CT_MEMBER), before);
	CT_CALL(T, I, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 404, msg);
	CT_CALL(T, I, CT_MEMBER, "DELETE", path, NULL, 404, msg);
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 404, msg);
	assert_int_equal(image_count(CT_MEMBER), before - 1);
}

/* ---- upload validation, hidden and shared listings ---------------------------------------- */

static void
test_upload_rules(void **state)
{
	char id[64];

	(void)state;
	CT_CALL(T, I, CT_MEMBER, "POST", "/v2/images", "{\"name\": \"qc\", "
	    "\"disk_format\": \"qcow2\", \"container_format\": \"bare\"}", 201,
	    NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "id"));
	snprintf(path, sizeof(path), "/v2/images/%s/actions/deactivate", id);
	CT_CALL(T, I, CT_MEMBER, "POST", path, NULL, 403,
	    "Not allowed to deactivate image in status 'queued'");
	/* the format inspector refuses data that is not what was declared;
	 * the image stays queued without data */
	upload(CT_MEMBER, id, "not a qcow2 image at all", 400, "Image data "
	    "rejected: image format mismatch: declared qcow2, detected raw");
	image_get(CT_MEMBER, id);
	assert_string_equal(ctltest_str(T, "status"), "queued");
	assert_true(json_is_null(ctltest_get(T, "size")));
	snprintf(path, sizeof(path), "/v2/images/%s/file", id);
	CT_CALL(T, I, CT_MEMBER, "GET", path, NULL, 204, NULL);
}

static void
test_list_hidden_shared(void **state)
{
	char id[64], b[256];

	(void)state;
	CT_CALL(T, I, CT_ADMIN, "POST", "/v2/images", "{\"name\": \"hid\", "
	    "\"os_hidden\": true, \"visibility\": \"public\"}", 201, NULL);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=hid", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=hid&os_hidden=true",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);

	image_new(CT_MEMBER, "pend", id);
	snprintf(path, sizeof(path), "/v2/images/%s/members", id);
	snprintf(b, sizeof(b), "{\"member\": \"%s\"}", T->project_id[CT_OTHER]);
	CT_CALL(T, I, CT_MEMBER, "POST", path, b, 200, NULL);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=pend", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=pend&"
	    "member_status=pending", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=pend&visibility=shared&"
	    "member_status=all", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?member_status=bogus", NULL,
	    400, "Invalid status: bogus");
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?limit=-1", NULL, 400,
	    "limit param must be positive");
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?sort_dir=sideways", NULL,
	    400, "Invalid sort direction: sideways");
	CT_CALL(T, I, CT_MEMBER, "GET", "/v2/images?size_min=abc", NULL, 400,
	    "Unable to filter on a range with a non-numeric value.");
	/* deleting the image ends its memberships */
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	CT_CALL(T, I, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, I, CT_OTHER, "GET", "/v2/images?name=pend&"
	    "member_status=all&visibility=shared", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);
}

/* ---- fixture --------------------------------------------------------------------------- */

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
	printf("handlers_image_test: %u checks\n", ctltest_checks);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_visibility),
		cmocka_unit_test(test_patch),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tag_limits),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_upload_download),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_upload_rules),
		cmocka_unit_test(test_list_hidden_shared),
		cmocka_unit_test(test_capability),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
