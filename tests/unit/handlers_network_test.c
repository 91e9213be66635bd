/*
 * handlers_network_test: the Networking API's handlers
 * (controller/network/) over HTTP against the in-process controller of
 * ctltest.h: discovery and extensions, networks, subnets and ports
 * (create, validation, visibility, update, delete), quotas, agents, and
 * that every write tells the dataplane sync at once.
 *
 * One controller serves every test of the binary; each test names its own
 * objects. Every refused change is followed by a read showing that nothing
 * was created.
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
#include "network/netsync.h"
#include "store.h"

#define N	CT_NETWORK

static struct ctltest	*T;
static char		 path[512], body[4096];

/* ---- helpers ---------------------------------------------------------------- */

static void
net_new(enum ctltest_who who, const char *fields, char id[64])
{
	snprintf(body, sizeof(body), "{\"network\": {%s}}", fields);
	CT_CALL(T, N, who, "POST", "/v2.0/networks", body, 201, NULL);
	snprintf(id, 64, "%s", ctltest_str(T, "network.id"));
}

static void
subnet_new(enum ctltest_who who, const char *net, const char *cidr,
    const char *extra, char id[64])
{
	snprintf(body, sizeof(body), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"%s\"%s}}", net, cidr, extra);
	CT_CALL(T, N, who, "POST", "/v2.0/subnets", body, 201, NULL);
	snprintf(id, 64, "%s", ctltest_str(T, "subnet.id"));
}

static size_t
count(enum ctltest_who who, const char *p, const char *coll)
{
	CT_CALL(T, N, who, "GET", p, NULL, 200, NULL);
	return json_array_size(ctltest_get(T, coll));
}

static const char *
neutron_type(void)
{
	return ctltest_str(T, "NeutronError.type");
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_discovery(void **state)
{
	(void)state;
	CT_CALL(T, N, CT_ANON, "GET", "/", NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "versions.0.id"), "v2.0");
	CT_CALL(T, N, CT_ANON, "GET", "/v2.0/", NULL, 200, NULL);
	CT_CALL(T, N, CT_ANON, "GET", "/v2.0/networks", NULL, 401, NULL);
	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/extensions", NULL, 200, NULL);
	assert_true(json_array_size(ctltest_get(T, "extensions")) > 5);
	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/extensions/provider", NULL,
	    200, NULL);
	assert_string_equal(ctltest_str(T, "extension.alias"), "provider");
	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/extensions/nope", NULL, 404,
	    "Extension with alias nope does not exist");
}

static void
test_networks(void **state)
{
	char id[64], other[64];

	(void)state;
	net_new(CT_MEMBER, "\"name\": \"n1\"", id);
	assert_string_equal(ctltest_str(T, "network.name"), "n1");
	assert_string_equal(ctltest_str(T, "network.tenant_id"),
	    T->project_id[CT_MEMBER]);
	assert_string_equal(ctltest_str(T, "network.project_id"),
	    T->project_id[CT_MEMBER]);
	assert_null(ctltest_get(T, "network.provider:network_type"));
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "network.revision_number")), 1);

	/* Admin sees the provider attributes. */
	snprintf(path, sizeof(path), "/v2.0/networks/%s", id);
	CT_CALL(T, N, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "network.provider:network_type"),
	    "vxlan");
	/* Another project: 404 on show, update and delete. */
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 404, NULL);
	assert_string_equal(neutron_type(), "NetworkNotFound");
	CT_CALL(T, N, CT_OTHER, "PUT", path, "{\"network\": {\"name\": \"x\"}}",
	    404, NULL);
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 404, NULL);
	/* Update bumps the revision. */
	CT_CALL(T, N, CT_MEMBER, "PUT", path, "{\"network\": {\"name\": "
	    "\"n1b\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "network.name"), "n1b");
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "network.revision_number")), 2);
	/* fields= projection. */
	snprintf(path, sizeof(path), "/v2.0/networks/%s?fields=id&fields=name",
	    id);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_object_size(ctltest_get(T, "network")), 2);

	/* Admin-only attributes. */
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"p\", \"provider:network_type\": \"vlan\"}}", 403,
	    NULL);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"p\", \"shared\": true}}", 403, NULL);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"bogus\": 1}}", 400, "Unrecognized attribute(s) 'bogus'");
	/* Segments out of range. */
	CT_CALL(T, N, CT_ADMIN, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"v\", \"provider:network_type\": \"vxlan\", "
	    "\"provider:segmentation_id\": 16777216}}", 400, NULL);
	assert_int_equal(count(CT_ADMIN, "/v2.0/networks?name=v",
	    "networks"), 0);

	/* Shared networks are readable by every project. */
	net_new(CT_ADMIN, "\"name\": \"pub\", \"shared\": true", other);
	snprintf(path, sizeof(path), "/v2.0/networks/%s", other);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 403, NULL);
	assert_int_equal(count(CT_OTHER, "/v2.0/networks?name=pub",
	    "networks"), 1);
	assert_int_equal(count(CT_OTHER, "/v2.0/networks?name=n1b",
	    "networks"), 0);

	/* Bulk create and pagination. */
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/networks", "{\"networks\": "
	    "[{\"name\": \"b1\"}, {\"name\": \"b2\"}, {\"name\": \"b3\"}]}",
	    201, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "networks")), 3);
	assert_int_equal(count(CT_OTHER, "/v2.0/networks?name=b1&name=b2",
	    "networks"), 2);
	CT_CALL(T, N, CT_OTHER, "GET", "/v2.0/networks?limit=2&sort_key=name"
	    "&name=b1&name=b2&name=b3", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "networks")), 2);
	assert_string_equal(ctltest_str(T, "networks.0.name"), "b1");
	assert_non_null(ctltest_get(T, "networks_links"));

	snprintf(path, sizeof(path), "/v2.0/networks/%s", id);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 404, NULL);
}

