/*
 * firewall: security groups, anti-spoofing and host protection in nftables
 * (see firewall.h).
 *
 * Every value from the message is parsed and re-rendered here (addresses
 * through inet_pton/inet_ntop, MACs byte by byte, protocols and ports as
 * numbers), so nothing of the message reaches nft verbatim.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "buf.h"
#include "err.h"
#include "firewall.h"
#include "ifname.h"
#include "log.h"
#include "proc.h"
#include "uuid.h"

#define T		FIREWALL_TABLE
#define MARK_IN		0x74690000u	/* "ti": frame came in on this port */
#define MARK_OUT	0x746f0000u	/* "to": frame goes out on this port */
#define IDX_MAX		0xffffu
#define ZONE_MAX	65535u
#define MSG_MAX		256

/* What was applied for one port. */
struct fwport {
	char		 tap[IFNAME_MAX + 1];
	unsigned	 idx;		/* 1..IDX_MAX, stable while it exists */
	unsigned	 zone;
	/* Everything its text is rendered from (port_key): an equal key
	 * means an equal text, so an unchanged port is not rendered again. */
	char		*key;
	char		*text;		/* its transaction fragment */
	char		*ips;		/* fixed IPs, space separated */
	bool		 seen;		/* still desired (firewall_apply) */
};

/* What was applied for one remote-group set pair, or for one group's
 * chain pair gin_/geg_<name>. */
struct fwgroup {
	char		 name[33];	/* group id without dashes */
	char		*text;
};

/* One queued cut: the flows from and to ip in zone. */
struct fwcut {
	unsigned	zone;
	char		ip[INET6_ADDRSTRLEN + 8];	/* may be a prefix */
};

struct firewall {
	struct firewall_config	 cfg;
	char			*nft;
	char			*conntrack;
	bool			 applied;	/* tables match the lists below */
	bool			 sysctl_warned;
	struct fwport		*ports;
	size_t			 nports;
	struct fwgroup		*groups;	/* the sets */
	size_t			 ngroups;
	struct fwgroup		*chains;	/* the groups' chains */
	size_t			 nchains;
	char			*global;	/* zones and bridged pairs */
	/* Connection cuts queued during one firewall_apply(), run once
	 * the apply is done (cuts_run()). */
	struct fwcut		*cuts;
	size_t			 ncuts, capcuts;
};

struct firewall *
firewall_new(const struct firewall_config *cfg)
{
	struct firewall *fw;

	if ((fw = calloc(1, sizeof(*fw))) == NULL)
		goto nomem;
	fw->cfg = *cfg;
	if (fw->cfg.metadata_port == 0)
		fw->cfg.metadata_port = 80;
	fw->nft = strdup(cfg->nft ? cfg->nft : "nft");
	fw->conntrack = strdup(cfg->conntrack ? cfg->conntrack : "conntrack");
	if (fw->nft == NULL || fw->conntrack == NULL) {
		firewall_free(&fw);
		goto nomem;
	}
	fw->cfg.nft = fw->nft;
	fw->cfg.conntrack = fw->conntrack;
	return fw;
nomem:
	err_set(TS_ENOMEM, "firewall: out of memory");
	return NULL;
}

static void
ports_clear(struct fwport *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].text);
		free(p[i].ips);
	}
	free(p);
}

static void
groups_clear(struct fwgroup *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(g[i].text);
	free(g);
}

void
firewall_free(struct firewall **fwp)
{
	struct firewall *fw;

	if (fwp == NULL || (fw = *fwp) == NULL)
		return;
	ports_clear(fw->ports, fw->nports);
	groups_clear(fw->groups, fw->ngroups);
	groups_clear(fw->chains, fw->nchains);
	free(fw->global);
	free(fw->cuts);
	free(fw->nft);
	free(fw->conntrack);
	free(fw);
	*fwp = NULL;
}

/* ---- parsing and re-rendering of message values */

/* "a.b.c.d[/n]" or an IPv6 address[/n] of family want (AF_UNSPEC: either)
 * into out as the network address with its length ("/n" left out for a
 * host). Returns the family, or -1. */
static int
cidr_norm(const char *s, int want, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN + 8], txt[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *slash;
	long len;
	int af, max, i;
	char *end;

	if (s == NULL || strlen(s) >= sizeof(a))
		return -1;
	snprintf(a, sizeof(a), "%s", s);
	slash = strchr(a, '/');
	if (slash)
		a[slash - a] = '\0';
	if (inet_pton(AF_INET, a, bin) == 1)
		af = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, a, bin) == 1)
		af = AF_INET6, max = 128;
	else
		return -1;
	if (want != AF_UNSPEC && want != af)
		return -1;
	len = max;
	if (slash) {
		if (!isdigit((unsigned char)slash[1]))
			return -1;
		len = strtol(slash + 1, &end, 10);
		if (*end != '\0' || len < 0 || len > max)
			return -1;
	}
	for (i = 0; i < max / 8; i++) {
		int keep = (int)len - i * 8;

		if (keep <= 0)
			bin[i] = 0;
		else if (keep < 8)
			bin[i] &= (unsigned char)(0xff << (8 - keep));
	}
	if (inet_ntop(af, bin, txt, sizeof(txt)) == NULL)
		return -1;
	if (len == max)
		snprintf(out, outlen, "%s", txt);
	else
		snprintf(out, outlen, "%s/%ld", txt, len);
	return af;
}

/* "52:54:00:12:34:56" (either case) into out (18 bytes) in lower case;
 * unicast only (a multicast source is never a port's). */
static bool
mac_norm(const char *s, char *out)
{
	unsigned v[6];
	int i;

	if (s == NULL || strlen(s) != 17)
		return false;
	for (i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (!isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return false;
		sscanf(p, "%2x", &v[i]);
		v[i] &= 0xff;
	}
	if (v[0] & 1)
		return false;
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", v[0] & 0xffu,
	    v[1] & 0xffu, v[2] & 0xffu, v[3] & 0xffu, v[4] & 0xffu,
	    v[5] & 0xffu);
	return true;
}

/* Neutron's protocol names (neutron_lib constants) and their numbers. */
static const struct {
	const char	*name;
	int		 num;
} protos[] = {
	{ "ah", 51 }, { "dccp", 33 }, { "egp", 8 }, { "esp", 50 },
	{ "gre", 47 }, { "hopopt", 0 }, { "icmp", 1 }, { "igmp", 2 },
	{ "ipip", 4 }, { "ipv6-encap", 41 }, { "ipv6-frag", 44 },
	{ "ipv6-icmp", 58 }, { "icmpv6", 58 }, { "ipv6-nonxt", 59 },
	{ "ipv6-opts", 60 }, { "ipv6-route", 43 }, { "ospf", 89 },
	{ "pgm", 113 }, { "rsvp", 46 }, { "sctp", 132 }, { "tcp", 6 },
	{ "udp", 17 }, { "udplite", 136 }, { "vrrp", 112 },
};

/* -2: any; 0..255; -1: unknown. */
static int
proto_num(const char *s)
{
	size_t i;
	char *end;
	long v;

	if (s == NULL || strcmp(s, "any") == 0)
		return -2;
	if (isdigit((unsigned char)s[0])) {
		v = strtol(s, &end, 10);
		return *end == '\0' && v >= 0 && v <= 255 ? (int)v : -1;
	}
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(protos[i].name, s) == 0)
			return protos[i].num;
	return -1;
}

static bool
has_ports(int proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 33 ||
	    proto == 136;
}

/* The set names of a group: rg4_/rg6_ + 32 hex. */
static void
group_name(const char *id, char out[33])
{
	size_t i, j = 0;

	for (i = 0; id[i] && j < 32; i++)
		if (id[i] != '-')
			out[j++] = id[i];
	out[j] = '\0';
}

/*
 * One rule as an nft rule body into b. For a bad rule, msg gets why and
 * -1 is returned (b may hold part of the rule; the caller drops it).
 */
