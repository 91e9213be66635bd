/* Unit tests for common/clock.c: units, and which clock is which. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "clock.h"

static void
test_wall_is_epoch_ms(void **state)
{
	int64_t before, ms, after;

	(void)state;
	before = (int64_t)time(NULL) * 1000;
	ms = clock_wall_ms();
	after = (int64_t)time(NULL) * 1000 + 1000;
	assert_true(ms >= before && ms < after);
}

static void
test_mono_is_monotonic_ms(void **state)
{
	struct timespec ts, pause = { 0, 20 * 1000 * 1000 };
	int64_t a, b, ref;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ref = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	a = clock_mono_ms();
	assert_true(a >= ref && a - ref < 1000);
	nanosleep(&pause, NULL);
	b = clock_mono_ms();
	assert_true(b - a >= 20 && b - a < 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wall_is_epoch_ms),
		cmocka_unit_test(test_mono_is_monotonic_ms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
