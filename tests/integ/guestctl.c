/*
 * guestctl: the real-guest scenario of tests/integ/test_guest_libvirt.sh,
 * driving the agent's guest modules the way the driver does for
 * virt_type=qemu, against a real libvirtd:
 *
 *   imgcache (HTTP download, checksum, format check of the disk image
 *   and of the kernel and ramdisk images, as for an AMI) -> disk (qcow2
 *   overlay, ephemeral, swap) -> configdrive -> domxml -> define -> start
 *   -> console markers -> console tail -> VNC on loopback -> soft reboot
 *   (ACPI) -> shutdown + start -> managed save + restore -> destroy +
 *   undefine -> instance directory and image cache cleaned up.
 *
 * Prints one "ok N - ..." line per step; the first failure prints
 * "not ok - ..." and the program cleans up (domain destroyed and
 * undefined with its saved state, instance directory removed) before
 * exiting 1. The guest is tests/e2e/mkguest.sh's, whose serial console
 * lines start with "TINYSTACK-GUEST-".
 *
 * Usage: guestctl --dir DIR --image-url URL
 *          --image-id ID --image-sha512 HEX --image-format FMT [--image-size N]
 *          --kernel-id ID --kernel-sha512 HEX --ramdisk-id ID
 *          --ramdisk-sha512 HEX --uuid UUID --name NAME
 *          [--bridge BR --mac MAC] [--uri URI] [--timeout SECONDS]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "err.h"
#include "image/imgcache.h"
#include "log.h"
#include "storage/disk.h"
#include "virt/configdrive.h"
#include "virt/console.h"
#include "virt/domxml.h"

#define MIB		(1024ull * 1024)
#define MARK		"TINYSTACK-GUEST-"
#define USERDATA_MARK	"TINYSTACK-USERDATA-OK"
#define TAIL_LINES	400
#define POLL_MS		100

static struct {
	const char	*dir, *url, *image_id, *sha, *fmt;
	const char	*kernel_id, *kernel_sha, *ramdisk_id, *ramdisk_sha;
	const char	*uuid, *name, *bridge, *mac, *uri;
	uint64_t	 image_size;
	int		 timeout;
} o = { .uri = "qemu:///system", .timeout = 60 };

static int		 nok;
static virConnectPtr	 conn;
static virDomainPtr	 dom;
static char		 inst_root[1024], console_path[DISK_PATH_MAX];

static void
quiet(void *arg, virErrorPtr e)
{
}

static void
cleanup(void)
{
	if (dom != NULL) {
		virDomainDestroy(dom);
		virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
		    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
		    VIR_DOMAIN_UNDEFINE_NVRAM);
		virDomainFree(dom);
		dom = NULL;
	}
	if (o.uuid != NULL && inst_root[0] != '\0')
		disk_instance_dir_remove(inst_root, o.uuid);
	if (conn != NULL)
		virConnectClose(conn);
	conn = NULL;
}

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	printf("not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (console_path[0] != '\0') {
		char *t;
		size_t n;

		if (console_tail(console_path, 30, 0, CONSOLE_SANITIZE |
		    CONSOLE_MISSING_OK, &t, &n) == 0) {
			printf("---- last console lines\n%s----\n", t);
			free(t);
		}
	}
	cleanup();
	exit(1);
}

#define CHECK(cond, ...) do { if (!(cond)) die(__VA_ARGS__); } while (0)
#define OK(...) do { printf("ok %d - ", ++nok); printf(__VA_ARGS__); \
	printf("\n"); fflush(stdout); } while (0)

static const char *
lverr(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Last line of text starting with prefix and containing every string of
 * the NULL-terminated want list and none of the avoid list, copied into
 * out. */
static bool
find_line(const char *text, const char *prefix, const char *const *want,
    const char *const *avoid, char *out, size_t len)
{
	bool found = false;

	for (const char *l = text; *l; ) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char line[512];
		bool good;

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		good = strncmp(line, prefix, strlen(prefix)) == 0;
		for (int i = 0; good && want && want[i]; i++)
			good = strstr(line, want[i]) != NULL;
		for (int i = 0; good && avoid && avoid[i]; i++)
			good = strstr(line, avoid[i]) == NULL;
		if (good) {
			snprintf(out, len, "%s", line);
			found = true;
		}
		l = e ? e + 1 : l + n;
	}
	return found;
}

