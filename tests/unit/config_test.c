/*
 * Unit tests for common/config.c and the option tables in common/opts.c.
 *
 * Golden files: every tests/golden/config/NAME.conf is loaded with
 * opts_agent when NAME (less a "bad_" prefix) starts with "agent", else
 * with opts_controller. A good file's NAME.ok is its config_print() output;
 * a bad_*.conf must fail and its .ok holds the error message.
 * The packaged samples (packaging/{controller,agent}.conf.sample) must equal
 * config_print_sample() output.
 * Run with TS_UPDATE_GOLDEN=1 to rewrite the .ok files and the samples from
 * the current code, then review the diff.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "opts.h"

/* Log lines captured during a test, newline-separated. */
static char	*logbuf;
static size_t	 loglen;
static int	 nwarn;

static void
cap(enum log_level lvl, const char *line, void *arg)
{
	size_t n = strlen(line);
	char *nb = realloc(logbuf, loglen + n + 2);

	assert_non_null(nb);
	logbuf = nb;
	memcpy(logbuf + loglen, line, n);
	loglen += n;
	logbuf[loglen++] = '\n';
	logbuf[loglen] = '\0';
	if (lvl == LOG_LVL_WARN)
		nwarn++;
}

static int
setup(void **state)
{
	free(logbuf);
	logbuf = NULL;
	loglen = 0;
	nwarn = 0;
	log_set_capture(cap, NULL);
	err_clear();
	return 0;
}

static int
teardown(void **state)
{
	log_set_capture(NULL, NULL);
	free(logbuf);
	logbuf = NULL;
	loglen = 0;
	return 0;
}

static const char *
logs(void)
{
	return logbuf ? logbuf : "";
}

static int
load(struct config *cfg, const char *s)
{
	return config_load_buf(cfg, s, strlen(s), "t.conf");
}

/* config_print() into a malloc'd string. */
static char *
print_str(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(config_print(cfg, fp), 0);
	fclose(fp);
	return buf;
}

static char *
sample_str(const struct config_opt *t, const char *title)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(config_print_sample(t, title, fp), 0);
	fclose(fp);
	return buf;
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (lenp)
		*lenp = (size_t)n;
	return buf;
}

static void
write_file(const char *path, const char *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static const char *
source_dir(void)
{
	const char *d = getenv("TS_SOURCE_DIR");

	if (d == NULL)
		fail_msg("TS_SOURCE_DIR is not set (run through ctest)");
	return d;
}

static int
updating(void)
{
	const char *u = getenv("TS_UPDATE_GOLDEN");

	return u != NULL && strcmp(u, "1") == 0;
}

/* ---- defaults and getters ---------------------------------------------- */

static void
test_defaults(void **state)
{
	struct config *cfg = config_new(opts_controller);

	assert_false(config_get_bool(cfg, "DEFAULT", "debug"));
	assert_string_equal(config_get_str(cfg, "DEFAULT", "log_file"), "");
	assert_string_equal(config_get_str(cfg, "DEFAULT", "state_path"),
	    "/var/lib/tinystack");
	assert_int_equal(config_get_int(cfg, "DEFAULT", "service_down_time"),
	    60);
	assert_int_equal(config_get_int(cfg, "DEFAULT", "report_interval"),
	    10);
	assert_string_equal(config_get_str(cfg, "database", "sync"), "full");
	assert_int_equal(config_get_int(cfg, "database", "map_size_mb"), 1024);
	assert_true(config_get_bool(cfg, "bus", "curve"));
	assert_string_equal(config_get_str(cfg, "bus", "listen"),
	    "tcp://0.0.0.0:5670");
	assert_int_equal(config_get_int(cfg, "api", "identity_port"), 5000);
	assert_true(config_get_int(cfg, "image", "image_size_cap") ==
	    1099511627776LL);
	assert_false(config_is_set(cfg, "DEFAULT", "debug"));
	assert_int_equal(config_unknown_count(cfg), 0);
	assert_null(config_unknown_at(cfg, 0));
	config_free(&cfg);
	assert_null(cfg);
	config_free(&cfg);	/* NULL is fine */
	config_free(NULL);

	cfg = config_new(opts_agent);
	assert_string_equal(config_get_str(cfg, "libvirt", "virt_type"),
	    "qemu");
	assert_string_equal(config_get_str(cfg, "libvirt", "orphan_action"),
	    "log");
	assert_string_equal(config_get_str(cfg, "DEFAULT", "state_path"),
	    "/var/lib/tinystack/agent");
	assert_int_equal(config_get_int(cfg, "bus", "reconnect_max_ms"), 5000);
	assert_string_equal(config_get_str(cfg, "bus", "controller"),
	    "tcp://127.0.0.1:5670");
	config_free(&cfg);
}

static void
test_typed_values(void **state)
{
	struct config *cfg = config_new(opts_controller);

	assert_int_equal(load(cfg,
	    "[DEFAULT]\n"
	    "debug = true\n"
	    "service_down_time = 0120\n"
	    "host = ctl.example.org\n"
	    "[database]\n"
	    "sync = nometasync\n"
	    "[image]\n"
	    "image_size_cap = 9223372036854775807\n"
	    "[api]\n"
	    "tls_cert_file = /etc/tls/c.pem\n"), 0);
	assert_true(config_get_bool(cfg, "DEFAULT", "debug"));
	assert_true(config_is_set(cfg, "DEFAULT", "debug"));
	assert_false(config_is_set(cfg, "DEFAULT", "verbose"));
	assert_int_equal(config_get_int(cfg, "DEFAULT", "service_down_time"),
	    120);
	assert_string_equal(config_get_str(cfg, "DEFAULT", "host"),
	    "ctl.example.org");
	assert_string_equal(config_get_str(cfg, "database", "sync"),
	    "nometasync");
	assert_true(config_get_int(cfg, "image", "image_size_cap") ==
	    INT64_MAX);
	assert_string_equal(config_get_str(cfg, "api", "tls_cert_file"),
	    "/etc/tls/c.pem");
	assert_int_equal(nwarn, 0);
	config_free(&cfg);
}

static void
test_bool_spellings(void **state)
{
	static const char *const yes[] = { "true", "TRUE", "True", "yes",
	    "YeS", "on", "ON", "1" };
	static const char *const no[] = { "false", "FALSE", "no", "No", "off",
	    "OFF", "0" };
	struct config *cfg = config_new(opts_controller);
	char buf[128];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		assert_int_equal(config_set(cfg, "DEFAULT", "debug", "false"),
		    0);
		snprintf(buf, sizeof(buf), "[DEFAULT]\ndebug = %s\n", yes[i]);
		assert_int_equal(load(cfg, buf), 0);
		assert_true(config_get_bool(cfg, "DEFAULT", "debug"));
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		assert_int_equal(config_set(cfg, "DEFAULT", "debug", "true"),
		    0);
		snprintf(buf, sizeof(buf), "[DEFAULT]\ndebug = %s\n", no[i]);
		assert_int_equal(load(cfg, buf), 0);
		assert_false(config_get_bool(cfg, "DEFAULT", "debug"));
	}
	config_free(&cfg);
}

