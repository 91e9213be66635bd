/*
 * handlers_compute_test: the Compute API's handlers (controller/compute/)
 * over HTTP against the in-process controller of ctltest.h.
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

static struct ctltest *T;

static void
test_smoke(void **state)
{
	(void)state;
	assert_int_equal(ctltest_call(T, CT_COMPUTE, CT_MEMBER, "GET",
	    "/v2.1/flavors", NULL, NULL), 200);
	printf("%s\n", T->r.raw);
	assert_int_equal(ctltest_call(T, CT_COMPUTE, CT_MEMBER, "GET",
	    "/v2.1/servers/nope", NULL, NULL), 404);
	printf("%s | %s\n", T->r.raw, ctltest_errmsg(T));
}

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
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smoke),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
