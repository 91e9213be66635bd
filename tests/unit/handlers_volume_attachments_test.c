/*
 * handlers_volume_attachments_test: Cinder's attachments API (3.27,
 * os-complete 3.44) and the legacy os-initialize_connection /
 * os-terminate_connection (controller/volume/volume_attachments.c) over
 * HTTP against the in-process controller of ctltest.h: the microversion
 * gates, create (reserve, or with a connector), show, list, detail,
 * update with a connector, os-complete, delete, with the volume's states
 * and the exports the storage sync derives for each step.
 *
 * Every refusal checks its status and message, then reads the state back
 * unchanged (the attachment list, the volume's status, the export).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/db.h"
#include "ctltest.h"
#include "msg_gen.h"
#include "store.h"
#include "volume/storesync.h"
#include "volume/volume.h"

#define V	CT_VOLUME
#define HOST1	"stor1"
#define NOID	"6f1d7c2e-0000-4000-8000-00000000dead"
#define SRV1	"6f1d7c2e-0000-4000-8000-0000000000b1"
#define SRV2	"6f1d7c2e-0000-4000-8000-0000000000b2"
#define INIT1	"iqn.1993-08.org.debian:01:cad181614cec"
#define MV327	"OpenStack-API-Version: volume 3.27\r\n"
#define MV344	"OpenStack-API-Version: volume 3.44\r\n"

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

/* A call at microversion hdr (NULL: none, 3.0). */
#define AC(who, hdr, m, p, body, status, msg) do {			\
	ctltest_call(T, V, (who), (m), (p), (body), (hdr));		\
	ctltest_expect_at(T, (status), (msg), __FILE__, __LINE__);	\
} while (0)

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
	s.last_seen_at = s.created_at = s.updated_at = db_now_ms();
	assert_int_equal(store_write(ctltest_store(T), svc_put, &s), 0);
}

static const struct msg_host_storage *
desired(uint64_t *gen)
{
	const struct msg_host_storage *m;

	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	m = storesync_desired(ctltest_storesync(T), HOST1);
	assert_non_null(m);
	if (gen != NULL)
		*gen = m->generation;
	return m;
}

/* The export of volume id for attachment aid in HOST1's derived message
 * (NULL: none). */
static const struct sch_sto_export *
export_of(const char *id, const char *aid)
{
	const struct msg_host_storage *m = desired(NULL);

	for (size_t i = 0; i < m->volumes.n; i++) {
		const struct sch_sto_volume *sv = &m->volumes.items[i];

		if (strcmp(sv->id, id) != 0)
			continue;
		for (size_t j = 0; j < sv->exports.n; j++)
			if (strcmp(sv->exports.items[j].attachment_id, aid) ==
			    0)
				return &sv->exports.items[j];
	}
	return NULL;
}

static size_t
nexports(const char *id)
{
	const struct msg_host_storage *m = desired(NULL);

	for (size_t i = 0; i < m->volumes.n; i++)
		if (strcmp(m->volumes.items[i].id, id) == 0)
			return m->volumes.items[i].exports.n;
	return 0;
}

/* A volume of the member's, available on HOST1 (portal 127.0.0.1:3260). */
static void
make_volume(char id[37])
{
	struct msg_host_storage_state m;
	struct sch_sto_status sv;
	uint64_t gen;

	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes", NULL),
	    "{\"volume\":{\"size\":1}}", 202, NULL);
	snprintf(id, 37, "%s", ctltest_str(T, "volume.id"));
	(void)desired(&gen);
	memset(&m, 0, sizeof(m));
	memset(&sv, 0, sizeof(sv));
	m.generation = gen;
	m.backend = (char *)"file";
	m.portal = (char *)"127.0.0.1:3260";
	m.total_gb = 100;
	m.free_gb = 90;
	snprintf(sv.id, sizeof(sv.id), "%s", id);
	sv.present = sv.ok = true;
	sv.size_gb = 1;
	m.volumes.items = &sv;
	m.volumes.n = 1;
	assert_int_equal(storesync_report(ctltest_storesync(T), HOST1, &m), 0);
}

