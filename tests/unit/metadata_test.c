/*
 * metadata_test: agent/net/metadata without sockets: request (bridge,
 * source IP, source MAC, path) -> instance -> document. Two networks with
 * the same CIDR on two bridges and three instances; every document is
 * checked to name its own instance and no other; a MAC or IP of another
 * port, another bridge, an unknown source get 404; headers and query
 * strings a guest sends change nothing. meta_data.json comes from
 * agent/virt/configdrive (the config drive's producer). Also the request
 * parser, the neighbour-table reader and the response renderer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "metadata.h"
#include "virt/configdrive.h"

#define NET_A	"5a000000-0000-4000-8000-00000000000a"
#define NET_B	"5a000000-0000-4000-8000-00000000000b"
#define SUB_A	"5b000000-0000-4000-8000-00000000000a"
#define SUB_B	"5b000000-0000-4000-8000-00000000000b"
#define PORT_1	"5c000000-0000-4000-8000-000000000001"
#define PORT_2	"5c000000-0000-4000-8000-000000000002"
#define PORT_3	"5c000000-0000-4000-8000-000000000003"
#define PORT_4	"5c000000-0000-4000-8000-000000000004"	/* no instance */
#define VM_1	"5d000000-0000-4000-8000-000000000001"
#define VM_2	"5d000000-0000-4000-8000-000000000002"
#define VM_3	"5d000000-0000-4000-8000-000000000003"
#define MAC_1	"fa:16:3e:00:00:01"
#define MAC_2	"fa:16:3e:00:00:02"
#define MAC_3	"fa:16:3e:00:00:03"
#define MAC_4	"fa:16:3e:00:00:04"
#define BR_A	"tsb5a000000000"
#define BR_B	"tsb5a000000001"
#define KEY_1	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEY1 one@example"
#define KEY_2	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEY2 two@example"
#define KEY_3	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEY3 three@example"
#define UD_1	"#!/bin/sh\necho one\n"

#define FIX(s, ip)	{ .subnet_id = s, .ip_address = ip }
static struct sch_net_fixed_ip f1[] = { FIX(SUB_A, "10.0.0.5") };
static struct sch_net_fixed_ip f2[] = { FIX(SUB_A, "10.0.0.6") };
/* The same address as port 1, on the other network (overlapping CIDRs). */
static struct sch_net_fixed_ip f3[] = { FIX(SUB_B, "10.0.0.5") };
static struct sch_net_fixed_ip f4[] = { FIX(SUB_A, "10.0.0.7") };

static struct sch_net_network networks[] = {
	{ .id = NET_A, .type = "vxlan", .mtu = 1450 },
	{ .id = NET_B, .type = "vxlan", .mtu = 1400 },
};
static char *dns[] = { "10.0.0.1" };
static struct sch_net_subnet subnets[] = {
	{ .id = SUB_A, .network_id = NET_A, .cidr = "10.0.0.0/24",
	  .ip_version = 4, .gateway_ip = "10.0.0.1", .enable_dhcp = true,
	  .dhcp_address = "10.0.0.2", .dns_nameservers = { dns, 1 } },
	{ .id = SUB_B, .network_id = NET_B, .cidr = "10.0.0.0/24",
	  .ip_version = 4, .enable_dhcp = true, .dhcp_address = "10.0.0.2" },
};
#define PORT(i, n, m, f) { .id = i, .network_id = n, .mac = m, \
	.fixed_ips = { f, 1 } }
static struct sch_net_port ports[] = {
	PORT(PORT_1, NET_A, MAC_1, f1),
	PORT(PORT_2, NET_A, "FA:16:3E:00:00:02", f2),	/* case differs */
	PORT(PORT_3, NET_B, MAC_3, f3),
	PORT(PORT_4, NET_A, MAC_4, f4),
};

static struct sch_net_status statuses[] = {
	{ .id = NET_A, .ok = true, .bridge = BR_A, .dhcp = true },
	{ .id = NET_B, .ok = true, .bridge = BR_B, .dhcp = true },
};

