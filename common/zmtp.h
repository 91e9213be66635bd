/*
 * zmtp: the server side of one ZMTP 3.x connection, without I/O.
 *
 * Why this exists: libzmq 4.3 keeps, per connection, two pipes whose
 * 16 KiB chunks (plus a spare each) fill up after a few hundred frames,
 * about 87 KiB per peer, 827 MiB at 10,000 agents (docs/PERFORMANCE.md,
 * "Memory once libzmq's pipes are full"). The controller's side of the bus
 * speaks the protocol itself instead, with a few hundred bytes per idle
 * peer; agents keep libzmq (a DEALER), so this module must be
 * wire-compatible with libzmq 4.3's client: ZMTP 3.0/3.1 (RFC 23, RFC 37)
 * with the NULL mechanism (curve=0, debugging) or CURVE (RFC 26,
 * CurveZMQ), PING answered with PONG, the peer's metadata (Socket-Type,
 * Identity).
 *
 * The caller owns the socket: it reads bytes into the connection
 * (zmtp_conn_rspace / zmtp_conn_rdone), takes events out
 * (zmtp_conn_next), and writes what the connection has to send
 * (zmtp_conn_pending / zmtp_conn_sent). Everything here is a decoder of
 * untrusted input: it never asserts on it, enforces every maximum
 * (max_msg_size, command sizes, metadata), rejects trailing bytes in a
 * command, and is fuzzed (tests/fuzz/fuzz_zmtp.c).
 *
 * Threads: a connection and its cfg belong to one thread.
 */
#ifndef TS_ZMTP_H
#define TS_ZMTP_H

#include <stddef.h>
#include <stdint.h>

#define ZMTP_KEY_LEN	32
#define ZMTP_RID_MAX	255	/* longest Identity (routing id) */
#define ZMTP_HOST_MAX	255

/*
 * Decides whether a client's long-term CURVE key is enrolled: 0 and the
 * host name written to host (NUL-terminated, < host_len) to accept, -1 to
 * refuse (the connection then sends an ERROR and fails). Called from
 * zmtp_conn_next() while the INITIATE command is processed.
 */
typedef int (*zmtp_allow_fn)(const uint8_t key[ZMTP_KEY_LEN], char *host,
    size_t host_len, void *arg);

/* Shared by every connection of a listener; borrowed: it must outlive
 * them. The secret key is the caller's to wipe. */
struct zmtp_cfg {
	int		 curve;		/* 1: CURVE; 0: NULL mechanism */
	uint8_t		 public_key[ZMTP_KEY_LEN];	/* server, long-term */
	uint8_t		 secret_key[ZMTP_KEY_LEN];
	int64_t		 max_msg_size;	/* largest message body accepted */
	zmtp_allow_fn	 allow;		/* required with curve */
	void		*allow_arg;
};

/* What zmtp_conn_next() found. */
enum zmtp_event {
	ZMTP_NONE = 0,	/* needs more input */
	ZMTP_READY,	/* handshake done: host, rid, key are now valid */
	ZMTP_MSG,	/* one message frame, in *out */
};

/* One received message frame. data is borrowed from the connection's
 * input buffer: valid until the next call on that connection. more is
 * the frame's MORE flag (a multi-part message continues). */
struct zmtp_frame {
	const uint8_t	*data;
	size_t		 len;
	int		 more;
};

struct zmtp_conn;

/* A new connection, already holding the server's greeting to send
 * (zmtp_conn_pending). cfg is borrowed. NULL with the error recorded
 * (TS_ENOMEM; TS_EINVALID for a cfg with max_msg_size < 1, or curve
 * without allow). */
struct zmtp_conn *zmtp_conn_new(const struct zmtp_cfg *cfg);
/* Wipes the session keys. Accepts NULL; clears the pointer. */
void	 zmtp_conn_free(struct zmtp_conn **);

/* Where to read the next bytes into: *p and *room (> 0). The buffer is
 * small while frames are small and grows only for a frame that needs it,
 * up to what max_msg_size allows. -1 TS_ENOMEM. */
int	 zmtp_conn_rspace(struct zmtp_conn *, uint8_t **p, size_t *room);
/* n bytes (<= room) were read into that space. n = 0: the read found
 * nothing (EAGAIN); a buffer holding nothing is then released, so that
 * an idle connection keeps none (a caller reading to EAGAIN asks for
 * room before every read). */
void	 zmtp_conn_rdone(struct zmtp_conn *, size_t n);

/*
 * The next event from what was read: ZMTP_NONE when more input is
 * needed, ZMTP_READY once, then ZMTP_MSG per message frame. PING is
 * answered (PONG queued; not while an earlier PONG is still unwritten,
 * so a peer that does not read cannot grow the output) and never
 * returned; other commands after the
 * handshake are ignored, as libzmq does. -1 with the error recorded on a
 * protocol violation (TS_EDECODE), a refused key (TS_EUNAUTHORIZED), a
 * frame above
 * max_msg_size (TS_ETOO_LARGE) or a failed decryption: the connection is
 * then dead (every later call returns -1); the caller flushes what is
 * pending (an ERROR command, where the protocol has one) and closes.
 */
int	 zmtp_conn_next(struct zmtp_conn *, struct zmtp_frame *out);

/*
 * Queue one single-part message for sending (encrypted under CURVE). Only
 * after ZMTP_READY. The copy is owned by the connection until written.
 * -1 TS_EINVALID before the handshake, TS_ENOMEM.
 */
int	 zmtp_conn_send(struct zmtp_conn *, const void *, size_t);

/* Bytes waiting to be written: returns their count, *p their start
 * (borrowed: valid until the next call on the connection). */
size_t	 zmtp_conn_pending(struct zmtp_conn *, const uint8_t **p);
/* n of them were written. Memory held for output is released once all
 * is written. */
void	 zmtp_conn_sent(struct zmtp_conn *, size_t n);
/* Messages queued by zmtp_conn_send() not yet completely written (for
 * the caller's high-water mark). */
size_t	 zmtp_conn_queued(const struct zmtp_conn *);

/* After ZMTP_READY (else NULL): the host allow() named ("" with the NULL
 * mechanism), the peer's Identity property (its routing id; "" if it sent
 * none), its long-term key (NULL with the NULL mechanism). Borrowed:
 * valid until zmtp_conn_free(). */
const char	*zmtp_conn_host(const struct zmtp_conn *);
const char	*zmtp_conn_rid(const struct zmtp_conn *);
const uint8_t	*zmtp_conn_key(const struct zmtp_conn *);

/* Bytes the connection holds right now (buffers and state), for the
 * memory benchmarks. */
size_t	 zmtp_conn_footprint(const struct zmtp_conn *);
/* PINGs answered with a PONG so far (tests, statistics). */
uint64_t zmtp_conn_pongs(const struct zmtp_conn *);

#endif
