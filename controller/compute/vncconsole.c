/*
 * The VNC console's ports and tokens. See vncconsole.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "nametab.h"
#include "vncconsole.h"

#define RAW_LEN		(VNCCONSOLE_TOKEN_LEN / 2)	/* 24 bytes */

struct vnc_guest {
	char		uuid[37];
	char		addr[65];
	unsigned	port;
};

struct vnc_host {
	char		 name[256];
	struct vnc_guest *g;	/* owned */
	size_t		 n;
};

struct vnc_token {
	uint8_t			 hash[32];
	int64_t			 expires_ms;
	struct vncconsole_target t;
};

struct vncconsole {
	pthread_mutex_t	 mu;
	/* broadcast by every report: vncconsole_where_wait() waits on it
	 * (CLOCK_MONOTONIC) */
	pthread_cond_t	 reported;
	int64_t		 ttl_ms;
	/* struct vnc_host by name, each owned: every heartbeat looks its
	 * host up (a scan of the array was 8% of the bus thread at 10,000
	 * hosts) */
	struct nametab	 hosts;
	/* Owned: room for captok tokens, grown as tokens are issued (up to
	 * VNCCONSOLE_MAX_TOKENS) rather than allocated at the maximum: the
	 * maximum's table was 1.7 MiB of 4,096 entries, nearly always
	 * empty, and the largest of the controller's own allocations at
	 * 1,000 hosts (docs/PERFORMANCE.md, "Our own allocations"). */
	struct vnc_token *tok;
	size_t		 ntok, captok;
};

struct vncconsole *
vncconsole_new(int64_t ttl_ms)
{
	struct vncconsole *vc = calloc(1, sizeof(*vc));

	if (vc == NULL) {
		err_set(TS_ENOMEM, "vncconsole: out of memory");
		return NULL;
	}
	if (sodium_init() < 0) {
		free(vc);
		err_set(TS_EINTERNAL, "vncconsole: libsodium did not start");
		return NULL;
	}
	pthread_mutex_init(&vc->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&vc->reported, &ca);
		pthread_condattr_destroy(&ca);
	}
	nametab_init(&vc->hosts, offsetof(struct vnc_host, name));
	vc->ttl_ms = ttl_ms;
	return vc;
}

void
vncconsole_free(struct vncconsole **vcp)
{
	struct vncconsole *vc;

	if (vcp == NULL || (vc = *vcp) == NULL)
		return;
	for (size_t i = 0; i < vc->hosts.cap; i++) {
		struct vnc_host *h = vc->hosts.slot[i];

		if (h != NULL) {
			free(h->g);
			free(h);
		}
	}
	nametab_clear(&vc->hosts);
	if (vc->tok != NULL)
		sodium_memzero(vc->tok, vc->captok * sizeof(*vc->tok));
	free(vc->tok);
	pthread_cond_destroy(&vc->reported);
	pthread_mutex_destroy(&vc->mu);
	free(vc);
	*vcp = NULL;
}


/* A new, empty entry of host in vc (owned by vc): NULL when out of
 * memory. Under the lock. */
static struct vnc_host *
host_add(struct vncconsole *vc, const char *host)
{
	struct vnc_host *h = calloc(1, sizeof(*h));

	if (h != NULL)
		snprintf(h->name, sizeof(h->name), "%s", host);
	if (h == NULL || nametab_add(&vc->hosts, h) == -1) {
		free(h);
		return NULL;
	}
	return h;
}

/* The guest uuid of host h (may be NULL), or NULL; valid until h's list
 * changes. Under the lock. */
static struct vnc_guest *
guest_of(struct vnc_host *h, const char *uuid)
{
	for (size_t i = 0; h != NULL && i < h->n; i++)
		if (strcmp(h->g[i].uuid, uuid) == 0)
			return &h->g[i];
	return NULL;
}

