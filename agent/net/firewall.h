/*
 * firewall: the host's security groups, anti-spoofing and host protection
 * in nftables, converged from host_network (ports with port_security, their
 * security groups, remote-group members, address pairs).
 *
 * Two tables of ours, both named FIREWALL_TABLE (tinystack_fw), in the
 * bridge and inet families; no other table is ever touched. The kernel has
 * no conntrack in the bridge family, so the stateful rules live in the inet
 * family, which sees bridged IPv4/IPv6 through br_netfilter
 * (bridge-nf-call-iptables / ip6tables set to 1 here). There the in and out
 * devices of a bridged packet are the bridge, not the taps, so the bridge
 * table names the ports with packet marks:
 *
 *   bridge prerouting (priority -300, before br_netfilter): the tap's
 *     anti-spoofing chain as_<tap> (verdict map `spoof` keyed by iifname:
 *     source MAC and addresses, no DHCP server, no router advertisement
 *     or redirect, neighbour advertisements only for the port's own IPv6
 *     addresses and its MACs' link-local ones, as Neutron),
 *     then mark = 0x7469xxxx (the port's index, map `inmark`);
 *   bridge forward (priority -200, before br_netfilter's forward at -1):
 *     mark = 0x746fxxxx of the output tap (map `outmark`);
 *   inet prerouting raw: conntrack zone of the bridge (map `zone`: one zone
 *     per network, so overlapping addresses never share entries); inet
 *     output raw: the same for the host's own packets to a bridge;
 *   inet prerouting filter: egress chain eg_<tap> (map `egress` by mark);
 *   inet forward filter: ingress chain in_<tap> (map `ingress` by mark);
 *     both: established/related accepted, invalid dropped, DHCP and
 *     neighbour discovery, then a jump to the chain of each of the port's
 *     groups (gin_<group> from in_, geg_<group> from eg_: the group's
 *     rules, once per host however many ports are in it; an accept there
 *     is final, no match returns), then drop;
 *     packets routed from one tinystack bridge (tsb*) to another jump to
 *     chain `router_fwd` and are dropped unless a rule there accepts them;
 *   inet input: packets from a tinystack bridge to the host itself get
 *     only DHCP, DNS, the metadata service and ICMP echo (chain host_in).
 *
 * The marks of bridged frames of filtered ports are ours. router_fwd is
 * the router module's (agent/net/router.c) to fill: rules added with
 * `add rule inet tinystack_fw router_fwd ... accept`; it is created empty
 * and wiped when the whole table is rebuilt (the first apply, or after an
 * apply failed), so its owner re-adds its rules on every converge.
 *
 * Ports are filtered only with port_security true. A port is named by its
 * tap, "tap" + the first 11 hex digits of its id, as Neutron names it: two
 * ports whose ids share those digits would share one device name, so the
 * same constraint as Neutron's holds (ids are random UUIDs: a clash is
 * 1 in 2^44 per pair); should it happen, the first port listed is filtered
 * and the second gets nothing of its own here. Each port owns its three
 * chains and its map elements, each group in use its two chains, so a
 * change to one port is a transaction touching only those, a rule change
 * only its group's chains (and the remote-group sets rg4_/rg6_<group> that
 * changed: membership updates a set, not rules, with `delete element` for
 * the members gone and `add element` for the new ones; the sets are
 * interval sets without auto-merge, members inside another member left
 * out, so every element is one member as rendered). A port whose inputs
 * did not change since the last success is not rendered again. Every
 * apply is one `nft -f -` transaction (all or nothing) through
 * common/proc.
 *
 * Threads: one thread at a time (the network worker).
 */
#ifndef TS_FIREWALL_H
#define TS_FIREWALL_H

#include <stdbool.h>
#include <stdint.h>

#include "msg_gen.h"

#define FIREWALL_TABLE		"tinystack_fw"

struct firewall_config {
	/* Set net.bridge.bridge-nf-call-ip{,6}tables to 1 before applying
	 * (false in dry-run tests). */
	bool		 sysctl;
	uint16_t	 metadata_port;	/* 0: 80 */
	/* Program paths; NULL: "nft", "conntrack" (looked up by proc). */
	const char	*nft;
	const char	*conntrack;
};

struct firewall;

/* A firewall that has applied nothing yet; cfg is copied. NULL on ENOMEM
 * (err set). */
struct firewall	*firewall_new(const struct firewall_config *cfg);
void		 firewall_free(struct firewall **);

/*
 * Make the tables equal to desired: the first call (and the next call after
 * a failure) replaces both tables whole, later calls send only what changed
 * since the last success. When a port's rules shrank (a rule of one of
 * its groups or a group gone) its conntrack entries in its zone are
 * deleted afterwards, so a connection the rules no longer allow is cut;
 * when a remote group loses a member, that member's entries (from and to
 * it) in the zones of the ports whose groups name the set are (a gone
 * prefix: those ports' entries, whole).
 * A security group with a bad rule contributes no rules (its ports get less,
 * never more) and the networks of its ports are reported not ok in state
 * with the reason; a failed transaction marks every network with filtered
 * ports. state may be NULL. -1 with the error recorded when nft failed or on
 * ENOMEM.
 */
int	firewall_apply(struct firewall *, const struct msg_host_network *desired,
	    struct msg_host_network_state *state);

#endif
