/*
 * linkrec: the recording in-memory kernel behind link.h (see linkrec.h).
 * Fixed capacities: a test that needs more is wrong, and gets TS_ENOMEM.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "linkrec.h"

#define REC_LINKS	256
#define REC_ENTRIES	1024
#define REC_TEXT	(64 * 1024)

struct rec_ent {			/* an fdb entry or an address */
	char	dev[LINK_NAME_MAX + 1];
	char	val[LINK_ADDR_MAX];
};

struct linkrec {
	struct link_state	links[REC_LINKS];
	size_t			nlinks;
	struct rec_ent		fdb[REC_ENTRIES];
	size_t			nfdb;
	struct rec_ent		addr[REC_ENTRIES];
	size_t			naddr;
	char			text[REC_TEXT];
	size_t			len;
	char			vanish[LINK_NAME_MAX + 1];	/* see .h */
};

static void __attribute__((format(printf, 2, 3)))
logf_(struct linkrec *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len >= sizeof(r->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len += (size_t)n;
	if (r->len >= sizeof(r->text))
		r->len = sizeof(r->text) - 1;
}

static struct link_state *
lfind(struct linkrec *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nlinks; i++)
		if (strcmp(r->links[i].name, name) == 0)
			return &r->links[i];
	return NULL;
}

static void
ents_drop(struct rec_ent *v, size_t *n, const char *dev, const char *val)
{
	size_t i = 0;

	while (i < *n) {
		if (strcmp(v[i].dev, dev) == 0 &&
		    (val == NULL || strcmp(v[i].val, val) == 0))
			v[i] = v[--*n];
		else
			i++;
	}
}

static void
unlink_(struct linkrec *r, const char *name)
{
	struct link_state *l = lfind(r, name);
	char nm[LINK_NAME_MAX + 1];
	size_t i;

	if (l == NULL)
		return;
	snprintf(nm, sizeof(nm), "%s", name);
	*l = r->links[--r->nlinks];
	for (i = 0; i < r->nlinks; i++)
		if (strcmp(r->links[i].master, nm) == 0)
			r->links[i].master[0] = '\0';
	/* VLAN devices die with their lower device, as in the kernel. */
	for (i = 0; i < r->nlinks; i++)
		if (strcmp(r->links[i].kind, "vlan") == 0 &&
		    strcmp(r->links[i].parent, nm) == 0) {
			unlink_(r, r->links[i].name);
			i = 0;
		}
	ents_drop(r->fdb, &r->nfdb, nm, NULL);
	ents_drop(r->addr, &r->naddr, nm, NULL);
}

static int
r_list(void *ctx, struct link_state **out, size_t *n)
{
	struct linkrec *r = ctx;

	if ((*out = calloc(r->nlinks ? r->nlinks : 1, sizeof(**out))) ==
	    NULL) {
		err_set(TS_ENOMEM, "linkrec: out of memory");
		return -1;
	}
	memcpy(*out, r->links, r->nlinks * sizeof(**out));
	*n = r->nlinks;
	return 0;
}

static int
r_add(void *ctx, const struct link_state *s)
{
	struct linkrec *r = ctx;
	struct link_state *l;

	if (lfind(r, s->name)) {
		err_set(TS_ECONFLICT, "linkrec: %s exists", s->name);
		return -1;
	}
	if (r->nlinks == REC_LINKS) {
		err_set(TS_ENOMEM, "linkrec: full");
		return -1;
	}
	if ((strcmp(s->kind, "vlan") == 0 || s->parent[0]) &&
	    lfind(r, s->parent) == NULL) {
		err_set(TS_ENOT_FOUND, "linkrec: no link %s", s->parent);
		return -1;
	}
	l = &r->links[r->nlinks++];
	*l = *s;
	l->master[0] = '\0';
	l->up = false;
	if (l->mtu == 0)
		l->mtu = 1500;
	logf_(r, "link add ");
	if (strcmp(s->kind, "vlan") == 0)
		logf_(r, "link %s name %s type vlan id %u", s->parent,
		    s->name, s->vid);
	else if (strcmp(s->kind, "vxlan") == 0) {
		logf_(r, "%s type vxlan id %u local %s", s->name, s->vni,
		    s->local);
		if (s->parent[0])
			logf_(r, " dev %s", s->parent);
		logf_(r, " dstport %u%s", s->port,
		    s->learning ? "" : " nolearning");
	} else
		logf_(r, "%s type %s", s->name, s->kind);
	if (s->mtu)
		logf_(r, " mtu %u", s->mtu);
	logf_(r, "\n");
	return 0;
}

