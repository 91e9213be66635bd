/*
 * libFuzzer target for controller/http/websocket.c.
 *
 * Properties checked on arbitrary bytes:
 *  - websocket_frame_parse() walks them frame by frame (client rules:
 *    masked, at most WEBSOCKET_MAX_PAYLOAD) without reading past the
 *    buffer; an accepted header's length is within the limit and its
 *    header length is one of 2, 4, 10 (+4 with the mask), and a prefix
 *    shorter than the header asks for more, never decides;
 *  - websocket_bridge() fed the bytes as a client's stream (extra bytes,
 *    then EOF) never crashes, leaks or hangs, and what it writes to the
 *    stream is at most what the frames carried;
 *  - websocket_accept() of the bytes as a key never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "http/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
walk(const uint8_t *d, size_t n)
{
	size_t off = 0;

	while (off < n) {
		struct websocket_frame f;
		int rc = websocket_frame_parse(d + off, n - off, true,
		    WEBSOCKET_MAX_PAYLOAD, &f);

		if (rc != 1)
			break;
		if (f.len > WEBSOCKET_MAX_PAYLOAD || (f.hdr_len != 6 &&
		    f.hdr_len != 8 && f.hdr_len != 14))
			abort();
		/* A strict prefix of the header cannot decide. */
		for (size_t k = 0; k < f.hdr_len; k++) {
			struct websocket_frame g;

			if (websocket_frame_parse(d + off, k, true,
			    WEBSOCKET_MAX_PAYLOAD, &g) == 1)
				abort();
		}
		if (n - off - f.hdr_len < f.len)
			break;
		off += f.hdr_len + (size_t)f.len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char key[64], acc[WEBSOCKET_ACCEPT_LEN + 1];
	int ws[2], tcp[2];
	uint64_t up = 0, down = 0;

	walk(d, n);
	if (n < sizeof(key)) {
		memcpy(key, d, n);
		key[n] = '\0';
		(void)websocket_accept(key, acc);
	}
	/* The bridge: the bytes arrive with the handshake, then the client
	 * hangs up; the stream side is never read, so it gets at most a
	 * socket buffer (bounded by the 64 KiB frame limit per frame). */
	if (n > WEBSOCKET_MAX_PAYLOAD + 14 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ws) == -1)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, tcp) == -1) {
		close(ws[0]);
		close(ws[1]);
		return 0;
	}
	shutdown(ws[0], SHUT_WR);	/* EOF after the extra bytes */
	websocket_bridge(ws[1], (const char *)d, n, tcp[1], &up, &down);
	if (up > n || down != 0)
		abort();
	close(ws[0]);
	close(ws[1]);
	close(tcp[0]);
	return 0;
}
