/*
 * fuzz_image_api: the Image API's handlers (controller/image/) on hostile
 * bodies and queries, through the real HTTP stack of an in-process
 * controller (apifuzz.h: input format, what is a finding); fuzz_image_json
 * covers the decoders alone, faster. Fixtures, by "@N@" index: 0 a shared
 * image of the admin's, queued, 1 the member's project, a member of it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "apifuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define G	CT_IMAGE
#define P20	"Content-Type: application/openstack-images-v2.0-json-patch\r\n"
#define P21	"Content-Type: application/openstack-images-v2.1-json-patch\r\n"
#define R(m, p, h)	{ G, m, p, NULL, NULL, NULL, NULL, h }

static const struct apifuzz_route routes[] = {
	/* a protected image is deleted once it is not */
	{ G, "POST", "/v2/images", "id", "/v2/images/%s",
	  "[{\"op\": \"replace\", \"path\": \"/protected\", \"value\": false}]",
	  P21, NULL },
	R("PATCH", "/v2/images/@0@", P21),
	R("PATCH", "/v2/images/@0@", P20),
	{ G, "POST", "/v2/images/@0@/members", "member_id",
	  "/v2/images/@0@/members/%s", NULL, NULL, NULL },
	R("PUT", "/v2/images/@0@/members/@1@", NULL),
	R("PUT", "/v2/images/@0@/tags/fz", NULL),
	R("GET", "/v2/images", NULL),
	R("GET", "/v2/images/@0@/members", NULL),
	R("GET", "/v2/schemas/image", NULL),
};

static int
setup(struct ctltest *t, char fix[APIFUZZ_MAXFIX][128])
{
	char path[256], body[256];

	if (ctltest_call(t, G, CT_ADMIN, "POST", "/v2/images", "{\"name\": "
	    "\"fzimg\", \"disk_format\": \"raw\", \"container_format\": "
	    "\"bare\", \"visibility\": \"shared\"}", NULL) != 201 ||
	    ctltest_str(t, "id") == NULL)
		return -1;
	snprintf(fix[0], 128, "%s", ctltest_str(t, "id"));
	snprintf(fix[1], 128, "%s", t->project_id[CT_MEMBER]);
	snprintf(path, sizeof(path), "/v2/images/%s/members", fix[0]);
	snprintf(body, sizeof(body), "{\"member\": \"%s\"}", fix[1]);
	return ctltest_call(t, G, CT_ADMIN, "POST", path, body, NULL) == 200 ?
	    0 : -1;
}

static const struct apifuzz_target target = {
	"fuzz_image_api", routes, sizeof(routes) / sizeof(routes[0]), setup
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apifuzz_run(&target, data, size);
	return 0;
}
