/* garp: gratuitous ARP from router namespaces; see garp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "garp.h"
#include "log.h"

struct entry {
	char		 ns[GARP_NS_MAX + 1];
	char		 dev[IFNAME_MAX + 1];
	char		 ip[INET_ADDRSTRLEN];
	uint8_t		 addr[4];
	int		 round;		/* the next one, 1..GARP_ROUNDS */
	int64_t		 due;
};

struct garp {
	struct entry	*e;
	size_t		 n, cap;
};

static garp_hook_fn	 hook;
static void		*hook_arg;

void
garp_set_hook(garp_hook_fn fn, void *arg)
{
	hook = fn;
	hook_arg = arg;
}

void
garp_frame(uint8_t *out, const uint8_t mac[6], const uint8_t ip[4],
    enum garp_op op)
{
	uint8_t *a = out + ETH_HLEN;

	memset(out, 0, GARP_FRAME_LEN);
	memset(out, 0xff, ETH_ALEN);
	memcpy(out + ETH_ALEN, mac, ETH_ALEN);
	out[12] = ETH_P_ARP >> 8;
	out[13] = ETH_P_ARP & 0xff;
	a[0] = 0;
	a[1] = ARPHRD_ETHER;
	a[2] = ETH_P_IP >> 8;
	a[3] = ETH_P_IP & 0xff;
	a[4] = ETH_ALEN;
	a[5] = 4;
	a[6] = 0;
	a[7] = (uint8_t)op;
	memcpy(a + 8, mac, ETH_ALEN);
	memcpy(a + 14, ip, 4);
	/* A reply counts as gratuitous for Linux only with its target MAC
	 * equal to its sender's; a request's target is broadcast, as
	 * `arping -U` sends it. */
	if (op == GARP_REPLY)
		memcpy(a + 18, mac, ETH_ALEN);
	else
		memset(a + 18, 0xff, ETH_ALEN);
	memcpy(a + 24, ip, 4);
}

struct garp *
garp_new(void)
{
	struct garp *g = calloc(1, sizeof(*g));

	if (g == NULL)
		err_set(TS_ENOMEM, "garp: out of memory");
	return g;
}

void
garp_free(struct garp **gp)
{
	if (gp == NULL || *gp == NULL)
		return;
	free((*gp)->e);
	free(*gp);
	*gp = NULL;
}

size_t
garp_pending(const struct garp *g)
{
	return g->n;
}

static bool
name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n <= max && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

int
garp_add(struct garp *g, const char *ns, const char *dev, const char *ip,
    int64_t now_ms)
{
	struct entry *e, *ne;
	struct in_addr a;
	size_t i;

	if (ns == NULL)
		ns = "";
	if (!name_ok(ns, GARP_NS_MAX) || dev[0] == '\0' ||
	    !name_ok(dev, IFNAME_MAX)) {
		err_set(TS_EINVALID, "garp: bad namespace or device '%.80s' "
		    "'%.20s'", ns, dev);
		return -1;
	}
	if (inet_pton(AF_INET, ip, &a) != 1) {
		err_set(TS_EINVALID, "garp: '%.64s' is not an IPv4 address",
		    ip);
		return -1;
	}
	for (i = 0; i < g->n; i++)
		if (strcmp(g->e[i].ns, ns) == 0 &&
		    strcmp(g->e[i].dev, dev) == 0 &&
		    memcmp(g->e[i].addr, &a, 4) == 0)
			break;
	if (i == g->n) {
		if (g->n == GARP_QUEUE_MAX) {
			err_set(TS_ECONFLICT, "garp: %d announcements queued "
			    "already", GARP_QUEUE_MAX);
			return -1;
		}
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 16;

			if ((ne = realloc(g->e, cap * sizeof(*ne))) == NULL) {
				err_set(TS_ENOMEM, "garp: out of memory");
				return -1;
			}
			g->e = ne;
			g->cap = cap;
		}
		g->n++;
	}
	e = &g->e[i];
	memset(e, 0, sizeof(*e));
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	snprintf(e->dev, sizeof(e->dev), "%s", dev);
	inet_ntop(AF_INET, &a, e->ip, sizeof(e->ip));
	memcpy(e->addr, &a, 4);
	e->round = 1;
	e->due = now_ms;
	return 0;
}

static void
drop(struct garp *g, size_t i)
{
	g->e[i] = g->e[--g->n];
}

void
garp_cancel(struct garp *g, const char *ns, const char *dev, const char *ip)
{
	size_t i = 0;

	if (ns == NULL)
		ns = "";
	while (i < g->n) {
		const struct entry *e = &g->e[i];

		if (strcmp(e->ns, ns) == 0 &&
		    (dev == NULL || strcmp(e->dev, dev) == 0) &&
		    (ip == NULL || strcmp(e->ip, ip) == 0))
			drop(g, i);
		else
			i++;
	}
}

/* The namespace switch, on a thread of its own: setns() changes only the
 * calling thread, and this one ends right after. */
struct nsopen {
	char		 path[sizeof(GARP_NETNS_DIR) + GARP_NS_MAX + 2];
	int		 fd;
	int		 errnum;
	const char	*what;
};

