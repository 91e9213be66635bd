/* Unit tests for common/ifname.c: names made from ids, and which names
 * the agent may treat as its own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ifname.h"

static void
test_of(void **state)
{
	char n[IFNAME_MAX + 1];

	(void)state;
	assert_int_equal(ifname_of(IFNAME_BRIDGE_PREFIX,
	    "7a2b3c40-0000-4000-8000-0000000000a1", n), 0);
	assert_string_equal(n, "tsb7a2b3c40000");
	assert_int_equal(ifname_of(IFNAME_TAP_PREFIX,
	    "0123abcd-4567-89ef-a0b1-c2d3e4f5a6b7", n), 0);
	assert_string_equal(n, "tap0123abcd456");
	assert_int_equal(strlen(n), 14);
	assert_int_equal(ifname_of(IFNAME_VXLAN_PREFIX, "not-a-uuid", n), -1);
	assert_int_equal(ifname_of(IFNAME_VXLAN_PREFIX, NULL, n), -1);
}

static void
test_owned(void **state)
{
	char n[IFNAME_MAX + 1];

	(void)state;
	assert_int_equal(ifname_of(IFNAME_VXLAN_PREFIX,
	    "7a2b3c40-0000-4000-8000-0000000000a1", n), 0);
	assert_true(ifname_owned(IFNAME_VXLAN_PREFIX, n));
	assert_false(ifname_owned(IFNAME_BRIDGE_PREFIX, n));
	assert_true(ifname_owned(IFNAME_BRIDGE_PREFIX, "tsb0123456789a"));
	/* an operator's links that merely start like ours */
	assert_false(ifname_owned(IFNAME_BRIDGE_PREFIX, "tsbnt0"));
	assert_false(ifname_owned(IFNAME_BRIDGE_PREFIX, "tsbackup0"));
	assert_false(ifname_owned(IFNAME_BRIDGE_PREFIX, "tsb0123456789"));
	assert_false(ifname_owned(IFNAME_BRIDGE_PREFIX, "tsb0123456789ab"));
	assert_false(ifname_owned(IFNAME_BRIDGE_PREFIX, "tsb0123456789A"));
	assert_false(ifname_owned(IFNAME_BRIDGE_PREFIX, "tsb012345678-a"));
	assert_false(ifname_owned(IFNAME_TAP_PREFIX, "tapx"));
	assert_false(ifname_owned(IFNAME_TAP_PREFIX, ""));
	assert_false(ifname_owned(IFNAME_TAP_PREFIX, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_of),
		cmocka_unit_test(test_owned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
