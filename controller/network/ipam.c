/* ipam: addresses, MACs and segments of the network service; see ipam.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "network/ipam.h"
#include "network/network_db.h"

#define VLAN_MIN	1
#define VLAN_MAX	4094
#define VNI_MIN		1
#define VNI_MAX		16777215
#define VXLAN_OVERHEAD	50	/* outer IPv4 + UDP + VXLAN + inner Ethernet */
#define PHYSNET_MAX	64
#define TYPES_MAX	3

struct range {
	ipam_u128	lo, hi;
};

struct vlan_net {
	char		 name[PHYSNET_MAX + 1];
	struct range	*r;	/* sorted, disjoint; may be empty */
	size_t		 nr;
};

enum seg_type { SEG_FLAT, SEG_VLAN, SEG_VXLAN };

struct ipam_conf {
	uint8_t		 base_mac[6];
	size_t		 mac_fixed;	/* octets kept from base_mac: 3 or 4 */
	unsigned	 mac_retries;
	enum seg_type	 tenant[TYPES_MAX];
	size_t		 ntenant;
	struct range	*vni;
	size_t		 nvni;
	struct vlan_net	*vlan;
	size_t		 nvlan;
	char		**flat;		/* allowed physnets */
	size_t		 nflat;
	bool		 flat_any;
	unsigned	 mtu;
	unsigned	 max_dns;
	unsigned	 max_routes;
	void		(*rnd)(uint8_t *, size_t, void *);
	void		*rnd_arg;
};

/* ---------------------------------------------------------------- addresses */

static unsigned
width(unsigned version)
{
	return version == 4 ? 32 : 128;
}

static ipam_u128
hostmask(unsigned version, unsigned plen)
{
	unsigned h = width(version) - plen;

	return h >= 128 ? ~(ipam_u128)0 : (((ipam_u128)1 << h) - 1);
}

static ipam_u128
cidr_last(const struct ipam_cidr *c)
{
	return c->net.v | hostmask(c->net.version, c->prefixlen);
}

static int
addr_parse(const char *s, struct ipam_addr *a)
{
	unsigned char b[16];

	if (s == NULL)
		return -1;
	if (inet_pton(AF_INET, s, b) == 1) {
		a->version = 4;
		a->v = ((ipam_u128)b[0] << 24) | ((ipam_u128)b[1] << 16) |
		    ((ipam_u128)b[2] << 8) | b[3];
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		a->version = 6;
		a->v = 0;
		for (int j = 0; j < 16; j++)
			a->v = (a->v << 8) | b[j];
		return 0;
	}
	return -1;
}

int
ipam_addr_parse(const char *s, struct ipam_addr *a)
{
	if (addr_parse(s, a) == -1) {
		err_set(TS_EINVALID, "'%s' is not a valid IP address",
		    s ? s : "None");
		return -1;
	}
	return 0;
}

char *
ipam_addr_format(const struct ipam_addr *a, char *out)
{
	unsigned char b[16];
	ipam_u128 v = a->v;

	if (a->version == 4) {
		for (int j = 3; j >= 0; j--, v >>= 8)
			b[j] = (unsigned char)(v & 0xff);
		inet_ntop(AF_INET, b, out, IPAM_ADDR_STRLEN);
	} else {
		for (int j = 15; j >= 0; j--, v >>= 8)
			b[j] = (unsigned char)(v & 0xff);
		inet_ntop(AF_INET6, b, out, IPAM_ADDR_STRLEN);
	}
	return out;
}

char *
ipam_cidr_format(const struct ipam_cidr *c, char *out)
{
	size_t l;

	ipam_addr_format(&c->net, out);
	l = strlen(out);
	snprintf(out + l, IPAM_ADDR_STRLEN - l, "/%u", c->prefixlen);
	return out;
}

enum cidr_err { C_OK, C_NOPREFIX, C_BAD };

/* Parse without messages; host bits cleared. */
static enum cidr_err
cidr_parse(const char *s, struct ipam_cidr *c)
{
	char buf[IPAM_ADDR_STRLEN];
	const char *slash, *p;
	unsigned long plen = 0;
	size_t l;

	if (s == NULL)
		return C_BAD;
	if ((slash = strchr(s, '/')) == NULL)
		return addr_parse(s, &c->net) == 0 ? C_NOPREFIX : C_BAD;
	l = (size_t)(slash - s);
	if (l == 0 || l >= sizeof(buf))
		return C_BAD;
	memcpy(buf, s, l);
	buf[l] = '\0';
	if (addr_parse(buf, &c->net) == -1)
		return C_BAD;
	p = slash + 1;
	if (*p == '\0' || strlen(p) > 3)
		return C_BAD;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return C_BAD;
		plen = plen * 10 + (unsigned long)(*p - '0');
	}
	if (plen > width(c->net.version))
		return C_BAD;
	c->prefixlen = (unsigned)plen;
	c->net.v &= ~hostmask(c->net.version, c->prefixlen);
	return C_OK;
}

int
ipam_cidr_parse(const char *s, unsigned ip_version, struct ipam_cidr *c)
{
	char rec[IPAM_ADDR_STRLEN];

	switch (cidr_parse(s, c)) {
	case C_NOPREFIX:
		c->prefixlen = width(c->net.version);
		err_set(TS_EINVALID, "Invalid input for cidr. Reason: '%s' "
		    "isn't a recognized IP subnet cidr, '%s' is recommended.",
		    s, ipam_cidr_format(c, rec));
		return -1;
	case C_BAD:
		err_set(TS_EINVALID, "Invalid input for cidr. Reason: '%s' is "
		    "not a valid IP subnet.", s ? s : "None");
		return -1;
	case C_OK:
		break;
	}
	if (ip_version != 0 && c->net.version != ip_version) {
		err_set(TS_EINVALID, "Invalid input for operation: cidr '%s' "
		    "does not match the ip_version '%u'.", s, ip_version);
		return -1;
	}
	if (c->prefixlen == 0) {
		err_set(TS_EINVALID, "Invalid input for operation: 0 is not "
		    "allowed as CIDR prefix length.");
		return -1;
	}
	return 0;
}

bool
ipam_cidr_contains(const struct ipam_cidr *c, const struct ipam_addr *a)
{
	return a->version == c->net.version &&
	    (a->v & ~hostmask(c->net.version, c->prefixlen)) == c->net.v;
}

bool
ipam_cidr_overlap(const struct ipam_cidr *a, const struct ipam_cidr *b)
{
	/* CIDRs either nest or are disjoint. */
	return ipam_cidr_contains(a, &b->net) || ipam_cidr_contains(b, &a->net);
}

/* ----------------------------------------------------------- configuration */

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge, so that walks see disjoint ascending ranges. */
static void
ranges_normalise(struct range *r, size_t *n)
{
	size_t o = 0;

	if (*n == 0)
		return;
	qsort(r, *n, sizeof(*r), range_cmp);
	for (size_t j = 1; j < *n; j++) {
		if (r[j].lo <= r[o].hi + 1) {
			if (r[j].hi > r[o].hi)
				r[o].hi = r[j].hi;
		} else {
			r[++o] = r[j];
		}
	}
	*n = o + 1;
}

static int
range_add(struct range **r, size_t *n, uint32_t lo, uint32_t hi)
{
	struct range *nr = realloc(*r, (*n + 1) * sizeof(**r));

	if (nr == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	nr[*n].lo = lo;
	nr[*n].hi = hi;
	*r = nr;
	(*n)++;
	return 0;
}

static int
conf_mac(struct ipam_conf *c, const char *s)
{
	unsigned o[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &o[0], &o[1], &o[2], &o[3],
	    &o[4], &o[5], &tail) != 6 || (o[0] & 1)) {
		err_set(TS_ECONFIG, "[network] base_mac: '%s' is not a unicast "
		    "MAC address (xx:xx:xx:xx:xx:xx)", s);
		return -1;
	}
	for (int j = 0; j < 6; j++)
		c->base_mac[j] = (uint8_t)o[j];
	/* Neutron's rule: a non-zero 4th octet is kept too. */
	c->mac_fixed = o[3] != 0 ? 4 : 3;
	return 0;
}

