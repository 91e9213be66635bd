/*
 * fuzz_identity_api: the Identity API's handlers (controller/identity/) on
 * hostile bodies and queries, through the real HTTP stack of an
 * in-process controller (apifuzz.h: input format, what is a finding).
 * Fixtures, by "@N@" index: 0 domain "fzdom", 1 project "fzproj", 2 user
 * "fzuser" (password "secret"), 3 role "fzrole", 4 group "fzgroup",
 * 5 service, 6 endpoint of that service, 7 region "fzregion". The
 * personas' own users and projects are never a route's object: their
 * tokens must keep working.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "apifuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define I	CT_IDENTITY
#define R(m, p)		{ I, m, p, NULL, NULL, NULL, NULL, NULL }
#define RC(m, p, k, d)	{ I, m, p, k, d, NULL, NULL, NULL }

static const struct apifuzz_route routes[] = {
	R("POST", "/v3/auth/tokens"),
	R("POST", "/v2.0/tokens"),
	/* keystone deletes only a disabled domain */
	{ I, "POST", "/v3/domains", "domain.id", "/v3/domains/%s",
	  "{\"domain\": {\"enabled\": false}}", NULL, NULL },
	R("PATCH", "/v3/domains/@0@"),
	RC("POST", "/v3/projects", "project.id", "/v3/projects/%s"),
	R("PATCH", "/v3/projects/@1@"),
	RC("POST", "/v3/users", "user.id", "/v3/users/%s"),
	R("PATCH", "/v3/users/@2@"),
	R("POST", "/v3/users/@2@/password"),
	RC("POST", "/v3/roles", "role.id", "/v3/roles/%s"),
	R("PATCH", "/v3/roles/@3@"),
	RC("POST", "/v3/groups", "group.id", "/v3/groups/%s"),
	R("PATCH", "/v3/groups/@4@"),
	RC("POST", "/v3/services", "service.id", "/v3/services/%s"),
	R("PATCH", "/v3/services/@5@"),
	RC("POST", "/v3/endpoints", "endpoint.id", "/v3/endpoints/%s"),
	R("PATCH", "/v3/endpoints/@6@"),
	RC("POST", "/v3/regions", "region.id", "/v3/regions/%s"),
	RC("PUT", "/v3/regions/fznew", "region.id", "/v3/regions/%s"),
	R("PATCH", "/v3/regions/@7@"),
	R("GET", "/v3/users"),
	R("GET", "/v3/projects"),
	R("GET", "/v3/role_assignments"),
	R("GET", "/v3/endpoints"),
	R("GET", "/v3/auth/projects"),
	R("GET", "/v3/roles"),
};

/* The admin's fixture: POST body to path, the id at key into out. */
#define MK(path, body, key, out) \
	apifuzz_create(t, I, CT_ADMIN, path, body, key, out)

static int
setup(struct ctltest *t, char fix[APIFUZZ_MAXFIX][128])
{
	char body[512];

	if (MK("/v3/domains", "{\"domain\": {\"name\": \"fzdom\"}}",
	    "domain.id", fix[0]) == -1 ||
	    MK("/v3/projects", "{\"project\": {\"name\": \"fzproj\"}}",
	    "project.id", fix[1]) == -1 ||
	    MK("/v3/users", "{\"user\": {\"name\": \"fzuser\", "
	    "\"password\": \"secret\"}}", "user.id", fix[2]) == -1 ||
	    MK("/v3/roles", "{\"role\": {\"name\": \"fzrole\"}}",
	    "role.id", fix[3]) == -1 ||
	    MK("/v3/groups", "{\"group\": {\"name\": \"fzgroup\"}}",
	    "group.id", fix[4]) == -1 ||
	    MK("/v3/services", "{\"service\": {\"type\": \"fz\", "
	    "\"name\": \"fzsvc\"}}", "service.id", fix[5]) == -1 ||
	    MK("/v3/regions", "{\"region\": {\"id\": \"fzregion\"}}",
	    "region.id", fix[7]) == -1)
		return -1;
	snprintf(body, sizeof(body), "{\"endpoint\": {\"service_id\": \"%s\", "
	    "\"interface\": \"public\", \"url\": \"http://127.0.0.1:1/\", "
	    "\"region_id\": \"fzregion\"}}", fix[5]);
	return MK("/v3/endpoints", body, "endpoint.id", fix[6]);
}

static const struct apifuzz_target target = {
	"fuzz_identity_api", routes, sizeof(routes) / sizeof(routes[0]), setup
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apifuzz_run(&target, data, size);
	return 0;
}
