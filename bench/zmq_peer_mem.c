/*
 * zmq_peer_mem: what one connected peer costs a ZeroMQ ROUTER in resident
 * memory, with nothing of tinystack around it (the controller's bus is a
 * ROUTER with one connection per agent).
 *
 *   zmq_peer_mem PEERS MSGS [curve|plain]
 *
 * Binds a ROUTER on 127.0.0.1 (an ephemeral port), forks a child with
 * PEERS DEALER sockets that each send MSGS 100-byte frames, receives them
 * all, and prints the parent's anonymous RSS before, after, and after
 * malloc_trim(0), with the difference per peer. A pipe's queue is
 * allocated in chunks of 256 messages and touched as messages pass, so
 * the cost grows with MSGS up to about 256.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

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

static int
child(const char *ep, int peers, int msgs, int curve, const char *srv_pub)
{
	char pub[41], sec[41], frame[100];
	void *ctx = zmq_ctx_new(), **d = calloc((size_t)peers, sizeof(*d));

	if (ctx == NULL || d == NULL || zmq_curve_keypair(pub, sec) != 0)
		return 1;
	memset(frame, 'x', sizeof(frame));
	for (int i = 0; i < peers; i++) {
		if ((d[i] = zmq_socket(ctx, ZMQ_DEALER)) == NULL)
			return 1;
		if (curve && (zmq_setsockopt(d[i], ZMQ_CURVE_SERVERKEY,
		    srv_pub, 40) != 0 || zmq_setsockopt(d[i],
		    ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
		    zmq_setsockopt(d[i], ZMQ_CURVE_SECRETKEY, sec, 40) != 0))
			return 1;
		if (zmq_connect(d[i], ep) != 0)
			return 1;
	}
	for (int m = 0; m < msgs; m++)
		for (int i = 0; i < peers; i++)
			if (zmq_send(d[i], frame, sizeof(frame), 0) == -1)
				return 1;
	pause();	/* until the parent has measured and kills us */
	return 0;
}

int
main(int argc, char **argv)
{
	char pub[41], sec[41], ep[256], buf[256];
	size_t eplen = sizeof(ep);
	int peers, msgs, curve, one = 1, timeout = 30000;
	long before, after, trimmed;
	void *ctx, *s;
	pid_t pid;

	if (argc < 3 || (peers = atoi(argv[1])) <= 0 ||
	    (msgs = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: zmq_peer_mem PEERS MSGS [curve|plain]\n");
		return 2;
	}
	curve = argc < 4 || strcmp(argv[3], "plain") != 0;
	if (zmq_curve_keypair(pub, sec) != 0 || (ctx = zmq_ctx_new()) == NULL ||
	    (s = zmq_socket(ctx, ZMQ_ROUTER)) == NULL)
		return 1;
	if (curve && (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one,
	    sizeof(one)) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) != 0))
		return 1;
	/* bounded: a peer that never arrives ends the run */
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	if (zmq_bind(s, "tcp://127.0.0.1:*") != 0 ||
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0)
		return 1;
	before = rss_anon_kb();
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0)
		_exit(child(ep, peers, msgs, curve, pub));
	for (long got = 0; got < (long)peers * msgs; got++)
		if (zmq_recv(s, buf, sizeof(buf), 0) == -1 ||
		    zmq_recv(s, buf, sizeof(buf), 0) == -1) {
			fprintf(stderr, "received %ld of %ld frames\n", got,
			    (long)peers * msgs);
			kill(pid, SIGKILL);
			return 1;
		}
	after = rss_anon_kb();
	malloc_trim(0);
	trimmed = rss_anon_kb();
	printf("%d peers (%s), %d frames each: ROUTER process RssAnon %ld KiB "
	    "-> %ld KiB (%ld KiB after malloc_trim): %.1f KiB per peer\n",
	    peers, curve ? "CURVE" : "plain", msgs, before, after, trimmed,
	    (double)(trimmed - before) / peers);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}
