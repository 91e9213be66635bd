/*
 * bus: see bus.h for the contract.
 *
 * Invariants:
 *  - b->sock, b->mon and the extra-fd table belong to the bus thread; the
 *    ZAP sockets belong to the ZAP thread from the first one's creation
 *    to its exit (b->zap is only the first: the thread replaces it);
 *    the post queue is the only state shared between threads (qlock).
 *  - b->routes (server) maps a host to the routing id of its newest
 *    connection that sent a frame whose User-Id is that host (with CURVE;
 *    without it, any frame naming the host). Only ZAP-approved keys create
 *    entries, so the table is bounded by enrolment (and by ROUTES_MAX).
 *    b->rindex is an open-addressing index of b->routes by host (slot =
 *    route position + 1, 0 = empty), rebuilt whenever a route moves: a
 *    controller looks a host up for every frame in and out, at thousands
 *    of agents.
 *  - Every option copied from bus_opts is immutable after *_new(), so the
 *    ZAP thread can read allow/allow_arg without a lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "hash.h"
#include "bus.h"
#include "clock.h"
#include "err.h"
#include "log.h"

/* Stable in libzmq 4.3 (the option is accepted by every build) but only
 * declared by zmq.h under ZMQ_BUILD_DRAFT_API. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN	93
#endif

#define DEF_RECONNECT_IVL_MS	100
#define DEF_RECONNECT_MAX_MS	10000
/* Client pings: each costs the server's I/O thread a CURVE frame in and
 * one out, and at 2 s (5 per 10 s heartbeat) they cost the controller
 * about as much as the heartbeats themselves (docs/PERFORMANCE.md,
 * "Cheap heartbeats, part 3"). A dead path is found within 3 intervals
 * (or at the next frame's reset), as the agent's own silence rule (3 x
 * report_interval, 30 s) would find it; so the agent turns them off
 * while it heartbeats at least this often (part 5). */
#define DEF_HEARTBEAT_IVL_MS	BUS_HEARTBEAT_IVL_MS
#define DEF_MAX_MSG_SIZE	(16 * 1024 * 1024)
#define MIN_MAX_MSG_SIZE	1024
#define DEF_SNDHWM		1000
#define DEF_POST_QUEUE_MAX	4096
/* ZMTP carries the heartbeat TTL in 16 bits of deciseconds. */
#define HEARTBEAT_TTL_MAX_MS	6553599
#define LINGER_MS		200
#define HANDSHAKE_IVL_MS	10000
#define ROUTES_MAX		65536
#define BURST_MAX		64	/* reads between two polls when busy */
#define RID_SUFFIX_LEN		16	/* hex digits after "<host>/" */
#define RID_MAX			(BUS_HOST_MAX + 1 + RID_SUFFIX_LEN)
#define KEYFILE_MAX		4096
#define ZAP_FRAMES_MAX		8	/* a CURVE request has 7 */
/*
 * The ZAP handler's socket is replaced ("retired") after it has answered
 * ZAP_RETIRE_AFTER requests (bus_opts.zap_retire_after), or once
 * ZAP_RETIRE_IDLE_MS have passed since the last one: libzmq 4.3.4 keeps
 * every CURVE connection's pipe pair to the handler (session_base_t::
 * _zap_pipe: two ypipes of 256-message chunks, about 41 KiB allocated
 * and 9 resident per connection) until either end closes, and the
 * session's end is marked "no delay" (zap_connect() calls set_nodelay()),
 * so the handler's close ends it at once (pipe_t::process_pipe_term acks
 * without reading; session_base_t::pipe_terminated clears _zap_pipe,
 * which nothing reads or writes after the handshake). The old socket is
 * unbound first (the inproc name is unique per context), the new one
 * bound, and the old one served for ZAP_GRACE_MS more, then closed.
 * Why that cannot let anyone in unauthenticated: see zap_retire().
 */
#define ZAP_RETIRE_AFTER	1024
#define ZAP_RETIRE_IDLE_MS	1000
#define ZAP_GRACE_MS		200
#define ZAP_REBIND_MS		100	/* retries of a failed bind */
#define ENDPOINT_MAX		1024
#define ZAP_ENDPOINT		"inproc://zeromq.zap.01"

#define MON_EVENTS	(ZMQ_EVENT_HANDSHAKE_SUCCEEDED |		\
	ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |	\
	ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |				\
	ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

/* Kinds of inbound frames the server drops (each logged separately). */
enum drop {
	DROP_IMPOSTOR,		/* host part != User-Id */
	DROP_NOT_BUS,		/* routing id is not "<host>/<hex>" */
	DROP_MULTIPART,
	DROP__COUNT
};

static inline void
count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

enum role {
	ROLE_SERVER,
	ROLE_CLIENT,
};

/* A frame handed over by bus_post(); the copy is owned by the queue. */
struct post {
	struct post	*next;
	char		 peer[BUS_NAME_SIZE];
	size_t		 len;
	uint8_t		 data[];
};

/* Where frames for a host go: the routing id of its newest connection. */
struct route {
	char		 host[BUS_HOST_MAX + 1];
	char		 rid[RID_MAX + 1];
};

struct extra_fd {
	int		 fd;
	short		 events;
	bus_fd_fn	 cb;
	void		*arg;
};

struct bus {
	enum role	 role;
	void		*ctx;
	int		 ctx_borrowed;	/* bus_opts.zmq_ctx: not ours to end */
	void		*sock;
	char		 endpoint_cfg[ENDPOINT_MAX];
	char		 endpoint[ENDPOINT_MAX];	/* bound or connected */

	/* options, immutable after *_new() */
	int		 curve;
	char		 server_public[BUS_KEY_Z85_LEN + 1];
	char		 public_key[BUS_KEY_Z85_LEN + 1];
	char		 secret_key[BUS_KEY_Z85_LEN + 1];	/* wiped */
	char		 identity[BUS_HOST_MAX + 1];
	int		 reconnect_ivl_ms;
	int		 reconnect_max_ms;
	int		 heartbeat_ivl_ms;
	int64_t		 max_msg_size;
	int		 sndhwm;
	bus_allow_fn	 allow;
	void		*allow_arg;
	bus_classify_fn	 classify;

	/* server with CURVE: the ZAP handler */
	void		*zap;		/* the ZAP thread's once started */
	pthread_t	 zap_thread;
	int		 zap_running;
	unsigned	 zap_retire_after;	/* immutable */
	_Atomic uint64_t zap_retired;	/* sockets retired (ZAP thread) */

	/* server: host -> routing id */
	struct route	*routes;
	size_t		 nroutes;
	size_t		 routes_cap;
	uint32_t	*rindex;	/* 2 * routes_cap slots */

	/* the loop: the socket zmq_poll last found readable (NULL once a
	 * read finds it empty) and the reads since without a poll */
	void		*rd_sock;
	unsigned	 rd_burst;
	/* monotonic ms: the last time the loop found no frame waiting;
	 * written by the loop, read by any thread (bus_backlog_ms) */
	_Atomic int64_t	 caught_up_ms;
	int64_t		 drop_log_ms[DROP__COUNT];	/* log rate limit */
	unsigned	 drops_suppressed[DROP__COUNT];
	/* bus_stats(): written on the loop's thread (bus_post's refusals on
	 * the poster's), read by a scrape on any thread. */
	_Atomic uint64_t drops[DROP__COUNT];
	_Atomic uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
	_Atomic uint64_t send_unreachable, send_full, send_io, post_refused;
	_Atomic uint64_t handshakes;
	_Atomic uint64_t sent_class[BUS_SEND_CLASSES];
	_Atomic uint64_t recv_class[BUS_SEND_CLASSES];
	int		 backlog;	/* server: ZMQ_BACKLOG, 0: libzmq's */

	/* client */
	char		 rid[RID_MAX + 1];	/* this socket's routing id */
	void		*mon;		/* PAIR reading the socket monitor */
	unsigned	 mon_gen;
	int		 connected;
	int		 hs_fail_logged;	/* one warning per streak */
	int64_t		 last_rx_ms;

	/* bus_post() queue */
	pthread_mutex_t	 qlock;
	int		 qlock_init;
	struct post	*qhead;
	struct post	*qtail;
	size_t		 qlen;
	size_t		 qmax;
	int		 wakefd;	/* eventfd, polled with the socket */

	struct extra_fd	 fds[BUS_MAX_FDS];
	int		 nfds;
};

static const char z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

void
bus_opts_init(struct bus_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->curve = 1;
}

int
bus_host_valid(const char *h)
{
	size_t i, n;

	if (h == NULL)
		return 0;
	n = strnlen(h, BUS_HOST_MAX + 1);
	if (n == 0 || n > BUS_HOST_MAX || h[0] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_'))
			return 0;
	}
	return 1;
}

/* Split a client routing id "<host>/<16 hex digits>" and copy the host
 * part to host. -1 if the frame is anything else (libzmq's generated ids
 * start with a zero byte and fail here). */
static int
parse_rid(const void *data, size_t len, char rid[RID_MAX + 1],
    char host[BUS_HOST_MAX + 1])
{
	size_t hlen, i;

	if (len < RID_SUFFIX_LEN + 2 || len > RID_MAX)
		return -1;
	memcpy(rid, data, len);
	rid[len] = '\0';
	hlen = len - RID_SUFFIX_LEN - 1;
	if (rid[hlen] != '/')
		return -1;
	for (i = hlen + 1; i < len; i++)
		if (!((rid[i] >= '0' && rid[i] <= '9') ||
		    (rid[i] >= 'a' && rid[i] <= 'f')))
			return -1;
	memcpy(host, rid, hlen);
	host[hlen] = '\0';
	return bus_host_valid(host) ? 0 : -1;
}

