/*
 * link: converging a network's links (see link.h), and the netlink backend
 * (libnl-route-3). The converging half only talks to struct link_ops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>

#include "codec.h"
#include "err.h"
#include "ifname.h"
#include "link.h"
#include "log.h"
#include "uuid.h"

struct link {
	const struct link_ops	*ops;
	void			*ctx;
	/* Between link_batch_begin() and _end(): the links as listed once,
	 * used by every link_net_ensure() of the batch. */
	struct link_state	*snap;
	size_t			 nsnap;
	bool			 batch;
};

int
link_batch_begin(struct link *l)
{
	link_batch_end(l);
	if (l->ops->list(l->ctx, &l->snap, &l->nsnap) == -1)
		return -1;
	l->batch = true;
	return 0;
}

void
link_batch_end(struct link *l)
{
	free(l->snap);
	l->snap = NULL;
	l->nsnap = 0;
	l->batch = false;
}

/* The current links: the batch's snapshot (a copy, so the caller frees
 * either way) or a fresh listing. */
static int
links_get(struct link *l, struct link_state **out, size_t *n)
{
	if (!l->batch)
		return l->ops->list(l->ctx, out, n);
	if ((*out = calloc(l->nsnap ? l->nsnap : 1, sizeof(**out))) == NULL) {
		err_set(TS_ENOMEM, "link: out of memory");
		return -1;
	}
	memcpy(*out, l->snap, l->nsnap * sizeof(**out));
	*n = l->nsnap;
	return 0;
}

struct link *
link_new(const struct link_ops *ops, void *ctx)
{
	struct link *l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		err_set(TS_ENOMEM, "link: out of memory");
		if (ops && ops->free)
			ops->free(ctx);
		return NULL;
	}
	l->ops = ops;
	l->ctx = ctx;
	return l;
}

void
link_free(struct link **lp)
{
	if (lp == NULL || *lp == NULL)
		return;
	link_batch_end(*lp);
	if ((*lp)->ops->free)
		(*lp)->ops->free((*lp)->ctx);
	free(*lp);
	*lp = NULL;
}

int
link_names(const char *id, char *bridge, char *vxlan)
{
	char br[IFNAME_MAX + 1], vx[IFNAME_MAX + 1];

	/* The one naming rule, shared with agent/virt (common/ifname.h). */
	if (ifname_of(LINK_BRIDGE_PREFIX, id, br) == -1 ||
	    ifname_of(LINK_VXLAN_PREFIX, id, vx) == -1) {
		err_set(TS_EINVALID, "link: network id is not a UUID");
		return -1;
	}
	if (bridge)
		snprintf(bridge, LINK_NAME_MAX + 1, "%s", br);
	if (vxlan)
		snprintf(vxlan, LINK_NAME_MAX + 1, "%s", vx);
	return 0;
}

int
link_addr_norm(const char *in, int want_prefix, char *out,
    unsigned *prefixlen)
{
	char buf[LINK_ADDR_MAX], txt[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	char *slash, *end;
	unsigned long plen = 0;
	int af;

	if (in == NULL || strlen(in) >= sizeof(buf))
		goto bad;
	strcpy(buf, in);
	slash = strchr(buf, '/');
	if ((slash != NULL) != (want_prefix == 1))
		goto bad;
	if (slash) {
		*slash++ = '\0';
		if (*slash < '0' || *slash > '9' || strlen(slash) > 3)
			goto bad;
		errno = 0;
		plen = strtoul(slash, &end, 10);
		if (*end != '\0' || errno)
			goto bad;
	}
	if (inet_pton(AF_INET, buf, bin) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, buf, bin) == 1)
		af = AF_INET6;
	else
		goto bad;
	if (plen > (af == AF_INET ? 32u : 128u))
		goto bad;
	if (inet_ntop(af, bin, txt, sizeof(txt)) == NULL)
		goto bad;
	if (slash)
		snprintf(out, LINK_ADDR_MAX, "%s/%lu", txt, plen);
	else
		snprintf(out, LINK_ADDR_MAX, "%s", txt);
	if (prefixlen)
		*prefixlen = (unsigned)plen;
	return af;
bad:
	err_set(TS_EINVALID, "link: bad address '%.64s'", in ? in : "");
	return -1;
}

/* ---- converging --------------------------------------------------------- */