static int
render_rule(const struct sch_net_sg_rule *r, struct buf *b, char *msg)
{
	bool ingress, v6;
	int proto;
	const char *fam, *dir;
	char pfx[INET6_ADDRSTRLEN + 8];

	if (r->direction && strcmp(r->direction, "ingress") == 0)
		ingress = true;
	else if (r->direction && strcmp(r->direction, "egress") == 0)
		ingress = false;
	else {
		snprintf(msg, MSG_MAX, "bad direction");
		return -1;
	}
	if (r->ethertype && strcmp(r->ethertype, "IPv4") == 0)
		v6 = false;
	else if (r->ethertype && strcmp(r->ethertype, "IPv6") == 0)
		v6 = true;
	else {
		snprintf(msg, MSG_MAX, "bad ethertype");
		return -1;
	}
	if ((proto = proto_num(r->protocol)) == -1) {
		snprintf(msg, MSG_MAX, "unknown protocol");
		return -1;
	}
	/* Neutron: "icmp" in an IPv6 rule means ICMPv6. */
	if (v6 && proto == 1)
		proto = 58;
	fam = v6 ? "ip6" : "ip";
	dir = ingress ? "saddr" : "daddr";
	buf_printf(b, "meta nfproto %s", v6 ? "ipv6" : "ipv4");
	if (r->remote_ip_prefix && r->remote_group_id) {
		snprintf(msg, MSG_MAX, "both remote_ip_prefix and "
		    "remote_group_id");
		return -1;
	}
	if (r->remote_ip_prefix) {
		if (cidr_norm(r->remote_ip_prefix, v6 ? AF_INET6 : AF_INET,
		    pfx, sizeof(pfx)) == -1) {
			snprintf(msg, MSG_MAX, "bad remote_ip_prefix for %s",
			    v6 ? "IPv6" : "IPv4");
			return -1;
		}
		/* A zero-length prefix matches every address. */
		if (strcmp(pfx, "0.0.0.0/0") && strcmp(pfx, "::/0"))
			buf_printf(b, " %s %s %s", fam, dir, pfx);
	}
	if (r->remote_group_id) {
		char g[33];

		if (!uuid_valid(r->remote_group_id)) {
			snprintf(msg, MSG_MAX, "bad remote_group_id");
			return -1;
		}
		group_name(r->remote_group_id, g);
		buf_printf(b, " %s %s @rg%c_%s", fam, dir, v6 ? '6' : '4', g);
	}
	if (proto >= 0)
		buf_printf(b, " meta l4proto %d", proto);
	if (has_ports(proto)) {
		uint32_t lo = r->has_port_min ? r->port_min : 1;
		uint32_t hi = r->has_port_max ? r->port_max : lo;

		if (!r->has_port_min && !r->has_port_max)
			;
		else if (lo < 1 || hi > 65535 || lo > hi) {
			snprintf(msg, MSG_MAX, "bad port range");
			return -1;
		} else if (lo == hi)
			buf_printf(b, " th dport %u", lo);
		else if (lo != 1 || hi != 65535)
			buf_printf(b, " th dport %u-%u", lo, hi);
	} else if (proto == 1 || proto == 58) {
		const char *ic = proto == 1 ? "icmp" : "icmpv6";

		if (r->has_port_max && !r->has_port_min) {
			snprintf(msg, MSG_MAX, "ICMP code without a type");
			return -1;
		}
		if ((r->has_port_min && r->port_min > 255) ||
		    (r->has_port_max && r->port_max > 255)) {
			snprintf(msg, MSG_MAX, "bad ICMP type or code");
			return -1;
		}
		if (r->has_port_min)
			buf_printf(b, " %s type %u", ic, r->port_min);
		if (r->has_port_max)
			buf_printf(b, " %s code %u", ic, r->port_max);
	} else if (r->has_port_min || r->has_port_max) {
		snprintf(msg, MSG_MAX, "ports given for a protocol without "
		    "ports");
		return -1;
	}
	buf_puts(b, " accept\n");
	return 0;
}

/* ---- the desired state, rendered */

/* A group of the message with its rules rendered (NULL in: bad). */
struct dgroup {
	const struct sch_net_secgroup	*g;
	char				 name[33];
	char				*in;	/* ingress rule bodies, a line each */
	char				*eg;
	char				 msg[MSG_MAX];
	bool				 used;	/* a filtered port is in it */
	char				*text;	/* its chains, when used */
};

struct dport {
	const struct sch_net_port	*p;
	char				 tap[IFNAME_MAX + 1];
	unsigned			 idx;
	unsigned			 zone;
	char				*key;
	/* Rendered, or borrowed from old when its key is unchanged (then
	 * reused: old keeps owning them until the commit moves them). */
	char				*text;
	char				*ips;
	struct fwport			*old;	/* applied before, or NULL */
	bool				 reused;
	bool				 flush;	/* cut its connections after */
};

struct desired {
	struct dgroup	*groups;
	size_t		 ngroups;
	struct dport	*ports;
	size_t		 nports;
	/* remote groups referenced by any rendered rule: name + members */
	struct fwgroup	*sets;
	size_t		 nsets;
	char		*global;
	unsigned	*zones;		/* per desired->networks entry */
};

static void
desired_clear(struct desired *d)
{
	size_t i;

	for (i = 0; i < d->ngroups; i++) {
		free(d->groups[i].in);
		free(d->groups[i].eg);
		free(d->groups[i].text);
	}
	free(d->groups);
	for (i = 0; i < d->nports; i++) {
		free(d->ports[i].key);
		if (d->ports[i].reused)
			continue;
		free(d->ports[i].text);
		free(d->ports[i].ips);
	}
	free(d->ports);
	groups_clear(d->sets, d->nsets);
	free(d->global);
	free(d->zones);
	memset(d, 0, sizeof(*d));
}

static char *
buf_take(struct buf *b)
{
	char *s;

	if (b->failed) {
		buf_free(b);
		return NULL;
	}
	s = b->data ? (char *)b->data : strdup("");
	memset(b, 0, sizeof(*b));
	return s;
}

static int
render_groups(const struct msg_host_network *m, struct desired *d)
{
	size_t i, j;

	if ((d->groups = calloc(m->security_groups.n + 1,
	    sizeof(*d->groups))) == NULL)
		return -1;
	for (i = 0; i < m->security_groups.n; i++) {
		struct dgroup *g = &d->groups[d->ngroups++];
		struct buf in = { 0 }, eg = { 0 }, one = { 0 };
		bool bad = false;

		g->g = &m->security_groups.items[i];
		group_name(g->g->id, g->name);
		for (j = 0; j < g->g->rules.n && !bad; j++) {
			const struct sch_net_sg_rule *r = &g->g->rules.items[j];
			char why[MSG_MAX];

			buf_reset(&one);
			if (render_rule(r, &one, why) == -1) {
				snprintf(g->msg, sizeof(g->msg), "security group "
				    "%s: rule %zu: %.160s", g->g->id, j, why);
				bad = true;
			} else if (one.failed)
				bad = true;
			else
				buf_puts(strcmp(r->direction, "ingress") == 0 ?
				    &in : &eg, (const char *)one.data);
		}
		buf_free(&one);
		if (bad) {
			buf_free(&in);
			buf_free(&eg);
			if (g->msg[0] == '\0')
				return -1;
			log_warnx("firewall: %s", g->msg);
			continue;
		}
		if ((g->in = buf_take(&in)) == NULL ||
		    (g->eg = buf_take(&eg)) == NULL)
			return -1;
	}
	return 0;
}

static struct dgroup *
dgroup_find(const struct desired *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->ngroups; i++)
		if (strcmp(d->groups[i].g->id, id) == 0)
			return &d->groups[i];
	return NULL;
}

/* Lines of s appended to b, each prefixed with "add rule <where> ". */
static void
add_rules(struct buf *b, const char *where, const char *s)
{
	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		buf_printf(b, "add rule %s %.*s\n", where, (int)n, s);
		s += n + (nl != NULL);
	}
}

/* Whether a list being built has an entry (nft has no empty "{ }"). */
static bool
list_nonempty(const struct buf *l)
{
	return l->len > 0;
}

/*
 * An IPv6 address or prefix (as cidr_norm renders it) into nd as a 128-bit
 * number or range, for matching the target of a neighbour advertisement:
 * nft 1.0.6 has no keyword for it, only the raw payload (@th,64,128, an
 * integer, which takes no address literals).
 */