void
vncconsole_report(struct vncconsole *vc, const char *host,
    const struct sch_guest *gs, size_t n)
{
	struct vnc_guest *g = NULL;
	struct vnc_host *h;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (gs[i].has_vnc_port && gs[i].vnc_host != NULL)
			k++;
	if (k > 0 && (g = calloc(k, sizeof(*g))) == NULL) {
		log_warnx("vncconsole: out of memory; %s's ports kept", host);
		return;
	}
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!gs[i].has_vnc_port || gs[i].vnc_host == NULL ||
		    gs[i].vnc_port == 0 || gs[i].vnc_port > 65535)
			continue;
		snprintf(g[k].uuid, sizeof(g[k].uuid), "%s", gs[i].uuid);
		snprintf(g[k].addr, sizeof(g[k].addr), "%s", gs[i].vnc_host);
		g[k].port = gs[i].vnc_port;
		k++;
	}
	pthread_mutex_lock(&vc->mu);
	if ((h = nametab_find(&vc->hosts, host)) == NULL) {
		if (k == 0) {	/* nothing to forget, nothing to keep */
			pthread_mutex_unlock(&vc->mu);
			return;
		}
		if ((h = host_add(vc, host)) == NULL) {
			pthread_mutex_unlock(&vc->mu);
			free(g);
			log_warnx("vncconsole: out of memory");
			return;
		}
	}
	free(h->g);
	h->g = g;
	h->n = k;
	pthread_cond_broadcast(&vc->reported);
	pthread_mutex_unlock(&vc->mu);
}

void
vncconsole_note(struct vncconsole *vc, const char *host, const char *uuid,
    const char *addr, unsigned port)
{
	struct vnc_host *h;
	struct vnc_guest *g;

	if (port > 65535 || (port != 0 && addr == NULL))
		return;
	pthread_mutex_lock(&vc->mu);
	h = nametab_find(&vc->hosts, host);
	g = guest_of(h, uuid);
	if (port == 0) {
		/* (the order does not matter: guest_of() scans) */
		if (g != NULL)
			*g = h->g[--h->n];
		pthread_mutex_unlock(&vc->mu);
		return;
	}
	if (h == NULL && (h = host_add(vc, host)) == NULL)
		goto oom;
	if (g == NULL) {
		if ((g = realloc(h->g, (h->n + 1) * sizeof(*g))) == NULL)
			goto oom;
		h->g = g;
		g = &h->g[h->n++];
	}
	snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
	snprintf(g->addr, sizeof(g->addr), "%s", addr);
	g->port = port;
	pthread_cond_broadcast(&vc->reported);
	pthread_mutex_unlock(&vc->mu);
	return;
oom:
	pthread_mutex_unlock(&vc->mu);
	log_warnx("vncconsole: out of memory; %s's port comes with %s's next "
	    "report", uuid, host);
}

/* Under the lock. */
static int
find(struct vncconsole *vc, const char *host, const char *uuid,
    struct vncconsole_target *out)
{
	struct vnc_guest *g = guest_of(nametab_find(&vc->hosts, host), uuid);

	if (g == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	snprintf(out->uuid, sizeof(out->uuid), "%s", uuid);
	snprintf(out->host, sizeof(out->host), "%s", host);
	snprintf(out->addr, sizeof(out->addr), "%s", g->addr);
	out->port = g->port;
	return 0;
}

int
vncconsole_where(struct vncconsole *vc, const char *host, const char *uuid,
    struct vncconsole_target *out)
{
	return vncconsole_where_wait(vc, host, uuid, out, 0);
}

int
vncconsole_where_wait(struct vncconsole *vc, const char *host,
    const char *uuid, struct vncconsole_target *out, unsigned wait_ms)
{
	struct timespec dl;
	int rc, w = 0;

	clock_deadline(&dl, CLOCK_MONOTONIC, wait_ms);
	pthread_mutex_lock(&vc->mu);
	/* bounded: each wake-up is a report or the deadline */
	while ((rc = find(vc, host, uuid, out)) == -1 && wait_ms > 0 &&
	    w != ETIMEDOUT)
		w = pthread_cond_timedwait(&vc->reported, &vc->mu, &dl);
	pthread_mutex_unlock(&vc->mu);
	if (rc == -1)
		err_set(TS_ENOT_FOUND, "no VNC server of instance %s on %s",
		    uuid, host);
	return rc;
}

unsigned
vncconsole_wait_ms(int64_t launched_at, int64_t updated_at, int64_t now_ms)
{
	int64_t at = launched_at > updated_at ? launched_at : updated_at;

	/* (updated_at also moves for a rename or a tag: such a guest, if
	 * it has no VNC server, answers 3 s late once; the ports are not
	 * stored, so there is no finer stamp of its qemu's start) */
	return at > 0 && now_ms - at < VNCCONSOLE_NEW_MS ?
	    VNCCONSOLE_WAIT_MS : 0;
}

static void
token_hash(const char *tok, uint8_t out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)tok, strlen(tok),
	    NULL, 0);
}

