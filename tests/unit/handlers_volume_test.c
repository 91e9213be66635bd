/*
 * handlers_volume_test: the Block Storage API's handlers (controller/
 * volume/) over HTTP against the in-process controller of ctltest.h:
 * discovery and microversions, limits, quota sets (show, usage, defaults,
 * update, reset, validation, policy), availability zones, services, volume
 * types and the (empty) volumes, with Cinder's bodies and error shape.
 *
 * Every refused change is followed by a read showing the quota as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctltest.h"

#define V	CT_VOLUME

static struct ctltest	*T;
static char		 path[512];

/* /v3/{the caller's project}<rest>, rest may hold one %s for arg. */
static const char *
vpath(enum ctltest_who who, const char *rest, const char *arg)
{
	char r[256];

	ctltest_subst(r, sizeof(r), rest, arg != NULL ? arg : "");
	snprintf(path, sizeof(path), "/v3/%s%s", T->project_id[who], r);
	return path;
}

static json_int_t
num(const char *p)
{
	json_t *j = ctltest_get(T, p);

	assert_non_null(j);
	assert_true(json_is_integer(j));
	return json_integer_value(j);
}

/* The member's project's quota_set as the admin reads it: member key. */
static json_int_t
quota_of(const char *key)
{
	char k[64];

	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    T->project_id[CT_MEMBER]), NULL, 200, NULL);
	snprintf(k, sizeof(k), "quota_set.%s", key);
	return num(k);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_discovery(void **state)
{
	(void)state;
	CT_CALL(T, V, CT_ANON, "GET", "/", NULL, 300, NULL);
	assert_string_equal(ctltest_str(T, "versions.0.id"), "v3.0");
	assert_string_equal(ctltest_str(T, "versions.0.status"), "CURRENT");
	assert_string_equal(ctltest_str(T, "versions.0.min_version"), "3.0");
	assert_string_equal(ctltest_str(T, "versions.0.version"), "3.0");
	assert_non_null(strstr(ctltest_str(T, "versions.0.links.1.href"),
	    "/v3/"));
	CT_CALL(T, V, CT_ANON, "GET", "/v3/", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "versions.0.id"), "v3.0");
	CT_CALL(T, V, CT_ANON, "GET", "/v3", NULL, 200, NULL);
	assert_string_equal(ctltest_header(T, "OpenStack-API-Version"),
	    "volume 3.0");

	/* Microversions: 3.0 and latest served, others refused as Cinder. */
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: volume 3.0\r\n");
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_header(T, "OpenStack-API-Version"),
	    "volume 3.0");
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: compute 2.1, volume latest\r\n");
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_header(T, "OpenStack-API-Version"),
	    "volume 3.0");
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: volume 3.1\r\n");
	ctltest_expect(T, 406, "Version 3.1 is not supported by the API. "
	    "Minimum is 3.0 and maximum is 3.0.");
	/* Cinder's fault map has no 406 entry: computeFault. */
	assert_int_equal(num("computeFault.code"), 406);
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: volume 3.x\r\n");
	ctltest_expect(T, 400, "API Version String 3.x is of invalid format. "
	    "Must be of format MajorNum.MinorNum.");
	assert_non_null(ctltest_get(T, "badRequest.code"));
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: volume 2.0\r\n");
	ctltest_expect(T, 406, "Version 2.0 is not supported by the API. "
	    "Minimum is 3.0 and maximum is 3.0.");

	/* Every other route needs a token. */
	CT_CALL(T, V, CT_ANON, "GET", vpath(CT_MEMBER, "/limits", NULL), NULL,
	    401, NULL);
	CT_CALL(T, V, CT_ANON, "GET", vpath(CT_MEMBER, "/volumes", NULL), NULL,
	    401, NULL);
}

static void
test_limits(void **state)
{
	static const char *const used[] = { "totalVolumesUsed",
	    "totalGigabytesUsed", "totalSnapshotsUsed", "totalBackupsUsed",
	    "totalBackupGigabytesUsed" };
	char k[96];
	size_t i;

	(void)state;
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, 200, NULL);
	assert_int_equal(num("limits.absolute.maxTotalVolumes"), 10);
	assert_int_equal(num("limits.absolute.maxTotalSnapshots"), 10);
	assert_int_equal(num("limits.absolute.maxTotalVolumeGigabytes"), 1000);
	assert_int_equal(num("limits.absolute.maxTotalBackups"), 10);
	assert_int_equal(num("limits.absolute.maxTotalBackupGigabytes"), 1000);
	for (i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
		snprintf(k, sizeof(k), "limits.absolute.%s", used[i]);
		assert_int_equal(num(k), 0);
	}
	assert_true(json_is_array(ctltest_get(T, "limits.rate")));
	assert_int_equal(json_array_size(ctltest_get(T, "limits.rate")), 0);
	/* The reader reads its project's limits too. */
	CT_CALL(T, V, CT_READER, "GET", vpath(CT_READER, "/limits", NULL),
	    NULL, 200, NULL);
	/* Another project in the URL: Cinder's malformed URL. */
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, 400, "Malformed request url");
}

