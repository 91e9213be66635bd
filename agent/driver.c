/*
 * driver: libvirt guests for the agent's compute handler; see driver.h.
 *
 * The parts that differ between virt types sit behind a small table of
 * operations (struct vt_ops): how a domain definition is rendered from a
 * spec, what must exist on disk before it is defined, and where the console
 * log comes from. The libvirt life cycle (define, start, shutdown, destroy,
 * managed save, undefine) and the power-state moves are the same for all
 * types and live here once.
 *
 * The test driver keeps its domains inside this process (test:///default
 * shares one state between all connections of a process), has no disks and
 * no console: its console log is synthetic, one line per life-cycle event,
 * kept in memory per guest.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "config.h"
#include "driver.h"
#include "err.h"
#include "log.h"

#define CONSOLE_CAP		(1024 * 1024)	/* bytes kept / returned */
#define SYNTH_LOG_CAP		(64 * 1024)	/* synthetic log per guest */
#define POLL_MS			100

struct synth_log {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		*buf;
	size_t		 len;
	struct synth_log *next;
};

struct vt_ops;

struct driver {
	char			*uri;
	char			*instances_path;
	char			*state_path;
	enum driver_virt_type	 virt_type;
	int			 shutdown_timeout;
	const struct config	*cfg;
	const struct vt_ops	*ops;
	pthread_mutex_t		 lock;		/* conn (re)opening, logs */
	virConnectPtr		 conn;
	int64_t			 t0;		/* for synthetic log stamps */
	struct synth_log	*logs;
};

/*
 * What differs per virt type. render() returns an owned domain XML for the
 * spec; prepare() makes the guest's files (may be NULL); console() reads
 * the log (NULL: the synthetic in-memory log).
 */
struct vt_ops {
	const char	*name;
	int		(*render)(struct driver *, const struct driver_spec *,
			    char **xml);
	int		(*prepare)(struct driver *, const struct driver_spec *);
	int		(*console)(struct driver *, const char *uuid,
			    size_t max, char **out, size_t *len);
};

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

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- XML */

struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 failed;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 512;
		char *np;

		while (b->len + n + 1 > ncap)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = 1;
		return;
	}
	sb_add(b, tmp, (size_t)n);
}

/* Text content or attribute value, escaped; control characters other than
 * tab/newline cannot appear in XML 1.0 at all and are dropped. */
static void
sb_esc(struct sbuf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '<': sb_add(b, "&lt;", 4); break;
		case '>': sb_add(b, "&gt;", 4); break;
		case '&': sb_add(b, "&amp;", 5); break;
		case '\'': sb_add(b, "&apos;", 6); break;
		case '"': sb_add(b, "&quot;", 6); break;
		default:
			if (c >= 0x20 || c == '\t' || c == '\n')
				sb_add(b, s, 1);
		}
	}
}

/* The <metadata> element every tinystack domain carries. */
static void
sb_metadata(struct sbuf *b, const struct driver_spec *s)
{
	sb_printf(b, "<metadata><ts:instance xmlns:ts='%s'>", DRIVER_XMLNS);
	sb_printf(b, "<ts:generation>%llu</ts:generation>",
	    (unsigned long long)s->generation);
	sb_add(b, "<ts:project>", 12);
	sb_esc(b, s->project_id);
	sb_add(b, "</ts:project><ts:user>", 22);
	sb_esc(b, s->user_id);
	sb_add(b, "</ts:user><ts:flavor>", 21);
	sb_esc(b, s->flavor_name);
	sb_add(b, "</ts:flavor></ts:instance></metadata>", 37);
}

/* ---------------------------------------------------------------- test */

