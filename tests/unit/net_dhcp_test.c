/*
 * net_dhcp_test: agent/net/dhcp without running dnsmasq: the exact argv
 * (through the proc recorder), the hosts and opts files for IPv4 and IPv6
 * subnets (tests/golden/net/dhcp_*.txt), hostile hostnames and other
 * malformed input that must never reach a dnsmasq file.
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

#include "dhcp.h"
#include "err.h"
#include "proc.h"

#define NET	"6f1c2a30-0000-4000-8000-000000000001"
#define SUB4	"aa000000-0000-4000-8000-000000000004"
#define SUB6	"aa000000-0000-4000-8000-000000000006"
#define SUBX	"aa000000-0000-4000-8000-0000000000ff"

static struct sch_net_host_route routes[] = {
	{ .destination = "10.20.0.7/16", .nexthop = "10.66.0.254" },
	{ .destination = "169.254.169.254/32", .nexthop = "10.66.0.2" },
};
static char *dns4[] = { "10.66.0.1", "192.0.2.53" };
static char *dns6[] = { "2001:DB8::53" };

static struct sch_net_subnet subnets[] = {
	{ .id = SUB4, .cidr = "10.66.0.0/24", .ip_version = 4,
	  .gateway_ip = "10.66.0.1", .enable_dhcp = true,
	  .dhcp_address = "10.66.0.2",
	  .dns_nameservers = { dns4, 2 }, .host_routes = { routes, 2 } },
	{ .id = SUB6, .cidr = "2001:db8:0:1::/64", .ip_version = 6,
	  .gateway_ip = "2001:db8:0:1::1", .enable_dhcp = true,
	  .dhcp_address = "2001:db8:0:1::2", .dns_nameservers = { dns6, 1 } },
	/* DHCP off: no range, no options, no hosts. */
	{ .id = SUBX, .cidr = "10.77.0.0/24", .ip_version = 4,
	  .enable_dhcp = false },
};

#define FIX(s, ip)	{ .subnet_id = s, .ip_address = ip }
static struct sch_net_fixed_ip f1[] = { FIX(SUB4, "10.66.0.10"),
	FIX(SUB6, "2001:db8:0:1::10"), FIX(SUBX, "10.77.0.5") };
static struct sch_net_fixed_ip f2[] = { FIX(SUB4, "10.66.0.11") };
static struct sch_net_fixed_ip f3[] = { FIX(SUB4, "10.66.0.12") };
static struct sch_net_fixed_ip f4[] = { FIX(SUB4, "10.66.0.13") };
static struct sch_net_fixed_ip fout[] = { FIX(SUB4, "10.99.0.13") };
static struct sch_net_fixed_ip fbad[] = { FIX(SUB4, "10.66.0.14\n") };

#define PORT(n, m, f, h) { .id = "bb000000-0000-4000-8000-00000000000" n, \
	.mac = m, .fixed_ips = { f, sizeof(f) / sizeof(f[0]) }, .hostname = h }
static struct sch_net_port ports[] = {
	PORT("1", "52:54:00:66:00:10", f1, "vm-one"),
	PORT("2", "52:54:00:66:00:11", f2, "Evil,Name\n--dhcp-script=/bin/sh"),
	PORT("3", "52:54:00:66:00:12", f3, NULL),
	PORT("4", "52:54:00:66:00:13", f4, "infinite"),
	PORT("5", "52:54:00:66:00:14", fout, "outside"),
	PORT("6", "52:54:00:66:00:15", fbad, "badip"),
	PORT("7", "52:54:00:66:00:16\n", f2, "badmac"),
	PORT("8", "52:54:00:66:00", f2, "shortmac"),
};

static const struct dhcp_config cfg = { .state_dir = "/var/lib/ts/dhcp",
	.lease_time = 3600, .pid_wait_ms = 1 };

static struct dhcp_net
net(void)
{
	struct dhcp_net n = { .net_id = NET, .bridge = "tsb6f1c2a30000",
	    .mtu = 1450, .subnets = subnets, .nsubnets = 3, .ports = ports,
	    .nports = sizeof(ports) / sizeof(ports[0]) };

	return n;
}

