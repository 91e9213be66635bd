/*
 * driver: the agent's hypervisor driver. Everything the compute command
 * handler (agent/compute/compute.c) asks of the host goes through here: make a
 * guest exist from a spec, move it to a power state, reboot it, delete it,
 * list guests, read its console. The handler decides *what* to do (desired
 * vs actual state, dedup, generations); the driver only knows *how*. It
 * works on the agent's one libvirt connection (virt/virt.h), whose
 * virt_power_map() says what power state a domain is in.
 *
 * Virt types (the parts that differ are in virt/backend_test.c and
 * virt/backend_qemu.c):
 *   DRIVER_VIRT_TEST  libvirt's test driver (test:///default): domains live
 *                     in the libvirt library inside this process, no disks,
 *                     no console; the console log is synthetic (one line
 *                     per lifecycle event, kept in memory). Used by the
 *                     integration tests and the fleet simulator.
 *   DRIVER_VIRT_QEMU  qemu (TCG) and kvm guests: disks prepared under
 *   DRIVER_VIRT_KVM   <instances_path>/<uuid>/ from the image cache, domain
 *                     XML rendered from the spec, console log in
 *                     <instances_path>/<uuid>/console.log.
 *                     Options (cfg): [image] api_url (required unless
 *                     driver_opts.image_source is given), ca_file
 *                     (https), cache_dir (default
 *                     <instances_path>/_base), cache_grace;
 *                     [libvirt] images_type (qcow2 overlay | raw copy),
 *                     kernel_cmdline (direct kernel boot default);
 *                     [vnc] enabled, server_listen. A bad value fails
 *                     driver_new() with TS_EINVALID.
 *
 * Image references (qemu/kvm): a guest's root image, kernel and ramdisk
 * are referenced in the image cache by its UUID from the moment it is
 * ensured until it is deleted; driver_new() adds them again for every
 * managed domain (agent restart) from the owner record in its metadata,
 * and a thread of the qemu backend prunes unused cached images (idle
 * longer than cache_grace). Downloads use the command's image_token (an
 * image capability, bound to this host).
 *
 * Invariants:
 * - Every host-side object of a guest is named from its instance UUID: the
 *   libvirt domain has that UUID (and the spec's name, "instance-<uuid>"),
 *   files live in <instances_path>/<uuid>/, so a reconciler can trace and
 *   collect everything.
 * - The owner generation of a guest is stored in the domain's metadata
 *   (namespace DRIVER_XMLNS) when it is defined and read back by
 *   driver_guest_get()/driver_guests_list(), so a fenced (stale) guest can
 *   be recognised after an agent restart.
 * - Operations are idempotent: ensuring an existing guest, stopping a
 *   stopped one, deleting an absent one succeed without doing anything.
 *
 * Threads: a driver may be used from several threads at once, for
 * different guests (the caller serializes operations on one guest). Calls
 * may block for a long time (image downloads, graceful shutdown), so the
 * agent makes them from worker threads, never from its event loop.
 */
#ifndef TS_AGENT_DRIVER_H
#define TS_AGENT_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "virt/virt.h"

/* XML namespace of tinystack's domain metadata. */
#define DRIVER_XMLNS		"http://tinystack.org/xmlns/instance/1"
/* Prefix of every domain name tinystack defines ("instance-<uuid>"). */
#define DRIVER_NAME_PREFIX	"instance-"

struct config;
struct driver;
struct imgcache_source;

enum driver_virt_type {
	DRIVER_VIRT_TEST = 0,
	DRIVER_VIRT_QEMU,
	DRIVER_VIRT_KVM,
};

