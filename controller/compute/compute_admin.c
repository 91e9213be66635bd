/*
 * compute_admin: the inventory and limits side of the Compute API:
 * os-hypervisors, os-services, os-availability-zone, os-quota-sets and
 * limits (os-aggregates: compute_aggregates.c).
 *
 * A compute host is one agent: its service record (liveness, the
 * operator's disable/force-down switches), its hypervisor record (what
 * libvirt reports) and its claims (host_usage, what the scheduler placed
 * there). Hypervisor and service ids are the host's integer id
 * (compute_nodes), as clients below microversion 2.53 expect.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aggregates.h"
#include "codec.h"
#include "compute_int.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "http/jsonout.h"
#include "http/jsonreq.h"
#include "log.h"
#include "metrics.h"

#define NOVA_BINARY	"nova-compute"
/* Nova's [api] max_limit: the longest page of a paged list. */
#define HV_PAGE_MAX	1000
#define AGENT_BINARY	"tinystack-agent"

void
compute_admin_quota_limits(struct compute *s, const struct rec_compute_quota *q,
    struct compute_quota_defaults *o)
{
	*o = s->qdef;
#define OVR(f) if (q->has_##f) o->f = q->f
	OVR(instances);
	OVR(cores);
	OVR(ram);
	OVR(key_pairs);
	OVR(metadata_items);
	OVR(server_groups);
	OVR(server_group_members);
	OVR(injected_files);
	OVR(injected_file_content_bytes);
	OVR(injected_file_path_bytes);
#undef OVR
}

/* ---- hosts ----------------------------------------------------------------- */

struct host {
	struct rec_service	svc;
	struct rec_hypervisor	hv;
	uint32_t		id;
	int			up;
	struct rec_host_usage	use;
	uint32_t		instances;
	uint32_t		workload;	/* instances with a task */
};

struct hosts {
	struct store_txn	*txn;
	int64_t			 now, down_ms;
	struct host		*v;
	size_t			 n, cap;
	int			 missing_id;
	int64_t			 reserved_mb;	/* [scheduler]
						 * reserved_host_memory_mb */
	/* What the views read of the records: not the service's counters,
	 * not a hypervisor's usage fields. */
	struct codec_fieldset	 svc_want, hv_want;
};

static int
copy_rec(const struct schema_type *t, const void *src, void *dst)
{
	struct buf b = { 0 };
	int rc = codec_record_encode(t, src, &b);

	memset(dst, 0, t->size);
	if (rc == 0)
		rc = codec_record_decode(t, b.data, b.len, dst, NULL);
	buf_free(&b);
	return rc;
}

static const char *const svc_fields[] = { "host", "binary", "disabled",
	"disabled_reason", "forced_down", "last_seen_at", "updated_at", NULL };
/* The map is read only until these were seen. */
static const char *const hv_fields[] = { "hypervisor_type",
	"hypervisor_version", "cpu_model", "cpu_arch", "vcpus", "memory_mb",
	"local_gb", NULL };

/* A free slot at the end of hs->v (not counted until filled). */
static struct host *
host_slot(struct hosts *hs)
{
	if (hs->n == hs->cap) {
		size_t ncap = hs->cap ? hs->cap * 2 : 16;
		struct host *nv = realloc(hs->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return NULL;
		}
		hs->v = nv;
		hs->cap = ncap;
	}
	memset(&hs->v[hs->n], 0, sizeof(hs->v[hs->n]));
	return &hs->v[hs->n];
}

/* The rest of a host whose service is in h->svc: 1 the list shows it
 * (h filled but for the id), 0 it does not, -1 an error; h is cleared
 * unless 1. */
static int
host_rest(struct hosts *hs, struct host *h)
{
	const void *raw;
	size_t len;

	if (strcmp(h->svc.binary, AGENT_BINARY) != 0) {
		codec_clear(&schema_rec_service, &h->svc);
		return 0;
	}
	/* A host that never described itself is not shown. */
	if (db_hypervisor_raw_by_host(hs->txn, h->svc.host, &raw, &len) ==
	    -1 || codec_record_decode_some(&schema_rec_hypervisor, raw, len,
	    &hs->hv_want, &h->hv) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			log_warnx("%s: skipping host %s: %s", T_HYPERVISORS,
			    h->svc.host, err_msg());
		codec_clear(&schema_rec_service, &h->svc);
		return 0;
	}
	h->up = !h->svc.forced_down &&
	    hs->now - h->svc.last_seen_at <= hs->down_ms;
	/* The claims count the instances placed there (same transaction
	 * as the instances, audited at start-up). */
	if (compute_db_host_usage_get(hs->txn, h->svc.host, &h->use) == -1) {
		codec_clear(&schema_rec_service, &h->svc);
		codec_clear(&schema_rec_hypervisor, &h->hv);
		return -1;
	}
	h->instances = h->use.instances;
	return 1;
}

static int
host_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct hosts *hs = arg;
	struct host *h;
	struct rec_compute_node node;
	int rc;

	(void)k;
	(void)kl;
	if ((h = host_slot(hs)) == NULL)
		return -1;
	if (codec_record_decode_some(&schema_rec_service, v, vl,
	    &hs->svc_want, &h->svc) == -1) {
		/* One unreadable record must not hide the others. */
		log_warnx("%s: skipping undecodable record: %s", T_SERVICES,
		    err_msg());
		return 0;
	}
	if ((rc = host_rest(hs, h)) != 1)
		return rc;
	if (compute_db_node_get(hs->txn, h->svc.host, &node) == 0) {
		h->id = node.id;
		codec_clear(&schema_rec_compute_node, &node);
	} else {
		hs->missing_id = 1;
	}
	hs->n++;
	return 0;
}

/* current_workload: instances with a task, per host (few at a time). The
 * hosts of the task instances are gathered, sorted, and each listed host
 * counts its own there: tasks times hosts string compares are 30 ms at
 * 10,000 hosts and a few hundred tasks. */
struct task_hosts {
	struct store_txn	 *txn;
	char			**v;
	size_t			  n, cap;
};

static int
workload_cb(const char *uuid, void *arg)
{
	struct task_hosts *t = arg;
	struct rec_instance i;
	int rc = 0;

	if (compute_db_instance_get(t->txn, uuid, &i) == -1)
		return 0;
	if (i.host != NULL) {
		if (t->n == t->cap) {
			size_t ncap = t->cap ? t->cap * 2 : 64;
			char **nv = realloc(t->v, ncap * sizeof(*nv));

			if (nv == NULL) {
				err_set(TS_ENOMEM, "out of memory");
				rc = -1;
				goto out;
			}
			t->v = nv;
			t->cap = ncap;
		}
		/* taken from the record */
		t->v[t->n++] = i.host;
		i.host = NULL;
	}
out:
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* How many of t's (sorted) hosts are host. */
static uint32_t
task_count(const struct task_hosts *t, const char *host)
{
	size_t lo = 0, hi = t->n, k;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->v[mid], host) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < t->n && strcmp(t->v[k], host) == 0; k++)
		;
	return (uint32_t)(k - lo);
}

static int
hosts_workload(struct hosts *hs)
{
	struct task_hosts t = { 0 };
	int rc;

	t.txn = hs->txn;
	rc = compute_db_task_each(hs->txn, workload_cb, &t);
	if (rc == 0 && t.n > 0) {
		qsort(t.v, t.n, sizeof(*t.v), cmp_str);
		for (size_t k = 0; k < hs->n; k++)
			hs->v[k].workload += task_count(&t, hs->v[k].svc.host);
	}
	for (size_t k = 0; k < t.n; k++)
		free(t.v[k]);
	free(t.v);
	return rc;
}

static void
hosts_free(struct hosts *hs)
{
	for (size_t k = 0; k < hs->n; k++) {
		codec_clear(&schema_rec_service, &hs->v[k].svc);
		codec_clear(&schema_rec_hypervisor, &hs->v[k].hv);
	}
	free(hs->v);
	memset(hs, 0, sizeof(*hs));
}

