/*
 * http: the controller's REST front end on libmicrohttpd.
 *
 * One server owns one MHD daemon per listening port; each port serves one
 * OpenStack service (identity 5000, compute 8774, image 9292, volume 8776,
 * network 9696) from a static route table:
 *
 *   static const struct http_route identity_routes[] = {
 *       { "GET", "/v3/users/{user_id}", user_get, "identity:get_user", 0,
 *         0, NULL },
 *       { "POST", "/v3/auth/tokens", token_issue, NULL, ROUTE_NO_AUTH,
 *         201, NULL },
 *       HTTP_ROUTE_END
 *   };
 * (all seven fields, or designated initializers: -Wextra warns about
 * positional ones left out)
 *
 * Request life: request line -> request id "req-<uuid4>" (set as the log
 * request id on whichever pool thread runs a callback for the request, and
 * returned in x-openstack-request-id, plus x-compute-request-id on compute)
 * -> headers: route match (404 / 405 + Allow), body limits (413), media
 * type (415), authenticate hook (401), authorize hook with the route's
 * policy (403), all before a byte of body is read -> body: buffered up to
 * max_body_size and parsed as JSON, or handed chunk by chunk to a streaming
 * route -> handler -> response. A handler fills the response and returns 0,
 * or records an error with err_set() and returns -1; the framework renders
 * the error in the route's service shape (apierr) with the status from
 * err_code_http(). Handlers never format errors themselves. A 401 from
 * the authenticate hook is rendered in keystone's shape on every port, as
 * keystonemiddleware does, and every 401 carries
 * "WWW-Authenticate: Keystone uri=...". Errors decided before the body
 * (404, 405, 415, 401, 403, a refused stream begin) are sent once the body
 * is drained, so keep-alive connections survive them.
 *
 * Invariants: memory per request is bounded (MHD's per-connection pool for
 * the request line and headers, max_url_len, max_query_params, 255-byte
 * path parameters, max_body_size for buffered bodies, MHD's read buffer for
 * streamed ones); a request body beyond the cap is never buffered: with
 * Content-Length the 413 goes out at once and the connection is closed
 * unread; a chunked body is discarded up to another max_body_size so the
 * client can still read its 413, and the connection is closed beyond that
 * (MHD 0.9.75 cannot queue a response in the middle of an upload).
 *
 * Threads: handlers run on MHD's pool threads, concurrently. The server and
 * route tables are read-only once started.
 */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "apierr.h"
#include "buf.h"

struct http_req;
struct http_resp;
struct metrics;
struct http_server;

/* Route flags. */
#define ROUTE_NO_AUTH		0x01	/* skip authenticate and authorize */
#define ROUTE_STREAM_BODY	0x02	/* body goes to route->stream, chunk by chunk */
#define ROUTE_TRAILING_SLASH	0x04	/* "/v3/" matches "/v3" too */
#define ROUTE_RAW_BODY		0x08	/* buffer the body but do not parse JSON */
/*
 * Every authenticated route either names its policy rule or carries
 * ROUTE_SELF_SCOPED (tests/unit/routes_test.c walks the tables to prove it):
 *
 * ROUTE_POLICY_IN_HANDLER: the route names its rule, but the rule reads the
 * object (its owner project or user), so authorize() does not run it before
 * the handler; the handler enforces that same rule once it loaded the
 * object (request_enforce_owned(): another project's object answers 404, as if
 * it did not exist, where a route-level check would say 403).
 * ROUTE_SELF_SCOPED: no rule; the handler decides and the table says why
 * (token validation, the caller's own projects, a body that picks the
 * rule...).
 */
#define ROUTE_POLICY_IN_HANDLER	0x10
#define ROUTE_SELF_SCOPED	0x20
/*
 * ROUTE_CAPABILITY: besides Keystone tokens, the route accepts an image
 * download capability (auth/capability.h) for its {image_id}; the request
 * layer checks it (http/request.h) and the handler sees a context with
 * `capability` set. Every other route refuses a capability as an invalid
 * token (401).
 */
#define ROUTE_CAPABILITY	0x40
/* ROUTE_CAPABILITY_UPLOAD: the same for an upload capability (a server
 * snapshot's data, PUT /v2/images/{image_id}/file); download capabilities
 * are refused there, upload ones on ROUTE_CAPABILITY routes. */
#define ROUTE_CAPABILITY_UPLOAD	0x80

