/* Unit tests for controller/http/websocket.c: the accept key (RFC 6455's
 * example), the frame decoder's acceptances and refusals, the server
 * frame header, and the bridge between a websocket and a stream over
 * socket pairs (masked client frames in, fragments, ping, close, binary
 * frames out). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "websocket.h"

static void
test_accept(void **state)
{
	char out[WEBSOCKET_ACCEPT_LEN + 1];

	(void)state;
	assert_int_equal(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(websocket_accept(NULL, out), -1);
	assert_int_equal(websocket_accept("short", out), -1);
	/* 24 characters, but not 16 bytes of base64. */
	assert_int_equal(websocket_accept("dGhlIHNhbXBsZSBub25jZQ!!", out), -1);
	assert_int_equal(websocket_accept("dGhlIHNhbXBsZSBub25jZQZZ", out), -1);
}

static void
test_parse(void **state)
{
	struct websocket_frame f;
	uint8_t b[16];

	(void)state;
	/* Masked binary, 5 bytes. */
	memcpy(b, "\x82\x85\x01\x02\x03\x04", 6);
	assert_int_equal(websocket_frame_parse(b, 1, true, 100, &f), 0);
	assert_int_equal(websocket_frame_parse(b, 5, true, 100, &f), 0);
	assert_int_equal(websocket_frame_parse(b, 6, true, 100, &f), 1);
	assert_true(f.fin);
	assert_int_equal(f.op, WEBSOCKET_BINARY);
	assert_int_equal(f.len, 5);
	assert_int_equal(f.hdr_len, 6);
	assert_memory_equal(f.mask, "\x01\x02\x03\x04", 4);
	/* Unmasked from a client. */
	memcpy(b, "\x82\x05", 2);
	assert_int_equal(websocket_frame_parse(b, 2, true, 100, &f), -1);
	assert_int_equal(websocket_frame_parse(b, 2, false, 100, &f), 1);
	/* RSV bits, unknown opcodes. */
	memcpy(b, "\xc2\x80\0\0\0\0", 6);
	assert_int_equal(websocket_frame_parse(b, 6, true, 100, &f), -1);
	memcpy(b, "\x83\x80\0\0\0\0", 6);
	assert_int_equal(websocket_frame_parse(b, 6, true, 100, &f), -1);
	memcpy(b, "\x8b\x80\0\0\0\0", 6);
	assert_int_equal(websocket_frame_parse(b, 6, true, 100, &f), -1);
	/* Control frames: fragmented, or longer than 125. */
	memcpy(b, "\x09\x80\0\0\0\0", 6);
	assert_int_equal(websocket_frame_parse(b, 6, true, 100, &f), -1);
	memcpy(b, "\x89\xfe\x00\x7e\0\0\0\0", 8);
	assert_int_equal(websocket_frame_parse(b, 8, true, 1000, &f), -1);
	/* 16-bit length: 300 bytes; not minimal (100); above the limit. */
	memcpy(b, "\x82\xfe\x01\x2c\1\2\3\4", 8);
	assert_int_equal(websocket_frame_parse(b, 7, true, 1000, &f), 0);
	assert_int_equal(websocket_frame_parse(b, 8, true, 1000, &f), 1);
	assert_int_equal(f.len, 300);
	assert_int_equal(f.hdr_len, 8);
	assert_int_equal(websocket_frame_parse(b, 8, true, 299, &f), -1);
	memcpy(b, "\x82\xfe\x00\x64\1\2\3\4", 8);
	assert_int_equal(websocket_frame_parse(b, 8, true, 1000, &f), -1);
	/* 64-bit length: the top bit, a length that fits 16 bits, huge. */
	memcpy(b, "\x82\xff\x80\0\0\0\0\0\0\0\1\2\3\4", 14);
	assert_int_equal(websocket_frame_parse(b, 14, true, UINT64_MAX, &f),
	    -1);
	memcpy(b, "\x82\xff\0\0\0\0\0\0\xff\xff\1\2\3\4", 14);
	assert_int_equal(websocket_frame_parse(b, 14, true, UINT64_MAX, &f),
	    -1);
	memcpy(b, "\x82\xff\0\0\0\1\0\0\0\0\1\2\3\4", 14);
	assert_int_equal(websocket_frame_parse(b, 14, true, 65536, &f), -1);
	assert_int_equal(websocket_frame_parse(b, 14, true, UINT64_MAX, &f), 1);
	assert_int_equal(f.len, (uint64_t)1 << 32);
	assert_int_equal(f.hdr_len, 14);
}

static void
test_header_unmask(void **state)
{
	uint8_t h[10], p[6] = "abcdef";
	const uint8_t m[4] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(websocket_frame_header(h, WEBSOCKET_BINARY, 5), 2);
	assert_memory_equal(h, "\x82\x05", 2);
	assert_int_equal(websocket_frame_header(h, WEBSOCKET_BINARY, 126), 4);
	assert_memory_equal(h, "\x82\x7e\x00\x7e", 4);
	assert_int_equal(websocket_frame_header(h, WEBSOCKET_PONG, 70000), 10);
	assert_memory_equal(h, "\x8a\x7f\0\0\0\0\0\x01\x11\x70", 10);
	/* Unmasking in two pieces equals one. */
	websocket_unmask(p, 3, m, 0);
	websocket_unmask(p + 3, 3, m, 3);
	websocket_unmask(p, 6, m, 0);
	assert_memory_equal(p, "abcdef", 6);
}

