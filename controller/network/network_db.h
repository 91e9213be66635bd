/*
 * network_db: typed access to the network tables of
 * schemas/network_records.schema, always inside a transaction the caller
 * holds (a store_write() function, or a read transaction for get/each).
 *
 * Keys and indexes (table names in core/db.h):
 *   networks        id          + networks_by_project (project_id)
 *   subnets         id          + subnets_by_network (network_id)
 *   ports           id          + ports_by_network (network_id),
 *                                 ports_by_device (device_id, if not "")
 *   security_groups id         + security_groups_by_project (project_id)
 *   security_group_rules id    + security_group_rules_by_group
 *                                 (security_group_id)
 *   routers         id          + routers_by_project (project_id)
 *   floatingips     id          + floatingips_by_port (port_id, if set),
 *                                 floatingips_by_project (project_id)
 *   network_quotas  project id
 *   network_usage   project id
 * The allocation tables (ip_allocations, ip_cursors, mac_allocations,
 * segment_allocations) belong to ipam.c, which also offers the create and
 * delete operations that keep them in step with the objects: the API layer
 * creates and deletes networks, subnets and ports through ipam_*() and uses
 * network_db_*_put() directly only for updates that touch no allocation
 * (name, description, admin_state_up, tags, device_id, binding...).
 *
 * put(obj, old): old is the stored version (NULL for a new object, which
 * must not exist: TS_ECONFLICT). The indexes follow the change and a new
 * object counts in its project's usage; del() removes the record, its index
 * entries and its count. Usage is only changed here, so it always equals the
 * objects stored. Referential checks (a network with ports, a subnet with
 * allocations) are the caller's: see ipam.h.
 *
 * get() fills a caller-owned record (codec_clear() it); absent is -1 with
 * TS_ENOT_FOUND and Neutron's message ("Network %s could not be found.").
 * Records handed to callbacks are decoded copies borrowed for the call; a
 * callback returns 0 to go on, 1 to stop, -1 (err set) to fail, as
 * store_iter(). Lists come in id order.
 */
#ifndef TS_CONTROLLER_NETWORK_DB_H
#define TS_CONTROLLER_NETWORK_DB_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "msg_gen.h"
#include "store.h"

int	network_db_network_get(struct store_txn *, const char *id,
	    struct rec_network *);
int	network_db_network_put(struct store_txn *, const struct rec_network *,
	    const struct rec_network *old);
int	network_db_network_del(struct store_txn *, const struct rec_network *);
int	network_db_network_each(struct store_txn *,
	    int (*cb)(const struct rec_network *, void *), void *);
int	network_db_network_each_project(struct store_txn *,
	    const char *project_id,
	    int (*cb)(const struct rec_network *, void *), void *);

int	network_db_subnet_get(struct store_txn *, const char *id,
	    struct rec_subnet *);
int	network_db_subnet_put(struct store_txn *, const struct rec_subnet *,
	    const struct rec_subnet *old);
int	network_db_subnet_del(struct store_txn *, const struct rec_subnet *);
int	network_db_subnet_each(struct store_txn *,
	    int (*cb)(const struct rec_subnet *, void *), void *);
int	network_db_subnet_each_network(struct store_txn *,
	    const char *network_id,
	    int (*cb)(const struct rec_subnet *, void *), void *);

int	network_db_port_get(struct store_txn *, const char *id,
	    struct rec_port *);
int	network_db_port_put(struct store_txn *, const struct rec_port *,
	    const struct rec_port *old);
int	network_db_port_del(struct store_txn *, const struct rec_port *);
int	network_db_port_each(struct store_txn *,
	    int (*cb)(const struct rec_port *, void *), void *);
int	network_db_port_each_network(struct store_txn *,
	    const char *network_id,
	    int (*cb)(const struct rec_port *, void *), void *);
/* Ports of a device (GET /v2.0/ports?device_id=<server>). */
int	network_db_port_each_device(struct store_txn *, const char *device_id,
	    int (*cb)(const struct rec_port *, void *), void *);
/* Number of ports on a network (delete_network's NetworkInUse check). */
int	network_db_port_count_network(struct store_txn *,
	    const char *network_id, size_t *);

/* Security groups and rules: absent is TS_ENOT_FOUND "Security group %s
 * does not exist" / "Security group rule %s does not exist" (Neutron's
 * wording). Rules count in their own project_id's usage. */
int	network_db_secgroup_get(struct store_txn *, const char *id,
	    struct rec_security_group *);
int	network_db_secgroup_put(struct store_txn *,
	    const struct rec_security_group *,
	    const struct rec_security_group *old);
int	network_db_secgroup_del(struct store_txn *,
	    const struct rec_security_group *);
int	network_db_secgroup_each(struct store_txn *,
	    int (*cb)(const struct rec_security_group *, void *), void *);
int	network_db_secgroup_each_project(struct store_txn *,
	    const char *project_id,
	    int (*cb)(const struct rec_security_group *, void *), void *);
int	network_db_sgrule_get(struct store_txn *, const char *id,
	    struct rec_security_group_rule *);
int	network_db_sgrule_put(struct store_txn *,
	    const struct rec_security_group_rule *,
	    const struct rec_security_group_rule *old);
int	network_db_sgrule_del(struct store_txn *,
	    const struct rec_security_group_rule *);
int	network_db_sgrule_each(struct store_txn *,
	    int (*cb)(const struct rec_security_group_rule *, void *), void *);
int	network_db_sgrule_each_group(struct store_txn *, const char *group_id,
	    int (*cb)(const struct rec_security_group_rule *, void *), void *);

int	network_db_router_get(struct store_txn *, const char *id,
	    struct rec_router *);
int	network_db_router_put(struct store_txn *, const struct rec_router *,
	    const struct rec_router *old);
int	network_db_router_del(struct store_txn *, const struct rec_router *);
int	network_db_router_each(struct store_txn *,
	    int (*cb)(const struct rec_router *, void *), void *);

/* Absent: TS_ENOT_FOUND "Floating IP X could not be found" (Neutron's). */
int	network_db_floatingip_get(struct store_txn *, const char *id,
	    struct rec_floatingip *);
int	network_db_floatingip_put(struct store_txn *,
	    const struct rec_floatingip *, const struct rec_floatingip *old);
int	network_db_floatingip_del(struct store_txn *,
	    const struct rec_floatingip *);
int	network_db_floatingip_each(struct store_txn *,
	    int (*cb)(const struct rec_floatingip *, void *), void *);
/* Floating IPs associated with a port. */
int	network_db_floatingip_each_port(struct store_txn *,
	    const char *port_id,
	    int (*cb)(const struct rec_floatingip *, void *), void *);

/* Quota overrides of a project (absent: a zeroed record, no has_ flags). */
int	network_db_quota_get(struct store_txn *, const char *project_id,
	    struct rec_network_quota *);
int	network_db_quota_put(struct store_txn *, const char *project_id,
	    const struct rec_network_quota *);
/* Back to the defaults; absent is not an error. */
int	network_db_quota_del(struct store_txn *, const char *project_id);

/* Usage of a project (absent: zero). */
int	network_db_usage_get(struct store_txn *, const char *project_id,
	    struct rec_network_usage *);
int	network_db_usage_each(struct store_txn *,
	    int (*cb)(const char *project_id, const struct rec_network_usage *,
	    void *), void *);

#endif
