/* scheduler: host filters, weighers and claims; see sched.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codec.h"
#include "aggregates.h"
#include "compute_db.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "scheduler.h"
#include "store.h"

/* Candidates re-weighed with the transaction's own numbers in a claim. */
#define RECHECK_TOP	8
#define AGENT_BINARY	"tinystack-agent"
/* scheduler_refresh_changed() reads every host again at least this often:
 * what the change stamps do not see (another process's write, a deletion
 * whose writer did not refresh) is in the cache within this time. */
#define FULL_REFRESH_MS	60000

struct sched {
	struct store		*store;
	double			 cpu_ratio, ram_ratio, disk_ratio;
	int64_t			 reserved_ram, reserved_disk;
	enum scheduler_weigher	 weigher;
	char			 az[256];
	int64_t			 down_ms;
	int64_t			(*backlog_ms)(void *);
	void			*backlog_arg;

	pthread_mutex_t		 lock;
	struct scheduler_host_state	*hosts;		/* sorted by name */
	size_t			 nhosts;
	/* Read with the hosts: the extra specs filter's metadata. */
	struct aggregates	 aggs;

	/* One refresh at a time (a full one swaps hosts; a partial one
	 * rewrites entries of it); taken before lock. */
	pthread_mutex_t		 refresh_lock;
	/* The snapshot (store_txn_id()) the cache was last brought to, and
	 * when the last full refresh was (clock_mono_ms()). */
	uint64_t		 synced_txn;
	int64_t			 full_mono;
	struct scheduler_refresh_stats	 st;
};