static void
nd_target(struct buf *nd, const char *s)
{
	char a[INET6_ADDRSTRLEN + 8], *slash;
	unsigned char lo[16], hi[16];
	int len = 128, i;

	snprintf(a, sizeof(a), "%s", s);
	if ((slash = strchr(a, '/')) != NULL) {
		*slash = '\0';
		len = atoi(slash + 1);
	}
	if (inet_pton(AF_INET6, a, lo) != 1)
		return;
	memcpy(hi, lo, sizeof(hi));
	for (i = len; i < 128; i++)
		hi[i / 8] |= (unsigned char)(0x80 >> (i % 8));
	buf_printf(nd, "%s0x", nd->len ? ", " : "");
	for (i = 0; i < 16; i++)
		buf_printf(nd, "%02x", lo[i]);
	if (len < 128) {
		buf_puts(nd, "-0x");
		for (i = 0; i < 16; i++)
			buf_printf(nd, "%02x", hi[i]);
	}
}

/* The link-local address of a MAC (modified EUI-64, RFC 4291), which the
 * guest's kernel makes for itself, into nd (see nd_target). */
static void
nd_linklocal(struct buf *nd, const char *mac)
{
	unsigned v[6];
	char a[INET6_ADDRSTRLEN];

	if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5]) != 6)
		return;
	snprintf(a, sizeof(a), "fe80::%x:%x:%x:%x", ((v[0] ^ 2) << 8) | v[1],
	    (v[2] << 8) | 0xff, 0xfe00 | v[3], (v[4] << 8) | v[5]);
	nd_target(nd, a);
}

static int
render_antispoof(const struct sch_net_port *p, const char *where,
    struct buf *b, struct buf *ips)
{
	char mac[18], pmac[18], a[INET6_ADDRSTRLEN + 8];
	struct buf macs = { 0 }, v4 = { 0 }, v6 = { 0 }, arp = { 0 },
	    nd = { 0 };
	size_t i;
	int af;

	if (!mac_norm(p->mac, mac))
		return -2;
	buf_printf(&macs, "%s", mac);
	buf_printf(&arp, "0.0.0.0");
	nd_linklocal(&nd, mac);
	for (i = 0; i < p->fixed_ips.n; i++) {
		if ((af = cidr_norm(p->fixed_ips.items[i].ip_address,
		    AF_UNSPEC, a, sizeof(a))) == -1 || strchr(a, '/'))
			continue;	/* never allowed: fail closed */
		buf_printf(af == AF_INET ? &v4 : &v6, "%s%s . %s",
		    (af == AF_INET ? v4.len : v6.len) ? ", " : "", mac, a);
		if (af == AF_INET)
			buf_printf(&arp, ", %s", a);
		else
			nd_target(&nd, a);
		buf_printf(ips, "%s%s", ips->len ? " " : "", a);
	}
	for (i = 0; i < p->address_pairs.n; i++) {
		const struct sch_net_addr_pair *ap = &p->address_pairs.items[i];

		if (ap->mac) {
			if (!mac_norm(ap->mac, pmac))
				continue;
		} else
			memcpy(pmac, mac, sizeof(pmac));
		if ((af = cidr_norm(ap->ip, AF_UNSPEC, a, sizeof(a))) == -1)
			continue;
		if (strcmp(pmac, mac) && strstr((const char *)macs.data,
		    pmac) == NULL) {
			buf_printf(&macs, ", %s", pmac);
			nd_linklocal(&nd, pmac);
		}
		buf_printf(af == AF_INET ? &v4 : &v6, "%s%s . %s",
		    (af == AF_INET ? v4.len : v6.len) ? ", " : "", pmac, a);
		if (af == AF_INET)
			buf_printf(&arp, ", %s", a);
		else
			nd_target(&nd, a);
	}
	buf_printf(b, "add rule %s ether saddr != { %s } drop\n", where,
	    (const char *)macs.data);
	/* The guest is no DHCP server and no router. */
	buf_printf(b, "add rule %s ether type ip udp sport 67 drop\n", where);
	buf_printf(b, "add rule %s ether type ip6 udp sport 547 drop\n", where);
	buf_printf(b, "add rule %s ether type ip6 icmpv6 type "
	    "nd-router-advert drop\n", where);
	buf_printf(b, "add rule %s ether type ip6 icmpv6 type nd-redirect "
	    "drop\n", where);
	/* Neutron's ND anti-spoofing: neighbour advertisements only for the
	 * port's own addresses (and its MACs' link-local ones), so a guest
	 * cannot take over another's address in its neighbours' caches. */
	buf_printf(b, "add rule %s ether type ip6 icmpv6 type "
	    "nd-neighbor-advert @th,64,128 != { %s } drop\n", where,
	    (const char *)nd.data);
	buf_printf(b, "add rule %s ether type arp arp saddr ip != { %s } "
	    "drop\n", where, (const char *)arp.data);
	buf_printf(b, "add rule %s ether type arp return\n", where);
	buf_printf(b, "add rule %s ether type ip ip saddr 0.0.0.0 ip daddr "
	    "255.255.255.255 udp sport 68 udp dport 67 return\n", where);
	if (list_nonempty(&v4))
		buf_printf(b, "add rule %s ether type ip ether saddr . ip "
		    "saddr { %s } return\n", where, (const char *)v4.data);
	/* Link-local (neighbour discovery) and the unspecified address
	 * (duplicate address detection). */
	buf_printf(b, "add rule %s ether type ip6 ip6 saddr { ::, fe80::/10 } "
	    "return\n", where);
	if (list_nonempty(&v6))
		buf_printf(b, "add rule %s ether type ip6 ether saddr . ip6 "
		    "saddr { %s } return\n", where, (const char *)v6.data);
	buf_printf(b, "add rule %s drop\n", where);
	buf_free(&macs);
	buf_free(&v4);
	buf_free(&v6);
	buf_free(&arp);
	buf_free(&nd);
	return 0;
}

/* Fills dp->text and dp->ips. -2: the port's MAC is bad (message in msg). */
static int
render_port(const struct desired *d, struct dport *dp, char *msg)
{
	struct buf b = { 0 }, ips = { 0 }, in = { 0 }, eg = { 0 };
	char where[64];
	size_t i;
	int r;

	/* Each group's rules once, in its own chains (render_chains); the
	 * port's chains jump to them in the port's order of groups, and a
	 * group's accept is the port's accept. */

	snprintf(where, sizeof(where), "bridge " T " as_%s", dp->tap);
	buf_printf(&b, "add chain %s\nflush chain %s\n", where, where);
	/* A port whose MAC cannot be checked sends nothing (fail closed). */
	if ((r = render_antispoof(dp->p, where, &b, &ips)) == -2) {
		snprintf(msg, MSG_MAX, "port %s: bad MAC", dp->p->id);
		buf_printf(&b, "add rule %s drop\n", where);
	}
	for (i = 0; i < dp->p->security_groups.n; i++) {
		const struct dgroup *g = dgroup_find(d,
		    dp->p->security_groups.items[i]);

		if (g == NULL)
			continue;	/* unknown: adds nothing */
		buf_printf(&in, "jump gin_%s\n", g->name);
		buf_printf(&eg, "jump geg_%s\n", g->name);
	}
	snprintf(where, sizeof(where), "inet " T " eg_%s", dp->tap);
	buf_printf(&b, "add chain %s\nflush chain %s\n", where, where);
	buf_printf(&b, "add rule %s ct state established,related accept\n"
	    "add rule %s ct state invalid drop\n"
	    "add rule %s udp sport 68 udp dport 67 accept\n"
	    "add rule %s udp sport 546 udp dport 547 accept\n"
	    "add rule %s icmpv6 type { nd-router-solicit, "
	    "nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, "
	    "mld2-listener-report } accept\n", where, where, where, where,
	    where);
	add_rules(&b, where, (const char *)eg.data);
	buf_printf(&b, "add rule %s drop\n", where);
	snprintf(where, sizeof(where), "inet " T " in_%s", dp->tap);
	buf_printf(&b, "add chain %s\nflush chain %s\n", where, where);
	buf_printf(&b, "add rule %s ct state established,related accept\n"
	    "add rule %s ct state invalid drop\n"
	    "add rule %s udp sport 67 udp dport 68 accept\n"
	    "add rule %s udp sport 547 udp dport 546 accept\n"
	    "add rule %s icmpv6 type { nd-router-advert, "
	    "nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query } "
	    "accept\n", where, where, where, where, where);
	add_rules(&b, where, (const char *)in.data);
	buf_printf(&b, "add rule %s drop\n", where);
	buf_printf(&b, "add element bridge " T " spoof { \"%s\" : jump as_%s }\n"
	    "add element bridge " T " inmark { \"%s\" : 0x%08x }\n"
	    "add element bridge " T " outmark { \"%s\" : 0x%08x }\n"
	    "add element inet " T " egress { 0x%08x : jump eg_%s }\n"
	    "add element inet " T " ingress { 0x%08x : jump in_%s }\n",
	    dp->tap, dp->tap, dp->tap, MARK_IN | dp->idx, dp->tap,
	    MARK_OUT | dp->idx, MARK_IN | dp->idx, dp->tap,
	    MARK_OUT | dp->idx, dp->tap);
	buf_free(&in);
	buf_free(&eg);
	if ((dp->text = buf_take(&b)) == NULL ||
	    (dp->ips = buf_take(&ips)) == NULL)
		return -1;
	return r;
}

