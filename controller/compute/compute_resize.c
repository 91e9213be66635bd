/*
 * compute_resize: Nova's resize, cold migrate, confirmResize and
 * revertResize server actions, and the migration records (os-migrations,
 * /servers/{id}/migrations) that resize, live migration and evacuation
 * write.
 *
 * A resize (or a cold migration: a resize to the same flavor, migration
 * type "migration") is checked as Nova's API does (synchronously: a 400,
 * 403 or 409 leaves the server unchanged; the growth of cores and ram
 * against the project's quota, upsize_quota(), which the write checks
 * again, as does a revert's), then one write transaction claims the
 * new flavor on the target (the scheduler's claim; the source's claim of
 * the old flavor stays until confirm), moves the flavor to the new one
 * (old_flavor keeps the old), bumps the owner generation, writes the
 * migration record (status "migrating") and starts the task resize_prep.
 * The reconciler carries it (recon.h): its ensure says resize=1, the
 * agent stops the guest, keeps a copy of its root disk, grows the disk
 * and re-defines the guest with the new vCPUs/RAM; the answer ends the
 * task in vm_state "resized" (VERIFY_RESIZE) with the migration
 * "finished". Confirm gives the source's claim back and drops old_flavor
 * (the migration "confirmed"; the agent drops its copy on the next
 * ensure, which every report of the host brings: resize absent or 0).
 * Revert gives the target's claim back, puts the old flavor back, bumps
 * the generation and starts resize_reverting: the agent puts the copy of
 * the disk back and re-defines the guest (the migration "reverted").
 *
 * Nova's task states resize_migrating, resize_migrated and resize_finish
 * are one step on the same host (the agent does them at once), so the
 * server shows task resize_prep until it is VERIFY_RESIZE.
 *
 * The target is the scheduler's (targets_rank()): a cold migration looks
 * at the other hosts first, the source only where Nova's
 * allow_resize_to_same_host allows it and nothing else fits; a resize
 * looks at the source first where allowed; a server booted from a volume
 * stays on its host. To another host (xhost_begin()), the disk goes
 * through a snapshot image as Nova's cross-cell resize moves it: the
 * request makes
 * the temporary image ("<name>-resize-temp", a private snapshot of the
 * project), keeps the source in resize_source and starts
 * resize_migrating; the reconciler (recon.c) has the source stop the guest
 * and upload its root disk into the image (resize_migrated), then moves
 * host, ports and generation to the target, which builds the guest from
 * the image with the new flavor (resize_finish), and deletes the image:
 * VERIFY_RESIZE. The source's guest stays there, stopped, with its disk
 * and the claim of the old flavor. Confirm gives that claim back and
 * clears resize_source (the source's next report fences the guest);
 * revert (revert_home()) moves host and ports back, and the revert's
 * ensure starts the kept guest again (the target's is fenced). A failed
 * step or its deadline goes back the same way, with the migration
 * "error". Each step is re-driven from the record: a lost message or a
 * restart repeats it.
 *
 * Attached volumes (settled ones) go along: their attachments keep
 * initiator name and CHAP, so their exports never change, and follow the
 * guest's host (volume_attach_follow()) when the target takes over, the
 * source's guest stopped. Going back (a revert, a failed move) they
 * follow it back, and the source's guest starts only once the target
 * answered that its copy is deleted (recon_resize_back()).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "codec.h"
#include "compute_db.h"
#include "compute_int.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "http/http.h"
#include "http/jsonreq.h"
#include "image/image.h"
#include "log.h"
#include "network/network.h"
#include "recon.h"
#include "scheduler.h"
#include "store.h"
#include "volume/volume.h"

/* ---- migration records -------------------------------------------------- */

