/*
 * compute_password: the changePassword server action.
 *
 * Nova's libvirt driver sets a password only through the QEMU guest agent
 * (image property hw_qemu_guest_agent, a virtio channel to qemu-ga in the
 * guest); tinystack's guests have no such channel, so the action is
 * refused as Nova's libvirt driver refuses it for a qemu/kvm guest without
 * one (_can_set_admin_password(): QemuGuestAgentNotEnabled, 409 "QEMU
 * guest agent is not enabled"), after the same checks in the same order
 * (policy, body, lock, state).
 * Nothing is recorded and nothing reaches the host: a password is never
 * reported set that nothing delivered. The admin password of create and
 * rebuild is delivered (the config drive's admin_pass, see recon.h
 * recon_dispatch_pass()) and so is still returned.
 */
#include <string.h>

#include "compute_int.h"
#include "err.h"

int
compute_change_password(struct http_req *req, json_t *arg,
    const struct rec_instance *i)
{
	const char *pass = NULL;

	if (compute_enforce_owned(req, "os_compute_api:os-admin-password",
	    i->project_id, i->user_id, "Instance", i->uuid) == -1)
		return -1;
	/* Nova's schema: {"adminPass": string}, nothing else. */
	if (!json_is_object(arg)) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "changePassword: an object is expected.");
		return -1;
	}
	if (json_object_size(arg) > 1 || (json_object_size(arg) == 1 &&
	    json_object_get(arg, "adminPass") == NULL)) {
		err_set(TS_EINVALID, "Additional properties are not allowed "
		    "in changePassword: only 'adminPass' is.");
		return -1;
	}
	if (jsonreq_str(JSONREQ_NOVA, arg, "adminPass", 0, 65535,
	    JSONREQ_BYTES, &pass, NULL) == -1)
		return -1;
	if (pass == NULL) {
		err_set(TS_EINVALID, "Invalid input for field/attribute "
		    "changePassword. 'adminPass' is a required property");
		return -1;
	}
	if (i->locked && !compute_is_admin(req)) {
		err_set(TS_ECONFLICT, "Instance %s is locked", i->uuid);
		return -1;
	}
	if (strcmp(i->vm_state, VM_ACTIVE) != 0) {
		err_set(TS_ECONFLICT, "Cannot 'changePassword' instance %s "
		    "while it is in vm_state %s", i->uuid, i->vm_state);
		return -1;
	}
	if (i->task_state != NULL) {
		err_set(TS_ECONFLICT, "Cannot 'changePassword' instance %s "
		    "while it is in task_state %s", i->uuid, i->task_state);
		return -1;
	}
	err_set(TS_ECONFLICT, "QEMU guest agent is not enabled");
	return -1;
}
