/* password: argon2id hashing and verification; see password.h. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "password.h"

#define PREFIX_ID	"$argon2id$"
#define PREFIX_I	"$argon2i$"

static int
check_pw(const char *pw)
{
	if (strnlen(pw, PASSWORD_MAX_LEN + 1) > PASSWORD_MAX_LEN) {
		err_set(TS_EINVALID, "password longer than %d bytes",
		    PASSWORD_MAX_LEN);
		return -1;
	}
	return 0;
}

static int
check_costs(unsigned long long opslimit, size_t memlimit)
{
	if (opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    opslimit > crypto_pwhash_OPSLIMIT_MAX ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN ||
	    memlimit > crypto_pwhash_MEMLIMIT_MAX) {
		err_set(TS_EINVALID, "password hash costs out of range "
		    "(opslimit %llu, memlimit %zu bytes)", opslimit, memlimit);
		return -1;
	}
	return 0;
}

static int
ready(void)
{
	if (sodium_init() < 0) {
		err_set(TS_EINTERNAL, "password: libsodium failed to "
		    "initialize");
		return -1;
	}
	return 0;
}

int
password_hash(const char *pw, unsigned long long opslimit, size_t memlimit,
    char out[PASSWORD_HASH_BUFSZ])
{
	out[0] = '\0';
	if (check_pw(pw) == -1 || check_costs(opslimit, memlimit) == -1 ||
	    ready() == -1)
		return -1;
	errno = 0;
	if (crypto_pwhash_str_alg(out, pw, strlen(pw), opslimit, memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		if (errno == ENOMEM)
			err_set(TS_ENOMEM, "password: out of memory hashing");
		else
			err_set_errno(TS_EINVALID, "password: hashing failed");
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
password_verify(const char *hash, const char *pw)
{
	if (check_pw(pw) == -1 || ready() == -1)
		return -1;
	if (strncmp(hash, PREFIX_ID, strlen(PREFIX_ID)) != 0 &&
	    strncmp(hash, PREFIX_I, strlen(PREFIX_I)) != 0) {
		err_set(TS_EUNAUTHORIZED, "password: stored hash is not argon2");
		return -1;
	}
	if (strnlen(hash, PASSWORD_HASH_BUFSZ) >= PASSWORD_HASH_BUFSZ) {
		err_set(TS_EUNAUTHORIZED, "password: stored hash too long");
		return -1;
	}
	errno = 0;
	if (crypto_pwhash_str_verify(hash, pw, strlen(pw)) != 0) {
		if (errno == ENOMEM)
			err_set(TS_ENOMEM, "password: out of memory verifying");
		else
			err_set(TS_EUNAUTHORIZED, "password mismatch");
		return -1;
	}
	return 0;
}

int
password_verify_nouser(const char *pw, unsigned long long opslimit,
    size_t memlimit)
{
	/* crypto_pwhash_str_verify() derives a 32-byte hash with the stored
	 * costs and compares it; deriving one here with the configured costs
	 * is the same work. The salt need not be secret or random. */
	static const unsigned char salt[crypto_pwhash_SALTBYTES] = "tinystack-nouser";
	unsigned char out[32];

	if (check_pw(pw) == -1 || check_costs(opslimit, memlimit) == -1 ||
	    ready() == -1)
		return -1;
	if (crypto_pwhash(out, sizeof(out), pw, strlen(pw), salt, opslimit,
	    memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0 && errno == ENOMEM) {
		err_set(TS_ENOMEM, "password: out of memory verifying");
		return -1;
	}
	sodium_memzero(out, sizeof(out));
	err_set(TS_EUNAUTHORIZED, "password: no such user");
	return -1;
}

int
password_needs_rehash(const char *hash, unsigned long long opslimit,
    size_t memlimit)
{
	int rc;

	if (strnlen(hash, PASSWORD_HASH_BUFSZ) >= PASSWORD_HASH_BUFSZ)
		goto bad;
	if (strncmp(hash, PREFIX_I, strlen(PREFIX_I)) == 0)
		return 1;	/* still argon2i: move to argon2id */
	if (strncmp(hash, PREFIX_ID, strlen(PREFIX_ID)) != 0)
		goto bad;
	if (ready() == -1)
		return -1;
	rc = crypto_pwhash_str_needs_rehash(hash, opslimit, memlimit);
	if (rc == -1)
		goto bad;
	return rc != 0;
bad:
	err_set(TS_EINVALID, "password: not an argon2 hash");
	return -1;
}
