/* Unit tests for common/buf.c: growth, NUL termination, printf of any
 * length, sticky failure, reset and free. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"

static void
test_append_grows_and_terminates(void **state)
{
	struct buf b = { 0 };
	char big[5000];
	size_t i;

	(void)state;
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_null(b.data);		/* nothing asked, nothing held */
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	assert_int_equal(b.len, 2);
	assert_string_equal((char *)b.data, "ab");
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 10; i++)
		assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 2 + 10 * sizeof(big));
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(b.data[b.len - 1], 'x');
	/* binary data: embedded NULs are kept */
	buf_reset(&b);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	buf_free(NULL);
}

static void
test_puts_printf(void **state)
{
	struct buf b = { 0 };
	char big[1000];

	(void)state;
	assert_int_equal(buf_puts(&b, "<a n='"), 0);
	assert_int_equal(buf_printf(&b, "%u'>%s", 42u, "x"), 0);
	assert_string_equal((char *)b.data, "<a n='42'>x");
	/* longer than any room held: the output is not cut */
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, strlen("<a n='42'>x") + 2 + strlen(big));
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	buf_reset(&b);
	assert_string_equal((char *)b.data, "");
	/* exactly filling the room held, then one more */
	buf_free(&b);
	assert_int_equal(buf_reserve(&b, 0), 0);
	assert_true(b.cap - 1 < sizeof(big));
	assert_int_equal(buf_printf(&b, "%.*s", (int)(b.cap - 1), big), 0);
	assert_int_equal(b.len, b.cap - 1);
	assert_int_equal(buf_printf(&b, "z"), 0);
	assert_int_equal(b.data[b.len - 1], 'z');
	assert_int_equal(b.data[b.len], '\0');
	/* printf into an empty buffer */
	buf_free(&b);
	assert_int_equal(buf_printf(&b, "%d", -7), 0);
	assert_string_equal((char *)b.data, "-7");
	buf_free(&b);
}

static void
test_reserve(void **state)
{
	struct buf b = { 0 };
	uint8_t *p;

	(void)state;
	assert_int_equal(buf_reserve(&b, 0), 0);
	assert_non_null(b.data);
	assert_string_equal((char *)b.data, "");	/* "" once allocated */
	assert_int_equal(buf_reserve(&b, 1000), 0);
	assert_true(b.cap >= 1001);
	p = b.data;
	assert_int_equal(buf_append(&b, p, 0), 0);
	memset(b.data, 'q', 1000);	/* the room may be written directly */
	b.len = 1000;
	b.data[b.len] = '\0';
	assert_ptr_equal(b.data, p);	/* reserved room: no move */
	buf_free(&b);
}

static void
test_failure_sticks(void **state)
{
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(buf_puts(&b, "keep"), 0);
	/* a request that cannot be met fails, records, and sticks */
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 2), -1);
	assert_true(b.failed);
	assert_int_equal(err_last()->code, TS_ENOMEM);
	assert_int_equal(buf_puts(&b, "more"), -1);
	assert_int_equal(buf_append(&b, "", 0), -1);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	assert_string_equal((char *)b.data, "keep");	/* contents intact */
	/* reset clears the failure and keeps the storage */
	buf_reset(&b);
	assert_false(b.failed);
	assert_int_equal(buf_puts(&b, "again"), 0);
	assert_string_equal((char *)b.data, "again");
	buf_free(&b);
	assert_false(b.failed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_grows_and_terminates),
		cmocka_unit_test(test_puts_printf),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_failure_sticks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
