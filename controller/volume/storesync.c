/* storesync: the storage hosts' desired state and reports; see
 * storesync.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nametab.h"
#include "auth/capability.h"
#include "buf.h"
#include "bus.h"
#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "core/fleet.h"
#include "err.h"
#include "identity/identity.h"
#include "image/image.h"
#include "log.h"
#include "msg_gen.h"
#include "store.h"
#include "storesync.h"
#include "volume_db.h"
#include "volume_int.h"

#define MAX_HOSTS	65536	/* as netsync: 4096 left hosts past it untracked */
/* Reports of hosts without storage written per transaction (pend). */
#define NONE_BATCH	256
#define ATT_MAX		16384	/* ready attachments per host */

/*
 * An export the storage host reported in place, with the initiator it
 * admits: an attachment renamed since (an evacuation gives it the new
 * host's initiator) is not ready until the host reports the new ACL.
 * Zeroed before it is filled, so that entries compare with memcmp().
 */
struct ready {
	char	volume_id[CODEC_UUID_LEN + 1];
	char	attachment_id[CODEC_UUID_LEN + 1];
	char	initiator[256];
};

struct host {
	char			 name[256];
	struct msg_host_storage	*want;		/* owned; NULL before a sync */
	struct msg_host_storage	*next;		/* being derived */
	size_t			 vcap, scap;	/* of next's lists */
	struct buf		 body;		/* want encoded, generation 0 */
	uint64_t		 gen;
	uint64_t		 applied;
	int			 reported;
	int			 greeted;	/* said hello to this controller */
	char			 reqid[64];	/* of the last host_storage */
	int64_t			 next_send;
	int64_t			 backoff;
	/* Exports in place as of the last report (ready_lock). */
	struct ready		*ready;
	size_t			 nready;
};

/* Ids gathered by a derivation (bus thread). */
struct idlist {
	char			(*v)[CODEC_UUID_LEN + 1];
	size_t			 n, cap;
};

struct storesync {
	struct store		*store;
	struct bus		*bus;
	struct identity		*identity;
	unsigned		 cap_lifetime;
	int64_t			 down_ms;	/* for re-placement */
	char			 sender[256];
	/* The volume API's base the hosts stream backups to and from. */
	char			 data_url[512];
	struct host		**hosts;
	size_t			 nhosts, caphosts;
	/* The same hosts by name (changed under ready_lock like hosts):
	 * every sync looks up every host, and a linear search made that
	 * quadratic. */
	struct nametab		 tab;
	/* Set by any thread (storesync_changed()), claimed by
	 * storesync_sync() before it reads the store: a change committed
	 * after the claim sets it again. */
	atomic_int		 dirty;
	/* Written by storesync_changed() so that the bus thread derives at
	 * once rather than at its next tick (storesync_woken()). */
	int			 wakefd;
	int64_t			 last_sync;
	int64_t			 next_scan;
	pthread_mutex_t		 ready_lock;	/* hosts' ready lists */
	/*
	 * "No storage here" reports (backend "none", nothing asked, nothing
	 * to apply: every compute-only agent's answer to its hello) wait
	 * here for one transaction at the next tick, or when NONE_BATCH
	 * wait, or before any other report is written (so a host's records
	 * stay in order). One synchronous write each on the bus thread was
	 * 10,000 fsyncs when 10,000 agents registered. Bus thread only;
	 * backend/portal owned, host points into the host's name.
	 */
	struct rec_storage_host	 pend[NONE_BATCH];
	size_t			 npend;
	storesync_ready_fn	 ready_fn;
	void			*ready_arg;
	/* Discards the images of failed or expired volume uploads (borrowed;
	 * NULL: they stay queued for their owner to delete). */
	struct image_service	*image;
	/* Uploads and backups past their deadline found by the last
	 * derivation (bus thread): ended after it, in writes of their own. */
	struct idlist		 expired, bexpired;
};

/* ---- hosts ---------------------------------------------------------------- */

static struct host *
host_find(struct storesync *ss, const char *name)
{
	return nametab_find(&ss->tab, name);
}

/* Hosts are only added on the bus thread; storesync_ready() takes the
 * lock to read the list. */
