/* fleet: agent registry, heartbeats and service liveness; see fleet.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "bus.h"
#include "clock.h"
#include "codec.h"
#include "db.h"
#include "err.h"
#include "fleet.h"
#include "log.h"
#include "metrics.h"
#include "msg_gen.h"
#include "hoststatus.h"
#include "store.h"

#define AGENT_BINARY	"tinystack-agent"
#define AGENT_TOPIC	"compute"

struct agent {
	struct rec_service	 svc;
	struct rec_hypervisor	 hv;
	int			 has_hv;
	/* The guests its agent reported last (stored apart from hv, in
	 * hypervisor_guests); gl_dirty: changed since the last write. */
	struct rec_hypervisor_guests gl;
	int			 gl_dirty;
	/* Its health (hoststatus.h): the deps of its last heartbeat and its
	 * latest error lines; hs_dirty: to be written with the next flush. */
	struct rec_host_status	 hs;
	int			 hs_dirty;
	int			 dirty;		/* memory newer than the store */
	/* A heartbeat reported usage since the last write; when (its
	 * hypervisor's updated_at if it changed anything). */
	int			 hv_dirty;
	int64_t			 hv_seen_at;
	int			 up;		/* as last logged */
	/* Set around a registration's write: only a registration may create
	 * the stored records; a heartbeat flush only updates them. */
	int			 registering;
	/* Its hello waits in fleet.pend for the next batch (hellos_flush);
	 * hello_reqid (owned): the newest hello's request id, the one the
	 * ack answers. */
	int			 hello_pending;
	char			*hello_reqid;
	/* The stored service vanished (DELETE /os-services): the agent is
	 * unknown until it says hello again, which registers it anew. */
	int			 deleted;
	/* still_enrolled()'s last yes: for this connection key, while
	 * neither another process (the manage tool enrols and revokes) nor
	 * this one wrote agent keys since (enrol_gen 0: none). */
	char			 enrol_key[BUS_KEY_Z85_LEN + 1];
	uint64_t		 enrol_gen, enrol_txn;
};

struct fleet {
	struct store		*store;
	struct bus		*bus;
	char			 host[256];
	int			 report_interval;
	int64_t			 down_ms;
	int			 require_enrolled;
	/* Open-addressing table keyed by host name; cap is a power of 2. */
	struct agent		**slots;
	size_t			 cap, n;
	struct fleet_hooks	 hooks[FLEET_MAX_HOOKS];
	size_t			 nhooks;
	/*
	 * Registrations waiting for their write: one transaction (one
	 * fsync) for up to HELLO_BATCH of them, written when the bus has
	 * nothing more (fleet_idle), after HELLO_HOLD_MS, before any other
	 * message of a waiting agent, and at each tick. One write per
	 * hello made 10,000 agents register at the disk's fsync rate,
	 * slower than they retried: the backlog queued in libzmq grew by
	 * a GiB a minute and registered hosts went down behind it.
	 */
	struct agent		*pend[FLEET_HELLO_BATCH];
	size_t			 npend;
	int64_t			 pend_since;	/* monotonic ms of pend[0] */
	_Atomic uint64_t	 rejected[FLEET_REJECT_N];
};

/* Label values of tinystack_fleet_messages_rejected_total. */
static const char *const reject_names[FLEET_REJECT_N] = {
	[FLEET_REJECT_MALFORMED] = "malformed",
	[FLEET_REJECT_SENDER] = "sender_mismatch",
	[FLEET_REJECT_NOT_ENROLLED] = "not_enrolled",
	[FLEET_REJECT_WRONG_HOST] = "wrong_host",
	[FLEET_REJECT_UNKNOWN_AGENT] = "unknown_agent",
};

static void
rejected(struct fleet *f, enum fleet_reject r)
{
	atomic_fetch_add_explicit(&f->rejected[r], 1, memory_order_relaxed);
}

uint64_t
fleet_rejected(struct fleet *f, enum fleet_reject r)
{
	return r < FLEET_REJECT_N ? atomic_load_explicit(&f->rejected[r],
	    memory_order_relaxed) : 0;
}

void
fleet_metrics_collect(struct buf *out, void *arg)
{
	static const char *name = "tinystack_fleet_messages_rejected_total";
	struct fleet *f = arg;

	metrics_write_family(out, name, METRICS_COUNTER,
	    "Agent messages refused by the fleet, by reason (malformed: does "
	    "not decode; sender_mismatch: the envelope names another host "
	    "than the authenticated one; not_enrolled: the key was revoked "
	    "or replaced; wrong_host: a hello or heartbeat for another host; "
	    "unknown_agent: a heartbeat before any hello).");
	for (int r = 0; r < FLEET_REJECT_N; r++)
		metrics_write_sample(out, name, (const char *[]){ "reason",
		    reject_names[r], NULL }, (double)fleet_rejected(f, r));
}

