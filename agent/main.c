/*
 * tinystack-agent: one per hypervisor. Connects to the controller's bus,
 * registers the host (agent_hello) with facts from libvirt, and heartbeats
 * every report_interval with current usage and the guests libvirt knows.
 *
 * Liveness: the agent keeps saying hello until the controller acknowledges
 * it; if the controller answers nothing (no ack of any kind) for three
 * report intervals, the agent rebuilds its socket and says hello again, so
 * a restarted controller, a lost connection or a lost message all converge
 * to "registered" without operator action. Guests are never touched by
 * any of this.
 *
 * Guest state changes: agent/virt (the only owner of the libvirt
 * connection, shared with the guest life cycle) reports domain life-cycle
 * events (a guest that stopped, crashed, was destroyed behind the agent's
 * back ...) and reconnections from its event thread. Each writes a byte to
 * a pipe the bus loop polls, which sends a heartbeat (the guests' states)
 * at once instead of at the next interval (so does a compute worker that
 * hot-plugged or unplugged a guest's interfaces or volume disks, so the
 * controller settles the attachment at once); the periodic heartbeat remains
 * the reconciliation that catches anything missed (an event lost while
 * libvirtd restarted). The bus loop checks the connection every
 * EVENT_RETRY_MS, so that a dead one is reopened (and its events come
 * back) even while nothing else uses it.
 *
 * Network dataplane: when [network] names an underlay (local_ip) or
 * physical mappings, a netsvc worker (agent/net/netsvc.h) owns the host's
 * converger: it applies the controller's host_network messages, answers
 * each with host_network_state and converges again every NETSVC_TICK_MS,
 * off this loop, so a slow dnsmasq start never delays a heartbeat. The
 * hello carries local_ip as the host's tunnel address.
 *
 * Metadata: with the dataplane and [metadata] enabled, the agent serves
 * http://169.254.169.254/ on each network bridge (agent/net/metadata.h) on
 * a thread of its own. The compute workers hand it each guest's documents
 * (rendered by agent/virt/configdrive, as the config drive's) when they
 * ensure the guest, and the network worker the ports that identify the
 * guests.
 *
 * Block storage: with [storage] enabled, a storage worker
 * (agent/storage/storsvc.h) owns the host's volume backend (file or LVM)
 * and the agent's own tgtd (agent/storage/tgt.h, supervised on a thread
 * of its own): it applies the controller's host_storage messages, answers
 * each with host_storage_state and converges again every STORSVC_TICK_MS
 * and whenever tgtd restarts. Volumes filled from images come through an
 * image cache of its own (<state_path>/volume-images).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uuid/uuid.h>
#include <zmq.h>

#include "buf.h"
#include "bus.h"
#include "clock.h"
#include "codec.h"
#include "compute/compute.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "msg_gen.h"
#include "net/metadata.h"
#include "net/netsvc.h"
#include "opts.h"
#include "storage/storsvc.h"
#include "storage/tgt.h"
#include "storage/volstore.h"
#include "image/imgcache.h"
#include "svc.h"
#include "virt/census.h"
#include "replygate.h"
#include "virt/configdrive.h"
#include "virt/driver.h"
#include "virt/virt.h"

#define PROG		"tinystack-agent"
#define DEFAULT_CONFIG	"/etc/tinystack/agent.conf"
#define AGENT_VERSION	"0.1.0"
#define EVENT_RETRY_MS	2000	/* libvirt connection checks */
/* A census libvirt holds up longer than a report interval gets liveness
 * heartbeats meanwhile, for at most this long: a libvirt that answers
 * nothing for minutes is a host down, not a slow save. */
#define CENSUS_STUCK_MAX_MS	(5 * 60 * 1000)
/* Error lines per heartbeat (= schemas heartbeat errors max). */
#define HB_ERRORS_MAX	16

static volatile int	stopping;
static volatile int	reopen_log;

struct agent {
	struct config	*cfg;
	struct virt	*virt;
	struct bus	*bus;
	struct compute	*compute;	/* guest commands (agent/compute.c) */
	struct netsvc	*net;		/* dataplane worker; NULL: none here */
	struct metadata	*md;		/* metadata service; NULL: none */
	struct storsvc	*sto;		/* storage worker; NULL: none here */
	struct imgcache_http *sto_http;	/* its image API client */
	struct imgcache	*sto_cache;	/* its image cache (volume fills) */
	char		 host[256];
	int		 sigfd;
	int64_t		 interval_ms;	/* report interval in force */
	int		 registered;	/* hello acknowledged */
	int64_t		 next_hello;	/* monotonic ms */
	int64_t		 hello_backoff_ms;	/* 0: start over */
	int		 bus_up;		/* the connection as step() last saw it */
	unsigned	 hello_failures;	/* in a row */
	int64_t		 next_beat;
	int64_t		 last_ack;	/* monotonic ms of last controller word */
	int64_t		 started_at;	/* unix ms */
	uint64_t	 seq;
	/* The oldest heartbeat asking for an ack not answered yet (seq, 0:
	 * none; monotonic ms sent), and whether the last answer took over a
	 * quarter interval (want_ack()). */
	uint64_t	 ack_seq;
	int64_t		 ack_sent;
	int		 ack_slow;
	/* The error lines (log.h ring) sent up to this seq. */
	uint64_t	 log_sent;
	uint64_t	 health_gen;	/* health_generation() last seen */
	unsigned	 libvirt_down_logged;	/* census failures in a row */
	struct log_ring_line	hb_lines[HB_ERRORS_MAX];
	struct sch_log_line	hb_items[HB_ERRORS_MAX];
	char		 hb_lost[96];

	/* /metrics ([metrics] port): figures the loop keeps for it */
	struct metrics	*metrics;
	struct metrics_http *metrics_http;
	_Atomic uint64_t m_guests, m_running, m_heartbeats, m_hellos;
	_Atomic int	 m_libvirt_up;

	/* libvirt events (see the header) */
	int		 evpipe[2];	/* virt's event thread -> bus loop */
	int64_t		 ev_next_try;
	int		 beat_soon;	/* a guest changed: heartbeat now */

