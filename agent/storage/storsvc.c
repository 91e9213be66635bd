/* storsvc: the agent's storage worker thread; see storsvc.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "buf.h"
#include "clock.h"
#include "codec.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "msg_gen.h"
#include "storage/storsvc.h"
#include "storage/tgt.h"
#include "storage/volbackup.h"
#include "storage/volstore.h"

#define UNKNOWN_MAX	1024	/* schema maximum of unknown */
#define UPLOADS_MAX	64	/* answered uploads remembered */

/* An upload this worker started: running on its thread, then answered
 * until no longer named. Under mu. */
struct updone {
	char	image_id[65];
	bool	running;
	bool	ok;
	char	msg[512];
};

struct storsvc {
	struct volstore		*vs;
	struct tgt		*tgt;		/* NULL: no exports here */
	char			 host[256];
	int			 tick_ms;
	storsvc_send_fn		 send;
	/* storsvc_stats() */
	struct metrics_runs	 st;
	void			*arg;

	pthread_t		 th;
	int			 started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	/* Under mu. */
	struct msg_host_storage	*pending;
	char			 pending_req[CODEC_REQUEST_ID_MAX + 1];
	int			 kick;
	int			 stop;

	/* Set before the first message (storsvc_set_uploader()). */
	storsvc_upload_fn	 upload;
	void			*upload_arg;
	char			 updir[512];

	/* Under mu: the uploads started (their threads fill them in) and
	 * how many threads run. */
	struct updone		 done[UPLOADS_MAX];
	size_t			 ndone;
	unsigned		 nrunning;

	/* Worker only. */
	struct msg_host_storage	*desired;	/* last applied; NULL: none */
	struct buf		 last;		/* last state sent, encoded */
	uint64_t		 seq;
	int			 tgt_down;	/* last converge found no tgtd */
	struct volbackup	*vb;	/* made at the first backup op */
};

/* ------------------------------------------------------------ converge */

/* Per named item during a converge. */
struct mark {
	char	msg[1024];
	bool	failed;
	bool	exported;	/* its target is as wanted, with exports */
};

static const struct volstore_item *
find(const struct volstore_item *v, size_t n, const char *id, bool snap)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].snapshot == snap && strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

static void
fail(struct mark *mk, const char *what)
{
	if (mk->failed)
		return;		/* the first reason is the one told */
	mk->failed = true;
	snprintf(mk->msg, sizeof(mk->msg), "%s: %s", what, err_msg());
}

static int
relist(struct volstore *vs, struct volstore_item **items, size_t *n)
{
	free(*items);
	*items = NULL;
	*n = 0;
	return volstore_list(vs, items, n);
}

static void
snapshots_create(struct volstore *vs, const struct msg_host_storage *m,
    const struct volstore_item *have, size_t nhave, struct mark *smk,
    bool last_pass)
{
	for (size_t i = 0; i < m->snapshots.n; i++) {
		const struct sch_sto_snapshot *s = &m->snapshots.items[i];

		if (!s->present || find(have, nhave, s->id, true) != NULL ||
		    smk[i].failed)
			continue;
		if (find(have, nhave, s->volume_id, false) == NULL) {
			if (last_pass) {
				err_set(TS_ENOT_FOUND, "volume %s is not on "
				    "this host", s->volume_id);
				fail(&smk[i], "snapshot");
			}
			continue;
		}
		if (volstore_snap_create(vs, s->id, s->volume_id) == -1)
			fail(&smk[i], "snapshot");
		else
			log_info("snapshot %s of volume %s made", s->id,
			    s->volume_id);
	}
}