/* ------------------------------------------------------------------ keys */

int
bus_key_check(const char *z)
{
	size_t i, j;

	if (z == NULL || strnlen(z, BUS_KEY_Z85_LEN + 1) != BUS_KEY_Z85_LEN) {
		err_set(TS_EINVALID, "CURVE key must be %d Z85 characters",
		    BUS_KEY_Z85_LEN);
		return -1;
	}
	/* Z85 packs 4 bytes into 5 chars; a group above 2^32-1 would not
	 * decode to 32 bytes, so check the value, not just the alphabet. */
	for (i = 0; i < BUS_KEY_Z85_LEN; i += 5) {
		uint64_t v = 0;

		for (j = i; j < i + 5; j++) {
			const char *p = strchr(z85_alphabet, z[j]);

			if (p == NULL) {
				err_set(TS_EINVALID, "CURVE key has a "
				    "character outside the Z85 alphabet at "
				    "offset %zu", j);
				return -1;
			}
			v = v * 85 + (uint64_t)(p - z85_alphabet);
		}
		if (v > UINT32_MAX) {
			err_set(TS_EINVALID, "CURVE key is not valid Z85 "
			    "(group at offset %zu overflows)", i);
			return -1;
		}
	}
	return 0;
}

/* 0 if pub is the public half of sec (both already checked). */
static int
keys_match(const char *pub, const char *sec)
{
	char derived[BUS_KEY_Z85_LEN + 1];

	if (zmq_curve_public(derived, sec) == -1) {
		err_set(TS_EINTERNAL, "zmq_curve_public: %s",
		    zmq_strerror(errno));
		return -1;
	}
	if (strcmp(derived, pub) != 0) {
		err_set(TS_ECONFIG, "public key does not belong to the "
		    "secret key");
		return -1;
	}
	return 0;
}

