/*
 * net_link_test: agent/net/link's converging over the recording backend
 * (linkrec). Each scenario's exact operations are compared with
 * tests/golden/net/link_*.txt (TS_UPDATE_GOLDEN=1 rewrites them), including
 * VLAN networks, which cannot run on the test machine (no 8021q).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "err.h"
#include "link.h"
#include "linkrec.h"
#include "proc.h"

#define NET1	"6f1c2a30-0000-4000-8000-000000000001"
#define NET2	"7a2b3c4d-0000-4000-8000-000000000002"
#define BR1	"tsb6f1c2a30000"
#define VX1	"tsv6f1c2a30000"

/* The golden transcript of a scenario: "# step" headers, then the
 * operations of the step and the resulting state. */
struct tr {
	char	*buf;
	size_t	 len;
	FILE	*f;
};

static void
tr_open(struct tr *t)
{
	memset(t, 0, sizeof(*t));
	assert_non_null(t->f = open_memstream(&t->buf, &t->len));
}

static void
tr_step(struct tr *t, struct linkrec *r, const char *title)
{
	char *dump = linkrec_dump(r);

	assert_non_null(dump);
	fprintf(t->f, "# %s\n%s-- state\n%s\n", title, linkrec_text(r), dump);
	free(dump);
	linkrec_reset(r);
}

static void
tr_check(struct tr *t, const char *golden)
{
	char path[256];

	fclose(t->f);
	snprintf(path, sizeof(path), "tests/golden/net/%s", golden);
	assert_int_equal(proc_golden_compare(t->buf, path), 0);
	free(t->buf);
}

static void
nic(struct linkrec *r, const char *name)
{
	struct link_state s = { .mtu = 1500, .up = true };

	snprintf(s.name, sizeof(s.name), "%s", name);
	assert_int_equal(linkrec_inject(r, &s), 0);
}

