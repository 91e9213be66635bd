/*
 * request: the request layer every service's handlers share, on top of
 * controller/http: who is calling (struct request_ctx) and what the policy
 * allows them (request_enforce()).
 *
 * The layer owns the policy (every service's built-in rules plus the
 * operator's file) and installs the server's two hooks:
 *
 * - authenticate: the X-Auth-Token header is handed to the token checker
 *   the builder registered (request_set_authenticator(); identity's, which
 *   validates it as Keystone would: decrypt, expiry, revocation list, the
 *   user, its domain and the token's scope still exist and are enabled, the
 *   user still has a role on the scope) and becomes the request's struct
 *   request_ctx: who, which scope, which role names. Roles are looked up
 *   then, never carried in the token.
 *   On a route flagged ROUTE_CAPABILITY, an X-Auth-Token that is an image
 *   download capability (auth/capability.h) goes instead to the capability
 *   checker (request_set_capability_checker()) with the X-Tinystack-Host
 *   header and the route's {image_id}: this is the one place capabilities
 *   are accepted. Its context names nobody (no user, no project, no role:
 *   request_enforce() denies it everything) and has `capability` set; the
 *   handler serves the checked image without asking a rule. A capability
 *   on any other route is refused as an invalid token is.
 * - authorize: the route's policy rule is enforced by request_enforce()
 *   against a target built by the service's registered target builder from
 *   the URL's path parameters and the database, never from the request
 *   body (CVE-2026-42999).
 *
 * request_enforce() is the one enforcement function: handlers call it
 * again for decisions that need the object they loaded
 * (request_enforce_owned() answers 404 rather than 403 for another
 * project's resource, so a member cannot learn that it exists).
 *
 * The layer knows no service: checker and target builders are function
 * pointers registered by controller/services.c.
 *
 * Threads: request_new/free and the registrations run on the main thread
 * before the server starts; everything else on the HTTP pool, where the
 * layer is read-only.
 */
#ifndef TS_HTTP_REQUEST_H
#define TS_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/policy.h"
#include "auth/token.h"
#include "http/apierr.h"
#include "http/http.h"

struct request;

/* ---- request context ---------------------------------------------------- */

struct request_role {
	char	*id;
	char	*name;
};

/*
 * Who is calling, from a validated token; set by the authenticate hook (and
 * built the same way for X-Subject-Token by identity). Strings are owned by
 * the context and never NULL in a context the hook set: "" when not
 * applicable (no project in an unscoped token...).
 */
struct request_ctx {
	struct token_payload	 tok;
	char			 token[TOKEN_BUFSZ];
	char			*user_id;
	char			*user_name;
	char			*user_domain_id;
	char			*user_domain_name;
	enum token_scope	 scope;
	/* Project scope: the project; domain scope: the domain (is_domain,
	 * its own domain fields empty). */
	char			*project_id;
	char			*project_name;
	char			*project_domain_id;
	char			*project_domain_name;
	/* Effective roles on the scope (idstore_roles_effective(): own and
	 * group grants plus implied roles); sorted by name, no duplicates. */
	struct request_role	*roles;
	size_t			 nroles;
	const char		**role_names;	/* nroles, for policy */
	/* The policy the context is checked against: the layer's, set by
	 * the authenticate hook (borrowed; NULL in other contexts). */
	const struct policy	*policy;
	/* The caller presented an image download capability the layer
	 * checked for the route's {image_id}, minted for instance (a UUID);
	 * every string above is "" and no rule allows it anything. */
	bool			 capability;
	/* ...and it is an upload capability (ROUTE_CAPABILITY_UPLOAD: a
	 * snapshot's data for the route's {image_id}), not a download one. */
	bool			 cap_upload;
	char			 cap_instance[37];
};

/* Zeroed, owned context (NULL, TS_ENOMEM). */
struct request_ctx	*request_ctx_new(void);
void		 request_ctx_free(struct request_ctx **);
/* Release everything the context holds and zero it (reusable). */
void		 request_ctx_clear(struct request_ctx *);
/* Copy s into the context field *field (replacing it). -1 TS_ENOMEM. */
int		 request_ctx_set(char **field, const char *s);
/* Append a role unless present (keeps the order by name). -1 TS_ENOMEM. */
int		 request_ctx_add_role(struct request_ctx *, const char *id,
		    const char *name);
bool		 request_ctx_has_role(const struct request_ctx *,
		    const char *name);

