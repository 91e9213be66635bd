/* ctltest: the controller's services in-process; see ctltest.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/keyrepo.h"
#include "auth/token.h"
#include "buf.h"
#include "bus.h"
#include "codec.h"
#include "compute/compute.h"
#include "config.h"
#include "core/db.h"
#include "core/fleet.h"
#include "ctltest.h"
#include "err.h"
#include "http/request.h"
#include "identity/identity.h"
#include "identity/identity_int.h"
#include "identity/idstore.h"
#include "identity/password.h"
#include "log.h"
#include "opts.h"
#include "services.h"
#include "store.h"

#define HTTP_TIMEOUT_S	20	/* a loaded 2-core machine, under ASan */

struct ctltest_priv {
	struct config_opt	*table;		/* opts_controller, ports from 0 */
	struct config		*cfg;
	struct store		*store;
	struct bus		*bus;
	struct fleet		*fleet;
	struct services		*services;
	struct identity		*identity;	/* borrowed from services */
	char			*errtext;	/* ctltest_errmsg() of HTML */
};

static int
setup_fail(const char *what)
{
	fprintf(stderr, "ctltest: %s: %s\n", what, err_msg());
	return -1;
}

/*
 * The controller's option table with the API ports allowed to be 0: the
 * listeners then bind ephemeral ports, so parallel test runs never collide.
 */
static struct config_opt *
table_new(void)
{
	struct config_opt *t;
	size_t n;

	for (n = 0; opts_controller[n].key != NULL; n++)
		;
	if ((t = calloc(n + 1, sizeof(*t))) == NULL)
		return NULL;
	memcpy(t, opts_controller, (n + 1) * sizeof(*t));
	for (size_t i = 0; i < n; i++)
		if ((strcmp(t[i].section, "api") == 0 &&
		    strstr(t[i].key, "_port") != NULL) ||
		    (strcmp(t[i].section, "dashboard") == 0 &&
		    strcmp(t[i].key, "port") == 0))
			t[i].min = 0;
	return t;
}

static int
config_build(struct ctltest *t)
{
	struct ctltest_priv *p = t->priv;
	char path[128];
	static const char *const ports[] = { "identity_port", "image_port",
	    "compute_port", "volume_port", "network_port" };
	const struct { const char *s, *k, *v; } set[] = {
		{ "api", "bind_host", "127.0.0.1" },
		{ "api", "threads", "2" },
		{ "api", "public_host", "127.0.0.1" },
		{ "database", "sync", "nometasync" },
		{ "database", "map_size_mb", "64" },
		{ "database", "max_readers", "126" },
		/* argon2id at its cheapest: tests hash a few passwords */
		{ "identity", "password_hash_opslimit", "1" },
		{ "identity", "password_hash_memlimit_kb", "8" },
		{ "bus", "curve", "false" },
		/* an ephemeral loopback port: nothing connects */
		{ "bus", "listen", "tcp://127.0.0.1:*" },
		{ "dashboard", "enabled", "true" },
		{ "dashboard", "port", "0" },
	};

	if ((p->table = table_new()) == NULL)
		return -1;
	p->cfg = config_new(p->table);
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		if (config_set(p->cfg, set[i].s, set[i].k, set[i].v) == -1)
			return setup_fail("config");
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (config_set(p->cfg, "api", ports[i], "0") == -1)
			return setup_fail("config");
#define SETP(s, k, sub) do {						\
	snprintf(path, sizeof(path), "%s%s", t->dir, sub);		\
	if (config_set(p->cfg, s, k, path) == -1)			\
		return setup_fail("config");					\
} while (0)
	SETP("DEFAULT", "state_path", "");
	SETP("DEFAULT", "pid_file", "/pid");
	SETP("database", "path", "/db");
	SETP("identity", "key_repository", "/keys");
	SETP("image", "store_path", "/images");
	SETP("bus", "keys_dir", "/bus-keys");
