/*
 * compute_shelve: Nova's shelve, shelveOffload and unshelve server actions
 * (os-shelve).
 *
 * shelve (owner or admin): ACTIVE, SHUTOFF, PAUSED or SUSPENDED without a
 * task; one write transaction makes the queued private snapshot image
 * "<name>-shelved" (as createImage does: image_snapshot_create(); none for
 * a server booted from a volume), records it as snapshot_image_id and
 * starts the task "shelving" (action shelve). The reconciler then carries
 * the steps (recon.c: shelving, shelving_image_uploading,
 * shelving_offloading): the guest stopped, its root disk uploaded into the
 * image, vm_state shelved with shelved_at, shelved_image_id, shelved_host;
 * with [DEFAULT] shelved_offload_time 0 (Nova's default) the host then
 * deletes the guest and its disks, the claim there goes, the ports stay
 * the server's but unbound, and the server is shelved_offloaded without a
 * host. A failure leaves it as it was, with a fault.
 *
 * shelveOffload (admin): SHELVED without a task; task shelving_offloading.
 *
 * unshelve (owner or admin): SHELVED: task unshelving on its host (the
 * kept guest started). SHELVED_OFFLOADED: in one write transaction the
 * scheduler claims a host, the instance is placed there with a new owner
 * generation, its ports bound there and its volume attachments re-hosted
 * (as an evacuation does; those attached while it was offloaded get
 * their device names then), the shelved image's checksum and size recorded
 * (resize_image_sha512/size, which the agent verifies its download
 * against) and the task unshelving started: the new host builds the guest
 * from the shelved image. The image is deleted once the server is ACTIVE.
 * No valid host: the action fails, the server stays shelved_offloaded
 * (Nova's conductor does the same). Quota: Nova counts the cores and RAM
 * of shelved-offloaded servers (its default, count_usage_from_placement
 * false), so the usage never leaves the project and unshelve checks none.
 *
 * Below microversion 2.77 Nova validates none of these bodies.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "compute_db.h"
#include "compute_int.h"
#include "core/db.h"
#include "err.h"
#include "http/http.h"
#include "image/image.h"
#include "log.h"
#include "network/network.h"
#include "recon.h"
#include "scheduler.h"
#include "store.h"
#include "volume/volume.h"

enum shelve_op { OP_SHELVE, OP_OFFLOAD, OP_UNSHELVE };

struct shelve {
	struct compute			*svc;
	const struct request_ctx	*ctx;
	const char			*uuid, *reqid, *action;
	enum shelve_op			 op;
	bool				 admin;
	struct scheduler_request	 sreq;
	struct scheduler_hosts		 cands;
	bool				 ranked;
	char				 image_id[CODEC_UUID_LEN + 1];
	struct rec_instance		 after;		/* owned when placed */
	bool				 placed, moved_net, moved_vol;
};

/* Nova's check_instance_lock and check_instance_state of each action. */
static int
state_ok(const struct shelve *s, const struct rec_instance *i)
{
	static const char *const shelve_states[] = { VM_ACTIVE, VM_STOPPED,
	    VM_PAUSED, VM_SUSPENDED, NULL };
	static const char *const offload_states[] = { VM_SHELVED, NULL };
	static const char *const unshelve_states[] = { VM_SHELVED,
	    VM_SHELVED_OFFLOADED, NULL };
	const char *const *states = s->op == OP_SHELVE ? shelve_states :
	    s->op == OP_OFFLOAD ? offload_states : unshelve_states;
	bool ok = false;

	if (i->locked && !s->admin) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	for (size_t k = 0; states[k] != NULL && !ok; k++)
		ok = strcmp(states[k], i->vm_state) == 0;
	if (!ok) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "vm_state %s", s->action, i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "task_state %s", s->action, i->uuid, i->task_state);
		return -1;
	}
	/* An offloaded server has no host; every other one must have. */
	if (strcmp(i->vm_state, VM_SHELVED_OFFLOADED) != 0 &&
	    (i->host == NULL || *i->host == '\0')) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: it has no "
		    "host", s->action, i->uuid);
		return -1;
	}
	return 0;
}

/* The snapshot image a shelve fills: createImage's, named
 * "<name>-shelved" (Nova's). */
