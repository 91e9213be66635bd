/* netsync: every host's desired network state, derived from the store and
 * sent until applied; see netsync.h. */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "hash.h"
#include "nametab.h"
#include "buf.h"
#include "bus.h"
#include "codec.h"
#include "core/db.h"
#include "core/fleet.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "network/ipam.h"
#include "network/netsync.h"
#include "network/network_db.h"
#include "store.h"

/* The schema's maxima of one host's message (schemas/network.schema). */
#define MAX_NETWORKS	1024
#define MAX_SUBNETS	2048
#define MAX_PORTS	4096
#define MAX_PEERS	256
#define MAX_FIXED_IPS	8
#define MAX_DNS		8
#define MAX_ROUTES	32
#define MAX_HOSTS	65536	/* hosts tracked at once */
#define MAX_NEIGHBORS	16384	/* of one router */
#define MAX_SECGROUPS	1024	/* per host, as host_network allows */
#define MAX_SG_RULES	1024	/* per group */
#define MAX_SG_MEMBERS	16384	/* per remote group */
#define MAX_PORT_SGS	64
#define MAX_PAIRS	64

/* One host as netsync knows it. */
struct host {
	char			 name[256];
	struct msg_host_network	*want;		/* owned; NULL before a sync */
	struct buf		 body;		/* want encoded with generation 0 */
	uint64_t		 gen;		/* of want */
	uint64_t		 applied;	/* last reported by the agent */
	int			 reported;	/* applied is meaningful */
	int64_t			 next_send;	/* in the caller's clock (ms) */
	int64_t			 backoff;
	uint64_t		 errhash;	/* failures last logged */
	char			 tunnel_ip[64];	/* as of the last sync */
	uint64_t		 tip_pass;	/* the sync that set tunnel_ip */
};

struct netsync {
	struct store		*store;
	struct bus		*bus;
	struct ipam_conf	*ipam;
	char			 sender[256];
	netsync_hostname_fn	 hostname;
	void			*hostname_arg;
	struct host		**hosts;
	size_t			 nhosts, caphosts;
	/* The same hosts by name: every sync looks up every registered
	 * host, and a linear search was the bus thread's largest cost in
	 * an idle fleet of 1,000 hosts. */
	struct nametab		 tab;
	uint64_t		 pass;		/* derive_all() count */
	struct codec_fieldset	 hv_want;	/* host, tunnel_ip */
	/* Set by any thread (netsync_changed()), claimed by netsync_sync()
	 * before it reads the store: a change committed after the claim
	 * sets it again, so none waits for the rescan. */
	atomic_int		 dirty;
	/* Written by netsync_changed() so that the bus thread derives at
	 * once rather than at its next tick (netsync_woken()). */
	int			 wakefd;
	int64_t			 last_sync;
	int64_t			 next_scan;
	char			 last_dhcp_err[256];
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t
fnv(uint64_t h, const char *s)
{
	/* 0xff ends each string: ("ab","c") and ("a","bc") differ. */
	if (s != NULL)
		h = hash_fnv64_add(h, s, strlen(s));
	return hash_fnv64_add(h, "\xff", 1);
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (d == NULL)
		err_set(TS_ENOMEM, "netsync: out of memory");
	return d;
}

static int
is_network_owned(const struct rec_port *p)
{
	return p->device_owner && strncmp(p->device_owner, "network:", 8) == 0;
}

static int
is_bound(const struct rec_port *p)
{
	return p->binding_host_id && *p->binding_host_id &&
	    !is_network_owned(p);
}

/* One of netsync's DHCP ports: the host it serves, or NULL. */
static const char *
dhcp_host(const struct rec_port *p)
{
	size_t n = strlen(NETSYNC_DHCP_DEVICE);

	if (p->device_owner == NULL ||
	    strcmp(p->device_owner, NETSYNC_DHCP_OWNER) != 0 ||
	    p->device_id == NULL ||
	    strncmp(p->device_id, NETSYNC_DHCP_DEVICE, n) != 0 ||
	    p->device_id[n] == '\0')
		return NULL;
	return p->device_id + n;
}

int
netsync_hostname_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return 0;
		if (label == 0 && c == '-')
			return 0;
		label++;
	}
	return 1;
}

/* ---- hosts ---------------------------------------------------------------- */

static struct host *
host_find(struct netsync *ns, const char *name)
{
	return nametab_find(&ns->tab, name);
}

