/*
 * domxml: libvirt domain XML from a spec, and the owner record read back;
 * see domxml.h.
 *
 * Rendering validates a field, then writes it escaped; a spec that fails
 * any check produces no XML at all. The output buffer grows as needed and
 * remembers an allocation failure, so the renderer checks once at the end.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "utf8.h"
#include "uuid.h"
#include "virt/domxml.h"

/* ------------------------------------------------------------ buffer */

/* Text or attribute value: the five XML specials become entities. */
static void
xb_esc(struct buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *ent;

		switch (*s) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '\'': ent = "&apos;"; break;
		case '"': ent = "&quot;"; break;
		default: continue;
		}
		buf_append(b, run, (size_t)(s - run));
		buf_puts(b, ent);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
}

/* <tag>escaped text</tag> on its own line at the given indent. */
static void
xb_elem(struct buf *b, const char *indent, const char *tag, const char *text)
{
	buf_puts(b, indent);
	buf_printf(b, "<%s>", tag);
	xb_esc(b, text);
	buf_printf(b, "</%s>\n", tag);
}

/* --------------------------------------------------------- validation */

static bool
is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* [A-Za-z0-9._-]{1,max}, not starting with '.' or '-'. */
static bool
is_word(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max ||
	    s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_word_char(s[i]))
			return false;
	return true;
}

static bool
has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Absolute, bounded, printable, and without "." or ".." components: what
 * libvirt opens is exactly what the agent named. */
static bool
is_abs_path(const char *s)
{
	size_t n;
	const char *c;

	if (s == NULL || s[0] != '/' || (n = strlen(s)) > DOMXML_PATH_MAX ||
	    has_ctl(s) || !utf8_valid(s))
		return false;
	for (c = s; c != NULL; c = strchr(c + 1, '/')) {
		const char *e = c + 1;
		size_t len = strcspn(e, "/");

		if ((len == 1 && e[0] == '.') ||
		    (len == 2 && e[0] == '.' && e[1] == '.'))
			return false;
	}
	return true;
}

/* Metadata text: bounded, no control characters, UTF-8. */
static bool
is_text(const char *s)
{
	return strlen(s) <= DOMXML_TEXT_MAX && !has_ctl(s) && utf8_valid(s);
}

