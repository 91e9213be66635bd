/*
 * zmtp_test: our server side of ZMTP 3.x against the real libzmq 4.3.
 *
 * Two harnesses. (1) A libzmq DEALER (the agents' socket) connects over
 * TCP on 127.0.0.1 to a test loop that accepts and drives one zmtp_conn
 * over the real socket; one zmq_poll() waits on the DEALER and on the
 * server's descriptors, every wait capped (WAIT_MS), so a regression
 * fails instead of hanging. (2) A hand-rolled adversarial client
 * (libsodium) feeds bytes straight into a zmtp_conn in arbitrary chunk
 * sizes, for what libzmq would never send: replays, tampered boxes,
 * foreign cookies, lying vouches, truncated commands, old greetings.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "err.h"
#include "zmtp.h"

#define WAIT_MS		5000	/* cap on any wait for something to happen */
/* The heartbeat test's cap: 20 PINGs take 1 s, but a starved machine
 * (load 13 on 2 cores) was seen to let libzmq's I/O thread send only
 * 6 in 5 s, without any disconnection. */
#define HB_WAIT_MS	30000

static int64_t		 wait_ms = WAIT_MS;
#define NMSG		700	/* > 600: the nonce counters go well past 255 */
#define BIG		(1024 * 1024)
#define MAX_MSG		(2 * 1024 * 1024)

struct keys {
	uint8_t	pub[32], sec[32];
	char	zpub[41], zsec[41];
};

static struct keys	kserver, kclient, kother;
static void		*zctx;

/* Every open libzmq socket, so that teardown can close what a failed
 * test left behind (zmq_ctx_term() waits for them all). */
#define NZSOCK		16
static void		*zsocks[NZSOCK];

static void *
zopen(int type)
{
	void *z = zmq_socket(zctx, type);

	assert_non_null(z);
	for (int i = 0; i < NZSOCK; i++)
		if (zsocks[i] == NULL) {
			zsocks[i] = z;
			return z;
		}
	fail_msg("too many sockets");
	return NULL;
}

static void
zclose(void *z)
{
	for (int i = 0; i < NZSOCK; i++)
		if (zsocks[i] == z)
			zsocks[i] = NULL;
	zmq_close(z);
}

static void
keys_make(struct keys *k)
{
	crypto_box_keypair(k->pub, k->sec);
	assert_non_null(zmq_z85_encode(k->zpub, k->pub, 32));
	assert_non_null(zmq_z85_encode(k->zsec, k->sec, 32));
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* allow(): only kclient is enrolled, as "host-1". */
static int
allow_one(const uint8_t key[ZMTP_KEY_LEN], char *host, size_t len, void *arg)
{
	int *calls = arg;

	if (calls != NULL)
		(*calls)++;
	if (memcmp(key, kclient.pub, 32) != 0)
		return -1;
	snprintf(host, len, "host-1");
	return 0;
}

static void
cfg_init(struct zmtp_cfg *cfg, int curve, int *calls)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->curve = curve;
	memcpy(cfg->public_key, kserver.pub, 32);
	memcpy(cfg->secret_key, kserver.sec, 32);
	cfg->max_msg_size = MAX_MSG;
	cfg->allow = allow_one;
	cfg->allow_arg = calls;
}

/* ---- harness 1: the server loop over TCP -------------------------- */

struct rmsg {
	uint8_t	*data;
	size_t	 len;
	int	 more;
};

struct srv {
	struct zmtp_cfg	 cfg;
	int		 lfd, fd, port;
	struct zmtp_conn *c;
	int		 ready;
	int		 failed;	/* next() returned -1 */
	int		 fail_code;
	int		 eof;		/* the client closed first */
	struct rmsg	*msgs;
	size_t		 nmsgs, cap;
	size_t		 fp_ready;	/* footprint when READY came */
};

static void
srv_start(struct srv *s, int curve, int *calls)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(s, 0, sizeof(*s));
	cfg_init(&s->cfg, curve, calls);
	s->fd = -1;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
}

static void
srv_stop(struct srv *s)
{
	for (size_t i = 0; i < s->nmsgs; i++)
		free(s->msgs[i].data);
	free(s->msgs);
	zmtp_conn_free(&s->c);
	assert_null(s->c);
	if (s->fd >= 0)
		close(s->fd);
	close(s->lfd);
}

static void
srv_endpoint(const struct srv *s, char *ep, size_t len)
{
	snprintf(ep, len, "tcp://127.0.0.1:%d", s->port);
}

/* Write what the connection has pending, as far as the socket takes. */
static void
srv_flush(struct srv *s)
{
	const uint8_t *p;
	size_t n;
	ssize_t w;

	while (s->fd >= 0 && (n = zmtp_conn_pending(s->c, &p)) > 0) {
		w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		zmtp_conn_sent(s->c, (size_t)w);
	}
}

/* One step on the server's descriptors after zmq_poll said so. */
static void
srv_io(struct srv *s, short lrev, short rev)
{
	struct zmtp_frame f;
	uint8_t *p;
	size_t room;
	ssize_t r;
	int ev;

	/* One connection per server: a client's reconnections wait. */
	if ((lrev & ZMQ_POLLIN) && s->fd < 0 && s->c == NULL) {
		s->fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s->fd >= 0) {
			s->c = zmtp_conn_new(&s->cfg);
			assert_non_null(s->c);
		}
	}
	if (s->fd < 0 || s->failed)
		return;
	if (rev & ZMQ_POLLIN) {
		for (int i = 0; i < 64; i++) {
			if (zmtp_conn_rspace(s->c, &p, &room) == -1)
				fail_msg("rspace: %s", err_msg());
			r = recv(s->fd, p, room, 0);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				s->eof = 1;
				break;
			}
			if (r < 0)
				break;
			zmtp_conn_rdone(s->c, (size_t)r);
			while ((ev = zmtp_conn_next(s->c, &f)) > 0) {
				if (ev == ZMTP_READY) {
					s->ready = 1;
					s->fp_ready = zmtp_conn_footprint(s->c);
					continue;
				}
				if (s->nmsgs == s->cap) {
					s->cap = s->cap ? 2 * s->cap : 64;
					s->msgs = realloc(s->msgs,
					    s->cap * sizeof(*s->msgs));
					assert_non_null(s->msgs);
				}
				s->msgs[s->nmsgs].data = malloc(f.len + 1);
				assert_non_null(s->msgs[s->nmsgs].data);
				if (f.len > 0)
					memcpy(s->msgs[s->nmsgs].data, f.data,
					    f.len);
				s->msgs[s->nmsgs].len = f.len;
				s->msgs[s->nmsgs].more = f.more;
				s->nmsgs++;
			}
			if (ev == -1) {
				s->failed = 1;
				s->fail_code = err_code();
				break;
			}
		}
	}
	srv_flush(s);
	if (s->failed && s->fd >= 0) {
		/* Flush the ERROR (if any), then close, like the bus. */
		srv_flush(s);
		close(s->fd);
		s->fd = -1;
	}
}

