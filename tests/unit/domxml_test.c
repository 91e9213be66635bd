/*
 * Unit tests for agent/domxml.c: golden domain XML for several specs
 * (tests/golden/domxml/, rewritten with TS_UPDATE_GOLDEN=1), every
 * golden document accepted by libvirt's own parser (the in-process test
 * driver, test:///default) with the owner record read back through
 * virDomainGetMetadata, field validation, escaping, target assignment and
 * the metadata parser on hand-written and hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "err.h"
#include "proc.h"
#include "virt/domxml.h"
#include "virt/driver.h"

#define UUID1	"3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b"
#define UUID2	"0a9e7c55-1b2c-4d3e-8f40-5a6b7c8d9e0f"
#define PROJ	"6c1d5ae7a9b04a6b8e1f2d3c4b5a6978"
#define USER	"f0e1d2c3b4a5968778695a4b3c2d1e0f"
#define IMAGE	"9d8c7b6a-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

static void
quiet(void *arg, virErrorPtr e)
{
}

/* ------------------------------------------------------------- specs */

static const struct domxml_disk full_disks[] = {
	{ .path = "/var/lib/tinystack/instances/" UUID1 "/disk",
	  .format = "qcow2", .cache = "none" },
	{ .path = "/var/lib/tinystack/instances/" UUID1 "/disk.eph0",
	  .format = "raw", .cache = "none", .serial = "eph0" },
	{ .path = "/var/lib/tinystack/instances/" UUID1 "/disk.swap",
	  .format = "raw", .cache = "none" },
	{ .path = "/var/lib/tinystack/instances/" UUID1 "/disk.config",
	  .format = "raw", .device = DOMXML_DEVICE_CDROM,
	  .bus = DOMXML_BUS_IDE },
};

static const struct domxml_nic full_nics[] = {
	/* What backend_qemu makes of a port (common/ifname.h): the bridge
	 * of network 1a2b3c4d-5e6f-..., the tap of port 5e6f7a8b-9c0d-... */
	{ .mac = "FA:16:3E:01:02:03", .bridge = "tsb1a2b3c4d5e6",
	  .target = "tap5e6f7a8b9c0", .mtu = 1450 },
	{ .mac = "52:54:00:aa:bb:cc", .bridge = "br-ext", .model = "e1000" },
};

/* Everything a tinystack guest has: the shape driver.c renders. */
static struct domxml_spec
full_spec(void)
{
	struct domxml_spec s = {
		.uuid = UUID1,
		.virt = DOMXML_VIRT_QEMU,
		.vcpus = 2,
		.memory_mb = 512,
		.kernel = "/var/lib/tinystack/instances/_base/" IMAGE,
		.initrd = "/var/lib/tinystack/instances/_base/"
		    "11111111-2222-4333-8444-555555555555",
		.cmdline = "console=ttyS0 root=/dev/vda quiet panic=-1",
		.disks = full_disks,
		.ndisks = 4,
		.nics = full_nics,
		.nnics = 2,
		.console_log = "/var/lib/tinystack/instances/" UUID1
		    "/console.log",
		.vnc_listen = "127.0.0.1",
		.generation = 7,
		.project_id = PROJ,
		.user_id = USER,
		.flavor_name = "m1.tiny",
		.image_id = IMAGE,
		.kernel_id = IMAGE,
		.ramdisk_id = "11111111-2222-4333-8444-555555555555",
		.display_name = "web & \"db\" <primary> 'eu'",
	};

	return s;
}

static struct domxml_spec
minimal_spec(void)
{
	struct domxml_spec s = {
		.uuid = UUID2,
		.vcpus = 1,
		.memory_mb = 128,
		.kernel = "/srv/guest/vmlinux",
		.generation = 1,
	};

	return s;
}

static const struct domxml_disk kvm_disks[] = {
	{ .path = "/srv/inst/root.qcow2", .format = "qcow2",
	  .bus = DOMXML_BUS_SCSI, .cache = "writeback" },
	{ .path = "/srv/inst/data.raw", .format = "raw", .readonly = true },
	{ .path = "/srv/inst/config.iso", .format = "raw",
	  .device = DOMXML_DEVICE_CDROM, .bus = DOMXML_BUS_SATA },
};

static struct domxml_spec
kvm_spec(void)
{
	struct domxml_spec s = {
		.uuid = UUID2,
		.name = "ts-test-kvm.1",
		.virt = DOMXML_VIRT_KVM,
		.vcpus = 4,
		.memory_mb = 4096,
		.machine = "q35",
		.disks = kvm_disks,
		.ndisks = 3,
		.vnc_listen = "::1",
		.generation = 18446744073709551615ull,
		.project_id = PROJ,
	};

	return s;
}

#define VOL1	"7e1f0a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b"
#define ATT1	"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
#define VOL2	"8f2a1b3c-4d5e-4f6a-9b7c-8d9e0f1a2b3c"
#define ATT2	"b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"
#define INIT	"iqn.2010-10.org.openstack.tinystack:compute-1"