static bool
is_mac(const char *s)
{
	unsigned first;

	if (s == NULL || strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		char c = s[i];

		if (i % 3 == 2) {
			if (c != ':')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	first = (unsigned)strtoul(s, NULL, 16);
	return (first & 1) == 0;	/* multicast MACs are refused by qemu */
}

static bool
is_ifname(const char *s)
{
	return is_word(s, DOMXML_IFNAME_MAX);
}

static bool
is_ip(const char *s)
{
	unsigned char a[16];

	return s != NULL && (inet_pton(AF_INET, s, a) == 1 ||
	    inet_pton(AF_INET6, s, a) == 1);
}

static bool
one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static const char *const formats[] = { "raw", "qcow2", NULL };
static const char *const caches[] = { "none", "writethrough", "writeback",
    "directsync", "unsafe", NULL };
static const char *const models[] = { "virtio", "e1000", "rtl8139", NULL };

static const char *
bus_name(enum domxml_bus b)
{
	switch (b) {
	case DOMXML_BUS_VIRTIO: return "virtio";
	case DOMXML_BUS_IDE: return "ide";
	case DOMXML_BUS_SATA: return "sata";
	case DOMXML_BUS_SCSI: return "scsi";
	}
	return NULL;
}

static const char *
bus_prefix(enum domxml_bus b)
{
	switch (b) {
	case DOMXML_BUS_VIRTIO: return "vd";
	case DOMXML_BUS_IDE: return "hd";
	case DOMXML_BUS_SATA:
	case DOMXML_BUS_SCSI: return "sd";
	}
	return NULL;
}

/* Target names: prefix + one letter (a..z); IDE has four (hda..hdd). */
static bool
target_ok(const char *t, enum domxml_bus bus)
{
	const char *p = bus_prefix(bus);

	if (strlen(t) != 3 || strncmp(t, p, 2) != 0 || t[2] < 'a' ||
	    t[2] > 'z')
		return false;
	return bus != DOMXML_BUS_IDE || t[2] <= 'd';
}

#define BAD(...) do { err_set(TS_EINVALID, __VA_ARGS__); return -1; } while (0)

static int
check_disk(const struct domxml_disk *d, size_t i)
{
	if (!is_abs_path(d->path))
		BAD("disks[%zu].path: not a clean absolute path", i);
	if (d->format == NULL || !one_of(d->format, formats))
		BAD("disks[%zu].format: must be raw or qcow2", i);
	if (bus_name(d->bus) == NULL)
		BAD("disks[%zu].bus: unknown bus", i);
	if (d->device != DOMXML_DEVICE_DISK && d->device != DOMXML_DEVICE_CDROM)
		BAD("disks[%zu].device: unknown device", i);
	if (d->device == DOMXML_DEVICE_CDROM && d->bus == DOMXML_BUS_VIRTIO)
		BAD("disks[%zu]: a cdrom cannot be on the virtio bus", i);
	if (d->target != NULL && !target_ok(d->target, d->bus))
		BAD("disks[%zu].target: not a %s target name", i,
		    bus_name(d->bus));
	if (d->cache != NULL && !one_of(d->cache, caches))
		BAD("disks[%zu].cache: unknown cache mode", i);
	if (d->serial != NULL) {
		size_t n = strlen(d->serial);

		if (n == 0 || n > 20 || strspn(d->serial, "abcdefghijklmnopq"
		    "rstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
			BAD("disks[%zu].serial: 1-20 of [A-Za-z0-9_-]", i);
	}
	return 0;
}

static int
check_nic(const struct domxml_nic *n, size_t i)
{
	if (!is_mac(n->mac))
		BAD("nics[%zu].mac: not a unicast MAC address", i);
	if (!is_ifname(n->bridge))
		BAD("nics[%zu].bridge: not an interface name", i);
	if (n->target != NULL && !is_ifname(n->target))
		BAD("nics[%zu].target: not an interface name", i);
	if (n->model != NULL && !one_of(n->model, models))
		BAD("nics[%zu].model: must be virtio, e1000 or rtl8139", i);
	if (n->mtu != 0 && (n->mtu < 68 || n->mtu > 65535))
		BAD("nics[%zu].mtu: out of range 68..65535", i);
	return 0;
}

/* RFC 3720 names after stringprep: "iqn." with lower case letters,
 * digits, '.', '-' and ':'; or "eui." with 16 hex digits. Nothing else
 * (no '/', which separates the LUN in libvirt's source name, no quotes). */
static bool
is_iscsi_name(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) > DOMXML_ISCSI_NAME_MAX)
		return false;
	if (strncmp(s, "eui.", 4) == 0)
		return n == 20 && strspn(s + 4, "0123456789abcdefABCDEF") == 16;
	if (strncmp(s, "iqn.", 4) != 0 || n < 5)
		return false;
	return strspn(s + 4, "abcdefghijklmnopqrstuvwxyz0123456789.-:") ==
	    n - 4;
}

/* A DNS name: labels of [A-Za-z0-9-], not starting or ending with '-',
 * joined by single dots. */
static bool
is_hostname(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/* "host:port" with an IPv4 literal or DNS name, or "[v6]:port": the host
 * (without brackets) into host[256], the port into *port. */
static bool
parse_portal(const char *s, char *host, unsigned *port)
{
	const char *colon, *p;
	size_t hl;
	unsigned long v = 0;
	unsigned char a[16];

	if (s == NULL || strlen(s) > 255)
		return false;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return false;
		hl = (size_t)(close - s) - 1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, a) != 1)
			return false;
		colon = close + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return false;
		hl = (size_t)(colon - s);
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (strchr(host, ':') != NULL ||
		    (inet_pton(AF_INET, host, a) != 1 && !is_hostname(host)))
			return false;
	}
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") !=
	    strlen(p))
		return false;
	for (; *p; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (v == 0 || v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

static int
check_volume(const struct domxml_volume *v, size_t i)
{
	char host[256];
	unsigned port;

	if (v->volume_id == NULL || !uuid_valid(v->volume_id))
		BAD("volumes[%zu].volume_id: not a canonical lowercase UUID", i);
	if (v->attachment_id == NULL || !uuid_valid(v->attachment_id))
		BAD("volumes[%zu].attachment_id: not a canonical lowercase "
		    "UUID", i);
	if (v->target == NULL || !target_ok(v->target, DOMXML_BUS_VIRTIO))
		BAD("volumes[%zu].target: not a virtio target name (vdb..vdz)",
		    i);
	if (!parse_portal(v->portal, host, &port))
		BAD("volumes[%zu].portal: not address:port", i);
	if (!is_iscsi_name(v->iqn))
		BAD("volumes[%zu].iqn: not an iSCSI name", i);
	if (v->lun > DOMXML_LUN_MAX)
		BAD("volumes[%zu].lun: over %d", i, DOMXML_LUN_MAX);
	if (!is_iscsi_name(v->initiator))
		BAD("volumes[%zu].initiator: not an iSCSI name", i);
	if (v->chap_user != NULL && v->chap_user[0] != '\0' &&
	    !is_word(v->chap_user, 64))
		BAD("volumes[%zu].chap_user: 1-64 of [A-Za-z0-9._-]", i);
	return 0;
}

/* Volume targets are unique and no fixed disk target uses one; at most
 * one boot volume. */
static int
check_volumes(const struct domxml_volume *vs, size_t n,
    const struct domxml_disk *disks, size_t ndisks)
{
	size_t boots = 0;

	if (n > DOMXML_VOLUMES_MAX || (n > 0 && vs == NULL))
		BAD("volumes: at most %d", DOMXML_VOLUMES_MAX);
	for (size_t i = 0; i < n; i++) {
		if (check_volume(&vs[i], i) == -1)
			return -1;
		boots += vs[i].boot;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(vs[i].target, vs[j].target) == 0)
				BAD("volumes[%zu].target: %s used twice", i,
				    vs[i].target);
			if (strcmp(vs[i].volume_id, vs[j].volume_id) == 0)
				BAD("volumes[%zu].volume_id: attached twice", i);
		}
		for (size_t j = 0; j < ndisks; j++)
			if (disks[j].target != NULL &&
			    strcmp(disks[j].target, vs[i].target) == 0)
				BAD("volumes[%zu].target: %s is disks[%zu]'s", i,
				    vs[i].target, j);
	}
	if (boots > 1)
		BAD("volumes: more than one boot volume");
	return 0;
}

