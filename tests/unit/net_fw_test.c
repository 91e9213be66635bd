/*
 * net_fw_test: agent/net/firewall without nft: the exact transactions
 * (through the proc recorder) for a host's ports and groups
 * (tests/golden/net/fw_*.txt): the whole ruleset, a one-port change, a
 * remote-group membership change, a port leaving; conntrack cut when rules
 * shrink; bad rules refused per group with the network reported; a failed
 * nft makes the next apply rebuild the tables.
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
#include "firewall.h"
#include "proc.h"

#define NETA	"6f1c2a30-0000-4000-8000-0000000000a1"
#define NETB	"7f1c2a30-0000-4000-8000-0000000000b2"
#define SUBA	"aa000000-0000-4000-8000-0000000000a1"
#define SUBB	"aa000000-0000-4000-8000-0000000000b2"
#define SGWEB	"5e000000-0000-4000-8000-000000000001"
#define SGDB	"5e000000-0000-4000-8000-000000000002"
#define SGBAD	"5e000000-0000-4000-8000-0000000000ff"
#define P(n)	"b" n "000000-0000-4000-8000-00000000000" n

static struct sch_net_network nets[] = {
	{ .id = NETA, .type = "vxlan", .segmentation_id = 42,
	  .has_segmentation_id = true, .mtu = 1450 },
	{ .id = NETB, .type = "vxlan", .segmentation_id = 43,
	  .has_segmentation_id = true, .mtu = 1450 },
};

#define U(v)	.has_port_min = true, .port_min = (v)
#define V(v)	.has_port_max = true, .port_max = (v)
/* web: everything out; ssh from a prefix (not normalised on the wire);
 * ICMP echo from the db group; https range over IPv6. */
static struct sch_net_sg_rule web_rules[] = {
	{ .direction = "egress", .ethertype = "IPv4" },
	{ .direction = "egress", .ethertype = "IPv6" },
	{ .direction = "ingress", .ethertype = "IPv4", .protocol = "tcp",
	  U(22), V(22), .remote_ip_prefix = "10.66.7.9/16" },
	{ .direction = "ingress", .ethertype = "IPv4", .protocol = "icmp",
	  U(8), .remote_group_id = SGDB },
	{ .direction = "ingress", .ethertype = "IPv6", .protocol = "6",
	  U(80), V(443) },
	{ .direction = "ingress", .ethertype = "IPv6", .protocol = "icmp",
	  U(128), V(0), .remote_ip_prefix = "2001:DB8::/32" },
};
/* db: udp 5000-5010 in from web members; egress to web only. */
static struct sch_net_sg_rule db_rules[] = {
	{ .direction = "ingress", .ethertype = "IPv4", .protocol = "udp",
	  U(5000), V(5010), .remote_group_id = SGWEB },
	{ .direction = "egress", .ethertype = "IPv4",
	  .remote_group_id = SGWEB },
	{ .direction = "ingress", .ethertype = "IPv4", .protocol = "vrrp" },
};
/* One good rule and one hostile one: the group gives nothing. */
static struct sch_net_sg_rule bad_rules[] = {
	{ .direction = "ingress", .ethertype = "IPv4", .protocol = "tcp" },
	{ .direction = "ingress", .ethertype = "IPv4",
	  .remote_ip_prefix = "10.0.0.0/8 } accept\nadd rule x" },
};
static char *web_members[] = { "10.66.0.10", "10.66.0.20/32",
	"2001:db8:a::10" };
static char *db_members[] = { "10.66.0.11", "10.77.0.0/24" };

static struct sch_net_secgroup groups[] = {
	{ .id = SGWEB, .rules = { web_rules, 6 },
	  .members = { web_members, 3 } },
	{ .id = SGDB, .rules = { db_rules, 3 }, .members = { db_members, 2 } },
	{ .id = SGBAD, .rules = { bad_rules, 2 } },
};

#define FIX(s, ip)	{ .subnet_id = s, .ip_address = ip }
static struct sch_net_fixed_ip f1[] = { FIX(SUBA, "10.66.0.10"),
	FIX(SUBA, "2001:db8:a::10") };
static struct sch_net_fixed_ip f2[] = { FIX(SUBA, "10.66.0.11") };
static struct sch_net_fixed_ip f3[] = { FIX(SUBB, "10.66.0.10") };
static struct sch_net_fixed_ip f4[] = { FIX(SUBB, "10.66.0.12") };
static struct sch_net_addr_pair pairs1[] = {
	{ .ip = "10.66.0.200" },
	{ .ip = "10.66.1.0/24", .mac = "FA:16:3E:00:00:01" },
};
static char *sg1[] = { SGWEB };
static char *sg2[] = { SGDB, SGWEB };
static char *sg4[] = { SGBAD };

