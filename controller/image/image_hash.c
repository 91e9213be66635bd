/* image_hash: MD5 (RFC 1321) and SHA-512 (GnuTLS); see image_hash.h. */
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "err.h"
#include "image_hash.h"

/*
 * Each step is written so that only its last operations wait for b, the
 * word the previous step produced: the message word, the constant and the
 * part of the round function that depends on c and d alone are added
 * first. MD5 is one long dependency chain, so this shortening is what sets
 * its speed (G's OR of disjoint masks is an addition, likewise).
 */
#define ROTL(x, n)	(((x) << (n)) | ((x) >> (32 - (n))))
#define STEP_F(a, b, c, d, x, t, s) do {				\
	(a) += (x) + (uint32_t)(t);					\
	(a) += (d) ^ ((b) & ((c) ^ (d)));				\
	(a) = ROTL((a), (s)) + (b);					\
} while (0)
#define STEP_G(a, b, c, d, x, t, s) do {				\
	(a) += (x) + (uint32_t)(t) + ((c) & ~(d));			\
	(a) += (b) & (d);						\
	(a) = ROTL((a), (s)) + (b);					\
} while (0)
#define STEP_H(a, b, c, d, x, t, s) do {				\
	(a) += (x) + (uint32_t)(t);					\
	(a) += (b) ^ (c) ^ (d);						\
	(a) = ROTL((a), (s)) + (b);					\
} while (0)
#define STEP_I(a, b, c, d, x, t, s) do {				\
	(a) += (x) + (uint32_t)(t);					\
	(a) += (c) ^ ((b) | ~(d));					\
	(a) = ROTL((a), (s)) + (b);					\
} while (0)
#define STEP(f, a, b, c, d, x, t, s)	STEP_##f(a, b, c, d, x, t, s)

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* One 64-byte block (RFC 1321 section 3.4). */
static void
transform(uint32_t st[4], const uint8_t *blk)
{
	uint32_t a = st[0], b = st[1], c = st[2], d = st[3], x[16];
	int i;

	for (i = 0; i < 16; i++)
		x[i] = le32(blk + 4 * i);

	STEP(F, a, b, c, d, x[0], 0xd76aa478, 7);
	STEP(F, d, a, b, c, x[1], 0xe8c7b756, 12);
	STEP(F, c, d, a, b, x[2], 0x242070db, 17);
	STEP(F, b, c, d, a, x[3], 0xc1bdceee, 22);
	STEP(F, a, b, c, d, x[4], 0xf57c0faf, 7);
	STEP(F, d, a, b, c, x[5], 0x4787c62a, 12);
	STEP(F, c, d, a, b, x[6], 0xa8304613, 17);
	STEP(F, b, c, d, a, x[7], 0xfd469501, 22);
	STEP(F, a, b, c, d, x[8], 0x698098d8, 7);
	STEP(F, d, a, b, c, x[9], 0x8b44f7af, 12);
	STEP(F, c, d, a, b, x[10], 0xffff5bb1, 17);
	STEP(F, b, c, d, a, x[11], 0x895cd7be, 22);
	STEP(F, a, b, c, d, x[12], 0x6b901122, 7);
	STEP(F, d, a, b, c, x[13], 0xfd987193, 12);
	STEP(F, c, d, a, b, x[14], 0xa679438e, 17);
	STEP(F, b, c, d, a, x[15], 0x49b40821, 22);

	STEP(G, a, b, c, d, x[1], 0xf61e2562, 5);
	STEP(G, d, a, b, c, x[6], 0xc040b340, 9);
	STEP(G, c, d, a, b, x[11], 0x265e5a51, 14);
	STEP(G, b, c, d, a, x[0], 0xe9b6c7aa, 20);
	STEP(G, a, b, c, d, x[5], 0xd62f105d, 5);
	STEP(G, d, a, b, c, x[10], 0x02441453, 9);
	STEP(G, c, d, a, b, x[15], 0xd8a1e681, 14);
	STEP(G, b, c, d, a, x[4], 0xe7d3fbc8, 20);
	STEP(G, a, b, c, d, x[9], 0x21e1cde6, 5);
	STEP(G, d, a, b, c, x[14], 0xc33707d6, 9);
	STEP(G, c, d, a, b, x[3], 0xf4d50d87, 14);
	STEP(G, b, c, d, a, x[8], 0x455a14ed, 20);
	STEP(G, a, b, c, d, x[13], 0xa9e3e905, 5);
	STEP(G, d, a, b, c, x[2], 0xfcefa3f8, 9);
	STEP(G, c, d, a, b, x[7], 0x676f02d9, 14);
	STEP(G, b, c, d, a, x[12], 0x8d2a4c8a, 20);

	STEP(H, a, b, c, d, x[5], 0xfffa3942, 4);
	STEP(H, d, a, b, c, x[8], 0x8771f681, 11);
	STEP(H, c, d, a, b, x[11], 0x6d9d6122, 16);
	STEP(H, b, c, d, a, x[14], 0xfde5380c, 23);
	STEP(H, a, b, c, d, x[1], 0xa4beea44, 4);
	STEP(H, d, a, b, c, x[4], 0x4bdecfa9, 11);
	STEP(H, c, d, a, b, x[7], 0xf6bb4b60, 16);
	STEP(H, b, c, d, a, x[10], 0xbebfbc70, 23);
	STEP(H, a, b, c, d, x[13], 0x289b7ec6, 4);
	STEP(H, d, a, b, c, x[0], 0xeaa127fa, 11);
	STEP(H, c, d, a, b, x[3], 0xd4ef3085, 16);
	STEP(H, b, c, d, a, x[6], 0x04881d05, 23);
	STEP(H, a, b, c, d, x[9], 0xd9d4d039, 4);
	STEP(H, d, a, b, c, x[12], 0xe6db99e5, 11);
	STEP(H, c, d, a, b, x[15], 0x1fa27cf8, 16);
	STEP(H, b, c, d, a, x[2], 0xc4ac5665, 23);

	STEP(I, a, b, c, d, x[0], 0xf4292244, 6);
	STEP(I, d, a, b, c, x[7], 0x432aff97, 10);
	STEP(I, c, d, a, b, x[14], 0xab9423a7, 15);
	STEP(I, b, c, d, a, x[5], 0xfc93a039, 21);
	STEP(I, a, b, c, d, x[12], 0x655b59c3, 6);
	STEP(I, d, a, b, c, x[3], 0x8f0ccc92, 10);
	STEP(I, c, d, a, b, x[10], 0xffeff47d, 15);
	STEP(I, b, c, d, a, x[1], 0x85845dd1, 21);
	STEP(I, a, b, c, d, x[8], 0x6fa87e4f, 6);
	STEP(I, d, a, b, c, x[15], 0xfe2ce6e0, 10);
	STEP(I, c, d, a, b, x[6], 0xa3014314, 15);
	STEP(I, b, c, d, a, x[13], 0x4e0811a1, 21);
	STEP(I, a, b, c, d, x[4], 0xf7537e82, 6);
	STEP(I, d, a, b, c, x[11], 0xbd3af235, 10);
	STEP(I, c, d, a, b, x[2], 0x2ad7d2bb, 15);
	STEP(I, b, c, d, a, x[9], 0xeb86d391, 21);

	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

/*
 * MD5's block buffering: bytes gather in block (bsize
 * bytes; *count counts every byte fed so far, so count % bsize are waiting
 * there), and each complete block goes to compress(state, blocks, n);
 * whole blocks of data go straight from the caller's buffer.
 */
typedef void (*compress_fn)(void *state, const uint8_t *blocks, size_t n);

static void
feed(void *state, uint8_t *block, size_t bsize, uint64_t *count,
    const void *data, size_t len, compress_fn compress)
{
	const uint8_t *p = data;
	size_t have = (size_t)(*count % bsize), take;

	*count += len;
	if (have > 0) {
		take = bsize - have < len ? bsize - have : len;
		memcpy(block + have, p, take);
		p += take;
		len -= take;
		if (have + take < bsize)
			return;
		compress(state, block, 1);
	}
	if (len >= bsize) {
		compress(state, p, len / bsize);
		p += len - len % bsize;
		len %= bsize;
	}
	if (len > 0)
		memcpy(block, p, len);
}

static void
md5_blocks(void *state, const uint8_t *p, size_t n)
{
	for (; n > 0; n--, p += 64)
		transform(state, p);
}

void
image_hash_md5_init(struct image_md5 *m)
{
	m->state[0] = 0x67452301;
	m->state[1] = 0xefcdab89;
	m->state[2] = 0x98badcfe;
	m->state[3] = 0x10325476;
	m->bytes = 0;
}

void
image_hash_md5_update(struct image_md5 *m, const void *data, size_t len)
{
	feed(m->state, m->block, 64, &m->bytes, data, len, md5_blocks);
}

void
image_hash_md5_final(struct image_md5 *m, uint8_t out[IMAGE_MD5_LEN])
{
	static const uint8_t pad[64] = { 0x80 };
	uint64_t bits = m->bytes << 3;
	size_t have = (size_t)(m->bytes & 63);
	uint8_t len[8];
	int i;

	for (i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (8 * i));
	image_hash_md5_update(m, pad, have < 56 ? 56 - have : 120 - have);
	image_hash_md5_update(m, len, 8);
	for (i = 0; i < 4; i++) {
		out[4 * i] = (uint8_t)m->state[i];
		out[4 * i + 1] = (uint8_t)(m->state[i] >> 8);
		out[4 * i + 2] = (uint8_t)(m->state[i] >> 16);
		out[4 * i + 3] = (uint8_t)(m->state[i] >> 24);
	}
	memset(m, 0, sizeof(*m));
}

/* ---- SHA-512 -------------------------------------------------------------- */

int
image_hash_sha512_init(struct image_sha512 *s)
{
	gnutls_hash_hd_t h;
	int rc;

	s->h = NULL;
	s->failed = false;
	if ((rc = gnutls_hash_init(&h, GNUTLS_DIG_SHA512)) < 0) {
		err_set(TS_EINTERNAL, "sha512: %s", gnutls_strerror(rc));
		return -1;
	}
	s->h = h;
	return 0;
}

void
image_hash_sha512_update(struct image_sha512 *s, const void *data, size_t len)
{
	/* Fails only on a bad handle or in FIPS self-test error states; the
	 * caller (a hashing thread) has nowhere to say it, final does. */
	if (!s->failed && gnutls_hash(s->h, data, len) < 0)
		s->failed = true;
}

int
image_hash_sha512_final(struct image_sha512 *s, uint8_t out[IMAGE_SHA512_LEN])
{
	bool failed = s->failed;

	gnutls_hash_deinit(s->h, failed ? NULL : out);
	s->h = NULL;
	if (failed) {
		err_set(TS_EINTERNAL, "sha512: hashing failed");
		return -1;
	}
	return 0;
}

void
image_hash_sha512_clear(struct image_sha512 *s)
{
	if (s->h != NULL)
		gnutls_hash_deinit(s->h, NULL);
	s->h = NULL;
}

void
image_hash_hex(const uint8_t *d, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = '\0';
}