static int
ids_fn(struct store_txn *txn, void *arg)
{
	struct hosts *hs = arg;
	uint32_t id;

	for (size_t k = 0; k < hs->n; k++)
		if (hs->v[k].id == 0 && compute_db_node_ensure(txn,
		    hs->v[k].svc.host, db_now_ms(), &id) == -1)
			return -1;
	return 0;
}

struct id_at {
	uint32_t	id;
	uint32_t	at;	/* index in hs->v */
};

/* By id, then place: the order a stable sort of the hosts by id gives. */
static int
cmp_id_at(const void *a, const void *b)
{
	const struct id_at *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* hs->v by id. The hosts are large: sorted as (id, index) pairs, then
 * moved once, rather than moved at every step of the sort. */
static int
hosts_sort(struct hosts *hs)
{
	struct id_at *o;
	struct host *nv;
	size_t k;

	if (hs->n > UINT32_MAX) {
		err_set(TS_EINTERNAL, "too many hosts");
		return -1;
	}
	o = malloc(hs->n * sizeof(*o));
	nv = malloc(hs->n * sizeof(*nv));
	if (o == NULL || nv == NULL) {
		free(o);
		free(nv);
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (k = 0; k < hs->n; k++)
		o[k] = (struct id_at){ hs->v[k].id, (uint32_t)k };
	qsort(o, hs->n, sizeof(*o), cmp_id_at);
	for (k = 0; k < hs->n; k++)
		nv[k] = hs->v[o[k].at];
	free(o);
	free(hs->v);
	hs->v = nv;
	hs->cap = hs->n;
	return 0;
}

/* Every compute host in one read transaction; with workload, also each
 * host's instances with a task. */
/* hs empty, with its settings and an open read transaction. */
static int
hosts_begin(struct compute *svc, struct hosts *hs)
{
	memset(hs, 0, sizeof(*hs));
	hs->now = db_now_ms();
	hs->down_ms = config_get_int(svc->cfg, "DEFAULT",
	    "service_down_time") * 1000;
	hs->reserved_mb = config_get_int(svc->cfg, "scheduler",
	    "reserved_host_memory_mb");
	if (codec_fieldset_init(&schema_rec_service, svc_fields,
	    &hs->svc_want) == -1 || codec_fieldset_init(&schema_rec_hypervisor,
	    hv_fields, &hs->hv_want) == -1)
		return -1;
	return store_read_begin(svc->store, &hs->txn);
}

static int
hosts_read(struct compute *svc, struct hosts *hs, bool workload)
{
	size_t nsvc = 0;
	int rc;

	if (hosts_begin(svc, hs) == -1)
		return -1;
	/* Room for every service at once: hosts are large, and doubling
	 * moved them again and again (about 4 MB at 10,000). */
	rc = store_count(hs->txn, T_SERVICES, &nsvc);
	if (rc == 0 && nsvc > 0 &&
	    (hs->v = malloc(nsvc * sizeof(*hs->v))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		rc = -1;
	}
	if (rc == 0) {
		hs->cap = nsvc;
		rc = store_iter(hs->txn, T_SERVICES, NULL, 0, host_cb, hs);
	}
	if (rc == 0 && workload)
		rc = hosts_workload(hs);
	store_txn_end(&hs->txn);
	if (rc == -1)
		hosts_free(hs);
	return rc;
}

static int
hosts_load_once(struct http_req *req, struct hosts *hs)
{
	return hosts_read(compute_of(req), hs, true);
}

/* Every compute host, by id. A host first seen by a controller that
 * predates its id gets one now. */
static int
hosts_load(struct http_req *req, struct hosts *hs)
{
	if (hosts_load_once(req, hs) == -1)
		return -1;
	if (hs->missing_id) {
		if (compute_write(req, ids_fn, hs) == -1) {
			hosts_free(hs);
			return -1;
		}
		hosts_free(hs);
		if (hosts_load_once(req, hs) == -1)
			return -1;
	}
	if (hs->n > 1 && hosts_sort(hs) == -1) {
		hosts_free(hs);
		return -1;
	}
	return 0;
}

/* ---- one page of hosts ------------------------------------------------------ */

/*
 * From 2.33 a list is a page (at most HV_PAGE_MAX hosts) and only the
 * page's hosts are decoded. The order comes from compute_nodes (host ->
 * id: one small record a host, read per request rather than cached, so
 * that nothing can go stale across an HA failover or a restart), sorted
 * by id; the page walks it from the marker and skips the hosts the list
 * does not show (no agent service, no hypervisor record). What the page
 * shows is what the full list (hosts_load) would show from that marker.
 */
struct node_ref {
	uint32_t	 id;
	const char	*host;	/* borrowed from the read transaction */
	size_t		 len;	/* not NUL-terminated */
};

struct node_refs {
	struct node_ref		*v;
	size_t			 n, cap;
	struct codec_fieldset	 want;
};

static int
node_ref_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct node_refs *nr = arg;
	struct rec_compute_node node;

	if (nr->n == nr->cap) {
		size_t ncap = nr->cap ? nr->cap * 2 : 256;
		struct node_ref *nv = realloc(nr->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		nr->v = nv;
		nr->cap = ncap;
	}
	memset(&node, 0, sizeof(node));
	if (codec_record_decode_some(&schema_rec_compute_node, v, vl,
	    &nr->want, &node) == -1) {
		/* The host counts as one without an id (see page_ids). */
		log_warnx("%s: skipping undecodable record: %s",
		    T_COMPUTE_NODES, err_msg());
		return 0;
	}
	nr->v[nr->n].id = node.id;
	nr->v[nr->n].host = k;
	nr->v[nr->n].len = kl;
	nr->n++;
	codec_clear(&schema_rec_compute_node, &node);
	return 0;
}

/* LMDB's key order, in which the table hands the refs out. */
static int
cmp_key(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : al < bl ? -1 : al > bl;
}

static const struct node_ref *
node_by_host(const struct node_refs *nr, const char *host, size_t len)
{
	size_t lo = 0, hi = nr->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(nr->v[mid].host, nr->v[mid].len, host, len);

		if (c == 0)
			return &nr->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
cmp_node_id(const void *a, const void *b)
{
	const struct node_ref *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct svc_find {
	struct hosts	*hs;
	struct host	*h;
	int		 found;
};

static int
svc_find_cb(const void *pk, size_t pklen, void *arg)
{
	struct svc_find *f = arg;
	const void *v;
	size_t vl;

	if (store_get(f->hs->txn, T_SERVICES, pk, pklen, &v, &vl) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	memset(&f->h->svc, 0, sizeof(f->h->svc));
	if (codec_record_decode_some(&schema_rec_service, v, vl,
	    &f->hs->svc_want, &f->h->svc) == -1) {
		log_warnx("%s: skipping undecodable record: %s", T_SERVICES,
		    err_msg());
		return 0;
	}
	if (strcmp(f->h->svc.binary, AGENT_BINARY) != 0) {
		codec_clear(&schema_rec_service, &f->h->svc);
		return 0;
	}
	f->found = 1;
	return 1;
}

/* The host named by a key (len bytes) into h, as host_cb() would: 1 the
 * list shows it, 0 not (h cleared), -1 an error. */
static int
host_by_name(struct hosts *hs, const char *key, size_t len, struct host *h)
{
	char host[STORE_KEY_MAX + 1];
	struct svc_find f = { hs, h, 0 };

	memset(h, 0, sizeof(*h));
	if (len == 0 || len > STORE_KEY_MAX)
		return 0;
	memcpy(host, key, len);
	host[len] = '\0';
	if (store_index_iter(hs->txn, T_SERVICES_BY_HOST, host, len,
	    svc_find_cb, &f) == -1)
		return -1;
	return f.found ? host_rest(hs, h) : 0;
}

static void
host_clear(struct host *h)
{
	codec_clear(&schema_rec_service, &h->svc);
	codec_clear(&schema_rec_hypervisor, &h->hv);
}

/* A marker as hv_list() prints ids ("%u": no sign, no leading zero). */
static int
marker_id(const char *m, uint32_t *id)
{
	uint64_t v = 0;
	char back[16];

	if (*m == '\0' || strlen(m) > 10)
		return -1;
	for (const char *p = m; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	snprintf(back, sizeof(back), "%u", (unsigned)v);
	if (strcmp(back, m) != 0)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

struct ids_scan {
	struct hosts		*hs;
	const struct node_refs	*nr;
	const char		*last;
	size_t			 lastlen;
	int			 missing;
};

/* T_SERVICES_BY_HOST keys are host 0x00 service id. */
static int
ids_scan_cb(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct ids_scan *s = arg;
	const char *nul = memchr(k, '\0', kl);
	size_t len = nul != NULL ? (size_t)(nul - (const char *)k) : kl;
	struct host h;
	int rc;

	(void)v;
	(void)vl;
	if (s->last != NULL && len == s->lastlen &&
	    memcmp(k, s->last, len) == 0)
		return 0;
	s->last = k;
	s->lastlen = len;
	if (node_by_host(s->nr, k, len) != NULL)
		return 0;
	if ((rc = host_by_name(s->hs, k, len, &h)) != 1)
		return rc;
	host_clear(&h);
	s->missing = 1;
	return 1;
}

/*
 * One page in hs, by id after marker (NULL: from the first). With
 * check_ids, *missing is set instead when a host the list shows has no
 * id yet (hs then empty).
 */
static int
hosts_page_once(struct compute *svc, struct hosts *hs, const char *marker,
    size_t limit, bool workload, bool check_ids, int *missing)
{
	struct node_refs nr = { 0 };
	static const char *const node_fields[] = { "id", NULL };
	size_t from = 0;
	int rc;

	*missing = 0;
	if (hosts_begin(svc, hs) == -1)
		return -1;
	rc = codec_fieldset_init(&schema_rec_compute_node, node_fields,
	    &nr.want);
	if (rc == 0)
		rc = store_iter(hs->txn, T_COMPUTE_NODES, NULL, 0, node_ref_cb,
		    &nr);
	if (rc == 0 && check_ids) {
		struct ids_scan sc = { hs, &nr, NULL, 0, 0 };

		rc = store_iter(hs->txn, T_SERVICES_BY_HOST, NULL, 0,
		    ids_scan_cb, &sc);
		if (rc == 0 && sc.missing) {
			*missing = 1;
			goto done;
		}
	}
	if (rc == -1)
		goto done;
	if (nr.n > 1)
		qsort(nr.v, nr.n, sizeof(*nr.v), cmp_node_id);
	if (marker != NULL) {
		/* Only a shown host's id, in the form it is shown in. */
		struct host h;
		uint32_t mid;
		int shown = 0;

		from = nr.n;
		if (marker_id(marker, &mid) == 0) {
			size_t lo = 0, hi = nr.n;

			while (lo < hi) {
				size_t m = lo + (hi - lo) / 2;

				if (nr.v[m].id < mid)
					lo = m + 1;
				else
					hi = m;
			}
			if (lo < nr.n && nr.v[lo].id == mid)
				from = lo;
		}
		if (from < nr.n && (shown = host_by_name(hs, nr.v[from].host,
		    nr.v[from].len, &h)) == 1)
			host_clear(&h);
		if (shown == -1) {
			rc = -1;
			goto done;
		}
		if (!shown) {
			err_set(TS_EINVALID, "marker [%.64s] not found",
			    marker);
			rc = -1;
			goto done;
		}
		from++;
	}
	for (size_t k = from; k < nr.n && hs->n < limit; k++) {
		struct host *h;
		int r;

		if ((h = host_slot(hs)) == NULL) {
			rc = -1;
			break;
		}
		if ((r = host_by_name(hs, nr.v[k].host, nr.v[k].len, h)) ==
		    -1) {
			rc = -1;
			break;
		}
		if (r == 1) {
			h->id = nr.v[k].id;
			hs->n++;
		}
	}
	if (rc == 0 && workload && hs->n > 0)
		rc = hosts_workload(hs);
done:
	/* nr's keys point into the transaction: gone with it. */
	free(nr.v);
	store_txn_end(&hs->txn);
	if (rc == -1 || *missing)
		hosts_free(hs);
	return rc;
}

/* A page of hosts (hv_list from 2.33). A shown host without an id gets
 * one as hosts_load() gives it, then the page is read again. */
static int
hosts_page(struct http_req *req, struct hosts *hs, const char *marker,
    size_t limit, bool workload)
{
	struct hosts all;
	int missing;

	if (hosts_page_once(compute_of(req), hs, marker, limit, workload,
	    true, &missing) == -1)
		return -1;
	if (!missing)
		return 0;
	if (hosts_load(req, &all) == -1)
		return -1;
	hosts_free(&all);
	return hosts_page_once(compute_of(req), hs, marker, limit, workload,
	    false, &missing);
}

static void
host_numbers(const struct hosts *hs, const struct host *h, int64_t *free_ram,
    int64_t *free_disk, int64_t *mem_used, int64_t *disk_used)
{
	/* As Nova reports them: used includes the host's reservation;
	 * free is what is left of the physical amount (it can be negative
	 * with overcommit). */
	*mem_used = (int64_t)h->use.memory_mb + hs->reserved_mb;
	*disk_used = (int64_t)h->use.disk_gb;
	*free_ram = (int64_t)h->hv.memory_mb - *mem_used;
	*free_disk = (int64_t)h->hv.local_gb - *disk_used;
}

/*
 * The views are written as JSON text (controller/http/jsonout.h), not
 * built as jansson objects: at 1,000 hosts the objects cost several times
 * the data. Member order and number forms are what the jansson views
 * wrote before (json_pack's order; ints as Nova's: id, vcpus and the
 * counts as int, the rest 64-bit).
 */
static int
hv_brief_w(struct buf *b, const struct host *h)
{
	buf_puts(b, "{\"id\":");
	jsonout_int(b, (int)h->id);
	buf_puts(b, ",\"hypervisor_hostname\":");
	jsonout_str(b, h->svc.host);
	buf_puts(b, h->up ? ",\"state\":\"up\"" : ",\"state\":\"down\"");
	return buf_puts(b, h->svc.disabled ? ",\"status\":\"disabled\"" :
	    ",\"status\":\"enabled\"");
}

static json_t *
hv_brief(const struct host *h)
{
	struct buf b = { 0 };
	json_t *o = NULL;

	if (hv_brief_w(&b, h) == 0 && buf_puts(&b, "}") == 0 &&
	    (o = json_loadb((const char *)b.data, b.len, 0, NULL)) == NULL)
		err_set(TS_EINTERNAL, "hypervisor view does not parse");
	buf_free(&b);
	return o;
}

static void
member_int(struct buf *b, const char *key, int64_t v)
{
	buf_puts(b, ",");
	jsonout_key(b, key);
	jsonout_int(b, v);
}

/* cpu_info's object, {"arch":...,"features":[]}. */
static void
cpu_info_w(struct buf *b, const struct host *h)
{
	buf_puts(b, "{\"arch\":");
	jsonout_str(b, h->hv.cpu_arch);
	buf_puts(b, ",\"model\":");
	jsonout_str(b, h->hv.cpu_model);
	buf_puts(b, ",\"vendor\":\"\",\"topology\":{\"cells\":1,"
	    "\"sockets\":1,\"cores\":");
	jsonout_int(b, (int)h->hv.vcpus);
	buf_puts(b, ",\"threads\":1},\"features\":[]}");
}

/* cpu_info: a JSON text below microversion 2.28, the object from then
 * on (Nova's). cpu: scratch space for the text (NULL: one of its own),
 * kept across the hosts of a list so that each does not allocate. */
static int
hv_detail_w(const struct hosts *hs, struct buf *b, const struct host *h,
    int mv, struct buf *cpu)
{
	int64_t free_ram, free_disk, mem_used, disk_used;
	struct buf own = { 0 };

	host_numbers(hs, h, &free_ram, &free_disk, &mem_used, &disk_used);
	hv_brief_w(b, h);
	buf_puts(b, ",\"hypervisor_type\":");
	jsonout_str(b, strcasecmp(h->hv.hypervisor_type, "QEMU") == 0 ?
	    "QEMU" : h->hv.hypervisor_type);
	member_int(b, "hypervisor_version", (int64_t)h->hv.hypervisor_version);
	buf_puts(b, ",\"host_ip\":null");
	member_int(b, "vcpus", (int)h->hv.vcpus);
	member_int(b, "vcpus_used", (int)h->use.vcpus);
	member_int(b, "memory_mb", (int64_t)h->hv.memory_mb);
	member_int(b, "memory_mb_used", mem_used);
	member_int(b, "local_gb", (int64_t)h->hv.local_gb);
	member_int(b, "local_gb_used", disk_used);
	member_int(b, "free_ram_mb", free_ram);
	member_int(b, "free_disk_gb", free_disk);
	member_int(b, "disk_available_least", free_disk);
	member_int(b, "current_workload", (int)h->workload);
	member_int(b, "running_vms", (int)h->instances);
	buf_puts(b, ",\"cpu_info\":");
	if (request_mv_has(mv, MV_CPU_INFO_OBJECT)) {
		cpu_info_w(b, h);
	} else {
		if (cpu == NULL)
			cpu = &own;
		/* emptied, not freed: a failed one stays failed */
		cpu->len = 0;
		cpu_info_w(cpu, h);
		if (cpu->failed)
			b->failed = true;
		else
			jsonout_str(b, (const char *)cpu->data);
		buf_free(&own);
	}
	buf_puts(b, ",\"service\":{\"host\":");
	jsonout_str(b, h->svc.host);
	member_int(b, "id", (int)h->id);
	buf_puts(b, ",\"disabled_reason\":");
	jsonout_str_or_null(b, h->svc.disabled_reason);
	return buf_puts(b, "}}");
}


/*
 * From microversion 2.33 a page: limit (Nova's max_limit caps it) and
 * marker (a hypervisor id; one that is not there is a 400), by id; a
 * page as long as the limit gets "hypervisors_links" with the next one
 * (Nova's _get_collection_links, also when it happens to be the last).
 */
/* Nova's index_query_v233 (2.33-2.52). */
static const struct jsonreq_qparam hv_query[] = {
	{ "limit", JSONREQ_Q_UINT, NULL },
};

static int
hv_list(struct http_req *req, struct http_resp *resp, bool detail)
{
	const char *marker = NULL;
	int64_t limit = INT32_MAX;	/* below 2.33: all */
	bool has_limit = false;
	struct hosts hs;
	struct buf b = { 0 }, cpu = { 0 };
	size_t n = 0;
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (request_mv_has(mv, MV_HYPERVISOR_PAGING)) {
		if (COMPUTE_QUERY_CHECK(req, hv_query, false) == -1)
			return -1;
		limit = compute_query_limit(req, HV_PAGE_MAX, &has_limit);
		marker = http_req_query(req, "marker");
		/* current_workload only in the detail view. */
		if (hosts_page(req, &hs, marker, (size_t)limit, detail) == -1)
			return -1;
	} else if (hosts_load(req, &hs) == -1) {
		return -1;
	}
	/* About 700 bytes a host in detail. */
	buf_reserve(&b, (detail ? 768 : 128) * hs.n + 256);
	buf_puts(&b, "{\"hypervisors\":[");
	for (size_t k = 0; k < hs.n && n < (size_t)limit; k++, n++) {
		if (n > 0)
			buf_puts(&b, ",");
		if (detail)
			hv_detail_w(&hs, &b, &hs.v[k], mv, &cpu);
		else if (hv_brief_w(&b, &hs.v[k]) == 0)
			buf_puts(&b, "}");
	}
	buf_puts(&b, "]");
	if (request_mv_has(mv, MV_HYPERVISOR_PAGING) && n > 0 &&
	    n == (size_t)limit) {
		char href[2048], id[16];

		snprintf(id, sizeof(id), "%u", hs.v[n - 1].id);
		if (compute_next_href(req, detail ? "os-hypervisors/detail" :
		    "os-hypervisors", id, href, sizeof(href)) == 0) {
			buf_puts(&b, ",\"hypervisors_links\":[{\"rel\":"
			    "\"next\",\"href\":");
			jsonout_str(&b, href);
			buf_puts(&b, "}]");
		}
	}
	buf_puts(&b, "}");
	buf_free(&cpu);
	hosts_free(&hs);
	return http_resp_buf(resp, 200, "application/json", &b);
}

int
compute_admin_hypervisor_list(struct http_req *req, struct http_resp *resp)
{
	return hv_list(req, resp, false);
}

int
compute_admin_hypervisor_detail(struct http_req *req, struct http_resp *resp)
{
	return hv_list(req, resp, true);
}

int
compute_admin_hypervisor_statistics(struct http_req *req, struct http_resp *resp)
{
	int64_t vc = 0, vu = 0, mem = 0, mu = 0, lg = 0, lu = 0, fr = 0, fd = 0,
	    wl = 0, rv = 0;
	struct hosts hs;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || hosts_load(req, &hs) == -1)
		return -1;
	for (size_t k = 0; k < hs.n; k++) {
		int64_t a, b, c, d;

		host_numbers(&hs, &hs.v[k], &a, &b, &c, &d);
		vc += hs.v[k].hv.vcpus;
		vu += (int64_t)hs.v[k].use.vcpus;
		mem += (int64_t)hs.v[k].hv.memory_mb;
		mu += c;
		lg += (int64_t)hs.v[k].hv.local_gb;
		lu += d;
		fr += a;
		fd += b;
		wl += hs.v[k].workload;
		rv += hs.v[k].instances;
	}
	mv = (int)hs.n;
	hosts_free(&hs);
	return http_resp_json(resp, 200, json_pack("{s:{s:i, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "hypervisor_statistics",
	    "count", mv, "vcpus", (json_int_t)vc, "vcpus_used", (json_int_t)vu,
	    "memory_mb", (json_int_t)mem, "memory_mb_used", (json_int_t)mu,
	    "local_gb", (json_int_t)lg, "local_gb_used", (json_int_t)lu,
	    "free_ram_mb", (json_int_t)fr, "free_disk_gb", (json_int_t)fd,
	    "disk_available_least", (json_int_t)fd,
	    "current_workload", (json_int_t)wl, "running_vms",
	    (json_int_t)rv));
}

/* ---- metrics ------------------------------------------------------------ */

/* Per-host families, named as openstack-exporter names them, with the
 * numbers os-hypervisors/detail shows (host_numbers()). */
enum { F_STATE, F_VCPUS, F_VCPUS_USED, F_MEM, F_MEM_USED, F_DISK,
	F_DISK_USED, F_RUNNING, F__N };
static const struct {
	const char	*name, *help;
} host_fams[F__N] = {
	[F_STATE] = { "openstack_nova_agent_state",
	    "1 if the host's nova-compute service (its agent) is up." },
	[F_VCPUS] = { "openstack_nova_vcpus_available",
	    "vCPUs of the host (os-hypervisors vcpus)." },
	[F_VCPUS_USED] = { "openstack_nova_vcpus_used",
	    "vCPUs claimed by the host's servers." },
	[F_MEM] = { "openstack_nova_memory_available_bytes",
	    "Memory of the host (memory_mb)." },
	[F_MEM_USED] = { "openstack_nova_memory_used_bytes",
	    "Memory claimed, with the host's reservation (memory_mb_used)." },
	[F_DISK] = { "openstack_nova_local_storage_available_bytes",
	    "Local disk of the host (local_gb)." },
	[F_DISK_USED] = { "openstack_nova_local_storage_used_bytes",
	    "Local disk claimed by the host's servers (local_gb_used)." },
	[F_RUNNING] = { "openstack_nova_running_vms",
	    "Servers placed on the host (running_vms)." },
};

static void	recon_metrics(struct recon *, struct buf *);

/* A histogram with the +Inf bucket only: the sums are what is kept. */
static void
create_phases(struct buf *out, struct compute *svc)
{
	static const char *n = "tinystack_create_phase_seconds";
	double count = (double)atomic_load_explicit(&svc->creates_timed,
	    memory_order_relaxed);

	metrics_write_family(out, n, METRICS_HISTOGRAM, "Time of the server "
	    "creates answered 202, by phase: request (MHD, token and body "
	    "before the handler), prepare, rank (scheduler), write (durable "
	    "group commit, queue and wake-up included; its parts: "
	    "write_queue, write_batch (the batch's functions and commit), "
	    "write_wake), dispatch (the agent's command), respond.");
	for (int k = 0; k < CREATE_PH__N + 3; k++) {
		static const char *const parts[] = { "write_queue",
		    "write_batch", "write_wake" };
		const char *ph = k < CREATE_PH__N ?
		    compute_create_phase_names[k] : parts[k - CREATE_PH__N];
		double us = (double)atomic_load_explicit(k < CREATE_PH__N ?
		    &svc->create_us[k] : &svc->create_write_us[k -
		    CREATE_PH__N], memory_order_relaxed);

		metrics_write_sample(out, "tinystack_create_phase_seconds_bucket",
		    (const char *[]){ "phase", ph, "le", "+Inf", NULL }, count);
		metrics_write_sample(out, "tinystack_create_phase_seconds_sum",
		    (const char *[]){ "phase", ph, NULL }, us / 1e6);
		metrics_write_sample(out, "tinystack_create_phase_seconds_count",
		    (const char *[]){ "phase", ph, NULL }, count);
	}
}

void
compute_metrics_collect(struct buf *out, void *arg)
{
	struct compute *svc = arg;
	struct hosts hs;
	size_t up = 0, down = 0, disabled = 0;
	char id[16];

	recon_metrics(svc->recon, out);
	create_phases(out, svc);
	if (hosts_read(svc, &hs, false) == -1) {
		log_warnx("metrics: hypervisors: %s", err_msg());
		return;
	}
	for (int f = 0; f < F__N; f++) {
		metrics_write_family(out, host_fams[f].name, METRICS_GAUGE,
		    host_fams[f].help);
		for (size_t k = 0; k < hs.n; k++) {
			const struct host *h = &hs.v[k];
			int64_t fr, fd, mu, du;
			double v = 0;
			char zone[SCHEDULER_NAME_MAX + 1];
			const char *hv[] = { "hostname", h->svc.host,
			    "availability_zone", zone, "aggregates", "",
			    NULL };
			const char *st[] = { "hostname", h->svc.host, "id", id,
			    "service", NOVA_BINARY, "zone", zone,
			    "adminState", h->svc.disabled ? "disabled" :
			    "enabled", "disabledReason",
			    h->svc.disabled_reason ? h->svc.disabled_reason :
			    "", NULL };

			scheduler_host_az(svc->sched, h->svc.host, zone);
			host_numbers(&hs, h, &fr, &fd, &mu, &du);
			switch (f) {
			case F_STATE:
				snprintf(id, sizeof(id), "%u", h->id);
				metrics_write_sample(out, host_fams[f].name,
				    st, h->up);
				if (h->svc.disabled)
					disabled++;
				else if (h->up)
					up++;
				else
					down++;
				continue;
			case F_VCPUS: v = h->hv.vcpus; break;
			case F_VCPUS_USED: v = h->use.vcpus; break;
			case F_MEM: v = (double)h->hv.memory_mb * 1048576; break;
			case F_MEM_USED: v = (double)mu * 1048576; break;
			case F_DISK: v = (double)h->hv.local_gb * 1073741824.0;
				break;
			case F_DISK_USED: v = (double)du * 1073741824.0; break;
			case F_RUNNING: v = h->instances; break;
			}
			metrics_write_sample(out, host_fams[f].name, hv, v);
		}
	}
	metrics_write_family(out, "tinystack_hypervisors", METRICS_GAUGE,
	    "Compute hosts by state: up, down (no heartbeat within "
	    "service_down_time, or forced down) or disabled (by an "
	    "operator, whatever their heartbeat).");
	metrics_write_sample(out, "tinystack_hypervisors",
	    (const char *[]){ "state", "up", NULL }, (double)up);
	metrics_write_sample(out, "tinystack_hypervisors",
	    (const char *[]){ "state", "down", NULL }, (double)down);
	metrics_write_sample(out, "tinystack_hypervisors",
	    (const char *[]){ "state", "disabled", NULL }, (double)disabled);
	hosts_free(&hs);
}

/* The recon thread's backlog: what it holds in memory when it lags. */
static void
recon_metrics(struct recon *r, struct buf *out)
{
	struct recon_stats rs;

	if (r == NULL)
		return;
	recon_stats(r, &rs);
	metrics_write_family(out, "tinystack_recon_queue_events",
	    METRICS_GAUGE, "Events (heartbeat reports, agents' replies) "
	    "waiting for the reconciler thread.");
	metrics_write_sample(out, "tinystack_recon_queue_events", NULL,
	    (double)rs.queued);
	metrics_write_family(out, "tinystack_recon_reports_total",
	    METRICS_COUNTER, "Heartbeat reports not reconciled: skipped (the "
	    "host was as it should be and reported the same guests) or "
	    "superseded (a newer report of the host replaced it in the "
	    "queue).");
	metrics_write_sample(out, "tinystack_recon_reports_total",
	    (const char *[]){ "outcome", "skipped", NULL },
	    (double)rs.reports_skipped);
	metrics_write_sample(out, "tinystack_recon_reports_total",
	    (const char *[]){ "outcome", "superseded", NULL },
	    (double)rs.reports_superseded);
}

/* The host of {hypervisor_id} (an integer id). */
static const struct host *
find_id(struct http_req *req, const struct hosts *hs)
{
	const char *s = http_req_param(req, "hypervisor_id");
	char *end;
	long id = strtol(s, &end, 10);

	for (size_t k = 0; *s && *end == '\0' && k < hs->n; k++)
		if ((long)hs->v[k].id == id)
			return &hs->v[k];
	err_set(TS_ENOT_FOUND, "Hypervisor with ID %.64s could not be found.",
	    s);
	return NULL;
}

int
compute_admin_hypervisor_show(struct http_req *req, struct http_resp *resp)
{
	const struct host *h;
	struct hosts hs;
	struct buf b = { 0 };
	int mv;

	if (compute_version(req, resp, &mv) == -1 || hosts_load(req, &hs) == -1)
		return -1;
	if ((h = find_id(req, &hs)) != NULL) {
		buf_puts(&b, "{\"hypervisor\":");
		hv_detail_w(&hs, &b, h, mv, NULL);
		buf_puts(&b, "}");
	}
	hosts_free(&hs);
	if (h == NULL) {
		buf_free(&b);
		return -1;
	}
	return http_resp_buf(resp, 200, "application/json", &b);
}

int
compute_admin_hypervisor_uptime(struct http_req *req, struct http_resp *resp)
{
	struct compute *svc = compute_of(req);
	struct recon_uptime up;
	const struct host *h;
	struct hosts hs;
	char text[160], host[256];
	json_t *o;
	time_t t;
	struct tm tm;
	uint64_t days, hh, mm;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 || hosts_load(req, &hs) == -1)
		return -1;
	if ((h = find_id(req, &hs)) == NULL) {
		hosts_free(&hs);
		return -1;
	}
	o = hv_brief(h);
	snprintf(host, sizeof(host), "%s", h->svc.host);
	hosts_free(&hs);
	rc = recon_host_uptime(svc->recon, host, &up);
	if (rc == -1) {
		json_decref(o);
		if (err_code() == TS_EUNAVAILABLE)
			err_set(TS_ECONFLICT, "Compute service of %s is "
			    "unavailable at this time.", host);
		return -1;
	}
	/* uptime(1)'s line, which clients parse. */
	t = (time_t)(up.now / 1000);
	gmtime_r(&t, &tm);
	days = up.uptime_s / 86400;
	hh = up.uptime_s % 86400 / 3600;
	mm = up.uptime_s % 3600 / 60;
	snprintf(text, sizeof(text), " %02d:%02d:%02d up %llu day%s, %2llu:%02llu, "
	    " %u user%s,  load average: %u.%02u, %u.%02u, %u.%02u", tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned long long)days, days == 1 ? "" : "s",
	    (unsigned long long)hh, (unsigned long long)mm, up.users,
	    up.users == 1 ? "" : "s",
	    up.load_milli[0] / 1000, up.load_milli[0] % 1000 / 10,
	    up.load_milli[1] / 1000, up.load_milli[1] % 1000 / 10,
	    up.load_milli[2] / 1000, up.load_milli[2] % 1000 / 10);
	json_object_set_new(o, "uptime", json_string(text));
	return http_resp_json(resp, 200, json_pack("{s:o}", "hypervisor", o));
}

struct srv_list {
	json_t	*arr;
};

static int
srv_cb(const struct rec_instance *i, void *arg)
{
	json_t *a = arg;

	return json_array_append_new(a, json_pack("{s:s, s:s}", "uuid",
	    i->uuid, "name", i->name)) == 0 ? 0 : -1;
}

static int
hv_match(struct http_req *req, struct http_resp *resp, bool servers)
{
	const char *pat = http_req_param(req, "pattern");
	struct store_txn *txn = NULL;
	struct hosts hs;
	json_t *arr;
	int mv, rc = 0;

	if (compute_version(req, resp, &mv) == -1 || hosts_load(req, &hs) == -1)
		return -1;
	arr = json_array();
	if (servers && compute_read(req, &txn) == -1)
		rc = -1;
	for (size_t k = 0; rc == 0 && arr && k < hs.n; k++) {
		json_t *o;

		/* Nova matches hypervisor_hostname as a substring. */
		if (strstr(hs.v[k].svc.host, pat) == NULL)
			continue;
		o = hv_brief(&hs.v[k]);
		if (servers) {
			json_t *sv = json_array();

			rc = compute_db_instance_each_host(txn, hs.v[k].svc.host,
			    srv_cb, sv);
			json_object_set_new(o, "servers", sv);
		}
		json_array_append_new(arr, o);
	}
	store_txn_end(&txn);
	hosts_free(&hs);
	if (rc == -1) {
		json_decref(arr);
		return -1;
	}
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		err_set(TS_ENOT_FOUND, "No hypervisor matching '%.64s' could "
		    "be found.", pat);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:o}", "hypervisors",
	    arr));
}

int
compute_admin_hypervisor_servers(struct http_req *req, struct http_resp *resp)
{
	return hv_match(req, resp, true);
}

int
compute_admin_hypervisor_search(struct http_req *req, struct http_resp *resp)
{
	return hv_match(req, resp, false);
}

/* ---- services ----------------------------------------------------------------- */

static json_t *
service_json(struct compute *svc, const struct host *h, int mv)
{
	char zone[SCHEDULER_NAME_MAX + 1];
	json_t *o;

	scheduler_host_az(svc->sched, h->svc.host, zone);
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
	    "id", (int)h->id, "binary", NOVA_BINARY, "host", h->svc.host,
	    "zone", zone, "status", h->svc.disabled ? "disabled" : "enabled",
	    "state", h->up ? "up" : "down",
	    "updated_at", compute_time_or_null(h->svc.updated_at, 1),
	    "disabled_reason", h->svc.disabled_reason ?
	    json_string(h->svc.disabled_reason) : json_null());

	if (o != NULL && request_mv_has(mv, MV_FORCE_DOWN))
		json_object_set_new(o, "forced_down",
		    json_boolean(h->svc.forced_down));
	return o;
}

int
compute_admin_service_list(struct http_req *req, struct http_resp *resp)
{
	struct compute *svc = compute_of(req);
	const char *host = http_req_query(req, "host");
	const char *bin = http_req_query(req, "binary");
	struct hosts hs;
	json_t *arr;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || hosts_load(req, &hs) == -1)
		return -1;
	arr = json_array();
	for (size_t k = 0; arr && k < hs.n; k++) {
		if (host && strcmp(host, hs.v[k].svc.host) != 0)
			continue;
		if (bin && strcmp(bin, NOVA_BINARY) != 0)
			continue;
		json_array_append_new(arr, service_json(svc, &hs.v[k], mv));
	}
	hosts_free(&hs);
	return http_resp_json(resp, 200, json_pack("{s:o}", "services", arr));
}

