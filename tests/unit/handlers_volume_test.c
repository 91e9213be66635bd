/*
 * handlers_volume_test: the Block Storage API's handlers (controller/
 * volume/) over HTTP against the in-process controller of ctltest.h:
 * discovery and microversions, limits, quota sets (show, usage, defaults,
 * update, reset, validation, policy), availability zones, services, volume
 * types and the (empty) volumes, with Cinder's bodies and error shape.
 *
 * Then volumes and snapshots: create (errors, quota 413, placement on an
 * up storage host or error without one), list filters, sorting and
 * pagination, show, update, metadata, actions, delete; the storage sync's
 * derived host_storage and the transitions its reports make; the compute
 * side's attachments (volume.h); another project's volume is 404.
 *
 * Every refused change is followed by a read showing the state as it was.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "codec.h"
#include "core/db.h"
#include "ctltest.h"
#include "msg_gen.h"
#include "store.h"
#include "volume/storesync.h"
#include "volume/volume.h"
#include "volume/volume_db.h"

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
	assert_string_equal(ctltest_str(T, "versions.0.version"), "3.44");
	assert_non_null(strstr(ctltest_str(T, "versions.0.links.1.href"),
	    "/v3/"));
	CT_CALL(T, V, CT_ANON, "GET", "/v3/", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "versions.0.id"), "v3.0");
	CT_CALL(T, V, CT_ANON, "GET", "/v3", NULL, 200, NULL);
	assert_string_equal(ctltest_header(T, "OpenStack-API-Version"),
	    "volume 3.0");

	/* Microversions: 3.0 to 3.44 (latest) served, others refused as
	 * Cinder. */
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: volume 3.0\r\n");
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_header(T, "OpenStack-API-Version"),
	    "volume 3.0");
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: compute 2.1, volume latest\r\n");
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_header(T, "OpenStack-API-Version"),
	    "volume 3.44");
	ctltest_call(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, "OpenStack-API-Version: volume 3.45\r\n");
	ctltest_expect(T, 406, "Version 3.45 is not supported by the API. "
	    "Minimum is 3.0 and maximum is 3.44.");
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
	    "Minimum is 3.0 and maximum is 3.44.");

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
	/* Backups (handlers_volume_backups_test): none yet. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups", NULL),
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 0);
}


/* ---- volumes ---------------------------------------------------------------- */

#define HOST1	"stor1"
#define NOID	"6f1d7c2e-0000-4000-8000-00000000dead"

static int
svc_put(struct store_txn *txn, void *arg)
{
	struct rec_service *s = arg;

	return db_service_put(txn, s);
}

/* An agent on host, as its heartbeats would have written it, last seen
 * age_ms ago. */
static void
host_seen(const char *host, int64_t age_ms, bool disabled)
{
	struct rec_service s;

	memset(&s, 0, sizeof(s));
	db_uuid(s.id);
	s.host = (char *)host;
	s.binary = (char *)"tinystack-agent";
	s.topic = (char *)"compute";
	s.disabled = disabled;
	s.last_seen_at = db_now_ms() - age_ms;
	s.created_at = s.updated_at = s.last_seen_at;
	assert_int_equal(store_write(ctltest_store(T), svc_put, &s), 0);
}

static void
host_up(const char *host)
{
	host_seen(host, 0, false);
}

static size_t
count_volumes(enum ctltest_who who)
{
	CT_CALL(T, V, who, "GET", vpath(who, "/volumes/detail", NULL), NULL,
	    200, NULL);
	return json_array_size(ctltest_get(T, "volumes"));
}

static json_int_t
used(const char *what)
{
	char k[96];

	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, 200, NULL);
	snprintf(k, sizeof(k), "limits.absolute.%s", what);
	return num(k);
}

/* POST /volumes as who with body; the new id into id (202 expected). */
static void
create(enum ctltest_who who, const char *body, char id[37])
{
	CT_CALL(T, V, who, "POST", vpath(who, "/volumes", NULL), body, 202,
	    NULL);
	snprintf(id, 37, "%s", ctltest_str(T, "volume.id"));
	assert_int_equal(strlen(id), 36);
}

static const char *
vstatus(enum ctltest_who who, const char *id)
{
	static char st[32];

	CT_CALL(T, V, who, "GET", vpath(who, "/volumes/%s", id), NULL, 200,
	    NULL);
	snprintf(st, sizeof(st), "%s", ctltest_str(T, "volume.status"));
	return st;
}

/* One volume entry of a report. */
struct rep {
	const char	*id;
	bool		 present, ok;
	uint64_t	 size;
	const char	*msg, *iqn;
};

/* The upload answer report() puts on its first volume (NULL: none). */
static const char	*rep_upload;
static bool		 rep_upload_ok;

/* A host_storage_state of host at generation gen, as its agent sends it,
 * applied through storesync's entry point. */
static void
report(const char *host, uint64_t gen, const struct rep *vols, size_t nv,
    const struct rep *snaps, size_t ns)
{
	struct msg_host_storage_state m;
	struct sch_sto_status sv[8], ss[8];

	memset(&m, 0, sizeof(m));
	memset(sv, 0, sizeof(sv));
	memset(ss, 0, sizeof(ss));
	m.generation = gen;
	m.backend = (char *)"file";
	m.portal = (char *)"127.0.0.1:3260";
	m.total_gb = 100;
	m.free_gb = 90;
	for (size_t i = 0; i < nv; i++) {
		snprintf(sv[i].id, sizeof(sv[i].id), "%s", vols[i].id);
		sv[i].present = vols[i].present;
		sv[i].ok = vols[i].ok;
		sv[i].size_gb = vols[i].size;
		sv[i].message = (char *)vols[i].msg;
		sv[i].iqn = (char *)vols[i].iqn;
	}
	if (nv > 0 && rep_upload != NULL) {
		sv[0].upload_image_id = (char *)rep_upload;
		sv[0].has_upload_ok = true;
		sv[0].upload_ok = rep_upload_ok;
		sv[0].upload_message = rep_upload_ok ? NULL :
		    (char *)"qemu-img failed";
	}
	for (size_t i = 0; i < ns; i++) {
		snprintf(ss[i].id, sizeof(ss[i].id), "%s", snaps[i].id);
		ss[i].present = snaps[i].present;
		ss[i].ok = snaps[i].ok;
	}
	m.volumes.items = sv;
	m.volumes.n = nv;
	m.snapshots.items = ss;
	m.snapshots.n = ns;
	assert_int_equal(storesync_report(ctltest_storesync(T), host, &m), 0);
}

/* The derived message of host and its entry for volume id (NULL if not
 * in it). */
static const struct sch_sto_volume *
desired(const char *host, const char *id, uint64_t *gen)
{
	const struct msg_host_storage *m;

	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	m = storesync_desired(ctltest_storesync(T), host);
	assert_non_null(m);
	if (gen != NULL)
		*gen = m->generation;
	for (size_t i = 0; i < m->volumes.n; i++)
		if (strcmp(m->volumes.items[i].id, id) == 0)
			return &m->volumes.items[i];
	return NULL;
}

/* Before any storage host: a volume goes to error (Cinder's "No valid
 * backend"), counts in the usage, and is deleted at once. */
static void
test_volume_no_host(void **state)
{
	char id[37];

	(void)state;
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"name\":\"nohost\"}}", id);
	assert_string_equal(ctltest_str(T, "volume.status"), "error");
	assert_null(ctltest_get(T, "volume.os-vol-host-attr:host"));
	assert_string_equal(vstatus(CT_MEMBER, id), "error");
	assert_int_equal(used("totalVolumesUsed"), 1);
	assert_int_equal(used("totalGigabytesUsed"), 1);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 404, NULL);
	assert_int_equal(used("totalVolumesUsed"), 0);
	assert_int_equal(used("totalGigabytesUsed"), 0);
}

static void
test_volume_create_errors(void **state)
{
	static const struct {
		const char	*body;
		int		 status;
		const char	*msg;
	} bad[] = {
		{ "{\"volume\":{\"size\":0}}", 400, "Invalid input for "
		    "field/attribute size. Value: 0. 0 is less than the minimum "
		    "of 1" },
		{ "{\"volume\":{\"size\":-1}}", 400, "Invalid input for "
		    "field/attribute size. Value: -1. -1 is less than the "
		    "minimum of 1" },
		{ "{\"volume\":{\"size\":\"x\"}}", 400, NULL },
		{ "{\"volume\":{\"size\":1.5}}", 400, NULL },
		{ "{\"volume\":{\"name\":\"a\"}}", 400, NULL },
		{ "{\"volume\":{\"size\":1,\"volume_type\":\"gold\"}}", 404,
		    "Volume type with name gold could not be found." },
		{ "{\"volume\":{\"size\":1,\"availability_zone\":\"az9\"}}",
		    400, "Invalid input received: Availability zone 'az9' is "
		    "invalid." },
		{ "{\"volume\":{\"size\":1,\"imageRef\":\"" NOID "\"}}", 400,
		    "Invalid input received: Invalid image identifier or "
		    "unable to access requested image." },
		{ "{\"volume\":{\"size\":1,\"snapshot_id\":\"" NOID "\"}}",
		    404, "Snapshot " NOID " could not be found." },
		{ "{\"volume\":{\"size\":1,\"source_volid\":\"" NOID "\"}}",
		    404, "Volume " NOID " could not be found." },
		{ "{\"volume\":{\"size\":1,\"metadata\":[]}}", 400, NULL },
		{ "{\"volume\":{\"size\":1,\"metadata\":{\"k\":1}}}", 400,
		    NULL },
		{ "{\"vol\":{\"size\":1}}", 400, "Missing required element "
		    "'volume' in request body." },
	};
	char body[512], name[301];

	(void)state;
	assert_int_equal(count_volumes(CT_MEMBER), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes",
		    NULL), bad[i].body, bad[i].status, bad[i].msg);
	}
	memset(name, 'n', 300);
	name[300] = '\0';
	snprintf(body, sizeof(body), "{\"volume\":{\"size\":1,\"name\":"
	    "\"%s\"}}", name);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL),
	    body, 400, NULL);
	assert_non_null(strstr(ctltest_errmsg(T), "is too long"));
	/* Nothing was created, nothing is used. */
	assert_int_equal(count_volumes(CT_MEMBER), 0);
	assert_int_equal(used("totalVolumesUsed"), 0);
	assert_int_equal(used("totalGigabytesUsed"), 0);
}

