/*
 * handlers_compute_test: the Compute API's handlers (controller/compute/)
 * over HTTP against the in-process controller of ctltest.h: servers
 * (create validation, scheduling on a cloud without hosts, show/list
 * filters, update, actions, delete), flavors and extra specs, key pairs,
 * quotas and limits, os-services and os-hypervisors.
 *
 * One controller serves every test of the binary (bootstrapping it is the
 * slow part); each test names its own objects, so the order does not
 * matter. Every refused change is followed by a read showing that nothing
 * changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "codec.h"
#include "compute/compute_db.h"
#include "core/db.h"
#include "ctltest.h"
#include "msg_gen.h"
#include "network/network.h"
#include "store.h"

#define C	CT_COMPUTE

static struct ctltest	*T;
static char		 image_id[64];	/* public, active */
static char		 path[512], body[4096];

#define OCTET_HDR	"Content-Type: application/octet-stream\r\n"
#define KEY_ED25519	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAk" \
			"KCwwNDg8QERITFBUWFxgZGhscHR4f test@ctl"

/* ---- helpers ---------------------------------------------------------------- */

/* POST /servers with the members in `fields` (a JSON object's inside;
 * "%s" stands for the image id). */
static int
create(enum ctltest_who who, const char *fields)
{
	char f[2048];

	ctltest_subst(f, sizeof(f), fields, image_id);
	snprintf(body, sizeof(body), "{\"server\": {%s}}", f);
	return ctltest_call(T, C, who, "POST", "/v2.1/servers", body, NULL);
}

/* A server of the member's project, in ERROR (no host), into id. */
static void
server_new(const char *name, char id[64])
{
	char f[256];

	snprintf(f, sizeof(f), "\"name\": \"%s\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%%s\", \"networks\": \"none\"", name);
	create(CT_MEMBER, f);
	ctltest_expect(T, 202, NULL);
	assert_non_null(ctltest_str(T, "server.id"));
	snprintf(id, 64, "%s", ctltest_str(T, "server.id"));
}

/* How many servers who sees in its project. */
static size_t
server_count(enum ctltest_who who)
{
	ctltest_call(T, C, who, "GET", "/v2.1/servers", NULL, NULL);
	ctltest_expect(T, 200, NULL);
	return json_array_size(ctltest_get(T, "servers"));
}

static void
action(enum ctltest_who who, const char *id, const char *act, int status,
    const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", id);
	ctltest_call(T, C, who, "POST", path, act, NULL);
	ctltest_expect(T, status, msg);
}

/* The server's status and task as its owner sees them. */
static void
server_state(const char *id, const char *status, const char *task)
{
	const char *got;

	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	ctltest_call(T, C, CT_ADMIN, "GET", path, NULL, NULL);
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.status"), status);
	got = ctltest_str(T, "server.OS-EXT-STS:task_state");
	if (task == NULL)
		assert_null(got);
	else
		assert_string_equal(got, task);
}

/* ---- servers: create --------------------------------------------------------- */

struct create_case {
	const char	*fields;
	int		 status;
	const char	*msg;
};

/* 256 characters: one over every metadata limit. */
#define S16	"abcdefghijklmnop"
#define S256	S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16

static const struct create_case create_cases[] = {
	{ "\"flavorRef\": \"ct1\", \"imageRef\": \"%s\"", 400,
	  "Invalid input for field/attribute name. Value: None. It is "
	  "required." },
	{ "\"name\": \"s\", \"imageRef\": \"%s\"", 400,
	  "Invalid input for field/attribute flavorRef. Value: None. It is "
	  "required." },
	{ "\"name\": \"\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\"", 400,
	  "Invalid input for field/attribute name. Length must be between 1 "
	  "and 255." },
	{ "\"name\": \" s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\"", 400,
	  "Invalid input for field/attribute name. Value:  s. It must be 1 to "
	  "255 printable characters without leading or trailing whitespace." },
	{ "\"name\": 5, \"flavorRef\": \"ct1\", \"imageRef\": \"%s\"", 400,
	  "Invalid input for field/attribute name. Value must be a string." },
	{ "\"name\": \"s\", \"flavorRef\": \"nope\", \"imageRef\": \"%s\"", 400,
	  "Flavor nope could not be found." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": "
	  "\"0c4ab6e0-0000-4000-8000-000000000000\"", 400,
	  "Image 0c4ab6e0-0000-4000-8000-000000000000 could not be found." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"notauuid\"",
	  400, "Invalid imageRef provided." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\"", 400,
	  "Block Device Mapping is Invalid: Boot sequence for the instance and "
	  "image/block device mapping combination is not valid." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"block_device_mapping_v2\": [{\"source_type\": \"blank\", "
	  "\"destination_type\": \"local\", \"guest_format\": \"swap\", "
	  "\"boot_index\": -1, \"volume_size\": 1}]", 400,
	  "Block Device Mapping is Invalid: local disks other than the "
	  "image's come from the flavor (swap, ephemeral)." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"networks\": [{\"uuid\": \"x\"}]", 400,
	  "Bad networks format: network uuid is not in proper format (x)" },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"networks\": \"some\"", 400,
	  "Invalid input for field/attribute networks. Value: some. 'some' "
	  "is not valid under any of the given schemas" },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"min_count\": 0", 400,
	  "Invalid input for field/attribute min_count. Value: 0. It must be "
	  "between 1 and 1000." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"min_count\": 1001", 400,
	  "Invalid input for field/attribute min_count. Value: 1001. It must "
	  "be between 1 and 1000." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"min_count\": 3, \"max_count\": 2", 400,
	  "min_count must be <= max_count" },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"metadata\": []", 400,
	  "Invalid input for field/attribute metadata. Value must be an "
	  "object." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"metadata\": {\"a\": 1}", 400,
	  "Invalid input for field/attribute metadata. Keys must be 1-255 "
	  "characters, values strings of at most 255." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"metadata\": {\"\": \"a\"}", 400,
	  "Invalid input for field/attribute metadata. Keys must be 1-255 "
	  "characters, values strings of at most 255." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"metadata\": {\"" S256 "\": \"a\"}", 400,
	  "Invalid input for field/attribute metadata. Keys must be 1-255 "
	  "characters, values strings of at most 255." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"metadata\": {\"a\": \"" S256 "\"}", 400,
	  "Invalid input for field/attribute metadata. Keys must be 1-255 "
	  "characters, values strings of at most 255." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"user_data\": \"!!!\"", 400,
	  "Userdata content cannot be decoded" },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"key_name\": \"nokey\"", 400, "Invalid key_name provided." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"accessIPv4\": \"1.2.3\"", 400,
	  "Invalid input for field/attribute accessIPv4. Value: 1.2.3 is not "
	  "a valid IPv4 address." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	  "\"availability_zone\": \"nova:h1\"", 403,
	  "Policy doesn't allow os_compute_api:servers:create:forced_host to "
	  "be performed." },
	{ "\"name\": \"s\", \"flavorRef\": \"ct.private\", \"imageRef\": "
	  "\"%s\"", 400, "Flavor ct.private could not be found." },
};

static void
test_servers_create_validation(void **state)
{
	size_t before = server_count(CT_MEMBER);
	char *big, *b;

	(void)state;
	for (size_t i = 0; i < sizeof(create_cases) / sizeof(create_cases[0]);
	    i++) {
		const struct create_case *c = &create_cases[i];

		create(CT_MEMBER, c->fields);
		if (T->r.status != c->status)
			print_error("case %zu: %s\n", i, c->fields);
		ctltest_expect(T, c->status, c->msg);
	}
	/* user_data over 65535 base64 characters */
	assert_non_null(big = malloc(65536 + 1));
	memset(big, 'A', 65536);
	big[65536] = '\0';
	assert_non_null(b = malloc(65536 + 512));
	snprintf(b, 65536 + 512, "{\"server\": {\"name\": \"s\", "
	    "\"flavorRef\": \"ct1\", \"imageRef\": \"%s\", "
	    "\"user_data\": \"%s\"}}", image_id, big);
	ctltest_call(T, C, CT_MEMBER, "POST", "/v2.1/servers", b, NULL);
	free(b);
	free(big);
	ctltest_expect(T, 400, "Invalid input for field/attribute user_data. "
	    "Length must be between 0 and 65535.");
	/* 129 metadata items: over the quota of 128 */
	{
		size_t n = 0;

		n += (size_t)snprintf(body + n, sizeof(body) - n,
		    "{\"server\": {\"name\": \"s\", \"flavorRef\": \"ct1\", "
		    "\"imageRef\": \"%s\", \"metadata\": {", image_id);
		for (int k = 0; k < 129; k++)
			n += (size_t)snprintf(body + n, sizeof(body) - n,
			    "%s\"k%d\": \"v\"", k ? ", " : "", k);
		snprintf(body + n, sizeof(body) - n, "}}}");
		ctltest_call(T, C, CT_MEMBER, "POST", "/v2.1/servers", body,
		    NULL);
		ctltest_expect(T, 403, "Quota exceeded for metadata_items: "
		    "Requested 129, but limit is 128");
	}
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", "{\"nope\": {}}", 400,
	    "Invalid input for field/attribute server. Value: None. It is a "
	    "required object.");
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", "not json", 400,
	    "Malformed JSON in request body: '[' or '{' expected near 'not' "
	    "(line 1, column 3, position 3).");
	/* A system-scoped token has no project to own a server. */
	create(CT_SYSADMIN, "\"name\": \"s\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%s\"");
	ctltest_expect(T, 403, "Creating a server needs a project-scoped "
	    "token.");
	CT_CALL(T, C, CT_ANON, "POST", "/v2.1/servers", "{}", 401,
	    "The request you have made requires authentication.");
	/* Nothing was created by any refused request. */
	assert_int_equal(server_count(CT_MEMBER), before);
}

/* No agent runs: the scheduler finds no host, the server goes to ERROR
 * with Nova's fault, and its create action records why. */
static void
test_servers_create_no_host(void **state)
{
	char id[64];
	const char *f;

	(void)state;
	server_new("nohost", id);
	assert_int_equal(strlen(id), 36);
	server_state(id, "ERROR", NULL);
	f = ctltest_str(T, "server.fault.message");
	assert_non_null(f);
	assert_string_equal(f, "No valid host was found. There are not "
	    "enough hosts available.");
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "server.fault.code")), 500);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions",
	    id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "instanceActions.0.action"),
	    "create");
	assert_string_equal(ctltest_str(T, "instanceActions.0.message"),
	    "No valid host was found. There are not enough hosts available.");

	/* networks "auto", an empty list, metadata, user data, a key */
	create(CT_MEMBER, "\"name\": \"auto\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%s\", \"networks\": \"auto\", \"metadata\": "
	    "{\"role\": \"web\"}, \"user_data\": \"aGVsbG8=\", \"key_name\": "
	    "\"k1\"");
	ctltest_expect(T, 202, NULL);
	assert_non_null(ctltest_str(T, "server.adminPass"));
	assert_non_null(ctltest_header(T, "Location"));
	snprintf(path, sizeof(path), "/v2.1/servers/%s/metadata",
	    ctltest_str(T, "server.id"));
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "metadata.role"), "web");
	create(CT_MEMBER, "\"name\": \"empty\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%s\", \"networks\": []");
	ctltest_expect(T, 202, NULL);

	/* min_count 2 without max_count: two servers, one reservation */
	create(CT_OTHER, "\"name\": \"pair\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%s\", \"min_count\": 2, "
	    "\"return_reservation_id\": true");
	ctltest_expect(T, 202, NULL);
	assert_non_null(ctltest_str(T, "reservation_id"));
	assert_int_equal(strncmp(ctltest_str(T, "reservation_id"), "r-", 2), 0);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/servers?name=^pair", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 2);
	/* named name-1 and name-2; created in the same millisecond, so
	 * listed in either order */
	{
		const char *a = ctltest_str(T, "servers.0.name"),
		    *b = ctltest_str(T, "servers.1.name");

		assert_non_null(a);
		assert_non_null(b);
		assert_true((strcmp(a, "pair-1") == 0 &&
		    strcmp(b, "pair-2") == 0) || (strcmp(a, "pair-2") == 0 &&
		    strcmp(b, "pair-1") == 0));
	}
}

/* ---- servers: show, list, update ---------------------------------------------- */

/* The names of the servers the last list answered, joined by ','. */
static const char *
listed_names(void)
{
	static char out[256];
	json_t *v = ctltest_get(T, "servers");
	size_t k;

	out[0] = '\0';
	for (k = 0; k < json_array_size(v); k++) {
		const char *n = json_string_value(json_object_get(
		    json_array_get(v, k), "name"));

		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
		    k ? "," : "", n ? n : "?");
	}
	return out;
}

/*
 * sort_key / sort_dir as Nova's (servers s-b, s-c, s-a):
 * the directions, the defaults appended, pages after a marker in that
 * order with a next link keeping the query, the ignored keys dropped with
 * their direction, host for administrators, and the directions' 400s
 * (which Nova's database raises, so not for a limit of 0).
 */
static void
test_servers_sort(void **state)
{
	char a[64], b[64], c[64], def[256], rev[256];
	const char *href;

	(void)state;
	server_new("s-b", b);
	server_new("s-c", c);
	server_new("s-a", a);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^s-&"
	    "sort_key=display_name&sort_dir=asc", NULL, 200, NULL);
	assert_string_equal(listed_names(), "s-a,s-b,s-c");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/detail?name=^s-&"
	    "sort_key=display_name", NULL, 200, NULL);
	assert_string_equal(listed_names(), "s-c,s-b,s-a");
	/* The default (created_at, id descending: servers created in the
	 * same millisecond are ordered by id) and its reverse. */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^s-", NULL, 200,
	    NULL);
	snprintf(def, sizeof(def), "%s", listed_names());
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^s-&sort_dir=asc",
	    NULL, 200, NULL);
	snprintf(rev, sizeof(rev), "%.3s,%.3s,%.3s", def + 8, def + 4, def);
	assert_string_equal(listed_names(), rev);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^s-&"
	    "sort_key=uuid&sort_dir=asc", NULL, 200, NULL);
	assert_true(strcmp(ctltest_str(T, "servers.0.id"),
	    ctltest_str(T, "servers.1.id")) < 0 &&
	    strcmp(ctltest_str(T, "servers.1.id"),
	    ctltest_str(T, "servers.2.id")) < 0);
	/* vcpus is dropped with its direction: the default order */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^s-&"
	    "sort_key=vcpus&sort_dir=asc", NULL, 200, NULL);
	assert_string_equal(listed_names(), def);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^s-&"
	    "sort_key=vcpus&sort_key=display_name&sort_dir=desc&"
	    "sort_dir=asc", NULL, 200, NULL);
	assert_string_equal(listed_names(), "s-a,s-b,s-c");

	/* pages in that order; the link keeps filter and sort */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^s-&"
	    "sort_key=display_name&sort_dir=asc&limit=2", NULL, 200, NULL);
	assert_string_equal(listed_names(), "s-a,s-b");
	href = ctltest_str(T, "servers_links.0.href");
	assert_non_null(href);
	assert_non_null(strstr(href, "/servers?name=%5Es-&sort_key="
	    "display_name&sort_dir=asc&limit=2&marker="));
	assert_non_null(strstr(href, b));
	snprintf(path, sizeof(path), "/v2.1/servers?name=^s-&sort_key="
	    "display_name&sort_dir=asc&limit=2&marker=%s", b);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(listed_names(), "s-c");
	assert_null(ctltest_get(T, "servers_links"));
	/* a marker that does not pass the filter still places the page */
	snprintf(path, sizeof(path), "/v2.1/servers?name=^s-[bc]&sort_key="
	    "display_name&sort_dir=asc&marker=%s", a);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(listed_names(), "s-b,s-c");

	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?sort_dir=up", NULL,
	    400, "Invalid input received: Unknown sort direction, must be "
	    "'desc' or 'asc'");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?sort_key=display_name&"
	    "sort_dir=asc&sort_dir=desc", NULL, 400, "Invalid input received: "
	    "Sort direction size exceeds sort key size");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?limit=0&sort_dir=up",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?sort_key=host", NULL,
	    403, "Only administrators can sort servers by host");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/servers?all_tenants=1&"
	    "name=^s-&sort_key=host&sort_key=display_name&sort_dir=asc",
	    NULL, 200, NULL);
	assert_string_equal(listed_names(), "s-a,s-b,s-c");

	for (const char *id[] = { a, b, c, NULL }, **p = id; *p; p++) {
		snprintf(path, sizeof(path), "/v2.1/servers/%s", *p);
		CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	}
}

static void
test_servers_show_list(void **state)
{
	char id[64];

	(void)state;
	server_new("listme", id);
	/* owner and reader of the project see it; another project does not */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.name"), "listme");
	assert_string_equal(ctltest_str(T, "server.tenant_id"),
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, C, CT_READER, "GET", path, NULL, 200, NULL);
	snprintf(body, sizeof(body), "Instance %s could not be found.", id);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 404, body);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/nope", NULL, 404,
	    "Instance nope could not be found.");

	/* filters */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^listme$", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	assert_string_equal(ctltest_str(T, "servers.0.id"), id);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/servers?name=^listme$", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?status=ACTIVE&"
	    "name=^listme$", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/detail?status=ERROR&"
	    "name=^listme$", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	assert_string_equal(ctltest_str(T, "servers.0.status"), "ERROR");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?limit=1", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	assert_string_equal(ctltest_str(T, "servers_links.0.rel"), "next");

	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?changes-since=garbage",
	    NULL, 400, "Invalid input for query parameters changes-since. "
	    "Value: garbage. 'garbage' is not a 'date-time'");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?marker=nope", NULL, 400,
	    "marker [nope] not found");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?limit=-1", NULL, 400,
	    "Invalid input for query parameters limit. Value: -1. '-1' does "
	    "not match '^[0-9]*$'");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?limit=", NULL, 400,
	    "Invalid input for query parameters limit. Value: . '' is too "
	    "short");
	/* Nova's query schema: sort_key is an enum (its ignored keys
	 * included), a limit above max_limit is capped, not refused. */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?sort_key=bogus", NULL,
	    400, NULL);
	assert_non_null(strstr(ctltest_errmsg(T), "Invalid input for query "
	    "parameters sort_key. Value: bogus. 'bogus' is not one of "
	    "['access_ip_v4', 'access_ip_v6', "));
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?sort_key=display_name&"
	    "sort_key=vcpus&sort_dir=desc", NULL, 200, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?limit=99999999999999999"
	    "999&name=^listme$", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	/* Joined-table filters and "_..." reach an admin's "Invalid filter
	 * field"; a member's are stripped (remove_invalid_options). */
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/servers?metadata=x", NULL, 400,
	    "Invalid filter field: metadata.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/servers/detail?_secret=1", NULL,
	    400, "Invalid filter field: _secret.");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?metadata=x&_secret=1&"
	    "name=^listme$", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=(", NULL, 400,
	    "Invalid regular expression in name filter: (");
#define NAME_RE_ERR "Invalid filter field: name: a regular expression of " \
	    "at most 255 characters and 1000 repetitions is accepted."
	/* A regular expression whose repetitions multiply (regcomp() would
	 * build millions of nodes), {,n} too, or longer than a name: 400. */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=((a%7B255%7D)"
	    "%7B255%7D)%7B255%7D", NULL, 400, NAME_RE_ERR);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=(a%7B,100%7D)"
	    "%7B,100%7D", NULL, 400, NAME_RE_ERR);
	{
		char q[400];

		snprintf(q, sizeof(q), "/v2.1/servers?name=^%0256d", 0);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 400, NAME_RE_ERR);
	}
	/* Bounded ones within the limit still filter. */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^l(i)%7B1,10%7Dstme$",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/detail?all_tenants=1",
	    NULL, 403, "Policy doesn't allow "
	    "os_compute_api:servers:detail:get_all_tenants to be performed.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/servers/detail?all_tenants=1&"
	    "name=^listme$", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	CT_CALL(T, C, CT_ANON, "GET", "/v2.1/servers", NULL, 401,
	    "The request you have made requires authentication.");

	/* update: validation, another project, then a rename */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_MEMBER, "PUT", path, "{\"server\": {\"name\": \"\"}}",
	    400, "Invalid input for field/attribute name. Length must be "
	    "between 1 and 255.");
	snprintf(body, sizeof(body), "Instance %s could not be found.", id);
	CT_CALL(T, C, CT_OTHER, "PUT", path, "{\"server\": {\"name\": \"x\"}}",
	    404, body);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.name"), "listme");
	CT_CALL(T, C, CT_MEMBER, "PUT", path,
	    "{\"server\": {\"name\": \"listme2\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "server.name"), "listme2");
}

/* ---- servers: actions and delete ----------------------------------------------- */

struct action_case {
	enum ctltest_who who;
	const char	*body;
	int		 status;
	const char	*msg;		/* "%s" is the server id */
};

/* On a server in ERROR without a host (the scheduler found none). */
static const struct action_case error_cases[] = {
	{ CT_MEMBER, "{\"os-stop\": null}", 409,
	  "Cannot 'os-stop' instance %s: it has no host" },
	{ CT_MEMBER, "{\"os-start\": null}", 409,
	  "Cannot 'os-start' instance %s while it is in vm_state error" },
	{ CT_MEMBER, "{\"reboot\": {\"type\": \"WARM\"}}", 400,
	  "Invalid input for field/attribute type. It must be one of 'SOFT', "
	  "'HARD'." },
	{ CT_MEMBER, "{\"reboot\": {}}", 400,
	  "Invalid input for field/attribute type. It must be one of 'SOFT', "
	  "'HARD'." },
	{ CT_MEMBER, "{\"frobnicate\": null}", 400,
	  "There is no such action: frobnicate" },
	{ CT_MEMBER, "{\"os-stop\": null, \"os-start\": null}", 400,
	  "Malformed request body: one action expected." },
	{ CT_MEMBER, "{\"rebuild\": {}}", 400,
	  "Invalid input for field/attribute imageRef. Value: None. It is "
	  "required." },
	{ CT_MEMBER, "{\"rebuild\": {\"imageRef\": \"nope\"}}", 400,
	  "Invalid imageRef provided." },
	{ CT_MEMBER, "{\"rebuild\": 5}", 400,
	  "Invalid input for rebuild: an object is expected." },
	{ CT_MEMBER, "{\"os-resetState\": {\"state\": \"active\"}}", 403,
	  "Policy doesn't allow os_compute_api:os-admin-actions:reset_state "
	  "to be performed." },
	{ CT_ADMIN, "{\"os-resetState\": {\"state\": \"bogus\"}}", 400,
	  "Invalid input for field/attribute state. Value: bogus. It must be "
	  "one of 'active', 'error'." },
	/* Nova's legacy owner rule is "same project": a reader passes the
	 * policy and meets the same state check as the member. */
	{ CT_READER, "{\"os-stop\": null}", 409,
	  "Cannot 'os-stop' instance %s: it has no host" },
	{ CT_OTHER, "{\"os-stop\": null}", 404,
	  "Instance %s could not be found." },
	{ CT_OTHER, "{\"lock\": null}", 404,
	  "Instance %s could not be found." },
};