/* Serve until cond(s, arg) holds or WAIT_MS pass; also reads the client
 * socket's events when zsock is given (returns then on POLLIN). */
typedef int (*cond_fn)(struct srv *, void *);

static int
serve(struct srv *s, void *zsock, cond_fn cond, void *arg)
{
	int64_t end = now_ms() + wait_ms;
	zmq_pollitem_t it[3];
	const uint8_t *p;
	int n;

	while (!cond(s, arg)) {
		int64_t left = end - now_ms();

		if (left <= 0)
			return -1;
		int cfd = -1;

		n = 0;
		memset(it, 0, sizeof(it));
		it[n].fd = s->lfd;
		it[n++].events = ZMQ_POLLIN;
		if (zsock != NULL) {
			it[n].socket = zsock;
			it[n++].events = ZMQ_POLLIN;
		}
		if (s->fd >= 0) {
			cfd = n;
			it[n].fd = s->fd;
			it[n++].events = ZMQ_POLLIN |
			    (zmtp_conn_pending(s->c, &p) > 0 ? ZMQ_POLLOUT : 0);
		}
		if (zmq_poll(it, n, left > 100 ? 100 : left) < 0)
			fail_msg("zmq_poll: %s", zmq_strerror(errno));
		srv_io(s, it[0].revents, cfd >= 0 ? it[cfd].revents : 0);
	}
	return 0;
}

static int
is_ready(struct srv *s, void *arg)
{
	(void)arg;
	return s->ready || s->failed;
}

static int
is_failed(struct srv *s, void *arg)
{
	(void)arg;
	return s->failed;
}

static int
failed_or_eof(struct srv *s, void *arg)
{
	(void)arg;
	return s->failed || s->eof;
}

static int
has_msgs(struct srv *s, void *arg)
{
	return s->failed || s->nmsgs >= *(size_t *)arg;
}

static int
written(struct srv *s, void *arg)
{
	const uint8_t *p;

	(void)arg;
	return s->failed || s->fd < 0 || zmtp_conn_pending(s->c, &p) == 0;
}

/* The client's socket is readable (or the wait's cap). */
struct zwait {
	void	*sock;
};

static int
z_readable(struct srv *s, void *arg)
{
	struct zwait *w = arg;
	int ev = 0;
	size_t len = sizeof(ev);

	(void)s;
	zmq_getsockopt(w->sock, ZMQ_EVENTS, &ev, &len);
	return (ev & ZMQ_POLLIN) != 0;
}

/* Receive one client message while serving. */
static int
z_recv(struct srv *s, void *sock, void *buf, size_t len)
{
	struct zwait w = { sock };

	if (serve(s, sock, z_readable, &w) == -1)
		return -1;
	return zmq_recv(sock, buf, len, ZMQ_DONTWAIT);
}