/* A remote-group member, parsed. */
struct member {
	int		 af;
	unsigned char	 a[16];	/* network address */
	int		 len;	/* prefix length */
};

static int
member_cmp(const void *x, const void *y)
{
	const struct member *m = x, *n = y;
	int c;

	if (m->af != n->af)
		return m->af < n->af ? -1 : 1;
	if ((c = memcmp(m->a, n->a, sizeof(m->a))) != 0)
		return c;
	return (m->len > n->len) - (m->len < n->len);
}

/* Whether n lies inside m (same family, m's prefix no longer). */
static bool
member_covers(const struct member *m, const struct member *n)
{
	int full = m->len / 8, rest = m->len % 8;

	if (m->af != n->af || m->len > n->len ||
	    memcmp(m->a, n->a, (size_t)full) != 0)
		return false;
	return rest == 0 ||
	    ((m->a[full] ^ n->a[full]) & (0xff << (8 - rest))) == 0;
}

/*
 * The members of rg of family af as "a, b/n, ..." into b: sorted, and
 * without any member inside another (a duplicate, or a port's address
 * inside an address pair's prefix). The sets are interval sets without
 * auto-merge, which take prefixes and let one element be added or deleted
 * alone but refuse overlapping elements: after this none overlap (two
 * prefixes are either disjoint or one holds the other), and each element
 * stays exactly as rendered, so a later delta names elements that exist.
 */
static int
render_members(const struct dgroup *rg, int af, struct buf *b)
{
	struct member *m;
	const struct member *last = NULL;
	char a[INET6_ADDRSTRLEN + 8], txt[INET6_ADDRSTRLEN];
	size_t i, n = 0;

	if (rg == NULL || rg->g->members.n == 0)
		return 0;
	if ((m = calloc(rg->g->members.n, sizeof(*m))) == NULL)
		return -1;
	for (i = 0; i < rg->g->members.n; i++) {
		char *slash;

		if (cidr_norm(rg->g->members.items[i], af, a, sizeof(a)) == -1)
			continue;
		m[n].af = af;
		m[n].len = af == AF_INET ? 32 : 128;
		if ((slash = strchr(a, '/')) != NULL) {
			*slash = '\0';
			m[n].len = atoi(slash + 1);
		}
		if (inet_pton(af, a, m[n].a) != 1)
			continue;
		n++;
	}
	qsort(m, n, sizeof(*m), member_cmp);
	for (i = 0; i < n; i++) {
		if (last && member_covers(last, &m[i]))
			continue;
		last = &m[i];
		if (inet_ntop(af, m[i].a, txt, sizeof(txt)) == NULL)
			continue;
		buf_printf(b, "%s%s", b->len ? ", " : "", txt);
		if (m[i].len != (af == AF_INET ? 32 : 128))
			buf_printf(b, "/%d", m[i].len);
	}
	free(m);
	return 0;
}

/* The remote-group sets of the rules of every good group: rg4_ and rg6_
 * with the group's members (unknown group: empty). A set's text is what
 * creates it whole; a set that exists already gets only the difference
 * (set_delta). */
static int
render_sets(struct desired *d)
{
	size_t i, j, k, cap = 0;

	for (i = 0; i < d->ngroups; i++)
		cap += d->groups[i].g->rules.n;
	if ((d->sets = calloc(cap + 1, sizeof(*d->sets))) == NULL)
		return -1;
	for (i = 0; i < d->ngroups; i++) {
		if (d->groups[i].in == NULL)
			continue;
		for (j = 0; j < d->groups[i].g->rules.n; j++) {
			const char *rid =
			    d->groups[i].g->rules.items[j].remote_group_id;
			const struct dgroup *rg;
			struct buf b = { 0 }, e4 = { 0 }, e6 = { 0 };
			char name[33];

			if (rid == NULL)
				continue;
			group_name(rid, name);
			for (k = 0; k < d->nsets; k++)
				if (strcmp(d->sets[k].name, name) == 0)
					break;
			if (k < d->nsets)
				continue;
			rg = dgroup_find(d, rid);
			if (render_members(rg, AF_INET, &e4) == -1 ||
			    render_members(rg, AF_INET6, &e6) == -1) {
				buf_free(&e4);
				buf_free(&e6);
				return -1;
			}
			buf_printf(&b, "add set inet " T " rg4_%s { type "
			    "ipv4_addr; flags interval; }\n"
			    "flush set inet " T " rg4_%s\n", name, name);
			if (e4.len)
				buf_printf(&b, "add element inet " T " rg4_%s "
				    "{ %s }\n", name, (const char *)e4.data);
			buf_printf(&b, "add set inet " T " rg6_%s { type "
			    "ipv6_addr; flags interval; }\n"
			    "flush set inet " T " rg6_%s\n", name, name);
			if (e6.len)
				buf_printf(&b, "add element inet " T " rg6_%s "
				    "{ %s }\n", name, (const char *)e6.data);
			buf_free(&e4);
			buf_free(&e6);
			memcpy(d->sets[d->nsets].name, name, sizeof(name));
			if ((d->sets[d->nsets++].text = buf_take(&b)) == NULL)
				return -1;
		}
	}
	return 0;
}

/* FNV-1a of the network id: its zone's first choice. */
static unsigned
zone_hash(const char *id)
{
	return hash_fnv32(id) % ZONE_MAX + 1;
}

/*
 * One conntrack zone per network: its hash, probing upwards on a clash,
 * networks taken in id order so that the result does not depend on the
 * message's order (a zone that moved would orphan the entries in it).
 */
