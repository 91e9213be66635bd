/*
 * netconv: converge links and dnsmasq instances to host_network (see
 * netconv.h).
 */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "codec.h"
#include "config.h"
#include "err.h"
#include "health.h"
#include "log.h"
#include "netconv.h"
#include "router.h"

#define MAPPING_MAX	1024		/* characters of a mapping option */
#define MAPPED_MAX	64		/* interfaces and bridges mapped */

struct netconv {
	char			*host;
	char			*local_ip;
	char			*ifmap;
	char			*brmap;
	char			*state_dir;
	struct dhcp_config	 dhcp;
	struct link		*link;
	struct firewall		*fw;		/* NULL: not filtering */
	struct router		*router;
	struct msg_host_network	*desired;	/* NULL until the first apply */
};

static char *
dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* Check "a:b,c:d" (names without ':' or ',', both sides non-empty). */
static bool
mapping_valid(const char *m)
{
	const char *p = m;
	size_t len = strlen(m);

	if (len > MAPPING_MAX)
		return false;
	while (*p) {
		const char *c = strchr(p, ','), *end = c ? c : p + strlen(p);
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon == NULL || colon == p || colon + 1 == end ||
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)) ||
		    (size_t)(end - colon - 1) > LINK_NAME_MAX)
			return false;
		p = c ? c + 1 : end;
	}
	return true;
}

