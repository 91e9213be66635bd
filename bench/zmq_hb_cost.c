/*
 * zmq_hb_cost: what libzmq alone costs a ROUTER per agent heartbeat, with
 * nothing of tinystack around it (the controller's bus is a ROUTER with
 * one CURVE connection per agent; docs/PERFORMANCE.md, cheap heartbeats).
 *
 *   zmq_hb_cost PEERS SECONDS [curve|plain] [PING_MS] [ack|noack] [BYTES]
 *       [zmq|zmtp]
 *
 * Binds a ROUTER on 127.0.0.1 (an ephemeral port) and forks a child with
 * PEERS DEALER sockets, each sending a BYTES-byte frame (default 1400, a
 * heartbeat with 10 guests) every 10 s, spread evenly over the interval
 * (one late, as at the start while handshakes go on, is sent 10 s after
 * it went: the rate stays one frame per peer per 10 s),
 * and pinging at the ZMTP level every PING_MS (default 2000, the bus's
 * client default until 2026-12-07, 10000 since; 0: no pings). The parent answers each frame with a
 * 40-byte frame (ack, the default) or not (noack). After every peer's
 * first frame (the CURVE handshakes are done) it measures its own CPU
 * time (every thread: the application's and libzmq's I/O thread, and
 * the loopback delivery of what it sends, which the kernel charges to
 * the sender) over SECONDS and prints it per frame received.
 *
 * With "zmtp" the parent is no ROUTER: it accepts the connections itself
 * and speaks ZMTP through common/zmtp.c (one epoll, one zmtp_conn per
 * peer), what the controller's bus does without libzmq; it also prints
 * the connections' footprint and the heap glibc counts per peer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "err.h"
#include "zmtp.h"

#define INTERVAL_S	10.0

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int
child(const char *ep, int peers, int ping, int bytes, int curve,
    const char *srv_pub)
{
	char pub[41], sec[41], *frame = malloc((size_t)bytes), buf[256];
	void *ctx = zmq_ctx_new(), **d = calloc((size_t)peers, sizeof(*d));
	double *next = calloc((size_t)peers, sizeof(*next)), t0 = now_s();

	if (ctx == NULL || d == NULL || next == NULL || frame == NULL ||
	    zmq_curve_keypair(pub, sec) != 0)
		return 1;
	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, peers + 16);
	memset(frame, 'x', (size_t)bytes);
	for (int i = 0; i < peers; i++) {
		int tmo = 3 * ping;

		if ((d[i] = zmq_socket(ctx, ZMQ_DEALER)) == NULL)
			return 1;
		if (curve && (zmq_setsockopt(d[i], ZMQ_CURVE_SERVERKEY,
		    srv_pub, 40) != 0 || zmq_setsockopt(d[i],
		    ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
		    zmq_setsockopt(d[i], ZMQ_CURVE_SECRETKEY, sec, 40) != 0))
			return 1;
		if (ping > 0 && (zmq_setsockopt(d[i], ZMQ_HEARTBEAT_IVL, &ping,
		    sizeof(ping)) != 0 || zmq_setsockopt(d[i],
		    ZMQ_HEARTBEAT_TIMEOUT, &tmo, sizeof(tmo)) != 0))
			return 1;
		if (zmq_connect(d[i], ep) != 0)
			return 1;
		next[i] = t0 + INTERVAL_S * i / peers;
	}
	for (;;) {
		double t = now_s();

		for (int i = 0; i < peers; i++) {
			while (zmq_recv(d[i], buf, sizeof(buf),
			    ZMQ_DONTWAIT) >= 0)
				;
			if (t >= next[i]) {
				/* A full queue before the handshake: the
				 * next pass tries again. */
				if (zmq_send(d[i], frame, (size_t)bytes,
				    ZMQ_DONTWAIT) == (int)bytes)
					next[i] = next[i] + INTERVAL_S > t ?
					    next[i] + INTERVAL_S :
					    t + INTERVAL_S;
			}
		}
		usleep(2000);
	}
}

static int
allow_any(const uint8_t key[ZMTP_KEY_LEN], char *host, size_t len, void *arg)
{
	(void)key;
	(void)arg;
	snprintf(host, len, "agent");
	return 0;
}

/* Write what c has pending; EPOLLOUT only while something is left
 * (*out: whether it is asked for now). */