int
bus_keypair_new(char pub[BUS_KEY_Z85_LEN + 1], char sec[BUS_KEY_Z85_LEN + 1])
{
	if (!zmq_has("curve")) {
		err_set(TS_EINTERNAL, "libzmq was built without CURVE");
		return -1;
	}
	if (zmq_curve_keypair(pub, sec) == -1) {
		err_set(TS_EINTERNAL, "zmq_curve_keypair: %s",
		    zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static int
key_name_valid(const char *name)
{
	/* A file name inside dir, never a path: same charset as hosts. */
	return bus_host_valid(name) && name[0] != '.' &&
	    strlen(name) < NAME_MAX - 16;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write dir/fname through dir/.fname.XXXXXX + fsync + rename, so a reader
 * sees either the old file or the whole new one, never a torn key. */
static int
write_file_atomic(const char *dir, const char *fname, const char *content,
    mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, fname);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, fname) >=
	    (int)sizeof(tmp)) {
		err_set(TS_EINVALID, "key path too long: %s/%s", dir, fname);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		err_set_errno(TS_EIO, "create %s", tmp);
		return -1;
	}
	if (fchmod(fd, mode) == -1 ||
	    write_all(fd, content, strlen(content)) == -1 ||
	    fsync(fd) == -1) {
		err_set_errno(TS_EIO, "write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1) {
		err_set_errno(TS_EIO, "close %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		err_set_errno(TS_EIO, "rename %s to %s", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
bus_keypair_save(const char *dir, const char *name, const char *pub,
    const char *sec)
{
	char fname[NAME_MAX + 1], buf[256];
	int dfd, rc = -1;

	if (dir == NULL || name == NULL || !key_name_valid(name)) {
		err_set(TS_EINVALID, "invalid key file name '%s'",
		    name ? name : "(null)");
		return -1;
	}
	if (bus_key_check(pub) == -1 || bus_key_check(sec) == -1) {
		err_prefix("key pair %s: ", name);
		return -1;
	}
	if (keys_match(pub, sec) == -1)
		return -1;

	snprintf(fname, sizeof(fname), "%s.key", name);
	snprintf(buf, sizeof(buf),
	    "# tinystack CURVE key pair: keep secret (mode 0600)\n"
	    "public = %s\nsecret = %s\n", pub, sec);
	if (write_file_atomic(dir, fname, buf, 0600) == -1)
		goto out;
	snprintf(fname, sizeof(fname), "%s.pub", name);
	snprintf(buf, sizeof(buf), "# tinystack CURVE public key\n"
	    "public = %s\n", pub);
	if (write_file_atomic(dir, fname, buf, 0644) == -1)
		goto out;
	/* The renames are durable only once the directory is synced. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		err_set_errno(TS_EIO, "open %s", dir);
		goto out;
	}
	if (fsync(dfd) == -1) {
		err_set_errno(TS_EIO, "fsync %s", dir);
		close(dfd);
		goto out;
	}
	close(dfd);
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parse a key file held in buf (NUL-terminated, no embedded NUL). pub and
 * sec are left empty when the file has no such line. */
static int
parse_keyfile(const char *path, char *buf, char *pub, char *sec)
{
	char *line, *next;
	int lineno = 0;

	pub[0] = sec[0] = '\0';
	for (line = buf; line != NULL; line = next) {
		char *eq, *name, *val, *dst;

		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			err_set(TS_ECONFIG, "%s:%d: expected 'name = value'",
			    path, lineno);
			return -1;
		}
		*eq = '\0';
		name = trim(line);
		val = trim(eq + 1);
		if (strcmp(name, "public") == 0)
			dst = pub;
		else if (strcmp(name, "secret") == 0)
			dst = sec;
		else {
			err_set(TS_ECONFIG, "%s:%d: unknown key '%.32s'",
			    path, lineno, name);
			return -1;
		}
		if (dst[0] != '\0') {
			err_set(TS_ECONFIG, "%s:%d: duplicate '%s'", path,
			    lineno, name);
			return -1;
		}
		if (bus_key_check(val) == -1) {
			err_set(TS_ECONFIG, "%s:%d: %s key is not 40 valid "
			    "Z85 characters", path, lineno, name);
			return -1;
		}
		memcpy(dst, val, BUS_KEY_Z85_LEN + 1);
	}
	return 0;
}

/* Read a key file into buf[KEYFILE_MAX + 1]. With secret set, refuse files
 * that group or others can access, as ssh does for private keys; the mode
 * is checked on the opened descriptor, so a swapped file cannot slip by. */
static int
read_keyfile(const char *path, int secret, char *buf)
{
	struct stat st;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_set_errno(TS_ECONFIG, "open %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		err_set_errno(TS_ECONFIG, "stat %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(TS_ECONFIG, "%s is not a regular file", path);
		goto fail;
	}
	if (secret && (st.st_mode & 077) != 0) {
		err_set(TS_ECONFIG, "secret key file %s is accessible by "
		    "group or others (mode %04o): refusing to use it; run "
		    "chmod 600 %s", path, (unsigned)(st.st_mode & 07777),
		    path);
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, KEYFILE_MAX + 1 - len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			err_set_errno(TS_ECONFIG, "read %s", path);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > KEYFILE_MAX) {
			err_set(TS_ECONFIG, "%s: larger than %d bytes", path,
			    KEYFILE_MAX);
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		err_set(TS_ECONFIG, "%s: contains a NUL byte", path);
		return -1;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

int
bus_keypair_load(const char *path, char pub[BUS_KEY_Z85_LEN + 1],
    char sec[BUS_KEY_Z85_LEN + 1])
{
	char buf[KEYFILE_MAX + 1];
	int rc = -1;

	if (read_keyfile(path, 1, buf) == -1)
		goto out;
	if (parse_keyfile(path, buf, pub, sec) == -1)
		goto out;
	if (pub[0] == '\0' || sec[0] == '\0') {
		err_set(TS_ECONFIG, "%s: needs both 'public' and 'secret'",
		    path);
		goto out;
	}
	if (keys_match(pub, sec) == -1) {
		err_prefix("%s: ", path);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	if (rc == -1) {
		explicit_bzero(sec, BUS_KEY_Z85_LEN + 1);
		pub[0] = '\0';
	}
	return rc;
}

int
bus_pubkey_load(const char *path, char pub[BUS_KEY_Z85_LEN + 1])
{
	char buf[KEYFILE_MAX + 1], sec[BUS_KEY_Z85_LEN + 1];
	int rc = -1;

	if (read_keyfile(path, 0, buf) == -1)
		goto out;
	if (parse_keyfile(path, buf, pub, sec) == -1)
		goto out;
	if (pub[0] == '\0') {
		err_set(TS_ECONFIG, "%s: no 'public' key", path);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(sec, sizeof(sec));
	if (rc == -1)
		pub[0] = '\0';
	return rc;
}

/* ---------------------------------------------------------------- options */

static int
copy_key(char dst[BUS_KEY_Z85_LEN + 1], const char *src, const char *what)
{
	if (src == NULL) {
		err_set(TS_ECONFIG, "bus: %s is required with CURVE", what);
		return -1;
	}
	if (bus_key_check(src) == -1) {
		err_prefix("bus: %s: ", what);
		return -1;
	}
	memcpy(dst, src, BUS_KEY_Z85_LEN + 1);
	return 0;
}

static int
opts_copy(struct bus *b, const struct bus_opts *o)
{
	if (o == NULL || o->endpoint == NULL || o->endpoint[0] == '\0' ||
	    strlen(o->endpoint) >= sizeof(b->endpoint_cfg)) {
		err_set(TS_EINVALID, "bus: endpoint missing or too long");
		return -1;
	}
	snprintf(b->endpoint_cfg, sizeof(b->endpoint_cfg), "%s", o->endpoint);
	snprintf(b->endpoint, sizeof(b->endpoint), "%s", o->endpoint);
	if (o->curve != 0 && o->curve != 1) {
		err_set(TS_EINVALID, "bus: curve must be 0 or 1");
		return -1;
	}
	b->curve = o->curve;
	if (b->curve) {
		if (!zmq_has("curve")) {
			err_set(TS_ECONFIG, "bus: libzmq was built without "
			    "CURVE");
			return -1;
		}
		if (copy_key(b->secret_key, o->secret_key, "secret key") == -1)
			return -1;
		/* The server needs only its secret key; a public key given
		 * alongside must still belong to it (catches mixed-up
		 * files). */
		if (o->public_key != NULL || b->role == ROLE_CLIENT) {
			if (copy_key(b->public_key, o->public_key,
			    "public key") == -1 ||
			    keys_match(b->public_key, b->secret_key) == -1)
				return -1;
		}
		if (b->role == ROLE_CLIENT && copy_key(b->server_public,
		    o->server_public, "server public key") == -1)
			return -1;
		if (b->role == ROLE_SERVER && o->allow == NULL) {
			err_set(TS_ECONFIG, "bus: a CURVE server needs an "
			    "allow callback (refusing to accept any key)");
			return -1;
		}
	}
	if (b->role == ROLE_CLIENT) {
		if (!bus_host_valid(o->identity)) {
			err_set(TS_EINVALID, "bus: identity '%.64s' is not a "
			    "valid host name", o->identity ? o->identity : "");
			return -1;
		}
		snprintf(b->identity, sizeof(b->identity), "%s", o->identity);
	}
	if (o->reconnect_ivl_ms < 0 || o->reconnect_max_ms < 0 ||
	    o->max_msg_size < 0 || o->sndhwm < 0 || o->post_queue_max < 0 ||
	    o->backlog < 0) {
		err_set(TS_EINVALID, "bus: negative interval or limit");
		return -1;
	}
	b->reconnect_ivl_ms = o->reconnect_ivl_ms ? o->reconnect_ivl_ms :
	    DEF_RECONNECT_IVL_MS;
	b->reconnect_max_ms = o->reconnect_max_ms ? o->reconnect_max_ms :
	    DEF_RECONNECT_MAX_MS;
	if (b->reconnect_max_ms < b->reconnect_ivl_ms) {
		err_set(TS_EINVALID, "bus: reconnect_max_ms (%d) below "
		    "reconnect_ivl_ms (%d)", b->reconnect_max_ms,
		    b->reconnect_ivl_ms);
		return -1;
	}
	b->heartbeat_ivl_ms = o->heartbeat_ivl_ms ? o->heartbeat_ivl_ms :
	    DEF_HEARTBEAT_IVL_MS;
	if (b->heartbeat_ivl_ms > HEARTBEAT_TTL_MAX_MS / 3) {
		err_set(TS_EINVALID, "bus: heartbeat_ivl_ms too large");
		return -1;
	}
	b->max_msg_size = o->max_msg_size ? o->max_msg_size :
	    DEF_MAX_MSG_SIZE;
	/* The cap applies to handshake commands too (CURVE INITIATE carries
	 * the routing id and metadata). */
	if (b->max_msg_size < MIN_MAX_MSG_SIZE) {
		err_set(TS_EINVALID, "bus: max_msg_size below %d bytes",
		    MIN_MAX_MSG_SIZE);
		return -1;
	}
	b->sndhwm = o->sndhwm ? o->sndhwm : DEF_SNDHWM;
	b->qmax = o->post_queue_max ? (size_t)o->post_queue_max :
	    DEF_POST_QUEUE_MAX;
	if (o->zap_retire_after < 0) {
		err_set(TS_EINVALID, "bus: zap_retire_after below 0");
		return -1;
	}
	b->zap_retire_after = o->zap_retire_after ?
	    (unsigned)o->zap_retire_after : ZAP_RETIRE_AFTER;
	b->allow = o->allow;
	b->allow_arg = o->allow_arg;
	b->classify = o->classify;
	b->backlog = o->backlog;
	return 0;
}

static int
setopt(void *s, int opt, const void *v, size_t len, const char *name)
{
	if (zmq_setsockopt(s, opt, v, len) == 0)
		return 0;
	err_set(TS_EIO, "bus: set %s: %s", name, zmq_strerror(errno));
	return -1;
}

static int
setopt_int(void *s, int opt, int v, const char *name)
{
	return setopt(s, opt, &v, sizeof(v), name);
}

/* Options both sides share: bounded linger, inbound size cap (applied
 * before authentication too), queues, heartbeats, handshake deadline. */
/*
 * Per-agent inbound queue on the controller: with max_msg_size it bounds
 * what one (authenticated) agent can make the controller hold. libzmq
 * reads a frame into a decode buffer of 8 KiB plus reference counts (18
 * KiB from malloc) and a frame under 8 KiB points into it, so every frame
 * queued here pins a whole buffer until the bus thread reads it (1,000
 * agents pinned 485 MiB while the bus thread lagged: docs/PERFORMANCE.md,
 * "Memory, split"). Not lower: a full queue makes libzmq stop reading the
 * connection, and with Debian's libzmq 4.3.4 both fleetsim runs at 8 lost
 * the controller to SIGABRT ("Assertion failed: !_io_error
 * (src/stream_engine_base.cpp:331)" in the one whose log was kept; likely
 * a stopped connection that failed meanwhile, its agent's ZMTP pings
 * unanswered: docs/PERFORMANCE.md, "Memory, part 2"). The queue must stay
 * short of full instead: the bus thread should not lag.
 */
#define SERVER_RCVHWM	64

static int
setopts_common(struct bus *b, void *s)
{
	if (setopt_int(s, ZMQ_LINGER, LINGER_MS, "ZMQ_LINGER") == -1 ||
	    setopt(s, ZMQ_MAXMSGSIZE, &b->max_msg_size,
	    sizeof(b->max_msg_size), "ZMQ_MAXMSGSIZE") == -1 ||
	    setopt_int(s, ZMQ_SNDHWM, b->sndhwm, "ZMQ_SNDHWM") == -1 ||
	    setopt_int(s, ZMQ_RCVHWM, b->role == ROLE_SERVER ?
	    SERVER_RCVHWM : b->sndhwm, "ZMQ_RCVHWM") == -1 ||
	    setopt_int(s, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS,
	    "ZMQ_HANDSHAKE_IVL") == -1)
		return -1;
	/*
	 * Only the client pings (and closes a silent connection after three
	 * intervals); its pings carry no TTL, and the server sends none of
	 * its own. libzmq keeps every connection's heartbeat timers in one
	 * ordered map per I/O thread and cancels one by walking the map,
	 * once per frame received while a TTL or ping timeout is armed: at
	 * thousands of agents that walk was a tenth of the controller's
	 * CPU. The server finds dead peers with TCP keepalive instead, which
	 * the kernel runs at no cost to the I/O thread.
	 */
	if (b->heartbeat_ivl_ms > 0 && b->role == ROLE_CLIENT &&
	    (setopt_int(s, ZMQ_HEARTBEAT_IVL, b->heartbeat_ivl_ms,
	    "ZMQ_HEARTBEAT_IVL") == -1 ||
	    setopt_int(s, ZMQ_HEARTBEAT_TIMEOUT, 3 * b->heartbeat_ivl_ms,
	    "ZMQ_HEARTBEAT_TIMEOUT") == -1))
		return -1;
	if (b->heartbeat_ivl_ms > 0 && b->role == ROLE_SERVER) {
		int secs = (b->heartbeat_ivl_ms + 999) / 1000;

		if (setopt_int(s, ZMQ_TCP_KEEPALIVE, 1,
		    "ZMQ_TCP_KEEPALIVE") == -1 ||
		    setopt_int(s, ZMQ_TCP_KEEPALIVE_IDLE, secs,
		    "ZMQ_TCP_KEEPALIVE_IDLE") == -1 ||
		    setopt_int(s, ZMQ_TCP_KEEPALIVE_INTVL, secs,
		    "ZMQ_TCP_KEEPALIVE_INTVL") == -1 ||
		    setopt_int(s, ZMQ_TCP_KEEPALIVE_CNT, 3,
		    "ZMQ_TCP_KEEPALIVE_CNT") == -1)
			return -1;
	}
	if (strchr(b->endpoint_cfg, '[') != NULL &&
	    setopt_int(s, ZMQ_IPV6, 1, "ZMQ_IPV6") == -1)
		return -1;
	return 0;
}

/* ---------------------------------------------------------- ZAP (RFC 27) */

/* key (Z85, may be NULL) goes into the reply's metadata as property
 * BUS_META_KEY (ZMTP property encoding: name length, name, 4-byte value
 * length, value); libzmq attaches it to every message of the connection,
 * so the application can tell which key a live connection was made with
 * (a re-enrolled host's old key must stop working at once). */
static int
zap_send_reply(void *zap, zmq_msg_t *reqid, const char *code,
    const char *text, const char *user, const char *key)
{
	const void *rid = reqid ? zmq_msg_data(reqid) : "";
	size_t rlen = reqid ? zmq_msg_size(reqid) : 0;
	unsigned char meta[1 + sizeof(BUS_META_KEY) + 4 + BUS_KEY_Z85_LEN];
	size_t mlen = 0, nl = strlen(BUS_META_KEY);

	if (key && strlen(key) == BUS_KEY_Z85_LEN) {
		meta[mlen++] = (unsigned char)nl;
		memcpy(meta + mlen, BUS_META_KEY, nl);
		mlen += nl;
		meta[mlen++] = 0;
		meta[mlen++] = 0;
		meta[mlen++] = 0;
		meta[mlen++] = BUS_KEY_Z85_LEN;
		memcpy(meta + mlen, key, BUS_KEY_Z85_LEN);
		mlen += BUS_KEY_Z85_LEN;
	}
	if (zmq_send(zap, "1.0", 3, ZMQ_SNDMORE) == -1 ||
	    zmq_send(zap, rid, rlen, ZMQ_SNDMORE) == -1 ||
	    zmq_send(zap, code, strlen(code), ZMQ_SNDMORE) == -1 ||
	    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE) == -1 ||
	    zmq_send(zap, user, strlen(user), ZMQ_SNDMORE) == -1 ||
	    zmq_send(zap, meta, mlen, 0) == -1)
		return -1;
	return 0;
}

static int
frame_is(zmq_msg_t *m, const char *s)
{
	size_t n = strlen(s);

	return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* Answer one request: frames version, request id, domain, address, routing
 * id, mechanism, credentials (the client's 32-byte long-term key). */
static int
zap_handle(struct bus *b, void *zap, zmq_msg_t *f, int n, int total)
{
	char key[BUS_KEY_Z85_LEN + 1], host[BUS_HOST_MAX + 1], addr[64];
	size_t alen, i;

	if (total != 7 || !frame_is(&f[0], "1.0") ||
	    !frame_is(&f[2], BUS_ZAP_DOMAIN)) {
		log_error("bus: malformed ZAP request (%d frames)", total);
		return zap_send_reply(zap, n > 1 ? &f[1] : NULL, "500",
		    "malformed request", "", NULL);
	}
	alen = zmq_msg_size(&f[3]);
	if (alen >= sizeof(addr))
		alen = sizeof(addr) - 1;
	memcpy(addr, zmq_msg_data(&f[3]), alen);
	addr[alen] = '\0';
	for (i = 0; i < alen; i++)
		if (addr[i] < 0x20 || addr[i] > 0x7e)
			addr[i] = '?';
	if (!frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != 32) {
		log_warnx("bus: refused non-CURVE client from %s", addr);
		return zap_send_reply(zap, &f[1], "400",
		    "CURVE required", "", NULL);
	}
	if (zmq_z85_encode(key, zmq_msg_data(&f[6]), 32) == NULL) {
		log_error("bus: cannot encode a client key");
		return zap_send_reply(zap, &f[1], "500", "internal error",
		    "", NULL);
	}
	memset(host, 0, sizeof(host));
	if (b->allow(key, host, sizeof(host), b->allow_arg) != 0) {
		log_warnx("bus: refused CURVE key %s from %s: not enrolled",
		    key, addr);
		return zap_send_reply(zap, &f[1], "400", "not enrolled",
		    "", NULL);
	}
	if (memchr(host, '\0', sizeof(host)) == NULL || !bus_host_valid(host)) {
		log_error("bus: allow callback gave an invalid host name for "
		    "key %s; refusing it", key);
		return zap_send_reply(zap, &f[1], "400", "not enrolled",
		    "", NULL);
	}
	log_debug("bus: CURVE key %s from %s accepted as host %s", key, addr,
	    host);
	return zap_send_reply(zap, &f[1], "200", "OK", host, key);
}

/* Read one request from zap (readable: a REP delivers a request whole)
 * and answer it. 0: answered; -1: the thread must end (ETERM, or a
 * reply that could not be sent, which leaves the REP socket unusable). */
static int
zap_serve(struct bus *b, void *zap)
{
	zmq_msg_t f[ZAP_FRAMES_MAX], extra;
	int i, n = 0, total = 0, more = 1, rc = 0;

	for (i = 0; i < ZAP_FRAMES_MAX; i++)
		zmq_msg_init(&f[i]);
	zmq_msg_init(&extra);
	while (more) {
		zmq_msg_t *m = n < ZAP_FRAMES_MAX ? &f[n] : &extra;

		if (zmq_msg_recv(m, zap, 0) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ETERM)
				log_error("bus: ZAP receive: %s",
				    zmq_strerror(errno));
			rc = -1;
			goto out;
		}
		more = zmq_msg_more(m);
		total++;
		if (n < ZAP_FRAMES_MAX)
			n++;
	}
	if (zap_handle(b, zap, f, n, total) == -1) {
		if (errno != ETERM)
			log_error("bus: ZAP reply: %s", zmq_strerror(errno));
		rc = -1;
	}
out:
	for (i = 0; i < ZAP_FRAMES_MAX; i++)
		zmq_msg_close(&f[i]);
	zmq_msg_close(&extra);
	return rc;
}

static void *
zap_socket(struct bus *b)
{
	void *zap;

	if ((zap = zmq_socket(b->ctx, ZMQ_REP)) == NULL) {
		err_set(TS_EIO, "bus: ZAP socket: %s", zmq_strerror(errno));
		return NULL;
	}
	if (setopt_int(zap, ZMQ_LINGER, 0, "ZMQ_LINGER") == -1) {
		zmq_close(zap);
		return NULL;
	}
	return zap;
}

/*
 * Replace *cur, the bound handler, by a new socket bound to the same
 * name; the old one goes to *old (still to be served, then closed by the
 * caller). 0: done; -1: nothing changed (*cur still bound); -2: nothing
 * is bound (the caller binds *cur again until it succeeds).
 *
 * Why no connection is ever accepted unauthenticated, whatever the
 * timing (libzmq 4.3.4: curve_server.cpp process_initiate(),
 * session_base.cpp zap_connect(), pipe.cpp):
 *  - A CURVE INITIATE arriving while no handler is bound (between the
 *    unbind and the bind below, or after -2) finds no endpoint:
 *    zap_connect() fails and, because server_open() sets
 *    ZMQ_ZAP_ENFORCE_DOMAIN (its failure fails bus_server_new), the
 *    handshake fails and the connection is closed. Without that option
 *    libzmq would accept the client with no ZAP check at all: it is the
 *    one setting this relies on. The client reconnects.
 *  - A connection that found the old socket just before the unbind still
 *    attaches to it (find_endpoint() holds it alive until libzmq's bind
 *    command arrives) and is answered during the grace; a request the
 *    old socket has not answered when it closes is dropped with its pipe
 *    (the closing socket also ends any pipe attached after its close),
 *    the session's ZAP pipe ends, and the handshake waits for a reply
 *    that never comes until ZMQ_HANDSHAKE_IVL (HANDSHAKE_IVL_MS) closes
 *    the connection. A client is accepted only on a "200" reply read
 *    from its own ZAP pipe, and only zap_handle() writes one.
 *  - An established connection never reads its ZAP pipe again, so its
 *    end (by the handler's close) changes nothing for it: the pipe's
 *    "read activated" path (which would assert on a finished handshake)
 *    is not taken for a pipe that ends by its peer's termination.
 */
static int
zap_retire(struct bus *b, void **cur, void **old)
{
	void *fresh;

	if ((fresh = zap_socket(b)) == NULL) {
		log_error("%s", err_msg());
		return -1;
	}
	if (zmq_unbind(*cur, ZAP_ENDPOINT) == -1) {
		log_error("bus: unbind %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(errno));
		zmq_close(fresh);
		return -1;
	}
	if (zmq_bind(fresh, ZAP_ENDPOINT) == -1) {
		log_error("bus: bind %s: %s (the handler socket is kept)",
		    ZAP_ENDPOINT, zmq_strerror(errno));
		zmq_close(fresh);
		return zmq_bind(*cur, ZAP_ENDPOINT) == 0 ? -1 : -2;
	}
	*old = *cur;
	*cur = fresh;
	return 0;
}

/* The ZAP thread: answers requests on the bound socket (and on the one
 * retired last, for ZAP_GRACE_MS), retires the bound one as described at
 * ZAP_RETIRE_AFTER, until the context ends. Every wait is a poll with a
 * timeout derived from the next deadline, or none when nothing is due. */
static void *
zap_main(void *arg)
{
	struct bus *b = arg;
	void *cur = b->zap, *old = NULL;
	int64_t now, last = 0, old_end = 0, retry_at = 0;
	unsigned served = 0;
	int bound = 1, rc;

	for (;;) {
		zmq_pollitem_t it[2];
		int64_t due = -1;
		int n = 1;

		now = clock_mono_ms();
		if (old != NULL && now >= old_end) {
			zmq_close(old);
			old = NULL;
		}
		if (!bound && zmq_bind(cur, ZAP_ENDPOINT) == 0) {
			log_info("bus: ZAP handler bound again");
			bound = 1;
		}
		if (bound && old == NULL && served > 0 && now >= retry_at &&
		    (served >= b->zap_retire_after ||
		    now - last >= ZAP_RETIRE_IDLE_MS)) {
			rc = zap_retire(b, &cur, &old);
			if (rc == 0) {
				old_end = now + ZAP_GRACE_MS;
				served = 0;
				count(&b->zap_retired, 1);
			} else {
				retry_at = now + ZAP_RETIRE_IDLE_MS;
				if (rc == -2) {
					log_error("bus: no ZAP handler bound: "
					    "every CURVE handshake fails until "
					    "it is");
					bound = 0;
				}
			}
		}
		if (!bound)
			due = now + ZAP_REBIND_MS;
		else if (old != NULL)
			due = old_end;
		else if (served > 0) {
			due = served >= b->zap_retire_after ? now :
			    last + ZAP_RETIRE_IDLE_MS;
			if (due < retry_at)
				due = retry_at;
		}
		it[0] = (zmq_pollitem_t){ cur, 0, ZMQ_POLLIN, 0 };
		if (old != NULL)
			it[n++] = (zmq_pollitem_t){ old, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(it, n, due < 0 ? -1 :
		    (long)(due > now ? due - now : 0)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ETERM)
				log_error("bus: ZAP poll: %s",
				    zmq_strerror(errno));
			break;
		}
		if (it[0].revents & ZMQ_POLLIN) {
			if (zap_serve(b, cur) == -1)
				break;
			served++;
			last = clock_mono_ms();
		}
		if (n == 2 && (it[1].revents & ZMQ_POLLIN) &&
		    zap_serve(b, old) == -1)
			break;
	}
	if (old != NULL)
		zmq_close(old);
	zmq_close(cur);
	return NULL;
}

/* Bind the handler in this thread, so it exists before the ROUTER binds,
 * then hand the socket to its own thread (thread creation is the full
 * memory barrier libzmq asks for when a socket migrates). */
static int
zap_start(struct bus *b)
{
	sigset_t all, old;
	int rc;

	if ((b->zap = zap_socket(b)) == NULL)
		return -1;
	if (zmq_bind(b->zap, ZAP_ENDPOINT) == -1) {
		err_set(TS_EIO, "bus: bind %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(errno));
		return -1;
	}
	/* Signals belong to the daemon's own threads (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&b->zap_thread, NULL, zap_main, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "bus: start ZAP thread");
		return -1;
	}
	b->zap_running = 1;
	return 0;
}

/* ------------------------------------------------------------- routes */

/* The index slot of host: its entry, or the empty slot it would take. */
static size_t
rindex_slot(const struct bus *b, const char *host)
{
	size_t mask = 2 * b->routes_cap - 1, i = hash_fnv32(host) & mask;

	/* Bounded: the index is at most half full. */
	while (b->rindex[i] != 0 &&
	    strcmp(b->routes[b->rindex[i] - 1].host, host) != 0)
		i = (i + 1) & mask;
	return i;
}

static void
rindex_rebuild(struct bus *b)
{
	size_t i;

	memset(b->rindex, 0, 2 * b->routes_cap * sizeof(b->rindex[0]));
	for (i = 0; i < b->nroutes; i++)
		b->rindex[rindex_slot(b, b->routes[i].host)] = (uint32_t)i + 1;
}

static struct route *
route_find(const struct bus *b, const char *host)
{
	uint32_t v;

	if (b->nroutes == 0)
		return NULL;
	v = b->rindex[rindex_slot(b, host)];
	return v == 0 ? NULL : &b->routes[v - 1];
}

static void
route_del(struct bus *b, const char *host)
{
	struct route *r = route_find(b, host);

	if (r == NULL)
		return;
	/* The last route moves into the hole: every later slot may change,
	 * and deletions are rare (a failed send), so rebuild. */
	*r = b->routes[--b->nroutes];
	rindex_rebuild(b);
}

static void
route_set(struct bus *b, const char *host, const char *rid)
{
	struct route *r;

	if ((r = route_find(b, host)) == NULL) {
		if (b->nroutes == ROUTES_MAX) {
			/* Forgetting a host is safe: sends to it fail until
			 * it speaks again. */
			log_warnx("bus: more than %d connected hosts; "
			    "forgetting %s", ROUTES_MAX, b->routes[0].host);
			route_del(b, b->routes[0].host);
		}
		if (b->nroutes == b->routes_cap) {
			size_t cap = b->routes_cap ? 2 * b->routes_cap : 16;
			struct route *v = realloc(b->routes, cap * sizeof(*v));
			uint32_t *ix;

			if (v == NULL) {
				log_error("bus: out of memory recording host "
				    "%s", host);
				return;
			}
			b->routes = v;
			if ((ix = calloc(2 * cap, sizeof(*ix))) == NULL) {
				log_error("bus: out of memory recording host "
				    "%s", host);
				return;
			}
			free(b->rindex);
			b->rindex = ix;
			b->routes_cap = cap;
			rindex_rebuild(b);
		}
		r = &b->routes[b->nroutes++];
		snprintf(r->host, sizeof(r->host), "%s", host);
		b->rindex[rindex_slot(b, host)] = (uint32_t)b->nroutes;
	}
	snprintf(r->rid, sizeof(r->rid), "%s", rid);
}

/* ---------------------------------------------------------------- sockets */

static int
server_open(struct bus *b)
{
	size_t len = sizeof(b->endpoint);

	if ((b->sock = zmq_socket(b->ctx, ZMQ_ROUTER)) == NULL) {
		err_set(TS_EIO, "bus: ROUTER socket: %s", zmq_strerror(errno));
		return -1;
	}
	if (setopts_common(b, b->sock) == -1 ||
	    setopt_int(b->sock, ZMQ_ROUTER_MANDATORY, 1,
	    "ZMQ_ROUTER_MANDATORY") == -1 ||
	    setopt_int(b->sock, ZMQ_ROUTER_HANDOVER, 1,
	    "ZMQ_ROUTER_HANDOVER") == -1 ||
	    (b->backlog > 0 && setopt_int(b->sock, ZMQ_BACKLOG, b->backlog,
	    "ZMQ_BACKLOG") == -1))
		return -1;
	if (b->curve &&
	    (setopt_int(b->sock, ZMQ_CURVE_SERVER, 1,
	    "ZMQ_CURVE_SERVER") == -1 ||
	    setopt(b->sock, ZMQ_CURVE_SECRETKEY, b->secret_key,
	    sizeof(b->secret_key), "ZMQ_CURVE_SECRETKEY") == -1 ||
	    setopt(b->sock, ZMQ_ZAP_DOMAIN, BUS_ZAP_DOMAIN,
	    strlen(BUS_ZAP_DOMAIN), "ZMQ_ZAP_DOMAIN") == -1 ||
	    setopt_int(b->sock, ZMQ_ZAP_ENFORCE_DOMAIN, 1,
	    "ZMQ_ZAP_ENFORCE_DOMAIN") == -1))
		return -1;
	if (zmq_bind(b->sock, b->endpoint_cfg) == -1) {
		err_set(errno == EINVAL || errno == EPROTONOSUPPORT ?
		    TS_EINVALID : TS_EIO, "bus: bind %s: %s", b->endpoint_cfg,
		    zmq_strerror(errno));
		return -1;
	}
	if (zmq_getsockopt(b->sock, ZMQ_LAST_ENDPOINT, b->endpoint, &len) == -1)
		snprintf(b->endpoint, sizeof(b->endpoint), "%s",
		    b->endpoint_cfg);
	return 0;
}

static int
monitor_open(struct bus *b)
{
	char addr[64];

	snprintf(addr, sizeof(addr), "inproc://bus-monitor-%p-%u", (void *)b,
	    ++b->mon_gen);
	if (zmq_socket_monitor(b->sock, addr, MON_EVENTS) == -1) {
		err_set(TS_EIO, "bus: socket monitor: %s", zmq_strerror(errno));
		return -1;
	}
	if ((b->mon = zmq_socket(b->ctx, ZMQ_PAIR)) == NULL) {
		err_set(TS_EIO, "bus: monitor socket: %s", zmq_strerror(errno));
		return -1;
	}
	if (setopt_int(b->mon, ZMQ_LINGER, 0, "ZMQ_LINGER") == -1)
		return -1;
	if (zmq_connect(b->mon, addr) == -1) {
		err_set(TS_EIO, "bus: connect %s: %s", addr,
		    zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static void
client_close(struct bus *b)
{
	if (b->sock != NULL)
		zmq_socket_monitor(b->sock, NULL, 0);
	if (b->mon != NULL)
		zmq_close(b->mon);
	b->mon = NULL;
	if (b->sock != NULL)
		zmq_close(b->sock);
	b->sock = NULL;
	b->connected = 0;
}

static int
client_open(struct bus *b)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[RID_SUFFIX_LEN / 2];
	void *s;
	size_t i, n;

	/* A fresh unguessable suffix per socket: see bus.h. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		err_set_errno(TS_EINTERNAL, "bus: getrandom");
		return -1;
	}
	n = strlen(b->identity);
	memcpy(b->rid, b->identity, n);
	b->rid[n++] = '/';
	for (i = 0; i < sizeof(rnd); i++) {
		b->rid[n++] = hex[rnd[i] >> 4];
		b->rid[n++] = hex[rnd[i] & 0xf];
	}
	b->rid[n] = '\0';
	if ((s = b->sock = zmq_socket(b->ctx, ZMQ_DEALER)) == NULL) {
		err_set(TS_EIO, "bus: DEALER socket: %s", zmq_strerror(errno));
		return -1;
	}
	/* IMMEDIATE: queue only on a completed (authenticated) connection,
	 * so sending while the controller is away fails instead of piling
	 * up in a pipe. PROBE_ROUTER: every new connection announces itself
	 * (see bus.h on routing id takeover). */
	if (setopts_common(b, s) == -1 ||
	    setopt(s, ZMQ_ROUTING_ID, b->rid, strlen(b->rid),
	    "ZMQ_ROUTING_ID") == -1 ||
	    setopt_int(s, ZMQ_RECONNECT_IVL, b->reconnect_ivl_ms,
	    "ZMQ_RECONNECT_IVL") == -1 ||
	    setopt_int(s, ZMQ_RECONNECT_IVL_MAX, b->reconnect_max_ms,
	    "ZMQ_RECONNECT_IVL_MAX") == -1 ||
	    setopt_int(s, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE") == -1 ||
	    setopt_int(s, ZMQ_PROBE_ROUTER, 1, "ZMQ_PROBE_ROUTER") == -1)
		return -1;
	if (b->curve &&
	    (setopt(s, ZMQ_CURVE_SERVERKEY, b->server_public,
	    sizeof(b->server_public), "ZMQ_CURVE_SERVERKEY") == -1 ||
	    setopt(s, ZMQ_CURVE_PUBLICKEY, b->public_key,
	    sizeof(b->public_key), "ZMQ_CURVE_PUBLICKEY") == -1 ||
	    setopt(s, ZMQ_CURVE_SECRETKEY, b->secret_key,
	    sizeof(b->secret_key), "ZMQ_CURVE_SECRETKEY") == -1))
		return -1;
	if (monitor_open(b) == -1)
		return -1;
	if (zmq_connect(s, b->endpoint_cfg) == -1) {
		err_set(errno == EINVAL || errno == EPROTONOSUPPORT ?
		    TS_EINVALID : TS_EIO, "bus: connect %s: %s",
		    b->endpoint_cfg, zmq_strerror(errno));
		return -1;
	}
	b->connected = 0;
	b->hs_fail_logged = 0;
	b->last_rx_ms = clock_mono_ms();
	return 0;
}

/* Read whatever the monitor has queued and update the connection state.
 * Each event is two frames: 6 bytes (uint16 event, uint32 value, host
 * order) and the endpoint. */
static void
monitor_drain(struct bus *b)
{
	for (;;) {
		zmq_msg_t ev, ep;
		uint16_t id = 0;
		uint32_t val = 0;
		int more;

		if (b->mon == NULL)
			return;
		zmq_msg_init(&ev);
		if (zmq_msg_recv(&ev, b->mon, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&ev);
			return;
		}
		if (zmq_msg_size(&ev) == 6) {
			memcpy(&id, zmq_msg_data(&ev), 2);
			memcpy(&val, (char *)zmq_msg_data(&ev) + 2, 4);
		}
		more = zmq_msg_more(&ev);
		zmq_msg_close(&ev);
		while (more) {
			zmq_msg_init(&ep);
			if (zmq_msg_recv(&ep, b->mon, ZMQ_DONTWAIT) == -1) {
				zmq_msg_close(&ep);
				break;
			}
			more = zmq_msg_more(&ep);
			zmq_msg_close(&ep);
		}
		switch (id) {
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			count(&b->handshakes, 1);
			b->connected = 1;
			b->hs_fail_logged = 0;
			log_info("bus: connected to %s as %s", b->endpoint,
			    b->identity);
			break;
		case ZMQ_EVENT_DISCONNECTED:
			if (b->connected)
				log_warnx("bus: lost the connection to %s",
				    b->endpoint);
			b->connected = 0;
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
			if (!b->hs_fail_logged)
				log_error("bus: %s refused this host's key "
				    "(ZAP status %u): is %s enrolled?",
				    b->endpoint, val, b->identity);
			b->hs_fail_logged = 1;
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			if (!b->hs_fail_logged)
				log_warnx("bus: handshake with %s failed "
				    "(event %#x, detail %#x): check the "
				    "server's public key and CURVE settings",
				    b->endpoint, id, val);
			b->hs_fail_logged = 1;
			break;
		default:
			break;
		}
	}
}

/* -------------------------------------------------------------- lifetime */

static struct bus *
bus_alloc(enum role role, const struct bus_opts *o)
{
	struct bus *b;
	int rc;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		err_set(TS_ENOMEM, "bus: out of memory");
		return NULL;
	}
	b->role = role;
	b->wakefd = -1;
	if ((rc = pthread_mutex_init(&b->qlock, NULL)) != 0) {
		free(b);
		errno = rc;
		err_set_errno(TS_EINTERNAL, "bus: mutex");
		return NULL;
	}
	b->qlock_init = 1;
	if (opts_copy(b, o) == -1)
		goto fail;
	if ((b->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		err_set_errno(TS_EIO, "bus: eventfd");
		goto fail;
	}
	if (o->zmq_ctx != NULL) {
		if (role != ROLE_CLIENT) {
			err_set(TS_EINVALID, "bus: a shared context is for "
			    "clients");
			goto fail;
		}
		b->ctx = o->zmq_ctx;
		b->ctx_borrowed = 1;
		return b;
	}
	if ((b->ctx = zmq_ctx_new()) == NULL) {
		err_set(TS_EIO, "bus: zmq_ctx_new: %s", zmq_strerror(errno));
		goto fail;
	}
	/* Sockets default to zero linger, so term never waits forever even
	 * for a socket whose linger we did not set. */
	zmq_ctx_set(b->ctx, ZMQ_BLOCKY, 0);
	return b;
fail:
	bus_free(&b);
	return NULL;
}

struct bus *
bus_server_new(const struct bus_opts *o)
{
	struct bus *b;

	if ((b = bus_alloc(ROLE_SERVER, o)) == NULL)
		return NULL;
	if (b->curve && zap_start(b) == -1)
		goto fail;
	if (server_open(b) == -1)
		goto fail;
	if (!b->curve)
		log_warnx("bus: CURVE is disabled on %s: traffic is plain "
		    "text and any client can claim any host name (debugging "
		    "only)", b->endpoint);
	else
		log_info("bus: listening on %s (CURVE, ZAP domain %s)",
		    b->endpoint, BUS_ZAP_DOMAIN);
	return b;
fail:
	bus_free(&b);
	return NULL;
}

struct bus *
bus_client_new(const struct bus_opts *o)
{
	struct bus *b;

	if ((b = bus_alloc(ROLE_CLIENT, o)) == NULL)
		return NULL;
	if (client_open(b) == -1) {
		bus_free(&b);
		return NULL;
	}
	if (!b->curve)
		log_warnx("bus: CURVE is disabled towards %s: traffic is "
		    "plain text (debugging only)", b->endpoint);
	return b;
}

int
bus_client_reconnect(struct bus *b)
{
	if (b->role != ROLE_CLIENT) {
		err_set(TS_EINVALID, "bus: reconnect is for clients");
		return -1;
	}
	log_info("bus: reconnecting to %s", b->endpoint);
	client_close(b);
	if (client_open(b) == -1) {
		client_close(b);
		return -1;
	}
	return 0;
}

void
bus_free(struct bus **bp)
{
	struct bus *b;
	struct post *p;

	if (bp == NULL || (b = *bp) == NULL)
		return;
	*bp = NULL;
	if (b->role == ROLE_CLIENT)
		client_close(b);
	else if (b->sock != NULL)
		zmq_close(b->sock);
	if (b->ctx != NULL && !b->ctx_borrowed) {
		/* Wakes the ZAP thread's poll with ETERM; it closes its
		 * sockets (the bound one and one in its grace) and exits. */
		zmq_ctx_shutdown(b->ctx);
		if (b->zap_running)
			pthread_join(b->zap_thread, NULL);
		else if (b->zap != NULL)
			zmq_close(b->zap);
		while (zmq_ctx_term(b->ctx) == -1 && errno == EINTR)
			;
	}
	while ((p = b->qhead) != NULL) {
		b->qhead = p->next;
		free(p);
	}
	free(b->routes);
	free(b->rindex);
	if (b->wakefd != -1)
		close(b->wakefd);
	if (b->qlock_init)
		pthread_mutex_destroy(&b->qlock);
	explicit_bzero(b->secret_key, sizeof(b->secret_key));
	free(b);
}

const char *
bus_endpoint(const struct bus *b)
{
	return b->endpoint;
}

int64_t
bus_peer_silent_ms(const struct bus *b)
{
	if (b->role != ROLE_CLIENT)
		return 0;
	return clock_mono_ms() - b->last_rx_ms;
}

int
bus_fd(const struct bus *b)
{
	int fd;
	size_t len = sizeof(fd);

	if (b->sock == NULL || zmq_getsockopt(b->sock, ZMQ_FD, &fd,
	    &len) == -1)
		return -1;
	return fd;
}

int64_t
bus_backlog_ms(const struct bus *b)
{
	int64_t t = atomic_load_explicit(&b->caught_up_ms,
	    memory_order_relaxed), d;

	if (t == 0)
		return 0;
	d = clock_mono_ms() - t;
	return d > 0 ? d : 0;
}

int
bus_client_connected(const struct bus *b)
{
	return b->role == ROLE_CLIENT ? b->connected : 1;
}

/* ------------------------------------------------------------ sending */

static int
check_frame(const struct bus *b, const char *peer, size_t len)
{
	if (len == 0) {
		/* Empty frames are the connection probes. */
		err_set(TS_EINVALID, "bus: empty frame");
		return -1;
	}
	if ((uint64_t)len > (uint64_t)b->max_msg_size) {
		err_set(TS_ETOO_LARGE, "bus: frame of %zu bytes exceeds the "
		    "%lld byte limit", len, (long long)b->max_msg_size);
		return -1;
	}
	if (b->role == ROLE_SERVER && !bus_host_valid(peer)) {
		err_set(TS_EINVALID, "bus: invalid peer name");
		return -1;
	}
	return 0;
}

static int
client_send(struct bus *b, const void *buf, size_t len)
{
	if (zmq_send(b->sock, buf, len, ZMQ_DONTWAIT) != -1)
		return 0;
	if (errno == EAGAIN) {
		monitor_drain(b);
		if (!b->connected)
			err_set(TS_EUNREACHABLE, "controller %s unreachable "
			    "(not connected)", b->endpoint);
		else
			err_set(TS_EUNAVAILABLE, "send queue to %s is full",
			    b->endpoint);
	} else
		err_set(TS_EIO, "bus: send to %s: %s", b->endpoint,
		    zmq_strerror(errno));
	return -1;
}

/* A frame went out: the totals, and its class when the bus has them. */
static void
count_sent(struct bus *b, const void *buf, size_t len)
{
	unsigned k;

	count(&b->msgs_out, 1);
	count(&b->bytes_out, len);
	if (b->classify != NULL) {
		k = b->classify(buf, len);
		count(&b->sent_class[k < BUS_SEND_CLASSES ? k : 0], 1);
	}
}

int
bus_send(struct bus *b, const char *peer, const void *buf, size_t len)
{
	struct route *r;

	if (check_frame(b, peer, len) == -1)
		return -1;
	if (b->sock == NULL) {
		err_set(TS_EUNREACHABLE, "bus: no socket (reconnect failed)");
		count(&b->send_unreachable, 1);
		return -1;
	}
	if (b->role == ROLE_CLIENT) {
		if (client_send(b, buf, len) == -1) {
			count(&b->send_io, 1);
			return -1;
		}
		count_sent(b, buf, len);
		return 0;
	}
	if ((r = route_find(b, peer)) == NULL) {
		count(&b->send_unreachable, 1);
		err_set(TS_EUNREACHABLE, "agent %s unreachable (not "
		    "connected)", peer);
		return -1;
	}
	/* With ROUTER_MANDATORY the routing-id frame fails for an unknown
	 * peer (EHOSTUNREACH) or a full pipe (EAGAIN) instead of the ROUTER
	 * dropping the message silently. */
	if (zmq_send(b->sock, r->rid, strlen(r->rid),
	    ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
		if (errno == EHOSTUNREACH) {
			route_del(b, peer);
			err_set(TS_EUNREACHABLE, "agent %s unreachable", peer);
			count(&b->send_unreachable, 1);
		} else if (errno == EAGAIN) {
			err_set(TS_EUNAVAILABLE, "agent %s: send queue full",
			    peer);
			count(&b->send_full, 1);
		} else {
			err_set(TS_EIO, "bus: send to %s: %s", peer,
			    zmq_strerror(errno));
			count(&b->send_io, 1);
		}
		return -1;
	}
	if (zmq_send(b->sock, buf, len, ZMQ_DONTWAIT) == -1) {
		err_set(TS_EIO, "bus: send to %s: %s", peer,
		    zmq_strerror(errno));
		count(&b->send_io, 1);
		return -1;
	}
	count_sent(b, buf, len);
	return 0;
}

int
bus_post(struct bus *b, const char *peer, const void *buf, size_t len)
{
	struct post *p;
	uint64_t one = 1;

	if (check_frame(b, peer, len) == -1)
		return -1;
	if ((p = malloc(sizeof(*p) + len)) == NULL) {
		err_set(TS_ENOMEM, "bus: out of memory queueing %zu bytes",
		    len);
		return -1;
	}
	p->next = NULL;
	p->len = len;
	memcpy(p->data, buf, len);
	snprintf(p->peer, sizeof(p->peer), "%s",
	    b->role == ROLE_SERVER ? peer : "");
	pthread_mutex_lock(&b->qlock);
	if (b->qlen >= b->qmax) {
		pthread_mutex_unlock(&b->qlock);
		count(&b->post_refused, 1);
		free(p);
		err_set(TS_EUNAVAILABLE, "bus: send queue full (%zu "
		    "messages)", b->qmax);
		return -1;
	}
	if (b->qtail != NULL)
		b->qtail->next = p;
	else
		b->qhead = p;
	b->qtail = p;
	b->qlen++;
	pthread_mutex_unlock(&b->qlock);
	/* Cannot fail short of counter overflow (2^64-2 wake-ups unread);
	 * the frame is queued either way and goes out on the next poll. */
	if (write(b->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("bus: wake-up");
	return 0;
}

/* Send everything posted so far. The list is detached under the lock, so
 * posters never wait for the sends; a failure is logged with the peer, as
 * nobody is left to return it to. */
static void
drain_posts(struct bus *b)
{
	struct post *p, *next;
	uint64_t v;

	while (read(b->wakefd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&b->qlock);
	p = b->qhead;
	b->qhead = b->qtail = NULL;
	b->qlen = 0;
	pthread_mutex_unlock(&b->qlock);
	for (; p != NULL; p = next) {
		next = p->next;
		if (bus_send(b, p->peer, p->data, p->len) == -1)
			log_warnx("bus: posted message (%zu bytes) not sent: "
			    "%s", p->len, err_msg());
		free(p);
	}
}

/* ------------------------------------------------------------ receiving */

static void
caught_up(struct bus *b)
{
	atomic_store_explicit(&b->caught_up_ms, clock_mono_ms(),
	    memory_order_relaxed);
}

/* Discard the remaining frames of a multi-part message. */
static void
discard_rest(void *sock)
{
	int more = 1;

	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&m);
			return;
		}
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
}

static int
fill_msg(struct bus_msg *out, zmq_msg_t *body)
{
	size_t len = zmq_msg_size(body);

	if ((out->data = malloc(len)) == NULL) {
		err_set(TS_ENOMEM, "bus: out of memory receiving %zu bytes",
		    len);
		return -1;
	}
	memcpy(out->data, zmq_msg_data(body), len);
	out->len = len;
	return 1;
}

/* 1: *out filled; 0: nothing (or a frame consumed and dropped); -1 error. */
/* A peer can send bad frames as fast as it likes: log each kind of
 * dropped frame at most once a second, counting the ones left out. */
static void __attribute__((format(printf, 3, 4)))
log_drop(struct bus *b, enum drop why, const char *fmt, ...)
{
	char msg[512];
	int64_t now = clock_mono_ms();
	va_list ap;

	atomic_fetch_add_explicit(&b->drops[why], 1, memory_order_relaxed);
	if (b->drop_log_ms[why] != 0 && now - b->drop_log_ms[why] < 1000) {
		b->drops_suppressed[why]++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (why == DROP_IMPOSTOR)
		log_error("bus: dropped %s (%u similar suppressed)", msg,
		    b->drops_suppressed[why]);
	else
		log_warnx("bus: dropped %s (%u similar suppressed)", msg,
		    b->drops_suppressed[why]);
	b->drop_log_ms[why] = now;
	b->drops_suppressed[why] = 0;
}

/* 1: *out filled; 0: nothing (or a frame consumed and dropped); -1 error. */
static int
server_recv(struct bus *b, struct bus_msg *out)
{
	zmq_msg_t id, body;
	const char *user, *key;
	char rid[RID_MAX + 1], host[BUS_HOST_MAX + 1];
	int rc = 0;

	zmq_msg_init(&id);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&id, b->sock, ZMQ_DONTWAIT) == -1) {
		if (errno == EAGAIN) {
			b->rd_sock = NULL;
			caught_up(b);
		}
		else if (errno != EINTR) {
			err_set(TS_EIO, "bus: receive: %s",
			    zmq_strerror(errno));
			rc = -1;
		}
		goto done;
	}
	/* A ROUTER always delivers the routing id then the body; once the
	 * first part is here, the rest is too. */
	if (!zmq_msg_more(&id) ||
	    zmq_msg_recv(&body, b->sock, ZMQ_DONTWAIT) == -1)
		goto done;
	if (zmq_msg_more(&body)) {
		discard_rest(b->sock);
		log_drop(b, DROP_MULTIPART, "a multi-part message");
		goto done;
	}
	user = zmq_msg_gets(&body, "User-Id");
	if (parse_rid(zmq_msg_data(&id), zmq_msg_size(&id), rid, host) == -1) {
		log_drop(b, DROP_NOT_BUS, "a message from a peer that is not "
		    "a bus client (user %.64s)", user ? user : "none");
		goto done;
	}
	if (b->curve && (user == NULL || strcmp(user, host) != 0)) {
		/* Nothing else to undo: the impostor's routing id is its
		 * own, so the real host's route is untouched. */
		log_drop(b, DROP_IMPOSTOR, "a message claiming to be from %s "
		    "on a connection authenticated as %.64s", host,
		    user ? user : "nobody");
		goto done;
	}
	if (zmq_msg_size(&body) == 0) {
		/* A new connection's probe: it is now the host's newest. */
		struct route *r = route_find(b, host);

		if (r == NULL || strcmp(r->rid, rid) != 0)
			log_info("bus: agent %s connected", host);
		route_set(b, host, rid);
		goto done;
	}
	/* Data normally follows the probe; recover a route forgotten after
	 * a failed send without letting an old connection displace a
	 * newer one. */
	if (route_find(b, host) == NULL)
		route_set(b, host, rid);
	snprintf(out->peer, sizeof(out->peer), "%s", host);
	snprintf(out->user_id, sizeof(out->user_id), "%s", host);
	key = b->curve ? zmq_msg_gets(&body, BUS_META_KEY) : NULL;
	snprintf(out->pubkey, sizeof(out->pubkey), "%s", key ? key : "");
	rc = fill_msg(out, &body);
done:
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	return rc;
}

static int
client_recv(struct bus *b, struct bus_msg *out)
{
	zmq_msg_t body;
	int rc = 0;

	zmq_msg_init(&body);
	if (zmq_msg_recv(&body, b->sock, ZMQ_DONTWAIT) == -1) {
		if (errno == EAGAIN) {
			b->rd_sock = NULL;
			caught_up(b);
		}
		else if (errno != EINTR) {
			err_set(TS_EIO, "bus: receive: %s",
			    zmq_strerror(errno));
			rc = -1;
		}
		goto done;
	}
	b->last_rx_ms = clock_mono_ms();
	if (zmq_msg_more(&body)) {
		discard_rest(b->sock);
		log_warnx("bus: dropped a multi-part message from %s",
		    b->endpoint);
		goto done;
	}
	if (zmq_msg_size(&body) == 0)
		goto done;
	rc = fill_msg(out, &body);
done:
	zmq_msg_close(&body);
	return rc;
}

/* ------------------------------------------------------------ the loop */

/* One frame from the socket, as bus_poll() returns it (0: none). */
static int
sock_recv(struct bus *b, struct bus_msg *out)
{
	int rc = b->role == ROLE_SERVER ? server_recv(b, out) :
	    client_recv(b, out);

	if (rc == 1) {
		count(&b->msgs_in, 1);
		count(&b->bytes_in, out->len);
		if (b->classify != NULL) {
			unsigned k = b->classify(out->data, out->len);

			count(&b->recv_class[k < BUS_SEND_CLASSES ? k : 0], 1);
		}
	}
	return rc;
}

void
bus_stats(struct bus *b, struct bus_stats *st)
{
#define L(x)	atomic_load_explicit(&b->x, memory_order_relaxed)
	memset(st, 0, sizeof(*st));
	st->msgs_in = L(msgs_in);
	st->bytes_in = L(bytes_in);
	st->msgs_out = L(msgs_out);
	st->bytes_out = L(bytes_out);
	st->send_unreachable = L(send_unreachable);
	st->send_queue_full = L(send_full);
	st->send_failed = L(send_io);
	st->post_refused = L(post_refused);
	st->drop_impostor = L(drops[DROP_IMPOSTOR]);
	st->drop_not_bus = L(drops[DROP_NOT_BUS]);
	st->drop_multipart = L(drops[DROP_MULTIPART]);
	st->handshakes = L(handshakes);
#undef L
	pthread_mutex_lock(&b->qlock);
	st->post_queued = b->qlen;
	pthread_mutex_unlock(&b->qlock);
}

uint64_t
bus_zap_retired(struct bus *b)
{
	return atomic_load_explicit(&b->zap_retired, memory_order_relaxed);
}

void
bus_sent_by_class(struct bus *b, uint64_t out[BUS_SEND_CLASSES])
{
	for (size_t k = 0; k < BUS_SEND_CLASSES; k++)
		out[k] = atomic_load_explicit(&b->sent_class[k],
		    memory_order_relaxed);
}

void
bus_received_by_class(struct bus *b, uint64_t out[BUS_SEND_CLASSES])
{
	for (size_t k = 0; k < BUS_SEND_CLASSES; k++)
		out[k] = atomic_load_explicit(&b->recv_class[k],
		    memory_order_relaxed);
}

int
bus_add_fd(struct bus *b, int fd, short events, bus_fd_fn cb, void *arg)
{
	int i;

	if (fd < 0 || cb == NULL ||
	    (events & ~(ZMQ_POLLIN | ZMQ_POLLOUT)) != 0 || events == 0) {
		err_set(TS_EINVALID, "bus: bad fd registration");
		return -1;
	}
	for (i = 0; i < b->nfds; i++)
		if (b->fds[i].fd == fd) {
			err_set(TS_ECONFLICT, "bus: fd %d already added", fd);
			return -1;
		}
	if (b->nfds == BUS_MAX_FDS) {
		err_set(TS_EINVALID, "bus: more than %d extra fds",
		    BUS_MAX_FDS);
		return -1;
	}
	b->fds[b->nfds].fd = fd;
	b->fds[b->nfds].events = events;
	b->fds[b->nfds].cb = cb;
	b->fds[b->nfds].arg = arg;
	b->nfds++;
	return 0;
}

int
bus_remove_fd(struct bus *b, int fd)
{
	int i;

	for (i = 0; i < b->nfds; i++)
		if (b->fds[i].fd == fd) {
			memmove(&b->fds[i], &b->fds[i + 1],
			    (size_t)(b->nfds - i - 1) * sizeof(b->fds[0]));
			b->nfds--;
			return 0;
		}
	err_set(TS_ENOT_FOUND, "bus: fd %d not added", fd);
	return -1;
}

/* Still registered as polled? An earlier callback in the same round may
 * have removed it (and freed its arg). */
static int
fd_registered(const struct bus *b, const struct extra_fd *x)
{
	int i;

	for (i = 0; i < b->nfds; i++)
		if (b->fds[i].fd == x->fd && b->fds[i].cb == x->cb &&
		    b->fds[i].arg == x->arg)
			return 1;
	return 0;
}

void
bus_msg_clear(struct bus_msg *m)
{
	if (m == NULL)
		return;
	free(m->data);
	m->data = NULL;
	m->len = 0;
	m->peer[0] = m->user_id[0] = m->pubkey[0] = '\0';
}

int
bus_poll(struct bus *b, int timeout_ms, struct bus_msg *out)
{
	zmq_pollitem_t items[3 + BUS_MAX_FDS];
	struct extra_fd fds[BUS_MAX_FDS];
	int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;

	out->data = NULL;
	out->len = 0;
	out->peer[0] = out->user_id[0] = out->pubkey[0] = '\0';
	drain_posts(b);
	/*
	 * While the socket has data, read it without polling: zmq_poll asks
	 * the socket for ZMQ_EVENTS, and a ROUTER with ROUTER_MANDATORY
	 * answers by walking every peer's pipe, which at thousands of agents
	 * cost more than the message. Every BURST_MAX reads the loop polls
	 * anyway, so the monitor and extra fds are not starved (posts are
	 * drained on every call, above).
	 */
	if (b->sock != NULL && b->rd_sock == b->sock &&
	    b->rd_burst < BURST_MAX) {
		int rc;

		b->rd_burst++;
		if ((rc = sock_recv(b, out)) != 0)
			return rc;
		/* a probe or a dropped frame: the loop decides */
	}
	for (;;) {
		int i, n, nfds, ni = 0, woke = 0, isock = -1, imon = -1, rc;
		long wait = -1;

		if (b->sock != NULL) {
			isock = ni;
			items[ni++] = (zmq_pollitem_t){ .socket = b->sock,
			    .events = ZMQ_POLLIN };
		}
		if (b->mon != NULL) {
			imon = ni;
			items[ni++] = (zmq_pollitem_t){ .socket = b->mon,
			    .events = ZMQ_POLLIN };
		}
		items[ni++] = (zmq_pollitem_t){ .fd = b->wakefd,
		    .events = ZMQ_POLLIN };
		/* A callback may add or remove fds: work on a copy. */
		nfds = b->nfds;
		memcpy(fds, b->fds, (size_t)nfds * sizeof(fds[0]));
		for (i = 0; i < nfds; i++)
			items[ni++] = (zmq_pollitem_t){ .fd = fds[i].fd,
			    .events = fds[i].events };
		if (deadline >= 0) {
			int64_t left = deadline - clock_mono_ms();

			wait = left > 0 ? (long)left : 0;
		}
		if ((n = zmq_poll(items, ni, wait)) == -1) {
			if (errno == EINTR)
				return 0;
			err_set(TS_EIO, "bus: poll: %s", zmq_strerror(errno));
			return -1;
		}
		/* before the callbacks: the tick judges hosts by it */
		if (isock >= 0 && !(items[isock].revents & ZMQ_POLLIN))
			caught_up(b);
		if (imon >= 0 && (items[imon].revents & ZMQ_POLLIN))
			monitor_drain(b);
		if (items[ni - nfds - 1].revents & ZMQ_POLLIN) {
			drain_posts(b);
			woke = 1;
		}
		for (i = 0; i < nfds; i++) {
			short rev = items[ni - nfds + i].revents;

			if (rev != 0 && fd_registered(b, &fds[i])) {
				fds[i].cb(fds[i].fd, rev, fds[i].arg);
				woke = 1;
			}
		}
		if (isock >= 0 && (items[isock].revents & ZMQ_POLLIN)) {
			b->rd_sock = b->sock;
			b->rd_burst = 0;
			rc = sock_recv(b, out);
			if (rc != 0)
				return rc;
		}
		if (woke || n == 0)
			return 0;
		if (deadline >= 0 && clock_mono_ms() >= deadline)
			return 0;
	}
}