static void
test_subnets(void **state)
{
	char net[64], sub[64];

	(void)state;
	net_new(CT_MEMBER, "\"name\": \"sn\"", net);
	subnet_new(CT_MEMBER, net, "10.10.0.0/24", ", \"name\": \"s1\"", sub);
	assert_string_equal(ctltest_str(T, "subnet.gateway_ip"), "10.10.0.1");
	assert_string_equal(ctltest_str(T, "subnet.allocation_pools.0.start"),
	    "10.10.0.2");
	assert_true(json_is_true(ctltest_get(T, "subnet.enable_dhcp")));

	/* Overlapping CIDR in the same network. */
	snprintf(body, sizeof(body), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"10.10.0.128/25\"}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/subnets", body, 400, NULL);
	/* Pool outside the subnet. */
	snprintf(body, sizeof(body), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"10.11.0.0/24\", "
	    "\"allocation_pools\": [{\"start\": \"10.12.0.2\", \"end\": "
	    "\"10.12.0.9\"}]}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/subnets", body, 400, NULL);
	/* Another project's network. */
	snprintf(body, sizeof(body), "{\"subnet\": {\"network_id\": \"%s\", "
	    "\"ip_version\": 4, \"cidr\": \"10.13.0.0/24\"}}", net);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/subnets", body, 404, NULL);
	assert_string_equal(neutron_type(), "NetworkNotFound");
	snprintf(path, sizeof(path), "/v2.0/subnets?network_id=%s", net);
	assert_int_equal(count(CT_MEMBER, path, "subnets"), 1);

	/* The network lists its subnet. */
	snprintf(path, sizeof(path), "/v2.0/networks/%s", net);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "network.subnets.0"), sub);

	snprintf(path, sizeof(path), "/v2.0/subnets/%s", sub);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, "{\"subnet\": {\"name\": "
	    "\"s1b\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "subnet.name"), "s1b");
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 404, NULL);
	assert_string_equal(neutron_type(), "SubnetNotFound");

	/* Deleting the network deletes its subnets. */
	snprintf(path, sizeof(path), "/v2.0/networks/%s", net);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.0/subnets/%s", sub);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 404, NULL);
}

static void
test_ports(void **state)
{
	char net[64], sub[64], port[64];

	(void)state;
	net_new(CT_MEMBER, "\"name\": \"pn\"", net);
	subnet_new(CT_MEMBER, net, "10.20.0.0/29", "", sub);
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\", "
	    "\"fixed_ips\": [{\"subnet_id\": \"%s\", \"ip_address\": "
	    "\"10.20.0.5\"}], \"mac_address\": \"fa:16:3e:11:22:33\", "
	    "\"device_id\": \"dev1\"}}", net, sub);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 201, NULL);
	snprintf(port, sizeof(port), "%s", ctltest_str(T, "port.id"));
	assert_string_equal(ctltest_str(T, "port.fixed_ips.0.ip_address"),
	    "10.20.0.5");
	assert_string_equal(ctltest_str(T, "port.mac_address"),
	    "fa:16:3e:11:22:33");

	/* Address used, address outside, MAC in use: nothing created. */
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 409, NULL);
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\", "
	    "\"fixed_ips\": [{\"subnet_id\": \"%s\", \"ip_address\": "
	    "\"10.20.0.6\"}], \"mac_address\": \"fa:16:3e:11:22:33\"}}",
	    net, sub);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 409, NULL);
	assert_string_equal(neutron_type(), "MacAddressInUse");
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\", "
	    "\"fixed_ips\": [{\"subnet_id\": \"%s\", \"ip_address\": "
	    "\"10.99.0.6\"}]}}", net, sub);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 400, NULL);
	snprintf(path, sizeof(path), "/v2.0/ports?network_id=%s", net);
	assert_int_equal(count(CT_MEMBER, path, "ports"), 1);
	assert_int_equal(count(CT_MEMBER, "/v2.0/ports?device_id=dev1",
	    "ports"), 1);

	/* Fill the /29 (6 addresses, 1 gateway, 1 taken): 4 more, then 409. */
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\"}}",
	    net);
	for (int i = 0; i < 4; i++)
		CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 201, NULL);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 409, NULL);
	assert_string_equal(neutron_type(), "IpAddressGenerationFailure");

	/* Other project: 404; binding only for admins. */
	snprintf(path, sizeof(path), "/v2.0/ports/%s", port);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 404, NULL);
	assert_string_equal(neutron_type(), "PortNotFound");
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_null(ctltest_get(T, "port.binding:host_id"));
	CT_CALL(T, N, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_non_null(ctltest_get(T, "port.binding:host_id"));
	CT_CALL(T, N, CT_MEMBER, "PUT", path, "{\"port\": {\"name\": \"pp\"}}",
	    200, NULL);
	assert_string_equal(ctltest_str(T, "port.name"), "pp");

	/* A network with ports is in use. */
	snprintf(path, sizeof(path), "/v2.0/networks/%s", net);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 409, NULL);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", port);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 404, NULL);
}

static void
test_quotas(void **state)
{
	char path2[600];

	(void)state;
	snprintf(path, sizeof(path), "/v2.0/quotas/%s",
	    T->project_id[CT_OTHER]);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T, "quota.network")),
	    100);
	CT_CALL(T, N, CT_OTHER, "PUT", path, "{\"quota\": {\"network\": 1}}",
	    403, NULL);
	/* b1..b3 exist: a limit of 3 leaves no room. */
	CT_CALL(T, N, CT_ADMIN, "PUT", path, "{\"quota\": {\"network\": 3}}",
	    200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T, "quota.network")),
	    3);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"q\"}}", 409, NULL);
	assert_string_equal(neutron_type(), "OverQuota");
	snprintf(path2, sizeof(path2), "%s/details.json", path);
	CT_CALL(T, N, CT_OTHER, "GET", path2, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota.network.used")), 3);
	CT_CALL(T, N, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T, "quota.network")),
	    100);
}

/* Bad input, each answered with Neutron's status and message and nothing
 * created. */