static void
put(struct metadata *md, const char *uuid, const char *host,
    const char *key, const char *ud, const char *port, const char *net,
    const char *mac)
{
	struct configdrive_spec cs = { .uuid = uuid, .name = host,
	    .hostname = host, .project_id = "p-" "0123456789abcdef",
	    .key_name = "default", .key_data = key };
	struct metadata_nic nic = { .port_id = port, .network_id = net,
	    .mac = mac };
	char *meta = configdrive_meta_data(&cs);

	assert_non_null(meta);
	assert_int_equal(metadata_instance_put(md, uuid, meta, ud,
	    ud ? strlen(ud) : 0, ud != NULL, &nic, 1), 0);
	free(meta);
}

static int
setup(void **state)
{
	struct msg_host_network hn = { .host = "h1", .generation = 3,
	    .networks = { networks, 2 }, .subnets = { subnets, 2 },
	    .ports = { ports, 4 } };
	struct msg_host_network_state st = { .generation = 3,
	    .networks = { statuses, 2 } };
	struct metadata *md = metadata_new();

	assert_non_null(md);
	assert_int_equal(metadata_network_set(md, &hn, &st), 0);
	put(md, VM_1, "vm-one", KEY_1, UD_1, PORT_1, NET_A, MAC_1);
	put(md, VM_2, "vm-two", KEY_2, NULL, PORT_2, NET_A, MAC_2);
	put(md, VM_3, "vm-three", KEY_3, "three", PORT_3, NET_B, MAC_3);
	*state = md;
	return 0;
}

static int
teardown(void **state)
{
	metadata_free((struct metadata **)state);
	assert_null(*state);
	return 0;
}

/* GET path as (bridge, ip, mac); returns the status, *body owned. */
static int
get(struct metadata *md, const char *br, const char *ip, const char *mac,
    const char *path, char **body)
{
	struct metadata_resp r;
	int st;

	assert_int_equal(metadata_lookup(md, br, ip, mac, path, &r), 0);
	st = r.status;
	assert_non_null(r.body);
	assert_int_equal(strlen(r.body), r.len);	/* text documents */
	if (body != NULL)
		*body = r.body;
	else
		free(r.body);
	return st;
}

/* No trace of another instance in a document of `own`. */
static void
only_own(const char *doc, int own)
{
	static const char *const ids[] = { VM_1, VM_2, VM_3 };
	static const char *const keys[] = { KEY_1, KEY_2, KEY_3 };
	static const char *const hosts[] = { "vm-one", "vm-two", "vm-three" };

	for (int i = 0; i < 3; i++) {
		if (i == own)
			continue;
		assert_null(strstr(doc, ids[i]));
		assert_null(strstr(doc, keys[i]));
		assert_null(strstr(doc, hosts[i]));
	}
}

static void
test_meta_data_own_only(void **state)
{
	struct metadata *md = *state;
	char *b;

	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/meta_data.json", &b), 200);
	assert_non_null(strstr(b, "\"uuid\": \"" VM_1 "\""));
	assert_non_null(strstr(b, KEY_1));
	assert_non_null(strstr(b, "\"hostname\": \"vm-one\""));
	assert_non_null(strstr(b, "\"project_id\""));
	assert_non_null(strstr(b, "\"launch_index\": 0"));
	assert_non_null(strstr(b, "\"availability_zone\": \"nova\""));
	only_own(b, 0);
	free(b);

	/* Upper-case MAC in the port record, lower-case from the kernel. */
	assert_int_equal(get(md, BR_A, "10.0.0.6", MAC_2,
	    "/openstack/latest/meta_data.json", &b), 200);
	assert_non_null(strstr(b, VM_2));
	only_own(b, 1);
	free(b);

	/* Same IP as VM_1, other bridge: VM_3 (overlapping CIDRs). */
	assert_int_equal(get(md, BR_B, "10.0.0.5", MAC_3,
	    "/openstack/latest/meta_data.json", &b), 200);
	assert_non_null(strstr(b, VM_3));
	only_own(b, 2);
	free(b);
}

