/*
 * The VNC console: POST /servers/{id}/remote-consoles (2.6+), the legacy
 * os-getVNCConsole action (2.1-2.5), noVNC's page from Debian's novnc
 * package under /vnc/, and its websocket /vnc/websockify?token=... bridged
 * to the guest's VNC server (http/websocket.c). Nova runs the last two as
 * nova-novncproxy on a port of their own (6080); here they share the
 * compute API's port, so the dashboard's mount (/compute/vnc/...) and a
 * reverse proxy carry them too.
 *
 * The token (compute/vncconsole.c) is in the URL's query, which the access
 * log never shows (http.c logs the path only).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compute_int.h"
#include "core/db.h"
#include "http/jsonreq.h"
#include "http/websocket.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "uuid.h"
#include "vncconsole.h"

#define CONNECT_TIMEOUT_MS	5000
#define URL_MAX			2048

/* ---- the URL ------------------------------------------------------------ */

static void
pct_append(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);

	for (; *s != '\0' && n + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			out[n++] = (char)c;
		} else {
			snprintf(out + n, cap - n, "%%%02X", c);
			n += 3;
		}
	}
	out[n] = '\0';
}

/*
 * noVNC's vnc_lite.html opens ws(s)://<its host>/<path>: the path is the
 * page's own directory + websockify, so it follows the page wherever a
 * proxy puts it.
 */
static int
console_url(struct http_req *req, const char *tok, char *out, size_t cap)
{
	struct compute *s = compute_of(req);
	char base[URL_MAX], path[URL_MAX];
	const char *p, *slash, *q;
	size_t dir;

	if (s->vnc_base[0] != '\0') {
		snprintf(base, sizeof(base), "%s", s->vnc_base);
	} else {
		if (http_req_base_url(req, base, sizeof(base) - 32) == -1) {
			err_set(TS_EINTERNAL, "console URL too long");
			return -1;
		}
		strcat(base, "/vnc/vnc_lite.html");
	}
	/* The page's path: after "scheme://host", up to '?' or '#'. */
	p = strstr(base, "://");
	p = p != NULL ? strchr(p + 3, '/') : NULL;
	path[0] = '\0';
	if (p != NULL) {
		q = p + strcspn(p, "?#");
		for (slash = q; slash > p && slash[-1] != '/'; slash--)
			;
		dir = (size_t)(slash - p);
		/* Without the leading '/': vnc_lite adds it. */
		if (dir > 1)
			snprintf(path, sizeof(path), "%.*s", (int)(dir - 1),
			    p + 1);
	}
	strncat(path, "websockify?token=", sizeof(path) - strlen(path) - 1);
	strncat(path, tok, sizeof(path) - strlen(path) - 1);
	if (snprintf(out, cap, "%s%spath=", base, strchr(base, '?') ? "&" :
	    "?") >= (int)cap) {
		err_set(TS_EINTERNAL, "console URL too long");
		return -1;
	}
	pct_append(out, cap, path);
	return 0;
}

/*
 * Nova's compute API checks of every console (check_instance_host, then
 * reject_instance_state), before its host looks at the console type:
 * 409 for an instance not on a host or being deleted or live-migrated.
 * method is the API method Nova names ("get_vnc_console").
 */
static int
console_state(const struct rec_instance *i, const char *method)
{
	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "Instance %s is not ready", i->uuid);
		return -1;
	}
	if (i->task_state != NULL && (strcmp(i->task_state, "deleting") == 0 ||
	    strcmp(i->task_state, "migrating") == 0)) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "task_state %s", method, i->uuid, i->task_state);
		return -1;
	}
	return 0;
}

/*
 * Whether a guest in vm_state has a qemu serving VNC: ACTIVE, and PAUSED,
 * whose qemu runs with its vCPUs stopped (Nova's libvirt driver reads the
 * port from the running domain's XML, so it answers for both).
 */
static bool
console_vm_state(const char *vm_state)
{
	return strcmp(vm_state, VM_ACTIVE) == 0 ||
	    strcmp(vm_state, VM_PAUSED) == 0;
}

/*
 * A VNC console of type `type` for instance i, in Nova's order: the
 * instance's state (409), then what its compute manager checks, VNC on
 * ("Unavailable console type <type>.") and the type novnc ("Invalid
 * console type <type>"), then the guest: 409 InstanceNotReady unless
 * ACTIVE or PAUSED (Nova's libvirt driver answers a stopped guest's
 * inactive definition, port -1, with a URL that never connects: refused
 * here),
 * 400 ConsoleTypeUnavailable "vnc" when its host reports no VNC server
 * for it (libvirt's driver for a guest without one).
 */
