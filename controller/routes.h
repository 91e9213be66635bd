/*
 * routes: every service's route table and policy defaults, in one list.
 *
 * The HTTP server gets each table through its listener (api.c); this list
 * is for what must see all of them at once: the policy engine's built-in
 * rules, `tinystack-manage policy sample|routes`, and the unit test that
 * proves every authenticated route names a rule that exists or is marked
 * ROUTE_SELF_SCOPED (tests/unit/routes_test.c). A new service adds its
 * table and its defaults here.
 */
#ifndef TS_ROUTES_H
#define TS_ROUTES_H

#include "http/http.h"
#include "auth/policy.h"

struct routes_service {
	const char		*name;		/* "identity", "image", ... */
	const struct http_route	*routes;	/* HTTP_ROUTE_END-terminated */
};

/* { NULL, NULL }-terminated. */
extern const struct routes_service routes_services[];

/* Every service's built-in rules, NULL-terminated (for policy_new()). */
extern const struct policy_default *const routes_policy_tables[];

#endif
