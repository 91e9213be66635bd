/*
 * compute_db: typed access to the compute tables of
 * schemas/compute.schema, always inside a transaction the caller holds.
 *
 * Keys and indexes (table names in db.h):
 *   flavors               flavor id              + flavors_by_name
 *   keypairs              user_id NUL name
 *   instances             uuid                   + instances_by_project,
 *                                                  instances_by_host,
 *                                                  instance_tasks (uuid ->
 *                                                  "", while a task runs),
 *                                                  instances_by_created
 *                                                  (db_instance_created_key()),
 *                                                  instances_by_state
 *                                                  (db_instance_state_key())
 *   instance_tombstones   uuid
 *   instance_actions      instance uuid NUL request id
 *   compute_quotas        project id
 *   compute_usage         project id
 *   host_usage            host
 *
 * compute_db_instance_put() keeps every index of an instance in step with the
 * record (given the previous version), so an index can never point at a
 * record that says otherwise. Usage records are only changed through the
 * delta functions, in the same transaction as the instances they count.
 *
 * Records handed to callbacks are decoded copies borrowed for the call.
 * get functions fill a caller-owned record (codec_clear() it); absent is
 * -1 with TS_ENOT_FOUND.
 */
#ifndef TS_CONTROLLER_COMPUTE_DB_H
#define TS_CONTROLLER_COMPUTE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "msg_gen.h"
#include "store.h"

/* Callback result convention as store_iter(): 0 go on, 1 stop, -1 fail. */

int	compute_db_flavor_get(struct store_txn *, const char *id, struct rec_flavor *);
int	compute_db_flavor_by_name(struct store_txn *, const char *name,
	    struct rec_flavor *);
/* New flavor: TS_ECONFLICT if the id or the name exists. */
int	compute_db_flavor_add(struct store_txn *, const struct rec_flavor *);
/* Replace an existing flavor (same id and name). */
int	compute_db_flavor_update(struct store_txn *, const struct rec_flavor *);
int	compute_db_flavor_del(struct store_txn *, const char *id);
int	compute_db_flavor_each(struct store_txn *,
	    int (*cb)(const struct rec_flavor *, void *), void *);

int	compute_db_keypair_get(struct store_txn *, const char *user_id,
	    const char *name, struct rec_keypair *);
/* New key pair: TS_ECONFLICT if the user has one of that name. */
int	compute_db_keypair_add(struct store_txn *, const struct rec_keypair *);
int	compute_db_keypair_del(struct store_txn *, const char *user_id,
	    const char *name);
/* A user's key pairs in name order; marker: start after that name. */
int	compute_db_keypair_each(struct store_txn *, const char *user_id,
	    const char *marker, int (*cb)(const struct rec_keypair *, void *),
	    void *);
int	compute_db_keypair_count(struct store_txn *, const char *user_id, size_t *);

int	compute_db_instance_get(struct store_txn *, const char *uuid,
	    struct rec_instance *);
/* Write inst; old is the stored version (NULL for a new instance) so the
 * host and task indexes follow the change. */
/* A deep copy of src into dst (owned: codec_clear() it), through the
 * record's own encoding. */
int	compute_db_instance_copy(const struct rec_instance *src,
	    struct rec_instance *dst);
int	compute_db_instance_put(struct store_txn *, const struct rec_instance *inst,
	    const struct rec_instance *old);
/*
 * The newest updated_at (or created_at, when never updated) any instance
 * was given in this process by compute_db_instance_put(), or, before the
 * first, the time of the first call (records written by earlier
 * processes are older). An over-estimate (a put whose transaction then
 * aborted) is harmless. So no instance changed at or after a time past
 * it: a list with changes-since beyond it is empty without walking the
 * instances (the dashboard's poll at 20,000 servers). Any thread.
 */
