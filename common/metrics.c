/* metrics: Prometheus registry and text exposition; see metrics.h. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "metrics.h"

const double metrics_latency_buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};
const size_t metrics_latency_nbuckets =
    sizeof(metrics_latency_buckets) / sizeof(metrics_latency_buckets[0]);

struct metrics_series {
	struct metrics_series	*next;
	struct metrics_family	*fam;
	char			*values[METRICS_MAX_LABELS];
	/* Counter: the count. Gauge: the bits of a double. Histogram: the
	 * bits of the sum of observations. */
	_Atomic uint64_t	 v;
	/* Histogram: per bucket (not cumulative), the last one +Inf. */
	_Atomic uint64_t	 counts[METRICS_MAX_BUCKETS + 1];
};

struct metrics_family {
	struct metrics_family	*next;
	struct metrics		*reg;
	enum metrics_type	 type;
	char			*name, *help;
	char			*labels[METRICS_MAX_LABELS];
	size_t			 nlabels;
	double			 buckets[METRICS_MAX_BUCKETS];
	size_t			 nbuckets;
	/* Newest first; series are never removed, so a reader holding the
	 * head may walk without the lock. */
	struct metrics_series	*_Atomic series;
	size_t			 nseries;	/* under reg->lock */
};

struct collector {
	metrics_collect_fn	 fn;
	void			*arg;
};

struct metrics {
	pthread_mutex_t		 lock;	/* family and series lists */
	struct metrics_family	*first, *last;
	struct collector	*coll;
	size_t			 ncoll;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		err_set(TS_ENOMEM, "metrics: out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void
series_free(struct metrics_series *s)
{
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		free(s->values[i]);
	free(s);
}

static void
family_free(struct metrics_family *f)
{
	struct metrics_series *s, *n;

	for (s = atomic_load(&f->series); s; s = n) {
		n = s->next;
		series_free(s);
	}
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
}

void
metrics_free(struct metrics **mp)
{
	struct metrics *m = mp ? *mp : NULL;
	struct metrics_family *f, *n;

	if (m == NULL)
		return;
	for (f = m->first; f; f = n) {
		n = f->next;
		family_free(f);
	}
	free(m->coll);
	pthread_mutex_destroy(&m->lock);
	free(m);
	*mp = NULL;
}

static int
valid_name(const char *s, int colon)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' ||
		    (colon && *s == ':')))
			return 0;
	return 1;
}

static int
check_family(struct metrics *m, enum metrics_type type, const char *name,
    const char *const *labels, const double *buckets, size_t nbuckets)
{
	size_t n = 0;

	if (!valid_name(name, 1)) {
		err_set(TS_EINVALID, "metrics: bad metric name");
		return -1;
	}
	for (; labels && labels[n]; n++) {
		if (!valid_name(labels[n], 0) ||
		    strncmp(labels[n], "__", 2) == 0 ||
		    (type == METRICS_HISTOGRAM && strcmp(labels[n], "le") == 0)) {
			err_set(TS_EINVALID, "metrics: %s: bad label name",
			    name);
			return -1;
		}
		for (size_t j = 0; j < n; j++)
			if (strcmp(labels[j], labels[n]) == 0) {
				err_set(TS_EINVALID, "metrics: %s: label %s "
				    "twice", name, labels[n]);
				return -1;
			}
	}
	if (n > METRICS_MAX_LABELS) {
		err_set(TS_EINVALID, "metrics: %s: too many labels", name);
		return -1;
	}
	if (type == METRICS_HISTOGRAM) {
		if (nbuckets == 0 || nbuckets > METRICS_MAX_BUCKETS) {
			err_set(TS_EINVALID, "metrics: %s: 1 to %d buckets",
			    name, METRICS_MAX_BUCKETS);
			return -1;
		}
		for (size_t i = 0; i < nbuckets; i++)
			if (!isfinite(buckets[i]) ||
			    (i > 0 && buckets[i] <= buckets[i - 1])) {
				err_set(TS_EINVALID, "metrics: %s: buckets "
				    "must be finite and increasing", name);
				return -1;
			}
	} else if (nbuckets != 0) {
		err_set(TS_EINVALID, "metrics: %s: buckets on a non-histogram",
		    name);
		return -1;
	}
	return 0;
}

