/*
 * fuzz_http_req: raw request bytes on the controller's listeners
 * (controller/http/http.c under libmicrohttpd: request target and path
 * parameter decoding, query parsing, header checks such as Content-Type,
 * Content-Length and Host, body accumulation and limits, JSON parsing,
 * routing, the authenticate and authorize hooks, then the handlers),
 * through an in-process controller (apifuzz.h).
 *
 * Byte 0 picks the listener (identity, image, compute, network); the rest
 * is the request ("@A@" and "@M@" in it stand for the admin's and the
 * member's token), sent on a fresh connection with its framing made right
 * (request_build()). The answers are read until the server closes or stays
 * silent for IDLE_MS after answering (when the input's head ended early,
 * the added headers are the next request's). A 5xx in any of them other
 * than 501 and 503 (see apifuzz.h) and 505 (libmicrohttpd's own for
 * "HTTP/2.1") is a finding, as is a crash or sanitizer report.
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
#define TIMEOUT_S	8	/* under libFuzzer's -timeout=10 */
#define IDLE_MS		100

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
 * the rest (until its connection timeout), which no input may hold up.
 */
static void
request_build(struct ctltest *t, struct buf *b, const uint8_t *d, size_t n)
{
	const uint8_t *end = d + n, *hend, *l;
	char tail[96];

	hend = memmem(d, n, "\r\n\r\n", 4);
	for (l = d; l < (hend != NULL ? hend : end); ) {
		const uint8_t *stop = hend != NULL ? hend : end;
		const uint8_t *e = memmem(l, (size_t)(stop - l), "\r\n", 2);
		size_t len = e != NULL ? (size_t)(e - l) : (size_t)(stop - l);

		if (!framing_header(l, len)) {
			append_subst(t, b, l, len);
			if (buf_append(b, "\r\n", 2) == -1)
				abort();
		}
		l += len + (e != NULL ? 2 : 0);
	}
	if (hend == NULL) {
		hend = end;
	} else {
		hend += 4;
	}
	snprintf(tail, sizeof(tail), "Connection: close\r\nContent-Length: "
	    "%zu\r\n\r\n", (size_t)(end - hend));
	if (buf_append(b, tail, strlen(tail)) == -1)
		abort();
	append_subst(t, b, hend, (size_t)(end - hend));
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ctltest_svc svcs[] = { CT_IDENTITY, CT_IMAGE,
	    CT_COMPUTE, CT_NETWORK };
	struct ctltest *t = apifuzz_ctl();
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { TIMEOUT_S, 0 };	/* send */
	struct buf req = { 0 };
	char *in = NULL;
	const char *p, *end;
	size_t len, off = 0, inlen = 0, incap = 0;
	int fd, status;
	ssize_t n;

	if (size < 1 || size > INPUT_MAX)
		return 0;
	sa.sin_port = htons(t->port[svcs[data[0] % 4]]);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	request_build(t, &req, data + 1, size - 1);
	len = req.len;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		perror("fuzz_http_req: connect");
		abort();
	}
	/* The server may answer and close before it read everything (a 413
	 * with Content-Length): a failed send is not a finding. */
	while (off < len && (n = send(fd, (char *)req.data + off, len - off,
	    MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
	shutdown(fd, SHUT_WR);
	/* A keep-alive connection stays open after the last answer: once
	 * bytes came, IDLE_MS of silence ends the exchange. Nothing at all in
	 * TIMEOUT_S is a hang (a finding). */
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, inlen > 0 ? IDLE_MS : TIMEOUT_S * 1000);

		if (pr == -1 && errno == EINTR)
			continue;
		if (pr == 0 && inlen == 0) {
			fprintf(stderr, "fuzz_http_req: no answer in %d s\n",
			    TIMEOUT_S);
			abort();
		}
		if (pr <= 0)
			break;
		if (inlen + 4096 > incap) {
			incap = incap * 2 + 8192;
			if ((in = realloc(in, incap)) == NULL)
				abort();
		}
		n = recv(fd, in + inlen, incap - inlen - 1, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		inlen += (size_t)n;
	}
	close(fd);
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
