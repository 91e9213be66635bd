/*
 * netsync_test: the controller's derivation of every host's host_network
 * (controller/network/netsync.c) from records written through ipam into a
 * real LMDB store, and a round trip over an in-process bus pair: netsync
 * sends from the server end, the client end ("h1") hands the message to
 * the agent's network worker (agent/net/netsvc.c) over a converger with
 * the recording link backend and the proc recorder, its state comes back
 * and closes the gap; a lost message is sent again after the back-off.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus.h"
#include "clock.h"
#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "linkrec.h"
#include "log.h"
#include "msg_gen.h"
#include "netconv.h"
#include "netsvc.h"
#include "network/ipam.h"
#include "network/netsync.h"
#include "network/network_db.h"
#include "opts.h"
#include "proc.h"
#include "store.h"

#define WAIT_MS	3000

#define NETA	"00000000-0000-4000-8000-0000000000a1"
#define NETB	"00000000-0000-4000-8000-0000000000b1"
#define SUBA	"00000000-0000-4000-8000-1000000000a1"
#define SUBB	"00000000-0000-4000-8000-1000000000b1"
#define P1	"00000000-0000-4000-8000-200000000001"
#define P2	"00000000-0000-4000-8000-200000000002"
#define P3	"00000000-0000-4000-8000-200000000003"
#define P4	"00000000-0000-4000-8000-200000000004"

static char		 dir[] = "/tmp/netsync_test.XXXXXX";
static struct store	*st;
static struct config	*cfg;
static struct ipam_conf	*conf;
static struct bus	*srv, *cli;
static struct netsync	*ns;

static char *
S(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- fixtures: records through ipam, as the API writes them ------------- */

static int
hv_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;
	struct rec_hypervisor hv;

	memset(&hv, 0, sizeof(hv));
	db_uuid(hv.id);
	hv.host = (char *)a[0];
	hv.hypervisor_type = "TEST";
	hv.libvirt_uri = "test:///default";
	hv.cpu_model = "x";
	hv.cpu_arch = "x86_64";
	hv.tunnel_ip = (char *)a[1];
	return db_hypervisor_put(txn, &hv);
}

static void
mkhv(const char *host, const char *tunnel_ip)
{
	const char *a[2] = { host, tunnel_ip };

	assert_int_equal(store_write(st, hv_fn, a), 0);
}

static int
net_fn(struct store_txn *txn, void *arg)
{
	struct rec_network n;
	int rc;

	memset(&n, 0, sizeof(n));
	snprintf(n.id, sizeof(n.id), "%s", (const char *)arg);
	n.project_id = S("p1");
	n.name = S("net");
	n.description = S("");
	n.status = S("ACTIVE");
	n.admin_state_up = true;
	rc = ipam_network_create(txn, conf, &n, NULL);
	codec_clear(&schema_rec_network, &n);
	return rc;
}

static int
sub_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;	/* id, network, cidr, dns */
	struct rec_subnet s;
	int rc;

	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "%s", a[0]);
	snprintf(s.network_id, sizeof(s.network_id), "%s", a[1]);
	s.project_id = S("p1");
	s.name = S("sub");
	s.description = S("");
	s.ip_version = 4;
	s.cidr = S(a[2]);
	s.enable_dhcp = true;
	if (a[3] != NULL) {
		s.dns_nameservers.items = calloc(1, sizeof(char *));
		s.dns_nameservers.items[0] = S(a[3]);
		s.dns_nameservers.n = 1;
	}
	rc = ipam_subnet_prepare(conf, &s, IPAM_GW_DEFAULT, false);
	if (rc == 0)
		rc = ipam_subnet_create(txn, &s);
	codec_clear(&schema_rec_subnet, &s);
	return rc;
}

static void
mknet(const char *id, const char *sub, const char *cidr)
{
	const char *a[4] = { sub, id, cidr, "192.0.2.53" };

	assert_int_equal(store_write(st, net_fn, (void *)id), 0);
	assert_int_equal(store_write(st, sub_fn, a), 0);
}

struct portreq {
	const char	*id, *net, *host, *name, *mac, *device;
};

static int
port_fn(struct store_txn *txn, void *arg)
{
	struct portreq *r = arg;
	struct rec_port p;
	int rc;

	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", r->id);
	snprintf(p.network_id, sizeof(p.network_id), "%s", r->net);
	p.project_id = S("p1");
	p.name = S(r->name);
	p.description = S("");
	p.mac_address = S(r->mac);
	p.status = S("DOWN");
	p.device_id = S(r->device ? r->device : "");
	p.device_owner = S("compute:nova");
	p.binding_host_id = S(r->host);
	p.binding_vnic_type = S("normal");
	p.binding_vif_type = S("bridge");
	rc = ipam_port_create(txn, conf, &p, NULL, 0, false);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

static void
mkport(const char *id, const char *net, const char *host, const char *name,
    const char *mac)
{
	struct portreq r = { id, net, host, name, mac, NULL };

	assert_int_equal(store_write(st, port_fn, &r), 0);
}

static int
portdel_fn(struct store_txn *txn, void *arg)
{
	struct rec_port p;
	int rc;

	if (network_db_port_get(txn, arg, &p) == -1)
		return -1;
	rc = ipam_port_delete(txn, &p);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

static void
rmport(const char *id)
{
	assert_int_equal(store_write(st, portdel_fn, (void *)id), 0);
}

/* The DHCP ports stored: "network/device_id/host/ip;..." in id order is
 * not stable (random ids), so sorted text. */
struct dhcp_list {
	char	 items[16][160];
	size_t	 n;
};

static int
dhcp_cb(const struct rec_port *p, void *arg)
{
	struct dhcp_list *l = arg;

	if (strcmp(p->device_owner, NETSYNC_DHCP_OWNER) != 0 || l->n == 16)
		return 0;
	snprintf(l->items[l->n++], sizeof(l->items[0]), "%.4s/%s/%s/%s",
	    p->network_id + 32, p->device_id, p->binding_host_id,
	    p->fixed_ips.n ? p->fixed_ips.items[0].ip_address : "-");
	return 0;
}

static int
cmp_item(const void *a, const void *b)
{
	return strcmp(a, b);
}

static const char *
dhcp_ports(void)
{
	static char out[2048];
	struct dhcp_list l = { .n = 0 };
	struct store_txn *txn = NULL;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_port_each(txn, dhcp_cb, &l), 0);
	store_txn_end(&txn);
	qsort(l.items, l.n, sizeof(l.items[0]), cmp_item);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		strcat(out, l.items[i]);
		strcat(out, ";");
	}
	return out;
}

