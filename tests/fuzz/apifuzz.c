/* apifuzz: the API fuzz targets' shared half; see apifuzz.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apifuzz.h"
#include "log.h"

#define QUERY_MAX	1024	/* bytes of input used as the query */
#define CONNECT_TRIES	100
#define CONNECT_PAUSE_US 50000

static struct ctltest *ctl;

static void
ctl_free(void)
{
	ctltest_free(&ctl);
}

struct ctltest *
apifuzz_ctl(void)
{
	if (ctl != NULL)
		return ctl;
	if ((ctl = ctltest_new()) == NULL) {
		fprintf(stderr, "apifuzz: the controller did not start\n");
		abort();
	}
	/* Refusals and "no valid host" are every other input's answer:
	 * errors only (a 5xx is logged at that level). */
	log_set_level(LOG_LVL_ERROR);
	atexit(ctl_free);
	return ctl;
}

int
apifuzz_create(struct ctltest *t, enum ctltest_svc svc, enum ctltest_who who,
    const char *path, const char *body, const char *key, char out[128])
{
	int st = ctltest_call(t, svc, who, "POST", path, body, NULL);

	if ((st != 201 && st != 202) || ctltest_str(t, key) == NULL)
		return -1;
	snprintf(out, 128, "%s", ctltest_str(t, key));
	return 0;
}

void
apifuzz_check(struct ctltest *t, const char *what)
{
	int s = t->r.status;

	/* APIFUZZ_TRACE=1: every answer, to check what seeds reach. */
	if (getenv("APIFUZZ_TRACE") != NULL)
		fprintf(stderr, "apifuzz: %d <- %s: %.200s\n", s, what,
		    t->r.raw != NULL ? t->r.raw : "");
	if (s > 0 && (s < 500 || s == 501 || s == 503))
		return;
	fprintf(stderr, "apifuzz: %s answered %d: %.2048s\n", what, s,
	    t->r.raw != NULL ? t->r.raw : "(no answer)");
	abort();
}

/* The project of the input's caller, for "@P@" (Cinder's URLs name it). */
static char caller_project[128];

/*
 * d (n bytes, up to a NUL) as a C string with each "@N@" replaced by
 * fixture N's id and each "@P@" by the caller's project; owned.
 */
static char *
subst_new(const uint8_t *d, size_t n, char fix[APIFUZZ_MAXFIX][128])
{
	size_t len = strnlen((const char *)d, n), o = 0;
	char *out;

	if ((out = malloc(len / 3 * 128 + len + 1)) == NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '@' && i + 2 < len && d[i + 1] >= '0' &&
		    d[i + 1] < '0' + APIFUZZ_MAXFIX && d[i + 2] == '@') {
			size_t l = strlen(fix[d[i + 1] - '0']);

			memcpy(out + o, fix[d[i + 1] - '0'], l);
			o += l;
			i += 2;
		} else if (d[i] == '@' && i + 2 < len && d[i + 1] == 'P' &&
		    d[i + 2] == '@') {
			size_t l = strlen(caller_project);

			memcpy(out + o, caller_project, l);
			o += l;
			i += 2;
		} else {
			out[o++] = (char)d[i];
		}
	}
	out[o] = '\0';
	return out;
}

static char *
subst_str(const char *s, char fix[APIFUZZ_MAXFIX][128])
{
	return subst_new((const uint8_t *)s, strlen(s), fix);
}

/* Bytes that may stand in a request target's query as they are. */
static bool
query_safe(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=:@/?%", c) != NULL;
}

/* base, then '?' and q percent-encoded where the request line needs it. */
static char *
target_new(const char *base, const char *q)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(base);
	char *out;

	if ((out = malloc(n + 2 + strlen(q) * 3)) == NULL)
		abort();
	memcpy(out, base, n);
	if (*q != '\0')
		out[n++] = '?';
	for (const uint8_t *c = (const uint8_t *)q; *c != '\0'; c++) {
		if (query_safe(*c)) {
			out[n++] = (char)*c;
		} else {
			out[n++] = '%';
			out[n++] = hex[*c >> 4];
			out[n++] = hex[*c & 0xf];
		}
	}
	out[n] = '\0';
	return out;
}