static void
test_servers_actions(void **state)
{
	char id[64], msg[512];

	(void)state;
	server_new("acts", id);
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]);
	    i++) {
		ctltest_subst(msg, sizeof(msg), error_cases[i].msg, id);
		action(error_cases[i].who, id, error_cases[i].body,
		    error_cases[i].status, msg);
		/* refused: still in ERROR, no task */
		server_state(id, "ERROR", NULL);
	}
	snprintf(msg, sizeof(msg), "Instance %s could not be found.", id);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers/nope/action",
	    "{\"os-stop\": null}", 404, "Instance nope could not be found.");

	/* reset-state by an admin: ACTIVE (still no host) */
	action(CT_ADMIN, id, "{\"os-resetState\": {\"state\": \"active\"}}",
	    202, NULL);
	server_state(id, "ACTIVE", NULL);
	snprintf(msg, sizeof(msg), "Cannot 'os-start' instance %s while it is "
	    "in vm_state active", id);
	action(CT_MEMBER, id, "{\"os-start\": null}", 409, msg);

	/* lock: an admin's lock holds against the owner */
	action(CT_ADMIN, id, "{\"lock\": null}", 202, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 405,
	    "The method GET is not allowed for this resource.");
	snprintf(msg, sizeof(msg), "Instance %s was locked by an "
	    "administrator", id);
	action(CT_MEMBER, id, "{\"unlock\": null}", 403, msg);
	snprintf(msg, sizeof(msg), "Instance %s is locked", id);
	action(CT_MEMBER, id, "{\"os-stop\": null}", 409, msg);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 409, msg);
	server_state(id, "ACTIVE", NULL);
	action(CT_ADMIN, id, "{\"unlock\": null}", 202, NULL);
	/* the owner's own lock: the owner may unlock */
	action(CT_MEMBER, id, "{\"lock\": null}", 202, NULL);
	action(CT_MEMBER, id, "{\"unlock\": null}", 202, NULL);
	action(CT_ADMIN, id, "{\"os-resetState\": {\"state\": \"error\"}}",
	    202, NULL);
	server_state(id, "ERROR", NULL);
}

static void
test_servers_delete(void **state)
{
	char id[64], msg[256];
	size_t before;

	(void)state;
	server_new("delme", id);
	before = server_count(CT_MEMBER);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	snprintf(msg, sizeof(msg), "Instance %s could not be found.", id);
	/* another project's server does not exist for it */
	CT_CALL(T, C, CT_OTHER, "DELETE", path, NULL, 404, msg);
	assert_int_equal(server_count(CT_MEMBER), before);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	/* the owner deletes it: gone at once (it was never placed) */
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404, msg);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 404, msg);
	assert_int_equal(server_count(CT_MEMBER), before - 1);
}

/* ---- flavors -------------------------------------------------------------------- */

struct flavor_case {
	const char	*body;
	int		 status;
	const char	*msg;
};

static const struct flavor_case flavor_cases[] = {
	{ "{\"flavor\": {\"name\": \"ct.tiny\", \"ram\": 64, \"vcpus\": 1, "
	  "\"disk\": 1, \"id\": \"ct9\"}}", 409,
	  "Flavor with name ct.tiny already exists." },
	{ "{\"flavor\": {\"name\": \"ct.b\", \"ram\": 64, \"vcpus\": 1, "
	  "\"disk\": 1, \"id\": \"ct1\"}}", 409,
	  "Flavor with ID ct1 already exists." },
	{ "{\"flavor\": {\"name\": \"ct.c\", \"ram\": 0, \"vcpus\": 1, "
	  "\"disk\": 1}}", 400,
	  "Invalid input for field/attribute ram. Value: 0. It must be between "
	  "1 and 2147483647." },
	{ "{\"flavor\": {\"ram\": 10, \"vcpus\": 1, \"disk\": 1}}", 400,
	  "Invalid input for field/attribute flavor. 'name', 'ram', 'vcpus' "
	  "and 'disk' are required." },
	{ "{\"flavor\": {\"name\": \"ct.d\", \"ram\": 10, \"vcpus\": 0, "
	  "\"disk\": 1}}", 400,
	  "Invalid input for field/attribute vcpus. Value: 0. It must be "
	  "between 1 and 2147483647." },
	{ "{\"flavor\": {\"name\": \"ct.e\", \"ram\": 10, \"vcpus\": 1, "
	  "\"disk\": -1}}", 400,
	  "Invalid input for field/attribute disk. Value: -1. It must be "
	  "between 0 and 2147483647." },
	{ "{\"flavor\": {\"name\": \"ct.e\", \"ram\": \"x\", \"vcpus\": 1, "
	  "\"disk\": 1}}", 400,
	  "Invalid input for field/attribute ram. Value must be an integer." },
};

static size_t
flavor_count(void)
{
	ctltest_call(T, C, CT_ADMIN, "GET", "/v2.1/flavors?is_public=None",
	    NULL, NULL);
	ctltest_expect(T, 200, NULL);
	return json_array_size(ctltest_get(T, "flavors"));
}

/* The list's query as Nova's flavors index_query and _get_flavors. */
static void
flavor_query_cases(void)
{
	size_t all, pub;

	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors", NULL, 200, NULL);
	pub = json_array_size(ctltest_get(T, "flavors"));
	all = flavor_count();
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?sort_key=bogus", NULL,
	    400, "Invalid input for query parameters sort_key. Value: bogus. "
	    "'bogus' is not one of ['created_at', 'description', 'disabled', "
	    "'ephemeral_gb', 'flavorid', 'id', 'is_public', 'memory_mb', "
	    "'name', 'root_gb', 'rxtx_factor', 'swap', 'updated_at', "
	    "'vcpu_weight', 'vcpus']");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/detail?sort_dir=up",
	    NULL, 400, "Invalid input for query parameters sort_dir. Value: "
	    "up. 'up' is not one of ['asc', 'desc']");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?sort_key=name&"
	    "sort_dir=desc", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "flavors")), pub);
	for (size_t k = 1; k < pub; k++)
		assert_true(strcmp(json_string_value(json_object_get(
		    json_array_get(ctltest_get(T, "flavors"), k - 1), "name")),
		    json_string_value(json_object_get(json_array_get(
		    ctltest_get(T, "flavors"), k), "name"))) >= 0);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/detail?sort_key="
	    "memory_mb&sort_dir=desc", NULL, 200, NULL);
	assert_true(pub >= 2);
	for (size_t k = 1; k < pub; k++)
		assert_true(json_integer_value(json_object_get(json_array_get(
		    ctltest_get(T, "flavors"), k - 1), "ram")) >=
		    json_integer_value(json_object_get(json_array_get(
		    ctltest_get(T, "flavors"), k), "ram")));
	/* Both directions of both keys: the ends swap. */
	{
		char q[512], first[64];
		json_t *f1;

		for (int key = 0; key < 2; key++) {
			snprintf(q, sizeof(q), "/v2.1/flavors/detail?sort_key="
			    "%s&sort_dir=asc", key ? "memory_mb" : "name");
			CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
			snprintf(first, sizeof(first), "%s", json_string_value(
			    json_object_get(json_array_get(ctltest_get(T,
			    "flavors"), 0), "id")));
			snprintf(q, sizeof(q), "/v2.1/flavors/detail?sort_key="
			    "%s&sort_dir=desc", key ? "memory_mb" : "name");
			CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
			assert_string_equal(json_string_value(json_object_get(
			    json_array_get(ctltest_get(T, "flavors"), pub - 1),
			    "id")), first);
		}
		CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/detail?"
		    "sort_key=memory_mb&sort_dir=desc", NULL, 200, NULL);

		f1 = json_array_get(ctltest_get(T, "flavors"), 0);
		snprintf(q, sizeof(q), "/v2.1/flavors/detail?sort_key="
		    "memory_mb&sort_dir=desc&marker=%s", json_string_value(
		    json_object_get(f1, "id")));
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "flavors")),
		    pub - 1);
	}
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?limit=x", NULL, 400,
	    "Invalid input for query parameters limit. Value: x. 'x' does "
	    "not match '^[0-9]*$'");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?limit="
	    "99999999999999999999", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "flavors")), pub);
	assert_null(ctltest_get(T, "flavors_links"));
	/* A full page links the next one (Nova's _get_collection_links:
	 * also when it is the last), keeping the query. */
	{
		char q[512], last[64];

		CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/detail?sort_key="
		    "memory_mb&limit=1", NULL, 200, NULL);
		snprintf(last, sizeof(last), "%s", json_string_value(
		    json_object_get(json_array_get(ctltest_get(T, "flavors"),
		    0), "id")));
		assert_string_equal(ctltest_str(T, "flavors_links.0.rel"),
		    "next");
		snprintf(q, sizeof(q), "/v2.1/flavors/detail?sort_key="
		    "memory_mb&limit=1&marker=%s", last);
		assert_non_null(strstr(ctltest_str(T, "flavors_links.0.href"),
		    q));
		snprintf(q, sizeof(q), "/v2.1/flavors?limit=%zu", pub);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_string_equal(ctltest_str(T, "flavors_links.0.rel"),
		    "next");
	}
	/* The marker is looked up among every flavor the caller may see,
	 * not only the filtered ones (Nova's _flavor_get_all_from_db). */
	{
		char q[512], id1[64];

		CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/detail?"
		    "sort_key=memory_mb", NULL, 200, NULL);
		snprintf(id1, sizeof(id1), "%s", json_string_value(
		    json_object_get(json_array_get(ctltest_get(T, "flavors"),
		    0), "id")));
		snprintf(q, sizeof(q), "/v2.1/flavors?minRam=999999999&"
		    "marker=%s", id1);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "flavors")),
		    0);
		snprintf(q, sizeof(q), "/v2.1/flavors?sort_key=memory_mb&"
		    "minDisk=-1&marker=%s", id1);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "flavors")),
		    pub - 1);
	}
	/* minRam/minDisk are Nova's int(): a negative one filters nothing. */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?minRam=-1&minDisk=-5",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "flavors")), pub);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?minDisk=1.5", NULL,
	    400, "Invalid minDisk filter [1.5]");
	/* is_public: an admin's strict boolean; a member's is ignored. */
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/flavors?is_public=maybe", NULL,
	    400, "Invalid is_public filter [maybe]");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?is_public=maybe", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "flavors")), pub);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/flavors?is_public=NO", NULL,
	    200, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/flavors?is_public=Yes", NULL,
	    200, NULL);
	assert_true(json_array_size(ctltest_get(T, "flavors")) <= all);
	/* The refusals changed nothing. */
	assert_int_equal(flavor_count(), all);
}

static void
test_flavors(void **state)
{
	size_t before = flavor_count();

	(void)state;
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"x\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1}}", 403,
	    "Policy doesn't allow os_compute_api:os-flavor-manage:create to be "
	    "performed.");
	CT_CALL(T, C, CT_READER, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"x\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1}}", 403,
	    "Policy doesn't allow os_compute_api:os-flavor-manage:create to be "
	    "performed.");
	for (size_t i = 0; i < sizeof(flavor_cases) / sizeof(flavor_cases[0]);
	    i++)
		CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors",
		    flavor_cases[i].body, flavor_cases[i].status,
		    flavor_cases[i].msg);
	assert_int_equal(flavor_count(), before);

	/* create, show, delete (admin only) */
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"ct.gone\", \"ram\": 128, \"vcpus\": 2, \"disk\": 0, "
	    "\"id\": \"ctgone\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "flavor.id"), "ctgone");
	assert_int_equal(json_integer_value(ctltest_get(T, "flavor.vcpus")),
	    2);
	assert_int_equal(flavor_count(), before + 1);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ctgone", NULL, 200,
	    NULL);
	assert_int_equal(json_integer_value(ctltest_get(T, "flavor.ram")),
	    128);
	CT_CALL(T, C, CT_MEMBER, "DELETE", "/v2.1/flavors/ctgone", NULL, 403,
	    "Policy doesn't allow os_compute_api:os-flavor-manage:delete to be "
	    "performed.");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ctgone", NULL, 200,
	    NULL);
	CT_CALL(T, C, CT_ADMIN, "DELETE", "/v2.1/flavors/ctgone", NULL, 202,
	    NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/flavors/ctgone", NULL, 404,
	    "Flavor ctgone could not be found.");
	CT_CALL(T, C, CT_ADMIN, "DELETE", "/v2.1/flavors/ctgone", NULL, 404,
	    "Flavor ctgone could not be found.");
	assert_int_equal(flavor_count(), before);

	/* a private flavor: hidden from members, visible to admins */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ct.private", NULL, 404,
	    "Flavor ct.private could not be found.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/flavors/ct.private", NULL, 200,
	    NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ct.private/"
	    "os-flavor-access", NULL, 403, "Policy doesn't allow "
	    "os_compute_api:os-flavor-access to be performed.");
}

static void
test_flavor_extra_specs(void **state)
{
	(void)state;
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"ct.specs\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1, "
	    "\"id\": \"ctspecs\"}}", 200, NULL);
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctspecs/os-extra_specs",
	    "{\"extra_specs\": {\"hw:cpu_policy\": \"shared\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "extra_specs.hw:cpu_policy"),
	    "shared");
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/flavors/ctspecs/os-extra_specs",
	    "{\"extra_specs\": {\"a\": \"b\"}}", 403, "Policy doesn't allow "
	    "os_compute_api:os-flavor-extra-specs:create to be performed.");
	/* numbers are stored as strings, as Nova does */
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctspecs/os-extra_specs",
	    "{\"extra_specs\": {\"n\": 1}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "extra_specs.n"), "1");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctspecs/os-extra_specs",
	    "{\"nope\": {}}", 400, "Invalid input for field/attribute "
	    "extra_specs. It is required.");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ctspecs/os-extra_specs",
	    NULL, 200, NULL);
	assert_int_equal(json_object_size(ctltest_get(T, "extra_specs")), 2);
	assert_null(ctltest_get(T, "extra_specs.a"));
	CT_CALL(T, C, CT_READER, "GET", "/v2.1/flavors/ctspecs/os-extra_specs/"
	    "hw:cpu_policy", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "hw:cpu_policy"), "shared");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ctspecs/os-extra_specs/"
	    "none", NULL, 404, "Flavor ctspecs has no extra specs with key "
	    "none.");
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/flavors/ctspecs/os-extra_specs/"
	    "hw:cpu_policy", "{\"other\": \"dedicated\"}", 400,
	    "Request body and URI mismatch");
	CT_CALL(T, C, CT_MEMBER, "PUT", "/v2.1/flavors/ctspecs/os-extra_specs/"
	    "hw:cpu_policy", "{\"hw:cpu_policy\": \"dedicated\"}", 403,
	    "Policy doesn't allow os_compute_api:os-flavor-extra-specs:update "
	    "to be performed.");
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/flavors/ctspecs/os-extra_specs/"
	    "hw:cpu_policy", "{\"hw:cpu_policy\": \"dedicated\"}", 200, NULL);
	CT_CALL(T, C, CT_MEMBER, "DELETE", "/v2.1/flavors/ctspecs/"
	    "os-extra_specs/n", NULL, 403, "Policy doesn't allow "
	    "os_compute_api:os-flavor-extra-specs:delete to be performed.");
	CT_CALL(T, C, CT_ADMIN, "DELETE", "/v2.1/flavors/ctspecs/"
	    "os-extra_specs/none", NULL, 404, "Flavor ctspecs has no extra "
	    "specs with key none.");
	CT_CALL(T, C, CT_ADMIN, "DELETE", "/v2.1/flavors/ctspecs/"
	    "os-extra_specs/n", NULL, 200, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ctspecs/os-extra_specs",
	    NULL, 200, NULL);
	assert_int_equal(json_object_size(ctltest_get(T, "extra_specs")), 1);
	assert_string_equal(ctltest_str(T, "extra_specs.hw:cpu_policy"),
	    "dedicated");
}

/* ---- key pairs ------------------------------------------------------------------- */

static size_t
keypair_count(enum ctltest_who who)
{
	ctltest_call(T, C, who, "GET", "/v2.1/os-keypairs", NULL, NULL);
	ctltest_expect(T, 200, NULL);
	return json_array_size(ctltest_get(T, "keypairs"));
}

static const struct flavor_case keypair_cases[] = {
	{ "{\"keypair\": {\"name\": \"k1\", \"public_key\": \"" KEY_ED25519
	  "\"}}", 409, "Key pair 'k1' already exists." },
	{ "{\"keypair\": {\"name\": \"k2\", \"public_key\": \"ssh-ed25519 "
	  "AAAA\"}}", 400,
	  "Keypair data is invalid: failed to generate fingerprint" },
	{ "{\"keypair\": {\"name\": \"k2\", \"public_key\": \"garbage\"}}",
	  400, "Keypair data is invalid: failed to generate fingerprint" },
	{ "{\"keypair\": {\"name\": \"k/2\"}}", 400,
	  "Keypair data is invalid: Keypair name contains unsafe characters" },
	{ "{\"keypair\": {\"name\": \" k2\"}}", 400,
	  "Keypair data is invalid: Keypair name contains unsafe characters" },
	{ "{\"keypair\": {}}", 400,
	  "Invalid input for field/attribute name. It is required." },
	{ "{\"nope\": {}}", 400,
	  "Invalid input for field/attribute keypair. Value: None. It is a "
	  "required object." },
};

static void
test_keypairs(void **state)
{
	size_t before = keypair_count(CT_MEMBER), obefore;

	(void)state;
	for (size_t i = 0; i < sizeof(keypair_cases) / sizeof(keypair_cases[0]);
	    i++)
		CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/os-keypairs",
		    keypair_cases[i].body, keypair_cases[i].status,
		    keypair_cases[i].msg);
	ctltest_call(T, C, CT_MEMBER, "POST", "/v2.1/os-keypairs",
	    "{\"keypair\": {\"name\": \"k3\", \"type\": \"x509\"}}",
	    "X-OpenStack-Nova-API-Version: 2.2\r\n");
	ctltest_expect(T, 400, "Keypair data is invalid: only type 'ssh' is "
	    "supported (x509 certificates are not).");
	assert_int_equal(keypair_count(CT_MEMBER), before);

	/* key pairs are per user: another user neither sees nor deletes */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/os-keypairs/k1", NULL, 200,
	    NULL);
	assert_string_equal(ctltest_str(T, "keypair.fingerprint"),
	    "0f:a2:0a:d7:38:3e:65:45:08:6b:63:84:1c:ff:dc:ba");
	snprintf(body, sizeof(body), "Keypair k1 not found for user %s",
	    T->user_id[CT_OTHER]);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/os-keypairs/k1", NULL, 404,
	    body);
	CT_CALL(T, C, CT_OTHER, "DELETE", "/v2.1/os-keypairs/k1", NULL, 404,
	    body);
	assert_int_equal(keypair_count(CT_MEMBER), before);

	/* generated at 2.2: 201 with the private key; the same name is
	 * free for another user */
	obefore = keypair_count(CT_OTHER);
	ctltest_call(T, C, CT_OTHER, "POST", "/v2.1/os-keypairs",
	    "{\"keypair\": {\"name\": \"k1\"}}",
	    "X-OpenStack-Nova-API-Version: 2.2\r\n");
	ctltest_expect(T, 201, NULL);
	assert_string_equal(ctltest_str(T, "keypair.type"), "ssh");
	assert_non_null(strstr(ctltest_str(T, "keypair.private_key"),
	    "PRIVATE KEY"));
	assert_int_equal(keypair_count(CT_OTHER), obefore + 1);
	ctltest_call(T, C, CT_OTHER, "DELETE", "/v2.1/os-keypairs/k1", NULL,
	    "X-OpenStack-Nova-API-Version: 2.2\r\n");
	ctltest_expect(T, 204, NULL);
	assert_int_equal(keypair_count(CT_OTHER), obefore);
	snprintf(body, sizeof(body), "Keypair nokey not found for user %s",
	    T->user_id[CT_MEMBER]);
	CT_CALL(T, C, CT_MEMBER, "DELETE", "/v2.1/os-keypairs/nokey", NULL,
	    404, body);
	/* still the member's */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/os-keypairs/k1", NULL, 200,
	    NULL);
}

/* ---- quotas and limits ------------------------------------------------------------ */

static void
test_quotas_limits(void **state)
{
	char beta[256];

	(void)state;
	snprintf(beta, sizeof(beta), "/v2.1/os-quota-sets/%s",
	    T->project_id[CT_OTHER]);
	CT_CALL(T, C, CT_OTHER, "GET", beta, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota_set.instances")), 10);
	snprintf(path, sizeof(path), "/v2.1/os-quota-sets/%s",
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 403, "Policy doesn't allow "
	    "os_compute_api:os-quota-sets:show to be performed.");
	CT_CALL(T, C, CT_OTHER, "PUT", beta,
	    "{\"quota_set\": {\"instances\": 50}}", 403, "Policy doesn't allow "
	    "os_compute_api:os-quota-sets:update to be performed.");
	CT_CALL(T, C, CT_ADMIN, "PUT", beta,
	    "{\"quota_set\": {\"instances\": -5}}", 400, "Invalid input for "
	    "field/attribute instances. Value: -5. It must be between -1 and "
	    "2147483647.");
	CT_CALL(T, C, CT_ADMIN, "PUT", beta,
	    "{\"quota_set\": {\"instances\": \"a\"}}", 400, "Invalid input for "
	    "field/attribute instances. Value must be an integer.");
	CT_CALL(T, C, CT_ADMIN, "PUT", beta,
	    "{\"quota_set\": {\"bogus\": 1}}", 400,
	    "Bad key(s) bogus in quota_set");
	CT_CALL(T, C, CT_OTHER, "GET", beta, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota_set.instances")), 10);

	snprintf(path, sizeof(path), "%s/detail", beta);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota_set.instances.limit")), 10);
	assert_non_null(ctltest_get(T, "quota_set.instances.in_use"));
	snprintf(path, sizeof(path), "%s/defaults", beta);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota_set.key_pairs")), 100);
	CT_CALL(T, C, CT_ADMIN, "PUT", beta, "{\"nope\": {}}", 400,
	    "Invalid input for field/attribute quota_set. Value: None. It is a "
	    "required object.");

	/* an admin raises the key pair quota; limits show it */
	CT_CALL(T, C, CT_ADMIN, "PUT", beta,
	    "{\"quota_set\": {\"key_pairs\": 7}}", 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota_set.key_pairs")), 7);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/limits", NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "limits.absolute.maxTotalKeypairs")), 7);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "limits.absolute.maxTotalInstances")), 10);
	CT_CALL(T, C, CT_OTHER, "DELETE", beta, NULL, 403, "Policy doesn't "
	    "allow os_compute_api:os-quota-sets:delete to be performed.");
	CT_CALL(T, C, CT_ADMIN, "DELETE", beta, NULL, 202, NULL);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/limits", NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "limits.absolute.maxTotalKeypairs")), 100);

	/* an instance quota of 0 refuses creates */
	CT_CALL(T, C, CT_ADMIN, "PUT", beta,
	    "{\"quota_set\": {\"instances\": 0}}", 200, NULL);
	create(CT_OTHER, "\"name\": \"overq\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%s\"");
	ctltest_expect(T, 403, NULL);
	assert_non_null(strstr(ctltest_errmsg(T), "Quota exceeded for "
	    "instances"));
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/servers?name=^overq$", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
	CT_CALL(T, C, CT_ADMIN, "DELETE", beta, NULL, 202, NULL);
}

/* ---- admin-only resources --------------------------------------------------------- */

static const struct {
	const char	*method;
	const char	*path;
	const char	*rule;
} admin_only[] = {
	{ "GET", "/v2.1/os-services", "os-services:list" },
	{ "PUT", "/v2.1/os-services/disable", "os-services:update" },
	{ "DELETE", "/v2.1/os-services/x", "os-services:delete" },
	{ "GET", "/v2.1/os-hypervisors", "os-hypervisors:list" },
	{ "GET", "/v2.1/os-hypervisors/detail", "os-hypervisors:list-detail" },
	{ "GET", "/v2.1/os-hypervisors/statistics",
	  "os-hypervisors:statistics" },
	{ "GET", "/v2.1/os-hypervisors/x", "os-hypervisors:show" },
	{ "GET", "/v2.1/os-hypervisors/x/uptime", "os-hypervisors:uptime" },
	{ "GET", "/v2.1/os-hypervisors/x/servers", "os-hypervisors:servers" },
	{ "GET", "/v2.1/os-hypervisors/x/search", "os-hypervisors:search" },
	{ "GET", "/v2.1/os-availability-zone/detail",
	  "os-availability-zone:detail" },
	{ "GET", "/v2.1/os-aggregates", "os-aggregates:index" },
};

