/*
 * fleetsim: benchmarks of the compute control plane.
 *
 *   fleetsim sched HOSTS CREATES THREADS [DIR]
 *	The scheduler in-process on a real LMDB store (DIR, default a
 *	temporary directory under /var/tmp): HOSTS registered hosts, then
 *	CREATES placements, each a scheduler_rank() over the cache plus a durable
 *	store_write() with scheduler_claim(), from THREADS threads. Prints
 *	decisions/s and their p50/p99/max (scheduler_rank(): filter + weigh
 *	alone, one thread, 2 s), then durable placements/s with the p50/p99
 *	of one placement (decision + group-committed claim).
 *
 *   fleetsim keys DIR N
 *	N CURVE key pairs DIR/sim-I.key (I = 1..N); prints "sim-I <public>"
 *	lines for `tinystack-manage agent enroll`.
 *
 *   fleetsim enroll DB DIR N MAP_MB
 *	Enrols the N keys of DIR in the controller's database DB (its
 *	[database] path and map_size_mb; the controller not running), as
 *	`tinystack-manage agent enroll` would one by one, in transactions of
 *	1,000: 10,000 runs of tinystack-manage take minutes.
 *
 *   fleetsim agents ENDPOINT DIR N SERVER_PUB [FIRST]
 *	N simulated agents in this process, each its own ZeroMQ socket,
 *	identity sim-I (I = FIRST..FIRST+N-1, FIRST default 1) and CURVE key
 *	DIR/sim-I.key, all in one ZeroMQ context (FLEETSIM_IO_THREADS I/O
 *	threads, default 1; FLEETSIM_OWN_CTX=1: a context per agent, two
 *	threads each, as before): hello,
 *	heartbeats at the
 *	controller's report interval with their guest lists, and every compute
 *	command answered at once from an in-memory guest table (no libvirt);
 *	host_network and host_storage answered as by an agent without a
 *	network dataplane or block storage (applied when empty, else an
 *	error);
 *	no ZMTP pings, as the agent at a 10 s interval (FLEETSIM_PING_MS:
 *	every N ms), and an ack asked for every other heartbeat
 *	(FLEETSIM_ACK_ALL=1: every heartbeat answered).
 *	Runs until SIGINT/SIGTERM, then prints what it handled.
 *
 * bench/fleetsim.sh drives the last two against a real controller and
 * measures creates/s, list latency and the controller's RSS.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "codec.h"
#include "compute/compute_db.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "compute/scheduler.h"
#include "store.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "fleetsim: %s: %s\n", what, err_msg());
	exit(1);
}

/* ---- scheduler -------------------------------------------------------------- */

struct sbench {
	struct store	*st;
	struct sched	*s;
	int		 creates;	/* per thread */
	int		 placed;
	int		 failed;
	double		*lat;		/* seconds per placement, creates */
	size_t		 nlat;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of n sorted values. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[k < n ? k : n - 1];
}

static int
add_hosts(struct store_txn *txn, void *arg)
{
	int n = *(int *)arg;

	for (int i = 0; i < n; i++) {
		struct rec_service s = { 0 };
		struct rec_hypervisor h = { 0 };
		char host[32];

		snprintf(host, sizeof(host), "sim-%d", i + 1);
		db_uuid(s.id);
		s.host = host;
		s.binary = "tinystack-agent";
		s.topic = "compute";
		s.last_seen_at = clock_wall_ms() + 3600 * 1000;
		db_uuid(h.id);
		h.host = host;
		h.hypervisor_type = "QEMU";
		h.libvirt_uri = "sim://";
		h.cpu_model = "sim";
		h.cpu_arch = "x86_64";
		h.vcpus = 64;
		h.memory_mb = 262144;
		h.local_gb = 4096;
		if (db_service_put(txn, &s) == -1 ||
		    db_hypervisor_put(txn, &h) == -1)
			return -1;
	}
	return 0;
}

struct claim {
	struct sched		*s;
	struct scheduler_request	*r;
	struct scheduler_hosts	*c;
	char			 host[SCHEDULER_NAME_MAX + 1];
};

static int
claim_fn(struct store_txn *txn, void *arg)
{
	struct claim *c = arg;

	return scheduler_claim(c->s, txn, c->r, c->c, c->host);
}

