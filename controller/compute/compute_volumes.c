/*
 * compute_volumes: Nova's os-volume_attachments on the volumes of the
 * Block Storage service (volume/volume.h).
 *
 * The desired volume list of a server is its record's `volumes` (Nova's
 * block device mappings to a volume). An attach, in one store_write():
 * checks the server, picks the device name, has the volume service add
 * its attachment (volume_attach_begin(): the volume is "attaching" and
 * the storage sync exports it to the server's host) and appends the
 * mapping. A detach marks the mapping detaching (volume_detach_begin()).
 * After the commit the reconciler sends the host an instance_ensure whose
 * spec carries the volumes to have, those whose export is ready
 * (sync_volumes); the agent hot-plugs or unplugs to match. The host's
 * reports close the transitions (recon.c): a wanted volume seen in the
 * guest goes in-use, a detaching one no longer seen leaves the record and
 * the volume is available again. Nothing here waits for the guest.
 *
 * From microversion 2.20 (Nova's), a SHELVED server (its stopped guest
 * still on its host) takes attach and detach as a stopped one does, and
 * a SHELVED_OFFLOADED one (no host, no guest) has them recorded alone:
 * an attach adds an attachment without a host, initiator or device (the
 * volume in-use at once, nothing exported: volume_attach_hostless()), a
 * detach removes the mapping and the attachment in the same transaction
 * (the volume available; deleted when delete_on_termination, as Nova's
 * _local_cleanup_bdm_volumes()). The unshelve that places the server
 * re-hosts the attachments and names their devices (compute_shelve.c).
 * Below 2.20 both are 409 in those states, as Nova's API refuses them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute_int.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "volume/volume.h"

/* vm_states Nova lets volumes be attached and detached in (those of
 * check_instance_state of attach_volume / detach_volume that exist
 * here). */
static const char *const vol_states[] = { VM_ACTIVE, VM_PAUSED, VM_STOPPED,
    VM_SUSPENDED, VM_SHELVED, VM_SHELVED_OFFLOADED, NULL };

#define MAX_VOLUMES	16	/* inst_volume max=16 */

/* ---- JSON --------------------------------------------------------------- */

/* An attachment without a device yet (a shelved-offloaded server's): the
 * attach's answer says null, list and show leave "device" out, as Nova's
 * views do. */
static json_t *
attachment_json(const char *server, const struct sch_inst_volume *iv, int mv,
    bool created)
{
	bool dev = iv->device != NULL && *iv->device != '\0';
	json_t *o = json_pack("{s:s, s:s, s:s}", "id", iv->volume_id,
	    "serverId", server, "volumeId", iv->volume_id);

	(void)mv;
	if (o != NULL && (dev || created) && json_object_set_new(o, "device",
	    dev ? json_string(iv->device) : json_null()) == -1) {
		json_decref(o);
		o = NULL;
	}
	if (o == NULL)
		err_set(TS_ENOMEM, "out of memory");
	return o;
}

/* "os-extended-volumes:volumes_attached" of a server view. */
json_t *
compute_volumes_attached(const struct rec_instance *i, int mv)
{
	json_t *a = json_array();

	for (size_t k = 0; a != NULL && k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];
		json_t *o = json_pack("{s:s}", "id", iv->volume_id);

		/* delete_on_termination from 2.3 */
		if (o != NULL && request_mv_has(mv, MV_EXTENDED_ATTRS))
			json_object_set_new(o, "delete_on_termination",
			    json_boolean(iv->delete_on_termination));
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			a = NULL;
		}
	}
	return a != NULL ? a : json_array();
}

static const struct sch_inst_volume *
find_volume(const struct rec_instance *i, const char *volume_id)
{
	for (size_t k = 0; k < i->volumes.n; k++)
		if (strcasecmp(i->volumes.items[k].volume_id, volume_id) == 0)
			return &i->volumes.items[k];
	return NULL;
}

/* ---- the storage sync's hook --------------------------------------------- */

void
compute_volume_ready(void *arg, const char *volume_id,
    const char *attachment_id)
{
	struct compute *svc = arg;
	struct store_txn *txn = NULL;
	struct volume_conn c;
	struct rec_instance i;
	int found = 0;

	if (svc == NULL || svc->vol == NULL ||
	    store_read_begin(svc->store, &txn) == -1)
		return;
	if (volume_attach_conn(svc->vol, txn, volume_id, attachment_id,
	    &c) == 0) {
		explicit_bzero(c.chap_secret, sizeof(c.chap_secret));
		found = compute_db_instance_get(txn, c.server_id, &i) == 0;
	}
	store_txn_end(&txn);
	if (!found)
		return;
	/* (a task's command too: a server booted from a volume waits for
	 * this one to be built) */
	if (find_volume(&i, volume_id) != NULL)
		recon_dispatch(svc->recon, &i);
	codec_clear(&schema_rec_instance, &i);
}

