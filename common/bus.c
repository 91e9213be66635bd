/*
 * bus: see bus.h for the contract.
 *
 * Invariants:
 *  - Everything but the post queue and the counters belongs to the bus
 *    thread: the client's libzmq sockets, the server's epoll set,
 *    listener and connections, the extra-fd table. The post queue is
 *    the only state shared between threads (qlock); the counters are
 *    atomics.
 *  - Server: a connection is on exactly one of b->hs (handshake under
 *    way, in accept order, so deadline order), b->live (handshake done)
 *    or b->dead (closed, freed once no event of the current epoll batch
 *    can name it). One under way is also on its source's list (c->src,
 *    a slot of b->srcs counting it in nhs). A connection with input not
 *    yet read to EAGAIN or not yet decoded is queued: a live one on
 *    b->rdq, one in its handshake on its source's q, a source with a
 *    non-empty q being on b->srcq (see "server: handshake budget").
 *  - Server: b->rtab maps a host to its newest proven connection (the
 *    handshake done with a key enrolled for that host, and a routing id
 *    naming it; with curve=0, any routing id naming it), which chains to
 *    the host's older ones. Only enrolled keys create entries, so the
 *    table is bounded by enrolment and by the open connections.
 *  - Every option copied from bus_opts is immutable after *_new().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "hash.h"
#include "bus.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "zmtp.h"

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
/* Handshake deadline on both sides (the server's: bus_opts.handshake_ms). */
#define HANDSHAKE_IVL_MS	10000
#define BURST_MAX		64	/* reads between two polls when busy */
#define RID_SUFFIX_LEN		16	/* hex digits after "<host>/" */
#define RID_MAX			(BUS_HOST_MAX + 1 + RID_SUFFIX_LEN)
#define KEYFILE_MAX		4096
#define ENDPOINT_MAX		1024

/* The server's loop (see "server: listener"). epoll data: a struct conn
 * pointer (aligned, low bits 0), or one of the tags below in the low
 * bits (an extra fd's number above them). */
#define EV_LISTEN	1
#define EV_WAKE		2
#define EV_EXTRA	3
#define EV_TAGMASK	7
#define EV_BATCH	64	/* events per epoll_wait */
#define DEF_BACKLOG	100	/* libzmq's ZMQ_BACKLOG default */
#define HS_PER_BACKLOG	4	/* connections in handshake per backlog */
#define ACCEPTS_MAX	64	/* accepts per round: the loop stays fair */
#define ACCEPT_PAUSE_MS	100	/* after EMFILE and the like */
#define READS_PER_TURN	4	/* reads of one connection per turn */
#define TURNS_MAX	256	/* connection turns per rdq_next() */
/* Handshake budget (see "server: handshake budget"). */
#define SRC_MAX		64	/* sources told apart (then one shared) */
#define HS_ROUND_US	2000	/* handshake CPU per poll round */
#define HS_SHARE_DIV	2	/* over time, at most 1/2 of the bus thread */
#define HS_BURST_US	1000000	/* ...after a full second at once */
#define HS_SKIP_MAX	8	/* rounds handshakes wait for a full batch */

#define MON_EVENTS	(ZMQ_EVENT_HANDSHAKE_SUCCEEDED |		\
	ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |	\
	ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |				\
	ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

/* Kinds of inbound frames the server drops (each logged separately). */
enum drop {
	DROP_IMPOSTOR,		/* none since impostors are closed at their
				 * handshake; kept for the metric */
	DROP_NOT_BUS,		/* routing id is not "<host>/<hex>" */
	DROP_MULTIPART,
	DROP__COUNT
};

/* Rate-limited connection-level logs (one line a second per kind). */
enum clog {
	CLOG_REFUSED,		/* handshake cap, accept errors */
	CLOG_HS_FAILED,
	CLOG_HS_TIMEOUT,
	CLOG_KEY_REFUSED,	/* keys allow() refused (strangers' too) */
	CLOG_IMPOSTOR,		/* routing id naming another host */
	CLOG__COUNT
};

/* The server's side, defined in its sections below. */
static int	server_open(struct bus *);
static void	server_close(struct bus *);
static int	server_send(struct bus *, const char *, const void *, size_t);
static int	server_poll(struct bus *, int, struct bus_msg *);

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

/*
 * A source of connections: an IPv4 address or an IPv6 /64 (an address
 * family's smallest unit one party usually holds). A slot is free while
 * nhs is 0.
 */
struct conn;
struct src {
	uint8_t		 addr[16];	/* v4 as v4-mapped v6 */
	size_t		 nhs;		/* its connections in handshake */
	TAILQ_HEAD(, conn) hs;		/* those, oldest first */
	TAILQ_HEAD(, conn) q;		/* those with input to work on */
	TAILQ_ENTRY(src) link;		/* b->srcq while q is not empty */
	unsigned	 in_srcq:1;
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

