/*
 * router: distributed routers and floating IPs in router namespaces (see
 * router.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "garp.h"
#include "link.h"
#include "log.h"
#include "proc.h"
#include "router.h"
#include "uuid.h"

#define NS_TABLE	"tinystack_router"
#define L3_TABLE	"tinystack_l3"
#define DEV_MAX		(IFNAME_MAX + 1)

/* What was last applied to one router's namespace (forwarding, routes,
 * ruleset), by hash: re-applied only when it differs, each of the three
 * parts (routes, neighbours, ruleset) only when its own hash does (a
 * floating IP changes the ruleset alone: no route flush, no neighbour
 * batch). fips: its floating IP mappings in that ruleset, "FLOATING
 * FIXED\n" lines (owned; NULL for none), whose tracked connections are
 * cut when a mapping goes. */
enum { PART_ROUTES, PART_NEIGH, PART_RULES, NPARTS };
struct applied {
	char		 id[CODEC_UUID_LEN + 1];
	uint64_t	 part[NPARTS];	/* 0: to be applied */
	char		*fips;
};

struct router {
	char		 tag[ROUTER_TAG_MAX + 1];
	struct applied	*applied;
	size_t		 napplied;
	uint64_t	 l3_hash;	/* 0: not applied since start */
	/* Gratuitous ARP of the addresses put on a qg (garp.h). */
	struct garp	*garp;
	char		 host_mac[18];	/* "": none known, router MACs dropped */
	/* No router wanted and nothing of ours left: converging is free
	 * (no programs run) until a router comes. */
	bool		 idle;
	bool		 started;
};

/* One veth of a router: its end in the namespace and on the host. */
struct rdev {
	char		 ns[DEV_MAX];
	char		 host[DEV_MAX];
	char		 bridge[DEV_MAX];
	char		 mac[18];	/* "" : the kernel's */
	char		 net[LINK_ADDR_MAX];	/* the subnet; "" for qg */
	uint32_t	 mtu;
	char		 (*addrs)[LINK_ADDR_MAX];
	size_t		 naddrs;
};

/* What the probes found: the namespace's links and addresses, or the
 * host's veth ends. */
struct seen {
	char		 name[DEV_MAX];
	char		 master[DEV_MAX];
	bool		 up;
	char		 (*addrs)[LINK_ADDR_MAX];
	size_t		 naddrs;
};

/* A buffer's text ("" before the first write). */
static const char *
txt(const struct buf *b)
{
	return b->data ? (const char *)b->data : "";
}

static uint64_t
fnv1a(const char *s)
{
	/* Not FNV's offset basis (a digit short) but what every release so
	 * far has used: the router port's MAC derives from it. */
	uint64_t h = hash_fnv64_add(1469598103934665603ULL, s, strlen(s));

	return h ? h : 1;
}

/* The first n hex digits of a UUID (dashes skipped). */
static void
hexid(const char *id, size_t n, char *out)
{
	size_t k = 0;

	for (; *id && k < n; id++)
		if (*id != '-')
			out[k++] = *id;
	out[k] = '\0';
}

static bool
mac_valid(const char *m)
{
	size_t i;

	if (strlen(m) != 17)
		return false;
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? m[i] != ':' : !isxdigit((unsigned char)m[i]))
			return false;
	return true;
}

/* A valid MAC in lower case into out (18 bytes). */
static void
mac_lower(const char *m, char *out)
{
	size_t i;

	for (i = 0; i < 17 && m[i]; i++)
		out[i] = (char)tolower((unsigned char)m[i]);
	out[i] = '\0';
}

static int
run(const char *const argv[])
{
	struct proc_result r = { 0 };
	int rc = proc_run(argv, NULL, &r);

	proc_result_clear(&r);
	return rc;
}

/* run() with text on stdin (an nft ruleset). */
static int
run_stdin(const char *const argv[], const char *text)
{
	struct proc_opts o = { .stdin_buf = text, .stdin_len = strlen(text) };
	struct proc_result r = { 0 };
	int rc = proc_run(argv, &o, &r);

	proc_result_clear(&r);
	return rc;
}

/* run() keeping stdout (*out owned by the caller, also on failure). */
static int
run_out(const char *const argv[], char **out)
{
	struct proc_result r = { 0 };
	int rc = proc_run(argv, NULL, &r);

	*out = r.out;
	r.out = NULL;
	proc_result_clear(&r);
	return rc;
}

/* See router.h: the IPv4 underlay address as is (unique where VXLAN
 * runs), else 32 bits of a hash of the host's identity. */
static void
host_mac(const char *local_ip, const char *host, char *out)
{
	struct in_addr a;
	uint64_t h;
	uint8_t o[4];

	if (local_ip && inet_pton(AF_INET, local_ip, &a) == 1)
		memcpy(o, &a, 4);
	else {
		h = fnv1a(local_ip && local_ip[0] ? local_ip : host);
		h ^= h >> 32;
		o[0] = (uint8_t)(h >> 24);
		o[1] = (uint8_t)(h >> 16);
		o[2] = (uint8_t)(h >> 8);
		o[3] = (uint8_t)h;
	}
	snprintf(out, 18, "%s:%02x:%02x:%02x:%02x", ROUTER_HOST_MAC_PREFIX,
	    o[0], o[1], o[2], o[3]);
}

struct router *
router_new(const char *tag, const char *local_ip, const char *host)
{
	struct router *rt;
	const char *p;

	if (tag == NULL)
		tag = "";
	for (p = tag; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' &&
		    *p != '-')
			break;
	if (*p || strlen(tag) > ROUTER_TAG_MAX) {
		err_set(TS_EINVALID, "router: namespace tag '%.40s' not "
		    "[A-Za-z0-9_.-]{0,%d}", tag, ROUTER_TAG_MAX);
		return NULL;
	}
	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		err_set(TS_ENOMEM, "router: out of memory");
		return NULL;
	}
	snprintf(rt->tag, sizeof(rt->tag), "%s", tag);
	if ((rt->garp = garp_new()) == NULL) {
		free(rt);
		return NULL;
	}
	if ((local_ip && local_ip[0]) || (host && host[0]))
		host_mac(local_ip, host, rt->host_mac);
	return rt;
}