static const struct domxml_volume vols[] = {
	{ .volume_id = VOL1, .attachment_id = ATT1, .target = "vdb",
	  .portal = "192.0.2.10:3260",
	  .iqn = "iqn.2010-10.org.openstack:volume-" VOL1, .lun = 1,
	  .initiator = INIT, .chap_user = "ts-" "u1" },
	{ .volume_id = VOL2, .attachment_id = ATT2, .target = "vdd",
	  .portal = "[2001:db8::7]:3261",
	  .iqn = "iqn.2010-10.org.openstack:volume-" VOL2, .lun = 1,
	  .initiator = INIT, .readonly = true },
};

/* The qemu backend's shape with two volumes: the local disks' automatic
 * targets step around the volumes'. */
static struct domxml_spec
volumes_spec(void)
{
	static const struct domxml_disk disks[] = {
		{ .path = "/srv/inst/disk", .format = "qcow2" },
		{ .path = "/srv/inst/disk.eph0", .format = "qcow2" },
		{ .path = "/srv/inst/disk.config", .format = "raw",
		  .device = DOMXML_DEVICE_CDROM, .bus = DOMXML_BUS_IDE },
	};
	struct domxml_spec s = minimal_spec();

	s.kernel = NULL;
	s.disks = disks;
	s.ndisks = 3;
	s.volumes = vols;
	s.nvolumes = 2;
	return s;
}

/* Boot from volume: no local root disk, the volume's boot order. */
static struct domxml_spec
boot_volume_spec(void)
{
	static struct domxml_volume v[1];
	static const struct domxml_disk cfg[] = {
		{ .path = "/srv/inst/disk.config", .format = "raw",
		  .device = DOMXML_DEVICE_CDROM, .bus = DOMXML_BUS_IDE },
	};
	struct domxml_spec s = minimal_spec();

	v[0] = vols[0];
	v[0].target = "vda";
	v[0].boot = true;
	s.kernel = NULL;
	s.disks = cfg;
	s.ndisks = 1;
	s.volumes = v;
	s.nvolumes = 1;
	return s;
}

/* ------------------------------------------------------------ golden */

static void
golden(const struct domxml_spec *s, const char *file)
{
	char path[256];
	char *xml = domxml_build(s);

	if (xml == NULL)
		fail_msg("domxml_build: %s", err_msg());
	snprintf(path, sizeof(path), "tests/golden/domxml/%s", file);
	assert_int_equal(proc_golden_compare(xml, path), 0);
	free(xml);
}

static void
test_golden_full(void **state)
{
	struct domxml_spec s = full_spec();

	golden(&s, "full.xml");
}

static void
test_golden_minimal(void **state)
{
	struct domxml_spec s = minimal_spec();

	golden(&s, "minimal.xml");
}

static void
test_golden_kvm(void **state)
{
	struct domxml_spec s = kvm_spec();

	golden(&s, "kvm_disk_boot.xml");
}

static void
test_golden_volumes(void **state)
{
	struct domxml_spec s = volumes_spec();

	golden(&s, "volumes.xml");
}

static void
test_golden_boot_volume(void **state)
{
	struct domxml_spec s = boot_volume_spec();
	char *xml = domxml_build(&s);

	golden(&s, "boot_volume.xml");
	assert_non_null(xml);
	assert_null(strstr(xml, "<boot dev="));
	assert_non_null(strstr(xml, "<boot order='1'/>"));
	free(xml);
}

/* The hot-plug document is the element the full document has. */
static void
test_volume_device(void **state)
{
	struct domxml_spec s = volumes_spec();
	char *xml = domxml_build(&s), *one, *two;

	assert_non_null(xml);
	assert_non_null(one = domxml_build_volume(&vols[0]));
	assert_non_null(two = domxml_build_volume(&vols[1]));
	assert_non_null(strstr(xml, one));
	assert_non_null(strstr(xml, two));
	assert_string_equal(one,
	    "    <disk type='network' device='disk'>\n"
	    "      <driver name='qemu' type='raw' cache='none'/>\n"
	    "      <source protocol='iscsi' name='iqn.2010-10.org.openstack:"
	    "volume-" VOL1 "/1'>\n"
	    "        <host name='192.0.2.10' port='3260'/>\n"
	    "        <initiator>\n"
	    "          <iqn name='" INIT "'/>\n"
	    "        </initiator>\n"
	    "      </source>\n"
	    "      <auth username='ts-u1'>\n"
	    "        <secret type='iscsi' usage='tinystack-chap-" ATT1 "'/>\n"
	    "      </auth>\n"
	    "      <target dev='vdb' bus='virtio'/>\n"
	    "      <serial>" VOL1 "</serial>\n"
	    "    </disk>\n");
	/* no CHAP user: no <auth>; IPv6 portal without its brackets */
	assert_null(strstr(two, "<auth"));
	assert_non_null(strstr(two, "<host name='2001:db8::7' port='3261'/>"));
	assert_non_null(strstr(two, "<readonly/>"));
	/* the secret's value is never in any document */
	free(one);
	free(two);
	free(xml);
}