	/* server (bus.c's "server" sections) */
	int		 lfd;		/* listening socket */
	int		 epfd;		/* listener, connections, wakefd, fds */
	struct zmtp_cfg	 zcfg;		/* secret key wiped */
	int		 handshake_ms;
	int		 keepalive_s;	/* 0: off */
	size_t		 hs_max;	/* connections in handshake at most */
	int64_t		 accept_resume_ms;	/* listener paused until */
	TAILQ_HEAD(, conn) hs, live, dead, rdq;
	/* the handshake budget: SRC_MAX sources and the shared one, those
	 * with handshake input (round robin), the CPU spent this round, the
	 * token bucket (us) and when it was last filled */
	struct src	 srcs[SRC_MAX + 1];
	TAILQ_HEAD(, src) srcq;
	int64_t		 hs_round_us, hs_tokens_us, hs_fill_us;
	int		 hs_stalled;	/* budget spent, handshakes waiting */
	int		 hs_skip;	/* rounds without handshake work in a
					 * row: epoll's batch came back full */
	struct conn	*cur;		/* the one zmtp_conn_next() works on */
	struct conn	**rtab;		/* host -> newest connection */
	size_t		 rcap, nroutes;
	_Atomic size_t	 nconns, nhs;
	_Atomic uint64_t hs_failed, conn_refused, hs_deferred;
	int64_t		 clog_ms[CLOG__COUNT];	/* log_conn() rate limit */
	unsigned	 clog_suppressed[CLOG__COUNT];

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
	if (o->handshake_ms < 0) {
		err_set(TS_EINVALID, "bus: handshake_ms below 0");
		return -1;
	}
	b->handshake_ms = o->handshake_ms ? o->handshake_ms :
	    HANDSHAKE_IVL_MS;
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

/* The client socket's options: bounded linger, inbound size cap (applied
 * before authentication too), queues, heartbeats, handshake deadline. */
static int
setopts_client(struct bus *b, void *s)
{
	if (setopt_int(s, ZMQ_LINGER, LINGER_MS, "ZMQ_LINGER") == -1 ||
	    setopt(s, ZMQ_MAXMSGSIZE, &b->max_msg_size,
	    sizeof(b->max_msg_size), "ZMQ_MAXMSGSIZE") == -1 ||
	    setopt_int(s, ZMQ_SNDHWM, b->sndhwm, "ZMQ_SNDHWM") == -1 ||
	    setopt_int(s, ZMQ_RCVHWM, b->sndhwm, "ZMQ_RCVHWM") == -1 ||
	    setopt_int(s, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS,
	    "ZMQ_HANDSHAKE_IVL") == -1)
		return -1;
	/*
	 * Only the client pings (and closes a silent connection after three
	 * intervals); its pings carry no TTL, and the server sends none of
	 * its own: it answers them (zmtp.c) and finds dead peers with TCP
	 * keepalive instead (conn_new), which the kernel runs at no cost to
	 * the bus thread. (libzmq, which the server used before, kept every
	 * connection's heartbeat timers in one ordered map per I/O thread
	 * and walked it once per frame received while a TTL or ping timeout
	 * was armed: at thousands of agents a tenth of the controller's CPU.)
	 */
	if (b->heartbeat_ivl_ms > 0 &&
	    (setopt_int(s, ZMQ_HEARTBEAT_IVL, b->heartbeat_ivl_ms,
	    "ZMQ_HEARTBEAT_IVL") == -1 ||
	    setopt_int(s, ZMQ_HEARTBEAT_TIMEOUT, 3 * b->heartbeat_ivl_ms,
	    "ZMQ_HEARTBEAT_TIMEOUT") == -1))
		return -1;
	if (strchr(b->endpoint_cfg, '[') != NULL &&
	    setopt_int(s, ZMQ_IPV6, 1, "ZMQ_IPV6") == -1)
		return -1;
	return 0;
}

/* ----------------------------------------------------------- client */

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
	if (setopts_client(b, s) == -1 ||
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
				    "(status %u): is %s enrolled?",
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
	b->wakefd = b->lfd = b->epfd = -1;
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
	if (role == ROLE_SERVER) {
		/* The server has no libzmq socket, hence no context. */
		if (o->zmq_ctx != NULL) {
			err_set(TS_EINVALID, "bus: a shared context is for "
			    "clients");
			goto fail;
		}
		return b;
	}
	if (o->zmq_ctx != NULL) {
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
	if (server_open(b) == -1)
		goto fail;
	if (!b->curve)
		log_warnx("bus: CURVE is disabled on %s: traffic is plain "
		    "text and any client can claim any host name (debugging "
		    "only)", b->endpoint);
	else
		log_info("bus: listening on %s (CURVE)", b->endpoint);
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
	else
		server_close(b);
	if (b->ctx != NULL && !b->ctx_borrowed) {
		while (zmq_ctx_term(b->ctx) == -1 && errno == EINTR)
			;
	}
	while ((p = b->qhead) != NULL) {
		b->qhead = p->next;
		free(p);
	}
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

	if (b->role == ROLE_SERVER)
		return b->epfd;
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
	if (check_frame(b, peer, len) == -1)
		return -1;
	if (b->role == ROLE_SERVER)
		return server_send(b, peer, buf, len);
	if (b->sock == NULL) {
		err_set(TS_EUNREACHABLE, "bus: no socket (reconnect failed)");
		count(&b->send_unreachable, 1);
		return -1;
	}
	if (client_send(b, buf, len) == -1) {
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
	log_warnx("bus: dropped %s (%u similar suppressed)", msg,
	    b->drops_suppressed[why]);
	b->drop_log_ms[why] = now;
	b->drops_suppressed[why] = 0;
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

/* A frame bus_poll() returns: the totals, and its class. */
static int
count_recv(struct bus *b, struct bus_msg *out, int rc)
{
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

/* One frame from the client's socket, as bus_poll() returns it (0:
 * none). */
static int
sock_recv(struct bus *b, struct bus_msg *out)
{
	return count_recv(b, out, client_recv(b, out));
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
	st->handshake_failed = L(hs_failed);
	st->conn_refused = L(conn_refused);
	st->handshake_deferred = L(hs_deferred);
	st->connections = L(nconns);
	st->connecting = L(nhs);
#undef L
	pthread_mutex_lock(&b->qlock);
	st->post_queued = b->qlen;
	pthread_mutex_unlock(&b->qlock);
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
	if (b->role == ROLE_SERVER) {
		/* Level-triggered, as zmq_poll was: a callback that leaves
		 * input unread is called again. */
		struct epoll_event ev = {
			.events = ((events & ZMQ_POLLIN) ? EPOLLIN : 0) |
			    ((events & ZMQ_POLLOUT) ? EPOLLOUT : 0),
			.data.u64 = ((uint64_t)fd << 3) | EV_EXTRA,
		};

		if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			err_set_errno(TS_EIO, "bus: epoll_ctl fd %d", fd);
			return -1;
		}
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
			/* (fails harmlessly for an fd closed already: closing
			 * took it out of the set) */
			if (b->role == ROLE_SERVER)
				epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
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

/* --------------------------------------------------- server: listener */

/*
 * The server speaks ZMTP itself (common/zmtp.c), one epoll set for the
 * listener, the connections, the post wake-up and the extra fds. libzmq
 * kept about 87 KiB per connection once its pipes had carried a few
 * hundred frames (docs/PERFORMANCE.md, "Memory once libzmq's pipes are
 * full"); a struct conn and its zmtp_conn hold a few hundred bytes while
 * idle.
 */

/* One client connection. bad: why a proven connection's frames are all
 * dropped (DROP__COUNT: they are not). */
struct conn {
	struct zmtp_conn *z;
	int		 fd;
	unsigned	 ready:1;	/* handshake done */
	unsigned	 dead:1;	/* closed, freed after the event batch */
	unsigned	 readable:1;	/* EPOLLIN since the last EAGAIN */
	unsigned	 hup:1;		/* the peer closed, or an error: read
					 * to EOF */
	unsigned	 in_rdq:1;
	unsigned	 multipart:1;	/* dropping a multi-part message */
	unsigned	 routed:1;	/* in its host's chain */
	unsigned	 hsq:1;		/* queued on src->q, not b->rdq */
	unsigned	 hs_half:1;	/* its HELLO answered */
	unsigned	 hs_read;	/* bytes read in its handshake */
	enum drop	 bad;
	int64_t		 deadline;	/* handshake deadline, monotonic ms */
	/* After the handshake: the routing id "<host>/<hex>" (borrowed from
	 * the zmtp_conn); the host is its first hlen bytes. */
	const char	*rid;
	size_t		 hlen;
	uint32_t	 hhash;
	struct conn	*hnext;		/* next older connection of the host */
	struct src	*src;		/* while in its handshake */
	TAILQ_ENTRY(conn) link;		/* b->hs, b->live or b->dead */
	TAILQ_ENTRY(conn) slink;	/* src->hs */
	TAILQ_ENTRY(conn) rlink;	/* b->rdq or src->q */
};

static int
conn_is_host(const struct conn *c, const char *h, size_t n)
{
	return c->hlen == n && memcmp(c->rid, h, n) == 0;
}

/* ------------------------------------------------------------- routes */

/*
 * b->rtab: open addressing (linear probing, at most half full) from a
 * host to the newest proven connection of that host, the head of a chain
 * (hnext) of its older ones. A frame out looks its host up; every
 * handshake and every close changes it, so deletion shifts entries back
 * instead of rebuilding (thousands of agents reconnecting at once).
 */
static size_t
rtab_slot(const struct bus *b, const char *h, size_t n, uint32_t hash)
{
	size_t mask = b->rcap - 1, i = hash & mask;

	while (b->rtab[i] != NULL && !conn_is_host(b->rtab[i], h, n))
		i = (i + 1) & mask;
	return i;
}

static struct conn *
route_find(const struct bus *b, const char *host)
{
	size_t n = strlen(host);

	if (b->nroutes == 0)
		return NULL;
	return b->rtab[rtab_slot(b, host, n, hash_fnv32(host))];
}

static int
rtab_grow(struct bus *b)
{
	size_t cap = b->rcap ? 2 * b->rcap : 64, i;
	struct conn **old = b->rtab, **t;
	size_t ocap = b->rcap;

	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	b->rtab = t;
	b->rcap = cap;
	for (i = 0; i < ocap; i++)
		if (old[i] != NULL)
			t[rtab_slot(b, old[i]->rid, old[i]->hlen,
			    old[i]->hhash)] = old[i];
	free(old);
	return 0;
}

/* Empty slot i, moving back the entries whose probe sequence crossed
 * it (backward-shift deletion). */
static void
rtab_del(struct bus *b, size_t i)
{
	size_t mask = b->rcap - 1, j = i, k;

	for (;;) {
		b->rtab[i] = NULL;
		for (;;) {
			j = (j + 1) & mask;
			if (b->rtab[j] == NULL)
				return;
			k = b->rtab[j]->hhash & mask;
			/* stays if its home k lies cyclically in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			b->rtab[i] = b->rtab[j];
			i = j;
			break;
		}
	}
}

/* c, just proven, becomes its host's route. -1: out of memory (c is
 * then not routed; sends to the host go to an older connection or
 * fail as unreachable). */
static int
route_add(struct bus *b, struct conn *c)
{
	size_t i;

	if (2 * (b->nroutes + 1) > b->rcap && rtab_grow(b) == -1)
		return -1;
	i = rtab_slot(b, c->rid, c->hlen, c->hhash);
	c->hnext = b->rtab[i];
	if (b->rtab[i] == NULL)
		b->nroutes++;
	b->rtab[i] = c;
	c->routed = 1;
	return 0;
}

static void
route_remove(struct bus *b, struct conn *c)
{
	struct conn **pp;
	size_t i;

	if (!c->routed)
		return;
	c->routed = 0;
	i = rtab_slot(b, c->rid, c->hlen, c->hhash);
	for (pp = &b->rtab[i]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->hnext = NULL;
	if (b->rtab[i] == NULL) {
		b->nroutes--;
		rtab_del(b, i);
	}
}

/* -------------------------------------------------------- connections */

static void __attribute__((format(printf, 3, 4)))
log_conn(struct bus *b, enum clog why, const char *fmt, ...)
{
	char msg[512];
	int64_t now = clock_mono_ms();
	va_list ap;

	if (b->clog_ms[why] != 0 && now - b->clog_ms[why] < 1000) {
		b->clog_suppressed[why]++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("bus: %s (%u similar suppressed)", msg,
	    b->clog_suppressed[why]);
	b->clog_ms[why] = now;
	b->clog_suppressed[why] = 0;
}

/* The peer's address for logs. */
static const char *
conn_addr(const struct conn *c, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN];
	in_port_t port;

	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = s6->sin6_port;
		snprintf(buf, len, "[%s]:%u", a, ntohs(port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = s4->sin_port;
		snprintf(buf, len, "%s:%u", a, ntohs(port));
	}
	return buf;
}

static void
rdq_remove(struct bus *b, struct conn *c)
{
	struct src *s = c->src;

	if (!c->in_rdq)
		return;
	c->in_rdq = 0;
	if (!c->hsq) {
		TAILQ_REMOVE(&b->rdq, c, rlink);
		return;
	}
	TAILQ_REMOVE(&s->q, c, rlink);
	if (TAILQ_EMPTY(&s->q) && s->in_srcq) {
		TAILQ_REMOVE(&b->srcq, s, link);
		s->in_srcq = 0;
	}
}

/* Queue c's input: a live connection's on b->rdq, one in its handshake
 * on its source's queue. */
static void
rdq_add(struct bus *b, struct conn *c)
{
	struct src *s = c->src;

	if (c->in_rdq || c->dead)
		return;
	c->in_rdq = 1;
	c->hsq = !c->ready;
	if (!c->hsq) {
		TAILQ_INSERT_TAIL(&b->rdq, c, rlink);
		return;
	}
	/* A handshake half done goes first: its INITIATE completes it,
	 * where a HELLO starts one more (each is one crypto step, done once
	 * per connection); in a storm, agents are then back one by one, not
	 * all at the end. */
	if (c->hs_half)
		TAILQ_INSERT_HEAD(&s->q, c, rlink);
	else
		TAILQ_INSERT_TAIL(&s->q, c, rlink);
	if (!s->in_srcq) {
		TAILQ_INSERT_TAIL(&b->srcq, s, link);
		s->in_srcq = 1;
	}
}

/* c's handshake is over (done, or closed): off the lists of handshakes
 * (its input queue, if any, is left first). */
static void
hs_leave(struct bus *b, struct conn *c)
{
	TAILQ_REMOVE(&b->hs, c, link);
	atomic_fetch_sub_explicit(&b->nhs, 1, memory_order_relaxed);
	TAILQ_REMOVE(&c->src->hs, c, slink);
	c->src->nhs--;
	c->src = NULL;
}

/*
 * Close c: from here on nothing refers to it but the dead list, which
 * the loop frees once no epoll event of the current batch can name it
 * any more (a callback's bus_send may close a connection whose event
 * comes later in the batch).
 */
static void
conn_close(struct bus *b, struct conn *c)
{
	if (c->dead)
		return;
	route_remove(b, c);
	rdq_remove(b, c);
	if (c->ready)
		TAILQ_REMOVE(&b->live, c, link);
	else
		hs_leave(b, c);
	atomic_fetch_sub_explicit(&b->nconns, 1, memory_order_relaxed);
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = 1;
	TAILQ_INSERT_TAIL(&b->dead, c, link);
}

static void
conn_free(struct conn *c)
{
	zmtp_conn_free(&c->z);
	free(c);
}

static void
reap_dead(struct bus *b)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&b->dead)) != NULL) {
		TAILQ_REMOVE(&b->dead, c, link);
		conn_free(c);
	}
}

/* Write what the connection has to send, as far as the socket takes it;
 * the rest on EPOLLOUT. -1: the connection failed (the caller closes). */
static int
conn_flush(struct conn *c)
{
	const uint8_t *p;
	size_t n;
	ssize_t w;

	while ((n = zmtp_conn_pending(c->z, &p)) > 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			zmtp_conn_sent(c->z, (size_t)w);
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	return 0;
}

/* zmtp_allow_fn: the application's allow callback with the key in Z85,
 * on the bus thread, for the connection b->cur. */
static int
server_allow(const uint8_t key[ZMTP_KEY_LEN], char *host, size_t host_len,
    void *arg)
{
	struct bus *b = arg;
	char z[BUS_KEY_Z85_LEN + 1], h[BUS_HOST_MAX + 1], addr[80];
	size_t n;

	conn_addr(b->cur, addr, sizeof(addr));
	if (zmq_z85_encode(z, key, ZMTP_KEY_LEN) == NULL) {
		log_error("bus: cannot encode a client key");
		return -1;
	}
	memset(h, 0, sizeof(h));
	if (b->allow(z, h, sizeof(h), b->allow_arg) != 0) {
		/* Anyone may try a fresh key per connection: rate-limited,
		 * like the other handshake failures. */
		log_conn(b, CLOG_KEY_REFUSED, "refused CURVE key %s from %s: "
		    "not enrolled", z, addr);
		return -1;
	}
	if (memchr(h, '\0', sizeof(h)) == NULL || !bus_host_valid(h) ||
	    (n = strlen(h)) >= host_len) {
		log_error("bus: allow callback gave an invalid host name for "
		    "key %s; refusing it", z);
		return -1;
	}
	memcpy(host, h, n + 1);
	log_debug("bus: CURVE key %s from %s accepted as host %s", z, addr, h);
	return 0;
}

static int
set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

static void
conn_new(struct bus *b, int fd, struct src *s)
{
	struct epoll_event ev;
	struct conn *c;

	/* As libzmq set them up: frames go out at once; dead peers are
	 * found by TCP keepalive (see setopts_client). */
	if (set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1) == -1 ||
	    (b->keepalive_s > 0 &&
	    (set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) == -1 ||
	    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, b->keepalive_s) == -1 ||
	    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, b->keepalive_s) == -1 ||
	    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3) == -1))) {
		log_conn(b, CLOG_REFUSED, "connection options: %s",
		    strerror(errno));
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->z = zmtp_conn_new(&b->zcfg)) == NULL) {
		log_conn(b, CLOG_REFUSED, "out of memory for a connection");
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	c->bad = DROP__COUNT;
	c->deadline = clock_mono_ms() + b->handshake_ms;
	/* Edge-triggered: a connection is read to EAGAIN (it stays on the
	 * rdq until then) and EPOLLOUT comes only after a write that did
	 * not fit, so no epoll_ctl per frame. */
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_conn(b, CLOG_REFUSED, "epoll: %s", strerror(errno));
		conn_free(c);
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&b->hs, c, link);
	atomic_fetch_add_explicit(&b->nhs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->nconns, 1, memory_order_relaxed);
	c->src = s;
	TAILQ_INSERT_TAIL(&s->hs, c, slink);
	s->nhs++;
	if (conn_flush(c) == -1)	/* the greeting */
		conn_close(b, c);
}

static void
listener_pause(struct bus *b, int64_t now)
{
	struct epoll_event ev = { .events = 0, .data.u64 = EV_LISTEN };

	if (b->accept_resume_ms == 0)
		epoll_ctl(b->epfd, EPOLL_CTL_MOD, b->lfd, &ev);
	b->accept_resume_ms = now + ACCEPT_PAUSE_MS;
}

static void
listener_resume(struct bus *b, int64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_LISTEN };

	if (b->accept_resume_ms == 0 || now < b->accept_resume_ms)
		return;
	if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, b->lfd, &ev) == 0)
		b->accept_resume_ms = 0;
	else
		b->accept_resume_ms = now + ACCEPT_PAUSE_MS;
}