static int
image_make(struct shelve *s, struct store_txn *txn, struct rec_instance *i,
    int64_t now)
{
	struct image_snapshot_req ir;
	char name[300];

	snprintf(name, sizeof(name), "%.247s-shelved", i->name);
	memset(&ir, 0, sizeof(ir));
	ir.name = name;
	ir.project_id = i->project_id;
	ir.user_id = s->ctx->user_id;
	ir.instance_uuid = i->uuid;
	ir.base_image_ref = i->image_ref;
	ir.disk_format = "qcow2";	/* the agent uploads a qcow2 */
	ir.container_format = "bare";
	ir.min_disk = (uint32_t)compute_db_flavor_disk_gb(&i->flavor);
	ir.kernel_id = i->kernel_id;
	ir.ramdisk_id = i->ramdisk_id;
	ir.os_command_line = i->kernel_cmdline;
	if (image_snapshot_create(txn, &ir, now, s->image_id) == -1)
		return -1;
	return codec_str_set(&i->snapshot_image_id, s->image_id);
}

/*
 * An offloaded server goes onto a host the scheduler claims here. 1: no
 * valid host (the action is recorded as failed, nothing else changes).
 */
static int
place(struct shelve *s, struct store_txn *txn, struct rec_instance *i,
    int64_t now)
{
	char host[SCHEDULER_NAME_MAX + 1];
	struct rec_image img;

	if (!s->ranked || scheduler_claim(s->svc->sched, txn, &s->sreq,
	    &s->cands, host) == -1) {
		char why[ERR_MSG_MAX];

		if (s->ranked && err_code() != TS_ENOT_FOUND)
			return -1;
		snprintf(why, sizeof(why), "%s", s->ranked ? err_msg() :
		    "No valid host was found. ");
		log_warnx("unshelve of %s: %s", i->uuid, why);
		if (compute_db_action_start(txn, i, s->reqid, "unshelve",
		    s->ctx->user_id, s->ctx->project_id, now) == -1 ||
		    compute_db_action_finish(txn, i->uuid, s->reqid, 0, why,
		    now) == -1)
			return -1;
		return 1;
	}
	/* The image as Glance has it now: the agent verifies its download
	 * against this checksum and size. */
	if (i->shelved_image_id != NULL) {
		if (image_db_get(txn, i->shelved_image_id, &img) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				err_set(TS_ECONFLICT, "The shelved image %s of "
				    "instance %s is gone", i->shelved_image_id,
				    i->uuid);
			return -1;
		}
		if (img.status == NULL || strcmp(img.status, "active") != 0 ||
		    img.os_hash_value == NULL || !img.has_size) {
			err_set(TS_ECONFLICT, "The shelved image %s of instance "
			    "%s has no data", i->shelved_image_id, i->uuid);
			codec_clear(&schema_rec_image, &img);
			return -1;
		}
		if (codec_str_set(&i->resize_image_sha512, img.os_hash_value) ==
		    -1) {
			codec_clear(&schema_rec_image, &img);
			return -1;
		}
		i->has_resize_image_size = true;
		i->resize_image_size = img.size;
		codec_clear(&schema_rec_image, &img);
	}
	if (codec_str_set(&i->host, host) == -1)
		return -1;
	/* A new owner generation: whatever an earlier placement left on a
	 * host is stale there (fenced by the reconciler). */
	i->generation++;
	if (s->svc->net != NULL) {
		if (network_port_move_device(s->svc->net, txn, i->uuid, host) ==
		    -1)
			return -1;
		s->moved_net = true;
	}
	/* As an evacuation's: the attachments take the new host's initiator
	 * (their exports change) and wait, not attached, for the guest.
	 * Those attached while offloaded (compute_volumes.c) had no host
	 * nor device: they get the next free one, as Nova's compute names
	 * the devices of its block device mappings that have none when it
	 * builds the guest. */
	for (size_t k = 0; s->svc->vol != NULL && k < i->volumes.n; k++) {
		struct sch_inst_volume *iv = &i->volumes.items[k];
		char dev[32];

		if (iv->device == NULL || *iv->device == '\0') {
			if (compute_volumes_pick_device(i, NULL, dev) == -1 ||
			    codec_str_set(&iv->device, dev) == -1 ||
			    volume_attach_device(s->svc->vol, txn,
			    iv->volume_id, iv->attachment_id, dev) == -1)
				return -1;
		}
		if (volume_attach_rehost(s->svc->vol, txn, iv->volume_id,
		    iv->attachment_id, host) == -1)
			return -1;
		iv->has_attached = false;
		iv->attached = false;
		s->moved_vol = true;
	}
	log_info("instance %s: unshelved onto %s (generation %llu)", i->uuid,
	    host, (unsigned long long)i->generation);
	return 0;
}

