/*
 * network: service life cycle, discovery, extensions, route table, policy
 * defaults, Neutron's error types and the list engine the handlers share;
 * see network.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "network_int.h"

/* ---- service ------------------------------------------------------------ */

struct network *
network_new(const struct config *cfg, struct store *st)
{
	struct network *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		err_set(TS_ENOMEM, "network: out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->store = st;
	s->quota_network = config_get_int(cfg, "network", "quota_network");
	s->quota_subnet = config_get_int(cfg, "network", "quota_subnet");
	s->quota_port = config_get_int(cfg, "network", "quota_port");
	s->quota_secgroup = config_get_int(cfg, "network",
	    "quota_security_group");
	s->quota_sgrule = config_get_int(cfg, "network",
	    "quota_security_group_rule");
	s->quota_router = config_get_int(cfg, "network", "quota_router");
	s->quota_floatingip = config_get_int(cfg, "network",
	    "quota_floatingip");
	s->auto_fip = config_get_bool(cfg, "network",
	    "auto_assign_floating_ip");
	s->fip_pool = config_get_str(cfg, "network", "default_floating_pool");
	if (s->auto_fip && *s->fip_pool == '\0') {
		err_set(TS_ECONFIG, "[network] default_floating_pool: empty "
		    "while auto_assign_floating_ip is on");
		network_free(&s);
		return NULL;
	}
	if ((s->ipam = ipam_conf_new(cfg)) == NULL) {
		network_free(&s);
		return NULL;
	}
	return s;
}

void
network_free(struct network **sp)
{
	struct network *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	ipam_conf_free(&s->ipam);
	free(s);
	*sp = NULL;
}

void
network_set_netsync(struct network *s, struct netsync *ns)
{
	s->netsync = ns;
}

void
network_changed(struct network *s)
{
	if (s != NULL && s->netsync != NULL)
		netsync_changed(s->netsync);
}

int
network_write(struct network *s, int (*fn)(struct store_txn *, void *),
    void *arg)
{
	if (store_write(s->store, fn, arg) == -1)
		return -1;
	network_changed(s);
	return 0;
}

struct network *
network_of(struct http_req *req)
{
	return http_req_app(req);
}

/* ---- caller ------------------------------------------------------------- */

const char *
network_project(struct http_req *req)
{
	const struct request_ctx *c = request_ctx_of(req);

	return c != NULL && c->project_id != NULL ? c->project_id : "";
}

bool
network_is_admin(struct http_req *req)
{
	if (request_allowed(req, "context_is_network_admin", NULL))
		return true;
	err_clear();
	return false;
}

static int
target_of(struct request_target *t, const char *owner,
    const char *network_owner)
{
	if (request_target_add(t, "project_id", owner) == -1 ||
	    request_target_add(t, "tenant_id", owner) == -1 ||
	    request_target_add(t, "network:tenant_id",
	    network_owner != NULL ? network_owner : owner) == -1)
		return -1;
	return 0;
}

int
network_enforce(struct http_req *req, const char *rule, const char *owner,
    const char *network_owner, const char *nf_msg)
{
	struct request_target t = { .n = 0 };

	if (target_of(&t, owner, network_owner) == -1)
		return -1;
	if (request_enforce(req, rule, &t) == 0)
		return 0;
	/* Neutron hides what the caller may not read: another project's
	 * object is "not found" (policy.enforce's PolicyNotAuthorized is
	 * turned into NotFound for objects of other tenants). */
	if (strcmp(owner, network_project(req)) != 0 &&
	    (network_owner == NULL ||
	    strcmp(network_owner, network_project(req)) != 0))
		err_set(TS_ENOT_FOUND, "%s", nf_msg);
	return -1;
}

int
network_enforce_attr(struct http_req *req, const char *rule,
    const char *owner, const char *network_owner)
{
	struct request_target t = { .n = 0 };

	if (target_of(&t, owner, network_owner) == -1)
		return -1;
	if (request_enforce(req, rule, &t) == 0)
		return 0;
	err_set(TS_EFORBIDDEN, "(rule:%s) is disallowed by policy", rule);
	return -1;
}

bool
network_allowed(struct http_req *req, const char *rule, const char *owner,
    const char *network_owner)
{
	struct request_target t = { .n = 0 };

	if (target_of(&t, owner, network_owner) == -1) {
		err_clear();
		return false;
	}
	if (request_allowed(req, rule, &t))
		return true;
	err_clear();
	return false;
}

/* ---- errors ------------------------------------------------------------- */

/*
 * Neutron's exception class names, which its clients turn into their own
 * exceptions (neutronclient: "<type>Client"), picked from our code and the
 * message the data layer wrote in Neutron's words. The one table of them:
 * first match wins, NULL pattern matches any message of the code.
 */
static const struct {
	enum ts_errcode	 code;
	const char	*prefix;	/* message starts with */
	const char	*contains;	/* and contains */
	const char	*type;
} error_types[] = {
	{ TS_ENOT_FOUND, "Network ", NULL, "NetworkNotFound" },
	{ TS_ENOT_FOUND, "Subnet ", NULL, "SubnetNotFound" },
	{ TS_ENOT_FOUND, "Port ", NULL, "PortNotFound" },
	{ TS_ENOT_FOUND, "Extension ", NULL, "ExtensionNotFound" },
	{ TS_ENOT_FOUND, "Agent ", NULL, "AgentNotFound" },
	/* security groups (network_secgroups.c) */
	{ TS_ENOT_FOUND, "Security group rule ", NULL,
	    "SecurityGroupRuleNotFound" },
	{ TS_ENOT_FOUND, "Security group ", NULL, "SecurityGroupNotFound" },
	{ TS_ECONFLICT, "Security group rule already exists", NULL,
	    "SecurityGroupRuleExists" },
	{ TS_ECONFLICT, "Default security group already exists", NULL,
	    "SecurityGroupDefaultAlreadyExists" },
	{ TS_ECONFLICT, "Updating default security group", NULL,
	    "SecurityGroupCannotUpdateDefault" },
	{ TS_ECONFLICT, "Insufficient rights for removing default", NULL,
	    "SecurityGroupCannotRemoveDefault" },
	{ TS_ECONFLICT, "Security Group ", "in use", "SecurityGroupInUse" },
	{ TS_ECONFLICT, "Port has security group", NULL,
	    "PortSecurityPortHasSecurityGroup" },
	{ TS_EINVALID, "Port security must be enabled", NULL,
	    "PortSecurityAndIPRequiredForSecurityGroups" },
	{ TS_EINVALID, "Security group rule protocol", NULL,
	    "SecurityGroupRuleInvalidProtocol" },
	{ TS_EINVALID, "Security group rule for ethertype", NULL,
	    "SecurityGroupRuleInvalidEtherType" },
	{ TS_EINVALID, "Invalid value for port", NULL,
	    "SecurityGroupInvalidPortValue" },
	{ TS_EINVALID, "For TCP/UDP protocols", NULL,
	    "SecurityGroupInvalidPortRange" },
	{ TS_EINVALID, "Invalid value for ICMP", NULL,
	    "SecurityGroupInvalidIcmpValue" },
	{ TS_EINVALID, "ICMP code (port-range-max)", NULL,
	    "SecurityGroupMissingIcmpType" },
	{ TS_EINVALID, "Only remote_ip_prefix or remote_group_id", NULL,
	    "SecurityGroupRemoteGroupAndRemoteIpPrefix" },
	{ TS_EINVALID, "Conflicting value ethertype", NULL,
	    "SecurityGroupRuleParameterConflict" },
	{ TS_EINVALID, "Must also specify protocol", NULL,
	    "SecurityGroupProtocolRequiredWithPorts" },
	{ TS_EINVALID, "Invalid protocol ", "for port range",
	    "SecurityGroupInvalidProtocolForPort" },
	{ TS_EINVALID, "Invalid ethertype ", NULL,
	    "SecurityGroupEthertypeConflictWithProtocol" },
	{ TS_ENOT_FOUND, "Router ", "has no interface on subnet",
	    "RouterInterfaceNotFoundForSubnet" },
	{ TS_ENOT_FOUND, "Router ", "does not have an interface",
	    "RouterInterfaceNotFound" },
	{ TS_ENOT_FOUND, "Router ", NULL, "RouterNotFound" },
	{ TS_ENOT_FOUND, "Floating IP ", NULL, "FloatingIPNotFound" },
	{ TS_ENOT_FOUND, "External network ", "is not reachable",
	    "ExternalGatewayForFloatingIPNotFound" },
	{ TS_ECONFLICT, "Router ", "still has ports", "RouterInUse" },
	{ TS_ECONFLICT, "Router interface for subnet", NULL,
	    "RouterInterfaceInUseByFloatingIP" },
	{ TS_ECONFLICT, "Gateway cannot be updated for router", NULL,
	    "RouterExternalGatewayInUseByFloatingIp" },
	{ TS_ECONFLICT, "Cannot associate floating IP", NULL,
	    "FloatingIPPortAlreadyAssociated" },
	{ TS_ECONFLICT, "Port ", "cannot be deleted directly",
	    "L3PortInUse" },
	{ TS_ECONFLICT, "Unable to complete operation on port", NULL,
	    "PortInUse" },
	{ TS_EINVALID, "Bad router request", NULL, "BadRequest" },
	{ TS_EINVALID, "Bad floatingip request", NULL, "BadRequest" },
	{ TS_EINVALID, "Invalid format for routes", NULL, "InvalidRoutes" },
	{ TS_ECONFLICT, "IP address ", "already allocated",
	    "IpAddressAlreadyAllocated" },
	{ TS_ECONFLICT, NULL, "mac address", "MacAddressInUse" },
	{ TS_ECONFLICT, "No more IP addresses", NULL,
	    "IpAddressGenerationFailure" },
	{ TS_ECONFLICT, "Quota exceeded", NULL, "OverQuota" },
	{ TS_ECONFLICT, "Unable to complete operation on network", NULL,
	    "NetworkInUse" },
	{ TS_ECONFLICT, "Unable to complete operation on subnet", NULL,
	    "SubnetInUse" },
	{ TS_ECONFLICT, NULL, "The VLAN", "VlanIdInUse" },
	{ TS_ECONFLICT, NULL, "tunnel", "TunnelIdInUse" },
	{ TS_ECONFLICT, NULL, "flat network", "FlatNetworkInUse" },
	{ TS_ECONFLICT, "Found overlapping allocation pools", NULL,
	    "OverlappingAllocationPools" },
	{ TS_ECONFLICT, "Gateway ip", NULL, "GatewayConflictWithAllocationPools" },
	{ TS_EINVALID, "The allocation pool", NULL, "OutOfBoundsAllocationPool" },
	{ TS_EINVALID, "Invalid input", NULL, "InvalidInput" },
	{ TS_EINVALID, "Unrecognized attribute", NULL, "HTTPBadRequest" },
	{ TS_EINVALID, NULL, "is not a valid IP for", "InvalidIpForSubnet" },
	{ TS_EUNAVAILABLE, "Unable to create the network", NULL,
	    "NoNetworkAvailable" },
	{ TS_EUNAVAILABLE, "Unable to generate unique mac", NULL,
	    "MacAddressGenerationFailure" },
	{ TS_EFORBIDDEN, NULL, "disallowed by policy", "PolicyNotAuthorized" },
};

int
network_fail(struct http_resp *resp)
{
	enum ts_errcode code = err_code();
	const char *msg = err_msg();
	size_t i;

	for (i = 0; i < sizeof(error_types) / sizeof(error_types[0]); i++) {
		if (error_types[i].code != code)
			continue;
		if (error_types[i].prefix != NULL &&
		    strncmp(msg, error_types[i].prefix,
		    strlen(error_types[i].prefix)) != 0)
			continue;
		if (error_types[i].contains != NULL &&
		    strstr(msg, error_types[i].contains) == NULL)
			continue;
		http_resp_error_type(resp, error_types[i].type);
		break;
	}
	return -1;
}

/* ---- JSON --------------------------------------------------------------- */

json_t *
network_time(int64_t ms)
{
	char buf[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

json_t *
network_strs(char **items, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(items[i]));
	return a;
}

int
network_set_str(char **field, const char *s)
{
	char *c = strdup(s != NULL ? s : "");

	if (c == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	free(*field);
	*field = c;
	return 0;
}

int
network_set_strs(json_t *arr, const char *attr, char ***items, size_t *n)
{
	char **v;
	size_t i, k;

	if (!json_is_array(arr))
		return jsonreq_fail(NET_STYLE, attr, "Value must be a list.");
	for (i = 0; i < json_array_size(arr); i++)
		if (!json_is_string(json_array_get(arr, i)))
			return jsonreq_fail(NET_STYLE, attr,
			    "Value must be a list of strings.");
	if ((v = calloc(json_array_size(arr) + 1, sizeof(*v))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < json_array_size(arr); i++)
		if ((v[i] = strdup(json_string_value(json_array_get(arr,
		    i)))) == NULL) {
			for (k = 0; k < i; k++)
				free(v[k]);
			free(v);
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
	for (k = 0; k < *n; k++)
		free((*items)[k]);
	free(*items);
	*items = v;
	*n = json_array_size(arr);
	return 0;
}

/* ---- lists -------------------------------------------------------------- */

/* Query keys that are not filters. */
static bool
control_key(const char *k)
{
	static const char *const keys[] = { "fields", "sort_key", "sort_dir",
	    "limit", "marker", "page_reverse", "verbose", NULL };
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* Whether the scalar v reads as the query value q. */
static bool
scalar_match(json_t *v, const char *q)
{
	char buf[32];

	if (json_is_string(v))
		return strcmp(json_string_value(v), q) == 0;
	if (json_is_boolean(v))
		return strcasecmp(q, json_is_true(v) ? "true" : "false") == 0 ||
		    strcmp(q, json_is_true(v) ? "1" : "0") == 0;
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		return strcmp(buf, q) == 0;
	}
	if (json_is_null(v))
		return *q == '\0' || strcmp(q, "None") == 0;
	return false;
}

/* fixed_ips=ip_address=X / subnet_id=Y: one of the port's entries. */
static bool
fixed_ip_match(json_t *arr, const char *q)
{
	const char *eq = strchr(q, '=');
	char key[32];
	size_t i;

	if (eq == NULL || (size_t)(eq - q) >= sizeof(key))
		return false;
	memcpy(key, q, (size_t)(eq - q));
	key[eq - q] = '\0';
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_object_get(json_array_get(arr, i), key);

		if (v != NULL && scalar_match(v, eq + 1))
			return true;
	}
	return false;
}

static bool
value_match(const char *key, json_t *v, const char *q)
{
	size_t i;

	if (json_is_array(v)) {
		if (strcmp(key, "fixed_ips") == 0)
			return fixed_ip_match(v, q);
		for (i = 0; i < json_array_size(v); i++)
			if (scalar_match(json_array_get(v, i), q))
				return true;
		return false;
	}
	return scalar_match(v, q);
}

/* Every filter key of the query holds (any of its values). Unknown
 * attributes filter nothing, as Neutron without strict filter validation. */
static bool
filter_match(struct http_req *req, json_t *o)
{
	size_t i, n = http_req_query_count(req);
	const char *k, *v;

	for (i = 0; i < n; i++) {
		json_t *attr;
		size_t it = 0, guard = 0;
		bool any = false;
		const char *q;

		if (http_req_query_at(req, i, &k, &v) == -1 || control_key(k))
			continue;
		if ((attr = json_object_get(o, k)) == NULL)
			continue;
		while ((q = http_req_query_next(req, k, &it)) != NULL &&
		    guard++ < 1024)
			if (value_match(k, attr, q)) {
				any = true;
				break;
			}
		if (!any)
			return false;
	}
	return true;
}

struct sort_ctx {
	const char	*keys[8];
	bool		 desc[8];
	size_t		 n;
};

static int
cmp_json(json_t *a, json_t *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	if (json_is_integer(a) && json_is_integer(b))
		return (json_integer_value(a) > json_integer_value(b)) -
		    (json_integer_value(a) < json_integer_value(b));
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) - json_is_true(b);
	return 0;
}

/* qsort has no context argument: the sort runs under the request's own
 * copy, passed through this thread-local. */
static _Thread_local const struct sort_ctx *sort_by;

static int
cmp_obj(const void *pa, const void *pb)
{
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	size_t i;
	int c;

	for (i = 0; i < sort_by->n; i++) {
		c = cmp_json(json_object_get(a, sort_by->keys[i]),
		    json_object_get(b, sort_by->keys[i]));
		if (c != 0)
			return sort_by->desc[i] ? -c : c;
	}
	/* id breaks ties, in the first key's direction (Neutron appends it). */
	c = cmp_json(json_object_get(a, "id"), json_object_get(b, "id"));
	return sort_by->n > 0 && sort_by->desc[0] ? -c : c;
}

static int
sort_parse(struct http_req *req, json_t *sample, struct sort_ctx *sc)
{
	size_t it = 0, dt = 0;
	const char *k, *d;

	memset(sc, 0, sizeof(*sc));
	while ((k = http_req_query_next(req, "sort_key", &it)) != NULL) {
		if (sc->n == sizeof(sc->keys) / sizeof(sc->keys[0])) {
			err_set(TS_EINVALID, "Too many sort keys.");
			return -1;
		}
		if (sample != NULL && json_object_get(sample, k) == NULL) {
			err_set(TS_EINVALID, "%s is an invalid attribute for "
			    "sort_keys", k);
			return -1;
		}
		sc->keys[sc->n] = k;
		d = http_req_query_next(req, "sort_dir", &dt);
		if (d != NULL && strcmp(d, "asc") != 0 &&
		    strcmp(d, "desc") != 0) {
			err_set(TS_EINVALID, "%s is an invalid value for "
			    "sort_dirs, valid values are: 'asc', 'desc'", d);
			return -1;
		}
		sc->desc[sc->n] = d != NULL && strcmp(d, "desc") == 0;
		sc->n++;
	}
	return 0;
}

/* fields=a&fields=b: only those members (none given: all). */
static json_t *
project(struct http_req *req, json_t *o)
{
	size_t it = 0;
	const char *f;
	json_t *out, *v;

	if (http_req_query(req, "fields") == NULL)
		return json_incref(o);
	if ((out = json_object()) == NULL)
		return NULL;
	while ((f = http_req_query_next(req, "fields", &it)) != NULL)
		if ((v = json_object_get(o, f)) != NULL)
			json_object_set(out, f, v);
	return out;
}

static json_t *
page_link(struct http_req *req, const char *coll, const char *rel,
    const char *marker, int64_t limit, bool reverse)
{
	char base[256], href[1024];
	int n;

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		base[0] = '\0';
	n = snprintf(href, sizeof(href), "%s/v2.0/%s?limit=%lld&marker=%s%s",
	    base, coll, (long long)limit, marker,
	    reverse ? "&page_reverse=True" : "");
	if (n < 0 || (size_t)n >= sizeof(href))
		return NULL;
	return json_pack("{s:s, s:s}", "rel", rel, "href", href);
}

int
network_list_reply(struct http_req *req, struct http_resp *resp,
    const char *coll, json_t *objs)
{
	json_t *kept = json_array(), *out = json_array(), *body, *links;
	struct sort_ctx sc;
	const char *marker = http_req_query(req, "marker");
	int64_t limit = 0;
	bool has_limit, reverse;
	size_t i, n, start = 0, end;
	json_t **v = NULL;

	reverse = jsonreq_query_bool(JSONREQ_NOVA,
	    http_req_query(req, "page_reverse"));
	if (kept == NULL || out == NULL || objs == NULL)
		goto nomem;
	if (jsonreq_query_int(NET_STYLE, "limit", http_req_query(req, "limit"),
	    0, INT32_MAX, &limit, &has_limit) == -1 ||
	    sort_parse(req, json_array_get(objs, 0), &sc) == -1)
		goto fail;
	for (i = 0; i < json_array_size(objs); i++)
		if (filter_match(req, json_array_get(objs, i)))
			json_array_append(kept, json_array_get(objs, i));
	n = json_array_size(kept);
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(kept, i);
	sort_by = &sc;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_obj);
	if (marker != NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(json_string_value(json_object_get(v[i],
			    "id")), marker) == 0)
				break;
		if (i == n) {
			err_set(TS_ENOT_FOUND, "Marker %s could not be found.",
			    marker);
			goto fail;
		}
		start = reverse ? (i >= (size_t)limit && has_limit && limit > 0 ?
		    i - (size_t)limit : 0) : i + 1;
		end = reverse ? i : n;
	} else
		end = n;
	if (has_limit && limit > 0 && end - start > (size_t)limit) {
		if (reverse && marker != NULL)
			start = end - (size_t)limit;
		else
			end = start + (size_t)limit;
	}
	for (i = start; i < end; i++)
		json_array_append_new(out, project(req, v[i]));
	if ((body = json_object()) == NULL)
		goto nomem;
	json_object_set_new(body, coll, out);
	out = NULL;
	if (has_limit && limit > 0) {
		char key[64];

		links = json_array();
		if (end < n && end > start)
			json_array_append_new(links, page_link(req, coll,
			    "next", json_string_value(json_object_get(
			    v[end - 1], "id")), limit, false));
		if (marker != NULL && end > start)
			json_array_append_new(links, page_link(req, coll,
			    "previous", json_string_value(json_object_get(
			    v[start], "id")), limit, true));
		snprintf(key, sizeof(key), "%s_links", coll);
		json_object_set_new(body, key, links);
	}
	free(v);
	json_decref(kept);
	json_decref(objs);
	return http_resp_json(resp, 0, body);
nomem:
	err_set(TS_ENOMEM, "out of memory");
fail:
	free(v);
	json_decref(kept);
	json_decref(out);
	json_decref(objs);
	return -1;
}

int
network_show_reply(struct http_req *req, struct http_resp *resp,
    const char *key, json_t *obj, int status)
{
	json_t *p;

	if (obj == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	p = project(req, obj);
	json_decref(obj);
	return http_resp_json(resp, status, json_pack("{s:o*}", key, p));
}

int
network_written_reply(struct http_req *req, struct http_resp *resp,
    json_t *(*render)(struct store_txn *, const void *), const void *rec,
    const char *key, int rc, int status)
{
	struct store_txn *txn;
	json_t *o = NULL;

	if (rc == 0 && store_read_begin(network_of(req)->store, &txn) == 0) {
		o = render(txn, rec);
		store_txn_abort(&txn);
	}
	if (rc == -1 || o == NULL)
		return network_fail(resp);
	if (network_show_reply(req, resp, key, o, status) == -1)
		return network_fail(resp);
	return 0;
}

int
network_create_body(struct http_req *req, const char *key, const char *coll,
    json_t **objs, bool *bulk)
{
	json_t *body = http_req_json(req), *o;
	size_t i;

	*bulk = false;
	if (body != NULL && json_is_object(body) &&
	    (o = json_object_get(body, coll)) != NULL) {
		if (!json_is_array(o) || json_array_size(o) == 0) {
			err_set(TS_EINVALID, "Resources required");
			return -1;
		}
		for (i = 0; i < json_array_size(o); i++)
			if (!json_is_object(json_array_get(o, i))) {
				err_set(TS_EINVALID, "Bulk operation "
				    "requires a list of %s objects.", key);
				return -1;
			}
		*objs = o;
		*bulk = true;
		return 0;
	}
	if (body == NULL || !json_is_object(body) ||
	    !json_is_object(o = json_object_get(body, key))) {
		err_set(TS_EINVALID, "Resource body required");
		return -1;
	}
	*objs = o;
	return 0;
}

int
network_update_body(json_t *o, const char *const *allowed)
{
	if (o == NULL) {
		err_set(TS_EINVALID, "Resource body required");
		return -1;
	}
	return network_check_attrs(o, allowed);
}

int
network_check_attrs(json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(o, k, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL) {
			err_set(TS_EINVALID, "Unrecognized attribute(s) '%s'",
			    k);
			return -1;
		}
	}
	return 0;
}

/* ---- discovery ---------------------------------------------------------- */

/* What keystoneauth's discovery reads: one version, CURRENT. */
int
network_versions(struct http_req *req, struct http_resp *resp)
{
	char base[256], href[300];

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		base[0] = '\0';
	snprintf(href, sizeof(href), "%s/v2.0/", base);
	return http_resp_json(resp, 200, json_pack("{s:[{s:s, s:s, "
	    "s:[{s:s, s:s}]}]}", "versions", "id", "v2.0", "status",
	    "CURRENT", "links", "href", href, "rel", "self"));
}

/* The resources of v2.0, as neutron's API root lists them. */
int
network_version_v20(struct http_req *req, struct http_resp *resp)
{
	static const char *const colls[][2] = { { "network", "networks" },
	    { "subnet", "subnets" }, { "port", "ports" },
	    { "quota", "quotas" }, { "extension", "extensions" },
	    { "agent", "agents" }, { "security_group", "security_groups" },
	    { "security_group_rule", "security_group_rules" },
	    { "router", "routers" }, { "floatingip", "floatingips" } };
	char base[256], href[300];
	json_t *a = json_array();
	size_t i;

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		base[0] = '\0';
	for (i = 0; a != NULL && i < sizeof(colls) / sizeof(colls[0]); i++) {
		snprintf(href, sizeof(href), "%s/v2.0/%s", base, colls[i][1]);
		json_array_append_new(a, json_pack("{s:s, s:s, s:[{s:s, "
		    "s:s}]}", "name", colls[i][0], "collection", colls[i][1],
		    "links", "href", href, "rel", "self"));
	}
	return http_resp_json(resp, 200, json_pack("{s:o*}", "resources", a));
}

/* Exactly the extensions served: aliases Tempest and the clients probe. */
static const struct {
	const char	*alias, *name, *description;
} extensions[] = {
	{ "provider", "Provider Network",
	    "Expose mapping of virtual networks to physical networks" },
	{ "external-net", "Neutron external network",
	    "Adds external network attribute to network resource." },
	{ "quotas", "Quota management support",
	    "Expose functions for quotas management per tenant" },
	{ "quota_details", "Quota details management support",
	    "Expose functions for quotas usage statistics per project" },
	{ "binding", "Port Binding",
	    "Expose port bindings of a virtual port to external application" },
	{ "port-security", "Port Security",
	    "Provides port security" },
	{ "net-mtu", "Network MTU",
	    "Provides MTU attribute for a network resource." },
	{ "standard-attr-description", "standard-attr-description",
	    "Extension to add descriptions to standard attributes" },
	{ "standard-attr-timestamp", "Resource timestamps",
	    "Adds created_at and updated_at fields to all Neutron resources "
	    "that have Neutron standard attributes." },
	{ "standard-attr-revisions", "Resource revision numbers",
	    "This extension will display the revision number of neutron "
	    "resources." },
	{ "project-id", "project_id field enabled",
	    "Extension that indicates that project_id field is enabled." },
	{ "fields", "fields", "Fields filtering on list and show." },
	{ "sorting", "Sorting support", "Extension that indicates that "
	    "sorting is enabled." },
	{ "pagination", "Pagination support", "Extension that indicates "
	    "that pagination is enabled." },
	{ "agent", "agent", "The agent management extension." },
	{ "security-group", "security-group",
	    "The security groups extension." },
	{ "stateful-security-group", "Stateful security group",
	    "Indicates if the security group is stateful or not" },
	{ "router", "Neutron L3 Router", "Router abstraction for basic L3 "
	    "forwarding between L2 Neutron networks and access to external "
	    "networks via a NAT gateway." },
	{ "ext-gw-mode", "Neutron L3 Configurable external gateway mode",
	    "Extension of the router abstraction for specifying whether SNAT "
	    "should occur on the external gateway" },
	{ "extraroute", "Neutron Extra Route", "Extra routes configuration "
	    "for L3 router" },
	{ "fip-port-details", "Floating IP Port Details Extension",
	    "Add port_details attribute to Floating IP resource" },
};

#define NEXT	(sizeof(extensions) / sizeof(extensions[0]))

static json_t *
extension_json(size_t i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[]}", "alias",
	    extensions[i].alias, "name", extensions[i].name, "description",
	    extensions[i].description, "updated", "2026-01-01T00:00:00-00:00",
	    "links");
}