	/* Heartbeat contents, read off this loop (virt/census.h). */
	struct census	*census;
	int		 cspipe[2];	/* census thread -> bus loop */
	int		 stuck_logged;	/* the long-stuck warning was given */
	int64_t		 last_full;	/* monotonic ms: last full heartbeat */
	int64_t		 beat_asked;	/* ... and the last census asked */
	/* Replies the workers have handed to the bus, counted. A census read
	 * before a reply went out may show the guest as it was before that
	 * command: sent after the reply, it would tell the controller the
	 * command was undone. Such a census is not sent (census.tag). The
	 * hello's census is asked for with the replies held (replygate.h). */
	struct replygate *replies;
};

static uint64_t
replies_now(struct agent *a)
{
	return replygate_count(a->replies);
}

static void
on_signal(int fd, short revents, void *arg)
{
	int sig;

	while ((sig = daemon_signal_read(fd)) > 0) {
		if (sig == SIGHUP)
			reopen_log = 1;
		else
			stopping = 1;
	}
}

/* Fills a guest list for a message from the cnt guests of gs; the items
 * point into gs (borrowed: gs outlives *out). vnc_host: the address the
 * controller reaches the guests' VNC ports at (borrowed too). */
static int
guests_items(const struct virt_guest *gs, size_t cnt, const char *vnc_host,
    struct sch_guest **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (cnt > 4096)
		cnt = 4096;	/* schema maximum; never seen in practice */
	/* One block: the items, then the pointers of their MAC lists, then
	 * those of their volume lists (the callers free the items only). */
	if ((*out = calloc(1, (cnt ? cnt : 1) * (sizeof(**out) +
	    (VIRT_MACS_MAX + VIRT_VOLUMES_MAX) * sizeof(char *)))) == NULL) {
		err_set(TS_ENOMEM, "agent: out of memory");
		return -1;
	}
	for (size_t i = 0; i < cnt; i++) {
		memcpy((*out)[i].uuid, gs[i].uuid, sizeof((*out)[i].uuid));
		(*out)[i].name = (char *)gs[i].name;
		(*out)[i].state = (char *)gs[i].state;
		(*out)[i].power_state = gs[i].power_state;
		(*out)[i].vcpus = gs[i].vcpus;
		(*out)[i].memory_mb = gs[i].memory_mb;
		(*out)[i].has_generation = gs[i].generation != 0;
		(*out)[i].generation = gs[i].generation;
		if (gs[i].vnc_port != 0 && vnc_host != NULL) {
			(*out)[i].has_vnc_port = 1;
			(*out)[i].vnc_port = gs[i].vnc_port;
			(*out)[i].vnc_host = (char *)vnc_host;
		}
		if (gs[i].has_macs) {
			char **mp = (char **)(void *)(*out + cnt) +
			    i * VIRT_MACS_MAX;

			for (size_t k = 0; k < gs[i].nmacs; k++)
				mp[k] = (char *)gs[i].macs[k];
			/* Present even when empty: "no NICs" is known. */
			(*out)[i].macs.items = mp;
			(*out)[i].macs.n = gs[i].nmacs;
		}
		if (gs[i].has_volumes) {
			char **vp = (char **)(void *)(*out + cnt) +
			    cnt * VIRT_MACS_MAX + i * VIRT_VOLUMES_MAX;

			for (size_t k = 0; k < gs[i].nvolumes; k++)
				vp[k] = (char *)gs[i].volumes[k];
			/* Present even when empty: "no volumes" is known. */
			(*out)[i].volumes.items = vp;
			(*out)[i].volumes.n = gs[i].nvolumes;
		}
	}
	*n = cnt;
	return 0;
}

/* ------------------------------------------------------------ events */

/* virt's event thread (or a reconnecting thread). A full pipe means a
 * wake-up is already pending. */
static void
on_guests_changed(void *arg)
{
	struct agent *a = arg;
	ssize_t n;

	n = write(a->evpipe[1], "e", 1);
	(void)n;
}

/* A compute worker hot-plugged or unplugged a guest's devices: the
 * heartbeat that shows them goes now (the same pipe as the events). */
static void
on_devices_synced(void *arg, const char *uuid)
{
	(void)uuid;
	on_guests_changed(arg);
}

static void
on_event_pipe(int fd, short revents, void *arg)
{
	struct agent *a = arg;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	a->beat_soon = 1;
}

/* A dead libvirt connection is reopened (with its event callback) even
 * while no report or command uses it; retried every EVENT_RETRY_MS. */
static void
events_ensure(struct agent *a, int64_t now)
{
	if (now < a->ev_next_try)
		return;
	a->ev_next_try = now + EVENT_RETRY_MS;
	if (virt_ensure(a->virt) == -1)
		log_warnx("libvirt: %s", err_msg());
}

static int
send_msg(struct agent *a, const struct schema_type *t, const void *body)
{
	struct buf b = { 0 };
	char reqid[64], u[37];
	uuid_t raw;
	int rc;

	/* OpenStack-style request ids, unique across agents and restarts. */
	uuid_generate_random(raw);
	uuid_unparse_lower(raw, u);
	snprintf(reqid, sizeof(reqid), "req-%s", u);
	rc = codec_envelope_encode(t, body, reqid, a->host, &b);
	if (rc == 0)
		rc = bus_send(a->bus, NULL, b.data, b.len);
	buf_free(&b);
	return rc;
}

/* [vnc] server_proxyclient_address, or NULL when VNC is off. */
static const char *
vnc_host(const struct agent *a)
{
	if (!config_get_bool(a->cfg, "vnc", "enabled"))
		return NULL;
	return config_get_str(a->cfg, "vnc", "server_proxyclient_address");
}

/*
 * Health for a heartbeat (full or liveness): the services this host's
 * workers depend on (common/health.h; dnsmasq is checked now) and the
 * error lines logged since the last heartbeat sent (log.h ring, redacted
 * when logged). Lines that did not fit become one line saying how many.
 * The deps are owned (health_clear()), the lines borrowed from a.
 */
