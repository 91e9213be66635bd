/*
 * identity_int: what identity's own files share (not for other modules:
 * they use identity.h). The Identity service (Keystone v3, plus the v2.0
 * token call), spread over
 *   identity.c          service state (token keys, revocation list), token
 *                       validation into an request_ctx, POST/GET/HEAD/DELETE
 *                       /v3/auth/tokens, /v3/auth/{projects,domains,catalog},
 *                       version discovery, v2.0 tokens and tenants, the
 *                       route table and the policy-target builder
 *   identity_admin.c    domains, projects, users, roles
 *   identity_assign.c   grants (users and groups), /v3/role_assignments,
 *                       groups and members, implied roles
 *   identity_catalog.c  services, endpoints, regions and catalog rendering
 *   identity_json.c     "extra" attributes and response helpers (request
 *                       fields: http/jsonreq.h)
 *   identity_bootstrap.c  `tinystack-manage bootstrap`
 *   compliance.c        [security_compliance] password rules (compliance.h)
 *   idstore.c           the records (idstore.h)
 *
 * Rules every handler follows:
 * - Reads use a read transaction of their own; writes go through
 *   store_write() with a function that re-reads what it depends on inside
 *   the write transaction (uniqueness, existence), so concurrent requests
 *   cannot both pass a check.
 * - Password hashing and verification run on the HTTP worker thread, before
 *   or after the write, never inside a store_write() function.
 * - A change that must end tokens (password change, user/project disabled
 *   or deleted, role removed, token revoked) persists its revocation events
 *   in the same transaction (struct identity_revs) and adds them to the
 *   in-memory list before the response is sent.
 * - Policy targets come from the URL and the database (http/request.h).
 */
#ifndef TS_IDENTITY_INT_H
#define TS_IDENTITY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "http/request.h"
#include "compliance.h"
#include "identity.h"
#include "idstore.h"
#include "store.h"
#include "auth/token.h"

/* The service of an identity request (its listener's app). */
struct identity	*identity_of(struct http_req *);
/* The service's store (borrowed). */
struct store	*identity_store(const struct identity *);
/* Argon2id costs from [identity] password_hash_*. */
unsigned long long identity_pw_opslimit(const struct identity *);
size_t	identity_pw_memlimit(const struct identity *);
/* The [security_compliance] rules (compliance.h; borrowed). */
const struct compliance *identity_compliance(const struct identity *);

/*
 * The password check both logins and POST /v3/users/{id}/password make,
 * with the lockout: a locked-out user is refused before any verification
 * (401 "The account is locked for user: ID."), a wrong password counts a
 * failure in the user record (persisted), a right one clears the count.
 * u is the user as read before (a copy). 0: pw is u's password (the user's state is not otherwise judged:
 * enabled and expiry are the caller's), -1: TS_EUNAUTHORIZED with
 * *wrong set for a wrong password (the caller words that 401), or another
 * error (a lockout, the store).
 */
int	identity_password_check(struct identity *, const struct rec_user *u,
	    const char *pw, bool *wrong);

/* ---- revocations tied to a write ---------------------------------------- */

struct identity_revs {
	struct revoke_event	*v;
	size_t			 n, cap;
};

/* Inside a store_write() function: persist ev and remember it. */
int	identity_revs_add(struct identity_revs *, struct store_txn *,
	    const struct revoke_event *);
/* Shorthands; ids are identity ids (32 hex or "default"). A failed parse
 * is TS_EINTERNAL: stored ids always parse. */
int	identity_revs_user(struct identity_revs *, struct store_txn *,
	    const char *user_id, int64_t now_ms);
int	identity_revs_project(struct identity_revs *, struct store_txn *,
	    const char *project_id, int64_t now_ms);
int	identity_revs_user_project(struct identity_revs *, struct store_txn *,
	    const char *user_id, const char *project_id, int64_t now_ms);
/* After the write committed: add the events to the in-memory list (the
 * tokens stop validating now). Always frees the list's storage; call it
 * with committed=false after a failed write. */
void	identity_revs_done(struct identity *, struct identity_revs *,
	    bool committed);

/* ---- handlers (identity_admin.c, identity_catalog.c) -------------------- */

