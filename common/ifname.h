/*
 * ifname: the names of the host links tinystack makes for its networks
 * and guests, in one place for agent/net (which creates the bridges and
 * VXLAN devices) and agent/virt (which plugs guests into the bridges and
 * names their taps).
 *
 * A name is a prefix and the first 11 hex digits of the object's id:
 * Linux allows 15 characters (IFNAMSIZ - 1), and 44 bits make a collision
 * between two networks (or ports) on one host about 2^-44.
 *   bridge of a network  "tsb" + 11 hex of the network id
 *   VXLAN device         "tsv" + 11 hex of the network id
 *   tap of a guest port  "tap" + 11 hex of the port id (Nova's spelling)
 */
#ifndef TS_IFNAME_H
#define TS_IFNAME_H

#define IFNAME_MAX		15	/* IFNAMSIZ - 1 */
#define IFNAME_BRIDGE_PREFIX	"tsb"
#define IFNAME_VXLAN_PREFIX	"tsv"
#define IFNAME_TAP_PREFIX	"tap"

/* prefix + 11 hex digits of id into out (IFNAME_MAX + 1 bytes). -1
 * (TS_EINVALID) if id is not a canonical UUID. */
int	ifname_of(const char *prefix, const char *id, char *out);

/* Whether name has exactly the shape ifname_of() gives with prefix: the
 * prefix and 11 lowercase hex digits. What the agent may delete as its
 * own: an operator's "tsbackup0" or "tapx" is never touched. */
int	ifname_owned(const char *prefix, const char *name);

#endif