static struct host *
host_get(struct storesync *ss, const char *name)
{
	struct host *h = host_find(ss, name);

	if (h != NULL)
		return h;
	if (*name == '\0' || strlen(name) >= sizeof(h->name) ||
	    ss->nhosts >= MAX_HOSTS) {
		err_set(TS_EINVALID, "storesync: host '%.64s' not tracked",
		    name);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		err_set(TS_ENOMEM, "storesync: out of memory");
		return NULL;
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	pthread_mutex_lock(&ss->ready_lock);
	if (ss->nhosts == ss->caphosts) {
		size_t ncap = ss->caphosts ? ss->caphosts * 2 : 16;
		struct host **nh = realloc(ss->hosts, ncap * sizeof(*nh));

		if (nh == NULL) {
			pthread_mutex_unlock(&ss->ready_lock);
			free(h);
			err_set(TS_ENOMEM, "storesync: out of memory");
			return NULL;
		}
		ss->hosts = nh;
		ss->caphosts = ncap;
	}
	if (nametab_add(&ss->tab, h) == -1) {
		pthread_mutex_unlock(&ss->ready_lock);
		free(h);
		return NULL;
	}
	ss->hosts[ss->nhosts++] = h;
	pthread_mutex_unlock(&ss->ready_lock);
	return h;
}

static void
host_free(struct host *h)
{
	codec_free(&schema_msg_host_storage, (void **)&h->want);
	codec_free(&schema_msg_host_storage, (void **)&h->next);
	buf_free(&h->body);
	free(h->ready);
	free(h);
}

/* ---- life cycle ------------------------------------------------------------ */

struct storesync *
storesync_new(const struct config *cfg, struct store *st, struct bus *bus,
    const char *controller_host)
{
	struct storesync *ss = calloc(1, sizeof(*ss));

	if (ss == NULL) {
		err_set(TS_ENOMEM, "storesync: out of memory");
		return NULL;
	}
	nametab_init(&ss->tab, offsetof(struct host, name));
	if ((ss->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		err_set_errno(TS_EINTERNAL, "storesync: eventfd");
		free(ss);
		return NULL;
	}
	ss->store = st;
	ss->bus = bus;
	ss->last_sync = INT64_MIN / 2;
	ss->cap_lifetime = cfg != NULL ? (unsigned)config_get_int(cfg,
	    "compute", "image_capability_lifetime") : 3600;
	if (ss->cap_lifetime == 0)
		ss->cap_lifetime = 3600;
	ss->down_ms = cfg != NULL ? config_get_int(cfg, "DEFAULT",
	    "service_down_time") * 1000 : 60000;
	snprintf(ss->sender, sizeof(ss->sender), "%s", controller_host ?
	    controller_host : "");
	if (cfg != NULL) {
		const char *ph = config_get_str(cfg, "api", "public_host");

		snprintf(ss->data_url, sizeof(ss->data_url), "%s://%s:%lld",
		    *config_get_str(cfg, "api", "tls_cert_file") ? "https" :
		    "http", *ph ? ph : config_get_str(cfg, "DEFAULT", "host"),
		    (long long)config_get_int(cfg, "api", "volume_port"));
	}
	pthread_mutex_init(&ss->ready_lock, NULL);
	atomic_store(&ss->dirty, 1);
	return ss;
}

void
storesync_free(struct storesync **sp)
{
	struct storesync *ss;

	if (sp == NULL || (ss = *sp) == NULL)
		return;
	/* (reports still waiting are dropped: each agent reports again at
	 * its next hello) */
	for (size_t i = 0; i < ss->npend; i++) {
		free(ss->pend[i].backend);
		free(ss->pend[i].portal);
	}
	for (size_t i = 0; i < ss->nhosts; i++)
		host_free(ss->hosts[i]);
	free(ss->hosts);
	free(ss->expired.v);
	free(ss->bexpired.v);
	nametab_clear(&ss->tab);
	pthread_mutex_destroy(&ss->ready_lock);
	close(ss->wakefd);
	free(ss);
	*sp = NULL;
}

void
storesync_set_identity(struct storesync *ss, struct identity *id)
{
	ss->identity = id;
}

void
storesync_set_image(struct storesync *ss, struct image_service *im)
{
	ss->image = im;
}

void
storesync_changed(struct storesync *ss)
{
	uint64_t one = 1;

	if (ss == NULL)
		return;
	atomic_store(&ss->dirty, 1);
	/* Fails only when the counter would overflow (then a wake-up is
	 * pending anyway); the tick covers the mark regardless. */
	if (write(ss->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("storesync: wake-up");
}

int
storesync_wake_fd(const struct storesync *ss)
{
	return ss->wakefd;
}

int
storesync_woken(struct storesync *ss, int64_t now)
{
	uint64_t n;

	if (read(ss->wakefd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("storesync: wake-up");
	/* Each derivation reads every volume and snapshot: a burst of
	 * commits is folded into one per STORESYNC_WAKE_GAP_MS; what falls
	 * inside the gap waits for the next wake-up or tick (1 s at most). */
	if (!atomic_load(&ss->dirty) || now - ss->last_sync <
	    STORESYNC_WAKE_GAP_MS)
		return 0;
	if (storesync_sync(ss, now) == -1) {
		log_err("storage state");
		return -1;
	}
	storesync_send_due(ss, now);
	return 1;
}

int
storesync_pending(struct storesync *ss)
{
	return atomic_load(&ss->dirty);
}

/* ---- derivation ------------------------------------------------------------- */

static int
dup_str(char **f, const char *s)
{
	if (s == NULL)
		return 0;
	if ((*f = strdup(s)) == NULL) {
		err_set(TS_ENOMEM, "storesync: out of memory");
		return -1;
	}
	return 0;
}

static int
next_begin(struct host *h)
{
	codec_free(&schema_msg_host_storage, (void **)&h->next);
	h->vcap = h->scap = 0;
	if ((h->next = calloc(1, sizeof(*h->next))) == NULL ||
	    dup_str(&h->next->host, h->name) == -1) {
		err_set(TS_ENOMEM, "storesync: out of memory");
		return -1;
	}
	return 0;
}

static bool
gone_status(const char *s)
{
	return strcmp(s, "deleting") == 0 || strcmp(s, "error_deleting") == 0;
}

struct derive {
	struct storesync	*ss;
	struct store_txn	*txn;
	int64_t			 now;	/* wall clock, ms: upload deadlines */
};

static int
idlist_add(struct idlist *l, const char *id)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		void *n = realloc(l->v, nc * sizeof(*l->v));

		if (n == NULL) {
			err_set(TS_ENOMEM, "storesync: out of memory");
			return -1;
		}
		l->v = n;
		l->cap = nc;
	}
	snprintf(l->v[l->n++], CODEC_UUID_LEN + 1, "%s", id);
	return 0;
}

static int
add_volume(struct rec_volume *v, void *arg)
{
	struct derive *d = arg;
	struct host *h;
	struct sch_sto_volume *sv;
	bool creating = strcmp(v->status, "creating") == 0;

	if (v->host == NULL || *v->host == '\0')
		return 0;
	if ((h = host_get(d->ss, v->host)) == NULL)
		return 0;	/* logged by the caller's summary */
	if (h->next == NULL && next_begin(h) == -1)
		return -1;
	if (h->next->volumes.n == h->vcap) {
		size_t nc = h->vcap ? h->vcap * 2 : 16;
		void *nv = realloc(h->next->volumes.items, nc * sizeof(*sv));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "storesync: out of memory");
			return -1;
		}
		h->next->volumes.items = nv;
		h->vcap = nc;
	}
	sv = &h->next->volumes.items[h->next->volumes.n++];
	memset(sv, 0, sizeof(*sv));
	memcpy(sv->id, v->id, sizeof(sv->id));
	sv->present = !gone_status(v->status);
	sv->size_gb = v->size;
	if (creating && (dup_str(&sv->source_volume, v->source_volid) == -1 ||
	    dup_str(&sv->source_snapshot, v->snapshot_id) == -1))
		return -1;
	if (strcmp(v->status, "uploading") == 0 && v->upload_image_id != NULL &&
	    sv->present) {
		/* Past its deadline: ended after this read (expire()); not
		 * asked for any more. */
		if (v->has_upload_deadline && v->upload_deadline <=
		    d->now) {
			if (idlist_add(&d->ss->expired, v->id) == -1)
				return -1;
		} else if (dup_str(&sv->upload_image_id,
		    v->upload_image_id) == -1 ||
		    dup_str(&sv->upload_disk_format, v->upload_disk_format ?
		    v->upload_disk_format : "raw") == -1)
			return -1;
	}
	if (creating && v->image_id != NULL) {
		struct rec_image im;

		if (dup_str(&sv->image_id, v->image_id) == -1)
			return -1;
		if (image_db_get(d->txn, v->image_id, &im) == 0) {
			if (dup_str(&sv->image_disk_format, im.disk_format) ==
			    -1 || (im.os_hash_algo != NULL &&
			    strcmp(im.os_hash_algo, "sha512") == 0 &&
			    dup_str(&sv->image_sha512, im.os_hash_value) ==
			    -1)) {
				codec_clear(&schema_rec_image, &im);
				return -1;
			}
			sv->has_image_size = im.has_size;
			sv->image_size = im.size;
			codec_clear(&schema_rec_image, &im);
		} else if (err_code() != TS_ENOT_FOUND)
			return -1;
	}
	if (sv->present) {
		size_t n = 0;

		for (size_t i = 0; i < v->attachments.n; i++)
			n += v->attachments.items[i].initiator != NULL &&
			    *v->attachments.items[i].initiator != '\0';
		if (n > 0 && (sv->exports.items = calloc(n,
		    sizeof(*sv->exports.items))) == NULL) {
			err_set(TS_ENOMEM, "storesync: out of memory");
			return -1;
		}
		for (size_t i = 0; i < v->attachments.n; i++) {
			const struct sch_vol_attachment *a =
			    &v->attachments.items[i];
			struct sch_sto_export *e;

			if (a->initiator == NULL || *a->initiator == '\0')
				continue;
			e = &sv->exports.items[sv->exports.n++];
			memcpy(e->attachment_id, a->id,
			    sizeof(e->attachment_id));
			if (dup_str(&e->initiator, a->initiator) == -1 ||
			    dup_str(&e->chap_user, a->chap_user ?
			    a->chap_user : "") == -1 ||
			    dup_str(&e->chap_secret, a->chap_secret ?
			    a->chap_secret : "") == -1)
				return -1;
		}
	}
	return 0;
}

static int
add_snapshot(struct rec_volume_snapshot *s, void *arg)
{
	struct derive *d = arg;
	struct host *h;
	struct sch_sto_snapshot *ss;

	if (s->host == NULL || *s->host == '\0' ||
	    (h = host_get(d->ss, s->host)) == NULL)
		return 0;
	if (h->next == NULL && next_begin(h) == -1)
		return -1;
	if (h->next->snapshots.n == h->scap) {
		size_t nc = h->scap ? h->scap * 2 : 16;
		void *nv = realloc(h->next->snapshots.items, nc * sizeof(*ss));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "storesync: out of memory");
			return -1;
		}
		h->next->snapshots.items = nv;
		h->scap = nc;
	}
	ss = &h->next->snapshots.items[h->next->snapshots.n++];
	memset(ss, 0, sizeof(*ss));
	memcpy(ss->id, s->id, sizeof(ss->id));
	memcpy(ss->volume_id, s->volume_id, sizeof(ss->volume_id));
	ss->present = !gone_status(s->status);
	return 0;
}

