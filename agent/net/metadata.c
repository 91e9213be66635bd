/* metadata: the host's instance metadata service; see metadata.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "clock.h"
#include "codec.h"
#include "err.h"
#include "ifname.h"
#include "log.h"
#include "metadata.h"
#include "uuid.h"

#define NICS_MAX	32
#define ARP_MAX		(4u << 20)	/* bytes of /proc/net/arp read */
#define STATE_FILE_MAX	(1u << 20)	/* one instance's saved documents */

struct inst {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		*meta_json;	/* as given */
	json_t		*meta;		/* parsed: hostname, public_keys */
	uint8_t		*user_data;
	size_t		 ud_len;
	bool		 has_ud;
	struct {
		char	port_id[CODEC_UUID_LEN + 1];
		char	network_id[CODEC_UUID_LEN + 1];
		char	mac[18];
	}		 nics[NICS_MAX];
	size_t		 nnics;
};

struct listener {
	char	bridge[IFNAME_MAX + 1];
	int	fd;
	int	ifindex;
	bool	warned;			/* an open failure was logged */
};

struct conn {
	int	 fd;
	char	 bridge[IFNAME_MAX + 1];
	char	 ip[INET_ADDRSTRLEN];
	in_addr_t addr;			/* the same, binary */
	int64_t	 deadline;
	char	 in[METADATA_REQ_MAX];
	size_t	 inlen;
	char	*out;
	size_t	 outlen, outoff;
};

struct metadata {
	pthread_mutex_t		 mu;
	/* Under mu. */
	struct inst		*insts;
	size_t			 ninsts;
	struct msg_host_network	*net;
	/* bridge of net->networks.items[i] ("" : not served) */
	char			(*bridges)[IFNAME_MAX + 1];
	bool			 net_changed;
	char			 state_dir[256];	/* "" : not kept */
	/* Server thread. */
	pthread_t		 th;
	bool			 started;
	int			 wake[2];
	int			 stop;		/* under mu */
	uint16_t		 port;
	char			 arp_path[256];
	struct listener		*ls;
	size_t			 nls;
	struct conn		*conns[METADATA_CONN_MAX];
};

/* ------------------------------------------------------------ data */

static void
inst_clear(struct inst *i)
{
	free(i->meta_json);
	json_decref(i->meta);
	free(i->user_data);
	memset(i, 0, sizeof(*i));
}

struct metadata *
metadata_new(void)
{
	struct metadata *md = calloc(1, sizeof(*md));

	if (md == NULL) {
		err_set(TS_ENOMEM, "metadata: out of memory");
		return NULL;
	}
	pthread_mutex_init(&md->mu, NULL);
	md->wake[0] = md->wake[1] = -1;
	return md;
}

static void
conn_close(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	close(c->fd);
	free(c->out);
	free(c);
	*cp = NULL;
}

void
metadata_free(struct metadata **mdp)
{
	struct metadata *md = *mdp;

	if (md == NULL)
		return;
	if (md->started) {
		pthread_mutex_lock(&md->mu);
		md->stop = 1;
		pthread_mutex_unlock(&md->mu);
		if (write(md->wake[1], "x", 1) == -1)
			log_warn("metadata: wake");
		pthread_join(md->th, NULL);
	}
	for (size_t i = 0; i < md->nls; i++)
		if (md->ls[i].fd >= 0)
			close(md->ls[i].fd);
	free(md->ls);
	for (size_t i = 0; i < METADATA_CONN_MAX; i++)
		conn_close(&md->conns[i]);
	if (md->wake[0] >= 0) {
		close(md->wake[0]);
		close(md->wake[1]);
	}
	for (size_t i = 0; i < md->ninsts; i++)
		inst_clear(&md->insts[i]);
	free(md->insts);
	codec_free(&schema_msg_host_network, (void **)&md->net);
	free(md->bridges);
	pthread_mutex_destroy(&md->mu);
	free(md);
	*mdp = NULL;
}

/* MAC text to canonical lower case "xx:xx:xx:xx:xx:xx"; -1 if malformed. */
static int
mac_norm(const char *in, char out[18])
{
	unsigned b[6];
	char tail;

	if (in == NULL || strlen(in) != 17 ||
	    sscanf(in, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
	    &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		if (in[3 * i] == ' ' || in[3 * i] == '+' || in[3 * i] == '-')
			return -1;
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2],
	    b[3], b[4], b[5]);
	return 0;
}

/* json_object_set_new() that also fails on a NULL value (a failed
 * json_string() and the like). */
static int
jset_(json_t *o, const char *k, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(o, k, v);
}

static struct inst *
inst_find(struct metadata *md, const char *uuid)
{
	for (size_t i = 0; i < md->ninsts; i++)
		if (strcmp(md->insts[i].uuid, uuid) == 0)
			return &md->insts[i];
	return NULL;
}

static int	state_save(struct metadata *, const struct inst *);

