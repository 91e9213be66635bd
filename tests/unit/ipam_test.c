/*
 * ipam_test: controller/network/ipam.c over a real LMDB store. CIDR parsing
 * and subnet defaults and validation with Neutron's messages; address
 * allocation order, release and reuse, exhaustion, IPv6; MACs; segments
 * from ranges and provider requests; and the race: 200 threads creating
 * ports on one /24 through store_write() get every pool address exactly
 * once and clean 409s after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "network/ipam.h"
#include "network/network_db.h"
#include "opts.h"
#include "store.h"

static char		 dir[] = "/tmp/ipam_test.XXXXXX";
static struct store	*st;
static struct config	*cfg;
static struct ipam_conf	*conf;

#define NET(c)	"00000000-0000-4000-8000-0000000000" c	/* c: 2 hex */
#define SUB(c)	"00000000-0000-4000-8000-1000000000" c
#define PORT_FMT "00000000-0000-4000-8000-2000%08x"

static char *
S(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Expect the last call to have failed with code and exactly msg. */
#define assert_err(rc, code, msg) do {					\
	assert_int_equal((rc), -1);					\
	assert_int_equal(err_code(), (code));				\
	assert_string_equal(err_msg(), (msg));				\
} while (0)

/* ---- networks ------------------------------------------------------------ */

struct netreq {
	const char			*id;
	const struct ipam_segment_req	*prov;
	uint32_t			 mtu;
	struct rec_network		 out;
};

static int
net_fn(struct store_txn *txn, void *arg)
{
	struct netreq *r = arg;
	struct rec_network *n = &r->out;

	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", r->id);
	n->project_id = S("p1");
	n->name = S("net");
	n->description = S("");
	n->status = S("ACTIVE");
	n->admin_state_up = true;
	n->mtu = r->mtu;
	return ipam_network_create(txn, conf, n, r->prov);
}

static int
mknet(const char *id, const struct ipam_segment_req *prov,
    struct rec_network *out)
{
	struct netreq r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.prov = prov;
	rc = store_write(st, net_fn, &r);

	if (out != NULL)
		*out = r.out;
	else
		codec_clear(&schema_rec_network, &r.out);
	return rc;
}

static int
netdel_fn(struct store_txn *txn, void *arg)
{
	struct rec_network n;
	int rc;

	if (network_db_network_get(txn, arg, &n) == -1)
		return -1;
	rc = ipam_network_delete(txn, &n);
	codec_clear(&schema_rec_network, &n);
	return rc;
}

/* ---- subnets ------------------------------------------------------------- */

struct subreq {
	const char		*id, *net, *cidr;
	unsigned		 ipv;
	enum ipam_gateway	 gw;
	const char		*gw_ip;
	const char *const	*pools;		/* start, end, ..., NULL */
	const char *const	*dns;
	const char *const	*routes;	/* dest, nexthop, ..., NULL */
	bool			 create;
	struct rec_subnet	 out;
};

