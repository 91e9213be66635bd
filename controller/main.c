/*
 * tinystack-controller: one process holding the cloud's state (LMDB), the
 * agent bus (ZMTP 3 + CURVE on its own listener, common/bus.c) and the REST
 * APIs (controller/services).
 *
 * Threads: this main thread is the bus thread (it owns the bus's listener,
 * its connections and their handshakes, and the fleet table) and also
 * handles signals and the 1 s tick through fds polled with the bus; the
 * store has its committer thread; libmicrohttpd its HTTP worker pool; no
 * libzmq thread. Everything written goes through store_write().
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "compute/compute.h"
#include "config.h"
#include "daemon.h"
#include "core/db.h"
#include "err.h"
#include "core/fleet.h"
#include "core/hoststatus.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "opts.h"
#include "procmem.h"
#include "services.h"
#include "store.h"
#include "svc.h"
#include "core/telemetry.h"

#define PROG		"tinystack-controller"
#define DEFAULT_CONFIG	"/etc/tinystack/controller.conf"

/* The open-files limit the controller raises itself to (within the hard
 * limit): one descriptor per connected agent, plus the API's connections
 * ([api] connection_limit), LMDB and the rest. */
#define NOFILE_WANT		65536
#define NOFILE_LOW		4096	/* warn below: under ~3,000 agents */

#define MALLOC_TRIM_TICKS	10		/* malloc_trim() every N ticks */
/* ... when the anonymous resident memory grew by this since the last */
#define MALLOC_TRIM_GROWTH	(4ULL << 20)

/*
 * malloc's thresholds stay glibc's dynamic ones. Fixed (mmap 4 MiB, trim
 * 1 MiB; branch mem3) the arenas' free tops went back at every free of a
 * large response and were faulted in again by the next: 2-3 times the
 * CPU of a 1,000-server detail page, os-hypervisors and /metrics, and
 * 1,749 -> 1,124 creates/s, for 10 MiB less anonymous memory at 1,000
 * hosts (docs/PERFORMANCE.md, "Memory, part 3", the A/B at its end).
 */

#ifdef TS_JEMALLOC
/*
 * jemalloc's options, read at its first malloc (MALLOC_CONF in the
 * environment still overrides them). A background thread purges each
 * arena's unused dirty pages over dirty_decay_ms, whatever thread freed
 * them and without a trim on the bus thread; muzzy_decay_ms 0 returns them
 * with MADV_DONTNEED rather than MADV_FREE, whose pages stay counted as
 * resident until the kernel needs them. dirty_decay_ms 1 s, not the
 * default 10: the megabyte buffers of the lists and /metrics, freed in
 * each of the 8 arenas their threads use, otherwise stayed dirty for
 * seconds after a burst (2 -> 8 MiB, anonymous 62 -> 67 MiB at 1,000
 * hosts); a page reused within the second is not purged, so the lists'
 * and the creates' CPU did not move (docs/PERFORMANCE.md, "Anonymous
 * memory after the lists"). Purging sooner than that costs page faults,
 * 0.55 ms per MiB on this VM: immediate purges of the >= 1 MiB buffers
 * (oversize_threshold 1 MiB) cost the 1,000-server detail page +35% CPU.
 */
const char *malloc_conf = "background_thread:true,muzzy_decay_ms:0,"
    "dirty_decay_ms:1000";
#endif

static volatile int	stopping;
static volatile int	reopen_log;

struct ctl {
	struct config	*cfg;
	struct store	*store;
	struct bus	*bus;
	struct fleet	*fleet;
	struct services	*services;	/* the REST services */
	struct metrics	*metrics;	/* /metrics registry */
	struct metrics_http *metrics_http; /* [metrics] listener */
	int		 sigfd;
	int		 tickfd;
	char		 host[256];
	/* Its own health report (core/hoststatus.h): error lines sent up to
	 * log_sent, health generation and tick of the last report. */
	uint64_t	 log_sent, health_gen;
	unsigned	 report_tick;
	unsigned	 report_every;	/* ticks: report_interval */
	uint64_t	 trimmed_anon;	/* anonymous bytes after the last
					 * malloc_trim(), 0: none yet */
	struct metrics_series *trims, *trim_seconds;
};

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

