/*
 * volume_attach: the compute side of the volume service (volume.h): the
 * attachments Nova makes, inside compute's own transaction, and what the
 * instance's host needs to connect (target, portal, CHAP credentials).
 *
 * An attachment names the attaching host's initiator and carries fresh
 * CHAP credentials; the storage sync exports the volume to that initiator
 * with them while the attachment exists, and says when the export is in
 * place (storesync_ready()).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "storesync.h"
#include "volume_int.h"

#define INITIATOR_PREFIX	"iqn.2010-10.org.openstack.tinystack:"
#define CHAP_USER_LEN		20
#define CHAP_SECRET_LEN		20	/* Cinder's default: 16..20 */

int
volume_initiator_name(const char *host, char *out, size_t outlen)
{
	size_t pl = strlen(INITIATOR_PREFIX), hl;

	if (host == NULL || *host == '\0' || (hl = strlen(host)) >= outlen ||
	    pl + hl >= outlen) {
		err_set(TS_EINVALID, "initiator name of host %.64s does not "
		    "fit", host != NULL ? host : "");
		return -1;
	}
	memcpy(out, INITIATOR_PREFIX, pl);
	for (size_t i = 0; i < hl; i++) {
		char c = host[i];

		out[pl + i] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' ? c : '-';
	}
	out[pl + hl] = '\0';
	return 0;
}

/* n random characters of [A-Za-z0-9] (rejection sampling: no bias). */
static int
random_alnum(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char b[64];
	size_t got = 0;

	for (int round = 0; got < n && round < 16; round++) {
		if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
			err_set_errno(TS_EINTERNAL, "getrandom");
			return -1;
		}
		for (size_t i = 0; i < sizeof(b) && got < n; i++)
			if (b[i] < 248)		/* 4 * 62 */
				out[got++] = set[b[i] % 62];
	}
	explicit_bzero(b, sizeof(b));
	if (got < n) {
		err_set(TS_EINTERNAL, "getrandom: not enough randomness");
		return -1;
	}
	out[n] = '\0';
	return 0;
}

int
volume_chap(char user[CHAP_USER_LEN + 1], char secret[CHAP_SECRET_LEN + 1])
{
	if (random_alnum(user, CHAP_USER_LEN) == -1 ||
	    random_alnum(secret, CHAP_SECRET_LEN) == -1)
		return -1;
	return 0;
}

static struct sch_vol_attachment *
att_find(struct rec_volume *v, const char *attachment_id)
{
	for (size_t i = 0; i < v->attachments.n; i++)
		if (strcmp(v->attachments.items[i].id, attachment_id) == 0)
			return &v->attachments.items[i];
	return NULL;
}

