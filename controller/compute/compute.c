/*
 * compute_api: service life cycle, discovery, microversions, route table,
 * policy defaults and the helpers the compute handlers share; see
 * compute_api.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/request.h"
#include "bus.h"
#include "codec.h"
#include "compute_int.h"
#include "config.h"
#include "core/db.h"
#include "err.h"
#include "core/fleet.h"
#include "identity/identity.h"
#include "network/network.h"
#include "volume/volume.h"
#include "log.h"
#include "uuid.h"
#include "vncconsole.h"

/* ---- service ------------------------------------------------------------ */

/* The scheduler judges hosts up as the fleet does: from the moment the
 * bus thread, which reads their reports, last caught up. */
static int64_t
bus_backlog(void *arg)
{
	return bus_backlog_ms(arg);
}

struct compute *
compute_new(const struct config *cfg, struct store *st, struct bus *bus,
    const char *host)
{
	struct compute *s = calloc(1, sizeof(*s));
	struct scheduler_opts so = { 0 };
	struct recon_opts ro = { 0 };
	const char *w;

	if (s == NULL) {
		err_set(TS_ENOMEM, "compute: out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->store = st;
	s->bus = bus;
	snprintf(s->host, sizeof(s->host), "%s", host);
	snprintf(s->az, sizeof(s->az), "%s", config_get_str(cfg, "compute",
	    "default_availability_zone"));
	s->build_timeout = config_get_int(cfg, "compute", "build_timeout");
	s->image_cap_lifetime = (unsigned)config_get_int(cfg, "compute",
	    "image_capability_lifetime");
	s->qdef.instances = config_get_int(cfg, "compute", "quota_instances");
	s->qdef.cores = config_get_int(cfg, "compute", "quota_cores");
	s->qdef.ram = config_get_int(cfg, "compute", "quota_ram");
	s->qdef.key_pairs = config_get_int(cfg, "compute", "quota_key_pairs");
	s->qdef.metadata_items = config_get_int(cfg, "compute",
	    "quota_metadata_items");
	s->qdef.server_groups = 10;
	s->qdef.server_group_members = 10;
	s->qdef.injected_files = 5;
	s->qdef.injected_file_content_bytes = 10240;
	s->qdef.injected_file_path_bytes = 255;

	so.cpu_allocation_ratio = config_get_float(cfg, "scheduler",
	    "cpu_allocation_ratio");
	so.ram_allocation_ratio = config_get_float(cfg, "scheduler",
	    "ram_allocation_ratio");
	so.disk_allocation_ratio = config_get_float(cfg, "scheduler",
	    "disk_allocation_ratio");
	so.reserved_host_memory_mb = config_get_int(cfg, "scheduler",
	    "reserved_host_memory_mb");
	so.reserved_host_disk_gb = config_get_int(cfg, "scheduler",
	    "reserved_host_disk_gb");
	w = config_get_str(cfg, "scheduler", "weigher");
	so.weigher = strcmp(w, "stack") == 0 ? SCHEDULER_STACK : SCHEDULER_SPREAD;
	so.default_az = s->az;
	so.service_down_ms = config_get_int(cfg, "DEFAULT",
	    "service_down_time") * 1000;
	if (bus != NULL) {
		so.backlog_ms = bus_backlog;
		so.backlog_arg = bus;
	}
	if ((s->sched = scheduler_new(st, &so)) == NULL) {
		compute_free(&s);
		return NULL;
	}
	ro.controller_host = s->host;
	ro.build_timeout = (int)s->build_timeout;
	ro.action_timeout = (int)config_get_int(cfg, "compute",
	    "action_timeout");
	ro.resend_interval = (int)config_get_int(cfg, "compute",
	    "resend_interval");
	ro.console_timeout = (int)config_get_int(cfg, "compute",
	    "console_timeout");
	ro.shelved_offload_time = (int)config_get_int(cfg, "DEFAULT",
	    "shelved_offload_time");
	if ((s->recon = recon_new(st, bus, s->sched, &ro)) == NULL) {
		compute_free(&s);
		return NULL;
	}
	if (config_get_bool(cfg, "vnc", "enabled")) {
		snprintf(s->vnc_base, sizeof(s->vnc_base), "%s",
		    config_get_str(cfg, "vnc", "novncproxy_base_url"));
		snprintf(s->novnc_path, sizeof(s->novnc_path), "%s",
		    config_get_str(cfg, "vnc", "novnc_path"));
		if ((s->vnc = vncconsole_new(config_get_int(cfg, "consoleauth",
		    "token_ttl") * 1000)) == NULL) {
			compute_free(&s);
			return NULL;
		}
	}
	return s;
}

int
compute_start(struct compute *s)
{
	if (recon_audit(s->recon, NULL) == -1)
		return -1;
	return recon_start(s->recon);
}

void
compute_free(struct compute **sp)
{
	struct compute *s = *sp;

	if (s == NULL)
		return;
	recon_free(&s->recon);
	scheduler_free(&s->sched);
	vncconsole_free(&s->vnc);
	free(s);
	*sp = NULL;
}

static void
hook_report(const char *host, const struct sch_guest *g, size_t n, int hello,
    void *arg)
{
	struct compute *s = arg;

	recon_host_report(s->recon, host, g, n, hello);
	if (s->vnc != NULL)
		vncconsole_report(s->vnc, host, g, n);
}

static int
hook_message(const char *host, struct codec_envelope *env, void *arg)
{
	struct compute *s = arg;

	/* Before the reconciler has it: its write makes the server ACTIVE,
	 * and a console asked for then finds the guest's VNC server. An
	 * answer without the port (an older agent) leaves what the reports
	 * said; one of a guest not running drops it, as a report would. */
	if (s->vnc != NULL && env->type == &schema_msg_instance_state) {
		const struct msg_instance_state *m = env->body;

		if (m->has_vnc_port && m->vnc_host != NULL)
			vncconsole_note(s->vnc, host, m->uuid, m->vnc_host,
			    m->vnc_port);
		else if (!m->exists || m->power_state != POWER_RUNNING)
			vncconsole_note(s->vnc, host, m->uuid, NULL, 0);
	}
	return recon_agent_msg(s->recon, host, env);
}

void
compute_fleet_hooks(struct compute *s, struct fleet_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->report = hook_report;
	h->message = hook_message;
	h->arg = s;
}

/*
 * An instance's image capability (auth/capability.h): its host may
 * download its root image, kernel and ramdisk for [compute]
 * image_capability_lifetime seconds. The capability is checked when a
 * download starts, not while it runs; a command re-sent (or sent again for
 * a later task) carries a fresh one.
 */
static int
mint_image_cap(void *arg, const struct rec_instance *i, char *out,
    size_t outlen)
{
	struct compute *s = arg;
	const char *ids[3];
	size_t n = 0;

	if (i->image_ref != NULL && *i->image_ref != '\0')
		ids[n++] = i->image_ref;
	if (i->kernel_id != NULL && *i->kernel_id != '\0')
		ids[n++] = i->kernel_id;
	if (i->ramdisk_id != NULL && *i->ramdisk_id != '\0')
		ids[n++] = i->ramdisk_id;
	return identity_capability_mint(s->identity, i->host, i->uuid, ids, n,
	    s->image_cap_lifetime, out, outlen);
}

void
compute_set_identity(struct compute *s, struct identity *id)
{
	s->identity = id;
	recon_set_token_fn(s->recon, mint_image_cap, s);
}

int
compute_instance_hostname(const char *device_id, char *out, size_t len,
    void *arg)
{
	struct compute *c = arg;
	struct rec_instance inst = { 0 };
	struct store_txn *txn = NULL;
	int rc = -1;

	if (device_id == NULL || !uuid_valid(device_id) || len == 0 ||
	    store_read_begin(c->store, &txn) == -1)
		return -1;
	if (compute_db_instance_get(txn, device_id, &inst) == 0 &&
	    inst.hostname != NULL && *inst.hostname != '\0') {
		snprintf(out, len, "%s", inst.hostname);
		rc = 0;
	}
	store_txn_end(&txn);
	codec_clear(&schema_rec_instance, &inst);
	return rc;
}

void
compute_set_network(struct compute *s, struct network *net)
{
	struct recon_net rn = { .net = net };

	if (net != NULL) {
		rn.each_device = network_port_each_device;
		rn.release_device = network_port_release_device;
		rn.move_device = network_port_move_device;
		rn.migrating = network_port_migrating;
		rn.changed = network_changed;
	}
	s->net = net;
	recon_set_network(s->recon, &rn);
}

void
compute_set_volume(struct compute *s, struct volume *vol)
{
	struct recon_vol rv = { vol, NULL, NULL, NULL, NULL, NULL, NULL };

	if (vol != NULL) {
		rv.conn = volume_attach_conn;
		rv.attach_done = volume_attach_done;
		rv.detach_done = volume_detach_done;
		rv.delete_detached = volume_delete_detached;
		rv.follow = volume_attach_follow;
		rv.changed = volume_changed;
	}
	s->vol = vol;
	recon_set_volume(s->recon, &rv);
}

struct compute *
compute_of(struct http_req *req)
{
	return http_req_app(req);
}

/* ---- policy --------------------------------------------------------------- */

#define C_ADMIN		"rule:compute_admin"
#define C_OWNER		"rule:compute_admin_or_owner"
#define C_USER		"rule:compute_admin_or_user"

/*
 * Nova's legacy defaults: admin is "role:admin" anywhere; an owner is a
 * token scoped to the object's project. Rule names are Nova's, so an
 * operator's nova policy overrides read the same.
 */
const struct policy_default policy_compute_defaults[] = {
	{ "compute_admin",				"role:admin",
	    "The Compute API's admin (Nova's legacy context_is_admin)." },
	{ "compute_owner",			"project_id:%(project_id)s",
	    "A token scoped to the object's project." },
	{ "compute_admin_or_owner",	"rule:compute_admin or "
							"rule:compute_owner",
	    "The admin, or a token scoped to the object's project." },
	{ "compute_admin_or_user",	"rule:compute_admin or "
							"user_id:%(user_id)s",
	    "The admin, or the user owning the object." },
	{ "os_compute_api:servers:index",		"",
	    "List servers." },
	{ "os_compute_api:servers:detail",		"",
	    "List servers with details." },
	{ "os_compute_api:servers:index:get_all_tenants", C_ADMIN,
	    "List servers of all projects (all_tenants)." },
	{ "os_compute_api:servers:detail:get_all_tenants", C_ADMIN,
	    "List servers of all projects with details (all_tenants)." },
	{ "os_compute_api:servers:show",		C_OWNER,
	    "Show a server." },
	{ "os_compute_api:servers:create",		"",
	    "Create a server." },
	{ "os_compute_api:servers:create:forced_host",	C_ADMIN,
	    "Create a server on a given host (availability_zone zone:host)." },
	{ "os_compute_api:servers:update",		C_OWNER,
	    "Update a server." },
	{ "os_compute_api:servers:delete",		C_OWNER,
	    "Delete a server." },
	{ "os_compute_api:servers:start",		C_OWNER,
	    "Start a server (os-start action)." },
	{ "os_compute_api:servers:stop",		C_OWNER,
	    "Stop a server (os-stop action)." },
	{ "os_compute_api:servers:reboot",		C_OWNER,
	    "Reboot a server (reboot action)." },
	{ "os_compute_api:servers:rebuild",		C_OWNER,
	    "Rebuild a server (rebuild action)." },
	{ "os_compute_api:os-extended-server-attributes", C_ADMIN,
	    "Show a server's extended attributes (OS-EXT-SRV-ATTR:*)." },
	{ "os_compute_api:os-extended-status",		C_ADMIN,
	    "Show a server's extended status (OS-EXT-STS:*)." },
	{ "os_compute_api:os-pause-server:pause",	C_OWNER,
	    "Pause a server." },
	{ "os_compute_api:os-pause-server:unpause",	C_OWNER,
	    "Unpause a server." },
	{ "os_compute_api:os-suspend-server:suspend",	C_OWNER,
	    "Suspend a server." },
	{ "os_compute_api:os-suspend-server:resume",	C_OWNER,
	    "Resume a suspended server." },
	{ "os_compute_api:servers:show:host_status",	C_ADMIN,
	    "Show a server's host_status (microversion 2.16) in its show and "
	    "list detail views." },
	{ "os_compute_api:os-server-tags:index",	C_OWNER,
	    "List a server's tags (microversion 2.26)." },
	{ "os_compute_api:os-server-tags:show",		C_OWNER,
	    "Check whether a server has a tag." },
	{ "os_compute_api:os-server-tags:update",	C_OWNER,
	    "Add a tag to a server." },
	{ "os_compute_api:os-server-tags:update_all",	C_OWNER,
	    "Replace a server's tags." },
	{ "os_compute_api:os-server-tags:delete",	C_OWNER,
	    "Remove a tag from a server." },
	{ "os_compute_api:os-server-tags:delete_all",	C_OWNER,
	    "Remove every tag of a server." },
	{ "os_compute_api:servers:trigger_crash_dump",	C_OWNER,
	    "Trigger a crash dump in a server (trigger_crash_dump action, "
	    "microversion 2.17)." },
	{ "os_compute_api:os-lock-server:lock",		C_OWNER,
	    "Lock a server." },
	{ "os_compute_api:os-lock-server:unlock",	C_OWNER,
	    "Unlock a server." },
	{ "os_compute_api:os-lock-server:unlock:unlock_override", C_ADMIN,
	    "Unlock a server locked by another user." },
	{ "os_compute_api:os-console-output",		C_OWNER,
	    "Show a server's console output." },
	{ "os_compute_api:os-remote-consoles",		C_OWNER,
	    "Generate a URL to a server's VNC console (remote-consoles, "
	    "os-getVNCConsole action)." },
	{ "os_compute_api:os-admin-password",		C_OWNER,
	    "Change a server's administrative password (changePassword)." },
	{ "os_compute_api:os-admin-actions:reset_state", C_ADMIN,
	    "Reset a server's state (os-resetState action)." },
	{ "os_compute_api:os-migrate-server:migrate_live", C_ADMIN,
	    "Live migrate a server to a new host without a reboot "
	    "(os-migrateLive action)." },
	{ "os_compute_api:os-migrate-server:migrate", C_ADMIN,
	    "Cold migrate a server to a host (migrate action)." },
	{ "os_compute_api:servers:resize",		C_OWNER,
	    "Resize a server to another flavor (resize action)." },
	{ "os_compute_api:servers:confirm_resize",	C_OWNER,
	    "Confirm a server resize or cold migration (confirmResize "
	    "action)." },
	{ "os_compute_api:servers:revert_resize",	C_OWNER,
	    "Revert a server resize or cold migration (revertResize "
	    "action)." },
	{ "os_compute_api:os-migrations:index",		C_ADMIN,
	    "List migrations." },
	{ "os_compute_api:servers:migrations:index",	C_ADMIN,
	    "List the in-progress live migrations of a server (2.23)." },
	{ "os_compute_api:servers:migrations:show",	C_ADMIN,
	    "Show an in-progress live migration of a server (2.23)." },
	{ "os_compute_api:servers:migrations:delete",	C_ADMIN,
	    "Abort an in-progress live migration of a server (2.24)." },
	{ "os_compute_api:servers:create_image",	C_OWNER,
	    "Create an image from a server (createImage action)." },
	{ "os_compute_api:os-create-backup",		C_OWNER,
	    "Back up a server into an image, keeping the newest N of its "
	    "type (createBackup action)." },
	{ "os_compute_api:os-shelve:shelve",		C_OWNER,
	    "Shelve a server (shelve action)." },
	{ "os_compute_api:os-shelve:shelve_offload",	C_ADMIN,
	    "Offload a shelved server from its host (shelveOffload "
	    "action)." },
	{ "os_compute_api:os-shelve:unshelve",		C_OWNER,
	    "Unshelve a shelved or shelved-offloaded server (unshelve "
	    "action)." },
	{ "os_compute_api:os-evacuate",			C_ADMIN,
	    "Evacuate a server from a failed host to a new one (evacuate "
	    "action)." },
	{ "os_compute_api:os-instance-actions:list",	C_OWNER,
	    "List a server's actions." },
	{ "os_compute_api:os-instance-actions:show",	C_OWNER,
	    "Show a server action." },
	{ "os_compute_api:os-instance-actions:events",	C_ADMIN,
	    "Show the events of a server action." },
	{ "os_compute_api:os-server-diagnostics",	C_ADMIN,
	    "Show a server's diagnostics." },
	{ "os_compute_api:ips:index",			C_OWNER,
	    "List a server's addresses." },
	{ "os_compute_api:ips:show",			C_OWNER,
	    "List a server's addresses on one network." },
	{ "os_compute_api:server-metadata:index",	C_OWNER,
	    "List a server's metadata." },
	{ "os_compute_api:os-attach-interfaces:list",	C_OWNER,
	    "List a server's port interfaces." },
	{ "os_compute_api:os-attach-interfaces:show",	C_OWNER,
	    "Show one port interface of a server." },
	{ "os_compute_api:os-attach-interfaces:create",	C_OWNER,
	    "Attach a port interface to a server." },
	{ "os_compute_api:os-attach-interfaces:delete",	C_OWNER,
	    "Detach a port interface from a server." },
	{ "os_compute_api:os-volumes-attachments:index", C_OWNER,
	    "List the volumes attached to a server." },
	{ "os_compute_api:os-volumes-attachments:show",	C_OWNER,
	    "Show one volume attachment of a server." },
	{ "os_compute_api:os-volumes-attachments:create", C_OWNER,
	    "Attach a volume to a server." },
	{ "os_compute_api:os-volumes-attachments:delete", C_OWNER,
	    "Detach a volume from a server." },
	{ "os_compute_api:os-multinic:add",		C_OWNER,
	    "Add a fixed IP address to a server (addFixedIp action)." },
	{ "os_compute_api:os-multinic:remove",		C_OWNER,
	    "Remove a fixed IP address from a server (removeFixedIp action)." },
	{ "os_compute_api:os-security-groups:get",	"",
	    "List the project's security groups (proxy, below 2.36)." },
	{ "os_compute_api:os-security-groups:show",	"",
	    "Show a security group (proxy, below 2.36)." },
	{ "os_compute_api:os-security-groups:add",	C_OWNER,
	    "Add a security group to a server (addSecurityGroup action)." },
	{ "os_compute_api:os-security-groups:remove",	C_OWNER,
	    "Remove a security group from a server (removeSecurityGroup "
	    "action)." },
	{ "os_compute_api:os-flavor-manage:create",	C_ADMIN,
	    "Create a flavor." },
	{ "os_compute_api:os-flavor-manage:delete",	C_ADMIN,
	    "Delete a flavor." },
	{ "os_compute_api:os-flavor-access",		C_ADMIN,
	    "List the projects with access to a private flavor." },
	{ "os_compute_api:os-flavor-access:add_tenant_access", C_ADMIN,
	    "Give a project access to a private flavor." },
	{ "os_compute_api:os-flavor-access:remove_tenant_access", C_ADMIN,
	    "Take a project's access to a private flavor away." },
	{ "os_compute_api:os-flavor-extra-specs:index",	"",
	    "List a flavor's extra specs." },
	{ "os_compute_api:os-flavor-extra-specs:show",	"",
	    "Show one extra spec of a flavor." },
	{ "os_compute_api:os-flavor-extra-specs:create", C_ADMIN,
	    "Create extra specs of a flavor." },
	{ "os_compute_api:os-flavor-extra-specs:update", C_ADMIN,
	    "Update an extra spec of a flavor." },
	{ "os_compute_api:os-flavor-extra-specs:delete", C_ADMIN,
	    "Delete an extra spec of a flavor." },
	{ "os_compute_api:os-keypairs:index",		C_USER,
	    "List keypairs." },
	{ "os_compute_api:os-keypairs:create",		C_USER,
	    "Create or import a keypair." },
	{ "os_compute_api:os-keypairs:show",		C_USER,
	    "Show a keypair." },
	{ "os_compute_api:os-keypairs:delete",		C_USER,
	    "Delete a keypair." },
	{ "os_compute_api:os-hypervisors:list",		C_ADMIN,
	    "List hypervisors." },
	{ "os_compute_api:os-hypervisors:list-detail",	C_ADMIN,
	    "List hypervisors with details." },
	{ "os_compute_api:os-hypervisors:statistics",	C_ADMIN,
	    "Show hypervisor statistics." },
	{ "os_compute_api:os-hypervisors:show",		C_ADMIN,
	    "Show a hypervisor." },
	{ "os_compute_api:os-hypervisors:uptime",	C_ADMIN,
	    "Show a hypervisor's uptime." },
	{ "os_compute_api:os-hypervisors:search",	C_ADMIN,
	    "Search hypervisors by host name." },
	{ "os_compute_api:os-hypervisors:servers",	C_ADMIN,
	    "List the servers on hypervisors." },
	{ "os_compute_api:os-services:list",		C_ADMIN,
	    "List compute services." },
	{ "os_compute_api:os-services:update",		C_ADMIN,
	    "Enable, disable or force down a compute service." },
	{ "os_compute_api:os-services:delete",		C_ADMIN,
	    "Delete a compute service." },
	{ "os_compute_api:os-availability-zone:list",	"",
	    "List availability zones." },
	{ "os_compute_api:os-availability-zone:detail",	C_ADMIN,
	    "List availability zones with their hosts." },
	{ "os_compute_api:os-aggregates:index",		C_ADMIN,
	    "List host aggregates." },
	{ "os_compute_api:os-aggregates:create",	C_ADMIN,
	    "Create a host aggregate." },
	{ "os_compute_api:os-aggregates:show",		C_ADMIN,
	    "Show a host aggregate." },
	{ "os_compute_api:os-aggregates:update",	C_ADMIN,
	    "Update a host aggregate's name or availability zone." },
	{ "os_compute_api:os-aggregates:delete",	C_ADMIN,
	    "Delete a host aggregate." },
	{ "os_compute_api:os-aggregates:add_host",	C_ADMIN,
	    "Add a host to an aggregate." },
	{ "os_compute_api:os-aggregates:remove_host",	C_ADMIN,
	    "Remove a host from an aggregate." },
	{ "os_compute_api:os-aggregates:set_metadata",	C_ADMIN,
	    "Set or remove an aggregate's metadata." },
	{ "os_compute_api:os-quota-sets:show",		C_OWNER,
	    "Show a project's quotas." },
	{ "os_compute_api:os-quota-sets:detail",	C_OWNER,
	    "Show a project's quotas with usage." },
	{ "os_compute_api:os-quota-sets:defaults",	"",
	    "Show the default quotas." },
	{ "os_compute_api:os-quota-sets:update",	C_ADMIN,
	    "Update a project's quotas." },
	{ "os_compute_api:os-quota-sets:delete",	C_ADMIN,
	    "Revert a project's quotas to the defaults." },
	{ "os_compute_api:limits",			"",
	    "Show the caller's rate and absolute limits." },
	{ NULL, NULL, NULL }
};

const struct request_ctx *
compute_ctx(struct http_req *req)
{
	return request_ctx_of(req);
}

int
compute_enforce(struct http_req *req, const char *rule)
{
	return request_enforce(req, rule, NULL);
}

bool
compute_is_admin(struct http_req *req)
{
	const struct request_ctx *c = compute_ctx(req);

	if (c == NULL)
		return false;
	if (request_enforce(req, "compute_admin", NULL) == 0)
		return true;
	err_clear();
	return false;
}

int
compute_enforce_owned(struct http_req *req, const char *rule,
    const char *owner_project, const char *owner_user, const char *what,
    const char *id)
{
	struct request_target t = { .n = 0 };

	if (request_target_add(&t, "project_id", owner_project) == -1 ||
	    (owner_user && request_target_add(&t, "user_id", owner_user) == -1))
		return -1;
	if (request_enforce_owned(req, rule, &t, owner_project, what, id) == -1) {
		if (err_code() == TS_ENOT_FOUND)
			err_set(TS_ENOT_FOUND, "%s %s could not be found.",
			    what, id);
		return -1;
	}
	return 0;
}

/* ---- microversions ---------------------------------------------------------- */

/* "2.N" -> N; -1 if not of that form. "latest" -> max. */
static int
parse_mv(const char *v)
{
	char *end;
	long minor;

	while (*v == ' ')
		v++;
	if (strncasecmp(v, "latest", 6) == 0)
		return COMPUTE_MV_MAX;
	if (v[0] != '2' || v[1] != '.' || !isdigit((unsigned char)v[2]))
		return -1;
	errno = 0;
	minor = strtol(v + 2, &end, 10);
	while (*end == ' ')
		end++;
	if (errno || (*end != '\0' && *end != ',') || minor > 100000)
		return -1;
	return (int)minor;
}

int
compute_version(struct http_req *req, struct http_resp *resp, int *minor)
{
	const char *h = http_req_header(req, "OpenStack-API-Version");
	const char *v = NULL;
	char buf[64];
	int mv = COMPUTE_MV_MIN;

	/* "compute 2.1" possibly among other services, comma separated. */
	if (h != NULL) {
		const char *p = h;

		while (*p) {
			while (*p == ' ' || *p == ',')
				p++;
			if (strncasecmp(p, "compute ", 8) == 0) {
				v = p + 8;
				break;
			}
			while (*p && *p != ',')
				p++;
		}
	}
	if (v == NULL)
		v = http_req_header(req, "X-OpenStack-Nova-API-Version");
	if (v != NULL) {
		mv = parse_mv(v);
		if (mv < 0) {
			err_set(TS_EINVALID, "API Version String %.32s is of "
			    "invalid format. Must be of format "
			    "MajorNum.MinorNum.", v);
			return -1;
		}
		if (mv < COMPUTE_MV_MIN || mv > COMPUTE_MV_MAX) {
			err_set(TS_ENOT_ACCEPTABLE, "Version 2.%d is not "
			    "supported by the API. Minimum is 2.%d and maximum "
			    "is 2.%d.", mv, COMPUTE_MV_MIN, COMPUTE_MV_MAX);
			return -1;
		}
	}
	*minor = mv;
	if (resp == NULL)	/* read again by a handler: echoed already */
		return 0;
	snprintf(buf, sizeof(buf), "compute 2.%d", mv);
	if (http_resp_header(resp, "OpenStack-API-Version", buf) == -1)
		return -1;
	snprintf(buf, sizeof(buf), "2.%d", mv);
	if (http_resp_header(resp, "X-OpenStack-Nova-API-Version", buf) == -1 ||
	    http_resp_header(resp, "Vary", "OpenStack-API-Version, "
	    "X-OpenStack-Nova-API-Version") == -1)
		return -1;
	return 0;
}

/* ---- discovery ---------------------------------------------------------------- */

static json_t *
version_doc(struct http_req *req, int v21)
{
	char base[512], href[600], max[16], min[16];

	if (http_req_base_url(req, base, sizeof(base)) == -1) {
		err_set(TS_EINVALID, "Host header too long");
		return NULL;
	}
	snprintf(href, sizeof(href), "%s/%s/", base, v21 ? "v2.1" : "v2");
	if (v21) {
		snprintf(max, sizeof(max), "2.%d", COMPUTE_MV_MAX);
		snprintf(min, sizeof(min), "2.%d", COMPUTE_MV_MIN);
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}], "
	    "s:[{s:s, s:s}]}",
	    "id", v21 ? "v2.1" : "v2.0",
	    "status", v21 ? "CURRENT" : "SUPPORTED",
	    "version", v21 ? max : "",
	    "min_version", v21 ? min : "",
	    "updated", v21 ? "2013-07-23T11:33:21Z" : "2011-01-21T11:33:21Z",
	    "links", "rel", "self", "href", href,
	    "media-types", "base", "application/json",
	    "type", "application/vnd.openstack.compute+json;version=2");
}