static void
test_volume_quota(void **state)
{
	char id[37], q[128];

	(void)state;
	snprintf(q, sizeof(q), "/os-quota-sets/%s", T->project_id[CT_MEMBER]);
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, q, NULL),
	    "{\"quota_set\":{\"gigabytes\":3,\"volumes\":1,"
	    "\"per_volume_gigabytes\":2}}", 200, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL),
	    "{\"volume\":{\"size\":3}}", 413, "Requested volume size 3G is "
	    "larger than maximum allowed limit 2G.");
	assert_int_equal(num("overLimit.code"), 413);
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, q, NULL),
	    "{\"quota_set\":{\"per_volume_gigabytes\":-1}}", 200, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL),
	    "{\"volume\":{\"size\":4}}", 413, "Requested volume or snapshot "
	    "exceeds allowed gigabytes quota. Requested 4G, quota is 3G and 0G "
	    "has been consumed.");
	create(CT_MEMBER, "{\"volume\":{\"size\":2}}", id);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL),
	    "{\"volume\":{\"size\":1}}", 413, "Maximum number of volumes "
	    "allowed (1) exceeded for quota 'volumes'.");
	assert_int_equal(count_volumes(CT_MEMBER), 1);
	/* The usage shows in os-quota-sets too. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "%s?usage=True", q),
	    NULL, 200, NULL);
	assert_int_equal(num("quota_set.volumes.in_use"), 1);
	assert_int_equal(num("quota_set.gigabytes.in_use"), 2);
	assert_int_equal(num("quota_set.gigabytes.limit"), 3);
	/* -1 is unlimited. */
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, q, NULL),
	    "{\"quota_set\":{\"volumes\":-1,\"gigabytes\":-1}}", 200, NULL);
	{
		char id2[37];

		create(CT_MEMBER, "{\"volume\":{\"size\":50}}", id2);
		CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER,
		    "/volumes/%s", id2), NULL, 202, NULL);
	}
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, q, NULL), NULL, 200,
	    NULL);
	assert_int_equal(used("totalVolumesUsed"), 0);
}

/* With a storage host: the volume's life through the storage sync. */
static void
test_volume_lifecycle(void **state)
{
	const struct sch_sto_volume *sv;
	uint64_t gen;
	char id[37], id2[37], sid[37], b[256];

	(void)state;
	host_up(HOST1);
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"name\":\"test\","
	    "\"description\":null,\"volume_type\":null,"
	    "\"availability_zone\":null,\"metadata\":{},\"imageRef\":null,"
	    "\"snapshot_id\":null,\"source_volid\":null,"
	    "\"consistencygroup_id\":null,\"backup_id\":null}}", id);
	assert_string_equal(ctltest_str(T, "volume.status"), "creating");
	assert_string_equal(ctltest_str(T, "volume.bootable"), "false");
	assert_string_equal(ctltest_str(T, "volume.volume_type"),
	    "__DEFAULT__");
	assert_string_equal(ctltest_str(T, "volume.availability_zone"), "nova");
	/* POST answers without the admin's extras (tempest's schema). */
	assert_null(ctltest_get(T, "volume.os-vol-tenant-attr:tenant_id"));
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.os-vol-tenant-attr:"
	    "tenant_id"), T->project_id[CT_MEMBER]);
	assert_non_null(strstr(ctltest_str(T, "volume.os-vol-host-attr:host"),
	    HOST1));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_null(ctltest_get(T, "volume.os-vol-host-attr:host"));

	/* The host is told; a report of the volume made moves it on. */
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_true(sv->present);
	assert_int_equal(sv->size_gb, 1);
	assert_int_equal(sv->exports.n, 0);
	{
		struct rep r = { id, true, true, 0, NULL, NULL };

		/* Not yet the size: still creating. */
		report(HOST1, gen, &r, 1, NULL, 0);
		assert_string_equal(vstatus(CT_MEMBER, id), "creating");
		r.size = 1;
		report(HOST1, gen, &r, 1, NULL, 0);
		assert_string_equal(vstatus(CT_MEMBER, id), "available");
	}
	assert_int_equal(storesync_applied(ctltest_storesync(T), HOST1), gen);

	/* A second volume whose creation fails: error. */
	create(CT_MEMBER, "{\"volume\":{\"size\":2,\"name\":\"bad\"}}", id2);
	sv = desired(HOST1, id2, &gen);
	assert_non_null(sv);
	{
		struct rep r = { id2, false, false, 0, "disk full", NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id2), "error");

	/* Lists: filters, sorting, pagination. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes?name=test", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 1);
	assert_string_equal(ctltest_str(T, "volumes.0.id"), id);
	assert_null(ctltest_get(T, "volumes.0.status"));	/* summary */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/detail?status=error", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 1);
	assert_string_equal(ctltest_str(T, "volumes.0.id"), id2);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/detail?sort=size:asc", NULL), NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volumes.0.id"), id);
	assert_string_equal(ctltest_str(T, "volumes.1.id"), id2);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/detail?sort_key=size&sort_dir=desc", NULL), NULL, 200,
	    NULL);
	assert_string_equal(ctltest_str(T, "volumes.0.id"), id2);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/detail?sort=size:asc&limit=1", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 1);
	assert_string_equal(ctltest_str(T, "volumes.0.id"), id);
	assert_string_equal(ctltest_str(T, "volumes_links.0.rel"), "next");
	assert_non_null(strstr(ctltest_str(T, "volumes_links.0.href"), id));
	assert_non_null(strstr(ctltest_str(T, "volumes_links.0.href"),
	    "/volumes/detail?sort=size:asc&limit=1&marker="));
	snprintf(b, sizeof(b), "/volumes/detail?sort=size:asc&limit=1&"
	    "marker=%s", id);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, b, NULL), NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 1);
	assert_string_equal(ctltest_str(T, "volumes.0.id"), id2);
	/* A full page links the next even when it is the last, as Cinder
	 * does; that next page is empty and links nothing. */
	assert_non_null(strstr(ctltest_str(T, "volumes_links.0.href"), id2));
	snprintf(b, sizeof(b), "/volumes/detail?sort=size:asc&limit=1&"
	    "marker=%s", id2);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, b, NULL), NULL, 200,
	    NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 0);
	assert_null(ctltest_get(T, "volumes_links"));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/detail?limit=5", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 2);
	assert_null(ctltest_get(T, "volumes_links"));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes?marker=" NOID, NULL), NULL, 404, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes?sort=bogus:asc", NULL), NULL, 400, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes?limit=-1", NULL), NULL, 400, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/detail?bootable=true", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 0);

	/* Update and metadata. */
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, "/volumes/%s", id),
	    "{\"volume\":{\"name\":\"renamed\",\"description\":\"d\","
	    "\"metadata\":{\"a\":\"1\"}}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.name"), "renamed");
	assert_string_equal(ctltest_str(T, "volume.metadata.a"), "1");
	assert_null(ctltest_get(T, "volume.os-vol-tenant-attr:tenant_id"));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/detail?metadata={\"a\":\"1\"}", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 1);
	assert_string_equal(ctltest_str(T, "volumes.0.name"), "renamed");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER,
	    "/volumes/%s/metadata", id), "{\"metadata\":{\"b\":\"2\"}}", 200,
	    NULL);
	assert_string_equal(ctltest_str(T, "metadata.a"), "1");
	assert_string_equal(ctltest_str(T, "metadata.b"), "2");
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/%s/metadata/b", id), NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "meta.b"), "2");
	snprintf(b, sizeof(b), "/volumes/%s/metadata/b", id);
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, b, NULL),
	    "{\"meta\":{\"c\":\"3\"}}", 400, "Request body and URI mismatch");
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, b, NULL),
	    "{\"meta\":{\"b\":\"22\"}}", 200, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, b, NULL), NULL,
	    200, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, b, NULL), NULL, 404,
	    NULL);
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER,
	    "/volumes/%s/metadata", id), "{\"metadata\":{\"z\":\"9\"}}", 200,
	    NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER,
	    "/volumes/%s/metadata", id), NULL, 200, NULL);
	assert_null(ctltest_get(T, "metadata.a"));
	assert_string_equal(ctltest_str(T, "metadata.z"), "9");

	/* Extend: only available, only bigger, within quota. */
	snprintf(b, sizeof(b), "/volumes/%s/action", id2);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-extend\":{\"new_size\":3}}", 400, NULL);
	snprintf(b, sizeof(b), "/volumes/%s/action", id);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-extend\":{\"new_size\":1}}", 400, "Invalid input received: "
	    "New size for extend must be greater than current size. (current: "
	    "1, extended: 1).");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-extend\":{\"new_size\":5000}}", 413, NULL);
	assert_int_equal(used("totalGigabytesUsed"), 3);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-extend\":{\"new_size\":2}}", 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "extending");
	assert_int_equal(used("totalGigabytesUsed"), 4);
	sv = desired(HOST1, id, &gen);
	assert_int_equal(sv->size_gb, 2);
	{
		struct rep r = { id, true, true, 2, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");

	/* Actions: bootable, readonly, the legacy attach flow. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-set_bootable\":{\"bootable\":true}}", 200, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.bootable"), "true");
	/* readonly is not in metadata until it is set (Cinder's visible
	 * admin metadata); then "True"/"False" in show and detail. */
	assert_null(ctltest_get(T, "volume.metadata.readonly"));
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-update_readonly_flag\":{\"readonly\":\"maybe\"}}", 400,
	    NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_null(ctltest_get(T, "volume.metadata.readonly"));
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-update_readonly_flag\":{\"readonly\":true}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.metadata.readonly"),
	    "True");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-update_readonly_flag\":{\"readonly\":false}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/detail",
	    NULL), NULL, 200, NULL);
	{
		json_t *vols = ctltest_get(T, "volumes"), *o;
		size_t k;
		int seen = 0;

		json_array_foreach(vols, k, o) {
			if (strcmp(json_string_value(json_object_get(o, "id")),
			    id) != 0)
				continue;
			assert_string_equal(json_string_value(json_object_get(
			    json_object_get(o, "metadata"), "readonly")),
			    "False");
			seen = 1;
		}
		assert_true(seen);
	}
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-nope\":{}}", 400, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-reset_status\":{\"status\":\"error\"}}", 403, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-begin_detaching\":{}}", 400, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-reserve\":{}}", 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "attaching");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-unreserve\":{}}", 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-attach\":{\"instance_uuid\":\"" NOID "\","
	    "\"mountpoint\":\"/dev/vdb\",\"mode\":\"rw\"}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.status"), "in-use");
	assert_string_equal(ctltest_str(T, "volume.attachments.0.server_id"),
	    NOID);
	assert_string_equal(ctltest_str(T, "volume.attachments.0.device"),
	    "/dev/vdb");
	/* In use: no delete. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 400, NULL);
	assert_non_null(strstr(ctltest_errmsg(T), "Invalid volume:"));
	assert_string_equal(vstatus(CT_MEMBER, id), "in-use");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-begin_detaching\":{}}", 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "detaching");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-roll_detaching\":{}}", 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "in-use");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, b, NULL),
	    "{\"os-detach\":{}}", 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, b, NULL),
	    "{\"os-reset_status\":{\"status\":\"bogus\"}}", 400, NULL);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, b, NULL),
	    "{\"os-reset_status\":{\"status\":\"error\"}}", 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "error");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, b, NULL),
	    "{\"os-reset_status\":{\"status\":\"available\"}}", 202, NULL);

	/* Snapshots: quota, create, list, a volume with one is not
	 * deleted, delete through the host. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/snapshots", NULL),
	    "{\"snapshot\":{\"volume_id\":\"" NOID "\"}}", 404, NULL);
	/* Bad metadata: 400, nothing created. */
	snprintf(b, sizeof(b), "{\"snapshot\":{\"volume_id\":\"%s\","
	    "\"metadata\":{\"k\":1}}}", id);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/snapshots", NULL),
	    b, 400, NULL);
	assert_int_equal(used("totalSnapshotsUsed"), 0);
	snprintf(b, sizeof(b), "{\"snapshot\":{\"volume_id\":\"%s\","
	    "\"name\":\"s1\",\"metadata\":{\"sk\":\"sv\"}}}", id);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/snapshots", NULL),
	    b, 202, NULL);
	snprintf(sid, sizeof(sid), "%s", ctltest_str(T, "snapshot.id"));
	assert_string_equal(ctltest_str(T, "snapshot.metadata.sk"), "sv");
	assert_string_equal(ctltest_str(T, "snapshot.status"), "creating");
	assert_int_equal(used("totalSnapshotsUsed"), 1);
	assert_int_equal(used("totalGigabytesUsed"), 6);
	{
		const struct msg_host_storage *m;
		struct rep r = { sid, true, true, 0, NULL, NULL };

		(void)desired(HOST1, id, &gen);
		m = storesync_desired(ctltest_storesync(T), HOST1);
		assert_int_equal(m->snapshots.n, 1);
		assert_string_equal(m->snapshots.items[0].volume_id, id);
		assert_true(m->snapshots.items[0].present);
		report(HOST1, gen, NULL, 0, &r, 1);
	}
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/snapshots/%s", sid),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "snapshot.status"), "available");
	/* The owner sees Cinder's extended attributes (tempest's schema
	 * requires them in show and detail). */
	assert_string_equal(ctltest_str(T,
	    "snapshot.os-extended-snapshot-attributes:progress"), "100%");
	assert_string_equal(ctltest_str(T, "snapshot.metadata.sk"), "sv");
	assert_non_null(ctltest_get(T,
	    "snapshot.os-extended-snapshot-attributes:project_id"));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/snapshots/detail",
	    NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "snapshots")), 1);
	assert_string_equal(ctltest_str(T,
	    "snapshots.0.os-extended-snapshot-attributes:progress"), "100%");
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/snapshots", NULL),
	    NULL, 200, NULL);
	assert_null(ctltest_get(T,
	    "snapshots.0.os-extended-snapshot-attributes:progress"));
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, "/snapshots/%s", sid),
	    "{\"snapshot\":{\"name\":\"s2\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "snapshot.name"), "s2");
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/snapshots/%s", sid),
	    NULL, 404, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 400, "Invalid volume: Volume still has 1 dependent "
	    "snapshots.");
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/snapshots/%s",
	    sid), NULL, 202, NULL);
	{
		const struct msg_host_storage *m;
		struct rep r = { sid, false, true, 0, NULL, NULL };

		(void)desired(HOST1, id, &gen);
		m = storesync_desired(ctltest_storesync(T), HOST1);
		assert_false(m->snapshots.items[0].present);
		report(HOST1, gen, NULL, 0, &r, 1);
	}
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/snapshots/%s", sid),
	    NULL, 404, NULL);
	assert_int_equal(used("totalSnapshotsUsed"), 0);

	/* Delete: deleting until the host reports it gone. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "deleting");
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id2),
	    NULL, 202, NULL);
	sv = desired(HOST1, id, &gen);
	assert_false(sv->present);
	{
		struct rep r[2] = { { id, false, true, 0, NULL, NULL },
		    { id2, true, false, 2, "busy", NULL } };

		report(HOST1, gen, r, 2, NULL, 0);
	}
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 404, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id2), "error_deleting");
	/* As in Cinder, only after an admin's reset. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id2),
	    NULL, 400, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id2), "error_deleting");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/volumes/%s/action",
	    id2), "{\"os-reset_status\":{\"status\":\"error\"}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id2),
	    NULL, 202, NULL);
	(void)desired(HOST1, id2, &gen);
	{
		struct rep r = { id2, false, true, 0, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_int_equal(count_volumes(CT_MEMBER), 0);
	assert_int_equal(used("totalVolumesUsed"), 0);
	assert_int_equal(used("totalGigabytesUsed"), 0);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/volumes/%s", id),
	    NULL, 404, NULL);
}

/* Another project's volume is not found, whatever the request; the admin
 * sees it. */