static pthread_mutex_t sb_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
placer(void *arg)
{
	struct sbench *b = arg;
	struct scheduler_request r = { .vcpus = 1, .memory_mb = 512, .disk_gb = 1 };
	int placed = 0, failed = 0;
	double *lat = calloc((size_t)b->creates + 1, sizeof(*lat));

	for (int i = 0; lat && i < b->creates; i++) {
		struct scheduler_hosts c;
		struct claim cl = { b->s, &r, &c, "" };
		double t0 = now_s();

		if (scheduler_rank(b->s, &r, &c) == -1) {
			failed++;
			continue;
		}
		if (store_write(b->st, claim_fn, &cl) == 0)
			placed++;
		else
			failed++;
		lat[i] = now_s() - t0;
		scheduler_hosts_free(&c);
	}
	pthread_mutex_lock(&sb_lock);
	b->placed += placed;
	b->failed += failed;
	for (int i = 0; lat && i < b->creates; i++)
		b->lat[b->nlat++] = lat[i];
	pthread_mutex_unlock(&sb_lock);
	free(lat);
	return NULL;
}

static int
bench_sched(int hosts, int creates, int threads, const char *dir)
{
	struct store_opts so = { 0 };
	struct scheduler_opts o = { 0 };
	struct sbench b = { 0 };
	struct scheduler_request r = { .vcpus = 1, .memory_mb = 512, .disk_gb = 1 };
	char tmpl[] = "/var/tmp/fleetsim.XXXXXX", cmd[300];
	pthread_t *t;
	double t0, t1, *rl;
	size_t nrl = 0, caprl = 1 << 20;
	int ranks = 0;

	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	so.path = dir;
	so.tables = db_tables;
	so.map_size = (size_t)1 << 30;
	if ((b.st = store_open(&so)) == NULL || db_sync(b.st) == -1)
		die("store");
	if (store_write(b.st, add_hosts, &hosts) == -1)
		die("hosts");
	o.default_az = "nova";
	o.service_down_ms = 86400 * 1000;
	if ((b.s = scheduler_new(b.st, &o)) == NULL)
		die("sched");

	/* Decisions alone: filters and weighers over the cache, each timed
	 * (a bounded number: at most caprl in 2 s). */
	if ((rl = calloc(caprl, sizeof(*rl))) == NULL)
		return 1;
	t0 = now_s();
	for (; (t1 = now_s()) - t0 < 2.0 && nrl < caprl; ranks++) {
		struct scheduler_hosts c;

		if (scheduler_rank(b.s, &r, &c) == -1)
			die("rank");
		scheduler_hosts_free(&c);
		rl[nrl++] = now_s() - t1;
	}
	qsort(rl, nrl, sizeof(*rl), cmp_double);
	printf("hosts %d: %.0f scheduling decisions/s (scheduler_rank, 1 thread); "
	    "p50 %.1f us, p99 %.1f us, max %.1f us\n", hosts,
	    ranks / (t1 - t0), pct(rl, nrl, 50) * 1e6, pct(rl, nrl, 99) * 1e6,
	    rl[nrl - 1] * 1e6);
	free(rl);

	b.creates = creates / threads;
	if ((t = calloc((size_t)threads, sizeof(*t))) == NULL ||
	    (b.lat = calloc((size_t)creates + 1, sizeof(*b.lat))) == NULL)
		return 1;
	t0 = now_s();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, placer, &b);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	t1 = now_s();
	qsort(b.lat, b.nlat, sizeof(*b.lat), cmp_double);
	printf("hosts %d, threads %d: %d durable placements in %.2f s = %.0f/s "
	    "(%d failed); each (decision + group-committed claim) p50 %.2f ms, "
	    "p99 %.2f ms\n", hosts, threads, b.placed, t1 - t0,
	    b.placed / (t1 - t0), b.failed, pct(b.lat, b.nlat, 50) * 1e3,
	    pct(b.lat, b.nlat, 99) * 1e3);
	free(t);
	free(b.lat);
	scheduler_free(&b.s);
	store_free(&b.st);
	if (dir == tmpl) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			fprintf(stderr, "fleetsim: could not remove %s\n", tmpl);
	}
	return 0;
}

/* ---- keys -------------------------------------------------------------------- */