/* A network change was committed: its hosts hear now, not at the tick. */
static void
on_netsync(int fd, short revents, void *arg)
{
	struct ctl *c = arg;

	(void)fd;
	(void)revents;
	services_netsync_woken(c->services, db_now_ms());
}

/* A volume or attachment change was committed: the storage hosts hear
 * now, not at the tick. */
static void
on_storesync(int fd, short revents, void *arg)
{
	struct ctl *c = arg;

	(void)fd;
	(void)revents;
	services_storesync_woken(c->services, db_now_ms());
}

/*
 * Freed memory inside the arenas (decoded records, JSON of large lists:
 * each HTTP thread's arena keeps the largest response it built) is
 * otherwise kept resident: give the pages of the free chunks back (the
 * tops of the arenas other than the main one go back only at a free past
 * glibc's trim threshold: above). Only when the anonymous
 * resident memory grew since the last trim: in an idle fleet the
 * heartbeats' short-lived allocations otherwise fault trimmed pages in
 * again every time (the madvise and the refaults were ~5% of the bus
 * thread). Tried and dropped: capping the arenas at 2 (lock contention,
 * 0.1-0.2 ms more CPU per create at 1,000 hosts, no less resident after
 * the trim) and a fixed 128 KiB mmap threshold (LMDB frees a large list
 * on every commit: an munmap each time, 7% of the CPU during creates).
 */
#ifndef TS_JEMALLOC
static void
trim(struct ctl *c)
{
	uint64_t anon;
	int64_t t0;

	/* statm, not smaps_rollup: reading the latter walks every page
	 * table, 2-7% of an idle fleet's controller CPU (1,000 hosts,
	 * 10,000-100,000 servers) for this check alone. */
	if (c->trimmed_anon != 0 && procmem_anon(&anon) == 0 &&
	    anon < c->trimmed_anon + MALLOC_TRIM_GROWTH)
		return;
	t0 = clock_mono_us();
	malloc_trim(0);
	metrics_inc(c->trims, 1);
	metrics_add(c->trim_seconds, (double)(clock_mono_us() - t0) / 1e6);
	c->trimmed_anon = procmem_anon(&anon) == 0 ? anon : 0;
}
#endif

/* How often the tick's malloc_trim() ran and for how long (glibc only:
 * it holds each arena's lock while it walks the arena's free chunks). */
static int
trim_metrics(struct ctl *c)
{
#ifndef TS_JEMALLOC
	struct metrics_family *f;

	if ((f = metrics_family(c->metrics, METRICS_COUNTER,
	    "tinystack_process_heap_trims_total", "malloc_trim() calls of "
	    "the controller's tick.", NULL, NULL, 0)) == NULL ||
	    (c->trims = metrics_series(f, NULL)) == NULL ||
	    (f = metrics_family(c->metrics, METRICS_GAUGE,
	    "tinystack_process_heap_trim_seconds", "Seconds spent in the "
	    "tick's malloc_trim() calls since the start.", NULL, NULL,
	    0)) == NULL || (c->trim_seconds = metrics_series(f, NULL)) == NULL)
		return -1;
#endif
	(void)c;
	return 0;
}

static void
on_tick(int fd, short revents, void *arg)
{
	struct ctl *c = arg;
	uint64_t n;

	static unsigned ticks;
	int cleared = 0;

	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	fleet_tick(c->fleet, db_now_ms());
	/* Reader slots of processes that died mid-read (a killed
	 * tinystack-manage) are otherwise reclaimed only at the next start. */
	if (++ticks % 60 == 0 && store_reader_check(c->store, &cleared) == 0 &&
	    cleared > 0)
		log_warnx("store: cleared %d stale reader slot(s)", cleared);
	services_tick(c->services, db_now_ms());
	/* Its own health: at each report interval like an agent, and at once
	 * when something changed or an error was logged. */
	if (ticks - c->report_tick >= c->report_every ||
	    health_generation() != c->health_gen ||
	    log_ring_last() != c->log_sent) {
		c->health_gen = health_generation();
		c->report_tick = ticks;
		if (hoststatus_report_self(c->store, c->host, &c->log_sent) ==
		    -1)
			log_warnx("host status: %s", err_msg());
	}
#ifndef TS_JEMALLOC
	if (ticks % MALLOC_TRIM_TICKS == 0)
		trim(c);
#endif
}

