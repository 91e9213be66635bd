/*
 * libFuzzer target for common/zmtp.c past the CURVE handshake, where
 * fuzz_zmtp cannot go (it cannot forge boxes): the harness completes a
 * real handshake as an enrolled client, then turns the input into what
 * that client sends, record by record (op byte, length byte, bytes):
 *   op 0  a MESSAGE boxed with the next nonce: flags byte, payload;
 *   op 1  the bytes raw, as they are (framing, truncation, tampering);
 *   op 2  a MESSAGE with the nonce the first 8 bytes give (replays,
 *         reordering), then flags and payload;
 *   op 3  the client reads: all the server's output is written.
 * Checked: nothing beyond max_msg_size is delivered; a message boxed by
 * op 0 with a clean stream comes out as it went in; a dead connection
 * stays dead; the output never holds more than one PONG's worth the
 * client has not read (the server queues nothing else here).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "zmtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_MSG		512
/* The largest PONG under CURVE: header, MESSAGE, nonce, MAC, flags,
 * "\4PONG" and a 16-byte context. */
#define PONG_MAX	(2 + 8 + 8 + 16 + 1 + 5 + 16)

static uint8_t	spub[32], ssec[32], cpub[32], csec[32], npub[32], nsec[32];

static int
allow(const uint8_t key[ZMTP_KEY_LEN], char *host, size_t len, void *arg)
{
	(void)arg;
	if (memcmp(key, cpub, 32) != 0)
		abort();
	snprintf(host, len, "fuzz");
	return 0;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

struct run {
	struct zmtp_conn *c;
	uint8_t		 precom[32];
	uint64_t	 nonce;
	int		 dead, clean;
	const uint8_t	*expect;	/* op 0's payload, while clean */
	size_t		 explen;
	int		 got;
	int		 ready;		/* ZMTP_READY seen (once only) */
};

/* Feed bytes; take the events. */
static void
feed(struct run *r, const uint8_t *d, size_t len)
{
	struct zmtp_frame f;
	uint8_t *sp;
	size_t room, n;
	int ev;

	while (len > 0 && !r->dead) {
		if (zmtp_conn_rspace(r->c, &sp, &room) == -1)
			abort();	/* next() failed first */
		if (room == 0)
			abort();
		n = len < room ? len : room;
		memcpy(sp, d, n);
		zmtp_conn_rdone(r->c, n);
		d += n;
		len -= n;
		while ((ev = zmtp_conn_next(r->c, &f)) > 0) {
			if (ev == ZMTP_READY && !r->ready) {
				r->ready = 1;
				continue;
			}
			if (ev != ZMTP_MSG || f.len > MAX_MSG)
				abort();
			if (r->expect != NULL) {
				if (f.len != r->explen ||
				    memcmp(f.data, r->expect, f.len) != 0)
					abort();
				r->got = 1;
			}
		}
		if (ev == -1) {
			if (zmtp_conn_next(r->c, &f) != -1)
				abort();
			r->dead = 1;
		}
	}
}

static void
frame(struct run *r, const uint8_t *body, size_t len)
{
	uint8_t h[9];

	if (len > 255) {
		h[0] = 2;
		put64(h + 1, len);
		feed(r, h, 9);
	} else {
		h[0] = 0;
		h[1] = (uint8_t)len;
		feed(r, h, 2);
	}
	feed(r, body, len);
}

static void
message(struct run *r, uint64_t n, uint8_t mflags, const uint8_t *p,
    size_t len)
{
	static uint8_t m[16 + 16 + 1 + 255], plain[1 + 255];
	uint8_t nonce[24];

	memcpy(m, "\7MESSAGE", 8);
	put64(m + 8, n);
	memcpy(nonce, "CurveZMQMESSAGEC", 16);
	put64(nonce + 16, n);
	plain[0] = mflags;
	memcpy(plain + 1, p, len);
	if (crypto_box_easy_afternm(m + 16, plain, 1 + len, nonce,
	    r->precom) != 0)
		abort();
	frame(r, m, 33 + len);
}

static void
drain(struct run *r)
{
	const uint8_t *p;

	zmtp_conn_sent(r->c, zmtp_conn_pending(r->c, &p));
}

/* A real handshake as the enrolled client; everything written. */
static void
handshake(struct run *r)
{
	static const uint8_t meta[] =
	    "\13Socket-Type\0\0\0\6DEALER" "\10Identity\0\0\0\4fuzz";
	uint8_t g[64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1 };
	uint8_t h[200], zero[64], nonce[24], plain[128 + sizeof(meta)];
	uint8_t ini[113 + 16 + 128 + sizeof(meta)], vplain[64], sn[32];
	const uint8_t *o;
	size_t n;

	memcpy(g + 12, "CURVE", 5);
	feed(r, g, sizeof(g));
	memset(h, 0, sizeof(h));
	memcpy(h, "\5HELLO\1\0", 8);
	memcpy(h + 80, npub, 32);
	r->nonce = 1;
	memcpy(nonce, "CurveZMQHELLO---", 16);
	put64(nonce + 16, r->nonce);
	memcpy(h + 112, nonce + 16, 8);
	memset(zero, 0, sizeof(zero));
	if (crypto_box_easy(h + 120, zero, 64, nonce, spub, nsec) != 0)
		abort();
	{
		uint8_t fr[202] = { 4, 200 };

		memcpy(fr + 2, h, 200);
		feed(r, fr, sizeof(fr));
	}
	/* greeting, then WELCOME */
	n = zmtp_conn_pending(r->c, &o);
	if (r->dead || n != 64 + 2 + 168)
		abort();
	memcpy(nonce, "WELCOME-", 8);
	memcpy(nonce + 8, o + 64 + 2 + 8, 16);
	if (crypto_box_open_easy(plain, o + 64 + 2 + 24, 144, nonce, spub,
	    nsec) != 0)
		abort();
	memcpy(sn, plain, 32);
	memcpy(ini + 9, plain + 32, 96);	/* the cookie */
	drain(r);
	if (crypto_box_beforenm(r->precom, sn, nsec) != 0)
		abort();
	memcpy(vplain, npub, 32);
	memcpy(vplain + 32, spub, 32);
	memcpy(nonce, "VOUCH---", 8);
	memset(nonce + 8, 7, 16);
	memcpy(plain, cpub, 32);
	memcpy(plain + 32, nonce + 8, 16);
	if (crypto_box_easy(plain + 48, vplain, 64, nonce, sn, csec) != 0)
		abort();
	memcpy(plain + 128, meta, sizeof(meta) - 1);
	memcpy(ini, "\10INITIATE", 9);
	r->nonce++;
	memcpy(nonce, "CurveZMQINITIATE", 16);
	put64(nonce + 16, r->nonce);
	memcpy(ini + 105, nonce + 16, 8);
	if (crypto_box_easy_afternm(ini + 113, plain, 128 + sizeof(meta) - 1,
	    nonce, r->precom) != 0)
		abort();
	{
		uint8_t fr[9 + sizeof(ini)] = { 6 };
		size_t il = 113 + 16 + 128 + sizeof(meta) - 1;

		put64(fr + 1, il);
		memcpy(fr + 9, ini, il);
		feed(r, fr, 9 + il);
	}
	if (r->dead || !r->ready || zmtp_conn_host(r->c) == NULL)
		abort();
	drain(r);	/* READY */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct zmtp_cfg cfg;
	struct run r;
	const uint8_t *o;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		crypto_box_keypair(spub, ssec);
		crypto_box_keypair(cpub, csec);
		crypto_box_keypair(npub, nsec);
		init = 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.curve = 1;
	memcpy(cfg.public_key, spub, 32);
	memcpy(cfg.secret_key, ssec, 32);
	cfg.max_msg_size = MAX_MSG;
	cfg.allow = allow;
	memset(&r, 0, sizeof(r));
	if ((r.c = zmtp_conn_new(&cfg)) == NULL)
		abort();
	r.clean = 1;
	handshake(&r);

	while (size >= 2 && !r.dead) {
		uint8_t op = data[0] & 3;
		size_t len = data[1];

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		switch (op) {
		case 0:
			if (len >= 1) {
				/* a data message on a clean stream must come
				 * out as it went in */
				r.expect = r.clean && !(data[0] & 2) &&
				    !(data[0] & ~3) && !(data[0] & 1) ?
				    data + 1 : NULL;
				r.explen = len - 1;
				r.got = 0;
				message(&r, ++r.nonce, data[0], data + 1,
				    len - 1);
				if (r.expect != NULL && !r.dead && !r.got)
					abort();
				r.expect = NULL;
			}
			break;
		case 1:
			feed(&r, data, len);
			if (len > 0)
				r.clean = 0;
			break;
		case 2:
			if (len >= 9) {
				uint64_t n = 0;

				for (int i = 0; i < 8; i++)
					n = n << 8 | data[i];
				message(&r, n, data[8], data + 9, len - 9);
				if (n > r.nonce)
					r.nonce = n;
				r.clean = 0;
			}
			break;
		default:
			drain(&r);
			break;
		}
		data += len;
		size -= len;
		if (zmtp_conn_pending(r.c, &o) > PONG_MAX ||
		    zmtp_conn_queued(r.c) != 0)
			abort();
	}
	zmtp_conn_free(&r.c);
	err_clear();
	return 0;
}
