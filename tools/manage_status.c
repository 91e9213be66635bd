/* manage_status: see manage_status.h. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "codec.h"
#include "config.h"
#include "core/db.h"
#include "core/hoststatus.h"
#include "err.h"
#include "manage_status.h"
#include "store.h"

#define PROG		"tinystack-manage"
#define LOGS_MAX	200	/* lines `logs errors` prints at most */

static void
fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static json_t *
jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* One service row: table line or JSON object. */
static void
dep_out(const char *who, const char *name, const char *state,
    const char *detail, const char *error, int64_t error_at, json_t *arr)
{
	char t[32];

	if (arr != NULL) {
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "state", json_string(state));
		json_object_set_new(o, "detail", jstr(detail));
		json_object_set_new(o, "error", jstr(error));
		json_object_set_new(o, "error_at", error_at > 0 ?
		    json_integer(error_at) : json_null());
		json_array_append_new(arr, o);
		return;
	}
	fmt_time(error_at, t, sizeof(t));
	/* The error last and whole: it is what the operator reads. */
	printf("| %-24s | %-8s | %-5s | %-30.30s | %-19s | %s\n", who, name,
	    state, detail ? detail : "-", t, error ? error : "-");
}

static void
dep_head(void)
{
	printf("| %-24s | %-8s | %-5s | %-30s | %-19s | %s\n", "Host",
	    "Service", "State", "Detail", "Error at", "Last error");
}

/* ---------------------------------------------------------------- status */

struct st {
	const struct config	*cfg;
	struct store_txn	*txn;
	int64_t			 now, down_ms;
	bool			 json;
	bool			 bad;
	bool			 header;
	json_t			*agents;
	json_t			*ctls;
};

/* 1 if host:port accepts a TCP connection (loopback or the configured
 * address: answered at once), 0 if not, -1 if host is no IPv4 address
 * (not checked: an IPv6 or named endpoint). */
