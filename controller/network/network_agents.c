/*
 * network_agents: GET /v2.0/agents and /v2.0/agents/{id} (Neutron's
 * "agent" extension), read from the fleet's services table. Rule
 * get_agent (admin only by default), enforced here as Neutron does: a
 * caller it refuses gets an empty list, and 404 on show.
 *
 * A tinystack agent plays three Neutron roles on its hypervisor: the L2
 * agent (bridges, VXLAN; shown as a "Linux bridge agent"), the DHCP agent
 * (dnsmasq) and the metadata agent. Each role is one agent object with a
 * stable id: a name-based (SHA-1) UUID of the service's id and the role,
 * so the ids survive restarts and need no table of their own. Liveness is
 * the fleet's: alive while the last heartbeat (stored by fleet_tick) is at
 * most [DEFAULT] service_down_time old and the service is not forced down;
 * admin_state_up is the service's enabled switch (os-services).
 *
 * The services table is read in the request's own read transaction: the
 * in-memory fleet belongs to the bus thread and is never touched here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uuid/uuid.h>

#include "config.h"
#include "core/db.h"
#include "err.h"
#include "network_int.h"

#define AGENT_SERVICE_BINARY	"tinystack-agent"

static const struct {
	const char	*type, *binary, *topic, *role;
	bool		 has_az;		/* Neutron: DHCP and L3 only */
} agent_roles[] = {
	{ "Linux bridge agent", "neutron-linuxbridge-agent", "N/A", "l2",
	    false },
	{ "DHCP agent", "neutron-dhcp-agent", "dhcp_agent", "dhcp", true },
	{ "Metadata agent", "neutron-metadata-agent", "N/A", "metadata",
	    false },
};
#define NROLES	(sizeof(agent_roles) / sizeof(agent_roles[0]))

/* Neutron's agent timestamps: "2026-12-05 10:31:57" (no T, no zone). */
static json_t *
agent_time(int64_t ms)
{
	char buf[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	return json_string(buf);
}

/* The id of role r of the service whose id is svc_id (out: 37 bytes). */
static void
agent_id(const char *svc_id, size_t r, char out[37])
{
	uuid_t ns, id;

	if (uuid_parse(svc_id, ns) == -1)
		memset(ns, 0, sizeof(ns));
	uuid_generate_sha1(id, ns, agent_roles[r].role,
	    strlen(agent_roles[r].role));
	uuid_unparse_lower(id, out);
}

struct agents_ctx {
	struct network	*net;
	struct store_txn *txn;
	int64_t		 now, down_ms;
	json_t		*arr;
};

static json_t *
agent_config(struct agents_ctx *c, const struct rec_service *s, size_t r)
{
	struct rec_hypervisor hv;
	const char *types;
	json_t *o;

	if (strcmp(agent_roles[r].role, "dhcp") == 0)
		return json_pack("{s:s, s:b}", "dhcp_driver", "dnsmasq",
		    "log_agent_heartbeats", 0);
	if (strcmp(agent_roles[r].role, "metadata") == 0)
		return json_pack("{s:s, s:s}", "metadata_proxy_socket", "",
		    "nova_metadata_host", "169.254.169.254");
	types = config_get_str(c->net->cfg, "network", "tenant_network_types");
	o = json_pack("{s:[], s:b, s:s}", "tunnel_types", "l2_population", 1,
	    "tunneling_ip", "");
	if (o == NULL)
		return NULL;
	if (types != NULL && strstr(types, "vxlan") != NULL)
		json_array_append_new(json_object_get(o, "tunnel_types"),
		    json_string("vxlan"));
	if (db_hypervisor_by_host(c->txn, s->host, &hv) == 0) {
		if (hv.tunnel_ip != NULL)
			json_object_set_new(o, "tunneling_ip",
			    json_string(hv.tunnel_ip));
		codec_clear(&schema_rec_hypervisor, &hv);
	} else
		err_clear();
	return o;
}

static json_t *
agent_json(struct agents_ctx *c, const struct rec_service *s, size_t r)
{
	char id[37];
	bool alive;

	agent_id(s->id, r, id);
	alive = !s->forced_down && c->now - s->last_seen_at <= c->down_ms;
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:s, "
	    "s:o, s:o, s:o, s:o*, s:n}",
	    "id", id, "agent_type", agent_roles[r].type,
	    "binary", agent_roles[r].binary, "host", s->host,
	    "topic", agent_roles[r].topic,
	    "alive", alive, "admin_state_up", !s->disabled,
	    "availability_zone", agent_roles[r].has_az ?
	    json_string(config_get_str(c->net->cfg, "compute",
	    "default_availability_zone")) : json_null(),
	    "description", "",
	    "created_at", agent_time(s->created_at),
	    "started_at", agent_time(s->created_at),
	    "heartbeat_timestamp", agent_time(s->last_seen_at),
	    "configurations", agent_config(c, s, r),
	    "resources_synced");
}

static int
agents_cb(const struct rec_service *s, void *arg)
{
	struct agents_ctx *c = arg;
	size_t r;

	if (s->binary == NULL || strcmp(s->binary, AGENT_SERVICE_BINARY) != 0)
		return 0;
	for (r = 0; r < NROLES; r++)
		if (json_array_append_new(c->arr, agent_json(c, s, r)) == -1) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
	return 0;
}

/* Every agent of every hypervisor (stolen by the caller). */
static json_t *
agents_all(struct http_req *req)
{
	struct agents_ctx c = { .net = network_of(req) };
	int rc;

	c.now = db_now_ms();
	c.down_ms = config_get_int(c.net->cfg, "DEFAULT",
	    "service_down_time") * 1000;
	if ((c.arr = json_array()) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	if (store_read_begin(c.net->store, &c.txn) == -1) {
		json_decref(c.arr);
		return NULL;
	}
	rc = db_service_each(c.txn, agents_cb, &c);
	store_txn_abort(&c.txn);
	if (rc == -1) {
		json_decref(c.arr);
		return NULL;
	}
	return c.arr;
}

int
network_agents_list(struct http_req *req, struct http_resp *resp)
{
	json_t *a;

	if (!network_allowed(req, "get_agent", network_project(req), NULL))
		a = json_array();
	else
		a = agents_all(req);
	if (a == NULL ||
	    network_list_reply(req, resp, "agents", a) == -1)
		return network_fail(resp);
	return 0;
}

int
network_agents_show(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_req_param(req, "agent_id");
	json_t *a, *o;
	size_t i;

	if (!network_allowed(req, "get_agent", network_project(req), NULL))
		a = json_array();
	else if ((a = agents_all(req)) == NULL)
		return network_fail(resp);
	for (i = 0; i < json_array_size(a); i++) {
		o = json_array_get(a, i);
		if (strcmp(json_string_value(json_object_get(o, "id")),
		    id) == 0) {
			json_incref(o);
			json_decref(a);
			if (network_show_reply(req, resp, "agent", o, 0) == -1)
				return network_fail(resp);
			return 0;
		}
	}
	json_decref(a);
	err_set(TS_ENOT_FOUND, "Agent %s could not be found.", id);
	return network_fail(resp);
}