static void
health_attach(struct agent *a, struct msg_heartbeat *m, uint64_t *upto)
{
	uint64_t lost = 0;
	size_t n, k = 0;

	if (a->net != NULL)
		netsvc_health(a->net);
	if (health_items(&m->deps.items, &m->deps.n) == -1)
		log_warnx("heartbeat: %s", err_msg());
	n = log_ring_since(a->log_sent, a->hb_lines, HB_ERRORS_MAX - 1, &lost);
	*upto = n ? a->hb_lines[n - 1].seq : a->log_sent;
	if (lost > 0) {
		snprintf(a->hb_lost, sizeof(a->hb_lost), "(%llu earlier error "
		    "line(s) not reported)", (unsigned long long)lost);
		a->hb_items[k].at = n ? a->hb_lines[0].at_ms : 0;
		a->hb_items[k++].text = a->hb_lost;
	}
	for (size_t i = 0; i < n; i++) {
		a->hb_items[k].at = a->hb_lines[i].at_ms;
		a->hb_items[k++].text = a->hb_lines[i].text;
	}
	if (k > 0) {
		m->errors.items = a->hb_items;
		m->errors.n = k;
	}
}

static void
health_clear(struct agent *a, struct msg_heartbeat *m, uint64_t upto,
    int sent)
{
	health_items_free(&m->deps.items, m->deps.n);
	m->deps.n = 0;
	m->errors.items = NULL;
	m->errors.n = 0;
	if (sent)
		a->log_sent = upto;
}

/* The hello and the heartbeat are made from a census (the snapshot is
 * borrowed), never from libvirt on this loop: see virt/census.h. */
static int
send_hello(struct agent *a, const struct census_snap *cs)
{
	struct msg_agent_hello m = { 0 };
	const struct virt_host *h = &cs->host;
	int rc;

	m.host = a->host;
	m.agent_version = AGENT_VERSION;
	m.hypervisor_type = (char *)h->hv_type;
	m.hypervisor_version = h->hv_version;
	m.libvirt_uri = (char *)virt_uri(a->virt);
	m.cpu_model = (char *)h->cpu_model;
	m.cpu_arch = (char *)h->cpu_arch;
	m.vcpus = h->vcpus;
	m.memory_mb = h->memory_mb;
	m.local_gb = h->local_gb;
	m.started_at = a->started_at;
	if (*config_get_str(a->cfg, "network", "local_ip") != '\0')
		m.tunnel_ip = (char *)config_get_str(a->cfg, "network",
		    "local_ip");
	if (guests_items(cs->guests, cs->n, vnc_host(a), &m.guests.items,
	    &m.guests.n) == -1)
		return -1;
	rc = send_msg(a, &schema_msg_agent_hello, &m);
	free(m.guests.items);
	if (rc == 0)
		log_info("hello sent: %u vCPUs, %llu MiB, %llu GiB, %zu guests",
		    h->vcpus, (unsigned long long)h->memory_mb,
		    (unsigned long long)h->local_gb, m.guests.n);
	return rc;
}

/*
 * Whether this heartbeat asks for a heartbeat_ack: when nothing came from
 * the controller for 1.5 intervals, i.e. every other heartbeat of an idle
 * host (each ack costs the controller a send and a wake-up of its I/O
 * thread). step()'s silence rule (3 intervals, unchanged: a controller
 * that went mute is found as early as before) then hears a word every 2
 * intervals, leaving one interval for a late answer instead of two. So
 * while the controller answers slowly (the last ack came over a quarter
 * interval after its ask: a loaded controller, a backlog) every heartbeat
 * asks, as before.
 */
static bool
want_ack(const struct agent *a)
{
	return a->ack_slow ||
	    clock_mono_ms() - a->last_ack >= a->interval_ms * 3 / 2;
}

/* A heartbeat that asked went out: the oldest unanswered ask is timed. */
static void
ack_asked(struct agent *a, uint64_t seq)
{
	if (a->ack_seq == 0) {
		a->ack_seq = seq;
		a->ack_sent = clock_mono_ms();
	}
}

static int
send_heartbeat(struct agent *a, const struct census_snap *cs)
{
	struct msg_heartbeat m = { 0 };
	uint64_t upto;
	int rc;

	m.host = a->host;
	m.seq = ++a->seq;
	m.has_want_ack = true;
	m.want_ack = want_ack(a);
	m.memory_mb_used = cs->host.memory_mb_used;
	m.local_gb_used = cs->host.local_gb_used;
	if (guests_items(cs->guests, cs->n, vnc_host(a), &m.guests.items,
	    &m.guests.n) == -1)
		return -1;
	for (size_t i = 0; i < m.guests.n; i++) {
		if (m.guests.items[i].power_state == VIRT_POWER_RUNNING ||
		    m.guests.items[i].power_state == VIRT_POWER_PAUSED) {
			m.running_vms++;
			m.vcpus_used += m.guests.items[i].vcpus;
		}
	}
	health_attach(a, &m, &upto);
	rc = send_msg(a, &schema_msg_heartbeat, &m);
	health_clear(a, &m, upto, rc == 0);
	if (rc == 0 && m.want_ack)
		ack_asked(a, m.seq);
	if (rc == 0) {
		atomic_store(&a->m_guests, m.guests.n);
		atomic_store(&a->m_running, m.running_vms);
		atomic_fetch_add(&a->m_heartbeats, 1);
	}
	free(m.guests.items);
	return rc;
}

/* While libvirt holds the census up: the host lives, its guests are not
 * told (the controller takes nothing from a stale heartbeat). */
static int
send_liveness(struct agent *a)
{
	struct msg_heartbeat m = { 0 };
	uint64_t upto;
	int rc;

	m.host = a->host;
	m.seq = ++a->seq;
	m.has_want_ack = true;
	m.want_ack = want_ack(a);
	m.has_stale = true;
	m.stale = true;
	health_attach(a, &m, &upto);
	rc = send_msg(a, &schema_msg_heartbeat, &m);
	health_clear(a, &m, upto, rc == 0);
	if (rc == 0 && m.want_ack)
		ack_asked(a, m.seq);
	return rc;
}

/* The census thread: a result is there. */
static void
on_census_ready(void *arg)
{
	struct agent *a = arg;
	ssize_t n;

	n = write(a->cspipe[1], "c", 1);
	(void)n;
}

/* ---- /metrics ---------------------------------------------------------- */