static const struct link_state *
find(const struct link_state *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static bool
owned_name(const char *name)
{
	return ifname_owned(LINK_BRIDGE_PREFIX, name) ||
	    ifname_owned(LINK_VXLAN_PREFIX, name);
}

/* Keep the first failure for the caller; later ones are only logged. */
static void
note_fail(int *rc, struct ts_err *first)
{
	if (*rc == 0)
		*first = *err_last();
	else
		log_warnx("link: %s", err_msg());
	*rc = -1;
}

/* Create or recreate dev so that its immutable parameters equal want, then
 * enslave it to bridge, set its MTU and bring it up. */
static int
ensure_slave(struct link *l, const struct link_state *cur,
    const struct link_state *want, const char *bridge)
{
	bool same = false;

	if (cur) {
		same = strcmp(cur->kind, want->kind) == 0;
		if (same && strcmp(want->kind, "vxlan") == 0)
			same = cur->vni == want->vni && cur->port == want->port &&
			    cur->learning == want->learning &&
			    strcmp(cur->local, want->local) == 0;
		if (same && strcmp(want->kind, "vlan") == 0)
			same = cur->vid == want->vid &&
			    strcmp(cur->parent, want->parent) == 0;
		if (!same) {
			log_info("link: %s differs from the wanted %s, "
			    "recreating it", cur->name, want->kind);
			if (l->ops->del(l->ctx, cur->name) == -1)
				return -1;
		}
	}
	if (!same) {
		/* Created with its MTU; enslave and bring up. */
		if (l->ops->add(l->ctx, want) == -1)
			return -1;
		return l->ops->set(l->ctx, want->name, bridge, 0, 1);
	}
	if (strcmp(cur->master, bridge) == 0 && cur->up &&
	    (want->mtu == 0 || cur->mtu == want->mtu))
		return 0;
	return l->ops->set(l->ctx, want->name,
	    strcmp(cur->master, bridge) ? bridge : NULL,
	    cur->mtu == want->mtu ? 0 : want->mtu, 1);
}

static int
ensure_fdb(struct link *l, const char *dev, const struct link_net *want)
{
	char (*have)[LINK_ADDR_MAX] = NULL;
	char norm[LINK_ADDR_MAX];
	size_t n = 0, i, j;
	int rc = 0;
	struct ts_err first = { 0 };

	if (l->ops->fdb_list(l->ctx, dev, &have, &n) == -1)
		return -1;
	for (i = 0; i < want->npeers; i++) {
		if (link_addr_norm(want->peers[i], 0, norm, NULL) == -1) {
			note_fail(&rc, &first);
			continue;
		}
		for (j = 0; j < n; j++)
			if (strcmp(have[j], norm) == 0)
				break;
		if (j == n && l->ops->fdb_append(l->ctx, dev, norm) == -1)
			note_fail(&rc, &first);
	}
	for (j = 0; j < n; j++) {
		for (i = 0; i < want->npeers; i++)
			if (link_addr_norm(want->peers[i], 0, norm, NULL) != -1 &&
			    strcmp(have[j], norm) == 0)
				break;
		if (i == want->npeers &&
		    l->ops->fdb_del(l->ctx, dev, have[j]) == -1)
			note_fail(&rc, &first);
	}
	free(have);
	if (rc)
		err_restore(&first);
	return rc;
}

static int
ensure_addrs(struct link *l, const char *bridge, const struct link_net *want,
    bool owned)
{
	char (*have)[LINK_ADDR_MAX] = NULL;
	char (*norm)[LINK_ADDR_MAX] = NULL;
	size_t n = 0, i, j, nn = 0;
	int rc = 0;
	struct ts_err first = { 0 };

	if (want->naddrs > LINK_MAX_ADDRS) {
		err_set(TS_EINVALID, "link: more than %d addresses",
		    LINK_MAX_ADDRS);
		return -1;
	}
	if (want->naddrs &&
	    (norm = calloc(want->naddrs, sizeof(*norm))) == NULL) {
		err_set(TS_ENOMEM, "link: out of memory");
		return -1;
	}
	for (i = 0; i < want->naddrs; i++)
		if (link_addr_norm(want->addrs[i], 1, norm[nn], NULL) != -1)
			nn++;
		else
			note_fail(&rc, &first);
	if (l->ops->addr_list(l->ctx, bridge, &have, &n) == -1) {
		free(norm);
		return -1;
	}
	for (i = 0; i < nn; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(have[j], norm[i]) == 0)
				break;
		if (j == n && l->ops->addr_add(l->ctx, bridge, norm[i]) == -1)
			note_fail(&rc, &first);
	}
	/* On a mapped bridge other addresses are the operator's. */
	for (j = 0; owned && j < n; j++) {
		for (i = 0; i < nn; i++)
			if (strcmp(have[j], norm[i]) == 0)
				break;
		if (i == nn && l->ops->addr_del(l->ctx, bridge, have[j]) == -1)
			note_fail(&rc, &first);
	}
	free(have);
	free(norm);
	if (rc)
		err_restore(&first);
	return rc;
}

