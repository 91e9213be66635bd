/*
 * metrics_http: the tiny HTTP/1.1 server that answers GET /metrics with a
 * registry's exposition, for the controller and the agent alike (the agent
 * links no HTTP library).
 *
 * One thread accepts and answers one connection at a time, then closes it
 * (Connection: close): a scraper asks every few seconds, so there is no
 * pool, no keep-alive and no request body. A client gets 2 s to send its
 * request head (at most 8 KiB) and 5 s to read the answer, so a stuck
 * client delays the next scrape by seconds, never the daemon.
 *
 * Access control: the listener binds loopback unless told otherwise, and
 * with a token every request must carry "Authorization: Bearer <token>"
 * (Prometheus' bearer_token / authorization.credentials), compared in
 * constant time; the config refuses a non-loopback bind without a token.
 * Answers: 200 with the exposition, 401 (token missing or wrong), 404
 * (another path), 405 (not GET or HEAD), 400 (unparsable head).
 */
#ifndef TS_METRICS_HTTP_H
#define TS_METRICS_HTTP_H

#include <stdint.h>

struct metrics;
struct metrics_http;

/* Binds bind:port (numeric IPv4 or IPv6; port 0 = ephemeral) and starts
 * the thread. The registry is borrowed and must outlive the server; token
 * (NULL or "" = none) is copied. NULL with err set (TS_EIO). */
struct metrics_http	*metrics_http_start(struct metrics *,
			    const char *bind, uint16_t port,
			    const char *token);
/* The bound port. */
uint16_t		 metrics_http_port(const struct metrics_http *);
/* Stops the thread (waiting for the answer in progress) and closes. */
void			 metrics_http_free(struct metrics_http **);

/* The daemon's [metrics] section (port, bind_host, token, see opts.c):
 * 0 with *out NULL when port is 0 (off), 0 with *out started, or -1 with
 * err set (TS_ECONFIG: a bind_host other than loopback without a token;
 * TS_EIO: cannot listen). */
struct config;
int			 metrics_http_configure(struct metrics *,
			    const struct config *, struct metrics_http **out);

/* The answer to a request head (NUL-terminated, as read: request line and
 * headers): 200 (GET or HEAD of /metrics, any query, with the token when
 * token is non-empty), 400, 401, 404 or 405; *head_only for HEAD. Pure:
 * the unit test and tests/fuzz/fuzz_metrics_http.c call it directly. */
int			 metrics_http_route(const char *head,
			    const char *token, int *head_only);

/* 1 if addr is a numeric loopback address (127.0.0.0/8, ::1). */
int			 metrics_http_is_loopback(const char *addr);

#endif