/* The caller's context (NULL on a ROUTE_NO_AUTH route). Borrowed for the
 * request. A handler's own service is http_req_app(). */
const struct request_ctx *request_ctx_of(const struct http_req *);

/* ---- policy ------------------------------------------------------------- */

#define REQUEST_TARGET_MAX	16

/* A policy target under construction; values are copied in. */
struct request_target {
	struct policy_kv	 kv[REQUEST_TARGET_MAX];
	size_t			 n;
	char			 buf[4096];
	size_t			 used;
};

/* Add key = value (copied; key is a static string). -1 TS_EINTERNAL when
 * the target is full, which is a programming error. */
int	request_target_add(struct request_target *, const char *key,
	    const char *value);

/*
 * Enforce rule for the caller of req on target (NULL: empty). 0 if
 * allowed, else -1 with TS_EFORBIDDEN ("Policy doesn't allow ...").
 * Callers without a context (unauthenticated routes) are denied.
 */
int	request_enforce(struct http_req *, const char *rule,
	    const struct request_target *);
/*
 * As request_enforce() for an object owned by project owner_project_id: if
 * denied and the caller's token is not scoped to that project, the answer
 * is -1 with TS_ENOT_FOUND "Could not find <what>: <id>." instead, as if the
 * object did not exist.
 */
int	request_enforce_owned(struct http_req *, const char *rule,
	    const struct request_target *, const char *owner_project_id,
	    const char *what, const char *id);
/* Whether rule holds for the caller, without logging a denial (a denial
 * may leave err set): for decisions such as "is this an admin", not for
 * refusing a request. */
bool	request_allowed(struct http_req *, const char *rule,
	    const struct request_target *);

/* ---- microversions ----------------------------------------------------- */

/*
 * Whether a request at microversion minor (the N of X.N its service
 * negotiated) has the change microversion since introduced: the one
 * comparison every version gate makes. Services name their since values
 * (compute_int.h's enum compute_mv) rather than compare literals.
 */
bool	request_mv_has(int minor, int since);

/* ---- the layer ---------------------------------------------------------- */

/*
 * Validate token into out (cleared first by the checker). -1 with
 * TS_EUNAUTHORIZED when the token is not valid, any other code (503
 * without token keys...) passes through.
 */
typedef int	(*request_authenticate_fn)(void *arg, const char *token,
		    struct request_ctx *out);
/*
 * Check the image download capability cap for a GET of image_id by host
 * (upload: the upload capability, for a PUT of its data)
 * (X-Tinystack-Host, NULL when absent) and fill out (cleared first by the
 * checker, `capability` set). -1 with TS_EUNAUTHORIZED when it is not
 * valid (bad, expired, another host), TS_ENOT_FOUND when it does not name
 * image_id; other codes (503 without keys) pass through.
 */
typedef int	(*request_capability_fn)(void *arg, const char *cap,
		    const char *host, const char *image_id, bool upload,
		    struct request_ctx *out);
/* Fill t from the URL's path parameters and the database. */
typedef int	(*request_target_fn)(struct http_req *,
		    struct request_target *t);

/*
 * The layer with the policy built from tables (NULL-terminated list of
 * NULL-terminated rule tables, static: the reload reads them again) and the
 * file at policy_file (NULL or "": built-in rules only). A missing file
 * means the built-in rules until it appears (oslo.policy's behaviour)
 * unless must_exist. NULL with err set (a bad policy file is fatal).
 */
struct request	*request_new(const struct policy_default *const *tables,
		    const char *policy_file, bool must_exist);
/* Once a second from the main thread: a changed policy file (other
 * mtime, size or inode, created or removed) is read again and swapped in
 * whole; one that does not load keeps the current rules and says why. */
void		 request_tick(struct request *, int64_t now_ms);
void		 request_free(struct request **);
/* The token checker; arg is borrowed and must outlive the server. */
void		 request_set_authenticator(struct request *,
		    request_authenticate_fn, void *arg);
/* The capability checker (ROUTE_CAPABILITY routes); arg is borrowed and
 * must outlive the server. Without one, capabilities are refused. */
void		 request_set_capability_checker(struct request *,
		    request_capability_fn, void *arg);
/* The policy-target builder of a service's routes. A service without one
 * enforces its route rules against an empty target. */
void		 request_set_target(struct request *, enum apierr_service,
		    request_target_fn);
/* Install the authenticate and authorize hooks into o. */
void		 request_http_opts(struct request *, struct http_opts *o);

#endif