static int
check_spec(const struct domxml_spec *s)
{
	const char *text[] = { s->project_id, s->user_id, s->flavor_name,
	    s->image_id, s->kernel_id, s->ramdisk_id, s->display_name };
	const char *text_name[] = { "project_id", "user_id", "flavor_name",
	    "image_id", "kernel_id", "ramdisk_id", "display_name" };

	if (!uuid_valid(s->uuid))
		BAD("uuid: not a canonical lowercase UUID");
	if (s->name != NULL && !is_word(s->name, DOMXML_NAME_MAX))
		BAD("name: 1-%d of [A-Za-z0-9._-], not starting with . or -",
		    DOMXML_NAME_MAX);
	if (s->virt != DOMXML_VIRT_QEMU && s->virt != DOMXML_VIRT_KVM)
		BAD("virt: must be qemu or kvm");
	if (s->vcpus == 0 || s->vcpus > DOMXML_VCPUS_MAX)
		BAD("vcpus: out of range 1..%d", DOMXML_VCPUS_MAX);
	if (s->memory_mb == 0 || s->memory_mb > DOMXML_MEMORY_MB_MAX)
		BAD("memory_mb: out of range 1..%u", DOMXML_MEMORY_MB_MAX);
	if (s->machine != NULL && !is_word(s->machine, 64))
		BAD("machine: not a machine type name");
	if (s->kernel != NULL && !is_abs_path(s->kernel))
		BAD("kernel: not a clean absolute path");
	if (s->initrd != NULL && (s->kernel == NULL || !is_abs_path(s->initrd)))
		BAD("initrd: needs a kernel and a clean absolute path");
	if (s->cmdline != NULL) {
		const char *c;

		if (s->kernel == NULL)
			BAD("cmdline: needs a kernel");
		if (strlen(s->cmdline) > DOMXML_CMDLINE_MAX)
			BAD("cmdline: longer than %d bytes", DOMXML_CMDLINE_MAX);
		for (c = s->cmdline; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				BAD("cmdline: only printable ASCII");
	}
	if (s->ndisks > DOMXML_DISKS_MAX || (s->ndisks > 0 && s->disks == NULL))
		BAD("disks: at most %d", DOMXML_DISKS_MAX);
	if (s->nnics > DOMXML_NICS_MAX || (s->nnics > 0 && s->nics == NULL))
		BAD("nics: at most %d", DOMXML_NICS_MAX);
	if (s->kernel == NULL && s->ndisks == 0 && s->nvolumes == 0)
		BAD("nothing to boot: no kernel and no disk");
	for (size_t i = 0; i < s->ndisks; i++)
		if (check_disk(&s->disks[i], i) == -1)
			return -1;
	for (size_t i = 0; i < s->nnics; i++)
		if (check_nic(&s->nics[i], i) == -1)
			return -1;
	if (check_volumes(s->volumes, s->nvolumes, s->disks, s->ndisks) == -1)
		return -1;
	if (s->console_log != NULL && !is_abs_path(s->console_log))
		BAD("console_log: not a clean absolute path");
	if (s->vnc_listen != NULL && !is_ip(s->vnc_listen))
		BAD("vnc_listen: not an IP address");
	if (s->generation == 0)
		BAD("generation: must be at least 1");
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		if (text[i] != NULL && !is_text(text[i]))
			BAD("%s: over %d bytes, control characters or not "
			    "UTF-8", text_name[i], DOMXML_TEXT_MAX);
	return 0;
}

/* Fills targets[i] for every disk: the spec's, or the next free name with
 * the bus's prefix. Refuses duplicates and running out of names. */
static int
assign_targets(const struct domxml_spec *s, char targets[][4])
{
	for (size_t i = 0; i < s->ndisks; i++) {
		if (s->disks[i].target == NULL)
			continue;
		snprintf(targets[i], 4, "%s", s->disks[i].target);
		for (size_t j = 0; j < i; j++)
			if (strcmp(targets[i], targets[j]) == 0)
				BAD("disks[%zu].target: %s used twice", i,
				    targets[i]);
	}
	for (size_t i = 0; i < s->ndisks; i++) {
		const struct domxml_disk *d = &s->disks[i];
		char last = d->bus == DOMXML_BUS_IDE ? 'd' : 'z';
		char c;

		if (d->target != NULL)
			continue;
		for (c = 'a'; c <= last; c++) {
			bool used = false;

			snprintf(targets[i], 4, "%s%c", bus_prefix(d->bus), c);
			for (size_t j = 0; j < s->ndisks && !used; j++)
				used = j != i && (s->disks[j].target != NULL ||
				    j < i) && strcmp(targets[j], targets[i]) == 0;
			for (size_t j = 0; j < s->nvolumes && !used; j++)
				used = strcmp(s->volumes[j].target, targets[i]) ==
				    0;
			if (!used)
				break;
		}
		if (c > last)
			BAD("disks[%zu]: no free %s target name", i,
			    bus_name(d->bus));
	}
	return 0;
}

/* ---------------------------------------------------------- rendering */

static void
render_metadata(struct buf *b, const struct domxml_spec *s)
{
	const char *in = "      ";

	buf_puts(b, "  <metadata>\n");
	buf_puts(b, "    <" DOMXML_NS_PREFIX ":instance xmlns:" DOMXML_NS_PREFIX
	    "='" DOMXML_NS "'>\n");
	buf_printf(b, "%s<" DOMXML_NS_PREFIX ":generation>%llu</"
	    DOMXML_NS_PREFIX ":generation>\n", in,
	    (unsigned long long)s->generation);
	if (s->project_id)
		xb_elem(b, in, DOMXML_NS_PREFIX ":project", s->project_id);
	if (s->user_id)
		xb_elem(b, in, DOMXML_NS_PREFIX ":user", s->user_id);
	if (s->flavor_name)
		xb_elem(b, in, DOMXML_NS_PREFIX ":flavor", s->flavor_name);
	if (s->image_id)
		xb_elem(b, in, DOMXML_NS_PREFIX ":image", s->image_id);
	if (s->kernel_id)
		xb_elem(b, in, DOMXML_NS_PREFIX ":kernel", s->kernel_id);
	if (s->ramdisk_id)
		xb_elem(b, in, DOMXML_NS_PREFIX ":ramdisk", s->ramdisk_id);
	if (s->display_name)
		xb_elem(b, in, DOMXML_NS_PREFIX ":name", s->display_name);
	buf_puts(b, "    </" DOMXML_NS_PREFIX ":instance>\n");
	buf_puts(b, "  </metadata>\n");
}

static void
render_os(struct buf *b, const struct domxml_spec *s)
{
	buf_puts(b, "  <sysinfo type='smbios'>\n    <system>\n");
	buf_puts(b, "      <entry name='manufacturer'>tinystack</entry>\n");
	buf_puts(b, "      <entry name='product'>OpenStack Compute</entry>\n");
	buf_puts(b, "      <entry name='serial'>");
	xb_esc(b, s->uuid);
	buf_puts(b, "</entry>\n      <entry name='uuid'>");
	xb_esc(b, s->uuid);
	buf_puts(b, "</entry>\n");
	buf_puts(b, "      <entry name='family'>Virtual Machine</entry>\n");
	buf_puts(b, "    </system>\n  </sysinfo>\n");

	buf_puts(b, "  <os>\n    <type arch='x86_64' machine='");
	xb_esc(b, s->machine ? s->machine : "pc");
	buf_puts(b, "'>hvm</type>\n");
	if (s->kernel) {
		xb_elem(b, "    ", "kernel", s->kernel);
		if (s->initrd)
			xb_elem(b, "    ", "initrd", s->initrd);
		if (s->cmdline)
			xb_elem(b, "    ", "cmdline", s->cmdline);
	} else {
		bool boot_volume = false;

		for (size_t i = 0; i < s->nvolumes; i++)
			boot_volume = boot_volume || s->volumes[i].boot;
		/* libvirt refuses <boot dev> next to per-device boot order */
		if (!boot_volume)
			buf_puts(b, "    <boot dev='hd'/>\n");
	}
	buf_puts(b, "    <smbios mode='sysinfo'/>\n  </os>\n");
	buf_puts(b, "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
	if (s->virt == DOMXML_VIRT_KVM)
		buf_puts(b, "  <cpu mode='host-model'/>\n");
	buf_puts(b, "  <clock offset='utc'>\n"
	    "    <timer name='pit' tickpolicy='delay'/>\n"
	    "    <timer name='rtc' tickpolicy='catchup'/>\n"
	    "    <timer name='hpet' present='no'/>\n"
	    "  </clock>\n");
	buf_puts(b, "  <on_poweroff>destroy</on_poweroff>\n"
	    "  <on_reboot>restart</on_reboot>\n"
	    "  <on_crash>destroy</on_crash>\n");
}

static void
render_disk(struct buf *b, const struct domxml_disk *d, const char *target)
{
	bool cdrom = d->device == DOMXML_DEVICE_CDROM;

	buf_printf(b, "    <disk type='file' device='%s'>\n",
	    cdrom ? "cdrom" : "disk");
	buf_puts(b, "      <driver name='qemu' type='");
	xb_esc(b, d->format);
	if (d->cache) {
		buf_puts(b, "' cache='");
		xb_esc(b, d->cache);
	}
	buf_puts(b, "'/>\n      <source file='");
	xb_esc(b, d->path);
	buf_puts(b, "'/>\n      <target dev='");
	xb_esc(b, target);
	buf_printf(b, "' bus='%s'/>\n", bus_name(d->bus));
	if (d->serial)
		xb_elem(b, "      ", "serial", d->serial);
	if (cdrom || d->readonly)
		buf_puts(b, "      <readonly/>\n");
	buf_puts(b, "    </disk>\n");
}

static void
render_nic(struct buf *b, const struct domxml_nic *n)
{
	char mac[18];

	for (int i = 0; i < 17; i++)
		mac[i] = (n->mac[i] >= 'A' && n->mac[i] <= 'F') ?
		    (char)(n->mac[i] - 'A' + 'a') : n->mac[i];
	mac[17] = '\0';
	buf_puts(b, "    <interface type='bridge'>\n      <mac address='");
	xb_esc(b, mac);
	buf_puts(b, "'/>\n      <source bridge='");
	xb_esc(b, n->bridge);
	buf_puts(b, "'/>\n");
	if (n->target) {
		buf_puts(b, "      <target dev='");
		xb_esc(b, n->target);
		buf_puts(b, "'/>\n");
	}
	buf_puts(b, "      <model type='");
	xb_esc(b, n->model ? n->model : "virtio");
	buf_puts(b, "'/>\n");
	if (n->mtu)
		buf_printf(b, "      <mtu size='%u'/>\n", n->mtu);
	buf_puts(b, "    </interface>\n");
}

char *
domxml_build_nic(const struct domxml_nic *n)
{
	struct buf b = { 0 };

	if (n == NULL || check_nic(n, 0) == -1)
		return NULL;
	render_nic(&b, n);
	if (b.failed) {
		buf_free(&b);
		err_set(TS_ENOMEM, "domxml: out of memory rendering a NIC");
		return NULL;
	}
	return (char *)b.data;
}

int
domxml_macs(const char *xml, char macs[][18], size_t max, size_t *n)
{
	const char *p = xml, *end, *m;

	*n = 0;
	while (p != NULL && (p = strstr(p, "<interface")) != NULL) {
		if ((end = strstr(p, "</interface>")) == NULL)
			break;
		/* libvirt writes <mac address='..'/> with single quotes. */
		m = strstr(p, "<mac address='");
		if (m != NULL && m < end) {
			m += strlen("<mac address='");
			if (strlen(m) >= 17 && m[17] == '\'') {
				if (*n == max) {
					err_set(TS_EINVALID, "domxml: more than "
					    "%zu interfaces", max);
					return -1;
				}
				for (int k = 0; k < 17; k++)
					macs[*n][k] = (m[k] >= 'A' &&
					    m[k] <= 'F') ? (char)(m[k] - 'A' +
					    'a') : m[k];
				macs[*n][17] = '\0';
				(*n)++;
			}
		}
		p = end + strlen("</interface>");
	}
	return 0;
}

unsigned
domxml_vnc_port(const char *xml)
{
	const char *p = xml, *end, *q;
	unsigned long v = 0;

	while ((p = strstr(p, "<graphics ")) != NULL) {
		if ((end = strchr(p, '>')) == NULL)
			return 0;
		q = strstr(p, " type='vnc'");
		if (q == NULL || q > end) {
			p = end;
			continue;
		}
		if ((q = strstr(p, " port='")) == NULL || q > end)
			return 0;
		q += strlen(" port='");
		for (int k = 0; k < 6 && *q >= '0' && *q <= '9'; k++, q++)
			v = v * 10 + (unsigned long)(*q - '0');
		return *q == '\'' && v >= 1 && v <= 65535 ? (unsigned)v : 0;
	}
	return 0;
}

/* Validated before: the portal parses. */
static void
render_volume(struct buf *b, const struct domxml_volume *v)
{
	char host[256];
	unsigned port = 0;

	(void)parse_portal(v->portal, host, &port);
	buf_puts(b, "    <disk type='network' device='disk'>\n");
	buf_puts(b, "      <driver name='qemu' type='raw' cache='none'/>\n");
	buf_puts(b, "      <source protocol='iscsi' name='");
	xb_esc(b, v->iqn);
	buf_printf(b, "/%u'>\n        <host name='", v->lun);
	xb_esc(b, host);
	buf_printf(b, "' port='%u'/>\n", port);
	buf_puts(b, "        <initiator>\n          <iqn name='");
	xb_esc(b, v->initiator);
	buf_puts(b, "'/>\n        </initiator>\n      </source>\n");
	if (v->chap_user != NULL && v->chap_user[0] != '\0') {
		buf_puts(b, "      <auth username='");
		xb_esc(b, v->chap_user);
		buf_puts(b, "'>\n        <secret type='iscsi' usage='"
		    DOMXML_SECRET_PREFIX);
		xb_esc(b, v->attachment_id);
		buf_puts(b, "'/>\n      </auth>\n");
	}
	buf_puts(b, "      <target dev='");
	xb_esc(b, v->target);
	buf_puts(b, "' bus='virtio'/>\n");
	if (v->boot)
		buf_puts(b, "      <boot order='1'/>\n");
	xb_elem(b, "      ", "serial", v->volume_id);
	if (v->readonly)
		buf_puts(b, "      <readonly/>\n");
	buf_puts(b, "    </disk>\n");
}

char *
domxml_build_volume(const struct domxml_volume *v)
{
	struct buf b = { 0 };

	if (v == NULL || check_volume(v, 0) == -1)
		return NULL;
	render_volume(&b, v);
	if (b.failed) {
		buf_free(&b);
		err_set(TS_ENOMEM, "domxml: out of memory rendering a volume");
		return NULL;
	}
	return (char *)b.data;
}

/* The text of <tag>..</tag> inside [p, end) into out (cap bytes, cut);
 * 0 if absent. */
static int
elem_text(const char *p, const char *end, const char *open,
    const char *close, char *out, size_t cap)
{
	const char *s = memmem(p, (size_t)(end - p), open, strlen(open)), *e;
	size_t n;

	out[0] = '\0';
	if (s == NULL)
		return 0;
	s += strlen(open);
	if ((e = memmem(s, (size_t)(end - s), close, strlen(close))) == NULL)
		return 0;
	n = (size_t)(e - s);
	if (n >= cap)
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

/* The next <disk type='network'> element from p; *end is just past its
 * end tag. NULL when there is none. */
static const char *
next_netdisk(const char *p, const char **end)
{
	while ((p = strstr(p, "<disk ")) != NULL) {
		const char *gt = strchr(p, '>'), *e;

		if (gt == NULL || (e = strstr(gt, "</disk>")) == NULL)
			return NULL;
		*end = e + strlen("</disk>");
		if (memmem(p, (size_t)(gt - p), "type='network'", 14) != NULL ||
		    memmem(p, (size_t)(gt - p), "type=\"network\"", 14) != NULL)
			return p;
		p = *end;
	}
	return NULL;
}

#define SECRET_ATTR	"usage='" DOMXML_SECRET_PREFIX
#define TARGET_ATTR	"<target dev='"

int
domxml_volumes(const char *xml, struct domxml_voldisk *out, size_t max,
    size_t *n)
{
	const char *p = xml, *end;

	*n = 0;
	while (p != NULL && (p = next_netdisk(p, &end)) != NULL) {
		struct domxml_voldisk v;
		char usage[128];
		const char *u;

		memset(&v, 0, sizeof(v));
		if (elem_text(p, end, "<serial>", "</serial>", v.volume_id,
		    sizeof(v.volume_id)) && uuid_valid(v.volume_id)) {
			if (*n == max) {
				err_set(TS_EINVALID, "domxml: more than %zu "
				    "volume disks", max);
				return -1;
			}
			/* searches bounded by the element: linear in all */
			if ((u = memmem(p, (size_t)(end - p), SECRET_ATTR,
			    strlen(SECRET_ATTR))) != NULL) {
				u += strlen(SECRET_ATTR);
				snprintf(usage, sizeof(usage), "%.*s",
				    (int)((size_t)(end - u) < 36 ?
				    (size_t)(end - u) : 36), u);
				if (uuid_valid(usage))
					memcpy(v.attachment_id, usage, 37);
			}
			if ((u = memmem(p, (size_t)(end - p), TARGET_ATTR,
			    strlen(TARGET_ATTR))) != NULL) {
				size_t tl;

				u += strlen(TARGET_ATTR);
				tl = strcspn(u, "'");
				if (tl < sizeof(v.target) && u + tl < end)
					memcpy(v.target, u, tl);
			}
			out[(*n)++] = v;
		}
		p = end;
	}
	return 0;
}

int
domxml_local_disks(const char *xml, char out[][8], size_t max, size_t *n)
{
	const char *p = xml;

	*n = 0;
	while ((p = strstr(p, "<disk ")) != NULL) {
		const char *gt = strchr(p, '>'), *end, *u;
		size_t tl;

		if (gt == NULL || (end = strstr(gt, "</disk>")) == NULL)
			break;
		if (memmem(p, (size_t)(gt - p), "type='file'", 11) != NULL &&
		    memmem(p, (size_t)(gt - p), "device='disk'", 13) != NULL &&
		    memmem(gt, (size_t)(end - gt), "<readonly/>", 11) == NULL &&
		    (u = memmem(gt, (size_t)(end - gt), TARGET_ATTR,
		    strlen(TARGET_ATTR))) != NULL) {
			u += strlen(TARGET_ATTR);
			tl = strcspn(u, "'");
			if (tl > 0 && tl < 8 && u + tl < end) {
				if (*n == max) {
					err_set(TS_EINVALID, "domxml: more than "
					    "%zu local disks", max);
					return -1;
				}
				memcpy(out[*n], u, tl);
				out[(*n)++][tl] = '\0';
			}
		}
		p = end;
	}
	return 0;
}

char *
domxml_volume_element(const char *xml, const char *volume_id)
{
	const char *p = xml, *end;
	char serial[40];
	char *copy;

	while (p != NULL && (p = next_netdisk(p, &end)) != NULL) {
		if (elem_text(p, end, "<serial>", "</serial>", serial,
		    sizeof(serial)) && strcmp(serial, volume_id) == 0) {
			if ((copy = strndup(p, (size_t)(end - p))) == NULL)
				err_set(TS_ENOMEM, "domxml: out of memory");
			return copy;
		}
		p = end;
	}
	err_set(TS_ENOT_FOUND, "domxml: no disk of volume %.40s", volume_id);
	return NULL;
}

static void
render_devices(struct buf *b, const struct domxml_spec *s,
    char targets[][4])
{
	bool scsi = false;

	buf_puts(b, "  <devices>\n");
	for (size_t i = 0; i < s->ndisks; i++) {
		render_disk(b, &s->disks[i], targets[i]);
		scsi = scsi || s->disks[i].bus == DOMXML_BUS_SCSI;
	}
	for (size_t i = 0; i < s->nvolumes; i++)
		render_volume(b, &s->volumes[i]);
	if (scsi)
		buf_puts(b,
		    "    <controller type='scsi' model='virtio-scsi'/>\n");
	for (size_t i = 0; i < s->nnics; i++)
		render_nic(b, &s->nics[i]);
	buf_puts(b, "    <serial type='pty'>\n");
	if (s->console_log) {
		buf_puts(b, "      <log file='");
		xb_esc(b, s->console_log);
		buf_puts(b, "' append='on'/>\n");
	}
	buf_puts(b, "      <target port='0'/>\n    </serial>\n");
	buf_puts(b, "    <console type='pty'>\n"
	    "      <target type='serial' port='0'/>\n    </console>\n");
	if (s->vnc_listen) {
		/* An absolute pointer device keeps the VNC cursor in step. */
		buf_puts(b, "    <input type='tablet' bus='usb'/>\n");
		buf_puts(b, "    <graphics type='vnc' autoport='yes' listen='");
		xb_esc(b, s->vnc_listen);
		buf_puts(b, "'>\n      <listen type='address' address='");
		xb_esc(b, s->vnc_listen);
		buf_puts(b, "'/>\n    </graphics>\n");
	}
	buf_puts(b, "    <memballoon model='virtio'>\n"
	    "      <stats period='10'/>\n    </memballoon>\n");
	buf_puts(b, "  </devices>\n");
}

char *
domxml_build(const struct domxml_spec *s)
{
	struct buf b = { 0 };
	char (*targets)[4] = NULL;

	if (s == NULL) {
		err_set(TS_EINVALID, "domxml: no spec");
		return NULL;
	}
	if (check_spec(s) == -1)
		return NULL;
	if (s->ndisks > 0 &&
	    (targets = calloc(s->ndisks, sizeof(*targets))) == NULL) {
		err_set(TS_ENOMEM, "domxml: out of memory");
		return NULL;
	}
	if (assign_targets(s, targets) == -1) {
		free(targets);
		return NULL;
	}

	buf_printf(&b, "<domain type='%s'>\n",
	    s->virt == DOMXML_VIRT_KVM ? "kvm" : "qemu");
	buf_puts(&b, "  <name>");
	if (s->name) {
		xb_esc(&b, s->name);
	} else {
		buf_puts(&b, DOMXML_NAME_PREFIX);
		xb_esc(&b, s->uuid);
	}
	buf_puts(&b, "</name>\n");
	xb_elem(&b, "  ", "uuid", s->uuid);
	render_metadata(&b, s);
	buf_printf(&b, "  <memory unit='MiB'>%llu</memory>\n",
	    (unsigned long long)s->memory_mb);
	buf_printf(&b, "  <currentMemory unit='MiB'>%llu</currentMemory>\n",
	    (unsigned long long)s->memory_mb);
	buf_printf(&b, "  <vcpu placement='static'>%u</vcpu>\n", s->vcpus);
	render_os(&b, s);
	render_devices(&b, s, targets);
	buf_puts(&b, "</domain>\n");
	free(targets);
	if (b.failed) {
		buf_free(&b);
		err_set(TS_ENOMEM, "domxml: out of memory");
		return NULL;
	}
	return (char *)b.data;
}

/* Text for the test driver's document: escaped, and characters XML 1.0
 * cannot carry at all (controls other than tab and newline) dropped, as
 * that document is not validated. NULL is empty. */
static void
xb_esc_lax(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char one[2] = { *s, '\0' };

		if (c < 0x20 && c != '\t' && c != '\n')
			continue;
		xb_esc(b, one);
	}
}

char *
domxml_build_test(const struct domxml_spec *s)
{
	struct buf b = { 0 };

	if (s == NULL || s->uuid == NULL) {
		err_set(TS_EINVALID, "domxml: no spec");
		return NULL;
	}
	buf_puts(&b, "<domain type='test'><name>");
	xb_esc_lax(&b, s->name);
	buf_puts(&b, "</name><uuid>");
	xb_esc_lax(&b, s->uuid);
	buf_printf(&b, "</uuid><memory unit='MiB'>%llu</memory><vcpu>%u</vcpu>",
	    (unsigned long long)s->memory_mb, s->vcpus);
	buf_puts(&b, "<metadata><" DOMXML_NS_PREFIX ":instance xmlns:"
	    DOMXML_NS_PREFIX "='" DOMXML_NS "'>");
	buf_printf(&b, "<" DOMXML_NS_PREFIX ":generation>%llu</"
	    DOMXML_NS_PREFIX ":generation>", (unsigned long long)s->generation);
	buf_puts(&b, "<" DOMXML_NS_PREFIX ":project>");
	xb_esc_lax(&b, s->project_id);
	buf_puts(&b, "</" DOMXML_NS_PREFIX ":project><" DOMXML_NS_PREFIX
	    ":user>");
	xb_esc_lax(&b, s->user_id);
	buf_puts(&b, "</" DOMXML_NS_PREFIX ":user><" DOMXML_NS_PREFIX
	    ":flavor>");
	xb_esc_lax(&b, s->flavor_name);
	buf_puts(&b, "</" DOMXML_NS_PREFIX ":flavor></" DOMXML_NS_PREFIX
	    ":instance></metadata>");
	buf_puts(&b, "<os><type arch='x86_64'>hvm</type></os>");
	if (s->nvolumes > 0 && check_volumes(s->volumes, s->nvolumes, NULL,
	    0) == -1) {
		buf_free(&b);
		return NULL;
	}
	if (s->nnics > 0 || s->nvolumes > 0) {
		/* The test driver runs nothing, but it keeps the interfaces:
		 * they are how the agent tells which NICs a guest has. */
		if (s->nnics > DOMXML_NICS_MAX ||
		    (s->nnics > 0 && s->nics == NULL)) {
			buf_free(&b);
			err_set(TS_EINVALID, "nics: at most %d", DOMXML_NICS_MAX);
			return NULL;
		}
		buf_puts(&b, "<devices>\n");
		for (size_t i = 0; i < s->nnics; i++) {
			if (check_nic(&s->nics[i], i) == -1) {
				buf_free(&b);
				return NULL;
			}
			render_nic(&b, &s->nics[i]);
		}
		/* Kept too, for the same reason: the volumes a report lists. */
		for (size_t i = 0; i < s->nvolumes; i++)
			render_volume(&b, &s->volumes[i]);
		buf_puts(&b, "</devices>");
	}
	buf_puts(&b, "</domain>");
	if (b.failed) {
		buf_free(&b);
		err_set(TS_ENOMEM, "domxml: out of memory rendering %s",
		    s->uuid);
		return NULL;
	}
	return (char *)b.data;
}

/* ------------------------------------------------------------ parsing */

#define DEC(...) do { err_set(TS_EDECODE, __VA_ARGS__); return -1; } while (0)

/* Appends the UTF-8 encoding of code point cp to out (room checked by the
 * caller: at most 4 bytes). */
static size_t
put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes the character data s[0..n) (entities included) into out, which
 * has room for DOMXML_TEXT_MAX bytes plus the NUL. */
static int
decode_text(const char *field, const char *s, size_t n, char *out)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' },
		{ "quot", '"' }, { "apos", '\'' },
	};
	size_t o = 0, i = 0;

	while (i < n) {
		char tmp[4];
		size_t add;

		if (s[i] == '<')
			DEC("domxml: %s: markup inside the text", field);
		if (s[i] != '&') {
			tmp[0] = s[i++];
			add = 1;
		} else {
			const char *semi = memchr(s + i, ';', n - i);
			size_t elen;
			unsigned k;

			if (semi == NULL || (elen = (size_t)(semi - s) - i - 1) == 0 ||
			    elen > 8)
				DEC("domxml: %s: bad character reference", field);
			if (s[i + 1] == '#') {
				char num[9], *end;
				unsigned long cp;
				int base = 10;
				size_t off = 2;

				if (s[i + 2] == 'x') {
					base = 16;
					off = 3;
				}
				if (elen + 1 <= off)
					DEC("domxml: %s: bad character reference", field);
				memcpy(num, s + i + off, elen + 1 - off);
				num[elen + 1 - off] = '\0';
				if (strspn(num, base == 16 ? "0123456789abcdefABCDEF" :
				    "0123456789") != strlen(num))
					DEC("domxml: %s: bad character reference", field);
				cp = strtoul(num, &end, base);
				if (*end != '\0' || cp == 0 || cp > 0x10ffff ||
				    (cp >= 0xd800 && cp <= 0xdfff))
					DEC("domxml: %s: bad character reference", field);
				add = put_utf8(tmp, cp);
			} else {
				for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
					if (strlen(ents[k].name) == elen &&
					    memcmp(ents[k].name, s + i + 1, elen) == 0)
						break;
				if (k == sizeof(ents) / sizeof(ents[0]))
					DEC("domxml: %s: unknown entity", field);
				tmp[0] = ents[k].c;
				add = 1;
			}
			i += elen + 2;
		}
		if (o + add > DOMXML_TEXT_MAX)
			DEC("domxml: %s: longer than %d bytes", field,
			    DOMXML_TEXT_MAX);
		memcpy(out + o, tmp, add);
		o += add;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The prefix bound to DOMXML_NS on the start tag of the owner element:
 * finds `xmlns:P="NS"` (either quote) inside a start tag named `P:instance`.
 * Sets *body to just after that start tag and *selfclose if it ends in
 * "/>". Returns the prefix length, 0 if not found, -1 if malformed.
 */
static int
find_owner(const char *xml, char *prefix, size_t prefix_cap,
    const char **body, bool *selfclose)
{
	const char *p = xml;

	while ((p = strstr(p, "xmlns:")) != NULL) {
		const char *name = p + 6, *q, *tag, *end;
		size_t plen;
		char quote;

		p = name;
		plen = 0;
		while (is_word_char(name[plen]) && name[plen] != '.')
			plen++;
		q = name + plen;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (plen == 0 || plen >= prefix_cap || *q != '=')
			continue;
		q++;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (*q != '\'' && *q != '"')
			continue;
		quote = *q++;
		if (strncmp(q, DOMXML_NS, strlen(DOMXML_NS)) != 0 ||
		    q[strlen(DOMXML_NS)] != quote)
			continue;
		/* The start tag holding the declaration. */
		for (tag = p; tag > xml && *tag != '<' && *tag != '>'; tag--)
			;
		if (*tag != '<' || strncmp(tag + 1, name, plen) != 0 ||
		    strncmp(tag + 1 + plen, ":instance", 9) != 0 ||
		    is_word_char(tag[1 + plen + 9]))
			continue;
		/* Its end: skip quoted values, which may hold '>'. */
		for (end = q + strlen(DOMXML_NS) + 1; *end && *end != '>'; end++) {
			if (*end == '\'' || *end == '"') {
				const char *close = strchr(end + 1, *end);

				if (close == NULL)
					DEC("domxml: unterminated attribute");
				end = close;
			}
		}
		if (*end != '>')
			DEC("domxml: unterminated metadata start tag");
		memcpy(prefix, name, plen);
		prefix[plen] = '\0';
		*selfclose = end[-1] == '/';
		*body = end + 1;
		return (int)plen;
	}
	return 0;
}

/* Text of <P:local>...</P:local> between body and limit into out ("" if
 * the element is absent or empty, <P:local/> included). */
static int
child_text(const char *body, const char *limit, const char *prefix,
    const char *local, char *out)
{
	char open[96], close[96], empty[96];
	const char *s, *e, *p;

	snprintf(open, sizeof(open), "<%s%s%s>", prefix, *prefix ? ":" : "",
	    local);
	snprintf(close, sizeof(close), "</%s%s%s>", prefix, *prefix ? ":" : "",
	    local);
	snprintf(empty, sizeof(empty), "<%s%s%s/>", prefix, *prefix ? ":" : "",
	    local);
	out[0] = '\0';
	if ((p = strstr(body, empty)) != NULL && p < limit)
		return 0;
	if ((s = strstr(body, open)) == NULL || s >= limit)
		return 0;
	s += strlen(open);
	if ((e = strstr(s, close)) == NULL || e > limit)
		DEC("domxml: <%s is not closed", open + 1);
	return decode_text(local, s, (size_t)(e - s), out);
}

int
domxml_meta_parse(const char *xml, struct domxml_meta *m)
{
	char prefix[64], close[96], gen[DOMXML_TEXT_MAX + 1];
	const char *body, *limit, *g;
	bool selfclose = false;
	int r;

	memset(m, 0, sizeof(*m));
	if (xml == NULL) {
		err_set(TS_EINVALID, "domxml: no XML");
		return -1;
	}
	if ((r = find_owner(xml, prefix, sizeof(prefix), &body,
	    &selfclose)) == -1)
		return -1;
	if (r == 0) {
		/* virDomainGetMetadata() hands back the element without its
		 * namespace: a bare <instance> root. */
		const char *p = xml + strspn(xml, " \t\r\n");

		if (strncmp(p, "<instance>", 10) == 0) {
			body = p + 10;
		} else if (strncmp(p, "<instance/>", 11) == 0) {
			return 0;
		} else {
			err_set(TS_ENOT_FOUND, "domxml: no %s metadata",
			    DOMXML_NS);
			return -1;
		}
		prefix[0] = '\0';
	}
	if (selfclose)
		return 0;
	snprintf(close, sizeof(close), "</%s%sinstance>", prefix,
	    *prefix ? ":" : "");
	if ((limit = strstr(body, close)) == NULL)
		DEC("domxml: metadata element is not closed");
	if (child_text(body, limit, prefix, "generation", gen) == -1 ||
	    child_text(body, limit, prefix, "project", m->project_id) == -1 ||
	    child_text(body, limit, prefix, "user", m->user_id) == -1 ||
	    child_text(body, limit, prefix, "flavor", m->flavor_name) == -1 ||
	    child_text(body, limit, prefix, "image", m->image_id) == -1 ||
	    child_text(body, limit, prefix, "kernel", m->kernel_id) == -1 ||
	    child_text(body, limit, prefix, "ramdisk", m->ramdisk_id) == -1)
		return -1;
	g = gen;
	while (*g == ' ' || *g == '\n' || *g == '\t' || *g == '\r')
		g++;
	if (*g != '\0') {
		uint64_t v = 0;

		for (; *g >= '0' && *g <= '9'; g++) {
			if (v > (UINT64_MAX - (uint64_t)(*g - '0')) / 10)
				DEC("domxml: generation out of range");
			v = v * 10 + (uint64_t)(*g - '0');
		}
		while (*g == ' ' || *g == '\n' || *g == '\t' || *g == '\r')
			g++;
		if (*g != '\0' || gen[0] == '\0')
			DEC("domxml: generation is not a number");
		m->generation = v;
	}
	return 0;
}