static void
test_validation(void **state)
{
	static const struct {
		const char	*body;		/* "%s": the network id */
		int		 status;
		const char	*msg;
	} subnet_cases[] = {
		{ "{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": 4, "
		  "\"cidr\": \"10.30.0.0/24\", \"allocation_pools\": "
		  "[{\"start\": \"10.31.0.2\", \"end\": \"10.31.0.9\"}]}}", 400,
		  "The allocation pool 10.31.0.2-10.31.0.9 spans beyond the "
		  "subnet cidr 10.30.0.0/24." },
		{ "{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": 4, "
		  "\"cidr\": \"10.30.0.0\"}}", 400,
		  "Invalid input for cidr. Reason: '10.30.0.0' isn't a "
		  "recognized IP subnet cidr, '10.30.0.0/32' is recommended." },
		{ "{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": 4}}",
		  400, "Invalid input for cidr. Reason: 'cidr' is a required "
		  "property." },
		{ "{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": 4, "
		  "\"cidr\": \"10.30.0.0/24\", \"gateway_ip\": \"10.30.0.0\"}}",
		  400, NULL },
		{ "{\"subnet\": {\"network_id\": \"%s\", \"ip_version\": 7, "
		  "\"cidr\": \"10.30.0.0/24\"}}", 400, NULL },
	};
	char net[64], sub[64], b[1024];
	size_t i;

	(void)state;
	net_new(CT_MEMBER, "\"name\": \"val\"", net);
	for (i = 0; i < sizeof(subnet_cases) / sizeof(subnet_cases[0]); i++) {
		ctltest_subst(b, sizeof(b), subnet_cases[i].body, net);
		CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/subnets", b,
		    subnet_cases[i].status, subnet_cases[i].msg);
	}
	snprintf(path, sizeof(path), "/v2.0/subnets?network_id=%s", net);
	assert_int_equal(count(CT_MEMBER, path, "subnets"), 0);

	/* Segments: VLAN 4095, a VNI out of range, an unknown type. */
	CT_CALL(T, N, CT_ADMIN, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"v4095\", \"provider:network_type\": \"vlan\", "
	    "\"provider:physical_network\": \"physnet1\", "
	    "\"provider:segmentation_id\": 4095}}", 400, NULL);
	CT_CALL(T, N, CT_ADMIN, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"v4095\", \"provider:network_type\": \"vxlan\", "
	    "\"provider:segmentation_id\": 16777216}}", 400,
	    "Invalid input for operation: segmentation_id out of range "
	    "(1 through 16777215).");
	CT_CALL(T, N, CT_ADMIN, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": \"v4095\", \"provider:network_type\": \"gre\"}}",
	    400, NULL);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/networks", "{\"network\": "
	    "{\"name\": 5}}", 400,
	    "Invalid input for name. Reason: Value must be a string.");
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/networks", "{\"net\": {}}",
	    400, "Resource body required");
	assert_int_equal(count(CT_ADMIN, "/v2.0/networks?name=v4095",
	    "networks"), 0);

	/* Ports: a fixed IP outside the subnet, on another project's
	 * network, a bad MAC. */
	subnet_new(CT_MEMBER, net, "10.30.0.0/24", "", sub);
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\", "
	    "\"fixed_ips\": [{\"subnet_id\": \"%s\", \"ip_address\": "
	    "\"10.30.1.5\"}]}}", net, sub);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", b, 400,
	    "IP address 10.30.1.5 is not a valid IP for the specified "
	    "subnet.");
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\"}}", net);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/ports", b, 404, NULL);
	assert_string_equal(neutron_type(), "NetworkNotFound");
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\", "
	    "\"mac_address\": \"ff:ff:ff:ff:ff:ff\"}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", b, 400,
	    "Invalid input for mac_address. Reason: 'ff:ff:ff:ff:ff:ff' is "
	    "not a valid MAC address.");
	snprintf(path, sizeof(path), "/v2.0/ports?network_id=%s", net);
	assert_int_equal(count(CT_MEMBER, path, "ports"), 0);
	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/networks?sort_key=bogus", NULL,
	    400, NULL);
	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/networks?limit=1&marker="
	    "00000000-0000-0000-0000-000000000000", NULL, 404, NULL);
}

/* ---- agents ------------------------------------------------------------------- */

/* A hypervisor as its agent's hello leaves it: alive (seen now) or down
 * (an hour ago). */
struct host_fixture {
	const char	*host;
	int64_t		 seen;
};

static int
put_host(struct store_txn *txn, void *arg)
{
	const struct host_fixture *f = arg;
	struct rec_service s = { 0 };

	db_uuid(s.id);
	s.host = (char *)f->host;
	s.binary = "tinystack-agent";
	s.topic = "compute";
	s.last_seen_at = f->seen;
	s.created_at = s.updated_at = f->seen;
	return db_service_put(txn, &s);
}

static void
test_agents(void **state)
{
	struct host_fixture up = { "ag-up", 0 }, down = { "ag-down", 0 };
	char id[64];
	json_t *a;
	size_t i, nalive = 0, ndhcp = 0;

	(void)state;
	up.seen = db_now_ms();
	down.seen = up.seen - 3600 * 1000;
	assert_int_equal(store_write(ctltest_store(T), put_host, &up), 0);
	assert_int_equal(store_write(ctltest_store(T), put_host, &down), 0);

	CT_CALL(T, N, CT_ADMIN, "GET", "/v2.0/agents", NULL, 200, NULL);
	a = ctltest_get(T, "agents");
	assert_int_equal(json_array_size(a), 6);	/* 3 roles x 2 hosts */
	for (i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		const char *host = json_string_value(json_object_get(o,
		    "host"));

		assert_true(json_is_true(json_object_get(o, "alive")) ==
		    (strcmp(host, "ag-up") == 0));
		nalive += json_is_true(json_object_get(o, "alive"));
		assert_true(json_is_true(json_object_get(o,
		    "admin_state_up")));
		assert_non_null(json_object_get(o, "heartbeat_timestamp"));
		assert_true(json_is_object(json_object_get(o,
		    "configurations")));
		if (strcmp(json_string_value(json_object_get(o,
		    "agent_type")), "DHCP agent") == 0) {
			ndhcp++;
			assert_string_equal(json_string_value(json_object_get(o,
			    "binary")), "neutron-dhcp-agent");
		}
	}
	assert_int_equal(nalive, 3);
	assert_int_equal(ndhcp, 2);

	/* Filters as the client sends them; show by id, stable. */
	CT_CALL(T, N, CT_ADMIN, "GET", "/v2.0/agents?host=ag-up&agent_type="
	    "Linux%20bridge%20agent", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "agents")), 1);
	assert_string_equal(ctltest_str(T, "agents.0.binary"),
	    "neutron-linuxbridge-agent");
	snprintf(id, sizeof(id), "%s", ctltest_str(T, "agents.0.id"));
	snprintf(path, sizeof(path), "/v2.0/agents/%s", id);
	CT_CALL(T, N, CT_ADMIN, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "agent.id"), id);
	assert_string_equal(ctltest_str(T, "agent.host"), "ag-up");
	CT_CALL(T, N, CT_ADMIN, "GET", "/v2.0/agents/"
	    "00000000-0000-0000-0000-000000000000", NULL, 404, NULL);
	assert_string_equal(neutron_type(), "AgentNotFound");

	/* Admin only, as Neutron: a member lists none and finds none. */
	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/agents", NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "agents")), 0);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 404, NULL);
	CT_CALL(T, N, CT_ANON, "GET", "/v2.0/agents", NULL, 401, NULL);

	CT_CALL(T, N, CT_MEMBER, "GET", "/v2.0/extensions/agent", NULL, 200,
	    NULL);
}