/* Under the lock. */
static void
drop_expired(struct vncconsole *vc, int64_t now_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < vc->ntok; i++)
		if (vc->tok[i].expires_ms > now_ms)
			vc->tok[k++] = vc->tok[i];
	vc->ntok = k;
}

/* Room for one more token, dropping the expired ones first, then growing
 * the table (doubling, from 16, up to VNCCONSOLE_MAX_TOKENS): 0, or -1
 * with err set. The old table is wiped before it is freed, as the table
 * is at the end (the hashes are of bearer tokens). Under the lock. */
static int
tok_room(struct vncconsole *vc, int64_t now_ms)
{
	struct vnc_token *n;
	size_t ncap;

	if (vc->ntok < vc->captok)
		return 0;
	drop_expired(vc, now_ms);
	if (vc->ntok < vc->captok)
		return 0;
	if (vc->captok >= VNCCONSOLE_MAX_TOKENS) {
		err_set(TS_EUNAVAILABLE, "Too many console tokens "
		    "outstanding; try again later.");
		return -1;
	}
	ncap = vc->captok ? vc->captok * 2 : 16;
	if (ncap > VNCCONSOLE_MAX_TOKENS)
		ncap = VNCCONSOLE_MAX_TOKENS;
	if ((n = calloc(ncap, sizeof(*n))) == NULL) {
		err_set(TS_ENOMEM, "vncconsole: out of memory");
		return -1;
	}
	if (vc->tok != NULL) {
		memcpy(n, vc->tok, vc->ntok * sizeof(*n));
		sodium_memzero(vc->tok, vc->captok * sizeof(*vc->tok));
		free(vc->tok);
	}
	vc->tok = n;
	vc->captok = ncap;
	return 0;
}

int
vncconsole_issue(struct vncconsole *vc, const struct vncconsole_target *t,
    int64_t now_ms, char tok[VNCCONSOLE_TOKEN_LEN + 1])
{
	uint8_t raw[RAW_LEN];
	struct vnc_token *e;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(tok, VNCCONSOLE_TOKEN_LEN + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	pthread_mutex_lock(&vc->mu);
	if (tok_room(vc, now_ms) == -1) {
		pthread_mutex_unlock(&vc->mu);
		sodium_memzero(tok, VNCCONSOLE_TOKEN_LEN + 1);
		return -1;
	}
	e = &vc->tok[vc->ntok++];
	token_hash(tok, e->hash);
	e->expires_ms = now_ms + vc->ttl_ms;
	e->t = *t;
	pthread_mutex_unlock(&vc->mu);
	return 0;
}

int
vncconsole_consume(struct vncconsole *vc, const char *tok, int64_t now_ms,
    struct vncconsole_target *t)
{
	uint8_t h[32];
	int rc = -1;

	if (tok != NULL && strlen(tok) == VNCCONSOLE_TOKEN_LEN) {
		token_hash(tok, h);
		pthread_mutex_lock(&vc->mu);
		for (size_t i = 0; i < vc->ntok; i++) {
			if (sodium_memcmp(vc->tok[i].hash, h, 32) != 0)
				continue;
			/* Gone whether it was still good or not. */
			if (vc->tok[i].expires_ms > now_ms) {
				*t = vc->tok[i].t;
				rc = 0;
			}
			vc->tok[i] = vc->tok[--vc->ntok];
			break;
		}
		pthread_mutex_unlock(&vc->mu);
	}
	if (rc == -1)
		err_set(TS_EUNAUTHORIZED, "The token is invalid or has "
		    "expired");
	return rc;
}

size_t
vncconsole_tokens(struct vncconsole *vc)
{
	size_t n;

	pthread_mutex_lock(&vc->mu);
	n = vc->ntok;
	pthread_mutex_unlock(&vc->mu);
	return n;
}