struct svc_edit {
	const char		*host;
	int			 disable;	/* -1 unchanged */
	const char		*reason;	/* with disable = 1 */
	int			 forced;	/* -1 unchanged */
	struct rec_service	 after;
};

static int
svc_edit_fn(struct store_txn *txn, void *arg)
{
	struct svc_edit *e = arg;
	struct rec_service s;
	int rc;

	if (db_service_by_host(txn, e->host, &s) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Host '%s' is not mapped to any "
			    "cell", e->host);
		return -1;
	}
	if (e->disable != -1) {
		s.disabled = e->disable;
		free(s.disabled_reason);
		s.disabled_reason = NULL;
		if (e->disable && e->reason)
			s.disabled_reason = strdup(e->reason);
	}
	if (e->forced != -1)
		s.forced_down = e->forced;
	s.updated_at = db_now_ms();
	rc = db_service_put(txn, &s);
	if (rc == 0)
		rc = copy_rec(&schema_rec_service, &s, &e->after);
	codec_clear(&schema_rec_service, &s);
	return rc;
}

int
compute_admin_service_update(struct http_req *req, struct http_resp *resp)
{
	struct compute *svc = compute_of(req);
	const char *action = http_req_param(req, "service_action");
	struct svc_edit e = { .disable = -1, .forced = -1 };
	json_t *b = http_req_json(req), *o;
	const char *bin = NULL;
	bool forced = false, has_forced = false;
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (b == NULL || !json_is_object(b)) {
		err_set(TS_EINVALID, "The request body must be an object.");
		return -1;
	}
	if (jsonreq_str(JSONREQ_NOVA, b, "host", 1, 255, JSONREQ_BYTES, &e.host,
	    NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, b, "binary", 1, 255, JSONREQ_BYTES, &bin,
	    NULL) == -1)
		return -1;
	if (e.host == NULL || bin == NULL) {
		err_set(TS_EINVALID, "'host' and 'binary' are required.");
		return -1;
	}
	if (strcmp(bin, NOVA_BINARY) != 0 && strcmp(bin, AGENT_BINARY) != 0) {
		err_set(TS_ENOT_FOUND, "Service %s on host %s not found.", bin,
		    e.host);
		return -1;
	}
	if (strcmp(action, "enable") == 0) {
		e.disable = 0;
	} else if (strcmp(action, "disable") == 0) {
		e.disable = 1;
	} else if (strcmp(action, "disable-log-reason") == 0) {
		e.disable = 1;
		if (jsonreq_str(JSONREQ_NOVA, b, "disabled_reason", 1, 255,
		    JSONREQ_BYTES, &e.reason, NULL) == -1)
			return -1;
		if (e.reason == NULL) {
			err_set(TS_EINVALID, "Missing disabled reason field");
			return -1;
		}
	} else if (strcmp(action, "force-down") == 0 && request_mv_has(mv, MV_FORCE_DOWN)) {
		if (jsonreq_bool(JSONREQ_NOVA, b, "forced_down", 0, &forced,
		    &has_forced) == -1)
			return -1;
		if (!has_forced) {
			err_set(TS_EINVALID, "'forced_down' is required.");
			return -1;
		}
		e.forced = forced;
	} else {
		err_set(TS_ENOT_FOUND, "Unknown action");
		return -1;
	}
	if (compute_write(req, svc_edit_fn, &e) == -1)
		return -1;
	/* The scheduler must not wait for its next refresh. */
	scheduler_refresh(svc->sched);
	o = json_pack("{s:s, s:s}", "host", e.after.host, "binary",
	    NOVA_BINARY);
	if (e.forced != -1)
		json_object_set_new(o, "forced_down",
		    json_boolean(e.after.forced_down));
	else
		json_object_set_new(o, "status", json_string(
		    e.after.disabled ? "disabled" : "enabled"));
	if (e.reason)
		json_object_set_new(o, "disabled_reason",
		    json_string(e.reason));
	log_warnx("service %s on %s: %s%s%s", NOVA_BINARY, e.after.host,
	    action, e.reason ? ": " : "", e.reason ? e.reason : "");
	codec_clear(&schema_rec_service, &e.after);
	return http_resp_json(resp, 200, json_pack("{s:o}", "service", o));
}

