/*
 * http: REST front end on libmicrohttpd; see http.h for the request life
 * and the invariants.
 *
 * How a request maps onto MHD 0.9.75's callbacks:
 *   on_uri()       request line parsed: allocate the request, give it its
 *                  id, copy the raw target (MHD has not unescaped it yet, so
 *                  "%2F" inside a segment stays distinguishable from '/').
 *   on_access() #1 headers complete: route, limits, auth. Errors found
 *                  here are only recorded: queueing now would make MHD
 *                  close the connection, so it is done only when the body
 *                  must not be read at all (Content-Length over the cap).
 *   on_access() #k each body chunk: buffer, stream or discard.
 *   on_access() #n body complete: run the handler, queue the response.
 *   on_completed() always (the URI callback makes MHD "client aware"):
 *                  abort an open stream, log, free.
 * MHD refuses MHD_queue_response() between the first and the last call,
 * which is why a chunked body over the cap is drained (bounded) before its
 * 413 can be sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include <microhttpd.h>
#include <uuid/uuid.h>

#include "err.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"

#define MAX_SEGMENTS	32		/* per path; deeper paths never match */
#define MAX_PARAMS	8		/* captures per pattern */
#define PARAM_MAX	255		/* bytes in one decoded capture */
#define NAME_MAX_LEN	32		/* capture name in a pattern */
#define RESP_MAX_HEADERS 16
#define HDR_NAME_MAX	64
#define HDR_VALUE_MAX	4096
#define CTYPE_MAX	128
#define REQ_ID_LEN	41		/* "req-" + 36 + NUL */
#define TLS_FILE_MAX	(1024 * 1024)
#define HOST_MAX	255
#define AUTH_URI_MAX	512
#define ALLOW_MAX	96
#define STREAM_BLOCK	(32 * 1024)	/* MHD read size for callback bodies */

#define DEF_BIND	"127.0.0.1"
#define DEF_THREADS	4
#define DEF_CONNECTIONS	1024
#define DEF_TIMEOUT	60
#define DEF_CONN_MEMORY	(32 * 1024)	/* MHD's own; every request memsets it */
#define DEF_MAX_BODY	(1024 * 1024)
#define DRAIN_MS	5000		/* a stop waits for requests in progress */
#define DEF_MAX_NOAUTH_BODY (112 * 1024)	/* Keystone's max_request_body_size */
#define DEF_MAX_URL	(16 * 1024)
#define DEF_MAX_QUERY	256
#define MIN_CONN_MEMORY	(8 * 1024)

/* TLS 1.2+ only; the OpenStack clients all speak it. */
#define TLS_PRIORITIES	"NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1"

/* A compiled route: the pattern split into segments once, at startup. */
struct croute {
	const struct http_route	*r;
	char			*buf;		/* owned: split pattern */
	size_t			 nseg;
	const char		*seg[MAX_SEGMENTS];	/* literal, or capture name */
	bool			 capture[MAX_SEGMENTS];
};

struct listener {
	struct http_server	*srv;
	struct http_listener	 cfg;
	struct croute		*routes;
	size_t			 nroutes;
	struct MHD_Daemon	*d;
	uint16_t		 port;		/* bound port once started */
	/* With http_opts.metrics: per status class 1xx..5xx, made once so a
	 * request costs two atomic adds and no lookup. */
	struct metrics_series	*m_count[5], *m_time[5];
};

/*
 * An upgraded connection (http_resp_upgrade()): owned by its request until
 * MHD hands the socket over (on_upgrade), then by its thread, which frees
 * it; while it runs it is on the server's list so that a stop can shut its
 * socket down and wait for it.
 */
struct upgrade {
	struct http_server	*srv;
	void			(*run)(void *, int, const char *, size_t);
	void			(*free_fn)(void *);
	void			*arg;
	char			 proto[32];
	int			 fd;
	struct MHD_UpgradeResponseHandle *urh;
	char			*extra;
	size_t			 extra_len;
	struct upgrade		*next;
};

struct http_server {
	struct http_opts	 o;		/* defaults applied; strings below */
	char			*bind;
	char			*auth_uri;
	char			*tls_cert;	/* PEM text */
	char			*tls_key;
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	bool			 dual_stack;
	struct listener		 l[HTTP_MAX_LISTENERS];
	size_t			 nl;
	bool			 running;
	pthread_mutex_t		 up_mu;		/* the upgraded connections */
	pthread_cond_t		 up_cv;
	struct upgrade		*up_head;
	size_t			 up_count;
	bool			 up_open;	/* new upgrades run */
	/* Requests begun and not yet completed (on_uri to req_free): a stop
	 * waits for them, so that no acknowledged write loses its answer. */
	atomic_size_t		 inflight;
};

enum resp_kind { RB_NONE = 0, RB_BUF, RB_FD, RB_CB, RB_UPGRADE };

struct outstream {
	char		  id[REQ_ID_LEN];
	ssize_t		(*read)(void *, uint64_t, char *, size_t);
	void		(*free_fn)(void *);
	void		 *arg;
};

struct resp_hdr {
	char	*name;
	char	*value;
};

struct http_resp {
	int		 status;	/* 0 = route's success status */
	enum resp_kind	 kind;
	char		*buf;		/* RB_BUF, owned */
	size_t		 len;
	char		 ctype[CTYPE_MAX];
	int		 fd;		/* RB_FD, owned */
	uint64_t	 offset;	/* RB_FD: first byte sent */
	uint64_t	 size;		/* RB_FD, RB_CB */
	struct outstream *cb;		/* RB_CB, owned until handed to MHD */
	struct upgrade	*up;		/* RB_UPGRADE, owned until queued */
	struct resp_hdr	 hdr[RESP_MAX_HEADERS];
	size_t		 nhdr;
	char		 err_type[APIERR_TYPE_MAX + 1];
	bool		 err_bare;	/* http_resp_error_bare() */
};

enum body_mode { BODY_NONE = 0, BODY_BUFFER, BODY_STREAM, BODY_DISCARD };

/* An error decided before the handler ran, rendered at the end. */
struct pending {
	bool		 set;
	bool		 from_auth;	/* 401 from authenticate: keystone shape */
	int		 status;
	enum ts_errcode	 code;
	char		 msg[ERR_MSG_MAX];
	char		 type[APIERR_TYPE_MAX + 1];
	char		 allow[ALLOW_MAX];	/* 405 */
	bool		 bare;		/* status only, then close */
};

struct qpair {
	char	*key;
	char	*val;
};

struct param {
	const char	*name;		/* the compiled pattern's */
	char		*val;		/* in req->pathbuf */
};

struct http_req {
	struct listener		*l;
	struct MHD_Connection	*conn;
	char			 id[REQ_ID_LEN];
	struct timespec		 t0;
	char			*uri;		/* raw target (NULL: see below) */
	bool			 uri_too_long;
	const char		*method;	/* MHD's, valid for the request */
	bool			 started;
	bool			 queued;
	bool			 too_deep;	/* more than MAX_SEGMENTS */
	char			*path;		/* raw path without the query */
	char			*pathbuf;	/* decoded segments */
	char			*seg[MAX_SEGMENTS];
	size_t			 nseg;
	bool			 trailing;	/* path ended in '/' */
	char			*qbuf;		/* decoded query pairs */
	struct qpair		*q;
	size_t			 nq;
	const struct croute	*route;
	struct param		 params[MAX_PARAMS];
	size_t			 nparams;
	enum body_mode		 mode;
	uint64_t		 clen;		/* Content-Length or UINT64_MAX */
	bool			 chunked;
	char			*body;
	size_t			 blen;
	size_t			 bcap;
	uint64_t		 rx;		/* body bytes received */
	uint64_t		 discarded;
	json_t			*json;
	struct pending		 err;
	bool			 stream_open;	/* begin ok, no end/abort yet */
	void			*ctx;
	void			(*ctx_free)(void *);
	void			*state;
	int			 status;	/* as queued */
	struct http_resp	 resp;
	struct upgrade		*up;		/* queued, not yet handed over */
};

/* ---- small helpers ---------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode s in place ('+' -> ' ' when plus, as in query strings).
 * Malformed escapes stay literal, as Python's unquote leaves them. Returns
 * -1 if the result would hold a NUL or is not valid UTF-8.
 */