/* The value mapped to key, copied into out (LINK_NAME_MAX + 1), or false. */
static bool
mapping_get(const char *m, const char *key, char *out)
{
	const char *p = m;
	size_t kl;

	if (key == NULL || *key == '\0')
		return false;
	kl = strlen(key);
	while (p && *p) {
		const char *c = strchr(p, ','), *end = c ? c : p + strlen(p);

		if ((size_t)(end - p) > kl && strncmp(p, key, kl) == 0 &&
		    p[kl] == ':') {
			snprintf(out, LINK_NAME_MAX + 1, "%.*s",
			    (int)(end - p - (ptrdiff_t)kl - 1), p + kl + 1);
			return true;
		}
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* Append the values of mapping m to v (at most MAPPED_MAX in all). */
static size_t
mapping_values(const char *m, char v[][LINK_NAME_MAX + 1], size_t n)
{
	const char *p = m;

	while (p && *p && n < MAPPED_MAX) {
		const char *c = strchr(p, ','), *end = c ? c : p + strlen(p);
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon && (size_t)(end - colon - 1) <= LINK_NAME_MAX)
			snprintf(v[n++], LINK_NAME_MAX + 1, "%.*s",
			    (int)(end - colon - 1), colon + 1);
		p = c ? c + 1 : NULL;
	}
	return n;
}

struct netconv *
netconv_new(const struct netconv_config *cfg, struct link **linkp)
{
	struct netconv *nc;

	if (cfg->dhcp.state_dir == NULL || cfg->dhcp.state_dir[0] != '/') {
		err_set(TS_EINVALID, "netconv: dhcp state_dir must be an "
		    "absolute path");
		return NULL;
	}
	if (!mapping_valid(cfg->interface_mappings ? cfg->interface_mappings
	    : "") || !mapping_valid(cfg->bridge_mappings ?
	    cfg->bridge_mappings : "")) {
		err_set(TS_EINVALID, "netconv: malformed physnet mapping "
		    "(want physnet:name,...)");
		return NULL;
	}
	if ((nc = calloc(1, sizeof(*nc))) == NULL)
		goto nomem;
	nc->host = cfg->host ? strdup(cfg->host) : NULL;
	nc->local_ip = dup_or_empty(cfg->local_ip);
	nc->ifmap = dup_or_empty(cfg->interface_mappings);
	nc->brmap = dup_or_empty(cfg->bridge_mappings);
	nc->state_dir = strdup(cfg->dhcp.state_dir);
	if ((cfg->host && nc->host == NULL) || nc->local_ip == NULL ||
	    nc->ifmap == NULL || nc->brmap == NULL || nc->state_dir == NULL) {
		netconv_free(&nc);
		goto nomem;
	}
	nc->dhcp = cfg->dhcp;
	nc->dhcp.state_dir = nc->state_dir;
	nc->dhcp.dnsmasq = NULL;
	if (cfg->dhcp.dnsmasq && (nc->dhcp.dnsmasq =
	    strdup(cfg->dhcp.dnsmasq)) == NULL) {
		netconv_free(&nc);
		goto nomem;
	}
	if (cfg->firewall && (nc->fw = firewall_new(&cfg->fw)) == NULL) {
		netconv_free(&nc);
		return NULL;
	}
	if ((nc->router = router_new(cfg->router_tag, cfg->local_ip,
	    cfg->host)) == NULL) {
		netconv_free(&nc);
		return NULL;
	}
	nc->link = *linkp;
	*linkp = NULL;
	return nc;
nomem:
	err_set(TS_ENOMEM, "netconv: out of memory");
	return NULL;
}

/* A host name usable as a router namespace tag (router.h). */
static bool
tag_ok(const char *t)
{
	size_t n = 0;

	for (; *t; t++, n++)
		if (!isalnum((unsigned char)*t) && *t != '_' && *t != '.' &&
		    *t != '-')
			return false;
	return n > 0 && n <= ROUTER_TAG_MAX;
}

struct netconv *
netconv_new_from_config(const struct config *cfg, const char *host,
    struct link **linkp)
{
	struct netconv_config c = { .host = host };
	char hashtag[16];
	char dir[PATH_MAX];
	const char *d = config_get_str(cfg, "network", "dhcp_state_dir");

	if (d[0] == '\0') {
		if (snprintf(dir, sizeof(dir), "%s/dhcp", config_get_str(cfg,
		    "DEFAULT", "state_path")) >= (int)sizeof(dir)) {
			err_set(TS_ECONFIG, "netconv: state_path too long");
			return NULL;
		}
		d = dir;
	}
	c.local_ip = config_get_str(cfg, "network", "local_ip");
	c.interface_mappings = config_get_str(cfg, "network",
	    "physical_interface_mappings");
	c.bridge_mappings = config_get_str(cfg, "network",
	    "physical_bridge_mappings");
	c.dhcp.state_dir = d;
	c.dhcp.lease_time = (uint32_t)config_get_int(cfg, "network",
	    "dhcp_lease_time");
	c.dhcp.metadata_route = config_get_bool(cfg, "metadata", "enabled");
	c.firewall = true;
	c.fw.sysctl = true;
	c.fw.metadata_port = (uint16_t)config_get_int(cfg, "metadata", "port");
	/* Router namespaces carry the host's name (or a hash of it when it
	 * is no valid tag): agents of fake hosts share one /run/netns, and
	 * telling them apart by comparing network namespaces fails where
	 * /proc/1 is not ours to read (containers), so they would take over
	 * and prune each other's namespaces. */
	if (host != NULL && tag_ok(host))
		c.router_tag = host;
	else if (host != NULL) {
		snprintf(hashtag, sizeof(hashtag), "h%08x",
		    hash_fnv32(host));
		c.router_tag = hashtag;
	}
	return netconv_new(&c, linkp);
}

int64_t
netconv_announce(struct netconv *nc)
{
	return router_announce(nc->router);
}

void
netconv_free(struct netconv **ncp)
{
	struct netconv *nc;

	if (ncp == NULL || (nc = *ncp) == NULL)
		return;
	free(nc->host);
	free(nc->local_ip);
	free(nc->ifmap);
	free(nc->brmap);
	free(nc->state_dir);
	free((char *)nc->dhcp.dnsmasq);
	link_free(&nc->link);
	firewall_free(&nc->fw);
	router_free(&nc->router);
	codec_free(&schema_msg_host_network, (void **)&nc->desired);
	free(nc);
	*ncp = NULL;
}

const struct msg_host_network *
netconv_desired(const struct netconv *nc)
{
	return nc->desired;
}

uint64_t
netconv_generation(const struct netconv *nc)
{
	return nc->desired ? nc->desired->generation : 0;
}

/* Deep copy through the codec: also re-checks every schema maximum, so a
 * hand-filled desired state is held to the same rules as a decoded one. */
static struct msg_host_network *
copy_desired(const struct msg_host_network *d)
{
	struct buf b = { 0 };
	struct msg_host_network *c;

	if ((c = codec_new(&schema_msg_host_network)) == NULL)
		return NULL;
	if (codec_encode(&schema_msg_host_network, d, &b) == -1 ||
	    codec_decode(&schema_msg_host_network, b.data, b.len, c) == -1) {
		buf_free(&b);
		codec_free(&schema_msg_host_network, (void **)&c);
		return NULL;
	}
	buf_free(&b);
	return c;
}

/* msg is at most 1023 characters (the schema allows 1024). */
static int
set_status(struct sch_net_status *st, const char *id, const char *bridge,
    bool ok, bool dhcp, const char *msg)
{
	snprintf(st->id, sizeof(st->id), "%s", id);
	st->ok = ok;
	st->dhcp = dhcp;
	if ((st->bridge = strdup(bridge ? bridge : "")) == NULL ||
	    (msg && (st->message = strdup(msg)) == NULL)) {
		err_set(TS_ENOMEM, "netconv: out of memory");
		return -1;
	}
	return 0;
}

/* The network's subnets and ports gathered from the message's top-level
 * lists: shallow copies, borrowing every pointer from the message. */
struct members {
	struct sch_net_subnet	*subnets;
	size_t			 nsubnets;
	struct sch_net_port	*ports;
	size_t			 nports;
};

static int
members_get(const struct msg_host_network *d, const char *id,
    struct members *m)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	if ((m->subnets = calloc(d->subnets.n ? d->subnets.n : 1,
	    sizeof(*m->subnets))) == NULL ||
	    (m->ports = calloc(d->ports.n ? d->ports.n : 1,
	    sizeof(*m->ports))) == NULL) {
		free(m->subnets);
		err_set(TS_ENOMEM, "netconv: out of memory");
		return -1;
	}
	for (i = 0; i < d->subnets.n; i++)
		if (strcmp(d->subnets.items[i].network_id, id) == 0)
			m->subnets[m->nsubnets++] = d->subnets.items[i];
	for (i = 0; i < d->ports.n; i++)
		if (strcmp(d->ports.items[i].network_id, id) == 0)
			m->ports[m->nports++] = d->ports.items[i];
	return 0;
}

