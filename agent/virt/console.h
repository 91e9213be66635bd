/*
 * console: the tail of a guest's serial console log.
 *
 * qemu (through virtlogd) writes everything the guest prints on its first
 * serial port to <instances_path>/<uuid>/console.log. The log is guest
 * controlled and may be large, so reading it never costs more than the
 * bytes returned: the file is read backwards from its end in fixed blocks
 * until enough lines are found or the byte cap is reached. Memory is
 * bounded by max_bytes (plus one block), whatever the file size.
 *
 * Lines end in '\n'; a final line without one still counts as a line, and
 * the guest's "\r\n" is one line ending. The file is read as it is at the
 * moment of the call (its size is taken once), so a guest writing
 * meanwhile cannot make the read run on.
 */
#ifndef TS_AGENT_CONSOLE_H
#define TS_AGENT_CONSOLE_H

#include <stddef.h>

/* Nova's cap on console output returned through the API. */
#define CONSOLE_MAX_BYTES_DEFAULT	(100 * 1024)
/* Hard cap on max_bytes. */
#define CONSOLE_MAX_BYTES_LIMIT		(16 * 1024 * 1024)

/* Flags */
/* Make the text safe for JSON and terminals: drop control characters
 * other than '\n' and '\t' (so "\r\n" becomes "\n", escape sequences lose
 * their ESC) and DEL, and replace bytes that are not valid UTF-8 with
 * U+FFFD. Applied after the tail is cut, so the output can grow by up to
 * 3 bytes per invalid byte, never beyond 3 * max_bytes. */
#define CONSOLE_SANITIZE	0x1u
/* A missing log file yields "" instead of TS_ENOT_FOUND (a guest that has
 * not printed anything yet, or never started). */
#define CONSOLE_MISSING_OK	0x2u

/*
 * The last max_lines lines of the log at path (0: as many as fit), at most
 * max_bytes bytes of the file (0: CONSOLE_MAX_BYTES_DEFAULT; larger than
 * CONSOLE_MAX_BYTES_LIMIT is clamped to it). When the byte cap cuts a line,
 * that partial first line is dropped, unless it is the only line. *out is
 * owned by the caller (free()), NUL-terminated, *len excludes the NUL.
 * Symbolic links and non-regular files are refused. -1 with TS_ENOT_FOUND
 * (no file), TS_EINVALID (not a regular file, a symlink), TS_EIO, TS_ENOMEM.
 */
int	console_tail(const char *path, size_t max_lines, size_t max_bytes,
	    unsigned flags, char **out, size_t *len);

/*
 * Sanitizes buf[0..len) as CONSOLE_SANITIZE describes, into a new string
 * (owned, NUL-terminated, *outlen without the NUL). NULL with TS_ENOMEM.
 */
char	*console_sanitize(const char *buf, size_t len, size_t *outlen);

#endif
