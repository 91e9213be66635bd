/*
 * tinystack-manage: the operator's tool, like nova-manage and
 * keystone-manage. It works on the controller's configuration and database
 * directly (LMDB allows it while the controller runs: readers never block,
 * and writes queue behind the controller's writer lock).
 *
 *   db sync | db version | db purge --before TIME [--dry-run]
 *   key setup [--force]                  controller CURVE key pair
 *   agent keygen --host H [--keys-dir D] [--force]
 *                                        an agent's key pair (agent.key/.pub)
 *   agent enroll H (--key-file F | --public-key Z85)
 *   agent list | agent revoke H
 *   service list | hypervisor list
 *   status [--json] | logs errors [--since TIME] [--json]
 *                                        health of the controller and every
 *                                        agent (manage_status.h)
 *   token setup | token rotate           token key repository (fernet_setup,
 *                                        fernet_rotate)
 *   bootstrap --admin-password-file F    identity bootstrap (keystone-manage
 *                                        bootstrap), writes an openrc file
 *   policy sample | routes [--json] | check RULE ...
 *                                        policy.yaml.sample, the route
 *                                        tables, a rule for given creds
 *
 * --config FILE may come before or after the command.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bus.h"
#include "codec.h"
#include "config.h"
#include "daemon.h"
#include "clock.h"
#include "compute/compute_db.h"
#include "core/db.h"
#include "err.h"
#include "identity/identity.h"
#include "auth/keyrepo.h"
#include "log.h"
#include "manage_status.h"
#include "network/network.h"
#include "opts.h"
#include "identity/password.h"
#include "auth/policy.h"
#include "http/http.h"
#include "services.h"
#include "store.h"
#include "svc.h"

#define PROG		"tinystack-manage"
#define DEFAULT_CONFIG	"/etc/tinystack/controller.conf"

static struct config	*cfg;

static int
die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, err_msg());
	return 1;
}

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: %s [--config FILE] COMMAND (--config may also follow it)\n"
	    "  db sync                 create or upgrade the database schema\n"
	    "  db version              print the database schema version\n"
	    "  db purge --before TIME [--dry-run]\n"
	    "                          remove what servers deleted before TIME left:\n"
	    "                          their instance actions and migrations (TIME as\n"
	    "                          for logs errors; the controller may run)\n"
	    "  key setup [--force]     create the controller's CURVE key pair\n"
	    "  agent keygen --host H [--keys-dir DIR] [--force]\n"
	    "                          create an agent's key pair (agent.key, agent.pub);\n"
	    "                          refuses to replace an existing pair without\n"
	    "                          --force (the agent must then be enrolled again)\n"
	    "  agent enroll H (--key-file F | --public-key KEY)\n"
	    "  agent list\n"
	    "  agent revoke H\n"
	    "  service list            agents with state, status, last heartbeat\n"
	    "  hypervisor list         hosts with type, vCPUs, memory, running VMs\n"
	    "  status [--json]         the controller (its API and bus ports, its\n"
	    "                          store, bus and api as it last reported them) and\n"
	    "                          every agent: state, last heartbeat, version,\n"
	    "                          libvirt, storage, and the services it depends on\n"
	    "                          (libvirtd, dnsmasq, tgtd) with state and most\n"
	    "                          recent error. Exit 0 all good, 1 when something\n"
	    "                          is down (the controller or a port of it, an\n"
	    "                          enabled agent, a service of an up agent)\n"
	    "  logs errors [--since TIME] [--json]\n"
	    "                          the latest lines the controller and every agent\n"
	    "                          logged at error level (32 per daemon), oldest\n"
	    "                          first, at most 200; TIME is ISO 8601 UTC\n"
	    "                          (2026-01-31T12:00:00Z) or relative (30s, 10m,\n"
	    "                          2h, 1d). Exit 0, 1 if the database is unreadable\n"
	    "  token setup             create the token key repository\n"
	    "  token rotate            promote the staged token key, stage a new one\n"
	    "  bootstrap --admin-password-file F (- for stdin)\n"
	    "            [--admin-username admin] [--project-name admin]\n"
	    "            [--role-name admin] [--region-id RegionOne]\n"
	    "            [--public-host H] [--openrc FILE]\n"
	    "                          default domain, admin, roles, service catalog;\n"
	    "                          idempotent (the password may also come from\n"
	    "                          OS_BOOTSTRAP_PASSWORD)\n"
	    "  network create --label L --fixed-range CIDR [--vlan N]\n"
	    "            [--bridge B] [--project P]\n"
	    "                          a network with one subnet (nova-manage's\n"
	    "                          spelling); without --project it is shared\n"
	    "  floating create --ip-range CIDR --pool NAME [--physnet P]\n"
	    "                          the external network NAME (flat on P, default\n"
	    "                          NAME; reused if it exists) gets a subnet CIDR\n"
	    "                          for floating IPs and router gateways\n"
	    "  policy sample           every policy rule with its default and\n"
	    "                          description (policy.yaml.sample)\n"
	    "  policy routes [--json]  every route: method, pattern, rule, flags\n"
	    "  policy check RULE [--role R]... [--roles R1,R2,...]\n"
	    "            [--scope project|domain|system|none]\n"
	    "            [--user-id U] [--project-id P] [--domain-id D]\n"
	    "            [--target KEY=VALUE]...\n"
	    "                          evaluate RULE of the configured policy;\n"
	    "                          exit 0 allowed, 3 denied. --json: one\n"
	    "                          check object a line on stdin\n",
	    PROG);
	exit(status);
}

/* db purge's write (or, dry, its read) of what deleted servers left. */
struct purge {
	int64_t			 before;
	bool			 dry;
	struct compute_db_purged out;
};

