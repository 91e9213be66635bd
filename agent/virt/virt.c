/*
 * virt: the agent's libvirt connection (reconnected), its life-cycle
 * events, the one map of domain states to Nova power states, host facts
 * and the guest list of the reports; see virt.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "err.h"
#include "log.h"
#include "virt/domxml.h"
#include "virt/virt.h"

struct virt {
	char		*uri;
	char		*instances_path;
	pthread_mutex_t	 lock;		/* conn, evcb */
	virConnectPtr	 conn;
	_Atomic uint64_t reconnects;	/* virt_reconnects() */
	int		 evcb;		/* life-cycle callback id, -1 none */

	/* events (notify != NULL) */
	virt_notify_fn	 notify;
	void		*notify_arg;
	pthread_t	 evthread;
	int		 evthread_started;
	int		 evstop;	/* atomic */
};

/* libvirt prints every error to stderr by default; we record them instead. */
static void
quiet(void *arg, virErrorPtr e)
{
}

const char *
virt_last_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

/* ------------------------------------------------------------ events */

static const char *
event_name(int ev)
{
	switch (ev) {
	case VIR_DOMAIN_EVENT_DEFINED:		return "defined";
	case VIR_DOMAIN_EVENT_UNDEFINED:	return "undefined";
	case VIR_DOMAIN_EVENT_STARTED:		return "started";
	case VIR_DOMAIN_EVENT_SUSPENDED:	return "suspended";
	case VIR_DOMAIN_EVENT_RESUMED:		return "resumed";
	case VIR_DOMAIN_EVENT_STOPPED:		return "stopped";
	case VIR_DOMAIN_EVENT_SHUTDOWN:		return "shutdown";
	case VIR_DOMAIN_EVENT_PMSUSPENDED:	return "pmsuspended";
	case VIR_DOMAIN_EVENT_CRASHED:		return "crashed";
	default:				return "other";
	}
}

/* Event thread. */
static int
on_lifecycle(virConnectPtr c, virDomainPtr dom, int event, int detail,
    void *arg)
{
	struct virt *v = arg;
	char u[VIR_UUID_STRING_BUFLEN] = "?";

	virDomainGetUUIDString(dom, u);
	log_debug("libvirt event: guest %s %s (detail %d)", u,
	    event_name(event), detail);
	v->notify(v->notify_arg);
	return 0;
}

static void *
event_loop(void *arg)
{
	struct virt *v = arg;

	while (!__atomic_load_n(&v->evstop, __ATOMIC_ACQUIRE)) {
		if (virEventRunDefaultImpl() < 0) {
			log_warnx("libvirt event loop: %s", virt_last_error());
			usleep(100 * 1000);
		}
	}
	return NULL;
}

static void
wake_cb(int timer, void *arg)
{
	virEventRemoveTimeout(timer);
}

static pthread_once_t	event_impl_once = PTHREAD_ONCE_INIT;
static int		event_impl_rc;

static void
event_impl_register(void)
{
	event_impl_rc = virEventRegisterDefaultImpl();
}

/* Before the connection is opened: remote connections use the loop for
 * events and keepalive. */
static int
events_start(struct virt *v)
{
	int rc;

	pthread_once(&event_impl_once, event_impl_register);
	if (event_impl_rc < 0) {
		err_set(TS_EINTERNAL, "libvirt event loop: %s",
		    virt_last_error());
		return -1;
	}
	if ((rc = pthread_create(&v->evthread, NULL, event_loop, v)) != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "libvirt event thread");
		return -1;
	}
	v->evthread_started = 1;
	return 0;
}

static void
events_stop(struct virt *v)
{
	if (!v->evthread_started)
		return;
	__atomic_store_n(&v->evstop, 1, __ATOMIC_RELEASE);
	/* a timer due now wakes the loop, which then sees evstop */
	if (virEventAddTimeout(0, wake_cb, NULL, NULL) < 0)
		log_warnx("waking the event loop: %s", virt_last_error());
	pthread_join(v->evthread, NULL);
	v->evthread_started = 0;
}

