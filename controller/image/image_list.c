/*
 * image_list: GET /v2/images as Glance answers it (image.h): filters on
 * any attribute or extra property, "in:" lists, _min/_max ranges, time
 * comparisons, tags (all must match), the default set of visible images,
 * two sorting syntaxes, and marker pagination.
 *
 * The scan reads every image record once in one read transaction and keeps
 * only the best 2 * (limit + 1) candidates (sorted and cut back to limit + 1
 * whenever the buffer fills), so memory is bounded by the page size, not by
 * the number of images.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "image_int.h"
#include "log.h"

enum {
	IMAGE_OP_EQ = 0,	/* string equality */
	IMAGE_OP_IN,		/* value is a comma list */
	IMAGE_OP_MIN,		/* numeric >= num */
	IMAGE_OP_MAX,		/* numeric <= num */
	IMAGE_OP_NUM_EQ,	/* numeric == num */
	IMAGE_OP_GT, IMAGE_OP_GTE, IMAGE_OP_LT, IMAGE_OP_LTE, IMAGE_OP_NEQ,
};

static const char *const sort_names[] = {
	"name", "status", "container_format", "disk_format", "size", "id",
	"created_at", "updated_at", NULL
};

/* Attributes whose values are numbers in a filter. */
static const char *const numeric_attrs[] = {
	"size", "virtual_size", "min_disk", "min_ram", NULL
};
/* Attributes "in:" applies to (Glance's list). */
static const char *const in_attrs[] = {
	"name", "id", "status", "container_format", "disk_format", NULL
};

static bool
in_list(const char *const *l, const char *s)
{
	for (; *l != NULL; l++)
		if (strcmp(*l, s) == 0)
			return true;
	return false;
}

/* 400 with a message: `return BAD("...", ...);` */
#define BAD(...)	(err_set(TS_EINVALID, __VA_ARGS__), -1)

static int
parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" to unix ms. */
static int
parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *p;
	int64_t t, frac = 0, scale = 100;
	int oh, om;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	t = (int64_t)timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6)
			return -1;
		t += (*p == '+' ? -1 : 1) * (oh * 3600 + om * 60);
		p += 6;
	}
	if (*p != '\0')
		return -1;
	*ms = t * 1000 + frac;
	return 0;
}

static int
add_filter(struct image_query *q, const char *k, const char *v)
{
	struct image_filter *f;
	const char *colon;
	size_t kl = strlen(k);
	char attr[32];

	if (q->nfilters == IMAGE_FILTER_MAX)
		return BAD("Too many filters: at most %d.", IMAGE_FILTER_MAX);
	f = &q->filters[q->nfilters];
	memset(f, 0, sizeof(*f));
	f->key = k;
	f->value = v;
	f->op = IMAGE_OP_EQ;

	if (kl > 4 && kl < sizeof(attr) && (strcmp(k + kl - 4, "_min") == 0 ||
	    strcmp(k + kl - 4, "_max") == 0)) {
		memcpy(attr, k, kl - 4);
		attr[kl - 4] = '\0';
		if (in_list(numeric_attrs, attr)) {
			if (parse_i64(v, &f->num) == -1)
				return BAD("Unable to filter on a range with a "
				    "non-numeric value.");
			f->op = k[kl - 2] == 'i' ? IMAGE_OP_MIN : IMAGE_OP_MAX;
			q->nfilters++;
			return 0;
		}
	}
	if (in_list(numeric_attrs, k)) {
		if (parse_i64(v, &f->num) == -1)
			return BAD("Invalid value for filter '%s': not an "
			    "integer.", k);
		f->op = IMAGE_OP_NUM_EQ;
	} else if (strcmp(k, "created_at") == 0 ||
	    strcmp(k, "updated_at") == 0) {
		static const struct { const char *n; int op; } ops[] = {
			{ "gt", IMAGE_OP_GT }, { "gte", IMAGE_OP_GTE },
			{ "lt", IMAGE_OP_LT }, { "lte", IMAGE_OP_LTE },
			{ "eq", IMAGE_OP_NUM_EQ }, { "neq", IMAGE_OP_NEQ },
		};
		size_t i;

		f->op = IMAGE_OP_NUM_EQ;
		if (parse_time(v, &f->num) == -1) {
			colon = strchr(v, ':');
			if (colon == NULL)
				return BAD("Bad \"%s\" query filter format. "
				    "Use ISO 8601 DateTime notation.", k);
			for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
				if (strlen(ops[i].n) == (size_t)(colon - v) &&
				    strncmp(v, ops[i].n, (size_t)(colon - v)) ==
				    0)
					break;
			if (i == sizeof(ops) / sizeof(ops[0]))
				return BAD("Unable to filter by unknown "
				    "operator in '%s'.", v);
			f->op = ops[i].op;
			if (parse_time(colon + 1, &f->num) == -1)
				return BAD("Bad \"%s\" query filter format. "
				    "Use ISO 8601 DateTime notation.", k);
		}
	} else if (in_list(in_attrs, k)) {
		/* "in:a,b" and "eq:a"; any other text before a colon is
		 * part of the value (names may contain colons). */
		if (strncmp(v, "in:", 3) == 0) {
			f->op = IMAGE_OP_IN;
			f->value = v + 3;
		} else if (strncmp(v, "eq:", 3) == 0) {
			f->value = v + 3;
		}
	}
	q->nfilters++;
	return 0;
}

