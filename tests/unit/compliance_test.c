/* Unit tests for controller/identity/compliance.c: Keystone's
 * [security_compliance] rules on a user record, with the time given. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "config.h"
#include "err.h"
#include "opts.h"
#include "identity/compliance.h"
#include "identity/password.h"

#define OPS	PASSWORD_MIN_OPSLIMIT
#define MEM	PASSWORD_MIN_MEMLIMIT
#define T0	((int64_t)1700000000000)
#define DAY	((int64_t)86400000)

/* The rules of a [security_compliance] section given as key=value pairs
 * (NULL-terminated). */
static struct compliance *
rules(const char *kv, ...)
{
	struct config *cfg = config_new(opts_controller);
	struct compliance *c;
	va_list ap;

	va_start(ap, kv);
	for (const char *k = kv; k != NULL; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);

		assert_int_equal(config_set(cfg, "security_compliance", k, v),
		    0);
	}
	va_end(ap);
	c = compliance_new(cfg);
	config_free(&cfg);
	assert_non_null(c);
	return c;
}

static void
set_pw(struct compliance *c, struct rec_user *u, const char *pw, bool self,
    int64_t now)
{
	char h[PASSWORD_HASH_BUFSZ];

	assert_int_equal(password_hash(pw, OPS, MEM, h), 0);
	assert_int_equal(compliance_set_password(c, u, h, self, now), 0);
}

static void
test_defaults_off(void **state)
{
	struct compliance *c = rules(NULL);
	struct rec_user u;
	int i;

	memset(&u, 0, sizeof(u));
	set_pw(c, &u, "one", false, T0);
	assert_int_equal(u.password_expires_at, 0);
	assert_int_equal(u.password_history.n, 0);
	assert_false(compliance_counts_failures(c));
	for (i = 0; i < 100; i++)
		assert_false(compliance_failure(c, &u, T0));
	assert_int_equal(u.failed_auth_count, 0);
	assert_false(compliance_locked(c, &u, T0));
	assert_false(compliance_expired(&u, T0 + 100000 * DAY));
	assert_int_equal(compliance_check_text(c, ""), 0);
	assert_int_equal(compliance_check_self_change(c, &u, T0), 0);
	/* No history: even the current password may be set again. */
	assert_int_equal(compliance_check_history(c, &u, "one"), 0);
	set_pw(c, &u, "two", true, T0);
	assert_int_equal(u.password_history.n, 0);
	assert_int_equal(compliance_check_self_change(c, &u, T0), 0);
	codec_clear(&schema_rec_user, &u);
	compliance_free(&c);
	assert_null(c);
	compliance_free(NULL);
}

static void
test_lockout(void **state)
{
	struct compliance *c = rules("lockout_failure_attempts", "3",
	    "lockout_duration", "2", NULL);
	struct rec_user u;

	memset(&u, 0, sizeof(u));
	assert_true(compliance_counts_failures(c));
	assert_true(compliance_failure(c, &u, T0));
	assert_true(compliance_failure(c, &u, T0 + 10));
	assert_false(compliance_locked(c, &u, T0 + 20));
	/* A success clears the count: three more are needed. */
	assert_true(compliance_success(&u));
	assert_false(compliance_success(&u));
	assert_int_equal(u.failed_auth_count, 0);
	assert_true(compliance_failure(c, &u, T0 + 100));
	assert_true(compliance_failure(c, &u, T0 + 110));
	assert_true(compliance_failure(c, &u, T0 + 120));
	assert_int_equal(u.failed_auth_count, 3);
	assert_true(compliance_locked(c, &u, T0 + 120));
	/* Locked for lockout_duration after the last failure. */
	assert_true(compliance_locked(c, &u, T0 + 120 + 1999));
	assert_false(compliance_locked(c, &u, T0 + 120 + 2000));
	/* After the lock ran out, a failure starts the count again. */
	assert_true(compliance_failure(c, &u, T0 + 5000));
	assert_int_equal(u.failed_auth_count, 1);
	assert_false(compliance_locked(c, &u, T0 + 5000));
	/* The user option exempts the user. */
	u.failed_auth_count = 10;
	u.failed_auth_at = T0 + 5000;
	assert_true(compliance_locked(c, &u, T0 + 5001));
	u.options |= COMPLIANCE_OPT_IGNORE_LOCKOUT;
	assert_false(compliance_locked(c, &u, T0 + 5001));
	compliance_free(&c);
}

