/* Unit tests for common/uuid.c: the canonical form only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "uuid.h"

static void
test_canonical(void **state)
{
	(void)state;
	assert_true(uuid_valid("00000000-0000-0000-0000-000000000000"));
	assert_true(uuid_valid("0123abcd-4567-89ef-a0b1-c2d3e4f5a6b7"));
	assert_true(uuid_valid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
}

static void
test_refused(void **state)
{
	(void)state;
	assert_false(uuid_valid(NULL));
	assert_false(uuid_valid(""));
	/* one character too many, too few */
	assert_false(uuid_valid("00000000-0000-0000-0000-0000000000000"));
	assert_false(uuid_valid("00000000-0000-0000-0000-00000000000"));
	/* upper case: callers that take it fold the case first */
	assert_false(uuid_valid("0123ABCD-4567-89ef-a0b1-c2d3e4f5a6b7"));
	assert_false(uuid_valid("0123abcd-4567-89ef-a0b1-c2d3e4f5a6bF"));
	/* dashes missing, moved, or where a digit belongs */
	assert_false(uuid_valid("0123abcd456789efa0b1c2d3e4f5a6b7"));
	assert_false(uuid_valid("0123abcd-456789ef-a0b1-c2d3e4f5-a6b7"));
	assert_false(uuid_valid("0123abc--4567-89ef-a0b1-c2d3e4f5a6b7"));
	assert_false(uuid_valid("0123abcd_4567-89ef-a0b1-c2d3e4f5a6b7"));
	/* other forms */
	assert_false(uuid_valid("{0123abcd-4567-89ef-a0b1-c2d3e4f5a6b}"));
	assert_false(uuid_valid("0123abcg-4567-89ef-a0b1-c2d3e4f5a6b7"));
	assert_false(uuid_valid(" 0123abcd-4567-89ef-a0b1-c2d3e4f5a6b"));
	/* a NUL inside stops the check */
	assert_false(uuid_valid("0123abcd-4567\0" "89ef-a0b1-c2d3e4f5a6b7"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