int
compute_versions(struct http_req *req, struct http_resp *resp)
{
	json_t *v2 = version_doc(req, 0), *v21 = version_doc(req, 1);

	if (v2 == NULL || v21 == NULL) {
		json_decref(v2);
		json_decref(v21);
		return -1;
	}
	/* Tempest wants v2.0 first. */
	return http_resp_json(resp, 200, json_pack("{s:[o, o]}", "versions",
	    v2, v21));
}

int
compute_version_v2(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_doc(req, 0);

	return v ? http_resp_json(resp, 200, json_pack("{s:o}", "version", v)) :
	    -1;
}

int
compute_version_v21(struct http_req *req, struct http_resp *resp)
{
	json_t *v = version_doc(req, 1);

	return v ? http_resp_json(resp, 200, json_pack("{s:o}", "version", v)) :
	    -1;
}

/* ---- JSON helpers ------------------------------------------------------------- */

/*
 * gmtime_r() for 1970-01-01 to 9999-12-31 by arithmetic (the civil date of
 * a day count: Howard Hinnant's days_from_civil inverse): glibc's takes a
 * process-wide lock (__tz_convert) that the API threads rendering lists
 * shared, three times a server. 0 when t is out of that range.
 */
static int
utc_tm(int64_t t, struct tm *tm)
{
	int64_t days, sec, era, doe, yoe, doy, mp, y;

	if (t < 0 || t > INT64_C(253402300799))
		return 0;
	days = t / 86400;
	sec = t % 86400;
	days += 719468;		/* from 0000-03-01 */
	era = days / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
	tm->tm_year = (int)(y + (tm->tm_mon <= 1) - 1900);
	tm->tm_hour = (int)(sec / 3600);
	tm->tm_min = (int)(sec / 60 % 60);
	tm->tm_sec = (int)(sec % 60);
	return 1;
}