#undef SETP
	snprintf(path, sizeof(path), "%s/db", t->dir);
	if (mkdir(path, 0700) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/images", t->dir);
	if (mkdir(path, 0700) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/keys", t->dir);
	if (keyrepo_setup(path, 3) == -1)
		return setup_fail("keyrepo_setup");
	return 0;
}

/*
 * What controller/main.c does, minus daemon, fleet and signals: the store
 * (db sync as `tinystack-manage db sync`), the bus, the compute service
 * and every service through controller/services.c with its three
 * listeners (compute needs a fleet for its hooks). The only function to
 * adapt when
 * the controller's construction changes.
 */
static int
build_services(struct ctltest *t)
{
	struct ctltest_priv *p = t->priv;
	struct services_env env = { 0 };
	struct fleet_opts fo;
	struct bus_opts bo;

	if ((p->store = db_open(p->cfg, 0)) == NULL || db_sync(p->store) == -1 ||
	    db_check_version(p->store) == -1)
		return setup_fail("store");
	bus_opts_init(&bo);
	bo.endpoint = config_get_str(p->cfg, "bus", "listen");
	bo.curve = 0;
	if ((p->bus = bus_server_new(&bo)) == NULL)
		return setup_fail("bus");
	memset(&fo, 0, sizeof(fo));
	fo.controller_host = "ctltest";
	fo.report_interval = 10;
	fo.service_down_time = 60;
	if ((p->fleet = fleet_new(p->store, p->bus, &fo)) == NULL)
		return setup_fail("fleet_new");
	env.cfg = p->cfg;
	env.store = p->store;
	env.bus = p->bus;
	env.fleet = p->fleet;
	env.host = "ctltest";
	if ((p->services = services_new(&env)) == NULL)
		return setup_fail("services_new");
	p->identity = services_env(p->services)->identity;
	if (services_start(p->services) == -1)
		return setup_fail("start");
	/* By name: the builder's table order is its own business. */
	for (size_t i = 0; services_name(i) != NULL; i++) {
		static const char *const names[CT__NSVC] = {
			[CT_IDENTITY] = "identity", [CT_IMAGE] = "image",
			[CT_NETWORK] = "network", [CT_COMPUTE] = "compute",
			[CT_VOLUME] = "volume", [CT_DASHBOARD] = "dashboard",
		};

		for (size_t k = 0; k < CT__NSVC; k++)
			if (names[k] && strcmp(names[k], services_name(i)) == 0)
				t->port[k] = services_port(p->services, i);
	}
	return 0;
}

static void
free_services(struct ctltest *t)
{
	struct ctltest_priv *p = t->priv;

	services_stop(p->services);
	services_free(&p->services);	/* compute before the bus */
	fleet_free(&p->fleet);
	bus_free(&p->bus);
	store_free(&p->store);
}

/* ---- identity ------------------------------------------------------------- */

struct personas {
	struct ctltest	*t;
	unsigned long long ops;
	size_t		 mem;
	char		 hash[PASSWORD_HASH_BUFSZ];
};

static int
add_project(struct store_txn *txn, const char *name, char *id)
{
	struct rec_project pr = { 0 };

	idstore_id_new(id);
	pr.id = id;
	pr.name = (char *)name;
	pr.domain_id = IDSTORE_DEFAULT_DOMAIN;
	pr.parent_id = IDSTORE_DEFAULT_DOMAIN;
	pr.enabled = true;
	pr.created_at = pr.updated_at = db_now_ms();
	return idstore_project_put(txn, &pr, NULL);
}

static int
add_user(struct store_txn *txn, struct personas *ps, enum ctltest_who w,
    const char *name, const char *project_id, const char *role)
{
	struct rec_user u = { 0 };
	struct rec_role r = { 0 };
	int rc;

	idstore_id_new(ps->t->user_id[w]);
	snprintf(ps->t->project_id[w], sizeof(ps->t->project_id[w]), "%s",
	    project_id);
	u.id = ps->t->user_id[w];
	u.name = (char *)name;
	u.domain_id = IDSTORE_DEFAULT_DOMAIN;
	u.enabled = true;
	u.password_hash = ps->hash;	/* every persona's is "secret" */
	u.created_at = u.updated_at = u.password_changed_at = db_now_ms();
	if (idstore_user_put(txn, &u, NULL) == -1 ||
	    idstore_role_find(txn, NULL, role, &r) == -1)
		return -1;
	rc = idstore_grant(txn, IDSTORE_USER, u.id, IDSTORE_PROJECT,
	    project_id, r.id, db_now_ms());
	codec_clear(&schema_rec_role, &r);
	return rc;
}

static int
personas_fn(struct store_txn *txn, void *arg)
{
	struct personas *ps = arg;
	char alpha[IDSTORE_ID_BUFSZ], beta[IDSTORE_ID_BUFSZ];

	if (add_project(txn, "alpha", alpha) == -1 ||
	    add_project(txn, "beta", beta) == -1 ||
	    add_user(txn, ps, CT_MEMBER, "member", alpha, "member") == -1 ||
	    add_user(txn, ps, CT_READER, "reader", alpha, "reader") == -1 ||
	    add_user(txn, ps, CT_OTHER, "other", beta, "member") == -1)
		return -1;
	return 0;
}

static int
system_token(struct ctltest *t, enum ctltest_who w)
{
	struct keyrepo *k;
	struct token_payload pl;
	uint8_t uid[TOKEN_ID_LEN];
	char path[128];
	int rc;

	snprintf(path, sizeof(path), "%s/keys", t->dir);
	if ((k = keyrepo_load(path)) == NULL)
		return -1;
	if (token_id_parse(t->user_id[w], uid) == -1) {
		keyrepo_free(&k);
		return -1;
	}
	token_payload_init(&pl, TOKEN_METHOD_PASSWORD, uid, TOKEN_SCOPE_SYSTEM,
	    NULL, (uint64_t)db_now_ms(), 3600);
	rc = token_issue(k, &pl, t->token[w], sizeof(t->token[w]));
	keyrepo_free(&k);
	return rc;
}

/* `tinystack-manage bootstrap` with the bound ports, then the personas,
 * then a token for each. */
static int
identity_build(struct ctltest *t)
{
	struct ctltest_priv *p = t->priv;
	struct identity_bootstrap_opts o = { 0 };
	struct identity_bootstrap_result res;
	struct personas ps = { .t = t };

	snprintf(t->admin_password, sizeof(t->admin_password), "adminpw");
	o.admin_password = t->admin_password;
	o.admin_username = "admin";
	o.project_name = "admin";
	o.role_name = "admin";
	o.region_id = "RegionOne";
	o.public_host = "127.0.0.1";
	o.identity_port = t->port[CT_IDENTITY];
	o.image_port = t->port[CT_IMAGE];
	o.compute_port = t->port[CT_COMPUTE];
	o.volume_port = t->port[CT_VOLUME];
	o.network_port = t->port[CT_NETWORK];
	o.opslimit = ps.ops = identity_pw_opslimit(p->identity);
	o.memlimit = ps.mem = identity_pw_memlimit(p->identity);
	if (identity_bootstrap(p->store, &o, &res) == -1)
		return setup_fail("bootstrap");
	snprintf(t->user_id[CT_ADMIN], sizeof(t->user_id[0]), "%s",
	    res.user_id);
	snprintf(t->project_id[CT_ADMIN], sizeof(t->project_id[0]), "%s",
	    res.project_id);
	snprintf(t->user_id[CT_SYSADMIN], sizeof(t->user_id[0]), "%s",
	    res.user_id);
	if (password_hash("secret", ps.ops, ps.mem, ps.hash) == -1 ||
	    store_write(p->store, personas_fn, &ps) == -1)
		return setup_fail("personas");
	for (int w = CT_ADMIN; w < CT__NWHO; w++) {
		if (w == CT_SYSADMIN) {
			if (system_token(t, w) == -1)
				return setup_fail("system token");
		} else if (identity_token_mint(p->identity,
		    t->user_id[w], t->project_id[w], 3600, t->token[w],
		    sizeof(t->token[w])) == -1)
			return setup_fail("token");
	}
	return 0;
}

/* ---- life cycle ------------------------------------------------------------ */

struct ctltest *
ctltest_new(void)
{
	struct ctltest *t;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->priv = calloc(1, sizeof(*t->priv))) == NULL) {
		free(t);
		return NULL;
	}
	/* Handlers log refusals at info: keep the test output readable. */
	log_init("ctltest", getenv("CTLTEST_VERBOSE") ? LOG_LVL_DEBUG :
	    LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	snprintf(t->dir, sizeof(t->dir), "/tmp/ctltest.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		t->dir[0] = '\0';
		goto fail;
	}
	if (config_build(t) == -1 || build_services(t) == -1 ||
	    identity_build(t) == -1)
		goto fail;
	return t;
fail:
	ctltest_free(&t);
	return NULL;
}

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void
resp_clear(struct ctltest *t)
{
	free(t->r.headers);
	free(t->r.raw);
	json_decref(t->r.body);
	free(t->priv->errtext);
	t->priv->errtext = NULL;
	memset(&t->r, 0, sizeof(t->r));
}

