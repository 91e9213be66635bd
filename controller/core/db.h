/*
 * db: the controller's tables, schema version and typed record access.
 *
 * Every table the controller (or tinystack-manage) opens is listed here once;
 * records are the rec_* types generated from schemas/records.schema and are
 * stored as versioned msgpack (codec_record_*). Keys:
 *   services              service id (UUID)      + services_by_host index
 *   hypervisors           hypervisor id (UUID)   + hypervisors_by_host index
 *   hypervisor_guests     host name (schema version 16: the guests its
 *                                                  agent reported last)
 *   agent_keys            host name              + agent_keys_by_key index
 *                                                  (public key -> host)
 * and the identity tables (schema version 2; access in idstore.c):
 *   projects              id (domains too)       + projects_by_name
 *                                                  ("<domain or '*'>/<name>")
 *   users                 id                     + users_by_name
 *                                                  ("<domain>/<name>")
 *   roles                 id                     + roles_by_name
 *                                                  ("<domain or '*'>/<name>")
 *   groups                id                     + groups_by_name
 *                                                  ("<domain>/<name>")
 *   group_users, user_groups  index tables: group -> user, user -> group
 *   implied_roles         "<prior role>/<implied role>"
 *   assignments           "<u|g>/<actor>/<p|d|s>/<target>/<role>"
 *                                                + assignments_by_target
 *                                                  ("<p|d|s>/<target>"),
 *                                                  assignments_by_role
 *   catalog_services, catalog_endpoints, regions   id
 *   revocations           16-hex-digit sequence number
 * DB_SCHEMA_VERSION is what this binary reads and writes; `tinystack-manage
 * db sync` runs db_migrations up to it, and the controller refuses to start
 * on any other version.
 */
#ifndef TS_CONTROLLER_DB_H
#define TS_CONTROLLER_DB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "msg_gen.h"
#include "store.h"

#define DB_SCHEMA_VERSION	18

#define T_SERVICES		"services"
#define T_SERVICES_BY_HOST	"services_by_host"
#define T_HYPERVISORS		"hypervisors"
#define T_HYPERVISORS_BY_HOST	"hypervisors_by_host"
#define T_HYPERVISOR_GUESTS	"hypervisor_guests"
#define T_AGENT_KEYS		"agent_keys"
#define T_AGENT_KEYS_BY_KEY	"agent_keys_by_key"
#define T_PROJECTS		"projects"
#define T_PROJECTS_BY_NAME	"projects_by_name"
#define T_USERS			"users"
#define T_USERS_BY_NAME		"users_by_name"
#define T_ROLES			"roles"
#define T_ROLES_BY_NAME		"roles_by_name"
#define T_ASSIGNMENTS		"assignments"
#define T_ASSIGNMENTS_BY_TARGET	"assignments_by_target"
#define T_ASSIGNMENTS_BY_ROLE	"assignments_by_role"
#define T_CATALOG_SERVICES	"catalog_services"
#define T_CATALOG_ENDPOINTS	"catalog_endpoints"
#define T_REGIONS		"regions"
#define T_REVOCATIONS		"revocations"
#define T_GROUPS		"groups"
#define T_GROUPS_BY_NAME	"groups_by_name"
#define T_GROUP_USERS		"group_users"
#define T_USER_GROUPS		"user_groups"
#define T_IMPLIED_ROLES		"implied_roles"
/* compute (schemas/compute.schema; controller/compute_db.h) */
#define T_FLAVORS		"flavors"
#define T_FLAVORS_BY_NAME	"flavors_by_name"
#define T_KEYPAIRS		"keypairs"
#define T_INSTANCES		"instances"
#define T_INSTANCES_BY_PROJECT	"instances_by_project"
#define T_INSTANCES_BY_HOST	"instances_by_host"
#define T_INSTANCES_BY_CREATED	"instances_by_created"
/* schema version 14: db_instance_state_key() */
#define T_INSTANCES_BY_STATE	"instances_by_state"
#define T_INSTANCE_TASKS	"instance_tasks"
#define T_INSTANCE_TOMBSTONES	"instance_tombstones"
#define T_INSTANCE_ACTIONS	"instance_actions"
#define T_COMPUTE_QUOTAS	"compute_quotas"
#define T_COMPUTE_USAGE		"compute_usage"
#define T_HOST_USAGE		"host_usage"
#define T_COMPUTE_NODES		"compute_nodes"
/* host aggregates (schema version 11), keyed by the id as ten decimal
 * digits; the id counter is meta "aggregate_seq" */
