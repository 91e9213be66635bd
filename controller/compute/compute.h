/*
 * compute_api: the Compute API (Nova v2.1) service of the controller.
 *
 * The service object holds what the handlers share: the store, the
 * scheduler (scheduler.h), the reconciler (recon.h) and the options
 * ([compute], [scheduler]). Handlers are spread over
 *   compute_api.c       service life cycle, version documents and
 *                       microversions, route table, policy defaults,
 *                       JSON helpers
 *   compute_servers.c   servers: create (quota + scheduler claim + record
 *                       in one transaction), list/show/update/delete,
 *                       actions, os-instance-actions, console output,
 *                       diagnostics, ips
 *   compute_interfaces.c  os-interface: attach/detach of ports (the
 *                       guest is hot-plugged through the reconciler)
 *   compute_flavors.c   flavors, extra specs, flavor access
 *   compute_keypairs.c  key pairs (OpenSSH import, ed25519 generation)
 *   compute_admin.c     os-hypervisors, os-services, os-availability-zone,
 *                       os-aggregates, os-quota-sets, limits
 *
 * Every route exists four times: under /v2.1 and /v2, each with and
 * without a leading /{project_id} (the catalog URL may carry it). The
 * project in the URL is not trusted for anything: the token's scope is.
 *
 * Threads: created and started on the main thread before the API listens;
 * handlers run on the HTTP pool; the fleet hooks on the bus thread.
 */
#ifndef TS_CONTROLLER_COMPUTE_API_H
#define TS_CONTROLLER_COMPUTE_API_H

#include "http/http.h"
#include "auth/policy.h"

struct bus;
struct config;
struct fleet_hooks;
struct store;
struct compute;

/* Microversions served: 2.COMPUTE_MV_MIN .. 2.COMPUTE_MV_MAX. */
#define COMPUTE_MV_MIN	1
#define COMPUTE_MV_MAX	33

/*
 * The service: scheduler and reconciler over the borrowed store and bus
 * (both outlive it). host is the controller's name (sender of commands).
 * NULL with err set.
 */
struct compute	*compute_new(const struct config *, struct store *,
			    struct bus *, const char *host);
/* Recounts usage from the records (recon_audit) and starts the
 * reconciler's thread. */
int			 compute_start(struct compute *);
/* Stops the thread and frees; accepts NULL, clears *sp. */
void			 compute_free(struct compute **);
/* The hooks the fleet calls on the bus thread (fleet_add_hooks()). */
void			 compute_fleet_hooks(struct compute *,
			    struct fleet_hooks *out);
/* The agents' image capabilities are minted by the Identity service
 * (identity_capability_mint(), [compute] image_capability_lifetime): id is
 * borrowed for the service's lifetime. Before compute_start(). */
struct identity;
void			 compute_set_identity(struct compute *,
			    struct identity *id);
/* Server ports come from the Network service (network/network.h): net is
 * borrowed for the service's lifetime; NULL: servers get no interfaces
 * and networks other than "none"/"auto" are refused. Before
 * compute_start(). */
struct network;
void			 compute_set_network(struct compute *,
			    struct network *net);
/* Volumes come from the Block Storage service (volume/volume.h): vol is
 * borrowed for the service's lifetime; NULL: os-volume_attachments
 * answers 409. Before compute_start(). */
struct volume;
void			 compute_set_volume(struct compute *,
			    struct volume *vol);
/* Snapshots and backups make their images in the Image service
 * (image/image.h): img is borrowed for the service's lifetime; NULL:
 * createImage and createBackup answer 503. Before compute_start(). */
struct image_service;
void			 compute_set_image(struct compute *,
			    struct image_service *img);
/* The storage sync's ready hook (storesync_ready_fn's shape; arg is the
 * service): an attachment's export is in place, so its server's host is
 * sent the server's volumes now. Any thread. */
void			 compute_volume_ready(void *arg, const char *volume_id,
			    const char *attachment_id);

/*
 * The hostname of the instance device_id (a server id), for the network
 * dataplane's DHCP entries (netsync_hostname_fn's shape; arg is the
 * service): 0 with out filled (NUL-terminated, truncated to len), -1 if no
 * instance has that id. Any thread; opens a read transaction of its own.
 */
int			 compute_instance_hostname(const char *device_id,
			    char *out, size_t len, void *arg);

/*
 * The fleet's figures for /metrics (a metrics_collect_fn; arg is the
 * service): per compute host its state, vCPUs, memory and disk, total and
 * claimed, and its servers, as os-hypervisors/detail shows them, under
 * openstack-exporter's names; and the hosts up, down and disabled. One
 * read transaction; any thread.
 */
struct buf;
void			 compute_metrics_collect(struct buf *out, void *arg);

/* The route table of the compute listener (port [api] compute_port). */
extern const struct http_route compute_routes[];
/* Built-in policy rules of the compute API (os_compute_api:*). */
extern const struct policy_default policy_compute_defaults[];

#endif