/* ------------------------------------------- server: handshake budget */

/*
 * A stranger may replay one recorded HELLO as fast as it can connect;
 * each costs the bus thread about 93 us of X25519 (the INITIATE that
 * follows one more), so about 10,800 a second took the whole thread and
 * the agents' frames waited behind them (docs/PERFORMANCE.md,
 * "Handshake floods"). Hence:
 *  - Handshake input is worked on apart from the live connections' (on
 *    per-source queues, not b->rdq), after the live input of a poll
 *    round is read, and for at most HS_ROUND_US of CPU per round: a
 *    live frame waits for one such slice at most.
 *  - Over time handshakes get at most 1/HS_SHARE_DIV of the thread (a
 *    token bucket in microseconds); the bucket holds HS_BURST_US, so a
 *    fleet reconnecting at once after a quiet spell (2,000 agents: about
 *    0.3 s of handshake CPU) is not slowed by it.
 *  - Sources take turns: one connection turn per source with input,
 *    round robin, so a flood from one address gets its share of the
 *    budget and an agent elsewhere still completes its two crypto steps
 *    within a few rounds. A source is an IPv4 address or an IPv6 /64;
 *    SRC_MAX are told apart, beyond that they share one slot (a flood
 *    from as many addresses shares it with agents on new addresses).
 *  - When hs_max handshakes are under way, a new connection closes the
 *    oldest handshake of the source that holds the most (counting the
 *    new one): a flood closes its own, never the one agent elsewhere.
 * Every simulated agent (bench/fleetsim.sh) connects from 127.0.0.1: a
 * source has no cap of its own beyond these, so one address
 * reconnecting 2,000 agents is served as fast as before.
 */

