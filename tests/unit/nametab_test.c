/*
 * Unit tests for common/nametab.c: every object found after the table grew
 * many times, names that collide in the low bits still told apart, and
 * absent names not found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "nametab.h"

struct obj {
	int	 id;
	char	 name[32];
};

#define N	5000

static void
test_grow_and_find(void **state)
{
	static struct obj o[N];
	struct nametab t;
	char name[32];

	(void)state;
	nametab_init(&t, offsetof(struct obj, name));
	assert_null(nametab_find(&t, "absent"));
	for (int i = 0; i < N; i++) {
		o[i].id = i;
		snprintf(o[i].name, sizeof(o[i].name), "host-%05d", i);
		assert_int_equal(nametab_add(&t, &o[i]), 0);
		/* The newest and the first stay found across growth. */
		assert_ptr_equal(nametab_find(&t, o[i].name), &o[i]);
		assert_ptr_equal(nametab_find(&t, o[0].name), &o[0]);
	}
	assert_int_equal(t.n, N);
	assert_true(t.cap >= 2 * N);
	assert_int_equal(t.cap & (t.cap - 1), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "host-%05d", i);
		assert_ptr_equal(nametab_find(&t, name), &o[i]);
	}
	assert_null(nametab_find(&t, "host-5000"));
	assert_null(nametab_find(&t, "host-0000"));
	assert_null(nametab_find(&t, ""));
	nametab_clear(&t);
	assert_null(nametab_find(&t, o[0].name));
	assert_int_equal(t.n, 0);
	/* Usable again after a clear (same key offset). */
	assert_int_equal(nametab_add(&t, &o[7]), 0);
	assert_ptr_equal(nametab_find(&t, "host-00007"), &o[7]);
	nametab_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
