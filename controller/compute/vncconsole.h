/*
 * vncconsole: the VNC console's state, no HTTP (compute_console.c serves
 * it): where each guest's VNC server is, as the agents report it, and the
 * console tokens.
 *
 * A token is 192 random bits, handed out once in the console URL and kept
 * here only as its BLAKE2b hash, with the instance, host, VNC address and
 * port it was issued for and its expiry ([consoleauth] token_ttl). It is
 * good for one connection: vncconsole_consume() removes it. The proxy then
 * checks that the instance still exists on that host with that port, so
 * a token never reaches another guest (deleted, moved, port reused).
 * Memory only: a controller restart ends every token.
 *
 * Threads: reports come on the bus thread, issue/consume on the HTTP
 * threads; one mutex.
 */
#ifndef TS_VNCCONSOLE_H
#define TS_VNCCONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

#define VNCCONSOLE_TOKEN_LEN	48	/* hex characters */
#define VNCCONSOLE_MAX_TOKENS	4096	/* unexpired at once */

struct vncconsole;

struct vncconsole_target {
	char		uuid[37];
	char		host[256];
	char		addr[65];	/* the agent's server_proxyclient_address */
	unsigned	port;
};

/* Owned; ttl_ms: a token's lifetime. */
struct vncconsole	*vncconsole_new(int64_t ttl_ms);
void			 vncconsole_free(struct vncconsole **);

/* Bus thread: the VNC ports of host's guests from a hello or heartbeat,
 * replacing what the host said before (guests borrowed for the call). */
void	vncconsole_report(struct vncconsole *, const char *host,
	    const struct sch_guest *guests, size_t n);
/* Bus thread: an agent's answer about one guest of host (instance_state,
 * in order with its reports): running with port at addr (0: it has none
 * now, the entry goes; addr borrowed), until host's next report replaces
 * the list. */
void	vncconsole_note(struct vncconsole *, const char *host,
	    const char *uuid, const char *addr, unsigned port);
/* Where uuid's VNC server is on host as last reported: 0, or -1 with
 * TS_ENOT_FOUND (not running there, no VNC, not reported yet). */
int	vncconsole_where(struct vncconsole *, const char *host,
	    const char *uuid, struct vncconsole_target *out);
/* The same, waiting up to wait_ms for the host's reports to name it (any
 * thread but the bus thread, which makes the reports). */
int	vncconsole_where_wait(struct vncconsole *, const char *host,
	    const char *uuid, struct vncconsole_target *out, unsigned wait_ms);

/*
 * How long a console request for a guest that no report names yet waits
 * for one (ms, for vncconsole_where_wait()): a guest whose qemu started
 * moments ago has its port in the host's next report, which can land
 * after the ensure's answer made the server ACTIVE. VNCCONSOLE_WAIT_MS
 * when the guest was launched or its record last changed (the answer
 * ending a start, resume, reboot, rebuild, resize or move writes it) in
 * the last VNCCONSOLE_NEW_MS, else 0. Times: ms since the epoch.
 */
#define VNCCONSOLE_NEW_MS	30000
#define VNCCONSOLE_WAIT_MS	3000
unsigned vncconsole_wait_ms(int64_t launched_at, int64_t updated_at,
	    int64_t now_ms);

/* A new token for t, valid until now_ms + ttl (monotonic ms): 0 with tok
 * filled, -1 with TS_EUNAVAILABLE when VNCCONSOLE_MAX_TOKENS are live. */
int	vncconsole_issue(struct vncconsole *, const struct vncconsole_target *t,
	    int64_t now_ms, char tok[VNCCONSOLE_TOKEN_LEN + 1]);
/* Take the token: 0 with *t what it was issued for (and the token gone),
 * -1 with TS_EUNAUTHORIZED when it is unknown, used or expired. */
int	vncconsole_consume(struct vncconsole *, const char *tok, int64_t now_ms,
	    struct vncconsole_target *t);
/* Tokens held (expired ones not yet dropped included), for tests. */
size_t	vncconsole_tokens(struct vncconsole *);

#endif
