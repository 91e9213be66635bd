/*
 * compute_snapshot: the createImage and createBackup server actions
 * (Nova's snapshot and backup) and what the reconciler needs of them.
 *
 * The request checks the body and the instance's state (Nova's
 * check_instance_state: no task running), then in one write transaction
 * makes the queued image (image_snapshot_create(): owner the instance's
 * project, Nova's properties), records it on the instance
 * (snapshot_image_id, backup_type, backup_rotation) and starts the task
 * image_snapshot or image_backup; after the commit the reconciler sends
 * instance_snapshot with an upload capability (auth/capability.h format
 * 2) minted here, and re-sends it, same request id, until the agent
 * answers or the (build) deadline passes. The agent copies the guest's
 * disk and PUTs it to /v2/images/{id}/file; its answer ends the task. The
 * instance never goes to ERROR for a snapshot: a failure (or the
 * deadline) clears the task and discards the image (Nova deletes a failed
 * snapshot's image); a backup that succeeded rotates the server's backups
 * of its type down to `rotation` (Nova's _rotate_backups).
 *
 * The served microversions (2.1-2.11) answer 202 with the image's URL in
 * Location and no body (the image_id body is 2.45); a backup with
 * rotation 0 has no Location, as in Nova.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "compute_int.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "identity/identity.h"
#include "image/image.h"
#include "log.h"

struct snap {
	struct compute			*svc;
	const struct request_ctx	*ctx;
	const char			*uuid, *reqid, *action;
	const char			*name, *backup_type;
	bool				 backup;
	uint32_t			 rotation;
	struct ts_strmap		 metadata;	/* owned */
	char				 image_id[CODEC_UUID_LEN + 1];
	struct rec_instance		 after;		/* owned when placed */
	bool				 placed;
};

/* Nova's check_instance_state for snapshot (active, stopped, paused,
 * suspended) and backup (active, stopped); task_state None. */
static int
state_ok(const struct rec_instance *i, bool backup, const char *shown)
{
	static const char *const snap_states[] = { VM_ACTIVE, VM_STOPPED,
	    VM_PAUSED, VM_SUSPENDED, NULL };
	static const char *const backup_states[] = { VM_ACTIVE, VM_STOPPED,
	    NULL };

	return compute_servers_state_check(i, shown, backup ? backup_states :
	    snap_states);
}

/* Nova's parameter_types.non_negative_integer: an integer, or a string
 * of digits. */
static int
rotation_parse(json_t *v, uint32_t *out)
{
	json_int_t n = -1;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v) && json_string_length(v) > 0 &&
	    json_string_length(v) < 10 && strspn(json_string_value(v),
	    "0123456789") == json_string_length(v)) {
		n = strtoll(json_string_value(v), NULL, 10);
	} else if (v == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "createBackup. Value: {}. 'rotation' is a required "
		    "property");
		return -1;
	}
	if (n < 0 || n > UINT32_MAX) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "rotation. Value: %s. It must be a non-negative integer.",
		    json_is_string(v) ? json_string_value(v) : "?");
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static int
metadata_copy(json_t *md, struct ts_strmap *m)
{
	const char *k;
	json_t *v;

	if (md == NULL || json_is_null(md))
		return 0;
	if (!json_is_object(md) || json_object_size(md) > 128) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "metadata. Value must be an object of at most 128 items.");
		return -1;
	}
	if (json_object_size(md) == 0)
		return 0;
	if ((m->items = calloc(json_object_size(md), sizeof(*m->items))) ==
	    NULL)
		goto nomem;
	json_object_foreach(md, k, v) {
		if (*k == '\0' || strlen(k) > 255 || !json_is_string(v) ||
		    json_string_length(v) > 255 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "metadata. Keys must be 1-255 characters, values "
			    "strings of at most 255.");
			return -1;
		}
		if ((m->items[m->n].k = strdup(k)) == NULL ||
		    (m->items[m->n].v = strdup(json_string_value(v))) == NULL) {
			m->n++;
			goto nomem;
		}
		m->n++;
	}
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

/* The body of createImage ({name, metadata}) or createBackup ({name,
 * backup_type, rotation, metadata}); nothing else (Nova's schemas). */