static const char *
dump(const char *host)
{
	static char out[8192];
	const struct msg_host_network *m = netsync_desired(ns, host);

	assert_non_null(m);
	codec_dump(&schema_msg_host_network, m, out, sizeof(out));
	return out;
}

/* ---- bus ------------------------------------------------------------------ */

static void
pump_srv(int ms)
{
	struct bus_msg m;
	int64_t until = clock_mono_ms() + ms;

	while (clock_mono_ms() < until)
		if (bus_poll(srv, 5, &m) == 1) {
			struct codec_envelope env;

			memset(&env, 0, sizeof(env));
			if (codec_envelope_decode(m.data, m.len,
			    SCHEMA_FROM_AGENT, &env) == 0)
				netsync_agent_msg(ns, m.user_id, &env);
			codec_envelope_clear(&env);
			bus_msg_clear(&m);
		}
}

/* Both ends: the client end sends what the worker posted (bus_post is
 * sent by the bus's own poll); nothing may arrive for it meanwhile. */
static void
pump_both(int ms)
{
	int64_t until = clock_mono_ms() + ms;
	struct bus_msg m;

	while (clock_mono_ms() < until) {
		pump_srv(5);
		if (bus_poll(cli, 5, &m) == 1) {
			bus_msg_clear(&m);
			fail_msg("unexpected message to h1");
		}
	}
}

/* The next message the client end receives, or fail. */
static void
recv_cli(struct codec_envelope *env)
{
	int64_t until = clock_mono_ms() + WAIT_MS;
	struct bus_msg m;

	memset(env, 0, sizeof(*env));
	while (clock_mono_ms() < until) {
		pump_srv(5);
		if (bus_poll(cli, 5, &m) == 1) {
			int rc = codec_envelope_decode(m.data, m.len,
			    SCHEMA_FROM_CONTROLLER, env);

			bus_msg_clear(&m);
			assert_int_equal(rc, 0);
			return;
		}
	}
	fail_msg("nothing received by h1");
}

static void
quiet_cli(int ms)
{
	int64_t until = clock_mono_ms() + ms;
	struct bus_msg m;

	while (clock_mono_ms() < until) {
		pump_srv(5);
		if (bus_poll(cli, 5, &m) == 1) {
			bus_msg_clear(&m);
			fail_msg("unexpected message to h1");
		}
	}
}

/* ---- setup ---------------------------------------------------------------- */