static int
vnc_console(struct http_req *req, const struct rec_instance *i,
    const char *type, char *url, size_t cap)
{
	struct compute *s = compute_of(req);
	struct vncconsole_target t;
	char tok[VNCCONSOLE_TOKEN_LEN + 1];
	int rc;

	if (console_state(i, "get_vnc_console") == -1)
		return -1;
	if (s->vnc == NULL) {
		err_set(TS_EINVALID, "Unavailable console type %s.", type);
		return -1;
	}
	if (strcmp(type, "novnc") != 0) {
		err_set(TS_EINVALID, "Invalid console type %s", type);
		return -1;
	}
	if (!console_vm_state(i->vm_state)) {
		err_set(TS_ECONFLICT, "Instance %s is not ready", i->uuid);
		return -1;
	}
	/*
	 * The ports come with the host's reports, and the report naming a
	 * new qemu's port can land just after the ensure's answer made the
	 * server ACTIVE (Tempest asked 11 ms after ACTIVE and got 400). Nova
	 * asks the compute host at once; here a guest launched or restarted
	 * moments ago waits for the host's next reports, bounded.
	 */
	if (vncconsole_where_wait(s->vnc, i->host, i->uuid, &t,
	    vncconsole_wait_ms(i->launched_at, i->updated_at, db_now_ms())) ==
	    -1) {
		err_set(TS_EINVALID, "Unavailable console type vnc.");
		return -1;
	}
	if (vncconsole_issue(s->vnc, &t, clock_mono_ms(), tok) == -1)
		return -1;
	rc = console_url(req, tok, url, cap);
	explicit_bzero(tok, sizeof(tok));
	return rc;
}

/* Nova's schema: create_v26, and create_v28 (mks/webmks) from 2.8. */
static const char *const protocols[] = { "vnc", "spice", "rdp", "serial",
    NULL };
static const char *const types[] = { "novnc", "xvpvnc", "rdp-html5",
    "spice-html5", "serial", NULL };
static const char *const protocols_28[] = { "vnc", "spice", "rdp", "serial",
    "mks", NULL };
static const char *const types_28[] = { "novnc", "xvpvnc", "rdp-html5",
    "spice-html5", "serial", "webmks", NULL };

int
compute_console_remote(struct http_req *req, struct http_resp *resp)
{
	struct rec_instance i;
	json_t *rc_obj;
	const char *proto = NULL, *type = NULL, *k;
	char url[URL_MAX], method[32];
	json_t *v;
	int mv, rc = -1;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (mv < 6) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (jsonreq_body(JSONREQ_NOVA, http_req_json(req), "remote_console",
	    &rc_obj) == -1)
		return -1;
	json_object_foreach(rc_obj, k, v) {
		if (strcmp(k, "protocol") != 0 && strcmp(k, "type") != 0) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "remote_console. Value: %s. Additional properties "
			    "are not allowed ('%.64s' was unexpected)",
			    "{...}", k);
			return -1;
		}
	}
	if (jsonreq_enum(JSONREQ_NOVA, rc_obj, "protocol", mv >= 8 ?
	    protocols_28 : protocols, NULL, JSONREQ_REQUIRED, &proto,
	    NULL) == -1 ||
	    jsonreq_enum(JSONREQ_NOVA, rc_obj, "type", mv >= 8 ? types_28 :
	    types, NULL, JSONREQ_REQUIRED, &type, NULL) == -1)
		return -1;
	memset(&i, 0, sizeof(i));
	{
		struct store_txn *txn = NULL;

		if (compute_read(req, &txn) == -1)
			return -1;
		rc = compute_server_load_txn(req, txn,
		    "os_compute_api:os-remote-consoles", &i);
		store_txn_end(&txn);
		if (rc == -1)
			return -1;
		rc = -1;
	}
	/* Nova refuses RDP before looking at the instance. */
	if (strcmp(proto, "rdp") == 0) {
		err_set(TS_EINVALID, "Unavailable console type %s.", proto);
		goto out;
	}
	if (strcmp(proto, "vnc") != 0) {
		/* No SPICE, serial or MKS console here: Nova with them
		 * disabled, whose host names the type it was asked for.
		 * (From this API Nova's uncaught InstanceInvalidState is a
		 * 500; 409 here, as os-getVNCConsole's.) */
		snprintf(method, sizeof(method), "get_%s_console", proto);
		if (console_state(&i, method) == 0)
			err_set(TS_EINVALID, "Unavailable console type %s.",
			    type);
		goto out;
	}
	if (vnc_console(req, &i, type, url, sizeof(url)) == -1)
		goto out;
	rc = http_resp_json(resp, 200, json_pack("{s:{s:s,s:s,s:s}}",
	    "remote_console", "protocol", proto, "type", type, "url", url));
	explicit_bzero(url, sizeof(url));