static int
render_zones(const struct msg_host_network *m, struct desired *d)
{
	struct buf b = { 0 }, z = { 0 }, br = { 0 };
	size_t i, j, n = m->networks.n;
	bool *done;

	if ((d->zones = calloc(n + 1, sizeof(*d->zones))) == NULL ||
	    (done = calloc(n + 1, sizeof(*done))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		size_t best = n;
		unsigned zone;

		for (j = 0; j < n; j++)
			if (!done[j] && (best == n ||
			    strcmp(m->networks.items[j].id,
			    m->networks.items[best].id) < 0))
				best = j;
		done[best] = true;
		zone = zone_hash(m->networks.items[best].id);
		for (j = 0; j < n; j++)
			if (d->zones[j] == zone) {
				zone = zone % ZONE_MAX + 1;
				j = (size_t)-1;	/* look again */
			}
		d->zones[best] = zone;
	}
	free(done);
	for (i = 0; i < n; i++) {
		char bridge[IFNAME_MAX + 1];

		if (ifname_of(IFNAME_BRIDGE_PREFIX, m->networks.items[i].id,
		    bridge) == -1)
			continue;
		if (strstr(z.data ? (const char *)z.data : "", bridge))
			continue;	/* listed twice */
		buf_printf(&z, "%s\"%s\" : %u", z.len ? ", " : "", bridge,
		    d->zones[i]);
		buf_printf(&br, "%s\"%s\" . \"%s\"", br.len ? ", " : "",
		    bridge, bridge);
	}
	buf_puts(&b, "flush map inet " T " zone\nflush set inet " T
	    " bridged\n");
	if (z.len)
		buf_printf(&b, "add element inet " T " zone { %s }\n"
		    "add element inet " T " bridged { %s }\n",
		    (const char *)z.data, (const char *)br.data);
	buf_free(&z);
	buf_free(&br);
	return (d->global = buf_take(&b)) == NULL ? -1 : 0;
}

static int
port_cmp(const void *x, const void *y)
{
	return strcmp(((const struct fwport *)x)->tap,
	    ((const struct fwport *)y)->tap);
}

/* fw->ports is kept sorted by tap (see the commit in firewall_apply). */
static struct fwport *
applied_port(const struct firewall *fw, const char *tap)
{
	struct fwport k;

	if (fw->nports == 0)
		return NULL;
	snprintf(k.tap, sizeof(k.tap), "%s", tap);
	return bsearch(&k, fw->ports, fw->nports, sizeof(k), port_cmp);
}

static void
key_str(struct buf *k, const char *s)
{
	if (s == NULL)
		buf_puts(k, "-|");
	else
		buf_printf(k, "%zu:%s|", strlen(s), s);
}

/* Everything render_port reads, lengths first so that no two inputs make
 * one key: the port's values, its zone and index, and for each of its
 * groups whether the message has it (an unknown group gets no jump). */
static char *
port_key(const struct desired *d, const struct dport *dp)
{
	const struct sch_net_port *p = dp->p;
	struct buf k = { 0 };
	size_t i;

	buf_printf(&k, "%u|%u|", dp->zone, dp->idx);
	key_str(&k, p->mac);
	buf_printf(&k, "%zu|", p->fixed_ips.n);
	for (i = 0; i < p->fixed_ips.n; i++)
		key_str(&k, p->fixed_ips.items[i].ip_address);
	buf_printf(&k, "%zu|", p->address_pairs.n);
	for (i = 0; i < p->address_pairs.n; i++) {
		key_str(&k, p->address_pairs.items[i].mac);
		key_str(&k, p->address_pairs.items[i].ip);
	}
	buf_printf(&k, "%zu|", p->security_groups.n);
	for (i = 0; i < p->security_groups.n; i++) {
		key_str(&k, p->security_groups.items[i]);
		buf_puts(&k, dgroup_find(d, p->security_groups.items[i]) ?
		    "+" : "-");
	}
	return buf_take(&k);
}

/* Record msg on the status of network id (the first reason wins). */
static int
status_fail(struct msg_host_network_state *st, const char *id,
    const char *msg)
{
	size_t i;

	for (i = 0; st && i < st->networks.n; i++) {
		struct sch_net_status *s = &st->networks.items[i];

		if (strcmp(s->id, id) || !s->ok)
			continue;
		s->ok = false;
		free(s->message);
		if ((s->message = strdup(msg)) == NULL) {
			err_set(TS_ENOMEM, "firewall: out of memory");
			return -1;
		}
	}
	return 0;
}

static int
render_ports(struct firewall *fw, const struct msg_host_network *m,
    struct desired *d, struct msg_host_network_state *st)
{
	unsigned char *used;
	unsigned next = 1;
	size_t i, j;

	if ((d->ports = calloc(m->ports.n + 1, sizeof(*d->ports))) == NULL ||
	    (used = calloc(IDX_MAX + 1, 1)) == NULL)
		return -1;
	/* The indexes of every applied port stay taken in this transaction:
	 * a port leaving has its map elements deleted after the new ones
	 * are added. */
	for (i = 0; i < fw->nports; i++)
		used[fw->ports[i].idx] = 1;
	for (i = 0; i < m->ports.n; i++) {
		const struct sch_net_port *p = &m->ports.items[i];
		struct dport *dp = &d->ports[d->nports];
		struct fwport *old;
		char msg[MSG_MAX], mac[18];
		int r;

		if (!p->has_port_security || !p->port_security ||
		    ifname_of(IFNAME_TAP_PREFIX, p->id, dp->tap) == -1)
			continue;
		for (j = 0; j < m->networks.n; j++)
			if (strcmp(m->networks.items[j].id, p->network_id) == 0)
				break;
		if (j == m->networks.n)
			continue;	/* netconv reports nothing for it */
		dp->zone = d->zones[j];
		for (r = 0, j = 0; j < d->nports; j++)
			if (strcmp(d->ports[j].tap, dp->tap) == 0)
				r = 1;
		if (r)
			continue;	/* listed twice: the first wins */
		dp->p = p;
		if ((old = fw->applied ? applied_port(fw, dp->tap) : NULL))
			dp->idx = old->idx;
		else {
			while (next <= IDX_MAX && used[next])
				next++;
			if (next > IDX_MAX) {
				if (status_fail(st, p->network_id,
				    "firewall: too many ports") == -1)
					goto fail;
				continue;
			}
			dp->idx = next;
			used[next] = 1;
		}
		dp->old = old;
		if ((dp->key = port_key(d, dp)) == NULL)
			goto fail;
		if (old && strcmp(old->key, dp->key) == 0) {
			dp->text = old->text;
			dp->ips = old->ips;
			dp->reused = true;
			r = mac_norm(p->mac, mac) ? 0 : -2;
			snprintf(msg, sizeof(msg), "port %s: bad MAC", p->id);
		} else if ((r = render_port(d, dp, msg)) == -1)
			goto fail;
		d->nports++;
		if (r == -2 && status_fail(st, p->network_id, msg) == -1)
			goto fail;
		for (j = 0; j < p->security_groups.n; j++) {
			struct dgroup *g = dgroup_find(d,
			    p->security_groups.items[j]);

			if (g)
				g->used = true;
			if (g && g->in == NULL &&
			    status_fail(st, p->network_id, g->msg) == -1)
				goto fail;
		}
	}
	free(used);
	return 0;
fail:
	free(used);
	return -1;
}

/* The chains of every group a filtered port is in: its rules once, in
 * gin_ (ingress) and geg_ (egress); a bad group's stay empty. */
static int
render_chains(struct desired *d)
{
	size_t i;

	for (i = 0; i < d->ngroups; i++) {
		struct dgroup *g = &d->groups[i];
		struct buf b = { 0 };
		char where[64];

		if (!g->used)
			continue;
		snprintf(where, sizeof(where), "inet " T " gin_%s", g->name);
		buf_printf(&b, "add chain %s\nflush chain %s\n", where, where);
		add_rules(&b, where, g->in);
		snprintf(where, sizeof(where), "inet " T " geg_%s", g->name);
		buf_printf(&b, "add chain %s\nflush chain %s\n", where, where);
		add_rules(&b, where, g->eg);
		if ((g->text = buf_take(&b)) == NULL)
			return -1;
	}
	return 0;
}

static void
skeleton(const struct firewall *fw, struct buf *b)
{
	buf_printf(b,
	    "add table bridge " T "\n"
	    "delete table bridge " T "\n"
	    "add table inet " T "\n"
	    "delete table inet " T "\n"
	    "table bridge " T " {\n"
	    "\tmap spoof {\n\t\ttype ifname : verdict\n\t}\n"
	    "\tmap inmark {\n\t\ttype ifname : mark\n\t}\n"
	    "\tmap outmark {\n\t\ttype ifname : mark\n\t}\n"
	    "\tchain prerouting {\n"
	    "\t\ttype filter hook prerouting priority -300; policy accept;\n"
	    "\t\tiifname vmap @spoof\n"
	    "\t\tmeta mark set iifname map @inmark\n"
	    "\t}\n"
	    "\tchain forward {\n"
	    "\t\ttype filter hook forward priority -200; policy accept;\n"
	    "\t\tmeta mark set oifname map @outmark\n"
	    "\t}\n"
	    "}\n"
	    "table inet " T " {\n"
	    "\tmap zone {\n\t\ttypeof iifname : ct zone\n\t}\n"
	    "\tset bridged {\n\t\ttype ifname . ifname\n\t}\n"
	    "\tmap egress {\n\t\ttype mark : verdict\n\t}\n"
	    "\tmap ingress {\n\t\ttype mark : verdict\n\t}\n"
	    "\tchain raw_prerouting {\n"
	    "\t\ttype filter hook prerouting priority raw; policy accept;\n"
	    "\t\tct zone set iifname map @zone\n"
	    "\t}\n"
	    "\tchain raw_output {\n"
	    "\t\ttype filter hook output priority raw; policy accept;\n"
	    "\t\tct zone set oifname map @zone\n"
	    "\t}\n"
	    "\tchain prerouting {\n"
	    "\t\ttype filter hook prerouting priority filter; policy accept;\n"
	    "\t\tmeta mark vmap @egress\n"
	    "\t}\n"
	    "\tchain forward {\n"
	    "\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\tmeta mark vmap @ingress\n"
	    "\t\tiifname \"" IFNAME_BRIDGE_PREFIX "*\" oifname \""
	    IFNAME_BRIDGE_PREFIX "*\" iifname . oifname != @bridged "
	    "jump routed\n"
	    "\t}\n"
	    "\tchain routed {\n\t\tjump router_fwd\n\t\tdrop\n\t}\n"
	    "\tchain router_fwd {\n\t}\n"
	    "\tchain input {\n"
	    "\t\ttype filter hook input priority filter; policy accept;\n"
	    "\t\tiifname \"" IFNAME_BRIDGE_PREFIX "*\" jump host_in\n"
	    "\t}\n"
	    "\tchain host_in {\n"
	    "\t\tct state established,related accept\n"
	    "\t\tudp dport { 67, 547 } accept\n"
	    "\t\tmeta l4proto { tcp, udp } th dport 53 accept\n"
	    "\t\tip daddr 169.254.169.254 tcp dport %u accept\n"
	    "\t\ticmp type echo-request accept\n"
	    "\t\ticmpv6 type { echo-request, nd-neighbor-solicit, "
	    "nd-neighbor-advert, nd-router-solicit, mld-listener-report, "
	    "mld2-listener-report } accept\n"
	    "\t\tdrop\n"
	    "\t}\n"
	    "}\n", (unsigned)fw->cfg.metadata_port);
}

static void
delete_port(const struct fwport *p, struct buf *b)
{
	buf_printf(b,
	    "delete element bridge " T " spoof { \"%s\" }\n"
	    "delete element bridge " T " inmark { \"%s\" }\n"
	    "delete element bridge " T " outmark { \"%s\" }\n"
	    "delete element inet " T " egress { 0x%08x }\n"
	    "delete element inet " T " ingress { 0x%08x }\n"
	    "delete chain bridge " T " as_%s\n"
	    "delete chain inet " T " eg_%s\n"
	    "delete chain inet " T " in_%s\n",
	    p->tap, p->tap, p->tap, MARK_IN | p->idx, MARK_OUT | p->idx,
	    p->tap, p->tap, p->tap);
}

struct tok {
	const char	*p;
	size_t		 n;
};

static int
tok_cmp(const void *a, const void *b)
{
	const struct tok *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The line of text that starts with [p, p + n) (and, if whole, is exactly
 * that), or NULL; *len gets its length. */
static const char *
find_line(const char *text, const char *p, size_t n, bool whole, size_t *len)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t l = nl ? (size_t)(nl - text) : strlen(text);

		if (l >= n && memcmp(text, p, n) == 0 && (!whole || l == n)) {
			*len = l;
			return text;
		}
		text += l + (nl != NULL);
	}
	return NULL;
}

