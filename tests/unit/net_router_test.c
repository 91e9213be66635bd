/*
 * net_router_test: agent/net/router over the proc recorder (nothing runs).
 * A router with two interfaces (VXLAN and VLAN networks), a gateway on a
 * flat external network with SNAT on this host and two floating IPs; the
 * same state again once it exists (only the probes run); one floating IP
 * moving to another host (its address and rules go, the rest stays); a
 * neighbour leaving (it and one added by hand deleted, the others
 * replaced); the router gone (its namespace and the host table go); a bad
 * MAC or neighbour refusing the router without touching it. The host MAC
 * from local_ip or the host name, router MACs rewritten to it going out.
 * The gratuitous ARPs (garp.h, over its test hook) of the addresses put
 * on qg, of every one qg holds once a restarted agent first converges,
 * and of none that stayed. Golden transcript in
 * tests/golden/net/router.txt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "err.h"
#include "garp.h"
#include "proc.h"
#include "router.h"

#define RID	"12345678-9abc-4def-8000-000000000001"
#define NS	"tsr-123456789ab-h1"
#define NA	"a0000000-0000-4000-8000-00000000000a"	/* vxlan */
#define NB	"b0000000-0000-4000-8000-00000000000b"	/* vlan */
#define NX	"e0000000-0000-4000-8000-00000000000e"	/* external */
#define SA	"aa000000-0000-4000-8000-0000000000aa"
#define SB	"bb000000-0000-4000-8000-0000000000bb"
#define SX	"ee000000-0000-4000-8000-0000000000ee"

static struct sch_net_subnet subs[] = {
	{ .id = SA, .network_id = NA, .cidr = "10.1.0.0/24", .ip_version = 4,
	  .gateway_ip = "10.1.0.1" },
	{ .id = SB, .network_id = NB, .cidr = "10.2.0.0/24", .ip_version = 4,
	  .gateway_ip = "10.2.0.1" },
	{ .id = SX, .network_id = NX, .cidr = "172.24.4.0/24", .ip_version = 4,
	  .gateway_ip = "172.24.4.1" },
};
static struct sch_net_router_if ifs[] = {
	{ .subnet_id = SA, .network_id = NA, .ip_address = "10.1.0.1",
	  .mac = "FA:16:3E:00:00:01" },
	{ .subnet_id = SB, .network_id = NB, .ip_address = "10.2.0.1",
	  .mac = "fa:16:3e:00:00:02" },
};
static struct sch_net_floatingip fips[] = {
	{ .id = "f1000000-0000-4000-8000-000000000001",
	  .floating_ip = "172.24.4.10", .fixed_ip = "10.1.0.5",
	  .port_id = "c1000000-0000-4000-8000-000000000001" },
	{ .id = "f2000000-0000-4000-8000-000000000002",
	  .floating_ip = "172.24.4.11", .fixed_ip = "10.2.0.6",
	  .port_id = "c2000000-0000-4000-8000-000000000002" },
};
/* On SA, on SB, the router itself (skipped), in no subnet here (skipped). */
static struct sch_net_neighbor neigh[] = {
	{ .ip = "10.1.0.5", .mac = "52:54:00:01:00:05" },
	{ .ip = "10.2.0.6", .mac = "52:54:00:02:00:06" },
	{ .ip = "10.2.0.1", .mac = "fa:16:3e:00:00:02" },
	{ .ip = "10.9.0.9", .mac = "52:54:00:09:00:09" },
	{ .ip = "10.1.0.7", .mac = "52:54:00:01:00:07" },
};
static struct sch_net_host_route routes[] = {
	{ .destination = "10.30.0.0/16", .nexthop = "10.2.0.254" } };

