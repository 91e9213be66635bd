/*
 * jsonreq_test: controller/http/jsonreq. Every reader in each service's
 * wording: success, each failure with its exact message (the handlers'
 * tests and Tempest quote them), limits on both sides of each boundary,
 * lengths counted in UTF-8 characters unless JSONREQ_BYTES, and Nova's
 * tolerant integers and booleans against Keystone's and Glance's strict
 * ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "http/jsonreq.h"

#define KS	JSONREQ_KEYSTONE
#define NOVA	JSONREQ_NOVA
#define GL	JSONREQ_GLANCE

/* One body per test, freed by the teardown. */
static json_t *body;

static json_t *
js(const char *text)
{
	json_error_t e;

	json_decref(body);
	body = json_loads(text, JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
	if (body == NULL)
		fail_msg("bad test JSON: %s: %s", text, e.text);
	return body;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(body);
	body = NULL;
	return 0;
}

/* rc is -1 with TS_EINVALID and exactly msg. */
#define FAILS(rc, msg) do {						\
	assert_int_equal((rc), -1);					\
	assert_int_equal(err_code(), TS_EINVALID);			\
	assert_string_equal(err_msg(), (msg));				\
} while (0)

static void
test_style_of(void **state)
{
	(void)state;
	assert_int_equal(jsonreq_style_of(APIERR_IDENTITY), KS);
	assert_int_equal(jsonreq_style_of(APIERR_COMPUTE), NOVA);
	assert_int_equal(jsonreq_style_of(APIERR_IMAGE), GL);
	assert_int_equal(jsonreq_style_of(APIERR_VOLUME), NOVA);
	assert_int_equal(jsonreq_style_of(APIERR_NETWORK), JSONREQ_NEUTRON);
}

static void
test_fail(void **state)
{
	(void)state;
	FAILS(jsonreq_fail(KS, "x", "bad."), "Invalid input for field 'x': "
	    "bad.");
	FAILS(jsonreq_fail(NOVA, "x", "Bad."), "Invalid input for "
	    "field/attribute x. Bad.");
	FAILS(jsonreq_fail(GL, "x", "bad"), "Provided object does not match "
	    "schema 'image': bad: 'x'");
}

static void
test_body(void **state)
{
	json_t *o;

	(void)state;
	js("{\"user\": {\"name\": \"a\"}}");
	assert_int_equal(jsonreq_body(KS, body, "user", &o), 0);
	assert_ptr_equal(o, json_object_get(body, "user"));
	assert_int_equal(jsonreq_body(NOVA, body, "user", &o), 0);
	assert_int_equal(jsonreq_body(GL, body, NULL, &o), 0);
	assert_ptr_equal(o, body);

	/* No body, or not an object. */
	FAILS(jsonreq_body(KS, NULL, "user", &o), "Expecting to find user in "
	    "request body; the server could not comply with the request since "
	    "it is either malformed or otherwise incorrect.");
	FAILS(jsonreq_body(NOVA, js("[1]"), "server", &o), "The request body "
	    "is missing or not a JSON object.");
	FAILS(jsonreq_body(GL, js("\"x\""), NULL, &o), "Body expected in "
	    "request.");

	/* The member missing, then not an object. */
	js("{\"other\": {}}");
	FAILS(jsonreq_body(KS, body, "user", &o), "Invalid input for field "
	    "'user': expected an object.");
	FAILS(jsonreq_body(NOVA, body, "server", &o), "Invalid input for "
	    "field/attribute server. Value: None. It is a required object.");
	FAILS(jsonreq_body(GL, body, "image", &o), "Provided object does not "
	    "match schema 'image': value is not an object: 'image'");
	js("{\"server\": 5}");
	FAILS(jsonreq_body(NOVA, body, "server", &o), "Invalid input for "
	    "field/attribute server. Value: (not an object). It is a required "
	    "object.");
	FAILS(jsonreq_body(KS, body, "server", &o), "Invalid input for field "
	    "'server': expected an object.");
}