static void
test_volume_cross_project(void **state)
{
	char id[37];

	(void)state;
	host_up(HOST1);
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"name\":\"mine\"}}", id);
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/volumes/%s", id),
	    NULL, 404, NULL);
	CT_CALL(T, V, CT_OTHER, "PUT", vpath(CT_OTHER, "/volumes/%s", id),
	    "{\"volume\":{\"name\":\"theirs\"}}", 404, NULL);
	CT_CALL(T, V, CT_OTHER, "DELETE", vpath(CT_OTHER, "/volumes/%s", id),
	    NULL, 404, NULL);
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, "/volumes/%s/action",
	    id), "{\"os-extend\":{\"new_size\":2}}", 404, NULL);
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/volumes/%s/metadata",
	    id), NULL, 404, NULL);
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/volumes/detail",
	    NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 0);
	{
		char b[200];

		snprintf(b, sizeof(b), "{\"volume\":{\"size\":1,"
		    "\"source_volid\":\"%s\"}}", id);
		CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, "/volumes",
		    NULL), b, 404, NULL);
		snprintf(b, sizeof(b), "{\"snapshot\":{\"volume_id\":\"%s\"}}",
		    id);
		CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, "/snapshots",
		    NULL), b, 404, NULL);
	}
	/* Unchanged, and the admin lists it with all_tenants. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.name"), "mine");
	assert_string_equal(ctltest_str(T, "volume.status"), "creating");
	assert_int_equal(count_volumes(CT_OTHER), 0);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN,
	    "/volumes/detail?all_tenants=1&name=mine", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumes")), 1);
	/* Clean up through the admin: reset, delete, the host's report. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/volumes/%s/action",
	    id), "{\"os-reset_status\":{\"status\":\"available\"}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	{
		uint64_t gen;
		struct rep r = { id, false, true, 0, NULL, NULL };

		(void)desired(HOST1, id, &gen);
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_int_equal(count_volumes(CT_MEMBER), 0);
}

struct att {
	const char	*op;
	const char	*project;	/* NULL: the member's */
	const char	*vol, *server, *host;
	char		 aid[37];
	struct volume_conn conn;
};

static int
att_fn(struct store_txn *txn, void *arg)
{
	struct att *a = arg;
	struct volume *v = ctltest_volume(T);

	if (strcmp(a->op, "begin") == 0)
		return volume_attach_begin(v, txn, a->project != NULL ?
		    a->project : T->project_id[CT_MEMBER],
		    a->vol, a->server, a->host, "/dev/vdb", a->aid);
	if (strcmp(a->op, "conn") == 0)
		return volume_attach_conn(v, txn, a->vol, a->aid, &a->conn);
	if (strcmp(a->op, "done") == 0)
		return volume_attach_done(v, txn, a->vol, a->aid);
	if (strcmp(a->op, "detach") == 0)
		return volume_detach_begin(v, txn, a->vol, a->aid);
	return volume_detach_done(v, txn, a->vol, a->aid);
}

static int
att(struct att *a, const char *op)
{
	a->op = op;
	return store_write(ctltest_store(T), att_fn, a);
}