/* A DEALER like the agents' (common/bus.c): CURVE client when curve. */
static void *
dealer(const struct srv *s, int curve, const uint8_t *server_pub,
    const struct keys *k, const char *rid, int type, void **mon,
    const char *monname)
{
	void *z = zopen(type);
	char ep[64], zs[41];
	int one = 1, ivl = 50, tmo = 150, zero = 0;

	assert_non_null(z);
	assert_int_equal(zmq_setsockopt(z, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	if (curve) {
		assert_non_null(zmq_z85_encode(zs, server_pub, 32));
		assert_int_equal(zmq_setsockopt(z, ZMQ_CURVE_SERVERKEY, zs, 40), 0);
		assert_int_equal(zmq_setsockopt(z, ZMQ_CURVE_PUBLICKEY,
		    k->zpub, 40), 0);
		assert_int_equal(zmq_setsockopt(z, ZMQ_CURVE_SECRETKEY,
		    k->zsec, 40), 0);
	}
	if (rid != NULL)
		assert_int_equal(zmq_setsockopt(z, ZMQ_ROUTING_ID, rid,
		    strlen(rid)), 0);
	if (type == ZMQ_DEALER)
		assert_int_equal(zmq_setsockopt(z, ZMQ_PROBE_ROUTER, &one,
		    sizeof(one)), 0);
	assert_int_equal(zmq_setsockopt(z, ZMQ_HEARTBEAT_IVL, &ivl,
	    sizeof(ivl)), 0);
	assert_int_equal(zmq_setsockopt(z, ZMQ_HEARTBEAT_TIMEOUT, &tmo,
	    sizeof(tmo)), 0);
	if (mon != NULL) {
		assert_int_equal(zmq_socket_monitor(z, monname,
		    ZMQ_EVENT_ALL), 0);
		*mon = zopen(ZMQ_PAIR);
		assert_non_null(*mon);
		assert_int_equal(zmq_connect(*mon, monname), 0);
	}
	srv_endpoint(s, ep, sizeof(ep));
	assert_int_equal(zmq_connect(z, ep), 0);
	return z;
}

/* Drain the monitor: counts of events seen so far, by event bit. */
struct monseen {
	int	auth_failed, auth_value, disconnected, succeeded, failed_proto;
};

static void
mon_drain(void *mon, struct monseen *m)
{
	uint8_t b[64];
	int n;

	for (;;) {
		n = zmq_recv(mon, b, sizeof(b), ZMQ_DONTWAIT);
		if (n < 0)
			return;
		if (n >= 6) {
			uint16_t ev;
			uint32_t val;

			memcpy(&ev, b, 2);
			memcpy(&val, b + 2, 4);
			if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
				m->auth_failed++;
				m->auth_value = (int)val;
			}
			if (ev == ZMQ_EVENT_DISCONNECTED)
				m->disconnected++;
			if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
				m->succeeded++;
			if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
				m->failed_proto++;
		}
		/* the endpoint frame */
		(void)zmq_recv(mon, b, sizeof(b), ZMQ_DONTWAIT);
	}
}

struct monwait {
	void		*mon;
	struct monseen	*seen;
};

static int
mon_auth_failed(struct srv *s, void *arg)
{
	struct monwait *w = arg;

	(void)s;
	mon_drain(w->mon, w->seen);
	return w->seen->auth_failed > 0;
}

static void
close_mon(void *z, void *mon)
{
	zmq_socket_monitor(z, NULL, 0);
	zclose(mon);
	zclose(z);
}

/* The whole life of a connection through libzmq: handshake, probe,
 * > 600 messages both ways, 1 MiB both ways, multi-part, footprint. */
static void
roundtrip(int curve)
{
	struct srv s;
	void *z, *mon;
	int calls = 0;
	size_t want;
	char buf[64];
	uint8_t *big, *got;
	struct monseen seen = { 0 };

	srv_start(&s, curve, &calls);
	z = dealer(&s, curve, kserver.pub, &kclient, "agent-1", ZMQ_DEALER,
	    &mon, curve ? "inproc://mon-rt-c" : "inproc://mon-rt-n");
	assert_int_equal(serve(&s, NULL, is_ready, NULL), 0);
	assert_false(s.failed);
	assert_true(s.ready);
	assert_string_equal(zmtp_conn_rid(s.c), "agent-1");
	if (curve) {
		assert_int_equal(calls, 1);
		assert_string_equal(zmtp_conn_host(s.c), "host-1");
		assert_memory_equal(zmtp_conn_key(s.c), kclient.pub, 32);
	} else {
		assert_int_equal(calls, 0);
		assert_string_equal(zmtp_conn_host(s.c), "");
		assert_null(zmtp_conn_key(s.c));
	}
	print_message("footprint at READY (%s): %zu bytes\n",
	    curve ? "CURVE" : "NULL", s.fp_ready);

	/* The probe: one empty frame. */
	want = 1;
	assert_int_equal(serve(&s, NULL, has_msgs, &want), 0);
	assert_int_equal(s.msgs[0].len, 0);
	assert_int_equal(s.msgs[0].more, 0);
	assert_int_equal(serve(&s, NULL, written, NULL), 0);
	{
		struct zmtp_frame f;

		assert_int_equal(zmtp_conn_next(s.c, &f), ZMTP_NONE);
	}
	print_message("footprint idle after READY (%s): %zu bytes\n",
	    curve ? "CURVE" : "NULL", zmtp_conn_footprint(s.c));
	assert_true(zmtp_conn_footprint(s.c) < 1024);

	/* Many both ways: the short nonces pass 255 and 511. */
	for (int i = 0; i < NMSG; i++) {
		int n = snprintf(buf, sizeof(buf), "c2s %d", i);

		assert_int_equal(zmq_send(z, buf, (size_t)n, 0), n);
	}
	want = 1 + NMSG;
	assert_int_equal(serve(&s, NULL, has_msgs, &want), 0);
	assert_false(s.failed);
	for (int i = 0; i < NMSG; i++) {
		char exp[64];
		int n = snprintf(exp, sizeof(exp), "c2s %d", i);

		assert_int_equal(s.msgs[1 + i].len, n);
		assert_memory_equal(s.msgs[1 + i].data, exp, (size_t)n);
		assert_int_equal(s.msgs[1 + i].more, 0);
	}
	for (int i = 0; i < NMSG; i++) {
		int n = snprintf(buf, sizeof(buf), "s2c %d", i);

		assert_int_equal(zmtp_conn_send(s.c, buf, (size_t)n), 0);
	}
	assert_true(zmtp_conn_queued(s.c) > 0);
	for (int i = 0; i < NMSG; i++) {
		char exp[64], in[64];
		int n = snprintf(exp, sizeof(exp), "s2c %d", i);

		assert_int_equal(z_recv(&s, z, in, sizeof(in)), n);
		assert_memory_equal(in, exp, (size_t)n);
	}
	assert_int_equal(zmtp_conn_queued(s.c), 0);

	/* 1 MiB both ways. */
	big = malloc(BIG);
	got = malloc(BIG);
	assert_non_null(big);
	assert_non_null(got);
	randombytes_buf(big, BIG);
	assert_int_equal(zmq_send(z, big, BIG, 0), BIG);
	want = 2 + NMSG;
	assert_int_equal(serve(&s, NULL, has_msgs, &want), 0);
	assert_false(s.failed);
	assert_int_equal(s.msgs[1 + NMSG].len, BIG);
	assert_memory_equal(s.msgs[1 + NMSG].data, big, BIG);
	big[0] ^= 1;
	assert_int_equal(zmtp_conn_send(s.c, big, BIG), 0);
	assert_int_equal(z_recv(&s, z, got, BIG), BIG);
	assert_memory_equal(got, big, BIG);
	assert_int_equal(serve(&s, NULL, written, NULL), 0);
	/* Everything read and written: the buffers are gone again. */
	{
		struct zmtp_frame f;

		assert_int_equal(zmtp_conn_next(s.c, &f), ZMTP_NONE);
	}
	print_message("footprint after 1 MiB both ways (%s): %zu bytes\n",
	    curve ? "CURVE" : "NULL", zmtp_conn_footprint(s.c));
	assert_true(zmtp_conn_footprint(s.c) < 1024);
	assert_true(s.fp_ready < 4096);
	free(big);
	free(got);

	/* Multi-part: more=1 then 0. */
	assert_int_equal(zmq_send(z, "part1", 5, ZMQ_SNDMORE), 5);
	assert_int_equal(zmq_send(z, "part2", 5, 0), 5);
	want = 4 + NMSG;
	assert_int_equal(serve(&s, NULL, has_msgs, &want), 0);
	assert_int_equal(s.msgs[2 + NMSG].more, 1);
	assert_memory_equal(s.msgs[2 + NMSG].data, "part1", 5);
	assert_int_equal(s.msgs[3 + NMSG].more, 0);
	assert_memory_equal(s.msgs[3 + NMSG].data, "part2", 5);

	mon_drain(mon, &seen);
	assert_int_equal(seen.disconnected, 0);
	assert_int_equal(seen.succeeded, 1);
	close_mon(z, mon);
	srv_stop(&s);
}

static void
test_curve_roundtrip(void **state)
{
	(void)state;
	roundtrip(1);
}

static void
test_null_roundtrip(void **state)
{
	(void)state;
	roundtrip(0);
}

static int
pongs_at_least(struct srv *s, void *arg)
{
	return s->failed || (s->c != NULL &&
	    zmtp_conn_pongs(s->c) >= *(uint64_t *)arg);
}

/* HEARTBEAT_IVL 50 ms, TIMEOUT 150 ms, no application traffic: the
 * client stays connected only if its PINGs are answered. */
static void
heartbeat(int curve)
{
	struct srv s;
	void *z, *mon;
	uint64_t want = 20;
	struct monseen seen = { 0 };
	int64_t t0;
	int rc;

	srv_start(&s, curve, NULL);
	z = dealer(&s, curve, kserver.pub, &kclient, "hb", ZMQ_DEALER, &mon,
	    curve ? "inproc://mon-hb-c" : "inproc://mon-hb-n");
	t0 = now_ms();
	wait_ms = HB_WAIT_MS;
	rc = serve(&s, NULL, pongs_at_least, &want);
	wait_ms = WAIT_MS;
	print_message("%llu PONGs in %lld ms (%s)\n",
	    s.c ? (unsigned long long)zmtp_conn_pongs(s.c) : 0,
	    (long long)(now_ms() - t0), curve ? "CURVE" : "NULL");
	mon_drain(mon, &seen);
	/* What went wrong, if anything: a PONG later than the client's
	 * 150 ms timeout (a starved machine) shows as a disconnection. */
	if (rc != 0 || s.failed || seen.disconnected != 0)
		print_message("heartbeat: wait %d, failed %d (%s), eof %d, "
		    "pongs %llu, disconnected %d\n", rc, s.failed,
		    s.failed ? err_code_name((enum ts_errcode)s.fail_code) : "",
		    s.eof, s.c ? (unsigned long long)zmtp_conn_pongs(s.c) : 0,
		    seen.disconnected);
	assert_int_equal(rc, 0);
	assert_false(s.failed);
	assert_true(zmtp_conn_pongs(s.c) >= want);
	assert_int_equal(seen.disconnected, 0);
	assert_int_equal(seen.succeeded, 1);
	/* Only the probe arrived: PINGs are never delivered. */
	assert_int_equal(s.nmsgs, 1);
	close_mon(z, mon);
	srv_stop(&s);
}

static void
test_curve_heartbeat(void **state)
{
	(void)state;
	heartbeat(1);
}

static void
test_null_heartbeat(void **state)
{
	(void)state;
	heartbeat(0);
}

/* The client's key is not enrolled: ERROR "400", and libzmq's client
 * reports HANDSHAKE_FAILED_AUTH. */
static void
test_key_refused(void **state)
{
	struct srv s;
	void *z, *mon;
	int calls = 0;
	struct monseen seen = { 0 };
	struct monwait w;

	(void)state;
	srv_start(&s, 1, &calls);
	z = dealer(&s, 1, kserver.pub, &kother, "intruder", ZMQ_DEALER, &mon,
	    "inproc://mon-refused");
	assert_int_equal(zmq_send(z, "hi", 2, ZMQ_DONTWAIT), 2);
	assert_int_equal(serve(&s, NULL, is_failed, NULL), 0);
	assert_int_equal(s.fail_code, TS_EUNAUTHORIZED);
	assert_int_equal(calls, 1);
	assert_false(s.ready);
	assert_int_equal(s.nmsgs, 0);
	w.mon = mon;
	w.seen = &seen;
	assert_int_equal(serve(&s, NULL, mon_auth_failed, &w), 0);
	assert_int_equal(seen.auth_value, 400);
	close_mon(z, mon);
	srv_stop(&s);
}

/* One libzmq client that must fail the handshake with code. */
static void
must_fail(int srv_curve, int cli_curve, const uint8_t *server_pub,
    int type, int64_t max, int code, const void *send, size_t sendlen)
{
	struct srv s;
	void *z;
	int calls = 0;

	srv_start(&s, srv_curve, &calls);
	if (max > 0)
		s.cfg.max_msg_size = max;
	z = dealer(&s, cli_curve, server_pub, &kclient, "x", type, NULL, NULL);
	if (send != NULL)
		assert_int_equal(zmq_send(z, send, sendlen, ZMQ_DONTWAIT),
		    (int)sendlen);
	/* A mechanism mismatch: libzmq may close before it sends the rest
	 * of its greeting (test_adv_greetings checks our refusal). */
	if (code == -1) {
		assert_int_equal(serve(&s, NULL, failed_or_eof, NULL), 0);
		if (s.failed)
			assert_int_equal(s.fail_code, TS_EDECODE);
	} else {
		assert_int_equal(serve(&s, NULL, is_failed, NULL), 0);
		assert_int_equal(s.fail_code, code);
	}
	if (code != TS_ETOO_LARGE) {
		assert_false(s.ready);
		assert_int_equal(calls, 0);
	}
	/* The message never arrives (after READY only the probe). */
	assert_true(s.nmsgs <= 1);
	for (size_t i = 0; i < s.nmsgs; i++)
		assert_int_equal(s.msgs[i].len, 0);
	zclose(z);
	srv_stop(&s);
}

static void
test_wrong_server_key(void **state)
{
	(void)state;
	must_fail(1, 1, kother.pub, ZMQ_DEALER, 0, TS_EDECODE, "hi", 2);
}

static void
test_null_client_curve_server(void **state)
{
	(void)state;
	must_fail(1, 0, NULL, ZMQ_DEALER, 0, -1, "hi", 2);
}

static void
test_curve_client_null_server(void **state)
{
	(void)state;
	must_fail(0, 1, kserver.pub, ZMQ_DEALER, 0, -1, "hi", 2);
}

static void
test_not_dealer(void **state)
{
	(void)state;
	must_fail(1, 1, kserver.pub, ZMQ_REQ, 0, TS_EDECODE, "hi", 2);
	must_fail(1, 1, kserver.pub, ZMQ_ROUTER, 0, TS_EDECODE, NULL, 0);
	must_fail(0, 0, NULL, ZMQ_REQ, 0, TS_EDECODE, "hi", 2);
}

static void
test_too_large(void **state)
{
	static uint8_t big[2000];

	(void)state;
	must_fail(1, 1, kserver.pub, ZMQ_DEALER, 1024, TS_ETOO_LARGE,
	    big, sizeof(big));
	must_fail(0, 0, NULL, ZMQ_DEALER, 1024, TS_ETOO_LARGE,
	    big, sizeof(big));
}

/* ---- harness 2: an adversarial client, bytes in memory ------------- */

struct adv {
	struct zmtp_cfg	 cfg;
	struct zmtp_conn *c;
	size_t		 chunk;		/* feed in pieces of this size */
	uint8_t		 cn_pub[32], cn_sec[32];	/* C', c' */
	uint8_t		 sn_pub[32];			/* S' */
	uint8_t		 cookie[96];
	uint8_t		 precom[32];
	uint64_t	 nonce;
	uint8_t		 out[4096];	/* server's bytes, unread part */
	size_t		 olen;
	int		 ready;
	size_t		 nmsgs;
	uint8_t		 last[256];
	size_t		 lastlen;
};

/* Feed bytes; returns the first -1 of next() or 0. */
static int
adv_feed(struct adv *a, const void *data, size_t len)
{
	const uint8_t *d = data;
	struct zmtp_frame f;
	const uint8_t *p;
	uint8_t *sp;
	size_t room, n;
	int ev;

	while (len > 0) {
		if (zmtp_conn_rspace(a->c, &sp, &room) == -1)
			return -1;	/* dead already */
		assert_true(room > 0);
		n = len < room ? len : room;
		if (n > a->chunk)
			n = a->chunk;
		memcpy(sp, d, n);
		zmtp_conn_rdone(a->c, n);
		d += n;
		len -= n;
		while ((ev = zmtp_conn_next(a->c, &f)) > 0) {
			if (ev == ZMTP_READY) {
				a->ready = 1;
				continue;
			}
			a->nmsgs++;
			assert_true(f.len <= sizeof(a->last));
			memcpy(a->last, f.data, f.len);
			a->lastlen = f.len;
		}
		n = zmtp_conn_pending(a->c, &p);
		assert_true(a->olen + n <= sizeof(a->out));
		if (n > 0)
			memcpy(a->out + a->olen, p, n);
		a->olen += n;
		zmtp_conn_sent(a->c, n);
		if (ev == -1)
			return -1;
	}
	return 0;
}

/* Take one frame the server sent: body into buf; returns its length. */
static size_t
adv_take(struct adv *a, uint8_t *flags, uint8_t *buf, size_t cap)
{
	size_t hl, n;

	assert_true(a->olen >= 2);
	*flags = a->out[0];
	if (*flags & 2) {
		uint64_t v = 0;

		assert_true(a->olen >= 9);
		for (int i = 1; i <= 8; i++)
			v = v << 8 | a->out[i];
		hl = 9;
		n = (size_t)v;
	} else {
		hl = 2;
		n = a->out[1];
	}
	assert_true(a->olen >= hl + n && n <= cap);
	memcpy(buf, a->out + hl, n);
	memmove(a->out, a->out + hl + n, a->olen - hl - n);
	a->olen -= hl + n;
	return n;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static int
adv_frame(struct adv *a, uint8_t flags, const void *body, size_t len)
{
	uint8_t h[9];

	if (len > 255) {
		h[0] = flags | 2;
		put64(h + 1, len);
		if (adv_feed(a, h, 9) == -1)
			return -1;
	} else {
		h[0] = flags;
		h[1] = (uint8_t)len;
		if (adv_feed(a, h, 2) == -1)
			return -1;
	}
	return adv_feed(a, body, len);
}

static void
adv_new(struct adv *a, int curve, size_t chunk)
{
	memset(a, 0, sizeof(*a));
	cfg_init(&a->cfg, curve, NULL);
	a->cfg.max_msg_size = 1024;
	a->c = zmtp_conn_new(&a->cfg);
	assert_non_null(a->c);
	a->chunk = chunk;
	crypto_box_keypair(a->cn_pub, a->cn_sec);
}

static void
adv_greet(struct adv *a, const char *mech)
{
	uint8_t g[64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1 };
	uint8_t f, sg[64];

	memcpy(g + 12, mech, strlen(mech));
	assert_int_equal(adv_feed(a, g, sizeof(g)), 0);
	assert_true(a->olen >= 64);
	memcpy(sg, a->out, 64);
	memmove(a->out, a->out + 64, a->olen - 64);
	a->olen -= 64;
	assert_int_equal(sg[0], 0xff);
	assert_int_equal(sg[10], 3);
	assert_int_equal(sg[11], 1);
	(void)f;
}

static void
adv_hello(struct adv *a, const uint8_t *server_pub)
{
	uint8_t h[200], zero[64] = { 0 }, nonce[24], w[168], plain[128], f;

	memset(h, 0, sizeof(h));
	memcpy(h, "\5HELLO\1\0", 8);
	memcpy(h + 80, a->cn_pub, 32);
	a->nonce = 1;
	memcpy(nonce, "CurveZMQHELLO---", 16);
	put64(nonce + 16, a->nonce);
	memcpy(h + 112, nonce + 16, 8);
	assert_int_equal(crypto_box_easy(h + 120, zero, 64, nonce, server_pub,
	    a->cn_sec), 0);
	assert_int_equal(adv_frame(a, 4, h, sizeof(h)), 0);
	assert_int_equal(adv_take(a, &f, w, sizeof(w)), 168);
	assert_int_equal(f, 4);
	assert_memory_equal(w, "\7WELCOME", 8);
	memcpy(nonce, "WELCOME-", 8);
	memcpy(nonce + 8, w + 8, 16);
	assert_int_equal(crypto_box_open_easy(plain, w + 24, 144, nonce,
	    server_pub, a->cn_sec), 0);
	memcpy(a->sn_pub, plain, 32);
	memcpy(a->cookie, plain + 32, 96);
	assert_int_equal(crypto_box_beforenm(a->precom, a->sn_pub,
	    a->cn_sec), 0);
}

/* INITIATE with what the vouch says (C' and S) and the metadata. */
static int
adv_initiate(struct adv *a, const struct keys *k, const uint8_t *vouch_cn,
    const uint8_t *vouch_s, const void *meta, size_t metalen)
{
	uint8_t vplain[64], vnonce[24], nonce[24];
	uint8_t plain[128 + 512], msg[113 + 16 + 128 + 512];

	assert_true(metalen <= 512);
	memcpy(vplain, vouch_cn, 32);
	memcpy(vplain + 32, vouch_s, 32);
	memcpy(vnonce, "VOUCH---", 8);
	randombytes_buf(vnonce + 8, 16);
	memcpy(plain, k->pub, 32);
	memcpy(plain + 32, vnonce + 8, 16);
	assert_int_equal(crypto_box_easy(plain + 48, vplain, 64, vnonce,
	    a->sn_pub, k->sec), 0);
	memcpy(plain + 128, meta, metalen);
	memcpy(msg, "\10INITIATE", 9);
	memcpy(msg + 9, a->cookie, 96);
	a->nonce++;
	memcpy(nonce, "CurveZMQINITIATE", 16);
	put64(nonce + 16, a->nonce);
	memcpy(msg + 105, nonce + 16, 8);
	assert_int_equal(crypto_box_easy_afternm(msg + 113, plain,
	    128 + metalen, nonce, a->precom), 0);
	return adv_frame(a, 4, msg, 113 + 16 + 128 + metalen);
}

static const uint8_t dealer_meta[] =
    "\13Socket-Type\0\0\0\6DEALER" "\10Identity\0\0\0\3adv";
#define DEALER_META_LEN	(sizeof(dealer_meta) - 1)

/* A MESSAGE with the given nonce; tamper flips a byte of the box. */
static int
adv_message(struct adv *a, uint64_t n, uint8_t mflags, const void *data,
    size_t len, int tamper)
{
	uint8_t msg[16 + 16 + 1 + 256], nonce[24], plain[1 + 256];

	assert_true(len <= 256);
	memcpy(msg, "\7MESSAGE", 8);
	put64(msg + 8, n);
	memcpy(nonce, "CurveZMQMESSAGEC", 16);
	put64(nonce + 16, n);
	plain[0] = mflags;
	memcpy(plain + 1, data, len);
	assert_int_equal(crypto_box_easy_afternm(msg + 16, plain, 1 + len,
	    nonce, a->precom), 0);
	if (tamper)
		msg[16 + 16] ^= 0x40;
	return adv_frame(a, 0, msg, 16 + 16 + 1 + len);
}

/* The whole adversarial handshake up to READY. */
static void
adv_connect(struct adv *a, size_t chunk)
{
	uint8_t f, r[256], nonce[24], plain[256];
	size_t n;

	adv_new(a, 1, chunk);
	adv_greet(a, "CURVE");
	adv_hello(a, kserver.pub);
	assert_int_equal(adv_initiate(a, &kclient, a->cn_pub, kserver.pub,
	    dealer_meta, DEALER_META_LEN), 0);
	assert_true(a->ready);
	assert_string_equal(zmtp_conn_rid(a->c), "adv");
	n = adv_take(a, &f, r, sizeof(r));
	assert_memory_equal(r, "\5READY", 6);
	memcpy(nonce, "CurveZMQREADY---", 16);
	memcpy(nonce + 16, r + 6, 8);
	assert_int_equal(crypto_box_open_easy_afternm(plain, r + 14, n - 14,
	    nonce, a->precom), 0);
	assert_memory_equal(plain, "\13Socket-Type\0\0\0\6ROUTER", 22);
}

static void
test_adv_handshake_chunks(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 4096 };
	struct adv a;

	(void)state;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		adv_connect(&a, chunks[i]);
		assert_int_equal(adv_message(&a, ++a.nonce, 0, "hello", 5, 0),
		    0);
		assert_int_equal(a.nmsgs, 1);
		assert_memory_equal(a.last, "hello", 5);
		zmtp_conn_free(&a.c);
	}
}