/* One backup or restore for host (volume_backups_derive()). */
static int
add_backup(const char *host, const struct sch_sto_backup *op, void *arg)
{
	struct derive *d = arg;
	struct sch_sto_backup *sb;
	struct host *h;
	void *nv;

	if ((h = host_get(d->ss, host)) == NULL)
		return 0;
	if (h->next == NULL && next_begin(h) == -1)
		return -1;
	/* Backups in progress are few: grown one at a time. */
	nv = realloc(h->next->backups.items, (h->next->backups.n + 1) *
	    sizeof(*sb));
	if (nv == NULL) {
		err_set(TS_ENOMEM, "storesync: out of memory");
		return -1;
	}
	h->next->backups.items = nv;
	sb = &h->next->backups.items[h->next->backups.n++];
	*sb = *op;
	sb->sha512 = NULL;
	sb->snapshot_id = NULL;
	sb->data_url = NULL;
	sb->token = NULL;
	if (dup_str(&sb->sha512, op->sha512) == -1 ||
	    dup_str(&sb->snapshot_id, op->snapshot_id) == -1 ||
	    dup_str(&sb->data_url, d->ss->data_url) == -1)
		return -1;
	return 0;
}

static int
add_host_rec(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct storesync *ss = arg;
	char name[256];

	if (kl == 0 || kl >= sizeof(name))
		return 0;
	memcpy(name, k, kl);
	name[kl] = '\0';
	(void)host_get(ss, name);
	return 0;
}