/* The life-cycle callback on the current connection, if events are on and
 * it is missing; a failure is logged and retried by the next ensure. */
static void
events_register_locked(struct virt *v)
{
	if (v->notify == NULL || v->evcb >= 0 || v->conn == NULL)
		return;
	if ((v->evcb = virConnectDomainEventRegisterAny(v->conn, NULL,
	    VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	    VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL)) < 0) {
		log_warnx("libvirt events: %s", virt_last_error());
		v->evcb = -1;
		return;
	}
	log_info("libvirt life-cycle events from %s", v->uri);
}

/* -------------------------------------------------------- connection */

static void
close_locked(struct virt *v)
{
	if (v->conn == NULL)
		return;
	if (v->evcb >= 0)
		virConnectDomainEventDeregisterAny(v->conn, v->evcb);
	v->evcb = -1;
	virConnectClose(v->conn);
	v->conn = NULL;
}

static int
connect_locked(struct virt *v)
{
	int lost = 0;

	if (v->conn && virConnectIsAlive(v->conn) == 1) {
		events_register_locked(v);
		return 0;
	}
	if (v->conn) {
		log_warnx("libvirt connection to %s lost; reconnecting", v->uri);
		close_locked(v);
		lost = 1;
	}
	if ((v->conn = virConnectOpen(v->uri)) == NULL) {
		err_set(TS_EUNAVAILABLE, "libvirt: cannot connect to %s: %s",
		    v->uri, virt_last_error());
		return -1;
	}
	events_register_locked(v);
	if (lost)
		atomic_fetch_add_explicit(&v->reconnects, 1,
		    memory_order_relaxed);
	/* events may have been missed while there was no connection */
	if (lost && v->notify != NULL)
		v->notify(v->notify_arg);
	return 0;
}

uint64_t
virt_reconnects(struct virt *v)
{
	return atomic_load_explicit(&v->reconnects, memory_order_relaxed);
}

struct virt *
virt_open(const struct virt_opts *o)
{
	struct virt *v;
	int rc;

	virSetErrorFunc(NULL, quiet);
	if (o->uri == NULL || o->instances_path == NULL) {
		err_set(TS_EINVALID, "virt: uri and instances_path needed");
		return NULL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		err_set(TS_ENOMEM, "virt: out of memory");
		return NULL;
	}
	pthread_mutex_init(&v->lock, NULL);
	v->evcb = -1;
	v->notify = o->notify;
	v->notify_arg = o->notify_arg;
	if ((v->uri = strdup(o->uri)) == NULL ||
	    (v->instances_path = strdup(o->instances_path)) == NULL) {
		err_set(TS_ENOMEM, "virt: out of memory");
		virt_free(&v);
		return NULL;
	}
	if (v->notify != NULL && events_start(v) == -1) {
		virt_free(&v);
		return NULL;
	}
	pthread_mutex_lock(&v->lock);
	rc = connect_locked(v);
	pthread_mutex_unlock(&v->lock);
	if (rc == -1) {
		virt_free(&v);
		return NULL;
	}
	return v;
}

void
virt_free(struct virt **vp)
{
	struct virt *v = *vp;

	if (v == NULL)
		return;
	pthread_mutex_lock(&v->lock);
	if (v->conn && v->evcb >= 0)
		virConnectDomainEventDeregisterAny(v->conn, v->evcb);
	v->evcb = -1;
	pthread_mutex_unlock(&v->lock);
	events_stop(v);
	pthread_mutex_lock(&v->lock);
	close_locked(v);
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_destroy(&v->lock);
	free(v->uri);
	free(v->instances_path);
	free(v);
	*vp = NULL;
}

