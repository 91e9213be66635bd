/*
 * volume: service life cycle, discovery and microversions, limits,
 * os-quota-sets, availability zones, os-services, placement
 * and quota checks shared by volumes and snapshots, route table and
 * policy defaults; see volume.h and volume_int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "clock.h"
#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "http/jsonreq.h"
#include "http/request.h"
#include "image/image.h"
#include "log.h"
#include "msg_gen.h"
#include "store.h"
#include "storesync.h"
#include "volume_int.h"

/* Cinder's db.MAX_INT, the largest quota limit. */
#define QUOTA_MAX	0x7FFFFFFF

static const char *const qres_name[NQRES] = {
	"volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes",
	"per_volume_gigabytes", "groups",
	"volumes_" VOLUME_TYPE_NAME, "gigabytes_" VOLUME_TYPE_NAME,
	"snapshots_" VOLUME_TYPE_NAME
};

/* ---- service ------------------------------------------------------------ */

struct volume *
volume_new(const struct config *cfg, struct store *st, const char *host)
{
	struct volume *v = calloc(1, sizeof(*v));
	const char *dir;
	char path[4096];

	if (v == NULL) {
		err_set(TS_ENOMEM, "volume: out of memory");
		return NULL;
	}
	/* Backups' data: the image store's machinery (image.h's blob
	 * stores); the backup_gigabytes quota was checked at create. */
	dir = config_get_str(cfg, "backup", "store_path");
	if (*dir == '\0') {
		if ((size_t)snprintf(path, sizeof(path), "%s/backups",
		    config_get_str(cfg, "DEFAULT", "state_path")) >=
		    sizeof(path)) {
			err_set(TS_ECONFIG, "volume: state_path is too long");
			free(v);
			return NULL;
		}
		dir = path;
	}
	if ((v->data = image_blobs_new(dir)) == NULL) {
		err_prefix("volume backups: ");
		free(v);
		return NULL;
	}
	v->store = st;
	v->host = host != NULL ? host : "";
	v->down_ms = config_get_int(cfg, "DEFAULT", "service_down_time") *
	    1000;
	v->qdef[Q_VOLUMES] = config_get_int(cfg, "volume", "quota_volumes");
	v->qdef[Q_GIGABYTES] = config_get_int(cfg, "volume",
	    "quota_gigabytes");
	v->qdef[Q_SNAPSHOTS] = config_get_int(cfg, "volume",
	    "quota_snapshots");
	v->qdef[Q_BACKUPS] = config_get_int(cfg, "volume", "quota_backups");
	v->qdef[Q_BACKUP_GIGABYTES] = config_get_int(cfg, "volume",
	    "quota_backup_gigabytes");
	v->qdef[Q_PER_VOLUME_GIGABYTES] = config_get_int(cfg, "volume",
	    "per_volume_size_limit");
	v->qdef[Q_GROUPS] = config_get_int(cfg, "volume", "quota_groups");
	/* Cinder's per-type limits default to unlimited. */
	v->qdef[Q_VOLUMES_TYPE] = -1;
	v->qdef[Q_GIGABYTES_TYPE] = -1;
	v->qdef[Q_SNAPSHOTS_TYPE] = -1;
	return v;
}

void
volume_free(struct volume **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	image_blobs_free(&(*sp)->data);
	free(*sp);
	*sp = NULL;
}

void
volume_set_storesync(struct volume *v, struct storesync *ss)
{
	atomic_store(&v->ss, ss);
}

void
volume_kick(struct volume *v)
{
	struct storesync *ss = v != NULL ? atomic_load(&v->ss) : NULL;

	if (ss != NULL)
		storesync_changed(ss);
}

void
volume_changed(struct volume *v)
{
	volume_kick(v);
}

struct volume *
volume_of(struct http_req *req)
{
	return http_req_app(req);
}

const char *
volume_caller(struct http_req *req)
{
	const struct request_ctx *c = request_ctx_of(req);

	return c != NULL && c->project_id != NULL ? c->project_id : "";
}

const char *
volume_caller_user(struct http_req *req)
{
	const struct request_ctx *c = request_ctx_of(req);

	return c != NULL && c->user_id != NULL ? c->user_id : "";
}

bool
volume_is_admin(struct http_req *req)
{
	if (request_allowed(req, "volume_admin_api", NULL))
		return true;
	err_clear();
	return false;
}

json_t *
volume_time(int64_t ms)
{
	char b[24], out[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, sizeof(out), "%s.%06d", b, (int)(ms % 1000) * 1000);
	return json_string(out);
}

/* ---- microversions ------------------------------------------------------ */

/* "M.N" -> 0 with *major, *minor; "latest" -> the max; -1 if not of that
 * form (Cinder's APIVersionRequest: any major parses, only 3 is served). */
static int
parse_mv(const char *v, long *major, long *minor)
{
	char *end;

	if (strcasecmp(v, "latest") == 0) {
		*major = 3;
		*minor = VOLUME_MV_MAX;
		return 0;
	}
	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	*major = strtol(v, &end, 10);
	if (errno != 0 || *end != '.' || !isdigit((unsigned char)end[1]) ||
	    *major > 100000)
		return -1;
	*minor = strtol(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || *minor > 100000)
		return -1;
	return 0;
}

/*
 * OpenStack-API-Version: "volume 3.N", possibly among other services,
 * comma separated; absent: 3.0. Out of range is 406 and a malformed
 * version 400, as Cinder answers. The answer names the version served.
 */
