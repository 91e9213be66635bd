/*
 * recon: dispatch and reconciliation of instances, the controller half of
 * the compute protocol (schemas/compute.schema).
 *
 * Desired state lives in each instance record (host, generation,
 * want_power, and the task being carried out: task_state, its request id
 * and its deadline); actual state is what the host's agent last reported.
 * The API writes desired state first, durably (the journal), and only then
 * asks recon to send the command. Everything after that is level-triggered:
 *
 * - Replies (instance_state with in_reply_to = the task's request id)
 *   complete the task: vm_state moves to the task's target, or the task
 *   fails (a failed build goes to ERROR with a fault, a failed power
 *   action leaves the instance in the state the agent reports).
 * - Every second the tasks are scanned: a task past its deadline fails
 *   (ERROR with a fault "timed out"), except delete, which is retried for
 *   ever while the host is up, and completed locally (resources freed,
 *   a tombstone left) while the host is down; a task without an answer is
 *   sent again, same request id, with back-off (agents de-duplicate).
 *   Nothing is ever left in a task state without an owner or a deadline.
 * - Every report of an agent (hello on (re)connect, then each heartbeat)
 *   lists the guests the host runs; recon compares it with the instances
 *   placed there and closes the gap: a missing guest is re-created, a
 *   guest in the wrong power state is moved back (the database is the
 *   authority, as in Nova, except that a guest that shut down by itself
 *   makes its instance SHUTOFF), a guest of a deleted instance (tombstone)
 *   or of an instance placed elsewhere (fencing) is deleted, an unknown
 *   "instance-*" guest is reported as an orphan (the agent's
 *   orphan_action decides). A hello also re-sends every pending task of
 *   the host at once.
 * - A live migration (task "migrating", compute_migrate.c) is sent to the
 *   source and holds claims on both hosts. The target's report of the
 *   guest running with the new generation (libvirt resumes it there only
 *   past the point of no return) or the source's answer, whichever comes
 *   first, ends it: ok moves host, ports and generation to the target and
 *   gives the source's claim back, an error gives the target's back (the
 *   instance stays ACTIVE where it is); the source's paused copy is not
 *   fenced until its answer. A lost answer is settled from the reports:
 *   the target with the guest at the new generation in the instance's
 *   power, once the source no longer has it, means done; the
 *   source still reporting it after the deadline means rolled back; past
 *   the deadline with the source down, or twice the deadline with no
 *   sign, rolled back too. Meanwhile the target's copy is not fenced and
 *   the source's missing copy is not re-created.
 * - An instance whose host is down stays where it is (its power state
 *   shows NOSTATE in the API); it is never moved silently.
 *
 * Threads: recon runs its own thread (batches agent events into one
 * store_write, scans tasks, refreshes the scheduler's cache). The bus
 * thread hands it events with recon_agent_msg() and recon_host_report();
 * HTTP threads call recon_dispatch() and recon_console(). Commands leave
 * through bus_post(), the bus's thread-safe door.
 */
#ifndef TS_CONTROLLER_RECON_H
#define TS_CONTROLLER_RECON_H

#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

struct bus;
struct codec_envelope;
struct sched;
struct store;
struct store_txn;
struct recon;

/* Nova vm_states and power states used by the task table. */
#define VM_BUILDING	"building"
#define VM_ACTIVE	"active"
#define VM_STOPPED	"stopped"
#define VM_PAUSED	"paused"
#define VM_SUSPENDED	"suspended"
#define VM_ERROR	"error"
#define VM_RESIZED	"resized"	/* waiting for confirm or revert */
#define VM_SHELVED	"shelved"	/* stopped on its host, snapshotted */
#define VM_SHELVED_OFFLOADED "shelved_offloaded" /* no host, no guest */

#define POWER_NOSTATE	0
#define POWER_RUNNING	1
#define POWER_PAUSED	3
#define POWER_SHUTDOWN	4
#define POWER_CRASHED	6
#define POWER_SUSPENDED	7

enum recon_cmd {
	RECON_ENSURE = 0,	/* instance_ensure with want_power */
	RECON_ACTION,		/* instance_action (agent_action) */
	RECON_DELETE,		/* instance_delete */
	RECON_MIGRATE,		/* instance_migrate, to the source */
	RECON_SNAPSHOT,		/* instance_snapshot (createImage,
				   createBackup): the guest stays as it is;
				   a failure ends the task, never in ERROR */
	RECON_OFFLOAD,		/* instance_delete of a shelved guest: the
				   instance stays, without a host */
};