static int
dupv(char **dst, const char *s)
{
	if (s == NULL) {
		*dst = NULL;
		return 0;
	}
	if ((*dst = strdup(s)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int
compute_migration_begin(struct store_txn *txn, struct rec_instance *i,
    const char *type, const char *status, const char *source,
    const char *dest, const char *old_type, const char *new_type,
    int64_t now)
{
	struct rec_migration m = { 0 };
	uuid_t u;
	int rc = -1;

	uuid_generate_random(u);
	uuid_unparse_lower(u, m.uuid);
	snprintf(m.instance_uuid, sizeof(m.instance_uuid), "%s", i->uuid);
	if (dupv(&m.migration_type, type) == -1 ||
	    dupv(&m.status, status) == -1 ||
	    dupv(&m.source_compute, source) == -1 ||
	    dupv(&m.source_node, source) == -1 ||
	    dupv(&m.dest_compute, dest) == -1 ||
	    dupv(&m.dest_node, dest) == -1 ||
	    dupv(&m.dest_host, dest) == -1 ||
	    dupv(&m.old_instance_type_id, old_type) == -1 ||
	    dupv(&m.new_instance_type_id, new_type) == -1 ||
	    dupv(&m.project_id, i->project_id) == -1 ||
	    dupv(&m.user_id, i->user_id) == -1)
		goto out;
	m.created_at = m.updated_at = now;
	if (compute_db_migration_add(txn, &m) == -1)
		goto out;
	i->has_migration_id = true;
	i->migration_id = m.id;
	rc = 0;
out:
	codec_clear(&schema_rec_migration, &m);
	return rc;
}

/* ---- the upsize quota ---------------------------------------------------- */

/* Nova's get_over_quota_detail(): the lists, ", "-joined. */
struct overs {
	size_t	n;
	char	what[32], req[64], used[64], allowed[64];
};

static void
cat(char *dst, size_t len, const char *sep, int64_t v)
{
	size_t l = strlen(dst);

	snprintf(dst + l, len - l, "%s%lld", sep, (long long)v);
}

static void
over(struct overs *o, const char *name, int64_t want, int64_t used,
    int64_t limit)
{
	const char *sep = o->n > 0 ? ", " : "";
	size_t l = strlen(o->what);

	if (want <= 0 || limit < 0 || used + want <= limit)
		return;
	snprintf(o->what + l, sizeof(o->what) - l, "%s%s", sep, name);
	cat(o->req, sizeof(o->req), sep, want);
	cat(o->used, sizeof(o->used), sep, used);
	cat(o->allowed, sizeof(o->allowed), sep, limit);
	o->n++;
}

/*
 * Nova's quota check of a resize and of the revert of a downsize (compute
 * API _check_quota_for_upsize): what the project's cores and ram grow by
 * (a shrink counts 0), added to its usage, against its limits (-1: none).
 * Over: 403 TooManyInstances naming every resource over, sorted (cores
 * before ram), in the words of the create path's quota_check(). The usage
 * is the compute_usage record, which follows the flavor each instance
 * shows, as Nova counts its instances' flavors. Checked in the write
 * transaction that adds the growth (two racing resizes cannot both pass)
 * and, for a resize, once before the scheduler is asked (Nova's order: a
 * resize over quota is 403 whatever the hosts).
 */
static int
upsize_quota(struct compute *svc, struct store_txn *txn,
    const char *project_id, int64_t cores, int64_t ram)
{
	struct rec_compute_quota q = { 0 };
	struct rec_compute_usage u = { 0 };
	struct compute_quota_defaults lim = { 0 };
	struct overs o = { .n = 0 };
	int rc;

	if (cores <= 0 && ram <= 0)
		return 0;
	rc = compute_db_quota_get(txn, project_id, &q);
	if (rc == 0)
		rc = compute_db_usage_get(txn, project_id, &u);
	if (rc == 0)
		compute_admin_quota_limits(svc, &q, &lim);
	codec_clear(&schema_rec_compute_quota, &q);
	if (rc == -1)
		return -1;
	over(&o, "cores", cores, u.cores, lim.cores);
	over(&o, "ram", ram, u.ram, lim.ram);
	if (o.n == 0)
		return 0;
	err_set(TS_EOVER_QUOTA, "Quota exceeded for %s: Requested %s, but "
	    "already used %s of %s %s", o.what, o.req, o.used, o.allowed,
	    o.what);
	return -1;
}

/* The growth from flavor cur to (vcpus, ram), for upsize_quota(). */
static int
upsize_quota_to(struct compute *svc, struct store_txn *txn,
    const struct rec_instance *i, const struct sch_inst_flavor *cur,
    uint32_t vcpus, uint64_t ram)
{
	return upsize_quota(svc, txn, i->project_id,
	    (int64_t)vcpus - (int64_t)cur->vcpus,
	    (int64_t)ram - (int64_t)cur->ram);
}

static int
upsize_precheck(struct http_req *req, struct compute *svc,
    const struct rec_instance *cur, const struct rec_flavor *to)
{
	struct store_txn *txn = NULL;
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = upsize_quota_to(svc, txn, cur, &cur->flavor, to->vcpus, to->ram);
	store_txn_end(&txn);
	return rc;
}

/* ---- resize ------------------------------------------------------------- */

struct rsz {
	struct compute			*svc;
	const struct request_ctx	*ctx;
	const char			*uuid;
	const char			*reqid;
	const char			*source;
	const char			*action;	/* resize | migrate */
	bool				 admin;
	struct rec_flavor		 flavor;	/* the new one */
	struct scheduler_request	 sreq;
	struct scheduler_hosts		 cands;
	struct rec_instance		 after;
	bool				 done;
};

static int
state_ok(const struct rec_instance *i, const char *action, bool admin)
{
	static const char *const states[] = { VM_ACTIVE, VM_STOPPED, NULL };

	if (i->locked && !admin) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	return compute_servers_state_check(i, action, states);
}

/* The instance's copy of flavor f (owned by *out). */
static int
inst_flavor_of(const struct rec_flavor *f, struct sch_inst_flavor *out)
{
	memset(out, 0, sizeof(*out));
	if (dupv(&out->id, f->id) == -1 || dupv(&out->name, f->name) == -1)
		goto fail;
	out->ram = f->ram;
	out->vcpus = f->vcpus;
	out->disk = f->disk;
	out->swap = f->swap;
	out->ephemeral = f->ephemeral;
	if (f->extra_specs.n > 0) {
		out->extra_specs.items = calloc(f->extra_specs.n,
		    sizeof(*out->extra_specs.items));
		if (out->extra_specs.items == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			goto fail;
		}
		for (size_t e = 0; e < f->extra_specs.n; e++) {
			out->extra_specs.n++;
			if (dupv(&out->extra_specs.items[e].k,
			    f->extra_specs.items[e].k) == -1 ||
			    dupv(&out->extra_specs.items[e].v,
			    f->extra_specs.items[e].v) == -1)
				goto fail;
		}
	}
	return 0;
fail:
	codec_clear(&schema_sch_inst_flavor, out);
	return -1;
}

/*
 * A move to another host (i->resize_host, claimed): the temporary image
 * the source uploads the root disk into (as Nova's cross-cell resize:
 * "<name>-resize-temp", a private snapshot of the project, deleted once
 * the target built the guest from it), the source kept in resize_source
 * (its guest and claim stay until confirm or revert), task
 * resize_migrating; recon.c carries the steps. The generation moves with
 * the host, when the source's disk is uploaded.
 */
static int
xhost_begin(struct rsz *z, struct store_txn *txn, struct rec_instance *i,
    int64_t now)
{
	struct image_snapshot_req ir;
	char name[300], id[CODEC_UUID_LEN + 1];

	memset(&ir, 0, sizeof(ir));
	snprintf(name, sizeof(name), "%s-resize-temp", i->name);
	ir.name = name;
	ir.project_id = i->project_id;
	ir.user_id = z->ctx->user_id;
	ir.instance_uuid = i->uuid;
	ir.base_image_ref = i->image_ref;
	/* the agent uploads a qcow2 without backing file */
	ir.disk_format = "qcow2";
	ir.container_format = "bare";
	ir.kernel_id = i->kernel_id;
	ir.ramdisk_id = i->ramdisk_id;
	ir.os_command_line = i->kernel_cmdline;
	if (image_snapshot_create(txn, &ir, now, id) == -1)
		return -1;
	free(i->snapshot_image_id);
	free(i->resize_source);
	i->snapshot_image_id = i->resize_source = NULL;
	if (dupv(&i->snapshot_image_id, id) == -1 ||
	    dupv(&i->resize_source, i->host) == -1)
		return -1;
	return recon_task_begin_as(z->svc->recon, txn, i, "resize_migrating",
	    z->action, z->reqid, z->ctx->user_id, z->ctx->project_id, now);
}

static int
resize_fn(struct store_txn *txn, void *arg)
{
	struct rsz *z = arg;
	struct rec_instance i, old;
	struct sch_inst_flavor nf;
	char host[SCHEDULER_NAME_MAX + 1];
	int64_t now = db_now_ms();
	bool migrate = strcmp(z->action, "migrate") == 0;
	int rc = -1;

	if (z->done)
		codec_clear(&schema_rec_instance, &z->after);
	z->done = false;
	if (compute_db_instance_get(txn, z->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (state_ok(&i, z->action, z->admin) == -1)
		goto out;
	if (strcmp(i.host, z->source) != 0) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: it moved to %s "
		    "meanwhile", z->action, i.uuid, i.host);
		goto out;
	}
	if (!migrate && upsize_quota_to(z->svc, txn, &i, &i.flavor,
	    z->flavor.vcpus, z->flavor.ram) == -1)
		goto out;
	if (scheduler_claim(z->svc->sched, txn, &z->sreq, &z->cands, host) ==
	    -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_EINVALID, "%s", err_msg());
		goto out;
	}
	/* The project's usage follows the flavor shown (a revert gives the
	 * difference back). */
	if (!migrate && compute_db_usage_add(txn, i.project_id, 0,
	    (int64_t)z->flavor.vcpus - (int64_t)i.flavor.vcpus,
	    (int64_t)z->flavor.ram - (int64_t)i.flavor.ram) == -1)
		goto out;
	if (inst_flavor_of(&z->flavor, &nf) == -1)
		goto out;
	if (compute_migration_begin(txn, &i, migrate ? "migration" :
	    "resize", "migrating", i.host, host, i.flavor.id, nf.id, now) ==
	    -1) {
		codec_clear(&schema_sch_inst_flavor, &nf);
		goto out;
	}
	/* Moved, not copied: old_flavor takes the instance's flavor. */
	codec_clear(&schema_sch_inst_flavor, &i.old_flavor);
	i.old_flavor = i.flavor;
	i.has_old_flavor = true;
	i.flavor = nf;
	free(i.resize_host);
	if (dupv(&i.resize_host, host) == -1)
		goto out;
	if (strcmp(host, i.host) != 0) {
		/* Volumes go along once settled (as a live migration's);
		 * checked here, against the record written. */
		if (compute_volumes_settled(&i) == -1 ||
		    xhost_begin(z, txn, &i, now) == -1)
			goto out;
	} else {
		i.generation++;
		if (recon_task_begin_as(z->svc->recon, txn, &i, "resize_prep",
		    z->action, z->reqid, z->ctx->user_id, z->ctx->project_id,
		    now) == -1)
			goto out;
		/* The guest keeps the power it has (a stopped one stays
		 * stopped). */
		i.want_power = strcmp(i.vm_state, VM_STOPPED) == 0 ?
		    POWER_SHUTDOWN : POWER_RUNNING;
	}
	i.updated_at = now;
	if (compute_db_instance_put(txn, &i, &old) == -1 ||
	    compute_db_instance_copy(&i, &z->after) == -1)
		goto out;
	z->done = true;
	rc = 0;
out:
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* {"resize": {"flavorRef": F, "OS-DCF:diskConfig"?}}: Nova's schema. */
static int
parse_resize(json_t *arg, const char **ref, char num[32])
{
	json_t *fr;
	const char *k;
	json_t *v;

	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute resize. "
		    "Value: %s. %s is not of type 'object'", json_is_null(arg) ?
		    "None" : "?", json_is_null(arg) ? "None" : "value");
		return -1;
	}
	json_object_foreach(arg, k, v) {
		if (strcmp(k, "flavorRef") != 0 &&
		    strcmp(k, "OS-DCF:diskConfig") != 0) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "resize. Value: %s. Additional properties are not "
			    "allowed ('%s' was unexpected)", k, k);
			return -1;
		}
	}
	if (json_object_get(arg, "flavorRef") == NULL)
		return jsonreq_fail(JSONREQ_NOVA, "resize",
		    "'flavorRef' is a required property");
	/* Nova's flavor_ref is a string or an integer. */
	fr = json_object_get(arg, "flavorRef");
	if (json_is_integer(fr)) {
		snprintf(num, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(fr));
		*ref = num;
		return 0;
	}
	return jsonreq_str(JSONREQ_NOVA, arg, "flavorRef", 1, 255,
	    JSONREQ_BYTES, ref, NULL);
}