int
link_net_ensure(struct link *l, const struct link_net *want, char *bridge_out)
{
	struct link_state *cur = NULL, w;
	const struct link_state *c;
	char br[LINK_NAME_MAX + 1], vx[LINK_NAME_MAX + 1];
	char vlan[LINK_NAME_MAX + 1] = "";
	size_t n = 0, i;
	bool owned = true;
	int rc = 0;
	struct ts_err first = { 0 };

	if (link_names(want->id, br, vx) == -1)
		return -1;
	if (want->type == LINK_NET_FLAT && want->phys_bridge &&
	    want->phys_bridge[0]) {
		if (strlen(want->phys_bridge) > LINK_NAME_MAX) {
			err_set(TS_EINVALID, "link: bridge name too long");
			return -1;
		}
		snprintf(br, sizeof(br), "%s", want->phys_bridge);
		owned = false;
	}
	if (bridge_out)
		snprintf(bridge_out, LINK_NAME_MAX + 1, "%s", br);
	if ((want->type == LINK_NET_FLAT && owned) ||
	    want->type == LINK_NET_VLAN) {
		if (want->phys_if == NULL || want->phys_if[0] == '\0' ||
		    strlen(want->phys_if) > LINK_NAME_MAX) {
			err_set(TS_ECONFIG, "link: network %s: no physical "
			    "interface mapped for its physical network",
			    want->id);
			return -1;
		}
	}
	if (want->type == LINK_NET_VLAN) {
		if (want->segid < 1 || want->segid > 4094) {
			err_set(TS_EINVALID, "link: VLAN id %u out of range",
			    want->segid);
			return -1;
		}
		if (snprintf(vlan, sizeof(vlan), "%s.%u", want->phys_if,
		    want->segid) >= (int)sizeof(vlan)) {
			err_set(TS_EINVALID, "link: VLAN device name %s.%u "
			    "longer than %d", want->phys_if, want->segid,
			    LINK_NAME_MAX);
			return -1;
		}
	}
	if (want->type == LINK_NET_VXLAN) {
		char local[LINK_ADDR_MAX];

		if (want->segid < 1 || want->segid > 0xffffff) {
			err_set(TS_EINVALID, "link: VNI %u out of range",
			    want->segid);
			return -1;
		}
		if (want->local_ip == NULL || want->local_ip[0] == '\0') {
			err_set(TS_ECONFIG, "link: network %s is VXLAN but "
			    "[network] local_ip is not set", want->id);
			return -1;
		}
		if (link_addr_norm(want->local_ip, 0, local, NULL) == -1)
			return -1;
		if (want->npeers > LINK_MAX_PEERS) {
			err_set(TS_EINVALID, "link: too many VXLAN peers");
			return -1;
		}
	}

	if (links_get(l, &cur, &n) == -1)
		return -1;

	/* The bridge. */
	c = find(cur, n, br);
	if (!owned && (c == NULL || strcmp(c->kind, "bridge") != 0)) {
		err_set(TS_ECONFIG, "link: mapped bridge %s does not exist",
		    br);
		free(cur);
		return -1;
	}
	if (owned && c && strcmp(c->kind, "bridge") != 0) {
		if (l->ops->del(l->ctx, br) == -1)
			goto fail;
		c = NULL;
	}
	if (owned && c == NULL) {
		memset(&w, 0, sizeof(w));
		snprintf(w.name, sizeof(w.name), "%s", br);
		snprintf(w.kind, sizeof(w.kind), "bridge");
		w.mtu = want->mtu;
		if (l->ops->add(l->ctx, &w) == -1)
			goto fail;
	}

	/* Its uplink: at most one of these per network; a device of the
	 * network's other types (the type changed) goes. */
	c = find(cur, n, vx);
	if (c && want->type != LINK_NET_VXLAN &&
	    l->ops->del(l->ctx, vx) == -1)
		note_fail(&rc, &first);
	for (i = 0; i < n; i++)
		if (strcmp(cur[i].kind, "vlan") == 0 &&
		    strcmp(cur[i].master, br) == 0 &&
		    strcmp(cur[i].name, vlan) != 0 &&
		    (want->phys_if == NULL ||
		    strcmp(cur[i].name, want->phys_if) != 0) &&
		    l->ops->del(l->ctx, cur[i].name) == -1)
			note_fail(&rc, &first);

	memset(&w, 0, sizeof(w));
	w.mtu = want->mtu;
	switch (want->type) {
	case LINK_NET_VXLAN:
		snprintf(w.name, sizeof(w.name), "%s", vx);
		snprintf(w.kind, sizeof(w.kind), "vxlan");
		w.vni = want->segid;
		link_addr_norm(want->local_ip, 0, w.local, NULL);
		w.port = LINK_VXLAN_PORT;
		w.learning = false;
		if (ensure_slave(l, find(cur, n, vx), &w, br) == -1)
			note_fail(&rc, &first);
		else if (ensure_fdb(l, vx, want) == -1)
			note_fail(&rc, &first);
		break;
	case LINK_NET_VLAN:
		snprintf(w.name, sizeof(w.name), "%s", vlan);
		snprintf(w.kind, sizeof(w.kind), "vlan");
		w.vid = (uint16_t)want->segid;
		snprintf(w.parent, sizeof(w.parent), "%s", want->phys_if);
		if (find(cur, n, want->phys_if) == NULL) {
			err_set(TS_ECONFIG, "link: physical interface %s "
			    "does not exist", want->phys_if);
			note_fail(&rc, &first);
		} else if (ensure_slave(l, find(cur, n, vlan), &w, br) == -1)
			note_fail(&rc, &first);
		break;
	case LINK_NET_FLAT:
		if (!owned)
			break;
		c = find(cur, n, want->phys_if);
		if (c == NULL) {
			err_set(TS_ECONFIG, "link: physical interface %s "
			    "does not exist", want->phys_if);
			note_fail(&rc, &first);
		} else if ((strcmp(c->master, br) != 0 || !c->up) &&
		    l->ops->set(l->ctx, c->name, br, 0, 1) == -1)
			note_fail(&rc, &first);
		break;
	}

	/* Up last, once its uplink is in. A bridge created with an MTU
	 * keeps it (the kernel then no longer follows its ports). */
	c = find(cur, n, br);
	if (owned && (c == NULL || !c->up ||
	    (want->mtu && c->mtu != want->mtu)) &&
	    l->ops->set(l->ctx, br, NULL,
	    c == NULL || c->mtu == want->mtu ? 0 : want->mtu, 1) == -1)
		note_fail(&rc, &first);
	if (ensure_addrs(l, br, want, owned) == -1)
		note_fail(&rc, &first);
	/* A tap is one guest's, and may vanish under this pass (the guest
	 * deleted or rebooting): a failure is logged and retried by the
	 * next pass, never the network's failure (its bridge and DHCP are
	 * fine). */
	for (i = 0; i < want->ntaps; i++) {
		c = find(cur, n, want->taps[i]);
		if (c && strcmp(c->master, br) != 0 &&
		    l->ops->set(l->ctx, c->name, br, 0, -1) == -1)
			log_warnx("link: tap %s back on %s: %s", c->name, br,
			    err_msg());
	}
	free(cur);
	if (rc)
		err_restore(&first);
	return rc;
fail:
	free(cur);
	return -1;
}

