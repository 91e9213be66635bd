/*
 * link: the Linux links of the agent's networks (bridge, VXLAN device, VLAN
 * device, enslaved physical interface), their VXLAN flood entries and the
 * DHCP server addresses on the bridges, converged to a wanted state.
 *
 * Ownership by name: the agent owns every link whose name starts with
 * LINK_BRIDGE_PREFIX or LINK_VXLAN_PREFIX (followed by the first 11 hex
 * digits of the network id), plus VLAN devices "<interface>.<vid>" while
 * they are enslaved to one of its bridges. Anything else (guest taps,
 * physical interfaces, a mapped bridge) is used, never deleted.
 *
 * Converging is level-triggered and idempotent: link_net_ensure() reads
 * what exists, then creates what is missing, recreates a device whose
 * immutable parameters differ (VNI, local address, VLAN id), fixes
 * master/MTU/up, appends missing flood entries and removes stale ones. Run
 * twice, the second run changes nothing.
 *
 * The kernel is reached through struct link_ops, so tests use the
 * in-memory recording backend (linkrec.h) and see every change as one line
 * of text ("link add ... type vxlan id 42 ..."), including what cannot run
 * on the test machine (VLAN devices need 8021q).
 *
 * Threads: a struct link is used by one thread at a time.
 */
#ifndef TS_LINK_H
#define TS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ifname.h"

#define LINK_NAME_MAX		IFNAME_MAX
#define LINK_BRIDGE_PREFIX	IFNAME_BRIDGE_PREFIX
#define LINK_VXLAN_PREFIX	IFNAME_VXLAN_PREFIX
#define LINK_ADDR_MAX		64	/* "ip/prefixlen" text incl. NUL */
#define LINK_VXLAN_PORT		4789
#define LINK_MAX_PEERS		1024
#define LINK_MAX_ADDRS		64

/* One link as a backend reports it or is asked to create it. Text fields
 * are NUL-terminated; "" is absent. */
struct link_state {
	char		 name[LINK_NAME_MAX + 1];
	char		 kind[16];	/* bridge | vxlan | vlan | veth | "" */
	char		 master[LINK_NAME_MAX + 1];
	uint32_t	 mtu;		/* 0: backend default */
	bool		 up;
	/* vxlan */
	uint32_t	 vni;
	char		 local[LINK_ADDR_MAX];	/* underlay address */
	uint16_t	 port;			/* UDP destination port */
	bool		 learning;
	/* vlan: parent is the lower device; vxlan: optional underlay device */
	uint16_t	 vid;
	char		 parent[LINK_NAME_MAX + 1];
};

/*
 * The kernel interface. Every function returns 0 or -1 with the error
 * recorded. Names are link names; addresses are text as rendered by
 * link_addr_norm() (with "/prefixlen" for interface addresses).
 * list/fdb_list/addr_list return malloc'd arrays the caller frees.
 */
struct link_ops {
	int	(*list)(void *ctx, struct link_state **out, size_t *n);
	/* Create l (name, kind, mtu and the kind's parameters; not master,
	 * not up). */
	int	(*add)(void *ctx, const struct link_state *l);
	int	(*del)(void *ctx, const char *name);
	/* master: NULL unchanged, "" release; mtu: 0 unchanged; up: -1
	 * unchanged, 0 down, 1 up. */
	int	(*set)(void *ctx, const char *name, const char *master,
		    uint32_t mtu, int up);
	/* All-zero-MAC (flood) entries of a VXLAN device: their dst. */
	int	(*fdb_list)(void *ctx, const char *dev,
		    char (**dst)[LINK_ADDR_MAX], size_t *n);
	int	(*fdb_append)(void *ctx, const char *dev, const char *dst);
	int	(*fdb_del)(void *ctx, const char *dev, const char *dst);
	/* Global addresses of dev ("ip/prefix"); IPv6 link-local omitted. */
	int	(*addr_list)(void *ctx, const char *dev,
		    char (**addr)[LINK_ADDR_MAX], size_t *n);
	int	(*addr_add)(void *ctx, const char *dev, const char *addr);
	int	(*addr_del)(void *ctx, const char *dev, const char *addr);
	void	(*free)(void *ctx);
};

