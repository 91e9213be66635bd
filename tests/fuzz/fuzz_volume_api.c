/*
 * fuzz_volume_api: the Block Storage API's handlers (controller/volume/)
 * on hostile bodies and queries, through the real HTTP stack of an
 * in-process controller (apifuzz.h: input format, what is a finding).
 * Every path names the caller's project ("@P@"), as Cinder's do.
 * Fixtures, by "@N@" index: 0 a volume of the member's project (no
 * storage host here: it is in error, so it may be updated, snapshotted
 * after an admin's reset, and cloned), 1 a project for quota updates,
 * 2 a volume reset to available holding 3, a reserved attachment
 * (microversion 3.44), 4 a volume reset to available without one (the
 * attachments created, and the legacy connection actions, name it),
 * 5 a volume type (the admin's), 6 a transfer of 7, a member's volume
 * reset to available (its key unknown: accepts are refused).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "apifuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define V	CT_VOLUME
#define R(m, p)		{ V, m, p, NULL, NULL, NULL, NULL, NULL }
#define RC(m, p, k, d)	{ V, m, p, k, d, NULL, NULL, NULL }
#define MV		"OpenStack-API-Version: volume 3.44\r\n"
#define RM(m, p)	{ V, m, p, NULL, NULL, NULL, NULL, MV }

static const struct apifuzz_route routes[] = {
	RC("POST", "/v3/@P@/volumes", "volume.id", "/v3/@P@/volumes/%s"),
	R("PUT", "/v3/@P@/volumes/@0@"),
	R("POST", "/v3/@P@/volumes/@0@/action"),
	R("POST", "/v3/@P@/volumes/@0@/metadata"),
	R("PUT", "/v3/@P@/volumes/@0@/metadata"),
	R("PUT", "/v3/@P@/volumes/@0@/metadata/k"),
	R("GET", "/v3/@P@/volumes"),
	R("GET", "/v3/@P@/volumes/detail"),
	RC("POST", "/v3/@P@/snapshots", "snapshot.id", "/v3/@P@/snapshots/%s"),
	R("GET", "/v3/@P@/snapshots/detail"),
	R("PUT", "/v3/@P@/os-quota-sets/@1@"),
	R("GET", "/v3/@P@/os-quota-sets/@1@"),
	R("GET", "/v3/@P@/limits"),
	{ V, "POST", "/v3/@P@/attachments", "attachment.id",
	    "/v3/@P@/attachments/%s", NULL, NULL, MV },
	RM("PUT", "/v3/@P@/attachments/@3@"),
	RM("POST", "/v3/@P@/attachments/@3@/action"),
	RM("GET", "/v3/@P@/attachments/detail"),
	RM("GET", "/v3/@P@/attachments/@3@"),
	R("POST", "/v3/@P@/volumes/@4@/action"),
	/* 19.. volume types (the admin's; 5 a public type of the admin's) */
	RC("POST", "/v3/@P@/types", "volume_type.id", "/v3/@P@/types/%s"),
	R("PUT", "/v3/@P@/types/@5@"),
	R("POST", "/v3/@P@/types/@5@/extra_specs"),
	R("PUT", "/v3/@P@/types/@5@/extra_specs/k"),
	R("GET", "/v3/@P@/types"),
	/* 24.. volume transfers (os-volume_upload_image goes through 2) */
	RC("POST", "/v3/@P@/os-volume-transfer", "transfer.id",
	    "/v3/@P@/os-volume-transfer/%s"),
	R("GET", "/v3/@P@/os-volume-transfer/detail"),
	R("GET", "/v3/@P@/os-volume-transfer/@6@"),
	R("POST", "/v3/@P@/os-volume-transfer/@6@/accept"),
	/* 28.. backups (8: an available volume, 9: an available backup).
	 * A new backup stays creating (no storage host here) and cannot be
	 * deleted, so there is no cleanup; its volume is backing-up from
	 * then on, so at most one create succeeds (likewise one restore of
	 * 7): the state stays small. */
	R("POST", "/v3/@P@/backups"),
	RM("PUT", "/v3/@P@/backups/@9@"),
	R("POST", "/v3/@P@/backups/@9@/restore"),
	R("POST", "/v3/@P@/backups/@9@/action"),
	R("GET", "/v3/@P@/backups/detail"),
};

/* A volume of the member's reset to available by the admin (no storage
 * host here: it went to error) into out. */