/* The source of a peer address: a v4 (or v4-mapped) address, a v6 /64;
 * the free slot it gets if none has it yet, or the shared slot. */
static struct src *
src_get(struct bus *b, const struct sockaddr_storage *ss)
{
	uint8_t a[16];
	struct src *free_slot = NULL;

	memset(a, 0, sizeof(a));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			memcpy(a, &s6->sin6_addr, 16);
		else
			memcpy(a, &s6->sin6_addr, 8);
	} else if (ss->ss_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	}
	/* A scan of SRC_MAX slots, once per accepted connection: bounded,
	 * and a few hundred ns beside the handshake's crypto. */
	for (size_t i = 0; i < SRC_MAX; i++) {
		struct src *s = &b->srcs[i];

		if (s->nhs == 0) {
			if (free_slot == NULL)
				free_slot = s;
		} else if (memcmp(s->addr, a, sizeof(a)) == 0)
			return s;
	}
	if (free_slot == NULL)
		return &b->srcs[SRC_MAX];
	memcpy(free_slot->addr, a, sizeof(a));
	return free_slot;
}

/* The handshake to close for a new connection from s: the oldest of the
 * source holding the most (s counted with the new one; a tie goes to
 * the older handshake). */
static struct conn *
hs_victim(struct bus *b, const struct src *s)
{
	struct conn *best = NULL;
	size_t most = 0;

	for (size_t i = 0; i <= SRC_MAX; i++) {
		const struct src *t = &b->srcs[i];
		size_t n = t->nhs + (t == s);
		struct conn *c = TAILQ_FIRST(&t->hs);

		if (c == NULL)
			continue;
		if (n > most || (n == most && c->deadline < best->deadline)) {
			best = c;
			most = n;
		}
	}
	return best != NULL ? best : TAILQ_FIRST(&b->hs);
}