static int
bus_setup(struct ctl *c)
{
	struct bus_opts o;
	char keyfile[PATH_MAX], pub[BUS_KEY_Z85_LEN + 1] = "",
	    sec[BUS_KEY_Z85_LEN + 1] = "";
	int rc;

	bus_opts_init(&o);
	o.endpoint = config_get_str(c->cfg, "bus", "listen");
	o.curve = config_get_bool(c->cfg, "bus", "curve");
	o.max_msg_size = config_get_int(c->cfg, "bus", "max_msg_size");
	o.classify = telemetry_bus_class;
	o.backlog = (int)config_get_int(c->cfg, "bus", "backlog");
	if (o.curve) {
		snprintf(keyfile, sizeof(keyfile), "%s/controller.key",
		    config_get_str(c->cfg, "bus", "keys_dir"));
		if (bus_keypair_load(keyfile, pub, sec) == -1) {
			err_prefix("controller key (create it with "
			    "'tinystack-manage key setup'): ");
			return -1;
		}
		o.public_key = pub;
		o.secret_key = sec;
		o.allow = fleet_allow;
		o.allow_arg = c->store;
	}
	c->bus = bus_server_new(&o);
	rc = c->bus ? 0 : -1;
	explicit_bzero(sec, sizeof(sec));
	return rc;
}

static int
tick_setup(struct ctl *c)
{
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };

	c->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->tickfd == -1 || timerfd_settime(c->tickfd, 0, &its, NULL) == -1) {
		err_set_errno(TS_EINTERNAL, "timerfd");
		return -1;
	}
	return 0;
}

/*
 * systemd starts services with a soft limit of 1024 open files (the
 * packaged unit sets LimitNOFILE, a unit written by hand may not); past it
 * libzmq fails accept() quietly and agents beyond the first thousand or
 * so never register. Raise it before the bus opens.
 */
static void
nofile_setup(void)
{
	unsigned long before = 0, now;

	now = daemon_nofile_raise(NOFILE_WANT, &before);
	if (now == 0)
		log_warn("open files limit");
	else if (now < NOFILE_LOW)
		log_warnx("open files limit %lu (hard limit reached): the "
		    "bus holds one descriptor per agent, so fewer than %lu "
		    "agents can connect; raise LimitNOFILE", now,
		    now > 256 ? now - 256 : 0);
	else if (now != before)
		log_info("open files limit raised from %lu to %lu", before,
		    now);
}