static int
put(struct metadata *md, const char *uuid, const char *meta_data_json,
    const void *user_data, size_t user_data_len, bool has_user_data,
    const struct metadata_nic *nics, size_t nnics, bool save)
{
	struct inst n = { 0 }, *slot;
	json_error_t jerr;

	if (uuid == NULL || !uuid_valid(uuid) || meta_data_json == NULL ||
	    nnics > NICS_MAX || (nnics && nics == NULL)) {
		err_set(TS_EINVALID, "metadata: instance id, document or NICs "
		    "invalid");
		return -1;
	}
	snprintf(n.uuid, sizeof(n.uuid), "%s", uuid);
	n.meta = json_loads(meta_data_json, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(n.meta)) {
		json_decref(n.meta);
		err_set(TS_EINVALID, "metadata: meta_data of %s is not a JSON "
		    "object", uuid);
		return -1;
	}
	for (size_t i = 0; i < nnics; i++) {
		if (nics[i].port_id == NULL || !uuid_valid(nics[i].port_id) ||
		    nics[i].network_id == NULL ||
		    !uuid_valid(nics[i].network_id) ||
		    mac_norm(nics[i].mac, n.nics[i].mac) == -1) {
			json_decref(n.meta);
			err_set(TS_EINVALID, "metadata: NIC %zu of %s invalid",
			    i, uuid);
			return -1;
		}
		snprintf(n.nics[i].port_id, sizeof(n.nics[i].port_id), "%s",
		    nics[i].port_id);
		snprintf(n.nics[i].network_id, sizeof(n.nics[i].network_id),
		    "%s", nics[i].network_id);
	}
	n.nnics = nnics;
	n.has_ud = has_user_data;
	if ((n.meta_json = strdup(meta_data_json)) == NULL ||
	    (has_user_data && (n.user_data = malloc(user_data_len + 1)) ==
	    NULL)) {
		inst_clear(&n);
		err_set(TS_ENOMEM, "metadata: out of memory");
		return -1;
	}
	if (has_user_data) {
		if (user_data_len)
			memcpy(n.user_data, user_data, user_data_len);
		n.ud_len = user_data_len;
	}
	/* Saved first: what is served survives an agent restart. */
	if (save && state_save(md, &n) == -1) {
		inst_clear(&n);
		return -1;
	}
	pthread_mutex_lock(&md->mu);
	if ((slot = inst_find(md, uuid)) != NULL) {
		inst_clear(slot);
	} else {
		struct inst *v = realloc(md->insts, (md->ninsts + 1) *
		    sizeof(*v));

		if (v == NULL) {
			pthread_mutex_unlock(&md->mu);
			inst_clear(&n);
			err_set(TS_ENOMEM, "metadata: out of memory");
			return -1;
		}
		md->insts = v;
		slot = &md->insts[md->ninsts++];
	}
	*slot = n;
	pthread_mutex_unlock(&md->mu);
	return 0;
}

int
metadata_instance_put(struct metadata *md, const char *uuid,
    const char *meta_data_json, const void *user_data, size_t user_data_len,
    bool has_user_data, const struct metadata_nic *nics, size_t nnics)
{
	return put(md, uuid, meta_data_json, user_data, user_data_len,
	    has_user_data, nics, nnics, true);
}

/* ------------------------------------------------------------ state */

static int
state_path(const struct metadata *md, const char *uuid, const char *suffix,
    char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s.json%s", md->state_dir, uuid,
	    suffix);

	if (n < 0 || (size_t)n >= len) {
		err_set(TS_EINVALID, "metadata: state path too long");
		return -1;
	}
	return 0;
}

/* <state_dir>/<uuid>.json: {"meta_data": text, "user_data": hex or null,
 * "nics": [[port, network, mac]...]}, 0600 (user data may be secret),
 * written to a temporary file and renamed. */