/*
 * [metadata] enabled: every IPv4 subnet with a DHCP address hands out the
 * route to 169.254.169.254/32 via that address (option 121), first in the
 * list, with the default route after it (RFC 3442: option 3 is ignored);
 * a subnet without host routes gets the option too; a subnet with its own
 * route to 169.254.169.254/32 keeps only that one. IPv6 gets nothing.
 */
static void
test_render_metadata_route(void **state)
{
	struct dhcp_config mc = cfg;
	struct sch_net_subnet sn[3];
	struct dhcp_net n = net();
	struct dhcp_files f;
	char *text;

	(void)state;
	mc.metadata_route = true;
	memcpy(sn, subnets, sizeof(sn));
	n.subnets = sn;
	assert_int_equal(dhcp_render(&mc, &n, &f), 0);
	/* The subnet's own route to 169.254.169.254/32 wins: once. */
	assert_non_null(strstr(f.opts, "option:classless-static-route,"
	    "10.20.0.0/16,10.66.0.254,169.254.169.254/32,10.66.0.2,"
	    "0.0.0.0/0,10.66.0.1\n"));
	assert_int_equal(strstr(strstr(f.opts, "169.254.169.254") + 1,
	    "169.254.169.254") == NULL, 1);
	assert_null(strstr(f.opts, "option6:classless"));
	assert_true(asprintf(&text, "# opts, routes given\n%s", f.opts) > 0);
	dhcp_files_clear(&f);

	/* Other host routes: the metadata route first. */
	sn[0].host_routes.n = 1;
	assert_int_equal(dhcp_render(&mc, &n, &f), 0);
	assert_non_null(strstr(f.opts, "option:classless-static-route,"
	    "169.254.169.254/32,10.66.0.2,10.20.0.0/16,10.66.0.254,"
	    "0.0.0.0/0,10.66.0.1\n"));
	dhcp_files_clear(&f);

	/* No host routes: the metadata route and the default route. */
	sn[0].host_routes.items = NULL;
	sn[0].host_routes.n = 0;
	assert_int_equal(dhcp_render(&mc, &n, &f), 0);
	assert_non_null(strstr(f.opts, "tag:subnet-" SUB4 ",option:"
	    "classless-static-route,169.254.169.254/32,10.66.0.2,0.0.0.0/0,"
	    "10.66.0.1\n"));
	{
		char *t2;

		assert_true(asprintf(&t2, "%s# opts, no routes\n%s", text,
		    f.opts) > 0);
		free(text);
		text = t2;
	}
	dhcp_files_clear(&f);
	assert_int_equal(proc_golden_compare(text,
	    "tests/golden/net/dhcp_metadata.txt"), 0);
	free(text);

	/* Off (the default): no route without host routes. */
	assert_int_equal(dhcp_render(&cfg, &n, &f), 0);
	assert_null(strstr(f.opts, "169.254.169.254"));
	dhcp_files_clear(&f);
}