struct svc_del {
	uint32_t	id;
	char		host[256];
};

static int
first_inst(const struct rec_instance *i, void *arg)
{
	*(int *)arg = 1;
	return 1;
}

static int
svc_del_fn(struct store_txn *txn, void *arg)
{
	struct svc_del *d = arg;
	struct rec_service s;
	struct rec_hypervisor hv;
	int busy = 0, rc = 0;

	if (compute_db_instance_each_host(txn, d->host, first_inst, &busy) == -1)
		return -1;
	if (busy) {
		err_set(TS_ECONFLICT, "Unable to delete compute service that "
		    "is hosting instances. Migrate or delete the instances "
		    "first.");
		return -1;
	}
	if (db_service_by_host(txn, d->host, &s) == 0) {
		rc = store_del(txn, T_SERVICES, s.id, strlen(s.id));
		if (rc == 0)
			rc = store_index_del(txn, T_SERVICES_BY_HOST, d->host,
			    strlen(d->host), s.id, strlen(s.id));
		codec_clear(&schema_rec_service, &s);
	}
	if (rc == 0 && db_hypervisor_by_host(txn, d->host, &hv) == 0) {
		rc = store_del(txn, T_HYPERVISORS, hv.id, strlen(hv.id));
		if (rc == 0)
			rc = store_index_del(txn, T_HYPERVISORS_BY_HOST,
			    d->host, strlen(d->host), hv.id, strlen(hv.id));
		codec_clear(&schema_rec_hypervisor, &hv);
	}
	if (rc == 0 && store_del(txn, T_HYPERVISOR_GUESTS, d->host,
	    strlen(d->host)) == -1 && err_code() != TS_ENOT_FOUND)
		rc = -1;
	if (rc == 0 && store_del(txn, T_HOST_USAGE, d->host, strlen(d->host)) ==
	    -1 && err_code() != TS_ENOT_FOUND)
		rc = -1;
	if (rc == 0 && store_del(txn, T_COMPUTE_NODES, d->host,
	    strlen(d->host)) == -1 && err_code() != TS_ENOT_FOUND)
		rc = -1;
	/* Nova takes a deleted service's host out of its aggregates. */
	if (rc == 0)
		rc = aggregates_forget_host(txn, d->host);
	return rc;
}

