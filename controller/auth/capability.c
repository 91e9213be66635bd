/* capability: mint and check image download capabilities; the format is
 * described in capability.h. */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "capability.h"
#include "err.h"
#include "uuid.h"

#define FORMAT_V1	1
#define FORMAT_UPLOAD	2	/* same layout, exactly one image */
#define PREFIX_LEN	(sizeof(CAPABILITY_PREFIX) - 1)
#define ID_LEN		16
#define HOST_HASH_LEN	crypto_hash_sha256_BYTES
#define MAC_LEN		crypto_auth_hmacsha256_BYTES
#define OFF_KID		1
#define OFF_ISSUED	5
#define OFF_EXPIRES	13
#define OFF_INSTANCE	21
#define OFF_HOST	37
#define OFF_NIMAGES	(OFF_HOST + HOST_HASH_LEN)
#define OFF_IMAGES	(OFF_NIMAGES + 1)
#define OFF_MAC		(OFF_IMAGES + CAPABILITY_MAX_IMAGES * ID_LEN)
#define RAW_LEN		(OFF_MAC + MAC_LEN)
/* crypto_kdf context: exactly crypto_kdf_CONTEXTBYTES characters. */
#define KDF_CONTEXT	"tscapab1"
#define KDF_SUBKEY_ID	1

_Static_assert(RAW_LEN == 150, "capability wire size changed");
_Static_assert(RAW_LEN % 3 == 0, "base64 of a capability must have no "
    "slack bits");
_Static_assert(CAPABILITY_BUFSZ == PREFIX_LEN + sodium_base64_ENCODED_LEN(
    RAW_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING), "CAPABILITY_LEN");
