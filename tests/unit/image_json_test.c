/*
 * image_json_test: controller/image_json. Create bodies are validated as
 * Glance's schema and deserializer do (400 schema, 403 read-only/reserved,
 * 413 quotas); images render with nulls, extra properties and links; and
 * JSON-patch documents in both media types apply as Glance applies them
 * (v2.1 add is an upsert, v2.0 add of an existing attribute a conflict),
 * all or nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "err.h"
#include "image/image_int.h"

#define ID	"8a3c5d1e-2f4b-4c6d-9e8f-0a1b2c3d4e5f"
#define KERNEL	"00000000-1111-2222-3333-444455556666"

static json_t *
js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", text, e.text);
	return j;
}

/* image_json_from_create on text; returns its result, fills img. */
static int
create(const char *text, struct rec_image *img)
{
	json_t *j = js(text);
	int rc;

	memset(img, 0, sizeof(*img));
	rc = image_json_from_create(j, img);
	json_decref(j);
	return rc;
}

static void
expect_create_error(const char *text, enum ts_errcode code)
{
	struct rec_image img;

	if (create(text, &img) != -1)
		fail_msg("accepted: %s", text);
	if (err_code() != code)
		fail_msg("%s: got %s (%s)", text, err_code_name(err_code()),
		    err_msg());
}

static const char *
prop(const struct rec_image *img, const char *k)
{
	size_t i;

	for (i = 0; i < img->properties.n; i++)
		if (strcmp(img->properties.items[i].k, k) == 0)
			return img->properties.items[i].v;
	return NULL;
}

/* A queued image as the create handler leaves it. */
static void
base_image(struct rec_image *img)
{
	assert_int_equal(create("{\"name\": \"cirros\", \"disk_format\": "
	    "\"qcow2\", \"container_format\": \"bare\", \"os_type\": "
	    "\"linux\", \"tags\": [\"a\", \"b\"]}", img), 0);
	snprintf(img->id, sizeof(img->id), "%s", ID);
	img->status = strdup("queued");
	img->visibility = strdup("private");
	img->owner = strdup("p1");
	assert_non_null(img->status);
	assert_non_null(img->visibility);
	assert_non_null(img->owner);
	img->created_at = img->updated_at = 1764058455000;
}

static int
patch(struct rec_image *img, enum image_json_patch_media m, const char *text,
    bool admin)
{
	json_t *j = js(text);
	int rc = image_json_patch_apply(img, j, m, admin);

	json_decref(j);
	return rc;
}

static void
test_create_valid(void **state)
{
	struct rec_image img;

	assert_int_equal(create("{\"id\": \"8A3C5D1E-2F4B-4C6D-9E8F-"
	    "0A1B2C3D4E5F\", \"name\": \"arch linux\", \"visibility\": "
	    "\"public\", \"disk_format\": \"raw\", \"container_format\": "
	    "\"bare\", \"min_disk\": 2, \"min_ram\": 512, \"protected\": true, "
	    "\"os_hidden\": false, \"tags\": [\"x\", \"y\", \"x\"], "
	    "\"kernel_id\": \"" KERNEL "\", \"ramdisk_id\": null, "
	    "\"hw_disk_bus\": \"virtio\", "
	    "\"owner_specified.openstack.md5\": \"\"}", &img), 0);
	assert_string_equal(img.id, ID);	/* canonical lowercase */
	assert_string_equal(img.name, "arch linux");
	assert_string_equal(img.visibility, "public");
	assert_string_equal(img.disk_format, "raw");
	assert_string_equal(img.container_format, "bare");
	assert_int_equal(img.min_disk, 2);
	assert_int_equal(img.min_ram, 512);
	assert_true(img.protected);
	assert_false(img.os_hidden);
	assert_int_equal(img.tags.n, 2);	/* a set */
	assert_string_equal(img.tags.items[0], "x");
	assert_string_equal(img.tags.items[1], "y");
	assert_string_equal(prop(&img, "kernel_id"), KERNEL);
	assert_null(prop(&img, "ramdisk_id"));	/* null: not set */
	assert_string_equal(prop(&img, "hw_disk_bus"), "virtio");
	assert_string_equal(prop(&img, "owner_specified.openstack.md5"), "");
	assert_null(img.status);	/* the handler's to set */
	codec_clear(&schema_rec_image, &img);

	/* Everything optional: an empty body is an image. */
	assert_int_equal(create("{}", &img), 0);
	assert_null(img.name);
	assert_int_equal(img.id[0], '\0');
	codec_clear(&schema_rec_image, &img);
	assert_int_equal(create("{\"name\": null, \"disk_format\": null}",
	    &img), 0);
	assert_null(img.name);
	assert_null(img.disk_format);
	codec_clear(&schema_rec_image, &img);
}

