/*
 * dhcp: dnsmasq per network (see dhcp.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dhcp.h"
#include "err.h"
#include "health.h"
#include "log.h"
#include "proc.h"
#include "uuid.h"

#define FILE_MAX	(16 * 1024 * 1024)	/* hosts/opts we compare */
#define CMDLINE_MAX	(64 * 1024)
#define STOP_WAIT_MS	2000

/* A parsed address: family, 16 bytes (IPv4 in the first 4), prefix. */
struct addr {
	int		af;
	unsigned char	b[16];
	unsigned	plen;
};

static int
addr_parse(const char *s, bool cidr, struct addr *a)
{
	char buf[72], *slash = NULL, *end;
	unsigned long p = 0;

	memset(a, 0, sizeof(*a));
	if (s == NULL || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if (cidr) {
		if ((slash = strchr(buf, '/')) == NULL)
			return -1;
		*slash++ = '\0';
		if (!isdigit((unsigned char)*slash) || strlen(slash) > 3)
			return -1;
		p = strtoul(slash, &end, 10);
		if (*end)
			return -1;
	}
	if (inet_pton(AF_INET, buf, a->b) == 1)
		a->af = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->b) == 1)
		a->af = AF_INET6;
	else
		return -1;
	if (p > (a->af == AF_INET ? 32u : 128u))
		return -1;
	a->plen = cidr ? (unsigned)p : (a->af == AF_INET ? 32u : 128u);
	return 0;
}

static void
addr_text(const struct addr *a, char *out, size_t len)
{
	if (inet_ntop(a->af, a->b, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

/* Zero the host bits (a CIDR given as 10.0.0.5/24 means 10.0.0.0/24). */
static void
addr_mask(struct addr *a)
{
	unsigned i, nbytes = a->af == AF_INET ? 4 : 16;

	for (i = 0; i < nbytes; i++) {
		unsigned bits = i * 8;

		if (bits >= a->plen)
			a->b[i] = 0;
		else if (a->plen - bits < 8)
			a->b[i] &= (unsigned char)(0xff << (8 - (a->plen - bits)));
	}
}

static bool
addr_in(const struct addr *net, const struct addr *ip)
{
	struct addr t = *ip;

	if (net->af != ip->af)
		return false;
	t.plen = net->plen;
	addr_mask(&t);
	return memcmp(t.b, net->b, 16) == 0;
}

static bool
mac_norm(const char *in, char *out)
{
	size_t i;

	if (in == NULL || strlen(in) != 17)
		return false;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (in[i] != ':')
				return false;
		} else if (!isxdigit((unsigned char)in[i]))
			return false;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[17] = '\0';
	return true;
}

void
dhcp_hostname(const char *name, const char *ip, char *out)
{
	char tmp[DHCP_HOSTNAME_MAX + 1];
	size_t n = 0, i, pos = 0;
	bool dash = false, prefix;

	/* Map to [a-z0-9], collapse runs of anything else into one '-', drop
	 * leading and trailing separators. Input length is bounded by the
	 * schema (255); the loop also stops at 1024. */
	for (i = 0; name && name[i] && i < 1024; i++) {
		char c = (char)tolower((unsigned char)name[i]);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			dash = true;
			continue;
		}
		if (n + (dash && n > 0) + 1 > DHCP_HOSTNAME_MAX)
			break;
		if (dash && n > 0)
			tmp[n++] = '-';
		dash = false;
		tmp[n++] = c;
	}
	tmp[n] = '\0';
	if (n == 0) {
		/* No usable name: one from the address, "host-10-0-0-5". */
		for (i = 0; ip && ip[i] && n < DHCP_HOSTNAME_MAX; i++)
			tmp[n++] = isalnum((unsigned char)ip[i]) ?
			    (char)tolower((unsigned char)ip[i]) : '-';
		tmp[n] = '\0';
		prefix = true;
	} else
		/* dnsmasq reads a leading digit as a lease time and these
		 * words as keywords in a dhcp-host line; a leading letter
		 * also keeps RFC 952 resolvers happy. */
		prefix = tmp[0] < 'a' || tmp[0] > 'z' ||
		    strcmp(tmp, "infinite") == 0 ||
		    strcmp(tmp, "ignore") == 0 ||
		    strcmp(tmp, "deprecated") == 0;
	if (prefix) {
		memcpy(out, "host-", 5);
		pos = 5;
	}
	for (i = 0; i < n && pos < DHCP_HOSTNAME_MAX; i++)
		out[pos++] = tmp[i];
	while (pos > 0 && out[pos - 1] == '-')
		pos--;
	out[pos] = '\0';
}

static bool
subnet_serves(const struct sch_net_subnet *s)
{
	return s->enable_dhcp && s->dhcp_address != NULL &&
	    (s->ip_version == 4 || s->ip_version == 6);
}

bool
dhcp_wanted(const struct dhcp_net *n)
{
	size_t i;

	if (n->nports == 0)
		return false;
	for (i = 0; i < n->nsubnets; i++)
		if (subnet_serves(&n->subnets[i]))
			return true;
	return false;
}

static void
net_dir(const struct dhcp_config *c, const char *id, const char *file,
    char *out, size_t len)
{
	if (file)
		snprintf(out, len, "%s/%s/%s", c->state_dir, id, file);
	else
		snprintf(out, len, "%s/%s", c->state_dir, id);
}

void
dhcp_files_clear(struct dhcp_files *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; f->argv && f->argv[i]; i++)
		free(f->argv[i]);
	free(f->argv);
	free(f->hosts);
	free(f->opts);
	memset(f, 0, sizeof(*f));
}

