/*
 * recon_test: the controller's scheduler (controller/scheduler.c) and
 * reconciler (controller/recon.c) over a real LMDB store (controller/db.c,
 * controller/compute_db.c) and a real bus pair on 127.0.0.1: recon posts
 * commands to the server end, the test reads them as agent "h1" from the
 * client end and answers by handing instance_state envelopes to recon as
 * the bus thread would. recon's thread is not started: recon_sync() and
 * recon_scan() run its work on the test's thread, so every step is
 * deterministic.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "bus.h"
#include "clock.h"
#include "codec.h"
#include "compute/aggregates.h"
#include "compute/compute_db.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "compute/recon.h"
#include "compute/scheduler.h"
#include "image/image_int.h"
#include "network/network.h"
#include "store.h"
#include "volume/volume.h"
#include "logcap.h"

#define WAIT_MS	3000

static char		 dir[] = "/tmp/recon_test.XXXXXX";
static struct store	*st;
static struct bus	*srv, *cli;
static struct sched	*sch;
static struct recon	*rec;

/* ---- fixtures ----------------------------------------------------------- */

struct host_arg {
	const char	*host;
	uint32_t	 vcpus;
	uint64_t	 mem;
	int64_t		 seen;
	int		 disabled;
};

static int
put_host(struct store_txn *txn, void *arg)
{
	struct host_arg *h = arg;
	struct rec_service s = { 0 };
	struct rec_hypervisor hv = { 0 };
	struct rec_service old;

	if (db_service_by_host(txn, h->host, &old) == 0) {
		snprintf(s.id, sizeof(s.id), "%s", old.id);
		codec_clear(&schema_rec_service, &old);
	} else {
		db_uuid(s.id);
	}
	s.host = (char *)h->host;
	s.binary = "tinystack-agent";
	s.topic = "compute";
	s.disabled = h->disabled;
	s.last_seen_at = h->seen;
	if (db_hypervisor_by_host(txn, h->host, &hv) == 0) {
		char id[37];

		snprintf(id, sizeof(id), "%s", hv.id);
		codec_clear(&schema_rec_hypervisor, &hv);
		memset(&hv, 0, sizeof(hv));
		snprintf(hv.id, sizeof(hv.id), "%s", id);
	} else {
		memset(&hv, 0, sizeof(hv));
		db_uuid(hv.id);
	}
	hv.host = (char *)h->host;
	hv.hypervisor_type = "TEST";
	hv.libvirt_uri = "test:///default";
	hv.cpu_model = "x";
	hv.cpu_arch = "x86_64";
	hv.vcpus = h->vcpus;
	hv.memory_mb = h->mem;
	hv.local_gb = 100;
	if (db_service_put(txn, &s) == -1 || db_hypervisor_put(txn, &hv) == -1)
		return -1;
	return 0;
}

static void
host(const char *name, uint32_t vcpus, uint64_t mem, int up, int disabled)
{
	struct host_arg h = { name, vcpus, mem, up ? db_now_ms() :
	    db_now_ms() - 3600 * 1000, disabled };

	assert_int_equal(store_write(st, put_host, &h), 0);
	assert_int_equal(scheduler_refresh(sch), 0);
}

static int
force_fn(struct store_txn *txn, void *arg)
{
	const struct host_arg *h = arg;
	struct rec_service s;
	int rc;

	if (db_service_by_host(txn, h->host, &s) == -1)
		return -1;
	s.forced_down = h->disabled;
	rc = db_service_put(txn, &s);
	codec_clear(&schema_rec_service, &s);
	return rc;
}

/* `openstack compute service set --down` (forced 1) or --up (0). */
static void
host_forced(const char *name, int forced)
{
	struct host_arg h = { .host = name, .disabled = forced };

	assert_int_equal(store_write(st, force_fn, &h), 0);
	assert_int_equal(scheduler_refresh(sch), 0);
}

/* Read everything the client end has received, up to ms. */
struct got {
	struct codec_envelope	env[32];
	size_t			n;
};

static void
got_clear(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		codec_envelope_clear(&g->env[i]);
	g->n = 0;
}

static void
pump(struct got *g, int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;

	while (clock_mono_ms() < until) {
		struct bus_msg m;

		if (bus_poll(srv, 5, &m) == 1)
			bus_msg_clear(&m);
		while (bus_poll(cli, 5, &m) == 1) {
			if (g && g->n < 32) {
				memset(&g->env[g->n], 0, sizeof(g->env[0]));
				if (codec_envelope_decode(m.data, m.len,
				    SCHEMA_FROM_CONTROLLER, &g->env[g->n]) == 0)
					g->n++;
			}
			bus_msg_clear(&m);
		}
	}
}

/* Wait for exactly one command to arrive. */
static struct codec_envelope *
one(struct got *g)
{
	got_clear(g);
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    g->n == 0 && clock_mono_ms() < until;)
		pump(g, 50);
	pump(g, 100);
	assert_int_equal(g->n, 1);
	return &g->env[0];
}

/* Wait for the command of type about uuid among whatever else comes
 * (reports re-create earlier tests' instances too). */
static struct codec_envelope *
find(struct got *g, const struct schema_type *type, const char *uuid)
{
	got_clear(g);
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until;) {
		pump(g, 50);
		for (size_t k = 0; k < g->n; k++) {
			/* uuid is the first field of every compute command */
			if (g->env[k].type == type &&
			    strcmp((const char *)g->env[k].body, uuid) == 0)
				return &g->env[k];
		}
	}
	fail_msg("no %s about %s", type->name, uuid);
	return NULL;
}

/* Nothing was sent to h1. The witness: a marker posted now goes through
 * the same post queue and connection as anything recon posted before it
 * (recon runs on this thread), so when the marker arrives, a command
 * would have arrived before it. */
static void
none(struct got *g)
{
	static const char mark[] = "recon_test: nothing before this";
	int seen = 0;

	got_clear(g);
	assert_int_equal(bus_post(srv, "h1", mark, sizeof(mark) - 1), 0);
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    !seen && clock_mono_ms() < until;) {
		struct bus_msg m;

		if (bus_poll(srv, 5, &m) == 1)
			bus_msg_clear(&m);
		while (bus_poll(cli, 5, &m) == 1) {
			if (m.len == sizeof(mark) - 1 &&
			    memcmp(m.data, mark, m.len) == 0)
				seen = 1;
			else if (g->n < 32) {
				memset(&g->env[g->n], 0, sizeof(g->env[0]));
				if (codec_envelope_decode(m.data, m.len,
				    SCHEMA_FROM_CONTROLLER, &g->env[g->n]) == 0)
					g->n++;
			}
			bus_msg_clear(&m);
		}
	}
	if (!seen)
		fail_msg("the witness frame did not arrive within %d ms",
		    WAIT_MS);
	assert_int_equal(g->n, 0);
}

static int
setup(void **state)
{
	struct store_opts so = { 0 };
	struct bus_opts bo;
	struct scheduler_opts sc = { 0 };
	struct recon_opts ro = { 0 };
	struct got g = { .n = 0 };

	assert_non_null(mkdtemp(dir));
	so.path = dir;
	so.tables = db_tables;
	so.map_size = 64 << 20;
	assert_non_null(st = store_open(&so));
	assert_int_equal(db_sync(st), 0);
	bus_opts_init(&bo);
	bo.curve = 0;
	bo.endpoint = "tcp://127.0.0.1:*";
	assert_non_null(srv = bus_server_new(&bo));
	bus_opts_init(&bo);
	bo.curve = 0;
	bo.endpoint = bus_endpoint(srv);
	bo.identity = "h1";
	assert_non_null(cli = bus_client_new(&bo));
	/* Let the server learn the route to h1. */
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until && !bus_client_connected(cli);)
		pump(&g, 20);
	pump(&g, 200);
	got_clear(&g);
	sc.cpu_allocation_ratio = 1.0;
	sc.ram_allocation_ratio = 1.0;
	sc.disk_allocation_ratio = 1.0;
	sc.default_az = "nova";
	sc.service_down_ms = 60000;
	assert_non_null(sch = scheduler_new(st, &sc));
	ro.controller_host = "ctl";
	ro.build_timeout = 30;
	ro.action_timeout = 10;
	ro.resend_interval = 1;
	ro.console_timeout = 1;
	assert_non_null(rec = recon_new(st, srv, sch, &ro));
	host("h1", 4, 4096, 1, 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	recon_free(&rec);
	scheduler_free(&sch);
	bus_free(&cli);
	bus_free(&srv);
	store_free(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- instances ----------------------------------------------------------- */

struct mk {
	char		 uuid[37];
	const char	*host;
	const char	*vm_state;
	const char	*task;
	uint32_t	 want;
	char		 reqid[65];
	uint64_t	 gen;		/* 0: 1 */
	const char	*action;	/* NULL: the task's own */
	const char	*migrate_host;	/* a live migration's target (claimed) */
	int64_t		 started;	/* the task's start; 0: now */
	const char	*snap_image;	/* snapshot tasks: the image */
	const char	*backup_type;
	uint32_t	 rotation;
	bool		 resized;	/* flavor 2 vCPU/1024 MiB claimed on
					   host besides old_flavor 1/512,
					   with a migration record */
	const char	*target;	/* resized: resize_host (claimed
					   there); NULL: host */
	const char	*source;	/* resized: resize_source (old_flavor
					   claimed there); NULL: none, host */
	uint64_t	 mig_id;	/* out */
	const char	*shelved_image;	/* shelved_image_id (shelved_host:
					   h1; offloaded: with the image's
					   checksum and size, as unshelve
					   records them) */
	int64_t		 shelved_at;	/* with shelved_image; 0: now */
};

static int
mk_fn(struct store_txn *txn, void *arg)
{
	struct mk *m = arg;
	struct rec_instance i;
	int rc;

	memset(&i, 0, sizeof(i));
	snprintf(i.uuid, sizeof(i.uuid), "%s", m->uuid);
	i.name = strdup("vm");
	i.project_id = strdup("p1");
	i.user_id = strdup("u1");
	i.reservation_id = strdup("r-1");
	i.hostname = strdup("vm");
	i.flavor.id = strdup("1");
	i.flavor.name = strdup("f1");
	i.flavor.vcpus = 1;
	i.flavor.ram = 512;
	i.image_ref = strdup("");
	i.availability_zone = strdup("nova");
	i.host = m->host ? strdup(m->host) : NULL;
	i.vm_state = strdup(m->vm_state);
	i.want_power = m->want;
	i.power_state = m->want;
	i.generation = m->gen ? m->gen : 1;
	i.created_at = db_now_ms();
	if (m->snap_image)
		i.snapshot_image_id = strdup(m->snap_image);
	if (m->shelved_image) {
		i.shelved_image_id = strdup(m->shelved_image);
		i.shelved_host = strdup("h1");
		i.has_shelved_at = true;
		i.shelved_at = m->shelved_at ? m->shelved_at : db_now_ms();
		if (strcmp(m->vm_state, VM_SHELVED_OFFLOADED) == 0) {
			i.resize_image_sha512 = strdup("ab12");
			i.has_resize_image_size = true;
			i.resize_image_size = 4096;
		}
	}
	if (m->backup_type) {
		i.backup_type = strdup(m->backup_type);
		i.has_backup_rotation = true;
		i.backup_rotation = m->rotation;
	}
	rc = 0;
	if (m->resized) {
		struct rec_migration mg = { 0 };

		i.has_old_flavor = true;
		i.old_flavor.id = strdup("1");
		i.old_flavor.name = strdup("f1");
		i.old_flavor.vcpus = 1;
		i.old_flavor.ram = 512;
		free(i.flavor.id);
		free(i.flavor.name);
		i.flavor.id = strdup("2");
		i.flavor.name = strdup("f2");
		i.flavor.vcpus = 2;
		i.flavor.ram = 1024;
		i.resize_host = strdup(m->target ? m->target : m->host);
		if (m->source)
			i.resize_source = strdup(m->source);
		db_uuid(mg.uuid);
		snprintf(mg.instance_uuid, sizeof(mg.instance_uuid), "%s",
		    m->uuid);
		mg.migration_type = "resize";
		mg.status = "migrating";
		rc = compute_db_migration_add(txn, &mg);
		i.has_migration_id = true;
		i.migration_id = m->mig_id = mg.id;
		if (rc == 0)
			rc = compute_db_host_usage_add(txn, m->target ?
			    m->target : m->host, 2, 1024, 0, 1);
	}
	if (m->migrate_host) {
		struct rec_migration lg = { 0 };

		i.migrate_host = strdup(m->migrate_host);
		rc = compute_db_host_usage_add(txn, m->migrate_host, 1, 512, 0,
		    1);
		/* its os-migrations record, as compute_migrate.c writes it */
		db_uuid(lg.uuid);
		snprintf(lg.instance_uuid, sizeof(lg.instance_uuid), "%s",
		    m->uuid);
		lg.migration_type = "live-migration";
		lg.status = "running";
		if (rc == 0)
			rc = compute_db_migration_add(txn, &lg);
		i.has_migration_id = true;
		i.migration_id = m->mig_id = lg.id;
	}
	if (rc == 0 && m->task)
		rc = recon_task_begin_as(rec, txn, &i, m->task, m->action,
		    m->reqid, "u1", "p1", m->started ? m->started :
		    db_now_ms());
	if (rc == 0)
		rc = compute_db_instance_put(txn, &i, NULL);
	if (rc == 0 && m->host)
		rc = compute_db_host_usage_add(txn, m->source ? m->source :
		    m->host, 1, 512, 0, 1);
	if (rc == 0)
		rc = compute_db_usage_add(txn, "p1", 1, 1, 512);
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

static void
mk(struct mk *m)
{
	db_uuid(m->uuid);
	if (m->task)
		snprintf(m->reqid, sizeof(m->reqid), "req-%s", m->uuid);
	assert_int_equal(store_write(st, mk_fn, m), 0);
}

static int
get(const char *uuid, struct rec_instance *i)
{
	struct store_txn *txn = NULL;
	int rc;

	assert_int_equal(store_read_begin(st, &txn), 0);
	rc = compute_db_instance_get(txn, uuid, i);
	store_txn_end(&txn);
	return rc;
}

static void
dispatch(const char *uuid)
{
	struct rec_instance i;

	assert_int_equal(get(uuid, &i), 0);
	recon_dispatch(rec, &i);
	codec_clear(&schema_rec_instance, &i);
}

/* The agent's answer, handed over as the bus thread does. */
/* Hands recon a message of type from agent "from" as it comes off the
 * bus (encoded, then decoded); true when recon took the body. */
static bool
from_agent(const char *from, const struct schema_type *type, const void *m,
    const char *reqid)
{
	struct codec_envelope env;
	struct buf b = { 0 };
	bool taken;

	assert_int_equal(codec_envelope_encode(type, m, reqid, from, &b), 0);
	memset(&env, 0, sizeof(env));
	assert_int_equal(codec_envelope_decode(b.data, b.len, SCHEMA_FROM_AGENT,
	    &env), 0);
	buf_free(&b);
	assert_int_equal(recon_agent_msg(rec, from, &env), 1);
	taken = env.body == NULL;
	codec_envelope_clear(&env);
	return taken;
}

static void
answer_msg(const char *from, const struct msg_instance_state *m,
    const char *reqid)
{
	assert_true(from_agent(from, &schema_msg_instance_state, m, reqid));
	recon_sync(rec);
}

static void
answer_code(const char *from, const char *uuid, const char *reqid,
    bool exists, uint32_t power, const char *result, uint64_t gen,
    enum ts_errcode code)
{
	struct msg_instance_state m = { 0 };

	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.generation = gen;
	m.exists = exists;
	m.power_state = power;
	m.state = exists ? "running" : "absent";
	m.in_reply_to = (char *)reqid;
	m.result = (char *)result;
	if (result && strcmp(result, "ok") != 0) {
		m.has_fault_code = true;
		m.fault_code = (uint32_t)code;
		m.fault_message = "libvirt said no";
	}
	answer_msg(from, &m, reqid);
}

static void
answer(const char *from, const char *uuid, const char *reqid, bool exists,
    uint32_t power, const char *result, uint64_t gen)
{
	answer_code(from, uuid, reqid, exists, power, result, gen, TS_EIO);
}

static void
report(const struct sch_guest *g, size_t n, int hello)
{
	recon_host_report(rec, "h1", g, n, hello);
	recon_sync(rec);
}

/* ---- scheduler ----------------------------------------------------------- */

struct claim_arg {
	struct scheduler_request	 r;
	struct scheduler_hosts	*c;
	char			 host[SCHEDULER_NAME_MAX + 1];
};

static int
claim_fn(struct store_txn *txn, void *arg)
{
	struct claim_arg *a = arg;

	return scheduler_claim(sch, txn, &a->r, a->c, a->host);
}

static void
test_sched_filters(void **state)
{
	struct scheduler_request r = { .vcpus = 1, .memory_mb = 512 };
	struct scheduler_hosts c;

	host("h2", 8, 8192, 1, 0);
	host("h3", 8, 8192, 0, 0);	/* down */
	host("h4", 8, 8192, 1, 1);	/* disabled */
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.host[0], "h2");	/* spread: most free RAM */
	assert_string_equal(c.host[1], "h1");
	scheduler_hosts_free(&c);
	r.memory_mb = 6000;			/* only h2 has that much */
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	scheduler_hosts_free(&c);
	r.memory_mb = 512;
	r.vcpus = 6;				/* h1 has 4 */
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.host[0], "h2");
	scheduler_hosts_free(&c);
	r.vcpus = 1;
	r.az = "elsewhere";
	assert_int_equal(scheduler_rank(sch, &r, &c), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	r.az = "nova";
	r.force_host = "h1";
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.host[0], "h1");
	scheduler_hosts_free(&c);
	r.force_host = "nohost";
	assert_int_equal(scheduler_rank(sch, &r, &c), -1);
	assert_int_equal(scheduler_host_up(sch, "h1"), 1);
	assert_int_equal(scheduler_host_up(sch, "h3"), 0);
	/* Out of service again for the other tests. */
	host("h2", 8, 8192, 0, 0);
	host("h4", 8, 8192, 0, 1);
}

static int
agg_put(struct store_txn *txn, void *arg)
{
	char k[AGGREGATES_KEY_LEN];

	aggregates_key(7, k);
	if (arg == NULL)
		return store_del(txn, T_AGGREGATES, k, strlen(k));
	return store_rec_put(txn, T_AGGREGATES, k, strlen(k),
	    &schema_rec_aggregate, arg, 0);
}

/* Zones and metadata come from the aggregates: h2 in az1 with ssd=true;
 * h1 stays in the default zone. */
static void
test_sched_aggregates(void **state)
{
	struct scheduler_request r = { .vcpus = 1, .memory_mb = 512 };
	struct scheduler_hosts c;
	char *hosts[] = { "h2" };
	struct ts_strmap_ent md[] = { { "availability_zone", "az1" },
	    { "ssd", "true, fast" } }, sp[] = {
	    { "aggregate_instance_extra_specs:ssd", "fast" },
	    { "hw:cpu_policy", "shared" } };
	struct ts_strmap specs = { sp, 2 };
	struct rec_aggregate a = { .id = 7, .name = "agg",
	    .uuid = "9a0e1d1c-7a57-4c5e-9d61-0f4b0a7c1e01" };
	char az[SCHEDULER_NAME_MAX + 1];

	(void)state;
	a.hosts.items = hosts;
	a.hosts.n = 1;
	a.metadata.items = md;
	a.metadata.n = 2;
	host("h2", 8, 8192, 1, 0);
	assert_int_equal(store_write(st, agg_put, &a), 0);
	assert_int_equal(scheduler_refresh(sch), 0);
	scheduler_host_az(sch, "h2", az);
	assert_string_equal(az, "az1");
	scheduler_host_az(sch, "h1", az);
	assert_string_equal(az, "nova");
	assert_true(scheduler_az_known(sch, "az1"));
	assert_false(scheduler_az_known(sch, "az2"));
	r.az = "az1";
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.host[0], "h2");
	scheduler_hosts_free(&c);
	r.az = "nova";
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.host[0], "h1");
	scheduler_hosts_free(&c);
	/* a forced host skips the zone filter */
	r.force_host = "h2";
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	scheduler_hosts_free(&c);
	r.force_host = NULL;
	r.az = "az2";
	assert_int_equal(scheduler_rank(sch, &r, &c), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	r.az = NULL;
	r.extra_specs = &specs;
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.host[0], "h2");
	scheduler_hosts_free(&c);
	sp[0].v = "slow";
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 0);
	scheduler_hosts_free(&c);
	assert_int_equal(store_write(st, agg_put, NULL), 0);
	host("h2", 8, 8192, 0, 0);
	scheduler_host_az(sch, "h2", az);
	assert_string_equal(az, "nova");
}

