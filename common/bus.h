/*
 * bus: the controller <-> agent transport: ZMTP 3 over TCP, CurveZMQ.
 *
 * The bus moves opaque, non-empty byte frames; encoding is common/codec's
 * job. One side is a server (the controller: a listener of its own that
 * speaks ZMTP through common/zmtp, in place of libzmq's ROUTER, whose
 * pipes cost ~87 KiB per agent), the other a client (an agent: a libzmq
 * DEALER named after its host). The controller process runs no libzmq
 * socket and no libzmq thread.
 *
 * Security (see shared/security-and-reliability.md 2.5):
 *  - CURVE is on unless curve=0 (debugging only, logged loudly at start).
 *  - Client authentication happens in the CURVE handshake itself: when a
 *    client's INITIATE proves its long-term key (zmtp.c checks the vouch
 *    box), the server asks opts->allow() whether that key is enrolled and
 *    for which host; a key refused, or a handshake that fails for any
 *    reason or does not complete within 10 s, closes the connection
 *    before any frame of it reaches the application (zmtp_conn_next()
 *    returns message frames only after the handshake). There is no
 *    separate handler to be missing: it fails closed by construction.
 *  - A client's routing id is "<host>/<16 random hex digits>", fresh for
 *    every socket it creates. A connection whose routing id is not of
 *    that form, or whose host part differs from the host its key is
 *    enrolled for, is never routed to, and every frame it sends is
 *    dropped and logged, so an agent cannot speak for another host. The
 *    server sends to a host through its newest connection that passed
 *    both checks. Since the suffix is random and never shown to other
 *    peers, an agent holding a valid key cannot take over another host's
 *    routing id and receive its commands; a connection with the routing
 *    id of an open one (ZMQ_ROUTER_HANDOVER's rule) only lets a socket
 *    that reconnects replace its own stale connection.
 *  - What the bus does not do: authorize payloads (the controller checks
 *    that what an agent says concerns its own host), parse them safely
 *    (codec), or make delivery reliable: queues are in memory only.
 *    Every failure to hand a message over is reported (bus_send) or
 *    logged (bus_post); nothing is dropped silently on the sending side.
 *
 * Threads: a bus and its sockets belong to the thread that calls
 * bus_poll() and bus_send() (the "bus thread"). bus_post() is the only
 * call that is safe from other threads: it copies the frame into a
 * bounded queue and wakes the bus thread, which sends it from bus_poll().
 * The server's handshakes run in bus_poll() on the bus thread, so
 * opts->allow is called there.
 *
 * Liveness: a client's libzmq pings (ZMQ_HEARTBEAT_*) close a dead
 * connection to its server (which answers them from bus_poll()), the
 * server's TCP keepalive closes dead client connections (see
 * setopts_client in bus.c for why not ZMTP pings). A client also tracks
 * how long its server has been silent at the application level
 * (bus_peer_silent_ms) and can rebuild its socket (bus_client_reconnect).
 */
#ifndef TS_BUS_H
#define TS_BUS_H

#include <stddef.h>
#include <stdint.h>

#define BUS_KEY_Z85_LEN	40	/* a CURVE key in Z85, without the NUL */
#define BUS_HOST_MAX	238	/* longest host name: with "/" and 16 hex
				   digits the routing id fits ZeroMQ's 255 */
#define BUS_NAME_SIZE	256
#define BUS_MAX_FDS	16	/* extra fds bus_add_fd() accepts */

struct bus;

/* bus_opts.heartbeat_ivl_ms when 0. */
#define BUS_HEARTBEAT_IVL_MS	10000

/*
 * Decides whether a client key is enrolled. client_pubkey_z85 is the
 * client's long-term public key (40 Z85 chars + NUL). Return 0 to accept and
 * write the host name the key is enrolled for into host_out (NUL-terminated,
 * at most host_len bytes; it must be a valid host name, see
 * bus_host_valid()), or -1 to deny. Called on the bus thread, during a
 * handshake in bus_poll().
 */
typedef int (*bus_allow_fn)(const char *client_pubkey_z85, char *host_out,
    size_t host_len, void *arg);

/* Called on the bus thread from bus_poll() when an fd added with
 * bus_add_fd() is ready; revents are ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR. */
typedef void (*bus_fd_fn)(int fd, short revents, void *arg);