static struct sch_net_port ports[] = {
	{ .id = P("1"), .network_id = NETA, .mac = "52:54:00:66:00:10",
	  .fixed_ips = { f1, 2 }, .has_port_security = true,
	  .port_security = true, .security_groups = { sg1, 1 },
	  .address_pairs = { pairs1, 2 } },
	{ .id = P("2"), .network_id = NETA, .mac = "52:54:00:66:00:11",
	  .fixed_ips = { f2, 1 }, .has_port_security = true,
	  .port_security = true, .security_groups = { sg2, 2 } },
	/* Same address as port 1 on another network; security off. */
	{ .id = P("3"), .network_id = NETB, .mac = "52:54:00:66:00:12",
	  .fixed_ips = { f3, 1 }, .has_port_security = true,
	  .port_security = false, .security_groups = { sg1, 1 } },
	{ .id = P("4"), .network_id = NETB, .mac = "52:54:00:66:00:13",
	  .fixed_ips = { f4, 1 }, .has_port_security = true,
	  .port_security = true, .security_groups = { sg4, 1 } },
};

static struct msg_host_network
desired(void)
{
	struct msg_host_network d = { .host = "h", .generation = 1,
	    .networks = { nets, 2 }, .ports = { ports, 4 },
	    .security_groups = { groups, 3 } };

	return d;
}

/* A state with both networks ok, as netconv fills it before the firewall. */
static void
state_init(struct msg_host_network_state *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	st->networks.items = calloc(2, sizeof(*st->networks.items));
	assert_non_null(st->networks.items);
	st->networks.n = 2;
	for (i = 0; i < 2; i++) {
		snprintf(st->networks.items[i].id, CODEC_UUID_LEN + 1, "%s",
		    nets[i].id);
		st->networks.items[i].ok = true;
		st->networks.items[i].bridge = strdup("tsb");
	}
}

static const struct firewall_config cfg = { .metadata_port = 80 };

static void
golden(struct proc_recorder *rec, const char *file)
{
	char *text = strdup(proc_recorder_text(rec));

	assert_non_null(text);
	assert_int_equal(proc_golden_compare(text, file), 0);
	free(text);
	proc_recorder_reset(rec);
}

static void
test_full_and_incremental(void **unused)
{
	struct proc_recorder *rec;
	struct firewall *fw;
	struct msg_host_network d = desired();
	struct msg_host_network_state st;
	static struct sch_net_sg_rule web2[6];
	static struct sch_net_secgroup g2[3];
	static char *db_fewer[] = { "10.77.0.0/24" };
	static struct sch_net_port p3[3];

	(void)unused;
	assert_non_null(rec = proc_recorder_new());
	/* Zone 41511 tracks flows of 10.66.0.11 and of 2001:db8:a::10
	 * (written out in full: compared as addresses) and none of
	 * 10.66.0.10: only the listed addresses are cut (A9). */
	assert_int_equal(proc_recorder_expect(rec, "conntrack -L -w 41511",
	    "tcp      6 431999 ESTABLISHED src=10.66.0.11 dst=10.66.0.5 "
	    "sport=40000 dport=22 src=10.66.0.5 dst=10.66.0.11 sport=22 "
	    "dport=40000 [ASSURED] mark=0 zone=41511 use=1\n"
	    "icmpv6   58 29 src=2001:db8:a:0:0:0:0:9 dst=2001:db8:a:0:0:0:0:10 "
	    "type=128 code=0 id=7 src=2001:db8:a::10 dst=2001:db8:a::9 "
	    "type=129 code=0 id=7 mark=0 zone=41511 use=1\n", 0), 0);
	assert_non_null(fw = firewall_new(&cfg));
	state_init(&st);
	assert_int_equal(firewall_apply(fw, &d, &st), 0);
	assert_int_equal(proc_recorder_count(rec), 1);
	golden(rec, "tests/golden/net/fw_full.txt");
	/* Port 4's group has a hostile rule: its network says why, the
	 * other network is fine, and nothing of the rule reached nft. */
	assert_true(st.networks.items[0].ok);
	assert_false(st.networks.items[1].ok);
	assert_non_null(strstr(st.networks.items[1].message,
	    "security group " SGBAD ": rule 1: bad remote_ip_prefix"));
	codec_clear(&schema_msg_host_network_state, &st);

	/* The same state again: nothing to do. */
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	assert_int_equal(proc_recorder_count(rec), 0);

	/* web loses its ssh rule: only web's chains change (its rules are
	 * there once, not in its ports' chains), and since they shrank the
	 * connections of web's ports (1 and 2) are cut. */
	memcpy(web2, web_rules, sizeof(web2));
	web2[2] = web2[5];
	memcpy(g2, groups, sizeof(g2));
	g2[0].rules.items = web2;
	g2[0].rules.n = 5;
	d.security_groups.items = g2;
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	golden(rec, "tests/golden/net/fw_rule_removed.txt");

	/* db loses a member: one set changes, no chain; the flows of that
	 * member, in the zone of web's ports (web's rules name db), are cut,
	 * not every address of those ports. */
	g2[1].members.items = db_fewer;
	g2[1].members.n = 1;
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	golden(rec, "tests/golden/net/fw_member_removed.txt");

	/* Port 2 leaves and port 3 turns security on: one deletion, one
	 * addition, and db's chains go with their last port. */
	p3[0] = ports[0];
	p3[1] = ports[2];
	p3[1].port_security = true;
	p3[2] = ports[3];
	d.ports.items = p3;
	d.ports.n = 3;
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	golden(rec, "tests/golden/net/fw_ports_changed.txt");

	firewall_free(&fw);
	firewall_free(&fw);
	proc_recorder_free(&rec);
}

