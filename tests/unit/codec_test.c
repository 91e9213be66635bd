/*
 * Unit tests for common/codec.c and the code tools/gen_schema.py generates.
 *
 * Most tests walk the generated descriptor tables rather than naming
 * messages, so a message or record added to schemas/ is covered (round
 * trip, truncation, per-field type/size/presence checks) without touching
 * this file. tests/golden/codec/all_types.schema adds one type using every
 * type and attribute of the schema language.
 *
 * `codec_test --write-seeds DIR` writes valid envelope and record encodings
 * for the fuzz corpus (tests/fuzz/seeds/fuzz_codec) instead of testing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include "codec.h"
#include "health.h"
#include "err.h"
#include "msg_gen.h"
#include "codec_test_gen.h"

/* ---- helpers: every type, filling, comparing ------------------------------ */

static const struct schema_type *all_types[256];
static size_t nall;

static void
collect(const struct schema_type *const *list)
{
	for (; *list != NULL; list++) {
		assert_true(nall < sizeof(all_types) / sizeof(all_types[0]));
		all_types[nall++] = *list;
	}
}

static void
collect_all(void)
{
	if (nall > 0)
		return;
	collect(schema_messages);
	collect(schema_records);
	collect(schema_structs);
	collect(codec_test_messages);
	collect(codec_test_records);
	collect(codec_test_structs);
}

/* V_MIN: empty strings and lists, zeros, optional fields absent.
 * V_SOME: a few items, short strings, everything present.
 * V_MAX: every string, list and map at its maximum, extreme integers
 *        (the type's own fields; nested structs as V_SOME, see fill_value). */
enum variant { V_MIN, V_SOME, V_MAX };

static unsigned seed;

static size_t
pick_len(uint32_t max, enum variant v)
{
	if (v == V_MIN)
		return 0;
	if (v == V_MAX)
		return max;
	return max < 7 ? max : 7;
}

static size_t
pick_count(uint32_t max, enum variant v)
{
	if (v == V_MIN)
		return 0;
	if (v == V_MAX)
		return max;
	return max < 3 ? max : 3;
}

/* Text with bytes >= 0x80 in the V_MAX case: UTF-8 is not checked. */
static char *
mkstr(size_t len, enum variant v)
{
	char *s = malloc(len + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < len; i++)
		s[i] = (char)(v == V_MAX && i % 7 == 3 ? 0xc3 :
		    'a' + (seed + i) % 26);
	s[len] = '\0';
	seed++;
	return s;
}

static void
mkuuid(char *dst)
{
	unsigned s = seed++;

	snprintf(dst, CODEC_UUID_LEN + 1, "%08x-%04x-4%03x-8%03x-%012x",
	    s * 2654435761u, s & 0xffff, s & 0xfff, (s >> 4) & 0xfff, s);
}

static void fill_struct(const struct schema_type *, void *, enum variant);

/* Optional bool/int/struct fields carry `bool has_<name>`. */
static bool
has_presence_flag(const struct schema_field *f)
{
	return (f->flags & SCHEMA_F_OPTIONAL) && (f->type == SCHEMA_T_BOOL ||
	    f->type == SCHEMA_T_U32 || f->type == SCHEMA_T_U64 ||
	    f->type == SCHEMA_T_I64 || f->type == SCHEMA_T_STRUCT);
}

static void
fill_value(enum schema_ftype t, uint32_t max, const struct schema_type *nested,
    void *p, enum variant v)
{
	struct ts_strmap *m;
	struct ts_bytes *b;
	size_t i, n;

	switch (t) {
	case SCHEMA_T_BOOL:
		*(bool *)p = v == V_MAX || (v == V_SOME && seed % 2);
		break;
	case SCHEMA_T_U32:
		*(uint32_t *)p = v == V_MAX ? UINT32_MAX :
		    v == V_SOME ? seed * 7 + 1 : 0;
		break;
	case SCHEMA_T_U64:
		*(uint64_t *)p = v == V_MAX ? UINT64_MAX :
		    v == V_SOME ? seed * UINT64_C(1000000007) : 0;
		break;
	case SCHEMA_T_I64:
		*(int64_t *)p = v == V_MAX ? (seed % 2 ? INT64_MIN : INT64_MAX) :
		    v == V_SOME ? -(int64_t)seed * 12345 : 0;
		break;
	case SCHEMA_T_STR:
		*(char **)p = mkstr(pick_len(max, v), v);
		break;
	case SCHEMA_T_BYTES:
		b = p;
		b->len = pick_len(max, v);
		b->ptr = malloc(b->len ? b->len : 1);
		assert_non_null(b->ptr);
		for (i = 0; i < b->len; i++)
			b->ptr[i] = (uint8_t)(seed + i * 37);
		break;
	case SCHEMA_T_UUID:
		mkuuid(p);
		break;
	case SCHEMA_T_STRMAP:
		m = p;
		n = pick_count(max, v);
		if (n == 0)
			break;
		m->items = calloc(n, sizeof(*m->items));
		assert_non_null(m->items);
		m->n = n;
		for (i = 0; i < n; i++) {
			m->items[i].k = mkstr(v == V_MAX ?
			    CODEC_STRMAP_KEY_MAX : 4, V_SOME);
			/* Distinct keys: the index in front (max <= 999). */
			m->items[i].k[0] = (char)('0' + i / 100 % 10);
			m->items[i].k[1] = (char)('0' + i / 10 % 10);
			m->items[i].k[2] = (char)('0' + i % 10);
			m->items[i].v = mkstr(v == V_MAX ?
			    CODEC_STRMAP_VAL_MAX : 5, v);
		}
		break;
	case SCHEMA_T_STRUCT:
		/*
		 * A nested struct at V_MAX is filled as V_SOME: every struct
		 * type gets its own V_MAX round (all_types holds them all),
		 * and maxima multiplied down the nesting (a host's network:
		 * ports x groups x rules x ...) make objects of gigabytes that
		 * no frame could carry, which took minutes and proved nothing
		 * more per field.
		 */
		fill_struct(nested, p, v == V_MAX ? V_SOME : v);
		break;
	case SCHEMA_T_LIST:
		fail_msg("list as a value");
	}
	seed++;
}

static void
fill_struct(const struct schema_type *t, void *obj, enum variant v)
{
	const struct schema_field *f;
	struct ts_list l;
	size_t i;
	char *p;

	for (f = t->fields; f < t->fields + t->nfields; f++) {
		if ((f->flags & SCHEMA_F_OPTIONAL) && v == V_MIN)
			continue;
		p = (char *)obj + f->offset;
		if (has_presence_flag(f))
			*(bool *)((char *)obj + f->has_offset) = true;
		if (f->type != SCHEMA_T_LIST) {
			fill_value(f->type, f->max, f->nested, p, v);
			continue;
		}
		l.n = pick_count(f->max, v);
		l.items = NULL;
		if (l.n > 0 || (f->flags & SCHEMA_F_OPTIONAL)) {
			l.items = calloc(l.n ? l.n : 1, f->elem_size);
			assert_non_null(l.items);
		}
		for (i = 0; i < l.n; i++)
			fill_value(f->elem, f->itemmax, f->nested,
			    (char *)l.items + i * f->elem_size, v);
		memcpy(p, &l, sizeof(l));
	}
}

static void *
new_filled(const struct schema_type *t, enum variant v)
{
	void *obj = codec_new(t);

	assert_non_null(obj);
	fill_struct(t, obj, v);
	return obj;
}

static bool
present(const struct schema_field *f, const void *obj)
{
	const char *p = (const char *)obj + f->offset;
	struct ts_list l;

	if (!(f->flags & SCHEMA_F_OPTIONAL))
		return true;
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
		return *(const bool *)((const char *)obj + f->has_offset);
	}
}

static bool obj_equal(const struct schema_type *, const void *, const void *);

static bool
val_equal(enum schema_ftype t, const struct schema_type *nested,
    const void *a, const void *b)
{
	const struct ts_bytes *ba = a, *bb = b;
	const struct ts_strmap *ma = a, *mb = b;
	size_t i;

	switch (t) {
	case SCHEMA_T_BOOL:
		return *(const bool *)a == *(const bool *)b;
	case SCHEMA_T_U32:
		return *(const uint32_t *)a == *(const uint32_t *)b;
	case SCHEMA_T_U64:
		return *(const uint64_t *)a == *(const uint64_t *)b;
	case SCHEMA_T_I64:
		return *(const int64_t *)a == *(const int64_t *)b;
	case SCHEMA_T_STR:
		return strcmp(*(char *const *)a, *(char *const *)b) == 0;
	case SCHEMA_T_BYTES:
		return ba->len == bb->len &&
		    (ba->len == 0 || memcmp(ba->ptr, bb->ptr, ba->len) == 0);
	case SCHEMA_T_UUID:
		return strcmp(a, b) == 0;
	case SCHEMA_T_STRMAP:
		if (ma->n != mb->n)
			return false;
		for (i = 0; i < ma->n; i++)
			if (strcmp(ma->items[i].k, mb->items[i].k) != 0 ||
			    strcmp(ma->items[i].v, mb->items[i].v) != 0)
				return false;
		return true;
	case SCHEMA_T_STRUCT:
		return obj_equal(nested, a, b);
	case SCHEMA_T_LIST:
		break;
	}
	return false;
}

static bool
obj_equal(const struct schema_type *t, const void *a, const void *b)
{
	const struct schema_field *f;
	struct ts_list la, lb;
	size_t i;

	for (f = t->fields; f < t->fields + t->nfields; f++) {
		if (present(f, a) != present(f, b))
			return false;
		if (!present(f, a))
			continue;
		if (f->type != SCHEMA_T_LIST) {
			if (!val_equal(f->type, f->nested,
			    (const char *)a + f->offset,
			    (const char *)b + f->offset))
				return false;
			continue;
		}
		memcpy(&la, (const char *)a + f->offset, sizeof(la));
		memcpy(&lb, (const char *)b + f->offset, sizeof(lb));
		if (la.n != lb.n)
			return false;
		for (i = 0; i < la.n; i++)
			if (!val_equal(f->elem, f->nested,
			    (const char *)la.items + i * f->elem_size,
			    (const char *)lb.items + i * f->elem_size))
				return false;
	}
	return true;
}

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* rc must be -1 with the given code and a message containing want. */
static void
expect_err(int rc, enum ts_errcode code, const char *want)
{
	if (rc != -1)
		fail_msg("call succeeded; wanted %s containing \"%s\"",
		    err_code_name(code), want);
	if (err_code() != code || strstr(err_msg(), want) == NULL)
		fail_msg("got %s \"%s\"; wanted %s containing \"%s\"",
		    err_code_name(err_code()), err_msg(), err_code_name(code),
		    want);
}

/* Body decode that must fail; the object must come back cleared. */
static void
expect_decode_fail(const struct schema_type *t, const uint8_t *buf,
    size_t len, const char *want)
{
	void *obj = malloc(t->size);

	assert_non_null(obj);
	memset(obj, 0xa5, t->size);
	expect_err(codec_decode(t, buf, len, obj), TS_EDECODE, want);
	assert_true(all_zero(obj, t->size));
	free(obj);
}

static void
expect_decode_ok(const struct schema_type *t, const uint8_t *buf, size_t len)
{
	void *obj = codec_new(t);

	assert_non_null(obj);
	if (codec_decode(t, buf, len, obj) != 0)
		fail_msg("%s: unexpected error: %s", t->name, err_msg());
	codec_free(t, &obj);
	assert_null(obj);
}

