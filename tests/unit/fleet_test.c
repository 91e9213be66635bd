/*
 * fleet_test: the controller's agent registry (controller/fleet.c) over a
 * real LMDB store and a real bus pair on 127.0.0.1. The test speaks as
 * agent "h1" from the client end; frames the server end receives are
 * handed to fleet_handle() as the controller's bus thread does, and
 * fleet_tick() runs on the test's thread, so every step is deterministic.
 *
 * What it proves: the batched heartbeat write never overwrites what the
 * operator changed in the store between ticks (disable with a reason,
 * enable, force-down), and never brings back a service the operator
 * deleted (DELETE /os-services/{id}); the agent is told it is unknown and
 * its next hello registers a new service.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <msgpack.h>

#include "bus.h"
#include "clock.h"
#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "core/fleet.h"
#include "core/hoststatus.h"
#include "core/telemetry.h"
#include "log.h"
#include "metrics.h"
#include "msg_gen.h"
#include "store.h"
#include "logcap.h"

#define WAIT_MS	3000

static char		 dir[] = "/tmp/fleet_test.XXXXXX";
static struct store	*st;
static struct bus	*srv, *cli;
static struct fleet	*fl;
/* Set: the key exchange() says the received frames' connection has (as
 * the bus does with CURVE), for a fleet that requires enrolment. */
static const char	*conn_key;
static uint64_t		 seq;
static const char	*hello_tunnel;	/* tunnel_ip of the next hello */
static uint32_t		 hb_vcpus_used;	/* vcpus_used of the heartbeats */
static const char	*hb_guest;	/* uuid of the heartbeats' one guest,
					 * NULL: none */
static struct metrics	*reg;		/* /metrics with the fleet's collector
					 * and telemetry's */

/* Frames from the agent reach the fleet as on the controller's bus thread;
 * the first reply from the controller is decoded into *reply (may be
 * NULL: replies are then dropped). Waits up to WAIT_MS for one. */
static void
exchange(struct codec_envelope *reply)
{
	int64_t until = clock_mono_ms() + WAIT_MS;
	int got = 0;

	while (clock_mono_ms() < until && !got) {
		struct bus_msg m;

		while (bus_poll(srv, 5, &m) == 1) {
			if (conn_key != NULL)
				snprintf(m.pubkey, sizeof(m.pubkey), "%s",
				    conn_key);
			fleet_handle(fl, &m);
			bus_msg_clear(&m);
		}
		/* the bus is quiet: registrations are written */
		fleet_idle(fl);
		while (bus_poll(cli, 5, &m) == 1) {
			if (!got && reply != NULL) {
				memset(reply, 0, sizeof(*reply));
				assert_int_equal(codec_envelope_decode(m.data,
				    m.len, SCHEMA_FROM_CONTROLLER, reply), 0);
			}
			got = 1;
			bus_msg_clear(&m);
		}
	}
	assert_true(got);
}

static void
send_env(const struct schema_type *t, const void *body)
{
	struct buf b = { 0 };
	char id[64];

	snprintf(id, sizeof(id), "req-%llu", (unsigned long long)++seq);
	assert_int_equal(codec_envelope_encode(t, body, id, "h1", &b), 0);
	assert_int_equal(bus_send(cli, NULL, b.data, b.len), 0);
	buf_free(&b);
}

static void
hello_send(void)
{
	struct msg_agent_hello m = { 0 };

	m.host = "h1";
	m.agent_version = "test";
	m.hypervisor_type = "QEMU";
	m.hypervisor_version = 7002000;
	m.libvirt_uri = "test:///default";
	m.cpu_model = "x";
	m.cpu_arch = "x86_64";
	m.vcpus = 4;
	m.memory_mb = 4096;
	m.local_gb = 100;
	m.started_at = db_now_ms();
	m.tunnel_ip = (char *)hello_tunnel;
	send_env(&schema_msg_agent_hello, &m);
}

static void
hello(void)
{
	struct codec_envelope r;

	hello_send();
	exchange(&r);
	assert_ptr_equal(r.type, &schema_msg_hello_ack);
	codec_envelope_clear(&r);
}

/* One heartbeat; returns the type of the controller's reply. */
static const struct schema_type *
heartbeat(uint32_t *err_code)
{
	struct msg_heartbeat m = { 0 };
	struct sch_guest g = { 0 };
	struct codec_envelope r;
	const struct schema_type *t;

	m.host = "h1";
	m.seq = seq + 1;
	m.running_vms = 0;
	m.vcpus_used = hb_vcpus_used;
	if (hb_guest != NULL) {
		snprintf(g.uuid, sizeof(g.uuid), "%s", hb_guest);
		g.name = "instance-1";
		g.state = "shutoff";
		g.power_state = 4;
		m.guests.items = &g;
		m.guests.n = 1;
	}
	send_env(&schema_msg_heartbeat, &m);
	exchange(&r);
	t = r.type;
	if (t == &schema_msg_error && err_code != NULL)
		*err_code = ((struct msg_error *)r.body)->code;
	codec_envelope_clear(&r);
	return t;
}

/* The stored service of h1: 0, or -1 when there is none. */
static int
stored(struct rec_service *s)
{
	struct store_txn *txn = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_read_begin(st, &txn), 0);
	rc = db_service_by_host(txn, "h1", s);
	if (rc == -1)
		assert_int_equal(err_code(), TS_ENOT_FOUND);
	store_txn_end(&txn);
	return rc;
}

static size_t
count_idx(const char *index)
{
	struct store_txn *txn = NULL;
	size_t n = 0;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(store_count(txn, index, &n), 0);
	store_txn_end(&txn);
	return n;
}

static int
hypervisor_exists(void)
{
	struct store_txn *txn = NULL;
	struct rec_hypervisor h;
	int rc;

	assert_int_equal(store_read_begin(st, &txn), 0);
	rc = db_hypervisor_by_host(txn, "h1", &h);
	store_txn_end(&txn);
	if (rc == 0)
		codec_clear(&schema_rec_hypervisor, &h);
	return rc == 0;
}

/* ---- the operator, as the os-services API writes ------------------------ */