/* nft refuses the transaction: -1, the networks with filtered ports say
 * so, and the next apply rebuilds both tables whole. */
static void
test_nft_failure(void **unused)
{
	struct proc_recorder *rec;
	struct firewall *fw;
	struct msg_host_network d = desired();
	struct msg_host_network_state st;

	(void)unused;
	assert_non_null(rec = proc_recorder_new());
	assert_int_equal(proc_recorder_expect_full(rec, "nft", "",
	    "Error: boom", 1), 0);
	assert_int_equal(proc_recorder_expect(rec, "nft", "", 0), 0);
	assert_non_null(fw = firewall_new(&cfg));
	state_init(&st);
	assert_int_equal(firewall_apply(fw, &d, &st), -1);
	assert_false(st.networks.items[0].ok);
	assert_non_null(strstr(st.networks.items[0].message, "boom"));
	codec_clear(&schema_msg_host_network_state, &st);
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	assert_int_equal(proc_recorder_count(rec), 2);
	assert_non_null(strstr(proc_recorder_text(rec),
	    "add table bridge tinystack_fw\ndelete table bridge"));
	firewall_free(&fw);
	proc_recorder_free(&rec);
}

/* Every kind of bad rule makes its group fail, with the reason. */
static void
test_bad_rules(void **unused)
{
	static const struct {
		struct sch_net_sg_rule	 r;
		const char		*why;
	} cases[] = {
		{ { .direction = "in", .ethertype = "IPv4" }, "bad direction" },
		{ { .direction = "ingress", .ethertype = "ipv4" },
		  "bad ethertype" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .protocol = "tcp; drop" }, "unknown protocol" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .protocol = "256" }, "unknown protocol" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .protocol = "tcp", U(90), V(80) }, "bad port range" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .protocol = "udp", U(0), V(80) }, "bad port range" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .protocol = "icmp", V(0) }, "ICMP code without a type" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .protocol = "icmp", U(256) }, "bad ICMP type or code" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .protocol = "gre", U(1) }, "protocol without ports" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .remote_ip_prefix = "2001:db8::/32" },
		  "bad remote_ip_prefix" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .remote_ip_prefix = "10.0.0.0/33" },
		  "bad remote_ip_prefix" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .remote_ip_prefix = "10.0.0.0/8", .remote_group_id = SGWEB },
		  "both" },
		{ { .direction = "ingress", .ethertype = "IPv4",
		    .remote_group_id = "@evil" }, "bad remote_group_id" },
	};
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_recorder *rec;
		struct firewall *fw;
		struct msg_host_network d = desired();
		struct msg_host_network_state st;
		struct sch_net_secgroup g[3];
		struct sch_net_sg_rule r = cases[i].r;

		memcpy(g, groups, sizeof(g));
		g[2].rules.items = &r;
		g[2].rules.n = 1;
		d.security_groups.items = g;
		assert_non_null(rec = proc_recorder_new());
		assert_non_null(fw = firewall_new(&cfg));
		state_init(&st);
		assert_int_equal(firewall_apply(fw, &d, &st), 0);
		if (st.networks.items[1].ok ||
		    strstr(st.networks.items[1].message, cases[i].why) == NULL)
			fail_msg("case %zu: %s", i,
			    st.networks.items[1].message ?
			    st.networks.items[1].message : "(ok)");
		/* Port 4 has only that group: its chains stay empty, so
		 * port 4's in chain drops right after the defaults and the
		 * jump. */
		assert_non_null(strstr(proc_recorder_text(rec),
		    "mld-listener-query } accept\nadd rule inet tinystack_fw "
		    "in_tapb4000000000 jump gin_5e0000000000400080000000000000ff"
		    "\nadd rule inet tinystack_fw in_tapb4000000000 drop\n"));
		assert_non_null(strstr(proc_recorder_text(rec),
		    "add chain inet tinystack_fw gin_5e0000000000400080000000"
		    "000000ff\nflush chain inet tinystack_fw gin_5e00000000004000"
		    "80000000000000ff\nadd chain inet tinystack_fw geg_5e0000000"
		    "000400080000000000000ff\nflush chain inet tinystack_fw geg_"
		    "5e0000000000400080000000000000ff\nflush map"));
		codec_clear(&schema_msg_host_network_state, &st);
		firewall_free(&fw);
		proc_recorder_free(&rec);
	}
}

