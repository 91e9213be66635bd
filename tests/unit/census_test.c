/*
 * agent/virt/census: the heartbeat's libvirt reads on a thread of their
 * own, on libvirt's in-process test driver. The bus loop's side of the
 * contract: nothing before a request; a request is answered through the
 * callback (waited for on a pipe, bounded); what is taken is gone; a
 * request made while a census runs gets a census of its own.
 */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "err.h"
#include "virt/census.h"
#include "virt/virt.h"

#define URI	"test:///default"

static int pfd[2];

static void
ready(void *arg)
{
	ssize_t n;

	(void)arg;
	n = write(pfd[1], "r", 1);
	(void)n;
}

/* 1 when the callback came within ms (its byte read), else 0. */
static int
woken(int ms)
{
	struct pollfd p = { .fd = pfd[0], .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) != 1)
		return 0;
	return read(pfd[0], &c, 1) == 1;
}

static void
test_request_take(void **state)
{
	struct virt *v;
	struct census *c;
	struct census_snap s;
	int got = 0;

	(void)state;
	assert_int_equal(pipe2(pfd, O_CLOEXEC | O_NONBLOCK), 0);
	v = virt_open(&(struct virt_opts){ .uri = URI,
	    .instances_path = "/tmp" });
	if (v == NULL)
		fail_msg("virt_open: %s", err_msg());
	assert_non_null(c = census_new(v, ready, NULL));

	/* Nothing until asked. */
	assert_int_equal(census_take(c, &s), 0);
	assert_int_equal(census_busy_ms(c, clock_mono_ms()), 0);

	census_request(c, 7);
	assert_int_equal(woken(10000), 1);
	assert_int_equal(census_take(c, &s), 1);
	assert_int_equal(s.tag, 7);
	assert_true(s.host.vcpus > 0);
	assert_true(s.host.memory_mb > 0);
	/* The test driver's one domain, "test", running. */
	assert_int_equal(s.n, 1);
	assert_string_equal(s.guests[0].name, "test");
	assert_int_equal(s.guests[0].power_state, VIRT_POWER_RUNNING);
	census_snap_clear(&s);
	assert_null(s.guests);
	/* Taken: gone. */
	assert_int_equal(census_take(c, &s), 0);

	/* Two requests back to back: one census, or one under way and one
	 * after it; either way a census to take, and at most two wake-ups. */
	census_request(c, 7);
	census_request(c, 7);
	assert_int_equal(woken(10000), 1);
	got = census_take(c, &s);
	census_snap_clear(&s);
	if (woken(300))
		got += census_take(c, &s);
	census_snap_clear(&s);
	assert_true(got >= 1 && got <= 2);
	assert_int_equal(census_take(c, &s), 0);

	census_free(&c);
	assert_null(c);
	census_free(&c);
	census_free(NULL);
	virt_free(&v);
	close(pfd[0]);
	close(pfd[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
