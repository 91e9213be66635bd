/*
 * handlers_volume_backups_test: the volume backups of the Block Storage
 * API (controller/volume/volume_backups.c) over HTTP against the
 * in-process controller of ctltest.h: create (every refusal, the quotas
 * backups and backup_gigabytes with 413), the volume's backing-up state,
 * list (summary, detail, filters, limit/marker), show, update (3.9 only),
 * delete, restore into a new volume and into an existing one, the admin's
 * os-reset_status and os-force_delete, another project's backup 404, and
 * the deadlines the storage sync's rescan enforces (a backup never
 * answered goes to error and its volume back to available; a restore
 * never answered leaves the backup available and the volume
 * error_restoring).
 *
 * Every refused change is followed by a read showing the state as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "core/db.h"
#include "ctltest.h"
#include "auth/capability.h"
#include "identity/identity.h"
#include "msg_gen.h"
#include "store.h"
#include "volume/storesync.h"
#include "volume/volume.h"

#define V	CT_VOLUME
#define HOST1	"stor1"
#define NOID	"6f1d7c2e-0000-4000-8000-00000000dead"
#define MV39	"OpenStack-API-Version: volume 3.9\r\n"

static struct ctltest	*T;
static char		 path[512];

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

static json_int_t
used(const char *what)
{
	char k[96];

	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/limits", NULL),
	    NULL, 200, NULL);
	snprintf(k, sizeof(k), "limits.absolute.%s", what);
	return num(k);
}

static int
svc_put(struct store_txn *txn, void *arg)
{
	return db_service_put(txn, arg);
}

static void
host_up(const char *host)
{
	struct rec_service s;

	memset(&s, 0, sizeof(s));
	db_uuid(s.id);
	s.host = (char *)host;
	s.binary = (char *)"tinystack-agent";
	s.topic = (char *)"compute";
	s.last_seen_at = db_now_ms();
	s.created_at = s.updated_at = s.last_seen_at;
	assert_int_equal(store_write(ctltest_store(T), svc_put, &s), 0);
}

/* The volumes host has to hold reported made: available. */
static void
report_all(const char *host)
{
	const struct msg_host_storage *m;
	struct msg_host_storage_state r;
	struct sch_sto_status st[32], ss[8];

	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	m = storesync_desired(ctltest_storesync(T), host);
	assert_non_null(m);
	assert_true(m->volumes.n <= 32);
	memset(&r, 0, sizeof(r));
	memset(st, 0, sizeof(st));
	memset(ss, 0, sizeof(ss));
	r.generation = m->generation;
	r.backend = (char *)"file";
	r.portal = (char *)"127.0.0.1:3260";
	r.total_gb = 100;
	r.free_gb = 90;
	for (size_t i = 0; i < m->volumes.n; i++) {
		snprintf(st[i].id, sizeof(st[i].id), "%s",
		    m->volumes.items[i].id);
		st[i].present = m->volumes.items[i].present;
		st[i].ok = true;
		st[i].size_gb = m->volumes.items[i].size_gb;
	}
	r.volumes.items = st;
	r.volumes.n = m->volumes.n;
	assert_true(m->snapshots.n <= 8);
	for (size_t i = 0; i < m->snapshots.n; i++) {
		snprintf(ss[i].id, sizeof(ss[i].id), "%s",
		    m->snapshots.items[i].id);
		ss[i].present = m->snapshots.items[i].present;
		ss[i].ok = true;
	}
	r.snapshots.items = ss;
	r.snapshots.n = m->snapshots.n;
	assert_int_equal(storesync_report(ctltest_storesync(T), host, &r), 0);
}

/* An available volume of size GiB with metadata {"mk": "mv"}. */
static void
volume_ready(unsigned size, char id[37])
{
	char b[128];

	snprintf(b, sizeof(b), "{\"volume\":{\"size\":%u,\"metadata\":"
	    "{\"mk\":\"mv\"}}}", size);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/volumes", NULL),
	    b, 202, NULL);
	snprintf(id, 37, "%s", ctltest_str(T, "volume.id"));
	report_all(HOST1);
}

static const char *
vstatus(const char *id)
{
	static char st[32];

	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/volumes/%s", id),
	    NULL, 200, NULL);
	snprintf(st, sizeof(st), "%s", ctltest_str(T, "volume.status"));
	return st;
}