/* ---- GET ---------------------------------------------------------------- */

static int
vol_get(struct http_req *req, struct http_resp *resp, const char *rule,
    const char *volume_id)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	json_t *out = NULL;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, &i);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	if (volume_id == NULL) {
		out = json_array();
		for (size_t k = 0; out != NULL && k < i.volumes.n; k++) {
			json_t *a = attachment_json(i.uuid,
			    &i.volumes.items[k], mv, false);

			if (a == NULL || json_array_append_new(out, a) == -1) {
				json_decref(out);
				out = NULL;
			}
		}
		if (out == NULL)
			err_set(TS_ENOMEM, "out of memory");
	} else {
		const struct sch_inst_volume *iv = find_volume(&i, volume_id);

		if (iv == NULL)
			err_set(TS_ENOT_FOUND, "Instance %s is not attached.",
			    volume_id);
		else
			out = attachment_json(i.uuid, iv, mv, false);
	}
	codec_clear(&schema_rec_instance, &i);
	if (out == NULL)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}", volume_id ?
	    "volumeAttachment" : "volumeAttachments", out));
}

int
compute_volumes_list(struct http_req *req, struct http_resp *resp)
{
	return vol_get(req, resp, "os_compute_api:os-volumes-attachments:index",
	    NULL);
}

int
compute_volumes_show(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "volume_id");

	if (!jsonreq_uuid_like(id)) {
		err_set(TS_ENOT_FOUND, "Instance %s is not attached.", id);
		return -1;
	}
	return vol_get(req, resp, "os_compute_api:os-volumes-attachments:show",
	    id);
}

/* ---- attach and detach -------------------------------------------------- */

struct vol_change {
	struct compute		*svc;
	const char		*uuid;
	int			 mv;
	bool			 admin;
	bool			 detach;
	const char		*volume_id;
	const char		*device;	/* asked for; NULL: any */
	/* result */
	bool			 offloaded;	/* recorded alone */
	char			 dev[32];
	struct rec_instance	 after;
};

static bool
shelved(const struct rec_instance *i)
{
	return strcmp(i->vm_state, VM_SHELVED) == 0 ||
	    strcmp(i->vm_state, VM_SHELVED_OFFLOADED) == 0;
}

static bool
offloaded(const struct rec_instance *i)
{
	return strcmp(i->vm_state, VM_SHELVED_OFFLOADED) == 0;
}

static int
state_check(const struct vol_change *c, const struct rec_instance *i)
{
	const char *what = c->detach ? "detach_volume" : "attach_volume";
	bool ok = false;

	/* Nova's API refuses these below 2.20 before its compute API's
	 * lock and state checks. */
	if (shelved(i) && !request_mv_has(c->mv, MV_SHELVED_VOLUMES)) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "vm_state %s", what, i->uuid, i->vm_state);
		return -1;
	}
	if (i->locked && !c->admin) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	for (size_t k = 0; vol_states[k] && !ok; k++)
		ok = strcmp(vol_states[k], i->vm_state) == 0;
	if (!ok) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "vm_state %s", what, i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "task_state %s", what, i->uuid, i->task_state);
		return -1;
	}
	if (!offloaded(i) && (i->host == NULL || *i->host == '\0')) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: it has no host",
		    what, i->uuid);
		return -1;
	}
	return 0;
}

/* Nova's device name check (block_device.match_device): "/dev/" optional,
 * then letters, then digits. */
static int
device_valid(const char *d)
{
	const char *p = d;

	if (strncmp(p, "/dev/", 5) == 0)
		p += 5;
	if (!islower((unsigned char)*p))
		return 0;
	while (islower((unsigned char)*p))
		p++;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0' && p - d < 32;
}

static int
dev_used(const char *dev, const char used[26])
{
	return strlen(dev) == 8 && strncmp(dev, "/dev/vd", 7) == 0 &&
	    dev[7] >= 'a' && dev[7] <= 'z' && used[dev[7] - 'a'];
}

