/*
 * image_hash: the digests of image data. MD5 (RFC 1321) for the Image
 * API's "checksum" attribute, and SHA-512 (FIPS 180-4) for os_hash_value.
 *
 * Glance's checksum is the MD5 hex digest of the image data, and clients
 * verify downloads against it (openstacksdk compares it with the bytes it
 * received), so it must be MD5 even though nothing here relies on MD5 for
 * security: the integrity hash the agents check is os_hash_value (SHA-512).
 * libsodium has no MD5, and GnuTLS's (nettle's assembly) is slightly
 * slower than this plain C version of the RFC's algorithm (670 against
 * 720 MB/s per CPU second here), tested against the RFC's test suite
 * (tests/unit/image_md5_test.c).
 *
 * SHA-512 is GnuTLS's (libmicrohttpd links it into the controller
 * already): an upload hashes every byte with it, and GnuTLS's x86-64
 * assembly (chosen at run time by the CPU's features) is about 1.4 times
 * as fast as a C implementation on the controller's hardware (1000 MB/s
 * against 700 per CPU second, AVX2 message schedules included), and as
 * fast as OpenSSL's. Tested against FIPS 180-4 vectors and against
 * libsodium.
 *
 * Streaming: the update functions take any number of pieces of any size.
 * An MD5 context holds at most one block and allocates nothing; a SHA-512
 * context owns a GnuTLS handle from init until final or clear.
 */
#ifndef TS_IMAGE_MD5_H
#define TS_IMAGE_MD5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_MD5_LEN		16
#define IMAGE_MD5_HEX_LEN	32
#define IMAGE_SHA512_LEN	64

struct image_md5 {
	uint32_t	state[4];
	uint64_t	bytes;		/* total length so far */
	uint8_t		block[64];	/* pending partial block */
};

void	image_hash_md5_init(struct image_md5 *);
void	image_hash_md5_update(struct image_md5 *, const void *data, size_t len);
/* Writes the digest; the context must be initialised again before reuse. */
void	image_hash_md5_final(struct image_md5 *, uint8_t out[IMAGE_MD5_LEN]);
struct image_sha512 {
	void		*h;		/* gnutls_hash_hd_t, owned */
	bool		 failed;	/* an update failed: final reports it */
};

/* 0, or -1 (TS_EINTERNAL) when GnuTLS cannot make a context. */
int	image_hash_sha512_init(struct image_sha512 *);
/* Any thread, one at a time per context. */
void	image_hash_sha512_update(struct image_sha512 *, const void *data,
	    size_t len);
/* Writes the digest and releases the context: 0, or -1 (TS_EINTERNAL)
 * when an update failed (nothing written). */
int	image_hash_sha512_final(struct image_sha512 *,
	    uint8_t out[IMAGE_SHA512_LEN]);
/* Releases a context that is not finalised; a cleared or zeroed one is
 * left alone. */
void	image_hash_sha512_clear(struct image_sha512 *);

/* Lowercase hex of a digest of n bytes into out (2n + 1 bytes). */
void	image_hash_hex(const uint8_t *digest, size_t n, char *out);

#endif