int	identity_admin_domain_list(struct http_req *, struct http_resp *);
int	identity_admin_domain_create(struct http_req *, struct http_resp *);
int	identity_admin_domain_get(struct http_req *, struct http_resp *);
int	identity_admin_domain_update(struct http_req *, struct http_resp *);
int	identity_admin_domain_delete(struct http_req *, struct http_resp *);

int	identity_admin_project_list(struct http_req *, struct http_resp *);
int	identity_admin_project_create(struct http_req *, struct http_resp *);
int	identity_admin_project_get(struct http_req *, struct http_resp *);
int	identity_admin_project_update(struct http_req *, struct http_resp *);
int	identity_admin_project_delete(struct http_req *, struct http_resp *);

int	identity_admin_user_list(struct http_req *, struct http_resp *);
int	identity_admin_user_create(struct http_req *, struct http_resp *);
int	identity_admin_user_get(struct http_req *, struct http_resp *);
int	identity_admin_user_update(struct http_req *, struct http_resp *);
int	identity_admin_user_delete(struct http_req *, struct http_resp *);
int	identity_admin_user_password(struct http_req *, struct http_resp *);
int	identity_admin_user_projects(struct http_req *, struct http_resp *);

int	identity_admin_role_list(struct http_req *, struct http_resp *);
int	identity_admin_role_create(struct http_req *, struct http_resp *);
int	identity_admin_role_get(struct http_req *, struct http_resp *);
int	identity_admin_role_update(struct http_req *, struct http_resp *);
int	identity_admin_role_delete(struct http_req *, struct http_resp *);

/* identity_assign.c: /v3/{projects,domains}/{id}/{users,groups}/{actor}/
 * roles[/{role_id}] and /v3/system/{users,groups}/..., role assignments,
 * groups and members, implied roles. */
int	identity_assign_grant_list(struct http_req *, struct http_resp *);
int	identity_assign_grant_put(struct http_req *, struct http_resp *);
int	identity_assign_grant_check(struct http_req *, struct http_resp *);
int	identity_assign_grant_delete(struct http_req *, struct http_resp *);
int	identity_assign_role_assignments(struct http_req *, struct http_resp *);
int	identity_assign_group_list(struct http_req *, struct http_resp *);
int	identity_assign_group_create(struct http_req *, struct http_resp *);
int	identity_assign_group_get(struct http_req *, struct http_resp *);
int	identity_assign_group_update(struct http_req *, struct http_resp *);
int	identity_assign_group_delete(struct http_req *, struct http_resp *);
int	identity_assign_group_users(struct http_req *, struct http_resp *);
int	identity_assign_user_groups(struct http_req *, struct http_resp *);
int	identity_assign_member_add(struct http_req *, struct http_resp *);
int	identity_assign_member_check(struct http_req *, struct http_resp *);
int	identity_assign_member_delete(struct http_req *, struct http_resp *);
int	identity_assign_implied_put(struct http_req *, struct http_resp *);
int	identity_assign_implied_get(struct http_req *, struct http_resp *);
int	identity_assign_implied_check(struct http_req *, struct http_resp *);
int	identity_assign_implied_delete(struct http_req *, struct http_resp *);
int	identity_assign_implied_list(struct http_req *, struct http_resp *);
int	identity_assign_role_inferences(struct http_req *, struct http_resp *);

/* The JSON of a role (shared by the role and grant handlers). */
json_t	*identity_assign_role_json(struct http_req *, const struct rec_role *);
/* Inside a write: revocation events for the (user, target) pairs an
 * assignment gives roles to (a group's: each member's). */
int	identity_assign_revs_assignment(struct identity_revs *, struct store_txn *,
	    const struct rec_assignment *, int64_t now_ms);
/* The same for every assignment matching f. */
int	identity_assign_revs_matching(struct identity_revs *, struct store_txn *,
	    const struct idstore_filter *, int64_t now_ms);
/* Inside a write: delete a group, its memberships and grants, with the
 * revocation events of its members' roles. */
int	identity_assign_group_delete_rec(struct store_txn *, const char *group_id,
	    struct identity_revs *, int64_t now_ms);

/* Projects and domains of the caller's token user (enabled ones with a
 * role), for /v3/auth/projects, /v3/auth/domains and GET /v2.0/tenants. */
int	identity_admin_auth_projects(struct http_req *, struct http_resp *);
int	identity_admin_auth_domains(struct http_req *, struct http_resp *);
int	identity_admin_v2_tenants(struct http_req *, struct http_resp *);