int
virt_ensure(struct virt *v)
{
	int rc;

	pthread_mutex_lock(&v->lock);
	rc = connect_locked(v);
	pthread_mutex_unlock(&v->lock);
	return rc;
}

virConnectPtr
virt_conn(struct virt *v)
{
	virConnectPtr c = NULL;

	pthread_mutex_lock(&v->lock);
	if (connect_locked(v) == 0) {
		c = v->conn;
		virConnectRef(c);
	}
	pthread_mutex_unlock(&v->lock);
	return c;
}

const char *
virt_uri(const struct virt *v)
{
	return v->uri;
}

bool
virt_uri_is_test(const char *uri)
{
	return uri != NULL && strncmp(uri, "test", 4) == 0 &&
	    (uri[4] == ':' || uri[4] == '+');
}

/* ------------------------------------------------------- power states */

enum virt_power
virt_power_map(int state, int reason, int managed_save, const char **word)
{
	const char *w;
	enum virt_power p;

	(void)reason;
	switch (state) {
	case VIR_DOMAIN_RUNNING:
		w = "running"; p = VIRT_POWER_RUNNING;
		break;
	case VIR_DOMAIN_BLOCKED:
		w = "blocked"; p = VIRT_POWER_RUNNING;
		break;
	case VIR_DOMAIN_PAUSED:
		w = "paused"; p = VIRT_POWER_PAUSED;
		break;
	case VIR_DOMAIN_SHUTDOWN:
	case VIR_DOMAIN_SHUTOFF:
		if (managed_save) {
			w = "suspended"; p = VIRT_POWER_SUSPENDED;
		} else {
			w = "shutoff"; p = VIRT_POWER_SHUTDOWN;
		}
		break;
	case VIR_DOMAIN_CRASHED:
		w = "crashed"; p = VIRT_POWER_CRASHED;
		break;
	case VIR_DOMAIN_PMSUSPENDED:
		w = "suspended"; p = VIRT_POWER_SUSPENDED;
		break;
	default:
		w = "unknown"; p = VIRT_POWER_NOSTATE;
		break;
	}
	if (word != NULL)
		*word = w;
	return p;
}

/* The managed-save image is asked for only where it changes the answer
 * (one call less per running guest). */
static enum virt_power
power_of(virDomainPtr dom, int st, int reason, const char **word)
{
	int saved = 0;

	if (st == VIR_DOMAIN_SHUTOFF || st == VIR_DOMAIN_SHUTDOWN)
		saved = virDomainHasManagedSaveImage(dom, 0) == 1;
	return virt_power_map(st, reason, saved, word);
}

enum virt_power
virt_domain_power(virDomainPtr dom, const char **word)
{
	int st = VIR_DOMAIN_NOSTATE, reason = 0;

	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		st = VIR_DOMAIN_NOSTATE;
	return power_of(dom, st, reason, word);
}

/* --------------------------------------------------------- host facts */

/* Copies the text of the first <tag>...</tag> inside the first
 * <section>...</section> that follows `after` in xml. The capabilities
 * document is libvirt's own output, so a plain scan is enough; the result is
 * still bounded by outlen and by the section. */
static void
xml_text(const char *xml, const char *after, const char *section,
    const char *tag, char *out, size_t outlen)
{
	char open[64], close[64], sopen[64], sclose[64];
	const char *s, *e, *ss, *se;

	out[0] = '\0';
	if ((xml = strstr(xml, after)) == NULL)
		return;
	snprintf(sopen, sizeof(sopen), "<%s>", section);
	snprintf(sclose, sizeof(sclose), "</%s>", section);
	if ((ss = strstr(xml, sopen)) == NULL ||
	    (se = strstr(ss, sclose)) == NULL)
		return;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((s = strstr(ss, open)) == NULL || s > se)
		return;
	s += strlen(open);
	if ((e = strstr(s, close)) == NULL || e > se)
		return;
	snprintf(out, outlen, "%.*s", (int)(e - s), s);
}