int
link_prune(struct link *l, const char *const *keep, size_t nkeep)
{
	struct link_state *cur = NULL;
	size_t n = 0, i, j, k;
	int rc = 0;
	struct ts_err first = { 0 };

	if (l->ops->list(l->ctx, &cur, &n) == -1)
		return -1;
	/* VXLAN devices first, then VLAN devices of doomed bridges, then the
	 * bridges: a bridge is never deleted under a device we still own. */
	for (k = 0; k < 3; k++) {
		for (i = 0; i < n; i++) {
			const struct link_state *c = &cur[i];
			const char *bname = k == 1 ? c->master : c->name;

			if (k == 0 && strncmp(c->name, LINK_VXLAN_PREFIX, 3))
				continue;
			if (k == 1 && (strcmp(c->kind, "vlan") ||
			    strncmp(c->master, LINK_BRIDGE_PREFIX, 3)))
				continue;
			if (k == 2 && strncmp(c->name, LINK_BRIDGE_PREFIX, 3))
				continue;
			if (!owned_name(bname))
				continue;
			for (j = 0; j < nkeep; j++)
				if (strcmp(keep[j], bname) == 0 ||
				    strcmp(keep[j], c->name) == 0)
					break;
			if (j < nkeep)
				continue;
			log_info("link: deleting leftover %s", c->name);
			if (l->ops->del(l->ctx, c->name) == -1)
				note_fail(&rc, &first);
		}
	}
	free(cur);
	if (rc)
		err_restore(&first);
	return rc;
}

/* ---- netlink backend ---------------------------------------------------- */

struct knl {
	struct nl_sock	*sk;
};

static int
nlfail(int e, const char *what, const char *name)
{
	err_set(e == -NLE_NOMEM ? TS_ENOMEM : e == -NLE_OBJ_NOTFOUND ||
	    e == -NLE_NODEV ? TS_ENOT_FOUND : e == -NLE_EXIST ?
	    TS_ECONFLICT : TS_EIO, "link: %s %s: %s", what, name,
	    nl_geterror(e));
	return -1;
}