int
compute_volumes_settled(const struct rec_instance *i)
{
	for (size_t k = 0; k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];

		if ((iv->has_detaching && iv->detaching) ||
		    !(iv->has_attached && iv->attached)) {
			err_set(TS_EINVALID, "Migration pre-check error: "
			    "volume %s of instance %s is being %s", iv->volume_id,
			    i->uuid, iv->has_detaching && iv->detaching ?
			    "detached" : "attached");
			return -1;
		}
	}
	return 0;
}

bool
compute_volumes_boot(const struct rec_instance *i)
{
	for (size_t k = 0; k < i->volumes.n; k++)
		if (i->volumes.items[k].has_boot_index &&
		    i->volumes.items[k].boot_index == 0)
			return true;
	return false;
}

/* The device of a new volume: the one asked for if it is a free virtio
 * name, else the next free /dev/vdX after the local disks (the root disk
 * vda, then the ephemeral and swap disks in that order, as the agent
 * names them) and the other volumes. Nova's libvirt driver also picks the
 * name itself. */
int
compute_volumes_pick_device(const struct rec_instance *i, const char *want,
    char out[32])
{
	char used[26] = { 0 };
	int next = 1;

	used[0] = 1;	/* vda: the root disk (or root volume) */
	if (i->flavor.ephemeral > 0)
		used[next++] = 1;
	if (i->flavor.swap > 0)
		used[next++] = 1;
	for (size_t k = 0; k < i->volumes.n; k++) {
		const char *d = i->volumes.items[k].device;

		if (d != NULL && strlen(d) == 8 &&
		    strncmp(d, "/dev/vd", 7) == 0 && d[7] >= 'a' &&
		    d[7] <= 'z')
			used[d[7] - 'a'] = 1;
	}
	if (want != NULL) {
		char w[32];

		snprintf(w, sizeof(w), "%s%s", strncmp(want, "/dev/", 5) ?
		    "/dev/" : "", want);
		if (dev_used(w, used)) {
			err_set(TS_EINVALID, "The supplied device path (%s) is "
			    "in use.", want);
			return -1;
		}
		if (strlen(w) == 8 && strncmp(w, "/dev/vd", 7) == 0 &&
		    w[7] >= 'a' && w[7] <= 'z') {
			snprintf(out, 32, "%s", w);
			return 0;
		}
	}
	for (int k = 1; k < 26; k++)
		if (!used[k]) {
			snprintf(out, 32, "/dev/vd%c", 'a' + k);
			return 0;
		}
	err_set(TS_EFORBIDDEN, "The maximum allowed number of disk devices "
	    "(26) to attach to a single instance has been exceeded.");
	return -1;
}