/*
 * Frames by class, for monitoring: a bus given a classify function counts
 * every frame that went out (as msgs_out) and every one bus_poll()
 * returned (as msgs_in) under the class the function names for it,
 * 1..BUS_SEND_CLASSES-1; 0 (or anything larger) is "none". Called on the
 * bus thread for each such frame, after the send or before the frame is
 * returned: it must be cheap and must not record an error. The frame is
 * opaque to the bus (and untrusted, when received): the controller names
 * the envelope's message type (controller/core/telemetry.c); read with
 * bus_sent_by_class() and bus_received_by_class().
 */
#define BUS_SEND_CLASSES	64
typedef unsigned (*bus_classify_fn)(const void *frame, size_t len);

/*
 * Options. Start from bus_opts_init(), which turns CURVE on and leaves every
 * number 0 (= the default given below). Strings are copied by *_new(); the
 * secret key copy is wiped by bus_free().
 */
struct bus_opts {
	/* "tcp://127.0.0.1:5670"; a server may bind port "*" */
	const char	*endpoint;
	int		 curve;		/* 1 (default); 0: plain, debug only */
	const char	*server_public;	/* client: the server's public key */
	/* Own key pair (Z85). A server needs only the secret key; a public
	 * key given with it must match. */
	const char	*public_key;
	const char	*secret_key;
	const char	*identity;	/* client: this host's name */
	int		 reconnect_ivl_ms;	/* client; default 100 */
	int		 reconnect_max_ms;	/* client backoff cap; 10000 */
	/* Default BUS_HEARTBEAT_IVL_MS; <0 turns off. Client: ZMTP pings
	 * at this interval, timeout 3x. Server: TCP keepalive probes at
	 * this interval (in whole seconds), 3 unanswered close the
	 * connection. */
	int		 heartbeat_ivl_ms;
	int64_t		 max_msg_size;	/* inbound cap; 16 MiB, min 1024 */
	int		 sndhwm;	/* per-peer queue (frames); 1000 */
	int		 post_queue_max;	/* bus_post() queue; 4096 */
	bus_allow_fn	 allow;		/* server with CURVE: required */
	void		*allow_arg;
	/* Client: a ZeroMQ context to open the socket in, borrowed: it must
	 * outlive the bus, and bus_free() closes the bus's sockets but
	 * leaves the context. NULL: the bus makes its own (two threads and
	 * a few descriptors). Many clients in one process (bench/fleetsim)
	 * share one so 10,000 agents do not cost 20,000 threads; the
	 * context's ZMQ_MAX_SOCKETS must allow three sockets per client
	 * (its own, the socket monitor's and the one reading that). */
	void		*zmq_ctx;
	bus_classify_fn	 classify;	/* NULL: frames not classified */
	/* Server: the listening socket's accept queue, the connections
	 * the kernel holds for the bus thread to accept; the kernel caps it
	 * at net.core.somaxconn. 0: 100 (libzmq's default, as before). At
	 * most 4 x backlog connections are in their handshake at once; a
	 * new one closes the oldest (a stranger's idle ones, not an
	 * agent's, which completes its handshake in a few round trips). */
	int		 backlog;
	/* Server: a connection that has not completed its handshake this
	 * many ms after it was accepted is closed. 0: 10 s. (Tests.) */
	int		 handshake_ms;
};

/*
 * One received frame. On the server, peer is the host named by the
 * sender's routing id and user_id the host its CURVE key is enrolled for;
 * the bus only returns messages where both are equal (with curve=0,
 * user_id is a copy of the unauthenticated peer). On a client both
 * are empty strings: the only peer is the server, authenticated by its
 * public key. data is owned by the message: bus_msg_clear() frees it.
 */
struct bus_msg {
	char	 peer[BUS_NAME_SIZE];
	char	 user_id[BUS_NAME_SIZE];
	/* Server with CURVE: the client key the connection authenticated
	 * with (Z85), so the application can refuse a connection made with
	 * a key that was since revoked or replaced. Else "". */
	char	 pubkey[BUS_KEY_Z85_LEN + 1];
	uint8_t	*data;
	size_t	 len;
};

void	bus_opts_init(struct bus_opts *);