/* The compute side: attach, export, connection, detach. */
static void
test_volume_attach(void **state)
{
	const struct sch_sto_volume *sv;
	struct att a = { .server = "6f1d7c2e-0000-4000-8000-0000000000a1",
	    .host = "Compute_1" };
	struct att a2 = { .server = "6f1d7c2e-0000-4000-8000-0000000000a2",
	    .host = "compute-2" };
	char id[37], init[256];
	uint64_t gen;

	(void)state;
	assert_int_equal(volume_initiator_name("Compute_1.x-y", init,
	    sizeof(init)), 0);
	assert_string_equal(init,
	    "iqn.2010-10.org.openstack.tinystack:-ompute-1.x-y");
	assert_int_equal(volume_initiator_name("h", init, 10), -1);

	host_up(HOST1);
	create(CT_MEMBER, "{\"volume\":{\"size\":1}}", id);
	a.vol = a2.vol = id;
	/* Not available yet: refused, nothing changed. */
	assert_int_equal(att(&a, "begin"), -1);
	assert_string_equal(vstatus(CT_MEMBER, id), "creating");
	sv = desired(HOST1, id, &gen);
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	/* Another project's volume: not found, nothing changed. */
	{
		struct att o = a;

		o.project = T->project_id[CT_OTHER];
		assert_int_equal(att(&o, "begin"), -1);
		assert_string_equal(vstatus(CT_MEMBER, id), "available");
	}
	assert_int_equal(att(&a, "begin"), 0);
	assert_string_equal(vstatus(CT_MEMBER, id), "attaching");
	/* A second attach of a volume that is not multiattach: 400. */
	assert_int_equal(att(&a2, "begin"), -1);
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_int_equal(sv->exports.n, 1);
	assert_string_equal(sv->exports.items[0].attachment_id, a.aid);
	assert_string_equal(sv->exports.items[0].initiator,
	    "iqn.2010-10.org.openstack.tinystack:-ompute-1");
	assert_int_equal(strlen(sv->exports.items[0].chap_user), 20);
	assert_true(strlen(sv->exports.items[0].chap_secret) >= 16);
	assert_int_equal(att(&a, "conn"), 0);
	assert_false(a.conn.ready);
	assert_int_equal(strncmp(a.conn.iqn, "iqn.2010-10.org.openstack:volume-",
	    33), 0);
	assert_string_equal(a.conn.iqn + 33, id);
	assert_int_equal(a.conn.lun, 1);
	assert_string_equal(a.conn.portal, "127.0.0.1:3260");
	assert_string_equal(a.conn.chap_user, sv->exports.items[0].chap_user);
	{
		char iqn[128];
		struct rep r = { id, true, true, 1, NULL, iqn };

		snprintf(iqn, sizeof(iqn), "iqn.2010-10.org.openstack:volume-%s",
		    id);
		/* An older generation does not make it ready. */
		report(HOST1, gen - 1, &r, 1, NULL, 0);
		assert_int_equal(att(&a, "conn"), 0);
		assert_false(a.conn.ready);
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_int_equal(att(&a, "conn"), 0);
	assert_true(a.conn.ready);
	assert_int_equal(att(&a, "done"), 0);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.status"), "in-use");
	assert_string_equal(ctltest_str(T, "volume.attachments.0."
	    "attachment_id"), a.aid);
	assert_string_equal(ctltest_str(T, "volume.attachments.0.host_name"),
	    "Compute_1");
	/* The CLI's delete of an in-use volume: 400, still in use. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 400, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "in-use");
	assert_int_equal(att(&a, "detach"), 0);
	assert_string_equal(vstatus(CT_MEMBER, id), "detaching");
	assert_int_equal(att(&a, "detach_done"), 0);
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	/* Idempotent. */
	assert_int_equal(att(&a, "detach_done"), 0);
	sv = desired(HOST1, id, &gen);
	assert_int_equal(sv->exports.n, 0);
	/* A hello forgets what was in place. */
	assert_int_equal(att(&a2, "begin"), 0);
	(void)desired(HOST1, id, &gen);
	{
		char iqn[128];
		struct rep r = { id, true, true, 1, NULL, iqn };

		snprintf(iqn, sizeof(iqn), "iqn.2010-10.org.openstack:volume-%s",
		    id);
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_int_equal(att(&a2, "conn"), 0);
	assert_true(a2.conn.ready);
	storesync_hello(ctltest_storesync(T), HOST1, db_now_ms());
	assert_int_equal(att(&a2, "conn"), 0);
	assert_false(a2.conn.ready);
	assert_int_equal(att(&a2, "detach_done"), 0);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	(void)desired(HOST1, id, &gen);
	{
		struct rep r = { id, false, true, 0, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_int_equal(count_volumes(CT_MEMBER), 0);
}

/* Report every volume of ids present (or gone) at the host's desired
 * generation. */
static void
settle(const char **ids, size_t n, bool present)
{
	struct rep r[8];
	uint64_t gen;

	assert_true(n <= 8);
	(void)desired(HOST1, ids[0], &gen);
	for (size_t i = 0; i < n; i++) {
		r[i].id = ids[i];
		r[i].present = present;
		r[i].ok = true;
		r[i].size = present ? 1 : 0;
		r[i].msg = NULL;
		r[i].iqn = NULL;
	}
	report(HOST1, gen, r, n, NULL, 0);
}

/* Filled from an image, cloned from a volume, made from a snapshot: the
 * host is told the source; bootable and volume_image_metadata follow. */
static void
test_volume_sources(void **state)
{
	const struct sch_sto_volume *sv;
	char img[64], queued[64], b[256], id[37], clone[37], sid[37], fs[37];
	const char *ids[3];
	uint64_t gen;

	(void)state;
	host_up(HOST1);
	CT_CALL(T, CT_IMAGE, CT_ADMIN, "POST", "/v2/images", "{\"name\": "
	    "\"vimg\", \"disk_format\": \"raw\", \"container_format\": "
	    "\"bare\", \"visibility\": \"public\"}", 201, NULL);
	snprintf(img, sizeof(img), "%s", ctltest_str(T, "id"));
	snprintf(b, sizeof(b), "/v2/images/%s/file", img);
	ctltest_call(T, CT_IMAGE, CT_ADMIN, "PUT", b, "0123456789abcdef",
	    "Content-Type: application/octet-stream\r\n");
	ctltest_expect(T, 204, NULL);
	CT_CALL(T, CT_IMAGE, CT_ADMIN, "POST", "/v2/images", "{\"name\": "
	    "\"vq\", \"disk_format\": \"raw\", \"container_format\": "
	    "\"bare\", \"visibility\": \"public\"}", 201, NULL);
	snprintf(queued, sizeof(queued), "%s", ctltest_str(T, "id"));

	/* An image that is not active: 400, nothing made. */
	snprintf(b, sizeof(b), "{\"volume\":{\"size\":1,\"imageRef\":\"%s\"}}",
	    queued);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL), b,
	    400, "Invalid input received: Invalid image identifier or unable "
	    "to access requested image.");
	assert_int_equal(count_volumes(CT_MEMBER), 0);

	/* From the image, its size from the image's (1 GiB). */
	snprintf(b, sizeof(b), "{\"volume\":{\"imageRef\":\"%s\"}}", img);
	create(CT_MEMBER, b, id);
	assert_int_equal(num("volume.size"), 1);
	assert_string_equal(ctltest_str(T, "volume.bootable"), "false");
	assert_null(ctltest_get(T, "volume.volume_image_metadata"));
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_string_equal(sv->image_id, img);
	assert_string_equal(sv->image_disk_format, "raw");
	assert_true(sv->has_image_size);
	assert_int_equal(sv->image_size, 16);
	/* The capability is minted when sending, never kept. */
	assert_null(sv->image_token);
	ids[0] = id;
	settle(ids, 1, true);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.status"), "available");
	assert_string_equal(ctltest_str(T, "volume.bootable"), "true");
	assert_string_equal(ctltest_str(T, "volume.volume_image_metadata."
	    "image_id"), img);
	assert_string_equal(ctltest_str(T, "volume.volume_image_metadata."
	    "image_name"), "vimg");
	/* Available: the source is no longer in the message. */
	sv = desired(HOST1, id, NULL);
	assert_null(sv->image_id);

	/* A clone: on the source's host, bootable with it. */
	snprintf(b, sizeof(b), "{\"volume\":{\"source_volid\":\"%s\"}}", id);
	create(CT_MEMBER, b, clone);
	assert_string_equal(ctltest_str(T, "volume.bootable"), "true");
	assert_string_equal(ctltest_str(T, "volume.source_volid"), id);
	sv = desired(HOST1, clone, NULL);
	assert_non_null(sv);
	assert_string_equal(sv->source_volume, id);
	/* A source still creating: 400, nothing made. */
	snprintf(b, sizeof(b), "{\"volume\":{\"source_volid\":\"%s\"}}",
	    clone);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL), b,
	    400, "Invalid volume: Source volume status must be available or "
	    "in-use.");
	assert_int_equal(count_volumes(CT_MEMBER), 2);

	/* From a snapshot. */
	snprintf(b, sizeof(b), "{\"snapshot\":{\"volume_id\":\"%s\"}}", id);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/snapshots", NULL),
	    b, 202, NULL);
	snprintf(sid, sizeof(sid), "%s", ctltest_str(T, "snapshot.id"));
	snprintf(b, sizeof(b), "{\"volume\":{\"snapshot_id\":\"%s\"}}", sid);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL), b,
	    400, "Invalid snapshot: Originating snapshot status must be one of "
	    "'available' values");
	{
		struct rep r = { sid, true, true, 0, NULL, NULL };

		(void)desired(HOST1, id, &gen);
		report(HOST1, gen, NULL, 0, &r, 1);
	}
	create(CT_MEMBER, b, fs);
	assert_string_equal(ctltest_str(T, "volume.snapshot_id"), sid);
	assert_int_equal(num("volume.size"), 1);
	sv = desired(HOST1, fs, NULL);
	assert_string_equal(sv->source_snapshot, sid);

	/* Clean up through the host. */
	ids[0] = clone;
	ids[1] = fs;
	settle(ids, 2, true);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/snapshots/%s",
	    sid), NULL, 202, NULL);
	{
		struct rep r = { sid, false, true, 0, NULL, NULL };

		(void)desired(HOST1, id, &gen);
		report(HOST1, gen, NULL, 0, &r, 1);
	}
	ids[0] = id;
	ids[1] = clone;
	ids[2] = fs;
	for (size_t i = 0; i < 3; i++)
		CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER,
		    "/volumes/%s", ids[i]), NULL, 202, NULL);
	settle(ids, 3, false);
	assert_int_equal(count_volumes(CT_MEMBER), 0);
	assert_int_equal(used("totalGigabytesUsed"), 0);
	assert_int_equal(used("totalSnapshotsUsed"), 0);
}

/* Placement: the up host with the most free space in its last report;
 * down and disabled hosts are never chosen. */
static void
test_volume_placement(void **state)
{
	char id[37], id2[37];
	uint64_t gen;

	(void)state;
	host_up(HOST1);
	host_seen("stor-down", 3600 * 1000, false);
	host_seen("stor-off", 0, true);
	host_up("stor2");
	/* stor1 reported 90 GiB free (the reports above); stor2 200. */
	{
		struct msg_host_storage_state m;

		memset(&m, 0, sizeof(m));
		m.backend = (char *)"lvm";
		m.portal = (char *)"127.0.0.2:3260";
		m.total_gb = 300;
		m.free_gb = 200;
		assert_int_equal(storesync_report(ctltest_storesync(T), "stor2",
		    &m), 0);
		m.free_gb = 5000;
		assert_int_equal(storesync_report(ctltest_storesync(T),
		    "stor-down", &m), 0);
		assert_int_equal(storesync_report(ctltest_storesync(T),
		    "stor-off", &m), 0);
	}
	create(CT_MEMBER, "{\"volume\":{\"size\":1}}", id);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.os-vol-host-attr:host"),
	    "stor2@tinystack#tinystack");
	assert_non_null(desired("stor2", id, &gen));
	assert_null(desired(HOST1, id, NULL));
	/* A clone stays with its source, whatever the space elsewhere. */
	{
		char b[128];
		struct rep r = { id, true, true, 1, NULL, NULL };

		report("stor2", gen, &r, 1, NULL, 0);
		snprintf(b, sizeof(b), "{\"volume\":{\"source_volid\":\"%s\"}}",
		    id);
		create(CT_MEMBER, b, id2);
	}
	assert_non_null(desired("stor2", id2, &gen));
	/* A report from another host does not move stor2's volumes. */
	{
		struct rep r = { id2, false, false, 0, "not mine", NULL };

		report(HOST1, 1, &r, 1, NULL, 0);
		assert_string_equal(vstatus(CT_MEMBER, id2), "creating");
	}
	{
		struct rep r[2] = { { id, true, true, 1, NULL, NULL },
		    { id2, true, true, 1, NULL, NULL } };

		report("stor2", gen, r, 2, NULL, 0);
	}
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id2),
	    NULL, 202, NULL);
	(void)desired("stor2", id, &gen);
	{
		struct rep r[2] = { { id, false, true, 0, NULL, NULL },
		    { id2, false, true, 0, NULL, NULL } };

		report("stor2", gen, r, 2, NULL, 0);
	}
	assert_int_equal(count_volumes(CT_MEMBER), 0);
}

