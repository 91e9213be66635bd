/*
 * idstore: the identity records in LMDB (projects and domains, users, roles,
 * role assignments, the service catalog, token revocation events).
 *
 * Records are the rec_* types of schemas/records.schema; tables and keys are
 * listed in db.h. What this module guarantees, inside the caller's write
 * transaction (a store_write() function, so concurrent API calls are
 * serialized by the committer):
 *
 * - Names are unique where Keystone makes them unique: a project name within
 *   its domain, a domain name among domains, a user name within its domain,
 *   a role name among global roles (or within its domain for a domain role),
 *   a group name within its domain.
 *   The *_by_name index tables are checked and written in the same
 *   transaction as the record, so of two concurrent creates of one name
 *   exactly one succeeds and the other gets TS_ECONFLICT.
 * - Deleting a user, group, project, domain or role deletes the role
 *   assignments, memberships and implied-role rules that name it, so none
 *   ever points at nothing.
 * - Revocation events get a sequence number from meta "revoke_seq" in the
 *   same transaction, so every process sees them in commit order.
 *
 * Referential checks that depend on the request (a project's domain exists,
 * a parent is in the same domain...) are the caller's: it makes them with
 * the getters below in the same write transaction.
 *
 * Getters fill a zeroed struct the caller clears with codec_clear() (also
 * after a failure, which leaves it cleared). Not-found errors carry
 * Keystone's message ("Could not find project: X.") with TS_ENOT_FOUND.
 */
#ifndef TS_IDSTORE_H
#define TS_IDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"
#include "store.h"
#include "auth/token.h"

/* Ids are 32 hex digits, or "default"; records allow up to 64 bytes. */
#define IDSTORE_ID_BUFSZ	65
#define IDSTORE_DEFAULT_DOMAIN	"default"
/* Keystone's limit on a project hierarchy's depth (max_project_tree_depth). */
#define IDSTORE_MAX_TREE_DEPTH	5

/* A new id: a version-4 UUID as 32 lowercase hex digits (uuid4().hex). */
void	idstore_id_new(char out[TOKEN_ID_BUFSZ]);

/* ---- projects and domains ----------------------------------------------- */

/* Any project or domain by id. */
int	idstore_project_get(struct store_txn *, const char *id,
	    struct rec_project *);
/* A domain (is_domain) by id; a project that is not a domain is "not
 * found". */
int	idstore_domain_get(struct store_txn *, const char *id,
	    struct rec_project *);
/* By name: a project in domain_id, or a domain when domain_id is NULL. */
int	idstore_project_find(struct store_txn *, const char *domain_id,
	    const char *name, struct rec_project *);
/*
 * Insert (old NULL: the id must be new) or replace (old is the stored
 * version, read in this transaction) a project or domain, keeping the name
 * index. TS_ECONFLICT when the name is taken in its scope or the id exists.
 */
int	idstore_project_put(struct store_txn *, const struct rec_project *p,
	    const struct rec_project *old);
/* Delete the record, its name entry and every assignment on it. */
int	idstore_project_del(struct store_txn *, const struct rec_project *);

/* ---- users -------------------------------------------------------------- */

int	idstore_user_get(struct store_txn *, const char *id,
	    struct rec_user *);
int	idstore_user_find(struct store_txn *, const char *domain_id,
	    const char *name, struct rec_user *);
/* As idstore_project_put(); the name is unique within the user's domain. */
int	idstore_user_put(struct store_txn *, const struct rec_user *u,
	    const struct rec_user *old);
/* Delete the record, its name entry, the user's assignments and group
 * memberships. */
int	idstore_user_del(struct store_txn *, const struct rec_user *);

/* ---- roles -------------------------------------------------------------- */

int	idstore_role_get(struct store_txn *, const char *id,
	    struct rec_role *);
/* A global role (domain_id NULL) or a role of domain_id, by name. */
int	idstore_role_find(struct store_txn *, const char *domain_id,
	    const char *name, struct rec_role *);
int	idstore_role_put(struct store_txn *, const struct rec_role *r,
	    const struct rec_role *old);
/* Delete the record, its name entry, every assignment of the role and
 * every implied-role rule naming it. */
int	idstore_role_del(struct store_txn *, const struct rec_role *);

/* ---- role assignments --------------------------------------------------- */

enum idstore_target {
	IDSTORE_PROJECT = 0,
	IDSTORE_DOMAIN,
	IDSTORE_SYSTEM,		/* target id "all" */
};

/* "project", "domain", "system" (rec_assignment.target_type); static. */
const char	*idstore_target_name(enum idstore_target);
/* The inverse; -1 for anything else. */
int		 idstore_target_parse(const char *);

enum idstore_actor {
	IDSTORE_USER = 0,
	IDSTORE_GROUP,
};

/* "user", "group"; static. */
const char	*idstore_actor_name(enum idstore_actor);

/* Grant (idempotent), revoke (TS_ENOT_FOUND if absent) and check (0 if
 * granted, -1 TS_ENOT_FOUND if not) a direct assignment of a user or a
 * group. */
int	idstore_grant(struct store_txn *, enum idstore_actor,
	    const char *actor_id, enum idstore_target, const char *target_id,
	    const char *role_id, int64_t now_ms);
int	idstore_grant_del(struct store_txn *, enum idstore_actor,
	    const char *actor_id, enum idstore_target, const char *target_id,
	    const char *role_id);
int	idstore_grant_check(struct store_txn *, enum idstore_actor,
	    const char *actor_id, enum idstore_target, const char *target_id,
	    const char *role_id);