int
compute_admin_service_delete(struct http_req *req, struct http_resp *resp)
{
	struct compute *svc = compute_of(req);
	const char *s = http_req_param(req, "service_id");
	struct svc_del d = { 0 };
	struct hosts hs;
	char *end;
	long id = strtol(s, &end, 10);
	int mv, found = 0, up = 0;

	if (compute_version(req, resp, &mv) == -1 || hosts_load(req, &hs) == -1)
		return -1;
	for (size_t k = 0; *s && *end == '\0' && k < hs.n; k++)
		if ((long)hs.v[k].id == id) {
			snprintf(d.host, sizeof(d.host), "%s",
			    hs.v[k].svc.host);
			up = hs.v[k].up;
			found = 1;
		}
	hosts_free(&hs);
	if (!found) {
		err_set(TS_ENOT_FOUND, "Service %.64s not found.", s);
		return -1;
	}
	/* A live agent would register again at its next report. */
	if (up) {
		err_set(TS_ECONFLICT, "Service %.64s on host %s is up: stop its "
		    "agent first.", s, d.host);
		return -1;
	}
	if (compute_write(req, svc_del_fn, &d) == -1)
		return -1;
	scheduler_refresh(svc->sched);
	log_warnx("compute service of host %s deleted", d.host);
	return http_resp_status(resp, 204);
}