/* What the scheduler of test_sched_backlog is told the bus thread lags. */
static int64_t fake_backlog_ms;

static int64_t
fake_backlog(void *arg)
{
	(void)arg;
	return fake_backlog_ms;
}

/* Hosts are judged from the moment the reports' reader (the bus thread)
 * last caught up, as the fleet judges them, but never more than
 * service_down_time before now: a heartbeat 61 s old is up while the bus
 * is 5 s behind, and one an hour old is down however far behind. */
static void
test_sched_backlog(void **state)
{
	struct scheduler_opts o = { .service_down_ms = 60000,
	    .default_az = "nova", .backlog_ms = fake_backlog };
	struct sched *s2;

	(void)state;
	host("h7", 8, 8192, 0, 0);		/* stored heartbeat 1 h ago */
	assert_non_null(s2 = scheduler_new(st, &o));
	fake_backlog_ms = 0;
	scheduler_seen(s2, "h7", db_now_ms() - 61 * 1000);
	assert_int_equal(scheduler_refresh(s2), 0);
	assert_int_equal(scheduler_host_up(s2, "h7"), 0);
	fake_backlog_ms = 5000;
	assert_int_equal(scheduler_refresh(s2), 0);
	assert_int_equal(scheduler_host_up(s2, "h7"), 1);
	fake_backlog_ms = 0;
	assert_int_equal(scheduler_refresh(s2), 0);
	assert_int_equal(scheduler_host_up(s2, "h7"), 0);
	/* only the stored hour-old heartbeat: down with any backlog */
	scheduler_free(&s2);
	assert_non_null(s2 = scheduler_new(st, &o));
	fake_backlog_ms = 3600 * 1000;
	assert_int_equal(scheduler_refresh(s2), 0);
	assert_int_equal(scheduler_host_up(s2, "h7"), 0);
	scheduler_free(&s2);
	/* Out of service for the other tests. */
	host("h7", 8, 8192, 0, 1);
}

/* A host whose heartbeats the store could not record (a full disk) is up
 * while its agent reports: scheduler_seen() survives a refresh from the
 * stale store; an older report or an unknown host changes nothing. */
static void
test_sched_seen_outlives_store(void **state)
{
	(void)state;
	host("h9", 8, 8192, 0, 0);		/* stored heartbeat 1 h ago */
	assert_int_equal(scheduler_host_up(sch, "h9"), 0);
	scheduler_seen(sch, "h9", db_now_ms());
	assert_int_equal(scheduler_host_up(sch, "h9"), 1);
	assert_int_equal(scheduler_refresh(sch), 0);
	assert_int_equal(scheduler_host_up(sch, "h9"), 1);
	scheduler_seen(sch, "h9", db_now_ms() - 3600 * 1000);
	assert_int_equal(scheduler_host_up(sch, "h9"), 1);
	scheduler_seen(sch, "nohost", db_now_ms());
	assert_int_equal(scheduler_host_up(sch, "nohost"), 0);
	/* Out of service for the other tests. */
	host("h9", 8, 8192, 0, 1);
}

/* The heartbeat path's write of a service (db_service_update: disable
 * here, as an operator's switch kept by the fleet's flush). */
static int
svc_disable(struct store_txn *txn, void *arg)
{
	struct rec_service s;
	int rc;

	if (db_service_by_host(txn, arg, &s) == -1)
		return -1;
	s.disabled = true;
	s.last_seen_at = db_now_ms();
	rc = db_service_update(txn, &s);
	codec_clear(&schema_rec_service, &s);
	return rc;
}

static int
usage_add(struct store_txn *txn, void *arg)
{
	return compute_db_host_usage_add(txn, arg, 3, 1024, 10, 1);
}

/* An unstamped write, as another process's would be: the stored usage
 * replaced under the key without compute_db's put. */
static int
usage_raw(struct store_txn *txn, void *arg)
{
	struct rec_host_usage u = { .vcpus = 7 };
	struct buf b = { 0 };
	int rc;

	if (codec_record_encode(&schema_rec_host_usage, &u, &b) == -1)
		return -1;
	rc = store_put(txn, T_HOST_USAGE, arg, strlen(arg), b.data, b.len, 0);
	buf_free(&b);
	return rc;
}

static const struct scheduler_host_state *
snap_host(struct scheduler_host_state *v, size_t n, const char *host)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].host, host) == 0)
			return &v[i];
	fail_msg("host %s not in the scheduler's cache", host);
	return NULL;
}

/* The periodic refresh reads again only the hosts written since (a
 * heartbeat's service update, a claim), sees a registration with a full
 * refresh, and leaves the others as they were. */
static void
test_sched_refresh_changed(void **state)
{
	struct scheduler_refresh_stats a, b;
	struct scheduler_host_state *v;
	size_t n;

	(void)state;
	host("hr1", 8, 8192, 1, 0);
	host("hr2", 8, 8192, 1, 0);
	/* Settled: nothing written since the last refresh. */
	assert_int_equal(scheduler_refresh_changed(sch), 0);
	scheduler_refresh_stats(sch, &a);
	assert_int_equal(scheduler_refresh_changed(sch), 0);
	scheduler_refresh_stats(sch, &b);
	assert_int_equal(b.full, a.full);
	assert_int_equal(b.partial, a.partial + 1);
	assert_int_equal(b.hosts_read, a.hosts_read);

	/* A heartbeat-path update of one host: that host alone. */
	assert_int_equal(store_write(st, svc_disable, "hr1"), 0);
	assert_string_equal(scheduler_host_status(sch, "hr1"), "UP");
	assert_int_equal(scheduler_refresh_changed(sch), 0);
	scheduler_refresh_stats(sch, &a);
	assert_int_equal(a.full, b.full);
	assert_int_equal(a.hosts_read, b.hosts_read + 1);
	assert_string_equal(scheduler_host_status(sch, "hr1"), "MAINTENANCE");
	assert_string_equal(scheduler_host_status(sch, "hr2"), "UP");

	/* A claim: its usage, in the cache after the next refresh. */
	assert_int_equal(store_write(st, usage_add, "hr2"), 0);
	assert_int_equal(scheduler_refresh_changed(sch), 0);
	scheduler_refresh_stats(sch, &b);
	assert_int_equal(b.full, a.full);
	assert_int_equal(b.hosts_read, a.hosts_read + 1);
	assert_int_equal(scheduler_hosts_snapshot(sch, &v, &n), 0);
	assert_int_equal(snap_host(v, n, "hr2")->vcpus_used, 3);
	assert_int_equal(snap_host(v, n, "hr2")->memory_mb_used, 1024);
	assert_int_equal(snap_host(v, n, "hr2")->instances, 1);
	free(v);

	/* An unstamped write is not seen by the partial refresh; the full
	 * one (at least every 60 s, and after every registration) sees it. */
	assert_int_equal(store_write(st, usage_raw, "hr2"), 0);
	assert_int_equal(scheduler_refresh_changed(sch), 0);
	assert_int_equal(scheduler_hosts_snapshot(sch, &v, &n), 0);
	assert_int_equal(snap_host(v, n, "hr2")->vcpus_used, 3);
	free(v);
	host("hr3", 8, 8192, 1, 0);	/* a registration (put), refreshed */
	assert_int_equal(scheduler_refresh_changed(sch), 0);
	scheduler_refresh_stats(sch, &a);
	assert_int_equal(scheduler_hosts_snapshot(sch, &v, &n), 0);
	assert_int_equal(snap_host(v, n, "hr2")->vcpus_used, 7);
	free(v);

	/* A registration seen by the periodic refresh alone. */
	{
		struct host_arg h = { "hr4", 8, 8192, db_now_ms(), 0 };

		assert_int_equal(store_write(st, put_host, &h), 0);
	}
	assert_int_equal(scheduler_refresh_changed(sch), 0);
	scheduler_refresh_stats(sch, &b);
	assert_int_equal(b.full, a.full + 1);
	assert_string_equal(scheduler_host_status(sch, "hr4"), "UP");

	/* Out of service for the other tests. */
	host("hr1", 8, 8192, 0, 1);
	host("hr2", 8, 8192, 0, 1);
	host("hr3", 8, 8192, 0, 1);
	host("hr4", 8, 8192, 0, 1);
}

/* A create right after a registration ranks the new host, with no
 * refresh between (the tick's is up to a second away): integ.metrics
 * created its server 0.7 s after the agents' hellos and got "No valid
 * host" while the services were up. */
static void
test_rank_sees_registration(void **state)
{
	struct scheduler_request r = { .vcpus = 1, .memory_mb = 64,
	    .force_host = "hr5" };
	struct scheduler_refresh_stats a, b;
	struct scheduler_hosts c;
	struct host_arg h = { "hr5", 8, 8192, 0, 0 };

	(void)state;
	assert_int_equal(scheduler_refresh(sch), 0);
	scheduler_refresh_stats(sch, &a);
	h.seen = db_now_ms();
	assert_int_equal(store_write(st, put_host, &h), 0);
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.host[0], "hr5");
	scheduler_hosts_free(&c);
	scheduler_refresh_stats(sch, &b);
	assert_int_equal(b.full, a.full + 1);
	/* Nothing registered since: no refresh of its own. */
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	scheduler_hosts_free(&c);
	scheduler_refresh_stats(sch, &a);
	assert_int_equal(a.full, b.full);
	assert_int_equal(a.partial, b.partial);
	host("hr5", 8, 8192, 0, 1);
}

/* Claims re-read the transaction's numbers: 12 concurrent claims on a
 * host with room for 4 (vCPUs) give exactly 4, though every racer ranked
 * it with room free. */
struct racer {
	int	ok;
};

static void *
race(void *arg)
{
	struct racer *rc = arg;
	struct scheduler_request r = { .vcpus = 1, .memory_mb = 64 };
	struct scheduler_hosts c;
	struct claim_arg a;

	if (scheduler_rank(sch, &r, &c) == -1)
		return NULL;
	a.r = r;
	a.c = &c;
	rc->ok = store_write(st, claim_fn, &a) == 0;
	scheduler_hosts_free(&c);
	return NULL;
}

static void
test_sched_claims_never_overallocate(void **state)
{
	pthread_t t[12];
	struct racer r[12];
	struct rec_host_usage u;
	struct store_txn *txn = NULL;
	int won = 0;

	/* Only h5 in service: h1 is disabled for the race. */
	host("h1", 4, 4096, 1, 1);
	host("h5", 4, 4096, 1, 0);
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 12; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 12; i++) {
		pthread_join(t[i], NULL);
		won += r[i].ok;
	}
	assert_int_equal(won, 4);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_host_usage_get(txn, "h5", &u), 0);
	store_txn_end(&txn);
	assert_int_equal(u.vcpus, 4);
	assert_int_equal(u.memory_mb, 4 * 64);
	assert_int_equal(u.instances, 4);
	host("h1", 4, 4096, 1, 0);
}

/* Ranking keeps the best SCHEDULER_RANK_MAX; a claim whose ranked hosts have
 * all filled up since still finds the best of the others. */
static int
fill_fn(struct store_txn *txn, void *arg)
{
	char name[8];

	(void)arg;
	for (int i = 39; i >= 40 - SCHEDULER_RANK_MAX; i--) {
		snprintf(name, sizeof(name), "t%02d", i);
		if (compute_db_host_usage_add(txn, name, 64, 0, 0, 1) == -1)
			return -1;
	}
	return 0;
}

static void
test_sched_top_and_fallback(void **state)
{
	struct scheduler_request r = { .vcpus = 1, .memory_mb = 64 };
	struct scheduler_hosts c;
	struct claim_arg a;
	char name[8];

	host("h1", 4, 4096, 1, 1);
	host("h5", 4, 4096, 1, 1);
	for (int i = 0; i < 40; i++) {	/* t39 has the most RAM */
		snprintf(name, sizeof(name), "t%02d", i);
		host(name, 4, 1024 + 16 * (uint64_t)i, 1, 0);
	}
	assert_int_equal(scheduler_rank(sch, &r, &c), 0);
	assert_int_equal(c.n, SCHEDULER_RANK_MAX);
	assert_true(c.more);
	for (size_t i = 0; i < c.n; i++) {
		snprintf(name, sizeof(name), "t%02zu", 39 - i);
		assert_string_equal(c.host[i], name);
	}
	/* Every ranked host is full now (64 vCPUs claimed on each). */
	assert_int_equal(store_write(st, fill_fn, NULL), 0);
	a.r = r;
	a.c = &c;
	assert_int_equal(store_write(st, claim_fn, &a), 0);
	snprintf(name, sizeof(name), "t%02d", 39 - SCHEDULER_RANK_MAX);
	assert_string_equal(a.host, name);
	scheduler_hosts_free(&c);
	/* Out of service again for the other tests. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "t%02d", i);
		host(name, 4, 1024, 0, 1);
	}
	host("h1", 4, 4096, 1, 0);
}

/* ---- reconciler ---------------------------------------------------------- */

static void
test_build_completes(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct msg_instance_ensure *e;
	struct codec_envelope *env;
	struct rec_instance i;
	struct rec_instance_action a;
	struct store_txn *txn = NULL;
	struct got g = { .n = 0 };

	mk(&m);
	dispatch(m.uuid);
	env = one(&g);
	assert_ptr_equal(env->type, &schema_msg_instance_ensure);
	assert_string_equal(env->request_id, m.reqid);
	e = env->body;
	assert_string_equal(e->uuid, m.uuid);
	assert_int_equal(e->generation, 1);
	assert_int_equal(e->power, 1);
	assert_string_equal(e->task, "spawning");
	assert_int_equal(e->spec.memory_mb, 512);
	assert_non_null(strstr(e->spec.name, m.uuid));
	/* A late answer to an unknown request changes only the power. */
	answer("h1", m.uuid, "req-other", true, 3, "ok", 1);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_BUILDING);
	assert_string_equal(i.task_state, "spawning");
	codec_clear(&schema_rec_instance, &i);
	/* Another host's word about it is ignored. */
	answer("h9", m.uuid, m.reqid, true, 1, "ok", 1);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.task_state, "spawning");
	codec_clear(&schema_rec_instance, &i);
	answer("h1", m.uuid, m.reqid, true, 1, "ok", 1);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_null(i.task_request_id);
	assert_int_equal(i.power_state, 1);
	assert_true(i.launched_at > 0);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_action_get(txn, m.uuid, m.reqid, &a), 0);
	store_txn_end(&txn);
	assert_string_equal(a.action, "create");
	assert_int_equal(a.events.n, 1);
	assert_string_equal(a.events.items[0].result, "Success");
	assert_true(a.events.items[0].finish_time > 0);
	codec_clear(&schema_rec_instance_action, &a);
	got_clear(&g);
}

/* Unanswered commands are sent again with the same request id; past the
 * deadline the instance goes to ERROR with a fault. */
static void
test_resend_then_deadline(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct codec_envelope *env;
	struct rec_instance i;
	struct recon_stats rs;
	struct got g = { .n = 0 };
	int64_t t0, until;

	mk(&m);
	t0 = clock_mono_ms();
	assert_int_equal(get(m.uuid, &i), 0);
	recon_dispatch_pass(rec, &i, "build-Pass-1");
	codec_clear(&schema_rec_instance, &i);
	env = one(&g);
	assert_string_equal(env->request_id, m.reqid);
	assert_string_equal(((struct msg_instance_ensure *)env->body)->
	    spec.admin_pass, "build-Pass-1");
	recon_scan(rec, db_now_ms());		/* too early to resend */
	none(&g);
	/* Scanned until the resend comes (bounded): it comes once the
	 * resend interval (1 s) has passed since the send, never earlier. */
	got_clear(&g);
	for (until = clock_mono_ms() + WAIT_MS;
	    g.n == 0 && clock_mono_ms() < until;) {
		recon_scan(rec, db_now_ms());
		pump(&g, 50);
	}
	assert_true(clock_mono_ms() - t0 >= 1000);
	pump(&g, 100);
	assert_int_equal(g.n, 1);
	env = &g.env[0];
	assert_ptr_equal(env->type, &schema_msg_instance_ensure);
	assert_string_equal(env->request_id, m.reqid);
	/* the re-send carries the password the API answered with too */
	assert_non_null(((struct msg_instance_ensure *)env->body)->
	    spec.admin_pass);
	assert_string_equal(((struct msg_instance_ensure *)env->body)->
	    spec.admin_pass, "build-Pass-1");
	recon_stats(rec, &rs);
	assert_true(rs.resent >= 1);
	assert_int_equal(rs.passes, 1);
	recon_scan(rec, db_now_ms() + 31 * 1000);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ERROR);
	assert_null(i.task_state);
	assert_true(i.has_fault);
	assert_non_null(strstr(i.fault.message, "Timed out after 30 s waiting "
	    "for host h1 to finish spawning"));
	codec_clear(&schema_rec_instance, &i);
	/* the task is over: its password is dropped (wiped) */
	recon_stats(rec, &rs);
	assert_int_equal(rs.passes, 0);
	got_clear(&g);
}

