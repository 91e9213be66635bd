/* virt: libvirt connection, host facts and guest listing; see virt.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "err.h"
#include "log.h"
#include "virt/virt.h"

struct virt {
	char		*uri;
	char		*instances_path;
	virConnectPtr	 conn;
};

/* libvirt prints every error to stderr by default; we record them instead. */
static void
quiet(void *arg, virErrorPtr e)
{
}

static const char *
lverr(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

static int
connect_now(struct virt *v)
{
	v->conn = virConnectOpen(v->uri);
	if (v->conn == NULL) {
		err_set(TS_EUNAVAILABLE, "libvirt: cannot connect to %s: %s",
		    v->uri, lverr());
		return -1;
	}
	return 0;
}

struct virt *
virt_open(const char *uri, const char *instances_path)
{
	struct virt *v;

	virSetErrorFunc(NULL, quiet);
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->uri = strdup(uri)) == NULL ||
	    (v->instances_path = strdup(instances_path)) == NULL) {
		err_set(TS_ENOMEM, "virt: out of memory");
		virt_free(&v);
		return NULL;
	}
	if (connect_now(v) == -1) {
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
	if (v->conn)
		virConnectClose(v->conn);
	free(v->uri);
	free(v->instances_path);
	free(v);
	*vp = NULL;
}

int
virt_ensure(struct virt *v)
{
	if (v->conn && virConnectIsAlive(v->conn) == 1)
		return 0;
	if (v->conn) {
		log_warnx("libvirt connection to %s lost; reconnecting", v->uri);
		virConnectClose(v->conn);
		v->conn = NULL;
	}
	return connect_now(v);
}

const char *
virt_uri(const struct virt *v)
{
	return v->uri;
}

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
mem_stats(struct virt *v, struct virt_host *h)
{
	virNodeMemoryStatsPtr ps;
	int n = 0;
	unsigned long long total = 0, avail = 0;

	if (virNodeGetMemoryStats(v->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS,
	    NULL, &n, 0) < 0 || n <= 0 || n > 64)
		return -1;
	if ((ps = calloc((size_t)n, sizeof(*ps))) == NULL)
		return -1;
	if (virNodeGetMemoryStats(v->conn, VIR_NODE_MEMORY_STATS_ALL_CELLS,
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

	memset(h, 0, sizeof(*h));
	if (virt_ensure(v) == -1)
		return -1;
	if (virNodeGetInfo(v->conn, &ni) < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: node info: %s", lverr());
		return -1;
	}
	h->vcpus = ni.cpus;
	h->memory_mb = ni.memory / 1024;
	/* virNodeGetInfo's memory is the sum of NUMA cells as sysfs reports
	 * them, which on some (nested) kernels is far below MemTotal; the
	 * memory statistics are what the kernel really has. Used memory is
	 * total - (free + buffers + cached), as Nova's libvirt driver
	 * computes it. The test driver has neither call. */
	if (mem_stats(v, h) == -1) {
		freemem = virNodeGetFreeMemory(v->conn);
		if (freemem > 0 && freemem / (1024 * 1024) <= h->memory_mb)
			h->memory_mb_used = h->memory_mb -
			    freemem / (1024 * 1024);
	}

	type = virConnectGetType(v->conn);
	snprintf(h->hv_type, sizeof(h->hv_type), "%s", type ? type : "unknown");
	if (virConnectGetVersion(v->conn, &ver) == 0)
		h->hv_version = ver;
	if (virConnectGetLibVersion(v->conn, &lver) == 0)
		h->libvirt_version = lver;

	if ((caps = virConnectGetCapabilities(v->conn)) != NULL) {
		xml_text(caps, "<host>", "cpu", "arch", h->cpu_arch,
		    sizeof(h->cpu_arch));
		xml_text(caps, "<host>", "cpu", "model", h->cpu_model,
		    sizeof(h->cpu_model));
		free(caps);
	}
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

static void
map_state(int st, struct virt_guest *g)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING:
		g->state = "running"; g->power_state = VIRT_POWER_RUNNING;
		break;
	case VIR_DOMAIN_BLOCKED:
		g->state = "blocked"; g->power_state = VIRT_POWER_RUNNING;
		break;
	case VIR_DOMAIN_PAUSED:
		g->state = "paused"; g->power_state = VIRT_POWER_PAUSED;
		break;
	case VIR_DOMAIN_SHUTDOWN:
	case VIR_DOMAIN_SHUTOFF:
		g->state = "shutoff"; g->power_state = VIRT_POWER_SHUTDOWN;
		break;
	case VIR_DOMAIN_CRASHED:
		g->state = "crashed"; g->power_state = VIRT_POWER_CRASHED;
		break;
	case VIR_DOMAIN_PMSUSPENDED:
		g->state = "suspended"; g->power_state = VIRT_POWER_SUSPENDED;
		break;
	default:
		g->state = "unknown"; g->power_state = VIRT_POWER_NOSTATE;
		break;
	}
}

static int
cmp_guest(const void *a, const void *b)
{
	return strcmp(((const struct virt_guest *)a)->uuid,
	    ((const struct virt_guest *)b)->uuid);
}

int
virt_guests_list(struct virt *v, struct virt_guest **out, size_t *n)
{
	virDomainPtr *doms = NULL;
	struct virt_guest *gs;
	int nd, i;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (virt_ensure(v) == -1)
		return -1;
	nd = virConnectListAllDomains(v->conn, &doms, 0);
	if (nd < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: list domains: %s", lverr());
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
		int st, reason;

		/* A domain may vanish between listing and asking: skip it. */
		if (virDomainGetUUIDString(doms[i], g->uuid) < 0 ||
		    (name = virDomainGetName(doms[i])) == NULL ||
		    virDomainGetInfo(doms[i], &di) < 0) {
			virDomainFree(doms[i]);
			continue;
		}
		snprintf(g->name, sizeof(g->name), "%s", name);
		if (virDomainGetState(doms[i], &st, &reason, 0) < 0)
			st = di.state;
		map_state(st, g);
		/* A managed-save image means suspended, as Nova reports it. */
		if (st == VIR_DOMAIN_SHUTOFF &&
		    virDomainHasManagedSaveImage(doms[i], 0) == 1) {
			g->state = "suspended";
			g->power_state = VIRT_POWER_SUSPENDED;
		}
		g->vcpus = di.nrVirtCpu;
		g->memory_mb = di.maxMem / 1024;
		k++;
		virDomainFree(doms[i]);
	}
	free(doms);
	qsort(gs, k, sizeof(*gs), cmp_guest);
	*out = gs;
	*n = k;
	return 0;
}