static void
test_str_ok(void **state)
{
	const char *s = "unchanged";
	bool present = true;

	(void)state;
	js("{\"a\": \"abc\", \"n\": null, \"e\": \"\"}");
	assert_int_equal(jsonreq_str(KS, body, "a", 1, 3, 0, &s, &present), 0);
	assert_string_equal(s, "abc");
	assert_true(present);
	/* Absent: *out unchanged, not present. */
	s = "unchanged";
	assert_int_equal(jsonreq_str(NOVA, body, "zz", 1, 3, 0, &s, &present),
	    0);
	assert_string_equal(s, "unchanged");
	assert_false(present);
	/* Accepted null. */
	assert_int_equal(jsonreq_str(GL, body, "n", 0, 3, JSONREQ_NULLABLE, &s,
	    &present), 0);
	assert_null(s);
	assert_true(present);
	/* present may be NULL; the empty string within [0, 0]. */
	assert_int_equal(jsonreq_str(KS, body, "e", 0, 0, 0, &s, NULL), 0);
	assert_string_equal(s, "");
}

static void
test_str_required(void **state)
{
	const char *s;

	(void)state;
	js("{}");
	FAILS(jsonreq_str(KS, body, "name", 1, 64, JSONREQ_REQUIRED, &s, NULL),
	    "Invalid input for field 'name': 'name' is a required property.");
	FAILS(jsonreq_str(NOVA, body, "name", 1, 64, JSONREQ_REQUIRED, &s,
	    NULL), "Invalid input for field/attribute name. 'name' is a "
	    "required property.");
	FAILS(jsonreq_str(GL, body, "name", 1, 64, JSONREQ_REQUIRED, &s, NULL),
	    "Provided object does not match schema 'image': 'name' is a "
	    "required property: 'name'");
}

static void
test_str_type(void **state)
{
	const char *s;

	(void)state;
	js("{\"a\": 5, \"n\": null}");
	FAILS(jsonreq_str(KS, body, "a", 0, 9, 0, &s, NULL), "Invalid input "
	    "for field 'a': not a string.");
	FAILS(jsonreq_str(NOVA, body, "a", 0, 9, 0, &s, NULL), "Invalid input "
	    "for field/attribute a. Value must be a string.");
	FAILS(jsonreq_str(GL, body, "a", 0, 9, 0, &s, NULL), "Provided object "
	    "does not match schema 'image': value is not a string: 'a'");
	/* null without JSONREQ_NULLABLE is a wrong type. */
	FAILS(jsonreq_str(KS, body, "n", 0, 9, 0, &s, NULL), "Invalid input "
	    "for field 'n': not a string.");
}

static void
test_str_length(void **state)
{
	const char *s;

	(void)state;
	js("{\"a\": \"abcd\", \"e\": \"\"}");
	/* [4, 4] holds; one less or one more does not. */
	assert_int_equal(jsonreq_str(KS, body, "a", 4, 4, 0, &s, NULL), 0);
	FAILS(jsonreq_str(KS, body, "a", 0, 3, 0, &s, NULL), "Invalid input "
	    "for field 'a': length 4 is not between 0 and 3.");
	FAILS(jsonreq_str(KS, body, "a", 5, 9, 0, &s, NULL), "Invalid input "
	    "for field 'a': length 4 is not between 5 and 9.");
	FAILS(jsonreq_str(NOVA, body, "a", 1, 3, 0, &s, NULL), "Invalid input "
	    "for field/attribute a. Length must be between 1 and 3.");
	FAILS(jsonreq_str(NOVA, body, "e", 1, 3, 0, &s, NULL), "Invalid input "
	    "for field/attribute e. Length must be between 1 and 3.");
	FAILS(jsonreq_str(GL, body, "a", 0, 3, 0, &s, NULL), "Provided object "
	    "does not match schema 'image': value is too long: 'a'");
	FAILS(jsonreq_str(GL, body, "e", 1, 3, 0, &s, NULL), "Provided object "
	    "does not match schema 'image': value is too short: 'e'");
}

