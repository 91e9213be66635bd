/* Unit tests for common/procmem.c: the heap figures follow allocations
 * (small ones in the arenas, a large one mapped on its own, a thread's
 * own arena), the resident figures keep anonymous pages apart from a
 * file's, and the collector writes every gauge with the values read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "metrics.h"
#include "procmem.h"

#define MIB	(1024 * 1024)

/* Under ASan, TSan or MSan malloc is the sanitizer's: glibc's
 * mallinfo2() does not see the program's allocations, and procmem reads
 * the sanitizer's own figures instead. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(thread_sanitizer)
#define SANITIZER	1
#endif
#endif
#ifndef SANITIZER
#define SANITIZER	0
#endif
#define GLIBC_MALLOC	(!JEMALLOC && !SANITIZER)
/* procmem_jemalloc_test.c: the same tests, linked with jemalloc. */
#ifdef PROCMEM_TEST_JEMALLOC
#define JEMALLOC	1
#else
#define JEMALLOC	0
#endif

static void *
thread_malloc(void *arg)
{
	void **p = arg;

	*p = malloc(1000);
	return NULL;
}

static void
test_heap(void **state)
{
	struct procmem_heap a, b, c, d;
	void *small[100], *big, *tp = NULL;
	pthread_t t;

	(void)state;
	procmem_heap(&a);
	for (int i = 0; i < 100; i++)
		assert_non_null(small[i] = malloc(1000));
	assert_non_null(big = malloc(4 * MIB));	/* over the mmap threshold */
	procmem_heap(&b);
	assert_true(b.system >= b.inuse);
	assert_true(b.arenas >= 1 || SANITIZER);
	if (SANITIZER) {
		/* the bytes asked for, live */
		assert_int_equal(b.allocator, PROCMEM_SANITIZER);
		assert_string_equal(procmem_allocator(), "sanitizer");
		assert_true(b.inuse >= a.inuse + 100 * 1000 + 4 * MIB);
		assert_true(b.inuse <= a.inuse + 100 * 1000 + 4 * MIB +
		    64 * 1024);
		assert_int_equal(b.cached, 0);
	}
	if (GLIBC_MALLOC) {
		assert_true(b.inuse >= a.inuse + 100 * 1000 + 4 * MIB);
		assert_true(b.inuse <= a.inuse + 100 * 1000 + 4 * MIB +
		    64 * 1024);
		assert_true(b.mmapped >= a.mmapped + 4 * MIB);
	}
	if (JEMALLOC) {
		/* 1,000 bytes are in the 1,024-byte class; a thread cache's
		 * fill counts a batch as allocated at once */
		assert_int_equal(b.allocator, PROCMEM_JEMALLOC);
		assert_string_equal(procmem_allocator(), "jemalloc");
		assert_true(b.inuse >= a.inuse + 100 * 1000 + 4 * MIB);
		assert_true(b.inuse <= a.inuse + 100 * 1024 + 4 * MIB +
		    256 * 1024);
		assert_int_equal(b.mmapped, 0);
	} else if (GLIBC_MALLOC) {
		assert_int_equal(b.allocator, PROCMEM_GLIBC);
		assert_string_equal(procmem_allocator(), "glibc");
	}
	for (int i = 0; i < 100; i++)
		free(small[i]);
	free(big);
	procmem_heap(&c);
	if (GLIBC_MALLOC) {
		/* a few small chunks stay in the thread's cache (tcache:
		 * counted in use), the rest are kept free in the arena, the
		 * mapping is gone */
		assert_true(c.inuse + 90 * 1000 + 4 * MIB <= b.inuse);
		assert_true(c.free >= 90 * 1000);
		assert_true(c.mmapped + 4 * MIB <= b.mmapped);
	}
	if (JEMALLOC) {
		/* the small ones stay in the thread's cache (counted in
		 * use); the large one's pages are dirty, kept until they
		 * decay (10 s) */
		assert_true(c.inuse + 4 * MIB <= b.inuse);
		assert_true(c.free >= 3 * MIB);
		assert_true(c.dirty >= 3 * MIB);
		/* the thread's cache holds some of the 100 freed regions
		 * (its 1,024-byte bin keeps a few dozen), still
		 * counted in use, and no more than was freed plus what the
		 * caches held before */
		assert_true(c.cached >= b.cached + 4 * 1024);
		assert_true(c.cached <= b.cached + 100 * 1024 + 64 * 1024);
		assert_true(c.cached <= c.inuse);
	} else {
		assert_int_equal(c.dirty, 0);
		assert_int_equal(c.cached, 0);
	}
	if (SANITIZER)
		assert_true(c.inuse + 100 * 1000 + 4 * MIB <= b.inuse);
	/* A new thread's first malloc takes an arena of its own (glibc
	 * makes up to 8 per core unless capped). */
	assert_int_equal(pthread_create(&t, NULL, thread_malloc, &tp), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_non_null(tp);
	procmem_heap(&d);
	if (GLIBC_MALLOC && getenv("MALLOC_ARENA_MAX") == NULL &&
	    getenv("GLIBC_TUNABLES") == NULL)
		assert_int_equal(d.arenas, c.arenas + 1);
	free(tp);
}

static void
test_resident(void **state)
{
	struct procmem_resident a, b, c;
	char path[] = "/tmp/procmem_test.XXXXXX", *anon;
	const volatile char *map;
	unsigned sum = 0;
	int fd;

	(void)state;
	assert_int_equal(procmem_resident(&a), 0);
	assert_true(a.anon > 0);
	assert_true(a.file > 0);	/* the program's text at least */
	assert_true(a.rss == a.anon + a.file);
	/* 8 MiB of anonymous pages, touched */
	assert_non_null(anon = malloc(8 * MIB));
	memset(anon, 1, 8 * MIB);
	assert_int_equal(procmem_resident(&b), 0);
	assert_true(b.anon >= a.anon + 7 * MIB);
	assert_true(b.file + MIB >= a.file);
	/* 4 MiB of a file, mapped shared and read: file-backed */
	assert_true((fd = mkstemp(path)) >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, 4 * MIB), 0);
	assert_int_equal(pwrite(fd, "x", 1, 4 * MIB - 1), 1);
	map = mmap(NULL, 4 * MIB, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	for (size_t off = 0; off < 4 * MIB; off += 4096)
		sum += (unsigned char)map[off];
	assert_int_equal(sum, 0);
	assert_int_equal(procmem_resident(&c), 0);
	assert_true(c.file >= b.file + 3 * MIB);
	assert_true(c.anon < b.anon + MIB);
	/* statm's figure moves with the anonymous pages, not the file's */
	{
		uint64_t x;

		assert_int_equal(procmem_anon(&x), 0);
		assert_true(x + MIB >= c.anon && x <= c.anon + MIB);
		assert_true(x >= a.anon + 7 * MIB);
	}
	munmap((void *)map, 4 * MIB);
	close(fd);
	free(anon);
}

/* The value of the sample line that starts with "name " or "name{...} ". */
static double
sample(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n'),
	    l = l ? l + 1 : NULL)
		if (strncmp(l, name, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	fail_msg("no sample %s", name);
	return -1;
}

static void
test_collect(void **state)
{
	static const char *const gauges[] = {
		"tinystack_process_heap_allocator",
		"tinystack_process_heap_inuse_bytes",
		"tinystack_process_heap_cached_bytes",
		"tinystack_process_heap_free_bytes",
		"tinystack_process_heap_dirty_bytes",
		"tinystack_process_heap_mmapped_bytes",
		"tinystack_process_heap_system_bytes",
		"tinystack_process_heap_arenas",
		"tinystack_process_resident_bytes",
	};
	struct metrics *m = metrics_new();
	struct procmem_heap h;
	struct procmem_resident r;
	struct buf b = { 0 };
	char *t, line[128];

	(void)state;
	assert_non_null(m);
	assert_int_equal(metrics_add_collector(m, procmem_collect, NULL), 0);
	procmem_heap(&h);
	assert_int_equal(procmem_resident(&r), 0);
	assert_int_equal(metrics_render(m, &b), 0);
	t = (char *)b.data;
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE %s gauge\n", gauges[i]);
		assert_non_null(strstr(t, line));
	}
	assert_non_null(strstr(t, "tinystack_process_heap_allocator{allocator=\""));
	assert_non_null(strstr(t, procmem_allocator()));
	/* read within a few allocations of each other */
	assert_true(sample(t, "tinystack_process_heap_cached_bytes") <=
	    sample(t, "tinystack_process_heap_inuse_bytes"));
	{
		assert_true(sample(t, "tinystack_process_heap_inuse_bytes") >
		    0);
		assert_true(sample(t, "tinystack_process_heap_inuse_bytes") -
		    (double)h.inuse < MIB);
		assert_true((double)h.inuse -
		    sample(t, "tinystack_process_heap_inuse_bytes") < MIB);
	}
	assert_true(sample(t, "tinystack_process_heap_system_bytes") >=
	    sample(t, "tinystack_process_heap_inuse_bytes"));
	assert_true(sample(t, "tinystack_process_heap_arenas") >= 1 ||
	    SANITIZER);
	assert_true(sample(t, "tinystack_process_resident_bytes"
	    "{kind=\"anonymous\"}") > 0);
	assert_true(sample(t, "tinystack_process_resident_bytes"
	    "{kind=\"file\"}") > 0);
	assert_true(sample(t, "tinystack_process_resident_bytes"
	    "{kind=\"anonymous\"}") < (double)r.anon + 8 * MIB);
	free(t);
	metrics_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap),
		cmocka_unit_test(test_resident),
		cmocka_unit_test(test_collect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
