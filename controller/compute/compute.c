/*
 * compute_api: service life cycle, discovery, microversions, route table,
 * policy defaults and the helpers the compute handlers share; see
 * compute_api.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/request.h"
#include "codec.h"
#include "compute_int.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "core/fleet.h"
#include "identity/identity.h"
#include "log.h"

/* ---- service ------------------------------------------------------------ */

struct compute *
compute_new(const struct config *cfg, struct store *st, struct bus *bus,
    const char *host)
{
	struct compute *s = calloc(1, sizeof(*s));
	struct scheduler_opts so = { 0 };
	struct recon_opts ro = { 0 };
	const char *w;

	if (s == NULL) {
		err_set(TS_ENOMEM, "compute: out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->store = st;
	s->bus = bus;
	snprintf(s->host, sizeof(s->host), "%s", host);
	snprintf(s->az, sizeof(s->az), "%s", config_get_str(cfg, "compute",
	    "default_availability_zone"));
	s->build_timeout = config_get_int(cfg, "compute", "build_timeout");
	s->qdef.instances = config_get_int(cfg, "compute", "quota_instances");
	s->qdef.cores = config_get_int(cfg, "compute", "quota_cores");
	s->qdef.ram = config_get_int(cfg, "compute", "quota_ram");
	s->qdef.key_pairs = config_get_int(cfg, "compute", "quota_key_pairs");
	s->qdef.metadata_items = config_get_int(cfg, "compute",
	    "quota_metadata_items");
	s->qdef.server_groups = 10;
	s->qdef.server_group_members = 10;
	s->qdef.injected_files = 5;
	s->qdef.injected_file_content_bytes = 10240;
	s->qdef.injected_file_path_bytes = 255;

	so.cpu_allocation_ratio = config_get_float(cfg, "scheduler",
	    "cpu_allocation_ratio");
	so.ram_allocation_ratio = config_get_float(cfg, "scheduler",
	    "ram_allocation_ratio");
	so.disk_allocation_ratio = config_get_float(cfg, "scheduler",
	    "disk_allocation_ratio");
	so.reserved_host_memory_mb = config_get_int(cfg, "scheduler",
	    "reserved_host_memory_mb");
	so.reserved_host_disk_gb = config_get_int(cfg, "scheduler",
	    "reserved_host_disk_gb");
	w = config_get_str(cfg, "scheduler", "weigher");
	so.weigher = strcmp(w, "stack") == 0 ? SCHEDULER_STACK : SCHEDULER_SPREAD;
	so.default_az = s->az;
	so.service_down_ms = config_get_int(cfg, "DEFAULT",
	    "service_down_time") * 1000;
	if ((s->sched = scheduler_new(st, &so)) == NULL) {
		compute_free(&s);
		return NULL;
	}
	ro.controller_host = s->host;
	ro.build_timeout = (int)s->build_timeout;
	ro.action_timeout = (int)config_get_int(cfg, "compute",
	    "action_timeout");
	ro.resend_interval = (int)config_get_int(cfg, "compute",
	    "resend_interval");
	ro.console_timeout = (int)config_get_int(cfg, "compute",
	    "console_timeout");
	if ((s->recon = recon_new(st, bus, s->sched, &ro)) == NULL) {
		compute_free(&s);
		return NULL;
	}
	return s;
}

int
compute_start(struct compute *s)
{
	if (recon_audit(s->recon, NULL) == -1)
		return -1;
	return recon_start(s->recon);
}

void
compute_free(struct compute **sp)
{
	struct compute *s = *sp;

	if (s == NULL)
		return;
	recon_free(&s->recon);
	scheduler_free(&s->sched);
	free(s);
	*sp = NULL;
}

static void
hook_report(const char *host, const struct sch_guest *g, size_t n, int hello,
    void *arg)
{
	struct compute *s = arg;

	recon_host_report(s->recon, host, g, n, hello);
}

static int
hook_message(const char *host, struct codec_envelope *env, void *arg)
{
	struct compute *s = arg;

	return recon_agent_msg(s->recon, host, env);
}

void
compute_fleet_hooks(struct compute *s, struct fleet_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->report = hook_report;
	h->message = hook_message;
	h->arg = s;
}

/* Long enough for a download queued behind others to start; the token
 * is checked when the download starts, not while it runs. */
#define IMAGE_TOKEN_LIFETIME	900	/* s */

static int
mint_image_token(void *arg, const char *user_id, const char *project_id,
    char *out, size_t outlen)
{
	return identity_token_mint(arg, user_id, project_id,
	    IMAGE_TOKEN_LIFETIME, out, outlen);
}

void
compute_set_identity(struct compute *s, struct identity *id)
{
	recon_set_token_fn(s->recon, mint_image_token, id);
}

struct compute *
compute_of(struct http_req *req)
{
	return http_req_app(req);
}

/* ---- policy --------------------------------------------------------------- */

#define C_ADMIN		"rule:compute_admin"
#define C_OWNER		"rule:compute_admin_or_owner"
#define C_USER		"rule:compute_admin_or_user"

/*
 * Nova's legacy defaults: admin is "role:admin" anywhere; an owner is a
 * token scoped to the object's project. Rule names are Nova's, so an
 * operator's nova policy overrides read the same.
 */
const struct policy_default policy_compute_defaults[] = {
	{ "compute_admin",				"role:admin" },
	{ "compute_owner",			"project_id:%(project_id)s" },
	{ "compute_admin_or_owner",	"rule:compute_admin or "
							"rule:compute_owner" },
	{ "compute_admin_or_user",	"rule:compute_admin or "
							"user_id:%(user_id)s" },
	{ "os_compute_api:servers:index",		"" },
	{ "os_compute_api:servers:detail",		"" },
	{ "os_compute_api:servers:index:get_all_tenants", C_ADMIN },
	{ "os_compute_api:servers:detail:get_all_tenants", C_ADMIN },
	{ "os_compute_api:servers:show",		C_OWNER },
	{ "os_compute_api:servers:create",		"" },
	{ "os_compute_api:servers:create:forced_host",	C_ADMIN },
	{ "os_compute_api:servers:update",		C_OWNER },
	{ "os_compute_api:servers:delete",		C_OWNER },
	{ "os_compute_api:servers:start",		C_OWNER },
	{ "os_compute_api:servers:stop",		C_OWNER },
	{ "os_compute_api:servers:reboot",		C_OWNER },
	{ "os_compute_api:servers:rebuild",		C_OWNER },
	{ "os_compute_api:servers:show:host_status",	C_ADMIN },
	{ "os_compute_api:os-extended-server-attributes", C_ADMIN },
	{ "os_compute_api:os-extended-status",		C_ADMIN },
	{ "os_compute_api:os-pause-server:pause",	C_OWNER },
	{ "os_compute_api:os-pause-server:unpause",	C_OWNER },
	{ "os_compute_api:os-suspend-server:suspend",	C_OWNER },
	{ "os_compute_api:os-suspend-server:resume",	C_OWNER },
	{ "os_compute_api:os-lock-server:lock",		C_OWNER },
	{ "os_compute_api:os-lock-server:unlock",	C_OWNER },
	{ "os_compute_api:os-lock-server:unlock:unlock_override", C_ADMIN },
	{ "os_compute_api:os-console-output",		C_OWNER },
	{ "os_compute_api:os-admin-actions:reset_state", C_ADMIN },
	{ "os_compute_api:os-instance-actions:list",	C_OWNER },
	{ "os_compute_api:os-instance-actions:show",	C_OWNER },
	{ "os_compute_api:os-instance-actions:events",	C_ADMIN },
	{ "os_compute_api:os-server-diagnostics",	C_ADMIN },
	{ "os_compute_api:ips:index",			C_OWNER },
	{ "os_compute_api:server-metadata:index",	C_OWNER },
	{ "os_compute_api:os-flavor-manage:create",	C_ADMIN },
	{ "os_compute_api:os-flavor-manage:delete",	C_ADMIN },
	{ "os_compute_api:os-flavor-access",		C_ADMIN },
	{ "os_compute_api:os-flavor-access:add_tenant_access", C_ADMIN },
	{ "os_compute_api:os-flavor-access:remove_tenant_access", C_ADMIN },
	{ "os_compute_api:os-flavor-extra-specs:index",	"" },
	{ "os_compute_api:os-flavor-extra-specs:show",	"" },
	{ "os_compute_api:os-flavor-extra-specs:create", C_ADMIN },
	{ "os_compute_api:os-flavor-extra-specs:update", C_ADMIN },
	{ "os_compute_api:os-flavor-extra-specs:delete", C_ADMIN },
	{ "os_compute_api:os-keypairs:index",		C_USER },
	{ "os_compute_api:os-keypairs:create",		C_USER },
	{ "os_compute_api:os-keypairs:show",		C_USER },
	{ "os_compute_api:os-keypairs:delete",		C_USER },
	{ "os_compute_api:os-hypervisors:list",		C_ADMIN },
	{ "os_compute_api:os-hypervisors:list-detail",	C_ADMIN },
	{ "os_compute_api:os-hypervisors:statistics",	C_ADMIN },
	{ "os_compute_api:os-hypervisors:show",		C_ADMIN },
	{ "os_compute_api:os-hypervisors:uptime",	C_ADMIN },
	{ "os_compute_api:os-hypervisors:search",	C_ADMIN },
	{ "os_compute_api:os-hypervisors:servers",	C_ADMIN },
	{ "os_compute_api:os-services:list",		C_ADMIN },
	{ "os_compute_api:os-services:update",		C_ADMIN },
	{ "os_compute_api:os-services:delete",		C_ADMIN },
	{ "os_compute_api:os-availability-zone:list",	"" },
	{ "os_compute_api:os-availability-zone:detail",	C_ADMIN },
	{ "os_compute_api:os-aggregates:index",		C_ADMIN },
	{ "os_compute_api:os-quota-sets:show",		C_OWNER },
	{ "os_compute_api:os-quota-sets:detail",	C_OWNER },
	{ "os_compute_api:os-quota-sets:defaults",	"" },
	{ "os_compute_api:os-quota-sets:update",	C_ADMIN },
	{ "os_compute_api:os-quota-sets:delete",	C_ADMIN },
	{ "os_compute_api:limits",			"" },
	{ NULL, NULL }
};

const struct request_ctx *
compute_ctx(struct http_req *req)
{
	return request_ctx_of(req);
}

int
compute_enforce(struct http_req *req, const char *rule)
{
	return request_enforce(req, rule, NULL);
}

bool
compute_is_admin(struct http_req *req)
{
	const struct request_ctx *c = compute_ctx(req);

	if (c == NULL)
		return false;
	if (request_enforce(req, "compute_admin", NULL) == 0)
		return true;
	err_clear();
	return false;
}

int
compute_enforce_owned(struct http_req *req, const char *rule,
    const char *owner_project, const char *owner_user, const char *what,
    const char *id)
{
	struct request_target t = { .n = 0 };

	if (request_target_add(&t, "project_id", owner_project) == -1 ||
	    (owner_user && request_target_add(&t, "user_id", owner_user) == -1))
		return -1;
	if (request_enforce_owned(req, rule, &t, owner_project, what, id) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "%s %s could not be found.",
			    what, id);
		return -1;
	}
	return 0;
}

/* ---- microversions ---------------------------------------------------------- */

/* "2.N" -> N; -1 if not of that form. "latest" -> max. */
static int
parse_mv(const char *v)
{
	char *end;
	long minor;

	while (*v == ' ')
		v++;
	if (strncasecmp(v, "latest", 6) == 0)
		return COMPUTE_MV_MAX;
	if (v[0] != '2' || v[1] != '.' || !isdigit((unsigned char)v[2]))
		return -1;
	errno = 0;
	minor = strtol(v + 2, &end, 10);
	while (*end == ' ')
		end++;
	if (errno || (*end != '\0' && *end != ',') || minor > 100000)
		return -1;
	return (int)minor;
}

int
compute_version(struct http_req *req, struct http_resp *resp, int *minor)
{
	const char *h = http_req_header(req, "OpenStack-API-Version");
	const char *v = NULL;
	char buf[64];
	int mv = COMPUTE_MV_MIN;

	/* "compute 2.1" possibly among other services, comma separated. */
	if (h != NULL) {
		const char *p = h;

		while (*p) {
			while (*p == ' ' || *p == ',')
				p++;
			if (strncasecmp(p, "compute ", 8) == 0) {
				v = p + 8;
				break;
			}
			while (*p && *p != ',')
				p++;
		}
	}
	if (v == NULL)
		v = http_req_header(req, "X-OpenStack-Nova-API-Version");
	if (v != NULL) {
		mv = parse_mv(v);
		if (mv < 0) {
			err_set(TS_EINVALID, "API Version String %.32s is of "
			    "invalid format. Must be of format "
			    "MajorNum.MinorNum.", v);
			return -1;
		}
		if (mv < COMPUTE_MV_MIN || mv > COMPUTE_MV_MAX) {
			err_set(TS_ENOT_ACCEPTABLE, "Version 2.%d is not "
			    "supported by the API. Minimum is 2.%d and maximum "
			    "is 2.%d.", mv, COMPUTE_MV_MIN, COMPUTE_MV_MAX);
			return -1;
		}
	}
	*minor = mv;
	snprintf(buf, sizeof(buf), "compute 2.%d", mv);
	if (http_resp_header(resp, "OpenStack-API-Version", buf) == -1)
		return -1;
	snprintf(buf, sizeof(buf), "2.%d", mv);
	if (http_resp_header(resp, "X-OpenStack-Nova-API-Version", buf) == -1 ||
	    http_resp_header(resp, "Vary", "OpenStack-API-Version, "
	    "X-OpenStack-Nova-API-Version") == -1)
		return -1;
	return 0;
}

/* ---- discovery ---------------------------------------------------------------- */

static json_t *
version_doc(struct http_req *req, int v21)
{
	char base[512], href[600], max[16], min[16];

	if (http_req_base_url(req, base, sizeof(base)) == -1) {
		err_set(TS_EINVALID, "Host header too long");
		return NULL;
	}
	snprintf(href, sizeof(href), "%s/%s/", base, v21 ? "v2.1" : "v2");
	if (v21) {
		snprintf(max, sizeof(max), "2.%d", COMPUTE_MV_MAX);
		snprintf(min, sizeof(min), "2.%d", COMPUTE_MV_MIN);
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}], "
	    "s:[{s:s, s:s}]}",
	    "id", v21 ? "v2.1" : "v2.0",
	    "status", v21 ? "CURRENT" : "SUPPORTED",
	    "version", v21 ? max : "",
	    "min_version", v21 ? min : "",
	    "updated", v21 ? "2013-07-23T11:33:21Z" : "2011-01-21T11:33:21Z",
	    "links", "rel", "self", "href", href,
	    "media-types", "base", "application/json",
	    "type", "application/vnd.openstack.compute+json;version=2");
}

