/* telemetry: store, bus and object-count collectors; see telemetry.h. */
#include <stdio.h>

#include "buf.h"
#include "bus.h"
#include "codec.h"
#include "db.h"
#include "log.h"
#include "err.h"
#include "metrics.h"
#include "msg_gen.h"
#include "procmem.h"
#include "store.h"
#include "telemetry.h"

_Static_assert(SCHEMA_MSG__COUNT <= BUS_SEND_CLASSES,
    "a bus send class per message type");

unsigned
telemetry_bus_class(const void *frame, size_t len)
{
	const struct schema_type *t = codec_envelope_peek_type(frame, len);

	return t != NULL ? t->id : 0;
}

static void
one(struct buf *out, const char *name, enum metrics_type t,
    const char *help, double v)
{
	metrics_write_family(out, name, t, help);
	metrics_write_sample(out, name, NULL, v);
}

/* Where store_write() callers wait: histograms with the +Inf bucket only
 * (the sums are what is kept). queue and wake per write, run and commit
 * per committed batch. */
static void
phases(struct buf *out, const struct store_stats *st)
{
	static const char *n = "tinystack_store_write_phase_seconds";
	const struct {
		const char	*phase;
		uint64_t	 us, count;
	} v[] = {
		{ "queue", st->queued_us, st->writes },
		{ "run", st->run_us, st->commits },
		{ "commit", st->commit_us, st->commits },
		{ "wake", st->wake_us, st->writes },
	};

	metrics_write_family(out, n, METRICS_HISTOGRAM, "Time in the group "
	    "commit: queue (a write waiting for its batch), run (a batch's "
	    "functions), commit (LMDB's commit of a batch: pwrite and "
	    "fdatasync), wake (from the batch's end to its caller running).");
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		metrics_write_sample(out, "tinystack_store_write_phase_seconds"
		    "_bucket", (const char *[]){ "phase", v[k].phase, "le",
		    "+Inf", NULL }, (double)v[k].count);
		metrics_write_sample(out, "tinystack_store_write_phase_seconds"
		    "_sum", (const char *[]){ "phase", v[k].phase, NULL },
		    (double)v[k].us / 1e6);
		metrics_write_sample(out, "tinystack_store_write_phase_seconds"
		    "_count", (const char *[]){ "phase", v[k].phase, NULL },
		    (double)v[k].count);
	}
}

static void
store_collect(struct buf *out, void *arg)
{
	struct store_stats st;
	char le[32];
	uint64_t cum = 0;

	store_stats(arg, &st);
	one(out, "tinystack_store_writes_total", METRICS_COUNTER,
	    "Write functions run by the store's committer.",
	    (double)st.writes);
	one(out, "tinystack_store_writes_failed_total", METRICS_COUNTER,
	    "Write functions that failed (their own error or the commit's).",
	    (double)st.writes_failed);
	one(out, "tinystack_store_commits_total", METRICS_COUNTER,
	    "LMDB transactions committed (one per group-commit batch).",
	    (double)st.commits);
	one(out, "tinystack_store_commits_failed_total", METRICS_COUNTER,
	    "LMDB transactions that failed to commit.",
	    (double)st.commits_failed);
	one(out, "tinystack_store_write_queue", METRICS_GAUGE,
	    "Writes waiting for the committer.", (double)st.queued);
	one(out, "tinystack_store_map_size_bytes", METRICS_GAUGE,
	    "Size of the LMDB map ([database] map_size_mb).",
	    (double)st.map_size);
	one(out, "tinystack_store_map_used_bytes", METRICS_GAUGE,
	    "Bytes of the LMDB map in use (up to the last page written); "
	    "writes fail with 503 when it reaches the map size.",
	    (double)st.map_used);
	metrics_write_family(out, "tinystack_store_commit_batch_size",
	    METRICS_HISTOGRAM, "Writes per committed group-commit batch.");
	for (size_t k = 0; k < STORE_BATCH_BUCKETS; k++) {
		const char *kv[] = { "le", le, NULL };

		cum += st.batch_hist[k];
		snprintf(le, sizeof(le), "%llu", 1ULL << k);
		metrics_write_sample(out, "tinystack_store_commit_batch_size"
		    "_bucket", kv, (double)cum);
	}
	metrics_write_sample(out, "tinystack_store_commit_batch_size_bucket",
	    (const char *[]){ "le", "+Inf", NULL }, (double)cum);
	metrics_write_sample(out, "tinystack_store_commit_batch_size_sum",
	    NULL, (double)st.batch_writes);
	metrics_write_sample(out, "tinystack_store_commit_batch_size_count",
	    NULL, (double)cum);
	phases(out, &st);
}

