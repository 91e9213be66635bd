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

/* Capture hook for tests: when set, formatted (already redacted) lines go to
 * fn instead of the target. NULL restores the target. */
void	log_set_capture(void (*fn)(enum log_level, const char *line, void *),
	    void *arg);

#endif