static void
test_str_utf8(void **state)
{
	const char *s;

	(void)state;
	/* "héllo" and a 4-byte emoji: 5 and 1 characters, 6 and 4 bytes. */
	js("{\"a\": \"h\\u00e9llo\", \"b\": \"\\ud83d\\ude00\"}");
	assert_int_equal(jsonreq_str(KS, body, "a", 5, 5, 0, &s, NULL), 0);
	assert_string_equal(s, "h\xc3\xa9llo");
	FAILS(jsonreq_str(KS, body, "a", 0, 4, 0, &s, NULL), "Invalid input "
	    "for field 'a': length 5 is not between 0 and 4.");
	assert_int_equal(jsonreq_str(NOVA, body, "b", 1, 1, 0, &s, NULL), 0);
	/* In bytes (a record's max=). */
	assert_int_equal(jsonreq_str(KS, body, "a", 6, 6, JSONREQ_BYTES, &s,
	    NULL), 0);
	FAILS(jsonreq_str(KS, body, "a", 0, 5, JSONREQ_BYTES, &s, NULL),
	    "Invalid input for field 'a': length 6 is not between 0 and 5.");
	FAILS(jsonreq_str(NOVA, body, "b", 1, 3, JSONREQ_BYTES, &s, NULL),
	    "Invalid input for field/attribute b. Length must be between 1 "
	    "and 3.");
	assert_int_equal(jsonreq_str(GL, body, "b", 0, 4, JSONREQ_BYTES, &s,
	    NULL), 0);
}

static void
test_str_nul_blank(void **state)
{
	const char *s;

	(void)state;
	js("{\"z\": \"a\\u0000b\", \"w\": \" \\t \", \"x\": \" x \"}");
	FAILS(jsonreq_str(KS, body, "z", 0, 9, 0, &s, NULL), "Invalid input "
	    "for field 'z': contains a NUL character.");
	/* Nova has always reported it as a length error. */
	FAILS(jsonreq_str(NOVA, body, "z", 0, 9, 0, &s, NULL), "Invalid input "
	    "for field/attribute z. Length must be between 0 and 9.");
	FAILS(jsonreq_str(GL, body, "z", 0, 9, 0, &s, NULL), "Provided object "
	    "does not match schema 'image': value contains a NUL byte: 'z'");
	FAILS(jsonreq_str(KS, body, "w", 1, 9, JSONREQ_NONBLANK, &s, NULL),
	    "Invalid input for field 'w': must contain a non-space "
	    "character.");
	assert_int_equal(jsonreq_str(KS, body, "w", 1, 9, 0, &s, NULL), 0);
	assert_int_equal(jsonreq_str(KS, body, "x", 1, 9, JSONREQ_NONBLANK, &s,
	    NULL), 0);
}

static void
test_int(void **state)
{
	int64_t n = 42;
	bool present;

	(void)state;
	js("{\"i\": 7, \"lo\": -1, \"s\": \" 12 \", \"r\": 3.0, \"f\": 2.5, "
	    "\"t\": true, \"x\": \"1x\", \"n\": null, \"big\": 2147483648}");
	assert_int_equal(jsonreq_int(KS, body, "i", 7, 7, 0, &n, &present), 0);
	assert_int_equal(n, 7);
	assert_true(present);
	n = 42;
	assert_int_equal(jsonreq_int(GL, body, "zz", 0, 9, 0, &n, &present),
	    0);
	assert_int_equal(n, 42);
	assert_false(present);
	FAILS(jsonreq_int(KS, body, "zz", 0, 9, JSONREQ_REQUIRED, &n, NULL),
	    "Invalid input for field 'zz': 'zz' is a required property.");
	/* An accepted null leaves *out. */
	assert_int_equal(jsonreq_int(NOVA, body, "n", 0, 9, JSONREQ_NULLABLE,
	    &n, &present), 0);
	assert_int_equal(n, 42);
	assert_true(present);

	/* Nova's tolerant forms. */
	assert_int_equal(jsonreq_int(NOVA, body, "s", 0, 12, 0, &n, NULL), 0);
	assert_int_equal(n, 12);
	assert_int_equal(jsonreq_int(NOVA, body, "r", 0, 9, 0, &n, NULL), 0);
	assert_int_equal(n, 3);
	FAILS(jsonreq_int(NOVA, body, "f", 0, 9, 0, &n, NULL), "Invalid input "
	    "for field/attribute f. Value must be an integer.");
	FAILS(jsonreq_int(NOVA, body, "x", 0, 9, 0, &n, NULL), "Invalid input "
	    "for field/attribute x. Value must be an integer.");
	FAILS(jsonreq_int(NOVA, body, "t", 0, 9, 0, &n, NULL), "Invalid input "
	    "for field/attribute t. Value must be an integer.");
	/* Keystone and Glance: JSON integers only. */
	FAILS(jsonreq_int(KS, body, "s", 0, 99, 0, &n, NULL), "Invalid input "
	    "for field 's': not an integer.");
	FAILS(jsonreq_int(GL, body, "r", 0, 99, 0, &n, NULL), "Provided object "
	    "does not match schema 'image': value is not an integer: 'r'");

	/* Ranges, each side of the boundary. */
	FAILS(jsonreq_int(NOVA, body, "s", 0, 11, 0, &n, NULL), "Invalid input "
	    "for field/attribute s. Value: 12. It must be between 0 and 11.");
	FAILS(jsonreq_int(NOVA, body, "lo", 0, 9, 0, &n, NULL), "Invalid input "
	    "for field/attribute lo. Value: -1. It must be between 0 and 9.");
	assert_int_equal(jsonreq_int(NOVA, body, "lo", -1, 9, 0, &n, NULL), 0);
	FAILS(jsonreq_int(KS, body, "i", 8, 9, 0, &n, NULL), "Invalid input "
	    "for field 'i': 7 is not between 8 and 9.");
	FAILS(jsonreq_int(GL, body, "lo", 0, 9, 0, &n, NULL), "Cannot set lo "
	    "to a negative value.");
	FAILS(jsonreq_int(GL, body, "i", 8, 9, 0, &n, NULL), "Value of i is "
	    "too small: at least 8.");
	FAILS(jsonreq_int(GL, body, "big", 0, 2147483647, 0, &n, NULL),
	    "Value of big is too large: at most 2147483647.");
	assert_int_equal(jsonreq_int(GL, body, "big", 0, 2147483648LL, 0, &n,
	    NULL), 0);
	assert_int_equal(n, 2147483648LL);
}

