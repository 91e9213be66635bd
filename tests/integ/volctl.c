/*
 * volctl: the real-guest volume scenario of tests/integ/test_guest_volume.sh,
 * through the agent's driver (agent/virt/driver.c, virt_type qemu) on a real
 * libvirtd, against an iSCSI target the script serves (tgtd on loopback,
 * CHAP account, initiator ACL):
 *
 *   a stray secret of tinystack's usage prefix -> driver_new() collects it
 *   -> a TCG guest (tests/e2e/mkguest.sh's kernel + initramfs, booted
 *   with tinystack.hotplug: it reports virtio disks that come and go) ->
 *   driver_guest_ensure(sync_volumes, one volume): private CHAP secret
 *   defined, disk attached live and in the definition, the guest reads the
 *   volume's marker -> the reports (driver_guest_volumes, virt's guest
 *   list) carry the volume id -> sync_volumes with no volume: detached
 *   from both definitions, the guest sees it go, the secret is undefined
 *   -> attached again -> driver_guest_delete(): domain and secret gone.
 *
 * Prints one "ok N - ..." line per step; the first failure prints
 * "not ok - ..." (with the last console lines) and cleans up (domain,
 * secrets, instance directory) before exiting 1.
 *
 * Usage: volctl --dir DIR --kernel PATH --initrd PATH --uuid UUID
 *          --name NAME --portal ADDR:PORT --iqn IQN --initiator IQN
 *          --chap-user U --chap-secret-file F --volume-id UUID
 *          --attachment-id UUID --marker TEXT [--uri URI] [--timeout S]
 */
#include <errno.h>
#include <getopt.h>
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

#include "config.h"
#include "err.h"
#include "log.h"
#include "opts.h"
#include "storage/disk.h"
#include "virt/console.h"
#include "virt/domxml.h"
#include "virt/driver.h"
#include "virt/virt.h"

#define MARK		"TINYSTACK-GUEST-"
#define STRAY_ATT	"00000000-0000-4000-8000-00000000dead"
#define TAIL_LINES	400
#define POLL_MS		100

static struct {
	const char	*dir, *kernel, *initrd, *uuid, *name, *portal, *iqn;
	const char	*initiator, *chap_user, *secret_file, *volume_id;
	const char	*attachment_id, *marker, *uri;
	int		 timeout;
} o = { .uri = "qemu:///system", .timeout = 90 };

static int		 nok;
static virConnectPtr	 conn;
static struct virt	*virt;
static struct driver	*drv;
static struct config	*cfg;
static char		 inst_root[1024], console_path[DISK_PATH_MAX];

static void
quiet(void *arg, virErrorPtr e)
{
}

static void
secret_undefine(const char *att)
{
	char usage[64];
	virSecretPtr s;

	snprintf(usage, sizeof(usage), DOMXML_SECRET_PREFIX "%s", att);
	if ((s = virSecretLookupByUsage(conn, VIR_SECRET_USAGE_TYPE_ISCSI,
	    usage)) != NULL) {
		virSecretUndefine(s);
		virSecretFree(s);
	}
}