static void
test_hostname(void **state)
{
	static const struct { const char *in, *ip, *want; } cases[] = {
		{ "vm1", "10.0.0.5", "vm1" },
		{ "VM-One.example.com", "10.0.0.5", "vm-one-example-com" },
		{ "a\nb", "10.0.0.5", "a-b" },
		{ "x,set:evil", "10.0.0.5", "x-set-evil" },
		{ "--dhcp-script=/bin/sh", "10.0.0.5", "dhcp-script-bin-sh" },
		{ "  __--  ", "10.0.0.5", "host-10-0-0-5" },
		{ "", "2001:db8::10", "host-2001-db8--10" },
		{ NULL, "10.0.0.5", "host-10-0-0-5" },
		{ "123", "10.0.0.5", "host-123" },
		{ "1h", "10.0.0.5", "host-1h" },
		{ "infinite", "10.0.0.5", "host-infinite" },
		{ "IGNORE", "10.0.0.5", "host-ignore" },
		{ "h\xc3\xa9llo", "10.0.0.5", "h-llo" },
	};
	char out[DHCP_HOSTNAME_MAX + 1], longname[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dhcp_hostname(cases[i].in, cases[i].ip, out);
		assert_string_equal(out, cases[i].want);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	dhcp_hostname(longname, "10.0.0.5", out);
	assert_int_equal(strlen(out), 63);
	/* 62 letters then a separator: no trailing '-' after the cut. */
	memset(longname, 'b', 62);
	strcpy(longname + 62, "-cdef");
	dhcp_hostname(longname, "10.0.0.5", out);
	assert_int_equal(strlen(out), 62);
	dhcp_hostname("9", "10.0.0.5", out);
	assert_string_equal(out, "host-9");
}

static void
test_render(void **state)
{
	struct dhcp_files f;
	struct dhcp_net n = net();
	char *argv, *text;

	(void)state;
	assert_true(dhcp_wanted(&n));
	assert_int_equal(dhcp_render(&cfg, &n, &f), 0);
	assert_non_null(argv = proc_argv_format((const char *const *)f.argv));
	assert_true(asprintf(&text, "# argv\n%s\n# hosts\n%s# opts\n%s",
	    argv, f.hosts, f.opts) > 0);
	assert_int_equal(proc_golden_compare(text,
	    "tests/golden/net/dhcp_render.txt"), 0);
	/* Nothing hostile or malformed got through. */
	assert_null(strstr(f.hosts, "evil,"));
	assert_null(strstr(f.hosts, "--"));
	assert_null(strstr(f.hosts, "10.99.0.13"));
	assert_null(strstr(f.hosts, "badmac"));
	assert_null(strstr(f.hosts, "badip"));
	assert_null(strstr(f.hosts, "10.77.0.5"));
	free(text);
	free(argv);
	dhcp_files_clear(&f);
	dhcp_files_clear(&f);

	/* A bad subnet value fails the network, naming it. */
	subnets[0].gateway_ip = "10.66.0.1,option:router,6.6.6.6";
	assert_int_equal(dhcp_render(&cfg, &n, &f), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "gateway_ip"));
	assert_null(f.argv);
	subnets[0].gateway_ip = "10.66.0.1";
	dns4[1] = "192.0.2.53\ndhcp-option=3,6.6.6.6";
	assert_int_equal(dhcp_render(&cfg, &n, &f), -1);
	dns4[1] = "192.0.2.53";
	routes[0].destination = "10.20.0.0/40";
	assert_int_equal(dhcp_render(&cfg, &n, &f), -1);
	routes[0].destination = "10.20.0.7/16";
	subnets[0].dhcp_address = "10.66.1.2";	/* outside the subnet */
	assert_int_equal(dhcp_render(&cfg, &n, &f), -1);
	subnets[0].dhcp_address = "10.66.0.2";
	subnets[0].cidr = "10.66.0.0";
	assert_int_equal(dhcp_render(&cfg, &n, &f), -1);
	subnets[0].cidr = "10.66.0.0/24";
	n.net_id = "../../etc";
	assert_int_equal(dhcp_render(&cfg, &n, &f), -1);

	/* No ports, or no subnet serving DHCP: no dnsmasq. */
	n = net();
	n.nports = 0;
	assert_false(dhcp_wanted(&n));
	n = net();
	n.subnets = &subnets[2];
	n.nsubnets = 1;
	assert_false(dhcp_wanted(&n));
}