/* What the networks look like on this host (netconv's answer). */
static int
nets(void *arg, const char *id, struct router_net *out)
{
	(void)arg;
	memset(out, 0, sizeof(*out));
	out->mtu = 1500;
	if (strcmp(id, NA) == 0) {
		snprintf(out->bridge, sizeof(out->bridge), "tsba0000000000");
		snprintf(out->uplink, sizeof(out->uplink), "tsva0000000000");
		out->mtu = 1450;
	} else if (strcmp(id, NB) == 0) {
		snprintf(out->bridge, sizeof(out->bridge), "tsbb0000000000");
		snprintf(out->uplink, sizeof(out->uplink), "eth1.100");
	} else if (strcmp(id, NX) == 0) {
		snprintf(out->bridge, sizeof(out->bridge), "tsbe0000000000");
		snprintf(out->uplink, sizeof(out->uplink), "eth2");
	} else
		return -1;
	return 0;
}

/* The probes' answers once everything of the first apply exists. */
#define HAVE_NS		NS " (id: 3)\nother\ntsr-99999999999\n"
#define HAVE_VETHS \
	"7: tsi12345aa0000@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 " \
	"qdisc noqueue master tsba0000000000 state UP\n" \
	"8: tsi12345bb0000@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 " \
	"qdisc noqueue master tsbb0000000000 state UP\n" \
	"9: tsg123456789ab@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 " \
	"qdisc noqueue master tsbe0000000000 state UP\n"
#define HAVE_ADDRS \
	"lo               UNKNOWN        127.0.0.1/8 ::1/128\n" \
	"qr-aa000000000@if7 UP             10.1.0.1/24 fe80::1/64\n" \
	"qr-bb000000000@if8 UP             10.2.0.1/24\n" \
	"qg-123456789ab@if9 UP             172.24.4.2/24 172.24.4.10/32 " \
	"172.24.4.11/32\n"

/* The first rounds of the gratuitous ARPs since the last record(); the
 * later ones depend on the clock (net_garp_test has them). */
static char garps[1024];

static int
garp_hook(const char *ns, const char *dev, const char *ip, int round,
    void *arg)
{
	size_t n = strlen(garps);

	(void)arg;
	if (round == 1)
		snprintf(garps + n, sizeof(garps) - n, "garp %s %s %s\n", ns,
		    dev, ip);
	return 0;
}

static void
record(FILE *f, struct proc_recorder **rec, const char *title)
{
	fprintf(f, "# %s\n%s%s\n", title, proc_recorder_text(*rec), garps);
	garps[0] = '\0';
	proc_recorder_free(rec);
}

static struct proc_recorder *
existing(void)
{
	struct proc_recorder *rec = proc_recorder_new();

	assert_non_null(rec);
	assert_int_equal(proc_recorder_expect(rec, "ip netns list", HAVE_NS,
	    0), 0);
	assert_int_equal(proc_recorder_expect(rec, "ip -o link show type "
	    "veth", HAVE_VETHS, 0), 0);
	assert_int_equal(proc_recorder_expect(rec, "ip -n " NS " -br addr "
	    "show", HAVE_ADDRS, 0), 0);
	return rec;
}