static void
test_admin_only(void **state)
{
	char msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(admin_only) / sizeof(admin_only[0]);
	    i++) {
		snprintf(msg, sizeof(msg), "Policy doesn't allow "
		    "os_compute_api:%s to be performed.", admin_only[i].rule);
		CT_CALL(T, C, CT_MEMBER, admin_only[i].method,
		    admin_only[i].path, "{}", 403, msg);
		CT_CALL(T, C, CT_READER, admin_only[i].method,
		    admin_only[i].path, "{}", 403, msg);
	}
	/* no agent ever reported: empty, and nothing to find */
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-services", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "services")), 0);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/detail", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "hypervisors")), 0);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/statistics", NULL,
	    200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "hypervisor_statistics.count")), 0);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/nope", NULL, 404,
	    "Hypervisor with ID nope could not be found.");
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/disable",
	    "{\"host\": \"nohost\", \"binary\": \"nova-compute\"}", 404,
	    "Host 'nohost' is not mapped to any cell");
	CT_CALL(T, C, CT_ADMIN, "DELETE", "/v2.1/os-services/nope", NULL, 404,
	    "Service nope not found.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "hypervisors")), 0);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/x/search", NULL,
	    404, "No hypervisor matching 'x' could be found.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/x/servers", NULL,
	    404, "No hypervisor matching 'x' could be found.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/x/uptime", NULL,
	    404, "Hypervisor with ID x could not be found.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-availability-zone/detail",
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "availabilityZoneInfo.0.zoneName"),
	    "nova");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-aggregates", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "aggregates")), 0);
	/* the zone list is for everyone; no host makes it unavailable */
	CT_CALL(T, C, CT_READER, "GET", "/v2.1/os-availability-zone", NULL,
	    200, NULL);
	assert_string_equal(ctltest_str(T, "availabilityZoneInfo.0.zoneName"),
	    "nova");
	assert_false(json_boolean_value(ctltest_get(T,
	    "availabilityZoneInfo.0.zoneState.available")));
}

/* ---- servers: sub-resources and the other actions ------------------------------------------- */

static void
test_servers_subresources(void **state)
{
	char id[64], req[128], m[512];

	(void)state;
	server_new("subres", id);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions",
	    id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	snprintf(req, sizeof(req), "%s",
	    ctltest_str(T, "instanceActions.0.request_id"));
	assert_int_equal(strncmp(req, "req-", 4), 0);
	snprintf(m, sizeof(m), "Instance %s could not be found.", id);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 404, m);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions/%s",
	    id, req);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "instanceAction.action"), "create");
	assert_string_equal(ctltest_str(T, "instanceAction.instance_uuid"), id);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions/"
	    "req-nope", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404,
	    "Action req-nope could not be found.");

	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_object_size(ctltest_get(T, "addresses")), 0);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 404, m);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/metadata", id);
	CT_CALL(T, C, CT_READER, "GET", path, NULL, 200, NULL);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 404, m);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/diagnostics", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 403, "Policy doesn't allow "
	    "os_compute_api:os-server-diagnostics to be performed.");
	snprintf(m, sizeof(m), "Cannot 'get_diagnostics' instance %s while it "
	    "is in vm_state error", id);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 409, m);

	snprintf(m, sizeof(m), "Cannot 'get_console_output' instance %s while "
	    "it is in vm_state error", id);
	action(CT_MEMBER, id, "{\"os-getConsoleOutput\": {\"length\": 10}}",
	    409, m);
	action(CT_MEMBER, id, "{\"os-getConsoleOutput\": {\"length\": \"x\"}}",
	    400, "Invalid input for field/attribute length. Value must be an "
	    "integer.");
	/* The VNC console: Nova's checks before and after the instance. */
	snprintf(m, sizeof(m), "Instance %s is not ready", id);
	action(CT_MEMBER, id, "{\"os-getVNCConsole\": {\"type\": \"novnc\"}}",
	    409, m);
	/* Nova's compute API wants a host before its host looks at the
	 * type (check_instance_host, then the manager's ConsoleTypeInvalid). */
	action(CT_MEMBER, id, "{\"os-getVNCConsole\": {\"type\": \"xvpvnc\"}}",
	    409, m);
	action(CT_MEMBER, id, "{\"os-getVNCConsole\": {\"type\": \"spice\"}}",
	    400, NULL);
	action(CT_MEMBER, id, "{\"os-getVNCConsole\": {}}", 400, NULL);
	action(CT_OTHER, id, "{\"os-getVNCConsole\": {\"type\": \"novnc\"}}",
	    404, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", id);
	ctltest_call(T, C, CT_MEMBER, "POST", path,
	    "{\"os-getVNCConsole\": {\"type\": \"novnc\"}}",
	    "OpenStack-API-Version: compute 2.6\r\n");
	ctltest_expect(T, 404, "The resource could not be found.");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/remote-consoles", id);
	ctltest_call(T, C, CT_MEMBER, "POST", path, "{\"remote_console\": "
	    "{\"protocol\": \"vnc\", \"type\": \"novnc\"}}", NULL);
	ctltest_expect(T, 404, "The resource could not be found.");
	ctltest_call(T, C, CT_MEMBER, "POST", path, "{\"remote_console\": "
	    "{\"protocol\": \"vnc\", \"type\": \"novnc\"}}",
	    "OpenStack-API-Version: compute 2.6\r\n");
	snprintf(m, sizeof(m), "Instance %s is not ready", id);
	ctltest_expect(T, 409, m);
	ctltest_call(T, C, CT_MEMBER, "POST", path, "{\"remote_console\": "
	    "{\"protocol\": \"vnx\", \"type\": \"novnc\"}}",
	    "OpenStack-API-Version: compute 2.6\r\n");
	ctltest_expect(T, 400, NULL);
	ctltest_call(T, C, CT_MEMBER, "POST", path, "{\"remote_console\": "
	    "{\"protocol\": \"spice\", \"type\": \"spice-html5\"}}",
	    "OpenStack-API-Version: compute 2.6\r\n");
	ctltest_expect(T, 409, m);
	/* RDP is refused before the instance is looked at. */
	ctltest_call(T, C, CT_MEMBER, "POST", path, "{\"remote_console\": "
	    "{\"protocol\": \"rdp\", \"type\": \"rdp-html5\"}}",
	    "OpenStack-API-Version: compute 2.6\r\n");
	ctltest_expect(T, 400, "Unavailable console type rdp.");
	ctltest_call(T, C, CT_MEMBER, "POST", path, "{\"remote_console\": "
	    "{\"protocol\": \"vnc\", \"type\": \"novnc\", \"x\": 1}}",
	    "OpenStack-API-Version: compute 2.6\r\n");
	ctltest_expect(T, 400, NULL);
	ctltest_call(T, C, CT_OTHER, "POST", path, "{\"remote_console\": "
	    "{\"protocol\": \"vnc\", \"type\": \"novnc\"}}",
	    "OpenStack-API-Version: compute 2.6\r\n");
	ctltest_expect(T, 404, NULL);
	/* The proxy: not a websocket handshake; noVNC files outside the tree. */
	ctltest_call(T, C, CT_ANON, "GET", "/vnc/websockify?token=00", NULL,
	    NULL);
	ctltest_expect(T, 400, "A websocket handshake is expected.");
	/* (ctltest's client sends Connection: close: the handshake's
	 * refusals by Origin and token are integ.guest_e2e's, with a real
	 * websocket client.) */
	ctltest_call(T, C, CT_ANON, "GET", "/vnc/..", NULL, NULL);
	ctltest_expect(T, 404, NULL);
	ctltest_call(T, C, CT_ANON, "GET", "/vnc/.hidden/x", NULL, NULL);
	ctltest_expect(T, 404, NULL);
	snprintf(m, sizeof(m), "Cannot 'pause' instance %s while it is in "
	    "vm_state error", id);
	action(CT_MEMBER, id, "{\"pause\": null}", 409, m);
	snprintf(m, sizeof(m), "Cannot 'suspend' instance %s while it is in "
	    "vm_state error", id);
	action(CT_MEMBER, id, "{\"suspend\": null}", 409, m);
	server_state(id, "ERROR", NULL);

	/* ACTIVE without a host: every action that needs the agent is
	 * refused before anything is written */
	action(CT_ADMIN, id, "{\"os-resetState\": {\"state\": \"active\"}}",
	    202, NULL);
	snprintf(m, sizeof(m), "Cannot 'reboot' instance %s: it has no host",
	    id);
	action(CT_MEMBER, id, "{\"reboot\": {\"type\": \"HARD\"}}", 409, m);
	snprintf(body, sizeof(body), "{\"rebuild\": {\"imageRef\": \"%s\", "
	    "\"name\": \"\"}}", image_id);
	action(CT_MEMBER, id, body, 400, "Invalid input for field/attribute "
	    "name. Length must be between 1 and 255.");
	snprintf(body, sizeof(body), "{\"rebuild\": {\"imageRef\": \"%s\", "
	    "\"metadata\": 5}}", image_id);
	action(CT_MEMBER, id, body, 400, "Invalid input for field/attribute "
	    "metadata. Value must be an object.");
	snprintf(body, sizeof(body), "{\"rebuild\": {\"imageRef\": \"%s\"}}",
	    image_id);
	snprintf(m, sizeof(m), "Cannot 'rebuild' instance %s: it has no host",
	    id);
	action(CT_MEMBER, id, body, 409, m);
	server_state(id, "ACTIVE", NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.name"), "subres");

	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?limit=abc", NULL, 400,
	    "Invalid input for query parameters limit. Value: abc. 'abc' does "
	    "not match '^[0-9]*$'");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?name=^subres$&"
	    "changes-since=2020-01-01T00:00:00Z", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	/* After the newest change, nothing (answered without a walk: see
	 * compute_db_instance_changed_ms()), the marker still checked; a
	 * change moves the mark and the server is listed again. */
	{
		char t[32], q[256];
		time_t now = time(NULL);

		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&(time_t){ now + 60 }));
		snprintf(q, sizeof(q), "/v2.1/servers/detail?changes-since=%s", t);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
		snprintf(q, sizeof(q), "/v2.1/servers/detail?changes-since=%s&"
		    "marker=%s", t, id);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
		snprintf(q, sizeof(q), "/v2.1/servers?changes-since=%s&marker="
		    "00000000-0000-0000-0000-000000000000", t);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 400, "marker "
		    "[00000000-0000-0000-0000-000000000000] not found");
		/* The next second: after every change so far (bounded wait
		 * for the wall clock to get there). */
		for (int k = 0; k < 300 && time(NULL) <= now; k++)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		assert_true(time(NULL) > now);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&(time_t){ now + 1 }));
		snprintf(q, sizeof(q), "/v2.1/servers?name=^subres$&"
		    "changes-since=%s", t);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
		snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
		CT_CALL(T, C, CT_MEMBER, "PUT", path, "{\"server\": "
		    "{\"name\": \"subres\"}}", 200, NULL);
		CT_CALL(T, C, CT_MEMBER, "GET", q, NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	}
}

/* The image a server boots must be active and fit the flavor. */
static void
test_servers_create_image_rules(void **state)
{
	char img[64], m[256];
	size_t before = server_count(CT_MEMBER);

	(void)state;
	CT_CALL(T, CT_IMAGE, CT_ADMIN, "POST", "/v2/images", "{\"name\": "
	    "\"big\", \"disk_format\": \"raw\", \"container_format\": \"bare\", "
	    "\"visibility\": \"public\", \"min_ram\": 1024}", 201, NULL);
	snprintf(img, sizeof(img), "%s", ctltest_str(T, "id"));
	snprintf(m, sizeof(m), "Image %s is not active.", img);
	snprintf(body, sizeof(body), "{\"server\": {\"name\": \"s\", "
	    "\"flavorRef\": \"ct1\", \"imageRef\": \"%s\"}}", img);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400, m);
	snprintf(path, sizeof(path), "/v2/images/%s/file", img);
	ctltest_call(T, CT_IMAGE, CT_ADMIN, "PUT", path, "0123", OCTET_HDR);
	ctltest_expect(T, 204, NULL);
	snprintf(body, sizeof(body), "{\"server\": {\"name\": \"s\", "
	    "\"flavorRef\": \"ct1\", \"imageRef\": \"%s\"}}", img);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400,
	    "Flavor's memory is too small for requested image.");
	/* another project's private image does not exist for the caller */
	CT_CALL(T, CT_IMAGE, CT_OTHER, "POST", "/v2/images", "{\"name\": "
	    "\"theirs\", \"disk_format\": \"raw\", \"container_format\": "
	    "\"bare\", \"visibility\": \"private\"}", 201, NULL);
	snprintf(img, sizeof(img), "%s", ctltest_str(T, "id"));
	snprintf(path, sizeof(path), "/v2/images/%s/file", img);
	ctltest_call(T, CT_IMAGE, CT_OTHER, "PUT", path, "0123", OCTET_HDR);
	ctltest_expect(T, 204, NULL);
	snprintf(m, sizeof(m), "Image %s could not be found.", img);
	snprintf(body, sizeof(body), "{\"server\": {\"name\": \"s\", "
	    "\"flavorRef\": \"ct1\", \"imageRef\": \"%s\"}}", img);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400, m);
	assert_int_equal(server_count(CT_MEMBER), before);
}

/* ---- flavor access ----------------------------------------------------------------------------- */

static void
test_flavor_access(void **state)
{
	(void)state;
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"ct.acc\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1, "
	    "\"id\": \"ctacc\", \"os-flavor-access:is_public\": false}}", 200,
	    NULL);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/flavors/ctacc", NULL, 404,
	    "Flavor ctacc could not be found.");
	snprintf(body, sizeof(body), "{\"addTenantAccess\": {\"tenant\": "
	    "\"%s\"}}", T->project_id[CT_OTHER]);
	CT_CALL(T, C, CT_OTHER, "POST", "/v2.1/flavors/ctacc/action", body, 403,
	    "Policy doesn't allow os_compute_api:os-flavor-access:"
	    "add_tenant_access to be performed.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/flavors/ctacc/os-flavor-access",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "flavor_access")), 0);
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctacc/action",
	    "{\"addTenantAccess\": {}}", 400,
	    "Invalid input for field/attribute tenant.");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctacc/action",
	    "{\"bogus\": {}}", 400, "Invalid flavor action: addTenantAccess or "
	    "removeTenantAccess expected.");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ct1/action", body, 409,
	    "Can not add access to a public flavor.");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/nope/action", body, 404,
	    "Flavor nope could not be found.");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctacc/action", body, 200,
	    NULL);
	assert_string_equal(ctltest_str(T, "flavor_access.0.tenant_id"),
	    T->project_id[CT_OTHER]);
	snprintf(path, sizeof(path), "Flavor access already exists for flavor "
	    "ctacc and project %s combination.", T->project_id[CT_OTHER]);
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctacc/action", body, 409,
	    path);
	/* now beta sees it and may boot it; alpha still may not */
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/flavors/ctacc", NULL, 200, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/ctacc", NULL, 404,
	    "Flavor ctacc could not be found.");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctacc/action",
	    "{\"removeTenantAccess\": {\"tenant\": \"zzz\"}}", 404,
	    "Flavor access not found for ctacc / zzz combination.");
	snprintf(body, sizeof(body), "{\"removeTenantAccess\": {\"tenant\": "
	    "\"%s\"}}", T->project_id[CT_OTHER]);
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/flavors/ctacc/action", body, 200,
	    NULL);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/flavors/ctacc", NULL, 404,
	    "Flavor ctacc could not be found.");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors?minRam=abc", NULL, 400,
	    "Invalid minRam filter [abc]");
	flavor_query_cases();
}

/* ---- versions, microversions, routing -------------------------------------------------------- */

static void
test_versions(void **state)
{
	(void)state;
	CT_CALL(T, C, CT_ANON, "GET", "/", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "versions")), 2);
	CT_CALL(T, C, CT_ANON, "GET", "/v2.1", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "version.min_version"), "2.1");
	CT_CALL(T, C, CT_ANON, "GET", "/v2", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "version.id"), "v2.0");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/flavors/detail", NULL, 200,
	    NULL);
	assert_true(json_array_size(ctltest_get(T, "flavors")) >= 1);
	assert_non_null(ctltest_get(T, "flavors.0.ram"));
	ctltest_call(T, C, CT_MEMBER, "GET", "/v2.1/servers", NULL,
	    "X-OpenStack-Nova-API-Version: 2.99\r\n");
	ctltest_expect(T, 406, "Version 2.99 is not supported by the API. "
	    "Minimum is 2.1 and maximum is 2.33.");
	ctltest_call(T, C, CT_MEMBER, "GET", "/v2.1/servers", NULL,
	    "X-OpenStack-Nova-API-Version: abc\r\n");
	ctltest_expect(T, 400, "API Version String abc is of invalid format. "
	    "Must be of format MajorNum.MinorNum.");
	ctltest_call(T, C, CT_MEMBER, "GET", "/v2.1/servers", NULL,
	    "X-OpenStack-Nova-API-Version: 2.11\r\n");
	ctltest_expect(T, 200, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/nothing", NULL, 404,
	    "The resource could not be found.");
	/* the project in the URL is not trusted: the token's scope is */
	snprintf(path, sizeof(path), "/v2.1/%s/servers",
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 200, NULL);
	for (size_t i = 0; i < json_array_size(ctltest_get(T, "servers"));
	    i++) {
		char k[64];

		snprintf(k, sizeof(k), "servers.%zu.name", i);
		assert_non_null(ctltest_str(T, k));
		assert_null(strstr(ctltest_str(T, k), "listme"));
	}
	/* 2.10: an admin names the user whose key pairs to list */
	snprintf(path, sizeof(path), "/v2.1/os-keypairs?user_id=%s",
	    T->user_id[CT_MEMBER]);
	ctltest_call(T, C, CT_ADMIN, "GET", path, NULL,
	    "X-OpenStack-Nova-API-Version: 2.10\r\n");
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_str(T, "keypairs.0.keypair.name"), "k1");
	ctltest_call(T, C, CT_OTHER, "GET", path, NULL,
	    "X-OpenStack-Nova-API-Version: 2.10\r\n");
	ctltest_expect(T, 403, "Policy doesn't allow "
	    "os_compute_api:os-keypairs:index to be performed.");
}

/* ---- servers on networks (the Network service's ports) ----------------------- */

#define N	CT_NETWORK

static void
cn_net(enum ctltest_who who, const char *name, const char *cidr, char id[64])
{
	char sub[512];

	snprintf(body, sizeof(body), "{\"network\": {\"name\": \"%s\"}}", name);
	CT_CALL(T, N, who, "POST", "/v2.0/networks", body, 201, NULL);
	snprintf(id, 64, "%s", ctltest_str(T, "network.id"));
	if (cidr == NULL)
		return;
	snprintf(sub, sizeof(sub), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"%s\"}}", id, cidr);
	CT_CALL(T, N, who, "POST", "/v2.0/subnets", sub, 201, NULL);
}

/* Ports the admin sees with query q ("" all). */
static size_t
cn_ports(const char *q)
{
	char p[256];

	snprintf(p, sizeof(p), "/v2.0/ports%s%s", *q ? "?" : "", q);
	CT_CALL(T, N, CT_ADMIN, "GET", p, NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "ports"));
}

/* POST /servers with networks nets (JSON text); 202: the id into id. */
static int
cn_create(const char *name, const char *nets, char id[64])
{
	char f[1024];

	snprintf(f, sizeof(f), "\"name\": \"%s\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%%s\", \"networks\": %s", name, nets);
	create(CT_MEMBER, f);
	if (T->r.status == 202 && id != NULL)
		snprintf(id, 64, "%s", ctltest_str(T, "server.id"));
	return T->r.status;
}

/* A refused create leaves nothing behind: no server, no port. */
static void
cn_refused(const char *nets, int status, const char *msg)
{
	size_t servers = server_count(CT_MEMBER), ports = cn_ports("");

	if (cn_create("refused", nets, NULL) != status)
		print_error("networks %s\n", nets);
	ctltest_expect(T, status, msg);
	assert_int_equal(server_count(CT_MEMBER), servers);
	assert_int_equal(cn_ports(""), ports);
}

static void
cn_delete(const char *id)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
}