static int	conn_input(struct bus *, struct conn *, struct bus_msg *);

/* The token bucket filled up to now; what it holds. */
static int64_t
hs_tokens(struct bus *b, int64_t now_us)
{
	if (now_us > b->hs_fill_us) {
		b->hs_tokens_us += (now_us - b->hs_fill_us) / HS_SHARE_DIV;
		if (b->hs_tokens_us > HS_BURST_US)
			b->hs_tokens_us = HS_BURST_US;
		b->hs_fill_us = now_us;
	}
	return b->hs_tokens_us;
}

/* When handshake work may go on (monotonic ms): -1 none waits; now
 * while the round's budget lasts; the next round's poll (now) once the
 * round's is spent; when the bucket holds tokens again once it is
 * empty. */
static int64_t
hs_work_due(struct bus *b, int64_t now)
{
	int64_t t;

	if (TAILQ_EMPTY(&b->srcq))
		return -1;
	if ((t = hs_tokens(b, now * 1000)) > 0)
		return now;
	return now + 1 + (-t * HS_SHARE_DIV) / 1000;
}

/* Work on handshakes while the budgets last: one connection turn per
 * source, round robin. 1: a frame in *out (a connection that finished
 * its handshake may send one at once); 0: no more this round; -1: out
 * of memory. */
static int
hs_next(struct bus *b, struct bus_msg *out)
{
	struct src *s;
	struct conn *c;
	int64_t t0, t1;
	int rc;

	while ((s = TAILQ_FIRST(&b->srcq)) != NULL &&
	    b->hs_round_us < HS_ROUND_US) {
		t0 = clock_mono_us();
		if (hs_tokens(b, t0) <= 0) {
			if (!b->hs_stalled)
				count(&b->hs_deferred, 1);
			b->hs_stalled = 1;
			return 0;
		}
		b->hs_stalled = 0;
		/* this source's turn, then the next one's; its connections
		 * take turns too */
		TAILQ_REMOVE(&b->srcq, s, link);
		TAILQ_INSERT_TAIL(&b->srcq, s, link);
		c = TAILQ_FIRST(&s->q);
		TAILQ_REMOVE(&s->q, c, rlink);
		TAILQ_INSERT_TAIL(&s->q, c, rlink);
		rc = conn_input(b, c, out);
		t1 = clock_mono_us();
		/* read past greeting and HELLO: the HELLO was worked on */
		if (c->hs_read >= 64 + 2 + 200)
			c->hs_half = 1;
		b->hs_round_us += t1 - t0;
		b->hs_tokens_us -= t1 - t0;
		if (rc != 0)
			return count_recv(b, out, rc);
	}
	return 0;
}

/* Accept what the kernel holds, up to ACCEPTS_MAX (the listener is
 * level-triggered: the rest comes next round). */
static void
server_accept(struct bus *b)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct conn *old;
	struct src *s;

	for (int i = 0; i < ACCEPTS_MAX; i++) {
		int fd;

		sl = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		fd = accept4(b->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* The connection stays queued in the
				 * kernel; retried after a pause instead of
				 * spinning on a listener that stays
				 * readable. */
				log_conn(b, CLOG_REFUSED, "cannot accept "
				    "connections: %s (retrying every %d ms)",
				    strerror(errno), ACCEPT_PAUSE_MS);
				count(&b->conn_refused, 1);
				listener_pause(b, clock_mono_ms());
				return;
			}
			/* ECONNABORTED, EINTR, network errors of the
			 * pending connection: the next one. */
			continue;
		}
		s = src_get(b, &ss);
		/*
		 * At most hs_max connections are in their handshake: a new
		 * one closes the oldest of the source holding the most. An
		 * agent completes its handshake in a few round trips, so a
		 * stranger holding idle connections would have to open
		 * hs_max new ones within those to keep it out; refusing the
		 * new one instead let hs_max idle connections, renewed at
		 * each deadline, lock every agent out; closing the oldest
		 * of all let a stranger opening them fast enough do the
		 * same.
		 */
		if (atomic_load_explicit(&b->nhs, memory_order_relaxed) >=
		    b->hs_max && (old = hs_victim(b, s)) != NULL) {
			char addr[80];

			count(&b->conn_refused, 1);
			log_conn(b, CLOG_REFUSED, "closed the oldest of %zu "
			    "handshakes under way (from %s, whose source has "
			    "%zu of them) for a new connection", b->hs_max,
			    conn_addr(old, addr, sizeof(addr)),
			    old->src->nhs);
			conn_close(b, old);
		}
		conn_new(b, fd, s);
	}
}

/* Connections whose handshake outlived its deadline; returns the next
 * deadline (-1: none). */
static int64_t
expire_handshakes(struct bus *b, int64_t now)
{
	struct conn *c;
	char addr[80];

	while ((c = TAILQ_FIRST(&b->hs)) != NULL && c->deadline <= now) {
		count(&b->hs_failed, 1);
		log_conn(b, CLOG_HS_TIMEOUT, "no handshake from %s within %d "
		    "ms: closed", conn_addr(c, addr, sizeof(addr)),
		    b->handshake_ms);
		conn_close(b, c);
	}
	return c != NULL ? c->deadline : -1;
}

/*
 * The handshake is done: check the routing id against the host the key
 * is enrolled for, then route the host here. A routing id that is not a
 * bus client's ("<host>/<hex>") leaves the connection open, never routed,
 * every frame it sends dropped and logged (as with libzmq's ROUTER). One
 * naming another host than the key's (an impostor, or an agent renamed
 * without a new key) is closed: nothing it sends could be routed, and
 * kept open it would cost a log line's check per frame for ever; the
 * client reconnects as a refused one does, each time at a handshake's
 * cost, which the handshake budget bounds. -1: c was closed.
 */
