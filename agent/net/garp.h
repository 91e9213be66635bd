/*
 * garp: gratuitous ARP for addresses that came up on a router's external
 * side (floating IPs, the gateway address), so that the external network's
 * neighbours move to the new MAC at once (a floating IP that moved with
 * its guest to another host) instead of when their entry ages out or its
 * probes to the old MAC fail.
 *
 * As Neutron's l3 agent (ip_lib.send_ip_addr_adv_notif with
 * send_arp_for_ha = 3: `arping -U` then `arping -A`, three times, 2 s
 * apart, spaced beyond the kernel's neighbour locktime of 1 s): each round
 * sends an ARP request and an ARP reply, both broadcast, sender and target
 * address the announced one, the reply's target MAC its sender's (Linux
 * takes a reply as gratuitous only then), from the device's own MAC.
 * IPv4 only (IPv6 would be an unsolicited neighbour advertisement).
 *
 * Frames leave through an AF_PACKET socket opened inside the device's
 * network namespace (/run/netns/NAME, as `ip -n` uses it) by a short-lived
 * thread of its own: setns() is per thread, so the caller's thread never
 * leaves its namespace; the socket stays bound to the namespace it was
 * made in. It has protocol 0: it receives nothing.
 *
 * A queue with a timer: garp_add() schedules the rounds, garp_run() sends
 * those due and says when the next is; one round costs a thread and a
 * socket per namespace and two sendto() per address, never a wait.
 *
 * Threads: a struct garp is used by one thread at a time; the hook is
 * process-wide (tests).
 */
#ifndef TS_GARP_H
#define TS_GARP_H

#include <stddef.h>
#include <stdint.h>

#include "ifname.h"

#define GARP_ROUNDS		3
#define GARP_INTERVAL_MS	2000
#define GARP_FRAME_LEN		60	/* ETH_ZLEN: Ethernet + ARP, padded */
#define GARP_NS_MAX		64
#define GARP_QUEUE_MAX		4096
#define GARP_NETNS_DIR		"/run/netns"

enum garp_op {
	GARP_REQUEST = 1,	/* ARPOP_REQUEST, `arping -U` */
	GARP_REPLY = 2,		/* ARPOP_REPLY, `arping -A` */
};

/* The frame announcing ip (network order) from mac, into out
 * (GARP_FRAME_LEN bytes). */
void	garp_frame(uint8_t *out, const uint8_t mac[6], const uint8_t ip[4],
	    enum garp_op op);

struct garp;

/* NULL with the error recorded (TS_ENOMEM). */
struct garp	*garp_new(void);
void		 garp_free(struct garp **);

/*
 * Schedule GARP_ROUNDS announcements of ip (IPv4 text, no prefix) on dev
 * in namespace ns ("": the caller's), the first due at now_ms; one already
 * queued for the same ns, dev and ip starts over. -1 recorded: TS_EINVALID
 * (not IPv4, a bad name), TS_ECONFLICT (GARP_QUEUE_MAX queued).
 */
int	garp_add(struct garp *, const char *ns, const char *dev,
	    const char *ip, int64_t now_ms);

/* Forget what is queued for ns and dev and ip (dev or ip NULL: any): the
 * address, device or namespace is gone, and announcing an address that
 * moved elsewhere would pull its traffic back. */
void	garp_cancel(struct garp *, const char *ns, const char *dev,
	    const char *ip);

/*
 * Send the rounds due at now_ms. Returns the ms until the next one is due,
 * or -1 when nothing is queued. A namespace or device that cannot be
 * reached drops its announcements (logged); a frame that fails to leave
 * costs its round (logged).
 */
int64_t	garp_run(struct garp *, int64_t now_ms);

/* Announcements queued (tests, logs). */
size_t	garp_pending(const struct garp *);

/*
 * Tests: while a hook is set, garp_run() calls it once per round instead
 * of sending (round 1..GARP_ROUNDS); -1 counts as a failed send. arg is
 * borrowed until the hook is replaced (NULL: send for real).
 */
typedef int (*garp_hook_fn)(const char *ns, const char *dev, const char *ip,
    int round, void *arg);
void	garp_set_hook(garp_hook_fn fn, void *arg);

#endif