/* libvirt keeps the volume disks; domxml_volumes() finds them (and only
 * them) in libvirt's formatting, the element extraction gives libvirt's
 * own text back. */
static void
test_volumes_parse(void **state)
{
	struct domxml_spec s = volumes_spec();
	struct domxml_voldisk v[4];
	virConnectPtr conn;
	virDomainPtr dom;
	char *xml = domxml_build(&s), *dx, *el;
	size_t n;

	assert_non_null(xml);
	virSetErrorFunc(NULL, quiet);
	assert_non_null(conn = virConnectOpen("test:///default"));
	dom = virDomainDefineXML(conn, xml);
	if (dom == NULL)
		fail_msg("libvirt refused the XML: %s", virGetLastErrorMessage());
	assert_non_null(dx = virDomainGetXMLDesc(dom, 0));
	assert_int_equal(domxml_volumes(dx, v, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].volume_id, VOL1);
	assert_string_equal(v[0].attachment_id, ATT1);
	assert_string_equal(v[0].target, "vdb");
	assert_string_equal(v[1].volume_id, VOL2);
	assert_string_equal(v[1].attachment_id, "");
	assert_string_equal(v[1].target, "vdd");
	/* local disks took the names left: vda, vdc */
	assert_non_null(strstr(dx, "<source file='/srv/inst/disk.eph0'/>\n"
	    "      <target dev='vdc' bus='virtio'/>"));
	assert_int_equal(domxml_volumes(dx, v, 1, &n), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	/* what a live migration copies: the local disks alone (not the
	 * volumes, nor a config drive) */
	{
		char local[4][8];

		assert_int_equal(domxml_local_disks(dx, local, 4, &n), 0);
		assert_int_equal(n, 2);
		assert_string_equal(local[0], "vda");
		assert_string_equal(local[1], "vdc");
		assert_int_equal(domxml_local_disks(dx, local, 1, &n), -1);
		assert_int_equal(err_code(), TS_EINVALID);
		assert_int_equal(domxml_local_disks("<domain><devices>"
		    "<disk type='file' device='cdrom'><target dev='hda'/>"
		    "</disk><disk type='file' device='disk'><readonly/>"
		    "<target dev='vdb'/></disk><disk type='file' "
		    "device='disk'><target dev='vdc'/>", local, 4, &n), 0);
		assert_int_equal(n, 0);		/* (unterminated: stops) */
	}

	assert_non_null(el = domxml_volume_element(dx, VOL2));
	assert_int_equal(strncmp(el, "<disk type='network'", 20), 0);
	assert_non_null(strstr(el, "<serial>" VOL2 "</serial>"));
	assert_null(strstr(el, VOL1));
	assert_string_equal(el + strlen(el) - 7, "</disk>");
	free(el);
	assert_null(domxml_volume_element(dx, UUID1));
	assert_int_equal(err_code(), TS_ENOT_FOUND);

	assert_int_equal(virDomainUndefine(dom), 0);
	virDomainFree(dom);
	virConnectClose(conn);
	free(dx);
	free(xml);

	/* a network disk without a UUID serial, and file disks, are not
	 * volumes; no disks at all: none */
	assert_int_equal(domxml_volumes("<domain><devices>"
	    "<disk type='network' device='disk'><serial>abc</serial></disk>"
	    "<disk type='file' device='disk'><serial>" VOL1 "</serial></disk>"
	    "</devices></domain>", v, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(domxml_volumes("<domain/>", v, 4, &n), 0);
	assert_int_equal(n, 0);
	/* unterminated element: stops, no overread */
	assert_int_equal(domxml_volumes("<disk type='network'><serial>" VOL1,
	    v, 4, &n), 0);
	assert_int_equal(n, 0);
}

static void
test_deterministic(void **state)
{
	struct domxml_spec s = full_spec();
	char *a = domxml_build(&s), *b = domxml_build(&s);

	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

/* libvirt's parser accepts each document and keeps the owner record. */
static void
libvirt_roundtrip(const struct domxml_spec *s, const char *want_name)
{
	virConnectPtr conn;
	virDomainPtr dom;
	struct domxml_meta m;
	char uuid[VIR_UUID_STRING_BUFLEN], *md, *xml = domxml_build(s);

	assert_non_null(xml);
	virSetErrorFunc(NULL, quiet);
	conn = virConnectOpen("test:///default");
	assert_non_null(conn);
	dom = virDomainDefineXML(conn, xml);
	if (dom == NULL)
		fail_msg("libvirt refused the XML: %s", virGetLastErrorMessage());
	assert_string_equal(virDomainGetName(dom), want_name);
	assert_int_equal(virDomainGetUUIDString(dom, uuid), 0);
	assert_string_equal(uuid, s->uuid);

	md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, DOMXML_NS,
	    0);
	assert_non_null(md);
	assert_int_equal(domxml_meta_parse(md, &m), 0);
	assert_true(m.generation == s->generation);
	assert_string_equal(m.project_id, s->project_id ? s->project_id : "");
	assert_string_equal(m.user_id, s->user_id ? s->user_id : "");
	assert_string_equal(m.flavor_name, s->flavor_name ? s->flavor_name : "");
	assert_string_equal(m.image_id, s->image_id ? s->image_id : "");
	assert_string_equal(m.kernel_id, s->kernel_id ? s->kernel_id : "");
	assert_string_equal(m.ramdisk_id, s->ramdisk_id ? s->ramdisk_id : "");
	free(md);

	/* The whole document as libvirt formats it parses the same. */
	free(xml);
	xml = virDomainGetXMLDesc(dom, 0);
	assert_non_null(xml);
	assert_int_equal(domxml_meta_parse(xml, &m), 0);
	assert_true(m.generation == s->generation);

	assert_int_equal(virDomainUndefine(dom), 0);
	virDomainFree(dom);
	virConnectClose(conn);
	free(xml);
}

static void
test_libvirt_accepts(void **state)
{
	struct domxml_spec f = full_spec(), m = minimal_spec(), k = kvm_spec();

	libvirt_roundtrip(&f, "instance-" UUID1);
	libvirt_roundtrip(&m, "instance-" UUID2);
	libvirt_roundtrip(&k, "ts-test-kvm.1");
	f = volumes_spec();
	libvirt_roundtrip(&f, "instance-" UUID2);
	f = boot_volume_spec();
	libvirt_roundtrip(&f, "instance-" UUID2);
}

static void
test_namespace_is_drivers(void **state)
{
	assert_string_equal(DOMXML_NS, DRIVER_XMLNS);
	assert_string_equal(DOMXML_NAME_PREFIX, DRIVER_NAME_PREFIX);
}

/* The test driver's document: the bytes driver.c rendered before it moved
 * here (escaped, controls dropped, empty owner fields present), and it
 * defines in the test driver. */
static void
test_test_driver_document(void **state)
{
	struct domxml_spec s = { .uuid = UUID1, .name = "instance-" UUID1,
	    .vcpus = 2, .memory_mb = 512, .generation = 7,
	    .project_id = "p<&>'\"", .user_id = "u\001\tx",
	    .flavor_name = NULL };
	char *xml;
	virConnectPtr c;
	virDomainPtr dom;

	assert_non_null(xml = domxml_build_test(&s));
	assert_string_equal(xml, "<domain type='test'><name>instance-" UUID1
	    "</name><uuid>" UUID1 "</uuid><memory unit='MiB'>512</memory>"
	    "<vcpu>2</vcpu><metadata><ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:generation>7</ts:generation>"
	    "<ts:project>p&lt;&amp;&gt;&apos;&quot;</ts:project>"
	    "<ts:user>u\tx</ts:user><ts:flavor></ts:flavor></ts:instance>"
	    "</metadata><os><type arch='x86_64'>hvm</type></os></domain>");
	assert_non_null(c = virConnectOpen("test:///default"));
	assert_non_null(dom = virDomainDefineXML(c, xml));
	assert_int_equal(virDomainUndefine(dom), 0);
	virDomainFree(dom);
	virConnectClose(c);
	free(xml);
	assert_null(domxml_build_test(NULL));

	/* volumes are kept in the test driver's document too (validated) */
	s.volumes = vols;
	s.nvolumes = 2;
	assert_non_null(xml = domxml_build_test(&s));
	assert_non_null(strstr(xml, "<serial>" VOL2 "</serial>"));
	assert_non_null(c = virConnectOpen("test:///default"));
	assert_non_null(dom = virDomainDefineXML(c, xml));
	free(xml);
	{
		struct domxml_voldisk v[2];
		size_t n;

		assert_non_null(xml = virDomainGetXMLDesc(dom,
		    VIR_DOMAIN_XML_INACTIVE));
		assert_int_equal(domxml_volumes(xml, v, 2, &n), 0);
		assert_int_equal(n, 2);
	}
	assert_int_equal(virDomainUndefine(dom), 0);
	virDomainFree(dom);
	virConnectClose(c);
	free(xml);
	{
		struct domxml_volume bad = vols[0];

		bad.portal = "192.0.2.1:0";
		s.volumes = &bad;
		s.nvolumes = 1;
		err_clear();
		assert_null(domxml_build_test(&s));
		assert_int_equal(err_code(), TS_EINVALID);
	}
}

/* -------------------------------------------------------- validation */

static void
refused(const struct domxml_spec *s, const char *why)
{
	char *xml;

	err_clear();
	xml = domxml_build(s);
	if (xml != NULL)
		fail_msg("accepted, expected refusal mentioning '%s':\n%s", why,
		    xml);
	assert_int_equal(err_code(), TS_EINVALID);
	if (strstr(err_msg(), why) == NULL)
		fail_msg("error '%s' does not mention '%s'", err_msg(), why);
}

static void
test_rejects_bad_fields(void **state)
{
	struct domxml_spec s;
	struct domxml_disk d[2];
	struct domxml_nic n[1];
	char longtext[DOMXML_TEXT_MAX + 2];
	char longcmd[DOMXML_CMDLINE_MAX + 2];

#define CASE(mut, why) do { s = full_spec(); memcpy(d, full_disks, \
	sizeof(d)); memcpy(n, full_nics, sizeof(n)); s.disks = d; s.ndisks = 2; \
	s.nics = n; s.nnics = 1; mut; refused(&s, why); } while (0)

	CASE(s.uuid = "3F2B8C1E-5D4A-4E6F-9A7B-0C1D2E3F4A5B", "uuid");
	CASE(s.uuid = "3f2b8c1e5d4a4e6f9a7b0c1d2e3f4a5b", "uuid");
	CASE(s.uuid = NULL, "uuid");
	CASE(s.name = "bad name", "name");
	CASE(s.name = "-flag", "name");
	CASE(s.name = "a/b", "name");
	CASE(s.name = "", "name");
	CASE(s.virt = (enum domxml_virt)7, "virt");
	CASE(s.vcpus = 0, "vcpus");
	CASE(s.vcpus = DOMXML_VCPUS_MAX + 1, "vcpus");
	CASE(s.memory_mb = 0, "memory_mb");
	CASE(s.memory_mb = (uint64_t)DOMXML_MEMORY_MB_MAX + 1, "memory_mb");
	CASE(s.machine = "pc;rm", "machine");
	CASE(s.kernel = "vmlinux", "kernel");
	CASE(s.kernel = "/boot/../etc/shadow", "kernel");
	CASE(s.kernel = "/boot/./vmlinuz", "kernel");
	CASE(s.kernel = "/boot/vm\nlinuz", "kernel");
	CASE((s.kernel = NULL, s.cmdline = NULL), "initrd");
	CASE((s.kernel = NULL, s.initrd = NULL), "cmdline");
	CASE(s.cmdline = "console=ttyS0\ninit=/bin/sh", "cmdline");
	CASE(s.cmdline = "caf\xc3\xa9", "cmdline");
	memset(longcmd, 'a', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';
	CASE(s.cmdline = longcmd, "cmdline");
	CASE((s.kernel = NULL, s.initrd = NULL, s.cmdline = NULL, s.ndisks = 0),
	    "nothing to boot");
	CASE(s.ndisks = DOMXML_DISKS_MAX + 1, "disks");
	CASE(s.nnics = DOMXML_NICS_MAX + 1, "nics");
	CASE(d[1].path = "relative/disk", "disks[1].path");
	CASE(d[1].path = "/a/../b", "disks[1].path");
	CASE(d[0].format = "vmdk", "disks[0].format");
	CASE(d[0].format = NULL, "disks[0].format");
	CASE(d[0].bus = (enum domxml_bus)9, "disks[0].bus");
	CASE(d[0].device = DOMXML_DEVICE_CDROM, "virtio bus");
	CASE(d[0].target = "sda", "disks[0].target");
	CASE(d[0].target = "vdaa", "disks[0].target");
	CASE((d[1].bus = DOMXML_BUS_IDE, d[1].target = "hde"), "disks[1].target");
	CASE(d[0].cache = "fast", "disks[0].cache");
	CASE(d[0].serial = "has space", "disks[0].serial");
	CASE(d[0].serial = "", "disks[0].serial");
	CASE((d[0].target = "vdb", d[1].target = "vdb"), "used twice");
	CASE(n[0].mac = "01:00:5e:00:00:01", "nics[0].mac");
	CASE(n[0].mac = "fa:16:3e:01:02", "nics[0].mac");
	CASE(n[0].mac = "fa-16-3e-01-02-03", "nics[0].mac");
	CASE(n[0].bridge = NULL, "nics[0].bridge");
	CASE(n[0].bridge = "a-very-long-bridge", "nics[0].bridge");
	CASE(n[0].bridge = "br 0", "nics[0].bridge");
	CASE(n[0].target = "tap/../x", "nics[0].target");
	CASE(n[0].model = "ne2k_pci", "nics[0].model");
	CASE(n[0].mtu = 67, "nics[0].mtu");
	CASE(n[0].mtu = 65536, "nics[0].mtu");
	CASE(s.console_log = "console.log", "console_log");
	CASE(s.vnc_listen = "localhost", "vnc_listen");
	CASE(s.vnc_listen = "0.0.0.0'/><x a='", "vnc_listen");
	CASE(s.generation = 0, "generation");
	CASE(s.display_name = "line\nbreak", "display_name");
	CASE(s.display_name = "bad \xff utf8", "display_name");
	CASE(s.display_name = "surrogate \xed\xa0\x80", "display_name");
	CASE(s.display_name = "overlong \xc0\xaf", "display_name");
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	CASE(s.project_id = longtext, "project_id");
	CASE(s.user_id = "tab\there", "user_id");
	CASE(s.kernel_id = "a\x01", "kernel_id");
	CASE(s.ramdisk_id = longtext, "ramdisk_id");
#undef CASE

	/* volumes: everything comes over the bus, checked narrowly */
	{
		struct domxml_volume v[2];

#define VCASE(mut, why) do { s = volumes_spec(); memcpy(v, vols, \
	sizeof(v)); s.volumes = v; mut; refused(&s, why); } while (0)
		VCASE(v[0].volume_id = "not-a-uuid", "volumes[0].volume_id");
		VCASE(v[1].volume_id = VOL1, "attached twice");
		VCASE(v[0].attachment_id = NULL, "volumes[0].attachment_id");
		VCASE(v[0].attachment_id = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D",
		    "volumes[0].attachment_id");
		VCASE(v[0].target = "sdb", "volumes[0].target");
		VCASE(v[0].target = "vdb'/><x", "volumes[0].target");
		VCASE(v[0].target = NULL, "volumes[0].target");
		VCASE(v[1].target = "vdb", "used twice");
		VCASE(v[0].portal = "192.0.2.10", "volumes[0].portal");
		VCASE(v[0].portal = "192.0.2.10:", "volumes[0].portal");
		VCASE(v[0].portal = "192.0.2.10:65536", "volumes[0].portal");
		VCASE(v[0].portal = "192.0.2.10:0", "volumes[0].portal");
		VCASE(v[0].portal = "192.0.2.10:32a", "volumes[0].portal");
		VCASE(v[0].portal = "192.0.2.10:+326", "volumes[0].portal");
		VCASE(v[0].portal = "host'name:3260", "volumes[0].portal");
		VCASE(v[0].portal = "-host:3260", "volumes[0].portal");
		VCASE(v[0].portal = "a..b:3260", "volumes[0].portal");
		VCASE(v[0].portal = "2001:db8::7:3260", "volumes[0].portal");
		VCASE(v[0].portal = "[2001:db8::zz]:3260", "volumes[0].portal");
		VCASE(v[0].portal = "[::1]3260", "volumes[0].portal");
		VCASE(v[0].portal = "", "volumes[0].portal");
		VCASE(v[0].portal = NULL, "volumes[0].portal");
		VCASE(v[0].iqn = "iqn.2010-10.org.openstack:Volume", "volumes[0].iqn");
		VCASE(v[0].iqn = "iqn.x/2", "volumes[0].iqn");
		VCASE(v[0].iqn = "iqn.a'b", "volumes[0].iqn");
		VCASE(v[0].iqn = "iqn.", "volumes[0].iqn");
		VCASE(v[0].iqn = "naa.1234", "volumes[0].iqn");
		VCASE(v[0].iqn = "eui.1234", "volumes[0].iqn");
		VCASE(v[0].iqn = longtext, "volumes[0].iqn");
		VCASE(v[0].lun = DOMXML_LUN_MAX + 1, "volumes[0].lun");
		VCASE(v[0].initiator = "iqn.host name", "volumes[0].initiator");
		VCASE(v[0].initiator = NULL, "volumes[0].initiator");
		VCASE(v[0].chap_user = "user'x", "volumes[0].chap_user");
		VCASE(v[0].chap_user = "a b", "volumes[0].chap_user");
		VCASE((v[0].boot = true, v[1].boot = true), "boot volume");
		VCASE(s.nvolumes = DOMXML_VOLUMES_MAX + 1, "volumes");
		VCASE(s.volumes = NULL, "volumes");
		{
			static const struct domxml_disk fixed[] = {
				{ .path = "/d/0", .format = "raw",
				  .target = "vdb" },
			};

			VCASE((s.disks = fixed, s.ndisks = 1), "disks[0]'s");
		}
#undef VCASE
		/* accepted: eui name, DNS portal, empty chap user */
		s = volumes_spec();
		memcpy(v, vols, sizeof(v));
		v[0].iqn = "eui.02004567A425678D";
		v[0].portal = "storage-1.example.org:3260";
		v[0].chap_user = "";
		s.volumes = v;
		{
			char *x = domxml_build(&s);

			assert_non_null(x);
			assert_non_null(strstr(x, "<host name='storage-1."
			    "example.org' port='3260'/>"));
			free(x);
		}
	}

	err_clear();
	assert_null(domxml_build(NULL));
	assert_int_equal(err_code(), TS_EINVALID);
}