static void
test_servers_networks(void **state)
{
	char n1[64], n2[64], other[64], s1[64], s2[64], s3[64], port[64],
	    q[128], nets[512], msg[512], mac[64];
	const char *prefix = "Fixed IP address 10.20.0.50 is already in use "
	    "on instance ";

	(void)state;
	/* auto without any network: a server without interfaces */
	assert_int_equal(cn_create("auto0", "\"auto\"", s1), 202);
	snprintf(q, sizeof(q), "device_id=%s", s1);
	assert_int_equal(cn_ports(q), 0);
	cn_delete(s1);

	/* auto with one network of the project (another project's does
	 * not count) */
	cn_net(CT_OTHER, "cn-other", "10.99.0.0/24", other);
	cn_net(CT_MEMBER, "cn1", "10.20.0.0/24", n1);
	assert_int_equal(cn_create("auto1", "\"auto\"", s1), 202);
	snprintf(q, sizeof(q), "device_id=%s", s1);
	assert_int_equal(cn_ports(q), 1);
	assert_string_equal(ctltest_str(T, "ports.0.network_id"), n1);
	assert_string_equal(ctltest_str(T, "ports.0.device_owner"),
	    "compute:nova");
	snprintf(mac, sizeof(mac), "%s", ctltest_str(T, "ports.0.mac_address"));

	/* addresses in show, detail and /ips */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.addresses.cn1.0.addr"),
	    "10.20.0.2");
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "server.addresses.cn1.0.version")), 4);
	assert_string_equal(ctltest_str(T,
	    "server.addresses.cn1.0.OS-EXT-IPS:type"), "fixed");
	assert_string_equal(ctltest_str(T,
	    "server.addresses.cn1.0.OS-EXT-IPS-MAC:mac_addr"), mac);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/detail", NULL, 200,
	    NULL);
	assert_non_null(ctltest_get(T, "servers.0.addresses.cn1"));
	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "addresses.cn1.0.addr"),
	    "10.20.0.2");
	/* /ips is Nova's plain view: no OS-EXT-IPS extension */
	assert_null(ctltest_get(T, "addresses.cn1.0.OS-EXT-IPS:type"));
	assert_null(ctltest_get(T, "addresses.cn1.0.OS-EXT-IPS-MAC:mac_addr"));
	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips/cn1", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "cn1.0.addr"), "10.20.0.2");
	assert_null(ctltest_get(T, "cn1.0.OS-EXT-IPS:type"));
	/* so are an update's addresses */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "PUT", path, "{\"server\": {\"name\": "
	    "\"auto1\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "server.addresses.cn1.0.addr"),
	    "10.20.0.2");
	assert_null(ctltest_get(T, "server.addresses.cn1.0.OS-EXT-IPS:type"));
	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips/nope", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404,
	    "Instance is not a member of specified network");
	assert_non_null(ctltest_get(T, "itemNotFound"));
	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips", s1);
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 404, NULL);

	/* auto with two networks: Nova's 409, nothing created */
	cn_net(CT_MEMBER, "cn2", NULL, n2);
	cn_refused("\"auto\"", 409, "Multiple possible networks found, use a "
	    "Network ID to be more specific.");

	/* a list: a network with a fixed address */
	snprintf(nets, sizeof(nets), "[{\"uuid\": \"%s\", \"fixed_ip\": "
	    "\"10.20.0.50\"}]", n1);
	assert_int_equal(cn_create("fixed", nets, s2), 202);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips", s2);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "addresses.cn1.0.addr"),
	    "10.20.0.50");
	/* the ip filter: Nova's regular expression, matched from the start
	 * of each fixed address */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?ip=10.20.0.50", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	assert_string_equal(ctltest_str(T, "servers.0.id"), s2);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/detail?ip=10.20.0.2",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	assert_string_equal(ctltest_str(T, "servers.0.id"), s1);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?ip=10%5C.20%5C.0%5C.",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 2);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?ip=0.20.0.50", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?ip6=10.20", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);

	/* the errors, each leaving nothing behind */
	{
		size_t servers = server_count(CT_MEMBER), ports = cn_ports("");

		cn_create("again", nets, NULL);
		assert_int_equal(T->r.status, 400);
		assert_non_null(ctltest_errmsg(T));
		assert_memory_equal(ctltest_errmsg(T), prefix, strlen(prefix));
		assert_int_equal(server_count(CT_MEMBER), servers);
		assert_int_equal(cn_ports(""), ports);
	}
	cn_refused("[{\"uuid\": \"x\"}]", 400, "Bad networks format: network "
	    "uuid is not in proper format (x)");
	cn_refused("[{\"fixed_ip\": \"10.20.0.9\"}]", 400,
	    "Bad network format: missing 'uuid'");
	snprintf(nets, sizeof(nets), "[{\"uuid\": \"%s\", \"fixed_ip\": "
	    "\"10.20.0\"}]", n1);
	cn_refused(nets, 400, "Invalid input for field/attribute fixed_ip. "
	    "Value: 10.20.0. '10.20.0' is not a 'ip-address'");
	cn_refused("[{\"uuid\": \"0c4ab6e0-0000-4000-8000-000000000000\"}]",
	    400, "Network 0c4ab6e0-0000-4000-8000-000000000000 could not be "
	    "found.");
	snprintf(nets, sizeof(nets), "[{\"uuid\": \"%s\"}]", other);
	snprintf(msg, sizeof(msg), "Network %s could not be found.", other);
	cn_refused(nets, 400, msg);
	/* the admin may (Nova asks Neutron with the admin's token): a
	 * port of the admin's project on the other project's network */
	{
		char f[512], adm[64];

		snprintf(f, sizeof(f), "\"name\": \"adm-other\", "
		    "\"flavorRef\": \"ct1\", \"imageRef\": \"%%s\", "
		    "\"networks\": [{\"uuid\": \"%s\"}]", other);
		create(CT_ADMIN, f);
		ctltest_expect(T, 202, NULL);
		snprintf(adm, sizeof(adm), "%s", ctltest_str(T, "server.id"));
		snprintf(q, sizeof(q), "device_id=%s", adm);
		assert_int_equal(cn_ports(q), 1);
		assert_string_equal(ctltest_str(T, "ports.0.network_id"), other);
		assert_string_equal(ctltest_str(T, "ports.0.project_id"),
		    T->project_id[CT_ADMIN]);
		snprintf(path, sizeof(path), "/v2.1/servers/%s", adm);
		CT_CALL(T, C, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
		assert_int_equal(cn_ports(q), 0);
	}
	/* the second network fails: the first one's port goes too */
	snprintf(nets, sizeof(nets), "[{\"uuid\": \"%s\"}, {\"uuid\": "
	    "\"0c4ab6e0-0000-4000-8000-000000000000\"}]", n1);
	cn_refused(nets, 400, "Network 0c4ab6e0-0000-4000-8000-000000000000 "
	    "could not be found.");
	cn_refused("[{\"port\": \"0c4ab6e0-0000-4000-8000-000000000001\"}]",
	    400, "Port id 0c4ab6e0-0000-4000-8000-000000000001 could not be "
	    "found.");
	cn_refused("[{\"port\": \"x\"}]", 400, NULL);
	cn_refused("[\"x\"]", 400, NULL);

	/* a port created beforehand: bound, then in use */
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\"}}",
	    n1);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 201, NULL);
	snprintf(port, sizeof(port), "%s", ctltest_str(T, "port.id"));
	snprintf(nets, sizeof(nets), "[{\"port\": \"%s\"}]", port);
	assert_int_equal(cn_create("byport", nets, s3), 202);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", port);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "port.device_id"), s3);
	snprintf(msg, sizeof(msg), "Port %s is still in use.", port);
	cn_refused(nets, 409, msg);
	snprintf(nets, sizeof(nets), "{\"max_count\": 2}");
	snprintf(nets, sizeof(nets), "[{\"port\": \"%s\"}], \"max_count\": 2",
	    port);
	cn_refused(nets, 400, "Unable to launch multiple instances with a "
	    "single configured port ID. Please launch your instance one by "
	    "one with different ports.");
	/* another project's port is not there for this one */
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\"}}",
	    other);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/ports", body, 201, NULL);
	snprintf(nets, sizeof(nets), "[{\"port\": \"%s\"}]",
	    ctltest_str(T, "port.id"));
	snprintf(msg, sizeof(msg), "Port id %s could not be found.",
	    ctltest_str(T, "port.id"));
	cn_refused(nets, 400, msg);

	/* delete: the ports it created go, the one it was given stays,
	 * unbound */
	cn_delete(s1);
	cn_delete(s2);
	cn_delete(s3);
	snprintf(q, sizeof(q), "device_id=%s", s1);
	assert_int_equal(cn_ports(q), 0);
	snprintf(q, sizeof(q), "device_id=%s", s2);
	assert_int_equal(cn_ports(q), 0);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", port);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "port.device_id"), "");
	assert_string_equal(ctltest_str(T, "port.device_owner"), "");
	snprintf(q, sizeof(q), "network_id=%s", n1);
	assert_int_equal(cn_ports(q), 1);

	/* the networks go, so that "auto" elsewhere finds none */
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.0/networks/%s", n1);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.0/networks/%s", n2);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
}

/*
 * A server's floating IP and security groups as Nova shows them: the
 * floating address after the fixed one it is NATed to, in the same
 * network entry, type "floating", the port's MAC; security_groups in show
 * and detail, one {"name"} per group of each port, absent without ports.
 * A floating IP associated by hand stays (disassociated) when the server
 * goes. Servers here are never placed, so auto_assign_floating_ip (off in
 * this fixture) is tested through the CLI (integ.server_fip_cli).
 */
static void
test_server_floating(void **state)
{
	char net[64], sub[64], pub[64], rtr[64], s1[64], s2[64], nets[256],
	    port[64], fip[64], mac[64], addr[64];
	json_t *a;

	(void)state;
	cn_net(CT_MEMBER, "fl-net", "10.60.0.0/24", net);
	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/subnets?cidr=10.60.0.0/24",
	    NULL, 200, NULL);
	snprintf(sub, sizeof(sub), "%s", ctltest_str(T, "subnets.0.id"));
	CT_CALL(T, N, CT_ADMIN, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"fl-pub\", \"router:external\": true}}", 201, NULL);
	snprintf(pub, sizeof(pub), "%s", ctltest_str(T, "network.id"));
	snprintf(body, sizeof(body), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"198.51.100.0/24\", "
	    "\"enable_dhcp\": false}}", pub);
	CT_CALL(T, N, CT_ADMIN, "POST", "/v2.0/subnets", body, 201, NULL);
	snprintf(body, sizeof(body), "{\"router\": {\"name\": \"fl-r\", "
	    "\"external_gateway_info\": {\"network_id\": \"%s\"}}}", pub);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/routers", body, 201, NULL);
	snprintf(rtr, sizeof(rtr), "%s", ctltest_str(T, "router.id"));
	snprintf(path, sizeof(path), "/v2.0/routers/%s/add_router_interface",
	    rtr);
	snprintf(body, sizeof(body), "{\"subnet_id\": \"%s\"}", sub);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 200, NULL);

	snprintf(nets, sizeof(nets), "[{\"uuid\": \"%s\"}]", net);
	assert_int_equal(cn_create("fl1", nets, s1), 202);
	snprintf(path, sizeof(path), "/v2.0/ports?device_id=%s", s1);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	snprintf(port, sizeof(port), "%s", ctltest_str(T, "ports.0.id"));
	snprintf(mac, sizeof(mac), "%s", ctltest_str(T, "ports.0.mac_address"));
	snprintf(addr, sizeof(addr), "%s",
	    ctltest_str(T, "ports.0.fixed_ips.0.ip_address"));
	/* off by default: no floating IP came with the server */
	CT_CALL(T, N, CT_ADMIN, "GET", "/v2.0/floatingips", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "floatingips")), 0);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T,
	    "server.addresses.fl-net")), 1);
	/* the port's default group */
	assert_int_equal(json_array_size(ctltest_get(T,
	    "server.security_groups")), 1);
	assert_string_equal(ctltest_str(T, "server.security_groups.0.name"),
	    "default");

	snprintf(body, sizeof(body), "{\"floatingip\": {\"floating_network_id"
	    "\": \"%s\", \"port_id\": \"%s\"}}", pub, port);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/floatingips", body, 201, NULL);
	snprintf(fip, sizeof(fip), "%s", ctltest_str(T, "floatingip.id"));
	snprintf(nets, sizeof(nets), "%s",
	    ctltest_str(T, "floatingip.floating_ip_address"));

	/* show, detail and /ips: fixed, then floating */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	a = ctltest_get(T, "server.addresses.fl-net");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(ctltest_str(T, "server.addresses.fl-net.0.addr"),
	    addr);
	assert_string_equal(ctltest_str(T,
	    "server.addresses.fl-net.0.OS-EXT-IPS:type"), "fixed");
	assert_string_equal(ctltest_str(T, "server.addresses.fl-net.1.addr"),
	    nets);
	assert_string_equal(ctltest_str(T,
	    "server.addresses.fl-net.1.OS-EXT-IPS:type"), "floating");
	assert_string_equal(ctltest_str(T,
	    "server.addresses.fl-net.1.OS-EXT-IPS-MAC:mac_addr"), mac);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "server.addresses.fl-net.1.version")), 4);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/detail?name=^fl1$",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	assert_string_equal(ctltest_str(T,
	    "servers.0.addresses.fl-net.1.OS-EXT-IPS:type"), "floating");
	assert_string_equal(ctltest_str(T, "servers.0.security_groups.0.name"),
	    "default");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips/fl-net", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "fl-net.1.addr"), nets);

	/* a server without ports: no security_groups key */
	assert_int_equal(cn_create("fl0", "\"none\"", s2), 202);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s2);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_non_null(ctltest_get(T, "server.id"));
	assert_null(ctltest_get(T, "server.security_groups"));
	cn_delete(s2);

	/* the server goes: a floating IP associated by hand stays, free */
	cn_delete(s1);
	snprintf(path, sizeof(path), "/v2.0/floatingips/%s", fip);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_true(json_is_null(ctltest_get(T, "floatingip.port_id")));
	assert_string_equal(ctltest_str(T, "floatingip.status"), "DOWN");
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);

	/* nothing left for "auto" elsewhere to find */
	snprintf(path, sizeof(path), "/v2.0/routers/%s/remove_router_interface",
	    rtr);
	snprintf(body, sizeof(body), "{\"subnet_id\": \"%s\"}", sub);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 200, NULL);
	snprintf(path, sizeof(path), "/v2.0/routers/%s", rtr);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.0/networks/%s", net);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.0/networks/%s", pub);
	CT_CALL(T, N, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
}

static void mv_call(enum ctltest_who, const char *, const char *,
    const char *, const char *, int, const char *);

/* ---- a host that reported once, an hour ago ---------------------------------------------------- */

/*
 * What an agent's first report leaves in the database (recon_test's
 * fixture): a service and its hypervisor. It has been silent for an hour,
 * so the scheduler never picks it and creates still find no host.
 */
static int
put_down_host(struct store_txn *txn, void *arg)
{
	struct rec_service s = { 0 };
	struct rec_hypervisor hv = { 0 };

	(void)arg;
	db_uuid(s.id);
	s.host = "ct-h1";
	s.binary = "tinystack-agent";
	s.topic = "compute";
	s.last_seen_at = db_now_ms() - 3600 * 1000;
	s.created_at = s.updated_at = s.last_seen_at;
	db_uuid(hv.id);
	hv.host = "ct-h1";
	hv.hypervisor_type = "TEST";
	hv.libvirt_uri = "test:///default";
	hv.cpu_model = "x";
	hv.cpu_arch = "x86_64";
	hv.vcpus = 4;
	hv.memory_mb = 4096;
	hv.local_gb = 100;
	hv.created_at = hv.updated_at = s.last_seen_at;
	if (db_service_put(txn, &s) == -1 || db_hypervisor_put(txn, &hv) == -1)
		return -1;
	return 0;
}

/* ---- os-interface ----------------------------------------------------------- */

struct place {
	const char	*id;
	const char	*vm_state;
};

/* The server placed on host ct-if1 in vm_state (as if it had been built
 * there; this cloud has no agent). */
static int
place_fn(struct store_txn *txn, void *arg)
{
	struct place *pl = arg;
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, pl->id, &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, pl->id, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.host);
	free(i.vm_state);
	free(i.task_state);
	i.task_state = NULL;
	i.host = strdup("ct-if1");
	i.vm_state = strdup(pl->vm_state);
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static void
if_place(const char *id, const char *vm_state)
{
	struct place pl = { id, vm_state };

	assert_int_equal(store_write(ctltest_store(T), place_fn, &pl), 0);
}

/* Server id on host ct-if1 in vm_state vm with task task (NULL). */
static int
console_place_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;	/* id, vm_state, task_state */
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, a[0], &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, a[0], &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.host);
	free(i.vm_state);
	free(i.task_state);
	i.host = strdup("ct-if1");
	i.vm_state = strdup(a[1]);
	i.task_state = a[2] != NULL ? strdup(a[2]) : NULL;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static void
console_call(const char *id, const char *req_body, int mv, int status,
    const char *msg)
{
	char hdr[64];

	snprintf(path, sizeof(path), "/v2.1/servers/%s/%s", id,
	    strstr(req_body, "remote_console") != NULL ? "remote-consoles" :
	    "action");
	snprintf(hdr, sizeof(hdr), "OpenStack-API-Version: compute 2.%d\r\n",
	    mv);
	ctltest_call(T, C, CT_MEMBER, "POST", path, req_body, hdr);
	ctltest_expect(T, status, msg);
}

#define VNC_ACTION	"{\"os-getVNCConsole\": {\"type\": \"novnc\"}}"
#define VNC_REMOTE	"{\"remote_console\": {\"protocol\": \"vnc\", " \
			"\"type\": \"novnc\"}}"

/*
 * The console of a server on a host, in Nova's order: the instance's
 * state (409), then its host's checks of the type (400), then the guest
 * (ours: 409 unless ACTIVE; 400 "vnc" without a reported VNC server).
 * None of them changes the server.
 */
static void
test_console_states(void **state)
{
	char id[64], m[512];
	const char *a[3];

	(void)state;
	server_new("console", id);
	a[0] = id;
	a[1] = "active";
	a[2] = "migrating";
	assert_int_equal(store_write(ctltest_store(T), console_place_fn, a),
	    0);
	snprintf(m, sizeof(m), "Cannot 'get_vnc_console' instance %s while "
	    "it is in task_state migrating", id);
	console_call(id, VNC_ACTION, 1, 409, m);
	console_call(id, VNC_REMOTE, 6, 409, m);
	snprintf(m, sizeof(m), "Cannot 'get_spice_console' instance %s while "
	    "it is in task_state migrating", id);
	console_call(id, "{\"remote_console\": {\"protocol\": \"spice\", "
	    "\"type\": \"spice-html5\"}}", 6, 409, m);
	console_call(id, "{\"os-getSPICEConsole\": {\"type\": "
	    "\"spice-html5\"}}", 1, 409, m);

	a[1] = "stopped";
	a[2] = NULL;
	assert_int_equal(store_write(ctltest_store(T), console_place_fn, a),
	    0);
	console_call(id, "{\"os-getVNCConsole\": {\"type\": \"xvpvnc\"}}", 1,
	    400, "Invalid console type xvpvnc");
	console_call(id, "{\"remote_console\": {\"protocol\": \"vnc\", "
	    "\"type\": \"spice-html5\"}}", 6, 400,
	    "Invalid console type spice-html5");
	/* Nova's hosts name the type they were asked for. */
	console_call(id, "{\"remote_console\": {\"protocol\": \"spice\", "
	    "\"type\": \"spice-html5\"}}", 6, 400,
	    "Unavailable console type spice-html5.");
	console_call(id, "{\"remote_console\": {\"protocol\": \"serial\", "
	    "\"type\": \"serial\"}}", 6, 400, "Unavailable console type "
	    "serial.");
	/* The same through the 2.1-2.5 actions of those consoles. */
	console_call(id, "{\"os-getSPICEConsole\": {\"type\": "
	    "\"spice-html5\"}}", 1, 400, "Unavailable console type "
	    "spice-html5.");
	console_call(id, "{\"os-getSerialConsole\": {\"type\": \"serial\"}}",
	    5, 400, "Unavailable console type serial.");
	console_call(id, "{\"os-getSerialConsole\": {\"type\": \"novnc\"}}",
	    1, 400, NULL);
	console_call(id, "{\"os-getSPICEConsole\": {\"type\": "
	    "\"spice-html5\"}}", 6, 404, "The resource could not be found.");
	console_call(id, "{\"os-getRDPConsole\": {\"type\": \"rdp-html5\"}}",
	    1, 400, NULL);
	console_call(id, "{\"os-getVNCConsole\": {\"type\": \"novnc\", "
	    "\"x\": 1}}", 1, 400, "Invalid input for field/attribute "
	    "os-getVNCConsole. Value: {...}. Additional properties are not "
	    "allowed ('x' was unexpected)");
	snprintf(m, sizeof(m), "Instance %s is not ready", id);
	console_call(id, VNC_ACTION, 1, 409, m);
	console_call(id, VNC_REMOTE, 6, 409, m);

	/* Active on a host that reports no VNC server for it. */
	a[1] = "active";
	assert_int_equal(store_write(ctltest_store(T), console_place_fn, a),
	    0);
	console_call(id, VNC_REMOTE, 6, 400, "Unavailable console type vnc.");
	/* Paused: its qemu still serves VNC, so Nova gets past the state to
	 * the host (as for active); suspended (qemu gone) stays 409. */
	a[1] = "paused";
	assert_int_equal(store_write(ctltest_store(T), console_place_fn, a),
	    0);
	console_call(id, VNC_ACTION, 1, 400, "Unavailable console type vnc.");
	console_call(id, VNC_REMOTE, 6, 400, "Unavailable console type vnc.");
	a[1] = "suspended";
	assert_int_equal(store_write(ctltest_store(T), console_place_fn, a),
	    0);
	console_call(id, VNC_REMOTE, 6, 409, m);
	a[1] = "active";
	assert_int_equal(store_write(ctltest_store(T), console_place_fn, a),
	    0);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.status"), "ACTIVE");
	assert_string_equal(ctltest_str(T, "server.OS-EXT-STS:vm_state"),
	    "active");
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
}

/* GET os-interface of server id as the member: the count. */
static size_t
if_count(const char *id)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "interfaceAttachments"));
}

static void
if_attach(enum ctltest_who who, const char *id, const char *att, int status,
    const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface", id);
	snprintf(body, sizeof(body), "{\"interfaceAttachment\": %s}", att);
	CT_CALL(T, C, who, "POST", path, body, status, msg);
}