/* One kind of task: what it sends and where it ends. */
struct recon_task {
	const char	*task_state;	/* Nova's name: "spawning", ... */
	const char	*action;	/* os-instance-actions name */
	enum recon_cmd	 cmd;
	uint32_t	 want_power;	/* ENSURE/ACTION: power at the end */
	const char	*agent_action;	/* ACTION: reboot_soft|reboot_hard */
	const char	*done_vm_state;	/* vm_state on success (NULL: from
					   want_power; deletes: gone) */
	int		 build;		/* deadline is build_timeout */
	int		 keep_power;	/* want_power is the caller's (rebuild) */
};

/* The task named task_state (NULL if none/unknown). Static. */
const struct recon_task *recon_task_find(const char *task_state);

struct recon_opts {
	const char	*controller_host;	/* sender of commands */
	int		 build_timeout;		/* s; 0 -> 300 */
	int		 action_timeout;	/* s; 0 -> 120 */
	int		 shelved_offload_time;	/* s; 0: a shelve offloads
						   at once; else kept on the
						   host (shelveOffload) */
	int		 resend_interval;	/* s, first resend; 0 -> 5;
						   doubles up to 60 */
	int		 console_timeout;	/* s; 0 -> 10 */
};

/* store, bus and sched are borrowed and must outlive recon. NULL with
 * err set. recon_start() starts the thread. */
struct recon	*recon_new(struct store *, struct bus *, struct sched *,
		    const struct recon_opts *);
int		 recon_start(struct recon *);

/*
 * Mints the image download capability put into commands that may build a
 * guest (see compute.schema, instance_spec.image_token) for instance i (its
 * host, uuid, image_ref, kernel_id, ramdisk_id). Called from any thread
 * (the reconciler's, API workers dispatching a new task) and only for an
 * instance with an image_ref. Without a minter (or when it fails, logged)
 * commands go without one and an agent that must download an image
 * reports the build as failed.
 */
typedef int (*recon_token_fn)(void *arg, const struct rec_instance *i,
		    char *out, size_t outlen);
/* Before recon_start(); arg is borrowed for recon's lifetime. */
void		 recon_set_token_fn(struct recon *, recon_token_fn, void *arg);
/* The Network service whose ports the reconciler sends as NICs and
 * releases when it completes a delete: its functions of network/network.h,
 * given by compute (so that the reconciler links without the network
 * service, as in recon_test). Copied; net borrowed; before the thread. */
struct network;
struct network_device_port;
struct recon_net {
	struct network	*net;
	int	(*each_device)(struct store_txn *, const char *device_id,
		    int (*cb)(const struct network_device_port *, void *),
		    void *);
	int	(*release_device)(struct network *, struct store_txn *,
		    const char *device_id);
	/* A live-migrated instance's ports follow it (binding:host_id). */
	int	(*move_device)(struct network *, struct store_txn *,
		    const char *device_id, const char *host);
	/* A failed live migration's ports are no longer served on its
	 * target (host NULL: network_port_migrating()). */
	int	(*migrating)(struct network *, struct store_txn *,
		    const char *device_id, const char *host);
	/* After a commit that released ports (network_changed()). */
	void	(*changed)(struct network *);
};
void		 recon_set_network(struct recon *, const struct recon_net *);
/* The Block Storage service whose volumes the reconciler sends as the
 * guests' volume disks (spec.volumes) and whose attachments it moves on as
 * the hosts' reports show the disks come and go: its functions of
 * volume/volume.h, given by compute (recon links without the volume
 * service, as in recon_test). Copied; vol borrowed; before the thread. */
struct volume;
struct volume_conn;
struct recon_vol {
	struct volume	*vol;
	int	(*conn)(struct volume *, struct store_txn *,
		    const char *volume_id, const char *attachment_id,
		    struct volume_conn *);
	int	(*attach_done)(struct volume *, struct store_txn *,
		    const char *volume_id, const char *attachment_id);
	int	(*detach_done)(struct volume *, struct store_txn *,
		    const char *volume_id, const char *attachment_id);
	/* A deleted server's volume with delete_on_termination. */
	int	(*delete_detached)(struct volume *, struct store_txn *,
		    const char *volume_id);
	/* A live migration that succeeded: the attachment's host is the
	 * target's (volume_attach_follow()), in its transaction. */
	int	(*follow)(struct volume *, struct store_txn *,
		    const char *volume_id, const char *attachment_id,
		    const char *host);
	/* After a commit that changed attachments (volume_changed()). */
	void	(*changed)(struct volume *);
};
void		 recon_set_volume(struct recon *, const struct recon_vol *);
/*
 * Snapshot tasks (image_snapshot, image_backup; Nova's image_pending_upload
 * and image_uploading are known too, so that no such task is ever taken
 * for an unknown one): given by compute, copied, before the thread.
 * upload_token mints the agent's upload capability of the instance's
 * snapshot_image_id (any thread; -1 logged, the command not sent, the
 * deadline then fails the task). done is called on the recon thread after
 * the commit that ended such a task, ok or not (failed, timed out),
 * without a transaction: the image of a failure is discarded, a backup
 * that succeeded rotates. Both may be NULL.
 */
