/* Unit tests for common/log.c and common/err.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "log.h"

static char captured[8][4096];
static int ncaptured;

static void
cap(enum log_level lvl, const char *line, void *arg)
{
	if (ncaptured < 8)
		snprintf(captured[ncaptured++], sizeof(captured[0]), "%s", line);
}

static void
redact_case(const char *in, const char *want, int nwant)
{
	char buf[1024];
	int n;

	snprintf(buf, sizeof(buf), "%s", in);
	n = log_redact(buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(n, nwant);
}

static void
test_redact_forms(void **state)
{
	redact_case("password=hunter2 user=bob",
	    "password=*** user=bob", 1);
	redact_case("{\"password\": \"s3cr\\\"et\", \"name\": \"x\"}",
	    "{\"password\": \"***\", \"name\": \"x\"}", 1);
	redact_case("'adminPass': 'abc'", "'adminPass': '***'", 1);
	redact_case("X-Auth-Token: gAAAAABabc123", "X-Auth-Token: ***", 1);
	redact_case("OS_PASSWORD=x OS_USERNAME=admin",
	    "OS_PASSWORD=*** OS_USERNAME=admin", 1);
	redact_case("new_password=a&original_password=b",
	    "new_password=***&original_password=***", 2);
	redact_case("secret_key = ABCDEF", "secret_key = ***", 1);
	redact_case("nothing to hide: tokens counted=3",
	    "nothing to hide: tokens counted=3", 0);
	redact_case("password=", "password=", 0);
	redact_case("", "", 0);
}

/* Short secrets grow when masked ("a" -> "***"): a line full of them must
 * be truncated, never written past its buffer (found in review: a 16 KiB
 * request path of "token=a," logged by the HTTP layer). */
static void
test_redact_growth_is_bounded(void **state)
{
	char buf[64], big[4096];
	size_t i;
	int n;

	snprintf(buf, sizeof(buf), "token=a token=b token=c token=d token=e "
	    "token=f tok");
	n = log_redact(buf, sizeof(buf));
	assert_true(n >= 5);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(strncmp(buf, "token=*** token=*** ", 20), 0);

	for (i = 0; i + 8 < sizeof(big); i += 8)
		memcpy(big + i, "token=a,", 8);
	big[i] = '\0';
	n = log_redact(big, sizeof(big));
	assert_true(n > 400);
	assert_int_equal(strlen(big), sizeof(big) - 1);
	assert_null(strstr(big, "=a"));

	ncaptured = 0;
	log_set_capture(cap, NULL);
	log_set_level(LOG_LVL_INFO);
	memset(big, 0, sizeof(big));
	for (i = 0; i + 8 < sizeof(big) - 100; i += 8)
		memcpy(big + i, "token=a,", 8);
	log_info("GET %s", big);
	log_set_capture(NULL, NULL);
	assert_int_equal(ncaptured, 1);
	assert_null(strstr(captured[0], "=a"));
}

static void
test_log_lines_are_redacted(void **state)
{
	ncaptured = 0;
	log_set_capture(cap, NULL);
	log_set_level(LOG_LVL_DEBUG);
	log_set_request_id("req-1234");
	log_info("auth for %s with password=%s", "admin", "topsecret");
	log_debug("line with\nnewline");
	log_set_level(LOG_LVL_WARN);
	log_info("not shown at WARN");
	log_set_capture(NULL, NULL);
	log_set_request_id(NULL);
	assert_int_equal(ncaptured, 2);
	assert_non_null(strstr(captured[0], "[req-1234]"));
	assert_non_null(strstr(captured[0], "password=***"));
	assert_null(strstr(captured[0], "topsecret"));
	/* Control characters cannot forge a second log line. */
	assert_null(strchr(captured[1], '\n'));
	assert_non_null(strstr(captured[1], "line with?newline"));
}

static void
test_log_file_target(void **state)
{
	char path[] = "/tmp/ts-log-test-XXXXXX";
	char buf[4096];
	int fd = mkstemp(path);
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(log_init("logtest", LOG_LVL_INFO, LOG_TO_FILE, path), 0);
	log_info("hello %d", 42);
	log_debug("hidden");
	errno = ENOENT;
	log_warn("open x");
	log_close();
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "INFO logtest [-] hello 42\n"));
	assert_null(strstr(buf, "hidden"));
	assert_non_null(strstr(buf, "WARNING logtest [-] open x: No such file or directory"));
	close(fd);
	unlink(path);
	assert_int_equal(log_init("x", LOG_LVL_INFO, LOG_TO_FILE,
	    "/nonexistent-dir/x.log"), -1);
	assert_int_equal(err_code(), TS_EIO);
}

