/*
 * network_secgroups: Neutron's security-group extension
 * (/v2.0/security-groups, /v2.0/security-group-rules) and what ports need
 * of it (a project's default group, the check of a port's groups).
 *
 * Every project has one group named "default", made lazily on its first
 * security-group list, group create or port create (as Neutron does) with
 * four rules: egress IPv4 and IPv6 to anywhere, ingress IPv4 and IPv6
 * from the group's own members. A new group gets the two egress rules.
 * Rules are validated here with Neutron's messages before they are
 * stored (network_sgrule_parse()), so the agents only ever get rules that
 * can be applied (CVE-2019-9735: a port range on a protocol without
 * ports once stopped a whole host's updates). Every committed change goes
 * through network_write(), which tells the dataplane sync.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "network_int.h"

#define DEFAULT_NAME	"default"

/* ---- rule validation ------------------------------------------------------ */

/* Protocol names Neutron accepts (neutron_lib's IP_PROTOCOL_MAP) with
 * their numbers. */
static const struct {
	const char	*name;
	int		 num;
} protos[] = {
	{ "ah", 51 }, { "dccp", 33 }, { "egp", 8 }, { "esp", 50 },
	{ "gre", 47 }, { "hopopt", 0 }, { "icmp", 1 }, { "igmp", 2 },
	{ "ip", 0 }, { "ipip", 4 }, { "ipv6-encap", 41 }, { "ipv6-frag", 44 },
	{ "ipv6-icmp", 58 }, { "icmpv6", 58 }, { "ipv6-nonxt", 59 },
	{ "ipv6-opts", 60 }, { "ipv6-route", 43 }, { "ospf", 89 },
	{ "pgm", 113 }, { "rsvp", 46 }, { "sctp", 132 }, { "tcp", 6 },
	{ "udp", 17 }, { "udplite", 136 }, { "vrrp", 112 },
};
#define NPROTOS	(sizeof(protos) / sizeof(protos[0]))

/* The protocol's number, -1 for any. */
static int
proto_num(const char *p)
{
	size_t i;

	if (p == NULL)
		return -1;
	for (i = 0; i < NPROTOS; i++)
		if (strcmp(protos[i].name, p) == 0)
			return protos[i].num;
	return atoi(p);
}

static int
bad_protocol(const char *shown)
{
	char names[512] = "[None";
	size_t i, l;

	for (i = 0; i < NPROTOS; i++) {
		l = strlen(names);
		snprintf(names + l, sizeof(names) - l, ", '%s'",
		    protos[i].name);
	}
	l = strlen(names);
	snprintf(names + l, sizeof(names) - l, "]");
	err_set(TS_EINVALID, "Security group rule protocol %s not supported. "
	    "Only protocol values %s and integer representations [0 to 255] "
	    "are supported.", shown, names);
	return -1;
}

/* protocol: absent, null or "any" is any; a name (any case) or 0..255
 * given as a number or a string of digits. out: 16 bytes, "" for any. */
static int
parse_protocol(json_t *v, char out[16])
{
	const char *s;
	char low[32];
	size_t i;

	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 0 || n > 255) {
			snprintf(low, sizeof(low), "%lld", (long long)n);
			return bad_protocol(low);
		}
		snprintf(out, 16, "%d", (int)n);
		return 0;
	}
	if (!json_is_string(v))
		return bad_protocol("(not a string)");
	s = json_string_value(v);
	if (strlen(s) >= sizeof(low))
		return bad_protocol("(too long)");
	for (i = 0; s[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	low[i] = '\0';
	if (strcmp(low, "any") == 0)
		return 0;
	for (i = 0; i < NPROTOS; i++)
		if (strcmp(protos[i].name, low) == 0) {
			snprintf(out, 16, "%.15s", low);
			return 0;
		}
	if (*low != '\0' && strspn(low, "0123456789") == strlen(low) &&
	    strlen(low) <= 3 && atoi(low) <= 255) {
		snprintf(out, 16, "%d", atoi(low));
		return 0;
	}
	return bad_protocol(s);
}

/* A port value (0..65535, a number or a string of digits; null: none). */
static int
parse_port(json_t *v, bool *has, uint32_t *out)
{
	char shown[32];
	long long n;

	*has = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_string(v) && *json_string_value(v) != '\0' &&
	    strlen(json_string_value(v)) < 8 &&
	    strspn(json_string_value(v), "0123456789") ==
	    strlen(json_string_value(v)))
		n = atoll(json_string_value(v));
	else {
		err_set(TS_EINVALID, "Invalid value for port %s",
		    json_is_string(v) ? json_string_value(v) : "(not a number)");
		return -1;
	}
	if (n < 0 || n > 65535) {
		snprintf(shown, sizeof(shown), "%lld", n);
		err_set(TS_EINVALID, "Invalid value for port %s", shown);
		return -1;
	}
	*has = true;
	*out = (uint32_t)n;
	return 0;
}

/* remote_ip_prefix: an address ("/32" or "/128" implied) or addr/len,
 * host bits cleared; out gets the canonical CIDR. */
static int
parse_prefix(const char *s, char out[IPAM_ADDR_STRLEN + 8], unsigned *version)
{
	char buf[IPAM_ADDR_STRLEN + 8], *slash, addr[IPAM_ADDR_STRLEN];
	struct ipam_addr a;
	unsigned w, plen;
	ipam_u128 mask;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (ipam_addr_parse(buf, &a) == -1)
		goto bad;
	w = a.version == 4 ? 32 : 128;
	plen = w;
	if (slash != NULL) {
		if (*slash == '\0' || strlen(slash) > 3 ||
		    strspn(slash, "0123456789") != strlen(slash) ||
		    (plen = (unsigned)atoi(slash)) > w)
			goto bad;
	}
	if (plen == 0)
		a.v = 0;
	else if (plen < w) {
		mask = (((ipam_u128)1) << (w - plen)) - 1;
		a.v &= ~mask;
	}
	snprintf(out, IPAM_ADDR_STRLEN + 8, "%s/%u", ipam_addr_format(&a,
	    addr), plen);
	*version = a.version;
	return 0;
bad:
	err_set(TS_EINVALID, "Invalid input for remote_ip_prefix. Reason: "
	    "'%s' is not a valid IP subnet.", s);
	return -1;
}