static void
test_adv_replay(void **state)
{
	struct adv a;
	uint64_t n;

	(void)state;
	adv_connect(&a, 5);
	n = ++a.nonce;
	assert_int_equal(adv_message(&a, n, 0, "one", 3, 0), 0);
	assert_int_equal(a.nmsgs, 1);
	/* the same nonce again */
	assert_int_equal(adv_message(&a, n, 0, "two", 3, 0), -1);
	assert_int_equal(err_code(), TS_EDECODE);
	assert_int_equal(a.nmsgs, 1);
	/* dead from now on */
	assert_int_equal(adv_message(&a, n + 5, 0, "three", 5, 0), -1);
	assert_int_equal(a.nmsgs, 1);
	zmtp_conn_free(&a.c);

	/* an older nonce */
	adv_connect(&a, 4096);
	assert_int_equal(adv_message(&a, 10, 0, "one", 3, 0), 0);
	assert_int_equal(adv_message(&a, 9, 0, "two", 3, 0), -1);
	assert_int_equal(a.nmsgs, 1);
	zmtp_conn_free(&a.c);

	/* a nonce not above INITIATE's (2): the first MESSAGE reuses it */
	adv_connect(&a, 4096);
	assert_int_equal(adv_message(&a, 2, 0, "one", 3, 0), -1);
	assert_int_equal(a.nmsgs, 0);
	zmtp_conn_free(&a.c);
}