/* The family already registered under name: 1 with *out set when it is
 * the same definition, -1 TS_ECONFLICT when not, 0 when there is none. */
static int
existing(struct metrics *m, enum metrics_type type, const char *name,
    const char *const *labels, const double *buckets, size_t nbuckets,
    struct metrics_family **out)
{
	struct metrics_family *f;
	size_t n = 0;

	for (f = m->first; f && strcmp(f->name, name) != 0; f = f->next)
		;
	if (f == NULL)
		return 0;
	for (; labels && labels[n]; n++)
		if (n >= f->nlabels || strcmp(labels[n], f->labels[n]) != 0)
			break;
	if (f->type == type && n == f->nlabels && (!labels || !labels[n]) &&
	    f->nbuckets == nbuckets && (nbuckets == 0 ||
	    memcmp(f->buckets, buckets, nbuckets * sizeof(*buckets)) == 0)) {
		*out = f;
		return 1;
	}
	err_set(TS_ECONFLICT, "metrics: %s registered twice, differently",
	    name);
	return -1;
}

struct metrics_family *
metrics_family(struct metrics *m, enum metrics_type type, const char *name,
    const char *help, const char *const *labels, const double *buckets,
    size_t nbuckets)
{
	struct metrics_family *f = NULL;
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	if (check_family(m, type, name, labels, buckets, nbuckets) == -1 ||
	    (rc = existing(m, type, name, labels, buckets, nbuckets, &f)) != 0) {
		pthread_mutex_unlock(&m->lock);
		return rc == 1 ? f : NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		goto oom;
	f->reg = m;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (f->name == NULL || f->help == NULL)
		goto oom;
	for (; labels && labels[f->nlabels]; f->nlabels++)
		if ((f->labels[f->nlabels] = strdup(labels[f->nlabels])) ==
		    NULL)
			goto oom;
	if (nbuckets)
		memcpy(f->buckets, buckets, nbuckets * sizeof(*buckets));
	f->nbuckets = nbuckets;
	if (m->last)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	pthread_mutex_unlock(&m->lock);
	return f;
oom:
	pthread_mutex_unlock(&m->lock);
	if (f)
		family_free(f);
	err_set(TS_ENOMEM, "metrics: out of memory");
	return NULL;
}

static int
same_values(const struct metrics_series *s, const char *const *values,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i]) != 0)
			return 0;
	return 1;
}