static const char *
vstatus(const char *id)
{
	static char st[32];

	AC(CT_MEMBER, NULL, "GET", vpath(CT_MEMBER, "/volumes/%s", id), NULL,
	    200, NULL);
	snprintf(st, sizeof(st), "%s", ctltest_str(T, "volume.status"));
	return st;
}

static size_t
natt(enum ctltest_who who)
{
	AC(who, MV327, "GET", vpath(who, "/attachments", NULL), NULL, 200,
	    NULL);
	return json_array_size(ctltest_get(T, "attachments"));
}

/* ---- tests -------------------------------------------------------------- */

static void
test_microversions(void **state)
{
	(void)state;
	/* Discovery says 3.44; the routes do not exist below 3.27, nor
	 * os-complete below 3.44. */
	AC(CT_ANON, NULL, "GET", "/", NULL, 300, NULL);
	assert_string_equal(ctltest_str(T, "versions.0.version"), "3.44");
	AC(CT_MEMBER, NULL, "GET", vpath(CT_MEMBER, "/attachments", NULL),
	    NULL, 404, "The resource could not be found.");
	AC(CT_MEMBER, "OpenStack-API-Version: volume 3.26\r\n", "POST",
	    vpath(CT_MEMBER, "/attachments", NULL), "{}", 404,
	    "The resource could not be found.");
	AC(CT_MEMBER, MV327, "POST", vpath(CT_MEMBER,
	    "/attachments/%s/action", NOID), "{\"os-complete\":null}", 404,
	    "The resource could not be found.");
	AC(CT_MEMBER, "OpenStack-API-Version: volume 3.45\r\n", "GET",
	    vpath(CT_MEMBER, "/attachments", NULL), NULL, 406,
	    "Version 3.45 is not supported by the API. Minimum is 3.0 and "
	    "maximum is 3.44.");
	assert_int_equal(natt(CT_MEMBER), 0);
}

