/*
 * compute_servers: the servers resource of the Compute API.
 *
 * Every change follows the same shape: read and check what the request
 * names (flavor, key pair, image) in a read transaction; then one
 * store_write() function re-reads the instance, checks its state again,
 * and writes the new desired state with its task (and, for a create, the
 * quota check and the scheduler's claim) in one transaction; only after
 * that commit is the command handed to the reconciler, which owns it from
 * there (re-sends, deadline, completion).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "hash.h"
#include "buf.h"
#include "codec.h"
#include "compute_int.h"
#include "core/db.h"
#include "err.h"
#include "http/jsonout.h"
#include "image/image.h"
#include "log.h"
#include "network/network.h"
#include "volume/volume.h"

#define MAX_COUNT		1000	/* instances per request */
#define NETS_MAX		32	/* networks of a server (instance_spec.nics) */
#define USER_DATA_MAX		65535	/* base64 text, as Nova */
#define NAME_RE_MAX		255	/* name filter: a server name's length */
#define NAME_RE_REPEAT_MAX	1000	/* product of its {m,n} bounds */
#define LIST_MAX		1000	/* Nova's [api] max_limit */

/* ---- images --------------------------------------------------------------- */

/*
 * imageRef (a UUID, or a URL ending in one) must name an image the caller
 * may see in the Image service (controller/image.h) and that is active.
 * Its minimums and disk format come along; kernel_id/ramdisk_id
 * properties name the images of a direct kernel boot.
 */
/* Image id (lowercase) of the caller's, visible and active, into *im
 * (cleared by the caller). 400 otherwise, naming what: "Image",
 * "Kernel image". */
static int
image_usable(struct http_req *req, struct store_txn *txn, const char *what,
    const char *id, struct rec_image *im)
{
	const struct request_ctx *c = compute_ctx(req);
	struct image_viewer v = { c->project_id ? c->project_id : "",
	    compute_is_admin(req) };
	bool member = false;
	int vis;

	if (image_db_get(txn, id, im) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_EINVALID, "%s %s could not be found.",
			    what, id);
		return -1;
	}
	if ((vis = image_db_visible(txn, &v, im, &member, NULL)) == -1)
		return -1;
	if (vis != 1) {
		err_set(TS_EINVALID, "%s %s could not be found.", what, id);
		return -1;
	}
	if (strcmp(im->status, "active") != 0) {
		err_set(TS_EINVALID, "%s %s is not active.", what, id);
		return -1;
	}
	return 0;
}

static void
data_of(const struct rec_image *im, struct compute_image_data *d)
{
	snprintf(d->disk_format, sizeof(d->disk_format), "%s",
	    im->disk_format ? im->disk_format : "");
	snprintf(d->sha512, sizeof(d->sha512), "%s",
	    im->os_hash_value && im->os_hash_algo &&
	    strcmp(im->os_hash_algo, "sha512") == 0 ? im->os_hash_value : "");
	d->size = im->has_size ? im->size : 0;
}

/* The kernel or ramdisk image an image's property names. */
static int
aux_image(struct http_req *req, struct store_txn *txn, const char *what,
    char *id, struct compute_image_data *d)
{
	struct rec_image im;
	int rc;

	if (*id == '\0')
		return 0;
	for (char *p = id; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	memset(&im, 0, sizeof(im));
	rc = image_usable(req, txn, what, id, &im);
	if (rc == 0)
		data_of(&im, d);
	codec_clear(&schema_rec_image, &im);
	return rc;
}

int
compute_servers_image_get(struct http_req *req, struct store_txn *txn, const char *ref,
    struct compute_image *img)
{
	const char *slash = strrchr(ref, '/');
	const char *id = slash ? slash + 1 : ref;
	struct compute_image_data root;
	struct rec_image im;
	int rc = -1;

	memset(img, 0, sizeof(*img));
	memset(&im, 0, sizeof(im));
	if (!jsonreq_uuid_like(id)) {
		err_set(TS_EINVALID, "Invalid imageRef provided.");
		return -1;
	}
	for (size_t i = 0; i <= CODEC_UUID_LEN; i++)
		img->id[i] = (char)tolower((unsigned char)id[i]);
	if (image_usable(req, txn, "Image", img->id, &im) == -1)
		goto out;
	img->min_disk = im.min_disk;
	img->min_ram = im.min_ram;
	data_of(&im, &root);
	memcpy(img->disk_format, root.disk_format, sizeof(img->disk_format));
	memcpy(img->sha512, root.sha512, sizeof(img->sha512));
	img->size = root.size;
	for (size_t k = 0; k < im.properties.n; k++) {
		const char *pk = im.properties.items[k].k;
		const char *pv = im.properties.items[k].v;

		if (strcmp(pk, "kernel_id") == 0 && jsonreq_uuid_like(pv))
			snprintf(img->kernel_id, sizeof(img->kernel_id), "%s",
			    pv);
		else if (strcmp(pk, "ramdisk_id") == 0 && jsonreq_uuid_like(pv))
			snprintf(img->ramdisk_id, sizeof(img->ramdisk_id),
			    "%s", pv);
		else if (strcmp(pk, "os_command_line") == 0 &&
		    strlen(pv) < sizeof(img->cmdline))
			memcpy(img->cmdline, pv, strlen(pv) + 1);
	}
	if (aux_image(req, txn, "Kernel image", img->kernel_id,
	    &img->kernel) == -1 || aux_image(req, txn, "Ramdisk image",
	    img->ramdisk_id, &img->ramdisk) == -1)
		goto out;
	rc = 0;
out:
	codec_clear(&schema_rec_image, &im);
	return rc;
}

/* accessIPv4/v6 as Nova stores them: validated and in canonical form
 * ("::babe:dc0c:1602" for "0:0:0:0:0:babe:220.12.22.2"). "" clears. */
static int
norm_ip(const char *field, int af, const char *in, char *out, size_t len)
{
	unsigned char buf[16];

	if (in == NULL || *in == '\0') {
		out[0] = '\0';
		return 0;
	}
	if (inet_pton(af, in, buf) != 1 ||
	    inet_ntop(af, buf, out, (socklen_t)len) == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: %.64s is not a valid IPv%d address.", field, in,
		    af == AF_INET ? 4 : 6);
		return -1;
	}
	return 0;
}

/* ---- views ---------------------------------------------------------------- */

static const char *
status_of(const struct rec_instance *i)
{
	const char *vm = i->vm_state, *t = i->task_state;

	if (t && strcmp(t, "rebuilding") == 0)
		return "REBUILD";
	/* Nova's state map: resize tasks show RESIZE over active and
	 * stopped; vm_state resized is VERIFY_RESIZE until reverted. */
	if (strcmp(vm, "resized") == 0)
		return t && strcmp(t, "resize_reverting") == 0 ?
		    "REVERT_RESIZE" : "VERIFY_RESIZE";
	if (t && strncmp(t, "resize_", 7) == 0)
		return "RESIZE";
	if (t && strcmp(t, "migrating") == 0)
		return "MIGRATING";
	if (strcmp(vm, VM_ACTIVE) == 0) {
		if (t && strcmp(t, "rebooting") == 0)
			return "REBOOT";
		if (t && strcmp(t, "rebooting_hard") == 0)
			return "HARD_REBOOT";
		return "ACTIVE";
	}
	if (strcmp(vm, VM_BUILDING) == 0)
		return "BUILD";
	if (strcmp(vm, VM_STOPPED) == 0)
		return "SHUTOFF";
	if (strcmp(vm, VM_PAUSED) == 0)
		return "PAUSED";
	if (strcmp(vm, VM_SUSPENDED) == 0)
		return "SUSPENDED";
	if (strcmp(vm, VM_ERROR) == 0)
		return "ERROR";
	if (strcmp(vm, "deleted") == 0)
		return "DELETED";
	if (strcmp(vm, VM_SHELVED) == 0)
		return "SHELVED";
	if (strcmp(vm, VM_SHELVED_OFFLOADED) == 0)
		return "SHELVED_OFFLOADED";
	return "UNKNOWN";
}

/* Nova's hostId: opaque per (project, host), so tenants can tell whether
 * two of their servers share a host without learning host names. */
static void
host_id(const struct rec_instance *i, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;

	out[0] = '\0';
	if (i->host == NULL || *i->host == '\0')
		return;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)i->project_id,
	    strlen(i->project_id));
	crypto_hash_sha256_update(&st, (const unsigned char *)i->host,
	    strlen(i->host));
	crypto_hash_sha256_final(&st, h);
	/* 56 hex digits, the length of Nova's sha224. */
	for (int k = 0; k < 28; k++) {
		out[2 * k] = "0123456789abcdef"[h[k] >> 4];
		out[2 * k + 1] = "0123456789abcdef"[h[k] & 0xf];
	}
	out[56] = '\0';
}

static json_t *
strmap_json(const struct ts_strmap *m)
{
	json_t *o = json_object();

	for (size_t k = 0; o && m->items && k < m->n; k++)
		json_object_set_new(o, m->items[k].k,
		    json_string(m->items[k].v));
	return o;
}

enum view { VIEW_BASIC, VIEW_DETAIL };

/* ---- addresses ---------------------------------------------------------- */

/* Both made at the first port: a list walks servers without ports for
 * nothing. */
struct addr_arg {
	json_t		*o;		/* {"<network name>": [...]} */
	const char	*label;		/* only this network; NULL all */
	bool		 want_sgs;
	json_t		*sgs;		/* [{"name"}...] */
};

static int
addr_add(json_t *arr, const char *ip, const char *type, const char *mac)
{
	return json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s}",
	    "addr", ip, "version", strchr(ip, ':') ? 6 : 4,
	    "OS-EXT-IPS:type", type, "OS-EXT-IPS-MAC:mac_addr", mac));
}

