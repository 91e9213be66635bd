/*
 * fuzz_network_api: the Networking API's handlers (controller/network/) on
 * hostile bodies and queries, through the real HTTP stack of an
 * in-process controller (apifuzz.h: input format, what is a finding).
 * Fixtures, by "@N@" index: 0 a network of the member's project, 1 its
 * subnet 10.99.0.0/24, 2 a port on it, 3 a security group and 4 a router
 * of the member's, 5 an external network (admin's) with a subnet
 * 203.0.113.0/24, 6 a project for quota updates, 7 that external subnet.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "apifuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N	CT_NETWORK
#define R(m, p)		{ N, m, p, NULL, NULL, NULL, NULL, NULL }
#define RC(m, p, k, d)	{ N, m, p, k, d, NULL, NULL, NULL }

static const struct apifuzz_route routes[] = {
	RC("POST", "/v2.0/networks", "network.id", "/v2.0/networks/%s"),
	R("PUT", "/v2.0/networks/@0@"),
	RC("POST", "/v2.0/subnets", "subnet.id", "/v2.0/subnets/%s"),
	R("PUT", "/v2.0/subnets/@1@"),
	RC("POST", "/v2.0/ports", "port.id", "/v2.0/ports/%s"),
	R("PUT", "/v2.0/ports/@2@"),
	RC("POST", "/v2.0/security-groups", "security_group.id",
	    "/v2.0/security-groups/%s"),
	R("PUT", "/v2.0/security-groups/@3@"),
	RC("POST", "/v2.0/security-group-rules", "security_group_rule.id",
	    "/v2.0/security-group-rules/%s"),
	RC("POST", "/v2.0/routers", "router.id", "/v2.0/routers/%s"),
	R("PUT", "/v2.0/routers/@4@"),
	R("PUT", "/v2.0/routers/@4@/add_router_interface"),
	R("PUT", "/v2.0/routers/@4@/remove_router_interface"),
	RC("POST", "/v2.0/floatingips", "floatingip.id",
	    "/v2.0/floatingips/%s"),
	R("PUT", "/v2.0/quotas/@6@"),
	R("GET", "/v2.0/networks"),
	R("GET", "/v2.0/subnets"),
	R("GET", "/v2.0/ports"),
	R("GET", "/v2.0/security-group-rules"),
	R("GET", "/v2.0/routers"),
	R("GET", "/v2.0/floatingips"),
	R("GET", "/v2.0/quotas/@6@/details"),
};

static int
setup(struct ctltest *t, char fix[APIFUZZ_MAXFIX][128])
{
	char body[512];

	if (apifuzz_create(t, N, CT_MEMBER, "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"fznet\"}}", "network.id", fix[0]) == -1)
		return -1;
	snprintf(body, sizeof(body), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"10.99.0.0/24\"}}", fix[0]);
	if (apifuzz_create(t, N, CT_MEMBER, "/v2.0/subnets", body, "subnet.id",
	    fix[1]) == -1)
		return -1;
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\"}}",
	    fix[0]);
	if (apifuzz_create(t, N, CT_MEMBER, "/v2.0/ports", body, "port.id",
	    fix[2]) == -1 ||
	    apifuzz_create(t, N, CT_MEMBER, "/v2.0/security-groups",
	    "{\"security_group\": {\"name\": \"fzsg\"}}", "security_group.id",
	    fix[3]) == -1 ||
	    apifuzz_create(t, N, CT_MEMBER, "/v2.0/routers", "{\"router\": "
	    "{\"name\": \"fzrouter\"}}", "router.id", fix[4]) == -1 ||
	    apifuzz_create(t, N, CT_ADMIN, "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"fzext\", \"router:external\": true}}", "network.id",
	    fix[5]) == -1 ||
	    apifuzz_create(t, CT_IDENTITY, CT_ADMIN, "/v3/projects", "{\"project\": "
	    "{\"name\": \"fznetquota\"}}", "project.id", fix[6]) == -1)
		return -1;
	snprintf(body, sizeof(body), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"203.0.113.0/24\"}}", fix[5]);
	return apifuzz_create(t, N, CT_ADMIN, "/v2.0/subnets", body, "subnet.id",
	    fix[7]);
}

static const struct apifuzz_target target = {
	"fuzz_network_api", routes, sizeof(routes) / sizeof(routes[0]), setup
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apifuzz_run(&target, data, size);
	return 0;
}