/* ---- volume uploads ------------------------------------------------------- */

/* Images of ended uploads to discard after the commit. */
struct ended {
	char	(*ids)[CODEC_UUID_LEN + 1];
	size_t	  n;
};

/*
 * The upload of v ends (the host answered, or the deadline passed): the
 * volume goes back to the status it had, the upload fields go; a failed
 * upload's image is noted in e for image_volume_upload_discard() after the
 * commit (one that became active stays there).
 */
static int
upload_end(struct rec_volume *v, bool ok, const char *why, struct ended *e)
{
	const char *back = v->upload_prev_status != NULL &&
	    strcmp(v->upload_prev_status, "in-use") == 0 ? "in-use" :
	    "available";

	if (ok)
		log_info("volume %s uploaded to image %s", v->id,
		    v->upload_image_id);
	else {
		void *n = realloc(e->ids, (e->n + 1) * sizeof(*e->ids));

		log_warnx("volume %s: upload to image %s failed: %s", v->id,
		    v->upload_image_id, why);
		if (n == NULL) {
			err_set(TS_ENOMEM, "storesync: out of memory");
			return -1;
		}
		e->ids = n;
		snprintf(e->ids[e->n++], CODEC_UUID_LEN + 1, "%s",
		    v->upload_image_id);
	}
	log_info("volume %s: uploading -> %s", v->id, back);
	v->has_upload_deadline = false;
	v->upload_deadline = 0;
	v->generation++;
	v->updated_at = db_now_ms();
	if (codec_str_set(&v->status, back) == -1 ||
	    codec_str_set(&v->upload_image_id, NULL) == -1 ||
	    codec_str_set(&v->upload_disk_format, NULL) == -1 ||
	    codec_str_set(&v->upload_prev_status, NULL) == -1)
		return -1;
	return 0;
}

static void
ended_discard(struct storesync *ss, struct ended *e)
{
	for (size_t i = 0; i < e->n; i++) {
		if (ss->image == NULL)
			log_warnx("image %s of a failed volume upload stays "
			    "queued (no image service)", e->ids[i]);
		else if (image_volume_upload_discard(ss->image, e->ids[i]) ==
		    -1)
			log_warnx("image %s of a failed volume upload not "
			    "discarded: %s", e->ids[i], err_msg());
	}
	free(e->ids);
	e->ids = NULL;
	e->n = 0;
}

struct expiry {
	struct storesync	*ss;
	struct ended		 e;
};