int
compute_versions(struct http_req *req, struct http_resp *resp)
{
	json_t *v2 = version_doc(req, 0), *v21 = version_doc(req, 1);

	if (v2 == NULL || v21 == NULL) {
		json_decref(v2);
		json_decref(v21);
		return -1;
	}
	/* Tempest wants v2.0 first. */
	return http_resp_json(resp, 200, json_pack("{s:[o, o]}", "versions",
	    v2, v21));
}

int
compute_version_v2(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_doc(req, 0);

	return v ? http_resp_json(resp, 200, json_pack("{s:o}", "version", v)) :
	    -1;
}

int
compute_version_v21(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_doc(req, 1);

	return v ? http_resp_json(resp, 200, json_pack("{s:o}", "version", v)) :
	    -1;
}

/* ---- JSON helpers ------------------------------------------------------------- */

void
compute_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
compute_time_usec(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char b[24];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%06d", b, (int)(ms % 1000) * 1000);
}

json_t *
compute_time_or_null(int64_t ms, int usec)
{
	char b[32];

	if (ms == 0)
		return json_null();
	if (usec)
		compute_time_usec(ms, b);
	else
		compute_time(ms, b);
	return json_string(b);
}

json_t *
compute_links(struct http_req *req, const char *coll, const char *id)
{
	const struct request_ctx *c = compute_ctx(req);
	const char *pid = c && c->project_id ? c->project_id : "";
	char base[512], self[1024], book[1024];

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		snprintf(base, sizeof(base), "http://localhost");
	if (*pid) {
		snprintf(self, sizeof(self), "%s/v2.1/%s/%s/%s", base, pid,
		    coll, id);
		snprintf(book, sizeof(book), "%s/%s/%s/%s", base, pid, coll,
		    id);
	} else {
		snprintf(self, sizeof(self), "%s/v2.1/%s/%s", base, coll, id);
		snprintf(book, sizeof(book), "%s/%s/%s", base, coll, id);
	}
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "rel", "self", "href",
	    self, "rel", "bookmark", "href", book);
}