static void
test_interfaces(void **state)
{
	char net[64], s1[64], s2[64], p1[64], p2[64], pn[64], att[512],
	    msg[512], q[128];
	size_t ports;

	(void)state;
	cn_net(CT_MEMBER, "if-net", "10.40.0.0/24", net);
	server_new("if1", s1);
	server_new("if2", s2);
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\", "
	    "\"name\": \"if-p1\"}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 201, NULL);
	snprintf(p1, sizeof(p1), "%s", ctltest_str(T, "port.id"));
	snprintf(att, sizeof(att), "{\"port_id\": \"%s\"}", p1);

	/* a server without a host (ERROR here: no agents) refuses */
	snprintf(msg, sizeof(msg), "Cannot 'attach_interface' instance %s "
	    "while it is in vm_state error", s1);
	if_attach(CT_MEMBER, s1, att, 409, msg);
	assert_non_null(ctltest_get(T, "conflictingRequest"));
	assert_int_equal(if_count(s1), 0);

	/* placed and ACTIVE: the port is bound to it on its host */
	if_place(s1, "active");
	if_place(s2, "suspended");
	if_attach(CT_MEMBER, s1, att, 200, NULL);
	assert_string_equal(ctltest_str(T, "interfaceAttachment.port_id"), p1);
	assert_string_equal(ctltest_str(T, "interfaceAttachment.net_id"), net);
	assert_string_equal(ctltest_str(T, "interfaceAttachment.port_state"),
	    "ACTIVE");
	assert_string_equal(ctltest_str(T,
	    "interfaceAttachment.fixed_ips.0.ip_address"), "10.40.0.2");
	assert_non_null(ctltest_str(T,
	    "interfaceAttachment.fixed_ips.0.subnet_id"));
	assert_int_equal(strlen(ctltest_str(T, "interfaceAttachment.mac_addr")),
	    17);
	assert_null(ctltest_get(T, "interfaceAttachment.tag"));
	snprintf(path, sizeof(path), "/v2.0/ports/%s", p1);
	CT_CALL(T, N, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "port.device_id"), s1);
	assert_string_equal(ctltest_str(T, "port.binding:host_id"), "ct-if1");
	assert_int_equal(if_count(s1), 1);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s1, p1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "interfaceAttachment.port_id"), p1);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/ips", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "addresses.if-net.0.addr"),
	    "10.40.0.2");

	/* refusals, each changing nothing */
	ports = cn_ports("");
	snprintf(msg, sizeof(msg), "Port %s is still in use.", p1);
	if_place(s2, "active");
	if_attach(CT_MEMBER, s2, att, 409, msg);
	if_place(s2, "suspended");
	snprintf(msg, sizeof(msg), "Cannot 'attach_interface' instance %s "
	    "while it is in vm_state suspended", s2);
	snprintf(att, sizeof(att), "{\"net_id\": \"%s\"}", net);
	if_attach(CT_MEMBER, s2, att, 409, msg);
	if_attach(CT_MEMBER, s1, "{\"port_id\": "
	    "\"0c4ab6e0-0000-4000-8000-000000000001\"}", 404, "Port id "
	    "0c4ab6e0-0000-4000-8000-000000000001 could not be found.");
	if_attach(CT_MEMBER, s1, "{\"net_id\": "
	    "\"0c4ab6e0-0000-4000-8000-000000000002\"}", 404, "Network "
	    "0c4ab6e0-0000-4000-8000-000000000002 could not be found.");
	if_attach(CT_MEMBER, "0c4ab6e0-0000-4000-8000-000000000003", att, 404,
	    "Instance 0c4ab6e0-0000-4000-8000-000000000003 could not be "
	    "found.");
	if_attach(CT_OTHER, s1, att, 404, NULL);
	if_attach(CT_MEMBER, s1, "{\"port_id\": 7}", 400, NULL);
	if_attach(CT_MEMBER, s1, "{\"fixed_ips\": [{\"ip_address\": "
	    "\"10.40.0.9\"}]}", 400, "Must input network_id when request IP "
	    "address");
	if_attach(CT_MEMBER, s1, "{\"bogus\": 1}", 400, NULL);
	snprintf(body, sizeof(body), "{\"port_id\": \"%s\", \"net_id\": "
	    "\"%s\"}", p1, net);
	if_attach(CT_MEMBER, s1, body, 400, NULL);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "[]", 400, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface", s1);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"interfaceAttachment\": 1}",
	    400, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s2, p1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404, NULL);
	if_place(s2, "active");
	snprintf(msg, sizeof(msg), "Port %s is not attached to %s.", p1, s2);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 404, msg);
	if_place(s2, "suspended");
	assert_int_equal(cn_ports(""), ports);
	assert_int_equal(if_count(s1), 1);
	assert_int_equal(if_count(s2), 0);

	/* a network: compute creates the port, with a fixed address */
	snprintf(att, sizeof(att), "{\"net_id\": \"%s\", \"fixed_ips\": "
	    "[{\"ip_address\": \"10.40.0.77\"}]}", net);
	if_attach(CT_MEMBER, s1, att, 200, NULL);
	snprintf(pn, sizeof(pn), "%s", ctltest_str(T,
	    "interfaceAttachment.port_id"));
	assert_string_equal(ctltest_str(T,
	    "interfaceAttachment.fixed_ips.0.ip_address"), "10.40.0.77");
	assert_int_equal(if_count(s1), 2);
	snprintf(q, sizeof(q), "device_id=%s&device_owner=compute:nova", s1);
	assert_int_equal(cn_ports(q), 1);

	/* the stopped server takes one too (Nova: ACTIVE, PAUSED, STOPPED) */
	if_place(s2, "stopped");
	snprintf(att, sizeof(att), "{\"net_id\": \"%s\"}", net);
	if_attach(CT_MEMBER, s2, att, 200, NULL);
	snprintf(p2, sizeof(p2), "%s", ctltest_str(T,
	    "interfaceAttachment.port_id"));

	/* multinic (below 2.44): one more address on s2's port, then off */
	snprintf(body, sizeof(body), "{\"addFixedIp\": {\"networkId\": "
	    "\"%s\"}}", net);
	action(CT_MEMBER, s2, body, 202, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s2, p2);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T,
	    "interfaceAttachment.fixed_ips")), 2);
	snprintf(q, sizeof(q), "%s", ctltest_str(T,
	    "interfaceAttachment.fixed_ips.1.ip_address"));
	snprintf(msg, sizeof(msg), "Instance %s doesn't have fixed IP "
	    "'10.40.0.250'.", s2);
	action(CT_MEMBER, s2, "{\"removeFixedIp\": {\"address\": "
	    "\"10.40.0.250\"}}", 400, msg);
	snprintf(msg, sizeof(msg), "Network could not be found for instance "
	    "%s.", s2);
	action(CT_MEMBER, s2, "{\"addFixedIp\": {\"networkId\": "
	    "\"0c4ab6e0-0000-4000-8000-000000000002\"}}", 400, msg);
	action(CT_MEMBER, s2, "{\"addFixedIp\": {}}", 400, NULL);
	action(CT_OTHER, s2, body, 404, NULL);
	snprintf(body, sizeof(body), "{\"removeFixedIp\": {\"address\": "
	    "\"%s\"}}", q);
	action(CT_MEMBER, s2, body, 202, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s2, p2);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T,
	    "interfaceAttachment.fixed_ips")), 1);
	action(CT_MEMBER, s2, body, 400, NULL);

	/* detach: compute's port is deleted, the given one unbound */
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s1, pn);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 202, NULL);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", pn);
	CT_CALL(T, N, CT_ADMIN, "GET", path, NULL, 404, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s1, p1);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 202, NULL);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", p1);
	CT_CALL(T, N, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "port.device_id"), "");
	assert_string_equal(ctltest_str(T, "port.binding:host_id"), "");
	assert_int_equal(if_count(s1), 0);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s1, p1);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 404, NULL);

	/* a locked server refuses its owner */
	action(CT_ADMIN, s2, "{\"lock\": null}", 202, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s2, p2);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 409, NULL);
	assert_int_equal(if_count(s2), 1);
	action(CT_ADMIN, s2, "{\"unlock\": null}", 202, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-interface/%s", s2, p2);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 202, NULL);
	assert_int_equal(if_count(s2), 0);

	cn_delete(s1);
	cn_delete(s2);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", p1);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
}

static void
test_down_host(void **state)
{
	char hid[64], sid[64], m[256], big[2048];

	(void)state;
	assert_int_equal(store_write(ctltest_store(T), put_down_host, NULL), 0);

	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "hypervisors")), 1);
	assert_string_equal(ctltest_str(T,
	    "hypervisors.0.hypervisor_hostname"), "ct-h1");
	assert_string_equal(ctltest_str(T, "hypervisors.0.state"), "down");
	/* integer ids before 2.53, as Nova */
	assert_true(json_is_integer(ctltest_get(T, "hypervisors.0.id")));
	snprintf(hid, sizeof(hid), "%lld", (long long)json_integer_value(
	    ctltest_get(T, "hypervisors.0.id")));
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors/%s", hid);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "hypervisor.vcpus")), 4);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 403, "Policy doesn't allow "
	    "os_compute_api:os-hypervisors:show to be performed.");
	/* The scheduler has never seen this host (written behind its back):
	 * its empty cache once made find_locked() call bsearch() on NULL. */
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors/%s/uptime", hid);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 409, "Compute service of "
	    "ct-h1 is unavailable at this time.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/ct-h/search", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "hypervisors")), 1);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/ct-h1/servers",
	    NULL, 200, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/statistics", NULL,
	    200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "hypervisor_statistics.count")), 1);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors/detail", NULL,
	    200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "hypervisors.0.memory_mb")), 4096);
	/* The very bytes (the views are written without jansson, see
	 * controller/http/jsonout.h): the jansson views' compact form, Nova's
	 * member order; [scheduler] reserved_host_memory_mb is 512. */
	snprintf(big, sizeof(big), "{\"hypervisors\":[{\"id\":%s,"
	    "\"hypervisor_hostname\":\"ct-h1\",\"state\":\"down\","
	    "\"status\":\"enabled\",\"hypervisor_type\":\"TEST\","
	    "\"hypervisor_version\":0,\"host_ip\":null,\"vcpus\":4,"
	    "\"vcpus_used\":0,\"memory_mb\":4096,\"memory_mb_used\":512,"
	    "\"local_gb\":100,\"local_gb_used\":0,\"free_ram_mb\":3584,"
	    "\"free_disk_gb\":100,\"disk_available_least\":100,"
	    "\"current_workload\":0,\"running_vms\":0,\"cpu_info\":"
	    "\"{\\\"arch\\\":\\\"x86_64\\\",\\\"model\\\":\\\"x\\\","
	    "\\\"vendor\\\":\\\"\\\",\\\"topology\\\":{\\\"cells\\\":1,"
	    "\\\"sockets\\\":1,\\\"cores\\\":4,\\\"threads\\\":1},"
	    "\\\"features\\\":[]}\",\"service\":{\"host\":\"ct-h1\","
	    "\"id\":%s,\"disabled_reason\":null}}]}", hid, hid);
	assert_string_equal(T->r.raw, big);
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors/%s", hid);
	mv_call(CT_ADMIN, "2.28", "GET", path, NULL, 200, NULL);
	snprintf(big, sizeof(big), "{\"hypervisor\":{\"id\":%s,"
	    "\"hypervisor_hostname\":\"ct-h1\",\"state\":\"down\","
	    "\"status\":\"enabled\",\"hypervisor_type\":\"TEST\","
	    "\"hypervisor_version\":0,\"host_ip\":null,\"vcpus\":4,"
	    "\"vcpus_used\":0,\"memory_mb\":4096,\"memory_mb_used\":512,"
	    "\"local_gb\":100,\"local_gb_used\":0,\"free_ram_mb\":3584,"
	    "\"free_disk_gb\":100,\"disk_available_least\":100,"
	    "\"current_workload\":0,\"running_vms\":0,\"cpu_info\":"
	    "{\"arch\":\"x86_64\",\"model\":\"x\",\"vendor\":\"\","
	    "\"topology\":{\"cells\":1,\"sockets\":1,\"cores\":4,"
	    "\"threads\":1},\"features\":[]},\"service\":{\"host\":"
	    "\"ct-h1\",\"id\":%s,\"disabled_reason\":null}}}", hid, hid);
	assert_string_equal(T->r.raw, big);
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors?limit=1", NULL,
	    200, NULL);
	assert_non_null(strstr(T->r.raw, "\"hypervisors_links\":[{\"rel\":"
	    "\"next\",\"href\":\"http"));
	assert_non_null(strstr(T->r.raw, "/os-hypervisors?limit=1&marker="));
	/* the link keeps the query (Nova's _get_next_link) */
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors/detail?"
	    "hypervisor_hostname_pattern=ct&limit=1", NULL, 200, NULL);
	assert_non_null(strstr(T->r.raw, "/os-hypervisors/detail?"
	    "hypervisor_hostname_pattern=ct&limit=1&marker="));

	/* os-services: the down host, disable and enable it */
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-services", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "services")), 1);
	assert_string_equal(ctltest_str(T, "services.0.host"), "ct-h1");
	assert_string_equal(ctltest_str(T, "services.0.state"), "down");
	assert_string_equal(ctltest_str(T, "services.0.status"), "enabled");
	assert_true(json_is_integer(ctltest_get(T, "services.0.id")));
	snprintf(sid, sizeof(sid), "%lld", (long long)json_integer_value(
	    ctltest_get(T, "services.0.id")));
	CT_CALL(T, C, CT_MEMBER, "PUT", "/v2.1/os-services/disable",
	    "{\"host\": \"ct-h1\", \"binary\": \"nova-compute\"}", 403,
	    "Policy doesn't allow os_compute_api:os-services:update to be "
	    "performed.");
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/disable",
	    "{\"host\": \"ct-h1\", \"binary\": \"nova-compute\"}", 200, NULL);
	assert_string_equal(ctltest_str(T, "service.status"), "disabled");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-services", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "services.0.status"), "disabled");
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/enable",
	    "{\"host\": \"ct-h1\", \"binary\": \"nova-compute\"}", 200, NULL);
	assert_string_equal(ctltest_str(T, "service.status"), "enabled");
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/frobnicate",
	    "{\"host\": \"ct-h1\", \"binary\": \"nova-compute\"}", 404, NULL);

	/* still no host for a create: it is down */
	create(CT_MEMBER, "\"name\": \"stillnohost\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%s\"");
	ctltest_expect(T, 202, NULL);
	snprintf(m, sizeof(m), "%s", ctltest_str(T, "server.id"));
	server_state(m, "ERROR", NULL);

	/* deleting the service removes the host */
	snprintf(path, sizeof(path), "/v2.1/os-services/%s", sid);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 403, "Policy doesn't "
	    "allow os_compute_api:os-services:delete to be performed.");
	CT_CALL(T, C, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-services", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "services")), 0);
}

/* ---- os-hypervisors pages ------------------------------------------------------- */

/* Hosts pg-a..pg-g: shown are the agents with a hypervisor record (a, b,
 * e, f, g; b without an id yet); pg-c has no hypervisor record, pg-d is
 * not an agent. Ids are given out of name order. */
static const char *const pg_hosts[] = { "pg-g", "pg-c", "pg-e", "pg-d",
	"pg-a", "pg-f", "pg-b" };

static int
put_page_hosts(struct store_txn *txn, void *arg)
{
	(void)arg;
	for (size_t k = 0; k < sizeof(pg_hosts) / sizeof(*pg_hosts); k++) {
		const char *h = pg_hosts[k];
		struct rec_service s = { 0 };
		struct rec_hypervisor hv = { 0 };
		uint32_t id;

		db_uuid(s.id);
		s.host = (char *)h;
		s.binary = strcmp(h, "pg-d") == 0 ? "nova-scheduler" :
		    "tinystack-agent";
		s.topic = "compute";
		s.last_seen_at = db_now_ms() - 3600 * 1000;
		s.created_at = s.updated_at = s.last_seen_at;
		if (db_service_put(txn, &s) == -1)
			return -1;
		if (strcmp(h, "pg-b") != 0 &&
		    compute_db_node_ensure(txn, h, db_now_ms(), &id) == -1)
			return -1;
		if (strcmp(h, "pg-c") == 0)
			continue;
		db_uuid(hv.id);
		hv.host = (char *)h;
		hv.hypervisor_type = "TEST";
		hv.libvirt_uri = "test:///default";
		hv.cpu_model = "x";
		hv.cpu_arch = "x86_64";
		hv.vcpus = 4;
		hv.memory_mb = 4096;
		hv.local_gb = 100;
		hv.created_at = hv.updated_at = s.last_seen_at;
		if (db_hypervisor_put(txn, &hv) == -1)
			return -1;
	}
	return 0;
}

static int
del_page_hosts(struct store_txn *txn, void *arg)
{
	(void)arg;
	for (size_t k = 0; k < sizeof(pg_hosts) / sizeof(*pg_hosts); k++) {
		const char *h = pg_hosts[k];
		struct rec_service s;
		struct rec_hypervisor hv;

		if (db_service_by_host(txn, h, &s) == 0) {
			if (store_del(txn, T_SERVICES, s.id, strlen(s.id)) ==
			    -1 || store_index_del(txn, T_SERVICES_BY_HOST, h,
			    strlen(h), s.id, strlen(s.id)) == -1)
				return -1;
			codec_clear(&schema_rec_service, &s);
		}
		if (db_hypervisor_by_host(txn, h, &hv) == 0) {
			if (store_del(txn, T_HYPERVISORS, hv.id,
			    strlen(hv.id)) == -1 || store_index_del(txn,
			    T_HYPERVISORS_BY_HOST, h, strlen(h), hv.id,
			    strlen(hv.id)) == -1)
				return -1;
			codec_clear(&schema_rec_hypervisor, &hv);
		}
		if (store_del(txn, T_COMPUTE_NODES, h, strlen(h)) == -1 &&
		    err_code() != TS_ENOT_FOUND)
			return -1;
	}
	return 0;
}

static uint32_t
page_host_id(const char *h)
{
	struct store_txn *txn = NULL;
	struct rec_compute_node n;
	uint32_t id;

	assert_int_equal(store_read_begin(ctltest_store(T), &txn), 0);
	assert_int_equal(compute_db_node_get(txn, h, &n), 0);
	id = n.id;
	codec_clear(&schema_rec_compute_node, &n);
	store_txn_end(&txn);
	return id;
}

/* From 2.33 a page reads only its own hosts: every page, for every limit,
 * is the full list's slice, with the link exactly when it is full; a
 * marker of a host the list does not show is a 400. */
static void
test_hypervisor_pages(void **state)
{
	json_t *all, *full;
	char m[160];
	size_t nall;

	(void)state;
	assert_int_equal(store_write(ctltest_store(T), put_page_hosts, NULL),
	    0);
	/* Below 2.33: the whole list, read as before (and pg-b's id given). */
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-hypervisors", NULL, 200, NULL);
	all = json_deep_copy(ctltest_get(T, "hypervisors"));
	nall = json_array_size(all);
	assert_int_equal(nall, 5);
	for (size_t k = 1; k < nall; k++)
		assert_true(json_integer_value(json_object_get(json_array_get(
		    all, k - 1), "id")) < json_integer_value(json_object_get(
		    json_array_get(all, k), "id")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    all, 0), "hypervisor_hostname")), "pg-g");
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors", NULL, 200,
	    NULL);
	assert_true(json_equal(all, ctltest_get(T, "hypervisors")));
	assert_null(ctltest_get(T, "hypervisors_links"));
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors/detail", NULL,
	    200, NULL);
	full = json_deep_copy(ctltest_get(T, "hypervisors"));
	assert_int_equal(json_array_size(full), nall);

	for (int detail = 0; detail < 2; detail++)
		for (size_t limit = 1; limit <= nall + 1; limit++) {
			const json_t *want = detail ? full : all;
			size_t got = 0, pages = 0;

			m[0] = '\0';
			for (;;) {
				const json_t *pg;
				size_t n;

				snprintf(path, sizeof(path), "/v2.1/os-hypervisors"
				    "%s?limit=%zu%s%s", detail ? "/detail" : "",
				    limit, m[0] ? "&marker=" : "", m);
				mv_call(CT_ADMIN, "2.33", "GET", path, NULL, 200,
				    NULL);
				pg = ctltest_get(T, "hypervisors");
				n = json_array_size(pg);
				assert_true(got + n <= nall);
				for (size_t k = 0; k < n; k++)
					assert_true(json_equal(json_array_get(pg,
					    k), json_array_get(want, got + k)));
				got += n;
				assert_true(++pages <= nall + 1);
				if (n < limit) {
					assert_null(ctltest_get(T,
					    "hypervisors_links"));
					break;
				}
				assert_non_null(ctltest_get(T,
				    "hypervisors_links"));
				snprintf(m, sizeof(m), "%lld", (long long)
				    json_integer_value(json_object_get(
				    json_array_get(pg, n - 1), "id")));
			}
			assert_int_equal(got, nall);
		}

	/* markers: hidden hosts, forms of an id not printed, the last */
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors?marker=%u",
	    page_host_id("pg-c"));
	mv_call(CT_ADMIN, "2.33", "GET", path, NULL, 400, NULL);
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors/detail?marker=%u",
	    page_host_id("pg-d"));
	mv_call(CT_ADMIN, "2.33", "GET", path, NULL, 400, NULL);
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors?marker=0%u",
	    page_host_id("pg-a"));
	mv_call(CT_ADMIN, "2.33", "GET", path, NULL, 400, NULL);
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors?marker=0",
	    NULL, 400, NULL);
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors?marker=99999999999",
	    NULL, 400, NULL);
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors?limit=0&marker=%u",
	    page_host_id("pg-c"));
	mv_call(CT_ADMIN, "2.33", "GET", path, NULL, 400, NULL);
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors?limit=0&marker=%u",
	    page_host_id("pg-a"));
	mv_call(CT_ADMIN, "2.33", "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "hypervisors")), 0);
	assert_null(ctltest_get(T, "hypervisors_links"));
	snprintf(path, sizeof(path), "/v2.1/os-hypervisors?marker=%lld",
	    (long long)json_integer_value(json_object_get(json_array_get(
	    all, nall - 1), "id")));
	mv_call(CT_ADMIN, "2.33", "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "hypervisors")), 0);
	assert_null(ctltest_get(T, "hypervisors_links"));

	/* A host without an id first seen by a page gets one there. */
	assert_int_equal(store_write(ctltest_store(T), del_page_hosts, NULL),
	    0);
	assert_int_equal(store_write(ctltest_store(T), put_page_hosts, NULL),
	    0);
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors?limit=5", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "hypervisors")), 5);
	assert_string_equal(ctltest_str(T,
	    "hypervisors.4.hypervisor_hostname"), "pg-b");
	assert_true(page_host_id("pg-b") > page_host_id("pg-g"));

	json_decref(all);
	json_decref(full);
	assert_int_equal(store_write(ctltest_store(T), del_page_hosts, NULL),
	    0);
}

/* ---- host aggregates ------------------------------------------------------------ */

/* os-aggregates as Nova: views, codes and messages, and nothing changed by
 * a refused call. ct-h1 (a down host, written directly) is the one host. */
static void
test_aggregates(void **state)
{
	char id[32], p2[600], m[256];

	(void)state;
	assert_int_equal(store_write(ctltest_store(T), put_down_host, NULL), 0);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \"a1\"}}", 403, "Policy doesn't "
	    "allow os_compute_api:os-aggregates:create to be performed.");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \"a1\", \"availability_zone\": "
	    "\"az1\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "aggregate.availability_zone"),
	    "az1");
	assert_null(ctltest_get(T, "aggregate.hosts"));	/* not on create */
	assert_false(json_boolean_value(ctltest_get(T, "aggregate.deleted")));
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(
	    ctltest_get(T, "aggregate.id")));
	snprintf(path, sizeof(path), "/v2.1/os-aggregates/%s", id);
	snprintf(p2, sizeof(p2), "%s/action", path);

	/* refusals */
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \"a1\"}}", 409,
	    "Aggregate a1 already exists.");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \"a2\", \"availability_zone\": "
	    "\"a:b\"}}", 400, NULL);
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \" a2\"}}", 400, NULL);
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \"a2\", \"x\": 1}}", 400, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-aggregates/x", NULL, 400,
	    "Invalid input received: id must be an integer");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-aggregates/99999999999", NULL,
	    404, "Aggregate 99999999999 could not be found.");
	CT_CALL(T, C, CT_ADMIN, "PUT", path, "{\"aggregate\": {}}", 400, NULL);
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"add_host\": {\"host\": "
	    "\"nohost\"}}", 404, "Compute host nohost could not be found.");
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"add_host\": {\"host\": "
	    "\"a/b\"}}", 400, NULL);
	snprintf(m, sizeof(m), "Cannot remove host ct-h1 in aggregate %s", id);
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"remove_host\": {\"host\": "
	    "\"ct-h1\"}}", 404, m);
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"frob\": {}}", 400, NULL);
	CT_CALL(T, C, CT_MEMBER, "POST", p2, "{\"add_host\": {\"host\": "
	    "\"ct-h1\"}}", 403, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-aggregates", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "aggregates")), 1);
	assert_int_equal(json_array_size(ctltest_get(T, "aggregates.0.hosts")),
	    0);

	/* hosts, metadata, zones */
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"add_host\": {\"host\": "
	    "\"ct-h1\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "aggregate.hosts.0"), "ct-h1");
	snprintf(m, sizeof(m), "Aggregate %s already has host ct-h1.", id);
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"add_host\": {\"host\": "
	    "\"ct-h1\"}}", 409, m);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-services", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "services.0.zone"), "az1");
	CT_CALL(T, C, CT_ADMIN, "POST", "/v2.1/os-aggregates",
	    "{\"aggregate\": {\"name\": \"a2\", \"availability_zone\": "
	    "\"az2\"}}", 200, NULL);
	snprintf(m, sizeof(m), "/v2.1/os-aggregates/%lld/action", (long long)
	    json_integer_value(ctltest_get(T, "aggregate.id")));
	CT_CALL(T, C, CT_ADMIN, "POST", m, "{\"add_host\": {\"host\": "
	    "\"ct-h1\"}}", 409, NULL);
	assert_non_null(strstr(ctltest_str(T, "conflictingRequest.message"),
	    "One or more hosts already in availability zone(s) ['az1']"));
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"set_metadata\": {\"metadata\": "
	    "{\"ssd\": \"true\", \"k\": \"v\"}}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "aggregate.metadata.ssd"), "true");
	assert_string_equal(ctltest_str(T,
	    "aggregate.metadata.availability_zone"), "az1");
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"set_metadata\": {\"metadata\": "
	    "{\"k\": null, \"bad/key\": \"v\"}}}", 400, NULL);
	CT_CALL(T, C, CT_ADMIN, "POST", p2, "{\"set_metadata\": {\"metadata\": "
	    "{\"k\": null}}}", 200, NULL);
	assert_null(ctltest_get(T, "aggregate.metadata.k"));
	CT_CALL(T, C, CT_ADMIN, "PUT", path, "{\"aggregate\": {\"name\": "
	    "\"a2\"}}", 409, "Aggregate a2 already exists.");
	CT_CALL(T, C, CT_ADMIN, "PUT", path, "{\"aggregate\": {\"name\": "
	    "\"a1b\", \"availability_zone\": \"az3\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "aggregate.availability_zone"),
	    "az3");
	assert_string_equal(ctltest_str(T, "aggregate.name"), "a1b");
	assert_non_null(ctltest_str(T, "aggregate.updated_at"));
	snprintf(m, sizeof(m), "Cannot remove aggregate %s. Reason: Host "
	    "aggregate is not empty.", id);
	CT_CALL(T, C, CT_ADMIN, "DELETE", path, NULL, 400, m);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "aggregate.hosts.0"), "ct-h1");

	/* removing the service takes its host out of the aggregates */
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-services", NULL, 200, NULL);
	snprintf(m, sizeof(m), "/v2.1/os-services/%lld", (long long)
	    json_integer_value(ctltest_get(T, "services.0.id")));
	CT_CALL(T, C, CT_ADMIN, "DELETE", m, NULL, 204, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "aggregate.hosts")), 0);
	CT_CALL(T, C, CT_ADMIN, "DELETE", path, NULL, 200, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 404, NULL);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-aggregates", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "aggregates")), 1);
	snprintf(m, sizeof(m), "/v2.1/os-aggregates/%lld", (long long)
	    json_integer_value(ctltest_get(T, "aggregates.0.id")));
	CT_CALL(T, C, CT_ADMIN, "DELETE", m, NULL, 200, NULL);
}

