/*
 * netctl: drives agent/net/netconv against the real kernel and dnsmasq for
 * tests/integ/test_net_dataplane.sh, the way the agent will: a desired
 * host_network (given as JSON shaped like the schema, or as the msgpack
 * body of the message) is applied, then re-converged on a timer.
 *
 * Usage: netctl encode FILE.json OUT.msgpack   the message body as msgpack
 *        netctl [options] apply FILE      converge once, print the state
 *        netctl [options] serve FILE OUT  converge, then every --tick-ms
 *                                         apply FILE again if it changed,
 *                                         else tick; after each round OUT
 *                                         holds the state (codec_dump).
 *                                         Stops on SIGTERM/SIGINT.
 * Options: --state-dir DIR (dnsmasq files, required) --local-ip IP
 *          --ifmap physnet:if,... --brmap physnet:br,... --lease N
 *          --tick-ms N (default 300) --router-tag TAG (router
 *          namespaces: tsr-<id>-TAG, so tests keep apart)
 *          --firewall (security groups and anti-spoofing, firewall.h)
 * FILE ending in .msgpack is the msgpack map of host_network; anything else
 * is JSON. Exit status 0 when every network converged ok (apply), 1
 * otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "codec.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "netconv.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int from_json(const struct schema_type *, json_t *, void *);

/* One scalar or struct value j into the slot at p. */
static int
value(const struct schema_field *f, enum schema_ftype t, json_t *j, void *p)
{
	switch (t) {
	case SCHEMA_T_BOOL:
		if (!json_is_boolean(j))
			return -1;
		*(bool *)p = json_is_true(j);
		return 0;
	case SCHEMA_T_U32:
		if (!json_is_integer(j))
			return -1;
		*(uint32_t *)p = (uint32_t)json_integer_value(j);
		return 0;
	case SCHEMA_T_U64:
		if (!json_is_integer(j))
			return -1;
		*(uint64_t *)p = (uint64_t)json_integer_value(j);
		return 0;
	case SCHEMA_T_I64:
		if (!json_is_integer(j))
			return -1;
		*(int64_t *)p = (int64_t)json_integer_value(j);
		return 0;
	case SCHEMA_T_STR:
		if (!json_is_string(j))
			return -1;
		return (*(char **)p = strdup(json_string_value(j))) ? 0 : -1;
	case SCHEMA_T_UUID:
		if (!json_is_string(j) ||
		    strlen(json_string_value(j)) > CODEC_UUID_LEN)
			return -1;
		strcpy(p, json_string_value(j));
		return 0;
	case SCHEMA_T_STRUCT:
		return from_json(f->nested, j, p);
	default:
		return -1;
	}
}

static int
from_json(const struct schema_type *t, json_t *o, void *obj)
{
	size_t i, k;

	if (!json_is_object(o))
		return -1;
	for (i = 0; i < t->nfields; i++) {
		const struct schema_field *f = &t->fields[i];
		json_t *j = json_object_get(o, f->name);
		char *p = (char *)obj + f->offset;

		if (j == NULL || json_is_null(j))
			continue;
		if (f->type == SCHEMA_T_LIST) {
			struct ts_list l;
			size_t es = f->elem == SCHEMA_T_STR ? sizeof(char *) :
			    f->elem == SCHEMA_T_UUID ? CODEC_UUID_LEN + 1 :
			    f->elem_size;

			if (!json_is_array(j))
				goto bad;
			l.n = json_array_size(j);
			if ((l.items = calloc(l.n ? l.n : 1, es)) == NULL)
				goto bad;
			memcpy(p, &l, sizeof(l));
			for (k = 0; k < l.n; k++)
				if (value(f, f->elem, json_array_get(j, k),
				    (char *)l.items + k * es) == -1)
					goto bad;
		} else if (value(f, f->type, j, p) == -1)
			goto bad;
		if ((f->flags & SCHEMA_F_OPTIONAL) && f->has_offset &&
		    (f->type == SCHEMA_T_BOOL || f->type == SCHEMA_T_U32 ||
		    f->type == SCHEMA_T_U64 || f->type == SCHEMA_T_I64 ||
		    f->type == SCHEMA_T_STRUCT))
			*((bool *)((char *)obj + f->has_offset)) = true;
		continue;
bad:
		fprintf(stderr, "netctl: field %s.%s: wrong JSON type\n",
		    t->name, f->name);
		return -1;
	}
	return 0;
}

static int
load(const char *path, struct msg_host_network *d)
{
	size_t len = strlen(path);

	memset(d, 0, sizeof(*d));
	if (len > 8 && strcmp(path + len - 8, ".msgpack") == 0) {
		FILE *f = fopen(path, "rb");
		static uint8_t buf[4 << 20];
		size_t n;

		if (f == NULL)
			return -1;
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (codec_decode(&schema_msg_host_network, buf, n, d) == -1) {
			fprintf(stderr, "netctl: %s\n", err_msg());
			return -1;
		}
		return 0;
	} else {
		json_error_t je;
		json_t *j = json_load_file(path, 0, &je);
		int r;

		if (j == NULL) {
			fprintf(stderr, "netctl: %s: %s\n", path, je.text);
			return -1;
		}
		r = from_json(&schema_msg_host_network, j, d);
		json_decref(j);
		if (r == -1)
			codec_clear(&schema_msg_host_network, d);
		return r;
	}
}

