/*
 * hoststatus: the latest health each daemon reported (schemas:
 * rec_host_status in table host_status): an agent's dependencies and
 * recent error lines from its heartbeats (fleet.c), the controller's own
 * (store, bus, api and its error lines) written on its tick. Read by
 * `tinystack-manage status` / `logs errors` and the dashboard's
 * /dashboard/api/host-status.
 *
 * Records are keyed "<binary>:<host>": an all-in-one host runs both
 * daemons.
 */
#ifndef TS_CONTROLLER_HOSTSTATUS_H
#define TS_CONTROLLER_HOSTSTATUS_H

#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

struct store;
struct store_txn;

#define HOSTSTATUS_ERRORS_MAX	32	/* = schemas host_status errors max */
#define HOSTSTATUS_AGENT	"tinystack-agent"
#define HOSTSTATUS_CONTROLLER	"tinystack-controller"

/* Moves the heartbeat's deps (when present and different: they replace
 * the record's) and error lines (appended, the oldest dropped past
 * HOSTSTATUS_ERRORS_MAX) into hs. Returns 1 if hs changed (then
 * updated_at is for the caller to set). */
int	hoststatus_take(struct rec_host_status *hs, struct msg_heartbeat *m);
/* Writes hs under its key (binary and host must be set). */
int	hoststatus_put(struct store_txn *, const struct rec_host_status *hs);
/* Reads the record of binary on host (codec_clear it); -1 TS_ENOT_FOUND
 * when there is none. */
int	hoststatus_get(struct store_txn *, const char *binary, const char *host,
	    struct rec_host_status *hs);
/* Every record, in key order; fn's record is borrowed. */
int	hoststatus_each(struct store_txn *,
	    int (*fn)(const struct rec_host_status *, void *), void *arg);

/*
 * The controller's own report: the states in common/health.h ("bus",
 * "api" set by main.c; "store" from this write) and its error lines newer
 * than *log_sent (advanced on success), merged into its record and
 * written now. Runs on the bus thread.
 */
int	hoststatus_report_self(struct store *, const char *host,
	    uint64_t *log_sent);

#endif