static bool
port_proto(int num)
{
	return num == 6 || num == 17 || num == 136 || num == 132 || num == 33;
}

static int
set_opt(char **field, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	return network_set_str(field, s);
}

int
network_sgrule_parse(json_t *o, struct rec_security_group_rule *r)
{
	static const char *const attrs[] = { "security_group_id", "direction",
	    "ethertype", "protocol", "port_range_min", "port_range_max",
	    "remote_ip_prefix", "remote_group_id", "remote_address_group_id",
	    "description", "tenant_id", "project_id", NULL };
	const char *dir = NULL, *eth = "IPv4", *pfx = NULL, *rg = NULL,
	    *desc = "", *sg = NULL;
	char proto[16], cidr[IPAM_ADDR_STRLEN + 8] = "";
	bool has_min, has_max;
	uint32_t pmin = 0, pmax = 0;
	unsigned version = 0;
	json_t *v;
	int num;

	if (network_check_attrs(o, attrs) == -1 ||
	    jsonreq_uuid(NET_STYLE, o, "security_group_id", JSONREQ_REQUIRED,
	    &sg, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "description", 0, 255, 0, &desc,
	    NULL) == -1)
		return -1;
	v = json_object_get(o, "direction");
	if (v == NULL || !json_is_string(v) ||
	    (strcmp(dir = json_string_value(v), "ingress") != 0 &&
	    strcmp(dir, "egress") != 0)) {
		err_set(TS_EINVALID, "Invalid input for direction. Reason: "
		    "'%s' is not in ['ingress', 'egress'].", json_is_string(v) ?
		    json_string_value(v) : "None");
		return -1;
	}
	v = json_object_get(o, "ethertype");
	if (v != NULL && !json_is_null(v)) {
		if (json_is_string(v) &&
		    strcasecmp(json_string_value(v), "IPv4") == 0)
			eth = "IPv4";
		else if (json_is_string(v) &&
		    strcasecmp(json_string_value(v), "IPv6") == 0)
			eth = "IPv6";
		else {
			err_set(TS_EINVALID, "Security group rule for "
			    "ethertype '%s' not supported. Allowed values are "
			    "['IPv4', 'IPv6'].", json_is_string(v) ?
			    json_string_value(v) : "(not a string)");
			return -1;
		}
	}
	if (parse_protocol(json_object_get(o, "protocol"), proto) == -1 ||
	    parse_port(json_object_get(o, "port_range_min"), &has_min,
	    &pmin) == -1 ||
	    parse_port(json_object_get(o, "port_range_max"), &has_max,
	    &pmax) == -1)
		return -1;
	v = json_object_get(o, "remote_ip_prefix");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			err_set(TS_EINVALID, "Invalid input for "
			    "remote_ip_prefix. Reason: it is not a valid IP "
			    "subnet.");
			return -1;
		}
		pfx = json_string_value(v);
		if (parse_prefix(pfx, cidr, &version) == -1)
			return -1;
	}
	/* Any string names a group: one that is not an id is not found
	 * (Neutron answers 404, not 400). */
	v = json_object_get(o, "remote_group_id");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || !jsonreq_uuid_like(rg =
		    json_string_value(v)) || strlen(rg) != 36) {
			err_set(TS_ENOT_FOUND, "Security group %.64s does not "
			    "exist", json_is_string(v) ? json_string_value(v) :
			    "(not a string)");
			return -1;
		}
	}
	v = json_object_get(o, "remote_address_group_id");
	if (v != NULL && !json_is_null(v)) {
		err_set(TS_EINVALID, "Invalid input for remote_address_group_id. "
		    "Reason: address groups are not supported.");
		return -1;
	}
	if (pfx != NULL && rg != NULL) {
		err_set(TS_EINVALID, "Only remote_ip_prefix or remote_group_id "
		    "or remote_address_group_id may be provided.");
		return -1;
	}
	/* Neutron's _validate_port_range. */
	num = proto_num(*proto ? proto : NULL);
	if (has_min || has_max) {
		if (num < 0) {
			err_set(TS_EINVALID, "Must also specify protocol if "
			    "port range is given.");
			return -1;
		}
		if (port_proto(num)) {
			if ((has_min && pmin == 0) || (has_max && pmax == 0)) {
				err_set(TS_EINVALID, "Invalid value for port 0");
				return -1;
			}
			if (!has_min || !has_max || pmin > pmax) {
				err_set(TS_EINVALID, "For TCP/UDP protocols, "
				    "port_range_min must be <= port_range_max");
				return -1;
			}
		} else if (num == 1 || num == 58) {
			if (has_min && pmin > 255) {
				err_set(TS_EINVALID, "Invalid value for ICMP "
				    "type (port_range_min) %u. It must be 0 to "
				    "255.", pmin);
				return -1;
			}
			if (has_max && pmax > 255) {
				err_set(TS_EINVALID, "Invalid value for ICMP "
				    "code (port_range_max) %u. It must be 0 to "
				    "255.", pmax);
				return -1;
			}
			if (!has_min && has_max) {
				err_set(TS_EINVALID, "ICMP code (port-range-max) "
				    "%u is provided but ICMP type "
				    "(port-range-min) is missing.", pmax);
				return -1;
			}
		} else {
			err_set(TS_EINVALID, "Invalid protocol %s for port "
			    "range, only supported for TCP, UDP, UDPLITE, SCTP "
			    "and DCCP.", proto);
			return -1;
		}
	}
	if (version != 0 && (version == 4) != (strcmp(eth, "IPv4") == 0)) {
		err_set(TS_EINVALID, "Conflicting value ethertype %s for CIDR "
		    "%s", eth, pfx);
		return -1;
	}
	if (num == 58 && strcmp(eth, "IPv4") == 0) {
		err_set(TS_EINVALID, "Invalid ethertype %s for protocol %s.",
		    eth, proto);
		return -1;
	}
	snprintf(r->security_group_id, sizeof(r->security_group_id), "%s",
	    sg);
	r->has_port_range_min = has_min;
	r->port_range_min = pmin;
	r->has_port_range_max = has_max;
	r->port_range_max = pmax;
	if (network_set_str(&r->direction, dir) == -1 ||
	    network_set_str(&r->ethertype, eth) == -1 ||
	    network_set_str(&r->description, desc) == -1 ||
	    set_opt(&r->protocol, proto) == -1 ||
	    set_opt(&r->remote_ip_prefix, cidr) == -1 ||
	    set_opt(&r->remote_group_id, rg) == -1)
		return -1;
	return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *
opt_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
network_sgrule_json(const struct rec_security_group_rule *r)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, "
	    "s:o, s:o, s:n, s:s, s:I, s:o, s:o}",
	    "id", r->id, "tenant_id", r->project_id, "project_id",
	    r->project_id, "security_group_id", r->security_group_id,
	    "direction", r->direction, "ethertype", r->ethertype,
	    "protocol", opt_str(r->protocol),
	    "port_range_min", r->has_port_range_min ?
	    json_integer(r->port_range_min) : json_null(),
	    "port_range_max", r->has_port_range_max ?
	    json_integer(r->port_range_max) : json_null(),
	    "remote_ip_prefix", opt_str(r->remote_ip_prefix),
	    "normalized_cidr", opt_str(r->remote_ip_prefix),
	    "remote_group_id", opt_str(r->remote_group_id),
	    "remote_address_group_id",
	    "description", r->description,
	    "revision_number", (json_int_t)r->revision_number,
	    "created_at", network_time(r->created_at),
	    "updated_at", network_time(r->updated_at));
}

static int
rules_cb(const struct rec_security_group_rule *r, void *arg)
{
	json_array_append_new(arg, network_sgrule_json(r));
	return 0;
}

static json_t *
group_json(struct store_txn *txn, const struct rec_security_group *g)
{
	json_t *rules = json_array();

	if (rules != NULL && network_db_sgrule_each_group(txn, g->id, rules_cb,
	    rules) == -1)
		err_clear();	/* shown without its rules rather than not */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o*, s:o, "
	    "s:I, s:o, s:o}",
	    "id", g->id, "name", g->name, "tenant_id", g->project_id,
	    "project_id", g->project_id, "description", g->description,
	    "stateful", g->stateful, "shared", 0,
	    "security_group_rules", rules,
	    "tags", network_strs(g->tags.items, g->tags.n),
	    "revision_number", (json_int_t)g->revision_number,
	    "created_at", network_time(g->created_at),
	    "updated_at", network_time(g->updated_at));
}

/* ---- the default group ------------------------------------------------------ */

struct find_arg {
	const char	*name;
	char		 id[37];
};

static int
find_cb(const struct rec_security_group *g, void *arg)
{
	struct find_arg *fa = arg;

	if (strcmp(g->name, fa->name) != 0)
		return 0;
	snprintf(fa->id, sizeof(fa->id), "%s", g->id);
	return 1;
}

/* The project's default group's id ("" when it has none yet). */
static int
default_find(struct store_txn *txn, const char *project_id, char id[37])
{
	struct find_arg fa = { .name = DEFAULT_NAME, .id = "" };

	if (network_db_secgroup_each_project(txn, project_id, find_cb,
	    &fa) == -1)
		return -1;
	snprintf(id, 37, "%s", fa.id);
	return 0;
}

static int
rule_add(struct store_txn *txn, const struct rec_security_group *g,
    const char *dir, const char *eth, const char *remote_group)
{
	struct rec_security_group_rule r;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	db_uuid(r.id);
	snprintf(r.security_group_id, sizeof(r.security_group_id), "%s",
	    g->id);
	r.revision_number = 0;
	r.created_at = r.updated_at = g->created_at;
	if (network_set_str(&r.project_id, g->project_id) == 0 &&
	    network_set_str(&r.direction, dir) == 0 &&
	    network_set_str(&r.ethertype, eth) == 0 &&
	    network_set_str(&r.description, "") == 0 &&
	    set_opt(&r.remote_group_id, remote_group) == 0)
		rc = network_db_sgrule_put(txn, &r, NULL);
	codec_clear(&schema_rec_security_group_rule, &r);
	return rc;
}

/* Store g (new) with Neutron's initial rules: egress anywhere for both
 * families, and for the default group ingress from its own members. */
static int
group_store(struct store_txn *txn, const struct rec_security_group *g,
    bool is_default)
{
	if (network_db_secgroup_put(txn, g, NULL) == -1 ||
	    rule_add(txn, g, "egress", "IPv4", NULL) == -1 ||
	    rule_add(txn, g, "egress", "IPv6", NULL) == -1)
		return -1;
	if (is_default && (rule_add(txn, g, "ingress", "IPv4", g->id) == -1 ||
	    rule_add(txn, g, "ingress", "IPv6", g->id) == -1))
		return -1;
	return 0;
}

int
network_secgroup_default(struct store_txn *txn, const char *project_id,
    char id[37])
{
	struct rec_security_group g;
	int rc = -1;

	if (project_id == NULL || *project_id == '\0') {
		id[0] = '\0';
		return 0;
	}
	if (default_find(txn, project_id, id) == -1)
		return -1;
	if (*id != '\0')
		return 0;
	/* Not counted against the quota: Neutron makes it whatever the
	 * project's limit. */
	memset(&g, 0, sizeof(g));
	db_uuid(g.id);
	g.stateful = true;
	g.created_at = g.updated_at = db_now_ms();
	if (network_set_str(&g.project_id, project_id) == 0 &&
	    network_set_str(&g.name, DEFAULT_NAME) == 0 &&
	    network_set_str(&g.description, "Default security group") == 0 &&
	    group_store(txn, &g, true) == 0) {
		snprintf(id, 37, "%s", g.id);
		rc = 0;
	}
	codec_clear(&schema_rec_security_group, &g);
	return rc;
}