static int
requested_mv(struct http_req *req, long *majorp, long *mvp)
{
	const char *h = http_req_header(req, "OpenStack-API-Version");
	char want[32];
	long major = 3, mv = VOLUME_MV_MIN;

	want[0] = '\0';
	while (h != NULL && *h != '\0') {
		const char *e;
		size_t n;

		while (*h == ' ' || *h == ',')
			h++;
		e = strchr(h, ',');
		n = e != NULL ? (size_t)(e - h) : strlen(h);
		if (n > 7 && strncasecmp(h, "volume ", 7) == 0) {
			const char *s = h + 7;
			size_t l = n - 7;

			while (l > 0 && *s == ' ') {
				s++;
				l--;
			}
			while (l > 0 && s[l - 1] == ' ')
				l--;
			if (l >= sizeof(want))
				l = sizeof(want) - 1;
			memcpy(want, s, l);
			want[l] = '\0';
			break;
		}
		h = e;
	}
	if (want[0] != '\0') {
		if (parse_mv(want, &major, &mv) == -1) {
			err_set(TS_EINVALID, "API Version String %s is of "
			    "invalid format. Must be of format "
			    "MajorNum.MinorNum.", want);
			return -1;
		}
		if (major != 3 || mv < VOLUME_MV_MIN || mv > VOLUME_MV_MAX) {
			err_set(TS_ENOT_ACCEPTABLE, "Version %s is not "
			    "supported by the API. Minimum is 3.%d and "
			    "maximum is 3.%d.", want, VOLUME_MV_MIN,
			    VOLUME_MV_MAX);
			return -1;
		}
	}
	*majorp = major;
	*mvp = mv;
	return 0;
}

long
volume_req_mv(struct http_req *req)
{
	long major, mv;

	if (requested_mv(req, &major, &mv) == -1) {
		err_clear();
		return VOLUME_MV_MIN;
	}
	return mv;
}

static int
microversion(struct http_req *req, struct http_resp *resp)
{
	char want[32];
	long major, mv;

	if (requested_mv(req, &major, &mv) == -1)
		return -1;
	snprintf(want, sizeof(want), "volume 3.%ld", mv);
	if (http_resp_header(resp, "OpenStack-API-Version", want) == -1 ||
	    http_resp_header(resp, "Vary", "OpenStack-API-Version") == -1)
		return -1;
	return 0;
}

/*
 * What every /v3/{project_id} handler does first: the microversion, the
 * rule the handler enforces itself (NULL: the route's, already enforced)
 * on a target naming target_project, then Cinder's check that the URL's
 * project is the token's.
 */
int
volume_begin(struct http_req *req, struct http_resp *resp, const char *rule,
    const char *target_project)
{
	struct request_target t = { .n = 0 };
	const char *url = http_req_param(req, "project_id");

	if (microversion(req, resp) == -1)
		return -1;
	if (rule != NULL && (request_target_add(&t, "project_id",
	    target_project) == -1 || request_enforce(req, rule, &t) == -1))
		return -1;
	if (url != NULL && strcmp(url, volume_caller(req)) != 0) {
		err_set(TS_EINVALID, "Malformed request url");
		return -1;
	}
	return 0;
}

/*
 * What every lookup of a project's record by id checks: another project's
 * record is 404 "<what> <id> could not be found." to all but the admin
 * (Cinder hides it rather than refusing it), then rule (NULL: none) is
 * enforced on a target naming its project.
 */
int
volume_owner_check(struct http_req *req, const char *rule,
    const char *project_id, const char *what, const char *id)
{
	struct request_target t = { .n = 0 };

	if (strcmp(project_id, volume_caller(req)) != 0 &&
	    !volume_is_admin(req)) {
		err_set(TS_ENOT_FOUND, "%s %.255s could not be found.", what, id);
		return -1;
	}
	if (rule != NULL && (request_target_add(&t, "project_id",
	    project_id) == -1 || request_enforce(req, rule, &t) == -1))
		return -1;
	return 0;
}

/* ---- discovery ---------------------------------------------------------- */

static json_t *
version_doc(struct http_req *req)
{
	char base[512], href[600], max[16], min[16];

	if (http_req_base_url(req, base, sizeof(base)) == -1) {
		err_set(TS_EINVALID, "Host header too long");
		return NULL;
	}
	snprintf(href, sizeof(href), "%s/v3/", base);
	snprintf(max, sizeof(max), "3.%d", VOLUME_MV_MAX);
	snprintf(min, sizeof(min), "3.%d", VOLUME_MV_MIN);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s}, "
	    "{s:s, s:s}], s:[{s:s, s:s}]}",
	    "id", "v3.0", "status", "CURRENT", "version", max,
	    "min_version", min, "updated", "2016-02-08T12:20:21Z",
	    "links", "rel", "describedby", "type", "text/html",
	    "href", "https://docs.openstack.org/",
	    "rel", "self", "href", href,
	    "media-types", "base", "application/json",
	    "type", "application/vnd.openstack.volume+json;version=3");
}

/* Cinder answers its root with 300 Multiple Choices. */
static int
volume_versions(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_doc(req);

	return v != NULL ? http_resp_json(resp, 300, json_pack("{s:[o]}",
	    "versions", v)) : -1;
}

/* /v3/ lists the same one version, under "versions" as Cinder does. */
static int
volume_version_v3(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_doc(req);

	if (v == NULL || microversion(req, resp) == -1) {
		json_decref(v);
		return -1;
	}
	return http_resp_json(resp, 200, json_pack("{s:[o]}", "versions", v));
}

/* ---- quotas ------------------------------------------------------------- */

static int
quota_get(struct store_txn *txn, const char *project,
    struct rec_volume_quota *q)
{
	memset(q, 0, sizeof(*q));
	if (db_rec_get(txn, T_VOLUME_QUOTAS, project,
	    &schema_rec_volume_quota, q) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		memset(q, 0, sizeof(*q));
	}
	return 0;
}

/* The record's fields by resource, for the loops below. */
static void
quota_fields(struct rec_volume_quota *q, int64_t *val[NQRES],
    bool *has[NQRES])
{
#define F(i, f) do { val[i] = &q->f; has[i] = &q->has_##f; } while (0)
	F(Q_VOLUMES, volumes);
	F(Q_GIGABYTES, gigabytes);
	F(Q_SNAPSHOTS, snapshots);
	F(Q_BACKUPS, backups);
	F(Q_BACKUP_GIGABYTES, backup_gigabytes);
	F(Q_PER_VOLUME_GIGABYTES, per_volume_gigabytes);
	F(Q_GROUPS, groups);
	F(Q_VOLUMES_TYPE, volumes_default_type);
	F(Q_GIGABYTES_TYPE, gigabytes_default_type);
	F(Q_SNAPSHOTS_TYPE, snapshots_default_type);
#undef F
}