struct driver_opts {
	enum driver_virt_type	 virt_type;
	const char		*instances_path; /* <path>/<uuid>/ per guest */
	const char		*state_path;	/* the agent's own state */
	int			 shutdown_timeout; /* seconds a graceful shutdown
						   may take before the guest is
						   destroyed; 0 -> 60 */
	/* Borrowed for the driver's lifetime, may be NULL: options of
	 * particular virt types ([libvirt], [image] ...). */
	const struct config	*cfg;
	/* The agent's host name (as the controller knows it), sent as
	 * X-Tinystack-Host with image downloads: the image API accepts a
	 * command's capability only from the host it was minted for.
	 * Copied; NULL or "": none sent. */
	const char		*host;
	/* qemu/kvm: where image bytes come from; NULL: the controller's
	 * image API at [image] api_url, with each command's image_token
	 * (its image capability) and the host.
	 * Borrowed (with its arg) for the driver's lifetime; tests. */
	const struct imgcache_source *image_source;
};

/* One network interface of a guest (filled by the network service). */
struct driver_nic {
	const char	*port_id;	/* UUID */
	const char	*network_id;	/* UUID */
	const char	*mac;		/* "fa:16:3e:..." */
	const char	*bridge;	/* host bridge, NULL = driver default */
	unsigned	 mtu;		/* 0 = default */
};

/*
 * A block storage volume attached to a guest (instance_spec.volumes): an
 * iSCSI LUN that qemu reaches itself, as this host's initiator, with CHAP.
 * The password goes into a libvirt secret (usage type iscsi, usage id
 * "tinystack-chap-<attachment_id>", private) defined before the domain is
 * defined or the disk attached, and undefined when the disk is detached
 * or the guest deleted; it is never logged and never in a domain XML.
 */
struct driver_volume {
	const char	*volume_id;	/* UUID; the disk's <serial> */
	const char	*attachment_id;	/* UUID; names the secret */
	const char	*target_dev;	/* vdb .. vdz */
	const char	*portal;	/* "address:port" */
	const char	*iqn;		/* the volume's target */
	unsigned	 lun;
	const char	*initiator;	/* this host's iSCSI name */
	const char	*chap_user;	/* NULL or "": no CHAP */
	const char	*chap_secret;	/* never logged */
	int		 readonly;
	int		 boot;		/* boot_index 0: the root disk */
};

/* agent/virt/ only: spec's volumes as domxml renders them, into out
 * (DOMXML_VOLUMES_MAX entries; pointers borrowed from spec). -1
 * TS_EINVALID when there are too many. */
struct domxml_volume;
struct driver_spec;
int	driver_volumes_domxml(const struct driver_spec *,
	    struct domxml_volume *out);

/* agent/virt/ only: the host side of a NIC, the bridge named from the
 * network id (common/ifname.h, the name agent/net gives it) unless the
 * NIC names one, and the tap from the port id. -1 TS_EINVALID. */
struct driver_nic_host {
	char		bridge[16];
	char		tap[16];
};
int	driver_nic_host(const struct driver_nic *, struct driver_nic_host *);

/*
 * What a guest is made of. All pointers are borrowed for the duration of
 * the call that receives the spec. Optional strings are NULL when absent.
 */
