/*
 * census: the host's usage and its guests' states, read from libvirt on a
 * thread of its own, for the heartbeat.
 *
 * libvirt answers a question about a domain only once whatever holds that
 * domain (a start, a managed save, a shutdown) lets go of it: seconds on a
 * busy host, minutes for a large save. The bus loop must never wait for
 * that: it would stop heartbeating (the controller marks the host down)
 * and stop reading the controller (and reconnect, thinking it silent). So
 * the loop asks for a census (census_request), is called back when one is
 * ready, and takes it (census_take) without ever blocking.
 */
#ifndef TS_AGENT_CENSUS_H
#define TS_AGENT_CENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "virt.h"

struct census;

struct census_snap {
	uint64_t		 tag;		/* the request's (census_request) */
	struct virt_host	 host;
	struct virt_guest	*guests;	/* owned: census_snap_clear() */
	size_t			 n;
};

/* Starts the thread. ready(arg) is called on that thread each time a
 * census (or its failure) is there to take; it must not block (write a
 * byte to a pipe). v is borrowed and must outlive the census. NULL with
 * err set. */
struct census	*census_new(struct virt *v, void (*ready)(void *), void *arg);
/* Stops the thread (waiting for a libvirt call under way) and frees what
 * was not taken. Accepts NULL; clears *cp. */
void		 census_free(struct census **cp);

/* Ask for a census, tagged (the snapshot carries the tag of the newest
 * request made before its read began). One under way when asked is
 * followed by a new one: what made the caller ask may have happened after
 * it read a domain. */
void		 census_request(struct census *, uint64_t tag);
/* The newest census not yet taken: 1 and *out filled (owned), 0 when none
 * is ready, -1 with err set when the newest read failed. */
int		 census_take(struct census *, struct census_snap *out);
/* Milliseconds the read under way has taken so far (monotonic now); 0
 * when none is under way. */
int64_t		 census_busy_ms(struct census *, int64_t now);
void		 census_snap_clear(struct census_snap *);

#endif