/* The limits in force: the overrides, else the defaults (q NULL: the
 * defaults only). */
static void
quota_limits(const struct volume *v, struct rec_volume_quota *q,
    int64_t out[NQRES])
{
	int64_t *val[NQRES];
	bool *has[NQRES];
	size_t i;

	if (q != NULL)
		quota_fields(q, val, has);
	for (i = 0; i < NQRES; i++)
		out[i] = q != NULL && *has[i] ? *val[i] : v->qdef[i];
}

int
volume_quota_limits(struct volume *v, struct store_txn *txn,
    const char *project, int64_t out[NQRES])
{
	struct rec_volume_quota q;

	if (quota_get(txn, project, &q) == -1)
		return -1;
	quota_limits(v, &q, out);
	return 0;
}

/* Read a project's limits and what it uses in one snapshot (use may be
 * NULL). The per-type usage is the project's: there is one type. */
static int
quota_read(struct volume *v, const char *project, int64_t out[NQRES],
    int64_t use[NQRES])
{
	struct rec_volume_usage u;
	struct store_txn *txn = NULL;
	int rc;

	if (store_read_begin(v->store, &txn) == -1)
		return -1;
	rc = volume_quota_limits(v, txn, project, out);
	if (rc == 0 && use != NULL && (rc = volume_db_usage_get(txn, project,
	    &u)) == 0) {
		memset(use, 0, NQRES * sizeof(*use));
		use[Q_VOLUMES] = use[Q_VOLUMES_TYPE] = u.volumes;
		use[Q_GIGABYTES] = use[Q_GIGABYTES_TYPE] = u.gigabytes;
		use[Q_SNAPSHOTS] = use[Q_SNAPSHOTS_TYPE] = u.snapshots;
		use[Q_BACKUPS] = u.backups;
		use[Q_BACKUP_GIGABYTES] = u.backup_gigabytes;
	}
	store_txn_end(&txn);
	return rc;
}

/* {"volumes": 10, ...}, or with use {"volumes": {"limit": 10,
 * "in_use": 1, "reserved": 0, "allocated": 0}, ...}; "id" when id is not
 * NULL. */
static json_t *
quota_json(const int64_t lim[NQRES], const int64_t *use, const char *id)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o != NULL && i < NQRES; i++)
		json_object_set_new(o, qres_name[i], use != NULL ?
		    json_pack("{s:I, s:I, s:i, s:i}", "limit",
		    (json_int_t)lim[i], "in_use", (json_int_t)use[i],
		    "reserved", 0, "allocated", 0) :
		    json_integer((json_int_t)lim[i]));
	if (o != NULL && id != NULL)
		json_object_set_new(o, "id", json_string(id));
	return o;
}

static int
volume_quotas_show(struct http_req *req, struct http_resp *resp)
{
	const char *p = http_req_param(req, "target_project_id");
	bool usage = jsonreq_query_bool(JSONREQ_NOVA,
	    http_req_query(req, "usage"));
	int64_t lim[NQRES], use[NQRES];

	if (volume_begin(req, resp, "volume_extension:quotas:show", p) == -1 ||
	    quota_read(volume_of(req), p, lim, use) == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o*}", "quota_set",
	    quota_json(lim, usage ? use : NULL, p)));
}

static int
volume_quotas_defaults(struct http_req *req, struct http_resp *resp)
{
	const char *p = http_req_param(req, "target_project_id");
	int64_t lim[NQRES];

	if (volume_begin(req, resp, "volume_extension:quotas:show", p) == -1)
		return -1;
	quota_limits(volume_of(req), NULL, lim);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "quota_set",
	    quota_json(lim, NULL, p)));
}

struct qedit {
	const char		*project;
	struct rec_volume_quota	 set;	/* the fields given */
	bool			 reset;
};

static int
qedit_fn(struct store_txn *txn, void *arg)
{
	struct qedit *e = arg;
	struct rec_volume_quota q;
	int64_t *val[NQRES], *sval[NQRES];
	bool *has[NQRES], *shas[NQRES];
	size_t i;

	if (e->reset) {
		if (store_del(txn, T_VOLUME_QUOTAS, e->project,
		    strlen(e->project)) == -1 && err_code() != TS_ENOT_FOUND)
			return -1;
		return 0;
	}
	if (quota_get(txn, e->project, &q) == -1)
		return -1;
	quota_fields(&q, val, has);
	quota_fields(&e->set, sval, shas);
	for (i = 0; i < NQRES; i++)
		if (*shas[i]) {
			*val[i] = *sval[i];
			*has[i] = true;
		}
	return db_rec_put(txn, T_VOLUME_QUOTAS, e->project,
	    &schema_rec_volume_quota, &q, 0);
}

/*
 * Cinder's utils.validate_integer(): an integer, or a string holding one,
 * in [-1, MAX_INT]; its messages name the key.
 */
static int
quota_value(const char *k, json_t *jv, int64_t *out)
{
	long long n;
	char *end;

	if (json_is_integer(jv))
		n = json_integer_value(jv);
	else if (json_is_string(jv)) {
		const char *s = json_string_value(jv);

		errno = 0;
		n = strtoll(s, &end, 10);
		while (*end == ' ')
			end++;
		if (*s == '\0' || *end != '\0' || errno != 0) {
			err_set(TS_EINVALID, "%.64s must be an integer.", k);
			return -1;
		}
	} else {
		err_set(TS_EINVALID, "%.64s must be an integer.", k);
		return -1;
	}
	if (n < -1) {
		err_set(TS_EINVALID, "%.64s must be >= -1", k);
		return -1;
	}
	if (n > QUOTA_MAX) {
		err_set(TS_EINVALID, "%.64s must be <= %d", k, QUOTA_MAX);
		return -1;
	}
	*out = n;
	return 0;
}

/* Admin only (the route's rule). Every value is checked before anything
 * is written: a bad one leaves the quota as it was. */
