/*
 * scheduler (prefix sched_; the file is not sched.h, which would shadow the
 * system <sched.h>): chooses a host for an instance and claims its
 * resources there.
 *
 * Two halves:
 * - Ranking, outside any write transaction, from an in-memory cache of the
 *   hosts (hypervisor capacity, service state, claimed usage) refreshed
 *   from LMDB by scheduler_refresh() (scheduler_refresh_changed(): the
 *   hosts written since): filters (service up, enabled and not
 *   forced down; availability zone, from the host aggregates; aggregate
 *   metadata against the flavor's aggregate_instance_extra_specs; free
 *   RAM, disk and vCPUs with the allocation ratios), then a weigher (spread: most free RAM first, the
 *   default; stack: least free RAM first).
 * - Claiming, inside the caller's store_write() function, where the same
 *   transaction also checks the quota and writes the instance:
 *   scheduler_claim() re-reads each candidate's claims from LMDB (the
 *   authority; the cache may be a second old), re-weighs the first few
 *   candidates with those numbers, and adds the claim to the first one
 *   that still fits. LMDB has one writer, so two concurrent creates can
 *   never both take the last slot of a host.
 *
 * Thread-safe: the cache is swapped under a lock; any thread may rank
 * while another refreshes.
 */
#ifndef TS_CONTROLLER_SCHEDULER_H
#define TS_CONTROLLER_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_txn;
struct sched;
struct ts_strmap;

enum scheduler_weigher {
	SCHEDULER_SPREAD = 0,	/* most free RAM first (Nova's default) */
	SCHEDULER_STACK,		/* least free RAM first: fill hosts up */
};

struct scheduler_opts {
	double		 cpu_allocation_ratio;	/* 0 -> 16.0 */
	double		 ram_allocation_ratio;	/* 0 -> 1.5 */
	double		 disk_allocation_ratio;	/* 0 -> 1.0 */
	int64_t		 reserved_host_memory_mb;
	int64_t		 reserved_host_disk_gb;
	enum scheduler_weigher weigher;
	const char	*default_az;		/* "nova" */
	int64_t		 service_down_ms;	/* a service is up while its
						   last report is this recent */
	/* How far the reports' reader (the bus thread) is behind, in ms
	 * (bus_backlog_ms()), or NULL: "recent" counts from then, at most
	 * service_down_ms before now, as the fleet's own judgement. Called
	 * on the refreshing thread. */
	int64_t		(*backlog_ms)(void *);
	void		*backlog_arg;
};

/* What one instance needs. */
struct scheduler_request {
	uint32_t	 vcpus;
	uint64_t	 memory_mb;
	uint64_t	 disk_gb;
	const char	*az;		/* NULL or "": any zone */
	const char	*force_host;	/* NULL or "": none (admin "az:host") */
	/* NULL: none. A host never chosen (a live migration's source). */
	const char	*ignore_host;
	/* The flavor's extra specs (NULL: none): keys
	 * "aggregate_instance_extra_specs:K" want aggregate metadata K
	 * (Nova's AggregateInstanceExtraSpecsFilter, scoped keys only). */
	const struct ts_strmap *extra_specs;
};

#define SCHEDULER_NAME_MAX	255

/*
 * Ranked candidates: the best SCHEDULER_RANK_MAX at most, best first; more is
 * set when other hosts passed the filters too (scheduler_claim() then looks
 * at them if none of these still fits). Owned by the caller:
 * scheduler_hosts_free().
 */
#define SCHEDULER_RANK_MAX	32
struct scheduler_hosts {
	char	(*host)[SCHEDULER_NAME_MAX + 1];
	size_t	  n;
	int	  more;
};

/* One host as the scheduler sees it (for the API's hypervisor views). */
struct scheduler_host_state {
	char		 host[SCHEDULER_NAME_MAX + 1];
	int		 up;
	int		 disabled;
	int		 forced_down;
	int64_t		 stored_seen;	/* the store's last heartbeat */
	int64_t		 seen_at;	/* that, or a later report given to
					 * scheduler_seen() while the store's
					 * value did not move */
	uint32_t	 vcpus;
	uint64_t	 memory_mb;
	uint64_t	 disk_gb;
	/* A hash of the stored hypervisor record the capacity above was
	 * decoded from: a refresh decodes it again only when it changed. */
	uint64_t	 hv_sum;
	uint64_t	 vcpus_used;	/* claimed */
	uint64_t	 memory_mb_used;
	uint64_t	 disk_gb_used;
	uint32_t	 instances;
	/* Its availability zone: its aggregates' availability_zone, else
	 * the default zone. */
	char		 az[SCHEDULER_NAME_MAX + 1];
};