static int
addr_cb(const struct network_device_port *p, void *arg)
{
	struct addr_arg *aa = arg;
	json_t *arr;

	if ((aa->o == NULL && (aa->o = json_object()) == NULL) ||
	    (aa->want_sgs && aa->sgs == NULL &&
	    (aa->sgs = json_array()) == NULL))
		goto nomem;
	/* Nova's get_instances_security_groups_bindings(): one entry per
	 * group of each port, not merged (two ports in "default" show it
	 * twice, as Nova does). */
	for (size_t k = 0; aa->want_sgs && k < p->nsecgroups; k++)
		if (json_array_append_new(aa->sgs, json_pack("{s:s}", "name",
		    p->secgroup_names[k])) == -1)
			goto nomem;
	if (aa->label != NULL && strcmp(aa->label, p->network_name) != 0)
		return 0;
	if ((arr = json_object_get(aa->o, p->network_name)) == NULL) {
		arr = json_array();
		if (json_object_set_new(aa->o, p->network_name, arr) == -1)
			goto nomem;
	}
	/* Nova lists a fixed address, then the floating one NATed to it. */
	for (size_t k = 0; k < p->nips; k++)
		if (addr_add(arr, p->ips[k], "fixed", p->mac) == -1 ||
		    (p->floating_ips != NULL && p->floating_ips[k] != NULL &&
		    addr_add(arr, p->floating_ips[k], "floating",
		    p->mac) == -1))
			goto nomem;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

/* Nova's addresses of a server from the ports of its device, read in txn:
 * one list per network name (label NULL) or of that one network, into
 * *o; want_sgs: the ports' security groups as Nova's security_groups into
 * *sgs. Both owned by the caller, NULL when the server has no port. */
static int
addresses_walk(struct compute *svc, struct store_txn *txn, const char *uuid,
    const char *label, bool want_sgs, json_t **o, json_t **sgs)
{
	struct addr_arg aa = { NULL, label, want_sgs, NULL };

	*o = NULL;
	if (sgs != NULL)
		*sgs = NULL;
	if (svc->net != NULL && network_port_each_device(txn, uuid, addr_cb,
	    &aa) == -1) {
		json_decref(aa.o);
		json_decref(aa.sgs);
		return -1;
	}
	*o = aa.o;
	if (sgs != NULL)
		*sgs = aa.sgs;
	return 0;
}

/* The same, {} and (sgs not NULL) [] for none. */
static json_t *
addresses_json(struct compute *svc, struct store_txn *txn, const char *uuid,
    const char *label, json_t **sgs)
{
	json_t *o;

	if (addresses_walk(svc, txn, uuid, label, sgs != NULL, &o, sgs) == -1)
		return NULL;
	if (o == NULL)
		o = json_object();
	if (sgs != NULL && *sgs == NULL)
		*sgs = json_array();
	if (o == NULL || (sgs != NULL && *sgs == NULL)) {
		err_set(TS_ENOMEM, "out of memory");
		json_decref(o);
		if (sgs != NULL) {
			json_decref(*sgs);
			*sgs = NULL;
		}
		return NULL;
	}
	return o;
}

/* Nova's addresses without the OS-EXT-IPS extension (what /ips and the
 * basic view of an update or rebuild answer): a, changed in place. */
static json_t *
addresses_basic(json_t *a)
{
	const char *net;
	json_t *list, *e;
	size_t k;

	json_object_foreach(a, net, list) {
		json_array_foreach(list, k, e) {
			json_object_del(e, "OS-EXT-IPS:type");
			json_object_del(e, "OS-EXT-IPS-MAC:mac_addr");
		}
	}
	return a;
}

/* The same in a read transaction of its own (a reply built after a
 * write); {} (and sgs []) when it cannot be read (logged): the reply
 * still goes. */
static json_t *
addresses_read(struct http_req *req, const char *uuid, json_t **sgs)
{
	struct store_txn *txn = NULL;
	json_t *o = NULL;

	if (compute_read(req, &txn) == 0)
		o = addresses_json(compute_of(req), txn, uuid, NULL, sgs);
	store_txn_end(&txn);
	if (o == NULL) {
		log_warnx("instance %s: addresses: %s", uuid, err_msg());
		o = json_object();
		if (sgs != NULL)
			*sgs = json_array();
	}
	return o;
}

/* Nova's description at 2.19: a string of up to 255 characters or null,
 * printable (valid_description_regex: no control characters). */
static int
description_get(json_t *o, const char **out, bool *present)
{
	if (jsonreq_str(JSONREQ_NOVA, o, "description", 0, 255,
	    JSONREQ_NULLABLE, out, present) == -1)
		return -1;
	for (const unsigned char *p = (const unsigned char *)*out; p && *p;
	    p++)
		if (*p < 0x20 || *p == 0x7f)
			return jsonreq_fail(JSONREQ_NOVA, "description",
			    "is not a valid description");
	return 0;
}

static bool
host_status_allowed(struct http_req *req, const struct rec_instance *i)
{
	struct request_target t = { .n = 0 };

	return request_target_add(&t, "project_id", i->project_id) == 0 &&
	    request_allowed(req, "os_compute_api:servers:show:host_status", &t);
}

static bool
host_up(struct http_req *req, const struct rec_instance *i)
{
	return i->host != NULL && scheduler_host_up(compute_of(req)->sched, i->host);
}

/* A host of the page (hostId by project and host; render_slot()). */
struct render_host {
	char	 project[256], host[256], hid[65];
	/* the scheduler's answers for host, asked at its first server
	 * of the page (sched_known): a page shows each host as it was
	 * then, without two locked look-ups a server */
	bool	 sched_known, up;
	char	 az[SCHEDULER_NAME_MAX + 1];
};

/*
 * The server view is written as JSON text (http/jsonout.h) by this one
 * writer for the show, every list entry and (parsed back) the update and
 * rebuild replies, so they cannot drift apart. Built as jansson objects a
 * 1,000-server detail page cost about 41 us of CPU a server; the members,
 * their order and number forms are the jansson view's (json_pack's order;
 * a member whose jansson value could not be made, e.g. a NULL string, is
 * left out as it was).
 *
 * struct render holds what every server of one request shares: computed
 * once per request, not once per server.
 */
struct render {
	struct http_req	*req;
	int		 mv;
	bool		 admin;
	/* compute_url()'s "<base>/v2.1[/<project>]/" and its bookmark */
	char		 self[1024], book[1024];
	/* the same escaped for a JSON string (jsonout_chars()), once per
	 * request; esc_ok false: links_w() escapes each href whole, and
	 * fails as it did */
	struct buf	 self_esc, book_esc;
	size_t		 pre_max;	/* the longer prefix's length */
	bool		 esc_ok;
	/* host_status policy of the last project asked (a page is mostly
	 * one project's): -1 not asked */
	char		 hs_project[256];
	int		 hs_allowed;
	/* hostIds and the scheduler's answers by host (a page's servers
	 * share a project and a few hosts): direct-mapped, HID_SLOTS
	 * pointers, each slot made at its first host (a page of few hosts
	 * allocates little); all owned, NULL: none */
	struct render_host **hids;
};

#define HID_SLOTS	256

static void
render_init(struct render *v, struct http_req *req, int mv, bool admin)
{
	v->req = req;
	v->mv = mv;
	v->admin = admin;
	if (compute_url(req, false, v->self, sizeof(v->self), "%s", "") == -1)
		v->self[0] = '\0';
	if (compute_url(req, true, v->book, sizeof(v->book), "%s", "") == -1)
		v->book[0] = '\0';
	v->hs_allowed = -1;
	v->hids = NULL;
	memset(&v->self_esc, 0, sizeof(v->self_esc));
	memset(&v->book_esc, 0, sizeof(v->book_esc));
	v->esc_ok = jsonout_chars(&v->self_esc, v->self) == 0 &&
	    jsonout_chars(&v->book_esc, v->book) == 0 &&
	    v->self_esc.data != NULL && v->book_esc.data != NULL;
	v->pre_max = strlen(v->self) > strlen(v->book) ? strlen(v->self) :
	    strlen(v->book);
}

static void
render_free(struct render *v)
{
	for (size_t k = 0; v->hids != NULL && k < HID_SLOTS; k++)
		free(v->hids[k]);
	free(v->hids);
	v->hids = NULL;
	buf_free(&v->self_esc);
	buf_free(&v->book_esc);
}

/* b += the string literal s (its length known at compile time). */
#define PUTL(b, s)	buf_append((b), "" s, sizeof("" s) - 1)

/* [{"rel":"self","href":...},{"rel":"bookmark","href":...}] */
static void
links_w(struct buf *b, const struct render *v, const char *coll, const char *id)
{
	char href[2400];

	/* The prefixes escaped once (render_init()); the href's other
	 * pieces are valid UTF-8 alone or the whole is not (the prefix
	 * ends in '/'), so piecewise is the same text. An href too long for
	 * href[] is cut below as it always was. */
	if (v->esc_ok && v->pre_max + strlen(coll) + 1 + strlen(id) <
	    sizeof(href)) {
		PUTL(b, "[{\"rel\":\"self\",\"href\":\"");
		buf_append(b, v->self_esc.data, v->self_esc.len);
		buf_puts(b, coll);
		PUTL(b, "/");
		jsonout_chars(b, id);
		PUTL(b, "\"},{\"rel\":\"bookmark\",\"href\":\"");
		buf_append(b, v->book_esc.data, v->book_esc.len);
		buf_puts(b, coll);
		PUTL(b, "/");
		jsonout_chars(b, id);
		PUTL(b, "\"}]");
		return;
	}
	PUTL(b, "[{\"rel\":\"self\",\"href\":");
	snprintf(href, sizeof(href), "%s%s/%s", v->self, coll, id);
	jsonout_str(b, href);
	PUTL(b, "},{\"rel\":\"bookmark\",\"href\":");
	snprintf(href, sizeof(href), "%s%s/%s", v->book, coll, id);
	jsonout_str(b, href);
	PUTL(b, "}]");
}

/* {"id":...,"links":[...]} */
static void
ref_w(struct buf *b, const struct render *v, const char *coll, const char *id)
{
	PUTL(b, "{\"id\":");
	jsonout_str(b, id);
	PUTL(b, ",\"links\":");
	links_w(b, v, coll, id);
	PUTL(b, "}");
}

/* ,"key":"s" (key a plain literal); nothing when s is NULL, as
 * json_object_set_new(o, key, json_string(NULL)) left it out. */
static void
member_str(struct buf *b, const char *key, const char *s)
{
	if (s == NULL)
		return;
	PUTL(b, ",");
	jsonout_key(b, key);
	jsonout_str(b, s);
}

/* ,"key":"s" or ,"key":null */
static void
member_str_or_null(struct buf *b, const char *key, const char *s)
{
	PUTL(b, ",");
	jsonout_key(b, key);
	jsonout_str_or_null(b, s);
}

static void
member_int(struct buf *b, const char *key, int64_t v)
{
	PUTL(b, ",");
	jsonout_key(b, key);
	jsonout_int(b, v);
}

/* compute_time_or_null(ms, 1) */
static void
member_time_usec(struct buf *b, const char *key, int64_t ms)
{
	char t[32];

	if (ms == 0) {
		member_str_or_null(b, key, NULL);
		return;
	}
	compute_time_usec(ms, t);
	member_str(b, key, t);
}

/* A jansson value (addresses, security groups: built per port) as its
 * compact text. */
static int
dump_cb(const char *p, size_t n, void *arg)
{
	return buf_append(arg, p, n);
}

static void
json_w(struct buf *b, const json_t *j)
{
	if (json_dump_callback(j, dump_cb, b, JSON_COMPACT) == -1)
		b->failed = true;
}

static void
strmap_w(struct buf *b, const struct ts_strmap *m)
{
	PUTL(b, "{");
	for (size_t k = 0; m->items && k < m->n; k++) {
		if (k > 0)
			PUTL(b, ",");
		jsonout_str(b, m->items[k].k);
		PUTL(b, ":");
		jsonout_str(b, m->items[k].v);
	}
	PUTL(b, "}");
}

/* The slot of (i's project, i's host) with its hostId, filled on a miss;
 * NULL when not cached (no host, no memory, names too long). */
static struct render_host *
render_slot(struct render *v, const struct rec_instance *i)
{
	struct render_host **hp;
	size_t hl, pl;

	if (i->host == NULL || *i->host == '\0')
		return NULL;
	if (v->hids == NULL && (v->hids = calloc(HID_SLOTS,
	    sizeof(*v->hids))) == NULL)
		return NULL;
	hp = &v->hids[hash_fnv32(i->host) % HID_SLOTS];
	if (*hp != NULL && strcmp((*hp)->host, i->host) == 0 &&
	    strcmp((*hp)->project, i->project_id) == 0)
		return *hp;
	hl = strlen(i->host);
	pl = strlen(i->project_id);
	if (hl >= sizeof((*hp)->host) || pl >= sizeof((*hp)->project) ||
	    (*hp == NULL && (*hp = malloc(sizeof(**hp))) == NULL))
		return NULL;
	host_id(i, (*hp)->hid);
	memcpy((*hp)->host, i->host, hl + 1);
	memcpy((*hp)->project, i->project_id, pl + 1);
	(*hp)->sched_known = false;
	return *hp;
}

static const char *
render_host_id(struct render *v, const struct rec_instance *i,
    char out[65])
{
	struct render_host *h;

	if (i->host == NULL || *i->host == '\0')
		return "";
	if ((h = render_slot(v, i)) != NULL)
		return h->hid;
	host_id(i, out);	/* not cached: computed each time */
	return out;
}

/* The scheduler's up and zone for i's host (which i has), asked once a
 * host per page; NULL when not cached. */
static struct render_host *
render_sched(struct render *v, const struct rec_instance *i)
{
	struct sched *s = compute_of(v->req)->sched;
	struct render_host *h;

	if ((h = render_slot(v, i)) == NULL)
		return NULL;
	if (!h->sched_known) {
		h->up = scheduler_host_up(s, i->host);
		scheduler_host_az(s, i->host, h->az);
		h->sched_known = true;
	}
	return h;
}

/* host_up() through the page's cache */
static bool
render_host_up(struct render *v, const struct rec_instance *i)
{
	struct render_host *h;

	if (i->host == NULL || *i->host == '\0' ||
	    (h = render_sched(v, i)) == NULL)
		return host_up(v->req, i);
	return h->up;
}

static bool
render_host_status_allowed(struct render *v, const struct rec_instance *i)
{
	bool ok;

	if (v->hs_allowed != -1 && strcmp(v->hs_project, i->project_id) == 0)
		return v->hs_allowed == 1;
	ok = host_status_allowed(v->req, i);
	if (strlen(i->project_id) < sizeof(v->hs_project)) {
		memcpy(v->hs_project, i->project_id,
		    strlen(i->project_id) + 1);
		v->hs_allowed = ok ? 1 : 0;
	}
	return ok;
}

/* The server object at microversion 2.mv into b. VIEW_BASIC: what PUT
 * returns (no OS-EXT-*). addrs: its addresses (NULL: {}); sgs: its
 * security groups, the member only when there are some (Nova's
 * _add_security_grps()); both borrowed. */
static void
server_w(struct buf *b, struct render *v, const struct rec_instance *i,
    enum view view, bool host_up, const json_t *addrs, const json_t *sgs)
{
	struct http_req *req = v->req;
	const char *status = status_of(i);
	char t[32], hid[65];
	int mv = v->mv;

	PUTL(b, "{\"id\":");
	jsonout_str(b, i->uuid);
	PUTL(b, ",\"name\":");
	jsonout_str(b, i->name);
	PUTL(b, ",\"status\":");
	jsonout_str(b, status);
	PUTL(b, ",\"tenant_id\":");
	jsonout_str(b, i->project_id);
	PUTL(b, ",\"user_id\":");
	jsonout_str(b, i->user_id);
	PUTL(b, ",\"metadata\":");
	strmap_w(b, &i->metadata);
	PUTL(b, ",\"hostId\":");
	jsonout_str(b, render_host_id(v, i, hid));
	PUTL(b, ",\"image\":");
	if (i->image_ref && *i->image_ref)
		ref_w(b, v, "images", i->image_ref);
	else
		PUTL(b, "\"\"");
	PUTL(b, ",\"flavor\":");
	ref_w(b, v, "flavors", i->flavor.id);
	compute_time(i->created_at, t);
	PUTL(b, ",\"created\":");
	jsonout_str(b, t);
	compute_time(i->updated_at ? i->updated_at : i->created_at, t);
	PUTL(b, ",\"updated\":");
	jsonout_str(b, t);
	PUTL(b, ",\"addresses\":");
	if (addrs != NULL)
		json_w(b, addrs);
	else
		PUTL(b, "{}");
	PUTL(b, ",\"accessIPv4\":");
	jsonout_str(b, i->access_ipv4 ? i->access_ipv4 : "");
	PUTL(b, ",\"accessIPv6\":");
	jsonout_str(b, i->access_ipv6 ? i->access_ipv6 : "");
	PUTL(b, ",\"links\":");
	links_w(b, v, "servers", i->uuid);
	PUTL(b, ",\"OS-DCF:diskConfig\":\"MANUAL\"");
	/* Nova shows progress only while it means something. */
	if (strcmp(status, "ACTIVE") == 0 || strcmp(status, "BUILD") == 0 ||
	    strcmp(status, "REBUILD") == 0)
		member_int(b, "progress", strcmp(i->vm_state, VM_ACTIVE) == 0 &&
		    i->task_state == NULL ? 100 : 0);
	if (i->has_fault && strcmp(i->vm_state, VM_ERROR) == 0 &&
	    i->fault.message != NULL) {
		compute_time(i->fault.created, t);
		PUTL(b, ",\"fault\":{\"code\":");
		jsonout_int(b, (int)i->fault.code);
		PUTL(b, ",\"created\":");
		jsonout_str(b, t);
		PUTL(b, ",\"message\":");
		jsonout_str(b, i->fault.message);
		if (v->admin)
			member_str(b, "details", i->fault.details);
		PUTL(b, "}");
	}
	if (request_mv_has(mv, MV_LOCKED))
		buf_puts(b, i->locked ? ",\"locked\":true" :
		    ",\"locked\":false");
	if (request_mv_has(mv, MV_DESCRIPTION))
		member_str_or_null(b, "description", i->description);
	if (request_mv_has(mv, MV_SERVER_TAGS)) {
		PUTL(b, ",\"tags\":[");
		for (size_t k = 0; k < i->tags.n; k++) {
			if (k > 0)
				PUTL(b, ",");
			jsonout_str(b, i->tags.items[k]);
		}
		PUTL(b, "]");
	}
	if (view == VIEW_BASIC) {
		PUTL(b, "}");
		return;
	}
	member_str_or_null(b, "key_name", i->key_name);
	member_time_usec(b, "OS-SRV-USG:launched_at", i->launched_at);
	member_time_usec(b, "OS-SRV-USG:terminated_at", i->terminated_at);
	/* Nova's get_instance_availability_zone(): a placed server is in
	 * its host's zone, which follows the host's aggregates. */
	if (i->host && *i->host) {
		char az[SCHEDULER_NAME_MAX + 1];
		struct render_host *h = render_sched(v, i);

		if (h == NULL)
			scheduler_host_az(compute_of(req)->sched, i->host, az);
		member_str(b, "OS-EXT-AZ:availability_zone", h ? h->az : az);
	} else {
		member_str(b, "OS-EXT-AZ:availability_zone",
		    i->availability_zone);
	}
	member_str_or_null(b, "OS-EXT-STS:task_state", i->task_state);
	member_str(b, "OS-EXT-STS:vm_state", i->vm_state);
	/* A host that is down cannot vouch for its guests. */
	member_int(b, "OS-EXT-STS:power_state", host_up ?
	    (int64_t)i->power_state : POWER_NOSTATE);
	PUTL(b, ",\"os-extended-volumes:volumes_attached\":[");
	for (size_t k = 0; k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];

		buf_puts(b, k > 0 ? ",{\"id\":" : "{\"id\":");
		jsonout_str(b, iv->volume_id);
		/* delete_on_termination from 2.3 */
		if (request_mv_has(mv, MV_EXTENDED_ATTRS))
			buf_puts(b, iv->delete_on_termination ?
			    ",\"delete_on_termination\":true" :
			    ",\"delete_on_termination\":false");
		PUTL(b, "}");
	}
	PUTL(b, "],\"config_drive\":\"\"");
	/* Nova's "" for a server with no host; the policy, on the server's
	 * project, decides who sees it. */
	if (request_mv_has(mv, MV_HOST_STATUS) &&
	    render_host_status_allowed(v, i))
		member_str(b, "host_status", i->host && *i->host ?
		    scheduler_host_status(compute_of(req)->sched, i->host) :
		    "");
	if (v->admin) {
		PUTL(b, ",\"OS-EXT-SRV-ATTR:host\":");
		jsonout_str_or_null(b, i->host);
		PUTL(b, ",\"OS-EXT-SRV-ATTR:hypervisor_hostname\":");
		jsonout_str_or_null(b, i->host);
		/* "instance-<uuid>" (uuid[] fits, no snprintf a server) */
		PUTL(b, ",\"OS-EXT-SRV-ATTR:instance_name\":\"instance-");
		jsonout_chars(b, i->uuid);
		PUTL(b, "\"");
	}
	if (v->admin && request_mv_has(mv, MV_EXTENDED_ATTRS)) {
		char *ud = NULL;

		if (i->user_data.ptr) {
			size_t n = sodium_base64_ENCODED_LEN(i->user_data.len,
			    sodium_base64_VARIANT_ORIGINAL);

			if ((ud = malloc(n)) != NULL)
				sodium_bin2base64(ud, n, i->user_data.ptr,
				    i->user_data.len,
				    sodium_base64_VARIANT_ORIGINAL);
		}
		member_str(b, "OS-EXT-SRV-ATTR:reservation_id",
		    i->reservation_id);
		member_int(b, "OS-EXT-SRV-ATTR:launch_index", i->launch_index);
		member_str(b, "OS-EXT-SRV-ATTR:hostname", i->hostname);
		member_str(b, "OS-EXT-SRV-ATTR:kernel_id",
		    i->kernel_id ? i->kernel_id : "");
		member_str(b, "OS-EXT-SRV-ATTR:ramdisk_id",
		    i->ramdisk_id ? i->ramdisk_id : "");
		buf_puts(b, ",\"OS-EXT-SRV-ATTR:root_device_name\":"
		    "\"/dev/vda\"");
		member_str_or_null(b, "OS-EXT-SRV-ATTR:user_data", ud);
		free(ud);
	}
	if (sgs != NULL && json_array_size(sgs) > 0) {
		PUTL(b, ",\"security_groups\":");
		json_w(b, sgs);
	}
	PUTL(b, "}");
}

/* The same as a jansson object (replies that add members: an update's,
 * a rebuild's). addrs is taken (NULL: {}). */
static json_t *
server_json(struct http_req *req, const struct rec_instance *i,
    enum view view, bool admin, bool host_up, int mv, json_t *addrs)
{
	struct render v;
	struct buf b = { 0 };
	json_t *o = NULL;

	render_init(&v, req, mv, admin);
	server_w(&b, &v, i, view, host_up, addrs, NULL);
	render_free(&v);
	json_decref(addrs);
	if (b.failed)
		log_warnx("instance %s: view: %s", i->uuid, err_msg());
	else if ((o = json_loadb((const char *)b.data, b.len, 0, NULL)) ==
	    NULL)
		err_set(TS_EINTERNAL, "server view does not parse");
	buf_free(&b);
	return o;
}

/* ---- look-ups --------------------------------------------------------------- */

/* The instance of {server_id}, which the caller may act on under rule. */
static int
load(struct http_req *req, const char *rule, struct rec_instance *i)
{
	struct store_txn *txn = NULL;
	int rc;

	memset(i, 0, sizeof(*i));
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, i);
	store_txn_end(&txn);
	return rc;
}

int
compute_servers_show(struct http_req *req, struct http_resp *resp)
{
	struct rec_instance i;
	struct render v;
	struct buf b = { 0 };
	json_t *a, *sgs;
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    load(req, "os_compute_api:servers:show", &i) == -1)
		return -1;
	a = addresses_read(req, i.uuid, &sgs);
	render_init(&v, req, mv, compute_is_admin(req));
	buf_puts(&b, "{\"server\":");
	server_w(&b, &v, &i, VIEW_DETAIL, host_up(req, &i), a, sgs);
	buf_puts(&b, "}");
	render_free(&v);
	json_decref(a);
	json_decref(sgs);
	codec_clear(&schema_rec_instance, &i);
	return http_resp_buf(resp, 200, "application/json", &b);
}

/* ---- list ------------------------------------------------------------------- */

/*
 * A list walks instances_by_created (compute_db.h) newest first, from the
 * marker on, and renders each match as it comes; it stops one match after
 * a full page (to know whether a next page exists). Without a selective
 * filter a page of N costs about N + 1 record reads, whatever the size of
 * the project or of the cloud.
 */
/*
 * Nova's status filter (nova/api/openstack/common.py, _STATE_MAP and
 * task_and_vm_state_from_status): every status asked for names the
 * (vm_state, task_state) pairs that show it; the filter is vm_state IN
 * (their vm_states) AND task_state IN (their task states), the latter
 * dropped when one of the pairs is a vm_state's default (task NULL here).
 * So status=ACTIVE also lists a rebooting server, as Nova's does.
 */
static const struct {
	const char	*vm, *task, *status;
} state_map[] = {
	{ "active", NULL, "ACTIVE" },
	{ "active", "rebooting", "REBOOT" },
	{ "active", "reboot_pending", "REBOOT" },
	{ "active", "reboot_started", "REBOOT" },
	{ "active", "rebooting_hard", "HARD_REBOOT" },
	{ "active", "reboot_pending_hard", "HARD_REBOOT" },
	{ "active", "reboot_started_hard", "HARD_REBOOT" },
	{ "active", "updating_password", "PASSWORD" },
	{ "active", "rebuilding", "REBUILD" },
	{ "active", "rebuild_block_device_mapping", "REBUILD" },
	{ "active", "rebuild_spawning", "REBUILD" },
	{ "active", "migrating", "MIGRATING" },
	{ "active", "resize_prep", "RESIZE" },
	{ "active", "resize_migrating", "RESIZE" },
	{ "active", "resize_migrated", "RESIZE" },
	{ "active", "resize_finish", "RESIZE" },
	{ "building", NULL, "BUILD" },
	{ "stopped", NULL, "SHUTOFF" },
	{ "stopped", "resize_prep", "RESIZE" },
	{ "stopped", "resize_migrating", "RESIZE" },
	{ "stopped", "resize_migrated", "RESIZE" },
	{ "stopped", "resize_finish", "RESIZE" },
	{ "stopped", "rebuilding", "REBUILD" },
	{ "stopped", "rebuild_block_device_mapping", "REBUILD" },
	{ "stopped", "rebuild_spawning", "REBUILD" },
	{ "resized", NULL, "VERIFY_RESIZE" },
	{ "resized", "resize_reverting", "REVERT_RESIZE" },
	{ "paused", NULL, "PAUSED" },
	{ "paused", "migrating", "MIGRATING" },
	{ "suspended", NULL, "SUSPENDED" },
	{ "rescued", NULL, "RESCUE" },
	{ "error", NULL, "ERROR" },
	{ "error", "rebuilding", "REBUILD" },
	{ "error", "rebuild_block_device_mapping", "REBUILD" },
	{ "error", "rebuild_spawning", "REBUILD" },
	{ "deleted", NULL, "DELETED" },
	{ "soft-delete", NULL, "SOFT_DELETED" },
	{ "shelved", NULL, "SHELVED" },
	{ "shelved_offloaded", NULL, "SHELVED_OFFLOADED" },
};
#define STATE_MAP_N	(sizeof(state_map) / sizeof(state_map[0]))