json_t *
compute_ref(struct http_req *req, const char *coll, const char *id)
{
	return json_pack("{s:s, s:o}", "id", id, "links", compute_links(req, coll,
	    id));
}

int
compute_json_body(struct http_req *req, const char *key, json_t **obj)
{
	json_t *b = http_req_json(req), *o;

	if (b == NULL || !json_is_object(b)) {
		err_set(TS_EINVALID, "The request body is missing or not a "
		    "JSON object.");
		return -1;
	}
	o = json_object_get(b, key);
	if (o == NULL || !json_is_object(o)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %s. It is a required object.", key,
		    o ? "(not an object)" : "None");
		return -1;
	}
	*obj = o;
	return 0;
}

static int
bad_field(const char *k, const char *why)
{
	err_set(TS_EINVALID, "Invalid input for field/attribute %s. %s", k,
	    why);
	return -1;
}

int
compute_json_int(json_t *o, const char *k, int64_t min, int64_t max, int64_t *out,
    bool *present)
{
	json_t *v = json_object_get(o, k);
	int64_t n;

	if (present)
		*present = false;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;

		while (*s == ' ')
			s++;
		errno = 0;
		n = strtoll(s, &end, 10);
		while (*end == ' ')
			end++;
		if (*s == '\0' || *end != '\0' || errno)
			return bad_field(k, "Value must be an integer.");
	} else if (json_is_real(v) && json_real_value(v) ==
	    (double)(int64_t)json_real_value(v)) {
		n = (int64_t)json_real_value(v);
	} else {
		return bad_field(k, "Value must be an integer.");
	}
	if (n < min || n > max) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %lld. It must be between %lld and %lld.", k,
		    (long long)n, (long long)min, (long long)max);
		return -1;
	}
	*out = n;
	if (present)
		*present = true;
	return 0;
}