static int
state_save(struct metadata *md, const struct inst *in)
{
	char path[512], tmp[512], *text = NULL, *hex = NULL;
	json_t *o = NULL, *nics;
	int fd = -1, rc = -1;
	size_t len, off = 0;

	if (md->state_dir[0] == '\0')
		return 0;
	if (state_path(md, in->uuid, "", path, sizeof(path)) == -1 ||
	    state_path(md, in->uuid, ".tmp", tmp, sizeof(tmp)) == -1)
		return -1;
	if (in->has_ud) {
		if ((hex = malloc(2 * in->ud_len + 1)) == NULL)
			goto nomem;
		for (size_t i = 0; i < in->ud_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", in->user_data[i]);
		hex[2 * in->ud_len] = '\0';
	}
	if ((o = json_object()) == NULL || (nics = json_array()) == NULL ||
	    json_object_set_new(o, "nics", nics) == -1 ||
	    jset_(o, "meta_data", json_string(in->meta_json)) == -1 ||
	    jset_(o, "user_data", hex ? json_string(hex) : json_null()) == -1)
		goto nomem;
	for (size_t i = 0; i < in->nnics; i++)
		if (json_array_append_new(nics, json_pack("[sss]",
		    in->nics[i].port_id, in->nics[i].network_id,
		    in->nics[i].mac)) == -1)
			goto nomem;
	if ((text = json_dumps(o, JSON_COMPACT)) == NULL)
		goto nomem;
	len = strlen(text);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		goto io;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto io;
		off += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto io;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto io;
	rc = 0;
	goto out;
nomem:
	err_set(TS_ENOMEM, "metadata: out of memory");
	goto out;
io:
	err_set_errno(TS_EIO, "metadata: saving %s", path);
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	json_decref(o);
	free(text);
	free(hex);
	return rc;
}

static int
unhex(const char *h, uint8_t **out, size_t *len)
{
	size_t n = strlen(h);

	if (n % 2 || (*out = malloc(n / 2 + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1 ||
		    strchr("0123456789abcdef", h[2 * i]) == NULL ||
		    strchr("0123456789abcdef", h[2 * i + 1]) == NULL ||
		    h[2 * i] == '\0' || h[2 * i + 1] == '\0') {
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

/* One saved instance; a file that does not load is logged and left. */
static void
state_load_one(struct metadata *md, const char *uuid)
{
	char path[512];
	json_error_t jerr;
	json_t *o, *nics, *ud;
	struct metadata_nic mn[NICS_MAX];
	uint8_t *bytes = NULL;
	size_t blen = 0, nn;
	const char *meta;
	struct stat st;

	if (state_path(md, uuid, "", path, sizeof(path)) == -1)
		return;
	if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > STATE_FILE_MAX) {
		log_warnx("metadata: %s is not a saved instance; ignored", path);
		return;
	}
	o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	meta = json_string_value(json_object_get(o, "meta_data"));
	nics = json_object_get(o, "nics");
	ud = json_object_get(o, "user_data");
	nn = json_array_size(nics);
	if (meta == NULL || !json_is_array(nics) || nn > NICS_MAX ||
	    (ud != NULL && !json_is_null(ud) && (!json_is_string(ud) ||
	    unhex(json_string_value(ud), &bytes, &blen) == -1))) {
		log_warnx("metadata: %s is not a saved instance; ignored", path);
		json_decref(o);
		return;
	}
	for (size_t i = 0; i < nn; i++) {
		json_t *e = json_array_get(nics, i);

		mn[i] = (struct metadata_nic){
		    json_string_value(json_array_get(e, 0)),
		    json_string_value(json_array_get(e, 1)),
		    json_string_value(json_array_get(e, 2)) };
	}
	if (put(md, uuid, meta, bytes, blen, bytes != NULL, mn, nn, false) ==
	    -1)
		log_warnx("metadata: %s: %s", path, err_msg());
	free(bytes);
	json_decref(o);
}

int
metadata_state_dir(struct metadata *md, const char *dir)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (dir == NULL || dir[0] != '/' ||
	    strlen(dir) >= sizeof(md->state_dir)) {
		err_set(TS_EINVALID, "metadata: state directory must be an "
		    "absolute path");
		return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		err_set_errno(TS_EIO, "metadata: mkdir %s", dir);
		return -1;
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		err_set(TS_EIO, "metadata: %s is not a directory", dir);
		return -1;
	}
	snprintf(md->state_dir, sizeof(md->state_dir), "%s", dir);
	if ((d = opendir(dir)) == NULL) {
		err_set_errno(TS_EIO, "metadata: opendir %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char id[CODEC_UUID_LEN + 1];
		size_t n = strlen(de->d_name);

		if (n != CODEC_UUID_LEN + 5 ||
		    strcmp(de->d_name + CODEC_UUID_LEN, ".json") != 0)
			continue;
		memcpy(id, de->d_name, CODEC_UUID_LEN);
		id[CODEC_UUID_LEN] = '\0';
		if (uuid_valid(id))
			state_load_one(md, id);
	}
	closedir(d);
	return 0;
}

void
metadata_instance_del(struct metadata *md, const char *uuid)
{
	struct inst *i;
	char path[512];

	if (uuid == NULL)
		return;
	if (md->state_dir[0] && uuid_valid(uuid) &&
	    state_path(md, uuid, "", path, sizeof(path)) == 0 &&
	    unlink(path) == -1 && errno != ENOENT)
		log_warn("metadata: removing %s", path);
	pthread_mutex_lock(&md->mu);
	if ((i = inst_find(md, uuid)) != NULL) {
		inst_clear(i);
		*i = md->insts[--md->ninsts];
		memset(&md->insts[md->ninsts], 0, sizeof(*i));
	}
	pthread_mutex_unlock(&md->mu);
}

int
metadata_network_set(struct metadata *md,
    const struct msg_host_network *desired,
    const struct msg_host_network_state *state)
{
	struct msg_host_network *c = NULL;
	char (*br)[IFNAME_MAX + 1] = NULL;
	struct buf b = { 0 };

	if (desired != NULL) {
		if ((c = codec_new(&schema_msg_host_network)) == NULL)
			return -1;
		if (codec_encode(&schema_msg_host_network, desired, &b) == -1 ||
		    codec_decode(&schema_msg_host_network, b.data, b.len, c) ==
		    -1) {
			buf_free(&b);
			codec_free(&schema_msg_host_network, (void **)&c);
			return -1;
		}
		buf_free(&b);
		if (c->networks.n &&
		    (br = calloc(c->networks.n, sizeof(*br))) == NULL) {
			codec_free(&schema_msg_host_network, (void **)&c);
			err_set(TS_ENOMEM, "metadata: out of memory");
			return -1;
		}
		for (size_t i = 0; i < c->networks.n; i++)
			for (size_t j = 0; state && j < state->networks.n; j++) {
				const struct sch_net_status *st =
				    &state->networks.items[j];

				if (strcmp(st->id, c->networks.items[i].id) ==
				    0 && st->bridge != NULL &&
				    strlen(st->bridge) <= IFNAME_MAX)
					snprintf(br[i], sizeof(br[i]), "%s",
					    st->bridge);
			}
	}
	pthread_mutex_lock(&md->mu);
	codec_free(&schema_msg_host_network, (void **)&md->net);
	free(md->bridges);
	md->net = c;
	md->bridges = br;
	md->net_changed = true;
	pthread_mutex_unlock(&md->mu);
	if (md->started && write(md->wake[1], "x", 1) == -1 && errno != EAGAIN)
		log_warn("metadata: wake");
	return 0;
}

/* ------------------------------------------------------------ documents */

void
metadata_resp_clear(struct metadata_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int
resp_text(struct metadata_resp *r, int status, const char *type,
    const void *body, size_t len)
{
	r->status = status;
	r->content_type = type;
	r->len = len;
	if ((r->body = malloc(len + 1)) == NULL) {
		err_set(TS_ENOMEM, "metadata: out of memory");
		return -1;
	}
	if (len)
		memcpy(r->body, body, len);
	r->body[len] = '\0';
	return 0;
}

static int
resp_status(struct metadata_resp *r, int status)
{
	const char *t = status == 404 ? "Not Found\n" :
	    status == 405 ? "Method Not Allowed\n" : "Bad Request\n";

	return resp_text(r, status, "text/plain", t, strlen(t));
}

static int
resp_buf(struct metadata_resp *r, const char *type, struct buf *b)
{
	if (b->failed) {
		buf_free(b);
		err_set(TS_ENOMEM, "metadata: out of memory");
		return -1;
	}
	r->status = 200;
	r->content_type = type;
	r->len = b->len;
	r->body = (char *)b->data;
	if (r->body == NULL)
		return resp_text(r, 200, type, "", 0);
	b->data = NULL;
	return 0;
}

/* The keys of meta_data.json's public_keys, in a stable (sorted) order:
 * EC2's public-keys/<n> index into it. */
static size_t
keys_sorted(json_t *meta, const char *out[], size_t max)
{
	json_t *pk = json_object_get(meta, "public_keys");
	const char *k;
	json_t *v;
	size_t n = 0;

	if (!json_is_object(pk))
		return 0;
	json_object_foreach(pk, k, v) {
		size_t j;

		if (!json_is_string(v) || n == max)
			continue;
		for (j = n; j > 0 && strcmp(out[j - 1], k) > 0; j--)
			out[j] = out[j - 1];
		out[j] = k;
		n++;
	}
	return n;
}

/* Netmask text of an IPv4 prefix length. */
static void
mask4(unsigned plen, char *out, size_t len)
{
	struct in_addr m;

	/* The controller validated the CIDR; a bad length must still not
	 * shift out of range. */
	if (plen > 32)
		plen = 32;
	m.s_addr = htonl(plen == 0 ? 0 : 0xffffffffu << (32 - plen));
	inet_ntop(AF_INET, &m, out, (socklen_t)len);
}

static const struct sch_net_subnet *
subnet_of(const struct msg_host_network *net, const char *id)
{
	for (size_t i = 0; i < net->subnets.n; i++)
		if (strcmp(net->subnets.items[i].id, id) == 0)
			return &net->subnets.items[i];
	return NULL;
}

static const struct sch_net_network *
network_of(const struct msg_host_network *net, const char *id)
{
	for (size_t i = 0; i < net->networks.n; i++)
		if (strcmp(net->networks.items[i].id, id) == 0)
			return &net->networks.items[i];
	return NULL;
}

/* network_data.json (Nova's layout) for the instance's ports on this host:
 * a link per port, an ipv4/ipv6 network per fixed IP, DNS services. */
static json_t *
network_data(const struct msg_host_network *net, const struct inst *in)
{
	json_t *o = json_object(), *links = json_array(), *nets = json_array(),
	    *svcs = json_array();
	size_t nn = 0;

	if (o == NULL || links == NULL || nets == NULL || svcs == NULL ||
	    json_object_set_new(o, "links", links) == -1 ||
	    json_object_set_new(o, "networks", nets) == -1 ||
	    json_object_set_new(o, "services", svcs) == -1) {
		json_decref(o);
		return NULL;
	}
	for (size_t k = 0; net != NULL && k < in->nnics; k++) {
		const struct sch_net_port *p = NULL;
		const struct sch_net_network *nw;
		char tap[IFNAME_MAX + 1];
		json_t *l;

		for (size_t i = 0; i < net->ports.n; i++)
			if (strcmp(net->ports.items[i].id,
			    in->nics[k].port_id) == 0)
				p = &net->ports.items[i];
		if (p == NULL || ifname_of(IFNAME_TAP_PREFIX, p->id, tap) == -1)
			continue;
		nw = network_of(net, p->network_id);
		if ((l = json_object()) == NULL ||
		    json_array_append_new(links, l) == -1 ||
		    jset_(l, "id", json_string(tap)) == -1 ||
		    jset_(l, "vif_id", json_string(p->id)) == -1 ||
		    jset_(l, "type", json_string("bridge")) == -1 ||
		    jset_(l, "ethernet_mac_address",
		    json_string(in->nics[k].mac)) == -1 ||
		    (nw && jset_(l, "mtu", json_integer(nw->mtu)) == -1))
			goto fail;
		for (size_t f = 0; f < p->fixed_ips.n; f++) {
			const struct sch_net_fixed_ip *fi = &p->fixed_ips.items[f];
			const struct sch_net_subnet *s = subnet_of(net,
			    fi->subnet_id);
			const char *slash = s ? strchr(s->cidr, '/') : NULL;
			char id[32], mask[INET_ADDRSTRLEN];
			json_t *n, *routes;

			if (s == NULL || slash == NULL)
				continue;
			snprintf(id, sizeof(id), "network%zu", nn++);
			if ((n = json_object()) == NULL ||
			    json_array_append_new(nets, n) == -1 ||
			    jset_(n, "id", json_string(id)) == -1 ||
			    jset_(n, "link", json_string(tap)) == -1 ||
			    jset_(n, "network_id", json_string(p->network_id)) ==
			    -1 ||
			    jset_(n, "ip_address", json_string(fi->ip_address)) ==
			    -1 ||
			    (routes = json_array()) == NULL ||
			    json_object_set_new(n, "routes", routes) == -1)
				goto fail;
			if (s->ip_version == 4) {
				mask4((unsigned)atoi(slash + 1), mask,
				    sizeof(mask));
				if (jset_(n, "type", json_string("ipv4")) == -1 ||
				    jset_(n, "netmask", json_string(mask)) == -1)
					goto fail;
			} else if (jset_(n, "type", json_string("ipv6")) == -1 ||
			    jset_(n, "netmask", json_integer(atoi(slash + 1))) ==
			    -1) {
				goto fail;
			}
			if (s->gateway_ip) {
				json_t *r = json_object();

				if (r == NULL || json_array_append_new(routes,
				    r) == -1 ||
				    jset_(r, "network", json_string(
				    s->ip_version == 4 ? "0.0.0.0" : "::")) ==
				    -1 ||
				    jset_(r, "netmask", s->ip_version == 4 ?
				    json_string("0.0.0.0") : json_integer(0)) ==
				    -1 ||
				    jset_(r, "gateway", json_string(
				    s->gateway_ip)) == -1)
					goto fail;
			}
			for (size_t d = 0; d < s->dns_nameservers.n; d++) {
				json_t *v = json_object();

				if (v == NULL || json_array_append_new(svcs,
				    v) == -1 ||
				    jset_(v, "type", json_string("dns")) == -1 ||
				    jset_(v, "address", json_string(
				    s->dns_nameservers.items[d])) == -1)
					goto fail;
			}
		}
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* A version segment: "latest" or a date YYYY-MM-DD (every version is
 * served as the latest). */
static bool
is_version(const char *s, size_t n)
{
	if (n == 6 && strncmp(s, "latest", 6) == 0)
		return true;
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	return true;
}

/* Splits path after its version segment: "/openstack/latest/x" with
 * prefix "/openstack/" gives rest "x" (NULL if no version there). */
static const char *
after_version(const char *path, const char *prefix)
{
	size_t pl = strlen(prefix);
	const char *v, *e;

	if (strncmp(path, prefix, pl) != 0)
		return NULL;
	v = path + pl;
	e = strchr(v, '/');
	if (!is_version(v, e ? (size_t)(e - v) : strlen(v)))
		return NULL;
	return e ? e + 1 : "";
}

static int
doc_openstack(const struct metadata *md, const struct inst *in,
    const char *rest, struct metadata_resp *out)
{
	struct buf b = { 0 };

	if (rest[0] == '\0') {
		buf_puts(&b, "meta_data.json\nnetwork_data.json\n"
		    "vendor_data.json\n");
		if (in->has_ud)
			buf_puts(&b, "user_data\n");
		return resp_buf(out, "text/plain", &b);
	}
	if (strcmp(rest, "meta_data.json") == 0)
		return resp_text(out, 200, "application/json", in->meta_json,
		    strlen(in->meta_json));
	if (strcmp(rest, "user_data") == 0)
		return in->has_ud ? resp_text(out, 200,
		    "application/octet-stream", in->user_data, in->ud_len) :
		    resp_status(out, 404);
	if (strcmp(rest, "vendor_data.json") == 0)
		return resp_text(out, 200, "application/json", "{}", 2);
	if (strcmp(rest, "network_data.json") == 0) {
		json_t *nd = network_data(md->net, in);
		char *t = nd ? json_dumps(nd, JSON_SORT_KEYS) : NULL;
		int r;

		json_decref(nd);
		if (t == NULL) {
			err_set(TS_ENOMEM, "metadata: out of memory");
			return -1;
		}
		r = resp_text(out, 200, "application/json", t, strlen(t));
		free(t);
		return r;
	}
	return resp_status(out, 404);
}

static int
doc_ec2(const struct inst *in, const char *src_ip, const char *rest,
    struct metadata_resp *out)
{
	const char *keys[64], *host;
	size_t nk = keys_sorted(in->meta, keys, 64);
	struct buf b = { 0 };
	json_t *h;
	char *end;

	if (rest[0] == '\0') {
		buf_puts(&b, "meta-data/\n");
		if (in->has_ud)
			buf_puts(&b, "user-data\n");
		return resp_buf(out, "text/plain", &b);
	}
	if (strcmp(rest, "user-data") == 0)
		return in->has_ud ? resp_text(out, 200,
		    "application/octet-stream", in->user_data, in->ud_len) :
		    resp_status(out, 404);
	if (strncmp(rest, "meta-data", 9) != 0 ||
	    (rest[9] != '\0' && rest[9] != '/'))
		return resp_status(out, 404);
	rest += rest[9] ? 10 : 9;
	h = json_object_get(in->meta, "hostname");
	host = json_is_string(h) ? json_string_value(h) : "";
	if (rest[0] == '\0') {
		buf_puts(&b, "hostname\ninstance-id\nlocal-hostname\n"
		    "local-ipv4\n");
		if (nk)
			buf_puts(&b, "public-keys/\n");
		return resp_buf(out, "text/plain", &b);
	}
	if (strcmp(rest, "instance-id") == 0)
		return resp_text(out, 200, "text/plain", in->uuid,
		    strlen(in->uuid));
	if (strcmp(rest, "hostname") == 0 ||
	    strcmp(rest, "local-hostname") == 0)
		return resp_text(out, 200, "text/plain", host, strlen(host));
	if (strcmp(rest, "local-ipv4") == 0)
		return resp_text(out, 200, "text/plain", src_ip,
		    strlen(src_ip));
	if (strncmp(rest, "public-keys", 11) != 0 ||
	    (rest[11] != '\0' && rest[11] != '/') || nk == 0)
		return resp_status(out, 404);
	rest += rest[11] ? 12 : 11;
	if (rest[0] == '\0') {
		for (size_t i = 0; i < nk; i++)
			buf_printf(&b, "%zu=%s\n", i, keys[i]);
		return resp_buf(out, "text/plain", &b);
	}
	/* "<n>", "<n>/", "<n>/openssh-key" */
	if (rest[0] < '0' || rest[0] > '9' || (rest[0] == '0' && rest[1] &&
	    rest[1] != '/'))
		return resp_status(out, 404);
	errno = 0;
	{
		unsigned long n = strtoul(rest, &end, 10);
		json_t *k;

		if (errno || n >= nk)
			return resp_status(out, 404);
		if (*end == '\0' || strcmp(end, "/") == 0)
			return resp_text(out, 200, "text/plain",
			    "openssh-key\n", 12);
		if (strcmp(end, "/openssh-key") != 0)
			return resp_status(out, 404);
		k = json_object_get(json_object_get(in->meta, "public_keys"),
		    keys[n]);
		return resp_text(out, 200, "text/plain", json_string_value(k),
		    strlen(json_string_value(k)));
	}
}

/* The instance asking, under mu: a port of a network on bridge with the
 * source MAC and IP, named as a NIC (same port, network and MAC) by an
 * instance's spec. */
static const struct inst *
who(struct metadata *md, const char *bridge, const char *src_ip,
    const char *src_mac)
{
	struct in_addr src, a;
	char mac[18];

	if (md->net == NULL || bridge == NULL || bridge[0] == '\0' ||
	    src_ip == NULL || inet_pton(AF_INET, src_ip, &src) != 1 ||
	    mac_norm(src_mac, mac) == -1)
		return NULL;
	for (size_t i = 0; i < md->net->ports.n; i++) {
		const struct sch_net_port *p = &md->net->ports.items[i];
		char pmac[18];
		bool on_bridge = false, ip_ok = false;

		for (size_t n = 0; n < md->net->networks.n; n++)
			if (strcmp(md->net->networks.items[n].id,
			    p->network_id) == 0 && md->bridges[n][0] &&
			    strcmp(md->bridges[n], bridge) == 0)
				on_bridge = true;
		if (!on_bridge || mac_norm(p->mac, pmac) == -1 ||
		    strcmp(pmac, mac) != 0)
			continue;
		for (size_t f = 0; f < p->fixed_ips.n; f++)
			if (inet_pton(AF_INET, p->fixed_ips.items[f].ip_address,
			    &a) == 1 && a.s_addr == src.s_addr)
				ip_ok = true;
		if (!ip_ok)
			continue;
		for (size_t k = 0; k < md->ninsts; k++) {
			const struct inst *in = &md->insts[k];

			for (size_t j = 0; j < in->nnics; j++)
				if (strcmp(in->nics[j].port_id, p->id) == 0 &&
				    strcmp(in->nics[j].network_id,
				    p->network_id) == 0 &&
				    strcmp(in->nics[j].mac, mac) == 0)
					return in;
		}
		return NULL;	/* a port of no instance known here */
	}
	return NULL;
}

int
metadata_lookup(struct metadata *md, const char *bridge, const char *src_ip,
    const char *src_mac, const char *path, struct metadata_resp *out)
{
	const struct inst *in;
	const char *rest;
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&md->mu);
	in = who(md, bridge, src_ip, src_mac);
	if (in == NULL || path == NULL || path[0] != '/' ||
	    strstr(path, "//") != NULL || strstr(path, "/..") != NULL) {
		r = resp_status(out, 404);
	} else if (strcmp(path, "/") == 0) {
		r = resp_text(out, 200, "text/plain", "latest\nopenstack/\n",
		    18);
	} else if (strcmp(path, "/openstack") == 0 ||
	    strcmp(path, "/openstack/") == 0) {
		r = resp_text(out, 200, "text/plain", "latest\n", 7);
	} else if ((rest = after_version(path, "/openstack/")) != NULL) {
		r = doc_openstack(md, in, rest, out);
	} else if ((rest = after_version(path, "/")) != NULL) {
		r = doc_ec2(in, src_ip, rest, out);
	} else {
		r = resp_status(out, 404);
	}
	pthread_mutex_unlock(&md->mu);
	if (r == -1)
		metadata_resp_clear(out);
	return r;
}

/* ------------------------------------------------------------ HTTP */

int
metadata_http_parse(const char *buf, size_t len, struct metadata_http_req *req)
{
	size_t i, eol = 0, end = 0, p0, p1;
	bool found_eol = false;

	/* The end of the header block: an empty line (CRLF or LF). */
	for (i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return -1;
		if (buf[i] != '\n')
			continue;
		if (!found_eol) {
			found_eol = true;
			eol = i;
		}
		if ((i >= 1 && buf[i - 1] == '\n') ||
		    (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')) {
			end = i + 1;
			break;
		}
	}
	if (end == 0)
		return len >= METADATA_REQ_MAX ? -1 : 0;
	if (end > METADATA_REQ_MAX)
		return -1;
	if (eol > 0 && buf[eol - 1] == '\r')
		eol--;
	memset(req, 0, sizeof(*req));
	if (eol >= 4 && memcmp(buf, "GET ", 4) == 0)
		p0 = 4;
	else if (eol >= 5 && memcmp(buf, "HEAD ", 5) == 0) {
		p0 = 5;
		req->head = true;
	} else
		return -1;
	for (p1 = p0; p1 < eol && buf[p1] != ' '; p1++)
		if ((unsigned char)buf[p1] <= 0x20 ||
		    (unsigned char)buf[p1] >= 0x7f)
			return -1;
	if (p1 == p0 || p1 - p0 > METADATA_PATH_MAX || buf[p0] != '/')
		return -1;
	/* " HTTP/1.0" or " HTTP/1.1" (HTTP/0.9 has no headers: refused). */
	if (eol - p1 != 9 || memcmp(buf + p1, " HTTP/1.", 8) != 0 ||
	    (buf[p1 + 8] != '0' && buf[p1 + 8] != '1'))
		return -1;
	memcpy(req->path, buf + p0, p1 - p0);
	req->path[p1 - p0] = '\0';
	/* The query is ignored (nothing the guest says selects the data). */
	req->path[strcspn(req->path, "?#")] = '\0';
	return 1;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	default: return "Error";
	}
}

char *
metadata_http_render(const struct metadata_resp *r, bool head, size_t *len)
{
	struct buf b = { 0 };

	buf_printf(&b, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", r->status,
	    reason(r->status), r->content_type ? r->content_type :
	    "text/plain", r->len);
	if (!head && r->len)
		buf_append(&b, r->body, r->len);
	if (b.failed) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return (char *)b.data;
}

int
metadata_arp_find(const char *text, size_t len, const char *ip,
    const char *dev, char mac[18])
{
	size_t off = 0;

	/* Lines: IP  HW-type  Flags  HW-address  Mask  Device; the first is
	 * the title. */
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (text + off)) : len - off;
		char line[256], a[64], t[32], f[32], hw[32], m[32], d[32];
		unsigned long flags;

		if (ll < sizeof(line)) {
			memcpy(line, text + off, ll);
			line[ll] = '\0';
			if (sscanf(line, "%63s %31s %31s %31s %31s %31s", a, t, f,
			    hw, m, d) == 6 && strcmp(a, ip) == 0 &&
			    strcmp(d, dev) == 0) {
				flags = strtoul(f, NULL, 16);
				if ((flags & 0x2) && mac_norm(hw, mac) == 0)
					return 1;
			}
		}
		off += ll + 1;
	}
	return 0;
}

/* ------------------------------------------------------------ server */

static int
listener_open(struct metadata *md, struct listener *l)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons(md->port) };
	int fd, one = 1, idx;

	if ((idx = (int)if_nametoindex(l->bridge)) == 0)
		return -1;	/* not there yet: quietly retried */
	inet_pton(AF_INET, METADATA_ADDR, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, l->bridge,
	    (socklen_t)strlen(l->bridge)) == -1 ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 64) == -1) {
		if (!l->warned)
			log_warn("metadata: listening on %s:%u on %s",
			    METADATA_ADDR, md->port, l->bridge);
		l->warned = true;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (l->warned)
		log_info("metadata: now listening on %s", l->bridge);
	l->warned = false;
	l->fd = fd;
	l->ifindex = idx;
	log_debug("metadata: listening on %s:%u on %s", METADATA_ADDR,
	    md->port, l->bridge);
	return 0;
}

/* Makes the listeners match the bridges of the network state: new ones
 * opened, gone ones closed, those whose bridge was re-created (another
 * ifindex) reopened. */
static void
reconcile(struct metadata *md)
{
	char (*want)[IFNAME_MAX + 1] = NULL;
	size_t nw = 0, i, j, room;
	struct listener *nl;

	pthread_mutex_lock(&md->mu);
	if (md->net && md->net->networks.n &&
	    (want = calloc(md->net->networks.n, sizeof(*want))) != NULL) {
		for (i = 0; i < md->net->networks.n; i++) {
			bool ports = false;

			for (j = 0; j < md->net->ports.n; j++)
				if (strcmp(md->net->ports.items[j].network_id,
				    md->net->networks.items[i].id) == 0)
					ports = true;
			if (!ports || md->bridges[i][0] == '\0')
				continue;
			for (j = 0; j < nw; j++)
				if (strcmp(want[j], md->bridges[i]) == 0)
					break;
			if (j == nw && nw < METADATA_BRIDGES_MAX)
				memcpy(want[nw++], md->bridges[i],
				    sizeof(want[0]));
		}
	}
	md->net_changed = false;
	pthread_mutex_unlock(&md->mu);

	/* Close what is no longer wanted or whose bridge changed. */
	for (i = 0; i < md->nls; ) {
		struct listener *l = &md->ls[i];

		for (j = 0; j < nw; j++)
			if (strcmp(want[j], l->bridge) == 0)
				break;
		if (l->fd >= 0 && (j == nw ||
		    (int)if_nametoindex(l->bridge) != l->ifindex)) {
			close(l->fd);
			l->fd = -1;
		}
		if (j == nw) {
			md->ls[i] = md->ls[--md->nls];
			continue;
		}
		i++;
	}
	/* Room for every wanted bridge; without it the new ones wait. */
	room = md->nls;
	if (nw > md->nls &&
	    (nl = realloc(md->ls, nw * sizeof(*nl))) != NULL) {
		md->ls = nl;
		room = nw;
	}
	for (j = 0; j < nw; j++) {
		for (i = 0; i < md->nls; i++)
			if (strcmp(md->ls[i].bridge, want[j]) == 0)
				break;
		if (i == md->nls) {
			if (md->nls == room)
				continue;
			md->ls[i] = (struct listener){ .fd = -1 };
			memcpy(md->ls[i].bridge, want[j], sizeof(want[0]));
			md->nls++;
		}
		if (md->ls[i].fd < 0)
			listener_open(md, &md->ls[i]);
	}
	free(want);
}

/* The source MAC of ip on dev from the neighbour table. */
static bool
src_mac(struct metadata *md, const char *ip, const char *dev, char mac[18])
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	int fd = open(md->arp_path, O_RDONLY | O_CLOEXEC);
	bool found = false;

	if (fd == -1)
		return false;
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *t;

			if (cap >= ARP_MAX ||
			    (t = realloc(text, cap ? cap * 2 : 16384)) == NULL)
				break;
			text = t;
			cap = cap ? cap * 2 : 16384;
		}
		r = read(fd, text + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (text != NULL)
		found = metadata_arp_find(text, len, ip, dev, mac) == 1;
	free(text);
	return found;
}