struct edit {
	int		 disable;	/* -1 unchanged */
	const char	*reason;
	int		 forced;	/* -1 unchanged */
};

static int
edit_fn(struct store_txn *txn, void *arg)
{
	struct edit *e = arg;
	struct rec_service s;
	int rc;

	if (db_service_by_host(txn, "h1", &s) == -1)
		return -1;
	if (e->disable != -1) {
		s.disabled = e->disable;
		free(s.disabled_reason);
		s.disabled_reason = e->reason ? strdup(e->reason) : NULL;
	}
	if (e->forced != -1)
		s.forced_down = e->forced;
	s.updated_at = db_now_ms();
	rc = db_service_put(txn, &s);
	codec_clear(&schema_rec_service, &s);
	return rc;
}

/* What DELETE /os-services/{id} removes (compute_admin.c svc_del_fn). */
static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct rec_service s;
	struct rec_hypervisor hv;
	int rc = 0;

	if (db_service_by_host(txn, "h1", &s) == 0) {
		rc = store_del(txn, T_SERVICES, s.id, strlen(s.id));
		if (rc == 0)
			rc = store_index_del(txn, T_SERVICES_BY_HOST, "h1", 2,
			    s.id, strlen(s.id));
		codec_clear(&schema_rec_service, &s);
	}
	if (rc == 0 && db_hypervisor_by_host(txn, "h1", &hv) == 0) {
		rc = store_del(txn, T_HYPERVISORS, hv.id, strlen(hv.id));
		if (rc == 0)
			rc = store_index_del(txn, T_HYPERVISORS_BY_HOST, "h1",
			    2, hv.id, strlen(hv.id));
		codec_clear(&schema_rec_hypervisor, &hv);
	}
	return rc;
}

static void
edit(int disable, const char *reason, int forced)
{
	struct edit e = { disable, reason, forced };

	assert_int_equal(store_write(st, edit_fn, &e), 0);
}

/* ---- tests ---------------------------------------------------------------- */

/* Hands n frames from the agent to the fleet, without fleet_idle(). */
static void
handle_n(int n)
{
	int64_t until = clock_mono_ms() + WAIT_MS;
	struct bus_msg m;

	while (n > 0 && clock_mono_ms() < until) {
		if (bus_poll(srv, 5, &m) == 1) {
			fleet_handle(fl, &m);
			bus_msg_clear(&m);
			n--;
		}
	}
	assert_int_equal(n, 0);
}

/* The next reply to the agent, decoded into *r; 0 if none within ms. */
static int
reply_within(struct codec_envelope *r, int ms)
{
	int64_t until = clock_mono_ms() + ms;
	struct bus_msg m;

	while (clock_mono_ms() < until) {
		if (bus_poll(cli, 5, &m) == 1) {
			memset(r, 0, sizeof(*r));
			assert_int_equal(codec_envelope_decode(m.data, m.len,
			    SCHEMA_FROM_CONTROLLER, r), 0);
			bus_msg_clear(&m);
			return 1;
		}
	}
	return 0;
}

/*
 * Registrations wait for a batch (one transaction for many hellos) and are
 * acknowledged only once written: two hellos in a row are one write and
 * one ack, to the newer; a heartbeat behind a waiting hello has the hello
 * written first.
 */
static void
test_hellos_batched(void **state)
{
	struct rec_service s;
	struct codec_envelope r;
	struct msg_heartbeat hb = { 0 };
	char want[64];

	(void)state;
	assert_int_equal(store_write(st, delete_fn, NULL), 0);
	fleet_tick(fl, db_now_ms());	/* notices the deletion */
	hello_send();
	hello_send();
	snprintf(want, sizeof(want), "req-%llu", (unsigned long long)seq);
	handle_n(2);
	assert_true(fleet_busy(fl));
	assert_int_equal(stored(&s), -1);	/* not yet written ... */
	assert_int_equal(reply_within(&r, 200), 0);	/* ... nor acked */
	fleet_idle(fl);
	assert_false(fleet_busy(fl));
	assert_int_equal(stored(&s), 0);
	codec_clear(&schema_rec_service, &s);
	assert_int_equal(reply_within(&r, WAIT_MS), 1);
	assert_ptr_equal(r.type, &schema_msg_hello_ack);
	assert_string_equal(r.request_id, want);
	codec_envelope_clear(&r);
	assert_int_equal(reply_within(&r, 200), 0);	/* one ack */

	hello_send();
	handle_n(1);
	assert_true(fleet_busy(fl));
	hb.host = "h1";
	hb.seq = seq + 1;
	send_env(&schema_msg_heartbeat, &hb);
	handle_n(1);
	assert_false(fleet_busy(fl));
	assert_int_equal(reply_within(&r, WAIT_MS), 1);
	assert_ptr_equal(r.type, &schema_msg_hello_ack);
	codec_envelope_clear(&r);
	assert_int_equal(reply_within(&r, WAIT_MS), 1);
	assert_ptr_equal(r.type, &schema_msg_heartbeat_ack);
	codec_envelope_clear(&r);
}

static void
test_operator_switches_survive_ticks(void **state)
{
	struct rec_service s;
	uint64_t count;
	int64_t seen;

	hello();
	assert_int_equal(stored(&s), 0);
	assert_false(s.disabled);
	count = s.report_count;
	seen = s.last_seen_at;
	codec_clear(&schema_rec_service, &s);

	/* Disabled with a reason and forced down between two ticks, while
	 * heartbeats make the fleet's copy dirty. */
	edit(1, "maintenance", 1);
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(stored(&s), 0);
	assert_true(s.disabled);
	assert_non_null(s.disabled_reason);
	assert_string_equal(s.disabled_reason, "maintenance");
	assert_true(s.forced_down);
	/* ... and the heartbeats were written all the same. */
	assert_true(s.report_count >= count + 2);
	assert_true(s.last_seen_at >= seen);
	codec_clear(&schema_rec_service, &s);

	/* Enabled again: memory held "disabled" from the last write, which
	 * must not win either. */
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	edit(0, NULL, 0);
	fleet_tick(fl, db_now_ms());
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(stored(&s), 0);
	assert_false(s.disabled);
	assert_null(s.disabled_reason);
	assert_false(s.forced_down);
	codec_clear(&schema_rec_service, &s);
	assert_int_equal(fleet_flush(fl), 0);
}