void
compute_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	int y;

	if (!utc_tm((int64_t)t, &tm))
		gmtime_r(&t, &tm);
	y = tm.tm_year + 1900;
	if (y < 0 || y > 9999) {
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return;
	}
	/* By hand: strftime() was a visible part of a 1,000-server detail
	 * list (two times a server). */
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + (tm.tm_mon + 1) / 10);
	out[6] = (char)('0' + (tm.tm_mon + 1) % 10);
	out[7] = '-';
	out[8] = (char)('0' + tm.tm_mday / 10);
	out[9] = (char)('0' + tm.tm_mday % 10);
	out[10] = 'T';
	out[11] = (char)('0' + tm.tm_hour / 10);
	out[12] = (char)('0' + tm.tm_hour % 10);
	out[13] = ':';
	out[14] = (char)('0' + tm.tm_min / 10);
	out[15] = (char)('0' + tm.tm_min % 10);
	out[16] = ':';
	out[17] = (char)('0' + tm.tm_sec / 10);
	out[18] = (char)('0' + tm.tm_sec % 10);
	out[19] = 'Z';
	out[20] = '\0';
}

void
compute_time_usec(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char b[24];
	int u;

	/* compute_time()'s digits by hand (a detail list writes one a
	 * server: launched_at); what it leaves to strftime() and a negative
	 * fraction (before 1970) keep the formatted way. */
	if (ms >= 0) {
		compute_time(ms, out);
		if (out[19] == 'Z' && out[20] == '\0') {
			u = (int)(ms % 1000);
			memcpy(out + 19, ".000000", 8);
			out[20] = (char)('0' + u / 100);
			out[21] = (char)('0' + u / 10 % 10);
			out[22] = (char)('0' + u % 10);
			return;
		}
	}
	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%06d", b, (int)(ms % 1000) * 1000);
}

