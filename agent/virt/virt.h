/*
 * virt: the agent's view of its hypervisor through libvirt.
 *
 * One connection per agent, opened at start and reopened on failure
 * (libvirtd restarts are normal). Everything reported to the controller
 * about the host (capacity, CPU model, guests) comes from here, never from
 * configuration.
 */
#ifndef TS_AGENT_VIRT_H
#define TS_AGENT_VIRT_H

#include <stddef.h>
#include <stdint.h>

struct virt;

struct virt_host {
	char		hv_type[64];	/* "QEMU", "Test", ... (Nova style) */
	uint64_t	hv_version;	/* libvirt encoding: major*1e6+minor*1e3+micro */
	uint64_t	libvirt_version;
	char		cpu_model[256];
	char		cpu_arch[32];
	unsigned	vcpus;
	uint64_t	memory_mb;
	uint64_t	memory_mb_used;
	uint64_t	local_gb;	/* filesystem holding instances_path */
	uint64_t	local_gb_used;
};

/* Nova's power_state codes. */
enum virt_power {
	VIRT_POWER_NOSTATE = 0,
	VIRT_POWER_RUNNING = 1,
	VIRT_POWER_PAUSED = 3,
	VIRT_POWER_SHUTDOWN = 4,
	VIRT_POWER_CRASHED = 6,
	VIRT_POWER_SUSPENDED = 7,
};

struct virt_guest {
	char		uuid[37];
	char		name[256];
	const char	*state;		/* static string: running, shutoff, ... */
	enum virt_power	power_state;
	unsigned	vcpus;
	uint64_t	memory_mb;
};

/* Connects to uri (e.g. "qemu:///system", "test:///default"). instances_path
 * is where guest disks live; its filesystem is the host's local disk. Both
 * strings are copied. NULL with err set if libvirt cannot be reached. */
struct virt	*virt_open(const char *uri, const char *instances_path);
void		 virt_free(struct virt **);
/* Reconnects if the connection died; 0 if alive afterwards. */
int		 virt_ensure(struct virt *);
const char	*virt_uri(const struct virt *);	/* valid while virt lives */

int	virt_host_info(struct virt *, struct virt_host *);
/* *out is an owned array of *n guests (free() it), sorted by uuid. */
int	virt_guests_list(struct virt *, struct virt_guest **out, size_t *n);

#endif
