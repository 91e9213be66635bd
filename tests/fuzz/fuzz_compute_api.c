/*
 * fuzz_compute_api: the Compute API's handlers (controller/compute/) on
 * hostile bodies and queries, through the real HTTP stack of an
 * in-process controller (apifuzz.h: input format, what is a finding).
 * Fixtures, by "@N@" index in a body: 0 a server of the member's project
 * (ERROR: there is no host), 1 flavor "fz1", 2 a public active image,
 * 3 a project for quota updates, 4 a network of the member's project,
 * 5 host aggregate "fzagg" (its integer id; there is no host to add).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "apifuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define C	CT_COMPUTE
#define MV	"OpenStack-API-Version: compute 2.11\r\n"
/* The service's maximum: 2.14+ evacuate, 2.17 trigger_crash_dump, 2.19
 * description, 2.25/2.30 os-migrateLive, 2.26 tags, 2.32 device tags,
 * 2.33 hypervisor pages. */
#define MV33	"OpenStack-API-Version: compute 2.33\r\n"

/* Route, then what undoes a create (the id at idkey, DELETEd). */
#define R(m, p, h)		{ C, m, p, NULL, NULL, NULL, NULL, h }
#define RC(m, p, k, d, h)	{ C, m, p, k, d, NULL, NULL, h }

static const struct apifuzz_route routes[] = {
	RC("POST", "/v2.1/servers", "server.id", "/v2.1/servers/%s", NULL),
	RC("POST", "/v2.1/servers", "server.id", "/v2.1/servers/%s", MV),
	R("PUT", "/v2.1/servers/@0@", NULL),
	R("POST", "/v2.1/servers/@0@/action", NULL),
	R("POST", "/v2.1/servers/@0@/action", MV),
	R("POST", "/v2.1/servers/@0@/os-interface", NULL),
	RC("POST", "/v2.1/flavors", "flavor.id", "/v2.1/flavors/%s", NULL),
	R("POST", "/v2.1/flavors/fz1/action", NULL),
	R("POST", "/v2.1/flavors/fz1/os-extra_specs", NULL),
	R("PUT", "/v2.1/flavors/fz1/os-extra_specs/hw:cpu_policy", NULL),
	RC("POST", "/v2.1/os-keypairs", "keypair.name", "/v2.1/os-keypairs/%s",
	    NULL),
	RC("POST", "/v2.1/os-keypairs", "keypair.name", "/v2.1/os-keypairs/%s",
	    MV),
	R("PUT", "/v2.1/os-services/disable", NULL),
	R("PUT", "/v2.1/os-quota-sets/@3@", NULL),
	R("GET", "/v2.1/servers/detail", NULL),
	R("GET", "/v2.1/servers/detail", MV),
	R("GET", "/v2.1/flavors/detail", NULL),
	R("GET", "/v2.1/os-keypairs", NULL),
	R("GET", "/v2.1/os-hypervisors/detail", NULL),
	R("GET", "/v2.1/limits", NULL),
	R("GET", "/v2.1/servers/@0@/os-instance-actions", NULL),
	R("GET", "/v2.1/os-quota-sets/@3@/detail", NULL),
	R("POST", "/v2.1/servers/@0@/os-volume_attachments", NULL),
	R("DELETE", "/v2.1/servers/@0@/os-volume_attachments/"
	    "0c4ab6e0-0000-4000-8000-000000000001", NULL),
	/* The create's integer id is not a string to clean up with: the
	 * aggregates a run makes stay (names are the fuzzer's, few). */
	R("POST", "/v2.1/os-aggregates", NULL),
	R("PUT", "/v2.1/os-aggregates/@5@", NULL),
	R("POST", "/v2.1/os-aggregates/@5@/action", NULL),
	R("GET", "/v2.1/os-aggregates", NULL),
	R("PUT", "/v2.1/servers/@0@/tags", MV33),
	R("PUT", "/v2.1/servers/@0@/tags/fz", MV33),
	R("POST", "/v2.1/servers/@0@/action", MV33),
	R("PUT", "/v2.1/servers/@0@", MV33),
	RC("POST", "/v2.1/servers", "server.id", "/v2.1/servers/%s", MV33),
	R("GET", "/v2.1/os-hypervisors/detail", MV33),
	R("GET", "/v2.1/servers/detail", MV33),
	/* resize, migrate, confirm/revertResize take the action routes;
	 * os-migrations' filters come in the query */
	R("GET", "/v2.1/os-migrations?status=finished&host=fzhost&"
	    "instance_uuid=@0@", NULL),
	R("GET", "/v2.1/os-migrations", MV33),
	R("GET", "/v2.1/servers/@0@/migrations", MV33),
	R("DELETE", "/v2.1/servers/@0@/migrations/1", MV33),
	/* the image proxy (2.1-2.35): Nova's filters in the query, the
	 * metadata bodies on image 2 (the admin's: others get 403/404) */
	R("GET", "/v2.1/images/detail", NULL),
	R("POST", "/v2.1/images/@2@/metadata", NULL),
	R("PUT", "/v2.1/images/@2@/metadata", NULL),
	R("PUT", "/v2.1/images/@2@/metadata/fz", NULL),
	R("DELETE", "/v2.1/images/@2@/metadata/fz", NULL),
};