/* Polls the console log (through console_tail) until a line matches;
 * dies after the timeout. Returns the seconds it took. */
static double
wait_line(const char *what, const char *prefix, const char *const *want,
    const char *const *avoid, char *out, size_t len)
{
	double t0 = now_s();

	while (now_s() - t0 < o.timeout) {
		char *t;
		size_t n;
		bool hit;

		CHECK(console_tail(console_path, TAIL_LINES, 256 * 1024,
		    CONSOLE_SANITIZE | CONSOLE_MISSING_OK, &t, &n) == 0,
		    "console_tail: %s", err_msg());
		hit = find_line(t, prefix, want, avoid, out, len);
		free(t);
		if (hit)
			return now_s() - t0;
		sleep_ms(POLL_MS);
	}
	die("no console line '%s' (%s) within %d s", prefix, what, o.timeout);
}

/* Value of "key=" in a marker line (up to the next space). */
static void
field(const char *line, const char *key, char *out, size_t len)
{
	char k[32];
	const char *p;

	snprintf(k, sizeof(k), " %s=", key);
	out[0] = '\0';
	if ((p = strstr(line, k)) != NULL) {
		p += strlen(k);
		snprintf(out, len, "%.*s", (int)strcspn(p, " "), p);
	}
}

static int
dom_state(void)
{
	int st = -1, reason;

	CHECK(virDomainGetState(dom, &st, &reason, 0) == 0, "state: %s",
	    lverr());
	return st;
}

