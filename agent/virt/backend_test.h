/*
 * backend_test: what the driver (virt/driver.c) needs for guests of
 * libvirt's test driver (test:///default). Its domains live in the libvirt
 * library inside this process (test:///default shares one state between
 * all connections of a process): no disks, no console. The console log is
 * synthetic: one line in the style of a kernel log per life-cycle step,
 * kept in memory per guest (at most 64 KiB each, the oldest half dropped
 * beyond that), so that clients reading the last N lines of a console
 * have lines to read. Used by the integration tests and the fleet
 * simulator.
 *
 * Threads: any; the logs are under a lock of the backend.
 */
#ifndef TS_AGENT_BACKEND_TEST_H
#define TS_AGENT_BACKEND_TEST_H

#include <stdarg.h>
#include <stddef.h>

struct backend_test;
struct driver_spec;

/* NULL with err set (out of memory). */
struct backend_test	*backend_test_new(void);
/* Accepts NULL; clears *tp. */
void			 backend_test_free(struct backend_test **);

/* The guest's domain XML (virt/domxml's test document), owned by the
 * caller. -1 with err set. */
int	backend_test_render(struct backend_test *, const struct driver_spec *,
	    char **xml);
/* Appends one line, stamped with the time since the backend was made, to
 * the guest's synthetic console. Best effort: a failed allocation loses
 * the line, never the operation. */
void	backend_test_logv(struct backend_test *, const char *uuid,
	    const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));
/* The last max bytes (> 0) of the guest's log, NUL-terminated, owned by
 * the caller; "" for a guest without lines. -1 TS_ENOMEM. */
int	backend_test_console(struct backend_test *, const char *uuid,
	    size_t max, char **out, size_t *len);
/* Forgets the guest's log (it was deleted). */
void	backend_test_forget(struct backend_test *, const char *uuid);

#endif
