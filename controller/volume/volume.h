/*
 * volume: the Block Storage API (Cinder v3) service of the controller.
 *
 * This first slice serves what the clients need to discover the service
 * and to show limits and quotas: the versions documents and microversion
 * header (3.0 only), absolute limits, os-quota-sets (stored as
 * volume_quota records, schemas/volume.schema), one availability zone
 * ("nova"), the os-services row of the controller's scheduler, the one
 * volume type Cinder always has (__DEFAULT__), and empty volume lists.
 * There are no volumes yet, so every usage is 0 and every volume is 404.
 *
 * Every route is under /v3/{project_id}: as in Cinder, a URL project other
 * than the token's is 400 "Malformed request url" (checked after the
 * policy, so a refused caller learns nothing more). Errors take Cinder's
 * shape ({"itemNotFound": {"code", "message"}}, apierr APIERR_VOLUME).
 *
 * Threads: created on the main thread before the API listens; handlers run
 * on the HTTP pool and share nothing mutable but the store.
 */
#ifndef TS_CONTROLLER_VOLUME_H
#define TS_CONTROLLER_VOLUME_H

#include "auth/policy.h"
#include "http/http.h"

struct config;
struct store;
struct volume;

/* The microversions served: "volume 3.0" to "volume 3.<VOLUME_MV_MAX>". */
#define VOLUME_MV_MIN	0
#define VOLUME_MV_MAX	0

/* The service over the borrowed store and configuration; host names the
 * controller in os-services (borrowed, outlives the service). NULL with
 * err set. */
struct volume	*volume_new(const struct config *, struct store *,
		    const char *host);
/* Accepts NULL, clears *sp. */
void		 volume_free(struct volume **sp);

/* The route table of the volume listener (port [api] volume_port). */
extern const struct http_route volume_routes[];
/* Built-in policy rules of the volume API (Cinder's names). */
extern const struct policy_default volume_policy_defaults[];

#endif