static int
purge_fn(struct store_txn *txn, void *arg)
{
	struct purge *p = arg;

	return compute_db_purge(txn, p->before, p->dry, &p->out);
}

static int
db_purge(struct store *st, int argc, char **argv)
{
	struct purge p = { .before = INT64_MIN };
	struct store_txn *txn = NULL;
	char when[32];
	time_t t;
	int rc;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--before") == 0 && i + 1 < argc) {
			if (clock_parse_since(argv[++i], clock_wall_ms(),
			    &p.before) == -1) {
				fprintf(stderr, "%s: --before %s: not ISO 8601 "
				    "UTC nor relative (30d, 12h)\n", PROG,
				    argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			p.dry = true;
		} else {
			usage(2);
		}
	}
	if (p.before == INT64_MIN) {
		fprintf(stderr, "%s: db purge needs --before TIME\n", PROG);
		return 2;
	}
	if (p.dry) {
		if (store_read_begin(st, &txn) == -1)
			return die("db purge");
		rc = purge_fn(txn, &p);
		store_txn_end(&txn);
	} else {
		rc = store_write(st, purge_fn, &p);
	}
	if (rc == -1)
		return die("db purge");
	t = (time_t)(p.before / 1000);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("%s %zu instance actions of %zu deleted servers and %zu "
	    "migrations older than %s\n", p.dry ? "would purge" : "purged",
	    p.out.actions, p.out.servers, p.out.migrations, when);
	return 0;
}

static int
cmd_db(int argc, char **argv)
{
	struct store *st;
	uint32_t v;
	int rc = 0;

	if (argc < 2 || (argc != 2 && strcmp(argv[1], "purge") != 0))
		usage(2);
	if ((st = db_open(cfg, 0)) == NULL)
		return die("opening the database");
	if (strcmp(argv[1], "sync") == 0) {
		if (db_sync(st) == -1)
			rc = die("db sync");
		else if (store_schema_version(st, &v) == 0)
			printf("database schema at version %u\n", v);
	} else if (strcmp(argv[1], "version") == 0) {
		if (store_schema_version(st, &v) == -1)
			rc = die("db version");
		else
			printf("%u\n", v);
	} else if (strcmp(argv[1], "purge") == 0) {
		rc = db_purge(st, argc, argv);
	} else {
		usage(2);
	}
	store_free(&st);
	return rc;
}

static int
cmd_key(int argc, char **argv)
{
	char pub[BUS_KEY_Z85_LEN + 1], sec[BUS_KEY_Z85_LEN + 1],
	    path[PATH_MAX];
	const char *dir = config_get_str(cfg, "bus", "keys_dir");
	int force = argc == 3 && strcmp(argv[2], "--force") == 0;

	if (argc < 2 || strcmp(argv[1], "setup") != 0 || (argc == 3 && !force)
	    || argc > 3)
		usage(2);
	snprintf(path, sizeof(path), "%s/controller.key", dir);
	if (!force && access(path, F_OK) == 0) {
		printf("%s exists; keeping it (--force replaces it, and every "
		    "agent then needs the new controller.pub)\n", path);
		return 0;
	}
	if (daemon_mkdirs(dir, 0700) == -1 || bus_keypair_new(pub, sec) == -1 ||
	    bus_keypair_save(dir, "controller", pub, sec) == -1)
		return die("key setup");
	explicit_bzero(sec, sizeof(sec));
	printf("controller key pair written to %s/controller.{key,pub}\n"
	    "public key: %s\n", dir, pub);
	return 0;
}