/* ---- security groups ---------------------------------------------------------- */

static void
sg_new(enum ctltest_who who, const char *name, char id[64])
{
	snprintf(body, sizeof(body), "{\"security_group\": {\"name\": \"%s\"}}",
	    name);
	CT_CALL(T, N, who, "POST", "/v2.0/security-groups", body, 201, NULL);
	snprintf(id, 64, "%s", ctltest_str(T, "security_group.id"));
}

/* Rules of group sg the caller sees. */
static size_t
rule_count(enum ctltest_who who, const char *sg)
{
	char p[160];

	snprintf(p, sizeof(p), "/v2.0/security-group-rules?"
	    "security_group_id=%s", sg);
	return count(who, p, "security_group_rules");
}

/* Neutron's validation of a rule, each refusal with its status, type and
 * message, and the group's rules unchanged. */
static void
test_sgrule_validation(void **state)
{
	static const struct {
		const char	*fields;
		int		 status;
		const char	*type, *msg;
	} cases[] = {
		{ "\"direction\": \"sideways\"", 400, NULL,
		    "is not in ['ingress', 'egress']" },
		{ "\"direction\": \"ingress\", \"protocol\": \"xyz\"", 400,
		    "SecurityGroupRuleInvalidProtocol", "protocol xyz not" },
		{ "\"direction\": \"ingress\", \"protocol\": 256", 400,
		    "SecurityGroupRuleInvalidProtocol", NULL },
		{ "\"direction\": \"ingress\", \"ethertype\": \"IPv5\"", 400,
		    "SecurityGroupRuleInvalidEtherType", NULL },
		{ "\"direction\": \"ingress\", \"protocol\": \"tcp\", "
		    "\"port_range_min\": -16, \"port_range_max\": 80", 400,
		    "SecurityGroupInvalidPortValue",
		    "Invalid value for port -16" },
		{ "\"direction\": \"ingress\", \"protocol\": \"tcp\", "
		    "\"port_range_min\": 80, \"port_range_max\": 79", 400,
		    "SecurityGroupInvalidPortRange",
		    "port_range_min must be <= port_range_max" },
		{ "\"direction\": \"ingress\", \"protocol\": \"tcp\", "
		    "\"port_range_min\": 80, \"port_range_max\": 65536", 400,
		    NULL, "Invalid value for port 65536" },
		{ "\"direction\": \"ingress\", \"protocol\": \"tcp\", "
		    "\"port_range_min\": null, \"port_range_max\": 6", 400,
		    NULL, "port_range_min must be <= port_range_max" },
		{ "\"direction\": \"ingress\", \"protocol\": \"tcp\", "
		    "\"port_range_min\": 0, \"port_range_max\": 22", 400,
		    NULL, "Invalid value for port 0" },
		{ "\"direction\": \"ingress\", \"protocol\": \"icmp\", "
		    "\"port_range_min\": 1, \"port_range_max\": 256", 400,
		    "SecurityGroupInvalidIcmpValue",
		    "Invalid value for ICMP code" },
		{ "\"direction\": \"ingress\", \"protocol\": \"icmp\", "
		    "\"port_range_min\": 300, \"port_range_max\": 1", 400,
		    NULL, "Invalid value for ICMP type" },
		{ "\"direction\": \"ingress\", \"protocol\": \"icmp\", "
		    "\"port_range_min\": -1, \"port_range_max\": 25", 400,
		    NULL, "Invalid value" },
		{ "\"direction\": \"ingress\", \"protocol\": \"icmp\", "
		    "\"port_range_max\": 6", 400,
		    "SecurityGroupMissingIcmpType",
		    "ICMP type (port-range-min) is missing" },
		{ "\"direction\": \"ingress\", \"protocol\": \"vrrp\", "
		    "\"port_range_min\": 1, \"port_range_max\": 2", 400,
		    "SecurityGroupInvalidProtocolForPort", NULL },
		{ "\"direction\": \"ingress\", \"port_range_min\": 1, "
		    "\"port_range_max\": 2", 400,
		    "SecurityGroupProtocolRequiredWithPorts", NULL },
		{ "\"direction\": \"ingress\", \"remote_ip_prefix\": "
		    "\"192.168.1./24\"", 400, NULL, "not a valid IP subnet" },
		{ "\"direction\": \"ingress\", \"remote_ip_prefix\": "
		    "\"192.168.1.1/33\"", 400, NULL, NULL },
		{ "\"direction\": \"ingress\", \"remote_ip_prefix\": "
		    "\"bad_prefix\"", 400, NULL, NULL },
		{ "\"direction\": \"ingress\", \"remote_ip_prefix\": \"256\"",
		    400, NULL, NULL },
		{ "\"direction\": \"ingress\", \"ethertype\": \"IPv6\", "
		    "\"remote_ip_prefix\": \"10.0.0.0/8\"", 400,
		    "SecurityGroupRuleParameterConflict",
		    "Conflicting value ethertype" },
		{ "\"direction\": \"ingress\", \"ethertype\": \"IPv4\", "
		    "\"remote_ip_prefix\": \"2001:db8::/64\"", 400, NULL,
		    "Conflicting value ethertype" },
		{ "\"direction\": \"ingress\", \"remote_ip_prefix\": "
		    "\"10.0.0.0/8\", \"remote_group_id\": "
		    "\"%s\"", 400, "SecurityGroupRemoteGroupAndRemoteIpPrefix",
		    NULL },
		{ "\"direction\": \"ingress\", \"remote_group_id\": "
		    "\"9a9b9c9d-0000-4000-8000-000000000000\"", 404,
		    "SecurityGroupNotFound", NULL },
		{ "\"direction\": \"ingress\", \"remote_group_id\": "
		    "\"bad_group_id\"", 404, "SecurityGroupNotFound", NULL },
		{ "\"direction\": \"ingress\", \"protocol\": \"icmpv6\"", 400,
		    "SecurityGroupEthertypeConflictWithProtocol", NULL },
		{ "\"direction\": \"ingress\", \"bogus\": 1", 400, NULL,
		    "Unrecognized attribute" },
	};
	char sg[64], fields[512], b[1024];
	size_t i;

	(void)state;
	sg_new(CT_OTHER, "v", sg);
	assert_int_equal(rule_count(CT_OTHER, sg), 2);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctltest_subst(fields, sizeof(fields), cases[i].fields, sg);
		snprintf(b, sizeof(b), "{\"security_group_rule\": "
		    "{\"security_group_id\": \"%s\", %s}}", sg, fields);
		CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules",
		    b, cases[i].status, NULL);
		if (cases[i].type != NULL)
			assert_string_equal(neutron_type(), cases[i].type);
		if (cases[i].msg != NULL &&
		    strstr(ctltest_str(T, "NeutronError.message"),
		    cases[i].msg) == NULL)
			fail_msg("case %zu: %s", i,
			    ctltest_str(T, "NeutronError.message"));
	}
	assert_int_equal(rule_count(CT_OTHER, sg), 2);

	/* Unknown group: 404; another project's group: 404 too. */
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules",
	    "{\"security_group_rule\": {\"security_group_id\": "
	    "\"9a9b9c9d-0000-4000-8000-000000000000\", \"direction\": "
	    "\"ingress\"}}", 404, NULL);
	assert_string_equal(neutron_type(), "SecurityGroupNotFound");
	snprintf(b, sizeof(b), "{\"security_group_rule\": "
	    "{\"security_group_id\": \"%s\", \"direction\": \"ingress\"}}", sg);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/security-group-rules", b, 404,
	    NULL);
	assert_int_equal(rule_count(CT_OTHER, sg), 2);
}