/* Pack with msgpack-c into a struct buf, for hand-made inputs. */
struct pk {
	msgpack_sbuffer	sb;
	msgpack_packer	p;
};

static void
pk_init(struct pk *k)
{
	msgpack_sbuffer_init(&k->sb);
	msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
}

static void
pk_raw(struct pk *k, const void *raw, size_t len)
{
	assert_int_equal(msgpack_sbuffer_write(&k->sb, raw, len), 0);
}

static void
pk_str(struct pk *k, const char *s, size_t len)
{
	msgpack_pack_str(&k->p, len);
	msgpack_pack_str_body(&k->p, s, len);
}

static void
pk_done(struct pk *k, struct buf *out)
{
	out->len = 0;
	assert_int_equal(buf_append(out, k->sb.data, k->sb.size), 0);
	msgpack_sbuffer_destroy(&k->sb);
}

enum mut {
	M_REPLACE,	/* the field's value becomes raw */
	M_DELETE,	/* the field is dropped */
	M_DUP,		/* the field appears twice */
};

/*
 * Encode obj, then rewrite its top-level map with msgpack-c's unpacker
 * (trusted input here): the entry for key is dropped (M_REPLACE, M_DELETE)
 * or kept (M_DUP), and for M_REPLACE/M_DUP the key is appended again with
 * the raw msgpack bytes as its value (raw NULL: the original value).
 */
static void
mutate(const struct schema_type *t, const void *obj, const char *key,
    enum mut m, const void *raw, size_t rawlen, struct buf *out)
{
	struct buf enc = { 0 };
	msgpack_unpacked up;
	msgpack_object_map *map;
	msgpack_object *orig = NULL;
	size_t off = 0, i, n;
	struct pk k;

	assert_int_equal(codec_encode(t, obj, &enc), 0);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, (const char *)enc.data,
	    enc.len, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
	map = &up.data.via.map;
	for (i = 0; i < map->size; i++)
		if (map->ptr[i].key.via.str.size == strlen(key) &&
		    memcmp(map->ptr[i].key.via.str.ptr, key, strlen(key)) == 0)
			orig = &map->ptr[i].val;
	n = map->size;
	if (orig != NULL && m != M_DUP)
		n--;
	if (m != M_DELETE)
		n++;
	pk_init(&k);
	msgpack_pack_map(&k.p, n);
	for (i = 0; i < map->size; i++) {
		if (&map->ptr[i].val == orig && m != M_DUP)
			continue;
		msgpack_pack_object(&k.p, map->ptr[i].key);
		msgpack_pack_object(&k.p, map->ptr[i].val);
	}
	if (m != M_DELETE) {
		pk_str(&k, key, strlen(key));
		if (raw != NULL)
			pk_raw(&k, raw, rawlen);
		else {
			assert_non_null(orig);
			msgpack_pack_object(&k.p, *orig);
		}
	}
	pk_done(&k, out);
	msgpack_unpacked_destroy(&up);
	buf_free(&enc);
}

/* ---- round trips --------------------------------------------------------- */

static void
roundtrip_one(const struct schema_type *t, enum variant v)
{
	struct buf e1 = { 0 }, e2 = { 0 };
	struct codec_envelope env;
	void *a = new_filled(t, v), *b = codec_new(t);
	uint32_t ver = 0;

	if (codec_encode(t, a, &e1) != 0)
		fail_msg("%s: encode: %s", t->name, err_msg());
	if (codec_decode(t, e1.data, e1.len, b) != 0)
		fail_msg("%s: decode: %s", t->name, err_msg());
	if (!obj_equal(t, a, b))
		fail_msg("%s (variant %d): decoded object differs", t->name, v);
	assert_int_equal(codec_encode(t, b, &e2), 0);
	assert_int_equal(e1.len, e2.len);
	assert_memory_equal(e1.data, e2.data, e1.len);
	codec_clear(t, b);
	assert_true(all_zero(b, t->size));

	if (t->kind == SCHEMA_KIND_MESSAGE && schema_msg_by_name(t->name) == t) {
		e2.len = 0;
		assert_int_equal(codec_envelope_encode(t, a, "req-abc",
		    "host-1", &e2), 0);
		memset(&env, 0, sizeof(env));
		if (codec_envelope_decode(e2.data, e2.len, SCHEMA_FROM_ANY,
		    &env) != 0)
			fail_msg("%s: envelope: %s", t->name, err_msg());
		assert_ptr_equal(env.type, t);
		assert_int_equal(env.version, CODEC_PROTO_VERSION);
		assert_string_equal(env.request_id, "req-abc");
		assert_string_equal(env.sender, "host-1");
		assert_true(obj_equal(t, a, env.body));
		codec_envelope_clear(&env);
		assert_null(env.body);
	}
	if (t->kind == SCHEMA_KIND_RECORD) {
		e2.len = 0;
		assert_int_equal(codec_record_encode(t, a, &e2), 0);
		if (codec_record_decode(t, e2.data, e2.len, b, &ver) != 0)
			fail_msg("%s: record: %s", t->name, err_msg());
		assert_int_equal(ver, t->version);
		assert_true(obj_equal(t, a, b));
		codec_clear(t, b);
		/* The same record keyed by name (as stores before DB schema
		 * 15 hold it) reads back equal, and is larger unless empty. */
		assert_true(t->version < 128);
		e1.len = 0;
		assert_int_equal(buf_append(&e1, "\x92", 1), 0);
		assert_int_equal(buf_append(&e1, &(uint8_t){ (uint8_t)t->version },
		    1), 0);
		assert_int_equal(codec_encode(t, a, &e1), 0);
		if (codec_record_decode(t, e1.data, e1.len, b, &ver) != 0)
			fail_msg("%s: record by name: %s", t->name, err_msg());
		assert_true(obj_equal(t, a, b));
		codec_clear(t, b);
		if (e1.data[2] == 0x80 ? e2.len != e1.len : e2.len >= e1.len)
			fail_msg("%s (variant %d): %zu bytes by number, %zu by "
			    "name", t->name, v, e2.len, e1.len);
	}
	codec_free(t, &a);
	codec_free(t, &b);
	buf_free(&e1);
	buf_free(&e2);
}

static void
test_roundtrip_every_type(void **state)
{
	size_t i;

	collect_all();
	assert_true(schema_nmessages >= 5);
	assert_true(schema_nrecords >= 3);
	for (i = 0; i < nall; i++) {
		roundtrip_one(all_types[i], V_MIN);
		roundtrip_one(all_types[i], V_SOME);
		roundtrip_one(all_types[i], V_MAX);
	}
}

/* Present-but-empty optional containers stay present; absent stay absent. */
static void
test_optional_presence(void **state)
{
	struct msg_tt_all *a = new_filled(&schema_msg_tt_all, V_SOME);
	struct msg_tt_all *b = codec_new(&schema_msg_tt_all);
	struct buf e = { 0 };

	free(a->os);
	a->os = strdup("");
	a->oraw.len = 0;
	while (a->ols.n > 0)	/* items stays allocated: present, empty */
		free(a->ols.items[--a->ols.n]);
	a->has_ou = false;
	a->oid[0] = '\0';
	assert_int_equal(codec_encode(&schema_msg_tt_all, a, &e), 0);
	assert_int_equal(codec_decode(&schema_msg_tt_all, e.data, e.len, b), 0);
	assert_non_null(b->os);
	assert_string_equal(b->os, "");
	assert_non_null(b->oraw.ptr);
	assert_int_equal(b->oraw.len, 0);
	assert_non_null(b->ols.items);
	assert_int_equal(b->ols.n, 0);
	assert_false(b->has_ou);
	assert_string_equal(b->oid, "");
	assert_true(b->has_oinner);
	assert_true(obj_equal(&schema_msg_tt_all, a, b));
	codec_free(&schema_msg_tt_all, (void **)&a);
	codec_free(&schema_msg_tt_all, (void **)&b);
	buf_free(&e);
}

/* The bytes on the wire for one message, so an accidental format change
 * shows up here and not between two releases. */
static void
test_golden_envelope(void **state)
{
	static const uint8_t want[] = {
	    0x95, 0x01,
	    0xad, 'h', 'e', 'a', 'r', 't', 'b', 'e', 'a', 't', '_', 'a', 'c', 'k',
	    0xa5, 'r', 'e', 'q', '-', '1',
	    0xa3, 'c', 't', 'l',
	    0x82,
	    0xa3, 's', 'e', 'q', 0x07,
	    0xab, 's', 'e', 'r', 'v', 'e', 'r', '_', 't', 'i', 'm', 'e',
	    0xcf, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
	};
	struct msg_heartbeat_ack ack = { .seq = 7,
	    .server_time = INT64_C(1700000000000) };
	struct buf e = { 0 };

	assert_int_equal(codec_envelope_encode(&schema_msg_heartbeat_ack, &ack,
	    "req-1", "ctl", &e), 0);
	assert_int_equal(e.len, sizeof(want));
	assert_memory_equal(e.data, want, sizeof(want));
	buf_free(&e);
}

/* ---- malformed input ----------------------------------------------------- */

static void
test_truncated_everywhere(void **state)
{
	struct buf e = { 0 };
	struct codec_envelope env;
	const struct schema_type *t;
	uint8_t *copy;
	size_t i, cut;
	void *obj;

	collect_all();
	for (i = 0; i < nall; i++) {
		t = all_types[i];
		obj = new_filled(t, V_SOME);
		e.len = 0;
		if (t->kind == SCHEMA_KIND_MESSAGE &&
		    schema_msg_by_name(t->name) == t)
			assert_int_equal(codec_envelope_encode(t, obj, "r", "s",
			    &e), 0);
		else if (t->kind == SCHEMA_KIND_RECORD)
			assert_int_equal(codec_record_encode(t, obj, &e), 0);
		else
			assert_int_equal(codec_encode(t, obj, &e), 0);
		codec_free(t, &obj);
		/* A copy of exactly cut bytes, so ASan sees any overread. */
		for (cut = 0; cut < e.len; cut++) {
			copy = malloc(cut ? cut : 1);
			assert_non_null(copy);
			memcpy(copy, e.data, cut);
			if (t->kind == SCHEMA_KIND_MESSAGE &&
			    schema_msg_by_name(t->name) == t) {
				memset(&env, 0, sizeof(env));
				expect_err(codec_envelope_decode(copy, cut,
				    SCHEMA_FROM_ANY, &env), TS_EDECODE,
				    cut ? "truncated" : "empty input");
				assert_null(env.body);
			} else if (t->kind == SCHEMA_KIND_RECORD) {
				obj = codec_new(t);
				expect_err(codec_record_decode(t, copy, cut,
				    obj, NULL), TS_EDECODE,
				    cut ? "truncated" : "empty input");
				assert_true(all_zero(obj, t->size));
				free(obj);
			} else
				expect_decode_fail(t, copy, cut,
				    cut ? "truncated" : "empty input");
			free(copy);
		}
		/* One byte more is as bad as one byte less. */
		assert_int_equal(buf_append(&e, "\xc0", 1), 0);
		if (t->kind == SCHEMA_KIND_MESSAGE &&
		    schema_msg_by_name(t->name) == t) {
			memset(&env, 0, sizeof(env));
			expect_err(codec_envelope_decode(e.data, e.len,
			    SCHEMA_FROM_ANY, &env), TS_EDECODE,
			    "envelope: 1 trailing bytes");
			assert_null(env.body);
		} else if (t->kind == SCHEMA_KIND_RECORD) {
			obj = codec_new(t);
			expect_err(codec_record_decode(t, e.data, e.len, obj,
			    NULL), TS_EDECODE, "1 trailing bytes");
			free(obj);
		} else
			expect_decode_fail(t, e.data, e.len, "1 trailing bytes");
	}
	buf_free(&e);
}