static void
conn_accept(struct metadata *md, struct listener *l)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct conn *c;
	size_t slot, same;
	int fd;

	fd = accept4(l->fd, (struct sockaddr *)&sa, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	/* One guest holding connections open must not starve the others:
	 * at most METADATA_CONN_PER_SOURCE per (bridge, address). */
	for (slot = 0, same = 0; slot < METADATA_CONN_MAX; slot++)
		if (md->conns[slot] != NULL &&
		    md->conns[slot]->addr == sa.sin_addr.s_addr &&
		    strcmp(md->conns[slot]->bridge, l->bridge) == 0)
			same++;
	for (slot = 0; slot < METADATA_CONN_MAX; slot++)
		if (md->conns[slot] == NULL)
			break;
	if (slot == METADATA_CONN_MAX || same >= METADATA_CONN_PER_SOURCE ||
	    sa.sin_family != AF_INET || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);	/* full: the guest retries */
		return;
	}
	c->addr = sa.sin_addr.s_addr;
	c->fd = fd;
	memcpy(c->bridge, l->bridge, sizeof(c->bridge));
	inet_ntop(AF_INET, &sa.sin_addr, c->ip, sizeof(c->ip));
	c->deadline = clock_mono_ms() + METADATA_TIMEOUT_MS;
	md->conns[slot] = c;
}

