/* compute_sshkey: OpenSSH public keys, fingerprints, ed25519 generation;
 * see compute_sshkey.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sshkey.h"
#include "err.h"

/* ---- MD5 (RFC 1321) ------------------------------------------------------- */

struct md5 {
	uint32_t	h[4];
	uint64_t	len;
	uint8_t		buf[64];
	size_t		n;
};

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const uint8_t md5_r[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static void
md5_block(struct md5 *m, const uint8_t *p)
{
	uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		    (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f, t;
		int g;

		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		t = d;
		d = c;
		c = b;
		f = a + f + md5_k[i] + w[g];
		b = b + (f << md5_r[i] | f >> (32 - md5_r[i]));
		a = t;
	}
	m->h[0] += a;
	m->h[1] += b;
	m->h[2] += c;
	m->h[3] += d;
}

void
sshkey_md5(const void *buf, size_t len, uint8_t out[16])
{
	struct md5 m = { { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 },
	    0, { 0 }, 0 };
	const uint8_t *p = buf;
	uint64_t bits = (uint64_t)len * 8;

	for (; len >= 64; p += 64, len -= 64)
		md5_block(&m, p);
	memcpy(m.buf, p, len);
	m.buf[len] = 0x80;
	if (len >= 56) {
		memset(m.buf + len + 1, 0, 63 - len);
		md5_block(&m, m.buf);
		memset(m.buf, 0, 56);
	} else {
		memset(m.buf + len + 1, 0, 55 - len);
	}
	for (int i = 0; i < 8; i++)
		m.buf[56 + i] = (uint8_t)(bits >> (8 * i));
	md5_block(&m, m.buf);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(m.h[i] >> (8 * j));
}

void
sshkey_fingerprint(const uint8_t *blob, size_t len, char out[SSHKEY_FP_LEN + 1])
{
	uint8_t d[16];

	sshkey_md5(blob, len, d);
	for (int i = 0; i < 16; i++)
		snprintf(out + 3 * i, 4, i < 15 ? "%02x:" : "%02x", d[i]);
}

/* ---- public keys ----------------------------------------------------------- */

static const char *const key_types[] = {
	"ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
	NULL
};

static int
invalid(const char *why)
{
	err_set(TS_EINVALID, "Keypair data is invalid: %s", why);
	return -1;
}

int
sshkey_public_parse(const char *text, char type[32], uint8_t **blob,
    size_t *bloblen)
{
	const char *p = text, *b64, *end;
	size_t tlen, blen, dlen;
	uint8_t *d;
	uint32_t n;
	int known = 0;

	*blob = NULL;
	if (strlen(text) > SSHKEY_TEXT_MAX)
		return invalid("failed to generate fingerprint");
	while (*p == ' ' || *p == '\t')
		p++;
	tlen = strcspn(p, " \t");
	if (tlen == 0 || tlen >= 32)
		return invalid("failed to generate fingerprint");
	memcpy(type, p, tlen);
	type[tlen] = '\0';
	for (int i = 0; key_types[i]; i++)
		known |= strcmp(key_types[i], type) == 0;
	if (!known)
		return invalid("failed to generate fingerprint");
	b64 = p + tlen;
	while (*b64 == ' ' || *b64 == '\t')
		b64++;
	blen = strcspn(b64, " \t\r\n");
	end = b64 + blen;
	/* The comment: printable text, one line (a final newline is
	 * tolerated: files read with `cat` end with one). */
	for (const char *q = end; *q; q++) {
		if (*q == '\r' || *q == '\n') {
			if (q[strspn(q, "\r\n")] != '\0')
				return invalid("failed to generate "
				    "fingerprint");
			break;
		}
		if ((unsigned char)*q < 0x20 && *q != '\t')
			return invalid("failed to generate fingerprint");
	}
	if (blen == 0 || (d = malloc(blen)) == NULL)
		return invalid("failed to generate fingerprint");
	if (sodium_base642bin(d, blen, b64, blen, NULL, &dlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || dlen < 4) {
		free(d);
		return invalid("failed to generate fingerprint");
	}
	/* string type, as the blob's first field */
	n = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
	    (uint32_t)d[2] << 8 | d[3];
	if (n != tlen || dlen < 4 + (size_t)n || memcmp(d + 4, type, n) != 0) {
		free(d);
		return invalid("failed to generate fingerprint");
	}
	*blob = d;
	*bloblen = dlen;
	return 0;
}

/* ---- generation ------------------------------------------------------------ */

struct wbuf {
	uint8_t	*p;
	size_t	 len, cap;
	int	 failed;
};

static void
w_raw(struct wbuf *w, const void *d, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n > w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 512;
		uint8_t *np;

		while (ncap < w->len + n)
			ncap *= 2;
		/* Private material may be in the buffer: move it by hand so
		 * no copy is left behind by realloc. */
		if ((np = sodium_malloc(ncap)) == NULL) {
			w->failed = 1;
			return;
		}
		if (w->p) {
			memcpy(np, w->p, w->len);
			sodium_free(w->p);
		}
		w->p = np;
		w->cap = ncap;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
w_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	w_raw(w, b, 4);
}

static void
w_str(struct wbuf *w, const void *d, size_t n)
{
	w_u32(w, (uint32_t)n);
	w_raw(w, d, n);
}

static void
w_free(struct wbuf *w)
{
	if (w->p)
		sodium_free(w->p);	/* wipes */
	memset(w, 0, sizeof(*w));
}

static char *
b64(const uint8_t *d, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *o = malloc(len);

	if (o != NULL)
		sodium_bin2base64(o, len, d, n, sodium_base64_VARIANT_ORIGINAL);
	return o;
}

void
sshkey_private_free(char **pem)
{
	if (*pem == NULL)
		return;
	sodium_memzero(*pem, strlen(*pem));
	free(*pem);
	*pem = NULL;
}

int
sshkey_ed25519_new(const char *comment, char **public_line, char **private_pem,
    char fp[SSHKEY_FP_LEN + 1])
{
	static const char magic[] = "openssh-key-v1";
	static const char type[] = "ssh-ed25519";
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	struct wbuf pub = { 0 }, priv = { 0 }, file = { 0 };
	char *pub64 = NULL, *file64 = NULL, *pem = NULL, *line = NULL;
	uint32_t check;
	size_t plen, n64, off;
	int rc = -1;

	*public_line = *private_pem = NULL;
	if (sk == NULL || sodium_init() < 0) {
		err_set(TS_ENOMEM, "key generation: out of memory");
		goto out;
	}
	crypto_sign_keypair(pk, sk);	/* sk = seed || pk, as OpenSSH wants */

	w_str(&pub, type, strlen(type));
	w_str(&pub, pk, sizeof(pk));

	randombytes_buf(&check, sizeof(check));
	w_u32(&priv, check);
	w_u32(&priv, check);
	w_str(&priv, type, strlen(type));
	w_str(&priv, pk, sizeof(pk));
	w_str(&priv, sk, crypto_sign_SECRETKEYBYTES);
	w_str(&priv, comment, strlen(comment));
	for (uint8_t pad = 1; priv.len % 8 != 0; pad++)
		w_raw(&priv, &pad, 1);

	w_raw(&file, magic, sizeof(magic));	/* with its NUL */
	w_str(&file, "none", 4);		/* cipher */
	w_str(&file, "none", 4);		/* kdf */
	w_str(&file, "", 0);			/* kdf options */
	w_u32(&file, 1);			/* one key */
	w_str(&file, pub.p, pub.len);
	w_str(&file, priv.p, priv.len);
	if (pub.failed || priv.failed || file.failed ||
	    (pub64 = b64(pub.p, pub.len)) == NULL ||
	    (file64 = b64(file.p, file.len)) == NULL) {
		err_set(TS_ENOMEM, "key generation: out of memory");
		goto out;
	}
	plen = strlen(type) + 1 + strlen(pub64) + 1 + strlen(comment) + 1;
	if ((line = malloc(plen)) == NULL)
		goto nomem;
	snprintf(line, plen, "%s %s %s", type, pub64, comment);
	/* PEM-like armour, 70 columns as ssh-keygen writes it. */
	n64 = strlen(file64);
	if ((pem = malloc(n64 + n64 / 70 + 128)) == NULL)
		goto nomem;
	off = (size_t)sprintf(pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	for (size_t i = 0; i < n64; i += 70) {
		size_t k = n64 - i < 70 ? n64 - i : 70;

		memcpy(pem + off, file64 + i, k);
		off += k;
		pem[off++] = '\n';
	}
	off += (size_t)sprintf(pem + off, "-----END OPENSSH PRIVATE KEY-----\n");
	sshkey_fingerprint(pub.p, pub.len, fp);
	*public_line = line;
	*private_pem = pem;
	line = pem = NULL;
	rc = 0;
	goto out;
nomem:
	err_set(TS_ENOMEM, "key generation: out of memory");
out:
	if (file64) {
		sodium_memzero(file64, strlen(file64));
		free(file64);
	}
	free(pub64);
	free(line);
	free(pem);
	w_free(&pub);
	w_free(&priv);
	w_free(&file);
	if (sk)
		sodium_free(sk);
	return rc;
}