static int
setup(void **state)
{
	struct store_opts so = { 0 };
	struct bus_opts bo;

	(void)state;
	assert_non_null(mkdtemp(dir));
	so.path = dir;
	so.tables = db_tables;
	so.map_size = 64 << 20;
	so.sync = STORE_SYNC_NOMETASYNC;
	assert_non_null(st = store_open(&so));
	assert_int_equal(db_sync(st), 0);
	cfg = config_new(opts_controller);
	assert_int_equal(config_set(cfg, "network", "vni_ranges", "100:200"),
	    0);
	assert_non_null(conf = ipam_conf_new(cfg));
	bus_opts_init(&bo);
	bo.curve = 0;
	bo.endpoint = "tcp://127.0.0.1:*";
	assert_non_null(srv = bus_server_new(&bo));
	bus_opts_init(&bo);
	bo.curve = 0;
	bo.endpoint = bus_endpoint(srv);
	bo.identity = "h1";
	assert_non_null(cli = bus_client_new(&bo));
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until && !bus_client_connected(cli);) {
		struct bus_msg m;

		if (bus_poll(cli, 20, &m) == 1)
			bus_msg_clear(&m);
		if (bus_poll(srv, 20, &m) == 1)
			bus_msg_clear(&m);
	}
	assert_non_null(ns = netsync_new(cfg, st, srv, "ctl"));
	mkhv("h1", "192.0.2.1");
	mkhv("h2", "192.0.2.2");
	mkhv("h3", NULL);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	netsync_free(&ns);
	bus_free(&cli);
	bus_free(&srv);
	ipam_conf_free(&conf);
	config_free(&cfg);
	store_free(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- derivation ----------------------------------------------------------- */

static void
test_hostname_valid(void **state)
{
	(void)state;
	assert_true(netsync_hostname_valid("vm-1"));
	assert_true(netsync_hostname_valid("a.b-c.d"));
	assert_false(netsync_hostname_valid(""));
	assert_false(netsync_hostname_valid("-a"));
	assert_false(netsync_hostname_valid("a-"));
	assert_false(netsync_hostname_valid("a..b"));
	assert_false(netsync_hostname_valid("my vm"));
	assert_false(netsync_hostname_valid("a_b"));
}

static int
hostname_hook(const char *device_id, char *out, size_t len, void *arg)
{
	(void)arg;
	if (strcmp(device_id, "server-1") != 0)
		return -1;
	snprintf(out, len, "from-compute");
	return 0;
}

static int
port_dev_fn(struct store_txn *txn, void *arg)
{
	struct rec_port p, old;
	int rc;

	if (network_db_port_get(txn, arg, &old) == -1)
		return -1;
	if (network_db_port_get(txn, arg, &p) == -1) {
		codec_clear(&schema_rec_port, &old);
		return -1;
	}
	free(p.device_id);
	p.device_id = S("server-1");
	rc = network_db_port_put(txn, &p, &old);
	codec_clear(&schema_rec_port, &p);
	codec_clear(&schema_rec_port, &old);
	return rc;
}

static void
test_derive(void **state)
{
	const struct msg_host_network *m;

	(void)state;
	mknet(NETA, SUBA, "10.0.0.0/24");
	assert_int_equal(netsync_sync(ns, 1000), 0);
	/* Registered hosts without ports are told so (an empty state). */
	assert_int_equal(netsync_desired(ns, "h1")->generation, 1);
	assert_int_equal(netsync_desired(ns, "h1")->networks.n, 0);
	assert_null(netsync_desired(ns, "h9"));	/* unknown, no port */
	assert_string_equal(dhcp_ports(), "");

	/* One host: the network (VNI 100, MTU 1500 - 50), its subnet with
	 * the DHCP port's address (allocated first: .2, the gateway is .1),
	 * the port with its name as hostname; no peers. */
	mkport(P1, NETA, "h1", "vm-one", "fa:16:3e:00:00:01");
	assert_int_equal(netsync_sync(ns, 1000), 0);
	assert_string_equal(dhcp_ports(), "00a1/dhcp-h1/h1/10.0.0.3;");
	assert_string_equal(dump("h1"),
	    "{\"host\":\"h1\",\"generation\":2,\"networks\":[{\"id\":\""
	    NETA "\",\"type\":\"vxlan\",\"segmentation_id\":100,\"mtu\":1450"
	    "}],\"subnets\":[{\"id\":\"" SUBA "\",\"network_id\":\"" NETA
	    "\",\"cidr\":\"10.0.0.0/24\",\"ip_version\":4,\"gateway_ip\":"
	    "\"10.0.0.1\",\"enable_dhcp\":true,\"dhcp_address\":\"10.0.0.3\","
	    "\"dns_nameservers\":[\"192.0.2.53\"]}],\"ports\":[{\"id\":\"" P1
	    "\",\"network_id\":\"" NETA "\",\"mac\":\"fa:16:3e:00:00:01\","
	    "\"fixed_ips\":[{\"subnet_id\":\"" SUBA "\",\"ip_address\":"
	    "\"10.0.0.2\"}],\"hostname\":\"vm-one\"}]}");

	/* Nothing changed: same generation. */
	assert_int_equal(netsync_sync(ns, 2000), 0);
	assert_int_equal(netsync_desired(ns, "h1")->generation, 2);

	/* Second host on the same network: VXLAN peers both ways, a DHCP
	 * port of its own; h1's content changed (its peer), so generation
	 * 3. A name that is no host name gives "host-<ip>". */
	mkport(P2, NETA, "h2", "not a hostname", "fa:16:3e:00:00:02");
	assert_int_equal(netsync_sync(ns, 3000), 0);
	assert_string_equal(dhcp_ports(),
	    "00a1/dhcp-h1/h1/10.0.0.3;00a1/dhcp-h2/h2/10.0.0.5;");
	m = netsync_desired(ns, "h1");
	assert_int_equal(m->generation, 3);
	assert_int_equal(m->networks.items[0].vxlan_peers.n, 1);
	assert_string_equal(m->networks.items[0].vxlan_peers.items[0],
	    "192.0.2.2");
	m = netsync_desired(ns, "h2");
	assert_int_equal(m->generation, 2);
	assert_int_equal(m->networks.n, 1);
	assert_int_equal(m->networks.items[0].vxlan_peers.n, 1);
	assert_string_equal(m->networks.items[0].vxlan_peers.items[0],
	    "192.0.2.1");
	assert_string_equal(m->subnets.items[0].dhcp_address, "10.0.0.5");
	assert_int_equal(m->ports.n, 1);
	assert_string_equal(m->ports.items[0].hostname, "host-10-0-0-4");

	/* A host without an underlay address is nobody's peer. */
	mkport(P3, NETA, "h3", "vm-three", "fa:16:3e:00:00:03");
	assert_int_equal(netsync_sync(ns, 4000), 0);
	assert_int_equal(netsync_desired(ns, "h1")->generation, 3);
	assert_int_equal(netsync_desired(ns, "h3")->networks.items[0].
	    vxlan_peers.n, 2);

	/* The compute hook names the instance. */
	netsync_set_hostname(ns, hostname_hook, NULL);
	assert_int_equal(store_write(st, port_dev_fn, (void *)P1), 0);
	assert_int_equal(netsync_sync(ns, 5000), 0);
	m = netsync_desired(ns, "h1");
	assert_int_equal(m->generation, 4);
	assert_string_equal(m->ports.items[0].hostname, "from-compute");
	netsync_set_hostname(ns, NULL, NULL);

	/* A second network on h1 only: in id order, no peers. */
	mknet(NETB, SUBB, "10.1.0.0/24");
	mkport(P4, NETB, "h1", "vm-four", "fa:16:3e:00:00:04");
	assert_int_equal(netsync_sync(ns, 6000), 0);
	m = netsync_desired(ns, "h1");
	assert_int_equal(m->generation, 5);
	assert_int_equal(m->networks.n, 2);
	assert_string_equal(m->networks.items[0].id, NETA);
	assert_string_equal(m->networks.items[1].id, NETB);
	assert_int_equal(m->networks.items[1].vxlan_peers.n, 0);
	assert_int_equal(m->subnets.n, 2);
	assert_int_equal(m->ports.n, 2);

	/* The last port of h2 leaves: its DHCP port is released, its
	 * message is empty (the network must go), h1 loses the peer. */
	rmport(P2);
	rmport(P3);
	assert_int_equal(netsync_sync(ns, 7000), 0);
	assert_string_equal(dhcp_ports(),
	    "00a1/dhcp-h1/h1/10.0.0.3;00b1/dhcp-h1/h1/10.1.0.3;");
	m = netsync_desired(ns, "h2");
	assert_int_equal(m->generation, 3);
	assert_int_equal(m->networks.n, 0);
	assert_int_equal(m->ports.n, 0);
	m = netsync_desired(ns, "h1");
	assert_int_equal(m->generation, 6);
	assert_int_equal(m->networks.items[0].vxlan_peers.n, 0);
	rmport(P4);
	assert_int_equal(netsync_sync(ns, 8000), 0);
	assert_string_equal(dhcp_ports(), "00a1/dhcp-h1/h1/10.0.0.3;");
}

/* ---- security groups ------------------------------------------------------ */

#define NETC	"00000000-0000-4000-8000-0000000000c1"
#define SUBC	"00000000-0000-4000-8000-1000000000c1"
#define SGA	"00000000-0000-4000-8000-3000000000a1"
#define SGB	"00000000-0000-4000-8000-3000000000b1"
#define P5	"00000000-0000-4000-8000-200000000005"
#define P6	"00000000-0000-4000-8000-200000000006"
#define P7	"00000000-0000-4000-8000-200000000007"
#define P8	"00000000-0000-4000-8000-200000000008"

static int
sg_put(struct store_txn *txn, const char *id)
{
	struct rec_security_group g;
	int rc;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	g.project_id = S("p1");
	g.name = S("g");
	g.description = S("");
	g.stateful = true;
	rc = network_db_secgroup_put(txn, &g, NULL);
	codec_clear(&schema_rec_security_group, &g);
	return rc;
}

static int
rule_put(struct store_txn *txn, const char *group, const char *direction,
    const char *proto, int pmin, int pmax, const char *prefix,
    const char *remote)
{
	struct rec_security_group_rule r;
	int rc;

	memset(&r, 0, sizeof(r));
	db_uuid(r.id);
	snprintf(r.security_group_id, sizeof(r.security_group_id), "%s",
	    group);
	r.project_id = S("p1");
	r.direction = S(direction);
	r.ethertype = S("IPv4");
	r.protocol = S(proto);
	r.has_port_range_min = pmin >= 0;
	r.port_range_min = pmin >= 0 ? (uint32_t)pmin : 0;
	r.has_port_range_max = pmax >= 0;
	r.port_range_max = pmax >= 0 ? (uint32_t)pmax : 0;
	r.remote_ip_prefix = S(prefix);
	r.remote_group_id = S(remote);
	r.description = S("");
	rc = network_db_sgrule_put(txn, &r, NULL);
	codec_clear(&schema_rec_security_group_rule, &r);
	return rc;
}

static int
groups_fn(struct store_txn *txn, void *arg)
{
	(void)arg;
	if (sg_put(txn, SGA) == -1 || sg_put(txn, SGB) == -1 ||
	    rule_put(txn, SGA, "egress", NULL, -1, -1, NULL, NULL) == -1 ||
	    rule_put(txn, SGA, "ingress", "tcp", 22, 22, NULL, SGB) == -1 ||
	    rule_put(txn, SGB, "ingress", "icmp", 8, -1, "10.0.0.0/8",
	    NULL) == -1)
		return -1;
	return 0;
}

struct sgport {
	const char	*id, *host, *group, *pair;
	bool		 ps;
};

static int
sgport_fn(struct store_txn *txn, void *arg)
{
	struct sgport *r = arg;
	struct rec_port p;
	int rc;

	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", r->id);
	snprintf(p.network_id, sizeof(p.network_id), "%s", NETC);
	p.project_id = S("p1");
	p.name = S("sg");
	p.description = S("");
	p.status = S("DOWN");
	p.device_id = S("");
	p.device_owner = S("compute:nova");
	p.binding_host_id = S(r->host);
	p.binding_vnic_type = S("normal");
	p.binding_vif_type = S(r->host ? "bridge" : "unbound");
	p.port_security_enabled = r->ps;
	if (r->group != NULL) {
		p.security_groups.items = calloc(1, sizeof(char *));
		p.security_groups.items[0] = S(r->group);
		p.security_groups.n = 1;
	}
	if (r->pair != NULL) {
		p.allowed_address_pairs.items = calloc(1,
		    sizeof(*p.allowed_address_pairs.items));
		p.allowed_address_pairs.items[0].ip_address = S(r->pair);
		p.allowed_address_pairs.n = 1;
	}
	rc = ipam_port_create(txn, conf, &p, NULL, 0, false);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

static const struct sch_net_secgroup *
sg_of(const struct msg_host_network *m, const char *id)
{
	for (size_t i = 0; i < m->security_groups.n; i++)
		if (strcmp(m->security_groups.items[i].id, id) == 0)
			return &m->security_groups.items[i];
	return NULL;
}

static bool
has_str(char **items, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(items[i], s) == 0)
			return true;
	return false;
}

/*
 * A host gets the groups of its ports with port security and the remote
 * groups their rules name, with rules; members (fixed IPs and address
 * pairs of every port of the group, bound anywhere or not, with port
 * security) only for the remote ones; a change of membership elsewhere
 * changes the host's message.
 */
static void
test_secgroups(void **state)
{
	struct sgport p5 = { P5, "h2", SGA, "10.1.0.200", true };
	struct sgport p6 = { P6, "h3", SGB, NULL, true };
	struct sgport p7 = { P7, NULL, SGB, "10.1.0.201", true };
	struct sgport p8 = { P8, "h3", NULL, NULL, false };
	const struct msg_host_network *m;
	const struct sch_net_secgroup *a, *b;
	const struct sch_net_port *port6 = NULL, *port8 = NULL;
	char p6ip[64];
	uint64_t gen;

	(void)state;
	mknet(NETC, SUBC, "10.1.0.0/24");
	assert_int_equal(store_write(st, groups_fn, NULL), 0);
	assert_int_equal(store_write(st, sgport_fn, &p5), 0);
	assert_int_equal(store_write(st, sgport_fn, &p6), 0);
	assert_int_equal(store_write(st, sgport_fn, &p7), 0);
	assert_int_equal(store_write(st, sgport_fn, &p8), 0);
	assert_int_equal(netsync_sync(ns, 20000), 0);

	m = netsync_desired(ns, "h3");
	for (size_t i = 0; i < m->ports.n; i++) {
		if (strcmp(m->ports.items[i].id, P6) == 0)
			port6 = &m->ports.items[i];
		if (strcmp(m->ports.items[i].id, P8) == 0)
			port8 = &m->ports.items[i];
	}
	assert_non_null(port6);
	assert_non_null(port8);
	snprintf(p6ip, sizeof(p6ip), "%s", port6->fixed_ips.items[0].ip_address);
	assert_true(port6->has_port_security && port6->port_security);
	assert_int_equal(port6->security_groups.n, 1);
	assert_string_equal(port6->security_groups.items[0], SGB);
	assert_false(port8->has_port_security);
	assert_int_equal(port8->security_groups.n, 0);
	/* h3 needs SGB only: its rules name no remote group, no members. */
	assert_int_equal(m->security_groups.n, 1);
	b = sg_of(m, SGB);
	assert_non_null(b);
	assert_int_equal(b->rules.n, 1);
	assert_string_equal(b->rules.items[0].protocol, "icmp");
	assert_true(b->rules.items[0].has_port_min);
	assert_int_equal(b->rules.items[0].port_min, 8);
	assert_false(b->rules.items[0].has_port_max);
	assert_string_equal(b->rules.items[0].remote_ip_prefix, "10.0.0.0/8");
	assert_int_equal(b->members.n, 0);

	/* h2: SGA (its port's) and SGB (named by SGA's rule), in id order;
	 * SGB's members are P6's and P7's addresses, P7's pair included. */
	m = netsync_desired(ns, "h2");
	assert_int_equal(m->ports.n, 1);
	assert_true(m->ports.items[0].port_security);
	assert_int_equal(m->ports.items[0].address_pairs.n, 1);
	assert_string_equal(m->ports.items[0].address_pairs.items[0].ip,
	    "10.1.0.200");
	assert_null(m->ports.items[0].address_pairs.items[0].mac);
	assert_int_equal(m->security_groups.n, 2);
	assert_string_equal(m->security_groups.items[0].id, SGA);
	assert_string_equal(m->security_groups.items[1].id, SGB);
	a = sg_of(m, SGA);
	b = sg_of(m, SGB);
	assert_int_equal(a->rules.n, 2);
	assert_int_equal(a->members.n, 0);
	assert_int_equal(b->rules.n, 1);
	assert_int_equal(b->members.n, 3);
	assert_true(has_str(b->members.items, b->members.n, p6ip));
	assert_true(has_str(b->members.items, b->members.n, "10.1.0.201"));
	assert_false(has_str(b->members.items, b->members.n, "10.1.0.200"));
	gen = m->generation;

	/* Nothing changed: same generation; P6 leaves SGB's members: h2's
	 * message changes though none of its ports did. */
	assert_int_equal(netsync_sync(ns, 21000), 0);
	assert_int_equal(netsync_desired(ns, "h2")->generation, gen);
	rmport(P6);
	assert_int_equal(netsync_sync(ns, 22000), 0);
	m = netsync_desired(ns, "h2");
	assert_int_equal(m->generation, gen + 1);
	b = sg_of(m, SGB);
	assert_int_equal(b->members.n, 2);
	assert_false(has_str(b->members.items, b->members.n, p6ip));

	rmport(P5);
	rmport(P7);
	rmport(P8);
	assert_int_equal(netsync_sync(ns, 23000), 0);
	assert_int_equal(netsync_desired(ns, "h2")->security_groups.n, 0);
}

/* ---- round trip ----------------------------------------------------------- */

static int
post_cli(const void *buf, size_t len, void *arg)
{
	(void)arg;
	return bus_post(cli, NULL, buf, len);
}

static void
test_roundtrip(void **state)
{
	char tmpl[] = "/tmp/netsync_rt.XXXXXX", sdir[64];
	struct netconv_config nc_cfg = { .host = "h1", .local_ip = "192.0.2.1" };
	struct linkrec *rec;
	struct proc_recorder *prec;
	struct link *l;
	struct netconv *nc;
	struct netsvc *svc;
	struct codec_envelope env;
	uint64_t gen;
	int64_t now = 100000;
	char cmd[128];

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(sdir, sizeof(sdir), "%s/dhcp", tmpl);
	nc_cfg.dhcp.state_dir = sdir;
	nc_cfg.dhcp.pid_wait_ms = 1;
	assert_non_null(prec = proc_recorder_new());
	assert_non_null(l = linkrec_new(&rec));
	assert_non_null(nc = netconv_new(&nc_cfg, &l));
	/* A long tick: only the controller's messages converge here. */
	assert_non_null(svc = netsvc_new(&nc, "h1", 600000, post_cli, NULL));

	/* h1 has P1 on network A (left by test_derive). A hello sends its
	 * state at once; the worker applies it and answers. */
	netsync_hello(ns, "h1", now);
	gen = netsync_desired(ns, "h1")->generation;
	recv_cli(&env);
	assert_ptr_equal(env.type, &schema_msg_host_network);
	assert_int_equal(((struct msg_host_network *)env.body)->generation,
	    gen);
	assert_int_equal(netsvc_handle(svc, &env), 1);
	codec_envelope_clear(&env);
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until && netsync_applied(ns, "h1") != gen;)
		pump_both(20);
	assert_int_equal(netsync_applied(ns, "h1"), gen);
	assert_non_null(strstr(linkrec_text(rec), "vxlan"));
	assert_non_null(strstr(proc_recorder_text(prec), "dnsmasq"));

	/* Applied: nothing more is sent, even after the back-off. */
	netsync_send_due(ns, now + 5000);
	quiet_cli(200);

	/* A change; the message is lost on the way. */
	mkport(P2, NETA, "h1", "vm-two", "fa:16:3e:00:00:12");
	assert_int_equal(netsync_sync(ns, now + 6000), 0);
	assert_int_equal(netsync_desired(ns, "h1")->generation, gen + 1);
	netsync_send_due(ns, now + 6000);
	recv_cli(&env);			/* dropped */
	codec_envelope_clear(&env);
	/* Not before the back-off (1 s) ... */
	netsync_send_due(ns, now + 6500);
	quiet_cli(200);
	assert_int_equal(netsync_applied(ns, "h1"), gen);
	/* ... then again, same generation, and it converges. */
	netsync_send_due(ns, now + 7100);
	recv_cli(&env);
	assert_int_equal(((struct msg_host_network *)env.body)->generation,
	    gen + 1);
	assert_int_equal(((struct msg_host_network *)env.body)->ports.n, 2);
	assert_int_equal(netsvc_handle(svc, &env), 1);
	codec_envelope_clear(&env);
	for (int64_t until = clock_mono_ms() + WAIT_MS;
	    clock_mono_ms() < until && netsync_applied(ns, "h1") != gen + 1;)
		pump_both(20);
	assert_int_equal(netsync_applied(ns, "h1"), gen + 1);

	/* An agent ahead of this controller (a previous one's generations)
	 * makes it renumber past that and send again. */
	{
		struct msg_host_network_state s = { .generation = gen + 50 };
		struct codec_envelope e = { .type =
		    &schema_msg_host_network_state, .body = &s };

		assert_int_equal(netsync_agent_msg(ns, "h1", &e), 1);
	}
	assert_int_equal(netsync_desired(ns, "h1")->generation, gen + 51);
	netsync_send_due(ns, now + 8000);
	recv_cli(&env);
	assert_int_equal(((struct msg_host_network *)env.body)->generation,
	    gen + 51);
	codec_envelope_clear(&env);

	netsvc_free(&svc);
	proc_recorder_free(&prec);
	rmport(P2);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	assert_int_equal(system(cmd), 0);
}