#define T_AGGREGATES		"aggregates"
#define T_MIGRATIONS		"migrations"
/* image (schemas/image.schema; controller/image_db.c, schema version 4):
 * images by id + images_by_owner ("<owner>\0<id>"); image_members by
 * "<image_id>/<member_id>" + image_members_by_member ("<member>\0<image>") */
#define T_IMAGES		"images"
#define T_IMAGES_BY_OWNER	"images_by_owner"
#define T_IMAGE_MEMBERS		"image_members"
#define T_IMAGE_MEMBERS_BY_MEMBER "image_members_by_member"
/* network (schemas/network_records.schema; controller/network/network_db.h,
 * schema version 6): networks + networks_by_project, subnets +
 * subnets_by_network, ports + ports_by_network and ports_by_device (index
 * tables "<value>\0<id>"); ip_allocations ("<subnet>/<hex address>"),
 * ip_cursors (subnet id), mac_allocations (mac), segment_allocations
 * ("<type>/<physnet>/<8-digit id>"), network_quotas and network_usage
 * (project id) */
#define T_NETWORKS		"networks"
#define T_NETWORKS_BY_PROJECT	"networks_by_project"
#define T_SUBNETS		"subnets"
#define T_SUBNETS_BY_NETWORK	"subnets_by_network"
#define T_PORTS			"ports"
#define T_PORTS_BY_NETWORK	"ports_by_network"
#define T_PORTS_BY_DEVICE	"ports_by_device"
#define T_IP_ALLOCATIONS	"ip_allocations"
#define T_IP_CURSORS		"ip_cursors"
#define T_MAC_ALLOCATIONS	"mac_allocations"
#define T_SEGMENT_ALLOCATIONS	"segment_allocations"
#define T_NETWORK_QUOTAS	"network_quotas"
#define T_NETWORK_USAGE		"network_usage"
/* volume (schemas/volume.schema), keyed by project id */
#define T_VOLUME_QUOTAS		"volume_quotas"
/* volume (schema version 9): records in schemas/volume.schema; indexes
 * keyed as store_index_put() documents. */
#define T_VOLUMES		"volumes"
#define T_VOLUMES_BY_PROJECT	"volumes_by_project"
#define T_VOLUMES_BY_HOST	"volumes_by_host"
#define T_VOLUME_SNAPSHOTS	"volume_snapshots"
#define T_VOLUME_SNAPSHOTS_BY_PROJECT "volume_snapshots_by_project"
#define T_VOLUME_SNAPSHOTS_BY_VOLUME "volume_snapshots_by_volume"
#define T_VOLUME_USAGE		"volume_usage"
#define T_STORAGE_HOSTS		"storage_hosts"
/* volume backups (new tables, no schema bump: absent reads empty) */
#define T_VOLUME_BACKUPS	"volume_backups"
#define T_VOLUME_BACKUPS_BY_PROJECT "volume_backups_by_project"
/* host health (schema version 12): rec_host_status keyed
 * "<binary>:<host>" (core/hoststatus.h) */
#define T_HOST_STATUS		"host_status"
/* volume types (schema version 10), keyed by id */
#define T_VOLUME_TYPES		"volume_types"
/* volume transfers, keyed by id (a new table, created empty: no schema
 * version of its own) */
#define T_VOLUME_TRANSFERS	"volume_transfers"
/* security groups (schema version 7): security_groups +
 * security_groups_by_project, security_group_rules +
 * security_group_rules_by_group (index tables "<value>\0<id>") */
#define T_SECURITY_GROUPS	"security_groups"
#define T_SECURITY_GROUPS_BY_PROJECT "security_groups_by_project"
#define T_SG_RULES		"security_group_rules"
#define T_SG_RULES_BY_GROUP	"security_group_rules_by_group"
/* routers (schema version 7): routers + routers_by_project, floatingips +
 * floatingips_by_port and floatingips_by_project (index tables). */
#define T_ROUTERS		"routers"
#define T_ROUTERS_BY_PROJECT	"routers_by_project"
#define T_FLOATINGIPS		"floatingips"
#define T_FLOATINGIPS_BY_PORT	"floatingips_by_port"
#define T_FLOATINGIPS_BY_PROJECT "floatingips_by_project"

/* NULL-terminated; static. */
extern const char *const db_tables[];

