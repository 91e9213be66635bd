/*
 * network_int: what the network_*.c handler files share (not for other
 * modules). See network.h for the map.
 */
#ifndef TS_CONTROLLER_NETWORK_INT_H
#define TS_CONTROLLER_NETWORK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "http/jsonreq.h"
#include "http/request.h"
#include "ipam.h"
#include "msg_gen.h"
#include "network.h"
#include "network_db.h"
#include "store.h"

#define NET_STYLE	JSONREQ_NEUTRON

struct network {
	const struct config	*cfg;
	struct store		*store;
	struct ipam_conf	*ipam;
	int64_t			 quota_network, quota_subnet, quota_port;
	int64_t			 quota_secgroup, quota_sgrule;
	int64_t			 quota_router, quota_floatingip;
	/* [network] auto_assign_floating_ip and default_floating_pool
	 * (borrowed from cfg, which outlives the service). */
	bool			 auto_fip;
	const char		*fip_pool;
	struct netsync		*netsync;	/* set before listening */
};

struct network	*network_of(struct http_req *);

/* ---- caller ----------------------------------------------------------- */

/* Whether the caller holds "context_is_admin". */
bool	network_is_admin(struct http_req *);
/* The caller's project ("" without one). */
const char *network_project(struct http_req *);
/*
 * Enforce rule on an object of project owner (network_owner: the project
 * of the object's network, for the *_network_owner rules; NULL: owner).
 * Denied and not the caller's project: 404 with nf_msg (Neutron's
 * "<What> <id> could not be found."), else 403.
 */
int	network_enforce(struct http_req *, const char *rule, const char *owner,
	    const char *network_owner, const char *nf_msg);
/* Admin-only attribute rules ("create_network:shared"...): 403 with
 * Neutron's wording naming the rule. */
int	network_enforce_attr(struct http_req *, const char *rule,
	    const char *owner, const char *network_owner);
/* A rule that holds, without the 404 games (visibility in lists). */
bool	network_allowed(struct http_req *, const char *rule, const char *owner,
	    const char *network_owner);

/* store_write() of a change to networks, subnets or ports; once it
 * committed, the dataplane sync hears of it (network_changed()). */
int	network_write(struct network *, int (*fn)(struct store_txn *, void *),
	    void *arg);

/* ---- errors ----------------------------------------------------------- */

/* Set Neutron's error type on resp from the recorded error (its code and
 * message: "Network X could not be found." -> NetworkNotFound...), then
 * return -1: `return network_fail(resp);`. */
int	network_fail(struct http_resp *);

/* ---- JSON ------------------------------------------------------------- */

/* Neutron's "2026-12-05T07:50:35Z". */
json_t	*network_time(int64_t ms);
/* Strings of a list, or []. */
json_t	*network_strs(char **items, size_t n);
/* Replace a record's string field (owned) with a copy of s. */
int	network_set_str(char **field, const char *s);
/* Replace a record's string list with the strings of a JSON array (400 with
 * the attribute name if it is not an array of strings). */
int	network_set_strs(json_t *arr, const char *attr, char ***items,
	    size_t *n);

/* ---- lists ------------------------------------------------------------ */

/*
 * Answer a GET on a collection: objs (an array of every visible object,
 * stolen) is filtered by the query (any attribute; a repeated key is an
 * OR; a list attribute matches when it holds the value), sorted
 * (sort_key/sort_dir, id last), paged (limit/marker, with
 * "<coll>_links" next/previous) and projected (fields=), then sent as
 * {coll: [...]}.
 */
int	network_list_reply(struct http_req *, struct http_resp *,
	    const char *coll, json_t *objs);
/* Show: obj (stolen) projected by fields= and sent as {key: obj}. */
int	network_show_reply(struct http_req *, struct http_resp *,
	    const char *key, json_t *obj, int status);
/*
 * The answer to a create or update (rc its outcome): rec (borrowed, as
 * written) rendered by render in a read transaction of its own, after the
 * commit so that what others wrote alongside shows, and sent as
 * network_show_reply() does; rc == -1 answers the error recorded.
 */
int	network_written_reply(struct http_req *, struct http_resp *,
	    json_t *(*render)(struct store_txn *, const void *rec),
	    const void *rec, const char *key, int rc, int status);
/*
 * The request body's objects for a create: {key: {...}} gives one,
 * {coll: [{...}, ...]} several (*bulk true); objs is borrowed from the
 * body. 400 otherwise.
 */
int	network_create_body(struct http_req *, const char *key,
	    const char *coll, json_t **objs, bool *bulk);
/* An update's object (NULL: the body had none): 400 "Resource body
 * required", or the check below. */
int	network_update_body(json_t *o, const char *const *allowed);
/* Members of o that are not in allowed (NULL-terminated): 400
 * "Unrecognized attribute(s) 'x'". */
int	network_check_attrs(json_t *o, const char *const *allowed);

/* ---- quotas ----------------------------------------------------------- */

enum network_res { NET_RES_NETWORK, NET_RES_SUBNET, NET_RES_PORT,
	NET_RES_SECGROUP, NET_RES_SGRULE, NET_RES_ROUTER, NET_RES_FLOATINGIP };
/* Inside the create's transaction: one more of res for project would
 * exceed its limit: 409 OverQuota "Quota exceeded for resources:
 * ['network']." */
int	network_quota_check(struct network *, struct store_txn *,
	    const char *project_id, enum network_res, int64_t more);

/* ---- objects ---------------------------------------------------------- */

json_t	*network_net_json(struct http_req *, struct store_txn *,
	    const struct rec_network *, bool admin);