const char *
router_host_mac(const struct router *rt)
{
	return rt->host_mac;
}

static void
applied_clear(struct applied *a, size_t n)
{
	size_t i;

	for (i = 0; a && i < n; i++)
		free(a[i].fips);
	free(a);
}

void
router_free(struct router **rtp)
{
	if (rtp == NULL || *rtp == NULL)
		return;
	applied_clear((*rtp)->applied, (*rtp)->napplied);
	garp_free(&(*rtp)->garp);
	free(*rtp);
	*rtp = NULL;
}

int64_t
router_announce(struct router *rt)
{
	return garp_run(rt->garp, clock_mono_ms());
}

int
router_ns_name(const struct router *rt, const char *id, char *out)
{
	char hex[12];

	if (!uuid_valid(id)) {
		err_set(TS_EINVALID, "router: bad router id");
		return -1;
	}
	hexid(id, 11, hex);
	snprintf(out, ROUTER_NS_MAX + 1, "%s%s%s%s", ROUTER_NS_PREFIX, hex,
	    rt->tag[0] ? "-" : "", rt->tag);
	return 0;
}

/* Whether name is a namespace of ours: the prefix, 11 hex and our tag. */
static bool
ns_owned(const struct router *rt, const char *name)
{
	size_t i, pl = strlen(ROUTER_NS_PREFIX);

	if (strncmp(name, ROUTER_NS_PREFIX, pl) != 0)
		return false;
	for (i = 0; i < 11; i++)
		if (!isxdigit((unsigned char)name[pl + i]) ||
		    isupper((unsigned char)name[pl + i]))
			return false;
	name += pl + 11;
	if (rt->tag[0] == '\0')
		return *name == '\0';
	return *name == '-' && strcmp(name + 1, rt->tag) == 0;
}

static const struct sch_net_subnet *
subnet_of(const struct msg_host_network *d, const char *id)
{
	size_t i;

	for (i = 0; id && i < d->subnets.n; i++)
		if (strcmp(d->subnets.items[i].id, id) == 0)
			return &d->subnets.items[i];
	return NULL;
}

/* ip + the prefix of cidr, normalised into out; -1 recorded. */
static int
addr_in(const char *ip, const char *cidr, char *out)
{
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	char t[LINK_ADDR_MAX * 2];

	if (slash == NULL) {
		err_set(TS_EINVALID, "router: subnet cidr '%.64s' has no "
		    "prefix", cidr ? cidr : "");
		return -1;
	}
	snprintf(t, sizeof(t), "%.64s%.8s", ip, slash);
	return link_addr_norm(t, 1, out, NULL) == -1 ? -1 : 0;
}

/* Whether address ip lies in subnet cidr (both normalised, same family). */
static bool
in_net(const char *ip, const char *cidr)
{
	unsigned char x[16], n[16];
	char c[LINK_ADDR_MAX], *slash;
	unsigned plen, i;
	int af = strchr(cidr, ':') ? AF_INET6 : AF_INET;

	snprintf(c, sizeof(c), "%s", cidr);
	if ((slash = strchr(c, '/')) == NULL)
		return false;
	*slash = '\0';
	plen = (unsigned)atoi(slash + 1);
	if (inet_pton(af, ip, x) != 1 || inet_pton(af, c, n) != 1)
		return false;
	for (i = 0; i < plen / 8; i++)
		if (x[i] != n[i])
			return false;
	return plen % 8 == 0 ||
	    ((x[i] ^ n[i]) & (0xff00 >> (plen % 8)) & 0xff) == 0;
}

static int
rdev_addr(struct rdev *v, const char *a, size_t max)
{
	if (v->naddrs >= max) {
		err_set(TS_EINVALID, "router: too many addresses");
		return -1;
	}
	snprintf(v->addrs[v->naddrs++], LINK_ADDR_MAX, "%s", a);
	return 0;
}

static void
seen_free(struct seen *s, size_t n)
{
	size_t i;

	for (i = 0; s && i < n; i++)
		free(s[i].addrs);
	free(s);
}

/* Split text into lines and each line into at most 64 words, in place. */
static size_t
words(char *line, char **w)
{
	size_t n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(line, " \t", &save); t && n < 64;
	    t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	return n;
}

/* Parse `ip -br addr show`: "NAME[@PEER] STATE ADDR...". Owned *out. */
static int
parse_br(char *text, struct seen **out, size_t *n)
{
	char *save = NULL, *line, *w[64], *at;
	struct seen *s = NULL, *ns;
	size_t cap = 0, nw, i;

	*n = 0;
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((nw = words(line, w)) < 2)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((ns = realloc(s, cap * sizeof(*s))) == NULL)
				goto nomem;
			s = ns;
		}
		memset(&s[*n], 0, sizeof(*s));
		if ((at = strchr(w[0], '@')) != NULL)
			*at = '\0';
		snprintf(s[*n].name, DEV_MAX, "%s", w[0]);
		s[*n].up = strcmp(w[1], "DOWN") != 0;
		(*n)++;
		if (nw > 2 && (s[*n - 1].addrs = calloc(nw - 2,
		    LINK_ADDR_MAX)) == NULL)
			goto nomem;
		for (i = 2; i < nw; i++)
			if (strncmp(w[i], "fe80:", 5) != 0)
				snprintf(s[*n - 1].addrs[s[*n - 1].naddrs++],
				    LINK_ADDR_MAX, "%s", w[i]);
	}
	*out = s;
	return 0;
nomem:
	seen_free(s, *n);
	*n = 0;
	err_set(TS_ENOMEM, "router: out of memory");
	return -1;
}

/* Parse `ip -o link show type veth`: "N: NAME@PEER: <FLAGS> ... master
 * BR ...". Owned *out. */
