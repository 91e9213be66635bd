/*
 * image_list_test: controller/image_list and image_db over a real LMDB
 * store. Query parsing follows Glance (defaults, both sorting syntaxes,
 * its 400s); filters match base attributes, "in:" lists, ranges, times,
 * extra properties and tags; each kind of caller lists exactly the images
 * Glance would show it (public, own, community only when asked or owned,
 * shared by membership status, hidden only when asked, admins all); and
 * walking the pages with limit and marker yields the full sorted listing,
 * each image once, in every sort order.
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
#include "core/db.h"
#include "err.h"
#include "image/image_int.h"
#include "store.h"

struct fx {
	char		 dir[64];
	struct store	*st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_opts o = { .tables = db_tables };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/image_list_test.XXXXXX");
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

/* "00000000-0000-4000-8000-0000000000NN" */
static void
mkid(char id[CODEC_UUID_LEN + 1], unsigned n)
{
	snprintf(id, CODEC_UUID_LEN + 1,
	    "00000000-0000-4000-8000-%012x", n);
}

struct spec {
	unsigned	 n;		/* id number */
	const char	*name;
	const char	*visibility;
	const char	*owner;
	int64_t		 size;		/* -1: none */
	int64_t		 created;
	const char	*status;
	const char	*tag;
	const char	*prop;		/* "k=v" */
	bool		 hidden;
};

static void
put_image(struct store_txn *txn, const struct spec *s)
{
	struct rec_image img;
	char *tags[1];
	struct ts_strmap_ent ent;
	char k[32], *eq;

	memset(&img, 0, sizeof(img));
	mkid(img.id, s->n);
	img.name = (char *)s->name;
	img.status = (char *)(s->status ? s->status : "active");
	img.visibility = (char *)s->visibility;
	img.owner = (char *)s->owner;
	img.disk_format = (char *)(s->n % 2 ? "raw" : "qcow2");
	img.container_format = (char *)"bare";
	img.os_hidden = s->hidden;
	if (s->size >= 0) {
		img.has_size = true;
		img.size = (uint64_t)s->size;
	}
	img.created_at = s->created;
	img.updated_at = s->created + 5;
	if (s->tag != NULL) {
		tags[0] = (char *)s->tag;
		img.tags.items = tags;
		img.tags.n = 1;
	}
	if (s->prop != NULL) {
		snprintf(k, sizeof(k), "%s", s->prop);
		eq = strchr(k, '=');
		*eq = '\0';
		ent.k = k;
		ent.v = eq + 1;
		img.properties.items = &ent;
		img.properties.n = 1;
	}
	if (image_db_put(txn, &img, NULL) == -1)
		fail_msg("put %u: %s", s->n, err_msg());
}

static void
put_member(struct store_txn *txn, unsigned n, const char *member,
    const char *status)
{
	struct rec_image_member m;

	memset(&m, 0, sizeof(m));
	mkid(m.image_id, n);
	m.member_id = (char *)member;
	m.status = (char *)status;
	m.created_at = m.updated_at = 1;
	if (image_db_member_put(txn, &m, STORE_NOOVERWRITE) == -1)
		fail_msg("member: %s", err_msg());
}

/* Parse "k=v&k=v" (no escapes) into q. */
static int
parse(struct image_query *q, const char *qs, char *buf, size_t buflen,
    struct image_kv *kv, size_t *n)
{
	char *p, *amp, *eq;

	*n = 0;
	snprintf(buf, buflen, "%s", qs);
	for (p = buf; *p != '\0'; p = amp) {
		amp = p + strcspn(p, "&");
		if (*amp == '&')
			*amp++ = '\0';
		eq = strchr(p, '=');
		if (eq == NULL)
			fail_msg("bad test query %s", qs);
		*eq = '\0';
		kv[*n].key = p;
		kv[*n].value = eq + 1;
		(*n)++;
	}
	return image_list_query_parse(q, kv, *n);
}

/* Run a listing and return the image numbers, space separated. */
static int
list(struct fx *f, const char *qs, const char *project, bool admin,
    char *out, size_t outlen, bool *more, char *last_id)
{
	struct image_viewer v = { project, admin };
	struct image_query q;
	struct image_page page;
	struct store_txn *txn;
	struct image_kv kv[16];
	char buf[1024];
	size_t n, i;
	int rc;

	if (parse(&q, qs, buf, sizeof(buf), kv, &n) == -1)
		return -1;
	assert_int_equal(store_read_begin(f->st, &txn), 0);
	rc = image_list_run(txn, &q, &v, &page);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	out[0] = '\0';
	for (i = 0; i < page.n; i++) {
		unsigned num = (unsigned)strtoul(page.items[i].id + 24, NULL,
		    16);

		snprintf(out + strlen(out), outlen - strlen(out), "%s%u",
		    i ? " " : "", num);
	}
	if (more != NULL)
		*more = page.more;
	if (last_id != NULL)
		snprintf(last_id, CODEC_UUID_LEN + 1, "%s", page.n ?
		    page.items[page.n - 1].id : "");
	image_list_page_clear(&page);
	return 0;
}