static int
accepts(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, ok;

	sa.sin_port = htons((uint16_t)port);
	if (host == NULL || *host == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "*") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* The controller's ports, checked from here: the API ports and the bus
 * (a tcp:// endpoint). down gets the first that does not answer. */
static bool
ports_check(const struct config *cfg, char *api_err, size_t alen,
    char *bus_err, size_t blen)
{
	static const char *const ports[] = { "identity_port", "compute_port",
	    "image_port", "volume_port", "network_port" };
	const char *bind = config_get_str(cfg, "api", "bind_host");
	const char *ep = config_get_str(cfg, "bus", "listen");
	bool ok = true;

	api_err[0] = bus_err[0] = '\0';
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		int p = (int)config_get_int(cfg, "api", ports[i]);

		if (accepts(bind, p) == 0) {
			if (api_err[0] == '\0')
				snprintf(api_err, alen, "%s %s:%d does not "
				    "accept connections", ports[i],
				    bind && *bind ? bind : "127.0.0.1", p);
			ok = false;
		}
	}
	if (ep && strncmp(ep, "tcp://", 6) == 0) {
		char h[128];
		const char *colon = strrchr(ep + 6, ':');
		size_t hl = colon ? (size_t)(colon - (ep + 6)) : 0;

		if (colon && hl < sizeof(h)) {
			memcpy(h, ep + 6, hl);
			h[hl] = '\0';
			if (accepts(h, atoi(colon + 1)) == 0) {
				snprintf(bus_err, blen, "bus %s does not "
				    "accept connections", ep);
				ok = false;
			}
		}
	}
	return ok;
}

static int
ctl_one(const struct rec_host_status *hs, void *arg)
{
	struct st *s = arg;

	if (strcmp(hs->binary, HOSTSTATUS_CONTROLLER) != 0)
		return 0;
	if (s->json) {
		json_t *o = json_object(), *d = json_array();

		json_object_set_new(o, "host", json_string(hs->host));
		json_object_set_new(o, "updated_at", json_integer(
		    hs->updated_at));
		json_object_set_new(o, "age_s", json_integer((s->now -
		    hs->updated_at) / 1000));
		json_object_set_new(o, "reporting", json_boolean(s->now -
		    hs->updated_at <= s->down_ms));
		for (size_t i = 0; i < hs->deps.n; i++)
			dep_out(NULL, hs->deps.items[i].name,
			    hs->deps.items[i].state, hs->deps.items[i].detail,
			    hs->deps.items[i].error,
			    hs->deps.items[i].error_at, d);
		json_object_set_new(o, "services", d);
		json_array_append_new(s->ctls, o);
	} else {
		char t[32];

		fmt_time(hs->updated_at, t, sizeof(t));
		printf("controller on %s: last report %s (%llds ago)%s\n",
		    hs->host, t, (long long)((s->now - hs->updated_at) / 1000),
		    s->now - hs->updated_at <= s->down_ms ? "" :
		    ": NOT REPORTING");
		dep_head();
		for (size_t i = 0; i < hs->deps.n; i++)
			dep_out(hs->host, hs->deps.items[i].name,
			    hs->deps.items[i].state, hs->deps.items[i].detail,
			    hs->deps.items[i].error,
			    hs->deps.items[i].error_at, NULL);
	}
	if (s->now - hs->updated_at > s->down_ms)
		s->bad = true;
	for (size_t i = 0; i < hs->deps.n; i++)
		if (strcmp(hs->deps.items[i].state, "up") != 0)
			s->bad = true;
	return 0;
}

static int
agent_one(const struct rec_service *sv, void *arg)
{
	struct st *s = arg;
	struct rec_hypervisor hv;
	struct rec_storage_host sh;
	struct rec_host_status hs;
	char t[32], lv[64] = "-", stor[96] = "-";
	int up = !sv->forced_down && s->now - sv->last_seen_at <= s->down_ms;
	const char *ver = "-";
	bool has_hv, has_hs;

	has_hv = db_hypervisor_by_host(s->txn, sv->host, &hv) == 0;
	if (has_hv) {
		snprintf(lv, sizeof(lv), "%s %llu.%llu.%llu", hv.hypervisor_type,
		    (unsigned long long)(hv.hypervisor_version / 1000000),
		    (unsigned long long)(hv.hypervisor_version / 1000 % 1000),
		    (unsigned long long)(hv.hypervisor_version % 1000));
		if (hv.agent_version && *hv.agent_version)
			ver = hv.agent_version;
	}
	if (db_rec_get(s->txn, T_STORAGE_HOSTS, sv->host,
	    &schema_rec_storage_host, &sh) == 0) {
		snprintf(stor, sizeof(stor), "%s %llu/%llu GB free", sh.backend,
		    (unsigned long long)sh.free_gb,
		    (unsigned long long)sh.total_gb);
		codec_clear(&schema_rec_storage_host, &sh);
	}
	has_hs = hoststatus_get(s->txn, HOSTSTATUS_AGENT, sv->host, &hs) == 0;
	if (s->json) {
		json_t *o = json_object(), *d = json_array();

		json_object_set_new(o, "host", json_string(sv->host));
		json_object_set_new(o, "status", json_string(sv->disabled ?
		    "disabled" : "enabled"));
		json_object_set_new(o, "state", json_string(up ? "up" :
		    "down"));
		json_object_set_new(o, "last_heartbeat", json_integer(
		    sv->last_seen_at));
		json_object_set_new(o, "age_s", json_integer((s->now -
		    sv->last_seen_at) / 1000));
		json_object_set_new(o, "agent_version", json_string(ver));
		json_object_set_new(o, "hypervisor", json_string(lv));
		json_object_set_new(o, "storage", json_string(stor));
		for (size_t i = 0; has_hs && i < hs.deps.n; i++)
			dep_out(NULL, hs.deps.items[i].name,
			    hs.deps.items[i].state, hs.deps.items[i].detail,
			    hs.deps.items[i].error, hs.deps.items[i].error_at,
			    d);
		json_object_set_new(o, "services", d);
		json_array_append_new(s->agents, o);
	} else {
		fmt_time(sv->last_seen_at, t, sizeof(t));
		printf("| %-24s | %-8s | %-5s | %-19s | %7llds | %-12s | "
		    "%-18s | %-22s |\n", sv->host, sv->disabled ? "disabled" :
		    "enabled", up ? "up" : "down", t,
		    (long long)((s->now - sv->last_seen_at) / 1000), ver, lv,
		    stor);
	}
	if (!up && !sv->disabled)
		s->bad = true;
	/* A service of an agent that is down is as old as its last
	 * heartbeat: the agent's state says it all. */
	for (size_t i = 0; up && has_hs && i < hs.deps.n; i++)
		if (strcmp(hs.deps.items[i].state, "up") != 0 && !sv->disabled)
			s->bad = true;
	if (has_hv)
		codec_clear(&schema_rec_hypervisor, &hv);
	if (has_hs)
		codec_clear(&schema_rec_host_status, &hs);
	return 0;
}

static int
agent_deps(const struct rec_host_status *hs, void *arg)
{
	if (strcmp(hs->binary, HOSTSTATUS_AGENT) != 0)
		return 0;
	for (size_t i = 0; i < hs->deps.n; i++)
		dep_out(hs->host, hs->deps.items[i].name,
		    hs->deps.items[i].state, hs->deps.items[i].detail,
		    hs->deps.items[i].error, hs->deps.items[i].error_at, NULL);
	return 0;
}

int
manage_status(const struct config *cfg, int argc, char **argv)
{
	struct st s = { .cfg = cfg };
	char api_err[192], bus_err[192];
	struct store *st;
	bool ports_ok;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		s.json = true;
	else if (argc != 1)
		return 2;
	ports_ok = ports_check(cfg, api_err, sizeof(api_err), bus_err,
	    sizeof(bus_err));
	if ((st = db_open(cfg, 1)) == NULL || store_read_begin(st, &s.txn) ==
	    -1) {
		fprintf(stderr, "%s: status: store: %s\n", PROG, err_msg());
		store_free(&st);
		return 1;
	}
	s.now = db_now_ms();
	s.down_ms = config_get_int(cfg, "DEFAULT", "service_down_time") * 1000;
	if (s.json) {
		s.agents = json_array();
		s.ctls = json_array();
	} else {
		printf("controller ports: %s%s%s\n", ports_ok ? "all accept "
		    "connections" : api_err, bus_err[0] ? "; " : "", bus_err);
	}
	rc = hoststatus_each(s.txn, ctl_one, &s);
	if (rc == 0 && !s.json)
		printf("| %-24s | %-8s | %-5s | %-19s | %8s | %-12s | %-18s | "
		    "%-22s |\n", "Agent", "Status", "State", "Last heartbeat",
		    "Age", "Version", "Hypervisor", "Storage");
	if (rc == 0)
		rc = db_service_each(s.txn, agent_one, &s);
	if (rc == 0 && !s.json) {
		dep_head();
		rc = hoststatus_each(s.txn, agent_deps, &s);
	}
	store_txn_end(&s.txn);
	store_free(&st);
	if (rc == -1) {
		fprintf(stderr, "%s: status: %s\n", PROG, err_msg());
		json_decref(s.agents);
		json_decref(s.ctls);
		return 1;
	}
	if (!ports_ok)
		s.bad = true;
	if (s.json) {
		json_t *o = json_object(), *p = json_object();

		json_object_set_new(p, "ok", json_boolean(ports_ok));
		json_object_set_new(p, "api_error", api_err[0] ?
		    json_string(api_err) : json_null());
		json_object_set_new(p, "bus_error", bus_err[0] ?
		    json_string(bus_err) : json_null());
		json_object_set_new(o, "ok", json_boolean(!s.bad));
		json_object_set_new(o, "ports", p);
		json_object_set_new(o, "controllers", s.ctls);
		json_object_set_new(o, "agents", s.agents);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(o);
	}
	return s.bad ? 1 : 0;
}

/* ------------------------------------------------------------------ logs */

struct line {
	int64_t	 at;
	char	*host, *binary, *text;	/* borrowed from lines.keep */
};

struct lines {
	int64_t		 since;
	struct line	*v;
	size_t		 n, cap;
	json_t		*keep;	/* owns the strings */
};

static int
collect(const struct rec_host_status *hs, void *arg)
{
	struct lines *l = arg;

	for (size_t i = 0; i < hs->errors.n; i++) {
		const struct sch_log_line *e = &hs->errors.items[i];
		json_t *o;

		if (e->at < l->since)
			continue;
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 64;
			struct line *nv = realloc(l->v, nc * sizeof(*nv));

			if (nv == NULL) {
				err_set(TS_ENOMEM, "out of memory");
				return -1;
			}
			l->v = nv;
			l->cap = nc;
		}
		o = json_object();
		json_object_set_new(o, "at", json_integer(e->at));
		json_object_set_new(o, "host", json_string(hs->host));
		json_object_set_new(o, "binary", json_string(hs->binary));
		json_object_set_new(o, "text", json_string(e->text ?
		    e->text : ""));
		json_array_append_new(l->keep, o);
		l->v[l->n].at = e->at;
		l->v[l->n].host = (char *)json_string_value(json_object_get(o,
		    "host"));
		l->v[l->n].binary = (char *)json_string_value(
		    json_object_get(o, "binary"));
		l->v[l->n].text = (char *)json_string_value(json_object_get(o,
		    "text"));
		l->n++;
	}
	return 0;
}