static void
test_escaping(void **state)
{
	struct domxml_spec s = full_spec();
	struct domxml_disk d = { .path = "/srv/it's <here> & \"there\"/disk",
	    .format = "raw" };
	char *xml;

	s.disks = &d;
	s.ndisks = 1;
	s.display_name = "</ts:name></ts:instance><evil/>";
	xml = domxml_build(&s);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "<source file='/srv/it&apos;s &lt;here&gt; "
	    "&amp; &quot;there&quot;/disk'/>"));
	assert_non_null(strstr(xml, "<ts:name>&lt;/ts:name&gt;&lt;/ts:instance"
	    "&gt;&lt;evil/&gt;</ts:name>"));
	assert_null(strstr(xml, "<evil/>"));
	/* Non-ASCII UTF-8 passes through unchanged. */
	free(xml);
	s.display_name = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80";
	xml = domxml_build(&s);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "<ts:name>caf\xc3\xa9 \xe2\x9c\x93 "
	    "\xf0\x9f\x9a\x80</ts:name>"));
	free(xml);
}

static void
test_target_assignment(void **state)
{
	struct domxml_disk d[] = {
		{ .path = "/d/0", .format = "raw" },
		{ .path = "/d/1", .format = "raw", .target = "vda" },
		{ .path = "/d/2", .format = "raw" },
		{ .path = "/d/3", .format = "raw", .device = DOMXML_DEVICE_CDROM,
		  .bus = DOMXML_BUS_IDE, .target = "hdc" },
		{ .path = "/d/4", .format = "raw", .device = DOMXML_DEVICE_CDROM,
		  .bus = DOMXML_BUS_IDE },
		{ .path = "/d/5", .format = "raw", .bus = DOMXML_BUS_SATA },
	};
	struct domxml_disk ide[5];
	struct domxml_spec s = minimal_spec();
	char *xml;

	s.disks = d;
	s.ndisks = 6;
	xml = domxml_build(&s);
	assert_non_null(xml);
	/* explicit names are kept, the others fill the gaps in order */
	assert_non_null(strstr(xml, "<source file='/d/0'/>\n"
	    "      <target dev='vdb' bus='virtio'/>"));
	assert_non_null(strstr(xml, "<source file='/d/1'/>\n"
	    "      <target dev='vda' bus='virtio'/>"));
	assert_non_null(strstr(xml, "<source file='/d/2'/>\n"
	    "      <target dev='vdc' bus='virtio'/>"));
	assert_non_null(strstr(xml, "<source file='/d/3'/>\n"
	    "      <target dev='hdc' bus='ide'/>"));
	assert_non_null(strstr(xml, "<source file='/d/4'/>\n"
	    "      <target dev='hda' bus='ide'/>"));
	assert_non_null(strstr(xml, "<source file='/d/5'/>\n"
	    "      <target dev='sda' bus='sata'/>"));
	/* cdroms are always read-only */
	assert_non_null(strstr(xml, "<target dev='hda' bus='ide'/>\n"
	    "      <readonly/>"));
	free(xml);

	/* IDE has four names; a fifth disk has none left */
	for (int i = 0; i < 5; i++)
		ide[i] = (struct domxml_disk){ .path = "/d/x", .format = "raw",
		    .bus = DOMXML_BUS_IDE };
	s.disks = ide;
	s.ndisks = 4;
	xml = domxml_build(&s);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "<target dev='hdd' bus='ide'/>"));
	free(xml);
	s.ndisks = 5;
	refused(&s, "no free ide target");
}

