/*
 * console: tail of a console log file; see console.h.
 *
 * Two passes over the end of the file: the first walks backwards through
 * fixed-size blocks counting line ends to find where the tail starts, the
 * second reads exactly that range into the result. So the only allocation
 * is the result itself, and a file of any size costs reads proportional to
 * the tail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "utf8.h"
#include "virt/console.h"

#define BLOCK		8192
/* The log may be truncated (qemu restarted) or rotated between fstat and
 * read; try again from the new size a few times. */
#define ATTEMPTS	3

/* 1: read len bytes at off; 0: the file is shorter now; -1: I/O error. */
static int
read_at(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got,
		    off + (off_t)got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return 0;
		got += (size_t)r;
	}
	return 1;
}

/* One attempt at the tail of fd, whose size is `size`. 1 done, 0 the file
 * changed under us, -1 error (recorded). */
static int
tail_once(int fd, const char *path, uint64_t size, size_t max_lines,
    size_t cap, char **out, size_t *len)
{
	char blk[BLOCK];
	uint64_t lo = size > cap ? size - cap : 0;
	uint64_t scan_end = size, start = lo, pos, first_nl = UINT64_MAX;
	size_t count = 0;
	bool found = false;
	char *buf;
	int r;

	if (size > 0) {
		if ((r = read_at(fd, blk, 1, (off_t)(size - 1))) != 1)
			goto rerr;
		if (blk[0] == '\n')
			scan_end = size - 1;	/* ends the last line */
	}
	for (pos = scan_end; pos > lo && !found; ) {
		size_t n = (size_t)(pos - lo < BLOCK ? pos - lo : BLOCK);

		if ((r = read_at(fd, blk, n, (off_t)(pos - n))) != 1)
			goto rerr;
		for (size_t i = n; i-- > 0; ) {
			if (blk[i] != '\n')
				continue;
			first_nl = pos - n + i;
			if (max_lines > 0 && ++count == max_lines) {
				start = first_nl + 1;
				found = true;
				break;
			}
		}
		pos -= n;
	}
	if (!found && lo > 0) {
		/* The byte cap cut the file: drop the partial first line
		 * unless lo is a line start or no other line is left. */
		if ((r = read_at(fd, blk, 1, (off_t)(lo - 1))) != 1)
			goto rerr;
		if (blk[0] != '\n' && first_nl != UINT64_MAX)
			start = first_nl + 1;
	}
	*len = (size_t)(size - start);
	if ((buf = malloc(*len + 1)) == NULL) {
		err_set(TS_ENOMEM, "console: out of memory");
		return -1;
	}
	if ((r = read_at(fd, buf, *len, (off_t)start)) != 1) {
		free(buf);
		goto rerr;
	}
	buf[*len] = '\0';
	*out = buf;
	return 1;
rerr:
	if (r == 0)
		return 0;
	err_set_errno(TS_EIO, "console: read %s", path);
	return -1;
}

int
console_tail(const char *path, size_t max_lines, size_t max_bytes,
    unsigned flags, char **out, size_t *len)
{
	struct stat st;
	size_t cap = max_bytes ? max_bytes : CONSOLE_MAX_BYTES_DEFAULT;
	int fd, r = 0;

	*out = NULL;
	*len = 0;
	if (cap > CONSOLE_MAX_BYTES_LIMIT)
		cap = CONSOLE_MAX_BYTES_LIMIT;
	/* O_NONBLOCK: a FIFO planted at the path must not block the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT && (flags & CONSOLE_MISSING_OK)) {
			if ((*out = strdup("")) == NULL) {
				err_set(TS_ENOMEM, "console: out of memory");
				return -1;
			}
			return 0;
		}
		err_set_errno(errno == ENOENT ? TS_ENOT_FOUND :
		    errno == ELOOP ? TS_EINVALID : TS_EIO,
		    "console: open %s", path);
		return -1;
	}
	for (int attempt = 0; attempt < ATTEMPTS && r == 0; attempt++) {
		if (fstat(fd, &st) == -1) {
			err_set_errno(TS_EIO, "console: stat %s", path);
			close(fd);
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			err_set(TS_EINVALID, "console: %s is not a regular file",
			    path);
			close(fd);
			return -1;
		}
		r = tail_once(fd, path, (uint64_t)st.st_size, max_lines, cap,
		    out, len);
	}
	close(fd);
	if (r == 0) {
		err_set(TS_EIO, "console: %s keeps changing size", path);
		return -1;
	}
	if (r == -1)
		return -1;
	if (flags & CONSOLE_SANITIZE) {
		size_t n;
		char *s = console_sanitize(*out, *len, &n);

		free(*out);
		*out = NULL;
		*len = 0;
		if (s == NULL)
			return -1;
		*out = s;
		*len = n;
	}
	return 0;
}

char *
console_sanitize(const char *buf, size_t len, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)buf;
	char *out, *o;
	size_t i = 0;

	/* Worst case: every byte invalid, 3 bytes of U+FFFD each. */
	if (len > (SIZE_MAX - 1) / 3 || (out = malloc(len * 3 + 1)) == NULL) {
		err_set(TS_ENOMEM, "console: out of memory");
		return NULL;
	}
	o = out;
	while (i < len) {
		size_t n = utf8_seq(s + i, len - i);

		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		if (n == 1 && ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') ||
		    s[i] == 0x7f)) {
			i++;
			continue;
		}
		memcpy(o, s + i, n);
		o += n;
		i += n;
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}