static int
parse_links(char *text, struct seen **out, size_t *n)
{
	char *save = NULL, *line, *w[64], *at;
	struct seen *s = NULL, *ns;
	size_t cap = 0, nw, i;

	*n = 0;
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((nw = words(line, w)) < 3)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((ns = realloc(s, cap * sizeof(*s))) == NULL) {
				free(s);
				err_set(TS_ENOMEM, "router: out of memory");
				return -1;
			}
			s = ns;
		}
		memset(&s[*n], 0, sizeof(*s));
		if ((at = strchr(w[1], '@')) != NULL ||
		    (at = strchr(w[1], ':')) != NULL)
			*at = '\0';
		snprintf(s[*n].name, DEV_MAX, "%s", w[1]);
		s[*n].up = strstr(w[2], ",UP") || strncmp(w[2], "<UP", 3) == 0;
		for (i = 3; i + 1 < nw; i++)
			if (strcmp(w[i], "master") == 0)
				snprintf(s[*n].master, DEV_MAX, "%s", w[i + 1]);
		(*n)++;
	}
	*out = s;
	return 0;
}

static const struct seen *
seen_find(const struct seen *s, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

static bool
has_addr(char (*a)[LINK_ADDR_MAX], size_t n, const char *x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(a[i], x) == 0)
			return true;
	return false;
}

/* The desired state of one router on this host. */
struct plan {
	char		 ns[ROUTER_NS_MAX + 1];
	struct rdev	*devs;		/* interfaces, then qg if any */
	size_t		 ndevs;
	const char	*qg;		/* devs[ndevs - 1].ns, or NULL */
	struct buf	 routes;	/* "DEST NEXTHOP DEV\n" lines */
	struct buf	 neigh;		/* "IP MAC DEV\n" lines */
	struct buf	 rules;		/* the namespace's nft ruleset */
	struct buf	 fips;		/* "FLOATING FIXED\n" in rules */
};

static void
plan_clear(struct plan *p)
{
	size_t i;

	for (i = 0; p->devs && i < p->ndevs; i++)
		free(p->devs[i].addrs);
	free(p->devs);
	buf_free(&p->routes);
	buf_free(&p->neigh);
	buf_free(&p->rules);
	buf_free(&p->fips);
	memset(p, 0, sizeof(*p));
}

/* The namespace's ruleset: DNAT/SNAT of the floating IPs, the central
 * SNAT, and on a host that is not the snat_host only translated sources
 * leave through qg. */
static int
plan_rules(struct plan *p, const struct msg_host_network *d,
    const struct sch_net_router *r, char (*fl)[2][LINK_ADDR_MAX], size_t nfl,
    const char *gw)
{
	struct buf *b = &p->rules;
	size_t i, k;
	bool first;

	buf_printf(b, "table ip %s\ndelete table ip %s\ntable ip %s {\n",
	    NS_TABLE, NS_TABLE, NS_TABLE);
	if (p->qg == NULL)
		goto end;
	buf_puts(b, "\tchain pre {\n\t\ttype nat hook prerouting priority "
	    "dstnat; policy accept;\n");
	for (i = 0; i < nfl; i++)
		buf_printf(b, "\t\tip daddr %s dnat to %s\n", fl[i][0],
		    fl[i][1]);
	buf_puts(b, "\t}\n\tchain post {\n\t\ttype nat hook postrouting "
	    "priority srcnat; policy accept;\n");
	for (i = 0; i < nfl; i++)
		buf_printf(b, "\t\toifname \"%s\" ip saddr %s snat to %s\n",
		    p->qg, fl[i][1], fl[i][0]);
	if (gw && r->has_enable_snat && r->enable_snat) {
		first = true;
		for (k = 0; k < r->interfaces.n; k++) {
			const struct sch_net_router_if *ri =
			    &r->interfaces.items[k];
			const struct sch_net_subnet *s =
			    subnet_of(d, ri->subnet_id);
			char c[LINK_ADDR_MAX];

			if (s == NULL || s->ip_version != 4 ||
			    link_addr_norm(s->cidr, 1, c, NULL) != AF_INET)
				continue;
			if (first)
				buf_printf(b, "\t\toifname \"%s\" ip saddr { %s",
				    p->qg, c);
			else
				buf_printf(b, ", %s", c);
			first = false;
		}
		if (!first)
			buf_printf(b, " } snat to %s\n", gw);
	}
	buf_puts(b, "\t}\n");
	if (gw == NULL) {
		/* (not "fwd": a keyword of nft's grammar, refused as a name) */
		buf_puts(b, "\tchain out_qg {\n\t\ttype filter hook forward "
		    "priority filter; policy accept;\n");
		if (nfl) {
			buf_printf(b, "\t\toifname \"%s\" ip saddr { ", p->qg);
			for (i = 0; i < nfl; i++)
				buf_printf(b, "%s%s", i ? ", " : "", fl[i][1]);
			buf_puts(b, " } accept\n");
		}
		buf_printf(b, "\t\toifname \"%s\" drop\n\t}\n", p->qg);
	}
end:
	return buf_puts(b, "}\n");
}

/* The router's neighbours on this host's interfaces (p->devs, before qg):
 * each on the interface whose subnet holds it; others are not reachable
 * from here and are skipped. */
static int
plan_neigh(struct plan *p, const struct sch_net_router *r)
{
	char ip[LINK_ADDR_MAX], own[LINK_ADDR_MAX], mac[18], *slash;
	size_t i, k;

	for (i = 0; i < r->neighbors.n; i++) {
		const struct sch_net_neighbor *nb = &r->neighbors.items[i];

		if (link_addr_norm(nb->ip, 0, ip, NULL) == -1 ||
		    !mac_valid(nb->mac)) {
			err_set(TS_EINVALID, "router %s: bad neighbour "
			    "'%.64s' '%.32s'", r->id, nb->ip, nb->mac);
			return -1;
		}
		mac_lower(nb->mac, mac);
		for (k = 0; k < p->ndevs; k++) {
			snprintf(own, sizeof(own), "%s", p->devs[k].addrs[0]);
			if ((slash = strchr(own, '/')) != NULL)
				*slash = '\0';
			if (strcmp(own, ip) != 0 && in_net(ip, p->devs[k].net))
				break;
		}
		if (k < p->ndevs)
			buf_printf(&p->neigh, "%s %s %s\n", ip, mac,
			    p->devs[k].ns);
	}
	return 0;
}