/* The elements of "... { a, b }" (line of n bytes) into *toks, sorted;
 * -1 on ENOMEM. */
static int
elements(const char *line, size_t n, struct tok **toks, size_t *ntoks)
{
	const char *p = memchr(line, '{', n), *end = line + n;
	size_t cap = 1;

	*toks = NULL;
	*ntoks = 0;
	if (p == NULL)
		return 0;
	for (const char *q = p; q < end; q++)
		cap += *q == ',';
	if ((*toks = calloc(cap, sizeof(**toks))) == NULL)
		return -1;
	p++;
	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *e = c ? c : end;

		while (p < e && (*p == ' ' || *p == '{'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '}'))
			e--;
		if (e > p && *ntoks < cap)
			(*toks)[(*ntoks)++] = (struct tok){ p, (size_t)(e - p) };
		p = c ? c + 1 : end;
	}
	qsort(*toks, *ntoks, sizeof(**toks), tok_cmp);
	return 0;
}

/*
 * Whether old (a port's fragment or a set's) allows something new does not:
 * one of its rules is not in new, or an element of one of its
 * "add element ... { a, b }" lines is not in new's line for the same map or
 * set. On ENOMEM the answer is yes (a needless flush, never a missed one).
 */
static bool
shrank(const char *old, const char *new)
{
	while (old && *old) {
		const char *nl = strchr(old, '\n'), *brace, *nline;
		size_t n = nl ? (size_t)(nl - old) : strlen(old), nlen, i;
		const char *line = old;
		struct tok *ot = NULL, *nt = NULL;
		size_t not = 0, nnt = 0;
		bool gone = false;

		old += n + (nl != NULL);
		if (n > 9 && memcmp(line, "add rule ", 9) == 0) {
			if (find_line(new, line, n, true, &nlen) == NULL)
				return true;
			continue;
		}
		if (n < 12 || memcmp(line, "add element ", 12) ||
		    (brace = memchr(line, '{', n)) == NULL)
			continue;
		nline = find_line(new, line, (size_t)(brace - line), false,
		    &nlen);
		if (elements(line, n, &ot, &not) == -1 || (nline &&
		    elements(nline, nlen, &nt, &nnt) == -1)) {
			free(ot);
			return true;
		}
		for (i = 0; i < not && !gone; i++)
			gone = nnt == 0 || bsearch(&ot[i], nt, nnt,
			    sizeof(*nt), tok_cmp) == NULL;
		free(ot);
		free(nt);
		if (gone)
			return true;
	}
	return false;
}

/*
 * For every "add element <set> { ... }" line of from: the elements that
 * to's line for the same set lacks (all of them if to has no such line),
 * as one "<verb> element <set> { ... }" line into b.
 */
static int
elements_missing(const char *from, const char *to, const char *verb,
    struct buf *b)
{
	while (from && *from) {
		const char *nl = strchr(from, '\n'), *line = from, *brace,
		    *tline;
		size_t n = nl ? (size_t)(nl - from) : strlen(from), tlen, i;
		struct tok *ft = NULL, *tt = NULL;
		size_t nft = 0, ntt = 0;
		bool any = false;

		from += n + (nl != NULL);
		if (n < 12 || memcmp(line, "add element ", 12) ||
		    (brace = memchr(line, '{', n)) == NULL)
			continue;
		tline = find_line(to, line, (size_t)(brace - line), false,
		    &tlen);
		if (elements(line, n, &ft, &nft) == -1 || (tline &&
		    elements(tline, tlen, &tt, &ntt) == -1)) {
			free(ft);
			return -1;
		}
		for (i = 0; i < nft; i++) {
			if (ntt && bsearch(&ft[i], tt, ntt, sizeof(*tt),
			    tok_cmp))
				continue;
			if (!any)
				buf_printf(b, "%s element %.*s{ ", verb,
				    (int)(brace - line - 12), line + 12);
			buf_printf(b, "%s%.*s", any ? ", " : "",
			    (int)ft[i].n, ft[i].p);
			any = true;
		}
		if (any)
			buf_puts(b, " }\n");
		free(ft);
		free(tt);
	}
	return 0;
}

/*
 * A set that exists changed from old to new (texts of render_sets): only
 * its gone elements deleted and its new ones added, not flushed and filled
 * again (nft re-reads and re-checks every element it is given, which took
 * seconds for large sets). The deletes come first: a prefix leaving may
 * uncover addresses inside it that join in the same transaction.
 */
static int
set_delta(const char *old, const char *new, struct buf *b)
{
	if (elements_missing(old, new, "delete", b) == -1 ||
	    elements_missing(new, old, "add", b) == -1)
		return -1;
	return 0;
}

static int
run_nft(struct firewall *fw, const char *text, bool full)
{
	const char *argv[] = { fw->nft, "-f", "-", NULL };
	/* A whole host's tables took 30 s at 1,000 ports on a loaded 2-core
	 * machine (docs/PERFORMANCE.md, Networking II): killed at 30 s, the
	 * agent would rebuild again and never converge. */
	struct proc_opts o = { .stdin_buf = text, .stdin_len = strlen(text),
	    .timeout_ms = full ? 300000 : 30000 };
	struct proc_result res = { 0 };
	int r;

	r = proc_run(argv, &o, &res);
	proc_result_clear(&res);
	return r;
}

/* The two deletes of one cut. Failures are logged (the next shrink
 * retries). */
static void
cut_now(struct firewall *fw, unsigned zone, const char *ip)
{
	char z[16];
	int k;

	snprintf(z, sizeof(z), "%u", zone);
	for (k = 0; k < 2; k++) {
		const char *argv[] = { fw->conntrack, "-D", "-w", z,
		    k ? "-d" : "-s", ip, NULL };
		struct proc_opts o = { .allow_nonzero = true,
		    .timeout_ms = 10000 };
		struct proc_result res = { 0 };

		if (proc_run(argv, &o, &res) == -1)
			log_warnx("firewall: %s", err_msg());
		proc_result_clear(&res);
	}
}