/* Converge one network; the outcome goes into st. */
static int
one(struct netconv *nc, const struct sch_net_network *net,
    const struct members *mb, struct sch_net_status *st)
{
	struct link_net ln = { 0 };
	struct dhcp_net dn = { 0 };
	char bridge[LINK_NAME_MAX + 1] = "", phys[LINK_NAME_MAX + 1] = "";
	char physbr[LINK_NAME_MAX + 1] = "";
	const char **addrs = NULL, **taps = NULL;
	char (*abuf)[LINK_ADDR_MAX] = NULL;
	char (*tbuf)[LINK_NAME_MAX + 1] = NULL;
	char msg[1024] = "";
	bool running = false;
	size_t i;
	int r;

	link_names(net->id, bridge, NULL);
	ln.id = net->id;
	ln.mtu = net->mtu;
	ln.segid = net->has_segmentation_id ? net->segmentation_id : 0;
	if (strcmp(net->type, "flat") == 0)
		ln.type = LINK_NET_FLAT;
	else if (strcmp(net->type, "vlan") == 0)
		ln.type = LINK_NET_VLAN;
	else if (strcmp(net->type, "vxlan") == 0)
		ln.type = LINK_NET_VXLAN;
	else {
		snprintf(msg, sizeof(msg), "unsupported network type '%s'",
		    net->type);
		goto report;
	}
	if (ln.type != LINK_NET_VXLAN) {
		mapping_get(nc->ifmap, net->physical_network, phys);
		if (ln.type == LINK_NET_FLAT)
			mapping_get(nc->brmap, net->physical_network, physbr);
		ln.phys_if = phys;
		ln.phys_bridge = physbr;
	}
	ln.local_ip = nc->local_ip;
	ln.peers = (const char *const *)net->vxlan_peers.items;
	ln.npeers = net->vxlan_peers.n;

	/* The DHCP server addresses of the subnets dnsmasq serves, and the
	 * metadata address where the metadata service listens (the route
	 * dnsmasq hands out leads there). */
	if ((mb->nsubnets || nc->dhcp.metadata_route) &&
	    ((addrs = calloc(mb->nsubnets + 1, sizeof(*addrs))) == NULL ||
	    (abuf = calloc(mb->nsubnets + 1, sizeof(*abuf))) == NULL)) {
		free(addrs);
		err_set(TS_ENOMEM, "netconv: out of memory");
		return -1;
	}
	for (i = 0; i < mb->nsubnets; i++) {
		const struct sch_net_subnet *s = &mb->subnets[i];
		const char *slash = strchr(s->cidr, '/');

		if (!s->enable_dhcp || s->dhcp_address == NULL ||
		    mb->nports == 0 || slash == NULL)
			continue;
		snprintf(abuf[ln.naddrs], LINK_ADDR_MAX, "%.45s%.4s",
		    s->dhcp_address, slash);
		addrs[ln.naddrs] = abuf[ln.naddrs];
		ln.naddrs++;
	}
	if (nc->dhcp.metadata_route && mb->nports)
		addrs[ln.naddrs++] = NETCONV_METADATA_ADDR;
	ln.addrs = addrs;
	/* The taps of this host's ports: put back on a recreated bridge. */
	if (mb->nports &&
	    ((taps = calloc(mb->nports, sizeof(*taps))) == NULL ||
	    (tbuf = calloc(mb->nports, sizeof(*tbuf))) == NULL)) {
		free(taps);
		free(addrs);
		free(abuf);
		err_set(TS_ENOMEM, "netconv: out of memory");
		return -1;
	}
	for (i = 0; i < mb->nports; i++)
		if (ifname_of(IFNAME_TAP_PREFIX, mb->ports[i].id,
		    tbuf[ln.ntaps]) == 0) {
			taps[ln.ntaps] = tbuf[ln.ntaps];
			ln.ntaps++;
		}
	ln.taps = taps;
	r = link_net_ensure(nc->link, &ln, bridge);
	free(addrs);
	free(abuf);
	free(taps);
	free(tbuf);
	if (r == -1) {
		snprintf(msg, sizeof(msg), "%s", err_msg());
		/* Without its bridge dnsmasq cannot bind: keep the one that
		 * runs (it serves again once the bridge is back), start none. */
		running = dhcp_pid(&nc->dhcp, net->id) != 0;
		goto report;
	}
	dn.net_id = net->id;
	dn.bridge = bridge;
	dn.mtu = net->mtu;
	dn.subnets = mb->subnets;
	dn.nsubnets = mb->nsubnets;
	dn.ports = mb->ports;
	dn.nports = mb->nports;
	if (dhcp_ensure(&nc->dhcp, &dn, &running) == -1)
		snprintf(msg, sizeof(msg), "%s", err_msg());
	/* Such a subnet cannot be served: say so rather than stay silent. */
	for (i = 0; msg[0] == '\0' && mb->nports && i < mb->nsubnets; i++)
		if (mb->subnets[i].enable_dhcp &&
		    mb->subnets[i].dhcp_address == NULL)
			snprintf(msg, sizeof(msg), "subnet %s: DHCP enabled "
			    "but no dhcp_address", mb->subnets[i].id);
report:
	if (msg[0])
		log_warnx("netconv: network %s: %s", net->id, msg);
	return set_status(st, net->id, bridge, msg[0] == '\0', running,
	    msg[0] ? msg : NULL);
}