out:
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

/*
 * A legacy console action's argument: {"type": one of types} and nothing
 * else (Nova's get_*_console schemas).
 */
static int
action_arg(const char *key, json_t *arg, const char *const *allowed,
    const char **type)
{
	const char *k;
	json_t *v;

	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "%s. Value: %s. %s is not of type 'object'", key, "None",
		    "None");
		return -1;
	}
	json_object_foreach(arg, k, v) {
		if (strcmp(k, "type") != 0) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "%s. Value: %s. Additional properties are not "
			    "allowed ('%.64s' was unexpected)", key, "{...}", k);
			return -1;
		}
	}
	return jsonreq_enum(JSONREQ_NOVA, arg, "type", allowed, NULL,
	    JSONREQ_REQUIRED, type, NULL);
}

int
compute_console_other_action(struct http_req *req, const char *key,
    json_t *arg, const struct rec_instance *i, int mv)
{
	static const char *const spice[] = { "spice-html5", NULL };
	static const char *const serial[] = { "serial", NULL };
	const char *type = NULL;
	bool is_spice = strcmp(key, "os-getSPICEConsole") == 0;

	if (mv >= 6) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	/* Removed with Hyper-V: Nova's bare HTTPBadRequest, any body. */
	if (strcmp(key, "os-getRDPConsole") == 0) {
		err_set(TS_EINVALID, "The server could not comply with the "
		    "request since it is either malformed or otherwise "
		    "incorrect.");
		return -1;
	}
	if (action_arg(key, arg, is_spice ? spice : serial, &type) == -1 ||
	    compute_enforce_owned(req, "os_compute_api:os-remote-consoles",
	    i->project_id, i->user_id, "Instance", i->uuid) == -1 ||
	    console_state(i, is_spice ? "get_spice_console" :
	    "get_serial_console") == -1)
		return -1;
	err_set(TS_EINVALID, "Unavailable console type %s.", type);
	return -1;
}

static const char *const vnc_types[] = { "novnc", "xvpvnc", NULL };

int
compute_console_vnc_action(struct http_req *req, struct http_resp *resp,
    json_t *arg, const struct rec_instance *i, int mv)
{
	const char *type = NULL;
	char url[URL_MAX];
	int rc;

	/* Nova 2.6 replaced the action with remote-consoles. */
	if (mv >= 6) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (action_arg("os-getVNCConsole", arg, vnc_types, &type) == -1)
		return -1;
	if (compute_enforce_owned(req, "os_compute_api:os-remote-consoles",
	    i->project_id, i->user_id, "Instance", i->uuid) == -1)
		return -1;
	if (vnc_console(req, i, type, url, sizeof(url)) == -1)
		return -1;
	rc = http_resp_json(resp, 200, json_pack("{s:{s:s,s:s}}", "console",
	    "type", type, "url", url));
	explicit_bzero(url, sizeof(url));
	return rc;
}

/* ---- noVNC's files -------------------------------------------------------- */

static const char *
ctype_of(const char *name)
{
	static const struct { const char *ext, *type; } t[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".png", "image/png" },
		{ ".svg", "image/svg+xml" },
		{ ".ico", "image/x-icon" },
		{ ".json", "application/json" },
		{ ".oga", "audio/ogg" },
		{ ".ogg", "audio/ogg" },
		{ ".mp3", "audio/mpeg" },
		{ ".woff", "font/woff" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t k = 0; dot != NULL && k < sizeof(t) / sizeof(t[0]); k++)
		if (strcasecmp(dot, t[k].ext) == 0)
			return t[k].type;
	return "application/octet-stream";
}

