/*
 * handlers_compute_volume_test: the compute side of block storage over
 * HTTP against the in-process controller of ctltest.h: os-volume_attachments
 * (list, show, attach, detach, with their refusals), the
 * os-extended-volumes:volumes_attached field of the server view, and
 * block_device_mapping_v2 at server create (its refusals, then a boot from
 * an existing volume on a host that is up), and from 2.20 attach and
 * detach on shelved and shelved-offloaded servers, then the unshelve that
 * re-hosts what was attached while offloaded.
 *
 * A volume becomes available as the volume tests make it: a storage host's
 * report (storesync_report()) showing it made. A server is put on a host
 * by rewriting its record (this cloud has no agent), as the os-interface
 * tests do. Every refused change is followed by reads showing that neither
 * the volume nor the server changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "compute/compute_db.h"
#include "core/db.h"
#include "ctltest.h"
#include "msg_gen.h"
#include "store.h"
#include "volume/storesync.h"
#include "volume/volume.h"

#define C	CT_COMPUTE
#define V	CT_VOLUME
#define HOST1	"stor1"
#define MV23	"OpenStack-API-Version: compute 2.3\r\n"

static struct ctltest	*T;
static char		 image_id[64];	/* public, active */
static char		 path[512], body[4096];

/* ---- volumes ------------------------------------------------------------ */

static const char *
vpath(enum ctltest_who who, const char *rest, const char *arg)
{
	char r[256];

	ctltest_subst(r, sizeof(r), rest, arg != NULL ? arg : "");
	snprintf(path, sizeof(path), "/v3/%s%s", T->project_id[who], r);
	return path;
}

static int
svc_put(struct store_txn *txn, void *arg)
{
	return db_service_put(txn, arg);
}

/* The agent of host as its heartbeats would have written it, seen now. */
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

/* host's report at its desired generation that volume id is made. */
static void
report_made(const char *host, const char *id)
{
	const struct msg_host_storage *d;
	struct msg_host_storage_state m;
	struct sch_sto_status sv;

	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	d = storesync_desired(ctltest_storesync(T), host);
	assert_non_null(d);
	memset(&m, 0, sizeof(m));
	memset(&sv, 0, sizeof(sv));
	m.generation = d->generation;
	m.backend = (char *)"file";
	m.portal = (char *)"127.0.0.1:3260";
	m.total_gb = 100;
	m.free_gb = 90;
	snprintf(sv.id, sizeof(sv.id), "%s", id);
	sv.present = true;
	sv.ok = true;
	sv.size_gb = 1;
	m.volumes.items = &sv;
	m.volumes.n = 1;
	assert_int_equal(storesync_report(ctltest_storesync(T), host, &m), 0);
}

/* A new available 1 GB volume of who's project, into id. */
static void
vol_new(enum ctltest_who who, char id[37])
{
	host_up(HOST1);
	CT_CALL(T, V, who, "POST", vpath(who, "/volumes", NULL),
	    "{\"volume\":{\"size\":1}}", 202, NULL);
	snprintf(id, 37, "%s", ctltest_str(T, "volume.id"));
	assert_int_equal(strlen(id), 36);
	report_made(HOST1, id);
}

/* Volume id of who's project has status and n attachments (the first, if
 * any, to server). */
static void
vol_is(enum ctltest_who who, const char *id, const char *status, size_t n,
    const char *server)
{
	CT_CALL(T, V, who, "GET", vpath(who, "/volumes/%s", id), NULL, 200,
	    NULL);
	assert_string_equal(ctltest_str(T, "volume.status"), status);
	assert_int_equal(json_array_size(ctltest_get(T, "volume.attachments")),
	    n);
	if (n > 0 && server != NULL)
		assert_string_equal(ctltest_str(T,
		    "volume.attachments.0.server_id"), server);
}

/* Cinder lists only attached attachments: the pending ones are seen in
 * what the storage host is told to export (n of them for volume id) and
 * through the compute side's connection of server's mapping of id. */
static void
exports_are(const char *id, size_t n)
{
	const struct msg_host_storage *m;
	size_t got = 0;

	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	m = storesync_desired(ctltest_storesync(T), HOST1);
	assert_non_null(m);
	for (size_t i = 0; i < m->volumes.n; i++)
		if (strcmp(m->volumes.items[i].id, id) == 0)
			got = m->volumes.items[i].exports.n;
	assert_int_equal(got, n);
}

static void
attachment_of(const char *server, const char *id)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	struct volume_conn c;
	int found = 0;

	assert_int_equal(store_read_begin(ctltest_store(T), &txn), 0);
	assert_int_equal(compute_db_instance_get(txn, server, &i), 0);
	for (size_t k = 0; k < i.volumes.n; k++)
		if (strcmp(i.volumes.items[k].volume_id, id) == 0) {
			assert_int_equal(volume_attach_conn(ctltest_volume(T),
			    txn, id, i.volumes.items[k].attachment_id, &c), 0);
			assert_string_equal(c.server_id, server);
			found++;
		}
	store_txn_end(&txn);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(found, 1);
}

/* ---- servers ------------------------------------------------------------ */

static void
server_new(const char *name, char id[64])
{
	snprintf(body, sizeof(body), "{\"server\": {\"name\": \"%s\", "
	    "\"flavorRef\": \"ct1\", \"imageRef\": \"%s\", \"networks\": "
	    "\"none\"}}", name, image_id);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 202, NULL);
	snprintf(id, 64, "%s", ctltest_str(T, "server.id"));
}