json_t *
compute_time_or_null(int64_t ms, int usec)
{
	char b[32];

	if (ms == 0)
		return json_null();
	if (usec)
		compute_time_usec(ms, b);
	else
		compute_time(ms, b);
	return json_string(b);
}

int
compute_url(struct http_req *req, bool bookmark, char *out, size_t len,
    const char *fmt, ...)
{
	const struct request_ctx *c = compute_ctx(req);
	const char *pid = c && c->project_id ? c->project_id : "";
	char base[512], rest[512];
	va_list ap;
	int n;

	if (http_req_base_url(req, base, sizeof(base)) == -1)
		snprintf(base, sizeof(base), "http://localhost");
	va_start(ap, fmt);
	n = vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rest))
		return -1;
	/* Nova's _get_project_id(): the project only when the request's
	 * URL names one (optional since microversion 2.18). */
	if (http_req_param(req, "project_id") == NULL)
		pid = "";
	n = snprintf(out, len, "%s%s%s%s/%s", base, bookmark ? "" : "/v2.1",
	    *pid ? "/" : "", pid, rest);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
compute_next_href(struct http_req *req, const char *coll, const char *marker,
    char *out, size_t len)
{
	struct buf q = { 0 };
	int rc = -1;

	if (http_req_query_relink(req, marker, &q) == 0 &&
	    buf_append(&q, "", 1) == 0)
		rc = compute_url(req, false, out, len, "%s%s", coll,
		    (const char *)q.data);
	buf_free(&q);
	return rc;
}

