/* health: see health.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "err.h"
#include "health.h"
#include "log.h"

struct dep {
	char	name[HEALTH_NAME_MAX + 1];
	bool	up;
	char	detail[HEALTH_DETAIL_MAX + 1];
	char	error[HEALTH_ERROR_MAX + 1];
	int64_t	error_at;
	/* A down not yet in a snapshot stays down until one took it, so a
	 * failure that recovers within a report interval (dnsmasq restarted
	 * at the next converge) is still reported once. */
	bool	unreported;
	bool	pending_up;
};

static pthread_mutex_t	lock = PTHREAD_MUTEX_INITIALIZER;
static struct dep	deps[HEALTH_DEPS_MAX];
static size_t		ndeps;
static uint64_t		generation;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy s into out (size bytes), cut at a UTF-8 boundary. */
static void
copy_cut(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n > size - 1) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = '?';
}

/* The entry of name, created if new; NULL when the table is full (the
 * report is dropped: HEALTH_DEPS_MAX is above what any daemon uses).
 * Called with the lock held. */
static struct dep *
find(const char *name, bool create)
{
	for (size_t i = 0; i < ndeps; i++)
		if (strcmp(deps[i].name, name) == 0)
			return &deps[i];
	if (!create || ndeps == HEALTH_DEPS_MAX)
		return NULL;
	memset(&deps[ndeps], 0, sizeof(deps[ndeps]));
	copy_cut(deps[ndeps].name, sizeof(deps[ndeps].name), name);
	deps[ndeps].up = true;
	generation++;
	return &deps[ndeps++];
}

void
health_up(const char *name, const char *detail)
{
	struct dep *d;

	pthread_mutex_lock(&lock);
	if ((d = find(name, true)) != NULL) {
		if (d->unreported) {
			d->pending_up = true;
		} else {
			if (!d->up)
				generation++;
			d->up = true;
		}
		if (detail)
			copy_cut(d->detail, sizeof(d->detail), detail);
	}
	pthread_mutex_unlock(&lock);
}

static void
report(const char *name, bool down, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
report(const char *name, bool down, const char *fmt, va_list ap)
{
	char msg[HEALTH_ERROR_MAX * 2];
	struct dep *d;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_redact(msg, sizeof(msg));
	pthread_mutex_lock(&lock);
	if ((d = find(name, true)) != NULL) {
		if (down && d->up)
			generation++;
		if (down) {
			d->up = false;
			d->unreported = true;
			d->pending_up = false;
		}
		copy_cut(d->error, sizeof(d->error), msg);
		d->error_at = now_ms();
	}
	pthread_mutex_unlock(&lock);
}

void
health_down(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(name, true, fmt, ap);
	va_end(ap);
}

void
health_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(name, false, fmt, ap);
	va_end(ap);
}

void
health_forget(const char *name)
{
	struct dep *d;

	pthread_mutex_lock(&lock);
	if ((d = find(name, false)) != NULL) {
		*d = deps[--ndeps];
		generation++;
	}
	pthread_mutex_unlock(&lock);
}

uint64_t
health_generation(void)
{
	uint64_t g;

	pthread_mutex_lock(&lock);
	g = generation;
	pthread_mutex_unlock(&lock);
	return g;
}

void
health_items_free(struct sch_host_dep **items, size_t n)
{
	if (*items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		codec_clear(&schema_sch_host_dep, &(*items)[i]);
	free(*items);
	*items = NULL;
}

int
health_items(struct sch_host_dep **itemsp, size_t *np)
{
	struct sch_host_dep *items;
	size_t n;
	int bad = 0;

	*itemsp = NULL;
	*np = 0;
	pthread_mutex_lock(&lock);
	n = ndeps;
	if (n == 0) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	if ((items = calloc(n, sizeof(*items))) == NULL) {
		pthread_mutex_unlock(&lock);
		err_set(TS_ENOMEM, "health: out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct dep *d = &deps[i];

		bad |= (items[i].name = strdup(d->name)) == NULL;
		bad |= (items[i].state = strdup(d->up ? "up" : "down")) ==
		    NULL;
		if (d->detail[0])
			bad |= (items[i].detail = strdup(d->detail)) == NULL;
		if (d->error[0]) {
			bad |= (items[i].error = strdup(d->error)) == NULL;
			items[i].has_error_at = true;
			items[i].error_at = d->error_at;
		}
		d->unreported = false;
		if (d->pending_up) {
			d->pending_up = false;
			d->up = true;
			generation++;
		}
	}
	pthread_mutex_unlock(&lock);
	if (bad) {
		health_items_free(&items, n);
		err_set(TS_ENOMEM, "health: out of memory");
		return -1;
	}
	*itemsp = items;
	*np = n;
	return 0;
}

void
health_reset(void)
{
	pthread_mutex_lock(&lock);
	ndeps = 0;
	generation++;
	pthread_mutex_unlock(&lock);
}
