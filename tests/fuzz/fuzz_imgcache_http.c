/*
 * fuzz_imgcache_http: the image download's HTTP response reader
 * (imgcache_http_response) on arbitrary bytes.
 *
 * The input is the whole response the "server" sends before closing its
 * side of a socket pair. Whatever it holds, the reader must end (EOF is
 * always reached), never hand the sink more body bytes than the input has,
 * and report success only for a 200 whose body framing is complete: a
 * Content-Length body of exactly that length, a chunked body ending in a
 * zero chunk and an empty line, or a body read to EOF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "image/imgcache.h"

/* A unix socket pair holds this much without a reader. */
#define INPUT_MAX	60000

struct count {
	size_t	bytes;
	size_t	limit;
};

static int
sink(const void *buf, size_t len, void *arg)
{
	struct count *c = arg;

	if (len == 0 || len > c->limit - c->bytes)
		abort();	/* more body than the input could hold */
	c->bytes += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct count c = { 0, size };
	int sv[2], r;

	if (size > INPUT_MAX)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0)
		return 0;
	if (size > 0 && write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	r = imgcache_http_response(sv[0], 1000, "fuzz", sink, &c);
	if (r == 0 && (size < 12 || memcmp(data + 9, "200", 3) != 0))
		abort();	/* success needs an HTTP 200 status line */
	if (r == -1 && err_code() == TS_ETIMEOUT)
		abort();	/* the peer closed: nothing to wait for */
	close(sv[0]);
	close(sv[1]);
	return 0;
}
