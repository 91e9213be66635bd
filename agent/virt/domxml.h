/*
 * domxml: the libvirt domain XML of a guest, rendered from a spec: all of
 * the agent's domain XML is made here (qemu/kvm below; the test driver's
 * with domxml_build_test()).
 *
 * The agent validates everything it renders a second time, whatever the
 * controller checked (security-and-reliability invariant 3): every string
 * is checked against the narrow shape its element needs (UUIDs, names,
 * absolute paths without control characters, MAC addresses, interface
 * names, IP literals) and XML-escaped on output anyway. Disk formats are
 * stated explicitly on every disk (never probed: invariant 1).
 *
 * What a guest gets (Nova's libvirt driver is the model):
 *   - machine "pc" (or the spec's), ACPI + APIC, UTC clock with Nova's
 *     timers, on_poweroff/on_crash destroy, on_reboot restart;
 *   - host-model CPU for kvm, qemu's default CPU for TCG;
 *   - SMBIOS "OpenStack Compute" system info with the instance UUID as
 *     serial (cloud-init's OpenStack detection looks for it);
 *   - direct kernel boot when a kernel is given, else boot from the first
 *     disk;
 *   - disks in spec order: file-backed, driver qemu with the given format,
 *     optional cache mode, read-only for cdroms;
 *   - bridged NICs (virtio unless told otherwise) with fixed MAC, optional
 *     tap name and MTU;
 *   - serial port 0 as a pty whose output qemu logs to console_log through
 *     virtlogd (append='on': the log keeps the boots before a stop/start
 *     or a soft reboot, which restarts qemu; virtlogd rotates it at its
 *     max_size, so it stays bounded), and a console on it;
 *   - VNC on an automatic port bound to vnc_listen (no graphics if NULL);
 *   - a virtio memory balloon;
 *   - <metadata> with tinystack's owner record (namespace DOMXML_NS): the
 *     owner generation, project, user, flavor, image (and kernel/ramdisk
 *     image) ids and display name, so
 *     every domain can be traced to its owner (invariant 8) and fenced by
 *     generation (invariant 5).
 *
 * Output is deterministic (golden tests): the same spec gives the same
 * bytes.
 */
#ifndef TS_AGENT_DOMXML_H
#define TS_AGENT_DOMXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Namespace of the metadata element; equal to driver.h's DRIVER_XMLNS
 * (domxml_test checks). */
#define DOMXML_NS		"http://tinystack.org/xmlns/instance/1"
#define DOMXML_NS_PREFIX	"ts"
/* Default domain name: prefix + the full instance UUID. */
#define DOMXML_NAME_PREFIX	"instance-"

#define DOMXML_NAME_MAX		128
#define DOMXML_PATH_MAX		4095
#define DOMXML_CMDLINE_MAX	2047	/* x86 COMMAND_LINE_SIZE - 1 */
#define DOMXML_TEXT_MAX		255	/* metadata strings */
#define DOMXML_VCPUS_MAX	256
#define DOMXML_MEMORY_MB_MAX	(16u * 1024 * 1024)	/* 16 TiB */
#define DOMXML_DISKS_MAX	26
#define DOMXML_NICS_MAX		32	/* instance_spec.nics */
#define DOMXML_IFNAME_MAX	15	/* IFNAMSIZ - 1 */
#define DOMXML_VOLUMES_MAX	16	/* instance_spec.volumes */
#define DOMXML_ISCSI_NAME_MAX	223	/* RFC 3720 3.2.6.1 */
#define DOMXML_LUN_MAX		16383
/* Usage id of the libvirt secret (usage type iscsi) holding the CHAP
 * password of one attachment: prefix + the attachment UUID. Every secret
 * of this prefix is tinystack's (the driver collects those no domain
 * uses). */
#define DOMXML_SECRET_PREFIX	"tinystack-chap-"

enum domxml_virt {
	DOMXML_VIRT_QEMU = 0,	/* TCG */
	DOMXML_VIRT_KVM,
};

enum domxml_bus {
	DOMXML_BUS_VIRTIO = 0,	/* targets vda, vdb, ... */
	DOMXML_BUS_IDE,		/* hda .. hdd */
	DOMXML_BUS_SATA,	/* sda, sdb, ... */
	DOMXML_BUS_SCSI,	/* sda, ... (needs a virtio-scsi controller:
				   added when any disk uses it) */
};