int
compute_json_str(json_t *o, const char *k, size_t min, size_t max, bool nullable,
    const char **out, bool *present)
{
	json_t *v = json_object_get(o, k);
	size_t n;

	if (present)
		*present = false;
	if (v == NULL)
		return 0;
	if (json_is_null(v) && nullable) {
		*out = NULL;
		if (present)
			*present = true;
		return 0;
	}
	if (!json_is_string(v))
		return bad_field(k, "Value must be a string.");
	n = json_string_length(v);
	if (n < min || n > max || strlen(json_string_value(v)) != n) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Length must be between %zu and %zu.", k, min, max);
		return -1;
	}
	*out = json_string_value(v);
	if (present)
		*present = true;
	return 0;
}

static int
word_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "t", "yes", "y",
	    "on" };
	static const char *const no[] = { "0", "false", "f", "no", "n",
	    "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	return -1;
}

int
compute_json_bool(json_t *o, const char *k, bool *out, bool *present)
{
	json_t *v = json_object_get(o, k);

	if (present)
		*present = false;
	if (v == NULL)
		return 0;
	if (json_is_boolean(v))
		*out = json_is_true(v);
	else if (!json_is_string(v) || word_bool(json_string_value(v), out) ==
	    -1)
		return bad_field(k, "Value must be a boolean.");
	if (present)
		*present = true;
	return 0;
}

