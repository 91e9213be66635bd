/*
 * zmq_peer_mem: what one connected peer costs a ZeroMQ ROUTER in resident
 * memory and in malloc's in-use bytes, with nothing of tinystack around
 * it (the controller's bus is a ROUTER with one connection per agent).
 *
 *   zmq_peer_mem PEERS MSGS [curve|plain|bus|busretire|native] [REPLIES]
 *
 * Binds a ROUTER on 127.0.0.1 (an ephemeral port), forks children with
 * PEERS DEALER sockets (at most 4,000 per child) that each send MSGS
 * 100-byte frames, receives them all, sends REPLIES 100-byte frames back
 * to each peer (0 by default) and waits until every peer has read them,
 * then prints the parent's anonymous RSS and malloc's in-use bytes
 * (libzmq allocates with the process's malloc: the controller's, jemalloc
 * in the default build) before, after, and after the free pages went back
 * (malloc_trim(0), or a purge of jemalloc's arenas), with the difference
 * per peer. The in-use bytes count pages allocated and never written
 * (most of a pipe's chunk at a few frames), so they exceed the resident
 * ones. A pipe's queue is allocated in chunks of 256 messages and touched
 * as messages pass, so the cost grows with MSGS (the inbound pipes) and
 * REPLIES (the outbound ones) up to about 256 each. bench/fleetsim.sh
 * runs it with the controller's own frames per agent, to take libzmq's
 * share out of the controller's heap.
 *
 * "bus" is CURVE with the controller's server side as common/bus.c sets
 * it up: a ZAP handler (a REP socket on inproc://zeromq.zap.01 on a
 * thread of its own, answering every request with a user id and the key
 * as metadata, as the bus's does), the ZAP domain enforced, and the
 * ROUTER's queue and keepalive options. libzmq keeps each connection's
 * pipe pair to the ZAP handler for the connection's life (session_base's
 * _zap_pipe, two more pipes of 256-message chunks), so without it this
 * measured about a third less per peer than the controller holds.
 *
 * "busretire" is "bus" with the handler's socket replaced once every
 * frame is in, as common/bus.c does 1 s after the last handshake (unbind,
 * bind a new REP, close the old): the session's end of a ZAP pipe is
 * "no delay", so the old socket's close ends every connection's pair.
 * It prints what that freed, then the figures as the other modes do.
 *
 * "native" is the controller's server side since branch nativebus: no
 * ROUTER, but common/bus.c's own ZMTP listener (bus_server_new, CURVE,
 * the backlog as the controller's) with the same libzmq DEALER peers,
 * each with its own key and a routing id "<host>/<hex>" naming the host
 * the server's allow callback derives from that key (as agents do). It
 * also prints what the bus itself counts for its connections
 * (bus_conn_footprint).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bus.h"
#include "err.h"
#include "procmem.h"

#define CHILD_PEERS	4000
#define MAX_CHILDREN	16
/* common/bus.c's, for the "bus" mode */
#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define ZAP_DOMAIN	"tinystack"
#define META_KEY	"X-Tinystack-Key"
#define SERVER_RCVHWM	64
#define ZMQ_ZAP_ENFORCE_DOMAIN_OPT	93	/* draft in 4.3.4's zmq.h */

/* "native": the host a peer's key is enrolled for, as the server's
 * allow callback and the peer itself derive it: "k" and the key's first
 * 8 bytes in hex. */
