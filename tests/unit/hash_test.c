/*
 * Unit tests for common/hash.c: FNV-1a's published vectors, so that a
 * change of the function (which would rename namespaces and zones derived
 * from it) cannot pass unnoticed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hash.h"

static void
test_fnv32_vectors(void **state)
{
	(void)state;
	assert_int_equal(hash_fnv32(""), 0x811c9dc5u);
	assert_int_equal(hash_fnv32("a"), 0xe40c292cu);
	assert_int_equal(hash_fnv32("foobar"), 0xbf9cf968u);
}

static void
test_fnv64_vectors(void **state)
{
	(void)state;
	assert_true(hash_fnv64("") == 0xcbf29ce484222325ULL);
	assert_true(hash_fnv64("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_fnv64("foobar") == 0x85944171f73967e8ULL);
}

/* Built piece by piece, the same as at once. */
static void
test_fnv64_add(void **state)
{
	uint64_t h;

	(void)state;
	h = hash_fnv64_add(HASH_FNV64_INIT, "foo", 3);
	h = hash_fnv64_add(h, "bar", 3);
	assert_true(h == hash_fnv64("foobar"));
	assert_true(hash_fnv64_add(h, NULL, 0) == h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv32_vectors),
		cmocka_unit_test(test_fnv64_vectors),
		cmocka_unit_test(test_fnv64_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