/* Reads what there is; once the request is complete, builds the answer. */
static void
conn_read(struct metadata *md, struct conn **cp)
{
	struct conn *c = *cp;
	struct metadata_http_req req;
	struct metadata_resp resp = { 0 };
	char mac[18] = "";
	ssize_t r;
	int p;

	r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		conn_close(cp);
		return;
	}
	c->inlen += (size_t)r;
	if ((p = metadata_http_parse(c->in, c->inlen, &req)) == 0)
		return;
	if (p == -1) {
		if (resp_status(&resp, 400) == -1) {
			conn_close(cp);
			return;
		}
		req.head = false;
	} else {
		if (!src_mac(md, c->ip, c->bridge, mac))
			mac[0] = '\0';
		if (metadata_lookup(md, c->bridge, c->ip, mac, req.path,
		    &resp) == -1) {
			conn_close(cp);
			return;
		}
		log_debug("metadata: %s %s (%s) GET %s: %d", c->bridge, c->ip,
		    mac[0] ? mac : "no MAC", req.path, resp.status);
	}
	c->out = metadata_http_render(&resp, req.head, &c->outlen);
	metadata_resp_clear(&resp);
	if (c->out == NULL)
		conn_close(cp);
}

static void
conn_write(struct conn **cp)
{
	struct conn *c = *cp;
	ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
	    MSG_NOSIGNAL);

	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (w <= 0) {
		conn_close(cp);
		return;
	}
	c->outoff += (size_t)w;
	if (c->outoff == c->outlen) {
		shutdown(c->fd, SHUT_WR);
		conn_close(cp);
	}
}

