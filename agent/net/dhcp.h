/*
 * dhcp: one dnsmasq per network, serving fixed addresses to this host's
 * ports (Neutron's DHCP agent, host-local).
 *
 * State lives in the filesystem only, so an agent restart adopts what runs:
 * <state_dir>/<network id>/ holds hosts (dhcp-hostsfile), opts
 * (dhcp-optsfile), leases and pid. A dnsmasq counts as ours and running when
 * the pid file names a live process whose /proc/<pid>/cmdline is dnsmasq
 * with our --pid-file= argument; it is current when its whole command line
 * equals the one dhcp_render() builds now (otherwise it is restarted).
 *
 * Nothing from the controller reaches dnsmasq unparsed: addresses and CIDRs
 * are parsed and re-rendered, MACs checked and lowercased, hostnames reduced
 * to [a-z0-9-] (security-and-reliability.md 1.4: no option or newline
 * injection), so each hosts/opts line is exactly one well-formed entry.
 * Files are replaced by write-temp-then-rename, and dnsmasq re-reads them on
 * SIGHUP, sent only when one changed; leases of ports that are gone are
 * released (dhcp_release_stale()).
 *
 * dnsmasq runs through proc_run() (argv only; it daemonizes, so proc_run()
 * returns once it serves); tests install a proc hook to record the argv.
 */
#ifndef TS_DHCP_H
#define TS_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "msg_gen.h"

#define DHCP_HOSTNAME_MAX	63

struct dhcp_config {
	const char	*state_dir;	/* must exist or be creatable */
	uint32_t	 lease_time;	/* seconds; 0: 86400 */
	const char	*dnsmasq;	/* program; NULL: "dnsmasq" */
	unsigned	 pid_wait_ms;	/* wait for the pid file after a
					   start; 0: 2000 */
	const char	*dhcp_release;	/* program; NULL: "dhcp_release" */
	/* Hand IPv4 clients a classless static route (option 121) to the
	 * metadata address 169.254.169.254/32 via the subnet's DHCP address,
	 * where the agent's metadata service answers (agent/net/metadata.h;
	 * Neutron's isolated metadata). */
	bool		 metadata_route;
};

/* The wanted DHCP service of one network. Pointers borrowed for the call. */
struct dhcp_net {
	const char			*net_id;
	const char			*bridge;
	uint32_t			 mtu;	/* 0: no option 26 */
	const struct sch_net_subnet	*subnets;
	size_t				 nsubnets;
	const struct sch_net_port	*ports;
	size_t				 nports;
};

/* What dhcp_render() produces; all owned. argv is NULL-terminated. */
struct dhcp_files {
	char	**argv;
	char	 *hosts;
	char	 *opts;
};

/* True if the network needs a dnsmasq here: a DHCP-enabled subnet with a
 * dhcp_address and at least one port. */
bool	dhcp_wanted(const struct dhcp_net *);

/*
 * Build dnsmasq's argv and the hosts and opts files. A malformed subnet
 * (CIDR, gateway, DHCP address, DNS server, route) fails the whole network
 * (-1, TS_EINVALID naming it): serving half its options would be worse. A
 * malformed port entry (MAC, fixed IP outside its subnet) is skipped with a
 * warning so one bad port does not cut off the others. out is overwritten.
 */
int	dhcp_render(const struct dhcp_config *, const struct dhcp_net *,
	    struct dhcp_files *out);
void	dhcp_files_clear(struct dhcp_files *);

/*
 * Release every IPv4 lease in the network's lease file whose MAC and
 * address no longer form a line of hosts (the hosts file text
 * dhcp_render() made): a port was deleted or changed its address.
 * dnsmasq never offers an address leased to another client, so without
 * this an address freed by a deleted port and given to a new one stays
 * unusable until the old lease expires (Neutron's DHCP agent does the
 * same). Runs `dhcp_release <bridge> <ip> <mac>` (dnsmasq-utils) per
 * lease; level-triggered: a lease still there is released on the next
 * call. Returns the number of releases run, -1 if one failed (the error
 * of the first).
 */
int	dhcp_release_stale(const struct dhcp_config *,
	    const struct dhcp_net *, const char *hosts);

/* The DNS-safe form of a port's hostname (see dhcp.h top): lowercase,
 * [a-z0-9-] only, starting with a letter, at most DHCP_HOSTNAME_MAX, never
 * a dnsmasq keyword; falls back to "host-<ip with dashes>". out has
 * DHCP_HOSTNAME_MAX + 1 bytes. */
void	dhcp_hostname(const char *name, const char *ip, char *out);

/*
 * Converge the network's dnsmasq: stop it if !dhcp_wanted(), else write the
 * files (SIGHUP if they changed and dnsmasq runs), start it if it is not
 * running, restart it if its command line differs. *running tells whether
 * it serves afterwards. 0, or -1 with the error recorded.
 */
int	dhcp_ensure(const struct dhcp_config *, const struct dhcp_net *,
	    bool *running);

/* Stop the network's dnsmasq (SIGTERM, then SIGKILL after 2 s) and remove
 * its directory. Nothing to do is success. */
int	dhcp_stop(const struct dhcp_config *, const char *net_id);

/* The network ids having a directory under state_dir (owned array). */
int	dhcp_list(const struct dhcp_config *, char (**ids)[CODEC_UUID_LEN + 1],
	    size_t *n);

/* The pid of the network's running dnsmasq, or 0. */
pid_t	dhcp_pid(const struct dhcp_config *, const char *net_id);
/* The pid its pid file names when that process is gone (dnsmasq died
 * and has not been restarted yet), else 0. Reads files only: safe on
 * any thread while the converger works (agent health checks). */
pid_t	dhcp_dead(const struct dhcp_config *, const char *net_id);

#endif