enum link_net_type {
	LINK_NET_FLAT = 0,
	LINK_NET_VLAN,
	LINK_NET_VXLAN,
};

/* The wanted L2 of one network. All pointers borrowed for the call. */
struct link_net {
	const char		*id;		/* network uuid */
	enum link_net_type	 type;
	uint32_t		 segid;		/* VLAN id or VNI */
	uint32_t		 mtu;		/* 0: leave the kernel's */
	/* flat/vlan: the physnet's interface. flat: an existing bridge to
	 * use instead of an owned one (then phys_if is ignored). */
	const char		*phys_if;
	const char		*phys_bridge;
	const char		*local_ip;	/* vxlan: underlay address */
	const char *const	*peers;		/* vxlan: other hosts' underlay */
	size_t			 npeers;
	/* Addresses the bridge must carry ("ip/prefix", normalised by the
	 * callee); others on an owned bridge are removed. */
	const char *const	*addrs;
	size_t			 naddrs;
	/* The guest taps of the network's ports on this host (names from
	 * ifname_of(IFNAME_TAP_PREFIX, port id)). Each one that exists is
	 * put (back) on the bridge when its master differs: a bridge deleted
	 * by hand and recreated leaves the running guests' taps without one.
	 * A tap that does not exist (no guest running) is libvirt's to make
	 * and is skipped; up/down stays libvirt's. */
	const char *const	*taps;
	size_t			 ntaps;
};

struct link;

/* A link converger over the real kernel (netlink in the calling thread's
 * network namespace). NULL with the error recorded. */
struct link	*link_new_netlink(void);
/* A converger over ops; takes ownership of ctx (freed by ops->free). */
struct link	*link_new(const struct link_ops *ops, void *ctx);
void		 link_free(struct link **);

/* The names of a network's bridge and VXLAN device (buffers of
 * LINK_NAME_MAX + 1). -1 (TS_EINVALID) if id is not a UUID. */
int	link_names(const char *id, char *bridge, char *vxlan);

/*
 * Make the network's links match want. bridge (LINK_NAME_MAX + 1 bytes,
 * may be NULL) receives the bridge the guests' taps join, also on failure
 * when it is known. Returns 0, or -1 with the first failure recorded
 * (it still tries the remaining steps that do not depend on it).
 */
int	link_net_ensure(struct link *, const struct link_net *want,
	    char *bridge);

/*
 * A batch: list the links once and let every link_net_ensure() until
 * link_batch_end() work from that listing instead of its own (a tick over
 * N networks then dumps the links once, not N times). Sound because each
 * network's ensure touches only its own links. link_prune() always lists
 * afresh. begin returns -1 with the error recorded if the listing fails.
 */
int	link_batch_begin(struct link *);
void	link_batch_end(struct link *);

/*
 * Delete every owned link not named in keep (bridge and VXLAN names from
 * link_names()), and VLAN devices enslaved to a bridge being deleted unless
 * keep names them too (a mapped physical interface may itself be a VLAN
 * device: pass the mapped interfaces in keep). Returns 0 or -1 (first
 * failure; it keeps going).
 */
int	link_prune(struct link *, const char *const *keep, size_t nkeep);

/*
 * Normalise an address (with optional "/prefixlen") to its canonical text:
 * inet_pton then inet_ntop, prefix checked against the family. out has
 * LINK_ADDR_MAX bytes. want_prefix: 1 requires a prefix, 0 forbids one.
 * Returns the family (AF_INET/AF_INET6) or -1 (TS_EINVALID).
 */
int	link_addr_norm(const char *in, int want_prefix, char *out,
	    unsigned *prefixlen);

#endif
