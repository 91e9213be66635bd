/* tgt: the host's tgtd and its iSCSI targets; see tgt.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "health.h"
#include "log.h"
#include "proc.h"
#include "storage/tgt.h"

#define TGTADM_TIMEOUT_MS	10000
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define STABLE_MS		30000	/* a run this long resets the backoff */
#define WATCH_MS		1000	/* an adopted tgtd is probed this often */
#define STOP_WAIT_MS		5000
#define SHOW_MAX_TARGETS	65536

struct tgt {
	char		 portal[TGT_NAME_MAX];
	char		 port[16];		/* control port, text */
	tgt_notify_fn	 notify;
	void		*arg;

	pthread_t	 th;
	int		 started;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	/* Under mu. */
	int		 stop;
	int		 running;	/* our tgtd is running */
	uint64_t	 starts;
};

/* ---------------------------------------------------------------- parse */

static void
target_clear(struct tgt_target *t)
{
	for (size_t i = 0; i < t->naccounts; i++)
		free(t->accounts[i]);
	for (size_t i = 0; i < t->nacl; i++)
		free(t->acl[i]);
	free(t->nexus);
	memset(t, 0, sizeof(*t));
}

void
tgt_targets_free(struct tgt_target **tp, size_t n)
{
	if (*tp == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		target_clear(&(*tp)[i]);
	free(*tp);
	*tp = NULL;
}

static size_t
indent(const char *l)
{
	size_t i = 0;

	while (l[i] == ' ')
		i++;
	return i;
}

/* A decimal number of s (whole word up to end or a space) in [0, max];
 * -1 otherwise. */
static int
number(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v > max || (*end != '\0' && *end != ' '))
		return -1;
	*out = v;
	return 0;
}

/*
 * One line of a target's "I_T nexus information:" part:
 *
 *         I_T nexus: 3
 *             Initiator: iqn.1994-05.com.example:host alias: none
 *             Connection: 0
 *                 IP Address: 127.0.0.1
 *
 * (Debian's tgt 1.0.x). A session is kept only once its initiator is
 * read; lines out of place or malformed are skipped, so a session may be
 * missed but never invented. nx: the session being read, or NULL.
 */
static int
nexus_line(struct tgt_target *cur, size_t ind, const char *s,
    struct tgt_nexus **nx)
{
	uint64_t v;

	if (ind == 8 && strncmp(s, "I_T nexus: ", 11) == 0) {
		struct tgt_nexus *nv;

		*nx = NULL;
		if (number(s + 11, UINT64_MAX, &v) == -1 ||
		    cur->nnexus >= TGT_MAX_NEXUS)
			return 0;
		/* One at a time: few sessions per target. */
		if ((nv = realloc(cur->nexus, (cur->nnexus + 1) *
		    sizeof(*nv))) == NULL)
			return -1;
		cur->nexus = nv;
		*nx = &nv[cur->nnexus];
		memset(*nx, 0, sizeof(**nx));
		(*nx)->sid = v;
		return 0;
	}
	if (*nx == NULL || ind != 12)
		return 0;
	if (strncmp(s, "Initiator: ", 11) == 0 && (*nx)->initiator[0] == '\0') {
		size_t l = strcspn(s + 11, " ");

		if (l == 0 || l >= sizeof((*nx)->initiator))
			return 0;
		memcpy((*nx)->initiator, s + 11, l);
		(*nx)->initiator[l] = '\0';
		cur->nnexus++;	/* complete: kept */
	} else if (strncmp(s, "Connection: ", 12) == 0 &&
	    (*nx)->initiator[0] != '\0' && (*nx)->ncid < TGT_MAX_CONN &&
	    number(s + 12, UINT32_MAX, &v) == 0)
		(*nx)->cid[(*nx)->ncid++] = (uint32_t)v;
	return 0;
}