static int
addr_text(struct nl_addr *a, char *out, size_t len, bool with_prefix)
{
	char txt[INET6_ADDRSTRLEN];
	int af;

	if (a == NULL)
		return -1;
	af = nl_addr_get_family(a);
	if ((af != AF_INET && af != AF_INET6) ||
	    inet_ntop(af, nl_addr_get_binary_addr(a), txt, sizeof(txt)) ==
	    NULL)
		return -1;
	if (with_prefix)
		snprintf(out, len, "%s/%u", txt, nl_addr_get_prefixlen(a));
	else
		snprintf(out, len, "%s", txt);
	return 0;
}

static int
k_list(void *ctx, struct link_state **out, size_t *np)
{
	struct knl *nl = ctx;
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	struct link_state *v;
	size_t n = 0, cap;
	int e;

	*out = NULL;
	*np = 0;
	if ((e = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache)) < 0)
		return nlfail(e, "list", "links");
	cap = (size_t)nl_cache_nitems(cache);
	if ((v = calloc(cap ? cap : 1, sizeof(*v))) == NULL) {
		nl_cache_free(cache);
		err_set(TS_ENOMEM, "link: out of memory");
		return -1;
	}
	for (o = nl_cache_get_first(cache); o && n < cap;
	    o = nl_cache_get_next(o)) {
		struct rtnl_link *k = (struct rtnl_link *)o;
		struct link_state *s = &v[n++];
		const char *type = rtnl_link_get_type(k);
		int m = rtnl_link_get_master(k), p = rtnl_link_get_link(k);

		snprintf(s->name, sizeof(s->name), "%s",
		    rtnl_link_get_name(k) ? rtnl_link_get_name(k) : "");
		snprintf(s->kind, sizeof(s->kind), "%s", type ? type : "");
		if (m > 0)
			rtnl_link_i2name(cache, m, s->master, sizeof(s->master));
		s->mtu = rtnl_link_get_mtu(k);
		s->up = (rtnl_link_get_flags(k) & IFF_UP) != 0;
		if (rtnl_link_is_vxlan(k)) {
			struct nl_addr *a = NULL;
			uint32_t u = 0;
			uint8_t b = 0;

			rtnl_link_vxlan_get_id(k, &s->vni);
			if (rtnl_link_vxlan_get_local(k, &a) == 0) {
				addr_text(a, s->local, sizeof(s->local), false);
				nl_addr_put(a);
			}
			if (rtnl_link_vxlan_get_port(k, &u) == 0)
				s->port = (uint16_t)u;
			b = (uint8_t)rtnl_link_vxlan_get_learning(k);
			s->learning = b != 0;
		}
		if (rtnl_link_is_vlan(k))
			s->vid = (uint16_t)rtnl_link_vlan_get_id(k);
		if (p > 0 && (rtnl_link_is_vlan(k) || rtnl_link_is_vxlan(k)))
			rtnl_link_i2name(cache, p, s->parent, sizeof(s->parent));
	}
	nl_cache_free(cache);
	*out = v;
	*np = n;
	return 0;
}

static int
ifindex(struct knl *nl, const char *name)
{
	int i = (int)if_nametoindex(name);

	if (i == 0)
		err_set(TS_ENOT_FOUND, "link: no link %s", name);
	return i ? i : -1;
}

static int
set_random_mac(struct rtnl_link *k)
{
	unsigned char mac[6];
	struct nl_addr *a;

	if (getrandom(mac, sizeof(mac), 0) != (ssize_t)sizeof(mac))
		return -NLE_FAILURE;
	mac[0] = (unsigned char)((mac[0] & 0xfe) | 0x02);
	if ((a = nl_addr_build(AF_LLC, mac, sizeof(mac))) == NULL)
		return -NLE_NOMEM;
	rtnl_link_set_addr(k, a);
	nl_addr_put(a);
	return 0;
}