static int
default_fn(struct store_txn *txn, void *arg)
{
	char id[37];

	return network_secgroup_default(txn, arg, id);
}

/* Make the caller's default group if it has none (a read first: lists
 * are frequent, the write happens once per project). */
static int
ensure_default(struct http_req *req)
{
	struct network *svc = network_of(req);
	const char *pid = network_project(req);
	struct store_txn *txn;
	char id[37];
	int rc;

	if (*pid == '\0')
		return 0;
	if (store_read_begin(svc->store, &txn) == -1)
		return -1;
	rc = default_find(txn, pid, id);
	store_txn_abort(&txn);
	if (rc == -1 || *id != '\0')
		return rc;
	return network_write(svc, default_fn, (void *)pid);
}

/* ---- ports' groups ---------------------------------------------------------- */

int
network_secgroups_check(struct http_req *req, struct store_txn *txn,
    const char *project_id, char **ids, size_t *np)
{
	struct rec_security_group g;
	bool admin = req != NULL && network_is_admin(req);
	size_t i, j, n = *np;

	/* A group named twice is one membership (Neutron keeps a set). */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(ids[i], ids[j]) == 0) {
				free(ids[j]);
				memmove(&ids[j], &ids[j + 1],
				    (n - j - 1) * sizeof(*ids));
				n--;
				j--;
			}
	*np = n;
	for (i = 0; i < n; i++) {
		memset(&g, 0, sizeof(g));
		if (network_db_secgroup_get(txn, ids[i], &g) == -1)
			return -1;
		if (!admin && strcmp(g.project_id, project_id) != 0) {
			codec_clear(&schema_rec_security_group, &g);
			err_set(TS_ENOT_FOUND, "Security group %s does not "
			    "exist", ids[i]);
			return -1;
		}
		codec_clear(&schema_rec_security_group, &g);
	}
	return 0;
}

int
network_port_groups_check(const struct rec_port *p, bool groups_given)
{
	if (p->port_security_enabled || p->security_groups.n == 0)
		return 0;
	if (groups_given) {
		err_set(TS_EINVALID, "Port security must be enabled and port "
		    "must have an IP address in order to use security "
		    "groups.");
		return -1;
	}
	err_set(TS_ECONFLICT, "Port has security group associated. Cannot "
	    "disable port security or IP address until security group is "
	    "removed");
	return -1;
}

/* ---- groups ----------------------------------------------------------------- */

static int
load_group(struct http_req *req, struct store_txn *txn, const char *id,
    const char *rule, struct rec_security_group *g)
{
	char nf[128];

	if (network_db_secgroup_get(txn, id, g) == -1)
		return -1;
	snprintf(nf, sizeof(nf), "Security group %s does not exist", id);
	return network_enforce(req, rule, g->project_id, NULL, nf);
}

struct list_arg {
	struct http_req		*req;
	struct store_txn	*txn;
	json_t			*out;
	bool			 admin;
};

static int
list_cb(const struct rec_security_group *g, void *arg)
{
	struct list_arg *la = arg;

	if (!la->admin && !network_allowed(la->req, "get_security_group",
	    g->project_id, NULL))
		return 0;
	json_array_append_new(la->out, group_json(la->txn, g));
	return 0;
}

int
network_secgroups_list(struct http_req *req, struct http_resp *resp)
{
	struct list_arg la = { .req = req };
	int rc;

	if (ensure_default(req) == -1)
		return network_fail(resp);
	la.admin = network_is_admin(req);
	if ((la.out = json_array()) == NULL ||
	    store_read_begin(network_of(req)->store, &la.txn) == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	if (la.admin)
		rc = network_db_secgroup_each(la.txn, list_cb, &la);
	else
		rc = network_db_secgroup_each_project(la.txn,
		    network_project(req), list_cb, &la);
	store_txn_abort(&la.txn);
	if (rc == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	return network_list_reply(req, resp, "security_groups", la.out) ==
	    -1 ? network_fail(resp) : 0;
}

int
network_secgroups_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_security_group g;
	struct store_txn *txn;
	json_t *o = NULL;
	int rc;

	memset(&g, 0, sizeof(g));
	if (store_read_begin(network_of(req)->store, &txn) == -1)
		return network_fail(resp);
	rc = load_group(req, txn, http_req_param(req, "security_group_id"),
	    "get_security_group", &g);
	if (rc == 0)
		o = group_json(txn, &g);
	store_txn_abort(&txn);
	codec_clear(&schema_rec_security_group, &g);
	if (rc == -1 || network_show_reply(req, resp, "security_group", o,
	    0) == -1)
		return network_fail(resp);
	return 0;
}

struct create_arg {
	struct http_req			*req;
	struct network			*svc;
	struct rec_security_group	 g;
	json_t				*o;	/* the result */
};

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct create_arg *ca = arg;
	char def[37];

	if (network_secgroup_default(txn, ca->g.project_id, def) == -1 ||
	    network_quota_check(ca->svc, txn, ca->g.project_id,
	    NET_RES_SECGROUP, 1) == -1 ||
	    network_quota_check(ca->svc, txn, ca->g.project_id,
	    NET_RES_SGRULE, 2) == -1 ||
	    group_store(txn, &ca->g, false) == -1)
		return -1;
	json_decref(ca->o);
	ca->o = group_json(txn, &ca->g);
	return 0;
}