static int
avail_volume(struct ctltest *t, char out[128])
{
	char path[256];

	snprintf(path, sizeof(path), "/v3/%s/volumes",
	    t->project_id[CT_MEMBER]);
	if (apifuzz_create(t, V, CT_MEMBER, path, "{\"volume\": {\"size\": "
	    "1}}", "volume.id", out) == -1)
		return -1;
	snprintf(path, sizeof(path), "/v3/%s/volumes/%s/action",
	    t->project_id[CT_ADMIN], out);
	if (ctltest_call(t, V, CT_ADMIN, "POST", path, "{\"os-reset_status\": "
	    "{\"status\": \"available\"}}", NULL) == -1 ||
	    t->r.status != 202)
		return -1;
	return 0;
}

static int
setup(struct ctltest *t, char fix[APIFUZZ_MAXFIX][128])
{
	char path[256];

	snprintf(path, sizeof(path), "/v3/%s/volumes",
	    t->project_id[CT_MEMBER]);
	if (apifuzz_create(t, V, CT_MEMBER, path, "{\"volume\": {\"size\": 1, "
	    "\"name\": \"fzvol\"}}", "volume.id", fix[0]) == -1)
		return -1;
	if (avail_volume(t, fix[2]) == -1 || avail_volume(t, fix[4]) == -1)
		return -1;
	{
		char body[256];

		snprintf(path, sizeof(path), "/v3/%s/attachments",
		    t->project_id[CT_MEMBER]);
		snprintf(body, sizeof(body), "{\"attachment\": {\"volume_uuid\": "
		    "\"%s\", \"instance_uuid\": "
		    "\"6f1d7c2e-0000-4000-8000-000000000001\"}}", fix[2]);
		if (ctltest_call(t, V, CT_MEMBER, "POST", path, body, MV) == -1 ||
		    t->r.status != 200 || ctltest_str(t, "attachment.id") == NULL)
			return -1;
		snprintf(fix[3], 128, "%s", ctltest_str(t, "attachment.id"));
	}
	snprintf(path, sizeof(path), "/v3/%s/types", t->project_id[CT_ADMIN]);
	if (ctltest_call(t, V, CT_ADMIN, "POST", path, "{\"volume_type\": "
	    "{\"name\": \"fztype\", \"extra_specs\": "
	    "{\"volume_backend_name\": \"file\"}}}", NULL) == -1 ||
	    t->r.status != 200 || ctltest_str(t, "volume_type.id") == NULL)
		return -1;
	snprintf(fix[5], 128, "%s", ctltest_str(t, "volume_type.id"));
	{
		char body[256];

		if (avail_volume(t, fix[7]) == -1)
			return -1;
		snprintf(path, sizeof(path), "/v3/%s/os-volume-transfer",
		    t->project_id[CT_MEMBER]);
		snprintf(body, sizeof(body), "{\"transfer\": {\"volume_id\": "
		    "\"%s\"}}", fix[7]);
		if (apifuzz_create(t, V, CT_MEMBER, path, body, "transfer.id",
		    fix[6]) == -1)
			return -1;
	}
	if (avail_volume(t, fix[8]) == -1)
		return -1;
	{
		char body[256];

		snprintf(path, sizeof(path), "/v3/%s/backups",
		    t->project_id[CT_MEMBER]);
		snprintf(body, sizeof(body), "{\"backup\": {\"volume_id\": "
		    "\"%s\"}}", fix[8]);
		if (apifuzz_create(t, V, CT_MEMBER, path, body, "backup.id",
		    fix[9]) == -1)
			return -1;
		snprintf(path, sizeof(path), "/v3/%s/backups/%s/action",
		    t->project_id[CT_ADMIN], fix[9]);
		if (ctltest_call(t, V, CT_ADMIN, "POST", path,
		    "{\"os-reset_status\": {\"status\": \"available\"}}",
		    NULL) == -1 || t->r.status != 202)
			return -1;
	}
	return apifuzz_create(t, CT_IDENTITY, CT_ADMIN, "/v3/projects",
	    "{\"project\": {\"name\": \"fzvolquota\"}}", "project.id", fix[1]);
}

static const struct apifuzz_target target = {
	"fuzz_volume_api", routes, sizeof(routes) / sizeof(routes[0]), setup
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apifuzz_run(&target, data, size);
	return 0;
}