/* Counters since bus_*_new(), for monitoring; any thread. Sends count
 * frames that went out (bus_send, and bus_post's once drained); the
 * failures by reason; post_refused: bus_post() calls refused because the
 * queue was full; drops: inbound frames the server threw away. */
struct bus_stats {
	uint64_t	msgs_in, bytes_in, msgs_out, bytes_out;
	uint64_t	send_unreachable, send_queue_full, send_failed;
	uint64_t	post_refused;
	uint64_t	drop_impostor, drop_not_bus, drop_multipart;
	size_t		post_queued;	/* posted, not yet sent */
	/* ZMTP handshakes done: the client's connections (as its loop
	 * saw), the server's accepted connections that completed it */
	uint64_t	handshakes;
	/* Server: handshakes that failed (protocol, refused key, deadline),
	 * connections closed at accept (too many handshakes under way,
	 * descriptors exhausted); the connections open now, and of them
	 * those still in their handshake; the times handshakes waited
	 * because the bus thread's handshake CPU budget was spent. */
	uint64_t	handshake_failed, conn_refused;
	uint64_t	connections, connecting;
	uint64_t	handshake_deferred;
};
struct bus;
void	bus_stats(struct bus *, struct bus_stats *);
/* Server, bus thread only: the bytes the open connections hold now
 * (per-connection state, zmtp buffers, the route table) and their number
 * in *nconns (may be NULL); for memory checks and benchmarks. 0 on a
 * client. */
size_t	bus_conn_footprint(const struct bus *, size_t *nconns);
/* The sends counted per class since bus_*_new() (all 0 without a
 * classify function); any thread. */
void	bus_sent_by_class(struct bus *, uint64_t out[BUS_SEND_CLASSES]);
/* The same for the frames received (returned by bus_poll()). */
void	bus_received_by_class(struct bus *, uint64_t out[BUS_SEND_CLASSES]);

/*
 * Create a bus. The server listens on opts->endpoint ("tcp://<IPv4
 * address, [IPv6 address], a name or *>:<port or *>"); the client makes
 * a ZeroMQ context (unless given one) and connects, and returns before
 * the handshake completes (see bus_client_connected()). NULL with the
 * error recorded: TS_EINVALID / TS_ECONFIG for bad options, endpoints or
 * keys, TS_EIO when the system or ZeroMQ refuses (e.g. the address is in
 * use).
 */
struct bus	*bus_server_new(const struct bus_opts *);
struct bus	*bus_client_new(const struct bus_opts *);

/* Close the sockets (a client's linger is bounded to a few hundred ms;
 * the server closes its connections at once, what they had not written
 * is lost) and the client's own context. Accepts NULL; clears the
 * pointer. No other thread may be inside bus_post() on this bus. */
void	 bus_free(struct bus **);

/* The endpoint actually bound or connected (the server's resolves a "*"
 * port). Borrowed; valid until bus_free() or bus_client_reconnect(). */
const char *bus_endpoint(const struct bus *);

/*
 * Bus thread's loop step. Sends what bus_post() queued, runs callbacks of
 * ready extra fds, and waits up to timeout_ms (-1: forever, 0: don't wait)
 * for a message. Returns 1 with *out filled (caller clears it), 0 on
 * timeout, wake-up (posted messages were sent), an extra fd's callback or a
 * signal (EINTR), -1 on error. Frames that fail the checks above (host
 * mismatch, multi-part, connection probes) are consumed, logged where
 * relevant, and never returned. *out is overwritten, not freed.
 */
int	 bus_poll(struct bus *, int timeout_ms, struct bus_msg *out);
void	 bus_msg_clear(struct bus_msg *);

/*
 * Send one frame now without blocking; bus thread only. peer is the host
 * name on a server and ignored (may be NULL) on a client. len must be
 * 1..max_msg_size. Errors: TS_EUNREACHABLE when the peer is not
 * connected (on a server: no connection proven to be that host),
 * TS_EUNAVAILABLE when its send queue is full (sndhwm frames not yet
 * written), TS_EINVALID / TS_ETOO_LARGE for bad arguments. A server
 * writes the frame at once, as far as the socket takes it; a connection
 * found broken doing so is closed (TS_EUNREACHABLE).
 */
int	 bus_send(struct bus *, const char *peer, const void *, size_t);

