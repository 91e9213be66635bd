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

/* --since: relative and ISO 8601 (UTC, offsets), and what is refused. */
static void
test_parse_since(void **state)
{
	const int64_t now = 1780000000000LL;
	int64_t t;
	static const char *const bad[] = { "", "10", "m", "10x", "-5m", "0m",
	    "1.5h", "10 m", "yesterday", "2026-13-01T00:00:00Z",
	    "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
	    "2026-01-01T24:00:00Z", "2026-01-01", "2026-01-01T10",
	    "2026-01-01T10:00:00+1:00", "2026-01-01T10:00:00.Z",
	    "2026-01-01T10:00:00Zjunk", "99999999999m", NULL };

	(void)state;
	assert_int_equal(clock_parse_since("30s", now, &t), 0);
	assert_true(t == now - 30000);
	assert_int_equal(clock_parse_since("10m", now, &t), 0);
	assert_true(t == now - 600000);
	assert_int_equal(clock_parse_since("2h", now, &t), 0);
	assert_true(t == now - 7200000);
	assert_int_equal(clock_parse_since("1d", now, &t), 0);
	assert_true(t == now - 86400000);
	assert_int_equal(clock_parse_since("1970-01-01T00:00:00Z", now, &t), 0);
	assert_true(t == 0);
	assert_int_equal(clock_parse_since("2026-01-31T12:00:00Z", now, &t), 0);
	assert_true(t == 1769860800000LL);
	assert_int_equal(clock_parse_since("2026-01-31 12:00", now, &t), 0);
	assert_true(t == 1769860800000LL);
	assert_int_equal(clock_parse_since("2026-01-31T12:00:00.25Z", now, &t),
	    0);
	assert_true(t == 1769860800250LL);
	assert_int_equal(clock_parse_since("2026-01-31T14:00:00+02:00", now,
	    &t), 0);
	assert_true(t == 1769860800000LL);
	assert_int_equal(clock_parse_since("2026-01-31T11:30:00-00:30", now,
	    &t), 0);
	assert_true(t == 1769860800000LL);
	assert_int_equal(clock_parse_since("2024-02-29T00:00:00Z", now, &t), 0);
	assert_true(t == 1709164800000LL);
	for (int i = 0; bad[i] != NULL; i++) {
		t = 42;
		if (clock_parse_since(bad[i], now, &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(t == 42);
	}
	assert_int_equal(clock_parse_since(NULL, now, &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wall_is_epoch_ms),
		cmocka_unit_test(test_parse_since),
		cmocka_unit_test(test_mono_is_monotonic_ms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