json_t *
compute_links(struct http_req *req, const char *coll, const char *id)
{
	char self[1200], book[1200];

	compute_url(req, false, self, sizeof(self), "%s/%s", coll, id);
	compute_url(req, true, book, sizeof(book), "%s/%s", coll, id);
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "rel", "self", "href",
	    self, "rel", "bookmark", "href", book);
}

json_t *
compute_ref(struct http_req *req, const char *coll, const char *id)
{
	return json_pack("{s:s, s:o}", "id", id, "links", compute_links(req, coll,
	    id));
}

static int
query_at(void *arg, size_t i, const char **k, const char **v)
{
	if (http_req_query_at(arg, i, k, v) == -1) {
		err_set(TS_EINTERNAL, "query pair %zu", i);
		return -1;
	}
	return 0;
}

int
compute_query_check(struct http_req *req, const struct jsonreq_qparam *params,
    size_t np, bool underscore_refused)
{
	return jsonreq_query_check(JSONREQ_NOVA, params, np,
	    underscore_refused, http_req_query_count(req), query_at, req);
}

int64_t
compute_query_limit(struct http_req *req, int64_t cap, bool *has)
{
	const char *v = http_req_query(req, "limit");
	int64_t n = 0;

	*has = v != NULL && *v != '\0';
	for (; *has && *v >= '0' && *v <= '9'; v++)
		if ((n = n * 10 + (*v - '0')) > cap)
			return cap;
	return *has ? n : cap;
}

