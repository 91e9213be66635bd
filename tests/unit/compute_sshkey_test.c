/*
 * compute_sshkey_test: MD5 against RFC 1321 vectors and block-boundary
 * lengths; public key parsing (valid keys of each family, and every way a
 * key line can be wrong); generated ed25519 pairs: the public line parses,
 * the private file has OpenSSH's structure and carries the same public key,
 * the fingerprint is that of the public blob; and ssh-keygen itself
 * derives the same public key from it (a missing ssh-keygen fails).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "compute/sshkey.h"
#include "err.h"
#include "log.h"

static void
hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
md5_is(const void *buf, size_t len, const char *want)
{
	uint8_t d[16];
	char h[33];

	sshkey_md5(buf, len, d);
	hex(d, 16, h);
	assert_string_equal(h, want);
}

static void
test_md5(void **state)
{
	static const struct { size_t n; const char *h; } as[] = {
		{ 55, "ef1772b6dff9a122358552954ad0df65" },
		{ 56, "3b0c8ac703f828b04c6c197006d17218" },
		{ 63, "b06521f39153d618550606be297466d5" },
		{ 64, "014842d480b571495a4a0363793f7367" },
		{ 65, "c743a45e0d2e6a95cb859adae0248435" },
		{ 1000, "cabe45dcc9ae5b66ba86600cca6b8ba8" },
	};
	char a[1000];

	md5_is("", 0, "d41d8cd98f00b204e9800998ecf8427e");
	md5_is("abc", 3, "900150983cd24fb0d6963f7d28e17f72");
	md5_is("message digest", 14, "f96b697d7cb7938d525a2f31aaf161d0");
	md5_is("1234567890123456789012345678901234567890123456789012345678901"
	    "2345678901234567890", 80, "57edf4a22be3c955ac49da2e2107b67a");
	memset(a, 'a', sizeof(a));
	for (size_t i = 0; i < sizeof(as) / sizeof(as[0]); i++)
		md5_is(a, as[i].n, as[i].h);
}

/* ssh-keygen -t ed25519 output and its `ssh-keygen -l -E md5`. */
#define ED_PUB	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMDZnq8BFnAT4+CHb+zRpFpvw" \
		"PNcIgjiiQMMO/jPy6PJ k2"

static void
test_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"ssh-ed25519",
		"ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIMDZnq8BFnAT4+CHb+zRpFpvwPNc",
		"ssh-ed25519 !!!notbase64!!!",
		/* declared rsa, blob says ed25519 */
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIMDZnq8BFnAT4+CHb+zRpFpvwPNcIg"
		    "jiiQMMO/jPy6PJ",
		/* a second line smuggled into authorized_keys */
		ED_PUB "\nssh-ed25519 AAAA evil",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMDZnq8BFnAT4+CHb+zRpFpvwP"
		    "NcIgjiiQMMO/jPy6PJ comment\x01with control",
		"ssh-ed25519 AAAA",
	};
	char type[32], fp[SSHKEY_FP_LEN + 1];
	uint8_t *blob;
	size_t n;

	assert_int_equal(sshkey_public_parse(ED_PUB, type, &blob, &n), 0);
	assert_string_equal(type, "ssh-ed25519");
	assert_int_equal(n, 4 + 11 + 4 + 32);
	sshkey_fingerprint(blob, n, fp);
	free(blob);
	/* `ssh-keygen -l -E md5` of the same key */
	assert_string_equal(fp, "f6:77:b0:61:84:f9:7a:0b:1f:9f:35:ca:e4:20:71:af");
	assert_int_equal(sshkey_public_parse(ED_PUB "\n", type, &blob, &n), 0);
	free(blob);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		blob = (uint8_t *)1;
		if (sshkey_public_parse(bad[i], type, &blob, &n) != -1)
			fail_msg("accepted bad key %zu", i);
		assert_int_equal(err_code(), TS_EINVALID);
		assert_null(blob);
	}
}