static void
test_failed_build_and_action(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct mk s = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "powering-off", .want = 1 };
	struct mk u = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "powering-off", .want = 1 };
	struct rec_instance i;

	mk(&m);
	answer("h1", m.uuid, m.reqid, false, 0, "error", 1);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ERROR);
	assert_string_equal(i.fault.message, "libvirt said no");
	codec_clear(&schema_rec_instance, &i);
	/* A failed stop leaves the instance as the host has it. */
	mk(&s);
	answer("h1", s.uuid, s.reqid, true, 1, "error", 1);
	assert_int_equal(get(s.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_int_equal(i.want_power, 1);
	codec_clear(&schema_rec_instance, &i);
	/* A stop that failed where the host could not see the guest
	 * (libvirtd down: exists false) leaves the wish as the instance
	 * shows, running: a re-create must not build it shut off under an
	 * ACTIVE server (anomaly A5 of docs/RELIABILITY.md). */
	mk(&u);
	assert_int_equal(get(u.uuid, &i), 0);
	assert_int_equal(i.want_power, 4);	/* the stop's wish */
	codec_clear(&schema_rec_instance, &i);
	answer("h1", u.uuid, u.reqid, false, 0, "error", 1);
	assert_int_equal(get(u.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_int_equal(i.want_power, 1);
	codec_clear(&schema_rec_instance, &i);
}

/* A build the host could not start because it could not reach its
 * libvirtd (TS_EUNAVAILABLE, nothing defined) stays a build: re-sent
 * under its request id until it succeeds, or ended in ERROR by its
 * deadline, never ERROR at once (anomaly A6 of docs/RELIABILITY.md: a
 * libvirtd restart turned every build under way into ERROR). Any other
 * failed build still ends in ERROR at once (test_failed_build_and_action). */
static void
test_build_unavailable_retried(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct mk d = { .host = "h1", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct codec_envelope *env;
	struct rec_instance i;
	struct got g = { .n = 0 };
	int64_t until;

	(void)state;
	mk(&m);
	dispatch(m.uuid);
	env = one(&g);
	assert_string_equal(env->request_id, m.reqid);
	got_clear(&g);
	answer_code("h1", m.uuid, m.reqid, false, 0, "error", 1,
	    TS_EUNAVAILABLE);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_BUILDING);
	assert_string_equal(i.task_state, "spawning");
	assert_false(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	/* Sent again, same request id (bounded wait). */
	for (until = clock_mono_ms() + WAIT_MS;
	    g.n == 0 && clock_mono_ms() < until;) {
		recon_scan(rec, db_now_ms());
		pump(&g, 50);
	}
	assert_true(g.n >= 1);
	assert_ptr_equal(g.env[0].type, &schema_msg_instance_ensure);
	assert_string_equal(g.env[0].request_id, m.reqid);
	got_clear(&g);
	/* libvirtd is back: the re-sent build succeeds. */
	answer("h1", m.uuid, m.reqid, true, 1, "ok", 1);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_false(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	/* Still unavailable at the deadline: ERROR, as any build. */
	mk(&d);
	answer_code("h1", d.uuid, d.reqid, false, 0, "error", 1,
	    TS_EUNAVAILABLE);
	recon_scan(rec, db_now_ms() + 31 * 1000);
	assert_int_equal(get(d.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ERROR);
	assert_null(i.task_state);
	assert_true(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	got_clear(&g);
}

/* ---- snapshot tasks ------------------------------------------------------ */

static struct snap_call {
	char		uuid[37], image[37], type[32];
	int		ok, calls;
	uint32_t	rotation;
} snapc;

static int
fake_upload_token(void *arg, const struct rec_instance *i, char *out,
    size_t len)
{
	(void)arg;
	snprintf(out, len, "tscap1.upload-%s", i->snapshot_image_id);
	return 0;
}

static void
fake_done(void *arg, const char *uuid, const char *image, int ok,
    const char *type, uint32_t rotation)
{
	(void)arg;
	snprintf(snapc.uuid, sizeof(snapc.uuid), "%s", uuid);
	snprintf(snapc.image, sizeof(snapc.image), "%s", image);
	snprintf(snapc.type, sizeof(snapc.type), "%s", type ? type : "-");
	snapc.ok = ok;
	snapc.rotation = rotation;
	snapc.calls++;
}

static struct {
	char	image[37];
	int	calls;
} dropc;

static void
fake_drop(void *arg, const char *uuid, const char *image)
{
	(void)arg;
	(void)uuid;
	snprintf(dropc.image, sizeof(dropc.image), "%s", image);
	dropc.calls++;
}

/* The snapshot command carries the image and its upload capability; the
 * answer ends the task leaving the instance as it was (never ERROR, no
 * fault), and the image's fate is handed over after the commit: done on
 * success, discarded on a failure or the deadline; a backup says its type
 * and rotation. */
static void
test_snapshot_tasks(void **state)
{
	struct recon_snap rs = { NULL, fake_upload_token, fake_done,
	    fake_drop };
	struct mk a = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "image_snapshot", .want = 1,
	    .snap_image = "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d" };
	struct mk b = { .host = "h1", .vm_state = VM_STOPPED,
	    .task = "image_backup", .want = 4,
	    .snap_image = "6b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
	    .backup_type = "daily", .rotation = 2 };
	struct mk c = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "image_snapshot", .want = 1,
	    .snap_image = "7b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d" };
	struct codec_envelope *env;
	struct msg_instance_snapshot *cmd;
	struct rec_instance i;
	struct got g = { .n = 0 };

	(void)state;
	recon_set_snapshot(rec, &rs);
	memset(&snapc, 0, sizeof(snapc));
	mk(&a);
	dispatch(a.uuid);
	env = find(&g, &schema_msg_instance_snapshot, a.uuid);
	assert_string_equal(env->request_id, a.reqid);
	cmd = env->body;
	assert_string_equal(cmd->image_id, a.snap_image);
	assert_string_equal(cmd->upload_token,
	    "tscap1.upload-5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d");
	got_clear(&g);
	answer("h1", a.uuid, a.reqid, true, 1, "ok", 1);
	assert_int_equal(get(a.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_null(i.snapshot_image_id);
	assert_false(i.has_fault);
	assert_int_equal(i.want_power, 1);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(snapc.calls, 1);
	assert_int_equal(snapc.ok, 1);
	assert_string_equal(snapc.image, a.snap_image);
	assert_string_equal(snapc.type, "-");

	/* a failed backup of a stopped server: stays SHUTOFF, image
	 * discarded */
	mk(&b);
	answer("h1", b.uuid, b.reqid, true, 4, "error", 1);
	assert_int_equal(get(b.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_STOPPED);
	assert_null(i.task_state);
	assert_null(i.backup_type);
	assert_false(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(snapc.calls, 2);
	assert_int_equal(snapc.ok, 0);
	assert_string_equal(snapc.type, "daily");
	assert_int_equal(snapc.rotation, 2);

	/* the deadline: not ERROR either */
	mk(&c);
	recon_scan(rec, db_now_ms() + 31 * 1000);
	assert_int_equal(get(c.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_false(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(snapc.calls, 3);
	assert_int_equal(snapc.ok, 0);
	assert_string_equal(snapc.image, c.snap_image);

	/* a delete that superseded a snapshot discards its image */
	struct mk d = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "deleting", .want = 1,
	    .snap_image = "8b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d" };

	mk(&d);
	answer("h1", d.uuid, d.reqid, false, 0, "ok", 1);
	assert_int_equal(get(d.uuid, &i), -1);
	assert_int_equal(snapc.calls, 4);
	assert_int_equal(snapc.ok, 0);
	assert_string_equal(snapc.image, d.snap_image);
	got_clear(&g);
}

static void
test_delete_releases(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "deleting", .want = 1 };
	struct rec_compute_usage u0, u1;
	struct rec_host_usage h0, h1;
	struct store_txn *txn = NULL;
	struct rec_instance i;
	struct codec_envelope *env;
	struct got g = { .n = 0 };

	mk(&m);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_usage_get(txn, "p1", &u0), 0);
	assert_int_equal(compute_db_host_usage_get(txn, "h1", &h0), 0);
	store_txn_end(&txn);
	dispatch(m.uuid);
	env = one(&g);
	assert_ptr_equal(env->type, &schema_msg_instance_delete);
	/* A failed delete is retried, never given up. */
	answer("h1", m.uuid, m.reqid, true, 1, "error", 1);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.task_state, "deleting");
	codec_clear(&schema_rec_instance, &i);
	recon_scan(rec, db_now_ms() + 3600 * 1000);	/* no deadline */
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.task_state, "deleting");
	codec_clear(&schema_rec_instance, &i);
	answer("h1", m.uuid, m.reqid, false, 0, "ok", 1);
	assert_int_equal(get(m.uuid, &i), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_usage_get(txn, "p1", &u1), 0);
	assert_int_equal(compute_db_host_usage_get(txn, "h1", &h1), 0);
	store_txn_end(&txn);
	assert_int_equal(u1.instances, u0.instances - 1);
	assert_int_equal(u1.ram, u0.ram - 512);
	assert_int_equal(h1.vcpus, h0.vcpus - 1);
	assert_int_equal(h1.memory_mb, h0.memory_mb - 512);
	got_clear(&g);
}

/* Level-triggered: a missing guest is re-created, a wrong power state is
 * corrected, an unknown instance-* guest is reported as an orphan, a
 * foreign guest is left alone, a guest that stopped by itself makes the
 * instance SHUTOFF. */
static void
test_reconcile_report(void **state)
{
	struct mk a = { .host = "h1", .vm_state = VM_ACTIVE, .want = 1 };
	struct mk p = { .host = "h1", .vm_state = VM_PAUSED, .want = 3 };
	struct sch_guest gs[4];
	struct codec_envelope *env;
	struct rec_instance i;
	char orphan[37];
	struct got g = { .n = 0 };

	mk(&a);
	mk(&p);
	db_uuid(orphan);
	memset(gs, 0, sizeof(gs));
	/* a missing; p running instead of paused; an orphan; "test". */
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", p.uuid);
	gs[0].name = "instance-p";
	gs[0].power_state = 1;
	snprintf(gs[1].uuid, sizeof(gs[1].uuid), "%s", orphan);
	gs[1].name = "instance-orphan";
	gs[1].power_state = 1;
	db_uuid(gs[2].uuid);
	gs[2].name = "test";
	gs[2].power_state = 1;
	/* Commands of earlier tests to other instances may still be due. */
	got_clear(&g);
	report(gs, 3, 0);
	pump(&g, 500);
	{
		int ensure_a = 0, ensure_p = 0, orphan_del = 0, other = 0;

		for (size_t k = 0; k < g.n; k++) {
			env = &g.env[k];
			if (env->type == &schema_msg_instance_ensure) {
				struct msg_instance_ensure *e = env->body;

				if (strcmp(e->uuid, a.uuid) == 0 &&
				    e->power == 1) {
					ensure_a++;
					snprintf(a.reqid, sizeof(a.reqid), "%s",
					    env->request_id);
				}
				else if (strcmp(e->uuid, p.uuid) == 0 &&
				    e->power == 3)
					ensure_p++;
				else
					other++;
			} else if (env->type == &schema_msg_instance_delete) {
				struct msg_instance_delete *d = env->body;

				if (strcmp(d->uuid, orphan) == 0 && d->orphan)
					orphan_del++;
				else
					other++;
			}
		}
		assert_int_equal(ensure_a, 1);
		assert_int_equal(ensure_p, 1);
		assert_int_equal(orphan_del, 1);
		/* Only re-creations of earlier tests' instances, no other
		 * delete, nothing about the foreign "test" guest. */
		for (size_t k = 0; k < g.n; k++) {
			env = &g.env[k];
			if (env->type == &schema_msg_instance_delete)
				assert_string_equal(((struct msg_instance_delete
				    *)env->body)->uuid, orphan);
			else
				assert_string_not_equal(((struct
				    msg_instance_ensure *)env->body)->uuid,
				    gs[2].uuid);
		}
		assert_int_equal(other, (int)g.n - 3);
	}
	/* The same report right away sends nothing more (rate limit). */
	report(gs, 3, 0);
	none(&g);
	/* a is back but shut off while its re-creation is unanswered: on
	 * its way up (defined, not started yet), not stopped by itself. */
	snprintf(gs[3].uuid, sizeof(gs[3].uuid), "%s", a.uuid);
	gs[3].name = "instance-a";
	gs[3].power_state = 4;
	gs[0].power_state = 3;
	report(&gs[3], 1, 0);
	assert_int_equal(get(a.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_int_equal(i.want_power, 1);
	codec_clear(&schema_rec_instance, &i);
	/* The re-creation is answered; then a is shut off by itself: the
	 * instance becomes SHUTOFF. */
	answer("h1", a.uuid, a.reqid, true, 1, "ok", 1);
	report(&gs[3], 1, 0);
	report(gs, 1, 0);
	assert_int_equal(get(a.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_STOPPED);
	assert_int_equal(i.want_power, 4);
	assert_int_equal(i.power_state, 4);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(get(p.uuid, &i), 0);
	assert_int_equal(i.power_state, 3);
	assert_string_equal(i.vm_state, VM_PAUSED);
	codec_clear(&schema_rec_instance, &i);
	got_clear(&g);
}

/* A host that is down: a delete completes locally with a tombstone; when
 * the host reports the guest, it is deleted; when the guest is gone, so is
 * the tombstone. */
static void
test_local_delete_tombstone(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "deleting", .want = 1 };
	struct rec_instance_tombstone tb;
	struct store_txn *txn = NULL;
	struct codec_envelope *env;
	struct sch_guest gs[1];
	struct rec_instance i;
	struct got g = { .n = 0 };

	mk(&m);
	host("h1", 4, 4096, 0, 0);			/* down */
	recon_scan(rec, db_now_ms());
	assert_int_equal(get(m.uuid, &i), -1);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_tombstone_get(txn, m.uuid, &tb), 0);
	store_txn_end(&txn);
	assert_string_equal(tb.host, "h1");
	codec_clear(&schema_rec_instance_tombstone, &tb);
	host("h1", 4, 4096, 1, 0);			/* back */
	got_clear(&g);
	pump(&g, 200);
	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", m.uuid);
	gs[0].name = "instance-x";
	gs[0].power_state = 1;
	report(gs, 1, 1);
	env = find(&g, &schema_msg_instance_delete, m.uuid);
	assert_false(((struct msg_instance_delete *)env->body)->orphan);
	answer("h1", m.uuid, env->request_id, false, 0, "ok", 1);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_tombstone_get(txn, m.uuid, &tb), -1);
	store_txn_end(&txn);
	got_clear(&g);
}

/* A guest whose instance lives on another host is fenced (deleted). */
static void
test_fencing(void **state)
{
	struct mk m = { .host = "h7", .vm_state = VM_ACTIVE, .want = 1 };
	struct sch_guest gs[1];
	struct got g = { .n = 0 };

	mk(&m);
	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", m.uuid);
	gs[0].name = "instance-moved";
	gs[0].power_state = 1;
	got_clear(&g);
	pump(&g, 200);
	got_clear(&g);
	report(gs, 1, 0);
	pump(&g, 500);
	{
		int dels = 0;

		/* (Other instances of h1 missing from this report are
		 * re-created; only the moved one may be deleted.) */
		for (size_t k = 0; k < g.n; k++) {
			struct msg_instance_delete *d;

			if (g.env[k].type != &schema_msg_instance_delete)
				continue;
			d = g.env[k].body;
			assert_string_equal(d->uuid, m.uuid);
			assert_int_equal(d->generation, 1);
			assert_false(d->orphan);
			dels++;
		}
		assert_int_equal(dels, 1);
	}
	got_clear(&g);
}

/* Sets an instance's wanted state as an API call would (the record only,
 * no command: as if the command were lost). */
struct want_arg {
	const char	*uuid;
	const char	*vm_state;
	uint32_t	 want;
};

static int
want_fn(struct store_txn *txn, void *arg)
{
	struct want_arg *w = arg;
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, w->uuid, &old) == -1)
		return -1;
	rc = compute_db_instance_copy(&old, &i);
	if (rc == 0) {
		free(i.vm_state);
		i.vm_state = strdup(w->vm_state);
		i.want_power = w->want;
		i.updated_at = db_now_ms();
		rc = compute_db_instance_put(txn, &i, &old);
	}
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static uint64_t
skipped(void)
{
	struct recon_stats rs;

	recon_stats(rec, &rs);
	return rs.reports_skipped;
}

static uint64_t
sent(void)
{
	struct recon_stats rs;

	recon_stats(rec, &rs);
	return rs.sent;
}

static void
report_hq(const struct sch_guest *g, size_t n, int hello)
{
	recon_host_report(rec, "hq", g, n, hello);
	recon_sync(rec);
}

/*
 * Heartbeats that repeat a host's guests are not checked again while the
 * host is as it should be and none of its instances changed; a changed
 * report, a changed instance, a hello, and a host with a task in motion
 * are checked in full, and liveness is taken from every report.
 * (Host "hq" alone: no other test's instances are there.)
 */
static void
test_calm_report_skip(void **state)
{
	struct mk a = { .host = "hq", .vm_state = VM_ACTIVE, .want = 1 };
	struct mk t = { .host = "hq", .vm_state = VM_ACTIVE, .want = 1,
	    .task = "rebooting" };
	struct want_arg w = { 0 };
	struct sch_guest gs[2];
	struct rec_instance i;
	uint64_t s0, n0;

	host("hq", 4, 4096, 1, 0);
	mk(&a);
	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", a.uuid);
	gs[0].name = "instance-a";
	gs[0].state = "running";
	gs[0].power_state = 1;
	s0 = skipped();
	/* The first report is checked: the host is as it should be. */
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0);
	/* The same guests again: not checked. */
	report_hq(gs, 1, 0);
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 2);
	/* Liveness still comes from a skipped report. */
	host("hq", 4, 4096, 0, 0);
	assert_int_equal(scheduler_host_up(sch, "hq"), 0);
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 3);
	assert_int_equal(scheduler_host_up(sch, "hq"), 1);
	/* A hello is always checked. */
	report_hq(gs, 1, 1);
	assert_int_equal(skipped(), s0 + 3);
	/* A change after skipped reports is seen: a shut itself off. */
	gs[0].power_state = 4;
	gs[0].state = "shutoff";
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 3);
	assert_int_equal(get(a.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_STOPPED);
	assert_int_equal(i.want_power, 4);
	codec_clear(&schema_rec_instance, &i);
	/* That write was the host's: the next report is checked, finds it
	 * as it should be, and the one after is skipped. */
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 3);
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 4);
	/* A change on the controller's side (a pause whose command was
	 * lost) with the same report: checked, and the command re-sent. */
	w.uuid = a.uuid;
	w.vm_state = VM_PAUSED;
	w.want = 3;
	assert_int_equal(store_write(st, want_fn, &w), 0);
	n0 = sent();
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 4);
	assert_int_equal(sent(), n0 + 1);
	/* Not as it should be yet: every report is checked (the re-send
	 * itself is rate limited), until the guest is paused. */
	report_hq(gs, 1, 0);
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 4);
	gs[0].power_state = 3;
	gs[0].state = "paused";
	/* (The first records the power state: a write of the host's, so the
	 * second is checked too.) */
	report_hq(gs, 1, 0);
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 4);
	assert_int_equal(get(a.uuid, &i), 0);
	assert_int_equal(i.power_state, 3);
	codec_clear(&schema_rec_instance, &i);
	report_hq(gs, 1, 0);
	assert_int_equal(skipped(), s0 + 5);
	/* Another instance there, with a task in motion (a reboot whose
	 * answer is due): the host is checked at every report. */
	mk(&t);
	snprintf(gs[1].uuid, sizeof(gs[1].uuid), "%s", t.uuid);
	gs[1].name = "instance-t";
	gs[1].state = "running";
	gs[1].power_state = 1;
	report_hq(gs, 2, 0);
	report_hq(gs, 2, 0);
	assert_int_equal(skipped(), s0 + 5);
	assert_int_equal(get(t.uuid, &i), 0);
	assert_non_null(i.task_state);
	codec_clear(&schema_rec_instance, &i);
	/* Out of service for the other tests. */
	host("hq", 4, 4096, 0, 1);
}

static uint64_t
superseded(void)
{
	struct recon_stats rs;

	recon_stats(rec, &rs);
	return rs.reports_superseded;
}

static int
node_known(const char *h)
{
	struct store_txn *txn = NULL;
	struct rec_compute_node cn;
	int rc;

	assert_int_equal(store_read_begin(st, &txn), 0);
	rc = compute_db_node_get(txn, h, &cn);
	store_txn_end(&txn);
	if (rc == 0)
		codec_clear(&schema_rec_compute_node, &cn);
	return rc == 0;
}

/*
 * Reports queued while the recon thread lags: a newer report of a host
 * takes the place of the older one still queued (at most one per host in
 * memory), keeps its hello, and is the one reconciled; another host's
 * report in between is left alone; the host's next reports are counted
 * and skipped as before. (Host "hz" alone.)
 */