int
tgt_show_parse(const char *text, struct tgt_target **out, size_t *n)
{
	struct tgt_target *v = NULL, *nv, *cur = NULL;
	struct tgt_nexus *nx = NULL;
	size_t cnt = 0, cap = 0;
	enum { NONE, LUN, ACCOUNTS, ACL, NEXUS } sec = NONE;
	int lun = -1;
	const char *p = text;

	*out = NULL;
	*n = 0;
	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[4200];
		size_t ind;
		char *s;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl ? nl + 1 : NULL;
		while (len > 0 && (line[len - 1] == ' ' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		ind = indent(line);
		s = line + ind;
		if (ind == 0 && strncmp(s, "Target ", 7) == 0) {
			char *colon = strchr(s, ':');
			long tid;

			if (colon == NULL || cnt >= SHOW_MAX_TARGETS)
				continue;
			tid = strtol(s + 7, NULL, 10);
			if (tid <= 0 || tid > INT_MAX)
				continue;
			if (cnt == cap) {
				cap = cap ? cap * 2 : 8;
				if ((nv = realloc(v, cap * sizeof(*v))) ==
				    NULL)
					goto nomem;
				v = nv;
			}
			cur = &v[cnt++];
			memset(cur, 0, sizeof(*cur));
			cur->tid = (int)tid;
			snprintf(cur->name, sizeof(cur->name), "%s",
			    colon[1] == ' ' ? colon + 2 : colon + 1);
			sec = NONE;
			nx = NULL;
			continue;
		}
		if (cur == NULL || ind == 0)
			continue;
		if (ind == 4) {
			sec = strcmp(s, "LUN information:") == 0 ? LUN :
			    strcmp(s, "Account information:") == 0 ? ACCOUNTS :
			    strcmp(s, "ACL information:") == 0 ? ACL :
			    strcmp(s, "I_T nexus information:") == 0 ? NEXUS :
			    NONE;
			lun = -1;
			nx = NULL;
			continue;
		}
		if (sec == NEXUS) {
			if (nexus_line(cur, ind, s, &nx) == -1)
				goto nomem;
		} else if (sec == LUN && strncmp(s, "LUN: ", 5) == 0)
			lun = atoi(s + 5);
		else if (sec == LUN && lun == 1 &&
		    strncmp(s, "Backing store path: ", 20) == 0)
			snprintf(cur->lun1, sizeof(cur->lun1), "%s", s + 20);
		else if ((sec == ACCOUNTS || sec == ACL) && ind == 8) {
			char **slot = sec == ACL ? &cur->acl[cur->nacl] :
			    &cur->accounts[cur->naccounts];
			size_t *k = sec == ACL ? &cur->nacl : &cur->naccounts;

			if (*k >= TGT_MAX_ACL)
				continue;
			if (sec == ACCOUNTS && strchr(s, ' ') != NULL)
				*strchr(s, ' ') = '\0';	/* "(outgoing)" */
			if ((*slot = strdup(s)) == NULL)
				goto nomem;
			(*k)++;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
nomem:
	tgt_targets_free(&v, cnt);
	err_set(TS_ENOMEM, "tgt: out of memory");
	return -1;
}

/* -------------------------------------------------------------- tgtadm */

/* tgtadm -C <port> --lld iscsi <rest...>; quiet: a failure is the
 * caller's to judge (no warning logged). With allow_nonzero, an exit
 * status other than 0 is not a failure: the caller reads res. */
static int
admin(struct tgt *t, const char *const *rest, bool allow_nonzero,
    struct proc_result *res)
{
	const char *argv[32];
	struct proc_opts o = { .timeout_ms = TGTADM_TIMEOUT_MS,
	    .allow_nonzero = allow_nonzero };
	struct proc_result r = { 0 };
	size_t n = 0;
	int rc;

	argv[n++] = "tgtadm";
	argv[n++] = "-C";
	argv[n++] = t->port;
	argv[n++] = "--lld";
	argv[n++] = "iscsi";
	for (size_t i = 0; rest[i] != NULL && n < 31; i++)
		argv[n++] = rest[i];
	argv[n] = NULL;
	rc = proc_run(argv, &o, res ? res : &r);
	proc_result_clear(&r);
	return rc;
}

static int
tgtadm(struct tgt *t, const char *const *rest, struct proc_result *res)
{
	return admin(t, rest, false, res);
}

/* 0 if a tgtd answers on the control port. Not answering is the usual
 * answer before a start: no warning. */
static int
probe(struct tgt *t)
{
	const char *argv[] = { "tgtadm", "-C", t->port, "--op", "show",
	    "--mode", "sys", NULL };
	struct proc_opts o = { .timeout_ms = TGTADM_TIMEOUT_MS,
	    .allow_nonzero = true };
	struct proc_result r = { 0 };
	int rc;

	rc = proc_run(argv, &o, &r) == 0 && r.status == 0 ? 0 : -1;
	proc_result_clear(&r);
	return rc;
}

static int
show(struct tgt *t, struct tgt_target **out, size_t *n)
{
	const char *rest[] = { "--op", "show", "--mode", "target", NULL };
	struct proc_result r = { 0 };
	int rc;

	if (tgtadm(t, rest, &r) == -1) {
		proc_result_clear(&r);
		err_set(TS_EUNAVAILABLE, "tgt: tgtd on control port %s does "
		    "not answer", t->port);
		health_down("tgtd", "%s", err_msg());
		return -1;
	}
	health_up("tgtd", t->portal);
	rc = tgt_show_parse(r.out, out, n);
	proc_result_clear(&r);
	return rc;
}

static int
delete_target(struct tgt *t, const struct tgt_target *tg)
{
	char tid[16];
	int rc = 0;

	snprintf(tid, sizeof(tid), "%d", tg->tid);
	for (size_t i = 0; i < tg->naccounts; i++) {
		const char *unb[] = { "--op", "unbind", "--mode", "account",
		    "--tid", tid, "--user", tg->accounts[i], NULL };
		const char *del[] = { "--op", "delete", "--mode", "account",
		    "--user", tg->accounts[i], NULL };

		if (tgtadm(t, unb, NULL) == -1 || tgtadm(t, del, NULL) == -1)
			rc = -1;
	}
	{
		const char *del[] = { "--op", "delete", "--force", "--mode",
		    "target", "--tid", tid, NULL };

		if (tgtadm(t, del, NULL) == -1)
			rc = -1;
	}
	return rc;
}

static bool
listed(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/*
 * Closes the sessions of tg whose initiator w does not list (its ACL no
 * longer admits them: detached, or an evacuation renamed the
 * attachment's initiator to its new host's), after converge_one() has
 * changed the ACL, so the initiator's reconnect is refused. A live
 * migration is not touched: its attachment keeps one initiator name on
 * both hosts (volume_attach_follow()), so both qemus' sessions are
 * admitted by the same ACL entry. A session gone by itself between the
 * show and the delete is not an error.
 */
static int
close_strays(struct tgt *t, const struct tgt_target *tg,
    const struct tgt_want *w)
{
	char tid[16], sid[24], cid[16];

	snprintf(tid, sizeof(tid), "%d", tg->tid);
	for (size_t i = 0; i < tg->nnexus; i++) {
		const struct tgt_nexus *nx = &tg->nexus[i];
		bool keep = false;

		for (size_t k = 0; k < w->nacl; k++)
			keep |= strcmp(w->acls[k].initiator,
			    nx->initiator) == 0;
		if (keep)
			continue;
		snprintf(sid, sizeof(sid), "%" PRIu64, nx->sid);
		log_info("tgt: closing session %s of %s on target %s: not in "
		    "its ACL", sid, nx->initiator, tg->name);
		for (size_t c = 0; c < nx->ncid; c++) {
			const char *del[] = { "--op", "delete", "--mode",
			    "conn", "--tid", tid, "--sid", sid, "--cid", cid,
			    NULL };
			struct proc_result r = { 0 };
			int rc;

			snprintf(cid, sizeof(cid), "%" PRIu32, nx->cid[c]);
			rc = admin(t, del, true, &r);
			if (rc == 0 && r.status != 0 &&
			    strstr(r.err, "can't find the") == NULL) {
				err_set(TS_EIO, "tgtadm delete conn exited "
				    "with status %d: %.200s", r.status, r.err);
				rc = -1;
			}
			proc_result_clear(&r);
			if (rc == -1)
				return -1;
		}
	}
	return 0;
}

/* One wanted export on target tg (as shown; tid set). */
static int
converge_one(struct tgt *t, const struct tgt_target *tg, struct tgt_want *w)
{
	char tid[16];
	int rc;

	snprintf(tid, sizeof(tid), "%d", tg->tid);
	if (strcmp(tg->lun1, w->path) != 0) {
		const char *del[] = { "--op", "delete", "--mode",
		    "logicalunit", "--tid", tid, "--lun", "1", NULL };
		const char *add[] = { "--op", "new", "--mode", "logicalunit",
		    "--tid", tid, "--lun", "1", "-b", w->path, "--bstype",
		    "rdwr", NULL };

		if ((tg->lun1[0] != '\0' && tgtadm(t, del, NULL) == -1) ||
		    tgtadm(t, add, NULL) == -1)
			return -1;
	}
	/* Accounts and initiators of exports gone (detached). */
	for (size_t i = 0; i < tg->naccounts; i++) {
		bool keep = false;

		for (size_t k = 0; k < w->nacl; k++)
			keep |= strcmp(w->acls[k].user, tg->accounts[i]) == 0;
		if (!keep) {
			const char *unb[] = { "--op", "unbind", "--mode",
			    "account", "--tid", tid, "--user",
			    tg->accounts[i], NULL };
			const char *del[] = { "--op", "delete", "--mode",
			    "account", "--user", tg->accounts[i], NULL };

			if (tgtadm(t, unb, NULL) == -1 ||
			    tgtadm(t, del, NULL) == -1)
				return -1;
		}
	}
	for (size_t i = 0; i < tg->nacl; i++) {
		bool keep = false;

		for (size_t k = 0; k < w->nacl; k++)
			keep |= strcmp(w->acls[k].initiator, tg->acl[i]) == 0;
		if (!keep) {
			const char *unb[] = { "--op", "unbind", "--mode",
			    "target", "--tid", tid, "--initiator-name",
			    tg->acl[i], NULL };

			if (tgtadm(t, unb, NULL) == -1)
				return -1;
		}
	}
	for (size_t k = 0; k < w->nacl; k++) {
		const struct tgt_acl *a = &w->acls[k];

		if (!listed(tg->accounts, tg->naccounts, a->user)) {
			/* One word "--password=...": log.c redacts it in the
			 * runner's debug line (a separate word it would not). */
			char pw[128];
			const char *add[] = { "--op", "new", "--mode",
			    "account", "--user", a->user, pw, NULL };
			const char *bind[] = { "--op", "bind", "--mode",
			    "account", "--tid", tid, "--user", a->user, NULL };

			snprintf(pw, sizeof(pw), "--password=%s", a->secret);
			/* Absent is the usual case (each tgtadm is a process
			 * and a round trip to tgtd: no delete up front); an
			 * account of that name left by a crash may have
			 * another password: deleted and made anew. */
			if ((rc = tgtadm(t, add, NULL)) == -1) {
				struct proc_result r = { 0 };
				const char *del[] = { "--op", "delete",
				    "--mode", "account", "--user", a->user,
				    NULL };

				admin(t, del, true, &r);
				proc_result_clear(&r);
				rc = tgtadm(t, add, NULL);
			}
			explicit_bzero(pw, sizeof(pw));
			if (rc == -1 || tgtadm(t, bind, NULL) == -1)
				return -1;
		}
		if (!listed(tg->acl, tg->nacl, a->initiator)) {
			const char *bind[] = { "--op", "bind", "--mode",
			    "target", "--tid", tid, "--initiator-name",
			    a->initiator, NULL };

			if (tgtadm(t, bind, NULL) == -1)
				return -1;
		}
	}
	return close_strays(t, tg, w);
}

static bool
valid_word(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

int
tgt_converge(struct tgt *t, struct tgt_want *want, size_t n)
{
	struct tgt_target *have = NULL;
	size_t nhave = 0;
	int next = 1;

	if (show(t, &have, &nhave) == -1)
		return -1;
	for (size_t i = 0; i < nhave; i++)
		if (have[i].tid >= next)
			next = have[i].tid + 1;
	for (size_t i = 0; i < n; i++) {
		struct tgt_want *w = &want[i];
		struct tgt_target *tg = NULL, fresh;
		bool bad = false;

		w->ok = true;
		w->msg[0] = '\0';
		for (size_t k = 0; k < nhave; k++)
			if (strcmp(have[k].name, w->iqn) == 0)
				tg = &have[k];
		if (w->nacl == 0) {
			if (tg != NULL && delete_target(t, tg) == -1) {
				w->ok = false;
				snprintf(w->msg, sizeof(w->msg), "unexport: %s",
				    err_msg());
			}
			continue;
		}
		for (size_t k = 0; k < w->nacl; k++)
			bad |= !valid_word(w->acls[k].initiator, 255) ||
			    !valid_word(w->acls[k].user, 64) ||
			    !valid_word(w->acls[k].secret, 64);
		if (bad || w->path == NULL || w->path[0] != '/') {
			w->ok = false;
			snprintf(w->msg, sizeof(w->msg), "export: bad "
			    "initiator, CHAP account or path");
			continue;
		}
		if (tg == NULL) {
			char tid[16];
			const char *add[] = { "--op", "new", "--mode", "target",
			    "--tid", tid, "-T", w->iqn, NULL };

			snprintf(tid, sizeof(tid), "%d", next);
			if (tgtadm(t, add, NULL) == -1) {
				w->ok = false;
				snprintf(w->msg, sizeof(w->msg), "export: %s",
				    err_msg());
				continue;
			}
			memset(&fresh, 0, sizeof(fresh));
			fresh.tid = next++;
			tg = &fresh;
		}
		if (converge_one(t, tg, w) == -1) {
			w->ok = false;
			snprintf(w->msg, sizeof(w->msg), "export: %s",
			    err_msg());
		}
	}
	tgt_targets_free(&have, nhave);
	return 0;
}

/* ---------------------------------------------------------- supervisor */

static void
wait_ms(struct tgt *t, int64_t ms)
{
	struct timespec ts;

	clock_deadline(&ts, CLOCK_MONOTONIC, ms);
	pthread_mutex_lock(&t->mu);
	if (!t->stop)
		pthread_cond_timedwait(&t->cv, &t->mu, &ts);
	pthread_mutex_unlock(&t->mu);
}

static int
stopping(struct tgt *t)
{
	int s;

	pthread_mutex_lock(&t->mu);
	s = t->stop;
	pthread_mutex_unlock(&t->mu);
	return s;
}

static void *
supervisor(void *arg)
{
	struct tgt *t = arg;
	char portal[TGT_NAME_MAX + 16];
	const char *argv[] = { "tgtd", "-f", "-C", t->port, "--iscsi", portal,
	    NULL };
	int64_t backoff = 0;
	int adopted_logged = 0;

	snprintf(portal, sizeof(portal), "portal=%s", t->portal);
	while (!stopping(t)) {
		struct proc_opts o = { .timeout_ms = UINT_MAX,
		    .new_pgroup = true, .allow_nonzero = true,
		    .max_output = 64 * 1024 };
		struct proc_result r = { 0 };
		int64_t t0;

		if (probe(t) == 0) {
			/* Somebody's tgtd serves this control port: ours from
			 * before a restart of the agent. */
			if (!adopted_logged++)
				log_info("tgt: tgtd on control port %s is "
				    "running: adopted", t->port);
			if (t->notify != NULL && adopted_logged == 1)
				t->notify(t->arg);
			health_up("tgtd", t->portal);
			wait_ms(t, WATCH_MS);
			continue;
		}
		adopted_logged = 0;
		pthread_mutex_lock(&t->mu);
		if (t->stop) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		t->running = 1;
		t->starts++;
		pthread_mutex_unlock(&t->mu);
		log_info("tgt: starting tgtd (control port %s, portal %s)",
		    t->port, t->portal);
		if (t->notify != NULL)
			t->notify(t->arg);
		t0 = clock_mono_ms();
		if (proc_run(argv, &o, &r) == 0) {
			/* Our own stop (tgt_free) is not a failure. */
			if (!stopping(t)) {
				log_error("tgt: tgtd exited with status %d%s"
				    "%.200s", r.status, r.err_len ? ": " : "",
				    r.err);
				health_down("tgtd", "tgtd exited with status "
				    "%d", r.status);
			}
		} else {
			log_error("tgt: tgtd: %s", err_msg());
			health_down("tgtd", "%s", err_msg());
		}
		proc_result_clear(&r);
		pthread_mutex_lock(&t->mu);
		t->running = 0;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		if (clock_mono_ms() - t0 >= STABLE_MS)
			backoff = 0;
		backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
		if (backoff > BACKOFF_MAX_MS)
			backoff = BACKOFF_MAX_MS;
		wait_ms(t, backoff);
	}
	return NULL;
}

struct tgt *
tgt_new(const char *portal, int control_port)
{
	struct tgt *t;
	pthread_condattr_t ca;
	const char *colon = portal ? strrchr(portal, ':') : NULL;

	if (colon == NULL || colon == portal || atoi(colon + 1) <= 0 ||
	    atoi(colon + 1) > 65535 || !valid_word(portal, 200)) {
		err_set(TS_EINVALID, "tgt: iscsi_portal '%s' is not "
		    "address:port", portal ? portal : "");
		return NULL;
	}
	if (control_port < 1 || control_port > TGT_CONTROL_MAX) {
		err_set(TS_EINVALID, "tgt: control port out of range");
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		err_set(TS_ENOMEM, "tgt: out of memory");
		return NULL;
	}
	snprintf(t->portal, sizeof(t->portal), "%s", portal);
	snprintf(t->port, sizeof(t->port), "%d", control_port);
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	return t;
}

int
tgt_start(struct tgt *t, tgt_notify_fn notify, void *arg)
{
	int rc;

	if (t->started)
		return 0;
	t->notify = notify;
	t->arg = arg;
	if ((rc = pthread_create(&t->th, NULL, supervisor, t)) != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "tgt: thread");
		return -1;
	}
	t->started = 1;
	return 0;
}

const char *
tgt_portal(const struct tgt *t)
{
	return t->portal;
}

uint64_t
tgt_starts(struct tgt *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->mu);
	n = t->starts;
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* The tgtd this process started (a child named tgtd), killed when it
 * would not stop on request. */
static void
kill_child(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t me = getpid();

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[64], buf[512], *rp;
		long pid = strtol(de->d_name, NULL, 10), ppid;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
		if ((f = fopen(p, "re")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    strstr(buf, "(tgtd)") != NULL &&
		    (rp = strrchr(buf, ')')) != NULL &&
		    sscanf(rp + 2, "%*c %ld", &ppid) == 1 && ppid == me) {
			log_warnx("tgt: tgtd %ld does not stop: killed", pid);
			kill((pid_t)pid, SIGKILL);
		}
		fclose(f);
	}
	closedir(d);
}

void
tgt_free(struct tgt **tp)
{
	struct tgt *t = *tp;

	if (t == NULL)
		return;
	if (t->started) {
		int running;

		pthread_mutex_lock(&t->mu);
		t->stop = 1;
		running = t->running;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		if (running) {
			struct tgt_target *have = NULL;
			size_t n = 0;
			const char *sys[] = { "--op", "delete", "--mode",
			    "system", NULL };
			int64_t until = clock_mono_ms() + STOP_WAIT_MS;

			/* tgtd leaves only without targets. */
			if (show(t, &have, &n) == 0)
				for (size_t i = 0; i < n; i++)
					delete_target(t, &have[i]);
			tgt_targets_free(&have, n);
			tgtadm(t, sys, NULL);
			pthread_mutex_lock(&t->mu);
			while (t->running && clock_mono_ms() < until) {
				struct timespec ts;

				clock_deadline(&ts, CLOCK_MONOTONIC, 100);
				pthread_cond_timedwait(&t->cv, &t->mu, &ts);
			}
			running = t->running;
			pthread_mutex_unlock(&t->mu);
			if (running)
				kill_child();
		}
		pthread_join(t->th, NULL);
	}
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
	*tp = NULL;
}