/*
 * Streaming request body (Glance image upload). begin() runs once the
 * headers passed routing, authentication and authorization, before any body
 * byte; data() gets each chunk as MHD reads it (chunks are at most the
 * per-connection memory limit, so memory stays bounded whatever the size);
 * end() runs after the last byte and fills the response like a handler.
 * Each returns 0 or -1 with err set. After begin() succeeded exactly one of
 * end() or abort() is called: abort() when data() failed, the client went
 * away, the connection timed out or the server stopped. begin() that fails
 * cleans up itself. Per-request handler state: http_req_set_state().
 * The body length is not capped by max_body_size here; data() enforces the
 * service's own limit (image size quota) by returning -1.
 */
struct http_stream_ops {
	int	(*begin)(struct http_req *, struct http_resp *);
	int	(*data)(struct http_req *, const char *buf, size_t len);
	int	(*end)(struct http_req *, struct http_resp *);
	void	(*abort)(struct http_req *);
};

/*
 * One row of a service's route table. Patterns match whole path segments;
 * "{name}" captures one segment (percent-decoded, 1-255 bytes, valid UTF-8,
 * no '/' or NUL; a segment that is not so does not match). A path that
 * matches several patterns for the method goes to the most specific (a
 * literal segment beats a capture at the first difference). HEAD falls
 * back to the GET route with the body suppressed unless the table has an
 * explicit HEAD route. Tables end with HTTP_ROUTE_END.
 */
struct http_route {
	const char	*method;	/* "GET", ... */
	const char	*pattern;	/* "/v3/users/{user_id}" */
	int		(*handler)(struct http_req *, struct http_resp *);
	const char	*policy;	/* rule name for authorize(), or NULL */
	int		 flags;		/* ROUTE_* */
	int		 success_status; /* used when a handler passes 0; 0 -> 200 */
	const struct http_stream_ops *stream;	/* with ROUTE_STREAM_BODY */
};
#define HTTP_ROUTE_END	{ NULL, NULL, NULL, NULL, 0, 0, NULL }

/*
 * Listener `listener` served under a first path segment of listener `at`:
 * with { 5, "compute", 4 }, "/compute/v2.1/servers" on listener 5's port
 * is "/v2.1/servers" of listener 4, as if sent to that port (its routes,
 * error shape, app, request id headers; http_req_path() without the
 * prefix). The dashboard uses it so its page reaches every API from its
 * own origin. Indexes are into http_opts.listeners.
 */
struct http_mount {
	size_t		 at;
	const char	*prefix;	/* one literal segment */
	size_t		 listener;	/* which mounts nothing itself */
};

/* One listening port. */
struct http_listener {
	uint16_t		 port;		/* 0 = ephemeral, see http_server_port() */
	enum apierr_service	 service;	/* error body shape, request id headers */
	const struct http_route	*routes;	/* static, HTTP_ROUTE_END-terminated */
	void			*app;		/* handlers' context: http_req_app() */
	/* MHD pool per connection on this port, so also the largest read
	 * and streamed chunk; 0 = http_opts.conn_memory_limit. */
	size_t			 conn_memory;
};

#define HTTP_MAX_LISTENERS	8

/*
 * Server options; zero means the default shown. Strings are copied and
 * TLS files read by http_server_new(); the route tables and listener
 * array contents must outlive the server (they are static tables).
 */
struct http_opts {
	const char	*bind;		/* numeric IPv4/IPv6 address; "127.0.0.1";
					   "::" listens dual-stack */
	const struct http_listener *listeners;
	size_t		 nlisteners;	/* 1..HTTP_MAX_LISTENERS */
	const struct http_mount *mounts; /* tried before the routes; must
					   outlive the server */
	size_t		 nmounts;
	unsigned	 threads;	/* MHD pool threads per port; 4 */
	unsigned	 max_connections; /* per port; 1024 */
	unsigned	 per_ip_connections; /* per port and client; 0 = no limit */
	unsigned	 conn_timeout;	/* idle seconds before closing; 60 */
	size_t		 conn_memory_limit; /* MHD pool per connection: request line,
					   headers, read buffer (so also the
					   largest streamed chunk); 32 KiB */
	size_t		 max_body_size;	/* buffered request bodies; 1 MiB */
	size_t		 max_noauth_body; /* the same on ROUTE_NO_AUTH routes
					   (at most max_body_size); 112 KiB */
	size_t		 max_url_len;	/* request target; 16 KiB */
	unsigned	 max_query_params; /* 256 */
	const char	*tls_cert_file;	/* PEM; both or neither */
	const char	*tls_key_file;
	/* Keystone public endpoint for "WWW-Authenticate: Keystone uri=..."
	 * on 401s; NULL -> the request's Host with the identity listener's
	 * port (or the Host as is without an identity listener). */
	const char	*auth_uri;
	/* Set when the process ignores SIGPIPE (the controller does): lets
	 * MHD use sendfile() for http_resp_file(). */
	bool		 sigpipe_ignored;
	/*
	 * Called for routes without ROUTE_NO_AUTH before the body is read.
	 * Returns 0 having set the identity context (http_req_set_ctx()), or
	 * -1 with err set (TS_EUNAUTHORIZED -> 401; other codes map through
	 * err_code_http, e.g. TS_EUNAVAILABLE -> 503).
	 */
	int		(*authenticate)(struct http_req *, void *arg);
	/* Called after authenticate with the route's policy (routes with a
	 * policy and without ROUTE_POLICY_IN_HANDLER only). 0 = allowed, -1
	 * with err set (TS_EFORBIDDEN -> 403). */
	int		(*authorize)(struct http_req *, const char *policy, void *arg);
	void		*auth_arg;
	/* Borrowed, may be NULL: every answered request counts in
	 * tinystack_http_requests_total and ..._duration_seconds, labelled by
	 * the listener's service and the status class. */
	struct metrics	*metrics;
};