struct recon_snap {
	void	*arg;
	int	(*upload_token)(void *arg, const struct rec_instance *i,
		    char *out, size_t outlen);
	void	(*done)(void *arg, const char *instance_uuid,
		    const char *image_id, int ok, const char *backup_type,
		    uint32_t rotation);
	/* A cross-host resize's temporary image is done with (the target
	 * built the guest from it, or the move failed): deleted whatever
	 * its status. NULL: kept. */
	void	(*drop)(void *arg, const char *instance_uuid,
		    const char *image_id);
};
void		 recon_set_snapshot(struct recon *, const struct recon_snap *);
/* Stops the thread (pending events are dropped: they are level-triggered
 * and come again). Accepts NULL; clears *rp. */
void		 recon_free(struct recon **);

/*
 * Inside an API write (store_write function): start task_state on inst
 * (modified in place; the caller writes it with compute_db_instance_put): sets
 * task_state, want_power, task_request_id, start time and deadline, and
 * starts the instance action (user, project) with its event.
 */
int		 recon_task_begin(struct recon *, struct store_txn *,
		    struct rec_instance *inst, const char *task_state,
		    const char *request_id, const char *user_id,
		    const char *project_id, int64_t now);
/* The same, recorded as the instance action named action (an evacuation
 * runs the rebuilding task but is the "evacuate" action, as in Nova). */
int		 recon_task_begin_as(struct recon *, struct store_txn *,
		    struct rec_instance *inst, const char *task_state,
		    const char *action, const char *request_id,
		    const char *user_id, const char *project_id, int64_t now);

/*
 * Inside a write deleting inst: the claims it holds go back: its host's of
 * its flavor (a resize's target's: resize_host), a resize's source's of
 * old_flavor, a live migration's target's.
 */
int		 recon_claims_release(struct store_txn *,
		    const struct rec_instance *inst);
/* Inside a write deleting inst: the guest a cross-host resize keeps on its
 * source (resize_source, not its host), or the one a revert waits for its
 * target to delete (resize_release), is destroyed when that host reports
 * it (a tombstone, unless the uuid has one already). */
int		 recon_resize_tombstone(struct store_txn *,
		    const struct rec_instance *inst, int64_t now);

/*
 * Inside a write taking a cross-host resize's instance i (a copy the
 * caller writes) back to its source, resize_source, from the host from
 * it is on (the API's revert; a failed move, recon.c): its attachments
 * follow it back (the vol's follow: volume_attach_follow()), and when it
 * has volumes i->resize_release = from: the revert (task
 * resize_reverting) first has from delete its copy of the guest, and only
 * that host's answer (the guest gone: its qemu logged out, the secrets
 * undefined) lets the source's guest start; never two qemus writing one
 * volume. Nothing when from is the source. *vols_moved is set to 1 when
 * attachments changed (volume_changed() after the commit), else left.
 * Any thread.
 */
int		 recon_resize_back(struct recon *, struct store_txn *,
		    struct rec_instance *i, const char *from, int *vols_moved);

/* After an API write committed: send the command the instance needs now
 * (its task's, else its desired power). Any thread; never blocks. */
void		 recon_dispatch(struct recon *, const struct rec_instance *);
/* The same, from the create or rebuild request that knows the server's
 * adminPass (borrowed for the call): the ensure carries it for the config
 * drive. Re-sends never do (it is not stored). */
void		 recon_dispatch_pass(struct recon *, const struct rec_instance *,
		    const char *admin_pass);

/* Asks the source of i's running live migration (task "migrating") to
 * abort it (instance_migrate_abort, unanswered: the migration's own
 * answer then rolls it back). 0 posted, -1 with err set. */
int		 recon_migrate_abort(struct recon *, const struct rec_instance *);

