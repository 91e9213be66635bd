/*
 * image_md5_test: controller/image_md5 against the RFC 1321 test suite
 * (appendix A.5), the padding boundaries (55/56/63/64/65... bytes, where
 * the length field moves to another block), a million 'a's, and the same
 * digest whatever the sizes of the pieces fed (one byte, odd sizes, one
 * call). Expected values for the non-RFC inputs come from Python's hashlib.
 *
 * SHA-512 (GnuTLS's) against the FIPS 180-4 examples ("abc", the empty
 * string, the 896-bit two-block message, a million 'a's), and against
 * libsodium on
 * every length up to 1,300 bytes (the padding boundaries at 111/112/127/
 * 128 and multi-block batches) and on 1 MB fed in pieces of many sizes
 * (pieces that split blocks and batches); a context dropped mid-stream
 * is released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "image/image_hash.h"

static void
hex_of(const void *data, size_t len, char out[IMAGE_MD5_HEX_LEN + 1])
{
	struct image_md5 m;
	uint8_t d[IMAGE_MD5_LEN];

	image_hash_md5_init(&m);
	image_hash_md5_update(&m, data, len);
	image_hash_md5_final(&m, d);
	image_hash_hex(d, sizeof(d), out);
}

static void
test_rfc1321_suite(void **state)
{
	static const struct {
		const char *in, *md5;
	} v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz",
		    "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789", "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890123456789012345678"
		    "9012345678901234567890",
		    "57edf4a22be3c955ac49da2e2107b67a" },
	};
	char out[IMAGE_MD5_HEX_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex_of(v[i].in, strlen(v[i].in), out);
		assert_string_equal(out, v[i].md5);
	}
}

static void
test_padding_boundaries(void **state)
{
	static const struct {
		size_t n;
		const char *md5;
	} v[] = {
		{ 55, "04364420e25c512fd958a70738aa8f72" },
		{ 56, "668a72d5ba17f08e62dabcafad6db14b" },
		{ 63, "7dc2ca208106a2f703567bdff99d8981" },
		{ 64, "c1bb4f81d892b2d57947682aeb252456" },
		{ 65, "1bc932052302d074bdec39795fe00cf6" },
		{ 119, "ab347a5f68c8a443cfcddc633f12c24f" },
		{ 120, "fb98667f98096de92620b64f46e1c5b5" },
		{ 127, "a0b28c1da68705c2ff883fe279b72753" },
		{ 128, "d69cb61a6ee87200676eb0d4b90edbcb" },
	};
	char buf[128], out[IMAGE_MD5_HEX_LEN + 1];
	size_t i;

	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex_of(buf, v[i].n, out);
		assert_string_equal(out, v[i].md5);
	}
}

static void
test_million_a(void **state)
{
	char out[IMAGE_MD5_HEX_LEN + 1];
	char *buf = malloc(1000000);

	assert_non_null(buf);
	memset(buf, 'a', 1000000);
	hex_of(buf, 1000000, out);
	assert_string_equal(out, "7707d6ae4e027c70eea2a935c2296f21");
	free(buf);
}

/* Any split of the input gives the same digest. */
static void
test_streaming_splits(void **state)
{
	static const size_t steps[] = { 1, 3, 63, 64, 65, 4096, 65537 };
	const size_t len = 1000003;
	char out[IMAGE_MD5_HEX_LEN + 1];
	uint8_t *buf = malloc(len), d[IMAGE_MD5_LEN];
	struct image_md5 m;
	size_t i, off, n;

	assert_non_null(buf);
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	hex_of(buf, len, out);
	assert_string_equal(out, "1842c03d6faeb87aee097c047ead698b");
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		image_hash_md5_init(&m);
		for (off = 0; off < len; off += n) {
			n = steps[i] < len - off ? steps[i] : len - off;
			image_hash_md5_update(&m, buf + off, n);
		}
		image_hash_md5_final(&m, d);
		image_hash_hex(d, sizeof(d), out);
		assert_string_equal(out, "1842c03d6faeb87aee097c047ead698b");
	}
	free(buf);
}

