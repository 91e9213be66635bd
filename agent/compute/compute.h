/*
 * compute: the agent's handling of the controller's compute commands
 * (instance_ensure, instance_delete, instance_action, instance_migrate,
 * console_get; see
 * schemas/compute.schema).
 *
 * Commands are executed by a small pool of worker threads so the event loop
 * (heartbeats, replies) never waits for a guest: libvirt calls, image
 * downloads and graceful shutdowns block. Invariants:
 * - Commands for one instance run one at a time, in arrival order;
 *   different instances run in parallel.
 * - A command is executed at most once per (instance, request id) while
 *   it is remembered (the last COMPUTE_DEDUP_MAX): a duplicate of a
 *   finished command is answered with the reply already sent, a duplicate
 *   of a queued or running one is dropped (its reply is still to come).
 *   One API request may carry commands for several instances
 *   (multi-create), hence the pair. Console reads are not remembered.
 *   The exception: a delete that failed (not a stale one) runs again
 *   when resent, since the controller retries a delete under the same
 *   request id until the host confirms it; deleting is idempotent.
 * - A command whose generation is lower than the highest generation seen
 *   for its instance (in a command, or in the guest's own metadata) is
 *   refused with result "stale" and does nothing: a fenced placement never
 *   touches the guest of a newer one.
 * - Every command is validated again here before anything reaches libvirt
 *   (the domain name must be "instance-<uuid>", sizes in range, ids UUIDs).
 * - Every command gets exactly one reply (instance_state or
 *   console_output) carrying its request id, also when it fails or the
 *   queue is full, so the controller can tell "failed" from "lost".
 */
#ifndef TS_AGENT_COMPUTE_H
#define TS_AGENT_COMPUTE_H

#include <stddef.h>
#include <stdint.h>

#define COMPUTE_DEDUP_MAX	4096

struct codec_envelope;
struct config;
struct driver;
struct compute;
struct virt;

/* Sends one encoded envelope to the controller from any thread (the agent
 * uses bus_post()). Returns 0 or -1 with err set. */
typedef int (*compute_send_fn)(const void *buf, size_t len, void *arg);

struct compute_opts {
	const char	*host;		/* sender name in replies */
	int		 workers;	/* 0 -> 2 */
	size_t		 max_queue;	/* commands waiting; 0 -> 4096 */
	int		 orphan_destroy; /* delete orphans (else only log) */
	compute_send_fn	 send;
	void		*send_arg;
	/* Why there is no driver (drv NULL): every command is then refused
	 * with this text, so the controller sees the reason. */
	const char	*unavailable;
	/* [vnc] server_proxyclient_address when VNC is on, else NULL: the
	 * answers name a running guest's VNC server as the reports do
	 * (copied). */
	const char	*vnc_host;
};

/* Guest hooks, called from a worker after a command made the guest exist
 * from spec (ensure, hard/soft reboot; before it is powered on; spec is
 * borrowed for the call) and after one deleted it. The metadata service
 * learns its instances here. */
struct driver_spec;
typedef void (*compute_spec_fn)(void *arg, const struct driver_spec *spec);
typedef void (*compute_gone_fn)(void *arg, const char *uuid);

/* The driver is borrowed and must outlive the handler; it may be NULL
 * (see opts->unavailable). Starts the workers. NULL with err set. */
struct compute	*compute_new(struct driver *, const struct compute_opts *);
/*
 * The agent's set-up: a driver on the agent's libvirt connection (virt,
 * borrowed: it must outlive the handler) from the configuration ([libvirt]
 * connection_uri: a test:// URI selects the test driver, otherwise
 * [libvirt] virt_type; [compute] shutdown_timeout) and a handler owning it
 * ([compute] workers, [libvirt] orphan_action). When the driver cannot be
 * made the handler still exists and refuses every command with the reason
 * (logged). NULL with err set only when the handler itself cannot be made.
 */
struct compute	*compute_from_config(const struct config *, const char *host,
		    struct virt *, compute_send_fn, void *send_arg);
/* Stops the workers after the commands they are running; queued ones are
 * dropped (the controller sends them again). Frees the driver when the
 * handler owns it. Accepts NULL; clears *cp. */
void		 compute_free(struct compute **);
/* Install the guest hooks (either may be NULL) before the first command. */
void		 compute_set_guest_hooks(struct compute *, compute_spec_fn,
		    compute_gone_fn, void *arg);
/*
 * Called from a worker after an ensure made an existing guest's devices
 * match its spec (sync_nics or sync_volumes: interfaces or volume disks
 * hot-plugged or unplugged), after its reply went out (a census begun
 * before a reply is read again): the agent reports its
 * guests at once, so the controller settles the attachment or detachment
 * without waiting for the next heartbeat (report_interval). Set before
 * the first command; fn NULL removes it.
 */
typedef void (*compute_devices_fn)(void *arg, const char *uuid);
void		 compute_set_devices_hook(struct compute *, compute_devices_fn,
		    void *arg);

/*
 * Takes a decoded envelope from the controller. Returns 1 if it was a
 * compute command: it has been queued (its body now belongs to the
 * handler: env->body is NULL afterwards), answered from the dedup cache, or
 * refused with a reply. Returns 0 for any other message (env untouched).
 * Event loop thread.
 */
int		 compute_handle(struct compute *, struct codec_envelope *env);

/*
 * Level-triggered clean-up of live migrations that never arrived: sends
 * instance_migrate_leftover for each instance directory prepared here at
 * least COMPUTE_LEFTOVER_AGE_MS ago (driver_guest_migrate_leftovers())
 * whose uuid is none of the n guests (the census's, borrowed) libvirt
 * has here, at most every COMPUTE_LEFTOVER_EVERY_MS. Files only, no libvirt call: for the event loop, with each
 * heartbeat. Returns how many were sent.
 */
#define COMPUTE_LEFTOVER_AGE_MS	15000
/* and at most once in this long */
#define COMPUTE_LEFTOVER_EVERY_MS	10000
struct virt_guest;
size_t		 compute_report_leftovers(struct compute *,
		    const struct virt_guest *guests, size_t n);

struct compute_stats {
	uint64_t	received;	/* compute commands */
	uint64_t	duplicates;	/* answered or dropped as duplicates */
	uint64_t	stale;		/* refused for their generation */
	uint64_t	executed;	/* run by a worker */
	uint64_t	failed;		/* of which failed */
	size_t		queued;		/* waiting now */
};
void		 compute_stats(struct compute *, struct compute_stats *);
/* Blocks until nothing is queued or running (tests, shutdown). */
void		 compute_drain(struct compute *);

#endif