struct metrics_series *
metrics_series(struct metrics_family *f, const char *const *values)
{
	struct metrics *m = f->reg;
	struct metrics_series *s;

	pthread_mutex_lock(&m->lock);
	for (s = atomic_load(&f->series); s; s = s->next)
		if (same_values(s, values, f->nlabels)) {
			pthread_mutex_unlock(&m->lock);
			return s;
		}
	if (f->nseries >= METRICS_MAX_SERIES) {
		pthread_mutex_unlock(&m->lock);
		err_set(TS_EINVALID, "metrics: %s: more than %d series",
		    f->name, METRICS_MAX_SERIES);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto oom;
	s->fam = f;
	for (size_t i = 0; i < f->nlabels; i++)
		if ((s->values[i] = strdup(values[i])) == NULL)
			goto oom;
	s->next = atomic_load(&f->series);
	atomic_store(&f->series, s);	/* release: fields written before */
	f->nseries++;
	pthread_mutex_unlock(&m->lock);
	return s;
oom:
	pthread_mutex_unlock(&m->lock);
	if (s)
		series_free(s);
	err_set(TS_ENOMEM, "metrics: out of memory");
	return NULL;
}

static uint64_t
d2u(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
u2d(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static void
add_double(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(a, &old,
	    d2u(u2d(old) + v), memory_order_relaxed, memory_order_relaxed))
		;
}

void
metrics_inc(struct metrics_series *s, uint64_t n)
{
	if (s && s->fam->type == METRICS_COUNTER)
		atomic_fetch_add_explicit(&s->v, n, memory_order_relaxed);
}

void
metrics_set(struct metrics_series *s, double v)
{
	if (s && s->fam->type == METRICS_GAUGE)
		atomic_store_explicit(&s->v, d2u(v), memory_order_relaxed);
}

void
metrics_add(struct metrics_series *s, double v)
{
	if (s && s->fam->type == METRICS_GAUGE)
		add_double(&s->v, v);
}

void
metrics_observe(struct metrics_series *s, double v)
{
	const struct metrics_family *f;
	size_t i;

	if (s == NULL || (f = s->fam)->type != METRICS_HISTOGRAM)
		return;
	/* A NaN lands in +Inf, as client_golang does. */
	for (i = 0; i < f->nbuckets && !(v <= f->buckets[i]); i++)
		;
	atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
	add_double(&s->v, v);
}

double
metrics_value(const struct metrics_series *s)
{
	uint64_t n = 0;

	switch (s->fam->type) {
	case METRICS_COUNTER:
		return (double)atomic_load_explicit(&s->v,
		    memory_order_relaxed);
	case METRICS_GAUGE:
		return u2d(atomic_load_explicit(&s->v, memory_order_relaxed));
	case METRICS_HISTOGRAM:
		for (size_t i = 0; i <= s->fam->nbuckets; i++)
			n += atomic_load_explicit(&s->counts[i],
			    memory_order_relaxed);
		return (double)n;
	}
	return 0;
}

int
metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *arg)
{
	struct collector *c;

	pthread_mutex_lock(&m->lock);
	c = realloc(m->coll, (m->ncoll + 1) * sizeof(*c));
	if (c == NULL) {
		pthread_mutex_unlock(&m->lock);
		err_set(TS_ENOMEM, "metrics: out of memory");
		return -1;
	}
	c[m->ncoll].fn = fn;
	c[m->ncoll].arg = arg;
	m->coll = c;
	m->ncoll++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- exposition ------------------------------------------------------- */

static void
put_escaped(struct buf *b, const char *s, int quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = NULL;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (rep == NULL)
			continue;
		buf_append(b, run, (size_t)(s - run));
		buf_puts(b, rep);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
}

static void
fmt_double(char *out, size_t len, double v)
{
	if (isnan(v))
		snprintf(out, len, "NaN");
	else if (isinf(v))
		snprintf(out, len, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v)
		snprintf(out, len, "%lld", (long long)v);
	else {
		/* The shortest of 15 or 17 digits that reads back exactly:
		 * "0.1", not "0.10000000000000001". */
		snprintf(out, len, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, len, "%.17g", v);
	}
}

static void
put_double(struct buf *b, double v)
{
	char s[64];

	fmt_double(s, sizeof(s), v);
	buf_puts(b, s);
}

static const char *
type_name(enum metrics_type t)
{
	return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ?
	    "gauge" : "histogram";
}

void
metrics_write_family(struct buf *b, const char *name, enum metrics_type t,
    const char *help)
{
	buf_printf(b, "# HELP %s ", name);
	put_escaped(b, help ? help : "", 0);
	buf_printf(b, "\n# TYPE %s %s\n", name, type_name(t));
}

/* name{k="v",...,extra_k="extra_v"} value */
static void
put_sample(struct buf *b, const char *name, const char *suffix,
    char *const *keys, char *const *vals, size_t n, const char *ek,
    const char *ev, double v, int is_count, uint64_t count)
{
	buf_puts(b, name);
	if (suffix)
		buf_puts(b, suffix);
	if (n || ek) {
		buf_puts(b, "{");
		for (size_t i = 0; i < n; i++) {
			buf_printf(b, "%s%s=\"", i ? "," : "", keys[i]);
			put_escaped(b, vals[i], 1);
			buf_puts(b, "\"");
		}
		if (ek) {
			buf_printf(b, "%s%s=\"", n ? "," : "", ek);
			put_escaped(b, ev, 1);
			buf_puts(b, "\"");
		}
		buf_puts(b, "}");
	}
	buf_puts(b, " ");
	if (is_count)
		buf_printf(b, "%llu", (unsigned long long)count);
	else
		put_double(b, v);
	buf_puts(b, "\n");
}

void
metrics_write_sample(struct buf *b, const char *name, const char *const *kv,
    double v)
{
	char *keys[8], *vals[8];
	size_t n = 0;

	for (; kv && kv[2 * n] && n < 8; n++) {
		keys[n] = (char *)kv[2 * n];
		vals[n] = (char *)kv[2 * n + 1];
	}
	put_sample(b, name, NULL, keys, vals, n, NULL, NULL, v, 0, 0);
}

static void
render_series(struct buf *b, const struct metrics_family *f,
    const struct metrics_series *s)
{
	uint64_t cum = 0;
	char le[64];

	switch (f->type) {
	case METRICS_COUNTER:
		put_sample(b, f->name, NULL, f->labels, s->values, f->nlabels,
		    NULL, NULL, 0, 1, atomic_load_explicit(&s->v,
		    memory_order_relaxed));
		break;
	case METRICS_GAUGE:
		put_sample(b, f->name, NULL, f->labels, s->values, f->nlabels,
		    NULL, NULL, metrics_value(s), 0, 0);
		break;
	case METRICS_HISTOGRAM:
		/* Each bucket read once: the +Inf bucket and _count are the
		 * same number even while observations land. */
		for (size_t i = 0; i <= f->nbuckets; i++) {
			cum += atomic_load_explicit(&s->counts[i],
			    memory_order_relaxed);
			fmt_double(le, sizeof(le), i < f->nbuckets ?
			    f->buckets[i] : INFINITY);
			put_sample(b, f->name, "_bucket", f->labels,
			    s->values, f->nlabels, "le", le, 0, 1, cum);
		}
		put_sample(b, f->name, "_sum", f->labels, s->values,
		    f->nlabels, NULL, NULL, u2d(atomic_load_explicit(&s->v,
		    memory_order_relaxed)), 0, 0);
		put_sample(b, f->name, "_count", f->labels, s->values,
		    f->nlabels, NULL, NULL, 0, 1, cum);
		break;
	}
}

int
metrics_render(struct metrics *m, struct buf *out)
{
	struct collector *coll = NULL;
	size_t ncoll;
	int failed;

	pthread_mutex_lock(&m->lock);
	for (const struct metrics_family *f = m->first; f; f = f->next) {
		const struct metrics_series *s, *v[METRICS_MAX_SERIES];
		size_t n = 0;

		metrics_write_family(out, f->name, f->type, f->help);
		/* Oldest first: a stable order between scrapes. */
		for (s = atomic_load(&f->series); s && n < METRICS_MAX_SERIES;
		    s = s->next)
			v[n++] = s;
		while (n > 0)
			render_series(out, f, v[--n]);
	}
	ncoll = m->ncoll;
	if (ncoll && (coll = malloc(ncoll * sizeof(*coll))) != NULL)
		memcpy(coll, m->coll, ncoll * sizeof(*coll));
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; coll && i < ncoll; i++)
		coll[i].fn(out, coll[i].arg);
	failed = ncoll && coll == NULL;
	free(coll);
	if (failed || buf_reserve(out, 1) == -1) {
		err_set(TS_ENOMEM, "metrics: out of memory");
		return -1;
	}
	return 0;
}

void
metrics_runs_add(struct metrics_runs *r, uint64_t usec, int failed)
{
	atomic_fetch_add_explicit(&r->runs, 1, memory_order_relaxed);
	if (failed)
		atomic_fetch_add_explicit(&r->failed, 1,
		    memory_order_relaxed);
	atomic_fetch_add_explicit(&r->usec, usec, memory_order_relaxed);
	atomic_store_explicit(&r->last_usec, usec, memory_order_relaxed);
}

void
metrics_runs_read(struct metrics_runs *r, struct metrics_runs_snap *out)
{
	out->runs = atomic_load_explicit(&r->runs, memory_order_relaxed);
	out->failed = atomic_load_explicit(&r->failed, memory_order_relaxed);
	out->usec_total = atomic_load_explicit(&r->usec,
	    memory_order_relaxed);
	out->last_usec = atomic_load_explicit(&r->last_usec,
	    memory_order_relaxed);
}