/* After the API recorded the action (request id reqid): send i's host
 * the trigger_crash_dump one-shot (no task, as Nova's). Its answer
 * finishes the action's event (apply_state: a reply that is not the
 * task's). -1 if it could not be posted (logged). Never blocks. */
int		 recon_crash_dump(struct recon *, const struct rec_instance *,
		    const char *reqid);

/*
 * The console log of uuid from its host (synchronous, up to
 * console_timeout). *out is owned by the caller (free()). TS_EUNAVAILABLE
 * when the host is down, TS_ETIMEOUT when it does not answer,
 * TS_ENOT_FOUND when it has no such guest.
 */
int		 recon_console(struct recon *, const char *uuid,
		    const char *host, uint32_t max_bytes, char **out);

/*
 * The hypervisor's statistics of uuid's guest (os-server-diagnostics),
 * asked of its host like recon_console(). *out is owned by the caller
 * (codec_free(&schema_msg_guest_stats, ...)).
 */
int		 recon_guest_stats(struct recon *, const char *uuid,
		    const char *host, struct msg_guest_stats **out);

/* What a host says about itself (os-hypervisors uptime). */
struct recon_uptime {
	uint64_t	uptime_s;
	uint32_t	load_milli[3];
	uint32_t	users;
	int64_t		now;		/* the host's clock, unix ms */
};

/* Ask host for its uptime (synchronous, up to console_timeout).
 * TS_EUNAVAILABLE when the host is down, TS_ETIMEOUT without answer. */
int		 recon_host_uptime(struct recon *, const char *host,
		    struct recon_uptime *out);

/*
 * Bus thread: an authenticated agent's message other than hello and
 * heartbeat. Returns 1 if it was a compute message (instance_state,
 * console_output, host_uptime, guest_stats): taken (env->body is NULL afterwards) or answered; 0
 * otherwise.
 */
int		 recon_agent_msg(struct recon *, const char *host,
		    struct codec_envelope *env);
/*
 * Bus thread: the guests an agent reported (hello = 1 on (re)connect).
 * guests is borrowed for the call. A heartbeat's report is not checked
 * again (no event, no pass) when the host's last pass found it as it
 * should be, from the same guests, and no instance or tombstone naming
 * the host was written since that pass's snapshot; at least every minute
 * (FULL_PASS_MS) and after every hello it is checked in full. A pass is
 * level-triggered: a command lost after a skipped report is re-sent from
 * the next checked one, as before.
 */
void		 recon_host_report(struct recon *, const char *host,
		    const struct sch_guest *guests, size_t n, int hello);

/*
 * Recount usage from the records: every project's compute_usage and every
 * host's claims (host_usage) are set to what its instances hold, in one
 * write transaction; a difference is logged (it would mean a bug, or a
 * database restored from a backup). Run at start-up, before the API
 * listens. *fixed (may be NULL) receives the number of records changed.
 */
int		 recon_audit(struct recon *, int *fixed);

/* Wait until the events handed over so far are processed (tests). */
void		 recon_sync(struct recon *);
/* Run one scan of tasks and deadlines now, on the calling thread (tests;
 * the thread does this every second). now_ms: the time to judge by. */
void		 recon_scan(struct recon *, int64_t now_ms);

struct recon_stats {
	uint64_t	sent;		/* commands handed to the bus */
	uint64_t	resent;		/* of which re-sends */
	uint64_t	send_failed;	/* bus_post refused (retried later) */
	uint64_t	replies;	/* instance_state received */
	uint64_t	completed;	/* tasks done */
	uint64_t	failed;		/* tasks failed (reply or deadline) */
	uint64_t	timed_out;	/* of which by deadline */
	uint64_t	local_deletes;	/* deletes completed with host down */
	uint64_t	recreated;	/* missing guests re-created */
	uint64_t	fenced;		/* guests deleted: tombstone/elsewhere */
	/* Heartbeat reports not checked: the same guests as the last check,
	 * which found the host as it should be, and nothing of the host
	 * changed since (recon_host_report). */
	uint64_t	reports_skipped;
	/* Reports replaced in the queue by a newer one of the same host
	 * before the recon thread took them (the thread lagged). */
	uint64_t	reports_superseded;
	/* Events waiting for the recon thread (reports, replies) now. */
	uint64_t	queued;
	/* Admin passwords kept now for commands not answered yet. */
	uint64_t	passes;
};
void		 recon_stats(struct recon *, struct recon_stats *);

#endif