/*
 * A host is judged from the moment the bus thread last caught up with its
 * socket: its heartbeat waiting unread in libzmq (the thread behind, as
 * in a creates burst at 10,000 agents) does not make it down; with the
 * socket drained, a host silent for service_down_time is down on time.
 */
static void
test_down_judged_behind_backlog(void **state)
{
	struct msg_heartbeat m = { 0 };
	struct codec_envelope r;
	struct rec_service s;
	int64_t seen, until;

	hello();
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	assert_int_equal(stored(&s), 0);
	seen = s.last_seen_at;
	codec_clear(&schema_rec_service, &s);

	/* The next heartbeat is sent and not read: the loop is behind. */
	m.host = "h1";
	m.seq = seq + 1;
	send_env(&schema_msg_heartbeat, &m);
	until = clock_mono_ms() + WAIT_MS;
	while (bus_backlog_ms(srv) < 500 && clock_mono_ms() < until) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	assert_true(bus_backlog_ms(srv) >= 500);
	logcap_begin();
	fleet_tick(fl, seen + 60 * 1000 + 200);
	logcap_stop();
	assert_int_equal(logcap_count("is down"), 0);

	/* Read: the loop caught up, and the host is alive. */
	handle_n(1);
	assert_int_equal(reply_within(&r, WAIT_MS), 1);
	assert_ptr_equal(r.type, &schema_msg_heartbeat_ack);
	codec_envelope_clear(&r);
	{	/* a poll that finds nothing waiting */
		struct bus_msg bm;

		assert_int_equal(bus_poll(srv, 5, &bm), 0);
	}
	assert_true(bus_backlog_ms(srv) < 500);

	/* Silent from now on, nothing queued: down once the time is up. */
	logcap_begin();
	fleet_tick(fl, db_now_ms() + 60 * 1000 + 1000);
	logcap_stop();
	assert_int_equal(logcap_count("is down: no heartbeat"), 1);
	/* and up again with its next heartbeat */
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	assert_int_equal(fleet_flush(fl), 0);
}

/* The stored hypervisor record of h1, copied into b. */
static void
hv_bytes(struct buf *b)
{
	struct store_txn *txn = NULL;
	struct rec_hypervisor h;
	const void *v;
	size_t vl;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(db_hypervisor_by_host(txn, "h1", &h), 0);
	assert_int_equal(store_get(txn, T_HYPERVISORS, h.id, strlen(h.id), &v,
	    &vl), 0);
	buf_reset(b);
	assert_int_equal(buf_append(b, v, vl), 0);
	store_txn_end(&txn);
	codec_clear(&schema_rec_hypervisor, &h);
}

/*
 * The cheap heartbeat (issue 18): a flush writes the service (its
 * liveness) but leaves a hypervisor that the heartbeat did not change
 * byte for byte as it is, and adds no index entries; a change of usage is
 * written, with updated_at as the time of the change.
 */
static void
test_unchanged_hypervisor_kept(void **state)
{
	struct buf before = { 0 }, after = { 0 };
	struct rec_service s;
	struct store_txn *txn = NULL;
	struct rec_hypervisor h;
	uint64_t count;
	int64_t t0;

	hb_vcpus_used = 0;
	hello();
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	hv_bytes(&before);
	assert_int_equal(stored(&s), 0);
	count = s.report_count;
	codec_clear(&schema_rec_service, &s);

	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	hv_bytes(&after);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.data, before.data, before.len);
	assert_int_equal(stored(&s), 0);
	assert_true(s.report_count > count);
	codec_clear(&schema_rec_service, &s);
	assert_int_equal(count_idx(T_SERVICES_BY_HOST), 1);
	assert_int_equal(count_idx(T_HYPERVISORS_BY_HOST), 1);

	t0 = db_now_ms();
	hb_vcpus_used = 3;
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(db_hypervisor_by_host(txn, "h1", &h), 0);
	store_txn_end(&txn);
	assert_int_equal(h.vcpus_used, 3);
	assert_true(h.updated_at >= t0);
	codec_clear(&schema_rec_hypervisor, &h);
	assert_int_equal(count_idx(T_HYPERVISORS_BY_HOST), 1);
	hb_vcpus_used = 0;
	buf_free(&before);
	buf_free(&after);
	assert_int_equal(fleet_flush(fl), 0);
}

/* The stored guest list of h1, copied into b; empty if none. */
static void
guests_bytes(struct buf *b)
{
	struct store_txn *txn = NULL;
	const void *v;
	size_t vl;

	buf_reset(b);
	assert_int_equal(store_read_begin(st, &txn), 0);
	if (store_get(txn, T_HYPERVISOR_GUESTS, "h1", 2, &v, &vl) == 0)
		assert_int_equal(buf_append(b, v, vl), 0);
	else
		assert_int_equal(err_code(), TS_ENOT_FOUND);
	store_txn_end(&txn);
}

static void
buf_same(const struct buf *a, const struct buf *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->data, b->data, a->len);
}

/*
 * The guest list lives apart from the hypervisor record (DB schema 16):
 * registration writes both; a heartbeat that changes only the guests
 * rewrites the list and leaves the hypervisor as it is; one that repeats
 * them writes neither; a restarted controller knows the stored list, so
 * its first heartbeat writes nothing either.
 */