static int
test_render(struct driver *d, const struct driver_spec *s, char **xml)
{
	struct sbuf b = { 0 };

	sb_add(&b, "<domain type='test'><name>", 26);
	sb_esc(&b, s->name);
	sb_printf(&b, "</name><uuid>%s</uuid>", s->uuid);
	sb_printf(&b, "<memory unit='MiB'>%llu</memory><vcpu>%u</vcpu>",
	    (unsigned long long)s->memory_mb, s->vcpus);
	sb_metadata(&b, s);
	sb_add(&b, "<os><type arch='x86_64'>hvm</type></os></domain>", 48);
	if (b.failed) {
		free(b.p);
		err_set(TS_ENOMEM, "driver: out of memory rendering %s",
		    s->uuid);
		return -1;
	}
	*xml = b.p;
	return 0;
}

static const struct vt_ops test_ops = {
	.name = "test",
	.render = test_render,
	.prepare = NULL,
	.console = NULL,
};

/* Virt types whose operations exist in this build. */
static const struct vt_ops *
ops_for(enum driver_virt_type t)
{
	switch (t) {
	case DRIVER_VIRT_TEST:
		return &test_ops;
	default:
		return NULL;
	}
}

/* ------------------------------------------------------------ synthetic */

static struct synth_log *
log_find(struct driver *d, const char *uuid, int create)
{
	struct synth_log *l;

	for (l = d->logs; l; l = l->next)
		if (strcmp(l->uuid, uuid) == 0)
			return l;
	if (!create || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	snprintf(l->uuid, sizeof(l->uuid), "%s", uuid);
	l->next = d->logs;
	d->logs = l;
	return l;
}

/* Appends one line in the style of a kernel log to the guest's synthetic
 * console; the oldest half is dropped when the cap is reached. Best
 * effort: a failed allocation loses the line, never the operation. */
static void __attribute__((format(printf, 3, 4)))
synth(struct driver *d, const char *uuid, const char *fmt, ...)
{
	char line[512];
	struct synth_log *l;
	int64_t t = mono_ms() - d->t0;
	va_list ap;
	int n;

	if (d->ops->console != NULL)
		return;
	n = snprintf(line, sizeof(line), "[%6lld.%03lld] ",
	    (long long)(t / 1000), (long long)(t % 1000));
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	n = (int)strlen(line);
	pthread_mutex_lock(&d->lock);
	if ((l = log_find(d, uuid, 1)) != NULL) {
		char *nb;

		if (l->len + (size_t)n > SYNTH_LOG_CAP) {
			size_t cut = l->len / 2;

			memmove(l->buf, l->buf + cut, l->len - cut);
			l->len -= cut;
		}
		if ((nb = realloc(l->buf, l->len + (size_t)n + 1)) != NULL) {
			l->buf = nb;
			memcpy(l->buf + l->len, line, (size_t)n + 1);
			l->len += (size_t)n;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static void
synth_drop(struct driver *d, const char *uuid)
{
	struct synth_log **pp, *l;

	pthread_mutex_lock(&d->lock);
	for (pp = &d->logs; (l = *pp) != NULL; pp = &l->next) {
		if (strcmp(l->uuid, uuid) == 0) {
			*pp = l->next;
			free(l->buf);
			free(l);
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

/* ------------------------------------------------------------ connection */

static int
conn_open_locked(struct driver *d)
{
	if (d->conn && virConnectIsAlive(d->conn) == 1)
		return 0;
	if (d->conn) {
		log_warnx("driver: libvirt connection to %s lost; reconnecting",
		    d->uri);
		virConnectClose(d->conn);
		d->conn = NULL;
	}
	if ((d->conn = virConnectOpen(d->uri)) == NULL) {
		err_set(TS_EUNAVAILABLE, "libvirt: cannot connect to %s: %s",
		    d->uri, lverr());
		return -1;
	}
	return 0;
}

/* A referenced connection for one operation: a reconnect by another thread
 * closes only the driver's reference, never one in use. */
static virConnectPtr
conn_get(struct driver *d)
{
	virConnectPtr c = NULL;

	pthread_mutex_lock(&d->lock);
	if (conn_open_locked(d) == 0) {
		c = d->conn;
		virConnectRef(c);
	}
	pthread_mutex_unlock(&d->lock);
	return c;
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
driver_new(const struct driver_opts *o)
{
	struct driver *d;

	virSetErrorFunc(NULL, quiet);
	if (o->uri == NULL || o->instances_path == NULL) {
		err_set(TS_EINVALID, "driver: uri and instances_path needed");
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->virt_type = o->virt_type;
	d->shutdown_timeout = o->shutdown_timeout > 0 ? o->shutdown_timeout :
	    60;
	d->cfg = o->cfg;
	d->t0 = mono_ms();
	if ((d->uri = strdup(o->uri)) == NULL ||
	    (d->instances_path = strdup(o->instances_path)) == NULL ||
	    (d->state_path = strdup(o->state_path ? o->state_path : "")) ==
	    NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		driver_free(&d);
		return NULL;
	}
	if ((d->ops = ops_for(o->virt_type)) == NULL) {
		err_set(TS_ENOT_IMPLEMENTED, "driver: virt type %d has no "
		    "implementation in this build (only test:// URIs)",
		    (int)o->virt_type);
		driver_free(&d);
		return NULL;
	}
	pthread_mutex_lock(&d->lock);
	if (conn_open_locked(d) == -1) {
		pthread_mutex_unlock(&d->lock);
		driver_free(&d);
		return NULL;
	}
	pthread_mutex_unlock(&d->lock);
	return d;
}

void
driver_free(struct driver **dp)
{
	struct driver *d = *dp;

	if (d == NULL)
		return;
	if (d->conn)
		virConnectClose(d->conn);
	while (d->logs) {
		struct synth_log *l = d->logs;

		d->logs = l->next;
		free(l->buf);
		free(l);
	}
	pthread_mutex_destroy(&d->lock);
	free(d->uri);
	free(d->instances_path);
	free(d->state_path);
	free(d);
	*dp = NULL;
}

/* ---------------------------------------------------------------- guests */

static int
uuid_ok(const char *uuid)
{
	if (!codec_uuid_valid(uuid)) {
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

/* Nova power state of a domain; a managed-save image makes a shut-off
 * domain "suspended". */
static enum virt_power
dom_power(virDomainPtr dom, const char **word)
{
	int st = VIR_DOMAIN_NOSTATE, reason;

	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		st = VIR_DOMAIN_NOSTATE;
	switch (st) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
		*word = "running";
		return VIRT_POWER_RUNNING;
	case VIR_DOMAIN_PAUSED:
		*word = "paused";
		return VIRT_POWER_PAUSED;
	case VIR_DOMAIN_SHUTDOWN:
	case VIR_DOMAIN_SHUTOFF:
		if (virDomainHasManagedSaveImage(dom, 0) == 1) {
			*word = "suspended";
			return VIRT_POWER_SUSPENDED;
		}
		*word = "shutoff";
		return VIRT_POWER_SHUTDOWN;
	case VIR_DOMAIN_CRASHED:
		*word = "crashed";
		return VIRT_POWER_CRASHED;
	case VIR_DOMAIN_PMSUSPENDED:
		*word = "suspended";
		return VIRT_POWER_SUSPENDED;
	default:
		*word = "unknown";
		return VIRT_POWER_NOSTATE;
	}
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
	g->power_state = dom_power(dom, &word);
	g->generation = dom_generation(dom, &g->managed);
	g->vcpus = di.nrVirtCpu;
	g->memory_mb = di.maxMem / 1024;
	return 0;
}

int
driver_guest_get(struct driver *d, const char *uuid, struct driver_guest *g)
{
	virConnectPtr c;
	virDomainPtr dom;
	int rc;

	if (!uuid_ok(uuid) || (c = conn_get(d)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	rc = guest_fill(dom, g);
	virDomainFree(dom);
	virConnectClose(c);
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
	if ((c = conn_get(d)) == NULL)
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

static int
define(struct driver *d, virConnectPtr c, const struct driver_spec *s)
{
	virDomainPtr dom;
	char *xml = NULL;

	if (d->ops->prepare && d->ops->prepare(d, s) == -1)
		return -1;
	if (d->ops->render(d, s, &xml) == -1)
		return -1;
	dom = virDomainDefineXML(c, xml);
	free(xml);
	if (dom == NULL) {
		err_set(TS_EIO, "libvirt: define %s: %s", s->uuid, lverr());
		return -1;
	}
	virDomainFree(dom);
	return 0;
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

	if (!spec_ok(s) || (c = conn_get(d)) == NULL)
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
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

/* Waits until the domain is inactive, up to ms. 1 if it is. */
static int
wait_inactive(virDomainPtr dom, int64_t ms)
{
	int64_t until = mono_ms() + ms;

	for (;;) {
		if (virDomainIsActive(dom) == 0)
			return 1;
		if (mono_ms() >= until)
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
		if (virDomainShutdown(dom) == 0 &&
		    wait_inactive(dom, (int64_t)d->shutdown_timeout * 1000)) {
			synth(d, uuid, "reboot: Power down");
			return 0;
		}
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
driver_guest_set_power(struct driver *d, const char *uuid,
    enum virt_power want)
{
	virConnectPtr c;
	virDomainPtr dom;
	enum virt_power cur;
	const char *word;
	int rc = 0;

	if (!uuid_ok(uuid) || (c = conn_get(d)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	cur = dom_power(dom, &word);
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

	if (!spec_ok(s) || (c = conn_get(d)) == NULL)
		return -1;
	if ((dom = dom_get(c, s->uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	cur = dom_power(dom, &word);
	if (!hard && cur == VIRT_POWER_RUNNING) {
		if (virDomainReboot(dom, 0) == 0) {
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

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);

	if (rc == -1 && errno != ENOENT)
		log_warn("removing %s", path);
	return 0;
}

int
driver_guest_delete(struct driver *d, const char *uuid)
{
	virConnectPtr c;
	virDomainPtr dom;
	char dir[4096];
	int rc = 0;

	if (!uuid_ok(uuid) || (c = conn_get(d)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		if (err_code() != TS_ENOT_FOUND) {
			virConnectClose(c);
			return -1;
		}
	} else {
		if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
			rc = lv_fail("destroy", uuid);
		if (rc == 0 && virDomainUndefineFlags(dom,
		    VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
		    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0 &&
		    virGetLastErrorCode() != VIR_ERR_NO_DOMAIN)
			rc = lv_fail("undefine", uuid);
		virDomainFree(dom);
	}
	virConnectClose(c);
	if (rc == -1)
		return -1;
	/* uuid is validated: the path cannot leave instances_path. */
	snprintf(dir, sizeof(dir), "%s/%s", d->instances_path, uuid);
	if (access(dir, F_OK) == 0 &&
	    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		log_warn("removing %s", dir);
	synth_drop(d, uuid);
	return 0;
}

int
driver_console_get(struct driver *d, const char *uuid, size_t max,
    char **out, size_t *len)
{
	struct driver_guest g;
	struct synth_log *l;
	size_t off = 0, n = 0;

	*out = NULL;
	*len = 0;
	if (max == 0 || max > CONSOLE_CAP)
		max = CONSOLE_CAP;
	if (driver_guest_get(d, uuid, &g) == -1)
		return -1;
	if (d->ops->console)
		return d->ops->console(d, uuid, max, out, len);
	pthread_mutex_lock(&d->lock);
	if ((l = log_find(d, uuid, 0)) != NULL) {
		n = l->len;
		if (n > max) {
			off = n - max;
			n = max;
		}
	}
	if ((*out = malloc(n + 1)) != NULL) {
		if (n)
			memcpy(*out, l->buf + off, n);
		(*out)[n] = '\0';
		*len = n;
	}
	pthread_mutex_unlock(&d->lock);
	if (*out == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return -1;
	}
	return 0;
}