static void
fig(struct buf *out, const char *name, enum metrics_type t, const char *help,
    const char *const *kv, double v)
{
	metrics_write_family(out, name, t, help);
	metrics_write_sample(out, name, kv, v);
}

static void
converge_figs(struct buf *out, const char *worker,
    const struct metrics_runs_snap *r)
{
	const char *w[] = { "worker", worker, NULL };
	const char *ok[] = { "worker", worker, "result", "ok", NULL };
	const char *ko[] = { "worker", worker, "result", "failed", NULL };

	metrics_write_sample(out, "tinystack_agent_converges_total", ok,
	    (double)(r->runs - r->failed));
	metrics_write_sample(out, "tinystack_agent_converges_total", ko,
	    (double)r->failed);
	metrics_write_sample(out, "tinystack_agent_converge_seconds_total", w,
	    (double)r->usec_total / 1e6);
	metrics_write_sample(out, "tinystack_agent_converge_last_seconds", w,
	    (double)r->last_usec / 1e6);
}

/* The agent's figures, read from each part's own counters at scrape
 * time (the metrics thread); every part outlives the metrics server. */
static void
collect(struct buf *out, void *arg)
{
	struct agent *a = arg;
	struct compute_stats cst;
	struct bus_stats bst;
	static const char *const cmd = "tinystack_agent_commands_total";

	fig(out, "libvirt_up", METRICS_GAUGE, "1 if the last census of "
	    "the guests through libvirt succeeded.", NULL,
	    atomic_load(&a->m_libvirt_up));
	fig(out, "libvirt_domains", METRICS_GAUGE, "Guests (libvirt "
	    "domains) in the last heartbeat.", NULL,
	    (double)atomic_load(&a->m_guests));
	fig(out, "tinystack_agent_running_guests", METRICS_GAUGE, "Guests "
	    "running or paused in the last heartbeat.", NULL,
	    (double)atomic_load(&a->m_running));
	fig(out, "tinystack_agent_libvirt_reconnects_total", METRICS_COUNTER,
	    "libvirt connections reopened after one was lost.", NULL,
	    a->virt ? (double)virt_reconnects(a->virt) : 0);
	fig(out, "tinystack_agent_heartbeats_total", METRICS_COUNTER,
	    "Heartbeats with the guests' states sent.", NULL,
	    (double)atomic_load(&a->m_heartbeats));
	fig(out, "tinystack_agent_hellos_total", METRICS_COUNTER,
	    "Registrations (agent_hello) sent.", NULL,
	    (double)atomic_load(&a->m_hellos));
	if (a->compute) {
		compute_stats(a->compute, &cst);
		metrics_write_family(out, cmd, METRICS_COUNTER, "Guest "
		    "commands from the controller: received, duplicate "
		    "(answered from memory), stale (an old generation), "
		    "executed by a worker, failed (of those executed).");
		metrics_write_sample(out, cmd, (const char *[]){ "result",
		    "received", NULL }, (double)cst.received);
		metrics_write_sample(out, cmd, (const char *[]){ "result",
		    "duplicate", NULL }, (double)cst.duplicates);
		metrics_write_sample(out, cmd, (const char *[]){ "result",
		    "stale", NULL }, (double)cst.stale);
		metrics_write_sample(out, cmd, (const char *[]){ "result",
		    "executed", NULL }, (double)cst.executed);
		metrics_write_sample(out, cmd, (const char *[]){ "result",
		    "failed", NULL }, (double)cst.failed);
		fig(out, "tinystack_agent_commands_queued", METRICS_GAUGE,
		    "Guest commands waiting for a worker.", NULL,
		    (double)cst.queued);
	}
	if (a->net || a->sto) {
		metrics_write_family(out, "tinystack_agent_converges_total",
		    METRICS_COUNTER, "Converges of the network and storage "
		    "workers (a message applied or the periodic re-check).");
		metrics_write_family(out,
		    "tinystack_agent_converge_seconds_total", METRICS_COUNTER,
		    "Time the workers spent converging.");
		metrics_write_family(out,
		    "tinystack_agent_converge_last_seconds", METRICS_GAUGE,
		    "Duration of each worker's last converge.");
	}
	if (a->net) {
		struct metrics_runs_snap n;

		netsvc_stats(a->net, &n);
		converge_figs(out, "network", &n);
	}
	if (a->sto) {
		struct storsvc_stats s;

		storsvc_stats(a->sto, &s);
		converge_figs(out, "storage", &s.converges);
		fig(out, "tinystack_agent_tgtd_starts_total", METRICS_COUNTER,
		    "tgtd processes the agent started (the first and every "
		    "restart).", NULL, (double)s.tgt_starts);
	}
	bus_stats(a->bus, &bst);
	fig(out, "tinystack_bus_messages_received_total", METRICS_COUNTER,
	    "Messages received from the controller.", NULL,
	    (double)bst.msgs_in);
	fig(out, "tinystack_bus_messages_sent_total", METRICS_COUNTER,
	    "Messages sent to the controller.", NULL, (double)bst.msgs_out);
	fig(out, "tinystack_bus_send_failures_total", METRICS_COUNTER,
	    "Messages that could not be sent.", NULL,
	    (double)(bst.send_unreachable + bst.send_queue_full +
	    bst.send_failed + bst.post_refused));
}