static void
test_bool(void **state)
{
	static const char *const yes[] = { "1", "true", "True", "t", "yes",
	    "Y", "on", NULL };
	static const char *const no[] = { "0", "false", "FALSE", "f", "no",
	    "n", "off", NULL };
	bool b = true, present;
	json_t *o;
	size_t i;

	(void)state;
	js("{\"t\": true, \"f\": false, \"n\": null, \"s\": \"true\", "
	    "\"i\": 1}");
	assert_int_equal(jsonreq_bool(KS, body, "f", 0, &b, &present), 0);
	assert_false(b);
	assert_true(present);
	assert_int_equal(jsonreq_bool(GL, body, "t", 0, &b, NULL), 0);
	assert_true(b);
	assert_int_equal(jsonreq_bool(NOVA, body, "zz", 0, &b, &present), 0);
	assert_true(b);
	assert_false(present);
	assert_int_equal(jsonreq_bool(KS, body, "n", JSONREQ_NULLABLE, &b,
	    NULL), 0);
	assert_true(b);
	FAILS(jsonreq_bool(NOVA, body, "zz", JSONREQ_REQUIRED, &b, NULL),
	    "Invalid input for field/attribute zz. 'zz' is a required "
	    "property.");
	FAILS(jsonreq_bool(KS, body, "s", 0, &b, NULL), "Invalid input for "
	    "field 's': not a boolean.");
	FAILS(jsonreq_bool(GL, body, "s", 0, &b, NULL), "Provided object does "
	    "not match schema 'image': value is not a boolean: 's'");
	FAILS(jsonreq_bool(NOVA, body, "i", 0, &b, NULL), "Invalid input for "
	    "field/attribute i. Value must be a boolean.");
	FAILS(jsonreq_bool(KS, body, "n", 0, &b, NULL), "Invalid input for "
	    "field 'n': not a boolean.");

	/* Nova's words, any case. */
	o = json_object();
	for (i = 0; yes[i] != NULL; i++) {
		json_object_set_new(o, "v", json_string(yes[i]));
		b = false;
		assert_int_equal(jsonreq_bool(NOVA, o, "v", 0, &b, NULL), 0);
		assert_true(b);
	}
	for (i = 0; no[i] != NULL; i++) {
		json_object_set_new(o, "v", json_string(no[i]));
		b = true;
		assert_int_equal(jsonreq_bool(NOVA, o, "v", 0, &b, NULL), 0);
		assert_false(b);
	}
	json_object_set_new(o, "v", json_string("maybe"));
	FAILS(jsonreq_bool(NOVA, o, "v", 0, &b, NULL), "Invalid input for "
	    "field/attribute v. Value must be a boolean.");
	json_decref(o);
}