static int
bad(const char *net, const char *sub, const char *what, const char *val)
{
	err_set(TS_EINVALID, "dhcp: network %s subnet %s: bad %s '%.64s'",
	    net, sub, what, val ? val : "");
	return -1;
}

/* One subnet's lines of the opts file. */
static int
subnet_opts(const struct dhcp_config *c, const struct dhcp_net *n,
    const struct sch_net_subnet *s, const struct addr *net, FILE *o)
{
	struct addr a, gw;
	char t[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
	bool md_route;
	size_t i;

	if (s->gateway_ip && (addr_parse(s->gateway_ip, false, &gw) == -1 ||
	    gw.af != net->af))
		return bad(n->net_id, s->id, "gateway_ip", s->gateway_ip);
	if (net->af == AF_INET) {
		if (s->gateway_ip) {
			addr_text(&gw, g, sizeof(g));
			fprintf(o, "tag:subnet-%s,option:router,%s\n", s->id, g);
		} else	/* else dnsmasq offers itself as the router */
			fprintf(o, "tag:subnet-%s,option:router\n", s->id);
	}
	if (s->dns_nameservers.n) {
		fprintf(o, "tag:subnet-%s,%s", s->id, net->af == AF_INET ?
		    "option:dns-server" : "option6:dns-server");
		for (i = 0; i < s->dns_nameservers.n; i++) {
			if (addr_parse(s->dns_nameservers.items[i], false,
			    &a) == -1 || a.af != net->af)
				return bad(n->net_id, s->id, "dns server",
				    s->dns_nameservers.items[i]);
			addr_text(&a, t, sizeof(t));
			fprintf(o, net->af == AF_INET ? ",%s" : ",[%s]", t);
		}
		fprintf(o, "\n");
	}
	/* Option 121; a client that gets it ignores option 3 (RFC 3442), so
	 * the default route goes in the list too. IPv6 routes come from RAs.
	 * The metadata route leads to this subnet's DHCP address (checked
	 * to be in the subnet by the caller) and goes first, unless the
	 * subnet has a host route of its own to 169.254.169.254/32 (as
	 * Neutron, the operator's route wins). */
	md_route = net->af == AF_INET && c->metadata_route &&
	    s->dhcp_address != NULL;
	for (i = 0; md_route && i < s->host_routes.n; i++) {
		struct addr d;

		if (addr_parse(s->host_routes.items[i].destination, true,
		    &d) == 0 && d.af == AF_INET && d.plen == 32 &&
		    memcmp(d.b, "\xa9\xfe\xa9\xfe", 4) == 0)
			md_route = false;
	}
	if (net->af == AF_INET && (s->host_routes.n || md_route)) {
		fprintf(o, "tag:subnet-%s,option:classless-static-route",
		    s->id);
		if (md_route) {
			struct addr da;

			if (addr_parse(s->dhcp_address, false, &da) == -1 ||
			    da.af != AF_INET)
				return bad(n->net_id, s->id, "dhcp_address",
				    s->dhcp_address);
			addr_text(&da, g, sizeof(g));
			fprintf(o, ",169.254.169.254/32,%s", g);
		}
		for (i = 0; i < s->host_routes.n; i++) {
			const struct sch_net_host_route *r =
			    &s->host_routes.items[i];
			struct addr d, h;

			if (addr_parse(r->destination, true, &d) == -1 ||
			    d.af != AF_INET)
				return bad(n->net_id, s->id, "route",
				    r->destination);
			if (addr_parse(r->nexthop, false, &h) == -1 ||
			    h.af != AF_INET)
				return bad(n->net_id, s->id, "nexthop",
				    r->nexthop);
			addr_mask(&d);
			addr_text(&d, t, sizeof(t));
			addr_text(&h, g, sizeof(g));
			fprintf(o, ",%s/%u,%s", t, d.plen, g);
		}
		if (s->gateway_ip) {
			addr_text(&gw, g, sizeof(g));
			fprintf(o, ",0.0.0.0/0,%s", g);
		}
		fprintf(o, "\n");
	}
	if (net->af == AF_INET && n->mtu)
		fprintf(o, "tag:subnet-%s,option:mtu,%u\n", s->id, n->mtu);
	return 0;
}

static int
argv_push(char ***v, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
argv_push(char ***v, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char **nv;
	int r;

	if ((nv = realloc(*v, (*n + 2) * sizeof(**v))) == NULL)
		return -1;
	*v = nv;
	va_start(ap, fmt);
	r = vasprintf(&nv[*n], fmt, ap);
	va_end(ap);
	if (r < 0) {
		nv[*n] = NULL;
		return -1;
	}
	nv[++*n] = NULL;
	return 0;
}

int
dhcp_render(const struct dhcp_config *c, const struct dhcp_net *n,
    struct dhcp_files *out)
{
	FILE *h = NULL, *o = NULL;
	char *hb = NULL, *ob = NULL, dir[PATH_MAX];
	size_t hl = 0, ol = 0, an = 0, i, j, k;
	struct addr *nets = NULL;
	uint32_t lease = c->lease_time ? c->lease_time : 86400;

	memset(out, 0, sizeof(*out));
	if (n->net_id == NULL || !uuid_valid(n->net_id) ||
	    n->bridge == NULL || n->bridge[0] == '\0') {
		err_set(TS_EINVALID, "dhcp: network id or bridge missing");
		return -1;
	}
	net_dir(c, n->net_id, NULL, dir, sizeof(dir));
	if ((nets = calloc(n->nsubnets ? n->nsubnets : 1, sizeof(*nets))) ==
	    NULL || (h = open_memstream(&hb, &hl)) == NULL ||
	    (o = open_memstream(&ob, &ol)) == NULL)
		goto nomem;

#define PUSH(...) do { if (argv_push(&out->argv, &an, __VA_ARGS__) == -1) \
		goto nomem; } while (0)
	PUSH("%s", c->dnsmasq ? c->dnsmasq : "dnsmasq");
	PUSH("--conf-file=/dev/null");
	PUSH("--no-resolv");
	PUSH("--no-hosts");
	PUSH("--port=0");
	PUSH("--bind-interfaces");
	PUSH("--interface=%s", n->bridge);
	PUSH("--except-interface=lo");
	PUSH("--pid-file=%s/pid", dir);
	PUSH("--dhcp-hostsfile=%s/hosts", dir);
	PUSH("--dhcp-optsfile=%s/opts", dir);
	PUSH("--dhcp-leasefile=%s/leases", dir);

	for (i = 0; i < n->nsubnets; i++) {
		const struct sch_net_subnet *s = &n->subnets[i];
		struct addr da;
		char t[INET6_ADDRSTRLEN];

		if (!subnet_serves(s))
			continue;
		if (addr_parse(s->cidr, true, &nets[i]) == -1 ||
		    nets[i].af != (s->ip_version == 4 ? AF_INET : AF_INET6))
			goto badnet_cidr;
		addr_mask(&nets[i]);
		if (addr_parse(s->dhcp_address, false, &da) == -1 ||
		    !addr_in(&nets[i], &da)) {
			bad(n->net_id, s->id, "dhcp_address", s->dhcp_address);
			goto fail;
		}
		addr_text(&nets[i], t, sizeof(t));
		if (nets[i].af == AF_INET) {
			struct addr m = { .af = AF_INET, .plen = 32 };
			char ms[INET_ADDRSTRLEN];

			memset(m.b, 0xff, 4);
			m.plen = nets[i].plen;
			addr_mask(&m);
			addr_text(&m, ms, sizeof(ms));
			PUSH("--dhcp-range=set:subnet-%s,%s,static,%s,%us",
			    s->id, t, ms, lease);
		} else
			PUSH("--dhcp-range=set:subnet-%s,%s,static,%u,%us",
			    s->id, t, nets[i].plen, lease);
		if (subnet_opts(c, n, s, &nets[i], o) == -1)
			goto fail;
		continue;
badnet_cidr:
		bad(n->net_id, s->id, "cidr", s->cidr);
		goto fail;
	}
#undef PUSH

	for (j = 0; j < n->nports; j++) {
		const struct sch_net_port *p = &n->ports[j];
		char mac[18];

		if (!mac_norm(p->mac, mac)) {
			log_warnx("dhcp: network %s port %s: bad MAC, skipped",
			    n->net_id, p->id);
			continue;
		}
		for (k = 0; k < p->fixed_ips.n; k++) {
			const struct sch_net_fixed_ip *f = &p->fixed_ips.items[k];
			struct addr ip;
			char t[INET6_ADDRSTRLEN], hn[DHCP_HOSTNAME_MAX + 1];

			for (i = 0; i < n->nsubnets; i++)
				if (strcmp(n->subnets[i].id, f->subnet_id) == 0)
					break;
			if (i == n->nsubnets || !subnet_serves(&n->subnets[i]))
				continue;
			if (addr_parse(f->ip_address, false, &ip) == -1 ||
			    !addr_in(&nets[i], &ip)) {
				log_warnx("dhcp: network %s port %s: "
				    "address malformed or not in subnet %s, "
				    "skipped", n->net_id, p->id, f->subnet_id);
				continue;
			}
			addr_text(&ip, t, sizeof(t));
			dhcp_hostname(p->hostname, t, hn);
			fprintf(h, ip.af == AF_INET ? "%s,%s,%s\n" :
			    "%s,[%s],%s\n", mac, t, hn);
		}
	}
	if (fclose(h) != 0 || fclose(o) != 0) {
		h = o = NULL;
		goto nomem;
	}
	out->hosts = hb;
	out->opts = ob;
	free(nets);
	return 0;
nomem:
	err_set(TS_ENOMEM, "dhcp: out of memory");
fail:
	if (h)
		fclose(h);
	if (o)
		fclose(o);
	free(hb);
	free(ob);
	free(nets);
	dhcp_files_clear(out);
	return -1;
}

/* ---- processes and files ------------------------------------------------ */

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Read a whole small file; NULL if absent or larger than max. */
static char *
slurp(const char *path, size_t max, size_t *lenp)
{
	FILE *f;
	char *b;
	size_t n;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if ((b = malloc(max + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(b, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(b);
		return NULL;
	}
	b[n] = '\0';
	if (lenp)
		*lenp = n;
	return b;
}

/* Replace path with text unless it holds it already: 1 changed, 0 same,
 * -1 error. Readable by all: dnsmasq re-reads it after dropping root. */
static int
write_if_changed(const char *path, const char *text)
{
	char tmp[PATH_MAX], *old;
	size_t len = strlen(text), ol = 0;
	int fd;

	if ((old = slurp(path, FILE_MAX, &ol)) != NULL) {
		bool same = ol == len && memcmp(old, text, len) == 0;

		free(old);
		if (same)
			return 0;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		err_set(TS_EINVALID, "dhcp: path too long");
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		err_set_errno(TS_EIO, "dhcp: create %s", tmp);
		return -1;
	}
	if (fchmod(fd, 0644) == -1 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) == -1) {
		err_set_errno(TS_EIO, "dhcp: write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		err_set_errno(TS_EIO, "dhcp: rename to %s", path);
		unlink(tmp);
		return -1;
	}
	return 1;
}

/*
 * Is pid a dnsmasq of this network? 0 no, 1 yes with exactly argv (when
 * argv is given), 2 yes but started with other arguments.
 */
static int
proc_match(pid_t pid, const char *pidarg, char *const *argv)
{
	char path[64], *cl;
	size_t len = 0, off, i = 0;
	bool ours = false, same = argv != NULL;
	const char *base;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	/* A zombie or exited process has an empty cmdline: not running. */
	if ((cl = slurp(path, CMDLINE_MAX, &len)) == NULL || len == 0) {
		free(cl);
		return 0;
	}
	base = strrchr(cl, '/') ? strrchr(cl, '/') + 1 : cl;
	if (strcmp(base, "dnsmasq") != 0) {
		free(cl);
		return 0;
	}
	for (off = 0; off < len; off += strlen(cl + off) + 1, i++) {
		if (strcmp(cl + off, pidarg) == 0)
			ours = true;
		if (argv && i > 0 && (argv[i] == NULL ||
		    strcmp(argv[i], cl + off) != 0))
			same = false;
	}
	if (argv && argv[i] != NULL)
		same = false;
	free(cl);
	return !ours ? 0 : same ? 1 : 2;
}

static pid_t
read_pid(const char *path)
{
	char *t = slurp(path, 64, NULL), *end;
	long v;

	if (t == NULL)
		return 0;
	errno = 0;
	v = strtol(t, &end, 10);
	if (errno || end == t || (*end && *end != '\n') || v <= 1 ||
	    v > INT_MAX)
		v = 0;
	free(t);
	return (pid_t)v;
}

static int
running(const struct dhcp_config *c, const char *id, char *const *argv,
    pid_t *pidp)
{
	char pf[PATH_MAX], arg[PATH_MAX + 16];
	pid_t pid;

	net_dir(c, id, "pid", pf, sizeof(pf));
	snprintf(arg, sizeof(arg), "--pid-file=%s", pf);
	*pidp = pid = read_pid(pf);
	if (pid == 0 || (kill(pid, 0) == -1 && errno == ESRCH))
		return 0;
	return proc_match(pid, arg, argv);
}

pid_t
dhcp_pid(const struct dhcp_config *c, const char *id)
{
	pid_t pid = 0;

	if (id == NULL || !uuid_valid(id))
		return 0;
	return running(c, id, NULL, &pid) ? pid : 0;
}

pid_t
dhcp_dead(const struct dhcp_config *c, const char *id)
{
	pid_t pid = 0;

	if (id == NULL || !uuid_valid(id))
		return 0;
	return running(c, id, NULL, &pid) == 0 ? pid : 0;
}

static int
kill_wait(const struct dhcp_config *c, const char *id, pid_t pid)
{
	unsigned waited;

	log_info("dhcp: stopping dnsmasq %d of network %s", (int)pid, id);
	if (kill(pid, SIGTERM) == -1 && errno != ESRCH) {
		err_set_errno(TS_EIO, "dhcp: kill %d", (int)pid);
		return -1;
	}
	for (waited = 0; waited < STOP_WAIT_MS; waited += 20) {
		if (running(c, id, NULL, &pid) == 0)
			return 0;
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	sleep_ms(50);
	if (running(c, id, NULL, &pid) != 0) {
		err_set(TS_EIO, "dhcp: dnsmasq %d survives SIGKILL", (int)pid);
		return -1;
	}
	return 0;
}

static int
start(const struct dhcp_config *c, const struct dhcp_net *n,
    char *const *argv, pid_t *pidp)
{
	struct proc_result res = { 0 };
	struct proc_opts po = { .timeout_ms = 10000 };
	char pf[PATH_MAX];
	unsigned waited, wait = c->pid_wait_ms ? c->pid_wait_ms : 2000;
	int r;

	net_dir(c, n->net_id, "pid", pf, sizeof(pf));
	unlink(pf);
	log_info("dhcp: starting dnsmasq for network %s on %s", n->net_id,
	    n->bridge);
	r = proc_run((const char *const *)argv, &po, &res);
	proc_result_clear(&res);
	if (r == -1) {
		err_prefix("dhcp: network %s: ", n->net_id);
		return -1;
	}
	/* dnsmasq's parent exits once the daemon is set up; the pid file may
	 * trail it by a moment. */
	for (waited = 0;; waited += 10) {
		if (running(c, n->net_id, argv, pidp) == 1)
			return 0;
		if (waited >= wait)
			break;
		sleep_ms(10);
	}
	err_set(TS_EIO, "dhcp: network %s: dnsmasq started but is not "
	    "running (no live process in %s)", n->net_id, pf);
	return -1;
}

/* Whether hosts has a line for mac that names ip as one of its fields. */
static bool
hosts_has(const char *hosts, const char *mac, const char *ip)
{
	size_t ml = strlen(mac), il = strlen(ip);
	const char *l, *e, *f;

	for (l = hosts; *l != '\0'; l = *e ? e + 1 : e) {
		if ((e = strchr(l, '\n')) == NULL)
			e = l + strlen(l);
		if ((size_t)(e - l) <= ml || strncasecmp(l, mac, ml) ||
		    l[ml] != ',')
			continue;
		for (f = l + ml + 1; f < e; f++) {
			if (f[-1] == ',' && (size_t)(e - f) >= il &&
			    strncmp(f, ip, il) == 0 &&
			    (f + il == e || f[il] == ','))
				return true;
		}
	}
	return false;
}

int
dhcp_release_stale(const struct dhcp_config *c, const struct dhcp_net *n,
    const char *hosts)
{
	char path[PATH_MAX], *leases, *line, *save = NULL;
	const char *prog = c->dhcp_release ? c->dhcp_release : "dhcp_release";
	int count = 0, failed = 0;
	struct ts_err first = { 0 };

	net_dir(c, n->net_id, "leases", path, sizeof(path));
	if ((leases = slurp(path, FILE_MAX, NULL)) == NULL)
		return 0;
	/* "expiry mac ip hostname client-id"; IPv6 leases follow a "duid"
	 * line and are left to expire. */
	for (line = strtok_r(leases, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char exp[24], mac[24], ip[48], macn[18];
		struct addr a;
		struct proc_opts po = { .timeout_ms = 5000 };
		struct proc_result res = { 0 };
		const char *argv[5];

		if (strncmp(line, "duid ", 5) == 0)
			break;
		if (sscanf(line, "%23s %23s %47s", exp, mac, ip) != 3 ||
		    !mac_norm(mac, macn) || addr_parse(ip, false, &a) == -1 ||
		    a.af != AF_INET || hosts_has(hosts, macn, ip))
			continue;
		log_info("dhcp: network %s: releasing the lease of %s to %s "
		    "(no such port now)", n->net_id, ip, macn);
		argv[0] = prog;
		argv[1] = n->bridge;
		argv[2] = ip;
		argv[3] = macn;
		argv[4] = NULL;
		if (proc_run(argv, &po, &res) == -1 || res.status != 0) {
			if (!failed++) {
				if (res.status != 0)
					err_set(TS_EIO, "dhcp: %s %s %s %s "
					    "exited %d", prog, n->bridge, ip,
					    macn, res.status);
				first = *err_last();
			}
		} else
			count++;
		proc_result_clear(&res);
	}
	free(leases);
	if (failed) {
		err_restore(&first);
		return -1;
	}
	return count;
}

int
dhcp_ensure(const struct dhcp_config *c, const struct dhcp_net *n,
    bool *runningp)
{
	struct dhcp_files f = { 0 };
	char dir[PATH_MAX], path[PATH_MAX];
	int ch1, ch2, st, rc = -1;
	pid_t pid = 0;

	*runningp = false;
	if (!dhcp_wanted(n))
		return dhcp_stop(c, n->net_id);
	if (dhcp_render(c, n, &f) == -1)
		return -1;
	net_dir(c, n->net_id, NULL, dir, sizeof(dir));
	if ((mkdir(c->state_dir, 0755) == -1 && errno != EEXIST) ||
	    (mkdir(dir, 0755) == -1 && errno != EEXIST)) {
		err_set_errno(TS_EIO, "dhcp: mkdir %s", dir);
		goto out;
	}
	net_dir(c, n->net_id, "hosts", path, sizeof(path));
	if ((ch1 = write_if_changed(path, f.hosts)) == -1)
		goto out;
	net_dir(c, n->net_id, "opts", path, sizeof(path));
	if ((ch2 = write_if_changed(path, f.opts)) == -1)
		goto out;
	st = running(c, n->net_id, f.argv, &pid);
	if (st == 2) {
		log_info("dhcp: network %s: dnsmasq arguments changed, "
		    "restarting it", n->net_id);
		if (kill_wait(c, n->net_id, pid) == -1)
			goto out;
		st = 0;
	}
	if (st == 0) {
		/* A pid file naming a process that is gone: dnsmasq died
		 * under us (killed, crashed), not stopped by us (dhcp_stop
		 * removes the directory, start() the pid file). */
		if (pid != 0) {
			log_error("dhcp: network %s: dnsmasq %d exited "
			    "unexpectedly; restarting it", n->net_id, (int)pid);
			health_down("dnsmasq", "network %s: dnsmasq %d "
			    "exited unexpectedly", n->net_id, (int)pid);
		}
		if (start(c, n, f.argv, &pid) == -1) {
			health_down("dnsmasq", "%s", err_msg());
			goto out;
		}
	} else {
		if (ch1 || ch2) {
			log_info("dhcp: network %s: files changed, reloading "
			    "dnsmasq %d", n->net_id, (int)pid);
			if (kill(pid, SIGHUP) == -1) {
				err_set_errno(TS_EIO, "dhcp: SIGHUP %d",
				    (int)pid);
				goto out;
			}
		}
		/* A failed release is retried by the next pass; serving the
		 * current ports matters more than reporting it here. */
		if (dhcp_release_stale(c, n, f.hosts) == -1)
			log_warnx("%s", err_msg());
	}
	*runningp = true;
	rc = 0;
out:
	dhcp_files_clear(&f);
	return rc;
}

int
dhcp_stop(const struct dhcp_config *c, const char *id)
{
	static const char *const files[] = { "hosts", "opts", "leases", "pid" };
	char path[PATH_MAX];
	struct stat sb;
	struct dirent *e;
	pid_t pid = 0;
	size_t i, n = 0;
	DIR *d;

	if (id == NULL || !uuid_valid(id)) {
		err_set(TS_EINVALID, "dhcp: network id is not a UUID");
		return -1;
	}
	net_dir(c, id, NULL, path, sizeof(path));
	if (stat(path, &sb) == -1)
		return 0;
	if (running(c, id, NULL, &pid) && kill_wait(c, id, pid) == -1)
		return -1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		net_dir(c, id, files[i], path, sizeof(path));
		unlink(path);
	}
	/* Temporary files of a write interrupted by a crash. */
	net_dir(c, id, NULL, path, sizeof(path));
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL && n++ < 1024)
			if (strncmp(e->d_name, "hosts.", 6) == 0 ||
			    strncmp(e->d_name, "opts.", 5) == 0)
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	if (rmdir(path) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "dhcp: rmdir %s", path);
		return -1;
	}
	return 0;
}

int
dhcp_list(const struct dhcp_config *c, char (**ids)[CODEC_UUID_LEN + 1],
    size_t *np)
{
	DIR *d;
	struct dirent *e;
	char (*v)[CODEC_UUID_LEN + 1] = NULL, (*nv)[CODEC_UUID_LEN + 1];
	size_t n = 0, cap = 0;

	*ids = NULL;
	*np = 0;
	if ((d = opendir(c->state_dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		err_set_errno(TS_EIO, "dhcp: open %s", c->state_dir);
		return -1;
	}
	/* Bounded by the directory; the schema allows 4096 networks. */
	while ((e = readdir(d)) != NULL && n < 65536) {
		if (!uuid_valid(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				err_set(TS_ENOMEM, "dhcp: out of memory");
				return -1;
			}
			v = nv;
		}
		memcpy(v[n++], e->d_name, CODEC_UUID_LEN + 1);
	}
	closedir(d);
	*ids = v;
	*np = n;
	return 0;
}