int
compute_console_file(struct http_req *req, struct http_resp *resp)
{
	static const char *const seg[] = { "p1", "p2", "p3", "p4", "p5" };
	struct compute *s = compute_of(req);
	char path[PATH_MAX];
	const char *v, *last = "";
	struct stat st;
	int fd;

	if (s->vnc == NULL) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	snprintf(path, sizeof(path), "%s", s->novnc_path);
	for (size_t k = 0; k < 5 && (v = http_req_param(req, seg[k])) != NULL;
	    k++) {
		/* Captures hold no '/': refusing a leading '.' keeps the
		 * walk inside the package's tree ("..", hidden files). */
		if (v[0] == '.' || strlen(path) + strlen(v) + 2 > sizeof(path)) {
			err_set(TS_ENOT_FOUND, "The resource could not be "
			    "found.");
			return -1;
		}
		strcat(path, "/");
		strcat(path, v);
		last = v;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (http_resp_header(resp, "X-Content-Type-Options", "nosniff") ==
	    -1 || http_resp_header(resp, "Referrer-Policy", "no-referrer") ==
	    -1 || http_resp_header(resp, "Cache-Control", "no-store") == -1) {
		close(fd);
		return -1;
	}
	return http_resp_file(resp, 200, ctype_of(last), fd, st.st_size);
}

/* ---- the websocket ----------------------------------------------------------- */

/* "host" or "host:port" or "[v6]:port" -> the host part, lower-cased. */
static void
host_part(const char *hp, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	const char *end = hp + n;

	if (n > 0 && hp[0] == '[') {
		const char *rb = memchr(hp, ']', n);

		end = rb != NULL ? rb + 1 : end;
	} else {
		const char *c = memchr(hp, ':', n);

		end = c != NULL ? c : end;
	}
	for (; hp < end && k + 1 < cap; hp++)
		out[k++] = (char)((*hp >= 'A' && *hp <= 'Z') ? *hp - 'A' + 'a' :
		    *hp);
	out[k] = '\0';
}

/* The host of a URL "scheme://host[:port]/..." into out; -1 if none. */
static int
url_host(const char *url, char *out, size_t cap, char *scheme, size_t scap)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (p == NULL || p == url || (size_t)(p - url) >= scap)
		return -1;
	snprintf(scheme, scap, "%.*s", (int)(p - url), url);
	p += 3;
	n = strcspn(p, "/?#");
	if (n == 0)
		return -1;
	host_part(p, n, out, cap);
	return out[0] != '\0' ? 0 : -1;
}

/*
 * Nova's novncproxy check: a browser's Origin must name this host (the
 * Host header's, or the configured page's) over http(s). No Origin: not a
 * browser, nothing to forge.
 */
static int
origin_ok(struct http_req *req)
{
	struct compute *s = compute_of(req);
	const char *o = http_req_header(req, "Origin"), *h;
	char oh[256], sch[16], hh[256], bh[256], bsch[16];

	if (o == NULL)
		o = http_req_header(req, "Sec-WebSocket-Origin");
	if (o == NULL)
		return 0;
	if (url_host(o, oh, sizeof(oh), sch, sizeof(sch)) == -1 ||
	    (strcasecmp(sch, "http") != 0 && strcasecmp(sch, "https") != 0)) {
		err_set(TS_EFORBIDDEN, "Origin header not valid.");
		return -1;
	}
	if ((h = http_req_header(req, "Host")) != NULL) {
		host_part(h, strlen(h), hh, sizeof(hh));
		if (strcmp(hh, oh) == 0)
			return 0;
	}
	if (s->vnc_base[0] != '\0' && url_host(s->vnc_base, bh, sizeof(bh),
	    bsch, sizeof(bsch)) == 0 && strcmp(bh, oh) == 0)
		return 0;
	err_set(TS_EFORBIDDEN, "Origin header does not match this host.");
	return -1;
}

static bool
has_token(const char *list, const char *word)
{
	size_t wn = strlen(word);

	while (list != NULL && *list != '\0') {
		size_t n;

		list += strspn(list, " \t,");
		n = strcspn(list, " \t,");
		if (n == wn && strncasecmp(list, word, n) == 0)
			return true;
		list += n;
	}
	return false;
}

/* A TCP connection to addr:port within CONNECT_TIMEOUT_MS; -1 TS_EUNAVAILABLE. */
static int
vnc_connect(const char *addr, unsigned port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai = NULL;
	char ps[8];
	int fd = -1, e = 0;
	socklen_t el = sizeof(e);

	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(addr, ps, &hints, &ai) != 0 || ai == NULL)
		goto fail;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd == -1)
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };

		if (errno != EINPROGRESS || poll(&pf, 1, CONNECT_TIMEOUT_MS) !=
		    1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 ||
		    e != 0)
			goto fail;
	}
	freeaddrinfo(ai);
	return fd;