struct wrong {
	const char	*raw;
	size_t		 len;
	const char	*got;
};

#define W(s, got)	{ s, sizeof(s) - 1, got }

static const struct wrong wrong_nil = W("\xc0", "nil");
static const struct wrong wrong_int = W("\x07", "int");
static const struct wrong wrong_str = W("\xa2xy", "string");
static const struct wrong wrong_bool = W("\xc3", "bool");
static const struct wrong wrong_float =
    W("\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18", "float");
static const struct wrong wrong_bin = W("\xc4\x01z", "bin");
static const struct wrong wrong_array = W("\x90", "array");
static const struct wrong wrong_map = W("\x80", "map");
static const struct wrong wrong_ext = W("\xd4\x01\x00", "ext");

static const char *
kind_name(enum schema_ftype t)
{
	switch (t) {
	case SCHEMA_T_BOOL:
		return "bool";
	case SCHEMA_T_U32:
	case SCHEMA_T_U64:
	case SCHEMA_T_I64:
		return "int";
	case SCHEMA_T_STR:
	case SCHEMA_T_UUID:
		return "string";
	case SCHEMA_T_BYTES:
		return "bin";
	case SCHEMA_T_LIST:
		return "array";
	default:
		return "map";
	}
}

static void
check_wrong(const struct schema_type *t, const void *obj,
    const struct schema_field *f, const struct wrong *w)
{
	struct buf buf = { 0 };
	char want[256];

	if (strcmp(kind_name(f->type), w->got) == 0)
		return;
	mutate(t, obj, f->name, M_REPLACE, w->raw, w->len, &buf);
	snprintf(want, sizeof(want), "%s.%s: expected %s, got %s", t->name,
	    f->name, kind_name(f->type), w->got);
	expect_decode_fail(t, buf.data, buf.len, want);
	buf_free(&buf);
}

/* Every field of every type: each wrong msgpack type, absence, a duplicate
 * key, and one element/byte over its maximum. */
static void
test_every_field_checked(void **state)
{
	static const struct wrong *wrongs[] = { &wrong_nil, &wrong_int,
	    &wrong_str, &wrong_bool, &wrong_float, &wrong_bin, &wrong_array,
	    &wrong_map, &wrong_ext };
	const struct schema_field *f;
	const struct schema_type *t;
	struct buf buf = { 0 };
	char want[256], *big;
	size_t i, j, n;
	void *obj;
	struct pk k;

	collect_all();
	for (i = 0; i < nall; i++) {
		t = all_types[i];
		obj = new_filled(t, V_SOME);
		for (f = t->fields; f < t->fields + t->nfields; f++) {
			for (j = 0; j < sizeof(wrongs) / sizeof(wrongs[0]); j++)
				check_wrong(t, obj, f, wrongs[j]);

			mutate(t, obj, f->name, M_DELETE, NULL, 0, &buf);
			if (f->flags & SCHEMA_F_OPTIONAL)
				expect_decode_ok(t, buf.data, buf.len);
			else {
				snprintf(want, sizeof(want), "%s.%s: missing "
				    "required field", t->name, f->name);
				expect_decode_fail(t, buf.data, buf.len, want);
			}

			mutate(t, obj, f->name, M_DUP, NULL, 0, &buf);
			snprintf(want, sizeof(want), "%s.%s: duplicate key",
			    t->name, f->name);
			expect_decode_fail(t, buf.data, buf.len, want);

			/* max + 1 */
			pk_init(&k);
			switch (f->type) {
			case SCHEMA_T_STR:
			case SCHEMA_T_UUID:
				n = f->type == SCHEMA_T_UUID ?
				    CODEC_UUID_LEN + 1 : f->max + 1u;
				big = malloc(n);
				assert_non_null(big);
				memset(big, 'a', n);
				pk_str(&k, big, n);
				free(big);
				break;
			case SCHEMA_T_BYTES:
				big = calloc(1, f->max + 1u);
				assert_non_null(big);
				msgpack_pack_bin(&k.p, f->max + 1u);
				msgpack_pack_bin_body(&k.p, big, f->max + 1u);
				free(big);
				break;
			case SCHEMA_T_LIST:
				msgpack_pack_array(&k.p, f->max + 1u);
				for (n = 0; n <= f->max; n++)
					msgpack_pack_nil(&k.p);
				break;
			case SCHEMA_T_STRMAP:
				msgpack_pack_map(&k.p, f->max + 1u);
				for (n = 0; n <= f->max; n++) {
					msgpack_pack_nil(&k.p);
					msgpack_pack_nil(&k.p);
				}
				break;
			default:
				msgpack_sbuffer_destroy(&k.sb);
				continue;
			}
			mutate(t, obj, f->name, M_REPLACE, k.sb.data,
			    k.sb.size, &buf);
			msgpack_sbuffer_destroy(&k.sb);
			if (f->type == SCHEMA_T_UUID)
				snprintf(want, sizeof(want), "%s.%s: not a "
				    "UUID", t->name, f->name);
			else if (f->type == SCHEMA_T_STRMAP)
				snprintf(want, sizeof(want), "%s.%s: map of "
				    "%u entries, more than %u", t->name,
				    f->name, (unsigned)f->max + 1,
				    (unsigned)f->max);
			else if (f->type == SCHEMA_T_LIST)
				snprintf(want, sizeof(want), "%s.%s: list of "
				    "%u items, more than %u", t->name, f->name,
				    (unsigned)f->max + 1, (unsigned)f->max);
			else
				snprintf(want, sizeof(want), "%s.%s: %s%u "
				    "bytes, more than %u", t->name, f->name,
				    f->type == SCHEMA_T_STR ? "string of " : "",
				    (unsigned)f->max + 1, (unsigned)f->max);
			expect_decode_fail(t, buf.data, buf.len, want);
		}
		codec_free(t, &obj);
	}
	buf_free(&buf);
}

static void
body_with(const char *field, const void *raw, size_t len, struct buf *out)
{
	struct msg_tt_all *a = new_filled(&schema_msg_tt_all, V_SOME);

	mutate(&schema_msg_tt_all, a, field, M_REPLACE, raw, len, out);
	codec_free(&schema_msg_tt_all, (void **)&a);
}

#define TT_FAIL(field, raw, want) do {					\
	body_with(field, raw, sizeof(raw) - 1, &buf);			\
	expect_decode_fail(&schema_msg_tt_all, buf.data, buf.len, want); \
} while (0)

static void
test_strings_and_uuids(void **state)
{
	struct buf buf = { 0 };

	TT_FAIL("s", "\xa5ho\0st", "tt_all.s: NUL byte in string");
	TT_FAIL("s", "\xd9\x01\0", "tt_all.s: NUL byte in string");
	TT_FAIL("ls", "\x92\xa1x\xa2\0y", "tt_all.ls[1]: NUL byte in string");
	TT_FAIL("ls", "\x91\xa6xxxxxx",
	    "tt_all.ls[0]: string of 6 bytes, more than 5");
	TT_FAIL("lraw", "\x91\xc4\x06xxxxxx",
	    "tt_all.lraw[0]: 6 bytes, more than 5");
	TT_FAIL("meta", "\x81\xa2k\0\xa1v", "tt_all.meta[0]: NUL byte");
	TT_FAIL("meta", "\x81\xa1k\xa2v\0", "tt_all.meta[0]: NUL byte");
	TT_FAIL("meta", "\x82\xa1k\xa1v\xa1k\xa1w",
	    "tt_all.meta[1]: duplicate key");
	TT_FAIL("meta", "\x81\x01\xa1v", "tt_all.meta[0]: expected string");

	TT_FAIL("id", "\xd9\x24" "123E4567-e89b-12d3-a456-426614174000",
	    "tt_all.id: not a UUID");
	TT_FAIL("id", "\xd9\x24" "123e4567-e89b-12d3-a456-42661417400g",
	    "tt_all.id: not a UUID");
	TT_FAIL("id", "\xd9\x24" "123e4567e-89b-12d3-a456-426614174000",
	    "tt_all.id: not a UUID");
	TT_FAIL("id", "\xd9\x24" "123e4567-e89b-12d3-a456-42661417400\0",
	    "tt_all.id: not a UUID");
	TT_FAIL("id", "\xb0" "123e4567e89b12d3", "tt_all.id: not a UUID");
	TT_FAIL("id", "\xa0", "tt_all.id: not a UUID");
	TT_FAIL("lid", "\x91\xa3" "abc", "tt_all.lid[0]: not a UUID");
	TT_FAIL("oid", "\xa0", "tt_all.oid: not a UUID");
	body_with("id", "\xd9\x24" "123e4567-e89b-12d3-a456-426614174000", 38,
	    &buf);
	expect_decode_ok(&schema_msg_tt_all, buf.data, buf.len);
	/* Strings are not checked for UTF-8, only for NUL. */
	body_with("s", "\xa3\xff\xfe\x80", 4, &buf);
	expect_decode_ok(&schema_msg_tt_all, buf.data, buf.len);
	buf_free(&buf);
}

/* The error names the path down to the offending item. */
static void
test_error_path(void **state)
{
	struct msg_agent_hello *h = new_filled(&schema_msg_agent_hello, V_SOME);
	struct codec_envelope env = { 0 };
	struct buf e = { 0 };
	uint8_t *p;

	assert_int_equal(codec_envelope_encode(&schema_msg_agent_hello, h,
	    "req-7", "compute-1", &e), 0);
	p = memmem(e.data, e.len, h->guests.items[1].uuid, CODEC_UUID_LEN);
	assert_non_null(p);
	p[3] = 'X';
	expect_err(codec_envelope_decode(e.data, e.len, SCHEMA_FROM_AGENT,
	    &env), TS_EDECODE, "agent_hello.guests[1].uuid: not a UUID");
	assert_string_equal(err_msg(), "agent_hello.guests[1].uuid: not a UUID");
	assert_null(env.body);
	assert_string_equal(env.request_id, "req-7");
	assert_string_equal(env.sender, "compute-1");
	assert_ptr_equal(env.type, &schema_msg_agent_hello);
	codec_envelope_clear(&env);
	codec_free(&schema_msg_agent_hello, (void **)&h);
	buf_free(&e);
}