static int
agent_keygen(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "keys-dir", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	const char *host = NULL, *dir = config_get_str(cfg, "bus", "keys_dir");
	char pub[BUS_KEY_Z85_LEN + 1], sec[BUS_KEY_Z85_LEN + 1],
	    path[PATH_MAX];
	bool force = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'H')
			host = optarg;
		else if (c == 'k')
			dir = optarg;
		else if (c == 'f')
			force = true;
		else
			usage(2);
	}
	if (host == NULL || optind != argc)
		usage(2);
	if (!bus_host_valid(host)) {
		fprintf(stderr, "%s: invalid host name '%s'\n", PROG, host);
		return 1;
	}
	/* A new pair locks the agent out until it is enrolled again, so an
	 * existing one is replaced only on request (the secret key decides,
	 * as for `key setup` and in stack.sh). */
	snprintf(path, sizeof(path), "%s/agent.key", dir);
	if (!force && access(path, F_OK) == 0) {
		fprintf(stderr, "%s: %s exists; not replacing it (--force "
		    "does, and the agent must then be enrolled again)\n",
		    PROG, path);
		return 1;
	}
	if (daemon_mkdirs(dir, 0700) == -1 || bus_keypair_new(pub, sec) == -1 ||
	    bus_keypair_save(dir, "agent", pub, sec) == -1)
		return die("agent keygen");
	explicit_bzero(sec, sizeof(sec));
	printf("agent key pair for %s written to %s/agent.{key,pub}\n"
	    "enrol it on the controller with:\n"
	    "  %s agent enroll %s --public-key %s\n", host, dir, PROG, host,
	    pub);
	return 0;
}

static int
enroll_fn(struct store_txn *txn, void *arg)
{
	return db_agent_key_put(txn, arg);
}

static int
agent_enroll(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "key-file", required_argument, NULL, 'f' },
		{ "public-key", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	char pub[BUS_KEY_Z85_LEN + 1] = "";
	const char *host;
	struct rec_agent_key k = { 0 };
	struct store *st;
	struct store_txn *txn = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'f') {
			if (bus_pubkey_load(optarg, pub) == -1)
				return die("reading the key file");
		} else if (c == 'p') {
			if (bus_key_check(optarg) == -1)
				return die("public key");
			snprintf(pub, sizeof(pub), "%s", optarg);
		} else {
			usage(2);
		}
	}
	if (optind != argc - 1 || pub[0] == '\0')
		usage(2);
	host = argv[optind];
	if (!bus_host_valid(host)) {
		fprintf(stderr, "%s: invalid host name '%s'\n", PROG, host);
		return 1;
	}
	if ((st = db_open(cfg, 0)) == NULL || db_check_version(st) == -1)
		return die("opening the database");
	k.host = (char *)host;
	k.public_key = pub;
	k.enrolled_at = db_now_ms();
	k.revoked = false;
	/* Idempotent: enrolling the same key again changes nothing. */
	if (store_read_begin(st, &txn) == 0) {
		struct rec_agent_key old;

		if (db_agent_key_get(txn, host, &old) == 0) {
			int same = !old.revoked &&
			    strcmp(old.public_key, pub) == 0;

			codec_clear(&schema_rec_agent_key, &old);
			store_txn_end(&txn);
			if (same) {
				printf("agent %s already enrolled with this "
				    "key\n", host);
				store_free(&st);
				return 0;
			}
		}
		store_txn_end(&txn);
	}
	rc = store_write(st, enroll_fn, &k);
	store_free(&st);
	if (rc == -1)
		return die("agent enroll");
	printf("agent %s enrolled\n", host);
	return 0;
}

static int
revoke_fn(struct store_txn *txn, void *arg)
{
	struct rec_agent_key k;
	int rc;

	if (db_agent_key_get(txn, arg, &k) == -1)
		return -1;
	k.revoked = true;
	rc = db_rec_put(txn, T_AGENT_KEYS, k.host, &schema_rec_agent_key, &k,
	    0);
	codec_clear(&schema_rec_agent_key, &k);
	return rc;
}

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

static int
print_key(const struct rec_agent_key *k, void *arg)
{
	char t[32];

	fmt_time(k->enrolled_at, t, sizeof(t));
	printf("| %-30s | %-40s | %-19s | %-7s |\n", k->host, k->public_key, t,
	    k->revoked ? "revoked" : "active");
	return 0;
}

static int
agent_list(void)
{
	struct store *st;
	struct store_txn *txn = NULL;
	int rc;

	if ((st = db_open(cfg, 1)) == NULL || store_read_begin(st, &txn) == -1)
		return die("opening the database");
	printf("| %-30s | %-40s | %-19s | %-7s |\n", "Host", "Public key",
	    "Enrolled", "State");
	rc = db_agent_key_each(txn, print_key, NULL);
	store_txn_end(&txn);
	store_free(&st);
	return rc == -1 ? die("agent list") : 0;
}

static int
cmd_agent(int argc, char **argv)
{
	struct store *st;
	int rc;

	if (argc < 2)
		usage(2);
	if (strcmp(argv[1], "keygen") == 0)
		return agent_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "enroll") == 0)
		return agent_enroll(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		return agent_list();
	if (strcmp(argv[1], "revoke") == 0 && argc == 3) {
		if ((st = db_open(cfg, 0)) == NULL ||
		    db_check_version(st) == -1)
			return die("opening the database");
		rc = store_write(st, revoke_fn, argv[2]);
		store_free(&st);
		if (rc == -1)
			return die("agent revoke");
		printf("agent %s revoked: its connections are refused from "
		    "now on\n", argv[2]);
		return 0;
	}
	usage(2);
	return 2;
}