void
ctltest_free(struct ctltest **tp)
{
	struct ctltest *t;

	if (tp == NULL || (t = *tp) == NULL)
		return;
	resp_clear(t);
	free_services(t);
	config_free(&t->priv->cfg);
	free(t->priv->table);
	free(t->priv);
	if (t->dir[0] != '\0')
		nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(t);
	*tp = NULL;
}

struct store *
ctltest_store(struct ctltest *t)
{
	return t->priv->store;
}

struct identity *
ctltest_identity(struct ctltest *t)
{
	return t->priv->identity;
}

struct netsync *
ctltest_netsync(struct ctltest *t)
{
	return services_env(t->priv->services)->netsync;
}

struct storesync *
ctltest_storesync(struct ctltest *t)
{
	return services_env(t->priv->services)->storesync;
}

struct volume *
ctltest_volume(struct ctltest *t)
{
	return services_env(t->priv->services)->volume;
}

/* ---- HTTP client ----------------------------------------------------------- */

static int
send_all(int fd, const char *d, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, d, n, MSG_NOSIGNAL);

		if (w <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			return -1;
		}
		d += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Decode a chunked body in place into out. */
static int
unchunk(const char *in, size_t len, struct buf *out)
{
	const char *end = in + len;

	while (in < end) {
		char *e;
		unsigned long n = strtoul(in, &e, 16);
		const char *data = strstr(e, "\r\n");

		if (data == NULL || e == in)
			return -1;
		data += 2;
		if (n == 0)
			return 0;
		if ((size_t)(end - data) < n + 2 || buf_append(out, data, n) == -1)
			return -1;
		in = data + n + 2;
	}
	return -1;
}

