/*
 * store_rec_test: typed records in the store (store_rec_get/put over the
 * codec), with the production record schemas: round trip, the type's own
 * table, NOOVERWRITE, missing and undecodable values, a record from a newer
 * schema, encoder refusals, and typed writes through group commit with a
 * secondary index kept alongside.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "store.h"

static const char *const tables[] = { "services", "services_by_host",
    "agent_keys", "hypervisors", NULL };

#define SVC_ID	"0b5c2f4e-6a8e-4d7f-9a43-2f0e1c5b7d11"

struct fx {
	char		 dir[64];
	struct store	*st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_opts o = { .tables = tables };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/store_rec_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	o.path = f->dir;
	f->st = store_open(&o);
	if (f->st == NULL)
		fail_msg("store_open: %s", err_msg());
	*state = f;
	return 0;
}

static int
rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(p);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_free(&f->st);
	assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* Static strings: the object is only read by the encoder, never cleared. */
static void
service_fill(struct rec_service *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", SVC_ID);
	s->host = (char *)"compute-1";
	s->binary = (char *)"nova-compute";
	s->topic = (char *)"compute";
	s->disabled = true;
	s->disabled_reason = (char *)"maintenance";
	s->last_seen_at = 1700000000123;
	s->report_count = 42;
	s->created_at = 1690000000000;
	s->updated_at = -5;
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	struct rec_service in, out;
	struct store_txn *t;
	const void *raw;
	size_t rawlen;

	service_fill(&in);
	assert_int_equal(store_write_begin(f->st, &t), 0);
	/* NULL table: the record type's own ("services"). */
	assert_int_equal(store_rec_put(t, NULL, in.id, strlen(in.id),
	    &schema_rec_service, &in, STORE_NOOVERWRITE), 0);
	assert_int_equal(store_rec_put(t, "services", in.id, strlen(in.id),
	    &schema_rec_service, &in, STORE_NOOVERWRITE), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_get(t, "services", SVC_ID, strlen(SVC_ID), &raw,
	    &rawlen), 0);
	assert_true(rawlen > 0);
	memset(&out, 0, sizeof(out));
	assert_int_equal(store_rec_get(t, "services", SVC_ID, strlen(SVC_ID),
	    &schema_rec_service, &out), 0);
	store_txn_end(&t);

	/* The decoded object owns its strings: still valid after the txn. */
	assert_string_equal(out.id, SVC_ID);
	assert_string_equal(out.host, "compute-1");
	assert_string_equal(out.binary, "nova-compute");
	assert_string_equal(out.topic, "compute");
	assert_true(out.disabled);
	assert_string_equal(out.disabled_reason, "maintenance");
	assert_false(out.forced_down);
	assert_int_equal(out.last_seen_at, 1700000000123);
	assert_int_equal(out.report_count, 42);
	assert_int_equal(out.created_at, 1690000000000);
	assert_int_equal(out.updated_at, -5);
	codec_clear(&schema_rec_service, &out);
}

static void
test_bad_values(void **state)
{
	struct fx *f = *state;
	/* msgpack [2, {}]: a version newer than rec_service's 1. */
	static const uint8_t newer[] = { 0x92, 0x02, 0x80 };
	static const uint8_t junk[] = { 0xc1, 0x00 };
	struct rec_service s;
	struct store_txn *t;
	size_t n;

	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_put(t, "services", "newer", 5, newer,
	    sizeof(newer), 0), 0);
	assert_int_equal(store_put(t, "services", "junk", 4, junk,
	    sizeof(junk), 0), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_rec_get(t, NULL, "absent", 6,
	    &schema_rec_service, &s), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(store_rec_get(t, NULL, "newer", 5,
	    &schema_rec_service, &s), -1);
	assert_int_equal(err_code(), TS_EDECODE);
	assert_non_null(strstr(err_msg(), "store: services: "));
	assert_non_null(strstr(err_msg(), "newer"));
	assert_int_equal(store_rec_get(t, NULL, "junk", 4,
	    &schema_rec_service, &s), -1);
	assert_int_equal(err_code(), TS_EDECODE);
	/* A failed decode leaves the object cleared. */
	assert_null(s.host);

	/* The encoder refuses what the decoder would: nothing is written. */
	service_fill(&s);
	s.host = NULL;			/* required */
	assert_int_equal(store_rec_put(t, NULL, "bad", 3, &schema_rec_service,
	    &s, 0), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "store: services: "));
	service_fill(&s);
	snprintf(s.id, sizeof(s.id), "not-a-uuid");
	assert_int_equal(store_rec_put(t, NULL, "bad", 3, &schema_rec_service,
	    &s, 0), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(store_count(t, "services", &n), 0);
	assert_int_equal(n, 2);
	store_txn_abort(&t);
}