int
network_secgroups_create(struct http_req *req, struct http_resp *resp)
{
	static const char *const attrs[] = { "name", "description",
	    "stateful", "tenant_id", "project_id", "tags", NULL };
	struct create_arg ca = { .req = req, .svc = network_of(req) };
	const char *name = "", *desc = "", *t = NULL, *pj = NULL;
	const char *owner = network_project(req);
	bool stateful = true;
	json_t *o = NULL, *a;
	int rc = -1;

	memset(&ca.g, 0, sizeof(ca.g));
	if (jsonreq_body(NET_STYLE, http_req_json(req), "security_group",
	    &o) == -1 ||
	    network_check_attrs(o, attrs) == -1 ||
	    jsonreq_str(NET_STYLE, o, "name", 0, 255, 0, &name, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "description", 0, 255, 0, &desc,
	    NULL) == -1 ||
	    jsonreq_bool(NET_STYLE, o, "stateful", 0, &stateful, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "tenant_id", 1, 64, 0, &t, NULL) == -1 ||
	    jsonreq_str(NET_STYLE, o, "project_id", 1, 64, 0, &pj, NULL) == -1)
		goto out;
	if (pj == NULL)
		pj = t;
	if (pj != NULL && strcmp(pj, owner) != 0) {
		if (!network_is_admin(req)) {
			err_set(TS_EINVALID, "Specifying 'project_id' or "
			    "'tenant_id' other than the authenticated project "
			    "in request requires admin privileges");
			goto out;
		}
		owner = pj;
	}
	if (strcmp(name, DEFAULT_NAME) == 0) {
		err_set(TS_ECONFLICT, "Default security group already exists.");
		goto out;
	}
	db_uuid(ca.g.id);
	ca.g.stateful = stateful;
	ca.g.revision_number = 1;
	ca.g.created_at = ca.g.updated_at = db_now_ms();
	if (network_set_str(&ca.g.project_id, owner) == -1 ||
	    network_set_str(&ca.g.name, name) == -1 ||
	    network_set_str(&ca.g.description, desc) == -1)
		goto out;
	if ((a = json_object_get(o, "tags")) != NULL &&
	    network_set_strs(a, "tags", &ca.g.tags.items, &ca.g.tags.n) == -1)
		goto out;
	if (network_write(ca.svc, create_fn, &ca) == -1)
		goto out;
	rc = network_show_reply(req, resp, "security_group", ca.o, 201);
	ca.o = NULL;
out:
	json_decref(ca.o);
	codec_clear(&schema_rec_security_group, &ca.g);
	return rc == -1 ? network_fail(resp) : 0;
}

struct one_arg {
	struct http_req			*req;
	const char			*id;
	json_t				*body;	/* the update's object */
	json_t				*o;	/* the result */
};

static int
update_fn(struct store_txn *txn, void *arg)
{
	static const char *const attrs[] = { "name", "description",
	    "stateful", "tags", NULL };
	struct one_arg *oa = arg;
	struct rec_security_group old, g;
	const char *s;
	bool present;
	json_t *a;
	int rc = -1;

	memset(&old, 0, sizeof(old));
	memset(&g, 0, sizeof(g));
	if (load_group(oa->req, txn, oa->id, "update_security_group",
	    &old) == -1 || network_db_secgroup_get(txn, oa->id, &g) == -1 ||
	    network_update_body(oa->body, attrs) == -1)
		goto out;
	if (jsonreq_str(NET_STYLE, oa->body, "name", 0, 255, 0, &s,
	    &present) == -1)
		goto out;
	if (present && strcmp(old.name, DEFAULT_NAME) == 0 &&
	    strcmp(s, DEFAULT_NAME) != 0) {
		err_set(TS_ECONFLICT, "Updating default security group not "
		    "allowed.");
		goto out;
	}
	if (present && strcmp(s, DEFAULT_NAME) == 0 &&
	    strcmp(old.name, DEFAULT_NAME) != 0) {
		err_set(TS_ECONFLICT, "Default security group already exists.");
		goto out;
	}
	if ((present && network_set_str(&g.name, s) == -1) ||
	    jsonreq_str(NET_STYLE, oa->body, "description", 0, 255, 0, &s,
	    &present) == -1 || (present && network_set_str(&g.description,
	    s) == -1) ||
	    jsonreq_bool(NET_STYLE, oa->body, "stateful", 0, &g.stateful,
	    NULL) == -1)
		goto out;
	if ((a = json_object_get(oa->body, "tags")) != NULL &&
	    network_set_strs(a, "tags", &g.tags.items, &g.tags.n) == -1)
		goto out;
	g.revision_number = old.revision_number + 1;
	g.updated_at = db_now_ms();
	if (network_db_secgroup_put(txn, &g, &old) == -1)
		goto out;
	json_decref(oa->o);
	oa->o = group_json(txn, &g);
	rc = 0;
out:
	codec_clear(&schema_rec_security_group, &old);
	codec_clear(&schema_rec_security_group, &g);
	return rc;
}

int
network_secgroups_update(struct http_req *req, struct http_resp *resp)
{
	struct one_arg oa = { .req = req };
	json_t *body = http_req_json(req);
	int rc;

	oa.id = http_req_param(req, "security_group_id");
	if (body == NULL || !json_is_object(oa.body = json_object_get(body,
	    "security_group")))
		oa.body = NULL;
	if (network_write(network_of(req), update_fn, &oa) == -1) {
		json_decref(oa.o);
		return network_fail(resp);
	}
	rc = network_show_reply(req, resp, "security_group", oa.o, 0);
	return rc == -1 ? network_fail(resp) : 0;
}

struct use_arg {
	const char	*id;
	bool		 used;
};

static int
port_use_cb(const struct rec_port *p, void *arg)
{
	struct use_arg *ua = arg;
	size_t i;

	for (i = 0; i < p->security_groups.n; i++)
		if (strcmp(p->security_groups.items[i], ua->id) == 0) {
			ua->used = true;
			return 1;
		}
	return 0;
}

/* Rules to delete with a group: its own, and those naming it as their
 * remote group (Neutron's foreign key cascades). */