/* Opens the controller database described by the [database] options. */
struct config;
struct store	*db_open(const struct config *, int read_only);
/* Brings the schema to DB_SCHEMA_VERSION (db sync). */
int		 db_sync(struct store *);
/* 0 if the database is at DB_SCHEMA_VERSION, else -1 TS_ECONFIG telling
 * the operator to run db sync. */
int		 db_check_version(struct store *);

/* Generic typed access: the key is a NUL-terminated string. get fills obj
 * (zeroed first; caller clears it with codec_clear). */
int	db_rec_get(struct store_txn *, const char *table, const char *key,
	    const struct schema_type *, void *obj);
int	db_rec_put(struct store_txn *, const char *table, const char *key,
	    const struct schema_type *, const void *obj, int flags);
/* 1 if the stored record of key encodes to the same bytes as obj, 0 if
 * it differs or is absent, -1 on error. */
int	db_rec_same(struct store_txn *, const char *table, const char *key,
	    const struct schema_type *, const void *obj);

/* Services: by host (binary tinystack-agent). */
int	db_service_by_host(struct store_txn *, const char *host,
	    struct rec_service *);
/* Inserts or replaces the service and its host index entry. */
int	db_service_put(struct store_txn *, const struct rec_service *);
int	db_hypervisor_by_host(struct store_txn *, const char *host,
	    struct rec_hypervisor *);
int	db_hypervisor_put(struct store_txn *, const struct rec_hypervisor *);
/* The stored bytes of host's hypervisor record, undecoded (borrowed, see
 * store.h): for a reader that decodes only what changed. */
int	db_hypervisor_raw_by_host(struct store_txn *, const char *host,
	    const void **val, size_t *len);
/* The heartbeat path: as the puts, but the host index entry is written
 * only with a record that was absent (a service's or hypervisor's host
 * never changes), and a record whose bytes are unchanged is not written. */
int	db_service_update(struct store_txn *, const struct rec_service *);
int	db_hypervisor_update(struct store_txn *,
	    const struct rec_hypervisor *);

/*
 * The newest write transaction (store_txn_id()) that put or updated the
 * service or hypervisor record of host through the functions above, in
 * this process; 0 if none. Hosts share DB_FLEET_STAMPS slots by hash, and
 * an aborted write still counts: an over-estimate, never an
 * under-estimate, so a read snapshot whose store_txn_id() is >= it saw
 * every such change (the scheduler re-reads only the hosts stamped since
 * its last refresh). db_fleet_added_txn(): the same for a write that may
 * have added a record (a registration), which a reader of the known hosts
 * alone would miss. Deletions and other processes' writes are not
 * stamped: their writers refresh the scheduler themselves, or it sees
 * them at its next full refresh. Any thread.
 */
#define DB_FLEET_STAMPS	16384
uint64_t db_fleet_changed_txn(const char *host);
uint64_t db_fleet_added_txn(void);

/* The guests host's agent reported last (TS_ENOT_FOUND: none stored).
 * The update writes them only when their bytes differ from the stored
 * ones (a heartbeat flush); nothing else reads them on a hot path, so
 * neither stamps the host for the scheduler. */
int	db_hypervisor_guests_get(struct store_txn *, const char *host,
	    struct rec_hypervisor_guests *);
int	db_hypervisor_guests_update(struct store_txn *,
	    const struct rec_hypervisor_guests *);

/* Calls cb for every service (decoded, borrowed for the call). */
int	db_service_each(struct store_txn *,
	    int (*cb)(const struct rec_service *, void *), void *);

int	db_hypervisor_each(struct store_txn *,
	    int (*cb)(const struct rec_hypervisor *, void *), void *);
/* The same with only the fields in want decoded (codec_record_decode_some():
 * a reader of the host names need not decode every guest list). */
int	db_hypervisor_each_some(struct store_txn *,
	    const struct codec_fieldset *want,
	    int (*cb)(const struct rec_hypervisor *, void *), void *);

/* Agent keys. db_agent_key_host: the host an enrolled, unrevoked public key
 * belongs to (TS_ENOT_FOUND otherwise). */
int	db_agent_key_host(struct store_txn *, const char *pubkey, char *host,
	    size_t hostlen);
int	db_agent_key_get(struct store_txn *, const char *host,
	    struct rec_agent_key *);
/* Enrol (or re-enrol with a new key) a host; replaces the previous key. */
int	db_agent_key_put(struct store_txn *, const struct rec_agent_key *);
/* The newest write transaction (store_txn_id()) of this process that
 * called db_agent_key_put(), 0 if none: a snapshot whose id is >= it saw
 * every such write. Other processes' writes: store_foreign_gen(). Any
 * thread. */