/* Hello until registered, heartbeats after, each from the newest census. */
static void
on_census_pipe(int fd, short revents, void *arg)
{
	struct agent *a = arg;
	struct census_snap cs;
	char buf[64];
	int rc;

	(void)revents;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if ((rc = census_take(a->census, &cs)) == 0)
		return;
	if (rc == -1) {
		/* Once per outage in the error log; the state and the newest
		 * error go with every heartbeat. */
		if (!a->libvirt_down_logged++)
			log_error("libvirt: %s", err_msg());
		health_down("libvirtd", "%s", err_msg());
	} else {
		a->libvirt_down_logged = 0;
		health_up("libvirtd", virt_uri(a->virt));
	}
	atomic_store(&a->m_libvirt_up, rc != -1);
	a->stuck_logged = 0;
	if (rc == 1 && cs.tag != replies_now(a)) {
		/* Read before a reply that has gone out since: ask again. The
		 * heartbeat timer keeps the host alive meanwhile; the hello's
		 * census is asked for with the replies held, so this happens
		 * to it at most once (a read begun before the hold). */
		census_snap_clear(&cs);
		census_request(a->census, replies_now(a));
		return;
	}
	if (!a->registered) {
		/* Quick first retries (the handshake may still be running),
		 * then one report interval; only the first failure of a
		 * streak is worth a warning. */
		if (rc == -1 || send_hello(a, &cs) == -1) {
			if (a->hello_failures++ == 0)
				log_warnx("hello: %s (retrying)", err_msg());
			else
				log_debug("hello: %s", err_msg());
		} else {
			a->hello_failures = 0;
			atomic_fetch_add(&a->m_hellos, 1);
		}
	} else if (rc == -1 || send_heartbeat(a, &cs) == -1) {
		log_warnx("heartbeat: %s", err_msg());
	} else {
		a->last_full = clock_mono_ms();
		/* prepared migrations that never arrived (the controller
		 * says which to remove) */
		if (a->compute != NULL)
			compute_report_leftovers(a->compute, cs.guests, cs.n);
	}
	/* The held replies follow the hello (or its failure, or the
	 * heartbeat when a hello_ack came first). */
	replygate_release(a->replies);
	census_snap_clear(&cs);
}

/*
 * A host_network reaching a host without a dataplane ([network] names
 * nothing): an empty one is true as it is (nothing to have, nothing here),
 * so it is reported applied and the controller stops re-sending; one with
 * networks is refused, which the controller logs.
 */
static void
no_dataplane(struct agent *a, const struct codec_envelope *env)
{
	const struct msg_host_network *m = env->body;
	int rc;

	if (m->networks.n == 0) {
		struct msg_host_network_state st = { 0 };

		st.generation = m->generation;
		st.in_reply_to = (char *)env->request_id;
		rc = send_msg(a, &schema_msg_host_network_state, &st);
	} else {
		struct msg_error e = { 0 };

		e.code = TS_EUNAVAILABLE;
		e.message = "no network dataplane on this host: set [network] "
		    "local_ip or physical mappings";
		e.in_reply_to = (char *)env->request_id;
		log_warnx("host_network with %zu networks: %s", m->networks.n,
		    e.message);
		rc = send_msg(a, &schema_msg_error, &e);
	}
	if (rc == -1)
		log_warnx("host_network reply: %s", err_msg());
}

/*
 * A host_storage reaching a host without block storage ([storage] enabled
 * is false): an empty one is true as it is and is reported applied
 * (backend "none"); one naming volumes or snapshots is refused.
 */
static void
no_storage(struct agent *a, const struct codec_envelope *env)
{
	const struct msg_host_storage *m = env->body;
	int rc;

	if (m->volumes.n == 0 && m->snapshots.n == 0) {
		struct msg_host_storage_state st = { 0 };

		st.generation = m->generation;
		st.in_reply_to = (char *)env->request_id;
		st.backend = "none";
		st.portal = "";
		rc = send_msg(a, &schema_msg_host_storage_state, &st);
	} else {
		struct msg_error e = { 0 };

		e.code = TS_EUNAVAILABLE;
		e.message = "no block storage on this host: set [storage] "
		    "enabled";
		e.in_reply_to = (char *)env->request_id;
		log_warnx("host_storage with %zu volumes: %s", m->volumes.n,
		    e.message);
		rc = send_msg(a, &schema_msg_error, &e);
	}
	if (rc == -1)
		log_warnx("host_storage reply: %s", err_msg());
}

static void
handle(struct agent *a, const struct bus_msg *bm)
{
	struct codec_envelope env;

	memset(&env, 0, sizeof(env));
	if (codec_envelope_decode(bm->data, bm->len, SCHEMA_FROM_CONTROLLER,
	    &env) == -1) {
		log_warnx("malformed message from the controller: %s",
		    err_msg());
		return;
	}
	a->last_ack = clock_mono_ms();
	if (env.type == &schema_msg_hello_ack) {
		struct msg_hello_ack *m = env.body;

		if (!a->registered)
			log_warnx("registered with controller %s",
			    m->controller_host);
		a->registered = 1;
		a->hello_backoff_ms = 0;
		replygate_release(a->replies);
		if (m->report_interval > 0 && m->report_interval <= 3600)
			a->interval_ms = (int64_t)m->report_interval * 1000;
		a->next_beat = clock_mono_ms() + a->interval_ms;
	} else if (env.type == &schema_msg_heartbeat_ack) {
		struct msg_heartbeat_ack *m = env.body;

		/* Liveness: last_ack was updated above. An answer to the
		 * oldest ask or a later one times the oldest (an ack lost
		 * with a connection counts as slow, which only asks more). */
		if (a->ack_seq != 0 && m->seq >= a->ack_seq) {
			a->ack_slow = a->last_ack - a->ack_sent >
			    a->interval_ms / 4;
			a->ack_seq = 0;
		}
	} else if (env.type == &schema_msg_error) {
		struct msg_error *m = env.body;

		log_warnx("controller error %s: %s", err_code_name(m->code),
		    m->message);
		if (m->code == TS_ENOT_FOUND) {
			/* The controller does not know us (any more). */
			a->registered = 0;
			a->next_hello = 0;
		}
	} else if (a->compute && compute_handle(a->compute, &env) == 1) {
		/* queued for a worker, or answered */
	} else if (a->net && netsvc_handle(a->net, &env) == 1) {
		/* queued for the network worker */
	} else if (env.type == &schema_msg_host_network) {
		no_dataplane(a, &env);
	} else if (a->sto && storsvc_handle(a->sto, &env) == 1) {
		/* queued for the storage worker */
	} else if (env.type == &schema_msg_host_storage) {
		no_storage(a, &env);
	} else {
		log_warnx("unexpected %s from the controller", env.type->name);
	}
	codec_envelope_clear(&env);
}

/* compute_send_fn: workers reply through the bus thread. */
static int
post_reply(const void *buf, size_t len, void *arg)
{
	struct agent *a = arg;

	return replygate_send(a->replies, buf, len);
}

