/*
 * fwbench: agent/net/firewall against the real nft, for
 * bench/firewall_bench.sh (run inside a scratch network namespace).
 *
 * Usage: fwbench [--nft PATH] PORTS GROUPS RULES REPS
 * Builds a synthetic host_network: PORTS filtered ports over 10 networks,
 * GROUPS security groups with RULES rules in all (every 4th rule names a
 * remote group, every 5th is an IPv6 rule), each port in 1 to 3 groups,
 * every 10th port with an address pair; the members of a group are the
 * addresses of its ports. Then:
 *   full    the first firewall_apply (both tables whole)
 *   rule    REPS times: one new ingress tcp rule in a group used by exactly
 *           one port (group 0 holds port 0 only)
 *   port    REPS times: one new port (in groups 1 and 2)
 *   member  REPS times: one new address joins group 1, which the rules of
 *           other groups name as a remote group
 *   leave   REPS times: one of those addresses leaves group 1 again (the
 *           last joined first); a shrinking set also cuts the leaving
 *           member's tracked connections in the zones of the ports whose
 *           groups name it (conntrack -D, in the namespace), which is in
 *           the time
 * Each apply prints "<phase> <seconds> <cpu seconds of this process>" on
 * stdout. Exit 1 if any apply
 * fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "firewall.h"
#include "msg_gen.h"

#define NNET	10

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		perror("strdup");
		exit(2);
	}
	return p;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (p == NULL) {
		perror("calloc");
		exit(2);
	}
	return p;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
ipv4_of(size_t i, char *b, size_t n)
{
	snprintf(b, n, "10.%zu.%zu.%zu", 100 + i % NNET, (i / NNET) / 250,
	    (i / NNET) % 250 + 2);
}

/* This process's CPU seconds: firewall_apply's own rendering and diffing,
 * without nft and conntrack (children), and not stretched by the load of
 * other work the way the wall time is. */
static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
timed(struct firewall *fw, struct msg_host_network *d, const char *phase)
{
	double t0 = now(), c0 = cpu(), t;

	d->generation++;
	if (firewall_apply(fw, d, NULL) == -1) {
		fprintf(stderr, "fwbench: %s: apply failed\n", phase);
		exit(1);
	}
	t = now() - t0;
	printf("%s %.6f %.6f\n", phase, t, cpu() - c0);
	fflush(stdout);
}

/* Room for the growth of a list: REPS more entries. */
#define GROW(list, extra) do {						\
	void *q_ = xcalloc((list).n + (extra), sizeof(*(list).items));	\
	memcpy(q_, (list).items, (list).n * sizeof(*(list).items));	\
	(list).items = q_;						\
} while (0)