static int
flavor_load(struct http_req *req, const char *ref, struct rec_flavor *f)
{
	struct store_txn *txn = NULL;
	const char *slash = strrchr(ref, '/');
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_flavor_get(txn, slash ? slash + 1 : ref, f);
	store_txn_end(&txn);
	if (rc == -1 && err_code() == TS_ENOT_FOUND)
		err_set(TS_EINVALID, "Unable to locate requested flavor.");
	return rc;
}

/* Ranks the hosts of one choice (force: only the source; else any other).
 * 1 when some fit. */
static int
rank_try(struct rsz *z, const char *source, bool force)
{
	scheduler_hosts_free(&z->cands);
	z->sreq.force_host = force ? source : NULL;
	z->sreq.ignore_host = force ? NULL : source;
	if (scheduler_rank(z->svc->sched, &z->sreq, &z->cands) == -1)
		return -1;
	return z->cands.n > 0;
}

/*
 * Where a resize or cold migration may go: the scheduler's choice, the
 * source only with [compute] allow_resize_to_same_host (as Nova). A cold
 * migration looks at the other hosts first (Nova's libvirt driver cannot
 * migrate to its own host, its scheduler retries elsewhere); the source,
 * where allowed, only when none fits. A resize looks at the source first
 * where allowed (no disk to move: what it did before moves across hosts
 * existed), then the others. Attached volumes go along (their
 * attachments follow the guest: recon.c); a server booted from a volume
 * stays on its host (the move copies a local root disk).
 */