static void
test_router(void **state)
{
	struct sch_net_router r = { .id = RID, .interfaces = { ifs, 2 },
	    .gateway_network_id = NX, .gateway_ip = "172.24.4.2",
	    .gateway_subnet_id = SX, .has_enable_snat = true,
	    .enable_snat = true, .has_snat_host = true, .snat_host = true,
	    .routes = { routes, 1 }, .floatingips = { fips, 2 },
	    .neighbors = { neigh, 5 } };
	struct msg_host_network d = { .host = "h1", .generation = 1,
	    .subnets = { subs, 3 }, .routers = { &r, 1 } };
	struct proc_recorder *rec;
	struct router *rt;
	char ns[ROUTER_NS_MAX + 1], *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	garp_set_hook(garp_hook, NULL);
	assert_non_null(f = open_memstream(&buf, &len));
	assert_null(router_new("bad/tag", NULL, NULL));
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(rt = router_new("", NULL, NULL));
	assert_string_equal(router_host_mac(rt), "");
	router_free(&rt);
	assert_non_null(rt = router_new("", "", "compute-1"));
	assert_int_equal(strncmp(router_host_mac(rt), "fa:17:", 6), 0);
	assert_int_equal(strlen(router_host_mac(rt)), 17);
	router_free(&rt);
	assert_non_null(rt = router_new("h1", "10.0.0.1", "h1"));
	assert_string_equal(router_host_mac(rt), "fa:17:0a:00:00:01");
	assert_int_equal(router_ns_name(rt, RID, ns), 0);
	assert_string_equal(ns, NS);

	assert_non_null(rec = proc_recorder_new());
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "first converge: nothing exists");

	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	assert_int_equal(proc_recorder_count(rec), 3);	/* probes only */
	assert_string_equal(garps, "");
	record(f, &rec, "same state, everything exists: probes only");

	/* The agent restarted: it adopts everything and announces qg's
	 * addresses again (they may have moved here while it was away). */
	router_free(&rt);
	assert_non_null(rt = router_new("h1", "10.0.0.1", "h1"));
	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "agent restarted, everything exists: qg's addresses "
	    "announced again");

	/* The second floating IP's port moved to another host. */
	r.floatingips.n = 1;
	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "floating IP 172.24.4.11 moved away");

	/* 172.24.4.10 now maps to another port (10.1.0.7): its old
	 * translation's connections are cut too. conntrack finding nothing
	 * (status 1) is no failure. */
	fips[0].fixed_ip = "10.1.0.7";
	rec = existing();
	assert_int_equal(proc_recorder_expect_full(rec, "ip netns exec " NS
	    " conntrack -D --orig-dst 172.24.4.10", "", "conntrack v1.4.7 "
	    "(conntrack-tools): 0 flow entries have been deleted.\n", 1), 0);
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "floating IP 172.24.4.10 moved to port 10.1.0.7");

	/* 10.1.0.7's port is gone; a neighbour added by hand goes too. */
	r.neighbors.n = 4;
	rec = existing();
	assert_int_equal(proc_recorder_expect(rec, "ip -n " NS " neigh show "
	    "nud permanent", "10.1.0.5 dev qr-aa000000000 lladdr "
	    "52:54:00:01:00:05 PERMANENT\n10.1.0.7 dev qr-aa000000000 lladdr "
	    "52:54:00:01:00:07 PERMANENT\n10.2.0.99 dev qr-bb000000000 lladdr "
	    "52:54:00:02:00:99 PERMANENT\n10.2.0.6 dev qr-bb000000000 lladdr "
	    "52:54:00:02:00:06 PERMANENT\n", 0), 0);
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "neighbour 10.1.0.7 gone: stale ones deleted");

	/* Not the snat_host, a floating IP here: its DNAT and SNAT, and
	 * nothing else leaves through qg. */
	r.snat_host = false;
	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "not the snat_host, floating IP 172.24.4.10 here");

	/* Not the snat_host, no floating IP here: no external side. */
	r.floatingips.n = 0;
	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "no floating IP, not the snat_host: qg goes");

	/* A bad MAC refuses the router and keeps its namespace. */
	ifs[1].mac = "fa:16:3e:00:00:0g";
	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	record(f, &rec, "bad MAC: refused, nothing changed");
	ifs[1].mac = "fa:16:3e:00:00:02";

	/* So does a bad neighbour (not recorded: the same probes). */
	neigh[0].mac = "52:54:00:01:00:0z";
	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(proc_recorder_count(rec), 2);
	proc_recorder_free(&rec);
	neigh[0].mac = "52:54:00:01:00:05";

	d.routers.n = 0;
	rec = existing();
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	record(f, &rec, "router gone: its namespace and the host table go");

	/* Nothing wanted, nothing left: no program runs. */
	assert_non_null(rec = proc_recorder_new());
	assert_int_equal(router_converge(rt, &d, nets, NULL), 0);
	assert_int_equal(proc_recorder_count(rec), 0);
	proc_recorder_free(&rec);

	router_free(&rt);
	router_free(&rt);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(proc_golden_compare(buf, "tests/golden/net/router.txt"),
	    0);
	free(buf);
	garp_set_hook(NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