static int
r_del(void *ctx, const char *name)
{
	struct linkrec *r = ctx;

	if (lfind(r, name) == NULL) {
		err_set(TS_ENOT_FOUND, "linkrec: no link %s", name);
		return -1;
	}
	unlink_(r, name);
	logf_(r, "link del %s\n", name);
	return 0;
}

static int
r_set(void *ctx, const char *name, const char *master, uint32_t mtu, int up)
{
	struct linkrec *r = ctx;
	struct link_state *l = lfind(r, name);

	if (r->vanish[0] && strcmp(r->vanish, name) == 0) {
		r->vanish[0] = '\0';
		(void)linkrec_remove(r, name);
		l = NULL;
	}
	if (l == NULL || (master && master[0] && lfind(r, master) == NULL)) {
		err_set(TS_ENOT_FOUND, "linkrec: no link %s",
		    l ? master : name);
		return -1;
	}
	logf_(r, "link set %s", name);
	if (master) {
		snprintf(l->master, sizeof(l->master), "%s", master);
		if (master[0])
			logf_(r, " master %s", master);
		else
			logf_(r, " nomaster");
	}
	if (mtu) {
		l->mtu = mtu;
		logf_(r, " mtu %u", mtu);
	}
	if (up >= 0) {
		l->up = up == 1;
		logf_(r, up ? " up" : " down");
	}
	logf_(r, "\n");
	return 0;
}

static int
ents_list(struct linkrec *r, const struct rec_ent *v, size_t nv,
    const char *dev, char (**out)[LINK_ADDR_MAX], size_t *np)
{
	size_t i, n = 0;

	if (lfind(r, dev) == NULL) {
		err_set(TS_ENOT_FOUND, "linkrec: no link %s", dev);
		return -1;
	}
	if ((*out = calloc(nv ? nv : 1, sizeof(**out))) == NULL) {
		err_set(TS_ENOMEM, "linkrec: out of memory");
		return -1;
	}
	for (i = 0; i < nv; i++)
		if (strcmp(v[i].dev, dev) == 0)
			memcpy((*out)[n++], v[i].val, LINK_ADDR_MAX);
	*np = n;
	return 0;
}

static int
ents_add(struct linkrec *r, struct rec_ent *v, size_t *nv, const char *dev,
    const char *val)
{
	if (lfind(r, dev) == NULL) {
		err_set(TS_ENOT_FOUND, "linkrec: no link %s", dev);
		return -1;
	}
	if (*nv == REC_ENTRIES) {
		err_set(TS_ENOMEM, "linkrec: full");
		return -1;
	}
	snprintf(v[*nv].dev, sizeof(v[*nv].dev), "%s", dev);
	snprintf(v[*nv].val, sizeof(v[*nv].val), "%s", val);
	++*nv;
	return 0;
}

static int
r_fdb_list(void *ctx, const char *dev, char (**out)[LINK_ADDR_MAX],
    size_t *n)
{
	struct linkrec *r = ctx;

	return ents_list(r, r->fdb, r->nfdb, dev, out, n);
}

static int
r_fdb_append(void *ctx, const char *dev, const char *dst)
{
	struct linkrec *r = ctx;

	if (ents_add(r, r->fdb, &r->nfdb, dev, dst) == -1)
		return -1;
	logf_(r, "fdb append 00:00:00:00:00:00 dev %s dst %s\n", dev, dst);
	return 0;
}

static int
r_fdb_del(void *ctx, const char *dev, const char *dst)
{
	struct linkrec *r = ctx;

	ents_drop(r->fdb, &r->nfdb, dev, dst);
	logf_(r, "fdb del 00:00:00:00:00:00 dev %s dst %s\n", dev, dst);
	return 0;
}

