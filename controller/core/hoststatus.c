/* hoststatus: see hoststatus.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "core/hoststatus.h"
#include "err.h"
#include "health.h"
#include "log.h"
#include "store.h"

#define KEY_MAX	(64 + 1 + 255 + 1)

static int
key_of(const char *binary, const char *host, char *out, size_t len)
{
	if ((size_t)snprintf(out, len, "%s:%s", binary, host) >= len) {
		err_set(TS_EINVALID, "host status key too long");
		return -1;
	}
	return 0;
}

/* Appends n lines (moved: the source items are zeroed) to hs's errors,
 * keeping the newest HOSTSTATUS_ERRORS_MAX. */
static void
append_lines(struct rec_host_status *hs, struct sch_log_line *in, size_t n)
{
	struct sch_log_line *v;
	size_t total = hs->errors.n + n, drop, keep;

	if (n == 0)
		return;
	drop = total > HOSTSTATUS_ERRORS_MAX ? total - HOSTSTATUS_ERRORS_MAX :
	    0;
	keep = total - drop;
	if ((v = calloc(keep, sizeof(*v))) == NULL) {
		log_warnx("host status: out of memory: error lines dropped");
		return;
	}
	for (size_t i = 0, k = 0; i < total; i++) {
		struct sch_log_line *s = i < hs->errors.n ? &hs->errors.items[i] :
		    &in[i - hs->errors.n];

		if (i < drop)
			codec_clear(&schema_sch_log_line, s);
		else
			v[k++] = *s;
		memset(s, 0, sizeof(*s));
	}
	free(hs->errors.items);
	hs->errors.items = v;
	hs->errors.n = keep;
}

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

static bool
deps_eq(const struct rec_host_status *hs, const struct msg_heartbeat *m)
{
	if (hs->deps.n != m->deps.n)
		return false;
	for (size_t i = 0; i < m->deps.n; i++) {
		const struct sch_host_dep *a = &hs->deps.items[i],
		    *b = &m->deps.items[i];

		if (!str_eq(a->name, b->name) || !str_eq(a->state, b->state) ||
		    !str_eq(a->detail, b->detail) ||
		    !str_eq(a->error, b->error) ||
		    a->has_error_at != b->has_error_at ||
		    a->error_at != b->error_at)
			return false;
	}
	return true;
}

int
hoststatus_take(struct rec_host_status *hs, struct msg_heartbeat *m)
{
	int changed = 0;

	/* Every heartbeat carries the deps; the record is written only when
	 * they changed (a fleet of thousands heartbeats every few seconds). */
	if (m->deps.items != NULL && !deps_eq(hs, m)) {
		for (size_t i = 0; i < hs->deps.n; i++)
			codec_clear(&schema_sch_host_dep, &hs->deps.items[i]);
		free(hs->deps.items);
		hs->deps.items = m->deps.items;
		hs->deps.n = m->deps.n;
		m->deps.items = NULL;
		m->deps.n = 0;
		changed = 1;
	}
	if (m->errors.n > 0) {
		append_lines(hs, m->errors.items, m->errors.n);
		changed = 1;
	}
	return changed;
}

int
hoststatus_put(struct store_txn *txn, const struct rec_host_status *hs)
{
	char k[KEY_MAX];

	if (key_of(hs->binary, hs->host, k, sizeof(k)) == -1)
		return -1;
	return db_rec_put(txn, T_HOST_STATUS, k, &schema_rec_host_status, hs,
	    0);
}

int
hoststatus_get(struct store_txn *txn, const char *binary, const char *host,
    struct rec_host_status *hs)
{
	char k[KEY_MAX];

	if (key_of(binary, host, k, sizeof(k)) == -1)
		return -1;
	return db_rec_get(txn, T_HOST_STATUS, k, &schema_rec_host_status, hs);
}

struct each {
	int	(*fn)(const struct rec_host_status *, void *);
	void	*arg;
};

static int
each_one(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct each *e = arg;
	struct rec_host_status hs;
	int rc;

	memset(&hs, 0, sizeof(hs));
	if (codec_record_decode(&schema_rec_host_status, v, vl, &hs, NULL) ==
	    -1) {
		log_warnx("host status %.*s: unreadable: %s", (int)kl,
		    (const char *)k, err_msg());
		return 0;
	}
	rc = e->fn(&hs, e->arg);
	codec_clear(&schema_rec_host_status, &hs);
	return rc;
}

int
hoststatus_each(struct store_txn *txn,
    int (*fn)(const struct rec_host_status *, void *), void *arg)
{
	struct each e = { fn, arg };

	return store_iter(txn, T_HOST_STATUS, NULL, 0, each_one, &e);
}

struct self {
	const char		*host;
	struct msg_heartbeat	 m;	/* the report, shaped as an agent's */
};

/* Read-merge-write in the transaction: the record keeps the lines of
 * earlier reports (also those of before a restart). */
static int
write_self(struct store_txn *txn, void *arg)
{
	struct self *s = arg;
	struct rec_host_status hs;
	int rc;

	memset(&hs, 0, sizeof(hs));
	if (hoststatus_get(txn, HOSTSTATUS_CONTROLLER, s->host, &hs) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(&hs, 0, sizeof(hs));
	}
	free(hs.host);
	free(hs.binary);
	hs.host = (char *)s->host;
	hs.binary = (char *)HOSTSTATUS_CONTROLLER;
	hs.updated_at = db_now_ms();
	hoststatus_take(&hs, &s->m);
	rc = hoststatus_put(txn, &hs);
	hs.host = NULL;
	hs.binary = NULL;
	codec_clear(&schema_rec_host_status, &hs);
	return rc;
}

int
hoststatus_report_self(struct store *st, const char *host, uint64_t *log_sent)
{
	struct log_ring_line *lines;
	struct self s = { .host = host };
	uint64_t upto, lost = 0;
	size_t n;
	int rc = -1;

	if ((lines = calloc(HOSTSTATUS_ERRORS_MAX, sizeof(*lines))) == NULL ||
	    (s.m.errors.items = calloc(HOSTSTATUS_ERRORS_MAX,
	    sizeof(*s.m.errors.items))) == NULL) {
		free(lines);
		err_set(TS_ENOMEM, "host status: out of memory");
		return -1;
	}
	n = log_ring_since(*log_sent, lines, HOSTSTATUS_ERRORS_MAX, &lost);
	upto = n ? lines[n - 1].seq : *log_sent;
	for (size_t i = 0; i < n; i++) {
		s.m.errors.items[i].at = lines[i].at_ms;
		if ((s.m.errors.items[i].text = strdup(lines[i].text)) == NULL)
			goto out;
		s.m.errors.n++;
	}
	/* The store is up if this write goes through: say so in it. */
	health_up("store", NULL);
	if (health_items(&s.m.deps.items, &s.m.deps.n) == -1)
		goto out;
	if ((rc = store_write(st, write_self, &s)) == 0)
		*log_sent = upto;
	else
		health_down("store", "%s", err_msg());
out:
	health_items_free(&s.m.deps.items, s.m.deps.n);
	for (size_t i = 0; i < s.m.errors.n; i++)
		codec_clear(&schema_sch_log_line, &s.m.errors.items[i]);
	free(s.m.errors.items);
	free(lines);
	return rc;
}
