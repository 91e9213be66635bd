/*
 * net_conv_test: agent/net/netconv over the recording link backend and the
 * proc recorder (dnsmasq is never run: a network with DHCP reports that its
 * dnsmasq did not come up, which also shows how failures are reported).
 * Apply, adoption of existing links, level-triggered ticks repairing a
 * hand-deleted bridge (and putting a running guest's tap back on it),
 * stale generations, another host's message, and the empty state removing
 * everything owned; golden transcript in tests/golden/net/conv.txt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec.h"
#include "config.h"
#include "err.h"
#include "linkrec.h"
#include "netconv.h"
#include "opts.h"
#include "proc.h"

#define NA	"a0000000-0000-4000-8000-00000000000a"	/* vxlan */
#define NB	"b0000000-0000-4000-8000-00000000000b"	/* flat */
#define NC	"c0000000-0000-4000-8000-00000000000c"	/* vlan */
#define ND	"d0000000-0000-4000-8000-00000000000d"	/* gre: refused */
#define NF	"f0000000-0000-4000-8000-00000000000f"	/* vxlan + DHCP */
#define SUBF	"ff000000-0000-4000-8000-0000000000ff"

static char *peers[] = { "10.99.0.2", "10.99.0.3" };
static struct sch_net_fixed_ip fips[] = {
	{ .subnet_id = SUBF, .ip_address = "10.66.0.10" } };
static struct sch_net_port portsF[] = {
	{ .id = "bb000000-0000-4000-8000-000000000001", .network_id = NF,
	  .mac = "52:54:00:66:00:10", .fixed_ips = { fips, 1 },
	  .hostname = "vm1" } };
static struct sch_net_subnet subF[] = {
	{ .id = SUBF, .network_id = NF, .cidr = "10.66.0.0/24", .ip_version = 4,
	  .gateway_ip = "10.66.0.1", .enable_dhcp = true,
	  .dhcp_address = "10.66.0.2" } };

static struct sch_net_network nets[] = {
	{ .id = NA, .type = "vxlan", .has_segmentation_id = true,
	  .segmentation_id = 42, .mtu = 1450, .vxlan_peers = { peers, 2 } },
	{ .id = NB, .type = "flat", .physical_network = "physnet1",
	  .mtu = 1500 },
	{ .id = NC, .type = "vlan", .has_segmentation_id = true,
	  .segmentation_id = 100, .physical_network = "physnet1",
	  .mtu = 1500 },
	{ .id = ND, .type = "gre", .mtu = 1450 },
	{ .id = NA, .type = "vxlan", .has_segmentation_id = true,
	  .segmentation_id = 43, .mtu = 1450 },
	{ .id = NF, .type = "vxlan", .has_segmentation_id = true,
	  .segmentation_id = 44, .mtu = 1450, .vxlan_peers = { peers, 1 } },
};

struct fix {
	char		 tmpl[32];
	char		 dir[64];
	struct linkrec	*rec;
	struct netconv	*nc;
	struct proc_recorder *prec;
	FILE		*f;
	char		*buf;
	size_t		 len;
};

/* The temporary state directory varies between runs: "$DIR" instead. */
static void
subst(char *s, const char *dir)
{
	char *p;
	size_t dl = strlen(dir);

	while ((p = strstr(s, dir)) != NULL) {
		memcpy(p, "$DIR", 4);
		memmove(p + 4, p + dl, strlen(p + dl) + 1);
	}
}

static void
step(struct fix *x, const char *title, const struct msg_host_network_state *st)
{
	char dump[8192], *d = linkrec_dump(x->rec);
	char *pt = strdup(proc_recorder_text(x->prec));

	assert_non_null(d);
	assert_non_null(pt);
	subst(pt, x->dir);
	codec_dump(&schema_msg_host_network_state, st, dump, sizeof(dump));
	subst(dump, x->dir);
	fprintf(x->f, "# %s\n%s%s-- links\n%s-- reported\n%s\n\n", title,
	    linkrec_text(x->rec), pt, d, dump);
	free(d);
	free(pt);
	linkrec_reset(x->rec);
	proc_recorder_reset(x->prec);
}