static void
test_adv_tampered(void **state)
{
	struct adv a;

	(void)state;
	adv_connect(&a, 4096);
	assert_int_equal(adv_message(&a, ++a.nonce, 0, "one", 3, 1), -1);
	assert_int_equal(err_code(), TS_EDECODE);
	assert_int_equal(a.nmsgs, 0);
	zmtp_conn_free(&a.c);
	/* reserved flags inside the box */
	adv_connect(&a, 4096);
	assert_int_equal(adv_message(&a, ++a.nonce, 0x80, "one", 3, 0), -1);
	assert_int_equal(a.nmsgs, 0);
	zmtp_conn_free(&a.c);
}

/* A cookie from another connection (another cookie key) is refused. */
static void
test_adv_foreign_cookie(void **state)
{
	struct adv a, b;

	(void)state;
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	adv_hello(&a, kserver.pub);
	adv_new(&b, 1, 4096);
	adv_greet(&b, "CURVE");
	adv_hello(&b, kserver.pub);
	memcpy(a.cookie, b.cookie, 96);
	assert_int_equal(adv_initiate(&a, &kclient, a.cn_pub, kserver.pub,
	    dealer_meta, DEALER_META_LEN), -1);
	assert_int_equal(err_code(), TS_EDECODE);
	assert_false(a.ready);
	zmtp_conn_free(&a.c);
	zmtp_conn_free(&b.c);
}

