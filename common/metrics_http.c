/* metrics_http: GET /metrics over a one-thread HTTP server; see
 * metrics_http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"

#define HEAD_MAX	8192
#define READ_MS		2000
#define WRITE_S		5

struct metrics_http {
	struct metrics	*reg;
	int		 fd;
	int		 stop[2];	/* pipe: write end wakes the thread */
	uint16_t	 port;
	char		*token;
	pthread_t	 thread;
	int		 started;
};

int
metrics_http_is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (addr == NULL)
		return 0;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* Constant time in the length of the expected token. */
static int
token_ok(const char *want, const char *got, size_t glen)
{
	size_t wlen = strlen(want);
	unsigned diff = (unsigned)(wlen ^ glen);

	for (size_t i = 0; i < wlen; i++)
		diff |= (unsigned char)want[i] ^
		    (unsigned char)(i < glen ? got[i] : 0);
	return diff == 0;
}

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* the client went away or stalled */
		c += w;
		n -= (size_t)w;
	}
}

static void
reply(int fd, int status, const char *reason, const char *ctype,
    const char *extra, const void *body, size_t len, int head_only)
{
	char h[512];
	int n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", status, reason, ctype, len,
	    extra ? extra : "");

	if (n > 0 && (size_t)n < sizeof(h))
		send_all(fd, h, (size_t)n);
	if (!head_only && len)
		send_all(fd, body, len);
}

static void
reply_text(int fd, int status, const char *reason, const char *extra)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	reply(fd, status, reason, "text/plain; charset=utf-8", extra, body,
	    (size_t)n, 0);
}

/* Reads the request head within READ_MS; its length, or -1. */
static ssize_t
read_head(int fd, char *buf, size_t cap)
{
	int64_t deadline = clock_mono_ms() + READ_MS;
	size_t len = 0;

	while (len < cap - 1) {
		int64_t left = deadline - clock_mono_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)len;
	}
	return -1;
}

/* The value of header name in head (not NUL-terminated at its end: the
 * length goes to *len), or NULL. */
static const char *
header(const char *head, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *p = strchr(head, '\n');

	while (p && *++p && *p != '\r' && *p != '\n') {
		const char *e = strchr(p, '\n');

		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			e = e ? e : v + strlen(v);
			while (e > v && (e[-1] == '\r' || e[-1] == '\n' ||
			    e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*len = (size_t)(e - v);
			return v;
		}
		p = e;
	}
	return NULL;
}

int
metrics_http_route(const char *head, const char *token, int *head_only)
{
	char method[16], target[1024];
	size_t ml, tl;
	const char *p;

	*head_only = 0;
	/* METHOD SP target SP HTTP/1.x CRLF (or LF), nothing looser */
	ml = strspn(head, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	if (ml == 0 || ml >= sizeof(method) || head[ml] != ' ')
		return 400;
	p = head + ml + 1;
	for (tl = 0; p[tl] > ' ' && p[tl] != 0x7f; tl++)
		;
	if (tl == 0 || tl >= sizeof(target) || p[tl] != ' ' ||
	    strncmp(p + tl + 1, "HTTP/1.", 7) != 0 ||
	    (p[tl + 8] != '0' && p[tl + 8] != '1') ||
	    (strncmp(p + tl + 9, "\r\n", 2) != 0 && p[tl + 9] != '\n'))
		return 400;
	memcpy(method, head, ml);
	method[ml] = '\0';
	memcpy(target, p, tl);
	target[tl] = '\0';
	*head_only = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !*head_only)
		return 405;
	if (token && *token) {
		size_t len = 0;
		const char *v = header(head, "Authorization", &len);

		if (v == NULL || len < 7 || strncasecmp(v, "Bearer ", 7) != 0 ||
		    !token_ok(token, v + 7, len - 7))
			return 401;
	}
	target[strcspn(target, "?")] = '\0';
	return strcmp(target, "/metrics") == 0 ? 200 : 404;
}

static void
serve(struct metrics_http *h, int fd)
{
	char head[HEAD_MAX];
	struct timeval tv = { .tv_sec = WRITE_S };
	struct buf out = { 0 };
	int head_only;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_head(fd, head, sizeof(head)) < 0)
		return;
	switch (metrics_http_route(head, h->token, &head_only)) {
	case 200:
		break;
	case 400:
		reply_text(fd, 400, "Bad Request", NULL);
		return;
	case 401:
		reply_text(fd, 401, "Unauthorized",
		    "WWW-Authenticate: Bearer\r\n");
		return;
	case 405:
		reply_text(fd, 405, "Method Not Allowed",
		    "Allow: GET, HEAD\r\n");
		return;
	default:
		reply_text(fd, 404, "Not Found", NULL);
		return;
	}
	if (metrics_render(h->reg, &out) == -1) {
		log_warnx("metrics: %s", err_msg());
		buf_free(&out);
		reply_text(fd, 500, "Internal Server Error", NULL);
		return;
	}
	reply(fd, 200, "OK", METRICS_CONTENT_TYPE, NULL, out.data, out.len,
	    head_only);
	buf_free(&out);
}

