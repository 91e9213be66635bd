/*
 * fleet: the controller's registry of agents (hypervisors and their
 * services), fed by the bus.
 *
 * Owned by the bus thread: every call here happens on it, so the in-memory
 * table needs no lock. Registration (agent_hello) is written durably before
 * it is acknowledged. Heartbeats only update memory and are written in one
 * batched transaction per tick (fleet_tick), so thousands of agents cost a
 * handful of commits per second, not one each; such a write rewrites the
 * service (its liveness) but no index entry, and leaves a hypervisor
 * record whose bytes the heartbeat did not change (its updated_at is the
 * last change) and the host's guest list (hypervisor_guests, a table of
 * its own) when the guests are the same. Each write re-reads the
 * stored service in its transaction: the operator's switches there
 * (disable, force-down) win over memory, and a service deleted through the
 * API is never written back by a heartbeat; its agent is answered "unknown
 * agent" until its next hello registers it as a new service. A service
 * is up while its last heartbeat is at most service_down_time old and it
 * is not forced down; transitions are logged by fleet_tick(). "Old" is
 * measured from the moment the bus thread last caught up with its socket
 * (bus_backlog_ms(), at most service_down_time before now): a heartbeat
 * still queued in libzmq is not missing.
 *
 * Authorization: an agent speaks only for itself. A message whose envelope
 * sender or body host differs from the bus-authenticated host is refused.
 * Every refusal is logged and counted by reason (fleet_metrics_collect):
 * the counters are atomics bumped on the bus thread and read by the
 * scraping thread.
 */
#ifndef TS_CONTROLLER_FLEET_H
#define TS_CONTROLLER_FLEET_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct bus;
struct bus_msg;
struct store;
struct fleet;

struct fleet_opts {
	const char	*controller_host;	/* sender name in replies */
	int		 report_interval;	/* seconds, told to agents */
	int		 service_down_time;	/* seconds */
	/* CURVE on: every message's host must hold an enrolled, unrevoked
	 * key at the time of the message, so a revocation also cuts off a
	 * connection that is already up. */
	int		 require_enrolled;
};

/* Loads known services and hypervisors from the store. The store and bus
 * are borrowed and must outlive the fleet. NULL with err set. */
struct fleet	*fleet_new(struct store *, struct bus *,
		    const struct fleet_opts *);
void		 fleet_free(struct fleet **);

/*
 * Hooks for the services built on the fleet (compute's reconciler, the
 * network's dataplane sync). All run on the bus thread, after the message
 * passed authentication and authorization (its sender is host), in the
 * order they were added.
 *   report   the guests an agent reported in a hello (hello = 1) or a
 *            heartbeat, after the fleet processed it; guests is borrowed.
 *            Every hook set sees every report. May be NULL.
 *   message  any other message from an agent; returns 1 if it took it
 *            (it may take env->body, setting it to NULL), 0 if not; the
 *            next set is asked only when no earlier one took it. May be
 *            NULL.
 */
struct codec_envelope;
struct sch_guest;
struct fleet_hooks {
	void	(*report)(const char *host, const struct sch_guest *guests,
		    size_t n, int hello, void *arg);
	int	(*message)(const char *host, struct codec_envelope *env,
		    void *arg);
	void	*arg;
};
#define FLEET_MAX_HOOKS	4
/* Copied; call before the first fleet_handle(). -1 TS_EINTERNAL past
 * FLEET_MAX_HOOKS sets. */
int		 fleet_add_hooks(struct fleet *, const struct fleet_hooks *);

/* The underlay address a host's agent reported in its last hello
 * ([network] local_ip), copied to out (len bytes); "" if none or the host
 * is unknown. */
void		 fleet_tunnel_ip(struct fleet *, const char *host, char *out,
		    size_t len);

/* Handles one frame from an agent (decode, authorize, act, reply). Errors
 * are logged and answered; nothing here stops the daemon. */
void		 fleet_handle(struct fleet *, const struct bus_msg *);
/*
 * Registrations (agent_hello) are written in batches of up to
 * FLEET_HELLO_BATCH, one transaction each, and acknowledged once durable.
 * fleet_handle() writes a batch when it is full or its first hello has
 * waited FLEET_HELLO_HOLD_MS, and before any other message of an agent in
 * it; the bus thread calls fleet_idle() when the bus has nothing more
 * (poll without waiting while fleet_busy() says hellos wait), and
 * fleet_tick()/fleet_flush() write what waits as well.
 */
#define FLEET_HELLO_BATCH	256
#define FLEET_HELLO_HOLD_MS	50
void		 fleet_idle(struct fleet *);
int		 fleet_busy(const struct fleet *);
/* Periodic work: flush heartbeats, log up/down transitions. */
void		 fleet_tick(struct fleet *, int64_t now_ms);
/* Writes everything pending (at shutdown). */
int		 fleet_flush(struct fleet *);

/* Frames refused by fleet_handle(), by reason. */
enum fleet_reject {
	FLEET_REJECT_MALFORMED,		/* does not decode */
	FLEET_REJECT_SENDER,		/* envelope sender is not the
					 * authenticated host */
	FLEET_REJECT_NOT_ENROLLED,	/* key revoked or replaced (CURVE) */
	FLEET_REJECT_WRONG_HOST,	/* hello/heartbeat body names another
					 * host */
	FLEET_REJECT_UNKNOWN_AGENT,	/* heartbeat before any hello */
	FLEET_REJECT_N
};
/* A counter's value (tests, collectors); any thread. */
uint64_t	 fleet_rejected(struct fleet *, enum fleet_reject);
/* metrics_collect_fn (arg = struct fleet *):
 * tinystack_fleet_messages_rejected_total{reason}. */
void		 fleet_metrics_collect(struct buf *out, void *arg);

/* The bus's allow callback (bus_allow_fn): a key is accepted when it is
 * enrolled and not revoked; host_out gets the host it is enrolled for.
 * Runs on the bus thread during a CURVE handshake (one read transaction);
 * touches only the store (arg = struct store *). */
int		 fleet_allow(const char *pubkey, char *host_out,
		    size_t host_len, void *arg);

#endif