/* Validates the options and compiles the route tables (TS_ECONFIG on a bad
 * pattern, TS_EIO on an unreadable TLS file). Nothing listens yet. */
struct http_server	*http_server_new(const struct http_opts *);
/* Bind and start every listener; all or none (TS_EIO). */
int			 http_server_start(struct http_server *);
/* Stop listening, close connections, wait for running handlers; a stopped
 * server can be started again. */
void			 http_server_stop(struct http_server *);
void			 http_server_free(struct http_server **);
/* The bound port of listener i (after start; the configured one before),
 * or 0 if i is out of range. */
uint16_t		 http_server_port(const struct http_server *, size_t i);

/*
 * Request accessors. Returned strings are borrowed and valid until the
 * request completes (the handler or end()/abort() returns).
 */
/* As sent: a HEAD served by a GET route still says "HEAD". */
const char	*http_req_method(const struct http_req *);
/* The path as sent (still percent-encoded), without the query. */
const char	*http_req_path(const struct http_req *);
const char	*http_req_id(const struct http_req *);		/* "req-<uuid4>" */
/* Microseconds since the request line was read (CLOCK_MONOTONIC): what
 * the request spent in MHD, authentication and body reading so far. */
int64_t		 http_req_age_us(const struct http_req *);
enum apierr_service http_req_service(const struct http_req *);
const struct http_route *http_req_route(const struct http_req *);
void		*http_req_app(const struct http_req *);		/* listener's app */
/* Path parameter by name, NULL if the route has none by that name. */
const char	*http_req_param(const struct http_req *, const char *name);
/* First value of a query key ("?limit=5"), percent- and '+'-decoded; a
 * key without '=' has value "". NULL if absent. */
const char	*http_req_query(const struct http_req *, const char *key);
/* Iterate the values of a repeated key in order: set *it = 0 first. */
const char	*http_req_query_next(const struct http_req *, const char *key,
		    size_t *it);
/* All query pairs in order, for services that filter on any attribute. */
size_t		 http_req_query_count(const struct http_req *);
int		 http_req_query_at(const struct http_req *, size_t i,
		    const char **key, const char **value);
/* Appends to b the request's query for the next page of a list:
 * "?<every pair but marker, in order, percent-encoded>[&marker=M]" ("" or
 * "?marker=M" without other pairs), as the services' next links keep the
 * filters and sort of the page they follow. -1 TS_ENOMEM. */
int		 http_req_query_relink(const struct http_req *,
		    const char *marker, struct buf *b);
/* Request header, case-insensitive name; NULL if absent. */
const char	*http_req_header(const struct http_req *, const char *name);
/* Parsed JSON body (buffered POST/PUT/PATCH routes without ROUTE_RAW_BODY),
 * or NULL when the body was empty. Borrowed: json_incref() to keep it. */
json_t		*http_req_json(const struct http_req *);
/* Raw buffered body (NUL-terminated for convenience; len excludes it). */
const char	*http_req_body(const struct http_req *, size_t *len);
/* "http://host:port" or "https://..." as the client addressed us (Host
 * header, checked; the bound address otherwise). Returns -1 if it does not
 * fit. For self links in version documents. */
int		 http_req_base_url(const struct http_req *, char *buf, size_t len);
/* The identity layer's context, set by authenticate(); free_fn (may be
 * NULL) runs when the request completes. */