/* The server's record rewritten: on host ct-v1, ACTIVE. */
static int
place_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, arg, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.host);
	free(i.vm_state);
	free(i.task_state);
	i.task_state = NULL;
	i.host = strdup("ct-v1");
	i.vm_state = strdup("active");
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static void
server_placed(const char *name, char id[64])
{
	server_new(name, id);
	assert_int_equal(store_write(ctltest_store(T), place_fn, id), 0);
}

/* What the host's report does when it sees the volume in the guest
 * (recon.c): the volume in-use, the server's mapping attached. */
struct done {
	const char	*server, *vol;
};

static int
done_fn(struct store_txn *txn, void *arg)
{
	struct done *d = arg;
	struct rec_instance old, i;
	int rc = -1;

	if (compute_db_instance_get(txn, d->server, &old) == -1)
		return -1;
	if (compute_db_instance_get(txn, d->server, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	for (size_t k = 0; k < i.volumes.n; k++) {
		struct sch_inst_volume *iv = &i.volumes.items[k];

		if (strcmp(iv->volume_id, d->vol) != 0)
			continue;
		iv->has_attached = true;
		iv->attached = true;
		rc = volume_attach_done(ctltest_volume(T), txn, iv->volume_id,
		    iv->attachment_id);
	}
	if (rc == 0)
		rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* Server id's volumes_attached as its owner sees it (2.3): the count; the
 * first's id into first when not NULL. */
static size_t
srv_volumes(const char *id, const char *first)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s", id);
	ctltest_call(T, C, CT_MEMBER, "GET", path, NULL, MV23);
	ctltest_expect(T, 200, NULL);
	if (first != NULL)
		assert_string_equal(ctltest_str(T, "server.os-extended-volumes:"
		    "volumes_attached.0.id"), first);
	return json_array_size(ctltest_get(T,
	    "server.os-extended-volumes:volumes_attached"));
}

static void
attach(enum ctltest_who who, const char *server, const char *att, int status,
    const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-volume_attachments",
	    server);
	snprintf(body, sizeof(body), "{\"volumeAttachment\": %s}", att);
	CT_CALL(T, C, who, "POST", path, body, status, msg);
}

static void
detach(const char *server, const char *vol, int status, const char *msg)
{
	snprintf(path, sizeof(path),
	    "/v2.1/servers/%s/os-volume_attachments/%s", server, vol);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, status, msg);
}

#define DETACH_STATE	"Invalid volume: Unable to detach volume. Volume " \
	"status must be 'in-use' and attach_status must be 'attached' to " \
	"detach."

/* ---- tests -------------------------------------------------------------- */