int
fleet_add_hooks(struct fleet *f, const struct fleet_hooks *h)
{
	if (f->nhooks == FLEET_MAX_HOOKS) {
		err_set(TS_EINTERNAL, "fleet: more than %d hook sets",
		    FLEET_MAX_HOOKS);
		return -1;
	}
	f->hooks[f->nhooks++] = *h;
	return 0;
}

static void
report_hooks(struct fleet *f, const char *host, const struct agent *a,
    int hello)
{
	for (size_t i = 0; i < f->nhooks; i++)
		if (f->hooks[i].report)
			f->hooks[i].report(host, a->gl.guests.items,
			    a->gl.guests.n, hello, f->hooks[i].arg);
}

static int
message_hooks(struct fleet *f, const char *host, struct codec_envelope *env)
{
	for (size_t i = 0; i < f->nhooks; i++)
		if (f->hooks[i].message &&
		    f->hooks[i].message(host, env, f->hooks[i].arg) == 1)
			return 1;
	return 0;
}

static struct agent *
lookup(struct fleet *f, const char *host)
{
	size_t i = hash_fnv64(host) & (f->cap - 1);

	while (f->slots[i]) {
		if (strcmp(f->slots[i]->svc.host, host) == 0)
			return f->slots[i];
		i = (i + 1) & (f->cap - 1);
	}
	return NULL;
}

static int
insert(struct fleet *f, struct agent *a)
{
	size_t i;

	if ((f->n + 1) * 2 > f->cap) {
		size_t ncap = f->cap * 2;
		struct agent **ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL) {
			err_set(TS_ENOMEM, "fleet: out of memory");
			return -1;
		}
		for (size_t j = 0; j < f->cap; j++) {
			if (f->slots[j] == NULL)
				continue;
			i = hash_fnv64(f->slots[j]->svc.host) & (ncap - 1);
			while (ns[i])
				i = (i + 1) & (ncap - 1);
			ns[i] = f->slots[j];
		}
		free(f->slots);
		f->slots = ns;
		f->cap = ncap;
	}
	i = hash_fnv64(a->svc.host) & (f->cap - 1);
	while (f->slots[i])
		i = (i + 1) & (f->cap - 1);
	f->slots[i] = a;
	f->n++;
	return 0;
}

static void
agent_free(struct agent *a)
{
	free(a->hello_reqid);
	codec_clear(&schema_rec_service, &a->svc);
	codec_clear(&schema_rec_hypervisor, &a->hv);
	codec_clear(&schema_rec_hypervisor_guests, &a->gl);
	codec_clear(&schema_rec_host_status, &a->hs);
	free(a);
}

static int
is_up(const struct fleet *f, const struct agent *a, int64_t now)
{
	return !a->svc.forced_down && now - a->svc.last_seen_at <= f->down_ms;
}

static int	dup_str(char **, const char *);

/* Loading: every service, with its hypervisor when there is one. */
static int
load_one(const struct rec_service *s, void *arg)
{
	struct fleet *f = arg;
	struct store_txn *txn = NULL;
	struct agent *a = calloc(1, sizeof(*a));
	struct buf b = { 0 };
	uint32_t v;

	/* Deep copy through the codec: the callback's record is borrowed. */
	if (a == NULL || codec_record_encode(&schema_rec_service, s, &b) == -1 ||
	    codec_record_decode(&schema_rec_service, b.data, b.len, &a->svc,
	    &v) == -1) {
		buf_free(&b);
		free(a);
		return -1;
	}
	buf_free(&b);
	if (store_read_begin(f->store, &txn) == 0) {
		a->has_hv = db_hypervisor_by_host(txn, s->host, &a->hv) == 0;
		/* So that a first heartbeat repeating them writes nothing. */
		if (a->has_hv && db_hypervisor_guests_get(txn, s->host,
		    &a->gl) == -1)
			memset(&a->gl, 0, sizeof(a->gl));
		if (a->gl.host == NULL && dup_str(&a->gl.host, s->host) ==
		    -1) {
			store_txn_end(&txn);
			agent_free(a);
			return -1;
		}
		if (hoststatus_get(txn, HOSTSTATUS_AGENT, s->host, &a->hs) == -1)
			memset(&a->hs, 0, sizeof(a->hs));
		store_txn_end(&txn);
	}
	a->up = is_up(f, a, db_now_ms());
	if (insert(f, a) == -1) {
		agent_free(a);
		return -1;
	}
	return 0;
}

