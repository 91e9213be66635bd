/* Unit tests for common/utf8.c: RFC 3629 boundaries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

static size_t
seq(const char *s, size_t n)
{
	return utf8_seq((const unsigned char *)s, n);
}

static void
test_seq_lengths(void **state)
{
	(void)state;
	assert_int_equal(seq("a", 1), 1);
	assert_int_equal(seq("", 1), 1);		/* NUL */
	assert_int_equal(seq("\x7f", 1), 1);
	assert_int_equal(seq("\xc2\x80", 2), 2);	/* U+0080 */
	assert_int_equal(seq("\xdf\xbf", 2), 2);	/* U+07FF */
	assert_int_equal(seq("\xe0\xa0\x80", 3), 3);	/* U+0800 */
	assert_int_equal(seq("\xed\x9f\xbf", 3), 3);	/* U+D7FF */
	assert_int_equal(seq("\xee\x80\x80", 3), 3);	/* U+E000 */
	assert_int_equal(seq("\xef\xbf\xbd", 3), 3);	/* U+FFFD */
	assert_int_equal(seq("\xf0\x90\x80\x80", 4), 4);	/* U+10000 */
	assert_int_equal(seq("\xf4\x8f\xbf\xbf", 4), 4);	/* U+10FFFF */
	/* only the first sequence counts */
	assert_int_equal(seq("\xc3\xa9xyz", 5), 2);
}

static void
test_seq_invalid(void **state)
{
	(void)state;
	assert_int_equal(seq("\x80", 1), 0);		/* lone continuation */
	assert_int_equal(seq("\xbf", 1), 0);
	assert_int_equal(seq("\xc0\x80", 2), 0);	/* overlong NUL */
	assert_int_equal(seq("\xc1\xbf", 2), 0);	/* overlong */
	assert_int_equal(seq("\xe0\x9f\xbf", 3), 0);	/* overlong */
	assert_int_equal(seq("\xf0\x8f\xbf\xbf", 4), 0);	/* overlong */
	assert_int_equal(seq("\xed\xa0\x80", 3), 0);	/* U+D800 */
	assert_int_equal(seq("\xed\xbf\xbf", 3), 0);	/* U+DFFF */
	assert_int_equal(seq("\xf4\x90\x80\x80", 4), 0);	/* U+110000 */
	assert_int_equal(seq("\xf5\x80\x80\x80", 4), 0);
	assert_int_equal(seq("\xff", 1), 0);
	assert_int_equal(seq("\xc3" "a", 2), 0);	/* bad continuation */
	assert_int_equal(seq("\xe2\x82" "a", 3), 0);
	/* cut off by n, even if the bytes after are there */
	assert_int_equal(seq("\xc3\xa9", 1), 0);
	assert_int_equal(seq("\xe2\x82\xac", 2), 0);
	assert_int_equal(seq("\xf0\x9f\x98\x80", 3), 0);
}

static void
test_valid_strings(void **state)
{
	(void)state;
	assert_true(utf8_valid(""));
	assert_true(utf8_valid("plain ascii\n\t"));
	assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_false(utf8_valid("bad \xff utf8"));
	assert_false(utf8_valid("cut \xe2\x82"));	/* ends mid-sequence */
	assert_false(utf8_valid("\xed\xa0\x80"));
	assert_false(utf8_valid("x\xc0\xafy"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_lengths),
		cmocka_unit_test(test_seq_invalid),
		cmocka_unit_test(test_valid_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