static void
test_attach_detach(void **state)
{
	char s1[64], s2[64], vol[37], other[37], att[256], msg[512];

	(void)state;
	server_placed("cv-1", s1);
	server_placed("cv-2", s2);
	vol_new(CT_MEMBER, vol);
	vol_new(CT_OTHER, other);
	vol_is(CT_MEMBER, vol, "available", 0, NULL);
	assert_int_equal(srv_volumes(s1, NULL), 0);

	/* attach */
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", vol);
	attach(CT_MEMBER, s1, att, 200, NULL);
	assert_string_equal(ctltest_str(T, "volumeAttachment.id"), vol);
	assert_string_equal(ctltest_str(T, "volumeAttachment.volumeId"), vol);
	assert_string_equal(ctltest_str(T, "volumeAttachment.serverId"), s1);
	assert_string_equal(ctltest_str(T, "volumeAttachment.device"),
	    "/dev/vdb");
	assert_int_equal(json_object_size(ctltest_get(T, "volumeAttachment")),
	    4);
	vol_is(CT_MEMBER, vol, "attaching", 0, NULL);
	exports_are(vol, 1);
	attachment_of(s1, vol);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-volume_attachments",
	    s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumeAttachments")),
	    1);
	assert_string_equal(ctltest_str(T, "volumeAttachments.0.volumeId"),
	    vol);
	assert_string_equal(ctltest_str(T, "volumeAttachments.0.device"),
	    "/dev/vdb");
	snprintf(path, sizeof(path),
	    "/v2.1/servers/%s/os-volume_attachments/%s", s1, vol);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "volumeAttachment.serverId"), s1);
	assert_string_equal(ctltest_str(T, "volumeAttachment.device"),
	    "/dev/vdb");
	/* the server view: the id, delete_on_termination from 2.3 */
	assert_int_equal(srv_volumes(s1, vol), 1);
	assert_non_null(ctltest_get(T, "server.os-extended-volumes:"
	    "volumes_attached.0.delete_on_termination"));
	assert_false(json_is_true(ctltest_get(T, "server.os-extended-volumes:"
	    "volumes_attached.0.delete_on_termination")));
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.os-extended-volumes:"
	    "volumes_attached.0.id"), vol);
	assert_null(ctltest_get(T, "server.os-extended-volumes:"
	    "volumes_attached.0.delete_on_termination"));

	/* refusals, each changing nothing */
	attach(CT_MEMBER, s1, "{\"volumeId\": "
	    "\"0c4ab6e0-0000-4000-8000-0000000000v1\"}", 400, NULL);
	attach(CT_MEMBER, s1, "{\"volumeId\": "
	    "\"0c4ab6e0-0000-4000-8000-000000000001\"}", 404, "Volume "
	    "0c4ab6e0-0000-4000-8000-000000000001 could not be found.");
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", other);
	snprintf(msg, sizeof(msg), "Volume %s could not be found.", other);
	attach(CT_MEMBER, s2, att, 404, msg);
	vol_is(CT_OTHER, other, "available", 0, NULL);
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", vol);
	snprintf(msg, sizeof(msg), "Invalid volume: volume %s already "
	    "attached to instance %s", vol, s1);
	attach(CT_MEMBER, s1, att, 400, msg);
	snprintf(msg, sizeof(msg), "Invalid volume: volume %s status must be "
	    "available, but current status is: attaching.", vol);
	attach(CT_MEMBER, s2, att, 400, msg);
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\", \"device\": "
	    "\"/dev/vd!\"}", vol);
	attach(CT_MEMBER, s2, att, 400,
	    "The supplied device path (/dev/vd!) is invalid.");
	attach(CT_MEMBER, s2, "{\"device\": \"/dev/vdc\"}", 400,
	    "Invalid input for field/attribute volumeAttachment. Value: {}. "
	    "'volumeId' is a required property");
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\", \"bogus\": 1}",
	    vol);
	attach(CT_MEMBER, s2, att, 400, "Invalid input for field/attribute "
	    "volumeAttachment. Value: bogus. Additional properties are not "
	    "allowed ('bogus' was unexpected)");
	/* locked by the admin: the member is refused */
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", s2);
	CT_CALL(T, C, CT_ADMIN, "POST", path, "{\"lock\": null}", 202, NULL);
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", vol);
	snprintf(msg, sizeof(msg), "Instance %s is locked", s2);
	attach(CT_MEMBER, s2, att, 409, msg);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", s2);
	CT_CALL(T, C, CT_ADMIN, "POST", path, "{\"unlock\": null}", 202, NULL);
	/* another project's member on the member's server */
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", other);
	snprintf(msg, sizeof(msg), "Instance %s could not be found.", s2);
	attach(CT_OTHER, s2, att, 404, msg);
	vol_is(CT_MEMBER, vol, "attaching", 0, NULL);
	exports_are(vol, 1);
	attachment_of(s1, vol);
	vol_is(CT_OTHER, other, "available", 0, NULL);
	assert_int_equal(srv_volumes(s1, vol), 1);
	assert_int_equal(srv_volumes(s2, NULL), 0);

	/* detach: not attached; still attaching */
	snprintf(msg, sizeof(msg), "volume_id not found: %s", vol);
	detach(s2, vol, 404, msg);
	detach(s1, vol, 400, DETACH_STATE);
	vol_is(CT_MEMBER, vol, "attaching", 0, NULL);
	exports_are(vol, 1);
	attachment_of(s1, vol);
	assert_int_equal(srv_volumes(s1, vol), 1);

	/* in the guest (as the host's report would have it): detach */
	{
		struct done d = { s1, vol };

		assert_int_equal(store_write(ctltest_store(T), done_fn, &d), 0);
	}
	vol_is(CT_MEMBER, vol, "in-use", 1, s1);
	detach(s1, vol, 202, NULL);
	vol_is(CT_MEMBER, vol, "detaching", 0, NULL);
	attachment_of(s1, vol);
	/* a second detach while detaching: refused, still detaching */
	detach(s1, vol, 400, DETACH_STATE);
	vol_is(CT_MEMBER, vol, "detaching", 0, NULL);
	attachment_of(s1, vol);
	assert_int_equal(srv_volumes(s1, vol), 1);
}

/*
 * A10: a server whose host is down is deleted at once (Nova's local
 * delete). Its volumes are freed with it, attaching or in-use: available
 * again with no attachment, no export on their storage host, attachable
 * and deletable. Before the fix they stayed attaching / in-use for good,
 * naming a server that was gone (found by integ.faults).
 */
static void
test_local_delete_frees_volumes(void **state)
{
	char s1[64], s2[64], s3[64], v1[37], v2[37], att[256];

	(void)state;
	server_placed("cv-ld1", s1);	/* on ct-v1: no service, down */
	server_placed("cv-ld2", s2);
	server_placed("cv-ld3", s3);
	vol_new(CT_MEMBER, v1);
	vol_new(CT_MEMBER, v2);
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", v1);
	attach(CT_MEMBER, s1, att, 200, NULL);
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", v2);
	attach(CT_MEMBER, s2, att, 200, NULL);
	{
		struct done d = { s2, v2 };

		assert_int_equal(store_write(ctltest_store(T), done_fn, &d), 0);
	}
	vol_is(CT_MEMBER, v1, "attaching", 0, NULL);
	vol_is(CT_MEMBER, v2, "in-use", 1, s2);
	exports_are(v1, 1);
	exports_are(v2, 1);

	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s2);
	CT_CALL(T, C, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_MEMBER, "GET", path, NULL, 404, NULL);
	vol_is(CT_MEMBER, v1, "available", 0, NULL);
	vol_is(CT_MEMBER, v2, "available", 0, NULL);
	exports_are(v1, 0);
	exports_are(v2, 0);
	/* free indeed: attachable to another server, and deletable */
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", v1);
	attach(CT_MEMBER, s3, att, 200, NULL);
	attachment_of(s3, v1);
	CT_CALL(T, V, CT_MEMBER, "DELETE", vpath(CT_MEMBER, "/volumes/%s", v2),
	    NULL, 202, NULL);
}

