/*
 * libFuzzer target for common/zmtp.c: the bytes a TCP peer of the
 * controller's bus could send.
 *
 * The first input byte picks the mode: bit 0 CURVE (else NULL), bit 1
 * "prefix": a valid client greeting (and, with NULL, a DEALER's READY)
 * goes first, so that the rest reaches HELLO parsing (CURVE: the fuzzer
 * cannot get through the crypto) or the frames, PINGs and commands after
 * the handshake (NULL). The second byte seeds the chunk sizes: the input
 * is fed in arbitrary pieces, as reads would return it. Every message
 * received is echoed back with zmtp_conn_send(), and the output drained
 * in pieces too. Checked: nothing beyond max_msg_size is delivered, the
 * room rspace() offers is never 0, a dead connection stays dead, and
 * once the output is written the connection holds at most one frame's
 * input and its small state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "zmtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_MSG	4096

static int
allow_all(const uint8_t key[ZMTP_KEY_LEN], char *host, size_t len, void *arg)
{
	(void)key;
	(void)arg;
	snprintf(host, len, "fuzz");
	return 0;
}

static uint32_t
rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* 0 while alive, 1 once dead. */
static int
feed(struct zmtp_conn *c, const uint8_t *d, size_t len, uint32_t *seed)
{
	struct zmtp_frame f;
	const uint8_t *p;
	uint8_t *sp;
	size_t room, n, w;
	int ev;

	while (len > 0) {
		if (zmtp_conn_rspace(c, &sp, &room) == -1)
			return 1;
		if (room == 0)
			abort();
		n = 1 + rnd(seed) % 64;
		if (rnd(seed) % 8 == 0)
			n = room;
		if (n > room)
			n = room;
		if (n > len)
			n = len;
		memcpy(sp, d, n);
		zmtp_conn_rdone(c, n);
		d += n;
		len -= n;
		while ((ev = zmtp_conn_next(c, &f)) > 0) {
			if (ev == ZMTP_READY) {
				if (zmtp_conn_host(c) == NULL ||
				    zmtp_conn_rid(c) == NULL)
					abort();
				continue;
			}
			if (f.len > MAX_MSG)
				abort();
			if (zmtp_conn_send(c, f.data, f.len) == -1)
				abort();
		}
		/* drain part of the output */
		n = zmtp_conn_pending(c, &p);
		w = n == 0 ? 0 : rnd(seed) % (n + 1);
		if (w > 0)
			(void)p[w - 1];
		zmtp_conn_sent(c, w);
		if (ev == -1) {
			if (zmtp_conn_next(c, &f) != -1)
				abort();
			return 1;
		}
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ready[] =
	    "\4\34\5READY\13Socket-Type\0\0\0\6DEALER";
	uint8_t g[64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1 };
	struct zmtp_cfg cfg;
	struct zmtp_conn *c;
	uint32_t seed;
	int mode, dead = 0;

	if (size < 2)
		return 0;
	mode = data[0];
	seed = data[1];
	data += 2;
	size -= 2;
	memset(&cfg, 0, sizeof(cfg));
	cfg.curve = mode & 1;
	for (int i = 0; i < ZMTP_KEY_LEN; i++) {
		cfg.public_key[i] = (uint8_t)(i * 7 + 1);
		cfg.secret_key[i] = (uint8_t)(i * 13 + 5);
	}
	cfg.max_msg_size = MAX_MSG;
	cfg.allow = allow_all;
	if ((c = zmtp_conn_new(&cfg)) == NULL)
		abort();
	if (mode & 2) {
		memcpy(g + 12, cfg.curve ? "CURVE" : "NULL", cfg.curve ? 5 : 4);
		dead = feed(c, g, sizeof(g), &seed);
		if (!dead && !cfg.curve)
			dead = feed(c, ready, sizeof(ready) - 1, &seed);
		if (dead)
			abort();
	}
	if (!dead)
		dead = feed(c, data, size, &seed);
	/* Once all output is written only the input (at most one frame
	 * in progress) and small state remain. */
	{
		const uint8_t *p;

		zmtp_conn_sent(c, zmtp_conn_pending(c, &p));
		if (zmtp_conn_pending(c, &p) != 0 ||
		    zmtp_conn_queued(c) != 0 ||
		    zmtp_conn_footprint(c) > (size_t)MAX_MSG + 4096)
			abort();
	}
	zmtp_conn_free(&c);
	err_clear();
	return 0;
}