static int
parse(json_t *arg, struct snap *s)
{
	static const char *img_keys[] = { "name", "metadata", NULL };
	static const char *bak_keys[] = { "name", "metadata", "backup_type",
	    "rotation", NULL };
	const char **keys = s->backup ? bak_keys : img_keys;
	const char *k;
	json_t *v;

	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %s. %s is not of type 'object'", s->action,
		    json_is_null(arg) ? "None" : "?", json_is_null(arg) ?
		    "None" : "value");
		return -1;
	}
	json_object_foreach(arg, k, v) {
		bool known = false;

		for (size_t j = 0; keys[j] != NULL && !known; j++)
			known = strcmp(keys[j], k) == 0;
		if (!known) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "%s. Value: %.64s. Additional properties are not "
			    "allowed ('%.64s' was unexpected)", s->action, k, k);
			return -1;
		}
	}
	if (jsonreq_str(JSONREQ_NOVA, arg, "name", 1, 255, JSONREQ_BYTES |
	    JSONREQ_REQUIRED, &s->name, NULL) == -1 ||
	    jsonreq_name(JSONREQ_NOVA, "name", s->name) == -1)
		return -1;
	if (s->backup) {
		/* Nova: backup_type is any string (openstackclient sends ""
		 * without --type). */
		if (jsonreq_str(JSONREQ_NOVA, arg, "backup_type", 0, 255,
		    JSONREQ_BYTES | JSONREQ_REQUIRED, &s->backup_type, NULL) ==
		    -1 || rotation_parse(json_object_get(arg, "rotation"),
		    &s->rotation) == -1)
			return -1;
	}
	return metadata_copy(json_object_get(arg, "metadata"), &s->metadata);
}