static const char *vhost(const char *);

static size_t
count_types(enum ctltest_who who, const char *query)
{
	CT_CALL(T, V, who, "GET", vpath(who, "/types%s", query), NULL, 200,
	    NULL);
	return json_array_size(ctltest_get(T, "volume_types"));
}

/* The volume type's admin-made records: create/update/delete with their
 * refusals (status, Cinder's message, nothing changed), visibility of
 * private types, extra specs, and volume_backend_name steering placement
 * (HOST1 reported "file", stor2 "lvm" with more free space). */
static void
test_volume_types(void **state)
{
	char tf[37], tp[37], tx[37], v1[37], v2[37], v3[37], b[256];
	uint64_t gen;

	(void)state;
	{
		struct msg_host_storage_state m;

		memset(&m, 0, sizeof(m));
		m.backend = (char *)"lvm";
		m.portal = (char *)"127.0.0.2:3260";
		m.total_gb = 300;
		m.free_gb = 200;
		assert_int_equal(storesync_report(ctltest_storesync(T), "stor2",
		    &m), 0);
	}
	/* Only the admin manages types. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"tfile\"}}", 403, NULL);
	assert_int_equal(count_types(CT_ADMIN, "?is_public=None"), 1);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"tfile\",\"description\":\"d\","
	    "\"extra_specs\":{\"volume_backend_name\":\"file\"}}}", 200, NULL);
	snprintf(tf, sizeof(tf), "%s", ctltest_str(T, "volume_type.id"));
	assert_int_equal(strlen(tf), 36);
	assert_true(json_is_true(ctltest_get(T,
	    "volume_type.os-volume-type-access:is_public")));
	assert_string_equal(ctltest_str(T,
	    "volume_type.extra_specs.volume_backend_name"), "file");
	/* Names are unique (the built-in one's too); empty is refused. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"tfile\"}}", 409,
	    "Volume Type tfile already exists.");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"__DEFAULT__\"}}", 409,
	    "Volume Type __DEFAULT__ already exists.");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"\"}}", 400,
	    "Volume type name can not be empty.");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"x\",\"extra_specs\":{\"k\":1}}}", 400,
	    NULL);
	assert_int_equal(count_types(CT_ADMIN, "?is_public=None"), 2);
	/* The member sees the type, not its extra specs. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/types/%s", tf),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume_type.name"), "tfile");
	assert_null(ctltest_get(T, "volume_type.extra_specs"));
	/* A private type: the admin's only. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"tpriv\","
	    "\"os-volume-type-access:is_public\":false}}", 200, NULL);
	snprintf(tp, sizeof(tp), "%s", ctltest_str(T, "volume_type.id"));
	assert_int_equal(count_types(CT_MEMBER, ""), 2);
	assert_int_equal(count_types(CT_MEMBER, "?is_public=None"), 2);
	assert_int_equal(count_types(CT_ADMIN, ""), 2);
	assert_int_equal(count_types(CT_ADMIN, "?is_public=None"), 3);
	assert_int_equal(count_types(CT_ADMIN, "?is_public=false"), 1);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/types?is_public=maybe",
	    NULL), NULL, 400, "Invalid is_public filter [maybe]");
	snprintf(b, sizeof(b), "Volume type %s could not be found.", tp);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/types/%s", tp),
	    NULL, 404, b);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL),
	    "{\"volume\":{\"size\":1,\"volume_type\":\"tpriv\"}}", 404,
	    "Volume type with name tpriv could not be found.");

	/* Extra specs. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types/%s/extra_specs",
	    tp), "{\"extra_specs\":{\"a\":\"1\",\"b\":\"2\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "extra_specs.b"), "2");
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN,
	    "/types/%s/extra_specs/a", tp), "{\"a\":\"3\"}", 200, NULL);
	assert_string_equal(ctltest_str(T, "a"), "3");
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN,
	    "/types/%s/extra_specs/a", tp), "{\"b\":\"3\"}", 400,
	    "Request body and URI mismatch");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER,
	    "/types/%s/extra_specs", tf), "{\"extra_specs\":{\"a\":\"1\"}}",
	    403, NULL);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN,
	    "/types/%s/extra_specs/b", tp), NULL, 202, NULL);
	snprintf(b, sizeof(b), "Volume Type %s has no extra specs with key b.",
	    tp);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN,
	    "/types/%s/extra_specs/b", tp), NULL, 404, b);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN,
	    "/types/%s/extra_specs/b", tp), NULL, 404, b);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/types/%s/extra_specs",
	    tp), NULL, 200, NULL);
	assert_int_equal(json_object_size(ctltest_get(T, "extra_specs")), 1);
	assert_string_equal(ctltest_str(T, "extra_specs.a"), "3");

	/* Placement by volume_backend_name: file goes to HOST1 although
	 * stor2 (lvm) has more space; an unknown backend errs. */
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"volume_type\":\"tfile\"}}",
	    v1);
	assert_string_equal(ctltest_str(T, "volume.volume_type"), "tfile");
	assert_string_equal(vhost(v1), HOST1 "@tinystack#tinystack");
	assert_non_null(desired(HOST1, v1, &gen));
	snprintf(b, sizeof(b), "{\"volume\":{\"size\":1,\"volume_type\":"
	    "\"%s\"}}", tf);
	create(CT_MEMBER, b, v2);
	assert_string_equal(vhost(v2), HOST1 "@tinystack#tinystack");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"tceph\",\"extra_specs\":"
	    "{\"volume_backend_name\":\"ceph\"}}}", 200, NULL);
	snprintf(tx, sizeof(tx), "%s", ctltest_str(T, "volume_type.id"));
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"volume_type\":\"tceph\"}}",
	    v3);
	assert_string_equal(ctltest_str(T, "volume.status"), "error");
	assert_string_equal(vhost(v3), "");
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", v3),
	    NULL, 202, NULL);
	/* Unknown types: 404, nothing made. */
	{
		size_t n = count_volumes(CT_MEMBER);

		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes",
		    NULL), "{\"volume\":{\"size\":1,\"volume_type\":\"nope\"}}",
		    404, "Volume type with name nope could not be found.");
		snprintf(b, sizeof(b), "{\"volume\":{\"size\":1,\"volume_type\":"
		    "\"%s\"}}", NOID);
		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes",
		    NULL), b, 404, NULL);
		assert_int_equal(count_volumes(CT_MEMBER), n);
	}

	/* Rename: the volumes show the new name; a taken name is refused. */
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/types/%s", tf),
	    "{\"volume_type\":{\"name\":\"tpriv\"}}", 409,
	    "Volume Type tpriv already exists.");
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/types/%s", tf),
	    "{\"volume_type\":{}}", 400, "Specify volume type name, "
	    "description, is_public or a combination thereof.");
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/types/%s", tf),
	    "{\"volume_type\":{\"name\":\"tfile2\",\"is_public\":true}}", 200,
	    NULL);
	assert_string_equal(ctltest_str(T, "volume_type.name"), "tfile2");
	assert_string_equal(ctltest_str(T, "volume_type.description"), "d");
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", v1),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.volume_type"), "tfile2");
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, "/types/%s", tf),
	    "{\"volume_type\":{\"name\":\"mine\"}}", 403, NULL);

	/* Delete: refused while used, and for the default type. */
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/types/%s", tf),
	    NULL, 400, "Target volume type is still in use.");
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/types/%s", tf), NULL,
	    200, NULL);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/types/default",
	    NULL), NULL, 200, NULL);
	snprintf(v3, sizeof(v3), "%s", ctltest_str(T, "volume_type.id"));
	snprintf(b, sizeof(b), "The volume type %s is a default volume type "
	    "and cannot be deleted.", v3);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/types/%s", v3),
	    NULL, 400, b);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/types/%s", tp),
	    NULL, 403, NULL);
	assert_int_equal(count_types(CT_ADMIN, "?is_public=None"), 4);
	{
		struct rep r[2] = { { v1, true, true, 1, NULL, NULL },
		    { v2, true, true, 1, NULL, NULL } };

		(void)desired(HOST1, v1, &gen);
		report(HOST1, gen, r, 2, NULL, 0);
	}
	/* A clone has its source's type unless it names one. */
	snprintf(b, sizeof(b), "{\"volume\":{\"source_volid\":\"%s\"}}", v1);
	create(CT_MEMBER, b, v3);
	assert_string_equal(ctltest_str(T, "volume.volume_type"), "tfile2");
	{
		struct rep r[3] = { { v1, true, true, 1, NULL, NULL },
		    { v2, true, true, 1, NULL, NULL },
		    { v3, true, true, 1, NULL, NULL } };

		(void)desired(HOST1, v3, &gen);
		report(HOST1, gen, r, 3, NULL, 0);
	}
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", v1),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", v2),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", v3),
	    NULL, 202, NULL);
	(void)desired(HOST1, v1, &gen);
	{
		struct rep r[3] = { { v1, false, true, 0, NULL, NULL },
		    { v2, false, true, 0, NULL, NULL },
		    { v3, false, true, 0, NULL, NULL } };

		report(HOST1, gen, r, 3, NULL, 0);
	}
	assert_int_equal(count_volumes(CT_MEMBER), 0);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/types/%s", tf),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/types/%s", tp),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/types/%s", tx),
	    NULL, 202, NULL);
	snprintf(b, sizeof(b), "Volume type %s could not be found.", tf);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/types/%s", tf),
	    NULL, 404, b);
	assert_int_equal(count_types(CT_ADMIN, "?is_public=None"), 1);
	/* stor2 as the tests after this one know it. */
	report("stor2", 0, NULL, 0, NULL, 0);
}