/* The status filter of a list: distinct vm_states and task states. */
struct status_filter {
	bool		 given;
	const char	*vms[STATE_MAP_N];
	const char	*tasks[STATE_MAP_N];
	size_t		 nvm, ntasks;
	bool		 any_task;	/* a default among the pairs */
};

static void
add_once(const char **v, size_t *n, const char *s)
{
	for (size_t k = 0; k < *n; k++)
		if (strcmp(v[k], s) == 0)
			return;
	v[(*n)++] = s;
}

/* Every status= value (repeatable), as Nova maps them. */
static void
status_filter_read(struct http_req *req, struct status_filter *f)
{
	const char *q;
	size_t it = 0;

	memset(f, 0, sizeof(*f));
	while ((q = http_req_query_next(req, "status", &it)) != NULL) {
		f->given = true;
		for (size_t k = 0; k < STATE_MAP_N; k++) {
			if (strcasecmp(state_map[k].status, q) != 0)
				continue;
			add_once(f->vms, &f->nvm, state_map[k].vm);
			if (state_map[k].task == NULL)
				f->any_task = true;
			else
				add_once(f->tasks, &f->ntasks,
				    state_map[k].task);
		}
	}
}

static bool
status_matches(const struct status_filter *f, const struct rec_instance *i)
{
	bool vm = false, task = f->any_task;

	for (size_t k = 0; !vm && k < f->nvm; k++)
		vm = strcmp(i->vm_state, f->vms[k]) == 0;
	for (size_t k = 0; !task && i->task_state && k < f->ntasks; k++)
		task = strcmp(i->task_state, f->tasks[k]) == 0;
	return vm && task;
}

struct list {
	struct http_req		*req;
	struct store_txn	*txn;		/* of the walk */
	bool			 detail, admin, has_limit;
	struct status_filter	 status;
	const char		*host, *flavor, *image, *project;
	/* 2.26's comma-separated tag filters; NULL: none. */
	const char		*tags, *tags_any, *not_tags, *not_tags_any;
	regex_t			 name_re;
	bool			 has_name;
	/* ip, ip6: Python's re.match on the fixed addresses, as Nova's
	 * _ip_filter (anchored at the start only). */
	regex_t			 ip_re, ip6_re;
	bool			 has_ip, has_ip6;
	int64_t			 since;
	struct render		 view;
	struct buf		 page;		/* {"servers":[... so far */
	size_t			 limit, n;
	char			 last[CODEC_UUID_LEN + 1];	/* of the page */
	bool			 more;		/* a match after the page */
};

static bool
re_match_start(const regex_t *re, const char *s)
{
	regmatch_t m;

	return regexec(re, s, 1, &m, 0) == 0 && m.rm_so == 0;
}

struct ip_arg {
	const struct list	*l;
	bool			 hit;
};

static int
ip_cb(const struct network_device_port *p, void *arg)
{
	struct ip_arg *ia = arg;
	const struct list *l = ia->l;

	for (size_t k = 0; k < p->nips; k++) {
		bool v6 = strchr(p->ips[k], ':') != NULL;

		if (v6 ? l->has_ip6 && re_match_start(&l->ip6_re, p->ips[k]) :
		    l->has_ip && re_match_start(&l->ip_re, p->ips[k])) {
			ia->hit = true;
			return 1;
		}
	}
	return 0;
}

/* Whether a fixed address of instance uuid passes the ip or ip6 filter.
 * A failed read counts as no match (logged): a list is not refused for
 * it. */
static bool
ip_matches(const struct list *l, const char *uuid)
{
	struct ip_arg ia = { l, false };

	if (compute_of(l->req)->net == NULL)
		return false;
	if (network_port_each_device(l->txn, uuid, ip_cb, &ia) == -1)
		log_warnx("instance %s: ip filter: %s", uuid, err_msg());
	return ia.hit;
}

/* How many of the comma-separated tags in csv i has, and how many there
 * are (empty items skipped). */
static void
tags_count(const struct rec_instance *i, const char *csv, size_t *has,
    size_t *n)
{
	char t[256];

	*has = *n = 0;
	while (*csv) {
		size_t len = strcspn(csv, ",");

		if (len > 0 && len < sizeof(t)) {
			memcpy(t, csv, len);
			t[len] = '\0';
			(*n)++;
			if (compute_tag_has(i, t))
				(*has)++;
		} else if (len > 0) {
			(*n)++;		/* too long to be anyone's tag */
		}
		csv += len;
		if (*csv == ',')
			csv++;
	}
}

/* Nova's tags, tags-any, not-tags, not-tags-any filters. */
static bool
tags_match(const struct list *l, const struct rec_instance *i)
{
	size_t has, n;

	if (l->tags) {
		tags_count(i, l->tags, &has, &n);
		if (has < n)
			return false;
	}
	if (l->tags_any) {
		tags_count(i, l->tags_any, &has, &n);
		if (has == 0)
			return false;
	}
	if (l->not_tags) {
		tags_count(i, l->not_tags, &has, &n);
		if (n > 0 && has == n)
			return false;
	}
	if (l->not_tags_any) {
		tags_count(i, l->not_tags_any, &has, &n);
		if (has > 0)
			return false;
	}
	return true;
}

static bool
list_matches(const struct list *l, const struct rec_instance *i)
{
	if (!tags_match(l, i))
		return false;
	if (l->status.given && !status_matches(&l->status, i))
		return false;
	if (l->host && (i->host == NULL || strcmp(i->host, l->host) != 0))
		return false;
	if (l->flavor && strcmp(i->flavor.id, l->flavor) != 0)
		return false;
	if (l->image) {
		const char *s = strrchr(l->image, '/');

		if (strcmp(i->image_ref, s ? s + 1 : l->image) != 0)
			return false;
	}
	if (l->project && strcmp(i->project_id, l->project) != 0)
		return false;
	if (l->since && (i->updated_at ? i->updated_at : i->created_at) <
	    l->since)
		return false;
	if (l->has_name && regexec(&l->name_re, i->name, 0, NULL, 0) != 0)
		return false;
	if ((l->has_ip || l->has_ip6) && !ip_matches(l, i->uuid))
		return false;
	return true;
}

static int
list_cb(const struct rec_instance *i, void *arg)
{
	struct list *l = arg;

	if (!list_matches(l, i))
		return 0;
	if (l->n == l->limit) {
		l->more = true;
		return 1;
	}
	if (l->n > 0)
		PUTL(&l->page, ",");
	if (l->detail) {
		json_t *a, *sgs;

		if (addresses_walk(compute_of(l->req), l->txn, i->uuid, NULL,
		    true, &a, &sgs) == -1)
			return -1;
		server_w(&l->page, &l->view, i, VIEW_DETAIL,
		    render_host_up(&l->view, i), a, sgs);
		json_decref(a);
		json_decref(sgs);
	} else {
		PUTL(&l->page, "{\"id\":");
		jsonout_str(&l->page, i->uuid);
		PUTL(&l->page, ",\"name\":");
		jsonout_str(&l->page, i->name);
		PUTL(&l->page, ",\"links\":");
		links_w(&l->page, &l->view, "servers", i->uuid);
		PUTL(&l->page, "}");
	}
	if (l->page.failed)
		return -1;
	memcpy(l->last, i->uuid, sizeof(l->last));
	l->n++;
	/* Without a limit there is no next link to decide. */
	return !l->has_limit && l->n == l->limit ? 1 : 0;
}

/* The sorted list's walk: every server of the scope that passes. */
struct sorting {
	struct list			*l;
	struct compute_sort_rows	*rows;
};

static int
sort_cb(const struct rec_instance *i, void *arg)
{
	struct sorting *so = arg;

	if (!list_matches(so->l, i))
		return 0;
	return compute_sort_rows_add(so->rows, i);
}

/*
 * A page in another order than the walk's: the keys of every server that
 * passes (in scope, filtered), sorted; the page after the marker's place
 * read again and rendered by list_cb() as the walk would.
 */
static int
sorted_page(struct list *l, const struct compute_sort *sort,
    const char *scope, const struct rec_instance *marker)
{
	struct sorting so = { .l = l };
	size_t k, n;
	int rc = -1;

	if ((so.rows = compute_sort_rows_new(sort)) == NULL)
		return -1;
	if ((l->status.given ? compute_db_instance_each_state(l->txn, scope,
	    l->status.vms, l->status.nvm, l->status.any_task ? NULL :
	    l->status.tasks, l->status.ntasks, NULL, sort_cb, &so) :
	    compute_db_instance_each_newest(l->txn, scope, NULL, sort_cb,
	    &so)) == -1)
		goto out;
	compute_sort_rows_sort(so.rows);
	k = 0;
	if (marker != NULL &&
	    compute_sort_rows_after(so.rows, marker, &k) == -1)
		goto out;
	for (n = compute_sort_rows_count(so.rows); k < n; k++) {
		struct rec_instance i;
		int r;

		/* The same read transaction: it is there. */
		if (compute_db_instance_get(l->txn,
		    compute_sort_rows_uuid(so.rows, k), &i) == -1)
			goto out;
		r = list_cb(&i, l);
		codec_clear(&schema_rec_instance, &i);
		if (r == -1)
			goto out;
		if (r == 1)
			break;
	}
	rc = 0;
out:
	compute_sort_rows_free(&so.rows);
	return rc;
}

/*
 * glibc compiles a bounded repetition by copying its operand, so nested
 * counts multiply: "((a{255}){255}){255}" asks regcomp() for 16 million
 * nodes, seconds of CPU and gigabytes from one GET. Server names are at
 * most 255 characters, so is a filter; and the product of every {m,n}
 * bound in it (an over-estimate of the nesting) stays small.
 */
static bool
name_re_too_big(const char *re)
{
	unsigned long product = 1, n, m;
	const char *p;
	char *end;

	if (strlen(re) > NAME_RE_MAX)
		return true;
	for (p = re; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		/* {m}, {m,}, {m,n} and glibc's {,n} */
		if (*p != '{' || !(isdigit((unsigned char)p[1]) ||
		    (p[1] == ',' && isdigit((unsigned char)p[2]))))
			continue;
		n = strtoul(p + 1, &end, 10);	/* 0 for {,n} */
		if (*end == ',' && isdigit((unsigned char)end[1])) {
			m = strtoul(end + 1, &end, 10);
			if (m > n)
				n = m;
		}
		if (n > NAME_RE_REPEAT_MAX)
			return true;
		product *= n > 0 ? n : 1;
		if (product > NAME_RE_REPEAT_MAX)
			return true;
	}
	return false;
}