static void
test_secgroups(void **state)
{
	char def[64], sg[64], sg2[64], rule[64], net[64], sub[64], port[64];
	char b[1024];

	(void)state;
	/* The first list makes the project's default group, once. */
	CT_CALL(T, N, CT_OTHER, "GET", "/v2.0/security-groups?name=default",
	    NULL, 200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T, "security_groups")),
	    1);
	snprintf(def, sizeof(def), "%s", ctltest_str(T,
	    "security_groups.0.id"));
	assert_int_equal(json_array_size(ctltest_get(T,
	    "security_groups.0.security_group_rules")), 4);
	assert_int_equal(count(CT_OTHER, "/v2.0/security-groups?name=default",
	    "security_groups"), 1);
	assert_int_equal(rule_count(CT_OTHER, def), 4);
	snprintf(path, sizeof(path), "/v2.0/security-group-rules?"
	    "security_group_id=%s&direction=ingress&remote_group_id=%s", def,
	    def);
	assert_int_equal(count(CT_OTHER, path, "security_group_rules"), 2);

	/* A new group has the two egress rules; "default" is taken. */
	sg_new(CT_OTHER, "web", sg);
	assert_int_equal(rule_count(CT_OTHER, sg), 2);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-groups",
	    "{\"security_group\": {\"name\": \"default\"}}", 409, NULL);
	assert_string_equal(neutron_type(), "SecurityGroupDefaultAlreadyExists");
	assert_int_equal(count(CT_OTHER, "/v2.0/security-groups?name=default",
	    "security_groups"), 1);

	/* Rules: normalised prefix, duplicate 409, integer protocol. */
	snprintf(b, sizeof(b), "{\"security_group_rule\": {"
	    "\"security_group_id\": \"%s\", \"direction\": \"ingress\", "
	    "\"protocol\": \"TCP\", \"port_range_min\": 22, "
	    "\"port_range_max\": 23, \"remote_ip_prefix\": \"10.1.2.3/8\"}}",
	    sg);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules", b, 201,
	    NULL);
	snprintf(rule, sizeof(rule), "%s", ctltest_str(T,
	    "security_group_rule.id"));
	assert_string_equal(ctltest_str(T,
	    "security_group_rule.remote_ip_prefix"), "10.0.0.0/8");
	assert_string_equal(ctltest_str(T, "security_group_rule.protocol"),
	    "tcp");
	assert_string_equal(ctltest_str(T, "security_group_rule.ethertype"),
	    "IPv4");
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules", b, 409,
	    NULL);
	assert_string_equal(neutron_type(), "SecurityGroupRuleExists");
	assert_int_equal(rule_count(CT_OTHER, sg), 3);
	snprintf(b, sizeof(b), "{\"security_group_rule\": {"
	    "\"security_group_id\": \"%s\", \"direction\": \"ingress\", "
	    "\"protocol\": 17, \"ethertype\": \"ipv6\"}}", sg);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules", b, 201,
	    NULL);
	assert_string_equal(ctltest_str(T, "security_group_rule.protocol"),
	    "17");
	assert_string_equal(ctltest_str(T, "security_group_rule.ethertype"),
	    "IPv6");
	sg_new(CT_OTHER, "peer", sg2);
	snprintf(b, sizeof(b), "{\"security_group_rule\": {"
	    "\"security_group_id\": \"%s\", \"direction\": \"ingress\", "
	    "\"protocol\": \"icmp\", \"port_range_min\": 8, "
	    "\"port_range_max\": 0, \"remote_group_id\": \"%s\"}}", sg, sg2);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules", b, 201,
	    NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "security_group_rule.port_range_max")), 0);

	/* Another project sees none of it. */
	snprintf(path, sizeof(path), "/v2.0/security-groups/%s", sg);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 404, NULL);
	assert_string_equal(neutron_type(), "SecurityGroupNotFound");
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 404, NULL);
	snprintf(path, sizeof(path), "/v2.0/security-group-rules/%s", rule);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 404, NULL);
	assert_string_equal(neutron_type(), "SecurityGroupRuleNotFound");
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 404, NULL);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);

	/* Update: name and description; to or from "default": 409. */
	snprintf(path, sizeof(path), "/v2.0/security-groups/%s", sg);
	CT_CALL(T, N, CT_OTHER, "PUT", path, "{\"security_group\": "
	    "{\"name\": \"web2\", \"description\": \"d\"}}", 200, NULL);
	assert_string_equal(ctltest_str(T, "security_group.name"), "web2");
	assert_string_equal(ctltest_str(T, "security_group.description"),
	    "d");
	CT_CALL(T, N, CT_OTHER, "PUT", path, "{\"security_group\": "
	    "{\"name\": \"default\"}}", 409, NULL);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_string_equal(ctltest_str(T, "security_group.name"), "web2");
	snprintf(path, sizeof(path), "/v2.0/security-groups/%s", def);
	CT_CALL(T, N, CT_OTHER, "PUT", path, "{\"security_group\": "
	    "{\"name\": \"x\"}}", 409, NULL);
	assert_string_equal(neutron_type(), "SecurityGroupCannotUpdateDefault");
	/* The default group stays, unless an admin removes it. */
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 409, NULL);
	assert_string_equal(neutron_type(), "SecurityGroupCannotRemoveDefault");
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);

	/* Ports: the default group unless told; groups need port security. */
	net_new(CT_OTHER, "\"name\": \"sgnet\"", net);
	subnet_new(CT_OTHER, net, "10.66.0.0/24", "", sub);
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\"}}", net);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/ports", b, 201, NULL);
	assert_int_equal(json_array_size(ctltest_get(T,
	    "port.security_groups")), 1);
	assert_string_equal(ctltest_str(T, "port.security_groups.0"), def);
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\", "
	    "\"security_groups\": [\"%s\", \"%s\"]}}", net, sg, sg);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/ports", b, 201, NULL);
	snprintf(port, sizeof(port), "%s", ctltest_str(T, "port.id"));
	assert_int_equal(json_array_size(ctltest_get(T,
	    "port.security_groups")), 1);
	assert_string_equal(ctltest_str(T, "port.security_groups.0"), sg);
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\", "
	    "\"port_security_enabled\": false, \"security_groups\": "
	    "[\"%s\"]}}", net, sg);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/ports", b, 400, NULL);
	assert_string_equal(neutron_type(),
	    "PortSecurityAndIPRequiredForSecurityGroups");
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\", "
	    "\"security_groups\": [\"9a9b9c9d-0000-4000-8000-000000000000\"]}}",
	    net);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/ports", b, 404, NULL);
	snprintf(path, sizeof(path), "/v2.0/ports?network_id=%s", net);
	assert_int_equal(count(CT_OTHER, path, "ports"), 2);
	/* Another project's group is not found. */
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\", "
	    "\"security_groups\": [\"%s\"]}}", net, sg);
	snprintf(path, sizeof(path), "/v2.0/ports/%s", port);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", b, 404, NULL);

	/* Turning port security off while groups remain: 409; with them
	 * cleared: fine. */
	CT_CALL(T, N, CT_OTHER, "PUT", path, "{\"port\": "
	    "{\"port_security_enabled\": false}}", 409, NULL);
	assert_string_equal(neutron_type(), "PortSecurityPortHasSecurityGroup");
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_true(json_is_true(ctltest_get(T, "port.port_security_enabled")));

	/* A group in use is not deleted. */
	snprintf(b, sizeof(b), "/v2.0/security-groups/%s", sg);
	CT_CALL(T, N, CT_OTHER, "DELETE", b, NULL, 409, NULL);
	assert_string_equal(neutron_type(), "SecurityGroupInUse");
	CT_CALL(T, N, CT_OTHER, "GET", b, NULL, 200, NULL);

	CT_CALL(T, N, CT_OTHER, "PUT", path, "{\"port\": "
	    "{\"port_security_enabled\": false, \"security_groups\": []}}",
	    200, NULL);
	assert_int_equal(json_array_size(ctltest_get(T,
	    "port.security_groups")), 0);
	CT_CALL(T, N, CT_OTHER, "DELETE", b, NULL, 204, NULL);
	CT_CALL(T, N, CT_OTHER, "GET", b, NULL, 404, NULL);
	/* Its rules went with it. */
	snprintf(b, sizeof(b), "/v2.0/security-group-rules/%s", rule);
	CT_CALL(T, N, CT_OTHER, "GET", b, NULL, 404, NULL);
	assert_int_equal(rule_count(CT_OTHER, sg), 0);

	/* A group whose rules name another as remote: the other's delete
	 * takes those rules along (Neutron cascades). */
	snprintf(b, sizeof(b), "{\"security_group_rule\": {"
	    "\"security_group_id\": \"%s\", \"direction\": \"ingress\", "
	    "\"remote_group_id\": \"%s\"}}", def, sg2);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules", b, 201,
	    NULL);
	assert_int_equal(rule_count(CT_OTHER, def), 5);
	snprintf(b, sizeof(b), "/v2.0/security-groups/%s", sg2);
	CT_CALL(T, N, CT_OTHER, "DELETE", b, NULL, 204, NULL);
	assert_int_equal(rule_count(CT_OTHER, def), 4);
}

