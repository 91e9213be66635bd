/*
 * router: the L3 half of the agent's dataplane, distributed routers and
 * floating IPs (Neutron's DVR, simplified), converged to host_network.routers.
 *
 * Per router with an interface on a network of this host: a network
 * namespace ROUTER_NS_PREFIX + 11 hex of the router id (+ "-" + a tag when
 * several fake hosts share /run/netns, see router_new()). In it one veth end
 * per interface ("qr-" + 11 hex of the subnet id) carrying the interface's
 * address and MAC, the same on every host; the other end ("tsi" + 5 hex of
 * the router + 6 of the subnet) enslaved to the network's bridge here;
 * ip_forward on inside the namespace only; the router's extra routes. So
 * east-west traffic between the router's subnets is routed on the host of
 * the sender.
 *
 * External side, when the router has a gateway and this host needs it
 * (snat_host, or a floating IP of a port here): a veth "qg-" + 11 hex of
 * the router in the namespace, "tsg" + 11 hex on the external network's
 * bridge. Each floating IP here is on qg as /32 (the namespace answers ARP
 * for it) with DNAT floating -> fixed and SNAT fixed -> floating. On the
 * snat_host: gateway_ip on qg, and with enable_snat every other source of
 * the router's subnets leaves as gateway_ip. Default route: the external
 * subnet's gateway. On a host that is neither the snat_host nor has a
 * floating IP, guests without a floating IP get no external access in this
 * version; on a host with floating IPs but not the snat_host, only their
 * fixed addresses may leave through qg (others are dropped, never leaked
 * untranslated). When a floating IP mapping leaves the namespace's
 * ruleset (the floating IP gone from here, or moved to another fixed
 * address), its tracked connections in the namespace are deleted after the
 * new ruleset is in (conntrack -D --orig-dst / --reply-dst FLOATING), so an
 * established flow does not keep the old translation; known mappings are
 * those applied since the agent started.
 *
 * Every address put on qg (a floating IP, gateway_ip), and every one qg
 * holds when the agent first converges the router after it started, is
 * announced by gratuitous ARP (garp.h: 3 rounds, 2 s apart, the first
 * at the end of the converge that put it there, after its ruleset), so
 * the external network's neighbours follow a floating IP that moved hosts
 * at once; the announcements of an address that leaves are cancelled.
 *
 * Every host holds the same router MAC and addresses: the host table
 * "bridge tinystack_l3" keeps them apart on the networks' VXLAN/VLAN/flat
 * uplink ports: ARP naming a router address is dropped in and out, frames
 * with a router MAC as source are dropped coming in, and going out their
 * source becomes the host's own MAC (router_host_mac(), one for all the
 * host's routers, as Neutron's DVR MACs), so each host's guests reach
 * their own host's copy and a router reaches a guest on another host. The
 * router never ARPs across: every port of its subnets (net_router.neighbors)
 * is a permanent neighbour on the interface whose subnet holds it, stale
 * ones deleted, in one `ip -batch`. A guest answers through its own host's
 * router, so each direction is routed on the sender's host.
 *
 * Level-triggered, as netconv: every converge probes the namespaces (`ip
 * netns list`, `ip -br addr` inside, `ip -o link` for the host ends) and
 * closes gaps (missing namespace, veth, address; stale ones removed); the
 * forwarding switch, routes, neighbours and the namespace's nft ruleset
 * (table "ip tinystack_router", replaced atomically with `nft -f -`) are
 * derived each converge and applied only when their hash differs from the
 * last one applied, or when a link had to be made again. Everything runs through the
 * process runner (proc.h) as argv, so tests record the exact commands.
 *
 * Threads: one thread at a time (the converger's).
 */
#ifndef TS_ROUTER_H
#define TS_ROUTER_H

#include <stdint.h>

#include "ifname.h"
#include "msg_gen.h"

#define ROUTER_NS_PREFIX	"tsr-"
#define ROUTER_TAG_MAX		32
/* The host MAC: this prefix (locally administered, outside the default
 * [network] base_mac fa:16:3e) + the 4 octets of the IPv4 underlay
 * address (local_ip: unique among the hosts a tunnel joins, so no
 * receiving bridge learns one MAC at two places), else 4 octets of a hash
 * of local_ip or the host name. */
#define ROUTER_HOST_MAC_PREFIX	"fa:17"
#define ROUTER_NS_MAX		(4 + 11 + 1 + ROUTER_TAG_MAX)

/* Where a network lives on this host, as netconv made it: the bridge the
 * router's veth joins, and the port of that bridge towards other hosts
 * (VXLAN device, VLAN device or mapped interface; "" when none is ours to
 * filter, e.g. an operator's bridge). */
struct router_net {
	char		 bridge[IFNAME_MAX + 1];
	char		 uplink[IFNAME_MAX + 1];
	uint32_t	 mtu;
};

/* Fill *out for network id; -1 when the network is not converged here
 * (the router's interface on it is skipped). */
typedef int (*router_net_fn)(void *arg, const char *net_id,
    struct router_net *out);

struct router;

/* tag: NULL or "" for none; else appended to every namespace name, so that
 * agents of several fake hosts in one kernel (one /run/netns) keep apart;
 * only [A-Za-z0-9_.-], at most ROUTER_TAG_MAX (else TS_EINVALID).
 * local_ip ([network] local_ip) and host: the host MAC's source (see
 * ROUTER_HOST_MAC_PREFIX); both NULL or "": no host MAC, frames from a
 * router MAC are dropped going out too (no cross-host routing). */
struct router	*router_new(const char *tag, const char *local_ip,
		    const char *host);
void		 router_free(struct router **);

/* The host MAC ("" when none), valid as long as the router object. */
const char	*router_host_mac(const struct router *);

/*
 * Converge the routers of d (borrowed for the call); nets tells where each
 * network is. Owned namespaces of routers not in d are deleted. Returns 0,
 * or -1 with the first failure recorded (it goes on with the other
 * routers; the next converge retries); every failure is also logged here.
 */
int	router_converge(struct router *, const struct msg_host_network *d,
	    router_net_fn nets, void *arg);

/* Send the gratuitous ARPs due (the later rounds); the ms until the
 * next is due, -1 when none is queued. The converger's thread. */
int64_t	router_announce(struct router *);

/* The namespace of router id (out: ROUTER_NS_MAX + 1 bytes); -1
 * (TS_EINVALID) if id is not a UUID. */
int	router_ns_name(const struct router *, const char *id, char *out);

#endif