/* ISO 8601 "2026-11-25T08:14:15Z" / "...+00:00" / "...15.123456". */
static int
parse_time(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (p == NULL && (p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p != '\0' && strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0 &&
	    strcmp(p, "+0000") != 0)
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

/* The ip or ip6 query (key) compiled into *re; *has when given. */
static int
ip_filter(struct http_req *req, const char *key, regex_t *re, bool *has)
{
	const char *v = http_req_query(req, key);

	*has = false;
	if (v == NULL || *v == '\0')
		return 0;
	if (regcomp(re, v, REG_EXTENDED) != 0) {
		err_set(TS_EINVALID, "Invalid regular expression in %s "
		    "filter: %.64s", key, v);
		return -1;
	}
	*has = true;
	return 0;
}

/*
 * Nova's servers index_query (2.1-2.72): the sort keys its schema knows,
 * the usable ones, then those it ignores (SERVER_LIST_IGNORE_SORT_KEY);
 * sort_dir is not in the schema. An admin (allow_all_filters) keeps every
 * filter, so the joined-table ones and "_..." reach Nova's "Invalid filter
 * field"; a member's are stripped before (remove_invalid_options).
 */
static const char *const sort_keys[] = { "access_ip_v4", "access_ip_v6",
    "auto_disk_config", "availability_zone", "config_drive", "created_at",
    "display_description", "display_name", "host", "hostname", "image_ref",
    "instance_type_id", "kernel_id", "key_name", "launch_index",
    "launched_at", "locked_by", "node", "power_state", "progress",
    "project_id", "ramdisk_id", "root_device_name", "task_state",
    "terminated_at", "updated_at", "user_id", "uuid", "vm_state",
    "architecture", "cell_name", "cleaned", "default_ephemeral_device",
    "default_swap_device", "deleted", "deleted_at", "disable_terminate",
    "ephemeral_gb", "ephemeral_key_uuid", "id", "key_data", "launched_on",
    "locked", "memory_mb", "os_type", "reservation_id", "root_gb",
    "shutdown_terminate", "user_data", "vcpus", "vm_mode", NULL };
static const struct jsonreq_qparam list_query[] = {
	{ "limit", JSONREQ_Q_UINT, NULL },
	{ "sort_key", JSONREQ_Q_ENUM, sort_keys },
};
static const struct jsonreq_qparam list_query_admin[] = {
	{ "limit", JSONREQ_Q_UINT, NULL },
	{ "sort_key", JSONREQ_Q_ENUM, sort_keys },
	{ "block_device_mapping", JSONREQ_Q_REFUSED, NULL },
	{ "services", JSONREQ_Q_REFUSED, NULL },
	{ "metadata", JSONREQ_Q_REFUSED, NULL },
	{ "system_metadata", JSONREQ_Q_REFUSED, NULL },
	{ "info_cache", JSONREQ_Q_REFUSED, NULL },
	{ "security_groups", JSONREQ_Q_REFUSED, NULL },
	{ "pci_devices", JSONREQ_Q_REFUSED, NULL },
};

static int
server_list(struct http_req *req, struct http_resp *resp, bool detail)
{
	const struct request_ctx *c = compute_ctx(req);
	struct list l = { .req = req, .detail = detail };
	struct rec_instance mk;
	struct store_txn *txn = NULL;
	const char *all = http_req_query(req, "all_tenants");
	const char *name = http_req_query(req, "name");
	const char *marker = http_req_query(req, "marker");
	const char *since = http_req_query(req, "changes-since");
	const char *scope;
	struct compute_sort sort;
	bool all_tenants, has_marker = false, none = false, unchanged;
	int rc, mv;

	memset(&mk, 0, sizeof(mk));
	if (compute_version(req, resp, &mv) == -1 ||
	    compute_enforce(req, detail ? "os_compute_api:servers:detail" :
	    "os_compute_api:servers:index") == -1)
		return -1;
	l.admin = compute_is_admin(req);
	if ((l.admin ? COMPUTE_QUERY_CHECK(req, list_query_admin, true) :
	    COMPUTE_QUERY_CHECK(req, list_query, false)) == -1)
		return -1;
	all_tenants = jsonreq_query_bool(JSONREQ_NOVA, all);
	if (all_tenants && compute_enforce(req, detail ?
	    "os_compute_api:servers:detail:get_all_tenants" :
	    "os_compute_api:servers:index:get_all_tenants") == -1)
		return -1;
	l.limit = (size_t)compute_query_limit(req, LIST_MAX, &l.has_limit);
	if (compute_sort_parse(req, l.admin, l.limit > 0, &sort) == -1)
		return -1;
	status_filter_read(req, &l.status);
	if (l.status.given && l.status.nvm == 0) {
		/* None of Nova's statuses: from 2.38 a 400, before an
		 * empty list. */
		if (request_mv_has(mv, MV_STATUS_CHECKED)) {
			err_set(TS_EINVALID, "Invalid status value");
			return -1;
		}
		none = true;
	}
	/* Deleted servers alone are an admin's question (none are kept). */
	if (l.status.nvm == 1 && strcmp(l.status.vms[0], "deleted") == 0) {
		if (!l.admin) {
			err_set(TS_EFORBIDDEN, "Only administrators may list "
			    "deleted instances");
			return -1;
		}
		none = true;
	}
	if (request_mv_has(mv, MV_SERVER_TAGS)) {
		l.tags = http_req_query(req, "tags");
		l.tags_any = http_req_query(req, "tags-any");
		l.not_tags = http_req_query(req, "not-tags");
		l.not_tags_any = http_req_query(req, "not-tags-any");
	}
	l.flavor = http_req_query(req, "flavor");
	l.image = http_req_query(req, "image");
	/* host is an admin filter; Nova ignores it for others. */
	if (l.admin)
		l.host = http_req_query(req, "host");
	if (all_tenants) {
		l.project = http_req_query(req, "tenant_id");
		if (l.project == NULL)
			l.project = http_req_query(req, "project_id");
	}
	/* The walk's scope: one project's entries, or every project's. */
	scope = all_tenants ? l.project : c->project_id ? c->project_id : "";
	none = none || (scope != NULL && (*scope == '\0' ||
	    strlen(scope) > DB_INSTANCE_CREATED_SCOPE_MAX));
	/* deleted=true (an admin filter, ignored for others as in Nova)
	 * asks for deleted instances only: none are kept. */
	if (l.admin && jsonreq_query_bool(JSONREQ_NOVA, http_req_query(req,
	    "deleted")))
		none = true;
	if (since && parse_time(since, &l.since) == -1) {
		/* Nova's schema (format date-time) answers first. */
		err_set(TS_EINVALID, "Invalid input for query parameters "
		    "changes-since. Value: %.64s. '%.64s' is not a "
		    "'date-time'", since, since);
		return -1;
	}
	/* Nothing changed since then: no walk (a poller's common case);
	 * the marker is still checked. */
	unchanged = since && l.since > compute_db_instance_changed_ms();
	if (name && *name) {
		if (name_re_too_big(name)) {
			err_set(TS_EINVALID, "Invalid filter field: name: a "
			    "regular expression of at most %d characters and "
			    "%d repetitions is accepted.", NAME_RE_MAX,
			    NAME_RE_REPEAT_MAX);
			return -1;
		}
		if (regcomp(&l.name_re, name, REG_EXTENDED | REG_NOSUB) != 0) {
			err_set(TS_EINVALID, "Invalid regular expression in "
			    "name filter: %.64s", name);
			return -1;
		}
		l.has_name = true;
	}
	if (ip_filter(req, "ip", &l.ip_re, &l.has_ip) == -1 ||
	    ip_filter(req, "ip6", &l.ip6_re, &l.has_ip6) == -1) {
		rc = -1;
		goto out;
	}
	/* render_init() allocates: after the early returns above (l is
	 * zeroed, so out: frees a view never made, too). */
	render_init(&l.view, req, mv, l.admin);
	/* About 1.5 KiB a server in detail. */
	if (buf_reserve(&l.page, (detail ? 1536 : 192) * (l.limit < 16 ?
	    16 : l.limit)) == -1 || buf_puts(&l.page, "{\"servers\":[") ==
	    -1) {
		rc = -1;
		goto out;
	}
	if (compute_read(req, &txn) == -1) {
		rc = -1;
		goto out;
	}
	l.txn = txn;
	/* The marker is a place in the order (as Nova's): an instance the
	 * caller can see, whether or not it passes the filters. */
	if (marker) {
		if (!none && jsonreq_uuid_like(marker) &&
		    compute_db_instance_get(txn, marker, &mk) == 0)
			has_marker = true;
		else if (!none && jsonreq_uuid_like(marker) &&
		    err_code() != TS_ENOT_FOUND) {
			rc = -1;
			goto out;
		}
		if (has_marker && !all_tenants &&
		    strcmp(mk.project_id, scope) != 0)
			has_marker = false;
		if (!has_marker) {
			err_set(TS_EINVALID, "marker [%.64s] not found",
			    marker);
			rc = -1;
			goto out;
		}
	}
	/*
	 * A status filter walks only its states' entries, in the same
	 * order (instances_by_state): a status nobody has costs a few
	 * seeks, not a walk of the scope. Another order than the walk's
	 * sorts what passes, then pages.
	 */
	if (!none && !unchanged && l.limit > 0 && (sort.given ?
	    sorted_page(&l, &sort, scope, has_marker ? &mk : NULL) :
	    l.status.given ?
	    compute_db_instance_each_state(txn, scope, l.status.vms,
	    l.status.nvm, l.status.any_task ? NULL : l.status.tasks,
	    l.status.ntasks, has_marker ? &mk : NULL, list_cb, &l) :
	    compute_db_instance_each_newest(txn, scope,
	    has_marker ? &mk : NULL, list_cb, &l)) == -1) {
		rc = -1;
		goto out;
	}
	store_txn_end(&txn);
	buf_puts(&l.page, "]");
	/* A full page with a match after it: give the link, with the
	 * request's filters and sort (Nova's _get_next_link() keeps them). */
	if (l.has_limit && l.limit > 0 && l.n == l.limit && l.more) {
		char href[2048];

		if (compute_next_href(req, detail ? "servers/detail" :
		    "servers", l.last, href, sizeof(href)) == 0) {
			buf_puts(&l.page, ",\"servers_links\":[{\"rel\":"
			    "\"next\",\"href\":");
			jsonout_str(&l.page, href);
			buf_puts(&l.page, "}]");
		}
	}
	buf_puts(&l.page, "}");
	rc = http_resp_buf(resp, 200, "application/json", &l.page);
out:
	store_txn_end(&txn);
	buf_free(&l.page);
	render_free(&l.view);
	codec_clear(&schema_rec_instance, &mk);
	if (l.has_name)
		regfree(&l.name_re);
	if (l.has_ip)
		regfree(&l.ip_re);
	if (l.has_ip6)
		regfree(&l.ip6_re);
	return rc;
}

int
compute_servers_list(struct http_req *req, struct http_resp *resp)
{
	return server_list(req, resp, false);
}

int
compute_servers_detail(struct http_req *req, struct http_resp *resp)
{
	return server_list(req, resp, true);
}

/* ---- create ----------------------------------------------------------------- */

/* Volumes of a server: inst_volume max=16. */
#define BDM_MAX	16

struct create {
	struct compute	*svc;
	const struct request_ctx	*ctx;
	const char		*reqid;
	const char		*name;
	const char		*description;	/* NULL: null */
	struct rec_flavor	 flavor;
	struct compute_image	 image;
	const char		*key_name;
	char			*key_data;
	uint8_t			*user_data;
	size_t			 user_data_len;
	json_t			*metadata;
	const char		*az;
	const char		*access_ipv4, *access_ipv6;
	int64_t			 min_count, max_count;
	struct scheduler_request	 sreq;
	struct scheduler_hosts	 cands;
	char			 reservation[16];
	/* networks: "auto", or each entry of the list in order */
	bool			 net_auto;
	bool			 admin;	/* may use any network (Neutron's
					   admin) */
	struct netreq {
		const char	*net, *ip, *port;
	}			 nets[NETS_MAX];
	size_t			 nnets;
	bool			 ports;	/* some were bound: netsync hears */
	/* block device mappings whose destination is a volume
	 * (block_device_mapping_v2); bfv: one of them is the root disk */
	struct cbdm {
		const char	*source;	/* volume image blank snapshot */
		const char	*uuid;		/* NULL: blank */
		int64_t		 boot_index;	/* -1: none */
		uint64_t	 size;		/* GiB; 0: the source's */
		bool		 dot;		/* delete_on_termination */
	}			 bdm[BDM_MAX];
	size_t			 nbdm;
	bool			 bfv;
	char			 boot_image[CODEC_UUID_LEN + 1];
	/* results */
	size_t			 count;
	char			(*uuids)[CODEC_UUID_LEN + 1];
	int			*placed;
};

const char *const compute_create_phase_names[CREATE_PH__N] = {
	[CREATE_PH_REQUEST] = "request", [CREATE_PH_PREPARE] = "prepare",
	[CREATE_PH_RANK] = "rank", [CREATE_PH_WRITE] = "write",
	[CREATE_PH_DISPATCH] = "dispatch", [CREATE_PH_RESPOND] = "respond",
};

/* Nova's hostname from a display name: [a-z0-9-], at most 63. */
static void
hostname_of(const char *name, const char *uuid, char out[64])
{
	size_t n = 0;

	for (const char *p = name; *p && n < 63; p++) {
		unsigned char ch = (unsigned char)tolower((unsigned char)*p);

		if (isalnum(ch) || ch == '-')
			out[n++] = (char)ch;
		else if ((ch == ' ' || ch == '_' || ch == '.') && n > 0 &&
		    out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, 64, "server-%s", uuid);
}

static int
quota_check(struct store_txn *txn, struct create *c, int64_t *count)
{
	struct rec_compute_quota q;
	struct rec_compute_usage u;
	struct compute_quota_defaults lim;
	int64_t n = c->max_count, cores = c->flavor.vcpus, ram =
	    (int64_t)c->flavor.ram;

	if (compute_db_quota_get(txn, c->ctx->project_id, &q) == -1 ||
	    compute_db_usage_get(txn, c->ctx->project_id, &u) == -1)
		return -1;
	compute_admin_quota_limits(c->svc, &q, &lim);
	codec_clear(&schema_rec_compute_quota, &q);
	/* As many as fit, down to min_count (Nova does the same). */
	if (lim.instances >= 0 && u.instances + n > lim.instances)
		n = lim.instances - u.instances;
	if (lim.cores >= 0 && cores > 0 && u.cores + n * cores > lim.cores)
		n = (lim.cores - u.cores) / cores;
	if (lim.ram >= 0 && ram > 0 && u.ram + n * ram > lim.ram)
		n = (lim.ram - u.ram) / ram;
	if (n < c->min_count) {
		const char *what = "instances";
		int64_t used = u.instances, limit = lim.instances;

		if (lim.instances >= 0 && u.instances + c->min_count >
		    lim.instances) {
			/* instances it is */
		} else if (lim.cores >= 0 && u.cores + c->min_count * cores >
		    lim.cores) {
			what = "cores";
			used = u.cores;
			limit = lim.cores;
		} else {
			what = "ram";
			used = u.ram;
			limit = lim.ram;
		}
		err_set(TS_EOVER_QUOTA, "Quota exceeded for %s: Requested "
		    "%lld, but already used %lld of %lld %s", what,
		    (long long)(strcmp(what, "instances") == 0 ? c->min_count :
		    strcmp(what, "cores") == 0 ? c->min_count * cores :
		    c->min_count * ram), (long long)used, (long long)limit,
		    what);
		return -1;
	}
	*count = n;
	return 0;
}

static int
set_str(char **f, const char *s)
{
	if (s == NULL)
		return 0;
	if ((*f = strdup(s)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static int
set_opt(char **f, const char *s)
{
	free(*f);
	*f = NULL;
	return *s ? set_str(f, s) : 0;
}

/* A field that may become null (s NULL), unlike set_opt's "" . */
static int
set_nullable(char **f, const char *s)
{
	free(*f);
	*f = NULL;
	return set_str(f, s);
}

/* The image fields of an instance (create, rebuild): ids, formats and
 * what the host verifies the downloads against. */
static int
image_apply(struct rec_instance *i, const struct compute_image *img)
{
	i->image_size = img->size;
	i->has_image_size = img->size > 0;
	i->kernel_size = img->kernel.size;
	i->has_kernel_size = img->kernel.size > 0;
	i->ramdisk_size = img->ramdisk.size;
	i->has_ramdisk_size = img->ramdisk.size > 0;
	free(i->image_ref);
	i->image_ref = NULL;
	if (set_str(&i->image_ref, img->id) == -1 ||
	    set_opt(&i->image_disk_format, img->disk_format) == -1 ||
	    set_opt(&i->image_sha512, img->sha512) == -1 ||
	    set_opt(&i->kernel_id, img->kernel_id) == -1 ||
	    set_opt(&i->kernel_disk_format, img->kernel.disk_format) == -1 ||
	    set_opt(&i->kernel_sha512, img->kernel.sha512) == -1 ||
	    set_opt(&i->ramdisk_id, img->ramdisk_id) == -1 ||
	    set_opt(&i->ramdisk_disk_format, img->ramdisk.disk_format) == -1 ||
	    set_opt(&i->ramdisk_sha512, img->ramdisk.sha512) == -1 ||
	    set_opt(&i->kernel_cmdline, img->cmdline) == -1)
		return -1;
	return 0;
}

static int
fill_instance(struct create *c, struct rec_instance *i, size_t k,
    int64_t now)
{
	const char *key;
	json_t *val;
	char name[300], hn[64];
	size_t m = 0;

	snprintf(i->uuid, sizeof(i->uuid), "%s", c->uuids[k]);
	if (c->count > 1)
		snprintf(name, sizeof(name), "%s-%zu", c->name, k + 1);
	else
		snprintf(name, sizeof(name), "%s", c->name);
	name[255] = '\0';
	hostname_of(name, i->uuid, hn);
	if (set_str(&i->name, name) == -1 ||
	    set_str(&i->description, c->description) == -1 ||
	    set_str(&i->project_id, c->ctx->project_id) == -1 ||
	    set_str(&i->user_id, c->ctx->user_id) == -1 ||
	    set_str(&i->reservation_id, c->reservation) == -1 ||
	    set_str(&i->hostname, hn) == -1 ||
	    set_str(&i->flavor.id, c->flavor.id) == -1 ||
	    set_str(&i->flavor.name, c->flavor.name) == -1 ||
	    image_apply(i, &c->image) == -1 ||
	    set_str(&i->key_name, c->key_name) == -1 ||
	    set_str(&i->key_data, c->key_data) == -1 ||
	    set_str(&i->availability_zone, c->sreq.az ? c->sreq.az :
	    c->svc->az) == -1 ||
	    set_str(&i->vm_state, VM_BUILDING) == -1 ||
	    set_str(&i->access_ipv4, c->access_ipv4) == -1 ||
	    set_str(&i->access_ipv6, c->access_ipv6) == -1)
		return -1;
	if (c->bfv) {
		/* The root disk is a volume: the image (if any) only gave
		 * the kernel and ramdisk; Nova shows image "". */
		free(i->image_ref);
		free(i->image_disk_format);
		free(i->image_sha512);
		i->image_ref = i->image_disk_format = i->image_sha512 = NULL;
		i->has_image_size = false;
		i->image_size = 0;
		if (set_str(&i->image_ref, "") == -1)
			return -1;
	}
	i->launch_index = (uint32_t)k;
	i->flavor.ram = c->flavor.ram;
	i->flavor.vcpus = c->flavor.vcpus;
	i->flavor.disk = c->flavor.disk;
	i->flavor.swap = c->flavor.swap;
	i->flavor.ephemeral = c->flavor.ephemeral;
	if (c->flavor.extra_specs.n > 0) {
		i->flavor.extra_specs.items = calloc(c->flavor.extra_specs.n,
		    sizeof(*i->flavor.extra_specs.items));
		if (i->flavor.extra_specs.items == NULL)
			goto nomem;
		for (size_t e = 0; e < c->flavor.extra_specs.n; e++) {
			struct ts_strmap_ent *d =
			    &i->flavor.extra_specs.items[e];

			if (set_str(&d->k, c->flavor.extra_specs.items[e].k) ==
			    -1 || set_str(&d->v,
			    c->flavor.extra_specs.items[e].v) == -1)
				return -1;
			i->flavor.extra_specs.n++;
		}
	}
	if (c->user_data) {
		if ((i->user_data.ptr = malloc(c->user_data_len ?
		    c->user_data_len : 1)) == NULL)
			goto nomem;
		memcpy(i->user_data.ptr, c->user_data, c->user_data_len);
		i->user_data.len = c->user_data_len;
	}
	if (c->metadata && json_object_size(c->metadata) > 0) {
		i->metadata.items = calloc(json_object_size(c->metadata),
		    sizeof(*i->metadata.items));
		if (i->metadata.items == NULL)
			goto nomem;
		json_object_foreach(c->metadata, key, val) {
			if (set_str(&i->metadata.items[m].k, key) == -1 ||
			    set_str(&i->metadata.items[m].v,
			    json_string_value(val)) == -1)
				return -1;
			i->metadata.n = ++m;
		}
	}
	i->power_state = POWER_NOSTATE;
	i->want_power = POWER_RUNNING;
	i->generation = 1;
	i->created_at = now;
	i->updated_at = now;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

/*
 * The ports of instance uuid placed on host ("": not placed, the ports
 * stay unbound), in the create's transaction:
 * created on each requested network (device_owner "compute:<az>", which
 * is how a delete knows to delete them) or the given ones bound (and only
 * unbound by a delete); then the first one's floating IP when [network]
 * auto_assign_floating_ip is on (network_floatingip_auto()). Nova's answers for what the network service
 * refuses: an unknown network or port is the request's fault (400).
 */
static int
ports_for(struct create *c, struct store_txn *txn, const char *uuid,
    const char *host)
{
	char owner[300], pid[37], auto_net[37], first[37] = "";
	struct netreq one = { .net = auto_net };
	const struct netreq *v = c->nets;
	size_t n = c->nnets;

	if (c->svc->net == NULL)
		return 0;
	snprintf(owner, sizeof(owner), "compute:%s", c->svc->az);
	if (c->net_auto) {
		if (network_auto_pick(txn, c->ctx->project_id, auto_net) == -1)
			return -1;
		/* No network at all: a server without interfaces, as
		 * before networking existed (Nova would allocate one). */
		v = &one;
		n = *auto_net ? 1 : 0;
	}
	for (size_t k = 0; k < n; k++) {
		int rc;

		if (v[k].port != NULL)
			rc = network_port_bind(c->svc->net, txn,
			    c->ctx->project_id, v[k].port, uuid, host);
		else
			rc = network_port_create(c->svc->net, txn,
			    c->ctx->project_id, v[k].net, c->admin, uuid,
			    owner, v[k].ip, host, pid);
		if (rc == -1 && err_code() == TS_ENOT_FOUND) {
			char why[ERR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", err_msg());
			err_set(TS_EINVALID, "%s", why);
		} else if (rc == -1 && err_code() == TS_ECONFLICT &&
		    v[k].ip != NULL && strstr(err_msg(), "already allocated"))
			err_set(TS_EINVALID, "Fixed IP address %s is already "
			    "in use on instance %s.", v[k].ip, uuid);
		if (rc == -1)
			return -1;
		if (k == 0)
			snprintf(first, sizeof(first), "%s", v[k].port != NULL ?
			    v[k].port : pid);
		c->ports = true;
	}
	/* nova-network's auto_assign_floating_ip, for a server that is to
	 * run: never fails the create for want of an address. */
	if (*first != '\0' && *host != '\0')
		return network_floatingip_auto(c->svc->net, txn,
		    c->ctx->project_id, uuid, first);
	return 0;
}

/* The volumes of a placed server's block device mappings, attached to it
 * on its host in this transaction: an existing volume reserved, a new one
 * made (from an image, a snapshot or blank) with its attachment. */
static int
volumes_for(struct create *c, struct store_txn *txn, struct rec_instance *i)
{
	if (c->nbdm == 0)
		return 0;
	if (c->svc->vol == NULL) {
		err_set(TS_EINVALID, "Block Device Mapping is Invalid: no block "
		    "storage service.");
		return -1;
	}
	if ((i->volumes.items = calloc(c->nbdm,
	    sizeof(*i->volumes.items))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (size_t k = 0; k < c->nbdm; k++) {
		const struct cbdm *b = &c->bdm[k];
		struct sch_inst_volume *iv = &i->volumes.items[i->volumes.n];
		char dev[32], vid[CODEC_UUID_LEN + 1], att[CODEC_UUID_LEN + 1];
		int rc;

		if (b->boot_index == 0)
			snprintf(dev, sizeof(dev), "/dev/vda");
		else if (compute_volumes_pick_device(i, NULL, dev) == -1)
			return -1;
		if (strcmp(b->source, "volume") == 0) {
			snprintf(vid, sizeof(vid), "%s", b->uuid);
			rc = volume_attach_begin(c->svc->vol, txn, i->project_id,
			    b->uuid, i->uuid, i->host, dev, att);
		} else {
			struct volume_new_attached n = {
				.project_id = i->project_id,
				.user_id = i->user_id,
				.size_gb = b->size,
				.image_id = strcmp(b->source, "image") == 0 ?
				    b->uuid : NULL,
				.snapshot_id = strcmp(b->source, "snapshot") ==
				    0 ? b->uuid : NULL,
				.server_id = i->uuid,
				.host = i->host,
				.prefer_host = i->host,
				.device = dev,
			};

			rc = volume_create_attached(c->svc->vol, txn, &n, vid,
			    att);
		}
		if (rc == -1)
			return -1;
		memcpy(iv->volume_id, vid, sizeof(iv->volume_id));
		memcpy(iv->attachment_id, att, sizeof(iv->attachment_id));
		if ((iv->device = strdup(dev)) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		iv->delete_on_termination = b->dot;
		if (b->boot_index >= 0) {
			iv->has_boot_index = true;
			iv->boot_index = b->boot_index;
		}
		i->volumes.n++;
	}
	return 0;
}

static int
create_fn(struct store_txn *txn, void *arg)
{
	struct create *c = arg;
	int64_t now = db_now_ms(), count;

	if (quota_check(txn, c, &count) == -1)
		return -1;
	c->count = (size_t)count;
	for (size_t k = 0; k < c->count; k++) {
		struct rec_instance i;
		char host[SCHEDULER_NAME_MAX + 1];
		int rc;

		memset(&i, 0, sizeof(i));
		if (fill_instance(c, &i, k, now) == -1) {
			codec_clear(&schema_rec_instance, &i);
			return -1;
		}
		if (scheduler_claim(c->svc->sched, txn, &c->sreq, &c->cands, host) ==
		    0) {
			rc = set_str(&i.host, host);
			c->placed[k] = 1;
			if (rc == 0)
				rc = recon_task_begin(c->svc->recon, txn, &i,
				    "spawning", c->reqid, c->ctx->user_id,
				    c->ctx->project_id, now);
		} else if (err_code() == TS_ENOT_FOUND) {
			/* Nova: the server exists, in ERROR, with the
			 * scheduler's verdict as its fault. */
			char why[ERR_MSG_MAX];

			snprintf(why, sizeof(why), "%s", err_msg());
			free(i.vm_state);
			i.vm_state = strdup(VM_ERROR);
			i.has_fault = true;
			i.fault.code = 500;
			i.fault.created = now;
			i.fault.message = strdup(why);
			rc = i.vm_state && i.fault.message ? 0 : -1;
			if (rc == -1)
				err_set(TS_ENOMEM, "out of memory");
			else
				rc = compute_db_action_start(txn, &i, c->reqid,
				    "create", c->ctx->user_id,
				    c->ctx->project_id, now);
			if (rc == 0)
				rc = compute_db_action_finish(txn, i.uuid, c->reqid,
				    0, why, now);
			log_warnx("instance %s: %s", i.uuid, why);
		} else {
			rc = -1;
		}
		/* Placed or not, as Nova validates the networks before it
		 * schedules: an unplaced server's ports stay unbound until a
		 * delete releases them. */
		if (rc == 0)
			rc = ports_for(c, txn, i.uuid, i.host ? i.host : "");
		if (rc == 0 && c->placed[k])
			rc = volumes_for(c, txn, &i);
		if (rc == 0)
			rc = compute_db_instance_put(txn, &i, NULL);
		codec_clear(&schema_rec_instance, &i);
		if (rc == -1)
			return -1;
	}
	return compute_db_usage_add(txn, c->ctx->project_id, (int64_t)c->count,
	    (int64_t)c->count * c->flavor.vcpus,
	    (int64_t)c->count * (int64_t)c->flavor.ram);
}

/* "az", "az:host", "az::node", ":host" (Nova's forced-host syntax). */
static int
parse_az(struct http_req *req, const char *az, char *zone, size_t zlen,
    char *host, size_t hlen)
{
	const char *colon = strchr(az, ':');

	host[0] = '\0';
	if (colon == NULL) {
		snprintf(zone, zlen, "%s", az);
		return 0;
	}
	snprintf(zone, zlen, "%.*s", (int)(colon - az), az);
	snprintf(host, hlen, "%s", colon[1] == ':' ? colon + 2 : colon + 1);
	/* az::node names a node; here node and host are the same. */
	if (colon[1] != ':' && strchr(colon + 1, ':'))
		*strchr(host, ':') = '\0';
	if (*host && compute_enforce(req,
	    "os_compute_api:servers:create:forced_host") == -1)
		return -1;
	return 0;
}

static int
check_metadata(json_t *md, int64_t max_items)
{
	const char *k;
	json_t *v;

	if (!json_is_object(md)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "metadata. Value must be an object.");
		return -1;
	}
	if (max_items >= 0 && (int64_t)json_object_size(md) > max_items) {
		err_set(TS_EOVER_QUOTA, "Quota exceeded for metadata_items: "
		    "Requested %zu, but limit is %lld", json_object_size(md),
		    (long long)max_items);
		return -1;
	}
	if (json_object_size(md) > 128) {
		err_set(TS_EINVALID, "At most 128 metadata items.");
		return -1;
	}
	json_object_foreach(md, k, v) {
		if (*k == '\0' || strlen(k) > 255 || !json_is_string(v) ||
		    json_string_length(v) > 255 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "metadata. Keys must be 1-255 characters, values "
			    "strings of at most 255.");
			return -1;
		}
	}
	return 0;
}

static int
flavor_usable(struct http_req *req, const struct rec_flavor *f,
    const char *project)
{
	if (f->disabled) {
		err_set(TS_EINVALID, "Flavor is disabled.");
		return -1;
	}
	if (!f->is_public && !compute_is_admin(req)) {
		bool ok = false;

		for (size_t k = 0; k < f->projects.n && !ok; k++)
			ok = strcmp(f->projects.items[k], project) == 0;
		if (!ok) {
			err_set(TS_EINVALID, "Flavor %s could not be found.",
			    f->id);
			return -1;
		}
	}
	return 0;
}

/* Reads and checks what the request names, in one read transaction. */
/* The volumes a server's mappings name must be the project's and
 * available. A server booted from a volume takes its kernel and ramdisk
 * from the image of its image -> volume mapping, or from its boot
 * volume's volume_image_metadata: *ref (NULL: none, a disk boot). */
static int
bdm_prepare(struct http_req *req, struct store_txn *txn, struct create *c,
    const char **ref)
{
	struct volume_boot vb;

	if (c->bfv)
		*ref = NULL;
	for (size_t k = 0; k < c->nbdm; k++) {
		const struct cbdm *b = &c->bdm[k];

		if (strcmp(b->source, "volume") != 0) {
			if (b->boot_index == 0 && strcmp(b->source, "image") ==
			    0)
				*ref = b->uuid;
			continue;
		}
		if (c->svc->vol == NULL || volume_boot_info(c->svc->vol, txn,
		    c->ctx->project_id, b->uuid, &vb) == -1) {
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "failed to get volume %s.", b->uuid);
			return -1;
		}
		if (strcmp(vb.status, "available") != 0) {
			err_set(TS_EINVALID, "Invalid volume: volume %s status "
			    "must be available, but current status is: %s.",
			    b->uuid, vb.status);
			return -1;
		}
		if (b->boot_index == 0 && vb.image_id[0] != '\0') {
			struct compute_image probe;

			/* An image deleted since leaves a disk boot. */
			if (compute_servers_image_get(req, txn, vb.image_id,
			    &probe) == 0) {
				snprintf(c->boot_image, sizeof(c->boot_image),
				    "%s", vb.image_id);
				*ref = c->boot_image;
			}
		}
	}
	return 0;
}

static int
create_prepare(struct http_req *req, struct create *c, const char *flavor_ref,
    const char *image_ref)
{
	struct store_txn *txn = NULL;
	const char *slash = strrchr(flavor_ref, '/');
	struct rec_keypair kp;
	struct rec_compute_quota q;
	struct compute_quota_defaults lim;
	int rc = -1;

	if (compute_read(req, &txn) == -1)
		return -1;
	if (compute_db_flavor_get(txn, slash ? slash + 1 : flavor_ref, &c->flavor) ==
	    -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_EINVALID, "Flavor %s could not be found.",
			    flavor_ref);
		goto out;
	}
	if (flavor_usable(req, &c->flavor, c->ctx->project_id) == -1)
		goto out;
	if (c->nbdm > 0 && bdm_prepare(req, txn, c, &image_ref) == -1)
		goto out;
	if (image_ref != NULL && *image_ref != '\0' &&
	    compute_servers_image_get(req, txn, image_ref, &c->image) == -1)
		goto out;
	if (c->image.min_disk > 0 && c->flavor.disk > 0 &&
	    c->flavor.disk < c->image.min_disk) {
		err_set(TS_EINVALID, "Flavor's disk is too small for requested "
		    "image. Flavor disk is %llu GiB, minimum disk is %llu GiB.",
		    (unsigned long long)c->flavor.disk,
		    (unsigned long long)c->image.min_disk);
		goto out;
	}
	if (c->image.min_ram > 0 && c->flavor.ram < c->image.min_ram) {
		err_set(TS_EINVALID, "Flavor's memory is too small for "
		    "requested image.");
		goto out;
	}
	if (c->key_name) {
		if (compute_db_keypair_get(txn, c->ctx->user_id, c->key_name, &kp) ==
		    -1) {
			if (err_code() == TS_ENOT_FOUND)
				err_set(TS_EINVALID, "Invalid key_name "
				    "provided.");
			goto out;
		}
		c->key_data = kp.public_key;
		kp.public_key = NULL;
		codec_clear(&schema_rec_keypair, &kp);
	}
	if (c->metadata) {
		if (compute_db_quota_get(txn, c->ctx->project_id, &q) == -1)
			goto out;
		compute_admin_quota_limits(c->svc, &q, &lim);
		codec_clear(&schema_rec_compute_quota, &q);
		if (check_metadata(c->metadata, lim.metadata_items) == -1)
			goto out;
	}
	rc = 0;
out:
	store_txn_end(&txn);
	return rc;
}

static int
decode_user_data(struct create *c, const char *b64)
{
	size_t len = strlen(b64), out;

	if (len > USER_DATA_MAX) {
		err_set(TS_EINVALID, "User data too large. User data must be no "
		    "larger than %d bytes once base64 encoded.", USER_DATA_MAX);
		return -1;
	}
	if ((c->user_data = malloc(len + 1)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (sodium_base642bin(c->user_data, len + 1, b64, len, "\r\n ", &out,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		err_set(TS_EINVALID, "Userdata content cannot be decoded");
		return -1;
	}
	c->user_data_len = out;
	return 0;
}

/* Nova's generated admin password: 12 characters without the look-alikes
 * (l, o, I, O, 0, 1). */
void
compute_servers_password(char out[13])
{
	static const char set[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRS"
	    "TUVWXYZ23456789";

	for (int k = 0; k < 12; k++)
		out[k] = set[randombytes_uniform(sizeof(set) - 1)];
	out[12] = '\0';
}

/*
 * A device "tag" of a networks or block_device_mapping_v2 item: Nova's
 * schema has it at microversion 2.32 only (2.33 lost it until 2.42), a
 * tag as the server tags' (1 to 60 characters, no '/' or ','); another
 * microversion refuses the member as any unexpected one. tinystack keeps
 * no device metadata (it has no metadata service to show it in), so a
 * valid tag is accepted and not kept.
 */
static int
device_tag(json_t *item, int mv, const char *what)
{
	json_t *t = json_object_get(item, "tag");

	if (t == NULL)
		return 0;
	if (!request_mv_has(mv, MV_DEVICE_TAGS) ||
	    request_mv_has(mv, MV_NO_DEVICE_TAGS)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Additional properties are not allowed ('tag' was "
		    "unexpected)", what);
		return -1;
	}
	if (!json_is_string(t) || !compute_tag_valid(json_string_value(t)))
		return jsonreq_fail(JSONREQ_NOVA, "tag", "is not a valid tag "
		    "(1 to 60 characters, no '/' or ',')");
	return 0;
}

/*
 * networks: absent (before 2.37), "none", "auto" or a list of {"uuid": net, "fixed_ip":
 * ip} / {"port": id}, checked with Nova's messages; the networks and ports
 * themselves are looked up when the server is created, in its transaction.
 */
static int
parse_networks(struct create *c, json_t *nets, int mv)
{
	size_t k;
	json_t *e;

	if (nets == NULL) {
		/* Required from 2.37. Before it, Nova allocates on the
		 * network the project can use if there is exactly one (none:
		 * no NIC; several: NetworkAmbiguous), which is "auto" without
		 * auto-allocated topologies. */
		if (request_mv_has(mv, MV_AUTO_NETWORK)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "server. 'networks' is a required property");
			return -1;
		}
		c->net_auto = true;
		return 0;
	}
	if (json_is_string(nets) && (strcmp(json_string_value(nets),
	    "none") == 0 || strcmp(json_string_value(nets), "auto") == 0)) {
		c->net_auto = strcmp(json_string_value(nets), "auto") == 0;
		return 0;
	}
	if (!json_is_array(nets)) {
		/* Nova's schema: oneOf a list or the enum. */
		char *v = json_dumps(nets, JSON_ENCODE_ANY | JSON_COMPACT);

		const char *t = json_is_string(nets) ?
		    json_string_value(nets) : v ? v : "?";

		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "networks. Value: %.64s. %s%.64s%s is not valid under any "
		    "of the given schemas", t, json_is_string(nets) ? "'" : "",
		    t, json_is_string(nets) ? "'" : "");
		free(v);
		return -1;
	}
	if (json_array_size(nets) > NETS_MAX) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "networks. At most %d networks.", NETS_MAX);
		return -1;
	}
	if (json_array_size(nets) > 0 && c->svc->net == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "networks: only \"none\" and \"auto\" are available (no "
		    "network service).");
		return -1;
	}
	json_array_foreach(nets, k, e) {
		struct netreq *r = &c->nets[k];
		unsigned char buf[16];

		if (!json_is_object(e)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "networks. Value: %s. It is not of type 'object'.",
			    json_is_string(e) ? json_string_value(e) :
			    "(not an object)");
			return -1;
		}
		memset(r, 0, sizeof(*r));
		if (device_tag(e, mv, "networks") == -1)
			return -1;
		if (jsonreq_uuid(JSONREQ_NOVA, e, "port", JSONREQ_NULLABLE,
		    &r->port, NULL) == -1 ||
		    jsonreq_str(JSONREQ_NOVA, e, "uuid", 0, 255, JSONREQ_BYTES,
		    &r->net, NULL) == -1 ||
		    jsonreq_str(JSONREQ_NOVA, e, "fixed_ip", 0, 64,
		    JSONREQ_BYTES, &r->ip, NULL) == -1)
			return -1;
		if (r->port != NULL) {
			/* The port decides the network and address. */
			r->net = r->ip = NULL;
			if (c->max_count > 1) {
				err_set(TS_EINVALID, "Unable to launch multiple "
				    "instances with a single configured port "
				    "ID. Please launch your instance one by "
				    "one with different ports.");
				return -1;
			}
			continue;
		}
		if (r->net == NULL) {
			err_set(TS_EINVALID, "Bad network format: missing "
			    "'uuid'");
			return -1;
		}
		if (!jsonreq_uuid_like(r->net)) {
			err_set(TS_EINVALID, "Bad networks format: network uuid "
			    "is not in proper format (%s)", r->net);
			return -1;
		}
		if (r->ip != NULL && inet_pton(AF_INET, r->ip, buf) != 1 &&
		    inet_pton(AF_INET6, r->ip, buf) != 1) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "fixed_ip. Value: %s. '%s' is not a 'ip-address'",
			    r->ip, r->ip);
			return -1;
		}
		if (r->ip != NULL && c->max_count > 1) {
			err_set(TS_EINVALID, "Unable to launch multiple "
			    "instances with a single configured fixed IP.");
			return -1;
		}
	}
	c->nnets = json_array_size(nets);
	return 0;
}

/* A boot_index: an integer, a string of one, or null/"none" (-1). */
static int
bdm_boot_index(json_t *v, int64_t *out)
{
	char *end;

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (strcasecmp(s, "none") == 0)
			return 0;
		*out = strtoll(s, &end, 10);
		if (*s != '\0' && *end == '\0')
			return 0;
	}
	err_set(TS_EINVALID, "Invalid input for field/attribute boot_index. "
	    "Value: %s. It must be an integer.", json_is_string(v) ?
	    json_string_value(v) : "?");
	return -1;
}

/*
 * block_device_mapping_v2 (Nova's BDM v2): the image boot (source image,
 * destination local, boot_index 0) as imageRef; volumes as destination
 * volume from an existing volume, an image, a snapshot or blank. Local
 * disks other than the image's (swap, ephemeral) come from the flavor
 * here: refused. *image_ref may be set from the mapping.
 */
static int
parse_bdm(struct create *c, json_t *list, int mv, const char **image_ref)
{
	size_t k;
	json_t *e;
	int boots = 0;

	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > BDM_MAX) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "block_device_mapping_v2: a list of at most %d mappings "
		    "is expected.", BDM_MAX);
		return -1;
	}
	json_array_foreach(list, k, e) {
		const char *src = NULL, *dst = NULL, *uuid = NULL;
		int64_t bi, size = 0;
		bool dot = false;
		struct cbdm *b;

		if (!json_is_object(e)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "block_device_mapping_v2: each mapping must be an "
			    "object.");
			return -1;
		}
		if (device_tag(e, mv, "block_device_mapping_v2") == -1)
			return -1;
		if (jsonreq_str(JSONREQ_NOVA, e, "source_type", 1, 32,
		    JSONREQ_BYTES, &src, NULL) == -1 ||
		    jsonreq_str(JSONREQ_NOVA, e, "destination_type", 1, 32,
		    JSONREQ_BYTES | JSONREQ_NULLABLE, &dst, NULL) == -1 ||
		    jsonreq_str(JSONREQ_NOVA, e, "uuid", 1, 255,
		    JSONREQ_BYTES | JSONREQ_NULLABLE, &uuid, NULL) == -1 ||
		    jsonreq_int(JSONREQ_NOVA, e, "volume_size", 1, 100000,
		    JSONREQ_NULLABLE, &size, NULL) == -1 ||
		    jsonreq_bool(JSONREQ_NOVA, e, "delete_on_termination",
		    JSONREQ_NULLABLE, &dot, NULL) == -1 ||
		    bdm_boot_index(json_object_get(e, "boot_index"), &bi) ==
		    -1)
			return -1;
		if (src == NULL || (strcmp(src, "image") != 0 &&
		    strcmp(src, "volume") != 0 && strcmp(src, "blank") != 0 &&
		    strcmp(src, "snapshot") != 0)) {
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "source_type must be image, volume, snapshot or "
			    "blank.");
			return -1;
		}
		if (dst == NULL)
			dst = strcmp(src, "image") == 0 ? "local" : "volume";
		if (bi == 0 && ++boots > 1) {
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "Boot sequence for the instance and image/block "
			    "device mapping combination is not valid.");
			return -1;
		}
		if (strcmp(src, "blank") != 0 &&
		    (uuid == NULL || !jsonreq_uuid_like(uuid))) {
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "a %s mapping needs the uuid of its source.", src);
			return -1;
		}
		if (strcmp(dst, "local") == 0) {
			if (strcmp(src, "image") == 0 && bi == 0) {
				/* The image boot, spelled as a mapping. */
				if (*image_ref == NULL || **image_ref == '\0')
					*image_ref = uuid;
				continue;
			}
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "local disks other than the image's come from the "
			    "flavor (swap, ephemeral).");
			return -1;
		}
		if (strcmp(dst, "volume") != 0) {
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "destination_type must be local or volume.");
			return -1;
		}
		if ((strcmp(src, "blank") == 0 || strcmp(src, "image") == 0) &&
		    size <= 0) {
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "a volume made from %s needs a volume_size.", src);
			return -1;
		}
		b = &c->bdm[c->nbdm++];
		b->source = src;
		b->uuid = uuid;
		b->boot_index = bi;
		b->size = (uint64_t)size;
		b->dot = dot;
		if (bi == 0)
			c->bfv = true;
	}
	if (c->bfv && *image_ref != NULL && **image_ref != '\0') {
		/* The root is the volume; Nova takes imageRef as the source
		 * of an image -> volume mapping only. */
		for (k = 0; k < c->nbdm; k++)
			if (c->bdm[k].boot_index == 0 &&
			    strcmp(c->bdm[k].source, "image") == 0 &&
			    strcasecmp(c->bdm[k].uuid, *image_ref) == 0)
				break;
		if (k == c->nbdm) {
			err_set(TS_EINVALID, "Block Device Mapping is Invalid: "
			    "Boot sequence for the instance and image/block "
			    "device mapping combination is not valid.");
			return -1;
		}
	}
	return 0;
}

