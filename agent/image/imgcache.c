/*
 * imgcache: per-host cache of verified base images, and the HTTP(S)
 * source (libcurl) that downloads them from the controller's image API;
 * see imgcache.h.
 *
 * Entry states (one entry per image id known to this process):
 *   ABSENT      no file (a download failed, or nothing asked yet)
 *   BUSY        one thread is downloading or verifying; others wait on
 *               the condition variable for `done` to move
 *   UNVERIFIED  a file found on disk (agent restart), not yet checked
 *   READY       the file is verified; base and inspection are recorded
 * Only the thread that set BUSY changes the entry's file; everything else
 * about an entry changes under the mutex.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "err.h"
#include "image/imgcache.h"
#include "imgfmt.h"
#include "log.h"
#include "uuid.h"

#define UUID_LEN	36
#define READ_CHUNK	(1024 * 1024)	/* verifying a file on disk */
#define PART_SUFFIX	".part"

/* ---------------------------------------------------------- helpers */

/* Lower-case copy of a 128-digit hex string, or -1. */
static int
norm_sha512(const char *in, char out[IMGCACHE_SHA512_HEX + 1])
{
	if (in == NULL || strlen(in) != IMGCACHE_SHA512_HEX)
		return -1;
	for (int i = 0; i < IMGCACHE_SHA512_HEX; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[IMGCACHE_SHA512_HEX] = '\0';
	return 0;
}

static uint64_t
mono_sec(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Copies another thread's recorded error into this thread's slot. */
static void
err_copy(const struct ts_err *e)
{
	err_set_(e->code, e->file, e->line, "%s", e->msg);
}

/* ------------------------------------------------------- HTTP source */

#define HTTP_TIMEOUT_DEFAULT	30000
#define HTTP_TOKEN_MAX		8192
#define HTTP_URL_MAX		1400

struct imgcache_http {
	char		 base[HTTP_URL_MAX];	/* scheme://host[:port]/prefix */
	bool		 tls;
	char		*ca_file;		/* NULL: system CA store */
	unsigned	 timeout_ms;
	pthread_mutex_t	 lock;
	char		*token;
	char		 agent_host[256];	/* X-Tinystack-Host, or "" */
};

static bool
host_is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strncmp(host, "127.", 4) == 0;
}

/* Checks base_url strictly (no user info, query or fragment; visible
 * ASCII) and keeps it without trailing '/'. */
static int
parse_url(struct imgcache_http *h, const char *url)
{
	char host[256];
	const char *p, *hend, *path;
	size_t hl;
	unsigned long port;

	if (url != NULL && strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else if (url != NULL && strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		h->tls = true;
	} else {
		err_set(TS_EINVALID, "imgcache: image API URL must start with "
		    "http:// or https://");
		return -1;
	}
	path = p + strcspn(p, "/");
	if (*p == '[') {
		if ((hend = memchr(p, ']', (size_t)(path - p))) == NULL)
			goto bad;
		hl = (size_t)(hend - p - 1);
		if (hl == 0 || hl >= sizeof(host) ||
		    strspn(p + 1, "0123456789abcdefABCDEF:.") < hl)
			goto bad;
		memcpy(host, p + 1, hl);
		host[hl] = '\0';
		hend++;
	} else {
		hend = p + strcspn(p, ":/");
		hl = (size_t)(hend - p);
		if (hl == 0 || hl >= sizeof(host) ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
		    "TUVWXYZ0123456789.-") < hl)
			goto bad;
		memcpy(host, p, hl);
		host[hl] = '\0';
	}
	if (*hend == ':') {
		char *end;

		if (hend + 1 == path || strspn(hend + 1, "0123456789") !=
		    (size_t)(path - hend - 1))
			goto bad;
		port = strtoul(hend + 1, &end, 10);
		if (port == 0 || port > 65535 || end != path)
			goto bad;
	} else if (hend != path) {
		goto bad;
	}
	/* Path prefix: visible ASCII, no query or fragment. */
	hl = strlen(path);
	while (hl > 0 && path[hl - 1] == '/')
		hl--;
	for (size_t i = 0; i < hl; i++)
		if (path[i] <= 0x20 || path[i] >= 0x7f || path[i] == '?' ||
		    path[i] == '#')
			goto bad;
	if ((size_t)(path - url) + hl >= sizeof(h->base))
		goto bad;
	memcpy(h->base, url, (size_t)(path - url) + hl);
	h->base[(size_t)(path - url) + hl] = '\0';
	if (!h->tls && !host_is_loopback(host))
		log_warnx("imgcache: image API %s is plain http to another "
		    "host: tokens and images cross the network in the clear "
		    "(use https and [image] ca_file)", h->base);
	return 0;
bad:
	err_set(TS_EINVALID, "imgcache: bad image API URL");
	return -1;
}

struct imgcache_http *
imgcache_http_new(const char *base_url, const char *ca_file,
    unsigned timeout_ms)
{
	struct imgcache_http *h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		err_set(TS_ENOMEM, "imgcache: out of memory");
		return NULL;
	}
	if (parse_url(h, base_url) == -1) {
		free(h);
		return NULL;
	}
	if (ca_file != NULL && ca_file[0] != '\0') {
		/* Checked now so that a typo fails at start, not at the
		 * first download. */
		if (access(ca_file, R_OK) == -1) {
			err_set_errno(TS_EINVALID, "imgcache: CA file %s",
			    ca_file);
			free(h);
			return NULL;
		}
		if ((h->ca_file = strdup(ca_file)) == NULL) {
			err_set(TS_ENOMEM, "imgcache: out of memory");
			free(h);
			return NULL;
		}
	}
	h->timeout_ms = timeout_ms ? timeout_ms : HTTP_TIMEOUT_DEFAULT;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void
imgcache_http_free(struct imgcache_http **hp)
{
	struct imgcache_http *h = *hp;

	if (h == NULL)
		return;
	if (h->token) {
		sodium_memzero(h->token, strlen(h->token));
		free(h->token);
	}
	free(h->ca_file);
	pthread_mutex_destroy(&h->lock);
	free(h);
	*hp = NULL;
}

/* 1 if token can be sent as a header value; 0 with err set. */
static int
token_ok(const char *token)
{
	if (token == NULL || token[0] == '\0' ||
	    strlen(token) > HTTP_TOKEN_MAX) {
		err_set(TS_EINVALID, "imgcache: empty or oversized token");
		return 0;
	}
	for (const char *c = token; *c; c++) {
		if (*c <= 0x20 || *c >= 0x7f) {
			err_set(TS_EINVALID, "imgcache: the token may hold only "
			    "visible ASCII");
			return 0;
		}
	}
	return 1;
}

int
imgcache_http_set_host(struct imgcache_http *h, const char *host)
{
	size_t len = host == NULL ? 0 : strlen(host);

	if (len == 0 || len >= sizeof(h->agent_host)) {
		err_set(TS_EINVALID, "imgcache: empty or oversized host name");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (host[i] <= ' ' || host[i] > '~') {
			err_set(TS_EINVALID, "imgcache: the host name may hold "
			    "only visible ASCII");
			return -1;
		}
	/* Set once before any fetch: read without the lock. */
	memcpy(h->agent_host, host, len + 1);
	return 0;
}

int
imgcache_http_set_token(struct imgcache_http *h, const char *token)
{
	char *t;

	if (!token_ok(token))
		return -1;
	if ((t = strdup(token)) == NULL) {
		err_set(TS_ENOMEM, "imgcache: out of memory");
		return -1;
	}
	pthread_mutex_lock(&h->lock);
	if (h->token) {
		sodium_memzero(h->token, strlen(h->token));
		free(h->token);
	}
	h->token = t;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

struct imgcache_source
imgcache_http_source(struct imgcache_http *h)
{
	struct imgcache_source s = { .fetch = imgcache_http_fetch, .arg = h };

	return s;
}

/* Frees a header list, zeroing its strings first (one holds the token). */
static void
headers_free(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i != NULL; i = i->next)
		sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static struct curl_slist *
header_add(struct curl_slist *l, bool *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct curl_slist *
header_add(struct curl_slist *l, bool *ok, const char *fmt, ...)
{
	char line[HTTP_TOKEN_MAX + 64];
	struct curl_slist *n;
	va_list ap;
	int len;

	if (!*ok)
		return l;
	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = len < 0 || (size_t)len >= sizeof(line) ? NULL :
	    curl_slist_append(l, line);
	sodium_memzero(line, sizeof(line));
	if (n == NULL) {
		*ok = false;
		return l;
	}
	return n;
}

/*
 * The request's header fields, every one the agent sends (Host comes from
 * the URL; libcurl adds nothing else of its own). from > 0 asks for the
 * rest of the image from that byte (a resumed transfer). NULL with err.
 */
static struct curl_slist *
request_headers(const char *token, const char *agent_host, uint64_t from)
{
	struct curl_slist *l = NULL;
	bool ok = true;

	l = header_add(l, &ok, "User-Agent: tinystack-agent");
	l = header_add(l, &ok, "Accept: application/octet-stream");
	l = header_add(l, &ok, "Accept-Encoding: identity");
	if (token != NULL)
		l = header_add(l, &ok, "X-Auth-Token: %s", token);
	/* The host the capability is bound to (set once at start). */
	if (agent_host[0] != '\0')
		l = header_add(l, &ok, "X-Tinystack-Host: %s", agent_host);
	l = header_add(l, &ok, "Connection: close");
	if (from > 0)
		l = header_add(l, &ok, "Range: bytes=%" PRIu64 "-", from);
	/* No "Expect:" or "Transfer-Encoding:" ever: this is a GET. */
	if (!ok) {
		headers_free(l);
		err_set(TS_ENOMEM, "imgcache: out of memory");
		return NULL;
	}
	return l;
}

/* One fetch over its attempts. */
struct xfer {
	CURL		*c;
	const char	*what;		/* "image <id>" for messages */
	imgcache_sink_fn sink;
	void		*sink_arg;
	uint64_t	 delivered;	/* bytes the sink has, all attempts */
	/* this attempt */
	uint64_t	 from;		/* Range start asked for; 0: none */
	uint64_t	 seen;		/* body bytes of the response */
	uint64_t	 fresh;		/* of which handed to the sink */
	bool		 started;	/* the body's first bytes were judged */
	bool		 pass;		/* a 200/206 body for the sink */
	bool		 ranged;	/* 206: starts at byte `from` */
	bool		 has_cr;	/* Content-Range seen */
	uint64_t	 cr_start;
	bool		 failed;	/* aborted by us: error recorded */
	unsigned	 timeout_ms;	/* longest silence */
	uint64_t	 last_ms;	/* when bytes last arrived */
	curl_off_t	 last_dl;
	bool		 stalled;	/* aborted for silence */
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* libcurl's low-speed limit averages over seconds; this is the old rule:
 * no byte for timeout_ms (head or body) ends the attempt. libcurl calls
 * it at least once a second, and more often while data flows. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;
	uint64_t now = mono_ms();

	if (dlnow != x->last_dl) {
		x->last_dl = dlnow;
		x->last_ms = now;
	} else if (now - x->last_ms > x->timeout_ms) {
		x->stalled = true;
		return 1;
	}
	return 0;
}

/* "bytes <first>-<last>/<total|*>": the first byte, or -1. */
static int
content_range_start(const char *v, size_t n, uint64_t *start)
{
	char buf[128], *end;
	unsigned long long first, last;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (strncasecmp(buf, "bytes ", 6) != 0 ||
	    strspn(buf + 6, "0123456789") == 0)
		return -1;
	errno = 0;
	first = strtoull(buf + 6, &end, 10);
	if (errno != 0 || *end != '-' || strspn(end + 1, "0123456789") == 0)
		return -1;
	last = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '/' || last < first)
		return -1;
	*start = first;
	return 0;
}

static size_t
on_header(char *b, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	/* A new status line (after a 1xx) starts a new head. */
	if (len >= 5 && strncmp(b, "HTTP/", 5) == 0) {
		x->has_cr = false;
	} else if (len > 14 && strncasecmp(b, "Content-Range:", 14) == 0) {
		const char *v = b + 14;
		size_t vl = len - 14;

		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
		    v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		x->has_cr = content_range_start(v, vl, &x->cr_start) == 0;
	}
	return len;
}

/* The verdict on a 200 or 206 answering this attempt, at its first body
 * bytes or at its end. 0 good, -1 error recorded. */
static int
judge_range(struct xfer *x, long status)
{
	if (status == 206) {
		if (x->from == 0 || !x->has_cr || x->cr_start != x->from) {
			err_set(TS_EIO, "imgcache: %s: a partial response that "
			    "does not continue at byte %" PRIu64, x->what,
			    x->from);
			return -1;
		}
	}
	return 0;
}

static size_t
on_body(char *b, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, off = 0;

	if (!x->started) {
		long status = 0;

		x->started = true;
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
		x->pass = status == 200 || status == 206;
		x->ranged = status == 206;
		if (x->pass && judge_range(x, status) == -1) {
			x->failed = true;
			return 0;
		}
	}
	if (!x->pass)
		return len;	/* an error's body: read and dropped */
	/* A 200 to a resumed request starts at byte 0: skip what the sink
	 * already has. A 206 starts where we asked (judge_range). */
	if (!x->ranged && x->seen < x->from)
		off = x->from - x->seen < len ? (size_t)(x->from - x->seen) :
		    len;
	x->seen += len;
	if (off < len) {
		if (x->sink(b + off, len - off, x->sink_arg) == -1) {
			x->failed = true;
			return 0;
		}
		x->fresh += len - off;
		x->delivered += len - off;
	}
	return len;
}

/* An HTTP status other than 200/206: its error. */
static void
status_error(const char *what, long status)
{
	switch (status) {
	case 204:
	case 404:
		err_set(TS_ENOT_FOUND, "imgcache: %s: %s", what,
		    status == 204 ? "the image has no data" : "no such image");
		break;
	case 401:
		err_set(TS_EUNAUTHORIZED, "imgcache: %s: the image API refused "
		    "the agent's token", what);
		break;
	case 403:
		err_set(TS_EFORBIDDEN, "imgcache: %s: access forbidden", what);
		break;
	default:
		err_set(status >= 500 && status <= 599 ? TS_EUNAVAILABLE :
		    TS_EIO, "imgcache: %s: HTTP status %ld", what, status);
	}
}

/* A transport failure's error; true if a later attempt may resume it. */
static bool
transport_error(const char *what, CURLcode rc, const char *detail)
{
	const char *d = detail[0] ? detail : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		err_set(TS_ETIMEOUT, "imgcache: %s: %s", what, d);
		return true;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		err_set(TS_EUNREACHABLE, "imgcache: %s: %s", what, d);
		return false;
	case CURLE_PEER_FAILED_VERIFICATION:
		err_set(TS_EUNAUTHORIZED, "imgcache: %s: the image API's TLS "
		    "certificate does not verify: %s", what, d);
		return false;
	case CURLE_SSL_CACERT_BADFILE:
		err_set(TS_EINVALID, "imgcache: %s: CA file: %s", what, d);
		return false;
	case CURLE_SSL_CONNECT_ERROR:
		err_set(TS_EIO, "imgcache: %s: TLS handshake: %s", what, d);
		return false;
	case CURLE_GOT_NOTHING:
		err_set(TS_EIO, "imgcache: %s: connection closed without a "
		    "response (%s)", what, d);
		return true;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		err_set(TS_EIO, "imgcache: %s: body cut short (%s)", what, d);
		return true;
	default:
		err_set(TS_EIO, "imgcache: %s: %s", what, d);
		return false;
	}
}

/* One request. 0 done, 1 broke after new bytes (resumable), -1 failed:
 * error recorded either way. */
static int
attempt(struct imgcache_http *h, struct xfer *x, const char *url,
    const char *token)
{
	char detail[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr;
	long status = 0;
	CURLcode rc;
	bool resumable;

	if ((hdr = request_headers(token, h->agent_host, x->delivered)) ==
	    NULL)
		return -1;
	x->from = x->delivered;
	x->seen = x->fresh = 0;
	x->started = x->pass = x->ranged = x->has_cr = x->failed = false;
	x->stalled = false;
	x->timeout_ms = h->timeout_ms;
	x->last_dl = 0;
	x->last_ms = mono_ms();
	curl_easy_reset(x->c);
	curl_easy_setopt(x->c, CURLOPT_URL, url);
	curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(x->c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(x->c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(x->c, CURLOPT_PROTOCOLS, CURLPROTO_HTTP |
	    CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(x->c, CURLOPT_FOLLOWLOCATION, 0L);
	/* No proxy from the environment: the token goes to api_url only. */
	curl_easy_setopt(x->c, CURLOPT_PROXY, "");
	curl_easy_setopt(x->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(x->c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(x->c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x->c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(x->c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(x->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file != NULL)
		curl_easy_setopt(x->c, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(x->c, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(x->c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->c, CURLOPT_WRITEDATA, x);

	rc = curl_easy_perform(x->c);
	/* Both live on this frame: the handle must not keep them. */
	curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x->c, CURLOPT_ERRORBUFFER, NULL);
	headers_free(hdr);
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
	if (x->failed)
		return -1;
	if (status != 0 && status != 200 && status != 206) {
		status_error(x->what, status);
		return -1;
	}
	if (rc == CURLE_OK) {
		if (status == 0) {
			err_set(TS_EIO, "imgcache: %s: no HTTP response", x->what);
			return -1;
		}
		if (!x->started && status == 206 && judge_range(x, status) == -1)
			return -1;
		if (status == 200 && x->seen < x->from) {
			err_set(TS_EIO, "imgcache: %s: the resumed transfer is "
			    "shorter than what was already received", x->what);
			return -1;
		}
		return 0;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK && x->stalled) {
		err_set(TS_ETIMEOUT, "imgcache: %s: no data for %u ms", x->what,
		    h->timeout_ms);
		resumable = true;
	} else {
		resumable = transport_error(x->what, rc, detail);
	}
	return resumable && x->fresh > 0 ? 1 : -1;
}

/* GET url (what names it in errors) into sink, resumed as
 * imgcache_http_fetch() says. */
static int
fetch_url(struct imgcache_http *h, const char *url, const char *what,
    const char *req_token, imgcache_sink_fn sink, void *sink_arg)
{
	char *token = NULL;
	struct xfer x = { .sink = sink, .sink_arg = sink_arg, .what = what };
	int r = -1;

	if (req_token != NULL && req_token[0] != '\0') {
		if (!token_ok(req_token))
			return -1;
		if ((token = strdup(req_token)) == NULL) {
			err_set(TS_ENOMEM, "imgcache: out of memory");
			return -1;
		}
	}
	pthread_mutex_lock(&h->lock);
	if (token == NULL && h->token != NULL &&
	    (token = strdup(h->token)) == NULL) {
		pthread_mutex_unlock(&h->lock);
		err_set(TS_ENOMEM, "imgcache: out of memory");
		return -1;
	}
	pthread_mutex_unlock(&h->lock);

	if ((x.c = curl_easy_init()) == NULL) {
		err_set(TS_ENOMEM, "imgcache: cannot create a transfer");
		goto out;
	}
	for (int i = 0; i < IMGCACHE_HTTP_ATTEMPTS; i++) {
		if ((r = attempt(h, &x, url, token)) != 1)
			break;
		if (i + 1 < IMGCACHE_HTTP_ATTEMPTS)
			log_warnx("%s; resuming at byte %" PRIu64, err_msg(),
			    x.delivered);
		r = -1;
	}
	curl_easy_cleanup(x.c);
out:
	if (token) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	return r;
}

int
imgcache_http_fetch(void *arg, const char *image_id, const char *req_token,
    imgcache_sink_fn sink, void *sink_arg)
{
	struct imgcache_http *h = arg;
	char what[64], url[HTTP_URL_MAX + 64];

	if (!uuid_valid(image_id)) {
		err_set(TS_EINVALID, "imgcache: image id is not a canonical UUID");
		return -1;
	}
	snprintf(what, sizeof(what), "image %s", image_id);
	snprintf(url, sizeof(url), "%s/v2/images/%s/file", h->base, image_id);
	return fetch_url(h, url, what, req_token, sink, sink_arg);
}

int
imgcache_http_fetch_path(struct imgcache_http *h, const char *path,
    const char *token, imgcache_sink_fn sink, void *sink_arg)
{
	char url[HTTP_URL_MAX + 128];

	if ((size_t)snprintf(url, sizeof(url), "%s%s", h->base, path) >=
	    sizeof(url) || path[0] != '/') {
		err_set(TS_EINVALID, "imgcache: bad path");
		return -1;
	}
	return fetch_url(h, url, path, token, sink, sink_arg);
}

/* ------------------------------------------------------------- upload */

/* Discards a response body (the image API's error document). */
static size_t
on_discard(char *b, size_t size, size_t n, void *arg)
{
	(void)b;
	(void)arg;
	return size * n;
}

/* PUT the file at path to url (what names it in errors). */
static int
upload_url(struct imgcache_http *h, const char *url, const char *what,
    const char *token, const char *path)
{
	char detail[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	bool ok = true;
	struct stat st;
	long status = 0;
	CURLcode rc;
	FILE *f = NULL;
	CURL *c = NULL;
	int r = -1;

	if (token == NULL || !token_ok(token))
		return -1;
	if ((f = fopen(path, "rbe")) == NULL || fstat(fileno(f), &st) == -1) {
		err_set_errno(TS_EIO, "imgcache: %s: %s", what, path);
		goto out;
	}
	hdr = header_add(hdr, &ok, "User-Agent: tinystack-agent");
	hdr = header_add(hdr, &ok, "Content-Type: application/octet-stream");
	hdr = header_add(hdr, &ok, "X-Auth-Token: %s", token);
	if (h->agent_host[0] != '\0')
		hdr = header_add(hdr, &ok, "X-Tinystack-Host: %s",
		    h->agent_host);
	hdr = header_add(hdr, &ok, "Connection: close");
	/* the whole body at once, no 100-continue round trip */
	hdr = header_add(hdr, &ok, "Expect:");
	if (!ok || (c = curl_easy_init()) == NULL) {
		err_set(TS_ENOMEM, "imgcache: out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, CURLPROTO_HTTP |
	    CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
	/* no byte for timeout_ms seconds' worth: libcurl's low-speed rule */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
	    (long)(h->timeout_ms / 1000 ? h->timeout_ms / 1000 : 1));
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READDATA, f);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		(void)transport_error(what, rc, detail);
	} else if (status == 409) {
		err_set(TS_ECONFLICT, "imgcache: %s: the image is no longer "
		    "queued", what);
	} else if (status == 413) {
		err_set(TS_EOVER_QUOTA, "imgcache: %s: over the image quota",
		    what);
	} else if (status != 204 && status != 200 && status != 201) {
		status_error(what, status);
	} else {
		r = 0;
	}
out:
	if (c != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_cleanup(c);
	}
	headers_free(hdr);
	if (f != NULL)
		fclose(f);
	return r;
}

int
imgcache_http_upload(struct imgcache_http *h, const char *image_id,
    const char *token, const char *path)
{
	char url[HTTP_URL_MAX + 64], what[64];

	if (!uuid_valid(image_id)) {
		err_set(TS_EINVALID, "imgcache: image id is not a canonical UUID");
		return -1;
	}
	snprintf(what, sizeof(what), "upload of image %s", image_id);
	snprintf(url, sizeof(url), "%s/v2/images/%s/file", h->base, image_id);
	return upload_url(h, url, what, token, path);
}

int
imgcache_http_upload_path(struct imgcache_http *h, const char *urlpath,
    const char *token, const char *path)
{
	char url[HTTP_URL_MAX + 128];

	if ((size_t)snprintf(url, sizeof(url), "%s%s", h->base, urlpath) >=
	    sizeof(url) || urlpath[0] != '/') {
		err_set(TS_EINVALID, "imgcache: bad path");
		return -1;
	}
	return upload_url(h, url, urlpath, token, path);
}

/* ------------------------------------------------------------ checker */

/* Everything computed over an image's bytes as they stream past. */
struct checker {
	crypto_hash_sha512_state sha;
	struct imgfmt		*fmt;
	uint64_t		 bytes;
	uint64_t		 max;	/* refuse beyond this many bytes */
	int			 fd;	/* -1: only inspect (verification) */
	const char		*what;
};

static int
checker_init(struct checker *k, uint64_t max, int fd, const char *what)
{
	crypto_hash_sha512_init(&k->sha);
	k->bytes = 0;
	k->max = max;
	k->fd = fd;
	k->what = what;
	if ((k->fmt = imgfmt_new()) == NULL)
		return -1;
	return 0;
}

static int
checker_sink(const void *buf, size_t len, void *arg)
{
	struct checker *k = arg;
	size_t off = 0;

	if (len > k->max - k->bytes) {
		err_set(TS_ETOO_LARGE, "imgcache: %s is larger than %" PRIu64
		    " bytes", k->what, k->max);
		return -1;
	}
	k->bytes += len;
	crypto_hash_sha512_update(&k->sha, buf, len);
	if (imgfmt_feed(k->fmt, buf, len) == -1)
		return -1;
	while (k->fd != -1 && off < len) {
		ssize_t w = write(k->fd, (const char *)buf + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err_set_errno(TS_EIO, "imgcache: writing %s", k->what);
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* The verdict on a complete stream. Fills ins and base's sizes/format. */
static int
checker_finish(struct checker *k, const struct imgcache_image *img,
    const char *sha_want, uint64_t max_virtual, struct imgfmt_result *ins,
    struct imgcache_base *base)
{
	unsigned char dig[crypto_hash_sha512_BYTES];
	char hex[IMGCACHE_SHA512_HEX + 1];
	const char *drv;

	crypto_hash_sha512_final(&k->sha, dig);
	sodium_bin2hex(hex, sizeof(hex), dig, sizeof(dig));
	if (imgfmt_finish(k->fmt, ins) == -1)
		return -1;
	if (strcmp(hex, sha_want) != 0) {
		err_set(TS_EIO, "imgcache: %s: SHA-512 mismatch (got %.16s..., "
		    "expected %.16s...)", k->what, hex, sha_want);
		return -1;
	}
	if (img->size != 0 && img->size != k->bytes) {
		err_set(TS_EIO, "imgcache: %s: %" PRIu64 " bytes, expected %"
		    PRIu64, k->what, k->bytes, img->size);
		return -1;
	}
	if (imgfmt_check_declared(ins, img->disk_format) == -1) {
		err_prefix("imgcache: %s: ", k->what);
		return -1;
	}
	if (!ins->virtual_size_known || ins->virtual_size > max_virtual) {
		err_set(TS_EINVALID, "imgcache: %s: virtual size %s %" PRIu64
		    " bytes", k->what, ins->virtual_size_known ?
		    "is above the limit of" : "unknown; limit", max_virtual);
		return -1;
	}
	if ((drv = imgfmt_format_qemu_driver(ins->format)) == NULL) {
		err_set(TS_EINVALID, "imgcache: %s: format %s cannot be used",
		    k->what, ins->format_name);
		return -1;
	}
	snprintf(base->format, sizeof(base->format), "%s", drv);
	base->size = k->bytes;
	base->virtual_size = ins->virtual_size;
	return 0;
}

/* --------------------------------------------------------------- cache */

enum estate { E_ABSENT = 0, E_BUSY, E_UNVERIFIED, E_READY };

struct entry {
	char			 id[UUID_LEN + 1];
	enum estate		 state;
	char			 sha512[IMGCACHE_SHA512_HEX + 1]; /* READY */
	struct imgcache_base	 base;				  /* READY */
	struct imgfmt_result	 ins;				  /* READY */
	char			(*owners)[UUID_LEN + 1];
	size_t			 nowners, capowners;
	uint64_t		 idle_since;
	uint64_t		 done;		/* finished attempts */
	struct ts_err		 last_err;	/* of the last failed one */
	struct entry		*next;
};

struct imgcache {
	char			*dir;
	struct imgcache_source	 src;
	uint64_t		 max_image;
	uint64_t		 max_virtual;
	unsigned		 grace;
	uint64_t		(*now)(void *);
	void			*now_arg;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct entry		*entries;
};

static struct entry *
find(struct imgcache *c, const char *id)
{
	for (struct entry *e = c->entries; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static struct entry *
add_entry(struct imgcache *c, const char *id, enum estate st)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		err_set(TS_ENOMEM, "imgcache: out of memory");
		return NULL;
	}
	memcpy(e->id, id, UUID_LEN + 1);
	e->state = st;
	e->idle_since = c->now(c->now_arg);
	e->next = c->entries;
	c->entries = e;
	return e;
}

static void
free_entry(struct entry *e)
{
	free(e->owners);
	free(e);
}

static int
path_of(const struct imgcache *c, const char *id, const char *suffix,
    char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s%s%s", c->dir, suffix ? "." : "", id,
	    suffix ? suffix : "");

	if (n < 0 || (size_t)n >= len) {
		err_set(TS_EINVALID, "imgcache: cache path too long");
		return -1;
	}
	return 0;
}

static int
owner_add(struct entry *e, const char *owner)
{
	for (size_t i = 0; i < e->nowners; i++)
		if (strcmp(e->owners[i], owner) == 0)
			return 0;
	if (e->nowners == e->capowners) {
		size_t ncap = e->capowners ? e->capowners * 2 : 4;
		void *np = realloc(e->owners, ncap * sizeof(*e->owners));

		if (np == NULL) {
			err_set(TS_ENOMEM, "imgcache: out of memory");
			return -1;
		}
		e->owners = np;
		e->capowners = ncap;
	}
	memcpy(e->owners[e->nowners++], owner, UUID_LEN + 1);
	return 0;
}

static bool
owner_del(struct entry *e, const char *owner)
{
	for (size_t i = 0; i < e->nowners; i++) {
		if (strcmp(e->owners[i], owner) == 0) {
			memmove(e->owners[i], e->owners[i + 1],
			    (e->nowners - i - 1) * sizeof(*e->owners));
			e->nowners--;
			return true;
		}
	}
	return false;
}

static bool
is_part_name(const char *name, char id[UUID_LEN + 1])
{
	size_t n = strlen(name);

	if (n != 1 + UUID_LEN + strlen(PART_SUFFIX) || name[0] != '.' ||
	    strcmp(name + 1 + UUID_LEN, PART_SUFFIX) != 0)
		return false;
	memcpy(id, name + 1, UUID_LEN);
	id[UUID_LEN] = '\0';
	return uuid_valid(id);
}

/* Registers the files of the directory; removes partial downloads. */
static int
scan(struct imgcache *c)
{
	DIR *d = opendir(c->dir);
	struct dirent *de;

	if (d == NULL) {
		err_set_errno(TS_EIO, "imgcache: open %s", c->dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char id[UUID_LEN + 1];
		struct stat st;

		if (is_part_name(de->d_name, id)) {
			if (unlinkat(dirfd(d), de->d_name, 0) == -1)
				log_warn("imgcache: removing %s/%s", c->dir,
				    de->d_name);
			continue;
		}
		if (!uuid_valid(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode)) {
			log_warnx("imgcache: %s/%s is not a regular file; "
			    "ignored", c->dir, de->d_name);
			continue;
		}
		if (add_entry(c, de->d_name, E_UNVERIFIED) == NULL) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

struct imgcache *
imgcache_new(const struct imgcache_opts *o)
{
	struct imgcache *c;
	struct stat st;

	if (o == NULL || o->dir == NULL || o->dir[0] != '/' ||
	    strlen(o->dir) > IMGCACHE_PATH_MAX - UUID_LEN - 16 ||
	    o->source.fetch == NULL) {
		err_set(TS_EINVALID, "imgcache: an absolute directory and a "
		    "source are required");
		return NULL;
	}
	if (sodium_init() < 0) {
		err_set(TS_EINTERNAL, "imgcache: libsodium failed to start");
		return NULL;
	}
	if (mkdir(o->dir, 0755) == -1 && errno != EEXIST) {
		err_set_errno(TS_EIO, "imgcache: mkdir %s", o->dir);
		return NULL;
	}
	if (lstat(o->dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		err_set(TS_EINVALID, "imgcache: %s is not a directory", o->dir);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->dir = strdup(o->dir)) == NULL) {
		free(c);
		err_set(TS_ENOMEM, "imgcache: out of memory");
		return NULL;
	}
	c->src = o->source;
	c->max_image = o->max_image_size ? o->max_image_size :
	    IMGCACHE_MAX_IMAGE_DEFAULT;
	c->max_virtual = o->max_virtual_size ? o->max_virtual_size :
	    IMGCACHE_MAX_VIRTUAL_DEFAULT;
	c->grace = o->grace_sec ? o->grace_sec : IMGCACHE_GRACE_DEFAULT;
	c->now = o->now ? o->now : mono_sec;
	c->now_arg = o->now_arg;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (scan(c) == -1) {
		imgcache_free(&c);
		return NULL;
	}
	return c;
}

void
imgcache_free(struct imgcache **cp)
{
	struct imgcache *c = *cp;

	if (c == NULL)
		return;
	while (c->entries) {
		struct entry *e = c->entries;

		c->entries = e->next;
		free_entry(e);
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c);
	*cp = NULL;
}

/* Checks the file already at the image's path. 0 good, -1 with err. */
static int
verify_file(struct imgcache *c, const struct imgcache_image *img,
    const char *sha, struct imgfmt_result *ins, struct imgcache_base *base)
{
	struct checker k;
	struct stat st;
	char what[64];
	unsigned char *buf = NULL;
	int fd, r = -1;

	snprintf(what, sizeof(what), "cached image %s", img->id);
	if (path_of(c, img->id, NULL, base->path, sizeof(base->path)) == -1)
		return -1;
	if ((fd = open(base->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		err_set_errno(errno == ENOENT ? TS_ENOT_FOUND : TS_EIO,
		    "imgcache: open %s", base->path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		err_set(TS_EIO, "imgcache: %s is not a regular file", base->path);
		return -1;
	}
	if (checker_init(&k, c->max_image, -1, what) == -1) {
		close(fd);
		return -1;
	}
	if ((buf = malloc(READ_CHUNK)) == NULL) {
		err_set(TS_ENOMEM, "imgcache: out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set_errno(TS_EIO, "imgcache: read %s", base->path);
			goto out;
		}
		if (n == 0)
			break;
		if (checker_sink(buf, (size_t)n, &k) == -1)
			goto out;
	}
	r = checker_finish(&k, img, sha, c->max_virtual, ins, base);
out:
	free(buf);
	imgfmt_free(&k.fmt);
	close(fd);
	return r;
}

/* Downloads the image into place. 0 good, -1 with err (nothing left). */
static int
download(struct imgcache *c, const struct imgcache_image *img,
    const char *sha, struct imgfmt_result *ins, struct imgcache_base *base)
{
	char part[IMGCACHE_PATH_MAX], what[64];
	struct checker k;
	int fd, dfd, r = -1;
	uint64_t max = c->max_image;

	snprintf(what, sizeof(what), "image %s", img->id);
	if (path_of(c, img->id, NULL, base->path, sizeof(base->path)) == -1 ||
	    path_of(c, img->id, PART_SUFFIX, part, sizeof(part)) == -1)
		return -1;
	if (img->size != 0 && img->size < max)
		max = img->size;
	/* A leftover of a crashed download of this image; we own the name
	 * while the entry is BUSY. */
	if (unlink(part) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "imgcache: unlink %s", part);
		return -1;
	}
	fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		err_set_errno(TS_EIO, "imgcache: create %s", part);
		return -1;
	}
	if (checker_init(&k, max, fd, what) == -1)
		goto out;
	log_info("imgcache: downloading image %s", img->id);
	if (c->src.fetch(c->src.arg, img->id, img->token, checker_sink,
	    &k) == -1)
		goto out;
	if (checker_finish(&k, img, sha, c->max_virtual, ins, base) == -1)
		goto out;
	if (fsync(fd) == -1 || fchmod(fd, 0444) == -1) {
		err_set_errno(TS_EIO, "imgcache: sync %s", part);
		goto out;
	}
	if (rename(part, base->path) == -1) {
		err_set_errno(TS_EIO, "imgcache: rename %s", part);
		goto out;
	}
	/* The rename itself must survive a crash. */
	if ((dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		if (fsync(dfd) == -1)
			log_warn("imgcache: fsync %s", c->dir);
		close(dfd);
	}
	log_info("imgcache: image %s cached (%s, %" PRIu64 " bytes, virtual %"
	    PRIu64 ")", img->id, base->format, base->size, base->virtual_size);
	r = 0;
out:
	imgfmt_free(&k.fmt);
	close(fd);
	if (r == -1 && unlink(part) == -1 && errno != ENOENT)
		log_warn("imgcache: removing %s", part);
	return r;
}

static int
check_image(const struct imgcache_image *img, char sha[])
{
	if (img == NULL || !uuid_valid(img->id)) {
		err_set(TS_EINVALID, "imgcache: image id is not a canonical UUID");
		return -1;
	}
	if (norm_sha512(img->sha512, sha) == -1) {
		err_set(TS_EINVALID, "imgcache: image %s: the SHA-512 must be "
		    "128 hex digits", img->id);
		return -1;
	}
	if (img->disk_format == NULL || img->disk_format[0] == '\0') {
		err_set(TS_EINVALID, "imgcache: image %s: no disk_format",
		    img->id);
		return -1;
	}
	return 0;
}

/* The READY branch of a get: the cached file serves this request. */
static int
serve(struct imgcache *c, struct entry *e, const struct imgcache_image *img,
    const char *owner, struct imgcache_base *out)
{
	if (img->size != 0 && img->size != e->base.size) {
		err_set(TS_ECONFLICT, "imgcache: image %s: cached %" PRIu64
		    " bytes, the request says %" PRIu64, img->id, e->base.size,
		    img->size);
		return -1;
	}
	if (imgfmt_check_declared(&e->ins, img->disk_format) == -1) {
		err_prefix("imgcache: image %s: ", img->id);
		return -1;
	}
	if (owner_add(e, owner) == -1)
		return -1;
	*out = e->base;
	return 0;
}

int
imgcache_get(struct imgcache *c, const struct imgcache_image *img,
    const char *owner, struct imgcache_base *out)
{
	char sha[IMGCACHE_SHA512_HEX + 1];
	struct entry *e;
	int r;

	memset(out, 0, sizeof(*out));
	if (check_image(img, sha) == -1)
		return -1;
	if (!uuid_valid(owner)) {
		err_set(TS_EINVALID, "imgcache: owner is not a canonical UUID");
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, img->id)) == NULL &&
	    (e = add_entry(c, img->id, E_ABSENT)) == NULL) {
		pthread_mutex_unlock(&c->lock);
		return -1;
	}
	for (;;) {
		struct imgfmt_result ins;
		struct imgcache_base base;
		enum estate prev;
		uint64_t mine;

		if (e->state == E_READY) {
			if (strcmp(e->sha512, sha) == 0) {
				r = serve(c, e, img, owner, out);
				pthread_mutex_unlock(&c->lock);
				return r;
			}
			if (e->nowners > 0) {
				err_set(TS_ECONFLICT, "imgcache: image %s: cached "
				    "with another SHA-512, and in use", img->id);
				pthread_mutex_unlock(&c->lock);
				return -1;
			}
			/* Unused and disputed: check it again against what
			 * this request says. */
			e->state = E_UNVERIFIED;
		}
		if (e->state == E_BUSY) {
			mine = e->done;
			while (e->state == E_BUSY && e->done == mine)
				pthread_cond_wait(&c->cond, &c->lock);
			if (e->state != E_READY && e->done != mine) {
				/* The attempt we waited for failed. */
				err_copy(&e->last_err);
				pthread_mutex_unlock(&c->lock);
				return -1;
			}
			continue;
		}

		/* ABSENT or UNVERIFIED: this thread does the work. */
		prev = e->state;
		e->state = E_BUSY;
		pthread_mutex_unlock(&c->lock);

		memset(&base, 0, sizeof(base));
		r = -1;
		if (prev == E_UNVERIFIED) {
			r = verify_file(c, img, sha, &ins, &base);
			if (r == -1)
				log_err("imgcache: cached image failed "
				    "verification");
		}
		pthread_mutex_lock(&c->lock);
		if (r == -1 && prev == E_UNVERIFIED && e->nowners > 0) {
			/* Instances' overlays use this file: never replace
			 * it under them. */
			err_set(TS_ECONFLICT, "imgcache: cached image %s fails "
			    "verification and is in use", img->id);
		} else if (r == -1) {
			pthread_mutex_unlock(&c->lock);
			if (prev == E_UNVERIFIED && unlink(base.path) == -1 &&
			    errno != ENOENT)
				log_warn("imgcache: removing %s", base.path);
			r = download(c, img, sha, &ins, &base);
			pthread_mutex_lock(&c->lock);
			prev = E_ABSENT;	/* whatever was there is gone */
		}
		if (r == 0) {
			e->state = E_READY;
			memcpy(e->sha512, sha, sizeof(e->sha512));
			e->base = base;
			e->ins = ins;
		} else {
			e->state = prev;
			e->last_err = *err_last();
		}
		e->done++;
		pthread_cond_broadcast(&c->cond);
		if (r == -1) {
			pthread_mutex_unlock(&c->lock);
			return -1;
		}
	}
}

int
imgcache_ref_add(struct imgcache *c, const char *image_id, const char *owner)
{
	char path[IMGCACHE_PATH_MAX];
	struct entry *e;
	struct stat st;
	int r = -1;

	if (!uuid_valid(image_id) || !uuid_valid(owner)) {
		err_set(TS_EINVALID, "imgcache: image and owner must be UUIDs");
		return -1;
	}
	if (path_of(c, image_id, NULL, path, sizeof(path)) == -1)
		return -1;
	pthread_mutex_lock(&c->lock);
	e = find(c, image_id);
	if (e == NULL || e->state == E_ABSENT) {
		if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
			err_set(TS_ENOT_FOUND, "imgcache: image %s is not "
			    "cached", image_id);
			goto out;
		}
		if (e == NULL && (e = add_entry(c, image_id,
		    E_UNVERIFIED)) == NULL)
			goto out;
		e->state = E_UNVERIFIED;
	}
	r = owner_add(e, owner);
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

int
imgcache_release(struct imgcache *c, const char *image_id, const char *owner)
{
	struct entry *e;

	if (image_id == NULL || owner == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, image_id)) != NULL && owner_del(e, owner) &&
	    e->nowners == 0)
		e->idle_since = c->now(c->now_arg);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void
imgcache_release_owner(struct imgcache *c, const char *owner)
{
	uint64_t now;

	if (owner == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	now = c->now(c->now_arg);
	for (struct entry *e = c->entries; e; e = e->next)
		if (owner_del(e, owner) && e->nowners == 0)
			e->idle_since = now;
	pthread_mutex_unlock(&c->lock);
}

int
imgcache_prune(struct imgcache *c)
{
	struct entry **pp, *e;
	int removed = 0, r = 0;
	uint64_t now;
	DIR *d;
	struct dirent *de;

	pthread_mutex_lock(&c->lock);
	now = c->now(c->now_arg);
	for (pp = &c->entries; (e = *pp) != NULL; ) {
		char path[IMGCACHE_PATH_MAX];

		if (e->state == E_BUSY || e->nowners > 0 ||
		    (e->state != E_ABSENT && now - e->idle_since < c->grace)) {
			pp = &e->next;
			continue;
		}
		if (e->state != E_ABSENT) {
			if (path_of(c, e->id, NULL, path, sizeof(path)) == 0 &&
			    unlink(path) == 0) {
				removed++;
				log_info("imgcache: removed unused image %s",
				    e->id);
			} else if (errno != ENOENT) {
				if (r == 0)
					err_set_errno(TS_EIO, "imgcache: unlink "
					    "%s", path);
				r = -1;
				pp = &e->next;
				continue;
			}
		}
		*pp = e->next;
		free_entry(e);
	}
	/* Partial downloads nobody is writing (a crash during one). */
	if ((d = opendir(c->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char id[UUID_LEN + 1];

			if (!is_part_name(de->d_name, id) ||
			    ((e = find(c, id)) != NULL && e->state == E_BUSY))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				removed++;
		}
		closedir(d);
	}
	pthread_mutex_unlock(&c->lock);
	return r == -1 ? -1 : removed;
}

size_t
imgcache_refs(struct imgcache *c, const char *image_id)
{
	struct entry *e;
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	if (image_id != NULL && (e = find(c, image_id)) != NULL)
		n = e->nowners;
	pthread_mutex_unlock(&c->lock);
	return n;
}
