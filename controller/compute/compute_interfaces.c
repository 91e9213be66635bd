/*
 * compute_interfaces: Nova's os-interface (interface attach/detach) on
 * the ports of the Network service (network/network.h).
 *
 * The desired NIC list of a server is its ports: the ports whose
 * device_id is the server. An attach binds a given port (or creates one
 * on a network, device_owner "compute:<az>") to the server on its host,
 * a detach releases it (a port compute created is deleted, a given one
 * unbound, as a server delete does), each in one store_write() with the
 * instance's updated_at. After the commit the reconciler sends the host an
 * instance_ensure whose spec carries the whole NIC list (sync_nics): the
 * agent hot-plugs or unplugs to match. Nothing here waits for the guest
 * and no task state is set (Nova sets none either): if the command is
 * lost, the next host report shows the guest's MACs differ from its ports
 * and the reconciler sends the ensure again (recon.c); the dataplane
 * learns the port binding from the records (netsync rescans the store).
 *
 * Nova answers 200 at once after the hot-plug; here the answer comes when
 * the records are committed, the guest follows within a report interval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute_int.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "network/network.h"

/* vm_states Nova lets interfaces be attached and detached in
 * (check_instance_state of attach_interface / detach_interface). */
static const char *const iface_states[] = { VM_ACTIVE, VM_PAUSED, VM_STOPPED,
    NULL };

/* ---- JSON --------------------------------------------------------------- */

/* Nova's interfaceAttachment of a port. */
static json_t *
attachment_json(const struct network_device_port *p)
{
	json_t *ips = json_array(), *o;

	for (size_t k = 0; ips && k < p->nips; k++)
		json_array_append_new(ips, json_pack("{s:s, s:s}", "subnet_id",
		    p->subnet_ids ? p->subnet_ids[k] : "", "ip_address",
		    p->ips[k]));
	o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "port_id", p->port_id,
	    "net_id", p->network_id, "mac_addr", p->mac, "port_state",
	    p->status ? p->status : "DOWN", "fixed_ips", ips ? ips :
	    json_array());
	if (o == NULL)
		err_set(TS_ENOMEM, "out of memory");
	return o;
}

struct each_arg {
	json_t		*arr;		/* list: every port */
	const char	*port_id;	/* show: only this one */
	json_t		*one;
};

static int
each_cb(const struct network_device_port *p, void *arg)
{
	struct each_arg *ea = arg;
	json_t *a;

	if (ea->port_id != NULL && strcmp(ea->port_id, p->port_id) != 0)
		return 0;
	if ((a = attachment_json(p)) == NULL)
		return -1;
	if (ea->port_id != NULL) {
		ea->one = a;
		return 1;
	}
	if (json_array_append_new(ea->arr, a) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

int
compute_server_load_txn(struct http_req *req, struct store_txn *txn,
    const char *rule, struct rec_instance *i)
{
	const char *id = http_req_param(req, "server_id");

	memset(i, 0, sizeof(*i));
	if (!jsonreq_uuid_like(id)) {
		err_set(TS_ENOT_FOUND, "Instance %s could not be found.", id);
		return -1;
	}
	if (compute_db_instance_get(txn, id, i) == -1)
		return -1;
	if (compute_enforce_owned(req, rule, i->project_id, i->user_id,
	    "Instance", id) == -1) {
		codec_clear(&schema_rec_instance, i);
		return -1;
	}
	return 0;
}

/* Reads the attachments of server uuid: all of them (port_id NULL) into
 * *out as an array, or the one of port_id (TS_ENOT_FOUND if it is not the
 * server's). */
static int
attachments_read(struct compute *svc, struct store_txn *txn, const char *uuid,
    const char *port_id, json_t **out)
{
	struct each_arg ea = { .arr = json_array(), .port_id = port_id };

	*out = NULL;
	if (ea.arr == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (svc->net != NULL && network_port_each_device(txn, uuid, each_cb,
	    &ea) == -1) {
		json_decref(ea.arr);
		json_decref(ea.one);
		return -1;
	}
	if (port_id == NULL) {
		*out = ea.arr;
		return 0;
	}
	json_decref(ea.arr);
	if (ea.one == NULL) {
		err_set(TS_ENOT_FOUND, "Port %s is not attached", port_id);
		return -1;
	}
	*out = ea.one;
	return 0;
}

/* ---- GET ---------------------------------------------------------------- */

static int
iface_get(struct http_req *req, struct http_resp *resp, const char *rule,
    const char *port_id)
{
	struct store_txn *txn = NULL;
	struct rec_instance i;
	json_t *a = NULL;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (port_id != NULL && !jsonreq_uuid_like(port_id)) {
		err_set(TS_ENOT_FOUND, "Port %s is not attached", port_id);
		return -1;
	}
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, &i);
	if (rc == 0)
		rc = attachments_read(compute_of(req), txn, i.uuid, port_id, &a);
	store_txn_end(&txn);
	codec_clear(&schema_rec_instance, &i);
	if (rc == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}", port_id ?
	    "interfaceAttachment" : "interfaceAttachments", a));
}