int
compute_servers_create(struct http_req *req, struct http_resp *resp)
{
	struct compute *svc = compute_of(req);
	struct create c = { .svc = svc };
	json_t *s, *sgs, *out;
	const char *flavor_ref = NULL, *image_ref = NULL, *user_data = NULL,
	    *az = NULL, *pass = NULL;
	char zone[256] = "", fhost[256] = "", pw[13], loc[1200],
	    ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
	bool ret_resv = false;
	int rc = -1, mv;
	/* phase ends, as the request's age (http_req_age_us) */
	int64_t at[CREATE_PH__N] = { http_req_age_us(req) };
	struct store_write_times wt = { 0 };

	if (compute_version(req, resp, &mv) == -1 ||
	    compute_enforce(req, "os_compute_api:servers:create") == -1 ||
	    jsonreq_body(JSONREQ_NOVA, http_req_json(req), "server", &s) == -1)
		return -1;
	c.ctx = compute_ctx(req);
	c.admin = compute_is_admin(req);
	c.reqid = http_req_id(req);
	if (c.ctx->project_id == NULL || *c.ctx->project_id == '\0') {
		err_set(TS_EFORBIDDEN, "Creating a server needs a "
		    "project-scoped token.");
		return -1;
	}
	c.min_count = c.max_count = 1;
	if (jsonreq_str(JSONREQ_NOVA, s, "name", 1, 255, JSONREQ_BYTES, &c.name,
	    NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "flavorRef", 1, 255, JSONREQ_BYTES,
	    &flavor_ref, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "imageRef", 0, 1024, JSONREQ_BYTES,
	    &image_ref, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "key_name", 1, 255, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &c.key_name, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "user_data", 0, USER_DATA_MAX,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &user_data, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "availability_zone", 1, 255,
	    JSONREQ_BYTES | JSONREQ_NULLABLE, &az, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "adminPass", 0, 255, JSONREQ_BYTES,
	    &pass, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "accessIPv4", 0, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &c.access_ipv4, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "accessIPv6", 0, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &c.access_ipv6, NULL) == -1 ||
	    jsonreq_int(JSONREQ_NOVA, s, "min_count", 1, MAX_COUNT, 0,
	    &c.min_count, NULL) == -1 ||
	    jsonreq_int(JSONREQ_NOVA, s, "max_count", 1, MAX_COUNT, 0,
	    &c.max_count, NULL) == -1 ||
	    jsonreq_bool(JSONREQ_NOVA, s, "return_reservation_id", 0, &ret_resv,
	    NULL) == -1)
		goto out;
	if (c.name == NULL || flavor_ref == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "Value: None. It is required.", c.name ? "flavorRef" :
		    "name");
		goto out;
	}
	/* Below 2.19 Nova describes a server by its name. */
	c.description = c.name;
	if (request_mv_has(mv, MV_DESCRIPTION) && description_get(s,
	    &c.description, NULL) == -1)
		goto out;
	if (jsonreq_name(JSONREQ_NOVA, "name", c.name) == -1 ||
	    norm_ip("accessIPv4", AF_INET, c.access_ipv4, ip4,
	    sizeof(ip4)) == -1 ||
	    norm_ip("accessIPv6", AF_INET6, c.access_ipv6, ip6,
	    sizeof(ip6)) == -1)
		goto out;
	c.access_ipv4 = *ip4 ? ip4 : NULL;
	c.access_ipv6 = *ip6 ? ip6 : NULL;
	if (json_object_get(s, "max_count") == NULL && c.min_count > 1)
		c.max_count = c.min_count;
	if (c.min_count > c.max_count) {
		err_set(TS_EINVALID, "min_count must be <= max_count");
		goto out;
	}
	if (json_object_get(s, "block_device_mapping") != NULL) {
		err_set(TS_EINVALID, "The legacy block_device_mapping is not "
		    "supported: use block_device_mapping_v2.");
		goto out;
	}
	if (parse_bdm(&c, json_object_get(s, "block_device_mapping_v2"), mv,
	    &image_ref) == -1)
		goto out;
	if (!c.bfv && (image_ref == NULL || *image_ref == '\0')) {
		err_set(TS_EINVALID, "Block Device Mapping is Invalid: Boot "
		    "sequence for the instance and image/block device mapping "
		    "combination is not valid.");
		goto out;
	}
	for (size_t k = 0; k < c.nbdm && c.max_count > 1; k++)
		if (strcmp(c.bdm[k].source, "volume") == 0) {
			err_set(TS_EINVALID, "Cannot attach one or more volumes "
			    "to multiple instances");
			goto out;
		}
	if (parse_networks(&c, json_object_get(s, "networks"), mv) == -1)
		goto out;
	c.metadata = json_object_get(s, "metadata");
	if (user_data && decode_user_data(&c, user_data) == -1)
		goto out;
	if (az && parse_az(req, az, zone, sizeof(zone), fhost, sizeof(fhost)) ==
	    -1)
		goto out;
	if (create_prepare(req, &c, flavor_ref, image_ref) == -1)
		goto out;
	c.sreq.vcpus = c.flavor.vcpus;
	c.sreq.memory_mb = c.flavor.ram;
	/* A server booted from a volume has no local root disk. */
	c.sreq.disk_gb = (c.bfv ? 0 : c.flavor.disk) + c.flavor.ephemeral +
	    (c.flavor.swap + 1023) / 1024;
	c.sreq.az = *zone ? zone : NULL;
	c.sreq.force_host = *fhost ? fhost : NULL;
	c.sreq.extra_specs = &c.flavor.extra_specs;
	at[CREATE_PH_PREPARE] = http_req_age_us(req);
	if (scheduler_rank(svc->sched, &c.sreq, &c.cands) == -1)
		goto out;
	at[CREATE_PH_RANK] = http_req_age_us(req);
	if ((c.uuids = calloc((size_t)c.max_count, sizeof(*c.uuids))) == NULL ||
	    (c.placed = calloc((size_t)c.max_count, sizeof(*c.placed))) ==
	    NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto out;
	}
	for (int64_t k = 0; k < c.max_count; k++)
		db_uuid_ordered(c.uuids[k]);
	{
		char u[37];

		db_uuid(u);
		snprintf(c.reservation, sizeof(c.reservation), "r-%.8s", u);
	}
	if (compute_write(req, create_fn, &c) == -1)
		goto out;
	at[CREATE_PH_WRITE] = http_req_age_us(req);
	store_write_last(&wt);
	/* Its ports are bound to the chosen hosts: their agents hear now.
	 * Without ports nothing changed for them, and each change costs
	 * netsync a derivation of every host on the bus thread (10 a
	 * second while creates ran, at 10,000 hosts most of that thread's
	 * time). */
	if (c.svc->net != NULL && c.ports)
		network_changed(c.svc->net);
	if (c.nbdm > 0 && c.svc->vol != NULL)
		volume_changed(c.svc->vol);
	log_info("created %zu server(s) '%s' for project %s", c.count, c.name,
	    c.ctx->project_id);

	if (pass == NULL || *pass == '\0') {
		compute_servers_password(pw);
		pass = pw;
	}
	/* Durable: now the commands. */
	{
		struct store_txn *txn = NULL;

		if (compute_read(req, &txn) == 0) {
			for (size_t k = 0; k < c.count; k++) {
				struct rec_instance i;

				if (!c.placed[k] || compute_db_instance_get(txn,
				    c.uuids[k], &i) == -1)
					continue;
				recon_dispatch_pass(svc->recon, &i, pass);
				codec_clear(&schema_rec_instance, &i);
			}
			store_txn_end(&txn);
		}
	}
	at[CREATE_PH_DISPATCH] = http_req_age_us(req);
	if (ret_resv) {
		rc = http_resp_json(resp, 202, json_pack("{s:s}",
		    "reservation_id", c.reservation));
		goto out;
	}
	sgs = json_object_get(s, "security_groups");
	out = json_pack("{s:s, s:o, s:s, s:s}", "id", c.uuids[0], "links",
	    compute_links(req, "servers", c.uuids[0]), "OS-DCF:diskConfig",
	    "MANUAL", "adminPass", pass);
	if (out && json_is_array(sgs))
		json_object_set(out, "security_groups", sgs);
	if (compute_url(req, false, loc, sizeof(loc), "servers/%s",
	    c.uuids[0]) == 0)
		http_resp_header(resp, "Location", loc);
	rc = http_resp_json(resp, 202, json_pack("{s:o}", "server", out));
