/*
 * net_garp_test: agent/net/garp. The frames byte for byte (the request as
 * `arping -U` sends it, the reply as `arping -A`: target MAC its sender's,
 * which Linux needs to take a reply as gratuitous); the queue over the
 * test hook (nothing is sent): rounds 2 s apart, GARP_ROUNDS of them, a
 * failed round spent, one namespace's round not holding up another's, a
 * re-add starting over, cancel by address, device and namespace, IPv4
 * only, names checked, the queue bounded. The real send (a socket opened
 * in a router namespace) is integ.net_router's and integ.guest_net's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "garp.h"

static const uint8_t mac[6] = { 0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc };
static const uint8_t ip[4] = { 172, 24, 4, 10 };

static void
test_frames(void **state)
{
	static const uint8_t req[GARP_FRAME_LEN] = {
		/* Ethernet: broadcast, from mac, ARP */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc, 0x08, 0x06,
		/* Ethernet/IPv4, 6 + 4, request */
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		/* sender mac, 172.24.4.10 */
		0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc, 172, 24, 4, 10,
		/* target broadcast, 172.24.4.10 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 172, 24, 4, 10,
		/* padding to 60 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t rep[GARP_FRAME_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
		0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc, 172, 24, 4, 10,
		/* target: the sender again */
		0xfa, 0x16, 0x3e, 0xaa, 0xbb, 0xcc, 172, 24, 4, 10,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t f[GARP_FRAME_LEN];

	(void)state;
	memset(f, 0x55, sizeof(f));
	garp_frame(f, mac, ip, GARP_REQUEST);
	assert_memory_equal(f, req, sizeof(req));
	memset(f, 0x55, sizeof(f));
	garp_frame(f, mac, ip, GARP_REPLY);
	assert_memory_equal(f, rep, sizeof(rep));
}

/* The hook's transcript: "NS DEV IP rRound\n" per call. */
static char sent[4096];
static int fail_next;

static int
hook(const char *ns, const char *dev, const char *a, int round, void *arg)
{
	size_t n = strlen(sent);

	(void)arg;
	snprintf(sent + n, sizeof(sent) - n, "%s %s %s r%d\n", ns, dev, a,
	    round);
	if (fail_next) {
		fail_next = 0;
		return -1;
	}
	return 0;
}

/* sent, sorted by line (garp_run()'s order within a round is the queue's,
 * which cancel reorders), then cleared. */
static const char *
taken(void)
{
	static char out[sizeof(sent)];
	char *lines[64], *save = NULL, *l;
	size_t n = 0, i, j;

	for (l = strtok_r(sent, "\n", &save); l && n < 64;
	    l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			l = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = l;
		}
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	sent[0] = '\0';
	return out;
}

static void
test_queue(void **state)
{
	struct garp *g;
	char a[32];
	int i;

	(void)state;
	garp_set_hook(hook, NULL);
	assert_non_null(g = garp_new());
	assert_int_equal(garp_run(g, 0), -1);

	/* IPv4 only; names are file names under /run/netns and devices. */
	assert_int_equal(garp_add(g, "ns1", "qg-1", "2001:db8::1", 0), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(garp_add(g, "ns1", "qg-1", "172.24.4.10/32", 0), -1);
	assert_int_equal(garp_add(g, "../x", "qg-1", "172.24.4.10", 0), -1);
	assert_int_equal(garp_add(g, "ns1", "", "172.24.4.10", 0), -1);
	assert_int_equal(garp_add(g, "ns1", "qg-0123456789abcdef",
	    "172.24.4.10", 0), -1);
	assert_int_equal(garp_pending(g), 0);

	assert_int_equal(garp_add(g, "ns1", "qg-1", "172.24.4.10", 1000), 0);
	assert_int_equal(garp_add(g, "ns1", "qg-1", "172.24.4.11", 1000), 0);
	assert_int_equal(garp_add(g, "ns2", "qg-2", "172.24.4.12", 1500), 0);
	assert_int_equal(garp_pending(g), 3);
	assert_int_equal(garp_run(g, 999), 1);
	assert_string_equal(taken(), "");
	/* A failed round is spent all the same. */
	fail_next = 1;
	assert_int_equal(garp_run(g, 1000), 500);
	assert_string_equal(taken(), "ns1 qg-1 172.24.4.10 r1\n"
	    "ns1 qg-1 172.24.4.11 r1\n");
	assert_int_equal(garp_run(g, 1500), 1500);
	assert_string_equal(taken(), "ns2 qg-2 172.24.4.12 r1\n");
	/* Late: the round goes now, the next one 2 s after it. */
	assert_int_equal(garp_run(g, 3100), 400);
	assert_string_equal(taken(), "ns1 qg-1 172.24.4.10 r2\n"
	    "ns1 qg-1 172.24.4.11 r2\n");
	/* .11 moved away; .12 added again starts over. */
	garp_cancel(g, "ns1", "qg-1", "172.24.4.11");
	assert_int_equal(garp_add(g, "ns2", "qg-2", "172.24.4.12", 3200), 0);
	assert_int_equal(garp_pending(g), 2);
	assert_int_equal(garp_run(g, 3500), 1600);
	assert_string_equal(taken(), "ns2 qg-2 172.24.4.12 r1\n");
	assert_int_equal(garp_run(g, 5100), 400);
	assert_string_equal(taken(), "ns1 qg-1 172.24.4.10 r3\n");
	/* .10 is done after GARP_ROUNDS. */
	assert_int_equal(garp_pending(g), 1);
	assert_int_equal(garp_run(g, 5500), 2000);
	assert_int_equal(garp_run(g, 7500), -1);
	assert_string_equal(taken(), "ns2 qg-2 172.24.4.12 r2\n"
	    "ns2 qg-2 172.24.4.12 r3\n");
	assert_int_equal(garp_pending(g), 0);

	/* Cancel by device and by namespace. */
	assert_int_equal(garp_add(g, "ns1", "qg-1", "172.24.4.10", 0), 0);
	assert_int_equal(garp_add(g, "ns1", "qg-9", "172.24.4.10", 0), 0);
	assert_int_equal(garp_add(g, "ns2", "qg-2", "172.24.4.12", 0), 0);
	garp_cancel(g, "ns1", "qg-9", NULL);
	assert_int_equal(garp_pending(g), 2);
	garp_cancel(g, "ns2", NULL, NULL);
	assert_int_equal(garp_run(g, 0), 2000);
	assert_string_equal(taken(), "ns1 qg-1 172.24.4.10 r1\n");
	garp_cancel(g, "ns1", NULL, NULL);
	assert_int_equal(garp_run(g, 2000), -1);
	assert_string_equal(taken(), "");

	/* Bounded. */
	for (i = 0; i < GARP_QUEUE_MAX; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(garp_add(g, "ns1", "qg-1", a, 0), 0);
	}
	assert_int_equal(garp_add(g, "ns1", "qg-1", "10.99.0.1", 0), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	/* The same address again is no new entry. */
	assert_int_equal(garp_add(g, "ns1", "qg-1", "10.0.0.1", 0), 0);
	assert_int_equal(garp_pending(g), GARP_QUEUE_MAX);
	garp_cancel(g, "ns1", NULL, NULL);
	assert_int_equal(garp_pending(g), 0);

	garp_free(&g);
	garp_free(&g);
	garp_set_hook(NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