struct fleet *
fleet_new(struct store *st, struct bus *bus, const struct fleet_opts *o)
{
	struct fleet *f = calloc(1, sizeof(*f));
	struct store_txn *txn = NULL;
	int rc;

	if (f == NULL || (f->slots = calloc(64, sizeof(*f->slots))) == NULL) {
		free(f);
		err_set(TS_ENOMEM, "fleet: out of memory");
		return NULL;
	}
	f->cap = 64;
	f->store = st;
	f->bus = bus;
	snprintf(f->host, sizeof(f->host), "%s", o->controller_host);
	f->report_interval = o->report_interval;
	f->down_ms = (int64_t)o->service_down_time * 1000;
	f->require_enrolled = o->require_enrolled;
	if (store_read_begin(st, &txn) == -1) {
		fleet_free(&f);
		return NULL;
	}
	rc = db_service_each(txn, load_one, f);
	store_txn_end(&txn);
	if (rc == -1) {
		fleet_free(&f);
		return NULL;
	}
	log_info("fleet: %zu known agent(s)", f->n);
	return f;
}

void
fleet_free(struct fleet **fp)
{
	struct fleet *f = *fp;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->cap; i++)
		if (f->slots[i])
			agent_free(f->slots[i]);
	free(f->slots);
	free(f);
	*fp = NULL;
}

/*
 * The refusal log's rate limit: anyone may try a fresh key per
 * connection, so a line per refusal let a stranger fill the log (and
 * slow the bus thread writing it); one line a second, with the count of
 * those suppressed since the last, as the bus's own refused-key log.
 * Only the bus thread calls fleet_allow (one server per process).
 */
static int64_t	allow_log_ms;
static unsigned	allow_log_suppressed;

int
fleet_allow(const char *pubkey, char *host_out, size_t host_len, void *arg)
{
	struct store *st = arg;
	struct store_txn *txn = NULL;
	int64_t now;
	int rc;

	if (store_read_begin(st, &txn) == -1) {
		log_err("agent authentication");
		return -1;
	}
	rc = db_agent_key_host(txn, pubkey, host_out, host_len);
	store_txn_end(&txn);
	if (rc == 0)
		return 0;
	now = clock_mono_ms();
	if (allow_log_ms != 0 && now - allow_log_ms < 1000) {
		allow_log_suppressed++;
		return rc;
	}
	log_warnx("refusing agent connection with key %.8s...: %s (%u "
	    "similar suppressed)", pubkey, err_msg(), allow_log_suppressed);
	allow_log_ms = now;
	allow_log_suppressed = 0;
	return rc;
}

/* Replies go to the bus-authenticated peer with the request's id. */
static void
reply(struct fleet *f, const char *peer, const char *reqid,
    const struct schema_type *type, const void *body)
{
	struct buf b = { 0 };

	if (codec_envelope_encode(type, body, reqid, f->host, &b) == -1 ||
	    bus_send(f->bus, peer, b.data, b.len) == -1)
		log_warnx("reply %s to %s: %s", type->name, peer, err_msg());
	buf_free(&b);
}

static void
reply_error(struct fleet *f, const char *peer, const char *reqid)
{
	struct msg_error e = { 0 };

	e.code = (uint32_t)err_code();
	e.message = (char *)err_msg();
	e.in_reply_to = (char *)reqid;
	reply(f, peer, reqid, &schema_msg_error, &e);
}

static int
dup_str(char **dst, const char *src)
{
	char *d = strdup(src ? src : "");

	if (d == NULL) {
		err_set(TS_ENOMEM, "fleet: out of memory");
		return -1;
	}
	free(*dst);
	*dst = d;
	return 0;
}

/* A registration of a host whose service is not stored (new, or deleted
 * by the operator): a new service record (new id, the operator's switches
 * at their defaults), as Nova creates a new service when a deleted one's
 * compute starts again. The hypervisor keeps the id of a stored one of the
 * host (a hypervisor record may survive its service), else gets a new one
 * if its own is gone, so a host never has two. */