/*
 * ctltest_call(), again while the connection could not be made: at a few
 * hundred requests a second the loopback's ephemeral ports run short
 * (each closed connection waits a minute in TIME_WAIT), which is the
 * machine's limit, not the input's; and libFuzzer's timer signal may cut
 * a connect() short. Any other failure stays a finding, with its errno.
 */
static void
call(struct ctltest *t, enum ctltest_svc svc, enum ctltest_who who,
    const char *method, const char *path, const char *body, const char *hdrs)
{
	for (int tries = 0; tries < CONNECT_TRIES; tries++) {
		if (ctltest_call(t, svc, who, method, path, body, hdrs) != -1)
			return;
		if (errno != EADDRNOTAVAIL && errno != EAGAIN &&
		    errno != EINTR)
			break;
		usleep(CONNECT_PAUSE_US);
	}
	fprintf(stderr, "apifuzz: %s %.500s: exchange failed: %s\n", method,
	    path, strerror(errno));
	abort();
}

/* Undo what a 2xx of r made; aborts if that is refused. */
static void
cleanup(struct ctltest *t, const struct apifuzz_route *r,
    enum ctltest_who who, char fix[APIFUZZ_MAXFIX][128])
{
	const char *id = ctltest_str(t, r->idkey);
	char *tmpl, path[512], what[600];

	if (id == NULL)
		return;
	tmpl = subst_str(r->del, fix);
	ctltest_subst(path, sizeof(path), tmpl, id);
	free(tmpl);
	if (r->predel != NULL) {
		snprintf(what, sizeof(what), "cleanup PATCH %s", path);
		call(t, r->svc, who, "PATCH", path, r->predel, r->predel_hdrs);
		apifuzz_check(t, what);
	}
	snprintf(what, sizeof(what), "cleanup DELETE %s", path);
	/* the route's headers too: a microversion that made it undoes it */
	call(t, r->svc, who, "DELETE", path, NULL, r->hdrs);
	apifuzz_check(t, what);
	if (t->r.status < 200 || t->r.status > 299) {
		fprintf(stderr, "apifuzz: %s answered %d: %.1024s\n", what,
		    t->r.status, t->r.raw != NULL ? t->r.raw : "");
		abort();
	}
}

void
apifuzz_run(const struct apifuzz_target *tg, const uint8_t *data, size_t size)
{
	static const enum ctltest_who whos[] = { CT_ADMIN, CT_MEMBER, CT_OTHER,
	    CT_READER };
	static char fix[APIFUZZ_MAXFIX][128];
	static bool ready;
	const struct apifuzz_route *r;
	enum ctltest_who who;
	struct ctltest *t = apifuzz_ctl();
	const uint8_t *nl;
	char *base, *query, *path, *body, what[600];
	bool has_body;

	if (!ready) {
		if (tg->setup != NULL && tg->setup(t, fix) == -1) {
			fprintf(stderr, "apifuzz: %s fixtures: %d %.1024s\n",
			    tg->name, t->r.status,
			    t->r.raw != NULL ? t->r.raw : "");
			abort();
		}
		ready = true;
	}
	if (size < 2 || size > QUERY_MAX * 64)
		return;
	r = &tg->routes[data[0] % tg->nroutes];
	who = whos[data[1] % (sizeof(whos) / sizeof(whos[0]))];
	snprintf(caller_project, sizeof(caller_project), "%s",
	    t->project_id[who]);
	data += 2;
	size -= 2;
	if ((nl = memchr(data, '\n', size)) != NULL &&
	    (size_t)(nl - data) <= QUERY_MAX) {
		query = subst_new(data, (size_t)(nl - data), fix);
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
	} else {
		query = subst_str("", fix);
	}
	base = subst_str(r->path, fix);
	path = target_new(base, query);
	body = subst_new(data, size, fix);
	snprintf(what, sizeof(what), "%s %.500s", r->method, path);
	has_body = strcmp(r->method, "GET") != 0 &&
	    strcmp(r->method, "DELETE") != 0;
	call(t, r->svc, who, r->method, path, has_body ? body : NULL, r->hdrs);
	free(base);
	free(query);
	free(path);
	free(body);
	apifuzz_check(t, what);
	if (r->idkey != NULL && t->r.status >= 200 && t->r.status <= 299)
		cleanup(t, r, who, fix);
}