static int
status_fill(struct sch_sto_status *o, const char *id, const struct
    volstore_item *it, bool want_present, const struct mark *mk,
    const char *iqn)
{
	snprintf(o->id, sizeof(o->id), "%s", id);
	o->present = it != NULL;
	o->size_gb = it ? (it->size + VOLSTORE_GIB - 1) / VOLSTORE_GIB : 0;
	o->ok = !mk->failed && o->present == want_present;
	if (mk->failed && (o->message = strdup(mk->msg)) == NULL)
		return -1;
	if (!mk->failed && o->present != want_present &&
	    (o->message = strdup(want_present ? "not on this host" :
	    "still on this host")) == NULL)
		return -1;
	if (iqn != NULL && (o->iqn = strdup(iqn)) == NULL)
		return -1;
	return 0;
}

static int
converge(struct volstore *vs, struct tgt *tg,
    const struct msg_host_storage *m, struct msg_host_storage_state *st,
    int *tgt_down)
{
	size_t nv = m->volumes.n, ns = m->snapshots.n, nhave = 0, nw = 0;
	struct mark *vmk = calloc(nv + 1, sizeof(*vmk));
	struct mark *smk = calloc(ns + 1, sizeof(*smk));
	struct tgt_want *w = calloc(nv + 1, sizeof(*w));
	size_t *widx = calloc(nv + 1, sizeof(*widx));
	struct tgt_acl *acls = calloc(nv * 16 + 1, sizeof(*acls));
	/* Only exported volumes' paths, so a host of many volumes does not
	 * cost a path buffer each. */
	char **paths = calloc(nv + 1, sizeof(*paths));
	struct volstore_item *have = NULL;
	uint64_t total = 0, freeb = 0;
	int rc = -1;

	*tgt_down = 0;
	if (vmk == NULL || smk == NULL || w == NULL || widx == NULL ||
	    acls == NULL || paths == NULL) {
		err_set(TS_ENOMEM, "storsvc: out of memory");
		goto out;
	}
	if (volstore_list(vs, &have, &nhave) == -1)
		goto out;

	/* Snapshots first: a volume made from one may need it. */
	snapshots_create(vs, m, have, nhave, smk, false);
	if (relist(vs, &have, &nhave) == -1)
		goto out;
	for (size_t i = 0; i < nv; i++) {
		const struct sch_sto_volume *v = &m->volumes.items[i];
		const struct volstore_item *it = find(have, nhave, v->id,
		    false);

		if (!v->present)
			continue;
		if (it == NULL) {
			struct volstore_source src = {
				.source_volume = v->source_volume,
				.source_snapshot = v->source_snapshot,
				.image_id = v->image_id,
				.image_disk_format = v->image_disk_format,
				.image_sha512 = v->image_sha512,
				.image_size = v->has_image_size ?
				    v->image_size : 0,
				.image_token = v->image_token,
			};

			if (volstore_create(vs, v->id, v->size_gb, &src) == -1)
				fail(&vmk[i], "create");
			else
				log_info("volume %s made (%" PRIu64 " GiB)",
				    v->id, v->size_gb);
		} else if (it->size < v->size_gb * VOLSTORE_GIB) {
			if (volstore_extend(vs, v->id, v->size_gb) == -1)
				fail(&vmk[i], "extend");
			else
				log_info("volume %s extended to %" PRIu64
				    " GiB", v->id, v->size_gb);
		}
	}
	if (relist(vs, &have, &nhave) == -1)
		goto out;
	snapshots_create(vs, m, have, nhave, smk, true);

	/* Exports: every named volume's target made as it should be, the
	 * targets of volumes going away deleted before their data. */
	for (size_t i = 0; i < nv; i++) {
		const struct sch_sto_volume *v = &m->volumes.items[i];
		bool exists = find(have, nhave, v->id, false) != NULL;
		struct tgt_want *x = &w[nw];

		if (v->present && v->exports.n > 0 && (!exists ||
		    !volstore_has_devices(vs) || tg == NULL)) {
			if (!vmk[i].failed) {
				vmk[i].failed = true;
				snprintf(vmk[i].msg, sizeof(vmk[i].msg),
				    "export: %s", !exists ? "the volume is "
				    "not on this host" :
				    !volstore_has_devices(vs) ?
				    "metadata-only LVM volumes have no "
				    "device to export" : "no iSCSI target "
				    "service on this host");
			}
			continue;
		}
		if (tg == NULL)
			continue;
		snprintf(x->iqn, sizeof(x->iqn), "%s%s", TGT_IQN_PREFIX,
		    v->id);
		if (v->present && v->exports.n > 0) {
			char p[VOLSTORE_PATH_MAX];

			if (volstore_path(vs, v->id, false, p, sizeof(p)) ==
			    -1) {
				fail(&vmk[i], "export");
				continue;
			}
			if ((paths[i] = strdup(p)) == NULL)
				goto nomem;
			x->path = paths[i];
			x->acls = &acls[i * 16];
			for (size_t k = 0; k < v->exports.n && k < 16; k++) {
				acls[i * 16 + k].initiator =
				    v->exports.items[k].initiator;
				acls[i * 16 + k].user =
				    v->exports.items[k].chap_user;
				acls[i * 16 + k].secret =
				    v->exports.items[k].chap_secret;
				x->nacl++;
			}
		}
		widx[nw++] = i;
	}
	if (tg != NULL && nw > 0) {
		if (tgt_converge(tg, w, nw) == -1) {
			*tgt_down = 1;
			for (size_t k = 0; k < nw; k++)
				fail(&vmk[widx[k]], "export");
		} else {
			for (size_t k = 0; k < nw; k++) {
				struct mark *mk = &vmk[widx[k]];

				if (!w[k].ok && !mk->failed) {
					mk->failed = true;
					snprintf(mk->msg, sizeof(mk->msg),
					    "%s", w[k].msg);
				}
				mk->exported = w[k].ok && w[k].nacl > 0;
			}
		}
	}

	/* Removals, named only: snapshots before the volumes they are of. */
	for (size_t i = 0; i < ns; i++) {
		const struct sch_sto_snapshot *s = &m->snapshots.items[i];

		if (!s->present && find(have, nhave, s->id, true) != NULL) {
			if (volstore_snap_remove(vs, s->id) == -1)
				fail(&smk[i], "remove");
			else
				log_info("snapshot %s removed", s->id);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		const struct sch_sto_volume *v = &m->volumes.items[i];

		if (v->present || find(have, nhave, v->id, false) == NULL)
			continue;
		if (vmk[i].failed)
			continue;	/* still exported: not wiped under tgtd */
		if (volstore_remove(vs, v->id) == -1)
			fail(&vmk[i], "remove");
		else
			log_info("volume %s wiped and removed", v->id);
	}
	if (relist(vs, &have, &nhave) == -1)
		goto out;

	/* The report. */
	memset(st, 0, sizeof(*st));
	st->generation = m->generation;
	if (volstore_capacity(vs, &total, &freeb) == -1)
		log_warnx("storage capacity: %s", err_msg());
	st->total_gb = total / VOLSTORE_GIB;
	st->free_gb = freeb / VOLSTORE_GIB;
	if ((st->backend = strdup(volstore_backend(vs))) == NULL ||
	    (st->portal = strdup(tg ? tgt_portal(tg) : "")) == NULL ||
	    (st->volumes.items = calloc(nv + 1,
	    sizeof(*st->volumes.items))) == NULL ||
	    (st->snapshots.items = calloc(ns + 1,
	    sizeof(*st->snapshots.items))) == NULL ||
	    (st->unknown.items = calloc(UNKNOWN_MAX + 1, sizeof(char *))) ==
	    NULL)
		goto nomem;
	for (size_t i = 0; i < nv; i++) {
		const struct sch_sto_volume *v = &m->volumes.items[i];
		char iqn[TGT_NAME_MAX];

		snprintf(iqn, sizeof(iqn), "%s%s", TGT_IQN_PREFIX, v->id);
		st->volumes.n++;
		if (status_fill(&st->volumes.items[i], v->id, find(have, nhave,
		    v->id, false), v->present, &vmk[i], vmk[i].exported ?
		    iqn : NULL) == -1)
			goto nomem;
	}
	for (size_t i = 0; i < ns; i++) {
		const struct sch_sto_snapshot *s = &m->snapshots.items[i];

		st->snapshots.n++;
		if (status_fill(&st->snapshots.items[i], s->id, find(have,
		    nhave, s->id, true), s->present, &smk[i], NULL) == -1)
			goto nomem;
	}
	for (size_t i = 0; i < nhave && st->unknown.n < UNKNOWN_MAX; i++) {
		bool named = false;

		if (have[i].snapshot)
			continue;
		for (size_t k = 0; k < nv && !named; k++)
			named = strcmp(m->volumes.items[k].id, have[i].id) == 0;
		if (!named && (st->unknown.items[st->unknown.n++] =
		    strdup(have[i].id)) == NULL)
			goto nomem;
	}
	rc = 0;
	goto out;
nomem:
	err_set(TS_ENOMEM, "storsvc: out of memory");
out:
	free(have);
	free(vmk);
	free(smk);
	free(w);
	free(widx);
	free(acls);
	for (size_t i = 0; paths != NULL && i < nv; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

int
storsvc_converge(struct volstore *vs, struct tgt *tg,
    const struct msg_host_storage *m, struct msg_host_storage_state *st)
{
	int down;

	return converge(vs, tg, m, st, &down);
}

/* -------------------------------------------------------------- worker */

static void
report(struct storsvc *s, struct msg_host_storage_state *st,
    const char *reqid)
{
	struct buf b = { 0 }, cur = { 0 };
	char id[CODEC_REQUEST_ID_MAX + 1];

	st->in_reply_to = NULL;
	if (codec_encode(&schema_msg_host_storage_state, st, &cur) == -1) {
		log_err("host_storage_state");
		buf_free(&cur);
		return;
	}
	if (reqid == NULL && s->last.len == cur.len &&
	    memcmp(s->last.data, cur.data, cur.len) == 0) {
		buf_free(&cur);
		return;
	}
	if (reqid != NULL) {
		snprintf(id, sizeof(id), "%s", reqid);
		st->in_reply_to = id;
	} else {
		snprintf(id, sizeof(id), "req-sto-%lld-%llu",
		    (long long)clock_wall_ms(), (unsigned long long)++s->seq);
	}
	if (codec_envelope_encode(&schema_msg_host_storage_state, st, id,
	    s->host, &b) == -1 || s->send(b.data, b.len, s->arg) == -1)
		log_warnx("host_storage_state: %s", err_msg());
	else {
		log_debug("host_storage_state generation %" PRIu64 " sent (%s)",
		    st->generation, id);
		buf_free(&s->last);
		s->last = cur;
		cur.data = NULL;
	}
	st->in_reply_to = NULL;
	buf_free(&b);
	buf_free(&cur);
}

static void
count_run(struct storsvc *s, int64_t t0_us, int failed)
{
	metrics_runs_add(&s->st, (uint64_t)(clock_mono_us() - t0_us), failed);
}

void
storsvc_stats(struct storsvc *s, struct storsvc_stats *out)
{
	metrics_runs_read(&s->st, &out->converges);
	out->tgt_starts = s->tgt ? tgt_starts(s->tgt) : 0;
}

/* ------------------------------------------------------------- uploads */

/* One upload on a thread of its own: what it needs, copied. */
struct upjob {
	struct storsvc	*s;
	char		 image_id[65];
	char		 volume_id[CODEC_UUID_LEN + 1];
	char		 fmt[33];
	char		*token;		/* owned; never logged */
};

/* Under s->mu. */
static struct updone *
done_find(struct storsvc *s, const char *image_id)
{
	for (size_t i = 0; i < s->ndone; i++)
		if (strcmp(s->done[i].image_id, image_id) == 0)
			return &s->done[i];
	return NULL;
}

/* The volume converted into a file of its own, PUT with the capability,
 * the file removed. volstore_export() reads only the store's fixed
 * configuration, so it may run beside the worker. */
static int
upload_one(struct upjob *j)
{
	struct storsvc *s = j->s;
	char path[sizeof(s->updir) + 128];
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/upload-%s", s->updir,
	    j->image_id) >= sizeof(path)) {
		err_set(TS_EINVALID, "upload path too long");
		return -1;
	}
	if (volstore_export(s->vs, j->volume_id, j->fmt, path) == -1)
		return -1;
	rc = s->upload(s->upload_arg, j->image_id, j->token, path);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("storsvc: removing %s", path);
	return rc;
}

static void *
upload_thread(void *arg)
{
	struct upjob *j = arg;
	struct storsvc *s = j->s;
	struct updone *d;
	char msg[sizeof(d->msg)] = "";
	bool ok;

	log_info("volume %s: uploading to image %s (%s)", j->volume_id,
	    j->image_id, j->fmt);
	ok = upload_one(j) == 0;
	if (!ok) {
		snprintf(msg, sizeof(msg), "%s", err_msg());
		log_warnx("volume %s: upload to image %s: %s", j->volume_id,
		    j->image_id, msg);
	} else
		log_info("volume %s: uploaded to image %s", j->volume_id,
		    j->image_id);
	pthread_mutex_lock(&s->mu);
	if ((d = done_find(s, j->image_id)) != NULL) {
		d->running = false;
		d->ok = ok;
		snprintf(d->msg, sizeof(d->msg), "%s", msg);
	}
	s->nrunning--;
	/* the worker reports it at once */
	s->kick = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	sodium_memzero(j->token, strlen(j->token));
	free(j->token);
	free(j);
	return NULL;
}

/* A failure before any thread: answered as the upload's result. Under
 * s->mu. */
static void
done_fail(struct updone *d, const char *why)
{
	d->running = false;
	d->ok = false;
	snprintf(d->msg, sizeof(d->msg), "%s", why);
}

/* Starts the upload of v (d is its entry, running). Under s->mu. */
static void
upload_start(struct storsvc *s, const struct sch_sto_volume *v,
    struct updone *d)
{
	struct upjob *j;
	pthread_attr_t a;
	pthread_t th;
	int rc;

	if (s->upload == NULL || s->updir[0] == '\0') {
		done_fail(d, "no image API configured on this host ([image] "
		    "api_url)");
		return;
	}
	if (v->upload_token == NULL) {
		done_fail(d, "no upload capability");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->token = strdup(v->upload_token)) == NULL) {
		free(j);
		done_fail(d, "storsvc: out of memory");
		return;
	}
	j->s = s;
	snprintf(j->image_id, sizeof(j->image_id), "%s", v->upload_image_id);
	snprintf(j->volume_id, sizeof(j->volume_id), "%s", v->id);
	snprintf(j->fmt, sizeof(j->fmt), "%s", v->upload_disk_format ?
	    v->upload_disk_format : "raw");
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if ((rc = pthread_create(&th, &a, upload_thread, j)) != 0) {
		sodium_memzero(j->token, strlen(j->token));
		free(j->token);
		free(j);
		done_fail(d, "storsvc: no upload thread");
	} else
		s->nrunning++;
	pthread_attr_destroy(&a);
}

