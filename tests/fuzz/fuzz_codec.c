/*
 * libFuzzer target for common/codec.c: the bytes a peer or a damaged
 * database could hand us.
 *
 * Each input is tried as a bus envelope read by the controller (from an
 * agent) and by an agent (from the controller), and as the stored value of
 * every record type (keyed by field number, as written since DB schema 15,
 * or by name, as before: the seeds rec_*.bin and rec_*_byname.bin). Whatever decodes must re-encode, and the re-encoding
 * must decode to an object that encodes to the very same bytes (the codec is
 * a fixed point after one pass: unknown fields dropped, integers minimal).
 * codec_dump() runs on every decoded object too, and the projection
 * (codec_record_decode_some) must accept what the full decode accepts.
 * The 15 -> 16 migration's reader (codec_record_raw_field() finding the
 * retired hypervisor guest list, codec_record_decode_field() decoding it)
 * runs on every input too. Anything else is a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "msg_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_same(const struct buf *a, const struct buf *b, const char *what)
{
	if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0) {
		fprintf(stderr, "%s: re-encoding not stable (%zu vs %zu bytes)\n",
		    what, a->len, b->len);
		abort();
	}
}

static void
fuzz_envelope(const uint8_t *data, size_t len, enum schema_dir from)
{
	struct codec_envelope env = { 0 }, env2 = { 0 };
	struct buf e1 = { 0 }, e2 = { 0 };
	const struct schema_type *peeked;
	char dump[512];

	/* The bus's per-type send counters read any frame's first bytes. */
	peeked = codec_envelope_peek_type(data, len);
	if (codec_envelope_decode(data, len, from, &env) != 0) {
		if (env.body != NULL || err_code() == TS_EOK)
			abort();
		return;
	}
	/* A decoded envelope's type, if the peek found one (it takes only
	 * the encoder's header forms). */
	if (peeked != NULL && peeked != env.type)
		abort();
	codec_dump(env.type, env.body, dump, sizeof(dump));
	if (codec_envelope_encode(env.type, env.body, env.request_id,
	    env.sender, &e1) != 0) {
		fprintf(stderr, "decoded %s does not encode: %s\n",
		    env.type->name, err_msg());
		abort();
	}
	if (codec_envelope_peek_type(e1.data, e1.len) != env.type) {
		fprintf(stderr, "encoded %s is not peeked as such\n",
		    env.type->name);
		abort();
	}
	if (codec_envelope_decode(e1.data, e1.len, from, &env2) != 0) {
		fprintf(stderr, "re-encoded %s does not decode: %s\n",
		    env.type->name, err_msg());
		abort();
	}
	if (env2.type != env.type || strcmp(env2.request_id,
	    env.request_id) != 0 || strcmp(env2.sender, env.sender) != 0)
		abort();
	if (codec_envelope_encode(env2.type, env2.body, env2.request_id,
	    env2.sender, &e2) != 0)
		abort();
	check_same(&e1, &e2, env.type->name);
	codec_envelope_clear(&env);
	codec_envelope_clear(&env2);
	buf_free(&e1);
	buf_free(&e2);
}

static void
fuzz_record(const struct schema_type *t, const uint8_t *data, size_t len)
{
	struct buf e1 = { 0 }, e2 = { 0 };
	void *a = codec_new(t), *b = codec_new(t);
	uint32_t ver = 0;
	char dump[512];

	if (a == NULL || b == NULL)
		abort();
	if (codec_record_decode(t, data, len, a, &ver) != 0)
		goto out;
	if (ver == 0 || ver > t->version)
		abort();
	codec_dump(t, a, dump, sizeof(dump));
	if (codec_record_encode(t, a, &e1) != 0) {
		fprintf(stderr, "decoded %s does not encode: %s\n", t->name,
		    err_msg());
		abort();
	}
	if (codec_record_decode(t, e1.data, e1.len, b, &ver) != 0 ||
	    ver != t->version) {
		fprintf(stderr, "re-encoded %s does not decode: %s\n", t->name,
		    err_msg());
		abort();
	}
	if (codec_record_encode(t, b, &e2) != 0)
		abort();
	check_same(&e1, &e2, t->name);
out:
	codec_free(t, &a);
	codec_free(t, &b);
	buf_free(&e1);
	buf_free(&e2);
}

/* The projection (codec_record_decode_some) of every other field: it must
 * accept whatever the full decoder accepts, and clean up after itself
 * either way (the sanitizers watch). */
static void
fuzz_record_some(const struct schema_type *t, const uint8_t *data, size_t len)
{
	struct codec_fieldset w = { { 0 } };
	void *a = codec_new(t), *b = codec_new(t);
	int full;

	if (a == NULL || b == NULL)
		abort();
	for (size_t k = 0; k < t->nfields && k < CODEC_MAX_FIELDS; k += 2)
		w.bits[k / 64] |= UINT64_C(1) << (k % 64);
	full = codec_record_decode(t, data, len, a, NULL);
	if (codec_record_decode_some(t, data, len, &w, b) != 0) {
		if (full == 0) {
			fprintf(stderr, "%s: the projection refuses what the "
			    "full decode accepts: %s\n", t->name, err_msg());
			abort();
		}
	}
	codec_free(t, &a);
	codec_free(t, &b);
}

/* The retired field, as controller/core/db.c's migration reads it:
 * number 15 or name "guests" (schemas/fields.lock). The bytes found must
 * lie inside the input, and a decode must clean up either way. */
static void
fuzz_raw_field(const uint8_t *data, size_t len)
{
	const struct schema_type *t = &schema_rec_hypervisor_guests;
	const uint8_t *v = NULL;
	size_t vl = 0;
	void *o;

	if (codec_record_raw_field(data, len, 15, "guests", &v, &vl) != 0)
		return;
	if (v < data || vl > len || (size_t)(v - data) > len - vl)
		abort();
	if ((o = codec_new(t)) == NULL)
		abort();
	(void)codec_record_decode_field(t, "guests", v, vl, o);
	codec_free(t, &o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t i;

	fuzz_envelope(data, len, SCHEMA_FROM_AGENT);
	fuzz_envelope(data, len, SCHEMA_FROM_CONTROLLER);
	for (i = 0; i < schema_nrecords; i++) {
		fuzz_record(schema_records[i], data, len);
		fuzz_record_some(schema_records[i], data, len);
	}
	fuzz_raw_field(data, len);
	return 0;
}