int
main(int argc, char **argv)
{
	struct svc_args args;
	struct ctl c = { .sigfd = -1, .tickfd = -1 };
	struct fleet_opts fo;
	int status = 1;

	svc_args_parse(argc, argv, PROG, DEFAULT_CONFIG, &args);
	if ((c.cfg = svc_config_load(opts_controller, &args)) == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, err_msg());
		return 1;
	}
	if ((c.sigfd = daemon_signals_block()) == -1 ||
	    (!args.foreground && daemon_detach() == -1) ||
	    svc_log_setup(c.cfg, PROG, args.foreground) == -1) {
		fprintf(stderr, "%s: %s\n", PROG, err_msg());
		return 1;
	}
	svc_host(c.cfg, c.host, sizeof(c.host));
	nofile_setup();
	if (daemon_pidfile_create(config_get_str(c.cfg, "DEFAULT",
	    "pid_file")) == -1)
		goto fail;
	if ((c.store = db_open(c.cfg, 0)) == NULL ||
	    db_check_version(c.store) == -1)
		goto fail;
	if (bus_setup(&c) == -1)
		goto fail;
	fo.controller_host = c.host;
	fo.report_interval = (int)config_get_int(c.cfg, "DEFAULT",
	    "report_interval");
	fo.service_down_time = (int)config_get_int(c.cfg, "DEFAULT",
	    "service_down_time");
	fo.require_enrolled = config_get_bool(c.cfg, "bus", "curve");
	if ((c.fleet = fleet_new(c.store, c.bus, &fo)) == NULL)
		goto fail;
	if ((c.metrics = metrics_new()) == NULL ||
	    telemetry_register(c.metrics, c.store, c.bus) == -1 ||
	    metrics_add_collector(c.metrics, fleet_metrics_collect,
	    c.fleet) == -1 || trim_metrics(&c) == -1)
		goto fail;
	{
		struct services_env env = {
			.cfg = c.cfg, .store = c.store, .bus = c.bus,
			.fleet = c.fleet, .host = c.host,
			.metrics = c.metrics,
		};

		if ((c.services = services_new(&env)) == NULL)
			goto fail;
	}
	if (services_env(c.services)->compute != NULL &&
	    metrics_add_collector(c.metrics, compute_metrics_collect,
	    services_env(c.services)->compute) == -1)
		goto fail;
	if (services_start(c.services) == -1 ||
	    metrics_http_configure(c.metrics, c.cfg, &c.metrics_http) == -1)
		goto fail;
	if (tick_setup(&c) == -1 ||
	    bus_add_fd(c.bus, c.sigfd, ZMQ_POLLIN, on_signal, &c) == -1 ||
	    bus_add_fd(c.bus, c.tickfd, ZMQ_POLLIN, on_tick, &c) == -1 ||
	    (services_netsync_fd(c.services) != -1 &&
	    bus_add_fd(c.bus, services_netsync_fd(c.services), ZMQ_POLLIN,
	    on_netsync, &c) == -1) ||
	    (services_storesync_fd(c.services) != -1 &&
	    bus_add_fd(c.bus, services_storesync_fd(c.services), ZMQ_POLLIN,
	    on_storesync, &c) == -1))
		goto fail;

	c.report_every = (unsigned)fo.report_interval;
	health_up("bus", bus_endpoint(c.bus));
	{
		static const char *const ports[] = { "identity_port",
		    "compute_port", "image_port", "volume_port",
		    "network_port" };
		char d[128];
		size_t o = 0;

		for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
			o += (size_t)snprintf(d + o, sizeof(d) - o, "%s%lld",
			    i ? "," : "ports ", (long long)config_get_int(c.cfg,
			    "api", ports[i]));
		health_up("api", d);
	}
	log_warnx("started on %s, agent bus %s%s", c.host, bus_endpoint(c.bus),
	    config_get_bool(c.cfg, "bus", "curve") ? " (CURVE)" :
	    " (PLAIN TEXT, NO AUTHENTICATION)");
	daemon_ready();

	while (!stopping) {
		struct bus_msg m;
		/* Registrations waiting for their batch: look without
		 * waiting, and write them as soon as the bus is quiet. */
		int rc = bus_poll(c.bus, fleet_busy(c.fleet) ? 0 : 1000, &m);

		if (rc == 1) {
			fleet_handle(c.fleet, &m);
			bus_msg_clear(&m);
		} else if (rc == -1) {
			/* Not a busy loop if the error persists. */
			log_err("bus");
			health_down("bus", "%s", err_msg());
			usleep(100 * 1000);
		} else {
			fleet_idle(c.fleet);
			health_up("bus", NULL);
		}
		if (reopen_log) {
			reopen_log = 0;
			if (svc_log_setup(c.cfg, PROG, args.foreground) == -1)
				log_err("reopening log");
		}
	}
	log_warnx("stopping");
	metrics_http_free(&c.metrics_http);
	services_stop(c.services);
	fleet_flush(c.fleet);
	status = 0;
	goto out;
fail:
	log_err("start-up failed");
	fprintf(stderr, "%s: %s\n", PROG, err_msg());
out:
	/* The scrapes read the services, the store and the bus. */
	metrics_http_free(&c.metrics_http);
	services_stop(c.services);
	services_free(&c.services);	/* compute before the bus it posts to */
	fleet_free(&c.fleet);
	bus_free(&c.bus);
	store_free(&c.store);
	metrics_free(&c.metrics);	/* after the HTTP server's series */
	if (c.tickfd != -1)
		close(c.tickfd);
	daemon_pidfile_remove();
	config_free(&c.cfg);
	return status;
}