static int
make_keys(const char *dir, int n)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	for (int i = 1; i <= n; i++) {
		char pub[BUS_KEY_Z85_LEN + 1], sec[BUS_KEY_Z85_LEN + 1],
		    name[32];

		snprintf(name, sizeof(name), "sim-%d", i);
		if (bus_keypair_new(pub, sec) == -1 ||
		    bus_keypair_save(dir, name, pub, sec) == -1)
			die("keys");
		printf("%s %s\n", name, pub);
	}
	return 0;
}

struct enrol {
	const char	*dir;
	int		 first, n;
};

static int
enrol_fn(struct store_txn *txn, void *arg)
{
	struct enrol *e = arg;

	for (int i = e->first; i < e->first + e->n; i++) {
		char path[4096], host[32], pub[BUS_KEY_Z85_LEN + 1],
		    sec[BUS_KEY_Z85_LEN + 1];
		struct rec_agent_key k = { 0 };

		snprintf(host, sizeof(host), "sim-%d", i);
		snprintf(path, sizeof(path), "%s/%s.key", e->dir, host);
		if (bus_keypair_load(path, pub, sec) == -1)
			return -1;
		explicit_bzero(sec, sizeof(sec));
		k.host = host;
		k.public_key = pub;
		k.enrolled_at = db_now_ms();
		if (db_agent_key_put(txn, &k) == -1)
			return -1;
	}
	return 0;
}

static int
enroll(const char *db, const char *dir, int n, int map_mb)
{
	struct store_opts so = { 0 };
	struct store *st;

	so.path = db;
	so.tables = db_tables;
	so.map_size = (size_t)map_mb << 20;
	if ((st = store_open(&so)) == NULL)
		die("store");
	for (int first = 1; first <= n; first += 1000) {
		struct enrol e = { dir, first, n - first + 1 < 1000 ?
		    n - first + 1 : 1000 };

		if (store_write(st, enrol_fn, &e) == -1)
			die("enroll");
	}
	store_free(&st);
	return 0;
}

/* ---- simulated agents ---------------------------------------------------------- */

struct sguest {
	char		uuid[CODEC_UUID_LEN + 1];
	char		name[64];
	uint32_t	power;
	uint64_t	gen;
	unsigned	vcpus;
	uint64_t	mem;
};

struct sim {
	char		 host[32];
	struct bus	*bus;
	int		 registered;
	int64_t		 interval_ms;
	double		 next;		/* hello or heartbeat due */
	uint64_t	 seq;
	struct sguest	*g;
	size_t		 ng, capg;
	uint64_t	 cmds;
	int		 fd;		/* bus_fd() as watched by the epoll */
	double		 backoff;	/* hello retry, seconds; 0: start over */
	/* wall clock of the last HB_RING heartbeats, by seq: an ack
	 * minutes late still finds its send time */
#define HB_RING		16
	int64_t		 hb_sent_ms[HB_RING];
};

/*
 * Where a heartbeat's time goes, per process, printed every HBSTAT_S: its
 * send after it was due (this simulator starved), the controller's
 * handling after the send (the ack's server_time: the controller's bus
 * lagging, or the path to it), and the ack's arrival after that (this
 * simulator again). All on one machine's wall clock. Tells a host
 * reported down because the controller fell behind from one whose
 * heartbeats were never sent in time.
 */
#define HBSTAT_S	10
static struct {
	uint64_t	 sent, acked;
	int64_t		 late_max, ctl_max, rx_max;	/* ms */
	uint64_t	 late_10s, ctl_10s, ctl_1s;
	double		 ctl_sum;
} hbs;
static double hbstat_at;

static void
hbstat_flush(double t)
{
	printf("hbstat %.0f sent %llu acked %llu late_max_ms %lld "
	    "late_over_10s %llu ctl_lag_mean_ms %.1f ctl_lag_max_ms %lld "
	    "ctl_lag_over_1s %llu ctl_lag_over_10s %llu rx_lag_max_ms %lld\n",
	    (double)clock_wall_ms() / 1000, (unsigned long long)hbs.sent, (unsigned long long)hbs.acked,
	    (long long)hbs.late_max, (unsigned long long)hbs.late_10s,
	    hbs.acked ? hbs.ctl_sum / (double)hbs.acked : 0.0,
	    (long long)hbs.ctl_max, (unsigned long long)hbs.ctl_1s,
	    (unsigned long long)hbs.ctl_10s, (long long)hbs.rx_max);
	fflush(stdout);
	memset(&hbs, 0, sizeof(hbs));
	hbstat_at = t + HBSTAT_S;
}