/*
 * The frames of one direction by message type: every type that goes that
 * way, 0 included (a series that appears only once non-zero breaks
 * rate()), and "other": frames that are no envelope of such a type (none
 * sent today; received, an agent's garbage or a controller-only type,
 * which the fleet then refuses). v: the bus's counts by class, i.e. by
 * generated message id.
 */
static void
by_type(struct buf *out, const char *n, const char *help,
    enum schema_dir skip, const uint64_t v[BUS_SEND_CLASSES])
{
	uint64_t other = v[0];

	metrics_write_family(out, n, METRICS_COUNTER, help);
	for (uint32_t id = 1; id < SCHEMA_MSG__COUNT; id++) {
		const struct schema_type *t = schema_msg_by_id(id);

		if (t == NULL || t->dir == skip) {
			other += v[id];
			continue;
		}
		metrics_write_sample(out, n, (const char *[]){ "type",
		    t->name, NULL }, (double)v[id]);
	}
	metrics_write_sample(out, n, (const char *[]){ "type", "other",
	    NULL }, (double)other);
}

static void
bus_collect(struct buf *out, void *arg)
{
	struct bus_stats st;
	uint64_t v[BUS_SEND_CLASSES];
	static const char *n_fail = "tinystack_bus_send_failures_total";
	static const char *n_drop = "tinystack_bus_dropped_total";

	bus_stats(arg, &st);
	one(out, "tinystack_bus_messages_received_total", METRICS_COUNTER,
	    "Messages received from agents.", (double)st.msgs_in);
	one(out, "tinystack_bus_received_bytes_total", METRICS_COUNTER,
	    "Bytes of the messages received from agents.",
	    (double)st.bytes_in);
	one(out, "tinystack_bus_messages_sent_total", METRICS_COUNTER,
	    "Messages sent to agents.", (double)st.msgs_out);
	one(out, "tinystack_bus_sent_bytes_total", METRICS_COUNTER,
	    "Bytes of the messages sent to agents.", (double)st.bytes_out);
	metrics_write_family(out, n_fail, METRICS_COUNTER,
	    "Messages not sent, by reason (unreachable: the agent is not "
	    "connected; queue_full: its send queue is full; io: another error).");
	metrics_write_sample(out, n_fail, (const char *[]){ "reason",
	    "unreachable", NULL }, (double)st.send_unreachable);
	metrics_write_sample(out, n_fail, (const char *[]){ "reason",
	    "queue_full", NULL }, (double)st.send_queue_full);
	metrics_write_sample(out, n_fail, (const char *[]){ "reason", "io",
	    NULL }, (double)st.send_failed);
	one(out, "tinystack_bus_post_refused_total", METRICS_COUNTER,
	    "Messages refused by bus_post() because its queue was full.",
	    (double)st.post_refused);
	one(out, "tinystack_bus_post_queue", METRICS_GAUGE,
	    "Messages posted by other threads, not yet sent.",
	    (double)st.post_queued);
	bus_sent_by_class(arg, v);
	by_type(out, "tinystack_bus_sent_total", "Messages sent to agents, "
	    "by message type.", SCHEMA_FROM_AGENT, v);
	bus_received_by_class(arg, v);
	by_type(out, "tinystack_bus_received_total", "Messages received "
	    "from agents, by message type.", SCHEMA_FROM_CONTROLLER, v);
	metrics_write_family(out, n_drop, METRICS_COUNTER,
	    "Inbound frames dropped, by reason (impostor: a host other than "
	    "the authenticated one, now closed at the handshake instead; "
	    "not_bus: not a bus client; multipart).");
	metrics_write_sample(out, n_drop, (const char *[]){ "reason",
	    "impostor", NULL }, (double)st.drop_impostor);
	metrics_write_sample(out, n_drop, (const char *[]){ "reason",
	    "not_bus", NULL }, (double)st.drop_not_bus);
	metrics_write_sample(out, n_drop, (const char *[]){ "reason",
	    "multipart", NULL }, (double)st.drop_multipart);
	one(out, "tinystack_bus_connections", METRICS_GAUGE,
	    "Agent connections open (handshakes under way included).",
	    (double)st.connections);
	one(out, "tinystack_bus_connecting", METRICS_GAUGE,
	    "Agent connections still in their handshake.",
	    (double)st.connecting);
	one(out, "tinystack_bus_handshakes_total", METRICS_COUNTER,
	    "Agent connections that completed their handshake.",
	    (double)st.handshakes);
	one(out, "tinystack_bus_handshake_failures_total", METRICS_COUNTER,
	    "Handshakes that failed: protocol errors, keys not enrolled, "
	    "deadline passed.", (double)st.handshake_failed);
	one(out, "tinystack_bus_connections_refused_total", METRICS_COUNTER,
	    "Connections closed as accepted: too many handshakes under way, "
	    "or descriptors exhausted.", (double)st.conn_refused);
	one(out, "tinystack_bus_handshakes_deferred_total", METRICS_COUNTER,
	    "Times handshakes had to wait because the bus thread's handshake "
	    "CPU budget (half the thread over time) was spent.",
	    (double)st.handshake_deferred);
}