static void
test_adv_vouch(void **state)
{
	struct adv a;
	uint8_t other[32];

	(void)state;
	randombytes_buf(other, 32);
	/* a vouch naming another C' */
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	adv_hello(&a, kserver.pub);
	assert_int_equal(adv_initiate(&a, &kclient, other, kserver.pub,
	    dealer_meta, DEALER_META_LEN), -1);
	assert_false(a.ready);
	zmtp_conn_free(&a.c);
	/* a vouch naming another server */
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	adv_hello(&a, kserver.pub);
	assert_int_equal(adv_initiate(&a, &kclient, a.cn_pub, kother.pub,
	    dealer_meta, DEALER_META_LEN), -1);
	assert_false(a.ready);
	zmtp_conn_free(&a.c);
	/* a vouch boxed by a key other than the INITIATE's C */
	{
		struct keys forged = kclient;

		memcpy(forged.sec, kother.sec, 32);
		adv_new(&a, 1, 4096);
		adv_greet(&a, "CURVE");
		adv_hello(&a, kserver.pub);
		assert_int_equal(adv_initiate(&a, &forged, a.cn_pub,
		    kserver.pub, dealer_meta, DEALER_META_LEN), -1);
		assert_false(a.ready);
		zmtp_conn_free(&a.c);
	}
}