int
network_extensions_list(struct http_req *req, struct http_resp *resp)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < NEXT; i++)
		json_array_append_new(a, extension_json(i));
	return network_list_reply(req, resp, "extensions", a);
}

int
network_extension_show(struct http_req *req, struct http_resp *resp)
{
	const char *alias = http_req_param(req, "alias");
	size_t i;

	for (i = 0; i < NEXT; i++)
		if (strcmp(extensions[i].alias, alias) == 0)
			return network_show_reply(req, resp, "extension",
			    extension_json(i), 200);
	err_set(TS_ENOT_FOUND, "Extension with alias %s does not exist",
	    alias);
	http_resp_error_type(resp, "ExtensionNotFound");
	return -1;
}

/* ---- policy ------------------------------------------------------------- */

#define N_ADMIN		"rule:context_is_network_admin"
#define N_OWNER		"rule:network_admin_or_owner"
#define N_NET_OWNER	"rule:network_admin_or_network_owner"

/*
 * Neutron's legacy defaults (neutron/conf/policies, before the secure
 * RBAC personas), under Neutron's rule names so an operator's neutron
 * overrides read the same; the base rules carry a prefix because the rule
 * namespace is shared with the other services. "Shared" and "external"
 * networks are readable by every project: the policy language has no
 * field: check, so the handlers grant that (get_network then holds for
 * them).
 */
