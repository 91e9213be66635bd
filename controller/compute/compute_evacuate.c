/*
 * compute_evacuate: Nova's evacuate server action (os-evacuate): an
 * instance whose host is down (not reporting within service_down_time, or
 * forced down) is rebuilt on another host from its image, with its
 * volumes and ports moved there.
 *
 * One write transaction moves everything the controller owns: the claim on
 * the target (the scheduler's), the source's claim given back, the
 * instance's host and a new owner generation, its ports' binding:host_id,
 * its volume attachments' host and initiator (the volumes no longer
 * attached: the rebuild waits for their exports to the target), and the
 * "rebuilding" task (instance action "evacuate"). From then on the reconciler carries it as
 * any task: the ensure (rebuild) goes to the target and is re-sent until
 * answered, also after a controller restart, and the task ends ACTIVE (or
 * SHUTOFF for a stopped instance) or in ERROR at its deadline.
 *
 * Fencing: the source may still hold the old guest (a frozen or
 * partitioned agent, a host that reboots with its domains defined). The
 * reconciler deletes a guest that a host reports while its instance is
 * placed elsewhere, and an agent refuses any command of a generation older
 * than the one it has seen; see recon.h and docs/RELIABILITY.md.
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
#include "http/jsonreq.h"
#include "log.h"
#include "network/network.h"
#include "recon.h"
#include "scheduler.h"
#include "store.h"
#include "volume/volume.h"

struct evac {
	struct compute			*svc;
	const struct request_ctx	*ctx;
	const char			*uuid;
	const char			*reqid;
	const char			*source;	/* host read before */
	struct scheduler_request	 sreq;
	struct scheduler_hosts		 cands;
	char				 target[SCHEDULER_NAME_MAX + 1];
	bool				 placed;	/* else: no valid host */
	bool				 moved_net, moved_vol;
	struct rec_instance		 after;
};

/* Nova's check_instance_state for evacuate: ACTIVE, STOPPED or ERROR and
 * no task. */
static int
state_ok(const struct rec_instance *i)
{
	if (strcmp(i->vm_state, VM_ACTIVE) != 0 &&
	    strcmp(i->vm_state, VM_STOPPED) != 0 &&
	    strcmp(i->vm_state, VM_ERROR) != 0) {
		err_set(TS_ECONFLICT, "Cannot 'evacuate' instance %s while it "
		    "is in vm_state %s", i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot 'evacuate' instance %s while it "
		    "is in task_state %s", i->uuid, i->task_state);
		return -1;
	}
	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "Cannot 'evacuate' instance %s: it has "
		    "no host", i->uuid);
		return -1;
	}
	return 0;
}

/* The controller's half of the move, decided again on the record read
 * here: the host must still be the one the API checked. */