static int
native_host(const char *pub_z85, char *host, size_t len)
{
	uint8_t raw[32];

	if (zmq_z85_decode(raw, pub_z85) == NULL)
		return -1;
	snprintf(host, len, "k%02x%02x%02x%02x%02x%02x%02x%02x", raw[0],
	    raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
	return 0;
}

static int
native_allow(const char *key, char *host, size_t len, void *arg)
{
	(void)arg;
	return native_host(key, host, len);
}

/* The children, each killed and reaped. */
static void
killall(const pid_t *pid, int n)
{
	for (int c = 0; c < n; c++) {
		kill(pid[c], SIGKILL);
		waitpid(pid[c], NULL, 0);
	}
}

static long
rss_anon_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The controller's malloc's figure (common/procmem: glibc's mallinfo2,
 * or jemalloc's stats.allocated when linked with it, as the controller
 * is), so that fleetsim.sh subtracts like from like: jemalloc rounds
 * libzmq's 16-18 KiB chunks up to 20 KiB size classes. */
static uint64_t
heap_inuse(void)
{
	struct procmem_heap h;

	procmem_heap(&h);
	return h.inuse - h.cached;	/* less the threads' caches, as
					 * fleetsim.sh does for the controller */
}

/* "busretire": once every frame is in, main asks the ZAP thread to retire
 * its REP socket (retire_req) and waits for the old one to be closed
 * (retire_done), to see what that frees. */
static _Atomic int retire_req, retire_done, zap_ready = -1;

static void *
zap_bind_new(void *ctx)
{
	void *zap = zmq_socket(ctx, ZMQ_REP);
	int zero = 0;

	if (zap == NULL || zmq_setsockopt(zap, ZMQ_LINGER, &zero,
	    sizeof(zero)) != 0 || zmq_bind(zap, ZAP_ENDPOINT) != 0) {
		fprintf(stderr, "zmq_peer_mem: ZAP bind: %s\n",
		    zmq_strerror(errno));
		if (zap != NULL)
			zmq_close(zap);
		return NULL;
	}
	return zap;
}

/* Answers every ZAP request as the bus does (200, a host name as the user
 * id, the client's key in the metadata) until the context ends. */
static void *
zap_main(void *arg)
{
	void *ctx = arg, *zap;
	zmq_msg_t f[8], extra;
	char key[41], user[16];
	unsigned char meta[1 + sizeof(META_KEY) + 4 + 40];
	size_t mlen, nl = strlen(META_KEY);
	unsigned long nreq = 0;
	int n, more, i;

	if ((zap = zap_bind_new(ctx)) == NULL) {
		zap_ready = 0;
		return NULL;
	}
	zap_ready = 1;
	for (;;) {
		zmq_pollitem_t it = { zap, 0, ZMQ_POLLIN, 0 };

		if (retire_req && !retire_done) {
			/* the name first: it is unique in the context */
			if (zmq_unbind(zap, ZAP_ENDPOINT) != 0)
				fprintf(stderr, "zmq_peer_mem: ZAP unbind: "
				    "%s\n", zmq_strerror(errno));
			zmq_close(zap);
			if ((zap = zap_bind_new(ctx)) == NULL)
				return NULL;
			retire_done = 1;
			continue;
		}
		if (zmq_poll(&it, 1, 50) == -1) {
			if (errno == EINTR)
				continue;
			break;	/* ETERM: the run is over */
		}
		if (!(it.revents & ZMQ_POLLIN))
			continue;
		for (i = 0; i < 8; i++)
			zmq_msg_init(&f[i]);
		zmq_msg_init(&extra);
		for (n = 0, more = 1; more; ) {
			zmq_msg_t *m = n < 8 ? &f[n] : &extra;

			if (zmq_msg_recv(m, zap, 0) == -1) {
				if (errno == EINTR)
					continue;
				goto out;	/* ETERM: the run is over */
			}
			more = zmq_msg_more(m);
			if (n < 8)
				n++;
		}
		memset(key, 'k', 40);
		key[40] = '\0';
		if (n >= 7 && zmq_msg_size(&f[6]) == 32)
			(void)zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
		snprintf(user, sizeof(user), "h%07lu", nreq++);
		mlen = 0;
		meta[mlen++] = (unsigned char)nl;
		memcpy(meta + mlen, META_KEY, nl);
		mlen += nl;
		meta[mlen++] = 0;
		meta[mlen++] = 0;
		meta[mlen++] = 0;
		meta[mlen++] = 40;
		memcpy(meta + mlen, key, 40);
		mlen += 40;
		if (zmq_send(zap, "1.0", 3, ZMQ_SNDMORE) == -1 ||
		    zmq_send(zap, n > 1 ? zmq_msg_data(&f[1]) : "",
		    n > 1 ? zmq_msg_size(&f[1]) : 0, ZMQ_SNDMORE) == -1 ||
		    zmq_send(zap, "200", 3, ZMQ_SNDMORE) == -1 ||
		    zmq_send(zap, "OK", 2, ZMQ_SNDMORE) == -1 ||
		    zmq_send(zap, user, strlen(user), ZMQ_SNDMORE) == -1 ||
		    zmq_send(zap, meta, mlen, 0) == -1)
			goto out;
		for (i = 0; i < 8; i++)
			zmq_msg_close(&f[i]);
		zmq_msg_close(&extra);
	}
out:
	for (i = 0; i < 8; i++)
		zmq_msg_close(&f[i]);
	zmq_msg_close(&extra);
	zmq_close(zap);
	return NULL;
}

static int
child(const char *ep, int first, int peers, int msgs, int replies,
    int curve, int native, const char *srv_pub)
{
	char pub[41], sec[41], frame[100], id[64];
	void *ctx = zmq_ctx_new(), **d = calloc((size_t)peers, sizeof(*d));
	int timeout = 180000, zero = 0;	/* see main's */

	if (ctx == NULL || d == NULL || zmq_curve_keypair(pub, sec) != 0)
		return 1;
	/* libzmq's default is 1,023 sockets per context: past it every
	 * zmq_socket() failed and the parent waited for frames that never
	 * came ("received 0 of ..." at 10,000 peers). */
	if (zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, peers + 16) != 0) {
		fprintf(stderr, "child: ZMQ_MAX_SOCKETS %d: %s\n", peers + 16,
		    zmq_strerror(errno));
		return 1;
	}
	memset(frame, 'x', sizeof(frame));
	for (int i = 0; i < peers; i++) {
		if ((d[i] = zmq_socket(ctx, ZMQ_DEALER)) == NULL) {
			fprintf(stderr, "child: socket %d of %d: %s\n", i,
			    peers, zmq_strerror(errno));
			return 1;
		}
		snprintf(id, sizeof(id), "p%07d", first + i);
		if (native) {	/* a key per peer, named after it */
			int one = 1;

			if (zmq_curve_keypair(pub, sec) != 0 ||
			    native_host(pub, id, sizeof(id)) != 0 ||
			    zmq_setsockopt(d[i], ZMQ_PROBE_ROUTER, &one,
			    sizeof(one)) != 0)
				return 1;
			snprintf(id + strlen(id), sizeof(id) - strlen(id),
			    "/%016x", first + i);
		}
		if (zmq_setsockopt(d[i], ZMQ_ROUTING_ID, id, strlen(id)) != 0 ||
		    zmq_setsockopt(d[i], ZMQ_HANDSHAKE_IVL, &zero,
		    sizeof(zero)) != 0 ||
		    zmq_setsockopt(d[i], ZMQ_RCVTIMEO, &timeout,
		    sizeof(timeout)) != 0)
			return 1;
		if (curve && (zmq_setsockopt(d[i], ZMQ_CURVE_SERVERKEY,
		    srv_pub, 40) != 0 || zmq_setsockopt(d[i],
		    ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
		    zmq_setsockopt(d[i], ZMQ_CURVE_SECRETKEY, sec, 40) != 0))
			return 1;
		/* In waves: 10,000 connects at once overflowed the listen
		 * queue, and the SYNs dropped came back only after TCP's
		 * backoff (up to a minute), past the parent's timeout. */
		if (i > 0 && i % 250 == 0)
			usleep(100 * 1000);
		if (zmq_connect(d[i], ep) != 0) {
			fprintf(stderr, "child: connect %d of %d: %s\n", i,
			    peers, zmq_strerror(errno));
			return 1;
		}
	}
	for (int m = 0; m < msgs; m++)
		for (int i = 0; i < peers; i++)
			if (zmq_send(d[i], frame, sizeof(frame), 0) == -1)
				return 1;
	if (replies > 0)	/* read every reply, then say so */
		for (int i = 0; i < peers; i++) {
			for (int m = 0; m < replies; m++)
				if (zmq_recv(d[i], frame, sizeof(frame), 0) ==
				    -1)
					return 1;
			if (zmq_send(d[i], "done", 4, 0) == -1)
				return 1;
		}
	pause();	/* until the parent has measured and kills us */
	return 0;
}

/* A set of host names (the peers seen), open addressing; allocated
 * before the baseline so it is not counted per peer. */
struct hostset {
	char	(*name)[32];
	size_t	 cap, n;
};

static int
hostset_add(struct hostset *h, const char *name)
{
	size_t i = 0;

	for (const char *p = name; *p != '\0'; p++)
		i = i * 31 + (unsigned char)*p;
	for (i &= h->cap - 1; h->name[i][0] != '\0'; i = (i + 1) & (h->cap - 1))
		if (strcmp(h->name[i], name) == 0)
			return 0;
	snprintf(h->name[i], sizeof(h->name[i]), "%.31s", name);
	h->n++;
	return 1;
}

/* "native": the bus's own listener, as the controller runs it. */
static int
native_main(int peers, int msgs, int replies)
{
	char pub[41], sec[41], ep[256], frame[100];
	struct hostset hs = { 0 };
	struct bus_opts o;
	struct bus_msg m;
	struct bus *s;
	pid_t pid[MAX_CHILDREN];
	int nchild, rc;
	long before, after, trimmed, got = 0, done = 0;
	uint64_t hbefore, hafter, htrimmed;
	size_t fp, nconns;
	int64_t end;

	memset(frame, 'y', sizeof(frame));
	for (hs.cap = 64; hs.cap < 2 * (size_t)peers; hs.cap *= 2)
		;
	if ((hs.name = calloc(hs.cap, sizeof(hs.name[0]))) == NULL ||
	    zmq_curve_keypair(pub, sec) != 0)
		return 1;
	bus_opts_init(&o);
	o.endpoint = "tcp://127.0.0.1:*";
	o.secret_key = sec;
	o.public_key = pub;
	o.allow = native_allow;
	o.backlog = 4096;
	/* no practical handshake deadline (main's reasons) */
	o.handshake_ms = 180000;
	if ((s = bus_server_new(&o)) == NULL) {
		fprintf(stderr, "zmq_peer_mem: bus_server_new failed\n");
		return 1;
	}
	snprintf(ep, sizeof(ep), "%s", bus_endpoint(s));
	before = rss_anon_kb();
	hbefore = heap_inuse();
	nchild = (peers + CHILD_PEERS - 1) / CHILD_PEERS;
	if (nchild > MAX_CHILDREN) {
		fprintf(stderr, "zmq_peer_mem: at most %d peers\n",
		    MAX_CHILDREN * CHILD_PEERS);
		return 2;
	}
	for (int c = 0; c < nchild; c++) {
		int first = c * CHILD_PEERS, n = peers - first < CHILD_PEERS ?
		    peers - first : CHILD_PEERS;

		if ((pid[c] = fork()) == -1) {
			killall(pid, c);
			return 1;
		}
		if (pid[c] == 0)
			_exit(child(ep, first, n, msgs, replies, 1, 1, pub));
	}
	/* bounded as main's receive is (180 s) */
	end = (long)time(NULL) + 180;
	while (got < (long)peers * msgs) {
		if ((rc = bus_poll(s, 1000, &m)) == 1) {
			hostset_add(&hs, m.peer);
			bus_msg_clear(&m);
			got++;
		} else if (rc == -1 || (long)time(NULL) > end) {
			fprintf(stderr, "received %ld of %ld frames\n", got,
			    (long)peers * msgs);
			killall(pid, nchild);
			return 1;
		}
	}
	for (size_t i = 0; i < hs.cap && replies > 0; i++) {
		if (hs.name[i][0] == '\0')
			continue;
		for (int r = 0; r < replies; r++)
			while (bus_send(s, hs.name[i], frame, sizeof(frame)) ==
			    -1) {
				/* its queue full (sndhwm): let it drain */
				if (err_code() != TS_EUNAVAILABLE ||
				    (long)time(NULL) > end) {
					fprintf(stderr, "reply to %s: %s\n",
					    hs.name[i], err_msg());
					killall(pid, nchild);
					return 1;
				}
				if (bus_poll(s, 10, &m) == 1) {
					bus_msg_clear(&m);
					done++;
				}
			}
	}
	while (replies > 0 && done < peers) {	/* every "done" */
		if ((rc = bus_poll(s, 1000, &m)) == 1) {
			bus_msg_clear(&m);
			done++;
		} else if (rc == -1 || (long)time(NULL) > end) {
			fprintf(stderr, "%ld of %d peers read their replies\n",
			    done, peers);
			killall(pid, nchild);
			return 1;
		}
	}
	after = rss_anon_kb();
	hafter = heap_inuse();
	fp = bus_conn_footprint(s, &nconns);
	procmem_release();
	trimmed = rss_anon_kb();
	htrimmed = heap_inuse();
	printf("%d peers (native: the bus's own listener, CURVE), %d frames "
	    "each, %d replies each: bus_conn_footprint %zu connections, %zu "
	    "bytes, %.0f per peer\n", peers, msgs, replies, nconns, fp,
	    nconns ? (double)fp / (double)nconns : 0.0);
	printf("%d peers (native), %d frames each, %d replies each: server "
	    "process RssAnon %ld KiB -> %ld KiB (%ld KiB after a release): "
	    "%.1f KiB per peer; heap in use (%s) %.0f KiB -> %.0f KiB (%.0f "
	    "KiB after a release): %.1f KiB per peer\n",
	    peers, msgs, replies, before, after, trimmed,
	    (double)(trimmed - before) / peers, procmem_allocator(),
	    (double)hbefore / 1024, (double)hafter / 1024,
	    (double)htrimmed / 1024,
	    ((double)htrimmed - (double)hbefore) / 1024 / peers);
	killall(pid, nchild);
	bus_free(&s);
	free(hs.name);
	explicit_bzero(sec, sizeof(sec));
	return 0;
}

int
main(int argc, char **argv)
{
	char pub[41], sec[41], ep[256], buf[256], id[16], frame[100];
	size_t eplen = sizeof(ep);
	int peers, msgs, replies, curve, bus, retire, one = 1, zero = 0,
	    timeout = 180000, backlog = 4096, rcvhwm = SERVER_RCVHWM, ka = 10,
	    three = 3;
	pthread_t zt;
	long before, after, trimmed;
	uint64_t hbefore, hafter, htrimmed;
	void *ctx, *s;
	pid_t pid[MAX_CHILDREN];
	int nchild;

	if (argc < 3 || (peers = atoi(argv[1])) <= 0 ||
	    (msgs = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: zmq_peer_mem PEERS MSGS "
		    "[curve|plain|bus|busretire|native] [REPLIES]\n");
		return 2;
	}
	curve = argc < 4 || strcmp(argv[3], "plain") != 0;
	bus = argc >= 4 && strncmp(argv[3], "bus", 3) == 0;
	retire = argc >= 4 && strcmp(argv[3], "busretire") == 0;
	replies = argc < 5 ? 0 : atoi(argv[4]);
	memset(frame, 'y', sizeof(frame));
	{	/* a descriptor per peer on each side (the child inherits) */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < (rlim_t)peers + 64)
			fprintf(stderr, "zmq_peer_mem: %llu descriptors for "
			    "%d peers: raise the hard limit\n",
			    (unsigned long long)rl.rlim_cur, peers);
	}
	if (argc >= 4 && strcmp(argv[3], "native") == 0)
		return native_main(peers, msgs, replies);
	if (zmq_curve_keypair(pub, sec) != 0 || (ctx = zmq_ctx_new()) == NULL ||
	    (s = zmq_socket(ctx, ZMQ_ROUTER)) == NULL)
		return 1;
	if (curve && (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one,
	    sizeof(one)) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) != 0))
		return 1;
	if (bus) {	/* the handler first: it must exist before the bind */
		if (pthread_create(&zt, NULL, zap_main, ctx) != 0 ||
		    zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
		    strlen(ZAP_DOMAIN)) != 0 ||
		    zmq_setsockopt(s, ZMQ_ZAP_ENFORCE_DOMAIN_OPT, &one,
		    sizeof(one)) != 0 ||
		    zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm,
		    sizeof(rcvhwm)) != 0 ||
		    zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &one,
		    sizeof(one)) != 0 ||
		    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE, &one,
		    sizeof(one)) != 0 ||
		    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_IDLE, &ka,
		    sizeof(ka)) != 0 ||
		    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_INTVL, &ka,
		    sizeof(ka)) != 0 ||
		    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_CNT, &three,
		    sizeof(three)) != 0) {
			fprintf(stderr, "zmq_peer_mem: bus options: %s\n",
			    zmq_strerror(errno));
			return 1;
		}
	}
	for (int w = 0; bus && zap_ready == -1 && w < 5000; w++)
		usleep(1000);	/* the handler must be bound before any peer */
	if (bus && zap_ready != 1)
		return 1;
	/* bounded: a peer that never arrives ends the run. 180 s: on a
	 * machine at load 40-50 (other fleet simulations beside it) the
	 * listen queue overflows (TcpExtListenOverflows), and a connect whose
	 * SYN was dropped comes back after TCP's retransmission backoff; at
	 * 60 s fleetsim.sh's first memory line at 10,000 agents failed
	 * ("received 162587 of 230000 frames") */
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	/* libzmq listens with a backlog of 100: 10,000 peers connecting at
	 * once overflowed it and the dropped SYNs came back after TCP's
	 * retransmission backoff, past the timeout on a loaded machine */
	zmq_setsockopt(s, ZMQ_BACKLOG, &backlog, sizeof(backlog));
	/* no handshake deadline: on a loaded machine 10,000 CURVE
	 * handshakes outlast libzmq's 30 s, and the frames of a peer
	 * whose connection was dropped for it did not all arrive */
	zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &zero, sizeof(zero));
	/* a reply that cannot be routed is an error, not a silent drop */
	zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	if (zmq_bind(s, "tcp://127.0.0.1:*") != 0 ||
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0)
		return 1;
	before = rss_anon_kb();
	hbefore = heap_inuse();
	/* Each child's peers cost it two descriptors each (the socket's
	 * mailbox, the connection): at most CHILD_PEERS per child. */
	nchild = (peers + CHILD_PEERS - 1) / CHILD_PEERS;
	if (nchild > MAX_CHILDREN) {
		fprintf(stderr, "zmq_peer_mem: at most %d peers\n",
		    MAX_CHILDREN * CHILD_PEERS);
		return 2;
	}
	for (int c = 0; c < nchild; c++) {
		int first = c * CHILD_PEERS, n = peers - first < CHILD_PEERS ?
		    peers - first : CHILD_PEERS;

		if ((pid[c] = fork()) == -1) {
			killall(pid, c);
			return 1;
		}
		if (pid[c] == 0)
			_exit(child(ep, first, n, msgs, replies, curve, 0,
			    pub));
	}
	for (long got = 0; got < (long)peers * msgs; got++)
		if (zmq_recv(s, buf, sizeof(buf), 0) == -1 ||
		    zmq_recv(s, buf, sizeof(buf), 0) == -1) {
			fprintf(stderr, "received %ld of %ld frames\n", got,
			    (long)peers * msgs);
			killall(pid, nchild);
			return 1;
		}
	for (int i = 0; i < peers && replies > 0; i++) {
		snprintf(id, sizeof(id), "p%07d", i);
		for (int m = 0; m < replies; m++)
			if (zmq_send(s, id, strlen(id), ZMQ_SNDMORE) == -1 ||
			    zmq_send(s, frame, sizeof(frame), 0) == -1) {
				fprintf(stderr, "reply to %s: %s\n", id,
				    zmq_strerror(errno));
				killall(pid, nchild);
				return 1;
			}
	}
	for (int i = 0; i < peers && replies > 0; i++)	/* every "done" */
		if (zmq_recv(s, buf, sizeof(buf), 0) == -1 ||
		    zmq_recv(s, buf, sizeof(buf), 0) == -1) {
			fprintf(stderr, "%d of %d peers read their replies\n",
			    i, peers);
			killall(pid, nchild);
			return 1;
		}
	after = rss_anon_kb();
	hafter = heap_inuse();
	if (retire) {
		uint64_t h0 = hafter;

		retire_req = 1;
		for (int w = 0; !retire_done && w < 5000; w++)
			usleep(1000);
		/* the pipes end by commands between threads: give them a
		 * second (a bench, not a test) */
		sleep(1);
		after = rss_anon_kb();
		hafter = heap_inuse();
		if (!retire_done) {
			fprintf(stderr, "the ZAP socket was not replaced\n");
			killall(pid, nchild);
			return 1;
		}
		printf("replaced the ZAP socket: heap in use %.0f KiB -> "
		    "%.0f KiB, %.1f KiB per peer freed\n", (double)h0 / 1024,
		    (double)hafter / 1024,
		    ((double)h0 - (double)hafter) / 1024 / peers);
	}
	procmem_release();
	trimmed = rss_anon_kb();
	htrimmed = heap_inuse();
	printf("%d peers (%s), %d frames each, %d replies each: ROUTER "
	    "process RssAnon %ld KiB -> %ld KiB (%ld KiB after a release): "
	    "%.1f KiB per peer; heap in use (%s) %.0f KiB -> %.0f KiB (%.0f KiB "
	    "after a release): %.1f KiB per peer\n",
	    peers, retire ? "CURVE, ZAP as the bus, retired" :
	    bus ? "CURVE, ZAP as the bus" : curve ? "CURVE" : "plain",
	    msgs, replies, before, after,
	    trimmed, (double)(trimmed - before) / peers, procmem_allocator(),
	    (double)hbefore / 1024, (double)hafter / 1024,
	    (double)htrimmed / 1024,
	    ((double)htrimmed - (double)hbefore) / 1024 / peers);
	killall(pid, nchild);
	zmq_close(s);
	zmq_ctx_term(ctx);	/* ends the ZAP thread (ETERM) */
	if (bus)
		pthread_join(zt, NULL);
	return 0;
}