enum domxml_device {
	DOMXML_DEVICE_DISK = 0,
	DOMXML_DEVICE_CDROM,	/* always read-only */
};

struct domxml_disk {
	const char		*path;		/* absolute */
	const char		*format;	/* qemu driver: "raw", "qcow2" */
	enum domxml_device	 device;
	enum domxml_bus		 bus;
	/* "vda", "hdc", ...: must match the bus's prefix. NULL: the next
	 * free name of that prefix, in spec order. */
	const char		*target;
	/* "none", "writethrough", "writeback", "directsync", "unsafe";
	 * NULL: libvirt's default. ("none" needs O_DIRECT: not on tmpfs.) */
	const char		*cache;
	bool			 readonly;
	const char		*serial;	/* [A-Za-z0-9_-]{1,20}; NULL none */
};

struct domxml_nic {
	const char	*mac;		/* "52:54:00:12:34:56", unicast */
	const char	*bridge;	/* Linux bridge to plug into */
	const char	*target;	/* tap name; NULL: libvirt picks vnetN */
	const char	*model;		/* virtio (NULL), e1000, rtl8139 */
	unsigned	 mtu;		/* 0: not set; else 68..65535 */
};

/*
 * A block storage volume reached over iSCSI by qemu itself (libiscsi): a
 * <disk type='network'> on the virtio bus, raw, cache none, with the
 * volume id as its <serial> (how the agent finds it again in a domain's
 * XML, and how the guest sees it: /dev/disk/by-id/virtio-<first 20>). The
 * CHAP password is never in the XML: <auth> names the libvirt secret of
 * usage DOMXML_SECRET_PREFIX + attachment_id, which the driver defines.
 */
struct domxml_volume {
	const char	*volume_id;	/* UUID */
	const char	*attachment_id;	/* UUID */
	const char	*target;	/* vdb .. vdz */
	/* "a.b.c.d:port", "[v6]:port" or "hostname:port" */
	const char	*portal;
	const char	*iqn;		/* iqn.* / eui.* target name */
	unsigned	 lun;		/* 0..DOMXML_LUN_MAX */
	const char	*initiator;	/* this host's iSCSI name */
	const char	*chap_user;	/* NULL or "": no <auth> */
	bool		 readonly;
	bool		 boot;		/* the root disk: boot order 1 */
};

/* All pointers are borrowed for the duration of domxml_build(). Optional
 * strings are NULL when absent. */
struct domxml_spec {
	const char		*uuid;		/* canonical lowercase UUID */
	const char		*name;		/* NULL: "instance-<uuid>" */
	enum domxml_virt	 virt;
	unsigned		 vcpus;		/* 1..DOMXML_VCPUS_MAX */
	uint64_t		 memory_mb;	/* 1..DOMXML_MEMORY_MB_MAX */
	const char		*machine;	/* NULL: "pc" */

	/* Direct kernel boot (all three optional; initrd and cmdline only
	 * with a kernel). */
	const char		*kernel;
	const char		*initrd;
	const char		*cmdline;

	const struct domxml_disk *disks;
	size_t			 ndisks;
	const struct domxml_nic	*nics;
	size_t			 nnics;
	/* Targets must not collide with the disks'; local disks without a
	 * target get names the volumes do not use. With a boot volume there
	 * is no <boot dev='hd'/>: the volume's boot order decides. */
	const struct domxml_volume *volumes;
	size_t			 nvolumes;

	const char		*console_log;	/* absolute; NULL: pty only */
	const char		*vnc_listen;	/* IP literal; NULL: no VNC */

	/* Owner record for <metadata>. generation >= 1. The image ids let
	 * an agent that restarted re-add its image cache references. */
	uint64_t		 generation;
	const char		*project_id;
	const char		*user_id;
	const char		*flavor_name;
	const char		*image_id;
	const char		*kernel_id;
	const char		*ramdisk_id;
	const char		*display_name;
};

/*
 * The domain XML for spec, owned by the caller (free()). NULL with
 * TS_EINVALID naming the offending field ("disks[1].path: not absolute"),
 * or TS_ENOMEM.
 */
