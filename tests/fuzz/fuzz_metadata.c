/*
 * fuzz_metadata: the metadata service's request parser
 * (metadata_http_parse), its neighbour-table reader (metadata_arp_find)
 * and the path router (metadata_lookup) on arbitrary bytes.
 *
 * The first byte picks the reader (bit 0: the neighbour table; bit 1: a
 * saved-instance file loaded by metadata_state_dir(), which must load or
 * be skipped without harm). A request must end (1/0/-1); a parsed
 * one has a path that starts with '/', fits METADATA_PATH_MAX, holds only
 * printable ASCII and no query; looked up as the one known instance's
 * source it answers 200, 400 or 404 and never names the other instance;
 * looked up from an unknown source it is always 404.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metadata.h"

#define NET	"5a000000-0000-4000-8000-00000000000a"
#define SUB	"5b000000-0000-4000-8000-00000000000a"
#define P1	"5c000000-0000-4000-8000-000000000001"
#define P2	"5c000000-0000-4000-8000-000000000002"
#define VM1	"5d000000-0000-4000-8000-000000000001"
#define VM2	"5d000000-0000-4000-8000-000000000002"
#define BR	"tsb5a000000000"

static char state_dir[] = "/tmp/tsmd-fuzz-XXXXXX";

static void
state_dir_remove(void)
{
	rmdir(state_dir);
}

static struct metadata *
md_get(void)
{
	static struct metadata *md;
	static struct sch_net_fixed_ip f1[] = { { .subnet_id = SUB,
	    .ip_address = "10.0.0.5" } };
	static struct sch_net_fixed_ip f2[] = { { .subnet_id = SUB,
	    .ip_address = "10.0.0.6" } };
	static struct sch_net_network nets[] = { { .id = NET, .type = "vxlan",
	    .mtu = 1450 } };
	static struct sch_net_subnet subs[] = { { .id = SUB, .network_id = NET,
	    .cidr = "10.0.0.0/24", .ip_version = 4, .gateway_ip = "10.0.0.1",
	    .enable_dhcp = true, .dhcp_address = "10.0.0.2" } };
	static struct sch_net_port ports[] = {
		{ .id = P1, .network_id = NET, .mac = "fa:16:3e:00:00:01",
		  .fixed_ips = { f1, 1 } },
		{ .id = P2, .network_id = NET, .mac = "fa:16:3e:00:00:02",
		  .fixed_ips = { f2, 1 } },
	};
	static struct sch_net_status sts[] = { { .id = NET, .ok = true,
	    .bridge = BR } };
	struct msg_host_network hn = { .host = "h", .generation = 1,
	    .networks = { nets, 1 }, .subnets = { subs, 1 },
	    .ports = { ports, 2 } };
	struct msg_host_network_state st = { .generation = 1,
	    .networks = { sts, 1 } };
	struct metadata_nic n1 = { P1, NET, "fa:16:3e:00:00:01" };
	struct metadata_nic n2 = { P2, NET, "fa:16:3e:00:00:02" };

	if (md != NULL)
		return md;
	if ((md = metadata_new()) == NULL ||
	    metadata_network_set(md, &hn, &st) == -1 ||
	    metadata_instance_put(md, VM1, "{\"uuid\": \"" VM1 "\", "
	    "\"hostname\": \"one\", \"public_keys\": {\"k\": \"ssh-ed25519 A "
	    "one\"}}", "ud", 2, true, &n1, 1) == -1 ||
	    metadata_instance_put(md, VM2, "{\"uuid\": \"" VM2 "\", "
	    "\"hostname\": \"two\", \"public_keys\": {\"k\": \"ssh-ed25519 B "
	    "two\"}}", NULL, 0, false, &n2, 1) == -1)
		abort();
	return md;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metadata_http_req req;
	struct metadata_resp r;
	char mac[18];
	int p;

	if (size < 1 || size > 2 * METADATA_REQ_MAX)
		return 0;
	if (data[0] & 2) {
		static int made;
		char path[128];
		struct metadata *m2;
		FILE *f;

		if (!made && (mkdtemp(state_dir) == NULL ||
		    atexit(state_dir_remove) != 0))
			abort();
		made = 1;
		snprintf(path, sizeof(path), "%s/%s.json", state_dir, VM1);
		if ((f = fopen(path, "w")) == NULL)
			abort();
		fwrite(data + 1, 1, size - 1, f);
		fclose(f);
		if ((m2 = metadata_new()) == NULL)
			abort();
		(void)metadata_state_dir(m2, state_dir);
		if (metadata_lookup(m2, BR, "10.0.0.5", "fa:16:3e:00:00:01",
		    "/openstack/latest/meta_data.json", &r) == 0) {
			if (r.status != 404)	/* no network state: nobody */
				abort();
			metadata_resp_clear(&r);
		}
		metadata_free(&m2);
		unlink(path);
		return 0;
	}
	if (data[0] & 1) {
		(void)metadata_arp_find((const char *)data + 1, size - 1,
		    "10.0.0.5", BR, mac);
		return 0;
	}
	p = metadata_http_parse((const char *)data + 1, size - 1, &req);
	if (p < -1 || p > 1)
		abort();
	if (p != 1)
		return 0;
	if (req.path[0] != '/' || strlen(req.path) > METADATA_PATH_MAX ||
	    strpbrk(req.path, "?# ") != NULL)
		abort();
	for (const char *c = req.path; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			abort();
	if (metadata_lookup(md_get(), BR, "10.0.0.5", "fa:16:3e:00:00:01",
	    req.path, &r) == -1)
		return 0;
	if ((r.status != 200 && r.status != 404 && r.status != 400) ||
	    r.body == NULL || strstr(r.body, VM2) != NULL ||
	    strstr(r.body, "B two") != NULL)
		abort();
	metadata_resp_clear(&r);
	if (metadata_lookup(md_get(), BR, "10.0.0.9", "fa:16:3e:00:00:09",
	    req.path, &r) == -1)
		return 0;
	if (r.status != 404)
		abort();
	metadata_resp_clear(&r);
	return 0;
}