static void
test_unknown_sources(void **state)
{
	struct metadata *md = *state;
	const char *p = "/openstack/latest/meta_data.json";
	char *b;

	/* VM_1's IP with VM_3's MAC, and the reverse: the key is the triple. */
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_3, p, NULL), 404);
	assert_int_equal(get(md, BR_B, "10.0.0.5", MAC_1, p, NULL), 404);
	/* VM_2's IP claimed with VM_1's MAC (a spoofed source address). */
	assert_int_equal(get(md, BR_A, "10.0.0.6", MAC_1, p, NULL), 404);
	/* VM_1's MAC with an address not its own. */
	assert_int_equal(get(md, BR_A, "10.0.0.99", MAC_1, p, NULL), 404);
	/* Another bridge, no MAC in the neighbour table, junk. */
	assert_int_equal(get(md, "tsbffffffffff", "10.0.0.5", MAC_1, p, NULL),
	    404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", NULL, p, NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", "", p, NULL), 404);
	assert_int_equal(get(md, BR_A, "not an ip", MAC_1, p, NULL), 404);
	assert_int_equal(get(md, NULL, "10.0.0.5", MAC_1, p, NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", "fa:16:3e:00:00:1", p,
	    NULL), 404);
	/* A port of the host that no instance here names. */
	assert_int_equal(get(md, BR_A, "10.0.0.7", MAC_4, p, &b), 404);
	assert_string_equal(b, "Not Found\n");
	free(b);
	/* Listings are not served to strangers either. */
	assert_int_equal(get(md, BR_A, "10.0.0.7", MAC_4, "/", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.7", MAC_4, "/openstack/",
	    NULL), 404);
}

static void
test_header_and_query_spoofing(void **state)
{
	struct metadata *md = *state;
	struct metadata_http_req req;
	const char *raw = "GET /openstack/latest/meta_data.json?uuid=" VM_2
	    "&instance_id=" VM_3 " HTTP/1.1\r\n"
	    "Host: 169.254.169.254\r\n"
	    "X-Instance-ID: " VM_2 "\r\n"
	    "X-Tenant-ID: someone-else\r\n"
	    "X-Forwarded-For: 10.0.0.6\r\n"
	    "X-Instance-ID-Signature: deadbeef\r\n\r\n";
	char *b;

	assert_int_equal(metadata_http_parse(raw, strlen(raw), &req), 1);
	assert_false(req.head);
	assert_string_equal(req.path, "/openstack/latest/meta_data.json");
	/* What the request names plays no part: VM_1's source gets VM_1. */
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, req.path, &b), 200);
	assert_non_null(strstr(b, VM_1));
	only_own(b, 0);
	free(b);
	/* And a stranger sending the same request gets nothing. */
	assert_int_equal(get(md, BR_A, "10.0.0.7", MAC_4, req.path, NULL),
	    404);
}

static void
test_user_data(void **state)
{
	struct metadata *md = *state;
	char *b;

	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/user_data", &b), 200);
	assert_string_equal(b, UD_1);
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, "/latest/user-data",
	    &b), 200);
	assert_string_equal(b, UD_1);
	free(b);
	/* VM_2 has none: 404, and the listings do not offer it. */
	assert_int_equal(get(md, BR_A, "10.0.0.6", MAC_2,
	    "/openstack/latest/user_data", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.6", MAC_2, "/latest/user-data",
	    NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.6", MAC_2,
	    "/openstack/latest/", &b), 200);
	assert_string_equal(b, "meta_data.json\nnetwork_data.json\n"
	    "vendor_data.json\n");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest", &b), 200);
	assert_string_equal(b, "meta_data.json\nnetwork_data.json\n"
	    "vendor_data.json\nuser_data\n");
	free(b);
	assert_int_equal(get(md, BR_B, "10.0.0.5", MAC_3,
	    "/openstack/latest/user_data", &b), 200);
	assert_string_equal(b, "three");
	free(b);
}

static void
test_listings_and_versions(void **state)
{
	struct metadata *md = *state;
	char *b;

	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, "/openstack", &b),
	    200);
	assert_string_equal(b, "latest\n");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, "/openstack/", &b),
	    200);
	assert_string_equal(b, "latest\n");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/2013-10-17/meta_data.json", &b), 200);
	assert_non_null(strstr(b, VM_1));
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/vendor_data.json", &b), 200);
	assert_string_equal(b, "{}");
	free(b);
	/* Traversal, doubled slashes, unknown names. */
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/../latest/meta_data.json", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack//latest/meta_data.json", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/nope", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/2013-1x-17/meta_data.json", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, "relative", NULL),
	    404);
}

