/*
 * log: one logger per process, to stderr, a file, or syslog.
 *
 * Levels follow OpenStack's switches: debug=true -> LOG_LVL_DEBUG,
 * verbose=true -> LOG_LVL_INFO, neither -> LOG_LVL_WARN. Every line carries
 * the process name and the calling thread's request id ("req-..."), set with
 * log_set_request_id(). Every formatted line passes through log_redact()
 * before it is written, so a secret that slips into a message (a password,
 * a token, a private key) is masked rather than logged.
 */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

enum log_target {
	LOG_TO_STDERR = 0,
	LOG_TO_FILE,
	LOG_TO_SYSLOG,
};

/* ident is copied. path is used only for LOG_TO_FILE (appended, 0640).
 * Returns -1 (err set) if the file cannot be opened. Safe to call again
 * (e.g. on SIGHUP to reopen a rotated file). */
int	log_init(const char *ident, enum log_level, enum log_target,
	    const char *path);
void	log_set_level(enum log_level);
enum log_level log_get_level(void);
/* Copied into thread-local storage; NULL clears it. */
void	log_set_request_id(const char *);
const char *log_request_id(void);	/* borrowed, thread-local; "" if none */
void	log_close(void);

void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));	/* appends strerror(errno) */
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log the thread's last recorded error (err.h) with a context prefix. */
void	log_err(const char *ctx);
/* Fatal only at start-up, on OOM or a broken invariant: log and exit(1). */
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Mask secrets in a NUL-terminated string in place: the value after any key
 * named password, passwd, secret, token, adminPass, private_key, auth_key,
 * admin_password or X-Auth-Token / X-Subject-Token, in the forms key=value,
 * key: value, "key": "value" and 'key': 'value', becomes "***". Masking
 * can lengthen the text; the result is truncated to fit size (bytes of buf,
 * NUL included). Returns the number of values masked.
 */
int	log_redact(char *buf, size_t size);

/*
 * The ring of recent error lines: every line logged at LOG_LVL_ERROR
 * (fatal ones included), whatever the target, is also kept in a bounded
 * in-memory ring of LOG_RING_LINES, redacted like the log, without the
 * timestamp prefix and cut to LOG_RING_TEXT - 1 bytes (at a UTF-8
 * boundary). The daemons report these lines (the agent in its heartbeat,
 * the controller in its own host_status record) for `tinystack-manage logs
 * errors`. Each line gets a sequence number, 1 for the first of the
 * process, so a reader asks for the lines after the last it took.
 */
#define LOG_RING_LINES	64
#define LOG_RING_TEXT	512	/* = schemas log_line text max + 1 */

struct log_ring_line {
	uint64_t	seq;
	int64_t		at_ms;		/* unix ms */
	char		text[LOG_RING_TEXT];
};

/* Copies the lines with seq > after into out (oldest first), at most max:
 * the newest max when more are there. Returns the count; *lost (may be
 * NULL) gets the number of lines after `after` not copied (gone from the
 * ring or over max). Thread-safe. */
size_t	log_ring_since(uint64_t after, struct log_ring_line *out, size_t max,
	    uint64_t *lost);
/* The seq of the newest line (0: none yet). */
uint64_t log_ring_last(void);

/* Capture hook for tests: when set, formatted (already redacted) lines go to
 * fn instead of the target. NULL restores the target. */
void	log_set_capture(void (*fn)(enum log_level, const char *line, void *),
	    void *arg);

#endif
