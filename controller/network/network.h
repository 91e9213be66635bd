/*
 * network: the Networking API (Neutron v2.0) service of the controller.
 *
 * The service object holds what the handlers share: the store, the
 * address management configuration (ipam.h) and the quota defaults
 * ([network] quota_*). Handlers are spread over
 *   network.c           service life cycle, discovery (/, /v2.0,
 *                       extensions), route table, policy defaults, the
 *                       list engine (filters, fields, sort, pagination)
 *                       and Neutron's error types
 *   network_networks.c  networks (provider attributes, shared, external)
 *   network_subnets.c   subnets
 *   network_ports.c     ports, and the device ports of the public API below
 *   network_quotas.c    quotas
 * Every create runs in one store_write(): quota check, allocations (ipam)
 * and the record commit together or not at all.
 *
 * Threads: created on the main thread before the API listens; handlers run
 * on the HTTP pool; the functions below on the caller's thread inside the
 * caller's transaction.
 */
#ifndef TS_CONTROLLER_NETWORK_H
#define TS_CONTROLLER_NETWORK_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/policy.h"
#include "http/http.h"
#include "network/netsync.h"	/* the dataplane sync, also public */

struct config;
struct network;
struct store;
struct store_txn;

/* The service over the borrowed store. NULL with err set (TS_ECONFIG for
 * a bad [network] option). */
struct network	*network_new(const struct config *, struct store *);
/* Accepts NULL, clears *sp. */
void		 network_free(struct network **);

/* The route table of the network listener (port [api] network_port). */
extern const struct http_route network_routes[];
/* Built-in policy rules of the network API (Neutron's names). */
extern const struct policy_default network_policy_defaults[];

/*
 * Ports of a device, for the Compute service (inside the caller's write
 * transaction, so a server and its ports commit together).
 *
 * network_port_create(): a port on network_id for project_id owned by
 * device_id with device_owner ("compute:nova"), one address per IP version
 * from the network's subnets (or ip, given, on the subnet holding it);
 * the project's port quota applies (409). The new port's id goes to
 * port_id (37 bytes). The network must be the project's, shared or
 * external (else 404).
 */
int	network_port_create(struct network *, struct store_txn *,
	    const char *project_id, const char *network_id,
	    const char *device_id, const char *device_owner, const char *ip,
	    char port_id[37]);
/* Bind an existing port to device_id on host (binding:host_id, vif type
 * "bridge", status ACTIVE). */
int	network_port_bind(struct network *, struct store_txn *,
	    const char *port_id, const char *device_id, const char *host);
/* Each port of a device, in id order: cb gets its id, network, MAC and
 * first fixed address ("" if none); 0 go on, 1 stop, -1 fail. */
int	network_port_each_device(struct store_txn *, const char *device_id,
	    int (*cb)(const char *port_id, const char *network_id,
	    const char *mac, const char *ip, void *), void *);
/* Release the ports of a device: those it created (device_owner
 * "compute:*") are deleted with their addresses, others unbound. */
int	network_port_release_device(struct network *, struct store_txn *,
	    const char *device_id);

/*
 * `tinystack-manage network create` (nova-manage's spelling): a network
 * labelled label with one IPv4 subnet cidr, in one transaction through the
 * same data layer as the API. vlan >= 0: a VLAN provider network on
 * physical network bridge (NULL: the first of [network]
 * network_vlan_ranges); else a tenant segment. project_id NULL or "": a
 * shared network (nova-network's networks served every project). The new
 * ids go to network_id and subnet_id (37 bytes each).
 */
struct network_seed {
	const char	*label;
	const char	*cidr;
	const char	*bridge;
	const char	*project_id;
	long		 vlan;
};
int	network_seed_create(const struct config *, struct store *,
	    const struct network_seed *, char network_id[37],
	    char subnet_id[37]);

#endif
