/*
 * volfile: the file backend of volstore.h: sparse files named
 * volume-<uuid> and snapshot-<uuid> in one directory (0600 files). The
 * size, extend and removal work through system calls on the file; a
 * snapshot is a copy (a reflink where the file system can, otherwise
 * cp --sparse=always) through common/proc.
 */
#ifndef TS_AGENT_VOLFILE_H
#define TS_AGENT_VOLFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/volstore.h"

/* <dir>/volume-<id> or <dir>/snapshot-<id>. */
int	volfile_path(const char *dir, const char *id, bool snapshot,
	    char *buf, size_t len);
int	volfile_list(const char *dir, struct volstore_item **items,
	    size_t *n);
int	volfile_capacity(const char *dir, uint64_t *total_b,
	    uint64_t *free_b);
/* A sparse file of bytes; TS_ECONFLICT if it exists. */
int	volfile_create(const char *dir, const char *id, uint64_t bytes);
/* Grows (never shrinks) the volume to bytes. */
int	volfile_extend(const char *dir, const char *id, uint64_t bytes);
/* Punches out every block, truncates to 0, then unlinks; absent: 0. */
int	volfile_remove(const char *dir, const char *id, bool snapshot);
/* cp --reflink=auto --sparse=always of the volume to the snapshot. */
int	volfile_snap_create(const char *dir, const char *snap_id,
	    const char *vol_id);

#endif