static void
test_optional_parts(void **state)
{
	struct domxml_spec s = minimal_spec();
	char *xml = domxml_build(&s);

	assert_non_null(xml);
	assert_non_null(strstr(xml, "<name>instance-" UUID2 "</name>"));
	assert_null(strstr(xml, "<graphics"));
	assert_null(strstr(xml, "<log "));
	assert_null(strstr(xml, "<interface"));
	assert_null(strstr(xml, "<boot "));
	assert_null(strstr(xml, "<cpu "));
	assert_non_null(strstr(xml, "<serial type='pty'>"));
	assert_non_null(strstr(xml, "<ts:generation>1</ts:generation>"));
	assert_null(strstr(xml, "<ts:project>"));
	free(xml);
}

/* ------------------------------------------------------------ parser */

static void
test_meta_parse_forms(void **state)
{
	struct domxml_meta m;

	/* libvirt's formatting: double quotes, its own indentation */
	assert_int_equal(domxml_meta_parse(
	    "<ts:instance xmlns:ts=\"" DOMXML_NS "\">\n"
	    "  <ts:generation>42</ts:generation>\n"
	    "  <ts:project>p1</ts:project>\n"
	    "  <ts:user>u1</ts:user>\n"
	    "</ts:instance>\n", &m), 0);
	assert_true(m.generation == 42);
	assert_string_equal(m.project_id, "p1");
	assert_string_equal(m.user_id, "u1");
	assert_string_equal(m.flavor_name, "");
	assert_string_equal(m.image_id, "");

	/* any prefix; another namespace's look-alike is ignored */
	assert_int_equal(domxml_meta_parse(
	    "<domain><metadata>"
	    "<ts:instance xmlns:ts='http://example.org/other'>"
	    "<ts:generation>1</ts:generation></ts:instance>"
	    "<tiny:instance xmlns:tiny = '" DOMXML_NS "' extra=\"a>b\">"
	    "<tiny:generation> 9 </tiny:generation>"
	    "<tiny:flavor>m1.&lt;x&gt; &amp; &#65;&#x42;&#233;</tiny:flavor>"
	    "<tiny:image/>"
	    "</tiny:instance></metadata></domain>", &m), 0);
	assert_true(m.generation == 9);
	assert_string_equal(m.flavor_name, "m1.<x> & AB\xc3\xa9");
	assert_string_equal(m.image_id, "");

	/* virDomainGetMetadata's form: namespace stripped, bare root */
	assert_int_equal(domxml_meta_parse(
	    "<instance>\n  <generation>3</generation>\n"
	    "  <user>u&amp;2</user>\n  <name>x &lt;y&gt;</name>\n"
	    "</instance>\n", &m), 0);
	assert_true(m.generation == 3);
	assert_string_equal(m.user_id, "u&2");
	assert_int_equal(domxml_meta_parse("  <instance/>", &m), 0);
	assert_true(m.generation == 0);

	/* self-closing element: a tinystack domain with no fields */
	assert_int_equal(domxml_meta_parse(
	    "<ts:instance xmlns:ts='" DOMXML_NS "'/>", &m), 0);
	assert_true(m.generation == 0);

	/* largest generation */
	assert_int_equal(domxml_meta_parse(
	    "<a:instance xmlns:a='" DOMXML_NS "'><a:generation>"
	    "18446744073709551615</a:generation></a:instance>", &m), 0);
	assert_true(m.generation == UINT64_MAX);
}