static void *
nsopen_thread(void *arg)
{
	struct nsopen *o = arg;
	int nfd;

	if ((nfd = open(o->path, O_RDONLY | O_CLOEXEC)) == -1) {
		o->errnum = errno;
		o->what = "open";
		return NULL;
	}
	if (setns(nfd, CLONE_NEWNET) == -1) {
		o->errnum = errno;
		o->what = "setns";
		close(nfd);
		return NULL;
	}
	close(nfd);
	if ((o->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)) == -1) {
		o->errnum = errno;
		o->what = "socket";
	}
	return NULL;
}

/* A packet socket in namespace ns ("": ours); -1 recorded. */
static int
packet_socket(const char *ns)
{
	struct nsopen o = { .fd = -1 };
	pthread_t th;
	int rc, fd;

	if (ns[0] == '\0') {
		if ((fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)) == -1)
			err_set_errno(TS_EINTERNAL, "garp: packet socket");
		return fd;
	}
	snprintf(o.path, sizeof(o.path), "%s/%s", GARP_NETNS_DIR, ns);
	if ((rc = pthread_create(&th, NULL, nsopen_thread, &o)) != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "garp: thread");
		return -1;
	}
	pthread_join(th, NULL);
	if (o.fd == -1) {
		errno = o.errnum;
		err_set_errno(TS_EINTERNAL, "garp: %s %s", o.what, o.path);
	}
	return o.fd;
}

/* Both frames of one round of e through fd (a socket in e->ns). -1
 * recorded; *gone set when the device does not exist. */
static int
send_round(int fd, const struct entry *e, bool *gone)
{
	struct ifreq ifr;
	struct sockaddr_ll sa;
	uint8_t frame[GARP_FRAME_LEN];
	int op;

	*gone = false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", e->dev);
	/* The socket's namespace answers these, not the thread's. */
	if (ioctl(fd, SIOCGIFINDEX, &ifr) == -1) {
		*gone = errno == ENODEV;
		err_set_errno(TS_EINTERNAL, "garp: %s in %s", e->dev,
		    e->ns[0] ? e->ns : "this namespace");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sll_family = AF_PACKET;
	sa.sll_protocol = htons(ETH_P_ARP);
	sa.sll_ifindex = ifr.ifr_ifindex;
	sa.sll_halen = ETH_ALEN;
	memset(sa.sll_addr, 0xff, ETH_ALEN);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == -1) {
		err_set_errno(TS_EINTERNAL, "garp: MAC of %s", e->dev);
		return -1;
	}
	for (op = GARP_REQUEST; op <= GARP_REPLY; op++) {
		garp_frame(frame, (const uint8_t *)ifr.ifr_hwaddr.sa_data,
		    e->addr, (enum garp_op)op);
		if (sendto(fd, frame, sizeof(frame), MSG_DONTWAIT,
		    (struct sockaddr *)&sa, sizeof(sa)) == -1) {
			err_set_errno(TS_EINTERNAL, "garp: %s on %s in %s",
			    e->ip, e->dev, e->ns);
			return -1;
		}
	}
	return 0;
}

/* One round of every due entry of namespace ns (entries marked by due
 * <= now), with one socket; entries that cannot be reached are dropped. */
static void
run_ns(struct garp *g, const char *ns, int64_t now)
{
	char nsname[GARP_NS_MAX + 1];
	size_t i = 0;
	int fd = -1;
	bool gone;

	snprintf(nsname, sizeof(nsname), "%s", ns);
	if (hook == NULL && (fd = packet_socket(nsname)) == -1) {
		log_warnx("%s: announcements dropped", err_msg());
		garp_cancel(g, nsname, NULL, NULL);
		return;
	}
	while (i < g->n) {
		struct entry *e = &g->e[i];

		if (e->due > now || strcmp(e->ns, nsname) != 0) {
			i++;
			continue;
		}
		if (hook != NULL) {
			if (hook(e->ns, e->dev, e->ip, e->round,
			    hook_arg) == -1)
				log_warnx("garp: %s on %s in %s: round %d "
				    "failed", e->ip, e->dev, e->ns, e->round);
		} else if (send_round(fd, e, &gone) == -1) {
			log_warnx("%s", err_msg());
			if (gone) {
				drop(g, i);
				continue;
			}
		} else
			log_debug("garp: %s on %s in %s, round %d", e->ip,
			    e->dev, e->ns, e->round);
		if (e->round++ >= GARP_ROUNDS) {
			drop(g, i);
			continue;
		}
		e->due = now + GARP_INTERVAL_MS;
		i++;
	}
	if (fd != -1)
		close(fd);
}

int64_t
garp_run(struct garp *g, int64_t now_ms)
{
	int64_t next = -1;
	size_t i;

	for (i = 0; i < g->n; ) {
		if (g->e[i].due <= now_ms) {
			run_ns(g, g->e[i].ns, now_ms);
			i = 0;	/* run_ns() reorders; the due ones are gone */
			continue;
		}
		i++;
	}
	for (i = 0; i < g->n; i++)
		if (next == -1 || g->e[i].due - now_ms < next)
			next = g->e[i].due - now_ms;
	return next;
}