static int
k_add(void *ctx, const struct link_state *s)
{
	struct knl *nl = ctx;
	struct rtnl_link *k = NULL;
	struct nl_addr *a = NULL;
	int e, p;

	if (strcmp(s->kind, "vxlan") == 0) {
		if ((k = rtnl_link_vxlan_alloc()) == NULL)
			goto nomem;
		rtnl_link_vxlan_set_id(k, s->vni);
		if ((e = nl_addr_parse(s->local, AF_UNSPEC, &a)) < 0)
			goto nlerr;
		/* libnl picks IFLA_VXLAN_LOCAL or LOCAL6 by family. */
		e = rtnl_link_vxlan_set_local(k, a);
		nl_addr_put(a);
		if (e < 0)
			goto nlerr;
		rtnl_link_vxlan_set_port(k, s->port);
		rtnl_link_vxlan_set_learning(k, s->learning ? 1 : 0);
		if (s->parent[0]) {
			if ((p = ifindex(nl, s->parent)) < 0)
				goto fail;
			rtnl_link_set_link(k, p);
		}
	} else if (strcmp(s->kind, "vlan") == 0) {
		if ((k = rtnl_link_vlan_alloc()) == NULL)
			goto nomem;
		rtnl_link_vlan_set_id(k, s->vid);
		if ((p = ifindex(nl, s->parent)) < 0)
			goto fail;
		rtnl_link_set_link(k, p);
	} else {
		if ((k = rtnl_link_alloc()) == NULL)
			goto nomem;
		if ((e = rtnl_link_set_type(k, s->kind)) < 0)
			goto nlerr;
		/* A bridge whose address was never set takes the lowest of
		 * its ports' and changes when that port leaves: guests'
		 * cached ARP entries for the DHCP and metadata addresses on
		 * it would go stale. One set at creation stays. Random (a
		 * locally administered unicast), as the kernel's own. */
		if (strcmp(s->kind, "bridge") == 0 &&
		    (e = set_random_mac(k)) < 0)
			goto nlerr;
	}
	rtnl_link_set_name(k, s->name);
	if (s->mtu)
		rtnl_link_set_mtu(k, s->mtu);
	if ((e = rtnl_link_add(nl->sk, k, NLM_F_CREATE | NLM_F_EXCL)) < 0)
		goto nlerr;
	rtnl_link_put(k);
	log_info("link: created %s %s", s->kind, s->name);
	return 0;
nomem:
	err_set(TS_ENOMEM, "link: out of memory");
	goto fail;
nlerr:
	nlfail(e, "add", s->name);
fail:
	if (k)
		rtnl_link_put(k);
	return -1;
}

static int
k_del(void *ctx, const char *name)
{
	struct knl *nl = ctx;
	struct rtnl_link *k;
	int e;

	if ((k = rtnl_link_alloc()) == NULL) {
		err_set(TS_ENOMEM, "link: out of memory");
		return -1;
	}
	rtnl_link_set_name(k, name);
	e = rtnl_link_delete(nl->sk, k);
	rtnl_link_put(k);
	if (e < 0 && e != -NLE_NODEV && e != -NLE_OBJ_NOTFOUND)
		return nlfail(e, "delete", name);
	log_info("link: deleted %s", name);
	return 0;
}

static int
k_set(void *ctx, const char *name, const char *master, uint32_t mtu, int up)
{
	struct knl *nl = ctx;
	struct rtnl_link *orig = NULL, *chg = NULL;
	int e = 0, idx, m;

	if ((idx = ifindex(nl, name)) < 0)
		return -1;
	if ((orig = rtnl_link_alloc()) == NULL ||
	    (chg = rtnl_link_alloc()) == NULL) {
		err_set(TS_ENOMEM, "link: out of memory");
		goto fail;
	}
	rtnl_link_set_ifindex(orig, idx);
	rtnl_link_set_name(orig, name);
	if (master) {
		m = 0;
		if (master[0] && (m = ifindex(nl, master)) < 0)
			goto fail;
		rtnl_link_set_master(chg, m);
	}
	if (mtu)
		rtnl_link_set_mtu(chg, mtu);
	if (up == 1)
		rtnl_link_set_flags(chg, IFF_UP);
	else if (up == 0)
		rtnl_link_unset_flags(chg, IFF_UP);
	if ((e = rtnl_link_change(nl->sk, orig, chg, 0)) < 0) {
		nlfail(e, "set", name);
		goto fail;
	}
	rtnl_link_put(orig);
	rtnl_link_put(chg);
	return 0;
fail:
	if (orig)
		rtnl_link_put(orig);
	if (chg)
		rtnl_link_put(chg);
	return -1;
}

struct fdb_dump {
	int		 idx;
	char		(*v)[LINK_ADDR_MAX];
	size_t		 n, cap;
	bool		 nomem;
};

/* One RTM_NEWNEIGH of the AF_BRIDGE dump: keep the all-zero-MAC entries of
 * the device we asked about. The kernel's message is parsed defensively
 * (nlmsg_parse checks attribute lengths; we check sizes again). */
