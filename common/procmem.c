/* procmem: heap and resident memory of the process; see procmem.h. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "metrics.h"
#include "procmem.h"

/*
 * jemalloc's control interface, when the program is linked with it (the
 * controller, outside sanitizer builds): a weak reference, so that this
 * file links into every program and picks the allocator at run time.
 * Under jemalloc glibc's mallinfo2() sees only glibc's own, unused arena.
 */
int	mallctl(const char *, void *, size_t *, void *, size_t)
	    __attribute__((weak));
/*
 * A sanitizer's allocator (<sanitizer/allocator_interface.h>, in the
 * runtimes of ASan, TSan, MSan and LSan): weak as well, so a build under
 * a sanitizer reports the sanitizer's heap, not glibc's idle one.
 */
size_t	__sanitizer_get_current_allocated_bytes(void) __attribute__((weak));
size_t	__sanitizer_get_heap_size(void) __attribute__((weak));
size_t	__sanitizer_get_free_bytes(void) __attribute__((weak));

static uint64_t
je_size(const char *name)
{
	size_t v = 0, len = sizeof(v);

	return mallctl(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

/* jemalloc's figures are a snapshot taken at an "epoch" write. */
static void
je_heap(struct procmem_heap *h)
{
	uint64_t epoch = 1, resident, allocated, metadata;
	size_t len = sizeof(epoch);
	unsigned narenas = 0;
	size_t ulen = sizeof(narenas);

	(void)mallctl("epoch", &epoch, &len, &epoch, len);
	allocated = je_size("stats.allocated");
	resident = je_size("stats.resident");
	metadata = je_size("stats.metadata");
	h->inuse = allocated;
	/* freed regions in the threads' caches count as allocated */
	h->cached = je_size("stats.arenas.4096.tcache_bytes") +
	    je_size("stats.arenas.4096.tcache_stashed_bytes");
	/* resident and not in use: dirty pages not purged yet, the free
	 * parts of pages in use, and the allocator's own metadata apart */
	h->free = resident > allocated + metadata ?
	    resident - allocated - metadata : 0;
	/* every arena's (MALLCTL_ARENAS_ALL), in pages */
	h->dirty = (je_size("stats.arenas.4096.pdirty") +
	    je_size("stats.arenas.4096.pmuzzy")) * je_size("arenas.page");
	h->mmapped = 0;	/* large allocations live in the arenas' extents */
	h->system = je_size("stats.mapped");
	if (mallctl("arenas.narenas", &narenas, &ulen, NULL, 0) != 0)
		narenas = 0;
	h->arenas = narenas;
	h->allocator = PROCMEM_JEMALLOC;
}

void
procmem_release(void)
{
	if (mallctl != NULL)
		(void)mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
	else
		malloc_trim(0);
}

static int
sanitizer(void)
{
	return __sanitizer_get_current_allocated_bytes != NULL &&
	    __sanitizer_get_heap_size != NULL &&
	    __sanitizer_get_free_bytes != NULL;
}

const char *
procmem_allocator(void)
{
	return mallctl != NULL ? "jemalloc" : sanitizer() ? "sanitizer" :
	    "glibc";
}

/* malloc_info()'s XML names each arena "<heap nr=...>"; the count is
 * nowhere else. */
static unsigned
count_arenas(void)
{
	char *xml = NULL, *p;
	size_t len = 0;
	unsigned n = 0;
	FILE *f = open_memstream(&xml, &len);

	if (f == NULL)
		return 0;
	if (malloc_info(0, f) != 0) {
		fclose(f);
		free(xml);
		return 0;
	}
	fclose(f);
	for (p = xml; p != NULL && (p = strstr(p, "<heap nr=")) != NULL; p++)
		n++;
	free(xml);
	return n;
}

void
procmem_heap(struct procmem_heap *h)
{
	struct mallinfo2 mi;

	if (mallctl != NULL) {
		je_heap(h);
		return;
	}
	if (sanitizer()) {
		memset(h, 0, sizeof(*h));
		h->allocator = PROCMEM_SANITIZER;
		h->inuse = __sanitizer_get_current_allocated_bytes();
		h->free = __sanitizer_get_free_bytes();
		h->system = __sanitizer_get_heap_size();
		return;
	}
	mi = mallinfo2();
	h->allocator = PROCMEM_GLIBC;
	h->inuse = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
	h->cached = 0;
	h->free = mi.fordblks;
	h->dirty = 0;
	h->mmapped = mi.hblkhd;
	h->system = (uint64_t)mi.arena + (uint64_t)mi.hblkhd;
	h->arenas = count_arenas();
}

int
procmem_anon(uint64_t *anon)
{
	unsigned long long size, resident, shared;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (f == NULL) {
		err_set(TS_EIO, "/proc/self/statm: %s", strerror(errno));
		return -1;
	}
	n = fscanf(f, "%llu %llu %llu", &size, &resident, &shared);
	fclose(f);
	if (n != 3 || page <= 0) {
		err_set(TS_EIO, "/proc/self/statm: unreadable");
		return -1;
	}
	*anon = resident > shared ? (uint64_t)(resident - shared) *
	    (uint64_t)page : 0;
	return 0;
}

int
procmem_resident(struct procmem_resident *r)
{
	char line[256];
	unsigned long long kb;
	int have = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "re");

	if (f == NULL) {
		err_set(TS_EIO, "/proc/self/smaps_rollup: %s", strerror(errno));
		return -1;
	}
	memset(r, 0, sizeof(*r));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Rss: %llu kB", &kb) == 1) {
			r->rss = (uint64_t)kb * 1024;
			have |= 1;
		} else if (sscanf(line, "Anonymous: %llu kB", &kb) == 1) {
			r->anon = (uint64_t)kb * 1024;
			have |= 2;
		}
	}
	fclose(f);
	if (have != 3) {
		err_set(TS_EIO, "/proc/self/smaps_rollup: no Rss or Anonymous");
		return -1;
	}
	r->file = r->rss > r->anon ? r->rss - r->anon : 0;
	return 0;
}

