/*
 * aggregates: host aggregates (Nova's os-aggregates) and the availability
 * zones they define, as records: what the scheduler and the API handlers
 * (compute_aggregates.c) read. No HTTP here (the scheduler is linked
 * without it).
 *
 * An aggregate is a named set of compute hosts with metadata; the metadata
 * key "availability_zone" puts its hosts in that zone (Nova has no zone
 * object either). A host in no zoned aggregate is in the default zone
 * ([compute] default_availability_zone, "nova"). A host is in at most one
 * zone: adding it to an aggregate of another zone, or giving an aggregate a
 * zone some of its hosts already have another of, is refused (409 / 400 as
 * Nova).
 *
 * Records: table aggregates (schemas/records.schema, schema version 11),
 * keyed by aggregates_key(). The scheduler reads every aggregate at once,
 * for its cache.
 */
#ifndef TS_CONTROLLER_AGGREGATES_H
#define TS_CONTROLLER_AGGREGATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

struct store_txn;
struct ts_strmap;

#define AGGREGATES_AZ_KEY	"availability_zone"
#define AGGREGATES_SPEC_SCOPE	"aggregate_instance_extra_specs:"

/* The key of aggregate id: ten decimal digits (key order = id order). */
#define AGGREGATES_KEY_LEN	11
void	aggregates_key(uint32_t id, char k[AGGREGATES_KEY_LEN]);

/* Every aggregate, in id order. Owned: aggregates_clear(). */
struct aggregates {
	struct rec_aggregate	*v;
	size_t			 n;
};

/* Reads every aggregate in txn. 0 / -1 (out empty on failure). */
int	aggregates_load(struct store_txn *,
	    struct aggregates *out);
void	aggregates_clear(struct aggregates *);

/* The zone of an aggregate (its metadata's), or NULL. Borrowed. */
const char *aggregates_zone_of(const struct rec_aggregate *);
/* Metadata value of key, or NULL. Borrowed. */
const char *aggregates_meta_get(const struct ts_strmap *, const char *key);
/* Whether host is a member of the aggregate. */
bool	aggregates_has_host(const struct rec_aggregate *, const char *host);
/* host's zone: its first zoned aggregate's, else dflt. Borrowed. */
const char *aggregates_host_zone(const struct aggregates *,
	    const char *host, const char *dflt);
/*
 * Whether host's aggregates satisfy the extra specs' scoped keys
 * "aggregate_instance_extra_specs:K=V": some aggregate of the host has
 * metadata K whose comma-separated values include V. Other keys are
 * ignored (NULL specs: true).
 */
bool	aggregates_host_matches(const struct aggregates *,
	    const char *host, const struct ts_strmap *specs);

/* Inside a write: host out of every aggregate (its service is deleted). */
int	aggregates_forget_host(struct store_txn *, const char *host);

#endif