static void
test_guest_list_apart(void **state)
{
	static const char u[] = "5ea1c0de-0000-4000-8000-000000000001";
	struct buf hv0 = { 0 }, hv1 = { 0 }, g0 = { 0 }, g1 = { 0 };
	struct fleet_opts fo = { .controller_host = "ctl",
	    .report_interval = 10, .service_down_time = 60 };
	struct rec_hypervisor_guests gl;
	struct store_txn *txn = NULL;
	struct rec_hypervisor h;
	struct fleet *plain;
	int64_t t0;

	(void)state;
	hb_guest = NULL;
	hello();
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	hv_bytes(&hv0);
	guests_bytes(&g0);
	assert_true(g0.len > 0);

	t0 = db_now_ms();
	hb_guest = u;
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	hv_bytes(&hv1);
	buf_same(&hv0, &hv1);
	guests_bytes(&g1);
	assert_true(g1.len > g0.len);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(db_hypervisor_guests_get(txn, "h1", &gl), 0);
	assert_int_equal(db_hypervisor_by_host(txn, "h1", &h), 0);
	store_txn_end(&txn);
	assert_string_equal(gl.host, "h1");
	assert_int_equal(gl.guests.n, 1);
	assert_string_equal(gl.guests.items[0].uuid, u);
	assert_int_equal(gl.guests.items[0].power_state, 4);
	assert_true(gl.updated_at >= t0);
	assert_int_equal(h.running_vms, 0);
	codec_clear(&schema_rec_hypervisor_guests, &gl);
	codec_clear(&schema_rec_hypervisor, &h);

	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	guests_bytes(&g0);
	buf_same(&g0, &g1);

	/* Another fleet on the store, as after a restart (the metrics
	 * collector keeps the first one, which comes back at the end). */
	plain = fl;
	assert_non_null(fl = fleet_new(st, srv, &fo));
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	guests_bytes(&g0);
	buf_same(&g0, &g1);
	hv_bytes(&hv1);
	buf_same(&hv0, &hv1);

	/* Back to no guests: written (an empty list). */
	hb_guest = NULL;
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	guests_bytes(&g0);
	assert_true(g0.len < g1.len);
	/* A hello with the same (no) guests leaves the list as stored. */
	hello();
	guests_bytes(&g1);
	buf_same(&g0, &g1);
	assert_int_equal(fleet_flush(fl), 0);
	fleet_free(&fl);
	fl = plain;
	buf_free(&hv0);
	buf_free(&hv1);
	buf_free(&g0);
	buf_free(&g1);
	assert_int_equal(fleet_flush(fl), 0);
}

/* The controller's frames of one message type so far, from /metrics
 * (family: tinystack_bus_sent_total or tinystack_bus_received_total,
 * {type}); -1 if the series is missing. */
static double
frames_of(const char *family, const char *type)
{
	struct buf out = { 0 };
	char key[128];
	const char *p;
	double v = -1;

	snprintf(key, sizeof(key), "%s{type=\"%s\"} ", family, type);
	assert_int_equal(metrics_render(reg, &out), 0);
	if ((p = strstr((char *)out.data, key)) != NULL)
		v = strtod(p + strlen(key), NULL);
	buf_free(&out);
	return v;
}

static double
sent_of(const char *type)
{
	return frames_of("tinystack_bus_sent_total", type);
}

static double
received_of(const char *type)
{
	return frames_of("tinystack_bus_received_total", type);
}

/*
 * Acks only when asked (issue 18): a heartbeat with want_ack false is
 * taken (the host's liveness is written) and not answered; one with
 * want_ack true, and one without the field (an agent before it), is.
 * ROUTER and DEALER keep the order, so the first reply after an unasked
 * heartbeat and an asked one must be the asked one's.
 */
static void
test_ack_when_asked(void **state)
{
	struct msg_heartbeat m = { 0 };
	struct codec_envelope r;
	struct rec_service s;
	uint64_t count;
	double acks, hello_acks, errors, hellos, hbs;

	hello_acks = sent_of("hello_ack");
	hellos = received_of("agent_hello");
	hello();
	assert_true(sent_of("hello_ack") == hello_acks + 1);
	assert_true(received_of("agent_hello") == hellos + 1);
	acks = sent_of("heartbeat_ack");
	errors = sent_of("error");
	hbs = received_of("heartbeat");
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	/* each send and each receipt counted once, under its type */
	assert_true(sent_of("heartbeat_ack") == acks + 1);
	assert_true(received_of("heartbeat") == hbs + 1);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(stored(&s), 0);
	count = s.report_count;
	codec_clear(&schema_rec_service, &s);

	m.host = "h1";
	m.has_want_ack = true;
	m.want_ack = false;
	m.seq = 100;
	send_env(&schema_msg_heartbeat, &m);
	m.want_ack = true;
	m.seq = 101;
	send_env(&schema_msg_heartbeat, &m);
	exchange(&r);
	assert_ptr_equal(r.type, &schema_msg_heartbeat_ack);
	assert_int_equal(((struct msg_heartbeat_ack *)r.body)->seq, 101);
	codec_envelope_clear(&r);
	/* the unasked heartbeat: no send, but received */
	assert_true(sent_of("heartbeat_ack") == acks + 2);
	assert_true(received_of("heartbeat") == hbs + 3);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(stored(&s), 0);
	assert_true(s.report_count >= count + 2);
	codec_clear(&schema_rec_service, &s);

	/* the field absent: answered */
	m.has_want_ack = false;
	m.want_ack = false;
	m.seq = 102;
	send_env(&schema_msg_heartbeat, &m);
	exchange(&r);
	assert_ptr_equal(r.type, &schema_msg_heartbeat_ack);
	assert_int_equal(((struct msg_heartbeat_ack *)r.body)->seq, 102);
	codec_envelope_clear(&r);
	assert_true(sent_of("heartbeat_ack") == acks + 3);
	/* every type the controller sends has its series, 0 included;
	 * none the agents send */
	assert_true(sent_of("error") == errors);
	assert_true(sent_of("host_network") >= 0);
	assert_true(sent_of("other") == 0);
	assert_true(sent_of("heartbeat") == -1);
	/* and every type the agents send, none the controller sends */
	assert_true(received_of("heartbeat") == hbs + 4);
	assert_true(received_of("instance_state") >= 0);
	assert_true(received_of("error") >= 0);
	assert_true(received_of("other") == 0);
	assert_true(received_of("heartbeat_ack") == -1);
	assert_int_equal(fleet_flush(fl), 0);
}