int
compute_interfaces_list(struct http_req *req, struct http_resp *resp)
{
	return iface_get(req, resp, "os_compute_api:os-attach-interfaces:list",
	    NULL);
}

int
compute_interfaces_show(struct http_req *req, struct http_resp *resp)
{
	return iface_get(req, resp, "os_compute_api:os-attach-interfaces:show",
	    http_req_param(req, "port_id"));
}

/* ---- attach and detach -------------------------------------------------- */

enum iface_op { IFACE_ATTACH = 0, IFACE_DETACH, IFACE_IP_ADD, IFACE_IP_REMOVE };

struct iface_change {
	struct compute		*svc;
	const char		*uuid;
	bool			 admin;
	enum iface_op		 op;
	const char		*what;		/* attach_interface | ... */
	/* attach: one of port_id, net_id ("" auto); ip may be NULL */
	const char		*port_id;
	const char		*net_id;
	const char		*ip;
	/* result */
	char			 port[37];	/* the port attached */
	struct rec_instance	 after;
};

static int
state_check(const struct iface_change *c, const struct rec_instance *i)
{
	bool ok = false;

	if (i->locked && !c->admin) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	for (size_t k = 0; iface_states[k] && !ok; k++)
		ok = strcmp(iface_states[k], i->vm_state) == 0;
	if (!ok) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "vm_state %s", c->what, i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s while it is in "
		    "task_state %s", c->what, i->uuid, i->task_state);
		return -1;
	}
	if (i->host == NULL || *i->host == '\0') {
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: it has no host",
		    c->what, i->uuid);
		return -1;
	}
	return 0;
}

static int
attach_ports(struct iface_change *c, struct store_txn *txn,
    const struct rec_instance *i)
{
	char owner[300], net[37];
	int rc;

	if (c->port_id != NULL) {
		rc = network_port_bind(c->svc->net, txn, i->project_id,
		    c->port_id, i->uuid, i->host);
		if (rc == 0)
			snprintf(c->port, sizeof(c->port), "%s", c->port_id);
		return rc;
	}
	snprintf(net, sizeof(net), "%s", c->net_id ? c->net_id : "");
	if (*net == '\0') {
		/* Nova allocates on the one network the project may use. */
		if (network_auto_pick(txn, i->project_id, net) == -1)
			return -1;
		if (*net == '\0') {
			err_set(TS_EINVALID, "No network is available for "
			    "instance %s.", i->uuid);
			return -1;
		}
	}
	snprintf(owner, sizeof(owner), "compute:%s", i->availability_zone);
	return network_port_create(c->svc->net, txn, i->project_id, net,
	    c->admin, i->uuid, owner, c->ip, i->host, c->port);
}