static size_t
count_strs(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static void
subnet_fill(struct rec_subnet *s, const struct subreq *r)
{
	size_t n;

	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", r->id ? r->id : "");
	snprintf(s->network_id, sizeof(s->network_id), "%s",
	    r->net ? r->net : NET("01"));
	s->project_id = S("p1");
	s->name = S("sub");
	s->description = S("");
	s->ip_version = r->ipv ? r->ipv : 4;
	s->cidr = S(r->cidr);
	s->gateway_ip = S(r->gw_ip);
	s->enable_dhcp = true;
	if ((n = count_strs(r->pools) / 2) > 0) {
		s->allocation_pools.items = calloc(n,
		    sizeof(*s->allocation_pools.items));
		for (size_t j = 0; j < n; j++) {
			s->allocation_pools.items[j].start = S(r->pools[2 * j]);
			s->allocation_pools.items[j].end = S(r->pools[2 * j + 1]);
		}
		s->allocation_pools.n = n;
	}
	if ((n = count_strs(r->dns)) > 0) {
		s->dns_nameservers.items = calloc(n, sizeof(char *));
		for (size_t j = 0; j < n; j++)
			s->dns_nameservers.items[j] = S(r->dns[j]);
		s->dns_nameservers.n = n;
	}
	if ((n = count_strs(r->routes) / 2) > 0) {
		s->host_routes.items = calloc(n, sizeof(*s->host_routes.items));
		for (size_t j = 0; j < n; j++) {
			s->host_routes.items[j].destination =
			    S(r->routes[2 * j]);
			s->host_routes.items[j].nexthop =
			    S(r->routes[2 * j + 1]);
		}
		s->host_routes.n = n;
	}
}

/* Prepare (and create, when r->create) a subnet; r->out keeps the result. */
static int
sub_fn(struct store_txn *txn, void *arg)
{
	struct subreq *r = arg;

	subnet_fill(&r->out, r);
	if (ipam_subnet_prepare(conf, &r->out, r->gw, count_strs(r->pools) >
	    0) == -1)
		return -1;
	return r->create ? ipam_subnet_create(txn, &r->out) : 0;
}

static int
prep(struct subreq *r)
{
	int rc = store_write(st, sub_fn, r);

	return rc;
}

static void
sub_clear(struct subreq *r)
{
	codec_clear(&schema_rec_subnet, &r->out);
}

static int
mksub(const char *id, const char *net, const char *cidr)
{
	struct subreq r = { .id = id, .net = net, .cidr = cidr,
	    .ipv = strchr(cidr, ':') ? 6 : 4, .create = true };
	int rc = prep(&r);

	sub_clear(&r);
	return rc;
}

/* ---- ports --------------------------------------------------------------- */

struct portreq {
	char			 id[CODEC_UUID_LEN + 1];
	const char		*net;
	const char		*mac;
	const struct ipam_ip_req *reqs;
	size_t			 nreq;
	bool			 given;
	struct rec_port		 out;
};

static int
port_fn(struct store_txn *txn, void *arg)
{
	struct portreq *r = arg;
	struct rec_port *p = &r->out;

	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", r->id);
	snprintf(p->network_id, sizeof(p->network_id), "%s", r->net);
	p->project_id = S("p1");
	p->name = S("");
	p->description = S("");
	p->mac_address = S(r->mac);
	p->status = S("DOWN");
	p->device_id = S("");
	p->device_owner = S("");
	p->binding_vnic_type = S("normal");
	p->binding_vif_type = S("unbound");
	return ipam_port_create(txn, conf, p, r->reqs, r->nreq, r->given);
}

static unsigned port_seq;

/* Create a port; ip (if not NULL, IPAM_ADDR_STRLEN) gets its first fixed
 * address. */
static int
mkport(const char *net, const struct ipam_ip_req *reqs, size_t nreq,
    bool given, const char *mac, char *ip, char *id_out)
{
	struct portreq r = { .net = net, .mac = mac, .reqs = reqs,
	    .nreq = nreq, .given = given };
	int rc;

	snprintf(r.id, sizeof(r.id), PORT_FMT, __atomic_add_fetch(&port_seq,
	    1, __ATOMIC_RELAXED));
	rc = store_write(st, port_fn, &r);
	if (rc == 0 && ip != NULL)
		snprintf(ip, IPAM_ADDR_STRLEN, "%s", r.out.fixed_ips.n ?
		    r.out.fixed_ips.items[0].ip_address : "");
	if (id_out != NULL)
		snprintf(id_out, CODEC_UUID_LEN + 1, "%s", r.id);
	codec_clear(&schema_rec_port, &r.out);
	return rc;
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

static struct rec_port *
getport(const char *id)
{
	static struct rec_port p;
	struct store_txn *txn = NULL;

	codec_clear(&schema_rec_port, &p);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_port_get(txn, id, &p), 0);
	store_txn_end(&txn);
	return &p;
}

/* ---- tests: pure logic --------------------------------------------------- */

static void
test_cidr(void **state)
{
	struct ipam_cidr c;
	char b[IPAM_ADDR_STRLEN];

	assert_int_equal(ipam_cidr_parse("10.0.0.5/24", 4, &c), 0);
	assert_string_equal(ipam_cidr_format(&c, b), "10.0.0.0/24");
	assert_int_equal(ipam_cidr_parse("2001:DB8::1/64", 0, &c), 0);
	assert_string_equal(ipam_cidr_format(&c, b), "2001:db8::/64");
	assert_int_equal(c.net.version, 6);
	assert_err(ipam_cidr_parse("10.0.2.0", 4, &c), TS_EINVALID,
	    "Invalid input for cidr. Reason: '10.0.2.0' isn't a recognized "
	    "IP subnet cidr, '10.0.2.0/32' is recommended.");
	assert_err(ipam_cidr_parse("10.0.0.0/33", 4, &c), TS_EINVALID,
	    "Invalid input for cidr. Reason: '10.0.0.0/33' is not a valid IP "
	    "subnet.");
	assert_err(ipam_cidr_parse("10.0.0/24", 4, &c), TS_EINVALID,
	    "Invalid input for cidr. Reason: '10.0.0/24' is not a valid IP "
	    "subnet.");
	assert_err(ipam_cidr_parse("0.0.0.0/0", 4, &c), TS_EINVALID,
	    "Invalid input for operation: 0 is not allowed as CIDR prefix "
	    "length.");
	assert_err(ipam_cidr_parse("2001:db8::/64", 4, &c), TS_EINVALID,
	    "Invalid input for operation: cidr '2001:db8::/64' does not match "
	    "the ip_version '4'.");
}

static void
assert_pools(const struct rec_subnet *s, const char *want)
{
	char got[512] = "";

	for (size_t j = 0; j < s->allocation_pools.n; j++) {
		size_t l = strlen(got);

		snprintf(got + l, sizeof(got) - l, "%s%s-%s", j ? " " : "",
		    s->allocation_pools.items[j].start,
		    s->allocation_pools.items[j].end);
	}
	assert_string_equal(got, want);
}

static void
test_subnet_defaults(void **state)
{
	struct subreq r = { .cidr = "10.0.0.7/24" };

	assert_int_equal(prep(&r), 0);
	assert_string_equal(r.out.cidr, "10.0.0.0/24");
	assert_string_equal(r.out.gateway_ip, "10.0.0.1");
	assert_pools(&r.out, "10.0.0.2-10.0.0.254");
	sub_clear(&r);

	r.gw = IPAM_GW_NONE;
	assert_int_equal(prep(&r), 0);
	assert_null(r.out.gateway_ip);
	assert_pools(&r.out, "10.0.0.1-10.0.0.254");
	sub_clear(&r);

	r.gw = IPAM_GW_GIVEN;
	r.gw_ip = "10.0.0.100";
	assert_int_equal(prep(&r), 0);
	assert_pools(&r.out, "10.0.0.1-10.0.0.99 10.0.0.101-10.0.0.254");
	sub_clear(&r);

	/* A gateway outside the subnet is allowed (on-link), as Neutron. */
	r.gw_ip = "192.168.0.1";
	assert_int_equal(prep(&r), 0);
	assert_pools(&r.out, "10.0.0.1-10.0.0.254");
	sub_clear(&r);

	r = (struct subreq){ .cidr = "2001:DB8::/64", .ipv = 6 };
	assert_int_equal(prep(&r), 0);
	assert_string_equal(r.out.gateway_ip, "2001:db8::1");
	assert_pools(&r.out, "2001:db8::2-2001:db8::ffff:ffff:ffff:ffff");
	sub_clear(&r);

	r = (struct subreq){ .cidr = "10.9.0.0/31" };
	assert_int_equal(prep(&r), 0);
	assert_null(r.out.gateway_ip);
	assert_pools(&r.out, "");
	sub_clear(&r);

	/* Given pools are sorted and written canonically. */
	r = (struct subreq){ .cidr = "10.0.0.0/24", .pools = (const char *[]){
	    "10.0.0.200", "10.0.0.210", "10.0.0.020", "10.0.0.30", NULL } };
	r.out.cidr = NULL;
	assert_int_equal(prep(&r), -1);	/* "10.0.0.020" is not an address */
	r.pools = (const char *[]){ "10.0.0.200", "10.0.0.210", "10.0.0.20",
	    "10.0.0.30", NULL };
	sub_clear(&r);
	assert_int_equal(prep(&r), 0);
	assert_pools(&r.out, "10.0.0.20-10.0.0.30 10.0.0.200-10.0.0.210");
	sub_clear(&r);
}

struct bad {
	struct subreq	 r;
	enum ts_errcode	 code;
	const char	*msg;
};

static void
test_subnet_validation(void **state)
{
	static const char *dns6[] = { "1.1.1.1", "1.1.1.2", "1.1.1.3",
	    "1.1.1.4", "1.1.1.5", "1.1.1.6", NULL };
	struct bad v[] = {
		{ { .cidr = "10.0.0.0/24", .pools = (const char *[]){
		    "10.0.0.2", "10.0.1.10", NULL } }, TS_EINVALID,
		  "The allocation pool 10.0.0.2-10.0.1.10 spans beyond the "
		  "subnet cidr 10.0.0.0/24." },
		{ { .cidr = "10.0.0.0/24", .pools = (const char *[]){
		    "10.0.0.0", "10.0.0.10", NULL } }, TS_EINVALID,
		  "The allocation pool 10.0.0.0-10.0.0.10 spans beyond the "
		  "subnet cidr 10.0.0.0/24." },
		{ { .cidr = "10.0.0.0/24", .pools = (const char *[]){
		    "10.0.0.200", "10.0.0.255", NULL } }, TS_EINVALID,
		  "The allocation pool 10.0.0.200-10.0.0.255 spans beyond the "
		  "subnet cidr 10.0.0.0/24." },
		{ { .cidr = "10.0.0.0/24", .pools = (const char *[]){
		    "10.0.0.20", "10.0.0.10", NULL } }, TS_EINVALID,
		  "The allocation pool 10.0.0.20-10.0.0.10 is not valid." },
		{ { .cidr = "10.0.0.0/24", .pools = (const char *[]){
		    "10.0.0.2", "2001:db8::1", NULL } }, TS_EINVALID,
		  "The allocation pool 10.0.0.2-2001:db8::1 is not valid." },
		{ { .cidr = "10.0.0.0/24", .pools = (const char *[]){
		    "10.0.0.2", "10.0.0.50", "10.0.0.40", "10.0.0.60",
		    NULL } }, TS_ECONFLICT,
		  "Found overlapping allocation pools: 10.0.0.2-10.0.0.50 "
		  "10.0.0.40-10.0.0.60 for subnet 10.0.0.0/24." },
		{ { .cidr = "10.0.0.0/24", .gw = IPAM_GW_GIVEN,
		    .gw_ip = "10.0.0.5", .pools = (const char *[]){
		    "10.0.0.2", "10.0.0.50", NULL } }, TS_ECONFLICT,
		  "Gateway ip 10.0.0.5 conflicts with allocation pool "
		  "10.0.0.2-10.0.0.50." },
		{ { .cidr = "10.0.0.0/24", .pools = (const char *[]){
		    "10.0.0.1", "10.0.0.50", NULL } }, TS_ECONFLICT,
		  "Gateway ip 10.0.0.1 conflicts with allocation pool "
		  "10.0.0.1-10.0.0.50." },
		{ { .cidr = "10.0.0.0/24", .gw = IPAM_GW_GIVEN,
		    .gw_ip = "10.0.0.255" }, TS_EINVALID,
		  "Invalid input for operation: Gateway is not valid on "
		  "subnet." },
		{ { .cidr = "10.0.0.0/24", .gw = IPAM_GW_GIVEN,
		    .gw_ip = "10.0.0.0" }, TS_EINVALID,
		  "Invalid input for operation: Gateway is not valid on "
		  "subnet." },
		{ { .cidr = "10.0.0.0/24", .gw = IPAM_GW_GIVEN,
		    .gw_ip = "2001:db8::1" }, TS_EINVALID,
		  "Invalid input for operation: gateway_ip '2001:db8::1' does "
		  "not match the ip_version '4'." },
		{ { .cidr = "10.0.0.0/24", .gw = IPAM_GW_GIVEN,
		    .gw_ip = "10.0.0.x" }, TS_EINVALID,
		  "Invalid input for gateway_ip. Reason: '10.0.0.x' is not a "
		  "valid IP address." },
		{ { .cidr = "10.0.0.0/24", .ipv = 5 }, TS_EINVALID,
		  "Invalid input for ip_version. Reason: 5 is not in [4, 6]." },
		{ { .cidr = "10.0.0.0/24", .dns = (const char *[]){ "8.8.8.8",
		    "dns.example", NULL } }, TS_EINVALID,
		  "Invalid input for dns_nameservers. Reason: 'dns.example' is "
		  "not a valid nameserver. 'dns.example' is not a valid IP "
		  "address." },
		{ { .cidr = "10.0.0.0/24", .dns = (const char *[]){ "8.8.8.8",
		    "8.8.8.8", NULL } }, TS_EINVALID,
		  "Invalid input for dns_nameservers. Reason: Duplicate "
		  "nameserver '8.8.8.8'." },
		{ { .cidr = "10.0.0.0/24", .dns = (const char *[]){ "::1",
		    NULL } }, TS_EINVALID,
		  "Invalid input for operation: dns_nameserver '::1' does not "
		  "match the ip_version '4'." },
		{ { .id = SUB("ee"), .cidr = "10.0.0.0/24", .dns = dns6 },
		  TS_EINVALID, "Unable to complete operation for " SUB("ee")
		  ". The number of DNS nameservers exceeds the limit 5." },
		{ { .cidr = "10.0.0.0/24", .dns = dns6 }, TS_EINVALID,
		  "Unable to complete operation for new subnet. The number of "
		  "DNS nameservers exceeds the limit 5." },
		{ { .cidr = "10.0.0.0/24", .routes = (const char *[]){
		    "10.1.0.0/16", "10.0.0.x", NULL } }, TS_EINVALID,
		  "Invalid input for operation: Invalid route: {'destination': "
		  "'10.1.0.0/16', 'nexthop': '10.0.0.x'}." },
		{ { .cidr = "10.0.0.0/24", .routes = (const char *[]){
		    "10.1.0.0/16", "10.0.0.9", "10.1.0.0/16", "10.0.0.9",
		    NULL } }, TS_EINVALID,
		  "Invalid input for host_routes. Reason: Duplicate hostroute "
		  "'{'destination': '10.1.0.0/16', 'nexthop': '10.0.0.9'}'." },
		{ { .cidr = "10.0.0.0/24", .routes = (const char *[]){
		    "2001:db8::/64", "10.0.0.9", NULL } }, TS_EINVALID,
		  "Invalid input for operation: destination '2001:db8::/64' "
		  "does not match the ip_version '4'." },
	};

	for (size_t j = 0; j < sizeof(v) / sizeof(v[0]); j++) {
		int rc = prep(&v[j].r);

		if (rc != -1 || err_code() != v[j].code ||
		    strcmp(err_msg(), v[j].msg) != 0)
			fail_msg("case %zu: rc %d code %d '%s'", j, rc,
			    err_code(), err_msg());
		sub_clear(&v[j].r);
	}

	/* What passes: a default route (prefix 0 is fine for routes),
	 * routes and servers rewritten canonically. */
	struct subreq ok = { .cidr = "10.0.0.0/24", .dns = (const char *[]){
	    "8.8.8.8", NULL }, .routes = (const char *[]){ "0.0.0.0/0",
	    "10.0.0.254", "172.16.1.7/16", "10.0.0.9", NULL } };

	assert_int_equal(prep(&ok), 0);
	assert_string_equal(ok.out.host_routes.items[1].destination,
	    "172.16.0.0/16");
	sub_clear(&ok);
}

/* ---- tests: transactions ------------------------------------------------- */

static void
test_overlap(void **state)
{
	assert_int_equal(mknet(NET("01"), NULL, NULL), 0);
	assert_int_equal(mknet(NET("02"), NULL, NULL), 0);
	assert_int_equal(mksub(SUB("01"), NET("01"), "10.1.0.0/29"), 0);
	assert_err(mksub(SUB("02"), NET("01"), "10.1.0.0/16"), TS_EINVALID,
	    "Invalid input for operation: Requested subnet with cidr: "
	    "10.1.0.0/16 for network: " NET("01") " overlaps with another "
	    "subnet.");
	assert_err(mksub(SUB("02"), NET("01"), "10.1.0.4/30"), TS_EINVALID,
	    "Invalid input for operation: Requested subnet with cidr: "
	    "10.1.0.4/30 for network: " NET("01") " overlaps with another "
	    "subnet.");
	/* Another network may reuse the range. */
	assert_int_equal(mksub(SUB("03"), NET("02"), "10.1.0.0/29"), 0);
	assert_err(mksub(SUB("04"), NET("99"), "10.7.0.0/24"), TS_ENOT_FOUND,
	    "Network " NET("99") " could not be found.");
}

static void
test_allocation(void **state)
{
	char ip[IPAM_ADDR_STRLEN], id[8][CODEC_UUID_LEN + 1];
	const char *want[] = { "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5",
	    "10.1.0.6" };

	/* SUB("01"): 10.1.0.0/29 on NET("01"), pool .2-.6. */
	for (int j = 0; j < 5; j++) {
		assert_int_equal(mkport(NET("01"), NULL, 0, false, NULL, ip,
		    id[j]), 0);
		assert_string_equal(ip, want[j]);
	}
	assert_err(mkport(NET("01"), NULL, 0, false, NULL, ip, NULL),
	    TS_ECONFLICT, "No more IP addresses available on network "
	    NET("01") ".");
	/* Released addresses come back lowest first. */
	assert_int_equal(store_write(st, portdel_fn, id[3]), 0);
	assert_int_equal(store_write(st, portdel_fn, id[1]), 0);
	assert_int_equal(mkport(NET("01"), NULL, 0, false, NULL, ip, NULL), 0);
	assert_string_equal(ip, "10.1.0.3");
	assert_int_equal(mkport(NET("01"), NULL, 0, false, NULL, ip, NULL), 0);
	assert_string_equal(ip, "10.1.0.5");
	assert_int_equal(mkport(NET("01"), NULL, 0, false, NULL, ip, NULL), -1);

	/* Requested addresses: any host address of the subnet, pool or
	 * not (the gateway too: router interfaces take it). */
	struct ipam_ip_req r[] = {
		{ SUB("01"), "10.1.0.1" }, { SUB("01"), "10.1.0.7" },
		{ SUB("01"), "10.2.0.1" }, { SUB("01"), "10.1.0.4" },
		{ SUB("77"), NULL }, { NULL, "10.9.9.9" }, { NULL, NULL },
		{ SUB("01"), "10.1.0.256" },
	};
	assert_int_equal(mkport(NET("01"), &r[0], 1, true, NULL, ip, NULL), 0);
	assert_string_equal(ip, "10.1.0.1");
	assert_err(mkport(NET("01"), &r[1], 1, true, NULL, ip, NULL),
	    TS_EINVALID, "IP address 10.1.0.7 is not a valid IP for the "
	    "specified subnet.");
	assert_err(mkport(NET("01"), &r[2], 1, true, NULL, ip, NULL),
	    TS_EINVALID, "IP address 10.2.0.1 is not a valid IP for the "
	    "specified subnet.");
	assert_err(mkport(NET("01"), &r[3], 1, true, NULL, ip, NULL),
	    TS_ECONFLICT, "IP address 10.1.0.4 already allocated in subnet "
	    SUB("01"));
	assert_err(mkport(NET("01"), &r[4], 1, true, NULL, ip, NULL),
	    TS_EINVALID, "Invalid input for operation: Failed to create port "
	    "on network " NET("01") ", because fixed_ips included invalid "
	    "subnet " SUB("77") ".");
	assert_err(mkport(NET("01"), &r[5], 1, true, NULL, ip, NULL),
	    TS_EINVALID, "IP address 10.9.9.9 is not a valid IP for any of "
	    "the subnets on the specified network.");
	assert_err(mkport(NET("01"), &r[6], 1, true, NULL, ip, NULL),
	    TS_EINVALID, "Invalid input for operation: IP allocation "
	    "requires subnet_id or ip_address.");
	assert_err(mkport(NET("01"), &r[7], 1, true, NULL, ip, NULL),
	    TS_EINVALID, "Invalid input for fixed_ips. Reason: '10.1.0.256' "
	    "is not a valid IP address.");
	/* fixed_ips: [] is a port without addresses. */
	assert_int_equal(mkport(NET("01"), NULL, 0, true, NULL, ip, NULL), 0);
	assert_string_equal(ip, "");

	/* A failed create leaves nothing behind: same count as before. */
	struct store_txn *txn = NULL;
	size_t n;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(ipam_ip_count(txn, SUB("01"), &n), 0);
	store_txn_end(&txn);
	assert_int_equal(n, 6);
}

static void
test_ipv6_and_dual_stack(void **state)
{
	char ip[IPAM_ADDR_STRLEN], id[CODEC_UUID_LEN + 1];
	struct rec_port *p;
	struct ipam_ip_req r = { SUB("62"), "2001:DB8:0:0::10" };

	assert_int_equal(mknet(NET("06"), NULL, NULL), 0);
	assert_int_equal(mksub(SUB("61"), NET("06"), "10.6.0.0/24"), 0);
	assert_int_equal(mksub(SUB("62"), NET("06"), "2001:db8::/64"), 0);
	assert_int_equal(mkport(NET("06"), NULL, 0, false, NULL, ip, id), 0);
	p = getport(id);
	assert_int_equal(p->fixed_ips.n, 2);
	assert_string_equal(p->fixed_ips.items[0].subnet_id, SUB("61"));
	assert_string_equal(p->fixed_ips.items[0].ip_address, "10.6.0.2");
	assert_string_equal(p->fixed_ips.items[1].subnet_id, SUB("62"));
	assert_string_equal(p->fixed_ips.items[1].ip_address, "2001:db8::2");
	assert_int_equal(mkport(NET("06"), &r, 1, true, NULL, ip, NULL), 0);
	assert_string_equal(ip, "2001:db8::10");
	assert_int_equal(mkport(NET("06"), NULL, 0, false, NULL, ip, id), 0);
	p = getport(id);
	assert_string_equal(p->fixed_ips.items[1].ip_address, "2001:db8::3");
	/* The subnet-router anycast address is not a host's. */
	r.ip_address = "2001:db8::";
	assert_err(mkport(NET("06"), &r, 1, true, NULL, ip, NULL),
	    TS_EINVALID, "IP address 2001:db8:: is not a valid IP for the "
	    "specified subnet.");
	codec_clear(&schema_rec_port, p);
}

/* A random source that always gives the same bytes: collisions. */
static void
rnd_fixed(uint8_t *buf, size_t len, void *arg)
{
	memset(buf, *(uint8_t *)arg, len);
}

static void
test_mac(void **state)
{
	char id[CODEC_UUID_LEN + 1], id2[CODEC_UUID_LEN + 1];
	struct rec_port *p;
	uint8_t b = 0x42;

	assert_int_equal(mknet(NET("07"), NULL, NULL), 0);
	assert_int_equal(mkport(NET("07"), NULL, 0, true, NULL, NULL, id), 0);
	p = getport(id);
	assert_int_equal(strlen(p->mac_address), 17);
	assert_memory_equal(p->mac_address, "fa:16:3e:", 9);

	assert_int_equal(mkport(NET("07"), NULL, 0, true, "FA-16-3E-AA-BB-CC",
	    NULL, id), 0);
	assert_string_equal(getport(id)->mac_address, "fa:16:3e:aa:bb:cc");
	assert_err(mkport(NET("07"), NULL, 0, true, "fa:16:3e:aa:bb:cc", NULL,
	    NULL), TS_ECONFLICT, "Unable to complete operation for network "
	    NET("07") ". The mac address fa:16:3e:aa:bb:cc is in use.");
	static const char *bad[] = { "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff",
	    "01:00:5e:00:00:01", "fa:16:3e:aa:bb", "fa:16:3e:aa:bb:zz",
	    "fa:16:3e:aa:bb:cc:dd" };
	for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
		char want[160];

		snprintf(want, sizeof(want), "Invalid input for mac_address. "
		    "Reason: '%s' is not a valid MAC address.", bad[j]);
		assert_err(mkport(NET("07"), NULL, 0, true, bad[j], NULL,
		    NULL), TS_EINVALID, want);
	}
	/* Released with its port, then free again. */
	assert_int_equal(store_write(st, portdel_fn, id), 0);
	assert_int_equal(mkport(NET("07"), NULL, 0, true, "fa:16:3e:aa:bb:cc",
	    NULL, NULL), 0);

	/* Collisions: retried, then 503 once every try collides. */
	ipam_conf_set_random(conf, rnd_fixed, &b);
	assert_int_equal(mkport(NET("07"), NULL, 0, true, NULL, NULL, id2), 0);
	assert_string_equal(getport(id2)->mac_address, "fa:16:3e:42:42:42");
	assert_err(mkport(NET("07"), NULL, 0, true, NULL, NULL, NULL),
	    TS_EUNAVAILABLE, "Unable to generate unique mac on network "
	    NET("07") ".");
	ipam_conf_set_random(conf, NULL, NULL);
	codec_clear(&schema_rec_port, getport(id2));
}