static int
targets_rank(struct rsz *z, const struct rec_instance *cur, bool migrate)
{
	bool same = config_get_bool(z->svc->cfg, "compute",
	    "allow_resize_to_same_host");
	bool other = !compute_volumes_boot(cur);
	int rc = 0;

	if (same && (!migrate || !other) && (rc = rank_try(z, cur->host,
	    true)) != 0)
		goto done;
	if (other && (rc = rank_try(z, cur->host, false)) != 0)
		goto done;
	if (same && migrate && other)
		rc = rank_try(z, cur->host, true);
done:
	if (rc == 1)
		return 0;
	if (rc == 0)
		err_set(TS_EINVALID, "No valid host was found. %s",
		    !same && !other ? "A server booted from a volume is "
		    "resized on its host only; set [compute] "
		    "allow_resize_to_same_host." :
		    "There are not enough hosts available.");
	else if (err_code() == TS_ENOT_FOUND)
		err_set(TS_EINVALID, "%s", err_msg());
	return -1;
}

static int
resize_common(struct http_req *req, struct http_resp *resp,
    const struct rec_instance *cur, const char *action, const char *ref)
{
	struct rsz z = { .svc = compute_of(req), .action = action };
	bool migrate = strcmp(action, "migrate") == 0;
	int rc = -1;

	z.admin = compute_is_admin(req);
	if (state_ok(cur, action, z.admin) == -1)
		return -1;
	if (migrate) {
		memset(&z.flavor, 0, sizeof(z.flavor));
		if (dupv(&z.flavor.id, cur->flavor.id) == -1 ||
		    dupv(&z.flavor.name, cur->flavor.name) == -1)
			goto out;
		z.flavor.ram = cur->flavor.ram;
		z.flavor.vcpus = cur->flavor.vcpus;
		z.flavor.disk = cur->flavor.disk;
		z.flavor.swap = cur->flavor.swap;
		z.flavor.ephemeral = cur->flavor.ephemeral;
		/* The same flavor, extra specs included (the scheduler's
		 * filters and the instance's copy keep them). */
		if (cur->flavor.extra_specs.n > 0) {
			const struct ts_strmap *x = &cur->flavor.extra_specs;

			z.flavor.extra_specs.items = calloc(x->n,
			    sizeof(*x->items));
			if (z.flavor.extra_specs.items == NULL) {
				err_set(TS_ENOMEM, "out of memory");
				goto out;
			}
			/* counted first: a half-copied entry is freed */
			for (size_t e = 0; e < x->n; e++) {
				z.flavor.extra_specs.n++;
				if (dupv(&z.flavor.extra_specs.items[e].k,
				    x->items[e].k) == -1 ||
				    dupv(&z.flavor.extra_specs.items[e].v,
				    x->items[e].v) == -1)
					goto out;
			}
		}
	} else {
		if (flavor_load(req, ref, &z.flavor) == -1)
			return -1;
		if (z.flavor.disabled) {
			err_set(TS_EINVALID, "Unable to locate requested "
			    "flavor.");
			goto out;
		}
		if (strcmp(z.flavor.id, cur->flavor.id) == 0) {
			err_set(TS_EINVALID, "When resizing, instances must "
			    "change flavor!");
			goto out;
		}
		if (z.flavor.disk == 0 && cur->flavor.disk != 0 &&
		    cur->image_ref != NULL && *cur->image_ref != '\0') {
			err_set(TS_EINVALID, "Resize to zero disk flavor is "
			    "not allowed.");
			goto out;
		}
		/* libvirt's driver refuses it on the host (disks are never
		 * shrunk); said here, before anything changes. */
		if (cur->image_ref != NULL && *cur->image_ref != '\0' &&
		    (z.flavor.disk < cur->flavor.disk ||
		    z.flavor.ephemeral < cur->flavor.ephemeral)) {
			err_set(TS_EINVALID, "Server disk was unable to be "
			    "resized because: Unable to resize disk down.");
			goto out;
		}
		if (upsize_precheck(req, z.svc, cur, &z.flavor) == -1)
			goto out;
	}
	/* Nova's check_instance_host: no host, not ready (409). */
	if (cur->host == NULL || *cur->host == '\0') {
		err_set(TS_ECONFLICT, "Instance %s is not ready", cur->uuid);
		goto out;
	}
	if (!scheduler_host_up(z.svc->sched, cur->host)) {
		err_set(TS_EINVALID, "Compute service of %s is unavailable at "
		    "this time.", cur->host);
		goto out;
	}
	z.ctx = compute_ctx(req);
	z.uuid = cur->uuid;
	z.reqid = http_req_id(req);
	z.source = cur->host;
	z.sreq.vcpus = z.flavor.vcpus;
	z.sreq.memory_mb = z.flavor.ram;
	/* as create claims it (compute_db_claim_disk_gb()): no root
	 * disk for a server booted from a volume */
	z.sreq.disk_gb = (compute_volumes_boot(cur) ? 0 : z.flavor.disk) +
	    z.flavor.ephemeral + (z.flavor.swap + 1023) / 1024;
	z.sreq.extra_specs = &z.flavor.extra_specs;
	if (targets_rank(&z, cur, migrate) == -1)
		goto out;
	if (compute_write(req, resize_fn, &z) == -1)
		goto out;
	log_info("instance %s: %s to flavor %s on %s requested", z.uuid,
	    action, z.flavor.id, z.source);
	recon_dispatch(z.svc->recon, &z.after);
	rc = http_resp_status(resp, 202);
out:
	if (z.done)
		codec_clear(&schema_rec_instance, &z.after);
	codec_clear(&schema_rec_flavor, &z.flavor);
	scheduler_hosts_free(&z.cands);
	return rc;
}

