/* recon: dispatch and reconciliation of instances; see recon.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uuid/uuid.h>

#include "hash.h"
#include "auth/capability.h"
#include "bus.h"
#include "clock.h"
#include "codec.h"
#include "compute_db.h"
#include "core/db.h"
#include "err.h"
#include "image/image.h"
#include "log.h"
#include "network/network.h"
#include "recon.h"
#include "scheduler.h"
#include "store.h"
#include "utf8.h"
#include "volume/volume.h"

#define RESEND_MAX_MS	60000
#define SENT_BUCKETS	4096
/* Hosts whose last report needed nothing (struct calm), by name hash. */
#define CALM_BUCKETS	4096
/* A host reporting the same guests as last time, with none of its
 * instances changed since, is not re-checked; but at least this often it
 * is, whatever it reports: a change the stamps do not cover (a port or
 * volume record changed alone) is seen within this bound. */
#define FULL_PASS_MS	60000
#define NAME_PREFIX	"instance-"

static const struct recon_task tasks[] = {
	{ "spawning", "create", RECON_ENSURE, POWER_RUNNING, NULL,
	    VM_ACTIVE, 1, 0 },
	{ "powering-off", "stop", RECON_ENSURE, POWER_SHUTDOWN, NULL,
	    VM_STOPPED, 0, 0 },
	{ "powering-on", "start", RECON_ENSURE, POWER_RUNNING, NULL,
	    VM_ACTIVE, 0, 0 },
	{ "pausing", "pause", RECON_ENSURE, POWER_PAUSED, NULL,
	    VM_PAUSED, 0, 0 },
	{ "unpausing", "unpause", RECON_ENSURE, POWER_RUNNING, NULL,
	    VM_ACTIVE, 0, 0 },
	{ "suspending", "suspend", RECON_ENSURE, POWER_SUSPENDED, NULL,
	    VM_SUSPENDED, 0, 0 },
	{ "resuming", "resume", RECON_ENSURE, POWER_RUNNING, NULL,
	    VM_ACTIVE, 0, 0 },
	{ "rebooting", "reboot", RECON_ACTION, POWER_RUNNING, "reboot_soft",
	    VM_ACTIVE, 0, 0 },
	{ "rebooting_hard", "reboot", RECON_ACTION, POWER_RUNNING,
	    "reboot_hard", VM_ACTIVE, 0, 0 },
	/* Rebuild: the API bumps the generation and sets the power the
	 * instance ends in (a stopped one stays stopped). */
	{ "rebuilding", "rebuild", RECON_ENSURE, POWER_NOSTATE, NULL, NULL, 1,
	    1 },
	{ "deleting", "delete", RECON_DELETE, POWER_NOSTATE, NULL, NULL, 0, 0 },
	/* Live migration: the power stays (ACTIVE or PAUSED, moved as it
	 * is); its ends are migrate_end()'s. */
	{ "migrating", "live-migration", RECON_MIGRATE, POWER_NOSTATE, NULL,
	    NULL, 0, 1 },
	/* Snapshots keep the power and vm_state the instance has; their
	 * deadline is the build's (a disk is copied and uploaded). */
	{ "image_snapshot", "createImage", RECON_SNAPSHOT, POWER_NOSTATE, NULL,
	    NULL, 0, 1 },
	/* Resize (and cold migration) on the same host: the API bumps the
	 * generation and keeps the power; the ensure says resize (see
	 * resize_flag()); its ends are resize_end()'s. The deadline is the
	 * build's: a root disk is copied. */
	{ "resize_prep", "resize", RECON_ENSURE, POWER_NOSTATE, NULL,
	    VM_RESIZED, 1, 1 },
	{ "resize_reverting", "revertResize", RECON_ENSURE, POWER_NOSTATE,
	    NULL, NULL, 1, 1 },
	/* Resize (and cold migration) to another host (compute_resize.c):
	 * the source stops the guest (resize_migrating), uploads its root
	 * disk into a temporary image (resize_migrated), then host is the
	 * target, which builds the guest from that image with the new flavor
	 * (resize_finish). Each step is re-sent from the record alone; each
	 * answer starts the next (xhost_state()), a failure or the deadline
	 * goes back to the source (xhost_fail()). The action is the API's
	 * (recon_task_begin_as()). */
	{ "resize_migrating", "migrate", RECON_ENSURE, POWER_SHUTDOWN, NULL,
	    NULL, 1, 0 },
	{ "resize_migrated", "migrate", RECON_SNAPSHOT, POWER_SHUTDOWN, NULL,
	    NULL, 1, 0 },
	{ "resize_finish", "migrate", RECON_ENSURE, POWER_NOSTATE, NULL,
	    VM_RESIZED, 1, 1 },
	{ "image_backup", "createBackup", RECON_SNAPSHOT, POWER_NOSTATE, NULL,
	    NULL, 0, 1 },
	/* Shelve (compute_shelve.c): the host stops the guest (shelving),
	 * uploads its root disk into the shelved image
	 * (shelving_image_uploading; skipped for a server booted from a
	 * volume): SHELVED; then, with shelved_offload_time 0 (and on
	 * shelveOffload), deletes it (shelving_offloading): the host's claim
	 * and the ports' binding go, SHELVED_OFFLOADED without a host.
	 * Unshelve (unshelving) starts the kept guest, or builds it from the
	 * shelved image on the host the API claimed. Each step is re-sent
	 * from the record alone, with its own request id (xhost_next()); the
	 * answers are shelve_state()'s, a failure or the deadline
	 * shelve_fail()'s (never ERROR). */
	{ "shelving", "shelve", RECON_ENSURE, POWER_SHUTDOWN, NULL, NULL, 1,
	    0 },
	{ "shelving_image_uploading", "shelve", RECON_SNAPSHOT,
	    POWER_SHUTDOWN, NULL, NULL, 1, 0 },
	{ "shelving_offloading", "shelveOffload", RECON_OFFLOAD,
	    POWER_SHUTDOWN, NULL, VM_SHELVED_OFFLOADED, 0, 0 },
	{ "unshelving", "unshelve", RECON_ENSURE, POWER_RUNNING, NULL,
	    VM_ACTIVE, 1, 0 },
	{ "image_pending_upload", "createImage", RECON_SNAPSHOT,
	    POWER_NOSTATE, NULL, NULL, 0, 1 },
	{ "image_uploading", "createImage", RECON_SNAPSHOT, POWER_NOSTATE,
	    NULL, NULL, 0, 1 },
};

const struct recon_task *
recon_task_find(const char *task_state)
{
	if (task_state == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++)
		if (strcmp(tasks[i].task_state, task_state) == 0)
			return &tasks[i];
	return NULL;
}

/* What was last sent for an instance: drives re-sends and rate limits. */
struct sent {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		 reqid[CODEC_REQUEST_ID_MAX + 1];
	int64_t		 at;		/* monotonic ms */
	unsigned	 attempts;	/* re-sends of reqid so far */
	struct sent	*next;
};

/*
 * An admin password on its way to a guest (create, rebuild, evacuation).
 * The API hands it over once (recon_dispatch_pass()) and, as in Nova, it
 * is never stored; it stays here, under the lock, until the command of
 * the task that carries it is answered, so that a command held for its
 * volumes' exports, or re-sent after a loss, still carries it. Gone with
 * a controller restart (the guest then gets none, as before); wiped when
 * dropped; dropped unanswered once the task's deadline has passed (the
 * scan that fails the task), on the task's own clock.
 */
struct pass {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		 reqid[CODEC_REQUEST_ID_MAX + 1];
	int64_t		 until;		/* wall ms: the task's deadline */
	size_t		 len;
	struct pass	*next;
	char		 pass[];	/* NUL-terminated */
};
/* Passwords kept at most: about 400 bytes each. Past it a password goes
 * with the first send only (logged). */
#define PASS_MAX	16384
#define PASS_LEN_MAX	255	/* the API's limit (adminPass) */

/* EV_SUPERSEDED: a report a newer one of the same host replaced while
 * both were queued (enqueue_report). */
enum ev_kind { EV_STATE, EV_REPORT, EV_PREPARED, EV_SUPERSEDED };

/* A live migration's target that answered instance_migrate_prepare: its
 * paths go into the instance_migrate to the source. Memory only: after a
 * controller restart the target is asked again (idempotent). Lock held. */
struct prep {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		 reqid[CODEC_REQUEST_ID_MAX + 1];
	char		*instances_path, *cache_dir;	/* owned, may be NULL */
	/* PREP_SOURCE_GONE: the source no longer has the guest (its answer
	 * said so, or its report left it out): libvirt undefines it there only once the
	 * migration succeeded, so the target's report of it running now
	 * ends the migration. Not before: the target resumes the guest
	 * while the source's libvirtd is still confirming (killing its
	 * qemu, undefining). PREP_ABORTED: an abort was sent to the source,
	 * so its failure is the migration record's "cancelled", as Nova's. */
	unsigned	 flags;
	int		 backing;	/* its root_backing */
	struct prep	*next;
};

/*
 * A live migration ended by the target's report of the guest running
 * there (migrating_here()): libvirt resumes it on the target only once
 * the move is past its point of no return, while the source's libvirtd
 * still confirms (stops its paused qemu, undefines it) and its agent
 * has yet to answer. Until that answer, or LANDED_GRACE_MS, the
 * source's paused copy is not fenced (landed_from()); a copy running
 * there, or one left past the grace, is. Memory only: a restarted
 * controller fences it, which the source's agent runs after its
 * migration job (one job per guest at a time). Lock held.
 */
struct landed {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		 reqid[CODEC_REQUEST_ID_MAX + 1];
	char		 source[BUS_NAME_SIZE];
	int64_t		 at;		/* monotonic ms */
	struct landed	*next;
};

#define LANDED_GRACE_MS	30000

/* A reported guest. Its NICs and volumes point into the report's pool
 * (struct ev): inline arrays of the maxima made every guest 1.3 KB, and a
 * lagging recon thread holds a report per host. */
struct rguest {
	char		 uuid[CODEC_UUID_LEN + 1];
	uint32_t	 power;
	uint64_t	 generation;	/* from its metadata; 0: unknown */
	int		 ours;		/* name starts with instance- */
	int		 seen;
	int		 has_macs;	/* the report listed its NICs */
	size_t		 nmacs;		/* guest.macs max=32 */
	char		(*macs)[18];
	int		 has_vols;	/* the report listed its volumes */
	size_t		 nvols;		/* guest.volumes max=16 */
	char		(*vols)[CODEC_UUID_LEN + 1];
};

struct ev {
	struct ev		*next;
	enum ev_kind		 kind;
	char			 host[BUS_NAME_SIZE];
	struct msg_instance_state *state;	/* EV_STATE, owned */
	struct msg_instance_migrate_prepared *prepared;	/* EV_PREPARED */
	struct rguest		*guests;	/* EV_REPORT, owned */
	size_t			 nguests;
	char			*pool;		/* EV_REPORT: the guests' NICs and
						 * volumes, owned */
	int			 hello;
	uint64_t		 sum;		/* EV_REPORT: report_sum() */
	uint64_t		 seq;		/* r->posted once queued */
};

/*
 * A host's last reconciling pass, so that the next report can be skipped
 * when it cannot change anything (recon_host_report): the pass found the
 * host as it should be (quiet: every instance there without a task, its
 * guest in the wanted state with the wanted NICs and volumes, no other
 * guest, nothing to fix), the report carries the same guests (sum), no
 * instance or tombstone of the host was written since the pass's snapshot
 * (txn, compute_db_host_changed_txn()), the pass is younger than
 * FULL_PASS_MS, and no report of the host is waiting (pending). Lock held.
 */
struct calm {
	struct calm		*next;
	uint64_t		 sum;
	uint64_t		 txn;
	int64_t			 at;		/* monotonic ms of the pass */
	int			 quiet;
	unsigned		 pending;
	/* The host's newest report in the queue, valid while queued_seq >
	 * r->taken (the recon thread has not taken it): a newer report
	 * replaces it there (enqueue_report). */
	struct ev		*queued;
	uint64_t		 queued_seq;
	char			 host[];
};

/* A snapshot task that ended in a committed transaction: its image's
 * fate is decided after the commit (recon_snap.done). */
struct snap_out {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		 image_id[CODEC_UUID_LEN + 1];
	char		 backup_type[256];
	int		 ok, backup;
	int		 drop;		/* a cross-host resize's: deleted */
	uint32_t	 rotation;
};

/* An HTTP thread waiting for an agent's answer (console, uptime). */
struct waiter {
	struct waiter		*next;
	const struct schema_type *want;		/* reply type expected */
	char			 reqid[CODEC_REQUEST_ID_MAX + 1];
	char			 host[BUS_NAME_SIZE];
	int			 done;
	int			 found;
	char			*out;		/* console text, owned */
	struct recon_uptime	 up;
	struct msg_guest_stats	*stats;		/* owned */
};

struct recon {
	struct store		*store;
	struct bus		*bus;
	struct sched		*sched;
	char			 host[256];
	int64_t			 build_ms, action_ms, resend_ms, console_ms;
	int			 shelved_offload_time;	/* s (recon_opts) */
	/* The periodic offload's place in the walk of SHELVED servers
	 * (offload_scan()): the last one read; recon_scan()'s thread only. */
	int64_t			 off_created;
	char			 off_uuid[CODEC_UUID_LEN + 1];
	bool			 off_resume;
	recon_token_fn		 token_fn;	/* set before the thread */
	struct recon_net	 net;		/* set before the thread */
	struct recon_vol	 vol;		/* set before the thread */
	/* A store_write() function of the recon thread changed volume
	 * attachments: vol.changed() once it committed (as net_released). */
	int			 vol_settled;
	void			*token_arg;
	struct recon_snap	 snap;		/* set before the thread */
	/* Snapshot tasks ended by the transaction being written (recon
	 * thread only; emptied when a write function starts, drained after
	 * its commit). */
	struct snap_out		*snap_out;
	size_t			 nsnap, capsnap;
	/* A store_write() function of the recon thread released a
	 * device's ports: net.changed() once it committed. Set by the
	 * function while the recon thread waits in store_write(). */
	int			 net_released;

	pthread_t		 thread;
	int			 started;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* events queued / stop */
	pthread_cond_t		 done_cond;	/* events processed, console */
	int			 stop;
	struct ev		*head, *tail;
	/* Events queued, taken off the queue by the recon thread, and
	 * processed, since the start: an event is in the queue while its seq
	 * is above taken. */
	uint64_t		 posted, taken, processed;
	struct sent		*sent[SENT_BUCKETS];
	struct pass		*pass[SENT_BUCKETS];	/* lock */
	size_t			 npass;		/* lock */
	struct prep		*preps;		/* lock */
	struct landed		*landed;	/* lock */
	struct calm		*calm[CALM_BUCKETS];	/* lock */
	struct waiter		*waiters;
	struct recon_stats	 st;
};

static void
new_reqid(char out[CODEC_REQUEST_ID_MAX + 1])
{
	char u[37];

	db_uuid(u);
	snprintf(out, CODEC_REQUEST_ID_MAX + 1, "req-%s", u);
}

#define STAT(r, field)	do {					\
	pthread_mutex_lock(&(r)->lock);				\
	(r)->st.field++;					\
	pthread_mutex_unlock(&(r)->lock);			\
} while (0)

/* ---------------------------------------------------------------- sent */

static unsigned
bucket(const char *uuid)
{
	return (unsigned)(hash_fnv64(uuid) % SENT_BUCKETS);
}

/* Lock held. */
static struct sent *
sent_find(struct recon *r, const char *uuid)
{
	struct sent *s;

	for (s = r->sent[bucket(uuid)]; s; s = s->next)
		if (strcmp(s->uuid, uuid) == 0)
			return s;
	return NULL;
}