/* Server count of the member's project. */
static size_t
server_count(void)
{
	CT_CALL(T, C, CT_MEMBER, "GET", "/v2.1/servers", NULL, 200, NULL);
	return json_array_size(ctltest_get(T, "servers"));
}

static int
hv_put(struct store_txn *txn, void *arg)
{
	struct rec_hypervisor hv = { 0 };

	(void)arg;
	db_uuid(hv.id);
	hv.host = HOST1;
	hv.hypervisor_type = "TEST";
	hv.libvirt_uri = "test:///default";
	hv.cpu_model = "x";
	hv.cpu_arch = "x86_64";
	hv.vcpus = 4;
	hv.memory_mb = 4096;
	hv.local_gb = 100;
	hv.created_at = hv.updated_at = db_now_ms();
	return db_hypervisor_put(txn, &hv);
}

static void
test_create_bdm(void **state)
{
	char vol[37], busy[37], other[37], s1[64], m[2048], msg[512];
	size_t n;

	(void)state;
	vol_new(CT_MEMBER, vol);
	vol_new(CT_MEMBER, busy);
	vol_new(CT_OTHER, other);
	server_placed("cv-busy", s1);
	snprintf(m, sizeof(m), "{\"volumeId\": \"%s\"}", busy);
	attach(CT_MEMBER, s1, m, 200, NULL);
	n = server_count();

#define BFV(fields) snprintf(body, sizeof(body), "{\"server\": {\"name\": " \
	"\"cv-bfv\", \"flavorRef\": \"ct1\", \"networks\": \"none\", %s}}", \
	fields)
	/* a local blank disk */
	snprintf(m, sizeof(m), "\"imageRef\": \"%s\", "
	    "\"block_device_mapping_v2\": [{\"source_type\": \"blank\", "
	    "\"destination_type\": \"local\", \"boot_index\": -1}]",
	    image_id);
	BFV(m);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400,
	    "Block Device Mapping is Invalid: local disks other than the "
	    "image's come from the flavor (swap, ephemeral).");
	/* two boot_index 0 */
	snprintf(m, sizeof(m), "\"block_device_mapping_v2\": [{\"source_type\":"
	    " \"volume\", \"uuid\": \"%s\", \"destination_type\": \"volume\", "
	    "\"boot_index\": 0}, {\"source_type\": \"volume\", \"uuid\": "
	    "\"%s\", \"destination_type\": \"volume\", \"boot_index\": 0}]",
	    vol, busy);
	BFV(m);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400,
	    "Block Device Mapping is Invalid: Boot sequence for the instance "
	    "and image/block device mapping combination is not valid.");
	/* image -> volume without volume_size */
	snprintf(m, sizeof(m), "\"block_device_mapping_v2\": [{\"source_type\":"
	    " \"image\", \"uuid\": \"%s\", \"destination_type\": \"volume\", "
	    "\"boot_index\": 0}]", image_id);
	BFV(m);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400,
	    "Block Device Mapping is Invalid: a volume made from image needs "
	    "a volume_size.");
	/* another project's volume */
	snprintf(m, sizeof(m), "\"block_device_mapping_v2\": [{\"source_type\":"
	    " \"volume\", \"uuid\": \"%s\", \"destination_type\": \"volume\", "
	    "\"boot_index\": 0}]", other);
	BFV(m);
	snprintf(msg, sizeof(msg), "Block Device Mapping is Invalid: failed to "
	    "get volume %s.", other);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400, msg);
	/* a volume in use */
	snprintf(m, sizeof(m), "\"block_device_mapping_v2\": [{\"source_type\":"
	    " \"volume\", \"uuid\": \"%s\", \"destination_type\": \"volume\", "
	    "\"boot_index\": 0}]", busy);
	BFV(m);
	snprintf(msg, sizeof(msg), "Invalid volume: volume %s status must be "
	    "available, but current status is: attaching.", busy);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400, msg);
	/* two servers, one volume */
	snprintf(m, sizeof(m), "\"min_count\": 2, \"block_device_mapping_v2\": "
	    "[{\"source_type\": \"volume\", \"uuid\": \"%s\", "
	    "\"destination_type\": \"volume\", \"boot_index\": 0}]", vol);
	BFV(m);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 400,
	    "Cannot attach one or more volumes to multiple instances");
	assert_int_equal(server_count(), n);
	vol_is(CT_MEMBER, vol, "available", 0, NULL);
	vol_is(CT_MEMBER, busy, "attaching", 0, NULL);
	exports_are(busy, 1);
	attachment_of(s1, busy);
	vol_is(CT_OTHER, other, "available", 0, NULL);

	/* boot from vol on a host that is up (its scheduler cache refreshed
	 * by the admin's enable) */
	host_up(HOST1);
	assert_int_equal(store_write(ctltest_store(T), hv_put, NULL), 0);
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/enable",
	    "{\"host\": \"" HOST1 "\", \"binary\": \"nova-compute\"}", 200,
	    NULL);
	snprintf(m, sizeof(m), "\"block_device_mapping_v2\": [{\"source_type\":"
	    " \"volume\", \"uuid\": \"%s\", \"destination_type\": \"volume\", "
	    "\"boot_index\": 0}]", vol);
	BFV(m);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 202, NULL);
	snprintf(s1, sizeof(s1), "%s", ctltest_str(T, "server.id"));
	assert_int_equal(server_count(), n + 1);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-SRV-ATTR:host"),
	    HOST1);
	assert_string_equal(ctltest_str(T, "server.image"), "");
	assert_int_equal(srv_volumes(s1, vol), 1);
	vol_is(CT_MEMBER, vol, "attaching", 0, NULL);
	exports_are(vol, 1);
	attachment_of(s1, vol);
	{
		struct store_txn *txn = NULL;
		struct rec_instance i;

		assert_int_equal(store_read_begin(ctltest_store(T), &txn), 0);
		assert_int_equal(compute_db_instance_get(txn, s1, &i), 0);
		store_txn_end(&txn);
		assert_int_equal(i.volumes.n, 1);
		assert_string_equal(i.volumes.items[0].volume_id, vol);
		assert_true(i.volumes.items[0].has_boot_index);
		assert_int_equal(i.volumes.items[0].boot_index, 0);
		assert_string_equal(i.volumes.items[0].device, "/dev/vda");
		codec_clear(&schema_rec_instance, &i);
	}