static void
meta_bad(const char *xml, enum ts_errcode code)
{
	struct domxml_meta m;

	err_clear();
	if (domxml_meta_parse(xml, &m) != -1)
		fail_msg("accepted: %s", xml);
	assert_int_equal(err_code(), code);
}

static void
test_meta_parse_rejects(void **state)
{
	char big[1024];

	meta_bad("<domain><name>x</name></domain>", TS_ENOT_FOUND);
	meta_bad("<instances/>", TS_ENOT_FOUND);
	meta_bad("<instance><generation>1</generation>", TS_EDECODE);
	meta_bad("<instance><generation>x</generation></instance>", TS_EDECODE);
	meta_bad("", TS_ENOT_FOUND);
	/* the namespace declared on an element that is not P:instance */
	meta_bad("<ts:other xmlns:ts='" DOMXML_NS "'/>", TS_ENOT_FOUND);
	/* a prefix of the namespace URI is another namespace */
	meta_bad("<ts:instance xmlns:ts='http://tinystack.org/xmlns/instance/'/>",
	    TS_ENOT_FOUND);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:generation>18446744073709551616</ts:generation></ts:instance>",
	    TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:generation>-1</ts:generation></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:generation>1 2</ts:generation></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:generation>0x10</ts:generation></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:generation>1</ts:generation>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:project>abc</ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:project>a&bogus;b</ts:project></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:project>a&#0;b</ts:project></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:project>a&#xD800;b</ts:project></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:project>a&# 65;b</ts:project></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:project>a&amp b</ts:project></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:project>a<b/>c</ts:project></ts:instance>", TS_EDECODE);
	meta_bad("<ts:instance xmlns:ts='" DOMXML_NS "' a='unterminated>",
	    TS_EDECODE);
	snprintf(big, sizeof(big), "<ts:instance xmlns:ts='" DOMXML_NS "'>"
	    "<ts:user>%0300d</ts:user></ts:instance>", 0);
	meta_bad(big, TS_EDECODE);
	meta_bad(NULL, TS_EINVALID);
}

