/* routes: every service's route table and policy defaults; see routes.h. */
#include <stddef.h>

#include "compute/compute.h"
#include "identity/identity.h"
#include "image/image.h"
#include "routes.h"

const struct routes_service routes_services[] = {
	{ "identity",	identity_routes },
	{ "image",	image_routes },
	{ "compute",	compute_routes },
	{ NULL, NULL }
};

const struct policy_default *const routes_policy_tables[] = {
	policy_identity_defaults,
	image_policy_defaults,
	policy_compute_defaults,
	NULL
};