static int
pct_decode(char *s, bool plus)
{
	char *r = s, *w = s;
	int hi, lo;

	while (*r != '\0') {
		if (*r == '%' && (hi = hexval(r[1])) >= 0 &&
		    (lo = hexval(r[2])) >= 0) {
			if (hi == 0 && lo == 0)
				return -1;
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else if (plus && *r == '+') {
			*w++ = ' ';
			r++;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return utf8_valid(s) ? 0 : -1;
}

/*
 * "req-" + a random (version 4) UUID. Random bytes come from a per-thread
 * buffer refilled with one getrandom() call: libuuid's generator costs
 * several system calls per id, a measurable share of a small request.
 */
static void
make_request_id(char *out)
{
	static _Thread_local unsigned char pool[512];
	static _Thread_local size_t used = sizeof(pool);
	static const char hex[] = "0123456789abcdef";
	unsigned char u[16];
	ssize_t n;
	size_t i, o = 4;

	if (used + sizeof(u) > sizeof(pool)) {
		do
			n = getrandom(pool, sizeof(pool), 0);
		while (n == -1 && errno == EINTR);
		used = n == (ssize_t)sizeof(pool) ? 0 : sizeof(pool);
	}
	if (used + sizeof(u) <= sizeof(pool)) {
		memcpy(u, pool + used, sizeof(u));
		used += sizeof(u);
	} else
		uuid_generate_random(u);	/* getrandom unavailable */
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	memcpy(out, "req-", 4);
	for (i = 0; i < sizeof(u); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 0x0f];
	}
	out[o] = '\0';
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static bool
method_has_body(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0;
}

/* ---- route compilation and matching ----------------------------------- */

static bool
valid_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < 'A' || *s > 'Z')
			return false;
	return true;
}

static bool
valid_capture_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int
compile_route(const struct http_route *r, struct croute *c)
{
	char *p, *seg, *save = NULL;
	size_t i, j, ncap = 0, n;

	memset(c, 0, sizeof(*c));
	c->r = r;
	if (!valid_token(r->method) || r->pattern == NULL ||
	    r->pattern[0] != '/') {
		err_set(TS_ECONFIG, "http: route %s %s: bad method or pattern",
		    r->method, r->pattern ? r->pattern : "(null)");
		return -1;
	}
	if ((r->flags & ROUTE_STREAM_BODY) ? (r->stream == NULL ||
	    r->stream->begin == NULL || r->stream->data == NULL ||
	    r->stream->end == NULL || r->stream->abort == NULL) :
	    (r->handler == NULL || r->stream != NULL)) {
		err_set(TS_ECONFIG, "http: route %s %s: needs a handler, or "
		    "ROUTE_STREAM_BODY with all four stream ops", r->method,
		    r->pattern);
		return -1;
	}
	if (r->success_status != 0 &&
	    (r->success_status < 200 || r->success_status > 399)) {
		err_set(TS_ECONFIG, "http: route %s %s: success status %d",
		    r->method, r->pattern, r->success_status);
		return -1;
	}
	if ((c->buf = strdup(r->pattern + 1)) == NULL) {
		err_set(TS_ENOMEM, "http: out of memory");
		return -1;
	}
	for (p = c->buf; (seg = strtok_r(p, "/", &save)) != NULL; p = NULL) {
		n = strlen(seg);
		if (c->nseg == MAX_SEGMENTS)
			goto bad;
		if (seg[0] == '{') {
			if (n < 3 || seg[n - 1] != '}' ||
			    !valid_capture_name(seg + 1, n - 2) ||
			    ncap == MAX_PARAMS)
				goto bad;
			seg[n - 1] = '\0';
			seg++;
			for (i = 0; i < c->nseg; i++)
				if (c->capture[i] && strcmp(c->seg[i], seg) == 0)
					goto bad;
			c->capture[c->nseg] = true;
			ncap++;
		} else {
			for (j = 0; j < n; j++)
				if (strchr("{}%?#", seg[j]) != NULL)
					goto bad;
		}
		c->seg[c->nseg++] = seg;
	}
	/* "//" inside a pattern would silently vanish in strtok_r; refuse. */
	if (strstr(r->pattern, "//") != NULL)
		goto bad;
	return 0;
bad:
	err_set(TS_ECONFIG, "http: route %s %s: bad pattern", r->method,
	    r->pattern);
	free(c->buf);
	c->buf = NULL;
	return -1;
}

static bool
same_shape(const struct croute *a, const struct croute *b)
{
	size_t i;

	if (a->nseg != b->nseg ||
	    (a->r->flags & ROUTE_TRAILING_SLASH) !=
	    (b->r->flags & ROUTE_TRAILING_SLASH))
		return false;
	for (i = 0; i < a->nseg; i++) {
		if (a->capture[i] != b->capture[i])
			return false;
		if (!a->capture[i] && strcmp(a->seg[i], b->seg[i]) != 0)
			return false;
	}
	return true;
}

/* Does the request path fit the route's pattern? */
static bool
path_matches(const struct croute *c, const struct http_req *req)
{
	size_t i, n;

	if (req->too_deep || c->nseg != req->nseg)
		return false;
	if (req->trailing && !(c->r->flags & ROUTE_TRAILING_SLASH))
		return false;
	for (i = 0; i < c->nseg; i++) {
		if (c->capture[i]) {
			n = strlen(req->seg[i]);
			if (n == 0 || n > PARAM_MAX ||
			    strchr(req->seg[i], '/') != NULL)
				return false;
		} else if (strcmp(c->seg[i], req->seg[i]) != 0)
			return false;
	}
	return true;
}

/* >0 if a is more specific than b: a literal beats a capture at the first
 * segment where they differ. */
static int
specificity(const struct croute *a, const struct croute *b)
{
	size_t i;

	for (i = 0; i < a->nseg && i < b->nseg; i++)
		if (a->capture[i] != b->capture[i])
			return a->capture[i] ? -1 : 1;
	return 0;
}

static void
allow_add(char *allow, const char *m)
{
	char tmp[ALLOW_MAX];
	const char *p;
	size_t n = strlen(m);

	for (p = allow; (p = strstr(p, m)) != NULL; p += n)
		if ((p == allow || p[-1] == ' ') &&
		    (p[n] == ',' || p[n] == '\0'))
			return;
	snprintf(tmp, sizeof(tmp), "%s%s%s", allow, *allow ? ", " : "", m);
	memcpy(allow, tmp, ALLOW_MAX);
}

static void pend(struct http_req *, int status, enum ts_errcode,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Pick the route; on failure record 404 or 405 (with Allow). */
static void
route_request(struct http_req *req)
{
	const struct listener *l = req->l;
	const struct croute *best = NULL, *get = NULL, *c;
	char allow[ALLOW_MAX] = "";
	bool any = false, head = strcmp(req->method, "HEAD") == 0;
	bool get_seen = false, head_seen = false;
	size_t i, j;

	for (i = 0; i < l->nroutes; i++) {
		c = &l->routes[i];
		if (!path_matches(c, req))
			continue;
		any = true;
		allow_add(allow, c->r->method);
		get_seen |= strcmp(c->r->method, "GET") == 0;
		head_seen |= strcmp(c->r->method, "HEAD") == 0;
		if (strcmp(c->r->method, req->method) == 0) {
			if (best == NULL || specificity(c, best) > 0)
				best = c;
		} else if (head && strcmp(c->r->method, "GET") == 0) {
			if (get == NULL || specificity(c, get) > 0)
				get = c;
		}
	}
	if (best == NULL)
		best = get;
	if (best != NULL) {
		req->route = best;
		for (j = 0; j < best->nseg; j++)
			if (best->capture[j]) {
				req->params[req->nparams].name = best->seg[j];
				req->params[req->nparams++].val = req->seg[j];
			}
		return;
	}
	if (!any) {
		pend(req, 404, TS_ENOT_FOUND, "The resource could not be "
		    "found.");
		return;
	}
	if (get_seen && !head_seen)
		allow_add(allow, "HEAD");
	pend(req, 405, TS_EBAD_METHOD, "The method %s is not allowed for "
	    "this resource.", req->method);
	memcpy(req->err.allow, allow, ALLOW_MAX);
}

/* A mounted listener's prefix: the request becomes that listener's, with
 * the prefix segment gone from the segments and the raw path. */
static void
mount_request(struct http_req *req)
{
	const struct http_server *srv = req->l->srv;
	const struct http_mount *m;
	char *p;
	size_t i;

	if (req->nseg == 0)
		return;
	for (i = 0; i < srv->o.nmounts; i++) {
		m = &srv->o.mounts[i];
		if (&srv->l[m->at] != req->l ||
		    strcmp(m->prefix, req->seg[0]) != 0)
			continue;
		req->l = (struct listener *)&srv->l[m->listener];
		memmove(req->seg, req->seg + 1, --req->nseg *
		    sizeof(req->seg[0]));
		if (req->nseg == 0)
			req->trailing = false;	/* "/compute/" is its "/" */
		p = strchr(req->path + 1, '/');
		memmove(req->path + 1, p != NULL ? p + 1 : "",
		    strlen(p != NULL ? p + 1 : "") + 1);
		return;
	}
}

/* ---- request parsing -------------------------------------------------- */

static void
pend(struct http_req *req, int status, enum ts_errcode code,
    const char *fmt, ...)
{
	va_list ap;

	if (req->err.set)
		return;		/* the first error decided wins */
	req->err.set = true;
	req->err.status = status;
	req->err.code = code;
	va_start(ap, fmt);
	vsnprintf(req->err.msg, sizeof(req->err.msg), fmt, ap);
	va_end(ap);
}

/* Record the thread's last error (from a hook or handler) as pending. */
static void
pend_err(struct http_req *req, enum ts_errcode fallback, bool from_auth)
{
	const struct ts_err *e = err_last();
	enum ts_errcode code = e->code == TS_EOK ? fallback : e->code;

	if (req->err.set)
		return;
	pend(req, err_code_http(code), code, "%s",
	    e->code == TS_EOK ? "" : e->msg);
	req->err.from_auth = from_auth;
	snprintf(req->err.type, sizeof(req->err.type), "%s",
	    req->resp.err_type);
	req->err.bare = req->resp.err_bare;
}

/* Split "/a/b%2Fc/?x=1&y" into decoded segments and query pairs. */
static int
parse_target(struct http_req *req)
{
	const struct http_opts *o = &req->l->srv->o;
	char *q, *p, *s, *save = NULL, *eq;
	size_t n;

	if (req->uri_too_long) {
		pend(req, 414, TS_ETOO_LARGE, "The request URL is longer than "
		    "%zu bytes.", o->max_url_len);
		return -1;
	}
	if (req->uri == NULL)
		goto nomem;
	if (req->uri[0] != '/') {
		pend(req, 400, TS_EINVALID, "Malformed request URL.");
		return -1;
	}
	q = strchr(req->uri, '?');
	n = q != NULL ? (size_t)(q - req->uri) : strlen(req->uri);
	if ((req->path = strndup(req->uri, n)) == NULL ||
	    (req->pathbuf = strdup(req->path + 1)) == NULL)
		goto nomem;

	/* "/" is the root (no segment); "/v3/" is ["v3"] plus a trailing
	 * slash, remembered rather than kept as an empty segment. */
	p = req->pathbuf;
	n = strlen(p);
	if (n > 0 && p[n - 1] == '/') {
		req->trailing = true;
		p[n - 1] = '\0';
	}
	if (*p != '\0' || req->trailing) {
		for (;;) {
			s = strchr(p, '/');
			if (s != NULL)
				*s = '\0';
			if (req->nseg == MAX_SEGMENTS) {
				req->too_deep = true;
				break;
			}
			if (pct_decode(p, false) == -1) {
				pend(req, 400, TS_EINVALID, "Invalid "
				    "character in the request path.");
				return -1;
			}
			req->seg[req->nseg++] = p;
			if (s == NULL)
				break;
			p = s + 1;
		}
	}
	if (q == NULL || q[1] == '\0')
		return 0;
	if ((req->qbuf = strdup(q + 1)) == NULL)
		goto nomem;
	for (n = 1, s = req->qbuf; *s != '\0'; s++)
		n += *s == '&';
	if (n > o->max_query_params)
		n = o->max_query_params + 1;	/* enough to detect "too many" */
	if ((req->q = calloc(n, sizeof(*req->q))) == NULL)
		goto nomem;
	for (p = req->qbuf; (s = strtok_r(p, "&", &save)) != NULL; p = NULL) {
		if (req->nq == o->max_query_params) {
			pend(req, 400, TS_EINVALID, "Too many query "
			    "parameters (at most %u).", o->max_query_params);
			return -1;
		}
		eq = strchr(s, '=');
		if (eq != NULL)
			*eq++ = '\0';
		else
			eq = s + strlen(s);	/* "" */
		if (pct_decode(s, true) == -1 || pct_decode(eq, true) == -1) {
			pend(req, 400, TS_EINVALID, "Invalid character in "
			    "the query string.");
			return -1;
		}
		req->q[req->nq].key = s;
		req->q[req->nq++].val = eq;
	}
	return 0;
nomem:
	pend(req, 500, TS_ENOMEM, "out of memory parsing the request URL");
	return -1;
}

/* Is this a JSON media type? application/json, ...+json, and the glance
 * json-patch types (application/openstack-images-v2.1-json-patch). */
static bool
json_media(const char *ct)
{
	char mt[CTYPE_MAX];
	size_t n;

	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(mt))
		return false;
	memcpy(mt, ct, n);
	mt[n] = '\0';
	if (strcasecmp(mt, "application/json") == 0)
		return true;
	if (strncasecmp(mt, "application/", 12) != 0)
		return false;
	return (n > 5 && strcasecmp(mt + n - 5, "+json") == 0) ||
	    (n > 11 && strcasecmp(mt + n - 11, "-json-patch") == 0);
}

/* ---- response building ------------------------------------------------ */

static void
resp_body_reset(struct http_resp *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
	if (r->kind == RB_FD && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->cb != NULL) {
		if (r->cb->free_fn != NULL)
			r->cb->free_fn(r->cb->arg);
		free(r->cb);
		r->cb = NULL;
	}
	if (r->up != NULL) {
		if (r->up->free_fn != NULL)
			r->up->free_fn(r->up->arg);
		free(r->up);
		r->up = NULL;
	}
	r->kind = RB_NONE;
	r->ctype[0] = '\0';
}

static void
resp_release(struct http_resp *r)
{
	size_t i;

	resp_body_reset(r);
	for (i = 0; i < r->nhdr; i++) {
		free(r->hdr[i].name);
		free(r->hdr[i].value);
	}
	r->nhdr = 0;
}

static bool
valid_status(int status)
{
	return status == 0 || (status >= 200 && status <= 599);
}

int
http_resp_json(struct http_resp *r, int status, json_t *body)
{
	char *s;

	resp_body_reset(r);
	if (body == NULL) {
		err_set(TS_ENOMEM, "http: no response body (allocation "
		    "failed)");
		return -1;
	}
	s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	if (s == NULL) {
		err_set(TS_ENOMEM, "http: cannot serialise response body");
		return -1;
	}
	if (!valid_status(status)) {
		free(s);
		err_set(TS_EINTERNAL, "http: bad status %d", status);
		return -1;
	}
	r->status = status;
	r->kind = RB_BUF;
	r->buf = s;
	r->len = strlen(s);
	snprintf(r->ctype, sizeof(r->ctype), "application/json");
	return 0;
}

static bool
header_safe(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || n >= max)
			return false;
	return true;
}