/* ---- confirm and revert ------------------------------------------------- */

struct fin {
	struct compute			*svc;
	const struct request_ctx	*ctx;
	const char			*uuid;
	const char			*reqid;
	const char			*action;
	bool				 admin, revert;
	bool				 ports_moved;
	int				 vols_moved;
	struct rec_instance		 after;
	bool				 done;
};

/* A revert after a move across hosts: the instance, its ports and its
 * volumes' attachments go back to the source, whose kept guest the
 * revert's ensure starts again; the target's guest is fenced by the
 * target's next report. With volumes, the target deletes its guest first
 * (recon_resize_back(): resize_release). */
static int
revert_home(struct fin *f, struct store_txn *txn, struct rec_instance *i)
{
	char *src = i->resize_source;

	if (src == NULL)
		return 0;
	if (strcmp(src, i->host) != 0) {
		if (f->svc->net != NULL && network_port_move_device(f->svc->net,
		    txn, i->uuid, src) == -1)
			return -1;
		if (recon_resize_back(f->svc->recon, txn, i, i->host,
		    &f->vols_moved) == -1)
			return -1;
		f->ports_moved = f->svc->net != NULL;
		free(i->host);
		i->host = src;
	} else {
		free(src);
	}
	i->resize_source = NULL;
	return 0;
}

static const char *const resized_states[] = { "resized", NULL };

static int
resized_ok(const struct rec_instance *i, const char *action, bool admin)
{
	if (i->locked && !admin) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	if (compute_servers_state_check(i, action, resized_states) == -1)
		return -1;
	if (!i->has_old_flavor || i->resize_host == NULL) {
		err_set(TS_EINVALID, "Instance has not been resized.");
		return -1;
	}
	return 0;
}

