/*
 * gueststats: a guest's hypervisor statistics for os-server-diagnostics,
 * read from libvirt each time they are asked (nothing is kept): the
 * domain's info (state, memory, vCPUs), per-vCPU CPU time, block stats of
 * every <disk> target and interface stats of every <interface> (looked up
 * by MAC). A counter libvirt cannot give for this guest (a vCPU time of a
 * guest that is not running, a driver without block stats) is left out,
 * as Nova's libvirt driver does.
 */
#ifndef TS_AGENT_VIRT_GUESTSTATS_H
#define TS_AGENT_VIRT_GUESTSTATS_H

#include <libvirt/libvirt.h>

#include "msg_gen.h"

/* Fill out's state, memory and cpus/disks/nics lists (owned by out:
 * gueststats_clear()). uuid, in_reply_to, found, hypervisor and
 * config_drive are the caller's. */
int	gueststats_fill(virDomainPtr, struct msg_guest_stats *out);
/* Free what gueststats_fill() allocated; out may be half filled. */
void	gueststats_clear(struct msg_guest_stats *out);

#endif