static void
test_create_errors(void **state)
{
	char big[600], *props;
	size_t i, off;

	/* Read-only and reserved attributes: 403. */
	expect_create_error("{\"status\": \"active\"}", TS_EFORBIDDEN);
	expect_create_error("{\"size\": 5}", TS_EFORBIDDEN);
	expect_create_error("{\"checksum\": \"x\"}", TS_EFORBIDDEN);
	expect_create_error("{\"os_hash_value\": \"x\"}", TS_EFORBIDDEN);
	expect_create_error("{\"self\": \"x\"}", TS_EFORBIDDEN);
	expect_create_error("{\"file\": \"x\"}", TS_EFORBIDDEN);
	expect_create_error("{\"direct_url\": \"file:///etc/passwd\"}",
	    TS_EFORBIDDEN);
	expect_create_error("{\"location\": \"file:///etc/passwd\"}",
	    TS_EFORBIDDEN);
	expect_create_error("{\"locations\": []}", TS_EFORBIDDEN);
	expect_create_error("{\"os_glance_importing_to_stores\": \"x\"}",
	    TS_EFORBIDDEN);
	expect_create_error("{\"deleted\": \"x\"}", TS_EFORBIDDEN);
	/* Schema violations: 400. */
	expect_create_error("[]", TS_EINVALID);
	expect_create_error("{\"visibility\": \"everyone\"}", TS_EINVALID);
	expect_create_error("{\"disk_format\": \"exe\"}", TS_EINVALID);
	expect_create_error("{\"container_format\": \"zip\"}", TS_EINVALID);
	expect_create_error("{\"min_ram\": -1}", TS_EINVALID);
	expect_create_error("{\"min_ram\": \"64\"}", TS_EINVALID);
	expect_create_error("{\"min_disk\": 2147483648}", TS_EINVALID);
	expect_create_error("{\"min_disk\": 1.5}", TS_EINVALID);
	expect_create_error("{\"protected\": \"true\"}", TS_EINVALID);
	expect_create_error("{\"tags\": \"a\"}", TS_EINVALID);
	expect_create_error("{\"tags\": [1]}", TS_EINVALID);
	expect_create_error("{\"os_type\": 42}", TS_EINVALID);
	expect_create_error("{\"os_type\": null}", TS_EINVALID);
	expect_create_error("{\"kernel_id\": \"vmlinuz\"}", TS_EINVALID);
	expect_create_error("{\"id\": \"-1\"}", TS_EINVALID);
	expect_create_error("{\"cinder_encryption_key_deletion_policy\": "
	    "\"later\"}", TS_EINVALID);
	memset(big, 'n', 256);
	snprintf(big, sizeof(big), "{\"name\": \"%.*s\"}", 256,
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
	expect_create_error(big, TS_EINVALID);
	snprintf(big, sizeof(big), "{\"%.*s\": \"v\"}", 256,
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
	expect_create_error(big, TS_EINVALID);
	/* Quotas: 413. */
	props = malloc(64 * 200);
	assert_non_null(props);
	off = (size_t)sprintf(props, "{");
	for (i = 0; i < IMAGE_PROPERTY_MAX + 1; i++)
		off += (size_t)sprintf(props + off, "%s\"p%zu\": \"v\"",
		    i ? ", " : "", i);
	sprintf(props + off, "}");
	expect_create_error(props, TS_ETOO_LARGE);
	off = (size_t)sprintf(props, "{\"tags\": [");
	for (i = 0; i < IMAGE_TAG_MAX + 1; i++)
		off += (size_t)sprintf(props + off, "%s\"t%zu\"", i ? ", " : "",
		    i);
	sprintf(props + off, "]}");
	expect_create_error(props, TS_ETOO_LARGE);
	free(props);
}

static void
test_render(void **state)
{
	struct rec_image img;
	json_t *j;

	base_image(&img);
	j = image_json_to_json(&img);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), ID);
	assert_string_equal(json_string_value(json_object_get(j, "name")),
	    "cirros");
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "queued");
	assert_true(json_is_null(json_object_get(j, "size")));
	assert_true(json_is_null(json_object_get(j, "virtual_size")));
	assert_true(json_is_null(json_object_get(j, "checksum")));
	assert_true(json_is_null(json_object_get(j, "os_hash_algo")));
	assert_true(json_is_null(json_object_get(j, "os_hash_value")));
	assert_true(json_is_false(json_object_get(j, "protected")));
	assert_true(json_is_false(json_object_get(j, "os_hidden")));
	assert_int_equal(json_integer_value(json_object_get(j, "min_ram")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "os_type")),
	    "linux");
	assert_string_equal(json_string_value(json_object_get(j,
	    "created_at")), "2025-11-25T08:14:15Z");
	assert_string_equal(json_string_value(json_object_get(j, "self")),
	    "/v2/images/" ID);
	assert_string_equal(json_string_value(json_object_get(j, "file")),
	    "/v2/images/" ID "/file");
	assert_string_equal(json_string_value(json_object_get(j, "schema")),
	    "/v2/schemas/image");
	assert_int_equal(json_array_size(json_object_get(j, "tags")), 2);
	json_decref(j);

	img.has_size = true;
	img.size = 1024;
	img.has_virtual_size = true;
	img.virtual_size = 4096;
	img.checksum = strdup("0cc175b9c0f1b6a831c399e269772661");
	j = image_json_to_json(&img);
	assert_int_equal(json_integer_value(json_object_get(j, "size")), 1024);
	assert_int_equal(json_integer_value(json_object_get(j,
	    "virtual_size")), 4096);
	assert_string_equal(json_string_value(json_object_get(j, "checksum")),
	    "0cc175b9c0f1b6a831c399e269772661");
	json_decref(j);
	codec_clear(&schema_rec_image, &img);
}

