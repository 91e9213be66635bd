/* Unit tests for controller/password.c, at argon2id's minimum costs so the
 * suite stays fast; the defaults are exercised once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "identity/password.h"

#define OPS	PASSWORD_MIN_OPSLIMIT
#define MEM	PASSWORD_MIN_MEMLIMIT

static void
test_hash_and_verify(void **state)
{
	char h[PASSWORD_HASH_BUFSZ], h2[PASSWORD_HASH_BUFSZ];

	assert_int_equal(password_hash("correct horse", OPS, MEM, h), 0);
	assert_true(strncmp(h, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
	assert_int_equal(password_verify(h, "correct horse"), 0);
	/* Salted: the same password hashes differently. */
	assert_int_equal(password_hash("correct horse", OPS, MEM, h2), 0);
	assert_string_not_equal(h, h2);
	assert_int_equal(password_verify(h2, "correct horse"), 0);
	/* Empty and UTF-8 passwords are ordinary passwords. */
	assert_int_equal(password_hash("", OPS, MEM, h), 0);
	assert_int_equal(password_verify(h, ""), 0);
	assert_int_equal(password_verify(h, " "), -1);
	assert_int_equal(password_hash("p\xc3\xa4ssw\xc3\xb6rd", OPS, MEM, h), 0);
	assert_int_equal(password_verify(h, "p\xc3\xa4ssw\xc3\xb6rd"), 0);
}

static void
test_wrong_password(void **state)
{
	char h[PASSWORD_HASH_BUFSZ];

	assert_int_equal(password_hash("s3cret", OPS, MEM, h), 0);
	err_clear();
	assert_int_equal(password_verify(h, "s3creT"), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	assert_int_equal(password_verify(h, "s3cret "), -1);
	assert_int_equal(password_verify(h, "s3cre"), -1);
	/* A damaged or foreign stored hash fails closed. */
	err_clear();
	assert_int_equal(password_verify("plaintext", "plaintext"), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	assert_int_equal(password_verify("", ""), -1);
	h[strlen(h) - 3] ^= 1;
	assert_int_equal(password_verify(h, "s3cret"), -1);
}

static void
test_long_password_refused(void **state)
{
	char *pw = malloc(PASSWORD_MAX_LEN + 2);
	char h[PASSWORD_HASH_BUFSZ];

	assert_non_null(pw);
	memset(pw, 'x', PASSWORD_MAX_LEN);
	pw[PASSWORD_MAX_LEN] = '\0';
	assert_int_equal(password_hash(pw, OPS, MEM, h), 0);	/* at the limit */
	assert_int_equal(password_verify(h, pw), 0);
	pw[PASSWORD_MAX_LEN] = 'x';
	pw[PASSWORD_MAX_LEN + 1] = '\0';
	err_clear();
	assert_int_equal(password_hash(pw, OPS, MEM, h), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_string_equal(h, "");
	err_clear();
	assert_int_equal(password_verify(h, pw), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	err_clear();
	assert_int_equal(password_verify_nouser(pw, OPS, MEM), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	free(pw);
}

static void
test_costs_out_of_range(void **state)
{
	char h[PASSWORD_HASH_BUFSZ];

	err_clear();
	assert_int_equal(password_hash("pw", 0, MEM, h), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(password_hash("pw", OPS, MEM - 1, h), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

static void
test_needs_rehash(void **state)
{
	char h[PASSWORD_HASH_BUFSZ];
	/* An argon2i hash (of "pw") as older deployments stored. */
	static const char argon2i[] = "$argon2i$v=19$m=8,t=3,p=1$RW08IgysPfl0T"
	    "XBHx1An9g$NKeqIlZbaNs4ncIDPuw7VqnfjTI4W6qCfw1QM3+t8WM";

	assert_int_equal(password_hash("pw", OPS, MEM, h), 0);
	assert_int_equal(password_needs_rehash(h, OPS, MEM), 0);
	assert_int_equal(password_needs_rehash(h, OPS + 1, MEM), 1);
	assert_int_equal(password_needs_rehash(h, OPS, MEM * 2), 1);
	/* Still verifies, but should move to argon2id at these costs. */
	assert_int_equal(password_verify(argon2i, "pw"), 0);
	assert_int_equal(password_needs_rehash(argon2i, 3, MEM), 1);
	err_clear();
	assert_int_equal(password_needs_rehash("$2y$10$bcrypt", OPS, MEM), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(password_needs_rehash("$argon2id$garbage", OPS, MEM),
	    -1);
}

static void
test_nouser_fails_like_a_mismatch(void **state)
{
	err_clear();
	assert_int_equal(password_verify_nouser("anything", OPS, MEM), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	assert_int_equal(password_verify_nouser("anything", 0, MEM), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

static void
test_default_costs(void **state)
{
	char h[PASSWORD_HASH_BUFSZ];
	size_t mem = (size_t)PASSWORD_DEFAULT_MEMLIMIT_KB * 1024;

	assert_int_equal(password_hash("default costs", PASSWORD_DEFAULT_OPSLIMIT,
	    mem, h), 0);
	assert_true(strncmp(h, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
	assert_int_equal(password_verify(h, "default costs"), 0);
	assert_int_equal(password_needs_rehash(h, PASSWORD_DEFAULT_OPSLIMIT,
	    mem), 0);
	assert_int_equal(password_needs_rehash(h, OPS, MEM), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_long_password_refused),
		cmocka_unit_test(test_costs_out_of_range),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_nouser_fails_like_a_mismatch),
		cmocka_unit_test(test_default_costs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
