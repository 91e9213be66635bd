/* err: thread-local error slot; see err.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TS_ERR_GEN_TABLES
#include "err.h"

static _Thread_local struct ts_err last;


void
err_set_(enum ts_errcode code, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	last.code = code;
	last.file = file;
	last.line = line;
	va_start(ap, fmt);
	vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	va_end(ap);
}

void
err_set_errno_(enum ts_errcode code, const char *file, int line,
    const char *fmt, ...)
{
	int saved = errno;
	char ebuf[128];
	size_t n;
	va_list ap;

	last.code = code;
	last.file = file;
	last.line = line;
	va_start(ap, fmt);
	vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	va_end(ap);
	n = strlen(last.msg);
	snprintf(last.msg + n, sizeof(last.msg) - n, ": %s",
	    strerror_r(saved, ebuf, sizeof(ebuf)));
	errno = saved;
}

void
err_prefix(const char *fmt, ...)
{
	char tmp[ERR_MSG_MAX];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	n = strlen(tmp);
	if (n < sizeof(tmp) - 1)
		memcpy(tmp + n, last.msg, strnlen(last.msg,
		    sizeof(tmp) - 1 - n));
	tmp[n + strnlen(last.msg, sizeof(tmp) - 1 - n)] = '\0';
	memcpy(last.msg, tmp, sizeof(last.msg));
}

const struct ts_err *
err_last(void)
{
	return &last;
}

void
err_restore(const struct ts_err *e)
{
	last = *e;
}

enum ts_errcode
err_code(void)
{
	return last.code;
}

const char *
err_msg(void)
{
	return last.code == TS_EOK ? "" : last.msg;
}

void
err_clear(void)
{
	memset(&last, 0, sizeof(last));
}

const char *
err_code_name(enum ts_errcode c)
{
	return (unsigned)c < TS_E__COUNT ? err_gen_table[c].name : "UNKNOWN";
}

const char *
err_code_text(enum ts_errcode c)
{
	return (unsigned)c < TS_E__COUNT ? err_gen_table[c].text : "unknown error";
}

int
err_code_http(enum ts_errcode c)
{
	return (unsigned)c < TS_E__COUNT ? err_gen_table[c].http : 500;
}