/* Queue a cut of the tracked connections from and to ip in zone; run by
 * cuts_run() at the end of the apply. Without memory it runs at once. */
static void
conntrack_cut(struct firewall *fw, unsigned zone, const char *ip)
{
	if (fw->ncuts == fw->capcuts) {
		size_t cap = fw->capcuts ? fw->capcuts * 2 : 64;
		struct fwcut *c = realloc(fw->cuts, cap * sizeof(*c));

		if (c == NULL) {
			cut_now(fw, zone, ip);
			return;
		}
		fw->cuts = c;
		fw->capcuts = cap;
	}
	fw->cuts[fw->ncuts].zone = zone;
	snprintf(fw->cuts[fw->ncuts].ip, sizeof(fw->cuts[fw->ncuts].ip), "%s",
	    ip);
	fw->ncuts++;
}

/* Whether a `conntrack -L` listing names ip as a src= or dst= address
 * (compared as addresses: the listing's form may differ from ours). An
 * ip that is not one address (a prefix) is always said to be there. */
static bool
listed(const char *text, const char *ip)
{
	unsigned char want[16], got[16];
	int af = strchr(ip, ':') ? AF_INET6 : AF_INET;
	size_t alen = af == AF_INET6 ? 16 : 4;
	const char *p;

	if (inet_pton(af, ip, want) != 1)
		return true;
	for (p = text; (p = strstr(p, "=")) != NULL; p++) {
		char a[INET6_ADDRSTRLEN + 1];
		size_t l;

		if (p - text < 3 || (memcmp(p - 3, "src", 3) != 0 &&
		    memcmp(p - 3, "dst", 3) != 0))
			continue;
		l = strcspn(p + 1, " \t\n");
		if (l == 0 || l >= sizeof(a))
			continue;
		memcpy(a, p + 1, l);
		a[l] = '\0';
		if (inet_pton(af, a, got) == 1 && memcmp(want, got, alen) == 0)
			return true;
	}
	return false;
}

/*
 * The queued cuts, a zone at a time: one `conntrack -L -w ZONE` lists
 * what the zone tracks, and only the addresses listed there get their
 * two deletes. A rule change shrinks every port of a group at once, and
 * two processes per address of each (hundreds per apply with a hundred
 * ports) kept the converger busy for seconds (RELIABILITY.md A9), while
 * most addresses track nothing. The listing is taken after the new rules
 * are in, so a flow it misses was set up under them. A listing that
 * fails or is cut short cuts every queued address of the zone.
 */
static void
cuts_run(struct firewall *fw)
{
	size_t i, j;

	for (i = 0; i < fw->ncuts; i++) {
		unsigned zone = fw->cuts[i].zone;
		char z[16];
		const char *argv[] = { fw->conntrack, "-L", "-w", z, NULL };
		struct proc_opts o = { .allow_nonzero = true,
		    .timeout_ms = 10000, .max_output = 16 << 20 };
		struct proc_result res = { 0 };
		const char *text = NULL;

		for (j = 0; j < i && fw->cuts[j].zone != zone; j++)
			;
		if (j < i)
			continue;	/* zone done */
		snprintf(z, sizeof(z), "%u", zone);
		if (proc_run(argv, &o, &res) == -1)
			log_warnx("firewall: %s", err_msg());
		else if (res.status == 0 && !res.truncated)
			text = res.out;
		for (j = i; j < fw->ncuts; j++) {
			size_t k;

			if (fw->cuts[j].zone != zone)
				continue;
			for (k = i; k < j; k++)	/* an address queued twice */
				if (fw->cuts[k].zone == zone &&
				    strcmp(fw->cuts[k].ip, fw->cuts[j].ip) == 0)
					break;
			if (k < j)
				continue;
			if (text == NULL || listed(text, fw->cuts[j].ip))
				cut_now(fw, zone, fw->cuts[j].ip);
		}
		proc_result_clear(&res);
	}
	fw->ncuts = 0;
}

/* Cut the port's tracked connections in its zone: entries from and to
 * each of its addresses. */
static void
flush_conntrack(struct firewall *fw, const struct dport *dp)
{
	char ip[INET6_ADDRSTRLEN];
	const char *s = dp->ips;

	while (s && *s) {
		size_t n = strcspn(s, " ");

		snprintf(ip, sizeof(ip), "%.*s", (int)n, s);
		s += n + (s[n] == ' ');
		conntrack_cut(fw, dp->zone, ip);
	}
}

/* Without these the inet family never sees bridged packets (then nothing
 * but anti-spoofing filters): warned about once, tried on every apply. */
static void
set_sysctls(struct firewall *fw)
{
	static const char *const files[] = {
		"/proc/sys/net/bridge/bridge-nf-call-iptables",
		"/proc/sys/net/bridge/bridge-nf-call-ip6tables",
	};
	size_t i;

	for (i = 0; i < 2; i++) {
		char cur = 0;
		int fd = open(files[i], O_RDWR | O_CLOEXEC);

		if (fd == -1 || (read(fd, &cur, 1) == 1 && cur == '1')) {
			if (fd == -1 && !fw->sysctl_warned)
				log_warn("firewall: %s", files[i]);
			if (fd == -1)
				fw->sysctl_warned = true;
			else
				close(fd);
			continue;
		}
		if (pwrite(fd, "1\n", 2, 0) != 2 && !fw->sysctl_warned) {
			log_warn("firewall: %s", files[i]);
			fw->sysctl_warned = true;
		}
		close(fd);
	}
}

static int
group_cmp(const void *x, const void *y)
{
	return strcmp(((const struct fwgroup *)x)->name,
	    ((const struct fwgroup *)y)->name);
}

/* fw->groups and fw->chains are kept sorted by name; d->sets is not. */
static const struct fwgroup *
set_find(const struct fwgroup *g, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(g[i].name, name) == 0)
			return &g[i];
	return NULL;
}

static const struct fwgroup *
applied_find(const struct fwgroup *g, size_t n, const char *name)
{
	struct fwgroup k;

	if (n == 0)
		return NULL;
	snprintf(k.name, sizeof(k.name), "%s", name);
	return bsearch(&k, g, n, sizeof(k), group_cmp);
}

static bool
port_in(const struct dport *dp, const struct dgroup *g)
{
	size_t i;

	for (i = 0; i < dp->p->security_groups.n; i++)
		if (strcmp(dp->p->security_groups.items[i], g->g->id) == 0)
			return true;
	return false;
}

/*
 * Set name shrank from old to new (texts of render_sets): the connections
 * of the members gone, in the zones of the ports whose groups' rules name
 * the set (they were allowed by those rules only while the member was
 * one), are cut: entries from and to each gone member, not every address
 * of every such port. A gone prefix (an address pair's) is not one
 * address: those ports are cut whole instead.
 */
static int
cut_members(struct firewall *fw, struct desired *d, const char *name,
    const char *old, const char *new)
{
	struct buf gone = { 0 };
	unsigned *zones = NULL;
	size_t nzones = 0, i, j, k;
	char ref[48];
	bool prefix;
	const char *s;

	if (set_delta(old, new, &gone) == -1 || gone.failed)
		goto nomem;
	if (gone.len == 0)
		goto out;
	/* Only the "delete element" lines of the delta. */
	prefix = false;
	for (s = (const char *)gone.data; (s = strstr(s, "delete element "));
	    s++) {
		const char *e = strchr(s, '\n');
		const char *sl = strchr(s, '/');

		if (sl && (e == NULL || sl < e))
			prefix = true;
	}
	if ((zones = calloc(d->nports + 1, sizeof(*zones))) == NULL)
		goto nomem;
	snprintf(ref, sizeof(ref), "_%s ", name);
	for (i = 0; i < d->ngroups; i++) {
		const struct dgroup *g = &d->groups[i];

		if (!g->used || g->text == NULL || !strstr(g->text, ref))
			continue;
		for (j = 0; j < d->nports; j++) {
			struct dport *dp = &d->ports[j];

			if (dp->old == NULL || !port_in(dp, g))
				continue;
			if (prefix) {
				dp->flush = true;
				continue;
			}
			for (k = 0; k < nzones && zones[k] != dp->zone; k++)
				;
			if (k == nzones)
				zones[nzones++] = dp->zone;
		}
	}
	for (s = (const char *)gone.data; nzones && *s;) {
		const char *e = strchr(s, '\n'), *p;
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n > 15 && memcmp(s, "delete element ", 15) == 0 &&
		    (p = memchr(s, '{', n)) != NULL) {
			const char *end = s + n;

			for (p++; p < end;) {
				char ip[INET6_ADDRSTRLEN + 8];
				size_t l;

				p += strspn(p, " ,");
				l = strcspn(p, " ,}\n");
				if (l == 0 || p + l > end)
					break;
				snprintf(ip, sizeof(ip), "%.*s", (int)l, p);
				p += l;
				for (k = 0; k < nzones; k++)
					conntrack_cut(fw, zones[k], ip);
			}
		}
		s += n + (e != NULL);
	}
