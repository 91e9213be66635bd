/*
 * metrics: a small Prometheus registry (counters, gauges, histograms with
 * fixed buckets) and the text exposition format 0.0.4.
 *
 * A family (name, help, type, label names, histogram buckets) is made once
 * at start-up; a series (one set of label values) is looked up or made by
 * metrics_series() under the registry's mutex, and the returned handle
 * stays valid until metrics_free(). Callers on hot paths keep their
 * handles: updating a series is one or two relaxed atomics, safe from any
 * thread (the HTTP worker pool, the bus thread, the committer).
 *
 * Figures that already live elsewhere (the fleet in LMDB, the store's and
 * the bus's own counters) are not copied into series: a collector added
 * with metrics_add_collector() writes them at scrape time with
 * metrics_write_family() / metrics_write_sample(), so nothing is kept twice
 * and an idle registry costs nothing. Collectors run on the scraping
 * thread, outside the registry's mutex, in the order they were added.
 *
 * Output (metrics_render): every family's "# HELP" and "# TYPE" line then
 * its samples; label values escaped (\\, \", \n), help text escaped (\\,
 * \n); histogram buckets cumulative with le="+Inf" equal to _count.
 */
#ifndef TS_METRICS_H
#define TS_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct metrics;
struct metrics_family;
struct metrics_series;

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

#define METRICS_MAX_LABELS	4
#define METRICS_MAX_BUCKETS	24
/* Series per family: a bound against label values from input. */
#define METRICS_MAX_SERIES	4096

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics **);

/*
 * A family; names are checked ([a-zA-Z_:][a-zA-Z0-9_:]*, labels
 * [a-zA-Z_][a-zA-Z0-9_]* not starting "__", "le" reserved for
 * histograms). labels is NULL-terminated (or NULL); buckets (histograms
 * only) strictly increasing upper bounds, without +Inf. Strings are copied.
 * Registering the same definition again returns the family made first (two
 * HTTP servers on one registry share theirs). NULL with err set
 * (TS_EINVALID, TS_ECONFLICT for a name used by another definition,
 * TS_ENOMEM).
 */
struct metrics_family *metrics_family(struct metrics *, enum metrics_type,
		    const char *name, const char *help,
		    const char *const *labels, const double *buckets,
		    size_t nbuckets);

/* The series with these label values (one per label name, any bytes but
 * NUL); made on first use. NULL with err set (TS_ENOMEM, TS_EINVALID when
 * the family would exceed METRICS_MAX_SERIES). */
struct metrics_series *metrics_series(struct metrics_family *,
		    const char *const *values);

/* Counter: add n. Gauge: set, add (may be negative). Histogram: observe
 * one value. Calling one on a series of another type is a no-op. */
void		 metrics_inc(struct metrics_series *, uint64_t n);
void		 metrics_set(struct metrics_series *, double v);
void		 metrics_add(struct metrics_series *, double v);
void		 metrics_observe(struct metrics_series *, double v);

/* Read back (tests, collectors): a counter's or gauge's value, a
 * histogram's count. */
double		 metrics_value(const struct metrics_series *);

/* Collectors: fn appends families to out (see below); it records nothing
 * on failure, a failed append sticks in out. -1 TS_ENOMEM. Add them before
 * the first scrape. */
typedef void	(*metrics_collect_fn)(struct buf *out, void *arg);
int		 metrics_add_collector(struct metrics *, metrics_collect_fn,
		    void *arg);

/* For collectors: the HELP and TYPE lines ("counter", "gauge"), then the
 * samples; kv is NULL-terminated "name", "value" pairs (or NULL). */
void		 metrics_write_family(struct buf *, const char *name,
		    enum metrics_type, const char *help);
void		 metrics_write_sample(struct buf *, const char *name,
		    const char *const *kv, double v);

/* The whole exposition into out (appended). 0, or -1 TS_ENOMEM. */
int		 metrics_render(struct metrics *, struct buf *out);

/*
 * A worker's runs (converges, say): bumped by the worker's thread, read by
 * the scrape's, both lock-free. Embedded in the worker's own struct, zeroed
 * with it; metrics_runs_read() fills a plain copy.
 */
struct metrics_runs {
	_Atomic uint64_t	runs, failed, usec, last_usec;
};
struct metrics_runs_snap {
	uint64_t	runs;		/* runs done */
	uint64_t	failed;		/* of which failed */
	uint64_t	usec_total;	/* time spent in them */
	uint64_t	last_usec;	/* the last one's */
};
void		 metrics_runs_add(struct metrics_runs *, uint64_t usec,
		    int failed);
void		 metrics_runs_read(struct metrics_runs *,
		    struct metrics_runs_snap *);

/* The exposition's content type. */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Default latency buckets in seconds (5 ms .. 30 s). */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

#endif