static const char *
bstatus(const char *id)
{
	static char st[32];

	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/backups/%s", id),
	    NULL, 200, NULL);
	snprintf(st, sizeof(st), "%s", ctltest_str(T, "backup.status"));
	return st;
}

static size_t
count_backups(void)
{
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/detail",
	    NULL), NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "backups"));
}

/* POST /backups of volume vid with extra members; the id into id. */
static void
backup(const char *vid, const char *extra, char id[37])
{
	char b[512];

	snprintf(b, sizeof(b), "{\"backup\":{\"volume_id\":\"%s\"%s}}", vid,
	    extra);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups", NULL),
	    b, 202, NULL);
	snprintf(id, 37, "%s", ctltest_str(T, "backup.id"));
	assert_int_equal(strlen(id), 36);
}

static int
past_fn(struct store_txn *txn, void *arg)
{
	struct rec_volume_backup b;
	int rc;

	if (db_rec_get(txn, T_VOLUME_BACKUPS, arg, &schema_rec_volume_backup,
	    &b) == -1)
		return -1;
	b.deadline = db_now_ms() - 1;
	rc = db_rec_put(txn, T_VOLUME_BACKUPS, b.id, &schema_rec_volume_backup,
	    &b, 0);
	codec_clear(&schema_rec_volume_backup, &b);
	return rc;
}

/* Move backup id's deadline to the past and let the storage sync's
 * rescan see it. */
static void
expire(const char *id)
{
	/* Each call a rescan later than the last. */
	static int64_t now = INT64_MAX / 4;

	assert_int_equal(store_write(ctltest_store(T), past_fn, (void *)id),
	    0);
	now += 2 * STORESYNC_RESCAN_MS;
	storesync_tick(ctltest_storesync(T), now);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_backup_refused(void **state)
{
	static const struct {
		const char	*body;
		int		 status;
		const char	*msg;
	} bad[] = {
		{ "{}", 400, "Missing required element 'backup' in request "
		    "body." },
		{ "{\"backup\":{}}", 400, "Invalid input for field/attribute "
		    "backup. Value: {}. 'volume_id' is a required property" },
		{ "{\"backup\":{\"volume_id\":7}}", 400, NULL },
		{ "{\"backup\":{\"volume_id\":\"nope\"}}", 404,
		    "Volume nope could not be found." },
		{ "{\"backup\":{\"volume_id\":\"" NOID "\"}}", 404,
		    "Volume " NOID " could not be found." },
		{ "{\"backup\":{\"volume_id\":\"%s\",\"incremental\":true}}",
		    400, "Invalid backup: No backups available to do an "
		    "incremental backup." },
		{ "{\"backup\":{\"volume_id\":\"%s\",\"force\":\"maybe\"}}",
		    400, NULL },
		{ "{\"backup\":{\"volume_id\":\"%s\",\"availability_zone\":"
		    "\"elsewhere\"}}", 400, NULL },
		{ "{\"backup\":{\"volume_id\":\"%s\",\"snapshot_id\":\""
		    NOID "\"}}", 404, NULL },
	};
	char vid[37], b[512];

	(void)state;
	host_up(HOST1);
	volume_ready(1, vid);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ctltest_subst(b, sizeof(b), bad[i].body, vid);
		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups",
		    NULL), b, bad[i].status, bad[i].msg);
	}
	/* Another project's volume is not found. */
	snprintf(b, sizeof(b), "{\"backup\":{\"volume_id\":\"%s\"}}", vid);
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, "/backups", NULL), b,
	    404, NULL);
	/* Nothing changed. */
	assert_int_equal(count_backups(), 0);
	assert_int_equal(used("totalBackupsUsed"), 0);
	assert_int_equal(used("totalBackupGigabytesUsed"), 0);
	assert_string_equal(vstatus(vid), "available");

	/* An in-use volume needs force (Cinder's message). */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/volumes/%s/action",
	    vid), "{\"os-reset_status\":{\"status\":\"in-use\"}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups", NULL), b,
	    400, "Invalid volume: Backing up an in-use volume must use the "
	    "force flag.");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/volumes/%s/action",
	    vid), "{\"os-reset_status\":{\"status\":\"error\"}}", 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups", NULL), b,
	    400, "Invalid volume: Volume to be backed up must be available or "
	    "in-use, but the current status is \"error\".");
	assert_int_equal(count_backups(), 0);
	assert_int_equal(used("totalBackupsUsed"), 0);
	assert_string_equal(vstatus(vid), "error");
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/volumes/%s/action",
	    vid), "{\"os-reset_status\":{\"status\":\"in-use\"}}", 202, NULL);

	/* With force: backing-up, and back to in-use when it ends. */
	{
		char bid[37];

		backup(vid, ",\"force\":true", bid);
		assert_string_equal(vstatus(vid), "backing-up");
		expire(bid);
		assert_string_equal(vstatus(vid), "in-use");
		CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER,
		    "/backups/%s", bid), NULL, 202, NULL);
	}
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/volumes/%s/action",
	    vid), "{\"os-reset_status\":{\"status\":\"available\"}}", 202,
	    NULL);
}