/* Metadata that is not a DEALER's, or is malformed. */
static void
test_adv_metadata(void **state)
{
	static const struct {
		const char	*m;
		size_t		 len;
	} bad[] = {
		{ "\13Socket-Type\0\0\0\6ROUTER", 22 },
		{ "\13Socket-Type\0\0\0\3REQ", 19 },
		{ "\10Identity\0\0\0\1x", 14 },		/* no Socket-Type */
		{ "\13Socket-Type\0\0\0\7DEALER", 22 },	/* truncated */
		{ "\13Socket-Type\0\0\0\6DEALERx", 23 },	/* trailing */
		{ "\13Socket-Type\0\0\0\6DEALER\13Socket-Type\0\0\0\6DEALER",
		    44 },
		{ "\13Socket-Type\0\0\0\6DEALER\10Identity\0\0\0\3a\0b", 38 },
		{ "\13Socket-Type\0\0\0\6DEALER\0\0\0\0\0", 27 },
	};
	struct adv a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		adv_new(&a, 1, 4096);
		adv_greet(&a, "CURVE");
		adv_hello(&a, kserver.pub);
		assert_int_equal(adv_initiate(&a, &kclient, a.cn_pub,
		    kserver.pub, bad[i].m, bad[i].len), -1);
		assert_int_equal(err_code(), TS_EDECODE);
		assert_false(a.ready);
		zmtp_conn_free(&a.c);
	}
}

/* Greetings: garbage, ZMTP 1.0 and 2.0 (refused from their first bytes:
 * such a peer waits for us after a short greeting), another mechanism. */
static void
test_adv_greetings(void **state)
{
	static const uint8_t zmtp2[] = {
		0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 5 };
	static const uint8_t zmtp1[] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7e };
	struct adv a;

	(void)state;
	adv_new(&a, 1, 1);
	assert_int_equal(adv_feed(&a, "GET / HTTP/1.1\r\n", 16), -1);
	assert_int_equal(err_code(), TS_EDECODE);
	zmtp_conn_free(&a.c);
	adv_new(&a, 1, 1);
	assert_int_equal(adv_feed(&a, zmtp2, sizeof(zmtp2)), -1);
	zmtp_conn_free(&a.c);
	adv_new(&a, 0, 1);
	assert_int_equal(adv_feed(&a, zmtp1, sizeof(zmtp1)), -1);
	zmtp_conn_free(&a.c);
	adv_new(&a, 1, 64);
	{
		uint8_t g[64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0 };

		memcpy(g + 12, "PLAIN", 5);
		assert_int_equal(adv_feed(&a, g, sizeof(g)), -1);
		zmtp_conn_free(&a.c);
		/* NULL to a CURVE server, CURVE to a NULL server */
		memset(g + 12, 0, 20);
		memcpy(g + 12, "NULL", 4);
		adv_new(&a, 1, 7);
		assert_int_equal(adv_feed(&a, g, sizeof(g)), -1);
		assert_int_equal(err_code(), TS_EDECODE);
		zmtp_conn_free(&a.c);
		memcpy(g + 12, "CURVE", 5);
		adv_new(&a, 0, 7);
		assert_int_equal(adv_feed(&a, g, sizeof(g)), -1);
		zmtp_conn_free(&a.c);
		/* a CURVE client claiming the server role */
		g[32] = 1;
		adv_new(&a, 1, 7);
		assert_int_equal(adv_feed(&a, g, sizeof(g)), -1);
	}
	zmtp_conn_free(&a.c);
}