/* Every agent's socket is looked at this often (seconds) whatever the
 * epoll says: hellos and heartbeats due, a socket that changed. */
#define SWEEP_S		0.1

static volatile sig_atomic_t stop;
static int ack_all;	/* FLEETSIM_ACK_ALL=1 */

static void
on_sig(int s)
{
	stop = 1;
}

static void
send_msg(struct sim *a, const struct schema_type *t, const void *body,
    const char *reqid)
{
	struct buf b = { 0 };
	char id[64];

	if (reqid == NULL) {
		char u[37];

		db_uuid(u);
		snprintf(id, sizeof(id), "req-%s", u);
		reqid = id;
	}
	if (codec_envelope_encode(t, body, reqid, a->host, &b) == 0 &&
	    bus_send(a->bus, NULL, b.data, b.len) == -1)
		fprintf(stderr, "%s: send %s: %s\n", a->host, t->name,
		    err_msg());
	buf_free(&b);
}

/* The error answer of an agent without the feature a command needs. */
static void
refuse(struct sim *a, const char *reqid, const char *why)
{
	struct msg_error e = { 0 };

	e.code = TS_EUNAVAILABLE;
	e.message = (char *)why;
	e.in_reply_to = (char *)reqid;
	send_msg(a, &schema_msg_error, &e, reqid);
}

static struct sch_guest *
guest_list(struct sim *a)
{
	struct sch_guest *l = calloc(a->ng ? a->ng : 1, sizeof(*l));

	for (size_t i = 0; l && i < a->ng; i++) {
		memcpy(l[i].uuid, a->g[i].uuid, sizeof(l[i].uuid));
		l[i].name = a->g[i].name;
		l[i].state = a->g[i].power == 1 ? "running" : "shutoff";
		l[i].power_state = a->g[i].power;
		l[i].vcpus = a->g[i].vcpus;
		l[i].memory_mb = a->g[i].mem;
	}
	return l;
}

static void
hello(struct sim *a)
{
	struct msg_agent_hello m = { 0 };

	m.host = a->host;
	m.agent_version = "fleetsim";
	m.hypervisor_type = "QEMU";
	m.hypervisor_version = 7002000;
	m.libvirt_uri = "sim://";
	m.cpu_model = "sim";
	m.cpu_arch = "x86_64";
	m.vcpus = 64;
	m.memory_mb = 262144;
	m.local_gb = 4096;
	m.started_at = clock_wall_ms();
	m.guests.items = guest_list(a);
	m.guests.n = a->ng;
	send_msg(a, &schema_msg_agent_hello, &m, NULL);
	free(m.guests.items);
}

static void
heartbeat(struct sim *a)
{
	struct msg_heartbeat m = { 0 };

	m.host = a->host;
	m.seq = ++a->seq;
	/* As an idle agent (agent/main.c want_ack()): every other heartbeat
	 * asks for its ack; FLEETSIM_ACK_ALL=1: none says, all are answered
	 * (the agents before 2026-12-07). */
	m.has_want_ack = !ack_all;
	m.want_ack = m.seq % 2 == 0;
	m.guests.items = guest_list(a);
	m.guests.n = a->ng;
	for (size_t i = 0; i < a->ng; i++) {
		if (a->g[i].power == 1) {
			m.running_vms++;
			m.vcpus_used += a->g[i].vcpus;
			m.memory_mb_used += a->g[i].mem;
		}
	}
	a->hb_sent_ms[a->seq % HB_RING] = clock_wall_ms();
	hbs.sent++;
	send_msg(a, &schema_msg_heartbeat, &m, NULL);
	free(m.guests.items);
}

static struct sguest *
find(struct sim *a, const char *uuid)
{
	for (size_t i = 0; i < a->ng; i++)
		if (strcmp(a->g[i].uuid, uuid) == 0)
			return &a->g[i];
	return NULL;
}

static void
state(struct sim *a, const char *uuid, const char *reqid)
{
	struct msg_instance_state m = { 0 };
	struct sguest *g = find(a, uuid);

	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.exists = g != NULL;
	m.power_state = g ? g->power : 0;
	m.generation = g ? g->gen : 0;
	m.state = g ? "running" : "absent";
	m.in_reply_to = (char *)reqid;
	m.result = "ok";
	send_msg(a, &schema_msg_instance_state, &m, reqid);
}