uint64_t db_agent_keys_changed_txn(void);
int	db_agent_key_each(struct store_txn *,
	    int (*cb)(const struct rec_agent_key *, void *), void *);

/* Current time in Unix milliseconds (clock_wall_ms()). */
int64_t	db_now_ms(void);
/* A fresh random (v4) UUID in canonical form. */
void	db_uuid(char out[37]);
/* A fresh time-ordered (v7) UUID in canonical form: new servers' ids, so
 * that the tables keyed by them grow at the right (db.c says why). */
void	db_uuid_ordered(char out[37]);

/*
 * Key of an instance in instances_by_created (value: its uuid):
 *   scope NUL, 16 hex digits of created_at, the uuid
 * in ascending order, so that a new instance's keys append on the right
 * of their scope (LMDB's splits leave full pages behind); the list order
 * above (newest first, then the greater uuid) is a backward walk
 * (store_iter_before()). Schemas 5 to 16 stored db_instance_desc_key()
 * instead; the 16 -> 17 step rewrites it. An instance has two entries:
 * scope = its project id, and scope = "" (all projects; such keys start
 * with the NUL). Here, in core, because the migrations build the index
 * for instances written before it existed.
 * Returns the key length, or 0 if scope is longer than a project id.
 */
#define DB_INSTANCE_CREATED_SCOPE_MAX	64
#define DB_INSTANCE_CREATED_KEY_MAX	(DB_INSTANCE_CREATED_SCOPE_MAX + 1 + 16 + \
				 CODEC_UUID_LEN)

size_t	db_instance_created_key(char out[DB_INSTANCE_CREATED_KEY_MAX],
	    const char *scope, int64_t created_at, const char *uuid);
/*
 * The same in list order: scope NUL, 16 hex digits of INT64_MAX -
 * created_at, the uuid with its hex digits complemented (0 <-> f, ...), so
 * that a forward walk is newest first. The instances_by_created key of
 * schemas 5 to 16 and the order part of instances_by_state's of schemas
 * 14 to 17: what the migrations that build them write and the 16 -> 17
 * and 17 -> 18 steps rewrite. Same length and limits as
 * db_instance_created_key().
 */
size_t	db_instance_desc_key(char out[DB_INSTANCE_CREATED_KEY_MAX],
	    const char *scope, int64_t created_at, const char *uuid);

/*
 * Key of an instance in instances_by_state (value: its uuid), the index of
 * the servers list's status filter:
 *   scope NUL vm_state NUL task NUL, then db_instance_created_key()'s
 *   16 hex digits of created_at and uuid
 * ascending like instances_by_created, each stream walked backwards for
 * the list order (schemas 14 to 17 stored db_instance_desc_key()'s order
 * part; the 17 -> 18 step rewrites it),
 * with the two scopes of instances_by_created. task is the instance's
 * task_state when it is one of db_instance_state_tasks[] (the task states
 * Nova's status filter tells apart: its _STATE_MAP), "" otherwise (no task,
 * or one the filter never names: spawning, deleting, ...), so the entry
 * moves only when a filter could see the change. Nova's filter is
 * vm_state IN (...) [AND task_state IN (...)]: one stream per (vm_state,
 * task) pair, all of a vm_state's tasks when the task is not filtered.
 * Here, in core, because the 13 -> 14 migration builds it.
 * Returns the key length, or 0 if a part is too long.
 */
#define DB_INSTANCE_STATE_PART_MAX	32	/* vm_state, task_state */
#define DB_INSTANCE_STATE_KEY_MAX	(DB_INSTANCE_CREATED_SCOPE_MAX + 2 + \
				 2 * DB_INSTANCE_STATE_PART_MAX + 1 + 16 + \
				 CODEC_UUID_LEN)

/* NULL-terminated; static. */
extern const char *const db_instance_state_tasks[];
/* task_state's task part of the key: itself when listed, else "". */
const char *db_instance_state_task(const char *task_state);
size_t	db_instance_state_key(char out[DB_INSTANCE_STATE_KEY_MAX],
	    const char *scope, const char *vm_state, const char *task_state,
	    int64_t created_at, const char *uuid);
/* The prefix of one (scope, vm_state, task) stream, task as in the key
 * (already reduced); returns its length, 0 if too long. */
size_t	db_instance_state_prefix(char out[DB_INSTANCE_STATE_KEY_MAX],
	    const char *scope, const char *vm_state, const char *task);

#endif