/* The store is borrowed. Loads the cache. NULL with err set. */
struct sched	*scheduler_new(struct store *, const struct scheduler_opts *);
void		 scheduler_free(struct sched **);

/* Rebuild the cache from LMDB (hypervisors, services, host_usage,
 * aggregates). The aggregate handlers call it after every change. */
int		 scheduler_refresh(struct sched *);
/*
 * The periodic refresh (the reconciler's, every second): reads again only
 * the hosts whose service, hypervisor or host_usage record this process
 * wrote since the cache's snapshot (db_fleet_changed_txn(),
 * compute_db_host_changed_txn()), and computes every host's up again; a
 * full scheduler_refresh() when a record may have been added (a
 * registration), a stamped host is gone, and at least every 60 s (what
 * the stamps do not see: other processes' writes, deletions, which their
 * writers follow with a scheduler_refresh()).
 */
int		 scheduler_refresh_changed(struct sched *);
struct scheduler_refresh_stats {
	uint64_t	 full, partial;		/* refreshes done */
	uint64_t	 hosts_read;		/* hosts read from the store */
};
void		 scheduler_refresh_stats(struct sched *,
		    struct scheduler_refresh_stats *);
/* A report (hello or heartbeat) of host's agent, received at now_ms (the
 * fleet's clock, db_now_ms()). The cache keeps it across refreshes while
 * the stored heartbeat does not move: a host whose heartbeats the store
 * could not persist (disk full) stays up while its agent reports. A stored
 * value that moved (written since) wins. Unknown hosts are ignored (their
 * registration brings them in at the next refresh). */
void		 scheduler_seen(struct sched *, const char *host, int64_t now_ms);
/* Whether host's service is up (from the cache); 0 for unknown hosts. */
int		 scheduler_host_up(struct sched *, const char *host);
/* Nova's host_status of a server on host (microversion 2.16), from the
 * cache: "DOWN" forced down, "MAINTENANCE" disabled, "UP" reporting,
 * "UNKNOWN" otherwise (a stale heartbeat, a host the cache does not know).
 * A static string. */
const char	*scheduler_host_status(struct sched *, const char *host);
/* Default availability zone name (borrowed, lives with the scheduler). */
const char	*scheduler_default_az(const struct sched *);
/* host's availability zone (from the cache) into out; the default zone
 * for a host the cache does not know. */
void		 scheduler_host_az(struct sched *, const char *host,
		    char out[SCHEDULER_NAME_MAX + 1]);
/* Whether zone is one a server may ask for: the default zone, or the
 * zone of a host in the cache that is enabled. */
int		 scheduler_az_known(struct sched *, const char *zone);

/*
 * Filter and weigh. Returns 0 with out filled (maybe empty: no host fits,
 * the caller says "No valid host was found"), -1 on a bad request
 * (TS_EINVALID: unknown zone or host) or TS_ENOMEM.
 */
int		 scheduler_rank(struct sched *, const struct scheduler_request *,
		    struct scheduler_hosts *out);
void		 scheduler_hosts_free(struct scheduler_hosts *);

/*
 * Inside a store_write() function: claim req on the best candidate that
 * still fits according to the transaction's host_usage, and write the
 * claim. host_out receives the host. -1 with TS_ENOT_FOUND "No valid host
 * was found..." when none fits, or a store error.
 */
int		 scheduler_claim(struct sched *, struct store_txn *,
		    const struct scheduler_request *, const struct scheduler_hosts *,
		    char host_out[SCHEDULER_NAME_MAX + 1]);
/* Inside a store_write() function: give a claim back (delete, failure). */
int		 scheduler_release(struct store_txn *, const char *host,
		    uint32_t vcpus, uint64_t memory_mb, uint64_t disk_gb);

/* Resources a host offers to instances with the ratios and reservations
 * applied (what the filters compare claims against). */
void		 scheduler_capacity(const struct sched *,
		    const struct scheduler_host_state *, uint64_t *vcpus,
		    uint64_t *memory_mb, uint64_t *disk_gb);

/* A copy of the cached host states (owned: free()), sorted by host. */
int		 scheduler_hosts_snapshot(struct sched *,
		    struct scheduler_host_state **out, size_t *n);

#endif