int
compute_query_int(struct http_req *req, const char *k, int64_t min, int64_t max,
    int64_t *out, bool *present)
{
	const char *s = http_req_query(req, k);
	char *end;
	long long n;

	*present = false;
	if (s == NULL)
		return 0;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno || n < min || n > max) {
		err_set(TS_EINVALID, "Invalid input for query parameters %s. "
		    "Value: %.32s.", k, s);
		return -1;
	}
	*out = n;
	*present = true;
	return 0;
}

bool
compute_query_bool(const char *s)
{
	bool b = false;

	if (s == NULL)
		return false;
	if (*s == '\0')
		return true;
	if (word_bool(s, &b) == -1)
		return false;
	return b;
}

bool
compute_uuid_like(const char *s)
{
	char low[CODEC_UUID_LEN + 1];
	size_t n = strlen(s);

	if (n != CODEC_UUID_LEN)
		return false;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	return codec_uuid_valid(low);
}

/* Valid UTF-8 without control characters. */
static bool
text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n;

		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
			n = 1;
		else if ((*p & 0xf0) == 0xe0)
			n = 2;
		else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
			n = 3;
		else
			return false;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n + 1;
	}
	return true;
}

int
compute_name_ok(const char *field, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || isspace((unsigned char)s[0]) ||
	    isspace((unsigned char)s[n - 1]) || !text_ok(s)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %.64s. It must be 1 to 255 printable characters "
		    "without leading or trailing whitespace.", field, s);
		return -1;
	}
	return 0;
}