static int
attach(struct vol_change *c, struct store_txn *txn, struct rec_instance *i)
{
	struct sch_inst_volume *nv, *items;
	char att[CODEC_UUID_LEN + 1];

	if (find_volume(i, c->volume_id) != NULL) {
		err_set(TS_EINVALID, "Invalid volume: volume %s already "
		    "attached to instance %s", c->volume_id, i->uuid);
		return -1;
	}
	if (i->volumes.n >= MAX_VOLUMES) {
		err_set(TS_EFORBIDDEN, "The maximum allowed number of disk "
		    "devices (%d) to attach to a single instance has been "
		    "exceeded.", MAX_VOLUMES);
		return -1;
	}
	if (offloaded(i)) {
		/* Nova names no device for a server without a host (its
		 * request's is ignored): the unshelve that places it picks
		 * one (compute_shelve.c). */
		c->offloaded = true;
		c->dev[0] = '\0';
		if (volume_attach_hostless(c->svc->vol, txn, i->project_id,
		    c->volume_id, i->uuid, att) == -1)
			return -1;
	} else if (compute_volumes_pick_device(i, c->device, c->dev) == -1 ||
	    volume_attach_begin(c->svc->vol, txn, i->project_id, c->volume_id,
	    i->uuid, i->host, c->dev, att) == -1)
		return -1;
	items = realloc(i->volumes.items, (i->volumes.n + 1) *
	    sizeof(*items));
	if (items == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	i->volumes.items = items;
	nv = &items[i->volumes.n];
	memset(nv, 0, sizeof(*nv));
	snprintf(nv->volume_id, sizeof(nv->volume_id), "%s", c->volume_id);
	snprintf(nv->attachment_id, sizeof(nv->attachment_id), "%s", att);
	i->volumes.n++;
	/* in-use, as the volume: what an offload leaves the others; the
	 * device "" (none yet) */
	if (c->offloaded) {
		nv->has_attached = true;
		nv->attached = true;
	}
	if ((nv->device = strdup(c->dev)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* No guest to let go of it: the mapping and the attachment go now, the
 * volume is available (Nova's _detach_volume_shelved_offloaded(): its
 * attachment deleted, whatever its state, and the volume deleted when
 * delete_on_termination). */
static int
detach_offloaded(struct vol_change *c, struct store_txn *txn,
    struct rec_instance *i, struct sch_inst_volume *iv)
{
	size_t k = (size_t)(iv - i->volumes.items);

	c->offloaded = true;
	snprintf(c->dev, sizeof(c->dev), "%s", iv->device ? iv->device : "");
	if (volume_detach_done(c->svc->vol, txn, iv->volume_id,
	    iv->attachment_id) == -1 || (iv->delete_on_termination &&
	    volume_delete_detached(c->svc->vol, txn, iv->volume_id) == -1))
		return -1;
	codec_clear(&schema_sch_inst_volume, iv);
	memmove(iv, iv + 1, (i->volumes.n - k - 1) * sizeof(*iv));
	i->volumes.n--;
	return 0;
}

static int
detach(struct vol_change *c, struct store_txn *txn, struct rec_instance *i)
{
	struct sch_inst_volume *iv = NULL;

	for (size_t k = 0; k < i->volumes.n && iv == NULL; k++)
		if (strcasecmp(i->volumes.items[k].volume_id,
		    c->volume_id) == 0)
			iv = &i->volumes.items[k];
	if (iv == NULL) {
		err_set(TS_ENOT_FOUND, "volume_id not found: %s",
		    c->volume_id);
		return -1;
	}
	if (iv->has_boot_index && iv->boot_index == 0) {
		err_set(TS_EINVALID, "Cannot detach a root device volume");
		return -1;
	}
	if (offloaded(i))
		return detach_offloaded(c, txn, i, iv);
	if (iv->has_detaching && iv->detaching) {
		err_set(TS_EINVALID, "Invalid volume: Unable to detach volume. "
		    "Volume status must be 'in-use' and attach_status must be "
		    "'attached' to detach.");
		return -1;
	}
	/* Not in the guest yet: refused as Cinder refuses to detach a
	 * volume that is still attaching (it may be hot-plugged any
	 * moment; the report that shows it makes it in-use). */
	if (!(iv->has_attached && iv->attached)) {
		err_set(TS_EINVALID, "Invalid volume: Unable to detach volume. "
		    "Volume status must be 'in-use' and attach_status must be "
		    "'attached' to detach.");
		return -1;
	}
	snprintf(c->dev, sizeof(c->dev), "%s", iv->device ? iv->device : "");
	if (volume_detach_begin(c->svc->vol, txn, iv->volume_id,
	    iv->attachment_id) == -1)
		return -1;
	iv->has_detaching = true;
	iv->detaching = true;
	return 0;
}

static int
change_fn(struct store_txn *txn, void *arg)
{
	struct vol_change *c = arg;
	struct rec_instance old, i;
	int rc;

	memset(&i, 0, sizeof(i));
	c->offloaded = false;
	if (compute_db_instance_get(txn, c->uuid, &old) == -1)
		return -1;
	rc = state_check(c, &old);
	if (rc == 0)
		rc = compute_db_instance_copy(&old, &i);
	if (rc == 0)
		rc = c->detach ? detach(c, txn, &i) : attach(c, txn, &i);
	if (rc == 0) {
		i.updated_at = db_now_ms();
		rc = compute_db_instance_put(txn, &i, &old);
	}
	if (rc == 0) {
		codec_clear(&schema_rec_instance, &c->after);
		c->after = i;
		memset(&i, 0, sizeof(i));
	}
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* Loads and authorizes the server, runs the change, tells the storage
 * sync and the host. */
static int
vol_change(struct http_req *req, const char *rule, struct vol_change *c)
{
	struct store_txn *txn = NULL;
	struct rec_instance cur;
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, &cur);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	c->svc = compute_of(req);
	c->uuid = cur.uuid;
	c->admin = compute_is_admin(req);
	if (c->svc->vol == NULL) {
		codec_clear(&schema_rec_instance, &cur);
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: no block "
		    "storage service", c->detach ? "detach_volume" :
		    "attach_volume", http_req_param(req, "server_id"));
		return -1;
	}
	rc = compute_write(req, change_fn, c);
	codec_clear(&schema_rec_instance, &cur);
	if (rc == -1)
		return -1;
	/* The export to the host (or its removal) is derived now. */
	volume_changed(c->svc->vol);
	if (c->offloaded) {
		/* no host to tell */
		log_info("instance %s (shelved offloaded): volume %s %s",
		    c->after.uuid, c->volume_id, c->detach ? "detached" :
		    "attached");
		return 0;
	}
	log_info("instance %s: %s volume %s (%s)", c->after.uuid, c->detach ?
	    "detaching" : "attaching", c->volume_id, c->dev);
	/* The ensure carries the volumes whose export is ready; those not
	 * ready yet follow when the host's report shows them missing. */
	recon_dispatch(c->svc->recon, &c->after);
	return 0;
}

static int
server_visible(struct http_req *req, const char *rule)
{
	struct store_txn *txn = NULL;
	struct rec_instance cur;
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, &cur);
	store_txn_end(&txn);
	if (rc == 0)
		codec_clear(&schema_rec_instance, &cur);
	return rc;
}

/* The volumeAttachment body: volumeId, device (optional, may be null);
 * tag (2.49) and delete_on_termination (2.79) are beyond this service's
 * microversions. */
static int
attach_parse(struct http_req *req, struct vol_change *c)
{
	json_t *a, *v;
	const char *k;

	if (jsonreq_body(JSONREQ_NOVA, http_req_json(req), "volumeAttachment",
	    &a) == -1)
		return -1;
	json_object_foreach(a, k, v) {
		if (strcmp(k, "volumeId") != 0 && strcmp(k, "device") != 0) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "volumeAttachment. Value: %s. Additional "
			    "properties are not allowed ('%s' was unexpected)",
			    k, k);
			return -1;
		}
	}
	if (jsonreq_uuid(JSONREQ_NOVA, a, "volumeId", 0, &c->volume_id,
	    NULL) == -1)
		return -1;
	if (c->volume_id == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "volumeAttachment. Value: {}. 'volumeId' is a required "
		    "property");
		return -1;
	}
	v = json_object_get(a, "device");
	if (v != NULL && !json_is_null(v)) {
		if (jsonreq_str(JSONREQ_NOVA, a, "device", 0, 255,
		    JSONREQ_BYTES, &c->device, NULL) == -1)
			return -1;
		if (c->device != NULL && *c->device == '\0')
			c->device = NULL;
		if (c->device != NULL && !device_valid(c->device)) {
			err_set(TS_EINVALID, "The supplied device path (%s) is "
			    "invalid.", c->device);
			return -1;
		}
	}
	return 0;
}