#undef BFV
}

/* host's report at its desired generation (+ dgen) that volume id is
 * made and exported (its target named). */
static void
report_exported(const char *host, const char *id, int dgen)
{
	const struct msg_host_storage *d;
	struct msg_host_storage_state m;
	struct sch_sto_status sv;
	char iqn[128];

	assert_int_equal(storesync_sync(ctltest_storesync(T), db_now_ms()), 0);
	d = storesync_desired(ctltest_storesync(T), host);
	assert_non_null(d);
	memset(&m, 0, sizeof(m));
	memset(&sv, 0, sizeof(sv));
	m.generation = d->generation + dgen;
	m.backend = (char *)"file";
	m.portal = (char *)"127.0.0.1:3260";
	m.total_gb = 100;
	m.free_gb = 90;
	snprintf(iqn, sizeof(iqn), "iqn.2010-10.org.openstack:volume-%s", id);
	snprintf(sv.id, sizeof(sv.id), "%s", id);
	sv.present = true;
	sv.ok = true;
	sv.size_gb = 1;
	sv.iqn = iqn;
	m.volumes.items = &sv;
	m.volumes.n = 1;
	assert_int_equal(storesync_report(ctltest_storesync(T), host, &m), 0);
}

/* Server's mapping of volume id: its connection into c (the secret
 * wiped), and whether the server sees it attached. */
static bool
conn_of(const char *server, const char *id, struct volume_conn *c)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	bool attached = false;
	int found = 0;

	assert_int_equal(store_read_begin(ctltest_store(T), &txn), 0);
	assert_int_equal(compute_db_instance_get(txn, server, &i), 0);
	for (size_t k = 0; k < i.volumes.n; k++)
		if (strcmp(i.volumes.items[k].volume_id, id) == 0) {
			assert_int_equal(volume_attach_conn(ctltest_volume(T),
			    txn, id, i.volumes.items[k].attachment_id, c), 0);
			explicit_bzero(c->chap_secret, sizeof(c->chap_secret));
			attached = i.volumes.items[k].has_attached &&
			    i.volumes.items[k].attached;
			found++;
		}
	store_txn_end(&txn);
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(found, 1);
	return attached;
}

/*
 * Evacuation of a server with an attached volume, its host down: the
 * attachment (same id, same CHAP) takes the target's initiator name, and
 * the export the storage host reported for the old one is not taken for
 * it: the volume is no longer attached and not ready until the storage
 * host reports the export of the generation that names the target's
 * initiator (a report of the older generation changes nothing). Was: the
 * export stayed ready (readiness knew the attachment, not the initiator)
 * and the volume attached, so the rebuild went to the target before the
 * storage host's ACL admitted it.
 */
static void
test_evacuate_volume_export(void **state)
{
	char s1[64], vol[37], att[256], init[256];
	struct volume_conn c;

	(void)state;
	server_placed("cv-ev", s1);	/* on ct-v1: no service, down */
	vol_new(CT_MEMBER, vol);
	snprintf(att, sizeof(att), "{\"volumeId\": \"%s\"}", vol);
	attach(CT_MEMBER, s1, att, 200, NULL);
	{
		struct done d = { s1, vol };

		assert_int_equal(store_write(ctltest_store(T), done_fn, &d), 0);
	}
	report_exported(HOST1, vol, 0);
	vol_is(CT_MEMBER, vol, "in-use", 1, s1);
	assert_true(conn_of(s1, vol, &c));
	assert_true(c.ready);
	assert_int_equal(volume_initiator_name("ct-v1", init, sizeof(init)), 0);
	assert_string_equal(c.initiator, init);

	/* the target: HOST1, up with a hypervisor (test_create_bdm's) */
	host_up(HOST1);
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/enable",
	    "{\"host\": \"" HOST1 "\", \"binary\": \"nova-compute\"}", 200,
	    NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", s1);
	CT_CALL(T, C, CT_ADMIN, "POST", path, "{\"evacuate\": {\"host\": \""
	    HOST1 "\", \"onSharedStorage\": false}}", 200, NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-SRV-ATTR:host"),
	    HOST1);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-STS:task_state"),
	    "rebuilding");
	vol_is(CT_MEMBER, vol, "in-use", 1, s1);
	assert_string_equal(ctltest_str(T, "volume.attachments.0.host_name"),
	    HOST1);
	assert_false(conn_of(s1, vol, &c));
	assert_int_equal(volume_initiator_name(HOST1, init, sizeof(init)), 0);
	assert_string_equal(c.initiator, init);
	assert_false(c.ready);
	exports_are(vol, 1);
	/* the storage host still at the old generation: not yet */
	report_exported(HOST1, vol, -1);
	assert_false(conn_of(s1, vol, &c));
	assert_false(c.ready);
	/* the new ACL in place */
	report_exported(HOST1, vol, 0);
	assert_false(conn_of(s1, vol, &c));
	assert_true(c.ready);
	assert_string_equal(c.initiator, init);
}