static void
test_patch_media(void **state)
{
	enum image_json_patch_media m;

	assert_int_equal(image_json_patch_media(
	    "application/openstack-images-v2.1-json-patch", &m), 0);
	assert_int_equal(m, IMAGE_PATCH_V21);
	assert_int_equal(image_json_patch_media(
	    "application/openstack-images-v2.0-json-patch; charset=UTF-8",
	    &m), 0);
	assert_int_equal(m, IMAGE_PATCH_V20);
	assert_int_equal(image_json_patch_media("application/json", &m), -1);
	assert_int_equal(err_code(), TS_EUNSUPPORTED_MEDIA);
	assert_int_equal(image_json_patch_media(NULL, &m), -1);
	assert_int_equal(image_json_patch_media(
	    "application/openstack-images-v2.1-json-patchX", &m), -1);
}

static void
test_patch_v21(void **state)
{
	struct rec_image img;

	base_image(&img);
	/* add on an existing attribute or property replaces (upsert) */
	assert_int_equal(patch(&img, IMAGE_PATCH_V21, "[{\"op\": \"add\", "
	    "\"path\": \"/name\", \"value\": \"new\"}, {\"op\": \"add\", "
	    "\"path\": \"/os_type\", \"value\": \"windows\"}, {\"op\": "
	    "\"add\", \"path\": \"/foo\", \"value\": \"bar\"}, {\"op\": "
	    "\"add\", \"path\": \"/min_ram\", \"value\": 64}]", false), 0);
	assert_string_equal(img.name, "new");
	assert_string_equal(prop(&img, "os_type"), "windows");
	assert_string_equal(prop(&img, "foo"), "bar");
	assert_int_equal(img.min_ram, 64);
	/* replace, remove */
	assert_int_equal(patch(&img, IMAGE_PATCH_V21, "[{\"op\": "
	    "\"replace\", \"path\": \"/foo\", \"value\": \"baz\"}, {\"op\": "
	    "\"remove\", \"path\": \"/os_type\"}, {\"op\": \"replace\", "
	    "\"path\": \"/tags\", \"value\": [\"t1\"]}, {\"op\": \"replace\", "
	    "\"path\": \"/visibility\", \"value\": \"shared\"}, {\"op\": "
	    "\"replace\", \"path\": \"/protected\", \"value\": true}]",
	    false), 0);
	assert_string_equal(prop(&img, "foo"), "baz");
	assert_null(prop(&img, "os_type"));
	assert_int_equal(img.tags.n, 1);
	assert_string_equal(img.tags.items[0], "t1");
	assert_string_equal(img.visibility, "shared");
	assert_true(img.protected);
	/* JSON pointer escapes: ~1 is '/', ~0 is '~' */
	assert_int_equal(patch(&img, IMAGE_PATCH_V21, "[{\"op\": \"add\", "
	    "\"path\": \"/a~1b~0c\", \"value\": \"v\"}]", false), 0);
	assert_string_equal(prop(&img, "a/b~c"), "v");
	/* disk_format may change while queued */
	assert_int_equal(patch(&img, IMAGE_PATCH_V21, "[{\"op\": "
	    "\"replace\", \"path\": \"/disk_format\", \"value\": \"raw\"}]",
	    false), 0);
	assert_string_equal(img.disk_format, "raw");
	/* owner: admin only */
	assert_int_equal(patch(&img, IMAGE_PATCH_V21, "[{\"op\": "
	    "\"replace\", \"path\": \"/owner\", \"value\": \"p2\"}]", false),
	    -1);
	assert_int_equal(err_code(), TS_EFORBIDDEN);
	assert_int_equal(patch(&img, IMAGE_PATCH_V21, "[{\"op\": "
	    "\"replace\", \"path\": \"/owner\", \"value\": \"p2\"}]", true),
	    0);
	assert_string_equal(img.owner, "p2");
	codec_clear(&schema_rec_image, &img);
}