static int
conf_types(struct ipam_conf *c, char *s)
{
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",",
	    &save)) {
		enum seg_type ty;

		t = trim(t);
		if (*t == '\0')
			continue;
		if (strcmp(t, "vxlan") == 0)
			ty = SEG_VXLAN;
		else if (strcmp(t, "vlan") == 0)
			ty = SEG_VLAN;
		else if (strcmp(t, "flat") == 0)
			ty = SEG_FLAT;
		else {
			err_set(TS_ECONFIG, "[network] tenant_network_types: "
			    "unknown type '%s' (flat, vlan, vxlan)", t);
			return -1;
		}
		if (c->ntenant == TYPES_MAX) {
			err_set(TS_ECONFIG, "[network] tenant_network_types: "
			    "a type is listed twice");
			return -1;
		}
		c->tenant[c->ntenant++] = ty;
	}
	return 0;
}

static int
conf_vni(struct ipam_conf *c, char *s)
{
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",",
	    &save)) {
		char *colon, orig[128];
		uint32_t lo, hi;

		t = trim(t);
		if (*t == '\0')
			continue;
		snprintf(orig, sizeof(orig), "%s", t);
		if ((colon = strchr(t, ':')) == NULL)
			goto bad;
		*colon = '\0';
		if (parse_u32(trim(t), VNI_MIN, VNI_MAX, &lo) == -1 ||
		    parse_u32(trim(colon + 1), VNI_MIN, VNI_MAX, &hi) == -1 ||
		    lo > hi)
			goto bad;
		if (range_add(&c->vni, &c->nvni, lo, hi) == -1)
			return -1;
		continue;
bad:
		err_set(TS_ECONFIG, "[network] vni_ranges: '%s' is not "
		    "<first>:<last> with 1 <= first <= last <= %u", orig,
		    VNI_MAX);
		return -1;
	}
	ranges_normalise(c->vni, &c->nvni);
	return 0;
}

static struct vlan_net *
vlan_net_find(const struct ipam_conf *c, const char *name)
{
	for (size_t j = 0; j < c->nvlan; j++)
		if (strcmp(c->vlan[j].name, name) == 0)
			return &c->vlan[j];
	return NULL;
}

static int
conf_vlan(struct ipam_conf *c, char *s)
{
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",",
	    &save)) {
		char *f[3], *p, orig[128];
		size_t nf = 0;
		struct vlan_net *v;
		uint32_t lo, hi;

		t = trim(t);
		if (*t == '\0')
			continue;
		snprintf(orig, sizeof(orig), "%s", t);
		for (p = t; nf < 3; ) {
			f[nf++] = p;
			if ((p = strchr(p, ':')) == NULL)
				break;
			*p++ = '\0';
		}
		if (p != NULL || (nf != 1 && nf != 3) || *trim(f[0]) == '\0' ||
		    strlen(trim(f[0])) > PHYSNET_MAX || strchr(f[0], '/'))
			goto bad;
		if ((v = vlan_net_find(c, trim(f[0]))) == NULL) {
			struct vlan_net *nv = realloc(c->vlan, (c->nvlan + 1) *
			    sizeof(*nv));

			if (nv == NULL) {
				err_set(TS_ENOMEM, "out of memory");
				return -1;
			}
			c->vlan = nv;
			v = &c->vlan[c->nvlan++];
			memset(v, 0, sizeof(*v));
			snprintf(v->name, sizeof(v->name), "%s", trim(f[0]));
		}
		if (nf == 1)
			continue;
		if (parse_u32(trim(f[1]), VLAN_MIN, VLAN_MAX, &lo) == -1 ||
		    parse_u32(trim(f[2]), VLAN_MIN, VLAN_MAX, &hi) == -1 ||
		    lo > hi)
			goto bad;
		if (range_add(&v->r, &v->nr, lo, hi) == -1)
			return -1;
		continue;
bad:
		err_set(TS_ECONFIG, "[network] network_vlan_ranges: '%s' is "
		    "not <physnet> or <physnet>:<first>:<last> with 1 <= first "
		    "<= last <= %u", orig, VLAN_MAX);
		return -1;
	}
	for (size_t j = 0; j < c->nvlan; j++)
		ranges_normalise(c->vlan[j].r, &c->vlan[j].nr);
	return 0;
}

static int
conf_flat(struct ipam_conf *c, char *s)
{
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",",
	    &save)) {
		char **nf;

		t = trim(t);
		if (*t == '\0')
			continue;
		if (strcmp(t, "*") == 0) {
			c->flat_any = true;
			continue;
		}
		if (strlen(t) > PHYSNET_MAX || strchr(t, '/')) {
			err_set(TS_ECONFIG, "[network] flat_networks: bad "
			    "physical network name '%s'", t);
			return -1;
		}
		if ((nf = realloc(c->flat, (c->nflat + 1) * sizeof(*nf))) ==
		    NULL || (nf[c->nflat] = strdup(t)) == NULL) {
			if (nf != NULL)
				c->flat = nf;
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		c->flat = nf;
		c->nflat++;
	}
	return 0;
}

static void
rnd_default(uint8_t *buf, size_t len, void *arg)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
}