/* Typed writes through group commit: record plus index in one function. */
struct svc_write {
	struct rec_service	s;
	int			fail_after_put;
};

static int
svc_write_fn(struct store_txn *t, void *arg)
{
	struct svc_write *w = arg;

	if (store_rec_put(t, NULL, w->s.id, strlen(w->s.id),
	    &schema_rec_service, &w->s, STORE_NOOVERWRITE) == -1 ||
	    store_index_put(t, "services_by_host", w->s.host,
	    strlen(w->s.host), w->s.id, strlen(w->s.id)) == -1)
		return -1;
	if (w->fail_after_put) {
		err_set(TS_EOVER_QUOTA, "no more services");
		return -1;
	}
	return 0;
}

struct found {
	struct store_txn	*t;
	char			 hosts[256];
	int			 n;
};

static int
by_host_cb(const void *pk, size_t pklen, void *arg)
{
	struct found *fd = arg;
	struct rec_service s;
	size_t len = strlen(fd->hosts);

	memset(&s, 0, sizeof(s));
	if (store_rec_get(fd->t, NULL, pk, pklen, &schema_rec_service,
	    &s) == -1)
		return -1;
	snprintf(fd->hosts + len, sizeof(fd->hosts) - len, "%s%s/%s",
	    len ? "," : "", s.host, s.binary);
	codec_clear(&schema_rec_service, &s);
	fd->n++;
	return 0;
}

static void
test_group_commit_typed(void **state)
{
	struct fx *f = *state;
	static const char *const ids[] = {
		"00000000-0000-4000-8000-000000000001",
		"00000000-0000-4000-8000-000000000002",
		"00000000-0000-4000-8000-000000000003",
	};
	struct svc_write w;
	struct rec_agent_key key, got;
	struct store_txn *t;
	struct found fd;
	size_t i;

	for (i = 0; i < 3; i++) {
		service_fill(&w.s);
		snprintf(w.s.id, sizeof(w.s.id), "%s", ids[i]);
		w.s.binary = i == 1 ? (char *)"nova-scheduler" :
		    (char *)"nova-compute";
		w.s.host = i == 2 ? (char *)"compute-2" : (char *)"compute-1";
		w.fail_after_put = i == 2;
		assert_int_equal(store_write(f->st, svc_write_fn, &w),
		    i == 2 ? -1 : 0);
	}
	assert_int_equal(err_code(), TS_EOVER_QUOTA);
	assert_string_equal(err_msg(), "no more services");

	memset(&key, 0, sizeof(key));
	key.host = (char *)"compute-1";
	key.public_key = (char *)"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
	key.enrolled_at = 1;
	assert_int_equal(store_write_begin(f->st, &t), 0);
	assert_int_equal(store_rec_put(t, NULL, "compute-1", 9,
	    &schema_rec_agent_key, &key, 0), 0);
	assert_int_equal(store_txn_commit(&t), 0);

	assert_int_equal(store_read_begin(f->st, &t), 0);
	memset(&fd, 0, sizeof(fd));
	fd.t = t;
	assert_int_equal(store_index_iter(t, "services_by_host", "compute-1",
	    9, by_host_cb, &fd), 0);
	assert_string_equal(fd.hosts,
	    "compute-1/nova-compute,compute-1/nova-scheduler");
	/* The failed write left neither its record nor its index entry. */
	memset(&fd, 0, sizeof(fd));
	fd.t = t;
	assert_int_equal(store_index_iter(t, "services_by_host", "compute-2",
	    9, by_host_cb, &fd), 0);
	assert_int_equal(fd.n, 0);
	memset(&w.s, 0, sizeof(w.s));
	assert_int_equal(store_rec_get(t, NULL, ids[2], strlen(ids[2]),
	    &schema_rec_service, &w.s), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);

	memset(&got, 0, sizeof(got));
	assert_int_equal(store_rec_get(t, "agent_keys", "compute-1", 9,
	    &schema_rec_agent_key, &got), 0);
	assert_string_equal(got.public_key, key.public_key);
	assert_int_equal(got.enrolled_at, 1);
	assert_false(got.revoked);
	codec_clear(&schema_rec_agent_key, &got);
	store_txn_end(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_typed, setup,
		    teardown),
	};

	log_init("store_rec_test", LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