static int
volume_quotas_update(struct http_req *req, struct http_resp *resp)
{
	const char *p = http_req_param(req, "target_project_id");
	struct qedit e = { .project = p };
	int64_t *sval[NQRES], lim[NQRES];
	bool *shas[NQRES];
	json_t *body = http_req_json(req), *b, *jv;
	const char *k;
	size_t i;

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	if (!json_is_object(body) || !json_is_object(b = json_object_get(body,
	    "quota_set"))) {
		err_set(TS_EINVALID, "Missing required element 'quota_set' in "
		    "request body.");
		return -1;
	}
	quota_fields(&e.set, sval, shas);
	/* Cinder names every unknown key at once. */
	{
		char bad[512];
		size_t used = 0;

		bad[0] = '\0';
		json_object_foreach(b, k, jv) {
			bool known = strcmp(k, "id") == 0 ||
			    strcmp(k, "tenant_id") == 0;

			for (i = 0; !known && i < NQRES; i++)
				known = strcmp(k, qres_name[i]) == 0;
			if (!known && used < sizeof(bad) - 1) {
				int n = snprintf(bad + used, sizeof(bad) -
				    used, "%s%.64s", used ? "," : "", k);

				if (n > 0)
					used += (size_t)n;
				if (used >= sizeof(bad))
					used = sizeof(bad) - 1;
			}
		}
		if (used > 0) {
			err_set(TS_EINVALID, "Bad key(s) in quota set: %s",
			    bad);
			return -1;
		}
	}
	for (i = 0; i < NQRES; i++) {
		if ((jv = json_object_get(b, qres_name[i])) == NULL)
			continue;
		if (quota_value(qres_name[i], jv, sval[i]) == -1)
			return -1;
		*shas[i] = true;
	}
	if (store_write(volume_of(req)->store, qedit_fn, &e) == -1 ||
	    quota_read(volume_of(req), p, lim, NULL) == -1)
		return -1;
	log_info("volume quota of project %s updated", p);
	return http_resp_json(resp, 200, json_pack("{s:o*}", "quota_set",
	    quota_json(lim, NULL, NULL)));
}

/* Back to the defaults; Cinder answers 200 without a body. */
static int
volume_quotas_delete(struct http_req *req, struct http_resp *resp)
{
	struct qedit e = { .project = http_req_param(req,
	    "target_project_id"), .reset = true };

	if (volume_begin(req, resp, NULL, NULL) == -1 ||
	    store_write(volume_of(req)->store, qedit_fn, &e) == -1)
		return -1;
	log_info("volume quota of project %s reset", e.project);
	return http_resp_status(resp, 200);
}

/* ---- quota checks and placement ----------------------------------------- */

int
volume_quota_check(struct volume *v, struct store_txn *txn,
    const char *project, int64_t volumes, int64_t gb, int64_t snapshots,
    int64_t new_size)
{
	struct rec_volume_usage u;
	int64_t l[NQRES];

	if (volume_quota_limits(v, txn, project, l) == -1 ||
	    volume_db_usage_get(txn, project, &u) == -1)
		return -1;
	if (new_size > 0 && l[Q_PER_VOLUME_GIGABYTES] >= 0 &&
	    new_size > l[Q_PER_VOLUME_GIGABYTES]) {
		err_set(TS_ETOO_LARGE, "Requested volume size %lldG is larger "
		    "than maximum allowed limit %lldG.", (long long)new_size,
		    (long long)l[Q_PER_VOLUME_GIGABYTES]);
		return -1;
	}
	if (gb > 0 && l[Q_GIGABYTES] >= 0 && u.gigabytes + gb >
	    l[Q_GIGABYTES]) {
		err_set(TS_ETOO_LARGE, ""
		    "Requested volume or snapshot exceeds allowed gigabytes "
		    "quota. Requested %lldG, quota is %lldG and %lldG has been "
		    "consumed.", (long long)gb, (long long)l[Q_GIGABYTES],
		    (long long)u.gigabytes);
		return -1;
	}
	if (volumes > 0 && l[Q_VOLUMES] >= 0 && u.volumes + volumes >
	    l[Q_VOLUMES]) {
		err_set(TS_ETOO_LARGE, "Maximum number of "
		    "volumes allowed (%lld) exceeded for quota 'volumes'.",
		    (long long)l[Q_VOLUMES]);
		return -1;
	}
	if (snapshots > 0 && l[Q_SNAPSHOTS] >= 0 && u.snapshots + snapshots >
	    l[Q_SNAPSHOTS]) {
		err_set(TS_ETOO_LARGE, "Maximum number "
		    "of snapshots allowed (%lld) exceeded",
		    (long long)l[Q_SNAPSHOTS]);
		return -1;
	}
	return 0;
}

int
volume_quota_check_backup(struct volume *v, struct store_txn *txn,
    const char *project, int64_t gb)
{
	struct rec_volume_usage u;
	int64_t l[NQRES];

	if (volume_quota_limits(v, txn, project, l) == -1 ||
	    volume_db_usage_get(txn, project, &u) == -1)
		return -1;
	if (l[Q_BACKUP_GIGABYTES] >= 0 && u.backup_gigabytes + gb >
	    l[Q_BACKUP_GIGABYTES]) {
		err_set(TS_ETOO_LARGE, "Requested backup exceeds allowed "
		    "Backup gigabytes quota. Requested %lldG, quota is %lldG "
		    "and %lldG has been consumed.", (long long)gb,
		    (long long)l[Q_BACKUP_GIGABYTES],
		    (long long)u.backup_gigabytes);
		return -1;
	}
	if (l[Q_BACKUPS] >= 0 && u.backups + 1 > l[Q_BACKUPS]) {
		err_set(TS_ETOO_LARGE, "Maximum number of backups allowed "
		    "(%lld) exceeded", (long long)l[Q_BACKUPS]);
		return -1;
	}
	return 0;
}

struct place {
	int64_t		 down_ms;
	struct store_txn *txn;
	int64_t		 now;
	char		*host;
	size_t		 len;
	const char	*backend;	/* NULL: any */
	int64_t		 best;	/* free_gb of host; -1: no report */
	bool		 found;
};