static void
test_ensure_dry_run(void **state)
{
	char tmpl[] = "/tmp/net_dhcp_test.XXXXXX", *dir, path[512];
	struct dhcp_config c = cfg;
	struct dhcp_net n = net();
	struct proc_recorder *rec;
	char *text, *p;
	bool running = true;
	FILE *fp;
	char buf[4096];
	size_t len;

	(void)state;
	assert_non_null(dir = mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/dhcp", dir);
	c.state_dir = path;
	assert_non_null(rec = proc_recorder_new());
	/* The recorder "starts" nothing, so no pid file appears. */
	assert_int_equal(dhcp_ensure(&c, &n, &running), -1);
	assert_false(running);
	assert_non_null(strstr(err_msg(), "not running"));
	assert_int_equal(proc_recorder_count(rec), 1);
	/* Golden with the temporary directory replaced. */
	assert_non_null(text = strdup(proc_recorder_text(rec)));
	while ((p = strstr(text, path)) != NULL) {
		memcpy(p, "$DIR", 4);
		memmove(p + 4, p + strlen(path), strlen(p + strlen(path)) + 1);
	}
	assert_int_equal(proc_golden_compare(text,
	    "tests/golden/net/dhcp_start.txt"), 0);
	free(text);

	/* The files are in place, readable by dnsmasq's unprivileged user. */
	snprintf(buf, sizeof(buf), "%s/" NET "/hosts", path);
	assert_non_null(fp = fopen(buf, "r"));
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[len] = '\0';
	fclose(fp);
	assert_non_null(strstr(buf, "52:54:00:66:00:10,10.66.0.10,vm-one\n"));
	{
		struct stat sb;
		char f[600];

		snprintf(f, sizeof(f), "%s/" NET "/opts", path);
		assert_int_equal(stat(f, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0644);
	}
	{
		char (*ids)[CODEC_UUID_LEN + 1] = NULL;
		size_t nids = 0;

		assert_int_equal(dhcp_list(&c, &ids, &nids), 0);
		assert_int_equal(nids, 1);
		assert_string_equal(ids[0], NET);
		free(ids);
	}
	assert_int_equal(dhcp_pid(&c, NET), 0);

	/* Leaving the host: the directory goes; nothing ran, nothing to kill. */
	proc_recorder_reset(rec);
	n.nports = 0;
	assert_int_equal(dhcp_ensure(&c, &n, &running), 0);
	assert_false(running);
	assert_int_equal(proc_recorder_count(rec), 0);
	snprintf(buf, sizeof(buf), "%s/" NET, path);
	assert_int_equal(access(buf, F_OK), -1);
	assert_int_equal(dhcp_stop(&c, NET), 0);
	assert_int_equal(dhcp_stop(&c, "x/../.."), -1);
	proc_recorder_free(&rec);
	rmdir(path);
	rmdir(dir);
}

/* Leases of ports that are gone are released, the rest kept; IPv6 leases,
 * junk lines and another MAC's lease of a current address too. */
static void
test_release_stale(void **state)
{
	char tmpl[] = "/tmp/net_dhcp_test.XXXXXX", *dir, path[600];
	struct dhcp_config c = cfg;
	struct dhcp_net n = net();
	struct dhcp_files f = { 0 };
	struct proc_recorder *rec;
	FILE *fp;

	(void)state;
	assert_non_null(dir = mkdtemp(tmpl));
	c.state_dir = dir;
	assert_int_equal(dhcp_render(&c, &n, &f), 0);
	assert_non_null(strstr(f.hosts, "52:54:00:66:00:10,10.66.0.10,"));
	assert_non_null(rec = proc_recorder_new());
	/* No lease file yet: nothing to do. */
	assert_int_equal(dhcp_release_stale(&c, &n, f.hosts), 0);
	snprintf(path, sizeof(path), "%s/" NET, dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/" NET "/leases", dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("1700000000 52:54:00:66:00:10 10.66.0.10 vm-one *\n"
	    "1700000000 52:54:00:66:00:99 10.66.0.99 gone *\n"
	    /* a current address, but leased to a MAC that no longer has it */
	    "1700000000 52:54:00:66:00:98 10.66.0.10 old *\n"
	    "1700000000 52:54:00:66:00:1 10.66.0.12 bad-mac *\n"
	    "garbage\n"
	    "duid 00:01:00:01:2c:8e:7a:1b:52:54:00:12:34:56\n"
	    "1700000000 1234 fd00::99 v6 *\n", fp);
	fclose(fp);
	assert_int_equal(dhcp_release_stale(&c, &n, f.hosts), 2);
	assert_int_equal(proc_recorder_count(rec), 2);
	assert_string_equal(proc_recorder_text(rec),
	    "dhcp_release tsb6f1c2a30000 10.66.0.99 52:54:00:66:00:99\n"
	    "dhcp_release tsb6f1c2a30000 10.66.0.10 52:54:00:66:00:98\n");
	proc_recorder_free(&rec);
	dhcp_files_clear(&f);
	unlink(path);
	snprintf(path, sizeof(path), "%s/" NET, dir);
	rmdir(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_release_stale),
		cmocka_unit_test(test_render_metadata_route),
		cmocka_unit_test(test_ensure_dry_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