/* ---- zones and aggregates --------------------------------------------------------- */

/*
 * Nova's zone list: first the zones of enabled hosts (available; detail
 * lists those hosts and their liveness), then the zones only disabled
 * hosts are in (not available). A host's zone is the scheduler's (its
 * aggregates', see aggregates.h). Without any host: the default zone, not
 * available.
 */
static int
az(struct http_req *req, struct http_resp *resp, bool detail)
{
	struct compute *svc = compute_of(req);
	struct hosts hs;
	json_t *zones, *off, *out, *v;
	const char *z;
	int mv;

	if (compute_version(req, resp, &mv) == -1 || hosts_load(req, &hs) == -1)
		return -1;
	zones = json_object();
	off = json_object();
	out = json_array();
	for (size_t k = 0; k < hs.n; k++) {
		const struct host *h = &hs.v[k];
		char zone[SCHEDULER_NAME_MAX + 1];
		json_t *hosts;

		scheduler_host_az(svc->sched, h->svc.host, zone);
		if (h->svc.disabled) {
			json_object_set_new(off, zone, json_true());
			continue;
		}
		if ((hosts = json_object_get(zones, zone)) == NULL) {
			hosts = json_object();
			json_object_set_new(zones, zone, hosts);
		}
		json_object_set_new(hosts, h->svc.host, json_pack("{s:{s:b, "
		    "s:b, s:o}}", NOVA_BINARY, "available", h->up, "active",
		    !h->svc.disabled, "updated_at",
		    compute_time_or_null(h->svc.updated_at, 1)));
	}
	hosts_free(&hs);
	json_object_foreach(zones, z, v)
		json_array_append_new(out, json_pack("{s:s, s:{s:b}, s:O}",
		    "zoneName", z, "zoneState", "available", 1, "hosts",
		    detail ? v : json_null()));
	json_object_foreach(off, z, v)
		if (json_object_get(zones, z) == NULL)
			json_array_append_new(out, json_pack("{s:s, s:{s:b}, "
			    "s:n}", "zoneName", z, "zoneState", "available", 0,
			    "hosts"));
	if (json_array_size(out) == 0)
		json_array_append_new(out, json_pack("{s:s, s:{s:b}, s:n}",
		    "zoneName", svc->az, "zoneState", "available", 0, "hosts"));
	json_decref(zones);
	json_decref(off);
	return http_resp_json(resp, 200, json_pack("{s:o}",
	    "availabilityZoneInfo", out));
}

