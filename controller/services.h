/*
 * services: the one builder of the controller's REST services.
 *
 * A table in services.c holds one entry per service (identity, image,
 * network, volume, compute, dashboard): its name, port option, error shape (apierr), route table,
 * built-in policy rules, policy-target builder and new/start/tick/stop/free
 * hooks with one signature. services_new() builds every service alike in
 * table order, gives each its own listener (the listener's app is the
 * service, what its handlers get from http_req_app()), loads the policy
 * from every table's rules plus [identity] policy_file into the request
 * layer (http/request.h), registers the target builders and identity's
 * token checker as the layer's authenticator, and creates the HTTP server.
 *
 * A service reaches another only through the other's public header and
 * the handle services_env carries: compute gets identity's (image
 * capabilities for the agents), network's (the ports of its servers) and
 * volume's (the volumes attached to them), so they come before it in the
 * table (and are freed after it).
 * The dashboard (dashboard/dashboard.h) comes last: it listens only when
 * [dashboard] port is set, and its listener mounts every API's under the
 * service's name (http_mount), so its page reaches them same-origin.
 * Teardown runs the table backwards, after the HTTP server is gone.
 *
 * Threads: everything here runs on the controller's main thread.
 */
#ifndef TS_SERVICES_H
#define TS_SERVICES_H

#include <stddef.h>
#include <stdint.h>

struct bus;
struct http_route;
struct policy_default;
struct compute;
struct network;
struct volume;
struct config;
struct fleet;
struct metrics;
struct identity;
struct image_service;
struct netsync;
struct services;
struct storesync;
struct store;

/*
 * What the services are built from (borrowed: all outlive the services),
 * and the public handles of the services built so far, which a service's
 * new hook fills in for those after it.
 */
struct services_env {
	const struct config	*cfg;
	struct store		*store;
	struct bus		*bus;		/* compute posts to the agents */
	struct fleet		*fleet;		/* compute installs its hooks */
	const char		*host;		/* the controller's host name */
	/* /metrics registry (common/metrics.h), may be NULL: the HTTP
	 * server counts and times every API request in it. */
	struct metrics		*metrics;
	struct identity		*identity;
	struct image_service	*image;
	struct network		*network;	/* compute's server ports */
	struct compute		*compute;
	struct volume		*volume;	/* block storage (Cinder v3) */
	/* The network dataplane sync (network/netsync.h): built after the
	 * REST services, on the fleet's hooks; the network API tells it of
	 * changes (netsync_changed()). */
	struct netsync		*netsync;
	/* The storage sync (volume/storesync.h), built likewise; the volume
	 * API tells it of changes (volume_changed()). */
	struct storesync	*storesync;
};

/*
 * Build every service, the policy and the HTTP server from env (copied);
 * nothing listens yet. NULL with err set: a bad policy file or HTTP option
 * is fatal; missing token keys are not (requests that need them get 503
 * and identity's tick retries the key repository).
 */
struct services	*services_new(const struct services_env *env);
/* Start every service (compute: usage audit and reconciler), then bind
 * and start every listener (TS_EIO). */
int		 services_start(struct services *);
/* Once a second from the main thread. */
void		 services_tick(struct services *, int64_t now_ms);
/* The network sync's wake-up fd (-1 without one) for the bus thread's
 * poll set, and what to call when it is readable (on that thread). */
int		 services_netsync_fd(const struct services *);
void		 services_netsync_woken(struct services *, int64_t now_ms);
/* The same for the storage sync (volume and attachment changes). */
int		 services_storesync_fd(const struct services *);
void		 services_storesync_woken(struct services *, int64_t now_ms);
/* Stop listening and wait for running handlers; accepts NULL. */
void		 services_stop(struct services *);
/* Free the HTTP server, then the services backwards; accepts NULL, clears
 * *sp. */
void		 services_free(struct services **sp);
/* The port listener i is bound to (0 if none). */
uint16_t	 services_port(const struct services *, size_t i);
/* The environment with every service's handle filled in (borrowed: valid
 * until services_free()). For tests that reach a service directly. */
const struct services_env *services_env(const struct services *);

/*
 * What must see every service at once (the policy sample, `tinystack-manage
 * policy routes`, the test that every authenticated route is guarded):
 * service i's name, route table and rule table in the builder's order,
 * NULL past the last; and all rule tables as one NULL-terminated list.
 */
const char			*services_name(size_t i);
const struct http_route		*services_routes(size_t i);
const struct policy_default	*services_policy(size_t i);
extern const struct policy_default *const services_policy_tables[];

#endif