const struct policy_default network_policy_defaults[] = {
	{ "context_is_network_admin",	"role:admin",
	    "The Networking API's admin (Neutron's context_is_admin)." },
	{ "network_owner",		"project_id:%(project_id)s",
	    "A token scoped to the object's project (Neutron's owner)." },
	{ "network_admin_or_owner",	N_ADMIN " or rule:network_owner",
	    "The admin, or the object's project (admin_or_owner)." },
	{ "network_admin_or_network_owner", N_ADMIN " or "
	    "project_id:%(network:tenant_id)s",
	    "The admin, or the project of the object's network "
	    "(admin_or_network_owner)." },

	{ "create_network",			"",
	    "Create a network." },
	{ "create_network:shared",		N_ADMIN,
	    "Create a shared network." },
	{ "create_network:router:external",	N_ADMIN,
	    "Create an external network." },
	{ "create_network:provider:network_type", N_ADMIN,
	    "Specify provider:network_type when creating a network." },
	{ "create_network:provider:physical_network", N_ADMIN,
	    "Specify provider:physical_network when creating a network." },
	{ "create_network:provider:segmentation_id", N_ADMIN,
	    "Specify provider:segmentation_id when creating a network." },
	{ "get_network",			N_OWNER,
	    "Get a network (shared and external ones: any project)." },
	{ "get_network:provider:network_type",	N_ADMIN,
	    "Get provider:network_type of a network." },
	{ "get_network:provider:physical_network", N_ADMIN,
	    "Get provider:physical_network of a network." },
	{ "get_network:provider:segmentation_id", N_ADMIN,
	    "Get provider:segmentation_id of a network." },
	{ "update_network",			N_OWNER,
	    "Update a network." },
	{ "update_network:shared",		N_ADMIN,
	    "Update shared attribute of a network." },
	{ "update_network:router:external",	N_ADMIN,
	    "Update router:external attribute of a network." },
	{ "update_network:provider:network_type", N_ADMIN,
	    "Update provider:network_type of a network." },
	{ "update_network:provider:physical_network", N_ADMIN,
	    "Update provider:physical_network of a network." },
	{ "update_network:provider:segmentation_id", N_ADMIN,
	    "Update provider:segmentation_id of a network." },
	{ "delete_network",			N_OWNER,
	    "Delete a network." },

	{ "create_subnet",			N_NET_OWNER,
	    "Create a subnet (on the caller's network)." },
	{ "get_subnet",				N_OWNER,
	    "Get a subnet (on shared networks: any project)." },
	{ "update_subnet",			N_NET_OWNER,
	    "Update a subnet." },
	{ "delete_subnet",			N_NET_OWNER,
	    "Delete a subnet." },

	{ "create_port",			"",
	    "Create a port (on the caller's or a shared network)." },
	{ "create_port:device_owner",		N_NET_OWNER,
	    "Specify device_owner of a port on another project's network." },
	{ "create_port:mac_address",		N_NET_OWNER,
	    "Specify mac_address when creating a port." },
	{ "create_port:fixed_ips:ip_address",	N_NET_OWNER,
	    "Specify an IP address in fixed_ips when creating a port." },
	{ "create_port:fixed_ips:subnet_id",	"",
	    "Specify a subnet in fixed_ips when creating a port." },
	{ "create_port:port_security_enabled",	N_NET_OWNER,
	    "Specify port_security_enabled when creating a port." },
	{ "create_port:binding:host_id",	N_ADMIN,
	    "Specify binding:host_id when creating a port." },
	{ "get_port",				N_OWNER " or "
	    "project_id:%(network:tenant_id)s",
	    "Get a port (its project or its network's)." },
	{ "get_port:binding:vif_type",		N_ADMIN,
	    "Get binding:vif_type of a port." },
	{ "get_port:binding:host_id",		N_ADMIN,
	    "Get binding:host_id of a port." },
	{ "update_port",			N_OWNER,
	    "Update a port." },
	{ "update_port:mac_address",		N_ADMIN,
	    "Update mac_address of a port." },
	{ "update_port:fixed_ips:ip_address",	N_NET_OWNER,
	    "Specify an IP address in fixed_ips when updating a port." },
	{ "update_port:binding:host_id",	N_ADMIN,
	    "Update binding:host_id of a port." },
	{ "delete_port",			N_OWNER " or "
	    "project_id:%(network:tenant_id)s",
	    "Delete a port (its project or its network's)." },

	{ "create_security_group",		"",
	    "Create a security group (in the caller's project; another "
	    "one's: admin)." },
	{ "get_security_group",			N_OWNER,
	    "Get a security group." },
	{ "update_security_group",		N_OWNER,
	    "Update a security group." },
	{ "delete_security_group",		N_OWNER,
	    "Delete a security group (the default one: admin only)." },
	{ "create_security_group_rule",		N_OWNER,
	    "Create a rule in a security group (the group's project)." },
	{ "get_security_group_rule",		N_OWNER,
	    "Get a security group rule." },
	{ "delete_security_group_rule",		N_OWNER,
	    "Delete a security group rule." },
	{ "create_router",			N_OWNER,
	    "Create a router." },
	{ "create_router:external_gateway_info:enable_snat", N_ADMIN,
	    "Specify enable_snat of the gateway when creating a router." },
	{ "create_router:external_gateway_info:external_fixed_ips", N_ADMIN,
	    "Specify external_fixed_ips of the gateway of a router." },
	{ "get_router",				N_OWNER,
	    "Get a router." },
	{ "update_router",			N_OWNER,
	    "Update a router." },
	{ "delete_router",			N_OWNER,
	    "Delete a router." },
	{ "add_router_interface",		N_OWNER,
	    "Add an interface to a router." },
	{ "remove_router_interface",		N_OWNER,
	    "Remove an interface from a router." },
	{ "create_floatingip",			N_OWNER,
	    "Create a floating IP." },
	{ "create_floatingip:floating_ip_address", N_ADMIN,
	    "Create a floating IP with a given address." },
	{ "get_floatingip",			N_OWNER,
	    "Get a floating IP." },
	{ "update_floatingip",			N_OWNER,
	    "Update a floating IP." },
	{ "delete_floatingip",			N_OWNER,
	    "Delete a floating IP." },

	{ "get_agent",				N_ADMIN,
	    "Get the agents of the hypervisors (L2, DHCP, metadata)." },

	{ "get_quota",				N_OWNER,
	    "Get the network quotas of a project." },
	{ "update_quota",			N_ADMIN,
	    "Update the network quotas of a project." },
	{ "delete_quota",			N_ADMIN,
	    "Reset the network quotas of a project to the defaults." },
	{ NULL, NULL, NULL }
};

