/*
 * procmem: the process's memory as the allocator and the kernel count it,
 * for /metrics and the fleet benchmark (docs/PERFORMANCE.md, "Memory,
 * split").
 *
 * The heap figures are the allocator's: glibc's (mallinfo2(),
 * malloc_info()), jemalloc's (mallctl() stats) in a program linked with
 * it (the controller), or a sanitizer's (ASan, TSan, MSan replace malloc;
 * glibc's mallinfo2() would see none of the program's allocations there):
 * every malloc of the process, ours and the
 * libraries' (libzmq's pipes and CURVE buffers, LMDB's transaction lists,
 * jansson), summed over all arenas. The resident figures are the kernel's (/proc/self/smaps_rollup):
 * anonymous pages (the heap, thread stacks, libraries' data) apart from
 * file-backed ones (the LMDB map, shared and reclaimable page cache, and
 * the program's text).
 *
 * Reading takes each arena's lock in turn and walks its free lists, and
 * makes the kernel walk the page tables: a scrape's cost, not a hot
 * path's.
 */
#ifndef TS_PROCMEM_H
#define TS_PROCMEM_H

#include <stdint.h>

struct buf;

enum procmem_allocator {
	PROCMEM_GLIBC,
	PROCMEM_JEMALLOC,
	PROCMEM_SANITIZER,	/* __sanitizer_get_* (allocator_interface.h) */
};

struct procmem_heap {
	enum procmem_allocator allocator;	/* whose figures these are */
	uint64_t	inuse;		/* allocated, not freed: uordblks +
					 * hblkhd; jemalloc: stats.allocated.
					 * Either way pages of an allocation
					 * never written count though they
					 * were never resident (libzmq's
					 * pipe chunks are mostly such): this
					 * can exceed the anonymous Rss;
					 * sanitizer: the live bytes asked
					 * for (current_allocated_bytes) */
	uint64_t	cached;		/* part of inuse that no one holds:
					 * jemalloc: the threads' caches
					 * (tcache_bytes + tcache_stashed_
					 * bytes), freed regions kept for the
					 * thread's next malloc; glibc and
					 * sanitizers: 0 (glibc counts its
					 * tcache in use too, a few KiB per
					 * thread, not reported) */
	uint64_t	free;		/* freed, kept in the arenas: fordblks
					 * (resident where touched); jemalloc:
					 * resident - allocated - metadata;
					 * sanitizer: free_bytes */
	uint64_t	dirty;		/* jemalloc: freed pages not purged
					 * yet (pdirty + pmuzzy, part of
					 * free), what decay gives back;
					 * glibc: 0, unknown */
	uint64_t	mmapped;	/* in use in chunks mapped on their
					 * own: hblkhd (part of inuse);
					 * jemalloc: 0 */
	uint64_t	system;		/* taken from the system: arena +
					 * hblkhd; jemalloc: stats.mapped;
					 * sanitizer: heap_size */
	unsigned	arenas;		/* malloc arenas (glibc: one per thread
					 * up to 8 per core; jemalloc: 4 per
					 * core, threads spread over them;
					 * sanitizer: 0) */
};

struct procmem_resident {
	uint64_t	rss;		/* Rss */
	uint64_t	anon;		/* Anonymous */
	uint64_t	file;		/* Rss - Anonymous: file-backed and
					 * shared memory */
};

/* Cannot fail (the arena count is 0 if malloc_info() failed). */
void	procmem_heap(struct procmem_heap *);

/* Gives the pages of freed memory back to the system now: glibc's
 * malloc_trim(0), jemalloc's purge of every arena's dirty pages. For
 * measurements (bench/zmq_peer_mem); a daemon leaves it to decay. */
void	procmem_release(void);

/* "jemalloc" when the program is linked with it, "sanitizer" under a
 * sanitizer's malloc, else "glibc". */
const char *procmem_allocator(void);

/* 0, or -1 with err set (no /proc, or a kernel before 4.14). */
int	procmem_resident(struct procmem_resident *);

/* The anonymous resident bytes alone, from /proc/self/statm (resident -
 * shared: the kernel's counters, RssAnon). Cheap where procmem_resident()
 * walks every page table (smaps_rollup): for a periodic check. 0, or -1
 * with err set. */
int	procmem_anon(uint64_t *);

/* A metrics collector (metrics_add_collector(m, procmem_collect, NULL)):
 * tinystack_process_heap_allocator{allocator=...} (1),
 * tinystack_process_heap_{inuse,cached,free,dirty,mmapped,system}_bytes,
 * tinystack_process_heap_arenas and tinystack_process_resident_bytes
 * {kind="anonymous"|"file"}; the resident family is left out when
 * smaps_rollup cannot be read. arg is unused. */
void	procmem_collect(struct buf *, void *arg);

#endif
