/*
 * opts: option tables; see opts.h. Every default here must pass its own
 * validation (config_new() checks), and the packaged samples are generated
 * from these lines, so the help text is what operators read.
 */
#include "opts.h"

#define KIB	1024LL
#define GIB	(1024LL * 1024 * 1024)

/* [DEFAULT] options both daemons share, so they read the same everywhere. */
#define OPTS_COMMON_LOGGING						\
	CONFIG_OPT_BOOL("DEFAULT", "debug", "false",			\
	    "Log at debug level (more than verbose)."),			\
	CONFIG_OPT_BOOL("DEFAULT", "verbose", "false",			\
	    "Log at info level; when neither debug nor verbose is set, "\
	    "only warnings and errors are logged."),			\
	CONFIG_OPT_PATH("DEFAULT", "log_file", "",			\
	    "Append log lines to this file; empty logs to standard "	\
	    "error. Reopened on SIGHUP so it can be rotated."),		\
	CONFIG_OPT_BOOL("DEFAULT", "use_syslog", "false",		\
	    "Log to syslog (facility daemon) instead of standard error " \
	    "or log_file.")

#define OPTS_COMMON_HOST						\
	CONFIG_OPT_STR("DEFAULT", "host", "",				\
	    "Name of this host as other services see it; empty uses "	\
	    "the system host name.")

/* [metrics]: the Prometheus endpoint (common/metrics_http), alike on both
 * daemons; checked together when the daemon starts
 * (metrics_http_configure()). */
#define OPTS_COMMON_METRICS						\
	CONFIG_OPT_INT("metrics", "port", "0", 0, 65535,		\
	    "TCP port of the Prometheus endpoint (GET /metrics); 0 "	\
	    "turns it off."),						\
	CONFIG_OPT_STR("metrics", "bind_host", "127.0.0.1",		\
	    "Numeric IPv4 or IPv6 address the metrics endpoint listens "\
	    "on. Anything but a loopback address requires a token."),	\
	CONFIG_OPT_SECRET("metrics", "token", "",			\
	    "Bearer token every scrape must send (Authorization: "	\
	    "Bearer <token>); empty lets any local process read the "	\
	    "figures.")