static int
conn_ready(struct bus *b, struct conn *c)
{
	char rid[RID_MAX + 1], host[BUS_HOST_MAX + 1], addr[80];
	const char *zrid = zmtp_conn_rid(c->z), *zhost = zmtp_conn_host(c->z);
	struct conn *o, *next;
	int queued = c->in_rdq;

	rdq_remove(b, c);
	hs_leave(b, c);
	TAILQ_INSERT_TAIL(&b->live, c, link);
	c->ready = 1;
	c->deadline = 0;
	if (queued)
		rdq_add(b, c);
	if (zrid != NULL && zhost != NULL && b->curve &&
	    parse_rid(zrid, strlen(zrid), rid, host) == 0 &&
	    strcmp(zhost, host) != 0) {
		count(&b->hs_failed, 1);
		log_conn(b, CLOG_IMPOSTOR, "closed the connection from %s: "
		    "its key is enrolled for host %.64s, its routing id names "
		    "%s", conn_addr(c, addr, sizeof(addr)), zhost, host);
		conn_close(b, c);
		return -1;
	}
	count(&b->handshakes, 1);
	if (zrid == NULL || zhost == NULL ||
	    parse_rid(zrid, strlen(zrid), rid, host) == -1) {
		c->bad = DROP_NOT_BUS;
		return 0;
	}
	c->rid = zrid;
	c->hlen = strlen(host);
	c->hhash = hash_fnv32_add(HASH_FNV32_INIT, host, c->hlen);
	/* ROUTER_HANDOVER: the same socket reconnecting (same routing id,
	 * unguessable, so only its owner has it) replaces its stale
	 * connection. */
	o = route_find(b, host);
	for (; o != NULL; o = next) {
		next = o->hnext;
		if (strcmp(o->rid, c->rid) == 0) {
			log_info("bus: agent %s reconnected: its older "
			    "connection is closed", host);
			conn_close(b, o);
		}
	}
	if (route_add(b, c) == -1) {
		log_error("bus: out of memory recording host %s", host);
		return 0;
	}
	log_info("bus: agent %s connected", host);
	return 0;
}

/* A failed connection: say why (refused keys are logged by
 * server_allow), send what the protocol has to say (an ERROR), close. */
static void
conn_fail(struct bus *b, struct conn *c)
{
	char addr[80];

	if (!c->ready) {
		count(&b->hs_failed, 1);
		if (err_code() != TS_EUNAUTHORIZED)
			log_conn(b, CLOG_HS_FAILED, "handshake with %s "
			    "failed: %s", conn_addr(c, addr, sizeof(addr)),
			    err_msg());
	} else if (c->routed)
		log_warnx("bus: connection of agent %.*s closed: %s",
		    (int)c->hlen, c->rid, err_msg());
	else
		log_conn(b, CLOG_HS_FAILED, "connection from %s closed: %s",
		    conn_addr(c, addr, sizeof(addr)), err_msg());
	(void)conn_flush(c);
	conn_close(b, c);
}

/* One frame of a proven connection: 1 with *out filled, 0 consumed. */
static int
conn_frame(struct bus *b, struct conn *c, const struct zmtp_frame *f,
    struct bus_msg *out)
{
	const char *host;
	const uint8_t *key;

	if (c->multipart || f->more) {
		if (!c->multipart)
			log_drop(b, DROP_MULTIPART, "a multi-part message");
		c->multipart = f->more ? 1 : 0;
		return 0;
	}
	host = zmtp_conn_host(c->z);
	if (c->bad == DROP_NOT_BUS) {
		log_drop(b, DROP_NOT_BUS, "a message from a peer that is not "
		    "a bus client (user %.64s)", b->curve ? host : "none");
		return 0;
	}
	if (f->len == 0)	/* the client's probe (ZMQ_PROBE_ROUTER) */
		return 0;
	if ((out->data = malloc(f->len)) == NULL) {
		err_set(TS_ENOMEM, "bus: out of memory receiving %zu bytes",
		    f->len);
		return -1;
	}
	memcpy(out->data, f->data, f->len);
	out->len = f->len;
	snprintf(out->peer, sizeof(out->peer), "%.*s", (int)c->hlen, c->rid);
	memcpy(out->user_id, out->peer, sizeof(out->user_id));
	out->pubkey[0] = '\0';
	if (b->curve && (key = zmtp_conn_key(c->z)) != NULL &&
	    zmq_z85_encode(out->pubkey, key, ZMTP_KEY_LEN) == NULL)
		out->pubkey[0] = '\0';
	return 1;
}

/*
 * Advance connection c (on the rdq): its buffered events, then reads,
 * at most READS_PER_TURN. 1: a frame in *out; 0: its turn is over (no
 * more input now, closed, or the budget is spent); -1: out of memory.
 */
static int
conn_input(struct bus *b, struct conn *c, struct bus_msg *out)
{
	int reads = 0;

	for (;;) {
		struct zmtp_frame f;
		uint8_t *p;
		size_t room;
		ssize_t n;
		int ev, rc;

		b->cur = c;
		ev = zmtp_conn_next(c->z, &f);
		b->cur = NULL;
		if (ev == -1) {
			conn_fail(b, c);
			return 0;
		}
		if (ev == ZMTP_READY) {
			if (conn_ready(b, c) == -1)
				return 0;
			if (conn_flush(c) == -1) {
				conn_close(b, c);
				return 0;
			}
			continue;
		}
		if (ev == ZMTP_MSG) {
			if ((rc = conn_frame(b, c, &f, out)) != 0)
				return rc;
			continue;
		}
		/* Replies the input asked for (handshake, PONG). */
		if (conn_flush(c) == -1) {
			conn_close(b, c);
			return 0;
		}
		if (!c->readable) {
			rdq_remove(b, c);
			return 0;
		}
		if (reads++ == READS_PER_TURN) {
			rdq_remove(b, c);	/* to the tail: the others' turn */
			rdq_add(b, c);
			return 0;
		}
		if (zmtp_conn_rspace(c->z, &p, &room) == -1) {
			log_error("bus: %s", err_msg());
			conn_close(b, c);
			return 0;
		}
		n = read(c->fd, p, room);
		if (n > 0) {
			zmtp_conn_rdone(c->z, (size_t)n);
			if (!c->ready && c->hs_read < UINT_MAX - (size_t)n)
				c->hs_read += (unsigned)n;
			/* A short read emptied the socket: no read to EAGAIN
			 * (a syscall per frame at a heartbeat each); data
			 * arriving later wakes the epoll again, edge or not,
			 * and so does a close (EPOLLRDHUP), unless it came
			 * with this data: then read on to the EOF. */
			if ((size_t)n < room && !c->hup)
				c->readable = 0;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			zmtp_conn_rdone(c->z, 0);	/* frees the room */
			c->readable = 0;
			rdq_remove(b, c);
			return 0;
		}
		/* EOF or a reset: the peer is gone. */
		if (c->routed)
			log_debug("bus: agent %.*s disconnected", (int)c->hlen,
			    c->rid);
		conn_close(b, c);
		return 0;
	}
}

/* The next frame from the connections with input, one frame per turn,
 * round robin. 1: *out filled; 0: none for now; -1: error. */
static int
rdq_next(struct bus *b, struct bus_msg *out)
{
	struct conn *c;
	int rc;

	for (int t = 0; t < TURNS_MAX && (c = TAILQ_FIRST(&b->rdq)) != NULL;
	    t++) {
		if ((rc = conn_input(b, c, out)) == 0)
			continue;
		if (rc == 1 && c->in_rdq) {
			rdq_remove(b, c);
			rdq_add(b, c);
		}
		return count_recv(b, out, rc);
	}
	return 0;
}

/* ------------------------------------------------ server: the endpoint */

