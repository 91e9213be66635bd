/*
 * driver: libvirt guests for the agent's compute handler; see driver.h.
 *
 * The libvirt life cycle (define, start, shutdown, destroy, managed save,
 * undefine) and the power-state moves are the same for every virt type
 * and live here once, on the agent's one connection (virt/virt.c, which
 * also says what power state a domain is in). What differs per type is
 * in a backend: how a domain definition is rendered from a spec (and what
 * must exist on disk before it is defined), what a failed definition
 * leaves to undo, where the console log comes from and what a deleted
 * guest leaves to clean: virt/backend_test.c (libvirt's test driver,
 * synthetic console) and virt/backend_qemu.c (qemu/kvm: disks, config
 * drive, image cache, serial log). A soft reboot of a qemu/kvm guest is
 * Nova's: a graceful shutdown and a fresh start, so that a guest ignoring
 * the ACPI button is powered off after shutdown_timeout and still reboots
 * (libvirt's own ACPI reboot would silently do nothing to it).
 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "clock.h"
#include "err.h"
#include "ifname.h"
#include "log.h"
#include "config.h"
#include "image/imgcache.h"
#include "storage/disk.h"
#include "uuid.h"
#include "virt/backend_qemu.h"
#include "virt/backend_test.h"
#include "virt/domxml.h"
#include "virt/driver.h"
#include "virt/gueststats.h"
#include "virt/virt.h"

#define CONSOLE_CAP		(1024 * 1024)	/* bytes kept / returned */
#define POLL_MS			100
#define SHUTDOWN_RESEND_MS	5000	/* ACPI request repeated (Nova) */
#define UPLOAD_TIMEOUT_MS	30000	/* image API: connect, silence */
#define TEST_SNAPSHOT_SIZE	(1024 * 1024)	/* the test backend's disk */

struct driver {
	struct virt		*virt;		/* the connection (borrowed) */
	char			*instances_path;
	char			*state_path;
	enum driver_virt_type	 virt_type;
	int			 shutdown_timeout;
	/* exactly one backend */
	struct backend_test	*test;
	struct backend_qemu	*qemu;
	unsigned		 reboot_flags;	/* virDomainReboot() */
	unsigned		 shutdown_flags; /* virDomainShutdownFlags() */
	/* Snapshot uploads: the image API at [image] api_url (NULL: not
	 * configured, snapshots fail). */
	struct imgcache_http	*upload;
};

static int	secrets_set(struct driver *, virConnectPtr,
		    const struct driver_spec *, int made[]);
static void	secrets_undo(virConnectPtr, const struct driver_spec *,
		    const int made[]);
static void	secrets_collect(struct driver *);

static const char *
lverr(void)
{
	return virt_last_error();
}

/* A line of the test backend's synthetic console; nothing for the other
 * backends (their guests have a real one). */
static void __attribute__((format(printf, 3, 4)))
synth(struct driver *d, const char *uuid, const char *fmt, ...)
{
	va_list ap;

	if (d->test == NULL)
		return;
	va_start(ap, fmt);
	backend_test_logv(d->test, uuid, fmt, ap);
	va_end(ap);
}

int
driver_virt_type_parse(const char *s, enum driver_virt_type *t)
{
	if (strcmp(s, "test") == 0)
		*t = DRIVER_VIRT_TEST;
	else if (strcmp(s, "qemu") == 0)
		*t = DRIVER_VIRT_QEMU;
	else if (strcmp(s, "kvm") == 0)
		*t = DRIVER_VIRT_KVM;
	else {
		err_set(TS_EINVALID, "unknown virt type '%s'", s);
		return -1;
	}
	return 0;
}

struct driver *
driver_new(struct virt *virt, const struct driver_opts *o)
{
	struct driver *d;

	if (virt == NULL || o->instances_path == NULL) {
		err_set(TS_EINVALID, "driver: virt and instances_path needed");
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return NULL;
	}
	d->virt = virt;
	d->virt_type = o->virt_type;
	d->shutdown_timeout = o->shutdown_timeout > 0 ? o->shutdown_timeout :
	    60;
	if ((d->instances_path = strdup(o->instances_path)) == NULL ||
	    (d->state_path = strdup(o->state_path ? o->state_path : "")) ==
	    NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		driver_free(&d);
		return NULL;
	}
	switch (o->virt_type) {
	case DRIVER_VIRT_TEST:
		if ((d->test = backend_test_new()) == NULL) {
			driver_free(&d);
			return NULL;
		}
		break;
	case DRIVER_VIRT_QEMU:
	case DRIVER_VIRT_KVM:
		d->reboot_flags = VIR_DOMAIN_REBOOT_ACPI_POWER_BTN;
		d->shutdown_flags = VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN;
		if ((d->qemu = backend_qemu_new(virt, o,
		    o->virt_type == DRIVER_VIRT_KVM)) == NULL) {
			driver_free(&d);
			return NULL;
		}
		break;
	default:
		err_set(TS_ENOT_IMPLEMENTED, "driver: virt type %d has no "
		    "implementation in this build (only test:// URIs)",
		    (int)o->virt_type);
		driver_free(&d);
		return NULL;
	}
	if (o->cfg != NULL && o->image_source == NULL &&
	    config_get_str(o->cfg, "image", "api_url")[0] != '\0') {
		if ((d->upload = imgcache_http_new(config_get_str(o->cfg,
		    "image", "api_url"), config_get_str(o->cfg, "image",
		    "ca_file"), UPLOAD_TIMEOUT_MS)) == NULL ||
		    (o->host != NULL && o->host[0] != '\0' &&
		    imgcache_http_set_host(d->upload, o->host) == -1)) {
			err_prefix("[image] api_url: ");
			driver_free(&d);
			return NULL;
		}
	}
	if (d->test != NULL && virt_ensure(d->virt) == -1) {
		driver_free(&d);
		return NULL;
	}
	secrets_collect(d);
	return d;
}

void
driver_free(struct driver **dp)
{
	struct driver *d = *dp;

	if (d == NULL)
		return;
	backend_qemu_free(&d->qemu);
	backend_test_free(&d->test);
	imgcache_http_free(&d->upload);
	free(d->instances_path);
	free(d->state_path);
	free(d);
	*dp = NULL;
}

/* ---------------------------------------------------------------- guests */

static int
uuid_ok(const char *uuid)
{
	if (!uuid_valid(uuid)) {
		err_set(TS_EINVALID, "driver: '%.40s' is not a UUID", uuid);
		return 0;
	}
	return 1;
}

/* The domain of a UUID: NULL with TS_ENOT_FOUND (or TS_EUNAVAILABLE). */
static virDomainPtr
dom_get(virConnectPtr c, const char *uuid)
{
	virDomainPtr dom = virDomainLookupByUUIDString(c, uuid);

	if (dom == NULL) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			err_set(TS_ENOT_FOUND, "no guest %s on this host", uuid);
		else
			err_set(TS_EUNAVAILABLE, "libvirt: look-up of %s: %s",
			    uuid, lverr());
	}
	return dom;
}

/* Generation from the metadata; *managed tells whether it is ours. */
static uint64_t
dom_generation(virDomainPtr dom, int *managed)
{
	char *m = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
	    DRIVER_XMLNS, 0);
	const char *p;
	uint64_t g = 0;

	*managed = 0;
	if (m == NULL)
		return 0;
	*managed = 1;
	/* Our own element, read back as libvirt formats it. */
	if ((p = strstr(m, "generation>")) != NULL)
		g = strtoull(p + 11, NULL, 10);
	free(m);
	return g;
}

static int
guest_fill(virDomainPtr dom, struct driver_guest *g)
{
	virDomainInfo di;
	const char *name, *word;

	memset(g, 0, sizeof(*g));
	if (virDomainGetUUIDString(dom, g->uuid) < 0 ||
	    (name = virDomainGetName(dom)) == NULL ||
	    virDomainGetInfo(dom, &di) < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: domain info: %s", lverr());
		return -1;
	}
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->power_state = virt_domain_power(dom, &word);
	g->generation = dom_generation(dom, &g->managed);
	g->vcpus = di.nrVirtCpu;
	g->memory_mb = di.maxMem / 1024;
	return 0;
}

/* Runs fill on the domain of uuid, with a connection and a domain
 * handle held only for the call; -1 if there is no such domain. */
