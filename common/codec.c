/*
 * codec: one table-driven msgpack encoder and one bounded decoder for every
 * schema type (see codec.h for the format and the C mapping).
 *
 * Invariants the decoder keeps, whatever the input:
 *   - no read past the end: every length is checked against the bytes left
 *     before it is used;
 *   - no allocation larger than the input justifies: a declared string,
 *     list or map length is checked against the schema maximum and the bytes
 *     left (each element needs at least one byte) before anything is
 *     allocated;
 *   - recursion only through containers, and at most CODEC_MAX_DEPTH deep;
 *   - the object being filled is always clearable: lists and maps are
 *     allocated zeroed and their count stored before their elements are
 *     decoded, so codec_clear() frees exactly what was allocated.
 * The encoder writes straight into a struct buf, each value in the smallest
 * msgpack form that holds it (the forms msgpack-c's packer picks; the unit
 * test decodes the output with msgpack-c). It is ours rather than msgpack-c's
 * because Debian 12's libmsgpack-dev pulls in Boost's 12,000 headers, the
 * largest unpack of a fresh ./stack.sh.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "msg_gen.h"
#include "uuid.h"

/* codec_dump() shortens strings and lists past these, to keep log lines
 * readable. */
#define DUMP_STR_MAX	256
#define DUMP_LIST_MAX	16

/*
 * Where the codec is inside an object, for error messages:
 * root + ".field" / "[index]" frames, rendered as "agent_hello.guests[3].uuid"
 * only when an error is reported (pushing is two stores, so the success
 * path pays nothing for good messages). Each container level adds at most
 * two frames; deeper frames are counted and shown as "...".
 */
#define PATH_FRAMES	(2 * CODEC_MAX_DEPTH + 4)
#define PATH_TEXT_MAX	256

struct path {
	const char	*root;
	unsigned	 n;
	struct {
		const char	*name;		/* NULL: an index frame */
		size_t		 idx;
	}		 fr[PATH_FRAMES];
};

static void
path_init(struct path *p, const char *root)
{
	p->root = root;
	p->n = 0;
}

/* Push a frame and return the depth to give path_pop(). name is static. */
static unsigned
path_name(struct path *p, const char *name)
{
	if (p->n < PATH_FRAMES)
		p->fr[p->n].name = name;
	return p->n++;
}

static unsigned
path_index(struct path *p, size_t idx)
{
	if (p->n < PATH_FRAMES) {
		p->fr[p->n].name = NULL;
		p->fr[p->n].idx = idx;
	}
	return p->n++;
}

static void
path_pop(struct path *p, unsigned old)
{
	p->n = old;
}

static void
path_render(const struct path *p, char *buf, size_t len)
{
	size_t off;
	unsigned i;
	int w;

	snprintf(buf, len, "%s", p->root);
	off = strlen(buf);
	for (i = 0; i < p->n && off < len - 1; i++) {
		if (i == PATH_FRAMES)
			w = snprintf(buf + off, len - off, "...");
		else if (p->fr[i].name != NULL)
			w = snprintf(buf + off, len - off, ".%s", p->fr[i].name);
		else
			w = snprintf(buf + off, len - off, "[%zu]", p->fr[i].idx);
		if (w < 0 || i == PATH_FRAMES)
			break;
		off += (size_t)w;
	}
}

