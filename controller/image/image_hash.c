/* image_md5: RFC 1321 MD5 and FIPS 180-4 SHA-512; see image_md5.h. */
#include <string.h>

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
 * The block buffering both digests share: bytes gather in block (bsize
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

static const uint64_t K512[80] = {
	0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL,
	0xe9b5dba58189dbbcULL, 0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
	0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL, 0xd807aa98a3030242ULL,
	0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
	0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL,
	0xc19bf174cf692694ULL, 0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
	0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL, 0x2de92c6f592b0275ULL,
	0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
	0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL,
	0xbf597fc7beef0ee4ULL, 0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
	0x06ca6351e003826fULL, 0x142929670a0e6e70ULL, 0x27b70a8546d22ffcULL,
	0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
	0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL,
	0x92722c851482353bULL, 0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
	0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL, 0xd192e819d6ef5218ULL,
	0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
	0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL,
	0x34b0bcb5e19b48a8ULL, 0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
	0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL, 0x748f82ee5defb2fcULL,
	0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
	0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL,
	0xc67178f2e372532bULL, 0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
	0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL, 0x06f067aa72176fbaULL,
	0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
	0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL,
	0x431d67c49c100d4cULL, 0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
	0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

#define ROTR64(x, n)	(((x) >> (n)) | ((x) << (64 - (n))))
#define BS0(x)	(ROTR64(x, 28) ^ ROTR64(x, 34) ^ ROTR64(x, 39))
#define BS1(x)	(ROTR64(x, 14) ^ ROTR64(x, 18) ^ ROTR64(x, 41))
#define SS0(x)	(ROTR64(x, 1) ^ ROTR64(x, 8) ^ ((x) >> 7))
#define SS1(x)	(ROTR64(x, 19) ^ ROTR64(x, 61) ^ ((x) >> 6))
#define CH(x, y, z)	(((x) & ((y) ^ (z))) ^ (z))
#define MAJ(x, y, z)	(((x) & (y)) | ((z) & ((x) | (y))))
/* wk[i * stride]: message word i plus K512[i]. */
#define RND(a, b, c, d, e, f, g, h, i) do {				\
	uint64_t t1_ = (h) + BS1(e) + CH((e), (f), (g)) +		\
	    wk[(size_t)(i) * stride];					\
	(d) += t1_;							\
	(h) = t1_ + BS0(a) + MAJ((a), (b), (c));			\
} while (0)

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/* The 80 rounds of one block, given its schedule (plus constants). */
static inline __attribute__((always_inline)) void
sha512_rounds(uint64_t st[8], const uint64_t *wk, size_t stride)
{
	uint64_t a = st[0], b = st[1], c = st[2], d = st[3];
	uint64_t e = st[4], f = st[5], g = st[6], h = st[7];
	int i;

	for (i = 0; i < 80; i += 8) {
		RND(a, b, c, d, e, f, g, h, i);
		RND(h, a, b, c, d, e, f, g, i + 1);
		RND(g, h, a, b, c, d, e, f, i + 2);
		RND(f, g, h, a, b, c, d, e, i + 3);
		RND(e, f, g, h, a, b, c, d, i + 4);
		RND(d, e, f, g, h, a, b, c, i + 5);
		RND(c, d, e, f, g, h, a, b, i + 6);
		RND(b, c, d, e, f, g, h, a, i + 7);
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
	st[4] += e;
	st[5] += f;
	st[6] += g;
	st[7] += h;
}

/* n whole blocks, one at a time. */
static void
sha512_blocks(uint64_t st[8], const uint8_t *p, size_t n)
{
	uint64_t w[80];
	int i;

	for (; n > 0; n--, p += 128) {
		for (i = 0; i < 16; i++)
			w[i] = be64(p + 8 * i);
		for (i = 16; i < 80; i++)
			w[i] = SS1(w[i - 2]) + w[i - 7] + SS0(w[i - 15]) +
			    w[i - 16];
		for (i = 0; i < 80; i++)
			w[i] += K512[i];
		sha512_rounds(st, w, 1);
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_SHA512_X4	1
typedef uint64_t v4u64 __attribute__((vector_size(32), aligned(32)));

/* The schedules of 4 consecutive blocks, one per AVX2 lane: wk[i][j] is
 * word i (plus K512[i]) of block j. */
__attribute__((target("avx2"))) static void
sha512_schedule_x4(v4u64 wk[80], const uint8_t *p)
{
	v4u64 w[80];
	int i, j;

	for (i = 0; i < 16; i++)
		for (j = 0; j < 4; j++)
			w[i][j] = be64(p + 128 * j + 8 * i);
	for (i = 16; i < 80; i++)
		w[i] = SS1(w[i - 2]) + w[i - 7] + SS0(w[i - 15]) + w[i - 16];
	for (i = 0; i < 80; i++)
		wk[i] = w[i] + K512[i];
}

/* Whole groups of 4 blocks; returns the number of blocks done. */
__attribute__((target("avx2"))) static size_t
sha512_blocks_x4(uint64_t st[8], const uint8_t *p, size_t n)
{
	v4u64 wk[80];
	size_t done;

	for (done = 0; n - done >= 4; done += 4, p += 512) {
		sha512_schedule_x4(wk, p);
		sha512_rounds(st, (const uint64_t *)wk + 0, 4);
		sha512_rounds(st, (const uint64_t *)wk + 1, 4);
		sha512_rounds(st, (const uint64_t *)wk + 2, 4);
		sha512_rounds(st, (const uint64_t *)wk + 3, 4);
	}
	return done;
}
#endif

static void
sha512_compress(uint64_t st[8], const uint8_t *p, size_t n)
{
#ifdef HAVE_SHA512_X4
	size_t done;

	/* A load of libgcc's CPU model, set up before main. */
	if (n >= 4 && __builtin_cpu_supports("avx2")) {
		done = sha512_blocks_x4(st, p, n);
		p += done * 128;
		n -= done;
	}
#endif
	sha512_blocks(st, p, n);
}

static void
sha512_feed_blocks(void *state, const uint8_t *p, size_t n)
{
	sha512_compress(state, p, n);
}

void
image_hash_sha512_init(struct image_sha512 *s)
{
	static const uint64_t iv[8] = {
		0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
		0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
		0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
		0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
	};

	memcpy(s->state, iv, sizeof(iv));
	s->bytes = 0;
}

void
image_hash_sha512_update(struct image_sha512 *s, const void *data, size_t len)
{
	feed(s->state, s->block, 128, &s->bytes, data, len,
	    sha512_feed_blocks);
}

void
image_hash_sha512_final(struct image_sha512 *s, uint8_t out[IMAGE_SHA512_LEN])
{
	static const uint8_t pad[128] = { 0x80 };
	uint64_t bits = s->bytes << 3;
	size_t have = (size_t)(s->bytes & 127);
	uint8_t len[16] = { 0 };
	int i, k;

	/* The length is 128 bits; streams here are far below 2^61 bytes. */
	for (i = 0; i < 8; i++)
		len[15 - i] = (uint8_t)(bits >> (8 * i));
	image_hash_sha512_update(s, pad, have < 112 ? 112 - have : 240 - have);
	image_hash_sha512_update(s, len, 16);
	for (i = 0; i < 8; i++)
		for (k = 0; k < 8; k++)
			out[8 * i + k] = (uint8_t)(s->state[i] >> (56 - 8 * k));
	memset(s, 0, sizeof(*s));
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