static int
expire_fn(struct store_txn *txn, void *arg)
{
	struct expiry *x = arg;
	int64_t now = db_now_ms();

	x->e.n = 0;
	for (size_t i = 0; i < x->ss->expired.n; i++) {
		struct rec_volume v;
		int rc = 0;
		bool end;

		if (volume_db_get(txn, x->ss->expired.v[i], &v) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				continue;
			return -1;
		}
		/* again, in the transaction: the answer may have come */
		end = strcmp(v.status, "uploading") == 0 &&
		    v.upload_image_id != NULL && v.has_upload_deadline &&
		    v.upload_deadline <= now;
		if (end && (rc = upload_end(&v, false, "deadline passed",
		    &x->e)) == 0)
			rc = volume_db_put(txn, NULL, &v);
		codec_clear(&schema_rec_volume, &v);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Bus thread, after a derivation that found uploads past their deadline. */
static void
expire(struct storesync *ss)
{
	struct expiry x = { .ss = ss };

	if (store_write(ss->store, expire_fn, &x) == -1) {
		log_warnx("storesync: ending %zu expired volume uploads: %s",
		    ss->expired.n, err_msg());
		free(x.e.ids);
		return;
	}
	ss->expired.n = 0;
	atomic_store(&ss->dirty, 1);
	ended_discard(ss, &x.e);
}

/* A backup or restore past its deadline (volume_backups_derive()). */
static int
add_backup_expired(const char *id, void *arg)
{
	struct derive *d = arg;

	return idlist_add(&d->ss->bexpired, id);
}

int
storesync_sync(struct storesync *ss, int64_t now)
{
	struct store_txn *txn = NULL;
	struct derive d = { .ss = ss, .now = db_now_ms() };
	int rc;

	atomic_store(&ss->dirty, 0);
	ss->expired.n = 0;
	ss->bexpired.n = 0;
	if (store_read_begin(ss->store, &txn) == -1)
		return -1;
	d.txn = txn;
	rc = store_iter(txn, T_STORAGE_HOSTS, NULL, 0, add_host_rec, ss);
	for (size_t i = 0; rc == 0 && i < ss->nhosts; i++)
		rc = next_begin(ss->hosts[i]);
	if (rc == 0)
		rc = volume_db_each(txn, NULL, add_volume, &d);
	if (rc == 0)
		rc = volume_db_snap_each(txn, NULL, add_snapshot, &d);
	if (rc == 0)
		rc = volume_backups_derive(txn, d.now, add_backup,
		    add_backup_expired, &d);
	store_txn_end(&txn);
	for (size_t i = 0; i < ss->nhosts; i++) {
		struct host *h = ss->hosts[i];
		struct buf b = { 0 };

		if (rc == 0 && h->next == NULL)
			rc = next_begin(h);
		if (rc == -1 || h->next == NULL) {
			codec_free(&schema_msg_host_storage,
			    (void **)&h->next);
			continue;
		}
		h->next->generation = 0;
		if (codec_encode(&schema_msg_host_storage, h->next, &b) == -1) {
			log_warnx("host_storage of %s: %s", h->name,
			    err_msg());
			codec_free(&schema_msg_host_storage,
			    (void **)&h->next);
			buf_free(&b);
			continue;
		}
		if (h->want != NULL && b.len == h->body.len &&
		    memcmp(b.data, h->body.data, b.len) == 0) {
			codec_free(&schema_msg_host_storage,
			    (void **)&h->next);
			buf_free(&b);
			continue;
		}
		codec_free(&schema_msg_host_storage, (void **)&h->want);
		h->want = h->next;
		h->next = NULL;
		buf_free(&h->body);
		h->body = b;
		h->gen++;
		h->want->generation = h->gen;
		h->backoff = 0;
		h->next_send = now;
	}
	ss->next_scan = now + STORESYNC_RESCAN_MS;
	ss->last_sync = now;
	if (rc == 0 && ss->expired.n > 0)
		expire(ss);
	if (rc == 0 && ss->bexpired.n > 0) {
		if (volume_backups_expire(ss->store, db_now_ms(),
		    (const char (*)[CODEC_UUID_LEN + 1])ss->bexpired.v,
		    ss->bexpired.n) == -1)
			log_warnx("storesync: ending %zu expired volume "
			    "backups: %s", ss->bexpired.n, err_msg());
		else
			atomic_store(&ss->dirty, 1);
		ss->bexpired.n = 0;
	}
	return rc;
}

/* ---- sending ---------------------------------------------------------------- */

/* Capabilities for the volumes being filled from an image, only in the
 * copy sent. */
static void
tokens(struct storesync *ss, struct host *h, bool set)
{
	for (size_t i = 0; i < h->want->volumes.n; i++) {
		struct sch_sto_volume *v = &h->want->volumes.items[i];
		char cap[CAPABILITY_BUFSZ];
		const char *ids[1];

		if (!set) {
			if (v->image_token != NULL) {
				explicit_bzero(v->image_token,
				    strlen(v->image_token));
				free(v->image_token);
				v->image_token = NULL;
			}
			if (v->upload_token != NULL) {
				explicit_bzero(v->upload_token,
				    strlen(v->upload_token));
				free(v->upload_token);
				v->upload_token = NULL;
			}
			continue;
		}
		/* The upload capability of exactly the upload's image. */
		if (v->upload_image_id != NULL && ss->identity != NULL) {
			if (identity_capability_mint_upload(ss->identity,
			    h->name, v->id, v->upload_image_id,
			    ss->cap_lifetime, cap, sizeof(cap)) == -1)
				log_warnx("volume %s: no upload capability: %s",
				    v->id, err_msg());
			else
				v->upload_token = strdup(cap);
			explicit_bzero(cap, sizeof(cap));
		}
		if (v->image_id == NULL || ss->identity == NULL)
			continue;
		ids[0] = v->image_id;
		if (identity_capability_mint(ss->identity, h->name, v->id, ids,
		    1, ss->cap_lifetime, cap, sizeof(cap)) == -1) {
			log_warnx("volume %s: no image capability: %s", v->id,
			    err_msg());
			continue;
		}
		v->image_token = strdup(cap);
		explicit_bzero(cap, sizeof(cap));
	}
	/* A backup's upload, a restore's download: of that backup's data
	 * only, from this host, for that volume. */
	for (size_t i = 0; i < h->want->backups.n; i++) {
		struct sch_sto_backup *b = &h->want->backups.items[i];
		char cap[CAPABILITY_BUFSZ];
		const char *ids[1] = { b->id };
		int rc;

		if (b->token != NULL) {
			explicit_bzero(b->token, strlen(b->token));
			free(b->token);
			b->token = NULL;
		}
		if (!set || ss->identity == NULL)
			continue;
		rc = b->restore ? identity_capability_mint(ss->identity,
		    h->name, b->volume_id, ids, 1, ss->cap_lifetime, cap,
		    sizeof(cap)) : identity_capability_mint_upload(ss->identity,
		    h->name, b->volume_id, b->id, ss->cap_lifetime, cap,
		    sizeof(cap));
		if (rc == -1) {
			log_warnx("backup %s: no capability: %s", b->id,
			    err_msg());
			continue;
		}
		b->token = strdup(cap);
		explicit_bzero(cap, sizeof(cap));
	}
}

static void
send_one(struct storesync *ss, struct host *h, int64_t now)
{
	struct buf b = { 0 };
	char reqid[64], u[CODEC_UUID_LEN + 1];

	db_uuid(u);
	snprintf(reqid, sizeof(reqid), "req-%s", u);
	snprintf(h->reqid, sizeof(h->reqid), "%s", reqid);
	tokens(ss, h, true);
	if (ss->bus == NULL)
		;
	else if (codec_envelope_encode(&schema_msg_host_storage, h->want,
	    reqid, ss->sender, &b) == -1 ||
	    bus_send(ss->bus, h->name, b.data, b.len) == -1)
		log_debug("host_storage %llu to %s: %s",
		    (unsigned long long)h->gen, h->name, err_msg());
	else
		log_debug("host_storage %llu sent to %s (%s)",
		    (unsigned long long)h->gen, h->name, reqid);
	tokens(ss, h, false);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	h->backoff = h->backoff == 0 ? STORESYNC_BACKOFF_MIN_MS :
	    h->backoff * 2;
	if (h->backoff > STORESYNC_BACKOFF_MAX_MS)
		h->backoff = STORESYNC_BACKOFF_MAX_MS;
	h->next_send = now + h->backoff;
}

void
storesync_send_due(struct storesync *ss, int64_t now)
{
	for (size_t i = 0; i < ss->nhosts; i++) {
		struct host *h = ss->hosts[i];

		if (h->want == NULL || (h->reported && h->applied == h->gen) ||
		    now < h->next_send)
			continue;
		/* An empty state to a host that never reported storage is a
		 * no-op (an agent removes only what is named) but asks for
		 * its backend: sent once a host said hello (placement must
		 * know the hosts without storage), not to names only seen in
		 * records. */
		if (!h->reported && !h->greeted && h->want->volumes.n == 0 &&
		    h->want->snapshots.n == 0)
			continue;
		send_one(ss, h, now);
	}
}

static int
pend_fn(struct store_txn *txn, void *arg)
{
	struct storesync *ss = arg;

	for (size_t i = 0; i < ss->npend; i++)
		if (volume_db_host_put(txn, &ss->pend[i]) == -1)
			return -1;
	return 0;
}

/* The waiting "none" reports, in one transaction. */
static int
pend_flush(struct storesync *ss)
{
	int rc;

	if (ss->npend == 0)
		return 0;
	if ((rc = store_write(ss->store, pend_fn, ss)) == -1)
		log_warnx("storesync: writing %zu hosts' reports: %s",
		    ss->npend, err_msg());
	for (size_t i = 0; i < ss->npend; i++) {
		free(ss->pend[i].backend);
		free(ss->pend[i].portal);
	}
	ss->npend = 0;
	return rc;
}

void
storesync_tick(struct storesync *ss, int64_t now)
{
	(void)pend_flush(ss);
	if ((atomic_load(&ss->dirty) || now >= ss->next_scan) &&
	    storesync_sync(ss, now) == -1) {
		log_err("storage state");
		ss->next_scan = now + STORESYNC_RESCAN_MS;
	}
	storesync_send_due(ss, now);
}

void
storesync_hello(struct storesync *ss, const char *host, int64_t now)
{
	struct host *h = host_get(ss, host);

	if (h == NULL) {
		log_err("storesync");
		return;
	}
	h->reported = 0;
	h->greeted = 1;
	h->applied = 0;
	h->backoff = 0;
	h->next_send = now;
	/* A restarted agent's exports are not known to be in place. */
	pthread_mutex_lock(&ss->ready_lock);
	h->nready = 0;
	pthread_mutex_unlock(&ss->ready_lock);
	atomic_store(&ss->dirty, 1);
	/* Even empty: the answer names the host's backend (or "none"). A
	 * host new to storesync has no state yet: the next tick sends. */
	if (h->want != NULL)
		send_one(ss, h, now);
}

/* ---- reports ---------------------------------------------------------------- */

struct report {
	struct storesync			*ss;
	const char				*host;
	const struct msg_host_storage_state	*m;
	unsigned				 changed;
	bool					 strand;	/* "none", asked for volumes */
	struct ended				 ended;		/* failed uploads */
};

static const struct sch_sto_status *
status_of(const struct msg_host_storage_state *m, const char *id, bool snap)
{
	const struct sch_sto_status *l = snap ? m->snapshots.items :
	    m->volumes.items;
	size_t n = snap ? m->snapshots.n : m->volumes.n;

	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].id, id) == 0)
			return &l[i];
	return NULL;
}