static void
test_deleted_service_not_resurrected(void **state)
{
	struct rec_service s;
	char old_id[CODEC_UUID_LEN + 1];
	uint32_t code = 0;

	hello();
	edit(1, "retiring", -1);
	assert_int_equal(stored(&s), 0);
	snprintf(old_id, sizeof(old_id), "%s", s.id);
	codec_clear(&schema_rec_service, &s);

	/* A heartbeat makes the cached record dirty; the operator deletes
	 * the service before the tick that would write it. */
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	assert_int_equal(store_write(st, delete_fn, NULL), 0);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(stored(&s), -1);
	assert_false(hypervisor_exists());
	assert_int_equal(count_idx(T_SERVICES_BY_HOST), 0);
	assert_int_equal(count_idx(T_HYPERVISORS_BY_HOST), 0);

	/* Later heartbeats neither: the agent is told to say hello. */
	assert_ptr_equal(heartbeat(&code), &schema_msg_error);
	assert_int_equal(code, TS_ENOT_FOUND);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(fleet_flush(fl), 0);
	assert_int_equal(stored(&s), -1);
	assert_false(hypervisor_exists());

	/* Its hello registers a new service, with the operator's switches
	 * at their defaults, and one hypervisor. */
	hello();
	assert_int_equal(stored(&s), 0);
	assert_string_not_equal(s.id, old_id);
	assert_false(s.disabled);
	assert_null(s.disabled_reason);
	codec_clear(&schema_rec_service, &s);
	assert_true(hypervisor_exists());
	assert_int_equal(count_idx(T_SERVICES), 1);
	assert_int_equal(count_idx(T_HYPERVISORS), 1);
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(stored(&s), 0);
	codec_clear(&schema_rec_service, &s);
}

/* Deleted after the last flush and before a hello (an agent restart):
 * the hello registers a new service rather than writing the old one back
 * with its old id and switches. */
static void
test_deleted_then_hello(void **state)
{
	struct rec_service s;
	char old_id[CODEC_UUID_LEN + 1];

	hello();
	edit(-1, NULL, 1);
	assert_int_equal(stored(&s), 0);
	assert_true(s.forced_down);
	snprintf(old_id, sizeof(old_id), "%s", s.id);
	codec_clear(&schema_rec_service, &s);
	assert_int_equal(store_write(st, delete_fn, NULL), 0);
	hello();
	assert_int_equal(stored(&s), 0);
	assert_string_not_equal(s.id, old_id);
	assert_false(s.forced_down);
	assert_false(s.disabled);
	codec_clear(&schema_rec_service, &s);
	assert_int_equal(count_idx(T_SERVICES), 1);
	assert_int_equal(count_idx(T_HYPERVISORS), 1);
	assert_int_equal(count_idx(T_HYPERVISORS_BY_HOST), 1);
}

/* Hook sets: every one sees each report; other messages are offered in
 * the order the sets were added until one takes it. */
struct hookrec {
	int	reports, hellos, messages, take;
	int	order;			/* when it last saw a message */
};
static int hook_clock;

static void
rec_report(const char *host, const struct sch_guest *g, size_t n, int hello,
    void *arg)
{
	struct hookrec *r = arg;

	assert_string_equal(host, "h1");
	r->reports++;
	r->hellos += hello;
}

static int
rec_message(const char *host, struct codec_envelope *env, void *arg)
{
	struct hookrec *r = arg;

	assert_string_equal(host, "h1");
	r->messages++;
	r->order = ++hook_clock;
	return r->take;
}

static void
test_hook_sets_and_tunnel_ip(void **state)
{
	struct hookrec a = { .take = 0 }, b = { .take = 1 };
	struct fleet_hooks ha = { rec_report, rec_message, &a };
	struct fleet_hooks hb = { rec_report, rec_message, &b };
	struct msg_host_network_state nst = { .generation = 3 };
	struct rec_hypervisor hv;
	struct store_txn *txn = NULL;
	char ip[64];

	assert_int_equal(fleet_add_hooks(fl, &ha), 0);
	assert_int_equal(fleet_add_hooks(fl, &hb), 0);
	hello_tunnel = "192.0.2.9";
	hello();
	hello_tunnel = NULL;
	assert_int_equal(a.hellos, 1);
	assert_int_equal(b.hellos, 1);
	fleet_tunnel_ip(fl, "h1", ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.9");
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(db_hypervisor_by_host(txn, "h1", &hv), 0);
	store_txn_end(&txn);
	assert_string_equal(hv.tunnel_ip, "192.0.2.9");
	codec_clear(&schema_rec_hypervisor, &hv);
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	assert_int_equal(a.reports, 2);
	assert_int_equal(b.reports, 2);

	send_env(&schema_msg_host_network_state, &nst);
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until && b.messages == 0;) {
		struct bus_msg m;

		if (bus_poll(srv, 5, &m) == 1) {
			fleet_handle(fl, &m);
			bus_msg_clear(&m);
		}
	}
	assert_int_equal(a.messages, 1);
	assert_int_equal(b.messages, 1);
	assert_true(a.order < b.order);

	/* A hello without one: the host has no underlay any more. */
	hello();
	fleet_tunnel_ip(fl, "h1", ip, sizeof(ip));
	assert_string_equal(ip, "");
	fleet_tunnel_ip(fl, "nobody", ip, sizeof(ip));
	assert_string_equal(ip, "");
	assert_int_equal(fleet_add_hooks(fl, &ha), 0);
	assert_int_equal(fleet_add_hooks(fl, &ha), 0);
	assert_int_equal(fleet_add_hooks(fl, &ha), -1);
}

/* ---- attacks from an authenticated agent ------------------------------- */

/* tinystack_fleet_messages_rejected_total{reason} as /metrics renders it
 * (and the fleet's own counter agrees). */