static void
handle(struct sim *a, const struct bus_msg *bm)
{
	struct codec_envelope env;

	memset(&env, 0, sizeof(env));
	if (codec_envelope_decode(bm->data, bm->len, SCHEMA_FROM_CONTROLLER,
	    &env) == -1)
		return;
	if (env.type == &schema_msg_hello_ack) {
		struct msg_hello_ack *m = env.body;

		a->registered = 1;
		a->interval_ms = m->report_interval * 1000;
	} else if (env.type == &schema_msg_heartbeat_ack) {
		struct msg_heartbeat_ack *m = env.body;
		int64_t sent = a->hb_sent_ms[m->seq % HB_RING],
		    ctl = m->server_time - sent,
		    rx = clock_wall_ms() - m->server_time;

		if (m->seq <= a->seq && m->seq + HB_RING > a->seq &&
		    sent != 0) {
			hbs.acked++;
			hbs.ctl_sum += (double)ctl;
			if (ctl > hbs.ctl_max)
				hbs.ctl_max = ctl;
			hbs.ctl_1s += ctl > 1000;
			hbs.ctl_10s += ctl > 10000;
			if (rx > hbs.rx_max)
				hbs.rx_max = rx;
		}
	} else if (env.type == &schema_msg_instance_ensure) {
		struct msg_instance_ensure *m = env.body;
		struct sguest *g = find(a, m->uuid);

		if (g == NULL) {
			if (a->ng == a->capg) {
				size_t nc = a->capg ? a->capg * 2 : 64;
				struct sguest *ng = realloc(a->g,
				    nc * sizeof(*ng));

				if (ng == NULL)
					goto out;
				a->g = ng;
				a->capg = nc;
			}
			g = &a->g[a->ng++];
			memset(g, 0, sizeof(*g));
			snprintf(g->uuid, sizeof(g->uuid), "%s", m->uuid);
			snprintf(g->name, sizeof(g->name), "%.60s",
			    m->spec.name);
			g->vcpus = m->spec.vcpus;
			g->mem = m->spec.memory_mb;
		}
		g->power = m->power;
		g->gen = m->generation;
		a->cmds++;
		state(a, m->uuid, env.request_id);
	} else if (env.type == &schema_msg_instance_delete) {
		struct msg_instance_delete *m = env.body;
		struct sguest *g = find(a, m->uuid);

		if (g != NULL)
			*g = a->g[--a->ng];
		a->cmds++;
		state(a, m->uuid, env.request_id);
	} else if (env.type == &schema_msg_instance_action) {
		struct msg_instance_action *m = env.body;

		a->cmds++;
		state(a, m->uuid, env.request_id);
	} else if (env.type == &schema_msg_console_get) {
		struct msg_console_output o = { 0 };
		struct msg_console_get *m = env.body;

		memcpy(o.uuid, m->uuid, sizeof(o.uuid));
		o.in_reply_to = env.request_id;
		o.found = find(a, m->uuid) != NULL;
		o.output = "fleetsim\n";
		send_msg(a, &schema_msg_console_output, &o, env.request_id);
	} else if (env.type == &schema_msg_host_network) {
		/* As an agent without a network dataplane (agent/main.c
		 * no_dataplane()): the controller tells every registered
		 * host its network state, empty here, and sends it again
		 * (backoff 1 s doubling to 60 s) until the host reports it
		 * applied; unanswered, those re-sends were 27-43% of the
		 * controller's sends in a 10,000-agent heartbeat window
		 * (docs/PERFORMANCE.md, sentcount). */
		struct msg_host_network *m = env.body;

		if (m->networks.n == 0) {
			struct msg_host_network_state st = { 0 };

			st.generation = m->generation;
			st.in_reply_to = (char *)env.request_id;
			send_msg(a, &schema_msg_host_network_state, &st,
			    env.request_id);
		} else {
			refuse(a, env.request_id, "no network dataplane on "
			    "this host: set [network] local_ip or physical "
			    "mappings");
		}
	} else if (env.type == &schema_msg_host_storage) {
		/* As an agent without [storage] enabled (agent/main.c): the
		 * controller asks every host for its backend on hello. */
		struct msg_host_storage *m = env.body;

		if (m->volumes.n == 0 && m->snapshots.n == 0) {
			struct msg_host_storage_state st = { 0 };

			st.generation = m->generation;
			st.in_reply_to = (char *)env.request_id;
			st.backend = "none";
			st.portal = "";
			send_msg(a, &schema_msg_host_storage_state, &st,
			    env.request_id);
		} else {
			refuse(a, env.request_id, "no block storage on this "
			    "host: set [storage] enabled");
		}
	}
out:
	codec_envelope_clear(&env);
}