struct driver_spec {
	char			 uuid[CODEC_UUID_LEN + 1];
	const char		*name;		/* domain name, "instance-<uuid>" */
	const char		*hostname;	/* guest host name */
	uint64_t		 generation;	/* owner generation (fencing) */
	const char		*project_id;
	const char		*user_id;
	/* flavor */
	const char		*flavor_name;
	unsigned		 vcpus;
	uint64_t		 memory_mb;
	uint64_t		 root_gb;
	uint64_t		 ephemeral_gb;
	uint64_t		 swap_mb;
	const struct ts_strmap	*extra_specs;	/* may be NULL */
	/* image */
	const char		*image_id;	/* Glance image UUID; NULL/"" = none */
	const char		*image_disk_format; /* "qcow2", "raw"...; NULL = ask */
	const char		*kernel_id;	/* image UUIDs for direct kernel boot */
	const char		*ramdisk_id;
	const char		*kernel_cmdline;
	/* What downloads are verified against (Glance os_hash_value, size;
	 * 0 = unknown) and the declared formats of an AMI's kernel/ramdisk
	 * images ("aki", "ari"). NULL/0 when absent. */
	const char		*image_sha512;
	uint64_t		 image_size;
	const char		*kernel_disk_format;
	const char		*kernel_sha512;
	uint64_t		 kernel_size;
	const char		*ramdisk_disk_format;
	const char		*ramdisk_sha512;
	uint64_t		 ramdisk_size;
	/* X-Auth-Token for the image API (the owner's short-lived token);
	 * NULL when the command carries none. Never logged. */
	const char		*image_token;
	/* guest data */
	const uint8_t		*user_data;
	size_t			 user_data_len;
	const char		*key_data;	/* OpenSSH public key */
	/* adminPass for the config drive only; NULL when the command has
	 * none. Never logged, never kept. */
	const char		*admin_pass;
	const struct ts_strmap	*metadata;	/* may be NULL */
	const struct driver_nic	*nics;
	size_t			 nnics;
	/* nics is the guest's whole NIC list (instance_ensure.sync_nics):
	 * driver_guest_ensure() hot-plugs and unplugs an existing guest's
	 * interfaces to match; 0: an existing guest's NICs are left alone. */
	int			 sync_nics;
	/* The volumes: in every definition rendered from the spec (create,
	 * re-definition, hard reboot). A boot volume replaces the image's
	 * root disk (then image_id may be absent). */
	const struct driver_volume *volumes;
	size_t			 nvolumes;
	/* volumes is the whole list (instance_ensure.sync_volumes): an
	 * existing guest's volume disks are attached and detached to match,
	 * by volume id; 0: left alone. */
	int			 sync_volumes;
};

/* A guest as the host has it. */
struct driver_guest {
	char		uuid[CODEC_UUID_LEN + 1];
	char		name[256];
	enum virt_power	power_state;
	uint64_t	generation;	/* from the metadata; 0 if none */
	int		managed;	/* defined by tinystack (metadata present) */
	unsigned	vcpus;
	uint64_t	memory_mb;
};

/* A driver on virt's libvirt connection (borrowed: virt must outlive the
 * driver). NULL with err set (TS_EUNAVAILABLE libvirt unreachable,
 * TS_EINVALID bad options). Strings are copied. */
struct driver	*driver_new(struct virt *, const struct driver_opts *);
void		 driver_free(struct driver **);
/* "test", "qemu", "kvm"; -1 TS_EINVALID for anything else. */
int		 driver_virt_type_parse(const char *, enum driver_virt_type *);

/*
 * Makes the guest exist (defined, disks prepared) without changing the
 * power state of an existing one; a new guest is left shut off. An
 * existing guest with a higher generation than spec->generation is
 * refused (TS_ECONFLICT: the caller's command is stale); a lower one is
 * updated to spec->generation. With spec->sync_nics the interfaces of an
 * existing guest are made equal to spec->nics by MAC: missing ones
 * attached, others detached (virDomainAttachDeviceFlags/
 * DetachDeviceFlags, CONFIG, and LIVE while it runs; the test driver,
 * which has no hot-plug, gets its definition replaced). With
 * spec->sync_volumes its volume disks likewise, by volume id (a live
 * detach is waited for, up to 30 s, before the disk's secret goes).
 * Errors: TS_EUNAVAILABLE (libvirt), TS_EIO,
 * TS_EINVALID (spec), TS_ECONFLICT.
 */
int	driver_guest_ensure(struct driver *, const struct driver_spec *);

/*
 * The MAC addresses of a guest's interfaces (lower case), as the reports
 * carry them: the running guest's (qemu/kvm), the definition's for the
 * test driver, which cannot hot-plug (driver_guest_ensure() re-defines
 * the domain instead). TS_ENOT_FOUND if absent, TS_EINVALID beyond max.
 */
