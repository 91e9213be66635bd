/*
 * compute_int: what the compute_*.c handler files share (not for other
 * modules). See compute_api.h for the map.
 */
#ifndef TS_CONTROLLER_COMPUTE_INT_H
#define TS_CONTROLLER_COMPUTE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/request.h"
#include "compute.h"
#include "compute_db.h"
#include "http/http.h"
#include "http/jsonreq.h"
#include "msg_gen.h"
#include "recon.h"
#include "scheduler.h"
#include "store.h"

struct compute_quota_defaults {
	int64_t	instances, cores, ram, key_pairs, metadata_items,
		server_groups, server_group_members, injected_files,
		injected_file_content_bytes, injected_file_path_bytes;
};

/* Where a server create spends its time (compute_servers_create), summed in
 * microseconds over the creates answered 202: what the request had behind
 * it when the handler began (MHD, token, body), parsing and the reads of
 * flavor, image and networks, the scheduler's ranking, the durable write
 * (store_write: queue, group commit, wake-up), the agent's command, and the
 * answer. Relaxed atomics: any HTTP thread adds. */
enum compute_create_phase {
	CREATE_PH_REQUEST, CREATE_PH_PREPARE, CREATE_PH_RANK, CREATE_PH_WRITE,
	CREATE_PH_DISPATCH, CREATE_PH_RESPOND, CREATE_PH__N
};
extern const char *const compute_create_phase_names[CREATE_PH__N];

struct compute {
	const struct config		*cfg;
	struct store			*store;
	struct bus			*bus;
	struct sched			*sched;
	struct recon			*recon;
	struct network			*net;		/* NULL: no ports */
	struct volume			*vol;		/* NULL: no volumes */
	/* Snapshot images (borrowed; NULL: createImage/createBackup 503). */
	struct image_service		*image;
	char				 host[256];
	char				 az[256];
	struct compute_quota_defaults	 qdef;
	int64_t				 build_timeout;	/* s */
	/* Mints the agents' image capabilities (borrowed; NULL: none). */
	struct identity			*identity;
	unsigned			 image_cap_lifetime;	/* s */
	/* The VNC console (compute_console.c); NULL: [vnc] enabled off. */
	struct vncconsole		*vnc;
	char				 vnc_base[1024];	/* "": derived */
	char				 novnc_path[1024];
	_Atomic uint64_t		 create_us[CREATE_PH__N];
	/* the write phase's parts (store_write_last): queued, its batch
	 * (functions + commit), woken */
	_Atomic uint64_t		 create_write_us[3];
	_Atomic uint64_t		 creates_timed;
};

/* The service of a compute request (its listener's app). */
struct compute *compute_of(struct http_req *);

/* ---- request context --------------------------------------------------- */

/* The caller; never NULL on an authenticated route. */
const struct request_ctx *compute_ctx(struct http_req *);
/* Whether the caller holds the compute admin rule ("role:admin"). */
bool	compute_is_admin(struct http_req *);
/*
 * Enforce rule on an object of project owner (and user owner_user, may be
 * NULL): 404 "what id could not be found" when denied and the object is
 * not the caller's project's, else 403.
 */
int	compute_enforce_owned(struct http_req *, const char *rule,
	    const char *owner_project, const char *owner_user,
	    const char *what, const char *id);
/* Enforce rule with an empty target. */
int	compute_enforce(struct http_req *, const char *rule);

/* ---- microversions ------------------------------------------------------ */

/*
 * The request's microversion (minor number of 2.x) from
 * OpenStack-API-Version: compute X.Y or X-OpenStack-Nova-API-Version;
 * absent: the minimum; "latest": the maximum; outside: 406. Echoes the
 * version headers on resp (NULL: not, for a helper of a handler that
 * called it already). Every handler calls it first.
 */
int	compute_version(struct http_req *, struct http_resp *, int *minor);

/* The microversions whose change the service serves, named for
 * request_mv_has(mv, MV_...): each gate compares against one of these. */
