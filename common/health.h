/*
 * health: the states of the services a daemon depends on, as its own
 * workers last saw them (the agent: libvirtd, dnsmasq, tgtd; the
 * controller: store, bus, api), reported to the operator through
 * `tinystack-manage status` and the dashboard (schemas: host_dep).
 *
 * One process-wide table of at most HEALTH_DEPS_MAX names, filled by
 * whichever thread notices a change (the libvirt census, the storage
 * supervisor, the bus loop); every call is thread-safe. A dependency keeps
 * its most recent error (text and time) after it recovers, so the operator
 * sees what happened last. Texts are cut to the schema's maxima at a
 * UTF-8 boundary and redacted like log lines.
 */
#ifndef TS_HEALTH_H
#define TS_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

#define HEALTH_DEPS_MAX		8	/* = schemas host_dep list max */
#define HEALTH_NAME_MAX		32
#define HEALTH_DETAIL_MAX	128
#define HEALTH_ERROR_MAX	256

/* name up; detail (may be NULL: keep the previous one) says what is up. */
void	health_up(const char *name, const char *detail);
/* name down with a new error (printf format), timestamped now. */
void	health_down(const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A new error without a state change (a failed call on a connection that
 * is still up). */
void	health_error(const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Forget name (the service is not used here any more). */
void	health_forget(const char *name);
/* Increases on every state change (not on repeated reports of the same
 * state): a caller compares it to report changes at once. */
uint64_t health_generation(void);
/* The current table as schema items (owned: health_items_free()), for a
 * report. A dependency that went down since the previous snapshot is in
 * it as down even if it came back meanwhile (it is up from the next
 * one), so a report never misses a failure. 0, or -1 TS_ENOMEM. */
int	health_items(struct sch_host_dep **items, size_t *n);
void	health_items_free(struct sch_host_dep **items, size_t n);
/* Tests: empty the table. */
void	health_reset(void);

#endif
