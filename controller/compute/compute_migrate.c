/*
 * compute_migrate: Nova's live migration server action (os-migrateLive),
 * the body of microversions 2.1-2.30: {"host": H|null, "block_migration":
 * bool, "disk_over_commit": bool} below 2.25; from 2.25 block_migration
 * may be "auto" and disk_over_commit is gone; from 2.30 "force".
 *
 * The API checks as Nova's conductor does before it answers (below 2.34
 * the checks are synchronous: a refusal is a 400 or 409, never a server
 * left in ERROR), then one write transaction claims the target (the
 * scheduler's claim, the source never a candidate), records it in the
 * instance (migrate_host) and starts the "migrating" task (instance action
 * "live-migration"). From then on the reconciler carries it: the source's
 * agent is asked to migrate the guest peer to peer, and its answer, or
 * the hosts' reports when the answer is lost, end it in one transaction:
 * host, ports and generation moved and the source's claim released, or
 * (a failure) the target's claim released with the instance ACTIVE where
 * it was. See recon.h. Attached volumes go along: their exports stay as
 * they are (volume_attach_follow()); the target defines their CHAP
 * secrets when it prepares, and the move re-hosts the attachments.
 *
 * Local disks are always copied (libvirt's non-shared storage migration):
 * tinystack has no shared instance storage, so Nova's refusal of
 * block_migration false without shared storage would make every plain
 * `nova live-migration` fail; block_migration is kept as asked and the
 * agent copies the disks either way. disk_over_commit is read and checked
 * as Nova's schema does, and otherwise ignored (as Nova's libvirt driver
 * ignores it since Queens).
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

struct mig {
	struct compute			*svc;
	const struct request_ctx	*ctx;
	const char			*uuid;
	const char			*reqid;
	const char			*source;	/* host read before */
	bool				 block;
	struct scheduler_request	 sreq;
	struct scheduler_hosts		 cands;
	char				 target[SCHEDULER_NAME_MAX + 1];
	struct rec_instance		 after;
	bool				 placed;
	bool				 moved_net;	/* ports changed */
};

/* Nova's check_instance_state for live_migrate: ACTIVE or PAUSED, no
 * task; then what the conductor's pre-checks refuse. */
static int
state_ok(const struct rec_instance *i)
{
	if (strcmp(i->vm_state, VM_ACTIVE) != 0 &&
	    strcmp(i->vm_state, VM_PAUSED) != 0) {
		err_set(TS_ECONFLICT, "Cannot 'os-migrateLive' instance %s "
		    "while it is in vm_state %s", i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot 'os-migrateLive' instance %s "
		    "while it is in task_state %s", i->uuid, i->task_state);
		return -1;
	}
	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "Cannot 'os-migrateLive' instance %s: "
		    "it has no host", i->uuid);
		return -1;
	}
	/* Volumes go along (their attachments keep initiator and CHAP:
	 * volume_attach_follow()), once settled: one still being attached
	 * or detached is between the record and the guest. */
	if (compute_volumes_settled(i) == -1)
		return -1;
	return 0;
}