static void
test_quotas(void **state)
{
	const char *mp = T->project_id[CT_MEMBER];
	char body[512];

	(void)state;
	/* Defaults, with Cinder's keys, the per-type ones included. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/os-quota-sets/%s",
	    mp), NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "quota_set.id"), mp);
	assert_int_equal(num("quota_set.volumes"), 10);
	assert_int_equal(num("quota_set.gigabytes"), 1000);
	assert_int_equal(num("quota_set.snapshots"), 10);
	assert_int_equal(num("quota_set.backups"), 10);
	assert_int_equal(num("quota_set.backup_gigabytes"), 1000);
	assert_int_equal(num("quota_set.per_volume_gigabytes"), -1);
	assert_int_equal(num("quota_set.groups"), 10);
	assert_int_equal(num("quota_set.volumes___DEFAULT__"), -1);
	assert_int_equal(num("quota_set.gigabytes___DEFAULT__"), -1);
	assert_int_equal(num("quota_set.snapshots___DEFAULT__"), -1);

	/* A member may not read another project's quota (a plain 403). */
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/os-quota-sets/%s",
	    mp), NULL, 403, NULL);
	/* Nor change its own. */
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, "/os-quota-sets/%s",
	    mp), "{\"quota_set\": {\"volumes\": 50}}", 403, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER,
	    "/os-quota-sets/%s", mp), NULL, 403, NULL);
	assert_int_equal(quota_of("volumes"), 10);

	/* The admin sets some; the others keep their defaults. */
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    mp), "{\"quota_set\": {\"volumes\": 5, \"gigabytes\": \"50\", "
	    "\"volumes___DEFAULT__\": 3, \"tenant_id\": \"x\"}}", 200, NULL);
	assert_int_equal(num("quota_set.volumes"), 5);
	assert_int_equal(num("quota_set.gigabytes"), 50);
	assert_null(ctltest_get(T, "quota_set.id"));
	assert_int_equal(quota_of("volumes"), 5);
	assert_int_equal(quota_of("gigabytes"), 50);
	assert_int_equal(quota_of("volumes___DEFAULT__"), 3);
	assert_int_equal(quota_of("snapshots"), 10);
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    mp), "{\"quota_set\": {\"snapshots\": -1}}", 200, NULL);
	assert_int_equal(quota_of("snapshots"), -1);
	assert_int_equal(quota_of("volumes"), 5);

	/* The member sees them, in its limits too, and with usage. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, 200, NULL);
	assert_int_equal(num("limits.absolute.maxTotalVolumes"), 5);
	assert_int_equal(num("limits.absolute.maxTotalVolumeGigabytes"), 50);
	assert_int_equal(num("limits.absolute.maxTotalSnapshots"), -1);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/os-quota-sets/%s?usage=true", mp), NULL, 200, NULL);
	assert_int_equal(num("quota_set.volumes.limit"), 5);
	assert_int_equal(num("quota_set.volumes.in_use"), 0);
	assert_int_equal(num("quota_set.volumes.reserved"), 0);
	assert_int_equal(num("quota_set.gigabytes.limit"), 50);
	/* Defaults stay the configured ones. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/os-quota-sets/%s/defaults", mp), NULL, 200, NULL);
	assert_int_equal(num("quota_set.volumes"), 10);
	assert_string_equal(ctltest_str(T, "quota_set.id"), mp);

	/* Validation as Cinder's: each refused, nothing changed. */
	{
		static const struct { const char *body, *msg; } bad[] = {
			{ "{\"quota_set\": {\"volumes\": \"ten\"}}",
			    "volumes must be an integer." },
			{ "{\"quota_set\": {\"volumes\": 1.5}}",
			    "volumes must be an integer." },
			{ "{\"quota_set\": {\"volumes\": true}}",
			    "volumes must be an integer." },
			{ "{\"quota_set\": {\"volumes\": -2}}",
			    "volumes must be >= -1" },
			{ "{\"quota_set\": {\"gigabytes\": 2147483648}}",
			    "gigabytes must be <= 2147483647" },
			{ "{\"quota_set\": {\"volumes\": 7, \"bogus\": 1}}",
			    "Bad key(s) in quota set: bogus" },
			{ "{\"quota_set\": {\"gigabytes\": 7, \"volumes\": "
			    "-5}}", "volumes must be >= -1" },
			{ "{\"volumes\": 7}",
			    "Missing required element 'quota_set' in "
			    "request body." },
			{ "{\"quota_set\": 7}",
			    "Missing required element 'quota_set' in "
			    "request body." },
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(body, sizeof(body), "%s", bad[i].body);
			CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN,
			    "/os-quota-sets/%s", mp), body, 400, bad[i].msg);
			assert_non_null(ctltest_get(T, "badRequest.message"));
			assert_int_equal(quota_of("volumes"), 5);
			assert_int_equal(quota_of("gigabytes"), 50);
		}
	}

	/* Reset: back to the defaults, 200 without a body as Cinder. */
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    mp), NULL, 200, NULL);
	assert_int_equal(quota_of("volumes"), 10);
	assert_int_equal(quota_of("gigabytes"), 1000);
	assert_int_equal(quota_of("snapshots"), 10);
	assert_int_equal(quota_of("volumes___DEFAULT__"), -1);
	/* Resetting what has no overrides is fine too. */
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    mp), NULL, 200, NULL);
	assert_int_equal(quota_of("volumes"), 10);
}