out:
	free(zones);
	buf_free(&gone);
	return 0;
nomem:
	free(zones);
	buf_free(&gone);
	err_set(TS_ENOMEM, "firewall: out of memory");
	return -1;
}

int
firewall_apply(struct firewall *fw, const struct msg_host_network *m,
    struct msg_host_network_state *st)
{
	struct desired d = { 0 };
	struct buf tx = { 0 };
	bool full = !fw->applied, *cut = NULL;
	struct fwport *np = NULL;
	struct fwgroup *ng = NULL, *nc = NULL;
	size_t i, j, nchains = 0;
	int rc = -1;

	if (fw->cfg.sysctl)
		set_sysctls(fw);
	if (render_zones(m, &d) == -1 || render_groups(m, &d) == -1 ||
	    render_sets(&d) == -1 || render_ports(fw, m, &d, st) == -1 ||
	    render_chains(&d) == -1)
		goto nomem;
	if ((cut = calloc(d.nsets + 1, sizeof(*cut))) == NULL)
		goto nomem;
	if (full)
		skeleton(fw, &tx);
	/* Sets before the chains whose rules name them, group chains before
	 * the port chains that jump to them; deletions in the reverse order,
	 * after every rule naming what goes is flushed or deleted. */
	for (i = 0; i < d.nsets; i++) {
		const struct fwgroup *o = full ? NULL :
		    applied_find(fw->groups, fw->ngroups, d.sets[i].name);

		if (o == NULL)
			buf_puts(&tx, d.sets[i].text);
		else if (strcmp(o->text, d.sets[i].text)) {
			if (set_delta(o->text, d.sets[i].text, &tx) == -1)
				goto nomem;
			cut[i] = shrank(o->text, d.sets[i].text);
		}
	}
	for (i = 0; i < d.ngroups; i++) {
		const struct dgroup *g = &d.groups[i];
		const struct fwgroup *o;

		if (!g->used)
			continue;
		nchains++;
		o = full ? NULL : applied_find(fw->chains, fw->nchains,
		    g->name);
		if (o && strcmp(o->text, g->text) == 0)
			continue;
		buf_puts(&tx, g->text);
		/* A rule gone: the connections of the group's ports. */
		if (o && shrank(o->text, g->text))
			for (j = 0; j < d.nports; j++)
				if (d.ports[j].old && port_in(&d.ports[j], g))
					d.ports[j].flush = true;
	}
	if (full || fw->global == NULL || strcmp(fw->global, d.global))
		buf_puts(&tx, d.global);
	for (i = 0; i < d.nports; i++) {
		struct dport *dp = &d.ports[i];

		if (!full && dp->old && (dp->reused ||
		    strcmp(dp->old->text, dp->text) == 0))
			continue;
		buf_puts(&tx, dp->text);
		if (!full && dp->old && shrank(dp->old->text, dp->text))
			dp->flush = true;
	}
	for (i = 0; i < fw->nports; i++)
		fw->ports[i].seen = false;
	for (i = 0; !full && i < d.nports; i++)
		if (d.ports[i].old)
			d.ports[i].old->seen = true;
	for (i = 0; !full && i < fw->nports; i++)
		if (!fw->ports[i].seen)
			delete_port(&fw->ports[i], &tx);
	for (i = 0; !full && i < fw->nchains; i++) {
		const struct dgroup *g = NULL;

		for (j = 0; j < d.ngroups && g == NULL; j++)
			if (d.groups[j].used &&
			    strcmp(d.groups[j].name, fw->chains[i].name) == 0)
				g = &d.groups[j];
		if (g == NULL)
			buf_printf(&tx, "delete chain inet " T " gin_%s\n"
			    "delete chain inet " T " geg_%s\n",
			    fw->chains[i].name, fw->chains[i].name);
	}
	for (i = 0; !full && i < fw->ngroups; i++)
		if (set_find(d.sets, d.nsets, fw->groups[i].name) == NULL)
			buf_printf(&tx, "delete set inet " T " rg4_%s\n"
			    "delete set inet " T " rg6_%s\n",
			    fw->groups[i].name, fw->groups[i].name);
	if (tx.failed)
		goto nomem;
	if (tx.len && run_nft(fw, (const char *)tx.data, full) == -1) {
		char msg[MSG_MAX];

		/* Nothing of it applied (one transaction); rebuild whole
		 * next time, in case the tables were changed behind us. */
		fw->applied = false;
		snprintf(msg, sizeof(msg), "firewall: %s", err_msg());
		for (i = 0; i < d.nports; i++)
			if (status_fail(st, d.ports[i].p->network_id, msg) ==
			    -1)
				goto out;
		err_set(TS_EIO, "%s", msg);
		goto out;
	}
	for (i = 0; i < d.nsets; i++) {
		const struct fwgroup *o;

		if (!cut[i] || (o = applied_find(fw->groups, fw->ngroups,
		    d.sets[i].name)) == NULL)
			continue;
		if (cut_members(fw, &d, d.sets[i].name, o->text,
		    d.sets[i].text) == -1)
			goto nomem_applied;
	}
	for (i = 0; i < d.nports; i++)
		if (d.ports[i].flush)
			flush_conntrack(fw, &d.ports[i]);
	/* Commit: what is in the kernel now. */
	if ((np = calloc(d.nports + 1, sizeof(*np))) == NULL ||
	    (ng = calloc(d.nsets + 1, sizeof(*ng))) == NULL ||
	    (nc = calloc(nchains + 1, sizeof(*nc))) == NULL)
		goto nomem_applied;
	for (i = 0; i < d.nports; i++) {
		struct dport *dp = &d.ports[i];

		memcpy(np[i].tap, dp->tap, sizeof(np[i].tap));
		np[i].idx = dp->idx;
		np[i].zone = dp->zone;
		np[i].key = dp->key;
		np[i].text = dp->text;
		np[i].ips = dp->ips;
		if (dp->reused)
			dp->old->text = dp->old->ips = NULL;
		dp->key = dp->text = dp->ips = NULL;
		dp->reused = false;
	}
	for (i = 0; i < d.nsets; i++) {
		ng[i] = d.sets[i];
		d.sets[i].text = NULL;
	}
	for (i = 0, j = 0; i < d.ngroups; i++) {
		if (!d.groups[i].used)
			continue;
		memcpy(nc[j].name, d.groups[i].name, sizeof(nc[j].name));
		nc[j++].text = d.groups[i].text;
		d.groups[i].text = NULL;
	}
	qsort(np, d.nports, sizeof(*np), port_cmp);
	qsort(ng, d.nsets, sizeof(*ng), group_cmp);
	qsort(nc, nchains, sizeof(*nc), group_cmp);
	ports_clear(fw->ports, fw->nports);
	groups_clear(fw->groups, fw->ngroups);
	groups_clear(fw->chains, fw->nchains);
	free(fw->global);
	fw->ports = np;
	fw->nports = d.nports;
	fw->groups = ng;
	fw->ngroups = d.nsets;
	fw->chains = nc;
	fw->nchains = nchains;
	fw->global = d.global;
	d.global = NULL;
	fw->applied = true;
	rc = 0;
	goto out;
nomem_applied:
	free(np);
	free(ng);
	fw->applied = false;
nomem:
	err_set(TS_ENOMEM, "firewall: out of memory");
out:
	cuts_run(fw);
	free(cut);
	buf_free(&tx);
	desired_clear(&d);
	return rc;
}