static void
expect_list(struct fx *f, const char *qs, const char *project, bool admin,
    const char *want)
{
	char got[4096];

	if (list(f, qs, project, admin, got, sizeof(got), NULL, NULL) == -1)
		fail_msg("%s: %s", qs, err_msg());
	if (strcmp(got, want) != 0)
		fail_msg("%s as %s%s: got \"%s\", want \"%s\"", qs, project,
		    admin ? " (admin)" : "", got, want);
}

static void
expect_parse_error(const char *qs)
{
	struct image_query q;
	struct image_kv kv[16];
	char buf[512];
	size_t n;

	if (parse(&q, qs, buf, sizeof(buf), kv, &n) != -1)
		fail_msg("accepted: %s", qs);
	assert_int_equal(err_code(), TS_EINVALID);
}

static void
test_parse(void **state)
{
	struct image_query q;
	struct image_kv kv[16];
	char buf[512];
	size_t n;

	assert_int_equal(parse(&q, "", buf, sizeof(buf), kv, &n), 0);
	assert_int_equal(q.limit, IMAGE_LIMIT_DEFAULT);
	assert_int_equal(q.nsort, 2);
	assert_int_equal(q.sort[0].key, IMAGE_SORT_CREATED_AT);
	assert_true(q.sort[0].desc);
	assert_int_equal(q.sort[1].key, IMAGE_SORT_ID);
	assert_true(q.sort[1].desc);
	assert_string_equal(q.member_status, "accepted");
	assert_int_equal(q.os_hidden, 0);
	assert_null(q.visibility);

	assert_int_equal(parse(&q, "limit=5000", buf, sizeof(buf), kv, &n), 0);
	assert_int_equal(q.limit, IMAGE_LIMIT_MAX);

	assert_int_equal(parse(&q, "sort=name:asc,size", buf, sizeof(buf),
	    kv, &n), 0);
	assert_int_equal(q.nsort, 4);
	assert_int_equal(q.sort[0].key, IMAGE_SORT_NAME);
	assert_false(q.sort[0].desc);
	assert_int_equal(q.sort[1].key, IMAGE_SORT_SIZE);
	assert_true(q.sort[1].desc);
	assert_int_equal(q.sort[2].key, IMAGE_SORT_CREATED_AT);
	assert_int_equal(q.sort[3].key, IMAGE_SORT_ID);

	/* One sort_dir applies to every key, and to the defaults added. */
	assert_int_equal(parse(&q, "sort_key=name&sort_key=size&sort_dir=asc",
	    buf, sizeof(buf), kv, &n), 0);
	assert_int_equal(q.nsort, 4);
	assert_false(q.sort[0].desc);
	assert_false(q.sort[1].desc);
	assert_false(q.sort[3].desc);
	assert_int_equal(parse(&q, "sort_key=name&sort_key=size&sort_dir=asc"
	    "&sort_dir=desc", buf, sizeof(buf), kv, &n), 0);
	assert_false(q.sort[0].desc);
	assert_true(q.sort[1].desc);

	expect_parse_error("limit=-1");
	expect_parse_error("limit=ten");
	expect_parse_error("sort=name&sort_key=size");
	expect_parse_error("sort=bogus:asc");
	expect_parse_error("sort=name:up");
	expect_parse_error("sort_key=owner");
	expect_parse_error("sort_key=name&sort_key=size&sort_key=id&"
	    "sort_dir=asc&sort_dir=desc");
	expect_parse_error("visibility=everyone");
	expect_parse_error("member_status=maybe");
	expect_parse_error("os_hidden=perhaps");
	expect_parse_error("changes-since=2020-01-01T00:00:00Z");
	expect_parse_error("size_min=big");
	expect_parse_error("size=big");
	expect_parse_error("created_at=yesterday");
	expect_parse_error("created_at=after:2020-01-01T00:00:00Z");
	expect_parse_error("created_at=gt:2020-13-45");
}