static void
test_zones_services_types(void **state)
{
	(void)state;
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/os-availability-zone", NULL), NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "availabilityZoneInfo.0.zoneName"),
	    "nova");
	assert_true(json_is_true(ctltest_get(T,
	    "availabilityZoneInfo.0.zoneState.available")));
	assert_int_equal(json_array_size(ctltest_get(T,
	    "availabilityZoneInfo")), 1);

	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/os-services", NULL),
	    NULL, 403, NULL);
	assert_non_null(ctltest_get(T, "forbidden.message"));
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/os-services", NULL),
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "services")), 1);
	assert_string_equal(ctltest_str(T, "services.0.binary"),
	    "cinder-scheduler");
	assert_string_equal(ctltest_str(T, "services.0.host"), "ctltest");
	assert_string_equal(ctltest_str(T, "services.0.state"), "up");
	assert_string_equal(ctltest_str(T, "services.0.status"), "enabled");
	assert_string_equal(ctltest_str(T, "services.0.zone"), "nova");
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN,
	    "/os-services?binary=cinder-volume", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "services")), 0);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN,
	    "/os-services?host=ctltest", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "services")), 1);

	CT_CALL(T, V, CT_READER, "GET", vpath(CT_READER, "/types", NULL),
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volume_types")), 1);
	assert_string_equal(ctltest_str(T, "volume_types.0.name"),
	    "__DEFAULT__");
	{
		char id[64];

		snprintf(id, sizeof(id), "%s", ctltest_str(T,
		    "volume_types.0.id"));
		CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
		    "/types/default", NULL), NULL, 200, NULL);
		assert_string_equal(ctltest_str(T, "volume_type.id"), id);
		assert_string_equal(ctltest_str(T, "volume_type.name"),
		    "__DEFAULT__");
		CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/types/%s",
		    id), NULL, 200, NULL);
		assert_string_equal(ctltest_str(T, "volume_type.name"),
		    "__DEFAULT__");
	}
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/types/nope", NULL),
	    NULL, 404, "Volume type nope could not be found.");
}

static void
test_volumes(void **state)
{
	(void)state;
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes", NULL),
	    NULL, 200, NULL);
	assert_true(json_is_array(ctltest_get(T, "volumes")));
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 0);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/volumes/detail",
	    NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 0);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s",
	    "6f1d7c2e-0000-4000-8000-000000000001"), NULL, 404,
	    "Volume 6f1d7c2e-0000-4000-8000-000000000001 could not be found.");
	assert_int_equal(num("itemNotFound.code"), 404);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_OTHER, "/volumes", NULL),
	    NULL, 400, "Malformed request url");
	/* Backups are not served. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups", NULL),
	    NULL, 404, NULL);
}

static int
setup(void **state)
{
	(void)state;
	return (T = ctltest_new()) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	ctltest_free(&T);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_quotas),
		cmocka_unit_test(test_zones_services_types),
		cmocka_unit_test(test_volumes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