static int
post_bus(const void *buf, size_t len, void *arg)
{
	struct agent *a = arg;

	return bus_post(a->bus, NULL, buf, len);
}



/* Compute worker: a guest was made from spec; its documents go to the
 * metadata service. A spec the config drive would refuse is not served
 * (logged; the guest has no metadata rather than wrong metadata). */
static void
md_spec(void *arg, const struct driver_spec *d)
{
	struct agent *a = arg;
	struct configdrive_spec cs;
	struct metadata_nic nics[32];
	size_t n = d->nnics < 32 ? d->nnics : 32;
	char *meta;

	configdrive_spec_of(d, &cs);
	/* Nova's metadata service never has the password: config drive only. */
	cs.admin_pass = NULL;
	if ((meta = configdrive_meta_data(&cs)) == NULL) {
		log_warnx("metadata: instance %s: %s", d->uuid, err_msg());
		return;
	}
	for (size_t i = 0; i < n; i++)
		nics[i] = (struct metadata_nic){ .port_id = d->nics[i].port_id,
		    .network_id = d->nics[i].network_id,
		    .mac = d->nics[i].mac };
	if (metadata_instance_put(a->md, d->uuid, meta, cs.user_data,
	    cs.user_data_len, cs.user_data != NULL, nics, n) == -1)
		log_warnx("metadata: instance %s: %s", d->uuid, err_msg());
	free(meta);
}

static void
md_gone(void *arg, const char *uuid)
{
	struct agent *a = arg;

	metadata_instance_del(a->md, uuid);
}

/* The dataplane runs where [network] gives it something to build on: an
 * underlay for VXLAN or physical networks to bridge. */
static int
net_setup(struct agent *a)
{
	const char *keys[] = { "local_ip", "physical_interface_mappings",
	    "physical_bridge_mappings" };
	struct link *lk;
	struct netconv *nc;
	char dir[PATH_MAX];
	int on = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		on |= *config_get_str(a->cfg, "network", keys[i]) != '\0';
	if (!on) {
		log_info("no [network] underlay or mappings: no dataplane here");
		return 0;
	}
	if ((lk = link_new_netlink()) == NULL)
		return -1;
	if ((nc = netconv_new_from_config(a->cfg, a->host, &lk)) == NULL) {
		link_free(&lk);
		return -1;
	}
	if ((a->net = netsvc_new(&nc, a->host, 0, post_reply, a)) == NULL) {
		netconv_free(&nc);
		return -1;
	}
	if (!config_get_bool(a->cfg, "metadata", "enabled"))
		return 0;
	if (snprintf(dir, sizeof(dir), "%s/metadata", config_get_str(a->cfg,
	    "DEFAULT", "state_path")) >= (int)sizeof(dir)) {
		err_set(TS_ECONFIG, "state_path too long");
		return -1;
	}
	if ((a->md = metadata_new()) == NULL ||
	    daemon_mkdirs(dir, 0700) == -1 ||
	    metadata_state_dir(a->md, dir) == -1 ||
	    metadata_start(a->md, (uint16_t)config_get_int(a->cfg, "metadata",
	    "port"), NULL) == -1)
		return -1;
	compute_set_guest_hooks(a->compute, md_spec, md_gone, a);
	netsvc_set_metadata(a->net, a->md);
	return 0;
}

/* imgcache source for volume fills: the controller's image API with the
 * volume's capability token (sto_volume.image_token). */
static int
sto_fetch(void *arg, const char *image_id, const char *token,
    imgcache_sink_fn sink, void *sink_arg)
{
	struct agent *a = arg;

	return imgcache_http_fetch(a->sto_http, image_id, token, sink,
	    sink_arg);
}

/* Volume uploads (os-volume_upload_image) through the same image API
 * client, with the upload's capability. */
static int
sto_upload(void *arg, const char *image_id, const char *token,
    const char *path)
{
	struct agent *a = arg;

	return imgcache_http_upload(a->sto_http, image_id, token, path);
}

/* Block storage where [storage] enabled says so. */
static int
storage_setup(struct agent *a)
{
	const struct config *c = a->cfg;
	const char *state = config_get_str(c, "DEFAULT", "state_path");
	const char *url = config_get_str(c, "image", "api_url");
	char dir[PATH_MAX], cdir[PATH_MAX];
	struct volstore_opts vo = { 0 };
	struct volstore *vs;
	struct tgt *tg;

	if (!config_get_bool(c, "storage", "enabled"))
		return 0;
	if (snprintf(dir, sizeof(dir), "%s/volumes", state) >=
	    (int)sizeof(dir) || snprintf(cdir, sizeof(cdir),
	    "%s/volume-images", state) >= (int)sizeof(cdir)) {
		err_set(TS_ECONFIG, "state_path too long");
		return -1;
	}
	if (url[0] != '\0') {
		struct imgcache_opts co = { 0 };

		/* The state directory may not exist yet on a new host. */
		if (daemon_mkdirs(state, 0755) == -1)
			return -1;
		if ((a->sto_http = imgcache_http_new(url, config_get_str(c,
		    "image", "ca_file"), 0)) == NULL ||
		    imgcache_http_set_host(a->sto_http, a->host) == -1)
			return -1;
		co.dir = cdir;
		co.source = (struct imgcache_source){ sto_fetch, a };
		co.grace_sec = (unsigned)config_get_int(c, "image",
		    "cache_grace");
		if ((a->sto_cache = imgcache_new(&co)) == NULL)
			return -1;
	}
	vo.backend = config_get_str(c, "storage", "backend");
	vo.file_dir = *config_get_str(c, "storage", "file_dir") ?
	    config_get_str(c, "storage", "file_dir") : dir;
	vo.lvm_vg = config_get_str(c, "storage", "lvm_vg");
	vo.lvm_activation = config_get_bool(c, "storage", "lvm_activation");
	vo.cache = a->sto_cache;
	if ((vs = volstore_new(&vo)) == NULL)
		return -1;
	if ((tg = tgt_new(config_get_str(c, "storage", "iscsi_portal"),
	    (int)config_get_int(c, "storage", "tgt_control_port"))) == NULL) {
		volstore_free(&vs);
		return -1;
	}
	if ((a->sto = storsvc_new(&vs, &tg, a->host, 0, post_reply, a)) ==
	    NULL) {
		volstore_free(&vs);
		tgt_free(&tg);
		return -1;
	}
	if (a->sto_http != NULL) {
		char udir[PATH_MAX];

		if (snprintf(udir, sizeof(udir), "%s/volume-uploads", state) >=
		    (int)sizeof(udir)) {
			err_set(TS_ECONFIG, "state_path too long");
			return -1;
		}
		if (daemon_mkdirs(udir, 0700) == -1)
			return -1;
		storsvc_set_uploader(a->sto, udir, sto_upload, a);
	}
	log_info("block storage: %s backend, iSCSI portal %s",
	    vo.backend, config_get_str(c, "storage", "iscsi_portal"));
	return 0;
}

