/*
 * api: the controller's REST APIs, assembled on controller/http.
 *
 * One HTTP server, one listener per service port ([api] bind_host and
 * *_port), each with its service's static route table; for now identity
 * (Keystone v3 on identity_port). A service adds its listener in api.c
 * (listener table and policy-target builder) and its route table in its own
 * module.
 *
 * Every service shares the two hooks installed here:
 *
 * - authenticate: the X-Auth-Token header is validated as Keystone would
 *   (decrypt, expiry, revocation list, and the user, its domain and the
 *   token's scope still exist and are enabled, the user still has a role on
 *   the scope) and becomes the request's struct api_ctx: who, which scope,
 *   which role names. Roles are looked up now, never carried in the token.
 * - authorize: the route's policy rule is enforced by api_enforce() against
 *   a target built by the service from the URL's path parameters and the
 *   database, never from the request body (CVE-2026-42999).
 *
 * api_enforce() is the one enforcement function: handlers call it again
 * for decisions that need the object they loaded (api_enforce_owned()
 * answers 404 rather than 403 for another project's resource, so a member
 * cannot learn that it exists).
 *
 * Threads: api_new/start/stop/free and api_tick() run on the controller's
 * main thread; handlers on the HTTP pool. The struct is read-only for the
 * handlers once started.
 */
#ifndef TS_API_H
#define TS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/http.h"
#include "auth/policy.h"
#include "auth/token.h"

struct config;
struct store;
struct identity;
struct compute;
struct image_service;

/* Longest host name kept for catalog URLs. */
#define API_HOST_MAX	255
#define API_POLICY_PATH_MAX	4096
#define API_POLICY_RETIRED_MAX	8

struct api_policy_stamp {
	bool		exists;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	int64_t		mtime_ns;
};

struct api {
	const struct config	*cfg;		/* borrowed; outlives the api */
	struct store		*store;		/* borrowed */
	/* Owned; every service's rules. Swapped whole by api_tick() when the
	 * policy file changes (handlers load the pointer atomically; the old
	 * one is freed a minute later, see api.c). */
	struct policy *_Atomic	 policy;
	char			 policy_path[API_POLICY_PATH_MAX];
	struct api_policy_stamp	 policy_stamp;
	struct {
		struct policy	*policy;
		int64_t		 since_ms;
	}			 retired[API_POLICY_RETIRED_MAX];
	size_t			 nretired;
	struct identity		*identity;	/* owned */
	struct compute	*compute;	/* borrowed: the Compute API's
						   state (compute_api.h), set
						   by main before api_start */
	struct image_service	*image;		/* owned: the Image API
						   (image.h) */
	struct http_server	*http;		/* owned */
	struct http_listener	 listeners[HTTP_MAX_LISTENERS];
	size_t			 nlisteners;
	/* Host for catalog URLs: [api] public_host, else the host name. */
	char			 public_host[API_HOST_MAX + 1];
};

/*
 * Load the policy (built-in rules + [oslo_policy] policy_file), set up the
 * identity service (token keys, revocation list from the database) and the
 * HTTP server; nothing listens yet. Returns NULL with err set: a bad policy
 * file or HTTP option is fatal; missing token keys are not (requests that
 * need them get 503 and the key repository is retried by api_tick()).
 * host is the controller's host name, used when [api] public_host is empty.
 */
struct api	*api_new(const struct config *, struct store *,
		    const char *host);
/* Bind and start every listener (TS_EIO). */
int		 api_start(struct api *);
/* Stop listening and wait for running handlers. */
void		 api_stop(struct api *);
void		 api_free(struct api **);
/* Once a second from the main thread: reload rotated token keys, pick up
 * revocation events other processes wrote, prune old ones, reload the
 * policy file when it changed. */
void		 api_tick(struct api *, int64_t now_ms);
/* The port listener i is bound to (0 if none). */
uint16_t	 api_port(const struct api *, size_t i);

/* ---- request context ---------------------------------------------------- */

struct api_role {
	char	*id;
	char	*name;
};

/*
 * Who is calling, from a validated token; set by the authenticate hook (and
 * built the same way for X-Subject-Token by identity). Strings are owned by
 * the context and never NULL in a context the hook set: "" when not
 * applicable (no project in an unscoped token...).
 */
struct api_ctx {
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
	struct api_role		*roles;
	size_t			 nroles;
	const char		**role_names;	/* nroles, for policy */
};

/* Zeroed, owned context (NULL, TS_ENOMEM). */
struct api_ctx	*api_ctx_new(void);
void		 api_ctx_free(struct api_ctx **);
/* Release everything the context holds and zero it (reusable). */
void		 api_ctx_clear(struct api_ctx *);
/* Copy s into the context field *field (replacing it). -1 TS_ENOMEM. */
int		 api_ctx_set(char **field, const char *s);
/* Append a role unless present (keeps the order by name). -1 TS_ENOMEM. */
int		 api_ctx_add_role(struct api_ctx *, const char *id,
		    const char *name);
bool		 api_ctx_has_role(const struct api_ctx *, const char *name);

/* The api a handler runs for, and the caller's context (NULL on a
 * ROUTE_NO_AUTH route). Borrowed for the request. */
struct api		*api_of(const struct http_req *);
const struct api_ctx	*api_req_ctx(const struct http_req *);

/* ---- policy ------------------------------------------------------------- */

#define API_TARGET_MAX	16

/* A policy target under construction; values are copied in. */
struct api_target {
	struct policy_kv	 kv[API_TARGET_MAX];
	size_t			 n;
	char			 buf[4096];
	size_t			 used;
};

/* Add key = value (copied; key is a static string). -1 TS_EINTERNAL when
 * the target is full, which is a programming error. */
int	api_target_add(struct api_target *, const char *key,
	    const char *value);

/*
 * Enforce rule for the caller of req on target (NULL: empty). 0 if
 * allowed, else -1 with TS_EFORBIDDEN ("Policy doesn't allow ...").
 * Callers without a context (unauthenticated routes) are denied.
 */
int	api_enforce(struct http_req *, const char *rule,
	    const struct api_target *);
/*
 * As api_enforce() for an object owned by project owner_project_id: if
 * denied and the caller's token is not scoped to that project, the answer
 * is -1 with TS_ENOT_FOUND "Could not find <what>: <id>." instead, as if the
 * object did not exist.
 */
int	api_enforce_owned(struct http_req *, const char *rule,
	    const struct api_target *, const char *owner_project_id,
	    const char *what, const char *id);

#endif
