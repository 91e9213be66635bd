/*
 * Unit tests for agent/console.c: tails by lines with and without a final
 * newline, the byte cap (and the partial line it drops), a large file read
 * through a small tail, sanitizing, and refusal of links, FIFOs and
 * directories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "virt/console.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/console_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/console.log", dir);
	return 0;
}

static int
teardown(void **state)
{
	char p[160];
	const char *names[] = { "console.log", "link", "fifo", "big", NULL };

	for (int i = 0; names[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void
put(const char *file, const void *data, size_t len)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
tail_is(size_t lines, size_t bytes, unsigned flags, const char *want)
{
	char *out = NULL;
	size_t len = 0;

	if (console_tail(path, lines, bytes, flags, &out, &len) != 0)
		fail_msg("console_tail: %s", err_msg());
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void
test_lines(void **state)
{
	const char *log = "one\ntwo\nthree\nfour\n";

	put(path, log, strlen(log));
	tail_is(1, 0, 0, "four\n");
	tail_is(2, 0, 0, "three\nfour\n");
	tail_is(4, 0, 0, log);
	tail_is(10, 0, 0, log);
	tail_is(0, 0, 0, log);

	/* the last line has no newline yet: it is still the last line */
	put(path, "one\ntwo\nthr", 11);
	tail_is(1, 0, 0, "thr");
	tail_is(2, 0, 0, "two\nthr");
	tail_is(3, 0, 0, "one\ntwo\nthr");

	/* blank lines are lines; "\r\n" ends one line */
	put(path, "a\r\n\r\nb\r\n", 8);
	tail_is(1, 0, 0, "b\r\n");
	tail_is(2, 0, 0, "\r\nb\r\n");

	put(path, "", 0);
	tail_is(5, 0, 0, "");
	put(path, "\n", 1);
	tail_is(1, 0, 0, "\n");
	tail_is(2, 0, 0, "\n");
}

static void
test_byte_cap(void **state)
{
	const char *log = "first line\nsecond line\nthird\n";

	put(path, log, strlen(log));
	/* 12 bytes start inside "second line": that part is dropped */
	tail_is(0, 12, 0, "third\n");
	tail_is(5, 12, 0, "third\n");
	/* the cap falls exactly on a line start: nothing is dropped */
	tail_is(0, 18, 0, "second line\nthird\n");
	/* the lines asked for fit: the cap does not matter */
	tail_is(1, 6, 0, "third\n");
	/* a single line longer than the cap: its tail is all there is */
	put(path, "0123456789abcdef", 16);
	tail_is(1, 4, 0, "cdef");
	tail_is(0, 4, 0, "cdef");
}

/* A 24 MiB log: the tail costs what it returns. */
static void
test_large_file(void **state)
{
	char *chunk, *out;
	size_t len, clen = 1024 * 1024;
	int fd;

	chunk = malloc(clen);
	assert_non_null(chunk);
	for (size_t i = 0; i < clen; i++)
		chunk[i] = (i % 64 == 63) ? '\n' : 'x';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 24; i++)
		assert_int_equal(write(fd, chunk, clen), (ssize_t)clen);
	assert_int_equal(write(fd, "LAST 1\nLAST 2\n", 14), 14);
	close(fd);
	free(chunk);

	assert_int_equal(console_tail(path, 2, 0, 0, &out, &len), 0);
	assert_string_equal(out, "LAST 1\nLAST 2\n");
	free(out);
	/* 5000 lines of 64 bytes span several 8 KiB blocks */
	assert_int_equal(console_tail(path, 5000, 1024 * 1024, 0, &out, &len),
	    0);
	assert_int_equal(len, 4998 * 64 + 14);
	assert_memory_equal(out + len - 14, "LAST 1\nLAST 2\n", 14);
	assert_int_equal(out[63], '\n');
	free(out);
	/* default cap (100 KiB): whole lines only */
	assert_int_equal(console_tail(path, 0, 0, 0, &out, &len), 0);
	assert_true(len <= CONSOLE_MAX_BYTES_DEFAULT);
	assert_true(len > CONSOLE_MAX_BYTES_DEFAULT - 64);
	assert_int_equal((len - 14) % 64, 0);
	free(out);
	/* a cap above the limit is clamped */
	assert_int_equal(console_tail(path, 0, SIZE_MAX, 0, &out, &len), 0);
	assert_true(len <= CONSOLE_MAX_BYTES_LIMIT);
	assert_true(len > CONSOLE_MAX_BYTES_LIMIT - 64);
	free(out);
}

static void
test_sanitize(void **state)
{
	const char raw[] = "boot\r\n\x1b[1;32mOK\x1b[0m\ttab\x7f\x00nul\n"
	    "caf\xc3\xa9 bad\xff\xfe end\xe2\x82\n";
	char *s;
	size_t n;

	put(path, raw, sizeof(raw) - 1);
	tail_is(0, 0, CONSOLE_SANITIZE, "boot\n[1;32mOK[0m\ttabnul\n"
	    "caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd end\xef\xbf\xbd"
	    "\xef\xbf\xbd\n");
	/* without the flag the bytes are returned as they are, NUL too */
	{
		char *out;
		size_t len;

		assert_int_equal(console_tail(path, 0, 0, 0, &out, &len), 0);
		assert_int_equal(len, sizeof(raw) - 1);
		assert_memory_equal(out, raw, len);
		free(out);
	}
	/* overlong and surrogate encodings are invalid UTF-8 */
	s = console_sanitize("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80", 11, &n);
	assert_non_null(s);
	assert_string_equal(s, "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf"
	    "\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	s = console_sanitize("", 0, &n);
	assert_non_null(s);
	assert_int_equal(n, 0);
	free(s);
}

static void
test_refusals(void **state)
{
	char p[160], *out = (char *)1;
	size_t len = 99;

	/* missing */
	unlink(path);
	assert_int_equal(console_tail(path, 1, 0, 0, &out, &len), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_int_equal(console_tail(path, 1, 0, CONSOLE_MISSING_OK, &out,
	    &len), 0);
	assert_string_equal(out, "");
	free(out);

	/* a symlink is not followed */
	put(path, "secret\n", 7);
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(path, p), 0);
	assert_int_equal(console_tail(p, 1, 0, 0, &out, &len), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	/* a FIFO does not block and is refused */
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(console_tail(p, 1, 0, 0, &out, &len), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	/* a directory */
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(console_tail(p, 1, 0, 0, &out, &len), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sanitize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