/* ---- security groups of a server ---------------------------------------------- */

/* The groups of the one port of device id, as the admin sees them. */
static size_t
sg_port_groups(const char *id, char first[64])
{
	char q[128];

	snprintf(q, sizeof(q), "device_id=%s", id);
	assert_int_equal(cn_ports(q), 1);
	if (first != NULL)
		snprintf(first, 64, "%s", ctltest_str(T,
		    "ports.0.security_groups.0"));
	return json_array_size(ctltest_get(T, "ports.0.security_groups"));
}

static void
sg_action(enum ctltest_who who, const char *id, const char *action,
    const char *name, int status, const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", id);
	snprintf(body, sizeof(body), "{\"%s\": {\"name\": \"%s\"}}", action,
	    name);
	CT_CALL(T, C, who, "POST", path, body, status, msg);
}

static void
test_server_secgroups(void **state)
{
	char net[64], s1[64], nets[256], web[64], def[64], other[64],
	    tenant[64], msg[512];

	(void)state;
	cn_net(CT_MEMBER, "sg-net", "10.50.0.0/24", net);
	snprintf(nets, sizeof(nets), "[{\"uuid\": \"%s\"}]", net);
	assert_int_equal(cn_create("sg1", nets, s1), 202);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	snprintf(tenant, sizeof(tenant), "%s", ctltest_str(T,
	    "server.tenant_id"));
	/* the port starts with the project's default group */
	assert_int_equal(sg_port_groups(s1, def), 1);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/security-groups",
	    "{\"security_group\": {\"name\": \"web\"}}", 201, NULL);
	snprintf(web, sizeof(web), "%s", ctltest_str(T, "security_group.id"));
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-groups",
	    "{\"security_group\": {\"name\": \"theirs\"}}", 201, NULL);
	snprintf(other, sizeof(other), "%s",
	    ctltest_str(T, "security_group.id"));

	/* Nova's proxy: the project's groups, ingress rules in Nova's shape */
	snprintf(body, sizeof(body), "{\"security_group_rule\": "
	    "{\"security_group_id\": \"%s\", \"direction\": \"ingress\", "
	    "\"protocol\": \"tcp\", \"port_range_min\": 22, "
	    "\"port_range_max\": 22, \"remote_ip_prefix\": \"10.0.0.0/8\"}}",
	    web);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/security-group-rules", body,
	    201, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/os-security-groups", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "security_groups")),
	    2);
	snprintf(path, sizeof(path), "/v2.1/os-security-groups/%s", web);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "security_group.name"), "web");
	assert_string_equal(ctltest_str(T, "security_group.tenant_id"),
	    tenant);
	assert_int_equal(json_array_size(ctltest_get(T,
	    "security_group.rules")), 1);
	assert_string_equal(ctltest_str(T, "security_group.rules.0.ip_protocol"),
	    "tcp");
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "security_group.rules.0.from_port")), 22);
	assert_string_equal(ctltest_str(T,
	    "security_group.rules.0.ip_range.cidr"), "10.0.0.0/8");
	assert_string_equal(ctltest_str(T,
	    "security_group.rules.0.parent_group_id"), web);
	/* the default group's egress rules are not shown */
	snprintf(path, sizeof(path), "/v2.1/os-security-groups/%s", def);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "security_group.name"), "default");
	snprintf(path, sizeof(path), "/v2.1/os-security-groups/%s", other);
	snprintf(msg, sizeof(msg), "Security group %s not found.", other);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404, msg);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v2.1/os-security-groups/%s", web);
	/* gone from 2.36, above this service's maximum (2.33) */
	assert_int_equal(ctltest_call(T, C, CT_MEMBER, "GET", path, NULL,
	    "OpenStack-API-Version: compute latest\r\n"), 200);

	/* add by name; again, and the default by id: no change */
	sg_action(CT_MEMBER, s1, "addSecurityGroup", "web", 202, NULL);
	assert_int_equal(T->r.len, 0);
	assert_int_equal(sg_port_groups(s1, NULL), 2);
	assert_string_equal(ctltest_str(T, "ports.0.security_groups.1"), web);
	sg_action(CT_MEMBER, s1, "addSecurityGroup", "web", 202, NULL);
	sg_action(CT_MEMBER, s1, "addSecurityGroup", def, 202, NULL);
	assert_int_equal(sg_port_groups(s1, NULL), 2);

	/* unknown, another project's, another's server: 404, no change */
	snprintf(msg, sizeof(msg), "Security group nope not found for "
	    "project %s.", tenant);
	sg_action(CT_MEMBER, s1, "addSecurityGroup", "nope", 404, msg);
	snprintf(msg, sizeof(msg), "Security group %s not found for "
	    "project %s.", other, tenant);
	sg_action(CT_MEMBER, s1, "addSecurityGroup", other, 404, msg);
	snprintf(msg, sizeof(msg), "Instance %s could not be found.", s1);
	sg_action(CT_OTHER, s1, "addSecurityGroup", "theirs", 404, msg);
	sg_action(CT_OTHER, s1, "removeSecurityGroup", "web", 404, msg);
	assert_int_equal(sg_port_groups(s1, NULL), 2);

	/* remove by id; again: 400, no change */
	sg_action(CT_MEMBER, s1, "removeSecurityGroup", web, 202, NULL);
	assert_int_equal(sg_port_groups(s1, NULL), 1);
	assert_string_equal(ctltest_str(T, "ports.0.security_groups.0"), def);
	sg_action(CT_MEMBER, s1, "removeSecurityGroup", "web", 400,
	    "Security group web not associated with the instance");
	sg_action(CT_MEMBER, s1, "removeSecurityGroup", "nope", 404, NULL);
	sg_action(CT_MEMBER, s1, "addSecurityGroup", "", 400, NULL);
	assert_int_equal(sg_port_groups(s1, NULL), 1);
	cn_delete(s1);
}

/* ---- fixture ------------------------------------------------------------------------ */

/* What every test relies on: flavors ct1 (public) and ct.private, a
 * public active image, the member's key pair k1. */
static int
group_setup(void **state)
{
	(void)state;
	if ((T = ctltest_new()) == NULL)
		return -1;
	if (ctltest_call(T, C, CT_ADMIN, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"ct.tiny\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1, "
	    "\"id\": \"ct1\"}}", NULL) != 200 ||
	    ctltest_call(T, C, CT_ADMIN, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"ct.private\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1, "
	    "\"id\": \"ct.private\", \"os-flavor-access:is_public\": false}}",
	    NULL) != 200 ||
	    ctltest_call(T, CT_IMAGE, CT_ADMIN, "POST", "/v2/images",
	    "{\"name\": \"cirros\", \"disk_format\": \"raw\", "
	    "\"container_format\": \"bare\", \"visibility\": \"public\"}",
	    NULL) != 201)
		goto fail;
	snprintf(image_id, sizeof(image_id), "%s", ctltest_str(T, "id"));
	snprintf(path, sizeof(path), "/v2/images/%s/file", image_id);
	if (ctltest_call(T, CT_IMAGE, CT_ADMIN, "PUT", path,
	    "0123456789abcdef", "Content-Type: application/octet-stream\r\n") !=
	    204 ||
	    ctltest_call(T, C, CT_MEMBER, "POST", "/v2.1/os-keypairs",
	    "{\"keypair\": {\"name\": \"k1\", \"public_key\": \"" KEY_ED25519
	    "\"}}", NULL) != 200)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "setup: %d %s\n", T->r.status, T->r.raw);
	return -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	ctltest_free(&T);
	printf("handlers_compute_test: %u checks\n", ctltest_checks);
	return 0;
}

/* ---- os-evacuate ----------------------------------------------------------- */

static void
evac(enum ctltest_who who, const char *id, const char *arg, int status,
    const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", id);
	snprintf(body, sizeof(body), "{\"evacuate\": %s}", arg);
	CT_CALL(T, C, who, "POST", path, body, status, msg);
}

/* The server stays where it was: host and state as read back. */
static void
evac_unchanged(const char *id, const char *status)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-SRV-ATTR:host"),
	    "ct-if1");
	assert_string_equal(ctltest_str(T, "server.status"), status);
	assert_true(json_is_null(ctltest_get(T,
	    "server.OS-EXT-STS:task_state")));
}

/* ct-h1 is a known compute host, down; the server is
 * placed on ct-if1, which no agent ever reported (down too). The accepted
 * evacuate finds no valid host (ct-h1 is down): as Nova, answered 200 with
 * the password, the instance stays, the action says why. */
static void
test_evacuate(void **state)
{
	char s1[64], msg[256];

	(void)state;
	/* test_down_host deleted its service: registered again */
	assert_int_equal(store_write(ctltest_store(T), put_down_host, NULL), 0);
	server_new("ev1", s1);
	if_place(s1, "active");
	evac(CT_MEMBER, s1, "{\"onSharedStorage\": false}", 403,
	    "Policy doesn't allow os_compute_api:os-evacuate to be performed.");
	evac(CT_ADMIN, s1, "{}", 400, NULL);
	evac(CT_ADMIN, s1, "null", 400, NULL);
	evac(CT_ADMIN, s1, "{\"onSharedStorage\": false, \"force\": true}",
	    400, "Invalid input for field/attribute evacuate. Value: force. "
	    "Additional properties are not allowed ('force' was unexpected)");
	evac(CT_ADMIN, s1, "{\"onSharedStorage\": true, \"adminPass\": "
	    "\"x\"}", 400, "admin password can't be changed on existing disk");
	evac(CT_ADMIN, s1, "{\"onSharedStorage\": false, \"host\": \"a b\"}",
	    400, NULL);
	evac(CT_ADMIN, s1, "{\"onSharedStorage\": false, \"host\": \"nope\"}",
	    404, "Compute host nope not found.");
	evac_unchanged(s1, "ACTIVE");
	if_place(s1, "paused");
	snprintf(msg, sizeof(msg), "Cannot 'evacuate' instance %s while it is "
	    "in vm_state paused", s1);
	evac(CT_ADMIN, s1, "{\"onSharedStorage\": false}", 409, msg);
	if_place(s1, "active");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	size_t nact = json_array_size(ctltest_get(T, "instanceActions"));

	evac(CT_ADMIN, s1, "{\"onSharedStorage\": false, \"host\": "
	    "\"ct-h1\", \"adminPass\": \"pw-1\"}", 200, NULL);
	assert_string_equal(ctltest_str(T, "adminPass"), "pw-1");
	evac_unchanged(s1, "ACTIVE");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "instanceActions")),
	    nact + 1);
	assert_string_equal(ctltest_str(T, "instanceActions.0.action"),
	    "evacuate");
	/* the scheduler's verdict */
	assert_non_null(ctltest_str(T, "instanceActions.0.message"));
	evac(CT_ADMIN, s1, "{\"onSharedStorage\": false}", 200, NULL);
	assert_int_equal(strlen(ctltest_str(T, "adminPass")), 12);
}

/* ---- os-migrateLive ------------------------------------------------------ */

static void
migrate_live(enum ctltest_who who, const char *id, const char *arg,
    int status, const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", id);
	snprintf(body, sizeof(body), "{\"os-migrateLive\": %s}", arg);
	CT_CALL(T, C, who, "POST", path, body, status, msg);
}

/* Server id gets one volume entry (no volume record: the API's check
 * reads the instance alone): attached as the guest showed it, or not yet
 * (NULL: the entry removed). */
static int
lm_vol_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;	/* { id, "attached"|"attaching"|NULL } */
	struct rec_instance old, i;
	struct sch_inst_volume *iv;
	int rc;

	if (compute_db_instance_get(txn, a[0], &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, a[0], &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	for (size_t k = 0; k < i.volumes.n; k++)
		codec_clear(&schema_sch_inst_volume, &i.volumes.items[k]);
	free(i.volumes.items);
	i.volumes.items = NULL;
	i.volumes.n = 0;
	if (a[1] != NULL) {
		assert_non_null(iv = calloc(1, sizeof(*iv)));
		db_uuid(iv->volume_id);
		db_uuid(iv->attachment_id);
		iv->device = strdup("/dev/vdb");
		iv->has_attached = true;
		iv->attached = strcmp(a[1], "attached") == 0;
		i.volumes.items = iv;
		i.volumes.n = 1;
	}
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static void
lm_vol(const char *id, const char *state)
{
	const char *a[2] = { id, state };

	assert_int_equal(store_write(ctltest_store(T), lm_vol_fn, a), 0);
}

/* The API's half (the state machine is in recon_test): admin only, the
 * body of microversions below 2.25, Nova's refusals; every refusal leaves
 * the server where it was, with no task and no new instance action. The
 * server is on ct-if1 (never reported: down); ct-h1 is registered and
 * down. */
static void
test_migrate_live(void **state)
{
	char s1[64], msg[256];
	size_t nact;

	(void)state;
	assert_int_equal(store_write(ctltest_store(T), put_down_host, NULL), 0);
	server_new("lm1", s1);
	if_place(s1, "active");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	nact = json_array_size(ctltest_get(T, "instanceActions"));
	migrate_live(CT_MEMBER, s1, "{\"host\": null, \"block_migration\": "
	    "false, \"disk_over_commit\": false}", 403, "Policy doesn't allow "
	    "os_compute_api:os-migrate-server:migrate_live to be performed.");
	migrate_live(CT_ADMIN, s1, "null", 400, NULL);
	migrate_live(CT_ADMIN, s1, "{\"block_migration\": false, "
	    "\"disk_over_commit\": false}", 400, "Invalid input for "
	    "field/attribute os-migrateLive. 'host' is a required property");
	migrate_live(CT_ADMIN, s1, "{\"host\": null, \"block_migration\": "
	    "false}", 400, NULL);
	migrate_live(CT_ADMIN, s1, "{\"host\": null, \"block_migration\": "
	    "\"auto\", \"disk_over_commit\": false}", 400, NULL);
	migrate_live(CT_ADMIN, s1, "{\"host\": null, \"block_migration\": "
	    "false, \"disk_over_commit\": false, \"force\": true}", 400,
	    "Invalid input for field/attribute os-migrateLive. Value: force. "
	    "Additional properties are not allowed ('force' was unexpected)");
	migrate_live(CT_ADMIN, s1, "{\"host\": \"a b\", \"block_migration\": "
	    "false, \"disk_over_commit\": false}", 400, NULL);
	migrate_live(CT_ADMIN, s1, "{\"host\": \"nope\", \"block_migration\": "
	    "\"True\", \"disk_over_commit\": \"0\"}", 400,
	    "Compute host nope could not be found.");
	migrate_live(CT_ADMIN, s1, "{\"host\": \"ct-h1\", \"block_migration\": "
	    "true, \"disk_over_commit\": false}", 400,
	    "Compute service of ct-h1 is unavailable at this time.");
	migrate_live(CT_ADMIN, s1, "{\"host\": null, \"block_migration\": "
	    "true, \"disk_over_commit\": false}", 400,
	    "Compute service of ct-if1 is unavailable at this time.");
	/* A volume goes along once attached (the refusal after is the
	 * source's); one still being attached is a pre-check error. */
	lm_vol(s1, "attached");
	migrate_live(CT_ADMIN, s1, "{\"host\": null, \"block_migration\": "
	    "true, \"disk_over_commit\": false}", 400,
	    "Compute service of ct-if1 is unavailable at this time.");
	lm_vol(s1, "attaching");
	migrate_live(CT_ADMIN, s1, "{\"host\": null, \"block_migration\": "
	    "true, \"disk_over_commit\": false}", 400, NULL);
	assert_non_null(strstr(ctltest_errmsg(T), "Migration pre-check "
	    "error: volume "));
	evac_unchanged(s1, "ACTIVE");
	lm_vol(s1, NULL);
	if_place(s1, "stopped");
	snprintf(msg, sizeof(msg), "Cannot 'os-migrateLive' instance %s while "
	    "it is in vm_state stopped", s1);
	migrate_live(CT_ADMIN, s1, "{\"host\": null, \"block_migration\": "
	    "false, \"disk_over_commit\": false}", 409, msg);
	if_place(s1, "active");
	evac_unchanged(s1, "ACTIVE");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "instanceActions")),
	    nact);
}

/* ---- resize, migrate, confirm/revert, os-migrations ------------------------ */

static void
resize_call(enum ctltest_who who, const char *id, const char *act,
    const char *arg, int status, const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", id);
	snprintf(body, sizeof(body), "{\"%s\": %s}", act, arg);
	CT_CALL(T, C, who, "POST", path, body, status, msg);
}

static long long
limit_of(const char *what)
{
	char p[128];

	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/limits", NULL, 200, NULL);
	snprintf(p, sizeof(p), "limits.absolute.%s", what);
	assert_true(json_is_integer(ctltest_get(T, p)));
	return (long long)json_integer_value(ctltest_get(T, p));
}

static void
quota_put(const char *set)
{
	char qp[256], qb[256];

	snprintf(qp, sizeof(qp), "/v2.1/os-quota-sets/%s",
	    T->project_id[CT_MEMBER]);
	if (set == NULL) {
		CT_CALL(T, C, CT_ADMIN, "DELETE", qp, NULL, 202, NULL);
		return;
	}
	snprintf(qb, sizeof(qb), "{\"quota_set\": {%s}}", set);
	CT_CALL(T, C, CT_ADMIN, "PUT", qp, qb, 200, NULL);
}

/* Nova's upsize quota check (ct1 -> ct2: 1 more core, 64 more MiB): 403
 * TooManyInstances naming each resource over, before the hosts are asked
 * (the server's host is down here otherwise); the server, the project's usage and the
 * migrations unchanged. */
static void
resize_quota(const char *s1)
{
	long long cores = limit_of("totalCoresUsed"),
	    ram = limit_of("totalRAMUsed");
	char set[128], msg[256];

	snprintf(set, sizeof(set), "\"cores\": %lld", cores);
	quota_put(set);
	snprintf(msg, sizeof(msg), "Quota exceeded for cores: Requested 1, but "
	    "already used %lld of %lld cores", cores, cores);
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct2\"}", 403,
	    msg);
	snprintf(set, sizeof(set), "\"cores\": %lld, \"ram\": %lld", cores,
	    ram + 63);
	quota_put(set);
	snprintf(msg, sizeof(msg), "Quota exceeded for cores, ram: Requested 1, "
	    "64, but already used %lld, %lld of %lld, %lld cores, ram", cores,
	    ram, cores, ram + 63);
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct2\"}", 403,
	    msg);
	snprintf(set, sizeof(set), "\"cores\": %lld, \"ram\": %lld",
	    cores + 1, ram + 63);
	quota_put(set);
	snprintf(msg, sizeof(msg), "Quota exceeded for ram: Requested 64, but "
	    "already used %lld of %lld ram", ram, ram + 63);
	resize_call(CT_ADMIN, s1, "resize", "{\"flavorRef\": \"ct2\"}", 403,
	    msg);
	/* the cold migration of the same flavor grows nothing: past the
	 * quota to the hosts (its own is down here) */
	resize_call(CT_ADMIN, s1, "migrate", "null", 400, NULL);
	evac_unchanged(s1, "ACTIVE");
	assert_string_equal(ctltest_str(T, "server.flavor.id"), "ct1");
	assert_int_equal(limit_of("totalCoresUsed"), cores);
	assert_int_equal(limit_of("totalRAMUsed"), ram);
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-migrations", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "migrations")), 0);
	/* exactly at the limit passes the quota (on to the host check:
	 * the server's host is not up here) */
	snprintf(set, sizeof(set), "\"cores\": %lld, \"ram\": %lld",
	    cores + 1, ram + 64);
	quota_put(set);
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct2\"}", 400,
	    "Compute service of ct-if1 is unavailable at this time.");
	quota_put(NULL);
}

/* The API's half (the state machine is in recon_test): Nova's refusals,
 * each leaving the server as it was (flavor ct1, ACTIVE on ct-if1, no
 * task, no migration record); its host is not up here, so an acceptable
 * request is refused as Nova's check_instance_host does. os-migrations is
 * the admin's; the 2.23 routes are not served below 2.23. */
static void
test_resize(void **state)
{
	char s1[64], msg[256];

	(void)state;
	assert_int_equal(ctltest_call(T, C, CT_ADMIN, "POST", "/v2.1/flavors",
	    "{\"flavor\": {\"name\": \"ct.big\", \"ram\": 128, \"vcpus\": 2, "
	    "\"disk\": 2, \"id\": \"ct2\"}}", NULL), 200);
	assert_int_equal(ctltest_call(T, C, CT_ADMIN, "POST", "/v2.1/flavors",
	    "{\"flavor\": {\"name\": \"ct.zero\", \"ram\": 128, \"vcpus\": 2, "
	    "\"disk\": 0, \"id\": \"ct0\"}}", NULL), 200);
	server_new("rz1", s1);
	if_place(s1, "active");
	resize_call(CT_MEMBER, s1, "resize", "{}", 400, "Invalid input for "
	    "field/attribute resize. 'flavorRef' is a required property");
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct2\", "
	    "\"x\": 1}", 400, NULL);
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"nope\"}", 400,
	    "Unable to locate requested flavor.");
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct1\"}", 400,
	    "When resizing, instances must change flavor!");
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct0\"}", 400,
	    "Resize to zero disk flavor is not allowed.");
	/* (its host reports nothing here: Nova's check_instance_host) */
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct2\"}", 400,
	    "Compute service of ct-if1 is unavailable at this time.");
	resize_call(CT_MEMBER, s1, "migrate", "null", 403, "Policy doesn't "
	    "allow os_compute_api:os-migrate-server:migrate to be performed.");
	/* below 2.56 the body is ignored ({} from tempest): on to the hosts */
	resize_call(CT_ADMIN, s1, "migrate", "{\"host\": \"ct-h1\"}", 400,
	    "Compute service of ct-if1 is unavailable at this time.");
	snprintf(msg, sizeof(msg), "Cannot 'confirmResize' instance %s while "
	    "it is in vm_state active", s1);
	resize_call(CT_MEMBER, s1, "confirmResize", "null", 409, msg);
	resize_call(CT_MEMBER, s1, "confirmResize", "{}", 409, msg);
	snprintf(msg, sizeof(msg), "Cannot 'revertResize' instance %s while "
	    "it is in vm_state active", s1);
	resize_call(CT_MEMBER, s1, "revertResize", "null", 409, msg);
	resize_call(CT_MEMBER, s1, "revertResize", "{}", 409, msg);
	if_place(s1, "paused");
	snprintf(msg, sizeof(msg), "Cannot 'resize' instance %s while it is "
	    "in vm_state paused", s1);
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct2\"}", 409,
	    msg);
	if_place(s1, "active");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", s1);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"lock\": null}", 202, NULL);
	snprintf(msg, sizeof(msg), "Instance %s is locked", s1);
	resize_call(CT_MEMBER, s1, "resize", "{\"flavorRef\": \"ct2\"}", 409,
	    msg);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"unlock\": null}", 202,
	    NULL);
	evac_unchanged(s1, "ACTIVE");
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.flavor.id"), "ct1");

	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/os-migrations", NULL, 403,
	    "Policy doesn't allow os_compute_api:os-migrations:index to be "
	    "performed.");
	CT_CALL(T, C, CT_ADMIN, "GET", "/v2.1/os-migrations", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "migrations")), 0);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/migrations", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 404, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/migrations/1", s1);
	CT_CALL(T, C, CT_ADMIN, "DELETE", path, NULL, 404, NULL);
	resize_quota(s1);
	/* the later tests' quota */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
}