struct svc_list {
	int64_t	now;
	int64_t	down_ms;
};

static int
print_service(const struct rec_service *s, void *arg)
{
	struct svc_list *l = arg;
	char t[32];
	int up = !s->forced_down && l->now - s->last_seen_at <= l->down_ms;

	fmt_time(s->last_seen_at, t, sizeof(t));
	printf("| %-15s | %-30s | %-8s | %-8s | %-5s | %-19s |\n", s->binary,
	    s->host, "nova", s->disabled ? "disabled" : "enabled",
	    up ? "up" : "down", t);
	return 0;
}

static int
service_list(void)
{
	struct store *st;
	struct store_txn *txn = NULL;
	struct svc_list l;
	int rc;

	if ((st = db_open(cfg, 1)) == NULL || store_read_begin(st, &txn) == -1)
		return die("opening the database");
	l.now = db_now_ms();
	l.down_ms = config_get_int(cfg, "DEFAULT", "service_down_time") * 1000;
	printf("| %-15s | %-30s | %-8s | %-8s | %-5s | %-19s |\n", "Binary",
	    "Host", "Zone", "Status", "State", "Updated At");
	rc = db_service_each(txn, print_service, &l);
	store_txn_end(&txn);
	store_free(&st);
	return rc == -1 ? die("service list") : 0;
}

static int
print_hv(const struct rec_hypervisor *h, void *arg)
{
	printf("| %-30s | %-8s | %5u | %10llu | %11u | %-20s |\n", h->host,
	    h->hypervisor_type, h->vcpus, (unsigned long long)h->memory_mb,
	    h->running_vms, h->cpu_model);
	return 0;
}

static int
hypervisor_list(void)
{
	struct store *st;
	struct store_txn *txn = NULL;
	int rc;

	if ((st = db_open(cfg, 1)) == NULL || store_read_begin(st, &txn) == -1)
		return die("opening the database");
	printf("| %-30s | %-8s | %5s | %10s | %11s | %-20s |\n", "Host",
	    "Type", "vCPUs", "Memory MiB", "Running VMs", "CPU model");
	rc = db_hypervisor_each(txn, print_hv, NULL);
	store_txn_end(&txn);
	store_free(&st);
	return rc == -1 ? die("hypervisor list") : 0;
}

static int
cmd_token(int argc, char **argv)
{
	const char *dir = config_get_str(cfg, "identity", "key_repository");
	unsigned max = (unsigned)config_get_int(cfg, "identity",
	    "max_active_keys");
	struct keyrepo *k;

	if (argc != 2)
		usage(2);
	if (strcmp(argv[1], "setup") == 0) {
		if (keyrepo_setup(dir, max) == -1)
			return die("token setup");
	} else if (strcmp(argv[1], "rotate") == 0) {
		if (keyrepo_rotate(dir, max) == -1)
			return die("token rotate");
	} else {
		usage(2);
	}
	if ((k = keyrepo_load(dir)) == NULL)
		return die("token keys");
	printf("token key repository %s: %zu key(s), primary key %u\n", dir,
	    keyrepo_count(k), keyrepo_primary_index(k));
	keyrepo_free(&k);
	return 0;
}

/* Single-quote s for a shell: ' becomes '\''. */
static void
shell_quote(FILE *fp, const char *s)
{
	fputc('\'', fp);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", fp);
		else
			fputc(*s, fp);
	}
	fputc('\'', fp);
}

/* The openrc file: written 0600 (it holds the password), temp + rename. */
static int
write_openrc(const char *path, const struct identity_bootstrap_opts *o,
    const char *auth_url)
{
	char tmp[PATH_MAX];
	FILE *fp;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp)) {
		err_set(TS_EINVALID, "%s: path too long", path);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1 || (fp = fdopen(fd, "w")) == NULL) {
		err_set_errno(TS_EIO, "%s", tmp);
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	fprintf(fp, "# tinystack credentials of %s, written by %s bootstrap\n",
	    o->admin_username, PROG);
	fprintf(fp, "export OS_USERNAME=");
	shell_quote(fp, o->admin_username);
	fprintf(fp, "\nexport OS_PASSWORD=");
	shell_quote(fp, o->admin_password);
	fprintf(fp, "\nexport OS_PROJECT_NAME=");
	shell_quote(fp, o->project_name);
	fprintf(fp, "\nexport OS_USER_DOMAIN_NAME=Default\n"
	    "export OS_PROJECT_DOMAIN_NAME=Default\n"
	    "export OS_AUTH_URL=%s\n"
	    "export OS_IDENTITY_API_VERSION=3\n"
	    "export OS_REGION_NAME=", auth_url);
	shell_quote(fp, o->region_id);
	fprintf(fp, "\nexport OS_INTERFACE=public\n");
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		err_set_errno(TS_EIO, "%s", tmp);
		fclose(fp);
		unlink(tmp);
		return -1;
	}
	if (fclose(fp) != 0 || rename(tmp, path) == -1) {
		err_set_errno(TS_EIO, "%s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The first line of a password file, without its newline. */
static int
read_password_file(const char *path, char *buf, size_t len)
{
	FILE *fp;
	size_t n;

	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "r")) == NULL) {
		err_set_errno(TS_EIO, "%s", path);
		return -1;
	}
	if (fgets(buf, (int)len, fp) == NULL) {
		if (fp != stdin)
			fclose(fp);
		err_set(TS_EINVALID, "%s: empty", path);
		return -1;
	}
	if (fp != stdin)
		fclose(fp);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return 0;
}

