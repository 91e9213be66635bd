/*
 * jsonout_test: controller/http/jsonout writes what jansson's
 * json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) writes for the same value:
 * every single byte 0x01-0x7f in a string, UTF-8 of each length, mixed
 * runs, integers at their limits; jsonout_chars() the same text without
 * the quotes, also in pieces; and refuses what jansson refuses
 * (invalid UTF-8), failing the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "utf8.h"
#include "err.h"
#include "http/jsonout.h"

static void
same_str(const char *s)
{
	struct buf b = { 0 };
	json_t *j = json_string(s);
	char *want;

	assert_non_null(j);
	want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(want);
	assert_int_equal(jsonout_str(&b, s), 0);
	assert_int_equal(b.len, strlen(want));
	assert_string_equal((const char *)b.data, want);
	/* jsonout_chars(): the same without the quotes */
	buf_free(&b);
	assert_int_equal(jsonout_chars(&b, s), 0);
	assert_int_equal(b.len, strlen(want) - 2);
	assert_memory_equal(b.data, want + 1, b.len);
	free(want);
	json_decref(j);
	buf_free(&b);
}

/* A link's href escaped in pieces (a prefix once, then an id) is the text
 * of the whole: jsonout_chars() of each piece valid on its own. */
static void
test_chars_pieces(void **state)
{
	static const char *const pre[] = { "http://h:1/v2.1/",
	    "http://\xc3\xa9\"q\\/p\t/", "", NULL };
	static const char *const id[] = { "3f1c2a9e-0000-4000-8000-000000000001",
	    "b1", "\xe2\x82\xac\x01", "", NULL };
	char whole[256];

	(void)state;
	for (const char *const *p = pre; *p != NULL; p++)
		for (const char *const *q = id; *q != NULL; q++) {
			struct buf a = { 0 }, b = { 0 };

			snprintf(whole, sizeof(whole), "%s%s", *p, *q);
			assert_int_equal(jsonout_str(&a, whole), 0);
			assert_int_equal(buf_append(&b, "\"", 1), 0);
			assert_int_equal(jsonout_chars(&b, *p), 0);
			assert_int_equal(jsonout_chars(&b, *q), 0);
			assert_int_equal(buf_append(&b, "\"", 1), 0);
			assert_int_equal(a.len, b.len);
			assert_memory_equal(a.data, b.data, a.len);
			buf_free(&a);
			buf_free(&b);
		}
}

static void
test_strings(void **state)
{
	char s[8];
	static const char *const cases[] = { "", "plain", "a\"b\\c/d",
	    "tab\there\nnl\r\f\b", "\x01\x1f\x7f", "caf\xc3\xa9",
	    "\xe2\x82\xac euro", "\xf0\x9f\x98\x80 emoji", "x\xc2\x80y",
	    "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "long run then \x02 escape",
	    NULL };

	(void)state;
	for (int c = 1; c < 0x80; c++) {
		snprintf(s, sizeof(s), "a%cb", c);
		same_str(s);
		snprintf(s, sizeof(s), "%c", c);
		same_str(s);
	}
	for (const char *const *p = cases; *p != NULL; p++)
		same_str(*p);
}

static void
test_invalid_utf8(void **state)
{
	static const char *const bad[] = { "\xff", "a\xc3", "\xc0\x80",
	    "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82", NULL };

	(void)state;
	for (const char *const *p = bad; *p != NULL; p++) {
		struct buf b = { 0 };

		assert_null(json_string(*p));
		assert_int_equal(jsonout_str(&b, *p), -1);
		assert_int_equal(err_code(), TS_EINVALID);
		assert_true(b.failed);
		buf_free(&b);
		assert_int_equal(jsonout_chars(&b, *p), -1);
		assert_int_equal(err_code(), TS_EINVALID);
		assert_true(b.failed);
		/* The failure sticks. */
		assert_int_equal(jsonout_int(&b, 1), -1);
		buf_free(&b);
	}
}

/* utf8_clean(): what an agent sends is made showable. */
static void
test_utf8_clean(void **state)
{
	static const struct { const char *in; size_t max; const char *out; }
	    c[] = {
		{ "plain", 100, "plain" },
		{ "bad \xff byte", 100, "bad ? byte" },
		{ "cut \xe2\x82", 100, "cut ??" },
		{ "\xc0\x80", 100, "??" },
		{ "\xed\xa0\x80x", 100, "???x" },
		{ "ab\xe2\x82\xac", 4, "ab" },	/* not half a euro sign */
		{ "ab\xe2\x82\xac", 5, "ab\xe2\x82\xac" },
		{ "abcdef", 3, "abc" },
		{ "", 0, "" },
	};
	char s[64];

	(void)state;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		struct buf b = { 0 };

		snprintf(s, sizeof(s), "%s", c[k].in);
		assert_int_equal(utf8_clean(s, c[k].max), strlen(c[k].out));
		assert_string_equal(s, c[k].out);
		assert_true(utf8_valid(s));
		assert_int_equal(jsonout_str(&b, s), 0);
		buf_free(&b);
	}
}

static void
test_ints_null_keys(void **state)
{
	static const int64_t v[] = { 0, 1, -1, 9, 10, 4096, -4096, INT32_MAX,
	    INT32_MIN, INT64_MAX, INT64_MIN };
	struct buf b = { 0 };

	(void)state;
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		json_t *j = json_integer(v[k]);
		char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

		buf_reset(&b);
		assert_int_equal(jsonout_int(&b, v[k]), 0);
		assert_string_equal((const char *)b.data, want);
		free(want);
		json_decref(j);
	}
	buf_reset(&b);
	assert_int_equal(jsonout_key(&b, "id"), 0);
	assert_int_equal(jsonout_str_or_null(&b, NULL), 0);
	assert_string_equal((const char *)b.data, "\"id\":null");
	buf_reset(&b);
	assert_int_equal(jsonout_str_or_null(&b, "x"), 0);
	assert_string_equal((const char *)b.data, "\"x\"");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_chars_pieces),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_utf8_clean),
		cmocka_unit_test(test_ints_null_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
