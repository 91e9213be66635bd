/*
 * fuzz_http_req: raw request bytes on the controller's listeners
 * (controller/http/http.c under libmicrohttpd: request target and path
 * parameter decoding, query parsing, header checks such as Content-Type,
 * Content-Length and Host, body accumulation and limits, JSON parsing,
 * routing, the authenticate and authorize hooks, then the handlers),
 * through an in-process controller (apifuzz.h).
 *
 * Byte 0 picks the listener (identity, image, compute, network, dashboard:
 * its page and every API mounted under its name); the rest
 * is the request ("@A@" and "@M@" in it stand for the admin's and the
 * member's token), sent on a fresh connection with its framing made right
 * (request_build()). The answers are read until the server closes or stays
 * silent for IDLE_MS after answering (when the input's head ended early,
 * the added headers are the next request's). Findings: a crash or
 * sanitizer report; a 5xx in any answer other than 501 and 503 (see
 * apifuzz.h) and 505 (libmicrohttpd's own for "HTTP/2.1"); a listener
 * that answers neither the input nor a plain request after it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "apifuzz.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX	(64 * 1024)
#define TIMEOUT_S	4	/* twice is under libFuzzer's -timeout=10 */
#define IDLE_MS		100
#define CONNECT_TRIES	100
#define CONNECT_PAUSE_US 50000

/* d with the token placeholders replaced, appended to b. */
static void
append_subst(struct ctltest *t, struct buf *b, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *tok = NULL;

		if (d[i] == '@' && i + 2 < n && d[i + 2] == '@')
			tok = d[i + 1] == 'A' ? t->token[CT_ADMIN] :
			    d[i + 1] == 'M' ? t->token[CT_MEMBER] : NULL;
		if (tok != NULL) {
			if (buf_append(b, tok, strlen(tok)) == -1)
				abort();
			i += 2;
		} else if (buf_append(b, &d[i], 1) == -1) {
			abort();
		}
	}
}