static int
r_addr_list(void *ctx, const char *dev, char (**out)[LINK_ADDR_MAX],
    size_t *n)
{
	struct linkrec *r = ctx;

	return ents_list(r, r->addr, r->naddr, dev, out, n);
}

static int
r_addr_add(void *ctx, const char *dev, const char *a)
{
	struct linkrec *r = ctx;

	if (ents_add(r, r->addr, &r->naddr, dev, a) == -1)
		return -1;
	logf_(r, "addr add %s dev %s\n", a, dev);
	return 0;
}

static int
r_addr_del(void *ctx, const char *dev, const char *a)
{
	struct linkrec *r = ctx;

	ents_drop(r->addr, &r->naddr, dev, a);
	logf_(r, "addr del %s dev %s\n", a, dev);
	return 0;
}

static void
r_free(void *ctx)
{
	free(ctx);
}

static const struct link_ops rec_ops = {
	.list = r_list, .add = r_add, .del = r_del, .set = r_set,
	.fdb_list = r_fdb_list, .fdb_append = r_fdb_append,
	.fdb_del = r_fdb_del, .addr_list = r_addr_list,
	.addr_add = r_addr_add, .addr_del = r_addr_del, .free = r_free,
};

struct link *
linkrec_new(struct linkrec **recp)
{
	struct linkrec *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err_set(TS_ENOMEM, "linkrec: out of memory");
		return NULL;
	}
	*recp = r;
	return link_new(&rec_ops, r);
}

int
linkrec_inject(struct linkrec *r, const struct link_state *s)
{
	if (r->nlinks == REC_LINKS || lfind(r, s->name)) {
		err_set(TS_ECONFLICT, "linkrec: cannot inject %s", s->name);
		return -1;
	}
	r->links[r->nlinks++] = *s;
	return 0;
}

int
linkrec_remove(struct linkrec *r, const char *name)
{
	if (lfind(r, name) == NULL) {
		err_set(TS_ENOT_FOUND, "linkrec: no link %s", name);
		return -1;
	}
	unlink_(r, name);
	return 0;
}

const char *
linkrec_text(const struct linkrec *r)
{
	return r->text;
}

void
linkrec_vanish_next_set(struct linkrec *r, const char *name)
{
	snprintf(r->vanish, sizeof(r->vanish), "%s", name);
}

void
linkrec_reset(struct linkrec *r)
{
	r->len = 0;
	r->text[0] = '\0';
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
linkrec_dump(const struct linkrec *r)
{
	char **lines, *out;
	size_t n = 0, i, len = 1, cap = r->nlinks + r->nfdb + r->naddr;

	if ((lines = calloc(cap ? cap : 1, sizeof(*lines))) == NULL)
		goto nomem;
	for (i = 0; i < r->nlinks; i++) {
		const struct link_state *l = &r->links[i];

		if (asprintf(&lines[n], "link %s %s%s%s mtu %u%s\n", l->name,
		    l->kind[0] ? l->kind : "nic",
		    l->master[0] ? " master " : "", l->master, l->mtu,
		    l->up ? " up" : "") < 0)
			goto fail;
		n++;
	}
	qsort(lines, n, sizeof(*lines), cmpstr);
	for (i = 0; i < r->nfdb; i++)
		if (asprintf(&lines[n++], "fdb %s dst %s\n", r->fdb[i].dev,
		    r->fdb[i].val) < 0) {
			n--;
			goto fail;
		}
	qsort(lines + r->nlinks, r->nfdb, sizeof(*lines), cmpstr);
	for (i = 0; i < r->naddr; i++)
		if (asprintf(&lines[n++], "addr %s %s\n", r->addr[i].dev,
		    r->addr[i].val) < 0) {
			n--;
			goto fail;
		}
	qsort(lines + r->nlinks + r->nfdb, r->naddr, sizeof(*lines), cmpstr);
	for (i = 0; i < n; i++)
		len += strlen(lines[i]);
	if ((out = malloc(len)) == NULL)
		goto fail;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(out, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return out;
fail:
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
nomem:
	err_set(TS_ENOMEM, "linkrec: out of memory");
	return NULL;
}