static void
test_names(void **state)
{
	char br[16], vx[16], out[LINK_ADDR_MAX];
	unsigned plen;

	(void)state;
	assert_int_equal(link_names(NET1, br, vx), 0);
	assert_string_equal(br, BR1);
	assert_string_equal(vx, VX1);
	assert_int_equal(strlen(br), 14);
	assert_int_equal(link_names("not-a-uuid", br, vx), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	assert_int_equal(link_addr_norm("10.0.0.1/24", 1, out, &plen), AF_INET);
	assert_string_equal(out, "10.0.0.1/24");
	assert_int_equal(plen, 24);
	assert_int_equal(link_addr_norm("2001:DB8:0:0::1", 0, out, NULL),
	    AF_INET6);
	assert_string_equal(out, "2001:db8::1");
	assert_int_equal(link_addr_norm("10.0.0.1/33", 1, out, NULL), -1);
	assert_int_equal(link_addr_norm("10.0.0.1", 1, out, NULL), -1);
	assert_int_equal(link_addr_norm("10.0.0.1/24", 0, out, NULL), -1);
	assert_int_equal(link_addr_norm("10.0.0.1/+4", 1, out, NULL), -1);
	assert_int_equal(link_addr_norm("10.0.0.1\n", 0, out, NULL), -1);
	assert_int_equal(link_addr_norm("", 0, out, NULL), -1);
}

static void
test_flat(void **state)
{
	struct linkrec *r;
	struct link *l = linkrec_new(&r);
	const char *addrs[] = { "192.0.2.2/24" };
	struct link_net n = { .id = NET1, .type = LINK_NET_FLAT, .mtu = 1500,
	    .phys_if = "eth1", .addrs = addrs, .naddrs = 1 };
	struct tr t;
	char br[16];

	(void)state;
	assert_non_null(l);
	nic(r, "eth1");
	tr_open(&t);
	assert_int_equal(link_net_ensure(l, &n, br), 0);
	assert_string_equal(br, BR1);
	tr_step(&t, r, "flat network on eth1");
	assert_int_equal(link_net_ensure(l, &n, br), 0);
	assert_string_equal(linkrec_text(r), "");
	tr_step(&t, r, "again: nothing to do");
	/* An address someone else put on our bridge goes. */
	n.addrs = (const char *[]){ "192.0.2.3/24" };
	assert_int_equal(link_net_ensure(l, &n, br), 0);
	tr_step(&t, r, "DHCP address changed");
	link_prune(l, NULL, 0);
	tr_step(&t, r, "pruned: eth1 is released, not deleted");
	tr_check(&t, "link_flat.txt");

	/* A mapped bridge is used as is, never created or deleted. */
	n.phys_bridge = "br-ex";
	assert_int_equal(link_net_ensure(l, &n, br), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	{
		struct link_state s = { .name = "br-ex", .kind = "bridge",
		    .mtu = 1500, .up = true };

		assert_int_equal(linkrec_inject(r, &s), 0);
	}
	linkrec_reset(r);
	assert_int_equal(link_net_ensure(l, &n, br), 0);
	assert_string_equal(br, "br-ex");
	assert_string_equal(linkrec_text(r), "addr add 192.0.2.3/24 dev br-ex\n");
	linkrec_reset(r);
	assert_int_equal(link_prune(l, NULL, 0), 0);
	assert_string_equal(linkrec_text(r), "");
	link_free(&l);
	assert_null(l);
}

static void
test_vxlan(void **state)
{
	struct linkrec *r;
	struct link *l = linkrec_new(&r);
	const char *peers[] = { "10.99.0.2", "10.99.0.3" };
	const char *addrs[] = { "10.66.0.2/24" };
	struct link_net n = { .id = NET1, .type = LINK_NET_VXLAN, .segid = 42,
	    .mtu = 1450, .local_ip = "10.99.0.1", .peers = peers, .npeers = 2,
	    .addrs = addrs, .naddrs = 1 };
	struct tr t;

	(void)state;
	assert_non_null(l);
	tr_open(&t);
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "vxlan VNI 42 with 2 peers");
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	assert_string_equal(linkrec_text(r), "");
	n.npeers = 1;
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "1 peer left: its flood entry goes");
	n.peers = (const char *[]){ "10.99.0.4" };
	n.mtu = 1400;
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "peer replaced, MTU 1400");
	assert_int_equal(linkrec_remove(r, BR1), 0);
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "bridge deleted by hand: recreated, vxlan re-enslaved");
	n.segid = 43;
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "VNI changed: the device is recreated");
	n.type = LINK_NET_FLAT;
	n.phys_if = "eth1";
	nic(r, "eth1");
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "type changed to flat: the vxlan device goes");
	tr_check(&t, "link_vxlan.txt");

	n.type = LINK_NET_VXLAN;
	n.segid = 1 << 24;
	assert_int_equal(link_net_ensure(l, &n, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	n.segid = 42;
	n.local_ip = "";
	assert_int_equal(link_net_ensure(l, &n, NULL), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	n.local_ip = "10.99.0.1";
	n.peers = (const char *[]){ "10.99.0.2\n--evil" };
	linkrec_reset(r);
	assert_int_equal(link_net_ensure(l, &n, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_null(strstr(linkrec_text(r), "evil"));
	link_free(&l);
}

static void
test_vlan(void **state)
{
	struct linkrec *r;
	struct link *l = linkrec_new(&r);
	struct link_net n = { .id = NET1, .type = LINK_NET_VLAN, .segid = 100,
	    .mtu = 1500, .phys_if = "eth1" };
	struct tr t;

	(void)state;
	assert_non_null(l);
	nic(r, "eth1");
	tr_open(&t);
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "vlan 100 on eth1");
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	assert_string_equal(linkrec_text(r), "");
	n.segid = 200;
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "VLAN id changed to 200");
	assert_int_equal(link_prune(l, NULL, 0), 0);
	tr_step(&t, r, "network gone: VLAN device and bridge deleted");
	tr_check(&t, "link_vlan.txt");

	/* A mapped interface that is itself a VLAN device (flat network on
	 * bond0.7) is the operator's: neither ensure nor prune deletes it. */
	{
		struct link_state b = { .name = "bond0", .mtu = 1500,
		    .up = true };
		struct link_state v = { .name = "bond0.7", .kind = "vlan",
		    .vid = 7, .parent = "bond0", .mtu = 1500, .up = true };
		struct link_net fl = { .id = NET2, .type = LINK_NET_FLAT,
		    .mtu = 1500, .phys_if = "bond0.7" };
		const char *keep[] = { "bond0.7" };

		assert_int_equal(linkrec_inject(r, &b), 0);
		assert_int_equal(linkrec_inject(r, &v), 0);
		assert_int_equal(link_net_ensure(l, &fl, NULL), 0);
		assert_int_equal(link_net_ensure(l, &fl, NULL), 0);
		assert_int_equal(link_prune(l, keep, 1), 0);
		assert_null(strstr(linkrec_text(r), "link del bond0.7"));
		assert_non_null(strstr(linkrec_text(r),
		    "link del tsb7a2b3c4d000"));
		linkrec_reset(r);
	}

	n.segid = 4095;
	assert_int_equal(link_net_ensure(l, &n, NULL), -1);
	n.segid = 100;
	n.phys_if = "enp0s31f6long";	/* + ".100" > 15 characters */
	assert_int_equal(link_net_ensure(l, &n, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	n.phys_if = NULL;
	assert_int_equal(link_net_ensure(l, &n, NULL), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	n.phys_if = "eth9";
	assert_int_equal(link_net_ensure(l, &n, NULL), -1);
	assert_int_equal(err_code(), TS_ECONFIG);
	link_free(&l);
}

static void
test_prune(void **state)
{
	struct linkrec *r;
	struct link *l = linkrec_new(&r);
	const char *peers[] = { "10.99.0.2" };
	struct link_net a = { .id = NET1, .type = LINK_NET_VXLAN, .segid = 1,
	    .mtu = 1450, .local_ip = "10.99.0.1", .peers = peers, .npeers = 1 };
	struct link_net b = { .id = NET2, .type = LINK_NET_VXLAN, .segid = 2,
	    .mtu = 1450, .local_ip = "10.99.0.1" };
	const char *keep[] = { BR1, VX1 };
	struct link_state tap = { .name = "tap0", .kind = "tun", .mtu = 1450,
	    .up = true, .master = "tsb7a2b3c4d000" };
	struct tr t;

	(void)state;
	assert_non_null(l);
	assert_int_equal(link_net_ensure(l, &a, NULL), 0);
	assert_int_equal(link_net_ensure(l, &b, NULL), 0);
	nic(r, "eth0");
	assert_int_equal(linkrec_inject(r, &tap), 0);
	linkrec_reset(r);
	tr_open(&t);
	assert_int_equal(link_prune(l, keep, 2), 0);
	tr_step(&t, r, "keep network 1: network 2's links go, taps and NICs stay");
	tr_check(&t, "link_prune.txt");
	link_free(&l);
}

/* The guests' taps of a network whose bridge was deleted by hand lose
 * their master; the next ensure puts them back on the recreated bridge
 * (level-triggered: a tap already there, an absent tap and a tap not
 * named are left alone). */
static void
test_taps(void **state)
{
	struct linkrec *r;
	struct link *l = linkrec_new(&r);
	const char *peers[] = { "10.99.0.2" };
	const char *taps[] = { "tapa1b2c3d4e5f", "tap0123456789a" };
	struct link_net n = { .id = NET1, .type = LINK_NET_VXLAN, .segid = 42,
	    .mtu = 1450, .local_ip = "10.99.0.1", .peers = peers, .npeers = 1,
	    .taps = taps, .ntaps = 2 };
	struct link_state tap = { .name = "tapa1b2c3d4e5f", .kind = "tun",
	    .mtu = 1450, .up = true, .master = BR1 };
	struct link_state other = { .name = "tapfffffffffff", .kind = "tun",
	    .mtu = 1450, .up = true };
	struct tr t;

	(void)state;
	assert_non_null(l);
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	assert_int_equal(linkrec_inject(r, &tap), 0);
	assert_int_equal(linkrec_inject(r, &other), 0);
	linkrec_reset(r);
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	assert_string_equal(linkrec_text(r), "");
	tr_open(&t);
	assert_int_equal(linkrec_remove(r, BR1), 0);
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "bridge deleted by hand: recreated, vxlan and the "
	    "running guest's tap back on it");
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	tr_step(&t, r, "again: nothing to do");
	/* The same through a batch (the netconv tick's path). */
	assert_int_equal(linkrec_remove(r, BR1), 0);
	assert_int_equal(link_batch_begin(l), 0);
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	link_batch_end(l);
	tr_step(&t, r, "deleted again, converged in a batch");
	tr_check(&t, "link_taps.txt");
	/* A tap that vanishes between the listing and its change (its guest
	 * deleted) is that guest's matter: the network stays converged. */
	assert_int_equal(linkrec_remove(r, BR1), 0);
	linkrec_vanish_next_set(r, "tapa1b2c3d4e5f");
	assert_int_equal(link_net_ensure(l, &n, NULL), 0);
	assert_null(strstr(linkrec_text(r), "link set tapa1b2c3d4e5f"));
	{
		char *d = linkrec_dump(r);

		assert_non_null(d);
		assert_non_null(strstr(d, "link " BR1 " bridge"));
		assert_null(strstr(d, "tapa1b2c3d4e5f"));
		free(d);
	}
	link_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_flat),
		cmocka_unit_test(test_vxlan),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_taps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