enum compute_mv {
	MV_KEYPAIR_TYPE		= 2,	/* keypair type; 201/204 codes */
	MV_EXTENDED_ATTRS	= 3,	/* OS-EXT-SRV-ATTR:*, delete_on_term. */
	MV_LOCKED		= 9,	/* server "locked" */
	MV_KEYPAIR_USER		= 10,	/* keypairs of another user */
	MV_FORCE_DOWN		= 11,	/* os-services force-down */
	MV_EVACUATE_NO_PASS	= 14,	/* evacuate: no onSharedStorage,
					 * no adminPass answered */
	MV_HOST_STATUS		= 16,	/* server host_status */
	MV_CRASH_DUMP		= 17,	/* trigger_crash_dump action */
	MV_DESCRIPTION		= 19,	/* server description */
	MV_SHELVED_VOLUMES	= 20,	/* volume attach/detach of shelved
					 * and shelved-offloaded servers */
	MV_FORCE_COMPLETE	= 22,	/* live migration force_complete */
	MV_MIGRATIONS_ID	= 23,	/* os-migrations id, type, links */
	MV_MIGRATION_ABORT	= 24,	/* DELETE a live migration */
	MV_DELETED_ACTIONS	= 21,	/* instance actions of deleted */
	MV_LIVE_MIGRATE_AUTO	= 25,	/* block_migration "auto", no
					 * disk_over_commit */
	MV_SERVER_TAGS		= 26,	/* server tags */
	MV_CPU_INFO_OBJECT	= 28,	/* hypervisor cpu_info an object */
	MV_EVACUATE_FORCE	= 29,	/* evacuate "force" */
	MV_LIVE_MIGRATE_FORCE	= 30,	/* os-migrateLive "force" */
	MV_DEVICE_TAGS		= 32,	/* networks/bdm "tag" on create */
	MV_HYPERVISOR_PAGING	= 33,	/* os-hypervisors limit/marker */
	MV_KEYPAIR_PAGING	= 35,	/* os-keypairs limit/marker (above
					 * COMPUTE_MV_MAX: ignored, as
					 * Nova's 2.1-2.34) */
	MV_NO_PROXY		= 36,	/* proxy APIs gone */
	MV_AUTO_NETWORK		= 37,	/* networks "auto"/"none" */
	MV_STATUS_CHECKED	= 38,	/* list: unknown status is a 400 */
	MV_NO_DEVICE_TAGS	= 33,	/* 2.33-2.41 lost device tags */
	MV_NO_MULTINIC		= 44,	/* add/removeFixedIp gone */
	MV_DIAGNOSTICS_STD	= 48,	/* standard diagnostics view */
};

/* ---- JSON --------------------------------------------------------------- */

/* "YYYY-MM-DDTHH:MM:SSZ" (Nova's created/updated). */
void	compute_time(int64_t ms, char out[32]);
/* "YYYY-MM-DDTHH:MM:SS.ffffff" (launched_at, action times). */
void	compute_time_usec(int64_t ms, char out[32]);
/* A time string or null (0 ms). */
json_t	*compute_time_or_null(int64_t ms, int usec);
/* Into out: <base>/v2.1/<project>/<fmt...>, bookmark without "/v2.1";
 * the project only when the request's URL names one (Nova's links since
 * microversion 2.18 made it optional). -1 if it does not fit. */
/* The next page's href of collection coll ("servers/detail"): the
 * request's query with marker replaced (Nova's _get_next_link() keeps
 * filters, sort and limit). -1 when it does not fit or on ENOMEM. */
int	compute_next_href(struct http_req *, const char *coll,
	    const char *marker, char *out, size_t len);