static int
reregister(struct store_txn *txn, struct agent *a)
{
	struct rec_hypervisor h;
	int64_t now = a->svc.last_seen_at;

	db_uuid(a->svc.id);
	a->svc.disabled = 0;
	free(a->svc.disabled_reason);
	a->svc.disabled_reason = NULL;
	a->svc.forced_down = 0;
	a->svc.report_count = 1;
	a->svc.created_at = now;
	if (db_hypervisor_by_host(txn, a->svc.host, &h) == 0) {
		memcpy(a->hv.id, h.id, sizeof(a->hv.id));
		a->hv.created_at = h.created_at;
		codec_clear(&schema_rec_hypervisor, &h);
	} else if (err_code() != TS_ENOT_FOUND) {
		return -1;
	} else {
		db_uuid(a->hv.id);
		a->hv.created_at = now;
	}
	return 0;
}

/* The agent's health record (hoststatus.h), named after its service. */
static int
hs_write(struct store_txn *txn, struct agent *a)
{
	if (a->hs.host == NULL || strcmp(a->hs.host, a->svc.host) != 0) {
		free(a->hs.host);
		if ((a->hs.host = strdup(a->svc.host)) == NULL)
			goto nomem;
	}
	if (a->hs.binary == NULL &&
	    (a->hs.binary = strdup(HOSTSTATUS_AGENT)) == NULL)
		goto nomem;
	a->hs.updated_at = a->svc.last_seen_at;
	return hoststatus_put(txn, &a->hs);
nomem:
	err_set(TS_ENOMEM, "fleet: out of memory");
	return -1;
}

/* A heartbeat's hypervisor: most repeat the last one (same usage, same
 * guests), and such a record is left as it is, with its updated_at (the
 * last change). */
static int
write_hv(struct store_txn *txn, struct agent *a)
{
	int same = db_rec_same(txn, T_HYPERVISORS, a->hv.id,
	    &schema_rec_hypervisor, &a->hv);

	if (same != 0)
		return same == 1 ? 0 : -1;
	a->hv.updated_at = a->hv_seen_at;
	return db_hypervisor_update(txn, &a->hv);
}

/*
 * Writes one agent's records; runs on the committer thread while the bus
 * thread waits in store_write(), so the agent cannot change meanwhile.
 * The stored service is read again in this transaction: the API writes the
 * operator's switches (os-services disable, force-down) and deletes
 * services in transactions of its own, so memory may be stale by now, and
 * the store is the authority for both.
 */
static int
write_agent(struct store_txn *txn, void *arg)
{
	struct agent *a = arg;
	struct rec_service cur;

	if (db_rec_get(txn, T_SERVICES, a->svc.id, &schema_rec_service,
	    &cur) == 0) {
		char *reason = cur.disabled_reason;

		a->svc.disabled = cur.disabled;
		a->svc.forced_down = cur.forced_down;
		cur.disabled_reason = a->svc.disabled_reason;
		a->svc.disabled_reason = reason;
		codec_clear(&schema_rec_service, &cur);
	} else if (err_code() != TS_ENOT_FOUND) {
		return -1;
	} else if (!a->registering) {
		/* Deleted since memory last matched the store: a heartbeat
		 * must not bring it back. The agent's next heartbeat is
		 * answered "unknown agent" and its hello registers it. */
		if (!a->deleted)
			log_warnx("service %s on host %s was deleted: not "
			    "written back; the agent must register again",
			    AGENT_BINARY, a->svc.host);
		a->deleted = 1;
		a->dirty = 0;
		return 0;
	} else if (reregister(txn, a) == -1) {
		return -1;
	}
	if (a->registering) {
		if (db_service_put(txn, &a->svc) == -1 ||
		    (a->has_hv && (db_hypervisor_put(txn, &a->hv) == -1 ||
		    db_hypervisor_guests_update(txn, &a->gl) == -1)))
			return -1;
	} else {
		if (db_service_update(txn, &a->svc) == -1 ||
		    (a->has_hv && a->hv_dirty && write_hv(txn, a) == -1) ||
		    (a->has_hv && a->gl_dirty &&
		    db_hypervisor_guests_update(txn, &a->gl) == -1))
			return -1;
	}
	if (a->hs_dirty && hs_write(txn, a) == -1)
		return -1;
	return 0;
}

/* The guest list moves from the message into the record: both are
 * generated as { struct sch_guest *items; size_t n; }. */
static void
take_guests(struct rec_hypervisor_guests *gl, void *msg_guests)
{
	for (size_t i = 0; i < gl->guests.n; i++)
		codec_clear(&schema_sch_guest, &gl->guests.items[i]);
	free(gl->guests.items);
	memcpy(&gl->guests, msg_guests, sizeof(gl->guests));
	memset(msg_guests, 0, sizeof(gl->guests));
}