fail:
	if (ai != NULL)
		freeaddrinfo(ai);
	if (fd >= 0)
		close(fd);
	err_set(TS_EUNAVAILABLE, "The console is not reachable.");
	return -1;
}

struct bridge {
	int	tcp;
	char	uuid[37];
};

static void
bridge_run(void *arg, int fd, const char *extra, size_t extra_len)
{
	struct bridge *b = arg;
	uint64_t up = 0, down = 0;

	websocket_bridge(fd, extra, extra_len, b->tcp, &up, &down);
	b->tcp = -1;	/* closed by the bridge */
	log_info("vnc console of %s closed: %llu bytes in, %llu out", b->uuid,
	    (unsigned long long)up, (unsigned long long)down);
}

static void
bridge_free(void *arg)
{
	struct bridge *b = arg;

	if (b->tcp >= 0)
		close(b->tcp);
	free(b);
}

/*
 * Re-check at connect time what the token was issued for: the instance
 * still exists, active, on the same host, and that host reports the same
 * VNC address and port for it (a port freed by a deleted guest may be
 * another's by now).
 */
static int
still_there(struct http_req *req, const struct vncconsole_target *t)
{
	struct compute *s = compute_of(req);
	struct store_txn *txn = NULL;
	struct rec_instance i;
	struct vncconsole_target now;
	int rc;

	memset(&i, 0, sizeof(i));
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_instance_get(txn, t->uuid, &i);
	store_txn_end(&txn);
	if (rc == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "Instance %s could not be found.",
			    t->uuid);
		return -1;
	}
	rc = -1;
	if (i.host == NULL || strcmp(i.host, t->host) != 0 ||
	    !console_vm_state(i.vm_state) ||
	    vncconsole_where(s->vnc, t->host, t->uuid, &now) == -1 ||
	    strcmp(now.addr, t->addr) != 0 || now.port != t->port)
		err_set(TS_ECONFLICT, "Instance %s is not ready", t->uuid);
	else
		rc = 0;
	codec_clear(&schema_rec_instance, &i);
	return rc;
}

int
compute_console_websockify(struct http_req *req, struct http_resp *resp)
{
	struct compute *s = compute_of(req);
	struct vncconsole_target t;
	struct bridge *b;
	const char *key, *ver, *prot;
	char accept[WEBSOCKET_ACCEPT_LEN + 1];

	if (s->vnc == NULL) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	key = http_req_header(req, "Sec-WebSocket-Key");
	ver = http_req_header(req, "Sec-WebSocket-Version");
	if (!has_token(http_req_header(req, "Upgrade"), "websocket") ||
	    !has_token(http_req_header(req, "Connection"), "upgrade") ||
	    ver == NULL || strcmp(ver, "13") != 0 ||
	    websocket_accept(key, accept) == -1) {
		err_set(TS_EINVALID, "A websocket handshake is expected.");
		return -1;
	}
	/* From here a refusal is its status line alone and the close, as
	 * Tempest's noVNC checks expect (an error body would read as a frame);
	 * the reason is logged below. */
	http_resp_error_bare(resp);
	if (origin_ok(req) == -1)
		return -1;
	/* Taken now: whatever follows, the token is spent. */
	if (vncconsole_consume(s->vnc, http_req_query(req, "token"),
	    clock_mono_ms(), &t) == -1) {
		log_info("vnc console refused: invalid or expired token");
		return -1;
	}
	if (still_there(req, &t) == -1) {
		log_info("vnc console of %s refused: %s", t.uuid, err_msg());
		return -1;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	snprintf(b->uuid, sizeof(b->uuid), "%s", t.uuid);
	if ((b->tcp = vnc_connect(t.addr, t.port)) == -1) {
		log_warnx("vnc console of %s: %s:%u not reachable", t.uuid,
		    t.addr, t.port);
		free(b);
		return -1;
	}
	prot = http_req_header(req, "Sec-WebSocket-Protocol");
	if (http_resp_header(resp, "Sec-WebSocket-Accept", accept) == -1 ||
	    (has_token(prot, "binary") && http_resp_header(resp,
	    "Sec-WebSocket-Protocol", "binary") == -1)) {
		bridge_free(b);
		return -1;
	}
	log_info("vnc console of %s on %s opened", t.uuid, t.host);
	return http_resp_upgrade(resp, "websocket", bridge_run, bridge_free,
	    b);
}