/* Watch a's socket in ep (again, if it changed since). */
static void
watch(int ep, struct sim *a, int i)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
	int fd = bus_fd(a->bus);

	if (fd == a->fd)
		return;
	if (a->fd != -1)
		(void)epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
	a->fd = -1;
	if (fd != -1 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0)
		a->fd = fd;
}

static void
drain(struct sim *a)
{
	struct bus_msg m;

	while (bus_poll(a->bus, 0, &m) == 1) {
		handle(a, &m);
		bus_msg_clear(&m);
	}
}

/*
 * The agents of this process whose connection to the controller is up
 * and the connections they made so far (ZMTP handshakes done, as the
 * bus's monitor saw them), printed as "conn <wall s> <connected>
 * <handshakes> <agents>" at each sweep where either changed: bench/
 * fleetsim.sh adds the processes' lines up to time a controller restart's
 * reconnection storm (its RESTARTS knob). The handshakes, not the count
 * connected, time the reconnections: a starved process sees an agent's
 * loss late, or together with its reconnection.
 */
static int conn_last = -1;
static uint64_t hs_last;

static void
conn_report(const struct sim *s, int n)
{
	struct bus_stats st;
	uint64_t hs = 0;
	int k = 0;

	for (int i = 0; i < n; i++) {
		k += bus_client_connected(s[i].bus);
		bus_stats(s[i].bus, &st);
		hs += st.handshakes;
	}
	if (k == conn_last && hs == hs_last)
		return;
	conn_last = k;
	hs_last = hs;
	printf("conn %.3f %d %llu %d\n", (double)clock_wall_ms() / 1000, k,
	    (unsigned long long)hs, n);
	fflush(stdout);
}