int	driver_guest_macs(struct driver *, const char *uuid, char macs[][18],
	    size_t max, size_t *n);

/*
 * The volume ids of a guest's volume disks (the <serial>s of its network
 * disks), like driver_guest_macs(): the running guest's (qemu/kvm), the
 * definition's for the test driver. TS_ENOT_FOUND if absent, TS_EINVALID
 * beyond max.
 */
int	driver_guest_volumes(struct driver *, const char *uuid,
	    char ids[][37], size_t max, size_t *n);
/*
 * driver_guest_volumes() and, from the same read of its XML, the port of
 * the guest's VNC server when it runs (the first vnc <graphics> of its
 * live XML, as the host's reports have it: virt_guest.vnc_port) into
 * *vnc_port (may be NULL): 0 when it has none (not running, no VNC, the
 * test driver's definitions). What an answer to a command tells of the
 * guest's devices.
 */
int	driver_guest_devices(struct driver *, const char *uuid,
	    char ids[][37], size_t max, size_t *n, unsigned *vnc_port);

/*
 * Moves an existing guest to `want`: VIRT_POWER_RUNNING (start, resume a
 * paused guest, restore a suspended one), VIRT_POWER_SHUTDOWN (graceful
 * shutdown up to shutdown_timeout, then destroy; a suspended guest's saved
 * state is discarded), VIRT_POWER_PAUSED (running guests only: paused in
 * memory), VIRT_POWER_SUSPENDED (running or paused: state saved to disk,
 * guest stopped). Already there: 0. TS_ENOT_FOUND if the guest does not
 * exist, TS_ECONFLICT for an impossible move (pausing a shut-off guest).
 */
/*
 * The host side of a resize before the guest is re-defined with s (its new
 * generation and flavor; see compute.schema instance_ensure resize): mode
 * 1 (resize) and 3 (revert) shut a guest of an older generation off and
 * grow its root disk, keeping a copy (1), or put the copy back (3); a
 * guest that already has s's generation is done. 0 drops a copy left
 * (confirmed); 2 keeps it. The caller then ensures the guest with s.
 */
int	driver_guest_resize(struct driver *, const struct driver_spec *s,
	    int mode);
int	driver_guest_set_power(struct driver *, const char *uuid,
	    enum virt_power want);

/* Reboot a running guest: soft asks the guest OS (ACPI) and falls back to
 * a hard reboot after shutdown_timeout; hard stops it at once and starts
 * it again from the spec (the definition is rebuilt). A guest that is not
 * running is started. TS_ENOT_FOUND if absent. */
int	driver_guest_reboot(struct driver *, const struct driver_spec *,
	    int hard);

/* Nova's trigger_crash_dump: a non-maskable interrupt to the guest
 * (virDomainInjectNMI), which the guest OS turns into a crash dump when
 * configured to. A guest that is not running, or a hypervisor without the
 * call (libvirt's test driver), fails (TS_EINVALID); absent TS_ENOT_FOUND. */
int	driver_guest_inject_nmi(struct driver *, const char *uuid);

/* Destroy and undefine the guest (with its saved state and NVRAM) and the
 * CHAP secrets of its volume disks, remove
 * <instances_path>/<uuid>/, drop its image cache references and, for a
 * local qemu:///system, libvirt's /var/log/libvirt/qemu/<name>.log.
 * Absent: 0. */
int	driver_guest_delete(struct driver *, const char *uuid);

/*
 * Live-migrates the guest to the libvirtd at target_uri, peer to peer
 * (VIR_MIGRATE_LIVE|PEER2PEER|PERSIST_DEST|UNDEFINE_SOURCE), the migration
 * stream to target_address when given (else libvirt's choice from the
 * URI), the local disks copied whole with block (NON_SHARED_DISK: the
 * target needs no backing image). The target's definition carries
 * new_gen as its owner generation. Blocks until libvirt is done: 0 when
 * the guest runs on the target and is gone from here. TS_ENOT_FOUND,
 * TS_EUNAVAILABLE (libvirt; always for the test driver, which has no
 * peer), TS_EIO (the migration failed: the guest still runs here).
 */