static void
cleanup(void)
{
	driver_free(&drv);
	virt_free(&virt);
	config_free(&cfg);
	if (conn != NULL) {
		virDomainPtr dom = o.uuid ? virDomainLookupByUUIDString(conn,
		    o.uuid) : NULL;

		if (dom != NULL) {
			virDomainDestroy(dom);
			virDomainUndefineFlags(dom,
			    VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
			    VIR_DOMAIN_UNDEFINE_NVRAM);
			virDomainFree(dom);
		}
		if (o.attachment_id)
			secret_undefine(o.attachment_id);
		secret_undefine(STRAY_ATT);
		virConnectClose(conn);
		conn = NULL;
	}
	if (o.uuid != NULL && inst_root[0] != '\0')
		disk_instance_dir_remove(inst_root, o.uuid);
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

		/* the guest's lines but its ticks */
		if (console_tail(console_path, TAIL_LINES, 256 * 1024,
		    CONSOLE_SANITIZE | CONSOLE_MISSING_OK, &t, &n) == 0) {
			printf("---- console lines (without ticks)\n");
			for (char *l = strtok(t, "\n"); l != NULL;
			    l = strtok(NULL, "\n"))
				if (strstr(l, MARK "TICK") == NULL)
					printf("%s\n", l);
			printf("----\n");
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

/* How many console lines start with prefix and contain every string of
 * the NULL-terminated want list; the last one into out. */
static int
count_lines(const char *prefix, const char *const *want, char *out,
    size_t len)
{
	char *t;
	size_t n;
	int cnt = 0;

	CHECK(console_tail(console_path, TAIL_LINES, 256 * 1024,
	    CONSOLE_SANITIZE | CONSOLE_MISSING_OK, &t, &n) == 0,
	    "console_tail: %s", err_msg());
	for (const char *l = t; *l; ) {
		const char *e = strchr(l, '\n');
		size_t ln = e ? (size_t)(e - l) : strlen(l);
		char line[512];
		bool good;

		snprintf(line, sizeof(line), "%.*s", (int)ln, l);
		good = strncmp(line, prefix, strlen(prefix)) == 0;
		for (int i = 0; good && want && want[i]; i++)
			good = strstr(line, want[i]) != NULL;
		if (good) {
			cnt++;
			snprintf(out, len, "%s", line);
		}
		l = e ? e + 1 : l + ln;
	}
	free(t);
	return cnt;
}

/* Waits until at least `at_least` lines match; dies after the timeout. */
static double
wait_lines(const char *what, const char *prefix, const char *const *want,
    int at_least, char *out, size_t len)
{
	double t0 = now_s();

	while (now_s() - t0 < o.timeout) {
		if (count_lines(prefix, want, out, len) >= at_least)
			return now_s() - t0;
		sleep_ms(POLL_MS);
	}
	die("no console line '%s' (%s) within %d s", prefix, what, o.timeout);
}

/* 1 if a secret of the attachment exists, 0 if libvirt says there is
 * none. */
static int
secret_exists(const char *att)
{
	char usage[64];
	virSecretPtr s;

	snprintf(usage, sizeof(usage), DOMXML_SECRET_PREFIX "%s", att);
	if ((s = virSecretLookupByUsage(conn, VIR_SECRET_USAGE_TYPE_ISCSI,
	    usage)) == NULL) {
		CHECK(virGetLastErrorCode() == VIR_ERR_NO_SECRET,
		    "secret look-up: %s", lverr());
		return 0;
	}
	virSecretFree(s);
	return 1;
}

/* The volume disks of the domain's live (0) or persistent definition. */
static size_t
xml_volumes(unsigned flags, char **xmlp)
{
	virDomainPtr dom = virDomainLookupByUUIDString(conn, o.uuid);
	struct domxml_voldisk v[32];
	char *xml;
	size_t n;

	CHECK(dom != NULL, "domain look-up: %s", lverr());
	xml = virDomainGetXMLDesc(dom, flags);
	virDomainFree(dom);
	CHECK(xml != NULL, "domain XML: %s", lverr());
	CHECK(domxml_volumes(xml, v, 32, &n) == 0, "domxml_volumes: %s",
	    err_msg());
	CHECK(n == 0 || strcmp(v[0].volume_id, o.volume_id) == 0,
	    "unexpected volume %s", v[0].volume_id);
	if (xmlp != NULL)
		*xmlp = xml;
	else
		free(xml);
	return n;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, NULL, 'd' }, { "kernel", 1, NULL, 'k' },
		{ "initrd", 1, NULL, 'r' }, { "uuid", 1, NULL, 'U' },
		{ "name", 1, NULL, 'n' }, { "portal", 1, NULL, 'p' },
		{ "iqn", 1, NULL, 'q' }, { "initiator", 1, NULL, 'i' },
		{ "chap-user", 1, NULL, 'u' },
		{ "chap-secret-file", 1, NULL, 's' },
		{ "volume-id", 1, NULL, 'v' }, { "attachment-id", 1, NULL, 'a' },
		{ "marker", 1, NULL, 'm' }, { "uri", 1, NULL, 'c' },
		{ "timeout", 1, NULL, 't' }, { NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dir = optarg; break;
		case 'k': o.kernel = optarg; break;
		case 'r': o.initrd = optarg; break;
		case 'U': o.uuid = optarg; break;
		case 'n': o.name = optarg; break;
		case 'p': o.portal = optarg; break;
		case 'q': o.iqn = optarg; break;
		case 'i': o.initiator = optarg; break;
		case 'u': o.chap_user = optarg; break;
		case 's': o.secret_file = optarg; break;
		case 'v': o.volume_id = optarg; break;
		case 'a': o.attachment_id = optarg; break;
		case 'm': o.marker = optarg; break;
		case 'c': o.uri = optarg; break;
		case 't': o.timeout = atoi(optarg); break;
		default: exit(2);
		}
	}
	if (!o.dir || !o.kernel || !o.initrd || !o.uuid || !o.name ||
	    !o.portal || !o.iqn || !o.initiator || !o.chap_user ||
	    !o.secret_file || !o.volume_id || !o.attachment_id || !o.marker ||
	    o.timeout <= 0) {
		fprintf(stderr, "volctl: missing arguments (see the header of "
		    "tests/integ/volctl.c)\n");
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	char secret[128] = "", line[512], ids[16][37], gdev[16], *xml;
	struct driver_volume vol;
	struct driver_spec s;
	struct virt_guest *gs;
	size_t n, ng;
	double secs;
	FILE *f;
	int found;

	parse_args(argc, argv);
	log_init("volctl", LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	virSetErrorFunc(NULL, quiet);
	CHECK((f = fopen(o.secret_file, "re")) != NULL &&
	    fgets(secret, sizeof(secret), f) != NULL, "CHAP secret file");
	fclose(f);
	secret[strcspn(secret, "\n")] = '\0';
	snprintf(inst_root, sizeof(inst_root), "%s/instances", o.dir);
	CHECK(mkdir(inst_root, 0755) == 0 || errno == EEXIST, "mkdir %s",
	    inst_root);
	CHECK((conn = virConnectOpen(o.uri)) != NULL, "connect %s: %s", o.uri,
	    lverr());

	/* 1. a stray secret of tinystack's prefix (its domain gone while
	 * the agent was down) is collected when the driver starts */
	{
		virSecretPtr st = virSecretDefineXML(conn, "<secret "
		    "ephemeral='no' private='yes'><usage type='iscsi'><target>"
		    DOMXML_SECRET_PREFIX STRAY_ATT "</target></usage></secret>",
		    0);
		struct virt_opts vo = { .uri = o.uri,
		    .instances_path = inst_root };
		struct driver_opts dopt = { .virt_type = DRIVER_VIRT_QEMU,
		    .instances_path = inst_root, .shutdown_timeout = 5 };

		CHECK(st != NULL, "define a stray secret: %s", lverr());
		virSecretFree(st);
		CHECK(secret_exists(STRAY_ATT), "stray secret not there");
		cfg = config_new(opts_agent);
		CHECK(cfg != NULL && config_set(cfg, "image", "api_url",
		    "http://127.0.0.1:9") == 0, "config: %s", err_msg());
		dopt.cfg = cfg;
		CHECK((virt = virt_open(&vo)) != NULL, "virt_open: %s",
		    err_msg());
		CHECK((drv = driver_new(virt, &dopt)) != NULL, "driver_new: %s",
		    err_msg());
		CHECK(!secret_exists(STRAY_ATT), "stray secret not collected");
		OK("driver started; a stray %s* secret of no domain collected",
		    DOMXML_SECRET_PREFIX);
	}

	/* 2. the guest: direct kernel boot, console log where the driver
	 * reads it, no disk */
	{
		struct domxml_spec ds = {
			.uuid = o.uuid, .name = o.name, .virt = DOMXML_VIRT_QEMU,
			.vcpus = 1, .memory_mb = 256,
			.kernel = o.kernel, .initrd = o.initrd,
			.cmdline = "console=ttyS0 quiet panic=-1 "
			    "tinystack.hotplug",
			.console_log = console_path, .generation = 1,
			.project_id = "integ-project", .user_id = "integ-user",
			.flavor_name = "m1.integ",
		};
		virDomainPtr dom;

		CHECK(disk_instance_dir_create(inst_root, o.uuid) == 0 &&
		    disk_instance_path(console_path, sizeof(console_path),
		    inst_root, o.uuid, DISK_CONSOLE_NAME) == 0,
		    "instance dir: %s", err_msg());
		CHECK((xml = domxml_build(&ds)) != NULL, "domxml: %s",
		    err_msg());
		dom = virDomainDefineXML(conn, xml);
		free(xml);
		CHECK(dom != NULL, "define: %s", lverr());
		CHECK(virDomainCreate(dom) == 0, "start: %s", lverr());
		virDomainFree(dom);
		secs = wait_lines("boot", MARK "UP ", NULL, 1, line,
		    sizeof(line));
		OK("guest up after %.1f s: %s", secs, line);
		/* ticks start once the boot's disk listing is done: a disk
		 * from now on is a hot-plugged one */
		wait_lines("ticks", MARK "TICK ", NULL, 1, line, sizeof(line));
	}

	/* 3. attach through the driver: secret, disk, guest reads it */
	vol = (struct driver_volume){ .volume_id = o.volume_id,
	    .attachment_id = o.attachment_id, .target_dev = "vdb",
	    .portal = o.portal, .iqn = o.iqn, .lun = 1,
	    .initiator = o.initiator, .chap_user = o.chap_user,
	    .chap_secret = secret };
	memset(&s, 0, sizeof(s));
	snprintf(s.uuid, sizeof(s.uuid), "%s", o.uuid);
	s.name = o.name;
	s.generation = 1;
	s.vcpus = 1;
	s.memory_mb = 256;
	s.volumes = &vol;
	s.nvolumes = 1;
	s.sync_volumes = 1;
	secs = now_s();
	CHECK(driver_guest_ensure(drv, &s) == 0, "attach: %s", err_msg());
	secs = now_s() - secs;
	{
		const char *w[] = { "hotplug=1", o.marker, NULL };
		virSecretPtr sp;
		unsigned char *val;
		size_t vlen;

		CHECK(xml_volumes(0, &xml) == 1, "live XML has no volume disk");
		CHECK(strstr(xml, secret) == NULL, "CHAP secret in the XML");
		CHECK(strstr(xml, "usage='" DOMXML_SECRET_PREFIX) != NULL,
		    "no secret reference in the XML");
		free(xml);
		CHECK(xml_volumes(VIR_DOMAIN_XML_INACTIVE, NULL) == 1,
		    "persistent definition has no volume disk");
		CHECK(secret_exists(o.attachment_id), "no secret defined");
		{
			char usage[64];

			snprintf(usage, sizeof(usage), DOMXML_SECRET_PREFIX
			    "%s", o.attachment_id);
			sp = virSecretLookupByUsage(conn,
			    VIR_SECRET_USAGE_TYPE_ISCSI, usage);
			CHECK(sp != NULL, "secret: %s", lverr());
			val = virSecretGetValue(sp, &vlen, 0);
			/* private: its value cannot be read back */
			CHECK(val == NULL, "a private secret's value was read");
			virSecretFree(sp);
		}
		OK("volume attached by the driver in %.1f s (live and "
		    "persistent), private CHAP secret defined, not in the XML",
		    secs);
		secs = wait_lines("hot-plugged disk", MARK "DISK ", w, 1, line,
		    sizeof(line));
		/* the guest names its disks in the order it finds them */
		snprintf(gdev, sizeof(gdev), "%.*s",
		    (int)strcspn(line + strlen(MARK "DISK "), " "),
		    line + strlen(MARK "DISK "));
		OK("guest reads the iSCSI volume through CHAP after %.1f s: %s",
		    secs, line);
	}

	/* 4. the reports carry the volume id */
	CHECK(driver_guest_volumes(drv, o.uuid, ids, 16, &n) == 0 && n == 1 &&
	    strcmp(ids[0], o.volume_id) == 0, "driver_guest_volumes: %s",
	    err_msg());
	CHECK(virt_guests_list(virt, &gs, &ng) == 0, "virt_guests_list: %s",
	    err_msg());
	found = 0;
	for (size_t k = 0; k < ng; k++)
		if (strcmp(gs[k].uuid, o.uuid) == 0)
			found = gs[k].has_volumes && gs[k].nvolumes == 1 &&
			    strcmp(gs[k].volumes[0], o.volume_id) == 0;
	free(gs);
	CHECK(found, "the guest list does not report the volume");
	OK("driver_guest_volumes and the guest report list volume %s",
	    o.volume_id);

	/* 5. detach: gone from both definitions and from the guest, the
	 * secret undefined */
	s.nvolumes = 0;
	s.volumes = NULL;
	secs = now_s();
	CHECK(driver_guest_ensure(drv, &s) == 0, "detach: %s", err_msg());
	secs = now_s() - secs;
	CHECK(xml_volumes(0, NULL) == 0, "live XML still has the volume");
	CHECK(xml_volumes(VIR_DOMAIN_XML_INACTIVE, NULL) == 0,
	    "persistent definition still has the volume");
	CHECK(!secret_exists(o.attachment_id), "secret left after detach");
	{
		const char *w[] = { gdev, NULL };

		wait_lines("disk gone", MARK "DISK-GONE ", w, 1, line,
		    sizeof(line));
	}
	CHECK(driver_guest_volumes(drv, o.uuid, ids, 16, &n) == 0 && n == 0,
	    "driver still reports a volume");
	OK("volume detached by the driver in %.1f s: no disk in the live or "
	    "persistent XML, guest saw it go, secret undefined", secs);

	/* 6. attached again, then the guest deleted: secret gone with it */
	s.volumes = &vol;
	s.nvolumes = 1;
	CHECK(driver_guest_ensure(drv, &s) == 0, "attach again: %s", err_msg());
	{
		const char *w[] = { "hotplug=1", o.marker, NULL };

		wait_lines("disk again", MARK "DISK ", w, 2, line, sizeof(line));
	}
	CHECK(secret_exists(o.attachment_id), "no secret after re-attach");
	CHECK(driver_guest_delete(drv, o.uuid) == 0, "delete: %s", err_msg());
	{
		virDomainPtr dom = virDomainLookupByUUIDString(conn, o.uuid);

		CHECK(dom == NULL && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN,
		    "domain left after delete");
	}
	CHECK(!secret_exists(o.attachment_id), "secret left after delete");
	OK("attached again, guest read it again; deleted: domain and secret "
	    "gone");

	cleanup();
	printf("volctl: %d steps passed\n", nok);
	return 0;
}
