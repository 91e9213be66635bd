/*
 * password: argon2id password hashes (libsodium crypto_pwhash_str).
 *
 * Hashing costs tens of milliseconds and tens of MiB by design: call these
 * on the HTTP worker thread that handles the request, never under a lock
 * (DESIGN.md decision 6). Passwords are bounded at PASSWORD_MAX_LEN bytes so
 * one request cannot buy unbounded CPU. Hash strings are the self-describing
 * PHC form ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"), so costs can change
 * without a migration: password_needs_rehash() tells the caller to store a
 * fresh hash after the next successful login.
 */
#ifndef TS_PASSWORD_H
#define TS_PASSWORD_H

#include <stddef.h>

#include <sodium.h>

#define PASSWORD_MAX_LEN		4096
#define PASSWORD_HASH_BUFSZ		crypto_pwhash_STRBYTES
/* Defaults of the config keys password_hash_opslimit and
 * password_hash_memlimit_kb (libsodium's "interactive" level). */
#define PASSWORD_DEFAULT_OPSLIMIT	2
#define PASSWORD_DEFAULT_MEMLIMIT_KB	65536
/* Cheapest costs argon2id accepts; for tests only. */
#define PASSWORD_MIN_OPSLIMIT		crypto_pwhash_OPSLIMIT_MIN
#define PASSWORD_MIN_MEMLIMIT		crypto_pwhash_MEMLIMIT_MIN

/*
 * Hash pw with argon2id at opslimit passes over memlimit BYTES (config's
 * _kb value * 1024) into out (NUL-terminated). Errors: TS_EINVALID (pw over
 * PASSWORD_MAX_LEN, costs out of argon2id's range), TS_ENOMEM.
 */
int	password_hash(const char *pw, unsigned long long opslimit,
	    size_t memlimit, char out[PASSWORD_HASH_BUFSZ]);

/*
 * 0 if pw matches hash, else -1: TS_EUNAUTHORIZED (mismatch, or a hash that
 * is not argon2), TS_EINVALID (pw too long), TS_ENOMEM. The comparison is
 * constant-time; the cost is the one recorded in hash.
 */
int	password_verify(const char *hash, const char *pw);

/*
 * Spend the work of one verification at the given costs and fail with
 * TS_EUNAUTHORIZED: for an unknown user, so that "no such user" and "wrong
 * password" take the same time and cannot be told apart (CVE-2018-20170).
 */
int	password_verify_nouser(const char *pw, unsigned long long opslimit,
	    size_t memlimit);

/*
 * 1 if hash should be replaced (different costs, or argon2i rather than
 * argon2id), 0 if not, -1 (TS_EINVALID) if hash is not an argon2 hash.
 */
int	password_needs_rehash(const char *hash, unsigned long long opslimit,
	    size_t memlimit);

#endif