int
compute_volumes_create(struct http_req *req, struct http_resp *resp)
{
	struct vol_change c = { .detach = false };
	struct sch_inst_volume *iv;
	json_t *a = NULL;
	int mv, rc;

	/* Another project's server is 404 before its body is read, so a
	 * body error tells nothing of it. */
	if (compute_version(req, resp, &mv) == -1)
		return -1;
	c.mv = mv;
	if (server_visible(req, "os_compute_api:os-volumes-attachments:create")
	    == -1 || attach_parse(req, &c) == -1 ||
	    vol_change(req, "os_compute_api:os-volumes-attachments:create",
	    &c) == -1) {
		codec_clear(&schema_rec_instance, &c.after);
		return -1;
	}
	iv = (struct sch_inst_volume *)find_volume(&c.after, c.volume_id);
	if (iv != NULL)
		a = attachment_json(c.after.uuid, iv, mv, true);
	else
		err_set(TS_EINTERNAL, "attached volume %s not in the record",
		    c.volume_id);
	codec_clear(&schema_rec_instance, &c.after);
	if (a == NULL)
		return -1;
	rc = http_resp_json(resp, 200, json_pack("{s:o}", "volumeAttachment",
	    a));
	return rc;
}

int
compute_volumes_delete(struct http_req *req, struct http_resp *resp)
{
	struct vol_change c = { .detach = true };
	int mv, rc;

	c.volume_id = http_req_param(req, "volume_id");
	if (compute_version(req, resp, &mv) == -1)
		return -1;
	c.mv = mv;
	if (!jsonreq_uuid_like(c.volume_id)) {
		err_set(TS_ENOT_FOUND, "volume_id not found: %s", c.volume_id);
		return -1;
	}
	rc = vol_change(req, "os_compute_api:os-volumes-attachments:delete",
	    &c);
	codec_clear(&schema_rec_instance, &c.after);
	if (rc == -1)
		return -1;
	return http_resp_status(resp, 202);
}