/* Build the plan of router r; -1 recorded when it cannot be built (the
 * router is skipped). A router with no interface on a network here has
 * ndevs == 0. */
static int
plan_build(struct router *rt, const struct msg_host_network *d,
    const struct sch_net_router *r, router_net_fn nets, void *arg,
    struct plan *p)
{
	struct router_net rn;
	char hex[12], shex[12], a[LINK_ADDR_MAX], n2[LINK_ADDR_MAX];
	char gwb[LINK_ADDR_MAX];
	char (*fl)[2][LINK_ADDR_MAX] = NULL;
	const char *gw = NULL;
	size_t i, nfl = 0;
	const struct sch_net_subnet *xs = NULL;

	memset(p, 0, sizeof(*p));
	if (router_ns_name(rt, r->id, p->ns) == -1)
		return -1;
	hexid(r->id, 11, hex);
	if ((p->devs = calloc(r->interfaces.n + 1, sizeof(*p->devs))) ==
	    NULL)
		goto nomem;
	for (i = 0; i < r->interfaces.n; i++) {
		const struct sch_net_router_if *ri = &r->interfaces.items[i];
		const struct sch_net_subnet *s = subnet_of(d, ri->subnet_id);
		struct rdev *v = &p->devs[p->ndevs];

		if (nets(arg, ri->network_id, &rn) == -1)
			continue;
		if (s == NULL) {
			err_set(TS_EINVALID, "router %s: subnet %s of an "
			    "interface not in host_network", r->id,
			    ri->subnet_id);
			goto fail;
		}
		if (!mac_valid(ri->mac)) {
			err_set(TS_EINVALID, "router %s: bad MAC '%.32s'",
			    r->id, ri->mac);
			goto fail;
		}
		if (addr_in(ri->ip_address, s->cidr, a) == -1) {
			err_prefix("router %s: ", r->id);
			goto fail;
		}
		hexid(ri->subnet_id, 11, shex);
		snprintf(v->ns, DEV_MAX, "qr-%s", shex);
		snprintf(v->host, DEV_MAX, "tsi%.5s%.6s", hex, shex);
		snprintf(v->bridge, DEV_MAX, "%s", rn.bridge);
		mac_lower(ri->mac, v->mac);
		if (link_addr_norm(s->cidr, 1, v->net, NULL) == -1) {
			err_prefix("router %s: ", r->id);
			goto fail;
		}
		v->mtu = rn.mtu;
		if ((v->addrs = calloc(1, LINK_ADDR_MAX)) == NULL)
			goto nomem;
		rdev_addr(v, a, 1);
		p->ndevs++;
	}
	if (p->ndevs == 0)
		return 0;
	if (plan_neigh(p, r) == -1)
		goto fail;
	/* The external side, where this host needs it. */
	if (r->gateway_network_id && r->gateway_ip &&
	    (xs = subnet_of(d, r->gateway_subnet_id)) != NULL &&
	    nets(arg, r->gateway_network_id, &rn) == 0 &&
	    ((r->has_snat_host && r->snat_host) || r->floatingips.n)) {
		struct rdev *v = &p->devs[p->ndevs];

		if ((fl = calloc(r->floatingips.n + 1, sizeof(*fl))) == NULL ||
		    (v->addrs = calloc(r->floatingips.n + 1, LINK_ADDR_MAX))
		    == NULL)
			goto nomem;
		snprintf(v->ns, DEV_MAX, "qg-%s", hex);
		snprintf(v->host, DEV_MAX, "tsg%s", hex);
		snprintf(v->bridge, DEV_MAX, "%s", rn.bridge);
		v->mtu = rn.mtu;
		p->qg = v->ns;
		p->ndevs++;
		if (r->has_snat_host && r->snat_host) {
			if (addr_in(r->gateway_ip, xs->cidr, a) == -1)
				goto fail;
			rdev_addr(v, a, r->floatingips.n + 1);
			snprintf(gwb, sizeof(gwb), "%s", a);
			gw = strtok(gwb, "/");
		}
		for (i = 0; i < r->floatingips.n; i++) {
			const struct sch_net_floatingip *f =
			    &r->floatingips.items[i];

			if (link_addr_norm(f->floating_ip, 0, fl[nfl][0],
			    NULL) != AF_INET || link_addr_norm(f->fixed_ip, 0,
			    fl[nfl][1], NULL) != AF_INET) {
				err_set(TS_EINVALID, "router %s: floating IP "
				    "%s: not IPv4 addresses", r->id, f->id);
				goto fail;
			}
			buf_printf(&p->fips, "%s %s\n", fl[nfl][0], fl[nfl][1]);
			snprintf(n2, sizeof(n2), "%.45s/32", fl[nfl][0]);
			if (!has_addr(v->addrs, v->naddrs, n2))
				rdev_addr(v, n2, r->floatingips.n + 1);
			nfl++;
		}
		/* The external subnet is on link even with /32s only. */
		if (link_addr_norm(xs->cidr, 1, a, NULL) == -1)
			goto fail;
		buf_printf(&p->routes, "%s - %s\n", a, p->qg);
		if (xs->gateway_ip) {
			if (link_addr_norm(xs->gateway_ip, 0, n2, NULL) == -1)
				goto fail;
			buf_printf(&p->routes, "default %s %s\n", n2, p->qg);
		}
	}
	for (i = 0; i < r->routes.n; i++) {
		if (link_addr_norm(r->routes.items[i].destination, 1, a,
		    NULL) == -1 || link_addr_norm(r->routes.items[i].nexthop,
		    0, n2, NULL) == -1) {
			err_prefix("router %s: route: ", r->id);
			goto fail;
		}
		buf_printf(&p->routes, "%s %s -\n", a, n2);
	}
	if (plan_rules(p, d, r, fl, nfl, gw) == -1)
		goto fail;
	if (buf_puts(&p->rules, "") == -1 || buf_puts(&p->routes, "") == -1 ||
	    buf_puts(&p->neigh, "") == -1 || buf_puts(&p->fips, "") == -1)
		goto fail;
	free(fl);
	return 0;
nomem:
	err_set(TS_ENOMEM, "router: out of memory");
fail:
	free(fl);
	plan_clear(p);
	return -1;
}