int	compute_url(struct http_req *, bool bookmark, char *out, size_t len,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* [{"rel":"self","href":<base>/v2.1/<project>/<coll>/<id>},
 *  {"rel":"bookmark","href":<base>/<project>/<coll>/<id>}] */
json_t	*compute_links(struct http_req *, const char *coll, const char *id);
/* {"id":id,"links":compute_links(...)} */
json_t	*compute_ref(struct http_req *, const char *coll, const char *id);

/* The request's query against a list's table of parameters (Nova's
 * query_schema, see jsonreq_query_check): 0 or 400. */
int	compute_query_check(struct http_req *, const struct jsonreq_qparam *,
	    size_t np, bool underscore_refused);
#define COMPUTE_QUERY_CHECK(req, table, underscore) \
	compute_query_check((req), (table), sizeof(table) / sizeof((table)[0]), \
	    (underscore))

/* The query's limit once the table checked it (JSONREQ_Q_UINT): Nova
 * takes min(limit, max_limit), so a larger one is capped, not refused;
 * absent: cap, *has false. */
int64_t	compute_query_limit(struct http_req *, int64_t cap, bool *has);

/* Read transaction on the service's store. */
int	compute_read(struct http_req *, struct store_txn **);
/* Whether host is a registered compute service (Nova's
 * service_get_by_compute_host): 1, 0, or -1 with err set. */
int	compute_host_known(struct http_req *, const char *host);
/* The instance of {server_id} the caller may act on under rule, read in
 * txn (which stays open for the caller); 404 for a malformed or unknown
 * id, the rule's refusal otherwise. On success *i is owned (codec_clear). */
int	compute_server_load_txn(struct http_req *, struct store_txn *,
	    const char *rule, struct rec_instance *);
/* store_write on the service's store. */
int	compute_write(struct http_req *, int (*fn)(struct store_txn *, void *),
	    void *arg);

/* ---- quotas (compute_admin.c) ------------------------------------------- */

/* Effective limits of a project: overrides over the configured defaults. */
void	compute_admin_quota_limits(struct compute *, const struct rec_compute_quota *,
	    struct compute_quota_defaults *out);

/* ---- images ------------------------------------------------------------- */

/* What the compute API needs of an image. */
/* What an agent verifies an image download against. */
struct compute_image_data {
	char		 disk_format[32];
	char		 sha512[129];	/* os_hash_value; "" unknown */
	uint64_t	 size;		/* bytes; 0 unknown */
};

struct compute_image {
	char		 id[CODEC_UUID_LEN + 1];
	uint64_t	 min_disk;	/* GiB */
	uint64_t	 min_ram;	/* MiB */
	char		 disk_format[32];
	char		 sha512[129];
	uint64_t	 size;
	char		 kernel_id[CODEC_UUID_LEN + 1];	/* "" none */
	char		 ramdisk_id[CODEC_UUID_LEN + 1];
	struct compute_image_data kernel, ramdisk;	/* with their ids */
	char		 cmdline[1025];	/* os_command_line; "" none */
};
/* Resolve imageRef in the Image service: visible to the caller and
 * active, else 400; so must be the kernel and ramdisk images its
 * kernel_id/ramdisk_id properties name (a boot from them would fail on
 * the host otherwise). */
int	compute_servers_image_get(struct http_req *, struct store_txn *, const char *ref,
	    struct compute_image *);
/* A new admin password (create, rebuild, evacuate) into out[13]. */
void	compute_servers_password(char out[13]);

/* ---- handlers ----------------------------------------------------------- */

int	compute_versions(struct http_req *, struct http_resp *);
int	compute_version_v2(struct http_req *, struct http_resp *);
int	compute_version_v21(struct http_req *, struct http_resp *);

int	compute_servers_list(struct http_req *, struct http_resp *);
int	compute_servers_detail(struct http_req *, struct http_resp *);
int	compute_servers_create(struct http_req *, struct http_resp *);
int	compute_servers_show(struct http_req *, struct http_resp *);
int	compute_servers_update(struct http_req *, struct http_resp *);
int	compute_servers_delete(struct http_req *, struct http_resp *);
int	compute_servers_action(struct http_req *, struct http_resp *);
/* The evacuate action (compute_evacuate.c): cur is the server read by
 * the action route, borrowed. */
/* compute_shelve.c: shelve, shelveOffload, unshelve (202, no body). */
int	compute_shelve_action(struct http_req *, struct http_resp *,
	    const char *action, json_t *arg, const struct rec_instance *);
int	compute_evacuate_action(struct http_req *, struct http_resp *,
	    int mv, json_t *arg, const struct rec_instance *cur);
/* resize, migrate, confirmResize, revertResize (compute_resize.c). */
int	compute_resize_action(struct http_req *, struct http_resp *,
	    const char *key, json_t *arg, const struct rec_instance *cur);
/* GET /os-migrations, GET /servers/{id}/migrations[/{id}] (2.23),
 * DELETE /servers/{id}/migrations/{id} (2.24). */
int	compute_migrations_list(struct http_req *, struct http_resp *);
int	compute_server_migrations_list(struct http_req *, struct http_resp *);
int	compute_server_migrations_show(struct http_req *, struct http_resp *);
int	compute_server_migrations_delete(struct http_req *, struct http_resp *);
/*
 * Inside a store_write() function: a new migration record of instance i
 * (type: resize | migration | live-migration | evacuation) from source to
 * dest (flavor ids old_type/new_type, may be NULL), its id into
 * i->migration_id (the caller writes i).
 */
int	compute_migration_begin(struct store_txn *, struct rec_instance *i,
	    const char *type, const char *status, const char *source,
	    const char *dest, const char *old_type, const char *new_type,
	    int64_t now);
/* The os-migrateLive action (compute_migrate.c); cur as above. */
int	compute_migrate_live_action(struct http_req *, struct http_resp *,
	    int mv, json_t *arg, const struct rec_instance *cur);
/* Aborts the running live migration of cur (compute_migrate.c; for
 * DELETE /servers/{id}/migrations/{mid}, whose route checks its policy,
 * the migration record and its status, then answers 202 on 0): 409 as
 * Nova's check_instance_state when cur is not live-migrating, else the
 * source is asked to abort (virDomainAbortJob); the migration's own
 * answer rolls it back. cur borrowed. */
int	compute_migrate_abort(struct http_req *, const struct rec_instance *cur);
/* createImage and createBackup (compute_snapshot.c): action is the body
 * key, cur the server read by the action route, borrowed. */
int	compute_snapshot_action(struct http_req *, struct http_resp *,
	    const char *action, json_t *arg, const struct rec_instance *cur);
/* Nova's generate_image_url: the image endpoint (the image port of the
 * host the request reached), then /images/<id>. -1 if it does not fit. */
int	compute_snapshot_image_url(struct http_req *, const char *id, char *out,
	    size_t len);
/* ---- the servers list's sort_key / sort_dir (compute_sort.c) -------------- */

#define COMPUTE_SORT_MAX	32	/* sort keys (and directions) taken */
struct sort_field;
/* The order asked for, Nova's defaults appended (created_at, then id). */
struct compute_sort {
	const struct sort_field	*f[COMPUTE_SORT_MAX + 2];
	bool			 desc[COMPUTE_SORT_MAX + 2];
	size_t			 n;
	/* Not the list's own order (created_at, id, descending): the
	 * servers are sorted (compute_sort_rows_*). */
	bool			 given;
};
/* The sort_key / sort_dir queries as Nova's API and database take them:
 * ignored keys dropped, 403 for host/node unless admin, and (check_dirs:
 * Nova skips its database for a limit of 0) 400 for a direction other
 * than asc/desc or more directions than keys. */
int	compute_sort_parse(struct http_req *, bool admin, bool check_dirs,
	    struct compute_sort *);
/* The sort keys of the servers that passed the filters (the rows borrow
 * the compute_sort, which must outlive them). */
struct compute_sort_rows;
struct compute_sort_rows *compute_sort_rows_new(const struct compute_sort *);
void	compute_sort_rows_free(struct compute_sort_rows **);
int	compute_sort_rows_add(struct compute_sort_rows *,
	    const struct rec_instance *);
void	compute_sort_rows_sort(struct compute_sort_rows *);
/* After sorting: the first row strictly after the marker's place (the
 * marker need not be among the rows, as in Nova). */
int	compute_sort_rows_after(const struct compute_sort_rows *,
	    const struct rec_instance *marker, size_t *start);
size_t	compute_sort_rows_count(const struct compute_sort_rows *);
/* Borrowed: valid until compute_sort_rows_free(). NULL past the end. */
const char *compute_sort_rows_uuid(const struct compute_sort_rows *, size_t);

/* ---- server tags (compute_tags.c, microversion 2.26) ---------------------- */

#define COMPUTE_TAGS_MAX	50	/* Nova's MAX_TAG_COUNT */
/* Nova's tag: 1 to 60 characters, no '/' or ','. */
bool	compute_tag_valid(const char *);
bool	compute_tag_has(const struct rec_instance *, const char *);
/* The server view's "tags": its tags as an array (owned). */
json_t	*compute_tags_json(const struct rec_instance *);
int	compute_tags_index(struct http_req *, struct http_resp *);
int	compute_tags_update_all(struct http_req *, struct http_resp *);
int	compute_tags_delete_all(struct http_req *, struct http_resp *);
int	compute_tags_show(struct http_req *, struct http_resp *);
int	compute_tags_update(struct http_req *, struct http_resp *);
int	compute_tags_delete(struct http_req *, struct http_resp *);

/* Nova's check_instance_state for a server action shown as action: its
 * vm_state one of states (NULL-terminated), no task, placed on a host;
 * else -1 with TS_ECONFLICT and Nova's message. */
int	compute_servers_state_check(const struct rec_instance *,
	    const char *action, const char *const states[]);
int	compute_servers_actions_list(struct http_req *, struct http_resp *);
int	compute_servers_action_show(struct http_req *, struct http_resp *);
int	compute_servers_diagnostics(struct http_req *, struct http_resp *);

/* ---- the VNC console (compute_console.c) -------------------------------- */

int	compute_console_remote(struct http_req *, struct http_resp *);
/* The os-getVNCConsole action on the loaded instance i. */
int	compute_console_vnc_action(struct http_req *, struct http_resp *,
	    json_t *arg, const struct rec_instance *i, int mv);
/* The 2.1-2.5 actions of the consoles not served here (key
 * os-getSPICEConsole, os-getSerialConsole, os-getRDPConsole) on i:
 * Nova's answers with them disabled. */
int	compute_console_other_action(struct http_req *, const char *key,
	    json_t *arg, const struct rec_instance *i, int mv);
/* noVNC's files and the websocket: no token (the console token is). */
int	compute_console_file(struct http_req *, struct http_resp *);
int	compute_console_websockify(struct http_req *, struct http_resp *);
/* The changePassword action of i (compute_password.c): its checks, then
 * Nova's refusal for a driver that cannot set it; always -1. */
int	compute_change_password(struct http_req *, json_t *arg,
	    const struct rec_instance *i);
int	compute_servers_ips(struct http_req *, struct http_resp *);
int	compute_servers_ips_show(struct http_req *, struct http_resp *);
int	compute_servers_metadata_list(struct http_req *, struct http_resp *);

/* os-interface (compute_interfaces.c) */
int	compute_volumes_list(struct http_req *, struct http_resp *);
int	compute_volumes_create(struct http_req *, struct http_resp *);
int	compute_volumes_show(struct http_req *, struct http_resp *);
int	compute_volumes_delete(struct http_req *, struct http_resp *);
/* A server view's "os-extended-volumes:volumes_attached" at microversion
 * 2.mv (never NULL). */
json_t	*compute_volumes_attached(const struct rec_instance *, int mv);
/* The device name of a new volume of i: want if it is a free /dev/vdX,
 * else the next free one after the local disks and i's volumes. */
int	compute_volumes_pick_device(const struct rec_instance *i,
	    const char *want, char out[32]);
/* 0 when every volume of i is settled (attached, not being detached), as
 * a move (live migration, resize or cold migration to another host) takes
 * them along; else -1, TS_EINVALID naming the first that is not (Nova's
 * MigrationPreCheckError, a 400). */
int	compute_volumes_settled(const struct rec_instance *i);
/* Whether i boots from a volume (one with boot index 0). */
bool	compute_volumes_boot(const struct rec_instance *i);

int	compute_interfaces_list(struct http_req *, struct http_resp *);
int	compute_interfaces_create(struct http_req *, struct http_resp *);
int	compute_interfaces_show(struct http_req *, struct http_resp *);
int	compute_interfaces_delete(struct http_req *, struct http_resp *);
/* The server actions addFixedIp {"networkId"} and removeFixedIp
 * {"address"} (Nova's multinic, below 2.44): 202. */
int	compute_interfaces_fixed_ip(struct http_req *, struct http_resp *,
	    const char *action, json_t *arg);

int	compute_flavors_list(struct http_req *, struct http_resp *);
int	compute_flavors_detail(struct http_req *, struct http_resp *);
int	compute_flavors_create(struct http_req *, struct http_resp *);
int	compute_flavors_show(struct http_req *, struct http_resp *);
int	compute_flavors_delete(struct http_req *, struct http_resp *);
int	compute_flavors_action(struct http_req *, struct http_resp *);
int	compute_flavors_access_list(struct http_req *, struct http_resp *);
int	compute_flavors_extra_specs_list(struct http_req *, struct http_resp *);
int	compute_flavors_extra_specs_create(struct http_req *, struct http_resp *);
int	compute_flavors_extra_spec_show(struct http_req *, struct http_resp *);
int	compute_flavors_extra_spec_update(struct http_req *, struct http_resp *);
int	compute_flavors_extra_spec_delete(struct http_req *, struct http_resp *);

/* Nova's image proxy, 2.1-2.35 (compute_images.c). */
int	compute_images_list(struct http_req *, struct http_resp *);
int	compute_images_detail(struct http_req *, struct http_resp *);
int	compute_images_show(struct http_req *, struct http_resp *);
int	compute_images_delete(struct http_req *, struct http_resp *);
int	compute_images_metadata_list(struct http_req *, struct http_resp *);
int	compute_images_metadata_create(struct http_req *, struct http_resp *);
int	compute_images_metadata_replace(struct http_req *, struct http_resp *);
int	compute_images_metadata_show(struct http_req *, struct http_resp *);
int	compute_images_metadata_update(struct http_req *, struct http_resp *);
int	compute_images_metadata_delete(struct http_req *, struct http_resp *);

int	compute_secgroups_list(struct http_req *, struct http_resp *);
int	compute_secgroups_show(struct http_req *, struct http_resp *);
int	compute_keypairs_list(struct http_req *, struct http_resp *);
int	compute_keypairs_create(struct http_req *, struct http_resp *);
int	compute_keypairs_show(struct http_req *, struct http_resp *);
int	compute_keypairs_delete(struct http_req *, struct http_resp *);

int	compute_admin_hypervisor_list(struct http_req *, struct http_resp *);
int	compute_admin_hypervisor_detail(struct http_req *, struct http_resp *);
int	compute_admin_hypervisor_statistics(struct http_req *, struct http_resp *);
int	compute_admin_hypervisor_show(struct http_req *, struct http_resp *);
int	compute_admin_hypervisor_uptime(struct http_req *, struct http_resp *);
int	compute_admin_hypervisor_servers(struct http_req *, struct http_resp *);
int	compute_admin_hypervisor_search(struct http_req *, struct http_resp *);
int	compute_admin_service_list(struct http_req *, struct http_resp *);
int	compute_admin_service_update(struct http_req *, struct http_resp *);
int	compute_admin_service_delete(struct http_req *, struct http_resp *);
int	compute_admin_az_list(struct http_req *, struct http_resp *);
int	compute_admin_az_detail(struct http_req *, struct http_resp *);
/* compute_aggregates.c */
int	compute_aggregates_list(struct http_req *, struct http_resp *);
int	compute_aggregates_create(struct http_req *, struct http_resp *);
int	compute_aggregates_show(struct http_req *, struct http_resp *);
int	compute_aggregates_update(struct http_req *, struct http_resp *);
int	compute_aggregates_delete(struct http_req *, struct http_resp *);
int	compute_aggregates_action(struct http_req *, struct http_resp *);
int	compute_admin_quota_show(struct http_req *, struct http_resp *);
int	compute_admin_quota_detail(struct http_req *, struct http_resp *);
int	compute_admin_quota_defaults(struct http_req *, struct http_resp *);
int	compute_admin_quota_update(struct http_req *, struct http_resp *);
int	compute_admin_quota_delete(struct http_req *, struct http_resp *);
int	compute_admin_limits(struct http_req *, struct http_resp *);

#endif