static int
parse_sort_key(const char *s, size_t len, enum image_sort_key *out)
{
	int i;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (i = 0; sort_names[i] != NULL; i++)
		if (strlen(sort_names[i]) == len &&
		    strncmp(sort_names[i], s, len) == 0) {
			*out = (enum image_sort_key)i;
			return 0;
		}
	err_set(TS_EINVALID, "Invalid sort key: %.*s. It must be one of the "
	    "following: name, status, container_format, disk_format, size, "
	    "id, created_at, updated_at.", (int)(len > 64 ? 64 : len), s);
	return -1;
}

static int
parse_sort_dir(const char *s, size_t len, bool *desc)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 3 && strncmp(s, "asc", 3) == 0)
		*desc = false;
	else if (len == 4 && strncmp(s, "desc", 4) == 0)
		*desc = true;
	else {
		err_set(TS_EINVALID, "Invalid sort direction: %.*s",
		    (int)(len > 64 ? 64 : len), s);
		return -1;
	}
	return 0;
}

static bool
has_sort(const struct image_query *q, enum image_sort_key k)
{
	size_t i;

	for (i = 0; i < q->nsort; i++)
		if (q->sort[i].key == k)
			return true;
	return false;
}

int
image_list_query_parse(struct image_query *q, const struct image_kv *kv, size_t n)
{
	const char *sort = NULL, *p, *e, *colon;
	bool dirs[IMAGE_SORT_MAX], default_desc = true;
	size_t i, ndirs = 0;
	int64_t lim;

	memset(q, 0, sizeof(*q));
	q->limit = IMAGE_LIMIT_DEFAULT;
	q->member_status = "accepted";
	q->os_hidden = 0;
	for (i = 0; i < n; i++) {
		const char *k = kv[i].key, *v = kv[i].value;

		if (strcmp(k, "limit") == 0) {
			if (parse_i64(v, &lim) == -1)
				return BAD("limit param must be an "
				    "integer");
			if (lim < 0)
				return BAD("limit param must be "
				    "positive");
			q->limit = lim > IMAGE_LIMIT_MAX ? IMAGE_LIMIT_MAX :
			    (size_t)lim;
		} else if (strcmp(k, "marker") == 0) {
			q->marker = v;
		} else if (strcmp(k, "member_status") == 0) {
			if (strcmp(v, "pending") != 0 &&
			    strcmp(v, "accepted") != 0 &&
			    strcmp(v, "rejected") != 0 &&
			    strcmp(v, "all") != 0)
				return BAD("Invalid status: %s", v);
			q->member_status = v;
		} else if (strcmp(k, "visibility") == 0) {
			if (!image_json_visibility_valid(v) && strcmp(v, "all") != 0)
				return BAD("Invalid visibility value: %s", v);
			q->visibility = v;
		} else if (strcmp(k, "os_hidden") == 0) {
			if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
				q->os_hidden = 1;
			else if (strcasecmp(v, "false") == 0 ||
			    strcmp(v, "0") == 0)
				q->os_hidden = 0;
			else
				return BAD("Invalid value '%s' for 'os_hidden' "
				    "filter. Valid values are 'true' or "
				    "'false'.", v);
		} else if (strcmp(k, "tag") == 0) {
			if (q->ntags == IMAGE_TAG_MAX)
				return BAD("Too many tags: at most %d.", IMAGE_TAG_MAX);
			q->tags[q->ntags++] = v;
		} else if (strcmp(k, "sort") == 0) {
			sort = v;
		} else if (strcmp(k, "sort_key") == 0) {
			if (q->nsort == IMAGE_SORT_MAX)
				return BAD("Too many sort keys: at most %d.",
				    IMAGE_SORT_MAX);
			if (parse_sort_key(v, strlen(v),
			    &q->sort[q->nsort].key) == -1)
				return -1;
			q->nsort++;
		} else if (strcmp(k, "sort_dir") == 0) {
			if (ndirs == IMAGE_SORT_MAX)
				return BAD("Too many sort directions: at "
				    "most %d.", IMAGE_SORT_MAX);
			if (parse_sort_dir(v, strlen(v), &dirs[ndirs]) == -1)
				return -1;
			ndirs++;
		} else if (strcmp(k, "changes-since") == 0) {
			return BAD("The \"changes-since\" filter is no longer "
			    "available on v2.");
		} else if (add_filter(q, k, v) == -1) {
			return -1;
		}
	}
	if (sort != NULL) {
		if (q->nsort > 0 || ndirs > 0)
			return BAD("Old and new sorting syntax cannot be "
			    "combined");
		for (p = sort; *p != '\0'; p = *e ? e + 1 : e) {
			e = p + strcspn(p, ",");
			if (q->nsort == IMAGE_SORT_MAX)
				return BAD("Too many sort keys: at most %d.",
				    IMAGE_SORT_MAX);
			colon = memchr(p, ':', (size_t)(e - p));
			if (parse_sort_key(p, (size_t)((colon ? colon : e) - p),
			    &q->sort[q->nsort].key) == -1)
				return -1;
			q->sort[q->nsort].desc = true;
			if (colon != NULL && parse_sort_dir(colon + 1,
			    (size_t)(e - colon - 1), &q->sort[q->nsort].desc) ==
			    -1)
				return -1;
			q->nsort++;
		}
	} else {
		if (ndirs > 1 && ndirs != q->nsort)
			return BAD("Number of sort dirs does not match the "
			    "number of sort keys");
		if (q->nsort == 0) {
			q->sort[0].key = IMAGE_SORT_CREATED_AT;
			q->nsort = 1;
		}
		if (ndirs == 1)
			default_desc = dirs[0];
		for (i = 0; i < q->nsort; i++)
			q->sort[i].desc = ndirs > 1 ? dirs[i] : default_desc;
	}
	/* Glance appends created_at and id so the order is total. */
	if (!has_sort(q, IMAGE_SORT_CREATED_AT)) {
		q->sort[q->nsort].key = IMAGE_SORT_CREATED_AT;
		q->sort[q->nsort++].desc = default_desc;
	}
	if (!has_sort(q, IMAGE_SORT_ID)) {
		q->sort[q->nsort].key = IMAGE_SORT_ID;
		q->sort[q->nsort++].desc = default_desc;
	}
	return 0;
}