static int
str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0 && (a == NULL) == (b == NULL);
}

static int
strs_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if ((a == NULL) != (b == NULL) || na != nb)
		return 0;
	for (size_t k = 0; k < na; k++)
		if (!str_eq(a[k], b[k]))
			return 0;
	return 1;
}

/* Every field of two guest lists equal, in the same order. */
static int
guests_eq(const struct sch_guest *a, size_t na, const struct sch_guest *b,
    size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t k = 0; k < na; k++, a++, b++)
		if (strcmp(a->uuid, b->uuid) != 0 || !str_eq(a->name, b->name) ||
		    !str_eq(a->state, b->state) ||
		    a->power_state != b->power_state || a->vcpus != b->vcpus ||
		    a->memory_mb != b->memory_mb ||
		    !strs_eq(a->macs.items, a->macs.n, b->macs.items,
		    b->macs.n) ||
		    !strs_eq(a->volumes.items, a->volumes.n, b->volumes.items,
		    b->volumes.n) ||
		    a->has_generation != b->has_generation ||
		    a->generation != b->generation ||
		    a->has_vnc_port != b->has_vnc_port ||
		    a->vnc_port != b->vnc_port ||
		    !str_eq(a->vnc_host, b->vnc_host))
			return 0;
	return 1;
}

/* A heartbeat that repeats the usage (and guests_eq() the guests) in
 * memory changes no record: most do, and the flush then does not even
 * compare. */
static int
same_usage(const struct agent *a, const struct msg_heartbeat *m)
{
	return a->hv.vcpus_used == m->vcpus_used &&
	    a->hv.memory_mb_used == m->memory_mb_used &&
	    a->hv.local_gb_used == m->local_gb_used &&
	    a->hv.running_vms == m->running_vms;
}

static void	hellos_flush(struct fleet *);

static void
on_hello(struct fleet *f, const char *peer, const char *reqid,
    struct msg_agent_hello *m)
{
	struct agent *a = lookup(f, peer);
	int64_t now = db_now_ms();
	char *rid;
	int isnew = 0;

	if (a == NULL) {
		struct store_txn *txn = NULL;

		if ((a = calloc(1, sizeof(*a))) == NULL) {
			err_set(TS_ENOMEM, "fleet: out of memory");
			goto fail;
		}
		isnew = 1;
		db_uuid(a->svc.id);
		if (dup_str(&a->svc.host, peer) == -1 ||
		    dup_str(&a->svc.binary, AGENT_BINARY) == -1 ||
		    dup_str(&a->svc.topic, AGENT_TOPIC) == -1)
			goto fail;
		a->svc.created_at = now;
		/* A hypervisor record may survive its service (db repair). */
		if (store_read_begin(f->store, &txn) == 0) {
			a->has_hv = db_hypervisor_by_host(txn, peer, &a->hv) ==
			    0;
			store_txn_end(&txn);
		}
	}
	if (!a->has_hv) {
		db_uuid(a->hv.id);
		if (dup_str(&a->hv.host, peer) == -1)
			goto fail;
		a->hv.created_at = now;
		a->has_hv = 1;
	}
	if (dup_str(&a->hv.agent_version, m->agent_version) == -1 ||
	    dup_str(&a->hv.hypervisor_type, m->hypervisor_type) == -1 ||
	    dup_str(&a->hv.libvirt_uri, m->libvirt_uri) == -1 ||
	    dup_str(&a->hv.cpu_model, m->cpu_model) == -1 ||
	    dup_str(&a->hv.cpu_arch, m->cpu_arch) == -1)
		goto fail;
	a->hv.hypervisor_version = m->hypervisor_version;
	a->hv.vcpus = m->vcpus;
	a->hv.memory_mb = m->memory_mb;
	a->hv.local_gb = m->local_gb;
	/* Absent: the host has no underlay (no VXLAN networks there). */
	free(a->hv.tunnel_ip);
	a->hv.tunnel_ip = NULL;
	if (m->tunnel_ip != NULL && *m->tunnel_ip != '\0' &&
	    dup_str(&a->hv.tunnel_ip, m->tunnel_ip) == -1)
		goto fail;
	a->hv.running_vms = 0;
	for (size_t i = 0; i < m->guests.n; i++)
		if (m->guests.items[i].power_state == 1)
			a->hv.running_vms++;
	if (a->gl.host == NULL && dup_str(&a->gl.host, peer) == -1)
		goto fail;
	/* updated_at: the list's last change, so a hello repeating it
	 * leaves the stored list as it is. */
	if (a->gl.updated_at == 0 || !guests_eq(a->gl.guests.items,
	    a->gl.guests.n, m->guests.items, m->guests.n))
		a->gl.updated_at = now;
	take_guests(&a->gl, &m->guests);
	a->hv.updated_at = now;
	a->svc.last_seen_at = now;
	a->svc.report_count++;
	a->svc.updated_at = now;
	if (isnew && insert(f, a) == -1)
		goto fail;
	isnew = 0;
	/* A hello again before the batch was written: one write, one ack,
	 * to the newest. */
	if ((rid = strdup(reqid)) == NULL) {
		err_set(TS_ENOMEM, "fleet: out of memory");
		a->dirty = 1;
		goto fail_reply;
	}
	free(a->hello_reqid);
	a->hello_reqid = rid;
	if (!a->hello_pending) {
		if (f->npend == 0)
			f->pend_since = clock_mono_ms();
		f->pend[f->npend++] = a;
		a->hello_pending = 1;
	}
	if (f->npend == FLEET_HELLO_BATCH ||
	    clock_mono_ms() - f->pend_since >= FLEET_HELLO_HOLD_MS)
		hellos_flush(f);
	return;
fail:
	if (isnew && a)
		agent_free(a);
fail_reply:
	log_err("agent_hello");
	reply_error(f, peer, reqid);
}

