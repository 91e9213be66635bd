/*
 * replygate_test: the agent's reply gate (agent/replygate.h) alone, then
 * with the census (agent/virt/census.h) on libvirt's in-process test
 * driver while a thread streams replies, as a backlog after a partition
 * does (A7, docs/RELIABILITY.md): a census asked for with the replies held
 * is current (its tag is the count when it is in) within two reads, and
 * the held replies go out after it, in order, each counted once.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "err.h"
#include "replygate.h"
#include "virt/census.h"
#include "virt/virt.h"

/* What post() was handed: the first byte of each reply, in order. */
static pthread_mutex_t	mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char	posted[1 << 16];
static size_t		nposted;

static int
post(const void *buf, size_t len, void *arg)
{
	(void)arg;
	if (len < 1)
		return -1;	/* the stream thread counts it (no cmocka there) */
	pthread_mutex_lock(&mu);
	if (nposted < sizeof(posted))
		posted[nposted++] = *(const unsigned char *)buf;
	pthread_mutex_unlock(&mu);
	return 0;
}

static size_t
nposted_now(void)
{
	size_t n;

	pthread_mutex_lock(&mu);
	n = nposted;
	pthread_mutex_unlock(&mu);
	return n;
}

static void
test_hold_release(void **state)
{
	struct replygate *g;
	unsigned char b;

	(void)state;
	nposted = 0;
	assert_non_null(g = replygate_new(post, NULL));
	b = 1;
	assert_int_equal(replygate_send(g, &b, 1), 0);
	assert_int_equal(replygate_count(g), 1);
	assert_int_equal(nposted_now(), 1);
	replygate_hold(g);
	assert_true(replygate_held_since(g) > 0);
	for (b = 2; b <= 4; b++)
		assert_int_equal(replygate_send(g, &b, 1), 0);
	/* held: neither counted nor posted */
	assert_int_equal(replygate_count(g), 1);
	assert_int_equal(nposted_now(), 1);
	replygate_hold(g);		/* twice is once */
	replygate_release(g);
	assert_int_equal(replygate_held_since(g), 0);
	assert_int_equal(replygate_count(g), 4);
	assert_int_equal(nposted_now(), 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(posted[i], i + 1);
	replygate_release(g);		/* not held: nothing */
	assert_int_equal(nposted_now(), 4);
	/* what is held at the end is dropped */
	replygate_hold(g);
	b = 9;
	assert_int_equal(replygate_send(g, &b, 1), 0);
	replygate_free(&g);
	assert_null(g);
	replygate_free(&g);
	assert_int_equal(nposted_now(), 4);
}

/* ---- with the census, replies streaming ---------------------------------- */

static int			pfd[2];
static struct replygate		*gate;
static _Atomic int		stop_stream;
static _Atomic int		stream_failed;

static void
ready(void *arg)
{
	ssize_t n;

	(void)arg;
	n = write(pfd[1], "r", 1);
	(void)n;
}

static void *
stream(void *arg)
{
	unsigned char b = 7;

	(void)arg;
	while (!stop_stream) {
		if (replygate_send(gate, &b, 1) != 0)
			stream_failed = 1;
		usleep(20);
	}
	return NULL;
}

/* The next census (waits up to 5 s): 1 when current (its tag is the
 * count now), 0 when stale. */
static int
next_census(struct census *c)
{
	struct pollfd p = { .fd = pfd[0], .events = POLLIN };
	struct census_snap s;
	char ch;
	int cur;

	for (;;) {
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(pfd[0], &ch, 1), 1);
		if (census_take(c, &s) == 1)
			break;
	}
	cur = s.tag == replygate_count(gate);
	census_snap_clear(&s);
	return cur;
}

/*
 * The agent's loop on a stale census asks again with the count now. With
 * replies streaming, a census asked for without the hold may be stale
 * every time (counted, printed; how often depends on the machine); one
 * asked for with the hold is current by the second read at the latest
 * (the first may have begun before the hold), and the replies held
 * meanwhile go out after it.
 */
static void
test_census_under_stream(void **state)
{
	struct virt *v;
	struct census *c;
	pthread_t th;
	int stale = 0, reads = 0, cur = 0;
	size_t before;

	(void)state;
	nposted = 0;
	assert_int_equal(pipe(pfd), 0);
	v = virt_open(&(struct virt_opts){ .uri = "test:///default",
	    .instances_path = "/tmp" });
	if (v == NULL)
		fail_msg("virt_open: %s", err_msg());
	assert_non_null(c = census_new(v, ready, NULL));
	assert_non_null(gate = replygate_new(post, NULL));
	stop_stream = 0;
	assert_int_equal(pthread_create(&th, NULL, stream, NULL), 0);
	for (int64_t until = clock_mono_ms() + 10000;
	    replygate_count(gate) < 100 && clock_mono_ms() < until;)
		usleep(100);
	assert_true(replygate_count(gate) >= 100);
	for (int i = 0; i < 20; i++) {
		census_request(c, replygate_count(gate));
		stale += !next_census(c);
	}
	printf("# without the hold: %d of 20 censuses stale\n", stale);
	replygate_hold(gate);
	census_request(c, replygate_count(gate));
	while (!cur && reads < 2) {
		cur = next_census(c);
		reads++;
		if (!cur)
			census_request(c, replygate_count(gate));
	}
	assert_true(cur);
	before = nposted_now();
	/* Still held: a reply queues, nothing more goes out (one of the
	 * test's own, so that one is surely held whatever the stream thread
	 * managed meanwhile on a loaded machine). */
	assert_int_equal(replygate_send(gate, &(unsigned char){ 8 }, 1), 0);
	assert_int_equal(nposted_now(), before);
	replygate_release(gate);
	assert_true(nposted_now() > before);
	stop_stream = 1;
	pthread_join(th, NULL);
	assert_false(stream_failed);
	assert_int_equal(replygate_count(gate), nposted_now());
	census_free(&c);
	replygate_free(&gate);
	virt_free(&v);
	close(pfd[0]);
	close(pfd[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_release),
		cmocka_unit_test(test_census_under_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