static int
by_time(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	return (x->at > y->at) - (x->at < y->at);
}

int
manage_logs(const struct config *cfg, int argc, char **argv)
{
	struct lines l = { .since = 0 };
	struct store *st;
	struct store_txn *txn = NULL;
	bool json = false;
	size_t first;
	int rc;

	if (argc < 2 || strcmp(argv[1], "errors") != 0)
		return 2;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			if (clock_parse_since(argv[++i], clock_wall_ms(),
			    &l.since) == -1) {
				fprintf(stderr, "%s: --since %s: not ISO 8601 "
				    "(2026-01-31T12:00:00Z) nor relative (10m, "
				    "2h, 1d)\n", PROG, argv[i]);
				return 2;
			}
		} else {
			return 2;
		}
	}
	if ((st = db_open(cfg, 1)) == NULL || store_read_begin(st, &txn) ==
	    -1) {
		fprintf(stderr, "%s: logs: %s\n", PROG, err_msg());
		store_free(&st);
		return 1;
	}
	l.keep = json_array();
	rc = hoststatus_each(txn, collect, &l);
	store_txn_end(&txn);
	store_free(&st);
	if (rc == -1) {
		fprintf(stderr, "%s: logs: %s\n", PROG, err_msg());
		free(l.v);
		json_decref(l.keep);
		return 1;
	}
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(*l.v), by_time);
	first = l.n > LOGS_MAX ? l.n - LOGS_MAX : 0;
	if (json) {
		json_t *a = json_array();

		for (size_t i = first; i < l.n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "at", json_integer(l.v[i].at));
			json_object_set_new(o, "host", json_string(
			    l.v[i].host));
			json_object_set_new(o, "binary", json_string(
			    l.v[i].binary));
			json_object_set_new(o, "text", json_string(
			    l.v[i].text));
			json_array_append_new(a, o);
		}
		json_dumpf(a, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(a);
	} else {
		for (size_t i = first; i < l.n; i++) {
			char t[32];

			fmt_time(l.v[i].at, t, sizeof(t));
			printf("%s.%03d %s %s: %s\n", t,
			    (int)(l.v[i].at % 1000), l.v[i].host,
			    l.v[i].binary, l.v[i].text);
		}
	}
	free(l.v);
	json_decref(l.keep);
	return 0;
}