/* Object counts, under openstack-exporter's names. */
static const struct {
	const char	*name, *table, *help;
} counts[] = {
	{ "openstack_nova_total_vms", T_INSTANCES, "Servers (instances)." },
	{ "openstack_nova_flavors", T_FLAVORS, "Flavors." },
	{ "openstack_glance_images", T_IMAGES, "Images." },
	{ "openstack_cinder_volumes", T_VOLUMES, "Volumes." },
	{ "openstack_cinder_snapshots", T_VOLUME_SNAPSHOTS,
	    "Volume snapshots." },
	{ "openstack_neutron_networks", T_NETWORKS, "Networks." },
	{ "openstack_neutron_subnets", T_SUBNETS, "Subnets." },
	{ "openstack_neutron_ports", T_PORTS, "Ports." },
	{ "openstack_neutron_routers", T_ROUTERS, "Routers." },
	{ "openstack_neutron_floating_ips", T_FLOATINGIPS, "Floating IPs." },
	{ "openstack_neutron_security_groups", T_SECURITY_GROUPS,
	    "Security groups." },
	{ "openstack_identity_projects", T_PROJECTS,
	    "Projects (and domains, which Keystone stores as projects)." },
	{ "openstack_identity_users", T_USERS, "Users." },
};

static void
counts_collect(struct buf *out, void *arg)
{
	struct store_txn *txn;
	size_t n;

	if (store_read_begin(arg, &txn) == -1) {
		log_warnx("metrics: %s", err_msg());
		return;
	}
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (store_count(txn, counts[i].table, &n) == 0)
			one(out, counts[i].name, METRICS_GAUGE, counts[i].help,
			    (double)n);
	store_txn_end(&txn);
}

int
telemetry_register(struct metrics *m, struct store *st, struct bus *bus)
{
	if (metrics_add_collector(m, store_collect, st) == -1 ||
	    metrics_add_collector(m, bus_collect, bus) == -1 ||
	    metrics_add_collector(m, counts_collect, st) == -1 ||
	    metrics_add_collector(m, procmem_collect, NULL) == -1)
		return -1;
	return 0;
}