int	driver_guest_migrate(struct driver *, const char *uuid,
	    uint64_t new_gen, const char *target_uri,
	    const char *target_address, int block,
	    const char *target_instances, const char *target_cache,
	    int target_backing, const char *image_id);

/* On the target, before a live migration: the guest's files outside
 * libvirt (backend_qemu_prepare(); fresh unless a domain of the guest is
 * defined here); *instances and *cache: this host's instances_path and
 * image cache (borrowed; NULL for the test driver, which needs nothing).
 * The source rewrites its own prefixes to them (target_instances,
 * target_cache of driver_guest_migrate()). *backing: the root disk is an
 * empty overlay over the spec's base image here (target_backing). */
int	driver_guest_migrate_prepare(struct driver *,
	    const struct driver_spec *, const char **instances,
	    const char **cache, int *backing);

/*
 * On a target, after its live migration failed or was aborted (or never
 * came): removes the instance directory that driver_guest_migrate_prepare()
 * made, with its image cache references, when it is marked as prepared at
 * least min_age_ms ago and no domain of uuid is defined here. 0 done or
 * nothing to do; -1 TS_ECONFLICT (a domain is defined: never its files;
 * or prepared too recently), TS_EUNAVAILABLE, TS_EIO.
 */
int	driver_guest_migrate_cleanup(struct driver *, const char *uuid,
	    int64_t min_age_ms);
/* The UUIDs (at most max, into out) of the instance directories marked as
 * prepared at least min_age_ms ago; files only (no libvirt call): the
 * caller leaves out its guests, and driver_guest_migrate_cleanup() checks
 * again. */
int	driver_guest_migrate_leftovers(struct driver *, int64_t min_age_ms,
	    char (*out)[37], size_t max, size_t *n);

/* Aborts the guest's running job (a live migration) here, its source:
 * the migration then fails and the guest keeps running here.
 * TS_ENOT_FOUND, TS_ECONFLICT (no job running). */
int	driver_guest_migrate_abort(struct driver *, const char *uuid);

/* State of one guest; TS_ENOT_FOUND if absent. */
int	driver_guest_get(struct driver *, const char *uuid,
	    struct driver_guest *);
/* Every guest of the host (tinystack's and others, see `managed`), sorted
 * by UUID. *out is owned by the caller (free()); NULL when *n is 0 is
 * allowed. */
int	driver_guests_list(struct driver *, struct driver_guest **out,
	    size_t *n);

/* The guest's console log: the last max_bytes bytes at most (0 = all, up
 * to an internal cap of 1 MiB), NUL-terminated, owned by the caller. An
 * existing guest without any output yields "". TS_ENOT_FOUND if absent. */
int	driver_console_get(struct driver *, const char *uuid,
	    size_t max_bytes, char **out, size_t *len);

/* The guest's hypervisor statistics (gueststats.h) into out, with
 * out->hypervisor (static) and out->config_drive; out's lists are owned by out
 * (gueststats_clear()). TS_ENOT_FOUND if absent. */
/*
 * Snapshot of uuid's root disk uploaded as the data of the queued image
 * image_id with token (the command's upload capability) to [image]
 * api_url: see driver.c for how the disk is copied. The guest ends in
 * the power state it had. TS_EUNAVAILABLE without an image API,
 * TS_ENOT_FOUND without the guest; the upload's errors
 * (imgcache_http_upload()).
 */
int	driver_guest_snapshot(struct driver *, const char *uuid,
	    const char *image_id, const char *token);
struct msg_guest_stats;
int	driver_guest_stats(struct driver *, const char *uuid,
	    struct msg_guest_stats *out);

#endif