static void
test_report_superseded(void **state)
{
	struct mk a = { .host = "hz", .vm_state = VM_ACTIVE, .want = 1 };
	struct sch_guest gs[1], none[1];
	struct rec_instance i;
	struct recon_stats rs;
	uint64_t s0, k0;

	host("hz", 4, 4096, 1, 0);
	mk(&a);
	memset(gs, 0, sizeof(gs));
	memset(none, 0, sizeof(none));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", a.uuid);
	gs[0].name = "instance-a";
	gs[0].state = "running";
	gs[0].power_state = 1;
	assert_false(node_known("hz"));
	s0 = superseded();
	k0 = skipped();
	/* No thread here: everything stays queued until recon_sync(). */
	recon_host_report(rec, "hz", gs, 1, 1);
	recon_host_report(rec, "hy", none, 0, 0);
	gs[0].power_state = 4;
	gs[0].state = "shutoff";
	recon_host_report(rec, "hz", gs, 1, 0);
	recon_stats(rec, &rs);
	assert_int_equal(rs.queued, 3);
	assert_int_equal(rs.reports_superseded, s0 + 1);
	recon_sync(rec);
	recon_stats(rec, &rs);
	assert_int_equal(rs.queued, 0);
	assert_int_equal(superseded(), s0 + 1);
	/* The newer report was reconciled, with the older one's hello. */
	assert_int_equal(get(a.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_STOPPED);
	assert_int_equal(i.power_state, 4);
	codec_clear(&schema_rec_instance, &i);
	assert_true(node_known("hz"));
	/* The replaced report left nothing pending: once a pass finds the
	 * host as it should be, the same report is skipped. */
	recon_host_report(rec, "hz", gs, 1, 0);
	recon_sync(rec);
	recon_host_report(rec, "hz", gs, 1, 0);
	recon_sync(rec);
	assert_int_equal(skipped(), k0 + 1);
	/* Taken reports are not replaced. */
	assert_int_equal(superseded(), s0 + 1);
	host("hz", 4, 4096, 0, 1);
}

/* An evacuation as the API leaves it (moved to h1 with a new generation,
 * the rebuilding task journaled as action "evacuate") whose command was
 * lost with the controller: the task scan of a controller that never sent
 * it sends the rebuild (same request id, the new generation), and the
 * answer ends it ACTIVE; nothing stays in rebuilding. */
static void
test_evacuation_converges(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "rebuilding", .action = "evacuate", .want = 1, .gen = 5 };
	struct msg_instance_ensure *e;
	struct codec_envelope *env = NULL;
	struct rec_instance i;
	struct rec_instance_action a;
	struct store_txn *txn = NULL;
	struct got g = { .n = 0 };

	mk(&m);
	recon_scan(rec, db_now_ms());
	env = find(&g, &schema_msg_instance_ensure, m.uuid);
	assert_non_null(env);
	assert_string_equal(env->request_id, m.reqid);
	e = env->body;
	assert_int_equal(e->generation, 5);
	assert_true(e->has_rebuild && e->rebuild);
	assert_int_equal(e->power, 1);
	answer("h1", m.uuid, m.reqid, true, 1, "ok", 5);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_int_equal(i.generation, 5);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_action_get(txn, m.uuid, m.reqid, &a), 0);
	store_txn_end(&txn);
	assert_string_equal(a.action, "evacuate");
	assert_string_equal(a.events.items[0].result, "Success");
	codec_clear(&schema_rec_instance_action, &a);
	got_clear(&g);
}

/* ---- live migration ------------------------------------------------------ */

static void mig_status(uint64_t, const char *);
static void lm_volumes(struct got *);
static void xhost_volumes(struct got *);

static void
usage_of(const char *h, struct rec_host_usage *u)
{
	struct store_txn *txn = NULL;

	memset(u, 0, sizeof(*u));
	assert_int_equal(store_read_begin(st, &txn), 0);
	if (compute_db_host_usage_get(txn, h, u) == -1)
		memset(u, 0, sizeof(*u));
	store_txn_end(&txn);
}

static void
action_result(const char *uuid, const char *reqid, const char *want)
{
	struct store_txn *txn = NULL;
	struct rec_instance_action a;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_action_get(txn, uuid, reqid, &a), 0);
	store_txn_end(&txn);
	assert_string_equal(a.action, "live-migration");
	assert_string_equal(a.events.items[0].result, want);
	codec_clear(&schema_rec_instance_action, &a);
}

/* Where the instance is, at which generation, with no task left. */
static void
settled(const char *uuid, const char *h, uint64_t gen)
{
	struct rec_instance i;

	assert_int_equal(get(uuid, &i), 0);
	assert_string_equal(i.host, h);
	assert_int_equal(i.generation, gen);
	assert_null(i.task_state);
	assert_null(i.migrate_host);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	codec_clear(&schema_rec_instance, &i);
}

static void
still_migrating(const char *uuid)
{
	struct rec_instance i;

	assert_int_equal(get(uuid, &i), 0);
	assert_string_equal(i.task_state, "migrating");
	assert_string_equal(i.host, "h1");
	assert_string_equal(i.migrate_host, "h2");
	codec_clear(&schema_rec_instance, &i);
}

static void
guest_on(const char *h, const char *uuid, uint32_t power, uint64_t gen)
{
	struct sch_guest gs[1];

	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", uuid);
	gs[0].name = "instance-lm";
	gs[0].power_state = power;
	gs[0].has_generation = gen != 0;
	gs[0].generation = gen;
	recon_host_report(rec, h, gs, 1, 0);
	recon_sync(rec);
}

/* The command of type about uuid that reached h2 (the migration's
 * target, connected for this test alone), within WAIT_MS. */
static struct bus *cli2;
/* The volumes of the last instance_migrate_prepare find_h2() found: count,
 * the first one's attachment id, whether it carried CHAP. */
static size_t	h2_prep_vols;
static char	h2_prep_att[37];
static char	h2_prep_chap[65];

static void
find_h2(const struct schema_type *type, const char *uuid, char reqid[65])
{
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until;) {
		struct bus_msg m;
		struct codec_envelope env;
		int hit = 0;

		if (bus_poll(srv, 5, &m) == 1)
			bus_msg_clear(&m);
		while (bus_poll(cli2, 5, &m) == 1) {
			memset(&env, 0, sizeof(env));
			if (codec_envelope_decode(m.data, m.len,
			    SCHEMA_FROM_CONTROLLER, &env) == 0) {
				if (env.type == type && strcmp((const char *)
				    env.body, uuid) == 0) {
					snprintf(reqid, 65, "%s",
					    env.request_id);
					hit = 1;
				}
				if (hit && type ==
				    &schema_msg_instance_migrate_prepare) {
					struct msg_instance_migrate_prepare *q =
					    env.body;

					h2_prep_vols = q->spec.volumes.n;
					h2_prep_att[0] = '\0';
					h2_prep_chap[0] = '\0';
					if (q->spec.volumes.n > 0) {
						const struct sch_vol_disk *d =
						    &q->spec.volumes.items[0];

						snprintf(h2_prep_att, 37, "%s",
						    d->attachment_id);
						snprintf(h2_prep_chap, 65, "%s",
						    d->chap_secret ?
						    d->chap_secret : "");
					}
				}
				codec_envelope_clear(&env);
			}
			bus_msg_clear(&m);
		}
		if (hit)
			return;
	}
	fail_msg("no %s about %s on h2", type->name, uuid);
}

/* Nothing of type about uuid reached h2 within 500 ms (recon posts from
 * the thread that recon_sync() waited for: anything would be queued). */
static void
none_h2(const struct schema_type *type, const char *uuid)
{
	for (int64_t until = clock_mono_ms() + 500; clock_mono_ms() < until;) {
		struct bus_msg m;
		struct codec_envelope env;

		if (bus_poll(srv, 5, &m) == 1)
			bus_msg_clear(&m);
		while (bus_poll(cli2, 5, &m) == 1) {
			memset(&env, 0, sizeof(env));
			if (codec_envelope_decode(m.data, m.len,
			    SCHEMA_FROM_CONTROLLER, &env) == 0) {
				if (env.type == type && strcmp((const char *)
				    env.body, uuid) == 0)
					fail_msg("%s about %s reached h2",
					    type->name, uuid);
				codec_envelope_clear(&env);
			}
			bus_msg_clear(&m);
		}
	}
}

/* The target's answer to instance_migrate_prepare. */
static void
prepared(const char *from, const char *uuid, const char *reqid,
    const char *result)
{
	struct msg_instance_migrate_prepared m = { 0 };

	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.in_reply_to = (char *)reqid;
	m.result = (char *)result;
	if (strcmp(result, "ok") == 0) {
		m.instances_path = "/srv/h2/instances";
		m.cache_dir = "/srv/h2/instances/_base";
		m.has_root_backing = true;
		m.root_backing = true;
	} else {
		m.fault_message = "no room";
	}
	assert_true(from_agent(from, &schema_msg_instance_migrate_prepared,
	    &m, reqid));
	recon_sync(rec);
}

/* A host's report of a directory prepared for a migration that never
 * arrived. */
static void
leftover(const char *from, const char *uuid)
{
	struct msg_instance_migrate_leftover m = { 0 };

	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	(void)from_agent(from, &schema_msg_instance_migrate_leftover, &m, "");
	recon_sync(rec);
}

/*
 * The state machine of os-migrateLive (the API's half is in
 * handlers_compute_test): the command goes to the source naming the
 * target; its answer ends the task in one transaction (ok: host,
 * generation and the source's claim move; error: the target's claim goes
 * back, ACTIVE on the source); a lost answer is settled by the reports
 * (the target running the new generation once the source no longer
 * has it: done; the source still running
 * it after the deadline: rolled back) or, with no sign at all, by the scan
 * at twice the deadline. Meanwhile the target's copy is never fenced and
 * the source's missing copy never re-created.
 */
static void
test_live_migration(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "migrating", .action = "live-migration", .want = 1,
	    .gen = 3, .migrate_host = "h2" };
	struct rec_host_usage u1, u2, v1, v2;
	struct recon_stats s0, s1;
	struct msg_instance_migrate *c;
	struct codec_envelope *env;
	struct got g = { .n = 0 };

	struct bus_opts bo;
	char preq[65];

	host("h2", 4, 4096, 1, 0);
	bus_opts_init(&bo);
	bo.curve = 0;
	bo.endpoint = bus_endpoint(srv);
	bo.identity = "h2";
	assert_non_null(cli2 = bus_client_new(&bo));
	for (int64_t until = clock_mono_ms() + WAIT_MS + 200;
	    clock_mono_ms() < until;) {
		struct bus_msg bm;

		if (bus_poll(cli2, 5, &bm) == 1)
			bus_msg_clear(&bm);
		pump(&g, 5);
		if (bus_client_connected(cli2) && until > clock_mono_ms() + 200)
			until = clock_mono_ms() + 200;
	}
	got_clear(&g);

	/* 1. Answered ok. */
	mk(&m);
	usage_of("h1", &u1);
	usage_of("h2", &v1);
	dispatch(m.uuid);
	/* the target prepares first; the source is asked once it answered,
	 * with the target's paths */
	find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
	assert_string_equal(preq, m.reqid);
	got_clear(&g);
	prepared("h1", m.uuid, m.reqid, "ok");		/* not the target */
	pump(&g, 200);
	for (size_t k = 0; k < g.n; k++)
		assert_ptr_not_equal(g.env[k].type, &schema_msg_instance_migrate);
	prepared("h2", m.uuid, m.reqid, "ok");
	env = find(&g, &schema_msg_instance_migrate, m.uuid);
	assert_string_equal(env->request_id, m.reqid);
	c = env->body;
	assert_string_equal(c->target_instances_path, "/srv/h2/instances");
	assert_string_equal(c->target_cache_dir, "/srv/h2/instances/_base");
	/* the target's root overlays the image: an incremental copy */
	assert_true(c->has_target_backing && c->target_backing);
	assert_int_equal(c->generation, 3);
	assert_int_equal(c->new_generation, 4);
	assert_string_equal(c->target_host, "h2");
	assert_string_equal(c->target_uri, "test:///default");
	assert_null(c->target_address);
	assert_false(c->block_migration);	/* no local image disk */
	answer("h1", m.uuid, m.reqid, false, 0, "ok", 0);
	settled(m.uuid, "h2", 4);
	usage_of("h1", &u2);
	usage_of("h2", &v2);
	assert_int_equal(u2.instances, u1.instances - 1);
	assert_int_equal(u2.memory_mb, u1.memory_mb - 512);
	assert_int_equal(v2.instances, v1.instances);
	action_result(m.uuid, m.reqid, "Success");
	mig_status(m.mig_id, "completed");
	got_clear(&g);

	/* 1b. Leftover reports: h1 (neither its host nor its target any
	 * more) is told to remove what it prepared, only what is older than
	 * the answer's minimum age; h2, its host, is not. */
	leftover("h1", m.uuid);
	env = find(&g, &schema_msg_instance_migrate_cleanup, m.uuid);
	assert_true(((struct msg_instance_migrate_cleanup *)env->body)->
	    has_min_age_ms);
	assert_int_equal(((struct msg_instance_migrate_cleanup *)env->body)->
	    min_age_ms, 10000);
	got_clear(&g);
	leftover("h2", m.uuid);
	none_h2(&schema_msg_instance_migrate_cleanup, m.uuid);

	/* 2. Answered with a failure: back where it was, the target's claim
	 * released. */
	mk(&m);
	usage_of("h1", &u1);
	usage_of("h2", &v1);
	answer("h1", m.uuid, m.reqid, true, 1, "error", 3);
	settled(m.uuid, "h1", 3);
	usage_of("h1", &u2);
	usage_of("h2", &v2);
	assert_int_equal(u2.instances, u1.instances);
	assert_int_equal(v2.instances, v1.instances - 1);
	assert_int_equal(v2.vcpus, v1.vcpus - 1);
	action_result(m.uuid, m.reqid, "Error");
	mig_status(m.mig_id, "error");
	/* what the target prepared goes at once */
	find_h2(&schema_msg_instance_migrate_cleanup, m.uuid, preq);
	/* while it migrates to h2, a leftover report of h2 is no garbage */
	mk(&m);
	leftover("h2", m.uuid);
	none_h2(&schema_msg_instance_migrate_cleanup, m.uuid);
	answer("h1", m.uuid, m.reqid, true, 1, "error", 3);
	settled(m.uuid, "h1", 3);

	/* 2b. The target could not prepare: the same roll-back, no command
	 * to the source. */
	mk(&m);
	usage_of("h2", &v1);
	got_clear(&g);
	prepared("h2", m.uuid, m.reqid, "error");
	settled(m.uuid, "h1", 3);
	usage_of("h2", &v2);
	assert_int_equal(v2.instances, v1.instances - 1);
	action_result(m.uuid, m.reqid, "Error");
	pump(&g, 100);
	for (size_t k = 0; k < g.n; k++)
		assert_ptr_not_equal(g.env[k].type, &schema_msg_instance_migrate);
	got_clear(&g);

	/* 2c. An abort goes to the source, about that guest; the
	 * migration's own answer (an error) then rolls it back, the
	 * migration record "cancelled" as Nova's. */
	{
		struct rec_instance cur;

		mk(&m);
		dispatch(m.uuid);
		find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
		prepared("h2", m.uuid, m.reqid, "ok");
		(void)find(&g, &schema_msg_instance_migrate, m.uuid);
		assert_int_equal(get(m.uuid, &cur), 0);
		assert_int_equal(recon_migrate_abort(rec, &cur), 0);
		env = find(&g, &schema_msg_instance_migrate_abort, m.uuid);
		assert_int_equal(((struct msg_instance_migrate_abort *)
		    env->body)->generation, 3);
		codec_clear(&schema_rec_instance, &cur);
		still_migrating(m.uuid);
		answer("h1", m.uuid, m.reqid, true, 1, "error", 3);
		settled(m.uuid, "h1", 3);
		mig_status(m.mig_id, "cancelled");
		got_clear(&g);
	}

	/* 3. While in flight neither host's report changes anything: the
	 * target's incoming copy (paused, new generation) is not fenced,
	 * the source running it is no failure before the deadline, the
	 * source without it is not re-created (no ensure about it; other
	 * instances of h1 are). Then the target runs it: done at once, before
	 * the source's answer (libvirt resumes it there only past the
	 * migration's point of no return, while the source's libvirtd still
	 * confirms): the source's paused copy is not fenced until its
	 * answer, which then changes nothing; a copy still there after the
	 * answer is fenced. */
	mk(&m);
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
	prepared("h2", m.uuid, m.reqid, "ok");
	(void)find(&g, &schema_msg_instance_migrate, m.uuid);
	recon_stats(rec, &s0);
	guest_on("h2", m.uuid, 3, 4);
	guest_on("h1", m.uuid, 1, 3);
	still_migrating(m.uuid);
	guest_on("h1", m.uuid, 4, 3);		/* shut off, still defined */
	guest_on("h2", m.uuid, 3, 4);
	still_migrating(m.uuid);
	got_clear(&g);
	report(NULL, 0, 0);
	pump(&g, 300);
	for (size_t k = 0; k < g.n; k++)
		if (g.env[k].type == &schema_msg_instance_ensure)
			assert_string_not_equal((char *)g.env[k].body, m.uuid);
	got_clear(&g);
	still_migrating(m.uuid);
	recon_stats(rec, &s1);
	assert_int_equal(s1.fenced, s0.fenced);
	guest_on("h1", m.uuid, 3, 3);		/* switched over: paused */
	still_migrating(m.uuid);
	usage_of("h1", &u1);
	guest_on("h2", m.uuid, 1, 4);		/* resumed on the target */
	settled(m.uuid, "h2", 4);
	usage_of("h1", &u2);
	assert_int_equal(u2.instances, u1.instances - 1);
	action_result(m.uuid, m.reqid, "Success");
	mig_status(m.mig_id, "completed");
	got_clear(&g);
	guest_on("h1", m.uuid, 3, 3);		/* confirming */
	none(&g);
	recon_stats(rec, &s1);
	assert_int_equal(s1.fenced, s0.fenced);
	answer("h1", m.uuid, m.reqid, false, 0, "ok", 0);
	settled(m.uuid, "h2", 4);
	guest_on("h1", m.uuid, 3, 3);		/* left behind: fenced */
	env = find(&g, &schema_msg_instance_delete, m.uuid);
	assert_int_equal(((struct msg_instance_delete *)env->body)->generation,
	    4);
	recon_stats(rec, &s1);
	assert_int_equal(s1.fenced, s0.fenced + 1);
	got_clear(&g);
	report(NULL, 0, 0);

	/* 3a. The same, then the source answers with an error, its copy
	 * running again (its libvirtd resumed it: the two hosts disagreed on
	 * the end): too late to undo the move; the copy is fenced. */
	mk(&m);
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
	prepared("h2", m.uuid, m.reqid, "ok");
	(void)find(&g, &schema_msg_instance_migrate, m.uuid);
	recon_stats(rec, &s0);
	guest_on("h2", m.uuid, 1, 4);
	settled(m.uuid, "h2", 4);
	answer("h1", m.uuid, m.reqid, true, 1, "error", 3);
	settled(m.uuid, "h2", 4);
	action_result(m.uuid, m.reqid, "Success");
	mig_status(m.mig_id, "completed");
	guest_on("h1", m.uuid, 1, 3);
	env = find(&g, &schema_msg_instance_delete, m.uuid);
	recon_stats(rec, &s1);
	assert_int_equal(s1.fenced, s0.fenced + 1);
	got_clear(&g);
	report(NULL, 0, 0);

	/* 3b. The source answers that it has no such guest (an agent that
	 * restarted and was asked again) while the target's copy is still
	 * incoming: the target's next report of it running ends the
	 * migration. */
	mk(&m);
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
	prepared("h2", m.uuid, m.reqid, "ok");
	(void)find(&g, &schema_msg_instance_migrate, m.uuid);
	guest_on("h2", m.uuid, 3, 4);
	still_migrating(m.uuid);
	answer("h1", m.uuid, m.reqid, false, 0, "error", 0);
	still_migrating(m.uuid);
	guest_on("h2", m.uuid, 1, 4);
	settled(m.uuid, "h2", 4);
	action_result(m.uuid, m.reqid, "Success");
	got_clear(&g);

	/* 4. Answer lost, past the deadline the source still runs it: rolled
	 * back. A target report of the old generation is no arrival. */
	m.started = db_now_ms() - 11000;	/* action_timeout 10 s */
	mk(&m);
	guest_on("h2", m.uuid, 1, 3);
	still_migrating(m.uuid);
	usage_of("h2", &v1);
	guest_on("h1", m.uuid, 1, 3);
	settled(m.uuid, "h1", 3);
	usage_of("h2", &v2);
	assert_int_equal(v2.instances, v1.instances - 1);
	action_result(m.uuid, m.reqid, "Error");

	/* 5. No answer, no sign: the scan waits until twice the deadline,
	 * then rolls back. */
	mk(&m);
	recon_scan(rec, db_now_ms());
	still_migrating(m.uuid);
	m.started = db_now_ms() - 21000;
	mk(&m);
	recon_scan(rec, db_now_ms());
	settled(m.uuid, "h1", 3);
	action_result(m.uuid, m.reqid, "Error");
	got_clear(&g);
	/* 6. Deleted while migrating (a delete supersedes the task): both
	 * claims go with it. */
	struct mk d = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "deleting", .want = 1, .gen = 3, .migrate_host = "h2" };
	struct rec_instance gone;

	mk(&d);
	usage_of("h1", &u1);
	usage_of("h2", &v1);
	answer("h1", d.uuid, d.reqid, false, 0, "ok", 0);
	assert_int_equal(get(d.uuid, &gone), -1);
	usage_of("h1", &u2);
	usage_of("h2", &v2);
	assert_int_equal(u2.instances, u1.instances - 1);
	assert_int_equal(v2.instances, v1.instances - 1);
	got_clear(&g);
	lm_volumes(&g);
	xhost_volumes(&g);
	bus_free(&cli2);
	/* h2 leaves the scheduler to the later tests' one host. */
	host("h2", 4, 4096, 0, 0);
}