static void
test_backup_lifecycle(void **state)
{
	char vid[37], bid[37], b2[37];

	(void)state;
	volume_ready(2, vid);
	backup(vid, ",\"name\":\"bk\",\"description\":\"d\",\"container\":"
	    "\"c1\",\"incremental\":false,\"force\":null,\"snapshot_id\":null",
	    bid);
	/* The create answer is the summary (Cinder's). */
	assert_string_equal(ctltest_str(T, "backup.name"), "bk");
	assert_non_null(ctltest_get(T, "backup.links"));
	assert_null(ctltest_get(T, "backup.status"));
	assert_string_equal(vstatus(vid), "backing-up");
	assert_int_equal(used("totalBackupsUsed"), 1);
	assert_int_equal(used("totalBackupGigabytesUsed"), 2);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/os-quota-sets/%s"
	    "?usage=true", T->project_id[CT_MEMBER]), NULL, 200, NULL);
	assert_int_equal(num("quota_set.backups.in_use"), 1);
	assert_int_equal(num("quota_set.backup_gigabytes.in_use"), 2);

	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "backup.status"), "creating");
	assert_string_equal(ctltest_str(T, "backup.container"), "c1");
	assert_string_equal(ctltest_str(T, "backup.description"), "d");
	assert_string_equal(ctltest_str(T, "backup.volume_id"), vid);
	assert_string_equal(ctltest_str(T, "backup.availability_zone"),
	    "nova");
	assert_int_equal(num("backup.size"), 2);
	assert_int_equal(num("backup.object_count"), 0);
	assert_true(json_is_false(ctltest_get(T, "backup.is_incremental")));
	assert_true(json_is_null(ctltest_get(T, "backup.fail_reason")));

	/* A busy volume: no second backup, no delete. */
	{
		char b[128];

		snprintf(b, sizeof(b), "{\"backup\":{\"volume_id\":\"%s\"}}",
		    vid);
		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups",
		    NULL), b, 400, NULL);
	}
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", vid),
	    NULL, 400, NULL);
	/* Nor the backup while it is made. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 400, "Invalid backup: Backup status must be available or "
	    "error");
	assert_int_equal(count_backups(), 1);
	assert_string_equal(vstatus(vid), "backing-up");
	assert_string_equal(bstatus(bid), "creating");

	/* Never answered: error, the volume available again. */
	expire(bid);
	assert_string_equal(bstatus(bid), "error");
	assert_non_null(strstr(ctltest_str(T, "backup.fail_reason"),
	    "not received in time"));
	assert_string_equal(vstatus(vid), "available");

	/* Update: 3.9 only. */
	CT_CALL(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, "/backups/%s", bid),
	    "{\"backup\":{\"name\":\"n2\"}}", 404, NULL);
	ctltest_call(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, "/backups/%s",
	    bid), "{\"backup\":{\"name\":7}}", MV39);
	ctltest_expect(T, 400, NULL);
	ctltest_call(T, V, CT_MEMBER, "PUT", vpath(CT_MEMBER, "/backups/%s",
	    bid), "{\"backup\":{\"name\":\"n2\",\"description\":\"d2\"}}",
	    MV39);
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_str(T, "backup.name"), "n2");
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "backup.description"), "d2");

	/* Lists: summary, detail, filters, paging. */
	backup(vid, ",\"name\":\"other\"", b2);
	expire(b2);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups", NULL),
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 2);
	assert_null(ctltest_get(T, "backups.0.status"));
	assert_non_null(ctltest_get(T, "backups.0.links"));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/detail"
	    "?name=n2", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 1);
	assert_string_equal(ctltest_str(T, "backups.0.id"), bid);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/detail"
	    "?volume_id=" NOID, NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 0);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/detail"
	    "?volume_id=%s", vid), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 2);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/detail"
	    "?limit=1&sort=name:asc", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 1);
	assert_string_equal(ctltest_str(T, "backups.0.name"), "n2");
	assert_non_null(ctltest_get(T, "backups_links"));
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/detail"
	    "?limit=1&sort=name:asc&marker=%s", bid), NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "backups.0.name"), "other");

	/* Another project: 404; the admin sees it, with all_tenants. */
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/backups/%s", bid),
	    NULL, 404, NULL);
	CT_CALL(T, V, CT_OTHER, "DELETE", vpath(CT_OTHER, "/backups/%s", bid),
	    NULL, 404, NULL);
	CT_CALL(T, V, CT_OTHER, "GET", vpath(CT_OTHER, "/backups", NULL),
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 0);
	CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/backups/detail"
	    "?all_tenants=1", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "backups")), 2);

	/* Delete: gone at once, usage released. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", b2),
	    NULL, 202, NULL);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/%s", b2),
	    NULL, 404, NULL);
	assert_int_equal(used("totalBackupsUsed"), 1);
	assert_int_equal(used("totalBackupGigabytesUsed"), 2);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 202, NULL);
	assert_int_equal(count_backups(), 0);
	assert_int_equal(used("totalBackupsUsed"), 0);
	assert_int_equal(used("totalBackupGigabytesUsed"), 0);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", vid),
	    NULL, 202, NULL);
	report_all(HOST1);
}

static void
test_backup_admin_actions(void **state)
{
	char vid[37], bid[37];

	(void)state;
	volume_ready(1, vid);
	backup(vid, "", bid);
	/* Members may do neither. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/action",
	    bid), "{\"os-reset_status\":{\"status\":\"available\"}}", 403,
	    NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/action",
	    bid), "{\"os-force_delete\":{}}", 403, NULL);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-reset_status\":{\"status\":\"restoring\"}}", 400,
	    NULL);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-reset_status\":{}}", 400, NULL);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-bogus\":{}}", 400, NULL);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    NOID), "{\"os-force_delete\":{}}", 404, NULL);
	assert_string_equal(bstatus(bid), "creating");
	assert_string_equal(vstatus(vid), "backing-up");
	/* A reset gives the volume back. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-reset_status\":{\"status\":\"error\"}}", 202, NULL);
	assert_string_equal(bstatus(bid), "error");
	assert_string_equal(vstatus(vid), "available");
	/* A force delete takes any status, and gives the volume back. */
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-reset_status\":{\"status\":\"available\"}}", 202,
	    NULL);
	{
		char b2[37];

		backup(vid, "", b2);
		CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN,
		    "/backups/%s/action", b2), "{\"os-force_delete\":{}}", 202,
		    NULL);
		CT_CALL(T, V, CT_ADMIN, "GET", vpath(CT_ADMIN, "/backups/%s",
		    b2), NULL, 404, NULL);
		assert_string_equal(vstatus(vid), "available");
	}
	assert_int_equal(used("totalBackupsUsed"), 1);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-force_delete\":{}}", 202, NULL);
	assert_int_equal(used("totalBackupsUsed"), 0);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", vid),
	    NULL, 202, NULL);
	report_all(HOST1);
}