int64_t	compute_db_instance_changed_ms(void);
/*
 * The newest write transaction (store_txn_id()) that put or deleted an
 * instance naming host (as its host, migration target or resize source,
 * before or after the write), put a tombstone of host or its host_usage
 * (the scheduler's claims), in this process;
 * 0 if none. Hosts share COMPUTE_DB_HOST_STAMPS slots by hash, and a
 * write that then aborted still counts: an over-estimate, never an
 * under-estimate, so a read snapshot whose store_txn_id() is >= it saw
 * every such change (recon.c skips re-checking a host that reports the
 * same guests on that ground). Any thread.
 */
#define COMPUTE_DB_HOST_STAMPS	16384
uint64_t compute_db_host_changed_txn(const char *host);
/* Remove the record, its index entries and its actions. */
int	compute_db_instance_del(struct store_txn *, const struct rec_instance *);
int	compute_db_instance_each(struct store_txn *,
	    int (*cb)(const struct rec_instance *, void *), void *);
int	compute_db_instance_each_project(struct store_txn *, const char *project_id,
	    int (*cb)(const struct rec_instance *, void *), void *);
int	compute_db_instance_each_host(struct store_txn *, const char *host,
	    int (*cb)(const struct rec_instance *, void *), void *);
/*
 * Instances newest first, Nova's default list order (created_at desc, then
 * uuid desc), of one project (project_id) or of all (NULL), reading only as
 * many records as the callback takes before it returns 1. after: start
 * strictly after that instance's place in the order (a list marker; it
 * need not belong to project_id); NULL starts at the newest.
 */
int	compute_db_instance_each_newest(struct store_txn *, const char *project_id,
	    const struct rec_instance *after,
	    int (*cb)(const struct rec_instance *, void *), void *);
/*
 * As compute_db_instance_each_newest(), only the instances whose vm_state
 * is one of vm_states (nvm of them, distinct) and, unless tasks is NULL,
 * whose task_state is one of tasks (ntasks, distinct; a task not in
 * db_instance_state_tasks[] matches nothing): Nova's status filter,
 * through instances_by_state (db.h), reading only the records it lists.
 * The callback should still check the record: this is an index, and an
 * entry left behind by a caller's wrong `old` would list an instance
 * under a state it left.
 */
int	compute_db_instance_each_state(struct store_txn *, const char *project_id,
	    const char *const *vm_states, size_t nvm, const char *const *tasks,
	    size_t ntasks, const struct rec_instance *after,
	    int (*cb)(const struct rec_instance *, void *), void *);

/* UUIDs of instances with a task (borrowed, NUL-terminated). */
int	compute_db_task_each(struct store_txn *,
	    int (*cb)(const char *uuid, void *), void *);

int	compute_db_tombstone_get(struct store_txn *, const char *uuid,
	    struct rec_instance_tombstone *);
int	compute_db_tombstone_put(struct store_txn *,
	    const struct rec_instance_tombstone *);
int	compute_db_tombstone_del(struct store_txn *, const char *uuid);
int	compute_db_tombstone_each(struct store_txn *,
	    int (*cb)(const struct rec_instance_tombstone *, void *), void *);

int	compute_db_action_get(struct store_txn *, const char *uuid,
	    const char *request_id, struct rec_instance_action *);
int	compute_db_action_put(struct store_txn *, const struct rec_instance_action *);
int	compute_db_action_each(struct store_txn *, const char *uuid,
	    int (*cb)(const struct rec_instance_action *, void *), void *);
/*
 * Action bookkeeping for a task: start an action (with its one event
 * "compute_<what>_instance" running) or finish the event of an existing
 * one (result "Success" or "Error", message kept as the traceback).
 * A missing action on finish is not an error (the record may predate it).
 */
int	compute_db_action_start(struct store_txn *, const struct rec_instance *,
	    const char *request_id, const char *action, const char *user_id,
	    const char *project_id, int64_t now);
int	compute_db_action_finish(struct store_txn *, const char *uuid,
	    const char *request_id, int ok, const char *message, int64_t now);

/* Quota overrides of a project (absent: a zeroed record, no has_ flags). */
int	compute_db_quota_get(struct store_txn *, const char *project_id,
	    struct rec_compute_quota *);
int	compute_db_quota_put(struct store_txn *, const char *project_id,
	    const struct rec_compute_quota *);