static int
place_cb(const struct rec_service *s, void *arg)
{
	struct place *p = arg;
	struct rec_storage_host h;
	int64_t free_gb = -1;

	if (strcmp(s->binary, "tinystack-agent") != 0 || s->disabled ||
	    s->forced_down || p->now - s->last_seen_at > p->down_ms ||
	    strlen(s->host) >= p->len)
		return 0;
	if (volume_db_host_get(p->txn, s->host, &h) == 0) {
		bool none = h.backend == NULL || strcmp(h.backend, "none") == 0;
		bool other = p->backend != NULL && (h.backend == NULL ||
		    strcmp(h.backend, p->backend) != 0);

		free_gb = (int64_t)(h.free_gb > INT64_MAX ? INT64_MAX :
		    h.free_gb);
		codec_clear(&schema_rec_storage_host, &h);
		/* An agent without [storage] said so. */
		if (none || other)
			return 0;
	} else if (err_code() != TS_ENOT_FOUND)
		return -1;
	else if (p->backend != NULL)
		return 0;	/* the type's backend must be known */
	/* The most free space wins; ties: the first in id order, so the
	 * choice is stable. A host that reported a backend (free_gb >= 0)
	 * always beats one that has not (-1): an unreported host is chosen
	 * only while no up host has reported storage, i.e. in the seconds
	 * after the fleet starts, before the agents answer the empty
	 * host_storage sent on hello (storesync). Cinder's scheduler would
	 * answer "No valid backend" then; failing a stack's first volume
	 * for a race is worse, and a wrong guess is undone: an agent without
	 * storage refuses and storesync re-places the volume. */
	if (!p->found || free_gb > p->best) {
		snprintf(p->host, p->len, "%s", s->host);
		p->best = free_gb;
		p->found = true;
	}
	return 0;
}

bool
volume_host_serves(struct volume *v, struct store_txn *txn, const char *host)
{
	struct rec_storage_host h;
	bool ok;

	(void)v;
	if (volume_db_host_get(txn, host, &h) == -1)
		return false;
	ok = h.backend != NULL && strcmp(h.backend, "none") != 0;
	codec_clear(&schema_rec_storage_host, &h);
	return ok;
}

int
volume_place_at(struct store_txn *txn, int64_t now, int64_t down_ms,
    const char *backend, char *host, size_t len)
{
	struct place p = { .down_ms = down_ms, .txn = txn, .now = now,
	    .host = host, .len = len, .best = -1,
	    .backend = backend != NULL && *backend != '\0' ? backend : NULL };

	host[0] = '\0';
	return db_service_each(txn, place_cb, &p);
}

int
volume_place(struct volume *v, struct store_txn *txn, const char *backend,
    char *host, size_t len)
{
	return volume_place_at(txn, db_now_ms(), v->down_ms, backend, host,
	    len);
}

/* volume_strand(): see volume_int.h. */
struct strand {
	const char	*host;
	char		(*ids)[CODEC_UUID_LEN + 1];
	size_t		 n, cap;
};

static int
strand_collect(struct rec_volume *v, void *arg)
{
	struct strand *sd = arg;

	if (strcmp(v->status, "creating") != 0 || v->host == NULL ||
	    strcmp(v->host, sd->host) != 0)
		return 0;
	if (sd->n == sd->cap) {
		size_t nc = sd->cap ? sd->cap * 2 : 16;
		void *nv = realloc(sd->ids, nc * sizeof(*sd->ids));

		if (nv == NULL) {
			err_set(TS_ENOMEM, "volume: out of memory");
			return -1;
		}
		sd->ids = nv;
		sd->cap = nc;
	}
	memcpy(sd->ids[sd->n++], v->id, sizeof(sd->ids[0]));
	return 0;
}

static int
strand_move(struct store_txn *txn, const char *host, int64_t down_ms,
    const char *id)
{
	struct rec_volume old, v;
	char to[256] = "", backend[256];
	int64_t now = db_now_ms();
	int rc = -1;

	if (volume_db_get(txn, id, &old) == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (volume_db_get(txn, id, &v) == -1) {
		codec_clear(&schema_rec_volume, &old);
		return -1;
	}
	if ((v.source_volid == NULL || *v.source_volid == '\0') &&
	    (v.snapshot_id == NULL || *v.snapshot_id == '\0') &&
	    (volume_type_backend(txn, v.volume_type, backend,
	    sizeof(backend)) == -1 || volume_place_at(txn, now, down_ms,
	    backend, to, sizeof(to)) == -1))
		goto out;
	if (to[0] != '\0') {
		log_info("volume %s: %s has no storage, moved to %s", v.id,
		    host, to);
		if (codec_str_set(&v.host, to) == -1)
			goto out;
	} else {
		log_info("volume %s: %s has no storage, none other: error",
		    v.id, host);
		if (codec_str_set(&v.host, NULL) == -1 ||
		    codec_str_set(&v.status, "error") == -1 ||
		    codec_str_set(&v.fault, VOLUME_NO_BACKEND) == -1)
			goto out;
	}
	v.updated_at = now;
	rc = volume_db_put(txn, &old, &v);
out:
	codec_clear(&schema_rec_volume, &old);
	codec_clear(&schema_rec_volume, &v);
	return rc;
}

int
volume_strand(struct store_txn *txn, const char *host, int64_t down_ms,
    unsigned *moved)
{
	struct strand sd = { .host = host };
	int rc;

	rc = volume_db_each_host(txn, host, strand_collect, &sd);
	for (size_t i = 0; rc == 0 && i < sd.n; i++)
		rc = strand_move(txn, host, down_ms, sd.ids[i]);
	if (rc == 0)
		*moved += (unsigned)sd.n;
	free(sd.ids);
	return rc;
}

/* ---- limits ------------------------------------------------------------- */

/* The caller's project's absolute limits and what it uses. */
static int
volume_limits(struct http_req *req, struct http_resp *resp)
{
	const char *p = volume_caller(req);
	int64_t l[NQRES], u[NQRES];

	if (volume_begin(req, resp, "limits_extension:used_limits", p) == -1 ||
	    quota_read(volume_of(req), p, l, u) == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:{s:[], s:{s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}}", "limits", "rate",
	    "absolute",
	    "maxTotalVolumes", (json_int_t)l[Q_VOLUMES],
	    "maxTotalSnapshots", (json_int_t)l[Q_SNAPSHOTS],
	    "maxTotalVolumeGigabytes", (json_int_t)l[Q_GIGABYTES],
	    "maxTotalBackups", (json_int_t)l[Q_BACKUPS],
	    "maxTotalBackupGigabytes", (json_int_t)l[Q_BACKUP_GIGABYTES],
	    "totalVolumesUsed", (json_int_t)u[Q_VOLUMES],
	    "totalGigabytesUsed", (json_int_t)u[Q_GIGABYTES],
	    "totalSnapshotsUsed", (json_int_t)u[Q_SNAPSHOTS],
	    "totalBackupsUsed", (json_int_t)u[Q_BACKUPS],
	    "totalBackupGigabytesUsed", (json_int_t)u[Q_BACKUP_GIGABYTES]));
}