/* The admin makes backup bid available (its data is not made here). */
static void
make_available(const char *bid)
{
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-reset_status\":{\"status\":\"available\"}}", 202,
	    NULL);
}

static void
test_backup_restore(void **state)
{
	char vid[37], bid[37], small[37], nv[37], b[160];
	json_int_t vols;

	(void)state;
	volume_ready(2, vid);
	backup(vid, "", bid);
	/* Not available yet: refused. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), "{\"restore\":{}}", 400, "Invalid backup: Backup status must "
	    "be available");
	expire(bid);
	make_available(bid);
	assert_string_equal(vstatus(vid), "available");

	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), "{}", 400, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), "{\"restore\":{\"volume_id\":\"" NOID "\"}}", 404, NULL);
	CT_CALL(T, V, CT_OTHER, "POST", vpath(CT_OTHER, "/backups/%s/restore",
	    bid), "{\"restore\":{}}", 404, NULL);
	/* Into a smaller volume: refused. */
	volume_ready(1, small);
	snprintf(b, sizeof(b), "{\"restore\":{\"volume_id\":\"%s\"}}", small);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), b, 400, "Invalid volume: volume size 1 is too small to "
	    "restore backup of size 2.");
	assert_string_equal(vstatus(small), "available");
	assert_string_equal(bstatus(bid), "available");

	/* Into a new volume: of the backup's size, with its metadata,
	 * counted in the usage. */
	vols = used("totalVolumesUsed");
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), "{\"restore\":{\"volume_id\":null,\"name\":null}}", 202,
	    NULL);
	assert_string_equal(ctltest_str(T, "restore.backup_id"), bid);
	snprintf(nv, sizeof(nv), "%s", ctltest_str(T, "restore.volume_id"));
	snprintf(b, sizeof(b), "restore_backup_%s", bid);
	assert_string_equal(ctltest_str(T, "restore.volume_name"), b);
	assert_int_equal(used("totalVolumesUsed"), vols + 1);
	CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/volumes/%s", nv),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volume.status"),
	    "restoring-backup");
	assert_int_equal(num("volume.size"), 2);
	assert_string_equal(ctltest_str(T, "volume.metadata.mk"), "mv");
	assert_string_equal(bstatus(bid), "restoring");
	/* A second restore while one runs: refused. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), "{\"restore\":{}}", 400, NULL);
	/* Never answered: the backup is whole again, the volume is not. */
	expire(bid);
	assert_string_equal(bstatus(bid), "available");
	assert_string_equal(vstatus(nv), "error_restoring");

	/* Into an existing, large enough volume. */
	snprintf(b, sizeof(b), "{\"restore\":{\"volume_id\":\"%s\"}}", vid);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), b, 202, NULL);
	assert_string_equal(ctltest_str(T, "restore.volume_id"), vid);
	assert_string_equal(vstatus(vid), "restoring-backup");
	/* The volume being restored into is not backed up. */
	snprintf(b, sizeof(b), "{\"backup\":{\"volume_id\":\"%s\"}}", vid);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups", NULL), b,
	    400, NULL);
	/* A backup being restored is not deleted. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 400, NULL);
	expire(bid);
	assert_string_equal(vstatus(vid), "error_restoring");
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 202, NULL);
}

static void
test_backup_quota(void **state)
{
	char vid[37], bid[37], b[128];
	const char *mp;

	(void)state;
	volume_ready(3, vid);
	mp = T->project_id[CT_MEMBER];
	snprintf(b, sizeof(b), "{\"backup\":{\"volume_id\":\"%s\"}}", vid);
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    mp), "{\"quota_set\":{\"backup_gigabytes\":2}}", 200, NULL);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups", NULL), b,
	    413, "Requested backup exceeds allowed Backup gigabytes quota. "
	    "Requested 3G, quota is 2G and 0G has been consumed.");
	assert_int_equal(count_backups(), 0);
	assert_string_equal(vstatus(vid), "available");
	CT_CALL(T, V, CT_ADMIN, "PUT", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    mp), "{\"quota_set\":{\"backup_gigabytes\":-1,\"backups\":1}}",
	    200, NULL);
	backup(vid, "", bid);
	expire(bid);
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups", NULL), b,
	    413, "Maximum number of backups allowed (1) exceeded");
	assert_int_equal(count_backups(), 1);
	assert_int_equal(used("totalBackupsUsed"), 1);
	assert_string_equal(vstatus(vid), "available");
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 202, NULL);
	backup(vid, "", bid);
	CT_CALL(T, V, CT_ADMIN, "DELETE", vpath(CT_ADMIN, "/os-quota-sets/%s",
	    mp), NULL, 200, NULL);
	CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN, "/backups/%s/action",
	    bid), "{\"os-force_delete\":{}}", 202, NULL);
}

/* The entry of backup bid in host's derived state, or NULL. */
static const struct sch_sto_backup *
op_of(const char *host, const char *bid)
{
	const struct msg_host_storage *m;

	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	m = storesync_desired(ctltest_storesync(T), host);
	assert_non_null(m);
	for (size_t i = 0; i < m->backups.n; i++)
		if (strcmp(m->backups.items[i].id, bid) == 0)
			return &m->backups.items[i];
	return NULL;
}

