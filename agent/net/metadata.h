/*
 * metadata: the instance metadata service of one host, served by its agent
 * at http://169.254.169.254/ from data the agent already holds (Neutron's
 * "isolated metadata", without a proxy to the controller).
 *
 * Who is asking is decided only by where the request came from: the
 * bridge it arrived on (one listening socket per network bridge, bound to
 * it with SO_BINDTODEVICE, because CIDRs may overlap across networks),
 * the source address of the connection, and the source MAC the kernel's
 * neighbour table holds for that address on that bridge. That triple must
 * match a port of this host's host_network (same network, same MAC, one of
 * its fixed IPs) and the port must be a NIC of an instance whose spec this
 * agent received. Nothing the guest sends (headers, query, body) takes
 * part; another instance's data is never reachable; an unknown source gets
 * 404 (security-and-reliability.md 1.2).
 *
 * Data: metadata_instance_put() stores an instance's meta_data.json as the
 * config drive renders it (agent/virt/configdrive: one producer, so the two
 * cannot drift), its user data and its NICs; the EC2 documents are derived
 * from that JSON; with metadata_state_dir() they are also kept on disk for
 * the next start. metadata_network_set() stores the host's desired network
 * state and the bridge of each network. network_data.json is rendered from
 * the host's ports of the instance at request time.
 *
 * Serving: one thread (metadata_start()) polls the listeners and at most
 * METADATA_CONN_MAX connections (METADATA_CONN_PER_SOURCE from one guest
 * address on one bridge), each bounded to METADATA_REQ_MAX bytes of
 * request and METADATA_TIMEOUT_MS in total; HTTP/1.0, GET and HEAD, one
 * request per connection. The agent's main loop never waits on it.
 *
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef TS_METADATA_H
#define TS_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

#define METADATA_ADDR		"169.254.169.254"
#define METADATA_REQ_MAX	8192	/* request line + headers */
#define METADATA_PATH_MAX	1024
#define METADATA_CONN_MAX	64
#define METADATA_CONN_PER_SOURCE 8	/* per (bridge, source address) */
#define METADATA_TIMEOUT_MS	5000
#define METADATA_BRIDGES_MAX	1024

struct metadata;

/* One NIC of an instance, as its spec names it (borrowed for the call). */
struct metadata_nic {
	const char	*port_id;
	const char	*network_id;
	const char	*mac;
};

/* An answer: status (200, 400, 404, 405) and an owned body (NULL when
 * empty); content_type is static. */
struct metadata_resp {
	int		 status;
	const char	*content_type;
	char		*body;
	size_t		 len;
};

/* A parsed request line (the headers are skipped, never read). */
struct metadata_http_req {
	bool	head;			/* HEAD (else GET) */
	char	path[METADATA_PATH_MAX + 1];	/* without the query */
};

struct metadata	*metadata_new(void);
/* Stops the server thread, closes every socket, frees. NULL accepted;
 * clears *mdp. */
void		 metadata_free(struct metadata **mdp);

/*
 * Store (or replace) an instance's documents: meta_data_json (a JSON
 * object as configdrive_meta_data() renders it; hostname and public_keys
 * are read from it), its user data (has_user_data false: none) and its
 * NICs. Everything is copied. -1 with TS_EINVALID (not a UUID, JSON not an
 * object, too many NICs) or TS_ENOMEM.
 */
int	metadata_instance_put(struct metadata *, const char *uuid,
	    const char *meta_data_json, const void *user_data,
	    size_t user_data_len, bool has_user_data,
	    const struct metadata_nic *nics, size_t nnics);
/*
 * Keep the instances in dir (created 0700 if absent): every put is saved
 * there as <uuid>.json (0600, temporary file + rename) before it is
 * served, every del removes the file, and the instances already there are
 * loaded now, so that an agent restart serves the guests that kept
 * running. Call before the first put. -1 with TS_EINVALID (not an
 * absolute path) or TS_EIO; a file that does not load is logged and left.
 */
int	metadata_state_dir(struct metadata *, const char *dir);

/* Forget an instance (absent: nothing). */
void	metadata_instance_del(struct metadata *, const char *uuid);

/*
 * The host's network state: desired (copied) and, for each network, the
 * bridge its guests join (from netconv's report: state->networks[].bridge;
 * networks without one are not served). Replaces the previous state; the
 * server thread opens and closes listeners to match. -1 TS_ENOMEM.
 */
int	metadata_network_set(struct metadata *,
	    const struct msg_host_network *desired,
	    const struct msg_host_network_state *state);

/*
 * The document for a request that arrived on bridge from src_ip (IPv4
 * text) whose neighbour entry has src_mac (NULL or "": unknown, which is a
 * 404). *out is overwritten; the caller frees out->body. 0, or -1 on
 * ENOMEM only (a miss is a 404 answer, not an error).
 */
int	metadata_lookup(struct metadata *, const char *bridge,
	    const char *src_ip, const char *src_mac, const char *path,
	    struct metadata_resp *out);

/*
 * Parse a request held in buf[0..len): 1 with *req filled once the header
 * block is complete, 0 when more bytes are needed, -1 when it can never be
 * a valid request (bad request line, method other than GET/HEAD, a path
 * longer than METADATA_PATH_MAX or with bytes outside printable ASCII, a
 * NUL, more than METADATA_REQ_MAX bytes without the end of the headers).
 * Never reads past len.
 */
int	metadata_http_parse(const char *buf, size_t len,
	    struct metadata_http_req *req);

/*
 * The MAC of ip on dev in a /proc/net/arp text (complete entries only),
 * lower case into mac (18 bytes). 1 found, 0 not. Bounded by len.
 */
int	metadata_arp_find(const char *text, size_t len, const char *ip,
	    const char *dev, char mac[18]);

/*
 * Starts the server thread: listeners on METADATA_ADDR:port, one per
 * bridge of the network state, reconciled every second (a bridge that
 * does not exist yet is retried). arp_path NULL: /proc/net/arp. -1 with
 * err set (thread, pipe).
 */
int	metadata_start(struct metadata *, uint16_t port, const char *arp_path);

/* Render a response (status line, headers, body unless head) into an
 * owned buffer; NULL on ENOMEM. */
char	*metadata_http_render(const struct metadata_resp *, bool head,
	    size_t *len);

void	metadata_resp_clear(struct metadata_resp *);

#endif