/* HOST1's claims. */
static void
usage_of(struct rec_host_usage *u)
{
	struct store_txn *txn = NULL;

	assert_int_equal(store_read_begin(ctltest_store(T), &txn), 0);
	assert_int_equal(compute_db_host_usage_get(txn, HOST1, u), 0);
	store_txn_end(&txn);
}

/* Server id as the reconciler leaves it offloaded, its claim untouched
 * (the test compares claims, not the offload's release). */
static int
offloaded_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.host);
	free(i.vm_state);
	free(i.task_state);
	free(i.task_request_id);
	i.host = NULL;
	i.task_state = NULL;
	i.task_request_id = NULL;
	i.vm_state = strdup("shelved_offloaded");
	i.power_state = 0;
	i.shelved_host = strdup(HOST1);
	i.has_shelved_at = true;
	i.shelved_at = db_now_ms();
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/*
 * Unshelve of a server booted from a volume claims on its new host what
 * its create claimed: the flavor's cores, RAM, ephemeral and swap, no
 * root disk (the flavor's 1 GiB is the volume's). Was: the flavor's full
 * disk, which its delete or next offload then released as create's.
 */
static void
test_unshelve_bfv_claim(void **state)
{
	struct rec_host_usage u0, u1, u2;
	char vol[37], s1[64];

	(void)state;
	vol_new(CT_MEMBER, vol);
	/* HOST1 up and enabled, with its hypervisor (test_create_bdm's) */
	host_up(HOST1);
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/enable",
	    "{\"host\": \"" HOST1 "\", \"binary\": \"nova-compute\"}", 200,
	    NULL);
	usage_of(&u0);
	snprintf(body, sizeof(body), "{\"server\": {\"name\": \"cv-shelve\", "
	    "\"flavorRef\": \"ct1\", \"networks\": \"none\", "
	    "\"block_device_mapping_v2\": [{\"source_type\": \"volume\", "
	    "\"uuid\": \"%s\", \"destination_type\": \"volume\", "
	    "\"boot_index\": 0}]}}", vol);
	CT_CALL(T, C, CT_MEMBER, "POST", "/v2.1/servers", body, 202, NULL);
	snprintf(s1, sizeof(s1), "%s", ctltest_str(T, "server.id"));
	usage_of(&u1);
	assert_int_equal(u1.vcpus, u0.vcpus + 1);
	assert_int_equal(u1.memory_mb, u0.memory_mb + 64);
	assert_int_equal(u1.disk_gb, u0.disk_gb);	/* no local root */
	assert_int_equal(u1.instances, u0.instances + 1);

	assert_int_equal(store_write(ctltest_store(T), offloaded_fn, s1), 0);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", s1);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"unshelve\": null}", 202,
	    NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-SRV-ATTR:host"),
	    HOST1);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-STS:task_state"),
	    "unshelving");
	usage_of(&u2);
	/* the same claim again, as create's */
	assert_int_equal(u2.vcpus - u1.vcpus, u1.vcpus - u0.vcpus);
	assert_int_equal(u2.memory_mb - u1.memory_mb,
	    u1.memory_mb - u0.memory_mb);
	assert_int_equal(u2.disk_gb, u1.disk_gb);
	assert_int_equal(u2.instances - u1.instances,
	    u1.instances - u0.instances);
}

/* Server id's record as the reconciler leaves a shelve: SHELVED on its
 * host (ct-v1), its guest stopped. */