/*
 * Assignments matching every non-NULL field of the filter, in key order
 * (users' before groups', grouped by actor, then target). user_id and
 * group_id select the actor (both set: nothing matches; neither: every
 * actor). The best index is used: the actor's key prefix, else the target
 * index, else the role index, else a scan. cb gets a decoded assignment
 * (actor_type NULL: a user) borrowed for the call and returns 0 to go on,
 * 1 to stop, -1 (err set) to fail.
 */
struct idstore_filter {
	const char		*user_id;
	const char		*group_id;
	bool			 has_target_type;
	enum idstore_target	 target_type;
	const char		*target_id;	/* with has_target_type */
	const char		*role_id;
};
int	idstore_assignment_each(struct store_txn *,
	    const struct idstore_filter *,
	    int (*cb)(const struct rec_assignment *, void *), void *);

/*
 * The roles user_id holds on a target, as Keystone puts them in a token:
 * those granted to the user and to its groups, plus every role they imply
 * (transitively, through the implied-role rules), minus domain-specific
 * roles (which only imply). cb gets each role once (strings borrowed for
 * the call) and returns 0, or -1 to fail. Returns the number of roles (0:
 * no access to the target), or -1.
 */
int	idstore_roles_effective(struct store_txn *, const char *user_id,
	    enum idstore_target, const char *target_id,
	    int (*cb)(const char *id, const char *name, void *), void *arg);

/* ---- groups ------------------------------------------------------------- */

int	idstore_group_get(struct store_txn *, const char *id,
	    struct rec_group *);
int	idstore_group_find(struct store_txn *, const char *domain_id,
	    const char *name, struct rec_group *);
/* As idstore_project_put(); the name is unique within the domain. */
int	idstore_group_put(struct store_txn *, const struct rec_group *g,
	    const struct rec_group *old);
/* Delete the record, its name entry, its memberships and assignments. */
int	idstore_group_del(struct store_txn *, const struct rec_group *);

/* Membership: add (idempotent), remove (TS_ENOT_FOUND if absent), check. */
int	idstore_member_add(struct store_txn *, const char *group_id,
	    const char *user_id);
int	idstore_member_del(struct store_txn *, const char *group_id,
	    const char *user_id);
int	idstore_member_check(struct store_txn *, const char *group_id,
	    const char *user_id);
/* The users of a group, or the groups of a user, in id order; cb gets the
 * id (borrowed) and returns 0/1/-1 as for store_iter(). */
int	idstore_group_users_each(struct store_txn *, const char *group_id,
	    int (*cb)(const char *user_id, void *), void *);
int	idstore_user_groups_each(struct store_txn *, const char *user_id,
	    int (*cb)(const char *group_id, void *), void *);

/* ---- implied roles ------------------------------------------------------ */

/* Add the rule prior -> implied (idempotent); checks are the caller's. */
int	idstore_implied_put(struct store_txn *, const char *prior_id,
	    const char *implied_id, int64_t now_ms);
/* TS_ENOT_FOUND if there is no such rule. */
int	idstore_implied_del(struct store_txn *, const char *prior_id,
	    const char *implied_id);
int	idstore_implied_check(struct store_txn *, const char *prior_id,
	    const char *implied_id);
/* The rules of one prior role (prior_id NULL: every rule), in key order. */
int	idstore_implied_each(struct store_txn *, const char *prior_id,
	    int (*cb)(const struct rec_implied_role *, void *), void *);

/* ---- catalog ------------------------------------------------------------ */

int	idstore_service_get(struct store_txn *, const char *id,
	    struct rec_catalog_service *);
/* Insert (old false: TS_ECONFLICT if the id exists) or replace. */
int	idstore_service_put(struct store_txn *,
	    const struct rec_catalog_service *, bool replace);
/* Deletes the service's endpoints too, as Keystone does. */
int	idstore_service_del(struct store_txn *, const char *id);

int	idstore_endpoint_get(struct store_txn *, const char *id,
	    struct rec_catalog_endpoint *);
int	idstore_endpoint_put(struct store_txn *,
	    const struct rec_catalog_endpoint *, bool replace);
int	idstore_endpoint_del(struct store_txn *, const char *id);

int	idstore_region_get(struct store_txn *, const char *id,
	    struct rec_region *);
int	idstore_region_put(struct store_txn *, const struct rec_region *,
	    bool replace);
int	idstore_region_del(struct store_txn *, const char *id);

/*
 * Every record of a table, decoded (type must be the table's record type),
 * in key order; cb as for idstore_assignment_each(). A record that does not
 * decode is logged and skipped so one bad record cannot hide the rest.
 */
int	idstore_each(struct store_txn *, const struct schema_type *,
	    int (*cb)(const void *obj, void *), void *);

/* ---- revocation events -------------------------------------------------- */

/* Persist ev with the next sequence number (returned in *seq, may be
 * NULL). */
int	idstore_revocation_add(struct store_txn *, const struct revoke_event *,
	    int64_t now_ms, uint64_t *seq);
/* The last sequence number given out (0: none yet). */
int	idstore_revocation_seq(struct store_txn *, uint64_t *seq);
/* Events with a sequence number above `after`, in order. An undecodable
 * record is logged and skipped. */
int	idstore_revocation_each(struct store_txn *, uint64_t after,
	    int (*cb)(uint64_t seq, const struct revoke_event *, void *),
	    void *);
/* Delete events dated before before_ms; *n (may be NULL) gets the count. */
int	idstore_revocation_prune(struct store_txn *, int64_t before_ms,
	    size_t *n);

#endif