static struct host *
host_get(struct netsync *ns, const char *name)
{
	struct host *h = host_find(ns, name);

	if (h != NULL)
		return h;
	if (strlen(name) >= sizeof(h->name) || ns->nhosts >= MAX_HOSTS) {
		err_set(TS_EINVALID, "netsync: host '%.64s' not tracked", name);
		return NULL;
	}
	if (ns->nhosts == ns->caphosts) {
		size_t ncap = ns->caphosts ? ns->caphosts * 2 : 16;
		struct host **nh = realloc(ns->hosts, ncap * sizeof(*nh));

		if (nh == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return NULL;
		}
		ns->hosts = nh;
		ns->caphosts = ncap;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return NULL;
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	if (nametab_add(&ns->tab, h) == -1) {
		free(h);
		return NULL;
	}
	ns->hosts[ns->nhosts++] = h;
	return h;
}

static void
host_free(struct host *h)
{
	codec_free(&schema_msg_host_network, (void **)&h->want);
	buf_free(&h->body);
	free(h);
}

/* ---- life cycle ----------------------------------------------------------- */

struct netsync *
netsync_new(const struct config *cfg, struct store *st, struct bus *bus,
    const char *controller_host)
{
	static const char *const hv_fields[] = { "host", "tunnel_ip", NULL };
	struct netsync *ns = calloc(1, sizeof(*ns));

	if (ns == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return NULL;
	}
	nametab_init(&ns->tab, offsetof(struct host, name));
	if (codec_fieldset_init(&schema_rec_hypervisor, hv_fields,
	    &ns->hv_want) == -1 || (ns->ipam = ipam_conf_new(cfg)) == NULL) {
		free(ns);
		return NULL;
	}
	if ((ns->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		err_set_errno(TS_EINTERNAL, "netsync: eventfd");
		ipam_conf_free(&ns->ipam);
		free(ns);
		return NULL;
	}
	ns->store = st;
	ns->bus = bus;
	snprintf(ns->sender, sizeof(ns->sender), "%s", controller_host);
	atomic_init(&ns->dirty, 1);
	return ns;
}

void
netsync_free(struct netsync **nsp)
{
	struct netsync *ns = *nsp;

	if (ns == NULL)
		return;
	for (size_t i = 0; i < ns->nhosts; i++)
		host_free(ns->hosts[i]);
	free(ns->hosts);
	nametab_clear(&ns->tab);
	ipam_conf_free(&ns->ipam);
	close(ns->wakefd);
	free(ns);
	*nsp = NULL;
}

void
netsync_set_hostname(struct netsync *ns, netsync_hostname_fn fn, void *arg)
{
	ns->hostname = fn;
	ns->hostname_arg = arg;
}

void
netsync_changed(struct netsync *ns)
{
	uint64_t one = 1;

	atomic_store(&ns->dirty, 1);
	/* Fails only when the counter would overflow (then a wake-up is
	 * pending anyway); the tick covers the mark regardless. */
	if (write(ns->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("netsync: wake-up");
}

int
netsync_wake_fd(const struct netsync *ns)
{
	return ns->wakefd;
}

void
netsync_woken(struct netsync *ns, int64_t now)
{
	uint64_t n;

	if (read(ns->wakefd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("netsync: wake-up");
	/* Each derivation reads every port: a burst of API writes is
	 * folded into one per NETSYNC_WAKE_GAP_MS; what falls inside the
	 * gap waits for the next wake-up or tick (1 s at most). */
	if (!atomic_load(&ns->dirty) || now - ns->last_sync <
	    NETSYNC_WAKE_GAP_MS)
		return;
	if (netsync_sync(ns, now) == -1) {
		log_err("network state");
		return;
	}
	netsync_send_due(ns, now);
}

int
netsync_pending(struct netsync *ns)
{
	return atomic_load(&ns->dirty);
}

/* ---- a snapshot of the ports ---------------------------------------------- */

/* An address of a port with port security in a security group: the
 * group's members as a remote group (every port, bound anywhere or not). */
struct sg_member {
	char	 group[37];
	char	*ip;		/* owned */
};

/* The ports that matter, deep copies (records handed to callbacks are
 * borrowed), sorted by (network, host, id); the members of every security
 * group, sorted by (group, address). */
struct snap {
	struct rec_port	*bound;		/* bound ports of guests */
	size_t		 nbound, capbound;
	struct rec_port	*dhcp;		/* netsync's DHCP ports */
	size_t		 ndhcp, capdhcp;
	struct by_host	*by_host;	/* bound by (host, network, id) */
	struct sg_member *mem;
	size_t		 nmem, capmem;
};

static void
snap_clear(struct snap *s)
{
	for (size_t i = 0; i < s->nbound; i++)
		codec_clear(&schema_rec_port, &s->bound[i]);
	for (size_t i = 0; i < s->ndhcp; i++)
		codec_clear(&schema_rec_port, &s->dhcp[i]);
	for (size_t i = 0; i < s->nmem; i++)
		free(s->mem[i].ip);
	free(s->bound);
	free(s->dhcp);
	free(s->by_host);
	free(s->mem);
	memset(s, 0, sizeof(*s));
}

static int
mem_push(struct snap *s, const char *group, const char *ip)
{
	if (s->nmem == s->capmem) {
		size_t ncap = s->capmem ? s->capmem * 2 : 64;
		struct sg_member *na = realloc(s->mem, ncap * sizeof(*na));

		if (na == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return -1;
		}
		s->mem = na;
		s->capmem = ncap;
	}
	snprintf(s->mem[s->nmem].group, sizeof(s->mem[s->nmem].group), "%s",
	    group);
	if ((s->mem[s->nmem].ip = xstrdup(ip)) == NULL)
		return -1;
	s->nmem++;
	return 0;
}

/* A port's addresses under each of its groups (port security only: a
 * port without it is in no group's rules). */
static int
snap_members(struct snap *s, const struct rec_port *p)
{
	if (!p->port_security_enabled)
		return 0;
	for (size_t g = 0; g < p->security_groups.n; g++) {
		for (size_t i = 0; i < p->fixed_ips.n; i++)
			if (mem_push(s, p->security_groups.items[g],
			    p->fixed_ips.items[i].ip_address) == -1)
				return -1;
		for (size_t i = 0; i < p->allowed_address_pairs.n; i++)
			if (mem_push(s, p->security_groups.items[g],
			    p->allowed_address_pairs.items[i].ip_address) == -1)
				return -1;
	}
	return 0;
}

static int
cmp_member(const void *a, const void *b)
{
	const struct sg_member *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	return c != 0 ? c : strcmp(x->ip, y->ip);
}

static int
port_copy(const struct rec_port *src, struct rec_port *dst)
{
	struct buf b = { 0 };
	int rc;

	memset(dst, 0, sizeof(*dst));
	rc = codec_encode(&schema_rec_port, src, &b);
	if (rc == 0)
		rc = codec_decode(&schema_rec_port, (const uint8_t *)b.data,
		    b.len, dst);
	buf_free(&b);
	return rc;
}

static int
push(struct rec_port **arr, size_t *n, size_t *cap, const struct rec_port *p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct rec_port *na = realloc(*arr, ncap * sizeof(*na));

		if (na == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return -1;
		}
		*arr = na;
		*cap = ncap;
	}
	if (port_copy(p, &(*arr)[*n]) == -1)
		return -1;
	(*n)++;
	return 0;
}

static int
snap_port(const struct rec_port *p, void *arg)
{
	struct snap *s = arg;

	if (snap_members(s, p) == -1)
		return -1;
	if (is_bound(p)) {
		/* Live-migrating: bound on its target as well meanwhile. */
		if (p->migrating_to != NULL && *p->migrating_to != '\0' &&
		    strcmp(p->migrating_to, p->binding_host_id) != 0) {
			struct rec_port t = *p;

			t.binding_host_id = p->migrating_to;
			if (push(&s->bound, &s->nbound, &s->capbound, &t) ==
			    -1)
				return -1;
		}
		return push(&s->bound, &s->nbound, &s->capbound, p);
	}
	if (dhcp_host(p) != NULL)
		return push(&s->dhcp, &s->ndhcp, &s->capdhcp, p);
	return 0;
}

/* The host a snapshot port counts for: its binding, or the DHCP port's. */
static const char *
port_host(const struct rec_port *p)
{
	return is_bound(p) ? p->binding_host_id : dhcp_host(p);
}

/* First index of arr (sorted by network, host) not before (net, host);
 * host NULL: the first of the network. Binary search: the derivation
 * looks up every (network, host) pair, so a linear walk would make a sync
 * quadratic in the ports of the cloud. */
static size_t
lower(const struct rec_port *arr, size_t n, const char *net, const char *host)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(arr[mid].network_id, net);

		if (c == 0 && host != NULL)
			c = strcmp(port_host(&arr[mid]), host);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether host has a bound port on net. */
static int
snap_has(const struct snap *s, const char *net, const char *host)
{
	size_t i = lower(s->bound, s->nbound, net, host);

	return i < s->nbound && strcmp(s->bound[i].network_id, net) == 0 &&
	    strcmp(s->bound[i].binding_host_id, host) == 0;
}

static const struct rec_port *
snap_dhcp(const struct snap *s, const char *net, const char *host)
{
	size_t i = lower(s->dhcp, s->ndhcp, net, host);

	if (i < s->ndhcp && strcmp(s->dhcp[i].network_id, net) == 0 &&
	    strcmp(dhcp_host(&s->dhcp[i]), host) == 0)
		return &s->dhcp[i];
	return NULL;
}

/* The bound ports by (host, network, id): each names its index in bound
 * and carries the port, so the comparison needs no global. */
struct by_host {
	const struct rec_port	*p;
	size_t			 i;
};

static int
cmp_by_host(const void *a, const void *b)
{
	const struct rec_port *x = ((const struct by_host *)a)->p;
	const struct rec_port *y = ((const struct by_host *)b)->p;
	int c;

	if ((c = strcmp(x->binding_host_id, y->binding_host_id)) != 0)
		return c;
	if ((c = strcmp(x->network_id, y->network_id)) != 0)
		return c;
	return strcmp(x->id, y->id);
}

static int
cmp_port(const void *a, const void *b)
{
	const struct rec_port *x = a, *y = b;
	const char *hx = port_host(x), *hy = port_host(y);
	int c;

	if ((c = strcmp(x->network_id, y->network_id)) != 0)
		return c;
	if ((c = strcmp(hx, hy)) != 0)
		return c;
	return strcmp(x->id, y->id);
}

static int
snap_take(struct store_txn *txn, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	if (network_db_port_each(txn, snap_port, s) == -1) {
		snap_clear(s);
		return -1;
	}
	if (s->nbound)
		qsort(s->bound, s->nbound, sizeof(*s->bound), cmp_port);
	if (s->ndhcp)
		qsort(s->dhcp, s->ndhcp, sizeof(*s->dhcp), cmp_port);
	if (s->nmem)
		qsort(s->mem, s->nmem, sizeof(*s->mem), cmp_member);
	if ((s->by_host = calloc(s->nbound + 1, sizeof(*s->by_host))) ==
	    NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		snap_clear(s);
		return -1;
	}
	for (size_t i = 0; i < s->nbound; i++) {
		s->by_host[i].p = &s->bound[i];
		s->by_host[i].i = i;
	}
	if (s->nbound)
		qsort(s->by_host, s->nbound, sizeof(*s->by_host), cmp_by_host);
	return 0;
}

/* ---- DHCP ports ----------------------------------------------------------- */

/* The DHCP subnets of a network (ids). */
struct dhcp_subnets {
	struct rec_subnet	 s[MAX_FIXED_IPS];
	size_t			 n;
};

static int
collect_dhcp_subnet(const struct rec_subnet *s, void *arg)
{
	struct dhcp_subnets *d = arg;
	struct buf b = { 0 };
	int rc;

	if (!s->enable_dhcp || d->n == MAX_FIXED_IPS)
		return 0;
	memset(&d->s[d->n], 0, sizeof(d->s[0]));
	rc = codec_encode(&schema_rec_subnet, s, &b);
	if (rc == 0)
		rc = codec_decode(&schema_rec_subnet, (const uint8_t *)b.data,
		    b.len, &d->s[d->n]);
	buf_free(&b);
	if (rc == 0)
		d->n++;
	return rc;
}

static void
dhcp_subnets_clear(struct dhcp_subnets *d)
{
	for (size_t i = 0; i < d->n; i++)
		codec_clear(&schema_rec_subnet, &d->s[i]);
	d->n = 0;
}

static int
port_has_ip_in(const struct rec_port *p, const char *subnet_id)
{
	for (size_t i = 0; i < p->fixed_ips.n; i++)
		if (strcmp(p->fixed_ips.items[i].subnet_id, subnet_id) == 0)
			return 1;
	return 0;
}

struct dhcp_action {
	char	 net[CODEC_UUID_LEN + 1];
	char	 host[256];
	char	 port[CODEC_UUID_LEN + 1];	/* release: the DHCP port */
	int	 release;
};

/* Ports of one network, for the checks inside the write. */
struct net_ports {
	const char	*host;
	int		 bound;			/* host has a guest port */
	struct rec_port	 dhcp;			/* host's DHCP port */
	int		 has_dhcp;
};

static int
scan_net_port(const struct rec_port *p, void *arg)
{
	struct net_ports *np = arg;
	const char *dh;

	if (is_bound(p) && strcmp(p->binding_host_id, np->host) == 0)
		np->bound = 1;
	else if ((dh = dhcp_host(p)) != NULL && strcmp(dh, np->host) == 0 &&
	    !np->has_dhcp) {
		if (port_copy(p, &np->dhcp) == -1)
			return -1;
		np->has_dhcp = 1;
	}
	return 0;
}

/* A new DHCP port of (network, host) with an address in each DHCP
 * subnet. */
static int
dhcp_create(struct store_txn *txn, struct netsync *ns,
    const struct rec_network *n, const char *host,
    const struct dhcp_subnets *ds)
{
	struct rec_port p;
	struct ipam_ip_req reqs[MAX_FIXED_IPS];
	char devid[300];
	int64_t now = db_now_ms();
	int rc = -1;

	memset(&p, 0, sizeof(p));
	memset(reqs, 0, sizeof(reqs));
	for (size_t i = 0; i < ds->n; i++)
		reqs[i].subnet_id = ds->s[i].id;
	snprintf(devid, sizeof(devid), "%s%s", NETSYNC_DHCP_DEVICE, host);
	db_uuid(p.id);
	memcpy(p.network_id, n->id, sizeof(p.network_id));
	p.admin_state_up = true;
	p.port_security_enabled = false;
	p.created_at = p.updated_at = now;
	if ((p.project_id = xstrdup(n->project_id)) == NULL ||
	    (p.name = xstrdup("")) == NULL ||
	    (p.description = xstrdup("")) == NULL ||
	    (p.status = xstrdup("ACTIVE")) == NULL ||
	    (p.device_id = xstrdup(devid)) == NULL ||
	    (p.device_owner = xstrdup(NETSYNC_DHCP_OWNER)) == NULL ||
	    (p.binding_host_id = xstrdup(host)) == NULL ||
	    (p.binding_vnic_type = xstrdup("normal")) == NULL ||
	    (p.binding_vif_type = xstrdup("bridge")) == NULL)
		goto out;
	rc = ipam_port_create(txn, ns->ipam, &p, reqs, ds->n, true);
	if (rc == 0)
		log_info("network %s: DHCP port %s for host %s", n->id, p.id,
		    host);
out:
	codec_clear(&schema_rec_port, &p);
	return rc;
}

/* The DHCP port of (network, host) got no address in a DHCP subnet added
 * since it was made: give it one. */
static int
dhcp_add_ips(struct store_txn *txn, const struct rec_port *old,
    const struct dhcp_subnets *ds)
{
	struct rec_port p;
	struct sch_port_fixed_ip *ips;
	char ip[IPAM_ADDR_STRLEN];
	int changed = 0, rc = -1;

	if (port_copy(old, &p) == -1)
		return -1;
	for (size_t i = 0; i < ds->n; i++) {
		size_t k = p.fixed_ips.n;

		if (port_has_ip_in(&p, ds->s[i].id))
			continue;
		if (ipam_ip_allocate(txn, &ds->s[i], p.id, NULL, ip) == -1)
			goto out;
		ips = realloc(p.fixed_ips.items, (k + 1) * sizeof(*ips));
		if (ips == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			goto out;
		}
		p.fixed_ips.items = ips;
		memset(&ips[k], 0, sizeof(ips[k]));
		memcpy(ips[k].subnet_id, ds->s[i].id, sizeof(ips[k].subnet_id));
		if ((ips[k].ip_address = xstrdup(ip)) == NULL)
			goto out;
		p.fixed_ips.n = k + 1;
		changed = 1;
	}
	rc = 0;
	if (changed) {
		p.updated_at = db_now_ms();
		p.revision_number++;
		rc = network_db_port_put(txn, &p, old);
	}
out:
	codec_clear(&schema_rec_port, &p);
	return rc;
}

/* One DHCP change, re-decided inside the write from what is stored now. */
static int
dhcp_apply(struct store_txn *txn, void *arg)
{
	struct dhcp_action *a = ((void **)arg)[0];
	struct netsync *ns = ((void **)arg)[1];
	struct net_ports np = { .host = a->host };
	struct dhcp_subnets ds = { .n = 0 };
	struct rec_network n;
	int rc = -1;

	memset(&n, 0, sizeof(n));
	if (network_db_network_get(txn, a->net, &n) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(&n, 0, sizeof(n));
		/* The network is going: its DHCP ports go with it (the API
		 * deletes them before the network). */
		return 0;
	}
	if (network_db_port_each_network(txn, a->net, scan_net_port, &np) ==
	    -1 || network_db_subnet_each_network(txn, a->net,
	    collect_dhcp_subnet, &ds) == -1)
		goto out;
	if (!np.bound || ds.n == 0) {
		rc = np.has_dhcp && !np.bound ?
		    ipam_port_delete(txn, &np.dhcp) : 0;
		if (rc == 0 && np.has_dhcp && !np.bound)
			log_info("network %s: DHCP port %s of host %s released",
			    a->net, np.dhcp.id, a->host);
	} else if (!np.has_dhcp) {
		rc = dhcp_create(txn, ns, &n, a->host, &ds);
	} else {
		rc = dhcp_add_ips(txn, &np.dhcp, &ds);
	}
out:
	codec_clear(&schema_rec_network, &n);
	if (np.has_dhcp)
		codec_clear(&schema_rec_port, &np.dhcp);
	dhcp_subnets_clear(&ds);
	return rc;
}

/* What the DHCP ports need, judged from a snapshot: a missing port (or
 * address) of a pair with a DHCP subnet, a port of a pair without guests.
 * Appends to *acts (at most cap). */
static int
dhcp_plan(struct store_txn *txn, const struct snap *s,
    struct dhcp_action *acts, size_t cap, size_t *nacts)
{
	*nacts = 0;
	for (size_t i = 0; i < s->nbound && *nacts < cap; i++) {
		const struct rec_port *p = &s->bound[i];
		const struct rec_port *d;
		struct dhcp_subnets ds = { .n = 0 };
		int need = 0;

		/* One look per (network, host): bound is sorted that way. */
		if (i > 0 && strcmp(s->bound[i - 1].network_id,
		    p->network_id) == 0 && strcmp(s->bound[i - 1].
		    binding_host_id, p->binding_host_id) == 0)
			continue;
		if (network_db_subnet_each_network(txn, p->network_id,
		    collect_dhcp_subnet, &ds) == -1)
			return -1;
		d = snap_dhcp(s, p->network_id, p->binding_host_id);
		if (ds.n > 0 && d == NULL)
			need = 1;
		for (size_t k = 0; d != NULL && k < ds.n; k++)
			if (!port_has_ip_in(d, ds.s[k].id))
				need = 1;
		dhcp_subnets_clear(&ds);
		if (!need || strlen(p->binding_host_id) >=
		    sizeof(acts[0].host))
			continue;
		memset(&acts[*nacts], 0, sizeof(acts[0]));
		memcpy(acts[*nacts].net, p->network_id, sizeof(acts[0].net));
		snprintf(acts[*nacts].host, sizeof(acts[0].host), "%s",
		    p->binding_host_id);
		(*nacts)++;
	}
	for (size_t i = 0; i < s->ndhcp && *nacts < cap; i++) {
		const struct rec_port *d = &s->dhcp[i];

		if (snap_has(s, d->network_id, dhcp_host(d)) ||
		    strlen(dhcp_host(d)) >= sizeof(acts[0].host))
			continue;
		memset(&acts[*nacts], 0, sizeof(acts[0]));
		memcpy(acts[*nacts].net, d->network_id, sizeof(acts[0].net));
		memcpy(acts[*nacts].port, d->id, sizeof(acts[0].port));
		snprintf(acts[*nacts].host, sizeof(acts[0].host), "%s",
		    dhcp_host(d));
		acts[*nacts].release = 1;
		(*nacts)++;
	}
	return 0;
}

/* ---- derivation ----------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* VXLAN peers of net seen from host: the other hosts' underlay addresses,
 * sorted, without duplicates (bound is sorted by network, then host). */
static int
fill_peers(struct netsync *ns, const struct snap *s, const char *net,
    const char *host, struct sch_net_network *nn)
{
	char **items = NULL;
	size_t n = 0;

	for (size_t i = lower(s->bound, s->nbound, net, NULL);
	    i < s->nbound && strcmp(s->bound[i].network_id, net) == 0; i++) {
		const struct rec_port *p = &s->bound[i];
		struct host *h;
		char **ni;

		if (strcmp(p->binding_host_id, host) == 0 ||
		    (i > 0 && strcmp(s->bound[i - 1].network_id, net) == 0 &&
		    strcmp(s->bound[i - 1].binding_host_id,
		    p->binding_host_id) == 0))
			continue;
		h = host_find(ns, p->binding_host_id);
		if (h == NULL || h->tunnel_ip[0] == '\0')
			continue;	/* reported no underlay: unreachable */
		if (n == MAX_PEERS) {
			log_warnx("network %s: more than %d VXLAN peers of "
			    "host %s; the rest are left out", net, MAX_PEERS,
			    host);
			break;
		}
		if ((ni = realloc(items, (n + 1) * sizeof(*ni))) == NULL)
			goto nomem;
		items = ni;
		if ((items[n] = xstrdup(h->tunnel_ip)) == NULL)
			goto fail;
		n++;
	}
	if (n > 1)
		qsort(items, n, sizeof(*items), cmp_str);
	/* Two hosts reporting one address: one tunnel. */
	for (size_t i = 1; i < n;) {
		if (strcmp(items[i], items[i - 1]) == 0) {
			free(items[i]);
			memmove(&items[i], &items[i + 1],
			    (n - i - 1) * sizeof(*items));
			n--;
		} else {
			i++;
		}
	}
	nn->vxlan_peers.items = items;
	nn->vxlan_peers.n = n;
	return 0;
nomem:
	err_set(TS_ENOMEM, "netsync: out of memory");
fail:
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	return -1;
}

struct derive {
	struct netsync			*ns;
	const struct snap		*snap;
	const char			*host;
	struct msg_host_network		*m;
	const struct rec_port		*dhcp;	/* of (network, host) */
};

static int
add_subnet(const struct rec_subnet *s, void *arg)
{
	struct derive *d = arg;
	struct msg_host_network *m = d->m;
	struct sch_net_subnet *ns, *items;
	size_t n = m->subnets.n;

	if (n == MAX_SUBNETS) {
		log_warnx("host %s: more than %d subnets; the rest are left "
		    "out", d->host, MAX_SUBNETS);
		return 1;
	}
	if ((items = realloc(m->subnets.items, (n + 1) * sizeof(*items))) ==
	    NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	m->subnets.items = items;
	ns = &items[n];
	memset(ns, 0, sizeof(*ns));
	m->subnets.n = n + 1;
	memcpy(ns->id, s->id, sizeof(ns->id));
	memcpy(ns->network_id, s->network_id, sizeof(ns->network_id));
	ns->ip_version = s->ip_version;
	if ((ns->cidr = xstrdup(s->cidr)) == NULL ||
	    (s->gateway_ip && (ns->gateway_ip = xstrdup(s->gateway_ip)) ==
	    NULL))
		return -1;
	/* DHCP is served only from an address of the host's DHCP port; a
	 * port not allocated yet (or a full subnet) means none here yet. */
	for (size_t i = 0; s->enable_dhcp && d->dhcp &&
	    i < d->dhcp->fixed_ips.n; i++) {
		const struct sch_port_fixed_ip *ip =
		    &d->dhcp->fixed_ips.items[i];

		if (strcmp(ip->subnet_id, s->id) != 0)
			continue;
		if ((ns->dhcp_address = xstrdup(ip->ip_address)) == NULL)
			return -1;
		ns->enable_dhcp = true;
		break;
	}
	if (s->dns_nameservers.n > 0) {
		size_t k = s->dns_nameservers.n < MAX_DNS ?
		    s->dns_nameservers.n : MAX_DNS;

		if ((ns->dns_nameservers.items = calloc(k, sizeof(char *))) ==
		    NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return -1;
		}
		for (size_t i = 0; i < k; i++) {
			if ((ns->dns_nameservers.items[i] =
			    xstrdup(s->dns_nameservers.items[i])) == NULL)
				return -1;
			ns->dns_nameservers.n = i + 1;
		}
	}
	if (s->host_routes.n > 0) {
		size_t k = s->host_routes.n < MAX_ROUTES ?
		    s->host_routes.n : MAX_ROUTES;

		if ((ns->host_routes.items = calloc(k,
		    sizeof(*ns->host_routes.items))) == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return -1;
		}
		for (size_t i = 0; i < k; i++) {
			struct sch_net_host_route *r =
			    &ns->host_routes.items[i];

			ns->host_routes.n = i + 1;
			if ((r->destination = xstrdup(s->host_routes.items[i].
			    destination)) == NULL || (r->nexthop = xstrdup(
			    s->host_routes.items[i].nexthop)) == NULL)
				return -1;
		}
	}
	return 0;
}

/* hostname: compute's for the device, else the port's name if it is a
 * valid host name, else "host-<first IP with dashes>" as Neutron does. */
static int
port_hostname(struct netsync *ns, const struct rec_port *p, char **out)
{
	char name[256];

	*out = NULL;
	if (ns->hostname && p->device_id && *p->device_id &&
	    ns->hostname(p->device_id, name, sizeof(name),
	    ns->hostname_arg) == 0 && netsync_hostname_valid(name))
		return (*out = xstrdup(name)) ? 0 : -1;
	if (p->name && netsync_hostname_valid(p->name))
		return (*out = xstrdup(p->name)) ? 0 : -1;
	if (p->fixed_ips.n == 0)
		return 0;
	snprintf(name, sizeof(name), "host-%s",
	    p->fixed_ips.items[0].ip_address);
	for (char *c = name; *c; c++)
		if (*c == '.' || *c == ':')
			*c = '-';
	return (*out = xstrdup(name)) ? 0 : -1;
}

/* Port security as the port has it: sent only when on (absent is off,
 * as the schema says); groups only with it (the API refuses the other
 * case; an old record is not trusted), the allowed address pairs as given
 * (mac absent: the port's own). */
static int
add_port_security(struct sch_net_port *np, const struct rec_port *p)
{
	size_t k;

	if (!p->port_security_enabled)
		return 0;
	np->has_port_security = np->port_security = true;
	k = p->security_groups.n < MAX_PORT_SGS ? p->security_groups.n :
	    MAX_PORT_SGS;
	if (k > 0 && (np->security_groups.items = calloc(k,
	    sizeof(*np->security_groups.items))) == NULL)
		goto nomem;
	for (size_t i = 0; i < k; i++) {
		if (strlen(p->security_groups.items[i]) > 36)
			continue;	/* not a group id: no group */
		if ((np->security_groups.items[np->security_groups.n] =
		    xstrdup(p->security_groups.items[i])) == NULL)
			return -1;
		np->security_groups.n++;
	}
	k = p->allowed_address_pairs.n < MAX_PAIRS ?
	    p->allowed_address_pairs.n : MAX_PAIRS;
	if (k > 0 && (np->address_pairs.items = calloc(k,
	    sizeof(*np->address_pairs.items))) == NULL)
		goto nomem;
	for (size_t i = 0; i < k; i++) {
		const struct sch_port_addr_pair *a =
		    &p->allowed_address_pairs.items[i];
		struct sch_net_addr_pair *o = &np->address_pairs.items[i];

		np->address_pairs.n = i + 1;
		if ((o->ip = xstrdup(a->ip_address)) == NULL ||
		    (a->mac_address != NULL && *a->mac_address &&
		    (o->mac = xstrdup(a->mac_address)) == NULL))
			return -1;
	}
	return 0;
nomem:
	err_set(TS_ENOMEM, "netsync: out of memory");
	return -1;
}

static int
add_port(struct derive *d, const struct rec_port *p)
{
	struct msg_host_network *m = d->m;
	struct sch_net_port *np, *items;
	size_t n = m->ports.n, k;

	if (n == MAX_PORTS) {
		log_warnx("host %s: more than %d ports; the rest are left out",
		    d->host, MAX_PORTS);
		return 0;
	}
	if ((items = realloc(m->ports.items, (n + 1) * sizeof(*items))) ==
	    NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	m->ports.items = items;
	np = &items[n];
	memset(np, 0, sizeof(*np));
	m->ports.n = n + 1;
	memcpy(np->id, p->id, sizeof(np->id));
	memcpy(np->network_id, p->network_id, sizeof(np->network_id));
	if ((np->mac = xstrdup(p->mac_address)) == NULL ||
	    port_hostname(d->ns, p, &np->hostname) == -1)
		return -1;
	k = p->fixed_ips.n < MAX_FIXED_IPS ? p->fixed_ips.n : MAX_FIXED_IPS;
	if (k > 0 && (np->fixed_ips.items = calloc(k,
	    sizeof(*np->fixed_ips.items))) == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		struct sch_net_fixed_ip *ip = &np->fixed_ips.items[i];

		np->fixed_ips.n = i + 1;
		memcpy(ip->subnet_id, p->fixed_ips.items[i].subnet_id,
		    sizeof(ip->subnet_id));
		if ((ip->ip_address = xstrdup(p->fixed_ips.items[i].
		    ip_address)) == NULL)
			return -1;
	}
	return add_port_security(np, p);
}

/* One network of the host, with its subnets and the host's ports on it
 * (bound[from..to) are those ports; none for a router's external
 * network). */
static int
add_network(struct store_txn *txn, struct derive *d, const char *net,
    size_t from, size_t to)
{
	struct msg_host_network *m = d->m;
	struct sch_net_network *nn, *items;
	struct rec_network n;
	size_t cnt = m->networks.n;
	int rc = -1;

	if (network_db_network_get(txn, net, &n) == -1)
		/* Deleted between the snapshot and now: the next sync. */
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (cnt == MAX_NETWORKS) {
		log_warnx("host %s: more than %d networks; the rest are left "
		    "out", d->host, MAX_NETWORKS);
		codec_clear(&schema_rec_network, &n);
		return 0;
	}
	if ((items = realloc(m->networks.items, (cnt + 1) * sizeof(*items))) ==
	    NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		goto out;
	}
	m->networks.items = items;
	nn = &items[cnt];
	memset(nn, 0, sizeof(*nn));
	m->networks.n = cnt + 1;
	memcpy(nn->id, n.id, sizeof(nn->id));
	nn->mtu = n.mtu;
	nn->has_segmentation_id = n.has_segmentation_id;
	nn->segmentation_id = n.segmentation_id;
	if ((nn->type = xstrdup(n.network_type)) == NULL ||
	    (n.physical_network && *n.physical_network &&
	    (nn->physical_network = xstrdup(n.physical_network)) == NULL))
		goto out;
	if (strcmp(n.network_type, "vxlan") == 0 &&
	    fill_peers(d->ns, d->snap, net, d->host, nn) == -1)
		goto out;
	d->dhcp = snap_dhcp(d->snap, net, d->host);
	if (network_db_subnet_each_network(txn, net, add_subnet, d) == -1)
		goto out;
	for (size_t i = from; i < to; i++)
		if (add_port(d, &d->snap->bound[i]) == -1)
			goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_network, &n);
	return rc;
}

/* ---- security groups ---------------------------------------------------- */

/* The groups a host needs, while they are gathered: used by its ports
 * first, then the remote groups their rules name. */
struct sg_set {
	char	(*id)[37];
	bool	 *remote;	/* named as a remote group: members wanted */
	size_t	  n, cap;
};

static int
sg_set_add(struct sg_set *g, const char *id, bool remote)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->id[i], id) == 0) {
			g->remote[i] |= remote;
			return 0;
		}
	if (g->n == MAX_SECGROUPS)
		return 0;	/* warned by the caller's count */
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 16;
		void *a = realloc(g->id, ncap * sizeof(*g->id));

		if (a == NULL)
			goto nomem;
		g->id = a;
		if ((a = realloc(g->remote, ncap * sizeof(*g->remote))) ==
		    NULL)
			goto nomem;
		g->remote = a;
		g->cap = ncap;
	}
	snprintf(g->id[g->n], sizeof(g->id[g->n]), "%s", id);
	g->remote[g->n++] = remote;
	return 0;
nomem:
	err_set(TS_ENOMEM, "netsync: out of memory");
	return -1;
}

struct sg_rules_arg {
	struct sch_net_secgroup	*out;
	struct sg_set		*set;	/* remote groups go here; NULL: not */
	const char		*host;
};

static int
sg_rule_cb(const struct rec_security_group_rule *r, void *arg)
{
	struct sg_rules_arg *a = arg;
	struct sch_net_secgroup *g = a->out;
	struct sch_net_sg_rule *o, *items;

	if (g->rules.n == MAX_SG_RULES) {
		log_warnx("host %s: security group %s has more than %d rules; "
		    "the rest are left out", a->host, g->id, MAX_SG_RULES);
		return 1;
	}
	if ((items = realloc(g->rules.items, (g->rules.n + 1) *
	    sizeof(*items))) == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	g->rules.items = items;
	o = &items[g->rules.n++];
	memset(o, 0, sizeof(*o));
	o->has_port_min = r->has_port_range_min;
	o->port_min = r->port_range_min;
	o->has_port_max = r->has_port_range_max;
	o->port_max = r->port_range_max;
	if ((o->direction = xstrdup(r->direction)) == NULL ||
	    (o->ethertype = xstrdup(r->ethertype)) == NULL ||
	    (r->protocol != NULL &&
	    (o->protocol = xstrdup(r->protocol)) == NULL) ||
	    (r->remote_ip_prefix != NULL &&
	    (o->remote_ip_prefix = xstrdup(r->remote_ip_prefix)) == NULL) ||
	    (r->remote_group_id != NULL &&
	    (o->remote_group_id = xstrdup(r->remote_group_id)) == NULL))
		return -1;
	if (r->remote_group_id != NULL && a->set != NULL &&
	    sg_set_add(a->set, r->remote_group_id, true) == -1)
		return -1;
	return 0;
}

/* First index of the snapshot's members of group. */
static size_t
mem_lower(const struct snap *s, const char *group)
{
	size_t lo = 0, hi = s->nmem;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->mem[mid].group, group) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
sg_members(const struct snap *s, const char *host,
    struct sch_net_secgroup *g)
{
	size_t i = mem_lower(s, g->id), j = i, k = 0;

	while (j < s->nmem && strcmp(s->mem[j].group, g->id) == 0)
		j++;
	if (j == i)
		return 0;
	if ((g->members.items = calloc(j - i, sizeof(char *))) == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	for (; i < j; i++) {
		/* Sorted: a repeated address (a pair equal to a fixed IP,
		 * two ports) is adjacent. */
		if (k > 0 && strcmp(g->members.items[k - 1], s->mem[i].ip) == 0)
			continue;
		if (k == MAX_SG_MEMBERS) {
			log_warnx("host %s: security group %s has more than "
			    "%d members; the rest are left out", host, g->id,
			    MAX_SG_MEMBERS);
			break;
		}
		if ((g->members.items[k] = xstrdup(s->mem[i].ip)) == NULL)
			return -1;
		g->members.n = ++k;
	}
	return 0;
}

static int
cmp_secgroup(const void *a, const void *b)
{
	return strcmp(((const struct sch_net_secgroup *)a)->id,
	    ((const struct sch_net_secgroup *)b)->id);
}

/*
 * The host's security groups: every group of its ports (with port
 * security), and every group their rules name as remote group, each with
 * its rules; members only for the remote ones. In id order, so that an
 * unchanged state encodes the same.
 */
static int
add_secgroups(struct store_txn *txn, struct derive *d)
{
	struct msg_host_network *m = d->m;
	struct sg_set set = { 0 };
	size_t nused, i;
	int rc = -1;

	for (i = 0; i < m->ports.n; i++)
		for (size_t k = 0; k < m->ports.items[i].security_groups.n; k++)
			if (sg_set_add(&set, m->ports.items[i].security_groups.
			    items[k], false) == -1)
				goto out;
	if (set.n == 0)
		return 0;
	nused = set.n;
	if ((m->security_groups.items = calloc(MAX_SECGROUPS,
	    sizeof(*m->security_groups.items))) == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		goto out;
	}
	/* The used groups' rules may add remote groups to the set; those
	 * get their rules too but add no more groups. */
	for (i = 0; i < set.n; i++) {
		struct sch_net_secgroup *g = &m->security_groups.items[i];
		struct sg_rules_arg a = { .out = g, .host = d->host,
		    .set = i < nused ? &set : NULL };

		memcpy(g->id, set.id[i], sizeof(g->id));
		m->security_groups.n = i + 1;
		if (network_db_sgrule_each_group(txn, g->id, sg_rule_cb,
		    &a) == -1)
			goto out;
	}
	if (set.n == MAX_SECGROUPS)
		log_warnx("host %s: more than %d security groups; the rest "
		    "are left out", d->host, MAX_SECGROUPS);
	for (i = 0; i < set.n; i++)
		if (set.remote[i] && sg_members(d->snap, d->host,
		    &m->security_groups.items[i]) == -1)
			goto out;
	qsort(m->security_groups.items, m->security_groups.n,
	    sizeof(*m->security_groups.items), cmp_secgroup);
	rc = 0;
out:
	free(set.id);
	free(set.remote);
	return rc;
}

/* ---- routers -------------------------------------------------------------- */

/*
 * Routers are distributed (network.schema): a host carries every router
 * with an interface on a network it has bound ports on, the interfaces of
 * those networks, the router's gateway and routes, and the floating IPs
 * of its own ports. SNAT without a floating IP is central: the lexically
 * lowest host with bound ports on any of the router's interface networks
 * holds it, so the choice needs no state and moves when that host's last
 * port behind the router leaves.
 */
struct rtr_derive {
	struct store_txn	*txn;
	struct derive		*d;
	const char		*router_id;
	struct sch_net_router	*nr;
	const char		*snat;		/* lowest host behind it */
	bool			 here;		/* host has ports behind it */
};

/* The lowest host with a bound port on net, or NULL. */
static const char *
lowest_host(const struct snap *s, const char *net)
{
	size_t i = lower(s->bound, s->nbound, net, NULL);

	if (i < s->nbound && strcmp(s->bound[i].network_id, net) == 0)
		return s->bound[i].binding_host_id;
	return NULL;
}

static int
rtr_if_cb(const struct rec_port *p, void *arg)
{
	struct rtr_derive *rd = arg;
	struct sch_net_router *nr = rd->nr;
	const char *low;

	if (strcmp(p->device_owner, "network:router_interface") != 0)
		return 0;
	if ((low = lowest_host(rd->d->snap, p->network_id)) != NULL &&
	    (rd->snat == NULL || strcmp(low, rd->snat) < 0))
		rd->snat = low;
	/* Every interface, not only those of networks with ports here:
	 * traffic is routed on the sender's host (DVR), so each host behind
	 * the router reaches all of its subnets itself. */
	if (snap_has(rd->d->snap, p->network_id, rd->d->host))
		rd->here = true;
	for (size_t i = 0; i < p->fixed_ips.n; i++) {
		struct sch_net_router_if *ri, *items;
		size_t n = nr->interfaces.n;

		if (n == 64)
			break;
		if ((items = realloc(nr->interfaces.items, (n + 1) *
		    sizeof(*items))) == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return -1;
		}
		nr->interfaces.items = items;
		ri = &items[n];
		memset(ri, 0, sizeof(*ri));
		nr->interfaces.n = n + 1;
		memcpy(ri->subnet_id, p->fixed_ips.items[i].subnet_id,
		    sizeof(ri->subnet_id));
		memcpy(ri->network_id, p->network_id, sizeof(ri->network_id));
		if ((ri->ip_address = xstrdup(p->fixed_ips.items[i].
		    ip_address)) == NULL || (ri->mac = xstrdup(
		    p->mac_address)) == NULL)
			return -1;
	}
	return 0;
}

/* A port on one of the router's interface networks: a neighbour for each
 * fixed IP on an interface subnet (the router's own ports excepted). */
static int
rtr_nbr_cb(const struct rec_port *p, void *arg)
{
	struct rtr_derive *rd = arg;
	struct sch_net_router *nr = rd->nr;

	if (strcmp(p->device_id, rd->router_id) == 0)
		return 0;
	for (size_t i = 0; i < p->fixed_ips.n; i++) {
		struct sch_net_neighbor *nb, *items;
		size_t n = nr->neighbors.n, k;

		for (k = 0; k < nr->interfaces.n; k++)
			if (strcmp(nr->interfaces.items[k].subnet_id,
			    p->fixed_ips.items[i].subnet_id) == 0)
				break;
		if (k == nr->interfaces.n)
			continue;
		if (n == MAX_NEIGHBORS) {
			log_warnx("host %s: router %s has more than %d "
			    "neighbours; the rest are left out", rd->d->host,
			    rd->router_id, MAX_NEIGHBORS);
			return 1;
		}
		if ((items = realloc(nr->neighbors.items, (n + 1) *
		    sizeof(*items))) == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return -1;
		}
		nr->neighbors.items = items;
		nb = &items[n];
		memset(nb, 0, sizeof(*nb));
		nr->neighbors.n = n + 1;
		if ((nb->ip = xstrdup(p->fixed_ips.items[i].ip_address)) ==
		    NULL || (nb->mac = xstrdup(p->mac_address)) == NULL)
			return -1;
	}
	return 0;
}

static int
rtr_fip_cb(const struct rec_floatingip *f, void *arg)
{
	struct rtr_derive *rd = arg;
	struct sch_net_router *nr = rd->nr;
	struct sch_net_floatingip *nf, *items;
	struct rec_port p = { .id = "" };
	size_t n = nr->floatingips.n;
	int mine;

	if (f->router_id == NULL || strcmp(f->router_id, rd->router_id) != 0 ||
	    f->port_id == NULL || f->fixed_ip_address == NULL)
		return 0;
	if (network_db_port_get(rd->txn, f->port_id, &p) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	mine = is_bound(&p) && strcmp(p.binding_host_id, rd->d->host) == 0;
	codec_clear(&schema_rec_port, &p);
	if (!mine || n == 4096)
		return 0;
	if ((items = realloc(nr->floatingips.items, (n + 1) *
	    sizeof(*items))) == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	nr->floatingips.items = items;
	nf = &items[n];
	memset(nf, 0, sizeof(*nf));
	nr->floatingips.n = n + 1;
	memcpy(nf->id, f->id, sizeof(nf->id));
	memcpy(nf->port_id, f->port_id, sizeof(nf->port_id));
	if ((nf->floating_ip = xstrdup(f->floating_ip_address)) == NULL ||
	    (nf->fixed_ip = xstrdup(f->fixed_ip_address)) == NULL)
		return -1;
	return 0;
}

/* The gateway: its first IPv4 address (the one SNAT and ARP use). */
static int
rtr_gateway(struct rtr_derive *rd, const struct rec_router *r)
{
	struct sch_net_router *nr = rd->nr;
	struct rec_port p = { .id = "" };
	int rc = 0;

	if (r->gw_network_id == NULL || *r->gw_network_id == '\0' ||
	    r->gw_port_id == NULL)
		return 0;
	if (network_db_port_get(rd->txn, r->gw_port_id, &p) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	for (size_t i = 0; i < p.fixed_ips.n; i++) {
		if (strchr(p.fixed_ips.items[i].ip_address, ':') != NULL)
			continue;
		if ((nr->gateway_network_id = xstrdup(r->gw_network_id)) ==
		    NULL || (nr->gateway_subnet_id = xstrdup(p.fixed_ips.
		    items[i].subnet_id)) == NULL || (nr->gateway_ip = xstrdup(
		    p.fixed_ips.items[i].ip_address)) == NULL)
			rc = -1;
		nr->has_enable_snat = true;
		nr->enable_snat = r->enable_snat;
		break;
	}
	codec_clear(&schema_rec_port, &p);
	return rc;
}

/* Whether the message already holds network id. */
static bool
has_network(const struct msg_host_network *m, const char *id)
{
	for (size_t i = 0; i < m->networks.n; i++)
		if (strcmp(m->networks.items[i].id, id) == 0)
			return true;
	return false;
}

static int
add_router(const struct rec_router *r, void *arg)
{
	struct rtr_derive *rd = arg;
	struct msg_host_network *m = rd->d->m;
	struct sch_net_router *nr, *items;
	size_t n = m->routers.n;

	if (n == 256) {
		log_warnx("host %s: more than 256 routers; the rest are left "
		    "out", rd->d->host);
		return 1;
	}
	if ((items = realloc(m->routers.items, (n + 1) * sizeof(*items))) ==
	    NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	m->routers.items = items;
	nr = &items[n];
	memset(nr, 0, sizeof(*nr));
	m->routers.n = n + 1;
	memcpy(nr->id, r->id, sizeof(nr->id));
	rd->router_id = r->id;
	rd->nr = nr;
	rd->snat = NULL;
	rd->here = false;
	if (network_db_port_each_device(rd->txn, r->id, rtr_if_cb, rd) == -1)
		return -1;
	if (!rd->here) {
		/* Not behind this host: drop the entry again. */
		codec_clear(&schema_sch_net_router, nr);
		m->routers.n = n;
		return 0;
	}
	/* The interface networks without ports here come as the external
	 * one does (bridge and tunnel, no ports), and every port on the
	 * interface subnets is a neighbour (no ARP over the tunnels). */
	for (size_t i = 0; i < nr->interfaces.n; i++) {
		const char *net = nr->interfaces.items[i].network_id;

		if (!has_network(m, net) && add_network(rd->txn, rd->d, net, 0,
		    0) == -1)
			return -1;
		if (network_db_port_each_network(rd->txn, net, rtr_nbr_cb, rd) ==
		    -1)
			return -1;
	}
	if (rtr_gateway(rd, r) == -1)
		return -1;
	if (nr->gateway_ip != NULL) {
		nr->has_snat_host = true;
		nr->snat_host = rd->snat != NULL &&
		    strcmp(rd->snat, rd->d->host) == 0;
	}
	for (size_t i = 0; i < r->routes.n && i < 32; i++) {
		struct sch_net_host_route *rt;

		if ((rt = realloc(nr->routes.items, (i + 1) *
		    sizeof(*rt))) == NULL) {
			err_set(TS_ENOMEM, "netsync: out of memory");
			return -1;
		}
		nr->routes.items = rt;
		nr->routes.n = i + 1;
		memset(&rt[i], 0, sizeof(rt[i]));
		if ((rt[i].destination = xstrdup(r->routes.items[i].
		    destination)) == NULL || (rt[i].nexthop = xstrdup(
		    r->routes.items[i].nexthop)) == NULL)
			return -1;
	}
	if (nr->gateway_ip != NULL && network_db_floatingip_each(rd->txn,
	    rtr_fip_cb, rd) == -1)
		return -1;
	/* The agent builds the external bridge from the network entry. */
	if (nr->gateway_network_id != NULL && !has_network(m,
	    nr->gateway_network_id) && add_network(rd->txn, rd->d,
	    nr->gateway_network_id, 0, 0) == -1)
		return -1;
	return 0;
}

/* The whole message of one host. */
static int
derive_host(struct store_txn *txn, struct netsync *ns, const struct snap *s,
    struct host *h, struct msg_host_network **out)
{
	struct derive d = { .ns = ns, .snap = s, .host = h->name };
	size_t lo = 0, hi = s->nbound, i;

	if ((d.m = codec_new(&schema_msg_host_network)) == NULL ||
	    (d.m->host = xstrdup(h->name)) == NULL)
		goto fail;
	/* The host's first port in by_host (sorted by host, network, id). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->by_host[mid].p->binding_host_id,
		    h->name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A host's ports of one network are adjacent in bound too (sorted
	 * by network, host, id), starting at the group's first index; the
	 * networks come in id order. */
	for (i = lo; i < s->nbound && strcmp(s->by_host[i].p->
	    binding_host_id, h->name) == 0;) {
		size_t j = i + 1, from = s->by_host[i].i;

		while (j < s->nbound && strcmp(s->by_host[j].p->
		    binding_host_id, h->name) == 0 && strcmp(s->by_host[j].p->
		    network_id, s->bound[from].network_id) == 0)
			j++;
		if (add_network(txn, &d, s->bound[from].network_id, from,
		    from + (j - i)) == -1)
			goto fail;
		i = j;
	}
	if (add_secgroups(txn, &d) == -1)
		goto fail;
	if (network_db_router_each(txn, add_router, &(struct rtr_derive){
	    .txn = txn, .d = &d }) == -1)
		goto fail;
	*out = d.m;
	return 0;
fail:
	codec_free(&schema_msg_host_network, (void **)&d.m);
	return -1;
}

/* Replace host's message if its content changed; a new generation. */
static int
host_update(struct host *h, struct msg_host_network **mp, int64_t now)
{
	struct msg_host_network *m = *mp;
	struct buf b = { 0 };

	m->generation = 0;
	if (codec_encode(&schema_msg_host_network, m, &b) == -1) {
		buf_free(&b);
		return -1;
	}
	if (h->want != NULL && b.len == h->body.len &&
	    memcmp(b.data, h->body.data, b.len) == 0) {
		m->generation = h->gen;
		buf_free(&b);
		codec_free(&schema_msg_host_network, (void **)&h->want);
		h->want = m;
		*mp = NULL;
		return 0;
	}
	h->gen++;
	/* The agent applied a later generation (of a controller before a
	 * restart): move past it, or the agent would ignore this one. */
	if (h->reported && h->applied >= h->gen)
		h->gen = h->applied + 1;
	m->generation = h->gen;
	buf_free(&h->body);
	h->body = b;
	codec_free(&schema_msg_host_network, (void **)&h->want);
	h->want = m;
	*mp = NULL;
	h->next_send = now;
	h->backoff = 0;
	log_info("host %s: network state generation %llu (%zu networks, %zu "
	    "ports)", h->name, (unsigned long long)h->gen, m->networks.n,
	    m->ports.n);
	return 0;
}

/* A registered host is tracked, with its underlay address: that of its
 * first hypervisor record in the table's order (the first entry of the
 * by-host index, which db_hypervisor_by_host() reads). */
static int
track_hv(const struct rec_hypervisor *hv, void *arg)
{
	struct netsync *ns = arg;
	struct host *h;

	if (hv->host == NULL || *hv->host == '\0')
		return 0;
	if ((h = host_get(ns, hv->host)) == NULL) {
		log_warnx("%s", err_msg());
		return 0;
	}
	if (h->tip_pass != ns->pass) {
		h->tip_pass = ns->pass;
		snprintf(h->tunnel_ip, sizeof(h->tunnel_ip), "%s",
		    hv->tunnel_ip ? hv->tunnel_ip : "");
	}
	return 0;
}

static int
derive_all(struct netsync *ns, int64_t now)
{
	struct store_txn *txn = NULL;
	struct snap s;
	int rc = -1;

	if (store_read_begin(ns->store, &txn) == -1)
		return -1;
	if (snap_take(txn, &s) == -1)
		goto out;
	/* Every registered host and every host with ports is tracked: one
	 * without ports is told its empty state too, so a network that left
	 * it while this controller was down leaves it now, without waiting
	 * for the agent to say hello again. Of the hypervisor records only
	 * the host and its address are decoded (every guest list of the
	 * fleet was decoded twice per sync before). */
	ns->pass++;
	if (db_hypervisor_each_some(txn, &ns->hv_want, track_hv, ns) == -1)
		goto out_snap;
	for (size_t i = 0; i < s.nbound; i++)
		if (host_get(ns, s.bound[i].binding_host_id) == NULL)
			log_warnx("%s", err_msg());
	/* A host without a hypervisor record (bound ports only): none. */
	for (size_t i = 0; i < ns->nhosts; i++)
		if (ns->hosts[i]->tip_pass != ns->pass)
			ns->hosts[i]->tunnel_ip[0] = '\0';
	for (size_t i = 0; i < ns->nhosts; i++) {
		struct msg_host_network *m = NULL;

		if (derive_host(txn, ns, &s, ns->hosts[i], &m) == -1 ||
		    host_update(ns->hosts[i], &m, now) == -1) {
			codec_free(&schema_msg_host_network, (void **)&m);
			goto out_snap;
		}
	}
	rc = 0;
out_snap:
	snap_clear(&s);
out:
	store_txn_end(&txn);
	return rc;
}

#define DHCP_ACTIONS_PER_SYNC	64

int
netsync_sync(struct netsync *ns, int64_t now)
{
	struct dhcp_action *acts;
	struct store_txn *txn = NULL;
	struct snap s;
	size_t nacts = 0;
	int rc;

	/* Claimed before the read: what commits from now on is seen by
	 * this pass or marks the next one. */
	atomic_store(&ns->dirty, 0);
	ns->last_sync = now;
	if ((acts = calloc(DHCP_ACTIONS_PER_SYNC, sizeof(*acts))) == NULL) {
		err_set(TS_ENOMEM, "netsync: out of memory");
		return -1;
	}
	if (store_read_begin(ns->store, &txn) == -1) {
		free(acts);
		return -1;
	}
	rc = snap_take(txn, &s);
	if (rc == 0) {
		rc = dhcp_plan(txn, &s, acts, DHCP_ACTIONS_PER_SYNC, &nacts);
		snap_clear(&s);
	}
	store_txn_end(&txn);
	if (rc == -1) {
		free(acts);
		return -1;
	}
	/* One write each: a failure (a full subnet) stops only its pair;
	 * the rest of a long list comes at the next sync. */
	for (size_t i = 0; i < nacts; i++) {
		void *arg[2] = { &acts[i], ns };

		if (store_write(ns->store, dhcp_apply, arg) == -1) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s", err_msg());
			if (strcmp(msg, ns->last_dhcp_err) != 0)
				log_warnx("network %s: DHCP port of host %s: "
				    "%s", acts[i].net, acts[i].host, msg);
			snprintf(ns->last_dhcp_err, sizeof(ns->last_dhcp_err),
			    "%s", msg);
		}
	}
	free(acts);
	if (derive_all(ns, now) == -1)
		return -1;
	/* More DHCP ports to allocate or release than one pass does. */
	if (nacts == DHCP_ACTIONS_PER_SYNC)
		atomic_store(&ns->dirty, 1);
	ns->next_scan = now + NETSYNC_RESCAN_MS;
	return 0;
}

/* ---- sending -------------------------------------------------------------- */

static void
send_one(struct netsync *ns, struct host *h, int64_t now)
{
	struct buf b = { 0 };
	char reqid[64], u[CODEC_UUID_LEN + 1];

	db_uuid(u);
	snprintf(reqid, sizeof(reqid), "req-%s", u);
	if (codec_envelope_encode(&schema_msg_host_network, h->want, reqid,
	    ns->sender, &b) == -1 ||
	    bus_send(ns->bus, h->name, b.data, b.len) == -1)
		log_debug("host_network %llu to %s: %s",
		    (unsigned long long)h->gen, h->name, err_msg());
	else
		log_debug("host_network %llu sent to %s (%s)",
		    (unsigned long long)h->gen, h->name, reqid);
	buf_free(&b);
	h->backoff = h->backoff == 0 ? NETSYNC_BACKOFF_MIN_MS :
	    h->backoff * 2;
	if (h->backoff > NETSYNC_BACKOFF_MAX_MS)
		h->backoff = NETSYNC_BACKOFF_MAX_MS;
	h->next_send = now + h->backoff;
}

void
netsync_send_due(struct netsync *ns, int64_t now)
{
	for (size_t i = 0; i < ns->nhosts; i++) {
		struct host *h = ns->hosts[i];

		if (h->want == NULL || (h->reported && h->applied == h->gen) ||
		    now < h->next_send)
			continue;
		send_one(ns, h, now);
	}
}

void
netsync_tick(struct netsync *ns, int64_t now)
{
	if ((atomic_load(&ns->dirty) || now >= ns->next_scan) &&
	    netsync_sync(ns, now) == -1) {
		log_err("network state");
		/* The store failed: not again before the rescan interval
		 * (netsync_sync() claimed the mark; a newer one retries). */
		ns->next_scan = now + NETSYNC_RESCAN_MS;
	}
	netsync_send_due(ns, now);
}

void
netsync_hello(struct netsync *ns, const char *host, int64_t now)
{
	struct host *h = host_get(ns, host);

	if (h == NULL) {
		log_err("netsync");
		return;
	}
	/* A (re)started agent knows nothing until told: what is known is
	 * sent now; its tunnel address may be new, which may change its
	 * own and its peers' messages: derived again at the next tick (one
	 * derivation per tick however many agents say hello). */
	h->reported = 0;
	h->applied = 0;
	h->backoff = 0;
	h->next_send = now;
	h->errhash = 0;
	atomic_store(&ns->dirty, 1);
	if (h->want != NULL)
		send_one(ns, h, now);
}

/* Failures are logged when the set of them changes, not on each report. */
static void
log_failures(struct host *h, const struct msg_host_network_state *m)
{
	uint64_t hash = HASH_FNV64_INIT;

	for (size_t i = 0; i < m->networks.n; i++) {
		const struct sch_net_status *st = &m->networks.items[i];

		if (!st->ok)
			hash = fnv(fnv(hash, st->id), st->message);
	}
	if (hash == h->errhash)
		return;
	h->errhash = hash;
	for (size_t i = 0; i < m->networks.n; i++) {
		const struct sch_net_status *st = &m->networks.items[i];

		if (!st->ok)
			log_warnx("host %s: network %s failed: %s", h->name,
			    st->id, st->message ? st->message : "(no reason)");
	}
}

int
netsync_agent_msg(struct netsync *ns, const char *host,
    struct codec_envelope *env)
{
	struct msg_host_network_state *m;
	struct host *h;

	if (env->type != &schema_msg_host_network_state)
		return 0;
	m = env->body;
	/* The fleet checked that host sent it; it speaks for itself only. */
	if ((h = host_find(ns, host)) == NULL || h->want == NULL) {
		log_debug("host_network_state from %s, which was sent nothing",
		    host);
		return 1;
	}
	for (size_t i = 0; i < m->networks.n; i++) {
		int known = 0;

		for (size_t k = 0; k < h->want->networks.n && !known; k++)
			known = strcmp(h->want->networks.items[k].id,
			    m->networks.items[i].id) == 0;
		if (!known && m->generation == h->gen)
			log_warnx("host %s reports network %s, which it was "
			    "not given", host, m->networks.items[i].id);
	}
	log_failures(h, m);
	h->applied = m->generation;
	h->reported = 1;
	if (h->applied == h->gen) {
		h->backoff = 0;
	} else if (h->applied > h->gen) {
		/* A generation of a previous controller: move past it now. */
		log_info("host %s applied generation %llu, ahead of %llu: "
		    "renumbering", host, (unsigned long long)h->applied,
		    (unsigned long long)h->gen);
		h->gen = h->applied + 1;
		h->want->generation = h->gen;
		h->backoff = 0;
		h->next_send = 0;
	}
	return 1;
}

/* ---- fleet hooks ---------------------------------------------------------- */

static void
hook_report(const char *host, const struct sch_guest *guests, size_t n,
    int hello, void *arg)
{
	if (hello)
		netsync_hello(arg, host, db_now_ms());
}

static int
hook_message(const char *host, struct codec_envelope *env, void *arg)
{
	return netsync_agent_msg(arg, host, env);
}

void
netsync_fleet_hooks(struct netsync *ns, struct fleet_hooks *fh)
{
	memset(fh, 0, sizeof(*fh));
	fh->report = hook_report;
	fh->message = hook_message;
	fh->arg = ns;
}

/* ---- inspection ----------------------------------------------------------- */

const struct msg_host_network *
netsync_desired(struct netsync *ns, const char *host)
{
	struct host *h = host_find(ns, host);

	return h ? h->want : NULL;
}

uint64_t
netsync_applied(struct netsync *ns, const char *host)
{
	struct host *h = host_find(ns, host);

	return h && h->reported ? h->applied : 0;
}