/* Group and rule writes reach the dataplane sync at once (a host's
 * rules and remote members are derived from them). */
static void
test_secgroup_changed(void **state)
{
	struct netsync *ns = ctltest_netsync(T);
	char sg[64], b[512];

	(void)state;
	assert_int_equal(netsync_sync(ns, db_now_ms()), 0);
	assert_int_equal(netsync_pending(ns), 0);
	sg_new(CT_OTHER, "dirty", sg);
	assert_int_equal(netsync_pending(ns), 1);
	assert_int_equal(netsync_sync(ns, db_now_ms()), 0);
	snprintf(b, sizeof(b), "{\"security_group_rule\": {"
	    "\"security_group_id\": \"%s\", \"direction\": \"ingress\"}}", sg);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules", b, 201,
	    NULL);
	assert_int_equal(netsync_pending(ns), 1);
	assert_int_equal(netsync_sync(ns, db_now_ms()), 0);
	/* Refused: no mark. */
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-group-rules", b, 409,
	    NULL);
	assert_int_equal(netsync_pending(ns), 0);
	snprintf(path, sizeof(path), "/v2.0/security-group-rules/%s",
	    ctltest_str(T, "NeutronError.message") + strlen("Security group "
	    "rule already exists. Rule id is "));
	path[strlen(path) - 1] = '\0';	/* the message's final dot */
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 204, NULL);
	assert_int_equal(netsync_pending(ns), 1);
	assert_int_equal(netsync_sync(ns, db_now_ms()), 0);
	snprintf(path, sizeof(path), "/v2.0/security-groups/%s", sg);
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 204, NULL);
	assert_int_equal(netsync_pending(ns), 1);
}