/*
 * "tcp://<address>:<port>" as libzmq binds it: address "*" (every IPv4
 * address), a numeric IPv4 address or a bracketed IPv6 one, or a name
 * resolved once; port a number or "*" (0: the kernel picks one).
 */
static int
endpoint_parse(const char *ep, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[ENDPOINT_MAX], *colon, *end;
	const char *a;
	unsigned long port;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (strncmp(ep, "tcp://", 6) != 0) {
		err_set(TS_EINVALID, "bus: endpoint %s: only tcp:// is "
		    "supported", ep);
		return -1;
	}
	snprintf(host, sizeof(host), "%s", ep + 6);
	if ((colon = strrchr(host, ':')) == NULL || colon == host) {
		err_set(TS_EINVALID, "bus: endpoint %s: no address:port", ep);
		return -1;
	}
	*colon++ = '\0';
	if (strcmp(colon, "*") == 0)
		port = 0;
	else {
		errno = 0;
		port = strtoul(colon, &end, 10);
		if (*colon < '0' || *colon > '9' || *end != '\0' ||
		    errno != 0 || port > 65535) {
			err_set(TS_EINVALID, "bus: endpoint %s: bad port", ep);
			return -1;
		}
	}
	a = host;
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 3 || host[n - 1] != ']') {
			err_set(TS_EINVALID, "bus: endpoint %s: bad IPv6 "
			    "address", ep);
			return -1;
		}
		host[n - 1] = '\0';
		a = host + 1;
	}
	memset(ss, 0, sizeof(*ss));
	if (strcmp(a, "*") == 0) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons((in_port_t)port);
		*sl = sizeof(*s4);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = host[0] == '[' ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(a, "0", &hints, &res)) != 0 || res == NULL ||
	    res->ai_addrlen > sizeof(*ss)) {
		err_set(TS_EINVALID, "bus: endpoint %s: %s", ep,
		    rc != 0 ? gai_strerror(rc) : "no address");
		if (res != NULL)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((in_port_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((in_port_t)port);
	return 0;
}

/* What libzmq's ZMQ_LAST_ENDPOINT said: tcp://0.0.0.0:5670 for "*". */
static void
endpoint_format(struct bus *b)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN];

	if (getsockname(b->lfd, (struct sockaddr *)&ss, &sl) == -1)
		return;		/* keeps the configured one */
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(b->endpoint, sizeof(b->endpoint), "tcp://[%s]:%u", a,
		    ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(b->endpoint, sizeof(b->endpoint), "tcp://%s:%u", a,
		    ntohs(s4->sin_port));
	}
}

static int
epoll_add(struct bus *b, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		err_set_errno(TS_EIO, "bus: epoll_ctl");
		return -1;
	}
	return 0;
}