static bool
all_ok(const struct msg_host_network_state *st)
{
	size_t i;

	for (i = 0; i < st->networks.n; i++)
		if (!st->networks.items[i].ok)
			return false;
	return true;
}

static void
write_state(const char *out, const struct msg_host_network_state *st)
{
	static char buf[1 << 20];
	char tmp[4096];
	FILE *f;

	codec_dump(&schema_msg_host_network_state, st, buf, sizeof(buf));
	if (out == NULL) {
		printf("%s\n", buf);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "%s\n", buf);
	fclose(f);
	rename(tmp, out);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !stop)
		;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "local-ip", required_argument, NULL, 'l' },
		{ "ifmap", required_argument, NULL, 'i' },
		{ "brmap", required_argument, NULL, 'b' },
		{ "lease", required_argument, NULL, 'L' },
		{ "tick-ms", required_argument, NULL, 't' },
		{ "firewall", no_argument, NULL, 'f' },
		{ "router-tag", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct netconv_config cfg = { 0 };
	struct msg_host_network d;
	struct msg_host_network_state st;
	struct netconv *nc;
	struct link *l;
	struct timespec mt = { 0 };
	struct stat sb;
	unsigned tick = 300;
	const char *out = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': cfg.dhcp.state_dir = optarg; break;
		case 'l': cfg.local_ip = optarg; break;
		case 'i': cfg.interface_mappings = optarg; break;
		case 'b': cfg.bridge_mappings = optarg; break;
		case 'L': cfg.dhcp.lease_time = (uint32_t)atoi(optarg); break;
		case 't': tick = (unsigned)atoi(optarg); break;
		case 'f': cfg.firewall = cfg.fw.sysctl = true; break;
		case 'r': cfg.router_tag = optarg; break;
		default: return 2;
		}
	}
	if (optind + 3 == argc && strcmp(argv[optind], "encode") == 0) {
		struct buf b = { 0 };
		FILE *f;

		if (load(argv[optind + 1], &d) == -1)
			return 1;
		rc = codec_encode(&schema_msg_host_network, &d, &b);
		codec_clear(&schema_msg_host_network, &d);
		if (rc == -1 || (f = fopen(argv[optind + 2], "wb")) == NULL ||
		    fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
			fprintf(stderr, "netctl: encode failed: %s\n",
			    rc == -1 ? err_msg() : "write error");
			buf_free(&b);
			return 1;
		}
		buf_free(&b);
		return 0;
	}
	if (optind + 2 > argc || cfg.dhcp.state_dir == NULL ||
	    (strcmp(argv[optind], "apply") && strcmp(argv[optind], "serve")) ||
	    (strcmp(argv[optind], "serve") == 0 && optind + 3 > argc)) {
		fprintf(stderr, "usage: netctl --state-dir DIR [options] "
		    "apply FILE | serve FILE OUT\n");
		return 2;
	}
	log_init("netctl", getenv("NETCTL_DEBUG") ? LOG_LVL_DEBUG :
	    LOG_LVL_INFO, LOG_TO_STDERR, NULL);
	if ((l = link_new_netlink()) == NULL ||
	    (nc = netconv_new(&cfg, &l)) == NULL) {
		fprintf(stderr, "netctl: %s\n", err_msg());
		return 1;
	}
	if (load(argv[optind + 1], &d) == -1) {
		netconv_free(&nc);
		return 1;
	}
	if (netconv_apply(nc, &d, &st) == -1) {
		fprintf(stderr, "netctl: %s\n", err_msg());
		codec_clear(&schema_msg_host_network, &d);
		netconv_free(&nc);
		return 1;
	}
	codec_clear(&schema_msg_host_network, &d);
	if (strcmp(argv[optind], "apply") == 0) {
		write_state(NULL, &st);
		rc = all_ok(&st) ? 0 : 1;
		codec_clear(&schema_msg_host_network_state, &st);
		netconv_free(&nc);
		return rc;
	}
	out = argv[optind + 2];
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (stat(argv[optind + 1], &sb) == 0)
		mt = sb.st_mtim;
	write_state(out, &st);
	codec_clear(&schema_msg_host_network_state, &st);
	while (!stop) {
		sleep_ms(tick);
		if (stop)
			break;
		if (stat(argv[optind + 1], &sb) == 0 &&
		    (sb.st_mtim.tv_sec != mt.tv_sec ||
		    sb.st_mtim.tv_nsec != mt.tv_nsec) &&
		    load(argv[optind + 1], &d) == 0) {
			mt = sb.st_mtim;
			rc = netconv_apply(nc, &d, &st);
			codec_clear(&schema_msg_host_network, &d);
		} else
			rc = netconv_tick(nc, &st);
		/* The later gratuitous ARP rounds, at tick granularity. */
		(void)netconv_announce(nc);
		if (rc == -1) {
			fprintf(stderr, "netctl: %s\n", err_msg());
			continue;
		}
		write_state(out, &st);
		codec_clear(&schema_msg_host_network_state, &st);
	}
	netconv_free(&nc);
	return 0;
}