void		 http_req_set_ctx(struct http_req *, void *ctx,
		    void (*free_fn)(void *));
void		*http_req_ctx(const struct http_req *);
/* A streaming route's own per-request state (released by its end/abort). */
void		 http_req_set_state(struct http_req *, void *);
void		*http_req_state(const struct http_req *);
/* Check another policy rule from inside a handler (e.g. admin-only fields);
 * 0 if allowed or no authorize hook is installed, -1 with err set. */
int		 http_req_authorize(struct http_req *, const char *policy);

/*
 * Responses. status 0 means the route's success_status. Each setter
 * replaces any body set before. On -1 (err set) the response is left
 * empty; returning that -1 from the handler renders the error.
 */
/* JSON body, Content-Type application/json; body is stolen (NULL -> -1
 * with TS_ENOMEM, so `return http_resp_json(resp, 0, json_pack(...));`
 * is safe). */
int	http_resp_json(struct http_resp *, int status, json_t *body);
/* Copied body; content_type NULL -> "text/plain; charset=UTF-8". */
int	http_resp_text(struct http_resp *, int status, const char *content_type,
	    const char *text, size_t len);
/* The text written into b (jsonout's views), which is freed either way;
 * a b that failed is -1 with its error (TS_EINTERNAL if it has none). */
int	http_resp_buf(struct http_resp *, int status, const char *content_type,
	    struct buf *b);
/* No body (204, 202 without body...). */
int	http_resp_status(struct http_resp *, int status);
/* Send `size` bytes of the regular file fd from offset 0, zero copy
 * (sendfile when sigpipe_ignored, pread otherwise); fd is taken (closed
 * when sent or on failure). content_type NULL -> application/octet-stream. */
int	http_resp_file(struct http_resp *, int status, const char *content_type,
	    int fd, off_t size);
/* The same for `size` bytes from byte `offset` of fd (a 206's range). */
int	http_resp_file_at(struct http_resp *, int status,
	    const char *content_type, int fd, off_t offset, off_t size);
/*
 * Generated body: read(arg, pos, buf, max) fills buf with up to max bytes
 * at stream offset pos and returns the count (0 counts as an error),
 * HTTP_STREAM_END at the end (required when size is HTTP_SIZE_UNKNOWN,
 * which sends chunked), or HTTP_STREAM_ERROR to abort the connection. It
 * runs on an MHD thread, possibly after the handler returned and after the
 * request's other state is gone, so arg must be self-contained. free_fn(arg)
 * runs once when MHD is done with the body, and also when this call fails.
 */
#define HTTP_SIZE_UNKNOWN	UINT64_MAX
#define HTTP_STREAM_END		((ssize_t)-1)
#define HTTP_STREAM_ERROR	((ssize_t)-2)
int	http_resp_callback(struct http_resp *, int status,
	    const char *content_type, uint64_t size,
	    ssize_t (*read)(void *arg, uint64_t pos, char *buf, size_t max),
	    void (*free_fn)(void *arg), void *arg);
/*
 * Upgrade the connection (RFC 7230 6.7: "101 Switching Protocols" with
 * "Upgrade: <protocol>"; MHD adds "Connection: Upgrade"). Once the answer
 * went out, run(arg, fd, extra, extra_len) gets the connection's socket and
 * the bytes already read past the request, on a thread of its own, for as
 * long as it likes; the server closes fd when run returns. free_fn(arg)
 * runs once in every case (after run, or when the upgrade never happens:
 * the client left, this call failed). http_server_stop() shuts the running
 * ones' sockets down and waits for them. Plain-text listeners only: over
 * TLS fd would be MHD's relay socket pair, which works but costs a copy.
 */
int	http_resp_upgrade(struct http_resp *, const char *protocol,
	    void (*run)(void *arg, int fd, const char *extra, size_t extra_len),
	    void (*free_fn)(void *arg), void *arg);
/* Add a header to a successful response (at most 16; copied; no control
 * characters). Content-Type, Content-Length, Transfer-Encoding and
 * Connection are refused: the body setters and MHD own them. */
int	http_resp_header(struct http_resp *, const char *name, const char *value);
/* Neutron error type for an error this handler is about to return
 * ("NetworkNotFound"); ignored by the other services. */
void	http_resp_error_type(struct http_resp *, const char *type);
/* Render the error this handler is about to return as its status line
 * alone, no body, and close the connection: a refused websocket handshake,
 * whose client reads anything past the headers as frames and waits for
 * the close (Nova's proxy sends no error body either). */
void	http_resp_error_bare(struct http_resp *);

#endif