static void
mig_status(uint64_t id, const char *want)
{
	struct store_txn *txn = NULL;
	struct rec_migration mg;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_migration_get(txn, id, &mg), 0);
	store_txn_end(&txn);
	assert_string_equal(mg.status, want);
	codec_clear(&schema_rec_migration, &mg);
}

/* The ensure of uuid the reconciler sent: its resize word. */
static uint32_t
sent_resize(struct got *g, const char *uuid, uint64_t gen)
{
	struct msg_instance_ensure *e;
	struct codec_envelope *env = find(g, &schema_msg_instance_ensure, uuid);

	e = env->body;
	assert_int_equal(e->generation, gen);
	return e->has_resize ? e->resize : 0;
}

/*
 * The state machine of a same-host resize (the API's half is in
 * handlers_compute_test): resize_prep's ensure says resize=1 with the new
 * flavor; ok ends it RESIZED with both claims held and the migration
 * "finished", and the ensures from then on say 2 (keep the old disk);
 * a failure puts the old flavor back with the target's claim released
 * (no ERROR); resize_reverting says 3 and ends ACTIVE, "reverted"; past
 * the deadline the migration is "error"; a delete while RESIZED gives
 * both claims back.
 */
static void
test_resize(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "resize_prep", .action = "resize", .want = 1, .gen = 4,
	    .resized = true };
	struct rec_host_usage u1, u2;
	struct rec_instance i;
	struct got g = { .n = 0 };

	(void)state;
	/* 1. Answered ok: RESIZED, the claims stay. */
	mk(&m);
	usage_of("h1", &u1);
	dispatch(m.uuid);
	assert_int_equal(sent_resize(&g, m.uuid, 4), 1);
	answer("h1", m.uuid, m.reqid, true, 1, "ok", 4);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_RESIZED);
	assert_null(i.task_state);
	assert_true(i.has_old_flavor);
	assert_int_equal(i.flavor.vcpus, 2);
	codec_clear(&schema_rec_instance, &i);
	mig_status(m.mig_id, "finished");
	usage_of("h1", &u2);
	assert_int_equal(u2.vcpus, u1.vcpus);
	assert_int_equal(u2.instances, u1.instances);
	/* Level-triggered: a later ensure keeps the old disk. */
	dispatch(m.uuid);
	assert_int_equal(sent_resize(&g, m.uuid, 4), 2);
	got_clear(&g);

	/* 2. Answered with a failure: the old flavor, one claim. */
	mk(&m);
	usage_of("h1", &u1);
	answer("h1", m.uuid, m.reqid, true, 1, "error", 3);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_false(i.has_old_flavor);
	assert_null(i.resize_host);
	assert_int_equal(i.flavor.vcpus, 1);
	assert_int_equal(i.generation, 5);
	assert_true(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	mig_status(m.mig_id, "error");
	usage_of("h1", &u2);
	assert_int_equal(u2.vcpus, u1.vcpus - 2);
	assert_int_equal(u2.memory_mb, u1.memory_mb - 1024);
	assert_int_equal(u2.instances, u1.instances - 1);
	dispatch(m.uuid);
	assert_int_equal(sent_resize(&g, m.uuid, 5), 0);
	got_clear(&g);

	/* 3. Revert (the API settled flavor and claims): resize=3, then
	 * ACTIVE and "reverted". */
	struct mk r = { .host = "h1", .vm_state = VM_RESIZED,
	    .task = "resize_reverting", .action = "revertResize", .want = 1,
	    .gen = 6 };

	mk(&r);
	dispatch(r.uuid);
	assert_int_equal(sent_resize(&g, r.uuid, 6), 3);
	answer("h1", r.uuid, r.reqid, true, 1, "ok", 6);
	assert_int_equal(get(r.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	codec_clear(&schema_rec_instance, &i);
	got_clear(&g);

	/* 4. No answer past the deadline: ERROR, the migration "error",
	 * the resize still pending (a delete frees both claims). */
	m.started = db_now_ms() - 400000;	/* build_timeout */
	mk(&m);
	recon_scan(rec, db_now_ms());
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ERROR);
	assert_true(i.has_old_flavor);
	codec_clear(&schema_rec_instance, &i);
	mig_status(m.mig_id, "error");
	got_clear(&g);

	/* 5. Deleted while RESIZED: both claims go. */
	struct mk d = { .host = "h1", .vm_state = VM_RESIZED,
	    .task = "deleting", .want = 1, .gen = 3, .resized = true };
	struct rec_instance gone;

	mk(&d);
	usage_of("h1", &u1);
	answer("h1", d.uuid, d.reqid, false, 0, "ok", 0);
	assert_int_equal(get(d.uuid, &gone), -1);
	usage_of("h1", &u2);
	assert_int_equal(u2.instances, u1.instances - 2);
	assert_int_equal(u2.vcpus, u1.vcpus - 3);
	assert_int_equal(u2.memory_mb, u1.memory_mb - 1536);
	got_clear(&g);
}

/* An image as Glance has it once uploaded (a cross-host resize's). */
static int
image_fn(struct store_txn *txn, void *arg)
{
	struct rec_image img;
	int rc;

	memset(&img, 0, sizeof(img));
	snprintf(img.id, sizeof(img.id), "%s", (const char *)arg);
	img.name = strdup("vm-resize-temp");
	img.status = strdup("active");
	img.visibility = strdup("private");
	img.owner = strdup("p1");
	img.disk_format = strdup("qcow2");
	img.container_format = strdup("bare");
	img.has_size = true;
	img.size = 4096;
	img.os_hash_algo = strdup("sha512");
	img.os_hash_value = strdup("ab12");
	img.created_at = img.updated_at = db_now_ms();
	rc = image_db_put(txn, &img, NULL);
	codec_clear(&schema_rec_image, &img);
	return rc;
}

static void
task_of(const char *uuid, const char *task, char reqid[65])
{
	struct rec_instance i;

	assert_int_equal(get(uuid, &i), 0);
	assert_non_null(i.task_state);
	assert_string_equal(i.task_state, task);
	snprintf(reqid, 65, "%s", i.task_request_id);
	codec_clear(&schema_rec_instance, &i);
}

static int
confirm_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance i, old;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1 ||
	    compute_db_instance_get(txn, arg, &i) == -1)
		return -1;
	free(i.resize_source);
	i.resize_source = NULL;
	codec_clear(&schema_sch_inst_flavor, &i.old_flavor);
	i.has_old_flavor = false;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* The deletes h1 was sent about uuid among whatever came in ms. */
static int
deletes_of(struct got *g, const char *uuid, uint64_t *gen)
{
	int n = 0;

	got_clear(g);
	pump(g, 500);
	for (size_t k = 0; k < g->n; k++) {
		struct msg_instance_delete *d = g->env[k].body;

		if (g->env[k].type == &schema_msg_instance_delete &&
		    strcmp(d->uuid, uuid) == 0) {
			*gen = d->generation;
			n++;
		}
	}
	return n;
}

/*
 * The state machine of a resize to another host (compute_resize.c starts
 * it): resize_migrating stops the guest on the source (ensure, power
 * shutdown, same generation), resize_migrated uploads its disk into the
 * temporary image (instance_snapshot, its own request id), then host,
 * generation and the task resize_finish go to the target, whose ensure
 * builds the guest from that image; its answer ends it VERIFY_RESIZE with
 * both claims held and the image dropped. The source keeps its stopped
 * guest (not fenced) until confirm, then fences it. A failed step or the
 * deadline goes back to the source (resize_reverting, the migration
 * "error", the target's claim released); a delete after the move
 * tombstones the source's guest and frees both claims.
 */
static void
test_resize_cross_host(void **state)
{
	static const char img[] = "8b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
	struct recon_snap rs = { NULL, fake_upload_token, fake_done,
	    fake_drop };
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "resize_migrating", .action = "migrate", .want = 1,
	    .gen = 4, .resized = true, .target = "h2", .source = "h1",
	    .snap_image = img };
	struct rec_host_usage u1, u2, v1, v2;
	struct msg_instance_ensure *e;
	struct msg_instance_snapshot *sn;
	struct codec_envelope *env;
	struct rec_instance i;
	struct sch_guest gs[1];
	struct got g = { .n = 0 };
	char rq[65];
	uint64_t gen = 0;

	(void)state;
	host("h2", 4, 4096, 1, 0);
	recon_set_snapshot(rec, &rs);
	memset(&dropc, 0, sizeof(dropc));
	mk(&m);
	usage_of("h1", &u1);
	usage_of("h2", &v1);
	/* 1. The source stops the guest, as it is (generation 4). */
	dispatch(m.uuid);
	env = find(&g, &schema_msg_instance_ensure, m.uuid);
	e = env->body;
	assert_string_equal(env->request_id, m.reqid);
	assert_int_equal(e->generation, 4);
	assert_int_equal(e->power, 4);
	answer("h1", m.uuid, m.reqid, true, 4, "ok", 4);
	/* 2. Its disk goes into the image, under a request id of its own. */
	task_of(m.uuid, "resize_migrated", rq);
	assert_string_not_equal(rq, m.reqid);
	dispatch(m.uuid);
	env = find(&g, &schema_msg_instance_snapshot, m.uuid);
	sn = env->body;
	assert_string_equal(env->request_id, rq);
	assert_string_equal(sn->image_id, img);
	assert_int_equal(store_write(st, image_fn, (void *)img), 0);
	answer("h1", m.uuid, rq, true, 4, "ok", 4);
	/* 3. The target builds it from the image, a newer generation. */
	task_of(m.uuid, "resize_finish", rq);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.host, "h2");
	assert_string_equal(i.resize_source, "h1");
	assert_int_equal(i.generation, 5);
	assert_int_equal(i.want_power, 1);
	assert_string_equal(i.resize_image_sha512, "ab12");
	codec_clear(&schema_rec_instance, &i);
	mig_status(m.mig_id, "post-migrating");
	answer("h2", m.uuid, rq, true, 1, "ok", 5);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_RESIZED);
	assert_null(i.task_state);
	assert_null(i.snapshot_image_id);
	assert_string_equal(i.host, "h2");
	assert_true(i.has_old_flavor);
	codec_clear(&schema_rec_instance, &i);
	mig_status(m.mig_id, "finished");
	assert_int_equal(dropc.calls, 1);
	assert_string_equal(dropc.image, img);
	usage_of("h1", &u2);
	usage_of("h2", &v2);
	assert_int_equal(u2.vcpus, u1.vcpus);
	assert_int_equal(v2.vcpus, v1.vcpus);
	/* 4. h1 keeps its stopped guest until confirm, then fences it. */
	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", m.uuid);
	gs[0].name = "instance-kept";
	gs[0].power_state = 4;
	gs[0].has_generation = true;
	gs[0].generation = 4;
	report(gs, 1, 0);
	assert_int_equal(deletes_of(&g, m.uuid, &gen), 0);
	assert_int_equal(store_write(st, confirm_fn, m.uuid), 0);
	report(gs, 1, 0);
	assert_int_equal(deletes_of(&g, m.uuid, &gen), 1);
	assert_int_equal(gen, 5);
	got_clear(&g);

	/* 5. The upload failed: back on h1 with the old flavor. */
	struct mk f = m;

	f.task = "resize_migrated";
	mk(&f);
	usage_of("h2", &v1);
	answer("h1", f.uuid, f.reqid, true, 4, "error", 4);
	task_of(f.uuid, "resize_reverting", rq);
	assert_int_equal(get(f.uuid, &i), 0);
	assert_string_equal(i.host, "h1");
	assert_null(i.resize_host);
	assert_null(i.resize_source);
	assert_false(i.has_old_flavor);
	assert_int_equal(i.flavor.vcpus, 1);
	assert_int_equal(i.generation, 5);
	assert_int_equal(i.want_power, 1);
	assert_true(i.has_fault);
	assert_null(i.snapshot_image_id);
	codec_clear(&schema_rec_instance, &i);
	mig_status(f.mig_id, "error");
	usage_of("h2", &v2);
	assert_int_equal(v2.vcpus, v1.vcpus - 2);
	assert_int_equal(dropc.calls, 2);
	dispatch(f.uuid);
	assert_int_equal(sent_resize(&g, f.uuid, 5), 3);
	answer("h1", f.uuid, rq, true, 1, "ok", 5);
	assert_int_equal(get(f.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	codec_clear(&schema_rec_instance, &i);
	got_clear(&g);

	/* 6. No answer past the deadline: back on h1 too (never stuck). */
	struct mk t = m;

	t.started = db_now_ms() - 400000;	/* build_timeout */
	mk(&t);
	recon_scan(rec, db_now_ms());
	task_of(t.uuid, "resize_reverting", rq);
	mig_status(t.mig_id, "error");
	got_clear(&g);

	/* 7. Deleted after the move: both claims, the source's guest
	 * tombstoned. */
	struct mk d = { .host = "h2", .vm_state = VM_RESIZED,
	    .task = "deleting", .want = 1, .gen = 5, .resized = true,
	    .target = "h2", .source = "h1" };
	struct rec_instance_tombstone tb;
	struct store_txn *txn = NULL;

	mk(&d);
	usage_of("h1", &u1);
	usage_of("h2", &v1);
	answer("h2", d.uuid, d.reqid, false, 0, "ok", 0);
	assert_int_equal(get(d.uuid, &i), -1);
	usage_of("h1", &u2);
	usage_of("h2", &v2);
	assert_int_equal(u2.vcpus, u1.vcpus - 1);
	assert_int_equal(v2.vcpus, v1.vcpus - 2);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_tombstone_get(txn, d.uuid, &tb), 0);
	store_txn_end(&txn);
	assert_string_equal(tb.host, "h1");
	codec_clear(&schema_rec_instance_tombstone, &tb);
	got_clear(&g);
	/* h2 leaves the scheduler to the later tests' one host. */
	host("h2", 4, 4096, 0, 0);
}

/* ---- shelve ------------------------------------------------------------- */

static struct {
	char	uuid[37];
	char	host[64];
	int	calls;
} movec;

static int
fake_move(struct network *n, struct store_txn *txn, const char *dev,
    const char *host)
{
	(void)n;
	(void)txn;
	snprintf(movec.uuid, sizeof(movec.uuid), "%s", dev);
	snprintf(movec.host, sizeof(movec.host), "%s", host ? host : "-");
	movec.calls++;
	return 0;
}

/* The instance action reqid of uuid is action, ended with result. */
static void
action_is(const char *uuid, const char *reqid, const char *action,
    const char *result)
{
	struct store_txn *txn = NULL;
	struct rec_instance_action a;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_action_get(txn, uuid, reqid, &a), 0);
	store_txn_end(&txn);
	assert_string_equal(a.action, action);
	if (a.events.items[0].result == NULL)
		fprintf(stderr, "action %s of %s (%s): %zu events, unfinished\n",
		    action, uuid, reqid, a.events.n);
	assert_non_null(a.events.items[0].result);
	assert_string_equal(a.events.items[0].result, result);
	codec_clear(&schema_rec_instance_action, &a);
}

/*
 * Shelve's steps (compute_shelve.c starts them): shelving stops the guest
 * (ensure, power shutdown), shelving_image_uploading uploads its disk
 * into the shelved image (instance_snapshot, a request id of its own),
 * then vm_state shelved with shelved_* set and, shelved_offload_time
 * being 0, shelving_offloading has the host delete the guest: no host, the
 * claim released, the ports unbound, SHELVED_OFFLOADED, the action a
 * success. Unshelve of an offloaded server builds the guest from the
 * shelved image on the host the API claimed (a newer generation), and the
 * image goes once ACTIVE. Failures and the deadline never leave it stuck:
 * a failed upload restores the guest's power with a fault (image
 * discarded), a failed unshelve on a new host is offloaded again (claim
 * back), a kept guest's unshelve starts it, and a delete of a shelved
 * server deletes its image.
 */