static void
test_enum(void **state)
{
	static const char *const vis[] = { "public", "private", NULL };
	const char *s = "unchanged";
	bool present;

	(void)state;
	js("{\"v\": \"private\", \"x\": \"secret\", \"i\": 3, \"n\": null}");
	assert_int_equal(jsonreq_enum(GL, body, "v", vis, NULL, 0, &s,
	    &present), 0);
	assert_string_equal(s, "private");
	assert_true(present);
	s = "unchanged";
	assert_int_equal(jsonreq_enum(KS, body, "zz", vis, NULL, 0, &s,
	    &present), 0);
	assert_string_equal(s, "unchanged");
	assert_false(present);
	assert_int_equal(jsonreq_enum(NOVA, body, "n", vis, NULL,
	    JSONREQ_NULLABLE, &s, NULL), 0);
	assert_null(s);
	FAILS(jsonreq_enum(GL, body, "x", vis, NULL, 0, &s, NULL), "Provided "
	    "object does not match schema 'image': value is not one of public, "
	    "private: 'x'");
	/* Another type fails as an unknown string does. */
	FAILS(jsonreq_enum(GL, body, "i", vis, NULL, 0, &s, NULL), "Provided "
	    "object does not match schema 'image': value is not one of public, "
	    "private: 'i'");
	FAILS(jsonreq_enum(GL, body, "n", vis, "the supported formats", 0, &s,
	    NULL), "Provided object does not match schema 'image': value is "
	    "not one of the supported formats: 'n'");
	FAILS(jsonreq_enum(KS, body, "x", vis, NULL, 0, &s, NULL), "Invalid "
	    "input for field 'x': not one of public, private.");
	FAILS(jsonreq_enum(NOVA, body, "x", vis, NULL, 0, &s, NULL), "Invalid "
	    "input for field/attribute x. Value must be one of public, "
	    "private.");
	FAILS(jsonreq_enum(NOVA, body, "zz", vis, NULL, JSONREQ_REQUIRED, &s,
	    NULL), "Invalid input for field/attribute zz. 'zz' is a required "
	    "property.");
}

static void
test_uuid(void **state)
{
	const char *s = NULL;

	(void)state;
	assert_true(jsonreq_uuid_like("8a3c5d1e-2f4b-4c6d-9e8f-0a1b2c3d4e5f"));
	assert_true(jsonreq_uuid_like("8A3C5D1E-2F4B-4C6D-9E8F-0A1B2C3D4E5F"));
	assert_false(jsonreq_uuid_like(""));
	assert_false(jsonreq_uuid_like("8a3c5d1e-2f4b-4c6d-9e8f-0a1b2c3d4e5"));
	assert_false(jsonreq_uuid_like("8a3c5d1e-2f4b-4c6d-9e8f-0a1b2c3d4e5f0"));
	assert_false(jsonreq_uuid_like("8a3c5d1e2f4b-4c6d-9e8f-0a1b2c3d4e5f0"));
	assert_false(jsonreq_uuid_like("8a3c5d1e-2f4b-4c6d-9e8f-0a1b2c3d4e5g"));

	js("{\"id\": \"8a3c5d1e-2f4b-4c6d-9e8f-0a1b2c3d4e5f\", \"x\": \"no\", "
	    "\"i\": 1, \"n\": null}");
	assert_int_equal(jsonreq_uuid(GL, body, "id", 0, &s, NULL), 0);
	assert_string_equal(s, "8a3c5d1e-2f4b-4c6d-9e8f-0a1b2c3d4e5f");
	assert_int_equal(jsonreq_uuid(GL, body, "n", JSONREQ_NULLABLE, &s,
	    NULL), 0);
	assert_null(s);
	FAILS(jsonreq_uuid(GL, body, "x", 0, &s, NULL), "Provided object does "
	    "not match schema 'image': value does not match the UUID pattern: "
	    "'x'");
	FAILS(jsonreq_uuid(GL, body, "i", 0, &s, NULL), "Provided object does "
	    "not match schema 'image': value does not match the UUID pattern: "
	    "'i'");
	FAILS(jsonreq_uuid(KS, body, "x", 0, &s, NULL), "Invalid input for "
	    "field 'x': not a UUID.");
	FAILS(jsonreq_uuid(NOVA, body, "x", 0, &s, NULL), "Invalid input for "
	    "field/attribute x. Value must be a UUID.");
	FAILS(jsonreq_uuid(KS, body, "zz", JSONREQ_REQUIRED, &s, NULL),
	    "Invalid input for field 'zz': 'zz' is a required property.");
}