char	*domxml_build(const struct domxml_spec *spec);
/*
 * The one-line document of a guest of libvirt's test driver (domain type
 * "test": no devices but its NICs): name, uuid, memory_mb, vcpus, the
 * owner record's generation, project_id, user_id and flavor_name (always
 * present, empty when NULL) and the nics (validated, as domxml_build()
 * renders them) and volumes (validated too) of spec; nothing else is used. Escaped but not validated
 * (the test driver runs nothing); characters XML cannot carry are dropped.
 * Owned by the caller; NULL with err set.
 */
char	*domxml_build_test(const struct domxml_spec *spec);

/*
 * The <interface type='bridge'> device document of one NIC (what
 * virDomainAttachDeviceFlags() takes; the same element domxml_build()
 * writes), validated like a spec's NICs. Owned by the caller; NULL with
 * TS_EINVALID naming the field, or TS_ENOMEM.
 */
char	*domxml_build_nic(const struct domxml_nic *nic);
/*
 * The MAC addresses (lower case, "aa:bb:cc:dd:ee:ff") of the
 * <interface> elements of a domain XML as libvirt formats it, in document
 * order, into macs (max entries); *n gets the count. -1 TS_EINVALID when
 * there are more than max.
 */
int	domxml_macs(const char *xml, char macs[][18], size_t max, size_t *n);
/*
 * The port of the first <graphics type='vnc'> of a running domain's XML
 * (libvirt fills port='5900'... when autoport chose it): 1..65535, or 0
 * when there is none (no VNC, not running: port='-1', malformed).
 */
unsigned domxml_vnc_port(const char *xml);

/*
 * The <disk type='network'> device document of one volume (what
 * virDomainAttachDeviceFlags() takes; the element domxml_build() writes),
 * validated like a spec's volumes. Owned; NULL with TS_EINVALID naming
 * the field, or TS_ENOMEM.
 */
char	*domxml_build_volume(const struct domxml_volume *v);

/*
 * The target devices ("vda", at most 7 characters) of a domain XML's
 * local disks: every <disk type='file' device='disk'> without <readonly/>
 * (a live migration copies these; volumes and the config drive it does
 * not), in document order, into out (max entries); *n gets the count.
 * -1 TS_EINVALID when there are more than max.
 */
int	domxml_local_disks(const char *xml, char out[][8], size_t max,
	    size_t *n);

/* A volume disk found in a domain's XML. */
struct domxml_voldisk {
	char	volume_id[37];		/* its <serial> */
	char	attachment_id[37];	/* from the secret's usage; "" none */
	char	target[8];		/* "" if not found */
};
/*
 * The volume disks of a domain XML as libvirt formats it: every
 * <disk type='network'> whose <serial> is a UUID (others are not
 * tinystack's volumes), in document order, into out (max entries); *n
 * gets the count. -1 TS_EINVALID when there are more than max.
 */
int	domxml_volumes(const char *xml, struct domxml_voldisk *out, size_t max,
	    size_t *n);
/*
 * A copy of the <disk>...</disk> element of volume_id in xml (what
 * virDomainDetachDeviceFlags() is given: libvirt's own text of it). Owned;
 * NULL with TS_ENOT_FOUND, or TS_ENOMEM.
 */
char	*domxml_volume_element(const char *xml, const char *volume_id);

/* The owner record read back from a domain's XML. */
struct domxml_meta {
	uint64_t	generation;
	char		project_id[DOMXML_TEXT_MAX + 1];
	char		user_id[DOMXML_TEXT_MAX + 1];
	char		flavor_name[DOMXML_TEXT_MAX + 1];
	char		image_id[DOMXML_TEXT_MAX + 1];
	char		kernel_id[DOMXML_TEXT_MAX + 1];
	char		ramdisk_id[DOMXML_TEXT_MAX + 1];
};

/*
 * Reads the owner record from xml: a whole domain definition (the element
 * is found by its namespace, whatever prefix a writer chose; quoting may be
 * ' or "), or what virDomainGetMetadata(VIR_DOMAIN_METADATA_ELEMENT,
 * DOMXML_NS) returns (libvirt strips the namespace: a bare <instance>
 * root with unprefixed children). Character entities are decoded. Absent fields are "" (generation 0). -1 with TS_ENOT_FOUND if
 * there is no element of DOMXML_NS (not a tinystack domain), TS_EDECODE if
 * it is malformed (bad generation, text over DOMXML_TEXT_MAX, unknown
 * entity, unterminated element).
 */
int	domxml_meta_parse(const char *xml, struct domxml_meta *meta);

#endif