static bool
framing_header(const uint8_t *l, size_t n)
{
	static const char *const names[] = { "content-length:",
	    "transfer-encoding:", "connection:" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n >= strlen(names[i]) &&
		    strncasecmp((const char *)l, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/*
 * The request to send: the input's head without its framing headers, then
 * "Connection: close" and the Content-Length of what follows the input's
 * first blank line. Framing is libmicrohttpd's business; an input whose
 * length does not match its body would only leave the server waiting for
 * the rest (until its connection timeout), which tells nothing.
 */
static void
request_build(struct ctltest *t, struct buf *b, const uint8_t *d, size_t n)
{
	const uint8_t *end = d + n, *l = d, *body = end;
	char tail[96];

	/* Lines end at LF, with or without CR, as libmicrohttpd reads them;
	 * the first empty one ends the head. */
	while (l < end) {
		const uint8_t *e = memchr(l, '\n', (size_t)(end - l));
		size_t len = e != NULL ? (size_t)(e - l) : (size_t)(end - l);

		if (len > 0 && l[len - 1] == '\r')
			len--;
		if (len == 0 && e != NULL) {
			body = e + 1;
			break;
		}
		if (!framing_header(l, len)) {
			append_subst(t, b, l, len);
			if (buf_append(b, "\r\n", 2) == -1)
				abort();
		}
		l = e != NULL ? e + 1 : end;
	}
	snprintf(tail, sizeof(tail), "Connection: close\r\nContent-Length: "
	    "%zu\r\n\r\n", (size_t)(end - body));
	if (buf_append(b, tail, strlen(tail)) == -1)
		abort();
	append_subst(t, b, body, (size_t)(end - body));
}

/* The status of the response at *p, and *p past it when its framing is
 * known (Content-Length, chunked), else at end. 0 when *p holds none. */
static int
next_response(const char **p, const char *end)
{
	const char *s = *p, *hend, *cl, *te;
	char head[8192];
	size_t hl;
	int status;

	*p = end;
	if (end - s < 12 || strncmp(s, "HTTP/1.", 7) != 0 ||
	    sscanf(s + 9, "%3d", &status) != 1)
		return 0;
	hend = memmem(s, (size_t)(end - s), "\r\n\r\n", 4);
	if (hend == NULL)
		return status;
	hl = (size_t)(hend - s);
	if (hl >= sizeof(head))
		return status;
	memcpy(head, s, hl);
	head[hl] = '\0';
	s = hend + 4;
	if ((cl = strcasestr(head, "\r\nContent-Length:")) != NULL) {
		unsigned long n = strtoul(cl + 17, NULL, 10);

		if (n <= (size_t)(end - s))
			*p = s + n;
	} else if ((te = strcasestr(head, "\r\nTransfer-Encoding:")) != NULL &&
	    strcasestr(te, "chunked") != NULL) {
		while (s < end) {
			char *e;
			unsigned long n = strtoul(s, &e, 16);
			const char *data = memmem(e, (size_t)(end - e), "\r\n", 2);

			if (data == NULL || (size_t)(end - data) < n + 4)
				break;
			s = data + 2 + n + 2;
			if (n == 0) {
				*p = s;
				break;
			}
		}
	}
	return status;
}

/* A connection to sa; ephemeral ports run short at a few hundred
 * connections a second (TIME_WAIT): wait for one, a bounded while; and
 * libFuzzer's timer signal may cut a connect() short. */
static int
connect_to(const struct sockaddr_in *sa)
{
	struct timeval tv = { TIMEOUT_S, 0 };	/* send */
	int fd;

	for (int tries = 0; ; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) == -1) {
			perror("fuzz_http_req: socket");
			abort();
		}
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return fd;
		if ((errno != EADDRNOTAVAIL && errno != EAGAIN &&
		    errno != EINTR) ||
		    tries == CONNECT_TRIES) {
			perror("fuzz_http_req: connect");
			abort();
		}
		close(fd);
		usleep(CONNECT_PAUSE_US);
	}
}

/*
 * Send req on a new connection to sa, shut the sending half and read the
 * answers into *in (owned, *inlen bytes) until the server closes or, once
 * bytes came, IDLE_MS of silence (keep-alive). Returns 0, or -1 when
 * nothing came in TIMEOUT_S.
 */
static int
exchange(const struct sockaddr_in *sa, const char *req, size_t len,
    char **in, size_t *inlen)
{
	size_t off = 0, incap = 0;
	ssize_t n;
	int fd = connect_to(sa), rc = 0;

	*in = NULL;
	*inlen = 0;
	/* The server may answer and close before it read everything (a 413
	 * with Content-Length): a failed send is not a finding. */
	while (off < len && (n = send(fd, req + off, len - off,
	    MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, *inlen > 0 ? IDLE_MS : TIMEOUT_S * 1000);

		if (pr == -1 && errno == EINTR)
			continue;
		if (pr == 0 && *inlen == 0)
			rc = -1;
		if (pr <= 0)
			break;
		if (*inlen + 4096 > incap) {
			incap = incap * 2 + 8192;
			if ((*in = realloc(*in, incap)) == NULL)
				abort();
		}
		n = recv(fd, *in + *inlen, incap - *inlen - 1, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*inlen += (size_t)n;
	}
	close(fd);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ctltest_svc svcs[] = { CT_IDENTITY, CT_IMAGE,
	    CT_COMPUTE, CT_NETWORK, CT_DASHBOARD };
	struct ctltest *t = apifuzz_ctl();
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct buf req = { 0 };
	char *in;
	const char *p, *end;
	size_t inlen;
	int status;

	if (size < 1 || size > INPUT_MAX)
		return 0;
	sa.sin_port = htons(t->port[svcs[data[0] % 5]]);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	request_build(t, &req, data + 1, size - 1);
	if (exchange(&sa, (char *)req.data, req.len, &in, &inlen) == -1) {
		/* Silence may be an input the server reads on (a head that
		 * ended early, then chunked): a finding only if the listener
		 * no longer answers another request either. */
		static const char probe[] = "GET / HTTP/1.1\r\nHost: h\r\n"
		    "Connection: close\r\n\r\n";

		free(in);
		if (exchange(&sa, probe, strlen(probe), &in, &inlen) == -1) {
			fprintf(stderr, "fuzz_http_req: the listener hangs\n");
			abort();
		}
	}
	buf_free(&req);
	p = in;
	end = in + inlen;
	while (p < end && (status = next_response(&p, end)) != 0) {
		if (status >= 500 && status != 501 && status != 503 &&
		    status != 505) {
			fprintf(stderr, "fuzz_http_req: answered %d:\n%.*s\n",
			    status, (int)(inlen < 4096 ? inlen : 4096), in);
			abort();
		}
	}
	free(in);
	return 0;
}