static int
cmd_bootstrap(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "admin-password", required_argument, NULL, 'p' },
		{ "admin-password-file", required_argument, NULL, 'P' },
		{ "admin-username", required_argument, NULL, 'u' },
		{ "project-name", required_argument, NULL, 'j' },
		{ "role-name", required_argument, NULL, 'r' },
		{ "region-id", required_argument, NULL, 'R' },
		{ "public-host", required_argument, NULL, 'H' },
		{ "openrc", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	struct identity_bootstrap_opts o;
	struct identity_bootstrap_result res;
	static char pwbuf[PASSWORD_MAX_LEN + 2];
	char host[256];
	const char *openrc = NULL, *ph;
	struct store *st;
	int c, rc;

	memset(&o, 0, sizeof(o));
	o.admin_username = "admin";
	o.project_name = "admin";
	o.role_name = "admin";
	o.region_id = "RegionOne";
	o.admin_password = getenv("OS_BOOTSTRAP_PASSWORD");
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			/* On the command line it is in every `ps` listing. */
			fprintf(stderr, "%s: --admin-password is not accepted "
			    "(visible to every user in ps): use "
			    "--admin-password-file F (- for stdin) or "
			    "OS_BOOTSTRAP_PASSWORD\n", PROG);
			return 2;
		case 'P':
			if (read_password_file(optarg, pwbuf,
			    sizeof(pwbuf)) == -1)
				return die("admin password file");
			o.admin_password = pwbuf;
			break;
		case 'u': o.admin_username = optarg; break;
		case 'j': o.project_name = optarg; break;
		case 'r': o.role_name = optarg; break;
		case 'R': o.region_id = optarg; break;
		case 'H': o.public_host = optarg; break;
		case 'o': openrc = optarg; break;
		default: usage(2);
		}
	}
	if (optind != argc || o.admin_password == NULL ||
	    *o.admin_password == '\0') {
		fprintf(stderr, "%s: bootstrap needs --admin-password-file "
		    "(- for stdin) or OS_BOOTSTRAP_PASSWORD\n", PROG);
		return 2;
	}
	if (o.public_host == NULL) {
		ph = config_get_str(cfg, "api", "public_host");
		svc_host(cfg, host, sizeof(host));
		o.public_host = *ph ? ph : host;
	}
	o.https = *config_get_str(cfg, "api", "tls_cert_file") != '\0';
	o.identity_port = (unsigned)config_get_int(cfg, "api",
	    "identity_port");
	o.compute_port = (unsigned)config_get_int(cfg, "api", "compute_port");
	o.image_port = (unsigned)config_get_int(cfg, "api", "image_port");
	o.volume_port = (unsigned)config_get_int(cfg, "api", "volume_port");
	o.network_port = (unsigned)config_get_int(cfg, "api", "network_port");
	o.opslimit = (unsigned long long)config_get_int(cfg, "identity",
	    "password_hash_opslimit");
	o.memlimit = (size_t)config_get_int(cfg, "identity",
	    "password_hash_memlimit_kb") * 1024;

	if ((st = db_open(cfg, 0)) == NULL || db_check_version(st) == -1) {
		store_free(&st);
		return die("opening the database");
	}
	rc = identity_bootstrap(st, &o, &res);
	store_free(&st);
	if (rc == -1)
		return die("bootstrap");
	printf("bootstrap: %u record(s) created%s; admin user %s, project %s\n"
	    "auth URL %s\n", res.created, res.password_reset ?
	    ", admin password reset (its old tokens are revoked)" : "",
	    res.user_id, res.project_id, res.auth_url);
	if (openrc != NULL) {
		if (write_openrc(openrc, &o, res.auth_url) == -1)
			return die("writing the openrc file");
		printf("credentials written to %s (mode 0600)\n", openrc);
	}
	explicit_bzero(pwbuf, sizeof(pwbuf));
	return 0;
}