int
compute_admin_az_list(struct http_req *req, struct http_resp *resp)
{
	return az(req, resp, false);
}

int
compute_admin_az_detail(struct http_req *req, struct http_resp *resp)
{
	return az(req, resp, true);
}

/* ---- quotas --------------------------------------------------------------------------- */

/* A project's quota may be read by its members and the admin. */
static int
quota_allowed(struct http_req *req, const char *rule, const char *project)
{
	struct request_target t = { .n = 0 };

	if (request_target_add(&t, "project_id", project) == -1)
		return -1;
	return request_enforce(req, rule, &t);
}

static json_t *
quota_json(const struct compute_quota_defaults *l, const char *id)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:i, s:i, s:i, s:i}",
	    "instances", (json_int_t)l->instances,
	    "cores", (json_int_t)l->cores,
	    "ram", (json_int_t)l->ram,
	    "key_pairs", (json_int_t)l->key_pairs,
	    "metadata_items", (json_int_t)l->metadata_items,
	    "server_groups", (json_int_t)l->server_groups,
	    "server_group_members", (json_int_t)l->server_group_members,
	    "injected_files", (json_int_t)l->injected_files,
	    "injected_file_content_bytes",
	    (json_int_t)l->injected_file_content_bytes,
	    "injected_file_path_bytes", (json_int_t)l->injected_file_path_bytes,
	    /* Network quotas belong to the network service; Nova 2.1 shows
	     * its own old defaults for them. */
	    "floating_ips", 10, "fixed_ips", -1, "security_groups", 10,
	    "security_group_rules", 20);

	if (o && id)
		json_object_set_new(o, "id", json_string(id));
	return o;
}