int
volume_attach_add(struct rec_volume *v, const char *server_id,
    const char *host, const char *device, char *attachment_id)
{
	char init[256], user[CHAP_USER_LEN + 1], secret[CHAP_SECRET_LEN + 1];
	struct sch_vol_attachment *a;
	void *nv;
	int rc = -1;

	/* No host (a shelved-offloaded server's): no initiator, so no
	 * export until volume_attach_rehost() names one. */
	init[0] = '\0';
	if ((host != NULL && *host != '\0' &&
	    volume_initiator_name(host, init, sizeof(init)) == -1) ||
	    random_alnum(user, CHAP_USER_LEN) == -1 ||
	    random_alnum(secret, CHAP_SECRET_LEN) == -1)
		goto out;
	if ((nv = realloc(v->attachments.items, (v->attachments.n + 1) *
	    sizeof(*a))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	v->attachments.items = nv;
	a = &v->attachments.items[v->attachments.n++];
	memset(a, 0, sizeof(*a));
	db_uuid(a->id);
	snprintf(a->server_id, sizeof(a->server_id), "%s", server_id);
	if (codec_str_set(&a->host_name, host != NULL ? host : "") == -1 ||
	    codec_str_set(&a->initiator, init) == -1 ||
	    codec_str_set(&a->device, device) == -1 ||
	    codec_str_set(&a->status, "attaching") == -1 ||
	    codec_str_set(&a->mode, v->readonly ? "ro" : "rw") == -1 ||
	    codec_str_set(&a->chap_user, user) == -1 ||
	    codec_str_set(&a->chap_secret, secret) == -1)
		goto out;
	memcpy(attachment_id, a->id, CODEC_UUID_LEN + 1);
	rc = 0;
out:
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* host NULL: the hostless attachment of volume_attach_hostless(). */
static int
attach_begin(struct store_txn *txn, const char *project_id,
    const char *volume_id, const char *server_id, const char *host,
    const char *device, char *attachment_id)
{
	struct rec_volume v;
	int rc = -1;

	if (volume_db_get(txn, volume_id, &v) == -1)
		return -1;
	if (project_id != NULL && strcmp(v.project_id, project_id) != 0) {
		err_set(TS_ENOT_FOUND, "Volume %s could not be found.",
		    volume_id);
		goto out;
	}
	if (strcmp(v.status, "available") != 0 && !(v.multiattach &&
	    strcmp(v.status, "in-use") == 0)) {
		err_set(TS_EINVALID, "Invalid volume: volume %s status must be "
		    "available%s, but current status is: %s.", volume_id,
		    v.multiattach ? " or in-use" : "", v.status);
		goto out;
	}
	for (size_t i = 0; i < v.attachments.n; i++)
		if (strcmp(v.attachments.items[i].server_id, server_id) == 0) {
			err_set(TS_EINVALID, "Invalid volume: volume %s is "
			    "already attached to server %s.", volume_id,
			    server_id);
			goto out;
		}
	if (v.host == NULL || *v.host == '\0') {
		err_set(TS_EINVALID, "Invalid volume: volume %s has no storage "
		    "host.", volume_id);
		goto out;
	}
	if (v.attachments.n >= 16) {
		err_set(TS_EINVALID, "Invalid volume: volume %s has too many "
		    "attachments.", volume_id);
		goto out;
	}
	if (volume_attach_add(&v, server_id, host, device, attachment_id) ==
	    -1)
		goto out;
	if (host == NULL) {
		/* attached at once, as Nova's attachment_complete() of an
		 * attachment without a connector leaves it: the volume is
		 * in-use for a server that has no host yet */
		struct sch_vol_attachment *a = att_find(&v, attachment_id);

		if (a == NULL || codec_str_set(&a->status, "attached") ==
		    -1 || codec_str_set(&v.status, "in-use") == -1)
			goto out;
		a->attached_at = db_now_ms();
	} else if (codec_str_set(&v.status, "attaching") == -1)
		goto out;
	v.generation++;
	v.updated_at = db_now_ms();
	if (volume_db_put(txn, NULL, &v) == -1)
		goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_attach_begin(struct volume *vs, struct store_txn *txn,
    const char *project_id, const char *volume_id, const char *server_id,
    const char *host, const char *device, char *attachment_id)
{
	(void)vs;
	if (host == NULL || *host == '\0') {
		err_set(TS_EINVALID, "Invalid volume: an attachment of volume "
		    "%s needs a host.", volume_id);
		return -1;
	}
	return attach_begin(txn, project_id, volume_id, server_id, host,
	    device, attachment_id);
}

int
volume_attach_hostless(struct volume *vs, struct store_txn *txn,
    const char *project_id, const char *volume_id, const char *server_id,
    char *attachment_id)
{
	(void)vs;
	return attach_begin(txn, project_id, volume_id, server_id, NULL, NULL,
	    attachment_id);
}

int
volume_attach_device(struct volume *vs, struct store_txn *txn,
    const char *volume_id, const char *attachment_id, const char *device)
{
	struct rec_volume v;
	struct sch_vol_attachment *a;
	int rc = -1;

	(void)vs;
	if (volume_db_get(txn, volume_id, &v) == -1)
		return -1;
	if ((a = att_find(&v, attachment_id)) == NULL) {
		err_set(TS_ENOT_FOUND, "Volume attachment %.64s could not be "
		    "found.", attachment_id);
		goto out;
	}
	if (codec_str_set(&a->device, device) == -1)
		goto out;
	v.updated_at = db_now_ms();
	rc = volume_db_put(txn, NULL, &v);
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_attach_conn(struct volume *vs, struct store_txn *txn,
    const char *volume_id, const char *attachment_id, struct volume_conn *c)
{
	struct rec_volume v;
	struct rec_storage_host h;
	struct sch_vol_attachment *a;
	struct storesync *ss;

	memset(c, 0, sizeof(*c));
	if (volume_db_get(txn, volume_id, &v) == -1)
		return -1;
	if ((a = att_find(&v, attachment_id)) == NULL) {
		codec_clear(&schema_rec_volume, &v);
		err_set(TS_ENOT_FOUND, "Volume attachment %.64s could not be "
		    "found.", attachment_id);
		return -1;
	}
	snprintf(c->volume_id, sizeof(c->volume_id), "%s", v.id);
	snprintf(c->attachment_id, sizeof(c->attachment_id), "%s", a->id);
	snprintf(c->server_id, sizeof(c->server_id), "%s", a->server_id);
	snprintf(c->iqn, sizeof(c->iqn), VOLUME_IQN_PREFIX "%s", v.id);
	c->lun = VOLUME_LUN;
	snprintf(c->initiator, sizeof(c->initiator), "%s", a->initiator);
	snprintf(c->chap_user, sizeof(c->chap_user), "%s", a->chap_user);
	snprintf(c->chap_secret, sizeof(c->chap_secret), "%s",
	    a->chap_secret);
	c->readonly = v.readonly || strcmp(a->mode, "ro") == 0;
	c->size_gb = v.size;
	if (volume_db_host_get(txn, v.host, &h) == 0) {
		snprintf(c->portal, sizeof(c->portal), "%s", h.portal);
		codec_clear(&schema_rec_storage_host, &h);
	} else if (err_code() != TS_ENOT_FOUND) {
		codec_clear(&schema_rec_volume, &v);
		explicit_bzero(c->chap_secret, sizeof(c->chap_secret));
		return -1;
	}
	ss = vs != NULL ? atomic_load(&vs->ss) : NULL;
	c->ready = c->portal[0] != '\0' && ss != NULL &&
	    storesync_ready(ss, v.host, v.id, a->id, a->initiator);
	codec_clear(&schema_rec_volume, &v);
	return 0;
}

/* The attachment's host becomes host; rename: its initiator too (the
 * new host's name). Credentials and status stay. */
static int
rehost(struct store_txn *txn, const char *volume_id,
    const char *attachment_id, const char *host, bool rename)
{
	struct rec_volume v;
	struct sch_vol_attachment *a;
	char init[256];
	int rc = -1;

	if (volume_initiator_name(host, init, sizeof(init)) == -1)
		return -1;
	if (volume_db_get(txn, volume_id, &v) == -1)
		return -1;
	if ((a = att_find(&v, attachment_id)) == NULL) {
		err_set(TS_ENOT_FOUND, "Volume attachment %.64s could not be "
		    "found.", attachment_id);
		goto out;
	}
	if (codec_str_set(&a->host_name, host) == -1 ||
	    (rename && codec_str_set(&a->initiator, init) == -1))
		goto out;
	v.generation++;
	v.updated_at = db_now_ms();
	rc = volume_db_put(txn, NULL, &v);
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_attach_rehost(struct volume *vs, struct store_txn *txn,
    const char *volume_id, const char *attachment_id, const char *host)
{
	(void)vs;
	return rehost(txn, volume_id, attachment_id, host, true);
}

/*
 * A live migration keeps the attachment's initiator name and CHAP
 * credentials: the target's qemu logs in with them while the source's is
 * still logged in (libiscsi picks a random ISID per session, so tgtd sees
 * two sessions of one initiator, each admitted by the same ACL), and the
 * migrated definition names them already. The export never changes, so
 * there is nothing to add before the move nor to take back after a
 * failure; the initiator name is the attachment's from then on, not the
 * host's (an evacuation, which re-creates the guest, renames it).
 */
int
volume_attach_follow(struct volume *vs, struct store_txn *txn,
    const char *volume_id, const char *attachment_id, const char *host)
{
	(void)vs;
	return rehost(txn, volume_id, attachment_id, host, false);
}

/* Move an attachment (and its volume) on, inside txn. */
static int
att_move(struct store_txn *txn, const char *volume_id,
    const char *attachment_id, const char *from1, const char *from2,
    const char *to, const char *vstatus)
{
	struct rec_volume v;
	struct sch_vol_attachment *a;
	int rc = -1;

	if (volume_db_get(txn, volume_id, &v) == -1)
		return -1;
	if ((a = att_find(&v, attachment_id)) == NULL) {
		err_set(TS_ENOT_FOUND, "Volume attachment %.64s could not be "
		    "found.", attachment_id);
		goto out;
	}
	if (strcmp(a->status, to) == 0) {
		rc = 0;		/* already there */
		goto out;
	}
	if (strcmp(a->status, from1) != 0 && (from2 == NULL ||
	    strcmp(a->status, from2) != 0)) {
		err_set(TS_ECONFLICT, "Volume attachment %s is %s.",
		    attachment_id, a->status);
		goto out;
	}
	if (codec_str_set(&a->status, to) == -1 ||
	    codec_str_set(&v.status, vstatus) == -1)
		goto out;
	if (strcmp(to, "attached") == 0)
		a->attached_at = db_now_ms();
	v.updated_at = db_now_ms();
	rc = volume_db_put(txn, NULL, &v);
out:
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_attach_done(struct volume *vs, struct store_txn *txn,
    const char *volume_id, const char *attachment_id)
{
	(void)vs;
	return att_move(txn, volume_id, attachment_id, "attaching", "reserved",
	    "attached", "in-use");
}

int
volume_detach_begin(struct volume *vs, struct store_txn *txn,
    const char *volume_id, const char *attachment_id)
{
	(void)vs;
	return att_move(txn, volume_id, attachment_id, "attached", "attaching",
	    "detaching", "detaching");
}

int
volume_detach_done(struct volume *vs, struct store_txn *txn,
    const char *volume_id, const char *attachment_id)
{
	struct rec_volume v;
	size_t i, k = 0;
	bool found = false;
	int rc;

	(void)vs;
	if (volume_db_get(txn, volume_id, &v) == -1) {
		if (err_code() == TS_ENOT_FOUND) {
			err_clear();
			return 0;
		}
		return -1;
	}
	for (i = 0; i < v.attachments.n; i++) {
		struct sch_vol_attachment *a = &v.attachments.items[i];

		if (strcmp(a->id, attachment_id) == 0) {
			if (a->chap_secret != NULL)
				explicit_bzero(a->chap_secret,
				    strlen(a->chap_secret));
			codec_clear(&schema_sch_vol_attachment, a);
			found = true;
		} else
			v.attachments.items[k++] = *a;
	}
	if (!found) {
		codec_clear(&schema_rec_volume, &v);
		return 0;
	}
	v.attachments.n = k;
	if (k == 0) {
		free(v.attachments.items);
		v.attachments.items = NULL;
	}
	/* The attach states are the attachments'; any other (an admin's
	 * reset, deleting) stays. */
	if (strcmp(v.status, "attaching") == 0 ||
	    strcmp(v.status, "in-use") == 0 ||
	    strcmp(v.status, "detaching") == 0 ||
	    strcmp(v.status, "reserved") == 0) {
		bool attached = false;

		for (i = 0; i < k; i++)
			attached = attached || strcmp(
			    v.attachments.items[i].status, "attached") == 0;
		if (codec_str_set(&v.status, k == 0 ? "available" :
		    attached ? "in-use" : "attaching") == -1) {
			codec_clear(&schema_rec_volume, &v);
			return -1;
		}
	}
	v.generation++;
	v.updated_at = db_now_ms();
	rc = volume_db_put(txn, NULL, &v);
	codec_clear(&schema_rec_volume, &v);
	return rc;
}