/* The wire: the derived host_storage decodes as an agent reads it, and a
 * host_storage_state envelope from the agent goes through the fleet's
 * message hook; other messages are not storesync's. */
static void
test_storesync_wire(void **state)
{
	const struct msg_host_storage *m;
	struct codec_envelope env;
	struct buf b = { 0 };
	struct msg_host_storage_state st;
	struct sch_sto_status sv;
	char id[37];
	uint64_t gen;

	(void)state;
	host_up(HOST1);
	/* stor2 (test_volume_placement) last reported as much free space as
	 * HOST1: a tie, decided by random service ids. Full now, so the
	 * volume goes to HOST1. */
	memset(&st, 0, sizeof(st));
	st.backend = (char *)"lvm";
	st.portal = (char *)"127.0.0.2:3260";
	st.total_gb = 300;
	assert_int_equal(storesync_report(ctltest_storesync(T), "stor2", &st),
	    0);
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"name\":\"wire\"}}", id);
	assert_non_null(desired(HOST1, id, &gen));
	m = storesync_desired(ctltest_storesync(T), HOST1);
	assert_int_equal(codec_envelope_encode(&schema_msg_host_storage, m,
	    "req-1", "ctltest", &b), 0);
	memset(&env, 0, sizeof(env));
	assert_int_equal(codec_envelope_decode(b.data, b.len,
	    SCHEMA_FROM_CONTROLLER, &env), 0);
	assert_ptr_equal(env.type, &schema_msg_host_storage);
	assert_string_equal(((struct msg_host_storage *)env.body)->host, HOST1);
	assert_int_equal(((struct msg_host_storage *)env.body)->generation,
	    gen);
	/* Not a message the controller takes from an agent. */
	assert_int_equal(storesync_agent_msg(ctltest_storesync(T), HOST1,
	    &env), 0);
	codec_envelope_clear(&env);
	buf_free(&b);

	memset(&st, 0, sizeof(st));
	memset(&sv, 0, sizeof(sv));
	snprintf(sv.id, sizeof(sv.id), "%s", id);
	sv.present = sv.ok = true;
	sv.size_gb = 1;
	st.generation = gen;
	st.backend = (char *)"file";
	st.portal = (char *)"127.0.0.1:3260";
	st.volumes.items = &sv;
	st.volumes.n = 1;
	assert_int_equal(codec_envelope_encode(&schema_msg_host_storage_state,
	    &st, "req-2", HOST1, &b), 0);
	memset(&env, 0, sizeof(env));
	assert_int_equal(codec_envelope_decode(b.data, b.len, SCHEMA_FROM_AGENT,
	    &env), 0);
	assert_int_equal(storesync_agent_msg(ctltest_storesync(T), HOST1,
	    &env), 1);
	codec_envelope_clear(&env);
	buf_free(&b);
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	assert_int_equal(storesync_applied(ctltest_storesync(T), HOST1), gen);
	/* Applied: nothing more to send until something changes. */
	assert_non_null(desired(HOST1, id, &gen));
	assert_int_equal(storesync_applied(ctltest_storesync(T), HOST1), gen);

	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	{
		struct rep r = { id, false, true, 0, NULL, NULL };

		(void)desired(HOST1, id, &gen);
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_int_equal(count_volumes(CT_MEMBER), 0);
}

/* A committed change wakes the bus thread (the fd is readable) and the
 * wake-up derives at once, a burst folded into one derivation, at most
 * one per STORESYNC_WAKE_GAP_MS; the tick still derives what a wake-up
 * left over (level-triggered safety net). */
static void
test_storesync_wake(void **state)
{
	struct storesync *ss = ctltest_storesync(T);
	struct pollfd pfd = { .fd = storesync_wake_fd(ss), .events = POLLIN };
	const struct msg_host_storage *m;
	int64_t t0 = db_now_ms();
	char id[37];
	uint64_t gen;
	bool found;

	(void)state;
	host_up(HOST1);
	assert_int_equal(storesync_sync(ss, t0), 0);
	(void)storesync_woken(ss, t0);		/* drains earlier wake-ups */
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(storesync_pending(ss), 0);
	gen = storesync_desired(ss, HOST1)->generation;

	/* The API's commit wakes the bus thread. */
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"name\":\"wake\"}}", id);
	assert_int_equal(storesync_pending(ss), 1);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	/* Inside the gap after the last derivation: left for later. */
	assert_int_equal(storesync_woken(ss, t0 + STORESYNC_WAKE_GAP_MS - 1),
	    0);
	assert_int_equal(poll(&pfd, 1, 0), 0);	/* drained */
	assert_int_equal(storesync_pending(ss), 1);
	assert_int_equal(storesync_desired(ss, HOST1)->generation, gen);

	/* A burst of changes: one wake-up, one derivation. */
	storesync_changed(ss);
	storesync_changed(ss);
	storesync_changed(ss);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(storesync_woken(ss, t0 + STORESYNC_WAKE_GAP_MS), 1);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(storesync_pending(ss), 0);
	m = storesync_desired(ss, HOST1);
	assert_int_equal(m->generation, gen + 1);
	found = false;
	for (size_t i = 0; i < m->volumes.n; i++)
		found = found || strcmp(m->volumes.items[i].id, id) == 0;
	assert_true(found);
	gen = m->generation;

	/* The host made it: the report's change is derived at the next
	 * wake-up. */
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	t0 += 10 * STORESYNC_WAKE_GAP_MS;
	storesync_changed(ss);
	assert_int_equal(storesync_woken(ss, t0), 1);
	assert_int_equal(storesync_pending(ss), 0);
	gen = storesync_desired(ss, HOST1)->generation;

	/* A change inside the gap is not lost: the tick derives it. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 202, NULL);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(storesync_woken(ss, t0 + STORESYNC_WAKE_GAP_MS - 1),
	    0);
	assert_int_equal(storesync_pending(ss), 1);
	assert_int_equal(storesync_desired(ss, HOST1)->generation, gen);
	storesync_tick(ss, t0 + STORESYNC_WAKE_GAP_MS - 1);
	assert_int_equal(storesync_pending(ss), 0);
	m = storesync_desired(ss, HOST1);
	assert_true(m->generation > gen);
	gen = m->generation;

	/* Nothing changed: a stray wake-up derives nothing. */
	storesync_changed(ss);
	assert_int_equal(storesync_woken(ss, t0 + 10 * STORESYNC_WAKE_GAP_MS),
	    1);
	assert_int_equal(storesync_desired(ss, HOST1)->generation, gen);
	assert_int_equal(storesync_woken(ss, t0 + 20 * STORESYNC_WAKE_GAP_MS),
	    0);
	assert_int_equal(storesync_desired(ss, HOST1)->generation, gen);
	{
		struct rep r = { id, false, true, 0, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_int_equal(count_volumes(CT_MEMBER), 0);
}

/* A host_storage refusal from host's agent, answering reqid, through
 * the fleet's message hook; what storesync_agent_msg() returned. */
static int
refuse(const char *host, const char *reqid)
{
	struct codec_envelope env;
	struct buf b = { 0 };
	struct msg_error e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.code = TS_EUNAVAILABLE;
	e.message = (char *)"no block storage on this host: set [storage] "
	    "enabled";
	e.in_reply_to = (char *)reqid;
	assert_int_equal(codec_envelope_encode(&schema_msg_error, &e, "req-r",
	    host, &b), 0);
	memset(&env, 0, sizeof(env));
	assert_int_equal(codec_envelope_decode(b.data, b.len, SCHEMA_FROM_AGENT,
	    &env), 0);
	rc = storesync_agent_msg(ctltest_storesync(T), host, &env);
	codec_envelope_clear(&env);
	buf_free(&b);
	return rc;
}

/* host_storage of host, if one is due now; the request id sent. */
static const char *
sent_to(const char *host)
{
	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	storesync_send_due(ctltest_storesync(T), db_now_ms());
	return storesync_last_request(ctltest_storesync(T), host);
}

static const char *
vhost(const char *id)
{
	static char h[256];
	json_t *j;

	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/volumes/%s", id),
	    NULL, 200, NULL);
	j = ctltest_get(T, "volume.os-vol-host-attr:host");
	snprintf(h, sizeof(h), "%s", json_is_string(j) ?
	    json_string_value(j) : "");
	return h;
}

/*
 * A fleet where some agents run without [storage] (a fresh controller:
 * its own group). Every agent is asked for its backend on hello; a volume
 * placed on an agent without storage (before any host answered) is
 * re-placed when the agent refuses it, or errs when no host has storage;
 * a host that reported "none" is never chosen.
 */