/* A table exercising what the daemon tables do not use yet. */
static const struct config_opt test_table[] = {
	CONFIG_OPT_FLOAT("DEFAULT", "ratio", "1.5", "A ratio."),
	CONFIG_OPT_INT("DEFAULT", "any", "-3", 0, 0, "Any int64."),
	CONFIG_OPT_SECRET("auth", "password", "", "A password."),
	CONFIG_OPT_STR("auth", "user", "admin", "A user."),
	CONFIG_OPT_ENUM("auth", "mode", "a", "a|bb|ccc", "A mode."),
	CONFIG_OPT_END
};

static void
test_float_and_unbounded_int(void **state)
{
	static const struct { const char *in; double want; } good[] = {
		{ "2", 2 }, { "-2.25", -2.25 }, { ".5", 0.5 }, { "5.", 5 },
		{ "+1e3", 1000 }, { "1E-2", 0.01 }, { "0.1", 0.1 },
	};
	static const char *const bad[] = { "nan", "inf", "-inf", "0x1p3",
	    "1.2.3", "", "e5", "1e", "1e+", ".", "1,5", "1e999" };
	struct config *cfg = config_new(test_table);
	char buf[128];

	assert_true(config_get_float(cfg, "DEFAULT", "ratio") == 1.5);
	assert_int_equal(config_get_int(cfg, "DEFAULT", "any"), -3);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "[DEFAULT]\nratio = %s\n",
		    good[i].in);
		assert_int_equal(load(cfg, buf), 0);
		assert_true(config_get_float(cfg, "DEFAULT", "ratio") ==
		    good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "[DEFAULT]\nratio = %s\n", bad[i]);
		assert_int_equal(load(cfg, buf), -1);
		assert_int_equal(err_code(), TS_ECONFIG);
		assert_non_null(strstr(err_msg(), "t.conf:2: [DEFAULT] ratio: "));
		/* unchanged by the failed load */
		assert_true(config_get_float(cfg, "DEFAULT", "ratio") == 0.1);
	}
	assert_int_equal(load(cfg, "[DEFAULT]\nratio = 1e999\n"), -1);
	assert_string_equal(err_msg(),
	    "t.conf:2: [DEFAULT] ratio: 1e999 is out of range");

	assert_int_equal(load(cfg, "[DEFAULT]\nany = -9223372036854775808\n"),
	    0);
	assert_true(config_get_int(cfg, "DEFAULT", "any") == INT64_MIN);
	assert_int_equal(load(cfg, "[DEFAULT]\nany = 9223372036854775808\n"),
	    -1);
	assert_string_equal(err_msg(), "t.conf:2: [DEFAULT] any: "
	    "9223372036854775808 is out of range");
	config_free(&cfg);
}