static int
bus_setup(struct agent *a)
{
	struct bus_opts o;
	char path[PATH_MAX], pub[BUS_KEY_Z85_LEN + 1] = "",
	    sec[BUS_KEY_Z85_LEN + 1] = "", srv[BUS_KEY_Z85_LEN + 1] = "";
	const char *keys = config_get_str(a->cfg, "bus", "keys_dir");
	int rc;

	bus_opts_init(&o);
	o.endpoint = config_get_str(a->cfg, "bus", "controller");
	o.curve = config_get_bool(a->cfg, "bus", "curve");
	o.identity = a->host;
	o.reconnect_ivl_ms = (int)config_get_int(a->cfg, "bus",
	    "reconnect_ivl_ms");
	o.reconnect_max_ms = (int)config_get_int(a->cfg, "bus",
	    "reconnect_max_ms");
	o.max_msg_size = config_get_int(a->cfg, "bus", "max_msg_size");
	/*
	 * No ZMTP pings while the heartbeats go at least as often: each is
	 * answered (heartbeat_ack) and step()'s silence rule rebuilds a
	 * connection that hears nothing for 3 report intervals, as libzmq's
	 * ping timeout (3 ping intervals) would have closed it. The pings
	 * only doubled the frames: a CURVE frame in and a pong out on the
	 * controller's I/O thread per agent and interval (docs/
	 * PERFORMANCE.md, "Cheap heartbeats, part 5").
	 */
	if (config_get_int(a->cfg, "DEFAULT", "report_interval") * 1000 <=
	    BUS_HEARTBEAT_IVL_MS)
		o.heartbeat_ivl_ms = -1;
	if (o.curve) {
		snprintf(path, sizeof(path), "%s/agent.key", keys);
		if (bus_keypair_load(path, pub, sec) == -1) {
			err_prefix("agent key (create it with 'tinystack-manage "
			    "agent keygen'): ");
			return -1;
		}
		snprintf(path, sizeof(path), "%s/controller.pub", keys);
		if (bus_pubkey_load(path, srv) == -1) {
			explicit_bzero(sec, sizeof(sec));
			err_prefix("controller public key: ");
			return -1;
		}
		o.public_key = pub;
		o.secret_key = sec;
		o.server_public = srv;
	}
	a->bus = bus_client_new(&o);
	rc = a->bus ? 0 : -1;
	explicit_bzero(sec, sizeof(sec));
	return rc;
}

static void
step(struct agent *a)
{
	int64_t now = clock_mono_ms();

	/*
	 * Silence: no word from the controller for 3 intervals. While the
	 * socket is disconnected ZeroMQ is already reconnecting with its own
	 * backoff, so only a connection that is up but mute (a wedged peer,
	 * a half-open TCP path) is rebuilt.
	 */
	if (now - a->last_ack > 3 * a->interval_ms) {
		if (bus_client_connected(a->bus)) {
			log_warnx("controller silent for %lld ms; reconnecting",
			    (long long)(now - a->last_ack));
			if (bus_client_reconnect(a->bus) == -1)
				log_err("reconnect");
		}
		if (a->registered)
			a->hello_backoff_ms = 0;
		a->registered = 0;
		a->next_hello = 0;
		a->last_ack = now;
	}
	/*
	 * A connection that comes (back) up while unregistered: the hello goes
	 * at once. The backoff grew while no controller answered (after a long
	 * outage it is report_interval) and would hold a restarted
	 * controller's fleet back for up to that long.
	 */
	if (bus_client_connected(a->bus)) {
		if (!a->bus_up && !a->registered) {
			a->hello_backoff_ms = 0;
			a->next_hello = 0;
		}
		a->bus_up = 1;
	} else
		a->bus_up = 0;
	/* A hold that a census stuck in libvirt keeps up past a report
	 * interval: the replies go, and no hold is taken again while that
	 * read is under way (the hello cannot go without it anyway). */
	if (replygate_held_since(a->replies) != 0 &&
	    now - replygate_held_since(a->replies) > a->interval_ms)
		replygate_release(a->replies);
	if (!a->registered && now >= a->next_hello) {
		/* The hello goes when the census is in (on_census_pipe),
		 * asked for with the replies held: while they stream, every
		 * census asked for without the hold is stale when it is in,
		 * and the hello starved (A7, replygate.h). */
		if (census_busy_ms(a->census, now) <= a->interval_ms)
			replygate_hold(a->replies);
		census_request(a->census, replies_now(a));
		if (a->hello_backoff_ms == 0)
			a->hello_backoff_ms = 250;
		else if (a->hello_backoff_ms < a->interval_ms)
			a->hello_backoff_ms *= 2;
		if (a->hello_backoff_ms > a->interval_ms)
			a->hello_backoff_ms = a->interval_ms;
		a->next_hello = now + a->hello_backoff_ms;
	}
	events_ensure(a, now);
	/* A service went down or came back: the controller hears now. */
	if (a->registered && health_generation() != a->health_gen) {
		a->health_gen = health_generation();
		a->beat_soon = 1;
	}
	if (a->registered && (now >= a->next_beat || a->beat_soon)) {
		int64_t busy = census_busy_ms(a->census, now);

		if (a->beat_soon)
			log_debug("guest state changed: reporting now");
		a->beat_soon = 0;
		/* The census asked for last time has not made a heartbeat (held
		 * up by libvirt, or read again after replies): the host lives
		 * all the same. */
		if (a->beat_asked > a->last_full &&
		    busy <= CENSUS_STUCK_MAX_MS) {
			if (send_liveness(a) == -1)
				log_warnx("heartbeat: %s", err_msg());
		} else if (busy > CENSUS_STUCK_MAX_MS && !a->stuck_logged) {
			log_warnx("libvirt has not answered for the guests in "
			    "%lld s: no heartbeat until it does",
			    (long long)busy / 1000);
			a->stuck_logged = 1;
		}
		census_request(a->census, replies_now(a));
		a->beat_asked = now;
		a->next_beat = now + a->interval_ms;
	}
}