static int
mem_stats(virConnectPtr c, struct virt_host *h)
{
	virNodeMemoryStatsPtr ps;
	int n = 0;
	unsigned long long total = 0, avail = 0;

	if (virNodeGetMemoryStats(c, VIR_NODE_MEMORY_STATS_ALL_CELLS,
	    NULL, &n, 0) < 0 || n <= 0 || n > 64)
		return -1;
	if ((ps = calloc((size_t)n, sizeof(*ps))) == NULL)
		return -1;
	if (virNodeGetMemoryStats(c, VIR_NODE_MEMORY_STATS_ALL_CELLS,
	    ps, &n, 0) < 0) {
		free(ps);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(ps[i].field, VIR_NODE_MEMORY_STATS_TOTAL) == 0)
			total = ps[i].value;
		else if (strcmp(ps[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0 ||
		    strcmp(ps[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0 ||
		    strcmp(ps[i].field, VIR_NODE_MEMORY_STATS_CACHED) == 0)
			avail += ps[i].value;
	}
	free(ps);
	if (total == 0)
		return -1;
	h->memory_mb = total / 1024;
	h->memory_mb_used = avail < total ? (total - avail) / 1024 : 0;
	return 0;
}

int
virt_host_info(struct virt *v, struct virt_host *h)
{
	virNodeInfo ni;
	unsigned long ver = 0, lver = 0;
	unsigned long long freemem;
	const char *type;
	char *caps;
	struct statvfs sv;
	virConnectPtr c;

	memset(h, 0, sizeof(*h));
	if ((c = virt_conn(v)) == NULL)
		return -1;
	if (virNodeGetInfo(c, &ni) < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: node info: %s",
		    virt_last_error());
		virConnectClose(c);
		return -1;
	}
	h->vcpus = ni.cpus;
	h->memory_mb = ni.memory / 1024;
	/* virNodeGetInfo's memory is the sum of NUMA cells as sysfs reports
	 * them, which on some (nested) kernels is far below MemTotal; the
	 * memory statistics are what the kernel really has. Used memory is
	 * total - (free + buffers + cached), as Nova's libvirt driver
	 * computes it. The test driver has neither call. */
	if (mem_stats(c, h) == -1) {
		freemem = virNodeGetFreeMemory(c);
		if (freemem > 0 && freemem / (1024 * 1024) <= h->memory_mb)
			h->memory_mb_used = h->memory_mb -
			    freemem / (1024 * 1024);
	}

	type = virConnectGetType(c);
	snprintf(h->hv_type, sizeof(h->hv_type), "%s", type ? type : "unknown");
	if (virConnectGetVersion(c, &ver) == 0)
		h->hv_version = ver;
	if (virConnectGetLibVersion(c, &lver) == 0)
		h->libvirt_version = lver;

	if ((caps = virConnectGetCapabilities(c)) != NULL) {
		xml_text(caps, "<host>", "cpu", "arch", h->cpu_arch,
		    sizeof(h->cpu_arch));
		xml_text(caps, "<host>", "cpu", "model", h->cpu_model,
		    sizeof(h->cpu_model));
		free(caps);
	}
	virConnectClose(c);
	if (h->cpu_model[0] == '\0')
		snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", ni.model);
	if (h->cpu_arch[0] == '\0')
		snprintf(h->cpu_arch, sizeof(h->cpu_arch), "%s", ni.model);

	if (statvfs(v->instances_path, &sv) == 0) {
		unsigned long long total = (unsigned long long)sv.f_blocks *
		    sv.f_frsize;
		unsigned long long avail = (unsigned long long)sv.f_bavail *
		    sv.f_frsize;
		h->local_gb = total >> 30;
		h->local_gb_used = (total - avail) >> 30;
	} else {
		log_warn("statvfs %s", v->instances_path);
	}
	return 0;
}

static int
cmp_guest(const void *a, const void *b)
{
	return strcmp(((const struct virt_guest *)a)->uuid,
	    ((const struct virt_guest *)b)->uuid);
}

/* The volume ids of the guest's volume disks in xml into g. */
static int
guest_volumes(const char *xml, struct virt_guest *g)
{
	struct domxml_voldisk vd[VIRT_VOLUMES_MAX];

	g->nvolumes = 0;
	if (domxml_volumes(xml, vd, VIRT_VOLUMES_MAX, &g->nvolumes) == -1)
		return -1;
	for (size_t k = 0; k < g->nvolumes; k++)
		memcpy(g->volumes[k], vd[k].volume_id, sizeof(g->volumes[k]));
	return 0;
}

int
virt_guests_list(struct virt *v, struct virt_guest **out, size_t *n)
{
	virDomainPtr *doms = NULL;
	virConnectPtr c;
	struct virt_guest *gs;
	const char *type;
	unsigned xflags = 0;
	int nd, i;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if ((c = virt_conn(v)) == NULL)
		return -1;
	nd = virConnectListAllDomains(c, &doms, 0);
	/* The test driver cannot hot-plug: its guests' NICs are those of
	 * their definition (virt/driver.c re-defines them instead). */
	if ((type = virConnectGetType(c)) != NULL && strcmp(type, "TEST") == 0)
		xflags = VIR_DOMAIN_XML_INACTIVE;
	virConnectClose(c);	/* the domains hold their own references */
	if (nd < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: list domains: %s",
		    virt_last_error());
		return -1;
	}
	if ((gs = calloc(nd ? (size_t)nd : 1, sizeof(*gs))) == NULL) {
		for (i = 0; i < nd; i++)
			virDomainFree(doms[i]);
		free(doms);
		err_set(TS_ENOMEM, "virt: out of memory");
		return -1;
	}
	for (i = 0; i < nd; i++) {
		virDomainInfo di;
		struct virt_guest *g = &gs[k];
		const char *name;
		char *xml;
		int st, reason;

		/* A domain may vanish between listing and asking: skip it. */
		if (virDomainGetUUIDString(doms[i], g->uuid) < 0 ||
		    (name = virDomainGetName(doms[i])) == NULL ||
		    virDomainGetInfo(doms[i], &di) < 0) {
			virDomainFree(doms[i]);
			continue;
		}
		snprintf(g->name, sizeof(g->name), "%s", name);
		if (virDomainGetState(doms[i], &st, &reason, 0) < 0) {
			st = di.state;
			reason = 0;
		}
		g->power_state = power_of(doms[i], st, reason, &g->state);
		g->vcpus = di.nrVirtCpu;
		g->memory_mb = di.maxMem / 1024;
		/* Best effort: without its XML a guest's NICs are "not known"
		 * and the controller does not compare them. */
		xml = virDomainGetXMLDesc(doms[i], xflags);
		g->has_macs = xml != NULL && domxml_macs(xml, g->macs,
		    VIRT_MACS_MAX, &g->nmacs) == 0;
		if (!g->has_macs)
			g->nmacs = 0;
		g->has_volumes = xml != NULL && guest_volumes(xml, g) == 0;
		if (!g->has_volumes)
			g->nvolumes = 0;
		struct domxml_meta meta;

		g->generation = xml != NULL && domxml_meta_parse(xml, &meta) ==
		    0 ? meta.generation : 0;
		/* A paused guest's qemu still serves VNC (Nova hands out
		 * its console too). */
		g->vnc_port = xml != NULL && xflags == 0 &&
		    (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_PAUSED) ?
		    domxml_vnc_port(xml) : 0;
		free(xml);
		k++;
		virDomainFree(doms[i]);
	}
	free(doms);
	qsort(gs, k, sizeof(*gs), cmp_guest);
	*out = gs;
	*n = k;
	return 0;
}
