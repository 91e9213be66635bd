/*
 * linkrec: an in-memory kernel for link.h, for tests. It keeps links, VXLAN
 * flood entries and addresses like the kernel does (deleting a bridge
 * releases its ports, deleting a link drops its entries and addresses) and
 * logs every change as one line in `ip`/`bridge` command syntax:
 *
 *   link add tsb0123456789a type bridge mtu 1450
 *   link add tsv0123456789a type vxlan id 42 local 10.0.0.1 dstport 4789 nolearning mtu 1450
 *   link set tsv0123456789a master tsb0123456789a up
 *   fdb append 00:00:00:00:00:00 dev tsv0123456789a dst 10.0.0.2
 *   addr add 10.1.0.2/24 dev tsb0123456789a
 *   link del tsv0123456789a
 *
 * Queries are not logged. linkrec_inject() and linkrec_remove() change the
 * fake kernel behind the converger's back (an existing physical interface,
 * a hand-deleted bridge) without logging.
 */
#ifndef TS_LINKREC_H
#define TS_LINKREC_H

#include "link.h"

struct linkrec;

/* A new fake kernel and a converger over it. The converger owns the fake
 * (link_free() frees both); rec stays borrowed from it. NULL on ENOMEM. */
struct link	*linkrec_new(struct linkrec **rec);

/* Add a link as if it existed already (kind "" for a physical NIC). */
int		 linkrec_inject(struct linkrec *, const struct link_state *);
/* Delete a link silently; 0, or -1 (TS_ENOT_FOUND). */
int		 linkrec_remove(struct linkrec *, const char *name);
/* The next change of name (set) finds it gone, as when a link vanishes
 * between the converger's listing and its change (a guest's tap). */
void		 linkrec_vanish_next_set(struct linkrec *, const char *name);
/* The log so far ("" if empty), valid until the next change or reset. */
const char	*linkrec_text(const struct linkrec *);
void		 linkrec_reset(struct linkrec *);
/* The current state as sorted text (links, then fdb, then addresses), for
 * asserting what exists rather than what was done. Caller frees. */
char		*linkrec_dump(const struct linkrec *);

#endif