static void
test_secgroup_quota(void **state)
{
	char sg[64], b[512];
	json_t *v;
	int64_t used;

	(void)state;
	snprintf(path, sizeof(path), "/v2.0/quotas/%s/details",
	    T->project_id[CT_OTHER]);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota.security_group.limit")), 10);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota.security_group_rule.limit")), 100);
	v = ctltest_get(T, "quota.security_group.used");
	used = json_integer_value(v);
	assert_true(used >= 1);
	snprintf(path, sizeof(path), "/v2.0/quotas/%s",
	    T->project_id[CT_OTHER]);
	snprintf(b, sizeof(b), "{\"quota\": {\"security_group\": %lld}}",
	    (long long)used);
	CT_CALL(T, N, CT_ADMIN, "PUT", path, b, 200, NULL);
	assert_int_equal(json_integer_value(ctltest_get(T,
	    "quota.security_group")), used);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/security-groups",
	    "{\"security_group\": {\"name\": \"over\"}}", 409, NULL);
	assert_string_equal(neutron_type(), "OverQuota");
	assert_int_equal(count(CT_OTHER, "/v2.0/security-groups?name=over",
	    "security_groups"), 0);
	CT_CALL(T, N, CT_ADMIN, "DELETE", path, NULL, 204, NULL);
	sg_new(CT_OTHER, "over", sg);
	snprintf(path, sizeof(path), "/v2.0/security-groups/%s", sg);
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 204, NULL);
}

/* ---- the dataplane hears of writes at once ---------------------------------- */

/* Each write that shapes a host's desired state marks the sync dirty
 * (no tick runs here: the test derives by hand and watches the mark). */
static void
test_netsync_changed(void **state)
{
	struct netsync *ns = ctltest_netsync(T);
	char net[64], sub[64], port[64], b[512];

	(void)state;
	assert_non_null(ns);
#define DERIVED() do {							\
	assert_int_equal(netsync_sync(ns, db_now_ms()), 0);		\
	assert_int_equal(netsync_pending(ns), 0);			\
} while (0)
	DERIVED();
	net_new(CT_MEMBER, "\"name\": \"dirty\"", net);
	assert_int_equal(netsync_pending(ns), 1);
	DERIVED();
	subnet_new(CT_MEMBER, net, "10.77.0.0/24", "", sub);
	assert_int_equal(netsync_pending(ns), 1);
	DERIVED();
	snprintf(b, sizeof(b), "{\"port\": {\"network_id\": \"%s\"}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", b, 201, NULL);
	snprintf(port, sizeof(port), "%s", ctltest_str(T, "port.id"));
	assert_int_equal(netsync_pending(ns), 1);
	DERIVED();
	snprintf(path, sizeof(path), "/v2.0/ports/%s", port);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, "{\"port\": {\"name\": \"p\"}}",
	    200, NULL);
	assert_int_equal(netsync_pending(ns), 1);
	DERIVED();
	/* A refused write changes nothing: no mark. */
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", "{\"port\": {}}", 400,
	    NULL);
	assert_int_equal(netsync_pending(ns), 0);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	assert_int_equal(netsync_pending(ns), 1);
	DERIVED();
	snprintf(path, sizeof(path), "/v2.0/subnets/%s", sub);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, "{\"subnet\": {\"name\": \"s\"}}",
	    200, NULL);
	assert_int_equal(netsync_pending(ns), 1);
	DERIVED();
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	assert_int_equal(netsync_pending(ns), 1);
	DERIVED();
	snprintf(path, sizeof(path), "/v2.0/networks/%s", net);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	assert_int_equal(netsync_pending(ns), 1);
#undef DERIVED
}

/* Routers and floating IPs: validation (Neutron's status and type,
 * nothing changed), admin-only enable_snat, visibility, and that router
 * writes tell the dataplane sync. */
