/*
 * ipam: IP address, MAC address and segment management of the network
 * service, and the create/delete operations of networks, subnets and ports
 * that must change objects and allocations together.
 *
 * Two layers:
 * - Pure logic (no store): address and CIDR parsing, subnet validation and
 *   defaults (ipam_subnet_prepare()), configuration ([network] options).
 * - Transaction operations: called inside the caller's store_write()
 *   function, so an allocation and the object holding it commit together or
 *   not at all, and concurrent creates are serialised by the store's single
 *   writer (no address or segment can be handed out twice).
 *
 * Errors are Neutron's, status and message, so the API layer can render
 * err_msg() as the NeutronError message as it is:
 *   TS_EINVALID (400): "Invalid input for cidr. Reason: ...", "The
 *     allocation pool X spans beyond the subnet cidr Y.", "IP address X is
 *     not a valid IP for the specified subnet.", "Invalid input for
 *     operation: Requested subnet with cidr: X for network: Y overlaps with
 *     another subnet.", "Invalid input for operation: segmentation_id out of
 *     range (1 through 4094)." ...
 *   TS_ECONFLICT (409): "Found overlapping allocation pools: A B for subnet
 *     C.", "Gateway ip X conflicts with allocation pool P.", "IP address X
 *     already allocated in subnet Y", "No more IP addresses available on
 *     network X.", "Unable to complete operation for network X. The mac
 *     address M is in use.", "Unable to create the network. The VLAN V on
 *     physical network P is in use." (TunnelIdInUse, FlatNetworkInUse
 *     alike), NetworkInUse, SubnetInUse.
 *   TS_EUNAVAILABLE (503): "Unable to create the network. No tenant network
 *     is available for allocation.", "Unable to generate unique mac on
 *     network X."
 *   TS_ENOT_FOUND (404): "Network X could not be found." ...
 *
 * Records passed in to be completed (rec_subnet, rec_port, rec_network)
 * must own their strings and lists as after a decode (malloc'd: the
 * functions replace fields and free what they replace); the caller
 * codec_clear()s them afterwards, whatever the result.
 *
 * Addresses in records are canonical text (inet_ntop: IPv4 dotted quad,
 * IPv6 RFC 5952 lowercase); cidr is normalised (host bits cleared).
 */
#ifndef TS_CONTROLLER_IPAM_H
#define TS_CONTROLLER_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"
#include "store.h"

struct config;

/* ---------------------------------------------------------------- addresses */

typedef unsigned __int128 ipam_u128;

struct ipam_addr {
	unsigned	version;	/* 4 or 6 */
	ipam_u128	v;		/* IPv4 in the low 32 bits */
};

struct ipam_cidr {
	struct ipam_addr net;		/* host bits cleared */
	unsigned	 prefixlen;
};

/* INET6_ADDRSTRLEN + "/128" */
#define IPAM_ADDR_STRLEN	64

/* A literal address (no prefix, no surrounding space). -1 TS_EINVALID
 * "'X' is not a valid IP address". */
int	ipam_addr_parse(const char *, struct ipam_addr *);
/* Canonical text; out has IPAM_ADDR_STRLEN bytes. Returns out. */
char	*ipam_addr_format(const struct ipam_addr *, char *out);
/*
 * A subnet as the API gives it: "addr/len", host bits allowed and cleared
 * (as Neutron does). ip_version 0 accepts both; 4 or 6 must match. Errors
 * (TS_EINVALID): no prefix ("Invalid input for cidr. Reason: 'X' isn't a
 * recognized IP subnet cidr, 'X/32' is recommended."), unparsable ("... 'X'
 * is not a valid IP subnet."), prefix 0 ("Invalid input for operation: 0 is
 * not allowed as CIDR prefix length."), version mismatch.
 */
int	ipam_cidr_parse(const char *, unsigned ip_version, struct ipam_cidr *);
char	*ipam_cidr_format(const struct ipam_cidr *, char *out);
bool	 ipam_cidr_contains(const struct ipam_cidr *, const struct ipam_addr *);
bool	 ipam_cidr_overlap(const struct ipam_cidr *, const struct ipam_cidr *);