json_t	*network_subnet_json(const struct rec_subnet *);
json_t	*network_port_json(const struct rec_port *, bool admin);
/* A network the caller may see (own, shared or external, or admin): else
 * 404 NetworkNotFound. n is filled (codec_clear() it); on failure it is
 * left cleared. */
int	network_net_visible(struct http_req *, struct store_txn *,
	    const char *id, struct rec_network *n);

/* ---- security groups (network_secgroups.c) ----------------------------- */

/*
 * A rule's attributes from a create body o, checked as Neutron does
 * (protocol, ports or ICMP type/code, ethertype, remote prefix or group):
 * fills r's security_group_id, direction, ethertype, protocol, ports,
 * remote_ip_prefix (normalised), remote_group_id and description. 400 with
 * Neutron's message; existence of the groups is the caller's.
 */
int	network_sgrule_parse(json_t *o, struct rec_security_group_rule *r);
json_t	*network_sgrule_json(const struct rec_security_group_rule *);
/* Inside a write: the project's default group, made (with its four rules)
 * if it has none; its id goes to id ("" for an empty project_id). */
int	network_secgroup_default(struct store_txn *, const char *project_id,
	    char id[37]);
/* Each of ids is a group of project_id (any project for an admin
 * caller; req NULL: project_id's only): else 404 "Security group X does
 * not exist". Repeated ids are dropped first (*n shrinks; the dropped
 * strings are freed). */
int	network_secgroups_check(struct http_req *, struct store_txn *,
	    const char *project_id, char **ids, size_t *n);
/* A port's groups as its create or update leaves them: groups need port
 * security (given with port security off: 400; kept from before while it
 * is turned off: 409, as Neutron). */
int	network_port_groups_check(const struct rec_port *, bool groups_given);

/* ---- handlers --------------------------------------------------------- */

int	network_versions(struct http_req *, struct http_resp *);
int	network_version_v20(struct http_req *, struct http_resp *);
int	network_extensions_list(struct http_req *, struct http_resp *);
int	network_extension_show(struct http_req *, struct http_resp *);

int	network_networks_list(struct http_req *, struct http_resp *);
int	network_networks_create(struct http_req *, struct http_resp *);
int	network_networks_show(struct http_req *, struct http_resp *);
int	network_networks_update(struct http_req *, struct http_resp *);
int	network_networks_delete(struct http_req *, struct http_resp *);

int	network_subnets_list(struct http_req *, struct http_resp *);
int	network_subnets_create(struct http_req *, struct http_resp *);
int	network_subnets_show(struct http_req *, struct http_resp *);
int	network_subnets_update(struct http_req *, struct http_resp *);
int	network_subnets_delete(struct http_req *, struct http_resp *);

int	network_ports_list(struct http_req *, struct http_resp *);
int	network_ports_create(struct http_req *, struct http_resp *);
int	network_ports_show(struct http_req *, struct http_resp *);
int	network_ports_update(struct http_req *, struct http_resp *);
int	network_ports_delete(struct http_req *, struct http_resp *);

int	network_agents_list(struct http_req *, struct http_resp *);
int	network_agents_show(struct http_req *, struct http_resp *);

int	network_secgroups_list(struct http_req *, struct http_resp *);
int	network_secgroups_create(struct http_req *, struct http_resp *);
int	network_secgroups_show(struct http_req *, struct http_resp *);
int	network_secgroups_update(struct http_req *, struct http_resp *);
int	network_secgroups_delete(struct http_req *, struct http_resp *);
int	network_sgrules_list(struct http_req *, struct http_resp *);
int	network_sgrules_create(struct http_req *, struct http_resp *);
int	network_sgrules_show(struct http_req *, struct http_resp *);
int	network_sgrules_delete(struct http_req *, struct http_resp *);

int	network_quotas_list(struct http_req *, struct http_resp *);
int	network_quotas_show(struct http_req *, struct http_resp *);
int	network_quotas_default(struct http_req *, struct http_resp *);
int	network_quotas_details(struct http_req *, struct http_resp *);
int	network_quotas_update(struct http_req *, struct http_resp *);
int	network_quotas_delete(struct http_req *, struct http_resp *);

/* ---- routers and floating IPs (network_routers.c, network_floatingips.c) */

/* The interface addresses of a router (a port per subnet attached): owned,
 * free() it. */
struct rtr_ifs;
int	network_router_ifs(struct store_txn *, const char *router_id,
	    struct rtr_ifs **);
size_t	network_router_ifs_n(const struct rtr_ifs *);
const char *network_router_ifs_subnet(const struct rtr_ifs *, size_t i);
/* A port is deleted: its floating IPs lose their association (Neutron's
 * disassociate_floatingips), inside the delete's transaction. */
int	network_floatingip_port_gone(struct store_txn *, const char *port_id);
/* A port leaves its server (network_port_release*()): the floating IPs
 * auto-assigned to it are deleted with their addresses, as nova-network
 * released them with the instance; the others stay for port_gone. */
int	network_floatingip_release_auto(struct store_txn *,
	    const char *port_id);

int	network_routers_list(struct http_req *, struct http_resp *);
int	network_routers_create(struct http_req *, struct http_resp *);
int	network_routers_show(struct http_req *, struct http_resp *);
int	network_routers_update(struct http_req *, struct http_resp *);
int	network_routers_delete(struct http_req *, struct http_resp *);
int	network_routers_add_interface(struct http_req *, struct http_resp *);
int	network_routers_remove_interface(struct http_req *,
	    struct http_resp *);

int	network_floatingips_list(struct http_req *, struct http_resp *);
int	network_floatingips_create(struct http_req *, struct http_resp *);
int	network_floatingips_show(struct http_req *, struct http_resp *);
int	network_floatingips_update(struct http_req *, struct http_resp *);
int	network_floatingips_delete(struct http_req *, struct http_resp *);

#endif