static int
fault(char **f, const struct sch_sto_status *st, const char *dflt)
{
	return codec_str_set(f, st->message != NULL && *st->message !=
	    '\0' ? st->message : dflt);
}

/* One volume of the report's host: the transition its status allows. */
static int
apply_volume(struct store_txn *txn, struct report *r, const char *id)
{
	const struct sch_sto_status *st = status_of(r->m, id, false);
	struct rec_volume v;
	const char *to = NULL;
	int rc = 0;

	if (st == NULL)
		return 0;
	if (volume_db_get(txn, id, &v) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (v.host == NULL || strcmp(v.host, r->host) != 0)
		goto out;	/* not this host's to report */
	if (strcmp(v.status, "creating") == 0) {
		if (!st->ok) {
			to = "error";
			rc = fault(&v.fault, st, "creation failed");
		} else if (st->present && st->size_gb >= v.size) {
			/* A server's new volume (boot from volume) has its
			 * attachment from the start. */
			to = v.attachments.n > 0 ? "attaching" : "available";
			if (v.image_id != NULL)
				v.bootable = true;
			rc = codec_str_set(&v.fault, NULL);
		}
	} else if (strcmp(v.status, "extending") == 0) {
		if (!st->ok) {
			to = "error_extending";
			rc = fault(&v.fault, st, "extend failed");
		} else if (st->present && st->size_gb >= v.size)
			to = "available";
	} else if (strcmp(v.status, "uploading") == 0) {
		/* The host's answer to this upload (not an older one's). */
		if (v.upload_image_id == NULL || st->upload_image_id == NULL ||
		    strcmp(st->upload_image_id, v.upload_image_id) != 0)
			goto out;
		r->changed++;
		if (upload_end(&v, st->has_upload_ok && st->upload_ok,
		    st->upload_message != NULL ? st->upload_message :
		    "failed", &r->ended) == -1 ||
		    volume_db_put(txn, NULL, &v) == -1)
			rc = -1;
		goto out;
	} else if (strcmp(v.status, "deleting") == 0) {
		if (!st->ok) {
			to = "error_deleting";
			rc = fault(&v.fault, st, "delete failed");
		} else if (!st->present) {
			log_info("volume %s deleted from %s", v.id, r->host);
			r->changed++;
			if (volume_db_del(txn, &v) == -1 ||
			    volume_db_usage_add(txn, v.project_id, -1,
			    -(int64_t)v.size, 0) == -1)
				rc = -1;
			goto out;
		}
	}
	if (rc == 0 && to != NULL) {
		log_info("volume %s: %s -> %s", v.id, v.status, to);
		r->changed++;
		v.updated_at = db_now_ms();
		if (codec_str_set(&v.status, to) == -1 ||
		    volume_db_put(txn, NULL, &v) == -1)
			rc = -1;
	}
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

static int
apply_snapshot(struct store_txn *txn, struct report *r, const char *id)
{
	const struct sch_sto_status *st = status_of(r->m, id, true);
	struct rec_volume_snapshot s;
	const char *to = NULL;
	int rc = 0;

	if (st == NULL)
		return 0;
	if (volume_db_snap_get(txn, id, &s) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (s.host == NULL || strcmp(s.host, r->host) != 0)
		goto out;
	if (strcmp(s.status, "creating") == 0) {
		if (!st->ok) {
			to = "error";
			rc = fault(&s.fault, st, "snapshot failed");
		} else if (st->present)
			to = "available";
	} else if (strcmp(s.status, "deleting") == 0) {
		if (!st->ok) {
			to = "error_deleting";
			rc = fault(&s.fault, st, "snapshot delete failed");
		} else if (!st->present) {
			log_info("snapshot %s deleted from %s", s.id, r->host);
			r->changed++;
			if (volume_db_snap_del(txn, &s) == -1 ||
			    volume_db_usage_add(txn, s.project_id, 0,
			    -(int64_t)s.size, -1) == -1)
				rc = -1;
			goto out;
		}
	}
	if (rc == 0 && to != NULL) {
		log_info("snapshot %s: %s -> %s", s.id, s.status, to);
		r->changed++;
		s.updated_at = db_now_ms();
		if (codec_str_set(&s.status, to) == -1 ||
		    volume_db_snap_put(txn, &s) == -1)
			rc = -1;
	}
out:
	codec_clear(&schema_rec_volume_snapshot, &s);
	return rc;
}

static int
report_fn(struct store_txn *txn, void *arg)
{
	struct report *r = arg;
	struct rec_storage_host h = { 0 };
	int rc;

	r->ended.n = 0;
	h.host = (char *)r->host;
	h.backend = r->m->backend;
	h.portal = r->m->portal;
	h.total_gb = r->m->total_gb;
	h.free_gb = r->m->free_gb;
	h.updated_at = db_now_ms();
	if (volume_db_host_put(txn, &h) == -1)
		return -1;
	/* The host record says "none" first: not picked again. */
	if (r->strand && volume_strand(txn, r->host, r->ss->down_ms,
	    &r->changed) == -1)
		return -1;
	for (size_t i = 0; i < r->m->volumes.n; i++)
		if ((rc = apply_volume(txn, r, r->m->volumes.items[i].id)) ==
		    -1)
			return -1;
	for (size_t i = 0; i < r->m->snapshots.n; i++)
		if ((rc = apply_snapshot(txn, r,
		    r->m->snapshots.items[i].id)) == -1)
			return -1;
	return volume_backups_report(txn, r->host, r->m->backups.items,
	    r->m->backups.n, &r->changed);
}

void
storesync_set_ready_fn(struct storesync *ss, storesync_ready_fn fn, void *arg)
{
	ss->ready_fn = fn;
	ss->ready_arg = arg;
}

/* The exports of the desired message the report shows in place; *added
 * (owned, *nadded entries) those that were not before. */
static void
ready_update(struct storesync *ss, struct host *h,
    const struct msg_host_storage_state *m, struct ready **added,
    size_t *nadded)
{
	size_t n = 0, cap = 0;
	struct ready *list = NULL;

	*added = NULL;
	*nadded = 0;
	if (h->want == NULL || m->generation != h->gen)
		return;		/* not the state that has the exports */
	for (size_t i = 0; i < h->want->volumes.n; i++) {
		const struct sch_sto_volume *v = &h->want->volumes.items[i];
		const struct sch_sto_status *st = status_of(m, v->id, false);

		if (st == NULL || !st->present || !st->ok || st->iqn == NULL ||
		    *st->iqn == '\0')
			continue;
		for (size_t k = 0; k < v->exports.n && n < ATT_MAX; k++) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				void *nv = realloc(list, nc * sizeof(*list));

				if (nv == NULL) {
					free(list);
					log_warnx("storesync: out of memory");
					return;
				}
				list = nv;
				cap = nc;
			}
			memset(&list[n], 0, sizeof(list[n]));
			memcpy(list[n].volume_id, v->id,
			    sizeof(list[n].volume_id));
			memcpy(list[n].attachment_id,
			    v->exports.items[k].attachment_id,
			    sizeof(list[n].attachment_id));
			snprintf(list[n].initiator, sizeof(list[n].initiator),
			    "%s", v->exports.items[k].initiator ?
			    v->exports.items[k].initiator : "");
			n++;
		}
	}
	/* New ones (the lists are small: an attachment's life). */
	if (ss->ready_fn != NULL && n > 0 &&
	    (*added = calloc(n, sizeof(**added))) != NULL) {
		for (size_t i = 0; i < n; i++) {
			size_t k;

			for (k = 0; k < h->nready; k++)
				if (memcmp(&h->ready[k], &list[i],
				    sizeof(list[i])) == 0)
					break;
			if (k == h->nready)
				(*added)[(*nadded)++] = list[i];
		}
	}
	pthread_mutex_lock(&ss->ready_lock);
	free(h->ready);
	h->ready = list;
	h->nready = n;
	pthread_mutex_unlock(&ss->ready_lock);
}

int
storesync_report(struct storesync *ss, const char *host,
    const struct msg_host_storage_state *m)
{
	struct report r = { .ss = ss, .host = host, .m = m };
	struct host *h;

	if ((h = host_get(ss, host)) == NULL)
		return -1;
	/* Only when this host was asked for volumes: a host without storage
	 * answers every hello. */
	r.strand = m->backend != NULL && strcmp(m->backend, "none") == 0 &&
	    h->want != NULL && h->want->volumes.n > 0;
	h->applied = m->generation;
	h->reported = 1;
	if (h->applied == h->gen) {
		h->backoff = 0;
	} else if (h->applied > h->gen) {
		log_info("host %s applied storage generation %llu, ahead of "
		    "%llu: renumbering", host, (unsigned long long)h->applied,
		    (unsigned long long)h->gen);
		h->gen = h->applied + 1;
		if (h->want != NULL)
			h->want->generation = h->gen;
		h->backoff = 0;
		h->next_send = 0;
	}
	struct ready *added;
	size_t nadded;
	int rc = 0;

	ready_update(ss, h, m, &added, &nadded);
	if (!r.strand && nadded == 0 && m->volumes.n == 0 &&
	    m->snapshots.n == 0 && m->backend != NULL &&
	    strcmp(m->backend, "none") == 0) {
		struct rec_storage_host *p = &ss->pend[ss->npend];

		/* Nothing but "no storage here": with the next batch. */
		memset(p, 0, sizeof(*p));
		p->host = h->name;
		p->total_gb = m->total_gb;
		p->free_gb = m->free_gb;
		p->updated_at = db_now_ms();
		if ((p->backend = strdup(m->backend)) == NULL ||
		    (m->portal != NULL &&
		    (p->portal = strdup(m->portal)) == NULL)) {
			free(p->backend);
			free(added);
			err_set(TS_ENOMEM, "storesync: out of memory");
			return -1;
		}
		free(added);
		if (++ss->npend == NONE_BATCH)
			return pend_flush(ss);
		return 0;
	}
	/* After the waiting ones: this host's newest report wins. */
	if (pend_flush(ss) == -1)
		rc = -1;
	if (store_write(ss->store, report_fn, &r) == -1) {
		rc = -1;
		free(r.ended.ids);
	} else {
		if (r.changed > 0)
			atomic_store(&ss->dirty, 1);
		ended_discard(ss, &r.ended);
	}
	/* The guests waiting for these exports hear now, not at their
	 * host's next report. */
	for (size_t i = 0; i < nadded; i++)
		ss->ready_fn(ss->ready_arg, added[i].volume_id,
		    added[i].attachment_id);
	free(added);
	return rc;
}

/* An agent without [storage] refuses a host_storage naming volumes
 * (agent/main.c): taken as its report of backend "none", applied
 * nothing, so the host's volumes are re-placed and the host is asked
 * again (empty by then). Only the answer to the last host_storage sent
 * counts: the code alone is not specific. */
static int
refused(struct storesync *ss, const char *host, const struct msg_error *e)
{
	struct msg_host_storage_state st = { 0 };
	struct host *h = host_find(ss, host);

	if (h == NULL || e->code != TS_EUNAVAILABLE || e->in_reply_to ==
	    NULL || h->reqid[0] == '\0' || strcmp(e->in_reply_to, h->reqid) !=
	    0)
		return 0;
	st.backend = "none";
	st.portal = "";
	if (storesync_report(ss, host, &st) == -1)
		log_warnx("host_storage refused by %s: %s", host, err_msg());
	return 1;
}

int
storesync_agent_msg(struct storesync *ss, const char *host,
    struct codec_envelope *env)
{
	if (env->type == &schema_msg_error)
		return refused(ss, host, env->body);
	if (env->type != &schema_msg_host_storage_state)
		return 0;
	if (storesync_report(ss, host, env->body) == -1)
		log_warnx("host_storage_state from %s: %s", host, err_msg());
	return 1;
}

/* ---- fleet hooks and inspection --------------------------------------------- */

static void
hook_report(const char *host, const struct sch_guest *guests, size_t n,
    int hello, void *arg)
{
	if (hello)
		storesync_hello(arg, host, db_now_ms());
}

static int
hook_message(const char *host, struct codec_envelope *env, void *arg)
{
	return storesync_agent_msg(arg, host, env);
}

void
storesync_fleet_hooks(struct storesync *ss, struct fleet_hooks *fh)
{
	memset(fh, 0, sizeof(*fh));
	fh->report = hook_report;
	fh->message = hook_message;
	fh->arg = ss;
}

const struct msg_host_storage *
storesync_desired(struct storesync *ss, const char *host)
{
	struct host *h = host_find(ss, host);

	return h != NULL ? h->want : NULL;
}

uint64_t
storesync_applied(struct storesync *ss, const char *host)
{
	struct host *h = host_find(ss, host);

	return h != NULL && h->reported ? h->applied : 0;
}

const char *
storesync_last_request(struct storesync *ss, const char *host)
{
	struct host *h = host_find(ss, host);

	return h != NULL ? h->reqid : "";
}

bool
storesync_ready(struct storesync *ss, const char *host, const char *volume_id,
    const char *attachment_id, const char *initiator)
{
	bool ok = false;

	if (host == NULL || initiator == NULL)
		return false;
	pthread_mutex_lock(&ss->ready_lock);
	for (size_t i = 0; i < ss->nhosts && !ok; i++) {
		struct host *h = ss->hosts[i];

		if (strcmp(h->name, host) != 0)
			continue;
		for (size_t k = 0; k < h->nready && !ok; k++)
			ok = strcmp(h->ready[k].volume_id, volume_id) == 0 &&
			    strcmp(h->ready[k].attachment_id,
			    attachment_id) == 0 &&
			    strcmp(h->ready[k].initiator, initiator) == 0;
	}
	pthread_mutex_unlock(&ss->ready_lock);
	return ok;
}