/*
 * The uploads m names (os-volume_upload_image): each started once on a
 * thread of its own (at most STORSVC_UPLOADS_RUNNING at a time; the others
 * wait for a later converge), so the worker converges on meanwhile; a
 * finished one kicks the worker and is answered in the volume's status
 * (st's items are m's, in order) while m names it.
 */
static void
uploads(struct storsvc *s, const struct msg_host_storage *m,
    struct msg_host_storage_state *st)
{
	size_t k = 0;

	pthread_mutex_lock(&s->mu);
	/* Forget the answers nobody asks for any more (a running upload's
	 * entry stays: its thread fills it). */
	for (size_t i = 0; i < s->ndone; i++) {
		bool named = s->done[i].running;

		for (size_t j = 0; j < m->volumes.n && !named; j++)
			named = m->volumes.items[j].upload_image_id != NULL &&
			    strcmp(m->volumes.items[j].upload_image_id,
			    s->done[i].image_id) == 0;
		if (named)
			s->done[k++] = s->done[i];
	}
	s->ndone = k;
	for (size_t i = 0; i < m->volumes.n && i < st->volumes.n; i++) {
		const struct sch_sto_volume *v = &m->volumes.items[i];
		struct sch_sto_status *o = &st->volumes.items[i];
		struct updone *d;

		if (v->upload_image_id == NULL || !v->present ||
		    strlen(v->upload_image_id) >= sizeof(d->image_id))
			continue;
		if ((d = done_find(s, v->upload_image_id)) == NULL) {
			if (s->ndone == UPLOADS_MAX ||
			    s->nrunning >= STORSVC_UPLOADS_RUNNING)
				continue;	/* a later converge starts it */
			d = &s->done[s->ndone++];
			memset(d, 0, sizeof(*d));
			snprintf(d->image_id, sizeof(d->image_id), "%s",
			    v->upload_image_id);
			d->running = true;
			upload_start(s, v, d);
		}
		if (d->running)
			continue;	/* answered when it ends */
		free(o->upload_image_id);
		free(o->upload_message);
		o->upload_message = NULL;
		o->has_upload_ok = true;
		o->upload_ok = d->ok;
		if ((o->upload_image_id = strdup(d->image_id)) == NULL ||
		    (!d->ok && (o->upload_message = strdup(d->msg)) == NULL))
			log_warnx("storsvc: out of memory");
	}
	pthread_mutex_unlock(&s->mu);
}