static void
zflush(int ep, int fd, struct zmtp_conn *c, char *out)
{
	struct epoll_event ev = { .data.fd = fd };
	const uint8_t *p;
	size_t n;
	ssize_t w;

	while ((n = zmtp_conn_pending(c, &p)) > 0 &&
	    (w = send(fd, p, n, MSG_NOSIGNAL)) > 0)
		zmtp_conn_sent(c, (size_t)w);
	if ((zmtp_conn_pending(c, &p) > 0) == (*out != 0))
		return;
	*out = !*out;
	ev.events = EPOLLIN | (*out ? EPOLLOUT : 0);
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* The parent with common/zmtp.c instead of a ROUTER. */
static int
zmtp_parent(int peers, int secs, int curve, int ping, int doack, int bytes)
{
	struct zmtp_cfg cfg = { .curve = curve, .max_msg_size = 1 << 20,
	    .allow = allow_any };
	struct zmtp_conn **conns;
	char *wout;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	char ep[64], pub[41], ack[40];
	long got = 0, warm = 0;
	double c0 = 0, t0 = 0, t1, c1;
	size_t fp = 0, nconn = 0, maxfd = 65536;
	struct mallinfo2 m, m0;
	int lfd, efd, one = 1;
	pid_t pid;

	memset(ack, 'a', sizeof(ack));
	if (sodium_init() < 0 || (conns = calloc(maxfd, sizeof(*conns))) == NULL ||
	    (wout = calloc(maxfd, 1)) == NULL)
		return 1;
	crypto_box_keypair(cfg.public_key, cfg.secret_key);
	zmq_z85_encode(pub, cfg.public_key, 32);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0 ||
	    (efd = epoll_create1(0)) == -1)
		return 1;
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };

		epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev);
	}
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0)
		_exit(child(ep, peers, ping, bytes, curve, pub));
	m0 = mallinfo2();
	for (double start = now_s();;) {
		struct epoll_event evs[256];
		double t = now_s();
		int n;

		if (t0 == 0 && t - start > 10 * INTERVAL_S) {
			fprintf(stderr, "only %ld of %d peers sent a frame\n",
			    warm, peers);
			kill(pid, SIGKILL);
			return 1;
		}
		if (t0 != 0 && t - t0 >= secs)
			break;
		if ((n = epoll_wait(efd, evs, 256, 100)) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct zmtp_conn *c;
			struct zmtp_frame f;
			uint8_t *p;
			size_t room;
			ssize_t r;
			int e;

			if (fd == lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) >= 0) {
					struct epoll_event ev = {
					    .events = EPOLLIN, .data.fd = fd };

					if ((size_t)fd >= maxfd ||
					    (conns[fd] = zmtp_conn_new(&cfg)) ==
					    NULL)
						return 1;
					nconn++;
					epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev);
					zflush(efd, fd, conns[fd], &wout[fd]);
				}
				continue;
			}
			c = conns[fd];
			e = 0;
			while (e >= 0 && zmtp_conn_rspace(c, &p, &room) == 0) {
				if ((r = recv(fd, p, room, 0)) <= 0) {
					zmtp_conn_rdone(c, 0);
					break;
				}
				zmtp_conn_rdone(c, (size_t)r);
				while ((e = zmtp_conn_next(c, &f)) > 0) {
					if (e != ZMTP_MSG)
						continue;
					if (doack && zmtp_conn_send(c, ack,
					    sizeof(ack)) == -1)
						return 1;
					if (t0 != 0)
						got++;
					else if (++warm == peers) {
						c0 = cpu_s();
						t0 = now_s();
					}
				}
				if ((size_t)r < room)
					break;
			}
			if (e == -1)
				fprintf(stderr, "peer: %s\n", err_msg());
			zflush(efd, fd, c, &wout[fd]);
		}
	}
	c1 = cpu_s();
	t1 = now_s();
	m = mallinfo2();
	for (size_t fd = 0; fd < maxfd; fd++)
		if (conns[fd] != NULL)
			fp += zmtp_conn_footprint(conns[fd]);
	printf("%d peers (%s, pings %s%d ms, %s, %d-byte frames, zmtp): %ld "
	    "frames in %.1f s, process CPU %.1f ms: %.1f us per frame, "
	    "%.2f%% of one core; footprint %zu B per peer, heap in use "
	    "%zu B per peer\n", peers, curve ? "CURVE" : "plain",
	    ping > 0 ? "every " : "off ", ping > 0 ? ping : 0,
	    doack ? "acked" : "not acked", bytes, got, t1 - t0,
	    (c1 - c0) * 1000, got ? (c1 - c0) * 1e6 / got : 0,
	    (c1 - c0) * 100 / (t1 - t0), nconn ? fp / nconn : 0,
	    nconn ? (m.uordblks - m0.uordblks) / nconn : 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (size_t fd = 0; fd < maxfd; fd++)
		zmtp_conn_free(&conns[fd]);
	free(conns);
	free(wout);
	return 0;
}