static void
test_no_storage_hosts(void **state)
{
	char r[64], v1[37], v2[37], v3[37], v4[37];
	uint64_t gen;

	(void)state;
	/* Asked on hello even with nothing for it. */
	host_up("nostor");
	storesync_hello(ctltest_storesync(T), "nostor", db_now_ms());
	assert_string_not_equal(sent_to("nostor"), "");
	/* No host answered yet: the unreported one is taken. */
	create(CT_MEMBER, "{\"volume\":{\"size\":1}}", v1);
	assert_string_equal(ctltest_str(T, "volume.status"), "creating");
	assert_string_equal(vhost(v1), "nostor@tinystack#tinystack");
	assert_non_null(desired("nostor", v1, &gen));
	snprintf(r, sizeof(r), "%s", sent_to("nostor"));
	assert_true(strlen(r) > 4);
	/* A refusal of another request is not taken; nothing changes. */
	assert_int_equal(refuse("nostor", "req-other"), 0);
	assert_string_equal(vstatus(CT_MEMBER, v1), "creating");
	assert_string_equal(vhost(v1), "nostor@tinystack#tinystack");
	/* Refused, no host with storage: error with Cinder's fault, no
	 * host, still counted. */
	assert_int_equal(refuse("nostor", r), 1);
	assert_string_equal(vstatus(CT_MEMBER, v1), "error");
	assert_string_equal(vhost(v1), "");
	assert_null(desired("nostor", v1, NULL));
	assert_int_equal(used("totalVolumesUsed"), 1);
	assert_int_equal(used("totalGigabytesUsed"), 1);
	/* nostor reported "none": never chosen again. */
	create(CT_MEMBER, "{\"volume\":{\"size\":1}}", v2);
	assert_string_equal(ctltest_str(T, "volume.status"), "error");
	assert_string_equal(vhost(v2), "");
	/* Another agent without storage, not yet heard from, takes v3;
	 * then a storage host reports; nostor2's refusal moves v3 there. */
	host_up("nostor2");
	create(CT_MEMBER, "{\"volume\":{\"size\":2}}", v3);
	assert_string_equal(vhost(v3), "nostor2@tinystack#tinystack");
	host_up("stor");
	report("stor", 0, NULL, 0, NULL, 0);
	assert_non_null(desired("nostor2", v3, NULL));
	snprintf(r, sizeof(r), "%s", sent_to("nostor2"));
	assert_int_equal(refuse("nostor2", r), 1);
	assert_string_equal(vstatus(CT_MEMBER, v3), "creating");
	assert_string_equal(vhost(v3), "stor@tinystack#tinystack");
	assert_null(desired("nostor2", v3, NULL));
	assert_non_null(desired("stor", v3, &gen));
	assert_int_equal(used("totalVolumesUsed"), 3);
	assert_int_equal(used("totalGigabytesUsed"), 4);
	{
		struct rep rp = { v3, true, true, 2, NULL, NULL };

		report("stor", gen, &rp, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, v3), "available");
	/* Known storage beats both: the new volume goes to stor. */
	create(CT_MEMBER, "{\"volume\":{\"size\":1}}", v4);
	assert_string_equal(vhost(v4), "stor@tinystack#tinystack");
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

/* ---- os-volume_upload_image ---------------------------------------------- */

#define UPLOAD	"/volumes/%s/action"

/* The image's status as the admin sees it, "" when it is gone (404). */
static const char *
istatus(const char *id)
{
	static char st[32];
	char p[128];

	snprintf(p, sizeof(p), "/v2/images/%s", id);
	ctltest_call(T, CT_IMAGE, CT_ADMIN, "GET", p, NULL, NULL);
	if (T->r.status == 404)
		return "";
	assert_int_equal(T->r.status, 200);
	snprintf(st, sizeof(st), "%s", ctltest_str(T, "status"));
	return st;
}

static int
deadline_past(struct store_txn *txn, void *arg)
{
	struct rec_volume v, old;
	int rc;

	if (volume_db_get(txn, arg, &v) == -1)
		return -1;
	if (volume_db_get(txn, arg, &old) == -1) {
		codec_clear(&schema_rec_volume, &v);
		return -1;
	}
	assert_true(v.has_upload_deadline);
	v.upload_deadline = db_now_ms() - 1;
	rc = volume_db_put(txn, &old, &v);
	codec_clear(&schema_rec_volume, &v);
	codec_clear(&schema_rec_volume, &old);
	return rc;
}

/* POST the upload as who, 202 expected: the image id into img. */
static void
upload(enum ctltest_who who, const char *id, const char *body, char img[37])
{
	CT_CALL(T, V, who, "POST", vpath(who, UPLOAD, id), body, 202, NULL);
	assert_string_equal(ctltest_str(T, "os-volume_upload_image.status"),
	    "uploading");
	assert_string_equal(ctltest_str(T, "os-volume_upload_image.id"), id);
	snprintf(img, 37, "%s", ctltest_str(T,
	    "os-volume_upload_image.image_id"));
	assert_int_equal(strlen(img), 36);
}

static void
test_volume_upload(void **state)
{
	const struct sch_sto_volume *sv;
	uint64_t gen;
	char id[37], img[37], img2[37], img3[37], img4[37];
	static const char *const bad[][2] = {
		{ "{\"os-volume_upload_image\":{}}", NULL },
		{ "{\"os-volume_upload_image\":[]}", NULL },
		{ "{\"os-volume_upload_image\":{\"image_name\":7}}", NULL },
		{ "{\"os-volume_upload_image\":{\"image_name\":\"i\","
		    "\"disk_format\":\"qcow3\"}}", "Invalid disk-format 'qcow3' is "
		    "specified. Allowed disk-formats are raw, vmdk, vdi, qcow2, "
		    "vhd, vhdx, ploop." },
		{ "{\"os-volume_upload_image\":{\"image_name\":\"i\","
		    "\"disk_format\":\"vmdk\"}}", "Invalid input received: disk "
		    "format 'vmdk' is not supported here (raw, qcow2)." },
		{ "{\"os-volume_upload_image\":{\"image_name\":\"i\","
		    "\"container_format\":\"ovf\"}}", "Invalid input received: "
		    "Container format 'ovf' is not supported (bare only)." },
		{ "{\"os-volume_upload_image\":{\"image_name\":\"i\","
		    "\"force\":\"maybe\"}}", "Invalid input received: 'force' is "
		    "not a valid boolean value" },
		{ "{\"os-volume_upload_image\":{\"image_name\":\"i\","
		    "\"visibility\":\"everyone\"}}", "Invalid visibility: everyone" },
	};

	(void)state;
	host_up(HOST1);
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"name\":\"up\"}}", id);
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_null(sv->upload_image_id);
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");

	/* Refusals change nothing. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, UPLOAD, id),
		    bad[i][0], 400, bad[i][1]);
		assert_string_equal(vstatus(CT_MEMBER, id), "available");
	}
	/* another project's volume is not there; public is the admin's */
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, UPLOAD, id),
	    "{\"os-volume_upload_image\":{\"image_name\":\"i\"}}", 404,
	    NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, UPLOAD, id),
	    "{\"os-volume_upload_image\":{\"image_name\":\"i\","
	    "\"visibility\":\"public\"}}", 403, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 200, NULL);
	assert_null(ctltest_get(T, "volume.upload_image_id"));

	/* The upload: a queued image of the volume's project, the volume
	 * uploading, the host asked with an upload capability. */
	upload(CT_MEMBER, id, "{\"os-volume_upload_image\":{\"image_name\":"
	    "\"vimg\",\"disk_format\":\"qcow2\",\"container_format\":"
	    "\"bare\",\"force\":false,\"visibility\":\"private\","
	    "\"protected\":false}}", img);
	assert_string_equal(ctltest_str(T, "os-volume_upload_image.disk_format"),
	    "qcow2");
	assert_string_equal(ctltest_str(T,
	    "os-volume_upload_image.volume_type.name"), "__DEFAULT__");
	assert_string_equal(ctltest_str(T, "os-volume_upload_image.image_name"),
	    "vimg");
	assert_string_equal(vstatus(CT_MEMBER, id), "uploading");
	assert_string_equal(istatus(img), "queued");
	assert_string_equal(ctltest_str(T, "owner"), T->project_id[CT_MEMBER]);
	assert_string_equal(ctltest_str(T, "disk_format"), "qcow2");
	assert_string_equal(ctltest_str(T, "visibility"), "private");
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_string_equal(sv->upload_image_id, img);
	assert_string_equal(sv->upload_disk_format, "qcow2");
	assert_null(sv->upload_token);	/* minted only in the copy sent */
	/* Busy: a second upload, a delete, an extend are refused. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, UPLOAD, id),
	    "{\"os-volume_upload_image\":{\"image_name\":\"i\"}}", 400,
	    NULL);
	assert_non_null(strstr(T->r.raw, "current status is: uploading"));
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 400, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, UPLOAD, id),
	    "{\"os-extend\":{\"new_size\":2}}", 400, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "uploading");
	{
		/* A report without the answer (or another image's) leaves
		 * it uploading; the answer puts it back. */
		struct rep r = { id, true, true, 1, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
		assert_string_equal(vstatus(CT_MEMBER, id), "uploading");
		rep_upload = NOID;
		report(HOST1, gen, &r, 1, NULL, 0);
		assert_string_equal(vstatus(CT_MEMBER, id), "uploading");
		rep_upload = img;
		rep_upload_ok = true;
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	assert_string_equal(istatus(img), "queued");	/* kept */
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_null(sv->upload_image_id);

	/* A failed upload puts the volume back and discards its image. */
	upload(CT_MEMBER, id, "{\"os-volume_upload_image\":{\"image_name\":"
	    "\"v2\",\"protected\":true}}", img2);
	assert_string_equal(istatus(img2), "queued");
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_string_equal(sv->upload_disk_format, "raw");
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		rep_upload = img2;
		rep_upload_ok = false;
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	assert_string_equal(istatus(img2), "");

	/* An upload past its deadline: ended by the next derivation. */
	upload(CT_MEMBER, id, "{\"os-volume_upload_image\":{\"image_name\":"
	    "\"v3\"}}", img3);
	assert_int_equal(store_write(ctltest_store(T), deadline_past, id), 0);
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	assert_null(sv->upload_image_id);	/* not asked for any more */
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	assert_string_equal(istatus(img3), "");
	sv = desired(HOST1, id, &gen);
	assert_null(sv->upload_image_id);

	/* in-use: only with force, and back to in-use. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, UPLOAD, id),
	    "{\"os-reset_status\":{\"status\":\"in-use\"}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, UPLOAD, id),
	    "{\"os-volume_upload_image\":{\"image_name\":\"i\"}}", 400,
	    NULL);
	assert_non_null(strstr(T->r.raw, "in-use with force"));
	assert_string_equal(vstatus(CT_MEMBER, id), "in-use");
	upload(CT_MEMBER, id, "{\"os-volume_upload_image\":{\"image_name\":"
	    "\"v4\",\"force\":\"True\"}}", img4);
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		rep_upload = img4;
		rep_upload_ok = true;
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "in-use");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, UPLOAD, id),
	    "{\"os-reset_status\":{\"status\":\"available\"}}", 202, NULL);
	/* the admin may make it public */
	upload(CT_ADMIN, id, "{\"os-volume_upload_image\":{\"image_name\":"
	    "\"pub\",\"visibility\":\"public\"}}", img4);
	assert_string_equal(istatus(img4), "queued");
	assert_string_equal(ctltest_str(T, "visibility"), "public");
	sv = desired(HOST1, id, &gen);
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		rep_upload = img4;
		rep_upload_ok = false;
		report(HOST1, gen, &r, 1, NULL, 0);
	}
	rep_upload = NULL;
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	assert_string_equal(istatus(img4), "");

	/* A volume of an admin's type: the answer names the type. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/types", NULL),
	    "{\"volume_type\":{\"name\":\"uptype\"}}", 200, NULL);
	create(CT_MEMBER, "{\"volume\":{\"size\":1,\"volume_type\":"
	    "\"uptype\"}}", id);
	sv = desired(HOST1, id, &gen);
	assert_non_null(sv);
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	upload(CT_MEMBER, id, "{\"os-volume_upload_image\":{\"image_name\":"
	    "\"typed\"}}", img);
	assert_string_equal(ctltest_str(T,
	    "os-volume_upload_image.volume_type.name"), "uptype");
	sv = desired(HOST1, id, &gen);
	{
		struct rep r = { id, true, true, 1, NULL, NULL };

		rep_upload = img;
		rep_upload_ok = true;
		report(HOST1, gen, &r, 1, NULL, 0);
		rep_upload = NULL;
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
}

/* ---- volume transfers ----------------------------------------------------- */