/* Parse a complete response (the server closed the connection). */
static int
parse(struct ctltest *t, struct buf *b)
{
	char *text = (char *)b->data;
	char *hend = strstr(text, "\r\n\r\n"), *line, *save = NULL;
	const char *body, *te;
	struct buf hb = { 0 }, bb = { 0 };
	size_t blen;

	if (hend == NULL || sscanf(text, "HTTP/1.%*d %d", &t->r.status) != 1)
		return -1;
	*hend = '\0';
	body = hend + 4;
	blen = b->len - (size_t)(body - text);
	line = strtok_r(text, "\r\n", &save);	/* status line */
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL)
		if (buf_append(&hb, line, strlen(line)) == -1 ||
		    buf_append(&hb, "\n", 1) == -1)
			return -1;
	t->r.headers = hb.data != NULL ? (char *)hb.data : strdup("");
	te = ctltest_header(t, "Transfer-Encoding");
	if (te != NULL && strcasecmp(te, "chunked") == 0) {
		if (unchunk(body, blen, &bb) == -1)
			return -1;
	} else if (buf_append(&bb, body, blen) == -1) {
		return -1;
	}
	if (bb.data == NULL && buf_reserve(&bb, 0) == -1)
		return -1;
	t->r.raw = (char *)bb.data;
	t->r.len = bb.len;
	if (bb.len > 0)
		t->r.body = json_loadb((char *)bb.data, bb.len,
		    JSON_DECODE_ANY, NULL);
	return 0;
}

int
ctltest_call(struct ctltest *t, enum ctltest_svc svc, enum ctltest_who who,
    const char *method, const char *path, const char *body,
    const char *extra_hdrs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { HTTP_TIMEOUT_S, 0 };
	struct buf req = { 0 }, in = { 0 };
	char line[512], chunk[16384];
	int fd, rc = -1;
	ssize_t n;

	resp_clear(t);
	sa.sin_port = htons(t->port[svc]);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		goto out;
	/* The target apart: a long one (fuzzers' queries) must not be cut. */
	snprintf(line, sizeof(line), " HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
	    "Connection: close\r\nAccept: application/json\r\n",
	    (unsigned)t->port[svc]);
	if (buf_append(&req, method, strlen(method)) == -1 ||
	    buf_append(&req, " ", 1) == -1 ||
	    buf_append(&req, path, strlen(path)) == -1 ||
	    buf_append(&req, line, strlen(line)) == -1)
		goto out;
	if (who != CT_ANON) {
		snprintf(line, sizeof(line), "X-Auth-Token: %s\r\n",
		    t->token[who]);
		if (buf_append(&req, line, strlen(line)) == -1)
			goto out;
	}
	if (extra_hdrs != NULL && buf_append(&req, extra_hdrs,
	    strlen(extra_hdrs)) == -1)
		goto out;
	if (body != NULL) {
		snprintf(line, sizeof(line), "%sContent-Length: %zu\r\n",
		    extra_hdrs != NULL && strcasestr(extra_hdrs,
		    "Content-Type:") != NULL ? "" :
		    "Content-Type: application/json\r\n", strlen(body));
		if (buf_append(&req, line, strlen(line)) == -1)
			goto out;
	}
	if (buf_append(&req, "\r\n", 2) == -1 ||
	    (body != NULL && buf_append(&req, body, strlen(body)) == -1))
		goto out;
	if (send_all(fd, (char *)req.data, req.len) == -1)
		goto out;
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (buf_append(&in, chunk, (size_t)n) == -1)
			goto out;
	}
	if (in.data != NULL && parse(t, &in) == 0)
		rc = t->r.status;
