/*
 * driver_test: the qemu/kvm half of agent/driver.c against libvirt's
 * in-process test driver (test:///default accepts <domain type='qemu'>),
 * with real qemu-img and genisoimage runs in a temporary directory and an
 * in-memory image source in place of the controller's image API.
 *
 * Covers: option validation; a guest made from a root image, an AKI
 * kernel and an ARI ramdisk (overlay, ephemeral, swap, config drive,
 * disk.info, domain XML with direct kernel boot, console log and VNC);
 * idempotent ensure and generation fencing with the disk kept; a failed
 * ensure leaving nothing behind and a retry succeeding; raw copies;
 * console tail through the driver; power moves; delete removing the
 * domain, the files and the image references (then pruned); image
 * references restored after a driver restart (an agent restart);
 * interface hot-plug (sync_nics) and volume hot-plug (sync_volumes) on the
 * test backend, the MACs and volumes the reports carry, and the qemu
 * backend's libvirt attach call.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sodium.h>

#include "config.h"
#include "err.h"
#include "image/imgcache.h"
#include "log.h"
#include "opts.h"
#include "storage/disk.h"
#include "virt/driver.h"

#define URI	"test:///default"
#define UUID1	"0b5c1a4e-6d1f-4f53-9f0e-2d3a0c9e1a01"
#define UUID2	"0b5c1a4e-6d1f-4f53-9f0e-2d3a0c9e1a02"
#define UUID6	"0b5c1a4e-6d1f-4f53-9f0e-2d3a0c9e1a06"
#define IMG	"11111111-2222-4333-8444-555555555501"
#define BIGIMG	"11111111-2222-4333-8444-555555555502"
#define KERNEL	"11111111-2222-4333-8444-555555555503"
#define RAMDISK	"11111111-2222-4333-8444-555555555504"

struct srcimg {
	const char	*id;
	char		 path[128];
	char		 sha[IMGCACHE_SHA512_HEX + 1];
	uint64_t	 size;
};

static char		 tmp[64], ipath[128];
static struct srcimg	 imgs[4];
static struct virt	*virt;		/* the driver's connection */
static int		 fetches;
static int		 token_fetches;	/* fetches that carried the spec's token */
static virConnectPtr	 keep;	/* keeps test:///default's state alive */

static void
quiet(void *arg, virErrorPtr e)
{
}

static int
src_fetch(void *arg, const char *id, const char *token, imgcache_sink_fn sink,
    void *sa)
{
	for (size_t i = 0; i < 4; i++) {
		char buf[65536];
		size_t n;
		FILE *f;
		int rc = 0;

		if (strcmp(imgs[i].id, id) != 0)
			continue;
		fetches++;
		if (token != NULL && strcmp(token, "secret-token") == 0)
			token_fetches++;
		if ((f = fopen(imgs[i].path, "rb")) == NULL) {
			err_set_errno(TS_EIO, "%s", imgs[i].path);
			return -1;
		}
		while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0)
			rc = sink(buf, n, sa);
		fclose(f);
		return rc;
	}
	err_set(TS_ENOT_FOUND, "no image %s", id);
	return -1;
}

static const struct imgcache_source source = { src_fetch, NULL };

static void
run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

static void
sha_file(struct srcimg *im)
{
	crypto_hash_sha512_state st;
	unsigned char h[crypto_hash_sha512_BYTES], buf[65536];
	struct stat sb;
	size_t n;
	FILE *f = fopen(im->path, "rb");

	assert_non_null(f);
	crypto_hash_sha512_init(&st);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha512_update(&st, buf, n);
	fclose(f);
	crypto_hash_sha512_final(&st, h);
	sodium_bin2hex(im->sha, sizeof(im->sha), h, sizeof(h));
	assert_int_equal(stat(im->path, &sb), 0);
	im->size = (uint64_t)sb.st_size;
}