/* ---- policy -------------------------------------------------------------- */

/* The policy the controller would enforce with this configuration. */
static struct policy *
policy_configured(void)
{
	const char *pf = config_get_str(cfg, "identity", "policy_file");

	if (*pf == '\0') {
		pf = config_get_str(cfg, "oslo_policy", "policy_file");
		if (*pf != '\0' && access(pf, F_OK) == -1 && errno == ENOENT)
			pf = "";
	}
	return policy_load(services_policy_tables, *pf ? pf : NULL);
}

static void
route_flags_json(json_t *a, int flags)
{
	if (flags & ROUTE_NO_AUTH)
		json_array_append_new(a, json_string("no_auth"));
	if (flags & ROUTE_POLICY_IN_HANDLER)
		json_array_append_new(a, json_string("policy_in_handler"));
	if (flags & ROUTE_SELF_SCOPED)
		json_array_append_new(a, json_string("self_scoped"));
	if (flags & ROUTE_STREAM_BODY)
		json_array_append_new(a, json_string("stream_body"));
	if (flags & ROUTE_TRAILING_SLASH)
		json_array_append_new(a, json_string("trailing_slash"));
	if (flags & ROUTE_RAW_BODY)
		json_array_append_new(a, json_string("raw_body"));
	if (flags & ROUTE_CAPABILITY)
		json_array_append_new(a, json_string("capability"));
	if (flags & ROUTE_CAPABILITY_UPLOAD)
		json_array_append_new(a, json_string("upload_capability"));
}

/* Every route of every service: method, pattern, rule, flags. */
static int
policy_routes(bool as_json)
{
	size_t si;
	const struct http_route *r;
	json_t *arr = json_array(), *o, *fl;
	char *txt;

	if (arr == NULL)
		return 1;
	for (si = 0; services_name(si) != NULL; si++) {
		for (r = services_routes(si); r->method != NULL; r++) {
			if (!as_json) {
				printf("%-8s %-6s %-58s %s%s%s\n", services_name(si),
				    r->method, r->pattern, r->policy ?
				    r->policy : (r->flags & ROUTE_NO_AUTH) ?
				    "(no auth)" : "(self-scoped)",
				    (r->flags & ROUTE_POLICY_IN_HANDLER) ?
				    " (in handler)" : "",
				    (r->flags & ROUTE_CAPABILITY) ?
				    " (or an image capability)" :
				    (r->flags & ROUTE_CAPABILITY_UPLOAD) ?
				    " (or an upload capability)" : "");
				continue;
			}
			fl = json_array();
			route_flags_json(fl, r->flags);
			o = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:i}",
			    "service", services_name(si), "method", r->method,
			    "pattern", r->pattern, "rule", r->policy,
			    "flags", fl, "success_status",
			    r->success_status ? r->success_status : 200);
			json_array_append_new(arr, o);
		}
	}
	if (as_json) {
		if ((txt = json_dumps(arr, JSON_INDENT(1))) == NULL) {
			json_decref(arr);
			return 1;
		}
		printf("%s\n", txt);
		free(txt);
	}
	json_decref(arr);
	return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * One check: {"rule": R, "roles": [...], "scope": "project"|"domain"|
 * "system"|"none", "user_id", "user_domain_id", "project_id",
 * "project_domain_id", "domain_id", "target": {key: value}} -> allowed?
 */
static int
check_one(const struct policy *p, json_t *q, bool *allowed)
{
	const char *roles[64], *scope = "project", *rule = NULL;
	struct policy_kv kv[32];
	struct policy_target t = { kv, 0 };
	struct policy_creds c;
	json_t *ra = NULL, *to = NULL, *v;
	const char *k;
	size_t i;

	memset(&c, 0, sizeof(c));
	if (json_unpack(q, "{s:s, s?o, s?s, s?s, s?s, s?s, s?s, s?s, s?o}",
	    "rule", &rule, "roles", &ra, "scope", &scope,
	    "user_id", &c.user_id, "user_domain_id", &c.user_domain_id,
	    "project_id", &c.project_id, "project_domain_id",
	    &c.project_domain_id, "domain_id", &c.domain_id,
	    "target", &to) == -1) {
		err_set(TS_EINVALID, "check: expected {\"rule\": ..., "
		    "\"roles\": [...], ...}");
		return -1;
	}
	if (ra != NULL) {
		json_array_foreach(ra, i, v) {
			if (i >= 64 || !json_is_string(v)) {
				err_set(TS_EINVALID, "check: roles");
				return -1;
			}
			roles[i] = json_string_value(v);
			c.nroles = i + 1;
		}
	}
	c.roles = roles;
	if (strcmp(scope, "system") == 0) {
		c.system_scope = true;
		c.project_id = c.project_domain_id = c.domain_id = NULL;
	} else if (strcmp(scope, "domain") == 0) {
		c.project_id = c.project_domain_id = NULL;
	} else if (strcmp(scope, "none") == 0) {
		c.project_id = c.project_domain_id = c.domain_id = NULL;
	} else if (strcmp(scope, "project") == 0) {
		c.domain_id = NULL;
	} else {
		err_set(TS_EINVALID, "check: scope project, domain, system "
		    "or none");
		return -1;
	}
	if (to != NULL) {
		json_object_foreach(to, k, v) {
			if (t.n == 32 || !json_is_string(v)) {
				err_set(TS_EINVALID, "check: target");
				return -1;
			}
			kv[t.n].key = k;
			kv[t.n].value = json_string_value(v);
			t.n++;
		}
	}
	*allowed = policy_enforce(p, rule, &c, &t) == 0;
	err_clear();
	return 0;
}