/* ---- routes ------------------------------------------------------------- */

#define NA	ROUTE_NO_AUTH
#define TSL	ROUTE_TRAILING_SLASH
#define IH	ROUTE_POLICY_IN_HANDLER
#define SELF	ROUTE_SELF_SCOPED

/* Each route with and without the ".json" suffix neutron still accepts. */
#define R(m, p, h, pol, fl, st)						\
	{ m, "/v2.0" p, h, pol, fl, st, NULL },				\
	{ m, "/v2.0" p ".json", h, pol, fl, st, NULL }

/*
 * Rules on one object read its project (and its network's): the handlers
 * enforce them once the object is loaded (IH), and another project's
 * object answers 404. Lists enforce get_* per object (what the caller may
 * not read is left out).
 */
const struct http_route network_routes[] = {
	{ "GET", "/", network_versions, NULL, NA, 200, NULL },
	{ "GET", "/v2.0", network_version_v20, NULL, NA | TSL, 200, NULL },
	/* Self-scoped: any valid token may read what the API offers. */
	R("GET", "/extensions", network_extensions_list, NULL, SELF, 200),
	{ "GET", "/v2.0/extensions/{alias}", network_extension_show, NULL,
	    SELF, 200, NULL },

	R("GET", "/networks", network_networks_list, "get_network", IH, 200),
	R("POST", "/networks", network_networks_create, "create_network", 0,
	    201),
	{ "GET", "/v2.0/networks/{network_id}", network_networks_show,
	    "get_network", IH, 200, NULL },
	{ "PUT", "/v2.0/networks/{network_id}", network_networks_update,
	    "update_network", IH, 200, NULL },
	{ "DELETE", "/v2.0/networks/{network_id}", network_networks_delete,
	    "delete_network", IH, 204, NULL },

	R("GET", "/subnets", network_subnets_list, "get_subnet", IH, 200),
	R("POST", "/subnets", network_subnets_create, "create_subnet", IH,
	    201),
	{ "GET", "/v2.0/subnets/{subnet_id}", network_subnets_show,
	    "get_subnet", IH, 200, NULL },
	{ "PUT", "/v2.0/subnets/{subnet_id}", network_subnets_update,
	    "update_subnet", IH, 200, NULL },
	{ "DELETE", "/v2.0/subnets/{subnet_id}", network_subnets_delete,
	    "delete_subnet", IH, 204, NULL },

	R("GET", "/ports", network_ports_list, "get_port", IH, 200),
	R("POST", "/ports", network_ports_create, "create_port", 0, 201),
	{ "GET", "/v2.0/ports/{port_id}", network_ports_show, "get_port", IH,
	    200, NULL },
	{ "PUT", "/v2.0/ports/{port_id}", network_ports_update, "update_port",
	    IH, 200, NULL },
	{ "DELETE", "/v2.0/ports/{port_id}", network_ports_delete,
	    "delete_port", IH, 204, NULL },

	R("GET", "/security-groups", network_secgroups_list,
	    "get_security_group", IH, 200),
	R("POST", "/security-groups", network_secgroups_create,
	    "create_security_group", 0, 201),
	{ "GET", "/v2.0/security-groups/{security_group_id}",
	    network_secgroups_show, "get_security_group", IH, 200, NULL },
	{ "PUT", "/v2.0/security-groups/{security_group_id}",
	    network_secgroups_update, "update_security_group", IH, 200, NULL },
	{ "DELETE", "/v2.0/security-groups/{security_group_id}",
	    network_secgroups_delete, "delete_security_group", IH, 204, NULL },
	R("GET", "/security-group-rules", network_sgrules_list,
	    "get_security_group_rule", IH, 200),
	R("POST", "/security-group-rules", network_sgrules_create,
	    "create_security_group_rule", IH, 201),
	{ "GET", "/v2.0/security-group-rules/{rule_id}", network_sgrules_show,
	    "get_security_group_rule", IH, 200, NULL },
	{ "DELETE", "/v2.0/security-group-rules/{rule_id}",
	    network_sgrules_delete, "delete_security_group_rule", IH, 204,
	    NULL },
	R("GET", "/routers", network_routers_list, "get_router", IH, 200),
	R("POST", "/routers", network_routers_create, "create_router", IH,
	    201),
	{ "GET", "/v2.0/routers/{router_id}", network_routers_show,
	    "get_router", IH, 200, NULL },
	{ "PUT", "/v2.0/routers/{router_id}", network_routers_update,
	    "update_router", IH, 200, NULL },
	{ "DELETE", "/v2.0/routers/{router_id}", network_routers_delete,
	    "delete_router", IH, 204, NULL },
	R("PUT", "/routers/{router_id}/add_router_interface",
	    network_routers_add_interface, "add_router_interface", IH, 200),
	R("PUT", "/routers/{router_id}/remove_router_interface",
	    network_routers_remove_interface, "remove_router_interface", IH,
	    200),

	R("GET", "/floatingips", network_floatingips_list, "get_floatingip",
	    IH, 200),
	R("POST", "/floatingips", network_floatingips_create,
	    "create_floatingip", IH, 201),
	{ "GET", "/v2.0/floatingips/{floatingip_id}",
	    network_floatingips_show, "get_floatingip", IH, 200, NULL },
	{ "PUT", "/v2.0/floatingips/{floatingip_id}",
	    network_floatingips_update, "update_floatingip", IH, 200, NULL },
	{ "DELETE", "/v2.0/floatingips/{floatingip_id}",
	    network_floatingips_delete, "delete_floatingip", IH, 204, NULL },

	/* As Neutron: a caller the rule refuses lists none, shows 404. */
	R("GET", "/agents", network_agents_list, "get_agent", IH, 200),
	{ "GET", "/v2.0/agents/{agent_id}", network_agents_show, "get_agent",
	    IH, 200, NULL },

	/* The project is the URL's: the target is built from it. */
	R("GET", "/quotas", network_quotas_list, "update_quota", 0, 200),
	{ "GET", "/v2.0/quotas/{project_id}", network_quotas_show,
	    "get_quota", IH, 200, NULL },
	R("GET", "/quotas/{project_id}/default", network_quotas_default,
	    "get_quota", IH, 200),
	R("GET", "/quotas/{project_id}/details", network_quotas_details,
	    "get_quota", IH, 200),
	{ "PUT", "/v2.0/quotas/{project_id}", network_quotas_update,
	    "update_quota", 0, 200, NULL },
	{ "DELETE", "/v2.0/quotas/{project_id}", network_quotas_delete,
	    "delete_quota", 0, 204, NULL },
	HTTP_ROUTE_END
};