/* ----------------------------------------------------------- configuration */

struct ipam_conf;

/*
 * The [network] options: base_mac, mac_generation_retries,
 * tenant_network_types, vni_ranges, network_vlan_ranges, flat_networks,
 * global_physnet_mtu, max_dns_nameservers, max_subnet_host_routes. Returns
 * an owned conf, or NULL with TS_ECONFIG naming the option. Read once at
 * start-up; the conf is immutable and may be shared by threads.
 */
struct ipam_conf *ipam_conf_new(const struct config *);
void	 ipam_conf_free(struct ipam_conf **);
/* Tests: the source of random bytes for MACs (default getrandom()). */
void	 ipam_conf_set_random(struct ipam_conf *,
	    void (*fill)(uint8_t *buf, size_t len, void *arg), void *arg);

/* --------------------------------------------------------- subnets (logic) */

enum ipam_gateway {
	IPAM_GW_DEFAULT = 0,	/* absent from the request: first address */
	IPAM_GW_NONE,		/* "gateway_ip": null */
	IPAM_GW_GIVEN,		/* s->gateway_ip as given */
};

/*
 * Validate and complete a subnet before it is stored: ip_version (4|6),
 * cidr (parsed and normalised), gateway_ip (per gw; an address inside the
 * subnet may not be its network or IPv4 broadcast address; one outside is
 * allowed, as in Neutron), allocation_pools (pools_given: as given,
 * validated: well-formed, start <= end, inside the subnet without its
 * network and IPv4 broadcast address, pairwise disjoint, not holding the
 * gateway; else Neutron's default: the whole subnet without those and the
 * gateway), dns_nameservers and host_routes (valid, same IP version, no
 * duplicates, at most max_dns_nameservers / max_subnet_host_routes).
 * Addresses are rewritten in canonical form and pools sorted. Pure: no
 * store; the overlap with other subnets is ipam_subnet_create()'s.
 */
int	ipam_subnet_prepare(const struct ipam_conf *, struct rec_subnet *,
	    enum ipam_gateway gw, bool pools_given);

/* ------------------------------------------------- transaction operations */

/* A requested provider segment (provider:network_type etc.). */
struct ipam_segment_req {
	const char	*network_type;		/* flat | vlan | vxlan */
	const char	*physical_network;	/* NULL: none given */
	bool		 has_segmentation_id;
	uint32_t	 segmentation_id;
};

/*
 * Create a network: the network exists for good only with its segment.
 * provider NULL: a tenant network, segment from tenant_network_types in
 * order (the lowest free VNI of vni_ranges, or the lowest free VLAN of
 * network_vlan_ranges, physical networks in configured order); none free:
 * 503. provider given (the caller checked it is an admin): validated as
 * ML2 does (flat: physical network required and allowed by flat_networks,
 * one flat network per physical network; vlan: id 1-4094 on a physical
 * network of network_vlan_ranges, any id, in the ranges or not; vlan with
 * only a physical network: allocated from its ranges; vxlan: VNI
 * 1-16777215, no physical network; vxlan without an id: allocated) and
 * taken (409 if used). Fills n's network_type, physical_network,
 * segmentation_id and, when n->mtu is 0, mtu (global_physnet_mtu, minus 50
 * for vxlan; a larger mtu given is 400). Then stores n (new: counts in the
 * project's usage).
 */
int	ipam_network_create(struct store_txn *, const struct ipam_conf *,
	    struct rec_network *n, const struct ipam_segment_req *provider);
/*
 * Delete a network with its subnets and release its segment. Ports still
 * on it: 409 NetworkInUse (the API deletes the ones Neutron deletes itself,
 * e.g. network:dhcp, first, with ipam_port_delete()).
 */
int	ipam_network_delete(struct store_txn *, const struct rec_network *n);

/*
 * Create a subnet prepared by ipam_subnet_prepare(): its network must exist
 * (404) and its cidr must not overlap another subnet of the same network
 * (400, Neutron's InvalidInput; overlapping subnets of different networks
 * are allowed). Stores s (new: counts in the project's usage).
 */