static double
rejected_metric(const char *reason, enum fleet_reject r)
{
	struct buf out = { 0 };
	char needle[160];
	const char *p;
	double v;

	assert_int_equal(metrics_render(reg, &out), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	snprintf(needle, sizeof(needle),
	    "\ntinystack_fleet_messages_rejected_total{reason=\"%s\"} ",
	    reason);
	assert_non_null(p = strstr((const char *)out.data, needle));
	v = strtod(p + strlen(needle), NULL);
	buf_free(&out);
	assert_true(v == (double)fleet_rejected(fl, r));
	return v;
}

/* Everything the fleet stores, encoded: the records of h1 and the number
 * of services and hypervisors. Memory is flushed first, so a change the
 * fleet only made in memory (a heartbeat's) shows as well. */
static void
snapshot(struct buf *b)
{
	struct store_txn *txn = NULL;
	struct rec_service s;
	struct rec_hypervisor hv;
	const void *v;
	size_t n, vl;

	assert_int_equal(fleet_flush(fl), 0);
	b->len = 0;
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(db_service_by_host(txn, "h1", &s), 0);
	assert_int_equal(db_hypervisor_by_host(txn, "h1", &hv), 0);
	assert_int_equal(codec_record_encode(&schema_rec_service, &s, b), 0);
	assert_int_equal(codec_record_encode(&schema_rec_hypervisor, &hv, b),
	    0);
	codec_clear(&schema_rec_service, &s);
	codec_clear(&schema_rec_hypervisor, &hv);
	assert_int_equal(store_count(txn, T_SERVICES, &n), 0);
	assert_int_equal(buf_append(b, &n, sizeof(n)), 0);
	assert_int_equal(store_count(txn, T_HYPERVISORS, &n), 0);
	assert_int_equal(buf_append(b, &n, sizeof(n)), 0);
	if (store_get(txn, T_HYPERVISOR_GUESTS, "h1", 2, &v, &vl) == 0)
		assert_int_equal(buf_append(b, v, vl), 0);
	store_txn_end(&txn);
}

/* Delivers one frame from h1; the controller answers it with an error of
 * code, logs exactly one line containing needle, and stores nothing. */
static void
attack(const void *frame, size_t len, uint32_t code, const char *needle)
{
	struct buf before = { 0 }, after = { 0 };
	struct codec_envelope r;

	snapshot(&before);
	logcap_begin();
	assert_int_equal(bus_send(cli, NULL, frame, len), 0);
	exchange(&r);
	logcap_end_one(needle);
	assert_ptr_equal(r.type, &schema_msg_error);
	assert_int_equal(((struct msg_error *)r.body)->code, code);
	codec_envelope_clear(&r);
	snapshot(&after);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.data, before.data, before.len);
	buf_free(&before);
	buf_free(&after);
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* A heartbeat envelope written by hand: what the encoder would refuse
 * (another version, a type no one defines, a host over its maximum). */
static void
raw_heartbeat(msgpack_sbuffer *sb, uint32_t version, const char *type,
    const char *host)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, version);
	pack_str(&pk, type);
	pack_str(&pk, "req-raw");
	pack_str(&pk, "h1");
	msgpack_pack_map(&pk, 7);
	pack_str(&pk, "host");
	pack_str(&pk, host);
	pack_str(&pk, "seq");
	msgpack_pack_uint64(&pk, 1);
	pack_str(&pk, "vcpus_used");
	msgpack_pack_uint32(&pk, 0);
	pack_str(&pk, "memory_mb_used");
	msgpack_pack_uint64(&pk, 0);
	pack_str(&pk, "local_gb_used");
	msgpack_pack_uint64(&pk, 0);
	pack_str(&pk, "running_vms");
	msgpack_pack_uint32(&pk, 7);
	pack_str(&pk, "guests");
	msgpack_pack_array(&pk, 0);
}

/* Frames that do not decode, from an agent whose connection is
 * authenticated: each is answered with an error, logged once, and
 * changes nothing. */
