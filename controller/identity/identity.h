/*
 * identity: the Identity service (Keystone v3, plus the v2.0 token call),
 * as the rest of the controller sees it: life cycle, the listener's route
 * table and policy-target builder, token validation (the request layer's
 * authenticator), token minting (tests) and the agents' image
 * capabilities (compute: minted here, checked for the request layer), and
 * `tinystack-manage bootstrap`. Identity's own files share
 * identity_int.h, which also maps them.
 */
#ifndef TS_IDENTITY_H
#define TS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "http/request.h"
#include "identity/idstore.h"

struct config;
struct identity;
struct store;

/* ---- service state (identity.c) ----------------------------------------- */

/*
 * Read the [identity] options, load the key repository (a missing or bad
 * one is logged and retried by identity_tick(); meanwhile token requests
 * get 503) and the persisted revocation events. NULL with err set on a
 * database error.
 */
struct identity	*identity_new(const struct config *, struct store *);
void		 identity_free(struct identity **);
/* Main thread, once a second (services_tick()): reload rotated token
 * keys, pick up revocation events other processes wrote, prune old ones. */
void		 identity_tick(struct identity *, int64_t now_ms);

/*
 * Validate tok as a request's token: decrypt and expiry, revocation list,
 * then in one read transaction the user (enabled, domain enabled) and the
 * scope (project and its domain enabled, the user still holding a role on
 * it). Fills ctx (cleared first). -1 with TS_EUNAUTHORIZED when the token
 * is not valid, TS_EUNAVAILABLE without token keys.
 */
int	identity_token_check(struct identity *, const char *tok,
	    struct request_ctx *ctx);

/* The route table of the identity listener, and its policy-target builder
 * (path parameters {user_id}, {project_id}, {domain_id}, {role_id},
 * {group_id} plus the stored domain of the user or project they name). */
extern const struct http_route identity_routes[];
int	identity_policy_target(struct http_req *, struct request_target *);

/* Token lifetime in seconds ([identity] token_expiration). */
unsigned identity_token_lifetime(const struct identity *);

/*
 * A project-scoped token of user_id issued now for min(lifetime_s, the
 * configured token lifetime) seconds, without a password round trip (the
 * handler tests' personas; agents get capabilities instead, below, not
 * such a token of the instance's owner). Nothing is checked here: whoever
 * receives it validates it as any token, so a disabled user, a removed
 * role or a revoked project makes it useless. Any thread. -1 with
 * TS_EUNAVAILABLE (no token keys) or TS_EINVALID (ids, short buffer:
 * outlen >= TOKEN_BUFSZ).
 */
int	identity_token_mint(struct identity *, const char *user_id,
	    const char *project_id, unsigned lifetime_s, char *out,
	    size_t outlen);

/*
 * An image download capability (auth/capability.h) under the primary token
 * key: host may GET /v2/images/{id}/file of images[0..n-1] (1..3 canonical
 * UUIDs) for instance during lifetime_s seconds from now. The caller
 * decided that the instance may use those images (the compute API checked
 * their visibility to the instance's creator). Any thread. -1 with
 * TS_EUNAVAILABLE (no token keys) or TS_EINVALID (arguments, outlen <
 * CAPABILITY_BUFSZ).
 */
int	identity_capability_mint(struct identity *, const char *host,
	    const char *instance, const char *const *images, size_t n,
	    unsigned lifetime_s, char *out, size_t outlen);
/* The upload capability of image (a snapshot of instance being made on
 * host, auth/capability.h format 2); errors as identity_capability_mint(). */
int	identity_capability_mint_upload(struct identity *, const char *host,
	    const char *instance, const char *image, unsigned lifetime_s,
	    char *out, size_t outlen);
/* The request layer's capability checker (request_capability_fn, arg: the
 * identity): capability_check() against the loaded keys, then a context
 * that names nobody with `capability` and the instance set. */
int	identity_capability_check(void *arg, const char *cap,
	    const char *host, const char *image_id, bool upload,
	    struct request_ctx *ctx);

/* ---- bootstrap (identity_bootstrap.c) ----------------------------------- */

struct identity_bootstrap_opts {
	const char	*admin_password;	/* required */
	const char	*admin_username;	/* "admin" */
	const char	*project_name;		/* "admin" */
	const char	*role_name;		/* "admin" */
	const char	*region_id;		/* "RegionOne" */
	/* Catalog URLs: scheme://host:port from [api] (public_host or host,
	 * the service ports, https when a TLS certificate is configured). */
	const char	*public_host;
	bool		 https;
	unsigned	 identity_port, compute_port, image_port,
			 volume_port, network_port;
	unsigned long long opslimit;
	size_t		 memlimit;
};

struct identity_bootstrap_result {
	char	user_id[IDSTORE_ID_BUFSZ];
	char	project_id[IDSTORE_ID_BUFSZ];
	char	auth_url[512];
	/* What changed, for the operator. */
	unsigned created;	/* records created */
	bool	password_reset;	/* the admin's password was replaced */
};

/*
 * Idempotent, like `keystone-manage bootstrap`: make sure the default
 * domain, the admin project, user and role (admin also on
 * the system), the member and reader roles, the service project, region
 * and the catalog (identity, compute, image, volumev3, block-storage,
 * network; public, internal and admin endpoints) exist; an existing admin
 * is re-enabled and gets the given password if it differs (which revokes
 * its tokens). Hashes the password before writing.
 */
int	identity_bootstrap(struct store *, const struct identity_bootstrap_opts *,
	    struct identity_bootstrap_result *);

#endif
