/*
 * tgt: this host's iSCSI exports through its own tgtd.
 *
 * Supervision: a thread runs `tgtd -f -C <control port> --iscsi
 * portal=<addr:port>` through common/proc and starts it again when it
 * dies, after a bounded backoff (100 ms doubling to 5 s; back to 100 ms
 * once a tgtd ran 30 s). A tgtd already answering on the control port
 * (the agent restarted while its tgtd kept serving) is adopted: it is
 * watched every second and replaced only when it stops answering, so an
 * agent restart never cuts the guests' sessions. tgt_free() stops the
 * tgtd this process started (its targets deleted, then
 * `tgtadm --op delete --mode system`; SIGKILL to that child if it will
 * not go). Each start calls the notify hook, so the owner re-converges.
 *
 * Converging: the targets are read back with `tgtadm --op show --mode
 * target` (tgt_show_parse) and made to match: one target per exported
 * volume named TGT_IQN_PREFIX<uuid>, LUN 1 backed by the volume's file or
 * device (bstype rdwr), per export a CHAP account bound to the target and
 * the initiator's name in the target's ACL; accounts and ACL entries not
 * wanted are removed; a target of a volume the caller names as unexported
 * is deleted. Targets the caller does not name are left alone.
 *
 * Fencing: tgtd checks the ACL at login only, so taking an initiator off
 * a target's ACL leaves its open sessions serving. Every session (I_T
 * nexus) of a wanted target whose initiator the caller does not list is
 * therefore closed (`tgtadm --op delete --mode conn`) after the ACL is
 * changed, so its reconnect is refused. This is level-triggered: it
 * follows what tgtd shows, not the unbind, so an agent restarted between
 * the two still closes the session.
 *
 * Threads: tgt_converge() from one thread (the storage worker); the
 * supervisor is internal.
 */
#ifndef TS_AGENT_TGT_H
#define TS_AGENT_TGT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TGT_IQN_PREFIX		"iqn.2010-10.org.openstack:volume-"
#define TGT_PORTAL_DEFAULT	"127.0.0.1:3260"
#define TGT_CONTROL_DEFAULT	3260
#define TGT_CONTROL_MAX		32767	/* tgtd refuses larger -C values */
#define TGT_MAX_ACL		16
#define TGT_NAME_MAX		256
#define TGT_MAX_NEXUS		256	/* sessions read per target */
#define TGT_MAX_CONN		8	/* connections read per session */

/* One export of a volume: who may log in, with which CHAP account. */
struct tgt_acl {
	const char	*initiator;
	const char	*user;
	const char	*secret;	/* never logged */
};

/* One volume the caller names. nacl == 0: not exported (its target, if
 * any, is deleted). ok and msg are the result. */
struct tgt_want {
	char			 iqn[TGT_NAME_MAX];
	const char		*path;		/* file or block device */
	const struct tgt_acl	*acls;
	size_t			 nacl;
	bool			 ok;
	char			 msg[256];
};

/* A session (I_T nexus) of a target as tgtadm shows it. */
struct tgt_nexus {
	uint64_t	 sid;
	char		 initiator[TGT_NAME_MAX];
	uint32_t	 cid[TGT_MAX_CONN];
	size_t		 ncid;
};

/* A target as tgtadm shows it. */
struct tgt_target {
	int		 tid;
	char		 name[TGT_NAME_MAX];
	char		 lun1[4096];	/* backing store of LUN 1; "" none */
	char		*accounts[TGT_MAX_ACL];
	size_t		 naccounts;
	char		*acl[TGT_MAX_ACL];
	size_t		 nacl;
	struct tgt_nexus *nexus;	/* owned; at most TGT_MAX_NEXUS */
	size_t		 nnexus;
};

/* Parses `tgtadm --op show --mode target` output. *out owned: free with
 * tgt_targets_free(). */
int	tgt_show_parse(const char *text, struct tgt_target **out, size_t *n);
void	tgt_targets_free(struct tgt_target **, size_t n);

struct tgt;

typedef void (*tgt_notify_fn)(void *arg);

/* portal "addr:port" (literal IPv4, or [IPv6]:port), control port
 * 1..65535. Nothing runs until tgt_start(). NULL with err set. */
struct tgt	*tgt_new(const char *portal, int control_port);
/* Starts the supervisor (and with it tgtd); notify(arg) is called from
 * the supervisor at every start or adoption of a tgtd (not yet ready to
 * answer: the caller retries). */
int		 tgt_start(struct tgt *, tgt_notify_fn notify, void *arg);
void		 tgt_free(struct tgt **);
const char	*tgt_portal(const struct tgt *);
/* How many times this process started tgtd. */
uint64_t	 tgt_starts(struct tgt *);

/* Makes the targets of want[0..n) as they say (see the header); each
 * want's ok/msg says how it went. -1 (TS_EUNAVAILABLE) when tgtd does not
 * answer: nothing was done. */
int	tgt_converge(struct tgt *, struct tgt_want *want, size_t n);

#endif
