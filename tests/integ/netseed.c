/*
 * netseed: writes network records into a controller's store as the
 * Networking API would (through ipam), for tests/integ/test_net_agent.sh
 * until `tinystack-manage network ...` exists. Test-only; not installed.
 *
 *   netseed CONF network NET_ID SUBNET_ID CIDR   tenant network + DHCP subnet
 *   netseed CONF port PORT_ID NET_ID HOST NAME   a port bound to HOST;
 *                                                prints "MAC IP"
 *   netseed CONF port-delete PORT_ID
 *   netseed CONF dhcp-ports                      "network host ip" lines
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "msg_gen.h"
#include "network/ipam.h"
#include "network/netsync.h"
#include "network/network_db.h"
#include "opts.h"
#include "store.h"

static struct ipam_conf *conf;
static const char *const *args;

static char *
S(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		fprintf(stderr, "netseed: out of memory\n");
		exit(1);
	}
	return d;
}

static int
network_fn(struct store_txn *txn, void *arg)
{
	struct rec_network n;
	struct rec_subnet s;
	int rc;

	memset(&n, 0, sizeof(n));
	memset(&s, 0, sizeof(s));
	snprintf(n.id, sizeof(n.id), "%s", args[0]);
	n.project_id = S("netseed");
	n.name = S("net");
	n.description = S("");
	n.status = S("ACTIVE");
	n.admin_state_up = true;
	rc = ipam_network_create(txn, conf, &n, NULL);
	snprintf(s.id, sizeof(s.id), "%s", args[1]);
	snprintf(s.network_id, sizeof(s.network_id), "%s", args[0]);
	s.project_id = S("netseed");
	s.name = S("sub");
	s.description = S("");
	s.ip_version = 4;
	s.cidr = S(args[2]);
	s.enable_dhcp = true;
	if (rc == 0)
		rc = ipam_subnet_prepare(conf, &s, IPAM_GW_DEFAULT, false);
	if (rc == 0)
		rc = ipam_subnet_create(txn, &s);
	codec_clear(&schema_rec_network, &n);
	codec_clear(&schema_rec_subnet, &s);
	return rc;
}

static int
port_fn(struct store_txn *txn, void *arg)
{
	struct rec_port p;
	int rc;

	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", args[0]);
	snprintf(p.network_id, sizeof(p.network_id), "%s", args[1]);
	p.project_id = S("netseed");
	p.name = S(args[3]);
	p.description = S("");
	p.status = S("DOWN");
	p.device_id = S("");
	p.device_owner = S("compute:nova");
	p.binding_host_id = S(args[2]);
	p.binding_vnic_type = S("normal");
	p.binding_vif_type = S("bridge");
	rc = ipam_port_create(txn, conf, &p, NULL, 0, false);
	if (rc == 0)
		printf("%s %s\n", p.mac_address, p.fixed_ips.n ?
		    p.fixed_ips.items[0].ip_address : "-");
	codec_clear(&schema_rec_port, &p);
	return rc;
}

static int
port_delete_fn(struct store_txn *txn, void *arg)
{
	struct rec_port p;
	int rc;

	if (network_db_port_get(txn, args[0], &p) == -1)
		return -1;
	rc = ipam_port_delete(txn, &p);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

static int
print_dhcp(const struct rec_port *p, void *arg)
{
	if (strcmp(p->device_owner, NETSYNC_DHCP_OWNER) == 0)
		printf("%s %s %s\n", p->network_id, p->binding_host_id ?
		    p->binding_host_id : "-", p->fixed_ips.n ?
		    p->fixed_ips.items[0].ip_address : "-");
	return 0;
}

int
main(int argc, char **argv)
{
	struct config *cfg;
	struct store *st;
	struct store_txn *txn = NULL;
	int rc = -1;

	if (argc < 3) {
		fprintf(stderr, "usage: netseed CONF network|port|port-delete|"
		    "dhcp-ports ARGS...\n");
		return 2;
	}
	if ((cfg = config_new(opts_controller)) == NULL ||
	    config_load_file(cfg, argv[1]) == -1 ||
	    (conf = ipam_conf_new(cfg)) == NULL ||
	    (st = db_open(cfg, 0)) == NULL) {
		fprintf(stderr, "netseed: %s\n", err_msg());
		return 1;
	}
	args = (const char *const *)argv + 3;
	if (strcmp(argv[2], "network") == 0 && argc == 6)
		rc = store_write(st, network_fn, NULL);
	else if (strcmp(argv[2], "port") == 0 && argc == 7)
		rc = store_write(st, port_fn, NULL);
	else if (strcmp(argv[2], "port-delete") == 0 && argc == 4)
		rc = store_write(st, port_delete_fn, NULL);
	else if (strcmp(argv[2], "dhcp-ports") == 0 && argc == 3) {
		if ((rc = store_read_begin(st, &txn)) == 0) {
			rc = network_db_port_each(txn, print_dhcp, NULL);
			store_txn_end(&txn);
		}
	} else {
		fprintf(stderr, "netseed: bad arguments\n");
		return 2;
	}
	if (rc == -1)
		fprintf(stderr, "netseed: %s\n", err_msg());
	store_free(&st);
	ipam_conf_free(&conf);
	config_free(&cfg);
	return rc == 0 ? 0 : 1;
}
