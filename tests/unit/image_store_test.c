/*
 * image_store_test: controller/image_store, the Image API's data files.
 *
 * Uploads stream to a ".part" file and only a commit renames it into
 * place; a freed (failed, refused, interrupted) upload leaves nothing in
 * the directory; the size cap and the per-project quota (committed usage
 * plus every upload of the project in flight) stop a stream at the byte
 * that crosses them, also when no size was declared, and a declared size
 * over either is refused before any file exists; digests and the
 * inspector's view match the bytes; zero blocks become holes; start-up
 * cleaning removes only partial uploads; ids that are not UUIDs never
 * reach the file system. Streams far longer than the hashing threads'
 * ring, in pieces of any size (one larger than the whole ring), come out
 * byte-exact with the right digests; an upload freed while the threads
 * still have work, or failed by a write error mid-stream, stops them and
 * leaves nothing (ASan builds check that nothing leaks).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "image/image_hash.h"
#include "image/image_store.h"

#define ID1	"6f1d8b36-3c1e-4b47-9d1a-0c2b7e4f5a61"
#define ID2	"0a9e3c55-8f2d-4e61-b7c4-5d3e2f1a0b92"
#define ID3	"c3d2e1f0-1a2b-4c3d-8e9f-a0b1c2d3e4f5"

struct fx {
	char			 dir[64];
	struct image_store	*st;
};

static struct image_store *
open_store(struct fx *f, uint64_t cap, uint64_t quota)
{
	struct image_store_opts o = { f->dir, cap, quota, false };

	image_store_free(&f->st);
	f->st = image_store_new(&o);
	if (f->st == NULL)
		fail_msg("image_store_new: %s", err_msg());
	return f->st;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/image_store_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	open_store(f, 0, 0);
	*state = f;
	return 0;
}

/* The store on tmpfs, which refuses O_DIRECT: the buffered writes. */
static int
setup_tmpfs(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/dev/shm/image_store_test.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		fail_msg("mkdtemp %s: %s", f->dir, strerror(errno));
	open_store(f, 0, 0);
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

	image_store_free(&f->st);
	assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* Names in the store directory, sorted, joined with ' '. */
static void
dir_names(struct fx *f, char *out, size_t len)
{
	struct dirent **ents;
	int n, i;

	out[0] = '\0';
	n = scandir(f->dir, &ents, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") != 0 &&
		    strcmp(ents[i]->d_name, "..") != 0) {
			if (out[0] != '\0')
				strncat(out, " ", len - strlen(out) - 1);
			strncat(out, ents[i]->d_name, len - strlen(out) - 1);
		}
		free(ents[i]);
	}
	free(ents);
}

static void
fill(uint8_t *b, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed + (i >> 11));
}

/* Write buf in pieces of varying size. */
static void
write_all(struct image_upload *up, const uint8_t *buf, size_t len)
{
	static const size_t steps[] = { 1, 4095, 4097, 32768, 777, 65536 };
	size_t off = 0, n, k = 0;

	while (off < len) {
		n = steps[k++ % 6];
		if (n > len - off)
			n = len - off;
		if (image_store_upload_write(up, buf + off, n) == -1)
			fail_msg("write at %zu: %s", off, err_msg());
		off += n;
	}
}

static void
expect_digests(const struct image_upload_result *r, const uint8_t *buf,
    size_t len)
{
	char md5[IMAGE_MD5_HEX_LEN + 1], sha[IMAGE_SHA512_HEX_LEN + 1];
	uint8_t d[IMAGE_MD5_LEN], s[crypto_hash_sha512_BYTES];
	struct image_md5 m;

	image_hash_md5_init(&m);
	image_hash_md5_update(&m, buf, len);
	image_hash_md5_final(&m, d);
	image_hash_hex(d, sizeof(d), md5);
	crypto_hash_sha512(s, buf, len);
	image_hash_hex(s, sizeof(s), sha);
	assert_int_equal(r->size, len);
	assert_string_equal(r->checksum, md5);
	assert_string_equal(r->sha512, sha);
}