int	identity_catalog_api_service_list(struct http_req *, struct http_resp *);
int	identity_catalog_api_service_create(struct http_req *, struct http_resp *);
int	identity_catalog_api_service_get(struct http_req *, struct http_resp *);
int	identity_catalog_api_service_update(struct http_req *, struct http_resp *);
int	identity_catalog_api_service_delete(struct http_req *, struct http_resp *);
int	identity_catalog_api_endpoint_list(struct http_req *, struct http_resp *);
int	identity_catalog_api_endpoint_create(struct http_req *, struct http_resp *);
int	identity_catalog_api_endpoint_get(struct http_req *, struct http_resp *);
int	identity_catalog_api_endpoint_update(struct http_req *, struct http_resp *);
int	identity_catalog_api_endpoint_delete(struct http_req *, struct http_resp *);
int	identity_catalog_api_region_list(struct http_req *, struct http_resp *);
int	identity_catalog_api_region_create(struct http_req *, struct http_resp *);
int	identity_catalog_api_region_put(struct http_req *, struct http_resp *);
int	identity_catalog_api_region_get(struct http_req *, struct http_resp *);
int	identity_catalog_api_region_update(struct http_req *, struct http_resp *);
int	identity_catalog_api_region_delete(struct http_req *, struct http_resp *);

/* ---- effective roles (identity.c) --------------------------------------- */

/*
 * Add to ctx the roles user_id holds on a target (idstore_roles_effective():
 * its own and its groups' grants, implied roles, no domain-specific ones).
 * Returns the number of roles (0: no access), or -1.
 */
int	identity_roles_load(struct store_txn *, const char *user_id,
	    enum idstore_target, const char *target_id, struct request_ctx *);

/* ---- catalog (identity_catalog.c) --------------------------------------- */

/*
 * Expand an endpoint URL template: "%(project_id)s", "$(project_id)s" and
 * the tenant_id spellings become project_id. Returns 0, 1 if the template
 * needs a project id and project_id is NULL (Keystone then leaves the
 * endpoint out), -1 (TS_EINVALID) if the result does not fit out.
 */
int	identity_catalog_url(const char *tmpl, const char *project_id,
	    char *out, size_t outlen);
/*
 * The catalog as a token carries it: enabled services with their enabled
 * endpoints, URLs expanded for project_id (NULL for a domain- or
 * system-scoped token: endpoints that need a project are left out).
 * Services come out in id order, endpoints in id order within a service.
 * NULL with err set.
 */
json_t	*identity_catalog_v3(struct store_txn *, const char *project_id);
/* The v2.0 serviceCatalog: per service and region one entry with
 * publicURL, internalURL and adminURL. */
json_t	*identity_catalog_v2(struct store_txn *, const char *project_id);

/* ---- JSON helpers (identity_json.c) ------------------------------------- */

/*
 * Members of o not named in known (NULL-terminated) are Keystone's "extra"
 * attributes: merged over old (a JSON object text or NULL) into *out (a new
 * JSON text, or NULL when there are none; free()). 400 if it exceeds
 * 65535 bytes.
 */
int	identity_json_extra(json_t *o, const char *const *known, const char *old,
	    char **out);
/* Copy the members of extra (JSON object text, may be NULL) into obj
 * without replacing members obj already has. */
void	identity_json_merge_extra(json_t *obj, const char *extra);
/* "<base URL><path>" for links; NULL with err set if it does not fit. */
json_t	*identity_json_url(struct http_req *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* {"<key>": items, "links": {"self": <this URL>, "previous": null,
 * "next": null}}; items is stolen. */
json_t	*identity_json_list(struct http_req *, const char *key, json_t *items);
/* A JSON string or null. */
json_t	*identity_json_str_or_null(const char *);
/* Keystone's time format, "2026-11-25T09:12:28.000000Z". */
#define IDENTITY_JSON_TIME_BUFSZ	48
void	identity_json_time(int64_t ms, char out[IDENTITY_JSON_TIME_BUFSZ]);
/* Run fn in a write transaction (store_write on the service's store). */
int	identity_json_write(struct http_req *, int (*fn)(struct store_txn *, void *),
	    void *arg);
/* A read transaction on the service's store. */
int	identity_json_read(struct http_req *, struct store_txn **);

#endif