static void
test_malformed_frames(void **state)
{
	struct msg_heartbeat hb = { .host = "h1", .running_vms = 7 };
	struct msg_heartbeat_ack ack = { .seq = 1 };
	msgpack_sbuffer sb;
	struct buf b = { 0 };
	char host[300];
	double bad0 = rejected_metric("malformed", FLEET_REJECT_MALFORMED);
	double wrong0 = rejected_metric("wrong_host", FLEET_REJECT_WRONG_HOST);
	double other0 = received_of("other"), hb0 = received_of("heartbeat");

	hello();
	attack("\xc1", 1, TS_EDECODE, "malformed message from h1");
	attack("not msgpack at all", 18, TS_EDECODE,
	    "malformed message from h1");
	/* A valid heartbeat with one byte more. */
	assert_int_equal(codec_envelope_encode(&schema_msg_heartbeat, &hb,
	    "req-t", "h1", &b), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	attack(b.data, b.len, TS_EDECODE, "malformed message from h1");
	/* Cut short. */
	attack(b.data, b.len - 2, TS_EDECODE, "malformed message from h1");
	buf_free(&b);
	/* A message only the controller sends. */
	assert_int_equal(codec_envelope_encode(&schema_msg_heartbeat_ack, &ack,
	    "req-a", "h1", &b), 0);
	attack(b.data, b.len, TS_EDECODE, "malformed message from h1");
	buf_free(&b);
	raw_heartbeat(&sb, CODEC_PROTO_VERSION + 1, "heartbeat", "h1");
	attack(sb.data, sb.size, TS_EDECODE, "malformed message from h1");
	msgpack_sbuffer_destroy(&sb);
	raw_heartbeat(&sb, CODEC_PROTO_VERSION, "agent_goodbye", "h1");
	attack(sb.data, sb.size, TS_EDECODE, "malformed message from h1");
	msgpack_sbuffer_destroy(&sb);
	/* Oversized inside a frame the bus accepts: a field over its
	 * maximum. (Frames over the bus's limit never get here, see
	 * bus_test's test_oversize.) */
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	raw_heartbeat(&sb, CODEC_PROTO_VERSION, "heartbeat", host);
	attack(sb.data, sb.size, TS_EDECODE, "malformed message from h1");
	msgpack_sbuffer_destroy(&sb);
	/* The hand-written heartbeat itself is well formed: the refusals
	 * above are for what was wrong in them. */
	raw_heartbeat(&sb, CODEC_PROTO_VERSION, "heartbeat", "h1");
	assert_int_equal(bus_send(cli, NULL, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	{
		struct codec_envelope r;

		exchange(&r);
		assert_ptr_equal(r.type, &schema_msg_heartbeat_ack);
		codec_envelope_clear(&r);
	}
	/* Exactly the eight bad frames above, and no other reason. */
	assert_true(rejected_metric("malformed", FLEET_REJECT_MALFORMED) ==
	    bad0 + 8);
	assert_true(rejected_metric("wrong_host", FLEET_REJECT_WRONG_HOST) ==
	    wrong0);
	/* Received by type counts what arrived, by the type its first
	 * bytes name, refused or not: "other" the four that name no type
	 * an agent sends (\xc1, not msgpack, heartbeat_ack, agent_goodbye),
	 * "heartbeat" the four refused ones that name it and the good one. */
	assert_true(received_of("other") == other0 + 4);
	assert_true(received_of("heartbeat") == hb0 + 5);
}

/* An agent speaks only for itself: a hello or heartbeat naming another
 * host, in the envelope or in the body, is refused, logged once, and
 * neither registers that host nor touches the sender's records. */
static void
test_other_host_refused(void **state)
{
	struct msg_agent_hello m = { 0 };
	struct msg_heartbeat hb = { .host = "h2", .running_vms = 3 };
	struct buf b = { 0 };
	double wrong0 = rejected_metric("wrong_host", FLEET_REJECT_WRONG_HOST);
	double snd0 = rejected_metric("sender_mismatch", FLEET_REJECT_SENDER);
	double bad0 = rejected_metric("malformed", FLEET_REJECT_MALFORMED);

	hello();
	m.host = "h2";
	m.agent_version = "test";
	m.hypervisor_type = "QEMU";
	m.libvirt_uri = "test:///default";
	m.cpu_model = "evil";
	m.cpu_arch = "x86_64";
	m.vcpus = 64;
	m.memory_mb = 1 << 20;
	assert_int_equal(codec_envelope_encode(&schema_msg_agent_hello, &m,
	    "req-h2", "h1", &b), 0);
	attack(b.data, b.len, TS_EFORBIDDEN,
	    "agent_hello refused: agent h1 may not register host h2");
	b.len = 0;
	/* The envelope names h2 as well. */
	assert_int_equal(codec_envelope_encode(&schema_msg_agent_hello, &m,
	    "req-h2", "h2", &b), 0);
	attack(b.data, b.len, TS_EFORBIDDEN, "message refused: sender 'h2' "
	    "is not the authenticated host 'h1'");
	b.len = 0;
	assert_int_equal(codec_envelope_encode(&schema_msg_heartbeat, &hb,
	    "req-hb2", "h1", &b), 0);
	attack(b.data, b.len, TS_EFORBIDDEN,
	    "heartbeat refused: agent h1 may not report for host h2");
	b.len = 0;
	/* h1's own body in an envelope from h2. */
	hb.host = "h1";
	assert_int_equal(codec_envelope_encode(&schema_msg_heartbeat, &hb,
	    "req-hb3", "h2", &b), 0);
	attack(b.data, b.len, TS_EFORBIDDEN, "message refused: sender 'h2' "
	    "is not the authenticated host 'h1'");
	buf_free(&b);
	assert_true(rejected_metric("wrong_host", FLEET_REJECT_WRONG_HOST) ==
	    wrong0 + 2);
	assert_true(rejected_metric("sender_mismatch", FLEET_REJECT_SENDER) ==
	    snd0 + 2);
	assert_true(rejected_metric("malformed", FLEET_REJECT_MALFORMED) ==
	    bad0);
	assert_true(rejected_metric("not_enrolled",
	    FLEET_REJECT_NOT_ENROLLED) == 0);
}

/* Heartbeat health (hoststatus.h): the deps of the latest heartbeat and
 * the error lines appended, the latest HOSTSTATUS_ERRORS_MAX kept, written
 * with the tick's flush; a heartbeat without them changes nothing. */
static void
test_host_status(void **state)
{
	struct sch_host_dep dep = { .name = "dnsmasq", .state = "down",
	    .error = "network n: dnsmasq 42 is not running",
	    .has_error_at = true, .error_at = 5 };
	struct sch_log_line lines[16];
	char texts[16][16];
	struct msg_heartbeat m = { 0 };
	struct codec_envelope r;
	struct rec_host_status hs;
	struct store_txn *txn = NULL;

	(void)state;
	hello();
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 16; i++) {
			snprintf(texts[i], sizeof(texts[i]), "err %d",
			    round * 16 + i);
			lines[i].at = round * 16 + i;
			lines[i].text = texts[i];
		}
		memset(&m, 0, sizeof(m));
		m.host = "h1";
		m.seq = seq + 1;
		m.deps.items = &dep;
		m.deps.n = 1;
		m.errors.items = lines;
		m.errors.n = 16;
		send_env(&schema_msg_heartbeat, &m);
		exchange(&r);
		assert_ptr_equal(r.type, &schema_msg_heartbeat_ack);
		codec_envelope_clear(&r);
	}
	/* Not written before the tick. */
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(hoststatus_get(txn, HOSTSTATUS_AGENT, "h1", &hs), -1);
	store_txn_end(&txn);
	fleet_tick(fl, db_now_ms());
	/* A plain heartbeat keeps them. */
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	fleet_tick(fl, db_now_ms());
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(hoststatus_get(txn, HOSTSTATUS_AGENT, "h1", &hs), 0);
	store_txn_end(&txn);
	assert_string_equal(hs.host, "h1");
	assert_string_equal(hs.binary, HOSTSTATUS_AGENT);
	assert_true(hs.updated_at > 0);
	assert_int_equal(hs.deps.n, 1);
	assert_string_equal(hs.deps.items[0].state, "down");
	assert_string_equal(hs.deps.items[0].error,
	    "network n: dnsmasq 42 is not running");
	assert_int_equal(hs.errors.n, HOSTSTATUS_ERRORS_MAX);
	assert_string_equal(hs.errors.items[0].text, "err 16");
	assert_string_equal(hs.errors.items[HOSTSTATUS_ERRORS_MAX - 1].text,
	    "err 47");
	codec_clear(&schema_rec_host_status, &hs);
}

static int
key_put(struct store_txn *txn, void *arg)
{
	return db_agent_key_put(txn, arg);
}

#define KEY1	"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY2	"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

/* With enrolment required (CURVE on), every message is checked against
 * the host's enrolled key, and the answer kept between messages is
 * dropped at a key write: a revocation or re-enrolment in this process
 * refuses the very next message (another process's write: store_test's
 * test_foreign_gen, and integ.fleet through tinystack-manage). */
static void
test_enrolment_checked(void **state)
{
	struct fleet *plain = fl;
	struct fleet_opts fo = { .controller_host = "ctl",
	    .report_interval = 10, .service_down_time = 60,
	    .require_enrolled = 1 };
	struct rec_agent_key k = { .host = "h1", .public_key = KEY1 };
	uint32_t code = 0;

	(void)state;
	assert_non_null(fl = fleet_new(st, srv, &fo));
	conn_key = KEY1;
	assert_int_equal(store_write(st, key_put, &k), 0);
	hello();
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);

	k.revoked = true;
	assert_int_equal(store_write(st, key_put, &k), 0);
	logcap_begin();
	assert_ptr_equal(heartbeat(&code), &schema_msg_error);
	logcap_end_one("agent h1 is not enrolled with the key");
	assert_int_equal(code, TS_EFORBIDDEN);
	assert_true(fleet_rejected(fl, FLEET_REJECT_NOT_ENROLLED) == 1);

	k.revoked = false;
	assert_int_equal(store_write(st, key_put, &k), 0);
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	/* Re-enrolled with another key: the old key's connection is out. */
	k.public_key = KEY2;
	assert_int_equal(store_write(st, key_put, &k), 0);
	code = 0;
	logcap_begin();
	assert_ptr_equal(heartbeat(&code), &schema_msg_error);
	logcap_end_one("agent h1 is not enrolled with the key");
	assert_int_equal(code, TS_EFORBIDDEN);
	conn_key = KEY2;
	assert_ptr_equal(heartbeat(NULL), &schema_msg_heartbeat_ack);
	assert_true(fleet_rejected(fl, FLEET_REJECT_NOT_ENROLLED) == 2);

	conn_key = NULL;
	fleet_free(&fl);
	fl = plain;
}