/* ---- matching ---------------------------------------------------------------- */

/* Whether s is one of the values of the "in:" list (comma separated,
 * double quotes around values that contain commas, backslash escapes). */
static bool
in_match(const char *list, const char *s)
{
	const char *p = list;
	char buf[512];
	size_t n;

	while (*p != '\0') {
		n = 0;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (n + 1 < sizeof(buf))
					buf[n++] = *p;
			}
			if (*p == '"')
				p++;
		} else {
			for (; *p != '\0' && *p != ','; p++)
				if (n + 1 < sizeof(buf))
					buf[n++] = *p;
		}
		buf[n] = '\0';
		if (strcmp(buf, s) == 0)
			return true;
		if (*p == ',')
			p++;
	}
	return false;
}

static const char *
prop_get(const struct rec_image *img, const char *k)
{
	size_t i;

	for (i = 0; i < img->properties.n; i++)
		if (strcmp(img->properties.items[i].k, k) == 0)
			return img->properties.items[i].v;
	return NULL;
}

/* A numeric attribute; false when it is unset (null). */
static bool
num_attr(const struct rec_image *img, const char *k, int64_t *out)
{
	if (strncmp(k, "size", 4) == 0 && (k[4] == '\0' || k[4] == '_')) {
		*out = (int64_t)img->size;
		return img->has_size;
	}
	if (strncmp(k, "virtual_size", 12) == 0) {
		*out = (int64_t)img->virtual_size;
		return img->has_virtual_size;
	}
	if (strncmp(k, "min_disk", 8) == 0) {
		*out = img->min_disk;
		return true;
	}
	if (strncmp(k, "min_ram", 7) == 0) {
		*out = img->min_ram;
		return true;
	}
	if (strcmp(k, "created_at") == 0) {
		*out = img->created_at / 1000 * 1000;
		return true;
	}
	if (strcmp(k, "updated_at") == 0) {
		*out = img->updated_at / 1000 * 1000;
		return true;
	}
	return false;
}