static void
test_attachments(void **state)
{
	char id[37], aid[37], body[512];
	const struct sch_sto_export *e;
	json_t *ci;

	(void)state;
	host_up(HOST1);
	make_volume(id);
	assert_string_equal(vstatus(id), "available");

	/* ---- create refusals: nothing changes ---- */
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    "{}", 400, "Invalid input for field/attribute attachment. "
	    "'attachment' is a required property");
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\","
	    "\"instance_uuid\":\"" SRV1 "\",\"mode\":\"rw\"}}", id);
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    body, 400, "Invalid input for field/attribute attachment. "
	    "Additional properties are not allowed");
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    "{\"attachment\":{\"volume_uuid\":\"x\"}}", 400,
	    "Invalid input for field/attribute volume_uuid. Value is not a "
	    "valid UUID");
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\""
	    "}}", id);
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    body, 400, "Must specify 'instance_uuid' to create attachment.");
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    "{\"attachment\":{\"volume_uuid\":\"" NOID "\",\"instance_uuid\":"
	    "\"" SRV1 "\"}}", 404, "Volume " NOID " could not be found.");
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\","
	    "\"instance_uuid\":\"" SRV1 "\"}}", id);
	/* another project's volume is not told apart from none */
	AC(CT_OTHER, MV344, "POST", vpath(CT_OTHER, "/attachments", NULL),
	    body, 404, NULL);
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\","
	    "\"instance_uuid\":\"" SRV1 "\",\"connector\":{\"host\":\"h\"}}}",
	    id);
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    body, 400, "Invalid input received: connector must name an iSCSI "
	    "initiator (iqn/eui characters).");
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\","
	    "\"instance_uuid\":\"" SRV1 "\",\"connector\":{\"initiator\":"
	    "\"iqn.x;rm -rf\"}}}", id);
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    body, 400, "Invalid input received: connector must name an iSCSI "
	    "initiator (iqn/eui characters).");
	assert_int_equal(natt(CT_MEMBER), 0);
	assert_string_equal(vstatus(id), "available");
	assert_int_equal(nexports(id), 0);

	/* ---- reserve: no connector, no connection, no export ---- */
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\","
	    "\"instance_uuid\":\"" SRV1 "\",\"connector\":null}}", id);
	AC(CT_MEMBER, MV327, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    body, 200, NULL);
	snprintf(aid, sizeof(aid), "%s", ctltest_str(T, "attachment.id"));
	assert_int_equal(strlen(aid), 36);
	assert_string_equal(ctltest_str(T, "attachment.status"), "reserved");
	assert_string_equal(ctltest_str(T, "attachment.instance"), SRV1);
	assert_string_equal(ctltest_str(T, "attachment.volume_id"), id);
	assert_string_equal(ctltest_str(T, "attachment.attach_mode"), "rw");
	assert_string_equal(ctltest_str(T, "attachment.attached_at"), "");
	assert_string_equal(ctltest_str(T, "attachment.detached_at"), "");
	assert_true(json_is_null(ctltest_get(T,
	    "attachment.connection_info")));
	assert_string_equal(vstatus(id), "reserved");
	assert_int_equal(nexports(id), 0);
	/* not multiattach: a second one is refused, nothing changed */
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\","
	    "\"instance_uuid\":\"" SRV2 "\"}}", id);
	{
		char msg[160];

		snprintf(msg, sizeof(msg), "Invalid volume: Volume %s status "
		    "must be available or downloading", id);
		AC(CT_MEMBER, MV327, "POST", vpath(CT_MEMBER, "/attachments",
		    NULL), body, 400, msg);
	}
	assert_int_equal(natt(CT_MEMBER), 1);
	assert_string_equal(vstatus(id), "reserved");

	/* ---- show, list, detail, filters; another project sees none ---- */
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER, "/attachments/%s", aid),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "attachment.id"), aid);
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER, "/attachments/detail",
	    NULL), NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "attachments.0.status"),
	    "reserved");
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER,
	    "/attachments?volume_id=" NOID, NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "attachments")), 0);
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER,
	    "/attachments?instance_id=" SRV1, NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "attachments")), 1);
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER,
	    "/attachments?status=attached", NULL), NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "attachments")), 0);
	assert_int_equal(natt(CT_OTHER), 0);
	AC(CT_OTHER, MV327, "GET", vpath(CT_OTHER, "/attachments/%s", aid),
	    NULL, 404, NULL);
	AC(CT_ADMIN, MV327, "GET", vpath(CT_ADMIN, "/attachments/%s", aid),
	    NULL, 200, NULL);

	/* ---- update refusals: nothing changes ---- */
	AC(CT_MEMBER, MV327, "PUT", vpath(CT_MEMBER, "/attachments/%s", aid),
	    "{\"attachment\":{}}", 400, "Invalid input for field/attribute "
	    "attachment. 'connector' is a required property and the only one "
	    "allowed");
	AC(CT_MEMBER, MV327, "PUT", vpath(CT_MEMBER, "/attachments/%s", aid),
	    "{\"attachment\":{\"connector\":{}}}", 400, "Invalid input "
	    "received: connector must be an object with at least one "
	    "property.");
	AC(CT_MEMBER, MV327, "PUT", vpath(CT_MEMBER, "/attachments/%s", aid),
	    "{\"attachment\":{\"connector\":{\"initiator\":\"" INIT1 "\","
	    "\"mode\":\"rx\"}}}", 400, "Invalid input received: Invalid "
	    "attaching mode 'rx'.");
	AC(CT_OTHER, MV327, "PUT", vpath(CT_OTHER, "/attachments/%s", aid),
	    "{\"attachment\":{\"connector\":{\"initiator\":\"" INIT1 "\"}}}",
	    404, NULL);
	AC(CT_MEMBER, MV327, "PUT", vpath(CT_MEMBER, "/attachments/%s", NOID),
	    "{\"attachment\":{\"connector\":{\"initiator\":\"" INIT1 "\"}}}",
	    404, "Volume attachment " NOID " could not be found.");
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER, "/attachments/%s", aid),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "attachment.status"), "reserved");
	assert_string_equal(vstatus(id), "reserved");
	assert_int_equal(nexports(id), 0);

	/* ---- update with a connector: the connection and its export ---- */
	AC(CT_MEMBER, MV327, "PUT", vpath(CT_MEMBER, "/attachments/%s", aid),
	    "{\"attachment\":{\"connector\":{\"initiator\":\"" INIT1 "\","
	    "\"host\":\"tempest-1\",\"ip\":\"192.168.1.20\",\"platform\":"
	    "\"x86_64\",\"os_type\":\"linux2\",\"multipath\":false,"
	    "\"mountpoint\":\"/dev/vdb\"}}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "attachment.status"), "attaching");
	ci = ctltest_get(T, "attachment.connection_info");
	assert_non_null(ci);
	assert_string_equal(ctltest_str(T,
	    "attachment.connection_info.driver_volume_type"), "iscsi");
	assert_string_equal(ctltest_str(T,
	    "attachment.connection_info.data.target_portal"),
	    "127.0.0.1:3260");
	snprintf(body, sizeof(body), "iqn.2010-10.org.openstack:volume-%s", id);
	assert_string_equal(ctltest_str(T,
	    "attachment.connection_info.data.target_iqn"), body);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "attachment.connection_info.data.target_lun")), 1);
	assert_string_equal(ctltest_str(T,
	    "attachment.connection_info.data.auth_method"), "CHAP");
	assert_string_equal(ctltest_str(T,
	    "attachment.connection_info.data.access_mode"), "rw");
	assert_string_equal(ctltest_str(T,
	    "attachment.connection_info.data.volume_id"), id);
	assert_true(json_is_false(ctltest_get(T,
	    "attachment.connection_info.data.encrypted")));
	{
		char user[32], pass[32];

		snprintf(user, sizeof(user), "%s", ctltest_str(T,
		    "attachment.connection_info.data.auth_username"));
		snprintf(pass, sizeof(pass), "%s", ctltest_str(T,
		    "attachment.connection_info.data.auth_password"));
		assert_int_equal(strlen(user), 20);
		assert_int_equal(strlen(pass), 20);
		assert_string_equal(vstatus(id), "attaching");
		/* the storage sync exports it to that initiator with them */
		e = export_of(id, aid);
		assert_non_null(e);
		assert_string_equal(e->initiator, INIT1);
		assert_string_equal(e->chap_user, user);
		assert_string_equal(e->chap_secret, pass);
		/* show answers the same connection */
		AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER,
		    "/attachments/%s", aid), NULL, 200, NULL);
		assert_string_equal(ctltest_str(T,
		    "attachment.connection_info.data.auth_username"), user);
	}

	/* ---- os-complete ---- */
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments/%s/action",
	    aid), "{\"os-foo\":null}", 400, "There is no such action: os-foo");
	AC(CT_OTHER, MV344, "POST", vpath(CT_OTHER, "/attachments/%s/action",
	    aid), "{\"os-complete\":null}", 404, NULL);
	assert_string_equal(vstatus(id), "attaching");
	AC(CT_MEMBER, MV344, "POST", vpath(CT_MEMBER, "/attachments/%s/action",
	    aid), "{\"os-complete\":null}", 204, NULL);
	assert_string_equal(vstatus(id), "in-use");
	assert_string_equal(ctltest_str(T, "volume.attachments.0."
	    "attachment_id"), aid);
	assert_string_equal(ctltest_str(T, "volume.attachments.0.device"),
	    "/dev/vdb");
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER, "/attachments/%s", aid),
	    NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "attachment.status"), "attached");
	assert_string_not_equal(ctltest_str(T, "attachment.attached_at"), "");

	/* ---- delete: another project's refused; then gone with its export */
	AC(CT_OTHER, MV327, "DELETE", vpath(CT_OTHER, "/attachments/%s", aid),
	    NULL, 404, NULL);
	assert_string_equal(vstatus(id), "in-use");
	assert_non_null(export_of(id, aid));
	AC(CT_MEMBER, MV327, "DELETE", vpath(CT_MEMBER, "/attachments/%s", aid),
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "attachments")), 0);
	assert_string_equal(vstatus(id), "available");
	assert_null(export_of(id, aid));
	AC(CT_MEMBER, MV327, "GET", vpath(CT_MEMBER, "/attachments/%s", aid),
	    NULL, 404, NULL);
	AC(CT_MEMBER, MV327, "DELETE", vpath(CT_MEMBER, "/attachments/%s", aid),
	    NULL, 404, NULL);

	/* ---- create with a connector at once: attaching, exported ---- */
	snprintf(body, sizeof(body), "{\"attachment\":{\"volume_uuid\":\"%s\","
	    "\"instance_uuid\":\"" SRV2 "\",\"connector\":{\"initiator\":\""
	    INIT1 "\",\"mode\":\"ro\"}}}", id);
	AC(CT_MEMBER, MV327, "POST", vpath(CT_MEMBER, "/attachments", NULL),
	    body, 200, NULL);
	snprintf(aid, sizeof(aid), "%s", ctltest_str(T, "attachment.id"));
	assert_string_equal(ctltest_str(T, "attachment.status"), "attaching");
	assert_string_equal(ctltest_str(T,
	    "attachment.connection_info.data.access_mode"), "ro");
	assert_string_equal(vstatus(id), "attaching");
	assert_non_null(export_of(id, aid));
	AC(CT_MEMBER, MV327, "DELETE", vpath(CT_MEMBER, "/attachments/%s", aid),
	    NULL, 200, NULL);
	assert_string_equal(vstatus(id), "available");
	assert_int_equal(nexports(id), 0);
}