/* The visibility fixture: see test_visibility. */
static void
visibility_fixture(struct fx *f)
{
	static const struct spec s[] = {
		{ 1, "A", "public", "p1", 10, 1000, NULL, NULL, NULL, false },
		{ 2, "B", "private", "p1", 20, 2000, NULL, NULL, NULL, false },
		{ 3, "C", "private", "p2", 30, 3000, NULL, NULL, NULL, false },
		{ 4, "D", "shared", "p2", 40, 4000, NULL, NULL, NULL, false },
		{ 5, "E", "shared", "p2", 50, 5000, NULL, NULL, NULL, false },
		{ 6, "F", "community", "p2", 60, 6000, NULL, NULL, NULL,
		    false },
		{ 7, "G", "community", "p1", 70, 7000, NULL, NULL, NULL,
		    false },
		{ 8, "H", "public", "p2", 80, 8000, NULL, NULL, NULL, true },
		{ 9, "I", "shared", "p2", 90, 9000, NULL, NULL, NULL, false },
		{ 10, "J", "shared", "p2", 100, 10000, NULL, NULL, NULL,
		    false },
	};
	struct store_txn *txn;
	size_t i;

	assert_int_equal(store_write_begin(f->st, &txn), 0);
	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		put_image(txn, &s[i]);
	put_member(txn, 4, "p1", "accepted");
	put_member(txn, 5, "p1", "pending");
	put_member(txn, 10, "p1", "rejected");
	put_member(txn, 10, "p3", "accepted");
	assert_int_equal(store_txn_commit(&txn), 0);
}

static void
test_visibility(void **state)
{
	struct fx *f = *state;

	visibility_fixture(f);
	/* Newest first by default. */
	expect_list(f, "", "p1", false, "7 4 2 1");
	expect_list(f, "visibility=community", "p1", false, "7 6");
	expect_list(f, "visibility=all", "p1", false, "7 6 4 2 1");
	expect_list(f, "visibility=shared", "p1", false, "4");
	expect_list(f, "visibility=private", "p1", false, "2");
	expect_list(f, "visibility=public", "p1", false, "1");
	expect_list(f, "member_status=pending", "p1", false, "7 5 2 1");
	expect_list(f, "member_status=rejected", "p1", false, "10 7 2 1");
	expect_list(f, "member_status=all", "p1", false, "10 7 5 4 2 1");
	expect_list(f, "os_hidden=true", "p1", false, "8");
	/* The owner of the shared images sees them all. */
	expect_list(f, "", "p2", false, "10 9 6 5 4 3 1");
	expect_list(f, "", "p3", false, "10 1");
	expect_list(f, "visibility=community", "p3", false, "7 6");
	/* A caller without a project sees public images only. */
	expect_list(f, "", "", false, "1");
	/* Admins see everything but others' community and hidden images
	 * unless they ask. */
	expect_list(f, "", "p9", true, "10 9 5 4 3 2 1");
	expect_list(f, "visibility=all", "p9", true, "10 9 7 6 5 4 3 2 1");
	expect_list(f, "visibility=all&os_hidden=true", "p9", true, "8");
}