/* ---- errors ------------------------------------------------------------ */

static void
expect_error(const struct config_opt *t, const char *in, size_t len,
    const char *want)
{
	struct config *cfg = config_new(t);
	char *before = print_str(cfg), *after;

	err_clear();
	assert_int_equal(config_load_buf(cfg, in, len, "t.conf"), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_string_equal(err_msg(), want);
	after = print_str(cfg);
	assert_string_equal(before, after);
	free(before);
	free(after);
	config_free(&cfg);
}

static void
test_errors(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "[DEFAULT]\nservice_down_time = x\n",
		  "t.conf:2: [DEFAULT] service_down_time: expected integer, "
		  "got 'x'" },
		{ "[DEFAULT]\nservice_down_time = 1 0\n",
		  "t.conf:2: [DEFAULT] service_down_time: expected integer, "
		  "got '1 0'" },
		{ "[DEFAULT]\nservice_down_time = 0x10\n",
		  "t.conf:2: [DEFAULT] service_down_time: expected integer, "
		  "got '0x10'" },
		{ "[DEFAULT]\nservice_down_time = 86401\n",
		  "t.conf:2: [DEFAULT] service_down_time: 86401 is out of "
		  "range 1..86400" },
		{ "[DEFAULT]\nservice_down_time = -5\n",
		  "t.conf:2: [DEFAULT] service_down_time: -5 is out of "
		  "range 1..86400" },
		{ "[bus]\ncurve = yep\n",
		  "t.conf:2: [bus] curve: expected boolean (true/false, "
		  "yes/no, on/off, 1/0), got 'yep'" },
		{ "[bus]\ncurve =\n",
		  "t.conf:2: [bus] curve: expected boolean (true/false, "
		  "yes/no, on/off, 1/0), got ''" },
		{ "[bus]\nkeys_dir = keys\n",
		  "t.conf:2: [bus] keys_dir: expected an absolute path, "
		  "got 'keys'" },
		{ "[database]\nsync = \n",
		  "t.conf:2: [database] sync: expected one of "
		  "full|nometasync, got ''" },
		{ "[database]\nsync = FULL\n",
		  "t.conf:2: [database] sync: expected one of "
		  "full|nometasync, got 'FULL'" },
		{ "debug = true\n",
		  "t.conf:1: option 'debug' before any [section] header" },
		{ "\n# c\n[DEFAULT\n", "t.conf:3: malformed section header" },
		{ "[DEFAULT] x\n", "t.conf:1: malformed section header" },
		{ "[\n", "t.conf:1: malformed section header" },
		{ "[ ]\n", "t.conf:1: invalid section name ''" },
		{ "[a/b]\n", "t.conf:1: invalid section name 'a/b'" },
		{ "[DEFAULT]\njust words\n", "t.conf:2: expected '[section]', "
		  "'key = value' or a comment" },
		{ "[DEFAULT]\nde bug = 1\n",
		  "t.conf:2: invalid option name 'de bug'" },
		{ "[DEFAULT]\n = 1\n", "t.conf:2: invalid option name ''" },
		{ "[DEFAULT]\ndebug = a\x01" "b\n",
		  "t.conf:2: control character 0x01" },
		{ "[DEFAULT]\ndebug = a\rb\n",
		  "t.conf:2: control character 0x0d" },
		{ "[DEFAULT]\ndebug = true\x7f\n",
		  "t.conf:2: control character 0x7f" },
		{ "[DEFAULT]\ndebug = true\r\r\n",
		  "t.conf:2: control character 0x0d" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(opts_controller, cases[i].in,
		    strlen(cases[i].in), cases[i].want);

	/* The value echoed in a message is cut short. */
	expect_error(opts_controller, "[DEFAULT]\nservice_down_time = "
	    "12345678901234567890123456789012345678901234567890"
	    "12345678901234567890x\n",
	    strlen("[DEFAULT]\nservice_down_time = "
	    "12345678901234567890123456789012345678901234567890"
	    "12345678901234567890x\n"),
	    "t.conf:2: [DEFAULT] service_down_time: expected integer, got "
	    "'1234567890123456789012345678901234567890123456789012345678901234"
	    "...'");
	/* An agent-only choice. */
	expect_error(opts_agent, "[libvirt]\nvirt_type = lxc\n",
	    strlen("[libvirt]\nvirt_type = lxc\n"),
	    "t.conf:2: [libvirt] virt_type: expected one of kvm|qemu, got "
	    "'lxc'");
}

static void
test_nul_byte(void **state)
{
	static const char in[] = "[DEFAULT]\ndebug = tr\0ue\n";
	static const char in2[] = "[DEFAULT]\n\0\n";

	expect_error(opts_controller, in, sizeof(in) - 1, "t.conf:2: NUL byte");
	expect_error(opts_controller, in2, sizeof(in2) - 1,
	    "t.conf:2: NUL byte");
}

static void
test_line_limits(void **state)
{
	const char *head = "[DEFAULT]\nhost=";
	size_t hl = strlen(head);
	/* "host=" + value is exactly CONFIG_LINE_MAX bytes: accepted. */
	size_t vl = CONFIG_LINE_MAX - strlen("host=");
	char *buf = malloc(hl + vl + 4);
	struct config *cfg = config_new(opts_controller), *cfg2;
	char *out, *out2;

	assert_non_null(buf);
	memcpy(buf, head, hl);
	memset(buf + hl, 'v', vl);
	memcpy(buf + hl + vl, "\r\n", 2);	/* CR not counted */
	assert_int_equal(config_load_buf(cfg, buf, hl + vl + 2, "t.conf"), 0);
	assert_int_equal(strlen(config_get_str(cfg, "DEFAULT", "host")), vl);

	/* Printing "host = v..." would overflow the line limit; the output
	 * must still load and print identically. */
	out = print_str(cfg);
	cfg2 = config_new(opts_controller);
	assert_int_equal(load(cfg2, out), 0);
	out2 = print_str(cfg2);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
	config_free(&cfg2);

	/* One byte more is rejected. */
	buf[hl + vl] = 'v';
	buf[hl + vl + 1] = '\n';
	assert_int_equal(config_load_buf(cfg, buf, hl + vl + 2, "t.conf"), -1);
	assert_string_equal(err_msg(), "t.conf:2: line longer than 4096 bytes");
	/* ...and the long but valid value is still there. */
	assert_int_equal(strlen(config_get_str(cfg, "DEFAULT", "host")), vl);
	/* The same limit applies to config_set(): "host=" + value must fit
	 * on one line. */
	buf[hl + vl] = '\0';
	assert_int_equal(config_set(cfg, "DEFAULT", "host", buf + hl), 0);
	buf[hl + vl] = 'v';
	buf[hl + vl + 1] = '\0';
	assert_int_equal(config_set(cfg, "DEFAULT", "host", buf + hl), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_string_equal(err_msg(), "[DEFAULT] host: value too long");
	free(buf);
	config_free(&cfg);
}

static void
test_file_size_limit(void **state)
{
	char path[] = "/tmp/config_test.XXXXXX";
	size_t n = CONFIG_FILE_MAX + 1;
	char *buf = malloc(n);
	struct config *cfg = config_new(opts_controller);
	int fd;

	assert_non_null(buf);
	/* A file of comment lines, one byte too big. */
	memset(buf, '#', n);
	for (size_t i = 63; i < n; i += 64)
		buf[i] = '\n';
	assert_int_equal(config_load_buf(cfg, buf, n, "big.conf"), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_string_equal(err_msg(), "big.conf: larger than 1048576 bytes");
	/* Exactly at the limit is fine. */
	assert_int_equal(config_load_buf(cfg, buf, n - 1, "big.conf"), 0);

	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	assert_int_equal(config_load_file(cfg, path), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_non_null(strstr(err_msg(), ": larger than 1048576 bytes"));
	assert_int_equal(truncate(path, (off_t)(n - 1)), 0);
	assert_int_equal(config_load_file(cfg, path), 0);
	unlink(path);
	free(buf);
	config_free(&cfg);
}

static void
test_load_file_errors(void **state)
{
	struct config *cfg = config_new(opts_controller);
	char dir[] = "/tmp/config_test.XXXXXX";

	assert_int_equal(config_load_file(cfg,
	    "/nonexistent/tinystack/controller.conf"), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_non_null(strstr(err_msg(),
	    "/nonexistent/tinystack/controller.conf: "));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(config_load_file(cfg, dir), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	rmdir(dir);
	config_free(&cfg);
}

/* ---- semantics --------------------------------------------------------- */

static void
test_failed_load_keeps_previous(void **state)
{
	struct config *cfg = config_new(opts_controller);
	char *before, *after;

	assert_int_equal(load(cfg, "[DEFAULT]\ndebug = true\n"
	    "service_down_time = 120\n[x]\ny = 1\n"), 0);
	assert_int_equal(config_unknown_count(cfg), 1);
	before = print_str(cfg);
	/* Changes and an unknown option before the bad line are all
	 * discarded. */
	assert_int_equal(load(cfg, "[DEFAULT]\ndebug = false\n"
	    "service_down_time = 30\nzzz = 1\n[api]\nthreads = many\n"), -1);
	assert_string_equal(err_msg(),
	    "t.conf:6: [api] threads: expected integer, got 'many'");
	after = print_str(cfg);
	assert_string_equal(before, after);
	assert_true(config_get_bool(cfg, "DEFAULT", "debug"));
	assert_int_equal(config_get_int(cfg, "DEFAULT", "service_down_time"),
	    120);
	assert_false(config_is_set(cfg, "api", "threads"));
	assert_int_equal(config_unknown_count(cfg), 1);
	free(before);
	free(after);
	config_free(&cfg);
}

static void
test_unknown_options(void **state)
{
	struct config *cfg = config_new(opts_controller);
	const struct config_unknown *u;

	assert_int_equal(load(cfg, "[DEFAULT]\ndebug = true\n"
	    "no_such = 1\n[nosection]\nkey-a = secret\n"), 0);
	assert_true(config_get_bool(cfg, "DEFAULT", "debug"));
	assert_int_equal(config_unknown_count(cfg), 2);
	assert_int_equal(nwarn, 2);
	assert_non_null(strstr(logs(),
	    "t.conf:3: unknown option [DEFAULT] no_such\n"));
	assert_non_null(strstr(logs(),
	    "t.conf:5: unknown option [nosection] key-a\n"));
	/* Values of unknown options are never logged. */
	assert_null(strstr(logs(), "secret"));

	u = config_unknown_at(cfg, 0);
	assert_non_null(u);
	assert_string_equal(u->file, "t.conf");
	assert_int_equal(u->line, 3);
	assert_string_equal(u->section, "DEFAULT");
	assert_string_equal(u->key, "no_such");
	u = config_unknown_at(cfg, 1);
	assert_non_null(u);
	assert_string_equal(u->section, "nosection");
	assert_string_equal(u->key, "key-a");
	assert_int_equal(u->line, 5);
	assert_null(config_unknown_at(cfg, 2));

	/* A second file adds to the list. */
	assert_int_equal(config_load_buf(cfg, "[api]\nthread = 2\n", 17,
	    "other.conf"), 0);
	assert_int_equal(config_unknown_count(cfg), 3);
	u = config_unknown_at(cfg, 2);
	assert_string_equal(u->file, "other.conf");
	assert_string_equal(u->key, "thread");
	/* Names are case-sensitive, like oslo.config. */
	assert_int_equal(load(cfg, "[Database]\npath = /x\n"), 0);
	assert_int_equal(config_unknown_count(cfg), 4);
	assert_string_equal(config_get_str(cfg, "database", "path"),
	    "/var/lib/tinystack/controller.lmdb");
	config_free(&cfg);
}

static void
test_duplicates(void **state)
{
	struct config *cfg = config_new(opts_controller);

	assert_int_equal(load(cfg, "[DEFAULT]\ndebug = true\n[api]\n"
	    "threads = 2\n[DEFAULT]\ndebug = false\n"), 0);
	assert_false(config_get_bool(cfg, "DEFAULT", "debug"));
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(logs(), "t.conf:6: [DEFAULT] debug given "
	    "again (first at line 2); the last value wins"));
	/* A later file overriding an earlier one is normal: no warning. */
	assert_int_equal(load(cfg, "[DEFAULT]\ndebug = true\n"), 0);
	assert_true(config_get_bool(cfg, "DEFAULT", "debug"));
	assert_int_equal(nwarn, 1);
	config_free(&cfg);
}

static void
test_crlf_bom_blanks(void **state)
{
	struct config *cfg = config_new(opts_controller);

	assert_int_equal(load(cfg, "\xef\xbb\xbf[DEFAULT]\r\n"
	    "  debug\t=\ttrue  \r\n"
	    "\r\n"
	    "; c\r\n"
	    "  # c\r\n"
	    "[ api ]\r\n"
	    "threads=4\r\n"
	    "public_host = x # y = z\r\n"
	    "bind_host =\r\n"
	    "connection_limit = 7"), 0);	/* no final newline */
	assert_true(config_get_bool(cfg, "DEFAULT", "debug"));
	assert_int_equal(config_get_int(cfg, "api", "threads"), 4);
	assert_string_equal(config_get_str(cfg, "api", "public_host"),
	    "x # y = z");
	assert_string_equal(config_get_str(cfg, "api", "bind_host"), "");
	assert_true(config_is_set(cfg, "api", "bind_host"));
	assert_int_equal(config_get_int(cfg, "api", "connection_limit"), 7);
	assert_int_equal(config_unknown_count(cfg), 0);
	assert_int_equal(load(cfg, ""), 0);
	config_free(&cfg);
}

static void
test_set(void **state)
{
	struct config *cfg = config_new(opts_controller);

	assert_false(config_is_set(cfg, "api", "threads"));
	assert_int_equal(config_set(cfg, "api", "threads", " 16 "), 0);
	assert_int_equal(config_get_int(cfg, "api", "threads"), 16);
	assert_true(config_is_set(cfg, "api", "threads"));
	assert_int_equal(config_set(cfg, "DEFAULT", "debug", "on"), 0);
	assert_true(config_get_bool(cfg, "DEFAULT", "debug"));

	assert_int_equal(config_set(cfg, "api", "threads", "0"), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_string_equal(err_msg(), "[api] threads: 0 is out of range "
	    "1..1024");
	assert_int_equal(config_get_int(cfg, "api", "threads"), 16);
	assert_int_equal(config_set(cfg, "api", "tls_key_file", "k.pem"), -1);
	assert_string_equal(err_msg(), "[api] tls_key_file: expected an "
	    "absolute path, got 'k.pem'");
	assert_int_equal(config_set(cfg, "api", "nope", "1"), -1);
	assert_string_equal(err_msg(), "unknown option [api] nope");
	assert_int_equal(config_set(cfg, "DEFAULT", "host", "a\nb = c"), -1);
	assert_string_equal(err_msg(), "[DEFAULT] host: control character in "
	    "value");
	assert_string_equal(config_get_str(cfg, "DEFAULT", "host"), "");
	/* A later load overrides a set value. */
	assert_int_equal(load(cfg, "[api]\nthreads = 3\n"), 0);
	assert_int_equal(config_get_int(cfg, "api", "threads"), 3);
	config_free(&cfg);
}

static void
roundtrip(const struct config_opt *t, const char *in)
{
	struct config *a = config_new(t), *b = config_new(t);
	char *pa, *pb;

	assert_int_equal(load(a, in), 0);
	pa = print_str(a);
	assert_int_equal(load(b, pa), 0);
	assert_int_equal(config_unknown_count(b), 0);
	pb = print_str(b);
	assert_string_equal(pa, pb);
	/* Same effective values, option by option. */
	for (size_t i = 0; t[i].key != NULL; i++) {
		const char *s = t[i].section, *k = t[i].key;

		switch (t[i].type) {
		case CONFIG_STR:
		case CONFIG_PATH:
			if (t[i].flags & CONFIG_SECRET)
				break;
			assert_string_equal(config_get_str(a, s, k),
			    config_get_str(b, s, k));
			break;
		case CONFIG_INT:
			assert_true(config_get_int(a, s, k) ==
			    config_get_int(b, s, k));
			break;
		case CONFIG_BOOL:
			assert_int_equal(config_get_bool(a, s, k),
			    config_get_bool(b, s, k));
			break;
		case CONFIG_FLOAT:
			assert_true(config_get_float(a, s, k) ==
			    config_get_float(b, s, k));
			break;
		}
	}
	free(pa);
	free(pb);
	config_free(&a);
	config_free(&b);
}

static void
test_print_roundtrip(void **state)
{
	struct config *cfg = config_new(test_table);
	char *out;

	roundtrip(opts_controller, "");
	roundtrip(opts_controller, "[DEFAULT]\ndebug=YES\nservice_down_time="
	    "+007\n[database]\nsync=nometasync\n[api]\npublic_host = a=b\n"
	    "[image]\nimage_size_cap = 0001\n");
	roundtrip(opts_agent, "[libvirt]\nvirt_type=kvm\n[bus]\ncurve=0\n");
	roundtrip(test_table, "[DEFAULT]\nratio = 0.1\nany = -0\n"
	    "[auth]\nuser = ; not a comment\nmode = ccc\n");
	roundtrip(test_table, "[DEFAULT]\nratio = 1e300\n");
	roundtrip(test_table, "[DEFAULT]\nratio = -0.0\n");

	/* Normalized form. */
	assert_int_equal(load(cfg, "[DEFAULT]\nratio = 2.50\nany = -007\n"
	    "[auth]\npassword = hunter2\n"), 0);
	out = print_str(cfg);
	assert_string_equal(out,
	    "[DEFAULT]\n"
	    "ratio = 2.5\n"
	    "any = -7\n"
	    "\n"
	    "[auth]\n"
	    "password = ***\n"
	    "user = admin\n"
	    "mode = a\n");
	/* The secret itself is still there for the program. */
	assert_string_equal(config_get_str(cfg, "auth", "password"),
	    "hunter2");
	free(out);
	/* A bad secret is not echoed either. */
	assert_int_equal(load(cfg, "[auth]\npassword = hunter3\x01\n"), -1);
	assert_null(strstr(err_msg(), "hunter3"));
	config_free(&cfg);

	/* An empty secret prints as empty: nothing to hide. */
	cfg = config_new(test_table);
	out = print_str(cfg);
	assert_non_null(strstr(out, "\npassword =\n"));
	free(out);
	config_free(&cfg);
}

static void
test_print_write_error(void **state)
{
	struct config *cfg = config_new(opts_controller);
	FILE *fp = fopen("/dev/full", "w");

	/* Every Linux system has /dev/full; its absence is a broken test
	 * machine, not a reason to pass. */
	if (fp == NULL)
		fail_msg("cannot open /dev/full: %s", strerror(errno));
	assert_int_equal(config_print(cfg, fp), -1);
	assert_int_equal(err_code(), TS_EIO);
	fclose(fp);
	config_free(&cfg);
}

/* Programmer errors end the process: run fn in a child, which must exit
 * with status 1 after logging a line containing `want`. */
static int fatal_pipe = -1;

static void
cap_to_pipe(enum log_level lvl, const char *line, void *arg)
{
	if (write(fatal_pipe, line, strlen(line)) < 0 ||
	    write(fatal_pipe, "\n", 1) < 0)
		_exit(3);
}

static void
expect_fatal(void (*fn)(void), const char *want)
{
	char out[4096];
	size_t len = 0;
	ssize_t r;
	int fds[2], status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(fds[0]);
		fatal_pipe = fds[1];
		log_set_capture(cap_to_pipe, NULL);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while ((r = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	if (strstr(out, want) == NULL)
		fail_msg("expected '%s' in '%s'", want, out);
}

static void
get_unknown(void)
{
	struct config *cfg = config_new(opts_controller);

	(void)config_get_int(cfg, "api", "no_such_option");
}

static void
get_wrong_type(void)
{
	struct config *cfg = config_new(opts_controller);

	(void)config_get_bool(cfg, "api", "threads");
}

static const struct config_opt bad_default_table[] = {
	CONFIG_OPT_INT("DEFAULT", "n", "100", 1, 10, "Out of its own range."),
	CONFIG_OPT_END
};

static const struct config_opt dup_table[] = {
	CONFIG_OPT_INT("DEFAULT", "n", "1", 0, 0, "One."),
	CONFIG_OPT_INT("DEFAULT", "n", "2", 0, 0, "Two."),
	CONFIG_OPT_END
};

static const struct config_opt secret_int_table[] = {
	{ .section = "DEFAULT", .key = "n", .type = CONFIG_INT, .def = "1",
	  .help = "h", .flags = CONFIG_SECRET },
	CONFIG_OPT_END
};

static void
new_bad_default(void)
{
	struct config *cfg = config_new(bad_default_table);

	config_free(&cfg);
}

static void
new_dup(void)
{
	struct config *cfg = config_new(dup_table);

	config_free(&cfg);
}

static void
new_secret_int(void)
{
	struct config *cfg = config_new(secret_int_table);

	config_free(&cfg);
}

static void
test_programmer_errors(void **state)
{
	expect_fatal(get_unknown,
	    "config: [api] no_such_option is not in the option table");
	expect_fatal(get_wrong_type,
	    "config: [api] threads has type integer, read as boolean");
	expect_fatal(new_bad_default, "config table: [DEFAULT] n: default: "
	    "100 is out of range 1..10");
	expect_fatal(new_dup, "config table: [DEFAULT] n listed twice");
	expect_fatal(new_secret_int, "config table: [DEFAULT] n: only plain "
	    "strings can be secret");
}

/* ---- golden files ------------------------------------------------------ */

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
golden_one(const char *dir, const char *name)
{
	char path[4096], okpath[4096], *got, *want;
	const char *base = name;
	int bad = strncmp(name, "bad_", 4) == 0;
	struct config *cfg;
	size_t dl = strlen(dir);

	if (bad)
		base += 4;
	cfg = config_new(strncmp(base, "agent", 5) == 0 ? opts_agent :
	    opts_controller);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(okpath, sizeof(okpath), "%.*s.ok",
	    (int)(strlen(path) - strlen(".conf")), path);
	err_clear();
	if (bad) {
		const char *m;

		if (config_load_file(cfg, path) != -1)
			fail_msg("%s: loaded, but should fail", name);
		assert_int_equal(err_code(), TS_ECONFIG);
		/* Messages name the file; keep the .ok machine-independent. */
		m = err_msg();
		if (strncmp(m, dir, dl) == 0 && m[dl] == '/')
			m += dl + 1;
		if (asprintf(&got, "%s\n", m) == -1)
			fail();
	} else {
		if (config_load_file(cfg, path) != 0)
			fail_msg("%s: %s", name, err_msg());
		got = print_str(cfg);
	}
	config_free(&cfg);

	if (updating()) {
		write_file(okpath, got, strlen(got));
	} else {
		want = read_file(okpath, NULL);
		if (want == NULL)
			fail_msg("%s: missing (TS_UPDATE_GOLDEN=1 creates it)",
			    okpath);
		if (strcmp(got, want) != 0) {
			print_error("%s: output differs from %s\n--- got\n%s"
			    "--- want\n%s", name, okpath, got, want);
			fail();
		}
		free(want);
	}
	if (!bad) {
		/* The normalized output is itself a valid, warning-free
		 * configuration that normalizes to itself. */
		int w = nwarn;
		char *again;

		cfg = config_new(strncmp(base, "agent", 5) == 0 ? opts_agent :
		    opts_controller);
		assert_int_equal(load(cfg, got), 0);
		assert_int_equal(nwarn, w);
		again = print_str(cfg);
		assert_string_equal(again, got);
		free(again);
		config_free(&cfg);
	}
	free(got);
}

static void
test_golden(void **state)
{
	char dir[4096], *names[256];
	size_t n = 0, ngood = 0, nbad = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/golden/config", source_dir());
	d = opendir(dir);
	if (d == NULL)
		fail_msg("%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 5 && strcmp(de->d_name + l - 5, ".conf") == 0) {
			assert_true(n < sizeof(names) / sizeof(names[0]));
			names[n] = strdup(de->d_name);
			assert_non_null(names[n]);
			n++;
		}
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmpstr);
	for (size_t i = 0; i < n; i++) {
		golden_one(dir, names[i]);
		if (strncmp(names[i], "bad_", 4) == 0)
			nbad++;
		else
			ngood++;
		free(names[i]);
	}
	/* The directory really was read. */
	assert_true(ngood >= 5);
	assert_true(nbad >= 10);
}

/* ---- packaged samples -------------------------------------------------- */

/* Turn "#key = value" lines (not "# help" lines) into "key = value". */
static char *
uncomment(const char *s)
{
	char *out = strdup(s), *w = out;
	int bol = 1;

	assert_non_null(out);
	for (const char *p = s; *p; p++) {
		if (bol && p[0] == '#' && p[1] != ' ' && p[1] != '\n' &&
		    p[1] != '\0') {
			bol = 0;
			continue;
		}
		bol = *p == '\n';
		*w++ = *p;
	}
	*w = '\0';
	return out;
}

static void
sample_one(const struct config_opt *t, const char *title, const char *file)
{
	char path[4096], *gen, *shipped, *un, *pdef, *pun;
	struct config *cfg;
	int w = nwarn;

	snprintf(path, sizeof(path), "%s/packaging/%s", source_dir(), file);
	gen = sample_str(t, title);
	if (updating())
		write_file(path, gen, strlen(gen));
	shipped = read_file(path, NULL);
	if (shipped == NULL)
		fail_msg("%s: missing (TS_UPDATE_GOLDEN=1 creates it)", path);
	if (strcmp(gen, shipped) != 0) {
		print_error("%s differs from config_print_sample() output; "
		    "regenerate with TS_UPDATE_GOLDEN=1\n", path);
		fail();
	}

	/* The shipped file loads cleanly and sets nothing. */
	cfg = config_new(t);
	assert_int_equal(config_load_file(cfg, path), 0);
	assert_int_equal(config_unknown_count(cfg), 0);
	assert_int_equal(nwarn, w);
	pdef = print_str(cfg);
	for (size_t i = 0; t[i].key != NULL; i++)
		assert_false(config_is_set(cfg, t[i].section, t[i].key));
	config_free(&cfg);

	/* Uncommented, it names every option exactly once, with its
	 * default. */
	un = uncomment(shipped);
	cfg = config_new(t);
	assert_int_equal(load(cfg, un), 0);
	assert_int_equal(config_unknown_count(cfg), 0);
	assert_int_equal(nwarn, w);
	for (size_t i = 0; t[i].key != NULL; i++)
		assert_true(config_is_set(cfg, t[i].section, t[i].key));
	pun = print_str(cfg);
	assert_string_equal(pdef, pun);
	config_free(&cfg);

	/* Every line of a sample is readable on an 80-column terminal. */
	for (const char *p = shipped; *p;) {
		size_t l = strcspn(p, "\n");

		assert_true(l <= 80);
		p += l + (p[l] == '\n');
	}
	free(gen);
	free(shipped);
	free(un);
	free(pdef);
	free(pun);
}

static void
test_samples(void **state)
{
	sample_one(opts_controller, "tinystack-controller",
	    "controller.conf.sample");
	sample_one(opts_agent, "tinystack-agent", "agent.conf.sample");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bool_spellings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_float_and_unbounded_int,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_size_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_load_file_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failed_load_keeps_previous,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_options, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crlf_bom_blanks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_print_write_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_programmer_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_samples, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