static int
quota_read(struct http_req *req, const char *project,
    struct compute_quota_defaults *lim, struct rec_compute_usage *use)
{
	struct store_txn *txn = NULL;
	struct rec_compute_quota q;
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_quota_get(txn, project, &q);
	if (rc == 0 && use)
		rc = compute_db_usage_get(txn, project, use);
	store_txn_end(&txn);
	if (rc == 0) {
		compute_admin_quota_limits(compute_of(req), &q, lim);
		codec_clear(&schema_rec_compute_quota, &q);
	}
	return rc;
}

int
compute_admin_quota_show(struct http_req *req, struct http_resp *resp)
{
	const char *p = http_req_param(req, "tenant_id");
	struct compute_quota_defaults lim;
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    quota_allowed(req, "os_compute_api:os-quota-sets:show", p) == -1 ||
	    quota_read(req, p, &lim, NULL) == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}", "quota_set",
	    quota_json(&lim, p)));
}

int
compute_admin_quota_detail(struct http_req *req, struct http_resp *resp)
{
	const char *p = http_req_param(req, "tenant_id");
	struct compute_quota_defaults lim;
	struct rec_compute_usage use;
	json_t *o, *v;
	const char *k;
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    quota_allowed(req, "os_compute_api:os-quota-sets:detail", p) ==
	    -1 || quota_read(req, p, &lim, &use) == -1)
		return -1;
	o = quota_json(&lim, NULL);
	json_object_foreach(o, k, v) {
		json_int_t used = 0;

		if (strcmp(k, "instances") == 0)
			used = use.instances;
		else if (strcmp(k, "cores") == 0)
			used = use.cores;
		else if (strcmp(k, "ram") == 0)
			used = use.ram;
		json_object_set_new(o, k, json_pack("{s:I, s:I, s:i}", "limit",
		    json_integer_value(v), "in_use", used, "reserved", 0));
	}
	json_object_set_new(o, "id", json_string(p));
	return http_resp_json(resp, 200, json_pack("{s:o}", "quota_set", o));
}

int
compute_admin_quota_defaults(struct http_req *req, struct http_resp *resp)
{
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}", "quota_set",
	    quota_json(&compute_of(req)->qdef, http_req_param(req,
	    "tenant_id"))));
}

struct qedit {
	const char		*project;
	struct rec_compute_quota set;	/* the fields given */
	bool			 reset;
};

static int
qedit_fn(struct store_txn *txn, void *arg)
{
	struct qedit *e = arg;
	struct rec_compute_quota q;
	int rc;

	if (e->reset)
		return compute_db_quota_del(txn, e->project);
	if (compute_db_quota_get(txn, e->project, &q) == -1)
		return -1;
#define SET(f) if (e->set.has_##f) { q.f = e->set.f; q.has_##f = true; }
	SET(instances);
	SET(cores);
	SET(ram);
	SET(key_pairs);
	SET(metadata_items);
	SET(server_groups);
	SET(server_group_members);
	SET(injected_files);
	SET(injected_file_content_bytes);
	SET(injected_file_path_bytes);
#undef SET
	rc = compute_db_quota_put(txn, e->project, &q);
	codec_clear(&schema_rec_compute_quota, &q);
	return rc;
}

int
compute_admin_quota_update(struct http_req *req, struct http_resp *resp)
{
	const char *p = http_req_param(req, "tenant_id");
	struct qedit e = { .project = p };
	struct compute_quota_defaults lim;
	json_t *b, *v;
	const char *k;
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    jsonreq_body(JSONREQ_NOVA, http_req_json(req), "quota_set",
	    &b) == -1)
		return -1;
	json_object_foreach(b, k, v) {
		int64_t n;
		bool force;

#define FIELD(f) if (strcmp(k, #f) == 0) {				\
		if (jsonreq_int(JSONREQ_NOVA, b, k, -1, INT32_MAX, 0,	\
		    &n, NULL) == -1)					\
			return -1;					\
		e.set.f = n;						\
		e.set.has_##f = true;					\
		continue;						\
	}
		FIELD(instances);
		FIELD(cores);
		FIELD(ram);
		FIELD(key_pairs);
		FIELD(metadata_items);
		FIELD(server_groups);
		FIELD(server_group_members);
		FIELD(injected_files);
		FIELD(injected_file_content_bytes);
		FIELD(injected_file_path_bytes);
#undef FIELD
		/* Accepted for compatibility, kept by the network service. */
		if (strcmp(k, "floating_ips") == 0 ||
		    strcmp(k, "fixed_ips") == 0 ||
		    strcmp(k, "security_groups") == 0 ||
		    strcmp(k, "security_group_rules") == 0 ||
		    strcmp(k, "networks") == 0) {
			if (jsonreq_int(JSONREQ_NOVA, b, k, -1, INT32_MAX, 0,
			    &n, NULL) == -1)
				return -1;
			continue;
		}
		if (strcmp(k, "force") == 0) {
			if (jsonreq_bool(JSONREQ_NOVA, b, k, 0, &force,
			    NULL) == -1)
				return -1;
			continue;
		}
		if (strcmp(k, "tenant_id") == 0 || strcmp(k, "id") == 0)
			continue;
		err_set(TS_EINVALID, "Bad key(s) %.64s in quota_set", k);
		return -1;
	}
	if (compute_write(req, qedit_fn, &e) == -1 ||
	    quota_read(req, p, &lim, NULL) == -1)
		return -1;
	log_info("compute quota of project %s updated", p);
	return http_resp_json(resp, 200, json_pack("{s:o}", "quota_set",
	    quota_json(&lim, NULL)));
}

int
compute_admin_quota_delete(struct http_req *req, struct http_resp *resp)
{
	struct qedit e = { .project = http_req_param(req, "tenant_id"),
	    .reset = true };
	int mv;

	if (compute_version(req, resp, &mv) == -1 || compute_write(req, qedit_fn, &e) ==
	    -1)
		return -1;
	return http_resp_status(resp, 202);
}

int
compute_admin_limits(struct http_req *req, struct http_resp *resp)
{
	const struct request_ctx *c = compute_ctx(req);
	const char *p = c->project_id ? c->project_id : "";
	const char *t = http_req_query(req, "tenant_id");
	struct compute_quota_defaults lim;
	struct rec_compute_usage use;
	int mv;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	/* An admin may look at another project's limits. */
	if (t && *t && strcmp(t, p) != 0) {
		if (compute_enforce(req, "compute_admin") == -1)
			return -1;
		p = t;
	}
	if (quota_read(req, p, &lim, &use) == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:{s:[], s:{s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, "
	    "s:I, s:i, s:i, s:i}}}", "limits", "rate", "absolute",
	    "maxTotalInstances", (json_int_t)lim.instances,
	    "maxTotalCores", (json_int_t)lim.cores,
	    "maxTotalRAMSize", (json_int_t)lim.ram,
	    "maxServerMeta", (json_int_t)lim.metadata_items,
	    "maxTotalKeypairs", (json_int_t)lim.key_pairs,
	    "maxServerGroups", (json_int_t)lim.server_groups,
	    "maxServerGroupMembers", (json_int_t)lim.server_group_members,
	    "maxPersonality", (int)lim.injected_files,
	    "maxPersonalitySize", (int)lim.injected_file_content_bytes,
	    "maxImageMeta", 128,
	    "maxSecurityGroups", 10,
	    "maxSecurityGroupRules", 20,
	    "maxTotalFloatingIps", 10,
	    "totalInstancesUsed", (json_int_t)use.instances,
	    "totalCoresUsed", (json_int_t)use.cores,
	    "totalRAMUsed", (json_int_t)use.ram,
	    "totalServerGroupsUsed", 0,
	    "totalSecurityGroupsUsed", 0,
	    "totalFloatingIpsUsed", 0));
}