static int
write_hellos(struct store_txn *txn, void *arg)
{
	struct fleet *f = arg;

	for (size_t i = 0; i < f->npend; i++)
		if (write_agent(txn, f->pend[i]) == -1)
			return -1;
	return 0;
}

/* The waiting registrations in one transaction, then their acks (or
 * errors: memory is then ahead of the store, and the next tick's
 * heartbeat flush or the agent's next hello retries). */
static void
hellos_flush(struct fleet *f)
{
	struct msg_hello_ack ack = { 0 };
	int rc;

	if (f->npend == 0)
		return;
	for (size_t i = 0; i < f->npend; i++)
		f->pend[i]->registering = 1;
	rc = store_write(f->store, write_hellos, f);
	if (rc == -1)
		log_warnx("agent_hello: writing %zu registrations: %s",
		    f->npend, err_msg());
	ack.controller_host = f->host;
	ack.report_interval = (uint32_t)f->report_interval;
	ack.server_time = db_now_ms();
	for (size_t i = 0; i < f->npend; i++) {
		struct agent *a = f->pend[i];
		const char *host = a->svc.host;

		a->registering = 0;
		a->hello_pending = 0;
		log_set_request_id(a->hello_reqid);
		if (rc == -1) {
			a->dirty = 1;
			reply_error(f, host, a->hello_reqid);
		} else {
			a->dirty = a->hv_dirty = a->gl_dirty = 0;
			a->deleted = 0;
			if (!a->up)
				log_warnx("service %s on host %s is up "
				    "(registered: %u vCPUs, %llu MiB, %llu "
				    "GiB, %s %s)", AGENT_BINARY, host,
				    a->hv.vcpus,
				    (unsigned long long)a->hv.memory_mb,
				    (unsigned long long)a->hv.local_gb,
				    a->hv.hypervisor_type, a->hv.cpu_model);
			a->up = 1;
			reply(f, host, a->hello_reqid, &schema_msg_hello_ack,
			    &ack);
			report_hooks(f, host, a, 1);
		}
		free(a->hello_reqid);
		a->hello_reqid = NULL;
	}
	log_set_request_id(NULL);
	f->npend = 0;
}

void
fleet_idle(struct fleet *f)
{
	hellos_flush(f);
}

int
fleet_busy(const struct fleet *f)
{
	return f->npend > 0;
}

static void
on_heartbeat(struct fleet *f, const char *peer, const char *reqid,
    struct msg_heartbeat *m)
{
	struct agent *a = lookup(f, peer);
	struct msg_heartbeat_ack ack = { 0 };
	int64_t now = db_now_ms();