static void
test_shelve(void **state)
{
	static const char img[] = "5c4b3a29-1e0f-4a9b-8c7d-6e5f4a3b2c1e";
	static const char img2[] = "6d5c4b3a-2f1e-4b0a-9d8e-7f6a5b4c3d2e";
	struct recon_snap rs = { NULL, fake_upload_token, fake_done,
	    fake_drop };
	struct recon_net rn = { .move_device = fake_move };
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "shelving", .want = 1, .snap_image = img };
	struct rec_host_usage u1, u2;
	struct msg_instance_ensure *e;
	struct msg_instance_snapshot *sn;
	struct codec_envelope *env;
	struct rec_instance i;
	struct got g = { .n = 0 };
	char rq[65], rq2[65];

	(void)state;
	recon_set_snapshot(rec, &rs);
	recon_set_network(rec, &rn);
	memset(&dropc, 0, sizeof(dropc));
	memset(&snapc, 0, sizeof(snapc));
	memset(&movec, 0, sizeof(movec));
	mk(&m);
	usage_of("h1", &u1);
	/* 1. The guest stops. */
	dispatch(m.uuid);
	env = find(&g, &schema_msg_instance_ensure, m.uuid);
	e = env->body;
	assert_string_equal(env->request_id, m.reqid);
	assert_int_equal(e->power, 4);
	assert_int_equal(e->generation, 1);
	answer("h1", m.uuid, m.reqid, true, 4, "ok", 1);
	/* 2. Its disk goes into the shelved image, under its own id. */
	task_of(m.uuid, "shelving_image_uploading", rq);
	assert_string_not_equal(rq, m.reqid);
	dispatch(m.uuid);
	env = find(&g, &schema_msg_instance_snapshot, m.uuid);
	sn = env->body;
	assert_string_equal(env->request_id, rq);
	assert_string_equal(sn->image_id, img);
	answer("h1", m.uuid, rq, true, 4, "ok", 1);
	/* 3. SHELVED, then offloaded at once. */
	task_of(m.uuid, "shelving_offloading", rq2);
	assert_string_not_equal(rq2, rq);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_SHELVED);
	assert_string_equal(i.shelved_image_id, img);
	assert_string_equal(i.shelved_host, "h1");
	assert_true(i.has_shelved_at);
	assert_null(i.snapshot_image_id);
	codec_clear(&schema_rec_instance, &i);
	dispatch(m.uuid);
	env = find(&g, &schema_msg_instance_delete, m.uuid);
	assert_string_equal(env->request_id, rq2);
	/* a report of the guest still there is no answer */
	answer("h1", m.uuid, NULL, true, 4, NULL, 1);
	task_of(m.uuid, "shelving_offloading", rq2);
	answer("h1", m.uuid, rq2, false, 0, "ok", 0);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_SHELVED_OFFLOADED);
	assert_null(i.host);
	assert_null(i.task_state);
	assert_int_equal(i.power_state, 0);
	assert_string_equal(i.shelved_image_id, img);
	assert_false(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	usage_of("h1", &u2);
	assert_int_equal(u2.vcpus, u1.vcpus - 1);
	assert_int_equal(u2.memory_mb, u1.memory_mb - 512);
	assert_int_equal(movec.calls, 1);
	assert_string_equal(movec.uuid, m.uuid);
	assert_string_equal(movec.host, "-");
	action_is(m.uuid, m.reqid, "shelve", "Success");
	assert_int_equal(dropc.calls, 0);
	assert_int_equal(snapc.calls, 0);
	got_clear(&g);

	/* 4. Unshelved onto h1 (the API's claim, generation 2): the guest
	 * is built from the shelved image, which then goes. */
	struct mk o = { .host = "h1", .vm_state = VM_SHELVED_OFFLOADED,
	    .task = "unshelving", .want = 1, .gen = 2, .shelved_image = img };

	mk(&o);
	usage_of("h1", &u1);
	dispatch(o.uuid);
	env = find(&g, &schema_msg_instance_ensure, o.uuid);
	e = env->body;
	assert_string_equal(env->request_id, o.reqid);
	assert_int_equal(e->power, 1);
	assert_int_equal(e->generation, 2);
	assert_string_equal(e->spec.image_id, img);
	assert_string_equal(e->spec.image_sha512, "ab12");
	answer("h1", o.uuid, o.reqid, true, 1, "ok", 2);
	assert_int_equal(get(o.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_string_equal(i.host, "h1");
	assert_null(i.shelved_image_id);
	assert_null(i.shelved_host);
	assert_false(i.has_shelved_at);
	assert_null(i.resize_image_sha512);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(dropc.calls, 1);
	assert_string_equal(dropc.image, img);
	action_is(o.uuid, o.reqid, "unshelve", "Success");
	usage_of("h1", &u2);
	assert_int_equal(u2.vcpus, u1.vcpus);
	got_clear(&g);

	/* 5. The same failing on h1: offloaded again, the claim back, a
	 * newer generation (h1 fences what it built), the image kept. */
	struct mk of = o;

	mk(&of);
	usage_of("h1", &u1);
	movec.calls = 0;
	answer("h1", of.uuid, of.reqid, false, 0, "error", 0);
	assert_int_equal(get(of.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_SHELVED_OFFLOADED);
	assert_null(i.host);
	assert_null(i.task_state);
	assert_true(i.has_fault);
	assert_int_equal(i.generation, 3);
	assert_string_equal(i.shelved_image_id, img);
	codec_clear(&schema_rec_instance, &i);
	usage_of("h1", &u2);
	assert_int_equal(u2.vcpus, u1.vcpus - 1);
	assert_int_equal(movec.calls, 1);
	assert_int_equal(dropc.calls, 1);
	action_is(of.uuid, of.reqid, "unshelve", "Error");
	got_clear(&g);

	/* 6. A failed upload: as it was (ACTIVE, its power back), a fault,
	 * the image discarded. */
	struct mk f = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "shelving_image_uploading", .action = "shelve", .want = 1,
	    .snap_image = img2 };

	mk(&f);
	answer("h1", f.uuid, f.reqid, true, 4, "error", 1);
	assert_int_equal(get(f.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_true(i.has_fault);
	assert_int_equal(i.want_power, 1);
	assert_string_equal(i.host, "h1");
	assert_null(i.snapshot_image_id);
	assert_null(i.shelved_image_id);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(snapc.calls, 1);
	assert_false(snapc.ok);
	assert_string_equal(snapc.image, img2);
	action_is(f.uuid, f.reqid, "shelve", "Error");

	/* 7. No answer to the stop past the deadline: the same, never
	 * stuck (a stopped server stays stopped). */
	struct mk t = { .host = "h1", .vm_state = VM_STOPPED,
	    .task = "shelving", .want = 4, .snap_image = img2 };

	t.started = db_now_ms() - 400000;	/* build_timeout */
	mk(&t);
	recon_scan(rec, db_now_ms());
	assert_int_equal(get(t.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_STOPPED);
	assert_null(i.task_state);
	assert_true(i.has_fault);
	assert_int_equal(i.want_power, 4);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(snapc.calls, 2);
	got_clear(&g);

	/* 8. A guest kept on its host (SHELVED): unshelve starts it there,
	 * same generation; the image goes. */
	struct mk k = { .host = "h1", .vm_state = VM_SHELVED,
	    .task = "unshelving", .want = 4, .shelved_image = img2 };

	mk(&k);
	dropc.calls = 0;
	dispatch(k.uuid);
	env = find(&g, &schema_msg_instance_ensure, k.uuid);
	e = env->body;
	assert_int_equal(e->power, 1);
	assert_int_equal(e->generation, 1);
	assert_true(e->spec.image_id == NULL ||
	    strcmp(e->spec.image_id, img2) != 0);
	answer("h1", k.uuid, k.reqid, true, 1, "ok", 1);
	assert_int_equal(get(k.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.shelved_image_id);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(dropc.calls, 1);
	assert_string_equal(dropc.image, img2);
	got_clear(&g);

	/* 9. shelveOffload of a kept one failing: still SHELVED on h1. */
	struct mk ko = { .host = "h1", .vm_state = VM_SHELVED,
	    .task = "shelving_offloading", .want = 4, .shelved_image = img2 };

	mk(&ko);
	answer("h1", ko.uuid, ko.reqid, true, 4, "error", 1);
	assert_int_equal(get(ko.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_SHELVED);
	assert_string_equal(i.host, "h1");
	assert_null(i.task_state);
	assert_true(i.has_fault);
	codec_clear(&schema_rec_instance, &i);
	action_is(ko.uuid, ko.reqid, "shelveOffload", "Error");

	/* 10. Deleting a shelved server deletes its image. */
	struct mk d = { .host = "h1", .vm_state = VM_SHELVED,
	    .task = "deleting", .want = 4, .shelved_image = img2 };

	mk(&d);
	dropc.calls = 0;
	answer("h1", d.uuid, d.reqid, false, 0, "ok", 0);
	assert_int_equal(get(d.uuid, &i), -1);
	assert_int_equal(dropc.calls, 1);
	assert_string_equal(dropc.image, img2);
	got_clear(&g);
	recon_set_network(rec, &(struct recon_net){ 0 });
}

/* The start-up audit recounts usage and claims from the instances. */
static int
skew_fn(struct store_txn *txn, void *arg)
{
	if (compute_db_usage_add(txn, "p1", 7, 7, 7) == -1 ||
	    compute_db_usage_add(txn, "ghost", 3, 3, 3) == -1)
		return -1;
	return compute_db_host_usage_add(txn, "h1", 5, 5, 5, 5);
}

static void
test_audit(void **state)
{
	struct rec_compute_usage u1, u2, g;
	struct rec_host_usage h1, h2;
	struct store_txn *txn = NULL;
	int fixed;

	/* Whatever earlier tests left is consistent... */
	assert_int_equal(recon_audit(rec, &fixed), 0);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_usage_get(txn, "p1", &u1), 0);
	assert_int_equal(compute_db_host_usage_get(txn, "h1", &h1), 0);
	store_txn_end(&txn);
	/* ...and a skew is put right. */
	assert_int_equal(store_write(st, skew_fn, NULL), 0);
	assert_int_equal(recon_audit(rec, &fixed), 0);
	assert_int_equal(fixed, 3);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(compute_db_usage_get(txn, "p1", &u2), 0);
	assert_int_equal(compute_db_usage_get(txn, "ghost", &g), 0);
	assert_int_equal(compute_db_host_usage_get(txn, "h1", &h2), 0);
	store_txn_end(&txn);
	assert_int_equal(u2.instances, u1.instances);
	assert_int_equal(u2.ram, u1.ram);
	assert_int_equal(g.instances, 0);
	assert_int_equal(h2.vcpus, h1.vcpus);
	assert_int_equal(h2.instances, h1.instances);
	assert_int_equal(recon_audit(rec, &fixed), 0);
	assert_int_equal(fixed, 0);
}

/* ---- interfaces (os-interface) ------------------------------------------- */

static char	nic_uuid[37];		/* the one device with a port */
#define NIC_MAC	"fa:16:3e:aa:bb:cc"

/* The Network service's ports of a device, as network_port_each_device()
 * gives them: one port for nic_uuid. */
static int
fake_each(struct store_txn *txn, const char *device_id,
    int (*cb)(const struct network_device_port *, void *), void *arg)
{
	static const char *const ips[] = { "10.0.0.5" };
	struct network_device_port p = { .port_id =
	    "5a1b2c3d-4e5f-4061-8728-394a5b6c7d01", .network_id =
	    "7e1a0b2c-3d4e-4f50-8a61-72839405a6b1", .network_name = "n1",
	    .mac = NIC_MAC, .mtu = 1450, .nips = 1, .ips = ips };

	(void)txn;
	if (strcmp(device_id, nic_uuid) != 0)
		return 0;
	return cb(&p, arg) == -1 ? -1 : 0;
}

/* The ensures for uuid among what was received: count, the last one's
 * request id and NIC count into reqid/nnics. */
static int
ensures_for(struct got *g, const char *uuid, char reqid[65], size_t *nnics,
    bool *sync)
{
	int n = 0;

	for (size_t k = 0; k < g->n; k++) {
		struct msg_instance_ensure *e;

		if (g->env[k].type != &schema_msg_instance_ensure)
			continue;
		e = g->env[k].body;
		if (strcmp(e->uuid, uuid) != 0)
			continue;
		n++;
		snprintf(reqid, 65, "%s", g->env[k].request_id);
		*nnics = e->spec.nics.n;
		*sync = e->has_sync_nics && e->sync_nics;
		if (e->spec.nics.n > 0)
			assert_string_equal(e->spec.nics.items[0].mac, NIC_MAC);
	}
	return n;
}

/*
 * Level-triggered NICs: a host report whose guest lists other MACs than
 * the instance's ports (an attach whose command was lost) makes recon send
 * the ensure again, with the whole NIC list and sync_nics; a matching
 * report, or one that does not list MACs, sends nothing.
 */
static void
test_nics_converge(void **state)
{
	struct mk a = { .host = "h1", .vm_state = VM_ACTIVE, .want = 1 };
	struct recon_net rn = { .each_device = fake_each };
	struct got g = { .n = 0 };
	struct sch_guest gs[1];
	char *macs[1] = { NIC_MAC }, reqid[65];
	size_t nnics = 99;
	bool sync = false;

	(void)state;
	mk(&a);
	snprintf(nic_uuid, sizeof(nic_uuid), "%s", a.uuid);
	recon_set_network(rec, &rn);
	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", a.uuid);
	gs[0].name = "instance-a";
	gs[0].power_state = 1;
	/* the guest has no NIC (present, empty list): the port's is sent */
	gs[0].macs.items = macs;
	gs[0].macs.n = 0;
	got_clear(&g);
	report(gs, 1, 0);
	pump(&g, 500);
	assert_int_equal(ensures_for(&g, a.uuid, reqid, &nnics, &sync), 1);
	assert_int_equal(nnics, 1);
	assert_true(sync);
	/* rate-limited while unanswered */
	got_clear(&g);
	report(gs, 1, 0);
	pump(&g, 300);
	assert_int_equal(ensures_for(&g, a.uuid, reqid, &nnics, &sync), 0);
	/* answered, the guest has the NIC: nothing more */
	answer("h1", a.uuid, reqid, true, 1, "ok", 1);
	gs[0].macs.n = 1;
	sleep(1);
	got_clear(&g);
	report(gs, 1, 0);
	pump(&g, 300);
	assert_int_equal(ensures_for(&g, a.uuid, reqid, &nnics, &sync), 0);
	/* a report without the list is not compared */
	gs[0].macs.items = NULL;
	gs[0].macs.n = 0;
	got_clear(&g);
	report(gs, 1, 0);
	pump(&g, 300);
	assert_int_equal(ensures_for(&g, a.uuid, reqid, &nnics, &sync), 0);
	/* a NIC the instance no longer has (a lost detach): sent again */
	gs[0].macs.items = macs;
	gs[0].macs.n = 1;
	nic_uuid[0] = '\0';
	got_clear(&g);
	report(gs, 1, 0);
	pump(&g, 500);
	assert_int_equal(ensures_for(&g, a.uuid, reqid, &nnics, &sync), 1);
	assert_int_equal(nnics, 0);
	assert_true(sync);
	got_clear(&g);
	recon_set_network(rec, &(struct recon_net){ 0 });
}

/* ---- volumes ------------------------------------------------------------ */

static char	vol_id[37], vol_att[37];
static bool	vol_ready;	/* what the storage sync knows of the export */
static int	vol_done;	/* attach_done calls */

static int
fake_conn(struct volume *v, struct store_txn *txn, const char *volume_id,
    const char *attachment_id, struct volume_conn *c)
{
	(void)v;
	(void)txn;
	memset(c, 0, sizeof(*c));
	snprintf(c->volume_id, sizeof(c->volume_id), "%s", volume_id);
	snprintf(c->attachment_id, sizeof(c->attachment_id), "%s",
	    attachment_id);
	snprintf(c->portal, sizeof(c->portal), "10.250.0.2:3260");
	snprintf(c->iqn, sizeof(c->iqn), "iqn.2010-10.org.openstack:"
	    "volume-%s", volume_id);
	snprintf(c->chap_user, sizeof(c->chap_user), "ChapUser");
	snprintf(c->chap_secret, sizeof(c->chap_secret), "ChapSecret0123");
	c->ready = vol_ready;
	return 0;
}

static int
fake_attach_done(struct volume *v, struct store_txn *txn,
    const char *volume_id, const char *attachment_id)
{
	(void)v;
	(void)txn;
	(void)attachment_id;
	assert_string_equal(volume_id, vol_id);
	vol_done++;
	return 0;
}

static int	vol_undone;	/* detach_done calls */

static int
fake_detach_done(struct volume *v, struct store_txn *txn,
    const char *volume_id, const char *attachment_id)
{
	(void)v;
	(void)txn;
	(void)volume_id;
	(void)attachment_id;
	vol_undone++;
	return 0;
}

/* The instance uuid gets volume vol_id, attaching (not yet attached). */
static int
add_vol_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance old, i;
	struct sch_inst_volume *iv;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	assert_non_null(iv = calloc(1, sizeof(*iv)));
	snprintf(iv->volume_id, sizeof(iv->volume_id), "%s", vol_id);
	snprintf(iv->attachment_id, sizeof(iv->attachment_id), "%s", vol_att);
	iv->device = strdup("/dev/vdb");
	i.volumes.items = iv;
	i.volumes.n = 1;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* The ensures for uuid among what was received: count, the last one's
 * volume count and sync_volumes. */
static int
vol_ensures(struct got *g, const char *uuid, size_t *nvols, bool *sync)
{
	int n = 0;

	for (size_t k = 0; k < g->n; k++) {
		struct msg_instance_ensure *e;

		if (g->env[k].type != &schema_msg_instance_ensure)
			continue;
		e = g->env[k].body;
		if (strcmp(e->uuid, uuid) != 0)
			continue;
		n++;
		*nvols = e->spec.volumes.n;
		*sync = e->has_sync_volumes && e->sync_volumes;
	}
	return n;
}

/*
 * A11: right after a controller restart the storage sync has not heard
 * from the storage host, so no export is known to be ready. A volume
 * whose attach the guest has (the host reports it) but recon has not
 * confirmed yet stays in the guest: no ensure that unplugs it, and the
 * report confirms the attach; an ensure sent meanwhile for another
 * reason (the power) carries it. One the guest does not have waits for
 * its export.
 */
static void
test_attaching_volume_after_restart(void **state)
{
	struct mk a = { .host = "h1", .vm_state = VM_ACTIVE, .want = 1 };
	struct recon_vol rv = { .conn = fake_conn,
	    .attach_done = fake_attach_done,
	    .detach_done = fake_detach_done };
	struct got g = { .n = 0 };
	struct sch_guest gs[1];
	struct rec_instance i;
	char *vols[1] = { vol_id };
	size_t nvols = 99;
	bool sync = false;

	(void)state;
	mk(&a);
	db_uuid(vol_id);
	db_uuid(vol_att);
	assert_int_equal(store_write(st, add_vol_fn, a.uuid), 0);
	recon_set_volume(rec, &rv);
	vol_ready = false;
	vol_done = 0;
	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", a.uuid);
	gs[0].name = "instance-a";
	gs[0].power_state = 1;
	/* the guest has no volume yet, the export is not known ready:
	 * nothing is sent (it waits for the export), nothing confirmed */
	gs[0].volumes.items = vols;
	gs[0].volumes.n = 0;
	got_clear(&g);
	report(gs, 1, 1);
	pump(&g, 300);
	assert_int_equal(vol_ensures(&g, a.uuid, &nvols, &sync), 0);
	assert_int_equal(vol_done, 0);
	/* the guest has it (plugged before the restart) and is paused: the
	 * ensure that corrects the power keeps the volume (was: an ensure
	 * with no volume and sync_volumes, which unplugged it), and the
	 * report confirms the attach */
	gs[0].volumes.n = 1;
	gs[0].power_state = POWER_PAUSED;
	got_clear(&g);
	report(gs, 1, 1);
	/* until the power's ensure and the confirmation are in (bounded:
	 * a loaded machine may take longer than the 500 ms this waited) */
	for (int k = 0; k < 200 && (vol_ensures(&g, a.uuid, &nvols,
	    &sync) == 0 || vol_done == 0); k++)
		pump(&g, 50);
	assert_int_equal(vol_ensures(&g, a.uuid, &nvols, &sync), 1);
	assert_int_equal(nvols, 1);
	assert_true(sync);
	assert_int_equal(vol_done, 1);
	assert_int_equal(get(a.uuid, &i), 0);
	assert_int_equal(i.volumes.n, 1);
	assert_true(i.volumes.items[0].has_attached &&
	    i.volumes.items[0].attached);
	codec_clear(&schema_rec_instance, &i);
	got_clear(&g);
	recon_set_volume(rec, &(struct recon_vol){ 0 });
}

/*
 * An evacuation with a volume (as the API leaves it: moved to h1 with a
 * new generation, the rebuilding task, the volume's attachment renamed to
 * h1's initiator and so no longer attached): the rebuild waits until the
 * storage host exports the volume to h1, then goes with it, so the new
 * guest boots with its volume. Was: the rebuild went at once without the
 * volume (attached cleared) or with it before its export named h1
 * (attached kept: qemu's login refused by the old ACL).
 */
static void
test_evacuation_waits_for_volumes(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "rebuilding", .action = "evacuate", .want = 1, .gen = 5 };
	struct recon_vol rv = { .conn = fake_conn,
	    .attach_done = fake_attach_done,
	    .detach_done = fake_detach_done };
	struct msg_instance_ensure *e;
	struct codec_envelope *env;
	struct got g = { .n = 0 };
	struct rec_instance i;
	char *vols[1] = { vol_id };
	struct msg_instance_state a = { 0 };
	struct recon_stats rs;

	(void)state;
	mk(&m);
	db_uuid(vol_id);
	db_uuid(vol_att);
	assert_int_equal(store_write(st, add_vol_fn, m.uuid), 0);
	recon_set_volume(rec, &rv);
	vol_ready = false;
	vol_done = 0;
	/* not exported to h1 yet: nothing goes (neither with the volume
	 * nor without it); the API's admin password is kept for it */
	assert_int_equal(get(m.uuid, &i), 0);
	recon_dispatch_pass(rec, &i, "evac-Pass-1");
	codec_clear(&schema_rec_instance, &i);
	none(&g);
	recon_stats(rec, &rs);
	assert_int_equal(rs.passes, 1);
	/* the storage sync's hook (compute_volume_ready()): the rebuild with
	 * the volume */
	vol_ready = true;
	assert_int_equal(get(m.uuid, &i), 0);
	recon_dispatch(rec, &i);
	codec_clear(&schema_rec_instance, &i);
	env = find(&g, &schema_msg_instance_ensure, m.uuid);
	assert_non_null(env);
	assert_string_equal(env->request_id, m.reqid);
	e = env->body;
	assert_int_equal(e->generation, 5);
	assert_true(e->has_rebuild && e->rebuild);
	assert_int_equal(e->spec.volumes.n, 1);
	assert_string_equal(e->spec.volumes.items[0].volume_id, vol_id);
	assert_true(e->has_sync_volumes && e->sync_volumes);
	/* held, and still the password the API answered with */
	assert_non_null(e->spec.admin_pass);
	assert_string_equal(e->spec.admin_pass, "evac-Pass-1");
	/* its answer lists the volume: ACTIVE and attached again */
	snprintf(a.uuid, sizeof(a.uuid), "%s", m.uuid);
	a.generation = 5;
	a.exists = true;
	a.power_state = POWER_RUNNING;
	a.state = "running";
	a.in_reply_to = m.reqid;
	a.result = "ok";
	a.volumes.items = vols;
	a.volumes.n = 1;
	answer_msg("h1", &a, m.reqid);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_true(i.volumes.items[0].has_attached &&
	    i.volumes.items[0].attached);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(vol_done, 1);
	/* answered: the password is dropped */
	recon_stats(rec, &rs);
	assert_int_equal(rs.passes, 0);
	got_clear(&g);
	recon_set_volume(rec, &(struct recon_vol){ 0 });
}

/* The instance uuid's volume vol_id is being detached (in-use, then the
 * API's detach). */
static int
detaching_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	assert_int_equal(i.volumes.n, 1);
	i.volumes.items[0].has_attached = true;
	i.volumes.items[0].attached = true;
	i.volumes.items[0].has_detaching = true;
	i.volumes.items[0].detaching = true;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/*
 * Nova 2.20's volumes of shelved servers, on the reconciler's side. The
 * unshelve of an offloaded server (as the API leaves it: placed on h1,
 * its attachments re-hosted there, not attached) builds the guest only
 * once every volume is exported to h1, and then with them: it boots with
 * the volumes attached while it was offloaded, as an evacuated guest
 * does. An offload that overtakes a detach of a SHELVED server's volume
 * completes it (no host will report the volume gone): the volume leaves
 * the server and its attachment goes.
 */
static void
test_shelved_volumes(void **state)
{
	static const char img[] = "7e6d5c4b-3a2f-4c1b-8e9f-8a7b6c5d4e3f";
	struct recon_vol rv = { .conn = fake_conn,
	    .attach_done = fake_attach_done,
	    .detach_done = fake_detach_done };
	struct mk o = { .host = "h1", .vm_state = VM_SHELVED_OFFLOADED,
	    .task = "unshelving", .want = 1, .gen = 2, .shelved_image = img };
	struct mk s = { .host = "h1", .vm_state = VM_SHELVED,
	    .task = "shelving_offloading", .want = 1 };
	struct msg_instance_ensure *e;
	struct codec_envelope *env;
	struct got g = { .n = 0 };
	struct rec_instance i;
	char *vols[1] = { vol_id };
	struct msg_instance_state a = { 0 };

	(void)state;
	mk(&o);
	db_uuid(vol_id);
	db_uuid(vol_att);
	assert_int_equal(store_write(st, add_vol_fn, o.uuid), 0);
	recon_set_volume(rec, &rv);
	vol_ready = false;
	vol_done = 0;
	vol_undone = 0;
	/* not exported to h1 yet: no ensure, with or without it */
	dispatch(o.uuid);
	none(&g);
	/* the storage sync's hook: the build, with the volume */
	vol_ready = true;
	dispatch(o.uuid);
	env = find(&g, &schema_msg_instance_ensure, o.uuid);
	assert_string_equal(env->request_id, o.reqid);
	e = env->body;
	assert_int_equal(e->generation, 2);
	assert_string_equal(e->spec.image_id, img);
	assert_int_equal(e->spec.volumes.n, 1);
	assert_string_equal(e->spec.volumes.items[0].volume_id, vol_id);
	assert_string_equal(e->spec.volumes.items[0].target_dev, "vdb");
	assert_true(e->has_sync_volumes && e->sync_volumes);
	/* its answer lists the volume: ACTIVE, the volume attached */
	snprintf(a.uuid, sizeof(a.uuid), "%s", o.uuid);
	a.generation = 2;
	a.exists = true;
	a.power_state = POWER_RUNNING;
	a.state = "running";
	a.in_reply_to = o.reqid;
	a.result = "ok";
	a.volumes.items = vols;
	a.volumes.n = 1;
	answer_msg("h1", &a, o.reqid);
	assert_int_equal(get(o.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_true(i.volumes.items[0].has_attached &&
	    i.volumes.items[0].attached);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(vol_done, 1);
	got_clear(&g);

	/* a SHELVED server's volume being detached when the offload's
	 * answer comes: detached with the guest, gone from the server */
	mk(&s);
	db_uuid(vol_id);
	db_uuid(vol_att);
	assert_int_equal(store_write(st, add_vol_fn, s.uuid), 0);
	assert_int_equal(store_write(st, detaching_fn, s.uuid), 0);
	answer("h1", s.uuid, s.reqid, false, 0, "ok", 0);
	assert_int_equal(get(s.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_SHELVED_OFFLOADED);
	assert_null(i.host);
	assert_null(i.task_state);
	assert_int_equal(i.volumes.n, 0);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(vol_undone, 1);
	got_clear(&g);
	recon_set_volume(rec, &(struct recon_vol){ 0 });
}

/*
 * A server booted from a volume is ACTIVE with the build's answer; the
 * volume is attached with it too when the answer lists the guest's volume
 * disks: Tempest live-migrates such a server within milliseconds of
 * ACTIVE, and the pre-check wants its volumes attached (was: only the
 * host's next report attached it, and os-migrateLive got 400). An answer
 * that does not list the volume leaves it attaching.
 */
static void
test_build_answer_attaches_volumes(void **state)
{
	struct mk a = { .host = "h1", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct mk b = { .host = "h1", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct recon_vol rv = { .conn = fake_conn,
	    .attach_done = fake_attach_done,
	    .detach_done = fake_detach_done };
	struct msg_instance_state m = { 0 };
	struct got g = { .n = 0 };
	struct rec_instance i;
	char *vols[1] = { vol_id };

	(void)state;
	mk(&a);
	mk(&b);
	db_uuid(vol_id);
	db_uuid(vol_att);
	assert_int_equal(store_write(st, add_vol_fn, a.uuid), 0);
	assert_int_equal(store_write(st, add_vol_fn, b.uuid), 0);
	recon_set_volume(rec, &rv);
	vol_ready = true;
	vol_done = 0;

	/* b's answer knows the guest has no volume disk: ACTIVE, the
	 * volume still attaching, nothing confirmed */
	snprintf(m.uuid, sizeof(m.uuid), "%s", b.uuid);
	m.generation = 1;
	m.exists = true;
	m.power_state = POWER_RUNNING;
	m.state = "running";
	m.in_reply_to = b.reqid;
	m.result = "ok";
	m.volumes.items = vols;
	m.volumes.n = 0;
	answer_msg("h1", &m, b.reqid);
	assert_int_equal(get(b.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_int_equal(i.volumes.n, 1);
	assert_false(i.volumes.items[0].has_attached &&
	    i.volumes.items[0].attached);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(vol_done, 0);

	/* a's answer lists it: ACTIVE and attached in the same write */
	snprintf(m.uuid, sizeof(m.uuid), "%s", a.uuid);
	m.in_reply_to = a.reqid;
	m.volumes.n = 1;
	answer_msg("h1", &m, a.reqid);
	assert_int_equal(vol_done, 1);
	assert_int_equal(get(a.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	assert_null(i.task_state);
	assert_int_equal(i.volumes.n, 1);
	assert_true(i.volumes.items[0].has_attached &&
	    i.volumes.items[0].attached);
	codec_clear(&schema_rec_instance, &i);

	/* the same answer again (a re-send's) confirms nothing twice */
	answer_msg("h1", &m, a.reqid);
	assert_int_equal(vol_done, 1);
	got_clear(&g);
	recon_set_volume(rec, &(struct recon_vol){ 0 });
}

/* The attachments live migrations moved (volume_attach_follow()). */
static int	vol_follow;
static char	vol_follow_host[64];

static int
fake_follow(struct volume *v, struct store_txn *txn, const char *volume_id,
    const char *attachment_id, const char *host)
{
	(void)v;
	(void)txn;
	assert_string_equal(volume_id, vol_id);
	assert_string_equal(attachment_id, vol_att);
	snprintf(vol_follow_host, sizeof(vol_follow_host), "%s", host);
	vol_follow++;
	return 0;
}

/* The instance uuid's volume vol_id is attached (the guest showed it). */
static int
vol_attached_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	i.volumes.items[0].has_attached = true;
	i.volumes.items[0].attached = true;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/*
 * Live migration of a server with a volume (test_live_migration's set-up:
 * h2 connected): the target's instance_migrate_prepare carries the
 * volume with its attachment and CHAP secret (the target defines it
 * before the guest arrives); success moves the attachment to the target
 * in the transaction that moves the instance; a failure (answered, or the
 * target not prepared) leaves it alone, the instance ACTIVE on the
 * source and the target's claim released; the lost answer settled by the
 * reports (a controller restart's way) moves it too.
 */
static void
lm_volumes(struct got *g)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "migrating", .action = "live-migration", .want = 1,
	    .gen = 3, .migrate_host = "h2" };
	struct recon_vol rv = { .conn = fake_conn,
	    .attach_done = fake_attach_done,
	    .detach_done = fake_detach_done, .follow = fake_follow };
	struct rec_host_usage v1, v2;
	char preq[65];

	recon_set_volume(rec, &rv);
	vol_ready = true;
	db_uuid(vol_id);
	db_uuid(vol_att);

	/* ok: prepared with the volume, then moved with it */
	mk(&m);
	assert_int_equal(store_write(st, add_vol_fn, m.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, m.uuid), 0);
	vol_follow = 0;
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
	assert_int_equal(h2_prep_vols, 1);
	assert_string_equal(h2_prep_att, vol_att);
	assert_string_equal(h2_prep_chap, "ChapSecret0123");
	prepared("h2", m.uuid, m.reqid, "ok");
	(void)find(g, &schema_msg_instance_migrate, m.uuid);
	assert_int_equal(vol_follow, 0);	/* not before the end */
	answer("h1", m.uuid, m.reqid, false, 0, "ok", 0);
	settled(m.uuid, "h2", 4);
	assert_int_equal(vol_follow, 1);
	assert_string_equal(vol_follow_host, "h2");
	got_clear(g);

	/* failed: the attachment stays, the target's claim goes back */
	mk(&m);
	assert_int_equal(store_write(st, add_vol_fn, m.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, m.uuid), 0);
	vol_follow = 0;
	usage_of("h2", &v1);
	answer("h1", m.uuid, m.reqid, true, 1, "error", 3);
	settled(m.uuid, "h1", 3);
	usage_of("h2", &v2);
	assert_int_equal(v2.instances, v1.instances - 1);
	assert_int_equal(vol_follow, 0);
	find_h2(&schema_msg_instance_migrate_cleanup, m.uuid, preq);

	/* the target could not prepare (say, a secret it could not
	 * define): the same roll-back */
	mk(&m);
	assert_int_equal(store_write(st, add_vol_fn, m.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, m.uuid), 0);
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
	prepared("h2", m.uuid, m.reqid, "error");
	settled(m.uuid, "h1", 3);
	assert_int_equal(vol_follow, 0);
	got_clear(g);

	/* the answer lost: the reports end it (the target's copy resumed),
	 * the attachment moved */
	mk(&m);
	assert_int_equal(store_write(st, add_vol_fn, m.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, m.uuid), 0);
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_migrate_prepare, m.uuid, preq);
	prepared("h2", m.uuid, m.reqid, "ok");
	(void)find(g, &schema_msg_instance_migrate, m.uuid);
	guest_on("h2", m.uuid, 3, 4);		/* incoming, paused */
	still_migrating(m.uuid);
	assert_int_equal(vol_follow, 0);
	answer("h1", m.uuid, m.reqid, false, 0, "error", 0);	/* no guest */
	still_migrating(m.uuid);
	guest_on("h2", m.uuid, 1, 4);
	settled(m.uuid, "h2", 4);
	assert_int_equal(vol_follow, 1);
	got_clear(g);
	recon_set_volume(rec, &(struct recon_vol){ 0 });
}

/* The API's revert of a cross-host resize (compute_resize.c finish_fn()
 * and revert_home(), reduced to what the reconciler reads): back to the
 * source with recon_resize_back(), a newer generation, resize_reverting
 * under the request id rv_req. */
static char	rv_req[65];

static int
revert_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance i, old;
	int moved = 0, rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	rc = recon_resize_back(rec, txn, &i, i.host, &moved);
	assert_int_equal(moved, 1);
	free(i.host);
	i.host = i.resize_source;
	i.resize_source = NULL;
	free(i.resize_host);
	i.resize_host = NULL;
	i.generation++;
	snprintf(rv_req, sizeof(rv_req), "req-rv-%s", i.uuid);
	if (rc == 0)
		rc = recon_task_begin_as(rec, txn, &i, "resize_reverting",
		    "revertResize", rv_req, "u1", "p1", db_now_ms());
	i.want_power = POWER_RUNNING;
	if (rc == 0)
		rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static int
past_deadline_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance i, old;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	i.task_deadline = db_now_ms() - 1;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* uuid's revert waits for host h (NULL: waits for none), in task t. */
static void
release_is(const char *uuid, const char *h, const char *t)
{
	struct rec_instance i;

	assert_int_equal(get(uuid, &i), 0);
	if (h == NULL)
		assert_null(i.resize_release);
	else
		assert_string_equal(i.resize_release, h);
	assert_string_equal(i.host, "h1");
	assert_string_not_equal(i.vm_state, VM_ERROR);
	if (t == NULL)
		assert_null(i.task_state);
	else
		assert_string_equal(i.task_state, t);
	codec_clear(&schema_rec_instance, &i);
}

/* No ensure of uuid reached h1 within ms. */
static void
no_ensure(struct got *g, const char *uuid, int64_t ms)
{
	got_clear(g);
	pump(g, ms);
	for (size_t k = 0; k < g->n; k++)
		assert_false(g->env[k].type == &schema_msg_instance_ensure &&
		    strcmp((const char *)g->env[k].body, uuid) == 0);
}

/*
 * A resize to another host with a volume attached (test_live_migration's
 * set-up: h2 connected). The attachment follows the guest to the target
 * in the transaction that moves it there (the source's guest stopped);
 * a revert takes it back and first has the target delete its guest: the
 * source's ensure goes only after the target answered that it is gone.
 * Lost answers are sent again, the deadline does not end the wait (two
 * guests writing one volume is worse than a revert that waits), a guest
 * still there keeps it waiting. A target that fails to build goes back
 * the same way.
 */
static void
xhost_volumes(struct got *g)
{
	static const char img[] = "9d5b4c3e-2f10-4b0c-9d8e-7f6a5b4c3d2e";
	struct recon_snap rs = { NULL, fake_upload_token, fake_done,
	    fake_drop };
	struct recon_vol rv = { .conn = fake_conn,
	    .attach_done = fake_attach_done,
	    .detach_done = fake_detach_done, .follow = fake_follow };
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "resize_migrated", .action = "migrate", .want = 1,
	    .gen = 4, .resized = true, .target = "h2", .source = "h1",
	    .snap_image = img };
	struct rec_instance i;
	char rq[65], dq[65];

	recon_set_volume(rec, &rv);
	recon_set_snapshot(rec, &rs);
	vol_ready = true;
	db_uuid(vol_id);
	db_uuid(vol_att);
	mk(&m);
	assert_int_equal(store_write(st, add_vol_fn, m.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, m.uuid), 0);
	vol_follow = 0;

	/* 1. The disk uploaded: host, generation and the attachment go to
	 * h2 together; h2 builds it; VERIFY_RESIZE. */
	assert_int_equal(store_write(st, image_fn, (void *)img), 0);
	answer("h1", m.uuid, m.reqid, true, 4, "ok", 4);
	task_of(m.uuid, "resize_finish", rq);
	assert_int_equal(vol_follow, 1);
	assert_string_equal(vol_follow_host, "h2");
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_ensure, m.uuid, dq);
	assert_string_equal(dq, rq);
	answer("h2", m.uuid, rq, true, 1, "ok", 5);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_RESIZED);
	assert_string_equal(i.host, "h2");
	assert_null(i.resize_release);
	codec_clear(&schema_rec_instance, &i);

	/* 2. Reverted: the attachment back on h1 at once, but h2 is asked
	 * to delete its guest and h1 gets nothing yet. */
	assert_int_equal(store_write(st, revert_fn, m.uuid), 0);
	assert_int_equal(vol_follow, 2);
	assert_string_equal(vol_follow_host, "h1");
	release_is(m.uuid, "h2", "resize_reverting");
	dispatch(m.uuid);
	find_h2(&schema_msg_instance_delete, m.uuid, dq);
	assert_string_equal(dq, rv_req);
	no_ensure(g, m.uuid, 300);
	/* its answer lost: the delete goes again, with the same id */
	pump(g, 1100);
	recon_scan(rec, db_now_ms());
	find_h2(&schema_msg_instance_delete, m.uuid, dq);
	assert_string_equal(dq, rv_req);
	/* past the deadline: still waiting, not in ERROR */
	assert_int_equal(store_write(st, past_deadline_fn, m.uuid), 0);
	recon_scan(rec, db_now_ms());
	release_is(m.uuid, "h2", "resize_reverting");
	/* h2 still has it (its delete failed): still waiting */
	answer("h2", m.uuid, rv_req, true, 1, "error", 5);
	release_is(m.uuid, "h2", "resize_reverting");
	no_ensure(g, m.uuid, 300);
	/* gone from h2: h1 starts its kept guest (resize=3), a fresh
	 * deadline */
	answer("h2", m.uuid, rv_req, false, 0, "ok", 0);
	release_is(m.uuid, NULL, "resize_reverting");
	recon_scan(rec, db_now_ms());
	assert_int_equal(sent_resize(g, m.uuid, 6), 3);
	answer("h1", m.uuid, rv_req, true, 1, "ok", 6);
	release_is(m.uuid, NULL, NULL);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	codec_clear(&schema_rec_instance, &i);
	mig_status(m.mig_id, "reverted");

	/* 3. The target failed to build it: back on h1 the same way. */
	struct mk f = { .host = "h2", .vm_state = VM_ACTIVE,
	    .task = "resize_finish", .action = "migrate", .want = 1,
	    .gen = 5, .resized = true, .target = "h2", .source = "h1",
	    .snap_image = img };

	mk(&f);
	assert_int_equal(store_write(st, add_vol_fn, f.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, f.uuid), 0);
	vol_follow = 0;
	answer("h2", f.uuid, f.reqid, false, 0, "error", 0);
	task_of(f.uuid, "resize_reverting", rq);
	release_is(f.uuid, "h2", "resize_reverting");
	assert_int_equal(vol_follow, 1);
	assert_string_equal(vol_follow_host, "h1");
	mig_status(f.mig_id, "error");
	dispatch(f.uuid);
	find_h2(&schema_msg_instance_delete, f.uuid, dq);
	assert_string_equal(dq, rq);
	no_ensure(g, f.uuid, 300);
	answer("h2", f.uuid, rq, false, 0, "ok", 0);
	recon_scan(rec, db_now_ms());
	assert_int_equal(sent_resize(g, f.uuid, 6), 3);
	answer("h1", f.uuid, rq, true, 1, "ok", 6);
	release_is(f.uuid, NULL, NULL);

	/* 3b. Reverted while h2 is away for good: the wait holds until the
	 * operator forces h2 down (fenced, as for an evacuation); then h1
	 * starts its kept guest without h2's answer. */
	static const char img2[] = "8c4a3b2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
	struct mk d = m;

	d.snap_image = img2;
	mk(&d);
	assert_int_equal(store_write(st, add_vol_fn, d.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, d.uuid), 0);
	assert_int_equal(store_write(st, image_fn, (void *)img2), 0);
	answer("h1", d.uuid, d.reqid, true, 4, "ok", 4);
	task_of(d.uuid, "resize_finish", rq);
	dispatch(d.uuid);
	answer("h2", d.uuid, rq, true, 1, "ok", 5);
	assert_int_equal(store_write(st, revert_fn, d.uuid), 0);
	release_is(d.uuid, "h2", "resize_reverting");
	host("h2", 4, 4096, 0, 0);		/* silent */
	assert_int_equal(store_write(st, past_deadline_fn, d.uuid), 0);
	recon_scan(rec, db_now_ms());
	release_is(d.uuid, "h2", "resize_reverting");
	no_ensure(g, d.uuid, 300);
	host_forced("h2", 1);
	recon_scan(rec, db_now_ms());
	release_is(d.uuid, NULL, "resize_reverting");
	recon_scan(rec, db_now_ms());
	assert_int_equal(sent_resize(g, d.uuid, 6), 3);
	answer("h1", d.uuid, rv_req, true, 1, "ok", 6);
	release_is(d.uuid, NULL, NULL);
	host_forced("h2", 0);
	host("h2", 4, 4096, 1, 0);

	/* 4. A failure before the target had it (the upload): no wait. */
	struct mk u = m;

	mk(&u);
	assert_int_equal(store_write(st, add_vol_fn, u.uuid), 0);
	assert_int_equal(store_write(st, vol_attached_fn, u.uuid), 0);
	vol_follow = 0;
	answer("h1", u.uuid, u.reqid, true, 4, "error", 4);
	release_is(u.uuid, NULL, "resize_reverting");
	assert_int_equal(vol_follow, 0);
	got_clear(g);
	recon_set_volume(rec, &(struct recon_vol){ 0 });
}

/* ---- attacks: what an authenticated agent may not change ------------- */


/* What is stored about uuid, encoded: the instance, its action of reqid
 * (if any) and its tombstone (if any), for byte comparison. */
static void
snapshot(const char *uuid, const char *reqid, struct buf *b)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	struct rec_instance_action a;
	struct rec_instance_tombstone tb;

	b->len = 0;
	assert_int_equal(store_read_begin(st, &txn), 0);
	if (compute_db_instance_get(txn, uuid, &i) == 0) {
		assert_int_equal(codec_record_encode(&schema_rec_instance, &i,
		    b), 0);
		codec_clear(&schema_rec_instance, &i);
	}
	assert_int_equal(buf_append(b, "|", 1), 0);
	if (reqid && compute_db_action_get(txn, uuid, reqid, &a) == 0) {
		assert_int_equal(codec_record_encode(
		    &schema_rec_instance_action, &a, b), 0);
		codec_clear(&schema_rec_instance_action, &a);
	}
	assert_int_equal(buf_append(b, "|", 1), 0);
	if (compute_db_tombstone_get(txn, uuid, &tb) == 0) {
		assert_int_equal(codec_record_encode(
		    &schema_rec_instance_tombstone, &tb, b), 0);
		codec_clear(&schema_rec_instance_tombstone, &tb);
	}
	store_txn_end(&txn);
	assert_true(b->len > 2);
}

static void
assert_same(const struct buf *before, const char *uuid, const char *reqid)
{
	struct buf after = { 0 };

	snapshot(uuid, reqid, &after);
	assert_int_equal(after.len, before->len);
	assert_memory_equal(after.data, before->data, before->len);
	buf_free(&after);
}

static int
tomb_fn(struct store_txn *txn, void *arg)
{
	return compute_db_tombstone_put(txn, arg);
}

/* h1 answers for an instance placed on h2 (the right request id, even):
 * the instance, its task and its action stay as they are; the same for a
 * deleted instance of h2, whose tombstone stays. Logged once each. */
static void
test_foreign_state_ignored(void **state)
{
	struct mk m = { .host = "h2", .vm_state = VM_BUILDING,
	    .task = "spawning", .want = 1 };
	struct rec_instance_tombstone tb = { 0 };
	struct sch_guest gs[1];
	struct buf before = { 0 };
	char line[160];

	mk(&m);
	snapshot(m.uuid, m.reqid, &before);
	logcap_begin();
	answer("h1", m.uuid, m.reqid, true, 1, "ok", 1);
	snprintf(line, sizeof(line), "agent h1 reports instance %s, which is "
	    "placed on h2: ignored", m.uuid);
	logcap_end_one(line);
	assert_same(&before, m.uuid, m.reqid);
	/* "Gone" does not delete it either. */
	logcap_begin();
	answer("h1", m.uuid, m.reqid, false, 0, "ok", 1);
	logcap_end_one(line);
	assert_same(&before, m.uuid, m.reqid);

	/* Nor does the guest in h1's report (fenced: deleted on h1, see
	 * test_fencing). The report re-creates h1's missing instances of
	 * earlier tests as well, which is logged too. */
	memset(gs, 0, sizeof(gs));
	snprintf(gs[0].uuid, sizeof(gs[0].uuid), "%s", m.uuid);
	gs[0].name = "instance-foreign";
	gs[0].power_state = 4;
	logcap_begin();
	report(gs, 1, 0);
	logcap_stop();
	snprintf(line, sizeof(line), "guest %s on h1 belongs to an instance "
	    "placed on h2: deleting it", m.uuid);
	assert_int_equal(logcap_count(line), 1);
	assert_same(&before, m.uuid, m.reqid);
	pump(NULL, 200);

	db_uuid(tb.uuid);
	tb.host = "h2";
	tb.generation = 1;
	tb.deleted_at = db_now_ms();
	assert_int_equal(store_write(st, tomb_fn, &tb), 0);
	snapshot(tb.uuid, NULL, &before);
	logcap_begin();
	answer("h1", tb.uuid, "req-gone", false, 0, "ok", 1);
	snprintf(line, sizeof(line), "agent h1 reports deleted instance %s, "
	    "which was on h2: ignored", tb.uuid);
	logcap_end_one(line);
	assert_same(&before, tb.uuid, NULL);
	buf_free(&before);
}

/* A state of an older generation than the instance's (a guest from
 * before a rebuild or a move, or a replayed message), even one naming
 * the current task's request id, does not complete the task or roll the
 * instance back. Logged once. */
static void
test_stale_state_ignored(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "powering-off", .want = 1, .gen = 3 };
	struct buf before = { 0 };
	char line[160];

	mk(&m);
	snapshot(m.uuid, m.reqid, &before);
	logcap_begin();
	answer("h1", m.uuid, m.reqid, true, 4, "ok", 2);
	snprintf(line, sizeof(line), "stale report of %s (generation 2 < 3) "
	    "ignored", m.uuid);
	logcap_end_one(line);
	assert_same(&before, m.uuid, m.reqid);
	/* The current generation completes it. */
	answer("h1", m.uuid, m.reqid, true, 4, "ok", 3);
	{
		struct rec_instance i;

		assert_int_equal(get(m.uuid, &i), 0);
		assert_string_equal(i.vm_state, VM_STOPPED);
		assert_null(i.task_state);
		codec_clear(&schema_rec_instance, &i);
	}
	buf_free(&before);
}

struct begin_arg {
	const char	*uuid;
	const char	*task;
	const char	*reqid;
};

static int
begin_fn(struct store_txn *txn, void *arg)
{
	struct begin_arg *b = arg;
	struct rec_instance i, old;
	int rc;

	if (compute_db_instance_get(txn, b->uuid, &i) == -1)
		return -1;
	if (compute_db_instance_get(txn, b->uuid, &old) == -1) {
		codec_clear(&schema_rec_instance, &i);
		return -1;
	}
	rc = recon_task_begin(rec, txn, &i, b->task, b->reqid, "u1", "p1",
	    db_now_ms());
	if (rc == 0)
		rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* The answer to a finished task, delivered again once the next task has
 * begun (a late duplicate: the agent answers every resend), does not
 * complete the new task; the power it reports is the same as stored, so
 * nothing changes. */
static void
test_old_reqid_replay(void **state)
{
	struct mk m = { .host = "h1", .vm_state = VM_ACTIVE,
	    .task = "powering-off", .want = 1 };
	struct begin_arg b;
	struct buf before = { 0 };
	struct rec_instance i;

	mk(&m);
	answer("h1", m.uuid, m.reqid, true, 4, "ok", 1);
	b.uuid = m.uuid;
	b.task = "powering-on";
	b.reqid = "req-on";
	assert_int_equal(store_write(st, begin_fn, &b), 0);
	snapshot(m.uuid, "req-on", &before);
	answer("h1", m.uuid, m.reqid, true, 4, "ok", 1);
	assert_same(&before, m.uuid, "req-on");
	assert_int_equal(get(m.uuid, &i), 0);
	assert_string_equal(i.task_state, "powering-on");
	assert_string_equal(i.vm_state, VM_STOPPED);
	codec_clear(&schema_rec_instance, &i);
	answer("h1", m.uuid, "req-on", true, 1, "ok", 1);
	assert_int_equal(get(m.uuid, &i), 0);
	assert_null(i.task_state);
	assert_string_equal(i.vm_state, VM_ACTIVE);
	codec_clear(&schema_rec_instance, &i);
	buf_free(&before);
}

/* recon_console() on a thread of its own, as an API worker calls it. */
struct console_call {
	char	 uuid[37];
	int	 rc;
	char	*out;
};

static void *
console_thread(void *arg)
{
	struct console_call *c = arg;

	c->rc = recon_console(rec, c->uuid, "h1", 0, &c->out);
	return NULL;
}

static void
console_from(const char *from, const char *uuid, const char *reqid,
    const char *output)
{
	struct msg_console_output m = { 0 };

	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.in_reply_to = (char *)reqid;
	m.found = true;
	m.output = (char *)output;
	(void)from_agent(from, &schema_msg_console_output, &m, reqid);
}

/* A console log asked of h1 and answered first by h9 (with the request
 * id, even): h9's answer is ignored and logged once; h1's is the one the
 * caller gets. */
static void
test_console_from_other_host(void **state)
{
	struct console_call c = { .rc = -2 };
	struct codec_envelope *env;
	struct got g = { .n = 0 };
	char reqid[65], line[160];
	pthread_t t;

	db_uuid(c.uuid);
	pump(NULL, 100);
	assert_int_equal(pthread_create(&t, NULL, console_thread, &c), 0);
	env = find(&g, &schema_msg_console_get, c.uuid);
	snprintf(reqid, sizeof(reqid), "%s", env->request_id);
	got_clear(&g);
	logcap_begin();
	console_from("h9", c.uuid, reqid, "forged");
	snprintf(line, sizeof(line), "console_output from h9, asked of h1: "
	    "ignored");
	logcap_end_one(line);
	console_from("h1", c.uuid, reqid, "real");
	pthread_join(t, NULL);
	assert_int_equal(c.rc, 0);
	assert_non_null(c.out);
	assert_string_equal(c.out, "real");
	free(c.out);
}

/* rec again, as setup() makes it, with [DEFAULT] shelved_offload_time t. */
static void
recon_reopen(int t)
{
	struct recon_opts ro = { 0 };

	recon_free(&rec);
	ro.controller_host = "ctl";
	ro.build_timeout = 30;
	ro.action_timeout = 10;
	ro.resend_interval = 1;
	ro.console_timeout = 1;
	ro.shelved_offload_time = t;
	assert_non_null(rec = recon_new(st, srv, sch, &ro));
}

/* Whether uuid is SHELVED without a task (not offloaded, nor being). */
static bool
still_shelved(const char *uuid)
{
	struct rec_instance i;
	bool yes;

	assert_int_equal(get(uuid, &i), 0);
	yes = strcmp(i.vm_state, VM_SHELVED) == 0 && i.task_state == NULL &&
	    i.host != NULL;
	codec_clear(&schema_rec_instance, &i);
	return yes;
}

/*
 * Nova's _poll_shelved_instances: with shelved_offload_time > 0 the scan
 * starts shelveOffload's task (action shelveOffload, the host told to
 * delete the guest) on a SHELVED server shelved longer ago than that; the
 * answer offloads it as an API shelveOffload's would (no host, claim
 * released). One shelved more recently is left; so is every one with the
 * option 0 (the offload at shelve time) or negative (never), one on a
 * host that is down, and one whose offload failed until the time passed
 * again. A scan starts a bounded number: 40 due servers take more than
 * one scan, and all go within a few.
 */
static void
test_shelved_offload_periodic(void **state)
{
	static const char img[] = "7e6d5c4b-3a2f-4c1b-8e9f-0a1b2c3d4e5f";
	struct recon_net rn = { .move_device = fake_move };
	int64_t now = db_now_ms();
	struct mk due = { .host = "h1", .vm_state = VM_SHELVED, .want = 4,
	    .shelved_image = img, .shelved_at = now - 120 * 1000 };
	struct mk young = due;
	struct mk many[40];
	struct rec_host_usage u1, u2;
	struct codec_envelope *env;
	struct rec_instance i;
	struct got g = { .n = 0 };
	char rq[65];
	size_t left;

	(void)state;
	/* 0 and negative: never by the scan */
	recon_reopen(0);
	mk(&due);
	recon_scan(rec, now + 3600 * 1000);
	assert_true(still_shelved(due.uuid));
	recon_reopen(-1);
	recon_scan(rec, now + 3600 * 1000);
	assert_true(still_shelved(due.uuid));

	/* 60 s: the one shelved 120 s ago goes, the one 30 s ago stays */
	recon_reopen(60);
	recon_set_network(rec, &rn);
	memset(&movec, 0, sizeof(movec));
	young.shelved_at = now - 30 * 1000;
	mk(&young);
	usage_of("h1", &u1);
	recon_scan(rec, now);
	assert_true(still_shelved(young.uuid));
	task_of(due.uuid, "shelving_offloading", rq);
	env = find(&g, &schema_msg_instance_delete, due.uuid);
	assert_string_equal(env->request_id, rq);
	answer("h1", due.uuid, rq, false, 0, "ok", 0);
	assert_int_equal(get(due.uuid, &i), 0);
	assert_string_equal(i.vm_state, VM_SHELVED_OFFLOADED);
	assert_null(i.host);
	assert_null(i.task_state);
	assert_string_equal(i.shelved_image_id, img);
	codec_clear(&schema_rec_instance, &i);
	action_is(due.uuid, rq, "shelveOffload", "Success");
	usage_of("h1", &u2);
	assert_int_equal(u2.vcpus, u1.vcpus - 1);
	assert_int_equal(u2.memory_mb, u1.memory_mb - 512);
	assert_int_equal(movec.calls, 1);
	got_clear(&g);
	/* its time comes */
	recon_scan(rec, now + 31 * 1000);
	task_of(young.uuid, "shelving_offloading", rq);

	/* a host that is down is not asked; a host that failed the offload
	 * is asked again only after the time again, not every scan */
	struct mk down = due, failed = due;

	host("h2", 4, 4096, 0, 0);
	down.host = "h2";
	mk(&down);
	mk(&failed);
	recon_scan(rec, now);
	assert_true(still_shelved(down.uuid));
	task_of(failed.uuid, "shelving_offloading", rq);
	answer("h1", failed.uuid, rq, true, 4, "error", 1);
	assert_true(still_shelved(failed.uuid));
	action_is(failed.uuid, rq, "shelveOffload", "Error");
	recon_scan(rec, db_now_ms() + 30 * 1000);
	assert_true(still_shelved(failed.uuid));
	recon_scan(rec, db_now_ms() + 61 * 1000);
	task_of(failed.uuid, "shelving_offloading", rq);
	assert_true(still_shelved(down.uuid));

	/* bounded per scan */
	for (size_t k = 0; k < 40; k++) {
		many[k] = due;
		mk(&many[k]);
	}
	recon_scan(rec, now);
	left = 0;
	for (size_t k = 0; k < 40; k++)
		left += still_shelved(many[k].uuid);
	assert_true(left > 0);
	assert_true(left < 40);
	for (int n = 0; n < 10 && left > 0; n++) {
		recon_scan(rec, now);
		left = 0;
		for (size_t k = 0; k < 40; k++)
			left += still_shelved(many[k].uuid);
	}
	assert_int_equal(left, 0);
	for (size_t k = 0; k < 40; k++)
		task_of(many[k].uuid, "shelving_offloading", rq);
	pump(NULL, 200);
	recon_reopen(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_filters),
		cmocka_unit_test(test_sched_aggregates),
		cmocka_unit_test(test_build_completes),
		cmocka_unit_test(test_resend_then_deadline),
		cmocka_unit_test(test_failed_build_and_action),
		cmocka_unit_test(test_build_unavailable_retried),
		cmocka_unit_test(test_snapshot_tasks),
		cmocka_unit_test(test_delete_releases),
		cmocka_unit_test(test_reconcile_report),
		cmocka_unit_test(test_local_delete_tombstone),
		cmocka_unit_test(test_fencing),
		cmocka_unit_test(test_calm_report_skip),
		cmocka_unit_test(test_report_superseded),
		cmocka_unit_test(test_evacuation_converges),
		cmocka_unit_test(test_live_migration),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_resize_cross_host),
		cmocka_unit_test(test_shelve),
		cmocka_unit_test(test_foreign_state_ignored),
		cmocka_unit_test(test_stale_state_ignored),
		cmocka_unit_test(test_old_reqid_replay),
		cmocka_unit_test(test_console_from_other_host),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_sched_claims_never_overallocate),
		cmocka_unit_test(test_sched_top_and_fallback),
		cmocka_unit_test(test_sched_seen_outlives_store),
		cmocka_unit_test(test_sched_backlog),
		cmocka_unit_test(test_sched_refresh_changed),
		cmocka_unit_test(test_rank_sees_registration),
		cmocka_unit_test(test_nics_converge),
		cmocka_unit_test(test_attaching_volume_after_restart),
		cmocka_unit_test(test_build_answer_attaches_volumes),
		cmocka_unit_test(test_evacuation_waits_for_volumes),
		cmocka_unit_test(test_shelved_volumes),
		cmocka_unit_test(test_shelved_offload_periodic),
	};

	log_init("recon_test", getenv("RT_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
