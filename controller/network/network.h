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
 *   network_agents.c    agents (each hypervisor's L2, DHCP and metadata
 *                       roles, from the fleet's services table)
 * Every create runs in one store_write(): quota check, allocations (ipam)
 * and the record commit together or not at all. Each committed write
 * then tells the dataplane sync (network_changed()).
 *
 * Threads: created on the main thread before the API listens; handlers run
 * on the HTTP pool; the functions below on the caller's thread inside the
 * caller's transaction.
 */
#ifndef TS_CONTROLLER_NETWORK_H
#define TS_CONTROLLER_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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
 * The dataplane sync the API tells of its writes (borrowed: it outlives
 * the service's listener). Set on the main thread before the API
 * listens; NULL (tools, tests): nobody is told.
 */
void	network_set_netsync(struct network *, struct netsync *);
/*
 * Records that shape some host's desired network state (networks,
 * subnets, ports, bindings) were committed: derive and send at the next
 * tick rather than at the next periodic rescan (netsync_changed()). Call
 * after the commit, never inside the transaction: a derivation between
 * the two would miss the change. Any thread; NULL-safe.
 */
void	network_changed(struct network *);

/*
 * Ports of a device, for the Compute service (inside the caller's write
 * transaction, so a server and its ports commit together).
 *
 * network_port_create(): a port on network_id for project_id owned by
 * device_id with device_owner ("compute:nova"), one address per IP version
 * from the network's subnets (or ip, given, on the subnet holding it),
 * bound to host (binding:host_id, vif type "bridge", ACTIVE; NULL or "":
 * unbound, DOWN); the project's port quota applies (409). The new port's id goes to
 * port_id (37 bytes). The network must be the project's, shared or
 * external (else 404), unless admin: Neutron lets an admin's request
 * (Nova's, with the admin's token) put a port on any network.
 */
int	network_port_create(struct network *, struct store_txn *,
	    const char *project_id, const char *network_id, bool admin,
	    const char *device_id, const char *device_owner, const char *ip,
	    const char *host, char port_id[37]);
/*
 * Bind an existing port to device_id on host (binding:host_id, vif type
 * "bridge", status ACTIVE; NULL or "": the device only, DOWN), as a server
 * create does with a port it was
 * given: the port must be project_id's (else 404 "Port id %s could not be
 * found.") and not in use by a device (409 "Port %s is still in use.").
 * The port's device_owner is left as it is: that is how release below
 * tells the ports compute created from those it was given.
 */
int	network_port_bind(struct network *, struct store_txn *,
	    const char *project_id, const char *port_id,
	    const char *device_id, const char *host);

/* What compute shows (addresses, security_groups) and sends to a host
 * (NICs) of a port. Borrowed for the callback. */
struct network_device_port {
	const char	*port_id, *network_id, *network_name, *mac;
	uint32_t	 mtu;		/* of the network */
	size_t		 nips;
	const char	*const *ips;	/* the fixed addresses, in order */
	const char	*const *subnet_ids;	/* the subnet of each address */
	/* The floating IP associated with each fixed address, NULL for
	 * none (Neutron allows at most one per fixed address). */
	const char	*const *floating_ips;
	const char	*status;	/* ACTIVE, DOWN... */
	size_t		 nsecgroups;
	/* The names of the port's groups, in the port's order (the id for
	 * a group without a name). */
	const char	*const *secgroup_names;
};
/* Each port of a device, in id order; cb returns 0 go on, 1 stop, -1
 * fail. A port whose network is gone is skipped. */
int	network_port_each_device(struct store_txn *, const char *device_id,
	    int (*cb)(const struct network_device_port *, void *), void *);
/*
 * nova-network's auto_assign_floating_ip, for the Compute service: when
 * [network] auto_assign_floating_ip is on, port_id (the first port of
 * server device_id of project_id, just created or bound in the caller's
 * write transaction) gets a floating IP of project_id from the external
 * network named [network] default_floating_pool, allocated as a floating
 * IP create does (the floatingip quota applies) and associated with the
 * port's first IPv4 address. It is marked auto-assigned: releasing the
 * port (network_port_release_device(), network_port_release()) deletes it.
 * When the pool cannot serve (no such external network, no free address,
 * quota exhausted, no router with its gateway on the pool and an interface
 * on the port's subnet, no IPv4 address, one already associated) nothing
 * is written, one warning saying why is logged and 0 is returned: a server
 * never fails for want of a floating IP. -1 only when the transaction
 * itself failed (store, memory): the caller aborts it. Off: 0, nothing.
 * Call network_changed() after the commit.
 */
int	network_floatingip_auto(struct network *, struct store_txn *,
	    const char *project_id, const char *device_id,
	    const char *port_id);
/*
 * Release the ports of a device: those compute created for it (device_owner
 * "compute:*") are deleted with their addresses, the others (given by the
 * user at create) unbound. A port the user created with a "compute:*"
 * owner counts as compute's: Neutron reserves that prefix for Nova.
 */
int	network_port_release_device(struct network *, struct store_txn *,
	    const char *device_id);
/*
 * The ports of a device follow it to another host (an evacuation):
 * binding:host_id becomes host, vif type "bridge", status ACTIVE, so the
 * dataplane of the new host serves them and the old host's drops them
 * (a live migration's migrating_to cleared). host NULL or "": unbound
 * (vif type "unbound", DOWN), kept by the device (a shelve offload).
 * Inside the caller's write transaction; network_changed() after it.
 */
int	network_port_move_device(struct network *, struct store_txn *,
	    const char *device_id, const char *host);
/*
 * While a device live-migrates: its ports are served on host as well
 * (migrating_to; NULL clears it, as a move does), so the target has the
 * networks before the guest arrives. Inside the caller's write
 * transaction; network_changed() after it.
 */
int	network_port_migrating(struct network *, struct store_txn *,
	    const char *device_id, const char *host);
/*
 * Release one port of a device (an interface detach), as
 * network_port_release_device() does for all of them: deleted when
 * compute created it, else unbound. TS_ENOT_FOUND when port_id is not a
 * port of device_id.
 */
int	network_port_release(struct network *, struct store_txn *,
	    const char *device_id, const char *port_id);

/*
 * Nova's addFixedIp/removeFixedIp (multinic, before microversion 2.44):
 * network_port_ip_add() gives the first port of device_id on network_id
 * one more address, from the first subnet of the network with a free one
 * (400 "Network could not be found for instance <device>." when the
 * device has no port there; the pool's 409 when every subnet is full);
 * network_port_ip_remove() takes address ip off the device's port that
 * holds it (400 "Instance <device> doesn't have fixed IP '<ip>'.").
 */
int	network_port_ip_add(struct network *, struct store_txn *,
	    const char *device_id, const char *network_id);
int	network_port_ip_remove(struct network *, struct store_txn *,
	    const char *device_id, const char *ip);

/*
 * Nova's addSecurityGroup / removeSecurityGroup: group (a name or an id of
 * one of project_id's groups; else 404 "Security group X not found for
 * project Y.") is added to (add) or taken off every port of device_id.
 * Adding one a port has already changes nothing there; removing one no
 * port of the device has: 400 "Security group X not associated with the
 * instance". Call network_changed() after the commit.
 */
int	network_port_secgroup_set(struct network *, struct store_txn *,
	    const char *project_id, const char *device_id, const char *group,
	    bool add);

/*
 * Nova's proxy view of security groups (os-security-groups, below
 * microversion 2.36): {"id", "name", "description", "tenant_id", "rules"}
 * with the ingress rules in Nova's shape. id NULL: an array of the groups
 * of project_id (NULL: of every project); else that group, 404 "Security
 * group <id> not found." when absent or not project_id's (when given).
 * Caller owns *out.
 */
int	network_secgroups_nova(struct store_txn *, const char *project_id,
	    const char *id, json_t **out);

/*
 * Nova's networks "auto" for project_id: the one network it may use (its
 * own or shared, not external) goes to network_id; "" when there is none.
 * Several: 409 "Multiple possible networks found, use a Network ID to be
 * more specific.".
 */
int	network_auto_pick(struct store_txn *, const char *project_id,
	    char network_id[37]);

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
/*
 * `tinystack-manage floating create --ip-range CIDR --pool NAME`
 * (nova-manage's spelling): the external network NAME (router:external,
 * flat on physical network physnet, NULL: NAME) is reused when one of that
 * name exists, else created; then a subnet of it with cidr ip_range (no
 * DHCP; gateway the first address, the allocation pool the rest), so
 * floating IPs and router gateways take their addresses from that range.
 * Ids as network_seed_create().
 */
int	network_floating_create(const struct config *, struct store *,
	    const char *pool, const char *ip_range, const char *physnet,
	    char network_id[37], char subnet_id[37]);
int	network_seed_create(const struct config *, struct store *,
	    const struct network_seed *, char network_id[37],
	    char subnet_id[37]);

#endif