const struct config_opt opts_controller[] = {
	OPTS_COMMON_LOGGING,
	CONFIG_OPT_PATH("DEFAULT", "state_path", "/var/lib/tinystack",
	    "Directory for the controller's persistent state."),
	CONFIG_OPT_PATH("DEFAULT", "pid_file",
	    "/run/tinystack/controller.pid",
	    "File the controller writes its process id to; empty writes "
	    "none."),
	OPTS_COMMON_HOST,
	CONFIG_OPT_INT("DEFAULT", "service_down_time", "60", 1, 86400,
	    "Seconds without a report after which an agent's services are "
	    "considered down. Should be several times report_interval."),
	CONFIG_OPT_INT("DEFAULT", "report_interval", "10", 1, 3600,
	    "Seconds between state reports the controller asks of agents "
	    "(sent to them when they connect)."),

	CONFIG_OPT_PATH("database", "path",
	    "/var/lib/tinystack/controller.lmdb",
	    "LMDB environment directory holding every table."),
	CONFIG_OPT_INT("database", "map_size_mb", "1024", 16, 1048576,
	    "Maximum size of the database in MiB (the LMDB map size). Writes "
	    "fail with 503 when it is full; raising it takes a restart."),
	CONFIG_OPT_INT("database", "max_readers", "510", 1, 65536,
	    "Maximum number of concurrent read transactions (LMDB reader "
	    "slots)."),
	CONFIG_OPT_ENUM("database", "sync", "full", "full|nometasync",
	    "Durability of commits: full syncs data and metadata on every "
	    "commit; nometasync skips the metadata sync, so a crash may lose "
	    "the last commit but never corrupts the database. Modes that can "
	    "corrupt the database on a crash are deliberately not offered."),

	CONFIG_OPT_STR("bus", "listen", "tcp://0.0.0.0:5670",
	    "ZeroMQ endpoint the controller listens on for agents."),
	CONFIG_OPT_BOOL("bus", "curve", "true",
	    "Encrypt and authenticate the bus with CurveZMQ. Turning it off "
	    "lets anyone who can reach the port act as an agent."),
	CONFIG_OPT_PATH("bus", "keys_dir", "/etc/tinystack/keys",
	    "Directory holding the controller's CurveZMQ key pair and the "
	    "public keys of enrolled agents."),
	CONFIG_OPT_INT("bus", "max_msg_size", "4194304", 4 * KIB, GIB,
	    "Largest bus message accepted, in bytes; larger ones are "
	    "dropped (a heartbeat listing 4096 guests is about 0.5 MiB)."),
	CONFIG_OPT_INT("bus", "backlog", "4096", 1, 65535,
	    "Agent connections the kernel queues for the controller to "
	    "accept (listen backlog); the kernel caps it at "
	    "net.core.somaxconn. After a restart every agent reconnects at "
	    "once: a connection that finds the queue full waits for TCP's "
	    "SYN retransmission (1 s, then 3 s, ...), and one that waits in "
	    "it past the 10 s handshake deadline is given up, so more than "
	    "about 10 s of the controller's handshakes does not help."),

	CONFIG_OPT_STR("api", "bind_host", "0.0.0.0",
	    "Address the HTTP APIs listen on."),
	CONFIG_OPT_STR("api", "public_host", "",
	    "Host name or address put in the service catalog's endpoint "
	    "URLs; empty uses host."),
	CONFIG_OPT_INT("api", "identity_port", "5000", 1, 65535,
	    "Port of the Identity (Keystone v3) API."),
	CONFIG_OPT_INT("api", "compute_port", "8774", 1, 65535,
	    "Port of the Compute (Nova v2.1) API."),
	CONFIG_OPT_INT("api", "image_port", "9292", 1, 65535,
	    "Port of the Image (Glance v2) API."),
	CONFIG_OPT_INT("api", "volume_port", "8776", 1, 65535,
	    "Port of the Block Storage (Cinder v3) API."),
	CONFIG_OPT_INT("api", "network_port", "9696", 1, 65535,
	    "Port of the Networking (Neutron v2.0) API."),
	CONFIG_OPT_INT("api", "threads", "32", 1, 1024,
	    "Number of HTTP worker threads per API listener. A worker waits "
	    "for its request's durable write, so writes share a commit only "
	    "when more connections than this write at once; keep it above "
	    "the number of concurrent clients."),
	CONFIG_OPT_INT("api", "max_body_size", "1048576", 1 * KIB, GIB,
	    "Largest request body accepted, in bytes, except image data "
	    "uploads (limited by [image] image_size_cap)."),
	CONFIG_OPT_INT("api", "max_auth_body_size", "114688", 1 * KIB, GIB,
	    "Largest request body accepted, in bytes, by the requests that "
	    "need no token (token issue); at most max_body_size. As "
	    "Keystone's max_request_body_size."),
	CONFIG_OPT_INT("api", "connection_limit", "1024", 1, 65536,
	    "Maximum number of simultaneous HTTP connections."),
	CONFIG_OPT_INT("api", "per_ip_connection_limit", "256", 0, 65536,
	    "Maximum number of simultaneous HTTP connections from one client "
	    "address, per API port; 0: no limit. Behind a reverse proxy, "
	    "every client shares the proxy's address."),
	CONFIG_OPT_INT("api", "connection_timeout", "60", 1, 86400,
	    "Seconds an idle HTTP connection is kept open."),
	CONFIG_OPT_PATH("api", "tls_cert_file", "",
	    "PEM certificate chain for HTTPS; empty serves plain HTTP."),
	CONFIG_OPT_PATH("api", "tls_key_file", "",
	    "PEM private key matching tls_cert_file."),

	CONFIG_OPT_BOOL("dashboard", "enabled", "false",
	    "Serve the fleet status dashboard, a web page at /dashboard/ on "
	    "its own port, which also carries every API under the service's "
	    "name (/compute/v2.1/...) so that the page needs no CORS."),
	CONFIG_OPT_INT("dashboard", "port", "8080", 1, 65535,
	    "Port of the dashboard, with enabled."),

	CONFIG_OPT_INT("identity", "token_expiration", "3600", 60, 2592000,
	    "Lifetime of an issued token, in seconds."),
	CONFIG_OPT_PATH("identity", "key_repository",
	    "/etc/tinystack/token-keys",
	    "Directory holding the token encryption keys."),
	CONFIG_OPT_INT("identity", "max_active_keys", "3", 2, 64,
	    "Number of token keys kept when rotating: tokens encrypted with "
	    "an older key stop validating."),
	CONFIG_OPT_INT("identity", "password_hash_opslimit", "2", 1, 32,
	    "Argon2id passes per password hash (libsodium opslimit)."),
	CONFIG_OPT_INT("identity", "password_hash_memlimit_kb", "65536", 8,
	    4194304,
	    "Argon2id memory per password hash, in KiB (libsodium "
	    "memlimit). Each concurrent login uses this much."),
	CONFIG_OPT_PATH("identity", "policy_file", "",
	    "Deprecated: use [oslo_policy] policy_file. When set, this file "
	    "is read instead and must exist."),

	/* Keystone's [security_compliance] (PCI-DSS), all off by default;
	 * controller/identity/compliance.c applies them. */
	CONFIG_OPT_INT("security_compliance", "lockout_failure_attempts", "0",
	    0, 1000,
	    "Failed password authentications (logins and original-password "
	    "checks of a password change) after which a user is locked out; "
	    "0 disables the lockout (Keystone: unset)."),
	CONFIG_OPT_INT("security_compliance", "lockout_duration", "1800", 1,
	    INT32_MAX,
	    "Seconds a locked-out user stays locked after the last failed "
	    "attempt. Only with lockout_failure_attempts."),
	CONFIG_OPT_INT("security_compliance", "password_expires_days", "0", 0,
	    36500,
	    "Days a password stays valid after it is set; an expired "
	    "password only serves to change it. 0: passwords never expire "
	    "(Keystone: unset). Applies to passwords set from then on."),
	CONFIG_OPT_INT("security_compliance", "unique_last_password_count",
	    "0", 0, 32,
	    "A user changing its own password may not reuse any of its last "
	    "this many passwords (the current one included); 0 disables the "
	    "history. An administrator's reset is not checked."),
	CONFIG_OPT_INT("security_compliance", "minimum_password_age", "0", 0,
	    36500,
	    "Days a password set by its user must be kept before the user may "
	    "change it again (an administrator's reset is not limited). 0 "
	    "disables the check."),
	CONFIG_OPT_STR("security_compliance", "password_regex", "",
	    "POSIX extended regular expression a new password must match from "
	    "its first character (Python's re.match; anchor the end with $); "
	    "empty accepts any password."),
	CONFIG_OPT_STR("security_compliance", "password_regex_description", "",
	    "Human-readable description of password_regex, returned in the 400 "
	    "error of a password that does not match it."),
	CONFIG_OPT_BOOL("security_compliance",
	    "change_password_upon_first_use", "false",
	    "A password set at user creation or reset by an administrator is "
	    "expired at once: its user must change it (POST "
	    "/v3/users/{id}/password) before it can authenticate."),

	CONFIG_OPT_PATH("oslo_policy", "policy_file",
	    "/etc/tinystack/policy.yaml",
	    "Policy file overriding the built-in rules: YAML (\"rule\": "
	    "\"check\" lines, as in policy.yaml.sample, which "
	    "`tinystack-manage policy sample` prints) or JSON. A missing "
	    "file means the built-in rules; a change is picked up within a "
	    "second, and a file that does not load keeps the rules in "
	    "force (logged). Use an absolute path; empty disables the "
	    "file."),

	CONFIG_OPT_PATH("image", "store_path", "",
	    "Directory image data is stored in (created 0700); empty uses "
	    "images/ under state_path."),
	CONFIG_OPT_INT("image", "image_size_cap", "1099511627776", 1,
	    INT64_MAX,
	    "Largest image accepted, in bytes."),
	CONFIG_OPT_INT("image", "user_storage_quota", "0", 0, INT64_MAX,
	    "Bytes of image data each project may store, counting uploads "
	    "in progress; 0 means unlimited. Enforced while the data "
	    "arrives, whatever size the client declared."),

	CONFIG_OPT_PATH("backup", "store_path", "",
	    "Directory the data of volume backups is stored in (created "
	    "0700), on the controller so that a backup outlives its "
	    "volume's storage host; empty uses backups/ under state_path."),

	CONFIG_OPT_STR("compute", "default_availability_zone", "nova",
	    "Availability zone of every compute host (there are no host "
	    "aggregates)."),
	CONFIG_OPT_INT("compute", "build_timeout", "300", 1, 86400,
	    "Seconds a server may stay in BUILD before it goes to ERROR with "
	    "a fault; a lost command or a silent host never leaves it "
	    "building."),
	CONFIG_OPT_INT("compute", "action_timeout", "120", 1, 86400,
	    "Seconds a power action (stop, start, reboot, pause, suspend and "
	    "their reverses) may take before the server goes to ERROR with a "
	    "fault. Deletes are retried for ever instead."),
	CONFIG_OPT_INT("compute", "resend_interval", "5", 1, 3600,
	    "Seconds before an unanswered command is sent again (with the "
	    "same request id: agents de-duplicate); the interval doubles per "
	    "attempt up to a minute."),
	CONFIG_OPT_INT("compute", "image_capability_lifetime", "300", 30,
	    3600,
	    "Seconds an agent's image download capability (the credential "
	    "in a command that may build a guest: only its images, only from "
	    "its host) stays valid. It is checked when a download starts; "
	    "every command, re-sent ones included, carries a fresh one."),
	CONFIG_OPT_BOOL("vnc", "enabled", "true",
	    "Serve the guests' VNC consoles: the remote-consoles API and "
	    "os-getVNCConsole, noVNC's page (from Debian's novnc package) "
	    "under /vnc/ and its websocket /vnc/websockify on the compute "
	    "API's port."),
	CONFIG_OPT_STR("vnc", "novncproxy_base_url", "",
	    "URL of noVNC's page handed out with a console (Nova's option; "
	    "the token follows as ?path=<dir>/websockify?token=...); empty: "
	    "the compute API's address as the client reached it + "
	    "/vnc/vnc_lite.html. Behind a proxy, name the page as the "
	    "browser sees it: its directory is where the websocket is "
	    "asked for, and its host is the one Origin header accepted "
	    "besides the request's Host."),
	CONFIG_OPT_PATH("vnc", "novnc_path", "/usr/share/novnc",
	    "Directory of noVNC's files (Debian's novnc package)."),
	CONFIG_OPT_INT("consoleauth", "token_ttl", "600", 1, 86400,
	    "Seconds a console token stays valid; it is good for one "
	    "connection."),
	CONFIG_OPT_BOOL("compute", "allow_resize_to_same_host", "false",
	    "Whether a resize or cold migration may pick the server's own "
	    "host (Nova's option of the same name; its new flavor is claimed "
	    "there besides the old one until the resize is confirmed). "
	    "Resizes move between hosts only with the disk copied: this "
	    "release resizes on the same host only, so without it resize "
	    "and migrate answer No valid host."),
	CONFIG_OPT_INT("DEFAULT", "shelved_offload_time", "0", -1, INT32_MAX,
	    "What a shelve does after the snapshot (Nova's option): 0 "
	    "offloads the server at once (its guest and disk deleted on the "
	    "host, its claim there released: SHELVED_OFFLOADED); a negative "
	    "value keeps it SHELVED on its host until shelveOffload; a "
	    "positive one keeps it SHELVED that many seconds, then the "
	    "reconciler offloads it (Nova's periodic offload; its "
	    "scan looks at up to 256 SHELVED servers a second)."),
	CONFIG_OPT_INT("compute", "console_timeout", "10", 1, 300,
	    "Seconds to wait for a host to return a console log or its "
	    "uptime."),
	CONFIG_OPT_INT("compute", "quota_instances", "10", -1, INT32_MAX,
	    "Default number of servers per project; -1 is unlimited."),
	CONFIG_OPT_INT("compute", "quota_cores", "20", -1, INT32_MAX,
	    "Default number of vCPUs per project; -1 is unlimited."),
	CONFIG_OPT_INT("compute", "quota_ram", "51200", -1, INT32_MAX,
	    "Default MiB of RAM per project; -1 is unlimited."),
	CONFIG_OPT_INT("compute", "quota_key_pairs", "100", -1, INT32_MAX,
	    "Default number of key pairs per user; -1 is unlimited."),
	CONFIG_OPT_INT("compute", "quota_metadata_items", "128", -1, 128,
	    "Default number of metadata items per server; -1 is unlimited "
	    "(up to 128, what the database keeps)."),

	CONFIG_OPT_FLOAT("scheduler", "cpu_allocation_ratio", "16.0",
	    "Virtual CPUs the scheduler may place per physical CPU."),
	CONFIG_OPT_FLOAT("scheduler", "ram_allocation_ratio", "1.5",
	    "RAM the scheduler may place per MiB of host memory."),
	CONFIG_OPT_FLOAT("scheduler", "disk_allocation_ratio", "1.0",
	    "Disk the scheduler may place per GiB of the host's instances "
	    "file system."),
	CONFIG_OPT_INT("scheduler", "reserved_host_memory_mb", "512", 0,
	    INT32_MAX,
	    "MiB of each host's memory kept for the host itself."),
	CONFIG_OPT_INT("scheduler", "reserved_host_disk_gb", "0", 0,
	    INT32_MAX,
	    "GiB of each host's disk kept for the host itself."),
	CONFIG_OPT_ENUM("scheduler", "weigher", "spread", "spread|stack",
	    "Where servers go among the hosts that fit: spread puts each on "
	    "the host with the most free RAM, stack fills the fullest host "
	    "first."),

	CONFIG_OPT_STR("network", "base_mac", "fa:16:3e:00:00:00",
	    "Base of the MAC addresses given to ports: the first 3 octets "
	    "are kept, and the 4th too when it is not 00; the rest is "
	    "random."),
	CONFIG_OPT_INT("network", "mac_generation_retries", "16", 1, 1000,
	    "Random MAC addresses tried before a port create fails (503) "
	    "because every one was taken."),
	CONFIG_OPT_STR("network", "tenant_network_types", "vxlan",
	    "Comma-separated network types given, in order of preference, "
	    "to networks created without provider attributes: vxlan, vlan "
	    "(from network_vlan_ranges) or flat (never: a flat network "
	    "needs a physical network named by an admin)."),
	CONFIG_OPT_STR("network", "vni_ranges", "1:1000",
	    "Comma-separated <first>:<last> VXLAN VNI ranges (1 to "
	    "16777215) given to tenant networks. An admin may ask for any "
	    "valid VNI, inside the ranges or not."),
	CONFIG_OPT_STR("network", "network_vlan_ranges", "",
	    "Comma-separated <physnet>:<first>:<last> VLAN ranges given "
	    "to tenant networks, or <physnet> alone for a physical network "
	    "open to admin-chosen VLANs only (ids 1 to 4094)."),
	CONFIG_OPT_STR("network", "flat_networks", "*",
	    "Comma-separated physical networks on which an admin may "
	    "create flat networks; * allows any name, empty allows none."),
	CONFIG_OPT_INT("network", "global_physnet_mtu", "1500", 68, 65535,
	    "MTU of the physical networks; a VXLAN network gets 50 bytes "
	    "less for the encapsulation."),
	CONFIG_OPT_INT("network", "max_dns_nameservers", "5", 0, 64,
	    "Most DNS name servers one subnet may list."),
	CONFIG_OPT_INT("network", "max_subnet_host_routes", "20", 0, 256,
	    "Most host routes one subnet may list."),
	CONFIG_OPT_INT("network", "quota_network", "100", -1, INT32_MAX,
	    "Default number of networks per project; -1 is unlimited."),
	CONFIG_OPT_INT("network", "quota_subnet", "100", -1, INT32_MAX,
	    "Default number of subnets per project; -1 is unlimited."),
	CONFIG_OPT_INT("network", "quota_port", "500", -1, INT32_MAX,
	    "Default number of ports per project; -1 is unlimited."),
	CONFIG_OPT_INT("network", "quota_security_group", "10", -1,
	    INT32_MAX, "Default number of security groups per project; -1 "
	    "is unlimited."),
	CONFIG_OPT_INT("network", "quota_security_group_rule", "100", -1,
	    INT32_MAX, "Default number of security group rules per project; "
	    "-1 is unlimited."),
	CONFIG_OPT_INT("network", "quota_router", "10", -1, INT32_MAX,
	    "Default number of routers per project; -1 is unlimited."),
	CONFIG_OPT_INT("network", "quota_floatingip", "50", -1, INT32_MAX,
	    "Default number of floating IPs per project; -1 is unlimited."),
	CONFIG_OPT_BOOL("network", "auto_assign_floating_ip", "false",
	    "Give every server created through the Compute API a floating "
	    "IP from default_floating_pool on its first port, as "
	    "nova-network did; it is deleted with the server. A server the "
	    "pool cannot serve (no such network, no free address, quota, no "
	    "router from the port's subnet to the pool) is created without "
	    "one and a warning is logged."),
	CONFIG_OPT_STR("network", "default_floating_pool", "public",
	    "Name of the external network auto_assign_floating_ip takes "
	    "floating IPs from."),

	CONFIG_OPT_INT("volume", "quota_volumes", "10", -1, INT32_MAX,
	    "Default number of volumes per project; -1 is unlimited."),
	CONFIG_OPT_INT("volume", "quota_snapshots", "10", -1, INT32_MAX,
	    "Default number of volume snapshots per project; -1 is "
	    "unlimited."),
	CONFIG_OPT_INT("volume", "quota_gigabytes", "1000", -1, INT32_MAX,
	    "Default total size in GiB of a project's volumes and "
	    "snapshots; -1 is unlimited."),
	CONFIG_OPT_INT("volume", "quota_backups", "10", -1, INT32_MAX,
	    "Default number of volume backups per project; -1 is "
	    "unlimited."),
	CONFIG_OPT_INT("volume", "quota_backup_gigabytes", "1000", -1,
	    INT32_MAX, "Default total size in GiB of a project's backups; "
	    "-1 is unlimited."),
	CONFIG_OPT_INT("volume", "per_volume_size_limit", "-1", -1,
	    INT32_MAX, "Default largest size in GiB of one volume; -1 is "
	    "unlimited."),
	CONFIG_OPT_INT("volume", "quota_groups", "10", -1, INT32_MAX,
	    "Default number of volume groups per project; -1 is unlimited."),

	OPTS_COMMON_METRICS,

	CONFIG_OPT_END
};