static void
test_ec2(void **state)
{
	struct metadata *md = *state;
	char *b;

	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, "/latest/", &b),
	    200);
	assert_string_equal(b, "meta-data/\nuser-data\n");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/", &b), 200);
	assert_string_equal(b, "hostname\ninstance-id\nlocal-hostname\n"
	    "local-ipv4\npublic-keys/\n");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/instance-id", &b), 200);
	assert_string_equal(b, VM_1);
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/2009-04-04/meta-data/hostname", &b), 200);
	assert_string_equal(b, "vm-one");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/local-ipv4", &b), 200);
	assert_string_equal(b, "10.0.0.5");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/public-keys/", &b), 200);
	assert_string_equal(b, "0=default\n");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/public-keys/0/", &b), 200);
	assert_string_equal(b, "openssh-key\n");
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/public-keys/0/openssh-key", &b), 200);
	assert_string_equal(b, KEY_1);
	free(b);
	assert_int_equal(get(md, BR_B, "10.0.0.5", MAC_3,
	    "/latest/meta-data/public-keys/0/openssh-key", &b), 200);
	assert_string_equal(b, KEY_3);
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/public-keys/1/openssh-key", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/public-keys/00/openssh-key", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/public-keys/-1", NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/public-keys/99999999999999999999999", NULL),
	    404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-datax", NULL), 404);
}

static void
test_network_data(void **state)
{
	struct metadata *md = *state;
	char *b;

	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/network_data.json", &b), 200);
	assert_non_null(strstr(b, "\"ip_address\": \"10.0.0.5\""));
	assert_non_null(strstr(b, "\"netmask\": \"255.255.255.0\""));
	assert_non_null(strstr(b, "\"gateway\": \"10.0.0.1\""));
	assert_non_null(strstr(b, "\"ethernet_mac_address\": \"" MAC_1 "\""));
	assert_non_null(strstr(b, "\"vif_id\": \"" PORT_1 "\""));
	assert_non_null(strstr(b, "\"id\": \"tap5c000000000\""));
	assert_non_null(strstr(b, "\"mtu\": 1450"));
	assert_non_null(strstr(b, "\"address\": \"10.0.0.1\""));
	assert_null(strstr(b, "10.0.0.6"));
	assert_null(strstr(b, PORT_2));
	assert_null(strstr(b, PORT_3));
	free(b);
}

static void
test_delete_and_network_change(void **state)
{
	struct metadata *md = *state;
	const char *p = "/openstack/latest/meta_data.json";
	struct msg_host_network hn = { .host = "h1", .generation = 4,
	    .networks = { networks, 2 }, .subnets = { subnets, 2 },
	    .ports = { ports + 1, 3 } };	/* port 1 left the host */
	struct msg_host_network_state st = { .generation = 4,
	    .networks = { statuses, 2 } };

	metadata_instance_del(md, VM_2);
	metadata_instance_del(md, VM_2);	/* absent: nothing */
	assert_int_equal(get(md, BR_A, "10.0.0.6", MAC_2, p, NULL), 404);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, p, NULL), 200);
	assert_int_equal(metadata_network_set(md, &hn, &st), 0);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1, p, NULL), 404);
	assert_int_equal(get(md, BR_B, "10.0.0.5", MAC_3, p, NULL), 200);
	/* No network state at all. */
	assert_int_equal(metadata_network_set(md, NULL, NULL), 0);
	assert_int_equal(get(md, BR_B, "10.0.0.5", MAC_3, p, NULL), 404);
}

static void
test_put_refuses(void **state)
{
	struct metadata *md = *state;
	struct metadata_nic bad = { .port_id = PORT_1, .network_id = NET_A,
	    .mac = "fa:16:3e:00:00:0g" };

	assert_int_equal(metadata_instance_put(md, "nope", "{}", NULL, 0,
	    false, NULL, 0), -1);
	assert_int_equal(metadata_instance_put(md, VM_1, "[1]", NULL, 0,
	    false, NULL, 0), -1);
	assert_int_equal(metadata_instance_put(md, VM_1, "{", NULL, 0,
	    false, NULL, 0), -1);
	assert_int_equal(metadata_instance_put(md, VM_1, "{}", NULL, 0,
	    false, &bad, 1), -1);
	/* VM_1 still served as before. */
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/latest/meta-data/instance-id", NULL), 200);
}