void
storsvc_set_uploader(struct storsvc *s, const char *dir,
    storsvc_upload_fn fn, void *arg)
{
	pthread_mutex_lock(&s->mu);
	snprintf(s->updir, sizeof(s->updir), "%s", dir ? dir : "");
	s->upload = fn;
	s->upload_arg = arg;
	pthread_mutex_unlock(&s->mu);
}

static void
run(struct storsvc *s, const char *reqid)
{
	struct msg_host_storage_state st;
	int64_t t0;
	int rc;

	memset(&st, 0, sizeof(st));
	volstore_prune_images(s->vs);
	t0 = clock_mono_us();
	rc = converge(s->vs, s->tgt, s->desired, &st, &s->tgt_down);
	if (rc == 0)
		uploads(s, s->desired, &st);
	/* Backups and restores after the converge made their volumes. */
	if (rc == 0 && s->desired->backups.n > 0 && s->vb == NULL &&
	    (s->vb = volbackup_new(s->host)) == NULL)
		rc = -1;
	if (rc == 0 && s->vb != NULL)
		rc = volbackup_run(s->vb, s->vs, s->desired, &st);
	count_run(s, t0, rc == -1);
	if (rc == -1)
		log_err("storage converge");
	else
		report(s, &st, reqid);
	codec_clear(&schema_msg_host_storage_state, &st);
}

