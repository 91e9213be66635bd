/*
 * netsvc: the agent's network worker. One thread owns the host's netconv
 * (netconv.h): it applies the host_network messages the bus thread hands
 * it and converges again every tick, so that a slow converge (dnsmasq
 * starting, many links) never holds up the bus loop and its heartbeats.
 * Between converges it sends the later rounds of the routers' gratuitous
 * ARPs when they are due (netconv_announce()): its wait ends at the
 * earlier of the next tick and the next round.
 *
 * Replies: every host_network is answered with host_network_state
 * (in_reply_to = its request id). Only the latest message waiting counts:
 * the state is whole, not a delta, so an older one still queued is dropped
 * unanswered (the controller re-sends until a report matches). A tick
 * whose state differs from the last one sent sends it unsolicited (a
 * network that failed or recovered); the controller compares generations.
 */
#ifndef TS_NETSVC_H
#define TS_NETSVC_H

#include <stddef.h>

#include "netconv.h"

struct codec_envelope;
struct netsvc;

/* Sends one encoded envelope to the controller from the worker thread
 * (the agent uses bus_post()). 0 or -1 with err set. */
typedef int (*netsvc_send_fn)(const void *buf, size_t len, void *arg);

#define NETSVC_TICK_MS	5000

/*
 * Starts the worker on *ncp (taken, set to NULL). host is the sender of
 * the reports; tick_ms the interval of the re-converges (0: NETSVC_TICK_MS).
 * NULL with err set.
 */
struct netsvc	*netsvc_new(struct netconv **ncp, const char *host,
		    int tick_ms, netsvc_send_fn send, void *arg);
/* Stops and joins the worker, frees the converger. NULL accepted. */
void		 netsvc_free(struct netsvc **);

/* Bus thread: 1 if env is a host_network (its body is taken and queued
 * for the worker), 0 if not. */
int		 netsvc_handle(struct netsvc *, struct codec_envelope *env);

struct metadata;
/* The metadata service (borrowed: it must outlive the worker, or be
 * unset with NULL first) is handed every state the worker converged. */
void		 netsvc_set_metadata(struct netsvc *, struct metadata *);

/* Wake the worker for a converge now (tests, SIGHUP). */
void		 netsvc_kick(struct netsvc *);
/* netconv_dhcp_check() of its converger, from any thread. */
void		 netsvc_health(struct netsvc *);

/* Converges run by the worker (applying a message or re-converging),
 * for /metrics; any thread. */
struct metrics_runs_snap;
void		 netsvc_stats(struct netsvc *, struct metrics_runs_snap *);

#endif