static uint32_t
rd32(const uint8_t **p)
{
	uint32_t v = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3];

	*p += 4;
	return v;
}

static void
test_generate(void **state)
{
	char *pub = NULL, *pem = NULL, type[32], fp[SSHKEY_FP_LEN + 1],
	    fp2[SSHKEY_FP_LEN + 1], b64[4096];
	uint8_t *blob, bin[4096];
	const uint8_t *p;
	size_t n, bl, k = 0;
	const char *s, *e;
	uint32_t c1, c2, len;

	assert_int_equal(sshkey_ed25519_new("k9", &pub, &pem, fp), 0);
	assert_int_equal(strncmp(pub, "ssh-ed25519 ", 12), 0);
	assert_non_null(strstr(pub, " k9"));
	assert_int_equal(sshkey_public_parse(pub, type, &blob, &bl), 0);
	sshkey_fingerprint(blob, bl, fp2);
	assert_string_equal(fp, fp2);

	/* Unwrap the armour and walk openssh-key-v1. */
	s = strstr(pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	e = strstr(pem, "-----END OPENSSH PRIVATE KEY-----\n");
	assert_non_null(s);
	assert_non_null(e);
	for (s += 36; s < e; s++)
		if (*s != '\n')
			b64[k++] = *s;
	b64[k] = '\0';
	assert_int_equal(sodium_base642bin(bin, sizeof(bin), b64, k, NULL, &n,
	    NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_memory_equal(bin, "openssh-key-v1", 15);
	p = bin + 15;
	len = rd32(&p); assert_int_equal(len, 4); p += len;	/* none */
	len = rd32(&p); assert_int_equal(len, 4); p += len;	/* none */
	len = rd32(&p); assert_int_equal(len, 0);
	assert_int_equal(rd32(&p), 1);
	len = rd32(&p);
	assert_int_equal(len, bl);
	assert_memory_equal(p, blob, bl);	/* same public key */
	p += len;
	len = rd32(&p);
	assert_int_equal(len % 8, 0);
	c1 = rd32(&p);
	c2 = rd32(&p);
	assert_int_equal(c1, c2);		/* check ints */
	len = rd32(&p); p += len;		/* type */
	len = rd32(&p); assert_int_equal(len, 32);
	assert_memory_equal(p, blob + bl - 32, 32);
	p += len;
	len = rd32(&p); assert_int_equal(len, 64);
	assert_memory_equal(p + 32, blob + bl - 32, 32);	/* sk = seed||pk */
	free(blob);

	/* The real judge: ssh-keygen must read the key back and derive the
	 * same public key. openssh-client is a test dependency
	 * (packaging/install-deps.sh), so its absence fails. */
	{
		char path[] = "/tmp/sshkey_test.XXXXXX", cmd[256], out[512];
		int fd, rc;
		FILE *f;

		if (access("/usr/bin/ssh-keygen", X_OK) != 0)
			fail_msg("/usr/bin/ssh-keygen is missing: %s (install "
			    "openssh-client: packaging/install-deps.sh)",
			    strerror(errno));
		fd = mkstemp(path);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
		close(fd);
		snprintf(cmd, sizeof(cmd), "/usr/bin/ssh-keygen -y -f %s", path);
		assert_non_null(f = popen(cmd, "r"));
		if (fgets(out, sizeof(out), f) == NULL)
			out[0] = '\0';
		rc = pclose(f);
		unlink(path);
		assert_int_equal(rc, 0);
		out[strcspn(out, "\n")] = '\0';
		/* ssh-keygen prints "type base64 comment". */
		assert_int_equal(strncmp(out, pub, strlen(pub) - 3), 0);
	}
	free(pub);
	sshkey_private_free(&pem);
	assert_null(pem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_generate),
	};

	log_init("compute_sshkey_test", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	assert_true(sodium_init() >= 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