static int
run_agents(const char *endpoint, const char *dir, int n, const char *srv,
    int first)
{
	struct sim *s = calloc((size_t)n, sizeof(*s));
	uint64_t cmds = 0;
	int up = 0, ep = epoll_create1(EPOLL_CLOEXEC);
	double sweep = 0;
	const char *own = getenv("FLEETSIM_OWN_CTX"),
	    *iot = getenv("FLEETSIM_IO_THREADS"),
	    *ping = getenv("FLEETSIM_PING_MS"),
	    *rmax = getenv("FLEETSIM_RECONNECT_MAX_MS");
	void *ctx = NULL;

	if (s == NULL || ep == -1)
		return 1;
	/*
	 * One context for every agent of this process: a context per agent
	 * is an I/O thread and a reaper thread each, i.e. 20,000 threads
	 * (and pids, of pid_max 32768) for 10,000 agents. Each agent has
	 * three sockets (its DEALER, the PAIR zmq_socket_monitor() binds
	 * and ours reading it), hence the socket cap.
	 */
	if (own == NULL || strcmp(own, "1") != 0) {
		if ((ctx = zmq_ctx_new()) == NULL ||
		    zmq_ctx_set(ctx, ZMQ_BLOCKY, 0) == -1 ||
		    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 3 * n + 16) == -1 ||
		    zmq_ctx_set(ctx, ZMQ_IO_THREADS,
		    iot ? atoi(iot) : 1) == -1) {
			fprintf(stderr, "fleetsim: zmq context: %s\n",
			    zmq_strerror(errno));
			return 1;
		}
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	ack_all = getenv("FLEETSIM_ACK_ALL") != NULL &&
	    strcmp(getenv("FLEETSIM_ACK_ALL"), "1") == 0;
	for (int i = 0; i < n; i++) {
		char path[4096], pub[BUS_KEY_Z85_LEN + 1],
		    sec[BUS_KEY_Z85_LEN + 1];
		struct bus_opts o;

		snprintf(s[i].host, sizeof(s[i].host), "sim-%d", first + i);
		snprintf(path, sizeof(path), "%s/%s.key", dir, s[i].host);
		if (bus_keypair_load(path, pub, sec) == -1)
			die(path);
		bus_opts_init(&o);
		o.endpoint = endpoint;
		o.server_public = srv;
		o.public_key = pub;
		o.secret_key = sec;
		o.identity = s[i].host;
		/* libzmq's backoff after a lost connection: 100 ms doubling
		 * to this (plus a jitter of up to 100 ms each time);
		 * FLEETSIM_RECONNECT_MAX_MS=5000 as the agent's default */
		o.reconnect_max_ms = rmax ? atoi(rmax) : 2000;
		/* As the agent at a 10 s report interval (agent/main.c
		 * bus_setup()): no ZMTP pings; FLEETSIM_PING_MS=N pings
		 * every N ms (the agents before 2026-12-07: 10000). */
		o.heartbeat_ivl_ms = ping ? atoi(ping) : -1;
		o.zmq_ctx = ctx;
		if ((s[i].bus = bus_client_new(&o)) == NULL)
			die("bus");
		s[i].interval_ms = 10000;
		s[i].next = now_s() + 0.05 * (i % 20);
		s[i].fd = -1;
	}
	/*
	 * One epoll over every agent's socket: an agent is looked at when its
	 * socket has work, so the simulator's CPU goes with the messages (a
	 * pass over every socket costs a few microseconds each: done as a
	 * sweep every SWEEP_S only, not while messages flow). Before, each
	 * busy pass polled all agents, every 2 ms: about half a core per
	 * process during the creates, out of the cores the measured
	 * controller shares.
	 */
	while (!stop) {
		struct epoll_event ev[64];
		double t = now_s();
		int k, ms;

		if (t >= sweep) {
			for (int i = 0; i < n; i++) {
				struct sim *a = &s[i];

				watch(ep, a, i);
				drain(a);
				if (t < a->next)
					continue;
				if (!a->registered) {
					/* As the agent (agent/main.c): 250
					 * ms, doubling up to the report
					 * interval. A fixed second made
					 * 10,000 agents resend faster than
					 * a loaded controller wrote. */
					hello(a);
					a->backoff = a->backoff == 0 ? 0.25 :
					    a->backoff * 2;
					if (a->backoff > a->interval_ms / 1000.0)
						a->backoff =
						    a->interval_ms / 1000.0;
					a->next = t + a->backoff;
				} else {
					int64_t late = (int64_t)((t - a->next) *
					    1000);

					if (late > hbs.late_max)
						hbs.late_max = late;
					hbs.late_10s += late > 10000;
					heartbeat(a);
					a->next = t + a->interval_ms / 1000.0;
				}
			}
			sweep = t + SWEEP_S;
			conn_report(s, n);
			if (t >= hbstat_at)
				hbstat_flush(t);
		}
		ms = (int)((sweep - now_s()) * 1000) + 1;
		k = epoll_wait(ep, ev, 64, ms > 0 ? ms : 0);
		for (int j = 0; j < k; j++)
			drain(&s[ev[j].data.u32]);
	}
	for (int i = 0; i < n; i++) {
		up += s[i].registered;
		cmds += s[i].cmds;
		bus_free(&s[i].bus);
		free(s[i].g);
	}
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	printf("fleetsim: %d agents (%d registered), %llu commands answered\n",
	    n, up, (unsigned long long)cmds);
	close(ep);
	free(s);
	return 0;
}

int
main(int argc, char **argv)
{
	log_init("fleetsim", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	if (argc >= 5 && strcmp(argv[1], "sched") == 0)
		return bench_sched(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
		    argc > 5 ? argv[5] : NULL);
	if (argc == 4 && strcmp(argv[1], "keys") == 0)
		return make_keys(argv[2], atoi(argv[3]));
	if (argc == 6 && strcmp(argv[1], "enroll") == 0)
		return enroll(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "agents") == 0)
		return run_agents(argv[2], argv[3], atoi(argv[4]), argv[5],
		    argc == 7 ? atoi(argv[6]) : 1);
	fprintf(stderr, "usage: fleetsim sched HOSTS CREATES THREADS [DIR]\n"
	    "       fleetsim keys DIR N\n"
	    "       fleetsim enroll DB DIR N MAP_MB\n"
	    "       fleetsim agents ENDPOINT DIR N SERVER_PUB [FIRST]\n");
	return 2;
}