static void
expect_file(struct fx *f, const char *id, const uint8_t *buf, size_t len)
{
	uint8_t *got = malloc(len + 1);
	uint64_t size;
	ssize_t n;
	int fd;

	assert_non_null(got);
	if (image_store_open(f->st, id, &fd, &size) == -1)
		fail_msg("open: %s", err_msg());
	assert_int_equal(size, len);
	n = pread(fd, got, len + 1, 0);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(got, buf, len);
	close(fd);
	free(got);
}

static void
test_upload_commit(void **state)
{
	struct fx *f = *state;
	const size_t len = 300001;
	const struct image_upload_result *r;
	struct image_upload *up;
	uint8_t *buf = malloc(len);
	char names[512];

	assert_non_null(buf);
	fill(buf, len, 7);
	up = image_store_upload_begin(f->st, ID1, "p1", 0,
	    IMAGE_STORE_SIZE_UNKNOWN);
	assert_non_null(up);
	write_all(up, buf, len);
	assert_int_equal(image_store_upload_size(up), len);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "." ID1 ".part");
	assert_false(image_store_exists(f->st, ID1));

	assert_int_equal(image_store_upload_finish(up, &r), 0);
	expect_digests(r, buf, len);
	assert_int_equal(r->inspect.format, IMGFMT_RAW);
	assert_true(r->inspect.virtual_size_known);
	assert_int_equal(r->inspect.virtual_size, len);
	assert_true(r->inspect.safe);
	/* Finished but not committed: still only the temporary file. */
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "." ID1 ".part");

	assert_int_equal(image_store_upload_commit(up), 0);
	image_store_upload_free(&up);
	assert_null(up);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, ID1);
	assert_true(image_store_exists(f->st, ID1));
	expect_file(f, ID1, buf, len);

	assert_int_equal(image_store_remove(f->st, ID1), 0);
	assert_int_equal(image_store_remove(f->st, ID1), 0);	/* idempotent */
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
	free(buf);
}

static void
test_free_leaves_nothing(void **state)
{
	struct fx *f = *state;
	const struct image_upload_result *r;
	struct image_upload *up;
	uint8_t buf[10000];
	char names[512];

	fill(buf, sizeof(buf), 1);
	/* Interrupted mid-stream. */
	up = image_store_upload_begin(f->st, ID1, "p1", 0, 20000);
	assert_non_null(up);
	write_all(up, buf, sizeof(buf));
	image_store_upload_free(&up);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
	assert_int_equal(image_store_inflight(f->st, "p1"), 0);

	/* Finished, then refused (the caller rejected the format). */
	up = image_store_upload_begin(f->st, ID1, "p1", 0, sizeof(buf));
	assert_non_null(up);
	write_all(up, buf, sizeof(buf));
	assert_int_equal(image_store_upload_finish(up, &r), 0);
	image_store_upload_free(&up);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
	assert_false(image_store_exists(f->st, ID1));

	/* Writes after finish and a second finish are refused. */
	up = image_store_upload_begin(f->st, ID1, NULL, 0, 0);
	assert_non_null(up);
	assert_int_equal(image_store_upload_finish(up, &r), 0);
	assert_int_equal(r->size, 0);
	assert_string_equal(r->checksum, "d41d8cd98f00b204e9800998ecf8427e");
	assert_int_equal(image_store_upload_write(up, buf, 1), -1);
	assert_int_equal(image_store_upload_finish(up, &r), -1);
	image_store_upload_free(&up);
	image_store_upload_free(&up);		/* NULL is fine */
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
}