/* The VNC port of a running domain's XML as libvirt writes it. */
static void
test_vnc_port(void **state)
{
	(void)state;
	assert_int_equal(domxml_vnc_port("<domain><devices>"
	    "<graphics type='vnc' port='5901' autoport='yes' "
	    "listen='127.0.0.1'>\n<listen type='address' address='127.0.0.1'/>"
	    "</graphics></devices></domain>"), 5901);
	/* Another graphics type first. */
	assert_int_equal(domxml_vnc_port("<graphics type='spice' port='5930'/>"
	    "<graphics type='vnc' port='5900' autoport='yes'/>"), 5900);
	/* Not running (-1), no port, none, out of range, unterminated. */
	assert_int_equal(domxml_vnc_port("<graphics type='vnc' port='-1' "
	    "autoport='yes'/>"), 0);
	assert_int_equal(domxml_vnc_port("<graphics type='vnc' "
	    "autoport='yes'/>"), 0);
	assert_int_equal(domxml_vnc_port("<domain/>"), 0);
	assert_int_equal(domxml_vnc_port("<graphics type='vnc' "
	    "port='65536'/>"), 0);
	assert_int_equal(domxml_vnc_port("<graphics type='vnc' "
	    "port='1234567'/>"), 0);
	assert_int_equal(domxml_vnc_port("<graphics type='vnc' port='59"), 0);
	/* A port attribute of a later element is not the graphics'. */
	assert_int_equal(domxml_vnc_port("<graphics type='vnc'/><x port='1'/>"),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_full),
		cmocka_unit_test(test_golden_minimal),
		cmocka_unit_test(test_golden_kvm),
		cmocka_unit_test(test_golden_volumes),
		cmocka_unit_test(test_golden_boot_volume),
		cmocka_unit_test(test_volume_device),
		cmocka_unit_test(test_volumes_parse),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_libvirt_accepts),
		cmocka_unit_test(test_namespace_is_drivers),
		cmocka_unit_test(test_test_driver_document),
		cmocka_unit_test(test_rejects_bad_fields),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_target_assignment),
		cmocka_unit_test(test_optional_parts),
		cmocka_unit_test(test_meta_parse_forms),
		cmocka_unit_test(test_meta_parse_rejects),
		cmocka_unit_test(test_vnc_port),
	};

	setenv("TS_SOURCE_DIR", TS_TEST_SOURCE_DIR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