static int
setup(void **state)
{
	char cmd[2048];

	assert_int_equal(sodium_init() >= 0, 1);
	virSetErrorFunc(NULL, quiet);
	snprintf(tmp, sizeof(tmp), "/tmp/driver_test.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(ipath, sizeof(ipath), "%s/instances", tmp);
	assert_int_equal(mkdir(ipath, 0755), 0);
	imgs[0].id = IMG;
	imgs[1].id = BIGIMG;
	imgs[2].id = KERNEL;
	imgs[3].id = RAMDISK;
	for (size_t i = 0; i < 4; i++)
		snprintf(imgs[i].path, sizeof(imgs[i].path), "%s/src%zu", tmp,
		    i);
	/* a 4 MiB qcow2 root image, a qcow2 of 2 GiB virtual size, and a
	 * kernel and ramdisk of arbitrary bytes */
	snprintf(cmd, sizeof(cmd), "printf TSBASEIMAGE > %s/raw && "
	    "truncate -s 4M %s/raw && qemu-img convert -q -f raw -O qcow2 "
	    "%s/raw %s && qemu-img create -q -f qcow2 %s 2G && "
	    "head -c 300000 /dev/urandom > %s && "
	    "head -c 200000 /dev/urandom > %s", tmp, tmp, tmp, imgs[0].path,
	    imgs[1].path, imgs[2].path, imgs[3].path);
	run(cmd);
	for (size_t i = 0; i < 4; i++)
		sha_file(&imgs[i]);
	assert_non_null(keep = virConnectOpen(URI));
	if ((virt = virt_open(&(struct virt_opts){ .uri = URI,
	    .instances_path = ipath })) == NULL)
		fail_msg("virt_open: %s", err_msg());
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	virt_free(&virt);
	virConnectClose(keep);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	run(cmd);
	return 0;
}

/* A config with the test's options plus extra "section key value"
 * triples. */
static struct config *
cfg_make(int n, ...)
{
	struct config *c = config_new(opts_agent);
	va_list ap;

	assert_int_equal(config_set(c, "image", "cache_grace", "1"), 0);
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		const char *k = va_arg(ap, const char *);
		const char *v = va_arg(ap, const char *);

		assert_int_equal(config_set(c, s, k, v), 0);
	}
	va_end(ap);
	return c;
}

static struct driver *
drv_make(const struct config *c, int with_source)
{
	struct driver_opts o = { .virt_type = DRIVER_VIRT_QEMU,
	    .instances_path = ipath, .shutdown_timeout = 1, .cfg = c,
	    .image_source = with_source ? &source : NULL };

	return driver_new(virt, &o);
}

static void
spec_init(struct driver_spec *s, const char *uuid, uint64_t gen)
{
	static char name[64];
	static const uint8_t ud[] = "#!/bin/sh\necho user-data\n";

	memset(s, 0, sizeof(*s));
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
	snprintf(name, sizeof(name), "instance-%s", uuid);
	s->name = name;
	s->hostname = "vm1";
	s->generation = gen;
	s->project_id = "p1";
	s->user_id = "u1";
	s->flavor_name = "m1.test";
	s->vcpus = 1;
	s->memory_mb = 64;
	s->root_gb = 1;
	s->ephemeral_gb = 1;
	s->swap_mb = 16;
	s->image_id = IMG;
	s->image_disk_format = "qcow2";
	s->image_sha512 = imgs[0].sha;
	s->image_size = imgs[0].size;
	s->kernel_id = KERNEL;
	s->kernel_disk_format = "aki";
	s->kernel_sha512 = imgs[2].sha;
	s->ramdisk_id = RAMDISK;
	s->ramdisk_disk_format = "ari";
	s->ramdisk_sha512 = imgs[3].sha;
	s->image_token = "secret-token";
	s->key_data = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDriverTest k@t";
	s->user_data = ud;
	s->user_data_len = sizeof(ud) - 1;
}

static void
ipath_file(char *buf, size_t len, const char *uuid, const char *file)
{
	assert_int_equal(disk_instance_path(buf, len, ipath, uuid, file), 0);
}

static int
file_exists(const char *p)
{
	struct stat sb;

	return lstat(p, &sb) == 0;
}

static ino_t
inode(const char *p)
{
	struct stat sb;

	assert_int_equal(stat(p, &sb), 0);
	return sb.st_ino;
}

static char *
dom_xml(const char *uuid)
{
	virDomainPtr d = virDomainLookupByUUIDString(keep, uuid);
	char *x;

	if (d == NULL)
		return NULL;
	x = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
	virDomainFree(d);
	return x;
}

static int
cached(const char *id)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/_base/%s", ipath, id);
	return file_exists(p);
}

/* ------------------------------------------------------------- tests */

static void
test_options(void **state)
{
	struct config *c;
	struct driver *d;

	/* qemu needs the image API */
	c = cfg_make(0);
	assert_null(drv_make(c, 0));
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "api_url"));
	config_free(&c);
	/* https: with the system's CA store, or a CA file that must exist */
	c = cfg_make(1, "image", "api_url", "https://127.0.0.1:9292");
	assert_non_null(d = drv_make(c, 0));
	driver_free(&d);
	config_free(&c);
	c = cfg_make(2, "image", "api_url", "https://127.0.0.1:9292",
	    "image", "ca_file", "/nonexistent/ca.pem");
	assert_null(drv_make(c, 0));
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "CA file"));
	config_free(&c);
	c = cfg_make(1, "image", "api_url", "ftp://127.0.0.1:9292");
	assert_null(drv_make(c, 0));
	assert_int_equal(err_code(), TS_EINVALID);
	config_free(&c);
	c = cfg_make(2, "image", "api_url", "http://127.0.0.1:9292",
	    "vnc", "server_listen", "localhost");
	assert_null(drv_make(c, 0));
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "server_listen"));
	config_free(&c);
	/* VNC off: the address is not looked at */
	c = cfg_make(3, "image", "api_url", "http://127.0.0.1:9292",
	    "vnc", "server_listen", "localhost", "vnc", "enabled", "false");
	assert_non_null(d = drv_make(c, 0));
	driver_free(&d);
	assert_null(d);
	config_free(&c);
	/* a config value never reaches the driver unchecked */
	c = cfg_make(0);
	assert_int_equal(config_set(c, "libvirt", "images_type", "vmdk"), -1);
	config_free(&c);
}