static int
fdb_cb(struct nl_msg *msg, void *arg)
{
	struct fdb_dump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *nd;
	const unsigned char *mac;
	char txt[INET6_ADDRSTRLEN];
	int af, i;

	if (h->nlmsg_type != RTM_NEWNEIGH ||
	    nlmsg_parse(h, sizeof(*nd), tb, NDA_MAX, NULL) < 0)
		return NL_OK;
	nd = nlmsg_data(h);
	if (nd->ndm_family != AF_BRIDGE || nd->ndm_ifindex != d->idx ||
	    tb[NDA_LLADDR] == NULL || nla_len(tb[NDA_LLADDR]) != 6 ||
	    tb[NDA_DST] == NULL)
		return NL_OK;
	mac = nla_data(tb[NDA_LLADDR]);
	for (i = 0; i < 6; i++)
		if (mac[i])
			return NL_OK;
	if (nla_len(tb[NDA_DST]) == 4)
		af = AF_INET;
	else if (nla_len(tb[NDA_DST]) == 16)
		af = AF_INET6;
	else
		return NL_OK;
	if (inet_ntop(af, nla_data(tb[NDA_DST]), txt, sizeof(txt)) == NULL)
		return NL_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		char (*nv)[LINK_ADDR_MAX];

		/* A VXLAN device has at most a peer per host. */
		if (cap > 65536 ||
		    (nv = realloc(d->v, cap * sizeof(*nv))) == NULL) {
			d->nomem = true;
			return NL_STOP;
		}
		d->v = nv;
		d->cap = cap;
	}
	snprintf(d->v[d->n++], LINK_ADDR_MAX, "%s", txt);
	return NL_OK;
}

static int
k_fdb_list(void *ctx, const char *dev, char (**out)[LINK_ADDR_MAX],
    size_t *np)
{
	struct knl *nl = ctx;
	struct fdb_dump d = { 0 };
	struct ndmsg nd = { .ndm_family = AF_BRIDGE };
	struct nl_cb *cb, *orig;
	bool strict;
	int e, fd, on = 1;

	*out = NULL;
	*np = 0;
	if ((d.idx = ifindex(nl, dev)) < 0)
		return -1;
	/* libnl's neighbour cache does not dump the bridge family, so the
	 * dump is done by hand. With strict checking (Linux >= 4.20) the
	 * kernel dumps only dev's entries instead of every fdb entry of the
	 * namespace; without it fdb_cb filters. */
	/* nl_socket_get_cb() takes a reference; the clone is ours. */
	orig = nl_socket_get_cb(nl->sk);
	cb = nl_cb_clone(orig);
	nl_cb_put(orig);
	if (cb == NULL) {
		err_set(TS_ENOMEM, "link: out of memory");
		return -1;
	}
	fd = nl_socket_get_fd(nl->sk);
	strict = setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on,
	    sizeof(on)) == 0;
	if (strict)
		nd.ndm_ifindex = d.idx;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fdb_cb, &d);
	if ((e = nl_send_simple(nl->sk, RTM_GETNEIGH, NLM_F_DUMP, &nd,
	    sizeof(nd))) >= 0)
		e = nl_recvmsgs(nl->sk, cb);
	nl_cb_put(cb);
	on = 0;
	/* Off again: libnl's own dumps send short headers strict mode
	 * refuses. */
	if (strict)
		setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on,
		    sizeof(on));
	if (d.nomem) {
		free(d.v);
		err_set(TS_ENOMEM, "link: out of memory");
		return -1;
	}
	if (e < 0) {
		free(d.v);
		return nlfail(e, "list fdb of", dev);
	}
	*out = d.v;
	*np = d.n;
	return 0;
}

static int
fdb_op(struct knl *nl, const char *dev, const char *dst, bool add)
{
	struct rtnl_neigh *g = NULL;
	struct nl_addr *mac = NULL, *a = NULL;
	static const unsigned char zero[6];
	int e = -NLE_NOMEM, idx;

	if ((idx = ifindex(nl, dev)) < 0)
		return -1;
	if ((g = rtnl_neigh_alloc()) == NULL ||
	    (mac = nl_addr_build(AF_LLC, zero, sizeof(zero))) == NULL)
		goto out;
	if ((e = nl_addr_parse(dst, AF_UNSPEC, &a)) < 0)
		goto out;
	rtnl_neigh_set_ifindex(g, idx);
	rtnl_neigh_set_lladdr(g, mac);
	/* The dst first: libnl refuses a dst whose family differs from
	 * the neighbour's, and an fdb entry's family is AF_BRIDGE. */
	if ((e = rtnl_neigh_set_dst(g, a)) < 0)
		goto out;
	rtnl_neigh_set_family(g, AF_BRIDGE);
	/* As `bridge fdb append 00:00:00:00:00:00 dev vx dst X`: a
	 * permanent entry of the device itself (flooding list). */
	rtnl_neigh_set_flags(g, NTF_SELF);
	rtnl_neigh_set_state(g, NUD_NOARP | NUD_PERMANENT);
	if (add)
		e = rtnl_neigh_add(nl->sk, g, NLM_F_CREATE | NLM_F_APPEND);
	else {
		e = rtnl_neigh_delete(nl->sk, g, 0);
		if (e == -NLE_OBJ_NOTFOUND || e == -NLE_NOADDR)
			e = 0;
	}
out:
	if (a)
		nl_addr_put(a);
	if (mac)
		nl_addr_put(mac);
	if (g)
		rtnl_neigh_put(g);
	if (e < 0)
		return nlfail(e, add ? "fdb append on" : "fdb del on", dev);
	log_info("link: %s flood entry %s %s %s", add ? "appended" :
	    "deleted", dst, add ? "to" : "from", dev);
	return 0;
}

