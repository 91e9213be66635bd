/*
 * compute_sort: the servers list's sort_key / sort_dir, as Nova answers
 * them (nova/api/openstack/common.py get_sort_params(), servers.py
 * remove_invalid_sort_keys(), nova/db/utils.py process_sort_params()).
 *
 * The list's own order, created_at then id descending, is the order its
 * indexes are walked in (compute_db_instance_each_newest()); any other
 * order is a sort of the servers that pass the filters: their keys are
 * copied into rows (a few dozen bytes each), sorted, and only the page is
 * read again and rendered, as a database sorts before it pages. Strings
 * compare bytewise; an absent value comes first in ascending order, as
 * NULL in Nova's databases. Nova's integer id, its last key, is the uuid
 * here (created_at comes first, so it only orders servers created in the
 * same millisecond).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "compute_int.h"
#include "err.h"

enum sk {
	SK_STR,		/* char * (NULL: absent) */
	SK_UUID,	/* char[] */
	SK_U32,
	SK_I64,
	SK_NONE,	/* no such attribute here: every server ties */
};

struct sort_field {
	const char	*name;
	enum sk		 kind;
	size_t		 off;		/* in struct rec_instance */
	bool		 admin;		/* Nova: administrators only (403) */
};

#define F(n, k, m)	{ n, k, offsetof(struct rec_instance, m), false }
#define FA(n, k, m)	{ n, k, offsetof(struct rec_instance, m), true }
static const struct sort_field fields[] = {
	F("access_ip_v4", SK_STR, access_ipv4),
	F("access_ip_v6", SK_STR, access_ipv6),
	{ "auto_disk_config", SK_NONE, 0, false },
	F("availability_zone", SK_STR, availability_zone),
	{ "config_drive", SK_NONE, 0, false },
	F("created_at", SK_I64, created_at),
	F("display_description", SK_STR, description),
	F("display_name", SK_STR, name),
	FA("host", SK_STR, host),
	F("hostname", SK_STR, hostname),
	F("image_ref", SK_STR, image_ref),
	F("instance_type_id", SK_STR, flavor.id),
	F("kernel_id", SK_STR, kernel_id),
	F("key_name", SK_STR, key_name),
	F("launch_index", SK_U32, launch_index),
	F("launched_at", SK_I64, launched_at),
	F("locked_by", SK_STR, locked_by),
	FA("node", SK_STR, host),
	F("power_state", SK_U32, power_state),
	F("progress", SK_U32, progress),
	F("project_id", SK_STR, project_id),
	F("ramdisk_id", SK_STR, ramdisk_id),
	{ "root_device_name", SK_NONE, 0, false },
	F("task_state", SK_STR, task_state),
	F("terminated_at", SK_I64, terminated_at),
	F("updated_at", SK_I64, updated_at),
	F("user_id", SK_STR, user_id),
	F("uuid", SK_UUID, uuid),
	F("vm_state", SK_STR, vm_state),
};
#undef F
#undef FA
/* Nova's id, the last key: see the top. */
static const struct sort_field id_field = { "id", SK_UUID,
    offsetof(struct rec_instance, uuid), false };

/* Keys Nova's schema accepts and its API then drops (with their
 * direction): SERVER_LIST_IGNORE_SORT_KEY (2.1-2.72). */
static const char *const ignored[] = { "architecture", "cell_name",
    "cleaned", "default_ephemeral_device", "default_swap_device", "deleted",
    "deleted_at", "disable_terminate", "ephemeral_gb", "ephemeral_key_uuid",
    "id", "key_data", "launched_on", "locked", "memory_mb", "os_type",
    "reservation_id", "root_gb", "shutdown_terminate", "user_data",
    "vcpus", "vm_mode", NULL };

static const struct sort_field *
field(const char *name)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

static bool
is_ignored(const char *name)
{
	for (size_t i = 0; ignored[i] != NULL; i++)
		if (strcmp(ignored[i], name) == 0)
			return true;
	return false;
}