_Static_assert(sizeof(KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES,
    "kdf context size");
_Static_assert(KEYREPO_KEY_LEN == crypto_kdf_KEYBYTES, "kdf key size");
_Static_assert(crypto_auth_hmacsha256_KEYBYTES == 32, "mac key size");

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

/* A canonical UUID (uuid_valid()) to its 16 bytes. */
static int
uuid_bin(const char *s, uint8_t out[ID_LEN])
{
	size_t i, j;

	if (!uuid_valid(s))
		return -1;
	for (i = j = 0; j < ID_LEN; i += 2) {
		if (s[i] == '-')
			i++;
		out[j++] = (uint8_t)(hexval(s[i]) << 4 | hexval(s[i + 1]));
	}
	return 0;
}

static void
uuid_text(const uint8_t in[ID_LEN], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, j;

	for (i = j = 0; i < ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[in[i] >> 4];
		out[j++] = hex[in[i] & 15];
	}
	out[j] = '\0';
}

static void
host_hash(const char *host, uint8_t out[HOST_HASH_LEN])
{
	crypto_hash_sha256(out, (const uint8_t *)host, strlen(host));
}

/* The MAC of raw[0..OFF_MAC) under the subkey of token key key. */
static void
mac_of(const uint8_t raw[RAW_LEN], uint8_t key[KEYREPO_KEY_LEN],
    uint8_t mac[MAC_LEN])
{
	uint8_t sub[crypto_auth_hmacsha256_KEYBYTES];

	crypto_kdf_derive_from_key(sub, sizeof(sub), KDF_SUBKEY_ID,
	    KDF_CONTEXT, key);
	crypto_auth_hmacsha256(mac, raw, OFF_MAC, sub);
	sodium_memzero(sub, sizeof(sub));
}

bool
capability_is(const char *tok)
{
	return tok != NULL && strncmp(tok, CAPABILITY_PREFIX, PREFIX_LEN) == 0;
}

static int
issue(const struct keyrepo *repo, uint8_t format, const char *host,
    const char *instance, const char *const *images, size_t n, time_t now,
    unsigned lifetime_s, char *out, size_t outlen)
{
	uint8_t raw[RAW_LEN], key[KEYREPO_KEY_LEN];
	uint32_t kid;
	size_t i;

	if (outlen < CAPABILITY_BUFSZ || host == NULL || *host == '\0' ||
	    n == 0 || n > CAPABILITY_MAX_IMAGES || lifetime_s == 0 ||
	    now < 0) {
		err_set(TS_EINVALID, "capability: bad arguments");
		return -1;
	}
	memset(raw, 0, sizeof(raw));
	raw[0] = format;
	put_be(raw + OFF_ISSUED, (uint64_t)now, 8);
	put_be(raw + OFF_EXPIRES, (uint64_t)now + lifetime_s, 8);
	if (uuid_bin(instance, raw + OFF_INSTANCE) == -1) {
		err_set(TS_EINVALID, "capability: instance is not a UUID");
		return -1;
	}
	host_hash(host, raw + OFF_HOST);
	raw[OFF_NIMAGES] = (uint8_t)n;
	for (i = 0; i < n; i++)
		if (uuid_bin(images[i], raw + OFF_IMAGES + i * ID_LEN) == -1) {
			err_set(TS_EINVALID, "capability: image id is not a "
			    "UUID");
			return -1;
		}
	keyrepo_primary_copy(repo, &kid, key);
	put_be(raw + OFF_KID, kid, 4);
	mac_of(raw, key, raw + OFF_MAC);
	sodium_memzero(key, sizeof(key));
	memcpy(out, CAPABILITY_PREFIX, PREFIX_LEN);
	sodium_bin2base64(out + PREFIX_LEN, outlen - PREFIX_LEN, raw,
	    sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int
capability_issue(const struct keyrepo *repo, const char *host,
    const char *instance, const char *const *images, size_t n, time_t now,
    unsigned lifetime_s, char *out, size_t outlen)
{
	return issue(repo, FORMAT_V1, host, instance, images, n, now,
	    lifetime_s, out, outlen);
}

int
capability_issue_upload(const struct keyrepo *repo, const char *host,
    const char *instance, const char *image, time_t now, unsigned lifetime_s,
    char *out, size_t outlen)
{
	return issue(repo, FORMAT_UPLOAD, host, instance, &image, 1, now,
	    lifetime_s, out, outlen);
}

/* Decode and authenticate cap into raw. */
static int
open_raw(const struct keyrepo *repo, const char *cap, uint8_t raw[RAW_LEN])
{
	uint8_t key[KEYREPO_KEY_LEN], mac[MAC_LEN];
	const char *b64, *end;
	size_t len, binlen;
	unsigned nth;
	int ok = 0;

	len = cap == NULL ? 0 : strnlen(cap, CAPABILITY_LEN + 1);
	if (len != CAPABILITY_LEN || !capability_is(cap)) {
		err_set(TS_EUNAUTHORIZED, "capability: malformed (not %d "
		    "characters with its prefix)", CAPABILITY_LEN);
		return -1;
	}
	b64 = cap + PREFIX_LEN;
	if (sodium_base642bin(raw, RAW_LEN, b64, len - PREFIX_LEN, NULL,
	    &binlen, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != cap + len || binlen != RAW_LEN) {
		err_set(TS_EUNAUTHORIZED, "capability: malformed (not URL-safe "
		    "base64)");
		return -1;
	}
	if (raw[0] != FORMAT_V1 && raw[0] != FORMAT_UPLOAD) {
		err_set(TS_EUNAUTHORIZED, "capability: unknown format %u",
		    raw[0]);
		return -1;
	}
	/* As token_validate(): every key carrying this id, on a fingerprint
	 * collision (at most KEYREPO_MAX_KEYS). */
	for (nth = 0; !ok; nth++) {
		if (keyrepo_key_copy(repo, (uint32_t)get_be(raw + OFF_KID, 4),
		    nth, key) == -1)
			break;
		mac_of(raw, key, mac);
		sodium_memzero(key, sizeof(key));
		ok = sodium_memcmp(mac, raw + OFF_MAC, MAC_LEN) == 0;
	}
	if (!ok) {
		err_set(TS_EUNAUTHORIZED, "capability: authentication failed "
		    "(tampered, unknown key or another key repository)");
		return -1;
	}
	return 0;
}

static int
check(const struct keyrepo *repo, const char *cap, time_t now,
    const char *host, const char *image_id, uint8_t format,
    char instance[37])
{
	uint8_t raw[RAW_LEN], h[HOST_HASH_LEN], want[ID_LEN];
	unsigned n, i;

	if (open_raw(repo, cap, raw) == -1)
		return -1;
	/* A download capability never uploads, nor the reverse. */
	if (raw[0] != format) {
		err_set(TS_EUNAUTHORIZED, "capability: an %s capability "
		    "presented for %s", raw[0] == FORMAT_UPLOAD ? "upload" :
		    "download", format == FORMAT_UPLOAD ? "an upload" :
		    "a download");
		return -1;
	}
	if (now < 0 || get_be(raw + OFF_EXPIRES, 8) <= (uint64_t)now) {
		err_set(TS_EUNAUTHORIZED, "capability: expired");
		return -1;
	}
	n = raw[OFF_NIMAGES];
	if (n == 0 || n > CAPABILITY_MAX_IMAGES ||
	    (format == FORMAT_UPLOAD && n != 1)) {
		err_set(TS_EUNAUTHORIZED, "capability: malformed (%u images)",
		    n);
		return -1;
	}
	if (host == NULL || *host == '\0') {
		err_set(TS_EUNAUTHORIZED, "capability: no X-Tinystack-Host");
		return -1;
	}
	host_hash(host, h);
	if (sodium_memcmp(h, raw + OFF_HOST, HOST_HASH_LEN) != 0) {
		err_set(TS_EUNAUTHORIZED, "capability: minted for another "
		    "host");
		return -1;
	}
	if (image_id == NULL || uuid_bin(image_id, want) == -1)
		i = n;
	else
		for (i = 0; i < n; i++)
			if (memcmp(raw + OFF_IMAGES + i * ID_LEN, want,
			    ID_LEN) == 0)
				break;
	if (i == n) {
		err_set(TS_ENOT_FOUND, "No image found with ID %s",
		    image_id != NULL ? image_id : "");
		return -1;
	}
	if (instance != NULL)
		uuid_text(raw + OFF_INSTANCE, instance);
	return 0;
}

int
capability_check(const struct keyrepo *repo, const char *cap, time_t now,
    const char *host, const char *image_id, char instance[37])
{
	return check(repo, cap, now, host, image_id, FORMAT_V1, instance);
}

int
capability_check_upload(const struct keyrepo *repo, const char *cap,
    time_t now, const char *host, const char *image_id, char instance[37])
{
	return check(repo, cap, now, host, image_id, FORMAT_UPLOAD, instance);
}