out:
	if (rc == 0) {
		at[CREATE_PH_RESPOND] = http_req_age_us(req);
		for (int k = 0; k < CREATE_PH__N; k++)
			atomic_fetch_add_explicit(&svc->create_us[k],
			    (uint64_t)(at[k] - (k ? at[k - 1] : 0)),
			    memory_order_relaxed);
		atomic_fetch_add_explicit(&svc->create_write_us[0],
		    (uint64_t)wt.queued_us, memory_order_relaxed);
		atomic_fetch_add_explicit(&svc->create_write_us[1],
		    (uint64_t)(wt.run_us + wt.commit_us), memory_order_relaxed);
		atomic_fetch_add_explicit(&svc->create_write_us[2],
		    (uint64_t)wt.wake_us, memory_order_relaxed);
		atomic_fetch_add_explicit(&svc->creates_timed, 1,
		    memory_order_relaxed);
	}
	codec_clear(&schema_rec_flavor, &c.flavor);
	scheduler_hosts_free(&c.cands);
	free(c.key_data);
	free(c.user_data);
	free(c.uuids);
	free(c.placed);
	return rc;
}

/* ---- update / delete -------------------------------------------------------------- */

struct change {
	struct compute	*svc;
	const struct request_ctx	*ctx;
	const char		*uuid;
	const char		*reqid;
	bool			 admin;
	/* update */
	const char		*name, *ipv4, *ipv6, *description;
	bool			 has_name, has_ipv4, has_ipv6, has_description;
	/* actions */
	const char		*action;	/* API action name */
	const char		*task;		/* task to start, or NULL */
	const char		*reset_state;
	bool			 lock, unlock;
	bool			 local_delete;
	char			 shelved_image[CODEC_UUID_LEN + 1];
	/* rebuild */
	struct compute_image	 image;
	const char		*pass;
	char			 ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
	json_t			*metadata;	/* replaces, when given */
	/* result */
	struct rec_instance	 after;
	bool			 dispatch;
};

static int
locked_check(const struct change *ch, const struct rec_instance *i)
{
	if (i->locked && !ch->admin) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	return 0;
}

static int
update_fn(struct store_txn *txn, void *arg)
{
	struct change *ch = arg;
	struct rec_instance i, old;
	int rc = 0;

	if (compute_db_instance_get(txn, ch->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (ch->has_name) {
		free(i.name);
		i.name = strdup(ch->name);
	}
	if (ch->has_ipv4) {
		free(i.access_ipv4);
		i.access_ipv4 = ch->ipv4 ? strdup(ch->ipv4) : NULL;
	}
	if (ch->has_description && set_nullable(&i.description,
	    ch->description) == -1)
		rc = -1;
	if (ch->has_ipv6) {
		free(i.access_ipv6);
		i.access_ipv6 = ch->ipv6 ? strdup(ch->ipv6) : NULL;
	}
	if (i.name == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		rc = -1;
	}
	i.updated_at = db_now_ms();
	if (rc == 0)
		rc = compute_db_instance_put(txn, &i, &old);
	if (rc == 0)
		rc = compute_db_instance_copy(&i, &ch->after);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

int
compute_servers_update(struct http_req *req, struct http_resp *resp)
{
	struct change ch = { .svc = compute_of(req) };
	struct rec_instance cur;
	char ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
	json_t *s, *out;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 ||
	    load(req, "os_compute_api:servers:update", &cur) == -1)
		return -1;
	ch.uuid = cur.uuid;
	if (jsonreq_body(JSONREQ_NOVA, http_req_json(req), "server",
	    &s) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "name", 1, 255, JSONREQ_BYTES,
	    &ch.name, &ch.has_name) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "accessIPv4", 0, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &ch.ipv4, &ch.has_ipv4) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, s, "accessIPv6", 0, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &ch.ipv6, &ch.has_ipv6) == -1 ||
	    (request_mv_has(mv, MV_DESCRIPTION) && description_get(s,
	    &ch.description, &ch.has_description) == -1) ||
	    (ch.has_name && jsonreq_name(JSONREQ_NOVA, "name", ch.name) ==
	    -1) ||
	    norm_ip("accessIPv4", AF_INET, ch.ipv4, ip4, sizeof(ip4)) == -1 ||
	    norm_ip("accessIPv6", AF_INET6, ch.ipv6, ip6, sizeof(ip6)) ==
	    -1) {
		codec_clear(&schema_rec_instance, &cur);
		return -1;
	}
	ch.ipv4 = *ip4 ? ip4 : NULL;
	ch.ipv6 = *ip6 ? ip6 : NULL;
	rc = compute_write(req, update_fn, &ch);
	codec_clear(&schema_rec_instance, &cur);
	if (rc == -1)
		return -1;
	out = server_json(req, &ch.after, VIEW_BASIC, compute_is_admin(req), true,
	    mv, addresses_basic(addresses_read(req, ch.after.uuid, NULL)));
	codec_clear(&schema_rec_instance, &ch.after);
	return http_resp_json(resp, 200, json_pack("{s:o}", "server", out));
}

/* Resources go back; the guest (if any) goes with a tombstone. */
static int
delete_now(struct compute *svc, struct store_txn *txn,
    const struct rec_instance *i, bool tombstone)
{
	/* Its ports go with it: the ones created for it deleted, the ones it
	 * was given unbound (network_port_release_device()). */
	if (svc->net != NULL && network_port_release_device(svc->net, txn,
	    i->uuid) == -1)
		return -1;
	/* Its volumes are free (the guest goes with its disks, or never
	 * was), as on recon's delete: without this an attached or attaching
	 * volume stayed so for good, its attachment naming a server that
	 * is gone (RELIABILITY.md A10). */
	for (size_t k = 0; svc->vol != NULL && k < i->volumes.n; k++) {
		const struct sch_inst_volume *iv = &i->volumes.items[k];

		if (volume_detach_done(svc->vol, txn, iv->volume_id,
		    iv->attachment_id) == -1)
			return -1;
		if (iv->delete_on_termination && volume_delete_detached(
		    svc->vol, txn, iv->volume_id) == -1)
			return -1;
	}
	if (tombstone) {
		struct rec_instance_tombstone tb = { 0 };

		snprintf(tb.uuid, sizeof(tb.uuid), "%s", i->uuid);
		tb.host = i->host;
		tb.generation = i->generation;
		tb.deleted_at = db_now_ms();
		if (compute_db_tombstone_put(txn, &tb) == -1)
			return -1;
	}
	/* Its claims (a resize's and a live migration's too), and the guest
	 * a cross-host resize keeps on its source. */
	if (recon_claims_release(txn, i) == -1 ||
	    recon_resize_tombstone(txn, i, db_now_ms()) == -1)
		return -1;
	if (compute_db_usage_add(txn, i->project_id, -1, -(int64_t)i->flavor.vcpus,
	    -(int64_t)i->flavor.ram) == -1)
		return -1;
	return compute_db_instance_del(txn, i);
}