/* ---- seed ---------------------------------------------------------------- */

struct seed_arg {
	struct ipam_conf	*ipam;
	struct rec_network	 n;
	struct rec_subnet	 s;
	struct ipam_segment_req	 seg;
	bool			 provider;
};

static int
seed_fn(struct store_txn *txn, void *arg)
{
	struct seed_arg *sa = arg;

	if (ipam_network_create(txn, sa->ipam, &sa->n,
	    sa->provider ? &sa->seg : NULL) == -1 ||
	    ipam_subnet_create(txn, &sa->s) == -1)
		return -1;
	return 0;
}

int
network_seed_create(const struct config *cfg, struct store *st,
    const struct network_seed *o, char network_id[37], char subnet_id[37])
{
	struct seed_arg sa;
	char phys[65] = "";
	const char *ranges;
	int rc = -1;

	memset(&sa, 0, sizeof(sa));
	if ((sa.ipam = ipam_conf_new(cfg)) == NULL)
		return -1;
	if (o->vlan >= 0) {
		if (o->bridge != NULL)
			snprintf(phys, sizeof(phys), "%s", o->bridge);
		else {
			ranges = config_get_str(cfg, "network",
			    "network_vlan_ranges");
			snprintf(phys, sizeof(phys), "%.*s",
			    (int)strcspn(ranges, ":,"), ranges);
		}
		if (*phys == '\0') {
			err_set(TS_EINVALID, "--vlan needs --bridge or "
			    "[network] network_vlan_ranges");
			goto out;
		}
		sa.provider = true;
		sa.seg.network_type = "vlan";
		sa.seg.physical_network = phys;
		sa.seg.has_segmentation_id = true;
		sa.seg.segmentation_id = (uint32_t)o->vlan;
	}
	db_uuid(sa.n.id);
	db_uuid(sa.s.id);
	snprintf(sa.s.network_id, sizeof(sa.s.network_id), "%s", sa.n.id);
	sa.n.shared = o->project_id == NULL || *o->project_id == '\0';
	sa.n.admin_state_up = sa.n.port_security_enabled = true;
	sa.n.revision_number = sa.s.revision_number = 1;
	sa.n.created_at = sa.n.updated_at = db_now_ms();
	sa.s.created_at = sa.s.updated_at = sa.n.created_at;
	sa.s.ip_version = 4;
	sa.s.enable_dhcp = true;
	if (network_set_str(&sa.n.project_id, o->project_id) == -1 ||
	    network_set_str(&sa.n.name, o->label) == -1 ||
	    network_set_str(&sa.n.description, "") == -1 ||
	    network_set_str(&sa.n.status, "ACTIVE") == -1 ||
	    network_set_str(&sa.n.network_type, "") == -1 ||
	    network_set_str(&sa.s.project_id, o->project_id) == -1 ||
	    network_set_str(&sa.s.name, o->label) == -1 ||
	    network_set_str(&sa.s.description, "") == -1 ||
	    network_set_str(&sa.s.cidr, o->cidr) == -1 ||
	    ipam_subnet_prepare(sa.ipam, &sa.s, IPAM_GW_DEFAULT, false) == -1 ||
	    store_write(st, seed_fn, &sa) == -1)
		goto out;
	snprintf(network_id, 37, "%s", sa.n.id);
	snprintf(subnet_id, 37, "%s", sa.s.id);
	rc = 0;
out:
	codec_clear(&schema_rec_network, &sa.n);
	codec_clear(&schema_rec_subnet, &sa.s);
	ipam_conf_free(&sa.ipam);
	return rc;
}