static void *
run(void *arg)
{
	struct metrics_http *h = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = h->fd, .events = POLLIN },
			{ .fd = h->stop[0], .events = POLLIN },
		};
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("metrics: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;	/* EAGAIN, ECONNABORTED, EMFILE: next */
		serve(h, c);
		close(c);
	}
}

static int
listen_on(struct metrics_http *h, const char *bind_addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, bind_addr, &((struct sockaddr_in *)&ss)->
	    sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, bind_addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		err_set(TS_EIO, "metrics: bind address %s is not numeric",
		    bind_addr);
		return -1;
	}
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (h->fd < 0) {
		err_set_errno(TS_EIO, "metrics: socket");
		return -1;
	}
	setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(h->fd, 16) == -1) {
		err_set_errno(TS_EIO, "metrics: listen on %s port %u",
		    bind_addr, (unsigned)port);
		return -1;
	}
	sl = sizeof(ss);
	if (getsockname(h->fd, (struct sockaddr *)&ss, &sl) == -1) {
		err_set_errno(TS_EIO, "metrics: getsockname");
		return -1;
	}
	h->port = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

struct metrics_http *
metrics_http_start(struct metrics *reg, const char *bind_addr, uint16_t port,
    const char *token)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	int rc;

	if (h == NULL) {
		err_set(TS_ENOMEM, "metrics: out of memory");
		return NULL;
	}
	h->reg = reg;
	h->fd = h->stop[0] = h->stop[1] = -1;
	if (token && *token && (h->token = strdup(token)) == NULL) {
		err_set(TS_ENOMEM, "metrics: out of memory");
		goto fail;
	}
	if (listen_on(h, bind_addr, port) == -1)
		goto fail;
	if (pipe2(h->stop, O_CLOEXEC) == -1) {
		err_set_errno(TS_EIO, "metrics: pipe");
		goto fail;
	}
	if ((rc = pthread_create(&h->thread, NULL, run, h)) != 0) {
		errno = rc;
		err_set_errno(TS_EIO, "metrics: thread");
		goto fail;
	}
	h->started = 1;
	return h;
fail:
	metrics_http_free(&h);
	return NULL;
}

uint16_t
metrics_http_port(const struct metrics_http *h)
{
	return h->port;
}

void
metrics_http_free(struct metrics_http **hp)
{
	struct metrics_http *h = hp ? *hp : NULL;

	if (h == NULL)
		return;
	if (h->started) {
		ssize_t w;

		do
			w = write(h->stop[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(h->thread, NULL);
	}
	if (h->fd >= 0)
		close(h->fd);
	if (h->stop[0] >= 0)
		close(h->stop[0]);
	if (h->stop[1] >= 0)
		close(h->stop[1]);
	if (h->token) {
		explicit_bzero(h->token, strlen(h->token));
		free(h->token);
	}
	free(h);
	*hp = NULL;
}

int
metrics_http_configure(struct metrics *reg, const struct config *cfg,
    struct metrics_http **out)
{
	int64_t port = config_get_int(cfg, "metrics", "port");
	const char *bind_addr = config_get_str(cfg, "metrics", "bind_host");
	const char *token = config_get_str(cfg, "metrics", "token");

	*out = NULL;
	if (port == 0)
		return 0;
	if (!metrics_http_is_loopback(bind_addr) && (!token || !*token)) {
		err_set(TS_ECONFIG, "[metrics] bind_host %s is not a loopback "
		    "address: set [metrics] token", bind_addr);
		return -1;
	}
	if ((*out = metrics_http_start(reg, bind_addr, (uint16_t)port,
	    token)) == NULL)
		return -1;
	log_info("metrics: listening on %s port %u%s", bind_addr,
	    (unsigned)metrics_http_port(*out), token && *token ?
	    " (bearer token)" : "");
	return 0;
}