/* A data request as the storage host makes it: with capability cap
 * (NULL: none) from host. */
static int
data_call(const char *method, const char *bid, const char *cap,
    const char *host, const char *body)
{
	char p[128], h[1024];
	size_t o = 0;

	snprintf(p, sizeof(p), "/v3/backup-data/%s", bid);
	h[0] = '\0';
	if (cap != NULL)
		o += (size_t)snprintf(h + o, sizeof(h) - o,
		    "X-Auth-Token: %s\r\n", cap);
	if (host != NULL)
		o += (size_t)snprintf(h + o, sizeof(h) - o,
		    "X-Tinystack-Host: %s\r\n", host);
	snprintf(h + o, sizeof(h) - o,
	    "Content-Type: application/octet-stream\r\n");
	return ctltest_call(T, V, CT_ANON, method, p, body, h);
}

/* A host's report of one backup or restore. */
static void
report_op(const char *host, const char *bid, bool restore, bool ok,
    const char *msg)
{
	struct msg_host_storage_state r;
	struct sch_sto_backup_status st;

	memset(&r, 0, sizeof(r));
	memset(&st, 0, sizeof(st));
	r.backend = (char *)"file";
	r.portal = (char *)"127.0.0.1:3260";
	snprintf(st.id, sizeof(st.id), "%s", bid);
	st.restore = restore;
	st.done = true;
	st.ok = ok;
	st.message = (char *)msg;
	r.backups.items = &st;
	r.backups.n = 1;
	assert_int_equal(storesync_report(ctltest_storesync(T), host, &r), 0);
}