/* A string attribute or property: *out NULL when unset. */
static bool
str_attr(const struct rec_image *img, const char *k, const char **out)
{
	static const struct {
		const char *name;
		size_t off;
	} attrs[] = {
		{ "name", offsetof(struct rec_image, name) },
		{ "status", offsetof(struct rec_image, status) },
		{ "visibility", offsetof(struct rec_image, visibility) },
		{ "owner", offsetof(struct rec_image, owner) },
		{ "disk_format", offsetof(struct rec_image, disk_format) },
		{ "container_format", offsetof(struct rec_image,
		    container_format) },
		{ "checksum", offsetof(struct rec_image, checksum) },
		{ "os_hash_algo", offsetof(struct rec_image, os_hash_algo) },
		{ "os_hash_value", offsetof(struct rec_image, os_hash_value) },
	};
	size_t i;

	if (strcmp(k, "id") == 0) {
		*out = img->id;
		return true;
	}
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strcmp(attrs[i].name, k) == 0) {
			memcpy(out, (const char *)img + attrs[i].off,
			    sizeof(*out));
			return true;
		}
	return false;
}

static bool
filter_match(const struct image_filter *f, const struct rec_image *img)
{
	const char *s;
	int64_t v;

	switch (f->op) {
	case IMAGE_OP_MIN:
		return num_attr(img, f->key, &v) && v >= f->num;
	case IMAGE_OP_MAX:
		return num_attr(img, f->key, &v) && v <= f->num;
	case IMAGE_OP_NUM_EQ:
		return num_attr(img, f->key, &v) && v == f->num;
	case IMAGE_OP_GT:
		return num_attr(img, f->key, &v) && v > f->num;
	case IMAGE_OP_GTE:
		return num_attr(img, f->key, &v) && v >= f->num;
	case IMAGE_OP_LT:
		return num_attr(img, f->key, &v) && v < f->num;
	case IMAGE_OP_LTE:
		return num_attr(img, f->key, &v) && v <= f->num;
	case IMAGE_OP_NEQ:
		return num_attr(img, f->key, &v) && v != f->num;
	default:
		break;
	}
	if (strcmp(f->key, "protected") == 0)
		return (strcasecmp(f->value, "true") == 0) == img->protected;
	if (!str_attr(img, f->key, &s))
		s = prop_get(img, f->key);
	if (s == NULL)
		return false;
	if (f->op == IMAGE_OP_IN)
		return in_match(f->value, s);
	return strcmp(s, f->value) == 0;
}