static int
migrate_fn(struct store_txn *txn, void *arg)
{
	struct mig *m = arg;
	struct rec_instance i, old;
	int64_t now = db_now_ms();
	char host[SCHEDULER_NAME_MAX + 1];
	int rc = -1;

	/* A retried transaction starts over. */
	if (m->placed)
		codec_clear(&schema_rec_instance, &m->after);
	m->placed = false;
	m->moved_net = false;
	if (compute_db_instance_get(txn, m->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (state_ok(&i) == -1)
		goto out;
	if (strcmp(i.host, m->source) != 0) {
		err_set(TS_ECONFLICT, "Cannot 'os-migrateLive' instance %s: it "
		    "moved to %s meanwhile", i.uuid, i.host);
		goto out;
	}
	if (scheduler_claim(m->svc->sched, txn, &m->sreq, &m->cands, host) ==
	    -1) {
		/* Nova's NoValidHost is a 400 here (synchronous below
		 * 2.34), the server unchanged. */
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_EINVALID, "%s", err_msg());
		goto out;
	}
	if ((i.migrate_host = strdup(host)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	i.has_migrate_block = true;
	i.migrate_block = m->block;
	/* The target serves the guest's networks before it arrives. */
	if (m->svc->net != NULL) {
		if (network_port_migrating(m->svc->net, txn, i.uuid, host) ==
		    -1)
			goto out;
		m->moved_net = true;
	}
	/* os-migrations: ended by the reconciler's migrate_end(). */
	if (compute_migration_begin(txn, &i, "live-migration", "running",
	    i.host, host, i.flavor.id, i.flavor.id, now) == -1)
		goto out;
	if (recon_task_begin_as(m->svc->recon, txn, &i, "migrating",
	    "live-migration", m->reqid, m->ctx->user_id, m->ctx->project_id,
	    now) == -1)
		goto out;
	if (compute_db_instance_put(txn, &i, &old) == -1 ||
	    compute_db_instance_copy(&i, &m->after) == -1)
		goto out;
	snprintf(m->target, sizeof(m->target), "%s", host);
	m->placed = true;
	rc = 0;
out:
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static int
bad_extra(const char *k)
{
	err_set(TS_EINVALID, "Invalid input for field/attribute os-migrateLive. "
	    "Value: %s. Additional properties are not allowed ('%s' was "
	    "unexpected)", k, k);
	return -1;
}

/*
 * Nova's migrate_live schema at microversion mv: host (a hostname or null)
 * and block_migration required; below 2.25 disk_over_commit required too
 * and block_migration a boolean word, from 2.25 disk_over_commit gone and
 * block_migration also "auto" (the driver decides: tinystack has no shared
 * instance storage, so a block migration); from 2.30 force, which needs a
 * host. A forced host is still claimed (as Nova's placement claim since
 * Pike); only the scheduler's filters are what force would skip, and the
 * named host's claim is the check tinystack makes either way.
 */
static int
parse(json_t *arg, int mv, const char **host, bool *block)
{
	bool v225 = request_mv_has(mv, MV_LIVE_MIGRATE_AUTO);
	bool has_force = request_mv_has(mv, MV_LIVE_MIGRATE_FORCE);
	const char *k;
	json_t *v, *bm;
	bool doc = false, force = false;

	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "os-migrateLive. Value: %s. %s is not of type 'object'",
		    json_is_null(arg) ? "None" : "?", json_is_null(arg) ?
		    "None" : "value");
		return -1;
	}
	json_object_foreach(arg, k, v) {
		if (strcmp(k, "host") != 0 && strcmp(k, "block_migration") !=
		    0 && (v225 || strcmp(k, "disk_over_commit") != 0) &&
		    (!has_force || strcmp(k, "force") != 0))
			return bad_extra(k);
	}
	if (json_object_get(arg, "host") == NULL)
		return jsonreq_fail(JSONREQ_NOVA, "os-migrateLive",
		    "'host' is a required property");
	bm = json_object_get(arg, "block_migration");
	if (v225 && json_is_string(bm) &&
	    strcmp(json_string_value(bm), "auto") == 0)
		*block = true;
	else if (jsonreq_bool(JSONREQ_NOVA, arg, "block_migration",
	    JSONREQ_REQUIRED, block, NULL) == -1)
		return -1;
	if ((!v225 && jsonreq_bool(JSONREQ_NOVA, arg, "disk_over_commit",
	    JSONREQ_REQUIRED, &doc, NULL) == -1) ||
	    (has_force && jsonreq_bool(JSONREQ_NOVA, arg, "force", 0, &force,
	    NULL) == -1) ||
	    jsonreq_str(JSONREQ_NOVA, arg, "host", 1, 255, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, host, NULL) == -1)
		return -1;
	if (*host != NULL && strspn(*host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != strlen(*host))
		return jsonreq_fail(JSONREQ_NOVA, "host", "does not match "
		    "'^[a-zA-Z0-9-._]*$'");
	if (force && *host == NULL) {
		err_set(TS_EINVALID, "Can't force to a non-provided "
		    "destination");
		return -1;
	}
	return 0;
}

int
compute_migrate_live_action(struct http_req *req, struct http_resp *resp,
    int mv, json_t *arg, const struct rec_instance *cur)
{
	struct mig m = { .svc = compute_of(req) };
	const char *host = NULL;
	int known, rc = -1;

	if (compute_enforce(req, "os_compute_api:os-migrate-server:"
	    "migrate_live") == -1 || parse(arg, mv, &host, &m.block) == -1)
		return -1;
	if (state_ok(cur) == -1)
		return -1;
	if (host != NULL) {
		if ((known = compute_host_known(req, host)) == -1)
			return -1;
		if (!known) {
			err_set(TS_EINVALID, "Compute host %s could not be "
			    "found.", host);
			return -1;
		}
		if (strcmp(cur->host, host) == 0) {
			err_set(TS_EINVALID, "Unable to migrate instance (%s) "
			    "to current host (%s).", cur->uuid, host);
			return -1;
		}
		if (!scheduler_host_up(m.svc->sched, host)) {
			err_set(TS_EINVALID, "Compute service of %s is "
			    "unavailable at this time.", host);
			return -1;
		}
	}
	/* The source must answer: it runs the migration. */
	if (!scheduler_host_up(m.svc->sched, cur->host)) {
		err_set(TS_EINVALID, "Compute service of %s is unavailable at "
		    "this time.", cur->host);
		return -1;
	}
	m.ctx = compute_ctx(req);
	m.uuid = cur->uuid;
	m.reqid = http_req_id(req);
	m.source = cur->host;
	m.sreq.vcpus = cur->flavor.vcpus;
	m.sreq.memory_mb = cur->flavor.ram;
	m.sreq.disk_gb = compute_db_claim_disk_gb(cur, &cur->flavor);
	m.sreq.force_host = host;
	m.sreq.ignore_host = cur->host;
	m.sreq.extra_specs = &cur->flavor.extra_specs;
	if (scheduler_rank(m.svc->sched, &m.sreq, &m.cands) == -1) {
		if (host == NULL || err_code() != TS_EINVALID)
			goto out;
		m.cands.n = 0;
		m.cands.more = 0;
	}
	if (compute_write(req, migrate_fn, &m) == -1)
		goto out;
	if (m.moved_net)
		network_changed(m.svc->net);
	log_info("instance %s: live migration from %s to %s requested%s",
	    m.uuid, m.source, m.target, m.block ? " (block migration)" : "");
	recon_dispatch(m.svc->recon, &m.after);
	rc = http_resp_status(resp, 202);
out:
	if (m.placed)
		codec_clear(&schema_rec_instance, &m.after);
	scheduler_hosts_free(&m.cands);
	return rc;
}

int
compute_migrate_abort(struct http_req *req, const struct rec_instance *cur)
{
	if (cur->task_state == NULL || strcmp(cur->task_state, "migrating") !=
	    0) {
		err_set(TS_ECONFLICT, "Cannot 'abort live migration' instance "
		    "%s while it is in task_state %s", cur->uuid,
		    cur->task_state ? cur->task_state : "None");
		return -1;
	}
	return recon_migrate_abort(compute_of(req)->recon, cur);
}