static void
apply(struct storsvc *s, struct msg_host_storage *m, const char *reqid)
{
	log_set_request_id(reqid);
	if (m->host == NULL || strcmp(m->host, s->host) != 0) {
		log_warnx("host_storage for host '%s' reached %s: ignored",
		    m->host ? m->host : "", s->host);
		codec_free(&schema_msg_host_storage, (void **)&m);
	} else {
		codec_free(&schema_msg_host_storage, (void **)&s->desired);
		s->desired = m;
		log_info("host_storage generation %" PRIu64 ": %zu volumes, "
		    "%zu snapshots", m->generation, m->volumes.n,
		    m->snapshots.n);
		run(s, reqid[0] != '\0' ? reqid : NULL);
	}
	log_set_request_id(NULL);
}

static void *
worker(void *arg)
{
	struct storsvc *s = arg;
	int64_t next = clock_mono_ms() + s->tick_ms;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		int64_t now = clock_mono_ms();
		struct timespec ts;

		if (s->pending != NULL) {
			struct msg_host_storage *m = s->pending;
			char reqid[CODEC_REQUEST_ID_MAX + 1];

			s->pending = NULL;
			memcpy(reqid, s->pending_req, sizeof(reqid));
			pthread_mutex_unlock(&s->mu);
			apply(s, m, reqid);
			pthread_mutex_lock(&s->mu);
		} else if (s->kick || now >= next) {
			s->kick = 0;
			pthread_mutex_unlock(&s->mu);
			if (s->desired != NULL)
				run(s, NULL);
			pthread_mutex_lock(&s->mu);
		} else {
			clock_deadline(&ts, CLOCK_MONOTONIC, next - now);
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
			continue;
		}
		/* A tgtd that does not answer yet (just started) is asked
		 * again soon: the exports come back within a second of its
		 * start. */
		next = clock_mono_ms() + (s->tgt_down ? STORSVC_RETRY_MS :
		    s->tick_ms);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
on_tgtd_start(void *arg)
{
	storsvc_kick(arg);
}

struct storsvc *
storsvc_new(struct volstore **vsp, struct tgt **tgp, const char *host,
    int tick_ms, storsvc_send_fn send, void *arg)
{
	struct storsvc *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc;

	if (s == NULL) {
		err_set(TS_ENOMEM, "storsvc: out of memory");
		return NULL;
	}
	s->vs = *vsp;
	*vsp = NULL;
	s->tgt = *tgp;
	*tgp = NULL;
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->tick_ms = tick_ms > 0 ? tick_ms : STORSVC_TICK_MS;
	s->send = send;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&s->th, NULL, worker, s)) != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "storsvc: thread");
		storsvc_free(&s);
		return NULL;
	}
	s->started = 1;
	if (s->tgt != NULL && tgt_start(s->tgt, on_tgtd_start, s) == -1) {
		storsvc_free(&s);
		return NULL;
	}
	return s;
}