/*
 * Refused keys at the handshake (fleet_allow, the bus's allow callback):
 * anyone may try a fresh key per connection, so they are logged once a
 * second with a count of those suppressed, not once each.
 */
static void
test_refused_keys_log_limited(void **state)
{
	enum { N = 50 };
	char host[64];
	int64_t t0, el;
	int lines;

	(void)state;
	logcap_begin();
	t0 = clock_mono_ms();
	for (int i = 0; i < N; i++)
		assert_int_equal(fleet_allow(KEY2, host, sizeof(host), st),
		    -1);
	el = clock_mono_ms() - t0;
	logcap_stop();
	lines = logcap_count("refusing agent connection with key");
	print_message("%d refused keys in %lld ms: %d lines\n", N,
	    (long long)el, lines);
	assert_true(lines >= 1);	/* the first of a quiet spell is */
	assert_true(lines <= 2 + el / 1000);
	/* refusals going on: the next line, a second after the first,
	 * says how many were left out since (the 49 above at least) */
	logcap_begin();
	t0 = clock_mono_ms();
	for (int i = 0; logcap_count("refusing agent connection") == 0; i++) {
		assert_true(clock_mono_ms() - t0 < WAIT_MS);
		assert_int_equal(fleet_allow(KEY2, host, sizeof(host), st),
		    -1);
		if (i > 0)
			poll(NULL, 0, 5);
	}
	logcap_stop();
	assert_int_equal(logcap_count("refusing agent connection"), 1);
	assert_int_equal(logcap_count("similar suppressed)"), 1);
	assert_int_equal(logcap_count("(0 similar suppressed)"), 0);
}

static int
setup(void **state)
{
	struct store_opts so = { 0 };
	struct bus_opts bo;
	struct fleet_opts fo = { 0 };

	assert_non_null(mkdtemp(dir));
	so.path = dir;
	so.tables = db_tables;
	so.map_size = 64 << 20;
	assert_non_null(st = store_open(&so));
	assert_int_equal(db_sync(st), 0);
	bus_opts_init(&bo);
	bo.curve = 0;
	bo.endpoint = "tcp://127.0.0.1:*";
	bo.classify = telemetry_bus_class;	/* as the controller's */
	assert_non_null(srv = bus_server_new(&bo));
	bus_opts_init(&bo);
	bo.curve = 0;
	bo.endpoint = bus_endpoint(srv);
	bo.identity = "h1";
	assert_non_null(cli = bus_client_new(&bo));
	fo.controller_host = "ctl";
	fo.report_interval = 10;
	fo.service_down_time = 60;
	assert_non_null(fl = fleet_new(st, srv, &fo));
	assert_non_null(reg = metrics_new());
	assert_int_equal(metrics_add_collector(reg, fleet_metrics_collect, fl),
	    0);
	assert_int_equal(telemetry_register(reg, st, srv), 0);
	/* Let the server learn the route to h1. */
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until && !bus_client_connected(cli);) {
		struct bus_msg m;

		if (bus_poll(srv, 5, &m) == 1)
			bus_msg_clear(&m);
		if (bus_poll(cli, 5, &m) == 1)
			bus_msg_clear(&m);
	}
	assert_true(bus_client_connected(cli));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	metrics_free(&reg);
	fleet_free(&fl);
	bus_free(&cli);
	bus_free(&srv);
	store_free(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_keys_log_limited),
		cmocka_unit_test(test_operator_switches_survive_ticks),
		cmocka_unit_test(test_unchanged_hypervisor_kept),
		cmocka_unit_test(test_guest_list_apart),
		cmocka_unit_test(test_down_judged_behind_backlog),
		cmocka_unit_test(test_ack_when_asked),
		cmocka_unit_test(test_deleted_service_not_resurrected),
		cmocka_unit_test(test_deleted_then_hello),
		cmocka_unit_test(test_hellos_batched),
		cmocka_unit_test(test_malformed_frames),
		cmocka_unit_test(test_host_status),
		cmocka_unit_test(test_other_host_refused),
		/* Last: the hooks it adds stay. */
		cmocka_unit_test(test_hook_sets_and_tunnel_ip),
		/* After it: a fleet of its own (no hooks) re-registers h1. */
		cmocka_unit_test(test_enrolment_checked),
	};

	log_init("fleet_test", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