/* ------------------------------------------------------------ steps */

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, NULL, 'd' }, { "kernel-id", 1, NULL, 'k' },
		{ "kernel-sha512", 1, NULL, 'K' }, { "ramdisk-id", 1, NULL, 'r' },
		{ "ramdisk-sha512", 1, NULL, 'R' }, { "image-url", 1, NULL, 'u' },
		{ "image-id", 1, NULL, 'I' }, { "image-sha512", 1, NULL, 'S' },
		{ "image-format", 1, NULL, 'F' }, { "image-size", 1, NULL, 'z' },
		{ "uuid", 1, NULL, 'U' }, { "name", 1, NULL, 'n' },
		{ "bridge", 1, NULL, 'b' }, { "mac", 1, NULL, 'm' },
		{ "uri", 1, NULL, 'c' }, { "timeout", 1, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dir = optarg; break;
		case 'k': o.kernel_id = optarg; break;
		case 'K': o.kernel_sha = optarg; break;
		case 'r': o.ramdisk_id = optarg; break;
		case 'R': o.ramdisk_sha = optarg; break;
		case 'u': o.url = optarg; break;
		case 'I': o.image_id = optarg; break;
		case 'S': o.sha = optarg; break;
		case 'F': o.fmt = optarg; break;
		case 'z': o.image_size = strtoull(optarg, NULL, 10); break;
		case 'U': o.uuid = optarg; break;
		case 'n': o.name = optarg; break;
		case 'b': o.bridge = optarg; break;
		case 'm': o.mac = optarg; break;
		case 'c': o.uri = optarg; break;
		case 't': o.timeout = atoi(optarg); break;
		default: exit(2);
		}
	}
	if (!o.dir || !o.kernel_id || !o.kernel_sha || !o.ramdisk_id ||
	    !o.ramdisk_sha || !o.url || !o.image_id ||
	    !o.sha || !o.fmt || !o.uuid || !o.name || o.timeout <= 0 ||
	    (o.bridge && !o.mac)) {
		fprintf(stderr, "guestctl: missing arguments (see the header "
		    "of tests/integ/guestctl.c)\n");
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	char cache_dir[1024], root[DISK_PATH_MAX], eph[DISK_PATH_MAX],
	    swap[DISK_PATH_MAX], cfg[DISK_PATH_MAX], line[512], boot1[32],
	    boot2[32], boot3[32], tapname[16], *xml, *t, *md;
	struct imgcache_http *http;
	struct imgcache *cache;
	struct imgcache_base base, kernel, ramdisk;
	struct domxml_meta meta;
	struct stat st;
	size_t n;
	double secs;

	parse_args(argc, argv);
	log_init("guestctl", LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	virSetErrorFunc(NULL, quiet);
	snprintf(inst_root, sizeof(inst_root), "%s/instances", o.dir);
	snprintf(cache_dir, sizeof(cache_dir), "%s/instances/_base", o.dir);
	CHECK(mkdir(inst_root, 0755) == 0 || errno == EEXIST, "mkdir %s",
	    inst_root);

	/* 1. the image, through the controller-style image API */
	CHECK((http = imgcache_http_new(o.url, NULL, 10000)) != NULL &&
	    imgcache_http_set_token(http, "guestctl-token") == 0,
	    "image API client: %s", err_msg());
	{
		struct imgcache_opts co = { .dir = cache_dir,
		    .source = imgcache_http_source(http), .grace_sec = 1 };
		struct imgcache_image img = { .id = o.image_id,
		    .disk_format = o.fmt, .sha512 = o.sha,
		    .size = o.image_size };

		CHECK((cache = imgcache_new(&co)) != NULL, "imgcache: %s",
		    err_msg());
		CHECK(imgcache_get(cache, &img, o.uuid, &base) == 0,
		    "imgcache_get: %s", err_msg());
		OK("image %s downloaded and verified: %s, %" PRIu64 " bytes, "
		    "virtual %" PRIu64, o.image_id, base.format, base.size,
		    base.virtual_size);
		img = (struct imgcache_image){ .id = o.kernel_id,
		    .disk_format = "aki", .sha512 = o.kernel_sha };
		CHECK(imgcache_get(cache, &img, o.uuid, &kernel) == 0,
		    "kernel image: %s", err_msg());
		img = (struct imgcache_image){ .id = o.ramdisk_id,
		    .disk_format = "ari", .sha512 = o.ramdisk_sha };
		CHECK(imgcache_get(cache, &img, o.uuid, &ramdisk) == 0,
		    "ramdisk image: %s", err_msg());
		CHECK(imgcache_refs(cache, o.image_id) == 1 &&
		    imgcache_refs(cache, o.kernel_id) == 1, "references");
	}
	OK("kernel (aki, %" PRIu64 " bytes) and ramdisk (ari) images cached",
	    kernel.size);

	/* 2. disks and config drive */
	CHECK(disk_instance_dir_create(inst_root, o.uuid) == 0 &&
	    disk_instance_path(root, sizeof(root), inst_root, o.uuid,
	    DISK_ROOT_NAME) == 0 &&
	    disk_instance_path(eph, sizeof(eph), inst_root, o.uuid,
	    DISK_EPHEMERAL_NAME) == 0 &&
	    disk_instance_path(swap, sizeof(swap), inst_root, o.uuid,
	    DISK_SWAP_NAME) == 0 &&
	    disk_instance_path(cfg, sizeof(cfg), inst_root, o.uuid,
	    DISK_CONFIG_NAME) == 0 &&
	    disk_instance_path(console_path, sizeof(console_path), inst_root,
	    o.uuid, DISK_CONSOLE_NAME) == 0, "instance dir: %s", err_msg());
	CHECK(disk_root_create(root, base.path, base.format, base.virtual_size,
	    64 * MIB, DISK_ROOT_OVERLAY) == 0, "root disk: %s", err_msg());
	CHECK(disk_blank_create(eph, "qcow2", 32 * MIB) == 0 &&
	    disk_blank_create(swap, "raw", 16 * MIB) == 0, "blank disks: %s",
	    err_msg());
	{
		static const char ud[] = USERDATA_MARK "\n#!/bin/sh\necho hi\n";
		struct configdrive_spec cs = { .uuid = o.uuid, .name = o.name,
		    .key_name = "k1", .key_data = "ssh-ed25519 AAAAC3Nza test",
		    .user_data = ud, .user_data_len = sizeof(ud) - 1 };

		CHECK(configdrive_build(&cs, cfg) == 0, "config drive: %s",
		    err_msg());
	}
	OK("root overlay (64 MiB on the %s base), ephemeral, swap and config "
	    "drive made", base.format);

	/* 3. domain XML, define */
	{
		struct domxml_disk disks[] = {
			{ .path = root, .format = "qcow2", .cache = "none" },
			{ .path = eph, .format = "qcow2", .cache = "none" },
			{ .path = swap, .format = "raw", .cache = "none" },
			{ .path = cfg, .format = "raw",
			  .device = DOMXML_DEVICE_CDROM, .bus = DOMXML_BUS_IDE },
		};
		struct domxml_nic nic = { .mac = o.mac, .bridge = o.bridge };
		struct domxml_spec ds = {
			.uuid = o.uuid, .name = o.name, .virt = DOMXML_VIRT_QEMU,
			.vcpus = 1, .memory_mb = 256,
			.kernel = kernel.path, .initrd = ramdisk.path,
			.cmdline = "console=ttyS0 quiet panic=-1",
			.disks = disks, .ndisks = 4,
			.nics = &nic, .nnics = o.bridge ? 1 : 0,
			.console_log = console_path, .vnc_listen = "127.0.0.1",
			.generation = 3, .project_id = "integ-project",
			.user_id = "integ-user", .flavor_name = "m1.integ",
			.image_id = o.image_id, .kernel_id = o.kernel_id,
			.ramdisk_id = o.ramdisk_id, .display_name = o.name,
		};

		snprintf(tapname, sizeof(tapname), "tst-%.8s", o.uuid);
		nic.target = tapname;
		CHECK((xml = domxml_build(&ds)) != NULL, "domxml: %s",
		    err_msg());
	}
	CHECK((conn = virConnectOpen(o.uri)) != NULL, "connect %s: %s", o.uri,
	    lverr());
	dom = virDomainDefineXML(conn, xml);
	free(xml);
	CHECK(dom != NULL, "define: %s", lverr());
	md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, DOMXML_NS,
	    0);
	CHECK(md != NULL && domxml_meta_parse(md, &meta) == 0 &&
	    meta.generation == 3 && strcmp(meta.image_id, o.image_id) == 0 &&
	    strcmp(meta.kernel_id, o.kernel_id) == 0 &&
	    strcmp(meta.ramdisk_id, o.ramdisk_id) == 0,
	    "owner metadata not read back: %s", md ? md : lverr());
	free(md);
	OK("domain %s defined; owner metadata reads back (generation %" PRIu64
	    ")", o.name, meta.generation);

	/* 4. start: boot marker, disks, config drive, NIC */
	secs = now_s();
	CHECK(virDomainCreate(dom) == 0, "start: %s", lverr());
	secs = now_s() - secs;
	wait_line("boot", MARK "UP ", NULL, NULL, line, sizeof(line));
	field(line, "bootid", boot1, sizeof(boot1));
	CHECK(boot1[0] != '\0', "no bootid in '%s'", line);
	{
		char failed[128];

		field(line, "failed_modules", failed, sizeof(failed));
		CHECK(failed[0] == '\0', "guest modules failed: %s", failed);
	}
	OK("guest up (virDomainCreate %.2f s): %s", secs, line);
	{
		const char *vda[] = { "vda ", "head=TSBASEIMAGE", NULL };
		const char *vdb[] = { "vdb ", "sectors=65536 ", "ro=0", NULL };
		const char *vdc[] = { "vdc ", "sectors=32768 ", "ro=0", NULL };
		const char *sr0[] = { "sr0 ", "ro=1", NULL };
		const char *cd[] = { o.uuid, NULL };
		const char *ud[] = { USERDATA_MARK, NULL };

		wait_line("root disk", MARK "DISK ", vda, NULL, line,
		    sizeof(line));
		CHECK(strstr(line, "sectors=131072 ") != NULL,
		    "root disk is not 64 MiB: %s", line);
		wait_line("ephemeral", MARK "DISK ", vdb, NULL, line,
		    sizeof(line));
		wait_line("swap", MARK "DISK ", vdc, NULL, line, sizeof(line));
		wait_line("config drive", MARK "DISK ", sr0, NULL, line,
		    sizeof(line));
		OK("guest sees vda (base image data through the overlay, 64 "
		    "MiB), vdb, vdc and the read-only sr0");
		wait_line("config drive", MARK "CONFIGDRIVE ", cd, NULL, line,
		    sizeof(line));
		wait_line("user data", MARK "USERDATA ", ud, NULL, line,
		    sizeof(line));
		OK("guest mounted the config drive: meta_data.json uuid and "
		    "user_data read");
	}
	if (o.bridge) {
		const char *want[] = { o.mac, NULL };

		wait_line("nic", MARK "NIC ", want, NULL, line, sizeof(line));
		OK("guest NIC on bridge %s: %s", o.bridge, line);
	}

	/* 5. console tail */
	{
		const char *w[] = { NULL };
		char *all;
		size_t alen, nl = 0;

		wait_line("ticks", MARK "TICK n=2 ", w, NULL, line, sizeof(line));
		CHECK(console_tail(console_path, 3, 0, 0, &t, &n) == 0,
		    "console_tail: %s", err_msg());
		for (size_t i = 0; i < n; i++)
			nl += t[i] == '\n';
		CHECK(nl == 3 && n >= 2 && t[n - 1] == '\n',
		    "tail of 3 lines returned %zu newlines: '%s'", nl, t);
		/* the same bytes as the end of the whole file */
		CHECK(console_tail(console_path, 0, CONSOLE_MAX_BYTES_LIMIT, 0,
		    &all, &alen) == 0 && alen >= n &&
		    memcmp(all + alen - n, t, n) == 0,
		    "tail differs from the end of the log");
		free(all);
		free(t);
		CHECK(console_tail(console_path, 0, 100, CONSOLE_SANITIZE, &t,
		    &n) == 0 && n <= 100 && n > 0 && strchr(t, '\r') == NULL,
		    "byte-capped tail: %zu bytes", n);
		free(t);
		OK("console tail: last 3 lines match the log's end; 100-byte cap "
		    "holds");
	}

	/* 6. VNC bound to loopback on an automatic port */
	{
		char *live = virDomainGetXMLDesc(dom, 0);
		const char *g = live ? strstr(live, "<graphics type='vnc' port='")
		    : NULL;
		int port = g ? atoi(g + 27) : -1;

		CHECK(port >= 5900 && strstr(g, "listen='127.0.0.1'") != NULL,
		    "VNC not on 127.0.0.1 with an automatic port");
		free(live);
		OK("VNC listening on 127.0.0.1:%d", port);
	}

	/* 7. soft reboot: ACPI power button, guest powers off, libvirt
	 * restarts it in the same qemu process */
	{
		const char *avoid[] = { boot1, NULL };
		const char *pb[] = { boot1, NULL };

		secs = now_s();
		CHECK(virDomainReboot(dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN) == 0,
		    "reboot: %s", lverr());
		wait_line("power button", MARK "POWERBTN ", pb, NULL, line,
		    sizeof(line));
		wait_line("second boot", MARK "UP ", NULL, avoid, line,
		    sizeof(line));
		field(line, "bootid", boot2, sizeof(boot2));
		OK("soft reboot: guest saw the power button, second boot marker "
		    "(bootid %s -> %s) after %.1f s", boot1, boot2, now_s() - secs);
	}

	/* 8. shutdown (ACPI) and start from the persistent definition */
	{
		const char *avoid[] = { boot1, boot2, NULL };

		double t0 = now_s(), sent = 0;

		/* As Nova does: the request is sent again every few seconds
		 * (a guest may miss an ACPI event while it boots). */
		while (dom_state() != VIR_DOMAIN_SHUTOFF) {
			CHECK(now_s() - t0 < o.timeout, "domain not shut off "
			    "within %d s", o.timeout);
			if (now_s() - sent >= 5) {
				CHECK(virDomainShutdownFlags(dom,
				    VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) == 0 ||
				    dom_state() == VIR_DOMAIN_SHUTOFF,
				    "shutdown: %s", lverr());
				sent = now_s();
			}
			sleep_ms(POLL_MS);
		}
		CHECK(virDomainCreate(dom) == 0, "start again: %s", lverr());
		wait_line("third boot", MARK "UP ", NULL, avoid, line,
		    sizeof(line));
		field(line, "bootid", boot3, sizeof(boot3));
		OK("graceful shutdown to shutoff, started again (bootid %s)",
		    boot3);
	}

	/* 9. managed save (suspend) and restore: the same boot goes on */
	{
		const char *same[] = { boot3, NULL };
		char n1[32], n2[32];

		/* a few seconds into the boot, so the count has moved */
		wait_line("ticks", MARK "TICK n=2 ", same, NULL, line,
		    sizeof(line));
		CHECK(virDomainManagedSave(dom, 0) == 0, "managed save: %s",
		    lverr());
		wait_line("ticks", MARK "TICK ", same, NULL, line, sizeof(line));
		field(line, "n", n1, sizeof(n1));
		CHECK(dom_state() == VIR_DOMAIN_SHUTOFF &&
		    virDomainHasManagedSaveImage(dom, 0) == 1,
		    "not suspended after managed save");
		OK("managed save: domain shut off with a saved image (last tick "
		    "n=%s)", n1);
		CHECK(virDomainCreate(dom) == 0, "restore: %s", lverr());
		/* the log restarts with the qemu process; a tick of the same
		 * boot with a later count proves the state came back */
		for (double t0 = now_s(); ; sleep_ms(POLL_MS)) {
			CHECK(now_s() - t0 < o.timeout, "no tick after restore");
			if (console_tail(console_path, TAIL_LINES, 0,
			    CONSOLE_SANITIZE | CONSOLE_MISSING_OK, &t, &n) != 0)
				die("console_tail: %s", err_msg());
			if (find_line(t, MARK "TICK ", same, NULL, line,
			    sizeof(line))) {
				field(line, "n", n2, sizeof(n2));
				if (atoi(n2) > atoi(n1)) {
					const char *old[] = { boot1, boot2, boot3,
					    NULL };

					CHECK(!find_line(t, MARK "UP ", NULL, old,
					    line, sizeof(line)),
					    "the guest booted again on restore");
					free(t);
					break;
				}
			}
			free(t);
		}
		CHECK(dom_state() == VIR_DOMAIN_RUNNING &&
		    virDomainHasManagedSaveImage(dom, 0) == 0,
		    "not running after restore");
		OK("restore: same boot %s continues (tick n=%s after n=%s)", boot3,
		    n2, n1);
	}

	/* 10. delete: destroy, undefine with saved state, files, cache */
	CHECK(virDomainDestroy(dom) == 0, "destroy: %s", lverr());
	CHECK(virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
	    VIR_DOMAIN_UNDEFINE_NVRAM) == 0, "undefine: %s", lverr());
	virDomainFree(dom);
	dom = virDomainLookupByUUIDString(conn, o.uuid);
	CHECK(dom == NULL && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN,
	    "domain still known to libvirt");
	CHECK(disk_instance_dir_remove(inst_root, o.uuid) == 0,
	    "instance dir: %s", err_msg());
	snprintf(root, sizeof(root), "%s/%s", inst_root, o.uuid);
	CHECK(lstat(root, &st) == -1 && errno == ENOENT,
	    "instance directory left behind");
	CHECK(imgcache_release(cache, o.image_id, o.uuid) == 0 &&
	    imgcache_refs(cache, o.image_id) == 0, "image reference");
	imgcache_release_owner(cache, o.uuid);
	CHECK(imgcache_refs(cache, o.kernel_id) == 0 &&
	    imgcache_refs(cache, o.ramdisk_id) == 0, "kernel references");
	sleep_ms(1100);	/* the cache's grace period is 1 s here */
	CHECK(imgcache_prune(cache) == 3, "unused bases not pruned: %s",
	    err_msg());
	CHECK(lstat(base.path, &st) == -1 && errno == ENOENT &&
	    lstat(kernel.path, &st) == -1 && lstat(ramdisk.path, &st) == -1,
	    "base images left behind");
	OK("destroyed, undefined (with saved state), instance directory and "
	    "the unused disk, kernel and ramdisk images removed");

	imgcache_free(&cache);
	imgcache_http_free(&http);
	console_path[0] = '\0';
	cleanup();
	printf("guestctl: %d steps passed\n", nok);
	return 0;
}