	if (a == NULL || !a->has_hv || a->deleted) {
		/* Controller database lost, agent never said hello, or its
		 * service was deleted. */
		err_set(TS_ENOT_FOUND, "unknown agent %s: send agent_hello",
		    peer);
		rejected(f, FLEET_REJECT_UNKNOWN_AGENT);
		reply_error(f, peer, reqid);
		return;
	}
	a->svc.last_seen_at = now;
	a->svc.report_count++;
	a->svc.updated_at = now;
	/* A stale heartbeat (libvirt held the agent's census up) says only
	 * that the host lives: its usage and guests stay as last reported,
	 * and nothing is reconciled on them. */
	if (!(m->has_stale && m->stale) && !same_usage(a, m)) {
		a->hv.vcpus_used = m->vcpus_used;
		a->hv.memory_mb_used = m->memory_mb_used;
		a->hv.local_gb_used = m->local_gb_used;
		a->hv.running_vms = m->running_vms;
		a->hv_seen_at = now;
		a->hv_dirty = 1;
	}
	if (!(m->has_stale && m->stale) && !guests_eq(a->gl.guests.items,
	    a->gl.guests.n, m->guests.items, m->guests.n)) {
		take_guests(&a->gl, &m->guests);
		a->gl.updated_at = now;
		a->gl_dirty = 1;
	}
	if (hoststatus_take(&a->hs, m))
		a->hs_dirty = 1;
	a->dirty = 1;
	if (!a->up) {
		log_warnx("service %s on host %s is up again", AGENT_BINARY,
		    peer);
		a->up = 1;
	}
	/* Only when asked (every other heartbeat of an idle agent): each
	 * ack is an encryption and a write on the bus thread, and the
	 * agent's silence rule needs one word per 3 intervals. */
	if (!m->has_want_ack || m->want_ack) {
		ack.seq = m->seq;
		ack.server_time = now;
		reply(f, peer, reqid, &schema_msg_heartbeat_ack, &ack);
	}
	if (!(m->has_stale && m->stale))
		report_hooks(f, peer, a, 0);
}

void
fleet_tunnel_ip(struct fleet *f, const char *host, char *out, size_t len)
{
	struct agent *a = lookup(f, host);

	snprintf(out, len, "%s", a && a->has_hv && a->hv.tunnel_ip ?
	    a->hv.tunnel_ip : "");
}

/* One LMDB read per message of an agent whose key may have changed since
 * its last message: a known agent's yes is kept while no agent key was
 * written since the read that gave it (by another process, the manage
 * tool: store_foreign_gen(); by this one: db_agent_keys_changed_txn()).
 * No lock. */
static int
still_enrolled(struct fleet *f, const char *host, const char *pubkey)
{
	struct store_txn *txn = NULL;
	struct rec_agent_key k;
	struct agent *a = lookup(f, host);
	uint64_t gen = store_foreign_gen(f->store), id;
	int ok;

	if (a != NULL && a->enrol_gen == gen + 1 &&
	    db_agent_keys_changed_txn() <= a->enrol_txn &&
	    strcmp(a->enrol_key, pubkey) == 0)
		return 1;
	if (a != NULL)
		a->enrol_gen = 0;
	if (store_read_begin(f->store, &txn) == -1)
		return 0;
	id = store_txn_id(txn);
	ok = db_agent_key_get(txn, host, &k) == 0;
	store_txn_end(&txn);
	if (ok) {
		/* The connection's key must still be THE key of the host: a
		 * re-enrolment with a new key (after a leak) cuts off
		 * connections made with the old one. */
		ok = !k.revoked && strcmp(k.public_key, pubkey) == 0;
		codec_clear(&schema_rec_agent_key, &k);
	}
	if (!ok)
		err_set(TS_EFORBIDDEN, "agent %s is not enrolled with the key "
		    "of this connection (revoked or replaced)", host);
	else if (a != NULL && strlen(pubkey) < sizeof(a->enrol_key)) {
		snprintf(a->enrol_key, sizeof(a->enrol_key), "%s", pubkey);
		a->enrol_gen = gen + 1;
		a->enrol_txn = id;
	}
	return ok;
}