struct drop_arg {
	struct store_txn	*txn;
	const char		*id;
	char			(*ids)[37];
	size_t			 n, cap;
};

static int
drop_cb(const struct rec_security_group_rule *r, void *arg)
{
	struct drop_arg *da = arg;
	void *p;

	if (strcmp(r->security_group_id, da->id) != 0 &&
	    (r->remote_group_id == NULL ||
	    strcmp(r->remote_group_id, da->id) != 0))
		return 0;
	if (da->n == da->cap) {
		da->cap = da->cap ? da->cap * 2 : 16;
		if ((p = realloc(da->ids, da->cap * sizeof(*da->ids))) ==
		    NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		da->ids = p;
	}
	snprintf(da->ids[da->n++], 37, "%s", r->id);
	return 0;
}

static int
rule_del_id(struct store_txn *txn, const char *id)
{
	struct rec_security_group_rule r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (network_db_sgrule_get(txn, id, &r) == -1)
		return -1;
	rc = network_db_sgrule_del(txn, &r);
	codec_clear(&schema_rec_security_group_rule, &r);
	return rc;
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct one_arg *oa = arg;
	struct rec_security_group g;
	struct use_arg ua = { .id = oa->id };
	struct drop_arg da = { .txn = txn, .id = oa->id };
	size_t i;
	int rc = -1;

	memset(&g, 0, sizeof(g));
	if (load_group(oa->req, txn, oa->id, "delete_security_group",
	    &g) == -1)
		goto out;
	if (strcmp(g.name, DEFAULT_NAME) == 0 && !network_is_admin(oa->req)) {
		err_set(TS_ECONFLICT, "Insufficient rights for removing "
		    "default security group.");
		goto out;
	}
	if (network_db_port_each(txn, port_use_cb, &ua) == -1)
		goto out;
	if (ua.used) {
		err_set(TS_ECONFLICT, "Security Group %s in use.", oa->id);
		goto out;
	}
	if (network_db_sgrule_each(txn, drop_cb, &da) == -1)
		goto out;
	for (i = 0; i < da.n; i++)
		if (rule_del_id(txn, da.ids[i]) == -1)
			goto out;
	rc = network_db_secgroup_del(txn, &g);
out:
	free(da.ids);
	codec_clear(&schema_rec_security_group, &g);
	return rc;
}

int
network_secgroups_delete(struct http_req *req, struct http_resp *resp)
{
	struct one_arg oa = { .req = req };

	oa.id = http_req_param(req, "security_group_id");
	if (network_write(network_of(req), delete_fn, &oa) == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}

/* ---- rules ------------------------------------------------------------------ */

/* The rule's group is what the rule rules read: a rule is the caller's
 * when its group is. */
static int
load_rule(struct http_req *req, struct store_txn *txn, const char *id,
    const char *rule, struct rec_security_group_rule *r)
{
	char nf[128];

	if (network_db_sgrule_get(txn, id, r) == -1)
		return -1;
	snprintf(nf, sizeof(nf), "Security group rule %s does not exist", id);
	return network_enforce(req, rule, r->project_id, NULL, nf);
}

static int
rule_list_cb(const struct rec_security_group_rule *r, void *arg)
{
	struct list_arg *la = arg;

	if (!la->admin && !network_allowed(la->req, "get_security_group_rule",
	    r->project_id, NULL))
		return 0;
	json_array_append_new(la->out, network_sgrule_json(r));
	return 0;
}

int
network_sgrules_list(struct http_req *req, struct http_resp *resp)
{
	struct list_arg la = { .req = req };
	int rc;

	if (ensure_default(req) == -1)
		return network_fail(resp);
	la.admin = network_is_admin(req);
	if ((la.out = json_array()) == NULL ||
	    store_read_begin(network_of(req)->store, &la.txn) == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	rc = network_db_sgrule_each(la.txn, rule_list_cb, &la);
	store_txn_abort(&la.txn);
	if (rc == -1) {
		json_decref(la.out);
		return network_fail(resp);
	}
	return network_list_reply(req, resp, "security_group_rules",
	    la.out) == -1 ? network_fail(resp) : 0;
}

int
network_sgrules_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_security_group_rule r;
	struct store_txn *txn;
	json_t *o = NULL;
	int rc;

	memset(&r, 0, sizeof(r));
	if (store_read_begin(network_of(req)->store, &txn) == -1)
		return network_fail(resp);
	rc = load_rule(req, txn, http_req_param(req, "rule_id"),
	    "get_security_group_rule", &r);
	store_txn_abort(&txn);
	if (rc == 0)
		o = network_sgrule_json(&r);
	codec_clear(&schema_rec_security_group_rule, &r);
	if (rc == -1 || network_show_reply(req, resp, "security_group_rule",
	    o, 0) == -1)
		return network_fail(resp);
	return 0;
}

static bool
same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

struct dup_arg {
	const struct rec_security_group_rule	*r;
	char					 id[37];
};

/* Neutron's duplicate test: every attribute but id and description. */
static int
dup_cb(const struct rec_security_group_rule *o, void *arg)
{
	struct dup_arg *da = arg;
	const struct rec_security_group_rule *r = da->r;

	if (strcmp(o->direction, r->direction) != 0 ||
	    strcmp(o->ethertype, r->ethertype) != 0 ||
	    !same_opt(o->protocol, r->protocol) ||
	    o->has_port_range_min != r->has_port_range_min ||
	    o->port_range_min != r->port_range_min ||
	    o->has_port_range_max != r->has_port_range_max ||
	    o->port_range_max != r->port_range_max ||
	    !same_opt(o->remote_ip_prefix, r->remote_ip_prefix) ||
	    !same_opt(o->remote_group_id, r->remote_group_id))
		return 0;
	snprintf(da->id, sizeof(da->id), "%s", o->id);
	return 1;
}

struct rule_arg {
	struct http_req			*req;
	struct network			*svc;
	struct rec_security_group_rule	 r;
	const char			*owner;	/* body's project, or NULL */
};

static int
rule_create_fn(struct store_txn *txn, void *arg)
{
	struct rule_arg *ra = arg;
	struct rec_security_group g, rg;
	struct dup_arg da = { .r = &ra->r, .id = "" };
	int rc = -1;

	memset(&g, 0, sizeof(g));
	memset(&rg, 0, sizeof(rg));
	if (network_db_secgroup_get(txn, ra->r.security_group_id, &g) == -1)
		goto out;
	if (network_enforce(ra->req, "create_security_group_rule",
	    g.project_id, NULL, "") == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Security group %s does not "
			    "exist", g.id);
		goto out;
	}
	if (ra->r.remote_group_id != NULL) {
		if (network_db_secgroup_get(txn, ra->r.remote_group_id,
		    &rg) == -1)
			goto out;
		if (!network_allowed(ra->req, "get_security_group",
		    rg.project_id, NULL)) {
			err_set(TS_ENOT_FOUND, "Security group %s does not "
			    "exist", ra->r.remote_group_id);
			goto out;
		}
	}
	if (network_db_sgrule_each_group(txn, g.id, dup_cb, &da) == -1)
		goto out;
	if (*da.id != '\0') {
		err_set(TS_ECONFLICT, "Security group rule already exists. "
		    "Rule id is %s.", da.id);
		goto out;
	}
	/* The rule belongs to its group's project (an admin adding a rule
	 * to another project's group adds to that project's rules). */
	if (network_set_str(&ra->r.project_id, g.project_id) == -1 ||
	    network_quota_check(ra->svc, txn, g.project_id, NET_RES_SGRULE,
	    1) == -1)
		goto out;
	rc = network_db_sgrule_put(txn, &ra->r, NULL);
out:
	codec_clear(&schema_rec_security_group, &g);
	codec_clear(&schema_rec_security_group, &rg);
	return rc;
}

int
network_sgrules_create(struct http_req *req, struct http_resp *resp)
{
	struct rule_arg ra = { .req = req, .svc = network_of(req) };
	json_t *o = NULL;
	int rc = -1;

	memset(&ra.r, 0, sizeof(ra.r));
	if (jsonreq_body(NET_STYLE, http_req_json(req), "security_group_rule",
	    &o) == -1 || network_sgrule_parse(o, &ra.r) == -1)
		goto out;
	db_uuid(ra.r.id);
	ra.r.revision_number = 0;
	ra.r.created_at = ra.r.updated_at = db_now_ms();
	if (network_write(ra.svc, rule_create_fn, &ra) == -1)
		goto out;
	rc = network_show_reply(req, resp, "security_group_rule",
	    network_sgrule_json(&ra.r), 201);
out:
	codec_clear(&schema_rec_security_group_rule, &ra.r);
	return rc == -1 ? network_fail(resp) : 0;
}

static int
rule_delete_fn(struct store_txn *txn, void *arg)
{
	struct one_arg *oa = arg;
	struct rec_security_group_rule r;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (load_rule(oa->req, txn, oa->id, "delete_security_group_rule",
	    &r) == 0)
		rc = network_db_sgrule_del(txn, &r);
	codec_clear(&schema_rec_security_group_rule, &r);
	return rc;
}

int
network_sgrules_delete(struct http_req *req, struct http_resp *resp)
{
	struct one_arg oa = { .req = req };

	oa.id = http_req_param(req, "rule_id");
	if (network_write(network_of(req), rule_delete_fn, &oa) == -1)
		return network_fail(resp);
	return http_resp_status(resp, 204);
}

/* ---- a device's groups (Nova's addSecurityGroup / removeSecurityGroup) ---- */

struct dev_ports {
	char	ids[64][37];
	size_t	n;
};

static int
dev_port_cb(const struct rec_port *p, void *arg)
{
	struct dev_ports *dp = arg;

	if (dp->n == sizeof(dp->ids) / sizeof(dp->ids[0]))
		return 1;
	snprintf(dp->ids[dp->n++], 37, "%s", p->id);
	return 0;
}

/* group (a name or an id) among project_id's groups: its id to id. */
static int
device_group_find(struct store_txn *txn, const char *project_id,
    const char *group, char id[37])
{
	struct rec_security_group g;
	struct find_arg fa = { .name = group, .id = "" };

	memset(&g, 0, sizeof(g));
	if (strlen(group) == 36 && network_db_secgroup_get(txn, group,
	    &g) == 0) {
		bool mine = strcmp(g.project_id, project_id) == 0;

		codec_clear(&schema_rec_security_group, &g);
		if (mine) {
			snprintf(id, 37, "%s", group);
			return 0;
		}
	} else if (strlen(group) == 36 && err_code() != TS_ENOT_FOUND)
		return -1;
	err_clear();
	if (network_db_secgroup_each_project(txn, project_id, find_cb,
	    &fa) == -1)
		return -1;
	if (*fa.id == '\0') {
		err_set(TS_ENOT_FOUND, "Security group %s not found for "
		    "project %s.", group, project_id);
		return -1;
	}
	snprintf(id, 37, "%s", fa.id);
	return 0;
}

/* Adds id to p's groups (add) or takes it off; 1 when p changed. */
static int
port_group_edit(struct rec_port *p, const char *id, bool add, bool *had)
{
	size_t k;
	char **v;

	for (k = 0; k < p->security_groups.n; k++)
		if (strcmp(p->security_groups.items[k], id) == 0)
			break;
	*had = k < p->security_groups.n;
	if (add && *had)
		return 0;
	if (!add && !*had)
		return 0;
	if (!add) {
		free(p->security_groups.items[k]);
		memmove(&p->security_groups.items[k],
		    &p->security_groups.items[k + 1],
		    (p->security_groups.n - k - 1) * sizeof(char *));
		p->security_groups.n--;
		return 1;
	}
	if (p->security_groups.n >= 64) {
		err_set(TS_EINVALID, "Port %s has too many security groups.",
		    p->id);
		return -1;
	}
	if ((v = realloc(p->security_groups.items,
	    (p->security_groups.n + 2) * sizeof(*v))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	p->security_groups.items = v;
	if ((v[p->security_groups.n] = strdup(id)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	v[++p->security_groups.n] = NULL;
	return 1;
}

int
network_port_secgroup_set(struct network *svc, struct store_txn *txn,
    const char *project_id, const char *device_id, const char *group,
    bool add)
{
	struct dev_ports dp = { .n = 0 };
	char id[37];
	bool any = false;
	size_t i;

	(void)svc;
	if (device_group_find(txn, project_id, group, id) == -1)
		return -1;
	if (network_db_port_each_device(txn, device_id, dev_port_cb,
	    &dp) == -1)
		return -1;
	for (i = 0; i < dp.n; i++) {
		struct rec_port old = { .id = "" }, p = { .id = "" };
		bool had;
		int rc;

		if (network_db_port_get(txn, dp.ids[i], &old) == -1)
			return -1;
		if (network_db_port_get(txn, dp.ids[i], &p) == -1) {
			codec_clear(&schema_rec_port, &old);
			return -1;
		}
		rc = port_group_edit(&p, id, add, &had);
		any = any || had;
		if (rc == 1) {
			p.revision_number++;
			p.updated_at = db_now_ms();
			rc = network_db_port_put(txn, &p, &old);
		}
		codec_clear(&schema_rec_port, &old);
		codec_clear(&schema_rec_port, &p);
		if (rc == -1)
			return -1;
	}
	if (!add && !any) {
		err_set(TS_EINVALID, "Security group %s not associated with "
		    "the instance", group);
		return -1;
	}
	return 0;
}

/* ---- Nova's proxy view (os-security-groups, below microversion 2.36) ------ */

struct nova_arg {
	struct store_txn	*txn;
	json_t			*rules;
	json_t			*out;
	const char		*project_id;	/* NULL: any */
};

static int
nova_rule_cb(const struct rec_security_group_rule *r, void *arg)
{
	struct nova_arg *na = arg;
	json_t *o, *range, *group, *from, *to;

	/* Nova's neutron driver shows ingress rules only. */
	if (strcmp(r->direction, "ingress") != 0)
		return 0;
	from = r->has_port_range_min ? json_integer(r->port_range_min) :
	    json_null();
	to = r->has_port_range_max ? json_integer(r->port_range_max) :
	    json_null();
	if (r->protocol != NULL && !r->has_port_range_min &&
	    !r->has_port_range_max) {
		if (strcasecmp(r->protocol, "tcp") == 0 ||
		    strcasecmp(r->protocol, "udp") == 0) {
			json_decref(from);
			json_decref(to);
			from = json_integer(1);
			to = json_integer(65535);
		} else if (strcasecmp(r->protocol, "icmp") == 0) {
			json_decref(from);
			json_decref(to);
			from = json_integer(-1);
			to = json_integer(-1);
		}
	}
	range = r->remote_ip_prefix != NULL ? json_pack("{s:s}", "cidr",
	    r->remote_ip_prefix) : json_object();
	group = json_object();
	if (r->remote_group_id != NULL) {
		struct rec_security_group g;

		memset(&g, 0, sizeof(g));
		if (network_db_secgroup_get(na->txn, r->remote_group_id,
		    &g) == 0) {
			json_object_set_new(group, "name", json_string(g.name));
			json_object_set_new(group, "tenant_id",
			    json_string(g.project_id));
			codec_clear(&schema_rec_security_group, &g);
		} else
			err_clear();
	}
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id", r->id,
	    "parent_group_id", r->security_group_id, "ip_protocol",
	    r->protocol ? json_string(r->protocol) : json_null(),
	    "from_port", from, "to_port", to, "ip_range", range, "group",
	    group);
	if (o == NULL || json_array_append_new(na->rules, o) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static json_t *
nova_group_json(struct nova_arg *na, const struct rec_security_group *g)
{
	na->rules = json_array();
	if (na->rules == NULL || network_db_sgrule_each_group(na->txn, g->id,
	    nova_rule_cb, na) == -1) {
		json_decref(na->rules);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", g->id, "name",
	    g->name, "description", g->description, "tenant_id",
	    g->project_id, "rules", na->rules);
}

static int
nova_list_cb(const struct rec_security_group *g, void *arg)
{
	struct nova_arg *na = arg;
	json_t *o;

	if ((o = nova_group_json(na, g)) == NULL ||
	    json_array_append_new(na->out, o) == -1) {
		if (err_code() == TS_EOK)
			err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int
network_secgroups_nova(struct store_txn *txn, const char *project_id,
    const char *id, json_t **out)
{
	struct nova_arg na = { .txn = txn, .project_id = project_id };
	struct rec_security_group g;
	int rc;

	*out = NULL;
	if (id == NULL) {
		if ((na.out = json_array()) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		rc = project_id != NULL ? network_db_secgroup_each_project(txn,
		    project_id, nova_list_cb, &na) :
		    network_db_secgroup_each(txn, nova_list_cb, &na);
		if (rc == -1) {
			json_decref(na.out);
			return -1;
		}
		*out = na.out;
		return 0;
	}
	memset(&g, 0, sizeof(g));
	err_clear();
	if (strlen(id) > 36 || network_db_secgroup_get(txn, id, &g) == -1 ||
	    (project_id != NULL && strcmp(g.project_id, project_id) != 0)) {
		codec_clear(&schema_rec_security_group, &g);
		if (err_code() != TS_EOK && err_code() != TS_ENOT_FOUND)
			return -1;
		err_set(TS_ENOT_FOUND, "Security group %s not found.", id);
		return -1;
	}
	*out = nova_group_json(&na, &g);
	codec_clear(&schema_rec_security_group, &g);
	if (*out == NULL) {
		if (err_code() == TS_EOK)
			err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}
