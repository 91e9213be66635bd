/* netsvc: the agent's network worker thread; see netsvc.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "codec.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "metadata.h"
#include "msg_gen.h"
#include "netsvc.h"

struct netsvc {
	struct netconv		*nc;
	char			 host[256];
	int			 tick_ms;
	netsvc_send_fn		 send;
	void			*arg;

	pthread_t		 th;
	int			 started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	/* Under mu: the latest message not applied yet and its id. */
	struct msg_host_network	*pending;
	char			 pending_req[CODEC_REQUEST_ID_MAX + 1];
	int			 kick;
	int			 stop;
	struct metadata		*md;		/* borrowed; may be NULL */
	/* netsvc_stats() */
	struct metrics_runs	 st;

	/* Worker only. */
	struct buf		 last;		/* last state sent, encoded */
	uint64_t		 seq;
};

/* Encodes and sends a state; reqid is the request answered (NULL for an
 * unsolicited one). */
static void
report(struct netsvc *s, struct msg_host_network_state *st, const char *reqid)
{
	struct buf b = { 0 }, cur = { 0 };
	char id[CODEC_REQUEST_ID_MAX + 1];

	st->in_reply_to = NULL;
	if (codec_encode(&schema_msg_host_network_state, st, &cur) == -1) {
		log_err("host_network_state");
		buf_free(&cur);
		return;
	}
	if (reqid == NULL && s->last.len == cur.len &&
	    memcmp(s->last.data, cur.data, cur.len) == 0) {
		buf_free(&cur);
		return;		/* a tick that changed nothing the controller
				 * is told */
	}
	if (reqid != NULL) {
		snprintf(id, sizeof(id), "%s", reqid);
		st->in_reply_to = id;
	} else {
		snprintf(id, sizeof(id), "req-net-%lld-%llu",
		    (long long)clock_wall_ms(), (unsigned long long)++s->seq);
	}
	if (codec_envelope_encode(&schema_msg_host_network_state, st, id,
	    s->host, &b) == -1 || s->send(b.data, b.len, s->arg) == -1)
		log_warnx("host_network_state: %s", err_msg());
	else {
		buf_free(&s->last);
		s->last = cur;
		cur.data = NULL;
	}
	st->in_reply_to = NULL;
	buf_free(&b);
	buf_free(&cur);
}

/* Hands the metadata service the state just converged (its ports, and
 * the bridges they are on). Worker. */
static void
serve_metadata(struct netsvc *s, const struct msg_host_network_state *st)
{
	struct metadata *md;

	pthread_mutex_lock(&s->mu);
	md = s->md;
	pthread_mutex_unlock(&s->mu);
	if (md != NULL &&
	    metadata_network_set(md, netconv_desired(s->nc), st) == -1)
		log_err("metadata: network state");
}

static void
count_run(struct netsvc *s, int64_t t0_us, int failed)
{
	metrics_runs_add(&s->st, (uint64_t)(clock_mono_us() - t0_us), failed);
}

void
netsvc_stats(struct netsvc *s, struct metrics_runs_snap *out)
{
	metrics_runs_read(&s->st, out);
}

static void
apply(struct netsvc *s, struct msg_host_network *m, const char *reqid)
{
	struct msg_host_network_state st;
	int64_t t0 = clock_mono_us();
	int rc;

	memset(&st, 0, sizeof(st));
	log_set_request_id(reqid);
	rc = netconv_apply(s->nc, m, &st);
	count_run(s, t0, rc == -1);
	if (rc == -1) {
		log_err("host_network");
	} else {
		log_info("host_network generation %llu: %zu networks",
		    (unsigned long long)m->generation, m->networks.n);
		serve_metadata(s, &st);
		report(s, &st, reqid);
	}
	codec_clear(&schema_msg_host_network_state, &st);
	log_set_request_id(NULL);
}

