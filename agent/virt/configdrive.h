/*
 * configdrive: the OpenStack config drive of an instance, an ISO 9660
 * image (volume label "config-2", Rock Ridge + Joliet) made with
 * genisoimage through common/proc, holding
 *   openstack/latest/meta_data.json     uuid, name, hostname, keys, meta, ...
 *   openstack/latest/user_data          only when there is user data
 *   openstack/latest/network_data.json  only when given
 *   openstack/latest/vendor_data.json   "{}"
 * cloud-init and Nova-aware guests read it as they read Nova's.
 *
 * Files are never injected into the guest's own disks (security §1.6);
 * this read-only drive is the only way data reaches the guest from the
 * host. The work tree is built next to the ISO as <iso>.tree/ with
 * O_EXCL|O_NOFOLLOW files, genisoimage writes <iso>.tmp, which is renamed
 * to <iso> only after it succeeded; both leftovers of an interrupted build
 * are removed before the next one and after every build. The caller
 * serializes builds for one instance (the names are deterministic so that
 * golden tests can record the argv).
 */
#ifndef TS_AGENT_CONFIGDRIVE_H
#define TS_AGENT_CONFIGDRIVE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"	/* struct ts_strmap */

#define CONFIGDRIVE_LABEL		"config-2"
#define CONFIGDRIVE_GENISOIMAGE		"genisoimage"
#define CONFIGDRIVE_USER_DATA_MAX	65536
#define CONFIGDRIVE_NETWORK_DATA_MAX	65536
#define CONFIGDRIVE_META_MAX		128	/* entries of meta */
#define CONFIGDRIVE_TEXT_MAX		255	/* names, ids */
#define CONFIGDRIVE_KEY_MAX		16384	/* public key text */

/* All pointers are borrowed for the duration of the call. Optional strings
 * are NULL when absent. */
struct configdrive_spec {
	const char		*uuid;		/* canonical UUID (required) */
	const char		*name;		/* display name (required) */
	const char		*hostname;	/* NULL: name */
	const char		*availability_zone;	/* NULL: "nova" */
	const char		*project_id;
	uint32_t		 launch_index;
	const char		*key_name;	/* with key_data */
	const char		*key_data;	/* OpenSSH public key */
	const struct ts_strmap	*meta;		/* server metadata; may be NULL */
	/* Nova's admin_pass key: the config drive only (the metadata
	 * service leaves it NULL, as Nova's does). */
	const char		*admin_pass;
	const void		*user_data;	/* raw bytes (not base64) */
	size_t			 user_data_len;
	/* network_data.json text (Nova's format), checked to be a JSON
	 * object; written as given. */
	const char		*network_data;
};

struct driver_spec;
/*
 * The config drive's view of a guest spec (pointers into d, which must
 * outlive *out): the one mapping used for the config drive and the
 * metadata service (agent/net/metadata.h), so their documents agree. The
 * spec carries a host name but no display name: the name is the host name
 * when there is one, else the domain name; the key's name is "default"
 * (the command carries the key's data, not its name).
 */
void	configdrive_spec_of(const struct driver_spec *d,
	    struct configdrive_spec *out);

/*
 * meta_data.json for spec: a JSON object with keys sorted, 2-space
 * indented, ending in a newline. Owned by the caller. NULL with
 * TS_EINVALID (a field fails its check: UUID shape, lengths, UTF-8,
 * control characters) or TS_ENOMEM.
 */
char	*configdrive_meta_data(const struct configdrive_spec *);

/*
 * Builds the config drive ISO at iso_path (absolute; its directory must
 * exist). An existing file at iso_path is replaced only once the new one
 * is complete. genisoimage runs with a 60 s timeout, 30 s of CPU, 1 GiB of
 * address space and 64 MiB of largest file. -1 with TS_EINVALID (spec),
 * TS_EIO (files, genisoimage failed), TS_ETIMEOUT, TS_ENOMEM.
 */
int	configdrive_build(const struct configdrive_spec *, const char *iso_path);

#endif
