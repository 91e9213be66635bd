/*
 * zmtp_hello_cost: CPU the controller's bus thread spends on one
 * unauthenticated CurveZMQ HELLO (greeting, HELLO opened, WELCOME
 * boxed), the work a stranger can make it do per TCP connection at no
 * cost of its own (one canned HELLO replays: nothing in it is fresh).
 * The bus runs these handshakes on its own thread (libzmq ran them on
 * its I/O threads). Prints the process CPU time per HELLO.
 *
 * Run: build/bench/zmtp_hello_cost [N]   (N HELLOs, default 3000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "zmtp.h"

static int
refuse(const uint8_t key[ZMTP_KEY_LEN], char *host, size_t len, void *arg)
{
	(void)key;
	(void)host;
	(void)len;
	(void)arg;
	return -1;
}

static double
cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static const uint8_t head[12] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f,
	    3, 1 };
	uint8_t cp[32], cs[32], in[64 + 202], nonce[24], zero[64];
	struct zmtp_cfg cfg;
	int n = argc > 1 ? atoi(argv[1]) : 3000;
	double t0, el;

	if (sodium_init() < 0 || n < 1)
		return 1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.curve = 1;
	cfg.max_msg_size = 1 << 20;
	cfg.allow = refuse;
	crypto_box_keypair(cfg.public_key, cfg.secret_key);
	crypto_box_keypair(cp, cs);

	/* greeting, then HELLO in a command frame */
	memset(in, 0, sizeof(in));
	memcpy(in, head, sizeof(head));
	memcpy(in + 12, "CURVE", 5);
	in[64] = 4;
	in[65] = 200;
	memcpy(in + 66, "\5HELLO\1\0", 8);
	memcpy(in + 66 + 80, cp, 32);
	memcpy(nonce, "CurveZMQHELLO---", 16);
	memset(nonce + 16, 0, 8);
	nonce[23] = 1;
	memcpy(in + 66 + 112, nonce + 16, 8);
	memset(zero, 0, sizeof(zero));
	if (crypto_box_easy(in + 66 + 120, zero, 64, nonce, cfg.public_key,
	    cs) != 0)
		return 1;

	t0 = cpu_s();
	for (int i = 0; i < n; i++) {
		struct zmtp_conn *c = zmtp_conn_new(&cfg);
		struct zmtp_frame f;
		const uint8_t *o;
		uint8_t *p;
		size_t room;

		if (c == NULL || zmtp_conn_rspace(c, &p, &room) == -1 ||
		    room < sizeof(in)) {
			fprintf(stderr, "zmtp: %s\n", err_msg());
			return 1;
		}
		memcpy(p, in, sizeof(in));
		zmtp_conn_rdone(c, sizeof(in));
		/* greeting (64) and WELCOME (2 + 168) to send */
		if (zmtp_conn_next(c, &f) != ZMTP_NONE ||
		    zmtp_conn_pending(c, &o) != 64 + 2 + 168) {
			fprintf(stderr, "no WELCOME: %s\n", err_msg());
			return 1;
		}
		zmtp_conn_free(&c);
	}
	el = cpu_s() - t0;
	printf("%d HELLOs: %.1f us CPU each, %.0f per CPU second\n", n,
	    el / n * 1e6, n / el);
	return 0;
}