/* A committed change wakes the bus thread (the fd is readable) and the
 * wake-up derives at once, at most once per NETSYNC_WAKE_GAP_MS. Last in
 * the group: it adds a network of its own to what the others left. */
#define NETW	"00000000-0000-4000-8000-0000000000e1"
#define SUBW	"00000000-0000-4000-8000-1000000000e1"
#define PW	"00000000-0000-4000-8000-2000000000e1"
static void
test_wake(void **state)
{
	struct pollfd pfd = { .fd = netsync_wake_fd(ns), .events = POLLIN };
	uint64_t gen;

	(void)state;
	assert_int_equal(netsync_sync(ns, 100000), 0);
	assert_int_equal(netsync_pending(ns), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	gen = netsync_desired(ns, "h1")->generation;
	mknet(NETW, SUBW, "10.9.0.0/24");
	mkport(PW, NETW, "h1", "vm-wake", "fa:16:3e:00:00:e1");
	netsync_changed(ns);
	assert_int_equal(netsync_pending(ns), 1);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	/* Inside the gap after the last derivation: left for later. */
	netsync_woken(ns, 100000 + NETSYNC_WAKE_GAP_MS - 1);
	assert_int_equal(poll(&pfd, 1, 0), 0);	/* drained */
	assert_int_equal(netsync_pending(ns), 1);
	assert_int_equal(netsync_desired(ns, "h1")->generation, gen);
	/* After it: derived now, a new generation for h1. */
	netsync_changed(ns);
	netsync_woken(ns, 100000 + NETSYNC_WAKE_GAP_MS);
	assert_int_equal(netsync_pending(ns), 0);
	assert_true(netsync_desired(ns, "h1")->generation > gen);
	gen = netsync_desired(ns, "h1")->generation;
	/* Nothing changed: a stray wake-up derives nothing. */
	netsync_woken(ns, 200000);
	assert_int_equal(netsync_pending(ns), 0);
	assert_int_equal(netsync_desired(ns, "h1")->generation, gen);
}

/* ---- routers -------------------------------------------------------------- */

#define NETR	"00000000-0000-4000-8000-0000000000f1"
#define SUBR	"00000000-0000-4000-8000-1000000000f1"
#define NETX	"00000000-0000-4000-8000-0000000000d1"
#define SUBX	"00000000-0000-4000-8000-1000000000d1"
#define RTR	"00000000-0000-4000-8000-3000000000c1"
#define FIP	"00000000-0000-4000-8000-4000000000c1"
#define PR1	"00000000-0000-4000-8000-2000000000c1"
#define PR2	"00000000-0000-4000-8000-2000000000c2"
#define PRIF	"00000000-0000-4000-8000-2000000000c3"
#define PRGW	"00000000-0000-4000-8000-2000000000c4"
#define PRFP	"00000000-0000-4000-8000-2000000000c5"
/* A second interface network, with a port on h2 only. */
#define NETR2	"00000000-0000-4000-8000-0000000000f2"
#define SUBR2	"00000000-0000-4000-8000-1000000000f2"
#define PRIF2	"00000000-0000-4000-8000-2000000000c6"
#define PR3	"00000000-0000-4000-8000-2000000000c7"

static int
ext_fn(struct store_txn *txn, void *arg)
{
	struct rec_network n, old;
	int rc;

	(void)arg;
	if (network_db_network_get(txn, NETX, &n) == -1 ||
	    network_db_network_get(txn, NETX, &old) == -1)
		return -1;
	n.router_external = true;
	rc = network_db_network_put(txn, &n, &old);
	codec_clear(&schema_rec_network, &n);
	codec_clear(&schema_rec_network, &old);
	return rc;
}

/* A port of the router or the floating IP, as network_routers.c and
 * network_floatingips.c make them: unbound, its address from ipam. */
static int
l3port(struct store_txn *txn, const char *id, const char *net,
    const char *sub, const char *ip, const char *device, const char *owner)
{
	struct ipam_ip_req r = { .subnet_id = sub, .ip_address = ip };
	struct rec_port p;
	int rc;

	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", id);
	snprintf(p.network_id, sizeof(p.network_id), "%s", net);
	p.project_id = S("");
	p.name = S("");
	p.description = S("");
	p.status = S("ACTIVE");
	p.device_id = S(device);
	p.device_owner = S(owner);
	p.binding_vnic_type = S("normal");
	p.binding_vif_type = S("unbound");
	rc = ipam_port_create(txn, conf, &p, &r, 1, true);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

static int
router_fn(struct store_txn *txn, void *arg)
{
	struct rec_router r;
	struct rec_floatingip f;
	int rc;

	(void)arg;
	if (l3port(txn, PRIF, NETR, SUBR, "10.7.0.1", RTR,
	    "network:router_interface") == -1 ||
	    l3port(txn, PRIF2, NETR2, SUBR2, "10.8.0.1", RTR,
	    "network:router_interface") == -1 ||
	    l3port(txn, PRGW, NETX, SUBX, "198.51.100.10", RTR,
	    "network:router_gateway") == -1 ||
	    l3port(txn, PRFP, NETX, SUBX, "198.51.100.20", FIP,
	    "network:floatingip") == -1)
		return -1;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", RTR);
	r.project_id = S("p1");
	r.name = S("r");
	r.description = S("");
	r.status = S("ACTIVE");
	r.admin_state_up = true;
	r.enable_snat = true;
	r.gw_network_id = S(NETX);
	r.gw_port_id = S(PRGW);
	r.routes.items = calloc(1, sizeof(*r.routes.items));
	r.routes.items[0].destination = S("192.168.9.0/24");
	r.routes.items[0].nexthop = S("10.7.0.9");
	r.routes.n = 1;
	rc = network_db_router_put(txn, &r, NULL);
	codec_clear(&schema_rec_router, &r);
	if (rc == -1)
		return -1;
	/* h2's port has the floating IP. */
	memset(&f, 0, sizeof(f));
	snprintf(f.id, sizeof(f.id), "%s", FIP);
	snprintf(f.floating_network_id, sizeof(f.floating_network_id), "%s",
	    NETX);
	snprintf(f.floating_port_id, sizeof(f.floating_port_id), "%s", PRFP);
	f.project_id = S("p1");
	f.floating_ip_address = S("198.51.100.20");
	f.port_id = S(PR2);
	f.fixed_ip_address = S("10.7.0.5");
	f.router_id = S(RTR);
	f.status = S("ACTIVE");
	f.description = S("");
	rc = network_db_floatingip_put(txn, &f, NULL);
	codec_clear(&schema_rec_floatingip, &f);
	return rc;
}

static const struct sch_net_router *
router_of(const struct msg_host_network *m, const char *id)
{
	for (size_t i = 0; i < m->routers.n; i++)
		if (strcmp(m->routers.items[i].id, id) == 0)
			return &m->routers.items[i];
	return NULL;
}

static bool
has_net(const struct msg_host_network *m, const char *id)
{
	for (size_t i = 0; i < m->networks.n; i++)
		if (strcmp(m->networks.items[i].id, id) == 0)
			return true;
	return false;
}

static void
test_routers(void **state)
{
	const struct msg_host_network *m;
	const struct sch_net_router *r;

	(void)state;
	mknet(NETR, SUBR, "10.7.0.0/24");
	mknet(NETX, SUBX, "198.51.100.0/24");
	mknet(NETR2, SUBR2, "10.8.0.0/24");
	assert_int_equal(store_write(st, ext_fn, NULL), 0);
	mkport(PR1, NETR, "h1", "vm-r1", "fa:16:3e:00:00:c1");
	mkport(PR2, NETR, "h2", "vm-r2", "fa:16:3e:00:00:c2");
	mkport(PR3, NETR2, "h2", "vm-r3", "fa:16:3e:00:00:c3");
	assert_int_equal(store_write(st, router_fn, NULL), 0);
	assert_int_equal(netsync_sync(ns, 300000), 0);

	/* Both hosts carry the router with the interface, gateway and
	 * route; the external network comes with it; SNAT on h1 (lowest
	 * name); the floating IP only where its port is (h2). */
	m = netsync_desired(ns, "h1");
	assert_non_null(r = router_of(m, RTR));
	assert_true(has_net(m, NETX));
	/* Routed on the sender's host (DVR): h1 has the interface on
	 * NETR2 too, and NETR2 itself, though its only port is on h2; every
	 * port of both subnets is a neighbour, the router's own are not. */
	assert_int_equal(r->interfaces.n, 2);
	assert_string_equal(r->interfaces.items[0].ip_address, "10.7.0.1");
	assert_string_equal(r->interfaces.items[0].subnet_id, SUBR);
	assert_string_equal(r->interfaces.items[1].ip_address, "10.8.0.1");
	assert_true(has_net(m, NETR2));
	{
		int c1 = 0, c3 = 0, own = 0;

		for (size_t i = 0; i < r->neighbors.n; i++) {
			const struct sch_net_neighbor *nb =
			    &r->neighbors.items[i];

			c1 += strcmp(nb->mac, "fa:16:3e:00:00:c1") == 0 &&
			    strncmp(nb->ip, "10.7.0.", 7) == 0;
			c3 += strcmp(nb->mac, "fa:16:3e:00:00:c3") == 0 &&
			    strncmp(nb->ip, "10.8.0.", 7) == 0;
			own += strcmp(nb->ip, "10.7.0.1") == 0 ||
			    strcmp(nb->ip, "10.8.0.1") == 0;
		}
		assert_int_equal(c1, 1);
		assert_int_equal(c3, 1);
		assert_int_equal(own, 0);
	}
	assert_string_equal(r->gateway_network_id, NETX);
	assert_string_equal(r->gateway_subnet_id, SUBX);
	assert_string_equal(r->gateway_ip, "198.51.100.10");
	assert_true(r->has_enable_snat && r->enable_snat);
	assert_true(r->has_snat_host && r->snat_host);
	assert_int_equal(r->routes.n, 1);
	assert_string_equal(r->routes.items[0].nexthop, "10.7.0.9");
	assert_int_equal(r->floatingips.n, 0);

	m = netsync_desired(ns, "h2");
	assert_non_null(r = router_of(m, RTR));
	assert_true(has_net(m, NETX));
	assert_true(r->has_snat_host && !r->snat_host);
	assert_int_equal(r->floatingips.n, 1);
	assert_string_equal(r->floatingips.items[0].floating_ip,
	    "198.51.100.20");
	assert_string_equal(r->floatingips.items[0].fixed_ip, "10.7.0.5");
	assert_string_equal(r->floatingips.items[0].port_id, PR2);

	/* h1's last port behind the router leaves: the router and the
	 * external network leave h1, SNAT moves to h2. */
	rmport(PR1);
	assert_int_equal(netsync_sync(ns, 301000), 0);
	m = netsync_desired(ns, "h1");
	assert_null(router_of(m, RTR));
	assert_false(has_net(m, NETX));
	assert_false(has_net(m, NETR2));
	r = router_of(netsync_desired(ns, "h2"), RTR);
	assert_non_null(r);
	assert_true(r->snat_host);
}

#define NETM	"00000000-0000-4000-8000-000000000091"
#define SUBM	"00000000-0000-4000-8000-100000000091"
#define PM1	"00000000-0000-4000-8000-200000000091"
#define PM2	"00000000-0000-4000-8000-200000000092"

/* Hosts are found by hash (the table grows past 64 and 128 entries here);
 * each keeps its own underlay address, which a port makes visible as its
 * peer's VXLAN peer. Last: it adds hosts the other tests do not expect. */
static void
test_many_hosts(void **state)
{
	const struct msg_host_network *m;
	char host[32], ip[32];

	(void)state;
	for (int i = 0; i < 200; i++) {
		snprintf(host, sizeof(host), "many%d", i);
		snprintf(ip, sizeof(ip), "198.18.%d.%d", i / 250, i % 250 + 1);
		mkhv(host, ip);
	}
	assert_int_equal(netsync_sync(ns, 90000), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(host, sizeof(host), "many%d", i);
		assert_non_null(netsync_desired(ns, host));
	}
	assert_null(netsync_desired(ns, "many200"));
	mknet(NETM, SUBM, "10.9.0.0/24");
	mkport(PM1, NETM, "many7", "vm-m1", "fa:16:3e:00:00:d1");
	mkport(PM2, NETM, "many199", "vm-m2", "fa:16:3e:00:00:d2");
	assert_int_equal(netsync_sync(ns, 91000), 0);
	m = netsync_desired(ns, "many7");
	assert_non_null(m);
	assert_true(has_net(m, NETM));
	for (size_t k = 0; k < m->networks.n; k++)
		if (strcmp(m->networks.items[k].id, NETM) == 0) {
			assert_int_equal(m->networks.items[k].vxlan_peers.n, 1);
			assert_string_equal(m->networks.items[k].vxlan_peers.
			    items[0], "198.18.0.200");
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostname_valid),
		cmocka_unit_test(test_derive),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_wake),
		cmocka_unit_test(test_secgroups),
		cmocka_unit_test(test_routers),
		cmocka_unit_test(test_many_hosts),
	};

	log_set_level(LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
