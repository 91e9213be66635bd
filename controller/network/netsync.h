/*
 * netsync: the controller half of the network dataplane protocol
 * (schemas/network.schema, DESIGN.md decision 10). For every host it
 * derives, from the network records in the store, the host_network message
 * that host must have, and keeps sending it until the host's agent reports
 * that generation applied.
 *
 * Derivation (netsync_sync()), from whatever wrote the records (the
 * Networking API, tinystack-manage, a test), for every registered host
 * (hypervisor records) and every host a port is bound to; a host without
 * ports gets an empty state, so what left it while the controller was down
 * leaves it too:
 * - a host's networks are those with a port bound to it (binding_host_id,
 *   ports owned by "network:*" aside), in id order, with their segment and
 *   MTU; a VXLAN network lists as vxlan_peers the underlay addresses
 *   (hypervisor tunnel_ip, from the agents' hellos) of the other hosts with
 *   ports on it, sorted;
 * - the subnets of those networks; a subnet with DHCP gets as dhcp_address
 *   the address of the host's DHCP port in it;
 * - the host's ports (MAC, fixed IPs, hostname: the compute hook's answer
 *   for the port's device, else the port's name if it is a valid host
 *   name, else "host-<ip with dashes>").
 * DHCP is distributed: every (network, host) pair with ports and a DHCP
 * subnet gets its own Neutron DHCP port (device_owner network:dhcp,
 * device_id "dhcp-<host>", bound to the host) allocated through ipam when
 * the first port lands there, and deleted when the last one leaves. Each
 * such change is its own store_write() that re-checks its reason inside the
 * transaction, so a concurrent API write cannot make it wrong.
 *
 * A host's message carries a generation that grows whenever its content
 * changes (the encoded body is compared with the last one). The
 * generations live in memory only: after a controller restart an agent
 * that applied a higher one answers with it, and the host's generation
 * moves past it, so the agent never ignores the controller for good.
 *
 * Sending is level-triggered, as the compute reconciler: a host whose
 * reported applied generation differs from the desired one is sent the
 * message again (back-off 1 s * 2^n, at most 60 s); a hello resets the
 * back-off and sends at once; a report equal to the desired generation
 * stops the re-sends. host_network_state reports are accepted only for the
 * host they came from (the fleet authenticated it); per-network failures
 * are logged when they change, not on every report.
 *
 * Threads: everything runs on the controller's bus thread (its tick and
 * the fleet's hooks); messages leave with bus_send(). The one exception is
 * netsync_changed(), which the API's and compute's threads call after
 * their commits: it only sets an atomic flag the tick reads.
 */
#ifndef TS_CONTROLLER_NETSYNC_H
#define TS_CONTROLLER_NETSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

struct bus;
struct config;
struct codec_envelope;
struct fleet_hooks;
struct store;
struct netsync;

/* Rescan of the store when nothing said it changed (records written by
 * another process, e.g. tinystack-manage). */
#define NETSYNC_RESCAN_MS	2000
#define NETSYNC_BACKOFF_MIN_MS	1000
#define NETSYNC_BACKOFF_MAX_MS	60000

/* The DHCP port of (network, host): device_owner and device_id prefix. */
#define NETSYNC_DHCP_OWNER	"network:dhcp"
#define NETSYNC_DHCP_DEVICE	"dhcp-"

/*
 * A syncer on the store and bus (borrowed: both outlive it); cfg's
 * [network] options give the MAC allocation of the DHCP ports
 * (ipam_conf_new()); controller_host is the sender of the messages.
 * NULL with err set.
 */
struct netsync	*netsync_new(const struct config *cfg, struct store *,
		    struct bus *, const char *controller_host);
void		 netsync_free(struct netsync **);

/*
 * The hostname of a port's device, supplied by compute (the instance's
 * hostname for device_id = the server's id): writes a NUL-terminated name
 * to out (len bytes) and returns 0, or -1 if it has none. Called on the
 * bus thread during netsync_sync(). fn NULL removes the hook.
 */
typedef int (*netsync_hostname_fn)(const char *device_id, char *out,
		    size_t len, void *arg);
void		 netsync_set_hostname(struct netsync *, netsync_hostname_fn,
		    void *arg);

/* The hooks to add to the fleet (fleet_add_hooks()): hellos and
 * host_network_state reports. */
void		 netsync_fleet_hooks(struct netsync *, struct fleet_hooks *);

/* Network records changed: derive again at the next tick (the API and
 * compute call it after a commit, through network_changed(); without it
 * the change is seen within NETSYNC_RESCAN_MS). Any thread. */
void		 netsync_changed(struct netsync *);
/* Whether a change waits for the next derivation (1) or not (0). Any
 * thread. */
int		 netsync_pending(struct netsync *);
/* An eventfd netsync_changed() writes, for the bus thread's poll set:
 * readable means call netsync_woken(). Valid until netsync_free(). */
int		 netsync_wake_fd(const struct netsync *);
/* Bus thread: derive and send now if something changed, at most once per
 * NETSYNC_WAKE_GAP_MS (the tick takes what a burst leaves over). */
void		 netsync_woken(struct netsync *, int64_t now_ms);
#define NETSYNC_WAKE_GAP_MS	100

/* Derive every host's message now (allocating and releasing DHCP ports
 * first) and bump the generations of those that changed. -1 with err set
 * if the store could not be read; the previous messages stay. */
int		 netsync_sync(struct netsync *, int64_t now_ms);
/* Send what is due (new generations, re-sends whose back-off expired). */
void		 netsync_send_due(struct netsync *, int64_t now_ms);
/* Once a second: netsync_sync() when something changed or the rescan
 * interval passed, then netsync_send_due(). */
void		 netsync_tick(struct netsync *, int64_t now_ms);

/* An agent said hello (its dataplane state is unknown): send its message
 * at once (if one was derived; else the next tick derives and sends it)
 * and derive again at the next tick. Also what the fleet hook does. */
void		 netsync_hello(struct netsync *, const char *host,
		    int64_t now_ms);
/* A message from host's agent (the fleet's message hook): 1 if it was a
 * host_network_state (handled), 0 if not ours. */
int		 netsync_agent_msg(struct netsync *, const char *host,
		    struct codec_envelope *env);

/* The desired message of a host as of the last netsync_sync() (borrowed:
 * valid until the next one), NULL if the host is unknown. */
const struct msg_host_network *netsync_desired(struct netsync *,
		    const char *host);
/* The generation host's agent last reported applied (0: none). */
uint64_t	 netsync_applied(struct netsync *, const char *host);

/* Whether a string is a valid DNS host name (RFC 1123 labels of letters,
 * digits and '-', each 1-63 characters, neither starting nor ending with
 * '-', 253 characters at most). */
int		 netsync_hostname_valid(const char *);

#endif