/* Commands of the wrong size, truncated or with trailing bytes. */
static void
test_adv_truncated(void **state)
{
	struct adv a;
	uint8_t h[201];

	(void)state;
	/* HELLO one byte short and one byte long */
	memset(h, 0, sizeof(h));
	memcpy(h, "\5HELLO\1\0", 8);
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	assert_int_equal(adv_frame(&a, 4, h, 199), -1);
	zmtp_conn_free(&a.c);
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	assert_int_equal(adv_frame(&a, 4, h, 201), -1);
	zmtp_conn_free(&a.c);
	/* a HELLO frame that never completes: waits, delivers nothing */
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	assert_int_equal(adv_feed(&a, "\4\310\5HELLO", 8), 0);
	assert_int_equal(a.olen, 0);
	zmtp_conn_free(&a.c);
	/* a data frame instead of HELLO */
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	assert_int_equal(adv_frame(&a, 0, h, 200), -1);
	zmtp_conn_free(&a.c);
	/* INITIATE below its minimum */
	adv_new(&a, 1, 4096);
	adv_greet(&a, "CURVE");
	adv_hello(&a, kserver.pub);
	memset(h, 0, sizeof(h));
	memcpy(h, "\10INITIATE", 9);
	assert_int_equal(adv_frame(&a, 4, h, 200), -1);
	zmtp_conn_free(&a.c);
	/* NULL: READY with a name longer than the command */
	adv_new(&a, 0, 3);
	adv_greet(&a, "NULL");
	assert_int_equal(adv_frame(&a, 4, "\11READY", 6), -1);
	zmtp_conn_free(&a.c);
	/* NULL: a PING without its TTL, and one with a 17-byte context */
	adv_new(&a, 0, 3);
	adv_greet(&a, "NULL");
	assert_int_equal(adv_frame(&a, 4, "\5READY\13Socket-Type\0\0\0\6DEALER",
	    28), 0);
	assert_true(a.ready);
	assert_int_equal(adv_frame(&a, 4, "\4PING\0", 6), -1);
	zmtp_conn_free(&a.c);
	adv_new(&a, 0, 3);
	adv_greet(&a, "NULL");
	assert_int_equal(adv_frame(&a, 4, "\5READY\13Socket-Type\0\0\0\6DEALER",
	    28), 0);
	{
		uint8_t ping[7 + 17] = "\4PING\0\1";
		uint8_t f, r[64];

		assert_int_equal(adv_take(&a, &f, r, sizeof(r)) > 0, 1); /* READY */
		assert_int_equal(adv_frame(&a, 4, ping, 7 + 16), 0);
		assert_int_equal(adv_take(&a, &f, r, sizeof(r)), 5 + 16);
		assert_int_equal(f, 4);
		assert_memory_equal(r, "\4PONG", 5);
		assert_int_equal(zmtp_conn_pongs(a.c), 1);
		assert_int_equal(adv_frame(&a, 4, ping, 7 + 17), -1);
	}
	assert_int_equal(a.nmsgs, 0);
	zmtp_conn_free(&a.c);
	/* NULL: a data frame above max_msg_size, refused from its header */
	adv_new(&a, 0, 4096);
	adv_greet(&a, "NULL");
	assert_int_equal(adv_frame(&a, 4, "\5READY\13Socket-Type\0\0\0\6DEALER",
	    28), 0);
	assert_int_equal(adv_feed(&a, "\2\0\0\0\0\0\0\4\1", 9), -1);
	assert_int_equal(err_code(), TS_ETOO_LARGE);
	assert_true(zmtp_conn_footprint(a.c) < 1024);
	zmtp_conn_free(&a.c);
	/* reserved frame flags */
	adv_new(&a, 0, 4096);
	adv_greet(&a, "NULL");
	assert_int_equal(adv_frame(&a, 0x84, "\5READY", 6), -1);
	zmtp_conn_free(&a.c);
}

/*
 * What idle READY connections hold: NIDLE CURVE connections, each after
 * a full handshake and one message, kept open. Reported: the sum of
 * zmtp_conn_footprint() and the heap glibc's malloc counts for them
 * (with its per-block overhead; 0 under ASan, which replaces malloc).
 */
#define NIDLE	2000

static void
test_idle_heap(void **state)
{
	struct zmtp_conn **cs;
	struct adv a;
	struct mallinfo2 m0, m1;
	size_t fp = 0;

	(void)state;
	cs = calloc(NIDLE, sizeof(*cs));
	assert_non_null(cs);
	m0 = mallinfo2();
	for (int i = 0; i < NIDLE; i++) {
		adv_connect(&a, 4096);
		assert_int_equal(adv_message(&a, ++a.nonce, 0, "hb", 2, 0), 0);
		assert_int_equal(a.nmsgs, 1);
		cs[i] = a.c;
		fp += zmtp_conn_footprint(a.c);
	}
	m1 = mallinfo2();
	print_message("%d idle CURVE connections: footprint %zu bytes each, "
	    "heap %zu bytes each\n", NIDLE, fp / NIDLE,
	    (m1.uordblks - m0.uordblks) / NIDLE);
	assert_true(fp / NIDLE < 512);
	for (int i = 0; i < NIDLE; i++)
		zmtp_conn_free(&cs[i]);
	free(cs);
}

/* Sending before the handshake is refused; dead stays dead. */
static void
test_api(void **state)
{
	struct adv a;
	struct zmtp_frame f;
	uint8_t *p;
	size_t room;

	(void)state;
	adv_new(&a, 1, 4096);
	assert_int_equal(zmtp_conn_send(a.c, "x", 1), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_null(zmtp_conn_host(a.c));
	assert_null(zmtp_conn_rid(a.c));
	assert_null(zmtp_conn_key(a.c));
	assert_int_equal(adv_feed(&a, "x", 1), -1);
	assert_int_equal(zmtp_conn_next(a.c, &f), -1);
	assert_int_equal(zmtp_conn_rspace(a.c, &p, &room), -1);
	zmtp_conn_free(&a.c);
	zmtp_conn_free(&a.c);
	zmtp_conn_free(NULL);
}

static int
setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	keys_make(&kserver);
	keys_make(&kclient);
	keys_make(&kother);
	zctx = zmq_ctx_new();
	return zctx == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NZSOCK; i++)
		if (zsocks[i] != NULL)
			zclose(zsocks[i]);
	zmq_ctx_term(zctx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curve_roundtrip),
		cmocka_unit_test(test_null_roundtrip),
		cmocka_unit_test(test_curve_heartbeat),
		cmocka_unit_test(test_null_heartbeat),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_wrong_server_key),
		cmocka_unit_test(test_null_client_curve_server),
		cmocka_unit_test(test_curve_client_null_server),
		cmocka_unit_test(test_not_dealer),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_adv_handshake_chunks),
		cmocka_unit_test(test_adv_replay),
		cmocka_unit_test(test_adv_tampered),
		cmocka_unit_test(test_adv_foreign_cookie),
		cmocka_unit_test(test_adv_vouch),
		cmocka_unit_test(test_adv_metadata),
		cmocka_unit_test(test_adv_greetings),
		cmocka_unit_test(test_adv_truncated),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_idle_heap),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