static void
test_routers(void **state)
{
	struct netsync *ns = ctltest_netsync(T);
	char ext[64], esub[64], net[64], net2[64], sub[64], sub2[64], nogw[64];
	char rtr[64], port[64], fip[64], other[64], osub[64], oport[64];

	(void)state;
	net_new(CT_ADMIN, "\"name\": \"rext\", \"router:external\": true",
	    ext);
	subnet_new(CT_ADMIN, ext, "198.18.0.0/28", ", \"enable_dhcp\": false",
	    esub);
	net_new(CT_MEMBER, "\"name\": \"rnet\"", net);
	subnet_new(CT_MEMBER, net, "10.61.0.0/24", "", sub);
	net_new(CT_MEMBER, "\"name\": \"rnet2\"", net2);
	subnet_new(CT_MEMBER, net2, "10.61.0.0/16", "", sub2);
	subnet_new(CT_MEMBER, net, "10.62.0.0/24", ", \"gateway_ip\": null",
	    nogw);

	/* Gateway on a network that is not external; enable_snat is the
	 * admin's. Neither creates a router. */
	snprintf(body, sizeof(body), "{\"router\": {\"name\": \"r\", "
	    "\"external_gateway_info\": {\"network_id\": \"%s\"}}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/routers", body, 400, NULL);
	assert_string_equal(neutron_type(), "BadRequest");
	snprintf(body, sizeof(body), "{\"router\": {\"name\": \"r\", "
	    "\"external_gateway_info\": {\"network_id\": \"%s\", "
	    "\"enable_snat\": false}}}", ext);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/routers", body, 403, NULL);
	assert_int_equal(count(CT_MEMBER, "/v2.0/routers", "routers"), 0);

	assert_int_equal(netsync_sync(ns, db_now_ms()), 0);
	snprintf(body, sizeof(body), "{\"router\": {\"name\": \"r\", "
	    "\"external_gateway_info\": {\"network_id\": \"%s\"}}}", ext);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/routers", body, 201, NULL);
	snprintf(rtr, sizeof(rtr), "%s", ctltest_str(T, "router.id"));
	assert_true(json_is_true(ctltest_get(T,
	    "router.external_gateway_info.enable_snat")));
	assert_string_equal(ctltest_str(T, "router.external_gateway_info."
	    "external_fixed_ips.0.ip_address"), "198.18.0.2");
	assert_int_equal(netsync_pending(ns), 1);
	assert_int_equal(netsync_sync(ns, db_now_ms()), 0);

	/* Interfaces: by subnet (its gateway address), no gateway, twice,
	 * overlapping, neither subnet nor port. */
	snprintf(path, sizeof(path), "/v2.0/routers/%s/add_router_interface",
	    rtr);
	snprintf(body, sizeof(body), "{\"subnet_id\": \"%s\"}", sub);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 200, NULL);
	assert_string_equal(ctltest_str(T, "subnet_id"), sub);
	assert_int_equal(netsync_pending(ns), 1);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 400, NULL);
	assert_string_equal(neutron_type(), "BadRequest");
	snprintf(body, sizeof(body), "{\"subnet_id\": \"%s\"}", nogw);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 400, NULL);
	snprintf(body, sizeof(body), "{\"subnet_id\": \"%s\"}", sub2);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 400, NULL);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, "{}", 400, NULL);
	snprintf(path, sizeof(path), "/v2.0/ports?device_id=%s", rtr);
	assert_int_equal(count(CT_ADMIN, path, "ports"), 2);	/* if + gw */

	/* Another project sees no router and cannot touch it. */
	snprintf(path, sizeof(path), "/v2.0/routers/%s", rtr);
	CT_CALL(T, N, CT_OTHER, "GET", path, NULL, 404, NULL);
	assert_string_equal(neutron_type(), "RouterNotFound");
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 404, NULL);

	/* Floating IPs: outside the subnet, on a network that is not
	 * external, another project's port: nothing created. */
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\", "
	    "\"fixed_ips\": [{\"subnet_id\": \"%s\"}]}}", net, sub);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/ports", body, 201, NULL);
	snprintf(port, sizeof(port), "%s", ctltest_str(T, "port.id"));
	net_new(CT_OTHER, "\"name\": \"rother\"", other);
	subnet_new(CT_OTHER, other, "10.63.0.0/24", "", osub);
	snprintf(body, sizeof(body), "{\"port\": {\"network_id\": \"%s\"}}",
	    other);
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/ports", body, 201, NULL);
	snprintf(oport, sizeof(oport), "%s", ctltest_str(T, "port.id"));
	snprintf(body, sizeof(body), "{\"floatingip\": {\"floating_network_id"
	    "\": \"%s\", \"floating_ip_address\": \"198.19.0.5\"}}", ext);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/floatingips", body, 403,
	    NULL);	/* a given address is the admin's */
	CT_CALL(T, N, CT_ADMIN, "POST", "/v2.0/floatingips", body, 400,
	    NULL);
	snprintf(body, sizeof(body), "{\"floatingip\": {\"floating_network_id"
	    "\": \"%s\"}}", net);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/floatingips", body, 400,
	    NULL);
	assert_string_equal(neutron_type(), "BadRequest");
	snprintf(body, sizeof(body), "{\"floatingip\": {\"floating_network_id"
	    "\": \"%s\", \"port_id\": \"%s\"}}", ext, oport);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/floatingips", body, 404,
	    NULL);
	assert_string_equal(neutron_type(), "PortNotFound");
	/* The other project's port has no router to the external network. */
	CT_CALL(T, N, CT_OTHER, "POST", "/v2.0/floatingips", body, 404, NULL);
	assert_string_equal(neutron_type(),
	    "ExternalGatewayForFloatingIPNotFound");
	assert_int_equal(count(CT_ADMIN, "/v2.0/floatingips", "floatingips"),
	    0);

	snprintf(body, sizeof(body), "{\"floatingip\": {\"floating_network_id"
	    "\": \"%s\", \"port_id\": \"%s\"}}", ext, port);
	CT_CALL(T, N, CT_MEMBER, "POST", "/v2.0/floatingips", body, 201,
	    NULL);
	snprintf(fip, sizeof(fip), "%s", ctltest_str(T, "floatingip.id"));
	assert_string_equal(ctltest_str(T, "floatingip.router_id"), rtr);
	assert_string_equal(ctltest_str(T, "floatingip.status"), "ACTIVE");
	assert_string_equal(ctltest_str(T, "floatingip.port_details."
	    "network_id"), net);

	/* In use: the interface, the subnet, the router, the port. */
	snprintf(path, sizeof(path),
	    "/v2.0/routers/%s/remove_router_interface", rtr);
	snprintf(body, sizeof(body), "{\"subnet_id\": \"%s\"}", sub);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 409, NULL);
	assert_string_equal(neutron_type(),
	    "RouterInterfaceInUseByFloatingIP");
	snprintf(path, sizeof(path), "/v2.0/subnets/%s", sub);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 409, NULL);
	snprintf(path, sizeof(path), "/v2.0/routers/%s", rtr);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 409, NULL);
	assert_string_equal(neutron_type(), "RouterInUse");
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);

	/* The port goes: the floating IP stays, disassociated. */
	snprintf(path, sizeof(path), "/v2.0/ports/%s", port);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.0/floatingips/%s", fip);
	CT_CALL(T, N, CT_MEMBER, "GET", path, NULL, 200, NULL);
	assert_true(json_is_null(ctltest_get(T, "floatingip.port_id")));
	assert_string_equal(ctltest_str(T, "floatingip.status"), "DOWN");
	CT_CALL(T, N, CT_OTHER, "DELETE", path, NULL, 404, NULL);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);

	snprintf(path, sizeof(path),
	    "/v2.0/routers/%s/remove_router_interface", rtr);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 200, NULL);
	CT_CALL(T, N, CT_MEMBER, "PUT", path, body, 404, NULL);
	assert_string_equal(neutron_type(),
	    "RouterInterfaceNotFoundForSubnet");
	snprintf(path, sizeof(path), "/v2.0/routers/%s", rtr);
	CT_CALL(T, N, CT_MEMBER, "DELETE", path, NULL, 204, NULL);
	snprintf(path, sizeof(path), "/v2.0/ports?device_id=%s", rtr);
	assert_int_equal(count(CT_ADMIN, path, "ports"), 0);
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
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_subnets),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_quotas),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_agents),
		cmocka_unit_test(test_netsync_changed),
		cmocka_unit_test(test_sgrule_validation),
		cmocka_unit_test(test_secgroups),
		cmocka_unit_test(test_secgroup_changed),
		cmocka_unit_test(test_secgroup_quota),
		cmocka_unit_test(test_routers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
