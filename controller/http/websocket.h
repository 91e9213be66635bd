/*
 * websocket: RFC 6455 for the controller's proxies (the VNC console's
 * /vnc/websockify): the opening handshake's accept key, the frame codec and
 * a bridge that carries a websocket's binary messages to and from a TCP
 * stream.
 *
 * The frame decoder reads untrusted bytes: it never trusts a declared length
 * beyond max_payload, refuses unmasked client frames, reserved bits and
 * opcodes, fragmented or long control frames (tests/fuzz/fuzz_websocket.c).
 */
#ifndef TS_WEBSOCKET_H
#define TS_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBSOCKET_MAX_PAYLOAD	(64 * 1024)	/* one client frame */
#define WEBSOCKET_ACCEPT_LEN	28		/* base64 of a SHA-1 */

enum websocket_op {
	WEBSOCKET_CONT = 0x0,
	WEBSOCKET_TEXT = 0x1,
	WEBSOCKET_BINARY = 0x2,
	WEBSOCKET_CLOSE = 0x8,
	WEBSOCKET_PING = 0x9,
	WEBSOCKET_PONG = 0xa,
};

struct websocket_frame {
	bool		 fin;
	unsigned	 op;		/* enum websocket_op */
	bool		 masked;
	uint8_t		 mask[4];
	uint64_t	 len;		/* payload bytes */
	size_t		 hdr_len;	/* bytes before the payload */
};

/*
 * Parse the frame header at buf[0..n). 1: *f is complete (the payload may
 * not have arrived yet: hdr_len + len bytes make the frame); 0: more bytes
 * needed; -1 with err set (TS_EINVALID): a protocol error (unmasked when
 * require_mask, RSV bits, unknown opcode, a control frame that is
 * fragmented or longer than 125, a length above max_payload or not in the
 * shortest form).
 */
int	websocket_frame_parse(const uint8_t *buf, size_t n, bool require_mask,
	    uint64_t max_payload, struct websocket_frame *f);
/* XOR p[0..n) with the mask, p[0] being payload byte `offset`. */
void	websocket_unmask(uint8_t *p, size_t n, const uint8_t mask[4],
	    uint64_t offset);
/* A server frame's header (FIN set, unmasked) into out; returns its size
 * (2, 4 or 10). */
size_t	websocket_frame_header(uint8_t out[10], unsigned op, uint64_t len);
/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key, which must be the
 * base64 of 16 bytes (-1, TS_EINVALID otherwise). out gets 28 characters
 * and a NUL. */
int	websocket_accept(const char *key, char out[WEBSOCKET_ACCEPT_LEN + 1]);

/*
 * Carry a websocket (fd: the upgraded client connection; extra: bytes the
 * server had read past the handshake) to the TCP stream tcp: each binary
 * message's payload goes to tcp, what tcp says goes back in binary frames;
 * pings are answered, a close is echoed. Returns when either side closes
 * or errs, or when fd is shut down (the server stopping); closes tcp but
 * not fd. Counts the bytes each way in *up and *down (may be NULL).
 */
void	websocket_bridge(int fd, const char *extra, size_t extra_len, int tcp,
	    uint64_t *up, uint64_t *down);

#endif