struct sched *
scheduler_new(struct store *st, const struct scheduler_opts *o)
{
	struct sched *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		err_set(TS_ENOMEM, "sched: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->refresh_lock, NULL);
	s->store = st;
	s->cpu_ratio = o->cpu_allocation_ratio > 0 ? o->cpu_allocation_ratio :
	    16.0;
	s->ram_ratio = o->ram_allocation_ratio > 0 ? o->ram_allocation_ratio :
	    1.5;
	s->disk_ratio = o->disk_allocation_ratio > 0 ?
	    o->disk_allocation_ratio : 1.0;
	s->reserved_ram = o->reserved_host_memory_mb;
	s->reserved_disk = o->reserved_host_disk_gb;
	s->weigher = o->weigher;
	snprintf(s->az, sizeof(s->az), "%s", o->default_az && *o->default_az ?
	    o->default_az : "nova");
	s->down_ms = o->service_down_ms > 0 ? o->service_down_ms : 60000;
	s->backlog_ms = o->backlog_ms;
	s->backlog_arg = o->backlog_arg;
	if (scheduler_refresh(s) == -1) {
		scheduler_free(&s);
		return NULL;
	}
	return s;
}

void
scheduler_free(struct sched **sp)
{
	struct sched *s = *sp;

	if (s == NULL)
		return;
	free(s->hosts);
	aggregates_clear(&s->aggs);
	pthread_mutex_destroy(&s->refresh_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
	*sp = NULL;
}

const char *
scheduler_default_az(const struct sched *s)
{
	return s->az;
}

/* ---------------------------------------------------------------- cache */

/* The time reports are judged at: now, less how far their reader is
 * behind (at most down_ms), as fleet_tick() judges. */
static int64_t
live_now(const struct sched *s)
{
	int64_t now = db_now_ms(), lag = s->backlog_ms ?
	    s->backlog_ms(s->backlog_arg) : 0;

	return now - (lag < s->down_ms ? lag : s->down_ms);
}

struct load {
	struct sched		*s;
	struct store_txn	*txn;
	struct scheduler_host_state	*v;
	size_t			 n, cap;
	int64_t			 now;
	struct aggregates	 aggs;
};

static struct scheduler_host_state *find_locked(struct sched *,
    const char *);

/* A 64-bit hash of the stored bytes, 8 at a time: every host's record
 * is hashed at every refresh (once a second), and byte-wise FNV-1a of
 * them was about 4% of an idle fleet's controller CPU. Not a defence
 * against a crafted collision (an agent could at most keep its own
 * capacity from being refreshed until its next change). */
static uint64_t
sum_bytes(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	for (; n >= 8; c += 8, n -= 8) {
		memcpy(&w, c, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, c, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 32;
	return h | 1;	/* 0: never decoded */
}

/*
 * The capacity of a host from its stored hypervisor record. Decoding the
 * record (its guest list) for every host at every refresh was most of the
 * scheduler's cost in an idle fleet; the record changes at a hello or
 * when a heartbeat reports other usage, so an unchanged one keeps the
 * capacity of the last refresh. 0, or -1 when the host has no record.
 */
static int
load_capacity(struct load *l, const char *host,
    struct scheduler_host_state *h)
{
	const struct scheduler_host_state *o;
	struct rec_hypervisor hv;
	const void *raw;
	size_t len;
	uint32_t ver;
	int have = 0;

	if (db_hypervisor_raw_by_host(l->txn, host, &raw, &len) == -1)
		return -1;
	h->hv_sum = sum_bytes(raw, len);
	pthread_mutex_lock(&l->s->lock);
	if ((o = find_locked(l->s, host)) != NULL && o->hv_sum == h->hv_sum) {
		h->vcpus = o->vcpus;
		h->memory_mb = o->memory_mb;
		h->disk_gb = o->disk_gb;
		have = 1;
	}
	pthread_mutex_unlock(&l->s->lock);
	if (have)
		return 0;
	memset(&hv, 0, sizeof(hv));
	if (codec_record_decode(&schema_rec_hypervisor, raw, len, &hv,
	    &ver) == -1)
		return -1;
	h->vcpus = hv.vcpus;
	h->memory_mb = hv.memory_mb;
	h->disk_gb = hv.local_gb;
	codec_clear(&schema_rec_hypervisor, &hv);
	return 0;
}

/* h from svc and the host's other records in l's snapshot; the zone from
 * aggs when not NULL. 1 a host, 0 not one (another binary, or registered
 * and never described), -1 a store error. */
static int
fill(struct load *l, const struct rec_service *svc,
    const struct aggregates *aggs, struct scheduler_host_state *h)
{
	struct rec_host_usage u;

	memset(h, 0, sizeof(*h));
	if (strcmp(svc->binary, AGENT_BINARY) != 0)
		return 0;
	if (load_capacity(l, svc->host, h) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	snprintf(h->host, sizeof(h->host), "%s", svc->host);
	h->forced_down = svc->forced_down;
	h->stored_seen = svc->last_seen_at;	/* up: see carry_seen() */
	h->seen_at = svc->last_seen_at;
	h->disabled = svc->disabled;
	if (aggs != NULL)
		snprintf(h->az, sizeof(h->az), "%s", aggregates_host_zone(
		    aggs, svc->host, l->s->az));
	if (compute_db_host_usage_get(l->txn, svc->host, &u) == 0) {
		h->vcpus_used = u.vcpus;
		h->memory_mb_used = u.memory_mb;
		h->disk_gb_used = u.disk_gb;
		h->instances = u.instances;
	}
	return 1;
}

static int
load_service(const struct rec_service *svc, void *arg)
{
	struct load *l = arg;

	if (strcmp(svc->binary, AGENT_BINARY) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct scheduler_host_state *nv = realloc(l->v,
		    ncap * sizeof(*nv));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "sched: out of memory");
			return -1;
		}
		l->v = nv;
		l->cap = ncap;
	}
	/* Before: a store error of one host skipped it (as not a host);
	 * kept, so that one bad record cannot empty the cache. */
	if (fill(l, svc, &l->aggs, &l->v[l->n]) == 1)
		l->n++;
	return 0;
}

static int
cmp_state(const void *a, const void *b)
{
	return strcmp(((const struct scheduler_host_state *)a)->host,
	    ((const struct scheduler_host_state *)b)->host);
}

/* A host going down or coming back is worth one line each way: it is
 * why the scheduler and the console, uptime and live actions suddenly
 * refuse that host. */
static void
log_transition(const struct scheduler_host_state *h, int64_t now)
{
	if (!h->up && h->forced_down)
		log_warnx("host %s is forced down", h->host);
	else if (!h->up)
		log_warnx("host %s is down: last heartbeat %lld ms ago",
		    h->host, (long long)(now - h->seen_at));
	else
		log_info("host %s is up again", h->host);
}

/*
 * Lock held; o: the cached state of h's host, or NULL. Reports the store
 * could not record (its heartbeat did not move since the last refresh: a
 * full disk) count: liveness is what the agents do. A stored heartbeat
 * that moved was written since, by the fleet or an operator's tool, and
 * is the newer word. Then h's up, logged when it differs from o's.
 */
static void
carry_seen(const struct sched *s, const struct scheduler_host_state *o,
    struct scheduler_host_state *h, int64_t now)
{
	if (o != NULL && o->stored_seen == h->stored_seen &&
	    o->seen_at > h->seen_at)
		h->seen_at = o->seen_at;
	h->up = !h->forced_down && now - h->seen_at <= s->down_ms;
	if (o != NULL && o->up != h->up)
		log_transition(h, now);
}

/* refresh_lock held. */
static int
refresh_full(struct sched *s)
{
	struct load l = { .s = s, .now = live_now(s) };
	uint64_t id;
	int rc;

	if (store_read_begin(s->store, &l.txn) == -1)
		return -1;
	id = store_txn_id(l.txn);
	rc = aggregates_load(l.txn, &l.aggs);
	if (rc == 0)
		rc = db_service_each(l.txn, load_service, &l);
	store_txn_end(&l.txn);
	if (rc == -1) {
		free(l.v);
		aggregates_clear(&l.aggs);
		return -1;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), cmp_state);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < l.n; i++)
		carry_seen(s, find_locked(s, l.v[i].host), &l.v[i], l.now);
	free(s->hosts);
	s->hosts = l.v;
	s->nhosts = l.n;
	aggregates_clear(&s->aggs);
	s->aggs = l.aggs;
	s->synced_txn = id;
	s->full_mono = clock_mono_ms();
	s->st.full++;
	s->st.hosts_read += l.n;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int
scheduler_refresh(struct sched *s)
{
	int rc;

	pthread_mutex_lock(&s->refresh_lock);
	rc = refresh_full(s);
	pthread_mutex_unlock(&s->refresh_lock);
	return rc;
}

static int
stamped_since(const char *host, uint64_t txn)
{
	return db_fleet_changed_txn(host) > txn ||
	    compute_db_host_changed_txn(host) > txn;
}

/*
 * refresh_lock held, so hosts is not swapped meanwhile (only a full
 * refresh does that) and its names do not change. Reads again the hosts
 * whose records were written since the cache's snapshot (a heartbeat's
 * liveness, a claim), a few per second in an idle fleet instead of every
 * host; the others keep their state, only their up is computed again.
 * 1 when it cannot (a host is gone or no longer one, a record it cannot
 * read): the caller refreshes fully.
 */
static int
refresh_some(struct sched *s)
{
	struct load l = { .s = s, .now = live_now(s) };
	struct scheduler_host_state n;
	struct rec_service svc;
	uint64_t since = s->synced_txn, id;
	size_t *idx = NULL, nidx = 0;
	int rc = 0;

	if (store_read_begin(s->store, &l.txn) == -1)
		return -1;
	/* The snapshot first: a write it does not see stamps after or
	 * while it begins, and is read again the next time. */
	id = store_txn_id(l.txn);
	if (s->nhosts > 0 && (idx = malloc(s->nhosts * sizeof(*idx))) ==
	    NULL) {
		store_txn_end(&l.txn);
		err_set(TS_ENOMEM, "sched: out of memory");
		return -1;
	}
	for (size_t i = 0; i < s->nhosts; i++)
		if (stamped_since(s->hosts[i].host, since))
			idx[nidx++] = i;
	for (size_t k = 0; rc == 0 && k < nidx; k++) {
		struct scheduler_host_state *h = &s->hosts[idx[k]];

		/* Gone, no longer a host, or unreadable: the full refresh
		 * drops or skips it (and reports a store error). */
		memset(&svc, 0, sizeof(svc));
		if (db_service_by_host(l.txn, h->host, &svc) == -1) {
			rc = 1;
			break;
		}
		rc = fill(&l, &svc, NULL, &n) == 1 ? 0 : 1;
		codec_clear(&schema_rec_service, &svc);
		if (rc != 0)
			break;
		pthread_mutex_lock(&s->lock);
		snprintf(n.az, sizeof(n.az), "%s", aggregates_host_zone(
		    &s->aggs, n.host, s->az));
		carry_seen(s, h, &n, l.now);
		*h = n;
		pthread_mutex_unlock(&s->lock);
	}
	store_txn_end(&l.txn);
	free(idx);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nhosts; i++) {
		struct scheduler_host_state *h = &s->hosts[i];
		int up = !h->forced_down && l.now - h->seen_at <= s->down_ms;

		if (up != h->up) {
			h->up = up;
			log_transition(h, l.now);
		}
	}
	s->synced_txn = id;
	s->st.partial++;
	s->st.hosts_read += nidx;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int
scheduler_refresh_changed(struct sched *s)
{
	int rc;

	pthread_mutex_lock(&s->refresh_lock);
	if (s->synced_txn == 0 || db_fleet_added_txn() > s->synced_txn ||
	    clock_mono_ms() - s->full_mono >= FULL_REFRESH_MS ||
	    (rc = refresh_some(s)) == 1)
		rc = refresh_full(s);
	pthread_mutex_unlock(&s->refresh_lock);
	return rc;
}

void
scheduler_refresh_stats(struct sched *s, struct scheduler_refresh_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}

/* Lock held. */
static struct scheduler_host_state *
find_locked(struct sched *s, const char *host)
{
	struct scheduler_host_state key;

	/* bsearch() on a NULL array is undefined even with 0 elements: the
	 * cache is empty until the first refresh sees a host. */
	if (s->nhosts == 0)
		return NULL;
	snprintf(key.host, sizeof(key.host), "%s", host);
	return bsearch(&key, s->hosts, s->nhosts, sizeof(*s->hosts),
	    cmp_state);
}

void
scheduler_seen(struct sched *s, const char *host, int64_t now_ms)
{
	struct scheduler_host_state *h;

	pthread_mutex_lock(&s->lock);
	h = find_locked(s, host);
	if (h != NULL && now_ms > h->seen_at) {
		h->seen_at = now_ms;
		h->up = !h->forced_down;
	}
	pthread_mutex_unlock(&s->lock);
}

int
scheduler_host_up(struct sched *s, const char *host)
{
	struct scheduler_host_state *h;
	int up;

	pthread_mutex_lock(&s->lock);
	h = find_locked(s, host);
	up = h != NULL && h->up;
	pthread_mutex_unlock(&s->lock);
	return up;
}

const char *
scheduler_host_status(struct sched *s, const char *host)
{
	struct scheduler_host_state *h;
	const char *st = "UNKNOWN";

	pthread_mutex_lock(&s->lock);
	h = find_locked(s, host);
	if (h != NULL && h->forced_down)
		st = "DOWN";
	else if (h != NULL && h->disabled)
		st = "MAINTENANCE";
	else if (h != NULL && h->up)
		st = "UP";
	pthread_mutex_unlock(&s->lock);
	return st;
}

void
scheduler_host_az(struct sched *s, const char *host,
    char out[SCHEDULER_NAME_MAX + 1])
{
	struct scheduler_host_state *h;

	pthread_mutex_lock(&s->lock);
	h = find_locked(s, host);
	snprintf(out, SCHEDULER_NAME_MAX + 1, "%s", h != NULL ? h->az : s->az);
	pthread_mutex_unlock(&s->lock);
}

int
scheduler_az_known(struct sched *s, const char *zone)
{
	int known = strcmp(zone, s->az) == 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; !known && i < s->nhosts; i++)
		known = !s->hosts[i].disabled && strcmp(s->hosts[i].az,
		    zone) == 0;
	pthread_mutex_unlock(&s->lock);
	return known;
}

int
scheduler_hosts_snapshot(struct sched *s, struct scheduler_host_state **out,
    size_t *n)
{
	pthread_mutex_lock(&s->lock);
	*n = s->nhosts;
	*out = malloc((s->nhosts ? s->nhosts : 1) * sizeof(**out));
	if (*out != NULL && s->nhosts)
		memcpy(*out, s->hosts, s->nhosts * sizeof(**out));
	pthread_mutex_unlock(&s->lock);
	if (*out == NULL) {
		err_set(TS_ENOMEM, "sched: out of memory");
		return -1;
	}
	return 0;
}

void
scheduler_capacity(const struct sched *s, const struct scheduler_host_state *h,
    uint64_t *vcpus, uint64_t *mem, uint64_t *disk)
{
	double m = (double)h->memory_mb * s->ram_ratio -
	    (double)s->reserved_ram;
	double d = (double)h->disk_gb * s->disk_ratio -
	    (double)s->reserved_disk;

	*vcpus = (uint64_t)((double)h->vcpus * s->cpu_ratio);
	*mem = m > 0 ? (uint64_t)m : 0;
	*disk = d > 0 ? (uint64_t)d : 0;
}

/* Up, enabled and not forced down (the cache folds the last into up). */
static int
in_service(const struct scheduler_host_state *h)
{
	return h->up && !h->disabled;
}

/* Lock held. The filters other than capacity: in service, the zone (a
 * forced host skips it, as Nova's forced hosts skip the filters) and the
 * aggregate metadata the flavor asks for. */
static int
passes(const struct sched *s, const struct scheduler_host_state *h,
    const struct scheduler_request *r)
{
	if (!in_service(h))
		return 0;
	if (!(r->force_host && *r->force_host) && r->az && *r->az &&
	    strcmp(h->az, r->az) != 0)
		return 0;
	return aggregates_host_matches(&s->aggs, h->host,
	    r->extra_specs);
}

/* Whether req fits with the given claims; *free_ram gets the RAM left. */
static int
fits(const struct sched *s, const struct scheduler_host_state *h,
    uint64_t vused, uint64_t mused, uint64_t dused,
    const struct scheduler_request *r, int64_t *free_ram)
{
	uint64_t vc, mc, dc;

	scheduler_capacity(s, h, &vc, &mc, &dc);
	*free_ram = (int64_t)mc - (int64_t)mused;
	return vused + r->vcpus <= vc && mused + r->memory_mb <= mc &&
	    dused + r->disk_gb <= dc;
}

/* ---------------------------------------------------------------- rank */

struct cand {
	const struct scheduler_host_state	*h;
	int64_t				 free_ram;
};

static int
cmp_cand(const void *a, const void *b, void *arg)
{
	const struct cand *x = a, *y = b;
	enum scheduler_weigher w = *(const enum scheduler_weigher *)arg;

	if (x->free_ram != y->free_ram) {
		int more = x->free_ram > y->free_ram;

		return w == SCHEDULER_SPREAD ? (more ? -1 : 1) : (more ? 1 : -1);
	}
	if (x->h->instances != y->h->instances)
		return x->h->instances < y->h->instances ? -1 : 1;
	return strcmp(x->h->host, y->h->host);
}

void
scheduler_hosts_free(struct scheduler_hosts *o)
{
	free(o->host);
	o->host = NULL;
	o->n = 0;
}

/*
 * Keeps c[0..*n) the best (at most SCHEDULER_RANK_MAX) candidates seen so
 * far, best first: one comparison rejects most hosts, so a decision at
 * thousands of hosts costs a pass over the cache rather than a sort of it
 * (and copies SCHEDULER_RANK_MAX names rather than one per host).
 */
static void
top_insert(struct cand *c, size_t *n, const struct cand *x,
    enum scheduler_weigher w)
{
	size_t i;

	if (*n == SCHEDULER_RANK_MAX) {
		if (cmp_cand(x, &c[*n - 1], &w) >= 0)
			return;
		(*n)--;
	}
	for (i = *n; i > 0 && cmp_cand(x, &c[i - 1], &w) < 0; i--)
		c[i] = c[i - 1];
	c[i] = *x;
	(*n)++;
}

int
scheduler_rank(struct sched *s, const struct scheduler_request *r,
    struct scheduler_hosts *out)
{
	struct cand c[SCHEDULER_RANK_MAX], x;
	size_t n = 0, passed = 0;
	int stale;

	out->host = NULL;
	out->n = 0;
	out->more = 0;
	if (r->az && *r->az && !scheduler_az_known(s, r->az)) {
		err_set(TS_EINVALID, "The requested availability zone is not "
		    "available");
		return -1;
	}
	/* A host registered since the cache's snapshot is read now, not at
	 * the next second's refresh: a create right after an agent's hello
	 * (service up in the API) must not fail with "No valid host", as
	 * Nova's scheduler reads the compute nodes for every request. One
	 * full refresh per registration batch; on a store error the cache
	 * as it is still serves. */
	pthread_mutex_lock(&s->lock);
	stale = db_fleet_added_txn() > s->synced_txn;
	pthread_mutex_unlock(&s->lock);
	if (stale)
		(void)scheduler_refresh_changed(s);
	if ((out->host = malloc(SCHEDULER_RANK_MAX * sizeof(*out->host))) ==
	    NULL) {
		err_set(TS_ENOMEM, "sched: out of memory");
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	if (r->force_host && *r->force_host &&
	    find_locked(s, r->force_host) == NULL) {
		pthread_mutex_unlock(&s->lock);
		scheduler_hosts_free(out);
		err_set(TS_EINVALID, "No such host - host: %s",
		    r->force_host);
		return -1;
	}
	for (size_t i = 0; i < s->nhosts; i++) {
		const struct scheduler_host_state *h = &s->hosts[i];

		if (r->force_host && *r->force_host &&
		    strcmp(h->host, r->force_host) != 0)
			continue;
		if (r->ignore_host && strcmp(h->host, r->ignore_host) == 0)
			continue;
		if (!passes(s, h, r))
			continue;
		if (!fits(s, h, h->vcpus_used, h->memory_mb_used,
		    h->disk_gb_used, r, &x.free_ram))
			continue;
		x.h = h;
		top_insert(c, &n, &x, s->weigher);
		passed++;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(out->host[i], sizeof(out->host[i]), "%s", c[i].h->host);
	out->n = n;
	out->more = passed > n;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---------------------------------------------------------------- claim */

/*
 * Weighs h with the transaction's claims: h becomes *best when req fits
 * there and h beats *best (*best_free: its RAM left). -1 on a store error.
 */
static int
weigh_claimed(const struct sched *s, struct store_txn *txn,
    const struct scheduler_host_state *h, const struct scheduler_request *r,
    const struct scheduler_host_state **best, int64_t *best_free)
{
	struct rec_host_usage u;
	int64_t fr;

	if (compute_db_host_usage_get(txn, h->host, &u) == -1)
		return -1;
	if (!fits(s, h, u.vcpus, u.memory_mb, u.disk_gb, r, &fr))
		return 0;
	if (*best == NULL || (s->weigher == SCHEDULER_SPREAD ?
	    fr > *best_free : fr < *best_free)) {
		*best = h;
		*best_free = fr;
	}
	return 0;
}

int
scheduler_claim(struct sched *s, struct store_txn *txn,
    const struct scheduler_request *r, const struct scheduler_hosts *cands,
    char host_out[SCHEDULER_NAME_MAX + 1])
{
	const struct scheduler_host_state *best = NULL;
	int64_t best_free = 0;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; rc == 0 && i < cands->n; i++) {
		const struct scheduler_host_state *h = find_locked(s,
		    cands->host[i]);

		if (h == NULL)
			continue;	/* deleted since ranking */
		rc = weigh_claimed(s, txn, h, r, &best, &best_free);
		/* Past the first few, the first fit is good enough: the
		 * ranking was right a moment ago. */
		if (i + 1 >= RECHECK_TOP && best != NULL)
			break;
	}
	/* None of the ranked hosts fits any more (the cache was behind by
	 * that many claims): weigh every host in service. */
	if (best == NULL && cands->more)
		for (size_t i = 0; rc == 0 && i < s->nhosts; i++)
			if (passes(s, &s->hosts[i], r))
				rc = weigh_claimed(s, txn, &s->hosts[i], r,
				    &best, &best_free);
	if (best != NULL)
		snprintf(host_out, SCHEDULER_NAME_MAX + 1, "%s", best->host);
	pthread_mutex_unlock(&s->lock);
	if (rc == -1)
		return -1;
	if (best == NULL) {
		err_set(TS_ENOT_FOUND, "No valid host was found. There are not "
		    "enough hosts available.");
		return -1;
	}
	return compute_db_host_usage_add(txn, host_out, r->vcpus,
	    (int64_t)r->memory_mb, (int64_t)r->disk_gb, 1);
}

int
scheduler_release(struct store_txn *txn, const char *host, uint32_t vcpus,
    uint64_t memory_mb, uint64_t disk_gb)
{
	return compute_db_host_usage_add(txn, host, -(int64_t)vcpus,
	    -(int64_t)memory_mb, -(int64_t)disk_gb, -1);
}