/* The body is owned (freed by MHD once sent, or by resp_body_reset()),
 * NUL-terminated after len bytes; freed here on failure. */
static int
resp_owned(struct http_resp *r, int status, const char *ctype, char *owned,
    size_t len)
{
	resp_body_reset(r);
	if (ctype == NULL)
		ctype = "text/plain; charset=UTF-8";
	if (!valid_status(status) || !header_safe(ctype, CTYPE_MAX - 1)) {
		free(owned);
		err_set(TS_EINTERNAL, "http: bad text response");
		return -1;
	}
	r->buf = owned;
	r->len = len;
	r->status = status;
	r->kind = RB_BUF;
	snprintf(r->ctype, sizeof(r->ctype), "%s", ctype);
	return 0;
}

/*
 * The buf's storage becomes the body as it is, without a copy: a list's
 * page is megabytes (a 1,000-server detail page about 2), and a copy
 * doubled what each response touched and left to the allocator's dirty
 * pages (docs/PERFORMANCE.md, "Anonymous memory after the lists"). Up to
 * half of the capacity goes unused until the response is sent.
 */
int
http_resp_buf(struct http_resp *r, int status, const char *ctype,
    struct buf *b)
{
	char *data;
	size_t len;

	if (b->failed) {
		if (err_code() == TS_EOK)
			err_set(TS_EINTERNAL, "http: the response body "
			    "failed");
		buf_free(b);
		return -1;
	}
	if (b->data == NULL) {	/* nothing written */
		buf_free(b);
		return http_resp_text(r, status, ctype, "", 0);
	}
	data = (char *)b->data;
	len = b->len;
	memset(b, 0, sizeof(*b));	/* taken (buf.h) */
	return resp_owned(r, status, ctype, data, len);
}

int
http_resp_text(struct http_resp *r, int status, const char *ctype,
    const char *text, size_t len)
{
	char *copy;

	if (text == NULL && len != 0) {
		resp_body_reset(r);
		err_set(TS_EINTERNAL, "http: bad text response");
		return -1;
	}
	if ((copy = malloc(len + 1)) == NULL) {
		resp_body_reset(r);
		err_set(TS_ENOMEM, "http: out of memory");
		return -1;
	}
	if (len != 0)
		memcpy(copy, text, len);
	copy[len] = '\0';
	return resp_owned(r, status, ctype, copy, len);
}

int
http_resp_status(struct http_resp *r, int status)
{
	resp_body_reset(r);
	if (!valid_status(status)) {
		err_set(TS_EINTERNAL, "http: bad status %d", status);
		return -1;
	}
	r->status = status;
	return 0;
}

int
http_resp_file(struct http_resp *r, int status, const char *ctype, int fd,
    off_t size)
{
	return http_resp_file_at(r, status, ctype, fd, 0, size);
}