out:
	close(fd);
	buf_free(&req);
	buf_free(&in);
	return rc;
}

/* ---- answers -------------------------------------------------------------- */

const char *
ctltest_header(struct ctltest *t, const char *name)
{
	static __thread char v[1024];
	size_t nl = strlen(name);
	const char *l = t->r.headers;

	while (l != NULL && *l != '\0') {
		const char *e = strchr(l, '\n');

		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *s = l + nl + 1;
			size_t len;

			while (*s == ' ')
				s++;
			len = e != NULL ? (size_t)(e - s) : strlen(s);
			if (len >= sizeof(v))
				len = sizeof(v) - 1;
			memcpy(v, s, len);
			v[len] = '\0';
			return v;
		}
		l = e != NULL ? e + 1 : NULL;
	}
	return NULL;
}

/* Glance's page: the text of the body without tags and blank lines. */
static const char *
html_text(struct ctltest *t)
{
	const char *s = t->r.raw;
	char *o;
	size_t n = 0;
	bool tag = false;

	if ((o = t->priv->errtext = calloc(1, t->r.len + 1)) == NULL)
		return "";
	static const struct { const char *ent; char c; } ents[] = {
		{ "&#x27;", '\'' }, { "&#39;", '\'' }, { "&quot;", '"' },
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
	};

	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == '<')
			tag = true;
		else if (c == '>')
			tag = false;
		if (tag || c == '>' || (c == '\n' && (n == 0 || o[n - 1] == '\n')))
			continue;
		for (size_t k = 0; c == '&' && k < sizeof(ents) / sizeof(ents[0]);
		    k++) {
			if (strncmp(s, ents[k].ent, strlen(ents[k].ent)) == 0) {
				c = ents[k].c;
				s += strlen(ents[k].ent) - 1;
				break;
			}
		}
		o[n++] = c;
	}
	while (n > 0 && (o[n - 1] == '\n' || o[n - 1] == ' '))
		o[--n] = '\0';
	while (*o == '\n' || *o == ' ')
		o++;
	return o;
}

const char *
ctltest_errmsg(struct ctltest *t)
{
	const char *k;
	json_t *v, *m;

	if (t->r.body == NULL)
		return t->r.raw != NULL ? html_text(t) : "";
	json_object_foreach(t->r.body, k, v) {
		if (json_is_object(v) && (m = json_object_get(v, "message")) &&
		    json_is_string(m))
			return json_string_value(m);
	}
	return "";
}

json_t *
ctltest_get(struct ctltest *t, const char *path)
{
	char key[256];
	json_t *j = t->r.body;

	while (j != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");
		char *e;

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_is_array(j)) {
			unsigned long i = strtoul(key, &e, 10);

			j = *e == '\0' ? json_array_get(j, i) : NULL;
		} else {
			j = json_object_get(j, key);
		}
		path += n;
		if (*path == '.')
			path++;
	}
	return j;
}

const char *
ctltest_str(struct ctltest *t, const char *path)
{
	return json_string_value(ctltest_get(t, path));
}

void
ctltest_subst(char *out, size_t outlen, const char *tmpl, const char *value)
{
	const char *at = strstr(tmpl, "%s");

	if (at == NULL)
		snprintf(out, outlen, "%s", tmpl);
	else
		snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl,
		    value, at + 2);
}

/* ---- checks ----------------------------------------------------------------- */

unsigned ctltest_checks;

void
ctltest_expect_at(struct ctltest *t, int status, const char *msg,
    const char *file, int line)
{
	const char *got;

	ctltest_checks++;
	if (t->r.status != status) {
		print_error("status %d, expected %d: %.512s\n", t->r.status,
		    status, t->r.raw != NULL ? t->r.raw : "(no answer)");
		_fail(file, line);
	}
	if (msg == NULL)
		return;
	ctltest_checks++;
	got = ctltest_errmsg(t);
	if (t->r.body != NULL ? strcmp(got, msg) != 0 :
	    strstr(got, msg) == NULL) {
		print_error("message \"%s\", expected \"%s\"\n", got, msg);
		_fail(file, line);
	}
}