/* ---- availability zones, services --------------------------------------- */

static int
volume_zones(struct http_req *req, struct http_resp *resp)
{
	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:[{s:s, s:{s:b}}]}",
	    "availabilityZoneInfo", "zoneName", "nova", "zoneState",
	    "available", 1));
}

/*
 * The controller's own scheduler: the process answering is up by
 * definition, so its row is reported now. No cinder-volume rows: there is
 * no backend yet. ?host= and ?binary= filter as in Cinder.
 */
static int
volume_services(struct http_req *req, struct http_resp *resp)
{
	struct volume *v = volume_of(req);
	const char *host = http_req_query(req, "host");
	const char *bin = http_req_query(req, "binary");
	char now[40], b[24];
	int64_t ms = clock_wall_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	json_t *list;

	if (volume_begin(req, resp, NULL, NULL) == -1)
		return -1;
	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(now, sizeof(now), "%s.%06d", b, (int)(ms % 1000) * 1000);
	if ((list = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if ((host == NULL || strcmp(host, v->host) == 0) &&
	    (bin == NULL || strcmp(bin, "cinder-scheduler") == 0))
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:s, s:n}", "binary", "cinder-scheduler", "host",
		    v->host, "zone", "nova", "status", "enabled", "state",
		    "up", "updated_at", now, "disabled_reason"));
	return http_resp_json(resp, 200, json_pack("{s:o}", "services",
	    list));
}

/* ---- policy ------------------------------------------------------------- */

#define V_ADMIN		"rule:volume_admin_api"
#define V_OWNER		"rule:volume_admin_or_owner"

/*
 * Cinder's legacy defaults (cinder/policies, before the secure RBAC
 * personas), under Cinder's rule names; its base rules carry a prefix
 * because the rule namespace is shared with the other services.
 */
const struct policy_default volume_policy_defaults[] = {
	{ "volume_admin_api",			"role:admin",
	    "The Block Storage API's admin (Cinder's admin_api)." },
	{ "volume_admin_or_owner",		V_ADMIN " or "
	    "project_id:%(project_id)s",
	    "The admin, or the object's project (Cinder's admin_or_owner)." },
	{ "limits_extension:used_limits",	V_OWNER,
	    "Show the limits of the caller's project with usage." },
	{ "volume_extension:quotas:show",	V_OWNER,
	    "Show a project's block storage quotas (and defaults)." },
	{ "volume_extension:quotas:update",	V_ADMIN,
	    "Update a project's block storage quotas." },
	{ "volume_extension:quotas:delete",	V_ADMIN,
	    "Reset a project's block storage quotas to the defaults." },
	{ "volume_extension:availability_zone_list", "",
	    "List the availability zones of volumes." },
	{ "volume_extension:services:index",	V_ADMIN,
	    "List the block storage services." },
	{ "volume_extension:type_get_all",	"",
	    "List the volume types (the admin also the private ones)." },
	{ "volume_extension:type_get",		"",
	    "Show a volume type (or the default one)." },
	{ "volume_extension:access_types_extra_specs", V_ADMIN,
	    "See the extra_specs of volume types in their views." },
	{ "volume_extension:types_manage",	V_ADMIN,
	    "Create, update and delete volume types." },
	{ "volume_extension:types_extra_specs:index", V_ADMIN,
	    "List a volume type's extra specs." },
	{ "volume_extension:types_extra_specs:show", V_ADMIN,
	    "Show one extra spec of a volume type." },
	{ "volume_extension:types_extra_specs:create", V_ADMIN,
	    "Add or update extra specs of a volume type." },
	{ "volume_extension:types_extra_specs:update", V_ADMIN,
	    "Update one extra spec of a volume type." },
	{ "volume_extension:types_extra_specs:delete", V_ADMIN,
	    "Delete one extra spec of a volume type." },
	{ "volume:get_all",			V_OWNER,
	    "List the volumes of the caller's project." },
	{ "volume:get",				V_OWNER,
	    "Show a volume." },
	{ "volume:create",			"",
	    "Create a volume." },
	{ "volume:update",			V_OWNER,
	    "Update a volume (name, description, metadata, bootable)." },
	{ "volume:delete",			V_OWNER,
	    "Delete a volume." },
	{ "volume:extend",			V_OWNER,
	    "Extend an available volume." },
	{ "volume:update_readonly_flag",	V_OWNER,
	    "Set a volume's read-only flag." },
	{ "volume_extension:volume_admin_actions:reset_status", V_ADMIN,
	    "Reset a volume's status." },
	{ "volume_extension:volume_actions:reserve", V_OWNER,
	    "Mark a volume as attaching (the legacy attach flow)." },
	{ "volume_extension:volume_actions:unreserve", V_OWNER,
	    "Undo a reserve." },
	{ "volume_extension:volume_actions:begin_detaching", V_OWNER,
	    "Mark a volume as detaching." },
	{ "volume_extension:volume_actions:roll_detaching", V_OWNER,
	    "Undo a begin_detaching." },
	{ "volume_extension:volume_actions:attach", V_OWNER,
	    "Record a volume as attached (the legacy attach flow)." },
	{ "volume_extension:volume_actions:detach", V_OWNER,
	    "Record a volume as detached (the legacy attach flow)." },
	{ "volume_extension:volume_actions:initialize_connection", V_OWNER,
	    "Initialize a volume's connection for a connector (its export to "
	    "that initiator, with CHAP)." },
	{ "volume_extension:volume_actions:terminate_connection", V_OWNER,
	    "Terminate a volume's connection for a connector." },
	{ "volume_extension:volume_actions:upload_image", V_OWNER,
	    "Upload a volume's data to a new image (os-volume_upload_image)." },
	{ "volume_extension:volume_actions:upload_public", V_ADMIN,
	    "Upload a volume to a public image." },
	{ "volume:attachment_create",		"",
	    "Create an attachment of a volume (microversion 3.27)." },
	{ "volume:attachment_update",		V_OWNER,
	    "Update an attachment with a connector (its connection info)." },
	{ "volume:attachment_delete",		V_OWNER,
	    "Delete an attachment (the volume's export to it goes)." },
	{ "volume:attachment_complete",		V_OWNER,
	    "Mark an attachment as attached (microversion 3.44)." },
	{ "volume:get_volume_metadata",		V_OWNER,
	    "Show a volume's metadata." },
	{ "volume:create_volume_metadata",	V_OWNER,
	    "Add metadata to a volume." },
	{ "volume:update_volume_metadata",	V_OWNER,
	    "Replace or update a volume's metadata." },
	{ "volume:delete_volume_metadata",	V_OWNER,
	    "Delete a volume's metadata item." },
	{ "volume:create_snapshot",		V_OWNER,
	    "Create a snapshot of a volume." },
	{ "volume:get_snapshot",		V_OWNER,
	    "Show a snapshot." },
	{ "volume:get_all_snapshots",		V_OWNER,
	    "List the snapshots of the caller's project." },
	{ "volume:update_snapshot",		V_OWNER,
	    "Update a snapshot." },
	{ "volume:delete_snapshot",		V_OWNER,
	    "Delete a snapshot." },
	{ "volume:create_transfer",		V_OWNER,
	    "Offer a volume to another project (os-volume-transfer)." },
	{ "volume:get_transfer",		V_OWNER,
	    "Show a volume transfer." },
	{ "volume:get_all_transfers",		V_OWNER,
	    "List the volume transfers of the caller's project." },
	{ "volume:accept_transfer",		"",
	    "Accept a volume transfer (with its auth key) into the caller's "
	    "project." },
	{ "volume:delete_transfer",		V_OWNER,
	    "Delete a volume transfer (the volume stays)." },
	{ "backup:get_all",			V_OWNER,
	    "List the backups of the caller's project." },
	{ "backup:get",				V_OWNER,
	    "Show a backup." },
	{ "backup:create",			"",
	    "Create a backup of a volume." },
	{ "backup:update",			V_OWNER,
	    "Update a backup's name and description (microversion 3.9)." },
	{ "backup:delete",			V_OWNER,
	    "Delete a backup." },
	{ "backup:restore",			V_OWNER,
	    "Restore a backup into a volume (a new one, or an available "
	    "one)." },
	{ "backup:force_delete",		V_ADMIN,
	    "Delete a backup in any status." },
	{ "volume_extension:backup_admin_actions:reset_status", V_ADMIN,
	    "Reset a backup's status." },
	{ NULL, NULL, NULL }
};