static int
on_domain(struct driver *d, const char *uuid,
    int (*fill)(virDomainPtr, void *), void *arg)
{
	virConnectPtr c;
	virDomainPtr dom;
	int rc;

	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	rc = fill(dom, arg);
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

static int
fill_guest(virDomainPtr dom, void *arg)
{
	return guest_fill(dom, arg);
}

static int
fill_stats(virDomainPtr dom, void *arg)
{
	return gueststats_fill(dom, arg);
}

int
driver_guest_get(struct driver *d, const char *uuid, struct driver_guest *g)
{
	return on_domain(d, uuid, fill_guest, g);
}

/*
 * The snapshot's data: qemu/kvm copy the root disk with the guest paused
 * if it runs (qemu drains and flushes its I/O when it stops, so the copy
 * is what the guest had written; resumed right after the copy, before the
 * upload: the guest stops for the copy only); the test backend, whose
 * guests have no disks, makes a small blank qcow2 so that the API flow is
 * whole. Then the upload, and the file goes whatever happened.
 */
int
driver_guest_snapshot(struct driver *d, const char *uuid,
    const char *image_id, const char *token)
{
	struct driver_guest g;
	char path[DISK_PATH_MAX];
	int rc, paused = 0;

	if (d->upload == NULL) {
		err_set(TS_EUNAVAILABLE, "driver: no image API ([image] "
		    "api_url) to upload a snapshot to");
		return -1;
	}
	if (!uuid_ok(uuid) || !uuid_ok(image_id) ||
	    driver_guest_get(d, uuid, &g) == -1)
		return -1;
	if (d->qemu != NULL) {
		if (g.power_state == VIRT_POWER_RUNNING) {
			if (driver_guest_set_power(d, uuid, VIRT_POWER_PAUSED) ==
			    -1)
				return -1;
			paused = 1;
		}
		rc = backend_qemu_snapshot_copy(d->qemu, uuid, image_id, path,
		    sizeof(path));
		if (paused && driver_guest_set_power(d, uuid,
		    VIRT_POWER_RUNNING) == -1) {
			/* the host's report shows it paused; the controller
			 * moves it back to running */
			log_warnx("instance %s: not resumed after its snapshot: "
			    "%s", uuid, err_msg());
			if (rc == 0)
				err_set(TS_EIO, "driver: instance %s not resumed "
				    "after its snapshot", uuid);
		}
	} else {
		rc = 0;
		if ((size_t)snprintf(path, sizeof(path), "%s/.snapshot-%s",
		    d->instances_path, image_id) >= sizeof(path)) {
			err_set(TS_EINVALID, "driver: instances_path too long");
			rc = -1;
		} else if (unlink(path) == -1 && errno != ENOENT) {
			err_set_errno(TS_EIO, "driver: %s", path);
			rc = -1;
		}
		if (rc == 0)
			rc = disk_blank_create(path, "qcow2", TEST_SNAPSHOT_SIZE);
		synth(d, uuid, "tinystack: snapshot into image %s", image_id);
	}
	if (rc == -1)
		return -1;
	rc = imgcache_http_upload(d->upload, image_id, token, path);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("driver: removing snapshot file %s", path);
	return rc;
}

int
driver_guest_stats(struct driver *d, const char *uuid,
    struct msg_guest_stats *out)
{
	int rc;

	if ((rc = on_domain(d, uuid, fill_stats, out)) == -1)
		return -1;
	out->hypervisor = (char *)(d->virt_type == DRIVER_VIRT_KVM ? "kvm" :
	    d->virt_type == DRIVER_VIRT_QEMU ? "qemu" : "test");
	/* backend_qemu builds a config drive for every guest; the test
	 * backend none. */
	out->config_drive = d->qemu != NULL;
	return rc;
}

static int
cmp_guest(const void *a, const void *b)
{
	return strcmp(((const struct driver_guest *)a)->uuid,
	    ((const struct driver_guest *)b)->uuid);
}

int
driver_guests_list(struct driver *d, struct driver_guest **out, size_t *n)
{
	virConnectPtr c;
	virDomainPtr *doms = NULL;
	struct driver_guest *gs;
	int nd;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if ((c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((nd = virConnectListAllDomains(c, &doms, 0)) < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: list domains: %s", lverr());
		virConnectClose(c);
		return -1;
	}
	if ((gs = calloc(nd ? (size_t)nd : 1, sizeof(*gs))) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		k = (size_t)-1;
	}
	for (int i = 0; i < nd; i++) {
		/* A domain may vanish between listing and asking: skip it. */
		if (gs != NULL && guest_fill(doms[i], &gs[k]) == 0)
			k++;
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(c);
	if (gs == NULL)
		return -1;
	if (k > 1)
		qsort(gs, k, sizeof(*gs), cmp_guest);
	*out = gs;
	*n = k;
	return 0;
}

/* Makes what the guest needs and (re)defines it; a failure undoes what
 * this call made. */
static int
define(struct driver *d, virConnectPtr c, const struct driver_spec *s)
{
	struct backend_qemu_made m = { 0 };
	virDomainPtr dom = NULL;
	char *xml = NULL;
	int made[DOMXML_VOLUMES_MAX] = { 0 };
	int64_t t0 = clock_mono_ms(), t1;
	int rc;

	/* Before the definition refers to them (qemu looks them up when the
	 * guest starts). */
	if (secrets_set(d, c, s, made) == -1) {
		secrets_undo(c, s, made);
		return -1;
	}
	if (d->qemu != NULL)
		rc = backend_qemu_render(d->qemu, s, &m, &xml);
	else
		rc = backend_test_render(d->test, s, &xml);
	if (rc == 0) {
		t1 = clock_mono_ms();
		if ((dom = virDomainDefineXML(c, xml)) == NULL)
			err_set(TS_EIO, "libvirt: define %s: %s", s->uuid,
			    lverr());
		else
			log_debug("guest %s: prepared in %lld ms, defined in "
			    "%lld ms", s->uuid, (long long)(t1 - t0),
			    (long long)(clock_mono_ms() - t1));
	}
	free(xml);
	if (dom == NULL) {
		if (d->qemu != NULL) {
			enum ts_errcode code = err_code();
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", err_msg());
			backend_qemu_undo(d->qemu, s, &m);
			err_set(code, "%s", msg);
		}
		secrets_undo(c, s, made);
		return -1;
	}
	virDomainFree(dom);
	return 0;
}

/* ------------------------------------------------------------------ NICs */

#define NIC_BRIDGE_WAIT_MS	10000	/* as a build waits (backend_qemu) */
#define NIC_BRIDGE_POLL_MS	250

int
driver_nic_host(const struct driver_nic *n, struct driver_nic_host *h)
{
	if (n->bridge != NULL && n->bridge[0] != '\0')
		snprintf(h->bridge, sizeof(h->bridge), "%s", n->bridge);
	else if (ifname_of(IFNAME_BRIDGE_PREFIX, n->network_id, h->bridge) ==
	    -1)
		return -1;
	return ifname_of(IFNAME_TAP_PREFIX, n->port_id, h->tap);
}

static int
mac_in(const char *mac, char macs[][18], size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (strcasecmp(mac, macs[k]) == 0)
			return 1;
	return 0;
}

/* The MACs of dom's interfaces in its live (flags 0) or persistent
 * (VIR_DOMAIN_XML_INACTIVE) definition. */
static int
dom_macs(virDomainPtr dom, unsigned flags, const char *uuid,
    char macs[][18], size_t max, size_t *n)
{
	char *xml = virDomainGetXMLDesc(dom, flags);
	int rc;

	*n = 0;
	if (xml == NULL) {
		err_set(TS_EUNAVAILABLE, "libvirt: XML of %s: %s", uuid,
		    lverr());
		return -1;
	}
	rc = domxml_macs(xml, macs, max, n);
	free(xml);
	return rc;
}

int
driver_guest_macs(struct driver *d, const char *uuid, char macs[][18],
    size_t max, size_t *n)
{
	virConnectPtr c;
	virDomainPtr dom;
	int rc;

	*n = 0;
	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	rc = dom_macs(dom, d->test != NULL ? VIR_DOMAIN_XML_INACTIVE : 0, uuid,
	    macs, max, n);
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

/* One NIC's device document; qemu/kvm waits (boundedly) for its bridge,
 * which the network converger makes once the port is bound here. */
static char *
nic_xml(struct driver *d, const char *uuid, const struct driver_nic *n)
{
	struct driver_nic_host h;
	struct domxml_nic dn;
	int64_t deadline = clock_mono_ms() + NIC_BRIDGE_WAIT_MS;

	if (driver_nic_host(n, &h) == -1)
		return NULL;
	while (d->qemu != NULL && if_nametoindex(h.bridge) == 0) {
		if (clock_mono_ms() >= deadline) {
			err_set(TS_EUNAVAILABLE, "guest %s: bridge %s of network "
			    "%s does not exist on this host (its network is "
			    "not set up here yet)", uuid, h.bridge,
			    n->network_id);
			return NULL;
		}
		usleep(NIC_BRIDGE_POLL_MS * 1000);
	}
	dn = (struct domxml_nic){ .mac = n->mac, .bridge = h.bridge,
	    .target = h.tap, .mtu = n->mtu };
	return domxml_build_nic(&dn);
}

/*
 * Hot-plug: makes one definition of dom (flag VIR_DOMAIN_AFFECT_CONFIG
 * with the persistent XML, VIR_DOMAIN_AFFECT_LIVE with the running one)
 * have exactly the spec's NICs. *changed counts the devices touched.
 */
static int
nics_apply(struct driver *d, virDomainPtr dom, const struct driver_spec *s,
    unsigned affect, int *changed)
{
	char have[DOMXML_NICS_MAX * 2][18];
	char want[DOMXML_NICS_MAX][18];
	size_t nhave, k;
	unsigned xf = affect == VIR_DOMAIN_AFFECT_CONFIG ?
	    VIR_DOMAIN_XML_INACTIVE : 0;
	const char *which = affect == VIR_DOMAIN_AFFECT_CONFIG ? "definition" :
	    "running guest";

	if (dom_macs(dom, xf, s->uuid, have, DOMXML_NICS_MAX * 2, &nhave) == -1)
		return -1;
	for (k = 0; k < s->nnics && k < DOMXML_NICS_MAX; k++)
		snprintf(want[k], sizeof(want[k]), "%s", s->nics[k].mac);
	/* Unplug first: a port's MAC may move to a new NIC. */
	for (k = 0; k < nhave; k++) {
		char doc[128];

		if (mac_in(have[k], want, s->nnics))
			continue;
		snprintf(doc, sizeof(doc), "<interface type='bridge'><mac "
		    "address='%s'/></interface>", have[k]);
		if (virDomainDetachDeviceFlags(dom, doc, affect) < 0) {
			err_set(TS_EIO, "libvirt: detach NIC %s from %s (%s): %s",
			    have[k], s->uuid, which, lverr());
			return -1;
		}
		log_info("guest %s: NIC %s detached (%s)", s->uuid, have[k],
		    which);
		synth(d, s->uuid, "virtio_net: %s removed", have[k]);
		(*changed)++;
	}
	for (k = 0; k < s->nnics; k++) {
		char *doc;
		int rc;

		if (mac_in(s->nics[k].mac, have, nhave))
			continue;
		if ((doc = nic_xml(d, s->uuid, &s->nics[k])) == NULL)
			return -1;
		rc = virDomainAttachDeviceFlags(dom, doc, affect);
		free(doc);
		if (rc < 0) {
			err_set(TS_EIO, "libvirt: attach NIC %s (port %s) to %s "
			    "(%s): %s", s->nics[k].mac, s->nics[k].port_id,
			    s->uuid, which, lverr());
			return -1;
		}
		log_info("guest %s: NIC %s (port %s) attached (%s)", s->uuid,
		    s->nics[k].mac, s->nics[k].port_id, which);
		(*changed)++;
	}
	return 0;
}

/*
 * The NICs of an existing guest made equal to the spec's. qemu/kvm: the
 * persistent definition, then the running guest (a paused guest too);
 * the test driver has no device hot-plug (virDomainAttachDeviceFlags is
 * not supported there), so its definition is replaced: the reports read
 * the NICs of a test guest from its definition.
 */
static int
nics_sync(struct driver *d, virConnectPtr c, virDomainPtr dom,
    const struct driver_spec *s)
{
	char have[DOMXML_NICS_MAX * 2][18];
	size_t nhave, k;
	int changed = 0, same;

	if (s->nnics > DOMXML_NICS_MAX) {
		err_set(TS_EINVALID, "guest %s: %zu NICs, at most %d", s->uuid,
		    s->nnics, DOMXML_NICS_MAX);
		return -1;
	}
	if (d->test != NULL) {
		if (dom_macs(dom, VIR_DOMAIN_XML_INACTIVE, s->uuid, have,
		    DOMXML_NICS_MAX * 2, &nhave) == -1)
			return -1;
		same = nhave == s->nnics;
		for (k = 0; same && k < s->nnics; k++)
			same = mac_in(s->nics[k].mac, have, nhave);
		if (same)
			return 0;
		if (define(d, c, s) == -1)
			return -1;
		for (k = 0; k < s->nnics; k++)
			if (!mac_in(s->nics[k].mac, have, nhave))
				synth(d, s->uuid, "virtio_net: %s added",
				    s->nics[k].mac);
		log_info("guest %s: NICs re-defined (%zu -> %zu)", s->uuid,
		    nhave, s->nnics);
		return 0;
	}
	if (nics_apply(d, dom, s, VIR_DOMAIN_AFFECT_CONFIG, &changed) == -1)
		return -1;
	if (virDomainIsActive(dom) == 1 &&
	    nics_apply(d, dom, s, VIR_DOMAIN_AFFECT_LIVE, &changed) == -1)
		return -1;
	return 0;
}

/* --------------------------------------------------------------- volumes */

#define VOL_DETACH_WAIT_MS	30000	/* a guest releasing a disk */
#define VOL_DETACH_RESEND_MS	5000	/* a detach request sent again */
#define VOL_POLL_MS		200
#define VOL_HAVE_MAX		(DOMXML_VOLUMES_MAX * 2)

int
driver_volumes_domxml(const struct driver_spec *s, struct domxml_volume *out)
{
	if (s->nvolumes > DOMXML_VOLUMES_MAX ||
	    (s->nvolumes > 0 && s->volumes == NULL)) {
		err_set(TS_EINVALID, "guest %s: %zu volumes, at most %d",
		    s->uuid, s->nvolumes, DOMXML_VOLUMES_MAX);
		return -1;
	}
	for (size_t k = 0; k < s->nvolumes; k++) {
		const struct driver_volume *v = &s->volumes[k];

		out[k] = (struct domxml_volume){ .volume_id = v->volume_id,
		    .attachment_id = v->attachment_id, .target = v->target_dev,
		    .portal = v->portal, .iqn = v->iqn, .lun = v->lun,
		    .initiator = v->initiator, .chap_user = v->chap_user,
		    .readonly = v->readonly != 0, .boot = v->boot != 0 };
	}
	return 0;
}

static int
has_chap(const struct driver_volume *v)
{
	return v->chap_user != NULL && v->chap_user[0] != '\0';
}

/*
 * The CHAP secret of one volume disk, made (or its value set again: the
 * controller may have rotated it) before a definition or an attach
 * refers to it. qemu/kvm only: libvirt's test driver has no secrets (its
 * guests run nothing). *made: 1 if this call defined it.
 */
static int
secret_set(struct driver *d, virConnectPtr c, const char *uuid,
    const struct driver_volume *v, int *made)
{
	char usage[64], xml[512];
	virSecretPtr sec;
	int rc = 0;

	*made = 0;
	if (d->test != NULL || !has_chap(v))
		return 0;
	if (v->attachment_id == NULL || !uuid_valid(v->attachment_id) ||
	    v->volume_id == NULL || !uuid_valid(v->volume_id)) {
		err_set(TS_EINVALID, "guest %s: a volume without a valid "
		    "volume or attachment id", uuid);
		return -1;
	}
	if (v->chap_secret == NULL || v->chap_secret[0] == '\0') {
		err_set(TS_EINVALID, "guest %s: volume %s has a CHAP user but "
		    "no secret", uuid, v->volume_id);
		return -1;
	}
	snprintf(usage, sizeof(usage), DOMXML_SECRET_PREFIX "%s",
	    v->attachment_id);
	if ((sec = virSecretLookupByUsage(c, VIR_SECRET_USAGE_TYPE_ISCSI,
	    usage)) == NULL) {
		if (virGetLastErrorCode() != VIR_ERR_NO_SECRET) {
			err_set(TS_EUNAVAILABLE, "libvirt: secret %s: %s", usage,
			    lverr());
			return -1;
		}
		/* Only UUIDs go into the document (checked above). */
		snprintf(xml, sizeof(xml), "<secret ephemeral='no' "
		    "private='yes'><description>CHAP of volume %s for "
		    "instance %s</description><usage type='iscsi'><target>%s"
		    "</target></usage></secret>", v->volume_id, uuid, usage);
		if ((sec = virSecretDefineXML(c, xml, 0)) == NULL) {
			err_set(TS_EIO, "libvirt: define secret %s: %s", usage,
			    lverr());
			return -1;
		}
		*made = 1;
	}
	if (virSecretSetValue(sec, (const unsigned char *)v->chap_secret,
	    strlen(v->chap_secret), 0) < 0) {
		err_set(TS_EIO, "libvirt: set the value of secret %s: %s",
		    usage, lverr());
		rc = -1;
		if (*made && virSecretUndefine(sec) == 0)
			*made = 0;
	}
	virSecretFree(sec);
	return rc;
}

/* Undefines the secret of an attachment; absent: 0. */
static int
secret_drop(virConnectPtr c, const char *uuid, const char *attachment_id)
{
	char usage[64];
	virSecretPtr sec;
	int rc = 0;

	if (attachment_id[0] == '\0')
		return 0;
	snprintf(usage, sizeof(usage), DOMXML_SECRET_PREFIX "%s",
	    attachment_id);
	if ((sec = virSecretLookupByUsage(c, VIR_SECRET_USAGE_TYPE_ISCSI,
	    usage)) == NULL) {
		if (virGetLastErrorCode() == VIR_ERR_NO_SECRET)
			return 0;
		err_set(TS_EUNAVAILABLE, "libvirt: secret %s: %s", usage,
		    lverr());
		return -1;
	}
	if (virSecretUndefine(sec) < 0 &&
	    virGetLastErrorCode() != VIR_ERR_NO_SECRET) {
		err_set(TS_EIO, "libvirt: undefine secret %s: %s", usage,
		    lverr());
		rc = -1;
	} else {
		log_info("guest %s: secret %s undefined", uuid, usage);
	}
	virSecretFree(sec);
	return rc;
}

/* The secrets of every volume of spec; made[k] tells which this call
 * defined (for secrets_undo()). */
static int
secrets_set(struct driver *d, virConnectPtr c, const struct driver_spec *s,
    int made[])
{
	for (size_t k = 0; k < s->nvolumes && k < DOMXML_VOLUMES_MAX; k++)
		if (secret_set(d, c, s->uuid, &s->volumes[k], &made[k]) == -1)
			return -1;
	return 0;
}

static void
secrets_undo(virConnectPtr c, const struct driver_spec *s, const int made[])
{
	enum ts_errcode code = err_code();
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", err_msg());
	for (size_t k = 0; k < s->nvolumes && k < DOMXML_VOLUMES_MAX; k++)
		if (made[k] && secret_drop(c, s->uuid,
		    s->volumes[k].attachment_id) == -1)
			log_err("undoing");
	err_set(code, "%s", msg);
}

/* The volume disks of dom's live (flags 0) or persistent
 * (VIR_DOMAIN_XML_INACTIVE) definition. */
static int
dom_volumes(virDomainPtr dom, unsigned flags, const char *uuid,
    struct domxml_voldisk *v, size_t max, size_t *n, char **xmlp)
{
	char *xml = virDomainGetXMLDesc(dom, flags);
	int rc;

	*n = 0;
	if (xmlp != NULL)
		*xmlp = NULL;
	if (xml == NULL) {
		err_set(TS_EUNAVAILABLE, "libvirt: XML of %s: %s", uuid,
		    lverr());
		return -1;
	}
	rc = domxml_volumes(xml, v, max, n);
	if (rc == 0 && xmlp != NULL)
		*xmlp = xml;
	else
		free(xml);
	return rc;
}

int
driver_guest_devices(struct driver *d, const char *uuid, char ids[][37],
    size_t max, size_t *n, unsigned *vnc_port)
{
	struct domxml_voldisk v[VOL_HAVE_MAX];
	virConnectPtr c;
	virDomainPtr dom;
	char *xml = NULL;
	int rc, st, reason;

	*n = 0;
	if (vnc_port != NULL)
		*vnc_port = 0;
	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	/* One read of the XML for both. As virt_guests_list(): the test
	 * driver's live XML names no port it listens on. */
	rc = dom_volumes(dom, d->test != NULL ? VIR_DOMAIN_XML_INACTIVE : 0,
	    uuid, v, VOL_HAVE_MAX, n, &xml);
	if (rc == 0 && vnc_port != NULL && d->test == NULL &&
	    virDomainGetState(dom, &st, &reason, 0) == 0 &&
	    (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_PAUSED))
		*vnc_port = domxml_vnc_port(xml);
	free(xml);
	virDomainFree(dom);
	virConnectClose(c);
	if (rc == 0 && *n > max) {
		err_set(TS_EINVALID, "guest %s: more than %zu volumes", uuid,
		    max);
		*n = 0;
		return -1;
	}
	for (size_t k = 0; rc == 0 && k < *n; k++)
		memcpy(ids[k], v[k].volume_id, 37);
	return rc;
}

int
driver_guest_volumes(struct driver *d, const char *uuid, char ids[][37],
    size_t max, size_t *n)
{
	return driver_guest_devices(d, uuid, ids, max, n, NULL);
}

static const struct driver_volume *
vol_of(const struct driver_spec *s, const char *volume_id)
{
	for (size_t k = 0; k < s->nvolumes; k++)
		if (strcmp(s->volumes[k].volume_id, volume_id) == 0)
			return &s->volumes[k];
	return NULL;
}

static int
voldisk_in(const char *volume_id, const struct domxml_voldisk *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (strcmp(v[k].volume_id, volume_id) == 0)
			return 1;
	return 0;
}

/* libvirt's last error is qemu refusing a device_del because an earlier
 * one for the device is pending (qemu 7.2 refuses it until the guest has
 * run 1 ms of virtual time since, or for ever when it never ran). */
static int
unplug_pending(void)
{
	virErrorPtr e = virGetLastError();

	return e != NULL && e->code == VIR_ERR_INTERNAL_ERROR &&
	    e->message != NULL &&
	    strstr(e->message, "already in the process of unplug") != NULL;
}

/*
 * Detaches the disk of volume_id (el: its element) from the running guest
 * and waits, boundedly, until qemu has removed it. qemu removes a virtio
 * disk only once the guest OS ejected it (libvirt's detach returns after
 * 5 s without that), and a request the guest does not see is lost, not
 * queued: one sent before the guest's ACPI is up (at boot, or during the
 * reboot after a crash; Linux clears the pending hotplug GPE as its ACPI
 * starts) leaves the device pending for ever. So the request goes again
 * every VOL_DETACH_RESEND_MS while the disk stays, as Nova does
 * (_detach_from_live_with_retry); qemu refusing one as already pending
 * counts as sent. After VOL_DETACH_WAIT_MS the failure is reported with the
 * number of requests; the next ensure tries again.
 */
static int
detach_live(virDomainPtr dom, const char *uuid, const char *el,
    const char *volume_id)
{
	int64_t t0 = clock_mono_ms(), until = t0 + VOL_DETACH_WAIT_MS, next;
	struct domxml_voldisk v[VOL_HAVE_MAX];
	int sent = 0, refused = 0;
	size_t n;

	for (next = t0;;) {
		int64_t now = clock_mono_ms();

		if (now >= next && now < until) {
			if (virDomainDetachDeviceFlags(dom, el,
			    VIR_DOMAIN_AFFECT_LIVE) == 0)
				sent++;
			else if (unplug_pending())
				refused++;
			else {
				/* (gone since: an earlier request's eject) */
				err_set(TS_EIO, "libvirt: detach volume %s from "
				    "%s (running guest): %s", volume_id, uuid,
				    lverr());
				if (dom_volumes(dom, 0, uuid, v, VOL_HAVE_MAX,
				    &n, NULL) == 0 && !voldisk_in(volume_id, v,
				    n)) {
					err_clear();
					return 0;
				}
				return -1;
			}
			if (sent + refused > 1)
				log_info("guest %s: disk of volume %s not "
				    "released: detach asked again (request %d, "
				    "%d refused by qemu as pending)", uuid,
				    volume_id, sent + refused, refused);
			next = clock_mono_ms() + VOL_DETACH_RESEND_MS;
		}
		if (virDomainIsActive(dom) != 1)
			return 0;
		if (dom_volumes(dom, 0, uuid, v, VOL_HAVE_MAX, &n, NULL) == -1)
			return -1;
		if (!voldisk_in(volume_id, v, n)) {
			if (sent + refused > 1)
				log_info("guest %s: released the disk of volume "
				    "%s %lld ms after the first of %d requests",
				    uuid, volume_id,
				    (long long)(clock_mono_ms() - t0),
				    sent + refused);
			return 0;
		}
		if (clock_mono_ms() >= until) {
			err_set(TS_EUNAVAILABLE, "guest %s did not release the "
			    "disk of volume %s within %d s (%d requests, %d "
			    "refused by qemu as pending)", uuid, volume_id,
			    VOL_DETACH_WAIT_MS / 1000, sent + refused, refused);
			return -1;
		}
		usleep(VOL_POLL_MS * 1000);
	}
}

/*
 * Hot-plug: makes one definition of dom (VIR_DOMAIN_AFFECT_CONFIG with the
 * persistent XML, VIR_DOMAIN_AFFECT_LIVE with the running one) have
 * exactly the spec's volumes. The attachments of the disks detached are
 * added to gone (their secrets go once no definition has them).
 */
static int
vols_apply(struct driver *d, virDomainPtr dom, const struct driver_spec *s,
    unsigned affect, char gone[][37], size_t *ngone)
{
	struct domxml_voldisk have[VOL_HAVE_MAX];
	struct domxml_volume dv[DOMXML_VOLUMES_MAX];
	size_t nhave, k;
	unsigned xf = affect == VIR_DOMAIN_AFFECT_CONFIG ?
	    VIR_DOMAIN_XML_INACTIVE : 0;
	const char *which = affect == VIR_DOMAIN_AFFECT_CONFIG ? "definition" :
	    "running guest";
	char *xml;
	int rc = 0;

	if (driver_volumes_domxml(s, dv) == -1)
		return -1;
	if (dom_volumes(dom, xf, s->uuid, have, VOL_HAVE_MAX, &nhave, &xml) ==
	    -1)
		return -1;
	/* Detach first: a target name may move to a new volume. */
	for (k = 0; k < nhave && rc == 0; k++) {
		char *el;

		if (vol_of(s, have[k].volume_id) != NULL)
			continue;
		if ((el = domxml_volume_element(xml, have[k].volume_id)) ==
		    NULL) {
			rc = -1;
			break;
		}
		if (affect == VIR_DOMAIN_AFFECT_LIVE) {
			if (detach_live(dom, s->uuid, el, have[k].volume_id) ==
			    -1)
				rc = -1;
		} else if (virDomainDetachDeviceFlags(dom, el, affect) < 0) {
			err_set(TS_EIO, "libvirt: detach volume %s from %s (%s): "
			    "%s", have[k].volume_id, s->uuid, which, lverr());
			rc = -1;
		}
		if (rc == 0) {
			log_info("guest %s: volume %s (%s) detached (%s)",
			    s->uuid, have[k].volume_id, have[k].target, which);
			if (have[k].attachment_id[0] != '\0' &&
			    *ngone < VOL_HAVE_MAX * 2)
				memcpy(gone[(*ngone)++], have[k].attachment_id,
				    37);
		}
		free(el);
	}
	free(xml);
	for (k = 0; k < s->nvolumes && rc == 0; k++) {
		char *doc;

		if (voldisk_in(s->volumes[k].volume_id, have, nhave))
			continue;
		if ((doc = domxml_build_volume(&dv[k])) == NULL) {
			err_prefix("guest %s: ", s->uuid);
			return -1;
		}
		rc = virDomainAttachDeviceFlags(dom, doc, affect);
		free(doc);
		if (rc < 0) {
			err_set(TS_EIO, "libvirt: attach volume %s as %s to %s "
			    "(%s): %s", s->volumes[k].volume_id,
			    s->volumes[k].target_dev, s->uuid, which, lverr());
			return -1;
		}
		log_info("guest %s: volume %s attached as %s (%s)", s->uuid,
		    s->volumes[k].volume_id, s->volumes[k].target_dev, which);
	}
	return rc;
}

/*
 * The volume disks of an existing guest made equal to the spec's, like
 * nics_sync(): the persistent definition, then the running guest; the
 * test driver's definition is replaced. The secrets of the volumes are
 * set first; those of detached disks are undefined at the end.
 */
static int
vols_sync(struct driver *d, virConnectPtr c, virDomainPtr dom,
    const struct driver_spec *s)
{
	struct domxml_voldisk have[VOL_HAVE_MAX];
	char gone[VOL_HAVE_MAX * 2][37];
	int made[DOMXML_VOLUMES_MAX] = { 0 };
	size_t nhave, ngone = 0, k;
	int same, rc = 0;

	if (s->nvolumes > DOMXML_VOLUMES_MAX) {
		err_set(TS_EINVALID, "guest %s: %zu volumes, at most %d",
		    s->uuid, s->nvolumes, DOMXML_VOLUMES_MAX);
		return -1;
	}
	if (d->test != NULL) {
		if (dom_volumes(dom, VIR_DOMAIN_XML_INACTIVE, s->uuid, have,
		    VOL_HAVE_MAX, &nhave, NULL) == -1)
			return -1;
		same = nhave == s->nvolumes;
		for (k = 0; same && k < s->nvolumes; k++)
			same = voldisk_in(s->volumes[k].volume_id, have, nhave);
		if (same)
			return 0;
		if (define(d, c, s) == -1)
			return -1;
		for (k = 0; k < s->nvolumes; k++)
			if (!voldisk_in(s->volumes[k].volume_id, have, nhave))
				synth(d, s->uuid, "virtio_blk: [%s] volume %s "
				    "attached", s->volumes[k].target_dev,
				    s->volumes[k].volume_id);
		for (k = 0; k < nhave; k++)
			if (vol_of(s, have[k].volume_id) == NULL)
				synth(d, s->uuid, "virtio_blk: [%s] volume %s "
				    "removed", have[k].target,
				    have[k].volume_id);
		log_info("guest %s: volumes re-defined (%zu -> %zu)", s->uuid,
		    nhave, s->nvolumes);
		return 0;
	}
	if (secrets_set(d, c, s, made) == -1) {
		secrets_undo(c, s, made);
		return -1;
	}
	if (vols_apply(d, dom, s, VIR_DOMAIN_AFFECT_CONFIG, gone, &ngone) ==
	    -1 || (virDomainIsActive(dom) == 1 && vols_apply(d, dom, s,
	    VIR_DOMAIN_AFFECT_LIVE, gone, &ngone) == -1))
		rc = -1;
	/* A detached disk's secret goes once neither definition has the
	 * disk: after a failed live detach it stays for the next try. */
	if (rc == 0)
		for (k = 0; k < ngone; k++)
			if (secret_drop(c, s->uuid, gone[k]) == -1)
				log_err("detach");
	return rc;
}

/* The attachments (secret owners) of dom's volume disks, live and
 * persistent, into att (max); best effort. */
static size_t
dom_attachments(virDomainPtr dom, const char *uuid, char att[][37],
    size_t max)
{
	struct domxml_voldisk v[VOL_HAVE_MAX];
	unsigned flags[] = { 0, VIR_DOMAIN_XML_INACTIVE };
	size_t n, cnt = 0;

	for (size_t f = 0; f < 2; f++) {
		if (f == 0 && virDomainIsActive(dom) != 1)
			continue;
		if (dom_volumes(dom, flags[f], uuid, v, VOL_HAVE_MAX, &n,
		    NULL) == -1) {
			log_warnx("%s", err_msg());
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			size_t j;

			if (v[k].attachment_id[0] == '\0')
				continue;
			for (j = 0; j < cnt; j++)
				if (strcmp(att[j], v[k].attachment_id) == 0)
					break;
			if (j == cnt && cnt < max)
				memcpy(att[cnt++], v[k].attachment_id, 37);
		}
	}
	return cnt;
}

/*
 * Level-triggered cleanup at start: every libvirt secret of tinystack's
 * usage prefix that no domain's volume disk (live or persistent) refers
 * to is undefined (a guest deleted or a disk detached while the agent was
 * down, or an agent that died between the two steps). Nothing is removed
 * unless every domain could be read.
 */
static void
secrets_collect(struct driver *d)
{
	virConnectPtr c;
	virDomainPtr *doms = NULL;
	virSecretPtr *secs = NULL;
	char (*used)[37] = NULL;
	size_t nused = 0, cap = 0;
	int nd, ns, ok = 1;

	if (d->test != NULL || (c = virt_conn(d->virt)) == NULL)
		return;
	if ((ns = virConnectListAllSecrets(c, &secs, 0)) < 0) {
		/* a hypervisor without secrets has none to collect */
		if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)
			log_debug("driver: no secrets: %s", lverr());
		else
			log_warnx("driver: secrets not collected: %s", lverr());
		virConnectClose(c);
		return;
	}
	if (ns > 0 && (nd = virConnectListAllDomains(c, &doms, 0)) >= 0) {
		cap = (size_t)(nd + 1) * VOL_HAVE_MAX * 2;
		if ((used = calloc(cap, sizeof(*used))) == NULL)
			ok = 0;
		for (int i = 0; i < nd; i++) {
			char uuid[VIR_UUID_STRING_BUFLEN] = "";

			if (ok && virDomainGetUUIDString(doms[i], uuid) == 0)
				nused += dom_attachments(doms[i], uuid,
				    used + nused, cap - nused);
			else
				ok = 0;
			virDomainFree(doms[i]);
		}
		free(doms);
	} else if (ns > 0) {
		ok = 0;
	}
	if (!ok && ns > 0)
		log_warnx("driver: secrets not collected: the domains could "
		    "not be read");
	for (int i = 0; i < ns; i++) {
		const char *u = virSecretGetUsageID(secs[i]);
		size_t pl = strlen(DOMXML_SECRET_PREFIX), k;

		if (ok && u != NULL && virSecretGetUsageType(secs[i]) ==
		    VIR_SECRET_USAGE_TYPE_ISCSI &&
		    strncmp(u, DOMXML_SECRET_PREFIX, pl) == 0) {
			for (k = 0; k < nused; k++)
				if (strcmp(used[k], u + pl) == 0)
					break;
			if (k == nused) {
				if (virSecretUndefine(secs[i]) == 0)
					log_info("driver: secret %s of no "
					    "domain undefined", u);
				else
					log_warnx("driver: undefine secret %s: "
					    "%s", u, lverr());
			}
		}
		virSecretFree(secs[i]);
	}
	free(secs);
	free(used);
	virConnectClose(c);
}

static int
spec_ok(const struct driver_spec *s)
{
	if (!uuid_ok(s->uuid))
		return 0;
	if (s->name == NULL || s->name[0] == '\0' || s->vcpus == 0 ||
	    s->memory_mb == 0 || s->generation == 0) {
		err_set(TS_EINVALID, "driver: spec of %s lacks a name, vCPUs, "
		    "memory or generation", s->uuid);
		return 0;
	}
	return 1;
}

int
driver_guest_ensure(struct driver *d, const struct driver_spec *s)
{
	virConnectPtr c;
	virDomainPtr dom;
	uint64_t g;
	int managed, rc = 0;

	if (!spec_ok(s) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, s->uuid)) == NULL) {
		if (err_code() != TS_ENOT_FOUND) {
			virConnectClose(c);
			return -1;
		}
		rc = define(d, c, s);
		if (rc == 0) {
			log_info("guest %s defined (generation %llu)", s->uuid,
			    (unsigned long long)s->generation);
			synth(d, s->uuid, "tinystack: %s defined: %u vCPU(s), "
			    "%llu MiB RAM, flavor %s", s->name, s->vcpus,
			    (unsigned long long)s->memory_mb,
			    s->flavor_name ? s->flavor_name : "-");
		}
		virConnectClose(c);
		return rc;
	}
	g = dom_generation(dom, &managed);
	if (managed && g > s->generation) {
		err_set(TS_ECONFLICT, "guest %s has generation %llu, newer "
		    "than the command's %llu", s->uuid, (unsigned long long)g,
		    (unsigned long long)s->generation);
		rc = -1;
	} else if (!managed || g < s->generation) {
		/* Re-defining an existing domain only replaces its persistent
		 * definition; a running guest keeps going. */
		rc = define(d, c, s);
		if (rc == 0)
			log_info("guest %s re-defined with generation %llu "
			    "(was %llu)", s->uuid,
			    (unsigned long long)s->generation,
			    (unsigned long long)g);
	}
	if (rc == 0 && s->sync_nics)
		rc = nics_sync(d, c, dom, s);
	if (rc == 0 && s->sync_volumes)
		rc = vols_sync(d, c, dom, s);
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

/* Waits until the domain is inactive, up to ms. 1 if it is. */
static int
wait_inactive(virDomainPtr dom, int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;

	for (;;) {
		if (virDomainIsActive(dom) == 0)
			return 1;
		if (clock_mono_ms() >= until)
			return 0;
		usleep(POLL_MS * 1000);
	}
}

static int
lv_fail(const char *what, const char *uuid)
{
	err_set(TS_EIO, "libvirt: %s %s: %s", what, uuid, lverr());
	return -1;
}

static int
power_off(struct driver *d, virDomainPtr dom, const char *uuid)
{
	int st, reason;

	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		return lv_fail("state of", uuid);
	if (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_BLOCKED) {
		int64_t until = clock_mono_ms() + (int64_t)d->shutdown_timeout * 1000;

		/* As Nova does, the request is repeated: a guest may miss an
		 * ACPI event while it boots. */
		while (virDomainShutdownFlags(dom, d->shutdown_flags) ==
		    0) {
			int64_t left = until - clock_mono_ms();

			if (wait_inactive(dom, left < SHUTDOWN_RESEND_MS ?
			    left : SHUTDOWN_RESEND_MS)) {
				synth(d, uuid, "reboot: Power down");
				return 0;
			}
			if (clock_mono_ms() >= until)
				break;
		}
		if (virDomainIsActive(dom) == 0)
			return 0;
		log_warnx("guest %s did not shut down within %d s; destroying",
		    uuid, d->shutdown_timeout);
	}
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
		return lv_fail("destroy", uuid);
	synth(d, uuid, "tinystack: powered off");
	return 0;
}

static int
start(struct driver *d, virDomainPtr dom, const char *uuid, int restore)
{
	if (virDomainCreate(dom) < 0)
		return lv_fail("start", uuid);
	if (restore)
		synth(d, uuid, "tinystack: restored from saved state");
	else
	{
		/* What a console shows of a boot, so that clients reading
		 * the last N lines have lines to read. */
		synth(d, uuid, "Linux version 6.1.0-tinystack (test driver)");
		synth(d, uuid, "Command line: console=ttyS0");
		synth(d, uuid, "Memory: available");
		synth(d, uuid, "Run /init as init process");
		synth(d, uuid, "%s login: ", uuid);
	}
	return 0;
}

int
driver_guest_resize(struct driver *d, const struct driver_spec *s, int mode)
{
	virConnectPtr c;
	virDomainPtr dom;
	uint64_t g;
	int managed, rc = 0;

	if (mode == 2 || (mode == 0 && d->qemu == NULL))
		return 0;
	if (mode == 0)
		return backend_qemu_resize(d->qemu, s->uuid, 0, 0);
	if (mode != 1 && mode != 3) {
		err_set(TS_EINVALID, "resize mode %d", mode);
		return -1;
	}
	if ((c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, s->uuid)) == NULL) {
		virConnectClose(c);
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		/* Nothing to resize: the ensure builds it as s says. */
		return 0;
	}
	g = dom_generation(dom, &managed);
	if (!managed || g < s->generation) {
		rc = power_off(d, dom, s->uuid);
		if (rc == 0 && d->qemu != NULL)
			rc = backend_qemu_resize(d->qemu, s->uuid, mode,
			    s->root_gb);
		if (rc == 0) {
			log_info("guest %s: %s to %u vCPU(s), %llu MiB RAM, "
			    "%llu GiB disk (generation %llu)", s->uuid, mode ==
			    1 ? "resizing" : "reverting a resize", s->vcpus,
			    (unsigned long long)s->memory_mb,
			    (unsigned long long)s->root_gb,
			    (unsigned long long)s->generation);
			synth(d, s->uuid, "tinystack: %s: %u vCPU(s), %llu MiB "
			    "RAM, flavor %s", mode == 1 ? "resized" :
			    "resize reverted", s->vcpus,
			    (unsigned long long)s->memory_mb,
			    s->flavor_name ? s->flavor_name : "-");
		}
	}
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

int
driver_guest_set_power(struct driver *d, const char *uuid,
    enum virt_power want)
{
	virConnectPtr c;
	virDomainPtr dom;
	enum virt_power cur;
	const char *word;
	int rc = 0;

	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	cur = virt_domain_power(dom, &word);
	if (cur == want)
		goto out;
	switch (want) {
	case VIRT_POWER_RUNNING:
		if (cur == VIRT_POWER_PAUSED) {
			if (virDomainResume(dom) < 0)
				rc = lv_fail("resume", uuid);
			else
				synth(d, uuid, "tinystack: unpaused");
		} else if (cur == VIRT_POWER_CRASHED) {
			if ((rc = power_off(d, dom, uuid)) == 0)
				rc = start(d, dom, uuid, 0);
		} else {
			rc = start(d, dom, uuid, cur == VIRT_POWER_SUSPENDED);
		}
		break;
	case VIRT_POWER_SHUTDOWN:
		if (cur == VIRT_POWER_SUSPENDED) {
			if (virDomainManagedSaveRemove(dom, 0) < 0)
				rc = lv_fail("discard saved state of", uuid);
		} else {
			rc = power_off(d, dom, uuid);
		}
		break;
	case VIRT_POWER_PAUSED:
		/* From any state: a guest that must be paused but is not
		 * running (recreated after a host restart) is started first. */
		if (cur != VIRT_POWER_RUNNING) {
			if (cur == VIRT_POWER_CRASHED)
				rc = power_off(d, dom, uuid);
			if (rc == 0)
				rc = start(d, dom, uuid,
				    cur == VIRT_POWER_SUSPENDED);
		}
		if (rc == 0 && virDomainSuspend(dom) < 0)
			rc = lv_fail("pause", uuid);
		else if (rc == 0)
			synth(d, uuid, "tinystack: paused");
		break;
	case VIRT_POWER_SUSPENDED:
		if (cur == VIRT_POWER_SHUTDOWN || cur == VIRT_POWER_CRASHED) {
			if (cur == VIRT_POWER_CRASHED)
				rc = power_off(d, dom, uuid);
			if (rc == 0)
				rc = start(d, dom, uuid, 0);
		}
		if (rc == 0 && virDomainManagedSave(dom, 0) < 0)
			rc = lv_fail("suspend", uuid);
		else if (rc == 0)
			synth(d, uuid, "PM: suspend to disk: state saved");
		break;
	default:
		err_set(TS_EINVALID, "driver: power state %d cannot be "
		    "requested", (int)want);
		rc = -1;
	}
out:
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

int
driver_guest_reboot(struct driver *d, const struct driver_spec *s, int hard)
{
	virConnectPtr c;
	virDomainPtr dom;
	const char *word;
	enum virt_power cur;
	int rc = 0;

	if (!spec_ok(s) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, s->uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	cur = virt_domain_power(dom, &word);
	/* qemu/kvm: Nova's soft reboot (see the top of the file) */
	if (!hard && cur == VIRT_POWER_RUNNING && d->qemu != NULL) {
		if ((rc = power_off(d, dom, s->uuid)) == 0)
			rc = start(d, dom, s->uuid, 0);
		goto out;
	}
	if (!hard && cur == VIRT_POWER_RUNNING) {
		if (virDomainReboot(dom, d->reboot_flags) == 0) {
			synth(d, s->uuid, "reboot: Restarting system");
			goto out;
		}
		log_warnx("soft reboot of %s failed (%s); rebooting hard",
		    s->uuid, lverr());
	}
	/* Hard: stop at once, rebuild the definition, start. */
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
		rc = lv_fail("destroy", s->uuid);
		goto out;
	}
	if (cur == VIRT_POWER_SUSPENDED &&
	    virDomainManagedSaveRemove(dom, 0) < 0) {
		rc = lv_fail("discard saved state of", s->uuid);
		goto out;
	}
	synth(d, s->uuid, "tinystack: hard reboot");
	if ((rc = define(d, c, s)) == 0)
		rc = start(d, dom, s->uuid, 0);
out:
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

int
driver_guest_inject_nmi(struct driver *d, const char *uuid)
{
	virConnectPtr c;
	virDomainPtr dom;
	int rc = 0;

	if ((c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	if (virDomainIsActive(dom) != 1) {
		err_set(TS_EINVALID, "guest %s is not running", uuid);
		rc = -1;
	} else if (virDomainInjectNMI(dom, 0) < 0) {
		rc = lv_fail("inject an NMI into", uuid);
	} else {
		log_info("instance %s: NMI injected (trigger_crash_dump)",
		    uuid);
	}
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

/* Undefine with the saved state, snapshots' metadata and NVRAM; drivers
 * without NVRAM support (the test driver) refuse that flag: again
 * without it. */
static int
undefine(virDomainPtr dom, const char *uuid)
{
	unsigned fl = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
	    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;

	if (virDomainUndefineFlags(dom, fl | VIR_DOMAIN_UNDEFINE_NVRAM) == 0)
		return 0;
	if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
		return 0;
	if (virDomainUndefineFlags(dom, fl) == 0 ||
	    virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
		return 0;
	return lv_fail("undefine", uuid);
}

int
driver_guest_delete(struct driver *d, const char *uuid)
{
	virConnectPtr c;
	virDomainPtr dom;
	int rc = 0;

	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		if (err_code() != TS_ENOT_FOUND) {
			virConnectClose(c);
			return -1;
		}
	} else {
		char att[VOL_HAVE_MAX * 2][37];
		size_t natt = d->test != NULL ? 0 :
		    dom_attachments(dom, uuid, att, VOL_HAVE_MAX * 2);

		if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
			rc = lv_fail("destroy", uuid);
		if (rc == 0)
			rc = undefine(dom, uuid);
		/* Only once no definition refers to them (a secret left by a
		 * failure here is collected at the next start). */
		for (size_t k = 0; rc == 0 && k < natt; k++)
			if (secret_drop(c, uuid, att[k]) == -1)
				log_err("delete");
		virDomainFree(dom);
	}
	virConnectClose(c);
	if (rc == -1)
		return -1;
	/* Files only once the domain is gone: a guest never runs on a
	 * deleted disk. */
	if (d->instances_path[0] == '/' &&
	    disk_instance_dir_remove(d->instances_path, uuid) == -1)
		return -1;
	if (d->qemu != NULL)
		backend_qemu_forget(d->qemu, uuid);
	if (d->test != NULL)
		backend_test_forget(d->test, uuid);
	return 0;
}

int
driver_console_get(struct driver *d, const char *uuid, size_t max,
    char **out, size_t *len)
{
	struct driver_guest g;

	*out = NULL;
	*len = 0;
	if (max == 0 || max > CONSOLE_CAP)
		max = CONSOLE_CAP;
	if (driver_guest_get(d, uuid, &g) == -1)
		return -1;
	if (d->qemu != NULL)
		return backend_qemu_console(d->qemu, uuid, max, out, len);
	return backend_test_console(d->test, uuid, max, out, len);
}

/* xml with its owner record's generation set to gen (the first
 * "...:generation>N<" of the metadata, as libvirt formats it). Owned; NULL
 * with TS_EINVALID when there is none. */
static char *
with_generation(const char *xml, uint64_t gen)
{
	const char *md = strstr(xml, "<metadata>"), *p, *e;
	char num[24];
	char *out;
	size_t pre, nl;

	if (md == NULL || (p = strstr(md, "generation>")) == NULL) {
		err_set(TS_EINVALID, "driver: no owner generation in the "
		    "definition");
		return NULL;
	}
	p += strlen("generation>");
	e = p + strspn(p, "0123456789");
	pre = (size_t)(p - xml);
	nl = (size_t)snprintf(num, sizeof(num), "%llu",
	    (unsigned long long)gen);
	if ((out = malloc(pre + nl + strlen(e) + 1)) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return NULL;
	}
	memcpy(out, xml, pre);
	memcpy(out + pre, num, nl);
	strcpy(out + pre + nl, e);
	return out;
}

/* xml with each path under this host's instances_path or image cache
 * moved under the target's (the longer prefix first: the cache may lie
 * inside instances_path). Owned; NULL with err set. */
static char *
with_paths(const char *xml, const char *src_inst, const char *dst_inst,
    const char *src_cache, const char *dst_cache)
{
	const char *from[2], *to[2];
	size_t n = 0, cap, len = 0;
	char *out;

	if (src_cache && dst_cache && *dst_cache) {
		from[n] = src_cache;
		to[n++] = dst_cache;
	}
	if (src_inst && dst_inst && *dst_inst) {
		from[n] = src_inst;
		to[n++] = dst_inst;
	}
	if (n == 2 && strlen(from[1]) > strlen(from[0])) {
		const char *f = from[0], *t = to[0];

		from[0] = from[1];
		to[0] = to[1];
		from[1] = f;
		to[1] = t;
	}
	cap = strlen(xml) + 1;
	for (size_t k = 0; k < n; k++)
		cap += 64 * (strlen(to[k]) + 1);
	if ((out = malloc(cap)) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return NULL;
	}
	for (const char *p = xml; *p;) {
		size_t k, fl = 0;

		for (k = 0; k < n; k++) {
			fl = strlen(from[k]);
			/* a whole path component: "<prefix>/" */
			if (fl > 0 && strncmp(p, from[k], fl) == 0 &&
			    p[fl] == '/' && p > xml && (p[-1] == '\'' ||
			    p[-1] == '"' || p[-1] == '>'))
				break;
		}
		if (k < n) {
			size_t tl = strlen(to[k]);

			if (len + tl + 1 >= cap) {
				free(out);
				err_set(TS_EINVALID, "driver: too many paths "
				    "to rewrite");
				return NULL;
			}
			memcpy(out + len, to[k], tl);
			len += tl;
			p += fl;
			continue;
		}
		if (len + 2 >= cap) {
			free(out);
			err_set(TS_EINVALID, "driver: too many paths to rewrite");
			return NULL;
		}
		out[len++] = *p++;
	}
	out[len] = '\0';
	return out;
}

int
driver_guest_migrate_prepare(struct driver *d, const struct driver_spec *s,
    const char **instances, const char **cache, int *backing)
{
	virConnectPtr c;
	virDomainPtr dom = NULL;
	int fresh = 0;

	*instances = *cache = NULL;
	*backing = 0;
	if (d->test != NULL)
		return 0;	/* nothing outside libvirt */
	if (!uuid_ok(s->uuid))
		return -1;
	/* A domain here (an incoming migration under way, or the guest
	 * itself) uses the files: only what is missing is made, and so
	 * when libvirt cannot say (the migration itself then fails). */
	if ((c = virt_conn(d->virt)) != NULL) {
		if ((dom = dom_get(c, s->uuid)) != NULL)
			virDomainFree(dom);
		else
			fresh = err_code() == TS_ENOT_FOUND;
	}
	if (backend_qemu_prepare(d->qemu, s, fresh, backing) == -1)
		goto fail;
	/* The migrated definition refers to the volumes' CHAP secrets by
	 * usage: they must be here before the guest arrives. A failed or
	 * aborted migration's cleanup undefines them again
	 * (secrets_of_guest_drop()). */
	if (s->nvolumes > 0) {
		int made[DOMXML_VOLUMES_MAX] = { 0 };

		if (c == NULL)
			goto fail;
		if (secrets_set(d, c, s, made) == -1) {
			secrets_undo(c, s, made);
			goto fail;
		}
	}
	if (c != NULL)
		virConnectClose(c);
	backend_qemu_paths(d->qemu, instances, cache);
	return 0;
fail:
	if (c != NULL)
		virConnectClose(c);
	return -1;
}

/*
 * Undefines every tinystack CHAP secret defined for guest uuid (its
 * description names the instance: secret_set()), for the target of a
 * live migration that failed, once no domain of the guest is defined
 * here. Best effort (logged).
 */
static void
secrets_of_guest_drop(virConnectPtr c, const char *uuid)
{
	virSecretPtr *secs = NULL;
	char want[64];
	int ns;

	snprintf(want, sizeof(want), "for instance %s<", uuid);
	if ((ns = virConnectListAllSecrets(c, &secs, 0)) < 0) {
		if (virGetLastErrorCode() != VIR_ERR_NO_SUPPORT)
			log_warnx("guest %s: secrets not listed: %s", uuid,
			    lverr());
		return;
	}
	for (int i = 0; i < ns; i++) {
		const char *u = virSecretGetUsageID(secs[i]);
		char *xml;

		if (u != NULL && virSecretGetUsageType(secs[i]) ==
		    VIR_SECRET_USAGE_TYPE_ISCSI && strncmp(u,
		    DOMXML_SECRET_PREFIX, strlen(DOMXML_SECRET_PREFIX)) == 0 &&
		    (xml = virSecretGetXMLDesc(secs[i], 0)) != NULL) {
			if (strstr(xml, want) != NULL) {
				if (virSecretUndefine(secs[i]) == 0)
					log_info("guest %s: secret %s "
					    "undefined", uuid, u);
				else
					log_warnx("guest %s: undefine secret "
					    "%s: %s", uuid, u, lverr());
			}
			free(xml);
		}
		virSecretFree(secs[i]);
	}
	free(secs);
}

int
driver_guest_migrate_cleanup(struct driver *d, const char *uuid,
    int64_t min_age_ms)
{
	virConnectPtr c;
	virDomainPtr dom;
	int64_t age = 0;
	int e = 0;

	if (!uuid_ok(uuid))
		return -1;
	if (d->test != NULL)
		return 0;
	if ((c = virt_conn(d->virt)) == NULL)
		return -1;
	dom = dom_get(c, uuid);
	if (dom != NULL) {
		virDomainFree(dom);
		virConnectClose(c);
		err_set(TS_ECONFLICT, "a domain of %s is defined here: its "
		    "files are kept", uuid);
		return -1;
	}
	if (err_code() != TS_ENOT_FOUND ||
	    (e = backend_qemu_prepared_age(d->qemu, uuid, &age)) == -1) {
		virConnectClose(c);
		return -1;
	}
	if (e == 1 && age < min_age_ms) {
		virConnectClose(c);
		err_set(TS_ECONFLICT, "%s was prepared %lld ms ago: kept",
		    uuid, (long long)age);
		return -1;
	}
	/* No domain of the guest refers to them: the volumes' secrets the
	 * preparation defined go (also when its files went already). */
	secrets_of_guest_drop(c, uuid);
	virConnectClose(c);
	if (e == 0)
		return 0;	/* nothing prepared here (or gone already) */
	if (disk_instance_dir_remove(d->instances_path, uuid) == -1)
		return -1;
	backend_qemu_forget(d->qemu, uuid);
	log_info("instance %s: what a live migration here prepared is "
	    "removed", uuid);
	return 0;
}

int
driver_guest_migrate_leftovers(struct driver *d, int64_t min_age_ms,
    char (*out)[37], size_t max, size_t *n)
{
	DIR *dir;
	struct dirent *de;

	*n = 0;
	if (d->test != NULL)
		return 0;
	if ((dir = opendir(d->instances_path)) == NULL) {
		if (errno == ENOENT)
			return 0;
		err_set_errno(TS_EIO, "driver: %s", d->instances_path);
		return -1;
	}
	while (*n < max && (de = readdir(dir)) != NULL) {
		int64_t age;

		if (!uuid_valid(de->d_name) ||
		    backend_qemu_prepared_age(d->qemu, de->d_name, &age) != 1 ||
		    age < min_age_ms)
			continue;
		memcpy(out[(*n)++], de->d_name, 37);	/* a UUID: 36 + NUL */
	}
	closedir(dir);
	return 0;
}

int
driver_guest_migrate_abort(struct driver *d, const char *uuid)
{
	virConnectPtr c;
	virDomainPtr dom;
	int rc = 0;

	if (!uuid_ok(uuid))
		return -1;
	if ((c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	if (virDomainAbortJob(dom) < 0) {
		err_set(TS_ECONFLICT, "libvirt: abort the job of %s: %s", uuid,
		    lverr());
		rc = -1;
	}
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

int
driver_guest_migrate(struct driver *d, const char *uuid, uint64_t new_gen,
    const char *target_uri, const char *target_address, int block,
    const char *target_instances, const char *target_cache,
    int target_backing, const char *image_id)
{
	const char *my_inst = NULL, *my_cache = NULL;
	char *pxml = NULL;
	char att[VOL_HAVE_MAX][37], local[16][8];
	size_t natt = 0, nlocal = 0;
	int64_t t0;
	virConnectPtr c;
	virDomainPtr dom;
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, rc = -1;
	char *xml = NULL, *dxml = NULL, muri[96];
	unsigned long flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
	    VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;

	if (!uuid_ok(uuid))
		return -1;
	if (d->test != NULL) {
		/* Each agent's test driver lives in its own process: there
		 * is no peer to migrate to. */
		err_set(TS_EUNAVAILABLE, "libvirt's test driver cannot "
		    "live-migrate between hosts");
		return -1;
	}
	/* Disks are local qcow2 overlays over the image cache. The target
	 * prepared an empty overlay over the same base (same image, checked
	 * against its sha512): only what the guest wrote is copied (an
	 * ephemeral disk, without a backing file on either side, is copied
	 * whole either way). Otherwise (an older target, a raw root, a root
	 * that is not an overlay of the image here) each disk is copied in
	 * full, flattened. */
	if (block && target_backing &&
	    backend_qemu_root_backed(d->qemu, uuid, image_id))
		flags |= VIR_MIGRATE_NON_SHARED_INC;
	else if (block)
		flags |= VIR_MIGRATE_NON_SHARED_DISK;
	if ((c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	if ((xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE |
	    VIR_DOMAIN_XML_SECURE)) == NULL) {
		err_set(TS_EUNAVAILABLE, "libvirt: XML of %s: %s", uuid,
		    lverr());
		goto out;
	}
	/*
	 * Volumes are network disks both qemus reach at once (the same
	 * attachment initiator and CHAP: volume_attach_follow() on the
	 * controller; the target defined the secrets when it prepared).
	 * libvirt would copy every writable disk with a source, volumes
	 * included (onto themselves): with volumes, the disks to copy are
	 * named, the local ones alone (none: nothing is copied; the
	 * volumes' cache='none' is what libvirt wants of disks it leaves).
	 */
	natt = dom_attachments(dom, uuid, att, VOL_HAVE_MAX);
	if (natt > 0 && (flags & (VIR_MIGRATE_NON_SHARED_INC |
	    VIR_MIGRATE_NON_SHARED_DISK))) {
		if (domxml_local_disks(xml, local, 16, &nlocal) == -1)
			goto out;
		if (nlocal == 0)
			flags &= ~(unsigned long)(VIR_MIGRATE_NON_SHARED_INC |
			    VIR_MIGRATE_NON_SHARED_DISK);
		for (size_t k = 0; k < nlocal; k++)
			if (virTypedParamsAddString(&params, &nparams,
			    &maxparams, VIR_MIGRATE_PARAM_MIGRATE_DISKS,
			    local[k]) < 0) {
				err_set(TS_ENOMEM, "driver: out of memory");
				goto out;
			}
	}
	if ((pxml = with_generation(xml, new_gen)) == NULL)
		goto out;
	backend_qemu_paths(d->qemu, &my_inst, &my_cache);
	if ((dxml = with_paths(pxml, my_inst, target_instances, my_cache,
	    target_cache)) == NULL)
		goto out;
	if (virTypedParamsAddString(&params, &nparams, &maxparams,
	    VIR_MIGRATE_PARAM_DEST_XML, dxml) < 0 ||
	    virTypedParamsAddString(&params, &nparams, &maxparams,
	    VIR_MIGRATE_PARAM_PERSIST_XML, dxml) < 0) {
		err_set(TS_ENOMEM, "driver: out of memory");
		goto out;
	}
	if (target_address != NULL && *target_address != '\0') {
		snprintf(muri, sizeof(muri), strchr(target_address, ':') ?
		    "tcp://[%s]" : "tcp://%s", target_address);
		if (virTypedParamsAddString(&params, &nparams, &maxparams,
		    VIR_MIGRATE_PARAM_URI, muri) < 0) {
			err_set(TS_ENOMEM, "driver: out of memory");
			goto out;
		}
	}
	log_info("instance %s: live migration to %s (generation %llu%s, "
	    "%zu volumes)", uuid, target_uri, (unsigned long long)new_gen,
	    (flags & VIR_MIGRATE_NON_SHARED_INC) ? ", what the guest wrote "
	    "copied" : (flags & VIR_MIGRATE_NON_SHARED_DISK) ?
	    ", disks copied" : "", natt);
	t0 = clock_mono_ms();
	if (virDomainMigrateToURI3(dom, target_uri, params, nparams, flags) <
	    0) {
		err_set(TS_EIO, "libvirt: live migration of %s to %s: %s",
		    uuid, target_uri, lverr());
		goto out;
	}
	/* (bench/livemig_bench.sh reads this line) */
	log_info("instance %s: live migration done in %lld ms", uuid,
	    (long long)(clock_mono_ms() - t0));
	rc = 0;
	/* libvirt undefined the domain here: its volumes' secrets go (one
	 * left by a failure is collected at the next start). */
	for (size_t k = 0; k < natt; k++)
		if (secret_drop(c, uuid, att[k]) == -1)
			log_err("after the live migration");
	/* The guest runs on the target from its own copies: this host's
	 * files go, as a delete's (a failure here leaves files, not a
	 * guest: logged). */
	if (d->instances_path[0] == '/' &&
	    disk_instance_dir_remove(d->instances_path, uuid) == -1)
		log_err("after the live migration");
	backend_qemu_forget(d->qemu, uuid);
out:
	virTypedParamsFree(params, nparams);
	free(pxml);
	free(dxml);
	free(xml);
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}
