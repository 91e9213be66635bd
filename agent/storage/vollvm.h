/*
 * vollvm: the LVM backend of volstore.h: logical volumes volume-<uuid>
 * and snapshots _snapshot-<uuid> (Cinder's names) in one volume group,
 * through lvcreate/lvextend/lvremove/lvs/vgs run by common/proc, the
 * state read from lvs --reportformat json.
 *
 * activation false (the [storage] lvm_activation option): every command
 * gets --config global{activation=0}, and lvcreate -an -Zn, so LVM edits
 * its metadata only and never asks device-mapper for anything (which
 * these machines lack). Such LVs have no device node: they cannot be
 * filled, exported or wiped, and the wipe before lvremove is skipped
 * (their extents were never written through this host); snapshots are
 * refused (LVM makes none without device-mapper).
 */
#ifndef TS_AGENT_VOLLVM_H
#define TS_AGENT_VOLLVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/volstore.h"

#define VOLLVM_TIMEOUT_MS	120000
#define VOLLVM_SNAP_PREFIX	"_snapshot-"

struct vollvm_conf {
	const char	*vg;
	bool		 activation;
};

/* True if name is a usable volume group name (LVM's characters). */
bool	vollvm_vg_valid(const char *name);
/* /dev/<vg>/volume-<id> or /dev/<vg>/_snapshot-<id>. */
int	vollvm_path(const struct vollvm_conf *, const char *id, bool snapshot,
	    char *buf, size_t len);
int	vollvm_list(const struct vollvm_conf *, struct volstore_item **items,
	    size_t *n);
int	vollvm_capacity(const struct vollvm_conf *, uint64_t *total_b,
	    uint64_t *free_b);
int	vollvm_create(const struct vollvm_conf *, const char *id,
	    uint64_t size_gb);
int	vollvm_extend(const struct vollvm_conf *, const char *id,
	    uint64_t size_gb);
/* Wipes (active LVs only: zeroes over size bytes) and removes; an LV
 * that does not exist: 0. */
int	vollvm_remove(const struct vollvm_conf *, const char *id,
	    bool snapshot, uint64_t size);
/* A snapshot LV of size_gb (the origin's size: it can never overflow). */
int	vollvm_snap_create(const struct vollvm_conf *, const char *snap_id,
	    const char *vol_id, uint64_t size_gb);

#endif