static int
change_fn(struct store_txn *txn, void *arg)
{
	struct iface_change *c = arg;
	struct rec_instance old, i;
	int rc;

	memset(&i, 0, sizeof(i));
	if (compute_db_instance_get(txn, c->uuid, &old) == -1)
		return -1;
	rc = state_check(c, &old);
	if (rc == 0) {
		switch (c->op) {
		case IFACE_DETACH:
			rc = network_port_release(c->svc->net, txn, old.uuid,
			    c->port_id);
			break;
		case IFACE_IP_ADD:
			rc = network_port_ip_add(c->svc->net, txn, old.uuid,
			    c->net_id);
			break;
		case IFACE_IP_REMOVE:
			rc = network_port_ip_remove(c->svc->net, txn, old.uuid,
			    c->ip);
			break;
		default:
			rc = attach_ports(c, txn, &old);
		}
	}
	/* The record changes too: updated_at, and a copy for the dispatch
	 * after the commit. */
	if (rc == 0)
		rc = compute_db_instance_copy(&old, &i);
	if (rc == 0) {
		i.updated_at = db_now_ms();
		rc = compute_db_instance_put(txn, &i, &old);
	}
	if (rc == 0) {
		codec_clear(&schema_rec_instance, &c->after);
		c->after = i;
		memset(&i, 0, sizeof(i));
	}
	codec_clear(&schema_rec_instance, &i);
	codec_clear(&schema_rec_instance, &old);
	return rc;
}

/* Loads and authorizes the server, runs the change, tells the host. */
static int
iface_change(struct http_req *req, const char *rule, struct iface_change *c)
{
	struct store_txn *txn = NULL;
	struct rec_instance cur;
	int rc;

	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, rule, &cur);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	c->svc = compute_of(req);
	c->uuid = cur.uuid;
	c->admin = compute_is_admin(req);
	if (c->svc->net == NULL) {
		codec_clear(&schema_rec_instance, &cur);
		err_set(TS_ECONFLICT, "Cannot '%s' instance %s: no network "
		    "service", c->what, http_req_param(req, "server_id"));
		return -1;
	}
	rc = compute_write(req, change_fn, c);
	codec_clear(&schema_rec_instance, &cur);
	if (rc == -1)
		return -1;
	/* A port bound, unbound or readdressed: the host's dataplane hears
	 * now, not at the next rescan. */
	network_changed(c->svc->net);
	log_info("instance %s: %s %s", c->after.uuid, c->what,
	    c->op == IFACE_IP_REMOVE ? c->ip : c->op == IFACE_IP_ADD ?
	    c->net_id : c->port);
	/* The whole NIC list goes to the host now; a lost command is
	 * re-sent when the host's report shows other NICs (recon.c). */
	recon_dispatch(c->svc->recon, &c->after);
	return 0;
}

/* The interfaceAttachment body (Nova's schema: port_id, net_id, fixed_ips
 * of at most one {"ip_address"}; tag only from 2.49, beyond this
 * service's microversions). */
static int
attach_parse(struct http_req *req, struct iface_change *c)
{
	json_t *a, *ips, *ip;
	bool has_port = false, has_net = false;
	const char *k;
	json_t *v;

	if (jsonreq_body(JSONREQ_NOVA, http_req_json(req),
	    "interfaceAttachment", &a) == -1)
		return -1;
	json_object_foreach(a, k, v) {
		if (strcmp(k, "port_id") != 0 && strcmp(k, "net_id") != 0 &&
		    strcmp(k, "fixed_ips") != 0) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "interfaceAttachment. Value: %s. Additional "
			    "properties are not allowed ('%s' was unexpected)",
			    k, k);
			return -1;
		}
	}
	if (jsonreq_uuid(JSONREQ_NOVA, a, "port_id", 0, &c->port_id,
	    &has_port) == -1 ||
	    jsonreq_uuid(JSONREQ_NOVA, a, "net_id", 0, &c->net_id,
	    &has_net) == -1)
		return -1;
	if ((ips = json_object_get(a, "fixed_ips")) != NULL) {
		if (!json_is_array(ips) || json_array_size(ips) != 1 ||
		    !json_is_object(ip = json_array_get(ips, 0)) ||
		    json_object_size(ip) != 1) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "fixed_ips. Value: %s. It must be a list of one "
			    "{\"ip_address\": ...}", "fixed_ips");
			return -1;
		}
		if (jsonreq_str(JSONREQ_NOVA, ip, "ip_address", 1, 64,
		    JSONREQ_BYTES, &c->ip, NULL) == -1)
			return -1;
		if (c->ip == NULL) {
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "fixed_ips: ip_address is required");
			return -1;
		}
		if (!has_net) {
			err_set(TS_EINVALID, "Must input network_id when "
			    "request IP address");
			return -1;
		}
	}
	if (has_port && has_net) {
		/* A port already has its network. */
		err_set(TS_EINVALID, "Specify either port_id or net_id, not "
		    "both.");
		return -1;
	}
	return 0;
}