static int
snap_fn(struct store_txn *txn, void *arg)
{
	struct snap *s = arg;
	struct rec_instance i, old;
	struct image_snapshot_req ir;
	int64_t now = db_now_ms();
	int rc = -1;

	memset(&i, 0, sizeof(i));
	if (compute_db_instance_get(txn, s->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1)
		goto out;
	/* again, in the transaction: a concurrent action may have won */
	if (state_ok(&i, s->backup, s->action) == -1)
		goto out;
	/* The metadata, and what the base image said that a boot of the
	 * snapshot needs (Nova inherits the image's properties). */
	memset(&ir, 0, sizeof(ir));
	ir.name = s->name;
	ir.project_id = i.project_id;
	ir.user_id = s->ctx->user_id;
	ir.instance_uuid = i.uuid;
	ir.base_image_ref = i.image_ref;
	ir.backup_type = s->backup ? s->backup_type : NULL;
	/* the agent always uploads a qcow2 without backing file */
	ir.disk_format = "qcow2";
	ir.container_format = "bare";
	ir.min_disk = (uint32_t)compute_db_flavor_disk_gb(&i.flavor);
	ir.min_ram = 0;
	ir.metadata = &s->metadata;
	ir.kernel_id = i.kernel_id;
	ir.ramdisk_id = i.ramdisk_id;
	ir.os_command_line = i.kernel_cmdline;
	if (image_snapshot_create(txn, &ir, now, s->image_id) == -1)
		goto out;
	if (codec_str_set(&i.snapshot_image_id, s->image_id) == -1 ||
	    codec_str_set(&i.backup_type, s->backup ? s->backup_type : NULL) == -1)
		goto out;
	i.has_backup_rotation = s->backup;
	i.backup_rotation = s->backup ? s->rotation : 0;
	if (recon_task_begin(s->svc->recon, txn, &i, s->backup ?
	    "image_backup" : "image_snapshot", s->reqid, s->ctx->user_id,
	    s->ctx->project_id, now) == -1)
		goto out;
	if (compute_db_instance_put(txn, &i, &old) == -1 ||
	    compute_db_instance_copy(&i, &s->after) == -1)
		goto out;
	s->placed = true;
	rc = 0;
out:
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* Nova's generate_image_url: the image endpoint, then /images/<id>. The
 * image API listens on [api] image_port of the host the client reached
 * the compute API on. */
int
compute_snapshot_image_url(struct http_req *req, const char *id, char *out,
    size_t len)
{
	const struct compute *c = compute_of(req);
	char base[512], *host, *colon, *bracket;
	int64_t port = config_get_int(c->cfg, "api", "image_port");

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		return -1;
	host = strstr(base, "://") ? strstr(base, "://") + 3 : base;
	colon = strrchr(host, ':');
	bracket = strrchr(host, ']');
	if (colon != NULL && (bracket == NULL || colon > bracket))
		*colon = '\0';
	if ((size_t)snprintf(out, len, "%s:%lld/images/%s", base,
	    (long long)port, id) >= len)
		return -1;
	return 0;
}

int
compute_snapshot_action(struct http_req *req, struct http_resp *resp,
    const char *action, json_t *arg, const struct rec_instance *cur)
{
	struct snap s = { .svc = compute_of(req), .action = action };
	char loc[700];
	int rc = -1;

	s.backup = strcmp(action, "createBackup") == 0;
	if (parse(arg, &s) == -1)
		goto out;
	if (compute_enforce_owned(req, s.backup ?
	    "os_compute_api:os-create-backup" :
	    "os_compute_api:servers:create_image", cur->project_id,
	    cur->user_id, "Instance", cur->uuid) == -1)
		goto out;
	if (cur->image_ref == NULL || *cur->image_ref == '\0') {
		/* Nova snapshots the volumes of a volume-backed server
		 * (Cinder snapshots behind an image); not done here. */
		err_set(TS_EINVALID, s.backup ? "Backup is not supported for "
		    "volume-backed instances." : "Snapshot of a volume-backed "
		    "instance is not supported.");
		goto out;
	}
	if (s.svc->image == NULL || s.svc->identity == NULL) {
		err_set(TS_EUNAVAILABLE, "The image service is not available "
		    "for snapshots.");
		goto out;
	}
	if (state_ok(cur, s.backup, action) == -1)
		goto out;
	s.ctx = compute_ctx(req);
	s.uuid = cur->uuid;
	s.reqid = http_req_id(req);
	if (compute_write(req, snap_fn, &s) == -1)
		goto out;
	log_info("instance %s: %s %s into image %s", s.uuid, action, s.name,
	    s.image_id);
	recon_dispatch(s.svc->recon, &s.after);
	if ((!s.backup || s.rotation > 0) &&
	    compute_snapshot_image_url(req, s.image_id, loc, sizeof(loc)) ==
	    0 &&
	    http_resp_header(resp, "Location", loc) == -1)
		goto out;
	rc = http_resp_status(resp, 202);
out:
	if (s.placed)
		codec_clear(&schema_rec_instance, &s.after);
	for (size_t k = 0; k < s.metadata.n; k++) {
		free(s.metadata.items[k].k);
		free(s.metadata.items[k].v);
	}
	free(s.metadata.items);
	return rc;
}

/* ---- the reconciler's side ------------------------------------------------ */

/* The upload capability of i's snapshot image, for its host. */
static int
mint_upload(void *arg, const struct rec_instance *i, char *out,
    size_t outlen)
{
	struct compute *c = arg;

	if (c->identity == NULL) {
		err_set(TS_EUNAVAILABLE, "no identity service to mint upload "
		    "capabilities");
		return -1;
	}
	return identity_capability_mint_upload(c->identity, i->host, i->uuid,
	    i->snapshot_image_id, c->image_cap_lifetime, out, outlen);
}

/* Recon thread, after the commit that ended a snapshot task. Failures
 * are logged: a discard that failed leaves a queued image the owner can
 * delete; a rotation that failed is done again by the next backup. */
static void
snapshot_done(void *arg, const char *uuid, const char *image_id, int ok,
    const char *backup_type, uint32_t rotation)
{
	struct compute *c = arg;
	unsigned gone = 0;

	if (c->image == NULL)
		return;
	if (!ok) {
		if (image_snapshot_discard(c->image, image_id) == -1)
			log_warnx("instance %s: failed snapshot image %s not "
			    "discarded: %s", uuid, image_id, err_msg());
		return;
	}
	if (backup_type == NULL)
		return;
	if (image_backup_rotate(c->image, uuid, backup_type, rotation,
	    &gone) == -1)
		log_warnx("instance %s: rotation of its %s backups: %s", uuid,
		    backup_type, err_msg());
	else if (gone > 0)
		log_info("instance %s: %u %s backup(s) rotated out (keeping "
		    "%u)", uuid, gone, backup_type, (unsigned)rotation);
}

/* Recon thread, after the commit that ended the use of a cross-host
 * resize's temporary image (compute_resize.c). */
static void
snapshot_drop(void *arg, const char *uuid, const char *image_id)
{
	struct compute *c = arg;

	if (c->image == NULL)
		return;
	if (image_snapshot_drop(c->image, image_id) == -1)
		log_warnx("instance %s: temporary resize image %s not deleted: "
		    "%s", uuid, image_id, err_msg());
	else
		log_info("instance %s: temporary resize image %s deleted",
		    uuid, image_id);
}

void
compute_set_image(struct compute *c, struct image_service *img)
{
	struct recon_snap rs = { c, mint_upload, snapshot_done,
	    snapshot_drop };

	c->image = img;
	recon_set_snapshot(c->recon, &rs);
}