static void
test_name(void **state)
{
	char s[300];

	(void)state;
	assert_int_equal(jsonreq_name(NOVA, "name", "vm 1"), 0);
	assert_int_equal(jsonreq_name(NOVA, "name", "h\xc3\xa9"), 0);
	memset(s, 'a', 255);
	s[255] = '\0';
	assert_int_equal(jsonreq_name(NOVA, "name", s), 0);
	s[255] = 'a';
	s[256] = '\0';
	assert_int_equal(jsonreq_name(NOVA, "name", s), -1);
	FAILS(jsonreq_name(NOVA, "name", ""), "Invalid input for "
	    "field/attribute name. Value: . It must be 1 to 255 printable "
	    "characters without leading or trailing whitespace.");
	FAILS(jsonreq_name(NOVA, "name", " vm"), "Invalid input for "
	    "field/attribute name. Value:  vm. It must be 1 to 255 printable "
	    "characters without leading or trailing whitespace.");
	FAILS(jsonreq_name(NOVA, "name", "vm\t"), "Invalid input for "
	    "field/attribute name. Value: vm\t. It must be 1 to 255 printable "
	    "characters without leading or trailing whitespace.");
	FAILS(jsonreq_name(NOVA, "name", "a\x01z"), "Invalid input for "
	    "field/attribute name. Value: a\x01z. It must be 1 to 255 "
	    "printable characters without leading or trailing whitespace.");
	/* Invalid UTF-8: an overlong form and a lone continuation byte. */
	assert_int_equal(jsonreq_name(NOVA, "name", "\xc0\xaf"), -1);
	assert_int_equal(jsonreq_name(NOVA, "name", "a\x80"), -1);
	FAILS(jsonreq_name(KS, "name", ""), "Invalid input for field 'name': "
	    "Value: . It must be 1 to 255 printable characters without "
	    "leading or trailing whitespace.");
}

static void
test_query_int(void **state)
{
	int64_t n = 5;
	bool present = true;

	(void)state;
	assert_int_equal(jsonreq_query_int(NOVA, "limit", NULL, 0, 9, &n,
	    &present), 0);
	assert_false(present);
	assert_int_equal(n, 5);
	assert_int_equal(jsonreq_query_int(NOVA, "limit", "9", 0, 9, &n,
	    &present), 0);
	assert_true(present);
	assert_int_equal(n, 9);
	assert_int_equal(jsonreq_query_int(KS, "limit", "0", 0, 9, &n,
	    &present), 0);
	assert_int_equal(n, 0);
	FAILS(jsonreq_query_int(NOVA, "limit", "10", 0, 9, &n, &present),
	    "Invalid input for query parameters limit. Value: 10.");
	FAILS(jsonreq_query_int(NOVA, "limit", "-1", 0, 9, &n, &present),
	    "Invalid input for query parameters limit. Value: -1.");
	FAILS(jsonreq_query_int(NOVA, "limit", "", 0, 9, &n, &present),
	    "Invalid input for query parameters limit. Value: .");
	FAILS(jsonreq_query_int(NOVA, "limit", "3x", 0, 9, &n, &present),
	    "Invalid input for query parameters limit. Value: 3x.");
	/* The quoted value is cut at 32 bytes. */
	FAILS(jsonreq_query_int(NOVA, "minRam",
	    "0123456789012345678901234567890123456789", 0, INT64_MAX, &n,
	    &present), "Invalid input for query parameters minRam. Value: "
	    "01234567890123456789012345678901.");
	FAILS(jsonreq_query_int(NOVA, "minRam", "99999999999999999999", 0,
	    INT64_MAX, &n, &present), "Invalid input for query parameters "
	    "minRam. Value: 99999999999999999999.");
	FAILS(jsonreq_query_int(KS, "limit", "x", 0, 9, &n, &present),
	    "Invalid value for query parameter limit: x.");
	FAILS(jsonreq_query_int(GL, "limit", "10", 0, 9, &n, &present),
	    "Invalid value for query parameter limit: 10.");
}