void
fleet_handle(struct fleet *f, const struct bus_msg *bm)
{
	struct codec_envelope env;

	memset(&env, 0, sizeof(env));
	if (codec_envelope_decode(bm->data, bm->len, SCHEMA_FROM_AGENT,
	    &env) == -1) {
		log_warnx("malformed message from %s: %s", bm->peer,
		    err_msg());
		rejected(f, FLEET_REJECT_MALFORMED);
		reply_error(f, bm->peer, "");
		return;
	}
	log_set_request_id(env.request_id);
	if (strcmp(env.sender, bm->user_id) != 0) {
		err_set(TS_EFORBIDDEN, "sender '%s' is not the authenticated "
		    "host '%s'", env.sender, bm->user_id);
		log_err("message refused");
		rejected(f, FLEET_REJECT_SENDER);
		reply_error(f, bm->peer, env.request_id);
		goto out;
	}
	if (f->require_enrolled &&
	    !still_enrolled(f, bm->user_id, bm->pubkey)) {
		log_err("message refused");
		rejected(f, FLEET_REJECT_NOT_ENROLLED);
		reply_error(f, bm->peer, env.request_id);
		goto out;
	}
	if (env.type != &schema_msg_agent_hello && f->npend > 0) {
		/* Its hello first: what follows it assumes a registered host
		 * (a heartbeat flush only updates stored records). */
		struct agent *a = lookup(f, bm->user_id);

		if (a != NULL && a->hello_pending)
			hellos_flush(f);
	}
	if (env.type == &schema_msg_agent_hello) {
		struct msg_agent_hello *m = env.body;

		if (strcmp(m->host, bm->user_id) != 0) {
			err_set(TS_EFORBIDDEN, "agent %s may not register "
			    "host %s", bm->user_id, m->host);
			log_err("agent_hello refused");
			rejected(f, FLEET_REJECT_WRONG_HOST);
			reply_error(f, bm->peer, env.request_id);
			goto out;
		}
		on_hello(f, bm->peer, env.request_id, m);
	} else if (env.type == &schema_msg_heartbeat) {
		struct msg_heartbeat *m = env.body;

		if (strcmp(m->host, bm->user_id) != 0) {
			err_set(TS_EFORBIDDEN, "agent %s may not report for "
			    "host %s", bm->user_id, m->host);
			log_err("heartbeat refused");
			rejected(f, FLEET_REJECT_WRONG_HOST);
			reply_error(f, bm->peer, env.request_id);
			goto out;
		}
		on_heartbeat(f, bm->peer, env.request_id, m);
	} else if (env.type == &schema_msg_error) {
		struct msg_error *m = env.body;

		log_warnx("agent %s reports error %u: %s", bm->peer, m->code,
		    m->message);
		/* A service may own the request refused (storesync). */
		(void)message_hooks(f, bm->user_id, &env);
	} else if (message_hooks(f, bm->user_id, &env) == 1) {
		/* taken by a service */
	} else {
		log_warnx("unexpected %s from %s", env.type->name, bm->peer);
	}
out:
	codec_envelope_clear(&env);
	log_set_request_id(NULL);
}

/* Batched heartbeat flush: every dirty agent in one store_write. */
static int
write_dirty(struct store_txn *txn, void *arg)
{
	struct fleet *f = arg;

	for (size_t i = 0; i < f->cap; i++) {
		struct agent *a = f->slots[i];

		if (a && a->dirty && !a->deleted && write_agent(txn, a) == -1)
			return -1;
	}
	return 0;
}

int
fleet_flush(struct fleet *f)
{
	int any = 0;

	hellos_flush(f);
	for (size_t i = 0; i < f->cap && !any; i++)
		any = f->slots[i] && f->slots[i]->dirty &&
		    !f->slots[i]->deleted;
	if (!any)
		return 0;
	if (store_write(f->store, write_dirty, f) == -1) {
		log_err("writing heartbeats");
		return -1;
	}
	for (size_t i = 0; i < f->cap; i++)
		if (f->slots[i])
			f->slots[i]->dirty = f->slots[i]->hs_dirty =
			    f->slots[i]->hv_dirty = f->slots[i]->gl_dirty = 0;
	return 0;
}

void
fleet_tick(struct fleet *f, int64_t now)
{
	/*
	 * A heartbeat counts when this thread reads it: while the loop is
	 * behind its socket, a host's heartbeat may be waiting in libzmq,
	 * and a host is judged as of the moment the loop last caught up.
	 * Under a burst (creates at 10,000 agents on a starved controller)
	 * hosts were called down with their heartbeats queued here, and
	 * their builds failed. At most service_down_time more: a backlog
	 * that never clears must not hide a dead host forever.
	 */
	int64_t lag = f->bus ? bus_backlog_ms(f->bus) : 0;

	if (lag > f->down_ms)
		lag = f->down_ms;
	now -= lag;
	fleet_flush(f);
	for (size_t i = 0; i < f->cap; i++) {
		struct agent *a = f->slots[i];
		int up;

		if (a == NULL || a->deleted)
			continue;
		up = is_up(f, a, now);
		if (a->up && !up)
			log_warnx("service %s on host %s is down: no heartbeat "
			    "for %lld s", AGENT_BINARY, a->svc.host,
			    (long long)((now - a->svc.last_seen_at) / 1000));
		a->up = up;
	}
}
