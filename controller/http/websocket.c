/*
 * RFC 6455 for the controller's websocket proxies. See websocket.h.
 *
 * SHA-1 is here only for Sec-WebSocket-Accept (the handshake's fixed
 * construction, no security rests on it); libsodium, which the controller
 * links, has no SHA-1.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "log.h"
#include "websocket.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define IO_TIMEOUT_MS	30000		/* a peer that takes no bytes */
#define DOWN_CHUNK	(32 * 1024)	/* TCP bytes per server frame */

/* ---- SHA-1 (FIPS 180-4), for the accept key only -------------------- */

struct sha1 {
	uint32_t	h[5];
	uint8_t		blk[64];
	size_t		nblk;
	uint64_t	total;
};

#define ROL(x, n)	(((x) << (n)) | ((x) >> (32 - (n))))

static void
sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3]; e = s->h[4];
	for (i = 0; i < 80; i++) {
		uint32_t f, k;

		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL(a, 5) + f + e + k + w[i];
		e = d; d = c; c = ROL(b, 30); b = a; a = t;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e;
}

static void
sha1_update(struct sha1 *s, const void *data, size_t n)
{
	const uint8_t *p = data;

	s->total += n;
	while (n > 0) {
		size_t k = 64 - s->nblk < n ? 64 - s->nblk : n;

		memcpy(s->blk + s->nblk, p, k);
		s->nblk += k;
		p += k;
		n -= k;
		if (s->nblk == 64) {
			sha1_block(s, s->blk);
			s->nblk = 0;
		}
	}
}