static void *
server(void *arg)
{
	struct metadata *md = arg;
	struct pollfd *pfd = NULL;
	size_t cap = 0;
	int64_t next = 0;

	for (;;) {
		size_t n = 0, i, nls;
		int64_t now = clock_mono_ms();
		bool changed;
		int stop;

		pthread_mutex_lock(&md->mu);
		stop = md->stop;
		changed = md->net_changed;
		pthread_mutex_unlock(&md->mu);
		if (stop)
			break;
		if (changed || now >= next) {
			reconcile(md);
			next = now + 1000;
		}
		nls = md->nls;
		if (cap < 1 + nls + METADATA_CONN_MAX) {
			struct pollfd *t = realloc(pfd, (1 + nls +
			    METADATA_CONN_MAX) * sizeof(*t));

			if (t == NULL) {
				usleep(100 * 1000);
				continue;
			}
			pfd = t;
			cap = 1 + nls + METADATA_CONN_MAX;
		}
		pfd[n++] = (struct pollfd){ .fd = md->wake[0],
		    .events = POLLIN };
		for (i = 0; i < nls; i++)
			pfd[n++] = (struct pollfd){ .fd = md->ls[i].fd,
			    .events = POLLIN };	/* fd -1 is skipped */
		for (i = 0; i < METADATA_CONN_MAX; i++) {
			struct conn *c = md->conns[i];

			pfd[n++] = (struct pollfd){ .fd = c ? c->fd : -1,
			    .events = c && c->out ? POLLOUT : POLLIN };
		}
		if (poll(pfd, n, 200) == -1 && errno != EINTR) {
			log_warn("metadata: poll");
			usleep(100 * 1000);
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			char drain[64];

			while (read(md->wake[0], drain, sizeof(drain)) > 0)
				;
		}
		for (i = 0; i < nls; i++)
			if (pfd[1 + i].revents & POLLIN)
				conn_accept(md, &md->ls[i]);
		now = clock_mono_ms();
		for (i = 0; i < METADATA_CONN_MAX; i++) {
			struct pollfd *p = &pfd[1 + nls + i];

			if (md->conns[i] == NULL || p->fd != md->conns[i]->fd)
				continue;
			if (p->revents & (POLLERR | POLLHUP | POLLNVAL) &&
			    !(p->revents & POLLIN))
				conn_close(&md->conns[i]);
			else if (p->revents & POLLOUT)
				conn_write(&md->conns[i]);
			else if (p->revents & POLLIN)
				conn_read(md, &md->conns[i]);
			if (md->conns[i] && now > md->conns[i]->deadline)
				conn_close(&md->conns[i]);
		}
	}
	free(pfd);
	return NULL;
}

int
metadata_start(struct metadata *md, uint16_t port, const char *arp_path)
{
	int rc;

	md->port = port;
	snprintf(md->arp_path, sizeof(md->arp_path), "%s",
	    arp_path ? arp_path : "/proc/net/arp");
	if (pipe2(md->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		err_set_errno(TS_EINTERNAL, "metadata: pipe");
		return -1;
	}
	if ((rc = pthread_create(&md->th, NULL, server, md)) != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "metadata: thread");
		return -1;
	}
	md->started = true;
	log_info("metadata: serving http://%s:%u/ on the network bridges",
	    METADATA_ADDR, port);
	return 0;
}