int	compute_db_quota_del(struct store_txn *, const char *project_id);

/* Usage of a project (absent: zero). */
int	compute_db_usage_get(struct store_txn *, const char *project_id,
	    struct rec_compute_usage *);
int	compute_db_usage_add(struct store_txn *, const char *project_id,
	    int64_t instances, int64_t cores, int64_t ram);
int	compute_db_usage_put(struct store_txn *, const char *project_id,
	    const struct rec_compute_usage *);
int	compute_db_usage_each(struct store_txn *,
	    int (*cb)(const char *project_id, const struct rec_compute_usage *,
	    void *), void *);

/* Claims on a host (absent: zero). Deltas never take a counter below 0
 * (a release that exceeds the claim is logged and clamped). */
int	compute_db_host_usage_get(struct store_txn *, const char *host,
	    struct rec_host_usage *);
int	compute_db_host_usage_add(struct store_txn *, const char *host,
	    int64_t vcpus, int64_t memory_mb, int64_t disk_gb,
	    int64_t instances);
int	compute_db_host_usage_put(struct store_txn *, const char *host,
	    const struct rec_host_usage *);
int	compute_db_host_usage_each(struct store_txn *,
	    int (*cb)(const char *host, const struct rec_host_usage *, void *),
	    void *);

/* Integer ids of compute hosts. compute_db_node_ensure() assigns the next free
 * id (one above the highest ever given, so ids are never reused) to a host
 * without one; *id receives the host's id either way. */
int	compute_db_node_get(struct store_txn *, const char *host,
	    struct rec_compute_node *);
int	compute_db_node_ensure(struct store_txn *, const char *host, int64_t now,
	    uint32_t *id);
int	compute_db_node_each(struct store_txn *,
	    int (*cb)(const struct rec_compute_node *, void *), void *);

/* Disk a flavor takes on its host, GiB: root + ephemeral + swap. */
/* ---- migrations (os-migrations): keyed by id, 8 bytes big-endian ---- */

/* Adds m with the next id (one above the highest stored; ids are never
 * reused: records are never deleted) into m->id. */
int	compute_db_migration_add(struct store_txn *, struct rec_migration *m);
int	compute_db_migration_get(struct store_txn *, uint64_t id,
	    struct rec_migration *);
int	compute_db_migration_put(struct store_txn *, const struct rec_migration *);
/* Sets status (and updated_at) of migration id; an absent record is
 * logged and ignored (an instance of a database older than the table). */
int	compute_db_migration_status(struct store_txn *, uint64_t id,
	    const char *status, int64_t now);
/* Newest first (id descending); the callback returns 0 go on, 1 stop. */
int	compute_db_migration_each(struct store_txn *,
	    int (*cb)(const struct rec_migration *, void *), void *);

uint64_t compute_db_flavor_disk_gb(const struct sch_inst_flavor *);
/*
 * The disk (GiB) flavor f of instance i claims on a host: f's root disk,
 * ephemeral and swap, without the root disk when i boots from a volume
 * (a volume with boot index 0), as create claims it. Every claim and
 * release of i's flavor (create, unshelve, evacuation, moves, delete,
 * offload, the audit's recount) uses this, so a host's claims balance.
 */
uint64_t compute_db_claim_disk_gb(const struct rec_instance *i,
	    const struct sch_inst_flavor *f);

/*
 * `tinystack-manage db purge`: what servers that no longer exist left
 * behind, older than before_ms (wall ms), as Nova's `nova-manage db purge
 * --before` removes deleted rows: a gone server's instance actions (all of
 * them or none, by the newest time among its actions and their events:
 * its delete's), and migrations of gone servers last updated before then,
 * except the newest migration (its id is the counter of the next). dry:
 * count only; else a write transaction. Counts in *out.
 */
struct compute_db_purged {
	size_t	servers;	/* gone servers whose actions went */
	size_t	actions;
	size_t	migrations;
};
int	compute_db_purge(struct store_txn *, int64_t before_ms, bool dry,
	    struct compute_db_purged *);

#endif