static int
shelved_fn(struct store_txn *txn, void *arg)
{
	struct rec_instance old, i;
	int rc;

	if (compute_db_instance_get(txn, arg, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	free(i.vm_state);
	i.vm_state = strdup("shelved");
	i.power_state = 4;	/* SHUTDOWN */
	i.shelved_host = strdup(i.host);
	i.has_shelved_at = true;
	i.shelved_at = db_now_ms();
	rc = compute_db_instance_put(txn, &i, &old);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

#define MV219	"OpenStack-API-Version: compute 2.19\r\n"
#define MV220	"OpenStack-API-Version: compute 2.20\r\n"

/* attach() and detach() at a microversion (hdr). */
static void
attach_mv(const char *hdr, const char *server, const char *vol, int status,
    const char *msg)
{
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-volume_attachments",
	    server);
	snprintf(body, sizeof(body), "{\"volumeAttachment\": {\"volumeId\": "
	    "\"%s\"}}", vol);
	ctltest_call(T, C, CT_MEMBER, "POST", path, body, hdr);
	ctltest_expect(T, status, msg);
}

static void
detach_mv(const char *hdr, const char *server, const char *vol, int status,
    const char *msg)
{
	snprintf(path, sizeof(path),
	    "/v2.1/servers/%s/os-volume_attachments/%s", server, vol);
	ctltest_call(T, C, CT_MEMBER, "DELETE", path, NULL, hdr);
	ctltest_expect(T, status, msg);
}

/* Server id's mapping of volume vol: its device (NULL: none) into dev. */
static void
mapping_device(const char *server, const char *vol, char dev[32])
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	int found = 0;

	dev[0] = '\0';
	assert_int_equal(store_read_begin(ctltest_store(T), &txn), 0);
	assert_int_equal(compute_db_instance_get(txn, server, &i), 0);
	store_txn_end(&txn);
	for (size_t k = 0; k < i.volumes.n; k++)
		if (strcmp(i.volumes.items[k].volume_id, vol) == 0) {
			snprintf(dev, 32, "%s", i.volumes.items[k].device ?
			    i.volumes.items[k].device : "");
			found++;
		}
	codec_clear(&schema_rec_instance, &i);
	assert_int_equal(found, 1);
}

/*
 * Nova 2.20: volumes attached to and detached from SHELVED and
 * SHELVED_OFFLOADED servers. Below 2.20 both are 409 and change nothing.
 * A SHELVED server (its stopped guest on its host) takes them as a
 * stopped one. An offloaded one has them recorded alone: the volume
 * in-use at once with an attachment naming no host (nothing exported),
 * no device (null in the answer, left out of list and show); a detach
 * frees the volume in the same request. Its unshelve re-hosts the
 * attachment onto the host it claims, with the next free device, and
 * the storage host is told to export it there.
 */
static void
test_shelved_volumes(void **state)
{
	char s1[64], s2[64], v1[37], v2[37], v3[37], msg[512], dev[32];
	char init[256];
	struct volume_conn c;

	(void)state;
	vol_new(CT_MEMBER, v1);
	vol_new(CT_MEMBER, v2);
	vol_new(CT_MEMBER, v3);
	server_placed("cv-off", s1);
	assert_int_equal(store_write(ctltest_store(T), offloaded_fn, s1), 0);
	server_placed("cv-shv", s2);
	assert_int_equal(store_write(ctltest_store(T), shelved_fn, s2), 0);

	/* below 2.20: Nova's 409, nothing changes */
	snprintf(msg, sizeof(msg), "Cannot 'attach_volume' instance %s while "
	    "it is in vm_state shelved_offloaded", s1);
	attach_mv(MV219, s1, v1, 409, msg);
	attach_mv(NULL, s1, v1, 409, msg);
	snprintf(msg, sizeof(msg), "Cannot 'attach_volume' instance %s while "
	    "it is in vm_state shelved", s2);
	attach_mv(MV219, s2, v1, 409, msg);
	snprintf(msg, sizeof(msg), "Cannot 'detach_volume' instance %s while "
	    "it is in vm_state shelved_offloaded", s1);
	detach_mv(MV219, s1, v1, 409, msg);
	vol_is(CT_MEMBER, v1, "available", 0, NULL);
	exports_are(v1, 0);
	assert_int_equal(srv_volumes(s1, NULL), 0);
	assert_int_equal(srv_volumes(s2, NULL), 0);

	/* 2.20, offloaded: in-use at once, no host, no device, no export */
	attach_mv(MV220, s1, v1, 200, NULL);
	assert_string_equal(ctltest_str(T, "volumeAttachment.volumeId"), v1);
	assert_string_equal(ctltest_str(T, "volumeAttachment.serverId"), s1);
	assert_true(json_is_null(ctltest_get(T, "volumeAttachment.device")));
	assert_int_equal(json_object_size(ctltest_get(T, "volumeAttachment")),
	    4);
	vol_is(CT_MEMBER, v1, "in-use", 1, s1);
	assert_true(json_is_null(ctltest_get(T,
	    "volume.attachments.0.host_name")));
	assert_true(json_is_null(ctltest_get(T, "volume.attachments.0.device")));
	exports_are(v1, 0);
	assert_true(conn_of(s1, v1, &c));
	assert_string_equal(c.initiator, "");
	assert_false(c.ready);
	assert_int_equal(srv_volumes(s1, v1), 1);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/os-volume_attachments",
	    s1);
	ctltest_call(T, C, CT_MEMBER, "GET", path, NULL, MV220);
	ctltest_expect(T, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "volumeAttachments")),
	    1);
	assert_null(ctltest_get(T, "volumeAttachments.0.device"));
	snprintf(path, sizeof(path),
	    "/v2.1/servers/%s/os-volume_attachments/%s", s1, v1);
	ctltest_call(T, C, CT_MEMBER, "GET", path, NULL, MV220);
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_str(T, "volumeAttachment.volumeId"), v1);
	assert_null(ctltest_get(T, "volumeAttachment.device"));
	/* a volume already in-use is refused as ever */
	snprintf(msg, sizeof(msg), "Invalid volume: volume %s status must be "
	    "available, but current status is: in-use.", v1);
	attach_mv(MV220, s2, v1, 400, msg);

	/* 2.20, offloaded: attach then detach v2; v2 available, v1 kept */
	attach_mv(MV220, s1, v2, 200, NULL);
	vol_is(CT_MEMBER, v2, "in-use", 1, s1);
	assert_int_equal(srv_volumes(s1, v1), 2);
	snprintf(msg, sizeof(msg), "Cannot 'detach_volume' instance %s while "
	    "it is in vm_state shelved_offloaded", s1);
	detach_mv(MV219, s1, v2, 409, msg);
	vol_is(CT_MEMBER, v2, "in-use", 1, s1);
	detach_mv(MV220, s1, v2, 202, NULL);
	vol_is(CT_MEMBER, v2, "available", 0, NULL);
	exports_are(v2, 0);
	assert_int_equal(srv_volumes(s1, v1), 1);
	snprintf(msg, sizeof(msg), "volume_id not found: %s", v2);
	detach_mv(MV220, s1, v2, 404, msg);
	vol_is(CT_MEMBER, v1, "in-use", 1, s1);

	/* 2.20, SHELVED on its host: as for a stopped server */
	attach_mv(MV220, s2, v3, 200, NULL);
	assert_string_equal(ctltest_str(T, "volumeAttachment.device"),
	    "/dev/vdb");
	vol_is(CT_MEMBER, v3, "attaching", 0, NULL);
	exports_are(v3, 1);
	attachment_of(s2, v3);
	detach_mv(MV220, s2, v3, 400, DETACH_STATE);	/* still attaching */
	{
		struct done d = { s2, v3 };

		assert_int_equal(store_write(ctltest_store(T), done_fn, &d), 0);
	}
	vol_is(CT_MEMBER, v3, "in-use", 1, s2);
	detach_mv(MV220, s2, v3, 202, NULL);
	vol_is(CT_MEMBER, v3, "detaching", 0, NULL);
	attachment_of(s2, v3);

	/* unshelve of the offloaded one onto HOST1 (up, enabled, with its
	 * hypervisor): v1 re-hosted there with the next free device */
	host_up(HOST1);
	CT_CALL(T, C, CT_ADMIN, "PUT", "/v2.1/os-services/enable",
	    "{\"host\": \"" HOST1 "\", \"binary\": \"nova-compute\"}", 200,
	    NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s/action", s1);
	CT_CALL(T, C, CT_MEMBER, "POST", path, "{\"unshelve\": null}", 202,
	    NULL);
	snprintf(path, sizeof(path), "/v2.1/servers/%s", s1);
	CT_CALL(T, C, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-SRV-ATTR:host"),
	    HOST1);
	assert_string_equal(ctltest_str(T, "server.OS-EXT-STS:task_state"),
	    "unshelving");
	mapping_device(s1, v1, dev);
	assert_string_equal(dev, "/dev/vdb");
	vol_is(CT_MEMBER, v1, "in-use", 1, s1);
	assert_string_equal(ctltest_str(T, "volume.attachments.0.host_name"),
	    HOST1);
	assert_string_equal(ctltest_str(T, "volume.attachments.0.device"),
	    "/dev/vdb");
	/* not attached until the guest shows it; exported to HOST1 now */
	assert_false(conn_of(s1, v1, &c));
	assert_int_equal(volume_initiator_name(HOST1, init, sizeof(init)), 0);
	assert_string_equal(c.initiator, init);
	exports_are(v1, 1);
	report_exported(HOST1, v1, 0);
	assert_false(conn_of(s1, v1, &c));
	assert_true(c.ready);
	snprintf(path, sizeof(path),
	    "/v2.1/servers/%s/os-volume_attachments/%s", s1, v1);
	ctltest_call(T, C, CT_MEMBER, "GET", path, NULL, MV220);
	ctltest_expect(T, 200, NULL);
	assert_string_equal(ctltest_str(T, "volumeAttachment.device"),
	    "/dev/vdb");
}