int
main(int argc, char **argv)
{
	char pub[41], sec[41], ep[256], ack[40];
	size_t eplen = sizeof(ep);
	int peers, secs, curve, ping = 2000, doack = 1, bytes = 1400, one = 1;
	long got = 0, warm = 0;
	double c0 = 0, t0 = 0, t1, c1;
	void *ctx, *s;
	pid_t pid;

	if (argc < 3 || (peers = atoi(argv[1])) <= 0 ||
	    (secs = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: zmq_hb_cost PEERS SECONDS [curve|plain] "
		    "[PING_MS] [ack|noack] [BYTES] [zmq|zmtp]\n");
		return 2;
	}
	curve = argc < 4 || strcmp(argv[3], "plain") != 0;
	if (argc > 4)
		ping = atoi(argv[4]);
	if (argc > 5)
		doack = strcmp(argv[5], "noack") != 0;
	if (argc > 6 && (bytes = atoi(argv[6])) <= 0)
		return 2;
	if (argc > 7 && strcmp(argv[7], "zmtp") == 0)
		return zmtp_parent(peers, secs, curve, ping, doack, bytes);
	memset(ack, 'a', sizeof(ack));
	if (zmq_curve_keypair(pub, sec) != 0 || (ctx = zmq_ctx_new()) == NULL)
		return 1;
	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, peers + 16);
	if ((s = zmq_socket(ctx, ZMQ_ROUTER)) == NULL)
		return 1;
	if (curve && (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one,
	    sizeof(one)) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) != 0))
		return 1;
	if (zmq_bind(s, "tcp://127.0.0.1:*") != 0 ||
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0)
		return 1;
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0)
		_exit(child(ep, peers, ping, bytes, curve, pub));
	/* Bounded: warm-up within 10 intervals, then the window. */
	for (double start = now_s();;) {
		zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
		zmq_msg_t id, body;
		double t = now_s();

		if (t0 == 0 && t - start > 10 * INTERVAL_S) {
			fprintf(stderr, "only %ld of %d peers sent a frame\n",
			    warm, peers);
			kill(pid, SIGKILL);
			return 1;
		}
		if (t0 != 0 && t - t0 >= secs)
			break;
		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		zmq_msg_init(&id);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&id, s, 0) >= 0 &&
		    zmq_msg_recv(&body, s, 0) >= 0) {
			if (doack && (zmq_msg_send(&id, s, ZMQ_SNDMORE) == -1 ||
			    zmq_send(s, ack, sizeof(ack), 0) == -1))
				fprintf(stderr, "ack: %s\n",
				    zmq_strerror(zmq_errno()));
			if (t0 != 0)
				got++;
			else if (++warm == peers) {
				c0 = cpu_s();
				t0 = now_s();
			}
		}
		zmq_msg_close(&id);
		zmq_msg_close(&body);
	}
	c1 = cpu_s();
	t1 = now_s();
	printf("%d peers (%s, pings %s%d ms, %s, %d-byte frames): %ld frames "
	    "in %.1f s, ROUTER process CPU %.1f ms: %.1f us per frame, "
	    "%.2f%% of one core\n", peers, curve ? "CURVE" : "plain",
	    ping > 0 ? "every " : "off ", ping > 0 ? ping : 0,
	    doack ? "acked" : "not acked", bytes, got, t1 - t0,
	    (c1 - c0) * 1000, got ? (c1 - c0) * 1e6 / got : 0,
	    (c1 - c0) * 100 / (t1 - t0));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}
