/*
 * store_bench: durable writes per second through store_write() (group
 * commit) with 1, 8 and 32 concurrent writer threads, against a baseline of
 * one direct write transaction (one fsync) per record.
 *
 * usage: store_bench [seconds-per-run] [directory]
 * Each run gets a fresh database in a temporary directory under the given
 * directory (default $TMPDIR or /tmp), removed afterwards. The numbers are
 * only as good as the filesystem's fsync: run it where the controller's
 * database will live.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "store.h"

#define VALUE_LEN	256

static const char *const tables[] = { "records", NULL };

struct run {
	struct store	*st;
	double		 seconds;
	int		 stop;		/* atomic */
};

struct writer {
	struct run	*run;
	int		 id;
	uint64_t	 done;
	pthread_t	 th;
};

struct rec {
	char		 key[48];
	char		 val[VALUE_LEN];
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
put_rec(struct store_txn *t, void *arg)
{
	struct rec *r = arg;

	return store_put(t, "records", r->key, strlen(r->key), r->val,
	    sizeof(r->val), 0);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct rec r;

	memset(r.val, 'v', sizeof(r.val));
	while (!__atomic_load_n(&w->run->stop, __ATOMIC_RELAXED)) {
		snprintf(r.key, sizeof(r.key), "w%03d-%012llu", w->id,
		    (unsigned long long)w->done);
		if (store_write(w->run->st, put_rec, &r) == -1) {
			log_err("store_write");
			exit(1);
		}
		w->done++;
	}
	return NULL;
}

static int
rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(p);
}

static struct store *
fresh_store(const char *base, char *dir, size_t dirlen)
{
	struct store_opts o = { .map_size = (size_t)4 << 30,
	    .tables = tables };
	struct store *st;

	snprintf(dir, dirlen, "%s/store_bench.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		exit(1);
	}
	o.path = dir;
	if ((st = store_open(&o)) == NULL) {
		log_err("store_open");
		exit(1);
	}
	return st;
}

static void
bench_group(const char *base, double secs, int nthreads)
{
	struct writer *w = calloc((size_t)nthreads, sizeof(*w));
	struct run run = { .seconds = secs };
	struct store_stats s;
	char dir[512];
	uint64_t total = 0;
	double t0, el;
	int i;

	if (w == NULL)
		exit(1);
	run.st = fresh_store(base, dir, sizeof(dir));
	t0 = now();
	for (i = 0; i < nthreads; i++) {
		w[i].run = &run;
		w[i].id = i;
		if (pthread_create(&w[i].th, NULL, writer_main, &w[i]) != 0)
			exit(1);
	}
	usleep((useconds_t)(secs * 1e6));
	__atomic_store_n(&run.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].done;
	}
	el = now() - t0;
	store_stats(run.st, &s);
	printf("group commit %2d thread(s): %8.0f writes/s  %7.0f commits/s  "
	    "avg batch %6.1f  max batch %3llu\n", nthreads,
	    (double)total / el, (double)s.commits / el,
	    s.commits ? (double)s.writes / (double)s.commits : 0.0,
	    (unsigned long long)s.max_batch);
	store_free(&run.st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(w);
}

/* One durable transaction per record, no batching. */
static void
bench_direct(const char *base, double secs)
{
	struct store_txn *t;
	struct store *st;
	struct rec r;
	char dir[512];
	uint64_t n = 0;
	double t0, el;

	st = fresh_store(base, dir, sizeof(dir));
	memset(r.val, 'v', sizeof(r.val));
	t0 = now();
	while ((el = now() - t0) < secs) {
		snprintf(r.key, sizeof(r.key), "d-%012llu",
		    (unsigned long long)n);
		if (store_write_begin(st, &t) == -1 || put_rec(t, &r) == -1 ||
		    store_txn_commit(&t) == -1) {
			log_err("direct write");
			exit(1);
		}
		n++;
	}
	printf("direct txn    1 thread   : %8.0f writes/s  (one fsync each)\n",
	    (double)n / el);
	store_free(&st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int
main(int argc, char **argv)
{
	static const int threads[] = { 1, 8, 32 };
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	const char *base = argc > 2 ? argv[2] :
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	size_t i;

	if (secs <= 0) {
		fprintf(stderr, "usage: store_bench [seconds] [directory]\n");
		return 2;
	}
	log_init("store_bench", LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	printf("store_bench: %.1f s per run, %d-byte values, in %s\n", secs,
	    VALUE_LEN, base);
	bench_direct(base, secs);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		bench_group(base, secs, threads[i]);
	return 0;
}