int
http_resp_file_at(struct http_resp *r, int status, const char *ctype, int fd,
    off_t offset, off_t size)
{
	resp_body_reset(r);
	if (ctype == NULL)
		ctype = "application/octet-stream";
	if (fd < 0 || size < 0 || offset < 0 || !valid_status(status) ||
	    !header_safe(ctype, CTYPE_MAX - 1)) {
		if (fd >= 0)
			close(fd);
		err_set(TS_EINTERNAL, "http: bad file response");
		return -1;
	}
	r->status = status;
	r->kind = RB_FD;
	r->fd = fd;
	r->offset = (uint64_t)offset;
	r->size = (uint64_t)size;
	snprintf(r->ctype, sizeof(r->ctype), "%s", ctype);
	return 0;
}

int
http_resp_callback(struct http_resp *r, int status, const char *ctype,
    uint64_t size, ssize_t (*rd)(void *, uint64_t, char *, size_t),
    void (*free_fn)(void *), void *arg)
{
	struct outstream *os;

	resp_body_reset(r);
	if (ctype == NULL)
		ctype = "application/octet-stream";
	if (rd == NULL || !valid_status(status) ||
	    !header_safe(ctype, CTYPE_MAX - 1)) {
		if (free_fn != NULL)
			free_fn(arg);
		err_set(TS_EINTERNAL, "http: bad callback response");
		return -1;
	}
	if ((os = calloc(1, sizeof(*os))) == NULL) {
		if (free_fn != NULL)
			free_fn(arg);
		err_set(TS_ENOMEM, "http: out of memory");
		return -1;
	}
	snprintf(os->id, sizeof(os->id), "%s", log_request_id());
	os->read = rd;
	os->free_fn = free_fn;
	os->arg = arg;
	r->status = status;
	r->kind = RB_CB;
	r->cb = os;
	r->size = size;
	snprintf(r->ctype, sizeof(r->ctype), "%s", ctype);
	return 0;
}

int
http_resp_upgrade(struct http_resp *r, const char *protocol,
    void (*run)(void *, int, const char *, size_t), void (*free_fn)(void *),
    void *arg)
{
	struct upgrade *up;

	resp_body_reset(r);
	if (run == NULL || protocol == NULL || strlen(protocol) >= 32 ||
	    !header_safe(protocol, 31)) {
		if (free_fn != NULL)
			free_fn(arg);
		err_set(TS_EINTERNAL, "http: bad upgrade response");
		return -1;
	}
	if ((up = calloc(1, sizeof(*up))) == NULL) {
		if (free_fn != NULL)
			free_fn(arg);
		err_set(TS_ENOMEM, "http: out of memory");
		return -1;
	}
	up->run = run;
	up->free_fn = free_fn;
	up->arg = arg;
	up->fd = -1;
	snprintf(up->proto, sizeof(up->proto), "%s", protocol);
	r->status = 101;
	r->kind = RB_UPGRADE;
	r->up = up;
	return 0;
}

int
http_resp_header(struct http_resp *r, const char *name, const char *value)
{
	const char *p;
	struct resp_hdr *h;

	if (name == NULL || value == NULL || *name == '\0' ||
	    !header_safe(value, HDR_VALUE_MAX) ||
	    strlen(name) > HDR_NAME_MAX) {
		err_set(TS_EINTERNAL, "http: bad response header");
		return -1;
	}
	for (p = name; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}",
		    *p) != NULL) {
			err_set(TS_EINTERNAL, "http: bad response header "
			    "name");
			return -1;
		}
	/* Framing headers belong to the body setters and MHD; a second
	 * Content-Type would be ambiguous to clients. */
	if (strcasecmp(name, "Content-Type") == 0 ||
	    strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Transfer-Encoding") == 0 ||
	    strcasecmp(name, "Connection") == 0) {
		err_set(TS_EINTERNAL, "http: %s is set by the framework", name);
		return -1;
	}
	if (r->nhdr == RESP_MAX_HEADERS) {
		err_set(TS_EINTERNAL, "http: too many response headers");
		return -1;
	}
	h = &r->hdr[r->nhdr];
	if ((h->name = strdup(name)) == NULL ||
	    (h->value = strdup(value)) == NULL) {
		free(h->name);
		h->name = NULL;
		err_set(TS_ENOMEM, "http: out of memory");
		return -1;
	}
	r->nhdr++;
	return 0;
}

void
http_resp_error_type(struct http_resp *r, const char *type)
{
	snprintf(r->err_type, sizeof(r->err_type), "%s", type ? type : "");
}

void
http_resp_error_bare(struct http_resp *r)
{
	r->err_bare = true;
}

static ssize_t
out_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct outstream *os = cls;
	ssize_t n;

	log_set_request_id(os->id);
	n = os->read(os->arg, pos, buf, max);
	log_set_request_id(NULL);
	if (n == HTTP_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* 0 would make MHD spin calling again: treat it as a broken
	 * generator, like any other contract violation. */
	if (n <= 0 || (size_t)n > max) {
		if (n != HTTP_STREAM_ERROR)
			log_warnx("http: body generator returned %zd", n);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return n;
}

static void
out_free(void *cls)
{
	struct outstream *os = cls;

	if (os->free_fn != NULL)
		os->free_fn(os->arg);
	free(os);
}

/* ---- the Host header and URLs ----------------------------------------- */

static bool
host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > HOST_MAX)
		return false;
	for (; *h != '\0'; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		    (*h >= '0' && *h <= '9') || strchr(".-:[]_", *h) != NULL))
			return false;
	return true;
}

static const char *
scheme(const struct http_server *srv)
{
	return srv->tls_cert != NULL ? "https" : "http";
}

int
http_req_base_url(const struct http_req *req, char *buf, size_t len)
{
	const struct http_server *srv = req->l->srv;
	const char *host = http_req_header(req, "Host");
	bool v6 = strchr(srv->bind, ':') != NULL;
	int n;

	if (host != NULL && host_ok(host))
		n = snprintf(buf, len, "%s://%s", scheme(srv), host);
	else
		n = snprintf(buf, len, "%s://%s%s%s:%u", scheme(srv),
		    v6 ? "[" : "", srv->bind, v6 ? "]" : "",
		    (unsigned)req->l->port);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Keystone's public URL for the 401 challenge. */
static void
auth_challenge(const struct http_req *req, char *buf, size_t len)
{
	const struct http_server *srv = req->l->srv;
	const char *host = http_req_header(req, "Host"), *end;
	char name[HOST_MAX + 1];
	size_t i;

	if (srv->auth_uri != NULL) {
		snprintf(buf, len, "Keystone uri=\"%s\"", srv->auth_uri);
		return;
	}
	for (i = 0; i < srv->nl; i++)
		if (srv->l[i].cfg.service == APIERR_IDENTITY)
			break;
	if (i < srv->nl && host != NULL && host_ok(host)) {
		/* Host minus its port, bracketed IPv6 kept whole. */
		end = host[0] == '[' ? strchr(host, ']') : strchr(host, ':');
		if (end != NULL && host[0] == '[')
			end++;
		if (end == NULL)
			end = host + strlen(host);
		snprintf(name, sizeof(name), "%.*s", (int)(end - host), host);
		snprintf(buf, len, "Keystone uri=\"%s://%s:%u\"", scheme(srv),
		    name, (unsigned)srv->l[i].port);
		return;
	}
	snprintf(buf, len, "Keystone uri=\"");
	if (http_req_base_url(req, buf + strlen(buf), len - strlen(buf) - 1)
	    == -1)
		buf[strlen("Keystone uri=\"")] = '\0';
	snprintf(buf + strlen(buf), len - strlen(buf), "\"");
}

/* ---- upgraded connections ------------------------------------------- */

static void *
upgrade_main(void *a)
{
	struct upgrade *up = a;
	struct http_server *srv = up->srv;
	struct upgrade **pp;

	up->run(up->arg, up->fd, up->extra, up->extra_len);
	if (up->free_fn != NULL)
		up->free_fn(up->arg);
	pthread_mutex_lock(&srv->up_mu);
	for (pp = &srv->up_head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == up) {
			*pp = up->next;
			break;
		}
	/* Closed under the lock: a stop never shuts down a reused fd. */
	MHD_upgrade_action(up->urh, MHD_UPGRADE_ACTION_CLOSE);
	srv->up_count--;
	pthread_cond_broadcast(&srv->up_cv);
	pthread_mutex_unlock(&srv->up_mu);
	free(up->extra);
	free(up);
	return NULL;
}

/* MHD's thread, once the 101 went out: the connection is ours. */
static void
on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
    const char *extra, size_t extra_len, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct upgrade *up = cls;
	struct http_req *req = con_cls;
	struct http_server *srv = up->srv;
	pthread_attr_t at;
	pthread_t t;
	int rc = -1;

	(void)conn;
	if (req != NULL && req->up == up)
		req->up = NULL;		/* the thread owns it now */
	up->fd = sock;
	up->urh = urh;
	if (extra_len > 0 && (up->extra = malloc(extra_len)) != NULL) {
		memcpy(up->extra, extra, extra_len);
		up->extra_len = extra_len;
	}
	pthread_mutex_lock(&srv->up_mu);
	if (srv->up_open && (extra_len == 0 || up->extra != NULL) &&
	    pthread_attr_init(&at) == 0) {
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &at, upgrade_main, up);
		pthread_attr_destroy(&at);
	}
	if (rc == 0) {
		up->next = srv->up_head;
		srv->up_head = up;
		srv->up_count++;
	}
	pthread_mutex_unlock(&srv->up_mu);
	if (rc != 0) {
		log_warnx("http: cannot run an upgraded connection");
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		if (up->free_fn != NULL)
			up->free_fn(up->arg);
		free(up->extra);
		free(up);
	}
}