static void
test_integers(void **state)
{
	static const struct {
		const char	*field;
		const char	*raw;
		size_t		 len;
		uint64_t	 u;
		int64_t		 i;
	} ok[] = {
#define OK(f, r, u, i)	{ f, r, sizeof(r) - 1, u, i }
		OK("u", "\x05", 5, 0),
		OK("u", "\xcc\x05", 5, 0),
		OK("u", "\xcd\x00\x05", 5, 0),
		OK("u", "\xce\x00\x00\x00\x05", 5, 0),
		OK("u", "\xcf\x00\x00\x00\x00\x00\x00\x00\x05", 5, 0),
		OK("u", "\xd0\x05", 5, 0),
		OK("u", "\xd1\x00\x05", 5, 0),
		OK("u", "\xd2\x00\x00\x00\x05", 5, 0),
		OK("u", "\xd3\x00\x00\x00\x00\x00\x00\x00\x05", 5, 0),
		OK("u", "\xce\xff\xff\xff\xff", UINT32_MAX, 0),
		OK("u", "\xcf\x00\x00\x00\x00\xff\xff\xff\xff", UINT32_MAX, 0),
		OK("big", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", UINT64_MAX, 0),
		OK("big", "\xd3\x7f\xff\xff\xff\xff\xff\xff\xff", INT64_MAX, 0),
		OK("neg", "\xff", 0, -1),
		OK("neg", "\xe0", 0, -32),
		OK("neg", "\xd0\x80", 0, -128),
		OK("neg", "\xd1\x80\x00", 0, -32768),
		OK("neg", "\xd2\x80\x00\x00\x00", 0, INT32_MIN),
		OK("neg", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 0, INT64_MIN),
		OK("neg", "\xd3\xff\xff\xff\xff\xff\xff\xff\xfe", 0, -2),
		OK("neg", "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 0, INT64_MAX),
		OK("neg", "\xcc\xff", 0, 255),
#undef OK
	};
	struct msg_tt_all *m = codec_new(&schema_msg_tt_all);
	struct buf buf = { 0 };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		body_with(ok[i].field, ok[i].raw, ok[i].len, &buf);
		if (codec_decode(&schema_msg_tt_all, buf.data, buf.len, m) != 0)
			fail_msg("case %zu: %s", i, err_msg());
		if (strcmp(ok[i].field, "u") == 0)
			assert_int_equal(m->u, ok[i].u);
		else if (strcmp(ok[i].field, "big") == 0)
			assert_true(m->big == ok[i].u);
		else
			assert_true(m->neg == ok[i].i);
		codec_clear(&schema_msg_tt_all, m);
	}
	TT_FAIL("u", "\xff", "tt_all.u: negative value -1");
	TT_FAIL("u", "\xd0\xff", "tt_all.u: negative value -1");
	TT_FAIL("u", "\xd3\xff\xff\xff\xff\xff\xff\xff\xff",
	    "tt_all.u: negative value -1");
	TT_FAIL("u", "\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
	    "tt_all.u: value 4294967296 out of range");
	TT_FAIL("big", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
	    "tt_all.big: negative value -9223372036854775808");
	TT_FAIL("neg", "\xcf\x80\x00\x00\x00\x00\x00\x00\x00",
	    "tt_all.neg: value 9223372036854775808 out of range for i64");
	TT_FAIL("lu", "\x91\xff", "tt_all.lu[0]: negative value");
	TT_FAIL("u", "\xcd\x00", "tt_all.u: truncated");
	TT_FAIL("b", "\x01", "tt_all.b: expected bool, got int");
	codec_free(&schema_msg_tt_all, (void **)&m);
	buf_free(&buf);
}

/* Declared lengths far beyond the input fail before anything is allocated
 * for them (the failure is the bounds check, not an allocation). */
static void
test_huge_declared_lengths(void **state)
{
	/* Exactly 10 bytes: {"x": array of 2^32-1} with 2 bytes behind it. */
	static const uint8_t unknown_list[10] = {
	    0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 };
	static const uint8_t wide[] = {
	    0x81, 0xa5, 'i', 't', 'e', 'm', 's', 0xdd, 0xff, 0xff, 0xff, 0xff,
	    0x01 };
	static const uint8_t wide_1m[] = {	/* 10^6 <= max, 1 byte left */
	    0x81, 0xa5, 'i', 't', 'e', 'm', 's', 0xdd, 0x00, 0x0f, 0x42, 0x40,
	    0x01 };
	static const uint8_t guests[] = {
	    0x81, 0xa6, 'g', 'u', 'e', 's', 't', 's', 0xdd, 0xff, 0xff, 0xff,
	    0xff };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0 };
	static const uint8_t str32[] = {
	    0x81, 0xa1, 'x', 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
	static const uint8_t bin32[] = {
	    0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff, 'a' };
	static const uint8_t ext32[] = {
	    0x81, 0xa1, 'x', 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 'a' };
	static const uint8_t umap32[] = {
	    0x81, 0xa1, 'x', 0xdf, 0x80, 0x00, 0x00, 0x00, 0xc0, 0xc0 };
	struct buf buf = { 0 };

	expect_decode_fail(&schema_msg_heartbeat, unknown_list,
	    sizeof(unknown_list), "heartbeat: truncated (container of "
	    "4294967295 values, 2 bytes left)");
	expect_decode_fail(&schema_msg_tt_wide, wide, sizeof(wide),
	    "tt_wide.items: truncated (array of 4294967295 items, 1 bytes "
	    "left)");
	expect_decode_fail(&schema_msg_tt_wide, wide_1m, sizeof(wide_1m),
	    "tt_wide.items: truncated (array of 1000000 items, 1 bytes left)");
	expect_decode_fail(&schema_msg_agent_hello, guests, sizeof(guests),
	    "agent_hello.guests: truncated (array of 4294967295 items");
	expect_decode_fail(&schema_msg_agent_hello, map32, sizeof(map32),
	    "agent_hello: truncated (map of 4294967295 entries");
	expect_decode_fail(&schema_msg_agent_hello, str32, sizeof(str32),
	    "agent_hello: truncated (value of 4294967295 bytes, 1 left)");
	expect_decode_fail(&schema_msg_agent_hello, bin32, sizeof(bin32),
	    "agent_hello: truncated (value of 4294967295 bytes, 1 left)");
	expect_decode_fail(&schema_msg_agent_hello, ext32, sizeof(ext32),
	    "agent_hello: truncated (value of 4294967296 bytes, 2 left)");
	expect_decode_fail(&schema_msg_agent_hello, umap32, sizeof(umap32),
	    "agent_hello: truncated (container of 4294967296 values, 2 bytes");
	TT_FAIL("s", "\xdb\xff\xff\xff\xff", "tt_all.s: truncated (string of "
	    "4294967295 bytes");
	TT_FAIL("raw", "\xc6\xff\xff\xff\xff", "tt_all.raw: truncated (bin of "
	    "4294967295 bytes");
	TT_FAIL("meta", "\xdf\xff\xff\xff\xff", "tt_all.meta: truncated (map "
	    "of 4294967295 entries");
	buf_free(&buf);
}

static void
test_depth_bomb(void **state)
{
	struct buf buf = { 0 };
	uint8_t *bomb;
	size_t n, i;

	/* 16 levels including the body map are allowed; 17 are not. */
	for (n = 14; n <= 100000; n = n < 20 ? n + 1 : n * 10) {
		bomb = malloc(n + 1);
		assert_non_null(bomb);
		for (i = 0; i < n; i++)
			bomb[i] = 0x91;		/* [[[[...]]]] */
		bomb[n] = 0xc0;
		body_with("unknown_future_field", bomb, n + 1, &buf);
		if (n + 1 <= CODEC_MAX_DEPTH)
			expect_decode_ok(&schema_msg_tt_all, buf.data, buf.len);
		else
			expect_decode_fail(&schema_msg_tt_all, buf.data,
			    buf.len, "tt_all: nested deeper than 16");
		free(bomb);
		/* {nil: {nil: ...}}: maps nest the same way. */
		bomb = malloc(2 * n + 1);
		assert_non_null(bomb);
		for (i = 0; i < n; i++) {
			bomb[2 * i] = 0x81;
			bomb[2 * i + 1] = 0xc0;
		}
		bomb[2 * n] = 0xc0;
		body_with("unknown_future_field", bomb, 2 * n + 1, &buf);
		if (n + 1 <= CODEC_MAX_DEPTH)
			expect_decode_ok(&schema_msg_tt_all, buf.data, buf.len);
		else
			expect_decode_fail(&schema_msg_tt_all, buf.data,
			    buf.len, "tt_all: nested deeper than 16");
		free(bomb);
	}
	buf_free(&buf);
}

/* Unknown keys (a newer peer's fields) are skipped whatever their type. */
static void
test_unknown_fields_skipped(void **state)
{
	static const uint8_t every_type[] = {
	    0xdc, 0x00, 0x24,				/* array16 of 36 */
	    0xc0, 0xc2, 0xc3, 0x05, 0xff,
	    0xcc, 1, 0xcd, 1, 2, 0xce, 1, 2, 3, 4,
	    0xcf, 1, 2, 3, 4, 5, 6, 7, 8,
	    0xd0, 1, 0xd1, 1, 2, 0xd2, 1, 2, 3, 4,
	    0xd3, 1, 2, 3, 4, 5, 6, 7, 8,
	    0xca, 1, 2, 3, 4, 0xcb, 1, 2, 3, 4, 5, 6, 7, 8,
	    0xa2, 'h', 'i', 0xd9, 1, 'x', 0xda, 0, 1, 'x',
	    0xdb, 0, 0, 0, 1, 'x',
	    0xc4, 1, 0, 0xc5, 0, 1, 0, 0xc6, 0, 0, 0, 1, 0,
	    0xd4, 1, 0, 0xd5, 1, 0, 0, 0xd6, 1, 0, 0, 0, 0,
	    0xd7, 1, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xc7, 1, 7, 0, 0xc8, 0, 1, 7, 0, 0xc9, 0, 0, 0, 1, 7, 0,
	    0x91, 0x90, 0xdc, 0, 1, 0xc0, 0xdd, 0, 0, 0, 1, 0xc0,
	    0x81, 0xc0, 0xc0, 0xde, 0, 1, 0x01, 0x80,
	    0xdf, 0, 0, 0, 1, 0x90, 0xc0,
	};
	static const char dup_unknown[] = "\x84\xa3seq\x07\xab" "server_time"
	    "\x01\xa2zz\x01\xa2zz\x02";
	static const char int_key[] = "\x83\xa3seq\x07\xab" "server_time"
	    "\x01\x01\x02";
	struct msg_tt_all *a = new_filled(&schema_msg_tt_all, V_SOME);
	struct msg_tt_all *b = codec_new(&schema_msg_tt_all);
	struct buf buf = { 0 };
	uint8_t bad[sizeof(every_type)];
	size_t i;

	mutate(&schema_msg_tt_all, a, "zz_from_the_future", M_REPLACE,
	    every_type, sizeof(every_type), &buf);
	if (codec_decode(&schema_msg_tt_all, buf.data, buf.len, b) != 0)
		fail_msg("%s", err_msg());
	assert_true(obj_equal(&schema_msg_tt_all, a, b));
	codec_clear(&schema_msg_tt_all, b);

	/* Any cut of the unknown value is caught while skipping. */
	for (i = 0; i < sizeof(every_type); i++) {
		mutate(&schema_msg_tt_all, a, "zz", M_REPLACE, every_type, i,
		    &buf);
		expect_decode_fail(&schema_msg_tt_all, buf.data, buf.len,
		    "tt_all: truncated");
	}
	memcpy(bad, every_type, sizeof(bad));
	bad[3] = 0xc1;		/* the one byte msgpack never uses */
	mutate(&schema_msg_tt_all, a, "zz", M_REPLACE, bad, sizeof(bad), &buf);
	expect_decode_fail(&schema_msg_tt_all, buf.data, buf.len,
	    "tt_all: invalid msgpack byte 0xc1");
	/* A repeated unknown key is skipped both times; a non-string key is
	 * refused even where an unknown key would be skipped. */
	expect_decode_ok(&schema_msg_heartbeat_ack, (const uint8_t *)dup_unknown,
	    sizeof(dup_unknown) - 1);
	expect_decode_fail(&schema_msg_heartbeat_ack, (const uint8_t *)int_key,
	    sizeof(int_key) - 1, "heartbeat_ack: expected string, got int");
	codec_free(&schema_msg_tt_all, (void **)&a);
	codec_free(&schema_msg_tt_all, (void **)&b);
	buf_free(&buf);
}

/* Keys are looked up from the field after the last one found first (the
 * encoder's order), then among all fields: any order decodes the same, and
 * only a key equal to a field's whole name matches it. */
static void
test_key_order_and_names(void **state)
{
	static const char reversed[] = "\x82\xab" "server_time" "\x01\xa3seq"
	    "\x07";
	static const char nul_key[] = "\x83\xa4seq\0\x05\xab" "server_time"
	    "\x01\xa3seq\x07";
	static const char prefix_key[] = "\x82\xa2se\x07\xab" "server_time"
	    "\x01";
	static const char longer_key[] = "\x83\xa3seq\x07\xa4seqq\x09\xab"
	    "server_time\x01";
	struct msg_heartbeat_ack m;

	(void)state;
	assert_int_equal(codec_decode(&schema_msg_heartbeat_ack,
	    (const uint8_t *)reversed, sizeof(reversed) - 1, &m), 0);
	assert_int_equal(m.seq, 7);
	assert_int_equal(m.server_time, 1);
	codec_clear(&schema_msg_heartbeat_ack, &m);
	assert_int_equal(codec_decode(&schema_msg_heartbeat_ack,
	    (const uint8_t *)nul_key, sizeof(nul_key) - 1, &m), 0);
	assert_int_equal(m.seq, 7);
	codec_clear(&schema_msg_heartbeat_ack, &m);
	assert_int_equal(codec_decode(&schema_msg_heartbeat_ack,
	    (const uint8_t *)longer_key, sizeof(longer_key) - 1, &m), 0);
	assert_int_equal(m.seq, 7);
	codec_clear(&schema_msg_heartbeat_ack, &m);
	expect_decode_fail(&schema_msg_heartbeat_ack,
	    (const uint8_t *)prefix_key, sizeof(prefix_key) - 1,
	    "heartbeat_ack.seq: missing required field");
}

/* ---- envelopes ----------------------------------------------------------- */

static void
envelope_raw(struct buf *out, unsigned nelem, const char *ver,
    size_t verlen, const char *name, size_t namelen, const char *req,
    const char *sender, const struct buf *body)
{
	struct pk k;

	pk_init(&k);
	msgpack_pack_array(&k.p, nelem);
	pk_raw(&k, ver, verlen);
	pk_str(&k, name, namelen);
	pk_str(&k, req, strlen(req));
	if (nelem >= 4)
		pk_str(&k, sender, strlen(sender));
	if (nelem >= 5)
		pk_raw(&k, body->data, body->len);
	if (nelem >= 6)
		msgpack_pack_nil(&k.p);
	pk_done(&k, out);
}

static void
expect_env_fail(const struct buf *b, enum schema_dir from, const char *want)
{
	struct codec_envelope env;

	memset(&env, 0x5a, sizeof(env));
	expect_err(codec_envelope_decode(b->data, b->len, from, &env),
	    TS_EDECODE, want);
	assert_null(env.body);
	codec_envelope_clear(&env);
}

static void
test_envelope_checks(void **state)
{
	struct msg_hello_ack ack = { .controller_host = "ctl",
	    .report_interval = 10, .server_time = 1 };
	struct msg_error er = { .code = 7, .message = "boom" };
	struct buf body = { 0 }, b = { 0 }, big = { 0 };
	struct codec_envelope env = { 0 };
	char longs[300];

	assert_int_equal(codec_encode(&schema_msg_hello_ack, &ack, &body), 0);
	envelope_raw(&b, 5, "\x01", 1, "hello_ack", 9, "r1", "ctl", &body);
	assert_int_equal(codec_envelope_decode(b.data, b.len,
	    SCHEMA_FROM_CONTROLLER, &env), 0);
	assert_ptr_equal(env.type, &schema_msg_hello_ack);
	assert_string_equal(env.request_id, "r1");
	assert_string_equal(env.sender, "ctl");
	assert_string_equal(((struct msg_hello_ack *)env.body)->controller_host,
	    "ctl");
	codec_envelope_clear(&env);
	assert_true(all_zero(&env, sizeof(env)));
	/* Non-minimal version encoding is still version 1. */
	envelope_raw(&b, 5, "\xcf\0\0\0\0\0\0\0\x01", 9, "hello_ack", 9,
	    "r1", "ctl", &body);
	assert_int_equal(codec_envelope_decode(b.data, b.len,
	    SCHEMA_FROM_CONTROLLER, &env), 0);
	codec_envelope_clear(&env);

	/* The wrong side. */
	envelope_raw(&b, 5, "\x01", 1, "hello_ack", 9, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_AGENT, "envelope.type: message "
	    "\"hello_ack\" is sent by the controller, not accepted from an "
	    "agent");
	/* Protocol versions. */
	envelope_raw(&b, 5, "\x02", 1, "hello_ack", 9, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope.version: protocol version 2 not supported (want 1)");
	envelope_raw(&b, 5, "\x00", 1, "hello_ack", 9, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER, "protocol version 0");
	envelope_raw(&b, 5, "\xff", 1, "hello_ack", 9, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope.version: negative value -1");
	envelope_raw(&b, 5, "\xa1" "1", 2, "hello_ack", 9, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope.version: expected int, got string");
	/* Unknown type: rejected, with request id and sender kept. */
	envelope_raw(&b, 5, "\x01", 1, "reboot_\x01planet", 14, "r9", "h9",
	    &body);
	memset(&env, 0, sizeof(env));
	expect_err(codec_envelope_decode(b.data, b.len, SCHEMA_FROM_ANY, &env),
	    TS_EDECODE, "envelope.type: unknown message type "
	    "\"reboot_?planet\"");
	assert_string_equal(env.request_id, "r9");
	assert_string_equal(env.sender, "h9");
	assert_null(env.type);
	assert_null(env.body);
	/* A NUL must not turn "hello_ack\0x" into hello_ack. */
	envelope_raw(&b, 5, "\x01", 1, "hello_ack\0x", 11, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope.type: NUL byte in string");
	memset(longs, 'n', sizeof(longs));
	envelope_raw(&b, 5, "\x01", 1, longs, 65, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope.type: string of 65 bytes, more than 64");
	longs[65] = '\0';
	envelope_raw(&b, 5, "\x01", 1, "hello_ack", 9, longs, "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope.request_id: string of 65 bytes, more than 64");
	longs[65] = 'n';
	longs[256] = '\0';
	envelope_raw(&b, 5, "\x01", 1, "hello_ack", 9, "r", longs, &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope.sender: string of 256 bytes, more than 255");
	/* Shape. */
	envelope_raw(&b, 4, "\x01", 1, "hello_ack", 9, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope: array of 4 elements, want 5");
	envelope_raw(&b, 6, "\x01", 1, "hello_ack", 9, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "envelope: array of 6 elements, want 5");
	expect_env_fail(&body, SCHEMA_FROM_CONTROLLER,
	    "envelope: expected array, got map");
	/* A body of the wrong message. */
	envelope_raw(&b, 5, "\x01", 1, "heartbeat_ack", 13, "r1", "ctl", &body);
	expect_env_fail(&b, SCHEMA_FROM_CONTROLLER,
	    "heartbeat_ack.seq: missing required field");

	/* error may come from either side. */
	assert_int_equal(codec_envelope_encode(&schema_msg_error, &er, NULL,
	    NULL, &big), 0);
	assert_int_equal(codec_envelope_decode(big.data, big.len,
	    SCHEMA_FROM_AGENT, &env), 0);
	assert_string_equal(env.request_id, "");
	assert_null(((struct msg_error *)env.body)->in_reply_to);
	codec_envelope_clear(&env);
	assert_int_equal(codec_envelope_decode(big.data, big.len,
	    SCHEMA_FROM_CONTROLLER, &env), 0);
	codec_envelope_clear(&env);

	/* The encoder checks the same limits. */
	big.len = 3;
	expect_err(codec_envelope_encode(&schema_msg_error, &er, longs, "s",
	    &big), TS_EINVALID, "envelope: request id longer than 64 bytes");
	assert_int_equal(big.len, 3);
	expect_err(codec_envelope_encode(&schema_rec_service, &er, "r", "s",
	    &big), TS_EINVALID, "service: not a message type");
	buf_free(&body);
	buf_free(&b);
	buf_free(&big);
}

/* ---- records ------------------------------------------------------------- */

static void
record_raw(struct buf *out, const char *ver, size_t verlen,
    const char *body, size_t bodylen)
{
	out->len = 0;
	assert_int_equal(buf_append(out, "\x92", 1), 0);
	assert_int_equal(buf_append(out, ver, verlen), 0);
	assert_int_equal(buf_append(out, body, bodylen), 0);
}

#define REC(ver, body) record_raw(&b, ver, sizeof(ver) - 1, body, sizeof(body) - 1)

/*
 * codec_envelope_peek_type(): the type of every message from the
 * envelope's first bytes alone (the bus's per-type send counters), with a
 * non-minimal version and a str8 name too; NULL for anything cut before
 * the name's end, another shape, an unknown name or one with a NUL, and
 * no error recorded either way.
 */
static void
test_envelope_peek(void **state)
{
	struct buf body = { 0 }, b = { 0 };
	struct msg_hello_ack ack = { .controller_host = "ctl",
	    .report_interval = 10, .server_time = 1 };
	uint8_t raw[80];
	size_t namelen = strlen("hello_ack");

	(void)state;
	assert_int_equal(codec_encode(&schema_msg_hello_ack, &ack, &body), 0);
	for (uint32_t id = 1; id < SCHEMA_MSG__COUNT; id++) {
		const struct schema_type *t = schema_msg_by_id(id);

		assert_non_null(t);
		envelope_raw(&b, 5, "\x01", 1, t->name, strlen(t->name), "r1",
		    "ctl", &body);
		assert_ptr_equal(codec_envelope_peek_type(b.data, b.len), t);
		assert_int_equal(t->id, id);
	}
	/* what the encoder writes */
	buf_reset(&b);
	assert_int_equal(codec_envelope_encode(&schema_msg_hello_ack, &ack,
	    "r1", "ctl", &b), 0);
	assert_ptr_equal(codec_envelope_peek_type(b.data, b.len),
	    &schema_msg_hello_ack);
	/* cut anywhere before the name's end: none; from there: found */
	for (size_t n = 0; n < b.len; n++)
		assert_ptr_equal(codec_envelope_peek_type(b.data, n),
		    n < 3 + namelen ? NULL : &schema_msg_hello_ack);

	err_set(TS_EINTERNAL, "before");
	envelope_raw(&b, 5, "\xcf\0\0\0\0\0\0\0\x01", 9, "hello_ack", 9,
	    "r1", "ctl", &body);
	assert_ptr_equal(codec_envelope_peek_type(b.data, b.len),
	    &schema_msg_hello_ack);
	envelope_raw(&b, 5, "\x01", 1, "hello_acks", 10, "r1", "ctl", &body);
	assert_null(codec_envelope_peek_type(b.data, b.len));
	envelope_raw(&b, 5, "\x01", 1, "hello_ack\0x", 11, "r1", "ctl", &body);
	assert_null(codec_envelope_peek_type(b.data, b.len));
	envelope_raw(&b, 4, "\x01", 1, "hello_ack", 9, "r1", "ctl", &body);
	assert_null(codec_envelope_peek_type(b.data, b.len));
	envelope_raw(&b, 5, "\xff", 1, "hello_ack", 9, "r1", "ctl", &body);
	assert_null(codec_envelope_peek_type(b.data, b.len));
	assert_null(codec_envelope_peek_type(NULL, 0));
	/* a str8 name (the encoder's for names over 31 bytes) */
	raw[0] = 0x95;
	raw[1] = 0x01;
	raw[2] = 0xd9;
	raw[3] = (uint8_t)namelen;
	memcpy(raw + 4, "hello_ack", namelen);
	assert_ptr_equal(codec_envelope_peek_type(raw, 4 + namelen),
	    &schema_msg_hello_ack);
	assert_null(codec_envelope_peek_type(raw, 3 + namelen));
	raw[3] = 200;	/* longer than any name, and than the input */
	assert_null(codec_envelope_peek_type(raw, 4 + namelen));
	assert_int_equal(err_code(), TS_EINTERNAL);
	assert_string_equal(err_msg(), "before");
	buf_free(&b);
	buf_free(&body);
}

static void
test_record_versions(void **state)
{
	struct rec_tt_rec r = { 0 };
	struct rec_service *svc = new_filled(&schema_rec_service, V_SOME);
	struct rec_service tmp;
	struct buf b = { 0 };
	uint32_t ver = 99;

	/* Version 1 had only name: added2/added3 come back zero. */
	REC("\x01", "\x81\xa4name\xa1n");
	assert_int_equal(codec_record_decode(&schema_rec_tt_rec, b.data, b.len,
	    &r, &ver), 0);
	assert_int_equal(ver, 1);
	assert_string_equal(r.name, "n");
	assert_int_equal(r.added2, 0);
	assert_null(r.added3);
	codec_clear(&schema_rec_tt_rec, &r);
	REC("\x01", "\x80");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec.name: missing required field");
	/* Version 2 must have added2, may lack added3. */
	REC("\x02", "\x81\xa4name\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec.added2: missing required field");
	REC("\x02", "\x82\xa4name\xa1n\xa6" "added2\x05");
	assert_int_equal(codec_record_decode(&schema_rec_tt_rec, b.data, b.len,
	    &r, &ver), 0);
	assert_int_equal(ver, 2);
	assert_int_equal(r.added2, 5);
	codec_clear(&schema_rec_tt_rec, &r);
	REC("\x03", "\x82\xa4name\xa1n\xa6" "added2\x05");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec.added3: missing required field");
	/* Newer than this build: refused, not misread. */
	REC("\x04", "\x81\xa4name\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec: record version 4 newer than "
	    "supported 3");
	REC("\xce\xff\xff\xff\xff", "\x81\xa4name\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "record version 4294967295 newer");
	REC("\x00", "\x81\xa4name\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec: record version 0");
	REC("\xa1" "1", "\x81\xa4name\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec: expected int, got string");
	assert_true(all_zero(&r, sizeof(r)));

	/* Production records too. */
	b.len = 0;
	assert_int_equal(codec_record_encode(&schema_rec_service, svc, &b), 0);
	assert_int_equal(b.data[1], 0x01);
	b.data[1] = 0x02;
	expect_err(codec_record_decode(&schema_rec_service, b.data, b.len,
	    &tmp, NULL), TS_EDECODE, "service: record version 2 newer than "
	    "supported 1");
	b.data[0] = 0x93;
	expect_err(codec_record_decode(&schema_rec_service, b.data, b.len,
	    &tmp, NULL), TS_EDECODE, "service: array of 3 elements");
	expect_err(codec_record_decode(&schema_msg_error, b.data, b.len, &tmp,
	    NULL), TS_EINVALID, "error: not a record type");
	expect_err(codec_record_encode(&schema_msg_error, svc, &b),
	    TS_EINVALID, "error: not a record type");
	codec_free(&schema_rec_service, (void **)&svc);
	buf_free(&b);
}

/* Stored records are keyed by field number (fields.lock); names are still
 * read, a key may come either way, and a field given both ways is a
 * duplicate. */
static void
test_record_by_number(void **state)
{
	static const char *const added3[] = { "added3", NULL };
	struct rec_tt_rec r = { 0 }, *w = codec_new(&schema_rec_tt_rec);
	struct codec_fieldset fs;
	struct msg_error *er = new_filled(&schema_msg_error, V_SOME), em;
	struct buf b = { 0 };
	uint32_t ver = 0;

	(void)state;
	/* Golden: [3, {1: "n", 2: 5, 3: "x"}]; extra (4) absent. */
	w->name = strdup("n");
	w->added2 = 5;
	w->added3 = strdup("x");
	assert_int_equal(codec_record_encode(&schema_rec_tt_rec, w, &b), 0);
	assert_int_equal(b.len, 11);
	assert_memory_equal(b.data, "\x92\x03\x83\x01\xa1n\x02\x05\x03\xa1x",
	    11);
	assert_int_equal(codec_record_decode(&schema_rec_tt_rec, b.data, b.len,
	    &r, &ver), 0);
	assert_int_equal(ver, 3);
	assert_true(obj_equal(&schema_rec_tt_rec, w, &r));
	codec_clear(&schema_rec_tt_rec, &r);
	/* Mixed keys, an unknown number (skipped like an unknown name). */
	REC("\x03", "\x84\xa4name\xa1n\x02\x05\xcd\x01\x00\xc0\x03\xa1x");
	assert_int_equal(codec_record_decode(&schema_rec_tt_rec, b.data, b.len,
	    &r, NULL), 0);
	assert_true(obj_equal(&schema_rec_tt_rec, w, &r));
	codec_clear(&schema_rec_tt_rec, &r);
	/* The same field by name and by number. */
	REC("\x03", "\x84\xa4name\xa1n\x02\x05\x01\xa1m\x03\xa1x");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec.name: duplicate key");
	REC("\x03", "\x83\x02\x05\x03\xa1x\x02\x06");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec.added2: duplicate key");
	/* Numbers past CODEC_FIELD_NUM_MAX, 0, negative, other key types. */
	REC("\x03", "\x81\xce\x00\x01\x00\x00\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec: expected string, got int");
	REC("\x03", "\x84\x00\xc0\x01\xa1n\x02\x05\x03\xa1x");
	assert_int_equal(codec_record_decode(&schema_rec_tt_rec, b.data, b.len,
	    &r, NULL), 0);
	codec_clear(&schema_rec_tt_rec, &r);
	REC("\x03", "\x81\xff\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec: expected string, got int");
	REC("\x03", "\x81\xc3\xa1n");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec: expected string, got bool");
	/* Required fields are still required; trailing bytes still fail. */
	REC("\x03", "\x82\x01\xa1n\x02\x05");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "tt_rec.added3: missing required field");
	REC("\x03", "\x83\x01\xa1n\x02\x05\x03\xa1x\x00");
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "1 trailing bytes");
	/* A projection reads numbers too. */
	assert_int_equal(codec_fieldset_init(&schema_rec_tt_rec, added3, &fs),
	    0);
	REC("\x03", "\x83\x01\xa1n\x02\x05\x03\xa1x");
	assert_int_equal(codec_record_decode_some(&schema_rec_tt_rec, b.data,
	    b.len, &fs, &r), 0);
	assert_null(r.name);
	assert_string_equal(r.added3, "x");
	codec_clear(&schema_rec_tt_rec, &r);
	assert_true(all_zero(&r, sizeof(r)));
	/* Bus messages keep names: a number key is refused there. */
	b.len = 0;
	assert_int_equal(codec_encode(&schema_msg_error, er, &b), 0);
	assert_int_equal(b.data[1], 0xa0 | strlen(schema_msg_error.fields[0].name));
	assert_int_equal(schema_msg_error.fields[0].num, 0);
	expect_err(codec_decode(&schema_msg_error,
	    (const uint8_t *)"\x81\x01\x00", 3, &em), TS_EDECODE,
	    "error: expected string, got int");
	codec_free(&schema_msg_error, (void **)&er);
	codec_free(&schema_rec_tt_rec, (void **)&w);
	buf_free(&b);
}

/* A projection (codec_record_decode_some): only the wanted fields, every
 * check on them, reading stopped once they are all seen. */
static void
test_record_decode_some(void **state)
{
	static const char *const name_added2[] = { "name", "added2", NULL };
	static const char *const name[] = { "name", NULL };
	static const char *const added3[] = { "added3", NULL };
	static const char *const extra[] = { "extra", NULL };
	static const char *const nope[] = { "name", "nope", NULL };
	static const char *const hv_fields[] = { "hypervisor_type",
	    "hypervisor_version", "cpu_model", "cpu_arch", "vcpus",
	    "memory_mb", "local_gb", NULL };
	struct codec_fieldset w;
	struct rec_tt_rec r = { 0 };
	struct rec_hypervisor *hv = new_filled(&schema_rec_hypervisor, V_SOME);
	struct rec_hypervisor full, some;
	struct buf b = { 0 };

	(void)state;
	REC("\x03", "\x84\xa4name\xa1n\xa6" "added2\x05\xa6" "added3\xa1x"
	    "\xa5" "extra\xa1y");
	assert_int_equal(codec_fieldset_init(&schema_rec_tt_rec, name_added2,
	    &w), 0);
	assert_int_equal(codec_record_decode_some(&schema_rec_tt_rec, b.data,
	    b.len, &w, &r), 0);
	assert_string_equal(r.name, "n");
	assert_int_equal(r.added2, 5);
	assert_null(r.added3);
	assert_null(r.extra);
	codec_clear(&schema_rec_tt_rec, &r);

	/* Required wanted fields must be there (as their version says). */
	assert_int_equal(codec_fieldset_init(&schema_rec_tt_rec, added3, &w),
	    0);
	REC("\x02", "\x82\xa4name\xa1n\xa6" "added2\x05");
	assert_int_equal(codec_record_decode_some(&schema_rec_tt_rec, b.data,
	    b.len, &w, &r), 0);
	assert_null(r.added3);
	REC("\x03", "\x82\xa4name\xa1n\xa6" "added2\x05");
	expect_err(codec_record_decode_some(&schema_rec_tt_rec, b.data, b.len,
	    &w, &r), TS_EDECODE, "tt_rec.added3: missing required field");
	assert_true(all_zero(&r, sizeof(r)));

	/* The rest is not read once the wanted fields were seen: a bad
	 * byte after name fails the full decode, not the projection. */
	assert_int_equal(codec_fieldset_init(&schema_rec_tt_rec, name, &w), 0);
	REC("\x03", "\x84\xa4name\xa1n\xc1");
	assert_int_equal(codec_record_decode_some(&schema_rec_tt_rec, b.data,
	    b.len, &w, &r), 0);
	assert_string_equal(r.name, "n");
	codec_clear(&schema_rec_tt_rec, &r);
	expect_err(codec_record_decode(&schema_rec_tt_rec, b.data, b.len, &r,
	    NULL), TS_EDECODE, "");
	/* ...but what is read is checked: types, and the whole map with its
	 * trailing bytes when a wanted (optional) field is absent. */
	REC("\x03", "\x81\xa4name\x05");
	expect_err(codec_record_decode_some(&schema_rec_tt_rec, b.data, b.len,
	    &w, &r), TS_EDECODE, "tt_rec.name");
	assert_int_equal(codec_fieldset_init(&schema_rec_tt_rec, extra, &w), 0);
	REC("\x03", "\x83\xa4name\xa1n\xa6" "added2\x05\xa6" "added3\xa1x"
	    "\x00");
	expect_err(codec_record_decode_some(&schema_rec_tt_rec, b.data, b.len,
	    &w, &r), TS_EDECODE, "1 trailing bytes");
	REC("\x04", "\x81\xa4name\xa1n");
	expect_err(codec_record_decode_some(&schema_rec_tt_rec, b.data, b.len,
	    &w, &r), TS_EDECODE, "newer than supported 3");
	expect_err(codec_fieldset_init(&schema_rec_tt_rec, nope, &w),
	    TS_EINTERNAL, "tt_rec has no field nope");

	/* A production record: the fields os-hypervisors reads equal the
	 * full decode's; the host stays absent. */
	b.len = 0;
	assert_int_equal(codec_record_encode(&schema_rec_hypervisor, hv, &b),
	    0);
	assert_int_equal(codec_fieldset_init(&schema_rec_hypervisor, hv_fields,
	    &w), 0);
	assert_int_equal(codec_record_decode(&schema_rec_hypervisor, b.data,
	    b.len, &full, NULL), 0);
	assert_int_equal(codec_record_decode_some(&schema_rec_hypervisor,
	    b.data, b.len, &w, &some), 0);
	assert_non_null(full.host);
	assert_null(some.host);
	assert_string_equal(some.hypervisor_type, full.hypervisor_type);
	assert_string_equal(some.cpu_model, full.cpu_model);
	assert_string_equal(some.cpu_arch, full.cpu_arch);
	assert_int_equal(some.hypervisor_version, full.hypervisor_version);
	assert_int_equal(some.vcpus, full.vcpus);
	assert_int_equal(some.memory_mb, full.memory_mb);
	assert_int_equal(some.local_gb, full.local_gb);
	codec_clear(&schema_rec_hypervisor, &full);
	codec_clear(&schema_rec_hypervisor, &some);
	codec_free(&schema_rec_hypervisor, (void **)&hv);
	buf_free(&b);
}

/* A field that left its record type (hypervisor's guests, DB schema 16):
 * found under its number or its name, decoded as another type's field. */
static void
test_record_raw_field(void **state)
{
	struct rec_hypervisor_guests *g = new_filled(
	    &schema_rec_hypervisor_guests, V_SOME);
	struct rec_hypervisor_guests out = { 0 };
	struct buf b = { 0 };
	const uint8_t *v;
	size_t vl;

	(void)state;
	assert_true(g->guests.n > 0);
	assert_int_equal(codec_record_encode(&schema_rec_hypervisor_guests, g,
	    &b), 0);
	/* guests is field 2 of hypervisor_guests (fields.lock). */
	assert_int_equal(codec_record_raw_field(b.data, b.len, 2, "guests",
	    &v, &vl), 0);
	assert_true(v > b.data && v + vl <= b.data + b.len);
	assert_int_equal(codec_record_decode_field(
	    &schema_rec_hypervisor_guests, "guests", v, vl, &out), 0);
	assert_int_equal(out.guests.n, g->guests.n);
	assert_string_equal(out.guests.items[0].uuid, g->guests.items[0].uuid);
	assert_null(out.host);
	codec_clear(&schema_rec_hypervisor_guests, &out);
	/* One byte short: the decode refuses it, with the field's path. */
	expect_err(codec_record_decode_field(&schema_rec_hypervisor_guests,
	    "guests", v, vl - 1, &out), TS_EDECODE,
	    "hypervisor_guests.guests");
	assert_true(all_zero(&out, sizeof(out)));
	expect_err(codec_record_raw_field(b.data, b.len, 9, "nope", &v, &vl),
	    TS_ENOT_FOUND, "no field 9");

	/* By name, after an unknown key; an empty list. */
	REC("\x03", "\x82\xa1x\x91\x05\xa6guests\x90");
	assert_int_equal(codec_record_raw_field(b.data, b.len, 15, "guests",
	    &v, &vl), 0);
	assert_int_equal(vl, 1);
	assert_int_equal(codec_record_decode_field(
	    &schema_rec_hypervisor_guests, "guests", v, vl, &out), 0);
	assert_int_equal(out.guests.n, 0);
	codec_clear(&schema_rec_hypervisor_guests, &out);
	/* Not a record; a truncated map. */
	REC("\x03", "\x82\xa1x");
	expect_err(codec_record_raw_field(b.data, b.len, 15, "guests", &v,
	    &vl), TS_EDECODE, "");
	expect_err(codec_record_raw_field((const uint8_t *)"\x91\x01", 2, 15,
	    "guests", &v, &vl), TS_EDECODE, "want [version, body]");
	expect_err(codec_record_decode_field(&schema_rec_hypervisor_guests,
	    "nope", v, vl, &out), TS_EINTERNAL, "no field nope");
	codec_free(&schema_rec_hypervisor_guests, (void **)&g);
	buf_free(&b);
}

/* ---- encoder validation, lifetime, dump, lookups ---------------------------- */

static void
test_encoder_refuses_invalid(void **state)
{
	struct msg_tt_all *a = new_filled(&schema_msg_tt_all, V_SOME);
	struct buf out = { 0 };
	char *saved;

	assert_int_equal(buf_append(&out, "pre", 3), 0);
	saved = a->s;
	a->s = NULL;
	expect_err(codec_encode(&schema_msg_tt_all, a, &out), TS_EINVALID,
	    "tt_all.s: string missing (NULL)");
	a->s = strdup("seventeen chars!!");
	expect_err(codec_encode(&schema_msg_tt_all, a, &out), TS_EINVALID,
	    "tt_all.s: string longer than 16 bytes");
	free(a->s);
	a->s = saved;
	a->lin.items[0].leaf.id[0] = 'Z';
	expect_err(codec_encode(&schema_msg_tt_all, a, &out), TS_EINVALID,
	    "tt_all.lin[0].leaf.id: not a UUID");
	a->lin.items[0].leaf.id[0] = 'a';
	a->lu.n = 4;
	expect_err(codec_encode(&schema_msg_tt_all, a, &out), TS_EINVALID,
	    "tt_all.lu: 4 items, more than 3");
	a->lu.n = 3;
	free(a->meta.items[1].k);
	a->meta.items[1].k = strdup(a->meta.items[0].k);
	expect_err(codec_encode(&schema_msg_tt_all, a, &out), TS_EINVALID,
	    "tt_all.meta[1]: duplicate key");
	a->meta.items[1].k[0] = 'x';
	a->raw.len = 17;
	expect_err(codec_encode(&schema_msg_tt_all, a, &out), TS_EINVALID,
	    "tt_all.raw: 17 bytes, more than 16");
	a->raw.len = 1;
	/* Failed encodes leave the buffer as it was. */
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "pre", 3);
	/* ...and a good one appends. */
	assert_int_equal(codec_encode(&schema_msg_tt_all, a, &out), 0);
	assert_true(out.len > 3);
	assert_memory_equal(out.data, "pre", 3);
	codec_free(&schema_msg_tt_all, (void **)&a);
	buf_free(&out);
	assert_null(out.data);
	buf_free(NULL);
}

static void
test_lifetime(void **state)
{
	struct msg_tt_all *a = new_filled(&schema_msg_tt_all, V_MAX);
	struct msg_tt_all z;

	codec_clear(&schema_msg_tt_all, a);
	assert_true(all_zero(a, sizeof(*a)));
	codec_clear(&schema_msg_tt_all, a);	/* idempotent */
	codec_free(&schema_msg_tt_all, (void **)&a);
	assert_null(a);
	codec_free(&schema_msg_tt_all, (void **)&a);
	codec_free(&schema_msg_tt_all, NULL);
	codec_clear(&schema_msg_tt_all, NULL);
	memset(&z, 0, sizeof(z));
	codec_clear(&schema_msg_tt_all, &z);
	codec_envelope_clear(NULL);
}

static void
test_dump_masks_secrets(void **state)
{
	struct msg_tt_all *a = new_filled(&schema_msg_tt_all, V_SOME);
	char out[8192], small[16];
	int n;

	free(a->pw);
	a->pw = strdup("hunter2-s3cret");
	a->okey.ptr[0] = 'Q';
	free(a->s);
	a->s = strdup("q\"\\\n");
	n = codec_dump(&schema_msg_tt_all, a, out, sizeof(out));
	assert_true(n > 0 && (size_t)n < sizeof(out));
	assert_int_equal(strlen(out), (size_t)n);
	assert_non_null(strstr(out, "\"pw\":\"***\""));
	assert_non_null(strstr(out, "\"okey\":\"***\""));
	assert_null(strstr(out, "hunter2"));
	assert_non_null(strstr(out, "\"s\":\"q\\\"\\\\\\u000a\""));
	assert_non_null(strstr(out, "\"u\":"));
	assert_non_null(strstr(out, "\"lin\":[{"));
	assert_int_equal(out[0], '{');
	assert_int_equal(out[n - 1], '}');
	assert_null(strchr(out, '\n'));
	/* Absent optional fields are left out. */
	a->has_ou = false;
	codec_dump(&schema_msg_tt_all, a, out, sizeof(out));
	assert_null(strstr(out, "\"ou\":"));
	/* Truncation is reported like snprintf. */
	assert_int_equal(codec_dump(&schema_msg_tt_all, a, small,
	    sizeof(small)), (int)strlen(out));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, out, sizeof(small) - 1);
	codec_free(&schema_msg_tt_all, (void **)&a);

	/* Long lists are shortened. */
	a = new_filled(&schema_msg_agent_hello, V_MAX);
	n = codec_dump(&schema_msg_agent_hello, a, NULL, 0);
	/* 16 guests of 16 MACs shown, each MAC of 32 bytes at most. */
	assert_true(n > 0 && n < 32 * 1024);
	codec_free(&schema_msg_agent_hello, (void **)&a);
}

static void
test_lookups(void **state)
{
	size_t i;

	for (i = 0; i < schema_nmessages; i++) {
		assert_ptr_equal(schema_msg_by_name(schema_messages[i]->name),
		    schema_messages[i]);
		assert_ptr_equal(schema_msg_by_id(schema_messages[i]->id),
		    schema_messages[i]);
		assert_int_equal(schema_messages[i]->kind, SCHEMA_KIND_MESSAGE);
	}
	assert_null(schema_messages[schema_nmessages]);
	assert_ptr_equal(schema_msg_by_id(MSG_AGENT_HELLO),
	    &schema_msg_agent_hello);
	assert_null(schema_msg_by_id(0));
	assert_null(schema_msg_by_id(SCHEMA_MSG__COUNT));
	assert_null(schema_msg_by_name("agent_hell"));
	assert_null(schema_msg_by_name(""));
	assert_null(schema_msg_by_name("tt_all"));	/* test schema apart */
	assert_int_equal(schema_msg_error.dir, SCHEMA_FROM_ANY);
	assert_int_equal(schema_msg_agent_hello.dir, SCHEMA_FROM_AGENT);
	assert_int_equal(schema_msg_hello_ack.dir, SCHEMA_FROM_CONTROLLER);
	for (i = 0; i < schema_nrecords; i++) {
		assert_ptr_equal(schema_record_by_table(
		    schema_records[i]->table), schema_records[i]);
		assert_true(schema_records[i]->version >= 1);
	}
	assert_ptr_equal(schema_record_by_table("services"),
	    &schema_rec_service);
	assert_string_equal(schema_rec_agent_key.table, "agent_keys");
	assert_null(schema_record_by_table("nope"));
	assert_ptr_equal(codec_test_msg_by_name("tt_all"), &schema_msg_tt_all);
}

/* ---- seed corpus mode ------------------------------------------------------ */

static int
write_file(const char *dir, const char *name, const struct buf *b)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(b->data, 1, b->len, fp) != b->len || fclose(fp) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_seeds(const char *dir)
{
	const struct schema_type *t;
	struct buf b = { 0 };
	char name[128];
	size_t i;
	void *obj;
	int v, rc = 0;

	for (i = 0; i < schema_nmessages; i++)
		for (v = V_MIN; v <= V_SOME; v++) {
			t = schema_messages[i];
			obj = codec_new(t);
			fill_struct(t, obj, v);
			b.len = 0;
			if (codec_envelope_encode(t, obj, "req-0123", "host-a",
			    &b) != 0)
				rc = -1;
			snprintf(name, sizeof(name), "env_%s_%d.bin", t->name,
			    v);
			if (rc == 0 && write_file(dir, name, &b) != 0)
				rc = -1;
			codec_free(t, &obj);
		}
	for (i = 0; i < schema_nrecords; i++) {
		t = schema_records[i];
		obj = codec_new(t);
		fill_struct(t, obj, V_SOME);
		b.len = 0;
		if (codec_record_encode(t, obj, &b) != 0)
			rc = -1;
		snprintf(name, sizeof(name), "rec_%s.bin", t->name);
		if (rc == 0 && write_file(dir, name, &b) != 0)
			rc = -1;
		codec_free(t, &obj);
	}
	buf_free(&b);
	if (rc != 0)
		fprintf(stderr, "write-seeds: %s\n", err_msg());
	return rc == 0 ? 0 : 1;
}

/* ---- health in the heartbeat (schemas: host_dep, log_line) ------------ */

/* A heartbeat whose key holds raw msgpack: must fail naming want. */
static void
hb_with(const char *key, const void *raw, size_t rawlen, const char *want)
{
	struct msg_heartbeat m = { 0 };
	struct buf b = { 0 };

	m.host = "h1";
	mutate(&schema_msg_heartbeat, &m, key, M_REPLACE, raw, rawlen, &b);
	expect_decode_fail(&schema_msg_heartbeat, b.data, b.len, want);
	buf_free(&b);
}

/* n log lines, the first with a text of tlen bytes. */
static void
pk_lines(struct pk *k, size_t n, size_t tlen)
{
	char *t = malloc(tlen + 1);

	assert_non_null(t);
	memset(t, 'e', tlen);
	msgpack_pack_array(&k->p, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_map(&k->p, 2);
		pk_str(k, "at", 2);
		msgpack_pack_int64(&k->p, 1);
		pk_str(k, "text", 4);
		pk_str(k, t, i == 0 ? tlen : 1);
	}
	free(t);
}

static void
pk_deps(struct pk *k, size_t n, size_t namelen)
{
	char name[64];

	memset(name, 'd', sizeof(name));
	msgpack_pack_array(&k->p, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_map(&k->p, 2);
		pk_str(k, "name", 4);
		pk_str(k, name, i == 0 ? namelen : 4);
		pk_str(k, "state", 5);
		pk_str(k, "up", 2);
	}
}

static void
test_heartbeat_health_maxima(void **state)
{
	struct pk k;
	struct buf raw = { 0 };
	struct msg_heartbeat m = { 0 }, *d;
	struct sch_host_dep dep = { .name = "dnsmasq", .state = "down",
	    .error = "network x: dnsmasq 42 is not running",
	    .has_error_at = true, .error_at = 7 };
	struct sch_log_line line = { .at = 9, .text = "boom" };
	struct buf b = { 0 };

	(void)state;
	/* At the maxima: accepted. */
	pk_init(&k);
	pk_lines(&k, 16, 512);
	pk_done(&k, &raw);
	{
		struct msg_heartbeat h = { 0 };
		struct buf e = { 0 };

		h.host = "h1";
		mutate(&schema_msg_heartbeat, &h, "errors", M_REPLACE,
		    raw.data, raw.len, &e);
		expect_decode_ok(&schema_msg_heartbeat, e.data, e.len);
		buf_free(&e);
	}
	pk_init(&k);
	pk_deps(&k, 8, 32);
	pk_done(&k, &raw);
	{
		struct msg_heartbeat h = { 0 };
		struct buf e = { 0 };

		h.host = "h1";
		mutate(&schema_msg_heartbeat, &h, "deps", M_REPLACE,
		    raw.data, raw.len, &e);
		expect_decode_ok(&schema_msg_heartbeat, e.data, e.len);
		buf_free(&e);
	}
	/* One over each: refused. */
	pk_init(&k);
	pk_lines(&k, 17, 1);
	pk_done(&k, &raw);
	hb_with("errors", raw.data, raw.len, "list of 17 items, more than 16");
	pk_init(&k);
	pk_lines(&k, 1, 513);
	pk_done(&k, &raw);
	hb_with("errors", raw.data, raw.len, "string of 513 bytes, more than "
	    "512");
	pk_init(&k);
	pk_deps(&k, 9, 4);
	pk_done(&k, &raw);
	hb_with("deps", raw.data, raw.len, "list of 9 items, more than 8");
	pk_init(&k);
	pk_deps(&k, 1, 33);
	pk_done(&k, &raw);
	hb_with("deps", raw.data, raw.len, "string of 33 bytes, more than 32");
	buf_free(&raw);

	/* Round trip; absent (an older agent) decodes as none. */
	m.host = "h1";
	m.deps.items = &dep;
	m.deps.n = 1;
	m.errors.items = &line;
	m.errors.n = 1;
	assert_int_equal(codec_encode(&schema_msg_heartbeat, &m, &b), 0);
	d = codec_new(&schema_msg_heartbeat);
	assert_int_equal(codec_decode(&schema_msg_heartbeat, b.data, b.len,
	    d), 0);
	assert_int_equal(d->deps.n, 1);
	assert_string_equal(d->deps.items[0].state, "down");
	assert_int_equal(d->deps.items[0].error_at, 7);
	assert_null(d->deps.items[0].detail);
	assert_string_equal(d->errors.items[0].text, "boom");
	codec_free(&schema_msg_heartbeat, (void **)&d);
	m.deps.items = NULL;
	m.deps.n = 0;
	m.errors.items = NULL;
	m.errors.n = 0;
	b.len = 0;
	assert_int_equal(codec_encode(&schema_msg_heartbeat, &m, &b), 0);
	d = codec_new(&schema_msg_heartbeat);
	assert_int_equal(codec_decode(&schema_msg_heartbeat, b.data, b.len,
	    d), 0);
	assert_null(d->deps.items);
	assert_null(d->errors.items);
	codec_free(&schema_msg_heartbeat, (void **)&d);
	buf_free(&b);
}

/* common/health: states, the kept error, a down reported at least once. */
static void
test_health_table(void **state)
{
	struct sch_host_dep *it;
	size_t n;
	uint64_t g;

	(void)state;
	health_reset();
	health_up("libvirtd", "qemu:///system");
	health_up("tgtd", NULL);
	assert_int_equal(health_items(&it, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(it[0].name, "libvirtd");
	assert_string_equal(it[0].state, "up");
	assert_string_equal(it[0].detail, "qemu:///system");
	assert_null(it[0].error);
	health_items_free(&it, n);
	assert_null(it);

	/* Down and back before any report: reported down once, then up,
	 * the error kept (redacted, cut at the maximum). */
	g = health_generation();
	health_down("tgtd", "tgtadm password=hunter2 %0300d", 1);
	assert_true(health_generation() != g);
	health_up("tgtd", NULL);
	assert_int_equal(health_items(&it, &n), 0);
	assert_string_equal(it[1].state, "down");
	assert_non_null(it[1].error);
	assert_null(strstr(it[1].error, "hunter2"));
	assert_non_null(strstr(it[1].error, "password=***"));
	assert_int_equal(strlen(it[1].error), HEALTH_ERROR_MAX);
	assert_true(it[1].has_error_at && it[1].error_at > 0);
	health_items_free(&it, n);
	assert_int_equal(health_items(&it, &n), 0);
	assert_string_equal(it[1].state, "up");
	assert_non_null(it[1].error);
	health_items_free(&it, n);

	/* An error without a state change; forget. */
	health_error("libvirtd", "one call failed");
	assert_int_equal(health_items(&it, &n), 0);
	assert_string_equal(it[0].state, "up");
	assert_string_equal(it[0].error, "one call failed");
	health_items_free(&it, n);
	health_forget("tgtd");
	assert_int_equal(health_items(&it, &n), 0);
	assert_int_equal(n, 1);
	health_items_free(&it, n);

	/* Bounded: names past HEALTH_DEPS_MAX are dropped. */
	for (int i = 0; i < HEALTH_DEPS_MAX + 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "d%d", i);
		health_up(name, NULL);
	}
	assert_int_equal(health_items(&it, &n), 0);
	assert_int_equal(n, HEALTH_DEPS_MAX);
	health_items_free(&it, n);
	health_reset();
}

/* A member replaced by a copy, cleared by NULL; the old one freed (ASan). */
static void
test_str_set(void **state)
{
	char *f = NULL;
	char v[] = "host-a";

	(void)state;
	assert_int_equal(codec_str_set(&f, v), 0);
	assert_non_null(f);
	assert_ptr_not_equal(f, v);
	assert_string_equal(f, "host-a");
	assert_int_equal(codec_str_set(&f, "host-b"), 0);
	assert_string_equal(f, "host-b");
	assert_int_equal(codec_str_set(&f, NULL), 0);
	assert_null(f);
	assert_int_equal(codec_str_set(&f, NULL), 0);
	assert_null(f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_optional_presence),
		cmocka_unit_test(test_golden_envelope),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_every_field_checked),
		cmocka_unit_test(test_strings_and_uuids),
		cmocka_unit_test(test_error_path),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_huge_declared_lengths),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_unknown_fields_skipped),
		cmocka_unit_test(test_key_order_and_names),
		cmocka_unit_test(test_envelope_checks),
		cmocka_unit_test(test_envelope_peek),
		cmocka_unit_test(test_record_versions),
		cmocka_unit_test(test_record_decode_some),
		cmocka_unit_test(test_record_raw_field),
		cmocka_unit_test(test_record_by_number),
		cmocka_unit_test(test_encoder_refuses_invalid),
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_dump_masks_secrets),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_heartbeat_health_maxima),
		cmocka_unit_test(test_health_table),
		cmocka_unit_test(test_str_set),
	};

	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