static void
test_converge(void **state)
{
	struct fix x = { .tmpl = "/tmp/net_conv_test.XXXXXX" };
	struct netconv_config cfg = { .host = "h1", .local_ip = "10.99.0.1",
	    .interface_mappings = "physnet1:eth1,physnet2:eth2" };
	struct msg_host_network d = { .host = "h1", .generation = 5,
	    .networks = { nets, sizeof(nets) / sizeof(nets[0]) },
	    .subnets = { subF, 1 }, .ports = { portsF, 1 } };
	struct msg_host_network_state st;
	struct link *l;
	struct link_state eth1 = { .name = "eth1", .mtu = 1500, .up = true };
	struct link_state old = { .name = "tsb0123456789a", .kind = "bridge",
	    .mtu = 1500, .up = true };
	struct link_state tapF = { .name = "tapbb000000000", .kind = "tun",
	    .mtu = 1450, .up = true, .master = "tsbf0000000000" };
	const char *pa[] = { "10.99.0.2", "10.99.0.3" };
	struct link_net na = { .id = NA, .type = LINK_NET_VXLAN, .segid = 42,
	    .mtu = 1450, .local_ip = "10.99.0.1", .peers = pa, .npeers = 2 };

	(void)state;
	assert_non_null(mkdtemp(x.tmpl));
	snprintf(x.dir, sizeof(x.dir), "%s/dhcp", x.tmpl);
	cfg.dhcp.state_dir = x.dir;
	cfg.dhcp.pid_wait_ms = 1;
	assert_non_null(x.f = open_memstream(&x.buf, &x.len));
	assert_non_null(x.prec = proc_recorder_new());

	/* What a previous agent left: network A as wanted, a leftover
	 * bridge of a network that is gone, and the physical NIC. */
	assert_non_null(l = linkrec_new(&x.rec));
	assert_int_equal(linkrec_inject(x.rec, &eth1), 0);
	assert_int_equal(linkrec_inject(x.rec, &old), 0);
	assert_int_equal(link_net_ensure(l, &na, NULL), 0);
	linkrec_reset(x.rec);
	assert_non_null(x.nc = netconv_new(&cfg, &l));
	assert_null(l);

	/* Before the first apply nothing is known and nothing changes. */
	assert_int_equal(netconv_tick(x.nc, &st), 0);
	assert_int_equal(st.networks.n, 0);
	assert_string_equal(linkrec_text(x.rec), "");
	codec_clear(&schema_msg_host_network_state, &st);

	assert_int_equal(netconv_apply(x.nc, &d, &st), 0);
	assert_int_equal(netconv_generation(x.nc), 5);
	assert_int_equal(st.networks.n, 6);
	assert_true(st.networks.items[0].ok);
	assert_true(st.networks.items[1].ok);
	assert_true(st.networks.items[2].ok);
	assert_false(st.networks.items[3].ok);	/* gre */
	assert_false(st.networks.items[4].ok);	/* listed twice */
	assert_false(st.networks.items[5].ok);	/* dry-run dnsmasq */
	step(&x, "apply generation 5 (network A adopted, leftover pruned)",
	    &st);
	codec_clear(&schema_msg_host_network_state, &st);
	/* The guest of network F's port starts: libvirt makes its tap. */
	assert_int_equal(linkrec_inject(x.rec, &tapF), 0);

	assert_int_equal(netconv_tick(x.nc, &st), 0);
	assert_string_equal(linkrec_text(x.rec), "");
	codec_clear(&schema_msg_host_network_state, &st);
	linkrec_reset(x.rec);
	proc_recorder_reset(x.prec);

	assert_int_equal(linkrec_remove(x.rec, "tsba0000000000"), 0);
	assert_int_equal(netconv_tick(x.nc, &st), 0);
	step(&x, "tick after network A's bridge was deleted by hand", &st);
	codec_clear(&schema_msg_host_network_state, &st);

	assert_int_equal(linkrec_remove(x.rec, "tsbf0000000000"), 0);
	assert_int_equal(netconv_tick(x.nc, &st), 0);
	step(&x, "tick after network F's bridge was deleted by hand: the "
	    "running guest's tap is put back on it", &st);
	codec_clear(&schema_msg_host_network_state, &st);

	d.generation = 4;
	d.networks.n = 0;
	d.subnets.n = 0;
	d.ports.n = 0;
	assert_int_equal(netconv_apply(x.nc, &d, &st), 0);
	assert_int_equal(st.generation, 5);
	assert_int_equal(st.networks.n, 6);
	codec_clear(&schema_msg_host_network_state, &st);
	linkrec_reset(x.rec);
	proc_recorder_reset(x.prec);

	d.host = "h2";
	d.generation = 9;
	assert_int_equal(netconv_apply(x.nc, &d, &st), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(netconv_generation(x.nc), 5);

	d.host = "h1";
	d.generation = 6;
	assert_int_equal(netconv_apply(x.nc, &d, &st), 0);
	assert_int_equal(st.networks.n, 0);
	step(&x, "apply generation 6: no networks", &st);
	codec_clear(&schema_msg_host_network_state, &st);

	fclose(x.f);
	assert_int_equal(proc_golden_compare(x.buf, "tests/golden/net/conv.txt"),
	    0);
	free(x.buf);
	netconv_free(&x.nc);
	assert_null(x.nc);
	proc_recorder_free(&x.prec);
	rmdir(x.dir);
	rmdir(x.tmpl);
}

static void
test_config(void **state)
{
	struct netconv_config cfg = { .dhcp.state_dir = "/tmp" };
	struct linkrec *r;
	struct link *l;
	struct netconv *nc;

	(void)state;
	assert_non_null(l = linkrec_new(&r));
	cfg.interface_mappings = "physnet1";
	assert_null(netconv_new(&cfg, &l));
	cfg.interface_mappings = "physnet1:eth1,:eth2";
	assert_null(netconv_new(&cfg, &l));
	cfg.interface_mappings = "p:a:b";
	assert_null(netconv_new(&cfg, &l));
	cfg.interface_mappings = "p:averyveryverylongname";
	assert_null(netconv_new(&cfg, &l));
	cfg.interface_mappings = NULL;
	cfg.dhcp.state_dir = "relative";
	assert_null(netconv_new(&cfg, &l));
	assert_int_equal(err_code(), TS_EINVALID);
	cfg.dhcp.state_dir = "/tmp";
	cfg.bridge_mappings = "physnet1:br-ex";
	assert_non_null(nc = netconv_new(&cfg, &l));
	netconv_free(&nc);
	netconv_free(&nc);
}

static void
test_from_config(void **state)
{
	static const char conf[] = "[DEFAULT]\nstate_path = /var/lib/x\n"
	    "[network]\nlocal_ip = 10.99.0.1\n"
	    "physical_interface_mappings = physnet1:eth1\n";
	struct config *cfg = config_new(opts_agent);
	struct linkrec *r;
	struct link *l;
	struct netconv *nc;

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(config_load_buf(cfg, conf, sizeof(conf) - 1, "t"), 0);
	assert_non_null(l = linkrec_new(&r));
	assert_non_null(nc = netconv_new_from_config(cfg, "h1", &l));
	assert_null(l);
	netconv_free(&nc);
	assert_int_equal(config_set(cfg, "network",
	    "physical_interface_mappings", "physnet1"), 0);
	assert_non_null(l = linkrec_new(&r));
	assert_null(netconv_new_from_config(cfg, "h1", &l));
	assert_int_equal(err_code(), TS_EINVALID);
	link_free(&l);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converge),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_from_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