static void
gauge(struct buf *out, const char *name, const char *help, double v)
{
	metrics_write_family(out, name, METRICS_GAUGE, help);
	metrics_write_sample(out, name, NULL, v);
}

void
procmem_collect(struct buf *out, void *arg)
{
	static const char *res = "tinystack_process_resident_bytes";
	struct procmem_heap h;
	struct procmem_resident r;

	(void)arg;
	procmem_heap(&h);
	metrics_write_family(out, "tinystack_process_heap_allocator",
	    METRICS_GAUGE, "The malloc the figures below are read from: 1 "
	    "for the one in use (glibc: mallinfo2; jemalloc: mallctl stats; "
	    "sanitizer: the sanitizer's allocator interface).");
	metrics_write_sample(out, "tinystack_process_heap_allocator",
	    (const char *[]){ "allocator", procmem_allocator(), NULL }, 1);
	gauge(out, "tinystack_process_heap_inuse_bytes",
	    "Bytes allocated with malloc and not freed (glibc: mallinfo2 "
	    "uordblks + hblkhd; jemalloc: stats.allocated), the process's own "
	    "and its libraries' (libzmq's pipes, LMDB, jansson); pages never "
	    "written count too, so this can exceed the resident bytes "
	    "(sanitizer: current_allocated_bytes).", (double)h.inuse);
	gauge(out, "tinystack_process_heap_cached_bytes",
	    "Part of the in-use bytes that is freed regions in the threads' "
	    "caches, held by no one (jemalloc: tcache_bytes + "
	    "tcache_stashed_bytes; glibc, sanitizer: 0, not known).",
	    (double)h.cached);
	gauge(out, "tinystack_process_heap_free_bytes",
	    "Freed bytes malloc keeps (glibc: mallinfo2 fordblks, resident "
	    "where touched and not trimmed; jemalloc: stats.resident - "
	    "allocated - metadata, dirty pages not yet purged; sanitizer: "
	    "free_bytes).",
	    (double)h.free);
	gauge(out, "tinystack_process_heap_dirty_bytes",
	    "Freed pages malloc keeps until they decay, part of the free "
	    "bytes (jemalloc: stats.arenas pdirty + pmuzzy; glibc: 0, not "
	    "known).", (double)h.dirty);
	gauge(out, "tinystack_process_heap_mmapped_bytes",
	    "Bytes in use in chunks mapped on their own (glibc: mallinfo2 "
	    "hblkhd, part of the in-use bytes; jemalloc: 0).",
	    (double)h.mmapped);
	gauge(out, "tinystack_process_heap_system_bytes",
	    "Bytes malloc took from the system (glibc: mallinfo2 arena + "
	    "hblkhd; jemalloc: stats.mapped; sanitizer: heap_size).",
	    (double)h.system);
	gauge(out, "tinystack_process_heap_arenas",
	    "malloc arenas (glibc: malloc_info, 0 if it failed; jemalloc: "
	    "arenas.narenas; sanitizer: 0).", (double)h.arenas);
	/* Without smaps_rollup the heap figures still go out. */
	if (procmem_resident(&r) == -1)
		return;
	metrics_write_family(out, res, METRICS_GAUGE,
	    "Resident bytes by kind (/proc/self/smaps_rollup): anonymous "
	    "(Anonymous: heap, stacks, libraries' data) and file (Rss - "
	    "Anonymous: the LMDB map's pages, program text; page cache).");
	metrics_write_sample(out, res, (const char *[]){ "kind", "anonymous",
	    NULL }, (double)r.anon);
	metrics_write_sample(out, res, (const char *[]){ "kind", "file",
	    NULL }, (double)r.file);
}