static void
test_size_cap(void **state)
{
	struct fx *f = *state;
	struct image_upload *up;
	uint8_t buf[600];
	char names[512];

	open_store(f, 1000, 0);
	memset(buf, 0x5a, sizeof(buf));
	/* Declared over the cap: refused before any file exists. */
	assert_null(image_store_upload_begin(f->st, ID1, "p1", 0, 1001));
	assert_int_equal(err_code(), TS_ETOO_LARGE);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");

	/* Declared within the cap but more is sent (a lying client), or
	 * nothing declared (chunked): the byte over the cap fails. */
	up = image_store_upload_begin(f->st, ID1, "p1", 0, 1000);
	assert_non_null(up);
	assert_int_equal(image_store_upload_write(up, buf, 600), 0);
	assert_int_equal(image_store_upload_write(up, buf, 400), 0);
	assert_int_equal(image_store_upload_write(up, buf, 1), -1);
	assert_int_equal(err_code(), TS_ETOO_LARGE);
	/* Once failed, nothing more is accepted. */
	assert_int_equal(image_store_upload_write(up, buf, 1), -1);
	image_store_upload_free(&up);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");

	up = image_store_upload_begin(f->st, ID1, NULL, 0,
	    IMAGE_STORE_SIZE_UNKNOWN);
	assert_non_null(up);
	assert_int_equal(image_store_upload_write(up, buf, 600), 0);
	assert_int_equal(image_store_upload_write(up, buf, 600), -1);
	assert_int_equal(err_code(), TS_ETOO_LARGE);
	image_store_upload_free(&up);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
}

static void
test_quota(void **state)
{
	struct fx *f = *state;
	struct image_upload *a, *b, *c;
	uint8_t buf[9000];
	char names[512];

	open_store(f, 0, 10000);
	memset(buf, 1, sizeof(buf));
	/* 4000 committed: a declared 6001 does not fit. */
	assert_null(image_store_upload_begin(f->st, ID1, "p", 4000, 6001));
	assert_int_equal(err_code(), TS_ETOO_LARGE);
	assert_non_null(strstr(err_msg(), "quota"));

	a = image_store_upload_begin(f->st, ID1, "p", 4000,
	    IMAGE_STORE_SIZE_UNKNOWN);
	assert_non_null(a);
	assert_int_equal(image_store_upload_write(a, buf, 3000), 0);
	assert_int_equal(image_store_inflight(f->st, "p"), 3000);
	/* A second upload of the same project sees the first's bytes. */
	assert_null(image_store_upload_begin(f->st, ID2, "p", 4000, 3001));
	b = image_store_upload_begin(f->st, ID2, "p", 4000,
	    IMAGE_STORE_SIZE_UNKNOWN);
	assert_non_null(b);
	assert_int_equal(image_store_upload_write(b, buf, 2000), 0);
	assert_int_equal(image_store_inflight(f->st, "p"), 5000);
	/* 4000 + 3000 + 3500 > 10000: the crossing write fails. */
	assert_int_equal(image_store_upload_write(b, buf, 1500), -1);
	assert_int_equal(err_code(), TS_ETOO_LARGE);
	image_store_upload_free(&b);
	assert_int_equal(image_store_inflight(f->st, "p"), 3000);
	/* Another project is not affected, nor is an unowned image. */
	c = image_store_upload_begin(f->st, ID3, "q", 0,
	    IMAGE_STORE_SIZE_UNKNOWN);
	assert_non_null(c);
	assert_int_equal(image_store_upload_write(c, buf, 9000), 0);
	assert_int_equal(image_store_inflight(f->st, "q"), 9000);
	image_store_upload_free(&c);
	c = image_store_upload_begin(f->st, ID3, NULL, 0,
	    IMAGE_STORE_SIZE_UNKNOWN);
	assert_non_null(c);
	assert_int_equal(image_store_upload_write(c, buf, 9000), 0);
	assert_int_equal(image_store_upload_write(c, buf, 9000), 0);
	image_store_upload_free(&c);
	/* The first upload can still use what is left: 3000 more. */
	assert_int_equal(image_store_upload_write(a, buf, 3000), 0);
	assert_int_equal(image_store_upload_write(a, buf, 1), -1);
	image_store_upload_free(&a);
	assert_int_equal(image_store_inflight(f->st, "p"), 0);
	assert_int_equal(image_store_inflight(f->st, "q"), 0);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
}