bool
image_list_query_match(const struct image_query *q, const struct rec_image *img)
{
	size_t i, j;

	for (i = 0; i < q->nfilters; i++)
		if (!filter_match(&q->filters[i], img))
			return false;
	for (i = 0; i < q->ntags; i++) {
		for (j = 0; j < img->tags.n; j++)
			if (strcmp(img->tags.items[j], q->tags[i]) == 0)
				break;
		if (j == img->tags.n)
			return false;
	}
	return true;
}

/* null sorts before any value, as in Glance's SQL ordering. */
static int
cmp_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int
cmp_u64(bool ha, uint64_t a, bool hb, uint64_t b)
{
	if (!ha || !hb)
		return (int)ha - (int)hb;
	return (a > b) - (a < b);
}

int
image_list_query_cmp(const struct image_query *q, const struct rec_image *a,
    const struct rec_image *b)
{
	size_t i;
	int c = 0;

	for (i = 0; i < q->nsort && c == 0; i++) {
		switch (q->sort[i].key) {
		case IMAGE_SORT_NAME:
			c = cmp_str(a->name, b->name);
			break;
		case IMAGE_SORT_STATUS:
			c = cmp_str(a->status, b->status);
			break;
		case IMAGE_SORT_CONTAINER_FORMAT:
			c = cmp_str(a->container_format, b->container_format);
			break;
		case IMAGE_SORT_DISK_FORMAT:
			c = cmp_str(a->disk_format, b->disk_format);
			break;
		case IMAGE_SORT_SIZE:
			c = cmp_u64(a->has_size, a->size, b->has_size,
			    b->size);
			break;
		case IMAGE_SORT_ID:
			c = strcmp(a->id, b->id);
			break;
		case IMAGE_SORT_CREATED_AT:
			c = (a->created_at > b->created_at) -
			    (a->created_at < b->created_at);
			break;
		case IMAGE_SORT_UPDATED_AT:
			c = (a->updated_at > b->updated_at) -
			    (a->updated_at < b->updated_at);
			break;
		}
		if (q->sort[i].desc)
			c = -c;
	}
	return c;
}

/* ---- the scan ---------------------------------------------------------------- */

struct scan {
	struct store_txn		*txn;
	const struct image_query	*q;
	const struct image_viewer	*v;
	struct rec_image		*marker;	/* NULL: none */
	struct rec_image		*items;		/* cap slots */
	size_t				 n, cap, keep;
	size_t				 seen;		/* total after marker */
};

/* qsort() takes no argument: the query of this thread's scan. */
static __thread const struct image_query *tl_q;

static int
qcmp_tl(const void *a, const void *b)
{
	return image_list_query_cmp(tl_q, a, b);
}

/* Sort the candidates and drop all but the first keep. */
static void
trim(struct scan *s)
{
	size_t i;

	tl_q = s->q;
	qsort(s->items, s->n, sizeof(*s->items), qcmp_tl);
	for (i = s->keep; i < s->n; i++)
		codec_clear(&schema_rec_image, &s->items[i]);
	if (s->n > s->keep)
		s->n = s->keep;
}

/* Whether the viewer's default listing (or its visibility filter) includes
 * img; -1 on a database error. */