static void
test_query_bool(void **state)
{
	static const char *const both[] = { "", "true", "TRUE", "1", "yes",
	    "On", NULL };
	static const char *const neither[] = { "false", "0", "no", "off",
	    "maybe", NULL };
	size_t i;

	(void)state;
	for (i = 0; both[i] != NULL; i++) {
		assert_true(jsonreq_query_bool(KS, both[i]));
		assert_true(jsonreq_query_bool(NOVA, both[i]));
		assert_true(jsonreq_query_bool(GL, both[i]));
	}
	for (i = 0; neither[i] != NULL; i++) {
		assert_false(jsonreq_query_bool(KS, neither[i]));
		assert_false(jsonreq_query_bool(NOVA, neither[i]));
	}
	assert_false(jsonreq_query_bool(KS, NULL));
	assert_false(jsonreq_query_bool(NOVA, NULL));
	/* Nova's bool_from_string also knows "t" and "y"; Keystone not. */
	assert_true(jsonreq_query_bool(NOVA, "t"));
	assert_true(jsonreq_query_bool(NOVA, "Y"));
	assert_false(jsonreq_query_bool(KS, "t"));
	assert_false(jsonreq_query_bool(KS, "y"));
}

/* A query as pairs for jsonreq_query_check. */
struct pairs {
	const char	*const *kv;	/* k0, v0, k1, v1... */
	size_t		 n;
};

static int
pair_at(void *arg, size_t i, const char **k, const char **v)
{
	struct pairs *p = arg;

	*k = p->kv[2 * i];
	*v = p->kv[2 * i + 1];
	return 0;
}

static int
qcheck(bool underscore, const char *const *kv, size_t n)
{
	static const char *const dirs[] = { "asc", "desc", NULL };
	static const struct jsonreq_qparam t[] = {
		{ "limit", JSONREQ_Q_UINT, NULL },
		{ "sort_dir", JSONREQ_Q_ENUM, dirs },
		{ "metadata", JSONREQ_Q_REFUSED, NULL },
		{ "marker", JSONREQ_Q_ANY, NULL },
	};
	struct pairs p = { kv, n };

	return jsonreq_query_check(NOVA, t, 4, underscore, n, pair_at, &p);
}

static void
test_query_check(void **state)
{
	static const char *const ok[] = { "limit", "0", "limit",
	    "99999999999999999999", "sort_dir", "desc", "marker", "",
	    "other", "anything", "_x", "1" };
	static const char *const dir[] = { "sort_dir", "asc", "sort_dir",
	    "up" };
	static const char *const neg[] = { "limit", "-1" };
	static const char *const empty[] = { "limit", "" };
	static const char *const meta[] = { "metadata", "x" };
	static const char *const under[] = { "_x", "1" };

	(void)state;
	assert_int_equal(qcheck(false, ok, 6), 0);
	FAILS(qcheck(false, dir, 2), "Invalid input for query parameters "
	    "sort_dir. Value: up. 'up' is not one of ['asc', 'desc']");
	FAILS(qcheck(false, neg, 1), "Invalid input for query parameters "
	    "limit. Value: -1. '-1' does not match '^[0-9]*$'");
	FAILS(qcheck(false, empty, 1), "Invalid input for query parameters "
	    "limit. Value: . '' is too short");
	FAILS(qcheck(false, meta, 1), "Invalid filter field: metadata.");
	assert_int_equal(qcheck(false, under, 1), 0);
	FAILS(qcheck(true, under, 1), "Invalid filter field: _x.");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_style_of),
		cmocka_unit_test(test_fail),
		cmocka_unit_test_teardown(test_body, teardown),
		cmocka_unit_test_teardown(test_str_ok, teardown),
		cmocka_unit_test_teardown(test_str_required, teardown),
		cmocka_unit_test_teardown(test_str_type, teardown),
		cmocka_unit_test_teardown(test_str_length, teardown),
		cmocka_unit_test_teardown(test_str_utf8, teardown),
		cmocka_unit_test_teardown(test_str_nul_blank, teardown),
		cmocka_unit_test_teardown(test_int, teardown),
		cmocka_unit_test_teardown(test_bool, teardown),
		cmocka_unit_test_teardown(test_enum, teardown),
		cmocka_unit_test_teardown(test_uuid, teardown),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_query_int),
		cmocka_unit_test(test_query_bool),
		cmocka_unit_test(test_query_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