static void
sha1(const void *data, size_t n, uint8_t out[20])
{
	struct sha1 s = { .h = { 0x67452301, 0xefcdab89, 0x98badcfe,
	    0x10325476, 0xc3d2e1f0 } };
	uint64_t bits;
	uint8_t pad = 0x80, z = 0, len[8];

	sha1_update(&s, data, n);
	bits = s.total * 8;
	sha1_update(&s, &pad, 1);
	while (s.nblk != 56)
		sha1_update(&s, &z, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(&s, len, 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s.h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s.h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s.h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s.h[i];
	}
}

int
websocket_accept(const char *key, char out[WEBSOCKET_ACCEPT_LEN + 1])
{
	uint8_t raw[32], dig[20];
	char cat[24 + sizeof(WS_GUID)];
	size_t n = 0;

	/* The key is base64 of 16 random bytes: 24 characters. */
	if (key == NULL || strlen(key) != 24 || sodium_base642bin(raw,
	    sizeof(raw), key, 24, NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != 16) {
		err_set(TS_EINVALID, "websocket: bad Sec-WebSocket-Key");
		return -1;
	}
	memcpy(cat, key, 24);
	memcpy(cat + 24, WS_GUID, sizeof(WS_GUID));
	sha1(cat, 24 + sizeof(WS_GUID) - 1, dig);
	sodium_bin2base64(out, WEBSOCKET_ACCEPT_LEN + 1, dig, sizeof(dig),
	    sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* ---- frames ---------------------------------------------------------- */

int
websocket_frame_parse(const uint8_t *buf, size_t n, bool require_mask,
    uint64_t max_payload, struct websocket_frame *f)
{
	size_t need = 2;
	uint64_t len;

	memset(f, 0, sizeof(*f));
	if (n < 2)
		return 0;
	f->fin = (buf[0] & 0x80) != 0;
	f->op = buf[0] & 0x0f;
	f->masked = (buf[1] & 0x80) != 0;
	len = buf[1] & 0x7f;
	if ((buf[0] & 0x70) != 0) {
		err_set(TS_EINVALID, "websocket: reserved bits set");
		return -1;
	}
	switch (f->op) {
	case WEBSOCKET_CONT: case WEBSOCKET_TEXT: case WEBSOCKET_BINARY:
		break;
	case WEBSOCKET_CLOSE: case WEBSOCKET_PING: case WEBSOCKET_PONG:
		if (!f->fin || len > 125) {
			err_set(TS_EINVALID, "websocket: bad control frame");
			return -1;
		}
		break;
	default:
		err_set(TS_EINVALID, "websocket: unknown opcode %u", f->op);
		return -1;
	}
	if (require_mask && !f->masked) {
		err_set(TS_EINVALID, "websocket: unmasked client frame");
		return -1;
	}
	if (len == 126)
		need += 2;
	else if (len == 127)
		need += 8;
	if (f->masked)
		need += 4;
	if (n < need)
		return 0;
	if (len == 126) {
		len = (uint64_t)buf[2] << 8 | buf[3];
		if (len < 126) {
			err_set(TS_EINVALID, "websocket: length not minimal");
			return -1;
		}
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		if (len <= 0xffff || (len >> 63) != 0) {
			err_set(TS_EINVALID, "websocket: bad 64-bit length");
			return -1;
		}
	}
	if (len > max_payload) {
		err_set(TS_EINVALID, "websocket: frame of %llu bytes is too "
		    "long", (unsigned long long)len);
		return -1;
	}
	if (f->masked)
		memcpy(f->mask, buf + need - 4, 4);
	f->len = len;
	f->hdr_len = need;
	return 1;
}

void
websocket_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(offset + i) & 3];
}

size_t
websocket_frame_header(uint8_t out[10], unsigned op, uint64_t len)
{
	out[0] = (uint8_t)(0x80 | (op & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

/* ---- the bridge ------------------------------------------------------ */

/* Both sockets may be non-blocking (MHD's is): wait for room. */
static int
write_all(int fd, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if (poll(&pf, 1, IO_TIMEOUT_MS) <= 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

static int
send_frame(int fd, unsigned op, const void *payload, size_t n)
{
	uint8_t h[10];
	size_t hl = websocket_frame_header(h, op, n);

	if (write_all(fd, h, hl) == -1)
		return -1;
	return n == 0 ? 0 : write_all(fd, payload, n);
}

/*
 * Handle the whole frames at the start of in[0..*n); what remains of an
 * incomplete one moves to the front. 1: go on; 0: closed cleanly; -1: a
 * protocol error (closed with 1002) or a dead peer.
 */
static int
client_frames(int fd, int tcp, uint8_t *in, size_t *n, uint64_t *up)
{
	size_t off = 0;
	int rc = 1;

	while (rc == 1) {
		struct websocket_frame f;
		int pr = websocket_frame_parse(in + off, *n - off, true,
		    WEBSOCKET_MAX_PAYLOAD, &f);
		uint8_t *pl;

		if (pr == -1) {
			uint8_t code[2] = { 1002 >> 8, 1002 & 0xff };

			log_debug("vnc proxy: %s", err_msg());
			(void)send_frame(fd, WEBSOCKET_CLOSE, code, 2);
			return -1;
		}
		if (pr == 0 || *n - off < f.hdr_len + f.len)
			break;
		pl = in + off + f.hdr_len;
		websocket_unmask(pl, (size_t)f.len, f.mask, 0);
		switch (f.op) {
		case WEBSOCKET_BINARY: case WEBSOCKET_CONT:
			if (f.len > 0 && write_all(tcp, pl, (size_t)f.len) == -1)
				rc = -1;
			if (up != NULL)
				*up += f.len;
			break;
		case WEBSOCKET_TEXT: {
			uint8_t code[2] = { 1003 >> 8, 1003 & 0xff };

			(void)send_frame(fd, WEBSOCKET_CLOSE, code, 2);
			rc = -1;
			break;
		}
		case WEBSOCKET_PING:
			if (send_frame(fd, WEBSOCKET_PONG, pl, (size_t)f.len) ==
			    -1)
				rc = -1;
			break;
		case WEBSOCKET_PONG:
			break;
		case WEBSOCKET_CLOSE:
			/* Echo the status code (the first two bytes), if any. */
			(void)send_frame(fd, WEBSOCKET_CLOSE, pl,
			    f.len >= 2 ? 2 : 0);
			rc = 0;
			break;
		}
		off += f.hdr_len + (size_t)f.len;
	}
	memmove(in, in + off, *n - off);
	*n -= off;
	return rc;
}

void
websocket_bridge(int fd, const char *extra, size_t extra_len, int tcp,
    uint64_t *up, uint64_t *down)
{
	/* One whole client frame fits: header (14) + payload. */
	size_t cap = WEBSOCKET_MAX_PAYLOAD + 14, n = 0;
	uint8_t *in = malloc(cap), *out = malloc(DOWN_CHUNK);
	int rc = 1;

	if (in == NULL || out == NULL) {
		log_warnx("vnc proxy: out of memory");
		goto done;
	}
	if (extra_len > 0) {
		if (extra_len > cap)
			goto done;
		memcpy(in, extra, extra_len);
		n = extra_len;
		rc = client_frames(fd, tcp, in, &n, up);
	}
	while (rc == 1) {
		struct pollfd pf[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = tcp, .events = POLLIN },
		};
		ssize_t r;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv(fd, in + n, cap - n, 0);
			if (r == 0 || (r < 0 && errno != EAGAIN &&
			    errno != EINTR && errno != EWOULDBLOCK))
				break;
			if (r > 0) {
				n += (size_t)r;
				rc = client_frames(fd, tcp, in, &n, up);
			}
		}
		if (rc == 1 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			r = recv(tcp, out, DOWN_CHUNK, 0);
			if (r == 0 || (r < 0 && errno != EAGAIN &&
			    errno != EINTR && errno != EWOULDBLOCK)) {
				uint8_t code[2] = { 1000 >> 8, 1000 & 0xff };

				(void)send_frame(fd, WEBSOCKET_CLOSE, code, 2);
				break;
			}
			if (r > 0) {
				if (send_frame(fd, WEBSOCKET_BINARY, out,
				    (size_t)r) == -1)
					break;
				if (down != NULL)
					*down += (uint64_t)r;
			}
		}
	}
done:
	free(in);
	free(out);
	close(tcp);
}
