/*
 * virt: the agent's view of its hypervisor through libvirt, and the only
 * owner of the agent's libvirt connection.
 *
 * One connection per agent, opened at start and reopened on failure
 * (libvirtd restarts are normal); the guest life cycle (virt/driver.c) and
 * the reports (agent/main.c) share it. Everything reported to the
 * controller about the host (capacity, CPU model, guests) comes from here,
 * never from configuration.
 *
 * Life-cycle events (optional, the agent's): libvirt's default event loop
 * runs in a thread of this module, and a callback on the connection is
 * told of every domain life-cycle event (a guest that stopped, crashed,
 * was destroyed behind the agent's back ...). The loop also drives the
 * keepalive of a remote connection. The callback is registered again on
 * every new connection.
 *
 * Power states: virt_power_map() is the one translation of a libvirt
 * domain state into Nova's power_state, for heartbeats and for the guest
 * life cycle alike.
 *
 * Only the files of agent/virt/ include <libvirt/...>; they get the
 * connection with virt_conn().
 *
 * Threads: every function may be called from any thread.
 */
#ifndef TS_AGENT_VIRT_H
#define TS_AGENT_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virt;
/* libvirt's connection and domain (<libvirt/libvirt.h>: virConnectPtr,
 * virDomainPtr), for the modules of agent/virt/ only. */
struct _virConnect;
struct _virDomain;

/*
 * Told that guests may have changed: called from the event thread for
 * every life-cycle event, and from the thread that reconnected after a new
 * connection replaced a dead one (events may have been missed meanwhile).
 * Must not block and must not call back into virt (writing a byte to a
 * pipe is the intended use).
 */
typedef void	(*virt_notify_fn)(void *arg);

struct virt_opts {
	const char	*uri;		/* "qemu:///system", "test:///default" */
	const char	*instances_path; /* its filesystem: the local disk */
	/* NULL: no events and no event thread (tests, tools). Otherwise the
	 * event loop is set up before the connection is opened (it must,
	 * for keepalive); one virt with events per process. */
	virt_notify_fn	 notify;
	void		*notify_arg;
};

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

/* Nova's power_state codes (nova/compute/power_state.py). */
enum virt_power {
	VIRT_POWER_NOSTATE = 0,
	VIRT_POWER_RUNNING = 1,
	VIRT_POWER_PAUSED = 3,
	VIRT_POWER_SHUTDOWN = 4,
	VIRT_POWER_CRASHED = 6,
	VIRT_POWER_SUSPENDED = 7,
};

#define VIRT_MACS_MAX	32	/* instance_spec.nics, guest.macs */
#define VIRT_VOLUMES_MAX 16	/* instance_spec.volumes, guest.volumes */

struct virt_guest {
	char		uuid[37];
	char		name[256];
	const char	*state;		/* static string: running, shutoff, ... */
	enum virt_power	power_state;
	unsigned	vcpus;
	uint64_t	memory_mb;
	/* The MACs of its interfaces: the running guest's, the definition's
	 * for the test driver (no hot-plug there). has_macs 0: unknown (no
	 * XML, or more than VIRT_MACS_MAX). */
	int		has_macs;
	size_t		nmacs;
	char		macs[VIRT_MACS_MAX][18];
	/* The volume ids of its volume disks, from the same XML; has_volumes
	 * 0: unknown. */
	int		has_volumes;
	size_t		nvolumes;
	char		volumes[VIRT_VOLUMES_MAX][37];
	/* The owner generation of its metadata; 0: none or unknown. */
	uint64_t	generation;
	/* Its VNC server's port (from the running domain's XML); 0: none. */
	unsigned	vnc_port;
};

/* Connects (strings copied) and, with opts->notify, starts the event
 * thread. NULL with err set: TS_EUNAVAILABLE if libvirt cannot be reached,
 * TS_EINTERNAL if the event loop cannot be set up. */
struct virt	*virt_open(const struct virt_opts *);
/* Stops the events, closes the connection. Accepts NULL; clears *vp. */
void		 virt_free(struct virt **);
/* Reconnects if the connection died (and registers the event callback
 * where it is missing); 0 if connected afterwards, else -1 with err set. */
int		 virt_ensure(struct virt *);
const char	*virt_uri(const struct virt *);	/* valid while virt lives */
/* Connections reopened after one was found lost; any thread. */
uint64_t	 virt_reconnects(struct virt *);
/* True for a URI of libvirt's test driver, in-process ("test:///...") or
 * served by a libvirtd ("test+unix://...", any transport). */
bool		 virt_uri_is_test(const char *uri);

/*
 * agent/virt/ only: the connection, reconnected if needed, with a
 * reference of the caller's (virConnectClose() it when done): a reconnect
 * by another thread never closes a connection in use. NULL with err set
 * (TS_EUNAVAILABLE).
 */
struct _virConnect *virt_conn(struct virt *);
/* agent/virt/ only: libvirt's last error message of this thread, never
 * NULL. */
const char	*virt_last_error(void);

/*
 * The Nova power state of a libvirt domain state (virDomainState) with
 * its reason (the virDomain*Reason of that state) and whether the domain
 * has a managed-save image; *word (may be NULL) gets a static name of the
 * state ("running", "blocked", "paused", "shutoff", "crashed",
 * "suspended", "unknown"). A shut-off domain (SHUTOFF, or SHUTDOWN: on its
 * way there) with a managed-save image is SUSPENDED: that image is what
 * the agent's suspend leaves (virDomainManagedSave), what a start restores
 * and what power-off discards, so Nova's "suspended" is exactly "there is
 * a saved state to resume". The reason is not consulted: it tells how the
 * domain got there, the image whether a state is there to resume.
 * PMSUSPENDED is SUSPENDED too, BLOCKED is RUNNING, anything unknown
 * NOSTATE.
 */
enum virt_power	 virt_power_map(int state, int reason, int managed_save,
		    const char **word);
/* virt_power_map() of a domain as libvirt has it now (NOSTATE if libvirt
 * cannot tell). agent/virt/ only. */
enum virt_power	 virt_domain_power(struct _virDomain *, const char **word);

int	virt_host_info(struct virt *, struct virt_host *);
/* *out is an owned array of *n guests (free() it), sorted by uuid. */
int	virt_guests_list(struct virt *, struct virt_guest **out, size_t *n);

#endif