static int
finish_fn(struct store_txn *txn, void *arg)
{
	struct fin *f = arg;
	struct rec_instance i, old;
	int64_t now = db_now_ms();
	int rc = -1;

	if (f->done)
		codec_clear(&schema_rec_instance, &f->after);
	f->done = false;
	f->ports_moved = false;
	f->vols_moved = 0;
	if (compute_db_instance_get(txn, f->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (resized_ok(&i, f->action, f->admin) == -1)
		goto out;
	if (!f->revert) {
		/* The source's claim of the old flavor goes back (its guest,
		 * kept after a move across hosts, is fenced by its next
		 * report: recon.c resizing_from()). */
		if (scheduler_release(txn, i.resize_source ? i.resize_source :
		    i.host, i.old_flavor.vcpus,
		    i.old_flavor.ram, compute_db_claim_disk_gb(&i, &i.old_flavor))
		    == -1 || compute_db_migration_status(txn, i.has_migration_id
		    ? i.migration_id : 0, "confirmed", now) == -1 ||
		    compute_db_action_start(txn, &i, f->reqid, "confirmResize",
		    f->ctx->user_id, f->ctx->project_id, now) == -1 ||
		    compute_db_action_finish(txn, i.uuid, f->reqid, 1, NULL,
		    now) == -1)
			goto out;
		codec_clear(&schema_sch_inst_flavor, &i.old_flavor);
		i.has_old_flavor = false;
		free(i.resize_host);
		i.resize_host = NULL;
		free(i.resize_source);
		i.resize_source = NULL;
		i.has_migration_id = false;
		i.migration_id = 0;
		free(i.vm_state);
		if (dupv(&i.vm_state, i.want_power == POWER_SHUTDOWN ?
		    VM_STOPPED : VM_ACTIVE) == -1)
			goto out;
	} else {
		/* The target's claim of the new flavor goes back; the old
		 * flavor is the instance's again (a downsize's revert grows:
		 * Nova checks the quota). */
		if (upsize_quota_to(f->svc, txn, &i, &i.flavor,
		    i.old_flavor.vcpus, i.old_flavor.ram) == -1 ||
		    scheduler_release(txn, i.resize_host, i.flavor.vcpus,
		    i.flavor.ram, compute_db_claim_disk_gb(&i, &i.flavor)) == -1 ||
		    compute_db_usage_add(txn, i.project_id, 0,
		    (int64_t)i.old_flavor.vcpus - (int64_t)i.flavor.vcpus,
		    (int64_t)i.old_flavor.ram - (int64_t)i.flavor.ram) == -1 ||
		    compute_db_migration_status(txn, i.has_migration_id ?
		    i.migration_id : 0, "reverting", now) == -1)
			goto out;
		if (revert_home(f, txn, &i) == -1)
			goto out;
		codec_clear(&schema_sch_inst_flavor, &i.flavor);
		i.flavor = i.old_flavor;
		memset(&i.old_flavor, 0, sizeof(i.old_flavor));
		i.has_old_flavor = false;
		free(i.resize_host);
		i.resize_host = NULL;
		i.generation++;
		if (recon_task_begin_as(f->svc->recon, txn, &i,
		    "resize_reverting", "revertResize", f->reqid,
		    f->ctx->user_id, f->ctx->project_id, now) == -1)
			goto out;
		i.want_power = old.want_power;
	}
	i.updated_at = now;
	if (compute_db_instance_put(txn, &i, &old) == -1 ||
	    compute_db_instance_copy(&i, &f->after) == -1)
		goto out;
	f->done = true;
	rc = 0;
out:
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static int
finish_common(struct http_req *req, struct http_resp *resp,
    const struct rec_instance *cur, bool revert)
{
	struct fin f = { .svc = compute_of(req), .revert = revert };
	int rc = -1;

	f.action = revert ? "revertResize" : "confirmResize";
	if (compute_enforce_owned(req, revert ? "os_compute_api:servers:"
	    "revert_resize" : "os_compute_api:servers:confirm_resize",
	    cur->project_id, cur->user_id, "Instance", cur->uuid) == -1)
		return -1;
	f.admin = compute_is_admin(req);
	if (resized_ok(cur, f.action, f.admin) == -1)
		return -1;
	f.ctx = compute_ctx(req);
	f.uuid = cur->uuid;
	f.reqid = http_req_id(req);
	if (compute_write(req, finish_fn, &f) == -1)
		goto out;
	log_info("instance %s: %s", f.uuid, f.action);
	if (f.ports_moved)
		network_changed(f.svc->net);
	if (f.vols_moved)
		volume_changed(f.svc->vol);
	recon_dispatch(f.svc->recon, &f.after);
	rc = http_resp_status(resp, revert ? 202 : 204);
out:
	if (f.done)
		codec_clear(&schema_rec_instance, &f.after);
	return rc;
}

int
compute_resize_action(struct http_req *req, struct http_resp *resp,
    const char *key, json_t *arg, const struct rec_instance *cur)
{
	const char *ref = NULL;
	char num[32];

	/* Nova's schemas of confirmResize and revertResize take any value
	 * ({} from tempest's client, null from the others) and ignore it. */
	if (strcmp(key, "confirmResize") == 0)
		return finish_common(req, resp, cur, false);
	if (strcmp(key, "revertResize") == 0)
		return finish_common(req, resp, cur, true);
	if (strcmp(key, "migrate") == 0) {
		if (compute_enforce(req, "os_compute_api:os-migrate-server:"
		    "migrate") == -1)
			return -1;
		/* Below 2.56 Nova validates no body and ignores it (null from
		 * the clients, {} from tempest's; 2.56's host is not served). */
		return resize_common(req, resp, cur, "migrate", NULL);
	}
	if (compute_enforce_owned(req, "os_compute_api:servers:resize",
	    cur->project_id, cur->user_id, "Instance", cur->uuid) == -1 ||
	    parse_resize(arg, &ref, num) == -1)
		return -1;
	return resize_common(req, resp, cur, "resize", ref);
}

/* ---- os-migrations ------------------------------------------------------ */

struct mlist {
	struct http_req	*req;
	const char	*host, *status, *instance_uuid, *type, *source;
	const char	*server;	/* /servers/{id}/migrations */
	bool		 in_progress;
	int		 mv;
	json_t		*arr;
};

static bool
in_progress(const char *status)
{
	static const char *const done[] = { "confirmed", "reverted", "error",
	    "failed", "completed", "cancelled", "done", "finished", NULL };

	for (size_t k = 0; done[k]; k++)
		if (strcmp(status, done[k]) == 0)
			return false;
	return true;
}

/*
 * Nova's old/new_instance_type_id: an integer (or null), its flavors'
 * internal database id, which no other API shows. tinystack's flavors have
 * only their API id, kept in the record: a decimal one ("1", "42") is shown
 * as that integer, any other (a UUID) as null, which Nova's schema allows.
 */
static json_t *
type_id(const char *flavor_id)
{
	char *end;
	unsigned long long v;

	if (flavor_id == NULL || *flavor_id < '0' || *flavor_id > '9')
		return json_null();
	errno = 0;
	v = strtoull(flavor_id, &end, 10);
	if (errno != 0 || *end != '\0' || v > (unsigned long long)INT64_MAX)
		return json_null();
	return json_integer((json_int_t)v);
}

static json_t *
mig_view(struct mlist *l, const struct rec_migration *m)
{
	char c[32], u[32];
	json_t *o;

	compute_time_usec(m->created_at, c);
	compute_time_usec(m->updated_at, u);
	o = json_pack("{s:I,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:o,s:o,"
	    "s:s,s:s}",
	    "id", (json_int_t)m->id,
	    "instance_uuid", m->instance_uuid,
	    "status", m->status,
	    "source_compute", m->source_compute,
	    "source_node", m->source_node,
	    "dest_compute", m->dest_compute,
	    "dest_node", m->dest_node,
	    "dest_host", m->dest_host,
	    "old_instance_type_id", type_id(m->old_instance_type_id),
	    "new_instance_type_id", type_id(m->new_instance_type_id),
	    "created_at", c, "updated_at", u);
	if (o == NULL)
		return NULL;
	if (l->server == NULL && l->mv >= 23) {
		char id[32];

		snprintf(id, sizeof(id), "%" PRIu64, m->id);
		json_object_set_new(o, "migration_type",
		    json_string(m->migration_type));
		if (strcmp(m->migration_type, "live-migration") == 0 &&
		    in_progress(m->status)) {
			char path[128];

			snprintf(path, sizeof(path), "servers/%s/migrations",
			    m->instance_uuid);
			json_object_set_new(o, "links", compute_links(l->req,
			    path, id));
		}
	}
	if (l->server != NULL) {
		/* GET /servers/{id}/migrations (2.23): live migrations in
		 * progress, with their progress counters. */
		json_object_set_new(o, "server_uuid",
		    json_string(m->instance_uuid));
		json_object_del(o, "instance_uuid");
		json_object_del(o, "old_instance_type_id");
		json_object_del(o, "new_instance_type_id");
		json_object_set_new(o, "memory_total_bytes", json_null());
		json_object_set_new(o, "memory_processed_bytes", json_null());
		json_object_set_new(o, "memory_remaining_bytes", json_null());
		json_object_set_new(o, "disk_total_bytes", json_null());
		json_object_set_new(o, "disk_processed_bytes", json_null());
		json_object_set_new(o, "disk_remaining_bytes", json_null());
	}
	return o;
}

static bool
eq_filter(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

static int
list_cb(const struct rec_migration *m, void *arg)
{
	struct mlist *l = arg;
	json_t *o;

	if (!eq_filter(l->status, m->status) ||
	    !eq_filter(l->instance_uuid, m->instance_uuid) ||
	    !eq_filter(l->source, m->source_compute) ||
	    (l->type != NULL && l->mv >= 23 &&
	    !eq_filter(l->type, m->migration_type)) ||
	    (l->host != NULL && !eq_filter(l->host, m->source_compute) &&
	    !eq_filter(l->host, m->dest_compute)))
		return 0;
	if (l->server != NULL && (strcmp(m->instance_uuid, l->server) != 0 ||
	    strcmp(m->migration_type, "live-migration") != 0 ||
	    !in_progress(m->status)))
		return 0;
	if ((o = mig_view(l, m)) == NULL || json_array_append_new(l->arr, o)
	    == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int
compute_migrations_list(struct http_req *req, struct http_resp *resp)
{
	struct mlist l = { .req = req };
	struct store_txn *txn = NULL;
	int rc;

	if (compute_version(req, resp, &l.mv) == -1)
		return -1;
	l.host = http_req_query(req, "host");
	l.status = http_req_query(req, "status");
	l.instance_uuid = http_req_query(req, "instance_uuid");
	l.type = http_req_query(req, "migration_type");
	l.source = http_req_query(req, "source_compute");
	if ((l.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (compute_read(req, &txn) == -1) {
		json_decref(l.arr);
		return -1;
	}
	rc = compute_db_migration_each(txn, list_cb, &l);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(l.arr);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "migrations",
	    l.arr));
}

static int
server_migration(struct http_req *req, struct http_resp *resp, int want_mv,
    const char *rule, struct rec_instance *i, int *mv)
{
	struct store_txn *txn = NULL;
	int rc;

	if (compute_version(req, resp, mv) == -1)
		return -1;
	/* The rule first (a caller it refuses learns only that), then the
	 * microversion the route exists from. */
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, i);
	store_txn_end(&txn);
	if (rc == 0 && *mv < want_mv) {
		codec_clear(&schema_rec_instance, i);
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	return rc;
}

int
compute_server_migrations_list(struct http_req *req, struct http_resp *resp)
{
	struct mlist l = { .req = req };
	struct rec_instance i;
	struct store_txn *txn = NULL;
	int rc;

	if (server_migration(req, resp, 23, "os_compute_api:servers:"
	    "migrations:index", &i, &l.mv) == -1)
		return -1;
	l.server = i.uuid;
	if ((l.arr = json_array()) == NULL || compute_read(req, &txn) == -1) {
		json_decref(l.arr);
		codec_clear(&schema_rec_instance, &i);
		if (l.arr == NULL)
			err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	rc = compute_db_migration_each(txn, list_cb, &l);
	store_txn_end(&txn);
	codec_clear(&schema_rec_instance, &i);
	if (rc == -1) {
		json_decref(l.arr);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "migrations",
	    l.arr));
}

static int
mid_parse(struct http_req *req, uint64_t *id)
{
	const char *s = http_req_param(req, "migration_id");
	char *end;

	*id = s ? strtoull(s, &end, 10) : 0;
	if (s == NULL || *s == '\0' || *end != '\0' || *id == 0) {
		err_set(TS_ENOT_FOUND, "Migration %s could not be found.",
		    s ? s : "");
		return -1;
	}
	return 0;
}

int
compute_server_migrations_show(struct http_req *req, struct http_resp *resp)
{
	struct mlist l = { .req = req };
	struct rec_instance i;
	struct rec_migration m;
	struct store_txn *txn = NULL;
	uint64_t id;
	json_t *o;
	int rc;

	if (server_migration(req, resp, 23, "os_compute_api:servers:"
	    "migrations:show", &i, &l.mv) == -1)
		return -1;
	l.server = i.uuid;
	if (mid_parse(req, &id) == -1 || compute_read(req, &txn) == -1) {
		codec_clear(&schema_rec_instance, &i);
		return -1;
	}
	rc = compute_db_migration_get(txn, id, &m);
	store_txn_end(&txn);
	if (rc == 0 && (strcmp(m.instance_uuid, i.uuid) != 0 ||
	    strcmp(m.migration_type, "live-migration") != 0 ||
	    !in_progress(m.status))) {
		err_set(TS_ENOT_FOUND, "In-progress live migration %" PRIu64
		    " is not found for server %s.", id, i.uuid);
		codec_clear(&schema_rec_migration, &m);
		rc = -1;
	}
	codec_clear(&schema_rec_instance, &i);
	if (rc == -1)
		return -1;
	o = mig_view(&l, &m);
	codec_clear(&schema_rec_migration, &m);
	if (o == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "migration", o));
}

int
compute_server_migrations_delete(struct http_req *req, struct http_resp *resp)
{
	struct rec_instance i;
	struct rec_migration m;
	struct store_txn *txn = NULL;
	uint64_t id;
	int mv, rc;

	if (server_migration(req, resp, 24, "os_compute_api:servers:"
	    "migrations:delete", &i, &mv) == -1)
		return -1;
	if (mid_parse(req, &id) == -1 || compute_read(req, &txn) == -1) {
		codec_clear(&schema_rec_instance, &i);
		return -1;
	}
	rc = compute_db_migration_get(txn, id, &m);
	store_txn_end(&txn);
	if (rc == -1) {
		codec_clear(&schema_rec_instance, &i);
		return -1;
	}
	/* Nova's InvalidMigrationState / MigrationNotFoundForInstance. */
	if (strcmp(m.instance_uuid, i.uuid) != 0) {
		err_set(TS_ENOT_FOUND, "Migration %" PRIu64 " not found for "
		    "instance %s", id, i.uuid);
		rc = -1;
	} else if (strcmp(m.migration_type, "live-migration") != 0 ||
	    !in_progress(m.status) || i.task_state == NULL ||
	    strcmp(i.task_state, "migrating") != 0) {
		err_set(TS_EINVALID, "Migration %" PRIu64 " state of instance "
		    "%s is %s. Cannot %s while the migration is in this "
		    "state.", id, i.uuid, m.status, "abort live migration");
		rc = -1;
	} else {
		/* the source's libvirtd aborts the job (compute_migrate.c) */
		rc = compute_migrate_abort(req, &i);
	}
	codec_clear(&schema_rec_migration, &m);
	codec_clear(&schema_rec_instance, &i);
	if (rc == -1)
		return -1;
	return http_resp_status(resp, 202);
}
