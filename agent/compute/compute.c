/* compute: the agent's compute command handler; see compute.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utmpx.h>

#include "hash.h"
#include "clock.h"
#include "codec.h"
#include "compute/compute.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "uuid.h"
#include "virt/driver.h"
#include "virt/gueststats.h"

#define GEN_MAX		65536	/* instances whose generation is remembered */
#define MAX_VCPUS	1024
#define MAX_MEMORY_MB	(16ULL << 20)	/* 16 TiB */
#define MAX_DISK_GB	(1ULL << 20)	/* 1 PiB */

/*
 * A bounded string-keyed table with first-in first-out eviction: request
 * ids (value: the reply sent) and instance generations. Chained hashing;
 * the ring remembers insertion order for eviction.
 */
/* Dedup keys are "<uuid>/<request id>": one API request may carry
 * commands for several instances (multi-create). */
#define KEY_MAX		(CODEC_UUID_LEN + 1 + CODEC_REQUEST_ID_MAX)

struct ent {
	char		 key[KEY_MAX + 1];
	struct ent	*next;		/* hash chain */
	int		 done;		/* reqid: reply known */
	/* reqid: a delete that failed, or a build (ensure) that failed
	 * because the host could not reach libvirt (TS_EUNAVAILABLE); a
	 * resend runs it again (the controller retries these under their
	 * request id, controller/compute/recon.c) instead of being answered
	 * the failure again, for ever. */
	int		 rerun;
	uint8_t		*reply;		/* reqid: encoded reply, owned */
	size_t		 rlen;
	uint64_t	 gen;		/* generation table */
};

struct table {
	struct ent	**buckets;
	size_t		  nbuckets;
	struct ent	**ring;		/* insertion order */
	size_t		  cap, head, n;
};

struct job {
	struct job			*next;
	const struct schema_type	*type;
	void				*body;		/* owned */
	char				 reqid[CODEC_REQUEST_ID_MAX + 1];
	char				 uuid[CODEC_UUID_LEN + 1];
	char				 key[KEY_MAX + 1];	/* dedup */
	int				 failed;	/* reply was not "ok" */
	int				 stale;
	enum ts_errcode			 code;		/* failed: the error's */
};

struct compute {
	struct driver		*drv;
	int			 own_drv;
	char			 unavailable[512];
	char			 host[256];
	compute_send_fn		 send;
	void			*send_arg;
	int			 orphan_destroy;
	char			 vnc_host[65];	/* "": VNC off */
	size_t			 max_queue;
	int64_t			 leftovers_at;	/* event loop only: last scan */
	/* Set before the first command (compute_set_guest_hooks()). */
	compute_spec_fn		 on_spec;
	compute_gone_fn		 on_gone;
	void			*hook_arg;
	compute_devices_fn	 on_devices;	/* compute_set_devices_hook() */
	void			*devices_arg;

	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* work queued / job finished */
	struct job		*head, *tail;
	size_t			 nqueued;
	char			(*busy)[CODEC_UUID_LEN + 1]; /* per worker */
	int			 nworkers;
	int			 running;	/* jobs being executed */
	int			 stop;
	pthread_t		*threads;
	struct table		 reqs;
	struct table		 gens;
	struct compute_stats	 st;
};

static int
table_init(struct table *t, size_t cap)
{
	t->nbuckets = cap;
	t->cap = cap;
	t->buckets = calloc(cap, sizeof(*t->buckets));
	t->ring = calloc(cap, sizeof(*t->ring));
	if (t->buckets == NULL || t->ring == NULL) {
		err_set(TS_ENOMEM, "compute: out of memory");
		return -1;
	}
	return 0;
}

static void
ent_unlink(struct table *t, struct ent *e)
{
	struct ent **pp = &t->buckets[hash_fnv64(e->key) % t->nbuckets];

	for (; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			return;
		}
}

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct ent *e = t->ring[(t->head + i) % t->cap];

		free(e->reply);
		free(e);
	}
	free(t->buckets);
	free(t->ring);
	memset(t, 0, sizeof(*t));
}