static void
expect_patch_error(struct rec_image *img, enum image_json_patch_media m,
    const char *text, enum ts_errcode code)
{
	json_t *before = image_json_to_json(img), *after;

	if (patch(img, m, text, false) != -1)
		fail_msg("accepted: %s", text);
	if (err_code() != code)
		fail_msg("%s: got %s (%s)", text, err_code_name(err_code()),
		    err_msg());
	/* All or nothing. */
	after = image_json_to_json(img);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
}

static void
test_patch_errors(void **state)
{
	struct rec_image img;
	const enum image_json_patch_media v21 = IMAGE_PATCH_V21;

	base_image(&img);
	expect_patch_error(&img, v21, "{}", TS_EINVALID);
	expect_patch_error(&img, v21, "[1]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"path\": \"/name\", \"value\": "
	    "\"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"move\", \"path\": "
	    "\"/name\", \"value\": \"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"value\": "
	    "\"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"name\", \"value\": \"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/a/b\", \"value\": \"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/a~2\", \"value\": \"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": \"/\", "
	    "\"value\": \"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/name\"}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/min_disk\", \"value\": -5}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/foo\", \"value\": 5}]", TS_EINVALID);
	expect_patch_error(&img, v21, "[{\"op\": \"replace\", \"path\": "
	    "\"/visibility\", \"value\": \"all\"}]", TS_EINVALID);
	/* read-only, reserved, base removal: 403 */
	expect_patch_error(&img, v21, "[{\"op\": \"replace\", \"path\": "
	    "\"/status\", \"value\": \"active\"}]", TS_EFORBIDDEN);
	expect_patch_error(&img, v21, "[{\"op\": \"replace\", \"path\": "
	    "\"/id\", \"value\": \"" KERNEL "\"}]", TS_EFORBIDDEN);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/checksum\", \"value\": \"x\"}]", TS_EFORBIDDEN);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/os_glance_x\", \"value\": \"x\"}]", TS_EFORBIDDEN);
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/locations\", \"value\": []}]", TS_EFORBIDDEN);
	expect_patch_error(&img, v21, "[{\"op\": \"remove\", \"path\": "
	    "\"/name\"}]", TS_EFORBIDDEN);
	/* missing property: 409 */
	expect_patch_error(&img, v21, "[{\"op\": \"replace\", \"path\": "
	    "\"/nope\", \"value\": \"x\"}]", TS_ECONFLICT);
	expect_patch_error(&img, v21, "[{\"op\": \"remove\", \"path\": "
	    "\"/nope\"}]", TS_ECONFLICT);
	/* a later failing op undoes the earlier ones */
	expect_patch_error(&img, v21, "[{\"op\": \"add\", \"path\": "
	    "\"/name\", \"value\": \"changed\"}, {\"op\": \"remove\", "
	    "\"path\": \"/nope\"}]", TS_ECONFLICT);
	assert_string_equal(img.name, "cirros");
	/* an active image's formats are fixed: the data was inspected */
	free(img.status);
	img.status = strdup("active");
	expect_patch_error(&img, v21, "[{\"op\": \"replace\", \"path\": "
	    "\"/disk_format\", \"value\": \"raw\"}]", TS_EFORBIDDEN);
	expect_patch_error(&img, v21, "[{\"op\": \"replace\", \"path\": "
	    "\"/container_format\", \"value\": \"ova\"}]", TS_EFORBIDDEN);
	codec_clear(&schema_rec_image, &img);
}