/* ---- queueing --------------------------------------------------------- */

static enum MHD_Result
queue(struct http_req *req, int status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	MHD_add_response_header(r, "x-openstack-request-id", req->id);
	if (req->l->cfg.service == APIERR_COMPUTE)
		MHD_add_response_header(r, "x-compute-request-id", req->id);
	ret = MHD_queue_response(req->conn, (unsigned)status, r);
	MHD_destroy_response(r);
	req->queued = true;
	req->status = status;
	if (ret != MHD_YES)
		log_warnx("http: cannot queue the %d response", status);
	return ret;
}

static const char fallback_body[] = "Internal Server Error\n";

static enum MHD_Result
queue_error(struct http_req *req)
{
	struct pending *e = &req->err;
	struct apierr_body b;
	struct MHD_Response *r;
	enum apierr_service svc = req->l->cfg.service;
	const char *msg = e->msg;
	char chal[AUTH_URI_MAX + 32];

	if (e->status >= 500)
		log_error("http: %s %s -> %d %s: %s", req->method,
		    req->path ? req->path : "?", e->status,
		    err_code_name(e->code), e->msg[0] ? e->msg : "(no details)");
	else
		/* At info, as Nova's "HTTP exception thrown": a client's 4xx
		 * is what an operator (or a CI log) looks for first. */
		log_info("http: %s %s -> %d: %s", req->method,
		    req->path ? req->path : "?", e->status, e->msg);
	/* Internal details stay in the log. */
	if (e->status == 500)
		msg = APIERR_INTERNAL_MESSAGE;
	if (e->bare) {
		r = MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		/* MHD ends the connection after a response that says so. */
		MHD_add_response_header(r, "Connection", "close");
		return queue(req, e->status, r);
	}
	/* keystonemiddleware answers unauthenticated requests to every
	 * service, in keystone's shape. */
	if (e->status == 401 && e->from_auth)
		svc = APIERR_IDENTITY;
	if (apierr_render(svc, e->status, e->code, e->type, msg, &b) == 0) {
		r = MHD_create_response_from_buffer(b.len, b.data,
		    MHD_RESPMEM_MUST_FREE);
		if (r == NULL)
			apierr_body_release(&b);
		else
			MHD_add_response_header(r, "Content-Type",
			    b.content_type);
	} else {
		log_err("http: rendering an error");
		e->status = 500;
		r = NULL;
	}
	if (r == NULL) {
		r = MHD_create_response_from_buffer(sizeof(fallback_body) - 1,
		    (void *)fallback_body, MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		MHD_add_response_header(r, "Content-Type", "text/plain");
		e->status = 500;
	}
	if (e->status == 405 && e->allow[0] != '\0')
		MHD_add_response_header(r, "Allow", e->allow);
	if (e->status == 401) {
		auth_challenge(req, chal, sizeof(chal));
		MHD_add_response_header(r, "WWW-Authenticate", chal);
	}
	return queue(req, e->status, r);
}

static int
success_status(const struct http_req *req)
{
	if (req->resp.status != 0)
		return req->resp.status;
	if (req->route != NULL && req->route->r->success_status != 0)
		return req->route->r->success_status;
	return 200;
}

static enum MHD_Result
queue_success(struct http_req *req)
{
	struct http_resp *rp = &req->resp;
	struct MHD_Response *r = NULL;
	size_t i;

	switch (rp->kind) {
	case RB_NONE:
		r = MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT);
		break;
	case RB_BUF:
		r = MHD_create_response_from_buffer(rp->len, rp->buf,
		    MHD_RESPMEM_MUST_FREE);
		if (r != NULL)
			rp->buf = NULL;
		break;
	case RB_FD:
		r = MHD_create_response_from_fd_at_offset64(rp->size, rp->fd,
		    rp->offset);
		if (r != NULL)
			rp->fd = -1;	/* MHD closes it */
		break;
	case RB_CB:
		r = MHD_create_response_from_callback(
		    rp->size == HTTP_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : rp->size,
		    STREAM_BLOCK, out_read, rp->cb, out_free);
		if (r != NULL)
			rp->cb = NULL;	/* out_free releases it */
		break;
	case RB_UPGRADE:
		rp->up->srv = req->l->srv;
		r = MHD_create_response_for_upgrade(on_upgrade, rp->up);
		if (r != NULL) {
			MHD_add_response_header(r, "Upgrade", rp->up->proto);
			req->up = rp->up;	/* req_free frees it unless used */
			rp->up = NULL;
		}
		break;
	}
	if (r == NULL) {
		pend(req, 500, TS_ENOMEM, "cannot create the response");
		return queue_error(req);
	}
	if (rp->ctype[0] != '\0')
		MHD_add_response_header(r, "Content-Type", rp->ctype);
	for (i = 0; i < rp->nhdr; i++)
		if (MHD_add_response_header(r, rp->hdr[i].name,
		    rp->hdr[i].value) != MHD_YES)
			log_warnx("http: response header %s refused",
			    rp->hdr[i].name);
	return queue(req, success_status(req), r);
}

/* ---- the MHD callbacks ------------------------------------------------ */

static void
req_free(struct http_req *req)
{
	if (req->up != NULL) {		/* queued but never upgraded */
		if (req->up->free_fn != NULL)
			req->up->free_fn(req->up->arg);
		free(req->up);
	}
	if (req->ctx_free != NULL && req->ctx != NULL)
		req->ctx_free(req->ctx);
	resp_release(&req->resp);
	json_decref(req->json);
	free(req->body);
	free(req->q);
	free(req->qbuf);
	free(req->pathbuf);
	free(req->path);
	free(req->uri);
	atomic_fetch_sub(&req->l->srv->inflight, 1);
	free(req);
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct listener *l = cls;
	struct http_req *req;
	size_t n;

	if ((req = calloc(1, sizeof(*req))) == NULL) {
		log_warnx("http: out of memory for a request");
		return NULL;	/* on_access closes the connection */
	}
	req->l = l;
	atomic_fetch_add(&l->srv->inflight, 1);
	req->conn = conn;
	req->resp.fd = -1;
	req->clen = UINT64_MAX;
	clock_gettime(CLOCK_MONOTONIC, &req->t0);
	make_request_id(req->id);
	n = strnlen(uri, l->srv->o.max_url_len + 1);
	if (n > l->srv->o.max_url_len)
		req->uri_too_long = true;
	else
		req->uri = strndup(uri, n);	/* NULL: 500, said later */
	return req;
}

static void
abort_stream(struct http_req *req)
{
	if (req->stream_open) {
		req->stream_open = false;
		req->route->r->stream->abort(req);
	}
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *req = *con_cls;

	(void)cls;
	(void)conn;
	if (req == NULL)
		return;
	log_set_request_id(req->id);
	abort_stream(req);	/* client gone, timeout or server stop */
	if (req->started) {
		double ms = elapsed_ms(&req->t0);

		log_info("http: %s %s status: %d body: %llu time: %.3f ms%s",
		    req->method, req->path ? req->path : "?", req->status,
		    (unsigned long long)req->rx, ms,
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
		    " (connection closed early)");
		/* A request answered (not one whose client left first). */
		if (req->status >= 100 && req->status < 600) {
			metrics_inc(req->l->m_count[req->status / 100 - 1], 1);
			metrics_observe(req->l->m_time[req->status / 100 - 1],
			    ms / 1000);
		}
	}
	req_free(req);
	*con_cls = NULL;
	log_set_request_id(NULL);
}

/*
 * The body limit of the request's route: a route anyone may call without
 * a token (token issue) buffers at most max_noauth_body, so that
 * unauthenticated clients cannot make every connection hold a megabyte.
 * Routes with a token were authenticated before any body is read.
 */
static size_t
body_limit(const struct http_req *req)
{
	const struct http_server *srv = req->l->srv;

	if (req->route != NULL && (req->route->r->flags & ROUTE_NO_AUTH) &&
	    srv->o.max_noauth_body < srv->o.max_body_size)
		return srv->o.max_noauth_body;
	return srv->o.max_body_size;
}

/* Headers are complete: decide everything that needs no body. Returns
 * MHD_YES, having queued a response only if the body must stay unread. */