/*
 * policy check RULE [--role R]... [--roles R1,R2] [--scope S] [--user-id U]
 *     [--project-id P] [--domain-id D] [--target KEY=VALUE]...
 * policy check --json: one check object per input line, "allow" or "deny"
 * per output line (the authorization matrix test's oracle).
 */
static int
policy_check(struct policy *p, int argc, char **argv)
{
	char line[8192], *eq;
	json_t *q, *roles, *target;
	json_error_t je;
	bool allowed;
	int i;

	if (argc == 3 && strcmp(argv[2], "--json") == 0) {
		while (fgets(line, sizeof(line), stdin) != NULL) {
			if ((q = json_loads(line, 0, &je)) == NULL) {
				fprintf(stderr, "%s: policy check: %s\n", PROG,
				    je.text);
				return 1;
			}
			if (check_one(p, q, &allowed) == -1) {
				json_decref(q);
				return die("policy check");
			}
			json_decref(q);
			printf("%s\n", allowed ? "allow" : "deny");
			fflush(stdout);
		}
		return 0;
	}
	if (argc < 3 || argv[2][0] == '-')
		usage(2);
	q = json_pack("{s:s, s:[], s:{}}", "rule", argv[2], "roles",
	    "target");
	roles = json_object_get(q, "roles");
	target = json_object_get(q, "target");
	for (i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--role") == 0) {
			json_array_append_new(roles, json_string(argv[i + 1]));
		} else if (strcmp(argv[i], "--roles") == 0) {
			char *r, *save = NULL;

			for (r = strtok_r(argv[i + 1], ",", &save); r != NULL;
			    r = strtok_r(NULL, ",", &save))
				json_array_append_new(roles, json_string(r));
		} else if (strcmp(argv[i], "--scope") == 0) {
			json_object_set_new(q, "scope", json_string(argv[i + 1]));
		} else if (strcmp(argv[i], "--user-id") == 0) {
			json_object_set_new(q, "user_id",
			    json_string(argv[i + 1]));
		} else if (strcmp(argv[i], "--project-id") == 0) {
			json_object_set_new(q, "project_id",
			    json_string(argv[i + 1]));
		} else if (strcmp(argv[i], "--domain-id") == 0) {
			json_object_set_new(q, "domain_id",
			    json_string(argv[i + 1]));
		} else if (strcmp(argv[i], "--target") == 0 &&
		    (eq = strchr(argv[i + 1], '=')) != NULL) {
			*eq = '\0';
			json_object_set_new(target, argv[i + 1],
			    json_string(eq + 1));
		} else {
			json_decref(q);
			usage(2);
		}
	}
	if (i != argc) {
		json_decref(q);
		usage(2);
	}
	if (check_one(p, q, &allowed) == -1) {
		json_decref(q);
		return die("policy check");
	}
	json_decref(q);
	printf("%s\n", allowed ? "allowed" : "denied");
	return allowed ? 0 : 3;
}

/* nova-manage's `network create`, onto a Neutron network and subnet. */
static int
cmd_network(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "fixed-range", required_argument, NULL, 'f' },
		{ "vlan", required_argument, NULL, 'v' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct network_seed o = { .vlan = -1 };
	char nid[37], sid[37], *end;
	struct store *st;
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "create") != 0)
		usage(2);
	optind = 1;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': o.label = optarg; break;
		case 'f': o.cidr = optarg; break;
		case 'b': o.bridge = optarg; break;
		case 'p': o.project_id = optarg; break;
		case 'v':
			o.vlan = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || o.vlan < 0) {
				fprintf(stderr, "%s: --vlan: not a number\n",
				    PROG);
				return 2;
			}
			break;
		default: usage(2);
		}
	}
	if (optind != argc || o.label == NULL || o.cidr == NULL)
		usage(2);
	if ((st = db_open(cfg, 0)) == NULL)
		return die("opening the database");
	rc = network_seed_create(cfg, st, &o, nid, sid);
	store_free(&st);
	if (rc == -1)
		return die("network create");
	printf("network %s\nsubnet %s\n", nid, sid);
	return 0;
}