/* Each list option is parsed from a private copy (strtok_r writes). */
static int
conf_list(struct ipam_conf *c, const struct config *cfg, const char *key,
    int (*fn)(struct ipam_conf *, char *))
{
	char *s = strdup(config_get_str(cfg, "network", key));
	int rc;

	if (s == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	rc = fn(c, s);
	free(s);
	return rc;
}

struct ipam_conf *
ipam_conf_new(const struct config *cfg)
{
	struct ipam_conf *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	c->rnd = rnd_default;
	c->mac_retries = (unsigned)config_get_int(cfg, "network",
	    "mac_generation_retries");
	c->mtu = (unsigned)config_get_int(cfg, "network",
	    "global_physnet_mtu");
	c->max_dns = (unsigned)config_get_int(cfg, "network",
	    "max_dns_nameservers");
	c->max_routes = (unsigned)config_get_int(cfg, "network",
	    "max_subnet_host_routes");
	if (conf_mac(c, config_get_str(cfg, "network", "base_mac")) == -1 ||
	    conf_list(c, cfg, "tenant_network_types", conf_types) == -1 ||
	    conf_list(c, cfg, "vni_ranges", conf_vni) == -1 ||
	    conf_list(c, cfg, "network_vlan_ranges", conf_vlan) == -1 ||
	    conf_list(c, cfg, "flat_networks", conf_flat) == -1) {
		ipam_conf_free(&c);
		return NULL;
	}
	return c;
}

void
ipam_conf_free(struct ipam_conf **cp)
{
	struct ipam_conf *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	free(c->vni);
	for (size_t j = 0; j < c->nvlan; j++)
		free(c->vlan[j].r);
	free(c->vlan);
	for (size_t j = 0; j < c->nflat; j++)
		free(c->flat[j]);
	free(c->flat);
	free(c);
	*cp = NULL;
}

void
ipam_conf_set_random(struct ipam_conf *c,
    void (*fill)(uint8_t *, size_t, void *), void *arg)
{
	c->rnd = fill ? fill : rnd_default;
	c->rnd_arg = arg;
}

/* --------------------------------------------------------- subnets (logic) */

static int
replace_str(char **dst, const char *src)
{
	char *n = NULL;

	if (src != NULL && (n = strdup(src)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = n;
	return 0;
}

static const char *
subnet_name_for_msg(const struct rec_subnet *s)
{
	return s->id[0] != '\0' ? s->id : "new subnet";
}

/* "start-end" as netaddr prints an IPRange. */
static char *
range_format(unsigned version, const struct range *r, char *out, size_t len)
{
	struct ipam_addr a = { version, r->lo }, b = { version, r->hi };
	char x[IPAM_ADDR_STRLEN], y[IPAM_ADDR_STRLEN];

	snprintf(out, len, "%s-%s", ipam_addr_format(&a, x),
	    ipam_addr_format(&b, y));
	return out;
}

static int
version_mismatch(const char *name, const char *addr, unsigned v)
{
	err_set(TS_EINVALID, "Invalid input for operation: %s '%s' does not "
	    "match the ip_version '%u'.", name, addr, v);
	return -1;
}

/* The range of a subnet that pools may cover: without the network address,
 * and without the IPv4 broadcast address. */
static void
pool_bounds(const struct ipam_cidr *c, struct range *r)
{
	r->lo = c->net.v + 1;
	r->hi = cidr_last(c) - (c->net.version == 4);
}

/* Neutron's generate_pools(): the whole subnet without the network
 * address, the IPv4 broadcast address and the gateway; /32 and /128 are a
 * single address, /31 (and /127) have none. */
static size_t
default_pools(const struct ipam_cidr *c, const struct ipam_addr *gw,
    struct range out[2])
{
	struct range b;

	if (c->net.v == cidr_last(c)) {
		out[0].lo = out[0].hi = c->net.v;
		return 1;
	}
	pool_bounds(c, &b);
	if (b.lo >= b.hi)
		return 0;
	if (gw == NULL || gw->v < b.lo || gw->v > b.hi) {
		out[0] = b;
		return 1;
	}
	if (gw->v == b.lo) {
		out[0].lo = b.lo + 1;
		out[0].hi = b.hi;
		return 1;
	}
	if (gw->v == b.hi) {
		out[0].lo = b.lo;
		out[0].hi = b.hi - 1;
		return 1;
	}
	out[0].lo = b.lo;
	out[0].hi = gw->v - 1;
	out[1].lo = gw->v + 1;
	out[1].hi = b.hi;
	return 2;
}

static void
pools_free(struct rec_subnet *s)
{
	for (size_t j = 0; j < s->allocation_pools.n; j++) {
		free(s->allocation_pools.items[j].start);
		free(s->allocation_pools.items[j].end);
	}
	free(s->allocation_pools.items);
	s->allocation_pools.items = NULL;
	s->allocation_pools.n = 0;
}

static int
pools_store(struct rec_subnet *s, unsigned version, const struct range *r,
    size_t n)
{
	struct sch_subnet_pool *items = calloc(n ? n : 1, sizeof(*items));
	char x[IPAM_ADDR_STRLEN];

	if (items == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (size_t j = 0; j < n; j++) {
		struct ipam_addr a = { version, r[j].lo }, b = { version,
		    r[j].hi };

		items[j].start = strdup(ipam_addr_format(&a, x));
		items[j].end = strdup(ipam_addr_format(&b, x));
		if (items[j].start == NULL || items[j].end == NULL) {
			for (size_t k = 0; k <= j; k++) {
				free(items[k].start);
				free(items[k].end);
			}
			free(items);
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
	}
	pools_free(s);
	s->allocation_pools.items = items;
	s->allocation_pools.n = n;
	return 0;
}

/* The pools of a stored (prepared) subnet, sorted. *r is malloc'd. */
static int
pools_parse(const struct rec_subnet *s, struct range **r, size_t *n)
{
	*n = s->allocation_pools.n;
	*r = calloc(*n ? *n : 1, sizeof(**r));
	if (*r == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (size_t j = 0; j < *n; j++) {
		struct ipam_addr a, b;

		if (addr_parse(s->allocation_pools.items[j].start, &a) == -1 ||
		    addr_parse(s->allocation_pools.items[j].end, &b) == -1) {
			free(*r);
			*r = NULL;
			err_set(TS_EINTERNAL, "subnet %s: stored pool is not "
			    "an address range", s->id);
			return -1;
		}
		(*r)[j].lo = a.v;
		(*r)[j].hi = b.v;
	}
	qsort(*r, *n, sizeof(**r), range_cmp);
	return 0;
}

static int
prepare_pools(struct rec_subnet *s, const struct ipam_cidr *c,
    const struct ipam_addr *gw, bool given)
{
	unsigned v = c->net.version;
	char cs[IPAM_ADDR_STRLEN], p1[2 * IPAM_ADDR_STRLEN],
	    p2[2 * IPAM_ADDR_STRLEN];
	struct range def[2], b, *r;
	size_t n = s->allocation_pools.n;
	int rc = -1;

	if (!given)
		return pools_store(s, v, def, default_pools(c, gw, def));
	ipam_cidr_format(c, cs);
	if ((r = calloc(n ? n : 1, sizeof(*r))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	pool_bounds(c, &b);
	for (size_t j = 0; j < n; j++) {
		const char *st = s->allocation_pools.items[j].start;
		const char *en = s->allocation_pools.items[j].end;
		struct ipam_addr a, z;

		if (addr_parse(st, &a) == -1 || addr_parse(en, &z) == -1) {
			err_set(TS_EINVALID, "Invalid input for "
			    "allocation_pools. Reason: '%s' is not a valid IP "
			    "address.", addr_parse(st, &a) == -1 ?
			    (st ? st : "None") : (en ? en : "None"));
			goto out;
		}
		if (a.version != v || z.version != v || a.v > z.v) {
			err_set(TS_EINVALID, "The allocation pool %s-%s is "
			    "not valid.", st, en);
			goto out;
		}
		r[j].lo = a.v;
		r[j].hi = z.v;
		if (a.v < b.lo || z.v > b.hi) {
			err_set(TS_EINVALID, "The allocation pool %s spans "
			    "beyond the subnet cidr %s.", range_format(v,
			    &r[j], p1, sizeof(p1)), cs);
			goto out;
		}
	}
	for (size_t j = 0; j < n; j++)
		for (size_t k = j + 1; k < n; k++)
			if (r[j].lo <= r[k].hi && r[k].lo <= r[j].hi) {
				err_set(TS_ECONFLICT, "Found overlapping "
				    "allocation pools: %s %s for subnet %s.",
				    range_format(v, &r[j], p1, sizeof(p1)),
				    range_format(v, &r[k], p2, sizeof(p2)),
				    cs);
				goto out;
			}
	for (size_t j = 0; gw != NULL && j < n; j++)
		if (gw->v >= r[j].lo && gw->v <= r[j].hi) {
			err_set(TS_ECONFLICT, "Gateway ip %s conflicts with "
			    "allocation pool %s.", s->gateway_ip,
			    range_format(v, &r[j], p1, sizeof(p1)));
			goto out;
		}
	qsort(r, n, sizeof(*r), range_cmp);
	rc = pools_store(s, v, r, n);
out:
	free(r);
	return rc;
}

static int
prepare_gateway(struct rec_subnet *s, const struct ipam_cidr *c,
    enum ipam_gateway gw, struct ipam_addr *out, bool *has)
{
	char buf[IPAM_ADDR_STRLEN];

	*has = false;
	if (gw == IPAM_GW_NONE || (gw == IPAM_GW_GIVEN && s->gateway_ip ==
	    NULL))
		return replace_str(&s->gateway_ip, NULL);
	if (gw == IPAM_GW_DEFAULT) {
		/* The first address; none where the subnet has no room
		 * for it besides the network address (/31, /32). */
		if (cidr_last(c) - c->net.v < 2)
			return replace_str(&s->gateway_ip, NULL);
		out->version = c->net.version;
		out->v = c->net.v + 1;
		*has = true;
		return replace_str(&s->gateway_ip, ipam_addr_format(out, buf));
	}
	if (addr_parse(s->gateway_ip, out) == -1) {
		err_set(TS_EINVALID, "Invalid input for gateway_ip. Reason: "
		    "'%s' is not a valid IP address.", s->gateway_ip);
		return -1;
	}
	if (out->version != c->net.version)
		return version_mismatch("gateway_ip", s->gateway_ip,
		    c->net.version);
	/* Inside the subnet it cannot be the network address or the IPv4
	 * broadcast address; outside, nothing can be checked (Neutron
	 * treats it as an on-link gateway). */
	if (ipam_cidr_contains(c, out) && cidr_last(c) - c->net.v >= 2 &&
	    (out->v == c->net.v || (out->version == 4 && out->v ==
	    cidr_last(c)))) {
		err_set(TS_EINVALID, "Invalid input for operation: Gateway is "
		    "not valid on subnet.");
		return -1;
	}
	*has = true;
	return replace_str(&s->gateway_ip, ipam_addr_format(out, buf));
}

static int
prepare_dns(const struct ipam_conf *conf, struct rec_subnet *s)
{
	char buf[IPAM_ADDR_STRLEN];
	unsigned v = s->ip_version;

	if (s->dns_nameservers.n > conf->max_dns) {
		err_set(TS_EINVALID, "Unable to complete operation for %s. "
		    "The number of DNS nameservers exceeds the limit %u.",
		    subnet_name_for_msg(s), conf->max_dns);
		return -1;
	}
	for (size_t j = 0; j < s->dns_nameservers.n; j++) {
		const char *d = s->dns_nameservers.items[j];
		struct ipam_addr a;

		if (addr_parse(d, &a) == -1) {
			err_set(TS_EINVALID, "Invalid input for "
			    "dns_nameservers. Reason: '%s' is not a valid "
			    "nameserver. '%s' is not a valid IP address.", d,
			    d);
			return -1;
		}
		for (size_t k = 0; k < j; k++)
			if (strcmp(s->dns_nameservers.items[k], d) == 0) {
				err_set(TS_EINVALID, "Invalid input for "
				    "dns_nameservers. Reason: Duplicate "
				    "nameserver '%s'.", d);
				return -1;
			}
		if (a.version != v)
			return version_mismatch("dns_nameserver", d, v);
	}
	/* Canonical forms only after the duplicate check, which compares
	 * what was given (as Neutron does). */
	for (size_t j = 0; j < s->dns_nameservers.n; j++) {
		struct ipam_addr a;

		addr_parse(s->dns_nameservers.items[j], &a);
		if (replace_str(&s->dns_nameservers.items[j],
		    ipam_addr_format(&a, buf)) == -1)
			return -1;
	}
	return 0;
}

static int
prepare_routes(const struct ipam_conf *conf, struct rec_subnet *s)
{
	char buf[IPAM_ADDR_STRLEN];
	unsigned v = s->ip_version;

	if (s->host_routes.n > conf->max_routes) {
		err_set(TS_EINVALID, "Unable to complete operation for %s. "
		    "The number of host routes exceeds the limit %u.",
		    subnet_name_for_msg(s), conf->max_routes);
		return -1;
	}
	for (size_t j = 0; j < s->host_routes.n; j++) {
		struct sch_subnet_route *r = &s->host_routes.items[j];
		struct ipam_cidr d;
		struct ipam_addr nh;
		enum cidr_err ce = cidr_parse(r->destination, &d);

		if (ce == C_BAD || addr_parse(r->nexthop, &nh) == -1) {
			err_set(TS_EINVALID, "Invalid input for operation: "
			    "Invalid route: {'destination': '%s', 'nexthop': "
			    "'%s'}.", r->destination ? r->destination : "None",
			    r->nexthop ? r->nexthop : "None");
			return -1;
		}
		for (size_t k = 0; k < j; k++)
			if (strcmp(s->host_routes.items[k].destination,
			    r->destination) == 0 &&
			    strcmp(s->host_routes.items[k].nexthop,
			    r->nexthop) == 0) {
				err_set(TS_EINVALID, "Invalid input for "
				    "host_routes. Reason: Duplicate hostroute "
				    "'{'destination': '%s', 'nexthop': '%s'}'.",
				    r->destination, r->nexthop);
				return -1;
			}
		if (nh.version != v)
			return version_mismatch("nexthop", r->nexthop, v);
		if (d.net.version != v)
			return version_mismatch("destination", r->destination,
			    v);
	}
	for (size_t j = 0; j < s->host_routes.n; j++) {
		struct sch_subnet_route *r = &s->host_routes.items[j];
		struct ipam_cidr d;
		struct ipam_addr nh;

		/* A bare address is a host route. */
		if (cidr_parse(r->destination, &d) == C_NOPREFIX)
			d.prefixlen = width(d.net.version);
		addr_parse(r->nexthop, &nh);
		if (replace_str(&r->destination, ipam_cidr_format(&d,
		    buf)) == -1 || replace_str(&r->nexthop,
		    ipam_addr_format(&nh, buf)) == -1)
			return -1;
	}
	return 0;
}

int
ipam_subnet_prepare(const struct ipam_conf *conf, struct rec_subnet *s,
    enum ipam_gateway gw, bool pools_given)
{
	char buf[IPAM_ADDR_STRLEN];
	struct ipam_cidr c;
	struct ipam_addr g;
	bool has_gw;

	if (s->ip_version != 4 && s->ip_version != 6) {
		err_set(TS_EINVALID, "Invalid input for ip_version. Reason: "
		    "%u is not in [4, 6].", s->ip_version);
		return -1;
	}
	if (ipam_cidr_parse(s->cidr, s->ip_version, &c) == -1 ||
	    replace_str(&s->cidr, ipam_cidr_format(&c, buf)) == -1)
		return -1;
	if (prepare_gateway(s, &c, gw, &g, &has_gw) == -1 ||
	    prepare_pools(s, &c, has_gw ? &g : NULL, pools_given) == -1 ||
	    prepare_dns(conf, s) == -1 || prepare_routes(conf, s) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------- allocation tables */

#define IP_KEY_MAX	(CODEC_UUID_LEN + 1 + 32)

/* "<subnet>/<8 or 32 hex digits>": fixed width, so key order is address
 * order within a subnet. */
static size_t
ip_key(char *out, const char *subnet_id, const struct ipam_addr *a)
{
	static const char hex[] = "0123456789abcdef";
	size_t l = strlen(subnet_id), nd = a->version == 4 ? 8 : 32;

	if (l > CODEC_UUID_LEN)
		l = CODEC_UUID_LEN;
	memcpy(out, subnet_id, l);
	out[l++] = '/';
	for (size_t j = 0; j < nd; j++)
		out[l + j] = hex[(unsigned)(a->v >> (4 * (nd - 1 - j))) & 0xf];
	return l + nd;
}

static int
key_hex(const char *k, size_t kl, ipam_u128 *v)
{
	*v = 0;
	for (size_t j = 0; j < kl; j++) {
		char ch = k[j];

		*v <<= 4;
		if (ch >= '0' && ch <= '9')
			*v |= (ipam_u128)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			*v |= (ipam_u128)(ch - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

/*
 * The walk that finds the lowest free value of a set of ranges, given the
 * taken values in ascending key order: the candidate moves past each taken
 * value equal to it, and the first taken value above it proves it free. It
 * reads only the taken values from the start point up to the first gap.
 */
struct walk {
	const struct range	*r;
	size_t			 nr, i;
	ipam_u128		 cand;
	size_t			 plen;		/* key prefix to skip */
	bool			 decimal;	/* segment keys */
};

static int
walk_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct walk *w = arg;
	ipam_u128 a = 0;

	if (w->decimal) {
		for (size_t j = w->plen; j < kl; j++)
			a = a * 10 + (ipam_u128)(((const char *)k)[j] - '0');
	} else if (key_hex((const char *)k + w->plen, kl - w->plen, &a) ==
	    -1) {
		return 0;	/* not ours: cannot happen with the prefix */
	}
	if (a < w->cand)
		return 0;
	if (a > w->cand)
		return 1;
	if (w->cand == w->r[w->i].hi) {
		if (++w->i == w->nr)
			return 1;
		w->cand = w->r[w->i].lo;
	} else {
		w->cand++;
	}
	return 0;
}

/* Position the walk at the first range value >= start; false if none. */
static bool
walk_start(struct walk *w, ipam_u128 start)
{
	for (w->i = 0; w->i < w->nr; w->i++)
		if (w->r[w->i].hi >= start) {
			w->cand = start > w->r[w->i].lo ? start :
			    w->r[w->i].lo;
			return true;
		}
	return false;
}

/* ---------------------------------------------------------------- IP ops */

static int
cursor_get(struct store_txn *txn, const char *subnet_id, unsigned version,
    ipam_u128 *v, bool *has)
{
	struct rec_ip_cursor c;
	struct ipam_addr a;

	*has = false;
	if (db_rec_get(txn, T_IP_CURSORS, subnet_id, &schema_rec_ip_cursor,
	    &c) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (addr_parse(c.lowest_free, &a) == 0 && a.version == version) {
		*v = a.v;
		*has = true;
	}
	codec_clear(&schema_rec_ip_cursor, &c);
	return 0;
}

static int
cursor_put(struct store_txn *txn, const char *subnet_id, unsigned version,
    ipam_u128 v)
{
	struct ipam_addr a = { version, v };
	char buf[IPAM_ADDR_STRLEN];
	struct rec_ip_cursor c = { .lowest_free = ipam_addr_format(&a, buf) };

	return db_rec_put(txn, T_IP_CURSORS, subnet_id, &schema_rec_ip_cursor,
	    &c, 0);
}

static int
cursor_del(struct store_txn *txn, const char *subnet_id)
{
	if (store_del(txn, T_IP_CURSORS, subnet_id, strlen(subnet_id)) == -1 &&
	    err_code() != TS_ENOT_FOUND)
		return -1;
	return 0;
}

static int
ip_take(struct store_txn *txn, const struct rec_subnet *s,
    const char *port_id, const struct ipam_addr *a, char *out)
{
	char key[IP_KEY_MAX];
	size_t kl = ip_key(key, s->id, a);
	struct rec_ip_allocation r;

	memset(&r, 0, sizeof(r));
	snprintf(r.subnet_id, sizeof(r.subnet_id), "%s", s->id);
	snprintf(r.network_id, sizeof(r.network_id), "%s", s->network_id);
	r.ip_address = ipam_addr_format(a, out);
	r.port_id = (char *)(port_id ? port_id : "");
	if (store_rec_put(txn, T_IP_ALLOCATIONS, key, kl,
	    &schema_rec_ip_allocation, &r, STORE_NOOVERWRITE) == -1) {
		if (err_code() == TS_ECONFLICT)
			err_set(TS_ECONFLICT, "IP address %s already "
			    "allocated in subnet %s", out, s->id);
		return -1;
	}
	return 0;
}

static int
ip_next(struct store_txn *txn, const struct rec_subnet *s,
    const char *port_id, const struct ipam_cidr *c, char *out)
{
	char prefix[CODEC_UUID_LEN + 2], after[IP_KEY_MAX];
	struct walk w = { 0 };
	struct range *r;
	struct ipam_addr a;
	ipam_u128 start = 0;
	bool has;
	size_t n, plen = strlen(s->id) + 1, alen = 0;
	int rc = -1;

	if (plen > sizeof(prefix) - 1 || pools_parse(s, &r, &n) == -1) {
		if (plen > sizeof(prefix) - 1)
			err_set(TS_EINVALID, "bad subnet id");
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "%s/", s->id);
	w.r = r;
	w.nr = n;
	w.plen = plen;
	if (cursor_get(txn, s->id, c->net.version, &start, &has) == -1)
		goto out;
	if (!walk_start(&w, has ? start : 0))
		goto full;
	if (w.cand > 0) {
		a.version = c->net.version;
		a.v = w.cand - 1;
		alen = ip_key(after, s->id, &a);
	}
	if (store_iter_after(txn, T_IP_ALLOCATIONS, prefix, plen,
	    alen ? after : NULL, alen, walk_cb, &w) == -1)
		goto out;
	if (w.i == w.nr)
		goto full;
	a.version = c->net.version;
	a.v = w.cand;
	if (ip_take(txn, s, port_id, &a, out) == -1 ||
	    cursor_put(txn, s->id, c->net.version, w.cand + 1) == -1)
		goto out;
	rc = 0;
	goto out;
full:
	err_set(TS_ECONFLICT, "No more IP addresses available on network %s.",
	    s->network_id);
out:
	free(r);
	return rc;
}

int
ipam_ip_allocate(struct store_txn *txn, const struct rec_subnet *s,
    const char *port_id, const char *ip, char *out)
{
	struct ipam_cidr c;
	struct ipam_addr a;

	if (cidr_parse(s->cidr, &c) != C_OK) {
		err_set(TS_EINTERNAL, "subnet %s: stored cidr '%s' unusable",
		    s->id, s->cidr);
		return -1;
	}
	if (ip == NULL)
		return ip_next(txn, s, port_id, &c, out);
	if (addr_parse(ip, &a) == -1) {
		err_set(TS_EINVALID, "Invalid input for fixed_ips. Reason: "
		    "'%s' is not a valid IP address.", ip);
		return -1;
	}
	/* Neutron's check_subnet_ip(): in the subnet, not its network
	 * address (IPv6: the subnet-router anycast address), not the IPv4
	 * broadcast address, except in /31 and /32 where every address is
	 * a host. */
	if (!ipam_cidr_contains(&c, &a) || (cidr_last(&c) - c.net.v >= 2 &&
	    (a.v == c.net.v || (a.version == 4 && a.v == cidr_last(&c))))) {
		err_set(TS_EINVALID, "IP address %s is not a valid IP for the "
		    "specified subnet.", ip);
		return -1;
	}
	return ip_take(txn, s, port_id, &a, out);
}

int
ipam_ip_get(struct store_txn *txn, const char *subnet_id, const char *ip,
    struct rec_ip_allocation *r)
{
	char key[IP_KEY_MAX];
	struct ipam_addr a;
	size_t kl;

	if (ipam_addr_parse(ip, &a) == -1)
		return -1;
	kl = ip_key(key, subnet_id, &a);
	memset(r, 0, sizeof(*r));
	if (store_rec_get(txn, T_IP_ALLOCATIONS, key, kl,
	    &schema_rec_ip_allocation, r) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "IP address %s is not "
			    "allocated in subnet %s", ip, subnet_id);
		return -1;
	}
	return 0;
}

int
ipam_ip_release(struct store_txn *txn, const char *subnet_id,
    const char *ip, const char *port_id)
{
	struct rec_ip_allocation r;
	char key[IP_KEY_MAX];
	struct ipam_addr a;
	ipam_u128 cur;
	bool has, mine;
	size_t kl;

	if (ipam_ip_get(txn, subnet_id, ip, &r) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	mine = port_id == NULL || strcmp(r.port_id, port_id) == 0;
	codec_clear(&schema_rec_ip_allocation, &r);
	if (!mine)
		return 0;
	addr_parse(ip, &a);
	kl = ip_key(key, subnet_id, &a);
	if (store_del(txn, T_IP_ALLOCATIONS, key, kl) == -1)
		return -1;
	/* The walk must see the freed address again. Without a cursor it
	 * starts at the lowest pool address anyway. */
	if (cursor_get(txn, subnet_id, a.version, &cur, &has) == -1)
		return -1;
	if (has && a.v < cur)
		return cursor_put(txn, subnet_id, a.version, a.v);
	return 0;
}

struct ip_each {
	int	(*cb)(const struct rec_ip_allocation *, void *);
	void	*arg;
	size_t	 n;
};

static int
ip_each_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct ip_each *e = arg;
	struct rec_ip_allocation r;
	int rc;

	e->n++;
	if (e->cb == NULL)
		return 0;
	memset(&r, 0, sizeof(r));
	if (codec_record_decode(&schema_rec_ip_allocation, v, vl, &r, NULL) ==
	    -1) {
		log_warnx("ip_allocations: skipping undecodable record: %s",
		    err_msg());
		return 0;
	}
	rc = e->cb(&r, e->arg);
	codec_clear(&schema_rec_ip_allocation, &r);
	return rc;
}

static int
ip_iter(struct store_txn *txn, const char *subnet_id, struct ip_each *e)
{
	char prefix[CODEC_UUID_LEN + 2];
	size_t plen = strlen(subnet_id) + 1;

	if (plen > sizeof(prefix) - 1) {
		err_set(TS_EINVALID, "bad subnet id");
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "%s/", subnet_id);
	return store_iter(txn, T_IP_ALLOCATIONS, prefix, plen, ip_each_cb, e);
}

int
ipam_ip_each(struct store_txn *txn, const char *subnet_id,
    int (*cb)(const struct rec_ip_allocation *, void *), void *arg)
{
	struct ip_each e = { cb, arg, 0 };

	return ip_iter(txn, subnet_id, &e);
}

int
ipam_ip_count(struct store_txn *txn, const char *subnet_id, size_t *n)
{
	struct ip_each e = { NULL, NULL, 0 };

	if (ip_iter(txn, subnet_id, &e) == -1)
		return -1;
	*n = e.n;
	return 0;
}

/* ---------------------------------------------------------------- MAC ops */

/* Accepts xx:xx:xx:xx:xx:xx or xx-xx-...; out is lowercase with colons. */
static int
mac_parse(const char *s, uint8_t m[6])
{
	if (s == NULL || strlen(s) != 17)
		return -1;
	for (int j = 0; j < 6; j++) {
		const char *p = s + 3 * j;
		unsigned v = 0;

		if (!isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]) ||
		    (j < 5 && p[2] != ':' && p[2] != '-'))
			return -1;
		sscanf(p, "%2x", &v);
		m[j] = (uint8_t)v;
	}
	return 0;
}

static void
mac_format(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	    m[3], m[4], m[5]);
}

static int
mac_take(struct store_txn *txn, const char *mac, const char *network_id,
    const char *port_id)
{
	struct rec_mac_allocation r;

	memset(&r, 0, sizeof(r));
	snprintf(r.port_id, sizeof(r.port_id), "%s", port_id);
	snprintf(r.network_id, sizeof(r.network_id), "%s", network_id);
	return db_rec_put(txn, T_MAC_ALLOCATIONS, mac,
	    &schema_rec_mac_allocation, &r, STORE_NOOVERWRITE);
}

int
ipam_mac_allocate(struct store_txn *txn, const struct ipam_conf *conf,
    const char *network_id, const char *port_id, const char *mac,
    char out[18])
{
	uint8_t m[6];

	if (mac != NULL) {
		static const uint8_t zero[6], bcast[6] = { 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff };

		if (mac_parse(mac, m) == -1 || memcmp(m, zero, 6) == 0 ||
		    memcmp(m, bcast, 6) == 0 || (m[0] & 1)) {
			err_set(TS_EINVALID, "Invalid input for mac_address. "
			    "Reason: '%s' is not a valid MAC address.", mac);
			return -1;
		}
		mac_format(m, out);
		if (mac_take(txn, out, network_id, port_id) == -1) {
			if (err_code() == TS_ECONFLICT)
				err_set(TS_ECONFLICT, "Unable to complete "
				    "operation for network %s. The mac address "
				    "%s is in use.", network_id, out);
			return -1;
		}
		return 0;
	}
	for (unsigned t = 0; t < conf->mac_retries; t++) {
		memcpy(m, conf->base_mac, 6);
		conf->rnd(m + conf->mac_fixed, 6 - conf->mac_fixed,
		    conf->rnd_arg);
		mac_format(m, out);
		if (mac_take(txn, out, network_id, port_id) == 0)
			return 0;
		if (err_code() != TS_ECONFLICT)
			return -1;
	}
	log_warnx("network %s: no free MAC after %u tries", network_id,
	    conf->mac_retries);
	err_set(TS_EUNAVAILABLE, "Unable to generate unique mac on network "
	    "%s.", network_id);
	return -1;
}

int
ipam_mac_release(struct store_txn *txn, const char *mac, const char *port_id)
{
	struct rec_mac_allocation r;
	bool mine;

	if (mac == NULL || *mac == '\0')
		return 0;
	if (db_rec_get(txn, T_MAC_ALLOCATIONS, mac, &schema_rec_mac_allocation,
	    &r) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	mine = port_id == NULL || strcmp(r.port_id, port_id) == 0;
	codec_clear(&schema_rec_mac_allocation, &r);
	if (mine && store_del(txn, T_MAC_ALLOCATIONS, mac, strlen(mac)) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ segment ops */

#define SEG_KEY_MAX	(16 + 1 + PHYSNET_MAX + 1 + 8 + 1)

static const char *
seg_name(enum seg_type t)
{
	return t == SEG_FLAT ? "flat" : t == SEG_VLAN ? "vlan" : "vxlan";
}

static size_t
seg_key(char *out, enum seg_type t, const char *physnet, uint32_t id)
{
	int n = snprintf(out, SEG_KEY_MAX, "%s/%s/%08u", seg_name(t),
	    physnet ? physnet : "", id);

	return n < 0 || n >= SEG_KEY_MAX ? 0 : (size_t)n;
}

static int
seg_type_parse(const char *s, enum seg_type *t)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "flat") == 0)
		*t = SEG_FLAT;
	else if (strcmp(s, "vlan") == 0)
		*t = SEG_VLAN;
	else if (strcmp(s, "vxlan") == 0)
		*t = SEG_VXLAN;
	else
		return -1;
	return 0;
}

int
ipam_segment_get(struct store_txn *txn, const char *network_type,
    const char *physnet, uint32_t id, struct rec_segment_allocation *r)
{
	char key[SEG_KEY_MAX];
	enum seg_type t;
	size_t kl;

	if (seg_type_parse(network_type, &t) == -1 ||
	    (kl = seg_key(key, t, physnet, id)) == 0) {
		err_set(TS_EINVALID, "bad segment");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	return store_rec_get(txn, T_SEGMENT_ALLOCATIONS, key, kl,
	    &schema_rec_segment_allocation, r);
}

static int
seg_take(struct store_txn *txn, enum seg_type t, const char *physnet,
    uint32_t id, const char *network_id)
{
	struct rec_segment_allocation r;
	char key[SEG_KEY_MAX];
	size_t kl = seg_key(key, t, physnet, id);

	if (kl == 0) {
		err_set(TS_EINVALID, "physical network name too long");
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.network_type = (char *)seg_name(t);
	r.physical_network = (char *)physnet;
	r.segmentation_id = id;
	snprintf(r.network_id, sizeof(r.network_id), "%s", network_id);
	if (store_rec_put(txn, T_SEGMENT_ALLOCATIONS, key, kl,
	    &schema_rec_segment_allocation, &r, STORE_NOOVERWRITE) == 0)
		return 0;
	if (err_code() != TS_ECONFLICT)
		return -1;
	if (t == SEG_VLAN)
		err_set(TS_ECONFLICT, "Unable to create the network. The VLAN "
		    "%u on physical network %s is in use.", id, physnet);
	else if (t == SEG_VXLAN)
		err_set(TS_ECONFLICT, "Unable to create the network. The "
		    "tunnel ID %u is in use.", id);
	else
		err_set(TS_ECONFLICT, "Unable to create the flat network. "
		    "Physical network %s is in use.", physnet);
	return -1;
}

/* The lowest free id of ranges r for (t, physnet); 0 when none. */
static int
seg_lowest_free(struct store_txn *txn, enum seg_type t, const char *physnet,
    const struct range *r, size_t nr, uint32_t *id)
{
	char prefix[SEG_KEY_MAX];
	struct walk w = { 0 };
	int n = snprintf(prefix, sizeof(prefix), "%s/%s/", seg_name(t),
	    physnet ? physnet : "");

	*id = 0;
	w.r = r;
	w.nr = nr;
	w.plen = (size_t)n;
	w.decimal = true;
	if (!walk_start(&w, 0))
		return 0;
	if (store_iter(txn, T_SEGMENT_ALLOCATIONS, prefix, (size_t)n, walk_cb,
	    &w) == -1)
		return -1;
	if (w.i < w.nr)
		*id = (uint32_t)w.cand;
	return 0;
}

struct seg {
	enum seg_type	 t;
	const char	*physnet;
	uint32_t	 id;
};

static int
no_tenant_network(void)
{
	err_set(TS_EUNAVAILABLE, "Unable to create the network. No tenant "
	    "network is available for allocation.");
	return -1;
}

/* A VLAN of one physical network's ranges (physnet given) or of any. */
static int
seg_alloc_vlan(struct store_txn *txn, const struct ipam_conf *conf,
    const char *physnet, const char *network_id, struct seg *out)
{
	for (size_t j = 0; j < conf->nvlan; j++) {
		const struct vlan_net *v = &conf->vlan[j];
		uint32_t id;

		if (physnet != NULL && strcmp(physnet, v->name) != 0)
			continue;
		if (seg_lowest_free(txn, SEG_VLAN, v->name, v->r, v->nr, &id) ==
		    -1)
			return -1;
		if (id != 0) {
			out->t = SEG_VLAN;
			out->physnet = v->name;
			out->id = id;
			return seg_take(txn, SEG_VLAN, v->name, id,
			    network_id);
		}
	}
	return 1;
}

static int
seg_alloc_vxlan(struct store_txn *txn, const struct ipam_conf *conf,
    const char *network_id, struct seg *out)
{
	uint32_t id;

	if (seg_lowest_free(txn, SEG_VXLAN, NULL, conf->vni, conf->nvni, &id) ==
	    -1)
		return -1;
	if (id == 0)
		return 1;
	out->t = SEG_VXLAN;
	out->physnet = NULL;
	out->id = id;
	return seg_take(txn, SEG_VXLAN, NULL, id, network_id);
}

static int
seg_tenant(struct store_txn *txn, const struct ipam_conf *conf,
    const char *network_id, struct seg *out)
{
	for (size_t j = 0; j < conf->ntenant; j++) {
		int rc = 1;

		if (conf->tenant[j] == SEG_VXLAN)
			rc = seg_alloc_vxlan(txn, conf, network_id, out);
		else if (conf->tenant[j] == SEG_VLAN)
			rc = seg_alloc_vlan(txn, conf, NULL, network_id, out);
		if (rc <= 0)
			return rc;
	}
	return no_tenant_network();
}

static int invalid_op(const char *, ...)
    __attribute__((format(printf, 1, 2)));

/* Neutron's InvalidInput wrapping of ML2's messages. */
static int
invalid_op(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	err_set(TS_EINVALID, "Invalid input for operation: %s.", buf);
	return -1;
}

static bool
flat_allowed(const struct ipam_conf *conf, const char *physnet)
{
	if (conf->flat_any)
		return true;
	for (size_t j = 0; j < conf->nflat; j++)
		if (strcmp(conf->flat[j], physnet) == 0)
			return true;
	return false;
}

static int
seg_provider(struct store_txn *txn, const struct ipam_conf *conf,
    const struct ipam_segment_req *p, const char *network_id,
    struct seg *out)
{
	const char *pn = p->physical_network;
	enum seg_type t;
	int rc;

	if (seg_type_parse(p->network_type, &t) == -1)
		return invalid_op("network_type value '%s' not supported",
		    p->network_type ? p->network_type : "None");
	if (pn != NULL && (*pn == '\0' || strlen(pn) > PHYSNET_MAX ||
	    strchr(pn, '/') != NULL))
		return invalid_op("physical_network '%s' is not a valid name",
		    pn);
	out->t = t;
	out->physnet = pn;
	switch (t) {
	case SEG_FLAT:
		if (pn == NULL)
			return invalid_op("physical_network required for flat "
			    "provider network");
		if (!conf->flat_any && conf->nflat == 0)
			return invalid_op("Flat provider networks are "
			    "disabled");
		if (!flat_allowed(conf, pn))
			return invalid_op("physical_network '%s' unknown for "
			    "flat provider network", pn);
		if (p->has_segmentation_id)
			return invalid_op("segmentation_id prohibited for flat "
			    "provider network");
		out->id = 0;
		return seg_take(txn, SEG_FLAT, pn, 0, network_id);
	case SEG_VLAN:
		if (pn == NULL) {
			if (p->has_segmentation_id)
				return invalid_op("segmentation_id requires "
				    "physical_network for VLAN provider "
				    "network");
			rc = seg_alloc_vlan(txn, conf, NULL, network_id, out);
			return rc == 1 ? no_tenant_network() : rc;
		}
		if (vlan_net_find(conf, pn) == NULL)
			return invalid_op("physical_network '%s' unknown for "
			    "VLAN provider network", pn);
		if (!p->has_segmentation_id) {
			rc = seg_alloc_vlan(txn, conf, pn, network_id, out);
			return rc == 1 ? no_tenant_network() : rc;
		}
		if (p->segmentation_id < VLAN_MIN || p->segmentation_id >
		    VLAN_MAX)
			return invalid_op("segmentation_id out of range (1 "
			    "through 4094)");
		out->id = p->segmentation_id;
		return seg_take(txn, SEG_VLAN, pn, out->id, network_id);
	case SEG_VXLAN:
		if (pn != NULL)
			return invalid_op("provider:physical_network specified "
			    "for vxlan network");
		if (!p->has_segmentation_id) {
			rc = seg_alloc_vxlan(txn, conf, network_id, out);
			return rc == 1 ? no_tenant_network() : rc;
		}
		if (p->segmentation_id < VNI_MIN || p->segmentation_id >
		    VNI_MAX)
			return invalid_op("segmentation_id out of range (1 "
			    "through 16777215)");
		out->id = p->segmentation_id;
		return seg_take(txn, SEG_VXLAN, NULL, out->id, network_id);
	}
	return -1;
}

static int
seg_release(struct store_txn *txn, const struct rec_network *n)
{
	struct rec_segment_allocation r;
	char key[SEG_KEY_MAX];
	enum seg_type t;
	size_t kl;
	bool mine;

	if (seg_type_parse(n->network_type, &t) == -1)
		return 0;
	kl = seg_key(key, t, n->physical_network, n->has_segmentation_id ?
	    n->segmentation_id : 0);
	if (kl == 0)
		return 0;
	memset(&r, 0, sizeof(r));
	if (store_rec_get(txn, T_SEGMENT_ALLOCATIONS, key, kl,
	    &schema_rec_segment_allocation, &r) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	mine = strcmp(r.network_id, n->id) == 0;
	codec_clear(&schema_rec_segment_allocation, &r);
	if (mine && store_del(txn, T_SEGMENT_ALLOCATIONS, key, kl) == -1)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- networks */

int
ipam_network_create(struct store_txn *txn, const struct ipam_conf *conf,
    struct rec_network *n, const struct ipam_segment_req *provider)
{
	struct seg sg = { 0 };
	unsigned max;

	if (provider != NULL ? seg_provider(txn, conf, provider, n->id,
	    &sg) == -1 : seg_tenant(txn, conf, n->id, &sg) == -1)
		return -1;
	if (replace_str(&n->network_type, seg_name(sg.t)) == -1 ||
	    replace_str(&n->physical_network, sg.physnet) == -1)
		return -1;
	n->has_segmentation_id = sg.t != SEG_FLAT;
	n->segmentation_id = sg.t != SEG_FLAT ? sg.id : 0;
	max = conf->mtu - (sg.t == SEG_VXLAN ? VXLAN_OVERHEAD : 0);
	if (n->mtu == 0) {
		n->mtu = max;
	} else if (n->mtu > max) {
		err_set(TS_EINVALID, "Requested MTU is too big, maximum is "
		    "%u.", max);
		return -1;
	}
	return network_db_network_put(txn, n, NULL);
}

struct ids {
	char	(*id)[CODEC_UUID_LEN + 1];
	size_t	  n, cap;
};

static int
collect_subnet(const struct rec_subnet *s, void *arg)
{
	struct ids *v = arg;

	if (v->n == v->cap) {
		size_t nc = v->cap ? 2 * v->cap : 8;
		void *p = realloc(v->id, nc * sizeof(*v->id));

		if (p == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		v->id = p;
		v->cap = nc;
	}
	snprintf(v->id[v->n++], sizeof(v->id[0]), "%s", s->id);
	return 0;
}

int
ipam_network_delete(struct store_txn *txn, const struct rec_network *n)
{
	struct ids v = { 0 };
	size_t ports;
	int rc = -1;

	if (network_db_port_count_network(txn, n->id, &ports) == -1)
		return -1;
	if (ports > 0) {
		err_set(TS_ECONFLICT, "Unable to complete operation on network "
		    "%s. There are one or more ports still in use on the "
		    "network.", n->id);
		return -1;
	}
	/* Collected first: deleting a subnet writes the index walked. */
	if (network_db_subnet_each_network(txn, n->id, collect_subnet, &v) ==
	    -1)
		goto out;
	for (size_t j = 0; j < v.n; j++) {
		struct rec_subnet s;
		int r;

		if (network_db_subnet_get(txn, v.id[j], &s) == -1)
			goto out;
		r = ipam_subnet_delete(txn, &s);
		codec_clear(&schema_rec_subnet, &s);
		if (r == -1)
			goto out;
	}
	if (seg_release(txn, n) == -1)
		goto out;
	rc = network_db_network_del(txn, n);
out:
	free(v.id);
	return rc;
}

/* ----------------------------------------------------------------- subnets */

struct overlap {
	struct ipam_cidr	 c;
	const char		*self;
	bool			 hit;
};

static int
overlap_cb(const struct rec_subnet *s, void *arg)
{
	struct overlap *o = arg;
	struct ipam_cidr c;

	if (strcmp(s->id, o->self) == 0 || cidr_parse(s->cidr, &c) != C_OK)
		return 0;
	if (ipam_cidr_overlap(&c, &o->c)) {
		o->hit = true;
		return 1;
	}
	return 0;
}

int
ipam_subnet_create(struct store_txn *txn, const struct rec_subnet *s)
{
	struct rec_network n;
	struct overlap o = { .self = s->id, .hit = false };

	if (network_db_network_get(txn, s->network_id, &n) == -1)
		return -1;
	codec_clear(&schema_rec_network, &n);
	if (cidr_parse(s->cidr, &o.c) != C_OK) {
		err_set(TS_EINTERNAL, "subnet %s not prepared", s->id);
		return -1;
	}
	if (network_db_subnet_each_network(txn, s->network_id, overlap_cb,
	    &o) == -1)
		return -1;
	if (o.hit) {
		err_set(TS_EINVALID, "Invalid input for operation: Requested "
		    "subnet with cidr: %s for network: %s overlaps with "
		    "another subnet.", s->cidr, s->network_id);
		return -1;
	}
	return network_db_subnet_put(txn, s, NULL);
}

static bool
pools_equal(const struct rec_subnet *a, const struct rec_subnet *b)
{
	if (a->allocation_pools.n != b->allocation_pools.n)
		return false;
	for (size_t j = 0; j < a->allocation_pools.n; j++)
		if (strcmp(a->allocation_pools.items[j].start,
		    b->allocation_pools.items[j].start) != 0 ||
		    strcmp(a->allocation_pools.items[j].end,
		    b->allocation_pools.items[j].end) != 0)
			return false;
	return true;
}

int
ipam_subnet_update(struct store_txn *txn, const struct rec_subnet *s,
    const struct rec_subnet *old)
{
	if (s->ip_version != old->ip_version || strcmp(s->cidr, old->cidr) !=
	    0) {
		err_set(TS_EINVALID, "Cannot update read-only attribute %s",
		    s->ip_version != old->ip_version ? "ip_version" : "cidr");
		return -1;
	}
	/* Addresses of a new pool may lie below the cursor. */
	if (!pools_equal(s, old) && cursor_del(txn, s->id) == -1)
		return -1;
	return network_db_subnet_put(txn, s, old);
}

int
ipam_subnet_delete(struct store_txn *txn, const struct rec_subnet *s)
{
	size_t n;

	if (ipam_ip_count(txn, s->id, &n) == -1)
		return -1;
	if (n > 0) {
		err_set(TS_ECONFLICT, "Unable to complete operation on subnet "
		    "%s: One or more ports have an IP allocation from this "
		    "subnet.", s->id);
		return -1;
	}
	if (cursor_del(txn, s->id) == -1)
		return -1;
	return network_db_subnet_del(txn, s);
}

/* ------------------------------------------------------------------- ports */

#define PORT_IPS_MAX	64

struct fixed {
	struct sch_port_fixed_ip	ip[PORT_IPS_MAX];
	size_t				n;
};

static void
fixed_clear(struct fixed *f)
{
	for (size_t j = 0; j < f->n; j++)
		free(f->ip[j].ip_address);
	f->n = 0;
}

static int
fixed_add(struct fixed *f, const char *subnet_id, const char *ip)
{
	if (f->n == PORT_IPS_MAX) {
		err_set(TS_EINVALID, "Invalid input for fixed_ips. Reason: "
		    "more than %d addresses.", PORT_IPS_MAX);
		return -1;
	}
	snprintf(f->ip[f->n].subnet_id, sizeof(f->ip[0].subnet_id), "%s",
	    subnet_id);
	if ((f->ip[f->n].ip_address = strdup(ip)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	f->n++;
	return 0;
}

/* The subnets of a network, decoded (owned), in id order. */
struct subnets {
	struct rec_subnet	*s;
	size_t			 n, cap;
};

static int
subnets_collect(const struct rec_subnet *s, void *arg)
{
	struct subnets *v = arg;
	struct buf b = { 0 };

	if (v->n == v->cap) {
		size_t nc = v->cap ? 2 * v->cap : 4;
		void *p = realloc(v->s, nc * sizeof(*v->s));

		if (p == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		v->s = p;
		v->cap = nc;
	}
	/* A deep copy through the codec: the callback's record is
	 * borrowed. */
	memset(&v->s[v->n], 0, sizeof(v->s[0]));
	if (codec_record_encode(&schema_rec_subnet, s, &b) == -1 ||
	    codec_record_decode(&schema_rec_subnet, b.data, b.len, &v->s[v->n],
	    NULL) == -1) {
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	v->n++;
	return 0;
}

static void
subnets_free(struct subnets *v)
{
	for (size_t j = 0; j < v->n; j++)
		codec_clear(&schema_rec_subnet, &v->s[j]);
	free(v->s);
}

/* fixed_ips absent: one address per IP version, from the first subnet of
 * that version that has one. */
static int
ips_auto(struct store_txn *txn, const struct subnets *sv, const char *net,
    const char *port_id, struct fixed *f)
{
	char out[IPAM_ADDR_STRLEN];

	for (unsigned v = 4; v <= 6; v += 2) {
		bool tried = false, got = false;

		for (size_t j = 0; j < sv->n && !got; j++) {
			if (sv->s[j].ip_version != v)
				continue;
			tried = true;
			if (ipam_ip_allocate(txn, &sv->s[j], port_id, NULL,
			    out) == 0) {
				got = true;
				if (fixed_add(f, sv->s[j].id, out) == -1)
					return -1;
			} else if (err_code() != TS_ECONFLICT) {
				return -1;
			}
		}
		if (tried && !got) {
			err_set(TS_ECONFLICT, "No more IP addresses available "
			    "on network %s.", net);
			return -1;
		}
	}
	err_clear();
	return 0;
}

static int
ips_requested(struct store_txn *txn, const struct subnets *sv,
    const char *net, const char *port_id, const struct ipam_ip_req *reqs,
    size_t nreq, struct fixed *f)
{
	char out[IPAM_ADDR_STRLEN];

	for (size_t j = 0; j < nreq; j++) {
		const struct rec_subnet *s = NULL;

		if (reqs[j].subnet_id != NULL) {
			for (size_t k = 0; k < sv->n && s == NULL; k++)
				if (strcmp(sv->s[k].id, reqs[j].subnet_id) == 0)
					s = &sv->s[k];
			if (s == NULL) {
				err_set(TS_EINVALID, "Invalid input for "
				    "operation: Failed to create port on "
				    "network %s, because fixed_ips included "
				    "invalid subnet %s.", net,
				    reqs[j].subnet_id);
				return -1;
			}
		} else if (reqs[j].ip_address != NULL) {
			struct ipam_addr a;

			if (addr_parse(reqs[j].ip_address, &a) == -1) {
				err_set(TS_EINVALID, "Invalid input for "
				    "fixed_ips. Reason: '%s' is not a valid IP "
				    "address.", reqs[j].ip_address);
				return -1;
			}
			for (size_t k = 0; k < sv->n && s == NULL; k++) {
				struct ipam_cidr c;

				if (cidr_parse(sv->s[k].cidr, &c) == C_OK &&
				    ipam_cidr_contains(&c, &a))
					s = &sv->s[k];
			}
			if (s == NULL) {
				err_set(TS_EINVALID, "IP address %s is not a "
				    "valid IP for any of the subnets on the "
				    "specified network.", reqs[j].ip_address);
				return -1;
			}
		} else {
			err_set(TS_EINVALID, "Invalid input for operation: IP "
			    "allocation requires subnet_id or ip_address.");
			return -1;
		}
		if (ipam_ip_allocate(txn, s, port_id, reqs[j].ip_address,
		    out) == -1 || fixed_add(f, s->id, out) == -1)
			return -1;
	}
	return 0;
}

int
ipam_port_create(struct store_txn *txn, const struct ipam_conf *conf,
    struct rec_port *p, const struct ipam_ip_req *reqs, size_t nreq,
    bool reqs_given)
{
	struct subnets sv = { 0 };
	struct fixed f = { .n = 0 };
	struct rec_network n;
	char mac[18];
	int rc = -1;

	if (network_db_network_get(txn, p->network_id, &n) == -1)
		return -1;
	codec_clear(&schema_rec_network, &n);
	if (ipam_mac_allocate(txn, conf, p->network_id, p->id,
	    p->mac_address && *p->mac_address ? p->mac_address : NULL,
	    mac) == -1 || replace_str(&p->mac_address, mac) == -1)
		return -1;
	if (network_db_subnet_each_network(txn, p->network_id,
	    subnets_collect, &sv) == -1)
		goto out;
	if (reqs_given ? ips_requested(txn, &sv, p->network_id, p->id, reqs,
	    nreq, &f) == -1 : ips_auto(txn, &sv, p->network_id, p->id,
	    &f) == -1)
		goto out;
	for (size_t j = 0; j < p->fixed_ips.n; j++)
		free(p->fixed_ips.items[j].ip_address);
	free(p->fixed_ips.items);
	p->fixed_ips.items = NULL;
	p->fixed_ips.n = 0;
	if (f.n > 0) {
		if ((p->fixed_ips.items = calloc(f.n,
		    sizeof(*p->fixed_ips.items))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(p->fixed_ips.items, f.ip, f.n * sizeof(f.ip[0]));
		p->fixed_ips.n = f.n;
		f.n = 0;	/* the strings moved to p */
	}
	rc = network_db_port_put(txn, p, NULL);
out:
	fixed_clear(&f);
	subnets_free(&sv);
	return rc;
}

int
ipam_port_delete(struct store_txn *txn, const struct rec_port *p)
{
	for (size_t j = 0; j < p->fixed_ips.n; j++)
		if (ipam_ip_release(txn, p->fixed_ips.items[j].subnet_id,
		    p->fixed_ips.items[j].ip_address, p->id) == -1)
			return -1;
	if (ipam_mac_release(txn, p->mac_address, p->id) == -1)
		return -1;
	return network_db_port_del(txn, p);
}