static int
shelve_fn(struct store_txn *txn, void *arg)
{
	struct shelve *s = arg;
	struct rec_instance i, old;
	int64_t now = db_now_ms();
	const char *task;
	int rc = -1, r;

	s->placed = s->moved_net = s->moved_vol = false;
	memset(&i, 0, sizeof(i));
	if (compute_db_instance_get(txn, s->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1)
		goto out;
	/* again, in the transaction: a concurrent action may have won */
	if (state_ok(s, &i) == -1)
		goto out;
	switch (s->op) {
	case OP_SHELVE:
		if (i.image_ref != NULL && *i.image_ref != '\0' &&
		    image_make(s, txn, &i, now) == -1)
			goto out;
		task = "shelving";
		break;
	case OP_OFFLOAD:
		task = "shelving_offloading";
		break;
	default:
		task = "unshelving";
		if (strcmp(i.vm_state, VM_SHELVED_OFFLOADED) == 0) {
			if ((r = place(s, txn, &i, now)) == -1)
				goto out;
			if (r == 1) {
				rc = 0;
				goto out;
			}
		}
		break;
	}
	if (recon_task_begin_as(s->svc->recon, txn, &i, task, s->action,
	    s->reqid, s->ctx->user_id, s->ctx->project_id, now) == -1 ||
	    compute_db_instance_put(txn, &i, &old) == -1 ||
	    compute_db_instance_copy(&i, &s->after) == -1)
		goto out;
	s->placed = true;
	rc = 0;
out:
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

int
compute_shelve_action(struct http_req *req, struct http_resp *resp,
    const char *action, json_t *arg, const struct rec_instance *cur)
{
	struct shelve s = { .svc = compute_of(req), .action = action };
	const char *policy;
	int rc = -1;

	(void)arg;	/* below 2.77 Nova validates no body */
	if (strcmp(action, "shelve") == 0) {
		s.op = OP_SHELVE;
		policy = "os_compute_api:os-shelve:shelve";
	} else if (strcmp(action, "shelveOffload") == 0) {
		s.op = OP_OFFLOAD;
		policy = "os_compute_api:os-shelve:shelve_offload";
	} else {
		s.op = OP_UNSHELVE;
		policy = "os_compute_api:os-shelve:unshelve";
	}
	if (compute_enforce_owned(req, policy, cur->project_id, cur->user_id,
	    "Instance", cur->uuid) == -1)
		return -1;
	s.admin = compute_is_admin(req);
	if (state_ok(&s, cur) == -1)
		return -1;
	if (s.op == OP_SHELVE && cur->image_ref != NULL &&
	    *cur->image_ref != '\0' && (s.svc->image == NULL ||
	    s.svc->identity == NULL)) {
		err_set(TS_EUNAVAILABLE, "The image service is not available "
		    "for shelving.");
		return -1;
	}
	s.ctx = compute_ctx(req);
	s.uuid = cur->uuid;
	s.reqid = http_req_id(req);
	if (s.op == OP_UNSHELVE && strcmp(cur->vm_state,
	    VM_SHELVED_OFFLOADED) == 0) {
		s.sreq.vcpus = cur->flavor.vcpus;
		s.sreq.memory_mb = cur->flavor.ram;
		/* as create claims it: no root disk for a server booted
		 * from a volume */
		s.sreq.disk_gb = compute_db_claim_disk_gb(cur, &cur->flavor);
		/* the zone it was asked into (the default one: any) */
		s.sreq.az = cur->availability_zone != NULL &&
		    strcmp(cur->availability_zone, s.svc->az) != 0 ?
		    cur->availability_zone : NULL;
		s.sreq.extra_specs = &cur->flavor.extra_specs;
		if (scheduler_rank(s.svc->sched, &s.sreq, &s.cands) == 0)
			s.ranked = true;
		else if (err_code() != TS_ENOT_FOUND &&
		    err_code() != TS_EINVALID)
			goto out;
	}
	if (compute_write(req, shelve_fn, &s) == -1)
		goto out;
	if (s.moved_net)
		network_changed(s.svc->net);
	if (s.moved_vol)
		volume_changed(s.svc->vol);
	if (s.placed) {
		log_info("instance %s: %s%s%s", s.uuid, action,
		    s.image_id[0] ? " into image " : "", s.image_id);
		recon_dispatch(s.svc->recon, &s.after);
	}
	rc = http_resp_status(resp, 202);
out:
	if (s.placed)
		codec_clear(&schema_rec_instance, &s.after);
	scheduler_hosts_free(&s.cands);
	return rc;
}