/* nova-manage's `floating create`, onto a Neutron external network (the
 * pool) and a subnet of it. */
static int
cmd_floating(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ip-range", required_argument, NULL, 'r' },
		{ "pool", required_argument, NULL, 'p' },
		{ "physnet", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *range = NULL, *pool = NULL, *phys = NULL;
	char nid[37], sid[37];
	struct store *st;
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "create") != 0)
		usage(2);
	optind = 1;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': range = optarg; break;
		case 'p': pool = optarg; break;
		case 'n': phys = optarg; break;
		default: usage(2);
		}
	}
	if (optind != argc || range == NULL || pool == NULL)
		usage(2);
	if ((st = db_open(cfg, 0)) == NULL)
		return die("opening the database");
	rc = network_floating_create(cfg, st, pool, range, phys, nid, sid);
	store_free(&st);
	if (rc == -1)
		return die("floating create");
	printf("network %s\nsubnet %s\n", nid, sid);
	return 0;
}

static int
cmd_policy(int argc, char **argv)
{
	struct policy *p;
	int rc;

	if (argc == 2 && strcmp(argv[1], "sample") == 0)
		return policy_print_sample(services_policy_tables, stdout) == 0 ?
		    0 : die("policy sample");
	if (argc >= 2 && argc <= 3 && strcmp(argv[1], "routes") == 0 &&
	    (argc == 2 || strcmp(argv[2], "--json") == 0))
		return policy_routes(argc == 3);
	if (argc >= 2 && strcmp(argv[1], "check") == 0) {
		if ((p = policy_configured()) == NULL)
			return die("policy");
		rc = policy_check(p, argc, argv);
		policy_free(&p);
		return rc;
	}
	usage(2);
	return 2;
}

/*
 * Takes --config FILE, -c FILE and --config=FILE out of argv wherever they
 * stand (up to "--"), so that they may follow the command and no command's
 * own parser sees them; the last one wins. The word after any other long
 * option is that option's value (every long option here takes one, but
 * --force and --help), so a value that reads "--config" stays a value.
 */
static const char *
take_config(int *argc, char **argv)
{
	const char *conf = NULL;
	int i = 1, n;

	while (i < *argc && strcmp(argv[i], "--") != 0) {
		n = 0;
		if ((strcmp(argv[i], "--config") == 0 ||
		    strcmp(argv[i], "-c") == 0) && i + 1 < *argc) {
			conf = argv[i + 1];
			n = 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			conf = argv[i] + 9;
			n = 1;
		}
		if (n > 0) {
			memmove(&argv[i], &argv[i + n],
			    (size_t)(*argc - i - n + 1) * sizeof(*argv));
			*argc -= n;
			continue;
		}
		if (strncmp(argv[i], "--", 2) == 0 &&
		    strchr(argv[i], '=') == NULL &&
		    strcmp(argv[i], "--force") != 0 &&
		    strcmp(argv[i], "--help") != 0 && i + 1 < *argc)
			i++;
		i++;
	}
	return conf;
}

int
main(int argc, char **argv)
{
	const char *conf;
	int rc;

	conf = take_config(&argc, argv);
	if (argc < 2)
		usage(2);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage(0);
	log_init(PROG, LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	if ((cfg = config_new(opts_controller)) == NULL)
		return die("config");
	if (conf == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		conf = DEFAULT_CONFIG;
	if (conf && config_load_file(cfg, conf) == -1)
		return die("config");
	argc--;
	argv++;
	if (strcmp(argv[0], "db") == 0)
		return cmd_db(argc, argv);
	if (strcmp(argv[0], "key") == 0)
		return cmd_key(argc, argv);
	if (strcmp(argv[0], "agent") == 0)
		return cmd_agent(argc, argv);
	if (strcmp(argv[0], "token") == 0)
		return cmd_token(argc, argv);
	if (strcmp(argv[0], "bootstrap") == 0)
		return cmd_bootstrap(argc, argv);
	if (strcmp(argv[0], "policy") == 0)
		return cmd_policy(argc, argv);
	if (strcmp(argv[0], "network") == 0)
		return cmd_network(argc, argv);
	if (strcmp(argv[0], "floating") == 0)
		return cmd_floating(argc, argv);
	if (strcmp(argv[0], "service") == 0 && argc == 2 &&
	    strcmp(argv[1], "list") == 0)
		return service_list();
	if (strcmp(argv[0], "status") == 0) {
		if ((rc = manage_status(cfg, argc, argv)) == 2)
			usage(2);
		return rc;
	}
	if (strcmp(argv[0], "logs") == 0) {
		if ((rc = manage_logs(cfg, argc, argv)) == 2)
			usage(2);
		return rc;
	}
	if (strcmp(argv[0], "hypervisor") == 0 && argc == 2 &&
	    strcmp(argv[1], "list") == 0)
		return hypervisor_list();
	usage(2);
	return 2;
}