static struct ent *
table_find(struct table *t, const char *key)
{
	struct ent *e = t->buckets[hash_fnv64(key) % t->nbuckets];

	for (; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Adds key (absent); the oldest entry goes when full. NULL on ENOMEM. */
static struct ent *
table_add(struct table *t, const char *key)
{
	struct ent *e;
	size_t b;

	if (t->n == t->cap) {
		struct ent *old = t->ring[t->head];

		ent_unlink(t, old);
		free(old->reply);
		free(old);
		t->head = (t->head + 1) % t->cap;
		t->n--;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->key, sizeof(e->key), "%s", key);
	b = hash_fnv64(key) % t->nbuckets;
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->ring[(t->head + t->n) % t->cap] = e;
	t->n++;
	return e;
}

/* ----------------------------------------------------------- replies */

static const char *
power_word(enum virt_power p)
{
	switch (p) {
	case VIRT_POWER_RUNNING:	return "running";
	case VIRT_POWER_PAUSED:		return "paused";
	case VIRT_POWER_SHUTDOWN:	return "shutoff";
	case VIRT_POWER_CRASHED:	return "crashed";
	case VIRT_POWER_SUSPENDED:	return "suspended";
	default:			return "unknown";
	}
}

/* Encodes and sends a reply; returns the encoded bytes (owned) for the
 * dedup cache, NULL if encoding failed (logged). */
static uint8_t *
send_reply(struct compute *c, const struct schema_type *type,
    const void *body, const char *reqid, size_t *len)
{
	struct buf b = { 0 };

	*len = 0;
	if (codec_envelope_encode(type, body, reqid, c->host, &b) == -1) {
		log_err("encoding reply");
		buf_free(&b);
		return NULL;
	}
	if (c->send(b.data, b.len, c->send_arg) == -1)
		log_warnx("reply %s %s: %s", type->name, reqid, err_msg());
	*len = b.len;
	return b.data;
}

/*
 * The reply to an instance command: the guest's state as it is now, plus
 * the outcome. result "ok" / "error" / "stale"; on "error" and "stale"
 * the recorded error becomes the fault.
 */
static uint8_t *
state_reply_(struct compute *c, const char *uuid, const char *reqid,
    const char *result, size_t *len)
{
	struct msg_instance_state m = { 0 };
	struct driver_guest g;
	char vols[VIRT_VOLUMES_MAX][CODEC_UUID_LEN + 1];
	char *vp[VIRT_VOLUMES_MAX];
	size_t nv;
	unsigned port;
	char msg[1024];
	enum ts_errcode code = err_code();

	snprintf(msg, sizeof(msg), "%s", err_msg());
	snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
	m.in_reply_to = (char *)reqid;
	m.result = (char *)result;
	if (strcmp(result, "ok") != 0) {
		m.has_fault_code = true;
		m.fault_code = (uint32_t)code;
		m.fault_message = msg;
	}
	if (c->drv != NULL && driver_guest_get(c->drv, uuid, &g) == 0) {
		m.exists = true;
		m.power_state = g.power_state;
		m.state = (char *)power_word(g.power_state);
		m.generation = g.generation;
		/* The volumes and a new qemu's VNC server (a build, start,
		 * resume, reboot) are known with the answer that makes the
		 * server ACTIVE, not only with the next report: the API's
		 * checks and a console come at once. Best effort: without
		 * them the next report brings them. */
		if (driver_guest_devices(c->drv, uuid, vols, VIRT_VOLUMES_MAX,
		    &nv, &port) == 0) {
			for (size_t k = 0; k < nv; k++)
				vp[k] = vols[k];
			/* Present even when empty: "no volumes" is known. */
			m.volumes.items = vp;
			m.volumes.n = nv;
			if (c->vnc_host[0] != '\0' && port != 0) {
				m.has_vnc_port = true;
				m.vnc_port = port;
				m.vnc_host = c->vnc_host;
			}
		}
	} else {
		m.exists = false;
		m.power_state = VIRT_POWER_NOSTATE;
		m.state = "absent";
	}
	return send_reply(c, &schema_msg_instance_state, &m, reqid, len);
}

/* A job's reply; the outcome is noted for the statistics and the log. */
static uint8_t *
state_reply(struct compute *c, struct job *j, const char *uuid,
    const char *result, size_t *len)
{
	if (strcmp(result, "ok") != 0) {
		j->failed = 1;
		j->stale = strcmp(result, "stale") == 0;
		j->code = err_code();
		log_err(j->type->name);
	}
	return state_reply_(c, uuid, j->reqid, result, len);
}

/* ---------------------------------------------------------- validation */

static int
opt_uuid_ok(const char *what, const char *s)
{
	if (s != NULL && s[0] != '\0' && !uuid_valid(s)) {
		err_set(TS_EINVALID, "%s '%.64s' is not a UUID", what, s);
		return 0;
	}
	return 1;
}

static int
spec_valid(const char *uuid, uint64_t gen, const struct sch_instance_spec *s)
{
	char want[sizeof(DRIVER_NAME_PREFIX) + CODEC_UUID_LEN];

	snprintf(want, sizeof(want), "%s%s", DRIVER_NAME_PREFIX, uuid);
	if (strcmp(s->name, want) != 0) {
		err_set(TS_EINVALID, "domain name '%.64s' is not '%s'",
		    s->name, want);
		return 0;
	}
	if (gen == 0) {
		err_set(TS_EINVALID, "generation 0");
		return 0;
	}
	if (s->vcpus == 0 || s->vcpus > MAX_VCPUS || s->memory_mb == 0 ||
	    s->memory_mb > MAX_MEMORY_MB || s->root_gb > MAX_DISK_GB ||
	    s->ephemeral_gb > MAX_DISK_GB || s->swap_mb > MAX_MEMORY_MB) {
		err_set(TS_EINVALID, "flavor sizes out of range (%u vCPUs, "
		    "%llu MiB)", s->vcpus, (unsigned long long)s->memory_mb);
		return 0;
	}
	if (!opt_uuid_ok("image", s->image_id) ||
	    !opt_uuid_ok("kernel", s->kernel_id) ||
	    !opt_uuid_ok("ramdisk", s->ramdisk_id))
		return 0;
	return 1;
}

/* Room for the NICs and volumes of a spec (instance_spec.nics max=32,
 * volumes max=16). */
struct spec_nics {
	struct driver_nic	v[32];
	struct driver_volume	vol[16];
};

static void
spec_fill(struct driver_spec *d, const char *uuid, uint64_t gen,
    const struct sch_instance_spec *s, struct spec_nics *sn)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->name = s->name;
	d->hostname = s->hostname;
	d->generation = gen;
	d->project_id = s->project_id;
	d->user_id = s->user_id;
	d->flavor_name = s->flavor_name;
	d->vcpus = s->vcpus;
	d->memory_mb = s->memory_mb;
	d->root_gb = s->root_gb;
	d->ephemeral_gb = s->ephemeral_gb;
	d->swap_mb = s->swap_mb;
	d->extra_specs = s->extra_specs.items ? &s->extra_specs : NULL;
	d->image_id = s->image_id;
	d->image_disk_format = s->image_disk_format;
	d->kernel_id = s->kernel_id;
	d->ramdisk_id = s->ramdisk_id;
	d->kernel_cmdline = s->kernel_cmdline;
	d->image_sha512 = s->image_sha512;
	d->image_size = s->has_image_size ? s->image_size : 0;
	d->kernel_disk_format = s->kernel_disk_format;
	d->kernel_sha512 = s->kernel_sha512;
	d->kernel_size = s->has_kernel_size ? s->kernel_size : 0;
	d->ramdisk_disk_format = s->ramdisk_disk_format;
	d->ramdisk_sha512 = s->ramdisk_sha512;
	d->ramdisk_size = s->has_ramdisk_size ? s->ramdisk_size : 0;
	d->image_token = s->image_token;
	d->user_data = s->user_data.ptr;
	d->user_data_len = s->user_data.len;
	d->key_data = s->key_data;
	d->admin_pass = s->admin_pass;
	d->metadata = s->metadata.items ? &s->metadata : NULL;
	for (size_t k = 0; k < s->nics.n && k < 32; k++) {
		const struct sch_nic *n = &s->nics.items[k];

		sn->v[k] = (struct driver_nic){ .port_id = n->port_id,
		    .network_id = n->network_id, .mac = n->mac,
		    .bridge = n->bridge, .mtu = n->has_mtu ? n->mtu : 0 };
		d->nnics = k + 1;
	}
	d->nics = d->nnics > 0 ? sn->v : NULL;
	for (size_t k = 0; k < s->volumes.n && k < 16; k++) {
		const struct sch_vol_disk *v = &s->volumes.items[k];

		sn->vol[k] = (struct driver_volume){ .volume_id = v->volume_id,
		    .attachment_id = v->attachment_id,
		    .target_dev = v->target_dev, .portal = v->portal,
		    .iqn = v->iqn, .lun = v->lun, .initiator = v->initiator,
		    .chap_user = v->chap_user, .chap_secret = v->chap_secret,
		    .readonly = v->readonly,
		    .boot = v->has_boot_index && v->boot_index == 0 };
		d->nvolumes = k + 1;
	}
	d->volumes = d->nvolumes > 0 ? sn->vol : NULL;
}

/* ------------------------------------------------------------ execution */

/* Generation check against what was seen; records a newer generation.
 * 1 if the command may run. Worker, lock not held. */
static int
gen_admit(struct compute *c, const char *uuid, uint64_t gen)
{
	struct ent *e;
	int ok = 1;

	pthread_mutex_lock(&c->lock);
	if ((e = table_find(&c->gens, uuid)) != NULL) {
		if (gen < e->gen)
			ok = 0;
		else
			e->gen = gen;
	} else if ((e = table_add(&c->gens, uuid)) != NULL) {
		e->gen = gen;
	}
	if (!ok) {
		err_set(TS_ECONFLICT, "generation %llu of %s is stale (seen "
		    "%llu)", (unsigned long long)gen, uuid,
		    (unsigned long long)e->gen);
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static uint8_t *
run_ensure(struct compute *c, struct job *j, size_t *len)
{
	struct msg_instance_ensure *m = j->body;
	struct driver_spec s;
	struct spec_nics sn;
	uint8_t *reply;

	if (!spec_valid(m->uuid, m->generation, &m->spec))
		return state_reply(c, j, m->uuid, "error", len);
	if (m->power != VIRT_POWER_RUNNING && m->power != VIRT_POWER_SHUTDOWN &&
	    m->power != VIRT_POWER_PAUSED && m->power != VIRT_POWER_SUSPENDED) {
		err_set(TS_EINVALID, "power state %u cannot be requested",
		    m->power);
		return state_reply(c, j, m->uuid, "error", len);
	}
	if (!gen_admit(c, m->uuid, m->generation))
		return state_reply(c, j, m->uuid, "stale", len);
	spec_fill(&s, m->uuid, m->generation, &m->spec, &sn);
	s.sync_nics = m->has_sync_nics && m->sync_nics;
	s.sync_volumes = m->has_sync_volumes && m->sync_volumes;
	/* A rebuild replaces a guest of an older generation; once the guest
	 * carries this generation a repeated command is a plain ensure. */
	if (m->has_rebuild && m->rebuild) {
		struct driver_guest g;

		if (driver_guest_get(c->drv, m->uuid, &g) == 0 &&
		    g.generation < m->generation) {
			log_info("instance %s: rebuilding (generation %llu -> "
			    "%llu)", m->uuid, (unsigned long long)g.generation,
			    (unsigned long long)m->generation);
			if (driver_guest_delete(c->drv, m->uuid) == -1)
				return state_reply(c, j, m->uuid, "error", len);
		}
	}
	/* Every ensure says where a resize stands (level-triggered). */
	if (driver_guest_resize(c->drv, &s, m->has_resize ? (int)m->resize : 0)
	    == -1) {
		log_warnx("instance %s: resize: %s", m->uuid, err_msg());
		return state_reply(c, j, m->uuid, "error", len);
	}
	if (driver_guest_ensure(c->drv, &s) == -1) {
		if (err_code() == TS_ECONFLICT)
			return state_reply(c, j, m->uuid, "stale", len);
		return state_reply(c, j, m->uuid, "error", len);
	}
	/* Before the power-on: a booting guest asks for its metadata. */
	if (c->on_spec)
		c->on_spec(c->hook_arg, &s);
	if (driver_guest_set_power(c->drv, m->uuid, m->power) == -1)
		return state_reply(c, j, m->uuid, "error", len);
	log_info("instance %s ensured: power %u (task %s, generation %llu)",
	    m->uuid, m->power, m->task ? m->task : "-",
	    (unsigned long long)m->generation);
	reply = state_reply(c, j, m->uuid, "ok", len);
	/* Its devices as asked: the host reports them now. After the reply:
	 * a census begun before a reply went out is read again. */
	if ((s.sync_nics || s.sync_volumes) && c->on_devices)
		c->on_devices(c->devices_arg, m->uuid);
	return reply;
}

static uint8_t *
run_delete(struct compute *c, struct job *j, size_t *len)
{
	struct msg_instance_delete *m = j->body;
	struct driver_guest g;

	if (m->orphan) {
		if (driver_guest_get(c->drv, m->uuid, &g) == 0 &&
		    !c->orphan_destroy) {
			log_warnx("guest %s (%s) is unknown to the controller; "
			    "left alone (orphan_action = log)", m->uuid, g.name);
			return state_reply(c, j, m->uuid, "ok", len);
		}
	} else if (m->generation != 0) {
		if (!gen_admit(c, m->uuid, m->generation))
			return state_reply(c, j, m->uuid, "stale", len);
		if (driver_guest_get(c->drv, m->uuid, &g) == 0 &&
		    g.managed && g.generation > m->generation) {
			err_set(TS_ECONFLICT, "guest %s has generation %llu, "
			    "newer than the delete's %llu", m->uuid,
			    (unsigned long long)g.generation,
			    (unsigned long long)m->generation);
			return state_reply(c, j, m->uuid, "stale", len);
		}
	}
	if (driver_guest_delete(c->drv, m->uuid) == -1)
		return state_reply(c, j, m->uuid, "error", len);
	if (c->on_gone)
		c->on_gone(c->hook_arg, m->uuid);
	log_info("instance %s deleted%s", m->uuid, m->orphan ? " (orphan)" :
	    "");
	return state_reply(c, j, m->uuid, "ok", len);
}

static uint8_t *
run_action(struct compute *c, struct job *j, size_t *len)
{
	struct msg_instance_action *m = j->body;
	struct driver_spec s;
	struct spec_nics sn;
	int hard;

	if (strcmp(m->action, "reboot_soft") == 0)
		hard = 0;
	else if (strcmp(m->action, "reboot_hard") == 0)
		hard = 1;
	else if (strcmp(m->action, "trigger_crash_dump") == 0) {
		/* The guest as it is: never rebuilt for an NMI. */
		if (!gen_admit(c, m->uuid, m->generation))
			return state_reply(c, j, m->uuid, "stale", len);
		if (driver_guest_inject_nmi(c->drv, m->uuid) == -1)
			return state_reply(c, j, m->uuid, "error", len);
		return state_reply(c, j, m->uuid, "ok", len);
	} else {
		err_set(TS_EINVALID, "unknown action '%.32s'", m->action);
		return state_reply(c, j, m->uuid, "error", len);
	}
	if (!spec_valid(m->uuid, m->generation, &m->spec))
		return state_reply(c, j, m->uuid, "error", len);
	if (!gen_admit(c, m->uuid, m->generation))
		return state_reply(c, j, m->uuid, "stale", len);
	spec_fill(&s, m->uuid, m->generation, &m->spec, &sn);
	/* A guest lost with its host is rebuilt before the reboot. */
	if (driver_guest_ensure(c->drv, &s) == -1) {
		if (err_code() == TS_ECONFLICT)
			return state_reply(c, j, m->uuid, "stale", len);
		return state_reply(c, j, m->uuid, "error", len);
	}
	if (c->on_spec)
		c->on_spec(c->hook_arg, &s);
	if (driver_guest_reboot(c->drv, &s, hard) == -1)
		return state_reply(c, j, m->uuid, "error", len);
	log_info("instance %s rebooted (%s)", m->uuid, hard ? "hard" : "soft");
	return state_reply(c, j, m->uuid, "ok", len);
}

/* Live migration away from this host (the source). Answered ok once the
 * guest runs on the target; an error with the guest still here. A guest
 * already gone (a re-sent command after the answer was lost with a
 * restart) is answered as absent, not as a failure: the controller then
 * settles it from the reports. */
static uint8_t *
run_migrate(struct compute *c, struct job *j, size_t *len)
{
	struct msg_instance_migrate *m = j->body;
	struct driver_guest g;

	if (!spec_valid(m->uuid, m->generation, &m->spec))
		return state_reply(c, j, m->uuid, "error", len);
	if (m->new_generation <= m->generation) {
		err_set(TS_EINVALID, "migration to generation %llu, not above "
		    "%llu", (unsigned long long)m->new_generation,
		    (unsigned long long)m->generation);
		return state_reply(c, j, m->uuid, "error", len);
	}
	if (!gen_admit(c, m->uuid, m->generation))
		return state_reply(c, j, m->uuid, "stale", len);
	if (driver_guest_get(c->drv, m->uuid, &g) == -1)
		return state_reply(c, j, m->uuid, "error", len);
	if (g.managed && g.generation > m->generation) {
		err_set(TS_ECONFLICT, "guest %s has generation %llu, newer than "
		    "the migration's %llu", m->uuid,
		    (unsigned long long)g.generation,
		    (unsigned long long)m->generation);
		return state_reply(c, j, m->uuid, "stale", len);
	}
	if (driver_guest_migrate(c->drv, m->uuid, m->new_generation,
	    m->target_uri, m->target_address, m->block_migration,
	    m->target_instances_path, m->target_cache_dir,
	    m->has_target_backing && m->target_backing, m->spec.image_id) ==
	    -1)
		return state_reply(c, j, m->uuid, "error", len);
	/* Anything older than the target's copy is stale here from now. */
	gen_admit(c, m->uuid, m->new_generation);
	if (c->on_gone)
		c->on_gone(c->hook_arg, m->uuid);
	log_info("instance %s live-migrated to %s (generation %llu)", m->uuid,
	    m->target_host, (unsigned long long)m->new_generation);
	return state_reply(c, j, m->uuid, "ok", len);
}

/* The target's side of a live migration, before the source is asked:
 * the guest's files (idempotent). Answered with the paths the source
 * rewrites its definition to. */
static uint8_t *
run_migrate_prepare(struct compute *c, struct job *j, size_t *len)
{
	struct msg_instance_migrate_prepare *m = j->body;
	struct msg_instance_migrate_prepared o = { 0 };
	struct driver_spec s;
	struct spec_nics sn;
	const char *inst = NULL, *cache = NULL;
	int ok = 0, backing = 0;

	if (spec_valid(m->uuid, m->generation, &m->spec)) {
		spec_fill(&s, m->uuid, m->generation, &m->spec, &sn);
		ok = driver_guest_migrate_prepare(c->drv, &s, &inst, &cache,
		    &backing) == 0;
		/* The metadata service here answers the guest once it
		 * arrives. */
		if (ok && c->on_spec)
			c->on_spec(c->hook_arg, &s);
	}
	snprintf(o.uuid, sizeof(o.uuid), "%s", m->uuid);
	o.in_reply_to = j->reqid;
	o.result = ok ? "ok" : "error";
	if (!ok) {
		j->failed = 1;
		o.fault_message = (char *)err_msg();
		log_warnx("instance %s: live migration here not prepared: %s",
		    m->uuid, err_msg());
	} else {
		log_info("instance %s: prepared for an incoming live "
		    "migration", m->uuid);
	}
	o.instances_path = (char *)inst;
	o.cache_dir = (char *)cache;
	o.has_root_backing = ok;
	o.root_backing = ok && backing;
	return send_reply(c, &schema_msg_instance_migrate_prepared, &o,
	    j->reqid, len);
}

/* A target's prepared files, after the migration failed or was aborted
 * (the controller's word): in the guest's worker, after any prepare of
 * it sent before; unanswered, not remembered (running it again is
 * harmless). */
static uint8_t *
run_migrate_cleanup(struct compute *c, struct job *j, size_t *len)
{
	struct msg_instance_migrate_cleanup *m = j->body;

	*len = 0;
	if (driver_guest_migrate_cleanup(c->drv, m->uuid,
	    m->has_min_age_ms ? (int64_t)m->min_age_ms : 0) == -1) {
		j->failed = 1;
		log_warnx("instance %s: prepared files kept: %s", m->uuid,
		    err_msg());
	}
	return NULL;
}

#define LEFTOVERS_MAX	16	/* per heartbeat; the next ones follow */

size_t
compute_report_leftovers(struct compute *c, const struct virt_guest *guests,
    size_t n)
{
	char ids[LEFTOVERS_MAX][37];
	size_t nids = 0, sent = 0;
	int64_t now = clock_mono_ms();

	if (c->leftovers_at != 0 && now - c->leftovers_at <
	    COMPUTE_LEFTOVER_EVERY_MS)
		return 0;
	c->leftovers_at = now;
	if (c->drv == NULL || driver_guest_migrate_leftovers(c->drv,
	    COMPUTE_LEFTOVER_AGE_MS, ids, LEFTOVERS_MAX, &nids) == -1) {
		if (c->drv != NULL)
			log_warnx("prepared migrations: %s", err_msg());
		return 0;
	}
	for (size_t k = 0; k < nids; k++) {
		struct msg_instance_migrate_leftover m = { 0 };
		uint8_t *r;
		size_t len, g;

		for (g = 0; g < n; g++)
			if (strcmp(guests[g].uuid, ids[k]) == 0)
				break;
		if (g < n)
			continue;	/* its guest is here: not a leftover */
		memcpy(m.uuid, ids[k], sizeof(m.uuid));	/* both 37 */
		m.uuid[sizeof(m.uuid) - 1] = '\0';
		if ((r = send_reply(c, &schema_msg_instance_migrate_leftover, &m,
		    "", &len)) != NULL)
			sent++;
		free(r);
	}
	return sent;
}

/* Aborting a live migration runs beside its job (which holds the guest's
 * worker until libvirt returns): at once, in the bus thread, unanswered;
 * the aborted migration answers its own command. */
static void
answer_abort(struct compute *c, const struct codec_envelope *env)
{
	const struct msg_instance_migrate_abort *m = env->body;

	if (c->drv == NULL) {
		log_warnx("live migration abort of %s: no driver", m->uuid);
		return;
	}
	if (driver_guest_migrate_abort(c->drv, m->uuid) == -1)
		log_warnx("live migration abort of %s: %s", m->uuid, err_msg());
	else
		log_info("instance %s: live migration aborted", m->uuid);
}

/* createImage/createBackup: the driver copies the guest's disk into a
 * temporary file and uploads it to the queued image; the guest itself is
 * left as it is. A repeated request id is answered from the dedup table;
 * a snapshot re-sent after this agent restarted finds the image no longer
 * queued (409 from the image API) if the first upload went through. */
static uint8_t *
run_snapshot(struct compute *c, struct job *j, size_t *len)
{
	struct msg_instance_snapshot *m = j->body;

	if (!uuid_valid(m->uuid) || !uuid_valid(m->image_id)) {
		err_set(TS_EINVALID, "snapshot: malformed id");
		return state_reply(c, j, m->uuid, "error", len);
	}
	if (!gen_admit(c, m->uuid, m->generation))
		return state_reply(c, j, m->uuid, "stale", len);
	if (driver_guest_snapshot(c->drv, m->uuid, m->image_id,
	    m->upload_token) == -1) {
		log_warnx("instance %s: snapshot into image %s failed: %s",
		    m->uuid, m->image_id, err_msg());
		return state_reply(c, j, m->uuid, "error", len);
	}
	log_info("instance %s: snapshot uploaded into image %s", m->uuid,
	    m->image_id);
	return state_reply(c, j, m->uuid, "ok", len);
}

static uint8_t *
run_console(struct compute *c, struct job *j, size_t *len)
{
	struct msg_console_get *m = j->body;
	struct msg_console_output o = { 0 };
	char *text = NULL;
	size_t tlen = 0;
	uint8_t *r;

	snprintf(o.uuid, sizeof(o.uuid), "%s", m->uuid);
	o.in_reply_to = j->reqid;
	if (driver_console_get(c->drv, m->uuid, m->max_bytes, &text, &tlen) ==
	    0) {
		o.found = true;
		o.output = text;
	} else {
		o.found = false;
		o.output = "";
	}
	r = send_reply(c, &schema_msg_console_output, &o, j->reqid, len);
	free(text);
	return r;
}

static uint8_t *
run_stats(struct compute *c, struct job *j, size_t *len)
{
	struct msg_guest_stats_get *m = j->body;
	struct msg_guest_stats o = { 0 };
	uint8_t *r;

	snprintf(o.uuid, sizeof(o.uuid), "%s", m->uuid);
	o.in_reply_to = j->reqid;
	o.found = driver_guest_stats(c->drv, m->uuid, &o) == 0;
	if (!o.found) {
		gueststats_clear(&o);
		log_info("guest stats of %s: %s", m->uuid, err_msg());
	}
	if (o.state == NULL)
		o.state = (char *)"";
	if (o.hypervisor == NULL)
		o.hypervisor = (char *)"";
	r = send_reply(c, &schema_msg_guest_stats, &o, j->reqid, len);
	if (*o.state == '\0')
		o.state = NULL;
	gueststats_clear(&o);
	return r;
}

/* Questions (console, stats) are answered, never remembered: large, and
 * asking again is harmless. */
static bool
is_query(const struct schema_type *t)
{
	return t == &schema_msg_console_get || t == &schema_msg_guest_stats_get ||
	    t == &schema_msg_instance_migrate_cleanup;
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	codec_free(j->type, &j->body);
	free(j);
}

/* The first queued job whose instance is not being worked on. Lock held. */
static struct job *
take_job(struct compute *c)
{
	struct job *prev = NULL, *j;

	for (j = c->head; j != NULL; prev = j, j = j->next) {
		int busy = 0;

		for (int i = 0; i < c->nworkers && !busy; i++)
			busy = strcmp(c->busy[i], j->uuid) == 0;
		if (busy)
			continue;
		if (prev)
			prev->next = j->next;
		else
			c->head = j->next;
		if (c->tail == j)
			c->tail = prev;
		j->next = NULL;
		c->nqueued--;
		return j;
	}
	return NULL;
}

struct worker_arg {
	struct compute	*c;
	int		 idx;
};

static void *
worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct compute *c = wa->c;
	int idx = wa->idx;

	free(wa);
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct job *j = take_job(c);
		uint8_t *reply = NULL;
		size_t rlen = 0;
		struct ent *e;

		if (j == NULL) {
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		snprintf(c->busy[idx], sizeof(c->busy[idx]), "%s", j->uuid);
		c->running++;
		pthread_mutex_unlock(&c->lock);

		log_set_request_id(j->reqid);
		/* (timing: bench/boot_bench.sh reads this line) */
		log_debug("%s %s: started", j->type->name, j->uuid);
		if (j->type == &schema_msg_instance_ensure)
			reply = run_ensure(c, j, &rlen);
		else if (j->type == &schema_msg_instance_delete)
			reply = run_delete(c, j, &rlen);
		else if (j->type == &schema_msg_instance_action)
			reply = run_action(c, j, &rlen);
		else if (j->type == &schema_msg_instance_migrate)
			reply = run_migrate(c, j, &rlen);
		else if (j->type == &schema_msg_instance_migrate_prepare)
			reply = run_migrate_prepare(c, j, &rlen);
		else if (j->type == &schema_msg_instance_migrate_cleanup)
			reply = run_migrate_cleanup(c, j, &rlen);
		else if (j->type == &schema_msg_guest_stats_get)
			reply = run_stats(c, j, &rlen);
		else if (j->type == &schema_msg_instance_snapshot)
			reply = run_snapshot(c, j, &rlen);
		else
			reply = run_console(c, j, &rlen);
		log_set_request_id(NULL);

		pthread_mutex_lock(&c->lock);
		c->st.executed++;
		c->st.failed += j->failed;
		c->st.stale += j->stale;
		/* Console output is not remembered (large, and reading it
		 * again is harmless): only state replies are. */
		if ((e = table_find(&c->reqs, j->key)) != NULL) {
			e->done = 1;
			e->reply = reply;
			e->rlen = rlen;
			e->rerun = j->failed && !j->stale &&
			    (j->type == &schema_msg_instance_delete ||
			    (j->type == &schema_msg_instance_ensure &&
			    j->code == TS_EUNAVAILABLE));
			reply = NULL;
		}
		free(reply);
		c->busy[idx][0] = '\0';
		c->running--;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		job_free(j);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct compute *
compute_new(struct driver *drv, const struct compute_opts *o)
{
	struct compute *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		err_set(TS_ENOMEM, "compute: out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->drv = drv;
	if (drv == NULL)
		snprintf(c->unavailable, sizeof(c->unavailable), "%s",
		    o->unavailable ? o->unavailable : "no hypervisor driver");
	snprintf(c->host, sizeof(c->host), "%s", o->host);
	c->send = o->send;
	c->send_arg = o->send_arg;
	c->orphan_destroy = o->orphan_destroy;
	if (o->vnc_host != NULL)
		snprintf(c->vnc_host, sizeof(c->vnc_host), "%s", o->vnc_host);
	c->max_queue = o->max_queue ? o->max_queue : 4096;
	c->nworkers = o->workers > 0 ? o->workers : 2;
	if (table_init(&c->reqs, COMPUTE_DEDUP_MAX) == -1 ||
	    table_init(&c->gens, GEN_MAX) == -1 ||
	    (c->busy = calloc((size_t)c->nworkers, sizeof(*c->busy))) ==
	    NULL || (c->threads = calloc((size_t)c->nworkers,
	    sizeof(*c->threads))) == NULL) {
		err_set(TS_ENOMEM, "compute: out of memory");
		c->nworkers = 0;
		compute_free(&c);
		return NULL;
	}
	for (int i = 0; i < c->nworkers; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		int rc;

		if (wa == NULL) {
			err_set(TS_ENOMEM, "compute: out of memory");
			c->nworkers = i;
			compute_free(&c);
			return NULL;
		}
		wa->c = c;
		wa->idx = i;
		if ((rc = pthread_create(&c->threads[i], NULL, worker, wa)) !=
		    0) {
			free(wa);
			errno = rc;
			err_set_errno(TS_EINTERNAL, "compute: worker thread");
			c->nworkers = i;
			compute_free(&c);
			return NULL;
		}
	}
	return c;
}

void
compute_free(struct compute **cp)
{
	struct compute *c = *cp;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < c->nworkers; i++)
		pthread_join(c->threads[i], NULL);
	while (c->head) {
		struct job *j = c->head;

		c->head = j->next;
		job_free(j);
	}
	table_free(&c->reqs);
	table_free(&c->gens);
	if (c->own_drv)
		driver_free(&c->drv);
	free(c->busy);
	free(c->threads);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

/* Immediate refusal (bad request id, queue full): a reply without a job. */
static void
refuse(struct compute *c, const struct codec_envelope *env, const char *uuid)
{
	uint8_t *r;
	size_t len;

	log_err(env->type->name);
	if (env->type == &schema_msg_console_get) {
		struct msg_console_output o = { 0 };

		snprintf(o.uuid, sizeof(o.uuid), "%s", uuid);
		o.in_reply_to = (char *)env->request_id;
		o.output = "";
		r = send_reply(c, &schema_msg_console_output, &o,
		    env->request_id, &len);
	} else if (env->type == &schema_msg_guest_stats_get) {
		struct msg_guest_stats o = { 0 };

		snprintf(o.uuid, sizeof(o.uuid), "%s", uuid);
		o.in_reply_to = (char *)env->request_id;
		o.state = (char *)"";
		o.hypervisor = (char *)"";
		r = send_reply(c, &schema_msg_guest_stats, &o,
		    env->request_id, &len);
	} else {
		r = state_reply_(c, uuid, env->request_id, "error", &len);
	}
	free(r);
}

/* os-hypervisors uptime: what uptime(1) says. Cheap, so it is answered
 * on the event loop. Reading utmp is not thread-safe; only this thread
 * does it. */
static void
answer_uptime(struct compute *c, const struct codec_envelope *env)
{
	struct msg_host_uptime_get *q = env->body;
	struct msg_host_uptime m = { 0 };
	uint32_t load[3] = { 0, 0, 0 };
	struct utmpx *u;
	double la[3];
	FILE *f;
	double up = 0;
	uint8_t *r;
	size_t len;

	if (strcmp(q->host, c->host) != 0) {
		log_warnx("uptime asked for host %s; this is %s", q->host,
		    c->host);
		return;
	}
	if ((f = fopen("/proc/uptime", "r")) != NULL) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	if (getloadavg(la, 3) == 3)
		for (int i = 0; i < 3; i++)
			load[i] = (uint32_t)(la[i] * 1000.0 + 0.5);
	setutxent();
	while ((u = getutxent()) != NULL)
		if (u->ut_type == USER_PROCESS)
			m.users++;
	endutxent();
	m.in_reply_to = (char *)env->request_id;
	m.uptime_s = (uint64_t)up;
	m.load_milli.items = load;
	m.load_milli.n = 3;
	m.now = clock_wall_ms();
	r = send_reply(c, &schema_msg_host_uptime, &m, env->request_id, &len);
	free(r);
}

int
compute_handle(struct compute *c, struct codec_envelope *env)
{
	const char *uuid;
	char key[KEY_MAX + 1];
	struct job *j;
	struct ent *e = NULL;

	if (env->type == &schema_msg_instance_ensure)
		uuid = ((struct msg_instance_ensure *)env->body)->uuid;
	else if (env->type == &schema_msg_instance_delete)
		uuid = ((struct msg_instance_delete *)env->body)->uuid;
	else if (env->type == &schema_msg_instance_action)
		uuid = ((struct msg_instance_action *)env->body)->uuid;
	else if (env->type == &schema_msg_instance_migrate)
		uuid = ((struct msg_instance_migrate *)env->body)->uuid;
	else if (env->type == &schema_msg_instance_migrate_prepare)
		uuid = ((struct msg_instance_migrate_prepare *)env->body)->uuid;
	else if (env->type == &schema_msg_instance_migrate_cleanup)
		uuid = ((struct msg_instance_migrate_cleanup *)env->body)->uuid;
	else if (env->type == &schema_msg_instance_migrate_abort) {
		answer_abort(c, env);
		return 1;
	}
	else if (env->type == &schema_msg_console_get)
		uuid = ((struct msg_console_get *)env->body)->uuid;
	else if (env->type == &schema_msg_guest_stats_get)
		uuid = ((struct msg_guest_stats_get *)env->body)->uuid;
	else if (env->type == &schema_msg_instance_snapshot)
		uuid = ((struct msg_instance_snapshot *)env->body)->uuid;
	else if (env->type == &schema_msg_host_uptime_get) {
		answer_uptime(c, env);
		return 1;
	} else
		return 0;

	pthread_mutex_lock(&c->lock);
	c->st.received++;
	if (c->drv == NULL) {
		pthread_mutex_unlock(&c->lock);
		err_set(TS_EUNAVAILABLE, "compute is unavailable on this host: "
		    "%s", c->unavailable);
		refuse(c, env, uuid);
		return 1;
	}
	if (env->request_id[0] == '\0') {
		pthread_mutex_unlock(&c->lock);
		err_set(TS_EINVALID, "%s without a request id", env->type->name);
		refuse(c, env, uuid);
		return 1;
	}
	snprintf(key, sizeof(key), "%s/%s", uuid, env->request_id);
	if (!is_query(env->type) &&
	    (e = table_find(&c->reqs, key)) != NULL && !e->rerun) {
		uint8_t *copy = NULL;
		size_t len = e->rlen;

		c->st.duplicates++;
		if (e->done && e->reply && (copy = malloc(len)) != NULL)
			memcpy(copy, e->reply, len);
		pthread_mutex_unlock(&c->lock);
		if (copy) {
			log_info("%s %s: duplicate, answered again",
			    env->type->name, env->request_id);
			if (c->send(copy, len, c->send_arg) == -1)
				log_warnx("reply: %s", err_msg());
			free(copy);
		} else {
			log_info("%s %s: duplicate of a command in progress",
			    env->type->name, env->request_id);
		}
		return 1;
	}
	if (c->nqueued >= c->max_queue) {
		pthread_mutex_unlock(&c->lock);
		err_set(TS_EUNAVAILABLE, "agent busy: %zu commands queued",
		    c->max_queue);
		refuse(c, env, uuid);
		return 1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (!is_query(env->type) && e == NULL &&
	    table_add(&c->reqs, key) == NULL)) {
		pthread_mutex_unlock(&c->lock);
		free(j);
		err_set(TS_ENOMEM, "compute: out of memory");
		refuse(c, env, uuid);
		return 1;
	}
	if (e != NULL) {	/* a failed delete or build, run again */
		log_info("%s %s: failed before, run again", env->type->name,
		    env->request_id);
		free(e->reply);
		e->reply = NULL;
		e->rlen = 0;
		e->done = 0;
		e->rerun = 0;
	}
	j->type = env->type;
	j->body = env->body;
	env->body = NULL;
	snprintf(j->reqid, sizeof(j->reqid), "%s", env->request_id);
	snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
	snprintf(j->key, sizeof(j->key), "%s", key);
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	c->nqueued++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return 1;
}

void
compute_set_guest_hooks(struct compute *c, compute_spec_fn spec,
    compute_gone_fn gone, void *arg)
{
	pthread_mutex_lock(&c->lock);
	c->on_spec = spec;
	c->on_gone = gone;
	c->hook_arg = arg;
	pthread_mutex_unlock(&c->lock);
}

void
compute_set_devices_hook(struct compute *c, compute_devices_fn fn, void *arg)
{
	pthread_mutex_lock(&c->lock);
	c->on_devices = fn;
	c->devices_arg = arg;
	pthread_mutex_unlock(&c->lock);
}

void
compute_stats(struct compute *c, struct compute_stats *s)
{
	pthread_mutex_lock(&c->lock);
	*s = c->st;
	s->queued = c->nqueued;
	pthread_mutex_unlock(&c->lock);
}

void
compute_drain(struct compute *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->nqueued > 0 || c->running > 0)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

struct compute *
compute_from_config(const struct config *cfg, const char *host,
    struct virt *virt, compute_send_fn send, void *send_arg)
{
	struct driver_opts d = { 0 };
	struct compute_opts o = { 0 };
	struct driver *drv = NULL;
	struct compute *c;
	char why[512] = "";

	d.instances_path = config_get_str(cfg, "DEFAULT", "instances_path");
	d.state_path = config_get_str(cfg, "DEFAULT", "state_path");
	d.shutdown_timeout = (int)config_get_int(cfg, "compute",
	    "shutdown_timeout");
	d.cfg = cfg;
	d.host = host;
	if (virt_uri_is_test(virt_uri(virt)))
		d.virt_type = DRIVER_VIRT_TEST;
	else if (driver_virt_type_parse(config_get_str(cfg, "libvirt",
	    "virt_type"), &d.virt_type) == -1)
		snprintf(why, sizeof(why), "%s", err_msg());
	if (why[0] == '\0' && (drv = driver_new(virt, &d)) == NULL)
		snprintf(why, sizeof(why), "%s", err_msg());
	if (drv == NULL)
		log_warnx("compute commands will be refused: %s", why);
	o.host = host;
	o.workers = (int)config_get_int(cfg, "compute", "workers");
	o.orphan_destroy = strcmp(config_get_str(cfg, "libvirt",
	    "orphan_action"), "destroy") == 0;
	o.send = send;
	o.send_arg = send_arg;
	o.unavailable = why;
	if (config_get_bool(cfg, "vnc", "enabled"))
		o.vnc_host = config_get_str(cfg, "vnc",
		    "server_proxyclient_address");
	if ((c = compute_new(drv, &o)) == NULL) {
		driver_free(&drv);
		return NULL;
	}
	c->own_drv = 1;
	return c;
}