/* ---- the image proxy (2.1-2.35) ---------------------------------------------- */

/* The image's metadata as the member reads it through the proxy, as
 * compact JSON (sorted keys), into out. */
static void
proxy_meta(const char *id, char *out, size_t len)
{
	char p[128], *s;

	snprintf(p, sizeof(p), "/v2.1/images/%s/metadata", id);
	CT_CALL(T, C, CT_MEMBER, "GET", p, NULL, 200, NULL);
	s = json_dumps(ctltest_get(T, "metadata"), JSON_COMPACT |
	    JSON_SORT_KEYS);
	assert_non_null(s);
	snprintf(out, len, "%s", s);
	free(s);
}

/* Nova's view of a Glance image, its filters, the caller's visibility
 * (another project's image is 404, as Nova turns Glance's), the metadata
 * routes under the image rules (a reader may not change it, a refused or
 * invalid change leaves it as it was), and delete. */
static void
test_image_proxy(void **state)
{
	char id[64], m[512];

	(void)state;
	CT_CALL(T, CT_IMAGE, CT_MEMBER, "POST", "/v2/images",
	    "{\"name\": \"px-img\", \"disk_format\": \"raw\", "
	    "\"container_format\": \"bare\", \"visibility\": \"private\", "
	    "\"os_distro\": \"a\", \"instance_uuid\": "
	    "\"11111111-2222-4333-8444-555555555555\", "
	    "\"auto_disk_config\": \"true\"}", 201, NULL);
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "id"));

	snprintf(path, sizeof(path), "/v2.1/images/%s", id);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "image.status"), "SAVING");
	assert_int_equal(json_integer_value(ctltest_get(T, "image.progress")),
	    25);
	assert_int_equal(json_integer_value(ctltest_get(T, "image.minRam")), 0);
	assert_string_equal(ctltest_str(T, "image.metadata.os_distro"), "a");
	assert_string_equal(ctltest_str(T, "image.server.id"),
	    "11111111-2222-4333-8444-555555555555");
	assert_string_equal(ctltest_str(T, "image.OS-DCF:diskConfig"), "AUTO");
	assert_true(json_is_null(ctltest_get(T, "image.OS-EXT-IMG-SIZE:size")));
	assert_string_equal(ctltest_str(T, "image.links.2.rel"), "alternate");
	CT_CALL(T, C, CT_OTHER, "GET", path, NULL, 404, "Image not found.");
	/* served up to the service's maximum (2.33; 2.36 would end it) */
	ctltest_call(T, C, CT_MEMBER, "GET", path, NULL,
	    "OpenStack-API-Version: compute 2.33\r\n");
	ctltest_expect(T, 200, NULL);

	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/images?name=px-img", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	assert_string_equal(ctltest_str(T, "images.0.id"), id);
	assert_null(ctltest_get(T, "images.0.status"));
	/* the server's reference is its last segment (Nova's filters go
	 * to Glance: status lowercased, so SAVING finds saving, not queued) */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/images/detail?name=px-img&"
	    "server=http://x/servers/"
	    "11111111-2222-4333-8444-555555555555", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	assert_string_equal(ctltest_str(T, "images.0.status"), "SAVING");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/images/detail?name=px-img&"
	    "status=ACTIVE", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);
	CT_CALL(T, C, CT_OTHER, "GET", "/v2.1/images?name=px-img", NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 0);
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/images?limit=x", NULL, 400,
	    NULL);

	snprintf(path, sizeof(path), "/v2.1/images/%s/metadata", id);
	CT_CALL(T, C, CT_MEMBER, "PUT", path, "{\"metadata\": {\"k1\": "
	    "\"v1\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "metadata.k1"), "v1");
	proxy_meta(id, m, sizeof(m));
	assert_string_equal(m, "{\"k1\":\"v1\"}");
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"metadata\": {\"k2\": "
	    "\"v2\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "metadata.k1"), "v1");
	assert_string_equal(ctltest_str(T, "metadata.k2"), "v2");
	/* refused or invalid: nothing changes */
	CT_CALL(T, C, CT_READER, "POST", path, "{\"metadata\": {\"k3\": "
	    "\"v3\"}}", 403, NULL);
	CT_CALL(T, C, CT_OTHER, "POST", path, "{\"metadata\": {\"k3\": "
	    "\"v3\"}}", 404, "Image not found.");
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"metadata\": {\"k/3\": "
	    "\"v3\"}}", 400, NULL);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"metadata\": {\"name\": "
	    "\"v3\"}}", 403, NULL);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"meta\": {}}", 400, NULL);
	snprintf(path, sizeof(path), "/v2.1/images/%s/metadata/k1", id);
	CT_CALL(T, C, CT_MEMBER, "PUT", path, "{\"meta\": {\"k2\": \"x\"}}",
	    400, "Request body and URI mismatch");
	CT_CALL(T, C, CT_MEMBER, "PUT", path, "{\"meta\": {\"k1\": \"x\", "
	    "\"k2\": \"y\"}}", 400, NULL);
	proxy_meta(id, m, sizeof(m));
	assert_string_equal(m, "{\"k1\":\"v1\",\"k2\":\"v2\"}");
	CT_CALL(T, C, CT_MEMBER, "PUT", path, "{\"meta\": {\"k1\": \"x\"}}",
	    200, NULL);
	assert_string_equal(ctltest_str(T, "meta.k1"), "x");
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "meta.k1"), "x");
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404, NULL);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 404,
	    "Invalid metadata key");
	proxy_meta(id, m, sizeof(m));
	assert_string_equal(m, "{\"k2\":\"v2\"}");

	snprintf(path, sizeof(path), "/v2.1/images/%s", id);
	CT_CALL(T, C, CT_OTHER, "DELETE", path, NULL, 404, "Image not found.");
	CT_CALL(T, C, CT_READER, "DELETE", path, NULL, 403, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404, "Image not found.");
	snprintf(path, sizeof(path), "/v2/images/%s", id);
	CT_CALL(T, CT_IMAGE, CT_MEMBER, "GET", path, NULL, 404, NULL);
}

/* ---- createImage / createBackup --------------------------------------------- */

static void
snap_act(enum ctltest_who who, const char *id, const char *act,
    const char *arg, int status, const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", id);
	snprintf(body, sizeof(body), "{\"%s\": %s}", act, arg);
	CT_CALL(T, C, who, "POST", path, body, status, msg);
}

/* The server's task, as the admin reads it ("" for none). */
static const char *
snap_task(const char *id)
{
	json_t *t;

	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	t = ctltest_get(T, "server.OS-EXT-STS:task_state");
	return json_is_string(t) ? json_string_value(t) : "";
}

/* How many images the admin sees named name. */
static size_t
snap_images(const char *name)
{
	char q[300];

	snprintf(q, sizeof(q), "/v2/images?name=%s", name);
	CT_CALL(T, CT_IMAGE, CT_ADMIN, "GET", q, NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "images"));
}

/* Refusals change nothing (no task, no image); an accepted snapshot
 * answers 202 with the queued image's URL in Location and no body, the
 * image carries Nova's properties, and the task blocks a second one. */
static void
test_snapshot(void **state)
{
	char s1[64], msg[256], img[64];
	const char *loc;

	(void)state;
	server_new("sn1", s1);
	if_place(s1, "active");
	snap_act(CT_MEMBER, s1, "createImage", "{}", 400, NULL);
	snap_act(CT_MEMBER, s1, "createImage", "null", 400, NULL);
	snap_act(CT_MEMBER, s1, "createImage", "{\"name\": \"\"}", 400, NULL);
	snap_act(CT_MEMBER, s1, "createImage", "{\"name\": \"x\", \"foo\": 1}",
	    400, "Invalid input for field/attribute createImage. Value: foo. "
	    "Additional properties are not allowed ('foo' was unexpected)");
	snap_act(CT_MEMBER, s1, "createImage", "{\"name\": \"x\", "
	    "\"metadata\": {\"k\": 1}}", 400, NULL);
	snap_act(CT_MEMBER, s1, "createBackup", "{\"name\": \"b\", "
	    "\"rotation\": 1}", 400, NULL);
	snap_act(CT_MEMBER, s1, "createBackup", "{\"name\": \"b\", "
	    "\"backup_type\": \"daily\"}", 400, NULL);
	snap_act(CT_MEMBER, s1, "createBackup", "{\"name\": \"b\", "
	    "\"backup_type\": \"daily\", \"rotation\": -1}", 400, NULL);
	snap_act(CT_MEMBER, s1, "createBackup", "{\"name\": \"b\", "
	    "\"backup_type\": \"daily\", \"rotation\": \"two\"}", 400, NULL);
	snap_act(CT_OTHER, s1, "createImage", "{\"name\": \"sn-x\"}", 404,
	    NULL);
	if_place(s1, "paused");
	snprintf(msg, sizeof(msg), "Cannot 'createBackup' instance %s while "
	    "it is in vm_state paused", s1);
	snap_act(CT_MEMBER, s1, "createBackup", "{\"name\": \"sn-x\", "
	    "\"backup_type\": \"daily\", \"rotation\": 2}", 409, msg);
	assert_string_equal(snap_task(s1), "");
	assert_int_equal(snap_images("sn-x"), 0);

	if_place(s1, "active");
	snap_act(CT_MEMBER, s1, "createImage", "{\"name\": \"sn-1\", "
	    "\"metadata\": {\"k\": \"v\"}}", 202, NULL);
	loc = ctltest_header(T, "Location");
	assert_non_null(loc);
	assert_non_null(strstr(loc, "/images/"));
	snprintf(img, sizeof(img), "%s", strrchr(loc, '/') + 1);
	assert_int_equal(strlen(img), 36);
	assert_string_equal(snap_task(s1), "image_snapshot");
	snprintf(path, sizeof(path), "/v2/images/%s", img);
	CT_CALL(T, CT_IMAGE, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "status"), "queued");
	assert_string_equal(ctltest_str(T, "name"), "sn-1");
	assert_string_equal(ctltest_str(T, "visibility"), "private");
	assert_string_equal(ctltest_str(T, "disk_format"), "qcow2");
	assert_string_equal(ctltest_str(T, "image_type"), "snapshot");
	assert_string_equal(ctltest_str(T, "instance_uuid"), s1);
	assert_string_equal(ctltest_str(T, "k"), "v");
	snprintf(msg, sizeof(msg), "Cannot 'createImage' instance %s while it "
	    "is in task_state image_snapshot", s1);
	snap_act(CT_MEMBER, s1, "createImage", "{\"name\": \"sn-x\"}", 409,
	    msg);
	assert_int_equal(snap_images("sn-x"), 0);

	/* a backup (the task cleared by placing it again) */
	if_place(s1, "stopped");
	snap_act(CT_MEMBER, s1, "createBackup", "{\"name\": \"sn-b\", "
	    "\"backup_type\": \"daily\", \"rotation\": \"2\"}", 202, NULL);
	assert_non_null(ctltest_header(T, "Location"));
	assert_string_equal(snap_task(s1), "image_backup");
	CT_CALL(T, CT_IMAGE, CT_MEMBER, "GET", "/v2/images?name=sn-b", NULL,
	    200, NULL);
	assert_string_equal(ctltest_str(T, "images.0.image_type"), "backup");
	assert_string_equal(ctltest_str(T, "images.0.backup_type"), "daily");
	/* rotation 0: no Location (Nova) */
	if_place(s1, "active");
	snap_act(CT_MEMBER, s1, "createBackup", "{\"name\": \"sn-b0\", "
	    "\"backup_type\": \"\", \"rotation\": 0}", 202, NULL);
	assert_null(ctltest_header(T, "Location"));
}

/* ---- shelve / shelveOffload / unshelve ------------------------------------ */

/* Server id as an offloaded shelve leaves it: no host, no power, its
 * shelved image (image, or none). */
static int
offload_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;	/* id, image */
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, a[0], &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, a[0], &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.host);
	free(i.vm_state);
	free(i.task_state);
	free(i.task_request_id);
	free(i.snapshot_image_id);
	i.host = NULL;
	i.task_state = NULL;
	i.task_request_id = NULL;
	i.snapshot_image_id = NULL;
	i.vm_state = strdup("shelved_offloaded");
	i.power_state = 0;
	i.shelved_image_id = a[1] != NULL ? strdup(a[1]) : NULL;
	i.shelved_host = strdup("ct-if1");
	i.has_shelved_at = true;
	i.shelved_at = db_now_ms();
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* What the reconciler's offload does to server id's ports (recon.c
 * shelve_unplace()): kept by the server, unbound. */
static int
unbind_fn(struct store_txn *txn, void *arg)
{
	return network_port_move_device(NULL, txn, arg, NULL);
}

/* The server as the admin sees it: status, vm_state, host ("" for
 * null). */
static void
shelve_view(const char *id, const char *status, const char *vm,
    const char *host)
{
	json_t *h;

	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.status"), status);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-STS:vm_state"), vm);
	h = ctltest_get(T, "server.OS-EXT-SRV-ATTR:host");
	assert_string_equal(json_is_string(h) ? json_string_value(h) : "",
	    host);
}

/* Nova's checks (policy, lock, states, task), the image a shelve makes
 * ("<name>-shelved", a private snapshot of the project), the views of
 * both shelved states, an unshelve finding no valid host (the action
 * fails, the server stays offloaded), and a delete of an offloaded server
 * deleting its image. The state machine is recon_test's. */
static void
test_shelve(void **state)
{
	char s1[64], msg[256], img[64], net[64], p1[64], att[128];
	const char *a[2];

	(void)state;
	server_new("sh1", s1);
	if_place(s1, "active");
	cn_net(CT_MEMBER, "sh-net", "10.41.0.0/24", net);
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\", "
	    "\"name\": \"sh-p1\"}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 201, NULL);
	snprintf(p1, sizeof(p1), "%s", ctltest_str(T, "port.id"));
	snprintf(att, sizeof(att), "{\"port_id\": \"%s\"}", p1);
	if_attach(CT_MEMBER, s1, att, 200, NULL);
	snap_act(CT_OTHER, s1, "shelve", "null", 404, NULL);
	snap_act(CT_MEMBER, s1, "shelveOffload", "null", 403, "Policy doesn't "
	    "allow os_compute_api:os-shelve:shelve_offload to be performed.");
	snprintf(msg, sizeof(msg), "Cannot 'shelveOffload' instance %s while "
	    "it is in vm_state active", s1);
	snap_act(CT_ADMIN, s1, "shelveOffload", "null", 409, msg);
	snprintf(msg, sizeof(msg), "Cannot 'unshelve' instance %s while it "
	    "is in vm_state active", s1);
	snap_act(CT_MEMBER, s1, "unshelve", "null", 409, msg);
	if_place(s1, "error");
	snprintf(msg, sizeof(msg), "Cannot 'shelve' instance %s while it is "
	    "in vm_state error", s1);
	snap_act(CT_MEMBER, s1, "shelve", "null", 409, msg);
	if_place(s1, "stopped");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", s1);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"lock\": null}", 202, NULL);
	snprintf(msg, sizeof(msg), "Instance %s is locked", s1);
	snap_act(CT_MEMBER, s1, "shelve", "null", 409, msg);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"unlock\": null}", 202,
	    NULL);
	assert_string_equal(snap_task(s1), "");
	assert_int_equal(snap_images("sh1-shelved"), 0);

	/* accepted: 202, no body, the image, the task */
	snap_act(CT_MEMBER, s1, "shelve", "null", 202, NULL);
	assert_null(ctltest_get(T, "server"));
	assert_string_equal(snap_task(s1), "shelving");
	CT_CALL(T, CT_IMAGE, CT_MEMBER, "GET", "/v2/images?name=sh1-shelved",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "images")), 1);
	assert_string_equal(ctltest_str(T, "images.0.status"), "queued");
	assert_string_equal(ctltest_str(T, "images.0.visibility"), "private");
	assert_string_equal(ctltest_str(T, "images.0.image_type"), "snapshot");
	assert_string_equal(ctltest_str(T, "images.0.instance_uuid"), s1);
	snprintf(img, sizeof(img), "%s", ctltest_str(T, "images.0.id"));
	snprintf(msg, sizeof(msg), "Cannot 'shelve' instance %s while it is "
	    "in task_state shelving", s1);
	snap_act(CT_MEMBER, s1, "shelve", "{}", 409, msg);
	assert_int_equal(snap_images("sh1-shelved"), 1);
	shelve_view(s1, "SHUTOFF", "stopped", "ct-if1");

	/* SHELVED on its host */
	if_place(s1, "shelved");
	shelve_view(s1, "SHELVED", "shelved", "ct-if1");
	snprintf(msg, sizeof(msg), "Cannot 'shelve' instance %s while it is "
	    "in vm_state shelved", s1);
	snap_act(CT_MEMBER, s1, "shelve", "null", 409, msg);
	snprintf(msg, sizeof(msg), "Cannot 'os-start' instance %s while it "
	    "is in vm_state shelved", s1);
	snap_act(CT_MEMBER, s1, "os-start", "null", 409, NULL);
	snap_act(CT_ADMIN, s1, "shelveOffload", "{}", 202, NULL);
	assert_string_equal(snap_task(s1), "shelving_offloading");

	/* SHELVED_OFFLOADED: no host; no host up here: the unshelve's
	 * action fails and it stays so */
	a[0] = s1;
	a[1] = img;
	assert_int_equal(store_write(ctltest_store(T), offload_fn, a), 0);
	assert_int_equal(store_write(ctltest_store(T), unbind_fn, s1), 0);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", p1);
	CT_CALL(T, N, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "port.device_id"), s1);
	assert_string_equal(ctltest_str(T, "port.binding:host_id"), "");
	assert_string_equal(ctltest_str(T, "port.binding:vif_type"), "unbound");
	assert_string_equal(ctltest_str(T, "port.status"), "DOWN");
	shelve_view(s1, "SHELVED_OFFLOADED", "shelved_offloaded", "");
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "server.OS-EXT-STS:power_state")), 0);
	snprintf(msg, sizeof(msg), "Cannot 'shelveOffload' instance %s while "
	    "it is in vm_state shelved_offloaded", s1);
	snap_act(CT_ADMIN, s1, "shelveOffload", "null", 409, msg);
	snap_act(CT_MEMBER, s1, "unshelve", "null", 202, NULL);
	shelve_view(s1, "SHELVED_OFFLOADED", "shelved_offloaded", "");
	assert_string_equal(snap_task(s1), "");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "instanceActions.0.action"),
	    "unshelve");
	assert_non_null(ctltest_str(T, "instanceActions.0.message"));
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?status=SHELVED_OFFLOADED",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);

	/* deleted: its image goes too */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	assert_int_equal(snap_images("sh1-shelved"), 0);
}

/* ---- microversions 2.12-2.33 ---------------------------------------------- */

static void
mv_call(enum ctltest_who who, const char *mv, const char *method,
    const char *p, const char *b, int status, const char *msg)
{
	char h[96];

	snprintf(h, sizeof(h), "OpenStack-API-Version: compute %s\r\n", mv);
	ctltest_call(T, C, who, method, p, b, h);
	ctltest_expect(T, status, msg);
}

/* How many instance actions server id has (as the admin, at 2.1). */
static size_t
act_count(const char *id)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions", id);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "instanceActions"));
}

/* Each delta of the microversions served above 2.11, at its version and
 * just below it; refusals change nothing. The server is placed on
 * ct-if1 (no agent: down, host_status UNKNOWN). */