static void
test_patch_v20(void **state)
{
	struct rec_image img;
	const enum image_json_patch_media v20 = IMAGE_PATCH_V20;

	base_image(&img);
	assert_int_equal(patch(&img, v20, "[{\"replace\": \"/name\", "
	    "\"value\": \"renamed\"}, {\"add\": \"/new\", \"value\": \"v\"}]",
	    false), 0);
	assert_string_equal(img.name, "renamed");
	assert_string_equal(prop(&img, "new"), "v");
	assert_int_equal(patch(&img, v20, "[{\"remove\": \"/new\"}]", false),
	    0);
	assert_null(prop(&img, "new"));
	/* v2.0: add of something that exists is a conflict */
	expect_patch_error(&img, v20, "[{\"add\": \"/name\", \"value\": "
	    "\"x\"}]", TS_ECONFLICT);
	expect_patch_error(&img, v20, "[{\"add\": \"/os_type\", \"value\": "
	    "\"x\"}]", TS_ECONFLICT);
	expect_patch_error(&img, v20, "[{\"add\": \"/a\", \"replace\": "
	    "\"/b\", \"value\": \"x\"}]", TS_EINVALID);
	expect_patch_error(&img, v20, "[{\"op\": \"add\", \"path\": \"/a\", "
	    "\"value\": \"x\"}]", TS_EINVALID);
	codec_clear(&schema_rec_image, &img);
}

static void
test_copy(void **state)
{
	struct rec_image img, cp;
	json_t *a, *b;

	base_image(&img);
	img.has_size = true;
	img.size = 77;
	assert_int_equal(image_json_copy(&cp, &img), 0);
	a = image_json_to_json(&img);
	b = image_json_to_json(&cp);
	assert_true(json_equal(a, b));
	assert_ptr_not_equal(cp.name, img.name);
	json_decref(a);
	json_decref(b);
	codec_clear(&schema_rec_image, &img);
	codec_clear(&schema_rec_image, &cp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_valid),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_patch_media),
		cmocka_unit_test(test_patch_v21),
		cmocka_unit_test(test_patch_errors),
		cmocka_unit_test(test_patch_v20),
		cmocka_unit_test(test_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