static enum MHD_Result
begin_request(struct http_req *req)
{
	const struct http_server *srv = req->l->srv;
	const struct http_route *r;
	const char *te, *cl, *ct;
	char *end;
	bool has_body;
	unsigned long long v;

	te = http_req_header(req, "Transfer-Encoding");
	cl = http_req_header(req, "Content-Length");
	req->chunked = te != NULL && strcasestr(te, "chunked") != NULL;
	if (!req->chunked && cl != NULL) {
		/* MHD has already refused a malformed Content-Length. */
		errno = 0;
		v = strtoull(cl, &end, 10);
		if (errno == 0 && end != cl)
			req->clen = v;
	}
	has_body = req->chunked || (req->clen != UINT64_MAX && req->clen > 0);

	if (parse_target(req) == -1)
		goto decided;
	mount_request(req);
	route_request(req);
	if (req->err.set)
		goto decided;
	r = req->route->r;

	if (!(r->flags & ROUTE_STREAM_BODY) && req->clen != UINT64_MAX &&
	    req->clen > body_limit(req)) {
		/* Never read it: the 413 goes out now and MHD closes. */
		pend(req, 413, TS_ETOO_LARGE, "Request body of %llu bytes "
		    "exceeds the limit of %zu bytes.",
		    (unsigned long long)req->clen, body_limit(req));
		return queue_error(req);
	}
	if (has_body && !(r->flags & (ROUTE_STREAM_BODY | ROUTE_RAW_BODY)) &&
	    method_has_body(r->method)) {
		ct = http_req_header(req, "Content-Type");
		if (ct != NULL && *ct != '\0' && !json_media(ct)) {
			pend(req, 415, TS_EUNSUPPORTED_MEDIA, "Unsupported "
			    "Content-Type; this API takes application/json.");
			goto decided;
		}
	}
	if (!(r->flags & ROUTE_NO_AUTH)) {
		err_clear();
		if (srv->o.authenticate != NULL &&
		    srv->o.authenticate(req, srv->o.auth_arg) != 0) {
			pend_err(req, TS_EUNAUTHORIZED, true);
			goto decided;
		}
		err_clear();
		if (r->policy != NULL &&
		    (r->flags & ROUTE_POLICY_IN_HANDLER) == 0 &&
		    srv->o.authorize != NULL &&
		    srv->o.authorize(req, r->policy, srv->o.auth_arg) != 0) {
			pend_err(req, TS_EFORBIDDEN, false);
			goto decided;
		}
	}
	if (r->flags & ROUTE_STREAM_BODY) {
		err_clear();
		if (r->stream->begin(req, &req->resp) != 0) {
			pend_err(req, TS_EINTERNAL, false);
			goto decided;
		}
		req->stream_open = true;
		req->mode = BODY_STREAM;
		return MHD_YES;
	}
	if (has_body) {
		req->mode = BODY_BUFFER;
		if (req->clen != UINT64_MAX) {
			req->bcap = (size_t)req->clen + 1;
			if ((req->body = malloc(req->bcap)) == NULL) {
				req->bcap = 0;
				pend(req, 500, TS_ENOMEM, "out of memory for "
				    "the request body");
				goto decided;
			}
		}
	}
	return MHD_YES;

decided:
	/* An error is waiting for the last call; what to do with a body. */
	if (!has_body)
		return MHD_YES;
	if (req->clen != UINT64_MAX && req->clen > body_limit(req))
		return queue_error(req);	/* too much to drain */
	req->mode = BODY_DISCARD;
	return MHD_YES;
}

static int
buffer_append(struct http_req *req, const char *data, size_t len)
{
	size_t cap;
	char *nb;

	if (req->blen + len + 1 > req->bcap) {
		cap = req->bcap ? req->bcap : 4096;
		while (cap < req->blen + len + 1)
			cap *= 2;
		if (cap > body_limit(req) + 1)
			cap = body_limit(req) + 1;
		if ((nb = realloc(req->body, cap)) == NULL)
			return -1;
		req->body = nb;
		req->bcap = cap;
	}
	memcpy(req->body + req->blen, data, len);
	req->blen += len;
	req->body[req->blen] = '\0';
	return 0;
}

/* One piece of body. Returns MHD_NO to drop the connection. */
static enum MHD_Result
take_body(struct http_req *req, const char *data, size_t len)
{
	req->rx += len;
	switch (req->mode) {
	case BODY_BUFFER:
		if (req->blen + len > body_limit(req)) {
			/* Chunked (Content-Length was checked up front). */
			pend(req, 413, TS_ETOO_LARGE, "Request body exceeds "
			    "the limit of %zu bytes.", body_limit(req));
			free(req->body);
			req->body = NULL;
			req->blen = req->bcap = 0;
			req->mode = BODY_DISCARD;
			req->discarded = len;
			break;
		}
		if (buffer_append(req, data, len) == -1) {
			pend(req, 500, TS_ENOMEM, "out of memory for the "
			    "request body");
			req->mode = BODY_DISCARD;
		}
		break;
	case BODY_STREAM:
		err_clear();
		if (req->route->r->stream->data(req, data, len) != 0) {
			pend_err(req, TS_EINTERNAL, false);
			abort_stream(req);
			req->mode = BODY_DISCARD;
		}
		break;
	case BODY_DISCARD:
	case BODY_NONE:
		req->discarded += len;
		break;
	}
	/* Drain at most another body limit so the client can read its
	 * error; anything longer is a client we stop listening to. */
	if (req->discarded > body_limit(req)) {
		log_warnx("http: %s %s: body keeps coming after a %d; closing",
		    req->method, req->path ? req->path : "?", req->err.status);
		return MHD_NO;
	}
	return MHD_YES;
}

/* The whole request is in: run the handler and queue its response. */
static enum MHD_Result
finish_request(struct http_req *req)
{
	const struct http_route *r = req->route->r;
	json_error_t jerr;
	int rc;

	err_clear();
	if (r->flags & ROUTE_STREAM_BODY) {
		req->stream_open = false;
		rc = r->stream->end(req, &req->resp);
	} else {
		if (req->blen > 0 && method_has_body(r->method) &&
		    !(r->flags & ROUTE_RAW_BODY)) {
			req->json = json_loadb(req->body, req->blen,
			    JSON_REJECT_DUPLICATES, &jerr);
			if (req->json == NULL) {
				pend(req, 400, TS_EDECODE, "Malformed JSON in "
				    "request body: %s (line %d, column %d, "
				    "position %d).", jerr.text, jerr.line,
				    jerr.column, jerr.position);
				return queue_error(req);
			}
		}
		rc = r->handler(req, &req->resp);
	}
	if (rc != 0) {
		if (err_code() == TS_EOK)
			log_warnx("http: %s %s: handler failed without "
			    "recording an error", req->method, req->path);
		pend_err(req, TS_EINTERNAL, false);
		return queue_error(req);
	}
	return queue_success(req);
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct http_req *req = *con_cls;
	enum MHD_Result rc;

	(void)cls;
	(void)url;
	(void)version;
	if (req == NULL)
		return MHD_NO;		/* on_uri could not allocate */
	log_set_request_id(req->id);
	if (req->queued) {
		*upload_size = 0;
		rc = MHD_YES;
	} else if (!req->started) {
		req->started = true;
		req->conn = conn;
		req->method = method;
		rc = begin_request(req);
	} else if (*upload_size != 0) {
		rc = take_body(req, upload, *upload_size);
		*upload_size = 0;
	} else if (req->err.set)
		rc = queue_error(req);
	else
		rc = finish_request(req);
	log_set_request_id(NULL);
	return rc;
}

static void __attribute__((format(printf, 2, 0)))
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* MHD reports client misbehaviour (early closes, bad requests) here;
	 * failures that matter to us are recorded by our own code. */
	log_info("http: libmicrohttpd: %s", buf);
}

/* ---- request accessors ------------------------------------------------ */

const char *
http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *
http_req_path(const struct http_req *req)
{
	return req->path;
}

int64_t
http_req_age_us(const struct http_req *req)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - req->t0.tv_sec) * 1000000 +
	    (now.tv_nsec - req->t0.tv_nsec) / 1000;
}

const char *
http_req_id(const struct http_req *req)
{
	return req->id;
}

enum apierr_service
http_req_service(const struct http_req *req)
{
	return req->l->cfg.service;
}

const struct http_route *
http_req_route(const struct http_req *req)
{
	return req->route != NULL ? req->route->r : NULL;
}

void *
http_req_app(const struct http_req *req)
{
	return req->l->cfg.app;
}

const char *
http_req_param(const struct http_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].val;
	return NULL;
}

const char *
http_req_query_next(const struct http_req *req, const char *key, size_t *it)
{
	for (; *it < req->nq; (*it)++)
		if (strcmp(req->q[*it].key, key) == 0)
			return req->q[(*it)++].val;
	return NULL;
}