static const struct applied *
applied_find(const struct router *rt, const char *id)
{
	size_t i;

	for (i = 0; i < rt->napplied; i++)
		if (strcmp(rt->applied[i].id, id) == 0)
			return &rt->applied[i];
	return NULL;
}

/* Whether text has the line "...\n" (with its newline). */
static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	while (text && *text) {
		if (strncmp(text, line, n) == 0)
			return true;
		if ((text = strchr(text, '\n')) != NULL)
			text++;
	}
	return false;
}

/*
 * The tracked connections of each mapping of old that is not in new (the
 * floating IP gone, or moved to another fixed address; called the other
 * way round for the mappings new in this ruleset), deleted in the
 * namespace after its new ruleset is in: otherwise an established flow
 * keeps its old translation, as NAT is decided at a connection's first
 * packet. Inbound flows have the floating IP as original destination,
 * outbound ones (SNAT) as reply destination. conntrack exits 1 when
 * nothing matched, which is not a failure; others are logged (the entries
 * stay, nothing else depends on it).
 */
static void
fips_flush(const char *ns, const char *old, const char *new)
{
	const char *l, *e;
	char line[2 * LINK_ADDR_MAX + 2], fip[LINK_ADDR_MAX];
	size_t n, k;

	for (l = old ? old : ""; *l; l = *e ? e + 1 : e) {
		e = strchr(l, '\n');
		if (e == NULL)
			e = l + strlen(l);
		n = (size_t)(e - l);
		if (n == 0 || n >= sizeof(line))
			continue;
		snprintf(line, sizeof(line), "%.*s\n", (int)n, l);
		if (has_line(new, line))
			continue;
		snprintf(fip, sizeof(fip), "%.*s", (int)strcspn(line, " "),
		    line);
		for (k = 0; k < 2; k++) {
			const char *argv[] = { "ip", "netns", "exec", ns,
			    "conntrack", "-D", k ? "--reply-dst" : "--orig-dst",
			    fip, NULL };
			struct proc_opts o = { .allow_nonzero = true };
			struct proc_result r = { 0 };

			if (proc_run(argv, &o, &r) == -1)
				log_warnx("router: %s", err_msg());
			else if (r.status != 0 && (r.status != 1 || r.err ==
			    NULL || strstr(r.err, " 0 flow entries") == NULL))
				log_warnx("router %s: conntrack -D for %s: "
				    "status %d: %.200s", ns, fip, r.status,
				    r.err ? r.err : "");
			proc_result_clear(&r);
		}
	}
}

/* Whether "IP DEV" is among the planned "IP MAC DEV" lines. Linear: it
 * runs only when the router's hashed part changed. */
static bool
neigh_wanted(const char *planned, const char *ip, const char *dev)
{
	size_t il = strlen(ip), dl = strlen(dev);
	const char *l, *e;

	for (l = planned; *l; l = *e ? e + 1 : e) {
		e = strchr(l, '\n');
		if (e == NULL)
			e = l + strlen(l);
		if ((size_t)(e - l) > il + dl + 1 && strncmp(l, ip, il) == 0 &&
		    l[il] == ' ' && strncmp(e - dl, dev, dl) == 0 &&
		    *(e - dl - 1) == ' ')
			return true;
	}
	return false;
}

/* The permanent neighbours: stale ones deleted, planned ones replaced, in
 * one `ip -batch` (thousands of ports must not mean thousands of
 * processes). */