static int
delete_fn(struct store_txn *txn, void *arg)
{
	struct change *ch = arg;
	struct rec_instance i, old;
	int rc;

	if (compute_db_instance_get(txn, ch->uuid, &old) == -1)
		return -1;
	if (locked_check(ch, &old) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (old.host == NULL || *old.host == '\0' || ch->local_delete) {
		/* Never placed, or its host is down: done here (Nova's
		 * local delete). */
		if (old.host && *old.host)
			log_warnx("host %s of instance %s is down: deleted "
			    "locally; its guest will be destroyed when the "
			    "host reports it", old.host, old.uuid);
		rc = delete_now(ch->svc, txn, &old, old.host && *old.host);
		/* An offloaded server's image goes after the commit. */
		snprintf(ch->shelved_image, sizeof(ch->shelved_image), "%s",
		    rc == 0 && old.shelved_image_id ? old.shelved_image_id :
		    "");
		codec_clear(&schema_rec_instance, &old);
		return rc;
	}
	if (old.task_state && strcmp(old.task_state, "deleting") == 0) {
		/* Already on its way; the reconciler retries it. */
		codec_clear(&schema_rec_instance, &old);
		return 0;
	}
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	rc = recon_task_begin(ch->svc->recon, txn, &i, "deleting", ch->reqid,
	    ch->ctx->user_id, ch->ctx->project_id, db_now_ms());
	if (rc == 0)
		rc = compute_db_instance_put(txn, &i, &old);
	if (rc == 0) {
		rc = compute_db_instance_copy(&i, &ch->after);
		ch->dispatch = true;
	}
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

int
compute_servers_delete(struct http_req *req, struct http_resp *resp)
{
	struct change ch = { .svc = compute_of(req) };
	struct rec_instance cur;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 ||
	    load(req, "os_compute_api:servers:delete", &cur) == -1)
		return -1;
	ch.ctx = compute_ctx(req);
	ch.uuid = cur.uuid;
	ch.reqid = http_req_id(req);
	ch.admin = compute_is_admin(req);
	ch.local_delete = cur.host != NULL && *cur.host != '\0' &&
	    !scheduler_host_up(ch.svc->sched, cur.host);
	rc = compute_write(req, delete_fn, &ch);
	codec_clear(&schema_rec_instance, &cur);
	if (rc == -1)
		return -1;
	/* A local delete released its ports (else the agent's answer does,
	 * through the reconciler). */
	if (ch.svc->net != NULL && ch.local_delete)
		network_changed(ch.svc->net);
	/* Deleted here: its volumes were freed, their exports go. */
	if (!ch.dispatch)
		volume_changed(ch.svc->vol);
	/* Nova deletes a shelved server's image with it (the reconciler
	 * does when the host answers the delete). */
	if (ch.shelved_image[0] != '\0' && ch.svc->image != NULL &&
	    image_snapshot_drop(ch.svc->image, ch.shelved_image) == -1)
		log_warnx("instance %s: shelved image %s not deleted: %s",
		    ch.uuid, ch.shelved_image, err_msg());
	if (ch.dispatch) {
		recon_dispatch(ch.svc->recon, &ch.after);
		codec_clear(&schema_rec_instance, &ch.after);
	}
	return http_resp_status(resp, 204);
}

/* ---- actions ------------------------------------------------------------------------ */

/* Which vm_states an action accepts (Nova's check_instance_state). */
struct action_rule {
	const char	*action;	/* body key */
	const char	*policy;
	const char	*task;		/* task started; NULL: DB only */
	const char	*states[6];	/* allowed vm_states */
	bool		 any_task;	/* allowed while a task runs */
};

static const struct action_rule action_rules[] = {
	{ "os-start", "os_compute_api:servers:start", "powering-on",
	    { VM_STOPPED }, false },
	{ "os-stop", "os_compute_api:servers:stop", "powering-off",
	    { VM_ACTIVE, VM_ERROR }, false },
	{ "pause", "os_compute_api:os-pause-server:pause", "pausing",
	    { VM_ACTIVE }, false },
	{ "unpause", "os_compute_api:os-pause-server:unpause", "unpausing",
	    { VM_PAUSED }, false },
	{ "suspend", "os_compute_api:os-suspend-server:suspend",
	    "suspending", { VM_ACTIVE }, false },
	{ "resume", "os_compute_api:os-suspend-server:resume", "resuming",
	    { VM_SUSPENDED }, false },
	{ "reboot_soft", "os_compute_api:servers:reboot", "rebooting",
	    { VM_ACTIVE }, false },
	{ "reboot_hard", "os_compute_api:servers:reboot", "rebooting_hard",
	    { VM_ACTIVE, VM_STOPPED, VM_PAUSED, VM_SUSPENDED, VM_ERROR },
	    true },
	{ "rebuild", "os_compute_api:servers:rebuild", "rebuilding",
	    { VM_ACTIVE, VM_STOPPED, VM_ERROR }, false },
};

/* Replace a string map with a (checked) JSON object of strings. */
static int
strmap_set(struct ts_strmap *m, json_t *o)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	for (size_t j = 0; j < m->n; j++) {
		free(m->items[j].k);
		free(m->items[j].v);
	}
	free(m->items);
	m->items = NULL;
	m->n = 0;
	if (json_object_size(o) == 0)
		return 0;
	if ((m->items = calloc(json_object_size(o), sizeof(*m->items))) ==
	    NULL)
		goto nomem;
	json_object_foreach(o, k, v) {
		if ((m->items[n].k = strdup(k)) == NULL ||
		    (m->items[n].v = strdup(json_string_value(v))) == NULL) {
			m->n = n + 1;
			goto nomem;
		}
		m->n = ++n;
	}
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

/* The rebuild's changes to the record: new image, name, metadata and
 * access addresses; a new owner generation, so the host replaces the old
 * guest; the power it ends in (stopped stays stopped). */
static int
rebuild_apply(struct change *ch, struct rec_instance *i)
{
	if (image_apply(i, &ch->image) == -1)
		return -1;
	if (ch->has_name) {
		free(i->name);
		i->name = strdup(ch->name);
	}
	if (ch->has_ipv4) {
		free(i->access_ipv4);
		i->access_ipv4 = ch->ipv4 ? strdup(ch->ipv4) : NULL;
	}
	if (ch->has_description && set_nullable(&i->description,
	    ch->description) == -1)
		return -1;
	if (ch->has_ipv6) {
		free(i->access_ipv6);
		i->access_ipv6 = ch->ipv6 ? strdup(ch->ipv6) : NULL;
	}
	if (i->image_ref == NULL || i->name == NULL ||
	    (ch->metadata && strmap_set(&i->metadata, ch->metadata) == -1)) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	i->generation++;
	i->want_power = strcmp(i->vm_state, VM_STOPPED) == 0 ?
	    POWER_SHUTDOWN : POWER_RUNNING;
	return 0;
}

static const struct action_rule *
rule_for(const char *a)
{
	for (size_t k = 0; k < sizeof(action_rules) / sizeof(action_rules[0]);
	    k++)
		if (strcmp(action_rules[k].action, a) == 0)
			return &action_rules[k];
	return NULL;
}

static int
state_allows(const struct action_rule *r, const struct rec_instance *i,
    const char *shown)
{
	bool ok = false;

	for (size_t k = 0; k < 6 && r->states[k] && !ok; k++)
		ok = strcmp(r->states[k], i->vm_state) == 0;
	if (!ok) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "vm_state %s", shown, i->uuid, i->vm_state);
		return -1;
	}
	/* A hard reboot may take over a soft one (Nova allows it); nothing
	 * else runs over a task. */
	if (i->task_state != NULL && !(r->any_task &&
	    strncmp(i->task_state, "reboot", 6) == 0)) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "task_state %s", shown, i->uuid, i->task_state);
		return -1;
	}
	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: it has no "
		    "host", shown, i->uuid);
		return -1;
	}
	return 0;
}

static int
action_fn(struct store_txn *txn, void *arg)
{
	struct change *ch = arg;
	struct rec_instance i, old;
	int64_t now = db_now_ms();
	int rc = 0;

	if (compute_db_instance_get(txn, ch->uuid, &old) == -1)
		return -1;
	if (compute_db_instance_copy(&old, &i) == -1) {
		codec_clear(&schema_rec_instance, &old);
		return -1;
	}
	if (ch->reset_state) {
		/* Nova's reset-state: the record only, never the host. */
		free(i.vm_state);
		i.vm_state = strdup(ch->reset_state);
		if (i.task_state)
			rc = compute_db_action_finish(txn, i.uuid, i.task_request_id,
			    0, "Task cleared by reset-state", now);
		free(i.task_state);
		i.task_state = NULL;
		free(i.task_request_id);
		i.task_request_id = NULL;
		i.task_deadline = 0;
		/* A live migration given up: the target's claim goes back
		 * (the instance stays on its source host). */
		if (rc == 0 && i.migrate_host != NULL) {
			rc = scheduler_release(txn, i.migrate_host,
			    i.flavor.vcpus, i.flavor.ram,
			    compute_db_claim_disk_gb(&i, &i.flavor));
			free(i.migrate_host);
			i.migrate_host = NULL;
			i.has_migrate_block = false;
		}
		if (i.vm_state == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			rc = -1;
		}
	} else if (ch->lock || ch->unlock) {
		if (ch->unlock && i.locked && i.locked_by &&
		    strcmp(i.locked_by, "admin") == 0 && !ch->admin) {
			err_set(TS_EFORBIDDEN, "Instance %s was locked by an "
			    "administrator", i.uuid);
			rc = -1;
		}
		i.locked = ch->lock;
		free(i.locked_by);
		i.locked_by = NULL;
		if (ch->lock)
			i.locked_by = strdup(ch->admin && strcmp(
			    ch->ctx->project_id ? ch->ctx->project_id : "",
			    i.project_id) != 0 ? "admin" : "owner");
	} else {
		const struct action_rule *r = rule_for(ch->action);

		if (locked_check(ch, &i) == -1 ||
		    state_allows(r, &i, ch->action) == -1)
			rc = -1;
		if (rc == 0 && strcmp(r->task, "rebuilding") == 0)
			rc = rebuild_apply(ch, &i);
		if (rc == 0) {
			rc = recon_task_begin(ch->svc->recon, txn, &i, r->task,
			    ch->reqid, ch->ctx->user_id, ch->ctx->project_id,
			    now);
			ch->dispatch = true;
		}
	}
	i.updated_at = now;
	if (rc == 0)
		rc = compute_db_instance_put(txn, &i, &old);
	if (rc == 0 && ch->dispatch)
		rc = compute_db_instance_copy(&i, &ch->after);
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

static int
console_output(struct http_req *req, struct http_resp *resp, json_t *arg,
    const struct rec_instance *i)
{
	int64_t lines = -1;
	bool has = false;
	char *text = NULL;
	size_t n, start;
	int rc;

	if (json_is_object(arg)) {
		json_t *l = json_object_get(arg, "length");

		if (l != NULL && !json_is_null(l) && jsonreq_int(JSONREQ_NOVA,
		    arg, "length", -1, INT32_MAX, 0, &lines, &has) == -1)
			return -1;
	} else if (arg != NULL && !json_is_null(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "os-getConsoleOutput.");
		return -1;
	}
	if (compute_enforce_owned(req, "os_compute_api:os-console-output",
	    i->project_id, i->user_id, "Instance", i->uuid) == -1)
		return -1;
	if (i->host == NULL || strcmp(i->vm_state, VM_BUILDING) == 0) {
		err_set(TS_ECONFLICT, "Cannot 'get_console_output' instance %s "
		    "while it is in vm_state %s", i->uuid, i->vm_state);
		return -1;
	}
	if (recon_console(compute_of(req)->recon, i->uuid, i->host, 0, &text) ==
	    -1) {
		if (err_code() == TS_ENOT_FOUND || err_code() ==
		    TS_EUNAVAILABLE)
			err_set(TS_ECONFLICT, "Console log of instance %s is "
			    "not available: %s", i->uuid, err_msg());
		return -1;
	}
	/* The last `length` lines as Nova cuts them:
	 * '\n'.join(log.split('\n')[-length:]), and 0 gives "". */
	n = strlen(text);
	start = 0;
	if (has && lines == 0) {
		start = n;
	} else if (has && lines > 0) {
		int64_t seen = 0;

		for (size_t p = n; p > 0; p--) {
			if (text[p - 1] == '\n' && ++seen == lines) {
				start = p;
				break;
			}
		}
	}
	rc = http_resp_json(resp, 200, json_pack("{s:s}", "output",
	    text + start));
	free(text);
	return rc;
}

static int
rebuild_parse(struct http_req *req, int mv, struct change *ch, json_t *arg,
    const struct rec_instance *cur)
{
	const char *ref = NULL;
	struct store_txn *txn = NULL;
	struct rec_compute_quota q;
	struct compute_quota_defaults lim;
	bool preserve;
	int rc;

	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for rebuild: an object is "
		    "expected.");
		return -1;
	}
	if (jsonreq_str(JSONREQ_NOVA, arg, "imageRef", 1, 1024, JSONREQ_BYTES,
	    &ref, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, arg, "name", 1, 255, JSONREQ_BYTES,
	    &ch->name, &ch->has_name) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, arg, "adminPass", 0, 255, JSONREQ_BYTES,
	    &ch->pass, NULL) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, arg, "accessIPv4", 0, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &ch->ipv4, &ch->has_ipv4) == -1 ||
	    jsonreq_str(JSONREQ_NOVA, arg, "accessIPv6", 0, 64, JSONREQ_BYTES |
	    JSONREQ_NULLABLE, &ch->ipv6, &ch->has_ipv6) == -1 ||
	    jsonreq_bool(JSONREQ_NOVA, arg, "preserve_ephemeral", 0, &preserve,
	    NULL) == -1 ||
	    (request_mv_has(mv, MV_DESCRIPTION) && description_get(arg,
	    &ch->description, &ch->has_description) == -1))
		return -1;
	if (ref == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "imageRef. Value: None. It is required.");
		return -1;
	}
	if ((ch->has_name && jsonreq_name(JSONREQ_NOVA, "name",
	    ch->name) == -1) ||
	    norm_ip("accessIPv4", AF_INET, ch->ipv4, ch->ip4,
	    sizeof(ch->ip4)) == -1 ||
	    norm_ip("accessIPv6", AF_INET6, ch->ipv6, ch->ip6,
	    sizeof(ch->ip6)) == -1)
		return -1;
	ch->ipv4 = *ch->ip4 ? ch->ip4 : NULL;
	ch->ipv6 = *ch->ip6 ? ch->ip6 : NULL;
	if (ch->metadata && check_metadata(ch->metadata, 128) == -1)
		return -1;
	ch->metadata = json_object_get(arg, "metadata");
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_servers_image_get(req, txn, ref, &ch->image);
	if (rc == 0 && ch->metadata) {
		rc = compute_db_quota_get(txn, cur->project_id, &q);
		if (rc == 0) {
			compute_admin_quota_limits(compute_of(req), &q, &lim);
			codec_clear(&schema_rec_compute_quota, &q);
			rc = check_metadata(ch->metadata, lim.metadata_items);
		}
	}
	store_txn_end(&txn);
	return rc;
}

/* ---- security groups of a server (through its ports) ------------------------ */

struct sg_change {
	struct compute		*svc;
	const char		*project_id, *uuid, *group;
	bool			 add;
};

static int
sg_fn(struct store_txn *txn, void *arg)
{
	struct sg_change *c = arg;

	return network_port_secgroup_set(c->svc->net, txn, c->project_id,
	    c->uuid, c->group, c->add);
}

/* addSecurityGroup / removeSecurityGroup {"name": NAME-or-ID}: the group
 * of the server's project goes on (off) every port of the server, in one
 * write; the dataplane hears after the commit. 202, no body. */
static int
secgroup_action(struct http_req *req, struct http_resp *resp,
    const char *action, json_t *arg, const struct rec_instance *i)
{
	struct sg_change c = { .svc = compute_of(req), .project_id =
	    i->project_id, .uuid = i->uuid };
	const char *name = NULL;

	c.add = strcmp(action, "addSecurityGroup") == 0;
	if (compute_enforce_owned(req, c.add ?
	    "os_compute_api:os-security-groups:add" :
	    "os_compute_api:os-security-groups:remove", i->project_id,
	    i->user_id, "Instance", i->uuid) == -1)
		return -1;
	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for %s: an object is "
		    "expected.", action);
		return -1;
	}
	if (jsonreq_str(JSONREQ_NOVA, arg, "name", 1, 255, JSONREQ_BYTES,
	    &name, NULL) == -1)
		return -1;
	if (name == NULL) {
		err_set(TS_EINVALID, "Security group name cannot be empty");
		return -1;
	}
	if (c.svc->net == NULL) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: no network "
		    "service", action, i->uuid);
		return -1;
	}
	c.group = name;
	if (compute_write(req, sg_fn, &c) == -1)
		return -1;
	network_changed(c.svc->net);
	log_info("instance %s: %s %s", i->uuid, action, name);
	return http_resp_status(resp, 202);
}

/* GET os-security-groups[/{id}]: Nova's proxy of the network service's
 * groups, the caller's project's (the admin's all_tenants: every
 * project's); gone from microversion 2.36 on, as in Nova. */
static int
secgroups_proxy(struct http_req *req, struct http_resp *resp, const char *id)
{
	struct store_txn *txn = NULL;
	const char *project = compute_ctx(req)->project_id;
	json_t *o = NULL;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (request_mv_has(mv, MV_NO_PROXY)) {
		err_set(TS_ENOT_FOUND, "The resource could not be found.");
		return -1;
	}
	if (id == NULL && jsonreq_query_bool(JSONREQ_NOVA,
	    http_req_query(req, "all_tenants")) && compute_is_admin(req))
		project = NULL;
	if (id != NULL && compute_is_admin(req))
		project = NULL;
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = network_secgroups_nova(txn, project, id, &o);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}", id == NULL ?
	    "security_groups" : "security_group", o));
}

int
compute_secgroups_list(struct http_req *req, struct http_resp *resp)
{
	return secgroups_proxy(req, resp, NULL);
}

int
compute_secgroups_show(struct http_req *req, struct http_resp *resp)
{
	return secgroups_proxy(req, resp, http_req_param(req,
	    "security_group_id"));
}

/* ---- trigger_crash_dump (microversion 2.17) ------------------------------- */

struct crash {
	const struct request_ctx	*ctx;
	const char			*uuid;
	const char			*reqid;
	bool				 admin;
	struct rec_instance		 after;
	bool				 started;
};

/* Nova's check_instance_lock and check_instance_state for it: active,
 * paused or error (rescued and resized do not exist here), no task. */
static int
crash_ok(const struct rec_instance *i, bool admin)
{
	if (i->locked && !admin) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	if (strcmp(i->vm_state, VM_ACTIVE) != 0 &&
	    strcmp(i->vm_state, VM_PAUSED) != 0 &&
	    strcmp(i->vm_state, VM_ERROR) != 0) {
		err_set(TS_ECONFLICT, "Cannot 'trigger_crash_dump' instance %s "
		    "while it is in vm_state %s", i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot 'trigger_crash_dump' instance %s "
		    "while it is in task_state %s", i->uuid, i->task_state);
		return -1;
	}
	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "Instance %s is not ready", i->uuid);
		return -1;
	}
	return 0;
}