const char *
http_req_query(const struct http_req *req, const char *key)
{
	size_t it = 0;

	return http_req_query_next(req, key, &it);
}

size_t
http_req_query_count(const struct http_req *req)
{
	return req->nq;
}

int
http_req_query_at(const struct http_req *req, size_t i, const char **key,
    const char **value)
{
	if (i >= req->nq)
		return -1;
	*key = req->q[i].key;
	*value = req->q[i].val;
	return 0;
}

/* Percent-encode s for a query string (RFC 3986 unreserved kept). */
static int
url_encode(struct buf *b, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";
	char e[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			if (buf_append(b, s, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hx[c >> 4];
		e[2] = hx[c & 15];
		if (buf_append(b, e, 3) == -1)
			return -1;
	}
	return 0;
}

int
http_req_query_relink(const struct http_req *req, const char *marker,
    struct buf *b)
{
	const char *k, *v;
	bool first = true;

	for (size_t i = 0; i < req->nq; i++) {
		if (http_req_query_at(req, i, &k, &v) == -1 ||
		    strcmp(k, "marker") == 0)
			continue;
		if (buf_append(b, first ? "?" : "&", 1) == -1 ||
		    url_encode(b, k) == -1 || buf_append(b, "=", 1) == -1 ||
		    url_encode(b, v) == -1)
			goto nomem;
		first = false;
	}
	if (marker != NULL && (buf_append(b, first ? "?marker=" :
	    "&marker=", 8) == -1 || url_encode(b, marker) == -1))
		goto nomem;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

const char *
http_req_header(const struct http_req *req, const char *name)
{
	if (req->conn == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

json_t *
http_req_json(const struct http_req *req)
{
	return req->json;
}

const char *
http_req_body(const struct http_req *req, size_t *len)
{
	if (len != NULL)
		*len = req->blen;
	return req->body != NULL ? req->body : "";
}

void
http_req_set_ctx(struct http_req *req, void *ctx, void (*free_fn)(void *))
{
	if (req->ctx_free != NULL && req->ctx != NULL && req->ctx != ctx)
		req->ctx_free(req->ctx);
	req->ctx = ctx;
	req->ctx_free = free_fn;
}

void *
http_req_ctx(const struct http_req *req)
{
	return req->ctx;
}

void
http_req_set_state(struct http_req *req, void *state)
{
	req->state = state;
}

void *
http_req_state(const struct http_req *req)
{
	return req->state;
}

int
http_req_authorize(struct http_req *req, const char *policy)
{
	const struct http_server *srv = req->l->srv;

	if (srv->o.authorize == NULL)
		return 0;
	err_clear();
	if (srv->o.authorize(req, policy, srv->o.auth_arg) == 0)
		return 0;
	if (err_code() == TS_EOK)
		err_set(TS_EFORBIDDEN, "Policy does not allow %s to be "
		    "performed.", policy);
	return -1;
}

/* ---- TCP_CORK ----------------------------------------------------------- */

/*
 * libmicrohttpd 0.9.75 turns TCP_CORK on before it sends a body from a
 * file (mhd_send.c: before a sendfile() of 128 KiB that is not the last),
 * and offers no option to leave it out. On a download that halves the
 * speed: 1 GiB through 128 KiB sendfile()s on a non-blocking socket takes
 * 0.26-0.36 s uncorked and 0.58-0.71 s corked (docs/PERFORMANCE.md,
 * "Downloads against the least any server does"). The cork buys nothing
 * there: every sendfile() already fills segments, and MHD has set
 * TCP_NODELAY and pushes the last piece itself. So the controller defines
 * setsockopt(): the one symbol the shared library's calls bind to before
 * libc's (an executable's definition comes first in the lookup order).
 * Turning TCP_CORK on is answered as done and not made; every other call,
 * TCP_CORK off included, goes to the kernel unchanged. Nothing of ours
 * corks a socket. TLS connections cork in GnuTLS, not here.
 */
int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	if (level == IPPROTO_TCP && name == TCP_CORK && val != NULL &&
	    len >= (socklen_t)sizeof(int) && *(const int *)val != 0)
		return 0;
	return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

/* ---- the server ------------------------------------------------------- */

static char *
read_pem(const char *path)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t off = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_set_errno(TS_EIO, "http: open %s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > TLS_FILE_MAX) {
		err_set(TS_ECONFIG, "http: %s: not a PEM file of at most %d "
		    "bytes", path, TLS_FILE_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		err_set(TS_ENOMEM, "http: out of memory");
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set_errno(TS_EIO, "http: read %s", path);
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static int
parse_bind(struct http_server *srv)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&srv->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&srv->sa;

	memset(&srv->sa, 0, sizeof(srv->sa));
	if (inet_pton(AF_INET, srv->bind, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		srv->salen = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, srv->bind, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		srv->salen = sizeof(*s6);
		srv->dual_stack = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
		return 0;
	}
	err_set(TS_ECONFIG, "http: bind address %s is not a numeric IPv4 or "
	    "IPv6 address", srv->bind);
	return -1;
}

static int
compile_listener(struct listener *l)
{
	const struct http_route *r;
	size_t n = 0, i, j;

	if (l->cfg.routes == NULL || (unsigned)l->cfg.service >=
	    APIERR__NSERVICES) {
		err_set(TS_ECONFIG, "http: listener on port %u: no routes or "
		    "bad service", (unsigned)l->cfg.port);
		return -1;
	}
	for (r = l->cfg.routes; r->method != NULL; r++)
		n++;
	if (n == 0) {
		err_set(TS_ECONFIG, "http: listener on port %u has an empty "
		    "route table", (unsigned)l->cfg.port);
		return -1;
	}
	if ((l->routes = calloc(n, sizeof(*l->routes))) == NULL) {
		err_set(TS_ENOMEM, "http: out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (compile_route(&l->cfg.routes[i], &l->routes[i]) == -1)
			return -1;
		l->nroutes++;
		for (j = 0; j < i; j++)
			if (strcmp(l->routes[j].r->method,
			    l->routes[i].r->method) == 0 &&
			    same_shape(&l->routes[j], &l->routes[i])) {
				err_set(TS_ECONFIG, "http: routes %s %s and %s "
				    "are ambiguous", l->routes[i].r->method,
				    l->routes[j].r->pattern,
				    l->routes[i].r->pattern);
				return -1;
			}
	}
	return 0;
}

/* A mount joins two distinct listeners, the mounted one mounting nothing,
 * by one literal segment, distinct on its listener. */
static int
check_mounts(const struct http_opts *o)
{
	const struct http_mount *m;
	size_t j, k;

	if (o->nmounts > 0 && o->mounts == NULL)
		goto bad;
	for (j = 0; j < o->nmounts; j++) {
		m = &o->mounts[j];
		if (m->prefix == NULL || *m->prefix == '\0' ||
		    strpbrk(m->prefix, "/{}") != NULL ||
		    m->at >= o->nlisteners || m->listener >= o->nlisteners ||
		    m->listener == m->at)
			goto bad;
		for (k = 0; k < o->nmounts; k++)
			if (o->mounts[k].at == m->listener ||
			    (k < j && o->mounts[k].at == m->at &&
			    strcmp(o->mounts[k].prefix, m->prefix) == 0))
				goto bad;
	}
	return 0;
bad:
	err_set(TS_ECONFIG, "http: bad listener mounts");
	return -1;
}

static int
metrics_listener(struct metrics *reg, struct listener *l)
{
	static const char *const labels[] = { "service", "status_class",
	    NULL };
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx",
	    "5xx" };
	struct metrics_family *c, *t;

	if (reg == NULL)
		return 0;
	c = metrics_family(reg, METRICS_COUNTER, "tinystack_http_requests_total",
	    "API requests answered, by service and status class.", labels,
	    NULL, 0);
	t = metrics_family(reg, METRICS_HISTOGRAM,
	    "tinystack_http_request_duration_seconds",
	    "API request time from the request line to the last byte "
	    "handed to the socket, by service and status class.", labels,
	    metrics_latency_buckets, metrics_latency_nbuckets);
	if (c == NULL || t == NULL)
		return -1;
	for (size_t k = 0; k < 5; k++) {
		const char *v[] = { apierr_service_name(l->cfg.service),
		    classes[k] };

		if ((l->m_count[k] = metrics_series(c, v)) == NULL ||
		    (l->m_time[k] = metrics_series(t, v)) == NULL)
			return -1;
	}
	return 0;
}

struct http_server *
http_server_new(const struct http_opts *opts)
{
	struct http_server *srv;
	size_t i;

	if (opts == NULL || opts->listeners == NULL || opts->nlisteners == 0 ||
	    opts->nlisteners > HTTP_MAX_LISTENERS) {
		err_set(TS_ECONFIG, "http: between 1 and %d listeners",
		    HTTP_MAX_LISTENERS);
		return NULL;
	}
	if ((opts->tls_cert_file == NULL) != (opts->tls_key_file == NULL)) {
		err_set(TS_ECONFIG, "http: TLS needs both a certificate and "
		    "a key");
		return NULL;
	}
	if (opts->tls_cert_file != NULL &&
	    MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		err_set(TS_ECONFIG, "http: libmicrohttpd was built without "
		    "TLS");
		return NULL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		err_set(TS_ENOMEM, "http: out of memory");
		return NULL;
	}
	pthread_mutex_init(&srv->up_mu, NULL);
	pthread_cond_init(&srv->up_cv, NULL);
	srv->o = *opts;
	srv->o.bind = NULL;
	srv->o.auth_uri = NULL;
	srv->o.tls_cert_file = srv->o.tls_key_file = NULL;
	srv->o.listeners = NULL;
	if (srv->o.threads == 0)
		srv->o.threads = DEF_THREADS;
	if (srv->o.max_connections == 0)
		srv->o.max_connections = DEF_CONNECTIONS;
	if (srv->o.conn_timeout == 0)
		srv->o.conn_timeout = DEF_TIMEOUT;
	if (srv->o.conn_memory_limit == 0)
		srv->o.conn_memory_limit = DEF_CONN_MEMORY;
	if (srv->o.max_body_size == 0)
		srv->o.max_body_size = DEF_MAX_BODY;
	if (srv->o.max_noauth_body == 0)
		srv->o.max_noauth_body = DEF_MAX_NOAUTH_BODY;
	if (srv->o.max_url_len == 0)
		srv->o.max_url_len = DEF_MAX_URL;
	if (srv->o.max_query_params == 0)
		srv->o.max_query_params = DEF_MAX_QUERY;
	if (srv->o.conn_memory_limit < MIN_CONN_MEMORY ||
	    srv->o.threads > 256) {
		err_set(TS_ECONFIG, "http: connection memory limit below %d "
		    "or more than 256 threads", MIN_CONN_MEMORY);
		goto fail;
	}
	if ((srv->bind = strdup(opts->bind ? opts->bind : DEF_BIND)) == NULL ||
	    (opts->auth_uri != NULL &&
	    (srv->auth_uri = strdup(opts->auth_uri)) == NULL)) {
		err_set(TS_ENOMEM, "http: out of memory");
		goto fail;
	}
	if (srv->auth_uri != NULL &&
	    !header_safe(srv->auth_uri, AUTH_URI_MAX)) {
		err_set(TS_ECONFIG, "http: bad auth_uri");
		goto fail;
	}
	if (parse_bind(srv) == -1)
		goto fail;
	if (opts->tls_cert_file != NULL &&
	    ((srv->tls_cert = read_pem(opts->tls_cert_file)) == NULL ||
	    (srv->tls_key = read_pem(opts->tls_key_file)) == NULL))
		goto fail;
	for (i = 0; i < opts->nlisteners; i++) {
		if (opts->listeners[i].conn_memory != 0 &&
		    opts->listeners[i].conn_memory < MIN_CONN_MEMORY) {
			err_set(TS_ECONFIG, "http: connection memory limit "
			    "below %d", MIN_CONN_MEMORY);
			goto fail;
		}
		srv->l[i].srv = srv;
		srv->l[i].cfg = opts->listeners[i];
		srv->l[i].port = opts->listeners[i].port;
		srv->nl++;
		if (compile_listener(&srv->l[i]) == -1 ||
		    metrics_listener(opts->metrics, &srv->l[i]) == -1)
			goto fail;
	}
	if (check_mounts(opts) == -1)
		goto fail;
	return srv;
fail:
	http_server_free(&srv);
	return NULL;
}

static struct MHD_Daemon *
start_listener(struct http_server *srv, struct listener *l)
{
	struct sockaddr_storage sa = srv->sa;
	struct MHD_OptionItem extra[5];
	size_t k = 0;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE | MHD_USE_ITC;

	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(l->cfg.port);
	else {
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(l->cfg.port);
		flags |= srv->dual_stack ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	}
	/* Optional settings go through MHD_OPTION_ARRAY: a pool size of 1
	 * or 0 passed directly would only earn a warning. */
	if (srv->o.threads > 1)
		extra[k++] = (struct MHD_OptionItem){
		    MHD_OPTION_THREAD_POOL_SIZE, srv->o.threads, NULL };
	if (srv->tls_cert != NULL) {
		flags |= MHD_USE_TLS;
		extra[k++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key };
		extra[k++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert };
		extra[k++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES };
	}
	extra[k] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return MHD_start_daemon(flags, l->cfg.port, NULL, NULL, on_access, l,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l,	/* first, says MHD */
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
	    MHD_OPTION_CONNECTION_LIMIT, srv->o.max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->o.per_ip_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, srv->o.conn_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, l->cfg.conn_memory != 0 ?
	    l->cfg.conn_memory : srv->o.conn_memory_limit,
	    MHD_OPTION_SIGPIPE_HANDLED_BY_APP, srv->o.sigpipe_ignored ? 1 : 0,
	    MHD_OPTION_ARRAY, extra,
	    MHD_OPTION_END);
}

int
http_server_start(struct http_server *srv)
{
	const union MHD_DaemonInfo *di;
	struct listener *l;
	size_t i;

	if (srv->running)
		return 0;
	for (i = 0; i < srv->nl; i++) {
		l = &srv->l[i];
		errno = 0;
		if ((l->d = start_listener(srv, l)) == NULL) {
			err_set_errno(TS_EIO, "http: cannot serve %s on "
			    "%s port %u", apierr_service_name(l->cfg.service),
			    srv->bind, (unsigned)l->cfg.port);
			goto fail;
		}
		di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
		l->port = di != NULL && di->port != 0 ? di->port : l->cfg.port;
		log_info("http: %s API on %s port %u%s",
		    apierr_service_name(l->cfg.service), srv->bind,
		    (unsigned)l->port, srv->tls_cert ? " (TLS)" : "");
	}
	pthread_mutex_lock(&srv->up_mu);
	srv->up_open = true;
	pthread_mutex_unlock(&srv->up_mu);
	srv->running = true;
	return 0;
fail:
	while (i-- > 0) {
		MHD_stop_daemon(srv->l[i].d);
		srv->l[i].d = NULL;
	}
	return -1;
}

void
http_server_stop(struct http_server *srv)
{
	MHD_socket lfd[HTTP_MAX_LISTENERS];
	unsigned waited;
	size_t i;

	if (srv == NULL || !srv->running)
		return;
	/* Upgraded connections first: MHD must not stop under them. Their
	 * sockets are shut down so their threads see the end at once. */
	pthread_mutex_lock(&srv->up_mu);
	srv->up_open = false;
	for (struct upgrade *u = srv->up_head; u != NULL; u = u->next)
		shutdown(u->fd, SHUT_RDWR);
	while (srv->up_count > 0)
		pthread_cond_wait(&srv->up_cv, &srv->up_mu);
	pthread_mutex_unlock(&srv->up_mu);
	/* No new connections; the requests in progress finish and send
	 * their answers (a create whose write committed is answered), up
	 * to DRAIN_MS; MHD_stop_daemon() then closes every connection. */
	for (i = 0; i < srv->nl; i++)
		lfd[i] = srv->l[i].d != NULL ?
		    MHD_quiesce_daemon(srv->l[i].d) : MHD_INVALID_SOCKET;
	for (waited = 0; atomic_load(&srv->inflight) > 0 &&
	    waited < DRAIN_MS; waited += 10)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (atomic_load(&srv->inflight) > 0)
		log_warnx("http: stopping with %zu requests still in progress",
		    atomic_load(&srv->inflight));
	for (i = 0; i < srv->nl; i++) {
		if (srv->l[i].d != NULL)
			MHD_stop_daemon(srv->l[i].d);
		srv->l[i].d = NULL;
		/* quiesced: the listening socket is ours to close */
		if (lfd[i] != MHD_INVALID_SOCKET)
			close(lfd[i]);
	}
	srv->running = false;
}

void
http_server_free(struct http_server **srvp)
{
	struct http_server *srv;
	size_t i, j;

	if (srvp == NULL || (srv = *srvp) == NULL)
		return;
	http_server_stop(srv);
	for (i = 0; i < srv->nl; i++) {
		for (j = 0; j < srv->l[i].nroutes; j++)
			free(srv->l[i].routes[j].buf);
		free(srv->l[i].routes);
	}
	if (srv->tls_key != NULL)
		explicit_bzero(srv->tls_key, strlen(srv->tls_key));
	free(srv->tls_key);
	free(srv->tls_cert);
	free(srv->auth_uri);
	free(srv->bind);
	pthread_cond_destroy(&srv->up_cv);
	pthread_mutex_destroy(&srv->up_mu);
	free(srv);
	*srvp = NULL;
}

uint16_t
http_server_port(const struct http_server *srv, size_t i)
{
	return srv != NULL && i < srv->nl ? srv->l[i].port : 0;
}
