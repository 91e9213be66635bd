/*
 * db: the controller's tables, schema version and typed record access.
 *
 * Every table the controller (or tinystack-manage) opens is listed here once;
 * records are the rec_* types generated from schemas/records.schema and are
 * stored as versioned msgpack (codec_record_*). Keys:
 *   services              service id (UUID)      + services_by_host index
 *   hypervisors           hypervisor id (UUID)   + hypervisors_by_host index
 *   agent_keys            host name              + agent_keys_by_key index
 *                                                  (public key -> host)
 * DB_SCHEMA_VERSION is what this binary reads and writes; `tinystack-manage
 * db sync` runs db_migrations up to it, and the controller refuses to start
 * on any other version.
 */
#ifndef TS_CONTROLLER_DB_H
#define TS_CONTROLLER_DB_H

#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"
#include "store.h"

#define DB_SCHEMA_VERSION	1

#define T_SERVICES		"services"
#define T_SERVICES_BY_HOST	"services_by_host"
#define T_HYPERVISORS		"hypervisors"
#define T_HYPERVISORS_BY_HOST	"hypervisors_by_host"
#define T_AGENT_KEYS		"agent_keys"
#define T_AGENT_KEYS_BY_KEY	"agent_keys_by_key"

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

/* Services: by host (binary tinystack-agent). */
int	db_service_by_host(struct store_txn *, const char *host,
	    struct rec_service *);
/* Inserts or replaces the service and its host index entry. */
int	db_service_put(struct store_txn *, const struct rec_service *);
int	db_hypervisor_by_host(struct store_txn *, const char *host,
	    struct rec_hypervisor *);
int	db_hypervisor_put(struct store_txn *, const struct rec_hypervisor *);

/* Calls cb for every service (decoded, borrowed for the call). */
int	db_service_each(struct store_txn *,
	    int (*cb)(const struct rec_service *, void *), void *);

int	db_hypervisor_each(struct store_txn *,
	    int (*cb)(const struct rec_hypervisor *, void *), void *);

/* Agent keys. db_agent_key_host: the host an enrolled, unrevoked public key
 * belongs to (TS_ENOT_FOUND otherwise). */
int	db_agent_key_host(struct store_txn *, const char *pubkey, char *host,
	    size_t hostlen);
int	db_agent_key_get(struct store_txn *, const char *host,
	    struct rec_agent_key *);
/* Enrol (or re-enrol with a new key) a host; replaces the previous key. */
int	db_agent_key_put(struct store_txn *, const struct rec_agent_key *);
int	db_agent_key_each(struct store_txn *,
	    int (*cb)(const struct rec_agent_key *, void *), void *);

/* Current time in Unix milliseconds. */
int64_t	db_now_ms(void);
/* A fresh random (v4) UUID in canonical form. */
void	db_uuid(char out[37]);

#endif
