/*
 * err: the one place an error is recorded.
 *
 * A failing function records what went wrong exactly once, where it happens
 * (code, message, file, line), in a thread-local slot, and returns -1 or NULL.
 * Callers pass -1 up without recording again; the top of the call (an HTTP
 * handler, a bus dispatcher, main()) reads the slot and reports it. Codes come
 * from schemas/errors.def; err_code_http() is the only code -> HTTP status map.
 */
#ifndef TS_ERR_H
#define TS_ERR_H

#include <stddef.h>

#include "err_gen.h"

#define ERR_MSG_MAX 512

struct ts_err {
	enum ts_errcode	 code;
	const char	*file;		/* static string, from __FILE__ */
	int		 line;
	char		 msg[ERR_MSG_MAX];
};

void	err_set_(enum ts_errcode, const char *, int, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	err_set_errno_(enum ts_errcode, const char *, int, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
/* Record an error. Always returns; use as `err_set(...); return -1;`. */
#define err_set(code, ...)	err_set_((code), __FILE__, __LINE__, __VA_ARGS__)
/* Same, appending ": strerror(errno)" (errno is read before anything else). */
#define err_set_errno(code, ...) \
	err_set_errno_((code), __FILE__, __LINE__, __VA_ARGS__)

/* Prefix the recorded message with context ("store: " ...) without
 * changing its code or origin. */
void	err_prefix(const char *, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's last error; valid until the next err_* call on the
 * same thread. Never NULL (code TS_EOK when nothing was recorded). */
const struct ts_err	*err_last(void);
/* Put back an error saved from err_last() after a clean-up that may have
 * recorded its own: the caller reports the first failure. */
void			 err_restore(const struct ts_err *);
enum ts_errcode		 err_code(void);
const char		*err_msg(void);
void			 err_clear(void);

const char	*err_code_name(enum ts_errcode);	/* "NOT_FOUND" */
const char	*err_code_text(enum ts_errcode);	/* "not found" */
int		 err_code_http(enum ts_errcode);	/* 404 */

#endif