static void
test_sparse(void **state)
{
	struct fx *f = *state;
	const size_t len = 4 * 1024 * 1024 + 5;
	const struct image_upload_result *r;
	struct image_upload *up;
	uint8_t *buf = calloc(1, len);
	struct stat sb;
	char path[128];

	assert_non_null(buf);
	memcpy(buf + 2 * 1024 * 1024 + 100, "hello", 5);
	memcpy(buf + len - 3, "end", 3);
	up = image_store_upload_begin(f->st, ID2, NULL, 0, len);
	assert_non_null(up);
	write_all(up, buf, len);
	assert_int_equal(image_store_upload_finish(up, &r), 0);
	expect_digests(r, buf, len);
	assert_int_equal(image_store_upload_commit(up), 0);
	image_store_upload_free(&up);
	expect_file(f, ID2, buf, len);
	snprintf(path, sizeof(path), "%s/%s", f->dir, ID2);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, len);
	/* Only the blocks holding data are allocated (file systems may add
	 * a little; 4 MiB written densely would be 8192 sectors). */
	assert_true(sb.st_blocks < 512);
	free(buf);
}

static void
test_clean_and_each(void **state)
{
	static const char *const files[] = {
		"." ID1 ".part", ID2, "notes.txt", "." ID3 ".partial",
		ID3 ".part", NULL
	};
	struct fx *f = *state;
	char names[512], path[128];
	int i, fd, removed = -1;

	for (i = 0; files[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		fd = open(path, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(image_store_clean(f->st, &removed), 0);
	assert_int_equal(removed, 1);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "." ID3 ".partial " ID2 " " ID3 ".part "
	    "notes.txt");
}

static int
count_each(const char *id, void *arg)
{
	char *seen = arg;

	strcat(seen, id);
	strcat(seen, ";");
	return 0;
}

static void
test_each(void **state)
{
	struct fx *f = *state;
	char seen[256] = "", path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, ID1);
	assert_true((fd = open(path, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/not-a-uuid", f->dir);
	assert_true((fd = open(path, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(image_store_each(f->st, count_each, seen), 0);
	assert_string_equal(seen, ID1 ";");
}

static void
test_conflicts_and_bad_ids(void **state)
{
	struct fx *f = *state;
	const struct image_upload_result *r;
	struct image_upload *a, *b;
	uint64_t size;
	char path[128];
	int fd;

	a = image_store_upload_begin(f->st, ID1, NULL, 0, 0);
	assert_non_null(a);
	/* One upload per image at a time. */
	b = image_store_upload_begin(f->st, ID1, NULL, 0, 0);
	assert_null(b);
	assert_int_equal(err_code(), TS_ECONFLICT);
	/* The refused second upload did not remove the first's file. */
	snprintf(path, sizeof(path), "%s/.%s.part", f->dir, ID1);
	assert_int_equal(access(path, F_OK), 0);
	/* Data never replaces data. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, ID1);
	assert_true((fd = open(path, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(image_store_upload_finish(a, &r), 0);
	assert_int_equal(image_store_upload_commit(a), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	image_store_upload_free(&a);

	assert_null(image_store_upload_begin(f->st, "../../etc/passwd", NULL,
	    0, 0));
	assert_int_equal(err_code(), TS_EINVALID);
	assert_null(image_store_upload_begin(f->st,
	    "6F1D8B36-3C1E-4B47-9D1A-0C2B7E4F5A61", NULL, 0, 0));
	assert_int_equal(image_store_open(f->st, "../x", &fd, &size), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(image_store_open(f->st, ID2, &fd, &size), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(image_store_remove(f->st, "x/.."), -1);
	assert_false(image_store_exists(f->st, ".."));
}

static void
test_unsafe_directory(void **state)
{
	struct fx *f = *state;
	struct image_store_opts o = { f->dir, 0, 0, false };
	struct image_store *st;
	char file[128];
	int fd;

	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_null(image_store_new(&o));
	assert_int_equal(err_code(), TS_ECONFIG);
	assert_int_equal(chmod(f->dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/plain", f->dir);
	assert_true((fd = open(file, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	o.path = file;
	assert_null(image_store_new(&o));
	assert_int_equal(err_code(), TS_ECONFIG);
	o.path = "";
	assert_null((st = image_store_new(&o)));
}

/* Data and zero runs that start and end off every block and slot
 * boundary, and the stream written once in one call larger than the
 * ring (the producer waits for slots inside one write) and once in
 * small uneven pieces; in /tmp (O_DIRECT writes where the file system
 * takes them, the short tail buffered) and on tmpfs (buffered). */
static void
test_long_stream(void **state)
{
	static const struct { size_t off, len; } zeros[] = {
		{ 100, 9000 }, { 262144 - 4096, 3 * 4096 },
		{ 1048576 + 17, 700000 }, { 5 * 1048576 - 5000, 70000 },
	};
	struct fx *f = *state;
	const size_t len = 7 * 1024 * 1024 + 12345;
	const struct image_upload_result *r;
	struct image_upload *up;
	uint8_t *buf = malloc(len);
	size_t i;
	int k;

	assert_non_null(buf);
	fill(buf, len, 3);
	for (i = 0; i < len; i++)
		if (buf[i] == 0)
			buf[i] = 1;	/* no stray zero blocks */
	for (i = 0; i < sizeof(zeros) / sizeof(zeros[0]); i++)
		memset(buf + zeros[i].off, 0, zeros[i].len);
	for (k = 0; k < 2; k++) {
		up = image_store_upload_begin(f->st, ID1, "p", 0, len);
		assert_non_null(up);
		if (k == 0) {
			assert_int_equal(image_store_upload_write(up, buf, len - 7),
			    0);
			assert_int_equal(image_store_upload_write(up, buf + len - 7,
			    7), 0);
		} else
			write_all(up, buf, len);
		assert_int_equal(image_store_upload_finish(up, &r), 0);
		expect_digests(r, buf, len);
		assert_int_equal(r->inspect.format, IMGFMT_RAW);
		assert_int_equal(image_store_upload_commit(up), 0);
		image_store_upload_free(&up);
		expect_file(f, ID1, buf, len);
		assert_int_equal(image_store_remove(f->st, ID1), 0);
	}
	free(buf);
}

/* Pages of image id's data file in the page cache, and its page count. */
static size_t
resident(struct fx *f, const char *id, size_t *pages)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *vec;
	uint64_t size;
	size_t n, i, in = 0;
	void *m;
	int fd;

	if (image_store_open(f->st, id, &fd, &size) == -1)
		fail_msg("open: %s", err_msg());
	n = (size_t)((size + (uint64_t)pg - 1) / (uint64_t)pg);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_non_null(vec = malloc(n));
	assert_int_equal(mincore(m, size, vec), 0);
	for (i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	munmap(m, size);
	close(fd);
	*pages = n;
	return in;
}

/* Whether dir's file system takes O_DIRECT writes (ext4 does, tmpfs not). */
static bool
takes_direct(const char *dir)
{
	char path[128];
	void *b = NULL;
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s/direct-probe", dir);
	if ((fd = open(path, O_CREAT | O_WRONLY | O_DIRECT, 0600)) == -1)
		return false;
	assert_int_equal(posix_memalign(&b, 4096, 4096), 0);
	memset(b, 1, 4096);
	ok = pwrite(fd, b, 4096, 0) == 4096;
	free(b);
	close(fd);
	unlink(path);
	return ok;
}

static void
upload_one(struct fx *f, const char *id, const uint8_t *buf, size_t len)
{
	const struct image_upload_result *r;
	struct image_upload *up;

	up = image_store_upload_begin(f->st, id, "p", 0, len);
	assert_non_null(up);
	write_all(up, buf, len);
	assert_int_equal(image_store_upload_finish(up, &r), 0);
	assert_int_equal(image_store_upload_commit(up), 0);
	image_store_upload_free(&up);
}

/* An upload written around the page cache is not in it after commit;
 * the store's read-back puts all of it there (the first download then
 * reads memory, not the disk). */
static void
test_warm(void **state)
{
	struct fx *f = *state;
	struct image_store_opts o = { f->dir, 0, 0, true };
	const size_t len = 16 * 1024 * 1024 + 4321;
	uint8_t *buf = malloc(len);
	size_t pages, in;

	if (!takes_direct(f->dir)) {
		/* Buffered writes leave the data cached: nothing to show. */
		print_message("skipped: %s does not take O_DIRECT writes, so "
		    "uploads there are cached anyway\n", f->dir);
		free(buf);
		skip();
	}
	assert_non_null(buf);
	fill(buf, len, 9);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == 0)
			buf[i] = 1;
	image_store_free(&f->st);
	assert_non_null(f->st = image_store_new(&o));
	upload_one(f, ID1, buf, len);
	image_store_warm_wait(f->st);
	in = resident(f, ID1, &pages);
	/* Only the short tail went through the cache. */
	assert_true(in <= 2);
	assert_true(pages > 4000);

	open_store(f, 0, 0);
	upload_one(f, ID2, buf, len);
	image_store_warm_wait(f->st);
	in = resident(f, ID2, &pages);
	assert_int_equal(in, pages);
	expect_file(f, ID2, buf, len);

	/* A hole (a zero run the store did not write) is not read back. */
	memset(buf + 4 * 1024 * 1024, 0, 8 * 1024 * 1024);
	upload_one(f, ID3, buf, len);
	image_store_warm_wait(f->st);
	in = resident(f, ID3, &pages);
	assert_int_equal(in, pages - 8 * 1024 * 1024 / 4096);
	expect_file(f, ID3, buf, len);
	free(buf);
}

/* Freed in the middle of a long stream, with slots still queued for the
 * threads, and freed right after begin: the threads are stopped and
 * joined, the file is gone and the quota released. */
static void
test_abandon_long_stream(void **state)
{
	struct fx *f = *state;
	const size_t len = 5 * 1024 * 1024 + 1;
	struct image_upload *up;
	uint8_t *buf = malloc(len);
	char names[512];
	int k;

	assert_non_null(buf);
	fill(buf, len, 9);
	open_store(f, 0, 1ULL << 30);
	for (k = 0; k < 20; k++) {
		up = image_store_upload_begin(f->st, ID1, "p", 0,
		    IMAGE_STORE_SIZE_UNKNOWN);
		assert_non_null(up);
		assert_int_equal(image_store_upload_write(up, buf,
		    len - (size_t)k * 200000), 0);
		assert_int_equal(image_store_inflight(f->st, "p"),
		    len - (size_t)k * 200000);
		image_store_upload_free(&up);
		assert_int_equal(image_store_inflight(f->st, "p"), 0);
	}
	up = image_store_upload_begin(f->st, ID1, "p", 0, 0);
	assert_non_null(up);
	image_store_upload_free(&up);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
	free(buf);
}

/* A write error mid-stream (the file size limit, EFBIG) fails the write
 * that reaches it with TS_EIO; only free may follow, and it leaves
 * nothing. */
static void
test_write_error(void **state)
{
	struct fx *f = *state;
	const size_t len = 4 * 1024 * 1024;
	const struct image_upload_result *r;
	struct image_upload *up;
	struct rlimit old, lim;
	uint8_t *buf = malloc(len);
	char names[512];
	void (*oldsig)(int);
	int rc;

	assert_non_null(buf);
	fill(buf, len, 5);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 1024 * 1024;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	up = image_store_upload_begin(f->st, ID1, NULL, 0, len);
	assert_non_null(up);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = image_store_upload_write(up, buf, len);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(rc, -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_int_equal(image_store_upload_write(up, buf, 1), -1);
	assert_int_equal(image_store_upload_finish(up, &r), -1);
	image_store_upload_free(&up);
	dir_names(f, names, sizeof(names));
	assert_string_equal(names, "");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upload_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_leaves_nothing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_and_each, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflicts_and_bad_ids,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_directory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_stream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_warm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_stream, setup_tmpfs,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abandon_long_stream,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