static int
evac_fn(struct store_txn *txn, void *arg)
{
	struct evac *e = arg;
	struct rec_instance i, old;
	int64_t now = db_now_ms();
	char host[SCHEDULER_NAME_MAX + 1];
	int rc = -1;

	e->placed = false;
	e->moved_net = e->moved_vol = false;
	if (compute_db_instance_get(txn, e->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (state_ok(&i) == -1)
		goto out;
	if (strcmp(i.host, e->source) != 0) {
		err_set(TS_ECONFLICT, "Cannot 'evacuate' instance %s: it moved "
		    "to %s meanwhile", i.uuid, i.host);
		goto out;
	}
	if (scheduler_claim(e->svc->sched, txn, &e->sreq, &e->cands, host) ==
	    -1) {
		if (err_code() != TS_ENOT_FOUND)
			goto out;
		/* Nova answers and fails the rebuild: the instance stays
		 * where it is, the action says why. */
		char why[ERR_MSG_MAX];

		snprintf(why, sizeof(why), "%s", err_msg());
		log_warnx("evacuate of %s: %s", i.uuid, why);
		if (compute_db_action_start(txn, &i, e->reqid, "evacuate",
		    e->ctx->user_id, e->ctx->project_id, now) == -1 ||
		    compute_db_action_finish(txn, i.uuid, e->reqid, 0, why,
		    now) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	if (scheduler_release(txn, e->source, i.flavor.vcpus, i.flavor.ram,
	    compute_db_claim_disk_gb(&i, &i.flavor)) == -1 ||
	    codec_str_set(&i.host, host) == -1)
		goto out;
	/* A new owner generation: the source's copy is stale everywhere
	 * (its agent refuses older commands; recon deletes it). */
	i.generation++;
	i.want_power = strcmp(i.vm_state, VM_STOPPED) == 0 ?
	    POWER_SHUTDOWN : POWER_RUNNING;
	if (e->svc->net != NULL) {
		if (network_port_move_device(e->svc->net, txn, i.uuid, host) ==
		    -1)
			goto out;
		e->moved_net = true;
	}
	/* The attachments take the target's initiator name, so their
	 * exports change (the storage host's ACL); until the storage host
	 * reports the new ones in place the target's qemu could not log in.
	 * Not attached any more: no guest on the target has them yet, so the
	 * rebuild waits for their exports (recon's vols_read(), built_ready())
	 * as a boot waits for its boot volume's, and the target's guest
	 * boots with them; its answer or report attaches them again. */
	for (size_t k = 0; k < i.volumes.n; k++) {
		struct sch_inst_volume *iv = &i.volumes.items[k];

		if (e->svc->vol == NULL)
			break;
		if (volume_attach_rehost(e->svc->vol, txn, iv->volume_id,
		    iv->attachment_id, host) == -1)
			goto out;
		iv->has_attached = false;
		iv->attached = false;
		e->moved_vol = true;
	}
	/* os-migrations: the rebuild's end (recon) says done or failed. */
	if (compute_migration_begin(txn, &i, "evacuation", "accepted",
	    e->source, host, i.flavor.id, i.flavor.id, now) == -1)
		goto out;
	if (recon_task_begin_as(e->svc->recon, txn, &i, "rebuilding",
	    "evacuate", e->reqid, e->ctx->user_id, e->ctx->project_id,
	    now) == -1)
		goto out;
	i.updated_at = now;
	if (compute_db_instance_put(txn, &i, &old) == -1 ||
	    compute_db_instance_copy(&i, &e->after) == -1)
		goto out;
	snprintf(e->target, sizeof(e->target), "%s", host);
	e->placed = true;
	rc = 0;
out:
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/*
 * The body of Nova's evacuate schema at microversion mv: host optional;
 * below 2.14 onSharedStorage required (adminPass refused with it); from
 * 2.29 force (a forced host needs a host); nothing else.
 */
static int
parse(json_t *arg, int mv, const char **host, bool *shared, const char **pass,
    bool *force)
{
	bool has_shared = !request_mv_has(mv, MV_EVACUATE_NO_PASS);
	bool has_force = request_mv_has(mv, MV_EVACUATE_FORCE);
	const char *k;
	json_t *v;

	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "evacuate. Value: %s. %s is not of type 'object'",
		    json_is_null(arg) ? "None" : "?", json_is_null(arg) ?
		    "None" : "value");
		return -1;
	}
	json_object_foreach(arg, k, v) {
		if (strcmp(k, "host") != 0 && strcmp(k, "adminPass") != 0 &&
		    (!has_shared || strcmp(k, "onSharedStorage") != 0) &&
		    (!has_force || strcmp(k, "force") != 0)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "evacuate. Value: %s. Additional properties are "
			    "not allowed ('%s' was unexpected)", k, k);
			return -1;
		}
	}
	if (jsonreq_str(JSONREQ_NOVA, arg, "host", 1, 255, JSONREQ_BYTES, host,
	    NULL) == -1 ||
	    (has_shared && jsonreq_bool(JSONREQ_NOVA, arg, "onSharedStorage",
	    JSONREQ_REQUIRED, shared, NULL) == -1) ||
	    (has_force && jsonreq_bool(JSONREQ_NOVA, arg, "force", 0, force,
	    NULL) == -1) ||
	    jsonreq_str(JSONREQ_NOVA, arg, "adminPass", 0, 255, JSONREQ_BYTES,
	    pass, NULL) == -1)
		return -1;
	if (*host != NULL && strspn(*host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != strlen(*host))
		return jsonreq_fail(JSONREQ_NOVA, "host", "does not match "
		    "'^[a-zA-Z0-9-._]*$'");
	if (*shared && *pass != NULL) {
		err_set(TS_EINVALID, "admin password can't be changed on "
		    "existing disk");
		return -1;
	}
	if (*force && *host == NULL) {
		err_set(TS_EINVALID, "Can't force to a non-provided "
		    "destination");
		return -1;
	}
	return 0;
}

int
compute_evacuate_action(struct http_req *req, struct http_resp *resp,
    int mv, json_t *arg, const struct rec_instance *cur)
{
	struct evac e = { .svc = compute_of(req) };
	const char *host = NULL, *pass = NULL;
	bool shared = false, force = false;
	char pw[13];
	int known, rc = -1;

	if (compute_enforce(req, "os_compute_api:os-evacuate") == -1 ||
	    parse(arg, mv, &host, &shared, &pass, &force) == -1)
		return -1;
	if (host != NULL) {
		if ((known = compute_host_known(req, host)) == -1)
			return -1;
		if (!known) {
			err_set(TS_ENOT_FOUND, "Compute host %s not found.",
			    host);
			return -1;
		}
		if (cur->host != NULL && strcmp(cur->host, host) == 0) {
			err_set(TS_EINVALID, "The target host can't be the "
			    "same one.");
			return -1;
		}
	}
	if (state_ok(cur) == -1)
		return -1;
	/* Nova's ComputeServiceInUse (400): only a host that is down may
	 * lose its instances; forced down counts as down. */
	if (scheduler_host_up(e.svc->sched, cur->host)) {
		err_set(TS_EINVALID, "Compute service of %s is still in use.",
		    cur->host);
		return -1;
	}
	e.ctx = compute_ctx(req);
	e.uuid = cur->uuid;
	e.reqid = http_req_id(req);
	e.source = cur->host;
	e.sreq.vcpus = cur->flavor.vcpus;
	e.sreq.memory_mb = cur->flavor.ram;
	e.sreq.disk_gb = compute_db_claim_disk_gb(cur, &cur->flavor);
	e.sreq.force_host = host;
	/* The source is down: the scheduler's filters never offer it. A
	 * named host registered but not yet in the scheduler's cache (its
	 * next refresh) is no valid host rather than a bad request. */
	if (scheduler_rank(e.svc->sched, &e.sreq, &e.cands) == -1) {
		if (host == NULL || err_code() != TS_EINVALID)
			goto out;
		e.cands.n = 0;
		e.cands.more = 0;
	}
	if (compute_write(req, evac_fn, &e) == -1)
		goto out;
	if (e.moved_net)
		network_changed(e.svc->net);
	if (e.moved_vol)
		volume_changed(e.svc->vol);
	if (pass == NULL)
		compute_servers_password(pw);
	if (e.placed) {
		log_info("instance %s evacuated from %s to %s (generation "
		    "%llu)", e.uuid, e.source, e.target,
		    (unsigned long long)e.after.generation);
		recon_dispatch_pass(e.svc->recon, &e.after, pass ? pass : pw);
		codec_clear(&schema_rec_instance, &e.after);
	}
	/* Nova answers 200 with the password below microversion 2.14, from
	 * then on 200 without a body. */
	if (request_mv_has(mv, MV_EVACUATE_NO_PASS))
		rc = http_resp_status(resp, 200);
	else
		rc = http_resp_json(resp, 200, json_pack("{s:s}", "adminPass",
		    pass ? pass : pw));
	explicit_bzero(pw, sizeof(pw));
out:
	scheduler_hosts_free(&e.cands);
	return rc;
}