/* router.h's view of network id: its bridge and uplink as one() made
 * them. */
static int
router_net(void *arg, const char *id, struct router_net *out)
{
	const struct netconv *nc = arg;
	const struct sch_net_network *net = NULL;
	char phys[LINK_NAME_MAX + 1] = "", physbr[LINK_NAME_MAX + 1] = "";
	size_t i;

	for (i = 0; i < nc->desired->networks.n && net == NULL; i++)
		if (strcmp(nc->desired->networks.items[i].id, id) == 0)
			net = &nc->desired->networks.items[i];
	if (net == NULL || link_names(id, out->bridge, out->uplink) == -1)
		return -1;
	out->mtu = net->mtu;
	if (strcmp(net->type, "vxlan") == 0)
		return 0;
	mapping_get(nc->ifmap, net->physical_network, phys);
	out->uplink[0] = '\0';
	if (strcmp(net->type, "flat") == 0 &&
	    mapping_get(nc->brmap, net->physical_network, physbr)) {
		/* The operator's bridge: its ports are not ours to filter. */
		snprintf(out->bridge, sizeof(out->bridge), "%s", physbr);
		return 0;
	}
	if (strcmp(net->type, "flat") == 0)
		snprintf(out->uplink, sizeof(out->uplink), "%s", phys);
	else if (strcmp(net->type, "vlan") == 0 && phys[0])
		snprintf(out->uplink, sizeof(out->uplink), "%.10s.%u", phys,
		    net->segmentation_id);
	return 0;
}