static void
test_microversions(void **state)
{
	char s1[64], sp[160], ap[200], msg[256];
	size_t nact;

	(void)state;
	/* The tests before this one leave their servers: room for one more
	 * whatever their number (quotas are test_quota's). */
	snprintf(path, sizeof(path), "/v2.1/os-quota-sets/%s",
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, C, CT_ADMIN, "PUT", path, "{\"quota_set\": {\"instances\": "
	    "100}}", 200, NULL);
	assert_int_equal(store_write(ctltest_store(T), put_down_host, NULL), 0);
	server_new("mv1", s1);
	if_place(s1, "active");
	snprintf(sp, sizeof(sp), "/v2.1/servers/%s", s1);

	/* 2.16 host_status: admins only (policy), show and detail */
	mv_call(CT_ADMIN, "2.16", "GET", sp, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.host_status"), "UNKNOWN");
	mv_call(CT_MEMBER, "2.16", "GET", sp, NULL, 200, NULL);
	assert_null(ctltest_get(T, "server.host_status"));
	mv_call(CT_ADMIN, "2.15", "GET", sp, NULL, 200, NULL);
	assert_null(ctltest_get(T, "server.host_status"));

	/* 2.19 description: the name below it; null, set, refused */
	mv_call(CT_MEMBER, "2.19", "GET", sp, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.description"), "mv1");
	mv_call(CT_MEMBER, "2.18", "GET", sp, NULL, 200, NULL);
	assert_null(ctltest_get(T, "server.description"));
	mv_call(CT_MEMBER, "2.19", "PUT", sp, "{\"server\": {\"description\": "
	    "\"d1\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "server.description"), "d1");
	mv_call(CT_MEMBER, "2.19", "PUT", sp, "{\"server\": {\"description\": "
	    "\"a\\u0001\"}}", 400, NULL);
	mv_call(CT_MEMBER, "2.19", "GET", sp, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.description"), "d1");
	mv_call(CT_MEMBER, "2.19", "PUT", sp, "{\"server\": {\"description\": "
	    "null}}", 200, NULL);
	assert_true(json_is_null(ctltest_get(T, "server.description")));

	/* 2.26 tags */
	snprintf(path, sizeof(path), "/v2.1/servers/%s/tags", s1);
	mv_call(CT_MEMBER, "2.25", "GET", path, NULL, 404, NULL);
	mv_call(CT_MEMBER, "2.26", "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "tags")), 0);
	mv_call(CT_MEMBER, "2.26", "PUT", path, "{\"tags\": [\"a\", \"a\"]}",
	    400, NULL);
	mv_call(CT_MEMBER, "2.26", "PUT", path, "{\"tags\": [\"a/b\"]}", 400,
	    NULL);
	mv_call(CT_OTHER, "2.26", "PUT", path, "{\"tags\": [\"x\"]}", 404,
	    NULL);
	mv_call(CT_MEMBER, "2.26", "PUT", path, "{\"tags\": [\"a\", \"b\"]}",
	    200, NULL);
	assert_string_equal(ctltest_str(T, "tags.1"), "b");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/tags/c", s1);
	mv_call(CT_MEMBER, "2.26", "GET", path, NULL, 404, NULL);
	mv_call(CT_MEMBER, "2.26", "PUT", path, NULL, 201, NULL);
	mv_call(CT_MEMBER, "2.26", "PUT", path, NULL, 204, NULL);
	mv_call(CT_MEMBER, "2.26", "GET", path, NULL, 204, NULL);
	mv_call(CT_MEMBER, "2.26", "GET", sp, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "server.tags")), 3);
	mv_call(CT_MEMBER, "2.26", "GET", "/v2.1/servers/detail?tags=a,c", NULL,
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	mv_call(CT_MEMBER, "2.26", "GET", "/v2.1/servers/detail?tags=a,z",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 0);
	mv_call(CT_MEMBER, "2.26", "GET", "/v2.1/servers/detail?"
	    "not-tags-any=z&tags-any=c,z", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), 1);
	mv_call(CT_MEMBER, "2.26", "DELETE", path, NULL, 204, NULL);
	mv_call(CT_MEMBER, "2.26", "DELETE", path, NULL, 404, NULL);
	if_place(s1, "error");
	snprintf(msg, sizeof(msg), "Cannot 'update tag' instance %s while it "
	    "is in vm_state error", s1);
	mv_call(CT_MEMBER, "2.26", "PUT", path, NULL, 409, msg);
	if_place(s1, "active");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/tags", s1);
	mv_call(CT_MEMBER, "2.26", "DELETE", path, NULL, 204, NULL);
	mv_call(CT_MEMBER, "2.26", "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "tags")), 0);

	/* 2.17 trigger_crash_dump: the body, the state; then recorded */
	snprintf(ap, sizeof(ap), "/v2.1/servers/%s/action", s1);
	nact = act_count(s1);
	mv_call(CT_MEMBER, "2.16", "POST", ap, "{\"trigger_crash_dump\": "
	    "null}", 400, NULL);
	mv_call(CT_MEMBER, "2.17", "POST", ap, "{\"trigger_crash_dump\": "
	    "{}}", 400, NULL);
	if_place(s1, "stopped");
	snprintf(msg, sizeof(msg), "Cannot 'trigger_crash_dump' instance %s "
	    "while it is in vm_state stopped", s1);
	mv_call(CT_MEMBER, "2.17", "POST", ap, "{\"trigger_crash_dump\": "
	    "null}", 409, msg);
	assert_int_equal(act_count(s1), nact);
	if_place(s1, "active");
	mv_call(CT_MEMBER, "2.17", "POST", ap, "{\"trigger_crash_dump\": "
	    "null}", 202, NULL);
	assert_int_equal(act_count(s1), nact + 1);
	assert_string_equal(ctltest_str(T, "instanceActions.0.action"),
	    "trigger_crash_dump");
	server_state(s1, "ACTIVE", NULL);

	/* 2.14 / 2.29 evacuate; 2.25 / 2.30 os-migrateLive (bodies) */
	mv_call(CT_ADMIN, "2.14", "POST", ap, "{\"evacuate\": "
	    "{\"onSharedStorage\": false}}", 400, "Invalid input for "
	    "field/attribute evacuate. Value: onSharedStorage. Additional "
	    "properties are not allowed ('onSharedStorage' was unexpected)");
	mv_call(CT_ADMIN, "2.29", "POST", ap, "{\"evacuate\": "
	    "{\"force\": true}}", 400, "Can't force to a non-provided "
	    "destination");
	mv_call(CT_ADMIN, "2.14", "POST", ap, "{\"evacuate\": {\"host\": "
	    "\"ct-h1\"}}", 200, NULL);
	assert_int_equal(T->r.len, 0);
	mv_call(CT_ADMIN, "2.25", "POST", ap, "{\"os-migrateLive\": "
	    "{\"host\": null, \"block_migration\": false, "
	    "\"disk_over_commit\": false}}", 400, "Invalid input for "
	    "field/attribute os-migrateLive. Value: disk_over_commit. "
	    "Additional properties are not allowed ('disk_over_commit' was "
	    "unexpected)");
	mv_call(CT_ADMIN, "2.30", "POST", ap, "{\"os-migrateLive\": "
	    "{\"host\": null, \"block_migration\": \"auto\", \"force\": "
	    "true}}", 400, "Can't force to a non-provided destination");
	mv_call(CT_ADMIN, "2.25", "POST", ap, "{\"os-migrateLive\": "
	    "{\"host\": null, \"block_migration\": \"auto\"}}", 400,
	    "Compute service of ct-if1 is unavailable at this time.");

	/* 2.18: links follow the URL's project */
	mv_call(CT_MEMBER, "2.18", "GET", sp, NULL, 200, NULL);
	assert_null(strstr(ctltest_str(T, "server.links.0.href"),
	    T->project_id[CT_MEMBER]));
	snprintf(path, sizeof(path), "/v2.1/%s/servers/%s",
	    T->project_id[CT_MEMBER], s1);
	mv_call(CT_MEMBER, "2.18", "GET", path, NULL, 200, NULL);
	assert_non_null(strstr(ctltest_str(T, "server.links.0.href"),
	    T->project_id[CT_MEMBER]));

	/* 2.28 cpu_info; 2.33 pages */
	mv_call(CT_ADMIN, "2.28", "GET", "/v2.1/os-hypervisors/detail", NULL,
	    200, NULL);
	if (json_array_size(ctltest_get(T, "hypervisors")) > 0)
		assert_true(json_is_object(ctltest_get(T,
		    "hypervisors.0.cpu_info")));
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors?marker=999999",
	    NULL, 400, "marker [999999] not found");
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors?limit=x", NULL,
	    400, "Invalid input for query parameters limit. Value: x. 'x' "
	    "does not match '^[0-9]*$'");
	/* Nova caps a large limit at max_limit; below 2.33 it ignores
	 * paging (index_query has no properties). */
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/os-hypervisors?limit="
	    "99999999999", NULL, 200, NULL);
	mv_call(CT_ADMIN, "2.32", "GET", "/v2.1/os-hypervisors?limit=-1&"
	    "marker=999999", NULL, 200, NULL);
	/* Key pairs page from 2.35 only: before, Nova lists them all. */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/os-keypairs", NULL, 200, NULL);
	{
		size_t nkp = json_array_size(ctltest_get(T, "keypairs"));

		mv_call(CT_MEMBER, "2.33", "GET", "/v2.1/os-keypairs?limit=-1&"
		    "marker=nope", NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "keypairs")),
		    nkp);
		mv_call(CT_MEMBER, "2.33", "GET", "/v2.1/os-keypairs?limit=0",
		    NULL, 200, NULL);
		assert_int_equal(json_array_size(ctltest_get(T, "keypairs")),
		    nkp);
	}
	mv_call(CT_ADMIN, "2.34", "GET", "/v2.1/os-hypervisors", NULL, 406,
	    NULL);
	/* 2.21: a deleted server's actions, its owner's only */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-instance-actions",
	    s1);
	mv_call(CT_MEMBER, "2.20", "GET", path, NULL, 404, NULL);
	mv_call(CT_OTHER, "2.21", "GET", path, NULL, 404, NULL);
	mv_call(CT_MEMBER, "2.21", "GET", path, NULL, 200, NULL);
	nact = json_array_size(ctltest_get(T, "instanceActions"));
	assert_true(nact >= 2);
	/* newest first: the first action is the create */
	snprintf(msg, sizeof(msg), "instanceActions.%zu.action", nact - 1);
	assert_string_equal(ctltest_str(T, msg), "create");
}

/* ---- the status filter (instances_by_state) ------------------------------- */

static char	sf_ids[6][64];

/* Server id's vm_state and task_state set in the store (as the reconciler
 * would: through compute_db_instance_put() with the stored version). */
static int
sf_state_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;	/* id, vm_state, task_state (NULL) */
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, a[0], &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, a[0], &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.vm_state);
	free(i.task_state);
	i.vm_state = strdup(a[1]);
	i.task_state = a[2] ? strdup(a[2]) : NULL;
	/* Far off: the reconciler's scan (every second) would otherwise end
	 * the task at once (deadline 0) before a slow (ASan) test looks. */
	i.task_deadline = a[2] ? db_now_ms() + 3600 * 1000 : 0;
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static void
sf_state(int k, const char *vm, const char *task)
{
	const char *a[3] = { sf_ids[k], vm, task };

	assert_int_equal(store_write(ctltest_store(T), sf_state_fn, a), 0);
}

/* GET /v2.1/servers?name=^sf[0-9]$&<q> as who at microversion mv (NULL:
 * none): the servers as their digits, in the answer's order. */
static const char *
sf_list(enum ctltest_who who, const char *q, const char *mv)
{
	static char got[16];
	char h[96], p[512];
	json_t *a;
	size_t n = 0;

	snprintf(p, sizeof(p), "/v2.1/servers?name=%%5Esf%%5B0-9%%5D%%24%s%s",
	    *q ? "&" : "", q);
	snprintf(h, sizeof(h), "OpenStack-API-Version: compute %s\r\n",
	    mv ? mv : "2.1");
	ctltest_call(T, C, who, "GET", p, NULL, h);
	ctltest_expect(T, 200, NULL);
	a = ctltest_get(T, "servers");
	for (size_t j = 0; j < json_array_size(a); j++) {
		const char *id = json_string_value(json_object_get(
		    json_array_get(a, j), "id"));

		for (int k = 0; id && k < 6; k++)
			if (strcmp(id, sf_ids[k]) == 0 && n + 1 < sizeof(got))
				got[n++] = (char)('0' + k);
	}
	got[n] = '\0';
	return got;
}

/* The servers of set (digits) in the order of all. */
static const char *
sf_sub(const char *all, const char *set)
{
	static char out[16];
	size_t n = 0;

	for (; *all; all++)
		if (strchr(set, *all) != NULL)
			out[n++] = *all;
	out[n] = '\0';
	return out;
}

static size_t
sf_count(const char *table)
{
	struct store_txn *txn = NULL;
	size_t n;

	assert_int_equal(store_read_begin(ctltest_store(T), &txn), 0);
	assert_int_equal(store_count(txn, table, &n), 0);
	store_txn_end(&txn);
	return n;
}

/*
 * status= as Nova filters it (vm_state IN, task_state IN unless a default
 * is among the statuses asked), answered through instances_by_state: the
 * same servers in the same order as the unfiltered list, across state
 * changes, markers, scopes and a delete; unknown statuses and DELETED as
 * Nova answers them.
 */
static void
test_servers_status_filter(void **state)
{
	char all[16], want[16], q[256];
	const char *got;
	size_t pages = 0;

	(void)state;
	snprintf(path, sizeof(path), "/v2.1/os-quota-sets/%s",
	    T->project_id[CT_MEMBER]);
	CT_CALL(T, C, CT_ADMIN, "PUT", path, "{\"quota_set\": {\"instances\": "
	    "100}}", 200, NULL);
	for (int k = 0; k < 6; k++) {
		char name[8];

		snprintf(name, sizeof(name), "sf%d", k);
		server_new(name, sf_ids[k]);
	}
	sf_state(0, "active", NULL);
	sf_state(1, "active", "rebooting");
	sf_state(2, "stopped", NULL);
	sf_state(3, "stopped", "resize_prep");
	sf_state(4, "error", NULL);	/* as created: no host up */
	sf_state(5, "resized", "resize_reverting");
	snprintf(all, sizeof(all), "%s", sf_list(CT_MEMBER, "", NULL));
	assert_int_equal(strlen(all), 6);

	assert_string_equal(sf_list(CT_MEMBER, "status=ACTIVE", NULL),
	    sf_sub(all, "01"));
	assert_string_equal(sf_list(CT_MEMBER, "status=active", NULL),
	    sf_sub(all, "01"));
	assert_string_equal(sf_list(CT_MEMBER, "status=REBOOT", NULL),
	    sf_sub(all, "1"));
	assert_string_equal(sf_list(CT_MEMBER, "status=SHUTOFF", NULL),
	    sf_sub(all, "23"));
	assert_string_equal(sf_list(CT_MEMBER, "status=RESIZE", NULL),
	    sf_sub(all, "3"));
	assert_string_equal(sf_list(CT_MEMBER, "status=VERIFY_RESIZE", NULL),
	    sf_sub(all, "5"));
	assert_string_equal(sf_list(CT_MEMBER, "status=REVERT_RESIZE", NULL),
	    sf_sub(all, "5"));
	assert_string_equal(sf_list(CT_MEMBER, "status=ERROR", NULL),
	    sf_sub(all, "4"));
	assert_string_equal(sf_list(CT_MEMBER, "status=BUILD", NULL), "");
	/* several: a default among them drops the task filter */
	assert_string_equal(sf_list(CT_MEMBER, "status=SHUTOFF&status=REBOOT",
	    NULL), sf_sub(all, "0123"));
	assert_string_equal(sf_list(CT_MEMBER, "status=REBOOT&status=RESIZE",
	    NULL), sf_sub(all, "13"));
	/* the detail view shows each one's own status */
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers/detail?status=RESIZE&"
	    "name=%5Esf3%24", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "servers.0.status"), "RESIZE");
	/* scopes: another project sees none; all_tenants and project_id */
	assert_string_equal(sf_list(CT_OTHER, "status=SHUTOFF", NULL), "");
	assert_string_equal(sf_list(CT_ADMIN, "all_tenants=1&status=SHUTOFF",
	    NULL), sf_sub(all, "23"));
	snprintf(q, sizeof(q), "all_tenants=1&status=SHUTOFF&project_id=%s",
	    T->project_id[CT_MEMBER]);
	assert_string_equal(sf_list(CT_ADMIN, q, NULL), sf_sub(all, "23"));
	snprintf(q, sizeof(q), "all_tenants=1&status=SHUTOFF&project_id=%s",
	    T->project_id[CT_OTHER]);
	assert_string_equal(sf_list(CT_ADMIN, q, NULL), "");

	/* pages of one follow the marker; the last page has no next link */
	snprintf(want, sizeof(want), "%s", sf_sub(all, "0123"));
	q[0] = '\0';
	{
		char seen[16] = "", marker[64] = "";

		for (;;) {
			snprintf(q, sizeof(q), "status=SHUTOFF&status=REBOOT&"
			    "limit=1%s%s", *marker ? "&marker=" : "", marker);
			got = sf_list(CT_MEMBER, q, NULL);
			strcat(seen, got);
			pages++;
			if (ctltest_get(T, "servers_links") == NULL)
				break;
			assert_int_equal(strlen(got), 1);
			assert_true(pages < 8);
			snprintf(marker, sizeof(marker), "%s",
			    sf_ids[got[0] - '0']);
		}
		assert_string_equal(seen, want);
		assert_int_equal(pages, 4);
	}
	/* a marker on the newest and on the oldest server of the answer
	 * (four streams merged), in the project's scope and in all */
	{
		char two[3];

		snprintf(q, sizeof(q), "status=SHUTOFF&status=REBOOT&marker=%s",
		    sf_ids[want[0] - '0']);
		assert_string_equal(sf_list(CT_MEMBER, q, NULL), want + 1);
		snprintf(q, sizeof(q), "status=SHUTOFF&status=REBOOT&marker=%s",
		    sf_ids[want[strlen(want) - 1] - '0']);
		assert_string_equal(sf_list(CT_MEMBER, q, NULL), "");
		assert_null(ctltest_get(T, "servers_links"));
		snprintf(q, sizeof(q), "all_tenants=1&status=SHUTOFF&"
		    "status=REBOOT&limit=2&marker=%s", sf_ids[want[0] - '0']);
		memcpy(two, want + 1, 2);
		two[2] = '\0';
		assert_string_equal(sf_list(CT_ADMIN, q, NULL), two);
		snprintf(q, sizeof(q), "all_tenants=1&status=SHUTOFF&"
		    "status=REBOOT&marker=%s", sf_ids[want[strlen(want) - 1] -
		    '0']);
		assert_string_equal(sf_list(CT_ADMIN, q, NULL), "");
	}
	/* a marker the filter does not match is a place in the order */
	snprintf(q, sizeof(q), "status=SHUTOFF&marker=%s", sf_ids[4]);
	assert_string_equal(sf_list(CT_MEMBER, q, NULL),
	    sf_sub(strchr(all, '4') + 1, "23"));

	/* statuses Nova does not know: an empty list below 2.38 (a 400
	 * from it, above this service's maximum); DELETED alone: admins
	 * only, and none are kept */
	assert_string_equal(sf_list(CT_MEMBER, "status=BOGUS", NULL), "");
	assert_string_equal(sf_list(CT_MEMBER, "status=UNKNOWN", "2.33"), "");
	assert_string_equal(sf_list(CT_MEMBER, "status=", NULL), "");
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers?status=DELETED", NULL,
	    403, "Only administrators may list deleted instances");
	assert_string_equal(sf_list(CT_ADMIN, "all_tenants=1&status=DELETED",
	    NULL), "");
	/* DELETED with another: the other's servers */
	assert_string_equal(sf_list(CT_MEMBER, "status=DELETED&status=ERROR",
	    NULL), sf_sub(all, "4"));
	/* nothing changed by the refusals */
	assert_string_equal(sf_list(CT_MEMBER, "", NULL), all);

	/* state changes move the servers between the filters' answers */
	sf_state(2, "active", NULL);
	sf_state(1, "active", NULL);
	assert_string_equal(sf_list(CT_MEMBER, "status=SHUTOFF", NULL),
	    sf_sub(all, "3"));
	assert_string_equal(sf_list(CT_MEMBER, "status=ACTIVE", NULL),
	    sf_sub(all, "012"));
	assert_string_equal(sf_list(CT_MEMBER, "status=REBOOT", NULL), "");
	/* a deleted server leaves them */
	snprintf(path, sizeof(path), "/v2.1/servers/%s", sf_ids[4]);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	assert_string_equal(sf_list(CT_MEMBER, "status=ERROR", NULL), "");
	assert_string_equal(sf_list(CT_MEMBER, "status=ERROR&status=ACTIVE",
	    NULL), sf_sub(all, "012"));
	/* every instance of the controller has its two entries */
	assert_int_equal(sf_count(T_INSTANCES_BY_STATE),
	    2 * sf_count(T_INSTANCES));
}

/* ---- server views: a list entry is its server's show ------------------------ */

static const char *const view_mvs[] = { "2.1", "2.3", "2.9", "2.16", "2.19",
    "2.26", "2.33" };

/* GET /servers/detail?{q}name=^vw- at microversion mv as who: want entries,
 * each equal (parsed) to GET /servers/{id}, also at the index view's ids.
 * TS_VIEW_DUMP (a directory): the page is written there, keys sorted, to
 * compare the views of two builds. */
static void
view_check(enum ctltest_who who, const char *mv, const char *q,
    size_t want)
{
	const char *dir = getenv("TS_VIEW_DUMP");
	char lp[128];
	json_t *page, *e;
	size_t k;

	snprintf(lp, sizeof(lp), "/v2.1/servers/detail?%sname=^vw-", q);
	mv_call(who, mv, "GET", lp, NULL, 200, NULL);
	page = json_incref(ctltest_get(T, "servers"));
	assert_int_equal(json_array_size(page), want);
	if (dir != NULL) {
		char f[512];

		snprintf(f, sizeof(f), "%s/detail-%s-%d.json", dir, mv, who);
		assert_int_equal(json_dump_file(page, f, JSON_SORT_KEYS |
		    JSON_INDENT(1)), 0);
	}
	json_array_foreach(page, k, e) {
		const char *id = json_string_value(json_object_get(e, "id"));

		assert_non_null(id);
		snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
		mv_call(who, mv, "GET", path, NULL, 200, NULL);
		if (!json_equal(e, ctltest_get(T, "server"))) {
			char *a = json_dumps(e, JSON_SORT_KEYS);
			char *b = json_dumps(ctltest_get(T, "server"),
			    JSON_SORT_KEYS);

			print_error("mv %s: list %s\nshow %s\n", mv, a, b);
			free(a);
			free(b);
			fail();
		}
	}
	snprintf(lp, sizeof(lp), "/v2.1/servers?%sname=^vw-", q);
	mv_call(who, mv, "GET", lp, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "servers")), want);
	json_array_foreach(ctltest_get(T, "servers"), k, e) {
		assert_true(json_equal(json_object_get(e, "id"),
		    json_object_get(json_array_get(page, k), "id")));
		assert_true(json_equal(json_object_get(e, "links"),
		    json_object_get(json_array_get(page, k), "links")));
		assert_int_equal(json_object_size(e), 3);
	}
	json_decref(page);
}

/* Servers with what a view shows: ports (addresses, security groups),
 * metadata, tags, a description, a fault, a host; every microversion's
 * view as the owner and the admin. */
static void
test_server_views(void **state)
{
	char net[64], s1[64], s2[64], s3[64], nets[256];

	(void)state;
	cn_net(CT_MEMBER, "vw-net", "10.70.0.0/24", net);
	snprintf(nets, sizeof(nets), "[{\"uuid\": \"%s\"}, {\"uuid\": "
	    "\"%s\"}]", net, net);
	create(CT_MEMBER, "\"name\": \"vw-1\", \"flavorRef\": \"ct1\", "
	    "\"imageRef\": \"%s\", \"networks\": \"none\", \"metadata\": "
	    "{\"role\": \"web\", \"q\": \"a\\\"b\\\\c\\u00e9\"}, "
	    "\"accessIPv4\": \"192.0.2.7\", \"user_data\": \"aGVsbG8=\"");
	ctltest_expect(T, 202, NULL);
	snprintf(s1, sizeof(s1), "%s", ctltest_str(T, "server.id"));
	assert_int_equal(cn_create("vw-2", nets, s2), 202);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s2);
	mv_call(CT_MEMBER, "2.19", "PUT", path, "{\"server\": "
	    "{\"description\": \"two ports\"}}", 200, NULL);
	if_place(s2, "active");
	snprintf(path, sizeof(path), "/v2.1/servers/%s/tags", s2);
	mv_call(CT_MEMBER, "2.26", "PUT", path, "{\"tags\": [\"x\", \"y\"]}",
	    200, NULL);
	server_new("vw-3", s3);
	if_place(s3, "stopped");
	for (size_t k = 0; k < sizeof(view_mvs) / sizeof(view_mvs[0]); k++) {
		view_check(CT_MEMBER, view_mvs[k], "", 3);
		view_check(CT_READER, view_mvs[k], "", 3);
		view_check(CT_ADMIN, view_mvs[k], "all_tenants=1&", 3);
	}
	mv_call(CT_ADMIN, "2.33", "GET", "/v2.1/servers/detail?all_tenants=1&"
	    "name=^vw-", NULL, 200, NULL);
	assert_non_null(ctltest_get(T, "servers.0.OS-EXT-SRV-ATTR:host"));
	cn_delete(s1);
	cn_delete(s2);
	cn_delete(s3);
	snprintf(path, sizeof(path), "/v2.0/networks/%s", net);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_servers_create_validation),
		cmocka_unit_test(test_servers_create_no_host),
		cmocka_unit_test(test_servers_show_list),
		cmocka_unit_test(test_servers_sort),
		cmocka_unit_test(test_servers_actions),
		cmocka_unit_test(test_servers_delete),
		cmocka_unit_test(test_flavors),
		cmocka_unit_test(test_flavor_extra_specs),
		cmocka_unit_test(test_keypairs),
		cmocka_unit_test(test_quotas_limits),
		cmocka_unit_test(test_admin_only),
		cmocka_unit_test(test_servers_subresources),
		cmocka_unit_test(test_servers_create_image_rules),
		cmocka_unit_test(test_flavor_access),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_servers_networks),
		cmocka_unit_test(test_server_secgroups),
		cmocka_unit_test(test_image_proxy),
		cmocka_unit_test(test_server_floating),
		/* last: the others expect no host at all */
		cmocka_unit_test(test_down_host),
		cmocka_unit_test(test_hypervisor_pages),
		cmocka_unit_test(test_aggregates),
		cmocka_unit_test(test_interfaces),
		cmocka_unit_test(test_console_states),
		cmocka_unit_test(test_evacuate),
		cmocka_unit_test(test_migrate_live),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_shelve),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_microversions),
		cmocka_unit_test(test_servers_status_filter),
		cmocka_unit_test(test_server_views),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