static void
tick(struct netsvc *s)
{
	struct msg_host_network_state st;

	int64_t t0 = clock_mono_us();
	int rc;

	memset(&st, 0, sizeof(st));
	rc = netconv_tick(s->nc, &st);
	count_run(s, t0, rc == -1);
	if (rc == -1)
		log_err("network converge");
	else if (netconv_generation(s->nc) > 0) {
		serve_metadata(s, &st);
		report(s, &st, NULL);
	}
	codec_clear(&schema_msg_host_network_state, &st);
}

/* The gratuitous ARPs due (netconv_announce()) and when the next round
 * is (-1: none), outside the lock. Worker, mu held. */
static int64_t
announce(struct netsvc *s)
{
	int64_t d;

	pthread_mutex_unlock(&s->mu);
	d = netconv_announce(s->nc);
	pthread_mutex_lock(&s->mu);
	return d < 0 ? -1 : clock_mono_ms() + d;
}

static void *
worker(void *arg)
{
	struct netsvc *s = arg;
	int64_t next = clock_mono_ms() + s->tick_ms;
	int64_t garp = -1;	/* the next gratuitous ARP round, -1: none */

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct msg_host_network *m;
		char reqid[CODEC_REQUEST_ID_MAX + 1];
		int64_t now = clock_mono_ms();
		struct timespec ts;

		if (s->pending != NULL) {
			m = s->pending;
			s->pending = NULL;
			memcpy(reqid, s->pending_req, sizeof(reqid));
			pthread_mutex_unlock(&s->mu);
			apply(s, m, reqid);
			codec_free(&schema_msg_host_network, (void **)&m);
			pthread_mutex_lock(&s->mu);
			next = clock_mono_ms() + s->tick_ms;
			garp = announce(s);
			continue;
		}
		if (s->kick || now >= next) {
			s->kick = 0;
			pthread_mutex_unlock(&s->mu);
			tick(s);
			pthread_mutex_lock(&s->mu);
			next = clock_mono_ms() + s->tick_ms;
			garp = announce(s);
			continue;
		}
		if (garp != -1 && now >= garp) {
			garp = announce(s);
			continue;
		}
		clock_deadline(&ts, CLOCK_MONOTONIC,
		    (garp != -1 && garp < next ? garp : next) - now);
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct netsvc *
netsvc_new(struct netconv **ncp, const char *host, int tick_ms,
    netsvc_send_fn send, void *arg)
{
	struct netsvc *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc;

	if (s == NULL) {
		err_set(TS_ENOMEM, "netsvc: out of memory");
		return NULL;
	}
	s->nc = *ncp;
	*ncp = NULL;
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->tick_ms = tick_ms > 0 ? tick_ms : NETSVC_TICK_MS;
	s->send = send;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&s->th, NULL, worker, s)) != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "netsvc: thread");
		netsvc_free(&s);
		return NULL;
	}
	s->started = 1;
	return s;
}

void
netsvc_free(struct netsvc **sp)
{
	struct netsvc *s = *sp;

	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	codec_free(&schema_msg_host_network, (void **)&s->pending);
	netconv_free(&s->nc);
	buf_free(&s->last);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	*sp = NULL;
}

int
netsvc_handle(struct netsvc *s, struct codec_envelope *env)
{
	if (env->type != &schema_msg_host_network)
		return 0;
	pthread_mutex_lock(&s->mu);
	/* The latest whole state wins; the one it replaces goes unanswered
	 * and the controller's re-send covers it. */
	codec_free(&schema_msg_host_network, (void **)&s->pending);
	s->pending = env->body;
	env->body = NULL;
	snprintf(s->pending_req, sizeof(s->pending_req), "%s",
	    env->request_id);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 1;
}

void
netsvc_set_metadata(struct netsvc *s, struct metadata *md)
{
	pthread_mutex_lock(&s->mu);
	s->md = md;
	s->kick = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void
netsvc_health(struct netsvc *s)
{
	netconv_dhcp_check(s->nc);
}

void
netsvc_kick(struct netsvc *s)
{
	pthread_mutex_lock(&s->mu);
	s->kick = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}