int
compute_read(struct http_req *req, struct store_txn **txn)
{
	return store_read_begin(compute_of(req)->store, txn);
}

/* Whether host is a registered compute service (Nova's
 * service_get_by_compute_host): 1, 0, or -1 with err set. */
int
compute_host_known(struct http_req *req, const char *host)
{
	struct store_txn *txn = NULL;
	struct rec_service sv;
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = db_service_by_host(txn, host, &sv);
	store_txn_end(&txn);
	if (rc == 0) {
		codec_clear(&schema_rec_service, &sv);
		return 1;
	}
	return err_code() == TS_ENOT_FOUND ? 0 : -1;
}

int
compute_write(struct http_req *req, int (*fn)(struct store_txn *, void *),
    void *arg)
{
	return store_write(compute_of(req)->store, fn, arg);
}

/* ---- routes ----------------------------------------------------------------------- */

#define NA	ROUTE_NO_AUTH
#define TS	ROUTE_TRAILING_SLASH
#define IH	ROUTE_POLICY_IN_HANDLER
#define SELF	ROUTE_SELF_SCOPED

/* Each route under /v2.1 and /v2, with and without /{project_id}. */
#define R(m, p, h, pol, fl, st)						\
	{ m, "/v2.1" p, h, pol, fl, st, NULL },				\
	{ m, "/v2.1/{project_id}" p, h, pol, fl, st, NULL },		\
	{ m, "/v2" p, h, pol, fl, st, NULL },				\
	{ m, "/v2/{project_id}" p, h, pol, fl, st, NULL }