static void
test_legacy_connection(void **state)
{
	char id[37], aid[37], body[512];

	(void)state;
	host_up(HOST1);
	make_volume(id);

	/* refusals: nothing changes */
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    "{\"os-initialize_connection\":{}}", 400, "Invalid input "
	    "received: Must specify 'connector'");
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    "{\"os-initialize_connection\":{\"connector\":{\"host\":\"x\"}}}",
	    400, "Invalid input received: connector must name an iSCSI "
	    "initiator (iqn/eui characters).");
	AC(CT_OTHER, NULL, "POST", vpath(CT_OTHER, "/volumes/%s/action", id),
	    "{\"os-initialize_connection\":{\"connector\":{\"initiator\":\""
	    INIT1 "\"}}}", 404, NULL);
	assert_string_equal(vstatus(id), "available");
	assert_int_equal(nexports(id), 0);

	/* the legacy flow: reserve, initialize, attach, terminate, detach */
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    "{\"os-reserve\":null}", 202, NULL);
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    "{\"os-initialize_connection\":{\"connector\":{\"initiator\":\""
	    INIT1 "\",\"host\":\"c1\"}}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "connection_info.driver_volume_type"),
	    "iscsi");
	assert_string_equal(ctltest_str(T, "connection_info.data.auth_method"),
	    "CHAP");
	snprintf(body, sizeof(body), "%s", ctltest_str(T,
	    "connection_info.data.auth_username"));
	assert_int_equal(nexports(id), 1);
	assert_string_equal(vstatus(id), "attaching");
	/* again: the same connection (same credentials), no second export */
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    "{\"os-initialize_connection\":{\"connector\":{\"initiator\":\""
	    INIT1 "\"}}}", 200, NULL);
	assert_string_equal(ctltest_str(T,
	    "connection_info.data.auth_username"), body);
	assert_int_equal(nexports(id), 1);
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    "{\"os-attach\":{\"instance_uuid\":\"" SRV1 "\",\"mountpoint\":"
	    "\"/dev/vdc\"}}", 202, NULL);
	assert_string_equal(vstatus(id), "in-use");
	assert_int_equal(json_array_size(ctltest_get(T,
	    "volume.attachments")), 1);
	snprintf(aid, sizeof(aid), "%s", ctltest_str(T,
	    "volume.attachments.0.attachment_id"));
	assert_non_null(export_of(id, aid));
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    "{\"os-terminate_connection\":{\"connector\":{\"initiator\":\""
	    INIT1 "\"}}}", 202, NULL);
	assert_int_equal(nexports(id), 0);
	assert_string_equal(vstatus(id), "in-use");
	snprintf(body, sizeof(body), "{\"os-detach\":{\"attachment_id\":"
	    "\"%s\"}}", aid);
	AC(CT_MEMBER, NULL, "POST", vpath(CT_MEMBER, "/volumes/%s/action", id),
	    body, 202, NULL);
	assert_string_equal(vstatus(id), "available");
	assert_int_equal(nexports(id), 0);
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
		cmocka_unit_test(test_microversions),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_legacy_connection),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