static int
crash_fn(struct store_txn *txn, void *arg)
{
	struct crash *c = arg;

	if (c->started)
		codec_clear(&schema_rec_instance, &c->after);
	c->started = false;
	if (compute_db_instance_get(txn, c->uuid, &c->after) == -1)
		return -1;
	c->started = true;
	if (crash_ok(&c->after, c->admin) == -1)
		return -1;
	return compute_db_action_start(txn, &c->after, c->reqid,
	    "trigger_crash_dump", c->ctx->user_id, c->ctx->project_id,
	    db_now_ms());
}

/* {"trigger_crash_dump": null}: the action recorded, the host sent an NMI
 * for the guest (recon_crash_dump()); 202 before the host acts, as Nova's
 * cast. The host's answer ends the action's event. */
static int
crash_dump(struct http_req *req, struct http_resp *resp, json_t *arg,
    const struct rec_instance *cur)
{
	struct crash c = { .ctx = compute_ctx(req), .uuid = cur->uuid,
	    .reqid = http_req_id(req), .admin = compute_is_admin(req) };
	int rc = -1;

	if (!json_is_null(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "trigger_crash_dump. Value: %s. It is not of type 'null'",
		    json_is_string(arg) ? json_string_value(arg) : "(value)");
		return -1;
	}
	if (compute_enforce_owned(req, "os_compute_api:servers:"
	    "trigger_crash_dump", cur->project_id, cur->user_id, "Instance",
	    cur->uuid) == -1 || crash_ok(cur, c.admin) == -1)
		return -1;
	/* A post that fails (logged) is Nova's cast lost with its compute
	 * service: still a 202, the event left running. */
	if (compute_write(req, crash_fn, &c) == 0) {
		(void)recon_crash_dump(compute_of(req)->recon, &c.after,
		    c.reqid);
		rc = http_resp_status(resp, 202);
	}
	if (c.started)
		codec_clear(&schema_rec_instance, &c.after);
	return rc;
}

int
compute_servers_action(struct http_req *req, struct http_resp *resp)
{
	struct change ch = { .svc = compute_of(req) };
	json_t *b = http_req_json(req), *arg;
	struct rec_instance cur;
	const char *key, *shown;
	void *it;
	char pw[13];
	int mv, rebuild, rc = -1;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (b == NULL || !json_is_object(b) || json_object_size(b) != 1) {
		err_set(TS_EINVALID, "Malformed request body: one action "
		    "expected.");
		return -1;
	}
	it = json_object_iter(b);
	key = json_object_iter_key(it);
	arg = json_object_iter_value(it);
	/* Owner or admin may see it; each action then checks its rule. */
	if (load(req, "os_compute_api:servers:show", &cur) == -1)
		return -1;
	ch.ctx = compute_ctx(req);
	ch.uuid = cur.uuid;
	ch.reqid = http_req_id(req);
	ch.admin = compute_is_admin(req);
	shown = key;
	if (strcmp(key, "os-getConsoleOutput") == 0) {
		rc = console_output(req, resp, arg, &cur);
		goto out;
	} else if (strcmp(key, "os-getVNCConsole") == 0) {
		rc = compute_console_vnc_action(req, resp, arg, &cur, mv);
		goto out;
	} else if (strcmp(key, "os-getSPICEConsole") == 0 ||
	    strcmp(key, "os-getSerialConsole") == 0 ||
	    strcmp(key, "os-getRDPConsole") == 0) {
		rc = compute_console_other_action(req, key, arg, &cur, mv);
		goto out;
	} else if (strcmp(key, "changePassword") == 0) {
		rc = compute_change_password(req, arg, &cur);
		goto out;
	} else if (!request_mv_has(mv, MV_NO_MULTINIC) && (strcmp(key, "addFixedIp") == 0 ||
	    strcmp(key, "removeFixedIp") == 0)) {
		rc = compute_interfaces_fixed_ip(req, resp, key, arg);
		goto out;
	} else if (strcmp(key, "addSecurityGroup") == 0 ||
	    strcmp(key, "removeSecurityGroup") == 0) {
		rc = secgroup_action(req, resp, key, arg, &cur);
		goto out;
	} else if (strcmp(key, "createImage") == 0 ||
	    strcmp(key, "createBackup") == 0) {
		rc = compute_snapshot_action(req, resp, key, arg, &cur);
		goto out;
	} else if (strcmp(key, "evacuate") == 0) {
		rc = compute_evacuate_action(req, resp, mv, arg, &cur);
		goto out;
	} else if (strcmp(key, "shelve") == 0 ||
	    strcmp(key, "shelveOffload") == 0 ||
	    strcmp(key, "unshelve") == 0) {
		rc = compute_shelve_action(req, resp, key, arg, &cur);
		goto out;
	} else if (strcmp(key, "os-migrateLive") == 0) {
		rc = compute_migrate_live_action(req, resp, mv, arg, &cur);
		goto out;
	} else if (request_mv_has(mv, MV_CRASH_DUMP) &&
	    strcmp(key, "trigger_crash_dump") == 0) {
		rc = crash_dump(req, resp, arg, &cur);
		goto out;
	} else if (strcmp(key, "resize") == 0 || strcmp(key, "migrate") ==
	    0 || strcmp(key, "confirmResize") == 0 ||
	    strcmp(key, "revertResize") == 0) {
		rc = compute_resize_action(req, resp, key, arg, &cur);
		goto out;
	} else if (strcmp(key, "os-resetState") == 0) {
		const char *st = NULL;

		if (compute_enforce(req, "os_compute_api:os-admin-actions:"
		    "reset_state") == -1)
			goto out;
		if (!json_is_object(arg)) {
			err_set(TS_EINVALID, "Invalid input for "
			    "os-resetState: an object is expected.");
			goto out;
		}
		if (jsonreq_str(JSONREQ_NOVA, arg, "state", 1, 16,
		    JSONREQ_BYTES, &st, NULL) == -1)
			goto out;
		if (st == NULL || (strcmp(st, "active") != 0 &&
		    strcmp(st, "error") != 0)) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "state. Value: %s. It must be one of 'active', "
			    "'error'.", st ? st : "None");
			goto out;
		}
		ch.reset_state = st;
		ch.action = key;
	} else if (strcmp(key, "lock") == 0 || strcmp(key, "unlock") == 0) {
		ch.lock = key[0] == 'l';
		ch.unlock = !ch.lock;
		if (compute_enforce_owned(req, ch.lock ?
		    "os_compute_api:os-lock-server:lock" :
		    "os_compute_api:os-lock-server:unlock", cur.project_id,
		    cur.user_id, "Instance", cur.uuid) == -1)
			goto out;
		ch.action = key;
	} else {
		const struct action_rule *r;

		if (strcmp(key, "rebuild") == 0) {
			if (rebuild_parse(req, mv, &ch, arg, &cur) == -1)
				goto out;
		}
		if (strcmp(key, "reboot") == 0) {
			const char *type = NULL;

			if (!json_is_object(arg)) {
				err_set(TS_EINVALID, "Invalid input for reboot: "
				    "an object is expected.");
				goto out;
			}
			if (jsonreq_str(JSONREQ_NOVA, arg, "type", 1, 8,
			    JSONREQ_BYTES, &type, NULL) == -1)
				goto out;
			if (type == NULL || (strcasecmp(type, "SOFT") != 0 &&
			    strcasecmp(type, "HARD") != 0)) {
				err_set(TS_EINVALID, "Invalid input for "
				    "field/attribute type. It must be one of "
				    "'SOFT', 'HARD'.");
				goto out;
			}
			ch.action = strcasecmp(type, "HARD") == 0 ?
			    "reboot_hard" : "reboot_soft";
			shown = "reboot";
		} else {
			ch.action = key;
		}
		if ((r = rule_for(ch.action)) == NULL) {
			err_set(TS_EINVALID, "There is no such action: %.64s",
			    key);
			goto out;
		}
		if (compute_enforce_owned(req, r->policy, cur.project_id,
		    cur.user_id, "Instance", cur.uuid) == -1)
			goto out;
		/* The state check is repeated in the transaction; this one
		 * gives the error with the name the client used. */
		if (locked_check(&ch, &cur) == -1 ||
		    state_allows(r, &cur, shown) == -1)
			goto out;
	}
	if (compute_write(req, action_fn, &ch) == -1)
		goto out;
	rebuild = strcmp(key, "rebuild") == 0;
	if (rebuild && ch.pass == NULL)
		compute_servers_password(pw);
	if (ch.dispatch && rebuild)
		recon_dispatch_pass(ch.svc->recon, &ch.after,
		    ch.pass ? ch.pass : pw);
	else if (ch.dispatch)
		recon_dispatch(ch.svc->recon, &ch.after);
	if (rebuild) {
		/* Nova answers a rebuild with the server and its password. */
		json_t *o = server_json(req, &ch.after, VIEW_BASIC, ch.admin,
		    true, mv, addresses_basic(addresses_read(req,
		    ch.after.uuid, NULL)));

		if (o)
			json_object_set_new(o, "adminPass",
			    json_string(ch.pass ? ch.pass : pw));
		rc = http_resp_json(resp, 202, json_pack("{s:o}", "server", o));
	} else {
		rc = http_resp_status(resp, 202);
	}
	if (ch.dispatch)
		codec_clear(&schema_rec_instance, &ch.after);
out:
	codec_clear(&schema_rec_instance, &cur);
	return rc;
}

/* ---- instance actions ------------------------------------------------------------------ */

struct acts {
	struct http_req	*req;
	json_t		*arr;
	bool		 events;
	const char	*only;		/* request id */
	json_t		*found;
};

static json_t *
action_json(const struct rec_instance_action *a, bool events)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s}",
	    "action", a->action, "instance_uuid", a->instance_uuid,
	    "request_id", a->request_id, "user_id", a->user_id,
	    "start_time", compute_time_or_null(a->start_time, 1),
	    "message", a->message ? json_string(a->message) : json_null(),
	    "project_id", a->project_id);

	if (o != NULL && events) {
		json_t *ev = json_array();

		for (size_t k = 0; ev && k < a->events.n; k++) {
			const struct sch_action_event *e = &a->events.items[k];

			json_array_append_new(ev, json_pack("{s:s, s:o, s:o, "
			    "s:o, s:o}", "event", e->event, "start_time",
			    compute_time_or_null(e->start_time, 1), "finish_time",
			    compute_time_or_null(e->finish_time, 1), "result",
			    e->result ? json_string(e->result) : json_null(),
			    "traceback", e->traceback ?
			    json_string(e->traceback) : json_null()));
		}
		json_object_set_new(o, "events", ev);
	}
	return o;
}

static int
acts_cb(const struct rec_instance_action *a, void *arg)
{
	struct acts *s = arg;

	if (s->only) {
		if (strcmp(a->request_id, s->only) == 0) {
			s->found = action_json(a, s->events);
			return 1;
		}
		return 0;
	}
	json_array_append_new(s->arr, action_json(a, false));
	return 0;
}

static int
cmp_start_desc(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

	return -strcmp(json_string_value(json_object_get(x, "start_time")),
	    json_string_value(json_object_get(y, "start_time")));
}

struct owner {
	char	project_id[65];
	char	user_id[65];
	bool	found;
};

/* The owner of a server from its "create" action (recorded in the
 * owner's context, as Nova's). */
static int
owner_cb(const struct rec_instance_action *a, void *arg)
{
	struct owner *o = arg;

	if (strcmp(a->action, "create") != 0)
		return 0;
	snprintf(o->project_id, sizeof(o->project_id), "%s", a->project_id);
	snprintf(o->user_id, sizeof(o->user_id), "%s", a->user_id);
	o->found = true;
	return 1;
}

/*
 * Microversion 2.21: the actions of a deleted server stay readable (Nova
 * reads the instance with read_deleted). Called once the live look-up
 * answered 404: a server that still exists (another project's) keeps that
 * answer; a deleted one is its actions, under rule on the project that
 * created it. uuid receives the server's id.
 */
static int
load_deleted(struct http_req *req, const char *rule,
    char uuid[CODEC_UUID_LEN + 1])
{
	const char *id = http_req_param(req, "server_id");
	struct store_txn *txn = NULL;
	struct rec_instance i;
	struct owner o = { .found = false };
	int rc;

	if (id == NULL || strlen(id) != CODEC_UUID_LEN)
		return -1;
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_instance_get(txn, id, &i);
	if (rc == 0) {
		codec_clear(&schema_rec_instance, &i);
		store_txn_end(&txn);
		err_set(TS_ENOT_FOUND, "Instance %s could not be found.", id);
		return -1;
	}
	rc = compute_db_action_each(txn, id, owner_cb, &o);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	if (!o.found) {
		err_set(TS_ENOT_FOUND, "Instance %s could not be found.", id);
		return -1;
	}
	if (compute_enforce_owned(req, rule, o.project_id, o.user_id,
	    "Instance", id) == -1)
		return -1;
	snprintf(uuid, CODEC_UUID_LEN + 1, "%s", id);
	return 0;
}

static int
actions(struct http_req *req, struct http_resp *resp, bool show)
{
	struct acts s = { .req = req };
	struct rec_instance cur;
	struct store_txn *txn = NULL;
	const char *rule = show ? "os_compute_api:os-instance-actions:show" :
	    "os_compute_api:os-instance-actions:list";
	char uuid[CODEC_UUID_LEN + 1];
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	memset(&cur, 0, sizeof(cur));
	if (load(req, rule, &cur) == 0) {
		snprintf(uuid, sizeof(uuid), "%s", cur.uuid);
	} else if (err_code() != TS_ENOT_FOUND ||
	    !request_mv_has(mv, MV_DELETED_ACTIONS) ||
	    load_deleted(req, rule, uuid) == -1) {
		return -1;
	}
	if (show) {
		s.only = http_req_param(req, "request_id");
		s.events = request_enforce(req,
		    "os_compute_api:os-instance-actions:events", NULL) == 0;
		err_clear();
	} else {
		s.arr = json_array();
	}
	rc = compute_read(req, &txn);
	if (rc == 0)
		rc = compute_db_action_each(txn, uuid, acts_cb, &s);
	store_txn_end(&txn);
	if (rc == -1) {
		json_decref(s.arr);
		json_decref(s.found);
	} else if (show) {
		if (s.found == NULL) {
			err_set(TS_ENOT_FOUND, "Action %s could not be found.",
			    s.only);
			rc = -1;
		} else {
			rc = http_resp_json(resp, 200, json_pack("{s:o}",
			    "instanceAction", s.found));
		}
	} else {
		size_t n = json_array_size(s.arr);
		json_t **v = calloc(n ? n : 1, sizeof(*v)), *sorted;

		for (size_t k = 0; v && k < n; k++)
			v[k] = json_incref(json_array_get(s.arr, k));
		if (v)
			qsort(v, n, sizeof(*v), cmp_start_desc);
		sorted = json_array();
		for (size_t k = 0; v && k < n; k++)
			json_array_append_new(sorted, v[k]);
		free(v);
		json_decref(s.arr);
		rc = http_resp_json(resp, 200, json_pack("{s:o}",
		    "instanceActions", sorted));
	}
	codec_clear(&schema_rec_instance, &cur);
	return rc;
}

int
compute_servers_actions_list(struct http_req *req, struct http_resp *resp)
{
	return actions(req, resp, false);
}

int
compute_servers_action_show(struct http_req *req, struct http_resp *resp)
{
	return actions(req, resp, true);
}

/* ---- small views ------------------------------------------------------------------------- */

/* compute_servers_diagnostics(): compute_diagnostics.c */

/* GET /servers/{id}/ips and /ips/{network_label}: the addresses from the
 * ports, read in the transaction that read the server. */
static int
ips(struct http_req *req, struct http_resp *resp, const char *rule,
    const char *label)
{
	const char *id = http_req_param(req, "server_id");
	struct store_txn *txn = NULL;
	struct rec_instance i;
	json_t *a = NULL;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (!jsonreq_uuid_like(id)) {
		err_set(TS_ENOT_FOUND, "Instance %s could not be found.", id);
		return -1;
	}
	memset(&i, 0, sizeof(i));
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_db_instance_get(txn, id, &i);
	if (rc == 0 && (rc = compute_enforce_owned(req, rule, i.project_id,
	    i.user_id, "Instance", id)) == 0 &&
	    (a = addresses_json(compute_of(req), txn, id, label,
	    NULL)) == NULL)
		rc = -1;
	else if (rc == 0)
		addresses_basic(a);
	store_txn_end(&txn);
	codec_clear(&schema_rec_instance, &i);
	if (rc == -1)
		return -1;
	if (label == NULL)
		return http_resp_json(resp, 200, json_pack("{s:o}",
		    "addresses", a));
	if (json_object_size(a) == 0) {
		json_decref(a);
		/* Nova's words for a label the server has no address on. */
		err_set(TS_ENOT_FOUND, "Instance is not a member of specified "
		    "network");
		return -1;
	}
	/* Nova's body: {"<label>": [...]} */
	return http_resp_json(resp, 200, a);
}

int
compute_servers_ips(struct http_req *req, struct http_resp *resp)
{
	return ips(req, resp, "os_compute_api:ips:index", NULL);
}

int
compute_servers_ips_show(struct http_req *req, struct http_resp *resp)
{
	return ips(req, resp, "os_compute_api:ips:show",
	    http_req_param(req, "network_label"));
}

int
compute_servers_metadata_list(struct http_req *req, struct http_resp *resp)
{
	struct rec_instance cur;
	json_t *m;
	int mv;

	if (compute_version(req, resp, &mv) == -1 ||
	    load(req, "os_compute_api:server-metadata:index", &cur) == -1)
		return -1;
	m = strmap_json(&cur.metadata);
	codec_clear(&schema_rec_instance, &cur);
	return http_resp_json(resp, 200, json_pack("{s:o}", "metadata", m));
}

int
compute_servers_state_check(const struct rec_instance *i, const char *action,
    const char *const states[])
{
	bool ok = false;

	for (size_t k = 0; states[k] != NULL && !ok; k++)
		ok = strcmp(states[k], i->vm_state) == 0;
	if (!ok) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "vm_state %s", action, i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "task_state %s", action, i->uuid, i->task_state);
		return -1;
	}
	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: it has no "
		    "host", action, i->uuid);
		return -1;
	}
	return 0;
}