static void
test_expiry_and_first_use(void **state)
{
	struct compliance *c = rules("password_expires_days", "90", NULL);
	struct compliance *f = rules("change_password_upon_first_use", "true",
	    "password_expires_days", "90", NULL);
	struct rec_user u;

	memset(&u, 0, sizeof(u));
	set_pw(c, &u, "a", false, T0);
	assert_int_equal(u.password_expires_at, T0 + 90 * DAY);
	assert_false(compliance_expired(&u, T0 + 90 * DAY - 1));
	assert_true(compliance_expired(&u, T0 + 90 * DAY));
	u.options = COMPLIANCE_OPT_IGNORE_EXPIRY;
	assert_false(compliance_expired(&u, T0 + 90 * DAY));
	/* A password set while exempt never expires. */
	set_pw(c, &u, "b", false, T0);
	assert_int_equal(u.password_expires_at, 0);
	u.options = 0;

	/* First use: created or reset by an administrator, expired at once;
	 * the user's own change gets the normal expiry. */
	set_pw(f, &u, "c", false, T0);
	assert_int_equal(u.password_expires_at, T0);
	assert_true(compliance_expired(&u, T0));
	set_pw(f, &u, "d", true, T0 + 1000);
	assert_int_equal(u.password_expires_at, T0 + 1000 + 90 * DAY);
	assert_false(compliance_expired(&u, T0 + 1000));
	u.options = COMPLIANCE_OPT_IGNORE_FIRST_USE;
	set_pw(f, &u, "e", false, T0);
	assert_int_equal(u.password_expires_at, T0 + 90 * DAY);
	/* Removing the password leaves nothing to expire. */
	assert_int_equal(compliance_set_password(f, &u, NULL, false, T0), 0);
	assert_null(u.password_hash);
	assert_int_equal(u.password_expires_at, 0);
	codec_clear(&schema_rec_user, &u);
	compliance_free(&c);
	compliance_free(&f);
}

static void
test_history(void **state)
{
	struct compliance *c = rules("unique_last_password_count", "3", NULL);
	struct compliance *one = rules("unique_last_password_count", "1", NULL);
	struct rec_user u;

	memset(&u, 0, sizeof(u));
	set_pw(c, &u, "p1", false, T0);
	set_pw(c, &u, "p2", true, T0);
	set_pw(c, &u, "p3", true, T0);
	set_pw(c, &u, "p4", true, T0);
	/* The current one and the two before it are kept. */
	assert_int_equal(u.password_history.n, 2);
	err_clear();
	assert_int_equal(compliance_check_history(c, &u, "p4"), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_string_equal(err_msg(), "The new password cannot be identical "
	    "to a previous password. The total number which includes the "
	    "new password must be unique is 3.");
	assert_int_equal(compliance_check_history(c, &u, "p3"), -1);
	assert_int_equal(compliance_check_history(c, &u, "p2"), -1);
	assert_int_equal(compliance_check_history(c, &u, "p1"), 0);
	assert_int_equal(compliance_check_history(c, &u, "new"), 0);
	/* A count of 1: only the current password is refused; shrinking the
	 * count trims the history on the next change. */
	assert_int_equal(compliance_check_history(one, &u, "p4"), -1);
	assert_int_equal(compliance_check_history(one, &u, "p3"), 0);
	set_pw(one, &u, "p5", true, T0);
	assert_int_equal(u.password_history.n, 0);
	assert_int_equal(compliance_check_history(c, &u, "p4"), 0);
	codec_clear(&schema_rec_user, &u);
	compliance_free(&c);
	compliance_free(&one);
}

static void
test_min_age_and_lock_password(void **state)
{
	struct compliance *c = rules("minimum_password_age", "2", NULL);
	struct rec_user u;

	memset(&u, 0, sizeof(u));
	/* An administrator's password may be changed at once. */
	set_pw(c, &u, "a", false, T0);
	assert_int_equal(compliance_check_self_change(c, &u, T0), 0);
	set_pw(c, &u, "b", true, T0);
	err_clear();
	assert_int_equal(compliance_check_self_change(c, &u, T0 + 1000), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_string_equal(err_msg(), "You cannot change your password at "
	    "this time due to the minimum password age. Once you change your "
	    "password, it must be used for 2 day(s) before it can be changed. "
	    "Please try again in 1 day(s) or contact your administrator to "
	    "reset your password.");
	assert_int_equal(compliance_check_self_change(c, &u, T0 + DAY + 1), -1);
	assert_non_null(strstr(err_msg(), "Please try again in 0 day(s) "));
	assert_int_equal(compliance_check_self_change(c, &u, T0 + 2 * DAY), 0);
	u.options = COMPLIANCE_OPT_LOCK_PASSWORD;
	assert_int_equal(compliance_check_self_change(c, &u, T0 + 2 * DAY), -1);
	assert_int_equal(err_code(), TS_EFORBIDDEN);
	codec_clear(&schema_rec_user, &u);
	compliance_free(&c);
}

static void
test_regex(void **state)
{
	struct compliance *c = rules("password_regex",
	    "[[:alnum:]]{7,}[0-9]", "password_regex_description",
	    "at least 8 characters ending in a digit", NULL);
	struct config *cfg;

	assert_int_equal(compliance_check_text(c, "abcdefg1"), 0);
	/* re.match: anchored at the start, not at the end. */
	assert_int_equal(compliance_check_text(c, "abcdefg1!"), 0);
	err_clear();
	assert_int_equal(compliance_check_text(c, "!abcdefg1"), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_string_equal(err_msg(), "The password does not match the "
	    "requirements: at least 8 characters ending in a digit.");
	assert_int_equal(compliance_check_text(c, "short1"), -1);
	assert_int_equal(compliance_check_text(c, ""), -1);
	compliance_free(&c);

	/* A pattern that does not compile stops the start-up. */
	cfg = config_new(opts_controller);
	assert_int_equal(config_set(cfg, "security_compliance",
	    "password_regex", "(unclosed"), 0);
	err_clear();
	assert_null(compliance_new(cfg));
	assert_int_equal(err_code(), TS_ECONFIG);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_off),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_expiry_and_first_use),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_min_age_and_lock_password),
		cmocka_unit_test(test_regex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