/* ---- floating pools (tinystack-manage floating create) ------------------- */

struct pool_arg {
	struct seed_arg	 sa;
	bool		 found;
};

static int
pool_find_cb(const struct rec_network *n, void *arg)
{
	struct pool_arg *pa = arg;

	if (!n->router_external || strcmp(n->name, pa->sa.n.name) != 0)
		return 0;
	pa->found = true;
	snprintf(pa->sa.n.id, sizeof(pa->sa.n.id), "%s", n->id);
	return 1;
}

static int
pool_fn(struct store_txn *txn, void *arg)
{
	struct pool_arg *pa = arg;

	pa->found = false;
	if (network_db_network_each(txn, pool_find_cb, pa) == -1)
		return -1;
	if (!pa->found && ipam_network_create(txn, pa->sa.ipam, &pa->sa.n,
	    &pa->sa.seg) == -1)
		return -1;
	snprintf(pa->sa.s.network_id, sizeof(pa->sa.s.network_id), "%s",
	    pa->sa.n.id);
	return ipam_subnet_create(txn, &pa->sa.s);
}

int
network_floating_create(const struct config *cfg, struct store *st,
    const char *pool, const char *ip_range, const char *physnet,
    char network_id[37], char subnet_id[37])
{
	struct pool_arg pa;
	int rc = -1;

	memset(&pa, 0, sizeof(pa));
	if ((pa.sa.ipam = ipam_conf_new(cfg)) == NULL)
		return -1;
	pa.sa.seg.network_type = "flat";
	pa.sa.seg.physical_network = physnet != NULL ? physnet : pool;
	db_uuid(pa.sa.n.id);
	db_uuid(pa.sa.s.id);
	pa.sa.n.router_external = true;
	pa.sa.n.admin_state_up = pa.sa.n.port_security_enabled = true;
	pa.sa.n.revision_number = pa.sa.s.revision_number = 1;
	pa.sa.n.created_at = pa.sa.n.updated_at = db_now_ms();
	pa.sa.s.created_at = pa.sa.s.updated_at = pa.sa.n.created_at;
	pa.sa.s.ip_version = 4;
	pa.sa.s.enable_dhcp = false;
	if (network_set_str(&pa.sa.n.project_id, "") == -1 ||
	    network_set_str(&pa.sa.n.name, pool) == -1 ||
	    network_set_str(&pa.sa.n.description, "") == -1 ||
	    network_set_str(&pa.sa.n.status, "ACTIVE") == -1 ||
	    network_set_str(&pa.sa.n.network_type, "") == -1 ||
	    network_set_str(&pa.sa.s.project_id, "") == -1 ||
	    network_set_str(&pa.sa.s.name, pool) == -1 ||
	    network_set_str(&pa.sa.s.description, "") == -1 ||
	    network_set_str(&pa.sa.s.cidr, ip_range) == -1 ||
	    ipam_subnet_prepare(pa.sa.ipam, &pa.sa.s, IPAM_GW_DEFAULT,
	    false) == -1 ||
	    store_write(st, pool_fn, &pa) == -1)
		goto out;
	snprintf(network_id, 37, "%s", pa.sa.n.id);
	snprintf(subnet_id, 37, "%s", pa.sa.s.id);
	rc = 0;
out:
	codec_clear(&schema_rec_network, &pa.sa.n);
	codec_clear(&schema_rec_subnet, &pa.sa.s);
	ipam_conf_free(&pa.sa.ipam);
	return rc;
}