void
storsvc_free(struct storsvc **sp)
{
	struct storsvc *s = *sp;

	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	/* Uploads still running use the store and the uploader: they end
	 * within qemu-img's limits and the image API client's timeouts. */
	pthread_mutex_lock(&s->mu);
	while (s->nrunning > 0)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	/* After the worker: the supervisor's hook kicks it. */
	tgt_free(&s->tgt);
	codec_free(&schema_msg_host_storage, (void **)&s->pending);
	codec_free(&schema_msg_host_storage, (void **)&s->desired);
	volbackup_free(&s->vb);
	volstore_free(&s->vs);
	buf_free(&s->last);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	*sp = NULL;
}

void
storsvc_submit(struct storsvc *s, struct msg_host_storage **mp,
    const char *reqid)
{
	pthread_mutex_lock(&s->mu);
	codec_free(&schema_msg_host_storage, (void **)&s->pending);
	s->pending = *mp;
	*mp = NULL;
	snprintf(s->pending_req, sizeof(s->pending_req), "%s",
	    reqid ? reqid : "");
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int
storsvc_handle(struct storsvc *s, struct codec_envelope *env)
{
	struct msg_host_storage *m;

	if (env->type != &schema_msg_host_storage)
		return 0;
	m = env->body;
	env->body = NULL;
	storsvc_submit(s, &m, env->request_id);
	return 1;
}

void
storsvc_kick(struct storsvc *s)
{
	pthread_mutex_lock(&s->mu);
	s->kick = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}