static void
sent_forget(struct recon *r, const char *uuid)
{
	struct sent **pp, *s;

	pthread_mutex_lock(&r->lock);
	for (pp = &r->sent[bucket(uuid)]; (s = *pp) != NULL; pp = &s->next) {
		if (strcmp(s->uuid, uuid) == 0) {
			*pp = s->next;
			free(s);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/*
 * Whether a command for uuid may be sent now: never sent, or the last one
 * older than the back-off for its attempt count. reqid NULL: any command.
 * Older as of the moment the bus thread last caught up with its socket:
 * while it is behind, the answer may be waiting there unread, and a
 * re-send would only add an answer more to read (at 10,000 agents on a
 * starved controller, every create was sent again at 5, 15 and 35 s).
 */
static int
sent_due(struct recon *r, const char *uuid, const char *reqid, int64_t now)
{
	struct sent *s;
	int64_t wait, lag = r->bus ? bus_backlog_ms(r->bus) : 0;
	int due;

	now -= lag < RESEND_MAX_MS ? lag : RESEND_MAX_MS;
	pthread_mutex_lock(&r->lock);
	s = sent_find(r, uuid);
	if (s == NULL || (reqid && strcmp(s->reqid, reqid) != 0)) {
		due = 1;
	} else {
		wait = r->resend_ms;
		for (unsigned i = 0; i < s->attempts && wait < RESEND_MAX_MS;
		    i++)
			wait *= 2;
		if (wait > RESEND_MAX_MS)
			wait = RESEND_MAX_MS;
		due = now - s->at >= wait;
	}
	pthread_mutex_unlock(&r->lock);
	return due;
}

/* The agent answered request reqid for uuid: the command is no longer in
 * flight (a task's reply also ends the task; a command without a task,
 * such as a re-creation or a power correction, ends here). */
static void
sent_answered(struct recon *r, const char *uuid, const char *reqid)
{
	struct sent **pp, *s;

	pthread_mutex_lock(&r->lock);
	for (pp = &r->sent[bucket(uuid)]; (s = *pp) != NULL; pp = &s->next) {
		if (strcmp(s->uuid, uuid) == 0) {
			if (strcmp(s->reqid, reqid) == 0) {
				*pp = s->next;
				free(s);
			}
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* Whether a command for uuid was sent and not answered yet. */
static int
sent_pending(struct recon *r, const char *uuid)
{
	int pending;

	pthread_mutex_lock(&r->lock);
	pending = sent_find(r, uuid) != NULL;
	pthread_mutex_unlock(&r->lock);
	return pending;
}

/* Records a send; returns 1 if it repeats the previous request id. */
static int
sent_note(struct recon *r, const char *uuid, const char *reqid, int64_t now)
{
	struct sent *s;
	int again = 0;

	pthread_mutex_lock(&r->lock);
	if ((s = sent_find(r, uuid)) == NULL &&
	    (s = calloc(1, sizeof(*s))) != NULL) {
		unsigned b = bucket(uuid);

		snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
		s->next = r->sent[b];
		r->sent[b] = s;
	}
	if (s != NULL) {
		if (strcmp(s->reqid, reqid) == 0) {
			s->attempts++;
			again = 1;
		} else {
			snprintf(s->reqid, sizeof(s->reqid), "%s", reqid);
			s->attempts = 0;
		}
		s->at = now;
	}
	r->st.sent++;
	if (again)
		r->st.resent++;
	pthread_mutex_unlock(&r->lock);
	return again;
}

/* ---------------------------------------------------------- passwords */

static void
pass_free(struct pass *p)
{
	explicit_bzero(p->pass, p->len);
	free(p);
}

/* Lock held. Drops bucket b's entries for uuid (NULL: none) and those
 * past their deadline. */
static void
pass_prune(struct recon *r, unsigned b, const char *uuid, int64_t now)
{
	struct pass **pp = &r->pass[b], *p;

	while ((p = *pp) != NULL) {
		if ((uuid != NULL && strcmp(p->uuid, uuid) == 0) ||
		    p->until <= now) {
			*pp = p->next;
			pass_free(p);
			r->npass--;
		} else
			pp = &p->next;
	}
}

/* Keeps pass for i's task (its request id), replacing an older one; now
 * and the deadline in wall ms (db_now_ms(), as task deadlines). */
static void
pass_keep(struct recon *r, const struct rec_instance *i, const char *pass,
    int64_t now)
{
	unsigned b = bucket(i->uuid);
	size_t len = strlen(pass);
	struct pass *p;

	if (i->task_request_id == NULL || len > PASS_LEN_MAX)
		return;
	pthread_mutex_lock(&r->lock);
	pass_prune(r, b, i->uuid, now);
	if (r->npass >= PASS_MAX) {
		pthread_mutex_unlock(&r->lock);
		log_warnx("instance %s: %d admin passwords in flight; this one "
		    "goes with the first send only", i->uuid, PASS_MAX);
		return;
	}
	if ((p = calloc(1, sizeof(*p) + len + 1)) == NULL) {
		pthread_mutex_unlock(&r->lock);
		log_warnx("instance %s: out of memory keeping its admin "
		    "password; it goes with the first send only", i->uuid);
		return;
	}
	snprintf(p->uuid, sizeof(p->uuid), "%s", i->uuid);
	snprintf(p->reqid, sizeof(p->reqid), "%s", i->task_request_id);
	p->until = i->task_deadline > now ? i->task_deadline :
	    now + r->build_ms;
	p->len = len;
	memcpy(p->pass, pass, len + 1);
	p->next = r->pass[b];
	r->pass[b] = p;
	r->npass++;
	pthread_mutex_unlock(&r->lock);
}

/* Copies the password kept for request reqid of uuid into out (cap
 * bytes); 0 if there is one, -1 if not. */
static int
pass_get(struct recon *r, const char *uuid, const char *reqid, char *out,
    size_t cap, int64_t now)
{
	struct pass *p;
	int rc = -1;

	pthread_mutex_lock(&r->lock);
	for (p = r->pass[bucket(uuid)]; p != NULL; p = p->next) {
		if (strcmp(p->uuid, uuid) == 0 && strcmp(p->reqid, reqid) == 0 &&
		    p->until > now && p->len < cap) {
			memcpy(out, p->pass, p->len + 1);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* The command of request reqid (NULL: any) for uuid was answered or the
 * instance is gone: its password is no longer needed. */
static void
pass_drop(struct recon *r, const char *uuid, const char *reqid)
{
	struct pass **pp, *p;

	pthread_mutex_lock(&r->lock);
	for (pp = &r->pass[bucket(uuid)]; (p = *pp) != NULL; pp = &p->next) {
		if (strcmp(p->uuid, uuid) == 0 &&
		    (reqid == NULL || strcmp(p->reqid, reqid) == 0)) {
			*pp = p->next;
			pass_free(p);
			r->npass--;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* ------------------------------------------------------------ commands */

#define RECON_TOKEN_MAX	512
_Static_assert(RECON_TOKEN_MAX >= CAPABILITY_BUFSZ, "image capability buffer");

static void
spec_of(const struct rec_instance *i, struct sch_instance_spec *s,
    char name[64])
{
	memset(s, 0, sizeof(*s));
	snprintf(name, 64, "%s%s", NAME_PREFIX, i->uuid);
	s->name = name;
	s->hostname = i->hostname;
	s->project_id = i->project_id;
	s->user_id = i->user_id;
	s->flavor_name = i->flavor.name;
	s->vcpus = i->flavor.vcpus;
	s->memory_mb = i->flavor.ram;
	s->root_gb = i->flavor.disk;
	s->ephemeral_gb = i->flavor.ephemeral;
	s->swap_mb = i->flavor.swap;
	s->extra_specs = i->flavor.extra_specs;
	s->image_id = i->image_ref && *i->image_ref ? i->image_ref : NULL;
	s->image_disk_format = i->image_disk_format;
	s->kernel_id = i->kernel_id;
	s->ramdisk_id = i->ramdisk_id;
	s->kernel_cmdline = i->kernel_cmdline;
	s->user_data = i->user_data;
	s->key_data = i->key_data;
	s->metadata = i->metadata;
	s->image_sha512 = i->image_sha512;
	s->has_image_size = i->has_image_size;
	s->image_size = i->image_size;
	s->kernel_disk_format = i->kernel_disk_format;
	s->kernel_sha512 = i->kernel_sha512;
	s->has_kernel_size = i->has_kernel_size;
	s->kernel_size = i->kernel_size;
	s->ramdisk_disk_format = i->ramdisk_disk_format;
	s->ramdisk_sha512 = i->ramdisk_sha512;
	s->has_ramdisk_size = i->has_ramdisk_size;
	s->ramdisk_size = i->ramdisk_size;
}

void
recon_set_network(struct recon *r, const struct recon_net *net)
{
	r->net = *net;
}

/* The NICs of an instance: its ports, read now (a port added or removed
 * since the last command shows in the next one). The bridge is left to
 * the agent, which names it from the network id (agent/net/link.h) or its
 * own physical network mapping. A failed read sends no NICs (logged): the
 * guest comes up without them rather than not at all. */
struct nics {
	struct sch_nic	 v[32];
	char		 mac[32][33];
	size_t		 n;
};

static int
nic_cb(const struct network_device_port *p, void *arg)
{
	struct nics *ns = arg;
	struct sch_nic *n;

	if (ns->n == sizeof(ns->v) / sizeof(ns->v[0]))
		return 1;
	n = &ns->v[ns->n];
	memset(n, 0, sizeof(*n));
	snprintf(n->port_id, sizeof(n->port_id), "%s", p->port_id);
	snprintf(n->network_id, sizeof(n->network_id), "%s", p->network_id);
	snprintf(ns->mac[ns->n], sizeof(ns->mac[0]), "%s", p->mac);
	n->mac = ns->mac[ns->n];
	n->has_mtu = p->mtu > 0;
	n->mtu = p->mtu;
	ns->n++;
	return 0;
}

static int
nics_of(struct recon *r, const struct rec_instance *i, struct nics *ns,
    struct sch_instance_spec *s)
{
	struct store_txn *txn = NULL;
	int ok = 1;

	ns->n = 0;
	if (r->net.each_device == NULL)
		return 0;
	if (store_read_begin(r->store, &txn) == -1 ||
	    r->net.each_device(txn, i->uuid, nic_cb, ns) == -1) {
		log_warnx("instance %s: no NICs: %s", i->uuid, err_msg());
		ns->n = 0;
		ok = 0;
	}
	store_txn_end(&txn);
	s->nics.items = ns->n > 0 ? ns->v : NULL;
	s->nics.n = ns->n;
	return ok;
}

void
recon_set_volume(struct recon *r, const struct recon_vol *vol)
{
	r->vol = *vol;
}

/* The volume disks of an instance: its volumes not being detached whose
 * export to the host is ready, read now. A volume not exported yet is left
 * out: the host's next report shows it missing and the ensure goes again
 * (desired_cb). An attached volume whose export is gone for a while (the
 * storage host's tgtd restarted: its agent re-creates the export) stays:
 * unplugging it would fail the guest's I/O, while qemu's initiator logs
 * in again by itself once the target is back. A failed read sends no list
 * and no sync (logged): the guest's disks are left as they are rather than
 * unplugged. */
struct vols {
	struct sch_vol_disk	 v[16];
	struct volume_conn	 c[16];
	char			 dev[16][16];
	int			 ready[16];	/* export in place now */
	size_t			 n;
};

static int
vol_disk_of(struct vols *vs, const struct sch_inst_volume *iv,
    const struct volume_conn *c)
{
	struct sch_vol_disk *d = &vs->v[vs->n];
	const char *dev = iv->device ? iv->device : "";

	if (strncmp(dev, "/dev/", 5) == 0)
		dev += 5;
	memset(d, 0, sizeof(*d));
	snprintf(vs->dev[vs->n], sizeof(vs->dev[0]), "%s", dev);
	snprintf(d->volume_id, sizeof(d->volume_id), "%s", iv->volume_id);
	snprintf(d->attachment_id, sizeof(d->attachment_id), "%s",
	    iv->attachment_id);
	d->target_dev = vs->dev[vs->n];
	d->portal = (char *)c->portal;
	d->iqn = (char *)c->iqn;
	d->lun = c->lun;
	d->initiator = (char *)c->initiator;
	d->chap_user = (char *)c->chap_user;
	d->chap_secret = (char *)c->chap_secret;
	d->readonly = c->readonly;
	if (iv->has_boot_index) {
		d->has_boot_index = true;
		d->boot_index = iv->boot_index;
	}
	vs->n++;
	return 0;
}

static int	in_guest(const struct rguest *, const char *);

/* Fills vs from instance i in txn: 0, or -1 (logged) when a volume could
 * not be read. A volume goes in when its export is ready, or it is
 * attached, or the host's report g (NULL: none) shows it in the guest
 * already: readiness lives in the storage sync's memory, so right after a
 * controller restart, before the storage host's first report, it is
 * unknown; a volume the guest has was plugged from a ready export and is
 * not unplugged for that (A11, docs/RELIABILITY.md). */
static int
vols_read(struct recon *r, struct store_txn *txn, const struct rec_instance *i,
    const struct rguest *g, struct vols *vs)
{
	vs->n = 0;
	for (size_t k = 0; k < i->volumes.n && vs->n < 16; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];
		struct volume_conn *c = &vs->c[vs->n];

		if (iv->has_detaching && iv->detaching)
			continue;
		if (r->vol.conn(r->vol.vol, txn, iv->volume_id,
		    iv->attachment_id, c) == -1) {
			log_warnx("instance %s: volume %s: %s", i->uuid,
			    iv->volume_id, err_msg());
			return -1;
		}
		if (c->ready || (c->portal[0] != '\0' &&
		    ((iv->has_attached && iv->attached) ||
		    (g != NULL && g->has_vols &&
		    in_guest(g, iv->volume_id))))) {
			vs->ready[vs->n] = c->ready;
			vol_disk_of(vs, iv, c);
		}
	}
	return 0;
}

/* Whether ensure task t of i builds an offloaded server's guest on the
 * host its unshelve placed it on: the guest boots with its volumes, as
 * an evacuated one (built_ready()), those attached while offloaded too. */
static int
unshelve_build(const struct rec_instance *i, const struct recon_task *t)
{
	return t != NULL && strcmp(t->task_state, "unshelving") == 0 &&
	    strcmp(i->vm_state, VM_SHELVED_OFFLOADED) == 0;
}

/* Whether the instance's boot volume (if any) is among the volumes ready:
 * a guest is never built or rebuilt without its root disk. */
static int
boot_ready(const struct rec_instance *i, const struct vols *vs)
{
	for (size_t k = 0; k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];

		if (!iv->has_boot_index || iv->boot_index != 0)
			continue;
		for (size_t m = 0; m < vs->n; m++)
			if (vs->ready[m] &&
			    strcmp(vs->v[m].volume_id, iv->volume_id) == 0)
				return 1;
		return 0;
	}
	return 1;
}

/*
 * Whether a rebuild of instance i may go with the volumes vs: every
 * volume not being detached is among them (ready, or attached and so
 * plugged from a ready export). An evacuation clears attached, since its
 * attachments' initiator changed with the host: the target's guest is
 * rebuilt with its volumes once the storage hosts export them to it, as
 * a migrated guest starts with its (unchanged) exports, never without
 * them to have them hot-plugged later.
 */
static int
built_ready(const struct rec_instance *i, const struct vols *vs)
{
	for (size_t k = 0; k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];
		size_t m;

		if (iv->has_detaching && iv->detaching)
			continue;
		for (m = 0; m < vs->n; m++)
			if (strcmp(vs->v[m].volume_id, iv->volume_id) == 0)
				break;
		if (m == vs->n)
			return 0;
	}
	return 1;
}

static void
vols_wipe(struct vols *vs)
{
	explicit_bzero(vs->c, sizeof(vs->c));
}

/* Sets s->volumes (and returns 1: the list is whole) from a read of its
 * own; 0 without a volume service or when the read failed. */
static int
vols_of(struct recon *r, const struct rec_instance *i,
    const struct rguest *g, struct vols *vs, struct sch_instance_spec *s)
{
	struct store_txn *txn = NULL;
	int ok = 1;

	vs->n = 0;
	if (r->vol.conn == NULL)
		return 0;
	if (store_read_begin(r->store, &txn) == -1 ||
	    vols_read(r, txn, i, g, vs) == -1) {
		vs->n = 0;
		ok = 0;
	}
	store_txn_end(&txn);
	if (!ok)
		return 0;
	/* Present even when empty: an empty list unplugs every volume. */
	s->volumes.items = vs->v;
	s->volumes.n = vs->n;
	return 1;
}

static int
in_guest(const struct rguest *g, const char *volume_id)
{
	for (size_t m = 0; m < g->nvols; m++)
		if (strcmp(g->vols[m], volume_id) == 0)
			return 1;
	return 0;
}

/* The guest g (a host's report, or an answer's volumes) shows its volume
 * disks: a wanted volume it has is attached (the volume goes in-use), a
 * detaching one it no longer has is dropped from instance i, a copy the
 * caller stores when *changed (the volume's attachment goes, and its
 * export). In txn. */
static int
settle_vols(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    const struct rguest *g, int *changed)
{
	size_t keep = 0;
	int rc = 0;

	/* Every item is visited, after a failure too, so that the list
	 * stays compact (each item once) for the caller's codec_clear(). */
	for (size_t k = 0; k < i->volumes.n; k++) {
		struct sch_inst_volume *iv = &i->volumes.items[k];
		int seen = rc == 0 && in_guest(g, iv->volume_id);

		if (rc == 0 && iv->has_detaching && iv->detaching && !seen) {
			rc = r->vol.detach_done(r->vol.vol, txn, iv->volume_id,
			    iv->attachment_id);
			if (rc == 0)
				log_info("instance %s: volume %s detached",
				    i->uuid, iv->volume_id);
			codec_clear(&schema_sch_inst_volume, iv);
			*changed = 1;
			continue;
		}
		if (!(iv->has_detaching && iv->detaching) && seen &&
		    !(iv->has_attached && iv->attached)) {
			rc = r->vol.attach_done(r->vol.vol, txn, iv->volume_id,
			    iv->attachment_id);
			if (rc == 0)
				log_info("instance %s: volume %s attached as %s",
				    i->uuid, iv->volume_id, iv->device ?
				    iv->device : "?");
			iv->has_attached = true;
			iv->attached = true;
			*changed = 1;
		}
		if (keep != k)
			i->volumes.items[keep] = *iv;
		keep++;
	}
	i->volumes.n = keep;
	if (rc == 0 && *changed)
		r->vol_settled = 1;
	return rc;
}

/* The guest's volume disks as an answer m saw them settle i's attachments
 * once its task is over, as a report would (desired_cb): right after
 * ACTIVE a booted-from-volume server can be live-migrated, which wants
 * its volumes attached (Tempest does so within milliseconds), and an
 * unshelved one's volumes detached (Tempest's clean-up). */
static int
answer_vols(struct recon *r, struct store_txn *txn,
    const struct msg_instance_state *m, struct rec_instance *i, int *changed)
{
	struct rguest g = { .has_vols = 1 };
	char vols[16][CODEC_UUID_LEN + 1];

	if (!m->exists || m->volumes.items == NULL || i->task_state != NULL ||
	    r->vol.attach_done == NULL)
		return 0;
	for (size_t k = 0; k < m->volumes.n && k < 16; k++)
		snprintf(vols[g.nvols++], sizeof(vols[0]), "%s",
		    m->volumes.items[k]);
	g.vols = vols;
	return settle_vols(r, txn, i, &g, changed);
}

/* Whether a host's report of a guest's volume disks matches the volumes it
 * should have now (those ready, not being detached); unknown (not
 * reported, no volume service, unreadable): equal. *settle: an attachment
 * can move on (a wanted volume shows in the guest, a detached one is
 * gone). Read in txn. */
static int
vols_match(struct recon *r, struct store_txn *txn,
    const struct rec_instance *i, const struct rguest *g, int *settle)
{
	struct vols vs;
	int eq = 1;

	*settle = 0;
	if (!g->has_vols || r->vol.conn == NULL)
		return 1;
	for (size_t k = 0; k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];
		int seen = in_guest(g, iv->volume_id);

		if (iv->has_detaching && iv->detaching) {
			if (!seen)
				*settle = 1;
		} else if (seen && !(iv->has_attached && iv->attached))
			*settle = 1;
	}
	if (vols_read(r, txn, i, g, &vs) == -1)
		return 1;	/* cannot tell: leave it */
	if (vs.n != g->nvols)
		eq = 0;
	for (size_t k = 0; eq && k < vs.n; k++)
		eq = in_guest(g, vs.v[k].volume_id);
	vols_wipe(&vs);
	return eq;
}

/* Whether the NICs a host reported for a guest are the instance's ports
 * (by MAC, any order). Unknown (not reported, or no network service):
 * equal. Read in txn. */
struct mac_set {
	char	 macs[32][18];
	size_t	 n;
	int	 over;
};

static int
mac_cb(const struct network_device_port *p, void *arg)
{
	struct mac_set *ms = arg;

	if (ms->n == 32) {
		ms->over = 1;
		return 1;
	}
	snprintf(ms->macs[ms->n++], 18, "%s", p->mac);
	return 0;
}

static int
nics_match(struct recon *r, struct store_txn *txn, const char *uuid,
    const struct rguest *g)
{
	struct mac_set ms = { .n = 0 };

	if (!g->has_macs || r->net.each_device == NULL)
		return 1;
	if (r->net.each_device(txn, uuid, mac_cb, &ms) == -1 || ms.over)
		return 1;	/* cannot tell: leave it */
	if (ms.n != g->nmacs)
		return 0;
	for (size_t k = 0; k < ms.n; k++) {
		size_t m;

		for (m = 0; m < g->nmacs; m++)
			if (strcasecmp(ms.macs[k], g->macs[m]) == 0)
				break;
		if (m == g->nmacs)
			return 0;
	}
	return 1;
}

void
recon_set_snapshot(struct recon *r, const struct recon_snap *snap)
{
	r->snap = *snap;
}

void
recon_set_token_fn(struct recon *r, recon_token_fn fn, void *arg)
{
	r->token_fn = fn;
	r->token_arg = arg;
}

/* The image capability of an ensure or action command: any of them may have
 * to build the guest (a spawn, a rebuild, a guest missing on its host:
 * re-created; an action ensures the guest first).
 * "" without an image, or when minting fails (logged; an agent that must
 * download then fails the build and reports why). Minting costs
 * microseconds, less than the command's encoding. */
static void
token_for(struct recon *r, const struct rec_instance *i, char *tok,
    size_t len)
{
	tok[0] = '\0';
	/* (a server booted from a volume may still need its kernel and
	 * ramdisk) */
	if (r->token_fn == NULL || ((i->image_ref == NULL ||
	    *i->image_ref == '\0') && (i->kernel_id == NULL ||
	    *i->kernel_id == '\0') && (i->ramdisk_id == NULL ||
	    *i->ramdisk_id == '\0')))
		return;
	if (r->token_fn(r->token_arg, i, tok, len) == -1) {
		log_warnx("instance %s: no image capability: %s", i->uuid,
		    err_msg());
		tok[0] = '\0';
	}
}

static int
post(struct recon *r, const char *host, const struct schema_type *type,
    const void *body, const char *reqid)
{
	struct buf b = { 0 };
	int rc;

	rc = codec_envelope_encode(type, body, reqid, r->host, &b);
	if (rc == 0)
		rc = bus_post(r->bus, host, b.data, b.len);
	buf_free(&b);
	if (rc == -1) {
		log_warnx("%s to %s: %s", type->name, host, err_msg());
		STAT(r, send_failed);
	}
	return rc;
}

/* A command that cannot go yet (the boot volume's export is not in place,
 * or an evacuation's volumes are not exported to the target yet): the
 * task's re-sends, the storage sync's ready hook or the host's next
 * report try again. */
static int
hold(struct recon *r, const struct rec_instance *i)
{
	(void)r;
	log_debug("instance %s: waiting for its volumes' exports", i->uuid);
	return 0;
}

/*
 * Where the source's libvirtd reaches the target's: over TCP at the
 * target's underlay address (agent_hello tunnel_ip) when it has one and
 * runs QEMU, else the URI the target's agent uses itself (libvirt's test
 * driver, which the source's agent refuses to migrate: no peer).
 * 0, or -1 (the target is unknown: no hypervisor record yet).
 */
static int
migrate_target(struct recon *r, const char *host, char *uri, size_t urilen,
    char *addr, size_t addrlen)
{
	struct store_txn *txn = NULL;
	struct rec_hypervisor hv;
	int rc = -1;

	if (store_read_begin(r->store, &txn) == -1)
		return -1;
	if (db_hypervisor_by_host(txn, host, &hv) == 0) {
		addr[0] = '\0';
		if (hv.tunnel_ip != NULL && *hv.tunnel_ip != '\0' &&
		    strncmp(hv.libvirt_uri, "qemu", 4) == 0) {
			snprintf(uri, urilen, "qemu+tcp://%s%s%s/system",
			    strchr(hv.tunnel_ip, ':') ? "[" : "", hv.tunnel_ip,
			    strchr(hv.tunnel_ip, ':') ? "]" : "");
			snprintf(addr, addrlen, "%s", hv.tunnel_ip);
		} else {
			snprintf(uri, urilen, "%s", hv.libvirt_uri);
		}
		codec_clear(&schema_rec_hypervisor, &hv);
		rc = 0;
	}
	store_txn_end(&txn);
	return rc;
}

static void
prep_free(struct prep *p)
{
	if (p == NULL)
		return;
	free(p->instances_path);
	free(p->cache_dir);
	free(p);
}

/* Takes the target's answer for (uuid, reqid) out of the list (owned by
 * the caller), or NULL; drops the uuid's answers of other requests. */
static struct prep *
prep_take(struct recon *r, const char *uuid, const char *reqid)
{
	struct prep **pp, *p, *found = NULL;

	pthread_mutex_lock(&r->lock);
	for (pp = &r->preps; (p = *pp) != NULL;) {
		if (strcmp(p->uuid, uuid) != 0) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (found == NULL && reqid && strcmp(p->reqid, reqid) == 0)
			found = p;
		else
			prep_free(p);
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

#define PREP_SOURCE_GONE	0x1
#define PREP_ABORTED		0x2

/* Marks the migration reqid of uuid (struct prep.flags). */
static void
prep_mark(struct recon *r, const char *uuid, const char *reqid,
    unsigned flag)
{
	pthread_mutex_lock(&r->lock);
	for (struct prep *p = r->preps; p; p = p->next)
		if (strcmp(p->uuid, uuid) == 0 && strcmp(p->reqid, reqid) == 0)
			p->flags |= flag;
	pthread_mutex_unlock(&r->lock);
}

static int
prep_marked(struct recon *r, const char *uuid, const char *reqid,
    unsigned flag)
{
	int on = 0;

	if (reqid == NULL)
		return 0;
	pthread_mutex_lock(&r->lock);
	for (struct prep *p = r->preps; p; p = p->next)
		if (strcmp(p->uuid, uuid) == 0 && strcmp(p->reqid, reqid) == 0)
			on |= (p->flags & flag) != 0;
	pthread_mutex_unlock(&r->lock);
	return on;
}

static void
prep_put(struct recon *r, struct prep *p)
{
	pthread_mutex_lock(&r->lock);
	p->next = r->preps;
	r->preps = p;
	pthread_mutex_unlock(&r->lock);
}

/* uuid's migration reqid from source ended on the target's report
 * (struct landed): recorded, replacing any older record of uuid; expired
 * records go. Idempotent (a retried transaction notes it again). */
static void
landed_note(struct recon *r, const char *uuid, const char *reqid,
    const char *source)
{
	struct landed **pp, *l, *n = calloc(1, sizeof(*n));
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&r->lock);
	for (pp = &r->landed; (l = *pp) != NULL;) {
		if (now - l->at >= LANDED_GRACE_MS ||
		    strcmp(l->uuid, uuid) == 0) {
			*pp = l->next;
			free(l);
		} else {
			pp = &l->next;
		}
	}
	if (n != NULL) {
		snprintf(n->uuid, sizeof(n->uuid), "%s", uuid);
		snprintf(n->reqid, sizeof(n->reqid), "%s", reqid ? reqid : "");
		snprintf(n->source, sizeof(n->source), "%s", source);
		n->at = now;
		n->next = r->landed;
		r->landed = n;
	}
	pthread_mutex_unlock(&r->lock);
	if (n == NULL)
		log_warnx("recon: out of memory: the source's copy of %s is "
		    "fenced at once", uuid);
}

/* Whether uuid has a landed record from host within its grace; reqid
 * non-NULL: of that request, and the record is taken (the source
 * answered). */
static int
landed_find(struct recon *r, const char *uuid, const char *host,
    const char *reqid)
{
	struct landed **pp, *l;
	int64_t now = clock_mono_ms();
	int on = 0;

	pthread_mutex_lock(&r->lock);
	for (pp = &r->landed; (l = *pp) != NULL; pp = &l->next) {
		if (strcmp(l->uuid, uuid) != 0 || strcmp(l->source, host) !=
		    0 || (reqid != NULL && strcmp(l->reqid, reqid) != 0))
			continue;
		on = reqid != NULL || now - l->at < LANDED_GRACE_MS;
		if (reqid != NULL) {
			*pp = l->next;
			free(l);
		}
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return on;
}

/* The live migration command, to the source (i->host), once the target
 * answered its instance_migrate_prepare (sent first, under the same
 * request id: each host dedups it on its own). 0 sent, -1 not sent
 * (post's failure), 1 not now (target unknown, logged). */
static int
send_migrate(struct recon *r, const struct rec_instance *i,
    const char *reqid, char name[64], struct nics *ns)
{
	struct msg_instance_migrate m = { 0 };
	char uri[1024], addr[64];
	struct prep *p;
	int rc;

	if (i->migrate_host == NULL || *i->migrate_host == '\0' ||
	    migrate_target(r, i->migrate_host, uri, sizeof(uri), addr,
	    sizeof(addr)) == -1) {
		log_warnx("instance %s: live migration target %s unknown; "
		    "not sent", i->uuid, i->migrate_host ? i->migrate_host :
		    "-");
		return 1;
	}
	snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
	m.generation = i->generation;
	m.new_generation = i->generation + 1;
	m.target_host = i->migrate_host;
	m.target_uri = uri;
	m.target_address = addr[0] ? addr : NULL;
	/* Local disks are copied whatever was asked (compute_migrate.c):
	 * there is no shared instance storage. */
	m.block_migration = (i->has_migrate_block && i->migrate_block) ||
	    (i->image_ref != NULL && *i->image_ref != '\0');
	spec_of(i, &m.spec, name);
	nics_of(r, i, ns, &m.spec);
	if ((p = prep_take(r, i->uuid, reqid)) == NULL) {
		struct msg_instance_migrate_prepare q = { 0 };
		struct rec_instance at = *i;	/* shallow: nothing freed */
		char tok[RECON_TOKEN_MAX];
		struct vols vs;

		snprintf(q.uuid, sizeof(q.uuid), "%s", i->uuid);
		q.generation = m.new_generation;
		q.spec = m.spec;
		/* The target defines the volumes' CHAP secrets before the
		 * guest arrives: the migrated definition refers to them
		 * (the attachments' own initiator and credentials, which
		 * the move keeps: volume_attach_follow()). */
		if (!vols_of(r, i, NULL, &vs, &q.spec) && r->vol.conn != NULL &&
		    i->volumes.n > 0) {
			vols_wipe(&vs);
			log_warnx("instance %s: its volumes could not be read: "
			    "live migration not prepared yet", i->uuid);
			return 1;
		}
		/* The target fetches the images into its cache: the capability
		 * is minted for it (one for the source is refused there). */
		at.host = i->migrate_host;
		token_for(r, &at, tok, sizeof(tok));
		q.spec.image_token = tok[0] ? tok : NULL;
		rc = post(r, i->migrate_host,
		    &schema_msg_instance_migrate_prepare, &q, reqid);
		explicit_bzero(tok, sizeof(tok));
		vols_wipe(&vs);
		if (rc == 0)
			log_info("instance %s: live migration target %s asked "
			    "to prepare (%s)", i->uuid, i->migrate_host, reqid);
		return rc;
	}
	m.target_instances_path = p->instances_path;
	m.target_cache_dir = p->cache_dir;
	m.has_target_backing = true;
	m.target_backing = p->backing;
	rc = post(r, i->host, &schema_msg_instance_migrate, &m, reqid);
	prep_put(r, p);		/* for a re-send */
	return rc;
}

/* The command for an instance's task, or its desired power without one.
 * reqid: the task's request id, or a fresh one. */
/* What every ensure says of a resize (compute.schema, instance_ensure
 * resize): level-triggered, from the record alone. */
static uint32_t
resize_flag(const struct rec_instance *i)
{
	if (i->task_state != NULL && strcmp(i->task_state, "resize_prep") == 0)
		return 1;
	if (i->task_state != NULL &&
	    strcmp(i->task_state, "resize_reverting") == 0)
		return 3;
	/* Waiting for confirm (or in ERROR with a resize pending): the
	 * copy of the old disk stays. */
	if (i->has_old_flavor)
		return 2;
	return 0;
}

/* Whether i's task waits for another host to let go of its volumes
 * (resize_release): a revert's, or a failed move's, first step. */
static int
release_pending(const struct rec_instance *i, const struct recon_task *t)
{
	return t != NULL && strcmp(t->task_state, "resize_reverting") == 0 &&
	    i->resize_release != NULL && *i->resize_release != '\0';
}

/* Sends what instance i needs now; g (borrowed, NULL: none) is its host's
 * report of the guest when a report led here (vols_read()). */
static int
send_now(struct recon *r, const struct rec_instance *i, int64_t now,
    const char *admin_pass, const struct rguest *g)
{
	const struct recon_task *t = recon_task_find(i->task_state);
	char reqid[CODEC_REQUEST_ID_MAX + 1], name[64];
	struct rec_instance v;
	struct nics ns;
	struct vols vs;
	int rc, again;

	if (i->host == NULL || *i->host == '\0')
		return 0;
	/* A cross-host resize's target builds the guest from the temporary
	 * image of the source's disk (a shallow view: nothing is freed). */
	if (t != NULL && strcmp(t->task_state, "resize_finish") == 0 &&
	    i->snapshot_image_id != NULL) {
		v = *i;
		v.image_ref = v.snapshot_image_id;
		v.image_disk_format = (char *)"qcow2";
		v.image_sha512 = v.resize_image_sha512;
		v.has_image_size = v.has_resize_image_size;
		v.image_size = v.resize_image_size;
		i = &v;
	}
	/* An offloaded server's unshelve: the new host builds the guest
	 * from the shelved image (its checksum and size as the API read
	 * them from Glance into resize_image_*). */
	if (t != NULL && strcmp(t->task_state, "unshelving") == 0 &&
	    strcmp(i->vm_state, VM_SHELVED_OFFLOADED) == 0 &&
	    i->shelved_image_id != NULL) {
		v = *i;
		v.image_ref = v.shelved_image_id;
		v.image_disk_format = (char *)"qcow2";
		v.image_sha512 = v.resize_image_sha512;
		v.has_image_size = v.has_resize_image_size;
		v.image_size = v.resize_image_size;
		i = &v;
	}
	if (t != NULL && i->task_request_id != NULL)
		snprintf(reqid, sizeof(reqid), "%s", i->task_request_id);
	else
		new_reqid(reqid);
	if (release_pending(i, t)) {
		/* A revert's first step: the host the guest leaves deletes its
		 * copy (its qemu logs out of the volumes, their secrets go);
		 * its answer lets the source's start (release_state()). */
		struct msg_instance_delete m = { 0 };

		snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
		m.generation = i->generation;
		rc = post(r, i->resize_release, &schema_msg_instance_delete, &m,
		    reqid);
		if (rc == 0) {
			again = sent_note(r, i->uuid, reqid, now);
			log_info("%s release of instance %s's volumes to %s (%s)",
			    again ? "re-sent" : "sent", i->uuid,
			    i->resize_release, reqid);
		}
		return rc;
	}
	if (t != NULL && (t->cmd == RECON_DELETE || t->cmd ==
	    RECON_OFFLOAD)) {
		struct msg_instance_delete m = { 0 };

		snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
		m.generation = i->generation;
		rc = post(r, i->host, &schema_msg_instance_delete, &m, reqid);
	} else if (t != NULL && t->cmd == RECON_MIGRATE) {
		if ((rc = send_migrate(r, i, reqid, name, &ns)) == 1)
			return 0;
	} else if (t != NULL && t->cmd == RECON_SNAPSHOT) {
		struct msg_instance_snapshot m = { 0 };
		char tok[RECON_TOKEN_MAX];

		if (i->snapshot_image_id == NULL || r->snap.upload_token ==
		    NULL || r->snap.upload_token(r->snap.arg, i, tok,
		    sizeof(tok)) == -1) {
			log_warnx("instance %s: snapshot not sent: %s", i->uuid,
			    i->snapshot_image_id == NULL ? "no image" :
			    r->snap.upload_token == NULL ? "no upload "
			    "capabilities" : err_msg());
			return 0;
		}
		snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
		snprintf(m.image_id, sizeof(m.image_id), "%s",
		    i->snapshot_image_id);
		m.generation = i->generation;
		m.upload_token = tok;
		rc = post(r, i->host, &schema_msg_instance_snapshot, &m, reqid);
		explicit_bzero(tok, sizeof(tok));
	} else if (t != NULL && t->cmd == RECON_ACTION) {
		struct msg_instance_action m = { 0 };

		snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
		m.generation = i->generation;
		char tok[RECON_TOKEN_MAX];

		m.action = (char *)t->agent_action;
		spec_of(i, &m.spec, name);
		nics_of(r, i, &ns, &m.spec);
		if (!vols_of(r, i, g, &vs, &m.spec) || !boot_ready(i, &vs)) {
			vols_wipe(&vs);
			return hold(r, i);
		}
		/* The agent makes sure the guest exists before rebooting it. */
		token_for(r, i, tok, sizeof(tok));
		m.spec.image_token = tok[0] ? tok : NULL;
		rc = post(r, i->host, &schema_msg_instance_action, &m, reqid);
		explicit_bzero(tok, sizeof(tok));
		vols_wipe(&vs);
	} else {
		struct msg_instance_ensure m = { 0 };

		snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
		m.generation = i->generation;
		m.power = i->want_power;
		m.task = i->task_state;
		char tok[RECON_TOKEN_MAX];

		if (t != NULL && strcmp(t->task_state, "rebuilding") == 0) {
			m.has_rebuild = true;
			m.rebuild = true;
		}
		m.resize = resize_flag(i);
		m.has_resize = m.resize != 0;
		spec_of(i, &m.spec, name);
		/* The list read is the whole truth: the agent may hot-plug
		 * to match it (never after a failed read). */
		if (nics_of(r, i, &ns, &m.spec)) {
			m.has_sync_nics = true;
			m.sync_nics = true;
		}
		if (vols_of(r, i, g, &vs, &m.spec)) {
			m.has_sync_volumes = true;
			m.sync_volumes = true;
		} else if (r->vol.conn != NULL && i->volumes.n > 0) {
			/* cannot tell which volumes it has: not now */
			vols_wipe(&vs);
			return hold(r, i);
		}
		if (!boot_ready(i, &vs) || ((m.rebuild || unshelve_build(i,
		    t)) && !built_ready(i, &vs))) {
			vols_wipe(&vs);
			return hold(r, i);
		}
		token_for(r, i, tok, sizeof(tok));
		m.spec.image_token = tok[0] ? tok : NULL;
		m.spec.admin_pass = (char *)admin_pass;
		rc = post(r, i->host, &schema_msg_instance_ensure, &m, reqid);
		explicit_bzero(tok, sizeof(tok));
		vols_wipe(&vs);
	}
	if (rc == 0) {
		again = sent_note(r, i->uuid, reqid, now);
		log_info("%s %s of instance %s to %s (%s)", again ? "re-sent" :
		    "sent", t ? t->task_state : "ensure", i->uuid, i->host,
		    reqid);
	}
	return rc;
}

/* send_now() with the admin password kept for i's task when the caller
 * has none (a held or re-sent command). */
static int
send_for(struct recon *r, const struct rec_instance *i, int64_t now,
    const char *admin_pass, const struct rguest *g)
{
	char kept[PASS_LEN_MAX + 1];
	int rc;

	if (admin_pass == NULL && i->task_request_id != NULL &&
	    recon_task_find(i->task_state) != NULL &&
	    pass_get(r, i->uuid, i->task_request_id, kept, sizeof(kept),
	    db_now_ms()) == 0)
		admin_pass = kept;
	rc = send_now(r, i, now, admin_pass, g);
	if (admin_pass == kept)
		explicit_bzero(kept, sizeof(kept));
	return rc;
}

static void
send_delete(struct recon *r, const char *host, const char *uuid,
    uint64_t gen, int orphan, int64_t now)
{
	struct msg_instance_delete m = { 0 };
	char reqid[CODEC_REQUEST_ID_MAX + 1];

	new_reqid(reqid);
	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.generation = gen;
	m.orphan = orphan;
	if (post(r, host, &schema_msg_instance_delete, &m, reqid) == 0)
		sent_note(r, uuid, reqid, now);
}

void
recon_dispatch(struct recon *r, const struct rec_instance *i)
{
	send_for(r, i, clock_mono_ms(), NULL, NULL);
}

int
recon_migrate_abort(struct recon *r, const struct rec_instance *i)
{
	struct msg_instance_migrate_abort m = { 0 };
	char reqid[CODEC_REQUEST_ID_MAX + 1];

	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "instance %s has no host", i->uuid);
		return -1;
	}
	new_reqid(reqid);
	snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
	m.generation = i->generation;
	if (post(r, i->host, &schema_msg_instance_migrate_abort, &m, reqid) ==
	    -1) {
		err_set(TS_EUNAVAILABLE, "Compute service of %s is unavailable "
		    "at this time.", i->host);
		return -1;
	}
	if (i->task_request_id != NULL)
		prep_mark(r, i->uuid, i->task_request_id, PREP_ABORTED);
	log_info("instance %s: abort of its live migration sent to %s (%s)",
	    i->uuid, i->host, reqid);
	return 0;
}

int
recon_crash_dump(struct recon *r, const struct rec_instance *i,
    const char *reqid)
{
	struct msg_instance_action m = { 0 };
	char name[64];

	snprintf(m.uuid, sizeof(m.uuid), "%s", i->uuid);
	m.generation = i->generation;
	m.action = "trigger_crash_dump";
	/* The spec is the message's shape; the agent acts on the guest as
	 * it is. */
	spec_of(i, &m.spec, name);
	if (post(r, i->host, &schema_msg_instance_action, &m, reqid) == -1)
		return -1;
	log_info("sent trigger_crash_dump of instance %s to %s (%s)", i->uuid,
	    i->host, reqid);
	return 0;
}

void
recon_dispatch_pass(struct recon *r, const struct rec_instance *i,
    const char *admin_pass)
{
	if (admin_pass != NULL)
		pass_keep(r, i, admin_pass, db_now_ms());
	send_for(r, i, clock_mono_ms(), admin_pass, NULL);
}

int
recon_task_begin(struct recon *r, struct store_txn *txn,
    struct rec_instance *i, const char *task_state, const char *reqid,
    const char *user_id, const char *project_id, int64_t now)
{
	return recon_task_begin_as(r, txn, i, task_state, NULL, reqid, user_id,
	    project_id, now);
}

int
recon_task_begin_as(struct recon *r, struct store_txn *txn,
    struct rec_instance *i, const char *task_state, const char *action,
    const char *reqid, const char *user_id, const char *project_id,
    int64_t now)
{
	const struct recon_task *t = recon_task_find(task_state);

	if (t == NULL) {
		err_set(TS_EINTERNAL, "unknown task %s", task_state);
		return -1;
	}
	if (i->task_request_id != NULL && strcmp(i->task_request_id, reqid) &&
	    compute_db_action_finish(txn, i->uuid, i->task_request_id, 0,
	    "Superseded by a later request", now) == -1)
		return -1;
	if (codec_str_set(&i->task_state, t->task_state) == -1 ||
	    codec_str_set(&i->task_request_id, reqid) == -1)
		return -1;
	if (t->cmd != RECON_DELETE && !t->keep_power)
		i->want_power = t->want_power;
	i->task_started_at = now;
	i->task_deadline = now + (t->build || t->cmd == RECON_SNAPSHOT ?
	    r->build_ms : r->action_ms);
	i->updated_at = now;
	return compute_db_action_start(txn, i, reqid, action ? action :
	    t->action, user_id, project_id, now);
}

/* ------------------------------------------------------ state changes */

/* After a commit: the dataplane hears at once of ports that went. */
static void
net_changed(struct recon *r)
{
	if (r->net_released && r->net.changed != NULL)
		r->net.changed(r->net.net);
	r->net_released = 0;
	if (r->vol_settled && r->vol.changed != NULL)
		r->vol.changed(r->vol.vol);
	r->vol_settled = 0;
}

static int	snap_queue(struct recon *, const struct rec_instance *, int);
static int	xhost_drop_queue(struct recon *, const struct rec_instance *);
static int	shelve_drop_queue(struct recon *, const struct rec_instance *);

int
recon_claims_release(struct store_txn *txn, const struct rec_instance *i)
{
	const char *claim = i->has_old_flavor && i->resize_host &&
	    *i->resize_host ? i->resize_host : i->host;
	const char *src = i->resize_source && *i->resize_source ?
	    i->resize_source : i->host;

	if (claim && *claim && scheduler_release(txn, claim, i->flavor.vcpus,
	    i->flavor.ram, compute_db_claim_disk_gb(i, &i->flavor)) == -1)
		return -1;
	/* Deleted while resized: the source's claim of the old flavor. */
	if (i->has_old_flavor && src && *src && scheduler_release(txn, src,
	    i->old_flavor.vcpus, i->old_flavor.ram,
	    compute_db_claim_disk_gb(i, &i->old_flavor)) == -1)
		return -1;
	/* Deleted while live-migrating: the target's claim goes too. */
	if (i->migrate_host && *i->migrate_host && scheduler_release(txn,
	    i->migrate_host, i->flavor.vcpus, i->flavor.ram,
	    compute_db_claim_disk_gb(i, &i->flavor)) == -1)
		return -1;
	return 0;
}

int
recon_resize_tombstone(struct store_txn *txn, const struct rec_instance *i,
    int64_t now)
{
	struct rec_instance_tombstone tb = { 0 }, have;
	/* (or the target a revert waits for: resize_release) */
	char *other = i->resize_source != NULL ? i->resize_source :
	    i->resize_release;

	if (other == NULL || i->host == NULL || strcmp(other, i->host) == 0)
		return 0;
	if (compute_db_tombstone_get(txn, i->uuid, &have) == 0) {
		/* One per uuid: the host's (down) is kept; the source's
		 * guest is then an orphan ([libvirt] orphan_action). */
		log_warnx("instance %s: its guest kept on %s for a revert is "
		    "not tombstoned (%s has the tombstone)", i->uuid,
		    other, have.host);
		codec_clear(&schema_rec_instance_tombstone, &have);
		return 0;
	}
	if (err_code() != TS_ENOT_FOUND)
		return -1;
	snprintf(tb.uuid, sizeof(tb.uuid), "%s", i->uuid);
	tb.host = other;
	tb.generation = i->generation;
	tb.deleted_at = now;
	return compute_db_tombstone_put(txn, &tb);
}

/* Resources of a deleted instance go back (its ports too, in the same
 * transaction); the record goes, and the image of a snapshot the delete
 * superseded is discarded after the commit (Nova deletes it too). */
static int
finish_delete(struct recon *r, struct store_txn *txn,
    const struct rec_instance *i)
{
	if (r->net.release_device != NULL) {
		if (r->net.release_device(r->net.net, txn, i->uuid) == -1)
			return -1;
		r->net_released = 1;
	}
	/* The guest is gone with its disks: its volumes are free. */
	for (size_t k = 0; r->vol.detach_done != NULL && k < i->volumes.n;
	    k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];

		if (r->vol.detach_done(r->vol.vol, txn, iv->volume_id,
		    iv->attachment_id) == -1)
			return -1;
		if (iv->delete_on_termination && r->vol.delete_detached !=
		    NULL && r->vol.delete_detached(r->vol.vol, txn,
		    iv->volume_id) == -1)
			return -1;
		r->vol_settled = 1;
	}
	/* A cross-host resize's temporary image goes whatever its state. */
	if (i->snapshot_image_id != NULL && (i->resize_source != NULL ?
	    xhost_drop_queue(r, i) : snap_queue(r, i, 0)) == -1)
		return -1;
	/* So does a shelved server's image (Nova deletes it too). */
	if (i->shelved_image_id != NULL && shelve_drop_queue(r, i) == -1)
		return -1;
	if (recon_claims_release(txn, i) == -1 ||
	    recon_resize_tombstone(txn, i, db_now_ms()) == -1)
		return -1;
	if (compute_db_usage_add(txn, i->project_id, -1, -(int64_t)i->flavor.vcpus,
	    -(int64_t)i->flavor.ram) == -1)
		return -1;
	return compute_db_instance_del(txn, i);
}

static const char *
vm_state_for(uint32_t power, const char *cur)
{
	switch (power) {
	case POWER_RUNNING:	return VM_ACTIVE;
	case POWER_SHUTDOWN:
	case POWER_CRASHED:	return VM_STOPPED;
	case POWER_PAUSED:	return VM_PAUSED;
	case POWER_SUSPENDED:	return VM_SUSPENDED;
	default:		return cur;
	}
}

/* The power a vm_state stands for; cur for the others (building, error). */
static uint32_t
power_for_vm_state(const char *vm, uint32_t cur)
{
	if (vm == NULL)
		return cur;
	if (strcmp(vm, VM_ACTIVE) == 0)
		return POWER_RUNNING;
	if (strcmp(vm, VM_STOPPED) == 0)
		return POWER_SHUTDOWN;
	if (strcmp(vm, VM_PAUSED) == 0)
		return POWER_PAUSED;
	if (strcmp(vm, VM_SUSPENDED) == 0)
		return POWER_SUSPENDED;
	return cur;
}

static int
set_fault(struct rec_instance *i, uint32_t code, const char *msg, int64_t now)
{
	codec_clear(&schema_sch_fault, &i->fault);
	i->has_fault = true;
	i->fault.code = code;
	i->fault.created = now;
	if ((i->fault.message = strdup(msg)) == NULL) {
		err_set(TS_ENOMEM, "recon: out of memory");
		return -1;
	}
	/* An agent's text (libvirt's errors name paths and domains): shown
	 * in every server view, so valid UTF-8 and bounded. */
	utf8_clean(i->fault.message, 1024);
	return 0;
}

/* Ends the task: clears it and finishes its action. */
static int
end_task(struct store_txn *txn, struct rec_instance *i, int ok,
    const char *msg, int64_t now)
{
	if (compute_db_action_finish(txn, i->uuid, i->task_request_id, ok, msg, now) ==
	    -1)
		return -1;
	free(i->task_state);
	i->task_state = NULL;
	free(i->task_request_id);
	i->task_request_id = NULL;
	i->task_deadline = 0;
	i->updated_at = now;
	return 0;
}

/* Asks host to remove what it prepared for uuid's live migration (it
 * keeps the files of any domain of uuid defined there; min_age_ms: only
 * a preparation at least that old). Logged, not retried: the host's
 * leftover reports are the level. */
static void
migrate_cleanup(struct recon *r, const char *host, const char *uuid,
    uint64_t min_age_ms)
{
	struct msg_instance_migrate_cleanup m = { 0 };
	char reqid[CODEC_REQUEST_ID_MAX + 1];

	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.has_min_age_ms = min_age_ms > 0;
	m.min_age_ms = min_age_ms;
	new_reqid(reqid);
	if (post(r, host, &schema_msg_instance_migrate_cleanup, &m, reqid) ==
	    0)
		log_info("instance %s: %s asked to remove what it prepared for "
		    "the live migration (%s)", uuid, host, reqid);
}

/*
 * i's attachments follow it to host, in txn (volume_attach_follow(): the
 * host changes, initiator name and CHAP stay, so the export does too).
 * An attachment gone meanwhile is logged and skipped. *moved is set when
 * one changed (volume_changed() after the commit).
 */
static int
vols_follow(struct recon *r, struct store_txn *txn,
    const struct rec_instance *i, const char *host, int *moved)
{
	for (size_t k = 0; r->vol.follow != NULL && k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];

		if (r->vol.follow(r->vol.vol, txn, iv->volume_id,
		    iv->attachment_id, host) == -1) {
			if (err_code() != TS_ENOT_FOUND)
				return -1;
			log_warnx("instance %s: %s", i->uuid, err_msg());
			err_clear();
			continue;
		}
		*moved = 1;
	}
	return 0;
}

int
recon_resize_back(struct recon *r, struct store_txn *txn,
    struct rec_instance *i, const char *from, int *vols_moved)
{
	const char *src = i->resize_source;

	if (src == NULL || from == NULL || strcmp(src, from) == 0 ||
	    i->volumes.n == 0)
		return 0;
	if (vols_follow(r, txn, i, src, vols_moved) == -1)
		return -1;
	log_info("instance %s: back to %s once %s let go of its volumes",
	    i->uuid, src, from);
	return codec_str_set(&i->resize_release, from);
}

/*
 * Ends the live migration of i (a copy the caller writes): ok, the guest
 * runs on the target: host, ports and generation move there and the
 * source's claim goes back; else it stays on the source and the target's
 * claim goes back. One transaction: nothing is held twice or lost.
 */
static int
migrate_end(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    int ok, const char *why, int64_t now)
{
	uint64_t disk = compute_db_claim_disk_gb(i, &i->flavor);
	char *target = i->migrate_host;

	if (target == NULL || i->host == NULL) {
		err_set(TS_EINTERNAL, "instance %s: migrating without a target",
		    i->uuid);
		return -1;
	}
	if (scheduler_release(txn, ok ? i->host : target, i->flavor.vcpus,
	    i->flavor.ram, disk) == -1)
		return -1;
	if (ok) {
		if (r->net.move_device != NULL) {
			if (r->net.move_device(r->net.net, txn, i->uuid,
			    target) == -1)
				return -1;
			r->net_released = 1;
		}
		/* The attachments follow in this transaction; their exports
		 * are unchanged (the target's qemu logged in with the same
		 * initiator and credentials as the source's). */
		if (vols_follow(r, txn, i, target, &r->vol_settled) == -1)
			return -1;
		log_info("instance %s live-migrated from %s to %s (generation "
		    "%llu)", i->uuid, i->host, target,
		    (unsigned long long)i->generation + 1);
		free(i->host);
		i->host = target;
		i->generation++;
	} else {
		if (r->net.migrating != NULL) {
			if (r->net.migrating(r->net.net, txn, i->uuid, NULL) ==
			    -1)
				return -1;
			r->net_released = 1;
		}
		log_warnx("live migration of %s from %s to %s failed: %s; it "
		    "stays on %s", i->uuid, i->host, target, why ? why : "?",
		    i->host);
		/* What the target prepared goes now; a target away misses
		 * this, its leftover reports bring it back. */
		migrate_cleanup(r, target, i->uuid, 0);
		free(target);
	}
	i->migrate_host = NULL;
	i->has_migrate_block = false;
	i->migrate_block = false;
	if (compute_db_migration_status(txn, i->has_migration_id ?
	    i->migration_id : 0, ok ? "completed" : prep_marked(r, i->uuid,
	    i->task_request_id, PREP_ABORTED) ? "cancelled" : "error", now) ==
	    -1)
		return -1;
	i->has_migration_id = false;
	i->migration_id = 0;
	return end_task(txn, i, ok, ok ? NULL : why, now);
}

/* Ends a snapshot task (reply or deadline): the instance keeps its
 * vm_state and power (Nova's failed snapshot leaves it as it was, without
 * a fault); the image's fate waits for the commit (snap_out). */
static int
snap_queue(struct recon *r, const struct rec_instance *i, int ok)
{
	struct snap_out *o;

	if (r->nsnap == r->capsnap) {
		size_t cap = r->capsnap ? r->capsnap * 2 : 8;
		struct snap_out *n = realloc(r->snap_out, cap * sizeof(*n));

		if (n == NULL) {
			err_set(TS_ENOMEM, "recon: out of memory");
			return -1;
		}
		r->snap_out = n;
		r->capsnap = cap;
	}
	o = &r->snap_out[r->nsnap];
	memset(o, 0, sizeof(*o));
	snprintf(o->uuid, sizeof(o->uuid), "%s", i->uuid);
	snprintf(o->image_id, sizeof(o->image_id), "%s",
	    i->snapshot_image_id ? i->snapshot_image_id : "");
	o->ok = ok;
	o->backup = i->task_state != NULL && strcmp(i->task_state,
	    "image_backup") == 0 && i->backup_type != NULL;
	if (o->backup)
		snprintf(o->backup_type, sizeof(o->backup_type), "%s",
		    i->backup_type);
	o->rotation = i->backup_rotation;
	r->nsnap++;
	return 0;
}

static int
end_snapshot(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    int ok, const char *why, int64_t now)
{
	if (snap_queue(r, i, ok) == -1 || end_task(txn, i, ok, why, now) == -1)
		return -1;
	free(i->snapshot_image_id);
	i->snapshot_image_id = NULL;
	free(i->backup_type);
	i->backup_type = NULL;
	i->has_backup_rotation = false;
	i->backup_rotation = 0;
	return 0;
}

/* After the commit that ended them: each snapshot's image is decided. */
static void
snap_drain(struct recon *r)
{
	for (size_t k = 0; k < r->nsnap; k++) {
		const struct snap_out *o = &r->snap_out[k];

		if (o->drop) {
			if (r->snap.drop != NULL && o->image_id[0] != '\0')
				r->snap.drop(r->snap.arg, o->uuid, o->image_id);
			continue;
		}
		log_info("instance %s: %s %s %s", o->uuid, o->backup ?
		    "backup" : "snapshot", o->image_id, o->ok ? "done" :
		    "failed");
		if (r->snap.done != NULL && o->image_id[0] != '\0')
			r->snap.done(r->snap.arg, o->uuid, o->image_id, o->ok,
			    o->backup ? o->backup_type : NULL, o->rotation);
	}
	r->nsnap = 0;
}

struct batch {
	struct recon	*r;
	struct ev	**evs;
	size_t		  n;
	int64_t		  now;
	/* instances whose command history can be forgotten after commit */
	char		(*forget)[CODEC_UUID_LEN + 1];
	size_t		  nforget;
	/* per event: it answers a command sent without a task (a
	 * re-creation, a power correction), which is then no longer in
	 * flight; task replies go through forget */
	char		 *answered;
	size_t		  cur;
	uint64_t	  completed, failed;
};

static void
batch_forget(struct batch *b, const char *uuid)
{
	if (b->forget)
		snprintf(b->forget[b->nforget++], CODEC_UUID_LEN + 1, "%s",
		    uuid);
}

/* The source's instance_state while migrating (old: as stored, i: its
 * copy, written here when changed). */
static int
migrate_state(struct batch *b, struct store_txn *txn,
    const struct msg_instance_state *m, struct rec_instance *i,
    const struct rec_instance *old)
{
	int reply = m->in_reply_to != NULL && i->task_request_id != NULL &&
	    strcmp(m->in_reply_to, i->task_request_id) == 0;
	int changed = 0, rc = 0;

	if (!reply) {
		if (m->in_reply_to != NULL)
			b->answered[b->cur] = 1;
		if (m->exists && i->power_state != m->power_state) {
			i->power_state = m->power_state;
			changed = 1;
		}
	} else if (m->result != NULL && strcmp(m->result, "ok") == 0) {
		rc = migrate_end(b->r, txn, i, 1, NULL, b->now);
		changed = 1;
		b->completed++;
		batch_forget(b, i->uuid);
	} else if (m->exists) {
		const char *why = m->fault_message ? m->fault_message :
		    "the live migration failed";

		i->power_state = m->power_state;
		rc = migrate_end(b->r, txn, i, 0, why, b->now);
		changed = 1;
		b->failed++;
		batch_forget(b, i->uuid);
	} else {
		/* The source has no such guest (an agent that restarted and
		 * lost the answer, asked again): the reports tell where the
		 * guest went. */
		log_warnx("live migration of %s: %s no longer has the guest; "
		    "waiting for the reports", i->uuid, i->host);
		b->answered[b->cur] = 1;
		prep_mark(b->r, i->uuid, i->task_request_id,
		    PREP_SOURCE_GONE);
	}
	if (rc == 0 && changed) {
		i->updated_at = b->now;
		rc = compute_db_instance_put(txn, i, old);
	}
	return rc;
}

/* The answer to a one-shot without a task (recon_crash_dump()): the
 * event of the action recorded under its request id ends with it. An
 * answer to anything else names no such action: nothing. */
static int
oneshot_answer(struct store_txn *txn, const struct rec_instance *i,
    const struct msg_instance_state *m, int64_t now)
{
	struct rec_instance_action a;
	int crash;

	if (compute_db_action_get(txn, i->uuid, m->in_reply_to, &a) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	crash = strcmp(a.action, "trigger_crash_dump") == 0;
	codec_clear(&schema_rec_instance_action, &a);
	if (!crash)
		return 0;
	if (m->result == NULL || strcmp(m->result, "ok") != 0)
		log_warnx("trigger_crash_dump of %s failed: %s", i->uuid,
		    m->fault_message ? m->fault_message : m->result ?
		    m->result : "?");
	return compute_db_action_finish(txn, i->uuid, m->in_reply_to,
	    m->result != NULL && strcmp(m->result, "ok") == 0,
	    m->fault_message, now);
}

/* One instance_state from host, inside the write transaction. */
/*
 * The agent's answer to a resize task of i (a copy the caller writes):
 * resize_prep ok leaves the resize waiting for confirm (the migration
 * "finished"); a failed one puts the old flavor back and gives the
 * target's claim back (the agent put the disk back). resize_reverting
 * ends the migration "reverted" (claims and flavor were settled by the
 * API). The caller ends the task.
 */
static int
resize_end(struct store_txn *txn, struct rec_instance *i, int ok,
    int64_t now)
{
	uint64_t mid = i->has_migration_id ? i->migration_id : 0;
	int prep = strcmp(i->task_state, "resize_prep") == 0;

	if (!prep || !ok) {
		if (compute_db_migration_status(txn, mid, ok ? "reverted" :
		    "error", now) == -1)
			return -1;
		i->has_migration_id = false;
		i->migration_id = 0;
	} else if (compute_db_migration_status(txn, mid, "finished", now) ==
	    -1) {
		return -1;
	}
	if (!prep || ok || !i->has_old_flavor)
		return 0;
	if (i->resize_host != NULL && scheduler_release(txn, i->resize_host,
	    i->flavor.vcpus, i->flavor.ram, compute_db_claim_disk_gb(i,
	    &i->flavor)) == -1)
		return -1;
	if (compute_db_usage_add(txn, i->project_id, 0,
	    (int64_t)i->old_flavor.vcpus - (int64_t)i->flavor.vcpus,
	    (int64_t)i->old_flavor.ram - (int64_t)i->flavor.ram) == -1)
		return -1;
	codec_clear(&schema_sch_inst_flavor, &i->flavor);
	i->flavor = i->old_flavor;
	memset(&i->old_flavor, 0, sizeof(i->old_flavor));
	i->has_old_flavor = false;
	free(i->resize_host);
	i->resize_host = NULL;
	/* Newer than what the agent has: the next ensure re-defines the
	 * guest with the old flavor. */
	i->generation++;
	return 0;
}

/* ---- resize and cold migration to another host -------------------------- */

static int
xhost_task(const char *task_state)
{
	return task_state != NULL && (strcmp(task_state, "resize_migrating") ==
	    0 || strcmp(task_state, "resize_migrated") == 0 ||
	    strcmp(task_state, "resize_finish") == 0);
}

/* Length of the action's request id in a step's ("<action's>~<step>"). */
static size_t
action_len(const char *id)
{
	size_t n = strlen(id);

	return n >= 2 && id[n - 2] == '~' ? n - 2 : n;
}

/*
 * The next step of i's move (the caller writes i; the batch forgets its
 * history, so the scan sends the step within a second). Each step has its
 * own request id (the agents de-duplicate commands by it): the action's
 * with the step's suffix; the instance action keeps the action's
 * (xhost_end()).
 */
static int
xhost_next(struct recon *r, struct rec_instance *i, const char *task_state,
    char step, int64_t now)
{
	const struct recon_task *t = recon_task_find(task_state);
	const char *cur = i->task_request_id ? i->task_request_id : "";
	char id[CODEC_REQUEST_ID_MAX + 1];
	size_t n = action_len(cur);

	if (n > CODEC_REQUEST_ID_MAX - 2)
		n = CODEC_REQUEST_ID_MAX - 2;
	snprintf(id, sizeof(id), "%.*s~%c", (int)n, cur, step);
	if (t == NULL || codec_str_set(&i->task_state, task_state) == -1 ||
	    codec_str_set(&i->task_request_id, id) == -1)
		return -1;
	if (!t->keep_power)
		i->want_power = t->want_power;
	i->task_started_at = now;
	i->task_deadline = now + r->build_ms;
	i->updated_at = now;
	return 0;
}

/* The move's temporary image is deleted after the commit (snap_drain()). */
static int
xhost_drop_queue(struct recon *r, const struct rec_instance *i)
{
	if (i->snapshot_image_id == NULL)
		return 0;
	if (snap_queue(r, i, 0) == -1)
		return -1;
	r->snap_out[r->nsnap - 1].drop = 1;
	return 0;
}

/* The checksum and size an ensure checks the image it builds from
 * against (resize_finish, unshelving) are that image's only. */
static void
image_facts_clear(struct rec_instance *i)
{
	free(i->resize_image_sha512);
	i->resize_image_sha512 = NULL;
	i->has_resize_image_size = false;
	i->resize_image_size = 0;
}

static int
xhost_image_drop(struct recon *r, struct rec_instance *i)
{
	if (xhost_drop_queue(r, i) == -1)
		return -1;
	free(i->snapshot_image_id);
	i->snapshot_image_id = NULL;
	image_facts_clear(i);
	return 0;
}

/* Ends the task and the API's action (end_task() finishes the step's
 * request id, which names no action). */
static int
xhost_end(struct store_txn *txn, struct rec_instance *i, int ok,
    const char *why, int64_t now)
{
	const char *cur = i->task_request_id ? i->task_request_id : "";
	char id[CODEC_REQUEST_ID_MAX + 1];

	snprintf(id, sizeof(id), "%.*s", (int)action_len(cur), cur);
	if (compute_db_action_finish(txn, i->uuid, id, ok, why, now) == -1)
		return -1;
	return end_task(txn, i, ok, why, now);
}

/*
 * The source's disk is in the temporary image: host, ports and a newer
 * generation go to the target, which builds the guest from the image
 * (verified against its checksum and size as Glance has them now). The
 * source's guest stays there, stopped (resizing_from()). 1: the image is
 * not usable (why set), nothing changed.
 */
static int
xhost_switch(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    int64_t now, char *why, size_t whylen)
{
	struct rec_image img;
	char *target;
	int usable;

	if (i->resize_host == NULL || i->snapshot_image_id == NULL) {
		snprintf(why, whylen, "the move has no target or no image");
		return 1;
	}
	if (image_db_get(txn, i->snapshot_image_id, &img) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		snprintf(why, whylen, "image %s of the move is gone",
		    i->snapshot_image_id);
		return 1;
	}
	usable = img.status != NULL && strcmp(img.status, "active") == 0 &&
	    img.os_hash_value != NULL && img.has_size;
	if (usable && (codec_str_set(&i->resize_image_sha512, img.os_hash_value) ==
	    -1)) {
		codec_clear(&schema_rec_image, &img);
		return -1;
	}
	i->has_resize_image_size = usable;
	i->resize_image_size = usable ? img.size : 0;
	codec_clear(&schema_rec_image, &img);
	if (!usable) {
		snprintf(why, whylen, "image %s of the move has no data",
		    i->snapshot_image_id);
		return 1;
	}
	if (r->net.move_device != NULL) {
		if (r->net.move_device(r->net.net, txn, i->uuid,
		    i->resize_host) == -1)
			return -1;
		r->net_released = 1;
	}
	/* The source's guest is stopped (resize_migrating): its qemu let go
	 * of the volumes, the target's logs in with the same initiator name
	 * and CHAP (the export stays), defining their secrets as it builds. */
	if (vols_follow(r, txn, i, i->resize_host, &r->vol_settled) == -1)
		return -1;
	if ((target = strdup(i->resize_host)) == NULL) {
		err_set(TS_ENOMEM, "recon: out of memory");
		return -1;
	}
	log_info("instance %s: its disk left %s; %s builds it (generation "
	    "%llu)", i->uuid, i->host, target,
	    (unsigned long long)i->generation + 1);
	free(i->host);
	i->host = target;
	i->generation++;
	if (compute_db_migration_status(txn, i->has_migration_id ?
	    i->migration_id : 0, "post-migrating", now) == -1 ||
	    xhost_next(r, i, "resize_finish", 'f', now) == -1)
		return -1;
	/* It ends as it was asked in (a stopped server stays stopped). */
	i->want_power = strcmp(i->vm_state, VM_STOPPED) == 0 ?
	    POWER_SHUTDOWN : POWER_RUNNING;
	return 0;
}

/* The target built the guest: VERIFY_RESIZE, the migration "finished";
 * the temporary image goes (Nova's cross-cell resize deletes its snapshot
 * once the guest is spawned on the target). */
static int
xhost_done(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    int64_t now)
{
	if (compute_db_migration_status(txn, i->has_migration_id ?
	    i->migration_id : 0, "finished", now) == -1 ||
	    codec_str_set(&i->vm_state, VM_RESIZED) == -1 ||
	    xhost_image_drop(r, i) == -1)
		return -1;
	log_info("instance %s: moved from %s to %s, waiting for confirm or "
	    "revert", i->uuid, i->resize_source ? i->resize_source : "-",
	    i->host);
	return xhost_end(txn, i, 1, NULL, now);
}

/*
 * A move that failed (an answer, the deadline): the instance goes back to
 * the source as it was: the old flavor (and the project's usage of it),
 * the target's claim given back, the ports, a newer generation and task
 * resize_reverting, whose ensure re-defines and powers the source's guest
 * as the record says (its reply ends it as a revert's does). A guest the
 * target built is fenced by the target's next report. The migration
 * "error", the action an error, a fault.
 */
static int
xhost_fail(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    const char *why, int64_t now)
{
	char *src = i->resize_source;
	char id[CODEC_REQUEST_ID_MAX + 1];
	const char *cur = i->task_request_id ? i->task_request_id : "";

	if (src == NULL || !i->has_old_flavor || i->host == NULL) {
		err_set(TS_EINTERNAL, "instance %s: a move without a source",
		    i->uuid);
		return -1;
	}
	log_warnx("instance %s: move from %s to %s failed: %s; back on %s",
	    i->uuid, src, i->resize_host ? i->resize_host : "-", why, src);
	if (i->resize_host != NULL && scheduler_release(txn, i->resize_host,
	    i->flavor.vcpus, i->flavor.ram, compute_db_claim_disk_gb(i,
	    &i->flavor)) == -1)
		return -1;
	if (compute_db_usage_add(txn, i->project_id, 0,
	    (int64_t)i->old_flavor.vcpus - (int64_t)i->flavor.vcpus,
	    (int64_t)i->old_flavor.ram - (int64_t)i->flavor.ram) == -1)
		return -1;
	if (strcmp(i->host, src) != 0 && r->net.move_device != NULL) {
		if (r->net.move_device(r->net.net, txn, i->uuid, src) == -1)
			return -1;
		r->net_released = 1;
	}
	/* The target may have built the guest with the volumes: the source's
	 * waits for it to be gone (resize_release). */
	if (recon_resize_back(r, txn, i, i->host, &r->vol_settled) == -1)
		return -1;
	snprintf(id, sizeof(id), "%.*s", (int)action_len(cur), cur);
	if (compute_db_migration_status(txn, i->has_migration_id ?
	    i->migration_id : 0, "error", now) == -1 ||
	    compute_db_action_finish(txn, i->uuid, id, 0, why, now) == -1 ||
	    xhost_image_drop(r, i) == -1 || set_fault(i, 500, why, now) == -1)
		return -1;
	codec_clear(&schema_sch_inst_flavor, &i->flavor);
	i->flavor = i->old_flavor;
	memset(&i->old_flavor, 0, sizeof(i->old_flavor));
	i->has_old_flavor = false;
	free(i->resize_host);
	i->resize_host = NULL;
	free(i->host);
	i->host = src;
	i->resize_source = NULL;
	i->has_migration_id = false;
	i->migration_id = 0;
	i->generation++;
	if (xhost_next(r, i, "resize_reverting", 'r', now) == -1)
		return -1;
	i->want_power = strcmp(i->vm_state, VM_STOPPED) == 0 ?
	    POWER_SHUTDOWN : POWER_RUNNING;
	return 0;
}

/*
 * The start of a moving step's instance_state (xhost_state(),
 * shelve_state()): 1 if it answers i's task, with why (the host's fault
 * or a default) and *ok filled; 0 if not, after recording an answer to a
 * one-shot command in *rc.
 */
static int
step_answer(struct batch *b, struct store_txn *txn,
    const struct msg_instance_state *m, struct rec_instance *i, char *why,
    size_t wlen, int *ok, int *rc)
{
	if (m->in_reply_to == NULL || i->task_request_id == NULL ||
	    strcmp(m->in_reply_to, i->task_request_id) != 0) {
		if (m->in_reply_to != NULL) {
			b->answered[b->cur] = 1;
			*rc = oneshot_answer(txn, i, m, b->now);
		}
		return 0;
	}
	snprintf(why, wlen, "%s", m->fault_message ? m->fault_message :
	    "the host did not do it");
	*ok = m->result != NULL && strcmp(m->result, "ok") == 0;
	return 1;
}

/* An instance_state of i while it moves, from its host (old: as stored,
 * i: its copy, written here). */
static int
xhost_state(struct batch *b, struct store_txn *txn,
    const struct msg_instance_state *m, struct rec_instance *i,
    const struct rec_instance *old)
{
	uint32_t power = m->exists ? m->power_state : POWER_NOSTATE;
	char why[1024];
	int ok, rc = 0;

	i->power_state = power;
	if (!step_answer(b, txn, m, i, why, sizeof(why), &ok, &rc))
		goto put;
	if (strcmp(i->task_state, "resize_migrating") == 0) {
		if (ok && (!m->exists || power != POWER_SHUTDOWN)) {
			snprintf(why, sizeof(why), "the guest did not stop on "
			    "%s", i->host);
			ok = 0;
		}
		if (ok)
			rc = xhost_next(b->r, i, "resize_migrated", 'm', b->now);
	} else if (strcmp(i->task_state, "resize_migrated") == 0) {
		if (ok && (rc = xhost_switch(b->r, txn, i, b->now, why,
		    sizeof(why))) == 1) {
			ok = 0;
			rc = 0;
		}
	} else {
		ok = ok && m->exists && power == i->want_power &&
		    (m->generation == 0 || m->generation >= i->generation);
		if (ok) {
			rc = xhost_done(b->r, txn, i, b->now);
			b->completed++;
		}
	}
	if (rc == 0 && !ok) {
		rc = xhost_fail(b->r, txn, i, why, b->now);
		b->failed++;
	}
	batch_forget(b, i->uuid);
put:
	if (rc == 0) {
		i->updated_at = b->now;
		rc = compute_db_instance_put(txn, i, old);
	}
	return rc;
}

/* ---- shelve, offload and unshelve ---------------------------------------- */

static int
shelve_task(const char *task_state)
{
	return task_state != NULL && (strcmp(task_state, "shelving") == 0 ||
	    strcmp(task_state, "shelving_image_uploading") == 0 ||
	    strcmp(task_state, "shelving_offloading") == 0 ||
	    strcmp(task_state, "unshelving") == 0);
}

/* i's shelved image is deleted after the commit (snap_drain()), whatever
 * its status. */
static int
shelve_drop_queue(struct recon *r, const struct rec_instance *i)
{
	struct rec_instance v;

	if (i->shelved_image_id == NULL)
		return 0;
	v = *i;		/* a shallow view: nothing is freed */
	v.snapshot_image_id = i->shelved_image_id;
	v.task_state = NULL;
	return xhost_drop_queue(r, &v);
}

/* The shelve is over (unshelved): its fields go, and its image. */
static int
shelve_clear(struct recon *r, struct rec_instance *i)
{
	if (shelve_drop_queue(r, i) == -1)
		return -1;
	free(i->shelved_image_id);
	i->shelved_image_id = NULL;
	free(i->shelved_host);
	i->shelved_host = NULL;
	i->has_shelved_at = false;
	i->shelved_at = 0;
	image_facts_clear(i);
	return 0;
}

/* The guest is gone from i's host: a volume it was letting go of (a
 * detach of a SHELVED server that its offload overtook) is detached, as
 * no report will show it gone; the others stay i's for the unshelve. */
static int
drop_detaching(struct recon *r, struct store_txn *txn, struct rec_instance *i)
{
	size_t keep = 0;
	int rc = 0;

	if (r->vol.detach_done == NULL)
		return 0;
	/* every item visited, so the list stays compact for codec_clear() */
	for (size_t k = 0; k < i->volumes.n; k++) {
		struct sch_inst_volume *iv = &i->volumes.items[k];

		if (iv->has_detaching && iv->detaching) {
			if (rc == 0 && (rc = r->vol.detach_done(r->vol.vol,
			    txn, iv->volume_id, iv->attachment_id)) == 0)
				log_info("instance %s: volume %s detached with "
				    "its guest", i->uuid, iv->volume_id);
			codec_clear(&schema_sch_inst_volume, iv);
			r->vol_settled = 1;
			continue;
		}
		if (keep != k)
			i->volumes.items[keep] = *iv;
		keep++;
	}
	i->volumes.n = keep;
	return rc;
}

/* The host no longer runs i (offloaded, or an unshelve that failed
 * there): its claim goes, the ports stay the server's, unbound. */
static int
shelve_unplace(struct recon *r, struct store_txn *txn, struct rec_instance *i)
{
	if (i->host != NULL && *i->host != '\0' && scheduler_release(txn,
	    i->host, i->flavor.vcpus, i->flavor.ram,
	    compute_db_claim_disk_gb(i, &i->flavor)) == -1)
		return -1;
	if (r->net.move_device != NULL) {
		if (r->net.move_device(r->net.net, txn, i->uuid, NULL) == -1)
			return -1;
		r->net_released = 1;
	}
	if (drop_detaching(r, txn, i) == -1)
		return -1;
	free(i->host);
	i->host = NULL;
	i->power_state = POWER_NOSTATE;
	i->want_power = POWER_SHUTDOWN;
	return codec_str_set(&i->vm_state, VM_SHELVED_OFFLOADED);
}

/* The guest is stopped and its disk (if local) in the shelved image:
 * SHELVED, then offloaded at once with shelved_offload_time 0 (Nova's
 * shelve_instance calls shelve_offload_instance then). */
static int
shelve_done(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    int64_t now)
{
	free(i->shelved_image_id);
	i->shelved_image_id = i->snapshot_image_id;
	i->snapshot_image_id = NULL;
	if (codec_str_set(&i->shelved_host, i->host) == -1 ||
	    codec_str_set(&i->vm_state, VM_SHELVED) == -1)
		return -1;
	i->has_shelved_at = true;
	i->shelved_at = now;
	i->want_power = POWER_SHUTDOWN;
	log_info("instance %s: shelved on %s (image %s)", i->uuid, i->host,
	    i->shelved_image_id ? i->shelved_image_id : "none");
	if (r->shelved_offload_time == 0)
		return xhost_next(r, i, "shelving_offloading", 'o', now);
	return xhost_end(txn, i, 1, NULL, now);
}

/*
 * A shelve step that failed (an answer, the deadline). Nova's shelve
 * leaves the server as it was, with a fault: the snapshot's image is
 * discarded and the power the vm_state shows is restored (the host's
 * next report starts a stopped-for-shelving guest again). A failed
 * offload leaves it SHELVED on its host; a failed unshelve SHELVED, or
 * SHELVED_OFFLOADED again (the new host's claim and binding back, a newer
 * generation so that host fences whatever it built).
 */
static int
shelve_fail(struct recon *r, struct store_txn *txn, struct rec_instance *i,
    const char *why, int64_t now)
{
	const char *ts = i->task_state ? i->task_state : "";

	log_warnx("instance %s: %s failed: %s", i->uuid, ts, why);
	if (strcmp(ts, "shelving") == 0 ||
	    strcmp(ts, "shelving_image_uploading") == 0) {
		if (i->snapshot_image_id != NULL && snap_queue(r, i, 0) == -1)
			return -1;
		free(i->snapshot_image_id);
		i->snapshot_image_id = NULL;
		i->want_power = power_for_vm_state(i->vm_state, POWER_RUNNING);
	} else if (strcmp(ts, "unshelving") == 0 &&
	    strcmp(i->vm_state, VM_SHELVED_OFFLOADED) == 0) {
		if (shelve_unplace(r, txn, i) == -1)
			return -1;
		i->generation++;
	} else {
		i->want_power = POWER_SHUTDOWN;
	}
	if (set_fault(i, 500, why, now) == -1)
		return -1;
	return xhost_end(txn, i, 0, why, now);
}

/* An instance_state of i (old: as stored) from its host while a shelve
 * step runs; see the tasks above. */
static int
shelve_state(struct batch *b, struct store_txn *txn,
    const struct msg_instance_state *m, struct rec_instance *i,
    const struct rec_instance *old)
{
	uint32_t power = m->exists ? m->power_state : POWER_NOSTATE;
	const char *ts = i->task_state;
	char why[1024];
	int ok, rc = 0, changed = 0;

	i->power_state = power;
	if (!step_answer(b, txn, m, i, why, sizeof(why), &ok, &rc))
		goto put;
	if (strcmp(ts, "shelving") == 0) {
		if (ok && (!m->exists || power != POWER_SHUTDOWN)) {
			snprintf(why, sizeof(why), "the guest did not stop on "
			    "%s", i->host);
			ok = 0;
		}
		if (ok && i->snapshot_image_id != NULL)
			rc = xhost_next(b->r, i, "shelving_image_uploading",
			    'u', b->now);
		else if (ok)
			rc = shelve_done(b->r, txn, i, b->now);
	} else if (strcmp(ts, "shelving_image_uploading") == 0) {
		if (ok)
			rc = shelve_done(b->r, txn, i, b->now);
	} else if (strcmp(ts, "shelving_offloading") == 0) {
		if (ok && m->exists) {
			snprintf(why, sizeof(why), "the guest is still on %s",
			    i->host);
			ok = 0;
		}
		if (ok) {
			log_info("instance %s: offloaded from %s", i->uuid,
			    i->host);
			if ((rc = shelve_unplace(b->r, txn, i)) == 0)
				rc = xhost_end(txn, i, 1, NULL, b->now);
		}
	} else {
		ok = ok && m->exists && power == POWER_RUNNING &&
		    (m->generation == 0 || m->generation >= i->generation);
		if (ok) {
			log_info("instance %s: unshelved on %s", i->uuid,
			    i->host);
			if (codec_str_set(&i->vm_state, VM_ACTIVE) == -1 ||
			    shelve_clear(b->r, i) == -1)
				rc = -1;
			i->launched_at = b->now;
			if (rc == 0)
				rc = xhost_end(txn, i, 1, NULL, b->now);
		}
	}
	if (ok)
		b->completed++;
	if (rc == 0 && !ok) {
		rc = shelve_fail(b->r, txn, i, why, b->now);
		b->failed++;
	}
	batch_forget(b, i->uuid);
	/* an unshelved guest's volumes, as any ended task's (stored below
	 * in any case) */
	if (rc == 0)
		rc = answer_vols(b->r, txn, m, i, &changed);
put:
	if (rc == 0) {
		i->updated_at = b->now;
		rc = compute_db_instance_put(txn, i, old);
	}
	return rc;
}

/*
 * An instance_state of i (old: as stored) from the host its revert waits
 * for (resize_release): the answer to the release's delete, or a fence's,
 * or the host reporting the guest gone. Gone: the field is cleared and
 * the batch forgets the task's history, so the scan sends the source its
 * ensure within a second. Still there (a delete that failed, a report
 * from before it): nothing; the delete is sent again.
 */
static int
release_state(struct batch *b, struct store_txn *txn, const char *host,
    const struct msg_instance_state *m, const struct rec_instance *old)
{
	struct rec_instance i;
	int rc;

	/* (never marked answered: a delete that failed is re-sent with the
	 * back-off) */
	if (m->exists) {
		log_info("instance %s: %s still has the guest (%s)", old->uuid,
		    host, m->fault_message ? m->fault_message : "not deleted "
		    "yet");
		return 0;
	}
	if (compute_db_instance_get(txn, old->uuid, &i) == -1)
		return -1;
	free(i.resize_release);
	i.resize_release = NULL;
	/* The source's step has its own time (the wait may have been long:
	 * a host away). */
	i.task_deadline = b->now + b->r->build_ms;
	i.updated_at = b->now;
	log_info("instance %s: %s let go of its volumes; %s starts it",
	    i.uuid, host, i.host ? i.host : "-");
	batch_forget(b, i.uuid);
	rc = compute_db_instance_put(txn, &i, old);
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

static int
apply_state(struct store_txn *txn, struct batch *b, const char *host,
    const struct msg_instance_state *m)
{
	struct rec_instance i, old;
	struct rec_instance_tombstone tb;
	const struct recon_task *t;
	uint32_t power = m->exists ? m->power_state : POWER_NOSTATE;
	int changed = 0, rc = 0, reply;

	if (compute_db_instance_get(txn, m->uuid, &old) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		/* A tombstoned guest that is gone now: done with it. */
		if (!m->exists && compute_db_tombstone_get(txn, m->uuid, &tb) == 0) {
			if (strcmp(tb.host, host) == 0) {
				log_info("guest %s of a deleted instance is "
				    "gone from %s", m->uuid, host);
				rc = compute_db_tombstone_del(txn, m->uuid);
			} else {
				log_warnx("agent %s reports deleted instance "
				    "%s, which was on %s: ignored", host,
				    m->uuid, tb.host);
			}
			codec_clear(&schema_rec_instance_tombstone, &tb);
		}
		return rc;
	}
	if (old.resize_release != NULL && strcmp(old.resize_release, host) ==
	    0) {
		rc = release_state(b, txn, host, m, &old);
		codec_clear(&schema_rec_instance, &old);
		return rc;
	}
	if (old.host != NULL && strcmp(old.host, host) != 0 &&
	    m->in_reply_to != NULL && landed_find(b->r, m->uuid, host,
	    m->in_reply_to)) {
		/* The source's answer to a migration its target's report
		 * ended: its copy is gone, or (a failure) fenced now. */
		if (m->result != NULL && strcmp(m->result, "ok") == 0)
			log_info("instance %s: %s confirmed its live migration "
			    "to %s", m->uuid, host, old.host);
		else
			log_warnx("instance %s: %s answered its live migration "
			    "to %s, where the guest runs, with an error: %s; "
			    "its copy on %s is fenced", m->uuid, host, old.host,
			    m->fault_message ? m->fault_message : "?", host);
		b->answered[b->cur] = 1;
		codec_clear(&schema_rec_instance, &old);
		return 0;
	}
	if (old.host == NULL || strcmp(old.host, host) != 0) {
		log_warnx("agent %s reports instance %s, which is placed on "
		    "%s: ignored", host, m->uuid, old.host ? old.host : "-");
		codec_clear(&schema_rec_instance, &old);
		return 0;
	}
	/* A failed resize's answer names the generation the guest kept:
	 * not stale, it ends the task. */
	if (m->exists && m->generation != 0 &&
	    m->generation < old.generation && !(old.task_state != NULL &&
	    strncmp(old.task_state, "resize_", 7) == 0 && m->in_reply_to !=
	    NULL && old.task_request_id != NULL && strcmp(m->in_reply_to,
	    old.task_request_id) == 0)) {
		log_info("stale report of %s (generation %llu < %llu) ignored",
		    m->uuid, (unsigned long long)m->generation,
		    (unsigned long long)old.generation);
		codec_clear(&schema_rec_instance, &old);
		return 0;
	}
	/* Work on a deep copy; old stays what is stored (indexes). */
	memset(&i, 0, sizeof(i));
	if (compute_db_instance_get(txn, m->uuid, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	t = recon_task_find(i.task_state);
	if (t != NULL && t->cmd == RECON_MIGRATE) {
		rc = migrate_state(b, txn, m, &i, &old);
		codec_clear(&schema_rec_instance, &i);
		codec_clear(&schema_rec_instance, &old);
		return rc;
	}
	if (t != NULL && shelve_task(t->task_state)) {
		rc = shelve_state(b, txn, m, &i, &old);
		codec_clear(&schema_rec_instance, &i);
		codec_clear(&schema_rec_instance, &old);
		return rc;
	}
	if (t != NULL && xhost_task(t->task_state)) {
		rc = xhost_state(b, txn, m, &i, &old);
		codec_clear(&schema_rec_instance, &i);
		codec_clear(&schema_rec_instance, &old);
		return rc;
	}
	if (i.power_state != power) {
		i.power_state = power;
		changed = 1;
	}
	reply = t != NULL && m->in_reply_to != NULL &&
	    i.task_request_id != NULL &&
	    strcmp(m->in_reply_to, i.task_request_id) == 0;
	if (!reply && m->in_reply_to != NULL) {
		b->answered[b->cur] = 1;
		if (oneshot_answer(txn, &i, m, b->now) == -1)
			rc = -1;
	}
	if (reply && t->cmd == RECON_DELETE) {
		if (m->result && strcmp(m->result, "ok") == 0 && !m->exists) {
			if (compute_db_action_finish(txn, i.uuid, i.task_request_id, 1,
			    NULL, b->now) == -1 || finish_delete(b->r, txn, &i) == -1)
				rc = -1;
			else
				log_info("instance %s deleted from %s", i.uuid,
				    host);
			batch_forget(b, i.uuid);
			b->completed++;
			codec_clear(&schema_rec_instance, &i);
			codec_clear(&schema_rec_instance, &old);
			return rc;
		}
		/* Deletes are retried until the host confirms. */
		log_warnx("delete of %s on %s failed: %s; will retry", i.uuid,
		    host, m->fault_message ? m->fault_message : m->result ?
		    m->result : "?");
	} else if (reply && t->cmd == RECON_SNAPSHOT) {
		int ok = m->result && strcmp(m->result, "ok") == 0;
		const char *why = m->fault_message ? m->fault_message :
		    "the snapshot failed on the host";

		if (!ok)
			log_warnx("%s of %s on %s failed: %s", t->action,
			    i.uuid, host, why);
		if (end_snapshot(b->r, txn, &i, ok, ok ? NULL : why, b->now) ==
		    -1)
			rc = -1;
		if (ok)
			b->completed++;
		else
			b->failed++;
		changed = 1;
		batch_forget(b, i.uuid);
	} else if (reply) {
		uint32_t want = t->keep_power ? i.want_power : t->want_power;
		int ok = m->result && strcmp(m->result, "ok") == 0 &&
		    m->exists && power == want &&
		    (m->generation == 0 || m->generation >= i.generation);
		const char *why = m->fault_message ? m->fault_message :
		    "the guest is not in the requested state";

		if (!ok && t->build && !m->exists && m->has_fault_code &&
		    m->fault_code == (uint32_t)TS_EUNAVAILABLE) {
			/* The host could not reach its libvirtd and defined
			 * nothing (A6 in docs/RELIABILITY.md: a libvirtd
			 * restart turned builds into ERROR): the task stays,
			 * the build is re-sent (the agent runs it again under
			 * its request id) until it succeeds or its deadline
			 * ends it in ERROR. */
			log_warnx("build of %s on %s failed: %s; will retry",
			    i.uuid, host, why);
			goto put;
		}
		if (strncmp(t->task_state, "resize_", 7) == 0 &&
		    resize_end(txn, &i, ok, b->now) == -1)
			rc = -1;
		/* An evacuation's record (compute_evacuate.c) ends with the
		 * rebuild on the target. */
		if (strcmp(t->task_state, "rebuilding") == 0 &&
		    i.has_migration_id) {
			if (compute_db_migration_status(txn, i.migration_id, ok ?
			    "done" : "failed", b->now) == -1)
				rc = -1;
			i.has_migration_id = false;
			i.migration_id = 0;
		}
		/* A failed resize is no build failure: the guest is back as
		 * it was (the agent restores its disk), not in ERROR. */
		if (!ok && strncmp(t->task_state, "resize_", 7) == 0) {
			if (codec_str_set(&i.vm_state, vm_state_for(m->exists ?
			    power : i.want_power, i.vm_state)) == -1 ||
			    set_fault(&i, 500, why, b->now) == -1 ||
			    end_task(txn, &i, 0, why, b->now) == -1)
				rc = -1;
			b->failed++;
			changed = 1;
			batch_forget(b, i.uuid);
			goto put;
		}

		if (ok) {
			if (codec_str_set(&i.vm_state, t->done_vm_state ?
			    t->done_vm_state : vm_state_for(want, i.vm_state)) ==
			    -1)
				rc = -1;
			if (t->build)
				i.launched_at = b->now;
			if (rc == 0)
				rc = end_task(txn, &i, 1, NULL, b->now);
			b->completed++;
		} else if (t->build) {
			log_warnx("build of %s on %s failed: %s", i.uuid, host,
			    why);
			if (codec_str_set(&i.vm_state, VM_ERROR) == -1 ||
			    set_fault(&i, 500, why, b->now) == -1 ||
			    end_task(txn, &i, 0, why, b->now) == -1)
				rc = -1;
			b->failed++;
		} else {
			/* The guest stays as it is; so does the wish. */
			log_warnx("%s of %s on %s failed: %s", t->action,
			    i.uuid, host, why);
			if (m->exists) {
				if (codec_str_set(&i.vm_state, vm_state_for(power,
				    i.vm_state)) == -1)
					rc = -1;
				i.want_power = power == POWER_CRASHED ?
				    POWER_SHUTDOWN : power;
			} else {
				/* The host could not see the guest (libvirt
				 * unreachable, or the guest is gone): the wish
				 * goes back to the state the instance keeps
				 * showing, so a re-create builds it as shown,
				 * not as the failed action wanted it (found by
				 * integ.faults: a stop that failed while
				 * libvirtd restarted, then a guest re-created
				 * shut off under an ACTIVE server). */
				i.want_power = power_for_vm_state(i.vm_state,
				    i.want_power);
			}
			if (rc == 0)
				rc = end_task(txn, &i, 0, why, b->now);
			b->failed++;
		}
		changed = 1;
		batch_forget(b, i.uuid);
	}
put:
	if (rc == 0)
		rc = answer_vols(b->r, txn, m, &i, &changed);
	if (rc == 0 && changed) {
		i.updated_at = b->now;
		rc = compute_db_instance_put(txn, &i, &old);
	}
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static int
apply_states(struct store_txn *txn, void *arg)
{
	struct batch *b = arg;

	b->nforget = 0;
	b->completed = b->failed = 0;
	b->r->nsnap = 0;
	memset(b->answered, 0, b->n ? b->n : 1);
	for (b->cur = 0; b->cur < b->n; b->cur++)
		if (apply_state(txn, b, b->evs[b->cur]->host,
		    b->evs[b->cur]->state) == -1)
			return -1;
	return 0;
}

static void
process_states(struct recon *r, struct ev **evs, size_t n)
{
	struct batch b = { .r = r, .evs = evs, .n = n, .now = db_now_ms() };

	b.forget = calloc(n ? n : 1, sizeof(*b.forget));
	b.answered = calloc(n ? n : 1, 1);
	if (b.forget == NULL || b.answered == NULL) {
		/* Level-triggered: the agents' next reports bring it again. */
		log_warnx("applying instance states: out of memory");
		free(b.forget);
		free(b.answered);
		return;
	}
	r->net_released = 0;
	r->vol_settled = 0;
	if (store_write(r->store, apply_states, &b) == -1) {
		/* Level-triggered: re-sends bring the answers again. */
		log_err("applying instance states");
	} else {
		net_changed(r);
		snap_drain(r);
		for (size_t k = 0; k < b.nforget; k++) {
			sent_forget(r, b.forget[k]);
			pass_drop(r, b.forget[k], NULL);
			prep_free(prep_take(r, b.forget[k], NULL));
		}
		for (size_t k = 0; k < n; k++) {
			if (!b.answered[k])
				continue;
			sent_answered(r, evs[k]->state->uuid,
			    evs[k]->state->in_reply_to);
			pass_drop(r, evs[k]->state->uuid,
			    evs[k]->state->in_reply_to);
		}
		pthread_mutex_lock(&r->lock);
		r->st.completed += b.completed;
		r->st.failed += b.failed;
		pthread_mutex_unlock(&r->lock);
	}
	free(b.forget);
	free(b.answered);
}

/* ------------------------------------------------------ reconciliation */

enum fix { FIX_POWER, FIX_SELF_STOPPED, FIX_TOMB_GONE, FIX_VOLUMES,
	FIX_MIGRATED, FIX_MIGRATE_BACK };

struct fixup {
	char		uuid[CODEC_UUID_LEN + 1];
	enum fix	what;
	uint32_t	power;
	const struct rguest *g;		/* FIX_VOLUMES: the report's guest,
					 * borrowed from the event */
};

struct host_pass {
	struct recon		*r;
	struct store_txn	*txn;
	const char		*host;
	struct rguest		*g;
	size_t			 ng;
	int			 hello;
	int64_t			 mono;
	struct fixup		*fix;
	size_t			 nfix, capfix;
	int			 err;
	/* Something on the host is not as it should be, or is in motion (a
	 * task): its next report is checked again (struct calm). */
	int			 busy;
};

static int
cmp_rguest(const void *a, const void *b)
{
	return strcmp(((const struct rguest *)a)->uuid,
	    ((const struct rguest *)b)->uuid);
}

static struct rguest *
find_guest(struct host_pass *p, const char *uuid)
{
	struct rguest key;

	/* A host that reports no guest has no array: bsearch() must not see
	 * the NULL, even with 0 elements. */
	if (p->ng == 0)
		return NULL;
	snprintf(key.uuid, sizeof(key.uuid), "%s", uuid);
	return bsearch(&key, p->g, p->ng, sizeof(*p->g), cmp_rguest);
}

static void
add_fix(struct host_pass *p, const char *uuid, enum fix what, uint32_t power)
{
	if (p->nfix == p->capfix) {
		size_t ncap = p->capfix ? p->capfix * 2 : 16;
		struct fixup *nf = realloc(p->fix, ncap * sizeof(*nf));

		if (nf == NULL) {
			p->err = 1;
			return;
		}
		p->fix = nf;
		p->capfix = ncap;
	}
	snprintf(p->fix[p->nfix].uuid, sizeof(p->fix[p->nfix].uuid), "%s",
	    uuid);
	p->fix[p->nfix].what = what;
	p->fix[p->nfix].power = power;
	p->fix[p->nfix].g = NULL;
	p->nfix++;
}

static int
desired_cb(const struct rec_instance *i, void *arg)
{
	struct host_pass *p = arg;
	struct recon *r = p->r;
	struct rguest *g = find_guest(p, i->uuid);
	int busy = p->busy, off = 0;
	size_t nfix = p->nfix;

	if (g != NULL)
		g->seen = 1;
	/* Every way out but the last two (in the wanted state; ERROR, which
	 * nothing here acts on) leaves the host busy. */
	p->busy = 1;
	if (i->task_state != NULL && g != NULL && strcmp(i->task_state,
	    "migrating") == 0 && db_now_ms() > i->task_deadline &&
	    g->generation <= i->generation) {
		/* Past its deadline the source still runs it: the migration
		 * did not happen (the agent gives up before the deadline). */
		add_fix(p, i->uuid, FIX_MIGRATE_BACK, g->power);
		return 0;
	}
	if (g == NULL && i->task_state != NULL && strcmp(i->task_state,
	    "migrating") == 0 && i->task_request_id != NULL)
		prep_mark(r, i->uuid, i->task_request_id, PREP_SOURCE_GONE);
	if (i->task_state != NULL) {
		/* The task's own re-sends cover it; a reconnecting agent gets
		 * them at once. */
		if (p->hello && recon_task_find(i->task_state) != NULL)
			send_for(r, i, p->mono, NULL, g);
		return 0;
	}
	if (strcmp(i->vm_state, VM_ERROR) == 0) {
		p->busy = busy;
		return 0;
	}
	if (strcmp(i->vm_state, VM_BUILDING) == 0)
		return 0;
	if (g == NULL) {
		if (sent_due(r, i->uuid, NULL, p->mono)) {
			log_warnx("instance %s (%s) is missing on %s: "
			    "re-creating it", i->uuid, i->vm_state, p->host);
			STAT(r, recreated);
			send_for(r, i, p->mono, NULL, g);
		}
		return 0;
	}
	if (g->power != i->power_state)
		add_fix(p, i->uuid, FIX_POWER, g->power);
	int settle = 0;

	if (!vols_match(r, p->txn, i, g, &settle)) {
		off = 1;
		/* A volume attach or detach has not reached the guest yet
		 * (its export just became ready, a lost command, an agent
		 * restart): the ensure carries the whole list again. */
		if (sent_due(r, i->uuid, NULL, p->mono)) {
			log_info("instance %s on %s has other volume disks "
			    "than its volumes: sending its volumes", i->uuid,
			    p->host);
			send_for(r, i, p->mono, NULL, g);
		}
	}
	if (settle) {
		add_fix(p, i->uuid, FIX_VOLUMES, 0);
		if (!p->err)
			p->fix[p->nfix - 1].g = g;
	}
	if (!nics_match(r, p->txn, i->uuid, g)) {
		/* An interface attach or detach has not reached the guest
		 * (a lost command, a failed hot-plug, an agent restart):
		 * the ensure carries the whole NIC list again. */
		if (sent_due(r, i->uuid, NULL, p->mono)) {
			log_warnx("instance %s on %s has other NICs than its "
			    "ports: re-sending its interfaces", i->uuid,
			    p->host);
			send_for(r, i, p->mono, NULL, g);
		}
		return 0;
	}
	if (g->power == i->want_power) {
		/* In the wanted state, unless something above is pending. */
		if (p->nfix == nfix && !off)
			p->busy = busy;
		return 0;
	}
	if (i->want_power == POWER_RUNNING && strcmp(i->vm_state,
	    VM_ACTIVE) == 0 && (g->power == POWER_SHUTDOWN ||
	    g->power == POWER_CRASHED)) {
		/* A guest that an unanswered command is re-creating or
		 * starting is shut off on its way up (a host reports at once
		 * when libvirt defines it): only one that is off with nothing
		 * in flight stopped by itself. */
		if (sent_pending(r, i->uuid))
			return 0;
		log_warnx("instance %s on %s shut down by itself: now SHUTOFF",
		    i->uuid, p->host);
		add_fix(p, i->uuid, FIX_SELF_STOPPED, g->power);
		return 0;
	}
	if (sent_due(r, i->uuid, NULL, p->mono)) {
		log_warnx("instance %s on %s has power state %u, wanted %u: "
		    "correcting", i->uuid, p->host, g->power, i->want_power);
		send_for(r, i, p->mono, NULL, g);
	}
	return 0;
}

static int
tomb_cb(const struct rec_instance_tombstone *t, void *arg)
{
	struct host_pass *p = arg;

	if (strcmp(t->host, p->host) == 0 && find_guest(p, t->uuid) == NULL)
		add_fix(p, t->uuid, FIX_TOMB_GONE, 0);
	return 0;
}

/* Whether g is the guest of an instance live-migrating to this host: it
 * is not fenced. Running with the new generation it has arrived: libvirt
 * resumes the incoming guest only in the migration's Finish, past its
 * point of no return (the source's copy, paused, is then only stopped
 * and undefined: struct landed), so this ends the migration before the
 * source's answer, which comes after its libvirtd's confirm. In the
 * instance's power (a paused guest migrates paused) it has arrived once
 * the source let go of it (PREP_SOURCE_GONE: a lost answer); past the
 * deadline, when the agents have given up any copy, a copy in the
 * instance's power counts alone. */
static int
migrating_here(struct host_pass *p, const struct rguest *g)
{
	struct rec_instance i;
	int here;

	if (compute_db_instance_get(p->txn, g->uuid, &i) == -1)
		return 0;
	here = i.task_state != NULL && strcmp(i.task_state, "migrating") ==
	    0 && i.migrate_host != NULL && strcmp(i.migrate_host, p->host) ==
	    0;
	if (here && g->generation > i.generation &&
	    (g->power == POWER_RUNNING || (g->power == i.power_state &&
	    prep_marked(p->r, g->uuid, i.task_request_id,
	    PREP_SOURCE_GONE)) || (db_now_ms() > i.task_deadline &&
	    g->power == i.power_state)))
		add_fix(p, g->uuid, FIX_MIGRATED, g->power);
	codec_clear(&schema_rec_instance, &i);
	return here;
}

/* Whether g is the guest a cross-host resize keeps on this host, its
 * source, until confirm or revert (stopped, with its disks): not fenced. */
static int
resizing_from(struct host_pass *p, const struct rguest *g)
{
	struct rec_instance i;
	int here;

	if (compute_db_instance_get(p->txn, g->uuid, &i) == -1)
		return 0;
	here = i.resize_source != NULL && strcmp(i.resize_source, p->host) ==
	    0 && i.host != NULL && strcmp(i.host, p->host) != 0;
	codec_clear(&schema_rec_instance, &i);
	return here;
}

/* Whether g is the source's paused copy of a live migration that ended
 * on the target's report moments ago (struct landed): not fenced while
 * its libvirtd confirms. */
static int
landed_from(struct host_pass *p, const struct rguest *g)
{
	if (g->power == POWER_RUNNING || !landed_find(p->r, g->uuid, p->host,
	    NULL))
		return 0;
	log_debug("guest %s on %s: the source's copy of a finished live "
	    "migration, before its answer", g->uuid, p->host);
	return 1;
}

/* Guests the host runs that it should not. */
static void
extra_guests(struct host_pass *p)
{
	struct recon *r = p->r;

	for (size_t k = 0; k < p->ng; k++) {
		struct rguest *g = &p->g[k];
		struct rec_instance_tombstone tb;
		struct rec_instance i;

		if (!g->seen)
			p->busy = 1;
		if (g->seen || migrating_here(p, g) || resizing_from(p, g) ||
		    landed_from(p, g) || !sent_due(r, g->uuid, NULL, p->mono))
			continue;
		if (compute_db_tombstone_get(p->txn, g->uuid, &tb) == 0) {
			log_warnx("guest %s on %s belongs to a deleted "
			    "instance: deleting it", g->uuid, p->host);
			send_delete(r, p->host, g->uuid, tb.generation, 0,
			    p->mono);
			STAT(r, fenced);
			codec_clear(&schema_rec_instance_tombstone, &tb);
			continue;
		}
		if (compute_db_instance_get(p->txn, g->uuid, &i) == 0) {
			log_warnx("guest %s on %s belongs to an instance placed "
			    "on %s: deleting it", g->uuid, p->host,
			    i.host ? i.host : "no host");
			send_delete(r, p->host, g->uuid, i.generation, 0,
			    p->mono);
			STAT(r, fenced);
			codec_clear(&schema_rec_instance, &i);
			continue;
		}
		if (g->ours) {
			log_warnx("guest %s on %s is unknown: reporting it as "
			    "an orphan", g->uuid, p->host);
			send_delete(r, p->host, g->uuid, 0, 1, p->mono);
		}
	}
}

struct fix_batch {
	struct recon	*r;
	const char	*host;
	struct fixup	*fix;
	size_t		 n;
	int64_t		 now;
};

/* A host's report shows a guest's volume disks (FIX_VOLUMES): decided
 * again on the record read in txn. */
static int
settle_volumes(struct fix_batch *fb, struct store_txn *txn,
    const struct fixup *f, const struct rec_instance *old)
{
	struct recon *r = fb->r;
	struct rec_instance i;
	int rc, changed = 0;

	if (old->host == NULL || strcmp(old->host, fb->host) != 0 ||
	    f->g == NULL || r->vol.attach_done == NULL)
		return 0;
	if (compute_db_instance_copy(old, &i) == -1)
		return -1;
	rc = settle_vols(r, txn, &i, f->g, &changed);
	if (rc == 0 && changed) {
		i.updated_at = fb->now;
		rc = compute_db_instance_put(txn, &i, old);
	}
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

/* A report settled a live migration whose answer was lost: decided again
 * on the record read in txn. */
static int
migrate_fix(struct fix_batch *fb, struct store_txn *txn,
    const struct fixup *f, const struct rec_instance *old)
{
	struct rec_instance i;
	int ok = f->what == FIX_MIGRATED, rc;

	if (old->task_state == NULL || strcmp(old->task_state, "migrating") !=
	    0 || old->migrate_host == NULL || old->host == NULL ||
	    strcmp(ok ? old->migrate_host : old->host, fb->host) != 0)
		return 0;
	if (compute_db_instance_copy(old, &i) == -1)
		return -1;
	if (ok)
		landed_note(fb->r, old->uuid, old->task_request_id, old->host);
	i.power_state = f->power;
	rc = migrate_end(fb->r, txn, &i, ok, ok ? NULL : "Timed out: the "
	    "guest is still on the source host", fb->now);
	if (rc == 0) {
		i.updated_at = fb->now;
		rc = compute_db_instance_put(txn, &i, old);
	}
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

static int
apply_fixes(struct store_txn *txn, void *arg)
{
	struct fix_batch *fb = arg;

	for (size_t k = 0; k < fb->n; k++) {
		struct fixup *f = &fb->fix[k];
		struct rec_instance i, old;
		int rc = 0;

		if (f->what == FIX_TOMB_GONE) {
			/* The host's report may come before its answer to
			 * the delete (it reports at once when libvirt drops
			 * the guest): either one ends the tombstone, and
			 * says so. */
			if (compute_db_tombstone_del(txn, f->uuid) == -1) {
				if (err_code() != TS_ENOT_FOUND)
					return -1;
			} else {
				log_info("guest %s of a deleted instance is "
				    "gone from %s", f->uuid, fb->host);
			}
			continue;
		}
		if (compute_db_instance_get(txn, f->uuid, &old) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		if (f->what == FIX_MIGRATED || f->what == FIX_MIGRATE_BACK) {
			rc = migrate_fix(fb, txn, f, &old);
			codec_clear(&schema_rec_instance, &old);
			if (rc == -1)
				return -1;
			continue;
		}
		if (f->what == FIX_VOLUMES) {
			rc = settle_volumes(fb, txn, f, &old);
			codec_clear(&schema_rec_instance, &old);
			if (rc == -1)
				return -1;
			continue;
		}
		/* Re-check what the decision was based on. */
		if (old.host == NULL || strcmp(old.host, fb->host) != 0 ||
		    old.task_state != NULL ||
		    compute_db_instance_get(txn, f->uuid, &i) == -1) {
			codec_clear(&schema_rec_instance, &old);
			continue;
		}
		i.power_state = f->power;
		if (f->what == FIX_SELF_STOPPED &&
		    strcmp(i.vm_state, VM_ACTIVE) == 0 &&
		    i.want_power == POWER_RUNNING) {
			rc = codec_str_set(&i.vm_state, VM_STOPPED);
			i.want_power = POWER_SHUTDOWN;
		}
		i.updated_at = fb->now;
		if (rc == 0)
			rc = compute_db_instance_put(txn, &i, &old);
		codec_clear(&schema_rec_instance, &i);
		codec_clear(&schema_rec_instance, &old);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------- calm hosts */

static size_t
calm_bucket(const char *host)
{
	return (size_t)(hash_fnv64(host) % CALM_BUCKETS);
}

/* Lock held. NULL if none and create is 0, or out of memory (the host's
 * reports are then all checked). */
static struct calm *
calm_of(struct recon *r, const char *host, int create)
{
	size_t b = calm_bucket(host), len;
	struct calm *c;

	for (c = r->calm[b]; c != NULL; c = c->next)
		if (strcmp(c->host, host) == 0)
			return c;
	if (!create)
		return NULL;
	len = strlen(host);
	if ((c = calloc(1, sizeof(*c) + len + 1)) == NULL)
		return NULL;
	memcpy(c->host, host, len + 1);
	c->next = r->calm[b];
	r->calm[b] = c;
	return c;
}

/* The pass of report e ended: quiet, from snapshot snap, at mono. */
static void
calm_note(struct recon *r, const struct ev *e, int quiet, uint64_t snap,
    int64_t mono)
{
	struct calm *c;

	pthread_mutex_lock(&r->lock);
	if ((c = calm_of(r, e->host, 0)) != NULL) {
		if (c->pending > 0)
			c->pending--;
		c->sum = e->sum;
		c->txn = snap;
		c->at = mono;
		c->quiet = quiet;
	}
	pthread_mutex_unlock(&r->lock);
}

static uint64_t
mix_str(uint64_t h, const char *s)
{
	/* With its NUL: "ab","c" and "a","bc" differ. */
	return hash_fnv64_add(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t
mix_u64(uint64_t h, uint64_t v)
{
	return hash_fnv64_add(h, &v, sizeof(v));
}

static uint64_t
mix_list(uint64_t h, char *const *items, size_t n)
{
	h = mix_u64(h, items != NULL ? n + 1 : 0);
	for (size_t k = 0; items != NULL && k < n; k++)
		h = mix_str(h, items[k]);
	return h;
}

/*
 * What a report says about its guests, in 64 bits: every field of every
 * guest that a pass reads, each guest hashed alone and the hashes added,
 * so that the order the agent lists them in does not matter.
 */
static uint64_t
report_sum(const struct sch_guest *gs, size_t n)
{
	uint64_t sum = mix_u64(HASH_FNV64_INIT, n);

	for (size_t k = 0; k < n; k++) {
		const struct sch_guest *g = &gs[k];
		uint64_t h = HASH_FNV64_INIT;

		h = mix_str(h, g->uuid);
		h = mix_str(h, g->name);
		h = mix_u64(h, g->power_state);
		h = mix_u64(h, g->has_generation ? g->generation + 1 : 0);
		h = mix_list(h, g->macs.items, g->macs.n);
		h = mix_list(h, g->volumes.items, g->volumes.n);
		sum += h;
	}
	return sum;
}

/* 1: the report cannot change anything (struct calm); else it is counted
 * as pending for the host. */
static int
calm_skip(struct recon *r, const char *host, uint64_t sum, int hello)
{
	struct calm *c;
	int skip = 0;

	pthread_mutex_lock(&r->lock);
	c = calm_of(r, host, 1);
	if (c != NULL && !hello && c->quiet && c->pending == 0 &&
	    c->sum == sum && clock_mono_ms() - c->at < FULL_PASS_MS &&
	    compute_db_host_changed_txn(host) <= c->txn) {
		skip = 1;
		r->st.reports_skipped++;
	} else if (c != NULL) {
		c->pending++;
	}
	pthread_mutex_unlock(&r->lock);
	return skip;
}

/* A report counted by calm_skip() that will not be processed. */
static void
calm_drop(struct recon *r, const char *host)
{
	struct calm *c;

	pthread_mutex_lock(&r->lock);
	if ((c = calm_of(r, host, 0)) != NULL && c->pending > 0)
		c->pending--;
	pthread_mutex_unlock(&r->lock);
}

struct node_arg {
	const char	*host;
	uint32_t	 id;
};

static int
ensure_node(struct store_txn *txn, void *arg)
{
	struct node_arg *n = arg;

	return compute_db_node_ensure(txn, n->host, db_now_ms(), &n->id);
}

static void
process_report(struct recon *r, struct ev *e)
{
	if (e->hello) {
		struct node_arg n = { e->host, 0 };
		struct store_txn *txn = NULL;
		struct rec_compute_node cn;
		int known = 0;

		/* Only a host's first hello writes. */
		if (store_read_begin(r->store, &txn) == 0) {
			known = compute_db_node_get(txn, e->host, &cn) == 0;
			if (known)
				codec_clear(&schema_rec_compute_node, &cn);
			store_txn_end(&txn);
		}
		if (!known && store_write(r->store, ensure_node, &n) == -1)
			log_err("assigning a compute node id");
	}
	struct host_pass p = { .r = r, .host = e->host, .g = e->guests,
	    .ng = e->nguests, .hello = e->hello, .mono = clock_mono_ms() };
	uint64_t snap;

	if (store_read_begin(r->store, &p.txn) == -1) {
		log_err("reconciling");
		calm_note(r, e, 0, 0, 0);
		return;
	}
	snap = store_txn_id(p.txn);
	if (compute_db_instance_each_host(p.txn, e->host, desired_cb, &p) == -1 ||
	    compute_db_tombstone_each(p.txn, tomb_cb, &p) == -1) {
		log_err("reconciling");
		p.err = 1;
	} else {
		extra_guests(&p);
	}
	store_txn_end(&p.txn);
	calm_note(r, e, !p.err && !p.busy && p.nfix == 0, snap, p.mono);
	if (p.nfix > 0) {
		struct fix_batch fb = { r, e->host, p.fix, p.nfix,
		    db_now_ms() };

		r->net_released = 0;
		r->vol_settled = 0;
		if (store_write(r->store, apply_fixes, &fb) == -1)
			log_err("recording reported guest states");
		else
			net_changed(r);
	}
	free(p.fix);
}

/* ---------------------------------------------------------- task scan */

enum scan_act { SCAN_TIMEOUT, SCAN_LOCAL_DELETE, SCAN_UNKNOWN,
	SCAN_MIGRATE_BACK, SCAN_RELEASE_FENCED };

struct scan_item {
	char		uuid[CODEC_UUID_LEN + 1];
	char		reqid[CODEC_REQUEST_ID_MAX + 1];
	enum scan_act	act;
};

/* The periodic offload's bounds per scan (once a second): at 100,000
 * SHELVED servers a full round of the walk takes about 400 s, far inside
 * Nova's shelved_poll_interval (3600 s). */
#define OFFLOAD_READS	256	/* SHELVED records read */
#define OFFLOAD_STARTS	32	/* offloads started */

struct scan {
	struct recon		*r;
	struct store_txn	*txn;
	int64_t			 now, mono;
	struct scan_item	*v;
	size_t			 n, cap;
	uint64_t		 timed_out, local_deletes;
	/* SHELVED servers whose shelved_offload_time passed */
	char			 off[OFFLOAD_STARTS][CODEC_UUID_LEN + 1];
	size_t			 noff, off_reads, off_started;
};

static void
scan_add(struct scan *s, const struct rec_instance *i, enum scan_act act)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct scan_item *nv = realloc(s->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return;	/* next scan */
		s->v = nv;
		s->cap = ncap;
	}
	snprintf(s->v[s->n].uuid, sizeof(s->v[s->n].uuid), "%s", i->uuid);
	snprintf(s->v[s->n].reqid, sizeof(s->v[s->n].reqid), "%s",
	    i->task_request_id ? i->task_request_id : "");
	s->v[s->n].act = act;
	s->n++;
}

static int
scan_cb(const char *uuid, void *arg)
{
	struct scan *s = arg;
	struct recon *r = s->r;
	struct rec_instance i;
	const struct recon_task *t;
	int up;

	if (compute_db_instance_get(s->txn, uuid, &i) == -1)
		return 0;
	t = recon_task_find(i.task_state);
	up = i.host != NULL && scheduler_host_up(r->sched, i.host);
	if (t == NULL) {
		scan_add(s, &i, SCAN_UNKNOWN);
	} else if (t->cmd == RECON_DELETE) {
		if (!up)
			scan_add(s, &i, SCAN_LOCAL_DELETE);
		else if (sent_due(r, i.uuid, i.task_request_id, s->mono))
			send_for(r, &i, s->mono, NULL, NULL);
	} else if (release_pending(&i, t)) {
		/* Waiting for the host the guest leaves to let go of the
		 * volumes: the deadline does not end it (a guest on each
		 * host would both write them); the delete goes again while
		 * that host is up, and its first answer after it comes back
		 * settles it. */
		if (scheduler_host_up(r->sched, i.resize_release) &&
		    sent_due(r, i.uuid, i.task_request_id, s->mono))
			send_for(r, &i, s->mono, NULL, NULL);
		/* Unless the operator forced that host down: by Nova's
		 * contract a forced-down host is fenced (as for an
		 * evacuation), and its copy is destroyed before it ensures
		 * anything when it returns (the hello's fencing). */
		else if (strcmp(scheduler_host_status(r->sched,
		    i.resize_release), "DOWN") == 0)
			scan_add(s, &i, SCAN_RELEASE_FENCED);
	} else if (t->cmd == RECON_MIGRATE) {
		/* Settled by the answer or the reports; without either, by
		 * the clock: the source down past the deadline, or twice the
		 * deadline gone (never left migrating). */
		if (s->now > i.task_deadline && (!up || s->now >
		    2 * i.task_deadline - i.task_started_at))
			scan_add(s, &i, SCAN_MIGRATE_BACK);
		else if (s->now <= i.task_deadline && up &&
		    sent_due(r, i.uuid, i.task_request_id, s->mono))
			send_for(r, &i, s->mono, NULL, NULL);
	} else if (s->now > i.task_deadline) {
		scan_add(s, &i, SCAN_TIMEOUT);
	} else if (up && sent_due(r, i.uuid, i.task_request_id, s->mono)) {
		send_for(r, &i, s->mono, NULL, NULL);
	}
	codec_clear(&schema_rec_instance, &i);
	return 0;
}

/* Whether i, as stored, is SHELVED without a task on a host for longer
 * than shelved_offload_time (> 0) at now. A fault since the shelve (a
 * failed offload: shelve_fail()) starts the wait again, so a host that
 * refuses is asked once per that time, not once a scan. */
static bool
offload_due(const struct recon *r, const struct rec_instance *i, int64_t now)
{
	int64_t since = i->shelved_at;

	if (i->has_fault && i->fault.created > since)
		since = i->fault.created;
	return r->shelved_offload_time > 0 && i->task_state == NULL &&
	    strcmp(i->vm_state, VM_SHELVED) == 0 && i->has_shelved_at &&
	    i->host != NULL && *i->host != '\0' && now - since >=
	    (int64_t)r->shelved_offload_time * 1000;
}

static int
offload_cb(const struct rec_instance *i, void *arg)
{
	struct scan *s = arg;
	struct recon *r = s->r;

	r->off_created = i->created_at;
	snprintf(r->off_uuid, sizeof(r->off_uuid), "%s", i->uuid);
	r->off_resume = true;
	/* an index: the record decides; a host that is down is not asked
	 * (Nova's periodic task runs on the host itself) */
	if (offload_due(r, i, s->now) && scheduler_host_up(r->sched, i->host))
		snprintf(s->off[s->noff++], sizeof(s->off[0]), "%s", i->uuid);
	return ++s->off_reads == OFFLOAD_READS || s->noff == OFFLOAD_STARTS ?
	    1 : 0;
}

/*
 * Nova's _poll_shelved_instances, level-triggered: the SHELVED servers
 * (instances_by_state, all projects) whose shelved_offload_time passed
 * and that have no task get shelveOffload's task in the scan's write.
 * Bounded: at most OFFLOAD_READS records a scan, resuming after the last
 * one read (off_created/off_uuid) and from the newest again once the walk
 * ends, so every SHELVED server is looked at within a round.
 */
static void
offload_scan(struct scan *s)
{
	static const char *const shelved[] = { VM_SHELVED };
	struct recon *r = s->r;
	struct rec_instance after;

	if (r->shelved_offload_time <= 0)
		return;
	memset(&after, 0, sizeof(after));
	after.created_at = r->off_created;
	snprintf(after.uuid, sizeof(after.uuid), "%s", r->off_uuid);
	s->off_reads = 0;
	if (compute_db_instance_each_state(s->txn, NULL, shelved, 1, NULL, 0,
	    r->off_resume ? &after : NULL, offload_cb, s) == -1) {
		log_err("shelved offload scan");
		r->off_resume = false;
		return;
	}
	/* the walk's end: the next scan starts from the newest again */
	if (s->off_reads < OFFLOAD_READS && s->noff < OFFLOAD_STARTS)
		r->off_resume = false;
}

/* In the scan's write: shelveOffload's task, as compute_shelve.c starts
 * it, on each still-due server of s->off. Nova's periodic task runs in an
 * admin context without a user: the action's user_id is "" (the record
 * needs a string), its project the instance's. */
static int
offload_start(struct scan *s, struct store_txn *txn)
{
	s->off_started = 0;
	for (size_t k = 0; k < s->noff; k++) {
		struct rec_instance i, old;
		char u[37], reqid[CODEC_REQUEST_ID_MAX + 1];
		int rc = 0;

		if (compute_db_instance_get(txn, s->off[k], &old) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		if (!offload_due(s->r, &old, s->now)) {
			s->off[k][0] = '\0';
			codec_clear(&schema_rec_instance, &old);
			continue;
		}
		if (compute_db_instance_copy(&old, &i) == -1) {
			codec_clear(&schema_rec_instance, &old);
			return -1;
		}
		db_uuid(u);
		snprintf(reqid, sizeof(reqid), "req-%s", u);
		log_info("instance %s: shelved on %s for more than %d s: "
		    "offloading", i.uuid, i.host, s->r->shelved_offload_time);
		if (recon_task_begin_as(s->r, txn, &i, "shelving_offloading",
		    "shelveOffload", reqid, "", i.project_id, s->now) == -1 ||
		    compute_db_instance_put(txn, &i, &old) == -1)
			rc = -1;
		else
			s->off_started++;
		codec_clear(&schema_rec_instance, &i);
		codec_clear(&schema_rec_instance, &old);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
apply_scan(struct store_txn *txn, void *arg)
{
	struct scan *s = arg;

	s->timed_out = s->local_deletes = 0;
	s->r->nsnap = 0;
	for (size_t k = 0; k < s->n; k++) {
		struct scan_item *it = &s->v[k];
		struct rec_instance i, old;
		char why[1024];
		int rc = 0;

		if (compute_db_instance_get(txn, it->uuid, &old) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		/* Still the same task? A reply may have ended it. */
		if (old.task_state == NULL || strcmp(it->reqid,
		    old.task_request_id ? old.task_request_id : "") != 0 ||
		    compute_db_instance_get(txn, it->uuid, &i) == -1) {
			codec_clear(&schema_rec_instance, &old);
			continue;
		}
		if (it->act == SCAN_LOCAL_DELETE) {
			struct rec_instance_tombstone tb = { 0 };

			snprintf(tb.uuid, sizeof(tb.uuid), "%s", i.uuid);
			tb.host = i.host;
			tb.generation = i.generation;
			tb.deleted_at = s->now;
			log_warnx("host %s of instance %s is down: deleted "
			    "locally; its guest will be destroyed when the "
			    "host reports it", i.host, i.uuid);
			if (compute_db_tombstone_put(txn, &tb) == -1 ||
			    finish_delete(s->r, txn, &i) == -1)
				rc = -1;
			s->local_deletes++;
		} else if (it->act == SCAN_RELEASE_FENCED) {
			if (i.resize_release == NULL) {
				codec_clear(&schema_rec_instance, &i);
				codec_clear(&schema_rec_instance, &old);
				continue;
			}
			log_warnx("instance %s: %s, which its revert waited "
			    "for, is forced down (fenced): its copy is taken "
			    "as gone; %s starts it", i.uuid, i.resize_release,
			    i.host ? i.host : "-");
			free(i.resize_release);
			i.resize_release = NULL;
			i.task_deadline = s->now + s->r->build_ms;
			i.updated_at = s->now;
			if (compute_db_instance_put(txn, &i, &old) == -1)
				rc = -1;
		} else if (it->act == SCAN_MIGRATE_BACK) {
			snprintf(why, sizeof(why), "Timed out after %lld s "
			    "waiting for the live migration to %s%s",
			    (long long)((s->now - i.task_started_at) / 1000),
			    i.migrate_host ? i.migrate_host : "-", i.host &&
			    !scheduler_host_up(s->r->sched, i.host) ?
			    " (the source host is down)" : "");
			if (migrate_end(s->r, txn, &i, 0, why, s->now) == -1 ||
			    compute_db_instance_put(txn, &i, &old) == -1)
				rc = -1;
			s->timed_out++;
		} else {
			const struct recon_task *t = recon_task_find(
			    i.task_state);

			if (t == NULL)
				snprintf(why, sizeof(why), "Unknown task state "
				    "%s cleared", i.task_state);
			else
				snprintf(why, sizeof(why), "Timed out after %lld "
				    "s waiting for host %s to finish %s%s",
				    (long long)((i.task_deadline -
				    i.task_started_at) / 1000), i.host ? i.host :
				    "-", t->task_state, i.host &&
				    !scheduler_host_up(s->r->sched, i.host) ?
				    " (the host is down)" : "");
			log_warnx("instance %s: %s", i.uuid, why);
			if (t != NULL && (xhost_task(t->task_state) ||
			    shelve_task(t->task_state))) {
				if ((xhost_task(t->task_state) ? xhost_fail(s->r,
				    txn, &i, why, s->now) : shelve_fail(s->r,
				    txn, &i, why, s->now)) == -1 ||
				    compute_db_instance_put(txn, &i, &old) == -1)
					rc = -1;
				s->timed_out++;
				codec_clear(&schema_rec_instance, &i);
				codec_clear(&schema_rec_instance, &old);
				if (rc == -1)
					return -1;
				continue;
			}
			if (t != NULL && strncmp(t->task_state, "resize_", 7) ==
			    0 && compute_db_migration_status(txn,
			    i.has_migration_id ? i.migration_id : 0, "error",
			    s->now) == -1)
				rc = -1;
			if (t != NULL && t->cmd == RECON_SNAPSHOT) {
				if (end_snapshot(s->r, txn, &i, 0, why, s->now) ==
				    -1 || compute_db_instance_put(txn, &i, &old) ==
				    -1)
					rc = -1;
			} else if (codec_str_set(&i.vm_state, VM_ERROR) == -1 ||
			    set_fault(&i, 500, why, s->now) == -1 ||
			    end_task(txn, &i, 0, why, s->now) == -1 ||
			    compute_db_instance_put(txn, &i, &old) == -1)
				rc = -1;
			s->timed_out++;
		}
		codec_clear(&schema_rec_instance, &i);
		codec_clear(&schema_rec_instance, &old);
		if (rc == -1)
			return -1;
	}
	return offload_start(s, txn);
}

/* After the scan's commit: the offloads it started go out at once. */
static void
offload_dispatch(struct recon *r, struct scan *s)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;

	if (store_read_begin(r->store, &txn) == -1) {
		log_err("offload dispatch");	/* the next scan sends them */
		return;
	}
	for (size_t k = 0; k < s->noff; k++) {
		if (s->off[k][0] == '\0' ||
		    compute_db_instance_get(txn, s->off[k], &i) == -1)
			continue;
		if (i.task_state != NULL &&
		    strcmp(i.task_state, "shelving_offloading") == 0)
			send_for(r, &i, s->mono, NULL, NULL);
		codec_clear(&schema_rec_instance, &i);
	}
	store_txn_end(&txn);
}

void
recon_scan(struct recon *r, int64_t now)
{
	struct scan s = { .r = r, .now = now, .mono = clock_mono_ms() };

	/* Passwords whose task's deadline passed unanswered. */
	pthread_mutex_lock(&r->lock);
	for (unsigned b = 0; b < SENT_BUCKETS && r->npass > 0; b++)
		pass_prune(r, b, NULL, now);
	pthread_mutex_unlock(&r->lock);

	if (scheduler_refresh_changed(r->sched) == -1)
		log_err("refreshing the scheduler");
	if (store_read_begin(r->store, &s.txn) == -1) {
		log_err("task scan");
		return;
	}
	if (compute_db_task_each(s.txn, scan_cb, &s) == -1)
		log_err("task scan");
	offload_scan(&s);
	store_txn_end(&s.txn);
	if (s.n > 0 || s.noff > 0) {
		r->net_released = 0;
		r->vol_settled = 0;
		if (store_write(r->store, apply_scan, &s) == -1) {
			log_err("task deadlines");
		} else {
			net_changed(r);	/* local deletes released ports */
			snap_drain(r);
			for (size_t k = 0; k < s.n; k++)
				sent_forget(r, s.v[k].uuid);
			if (s.off_started > 0)
				offload_dispatch(r, &s);
			pthread_mutex_lock(&r->lock);
			r->st.timed_out += s.timed_out;
			r->st.failed += s.timed_out;
			r->st.local_deletes += s.local_deletes;
			pthread_mutex_unlock(&r->lock);
		}
	}
	free(s.v);
}

/* ---------------------------------------------------------------- audit */

struct tally {
	char		 key[256];
	int64_t		 a, b, c, d;	/* instances/vcpus, cores/mem, ram/disk,
					   -/instances */
	struct tally	*next;
};

struct audit {
	struct tally	*projects, *hosts;
	int		 fixed;
	int		 err;
};

static struct tally *
tally_of(struct tally **list, const char *key, int *err)
{
	struct tally *t;

	for (t = *list; t; t = t->next)
		if (strcmp(t->key, key) == 0)
			return t;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*err = 1;
		return NULL;
	}
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->next = *list;
	*list = t;
	return t;
}

static int
audit_inst(const struct rec_instance *i, void *arg)
{
	struct audit *a = arg;
	struct tally *t;
	const char *claim, *src;

	if ((t = tally_of(&a->projects, i->project_id, &a->err)) != NULL) {
		t->a++;
		t->b += i->flavor.vcpus;
		t->c += (int64_t)i->flavor.ram;
	}
	/* A resize claims the new flavor on its target (resize_host). */
	claim = i->has_old_flavor && i->resize_host && *i->resize_host ?
	    i->resize_host : i->host;
	if (claim && *claim &&
	    (t = tally_of(&a->hosts, claim, &a->err)) != NULL) {
		t->a += i->flavor.vcpus;
		t->b += (int64_t)i->flavor.ram;
		t->c += (int64_t)compute_db_claim_disk_gb(i, &i->flavor);
		t->d++;
	}
	/* A resize holds the source's claim of the old flavor too. */
	src = i->resize_source && *i->resize_source ? i->resize_source :
	    i->host;
	if (i->has_old_flavor && src && *src &&
	    (t = tally_of(&a->hosts, src, &a->err)) != NULL) {
		t->a += i->old_flavor.vcpus;
		t->b += (int64_t)i->old_flavor.ram;
		t->c += (int64_t)compute_db_claim_disk_gb(i, &i->old_flavor);
		t->d++;
	}
	/* A live migration holds the target's claim too. */
	if (i->migrate_host && *i->migrate_host &&
	    (t = tally_of(&a->hosts, i->migrate_host, &a->err)) != NULL) {
		t->a += i->flavor.vcpus;
		t->b += (int64_t)i->flavor.ram;
		t->c += (int64_t)compute_db_claim_disk_gb(i, &i->flavor);
		t->d++;
	}
	return a->err ? -1 : 0;
}

/* Records that exist without instances count as zero. */
static int
audit_usage_zero(const char *project, const struct rec_compute_usage *u,
    void *arg)
{
	struct audit *a = arg;

	return tally_of(&a->projects, project, &a->err) ? 0 : -1;
}

static int
audit_host_zero(const char *host, const struct rec_host_usage *u, void *arg)
{
	struct audit *a = arg;

	return tally_of(&a->hosts, host, &a->err) ? 0 : -1;
}

static int
audit_fn(struct store_txn *txn, void *arg)
{
	struct audit *a = arg;
	struct tally *t;

	if (compute_db_instance_each(txn, audit_inst, a) == -1 ||
	    compute_db_usage_each(txn, audit_usage_zero, a) == -1 ||
	    compute_db_host_usage_each(txn, audit_host_zero, a) == -1) {
		if (a->err)
			err_set(TS_ENOMEM, "recon: out of memory");
		return -1;
	}
	for (t = a->projects; t; t = t->next) {
		struct rec_compute_usage u;

		if (compute_db_usage_get(txn, t->key, &u) == -1)
			return -1;
		if (u.instances == t->a && u.cores == t->b && u.ram == t->c)
			continue;
		log_warnx("usage of project %s was %lld instances, %lld cores, "
		    "%lld MiB; its instances hold %lld, %lld, %lld: corrected",
		    t->key, (long long)u.instances, (long long)u.cores,
		    (long long)u.ram, (long long)t->a, (long long)t->b,
		    (long long)t->c);
		u.instances = t->a;
		u.cores = t->b;
		u.ram = t->c;
		if (compute_db_usage_put(txn, t->key, &u) == -1)
			return -1;
		a->fixed++;
	}
	for (t = a->hosts; t; t = t->next) {
		struct rec_host_usage h;

		if (compute_db_host_usage_get(txn, t->key, &h) == -1)
			return -1;
		if ((int64_t)h.vcpus == t->a && (int64_t)h.memory_mb == t->b &&
		    (int64_t)h.disk_gb == t->c && (int64_t)h.instances == t->d)
			continue;
		log_warnx("claims on host %s were %llu vCPUs, %llu MiB, %llu "
		    "GiB; its instances hold %lld, %lld, %lld: corrected",
		    t->key, (unsigned long long)h.vcpus,
		    (unsigned long long)h.memory_mb,
		    (unsigned long long)h.disk_gb, (long long)t->a,
		    (long long)t->b, (long long)t->c);
		h.vcpus = (uint64_t)t->a;
		h.memory_mb = (uint64_t)t->b;
		h.disk_gb = (uint64_t)t->c;
		h.instances = (uint32_t)t->d;
		if (compute_db_host_usage_put(txn, t->key, &h) == -1)
			return -1;
		a->fixed++;
	}
	return 0;
}

int
recon_audit(struct recon *r, int *fixed)
{
	struct audit a = { NULL, NULL, 0, 0 };
	int rc = store_write(r->store, audit_fn, &a);

	for (struct tally *t; (t = a.projects) != NULL;) {
		a.projects = t->next;
		free(t);
	}
	for (struct tally *t; (t = a.hosts) != NULL;) {
		a.hosts = t->next;
		free(t);
	}
	if (fixed)
		*fixed = rc == 0 ? a.fixed : 0;
	if (rc == 0 && a.fixed == 0)
		log_info("usage audit: every project's usage and every host's "
		    "claims match the instances");
	return rc;
}

/*
 * A live migration's target answered instance_migrate_prepare: ok, the
 * command goes to the source now, with the target's paths; an error ends
 * the migration as the source's error would (the guest stays where it
 * is, the target's claim goes back). An answer to anything but the
 * instance's current migration task from its target is ignored.
 */
static void
process_prepared(struct recon *r, struct ev *e)
{
	const struct msg_instance_migrate_prepared *m = e->prepared;
	struct store_txn *txn = NULL;
	struct rec_instance i;
	int have = 0;

	memset(&i, 0, sizeof(i));
	if (store_read_begin(r->store, &txn) == -1) {
		log_err("live migration prepared");
		return;
	}
	if (compute_db_instance_get(txn, m->uuid, &i) == 0)
		have = 1;
	store_txn_end(&txn);
	if (!have || i.task_state == NULL || strcmp(i.task_state,
	    "migrating") != 0 || i.migrate_host == NULL ||
	    strcmp(i.migrate_host, e->host) != 0 || i.task_request_id == NULL ||
	    strcmp(i.task_request_id, m->in_reply_to) != 0) {
		log_info("instance %s: late live migration preparation from "
		    "%s ignored", m->uuid, e->host);
		goto out;
	}
	if (strcmp(m->result, "ok") == 0) {
		struct prep *p = calloc(1, sizeof(*p));

		if (p == NULL || (m->instances_path && (p->instances_path =
		    strdup(m->instances_path)) == NULL) || (m->cache_dir &&
		    (p->cache_dir = strdup(m->cache_dir)) == NULL)) {
			prep_free(p);
			log_warnx("recon: out of memory; the preparation of "
			    "%s is asked again", m->uuid);
			goto out;
		}
		snprintf(p->uuid, sizeof(p->uuid), "%s", m->uuid);
		snprintf(p->reqid, sizeof(p->reqid), "%s", m->in_reply_to);
		p->backing = m->has_root_backing && m->root_backing;
		prep_free(prep_take(r, m->uuid, NULL));
		prep_put(r, p);
		log_info("instance %s: %s prepared for the live migration",
		    m->uuid, e->host);
		send_for(r, &i, clock_mono_ms(), NULL, NULL);
	} else {
		struct msg_instance_state st = { 0 };
		struct ev se = { .kind = EV_STATE, .state = &st };
		struct ev *evs[1] = { &se };
		char why[1200];

		snprintf(why, sizeof(why), "the target %s could not prepare: "
		    "%s", e->host, m->fault_message ? m->fault_message : "?");
		snprintf(st.uuid, sizeof(st.uuid), "%s", m->uuid);
		snprintf(se.host, sizeof(se.host), "%s", i.host);
		st.generation = i.generation;
		st.exists = true;
		st.power_state = i.power_state;
		st.state = (char *)"running";
		st.in_reply_to = (char *)m->in_reply_to;
		st.result = (char *)"error";
		st.fault_message = why;
		process_states(r, evs, 1);
	}
out:
	codec_clear(&schema_rec_instance, &i);
}

/* ---------------------------------------------------------------- thread */

static void
ev_free(struct ev *e)
{
	if (e == NULL)
		return;
	codec_free(&schema_msg_instance_state, (void **)&e->state);
	codec_free(&schema_msg_instance_migrate_prepared,
	    (void **)&e->prepared);
	free(e->guests);
	free(e->pool);
	free(e);
}

static void
process(struct recon *r, struct ev *list)
{
	struct ev *batch[256];
	size_t n = 0;

	while (list != NULL) {
		struct ev *e = list;

		list = e->next;
		if (e->kind == EV_STATE) {
			batch[n++] = e;
			if (n < sizeof(batch) / sizeof(batch[0]) && list &&
			    list->kind == EV_STATE)
				continue;
			process_states(r, batch, n);
			for (size_t k = 0; k < n; k++)
				ev_free(batch[k]);
			n = 0;
		} else if (e->kind == EV_PREPARED) {
			process_prepared(r, e);
			ev_free(e);
		} else if (e->kind == EV_SUPERSEDED) {
			ev_free(e);
		} else {
			process_report(r, e);
			ev_free(e);
		}
	}
}

static void *
run(void *arg)
{
	struct recon *r = arg;
	int64_t next = clock_mono_ms() + 1000;

	log_set_request_id(NULL);
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct ev *list = r->head;
		uint64_t n = r->posted;
		int64_t now = clock_mono_ms();

		/* The scan first: a steady stream of events must not starve
		 * the deadlines. */
		if (now >= next) {
			pthread_mutex_unlock(&r->lock);
			recon_scan(r, db_now_ms());
			next = clock_mono_ms() + 1000;
			pthread_mutex_lock(&r->lock);
			continue;
		}
		if (list != NULL) {
			r->head = r->tail = NULL;
			r->taken = n;
			pthread_mutex_unlock(&r->lock);
			process(r, list);
			pthread_mutex_lock(&r->lock);
			r->processed = n;
			pthread_cond_broadcast(&r->done_cond);
			continue;
		} else {
			struct timespec ts;
			int64_t wait = next - now;

			clock_deadline(&ts, CLOCK_REALTIME, wait);
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Lock held. */
static void
append(struct recon *r, struct ev *e)
{
	if (r->tail)
		r->tail->next = e;
	else
		r->head = e;
	r->tail = e;
	e->seq = ++r->posted;
	pthread_cond_signal(&r->cond);
}

static void
enqueue(struct recon *r, struct ev *e)
{
	pthread_mutex_lock(&r->lock);
	append(r, e);
	pthread_mutex_unlock(&r->lock);
}

/*
 * A report goes to the back of the queue and takes the place of the
 * host's older report still there: when the recon thread lags (a pass per
 * report, heartbeats every report_interval from every host), the queue
 * holds at most one report per host instead of growing by a fleet's worth
 * every interval (a pass reads every instance of the host: at 87 guests a
 * host, on a loaded machine, the thread fell behind for good). Reports are level-triggered: the newer one
 * says all the older one did; it is queued behind the replies that came
 * between them, as the agent sent them, and keeps the older one's hello.
 */
static void
enqueue_report(struct recon *r, struct ev *e)
{
	struct calm *c;

	pthread_mutex_lock(&r->lock);
	c = calm_of(r, e->host, 0);
	if (c != NULL && c->queued != NULL && c->queued_seq > r->taken) {
		struct ev *old = c->queued;

		old->kind = EV_SUPERSEDED;
		e->hello |= old->hello;
		free(old->guests);
		free(old->pool);
		old->guests = NULL;
		old->pool = NULL;
		old->nguests = 0;
		if (c->pending > 0)	/* counted by calm_skip(), never run */
			c->pending--;
		r->st.reports_superseded++;
	}
	append(r, e);
	if (c != NULL) {
		c->queued = e;
		c->queued_seq = e->seq;
	}
	pthread_mutex_unlock(&r->lock);
}

void
recon_sync(struct recon *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->started) {
		uint64_t want = r->posted;

		while (r->processed < want && !r->stop)
			pthread_cond_wait(&r->done_cond, &r->lock);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	/* No thread: process here (tests). */
	{
		struct ev *list = r->head;

		r->head = r->tail = NULL;
		r->taken = r->posted;
		pthread_mutex_unlock(&r->lock);
		process(r, list);
		pthread_mutex_lock(&r->lock);
		r->processed = r->posted;
	}
	pthread_mutex_unlock(&r->lock);
}

struct recon *
recon_new(struct store *st, struct bus *bus, struct sched *sched,
    const struct recon_opts *o)
{
	struct recon *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		err_set(TS_ENOMEM, "recon: out of memory");
		return NULL;
	}
	r->store = st;
	r->bus = bus;
	r->sched = sched;
	snprintf(r->host, sizeof(r->host), "%s", o->controller_host);
	r->build_ms = (int64_t)(o->build_timeout > 0 ? o->build_timeout :
	    300) * 1000;
	r->action_ms = (int64_t)(o->action_timeout > 0 ? o->action_timeout :
	    120) * 1000;
	r->resend_ms = (int64_t)(o->resend_interval > 0 ? o->resend_interval :
	    5) * 1000;
	r->console_ms = (int64_t)(o->console_timeout > 0 ?
	    o->console_timeout : 10) * 1000;
	r->shelved_offload_time = o->shelved_offload_time;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_cond_init(&r->done_cond, NULL);
	return r;
}

int
recon_start(struct recon *r)
{
	int rc = pthread_create(&r->thread, NULL, run, r);

	if (rc != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "recon: thread");
		return -1;
	}
	r->started = 1;
	return 0;
}

void
recon_free(struct recon **rp)
{
	struct recon *r = *rp;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_cond_broadcast(&r->done_cond);
	pthread_mutex_unlock(&r->lock);
	if (r->started)
		pthread_join(r->thread, NULL);
	while (r->head) {
		struct ev *e = r->head;

		r->head = e->next;
		ev_free(e);
	}
	for (size_t b = 0; b < SENT_BUCKETS; b++) {
		while (r->sent[b]) {
			struct sent *s = r->sent[b];

			r->sent[b] = s->next;
			free(s);
		}
		while (r->pass[b]) {
			struct pass *p = r->pass[b];

			r->pass[b] = p->next;
			pass_free(p);
		}
	}
	while (r->preps) {
		struct prep *p = r->preps;

		r->preps = p->next;
		prep_free(p);
	}
	while (r->landed) {
		struct landed *l = r->landed;

		r->landed = l->next;
		free(l);
	}
	for (size_t b = 0; b < CALM_BUCKETS; b++)
		while (r->calm[b]) {
			struct calm *c = r->calm[b];

			r->calm[b] = c->next;
			free(c);
		}
	free(r->snap_out);
	pthread_cond_destroy(&r->done_cond);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	*rp = NULL;
}

void
recon_stats(struct recon *r, struct recon_stats *s)
{
	pthread_mutex_lock(&r->lock);
	*s = r->st;
	s->queued = r->posted - r->taken;
	s->passes = r->npass;
	pthread_mutex_unlock(&r->lock);
}

/* ------------------------------------------------------------ bus side */

/* The waiter for a reply; lock held. NULL (logged) if none or if the
 * answer comes from another host than the one asked. */
static struct waiter *
waiter_for(struct recon *r, const char *host, const char *reqid,
    const struct schema_type *type)
{
	struct waiter *w;

	for (w = r->waiters; w; w = w->next) {
		if (strcmp(w->reqid, reqid) != 0 || w->want != type)
			continue;
		if (strcmp(w->host, host) != 0) {
			log_warnx("%s from %s, asked of %s: ignored",
			    type->name, host, w->host);
			return NULL;
		}
		return w->done ? NULL : w;
	}
	return NULL;
}

static void
console_reply(struct recon *r, const char *host,
    struct msg_console_output *m)
{
	struct waiter *w;

	pthread_mutex_lock(&r->lock);
	if ((w = waiter_for(r, host, m->in_reply_to,
	    &schema_msg_console_output)) != NULL) {
		w->done = 1;
		w->found = m->found;
		w->out = m->output;	/* taken */
		m->output = NULL;
		pthread_cond_broadcast(&r->done_cond);
	}
	pthread_mutex_unlock(&r->lock);
}

/* The whole message is taken (env->body), freed by recon_guest_stats()'s
 * caller or here when nobody waits any more. */
static void
stats_reply(struct recon *r, const char *host, struct codec_envelope *env)
{
	struct msg_guest_stats *m = env->body;
	struct waiter *w;

	pthread_mutex_lock(&r->lock);
	if ((w = waiter_for(r, host, m->in_reply_to,
	    &schema_msg_guest_stats)) != NULL) {
		w->done = 1;
		w->found = m->found;
		w->stats = m;
		env->body = NULL;
		pthread_cond_broadcast(&r->done_cond);
	}
	pthread_mutex_unlock(&r->lock);
}

static void
uptime_reply(struct recon *r, const char *host, struct msg_host_uptime *m)
{
	struct waiter *w;

	pthread_mutex_lock(&r->lock);
	if ((w = waiter_for(r, host, m->in_reply_to,
	    &schema_msg_host_uptime)) != NULL) {
		w->done = 1;
		w->found = 1;
		w->up.uptime_s = m->uptime_s;
		for (size_t k = 0; k < 3 && k < m->load_milli.n; k++)
			w->up.load_milli[k] = m->load_milli.items[k];
		w->up.users = m->users;
		w->up.now = m->now;
		pthread_cond_broadcast(&r->done_cond);
	}
	pthread_mutex_unlock(&r->lock);
}

/*
 * A host's instance directory prepared for a live migration that never
 * arrived (instance_migrate_leftover): garbage unless the controller
 * places the instance on that host or is moving it there (a live
 * migration's, a resize's or a cold migration's target). Read in the
 * caller's thread; the agent checks the rest (no domain there, the
 * preparation older than the answer's minimum age).
 */
#define LEFTOVER_MIN_AGE_MS	10000

static void
leftover(struct recon *r, const char *host,
    const struct msg_instance_migrate_leftover *m)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	int have, keep = 0;

	if (store_read_begin(r->store, &txn) == -1) {
		log_err("leftover report");
		return;
	}
	memset(&i, 0, sizeof(i));
	have = compute_db_instance_get(txn, m->uuid, &i) == 0;
	store_txn_end(&txn);
	if (have)
		keep = (i.host && strcmp(i.host, host) == 0) ||
		    (i.migrate_host && strcmp(i.migrate_host, host) == 0) ||
		    (i.resize_host && strcmp(i.resize_host, host) == 0);
	codec_clear(&schema_rec_instance, &i);
	if (keep) {
		log_debug("instance %s: what %s prepared is its own", m->uuid,
		    host);
		return;
	}
	migrate_cleanup(r, host, m->uuid, LEFTOVER_MIN_AGE_MS);
}

int
recon_agent_msg(struct recon *r, const char *host, struct codec_envelope *env)
{
	struct ev *e;

	if (env->type == &schema_msg_instance_migrate_leftover) {
		leftover(r, host, env->body);
		return 1;
	}

	if (env->type == &schema_msg_console_output) {
		console_reply(r, host, env->body);
		return 1;
	}
	if (env->type == &schema_msg_host_uptime) {
		uptime_reply(r, host, env->body);
		return 1;
	}
	if (env->type == &schema_msg_guest_stats) {
		stats_reply(r, host, env);
		return 1;
	}
	if (env->type == &schema_msg_instance_migrate_prepared) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			log_warnx("recon: out of memory; %s dropped",
			    env->type->name);
			return 1;
		}
		e->kind = EV_PREPARED;
		snprintf(e->host, sizeof(e->host), "%s", host);
		e->prepared = env->body;
		env->body = NULL;
		enqueue(r, e);
		return 1;
	}
	if (env->type != &schema_msg_instance_state)
		return 0;
	STAT(r, replies);
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warnx("recon: out of memory; instance_state dropped");
		return 1;
	}
	e->kind = EV_STATE;
	snprintf(e->host, sizeof(e->host), "%s", host);
	e->state = env->body;
	env->body = NULL;
	enqueue(r, e);
	return 1;
}

void
recon_host_report(struct recon *r, const char *host,
    const struct sch_guest *gs, size_t n, int hello)
{
	struct ev *e;
	uint64_t sum;
	size_t pool = 0;

	/* At once, not through the recon thread's batch: the agent is alive
	 * now, whatever the store manages to record of it. */
	scheduler_seen(r->sched, host, db_now_ms());
	sum = report_sum(gs, n);
	if (calm_skip(r, host, sum, hello))
		return;
	for (size_t k = 0; k < n; k++) {
		if (gs[k].macs.items != NULL && gs[k].macs.n <= 32)
			pool += gs[k].macs.n * 18;
		if (gs[k].volumes.items != NULL && gs[k].volumes.n <= 16)
			pool += gs[k].volumes.n * (CODEC_UUID_LEN + 1);
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->guests = calloc(n ? n : 1,
	    sizeof(*e->guests))) == NULL || (pool > 0 &&
	    (e->pool = malloc(pool)) == NULL)) {
		if (e != NULL)
			free(e->guests);
		free(e);
		calm_drop(r, host);
		log_warnx("recon: out of memory; report of %s dropped", host);
		return;
	}
	pool = 0;
	e->kind = EV_REPORT;
	e->hello = hello;
	e->sum = sum;
	snprintf(e->host, sizeof(e->host), "%s", host);
	for (size_t k = 0; k < n; k++) {
		snprintf(e->guests[k].uuid, sizeof(e->guests[k].uuid), "%s",
		    gs[k].uuid);
		e->guests[k].power = gs[k].power_state;
		e->guests[k].generation = gs[k].has_generation ?
		    gs[k].generation : 0;
		if (gs[k].macs.items != NULL && gs[k].macs.n <= 32) {
			e->guests[k].has_macs = 1;
			e->guests[k].nmacs = gs[k].macs.n;
			if (gs[k].macs.n > 0)	/* (no pool: no NULL + 0) */
				e->guests[k].macs = (char (*)[18])
				    (e->pool + pool);
			pool += gs[k].macs.n * 18;
			for (size_t m = 0; m < gs[k].macs.n; m++)
				snprintf(e->guests[k].macs[m], 18, "%s",
				    gs[k].macs.items[m]);
		}
		if (gs[k].volumes.items != NULL && gs[k].volumes.n <= 16) {
			e->guests[k].has_vols = 1;
			e->guests[k].nvols = gs[k].volumes.n;
			if (gs[k].volumes.n > 0)
				e->guests[k].vols = (char (*)
				    [CODEC_UUID_LEN + 1])(e->pool + pool);
			pool += gs[k].volumes.n * (CODEC_UUID_LEN + 1);
			for (size_t m = 0; m < gs[k].volumes.n; m++)
				snprintf(e->guests[k].vols[m],
				    sizeof(e->guests[k].vols[m]), "%s",
				    gs[k].volumes.items[m]);
		}
		e->guests[k].ours = strncmp(gs[k].name, NAME_PREFIX,
		    strlen(NAME_PREFIX)) == 0;
	}
	e->nguests = n;
	if (n > 1)
		qsort(e->guests, n, sizeof(*e->guests), cmp_rguest);
	enqueue_report(r, e);
}

/* Post a question to host and wait for the waiter's answer. */
static int
ask(struct recon *r, const char *host, struct waiter *w,
    const struct schema_type *qtype, const void *q)
{
	struct waiter **pp;
	struct timespec ts;
	int rc = 0;

	if (!scheduler_host_up(r->sched, host)) {
		err_set(TS_EUNAVAILABLE, "Compute host %s is not available",
		    host);
		return -1;
	}
	new_reqid(w->reqid);
	snprintf(w->host, sizeof(w->host), "%s", host);
	pthread_mutex_lock(&r->lock);
	w->next = r->waiters;
	r->waiters = w;
	pthread_mutex_unlock(&r->lock);
	if (post(r, host, qtype, q, w->reqid) == -1)
		rc = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += r->console_ms / 1000;
	pthread_mutex_lock(&r->lock);
	while (rc == 0 && !w->done && !r->stop)
		if (pthread_cond_timedwait(&r->done_cond, &r->lock, &ts) ==
		    ETIMEDOUT)
			break;
	for (pp = &r->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&r->lock);
	if (rc == -1)
		return -1;
	if (!w->done) {
		err_set(TS_ETIMEOUT, "Compute host %s did not answer in time",
		    host);
		return -1;
	}
	return 0;
}

int
recon_console(struct recon *r, const char *uuid, const char *host,
    uint32_t max_bytes, char **out)
{
	struct msg_console_get m = { 0 };
	struct waiter w = { .want = &schema_msg_console_output };

	*out = NULL;
	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.max_bytes = max_bytes;
	if (ask(r, host, &w, &schema_msg_console_get, &m) == -1)
		return -1;
	if (!w.found) {
		free(w.out);
		err_set(TS_ENOT_FOUND, "Guest of instance %s not found on %s",
		    uuid, host);
		return -1;
	}
	*out = w.out;
	return 0;
}

int
recon_guest_stats(struct recon *r, const char *uuid, const char *host,
    struct msg_guest_stats **out)
{
	struct msg_guest_stats_get m = { 0 };
	struct waiter w = { .want = &schema_msg_guest_stats };

	*out = NULL;
	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	if (ask(r, host, &w, &schema_msg_guest_stats_get, &m) == -1)
		return -1;
	if (!w.found) {
		codec_free(&schema_msg_guest_stats, (void **)&w.stats);
		err_set(TS_ENOT_FOUND, "Guest of instance %s not found on %s",
		    uuid, host);
		return -1;
	}
	*out = w.stats;
	return 0;
}

int
recon_host_uptime(struct recon *r, const char *host, struct recon_uptime *out)
{
	struct msg_host_uptime_get m = { 0 };
	struct waiter w = { .want = &schema_msg_host_uptime };

	m.host = (char *)host;
	if (ask(r, host, &w, &schema_msg_host_uptime_get, &m) == -1)
		return -1;
	*out = w.up;
	return 0;
}