/* Members only added: no cut; a member gone whose text is a prefix of one
 * that stays (10.66.0.1, 10.66.0.11): that member's flows cut (from and
 * to it, in the zone of the ports whose rules name the set), nothing of
 * the ports' own addresses. */
static void
test_members_cut(void **unused)
{
	static char *m1[] = { "10.66.0.11" };
	static char *m2[] = { "10.66.0.1", "10.66.0.11" };
	struct proc_recorder *rec;
	struct firewall *fw;
	struct msg_host_network d = desired();
	struct sch_net_secgroup g[3];

	(void)unused;
	memcpy(g, groups, sizeof(g));
	d.security_groups.items = g;
	g[1].members.items = m1;
	g[1].members.n = 1;
	assert_non_null(rec = proc_recorder_new());
	/* The zone's listing fails: every queued address is cut. */
	assert_int_equal(proc_recorder_expect_full(rec, "conntrack -L",
	    NULL, "conntrack v1.4.7 (conntrack-tools): Operation failed\n",
	    1), 0);
	assert_non_null(fw = firewall_new(&cfg));
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	proc_recorder_reset(rec);
	g[1].members.items = m2;
	g[1].members.n = 2;
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	assert_int_equal(proc_recorder_count(rec), 1);
	assert_string_equal(proc_recorder_text(rec), "nft -f - <<'EOF'\n"
	    "add element inet tinystack_fw rg4_5e000000000040008000000000000002"
	    " { 10.66.0.1 }\nEOF\n");
	proc_recorder_reset(rec);
	g[1].members.items = m1;
	g[1].members.n = 1;
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	assert_string_equal(proc_recorder_text(rec), "nft -f - <<'EOF'\n"
	    "delete element inet tinystack_fw rg4_5e000000000040008000000000"
	    "000002 { 10.66.0.1 }\nEOF\n"
	    "conntrack -L -w 41511\n"
	    "conntrack -D -w 41511 -s 10.66.0.1\n"
	    "conntrack -D -w 41511 -d 10.66.0.1\n");
	firewall_free(&fw);
	proc_recorder_free(&rec);
}

/*
 * A membership change is sent as its difference, in one transaction:
 * gone members deleted first (a prefix leaving uncovers an address inside
 * it that joins), new ones added, per family; members inside another
 * member (here 10.77.0.9 in 10.77.0.0/24, and a duplicate) are left out of
 * the set, since the interval set refuses overlapping elements.
 */
static void
test_members_delta(void **unused)
{
	static char *m1[] = { "10.66.0.11", "10.77.0.9", "10.77.0.0/24",
		"10.66.0.11", "10.66.0.13" };
	static char *m2[] = { "10.66.0.13", "2001:db8::5", "10.77.0.9",
		"10.66.0.12" };
	struct proc_recorder *rec;
	struct firewall *fw;
	struct msg_host_network d = desired();
	struct sch_net_secgroup g[3];

	(void)unused;
	memcpy(g, groups, sizeof(g));
	d.security_groups.items = g;
	g[1].members.items = m1;
	g[1].members.n = 5;
	assert_non_null(rec = proc_recorder_new());
	assert_non_null(fw = firewall_new(&cfg));
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	assert_non_null(strstr(proc_recorder_text(rec), "add element inet "
	    "tinystack_fw rg4_5e000000000040008000000000000002 { 10.66.0.11, "
	    "10.66.0.13, 10.77.0.0/24 }\n"));
	proc_recorder_reset(rec);
	g[1].members.items = m2;
	g[1].members.n = 4;
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	golden(rec, "tests/golden/net/fw_member_delta.txt");
	/* Unchanged now: nothing sent. */
	proc_recorder_reset(rec);
	assert_int_equal(firewall_apply(fw, &d, NULL), 0);
	assert_int_equal(proc_recorder_count(rec), 0);
	firewall_free(&fw);
	proc_recorder_free(&rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_and_incremental),
		cmocka_unit_test(test_nft_failure),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_members_cut),
		cmocka_unit_test(test_members_delta),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