static void
test_visible(void **state)
{
	struct fx *f = *state;
	struct image_viewer p1 = { "p1", false }, p3 = { "p3", false },
	    admin = { "", true }, none = { "", false };
	struct store_txn *txn;
	struct rec_image img;
	char id[CODEC_UUID_LEN + 1], st[16];
	bool member;

	visibility_fixture(f);
	assert_int_equal(store_read_begin(f->st, &txn), 0);
	mkid(id, 3);	/* private to p2 */
	assert_int_equal(image_db_get(txn, id, &img), 0);
	assert_int_equal(image_db_visible(txn, &p1, &img, NULL, NULL), 0);
	assert_int_equal(image_db_visible(txn, &none, &img, NULL, NULL), 0);
	assert_int_equal(image_db_visible(txn, &admin, &img, NULL, NULL), 1);
	codec_clear(&schema_rec_image, &img);
	mkid(id, 5);	/* shared with p1, pending: visible to show */
	assert_int_equal(image_db_get(txn, id, &img), 0);
	assert_int_equal(image_db_visible(txn, &p1, &img, &member, st), 1);
	assert_true(member);
	assert_string_equal(st, "pending");
	assert_int_equal(image_db_visible(txn, &p3, &img, &member, NULL), 0);
	assert_false(member);
	codec_clear(&schema_rec_image, &img);
	mkid(id, 6);	/* community */
	assert_int_equal(image_db_get(txn, id, &img), 0);
	assert_int_equal(image_db_visible(txn, &p3, &img, NULL, NULL), 1);
	codec_clear(&schema_rec_image, &img);
	assert_int_equal(image_db_get(txn, "not-a-uuid", &img), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	mkid(id, 99);
	assert_int_equal(image_db_get(txn, id, &img), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	store_txn_end(&txn);
}

static void
test_filters(void **state)
{
	static const struct spec s[] = {
		{ 1, "alpha", "public", "p1", 1024, 1000, NULL, "x86",
		    "os_distro=arch", false },
		{ 2, "beta", "public", "p1", 2048, 2000, NULL, "arm", NULL,
		    false },
		{ 3, "gamma,delta", "public", "p2", 4096, 3000, "queued",
		    "x86", "os_distro=debian", false },
		{ 4, NULL, "public", "p2", -1, 4000, "queued", NULL, NULL,
		    false },
		{ 5, "a:b", "public", "p2", 4096, 1764058455000, NULL, NULL,
		    NULL, false },
	};
	struct fx *f = *state;
	struct store_txn *txn;
	size_t i;

	assert_int_equal(store_write_begin(f->st, &txn), 0);
	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		put_image(txn, &s[i]);
	assert_int_equal(store_txn_commit(&txn), 0);

	expect_list(f, "name=beta", "p1", false, "2");
	expect_list(f, "name=a:b", "p1", false, "5");
	expect_list(f, "name=in:alpha,\"gamma,delta\"", "p1", false, "3 1");
	expect_list(f, "name=eq:alpha", "p1", false, "1");
	expect_list(f, "status=queued", "p1", false, "4 3");
	expect_list(f, "status=in:queued,active&owner=p1", "p1", false,
	    "2 1");
	expect_list(f, "disk_format=raw", "p1", false, "5 3 1");
	expect_list(f, "size=4096", "p1", false, "5 3");
	expect_list(f, "size_min=1500&size_max=4096", "p1", false, "5 3 2");
	expect_list(f, "tag=x86", "p1", false, "3 1");
	expect_list(f, "tag=x86&tag=arm", "p1", false, "");
	expect_list(f, "os_distro=arch", "p1", false, "1");
	expect_list(f, "os_distro=arch&tag=arm", "p1", false, "");
	expect_list(f, "id=in:00000000-0000-4000-8000-000000000002,"
	    "00000000-0000-4000-8000-000000000004", "p1", false, "4 2");
	expect_list(f, "protected=false&visibility=public", "p1", false,
	    "5 4 3 2 1");
	expect_list(f, "created_at=gt:2025-01-01T00:00:00Z", "p1", false,
	    "5");
	expect_list(f, "created_at=2025-11-25T08:14:15Z", "p1", false, "5");
	expect_list(f, "created_at=lte:2025-11-25T09:14:15+01:00", "p1",
	    false, "5 4 3 2 1");
	/* Sorting by size: null first ascending, last descending. */
	expect_list(f, "sort=size:asc,name:asc", "p1", false, "4 1 2 5 3");
	expect_list(f, "sort_key=size&sort_dir=desc", "p1", false,
	    "5 3 2 1 4");
	expect_list(f, "sort_key=name&sort_dir=asc", "p1", false,
	    "4 5 1 2 3");
	expect_list(f, "limit=2", "p1", false, "5 4");
}

/* Numbers in a space-separated list. */
static size_t
count_words(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (*s != ' ' && (s[1] == ' ' || s[1] == '\0'))
			n++;
	return n;
}

static void
test_pagination(void **state)
{
	static const char *const sorts[] = {
		"", "sort=name:asc", "sort_key=size&sort_dir=desc",
		"sort=status:asc,name:desc", "sort_key=created_at&sort_dir=asc",
		"sort=disk_format,size:asc", "visibility=all&sort=id:asc",
	};
	struct fx *f = *state;
	struct store_txn *txn;
	struct spec s;
	char names[57][16], all[4096], walked[4096], page[4096], qs[256],
	    last[CODEC_UUID_LEN + 1];
	bool more;
	unsigned i, pages;
	size_t k;

	assert_int_equal(store_write_begin(f->st, &txn), 0);
	for (i = 0; i < 57; i++) {
		memset(&s, 0, sizeof(s));
		s.n = i + 1;
		snprintf(names[i], sizeof(names[i]), "n%02u", (i * 17) % 23);
		s.name = names[i];
		s.visibility = i % 3 ? "public" : "private";
		s.owner = i % 3 == 0 && i % 2 ? "p2" : "p1";
		s.size = i % 5 == 0 ? -1 : (int64_t)((i * 37) % 11) * 100;
		s.created = 1000 + (i % 9) * 10;	/* many ties */
		s.status = i % 4 ? "active" : "queued";
		put_image(txn, &s);
	}
	assert_int_equal(store_txn_commit(&txn), 0);

	for (k = 0; k < sizeof(sorts) / sizeof(sorts[0]); k++) {
		snprintf(qs, sizeof(qs), "%s%slimit=1000", sorts[k],
		    *sorts[k] ? "&" : "");
		assert_int_equal(list(f, qs, "p1", false, all, sizeof(all),
		    &more, NULL), 0);
		assert_false(more);
		walked[0] = '\0';
		last[0] = '\0';
		for (pages = 0; ; pages++) {
			snprintf(qs, sizeof(qs), "%s%slimit=7%s%s", sorts[k],
			    *sorts[k] ? "&" : "", last[0] ? "&marker=" : "",
			    last);
			if (list(f, qs, "p1", false, page, sizeof(page), &more,
			    last) == -1)
				fail_msg("%s: %s", qs, err_msg());
			assert_true(count_words(page) <= 7);
			if (*page != '\0') {
				assert_true(strlen(walked) + strlen(page) + 2 <
				    sizeof(walked));
				if (*walked != '\0')
					strcat(walked, " ");
				strcat(walked, page);
			}
			if (!more)
				break;
			assert_int_equal(count_words(page), 7);
			assert_true(pages < 20);
		}
		if (strcmp(all, walked) != 0)
			fail_msg("%s: pages \"%s\" != listing \"%s\"",
			    sorts[k], walked, all);
		/* p1 sees the 38 public images and its 10 private ones */
		assert_int_equal(count_words(all), 48);
	}
	/* limit=0: nothing, but more to come */
	assert_int_equal(list(f, "limit=0", "p1", false, page, sizeof(page),
	    &more, NULL), 0);
	assert_string_equal(page, "");
	assert_true(more);
}

static void
test_bad_marker(void **state)
{
	struct fx *f = *state;
	char out[256];

	visibility_fixture(f);
	/* Unknown, or not visible to the caller: 400, as in Glance. */
	assert_int_equal(list(f, "marker=00000000-0000-4000-8000-0000000000ff",
	    "p1", false, out, sizeof(out), NULL, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(list(f, "marker=nonsense", "p1", false, out,
	    sizeof(out), NULL, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(list(f, "marker=00000000-0000-4000-8000-000000000003",
	    "p1", false, out, sizeof(out), NULL, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	/* The owner may page from it. */
	expect_list(f, "marker=00000000-0000-4000-8000-000000000003", "p2",
	    false, "1");
}

static int
count_cb(const struct rec_image *img, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void
test_db_usage_and_delete(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn;
	struct rec_image img, moved;
	char id[CODEC_UUID_LEN + 1];
	uint64_t bytes;
	size_t n;
	int count = 0;

	visibility_fixture(f);
	assert_int_equal(store_write_begin(f->st, &txn), 0);
	assert_int_equal(image_db_usage(txn, "p1", NULL, &bytes), 0);
	assert_int_equal(bytes, 10 + 20 + 70);
	mkid(id, 2);
	assert_int_equal(image_db_usage(txn, "p1", id, &bytes), 0);
	assert_int_equal(bytes, 10 + 70);
	assert_int_equal(image_db_usage(txn, "nobody", NULL, &bytes), 0);
	assert_int_equal(bytes, 0);

	/* Changing the owner moves the usage. */
	assert_int_equal(image_db_get(txn, id, &img), 0);
	assert_int_equal(image_json_copy(&moved, &img), 0);
	free(moved.owner);
	moved.owner = strdup("p2");
	assert_int_equal(image_db_put(txn, &moved, &img), 0);
	assert_int_equal(image_db_usage(txn, "p1", NULL, &bytes), 0);
	assert_int_equal(bytes, 10 + 70);
	codec_clear(&schema_rec_image, &moved);
	/* Inserting an existing id is a conflict. */
	assert_int_equal(image_db_put(txn, &img, NULL), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	codec_clear(&schema_rec_image, &img);

	/* Deleting an image removes its members. */
	mkid(id, 10);
	assert_int_equal(image_db_member_count(txn, id, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(image_db_get(txn, id, &img), 0);
	assert_int_equal(image_db_delete(txn, &img), 0);
	codec_clear(&schema_rec_image, &img);
	assert_int_equal(image_db_member_count(txn, id, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(image_db_get(txn, id, &img), -1);
	assert_int_equal(image_db_each(txn, count_cb, &count), 0);
	assert_int_equal(count, 9);
	assert_int_equal(image_db_member_delete(txn, id, "p3"), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(store_txn_commit(&txn), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_visibility, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_visible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pagination, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_marker, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_db_usage_and_delete, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