static int
server_open(struct bus *b)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t sec[ZMTP_KEY_LEN], pub[ZMTP_KEY_LEN];
	char pubz[BUS_KEY_Z85_LEN + 1];
	int backlog = b->backlog > 0 ? b->backlog : DEF_BACKLOG;

	TAILQ_INIT(&b->hs);
	TAILQ_INIT(&b->live);
	TAILQ_INIT(&b->dead);
	TAILQ_INIT(&b->rdq);
	TAILQ_INIT(&b->srcq);
	for (size_t i = 0; i <= SRC_MAX; i++) {
		TAILQ_INIT(&b->srcs[i].hs);
		TAILQ_INIT(&b->srcs[i].q);
	}
	b->hs_fill_us = clock_mono_us();
	b->hs_tokens_us = HS_BURST_US;
	b->hs_max = (size_t)backlog * HS_PER_BACKLOG;
	b->keepalive_s = b->heartbeat_ivl_ms > 0 ?
	    (b->heartbeat_ivl_ms + 999) / 1000 : 0;
	b->zcfg.curve = b->curve;
	b->zcfg.max_msg_size = b->max_msg_size;
	if (b->curve) {
		if (zmq_z85_decode(sec, b->secret_key) == NULL ||
		    zmq_curve_public(pubz, b->secret_key) == -1 ||
		    zmq_z85_decode(pub, pubz) == NULL) {
			err_set(TS_EINTERNAL, "bus: cannot decode the "
			    "server key");
			explicit_bzero(sec, sizeof(sec));
			return -1;
		}
		memcpy(b->zcfg.secret_key, sec, ZMTP_KEY_LEN);
		memcpy(b->zcfg.public_key, pub, ZMTP_KEY_LEN);
		explicit_bzero(sec, sizeof(sec));
		b->zcfg.allow = server_allow;
		b->zcfg.allow_arg = b;
	}
	if (endpoint_parse(b->endpoint_cfg, &ss, &sl) == -1)
		return -1;
	if ((b->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		err_set_errno(TS_EIO, "bus: epoll_create1");
		return -1;
	}
	if ((b->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		err_set_errno(TS_EIO, "bus: socket");
		return -1;
	}
	/* As libzmq: a restarted controller binds at once despite
	 * TIME_WAIT; an IPv6 wildcard takes IPv4 too. */
	if (set_int(b->lfd, SOL_SOCKET, SO_REUSEADDR, 1) == -1 ||
	    (ss.ss_family == AF_INET6 &&
	    set_int(b->lfd, IPPROTO_IPV6, IPV6_V6ONLY, 0) == -1)) {
		err_set_errno(TS_EIO, "bus: socket options");
		return -1;
	}
	if (bind(b->lfd, (struct sockaddr *)&ss, sl) == -1) {
		err_set_errno(TS_EIO, "bus: bind %s", b->endpoint_cfg);
		return -1;
	}
	if (listen(b->lfd, backlog) == -1) {
		err_set_errno(TS_EIO, "bus: listen %s", b->endpoint_cfg);
		return -1;
	}
	endpoint_format(b);
	if (epoll_add(b, b->lfd, EPOLLIN, EV_LISTEN) == -1 ||
	    epoll_add(b, b->wakefd, EPOLLIN, EV_WAKE) == -1)
		return -1;
	return 0;
}

static void
server_close(struct bus *b)
{
	struct conn *c;

	explicit_bzero(&b->zcfg, sizeof(b->zcfg));
	if (b->epfd == -1)
		return;
	while ((c = TAILQ_FIRST(&b->hs)) != NULL)
		conn_close(b, c);
	while ((c = TAILQ_FIRST(&b->live)) != NULL)
		conn_close(b, c);
	reap_dead(b);
	if (b->lfd != -1)
		close(b->lfd);
	close(b->epfd);
	b->lfd = b->epfd = -1;
	free(b->rtab);
	b->rtab = NULL;
}

/* bus_send() on the server: route, high-water mark, queue, write now. */
static int
server_send(struct bus *b, const char *peer, const void *buf, size_t len)
{
	struct conn *c;

	if ((c = route_find(b, peer)) == NULL) {
		count(&b->send_unreachable, 1);
		err_set(TS_EUNREACHABLE, "agent %s unreachable (not "
		    "connected)", peer);
		return -1;
	}
	if (zmtp_conn_queued(c->z) >= (size_t)b->sndhwm) {
		err_set(TS_EUNAVAILABLE, "agent %s: send queue full", peer);
		count(&b->send_full, 1);
		return -1;
	}
	if (zmtp_conn_send(c->z, buf, len) == -1) {
		err_prefix("bus: send to %s: ", peer);
		count(&b->send_io, 1);
		return -1;
	}
	if (conn_flush(c) == -1) {
		err_set(TS_EUNREACHABLE, "agent %s unreachable (connection "
		    "lost: %s)", peer, strerror(errno));
		count(&b->send_unreachable, 1);
		conn_close(b, c);
		return -1;
	}
	count_sent(b, buf, len);
	return 0;
}

size_t
bus_conn_footprint(const struct bus *b, size_t *nconns)
{
	const struct conn *c;
	size_t sum = 0, n = 0;

	if (b->role == ROLE_SERVER) {
		TAILQ_FOREACH(c, &b->hs, link) {
			sum += sizeof(*c) + zmtp_conn_footprint(c->z);
			n++;
		}
		TAILQ_FOREACH(c, &b->live, link) {
			sum += sizeof(*c) + zmtp_conn_footprint(c->z);
			n++;
		}
		sum += b->rcap * sizeof(b->rtab[0]);
	}
	if (nconns != NULL)
		*nconns = n;
	return sum;
}

/* Map epoll's revents to zmq_poll's, as bus_fd_fn callers expect. */
static short
zmq_revents(uint32_t e)
{
	short r = 0;

	if (e & EPOLLIN)
		r |= ZMQ_POLLIN;
	if (e & EPOLLOUT)
		r |= ZMQ_POLLOUT;
	if (e & (EPOLLERR | EPOLLHUP))
		r |= ZMQ_POLLERR;
	return r;
}

static int
server_poll(struct bus *b, int timeout_ms, struct bus_msg *out)
{
	struct epoll_event evs[EV_BATCH];
	struct extra_fd fds[BUS_MAX_FDS];
	short frev[BUS_MAX_FDS];
	int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
	int rc;

	drain_posts(b);
	/* While connections have input, hand it out without polling; every
	 * BURST_MAX frames the loop polls anyway, so the extra fds and new
	 * connections are not starved. */
	if (!TAILQ_EMPTY(&b->rdq) && b->rd_burst < BURST_MAX) {
		b->rd_burst++;
		if ((rc = rdq_next(b, out)) != 0)
			return rc;
	}
	for (;;) {
		int64_t now, due, hs_due, work_due;
		int i, n, nfds, woke = 0, listen_ready = 0, wait;

		/* Handshakes: the live input read first (rdq empty, and
		 * epoll's ready list drained: a full batch may have left
		 * live events behind, HS_SKIP_MAX rounds at most), or
		 * BURST_MAX frames of it handed out. */
		if (b->hs_skip == 0 || b->hs_skip >= HS_SKIP_MAX) {
			b->hs_skip = 0;
			if ((rc = hs_next(b, out)) != 0)
				return rc;
		}
		now = clock_mono_ms();
		listener_resume(b, now);
		hs_due = expire_handshakes(b, now);
		work_due = hs_work_due(b, now);
		if (TAILQ_EMPTY(&b->rdq))
			caught_up(b);
		if (!TAILQ_EMPTY(&b->rdq) || (work_due >= 0 &&
		    work_due <= now))
			wait = 0;
		else {
			due = deadline;
			if (hs_due >= 0 && (due < 0 || hs_due < due))
				due = hs_due;
			if (work_due >= 0 && (due < 0 || work_due < due))
				due = work_due;
			if (b->accept_resume_ms != 0 &&
			    (due < 0 || b->accept_resume_ms < due))
				due = b->accept_resume_ms;
			wait = due < 0 ? -1 : due > now ?
			    (int)(due - now < INT_MAX ? due - now : INT_MAX) : 0;
		}
		if ((n = epoll_wait(b->epfd, evs, EV_BATCH, wait)) == -1) {
			if (errno == EINTR)
				return 0;
			err_set_errno(TS_EIO, "bus: epoll_wait");
			return -1;
		}
		b->rd_burst = 0;
		b->hs_round_us = 0;
		b->hs_skip = n == EV_BATCH ? b->hs_skip + 1 : 0;
		/* A callback may add or remove fds: work on a copy. */
		nfds = b->nfds;
		memcpy(fds, b->fds, (size_t)nfds * sizeof(fds[0]));
		memset(frev, 0, sizeof(frev));
		for (i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			struct conn *c;

			switch (d & EV_TAGMASK) {
			case EV_LISTEN:
				listen_ready = 1;
				break;
			case EV_WAKE:
				woke = 2;
				break;
			case EV_EXTRA:
				for (int j = 0; j < nfds; j++)
					if (fds[j].fd == (int)(d >> 3))
						frev[j] |= zmq_revents(
						    evs[i].events);
				break;
			default:
				c = evs[i].data.ptr;
				if (c->dead)
					break;
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP |
				    EPOLLHUP | EPOLLERR)) {
					c->readable = 1;
					if (evs[i].events & (EPOLLRDHUP |
					    EPOLLHUP | EPOLLERR))
						c->hup = 1;
					rdq_add(b, c);
				}
				if ((evs[i].events & EPOLLOUT) &&
				    conn_flush(c) == -1)
					conn_close(b, c);
				break;
			}
		}
		/* before the callbacks: the tick judges hosts by it */
		if (TAILQ_EMPTY(&b->rdq))
			caught_up(b);
		if (listen_ready)
			server_accept(b);
		if (woke) {
			drain_posts(b);
			woke = 1;
		}
		for (i = 0; i < nfds; i++)
			if (frev[i] != 0 && fd_registered(b, &fds[i])) {
				fds[i].cb(fds[i].fd, frev[i], fds[i].arg);
				woke = 1;
			}
		/* No event of this batch is looked at after this point. */
		reap_dead(b);
		if (woke)
			return 0;
		if ((rc = rdq_next(b, out)) != 0)
			return rc;
		if (deadline >= 0 && clock_mono_ms() >= deadline)
			return 0;
	}
}

/* ------------------------------------------------------------ the loop */

int
bus_poll(struct bus *b, int timeout_ms, struct bus_msg *out)
{
	zmq_pollitem_t items[3 + BUS_MAX_FDS];
	struct extra_fd fds[BUS_MAX_FDS];
	int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;

	out->data = NULL;
	out->len = 0;
	out->peer[0] = out->user_id[0] = out->pubkey[0] = '\0';
	if (b->role == ROLE_SERVER)
		return server_poll(b, timeout_ms, out);
	drain_posts(b);
	/*
	 * While the socket has data, read it without polling (a zmq_poll
	 * asks the socket for ZMQ_EVENTS, a call into libzmq per frame).
	 * Every BURST_MAX reads the loop polls anyway, so the monitor and
	 * extra fds are not starved (posts are drained on every call,
	 * above).
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