int
compute_interfaces_create(struct http_req *req, struct http_resp *resp)
{
	struct iface_change c = { .what = "attach_interface" };
	struct store_txn *txn = NULL;
	json_t *a = NULL;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 ||
	    attach_parse(req, &c) == -1 ||
	    iface_change(req, "os_compute_api:os-attach-interfaces:create",
	    &c) == -1) {
		codec_clear(&schema_rec_instance, &c.after);
		return -1;
	}
	rc = compute_read(req, &txn);
	if (rc == 0)
		rc = attachments_read(c.svc, txn, c.after.uuid, c.port, &a);
	store_txn_end(&txn);
	codec_clear(&schema_rec_instance, &c.after);
	if (rc == -1)
		return -1;
	return http_resp_json(resp, 200, json_pack("{s:o}",
	    "interfaceAttachment", a));
}

int
compute_interfaces_delete(struct http_req *req, struct http_resp *resp)
{
	struct iface_change c = { .what = "detach_interface",
	    .op = IFACE_DETACH };
	int mv, rc;

	c.port_id = http_req_param(req, "port_id");
	if (compute_version(req, resp, &mv) == -1)
		return -1;
	if (!jsonreq_uuid_like(c.port_id)) {
		err_set(TS_ENOT_FOUND, "Port %s is not attached", c.port_id);
		return -1;
	}
	snprintf(c.port, sizeof(c.port), "%s", c.port_id);
	rc = iface_change(req, "os_compute_api:os-attach-interfaces:delete",
	    &c);
	codec_clear(&schema_rec_instance, &c.after);
	if (rc == -1)
		return -1;
	return http_resp_status(resp, 202);
}

/* ---- multinic actions --------------------------------------------------- */

int
compute_interfaces_fixed_ip(struct http_req *req, struct http_resp *resp,
    const char *action, json_t *arg)
{
	bool add = strcmp(action, "addFixedIp") == 0;
	struct iface_change c = { .what = add ? "add_fixed_ip" :
	    "remove_fixed_ip", .op = add ? IFACE_IP_ADD : IFACE_IP_REMOVE };
	const char *v = NULL;
	int rc;

	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for %s: an object is "
		    "expected.", action);
		return -1;
	}
	if (add) {
		rc = jsonreq_uuid(JSONREQ_NOVA, arg, "networkId", 0, &v, NULL);
		c.net_id = v;
	} else {
		rc = jsonreq_str(JSONREQ_NOVA, arg, "address", 1, 64,
		    JSONREQ_BYTES, &v, NULL);
		c.ip = v;
	}
	if (rc == -1)
		return -1;
	if (v == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. "
		    "'%s' is a required property", add ? "networkId" :
		    "address", add ? "networkId" : "address");
		return -1;
	}
	rc = iface_change(req, add ? "os_compute_api:os-multinic:add" :
	    "os_compute_api:os-multinic:remove", &c);
	codec_clear(&schema_rec_instance, &c.after);
	if (rc == -1)
		return -1;
	return http_resp_status(resp, 202);
}