static int
k_fdb_append(void *ctx, const char *dev, const char *dst)
{
	return fdb_op(ctx, dev, dst, true);
}

static int
k_fdb_del(void *ctx, const char *dev, const char *dst)
{
	return fdb_op(ctx, dev, dst, false);
}

static int
k_addr_list(void *ctx, const char *dev, char (**out)[LINK_ADDR_MAX],
    size_t *np)
{
	struct knl *nl = ctx;
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	char (*v)[LINK_ADDR_MAX];
	size_t n = 0, cap;
	int e, idx;

	*out = NULL;
	*np = 0;
	if ((idx = ifindex(nl, dev)) < 0)
		return -1;
	if ((e = rtnl_addr_alloc_cache(nl->sk, &cache)) < 0)
		return nlfail(e, "list addresses of", dev);
	cap = (size_t)nl_cache_nitems(cache);
	if ((v = calloc(cap ? cap : 1, sizeof(*v))) == NULL) {
		nl_cache_free(cache);
		err_set(TS_ENOMEM, "link: out of memory");
		return -1;
	}
	for (o = nl_cache_get_first(cache); o && n < cap;
	    o = nl_cache_get_next(o)) {
		struct rtnl_addr *ad = (struct rtnl_addr *)o;

		if (rtnl_addr_get_ifindex(ad) != idx ||
		    rtnl_addr_get_scope(ad) == RT_SCOPE_LINK)
			continue;
		if (addr_text(rtnl_addr_get_local(ad), v[n], LINK_ADDR_MAX,
		    true) == 0)
			n++;
	}
	nl_cache_free(cache);
	*out = v;
	*np = n;
	return 0;
}

static int
addr_op(struct knl *nl, const char *dev, const char *cidr, bool add)
{
	struct rtnl_addr *ad = NULL;
	struct nl_addr *a = NULL;
	int e = -NLE_NOMEM, idx;

	if ((idx = ifindex(nl, dev)) < 0)
		return -1;
	if ((ad = rtnl_addr_alloc()) == NULL)
		goto out;
	if ((e = nl_addr_parse(cidr, AF_UNSPEC, &a)) < 0)
		goto out;
	rtnl_addr_set_ifindex(ad, idx);
	if ((e = rtnl_addr_set_local(ad, a)) < 0)
		goto out;
	if (add)
		e = rtnl_addr_add(nl->sk, ad, NLM_F_REPLACE);
	else
		e = rtnl_addr_delete(nl->sk, ad, 0);
out:
	if (a)
		nl_addr_put(a);
	if (ad)
		rtnl_addr_put(ad);
	if (e < 0)
		return nlfail(e, add ? "address add on" : "address del on",
		    dev);
	log_info("link: %s %s %s %s", add ? "added" : "deleted", cidr,
	    add ? "to" : "from", dev);
	return 0;
}

static int
k_addr_add(void *ctx, const char *dev, const char *cidr)
{
	return addr_op(ctx, dev, cidr, true);
}

static int
k_addr_del(void *ctx, const char *dev, const char *cidr)
{
	return addr_op(ctx, dev, cidr, false);
}

static void
k_free(void *ctx)
{
	struct knl *nl = ctx;

	if (nl == NULL)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

static const struct link_ops k_ops = {
	.list = k_list, .add = k_add, .del = k_del, .set = k_set,
	.fdb_list = k_fdb_list, .fdb_append = k_fdb_append,
	.fdb_del = k_fdb_del, .addr_list = k_addr_list,
	.addr_add = k_addr_add, .addr_del = k_addr_del, .free = k_free,
};

struct link *
link_new_netlink(void)
{
	struct knl *nl;
	int e;

	if ((nl = calloc(1, sizeof(*nl))) == NULL ||
	    (nl->sk = nl_socket_alloc()) == NULL) {
		free(nl);
		err_set(TS_ENOMEM, "link: out of memory");
		return NULL;
	}
	if ((e = nl_connect(nl->sk, NETLINK_ROUTE)) < 0) {
		nlfail(e, "connect", "rtnetlink");
		k_free(nl);
		return NULL;
	}
	return link_new(&k_ops, nl);
}
