/* log: see log.h. Writes are serialized by one mutex so lines never
 * interleave; formatting and redaction happen outside it. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define LINE_MAX_LEN	4096

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static char		 ident[64] = "tinystack";
static enum log_level	 level = LOG_LVL_WARN;
static enum log_target	 target = LOG_TO_STDERR;
static int		 fd = -1;	/* LOG_TO_FILE */
static void		(*capture)(enum log_level, const char *, void *);
static void		*capture_arg;
static _Thread_local char reqid[64];

/* The error ring (log.h): guarded by its own lock so that reading it
 * never waits behind a slow log write. */
static pthread_mutex_t	 ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_ring_line ring[LOG_RING_LINES];
static uint64_t		 ring_seq;	/* seq of the newest line */

static const char *const lvlname[] = { "ERROR", "WARNING", "INFO", "DEBUG" };
static const int syslvl[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

int
log_init(const char *id, enum log_level lvl, enum log_target tgt,
    const char *path)
{
	int nfd = -1;

	if (tgt == LOG_TO_FILE) {
		nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0640);
		if (nfd == -1) {
			err_set_errno(TS_EIO, "log: open %s", path);
			return -1;
		}
	}
	pthread_mutex_lock(&lock);
	snprintf(ident, sizeof(ident), "%s", id ? id : "tinystack");
	level = lvl;
	if (target == LOG_TO_SYSLOG && tgt != LOG_TO_SYSLOG)
		closelog();
	if (fd != -1)
		close(fd);
	fd = nfd;
	target = tgt;
	if (tgt == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	pthread_mutex_unlock(&lock);
	return 0;
}

void
log_set_level(enum log_level lvl)
{
	level = lvl;
}

enum log_level
log_get_level(void)
{
	return level;
}

void
log_set_request_id(const char *id)
{
	snprintf(reqid, sizeof(reqid), "%s", id ? id : "");
}

const char *
log_request_id(void)
{
	return reqid;
}

void
log_close(void)
{
	pthread_mutex_lock(&lock);
	if (fd != -1)
		close(fd);
	fd = -1;
	if (target == LOG_TO_SYSLOG)
		closelog();
	target = LOG_TO_STDERR;
	pthread_mutex_unlock(&lock);
}

void
log_set_capture(void (*fn)(enum log_level, const char *, void *), void *arg)
{
	pthread_mutex_lock(&lock);
	capture = fn;
	capture_arg = arg;
	pthread_mutex_unlock(&lock);
}

static const char *const secret_keys[] = {
	"password", "passwd", "secret", "token", "adminpass", "private_key",
	"auth_key", "admin_password", "x-auth-token", "x-subject-token",
	"credentials", "secret_key", NULL
};

/* Does the identifier ending just before `end` (length len) end with a
 * secret key name? Matching the suffix catches OS_PASSWORD, db_password,
 * "new_password" and the like. */
static int
is_secret_key(const char *start, size_t len)
{
	for (int i = 0; secret_keys[i]; i++) {
		size_t kl = strlen(secret_keys[i]);
		if (len >= kl &&
		    strncasecmp(start + len - kl, secret_keys[i], kl) == 0)
			return 1;
	}
	return 0;
}

static int
keychar(int c)
{
	return isalnum(c) || c == '_' || c == '-';
}

/* Appends n bytes of src to out (capacity size, NUL kept), truncating. */
static void
put(char *out, size_t size, size_t *o, const char *src, size_t n)
{
	if (*o + 1 >= size)
		return;
	if (n > size - 1 - *o)
		n = size - 1 - *o;
	memcpy(out + *o, src, n);
	*o += n;
	out[*o] = '\0';
}

int
log_redact(char *buf, size_t size)
{
	char *in, *p;
	size_t o = 0;
	int n = 0;

	if (size == 0)
		return 0;
	/* Masking can lengthen the text ("a" -> "***"), so the result is built
	 * in buf from a copy and truncated at size rather than overflowing. */
	if ((in = strndup(buf, size - 1)) == NULL) {
		buf[0] = '\0';
		return 0;
	}
	buf[0] = '\0';
	p = in;
	while (*p) {
		char *ks, *v, *ve, q = 0;

		if (!keychar((unsigned char)*p)) {
			put(buf, size, &o, p++, 1);
			continue;
		}
		ks = p;
		while (keychar((unsigned char)*p))
			p++;
		put(buf, size, &o, ks, (size_t)(p - ks));
		if (!is_secret_key(ks, (size_t)(p - ks)))
			continue;
		v = p;
		if (*v == '"' || *v == '\'')
			v++;
		while (*v == ' ')
			v++;
		if (*v != '=' && *v != ':')
			continue;
		v++;
		while (*v == ' ')
			v++;
		if (*v == '"' || *v == '\'')
			q = *v++;
		ve = v;
		if (q) {
			while (*ve && *ve != q) {
				if (*ve == '\\' && ve[1])
					ve++;
				ve++;
			}
		} else {
			/* Unquoted values end at blanks and at the separators of
			 * the formats we log (query strings, JSON, lists). */
			while (*ve && !isspace((unsigned char)*ve) &&
			    *ve != ',' && *ve != ';' && *ve != '&' &&
			    *ve != '}' && *ve != ')')
				ve++;
		}
		put(buf, size, &o, p, (size_t)(v - p));
		p = v;
		if (ve == v)
			continue;
		put(buf, size, &o, "***", 3);
		n++;
		p = ve;
	}
	free(in);
	return n;
}

static void
ring_add(const char *msg)
{
	struct log_ring_line *l;
	struct timespec ts;
	size_t n = strlen(msg);

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Cut at a UTF-8 boundary: the line ends up in JSON (the dashboard,
	 * tinystack-manage --json), which must be valid UTF-8. */
	if (n > LOG_RING_TEXT - 1) {
		n = LOG_RING_TEXT - 1;
		while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
			n--;
	}
	pthread_mutex_lock(&ring_lock);
	l = &ring[ring_seq % LOG_RING_LINES];
	l->seq = ++ring_seq;
	l->at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	memcpy(l->text, msg, n);
	l->text[n] = '\0';
	pthread_mutex_unlock(&ring_lock);
}

size_t
log_ring_since(uint64_t after, struct log_ring_line *out, size_t max,
    uint64_t *lost)
{
	uint64_t first, avail;
	size_t n = 0;

	pthread_mutex_lock(&ring_lock);
	avail = ring_seq > after ? ring_seq - after : 0;
	first = ring_seq >= LOG_RING_LINES ? ring_seq - LOG_RING_LINES + 1 : 1;
	if (first <= after)
		first = after + 1;
	if (ring_seq >= first && ring_seq - first + 1 > max)
		first = ring_seq - max + 1;
	for (uint64_t s = first; s <= ring_seq && n < max; s++)
		out[n++] = ring[(s - 1) % LOG_RING_LINES];
	pthread_mutex_unlock(&ring_lock);
	if (lost)
		*lost = avail - n;
	return n;
}

uint64_t
log_ring_last(void)
{
	uint64_t s;

	pthread_mutex_lock(&ring_lock);
	s = ring_seq;
	pthread_mutex_unlock(&ring_lock);
	return s;
}

static void
emit(enum log_level, const char *, va_list, const char *)
    __attribute__((format(printf, 2, 0)));

static void
emit(enum log_level lvl, const char *fmt, va_list ap, const char *suffix)
{
	char msg[LINE_MAX_LEN], line[LINE_MAX_LEN + 256];
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (lvl > level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", suffix);
	}
	/* Strip control characters so a hostile string cannot forge lines. */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			*c = '?';
	log_redact(msg, sizeof(msg));
	if (lvl == LOG_LVL_ERROR)
		ring_add(msg);

	pthread_mutex_lock(&lock);
	if (capture) {
		snprintf(line, sizeof(line), "%s [%s] %s", lvlname[lvl],
		    reqid[0] ? reqid : "-", msg);
		capture(lvl, line, capture_arg);
	} else if (target == LOG_TO_SYSLOG) {
		syslog(syslvl[lvl], "%s [%s] %s", lvlname[lvl],
		    reqid[0] ? reqid : "-", msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(line + n, sizeof(line) - n, ".%03ld %d %s %s [%s] %s\n",
		    ts.tv_nsec / 1000000, (int)getpid(), lvlname[lvl], ident,
		    reqid[0] ? reqid : "-", msg);
		n = strlen(line);
		if (write(target == LOG_TO_FILE ? fd : STDERR_FILENO, line,
		    n) < 0) {
			/* nowhere left to report it */
		}
	}
	pthread_mutex_unlock(&lock);
}

#define DEFINE_LOG(fn, lvl)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	emit(lvl, fmt, ap, NULL);			\
	va_end(ap);					\
}

DEFINE_LOG(log_error, LOG_LVL_ERROR)
DEFINE_LOG(log_warnx, LOG_LVL_WARN)
DEFINE_LOG(log_info, LOG_LVL_INFO)
DEFINE_LOG(log_debug, LOG_LVL_DEBUG)

void
log_warn(const char *fmt, ...)
{
	char ebuf[128];
	const char *es = strerror_r(errno, ebuf, sizeof(ebuf));
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LVL_WARN, fmt, ap, es);
	va_end(ap);
}

void
log_err(const char *ctx)
{
	const struct ts_err *e = err_last();

	log_error("%s: %s (%s at %s:%d)", ctx, e->msg, err_code_name(e->code),
	    e->file ? e->file : "?", e->line);
}

void
fatal(const char *fmt, ...)
{
	char ebuf[128];
	const char *es = strerror_r(errno, ebuf, sizeof(ebuf));
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LVL_ERROR, fmt, ap, es);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LVL_ERROR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