const struct config_opt opts_agent[] = {
	OPTS_COMMON_LOGGING,
	CONFIG_OPT_PATH("DEFAULT", "state_path", "/var/lib/tinystack/agent",
	    "Directory for the agent's persistent state."),
	CONFIG_OPT_PATH("DEFAULT", "pid_file", "/run/tinystack/agent.pid",
	    "File the agent writes its process id to; empty writes none."),
	OPTS_COMMON_HOST,
	CONFIG_OPT_INT("DEFAULT", "report_interval", "10", 1, 3600,
	    "Seconds between state reports until the controller sets its "
	    "own interval."),
	CONFIG_OPT_PATH("DEFAULT", "instances_path",
	    "/var/lib/tinystack/instances",
	    "Directory holding instance disks and console logs."),

	CONFIG_OPT_STR("libvirt", "connection_uri", "qemu:///system",
	    "libvirt connection URI."),
	CONFIG_OPT_ENUM("libvirt", "virt_type", "qemu", "kvm|qemu",
	    "Domain type: kvm needs hardware virtualization, qemu emulates "
	    "(TCG)."),
	CONFIG_OPT_ENUM("libvirt", "orphan_action", "log", "log|destroy",
	    "What to do with a tinystack-named domain the controller does not "
	    "know: log it, or destroy it."),
	CONFIG_OPT_ENUM("libvirt", "images_type", "qcow2", "qcow2|raw",
	    "Root and ephemeral disks of qemu/kvm guests: qcow2 overlays on "
	    "the cached base image (copy on write), or raw copies of it."),
	CONFIG_OPT_STR("libvirt", "kernel_cmdline",
	    "root=/dev/vda console=ttyS0",
	    "Kernel command line of a guest booted directly from kernel and "
	    "ramdisk images (kernel_id/ramdisk_id image properties) when the "
	    "instance has none; printable ASCII, at most 2047 characters."),

	CONFIG_OPT_STR("image", "api_url", "",
	    "Base URL of the controller's image API (e.g. "
	    "https://controller:9292) from which images are downloaded into "
	    "the cache; required for qemu and kvm guests. Use https when the "
	    "controller is on another host: plain http sends the agent's "
	    "token in the clear (the agent warns at start)."),
	CONFIG_OPT_PATH("image", "ca_file", "",
	    "PEM file of the CA certificates that verify the image API's "
	    "https certificate (chain and host name); empty: the system's CA "
	    "store."),
	CONFIG_OPT_PATH("image", "cache_dir", "",
	    "Directory of the verified base image cache; empty: "
	    "<instances_path>/_base."),
	CONFIG_OPT_INT("image", "cache_grace", "86400", 1, 31536000,
	    "Seconds a cached image no instance uses is kept before it is "
	    "pruned."),

	CONFIG_OPT_BOOL("vnc", "enabled", "true",
	    "Give every qemu/kvm guest a VNC console on an automatic port."),
	CONFIG_OPT_STR("vnc", "server_listen", "127.0.0.1",
	    "IP address (literal) the guests' VNC servers listen on."),
	CONFIG_OPT_STR("vnc", "server_proxyclient_address", "127.0.0.1",
	    "Address of this host the controller's VNC proxy connects to "
	    "for the guests' VNC servers (reported with each guest); it "
	    "must reach server_listen."),

	CONFIG_OPT_STR("bus", "controller", "tcp://127.0.0.1:5670",
	    "ZeroMQ endpoint of the controller."),
	CONFIG_OPT_BOOL("bus", "curve", "true",
	    "Encrypt and authenticate the bus with CurveZMQ; must match the "
	    "controller."),
	CONFIG_OPT_PATH("bus", "keys_dir", "/etc/tinystack/keys",
	    "Directory holding the agent's CurveZMQ key pair and the "
	    "controller's public key."),
	CONFIG_OPT_INT("bus", "reconnect_ivl_ms", "100", 1, 60000,
	    "First delay before reconnecting to the controller, in "
	    "milliseconds."),
	CONFIG_OPT_INT("bus", "reconnect_max_ms", "5000", 0, 600000,
	    "Longest delay between reconnection attempts, in milliseconds "
	    "(the delay doubles up to it); 0 keeps the first delay."),
	CONFIG_OPT_INT("bus", "max_msg_size", "4194304", 4 * KIB, GIB,
	    "Largest bus message accepted, in bytes; larger ones are "
	    "dropped (a heartbeat listing 4096 guests is about 0.5 MiB)."),

	CONFIG_OPT_INT("compute", "workers", "4", 1, 256,
	    "Threads executing the controller's guest commands; commands "
	    "for one instance always run one at a time."),
	CONFIG_OPT_INT("compute", "shutdown_timeout", "60", 1, 3600,
	    "Seconds a guest may take to shut down gracefully (stop, soft "
	    "reboot) before it is powered off."),

	CONFIG_OPT_STR("network", "local_ip", "",
	    "This host's underlay address (IPv4 or IPv6 literal): the local "
	    "end of its VXLAN tunnels; empty: no VXLAN networks here."),
	CONFIG_OPT_STR("network", "physical_interface_mappings", "",
	    "Comma-separated physnet:interface pairs: the interface a flat "
	    "network is bridged to and VLAN networks are tagged on."),
	CONFIG_OPT_STR("network", "physical_bridge_mappings", "",
	    "Comma-separated physnet:bridge pairs: an existing bridge that "
	    "flat networks of the physnet use as is (takes precedence over "
	    "physical_interface_mappings)."),
	CONFIG_OPT_PATH("network", "dhcp_state_dir", "",
	    "Directory of the dnsmasq instances' files (one subdirectory per "
	    "network); empty: <state_path>/dhcp."),
	CONFIG_OPT_INT("network", "dhcp_lease_time", "86400", 120, 31536000,
	    "DHCP lease time handed to guests, in seconds."),

	CONFIG_OPT_BOOL("metadata", "enabled", "true",
	    "Serve the instance metadata service at http://169.254.169.254/ "
	    "on every network bridge of this host (with the network "
	    "dataplane), and hand guests the DHCP route to it."),
	CONFIG_OPT_INT("metadata", "port", "80", 1, 65535,
	    "TCP port of the metadata service on 169.254.169.254 (guests "
	    "ask port 80)."),

	CONFIG_OPT_BOOL("storage", "enabled", "false",
	    "Serve block storage from this host: volumes and snapshots on "
	    "the backend below, exported over iSCSI by a tgtd the agent "
	    "runs and supervises."),
	CONFIG_OPT_ENUM("storage", "backend", "file", "file|lvm",
	    "Where volumes live: sparse files in file_dir, or logical "
	    "volumes in lvm_vg."),
	CONFIG_OPT_PATH("storage", "file_dir", "",
	    "Directory of the file backend's volumes and snapshots; empty: "
	    "<state_path>/volumes."),
	CONFIG_OPT_STR("storage", "lvm_vg", "tinystack-volumes",
	    "Volume group of the LVM backend."),
	CONFIG_OPT_BOOL("storage", "lvm_activation", "true",
	    "Activate logical volumes (needs device-mapper). false runs LVM "
	    "in metadata-only mode (--config global{activation=0}, lvcreate "
	    "-an -Zn): volumes exist in the metadata only and cannot be "
	    "filled, wiped or exported; for hosts without device-mapper."),
	CONFIG_OPT_STR("storage", "iscsi_portal", "127.0.0.1:3260",
	    "address:port the agent's tgtd serves iSCSI on (Cinder's "
	    "target_ip_address:target_port)."),
	CONFIG_OPT_INT("storage", "tgt_control_port", "3260", 1, 32767,
	    "tgtd's management channel number (tgtd -C / tgtadm -C), so the "
	    "agent's tgtd never shares one with another tgtd."),

	OPTS_COMMON_METRICS,

	CONFIG_OPT_END
};