static void
test_segments(void **state)
{
	struct ipam_conf *saved = conf;
	struct rec_network n;
	struct ipam_segment_req pr;

	/* Ranges of their own, untouched by the networks of the tests
	 * before; VNIs come lowest first across the ranges. The VLANs of
	 * physnet1 (100:101) are free again: NET("c0") held 100 and was
	 * deleted. */
	assert_int_equal(config_set(cfg, "network", "vni_ranges",
	    "20:21, 11:12"), 0);
	assert_non_null(conf = ipam_conf_new(cfg));
	assert_int_equal(mknet(NET("a1"), NULL, &n), 0);
	assert_string_equal(n.network_type, "vxlan");
	assert_null(n.physical_network);
	assert_int_equal(n.segmentation_id, 11);
	assert_int_equal(n.mtu, 1450);
	codec_clear(&schema_rec_network, &n);
	assert_int_equal(mknet(NET("a2"), NULL, &n), 0);
	assert_int_equal(n.segmentation_id, 12);
	codec_clear(&schema_rec_network, &n);
	assert_int_equal(mknet(NET("a3"), NULL, &n), 0);
	assert_int_equal(n.segmentation_id, 20);
	codec_clear(&schema_rec_network, &n);
	assert_int_equal(mknet(NET("a4"), NULL, &n), 0);
	assert_int_equal(n.segmentation_id, 21);
	codec_clear(&schema_rec_network, &n);
	/* vxlan exhausted: vlan next (tenant_network_types = vxlan,vlan):
	 * physnet1:100:101. */
	assert_int_equal(mknet(NET("a5"), NULL, &n), 0);
	assert_string_equal(n.network_type, "vlan");
	assert_string_equal(n.physical_network, "physnet1");
	assert_int_equal(n.segmentation_id, 100);
	assert_int_equal(n.mtu, 1500);
	codec_clear(&schema_rec_network, &n);
	assert_int_equal(mknet(NET("a6"), NULL, NULL), 0);
	assert_err(mknet(NET("a7"), NULL, NULL), TS_EUNAVAILABLE,
	    "Unable to create the network. No tenant network is available "
	    "for allocation.");
	/* Released on delete, then reused. */
	assert_int_equal(store_write(st, netdel_fn, NET("a2")), 0);
	assert_int_equal(mknet(NET("a7"), NULL, &n), 0);
	assert_int_equal(n.segmentation_id, 12);
	codec_clear(&schema_rec_network, &n);

	/* Provider requests. */
	pr = (struct ipam_segment_req){ "vlan", "physnet1", true, 4095 };
	assert_err(mknet(NET("b1"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: segmentation_id out of range (1 "
	    "through 4094).");
	pr.segmentation_id = 0;
	assert_err(mknet(NET("b1"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: segmentation_id out of range (1 "
	    "through 4094).");
	pr.segmentation_id = 4094;	/* outside the ranges: admin may */
	assert_int_equal(mknet(NET("b1"), &pr, &n), 0);
	assert_int_equal(n.segmentation_id, 4094);
	codec_clear(&schema_rec_network, &n);
	assert_err(mknet(NET("b2"), &pr, NULL), TS_ECONFLICT,
	    "Unable to create the network. The VLAN 4094 on physical network "
	    "physnet1 is in use.");
	pr.segmentation_id = 100;	/* held by NET("a5") */
	assert_err(mknet(NET("b2"), &pr, NULL), TS_ECONFLICT,
	    "Unable to create the network. The VLAN 100 on physical network "
	    "physnet1 is in use.");
	pr.physical_network = "physnet9";
	assert_err(mknet(NET("b2"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: physical_network 'physnet9' unknown "
	    "for VLAN provider network.");
	pr.physical_network = NULL;
	assert_err(mknet(NET("b2"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: segmentation_id requires "
	    "physical_network for VLAN provider network.");
	pr = (struct ipam_segment_req){ "vlan", "physnet2", true, 7 };
	assert_int_equal(mknet(NET("b2"), &pr, NULL), 0);

	pr = (struct ipam_segment_req){ "vxlan", NULL, true, 16777216 };
	assert_err(mknet(NET("b3"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: segmentation_id out of range (1 "
	    "through 16777215).");
	pr.segmentation_id = 16777215;
	assert_int_equal(mknet(NET("b3"), &pr, NULL), 0);
	assert_err(mknet(NET("b4"), &pr, NULL), TS_ECONFLICT,
	    "Unable to create the network. The tunnel ID 16777215 is in use.");
	pr.physical_network = "physnet1";
	assert_err(mknet(NET("b4"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: provider:physical_network "
	    "specified for vxlan network.");

	pr = (struct ipam_segment_req){ "flat", "physnet1", false, 0 };
	assert_int_equal(mknet(NET("b4"), &pr, &n), 0);
	assert_string_equal(n.network_type, "flat");
	assert_false(n.has_segmentation_id);
	codec_clear(&schema_rec_network, &n);
	assert_err(mknet(NET("b5"), &pr, NULL), TS_ECONFLICT,
	    "Unable to create the flat network. Physical network physnet1 is "
	    "in use.");
	pr.physical_network = "physnet3";
	assert_err(mknet(NET("b5"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: physical_network 'physnet3' unknown "
	    "for flat provider network.");
	pr.physical_network = NULL;
	assert_err(mknet(NET("b5"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: physical_network required for flat "
	    "provider network.");
	pr = (struct ipam_segment_req){ "flat", "physnet2", true, 3 };
	assert_err(mknet(NET("b5"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: segmentation_id prohibited for flat "
	    "provider network.");
	pr = (struct ipam_segment_req){ "gre", NULL, false, 0 };
	assert_err(mknet(NET("b5"), &pr, NULL), TS_EINVALID,
	    "Invalid input for operation: network_type value 'gre' not "
	    "supported.");

	/* The flat network's physnet is free again after its delete. */
	assert_int_equal(store_write(st, netdel_fn, NET("b4")), 0);
	pr = (struct ipam_segment_req){ "flat", "physnet1", false, 0 };
	assert_int_equal(mknet(NET("b5"), &pr, NULL), 0);
	ipam_conf_free(&conf);
	conf = saved;
}

static void
test_delete_rules(void **state)
{
	char id[CODEC_UUID_LEN + 1];
	struct subreq r = { .id = SUB("c1"), .net = NET("c0"),
	    .cidr = "10.12.0.0/24", .create = true };

	assert_int_equal(mknet(NET("c0"), NULL, NULL), 0);
	assert_int_equal(prep(&r), 0);
	sub_clear(&r);
	assert_int_equal(mkport(NET("c0"), NULL, 0, false, NULL, NULL, id), 0);
	assert_err(store_write(st, netdel_fn, NET("c0")), TS_ECONFLICT,
	    "Unable to complete operation on network " NET("c0") ". There "
	    "are one or more ports still in use on the network.");
	assert_int_equal(store_write(st, portdel_fn, id), 0);
	assert_int_equal(store_write(st, netdel_fn, NET("c0")), 0);

	struct store_txn *txn = NULL;
	struct rec_subnet s;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_subnet_get(txn, SUB("c1"), &s), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	store_txn_end(&txn);
}

/* ---- the race ------------------------------------------------------------ */

#define RACE_THREADS	200

struct racer {
	pthread_t	 t;
	char		 ip[64][IPAM_ADDR_STRLEN];
	size_t		 n;
	int		 bad;		/* a failure other than exhaustion */
	char		 why[256];
};

static void *
race_main(void *arg)
{
	struct racer *r = arg;
	char want[128];

	snprintf(want, sizeof(want), "No more IP addresses available on "
	    "network %s.", NET("d0"));
	/* Each thread creates ports until the subnet is full. */
	for (;;) {
		if (r->n == 64) {
			r->bad = 1;
			snprintf(r->why, sizeof(r->why), "too many");
			break;
		}
		if (mkport(NET("d0"), NULL, 0, false, NULL, r->ip[r->n],
		    NULL) == 0) {
			r->n++;
			continue;
		}
		if (err_code() != TS_ECONFLICT || strcmp(err_msg(), want) != 0) {
			r->bad = 1;
			snprintf(r->why, sizeof(r->why), "%s", err_msg());
		}
		break;
	}
	return NULL;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_race(void **state)
{
	static struct racer r[RACE_THREADS];
	static char all[RACE_THREADS * 64][IPAM_ADDR_STRLEN];
	size_t n = 0;

	assert_int_equal(mknet(NET("d0"), &(struct ipam_segment_req){ "vxlan",
	    NULL, true, 9000 }, NULL), 0);
	assert_int_equal(mksub(SUB("d1"), NET("d0"), "10.200.0.0/24"), 0);
	for (int j = 0; j < RACE_THREADS; j++)
		assert_int_equal(pthread_create(&r[j].t, NULL, race_main,
		    &r[j]), 0);
	for (int j = 0; j < RACE_THREADS; j++) {
		assert_int_equal(pthread_join(r[j].t, NULL), 0);
		if (r[j].bad)
			fail_msg("thread %d: %s", j, r[j].why);
		for (size_t k = 0; k < r[j].n; k++)
			memcpy(all[n++], r[j].ip[k], IPAM_ADDR_STRLEN);
	}
	/* Exactly the pool, each address once. */
	assert_int_equal(n, 253);
	qsort(all, n, sizeof(all[0]), str_cmp);
	for (size_t j = 1; j < n; j++)
		if (strcmp(all[j - 1], all[j]) == 0)
			fail_msg("%s handed out twice", all[j]);
	for (size_t j = 0; j < n; j++) {
		struct ipam_addr a;

		assert_int_equal(ipam_addr_parse(all[j], &a), 0);
		assert_true((a.v & 0xffffff00) == 0x0ac80000);
		assert_true((a.v & 0xff) >= 2 && (a.v & 0xff) <= 254);
	}
}

/* ---- setup --------------------------------------------------------------- */

static int
setup(void **state)
{
	struct store_opts so = { 0 };

	assert_non_null(mkdtemp(dir));
	so.path = dir;
	so.tables = db_tables;
	so.map_size = 64 << 20;
	so.sync = STORE_SYNC_NOMETASYNC;
	assert_non_null(st = store_open(&so));
	assert_int_equal(db_sync(st), 0);
	cfg = config_new(opts_controller);
	assert_int_equal(config_set(cfg, "network", "tenant_network_types",
	    "vxlan, vlan"), 0);
	assert_int_equal(config_set(cfg, "network", "vni_ranges", "5:6,1:2"),
	    0);
	assert_int_equal(config_set(cfg, "network", "network_vlan_ranges",
	    "physnet1:100:101,physnet2"), 0);
	assert_int_equal(config_set(cfg, "network", "flat_networks",
	    "physnet1, physnet2"), 0);
	assert_int_equal(config_set(cfg, "network", "mac_generation_retries",
	    "4"), 0);
	assert_non_null(conf = ipam_conf_new(cfg));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	ipam_conf_free(&conf);
	config_free(&cfg);
	store_free(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
test_conf_errors(void **state)
{
	static const char *bad[][3] = {
		{ "base_mac", "01:16:3e:00:00:00", "[network] base_mac: "
		  "'01:16:3e:00:00:00' is not a unicast MAC address "
		  "(xx:xx:xx:xx:xx:xx)" },
		{ "vni_ranges", "10:5", "[network] vni_ranges: '10:5' is not "
		  "<first>:<last> with 1 <= first <= last <= 16777215" },
		{ "vni_ranges", "1:16777216", "[network] vni_ranges: "
		  "'1:16777216' is not <first>:<last> with 1 <= first <= last "
		  "<= 16777215" },
		{ "network_vlan_ranges", "physnet1:1:4095", "[network] "
		  "network_vlan_ranges: 'physnet1:1:4095' is not <physnet> or "
		  "<physnet>:<first>:<last> with 1 <= first <= last <= 4094" },
		{ "tenant_network_types", "gre", "[network] "
		  "tenant_network_types: unknown type 'gre' (flat, vlan, "
		  "vxlan)" },
	};

	for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
		struct config *c = config_new(opts_controller);
		struct ipam_conf *ic;

		assert_int_equal(config_set(c, "network", bad[j][0],
		    bad[j][1]), 0);
		ic = ipam_conf_new(c);
		assert_null(ic);
		assert_int_equal(err_code(), TS_ECONFIG);
		assert_string_equal(err_msg(), bad[j][2]);
		config_free(&c);
	}
}

int
main(void)
{
	/* Each test builds on the store the previous ones left. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_subnet_defaults),
		cmocka_unit_test(test_subnet_validation),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_allocation),
		cmocka_unit_test(test_ipv6_and_dual_stack),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_delete_rules),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_race),
	};

	log_init("ipam_test", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