/* s without leading and trailing blanks (Python's strip()), into out. */
static void
strip(const char *s, char *out, size_t cap)
{
	static const char blanks[] = " \t\n\r\f\v";
	size_t n;

	s += strspn(s, blanks);
	n = strlen(s);
	while (n > 0 && strchr(blanks, s[n - 1]) != NULL)
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

int
compute_sort_parse(struct http_req *req, bool admin, bool check_dirs,
    struct compute_sort *s)
{
	char keys[COMPUTE_SORT_MAX][32], dirs[COMPUTE_SORT_MAX][8];
	size_t nk = 0, nd = 0, it = 0, k;
	const char *v;
	bool def_desc;

	memset(s, 0, sizeof(*s));
	while ((v = http_req_query_next(req, "sort_key", &it)) != NULL) {
		if (nk == COMPUTE_SORT_MAX) {
			err_set(TS_EINVALID, "Invalid input received: at most "
			    "%d sort keys", COMPUTE_SORT_MAX);
			return -1;
		}
		strip(v, keys[nk++], sizeof(keys[0]));
	}
	it = 0;
	while ((v = http_req_query_next(req, "sort_dir", &it)) != NULL) {
		if (nd == COMPUTE_SORT_MAX) {
			err_set(TS_EINVALID, "Invalid input received: Sort "
			    "direction size exceeds sort key size");
			return -1;
		}
		strip(v, dirs[nd++], sizeof(dirs[0]));
	}
	if (nk == 0)
		snprintf(keys[nk++], sizeof(keys[0]), "created_at");
	if (nd == 0)
		snprintf(dirs[nd++], sizeof(dirs[0]), "desc");
	/* remove_invalid_sort_keys(): an ignored key goes with the
	 * direction at its place, if there is one; host and node are for
	 * administrators. */
	for (k = 0; k < nk;) {
		const struct sort_field *f = field(keys[k]);

		if (is_ignored(keys[k])) {
			if (nd > k) {
				memmove(dirs[k], dirs[k + 1],
				    (nd - k - 1) * sizeof(dirs[0]));
				nd--;
			}
			memmove(keys[k], keys[k + 1],
			    (nk - k - 1) * sizeof(keys[0]));
			nk--;
			continue;
		}
		if (f != NULL && f->admin && !admin) {
			err_set(TS_EFORBIDDEN, "Only administrators can sort "
			    "servers by %s", keys[k]);
			return -1;
		}
		k++;
	}
	/* process_sort_params(), in the database call (not made for a
	 * limit of 0): the first direction, or desc, for the keys without
	 * one and for the defaults appended. */
	def_desc = nd == 0 || strcmp(dirs[0], "asc") != 0;
	for (size_t d = 0; check_dirs && d < nd; d++) {
		if (strcmp(dirs[d], "asc") != 0 && strcmp(dirs[d], "desc") !=
		    0) {
			err_set(TS_EINVALID, "Invalid input received: Unknown "
			    "sort direction, must be 'desc' or 'asc'");
			return -1;
		}
	}
	if (check_dirs && nd > nk) {
		err_set(TS_EINVALID, "Invalid input received: Sort direction "
		    "size exceeds sort key size");
		return -1;
	}
	for (k = 0; k < nk; k++) {
		const struct sort_field *f = field(keys[k]);

		if (f == NULL) {
			/* The query check let only Nova's names through. */
			err_set(TS_EINVALID, "Invalid input for query "
			    "parameters sort_key. Value: %.64s.", keys[k]);
			return -1;
		}
		s->f[s->n] = f;
		s->desc[s->n++] = k < nd ? strcmp(dirs[k], "asc") != 0 :
		    def_desc;
	}
	for (k = 0; k < s->n && s->f[k] != field("created_at"); k++)
		;
	if (k == s->n) {
		s->f[s->n] = field("created_at");
		s->desc[s->n++] = def_desc;
	}
	s->f[s->n] = &id_field;
	s->desc[s->n++] = def_desc;
	/* The walk's own order: created_at then id, both descending. */
	s->given = !(s->n == 2 && s->f[0] == field("created_at") &&
	    s->desc[0] && s->desc[1]);
	return 0;
}

/* ---- rows ---------------------------------------------------------------- */

union sval {
	int64_t	 i;
	char	*s;
};

struct row {
	char		 uuid[CODEC_UUID_LEN + 1];
	union sval	 v[];
};

struct compute_sort_rows {
	const struct compute_sort	*s;
	size_t				 stride;
	char				*rows;
	size_t				 n, cap;
};

static struct row *
row_at(const struct compute_sort_rows *r, size_t k)
{
	return (struct row *)(r->rows + k * r->stride);
}

struct compute_sort_rows *
compute_sort_rows_new(const struct compute_sort *s)
{
	struct compute_sort_rows *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	r->s = s;
	r->stride = sizeof(struct row) + s->n * sizeof(union sval);
	r->stride = (r->stride + _Alignof(union sval) - 1) /
	    _Alignof(union sval) * _Alignof(union sval);
	return r;
}

static void
row_clear(const struct compute_sort *s, struct row *w)
{
	for (size_t k = 0; k < s->n; k++)
		if (s->f[k]->kind == SK_STR || s->f[k]->kind == SK_UUID)
			free(w->v[k].s);
}

void
compute_sort_rows_free(struct compute_sort_rows **rp)
{
	struct compute_sort_rows *r = *rp;

	if (r == NULL)
		return;
	for (size_t k = 0; k < r->n; k++)
		row_clear(r->s, row_at(r, k));
	free(r->rows);
	free(r);
	*rp = NULL;
}

/* w's values from i (w->v has s->n slots). */
static int
row_fill(const struct compute_sort *s, struct row *w,
    const struct rec_instance *i)
{
	snprintf(w->uuid, sizeof(w->uuid), "%s", i->uuid);
	for (size_t k = 0; k < s->n; k++) {
		const char *base = (const char *)i + s->f[k]->off;

		w->v[k].s = NULL;
		switch (s->f[k]->kind) {
		case SK_STR:
			if (*(char *const *)base != NULL &&
			    (w->v[k].s = strdup(*(char *const *)base)) ==
			    NULL)
				goto nomem;
			break;
		case SK_UUID:
			if ((w->v[k].s = strdup(base)) == NULL)
				goto nomem;
			break;
		case SK_U32:
			w->v[k].i = *(const uint32_t *)base;
			break;
		case SK_I64:
			w->v[k].i = *(const int64_t *)base;
			break;
		case SK_NONE:
			w->v[k].i = 0;
			break;
		}
	}
	return 0;
nomem:
	row_clear(s, w);
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

int
compute_sort_rows_add(struct compute_sort_rows *r,
    const struct rec_instance *i)
{
	struct row *w;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		char *p = realloc(r->rows, cap * r->stride);

		if (p == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		r->rows = p;
		r->cap = cap;
	}
	w = row_at(r, r->n);
	memset(w, 0, r->stride);
	if (row_fill(r->s, w, i) == -1)
		return -1;
	r->n++;
	return 0;
}

static int
cmp_rows(const struct compute_sort *s, const struct row *a,
    const struct row *b)
{
	for (size_t k = 0; k < s->n; k++) {
		int c = 0;

		switch (s->f[k]->kind) {
		case SK_STR:
		case SK_UUID:
			if (a->v[k].s == NULL || b->v[k].s == NULL)
				c = (a->v[k].s != NULL) - (b->v[k].s != NULL);
			else
				c = strcmp(a->v[k].s, b->v[k].s);
			break;
		case SK_U32:
		case SK_I64:
			c = (a->v[k].i > b->v[k].i) - (a->v[k].i < b->v[k].i);
			break;
		case SK_NONE:
			break;
		}
		if (c != 0)
			return s->desc[k] ? -c : c;
	}
	return 0;
}

static int
qcmp(const void *a, const void *b, void *arg)
{
	return cmp_rows(arg, a, b);
}

void
compute_sort_rows_sort(struct compute_sort_rows *r)
{
	if (r->n > 1)
		qsort_r(r->rows, r->n, r->stride, qcmp, (void *)r->s);
}

int
compute_sort_rows_after(const struct compute_sort_rows *r,
    const struct rec_instance *marker, size_t *start)
{
	struct row *m;
	size_t lo = 0, hi = r->n;

	if ((m = calloc(1, r->stride)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (row_fill(r->s, m, marker) == -1) {
		free(m);
		return -1;
	}
	/* The first row strictly after the marker's place. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_rows(r->s, row_at(r, mid), m) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	row_clear(r->s, m);
	free(m);
	*start = lo;
	return 0;
}

size_t
compute_sort_rows_count(const struct compute_sort_rows *r)
{
	return r->n;
}

const char *
compute_sort_rows_uuid(const struct compute_sort_rows *r, size_t k)
{
	return k < r->n ? row_at(r, k)->uuid : NULL;
}
