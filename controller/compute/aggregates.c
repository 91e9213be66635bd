/* aggregates: the aggregate records the scheduler and the API read; see
 * aggregates.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregates.h"
#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "store.h"

void
aggregates_key(uint32_t id, char k[AGGREGATES_KEY_LEN])
{
	snprintf(k, AGGREGATES_KEY_LEN, "%010u", id);
}

struct loadctx {
	struct aggregates	*out;
	size_t				 cap;
};

static int
load_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct loadctx *l = arg;
	struct aggregates *o = l->out;

	(void)k;
	(void)kl;
	if (o->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		struct rec_aggregate *nv = realloc(o->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "aggregates: out of memory");
			return -1;
		}
		o->v = nv;
		l->cap = ncap;
	}
	memset(&o->v[o->n], 0, sizeof(o->v[o->n]));
	if (codec_record_decode(&schema_rec_aggregate, v, vl, &o->v[o->n],
	    NULL) == -1) {
		/* One unreadable record must not hide the others. */
		log_warnx("aggregates: skipping undecodable record: %s",
		    err_msg());
		return 0;
	}
	o->n++;
	return 0;
}

int
aggregates_load(struct store_txn *txn, struct aggregates *out)
{
	struct loadctx l = { .out = out };

	out->v = NULL;
	out->n = 0;
	if (store_iter(txn, T_AGGREGATES, NULL, 0, load_cb, &l) == -1) {
		aggregates_clear(out);
		return -1;
	}
	return 0;
}

void
aggregates_clear(struct aggregates *a)
{
	for (size_t k = 0; k < a->n; k++)
		codec_clear(&schema_rec_aggregate, &a->v[k]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

const char *
aggregates_meta_get(const struct ts_strmap *m, const char *k)
{
	for (size_t i = 0; m->items && i < m->n; i++)
		if (strcmp(m->items[i].k, k) == 0)
			return m->items[i].v;
	return NULL;
}

const char *
aggregates_zone_of(const struct rec_aggregate *a)
{
	const char *z = aggregates_meta_get(&a->metadata, AGGREGATES_AZ_KEY);

	return z && *z ? z : NULL;
}

bool
aggregates_has_host(const struct rec_aggregate *a, const char *host)
{
	for (size_t i = 0; a->hosts.items && i < a->hosts.n; i++)
		if (strcmp(a->hosts.items[i], host) == 0)
			return true;
	return false;
}

const char *
aggregates_host_zone(const struct aggregates *s,
    const char *host, const char *dflt)
{
	for (size_t k = 0; k < s->n; k++) {
		const char *z = aggregates_zone_of(&s->v[k]);

		if (z != NULL && aggregates_has_host(&s->v[k], host))
			return z;
	}
	return dflt;
}

/* Whether the comma-separated list vals holds want (items trimmed). */
static bool
list_has(const char *vals, const char *want)
{
	size_t wl = strlen(want);

	while (*vals) {
		const char *end = strchr(vals, ','), *a = vals, *b;

		if (end == NULL)
			end = vals + strlen(vals);
		b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if ((size_t)(b - a) == wl && memcmp(a, want, wl) == 0)
			return true;
		vals = *end ? end + 1 : end;
	}
	return false;
}

bool
aggregates_host_matches(const struct aggregates *s,
    const char *host, const struct ts_strmap *specs)
{
	size_t pl = strlen(AGGREGATES_SPEC_SCOPE);

	for (size_t i = 0; specs && specs->items && i < specs->n; i++) {
		const char *k = specs->items[i].k;
		bool ok = false;

		if (strncmp(k, AGGREGATES_SPEC_SCOPE, pl) != 0)
			continue;
		for (size_t a = 0; !ok && a < s->n; a++) {
			const char *v;

			if (!aggregates_has_host(&s->v[a], host))
				continue;
			v = aggregates_meta_get(&s->v[a].metadata, k + pl);
			ok = v != NULL && list_has(v, specs->items[i].v);
		}
		if (!ok)
			return false;
	}
	return true;
}


int
aggregates_forget_host(struct store_txn *txn, const char *host)
{
	struct aggregates all;
	char k[AGGREGATES_KEY_LEN];
	int rc = 0;

	if (aggregates_load(txn, &all) == -1)
		return -1;
	for (size_t i = 0; rc == 0 && i < all.n; i++) {
		struct rec_aggregate *a = &all.v[i];

		for (size_t h = 0; h < a->hosts.n; h++) {
			if (strcmp(a->hosts.items[h], host) != 0)
				continue;
			free(a->hosts.items[h]);
			memmove(&a->hosts.items[h], &a->hosts.items[h + 1],
			    (a->hosts.n - h - 1) * sizeof(*a->hosts.items));
			a->hosts.n--;
			aggregates_key(a->id, k);
			rc = store_rec_put(txn, T_AGGREGATES, k, strlen(k),
			    &schema_rec_aggregate, a, 0);
			break;
		}
	}
	aggregates_clear(&all);
	return rc;
}