const struct http_route compute_routes[] = {
	{ "GET", "/", compute_versions, NULL, NA, 200, NULL },
	{ "GET", "/v2", compute_version_v2, NULL, NA | TS, 200, NULL },
	{ "GET", "/v2.1", compute_version_v21, NULL, NA | TS, 200, NULL },

	/*
	 * Rules on one server read its project (and user): the handler
	 * enforces them once the instance is loaded, and another project's
	 * server answers 404 (IH).
	 */
	R("GET", "/servers", compute_servers_list, "os_compute_api:servers:index",
	    0, 200),
	R("GET", "/servers/detail", compute_servers_detail,
	    "os_compute_api:servers:detail", 0, 200),
	R("POST", "/servers", compute_servers_create,
	    "os_compute_api:servers:create", 0, 202),
	R("GET", "/servers/{server_id}", compute_servers_show,
	    "os_compute_api:servers:show", IH, 200),
	R("PUT", "/servers/{server_id}", compute_servers_update,
	    "os_compute_api:servers:update", IH, 200),
	R("DELETE", "/servers/{server_id}", compute_servers_delete,
	    "os_compute_api:servers:delete", IH, 204),
	/* Self-scoped: the action in the body picks Nova's rule
	 * (servers:start, os-pause-server:pause...), checked on the server. */
	R("POST", "/servers/{server_id}/action", compute_servers_action, NULL,
	    SELF, 202),
	R("GET", "/servers/{server_id}/tags", compute_tags_index,
	    "os_compute_api:os-server-tags:index", IH, 200),
	R("PUT", "/servers/{server_id}/tags", compute_tags_update_all,
	    "os_compute_api:os-server-tags:update_all", IH, 200),
	R("DELETE", "/servers/{server_id}/tags", compute_tags_delete_all,
	    "os_compute_api:os-server-tags:delete_all", IH, 204),
	R("GET", "/servers/{server_id}/tags/{tag}", compute_tags_show,
	    "os_compute_api:os-server-tags:show", IH, 204),
	R("PUT", "/servers/{server_id}/tags/{tag}", compute_tags_update,
	    "os_compute_api:os-server-tags:update", IH, 201),
	R("DELETE", "/servers/{server_id}/tags/{tag}", compute_tags_delete,
	    "os_compute_api:os-server-tags:delete", IH, 204),
	R("GET", "/servers/{server_id}/os-instance-actions",
	    compute_servers_actions_list, "os_compute_api:os-instance-actions:list",
	    IH, 200),
	R("GET", "/servers/{server_id}/os-instance-actions/{request_id}",
	    compute_servers_action_show, "os_compute_api:os-instance-actions:show",
	    IH, 200),
	R("GET", "/servers/{server_id}/migrations",
	    compute_server_migrations_list,
	    "os_compute_api:servers:migrations:index", IH, 200),
	R("GET", "/servers/{server_id}/migrations/{migration_id}",
	    compute_server_migrations_show,
	    "os_compute_api:servers:migrations:show", IH, 200),
	R("DELETE", "/servers/{server_id}/migrations/{migration_id}",
	    compute_server_migrations_delete,
	    "os_compute_api:servers:migrations:delete", IH, 202),
	R("GET", "/os-migrations", compute_migrations_list,
	    "os_compute_api:os-migrations:index", 0, 200),
	R("GET", "/servers/{server_id}/diagnostics", compute_servers_diagnostics,
	    "os_compute_api:os-server-diagnostics", 0, 200),
	R("POST", "/servers/{server_id}/remote-consoles", compute_console_remote,
	    "os_compute_api:os-remote-consoles", IH, 200),
	/* The console's page and websocket (nova-novncproxy's): no Keystone
	 * token; the websocket takes the console token in its query. */
	{ "GET", "/vnc/websockify", compute_console_websockify, NULL, NA, 200,
	    NULL },
	{ "GET", "/vnc/{p1}", compute_console_file, NULL, NA, 200, NULL },
	{ "GET", "/vnc/{p1}/{p2}", compute_console_file, NULL, NA, 200, NULL },
	{ "GET", "/vnc/{p1}/{p2}/{p3}", compute_console_file, NULL, NA, 200,
	    NULL },
	{ "GET", "/vnc/{p1}/{p2}/{p3}/{p4}", compute_console_file, NULL, NA,
	    200, NULL },
	{ "GET", "/vnc/{p1}/{p2}/{p3}/{p4}/{p5}", compute_console_file, NULL,
	    NA, 200, NULL },
	R("GET", "/servers/{server_id}/ips", compute_servers_ips,
	    "os_compute_api:ips:index", IH, 200),
	R("GET", "/servers/{server_id}/ips/{network_label}",
	    compute_servers_ips_show, "os_compute_api:ips:show", IH, 200),
	R("GET", "/servers/{server_id}/metadata", compute_servers_metadata_list,
	    "os_compute_api:server-metadata:index", IH, 200),
	R("GET", "/servers/{server_id}/os-volume_attachments",
	    compute_volumes_list, "os_compute_api:os-volumes-attachments:index",
	    IH, 200),
	R("POST", "/servers/{server_id}/os-volume_attachments",
	    compute_volumes_create,
	    "os_compute_api:os-volumes-attachments:create", IH, 200),
	R("GET", "/servers/{server_id}/os-volume_attachments/{volume_id}",
	    compute_volumes_show, "os_compute_api:os-volumes-attachments:show",
	    IH, 200),
	R("DELETE", "/servers/{server_id}/os-volume_attachments/{volume_id}",
	    compute_volumes_delete,
	    "os_compute_api:os-volumes-attachments:delete", IH, 202),
	R("GET", "/servers/{server_id}/os-interface", compute_interfaces_list,
	    "os_compute_api:os-attach-interfaces:list", IH, 200),
	R("POST", "/servers/{server_id}/os-interface", compute_interfaces_create,
	    "os_compute_api:os-attach-interfaces:create", IH, 200),
	R("GET", "/servers/{server_id}/os-interface/{port_id}",
	    compute_interfaces_show, "os_compute_api:os-attach-interfaces:show",
	    IH, 200),
	R("DELETE", "/servers/{server_id}/os-interface/{port_id}",
	    compute_interfaces_delete,
	    "os_compute_api:os-attach-interfaces:delete", IH, 202),

	/* Self-scoped: Nova has no rule for reading flavors; every token
	 * sees the public ones and its project's private ones. */
	R("GET", "/flavors", compute_flavors_list, NULL, SELF, 200),
	R("GET", "/flavors/detail", compute_flavors_detail, NULL, SELF, 200),
	R("POST", "/flavors", compute_flavors_create,
	    "os_compute_api:os-flavor-manage:create", 0, 200),
	R("GET", "/flavors/{flavor_id}", compute_flavors_show, NULL, SELF, 200),
	R("DELETE", "/flavors/{flavor_id}", compute_flavors_delete,
	    "os_compute_api:os-flavor-manage:delete", 0, 202),
	/* Self-scoped: the body picks add_tenant_access or
	 * remove_tenant_access (os-flavor-access:...). */
	R("POST", "/flavors/{flavor_id}/action", compute_flavors_action, NULL,
	    SELF, 200),
	R("GET", "/flavors/{flavor_id}/os-flavor-access",
	    compute_flavors_access_list, "os_compute_api:os-flavor-access", 0, 200),
	R("GET", "/flavors/{flavor_id}/os-extra_specs", compute_flavors_extra_specs_list,
	    "os_compute_api:os-flavor-extra-specs:index", 0, 200),
	R("POST", "/flavors/{flavor_id}/os-extra_specs",
	    compute_flavors_extra_specs_create,
	    "os_compute_api:os-flavor-extra-specs:create", 0, 200),
	R("GET", "/flavors/{flavor_id}/os-extra_specs/{key}",
	    compute_flavors_extra_spec_show, "os_compute_api:os-flavor-extra-specs:show",
	    0, 200),
	R("PUT", "/flavors/{flavor_id}/os-extra_specs/{key}",
	    compute_flavors_extra_spec_update,
	    "os_compute_api:os-flavor-extra-specs:update", 0, 200),
	R("DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}",
	    compute_flavors_extra_spec_delete,
	    "os_compute_api:os-flavor-extra-specs:delete", 0, 200),

	R("GET", "/os-security-groups", compute_secgroups_list,
	    "os_compute_api:os-security-groups:get", 0, 200),
	R("GET", "/os-security-groups/{security_group_id}",
	    compute_secgroups_show, "os_compute_api:os-security-groups:show",
	    0, 200),

	/*
	 * Nova's image proxy (below 2.36): Nova has no rule of its own and
	 * asks Glance with the user's token, so the routes name Glance's
	 * rules; those on one image read its owner and membership, so the
	 * image service enforces them on the stored image (IH: an image the
	 * caller may not see answers 404).
	 */
	R("GET", "/images", compute_images_list, "image:get_images", 0, 200),
	R("GET", "/images/detail", compute_images_detail, "image:get_images",
	    0, 200),
	R("GET", "/images/{image_id}", compute_images_show, "image:get_image",
	    IH, 200),
	R("DELETE", "/images/{image_id}", compute_images_delete,
	    "image:delete_image", IH, 204),
	R("GET", "/images/{image_id}/metadata", compute_images_metadata_list,
	    "image:get_image", IH, 200),
	R("POST", "/images/{image_id}/metadata",
	    compute_images_metadata_create, "image:modify_image", IH, 200),
	R("PUT", "/images/{image_id}/metadata",
	    compute_images_metadata_replace, "image:modify_image", IH, 200),
	R("GET", "/images/{image_id}/metadata/{key}",
	    compute_images_metadata_show, "image:get_image", IH, 200),
	R("PUT", "/images/{image_id}/metadata/{key}",
	    compute_images_metadata_update, "image:modify_image", IH, 200),
	R("DELETE", "/images/{image_id}/metadata/{key}",
	    compute_images_metadata_delete, "image:modify_image", IH, 204),

	/* Keypair rules read the keypair's user (?user_id= for the admin). */
	R("GET", "/os-keypairs", compute_keypairs_list,
	    "os_compute_api:os-keypairs:index", IH, 200),
	R("POST", "/os-keypairs", compute_keypairs_create,
	    "os_compute_api:os-keypairs:create", IH, 200),
	R("GET", "/os-keypairs/{keypair_name}", compute_keypairs_show,
	    "os_compute_api:os-keypairs:show", IH, 200),
	R("DELETE", "/os-keypairs/{keypair_name}", compute_keypairs_delete,
	    "os_compute_api:os-keypairs:delete", IH, 202),

	R("GET", "/os-hypervisors", compute_admin_hypervisor_list,
	    "os_compute_api:os-hypervisors:list", 0, 200),
	R("GET", "/os-hypervisors/detail", compute_admin_hypervisor_detail,
	    "os_compute_api:os-hypervisors:list-detail", 0, 200),
	R("GET", "/os-hypervisors/statistics", compute_admin_hypervisor_statistics,
	    "os_compute_api:os-hypervisors:statistics", 0, 200),
	R("GET", "/os-hypervisors/{hypervisor_id}", compute_admin_hypervisor_show,
	    "os_compute_api:os-hypervisors:show", 0, 200),
	R("GET", "/os-hypervisors/{hypervisor_id}/uptime",
	    compute_admin_hypervisor_uptime, "os_compute_api:os-hypervisors:uptime", 0,
	    200),
	R("GET", "/os-hypervisors/{pattern}/servers", compute_admin_hypervisor_servers,
	    "os_compute_api:os-hypervisors:servers", 0, 200),
	R("GET", "/os-hypervisors/{pattern}/search", compute_admin_hypervisor_search,
	    "os_compute_api:os-hypervisors:search", 0, 200),
	R("GET", "/os-services", compute_admin_service_list,
	    "os_compute_api:os-services:list", 0, 200),
	R("PUT", "/os-services/{service_action}", compute_admin_service_update,
	    "os_compute_api:os-services:update", 0, 200),
	R("DELETE", "/os-services/{service_id}", compute_admin_service_delete,
	    "os_compute_api:os-services:delete", 0, 204),
	R("GET", "/os-availability-zone", compute_admin_az_list,
	    "os_compute_api:os-availability-zone:list", 0, 200),
	R("GET", "/os-availability-zone/detail", compute_admin_az_detail,
	    "os_compute_api:os-availability-zone:detail", 0, 200),
	R("GET", "/os-aggregates", compute_aggregates_list,
	    "os_compute_api:os-aggregates:index", 0, 200),
	R("POST", "/os-aggregates", compute_aggregates_create,
	    "os_compute_api:os-aggregates:create", 0, 200),
	R("GET", "/os-aggregates/{aggregate_id}", compute_aggregates_show,
	    "os_compute_api:os-aggregates:show", 0, 200),
	R("PUT", "/os-aggregates/{aggregate_id}", compute_aggregates_update,
	    "os_compute_api:os-aggregates:update", 0, 200),
	R("DELETE", "/os-aggregates/{aggregate_id}", compute_aggregates_delete,
	    "os_compute_api:os-aggregates:delete", 0, 200),
	/* Self-scoped: the body picks add_host, remove_host or set_metadata
	 * (os-aggregates:...). */
	R("POST", "/os-aggregates/{aggregate_id}/action",
	    compute_aggregates_action, NULL, SELF, 200),
	/* The quota rules read {tenant_id} as the project. */
	R("GET", "/os-quota-sets/{tenant_id}", compute_admin_quota_show,
	    "os_compute_api:os-quota-sets:show", IH, 200),
	R("GET", "/os-quota-sets/{tenant_id}/detail", compute_admin_quota_detail,
	    "os_compute_api:os-quota-sets:detail", IH, 200),
	R("GET", "/os-quota-sets/{tenant_id}/defaults", compute_admin_quota_defaults,
	    "os_compute_api:os-quota-sets:defaults", 0, 200),
	R("PUT", "/os-quota-sets/{tenant_id}", compute_admin_quota_update,
	    "os_compute_api:os-quota-sets:update", 0, 200),
	R("DELETE", "/os-quota-sets/{tenant_id}", compute_admin_quota_delete,
	    "os_compute_api:os-quota-sets:delete", 0, 202),
	R("GET", "/limits", compute_admin_limits, "os_compute_api:limits", 0, 200),
	HTTP_ROUTE_END
};
