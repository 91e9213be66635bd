/*
 * netconv: the converger of the host's network dataplane (DESIGN.md
 * decision 10). It holds the last host_network the controller sent and
 * makes the links (link.h) and dnsmasq instances (dhcp.h) equal to it:
 * creates what is missing, fixes what differs, deletes owned leftovers.
 *
 * Level-triggered: netconv_apply() stores a new desired state and converges;
 * netconv_tick(), called on the agent's timer, converges again to the same
 * state, so a hand-deleted bridge or a killed dnsmasq comes back within one
 * tick. After an agent restart the first apply adopts what it finds (links
 * and dnsmasq instances that already match are left alone). Until the first
 * apply the converger knows nothing and changes nothing: a restarting agent
 * must not tear down the dataplane before the controller has spoken.
 *
 * Routers and floating IPs (host_network.routers) are converged after the
 * networks by router.h, in namespaces of their own.
 *
 * Threads: one thread at a time (the agent's main loop or a worker).
 */
#ifndef TS_NETCONV_H
#define TS_NETCONV_H

#include "dhcp.h"
#include "firewall.h"
#include "link.h"
#include "msg_gen.h"

struct netconv_config {
	/* host_network.host must equal it; NULL: not checked. */
	const char		*host;
	const char		*local_ip;	/* [network] local_ip */
	/* "physnet:ifname,..." ([network] physical_interface_mappings and
	 * physical_bridge_mappings); NULL or "" for none. */
	const char		*interface_mappings;
	const char		*bridge_mappings;
	/* state_dir is required. dhcp.metadata_route also puts
	 * NETCONV_METADATA_ADDR on every bridge with ports, where the
	 * metadata service (metadata.h) listens. */
	struct dhcp_config	 dhcp;
	/* Security groups and anti-spoofing (firewall.h) applied on every
	 * converge, after the links; false: no nft at all (tests of links
	 * and dnsmasq alone). */
	bool			 firewall;
	struct firewall_config	 fw;
	/* Appended to router namespace names (router.h); NULL: none. */
	const char		*router_tag;
};

#define NETCONV_METADATA_ADDR	"169.254.169.254/32"

struct netconv;

/* A converger; copies cfg, takes ownership of *linkp (set to NULL). NULL
 * with the error recorded (TS_EINVALID on a malformed mapping). */
struct netconv	*netconv_new(const struct netconv_config *cfg,
		    struct link **linkp);
void		 netconv_free(struct netconv **);

struct config;
/* netconv_new() with the agent's [network] options (opts.c) and host; the
 * dnsmasq state directory defaults to <state_path>/dhcp; an agent outside
 * the initial network namespace (a fake host) tags its router namespaces
 * with host. cfg is read
 * here only (values are copied). */
struct netconv	*netconv_new_from_config(const struct config *cfg,
		    const char *host, struct link **linkp);

/*
 * Converge to desired and fill *state (overwritten; the caller frees it
 * with codec_clear(&schema_msg_host_network_state, state)). A desired state
 * older than the one applied is ignored (logged; *state reports the current
 * one). Per-network failures are reported in *state, not as the return
 * value. -1 only when the message is refused (another host: TS_EINVALID)
 * or on ENOMEM.
 */
int	netconv_apply(struct netconv *, const struct msg_host_network *desired,
	    struct msg_host_network_state *state);

/* Converge again to the stored desired state (nothing before the first
 * apply) and fill *state as netconv_apply() does. */
int	netconv_tick(struct netconv *, struct msg_host_network_state *state);

/* The later rounds of the routers' gratuitous ARPs (router_announce()):
 * sends those due; the ms until the next one is due, -1 when none is
 * queued. The converger's thread, between converges. */
int64_t	netconv_announce(struct netconv *);

/* The desired state last applied (NULL: none yet); borrowed, valid until
 * the next netconv_apply() or netconv_free(). */
const struct msg_host_network *netconv_desired(const struct netconv *);

/* The generation last applied (0: none). */
uint64_t netconv_generation(const struct netconv *);

/* Health of the dnsmasq instances (common/health.h "dnsmasq"): down when
 * one that ran is gone (dhcp_dead()), up otherwise. Reads the dnsmasq
 * state directory only and the configuration, which never changes after
 * netconv_new(): safe on another thread than the converger's. */
void	netconv_dhcp_check(const struct netconv *);

#endif