int
main(int argc, char **argv)
{
	struct svc_args args;
	struct agent a = { .sigfd = -1, .evpipe = { -1, -1 },
	    .cspipe = { -1, -1 } };
	struct virt_opts vo = { 0 };
	int status = 1, curl_up = 0;

	svc_args_parse(argc, argv, PROG, DEFAULT_CONFIG, &args);
	if ((a.cfg = svc_config_load(opts_agent, &args)) == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, err_msg());
		return 1;
	}
	if ((a.sigfd = daemon_signals_block()) == -1 ||
	    (!args.foreground && daemon_detach() == -1) ||
	    svc_log_setup(a.cfg, PROG, args.foreground) == -1) {
		fprintf(stderr, "%s: %s\n", PROG, err_msg());
		return 1;
	}
	svc_host(a.cfg, a.host, sizeof(a.host));
	if (!bus_host_valid(a.host)) {
		err_set(TS_ECONFIG, "host name '%s' is not valid for the bus",
		    a.host);
		goto fail;
	}
	if (daemon_pidfile_create(config_get_str(a.cfg, "DEFAULT",
	    "pid_file")) == -1)
		goto fail;
	/* libcurl (image downloads, agent/image/imgcache.c) is set up once,
	 * before any thread: the compute workers download concurrently. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err_set(TS_EINTERNAL, "libcurl failed to start");
		goto fail;
	}
	curl_up = 1;
	vo.instances_path = config_get_str(a.cfg, "DEFAULT", "instances_path");
	if (daemon_mkdirs(vo.instances_path, 0755) == -1)
		goto fail;
	vo.uri = config_get_str(a.cfg, "libvirt", "connection_uri");
	vo.notify = on_guests_changed;
	vo.notify_arg = &a;
	if (pipe2(a.evpipe, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(a.cspipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		err_set_errno(TS_EINTERNAL, "event pipe");
		goto fail;
	}
	if ((a.virt = virt_open(&vo)) == NULL)
		goto fail;
	if (bus_setup(&a) == -1 ||
	    bus_add_fd(a.bus, a.sigfd, ZMQ_POLLIN, on_signal, &a) == -1 ||
	    bus_add_fd(a.bus, a.evpipe[0], ZMQ_POLLIN, on_event_pipe, &a) ==
	    -1 ||
	    bus_add_fd(a.bus, a.cspipe[0], ZMQ_POLLIN, on_census_pipe, &a) ==
	    -1)
		goto fail;
	if ((a.census = census_new(a.virt, on_census_ready, &a)) == NULL ||
	    (a.replies = replygate_new(post_bus, &a)) == NULL)
		goto fail;
	if ((a.compute = compute_from_config(a.cfg, a.host, a.virt,
	    post_reply, &a)) == NULL)
		goto fail;
	compute_set_devices_hook(a.compute, on_devices_synced, &a);
	if (net_setup(&a) == -1 || storage_setup(&a) == -1)
		goto fail;
	if ((a.metrics = metrics_new()) == NULL ||
	    metrics_add_collector(a.metrics, collect, &a) == -1 ||
	    metrics_http_configure(a.metrics, a.cfg, &a.metrics_http) == -1)
		goto fail;
	a.interval_ms = config_get_int(a.cfg, "DEFAULT", "report_interval") *
	    1000;
	a.started_at = clock_wall_ms();
	a.last_ack = clock_mono_ms();
	log_warnx("started on %s, libvirt %s, controller %s", a.host,
	    virt_uri(a.virt), bus_endpoint(a.bus));
	daemon_ready();

	while (!stopping) {
		struct bus_msg m;
		int64_t now = clock_mono_ms(), wait;
		int rc;

		step(&a);
		wait = a.registered ? a.next_beat - now : a.next_hello - now;
		if (wait < 10)
			wait = 10;
		if (wait > 1000)
			wait = 1000;
		rc = bus_poll(a.bus, (int)wait, &m);
		if (rc == 1) {
			handle(&a, &m);
			bus_msg_clear(&m);
		} else if (rc == -1) {
			/* Not a busy loop if the error persists. */
			log_err("bus");
			usleep(100 * 1000);
		}
		if (reopen_log) {
			reopen_log = 0;
			if (svc_log_setup(a.cfg, PROG, args.foreground) == -1)
				log_err("reopening log");
		}
	}
	log_warnx("stopping");
	status = 0;
	goto out;
fail:
	log_err("start-up failed");
	fprintf(stderr, "%s: %s\n", PROG, err_msg());
out:
	metrics_http_free(&a.metrics_http);	/* its scrapes read them all */
	metrics_free(&a.metrics);
	compute_free(&a.compute);	/* its workers post to the bus */
	netsvc_free(&a.net);		/* so does the network worker */
	metadata_free(&a.md);		/* both fed it */
	storsvc_free(&a.sto);		/* posts to the bus; stops its tgtd */
	imgcache_free(&a.sto_cache);	/* its fills are done */
	imgcache_http_free(&a.sto_http);
	census_free(&a.census);		/* reads through virt, writes a pipe */
	replygate_free(&a.replies);	/* the workers above post through it */
	virt_free(&a.virt);		/* its event thread writes the pipe */
	bus_free(&a.bus);
	for (int i = 0; i < 2; i++) {
		if (a.evpipe[i] >= 0)
			close(a.evpipe[i]);
		if (a.cspipe[i] >= 0)
			close(a.cspipe[i]);
	}
	daemon_pidfile_remove();
	if (curl_up)
		curl_global_cleanup();
	config_free(&a.cfg);
	return status;
}