static void
test_hex(void **state)
{
	static const uint8_t d[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9];

	image_hash_hex(d, sizeof(d), out);
	assert_string_equal(out, "000fa5ff");
}

static void
sha512_hex(const void *data, size_t len, char out[2 * IMAGE_SHA512_LEN + 1])
{
	struct image_sha512 s;
	uint8_t d[IMAGE_SHA512_LEN];

	assert_int_equal(image_hash_sha512_init(&s), 0);
	image_hash_sha512_update(&s, data, len);
	assert_int_equal(image_hash_sha512_final(&s, d), 0);
	assert_null(s.h);
	image_hash_hex(d, sizeof(d), out);
}

static void
test_sha512_fips(void **state)
{
	static const struct {
		const char *in, *sha;
	} v[] = {
		{ "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee"
		    "64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e"
		    "2a9ac94fa54ca49f" },
		{ "", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921"
		    "d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a"
		    "538327af927da3e" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		    "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aead"
		    "b6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545"
		    "e96e55b874be909" },
	};
	char out[2 * IMAGE_SHA512_LEN + 1];
	char *buf = malloc(1000000);
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha512_hex(v[i].in, strlen(v[i].in), out);
		assert_string_equal(out, v[i].sha);
	}
	assert_non_null(buf);
	memset(buf, 'a', 1000000);
	sha512_hex(buf, 1000000, out);
	assert_string_equal(out, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2"
	    "044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c"
	    "49aa2e4eadb217ad8cc09b");
	free(buf);
}

static void
test_sha512_vs_libsodium(void **state)
{
	static const size_t steps[] = { 1, 7, 127, 128, 129, 511, 512, 513,
	    640, 4096, 65537, 262144 };
	const size_t len = 1000003;
	char out[2 * IMAGE_SHA512_LEN + 1], want[2 * IMAGE_SHA512_LEN + 1];
	uint8_t *buf = malloc(len), d[IMAGE_SHA512_LEN];
	struct image_sha512 s;
	size_t i, off, n;

	assert_non_null(buf);
	assert_true(sodium_init() >= 0);
	randombytes_buf(buf, len);
	for (n = 0; n <= 1300; n++) {
		crypto_hash_sha512(d, buf + n % 61, n);
		image_hash_hex(d, sizeof(d), want);
		sha512_hex(buf + n % 61, n, out);	/* unaligned too */
		if (strcmp(out, want) != 0)
			fail_msg("length %zu: %s, libsodium %s", n, out, want);
	}
	crypto_hash_sha512(d, buf, len);
	image_hash_hex(d, sizeof(d), want);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(image_hash_sha512_init(&s), 0);
		for (off = 0; off < len; off += n) {
			n = steps[i] < len - off ? steps[i] : len - off;
			image_hash_sha512_update(&s, buf + off, n);
		}
		assert_int_equal(image_hash_sha512_final(&s, d), 0);
		image_hash_hex(d, sizeof(d), out);
		assert_string_equal(out, want);
	}
	free(buf);
}

/* A context dropped mid-stream (an abandoned upload) is released by
 * clear, which a finalised or zeroed context also takes (ASan builds
 * check the handle does not leak). */
static void
test_sha512_clear(void **state)
{
	struct image_sha512 s = { 0 };
	uint8_t d[IMAGE_SHA512_LEN];

	image_hash_sha512_clear(&s);
	assert_int_equal(image_hash_sha512_init(&s), 0);
	image_hash_sha512_update(&s, "abc", 3);
	image_hash_sha512_clear(&s);
	assert_null(s.h);
	image_hash_sha512_clear(&s);
	assert_int_equal(image_hash_sha512_init(&s), 0);
	assert_int_equal(image_hash_sha512_final(&s, d), 0);
	image_hash_sha512_clear(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1321_suite),
		cmocka_unit_test(test_padding_boundaries),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_streaming_splits),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_sha512_fips),
		cmocka_unit_test(test_sha512_vs_libsodium),
		cmocka_unit_test(test_sha512_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