/*
 * Same from any thread: copies the frame into the bounded queue and wakes
 * the bus thread. Returns -1 TS_EUNAVAILABLE when the queue is full,
 * TS_EINVALID / TS_ETOO_LARGE for bad arguments. Failures of the eventual
 * send are logged by the bus thread (warning), with the peer's name.
 */
int	 bus_post(struct bus *, const char *peer, const void *, size_t);

/* Poll fd together with the bus (e.g. a daemon's timerfd or signalfd).
 * events: ZMQ_POLLIN and/or ZMQ_POLLOUT. Bus thread only; at most
 * BUS_MAX_FDS; an fd can be added once. The fd stays the caller's. */
int	 bus_add_fd(struct bus *, int fd, short events, bus_fd_fn, void *arg);
int	 bus_remove_fd(struct bus *, int fd);

/* Client: milliseconds since the last frame from the server, or since the
 * socket was (re)created if none arrived since. Server: always 0. */
int64_t	 bus_peer_silent_ms(const struct bus *);
/*
 * How far behind its socket(s) the caller's loop is: milliseconds since
 * bus_poll() last found no frame waiting (client: a read from libzmq that
 * came back empty, or a poll that did not find the socket readable;
 * server: every connection with input read to EAGAIN and decoded, or a
 * poll that found none readable), 0 while the loop keeps up. Every frame
 * taken in before that moment has been handed out since, so a peer's
 * frame older than this may still be queued, unread: the controller does
 * not call a host down on it. Any thread may call it.
 */
int64_t	 bus_backlog_ms(const struct bus *);
/* Client: 1 while a connection to the server that completed its (CURVE)
 * handshake is up, as of the last bus_poll()/bus_send(). Server: always 1. */
int	 bus_client_connected(const struct bus *);
/* A file descriptor that becomes readable when the socket may have work
 * (client: ZeroMQ's ZMQ_FD; server: its epoll set; edge-like, so drain
 * with bus_poll(b, 0, ...) until it returns 0 after each wake-up), for a
 * process that waits on many buses in one epoll (bench/fleetsim). -1
 * without a socket. Changes with bus_client_reconnect(). */
int	 bus_fd(const struct bus *);
/* Client: close the socket (dropping what is queued in it) and connect a
 * new one with the same options; posted messages are kept. Resets the
 * silence clock. -1 (err set) if the new socket cannot be made; the bus is
 * then unusable until a later call succeeds. */
int	 bus_client_reconnect(struct bus *);

/* Host names (identity, peer, User-Id): 1..238 chars of [A-Za-z0-9._-],
 * not starting with '.' or '-'. Returns 1 if valid. */
int	 bus_host_valid(const char *);

/*
 * CURVE keys, in Z85 (40 chars + NUL).
 * bus_key_check: 0 if the string is exactly 40 Z85 chars that decode to 32
 *   bytes, else -1 TS_EINVALID.
 * bus_keypair_new: a fresh key pair; -1 TS_EINTERNAL if libzmq lacks CURVE.
 * bus_keypair_save: writes <dir>/<name>.key (mode 0600, both keys) and
 *   <dir>/<name>.pub (0644), each through a temporary file, fsync and
 *   rename, replacing an existing pair atomically per file. name: a plain
 *   file name ([A-Za-z0-9._-], not starting with '.').
 * bus_keypair_load: reads a .key file; refuses (TS_ECONFIG) a file that is
 *   not a regular file, is accessible by group or others, is malformed, or
 *   whose public key does not belong to its secret key.
 * bus_pubkey_load: reads the public key of a .pub (or .key) file.
 * File format, one "name = value" per line, '#' comments:
 *   public = <z85>
 *   secret = <z85>          (only in .key)
 */
int	 bus_key_check(const char *z85);
int	 bus_keypair_new(char pub[BUS_KEY_Z85_LEN + 1],
	    char sec[BUS_KEY_Z85_LEN + 1]);
int	 bus_keypair_save(const char *dir, const char *name, const char *pub,
	    const char *sec);
int	 bus_keypair_load(const char *path, char pub[BUS_KEY_Z85_LEN + 1],
	    char sec[BUS_KEY_Z85_LEN + 1]);
int	 bus_pubkey_load(const char *path, char pub[BUS_KEY_Z85_LEN + 1]);

#endif