static int
setup(void **state)
{
	(void)state;
	if ((T = ctltest_new()) == NULL)
		return -1;
	/* the flavor and the public active image the compute test makes */
	if (ctltest_call(T, C, CT_ADMIN, "POST", "/v2.1/flavors", "{\"flavor\": "
	    "{\"name\": \"ct.tiny\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1, "
	    "\"id\": \"ct1\"}}", NULL) != 200 ||
	    ctltest_call(T, CT_IMAGE, CT_ADMIN, "POST", "/v2/images",
	    "{\"name\": \"cirros\", \"disk_format\": \"raw\", "
	    "\"container_format\": \"bare\", \"visibility\": \"public\"}",
	    NULL) != 201)
		goto fail;
	snprintf(image_id, sizeof(image_id), "%s", ctltest_str(T, "id"));
	snprintf(path, sizeof(path), "/v2/images/%s/file", image_id);
	if (ctltest_call(T, CT_IMAGE, CT_ADMIN, "PUT", path,
	    "0123456789abcdef", "Content-Type: application/octet-stream\r\n") !=
	    204)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "setup: %d %s\n", T->r.status, T->r.raw);
	return -1;
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
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_create_bdm),
		cmocka_unit_test(test_local_delete_frees_volumes),
		cmocka_unit_test(test_evacuate_volume_export),
		cmocka_unit_test(test_unshelve_bfv_claim),
		cmocka_unit_test(test_shelved_volumes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