static int
setup(struct ctltest *t, char fix[APIFUZZ_MAXFIX][128])
{
	char path[256], body[512];

	snprintf(fix[1], 128, "fz1");
	if (ctltest_call(t, C, CT_ADMIN, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"fz.tiny\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1, "
	    "\"id\": \"fz1\"}}", NULL) != 200 ||
	    ctltest_call(t, CT_IMAGE, CT_ADMIN, "POST", "/v2/images",
	    "{\"name\": \"cirros\", \"disk_format\": \"raw\", "
	    "\"container_format\": \"bare\", \"visibility\": \"public\"}",
	    NULL) != 201)
		return -1;
	snprintf(fix[2], 128, "%s", ctltest_str(t, "id"));
	snprintf(path, sizeof(path), "/v2/images/%s/file", fix[2]);
	if (ctltest_call(t, CT_IMAGE, CT_ADMIN, "PUT", path, "0123456789abcdef",
	    "Content-Type: application/octet-stream\r\n") != 204 ||
	    ctltest_call(t, CT_IDENTITY, CT_ADMIN, "POST", "/v3/projects",
	    "{\"project\": {\"name\": \"fzquota\"}}", NULL) != 201)
		return -1;
	snprintf(fix[3], 128, "%s", ctltest_str(t, "project.id"));
	if (ctltest_call(t, CT_NETWORK, CT_MEMBER, "POST", "/v2.0/networks",
	    "{\"network\": {\"name\": \"fznet\"}}", NULL) != 201)
		return -1;
	snprintf(fix[4], 128, "%s", ctltest_str(t, "network.id"));
	if (ctltest_call(t, C, CT_ADMIN, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \"fzagg\", \"availability_zone\": "
	    "\"fzaz\"}}", NULL) != 200 || ctltest_get(t, "aggregate.id") ==
	    NULL)
		return -1;
	snprintf(fix[5], 128, "%lld", (long long)json_integer_value(
	    ctltest_get(t, "aggregate.id")));
	snprintf(body, sizeof(body), "{\"server\": {\"name\": \"fz\", "
	    "\"flavorRef\": \"fz1\", \"imageRef\": \"%s\", \"networks\": "
	    "\"none\"}}", fix[2]);
	if (ctltest_call(t, C, CT_MEMBER, "POST", "/v2.1/servers", body,
	    NULL) != 202)
		return -1;
	snprintf(fix[0], 128, "%s", ctltest_str(t, "server.id"));
	return 0;
}

static const struct apifuzz_target target = {
	"fuzz_compute_api", routes, sizeof(routes) / sizeof(routes[0]), setup
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apifuzz_run(&target, data, size);
	return 0;
}