static int
listed(struct scan *s, const struct rec_image *img)
{
	const struct image_viewer *v = s->v;
	const struct image_query *q = s->q;
	bool mine, member = false;
	char mstatus[16] = "";
	int vis;

	mine = img->owner != NULL && v->project_id != NULL &&
	    *v->project_id != '\0' && strcmp(img->owner, v->project_id) == 0;
	if (q->os_hidden != -1 && img->os_hidden != (q->os_hidden == 1))
		return 0;
	if (q->visibility != NULL && strcmp(q->visibility, "all") != 0) {
		if (strcmp(img->visibility, q->visibility) != 0)
			return 0;
	} else if (q->visibility == NULL &&
	    strcmp(img->visibility, "community") == 0 && !mine) {
		return 0;
	}
	if (v->admin || mine || strcmp(img->visibility, "public") == 0 ||
	    strcmp(img->visibility, "community") == 0)
		return 1;
	if (strcmp(img->visibility, "shared") != 0)
		return 0;
	if ((vis = image_db_visible(s->txn, v, img, &member, mstatus)) == -1)
		return -1;
	if (!member)
		return 0;
	return strcmp(q->member_status, "all") == 0 ||
	    strcmp(q->member_status, mstatus) == 0;
}

static int
scan_one(const void *k, size_t kl, const void *val, size_t vl, void *arg)
{
	struct scan *s = arg;
	struct rec_image img;
	int rc;

	memset(&img, 0, sizeof(img));
	if (codec_record_decode(&schema_rec_image, val, vl, &img, NULL) ==
	    -1) {
		log_warnx("images: skipping undecodable record %.*s: %s",
		    (int)(kl > 64 ? 64 : kl), (const char *)k, err_msg());
		return 0;
	}
	rc = 0;
	if (!image_list_query_match(s->q, &img))
		goto skip;
	if (s->marker != NULL && image_list_query_cmp(s->q, s->marker, &img) >= 0)
		goto skip;
	if ((rc = listed(s, &img)) != 1)
		goto skip;
	rc = 0;
	s->seen++;
	if (s->n == s->cap)
		trim(s);
	s->items[s->n++] = img;	/* ownership moves to the array */
	return 0;
skip:
	codec_clear(&schema_rec_image, &img);
	return rc;
}

int
image_list_run(struct store_txn *txn, const struct image_query *q,
    const struct image_viewer *v, struct image_page *page)
{
	struct rec_image marker;
	struct scan s;
	int rc = -1, vis;

	memset(page, 0, sizeof(*page));
	memset(&s, 0, sizeof(s));
	memset(&marker, 0, sizeof(marker));
	s.txn = txn;
	s.q = q;
	s.v = v;
	s.keep = q->limit + 1;
	s.cap = 2 * s.keep;
	if (q->marker != NULL) {
		if (image_db_get(txn, q->marker, &marker) == -1) {
			if (err_code() == TS_ENOT_FOUND)
				err_set(TS_EINVALID, "marker %s not found",
				    q->marker);
			return -1;
		}
		if ((vis = image_db_visible(txn, v, &marker, NULL, NULL)) != 1) {
			codec_clear(&schema_rec_image, &marker);
			if (vis == 0)
				err_set(TS_EINVALID, "marker %s not found",
				    q->marker);
			return -1;
		}
		s.marker = &marker;
	}
	if ((s.items = calloc(s.cap, sizeof(*s.items))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	if (store_iter(txn, T_IMAGES, NULL, 0, scan_one, &s) == -1)
		goto out;
	trim(&s);
	page->more = s.n > q->limit;
	if (page->more) {
		codec_clear(&schema_rec_image, &s.items[q->limit]);
		s.n = q->limit;
	}
	page->items = s.items;
	page->n = s.n;
	s.items = NULL;
	s.n = 0;
	rc = 0;
out:
	if (s.items != NULL) {
		while (s.n > 0)
			codec_clear(&schema_rec_image, &s.items[--s.n]);
		free(s.items);
	}
	codec_clear(&schema_rec_image, &marker);
	return rc;
}

void
image_list_page_clear(struct image_page *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		codec_clear(&schema_rec_image, &p->items[i]);
	free(p->items);
	memset(p, 0, sizeof(*p));
}
