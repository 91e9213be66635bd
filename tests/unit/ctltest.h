/*
 * ctltest: the controller's services in-process, for handler tests.
 *
 * ctltest_new() builds what tinystack-controller builds (config, LMDB
 * store, agent bus, compute service, api with identity, image and compute
 * listeners) against a temporary directory, with no daemon and no agent:
 * the bus is a server bound to an inproc endpoint nobody connects to, so
 * every create is scheduled on no host. The HTTP listeners are bound to
 * ephemeral ports on 127.0.0.1. Identity is bootstrapped as
 * `tinystack-manage bootstrap` does, then the personas below are added and
 * a token is minted for each in-process (no password round trip).
 *
 * Tests talk to the APIs with ctltest_call(): a blocking HTTP/1.1 request
 * on a fresh connection; the answer is kept in the fixture until the next
 * call (one test thread, so one answer at a time is enough).
 *
 * How the services are assembled lives in one function of ctltest.c
 * (services_build()): when the controller's construction changes, that is
 * the only place to adapt.
 */
#ifndef TS_CTLTEST_H
#define TS_CTLTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ctltest_priv;
struct store;

/* Who calls. Every persona but the admin has the password "secret"; the
 * admin's is ctltest.admin_password. Tests that change a password or
 * revoke a token use users of their own: these tokens live for the whole
 * binary. */
enum ctltest_who {
	CT_ANON = 0,	/* no X-Auth-Token */
	CT_ADMIN,	/* admin user, admin role on the "admin" project */
	CT_MEMBER,	/* member role on project "alpha" */
	CT_READER,	/* reader role on project "alpha" */
	CT_OTHER,	/* member role on project "beta" */
	CT_SYSADMIN,	/* admin user, system-scoped token */
	CT__NWHO
};

/* Which listener. */
enum ctltest_svc {
	CT_IDENTITY = 0,
	CT_IMAGE,
	CT_COMPUTE,
	CT_NETWORK,
	CT_VOLUME,
	CT_DASHBOARD,	/* the page, and every API mounted under its name */
	CT__NSVC
};

struct ctltest_resp {
	int	 status;
	char	*headers;	/* "Name: value\n" lines, as received */
	char	*raw;		/* body, NUL-terminated */
	size_t	 len;
	json_t	*body;		/* parsed raw when it is JSON, else NULL */
};

struct ctltest {
	char			 dir[64];	/* everything on disk */
	char			 user_id[CT__NWHO][65];
	char			 project_id[CT__NWHO][65];
	char			 token[CT__NWHO][256];
	char			 admin_password[32];
	uint16_t		 port[CT__NSVC];
	struct ctltest_resp	 r;		/* the last answer */
	struct ctltest_priv	*priv;
};

/* Build and start everything; NULL (with a message on stderr) on
 * failure. */
struct ctltest	*ctltest_new(void);
/* Stop the listeners, free everything, remove the directory. */
void		 ctltest_free(struct ctltest **);
/* The controller's store, for fixtures the APIs cannot create (a host as
 * an agent would have reported it). Borrowed. */
struct store	*ctltest_store(struct ctltest *);
/* The identity service (mints image capabilities as compute does).
 * Borrowed. */
struct identity;
struct identity	*ctltest_identity(struct ctltest *);
/* The network dataplane sync the services built (no tick runs it here:
 * the test thread may drive it). Borrowed. */
struct netsync;
struct netsync	*ctltest_netsync(struct ctltest *);
/* The storage sync (no tick runs it here either). Borrowed. */
struct storesync;
struct storesync *ctltest_storesync(struct ctltest *);
/* The volume service (its compute-side functions). Borrowed. */
struct volume;
struct volume	*ctltest_volume(struct ctltest *);

/*
 * One request: method path (with the query) on svc's listener as who;
 * body is JSON text or NULL; extra_hdrs "Name: value\r\n" lines or NULL
 * (a Content-Type there replaces the default application/json). Returns
 * the status (the answer is t->r), or -1 if the exchange failed.
 */
int	ctltest_call(struct ctltest *, enum ctltest_svc, enum ctltest_who,
	    const char *method, const char *path, const char *body,
	    const char *extra_hdrs);

/* Header name of the last answer (borrowed until the next call), or
 * NULL. */
const char *ctltest_header(struct ctltest *, const char *name);
/*
 * The error message of the last answer whatever the service's shape:
 * {"error": {"message"}} (identity), {"<fault>": {"message"}} (compute),
 * or the text of glance's HTML page. Borrowed until the next call; "" if
 * none.
 */
const char *ctltest_errmsg(struct ctltest *);
/* A string member by path "a.b.c" (array indexes as numbers) in the last
 * body, or NULL. */
const char *ctltest_str(struct ctltest *, const char *path);
json_t	*ctltest_get(struct ctltest *, const char *path);

/* tmpl with its "%s" (if any) replaced by value, into out: tables of
 * cases hold ids known only at run time without format warnings. */
void	ctltest_subst(char *out, size_t outlen, const char *tmpl,
	    const char *value);

/* ---- checks (cmocka) ---------------------------------------------------- */

/* Checks made so far by ctltest_expect(), for the summary line. */
extern unsigned ctltest_checks;

/*
 * Fail the test unless the last answer has status and, when msg is not
 * NULL, the error message msg: equal for JSON bodies, contained in the
 * text of glance's HTML page.
 */
void	ctltest_expect_at(struct ctltest *, int status, const char *msg,
	    const char *file, int line);
#define ctltest_expect(t, status, msg)					\
	ctltest_expect_at((t), (status), (msg), __FILE__, __LINE__)
/* One request and its expected answer. */
#define CT_CALL(t, svc, who, m, path, body, status, msg) do {		\
	ctltest_call((t), (svc), (who), (m), (path), (body), NULL);	\
	ctltest_expect_at((t), (status), (msg), __FILE__, __LINE__);	\
} while (0)

#endif