static void
test_guest_life(void **state)
{
	struct config *c = cfg_make(0);
	struct driver *d = drv_make(c, 1);
	struct driver_spec s;
	struct driver_guest g;
	char root[DISK_PATH_MAX], info[DISK_PATH_MAX], p[DISK_PATH_MAX],
	    kp[DISK_PATH_MAX + 64],
	    *xml, *out;
	struct disk_info di;
	ino_t ino;
	size_t n;
	FILE *f;

	assert_non_null(d);
	spec_init(&s, UUID1, 2);
	fetches = token_fetches = 0;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(fetches, 3);
	/* the command's token reaches the source with every download */
	assert_int_equal(token_fetches, 3);
	ipath_file(root, sizeof(root), UUID1, DISK_ROOT_NAME);
	ipath_file(info, sizeof(info), UUID1, "disk.info");
	/* the root disk: a 1 GiB qcow2 overlay on the verified base */
	assert_int_equal(disk_info(root, "qcow2", &di), 0);
	assert_int_equal(di.virtual_size, 1ull << 30);
	assert_true(di.has_backing);
	snprintf(kp, sizeof(kp), "%s/_base/%s", ipath, IMG);
	assert_string_equal(di.backing_file, kp);
	assert_string_equal(di.backing_format, "qcow2");
	f = fopen(info, "r");
	assert_non_null(f);
	assert_non_null(fgets(p, sizeof(p), f));
	fclose(f);
	assert_string_equal(p, "qcow2\n");
	ipath_file(p, sizeof(p), UUID1, DISK_EPHEMERAL_NAME);
	assert_int_equal(disk_info(p, "qcow2", &di), 0);
	assert_int_equal(di.virtual_size, 1ull << 30);
	ipath_file(p, sizeof(p), UUID1, DISK_SWAP_NAME);
	assert_int_equal(disk_info(p, "raw", &di), 0);
	assert_int_equal(di.virtual_size, 16ull << 20);
	ipath_file(p, sizeof(p), UUID1, DISK_CONFIG_NAME);
	assert_true(file_exists(p));
	assert_true(cached(IMG) && cached(KERNEL) && cached(RAMDISK));

	/* the definition: direct kernel boot with the default command
	 * line, disks in order, serial log, VNC on loopback, owner record */
	assert_non_null(xml = dom_xml(UUID1));
	assert_non_null(strstr(xml, "<domain type='qemu'"));
	snprintf(kp, sizeof(kp), "<kernel>%s/_base/%s</kernel>", ipath,
	    KERNEL);
	assert_non_null(strstr(xml, kp));
	snprintf(kp, sizeof(kp), "<initrd>%s/_base/%s</initrd>", ipath,
	    RAMDISK);
	assert_non_null(strstr(xml, kp));
	assert_non_null(strstr(xml,
	    "<cmdline>root=/dev/vda console=ttyS0</cmdline>"));
	snprintf(kp, sizeof(kp), "<source file='%s'/>", root);
	assert_non_null(strstr(xml, kp));
	assert_non_null(strstr(xml, "<target dev='vda' bus='virtio'/>"));
	assert_non_null(strstr(xml, "<target dev='vdb' bus='virtio'/>"));
	assert_non_null(strstr(xml, "<target dev='vdc' bus='virtio'/>"));
	assert_non_null(strstr(xml, "device='cdrom'"));
	ipath_file(p, sizeof(p), UUID1, DISK_CONSOLE_NAME);
	snprintf(kp, sizeof(kp), "<log file='%s'", p);
	assert_non_null(strstr(xml, kp));
	assert_non_null(strstr(xml, "listen='127.0.0.1'"));
	assert_non_null(strstr(xml, "<ts:generation>2</ts:generation>"));
	assert_non_null(strstr(xml, "<ts:kernel>" KERNEL "</ts:kernel>"));
	free(xml);
	assert_int_equal(driver_guest_get(d, UUID1, &g), 0);
	assert_int_equal(g.generation, 2);
	assert_true(g.managed);
	assert_int_equal(g.power_state, VIRT_POWER_SHUTDOWN);

	/* the same generation again: nothing is made, nothing fetched */
	ino = inode(root);
	fetches = token_fetches = 0;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(fetches, 0);
	assert_int_equal(inode(root), ino);
	/* a newer one re-defines and keeps the disk; an older one is
	 * refused */
	s.generation = 3;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(inode(root), ino);
	assert_int_equal(driver_guest_get(d, UUID1, &g), 0);
	assert_int_equal(g.generation, 3);
	s.generation = 2;
	assert_int_equal(driver_guest_ensure(d, &s), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	s.generation = 3;

	/* power moves on the test hypervisor */
	assert_int_equal(driver_guest_set_power(d, UUID1, VIRT_POWER_RUNNING),
	    0);
	assert_int_equal(driver_guest_set_power(d, UUID1, VIRT_POWER_PAUSED),
	    0);
	assert_int_equal(driver_guest_get(d, UUID1, &g), 0);
	assert_int_equal(g.power_state, VIRT_POWER_PAUSED);
	assert_int_equal(driver_guest_set_power(d, UUID1, VIRT_POWER_RUNNING),
	    0);
	assert_int_equal(driver_guest_reboot(d, &s, 1), 0);
	assert_int_equal(driver_guest_get(d, UUID1, &g), 0);
	assert_int_equal(g.power_state, VIRT_POWER_RUNNING);
	assert_int_equal(inode(root), ino);

	/* console: the file's tail, sanitized, capped */
	assert_int_equal(driver_console_get(d, UUID1, 0, &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	ipath_file(p, sizeof(p), UUID1, DISK_CONSOLE_NAME);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("early line\r\n\x1b[1mTINYSTACK-GUEST-UP bootid=1\r\nlast\n", f);
	fclose(f);
	assert_int_equal(driver_console_get(d, UUID1, 0, &out, &n), 0);
	assert_string_equal(out,
	    "early line\n[1mTINYSTACK-GUEST-UP bootid=1\nlast\n");
	assert_int_equal(n, strlen(out));
	free(out);
	assert_int_equal(driver_console_get(d, UUID1, 5, &out, &n), 0);
	assert_true(n <= 5);
	assert_string_equal(out, "last\n");
	free(out);

	/* agent restart: the references come back from the metadata, so
	 * pruning keeps the bases the guest uses. The witness that a prune
	 * has run past the grace period: an unreferenced base found at start
	 * (idle from the same moment as the guest's) is pruned; by then the
	 * guest's bases would have gone too, had their references not come
	 * back. */
	driver_free(&d);
	snprintf(kp, sizeof(kp), "%s/_base/%s", ipath, BIGIMG);
	assert_non_null(f = fopen(kp, "w"));
	fputs("an unreferenced base\n", f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(d = drv_make(c, 1));
	for (int i = 0; i < 100 && cached(BIGIMG); i++)
		usleep(100 * 1000);
	assert_false(cached(BIGIMG));
	assert_true(cached(IMG) && cached(KERNEL) && cached(RAMDISK));

	/* delete: domain, files and references gone; bases pruned after
	 * the grace period */
	assert_int_equal(driver_guest_delete(d, UUID1), 0);
	assert_int_equal(driver_guest_get(d, UUID1, &g), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	ipath_file(p, sizeof(p), UUID1, NULL);
	assert_false(file_exists(p));
	assert_int_equal(driver_guest_delete(d, UUID1), 0);
	for (int i = 0; i < 50 && (cached(IMG) || cached(KERNEL)); i++)
		usleep(100 * 1000);
	assert_false(cached(IMG) || cached(KERNEL) || cached(RAMDISK));
	driver_free(&d);
	config_free(&c);
}

static void
test_failure_undone(void **state)
{
	struct config *c = cfg_make(1, "libvirt", "images_type", "raw");
	struct driver *d = drv_make(c, 1);
	struct driver_spec s;
	struct driver_guest g;
	struct disk_info di;
	char dir[DISK_PATH_MAX], root[DISK_PATH_MAX], bad[129];

	assert_non_null(d);
	ipath_file(dir, sizeof(dir), UUID2, NULL);
	ipath_file(root, sizeof(root), UUID2, DISK_ROOT_NAME);

	/* a kernel whose bytes do not match its checksum */
	spec_init(&s, UUID2, 1);
	memset(bad, 'a', 128);
	bad[128] = '\0';
	s.kernel_sha512 = bad;
	assert_int_equal(driver_guest_ensure(d, &s), -1);
	assert_non_null(strstr(err_msg(), "kernel"));
	assert_false(file_exists(dir));
	assert_int_equal(driver_guest_get(d, UUID2, &g), -1);

	/* a flavor disk smaller than the image */
	spec_init(&s, UUID2, 1);
	s.image_id = BIGIMG;
	s.image_sha512 = imgs[1].sha;
	s.image_size = imgs[1].size;
	s.kernel_id = s.ramdisk_id = NULL;
	assert_int_equal(driver_guest_ensure(d, &s), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_false(file_exists(dir));

	/* no image at all */
	spec_init(&s, UUID2, 1);
	s.image_id = NULL;
	assert_int_equal(driver_guest_ensure(d, &s), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	/* the retry succeeds: a raw copy, grown to the flavor, booting
	 * from disk with no kernel and no ephemeral/swap */
	spec_init(&s, UUID2, 1);
	s.kernel_id = s.ramdisk_id = NULL;
	s.ephemeral_gb = 0;
	s.swap_mb = 0;
	s.key_data = NULL;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(disk_info(root, "raw", &di), 0);
	assert_int_equal(di.virtual_size, 1ull << 30);
	assert_false(di.has_backing);
	{
		char *xml = dom_xml(UUID2);

		assert_non_null(xml);
		assert_null(strstr(xml, "<kernel>"));
		assert_non_null(strstr(xml, "<driver name='qemu' type='raw'"));
		assert_null(strstr(xml, "vdb"));
		free(xml);
	}
	assert_int_equal(driver_guest_delete(d, UUID2), 0);
	assert_false(file_exists(dir));
	driver_free(&d);
	config_free(&c);
}

/* ------------------------------------------------------------- NICs */

#define UUID3	"0b5c1a4e-6d1f-4f53-9f0e-2d3a0c9e1a03"
#define NET1	"7e1a0b2c-3d4e-4f50-8a61-72839405a6b1"
#define PORT1	"5a1b2c3d-4e5f-4061-8728-394a5b6c7d01"
#define PORT2	"5a1b2c3d-4e5f-4061-8728-394a5b6c7d02"
#define MAC1	"fa:16:3e:00:00:01"
#define MAC2	"fa:16:3e:00:00:02"

/* The MACs of UUID3 the reports see (virt) and the driver sees. */
static size_t
macs_reported(struct driver *d, char macs[][18])
{
	struct virt_guest *gs = NULL;
	size_t n = 0, nd = 99, k, r = 99;

	assert_int_equal(driver_guest_macs(d, UUID3, macs, 32, &nd), 0);
	assert_int_equal(virt_guests_list(virt, &gs, &n), 0);
	for (k = 0; k < n; k++) {
		if (strcmp(gs[k].uuid, UUID3) != 0)
			continue;
		assert_true(gs[k].has_macs);
		r = gs[k].nmacs;
		for (size_t m = 0; m < r; m++)
			assert_string_equal(gs[k].macs[m], macs[m]);
	}
	free(gs);
	assert_int_equal(r, nd);
	return nd;
}

/*
 * Interface hot-plug (instance_ensure.sync_nics). The test backend has no
 * device hot-plug in libvirt: the driver re-defines the guest, a running
 * guest keeps running, and the reports read the definition's NICs. The
 * qemu backend really calls virDomainAttachDeviceFlags, which the test
 * driver refuses: the ensure fails with that error and changes nothing.
 */
static void
test_nics(void **state)
{
	struct driver *d = driver_new(virt, &(struct driver_opts){
	    .virt_type = DRIVER_VIRT_TEST, .instances_path = ipath });
	struct driver_nic nics[2] = {
		{ .port_id = PORT1, .network_id = NET1, .mac = MAC1,
		    .mtu = 1450 },
		{ .port_id = PORT2, .network_id = NET1, .mac = "FA:16:3E:00:00:02" },
	};
	struct driver_spec s;
	struct driver_guest g;
	struct config *c;
	struct driver *q;
	char macs[32][18], *xml;

	(void)state;
	assert_non_null(d);
	memset(&s, 0, sizeof(s));
	snprintf(s.uuid, sizeof(s.uuid), "%s", UUID3);
	s.name = "instance-" UUID3;
	s.generation = 1;
	s.vcpus = 1;
	s.memory_mb = 64;
	s.nics = nics;
	s.nnics = 1;
	/* a new guest is defined with its NIC: bridge and tap named from
	 * the network and the port */
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_non_null(xml = dom_xml(UUID3));
	assert_non_null(strstr(xml, "<mac address='" MAC1 "'/>"));
	assert_non_null(strstr(xml, "<source bridge='tsb7e1a0b2c3d4'/>"));
	assert_non_null(strstr(xml, "<target dev='tap5a1b2c3d4e5'/>"));
	free(xml);
	assert_int_equal(driver_guest_set_power(d, UUID3, VIRT_POWER_RUNNING),
	    0);
	assert_int_equal(macs_reported(d, macs), 1);
	assert_string_equal(macs[0], MAC1);

	/* without sync_nics an existing guest's NICs are left alone */
	s.nnics = 2;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(macs_reported(d, macs), 1);

	/* attach: the second NIC appears (MACs compared in lower case) */
	s.sync_nics = 1;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(macs_reported(d, macs), 2);
	assert_string_equal(macs[1], MAC2);
	assert_int_equal(driver_guest_get(d, UUID3, &g), 0);
	assert_int_equal(g.power_state, VIRT_POWER_RUNNING);
	assert_int_equal(g.generation, 1);
	/* idempotent: the same list again changes nothing */
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(macs_reported(d, macs), 2);

	/* detach the first: only the second is left; then none */
	s.nics = &nics[1];
	s.nnics = 1;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(macs_reported(d, macs), 1);
	assert_string_equal(macs[0], MAC2);
	s.nnics = 0;
	s.nics = NULL;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(macs_reported(d, macs), 0);
	assert_non_null(xml = dom_xml(UUID3));
	assert_null(strstr(xml, "<interface"));
	free(xml);

	/* a bad MAC is refused before libvirt sees it */
	nics[0].mac = "01:00:5e:00:00:01";	/* multicast */
	s.nics = nics;
	s.nnics = 1;
	assert_int_equal(driver_guest_ensure(d, &s), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(macs_reported(d, macs), 0);
	nics[0].mac = MAC1;

	/* the qemu backend hot-plugs through libvirt (bridge "lo" exists, so
	 * nothing waits); the test driver refuses and nothing changes */
	c = cfg_make(0);
	assert_non_null(q = drv_make(c, 1));
	nics[0].bridge = "lo";
	assert_int_equal(driver_guest_ensure(q, &s), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_non_null(strstr(err_msg(), "attach NIC " MAC1));
	assert_int_equal(macs_reported(d, macs), 0);
	driver_free(&q);
	config_free(&c);

	/* The answers' VNC port is the reports': none on the test driver
	 * (its live XML names no port it listens on). */
	unsigned port = 99;
	char ids[16][37];
	size_t nids;

	assert_int_equal(driver_guest_devices(d, UUID3, ids, 16, &nids, &port),
	    0);
	assert_int_equal(port, 0);
	assert_int_equal(driver_guest_delete(d, UUID3), 0);
	assert_int_equal(driver_guest_macs(d, UUID3, macs, 32, &(size_t){ 0 }),
	    -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(driver_guest_devices(d, UUID3, ids, 16, &nids, &port),
	    -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	driver_free(&d);
}

/* ----------------------------------------------------------- volumes */

#define UUID4	"0b5c1a4e-6d1f-4f53-9f0e-2d3a0c9e1a04"
#define VOLA	"7e1f0a2b-3c4d-4e5f-8a6b-7c8d9e0f1a01"
#define VOLB	"7e1f0a2b-3c4d-4e5f-8a6b-7c8d9e0f1a02"
#define ATTA	"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c01"
#define ATTB	"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c02"

/* The volumes of UUID4 the reports see (virt) and the driver sees. */
static size_t
vols_reported(struct driver *d, char ids[][37])
{
	struct virt_guest *gs = NULL;
	size_t n = 0, nd = 99, k, r = 99;

	assert_int_equal(driver_guest_volumes(d, UUID4, ids, 16, &nd), 0);
	assert_int_equal(virt_guests_list(virt, &gs, &n), 0);
	for (k = 0; k < n; k++) {
		if (strcmp(gs[k].uuid, UUID4) != 0)
			continue;
		assert_true(gs[k].has_volumes);
		r = gs[k].nvolumes;
		for (size_t m = 0; m < r; m++)
			assert_string_equal(gs[k].volumes[m], ids[m]);
	}
	free(gs);
	assert_int_equal(r, nd);
	return nd;
}

/*
 * Volume hot-plug (instance_ensure.sync_volumes), as test_nics: the test
 * backend re-defines, the reports read the definition's volume disks; the
 * qemu backend on the test driver fails at the libvirt step it reaches
 * (secrets: the test driver has none; attach: no hot-plug) and changes
 * nothing.
 */
static void
test_volumes(void **state)
{
	struct driver *d = driver_new(virt, &(struct driver_opts){
	    .virt_type = DRIVER_VIRT_TEST, .instances_path = ipath });
	struct driver_volume vols[2] = {
		{ .volume_id = VOLA, .attachment_id = ATTA, .target_dev = "vdb",
		  .portal = "127.0.0.1:3260",
		  .iqn = "iqn.2010-10.org.openstack:volume-" VOLA, .lun = 1,
		  .initiator = "iqn.2010-10.org.openstack.tinystack:h1",
		  .chap_user = "u1", .chap_secret = "s3cr3t-never-shown" },
		{ .volume_id = VOLB, .attachment_id = ATTB, .target_dev = "vdc",
		  .portal = "127.0.0.1:3260",
		  .iqn = "iqn.2010-10.org.openstack:volume-" VOLB, .lun = 1,
		  .initiator = "iqn.2010-10.org.openstack.tinystack:h1",
		  .readonly = 1 },
	};
	struct driver_spec s;
	struct driver_guest g;
	struct config *c;
	struct driver *q;
	char ids[16][37], *xml;

	(void)state;
	assert_non_null(d);
	memset(&s, 0, sizeof(s));
	snprintf(s.uuid, sizeof(s.uuid), "%s", UUID4);
	s.name = "instance-" UUID4;
	s.generation = 1;
	s.vcpus = 1;
	s.memory_mb = 64;
	s.volumes = vols;
	s.nvolumes = 1;
	/* a new guest is defined with its volume; the password is nowhere
	 * in the definition */
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_non_null(xml = dom_xml(UUID4));
	assert_non_null(strstr(xml, "<serial>" VOLA "</serial>"));
	assert_non_null(strstr(xml, "usage='tinystack-chap-" ATTA "'"));
	assert_null(strstr(xml, "s3cr3t"));
	free(xml);
	assert_int_equal(driver_guest_set_power(d, UUID4, VIRT_POWER_RUNNING),
	    0);
	assert_int_equal(vols_reported(d, ids), 1);
	assert_string_equal(ids[0], VOLA);

	/* without sync_volumes an existing guest's volumes are left alone */
	s.nvolumes = 2;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(vols_reported(d, ids), 1);

	/* attach: the second volume appears, the guest keeps running */
	s.sync_volumes = 1;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(vols_reported(d, ids), 2);
	assert_string_equal(ids[1], VOLB);
	assert_int_equal(driver_guest_get(d, UUID4, &g), 0);
	assert_int_equal(g.power_state, VIRT_POWER_RUNNING);
	/* idempotent */
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(vols_reported(d, ids), 2);
	{
		char *con = NULL;
		size_t len;

		assert_int_equal(driver_console_get(d, UUID4, 0, &con, &len),
		    0);
		assert_non_null(strstr(con, "[vdc] volume " VOLB " attached"));
		free(con);
	}

	/* detach the first, then all */
	s.volumes = &vols[1];
	s.nvolumes = 1;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(vols_reported(d, ids), 1);
	assert_string_equal(ids[0], VOLB);
	s.volumes = NULL;
	s.nvolumes = 0;
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(vols_reported(d, ids), 0);
	assert_non_null(xml = dom_xml(UUID4));
	assert_null(strstr(xml, "<disk"));
	free(xml);

	/* a hostile portal is refused before libvirt sees it */
	vols[0].portal = "127.0.0.1:3260'/><x";
	s.volumes = vols;
	s.nvolumes = 1;
	assert_int_equal(driver_guest_ensure(d, &s), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "portal"));
	assert_int_equal(vols_reported(d, ids), 0);
	vols[0].portal = "127.0.0.1:3260";

	/* the qemu backend: a CHAP secret is a libvirt secret, which the
	 * test driver does not have; without CHAP the attach itself is
	 * refused. Nothing changes either way. */
	c = cfg_make(0);
	assert_non_null(q = drv_make(c, 1));
	assert_int_equal(driver_guest_ensure(q, &s), -1);
	assert_int_equal(err_code(), TS_EUNAVAILABLE);
	assert_non_null(strstr(err_msg(), "tinystack-chap-" ATTA));
	assert_null(strstr(err_msg(), "s3cr3t"));
	assert_int_equal(vols_reported(d, ids), 0);
	vols[0].chap_user = NULL;
	assert_int_equal(driver_guest_ensure(q, &s), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_non_null(strstr(err_msg(), "attach volume " VOLA " as vdb"));
	assert_int_equal(vols_reported(d, ids), 0);
	driver_free(&q);
	config_free(&c);

	assert_int_equal(driver_guest_delete(d, UUID4), 0);
	assert_int_equal(driver_guest_volumes(d, UUID4, ids, 16,
	    &(size_t){ 0 }), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	driver_free(&d);
}

/*
 * Boot from volume (qemu backend on the test driver): no image, the boot
 * volume is the root disk (boot order 1, no <boot dev>, no local root
 * disk, no image reference); ephemeral, swap and config drive as usual.
 * With CHAP the secret step comes first, and the test driver has no
 * secrets: refused, and nothing was made.
 */
#define UUID5	"0b5c1a4e-6d1f-4f53-9f0e-2d3a0c9e1a05"

static void
test_boot_from_volume(void **state)
{
	struct config *c = cfg_make(0);
	struct driver *q = drv_make(c, 1);
	struct driver_volume v = { .volume_id = VOLA, .attachment_id = ATTA,
	    .target_dev = "vda", .portal = "127.0.0.1:3260",
	    .iqn = "iqn.2010-10.org.openstack:volume-" VOLA, .lun = 1,
	    .initiator = "iqn.2010-10.org.openstack.tinystack:h1",
	    .boot = 1 };
	struct driver_spec s;
	char root[DISK_PATH_MAX], dir[DISK_PATH_MAX], *xml;

	(void)state;
	assert_non_null(q);
	spec_init(&s, UUID5, 1);
	s.image_id = NULL;
	s.image_disk_format = NULL;
	s.kernel_id = NULL;
	s.ramdisk_id = NULL;
	s.volumes = &v;
	s.nvolumes = 1;
	ipath_file(root, sizeof(root), UUID5, DISK_ROOT_NAME);
	ipath_file(dir, sizeof(dir), UUID5, NULL);

	/* CHAP on the test driver: no secrets there; nothing made */
	v.chap_user = "u";
	v.chap_secret = "pw";
	assert_int_equal(driver_guest_ensure(q, &s), -1);
	assert_int_equal(err_code(), TS_EUNAVAILABLE);
	assert_false(file_exists(dir));
	assert_null(dom_xml(UUID5));

	v.chap_user = NULL;
	assert_int_equal(driver_guest_ensure(q, &s), 0);
	assert_false(file_exists(root));
	assert_non_null(xml = dom_xml(UUID5));
	assert_non_null(strstr(xml, "<serial>" VOLA "</serial>"));
	assert_non_null(strstr(xml, "<boot order='1'/>"));
	assert_null(strstr(xml, "<boot dev="));
	assert_null(strstr(xml, "/disk'/>"));
	assert_non_null(strstr(xml, "disk.eph0"));
	assert_non_null(strstr(xml, "disk.config"));
	free(xml);

	/* an image and a boot volume at once is refused */
	s.image_id = IMG;
	s.image_disk_format = "qcow2";
	s.generation = 2;
	assert_int_equal(driver_guest_ensure(q, &s), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(driver_guest_delete(q, UUID5), 0);
	assert_false(file_exists(dir));
	driver_free(&q);
	config_free(&c);
}

/*
 * The target's side of a live migration: prepare makes fresh disks in a
 * directory marked as prepared (again fresh when an earlier prepare left
 * them), root_backing when the root is an empty overlay of the image;
 * the leftover scan lists it; the clean-up removes it (not when too
 * recent), never the files of a guest defined here.
 */
static void
test_migrate_prepare_cleanup(void **state)
{
	struct config *c = cfg_make(0);
	struct driver *d = drv_make(c, 1);
	struct driver_spec s;
	struct disk_info di;
	const char *inst, *cache;
	char dir[DISK_PATH_MAX], root[DISK_PATH_MAX], mark[DISK_PATH_MAX],
	    kp[DISK_PATH_MAX + 64], ids[4][37];
	struct stat sb;
	int backing = -1;
	size_t n;

	(void)state;
	assert_non_null(d);
	spec_init(&s, UUID6, 4);
	ipath_file(dir, sizeof(dir), UUID6, NULL);
	ipath_file(root, sizeof(root), UUID6, DISK_ROOT_NAME);
	ipath_file(mark, sizeof(mark), UUID6, "migrate.prepared");
	assert_int_equal(driver_guest_migrate_prepare(d, &s, &inst, &cache,
	    &backing), 0);
	assert_int_equal(backing, 1);
	assert_string_equal(inst, ipath);
	assert_true(file_exists(mark));
	assert_null(dom_xml(UUID6));		/* nothing defined */
	assert_int_equal(disk_info(root, "qcow2", &di), 0);
	snprintf(kp, sizeof(kp), "%s/_base/%s", ipath, IMG);
	assert_true(di.has_backing);
	assert_string_equal(di.backing_file, kp);
	assert_int_equal(driver_guest_migrate_leftovers(d, 0, ids, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], UUID6);
	/* too recent for a leftover of a minute */
	assert_int_equal(driver_guest_migrate_leftovers(d, 60000, ids, 4, &n),
	    0);
	assert_int_equal(n, 0);

	/* prepared again (a migration that never came, then a new one):
	 * the old root, with what it had gathered, is made again empty */
	assert_int_equal(truncate(root, 8 << 20), 0);
	assert_int_equal(driver_guest_migrate_prepare(d, &s, &inst, &cache,
	    &backing), 0);
	assert_int_equal(backing, 1);
	assert_int_equal(stat(root, &sb), 0);
	assert_true(sb.st_size < (1 << 20));

	/* a clean-up asking for an older preparation keeps it */
	assert_int_equal(driver_guest_migrate_cleanup(d, UUID6, 3600000), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_true(file_exists(root));
	assert_int_equal(driver_guest_migrate_cleanup(d, UUID6, 0), 0);
	assert_false(file_exists(dir));
	assert_int_equal(driver_guest_migrate_leftovers(d, 0, ids, 4, &n), 0);
	assert_int_equal(n, 0);
	/* nothing left: nothing to do */
	assert_int_equal(driver_guest_migrate_cleanup(d, UUID6, 0), 0);

	/* a guest defined here (arrived, marker and all): its files stay,
	 * a prepare keeps its root (no incremental copy onto it) */
	assert_int_equal(driver_guest_migrate_prepare(d, &s, &inst, &cache,
	    &backing), 0);
	assert_int_equal(driver_guest_ensure(d, &s), 0);
	assert_int_equal(driver_guest_migrate_cleanup(d, UUID6, 0), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_true(file_exists(root));
	assert_int_equal(driver_guest_migrate_prepare(d, &s, &inst, &cache,
	    &backing), 0);
	assert_int_equal(backing, 0);
	assert_true(file_exists(root));
	assert_int_equal(driver_guest_delete(d, UUID6), 0);
	assert_false(file_exists(dir));
	driver_free(&d);
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_guest_life),
		cmocka_unit_test(test_failure_undone),
		cmocka_unit_test(test_nics),
		cmocka_unit_test(test_volumes),
		cmocka_unit_test(test_boot_from_volume),
		cmocka_unit_test(test_migrate_prepare_cleanup),
	};

	log_init("driver_test", LOG_LVL_WARN, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