#define XFER	"/os-volume-transfer"

/* who's absolute limit what. */
static json_int_t
used_of(enum ctltest_who who, const char *what)
{
	char k[96];

	CT_CALL(T, V, who, "GET", vpath(who, "/limits", NULL), NULL, 200,
	    NULL);
	snprintf(k, sizeof(k), "limits.absolute.%s", what);
	return num(k);
}

static size_t
count_transfers(enum ctltest_who who)
{
	CT_CALL(T, V, who, "GET", vpath(who, XFER, NULL), NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "transfers"));
}

static void
test_volume_transfer(void **state)
{
	uint64_t gen;
	char id[37], sid[37], xid[37], key[64], b[512];
	json_int_t mv, mg, ms, ov, og, os;

	(void)state;
	host_up(HOST1);
	create(CT_MEMBER, "{\"volume\":{\"size\":2,\"name\":\"xv\"}}", id);
	(void)desired(HOST1, id, &gen);
	{
		struct rep r = { id, true, true, 2, NULL, NULL };

		report(HOST1, gen, &r, 1, NULL, 0);
	}
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	snprintf(b, sizeof(b), "{\"snapshot\":{\"volume_id\":\"%s\"}}", id);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/snapshots", NULL),
	    b, 202, NULL);
	snprintf(sid, sizeof(sid), "%s", ctltest_str(T, "snapshot.id"));
	(void)desired(HOST1, id, &gen);
	{
		struct rep r = { id, true, true, 2, NULL, NULL };
		struct rep sr = { sid, true, true, 0, NULL, NULL };

		report(HOST1, gen, &r, 1, &sr, 1);
	}
	mv = used_of(CT_MEMBER, "totalVolumesUsed");
	mg = used_of(CT_MEMBER, "totalGigabytesUsed");
	ms = used_of(CT_MEMBER, "totalSnapshotsUsed");
	ov = used_of(CT_OTHER, "totalVolumesUsed");
	og = used_of(CT_OTHER, "totalGigabytesUsed");
	os = used_of(CT_OTHER, "totalSnapshotsUsed");

	/* Refusals: nothing made, the volume as it was. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, XFER, NULL),
	    "{\"transfer\":{}}", 400, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, XFER, NULL),
	    "{}", 400, "Missing required element 'transfer' in request body.");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, XFER, NULL),
	    "{\"transfer\":{\"volume_id\":\"" NOID "\"}}", 404,
	    "Volume " NOID " could not be found.");
	snprintf(b, sizeof(b), "{\"transfer\":{\"volume_id\":\"%s\"}}", id);
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER, NULL), b, 404,
	    NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "available");
	assert_int_equal(count_transfers(CT_MEMBER), 0);

	/* Create: the key once, the volume awaiting-transfer. */
	snprintf(b, sizeof(b), "{\"transfer\":{\"volume_id\":\"%s\","
	    "\"name\":\"gift\"}}", id);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, XFER, NULL), b, 202,
	    NULL);
	snprintf(xid, sizeof(xid), "%s", ctltest_str(T, "transfer.id"));
	snprintf(key, sizeof(key), "%s", ctltest_str(T, "transfer.auth_key"));
	assert_int_equal(strlen(key), 16);
	assert_string_equal(ctltest_str(T, "transfer.name"), "gift");
	assert_string_equal(ctltest_str(T, "transfer.volume_id"), id);
	assert_non_null(ctltest_get(T, "transfer.created_at"));
	assert_non_null(ctltest_get(T, "transfer.links"));
	assert_string_equal(vstatus(CT_MEMBER, id), "awaiting-transfer");
	/* not twice; the volume cannot be deleted meanwhile */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, XFER, NULL), b, 400,
	    NULL);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 400, NULL);
	assert_int_equal(count_transfers(CT_MEMBER), 1);

	/* Show and list: the giver's, never the key. */
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, XFER "/%s", xid),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "transfer.volume_id"), id);
	assert_null(ctltest_get(T, "transfer.auth_key"));
	assert_non_null(ctltest_get(T, "transfer.created_at"));
	assert_null(strstr(T->r.raw, key));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, XFER, NULL), NULL,
	    200, NULL);
	assert_string_equal(ctltest_str(T, "transfers.0.id"), xid);
	assert_null(ctltest_get(T, "transfers.0.created_at"));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, XFER "/detail",
	    NULL), NULL, 200, NULL);
	assert_non_null(ctltest_get(T, "transfers.0.created_at"));
	assert_null(strstr(T->r.raw, key));
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, XFER "/%s", xid), NULL,
	    404, NULL);
	assert_int_equal(count_transfers(CT_OTHER), 0);
	CT_CALL(T, V, CT_OTHER, "DELETE", vpath(CT_OTHER, XFER "/%s", xid),
	    NULL, 404, NULL);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, XFER "/%s", xid), NULL,
	    200, NULL);

	/* Accept refused: a wrong key, the giver itself, over the taker's
	 * quota; nothing moves. */
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER "/%s/accept",
	    xid), "{\"accept\":{\"auth_key\":\"0000000000000000\"}}", 400,
	    NULL);
	assert_non_null(strstr(T->r.raw, "invalid auth key"));
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER "/%s/accept",
	    xid), "{\"accept\":{}}", 400, NULL);
	snprintf(b, sizeof(b), "{\"accept\":{\"auth_key\":\"%s\"}}", key);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, XFER "/%s/accept",
	    xid), b, 400, NULL);
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER "/%s/accept",
	    NOID), b, 404, NULL);
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    T->project_id[CT_OTHER]), "{\"quota_set\":{\"gigabytes\":3}}",
	    200, NULL);
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER "/%s/accept",
	    xid), b, 413, NULL);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    T->project_id[CT_OTHER]), NULL, 200, NULL);
	assert_string_equal(vstatus(CT_MEMBER, id), "awaiting-transfer");
	assert_int_equal(used_of(CT_MEMBER, "totalVolumesUsed"), mv);
	assert_int_equal(used_of(CT_MEMBER, "totalGigabytesUsed"), mg);
	assert_int_equal(used_of(CT_OTHER, "totalVolumesUsed"), ov);
	assert_int_equal(used_of(CT_OTHER, "totalGigabytesUsed"), og);
	assert_int_equal(count_transfers(CT_MEMBER), 1);

	/* Accept: the volume, its snapshot and their usage move. */
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER "/%s/accept",
	    xid), b, 202, NULL);
	assert_string_equal(ctltest_str(T, "transfer.id"), xid);
	assert_string_equal(ctltest_str(T, "transfer.volume_id"), id);
	assert_null(ctltest_get(T, "transfer.auth_key"));
	assert_string_equal(vstatus(CT_OTHER, id), "available");
	assert_string_equal(ctltest_str(T, "volume.os-vol-tenant-attr:"
	    "tenant_id"), T->project_id[CT_OTHER]);
	assert_string_equal(ctltest_str(T, "volume.user_id"),
	    T->user_id[CT_OTHER]);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", id),
	    NULL, 404, NULL);
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/snapshots/%s", sid),
	    NULL, 200, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/snapshots/%s", sid),
	    NULL, 404, NULL);
	assert_int_equal(used_of(CT_MEMBER, "totalVolumesUsed"), mv - 1);
	assert_int_equal(used_of(CT_MEMBER, "totalGigabytesUsed"), mg - 4);
	assert_int_equal(used_of(CT_MEMBER, "totalSnapshotsUsed"), ms - 1);
	assert_int_equal(used_of(CT_OTHER, "totalVolumesUsed"), ov + 1);
	assert_int_equal(used_of(CT_OTHER, "totalGigabytesUsed"), og + 4);
	assert_int_equal(used_of(CT_OTHER, "totalSnapshotsUsed"), os + 1);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, XFER "/%s", xid),
	    NULL, 404, NULL);
	assert_int_equal(count_transfers(CT_MEMBER), 0);
	/* the same key twice: the transfer is gone */
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER "/%s/accept",
	    xid), b, 404, NULL);

	/* Delete: the volume back to available, the transfer gone. */
	snprintf(b, sizeof(b), "{\"transfer\":{\"volume_id\":\"%s\"}}", id);
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, XFER, NULL), b, 202,
	    NULL);
	snprintf(xid, sizeof(xid), "%s", ctltest_str(T, "transfer.id"));
	assert_true(json_is_null(ctltest_get(T, "transfer.name")));
	assert_string_equal(vstatus(CT_OTHER, id), "awaiting-transfer");
	CT_CALL(T, V, CT_OTHER, "DELETE", vpath(CT_OTHER, XFER "/%s", xid),
	    NULL, 202, NULL);
	assert_string_equal(vstatus(CT_OTHER, id), "available");
	CT_CALL(T, V, CT_OTHER, "DELETE", vpath(CT_OTHER, XFER "/%s", xid),
	    NULL, 404, NULL);
	assert_int_equal(count_transfers(CT_OTHER), 0);
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
		cmocka_unit_test(test_volume_no_host),
		cmocka_unit_test(test_volume_create_errors),
		cmocka_unit_test(test_volume_quota),
		cmocka_unit_test(test_volume_lifecycle),
		cmocka_unit_test(test_volume_cross_project),
		cmocka_unit_test(test_volume_attach),
		cmocka_unit_test(test_volume_sources),
		cmocka_unit_test(test_volume_placement),
		cmocka_unit_test(test_volume_types),
		cmocka_unit_test(test_storesync_wire),
		cmocka_unit_test(test_storesync_wake),
		cmocka_unit_test(test_volume_upload),
		cmocka_unit_test(test_volume_transfer),
	};

	const struct CMUnitTest fleet[] = {
		cmocka_unit_test(test_no_storage_hosts),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);

	return rc + cmocka_run_group_tests(fleet, setup, teardown);
}