static int
fails_with_errno(void)
{
	errno = EACCES;
	err_set_errno(TS_EIO, "open %s", "/etc/shadow");
	return -1;
}

static void
test_err_record_once(void **state)
{
	err_clear();
	assert_int_equal(err_code(), TS_EOK);
	assert_string_equal(err_msg(), "");
	assert_int_equal(fails_with_errno(), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_string_equal(err_msg(), "open /etc/shadow: Permission denied");
	assert_non_null(strstr(err_last()->file, "log_test.c"));
	err_prefix("store: ");
	assert_string_equal(err_msg(), "store: open /etc/shadow: Permission denied");
	assert_int_equal(err_code(), TS_EIO);
	err_set(TS_ENOT_FOUND, "no such %s", "thing");
	assert_int_equal(err_code_http(err_code()), 404);
	assert_string_equal(err_code_name(TS_EOVER_QUOTA), "OVER_QUOTA");
	assert_int_equal(err_code_http(TS_EOVER_QUOTA), 403);
	assert_int_equal(err_code_http(TS_ETOO_LARGE), 413);
	assert_int_equal(err_code_http((enum ts_errcode)9999), 500);
}

static void
test_err_prefix_truncates_safely(void **state)
{
	char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(TS_EINVALID, "%s", big);
	assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
	err_prefix("%s", big);
	assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
	err_set(TS_EINVALID, "tail");
	err_prefix("%.*s", (int)(ERR_MSG_MAX - 3), big);
	assert_int_equal(strlen(err_msg()), ERR_MSG_MAX - 1);
	assert_int_equal(err_msg()[ERR_MSG_MAX - 3], 't');
}

/* The error ring: error lines only, redacted, seq-numbered, bounded. */
static void
test_error_ring(void **state)
{
	static struct log_ring_line out[LOG_RING_LINES + 8];
	char big[2 * LOG_RING_TEXT];
	uint64_t base, lost;
	size_t n;

	(void)state;
	log_set_capture(cap, NULL);
	base = log_ring_last();
	log_warnx("a warning is not kept");
	log_info("nor info");
	assert_int_equal(log_ring_last(), base);
	log_error("tgtadm failed: password=hunter2 token: abc");
	assert_int_equal(log_ring_last(), base + 1);
	n = log_ring_since(base, out, 8, &lost);
	assert_int_equal(n, 1);
	assert_int_equal(lost, 0);
	assert_int_equal(out[0].seq, base + 1);
	assert_true(out[0].at_ms > 1600000000000LL);
	assert_null(strstr(out[0].text, "hunter2"));
	assert_null(strstr(out[0].text, "abc"));
	assert_non_null(strstr(out[0].text, "password=***"));
	/* Nothing newer than the newest. */
	assert_int_equal(log_ring_since(log_ring_last(), out, 8, &lost), 0);
	assert_int_equal(lost, 0);

	/* Overflow: the newest LOG_RING_LINES stay; the rest are lost. */
	base = log_ring_last();
	for (int i = 0; i < LOG_RING_LINES + 6; i++)
		log_error("line %d", i);
	n = log_ring_since(base, out, LOG_RING_LINES + 8, &lost);
	assert_int_equal(n, LOG_RING_LINES);
	assert_int_equal(lost, 6);
	assert_string_equal(out[0].text, "line 6");
	assert_int_equal(out[0].seq, base + 7);
	assert_string_equal(out[n - 1].text, "line 69");
	/* max: the newest max, the older counted as lost, oldest first. */
	n = log_ring_since(log_ring_last() - 10, out, 4, &lost);
	assert_int_equal(n, 4);
	assert_int_equal(lost, 6);
	assert_string_equal(out[0].text, "line 66");
	assert_string_equal(out[3].text, "line 69");

	/* Cut at LOG_RING_TEXT - 1 bytes, never inside a UTF-8 sequence. */
	memset(big, 'x', sizeof(big));
	memcpy(big + LOG_RING_TEXT - 2, "\xc3\xa9\xc3\xa9", 4);
	big[sizeof(big) - 1] = '\0';
	log_error("%s", big);
	n = log_ring_since(log_ring_last() - 1, out, 1, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(out[0].text), LOG_RING_TEXT - 2);
	log_set_capture(NULL, NULL);
	ncaptured = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_forms),
		cmocka_unit_test(test_error_ring),
		cmocka_unit_test(test_redact_growth_is_bounded),
		cmocka_unit_test(test_log_lines_are_redacted),
		cmocka_unit_test(test_log_file_target),
		cmocka_unit_test(test_err_record_once),
		cmocka_unit_test(test_err_prefix_truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