static int
apply_neigh(const struct plan *p)
{
	const char *show[] = { "ip", "-n", p->ns, "neigh", "show", "nud",
	    "permanent", NULL };
	const char *batch[] = { "ip", "-n", p->ns, "-batch", "-", NULL };
	char *out = NULL, *save = NULL, *line, *w[64], *copy = NULL;
	struct buf b = { 0 };
	size_t nw, i;
	int rc = -1;

	if (run_out(show, &out) == -1)
		goto out;
	for (line = out ? strtok_r(out, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		nw = words(line, w);
		for (i = 1; i + 1 < nw && strcmp(w[i], "dev") != 0; i++)
			;
		if (i + 1 < nw && !neigh_wanted(txt(&p->neigh), w[0],
		    w[i + 1]))
			buf_printf(&b, "neigh del %s dev %s\n", w[0], w[i + 1]);
	}
	if ((copy = strdup(txt(&p->neigh))) == NULL) {
		err_set(TS_ENOMEM, "router: out of memory");
		goto out;
	}
	save = NULL;
	for (line = strtok_r(copy, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save))
		if (words(line, w) == 3)
			buf_printf(&b, "neigh replace %s lladdr %s nud "
			    "permanent dev %s\n", w[0], w[1], w[2]);
	if (buf_puts(&b, "") == -1)
		goto out;
	rc = b.len ? run_stdin(batch, txt(&b)) : 0;
out:
	free(out);
	free(copy);
	buf_free(&b);
	return rc;
}

/* Routes, forwarding, neighbours and the ruleset of the namespace (the
 * hashed part): the parts whose hash differs from done (NULL: all). */
static int
apply_hashed(const struct plan *p, const uint64_t *done, const uint64_t *want)
{
	char *save = NULL, *line, *w[64], *copy;
	int rc = 0;
	size_t nw;

	const char *fwd[] = { "ip", "netns", "exec", p->ns, "sysctl", "-qw",
	    "net.ipv4.ip_forward=1", NULL };
	const char *flush[] = { "ip", "-n", p->ns, "route", "flush", "proto",
	    "static", NULL };
	const char *nft[] = { "ip", "netns", "exec", p->ns, "nft", "-f", "-",
	    NULL };
	struct proc_result r = { 0 };
	struct proc_opts lenient = { .allow_nonzero = true };

	if (done != NULL && done[PART_ROUTES] == want[PART_ROUTES])
		goto neigh;
	/* "FIB table does not exist" when there is nothing to flush. */
	proc_run(flush, &lenient, &r);
	proc_result_clear(&r);
	if ((copy = strdup(txt(&p->routes))) == NULL) {
		err_set(TS_ENOMEM, "router: out of memory");
		return -1;
	}
	for (line = strtok_r(copy, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *argv[16] = { "ip", "-n", p->ns, "route",
		    "replace" };
		size_t k = 5;

		if ((nw = words(line, w)) != 3)
			continue;
		argv[k++] = w[0];
		if (strcmp(w[1], "-") != 0) {
			argv[k++] = "via";
			argv[k++] = w[1];
		}
		if (strcmp(w[2], "-") != 0) {
			argv[k++] = "dev";
			argv[k++] = w[2];
			if (strcmp(w[1], "-") == 0) {
				argv[k++] = "scope";
				argv[k++] = "link";
			}
		}
		argv[k++] = "proto";
		argv[k++] = "static";
		if (run(argv) == -1 && rc == 0)
			rc = -1;
	}
	free(copy);
neigh:
	if ((done == NULL || done[PART_NEIGH] != want[PART_NEIGH]) &&
	    apply_neigh(p) == -1 && rc == 0)
		rc = -1;
	if (done != NULL && done[PART_RULES] == want[PART_RULES])
		return rc;
	if (run_stdin(nft, txt(&p->rules)) == -1)
		return -1;
	/*
	 * Forwarding last: a new router forwards nothing before its NAT and
	 * filter rules are in (routes first let a guest's packet out of qg
	 * with its fixed address, untranslated); a ruleset that fails keeps
	 * a new router closed.
	 */
	if (run(fwd) == -1)
		return -1;
	return rc;
}

/* addr ("ip/prefix") without its prefix into out (LINK_ADDR_MAX). */
static void
addr_ip(const char *addr, char *out)
{
	snprintf(out, LINK_ADDR_MAX, "%.*s", (int)strcspn(addr, "/"), addr);
}

/* Queue the gratuitous ARP of addr on the external side (IPv4 only; the
 * gateway of an IPv6 external subnet is not announced). A failure is
 * logged: the address works, its neighbours learn it later. */
static void
announce(struct router *rt, const char *ns, const char *dev,
    const char *addr)
{
	char ip[LINK_ADDR_MAX];
	struct in_addr a;

	addr_ip(addr, ip);
	if (inet_pton(AF_INET, ip, &a) != 1)
		return;
	if (garp_add(rt->garp, ns, dev, ip, clock_mono_ms()) == -1)
		log_warnx("router %s: %s", ns, err_msg());
}

/* Close the gaps of one router: namespace, veths, addresses. 1 when the
 * namespace or a veth was made (routes went with the old one: the hashed
 * part must be applied again), 0 when nothing was missing, -1 recorded.
 * Each address put on qg is announced (garp.h), and with announce_all
 * every one it holds (a router first seen since the agent started: the
 * addresses may have moved here while it was away). */
static int
router_one(struct router *rt, const struct plan *p, bool ns_exists,
    const struct seen *hostl, size_t nhostl, bool announce_all)
{
	struct seen *in = NULL;
	char *out = NULL;
	size_t nin = 0, i, k;
	bool made = !ns_exists;
	int rc = -1;

	const char *add[] = { "ip", "netns", "add", p->ns, NULL };
	const char *lo[] = { "ip", "-n", p->ns, "link", "set", "lo", "up",
	    NULL };
	const char *probe[] = { "ip", "-n", p->ns, "-br", "addr", "show",
	    NULL };
	const char *delns[] = { "ip", "netns", "del", p->ns, NULL };

	if (!ns_exists && (run(add) == -1 || run(lo) == -1))
		return -1;
	if (run_out(probe, &out) == -1) {
		/* Listed but not a namespace: the mount of an agent that ran
		 * in a mount namespace of its own, gone with it. */
		free(out);
		out = NULL;
		if (!ns_exists || run(delns) == -1 || run(add) == -1 ||
		    run(lo) == -1 || run_out(probe, &out) == -1)
			goto out;
		made = true;
	}
	if (parse_br(out, &in, &nin) == -1)
		goto out;
	/* Links in the namespace that are no longer wanted. */
	for (i = 0; i < nin; i++) {
		const char *del[] = { "ip", "-n", p->ns, "link", "del",
		    in[i].name, NULL };

		for (k = 0; k < p->ndevs; k++)
			if (strcmp(p->devs[k].ns, in[i].name) == 0)
				break;
		if (k == p->ndevs && strcmp(in[i].name, "lo") != 0) {
			garp_cancel(rt->garp, p->ns, in[i].name, NULL);
			if (run(del) == -1)
				goto out;
		}
	}
	for (k = 0; k < p->ndevs; k++) {
		const struct rdev *v = &p->devs[k];
		const struct seen *s = seen_find(in, nin, v->ns);
		const struct seen *h = seen_find(hostl, nhostl, v->host);
		bool ext = p->qg != NULL && strcmp(v->ns, p->qg) == 0;
		char mtu[16], ip[LINK_ADDR_MAX];

		snprintf(mtu, sizeof(mtu), "%u", v->mtu ? v->mtu : 1500);
		if (s == NULL || h == NULL) {
			const char *mk[] = { "ip", "link", "add", v->host,
			    "type", "veth", "peer", "name", v->ns, "netns",
			    p->ns, NULL };
			const char *rm[] = { "ip", "link", "del", v->host,
			    NULL };
			const char *set[] = { "ip", "-n", p->ns, "link", "set",
			    v->ns, "mtu", mtu, "up", "address", v->mac, NULL };

			if (h && run(rm) == -1)
				goto out;
			if (run(mk) == -1)
				goto out;
			/* qg keeps the kernel's random MAC: it differs per
			 * host, as the external network needs. */
			if (v->mac[0] == '\0')
				set[9] = NULL;
			if (run(set) == -1)
				goto out;
			made = true;
			s = NULL;
		} else if (!s->up) {
			const char *up[] = { "ip", "-n", p->ns, "link", "set",
			    v->ns, "up", NULL };

			if (run(up) == -1)
				goto out;
		}
		if (h == NULL || !h->up || strcmp(h->master, v->bridge) != 0) {
			const char *hs[] = { "ip", "link", "set", v->host,
			    "master", v->bridge, "mtu", mtu, "up", NULL };

			if (run(hs) == -1)
				goto out;
		}
		for (i = 0; s && i < s->naddrs; i++) {
			const char *del[] = { "ip", "-n", p->ns, "addr", "del",
			    s->addrs[i], "dev", v->ns, NULL };

			if (has_addr(v->addrs, v->naddrs, s->addrs[i]))
				continue;
			/* Moved elsewhere: announcing it from here now
			 * would pull its traffic back. */
			addr_ip(s->addrs[i], ip);
			garp_cancel(rt->garp, p->ns, v->ns, ip);
			if (run(del) == -1)
				goto out;
		}
		for (i = 0; i < v->naddrs; i++) {
			const char *aa[] = { "ip", "-n", p->ns, "addr", "add",
			    v->addrs[i], "dev", v->ns, NULL };

			if (s == NULL || !has_addr(s->addrs, s->naddrs,
			    v->addrs[i])) {
				if (run(aa) == -1)
					goto out;
			} else if (!announce_all)
				continue;
			if (ext)
				announce(rt, p->ns, v->ns, v->addrs[i]);
		}
	}
	rc = 0;
out:
	if (rc == -1)
		err_prefix("router %s: ", p->ns);
	seen_free(in, nin);
	free(out);
	return made ? (rc == 0 ? 1 : rc) : rc;
}

/* The host's "bridge tinystack_l3" table: ARP for or from router
 * addresses stays off the uplinks of the routers' networks, frames from a
 * router MAC are dropped coming in and leave with the host's own MAC (the
 * ARP rules first: the rewrite does not end the chain). */
static int
l3_rules(const struct router *rt, const struct msg_host_network *d,
    router_net_fn nets, void *arg, struct buf *b)
{
	struct buf in = { 0 }, outb = { 0 };
	struct router_net rn;
	char a[LINK_ADDR_MAX], mac[18];
	size_t i, k;

	buf_printf(b, "table bridge %s\ndelete table bridge %s\n", L3_TABLE,
	    L3_TABLE);
	for (i = 0; i < d->routers.n; i++)
		for (k = 0; k < d->routers.items[i].interfaces.n; k++) {
			const struct sch_net_router_if *ri =
			    &d->routers.items[i].interfaces.items[k];

			if (nets(arg, ri->network_id, &rn) == -1 ||
			    rn.uplink[0] == '\0' || !mac_valid(ri->mac))
				continue;
			mac_lower(ri->mac, mac);
			buf_printf(&in, "\t\tiifname \"%s\" ether saddr %s "
			    "drop\n", rn.uplink, mac);
			if (link_addr_norm(ri->ip_address, 0, a, NULL) ==
			    AF_INET) {
				buf_printf(&in, "\t\tiifname \"%s\" arp saddr "
				    "ip %s drop\n\t\tiifname \"%s\" arp daddr "
				    "ip %s drop\n", rn.uplink, a, rn.uplink, a);
				buf_printf(&outb, "\t\toifname \"%s\" arp saddr "
				    "ip %s drop\n\t\toifname \"%s\" arp daddr "
				    "ip %s drop\n", rn.uplink, a, rn.uplink, a);
			}
			if (rt->host_mac[0])
				buf_printf(&outb, "\t\toifname \"%s\" ether "
				    "saddr %s ether saddr set %s\n", rn.uplink,
				    mac, rt->host_mac);
			else
				buf_printf(&outb, "\t\toifname \"%s\" ether "
				    "saddr %s drop\n", rn.uplink, mac);
		}
	if (in.len) {
		buf_printf(b, "table bridge %s {\n\tchain in {\n\t\ttype "
		    "filter hook prerouting priority -200; policy accept;\n"
		    "%s\t}\n\tchain out {\n\t\ttype filter hook forward "
		    "priority -200; policy accept;\n%s\t}\n}\n", L3_TABLE,
		    txt(&in), txt(&outb));
	}
	buf_free(&in);
	buf_free(&outb);
	return buf_puts(b, "");
}

/* Names of `ip netns list` ("NAME" or "NAME (id: N)"), in place. */
static size_t
netns_names(char *text, char **names, size_t max)
{
	char *save = NULL, *line, *w[64];
	size_t n = 0;

	for (line = strtok_r(text, "\n", &save); line && n < max;
	    line = strtok_r(NULL, "\n", &save))
		if (words(line, w) > 0)
			names[n++] = w[0];
	return n;
}

#define NETNS_MAX	4096

/* Whether /run/netns holds a namespace of ours (a restarted agent). */
static bool
owned_left(const struct router *rt)
{
	DIR *dir = opendir("/run/netns");
	struct dirent *e;
	bool found = false;

	while (dir && !found && (e = readdir(dir)) != NULL)
		found = ns_owned(rt, e->d_name);
	if (dir)
		closedir(dir);
	return found;
}

int
router_converge(struct router *rt, const struct msg_host_network *d,
    router_net_fn nets, void *arg)
{
	const char *list[] = { "ip", "netns", "list", NULL };
	const char *veths[] = { "ip", "-o", "link", "show", "type", "veth",
	    NULL };
	const char *l3[] = { "nft", "-f", "-", NULL };
	char *nsout = NULL, *lout = NULL, **have = NULL;
	char (*want)[ROUTER_NS_MAX + 1] = NULL;
	struct applied *now = NULL;
	const struct applied *old;
	const char *fips;
	struct seen *hostl = NULL;
	struct buf l3b = { 0 };
	size_t nhave = 0, nwant = 0, nnow = 0, nhostl = 0, i, j;
	struct err_saved { bool set; struct ts_err e; } first = { 0 };
	uint64_t h, part[NPARTS];
	bool changed;
	bool refused = false;
	int r;

	if (d->routers.n == 0 && (rt->idle || (!rt->started &&
	    !owned_left(rt)))) {
		rt->idle = true;
		return 0;
	}
	rt->started = true;
	rt->idle = false;
	if ((have = calloc(NETNS_MAX, sizeof(*have))) == NULL ||
	    (want = calloc(d->routers.n + 1, sizeof(*want))) == NULL ||
	    (now = calloc(d->routers.n + 1, sizeof(*now))) == NULL) {
		err_set(TS_ENOMEM, "router: out of memory");
		goto fail;
	}
	if (run_out(list, &nsout) == -1 || run_out(veths, &lout) == -1 ||
	    parse_links(lout, &hostl, &nhostl) == -1)
		goto fail;
	nhave = netns_names(nsout, have, NETNS_MAX);
	for (i = 0; i < d->routers.n; i++) {
		const struct sch_net_router *ro = &d->routers.items[i];
		struct plan p;
		bool exists = false;

		for (j = 0; j < i; j++)
			if (strcmp(d->routers.items[j].id, ro->id) == 0)
				break;
		if (j < i)
			continue;	/* listed twice: the first one wins */
		if (plan_build(rt, d, ro, nets, arg, &p) == -1) {
			/* Keep what runs; the next converge tries again. */
			log_warnx("router: %s", err_msg());
			if (!first.set)
				first = (struct err_saved){ true, *err_last() };
			refused = true;
			if (router_ns_name(rt, ro->id, want[nwant]) == 0)
				nwant++;
			/* Its ruleset stays: so do its mappings to cut. */
			if ((old = applied_find(rt, ro->id)) != NULL &&
			    old->fips) {
				snprintf(now[nnow].id, sizeof(now[nnow].id),
				    "%s", ro->id);
				if ((now[nnow++].fips = strdup(old->fips)) ==
				    NULL) {
					err_set(TS_ENOMEM, "router: out of "
					    "memory");
					goto fail;
				}
			}
			continue;
		}
		if (p.ndevs == 0) {
			plan_clear(&p);
			continue;
		}
		snprintf(want[nwant++], ROUTER_NS_MAX + 1, "%s", p.ns);
		for (j = 0; j < nhave; j++)
			if (strcmp(have[j], p.ns) == 0)
				exists = true;
		part[PART_ROUTES] = fnv1a(txt(&p.routes));
		part[PART_NEIGH] = fnv1a(txt(&p.neigh));
		part[PART_RULES] = fnv1a(txt(&p.rules));
		old = applied_find(rt, ro->id);
		changed = old == NULL || memcmp(old->part, part,
		    sizeof(part)) != 0;
		snprintf(now[nnow].id, sizeof(now[nnow].id), "%s", ro->id);
		fips = txt(&p.fips);
		if ((r = router_one(rt, &p, exists, hostl, nhostl,
		    old == NULL)) == -1 ||
		    ((r == 1 || changed) &&
		    apply_hashed(&p, r == 1 || old == NULL ? NULL : old->part,
		    part) == -1)) {
			log_warnx("router: %s", err_msg());
			if (!first.set)
				first = (struct err_saved){ true, *err_last() };
			/* applied again next time */
			memset(part, 0, sizeof(part));
			/* The old ruleset may still be in: its mappings
			 * are the ones to compare with next time. */
			fips = old ? old->fips : NULL;
		} else if (old && changed) {
			fips_flush(p.ns, old->fips, txt(&p.fips));
			/* New mappings: flows to the address that began
			 * before it was mapped were tracked untranslated. */
			fips_flush(p.ns, txt(&p.fips), old->fips);
		}
		if (fips && *fips && (now[nnow].fips = strdup(fips)) == NULL) {
			plan_clear(&p);
			err_set(TS_ENOMEM, "router: out of memory");
			goto fail;
		}
		memcpy(now[nnow++].part, part, sizeof(part));
		plan_clear(&p);
	}
	applied_clear(rt->applied, rt->napplied);
	rt->applied = now;
	rt->napplied = nnow;
	now = NULL;
	/* Namespaces of routers no longer here; their veths go with them. */
	for (i = 0; i < nhave; i++) {
		const char *del[] = { "ip", "netns", "del", have[i], NULL };

		if (!ns_owned(rt, have[i]))
			continue;
		for (j = 0; j < nwant; j++)
			if (strcmp(want[j], have[i]) == 0)
				break;
		if (j < nwant)
			continue;
		garp_cancel(rt->garp, have[i], NULL, NULL);
		if (run(del) == -1) {
			log_warnx("router: %s", err_msg());
			if (!first.set)
				first = (struct err_saved){ true, *err_last() };
		}
	}
	/* A refused router keeps the host table as it was (with its MACs). */
	if (l3_rules(rt, d, nets, arg, &l3b) == -1)
		goto fail;
	if (!refused && (h = fnv1a(txt(&l3b))) != rt->l3_hash) {
		if (run_stdin(l3, txt(&l3b)) == -1) {
			log_warnx("router: %s", err_msg());
			if (!first.set)
				first = (struct err_saved){ true, *err_last() };
			rt->l3_hash = 0;
		} else
			rt->l3_hash = h;
	}
	buf_free(&l3b);
	free(nsout);
	free(lout);
	free(have);
	free(want);
	seen_free(hostl, nhostl);
	/* The first round of what came up, now that its ruleset is in. */
	(void)garp_run(rt->garp, clock_mono_ms());
	if (first.set) {
		err_restore(&first.e);
		return -1;
	}
	rt->idle = d->routers.n == 0;
	return 0;
fail:
	log_warnx("router: %s", err_msg());
	buf_free(&l3b);
	free(nsout);
	free(lout);
	free(have);
	free(want);
	applied_clear(now, nnow);
	seen_free(hostl, nhostl);
	return -1;
}