int	ipam_subnet_create(struct store_txn *, const struct rec_subnet *s);
/*
 * Update a subnet (s prepared by ipam_subnet_prepare() with the values
 * kept from old filled in; cidr and ip_version cannot change: 400). A
 * change of pools restarts the allocator's walk at the lowest pool
 * address; addresses already allocated stay.
 */
int	ipam_subnet_update(struct store_txn *, const struct rec_subnet *s,
	    const struct rec_subnet *old);
/* Delete a subnet; addresses still allocated in it: 409 SubnetInUse. */
int	ipam_subnet_delete(struct store_txn *, const struct rec_subnet *s);

/* One entry of a port's fixed_ips request: subnet, address or both. */
struct ipam_ip_req {
	const char	*subnet_id;	/* NULL: the subnet holding ip_address */
	const char	*ip_address;	/* NULL: the next free of the subnet */
};

/*
 * Create a port on an existing network (404): the MAC (p->mac_address
 * NULL or "": generated from base_mac, retried on collision up to
 * mac_generation_retries, then 503; given: validated, 400 "Invalid input
 * for mac_address. Reason: 'X' is not a valid MAC address." for a
 * malformed, all-zero, broadcast or multicast one, and unique, 409) and the
 * fixed IPs: reqs_given false (fixed_ips absent) takes one address per IP
 * version from the network's subnets, the next subnet of that version when
 * one is exhausted (409 when all are); reqs_given with nreq 0 takes none;
 * else each request as ipam_ip_allocate(). Fills p->mac_address and
 * p->fixed_ips, then stores p (new: counts in the project's usage).
 */
int	ipam_port_create(struct store_txn *, const struct ipam_conf *,
	    struct rec_port *p, const struct ipam_ip_req *reqs, size_t nreq,
	    bool reqs_given);
/* Delete a port and release its addresses and MAC. */
int	ipam_port_delete(struct store_txn *, const struct rec_port *p);

/*
 * The primitives below, for port updates (fixed_ips changes) and special
 * owners. ipam_ip_allocate(): an address of subnet s for port_id:
 * ip NULL: the lowest free address of the pools (409 "No more IP addresses
 * available on network X." when none); else that address, which must be
 * inside the subnet and not its network (nor IPv4 broadcast) address (400)
 * and free (409 "IP address X already allocated in subnet Y"); it need
 * not be in a pool. out (IPAM_ADDR_STRLEN) receives the canonical address.
 * The walk to the next free address starts at a per-subnet cursor below
 * which every pool address is taken, so filling a subnet costs O(1)
 * amortised per address and at worst O(allocated) after releases.
 */
int	ipam_ip_allocate(struct store_txn *, const struct rec_subnet *s,
	    const char *port_id, const char *ip, char *out);
/* Release an address if it is held by port_id (any holder if NULL);
 * absent is not an error. */
int	ipam_ip_release(struct store_txn *, const char *subnet_id,
	    const char *ip, const char *port_id);
/* Holder of an address (TS_ENOT_FOUND if free). */
int	ipam_ip_get(struct store_txn *, const char *subnet_id, const char *ip,
	    struct rec_ip_allocation *);
/* Addresses allocated in a subnet, in address order. */
int	ipam_ip_each(struct store_txn *, const char *subnet_id,
	    int (*cb)(const struct rec_ip_allocation *, void *), void *);
int	ipam_ip_count(struct store_txn *, const char *subnet_id, size_t *);

/* Take a given MAC (validated, canonical lowercase written to out[18]) or
 * generate one (mac NULL) for port_id; release one held by port_id. */
int	ipam_mac_allocate(struct store_txn *, const struct ipam_conf *,
	    const char *network_id, const char *port_id, const char *mac,
	    char out[18]);
int	ipam_mac_release(struct store_txn *, const char *mac,
	    const char *port_id);

/* Holder of a segment (TS_ENOT_FOUND if free); physnet NULL for vxlan. */
int	ipam_segment_get(struct store_txn *, const char *network_type,
	    const char *physnet, uint32_t segmentation_id,
	    struct rec_segment_allocation *);

#endif