/* err_set() with the rendered path in front. */
static void
path_err(const struct path *p, enum ts_errcode code, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
path_err(const struct path *p, enum ts_errcode code, const char *fmt,
    va_list ap)
{
	char where[PATH_TEXT_MAX], msg[ERR_MSG_MAX];

	path_render(p, where, sizeof(where));
	vsnprintf(msg, sizeof(msg), fmt, ap);
	err_set(code, "%s: %s", where, msg);
}

static bool
has_flag(const struct schema_field *f)
{
	if (!(f->flags & SCHEMA_F_OPTIONAL))
		return false;
	switch (f->type) {
	case SCHEMA_T_BOOL:
	case SCHEMA_T_U32:
	case SCHEMA_T_U64:
	case SCHEMA_T_I64:
	case SCHEMA_T_STRUCT:
		return true;
	default:
		return false;
	}
}

static bool *
has_ptr(const struct schema_field *f, void *obj)
{
	return (bool *)((char *)obj + f->has_offset);
}

/* ---- object lifetime ----------------------------------------------------- */

static void clear_struct(const struct schema_type *, void *);

static void
clear_value(enum schema_ftype t, const struct schema_type *nested, void *p)
{
	struct ts_strmap *m;
	size_t i;

	switch (t) {
	case SCHEMA_T_STR:
		free(*(char **)p);
		break;
	case SCHEMA_T_BYTES:
		free(((struct ts_bytes *)p)->ptr);
		break;
	case SCHEMA_T_STRMAP:
		m = p;
		if (m->items != NULL)
			for (i = 0; i < m->n; i++) {
				free(m->items[i].k);
				free(m->items[i].v);
			}
		free(m->items);
		break;
	case SCHEMA_T_STRUCT:
		clear_struct(nested, p);
		break;
	default:
		break;
	}
}

static void
clear_struct(const struct schema_type *t, void *obj)
{
	const struct schema_field *f;
	struct ts_list l;
	size_t i;
	char *p;

	for (f = t->fields; f < t->fields + t->nfields; f++) {
		p = (char *)obj + f->offset;
		if (f->type != SCHEMA_T_LIST) {
			clear_value(f->type, f->nested, p);
			continue;
		}
		memcpy(&l, p, sizeof(l));
		if (l.items == NULL)
			continue;
		if (f->elem == SCHEMA_T_STR || f->elem == SCHEMA_T_BYTES ||
		    f->elem == SCHEMA_T_STRUCT)
			for (i = 0; i < l.n; i++)
				clear_value(f->elem, f->nested,
				    (char *)l.items + i * f->elem_size);
		free(l.items);
	}
}

int
codec_str_set(char **field, const char *v)
{
	char *n = NULL;

	if (v != NULL && (n = strdup(v)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	free(*field);
	*field = n;
	return 0;
}

void
codec_clear(const struct schema_type *t, void *obj)
{
	if (obj == NULL)
		return;
	clear_struct(t, obj);
	memset(obj, 0, t->size);
}

void *
codec_new(const struct schema_type *t)
{
	void *obj;

	if ((obj = calloc(1, t->size)) == NULL)
		err_set(TS_ENOMEM, "out of memory (%s)", t->name);
	return obj;
}

void
codec_free(const struct schema_type *t, void **objp)
{
	if (objp == NULL || *objp == NULL)
		return;
	codec_clear(t, *objp);
	free(*objp);
	*objp = NULL;
}

/* ---- encoder ------------------------------------------------------------- */

struct enc {
	struct buf	*out;
	bool		 bynum;		/* keys are field numbers (records) */
	struct path	 path;
};

static void
enc_init(struct enc *e, struct buf *out, const char *root)
{
	e->out = out;
	e->bynum = false;
	path_init(&e->path, root);
}

/* One type byte, then the low width bytes of v, big-endian; buf_append()
 * records TS_ENOMEM. */
static int
put(struct enc *e, uint8_t tag, uint64_t v, unsigned width)
{
	uint8_t b[9];
	unsigned i;

	b[0] = tag;
	for (i = 0; i < width; i++)
		b[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	return buf_append(e->out, b, 1 + width);
}

static int
enc_uint(struct enc *e, uint64_t v)
{
	if (v < 0x80)
		return put(e, (uint8_t)v, 0, 0);	/* positive fixint */
	if (v <= UINT8_MAX)
		return put(e, 0xcc, v, 1);
	if (v <= UINT16_MAX)
		return put(e, 0xcd, v, 2);
	if (v <= UINT32_MAX)
		return put(e, 0xce, v, 4);
	return put(e, 0xcf, v, 8);
}

static int
enc_int(struct enc *e, int64_t v)
{
	if (v >= 0)
		return enc_uint(e, (uint64_t)v);
	if (v >= -32)
		return put(e, (uint8_t)v, 0, 0);	/* negative fixint */
	if (v >= INT8_MIN)
		return put(e, 0xd0, (uint64_t)v, 1);
	if (v >= INT16_MIN)
		return put(e, 0xd1, (uint64_t)v, 2);
	if (v >= INT32_MIN)
		return put(e, 0xd2, (uint64_t)v, 4);
	return put(e, 0xd3, (uint64_t)v, 8);
}

/* The head of a str, bin, array or map of n elements: the fix form
 * (fix | n) when n <= fixmax (fixmax 0: the type has none), else the
 * 8-bit length form t8 (0: none), else t16, else t32. */
static int
enc_head(struct enc *e, uint8_t fix, size_t fixmax, uint8_t t8, uint8_t t16,
    uint8_t t32, size_t n)
{
	if (fixmax > 0 && n <= fixmax)
		return put(e, (uint8_t)(fix | n), 0, 0);
	if (t8 != 0 && n <= UINT8_MAX)
		return put(e, t8, n, 1);
	if (n <= UINT16_MAX)
		return put(e, t16, n, 2);
	if (n <= UINT32_MAX)
		return put(e, t32, n, 4);
	err_set(TS_EINVALID, "%s: %zu elements, more than msgpack holds",
	    e->path.root, n);
	return -1;
}

static int
enc_array(struct enc *e, size_t n)
{
	return enc_head(e, 0x90, 15, 0, 0xdc, 0xdd, n);
}

static int
enc_map(struct enc *e, size_t n)
{
	return enc_head(e, 0x80, 15, 0, 0xde, 0xdf, n);
}

static int
enc_bin(struct enc *e, const void *p, size_t n)
{
	if (enc_head(e, 0, 0, 0xc4, 0xc5, 0xc6, n) != 0)
		return -1;
	return n > 0 ? buf_append(e->out, p, n) : 0;
}

static int
enc_fail(struct enc *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
enc_fail(struct enc *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	path_err(&e->path, TS_EINVALID, fmt, ap);
	va_end(ap);
	return -1;
}

static int
enc_str(struct enc *e, const char *s, size_t n)
{
	if (enc_head(e, 0xa0, 31, 0xd9, 0xda, 0xdb, n) != 0)
		return -1;
	return n > 0 ? buf_append(e->out, s, n) : 0;
}

/* A bounded C string: -1 (recorded) if NULL or longer than max. */
static int
enc_cstr(struct enc *e, const char *s, size_t max, const char *what)
{
	size_t n;

	if (s == NULL)
		return enc_fail(e, "%s missing (NULL)", what);
	if ((n = strnlen(s, max + 1)) > max)
		return enc_fail(e, "%s longer than %zu bytes", what, max);
	return enc_str(e, s, n);
}

static int enc_struct(struct enc *, const struct schema_type *, const void *);

static int
enc_strmap(struct enc *e, const struct ts_strmap *m, uint32_t max)
{
	size_t i, j;
	unsigned old;

	if (m->n > max)
		return enc_fail(e, "%zu entries, more than %" PRIu32, m->n, max);
	if (m->n > 0 && m->items == NULL)
		return enc_fail(e, "%zu entries but no items", m->n);
	if (enc_map(e, m->n) != 0)
		return -1;
	for (i = 0; i < m->n; i++) {
		old = path_index(&e->path, i);
		if (m->items[i].k != NULL)
			for (j = 0; j < i; j++)
				if (strcmp(m->items[i].k, m->items[j].k) == 0)
					return enc_fail(e, "duplicate key");
		if (enc_cstr(e, m->items[i].k, CODEC_STRMAP_KEY_MAX,
		    "key") == -1 ||
		    enc_cstr(e, m->items[i].v, CODEC_STRMAP_VAL_MAX,
		    "value") == -1)
			return -1;
		path_pop(&e->path, old);
	}
	return 0;
}

/* p points at the storage of one value of type t (a field or list item). */
static int
enc_value(struct enc *e, enum schema_ftype t, uint32_t max,
    const struct schema_type *nested, const void *p)
{
	const struct ts_bytes *b;
	const char *s;

	switch (t) {
	case SCHEMA_T_BOOL:
		return put(e, *(const bool *)p ? 0xc3 : 0xc2, 0, 0);
	case SCHEMA_T_U32:
		return enc_uint(e, *(const uint32_t *)p);
	case SCHEMA_T_U64:
		return enc_uint(e, *(const uint64_t *)p);
	case SCHEMA_T_I64:
		return enc_int(e, *(const int64_t *)p);
	case SCHEMA_T_STR:
		return enc_cstr(e, *(char *const *)p, max, "string");
	case SCHEMA_T_BYTES:
		b = p;
		if (b->len > max)
			return enc_fail(e, "%zu bytes, more than %" PRIu32,
			    b->len, max);
		if (b->len > 0 && b->ptr == NULL)
			return enc_fail(e, "%zu bytes but no data", b->len);
		return enc_bin(e, b->ptr, b->len);
	case SCHEMA_T_UUID:
		s = p;
		if (!uuid_valid(s))
			return enc_fail(e, "not a UUID");
		return enc_str(e, s, CODEC_UUID_LEN);
	case SCHEMA_T_STRMAP:
		return enc_strmap(e, p, max);
	case SCHEMA_T_STRUCT:
		return enc_struct(e, nested, p);
	case SCHEMA_T_LIST:
		break;
	}
	err_set(TS_EINTERNAL, "%s: bad schema type %d", e->path.root, (int)t);
	return -1;
}

static int
enc_list(struct enc *e, const struct schema_field *f, const void *p)
{
	struct ts_list l;
	unsigned old;
	size_t i;

	memcpy(&l, p, sizeof(l));
	if (l.n > f->max)
		return enc_fail(e, "%zu items, more than %" PRIu32, l.n, f->max);
	if (l.n > 0 && l.items == NULL)
		return enc_fail(e, "%zu items but no array", l.n);
	if (enc_array(e, l.n) != 0)
		return -1;
	for (i = 0; i < l.n; i++) {
		old = path_index(&e->path, i);
		if (enc_value(e, f->elem, f->itemmax, f->nested,
		    (const char *)l.items + i * f->elem_size) != 0)
			return -1;
		path_pop(&e->path, old);
	}
	return 0;
}

static bool
field_present(const struct schema_field *f, const void *obj)
{
	const char *p = (const char *)obj + f->offset;
	struct ts_list l;

	if (!(f->flags & SCHEMA_F_OPTIONAL))
		return true;
	if (has_flag(f))
		return *(const bool *)((const char *)obj + f->has_offset);
	switch (f->type) {
	case SCHEMA_T_STR:
		return *(char *const *)p != NULL;
	case SCHEMA_T_BYTES:
		return ((const struct ts_bytes *)p)->ptr != NULL;
	case SCHEMA_T_UUID:
		return p[0] != '\0';
	case SCHEMA_T_STRMAP:
		return ((const struct ts_strmap *)p)->items != NULL;
	case SCHEMA_T_LIST:
		memcpy(&l, p, sizeof(l));
		return l.items != NULL;
	default:
		return true;
	}
}

static int
enc_struct(struct enc *e, const struct schema_type *t, const void *obj)
{
	const struct schema_field *f;
	const char *p;
	unsigned old;
	size_t n = 0;
	int rc;

	for (f = t->fields; f < t->fields + t->nfields; f++)
		if (field_present(f, obj))
			n++;
	if (enc_map(e, n) != 0)
		return -1;
	for (f = t->fields; f < t->fields + t->nfields; f++) {
		if (!field_present(f, obj))
			continue;
		p = (const char *)obj + f->offset;
		old = path_name(&e->path, f->name);
		if (e->bynum && f->num == 0)
			return enc_fail(e, "no field number (fields.lock)");
		if ((e->bynum ? enc_uint(e, f->num) :
		    enc_str(e, f->name, strlen(f->name))) != 0)
			return -1;
		if (f->type == SCHEMA_T_LIST)
			rc = enc_list(e, f, p);
		else
			rc = enc_value(e, f->type, f->max, f->nested, p);
		if (rc != 0)
			return -1;
		path_pop(&e->path, old);
	}
	return 0;
}

int
codec_encode(const struct schema_type *t, const void *obj, struct buf *out)
{
	struct enc e;
	size_t saved = out->len;

	enc_init(&e, out, t->name);
	if (enc_struct(&e, t, obj) != 0) {
		out->len = saved;
		return -1;
	}
	return 0;
}

int
codec_envelope_encode(const struct schema_type *t, const void *body,
    const char *request_id, const char *sender, struct buf *out)
{
	struct enc e;
	size_t saved = out->len;

	if (t->kind != SCHEMA_KIND_MESSAGE) {
		err_set(TS_EINVALID, "%s: not a message type", t->name);
		return -1;
	}
	enc_init(&e, out, "envelope");
	if (enc_array(&e, 5) != 0 ||
	    enc_uint(&e, CODEC_PROTO_VERSION) != 0 ||
	    enc_str(&e, t->name, strlen(t->name)) != 0 ||
	    enc_cstr(&e, request_id ? request_id : "", CODEC_REQUEST_ID_MAX,
	    "request id") != 0 ||
	    enc_cstr(&e, sender ? sender : "", CODEC_SENDER_MAX,
	    "sender") != 0)
		goto fail;
	path_init(&e.path, t->name);
	if (enc_struct(&e, t, body) != 0)
		goto fail;
	return 0;
fail:
	out->len = saved;
	return -1;
}

int
codec_record_encode(const struct schema_type *t, const void *obj,
    struct buf *out)
{
	struct enc e;
	size_t saved = out->len;

	if (t->kind != SCHEMA_KIND_RECORD) {
		err_set(TS_EINVALID, "%s: not a record type", t->name);
		return -1;
	}
	enc_init(&e, out, t->name);
	e.bynum = true;
	if (enc_array(&e, 2) != 0 ||
	    enc_uint(&e, t->version) != 0 ||
	    enc_struct(&e, t, obj) != 0) {
		out->len = saved;
		return -1;
	}
	return 0;
}

/* ---- decoder ------------------------------------------------------------- */

struct dec {
	const uint8_t	*p;
	const uint8_t	*end;
	unsigned	 depth;
	bool		 bynum;		/* int keys accepted (records) */
	struct path	 path;
};

static int
dec_fail(struct dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
dec_fail(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	path_err(&d->path, TS_EDECODE, fmt, ap);
	va_end(ap);
	return -1;
}

static int
dec_internal(struct dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
dec_internal(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	path_err(&d->path, TS_EINTERNAL, fmt, ap);
	va_end(ap);
	return -1;
}

static int
dec_nomem(struct dec *d)
{
	char where[PATH_TEXT_MAX];

	path_render(&d->path, where, sizeof(where));
	err_set(TS_ENOMEM, "%s: out of memory", where);
	return -1;
}

/* buf must be non-NULL when len > 0; an empty input is rejected here so
 * that no pointer arithmetic is ever done on NULL. */
static int
dec_init(struct dec *d, const uint8_t *buf, size_t len, const char *root)
{
	path_init(&d->path, root);
	d->depth = 0;
	d->bynum = false;
	d->p = d->end = NULL;
	if (buf == NULL || len == 0)
		return dec_fail(d, "empty input");
	d->p = buf;
	d->end = buf + len;
	return 0;
}

static size_t
dec_left(const struct dec *d)
{
	return (size_t)(d->end - d->p);
}

static int
dec_need(struct dec *d, size_t n, const char *what)
{
	if (dec_left(d) < n)
		return dec_fail(d, "truncated (%s needs %zu bytes, %zu left)",
		    what, n, dec_left(d));
	return 0;
}

static int
dec_end(struct dec *d)
{
	if (d->p != d->end)
		return dec_fail(d, "%zu trailing bytes", dec_left(d));
	return 0;
}

static uint64_t
be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Read an n-byte big-endian length or value following the tag. */
static int
dec_be(struct dec *d, unsigned n, uint64_t *v)
{
	if (dec_need(d, n, "header") != 0)
		return -1;
	*v = be(d->p, n);
	d->p += n;
	return 0;
}

static const char *
tag_kind(uint8_t t)
{
	if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3))
		return "int";
	if (t <= 0x8f || t == 0xde || t == 0xdf)
		return "map";
	if (t <= 0x9f || t == 0xdc || t == 0xdd)
		return "array";
	if (t <= 0xbf || (t >= 0xd9 && t <= 0xdb))
		return "string";
	switch (t) {
	case 0xc0:
		return "nil";
	case 0xc2:
	case 0xc3:
		return "bool";
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return "bin";
	case 0xca:
	case 0xcb:
		return "float";
	case 0xc1:
		return "invalid byte 0xc1";
	default:
		return "ext";
	}
}

static int
dec_tag(struct dec *d, uint8_t *t)
{
	if (dec_need(d, 1, "value") != 0)
		return -1;
	*t = *d->p;
	return 0;
}

static int
wrong_type(struct dec *d, const char *want, uint8_t t)
{
	return dec_fail(d, "expected %s, got %s", want, tag_kind(t));
}

/* String header; the body (checked to be present) follows at d->p. */
static int
dec_str_hdr(struct dec *d, size_t *len)
{
	uint64_t n = 0;
	uint8_t t;

	if (dec_tag(d, &t) != 0)
		return -1;
	if (t >= 0xa0 && t <= 0xbf) {
		d->p++;
		n = t & 0x1f;
	} else if (t >= 0xd9 && t <= 0xdb) {
		d->p++;
		if (dec_be(d, 1u << (t - 0xd9), &n) != 0)
			return -1;
	} else
		return wrong_type(d, "string", t);
	if (n > dec_left(d))
		return dec_fail(d, "truncated (string of %" PRIu64
		    " bytes, %zu left)", n, dec_left(d));
	*len = (size_t)n;
	return 0;
}

static int
dec_bin_hdr(struct dec *d, size_t *len)
{
	uint64_t n = 0;
	uint8_t t;

	if (dec_tag(d, &t) != 0)
		return -1;
	if (t < 0xc4 || t > 0xc6)
		return wrong_type(d, "bin", t);
	d->p++;
	if (dec_be(d, 1u << (t - 0xc4), &n) != 0)
		return -1;
	if (n > dec_left(d))
		return dec_fail(d, "truncated (bin of %" PRIu64
		    " bytes, %zu left)", n, dec_left(d));
	*len = (size_t)n;
	return 0;
}

/* Array and map headers differ only in their tags and in how many bytes a
 * counted item needs at the least (an element one, a map entry two: key
 * and value); a count above what the bytes left can hold is rejected before
 * anyone allocates for it. */
struct count_hdr {
	const char	*what;	/* in messages: "array", "map" */
	const char	*unit;	/* in messages: "items", "entries" */
	uint8_t		 fix;	/* first of the 16 fix tags (count in tag) */
	uint8_t		 tag16;	/* 16-bit count; tag16 + 1: 32-bit count */
	size_t		 min_item;
};

static const struct count_hdr array_hdr = { "array", "items", 0x90, 0xdc, 1 };
static const struct count_hdr map_hdr = { "map", "entries", 0x80, 0xde, 2 };

static int
dec_count_hdr(struct dec *d, const struct count_hdr *h, size_t *count)
{
	uint64_t n = 0;
	uint8_t t;

	if (dec_tag(d, &t) != 0)
		return -1;
	if (t >= h->fix && t <= h->fix + 0x0f) {
		d->p++;
		n = t & 0x0f;
	} else if (t == h->tag16 || t == h->tag16 + 1) {
		d->p++;
		if (dec_be(d, t == h->tag16 ? 2 : 4, &n) != 0)
			return -1;
	} else
		return wrong_type(d, h->what, t);
	if (n > dec_left(d) / h->min_item)
		return dec_fail(d, "truncated (%s of %" PRIu64
		    " %s, %zu bytes left)", h->what, n, h->unit, dec_left(d));
	*count = (size_t)n;
	return 0;
}

static int
dec_enter(struct dec *d)
{
	if (++d->depth > CODEC_MAX_DEPTH)
		return dec_fail(d, "nested deeper than %d", CODEC_MAX_DEPTH);
	return 0;
}

static void
dec_leave(struct dec *d)
{
	d->depth--;
}

/* Any msgpack integer: *neg tells whether *sv (negative) or *uv holds it. */
static int
dec_int(struct dec *d, bool *neg, uint64_t *uv, int64_t *sv)
{
	uint64_t raw = 0;
	uint8_t t;
	unsigned n;

	if (dec_tag(d, &t) != 0)
		return -1;
	if (t <= 0x7f) {
		d->p++;
		*neg = false;
		*uv = t;
		return 0;
	}
	if (t >= 0xe0) {
		d->p++;
		*neg = true;
		*sv = (int8_t)t;
		return 0;
	}
	if (t >= 0xcc && t <= 0xcf) {
		d->p++;
		if (dec_be(d, 1u << (t - 0xcc), uv) != 0)
			return -1;
		*neg = false;
		return 0;
	}
	if (t >= 0xd0 && t <= 0xd3) {
		d->p++;
		n = 1u << (t - 0xd0);
		if (dec_be(d, n, &raw) != 0)
			return -1;
		/* Sign-extend the n-byte two's complement value. */
		if (n < 8 && (raw >> (8 * n - 1)) & 1)
			raw |= ~UINT64_C(0) << (8 * n);
		if (raw >> 63) {
			*neg = true;
			*sv = (int64_t)(raw - (UINT64_C(1) << 63)) + INT64_MIN;
		} else {
			*neg = false;
			*uv = raw;
		}
		return 0;
	}
	return wrong_type(d, "int", t);
}

static int
dec_uint(struct dec *d, uint64_t max, uint64_t *v)
{
	int64_t sv = 0;
	bool neg = false;

	if (dec_int(d, &neg, v, &sv) != 0)
		return -1;
	if (neg)
		return dec_fail(d, "negative value %" PRId64 " for an unsigned "
		    "field", sv);
	if (*v > max)
		return dec_fail(d, "value %" PRIu64 " out of range (max %"
		    PRIu64 ")", *v, max);
	return 0;
}

static int
dec_i64(struct dec *d, int64_t *v)
{
	uint64_t uv = 0;
	bool neg = false;

	if (dec_int(d, &neg, &uv, v) != 0)
		return -1;
	if (!neg) {
		if (uv > INT64_MAX)
			return dec_fail(d, "value %" PRIu64 " out of range for "
			    "i64", uv);
		*v = (int64_t)uv;
	}
	return 0;
}

/* A string of at most max bytes without NUL, into a new allocation. */
static int
dec_str(struct dec *d, size_t max, char **out)
{
	size_t n = 0;
	char *s;

	if (dec_str_hdr(d, &n) != 0)
		return -1;
	if (n > max)
		return dec_fail(d, "string of %zu bytes, more than %zu", n, max);
	if (memchr(d->p, '\0', n) != NULL)
		return dec_fail(d, "NUL byte in string");
	if ((s = malloc(n + 1)) == NULL)
		return dec_nomem(d);
	memcpy(s, d->p, n);
	s[n] = '\0';
	d->p += n;
	*out = s;
	return 0;
}

/* The same into a caller's buffer of max + 1 bytes. */
static int
dec_str_into(struct dec *d, size_t max, char *dst)
{
	size_t n = 0;

	if (dec_str_hdr(d, &n) != 0)
		return -1;
	if (n > max)
		return dec_fail(d, "string of %zu bytes, more than %zu", n, max);
	if (memchr(d->p, '\0', n) != NULL)
		return dec_fail(d, "NUL byte in string");
	memcpy(dst, d->p, n);
	dst[n] = '\0';
	d->p += n;
	return 0;
}

static int
skip_value(struct dec *d);

static int
skip_n(struct dec *d, uint64_t count)
{
	uint64_t i;

	if (count > dec_left(d))
		return dec_fail(d, "truncated (container of %" PRIu64
		    " values, %zu bytes left)", count, dec_left(d));
	if (dec_enter(d) != 0)
		return -1;
	for (i = 0; i < count; i++)
		if (skip_value(d) != 0)
			return -1;
	dec_leave(d);
	return 0;
}

static int
skip_bytes(struct dec *d, uint64_t n)
{
	if (n > dec_left(d))
		return dec_fail(d, "truncated (value of %" PRIu64 " bytes, %zu "
		    "left)", n, dec_left(d));
	d->p += n;
	return 0;
}

/*
 * Step over one value of any type (an unknown field's). Nothing is
 * allocated; sizes are bounded by the input and nesting by the depth limit,
 * so a hostile value costs at most a pass over its own bytes.
 */
static int
skip_value(struct dec *d)
{
	uint64_t n = 0;
	uint8_t t;

	if (dec_tag(d, &t) != 0)
		return -1;
	d->p++;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;
	if (t <= 0x8f)
		return skip_n(d, 2 * (uint64_t)(t & 0x0f));
	if (t <= 0x9f)
		return skip_n(d, t & 0x0f);
	if (t <= 0xbf)
		return skip_bytes(d, t & 0x1f);
	switch (t) {
	case 0xc4: case 0xc5: case 0xc6:		/* bin 8/16/32 */
		if (dec_be(d, 1u << (t - 0xc4), &n) != 0)
			return -1;
		return skip_bytes(d, n);
	case 0xc7: case 0xc8: case 0xc9:		/* ext 8/16/32 */
		if (dec_be(d, 1u << (t - 0xc7), &n) != 0)
			return -1;
		return skip_bytes(d, n + 1);
	case 0xca:
		return skip_bytes(d, 4);
	case 0xcb:
		return skip_bytes(d, 8);
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		return skip_bytes(d, 1u << (t - 0xcc));
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return skip_bytes(d, 1u << (t - 0xd0));
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext */
		return skip_bytes(d, 1 + (1u << (t - 0xd4)));
	case 0xd9: case 0xda: case 0xdb:		/* str 8/16/32 */
		if (dec_be(d, 1u << (t - 0xd9), &n) != 0)
			return -1;
		return skip_bytes(d, n);
	case 0xdc: case 0xdd:
		if (dec_be(d, t == 0xdc ? 2 : 4, &n) != 0)
			return -1;
		return skip_n(d, n);
	case 0xde: case 0xdf:
		if (dec_be(d, t == 0xde ? 2 : 4, &n) != 0)
			return -1;
		return skip_n(d, 2 * n);
	default:
		return dec_fail(d, "invalid msgpack byte 0x%02x", t);
	}
}

static int dec_struct(struct dec *, const struct schema_type *, void *,
    uint32_t);

static int
dec_strmap(struct dec *d, uint32_t max, struct ts_strmap *m)
{
	size_t n = 0, i, j;
	unsigned old;

	if (dec_count_hdr(d, &map_hdr, &n) != 0)
		return -1;
	if (n > max)
		return dec_fail(d, "map of %zu entries, more than %" PRIu32,
		    n, max);
	if (dec_enter(d) != 0)
		return -1;
	/* A decoded map always has items, so a present empty optional map
	 * stays distinguishable from an absent one. */
	if ((m->items = calloc(n ? n : 1, sizeof(*m->items))) == NULL)
		return dec_nomem(d);
	m->n = n;
	for (i = 0; i < n; i++) {
		old = path_index(&d->path, i);
		if (dec_str(d, CODEC_STRMAP_KEY_MAX, &m->items[i].k) != 0)
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(m->items[i].k, m->items[j].k) == 0)
				return dec_fail(d, "duplicate key");
		if (dec_str(d, CODEC_STRMAP_VAL_MAX, &m->items[i].v) != 0)
			return -1;
		path_pop(&d->path, old);
	}
	dec_leave(d);
	return 0;
}

/* One value of type t into the storage at dst (a field or a list item). */
static int
dec_value(struct dec *d, enum schema_ftype t, uint32_t max,
    const struct schema_type *nested, void *dst)
{
	struct ts_bytes *b;
	char uuid[CODEC_UUID_LEN + 1];
	uint64_t u;
	uint8_t tag;
	size_t n = 0;

	switch (t) {
	case SCHEMA_T_BOOL:
		if (dec_tag(d, &tag) != 0)
			return -1;
		if (tag != 0xc2 && tag != 0xc3)
			return wrong_type(d, "bool", tag);
		d->p++;
		*(bool *)dst = tag == 0xc3;
		return 0;
	case SCHEMA_T_U32:
		if (dec_uint(d, UINT32_MAX, &u) != 0)
			return -1;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case SCHEMA_T_U64:
		return dec_uint(d, UINT64_MAX, (uint64_t *)dst);
	case SCHEMA_T_I64:
		return dec_i64(d, (int64_t *)dst);
	case SCHEMA_T_STR:
		return dec_str(d, max, (char **)dst);
	case SCHEMA_T_BYTES:
		b = dst;
		if (dec_bin_hdr(d, &n) != 0)
			return -1;
		if (n > max)
			return dec_fail(d, "%zu bytes, more than %" PRIu32,
			    n, max);
		if ((b->ptr = malloc(n ? n : 1)) == NULL)
			return dec_nomem(d);
		memcpy(b->ptr, d->p, n);
		b->len = n;
		d->p += n;
		return 0;
	case SCHEMA_T_UUID:
		if (dec_str_hdr(d, &n) != 0)
			return -1;
		if (n != CODEC_UUID_LEN)
			return dec_fail(d, "not a UUID");
		memcpy(uuid, d->p, n);
		uuid[n] = '\0';
		if (!uuid_valid(uuid))
			return dec_fail(d, "not a UUID");
		memcpy(dst, uuid, sizeof(uuid));
		d->p += n;
		return 0;
	case SCHEMA_T_STRMAP:
		return dec_strmap(d, max, dst);
	case SCHEMA_T_STRUCT:
		return dec_struct(d, nested, dst, UINT32_MAX);
	case SCHEMA_T_LIST:
		break;
	}
	return dec_internal(d, "bad schema type %d", (int)t);
}

static int
dec_list(struct dec *d, const struct schema_field *f, void *dst)
{
	struct ts_list l;
	size_t n = 0, i;
	unsigned old;

	if (dec_count_hdr(d, &array_hdr, &n) != 0)
		return -1;
	if (n > f->max)
		return dec_fail(d, "list of %zu items, more than %" PRIu32,
		    n, f->max);
	if (dec_enter(d) != 0)
		return -1;
	if ((l.items = calloc(n ? n : 1, f->elem_size)) == NULL)
		return dec_nomem(d);
	l.n = n;
	memcpy(dst, &l, sizeof(l));
	for (i = 0; i < n; i++) {
		old = path_index(&d->path, i);
		if (dec_value(d, f->elem, f->itemmax, f->nested,
		    (char *)l.items + i * f->elem_size) != 0)
			return -1;
		path_pop(&d->path, old);
	}
	dec_leave(d);
	return 0;
}

/* The key is not NUL-terminated and may hold NULs: name[len] is read only
 * once name is known to be longer than len - 1. */
static int
name_is(const char *name, const uint8_t *key, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (name[i] == '\0' || (unsigned char)name[i] != key[i])
			return 0;
	return name[len] == '\0';
}

static const struct schema_field *
find_field(const struct schema_type *t, const uint8_t *key, size_t len)
{
	const struct schema_field *f;

	for (f = t->fields; f < t->fields + t->nfields; f++)
		if (name_is(f->name, key, len))
			return f;
	return NULL;
}

/* The encoder writes the fields in schema order, so the key after field
 * *next - 1 is most often field *next: tried first, then every field. A
 * heartbeat's guests made the plain search (a strlen and memcmp per field
 * tried) a tenth of the bus thread's time. */
static const struct schema_field *
find_field_next(const struct schema_type *t, const uint8_t *key, size_t len,
    size_t *next)
{
	const struct schema_field *f = NULL;

	if (*next < t->nfields && name_is(t->fields[*next].name, key, len))
		f = &t->fields[*next];
	else
		f = find_field(t, key, len);
	if (f != NULL)
		*next = (size_t)(f - t->fields) + 1;
	return f;
}

/* gen_schema.py numbers a type's fields 1, 2, ... in declaration order
 * unless fields were inserted or removed later, so the field at num - 1 is
 * tried first; the scan covers the rest. */
static const struct schema_field *
find_field_num(const struct schema_type *t, uint64_t num)
{
	const struct schema_field *f;

	if (num >= 1 && num <= t->nfields && t->fields[num - 1].num == num)
		return &t->fields[num - 1];
	for (f = t->fields; f < t->fields + t->nfields; f++)
		if (f->num == num && num != 0)
			return f;
	return NULL;
}

/* A map key: a field name, or in a record (d->bynum) also a field number.
 * *f is NULL for a key of no field (skipped by the caller); *next is
 * find_field_next()'s hint. */
static int
dec_key(struct dec *d, const struct schema_type *t,
    const struct schema_field **f, size_t *next)
{
	const uint8_t *key;
	uint64_t num = 0;
	size_t klen = 0;
	uint8_t tag;

	if (d->bynum) {
		if (dec_tag(d, &tag) != 0)
			return -1;
		if (tag <= 0x7f || tag == 0xcc || tag == 0xcd) {
			if (dec_uint(d, CODEC_FIELD_NUM_MAX, &num) != 0)
				return -1;
			*f = find_field_num(t, num);
			return 0;
		}
	}
	if (dec_str_hdr(d, &klen) != 0)
		return -1;
	key = d->p;
	d->p += klen;
	*f = find_field_next(t, key, klen, next);
	return 0;
}

/*
 * A map of the type into obj. version is the stored record version (fields
 * with since > version may be missing) or UINT32_MAX (everything required
 * must be there). Duplicates are detected among known keys; repeated unknown
 * keys are skipped like any unknown key. want (NULL: every field) limits
 * decoding to a set of fields: the others are skipped, and reading stops as
 * soon as every wanted field was seen (*early set; the rest of the map is
 * not read).
 */
static int
dec_struct_some(struct dec *d, const struct schema_type *t, void *obj,
    uint32_t version, const uint64_t *want, bool *early)
{
	uint64_t seen[CODEC_MAX_FIELDS / 64] = { 0 };
	const struct schema_field *f;
	size_t n = 0, i, idx, nwant = 0, got = 0, next = 0;
	unsigned old;
	int rc;

	if (t->nfields > CODEC_MAX_FIELDS)
		return dec_internal(d, "%zu fields, codec limit %d",
		    t->nfields, CODEC_MAX_FIELDS);
	for (idx = 0; want != NULL && idx < t->nfields; idx++)
		if (want[idx / 64] & (UINT64_C(1) << (idx % 64)))
			nwant++;
	if (dec_count_hdr(d, &map_hdr, &n) != 0 || dec_enter(d) != 0)
		return -1;
	for (i = 0; i < n && (want == NULL || got < nwant); i++) {
		if (dec_key(d, t, &f, &next) != 0)
			return -1;
		if (f != NULL && want != NULL && !(want[(size_t)(f -
		    t->fields) / 64] & (UINT64_C(1) << ((size_t)(f -
		    t->fields) % 64))))
			f = NULL;
		if (f == NULL) {
			if (skip_value(d) != 0)
				return -1;
			continue;
		}
		idx = (size_t)(f - t->fields);
		old = path_name(&d->path, f->name);
		if (seen[idx / 64] & (UINT64_C(1) << (idx % 64)))
			return dec_fail(d, "duplicate key");
		seen[idx / 64] |= UINT64_C(1) << (idx % 64);
		if (f->type == SCHEMA_T_LIST)
			rc = dec_list(d, f, (char *)obj + f->offset);
		else
			rc = dec_value(d, f->type, f->max, f->nested,
			    (char *)obj + f->offset);
		if (rc != 0)
			return -1;
		if (has_flag(f))
			*has_ptr(f, obj) = true;
		path_pop(&d->path, old);
		got++;
	}
	if (early != NULL)
		*early = i < n;
	for (idx = 0; idx < t->nfields; idx++) {
		f = &t->fields[idx];
		if (seen[idx / 64] & (UINT64_C(1) << (idx % 64)) ||
		    f->flags & SCHEMA_F_OPTIONAL || f->since > version ||
		    (want != NULL && !(want[idx / 64] &
		    (UINT64_C(1) << (idx % 64)))))
			continue;
		path_name(&d->path, f->name);
		return dec_fail(d, "missing required field");
	}
	dec_leave(d);
	return 0;
}

static int
dec_struct(struct dec *d, const struct schema_type *t, void *obj,
    uint32_t version)
{
	return dec_struct_some(d, t, obj, version, NULL, NULL);
}

int
codec_decode(const struct schema_type *t, const uint8_t *buf, size_t len,
    void *obj)
{
	struct dec d;

	memset(obj, 0, t->size);
	if (dec_init(&d, buf, len, t->name) != 0)
		return -1;
	if (dec_struct(&d, t, obj, UINT32_MAX) != 0 || dec_end(&d) != 0) {
		codec_clear(t, obj);
		return -1;
	}
	return 0;
}

static const char *
dir_name(enum schema_dir dir)
{
	switch (dir) {
	case SCHEMA_FROM_AGENT:
		return "an agent";
	case SCHEMA_FROM_CONTROLLER:
		return "the controller";
	default:
		return "either side";
	}
}

int
codec_envelope_decode(const uint8_t *buf, size_t len,
    enum schema_dir expected_from, struct codec_envelope *out)
{
	char name[CODEC_MSG_NAME_MAX + 1], safe[CODEC_MSG_NAME_MAX + 1];
	const struct schema_type *t;
	struct dec d;
	uint64_t v = 0;
	size_t n = 0, i;

	memset(out, 0, sizeof(*out));
	if (dec_init(&d, buf, len, "envelope") != 0)
		return -1;
	if (dec_count_hdr(&d, &array_hdr, &n) != 0 || dec_enter(&d) != 0)
		return -1;
	if (n != 5)
		return dec_fail(&d, "array of %zu elements, want 5", n);
	path_init(&d.path, "envelope.version");
	if (dec_uint(&d, UINT32_MAX, &v) != 0)
		return -1;
	if (v != CODEC_PROTO_VERSION)
		return dec_fail(&d, "protocol version %" PRIu64 " not "
		    "supported (want %d)", v, CODEC_PROTO_VERSION);
	out->version = (uint32_t)v;
	path_init(&d.path, "envelope.type");
	if (dec_str_into(&d, CODEC_MSG_NAME_MAX, name) != 0)
		return -1;
	path_init(&d.path, "envelope.request_id");
	if (dec_str_into(&d, CODEC_REQUEST_ID_MAX, out->request_id) != 0)
		return -1;
	path_init(&d.path, "envelope.sender");
	if (dec_str_into(&d, CODEC_SENDER_MAX, out->sender) != 0)
		return -1;
	path_init(&d.path, "envelope.type");
	if ((t = schema_msg_by_name(name)) == NULL) {
		/* The name is the peer's; keep the error message printable. */
		for (i = 0; name[i] != '\0'; i++)
			safe[i] = name[i] >= 0x20 && name[i] < 0x7f &&
			    name[i] != '"' ? name[i] : '?';
		safe[i] = '\0';
		return dec_fail(&d, "unknown message type \"%s\"", safe);
	}
	out->type = t;
	if (expected_from != SCHEMA_FROM_ANY && t->dir != SCHEMA_FROM_ANY &&
	    t->dir != expected_from)
		return dec_fail(&d, "message \"%s\" is sent by %s, not "
		    "accepted from %s", t->name, dir_name(t->dir),
		    dir_name(expected_from));
	path_init(&d.path, t->name);
	if ((out->body = codec_new(t)) == NULL)
		return -1;
	if (dec_struct(&d, t, out->body, UINT32_MAX) != 0)
		goto fail;
	dec_leave(&d);
	path_init(&d.path, "envelope");
	if (dec_end(&d) != 0)
		goto fail;
	return 0;
fail:
	codec_free(t, &out->body);
	return -1;
}

const struct schema_type *
codec_envelope_peek_type(const uint8_t *buf, size_t len)
{
	char name[CODEC_MSG_NAME_MAX + 1];
	size_t i = 1, n;

	/* [version, type, ...]: a fixarray of 5, an unsigned int, a str. */
	if (len < 3 || buf[0] != 0x95)
		return NULL;
	if (buf[i] <= 0x7f)
		i += 1;
	else if (buf[i] >= 0xcc && buf[i] <= 0xcf)
		i += 1 + (1u << (buf[i] - 0xcc));
	else
		return NULL;
	if (i >= len)
		return NULL;
	if ((buf[i] & 0xe0) == 0xa0) {
		n = buf[i] & 0x1f;
		i += 1;
	} else if (buf[i] == 0xd9 && i + 1 < len) {
		n = buf[i + 1];
		i += 2;
	} else
		return NULL;
	/* (a NUL inside would end the name early) */
	if (n > CODEC_MSG_NAME_MAX || n > len - i ||
	    memchr(buf + i, '\0', n) != NULL)
		return NULL;
	memcpy(name, buf + i, n);
	name[n] = '\0';
	return schema_msg_by_name(name);
}

void
codec_envelope_clear(struct codec_envelope *env)
{
	if (env == NULL)
		return;
	if (env->type != NULL)
		codec_free(env->type, &env->body);
	memset(env, 0, sizeof(*env));
}

static int
is_record(const struct schema_type *t)
{
	if (t->kind != SCHEMA_KIND_RECORD) {
		err_set(TS_EINVALID, "%s: not a record type", t->name);
		return 0;
	}
	return 1;
}

/* The [version, body] array around a record, up to the body. */
static int
dec_record_hdr(struct dec *d, const struct schema_type *t, const uint8_t *buf,
    size_t len, uint64_t *v)
{
	size_t n = 0;

	if (dec_init(d, buf, len, t->name) != 0)
		return -1;
	d->bynum = true;
	if (dec_count_hdr(d, &array_hdr, &n) != 0 || dec_enter(d) != 0)
		return -1;
	if (n != 2)
		return dec_fail(d, "array of %zu elements, want [version, "
		    "body]", n);
	if (dec_uint(d, UINT32_MAX, v) != 0)
		return -1;
	if (*v == 0)
		return dec_fail(d, "record version 0");
	if (*v > t->version)
		return dec_fail(d, "record version %" PRIu64 " newer than "
		    "supported %" PRIu32, *v, t->version);
	return 0;
}

int
codec_record_decode(const struct schema_type *t, const uint8_t *buf,
    size_t len, void *obj, uint32_t *version_out)
{
	struct dec d;
	uint64_t v = 0;

	if (!is_record(t))
		return -1;
	memset(obj, 0, t->size);
	if (dec_record_hdr(&d, t, buf, len, &v) != 0)
		return -1;
	if (dec_struct(&d, t, obj, (uint32_t)v) != 0 || dec_end(&d) != 0) {
		codec_clear(t, obj);
		return -1;
	}
	if (version_out != NULL)
		*version_out = (uint32_t)v;
	return 0;
}

int
codec_fieldset_init(const struct schema_type *t, const char *const *names,
    struct codec_fieldset *out)
{
	const struct schema_field *f;

	memset(out, 0, sizeof(*out));
	if (t->nfields > CODEC_MAX_FIELDS) {
		err_set(TS_EINTERNAL, "%s: %zu fields, codec limit %d",
		    t->name, t->nfields, CODEC_MAX_FIELDS);
		return -1;
	}
	for (; *names != NULL; names++) {
		size_t idx;

		if ((f = find_field(t, (const uint8_t *)*names,
		    strlen(*names))) == NULL) {
			err_set(TS_EINTERNAL, "%s has no field %s", t->name,
			    *names);
			return -1;
		}
		idx = (size_t)(f - t->fields);
		out->bits[idx / 64] |= UINT64_C(1) << (idx % 64);
	}
	return 0;
}

int
codec_record_decode_some(const struct schema_type *t, const uint8_t *buf,
    size_t len, const struct codec_fieldset *want, void *obj)
{
	struct dec d;
	uint64_t v = 0;
	bool early = false;

	if (!is_record(t))
		return -1;
	memset(obj, 0, t->size);
	if (dec_record_hdr(&d, t, buf, len, &v) != 0)
		return -1;
	if (dec_struct_some(&d, t, obj, (uint32_t)v, want->bits, &early) != 0 ||
	    (!early && dec_end(&d) != 0)) {
		codec_clear(t, obj);
		return -1;
	}
	return 0;
}

int
codec_record_raw_field(const uint8_t *buf, size_t len, uint32_t num,
    const char *name, const uint8_t **val, size_t *vlen)
{
	struct dec d;
	const uint8_t *key, *start;
	uint64_t v = 0, k = 0;
	size_t n = 0, i, klen = 0;
	uint8_t tag;
	bool hit;

	if (dec_init(&d, buf, len, "record") != 0)
		return -1;
	if (dec_count_hdr(&d, &array_hdr, &n) != 0 || dec_enter(&d) != 0)
		return -1;
	if (n != 2)
		return dec_fail(&d, "array of %zu elements, want [version, "
		    "body]", n);
	if (dec_uint(&d, UINT32_MAX, &v) != 0)
		return -1;
	if (dec_count_hdr(&d, &map_hdr, &n) != 0 || dec_enter(&d) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (dec_tag(&d, &tag) != 0)
			return -1;
		if (tag <= 0x7f || tag == 0xcc || tag == 0xcd) {
			if (dec_uint(&d, CODEC_FIELD_NUM_MAX, &k) != 0)
				return -1;
			hit = k == num;
		} else {
			if (dec_str_hdr(&d, &klen) != 0)
				return -1;
			key = d.p;
			d.p += klen;
			hit = name_is(name, key, klen);
		}
		start = d.p;
		if (skip_value(&d) != 0)
			return -1;
		if (hit) {
			*val = start;
			*vlen = (size_t)(d.p - start);
			return 0;
		}
	}
	err_set(TS_ENOT_FOUND, "record has no field %u (%s)", num, name);
	return -1;
}

int
codec_record_decode_field(const struct schema_type *t, const char *name,
    const uint8_t *buf, size_t len, void *obj)
{
	const struct schema_field *f;
	struct dec d;
	int rc;

	if (!is_record(t))
		return -1;
	if ((f = find_field(t, (const uint8_t *)name, strlen(name))) == NULL) {
		err_set(TS_EINTERNAL, "%s has no field %s", t->name, name);
		return -1;
	}
	if (dec_init(&d, buf, len, t->name) != 0)
		return -1;
	d.bynum = true;
	path_name(&d.path, f->name);
	if (f->type == SCHEMA_T_LIST)
		rc = dec_list(&d, f, (char *)obj + f->offset);
	else
		rc = dec_value(&d, f->type, f->max, f->nested,
		    (char *)obj + f->offset);
	if (rc != 0 || dec_end(&d) != 0) {
		codec_clear(t, obj);
		return -1;
	}
	if (has_flag(f))
		*has_ptr(f, obj) = true;
	return 0;
}

/* ---- dump ---------------------------------------------------------------- */

/* snprintf-style writer: pos counts what the full text needs. */
struct dumpw {
	char	*buf;
	size_t	 len;
	size_t	 pos;
};

static void
dw_putc(struct dumpw *w, char c)
{
	if (w->pos + 1 < w->len)
		w->buf[w->pos] = c;
	w->pos++;
}

static void
dw_puts(struct dumpw *w, const char *s)
{
	while (*s != '\0')
		dw_putc(w, *s++);
}

static void
dw_printf(struct dumpw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dw_printf(struct dumpw *w, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	dw_puts(w, tmp);
}

static void
dw_quoted(struct dumpw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	unsigned char c;

	dw_putc(w, '"');
	for (i = 0; s[i] != '\0'; i++) {
		if (i == DUMP_STR_MAX) {
			dw_puts(w, "...");
			break;
		}
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			dw_putc(w, '\\');
			dw_putc(w, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			dw_puts(w, "\\u00");
			dw_putc(w, hex[c >> 4]);
			dw_putc(w, hex[c & 0xf]);
		} else
			dw_putc(w, (char)c);
	}
	dw_putc(w, '"');
}

static void dump_struct(struct dumpw *, const struct schema_type *,
    const void *);

static void
dump_value(struct dumpw *w, enum schema_ftype t,
    const struct schema_type *nested, const void *p)
{
	const struct ts_strmap *m;
	const char *s;
	size_t i;

	switch (t) {
	case SCHEMA_T_BOOL:
		dw_puts(w, *(const bool *)p ? "true" : "false");
		break;
	case SCHEMA_T_U32:
		dw_printf(w, "%" PRIu32, *(const uint32_t *)p);
		break;
	case SCHEMA_T_U64:
		dw_printf(w, "%" PRIu64, *(const uint64_t *)p);
		break;
	case SCHEMA_T_I64:
		dw_printf(w, "%" PRId64, *(const int64_t *)p);
		break;
	case SCHEMA_T_STR:
		s = *(char *const *)p;
		if (s == NULL)
			dw_puts(w, "null");
		else
			dw_quoted(w, s);
		break;
	case SCHEMA_T_BYTES:
		dw_printf(w, "\"<%zu bytes>\"", ((const struct ts_bytes *)p)->len);
		break;
	case SCHEMA_T_UUID:
		/* At most the 36 characters plus NUL of the array. */
		dw_putc(w, '"');
		for (s = p; s < (const char *)p + CODEC_UUID_LEN && *s; s++)
			dw_putc(w, (*s >= 0x20 && *s < 0x7f && *s != '"' &&
			    *s != '\\') ? *s : '?');
		dw_putc(w, '"');
		break;
	case SCHEMA_T_STRMAP:
		m = p;
		dw_putc(w, '{');
		for (i = 0; m->items != NULL && i < m->n; i++) {
			if (i == DUMP_LIST_MAX) {
				dw_printf(w, ",\"...\":\"+%zu more\"",
				    m->n - i);
				break;
			}
			if (i > 0)
				dw_putc(w, ',');
			dw_quoted(w, m->items[i].k ? m->items[i].k : "");
			dw_putc(w, ':');
			if (m->items[i].v == NULL)
				dw_puts(w, "null");
			else
				dw_quoted(w, m->items[i].v);
		}
		dw_putc(w, '}');
		break;
	case SCHEMA_T_STRUCT:
		dump_struct(w, nested, p);
		break;
	case SCHEMA_T_LIST:
		break;
	}
}

static void
dump_struct(struct dumpw *w, const struct schema_type *t, const void *obj)
{
	const struct schema_field *f;
	const char *p;
	struct ts_list l;
	bool first = true;
	size_t i;

	dw_putc(w, '{');
	for (f = t->fields; f < t->fields + t->nfields; f++) {
		if (!field_present(f, obj))
			continue;
		if (!first)
			dw_putc(w, ',');
		first = false;
		dw_putc(w, '"');
		dw_puts(w, f->name);
		dw_puts(w, "\":");
		p = (const char *)obj + f->offset;
		if (f->flags & SCHEMA_F_SECRET) {
			dw_puts(w, "\"***\"");
			continue;
		}
		if (f->type != SCHEMA_T_LIST) {
			dump_value(w, f->type, f->nested, p);
			continue;
		}
		memcpy(&l, p, sizeof(l));
		dw_putc(w, '[');
		for (i = 0; l.items != NULL && i < l.n; i++) {
			if (i > 0)
				dw_putc(w, ',');
			if (i == DUMP_LIST_MAX) {
				dw_printf(w, "\"...+%zu more\"", l.n - i);
				break;
			}
			dump_value(w, f->elem, f->nested,
			    (const char *)l.items + i * f->elem_size);
		}
		dw_putc(w, ']');
	}
	dw_putc(w, '}');
}

int
codec_dump(const struct schema_type *t, const void *obj, char *buf,
    size_t len)
{
	struct dumpw w = { .buf = buf, .len = len, .pos = 0 };

	dump_struct(&w, t, obj);
	if (len > 0)
		buf[w.pos < len ? w.pos : len - 1] = '\0';
	return w.pos > INT_MAX ? INT_MAX : (int)w.pos;
}