int
compute_read(struct http_req *req, struct store_txn **txn)
{
	return store_read_begin(compute_of(req)->store, txn);
}

int
compute_write(struct http_req *req, int (*fn)(struct store_txn *, void *),
    void *arg)
{
	return store_write(compute_of(req)->store, fn, arg);
}

/* ---- routes ----------------------------------------------------------------------- */

#define NA	ROUTE_NO_AUTH
#define TS	ROUTE_TRAILING_SLASH

/* Each route under /v2.1 and /v2, with and without /{project_id}. */
#define R(m, p, h, pol, fl, st)						\
	{ m, "/v2.1" p, h, pol, fl, st, NULL },				\
	{ m, "/v2.1/{project_id}" p, h, pol, fl, st, NULL },		\
	{ m, "/v2" p, h, pol, fl, st, NULL },				\
	{ m, "/v2/{project_id}" p, h, pol, fl, st, NULL }

const struct http_route compute_routes[] = {
	{ "GET", "/", compute_versions, NULL, NA, 200, NULL },
	{ "GET", "/v2", compute_version_v2, NULL, NA | TS, 200, NULL },
	{ "GET", "/v2.1", compute_version_v21, NULL, NA | TS, 200, NULL },

	R("GET", "/servers", compute_servers_list, NULL, 0, 200),
	R("GET", "/servers/detail", compute_servers_detail, NULL, 0, 200),
	R("POST", "/servers", compute_servers_create, NULL, 0, 202),
	R("GET", "/servers/{server_id}", compute_servers_show, NULL, 0, 200),
	R("PUT", "/servers/{server_id}", compute_servers_update, NULL, 0, 200),
	R("DELETE", "/servers/{server_id}", compute_servers_delete, NULL, 0, 204),
	R("POST", "/servers/{server_id}/action", compute_servers_action, NULL, 0,
	    202),
	R("GET", "/servers/{server_id}/os-instance-actions",
	    compute_servers_actions_list, NULL, 0, 200),
	R("GET", "/servers/{server_id}/os-instance-actions/{request_id}",
	    compute_servers_action_show, NULL, 0, 200),
	R("GET", "/servers/{server_id}/diagnostics", compute_servers_diagnostics,
	    NULL, 0, 200),
	R("GET", "/servers/{server_id}/ips", compute_servers_ips, NULL, 0, 200),
	R("GET", "/servers/{server_id}/metadata", compute_servers_metadata_list,
	    NULL, 0, 200),

	R("GET", "/flavors", compute_flavors_list, NULL, 0, 200),
	R("GET", "/flavors/detail", compute_flavors_detail, NULL, 0, 200),
	R("POST", "/flavors", compute_flavors_create,
	    "os_compute_api:os-flavor-manage:create", 0, 200),
	R("GET", "/flavors/{flavor_id}", compute_flavors_show, NULL, 0, 200),
	R("DELETE", "/flavors/{flavor_id}", compute_flavors_delete,
	    "os_compute_api:os-flavor-manage:delete", 0, 202),
	R("POST", "/flavors/{flavor_id}/action", compute_flavors_action, NULL, 0,
	    200),
	R("GET", "/flavors/{flavor_id}/os-flavor-access",
	    compute_flavors_access_list, "os_compute_api:os-flavor-access", 0, 200),
	R("GET", "/flavors/{flavor_id}/os-extra_specs", compute_flavors_extra_specs_list,
	    "os_compute_api:os-flavor-extra-specs:index", 0, 200),
	R("POST", "/flavors/{flavor_id}/os-extra_specs",
	    compute_flavors_extra_specs_create,
	    "os_compute_api:os-flavor-extra-specs:create", 0, 200),
	R("GET", "/flavors/{flavor_id}/os-extra_specs/{key}",
	    compute_flavors_extra_spec_show, "os_compute_api:os-flavor-extra-specs:show",
	    0, 200),
	R("PUT", "/flavors/{flavor_id}/os-extra_specs/{key}",
	    compute_flavors_extra_spec_update,
	    "os_compute_api:os-flavor-extra-specs:update", 0, 200),
	R("DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}",
	    compute_flavors_extra_spec_delete,
	    "os_compute_api:os-flavor-extra-specs:delete", 0, 200),

	R("GET", "/os-keypairs", compute_keypairs_list, NULL, 0, 200),
	R("POST", "/os-keypairs", compute_keypairs_create, NULL, 0, 200),
	R("GET", "/os-keypairs/{keypair_name}", compute_keypairs_show, NULL, 0,
	    200),
	R("DELETE", "/os-keypairs/{keypair_name}", compute_keypairs_delete, NULL, 0,
	    202),

	R("GET", "/os-hypervisors", compute_admin_hypervisor_list,
	    "os_compute_api:os-hypervisors:list", 0, 200),
	R("GET", "/os-hypervisors/detail", compute_admin_hypervisor_detail,
	    "os_compute_api:os-hypervisors:list-detail", 0, 200),
	R("GET", "/os-hypervisors/statistics", compute_admin_hypervisor_statistics,
	    "os_compute_api:os-hypervisors:statistics", 0, 200),
	R("GET", "/os-hypervisors/{hypervisor_id}", compute_admin_hypervisor_show,
	    "os_compute_api:os-hypervisors:show", 0, 200),
	R("GET", "/os-hypervisors/{hypervisor_id}/uptime",
	    compute_admin_hypervisor_uptime, "os_compute_api:os-hypervisors:uptime", 0,
	    200),
	R("GET", "/os-hypervisors/{pattern}/servers", compute_admin_hypervisor_servers,
	    "os_compute_api:os-hypervisors:servers", 0, 200),
	R("GET", "/os-hypervisors/{pattern}/search", compute_admin_hypervisor_search,
	    "os_compute_api:os-hypervisors:search", 0, 200),
	R("GET", "/os-services", compute_admin_service_list,
	    "os_compute_api:os-services:list", 0, 200),
	R("PUT", "/os-services/{service_action}", compute_admin_service_update,
	    "os_compute_api:os-services:update", 0, 200),
	R("DELETE", "/os-services/{service_id}", compute_admin_service_delete,
	    "os_compute_api:os-services:delete", 0, 204),
	R("GET", "/os-availability-zone", compute_admin_az_list,
	    "os_compute_api:os-availability-zone:list", 0, 200),
	R("GET", "/os-availability-zone/detail", compute_admin_az_detail,
	    "os_compute_api:os-availability-zone:detail", 0, 200),
	R("GET", "/os-aggregates", compute_admin_aggregate_list,
	    "os_compute_api:os-aggregates:index", 0, 200),
	R("GET", "/os-quota-sets/{tenant_id}", compute_admin_quota_show, NULL, 0, 200),
	R("GET", "/os-quota-sets/{tenant_id}/detail", compute_admin_quota_detail, NULL,
	    0, 200),
	R("GET", "/os-quota-sets/{tenant_id}/defaults", compute_admin_quota_defaults,
	    "os_compute_api:os-quota-sets:defaults", 0, 200),
	R("PUT", "/os-quota-sets/{tenant_id}", compute_admin_quota_update,
	    "os_compute_api:os-quota-sets:update", 0, 200),
	R("DELETE", "/os-quota-sets/{tenant_id}", compute_admin_quota_delete,
	    "os_compute_api:os-quota-sets:delete", 0, 202),
	R("GET", "/limits", compute_admin_limits, "os_compute_api:limits", 0, 200),
	HTTP_ROUTE_END
};