struct run {
	int		 ws, tcp;
	const char	*extra;
	size_t		 extra_len;
	uint64_t	 up, down;
};

static void *
run_bridge(void *a)
{
	struct run *r = a;

	websocket_bridge(r->ws, r->extra, r->extra_len, r->tcp, &r->up,
	    &r->down);
	return NULL;
}

/* A masked client frame of payload p[0..n). */
static size_t
client_frame(uint8_t *out, unsigned op, bool fin, const char *p, size_t n)
{
	const uint8_t m[4] = { 0x37, 0xfa, 0x21, 0x3d };

	out[0] = (uint8_t)((fin ? 0x80 : 0) | op);
	out[1] = (uint8_t)(0x80 | n);
	memcpy(out + 2, m, 4);
	memcpy(out + 6, p, n);
	websocket_unmask(out + 6, n, m, 0);
	return 6 + n;
}

static void
read_exact(int fd, uint8_t *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
}

static void
test_bridge(void **state)
{
	int ws[2], tcp[2];
	struct run r = { 0 };
	pthread_t t;
	uint8_t b[64];
	size_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ws), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, tcp), 0);
	/* The first client frame came with the handshake's bytes. */
	n = client_frame(b, WEBSOCKET_BINARY, true, "RFB 0", 5);
	r.ws = ws[1];
	r.tcp = tcp[1];
	r.extra = (const char *)b;
	r.extra_len = n;
	assert_int_equal(pthread_create(&t, NULL, run_bridge, &r), 0);
	read_exact(tcp[0], b + 32, 5);
	assert_memory_equal(b + 32, "RFB 0", 5);
	/* A fragmented message, sent a byte at a time: one stream. */
	n = client_frame(b, WEBSOCKET_BINARY, false, "03.", 3);
	n += client_frame(b + n, WEBSOCKET_CONT, true, "008\n", 4);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(write(ws[0], b + i, 1), 1);
	read_exact(tcp[0], b + 32, 7);
	assert_memory_equal(b + 32, "03.008\n", 7);
	/* The stream's bytes come back as one binary frame. */
	assert_int_equal(write(tcp[0], "\x01\x02", 2), 2);
	read_exact(ws[0], b, 4);
	assert_memory_equal(b, "\x82\x02\x01\x02", 4);
	/* A ping is answered with its payload. */
	n = client_frame(b, WEBSOCKET_PING, true, "hi", 2);
	assert_int_equal(write(ws[0], b, n), (ssize_t)n);
	read_exact(ws[0], b, 4);
	assert_memory_equal(b, "\x8a\x02hi", 4);
	/* A close is echoed and ends the bridge, which closes the stream. */
	n = client_frame(b, WEBSOCKET_CLOSE, true, "\x03\xe8", 2);
	assert_int_equal(write(ws[0], b, n), (ssize_t)n);
	read_exact(ws[0], b, 4);
	assert_memory_equal(b, "\x88\x02\x03\xe8", 4);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(read(tcp[0], b, 1), 0);
	assert_int_equal(r.up, 12);
	assert_int_equal(r.down, 2);
	close(ws[0]);
	close(ws[1]);
	close(tcp[0]);
}

static void
test_bridge_refusals(void **state)
{
	int ws[2], tcp[2];
	struct run r = { 0 };
	pthread_t t;
	uint8_t b[16];

	(void)state;
	/* An unmasked frame: closed with 1002, nothing reaches the stream. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ws), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, tcp), 0);
	r.ws = ws[1];
	r.tcp = tcp[1];
	assert_int_equal(pthread_create(&t, NULL, run_bridge, &r), 0);
	assert_int_equal(write(ws[0], "\x82\x02xy", 4), 4);
	read_exact(ws[0], b, 4);
	assert_memory_equal(b, "\x88\x02\x03\xea", 4);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(read(tcp[0], b, 1), 0);
	assert_int_equal(r.up, 0);
	close(ws[0]);
	close(ws[1]);
	close(tcp[0]);
	/* The stream ends: a close 1000 goes to the client. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ws), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, tcp), 0);
	r.ws = ws[1];
	r.tcp = tcp[1];
	assert_int_equal(pthread_create(&t, NULL, run_bridge, &r), 0);
	close(tcp[0]);
	read_exact(ws[0], b, 4);
	assert_memory_equal(b, "\x88\x02\x03\xe8", 4);
	assert_int_equal(pthread_join(t, NULL), 0);
	close(ws[0]);
	close(ws[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_header_unmask),
		cmocka_unit_test(test_bridge),
		cmocka_unit_test(test_bridge_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