/*
 * Kept instances: saved 0600 on put, loaded by the next metadata (an agent
 * restart while the guests run), removed on del; junk in the directory is
 * ignored.
 */
static void
test_state_dir(void **state)
{
	struct msg_host_network hn = { .host = "h1", .generation = 3,
	    .networks = { networks, 2 }, .subnets = { subnets, 2 },
	    .ports = { ports, 4 } };
	struct msg_host_network_state st = { .generation = 3,
	    .networks = { statuses, 2 } };
	char dir[] = "/tmp/tsmd-state-XXXXXX", path[256], *b;
	const char bin[] = "\x00\x01\xff binary";
	struct metadata_nic nic = { PORT_2, NET_A, MAC_2 };
	struct metadata *md;
	struct stat sb;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(md = metadata_new());
	assert_int_equal(metadata_state_dir(md, "relative"), -1);
	assert_int_equal(metadata_state_dir(md, dir), 0);
	put(md, VM_1, "vm-one", KEY_1, UD_1, PORT_1, NET_A, MAC_1);
	assert_int_equal(metadata_instance_put(md, VM_2, "{\"uuid\": \"" VM_2
	    "\"}", bin, sizeof(bin) - 1, true, &nic, 1), 0);
	put(md, VM_3, "vm-three", KEY_3, NULL, PORT_3, NET_B, MAC_3);
	snprintf(path, sizeof(path), "%s/%s.json", dir, VM_1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	metadata_instance_del(md, VM_3);
	metadata_free(&md);
	/* Junk the loader must skip. */
	snprintf(path, sizeof(path), "%s/%s.json", dir, VM_3);
	assert_non_null(f = fopen(path, "w"));
	fputs("{\"meta_data\": 5}", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/not-a-uuid.json", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);

	assert_non_null(md = metadata_new());
	assert_int_equal(metadata_state_dir(md, dir), 0);
	assert_int_equal(metadata_network_set(md, &hn, &st), 0);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/meta_data.json", &b), 200);
	assert_non_null(strstr(b, VM_1));
	assert_non_null(strstr(b, KEY_1));
	only_own(b, 0);
	free(b);
	assert_int_equal(get(md, BR_A, "10.0.0.5", MAC_1,
	    "/openstack/latest/user_data", &b), 200);
	assert_string_equal(b, UD_1);
	free(b);
	{
		struct metadata_resp r;

		assert_int_equal(metadata_lookup(md, BR_A, "10.0.0.6", MAC_2,
		    "/latest/user-data", &r), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.len, sizeof(bin) - 1);
		assert_memory_equal(r.body, bin, r.len);
		metadata_resp_clear(&r);
	}
	/* Deleted before the restart, then junk: not served. */
	assert_int_equal(get(md, BR_B, "10.0.0.5", MAC_3,
	    "/openstack/latest/meta_data.json", NULL), 404);
	metadata_instance_del(md, VM_1);
	snprintf(path, sizeof(path), "%s/%s.json", dir, VM_1);
	assert_int_equal(access(path, F_OK), -1);
	metadata_instance_del(md, VM_2);
	metadata_free(&md);
	snprintf(path, sizeof(path), "%s/%s.json", dir, VM_3);
	unlink(path);
	snprintf(path, sizeof(path), "%s/not-a-uuid.json", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);	/* nothing else left behind */
}

static void
test_http_parse(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
		const char	*path;
	} cases[] = {
		{ "GET / HTTP/1.0\r\n\r\n", 1, "/" },
		{ "GET /latest/meta-data/ HTTP/1.1\nHost: x\n\n", 1,
		  "/latest/meta-data/" },
		{ "HEAD /openstack HTTP/1.1\r\n\r\n", 1, "/openstack" },
		{ "GET /a?b=c#d HTTP/1.1\r\n\r\n", 1, "/a" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n", 0, NULL },
		{ "GET / HTT", 0, NULL },
		{ "", 0, NULL },
		{ "POST / HTTP/1.1\r\n\r\n", -1, NULL },
		{ "get / HTTP/1.1\r\n\r\n", -1, NULL },
		{ "GET  / HTTP/1.1\r\n\r\n", -1, NULL },
		{ "GET / HTTP/2.0\r\n\r\n", -1, NULL },
		{ "GET /\r\n\r\n", -1, NULL },
		{ "GET relative HTTP/1.1\r\n\r\n", -1, NULL },
		{ "GET /a\tb HTTP/1.1\r\n\r\n", -1, NULL },
		{ "GET /\x80 HTTP/1.1\r\n\r\n", -1, NULL },
		{ "GET / HTTP/1.1 extra\r\n\r\n", -1, NULL },
	};
	struct metadata_http_req req;
	char big[METADATA_REQ_MAX + 16], nul[] = "GET / HTTP/1.1\r\n\0\r\n\r\n";

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = metadata_http_parse(cases[i].in, strlen(cases[i].in),
		    &req);

		if (r != cases[i].want)
			fail_msg("case %zu: %d, want %d", i, r, cases[i].want);
		if (r == 1)
			assert_string_equal(req.path, cases[i].path);
	}
	assert_int_equal(metadata_http_parse("HEAD / HTTP/1.0\r\n\r\n", 19,
	    &req), 1);
	assert_true(req.head);
	/* NUL anywhere, a path too long, no end within the bound. */
	assert_int_equal(metadata_http_parse(nul, sizeof(nul) - 1, &req), -1);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	memcpy(big + METADATA_PATH_MAX + 6, " HTTP/1.1\r\n\r\n", 13);
	assert_int_equal(metadata_http_parse(big, METADATA_PATH_MAX + 19,
	    &req), -1);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(metadata_http_parse(big, METADATA_REQ_MAX, &req), -1);
	assert_int_equal(metadata_http_parse(big, METADATA_REQ_MAX - 1, &req),
	    0);
}

static void
test_arp(void **state)
{
	const char *t =
	    "IP address       HW type     Flags       HW address            "
	    "Mask     Device\n"
	    "10.0.0.5         0x1         0x2         FA:16:3e:00:00:01     "
	    "*        " BR_A "\n"
	    "10.0.0.5         0x1         0x2         fa:16:3e:00:00:03     "
	    "*        " BR_B "\n"
	    "10.0.0.9         0x1         0x0         00:00:00:00:00:00     "
	    "*        " BR_A "\n"
	    "10.0.0.10        0x1         0x2         garbage               "
	    "*        " BR_A;
	char mac[18];

	(void)state;
	assert_int_equal(metadata_arp_find(t, strlen(t), "10.0.0.5", BR_A,
	    mac), 1);
	assert_string_equal(mac, MAC_1);
	assert_int_equal(metadata_arp_find(t, strlen(t), "10.0.0.5", BR_B,
	    mac), 1);
	assert_string_equal(mac, MAC_3);
	/* Incomplete entries, malformed addresses, absent ones. */
	assert_int_equal(metadata_arp_find(t, strlen(t), "10.0.0.9", BR_A,
	    mac), 0);
	assert_int_equal(metadata_arp_find(t, strlen(t), "10.0.0.10", BR_A,
	    mac), 0);
	assert_int_equal(metadata_arp_find(t, strlen(t), "10.0.0.5",
	    "tsbnothere", mac), 0);
	assert_int_equal(metadata_arp_find(t, 10, "10.0.0.5", BR_A, mac), 0);
}

static void
test_render(void **state)
{
	struct metadata_resp r = { .status = 200, .content_type = "text/plain",
	    .body = (char *)"abc", .len = 3 };
	size_t len;
	char *s;

	(void)state;
	assert_non_null(s = metadata_http_render(&r, false, &len));
	assert_string_equal(s, "HTTP/1.0 200 OK\r\nContent-Type: text/plain"
	    "\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
	assert_int_equal(len, strlen(s));
	free(s);
	r.status = 404;
	assert_non_null(s = metadata_http_render(&r, true, &len));
	assert_non_null(strstr(s, "HTTP/1.0 404 Not Found\r\n"));
	assert_non_null(strstr(s, "Content-Length: 3\r\n"));
	assert_null(strstr(s, "abc"));
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_meta_data_own_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_sources, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_header_and_query_spoofing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listings_and_versions,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ec2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_network_change,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_refuses, setup,
		    teardown),
		cmocka_unit_test(test_state_dir),
		cmocka_unit_test(test_http_parse),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