static int
converge(struct netconv *nc, struct msg_host_network_state *state)
{
	const struct msg_host_network *d = nc->desired;
	char (*keep)[LINK_NAME_MAX + 1] = NULL;
	const char **kp = NULL;
	char (*ids)[CODEC_UUID_LEN + 1] = NULL;
	struct members mb;
	char mapped[MAPPED_MAX][LINK_NAME_MAX + 1];
	size_t nids = 0, i, j, nmapped;
	int rc = -1, r;

	memset(state, 0, sizeof(*state));
	if (d == NULL)
		return 0;
	state->generation = d->generation;
	nmapped = mapping_values(nc->ifmap, mapped, 0);
	nmapped = mapping_values(nc->brmap, mapped, nmapped);
	if ((d->networks.n &&
	    ((state->networks.items = calloc(d->networks.n,
	    sizeof(*state->networks.items))) == NULL ||
	    (keep = calloc(2 * d->networks.n, sizeof(*keep))) == NULL)) ||
	    (kp = calloc(2 * d->networks.n + MAPPED_MAX, sizeof(*kp))) ==
	    NULL) {
		err_set(TS_ENOMEM, "netconv: out of memory");
		goto out;
	}
	/* A failed listing falls back to one listing per network. */
	if (link_batch_begin(nc->link) == -1)
		log_warnx("netconv: %s", err_msg());
	for (i = 0; i < d->networks.n; i++) {
		const struct sch_net_network *net = &d->networks.items[i];
		struct sch_net_status *st = &state->networks.items[i];

		state->networks.n++;
		/* Two entries for one network would fight each other. */
		for (j = 0; j < i; j++)
			if (strcmp(d->networks.items[j].id, net->id) == 0)
				break;
		if (j < i) {
			if (set_status(st, net->id, "", false, false,
			    "network listed twice") == -1)
				goto out;
			continue;
		}
		link_names(net->id, keep[2 * i], keep[2 * i + 1]);
		kp[2 * i] = keep[2 * i];
		kp[2 * i + 1] = keep[2 * i + 1];
		if (members_get(d, net->id, &mb) == -1)
			goto out;
		r = one(nc, net, &mb, st);
		free(mb.subnets);
		free(mb.ports);
		if (r == -1)
			goto out;
	}
	link_batch_end(nc->link);
	/* Failures are in the networks' status; retried on the next tick. */
	if (nc->fw && firewall_apply(nc->fw, d, state) == -1)
		log_warnx("netconv: %s", err_msg());
	/* Leftovers: owned links and dnsmasq directories of networks that
	 * are no longer wanted here. Failures are logged and retried on the
	 * next tick; they do not make a wanted network fail. */
	for (i = j = 0; i < 2 * d->networks.n; i++)
		if (kp[i])
			kp[j++] = kp[i];
	/* The operator's interfaces are never ours to delete. */
	for (i = 0; i < nmapped; i++)
		kp[j++] = mapped[i];
	if (link_prune(nc->link, kp, j) == -1)
		log_warnx("netconv: %s", err_msg());
	if (dhcp_list(&nc->dhcp, &ids, &nids) == -1)
		log_warnx("netconv: %s", err_msg());
	for (i = 0; i < nids; i++) {
		for (j = 0; j < d->networks.n; j++)
			if (strcmp(d->networks.items[j].id, ids[i]) == 0)
				break;
		if (j == d->networks.n && dhcp_stop(&nc->dhcp, ids[i]) == -1)
			log_warnx("netconv: %s", err_msg());
	}
	/* Routers after their networks' bridges; failures are logged by
	 * router.c and retried on the next tick. */
	(void)router_converge(nc->router, d, router_net, nc);
	rc = 0;
out:
	link_batch_end(nc->link);
	free(ids);
	free(keep);
	free(kp);
	if (rc == -1)
		codec_clear(&schema_msg_host_network_state, state);
	return rc;
}

int
netconv_apply(struct netconv *nc, const struct msg_host_network *desired,
    struct msg_host_network_state *state)
{
	struct msg_host_network *copy;

	memset(state, 0, sizeof(*state));
	if (nc->host && (desired->host == NULL ||
	    strcmp(desired->host, nc->host) != 0)) {
		err_set(TS_EINVALID, "netconv: host_network for host '%.64s' "
		    "received by '%s'", desired->host ? desired->host : "",
		    nc->host);
		return -1;
	}
	if (nc->desired && desired->generation < nc->desired->generation) {
		log_info("netconv: ignoring host_network generation %llu, "
		    "older than %llu", (unsigned long long)desired->generation,
		    (unsigned long long)nc->desired->generation);
		return converge(nc, state);
	}
	if ((copy = copy_desired(desired)) == NULL)
		return -1;
	codec_free(&schema_msg_host_network, (void **)&nc->desired);
	nc->desired = copy;
	return converge(nc, state);
}

int
netconv_tick(struct netconv *nc, struct msg_host_network_state *state)
{
	return converge(nc, state);
}

void
netconv_dhcp_check(const struct netconv *nc)
{
	char (*ids)[CODEC_UUID_LEN + 1] = NULL;
	char detail[64];
	size_t n = 0, dead = 0;
	pid_t pid;

	if (dhcp_list(&nc->dhcp, &ids, &n) == -1) {
		health_error("dnsmasq", "%s", err_msg());
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if ((pid = dhcp_dead(&nc->dhcp, ids[i])) == 0)
			continue;
		if (dead++ == 0)
			health_down("dnsmasq", "network %s: dnsmasq %d is not "
			    "running", ids[i], (int)pid);
	}
	free(ids);
	snprintf(detail, sizeof(detail), "%zu network(s)", n);
	if (dead == 0)
		health_up("dnsmasq", detail);
}