int
main(int argc, char **argv)
{
	struct firewall_config cfg = { .sysctl = false };
	struct msg_host_network d = { .host = xstrdup("bench"), .generation = 1 };
	size_t np, ng, nr, reps, i, j, k;
	char b[64];
	int a = 1;

	if (argc > 2 && strcmp(argv[1], "--nft") == 0) {
		cfg.nft = argv[2];
		a = 3;
	}
	if (argc - a != 4) {
		fprintf(stderr, "usage: fwbench [--nft PATH] PORTS GROUPS "
		    "RULES REPS\n");
		return 2;
	}
	np = strtoul(argv[a], NULL, 10);
	ng = strtoul(argv[a + 1], NULL, 10);
	nr = strtoul(argv[a + 2], NULL, 10);
	reps = strtoul(argv[a + 3], NULL, 10);
	if (np < 3 || ng < 3 || nr < ng) {
		fprintf(stderr, "fwbench: need PORTS, GROUPS >= 3, RULES >= GROUPS\n");
		return 2;
	}

	d.networks.n = NNET;
	d.networks.items = xcalloc(NNET, sizeof(*d.networks.items));
	for (i = 0; i < NNET; i++) {
		struct sch_net_network *n = &d.networks.items[i];

		snprintf(n->id, sizeof(n->id),
		    "6f1c2a30-0000-4000-8000-%012x", (unsigned)i);
		n->type = xstrdup("vxlan");
		n->segmentation_id = (uint32_t)(100 + i);
		n->has_segmentation_id = true;
		n->mtu = 1450;
	}

	/* Groups: ids, rules spread evenly. */
	d.security_groups.n = ng;
	d.security_groups.items = xcalloc(ng, sizeof(*d.security_groups.items));
	for (i = 0; i < ng; i++)
		snprintf(d.security_groups.items[i].id, CODEC_UUID_LEN + 1,
		    "5e000000-0000-4000-8000-%012x", (unsigned)i);
	for (i = 0; i < ng; i++) {
		struct sch_net_secgroup *g = &d.security_groups.items[i];
		size_t cnt = nr / ng + (i < nr % ng);

		g->rules.n = cnt;
		g->rules.items = xcalloc(cnt + (i == 0 ? reps : 0),
		    sizeof(*g->rules.items));
		for (j = 0; j < cnt; j++) {
			struct sch_net_sg_rule *r = &g->rules.items[j];
			size_t seq = i * 1000 + j;

			r->direction = xstrdup(j == 0 ? "egress" : "ingress");
			r->ethertype = xstrdup(seq % 5 == 4 ? "IPv6" : "IPv4");
			if (j == 0)
				continue;
			r->protocol = xstrdup(j % 3 == 2 ? "udp" : "tcp");
			r->has_port_min = r->has_port_max = true;
			r->port_min = (uint32_t)(1000 + seq % 60000);
			r->port_max = r->port_min + (uint32_t)(j % 4);
			if (j % 4 == 1) {
				/* remote group: never group 0 (one port). */
				r->remote_group_id = xstrdup(
				    d.security_groups.items[1 + (i + j) %
				    (ng - 1)].id);
			} else if (strcmp(r->ethertype, "IPv6") == 0) {
				snprintf(b, sizeof(b), "2001:db8:%zx::/48",
				    seq % 65536);
				r->remote_ip_prefix = xstrdup(b);
			} else {
				snprintf(b, sizeof(b), "172.%zu.%zu.0/24",
				    16 + seq % 16, (seq / 16) % 256);
				r->remote_ip_prefix = xstrdup(b);
			}
		}
	}

	/* Ports: port 0 alone in group 0; port p in groups 1+p%(ng-1) and,
	 * for p%3, more. */
	d.ports.n = np;
	d.ports.items = xcalloc(np + reps, sizeof(*d.ports.items));
	{
		size_t *nm = xcalloc(ng, sizeof(*nm));
		char ***mem = xcalloc(ng, sizeof(*mem));

		for (i = 0; i < ng; i++)
			/* its ports, then the port and member phases' joins */
			mem[i] = xcalloc(np + 2 * reps + 1, sizeof(char *));
		for (i = 0; i < np + reps; i++) {
			struct sch_net_port *p = &d.ports.items[i];
			size_t gs[3], n = 0;

			snprintf(p->id, sizeof(p->id),
			    "%08x-b000-4000-8000-%012x", (unsigned)i, (unsigned)i);
			snprintf(p->network_id, sizeof(p->network_id), "%s",
			    d.networks.items[i % NNET].id);
			snprintf(b, sizeof(b), "fa:16:3e:%02zx:%02zx:%02zx",
			    (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
			p->mac = xstrdup(b);
			p->fixed_ips.n = 1;
			p->fixed_ips.items = xcalloc(1, sizeof(struct sch_net_fixed_ip));
			snprintf(p->fixed_ips.items[0].subnet_id,
			    CODEC_UUID_LEN + 1,
			    "aa000000-0000-4000-8000-%012x", (unsigned)(i % NNET));
			ipv4_of(i, b, sizeof(b));
			p->fixed_ips.items[0].ip_address = xstrdup(b);
			p->has_port_security = p->port_security = true;
			if (i == 0) {
				gs[n++] = 0;
			} else if (i >= np) {
				gs[n++] = 1;
				gs[n++] = 2;
			} else {
				gs[n++] = 1 + i % (ng - 1);
				for (k = 1; k <= i % 3; k++)
					gs[n++] = 1 + (i + k * 7) % (ng - 1);
			}
			p->security_groups.n = n;
			p->security_groups.items = xcalloc(n, sizeof(char *));
			for (k = 0; k < n; k++) {
				p->security_groups.items[k] =
				    d.security_groups.items[gs[k]].id;
				if (i < np)
					mem[gs[k]][nm[gs[k]]++] =
					    p->fixed_ips.items[0].ip_address;
			}
			if (i % 10 == 5) {
				p->address_pairs.n = 1;
				p->address_pairs.items = xcalloc(1,
				    sizeof(struct sch_net_addr_pair));
				snprintf(b, sizeof(b), "192.168.%zu.%zu",
				    (i / 250) % 256, i % 250 + 2);
				p->address_pairs.items[0].ip = xstrdup(b);
			}
		}
		for (i = 0; i < ng; i++) {
			d.security_groups.items[i].members.items = mem[i];
			d.security_groups.items[i].members.n = nm[i];
		}
		free(nm);
	}
	d.ports.n = np;

	struct firewall *fw = firewall_new(&cfg);

	if (fw == NULL) {
		fprintf(stderr, "fwbench: firewall_new failed\n");
		return 1;
	}
	timed(fw, &d, "full");
	/* An unchanged apply: should send nothing. */
	timed(fw, &d, "noop");

	for (i = 0; i < reps; i++) {
		struct sch_net_secgroup *g = &d.security_groups.items[0];
		struct sch_net_sg_rule *r = &g->rules.items[g->rules.n];

		r->direction = xstrdup("ingress");
		r->ethertype = xstrdup("IPv4");
		r->protocol = xstrdup("tcp");
		r->has_port_min = r->has_port_max = true;
		r->port_min = r->port_max = (uint32_t)(20000 + i);
		g->rules.n++;
		timed(fw, &d, "rule");
	}
	for (i = 0; i < reps; i++) {
		struct sch_net_secgroup *g1 = &d.security_groups.items[1];
		struct sch_net_secgroup *g2 = &d.security_groups.items[2];
		const char *ip = d.ports.items[d.ports.n].fixed_ips.items[0]
		    .ip_address;

		g1->members.items[g1->members.n++] = (char *)ip;
		g2->members.items[g2->members.n++] = (char *)ip;
		d.ports.n++;
		timed(fw, &d, "port");
	}
	for (i = 0; i < reps; i++) {
		struct sch_net_secgroup *g1 = &d.security_groups.items[1];

		snprintf(b, sizeof(b), "10.250.%zu.%zu", i / 250, i % 250 + 2);
		g1->members.items[g1->members.n++] = xstrdup(b);
		timed(fw, &d, "member");
	}
	for (i = 0; i < reps; i++) {
		struct sch_net_secgroup *g1 = &d.security_groups.items[1];

		free(g1->members.items[--g1->members.n]);
		g1->members.items[g1->members.n] = NULL;
		timed(fw, &d, "leave");
	}
	firewall_free(&fw);
	return 0;
}