/* ---- routes ------------------------------------------------------------- */

#define NA	ROUTE_NO_AUTH
#define TSL	ROUTE_TRAILING_SLASH
#define IH	ROUTE_POLICY_IN_HANDLER

#define R(m, p, h, pol, fl, st)						\
	{ m, "/v3/{project_id}" p, h, pol, fl, st, NULL }

/*
 * Rules that read a project (the quota's, the caller's) are enforced by
 * the handler on that project (IH): a refused caller gets a plain 403,
 * another project's quota being no secret in Cinder either.
 */
const struct http_route volume_routes[] = {
	{ "GET", "/", volume_versions, NULL, NA, 300, NULL },
	{ "GET", "/v3", volume_version_v3, NULL, NA | TSL, 200, NULL },

	R("GET", "/limits", volume_limits, "limits_extension:used_limits", IH,
	    200),
	R("GET", "/os-quota-sets/{target_project_id}", volume_quotas_show,
	    "volume_extension:quotas:show", IH, 200),
	R("GET", "/os-quota-sets/{target_project_id}/defaults",
	    volume_quotas_defaults, "volume_extension:quotas:show", IH, 200),
	R("PUT", "/os-quota-sets/{target_project_id}", volume_quotas_update,
	    "volume_extension:quotas:update", 0, 200),
	R("DELETE", "/os-quota-sets/{target_project_id}",
	    volume_quotas_delete, "volume_extension:quotas:delete", 0, 200),
	R("GET", "/os-availability-zone", volume_zones,
	    "volume_extension:availability_zone_list", 0, 200),
	R("GET", "/os-services", volume_services,
	    "volume_extension:services:index", 0, 200),
	R("GET", "/types", volume_types_list,
	    "volume_extension:type_get_all", 0, 200),
	R("GET", "/types/default", volume_types_show,
	    "volume_extension:type_get", 0, 200),
	R("GET", "/types/{type_id}", volume_types_show,
	    "volume_extension:type_get", 0, 200),
	R("POST", "/types", volume_types_create,
	    "volume_extension:types_manage", 0, 200),
	R("PUT", "/types/{type_id}", volume_types_update,
	    "volume_extension:types_manage", 0, 200),
	R("DELETE", "/types/{type_id}", volume_types_delete,
	    "volume_extension:types_manage", 0, 202),
	R("GET", "/types/{type_id}/extra_specs", volume_types_specs_list,
	    "volume_extension:types_extra_specs:index", 0, 200),
	R("POST", "/types/{type_id}/extra_specs", volume_types_specs_create,
	    "volume_extension:types_extra_specs:create", 0, 200),
	R("GET", "/types/{type_id}/extra_specs/{key}", volume_types_specs_show,
	    "volume_extension:types_extra_specs:show", 0, 200),
	R("PUT", "/types/{type_id}/extra_specs/{key}",
	    volume_types_specs_update,
	    "volume_extension:types_extra_specs:update", 0, 200),
	R("DELETE", "/types/{type_id}/extra_specs/{key}",
	    volume_types_specs_delete,
	    "volume_extension:types_extra_specs:delete", 0, 202),
	R("GET", "/volumes", volume_volumes_list, "volume:get_all", IH, 200),
	R("GET", "/volumes/detail", volume_volumes_detail, "volume:get_all",
	    IH, 200),
	R("POST", "/volumes", volume_volumes_create, "volume:create", IH,
	    202),
	R("GET", "/volumes/{volume_id}", volume_volumes_show, "volume:get",
	    IH, 200),
	R("PUT", "/volumes/{volume_id}", volume_volumes_update,
	    "volume:update", IH, 200),
	R("DELETE", "/volumes/{volume_id}", volume_volumes_delete,
	    "volume:delete", IH, 202),
	/* Each action enforces its own rule (Cinder's names); the route's
	 * is the most common one. */
	R("POST", "/volumes/{volume_id}/action", volume_volumes_action,
	    "volume:update", IH, 202),
	R("GET", "/volumes/{volume_id}/metadata", volume_meta_list,
	    "volume:get_volume_metadata", IH, 200),
	R("POST", "/volumes/{volume_id}/metadata", volume_meta_create,
	    "volume:create_volume_metadata", IH, 200),
	R("PUT", "/volumes/{volume_id}/metadata", volume_meta_replace,
	    "volume:update_volume_metadata", IH, 200),
	R("GET", "/volumes/{volume_id}/metadata/{key}", volume_meta_show,
	    "volume:get_volume_metadata", IH, 200),
	R("PUT", "/volumes/{volume_id}/metadata/{key}", volume_meta_update,
	    "volume:update_volume_metadata", IH, 200),
	R("DELETE", "/volumes/{volume_id}/metadata/{key}", volume_meta_delete,
	    "volume:delete_volume_metadata", IH, 200),
	/* The attachments API: the list and show read attachments of the
	 * caller's project's volumes (Cinder has no rule of their own);
	 * the others enforce theirs on the attachment's volume's project. */
	R("GET", "/attachments", volume_attachments_list, "volume:get_all",
	    IH, 200),
	R("GET", "/attachments/detail", volume_attachments_detail,
	    "volume:get_all", IH, 200),
	R("POST", "/attachments", volume_attachments_create,
	    "volume:attachment_create", IH, 200),
	R("GET", "/attachments/{attachment_id}", volume_attachments_show,
	    "volume:get", IH, 200),
	R("PUT", "/attachments/{attachment_id}", volume_attachments_update,
	    "volume:attachment_update", IH, 200),
	R("DELETE", "/attachments/{attachment_id}", volume_attachments_delete,
	    "volume:attachment_delete", IH, 200),
	R("POST", "/attachments/{attachment_id}/action",
	    volume_attachments_action, "volume:attachment_complete", IH, 204),
	R("GET", "/snapshots", volume_snapshots_list,
	    "volume:get_all_snapshots", IH, 200),
	R("GET", "/snapshots/detail", volume_snapshots_detail,
	    "volume:get_all_snapshots", IH, 200),
	R("POST", "/snapshots", volume_snapshots_create,
	    "volume:create_snapshot", IH, 202),
	R("GET", "/snapshots/{snapshot_id}", volume_snapshots_show,
	    "volume:get_snapshot", IH, 200),
	R("PUT", "/snapshots/{snapshot_id}", volume_snapshots_update,
	    "volume:update_snapshot", IH, 200),
	R("DELETE", "/snapshots/{snapshot_id}", volume_snapshots_delete,
	    "volume:delete_snapshot", IH, 202),
	/* Volume transfers: the rules on the transfer's (or the volume's)
	 * project, in the handlers. */
	R("POST", "/os-volume-transfer", volume_transfers_create,
	    "volume:create_transfer", IH, 202),
	R("GET", "/os-volume-transfer", volume_transfers_list,
	    "volume:get_all_transfers", IH, 200),
	R("GET", "/os-volume-transfer/detail", volume_transfers_detail,
	    "volume:get_all_transfers", IH, 200),
	R("GET", "/os-volume-transfer/{transfer_id}", volume_transfers_show,
	    "volume:get_transfer", IH, 200),
	R("POST", "/os-volume-transfer/{transfer_id}/accept",
	    volume_transfers_accept, "volume:accept_transfer", IH, 202),
	R("DELETE", "/os-volume-transfer/{transfer_id}",
	    volume_transfers_delete, "volume:delete_transfer", IH, 202),
	/* A storage host streaming a backup's data, with the capability
	 * storesync minted for it (no token, no project in the URL). */
	{ "PUT", "/v3/backup-data/{image_id}", NULL, NULL,
	    ROUTE_STREAM_BODY | ROUTE_SELF_SCOPED | ROUTE_CAPABILITY_UPLOAD,
	    204, &volume_backups_data_stream },
	{ "GET", "/v3/backup-data/{image_id}", volume_backups_data_get, NULL,
	    ROUTE_SELF_SCOPED | ROUTE_CAPABILITY, 200, NULL },
	R("GET", "/backups", volume_backups_list, "backup:get_all", IH, 200),
	R("GET", "/backups/detail", volume_backups_detail, "backup:get_all",
	    IH, 200),
	R("POST", "/backups", volume_backups_create, "backup:create", IH,
	    202),
	R("GET", "/backups/{backup_id}", volume_backups_show, "backup:get",
	    IH, 200),
	R("PUT", "/backups/{backup_id}", volume_backups_update,
	    "backup:update", IH, 200),
	R("DELETE", "/backups/{backup_id}", volume_backups_delete,
	    "backup:delete", IH, 202),
	R("POST", "/backups/{backup_id}/restore", volume_backups_restore,
	    "backup:restore", IH, 202),
	R("POST", "/backups/{backup_id}/action", volume_backups_action,
	    "backup:force_delete", IH, 202),
	HTTP_ROUTE_END
};