static void
test_backup_data(void **state)
{
	static const char data[] = "the volume's bytes, as the host read them";
	const struct sch_sto_backup *op;
	char vid[37], bid[37], b2[37], nv[37], other[37], p[128],
	    up[CAPABILITY_BUFSZ],
	    down[CAPABILITY_BUFSZ], wrong[CAPABILITY_BUFSZ];
	const char *ids[1];

	(void)state;
	volume_ready(1, vid);
	backup(vid, "", bid);
	/* The volume's host is told to stream it. */
	op = op_of(HOST1, bid);
	assert_non_null(op);
	assert_false(op->restore);
	assert_string_equal(op->volume_id, vid);
	assert_non_null(strstr(op->data_url, "http"));
	assert_null(op->token);		/* minted at send time only */

	assert_int_equal(identity_capability_mint_upload(ctltest_identity(T),
	    HOST1, vid, bid, 600, up, sizeof(up)), 0);
	volume_ready(1, other);
	assert_int_equal(identity_capability_mint_upload(ctltest_identity(T),
	    HOST1, other, bid, 600, wrong, sizeof(wrong)), 0);
	ids[0] = bid;
	assert_int_equal(identity_capability_mint(ctltest_identity(T), HOST1,
	    vid, ids, 1, 600, down, sizeof(down)), 0);
	/* Refused: no capability, another host, another volume's, a
	 * download capability, a member's token. */
	assert_int_equal(data_call("PUT", bid, NULL, HOST1, data), 401);
	assert_int_equal(data_call("PUT", bid, up, "other", data), 401);
	assert_int_equal(data_call("PUT", bid, wrong, HOST1, data), 403);
	assert_int_equal(data_call("PUT", bid, down, HOST1, data), 401);
	CT_CALL(T, V, CT_MEMBER, "PUT", "/v3/backup-data/" NOID, NULL, 403,
	    NULL);
	snprintf(p, sizeof(p), "/v3/backup-data/%s", bid);
	CT_CALL(T, V, CT_MEMBER, "PUT", p, NULL, 403, NULL);
	CT_CALL(T, V, CT_ADMIN, "GET", p, NULL, 403, NULL);
	assert_string_equal(bstatus(bid), "creating");
	/* No restore of a backup being made. */
	assert_int_equal(data_call("GET", bid, down, HOST1, NULL), 403);

	/* The upload makes it available and gives the volume back. */
	assert_int_equal(data_call("PUT", bid, up, HOST1, data), 204);
	assert_string_equal(bstatus(bid), "available");
	assert_string_equal(vstatus(vid), "available");
	assert_null(op_of(HOST1, bid));
	/* Once is enough. */
	assert_int_equal(data_call("PUT", bid, up, HOST1, data), 409);

	/* A backup of a snapshot: the host is told to send that
	 * snapshot's data. */
	{
		char sid[37], b[256];

		snprintf(b, sizeof(b), "{\"snapshot\":{\"volume_id\":\"%s\"}}",
		    vid);
		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/snapshots",
		    NULL), b, 202, NULL);
		snprintf(sid, sizeof(sid), "%s", ctltest_str(T, "snapshot.id"));
		report_all(HOST1);
		snprintf(b, sizeof(b), ",\"snapshot_id\":\"%s\"", sid);
		backup(vid, b, b2);
		op = op_of(HOST1, b2);
		assert_non_null(op);
		assert_string_equal(op->snapshot_id, sid);
		CT_CALL(T, V, CT_MEMBER, "GET", vpath(CT_MEMBER, "/backups/%s",
		    b2), NULL, 200, NULL);
		assert_string_equal(ctltest_str(T, "backup.snapshot_id"), sid);
		CT_CALL(T, V, CT_ADMIN, "POST", vpath(CT_ADMIN,
		    "/backups/%s/action", b2), "{\"os-force_delete\":{}}", 202,
		    NULL);
		CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER,
		    "/snapshots/%s", sid), NULL, 202, NULL);
		report_all(HOST1);
	}

	/* A failed backup: error with the host's message. */
	backup(vid, "", b2);
	report_op(HOST1, b2, false, false, "dd: read error");
	assert_string_equal(bstatus(b2), "error");
	assert_string_equal(ctltest_str(T, "backup.fail_reason"),
	    "dd: read error");
	assert_string_equal(vstatus(vid), "available");
	/* Another host's report is not heard. */
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", b2),
	    NULL, 202, NULL);

	/* Restore into a new volume: the host fetches the bytes. */
	CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER, "/backups/%s/restore",
	    bid), "{\"restore\":{\"name\":\"back\"}}", 202, NULL);
	snprintf(nv, sizeof(nv), "%s", ctltest_str(T, "restore.volume_id"));
	assert_string_equal(ctltest_str(T, "restore.volume_name"), "back");
	op = op_of(HOST1, bid);
	assert_non_null(op);
	assert_true(op->restore);
	assert_string_equal(op->volume_id, nv);
	assert_int_equal(op->size, strlen(data));
	assert_int_equal(strlen(op->sha512), 128);
	ids[0] = bid;
	assert_int_equal(identity_capability_mint(ctltest_identity(T), HOST1,
	    nv, ids, 1, 600, down, sizeof(down)), 0);
	assert_int_equal(data_call("GET", bid, up, HOST1, NULL), 401);
	assert_int_equal(data_call("GET", bid, down, "other", NULL), 401);
	assert_int_equal(data_call("GET", bid, down, HOST1, NULL), 200);
	assert_int_equal(T->r.len, strlen(data));
	assert_memory_equal(T->r.raw, data, strlen(data));
	/* Another host's word does not count. */
	report_op("stor2", bid, true, true, NULL);
	assert_string_equal(bstatus(bid), "restoring");
	report_op(HOST1, bid, true, true, NULL);
	assert_string_equal(bstatus(bid), "available");
	assert_string_equal(vstatus(nv), "available");
	assert_null(op_of(HOST1, bid));
	/* A failed restore: the volume error_restoring, the backup whole. */
	{
		char b[128];

		snprintf(b, sizeof(b), "{\"restore\":{\"volume_id\":\"%s\"}}",
		    nv);
		CT_CALL(T, V, CT_MEMBER, "POST", vpath(CT_MEMBER,
		    "/backups/%s/restore", bid), b, 202, NULL);
	}
	report_op(HOST1, bid, true, false, "sha512 mismatch");
	assert_string_equal(bstatus(bid), "available");
	assert_string_equal(vstatus(nv), "error_restoring");
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/backups/%s", bid),
	    NULL, 202, NULL);
	assert_int_equal(data_call("GET", bid, down, HOST1, NULL), 404);
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
		cmocka_unit_test(test_backup_refused),
		cmocka_unit_test(test_backup_lifecycle),
		cmocka_unit_test(test_backup_admin_actions),
		cmocka_unit_test(test_backup_restore),
		cmocka_unit_test(test_backup_quota),
		cmocka_unit_test(test_backup_data),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
