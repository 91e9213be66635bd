/*
 * Unit tests for agent/disk.c.
 *
 * Recorded: the exact qemu-img argv and resource limits of every operation
 * (golden file tests/golden/disk/argv.txt, rewritten with
 * TS_UPDATE_GOLDEN=1), and the refusals that happen before qemu-img runs.
 * Real: qemu-img in a temporary directory making overlays, copies, blank
 * disks, growing them, reading info, the guest data reaching the disk
 * through the backing file, a raw disk holding a qcow2 header staying raw,
 * and the instance directory life cycle (links never followed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "proc.h"
#include "storage/disk.h"

#define MIB	(1024ull * 1024)
#define UUID	"7c1f0b2e-3a4d-4b5c-8d6e-9f0a1b2c3d4e"
#define INST	"/var/lib/tinystack/instances/" UUID
#define BASE	"/var/lib/tinystack/instances/_base/" \
		"5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"

static char tmp[64];

static void
path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmp, name);
}

static int
setup_tmp(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/disk_test.XXXXXX");
	return mkdtemp(tmp) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	const char *argv[] = { "rm", "-rf", "--", tmp, NULL };
	struct proc_result r = { 0 };

	proc_set_hook(NULL, NULL);
	proc_run(argv, NULL, &r);
	proc_result_clear(&r);
	return 0;
}

/* ---------------------------------------------------------- recorded */

static const char info_qcow2[] =
    "{\n    \"virtual-size\": 1073741824,\n    \"filename\": \"" INST "/disk\",\n"
    "    \"format\": \"qcow2\",\n    \"actual-size\": 200704,\n"
    "    \"backing-filename\": \"" BASE "\",\n"
    "    \"backing-filename-format\": \"raw\"\n}\n";

static void
test_recorded_argv(void **state)
{
	struct proc_recorder *rec = proc_recorder_new();
	struct disk_info di;

	assert_non_null(rec);
	assert_int_equal(proc_recorder_expect(rec, "qemu-img info", info_qcow2,
	    0), 0);
	/* overlays: flavor size, and the image's own size */
	assert_int_equal(disk_root_create(INST "/disk", BASE, "qcow2",
	    512 * MIB, 1024 * MIB, DISK_ROOT_OVERLAY), 0);
	assert_int_equal(disk_root_create(INST "/disk", BASE, "raw", 512 * MIB,
	    0, DISK_ROOT_OVERLAY), 0);
	/* copies: 3 GiB image grown to 20 GiB; same size, no resize */
	assert_int_equal(disk_root_create(INST "/disk", BASE, "vmdk",
	    3072 * MIB, 20480 * MIB, DISK_ROOT_RAW_COPY), 0);
	assert_int_equal(disk_root_create(INST "/disk", BASE, "raw", 512 * MIB,
	    512 * MIB, DISK_ROOT_RAW_COPY), 0);
	/* ephemeral and swap */
	assert_int_equal(disk_blank_create(INST "/disk.eph0", "qcow2",
	    10240 * MIB), 0);
	assert_int_equal(disk_blank_create(INST "/disk.swap", "raw", 512 * MIB),
	    0);
	/* info, then a grow that reads the size first */
	assert_int_equal(disk_info(INST "/disk", "qcow2", &di), 0);
	assert_string_equal(di.format, "qcow2");
	assert_true(di.virtual_size == 1024 * MIB);
	assert_true(di.actual_size == 200704);
	assert_true(di.has_backing);
	assert_string_equal(di.backing_file, BASE);
	assert_string_equal(di.backing_format, "raw");
	assert_int_equal(disk_grow(INST "/disk", "qcow2", 2048 * MIB), 0);
	/* equal size: only the info runs */
	assert_int_equal(disk_grow(INST "/disk", "qcow2", 1024 * MIB), 0);
	/* a snapshot's standalone copy, 1 GiB virtual */
	assert_int_equal(disk_snapshot_copy(INST "/disk", "qcow2", 1024 * MIB,
	    INST "/snapshot-5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"), 0);
	/* a resize's copy of the root disk, kept for a revert */
	assert_int_equal(disk_copy(INST "/disk", INST "/disk.resize",
	    1024 * MIB), 0);

	assert_int_equal(proc_golden_compare(proc_recorder_text(rec),
	    "tests/golden/disk/argv.txt"), 0);
	proc_recorder_free(&rec);
}

static void
test_recorded_refusals(void **state)
{
	struct proc_recorder *rec = proc_recorder_new();
	struct disk_info di;

	assert_non_null(rec);
#define NO(call, code) do { err_clear(); assert_int_equal(call, -1); \
	assert_int_equal(err_code(), code); } while (0)
	NO(disk_root_create("disk", BASE, "raw", MIB, 0, DISK_ROOT_OVERLAY),
	    TS_EINVALID);
	NO(disk_root_create(INST "/disk", "base", "raw", MIB, 0,
	    DISK_ROOT_OVERLAY), TS_EINVALID);
	NO(disk_root_create(INST "/di\nsk", BASE, "raw", MIB, 0,
	    DISK_ROOT_OVERLAY), TS_EINVALID);
	NO(disk_root_create(INST "/disk", BASE, "luks", MIB, 0,
	    DISK_ROOT_OVERLAY), TS_EINVALID);
	NO(disk_root_create(INST "/disk", BASE, "qed", MIB, 0,
	    DISK_ROOT_OVERLAY), TS_EINVALID);
	NO(disk_root_create(INST "/disk", BASE, NULL, MIB, 0,
	    DISK_ROOT_OVERLAY), TS_EINVALID);
	/* the flavor is smaller than the image */
	NO(disk_root_create(INST "/disk", BASE, "raw", 2 * MIB, MIB,
	    DISK_ROOT_OVERLAY), TS_EINVALID);
	assert_non_null(strstr(err_msg(), "smaller than the image"));
	NO(disk_root_create(INST "/disk", BASE, "raw", 0, 0,
	    DISK_ROOT_OVERLAY), TS_EINVALID);
	NO(disk_root_create(INST "/disk", BASE, "raw", MIB,
	    DISK_SIZE_MAX + 1, DISK_ROOT_OVERLAY), TS_EINVALID);
	NO(disk_root_create(INST "/disk", BASE, "raw", MIB, 0,
	    (enum disk_root_mode)5), TS_EINVALID);
	NO(disk_blank_create(INST "/disk.eph0", "raw", 0), TS_EINVALID);
	NO(disk_blank_create(INST "/disk.eph0", "vmdk", MIB), TS_EINVALID);
	NO(disk_blank_create("/tmp/../x", "raw", DISK_SIZE_MAX + 1),
	    TS_EINVALID);
	NO(disk_grow(INST "/disk", "vpc", 2 * MIB), TS_EINVALID);
	NO(disk_info(INST "/disk", "qed", &di), TS_EINVALID);
	NO(disk_info(INST "/disk", NULL, &di), TS_EINVALID);
	/* nothing of the above reached qemu-img */
	assert_int_equal(proc_recorder_count(rec), 0);

	/* never shrink: the size is read first, nothing else runs */
	assert_int_equal(proc_recorder_expect(rec, "qemu-img info", info_qcow2,
	    0), 0);
	NO(disk_grow(INST "/disk", "qcow2", 512 * MIB), TS_EINVALID);
	assert_int_equal(proc_recorder_count(rec), 1);

	/* qemu-img failing, and output that is not what info prints */
	assert_int_equal(proc_recorder_expect_full(rec, "qemu-img create", NULL,
	    "qemu-img: Could not open backing image.\n", 1), 0);
	NO(disk_blank_create(INST "/disk.swap", "raw", MIB), TS_EIO);
	assert_non_null(strstr(err_msg(), "Could not open backing image"));
	assert_int_equal(proc_recorder_expect(rec, "qemu-img info -f raw",
	    "[1, 2]", 0), 0);
	NO(disk_info(INST "/disk", "raw", &di), TS_EDECODE);
	assert_int_equal(proc_recorder_expect(rec, "qemu-img info -f vdi",
	    "{\"format\": \"vdi\", \"virtual-size\": -5}", 0), 0);
	NO(disk_info(INST "/disk", "vdi", &di), TS_EDECODE);
#undef NO
	proc_recorder_free(&rec);
}

static void
test_instance_paths(void **state)
{
	char buf[DISK_PATH_MAX], small[16];

	assert_int_equal(disk_instance_path(buf, sizeof(buf),
	    "/var/lib/tinystack/instances", UUID, NULL), 0);
	assert_string_equal(buf, INST);
	assert_int_equal(disk_instance_path(buf, sizeof(buf),
	    "/var/lib/tinystack/instances", UUID, DISK_CONSOLE_NAME), 0);
	assert_string_equal(buf, INST "/console.log");
	assert_int_equal(disk_instance_path(buf, sizeof(buf), "/i", "..", NULL),
	    -1);
	assert_int_equal(disk_instance_path(buf, sizeof(buf), "/i",
	    "7C1F0B2E-3A4D-4B5C-8D6E-9F0A1B2C3D4E", NULL), -1);
	assert_int_equal(disk_instance_path(buf, sizeof(buf), "/i",
	    "7c1f0b2e-3a4d-4b5c-8d6e-9f0a1b2c3d4/", NULL), -1);
	assert_int_equal(disk_instance_path(buf, sizeof(buf), "i", UUID, NULL),
	    -1);
	assert_int_equal(disk_instance_path(buf, sizeof(buf), "/i", UUID,
	    "../x"), -1);
	assert_int_equal(disk_instance_path(buf, sizeof(buf), "/i", UUID, ".."),
	    -1);
	assert_int_equal(disk_instance_path(buf, sizeof(buf), "/i", UUID, ""),
	    -1);
	assert_int_equal(disk_instance_path(small, sizeof(small), "/i", UUID,
	    NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

/* -------------------------------------------------------------- real */

static void
write_file(const char *p, const void *data, size_t len, off_t size)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	if (size > 0)
		assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static void
head_is(const char *p, const char *want)
{
	char buf[64] = { 0 };
	int fd = open(p, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, strlen(want)), (ssize_t)strlen(want));
	close(fd);
	assert_string_equal(buf, want);
}

/* What a guest would read from a disk: qemu-img convert to raw. */
static void
guest_view_head_is(const char *p, const char *fmt, const char *want)
{
	char out[256];
	const char *argv[] = { "qemu-img", "convert", "-f", fmt, "-O", "raw", p,
	    out, NULL };
	struct proc_result r = { 0 };

	path_in(out, sizeof(out), "view.raw");
	unlink(out);
	if (proc_run(argv, NULL, &r) != 0)
		fail_msg("%s", err_msg());
	proc_result_clear(&r);
	head_is(out, want);
	unlink(out);
}

static void
test_real_overlay_and_copy(void **state)
{
	char base[256], ov[256], ov0[256], cp[256], cp2[256];
	struct disk_info di;
	struct stat st;

	path_in(base, sizeof(base), "base.raw");
	path_in(ov, sizeof(ov), "overlay.qcow2");
	path_in(ov0, sizeof(ov0), "overlay0.qcow2");
	path_in(cp, sizeof(cp), "copy.raw");
	path_in(cp2, sizeof(cp2), "copy2.raw");
	write_file(base, "BASEMARK-0123456", 16, (off_t)(8 * MIB));

	/* overlay grown to the flavor size, backed by the base */
	assert_int_equal(disk_root_create(ov, base, "raw", 8 * MIB, 32 * MIB,
	    DISK_ROOT_OVERLAY), 0);
	assert_int_equal(disk_info(ov, "qcow2", &di), 0);
	assert_string_equal(di.format, "qcow2");
	assert_true(di.virtual_size == 32 * MIB);
	assert_true(di.has_backing);
	assert_string_equal(di.backing_file, base);
	assert_string_equal(di.backing_format, "raw");
	assert_true(di.actual_size < MIB);	/* copy on write: tiny */
	guest_view_head_is(ov, "qcow2", "BASEMARK-0123456");
	/* the header's backing name is qemu-img's */
	{
		char b[1024], bad[256];
		unsigned char h[24];
		int fd;

		assert_int_equal(disk_backing_file(ov, b, sizeof(b)), 1);
		assert_string_equal(b, base);
		/* no room for it: refused, not cut */
		err_clear();
		assert_int_equal(disk_backing_file(ov, b, strlen(base)), -1);
		assert_int_equal(err_code(), TS_EDECODE);
		/* not qcow2 */
		err_clear();
		assert_int_equal(disk_backing_file(base, b, sizeof(b)), -1);
		assert_int_equal(err_code(), TS_EDECODE);
		/* a name past the first cluster, one running past the file */
		path_in(bad, sizeof(bad), "bad.qcow2");
		assert_true((fd = open(ov, O_RDONLY)) >= 0);
		assert_int_equal(read(fd, h, sizeof(h)), (ssize_t)sizeof(h));
		close(fd);
		h[8 + 5] = 0x10;	/* offset 1 MiB + ...: past 64 KiB */
		write_file(bad, h, sizeof(h), 0);
		err_clear();
		assert_int_equal(disk_backing_file(bad, b, sizeof(b)), -1);
		assert_int_equal(err_code(), TS_EDECODE);
		h[8 + 5] = 0;
		h[8 + 7] = 200;		/* in bounds, but the file ends at 24 */
		write_file(bad, h, sizeof(h), 0);
		err_clear();
		assert_int_equal(disk_backing_file(bad, b, sizeof(b)), -1);
		assert_int_equal(err_code(), TS_EDECODE);
		unlink(bad);
	}
	/* never overwritten */
	err_clear();
	assert_int_equal(disk_root_create(ov, base, "raw", 8 * MIB, 32 * MIB,
	    DISK_ROOT_OVERLAY), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);

	/* overlay of the image's own size */
	assert_int_equal(disk_root_create(ov0, base, "raw", 8 * MIB, 0,
	    DISK_ROOT_OVERLAY), 0);
	assert_int_equal(disk_info(ov0, "qcow2", &di), 0);
	assert_true(di.virtual_size == 8 * MIB);

	/* grow the overlay; refuse to shrink it */
	assert_int_equal(disk_grow(ov, "qcow2", 64 * MIB), 0);
	assert_int_equal(disk_info(ov, "qcow2", &di), 0);
	assert_true(di.virtual_size == 64 * MIB);
	assert_int_equal(disk_grow(ov, "qcow2", 32 * MIB), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	guest_view_head_is(ov, "qcow2", "BASEMARK-0123456");
	/* a resize's copy: the overlay as it is, backing file kept; never
	 * over an existing file */
	{
		char keep[1024];

		snprintf(keep, sizeof(keep), "%s.resize", ov);
		assert_int_equal(disk_copy(ov, keep, 64 * MIB), 0);
		assert_int_equal(disk_info(keep, "qcow2", &di), 0);
		assert_true(di.virtual_size == 64 * MIB);
		assert_true(di.has_backing);
		guest_view_head_is(keep, "qcow2", "BASEMARK-0123456");
		err_clear();
		assert_int_equal(disk_copy(ov, keep, 64 * MIB), -1);
		assert_int_equal(err_code(), TS_ECONFLICT);
		unlink(keep);
	}

	/* independent raw copy, grown */
	assert_int_equal(disk_root_create(cp, base, "raw", 8 * MIB, 16 * MIB,
	    DISK_ROOT_RAW_COPY), 0);
	assert_int_equal(disk_info(cp, "raw", &di), 0);
	assert_string_equal(di.format, "raw");
	assert_true(di.virtual_size == 16 * MIB);
	assert_false(di.has_backing);
	head_is(cp, "BASEMARK-0123456");
	assert_int_equal(stat(cp, &st), 0);
	assert_true(st.st_size == (off_t)(16 * MIB));
	/* a copy from a qcow2 base (the overlay stands in for one) */
	assert_int_equal(disk_root_create(cp2, ov0, "qcow2", 8 * MIB, 0,
	    DISK_ROOT_RAW_COPY), 0);
	head_is(cp2, "BASEMARK-0123456");
}

static void
test_real_blank_disks(void **state)
{
	char raw[256], q[256], big[256];
	struct disk_info di;
	struct stat st;

	path_in(raw, sizeof(raw), "swap.raw");
	path_in(q, sizeof(q), "eph.qcow2");
	path_in(big, sizeof(big), "big.qcow2");
	assert_int_equal(disk_blank_create(raw, "raw", 16 * MIB), 0);
	assert_int_equal(stat(raw, &st), 0);
	assert_true(st.st_size == (off_t)(16 * MIB));
	assert_true(st.st_blocks * 512 < (blkcnt_t)MIB);	/* sparse */
	assert_int_equal(disk_blank_create(q, "qcow2", 64 * MIB), 0);
	assert_int_equal(disk_info(q, "qcow2", &di), 0);
	assert_true(di.virtual_size == 64 * MIB);
	assert_false(di.has_backing);
	/* a 1 TiB qcow2 needs only its metadata under the file-size cap */
	assert_int_equal(disk_blank_create(big, "qcow2", 1024ull * 1024 * MIB),
	    0);
	assert_int_equal(disk_info(big, "qcow2", &di), 0);
	assert_true(di.virtual_size == 1024ull * 1024 * MIB);
	assert_int_equal(disk_grow(raw, "raw", 32 * MIB), 0);
	assert_int_equal(stat(raw, &st), 0);
	assert_true(st.st_size == (off_t)(32 * MIB));
}

/* A guest writes a qcow2 header (backing file /etc/hostname) into its raw
 * disk. Every call states the format, so the disk stays raw. */
static void
test_real_no_probing(void **state)
{
	char evil[256], hdr[256];
	const char *mk[] = { "qemu-img", "create", "-f", "qcow2", "-F", "raw",
	    "-b", "/etc/hostname", "-u", hdr, "1M", NULL };
	struct proc_result r = { 0 };
	struct disk_info di;
	char buf[4096];
	int fd, in;
	ssize_t n;

	path_in(evil, sizeof(evil), "guest-written.raw");
	path_in(hdr, sizeof(hdr), "hdr.qcow2");
	assert_int_equal(proc_run(mk, NULL, &r), 0);
	proc_result_clear(&r);
	in = open(hdr, O_RDONLY);
	fd = open(evil, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(in >= 0 && fd >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(fd, buf, (size_t)n), n);
	assert_int_equal(ftruncate(fd, (off_t)(4 * MIB)), 0);
	close(fd);
	close(in);

	assert_int_equal(disk_info(evil, "raw", &di), 0);
	assert_string_equal(di.format, "raw");
	assert_false(di.has_backing);
	assert_true(di.virtual_size == 4 * MIB);
	/* the root disk made from it as a raw base is a plain overlay */
	path_in(hdr, sizeof(hdr), "ov.qcow2");
	assert_int_equal(disk_root_create(hdr, evil, "raw", 4 * MIB, 0,
	    DISK_ROOT_OVERLAY), 0);
	assert_int_equal(disk_info(hdr, "qcow2", &di), 0);
	assert_string_equal(di.backing_format, "raw");
}

static void
test_real_failure_leaves_nothing(void **state)
{
	char base[256], ov[256];
	struct stat st;

	path_in(base, sizeof(base), "notqcow2.raw");
	path_in(ov, sizeof(ov), "failed.qcow2");
	write_file(base, "plain", 5, (off_t)MIB);
	/* declared qcow2, really raw: qemu-img refuses the backing file */
	err_clear();
	assert_int_equal(disk_root_create(ov, base, "qcow2", MIB, 0,
	    DISK_ROOT_OVERLAY), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_int_equal(lstat(ov, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* same for a copy */
	assert_int_equal(disk_root_create(ov, base, "qcow2", MIB, 0,
	    DISK_ROOT_RAW_COPY), -1);
	assert_int_equal(lstat(ov, &st), -1);
	/* a missing base */
	path_in(base, sizeof(base), "missing.raw");
	assert_int_equal(disk_root_create(ov, base, "raw", MIB, 0,
	    DISK_ROOT_OVERLAY), -1);
	assert_int_equal(lstat(ov, &st), -1);
	/* info on a missing file */
	{
		struct disk_info di;

		assert_int_equal(disk_info(ov, "qcow2", &di), -1);
		assert_int_equal(err_code(), TS_EIO);
	}
}

static void
test_real_instance_dir(void **state)
{
	char inst[256], dir[DISK_PATH_MAX], p[DISK_PATH_MAX + 64], outside[256];
	struct stat st;
	mode_t old = umask(077);

	path_in(inst, sizeof(inst), "instances");
	path_in(outside, sizeof(outside), "outside");
	assert_int_equal(mkdir(inst, 0755), 0);
	assert_int_equal(mkdir(outside, 0755), 0);
	assert_int_equal(disk_instance_dir_create(inst, UUID), 0);
	umask(old);
	assert_int_equal(disk_instance_path(dir, sizeof(dir), inst, UUID, NULL),
	    0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);	/* despite the umask */
	assert_int_equal(disk_instance_dir_create(inst, UUID), 0);	/* again */

	/* files, a nested tree, and links pointing outside */
	snprintf(p, sizeof(p), "%s/disk", dir);
	write_file(p, "x", 1, 0);
	snprintf(p, sizeof(p), "%s/disk.config.tree", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/disk.config.tree/openstack", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/disk.config.tree/openstack/f", dir);
	write_file(p, "y", 1, 0);
	snprintf(p, sizeof(p), "%s/victim", outside);
	write_file(p, "keep", 4, 0);
	snprintf(p, sizeof(p), "%s/link-to-file", dir);
	assert_int_equal(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/disk.config.tree/link-to-dir", dir);
	assert_int_equal(symlink(outside, p), 0);

	assert_int_equal(disk_instance_dir_remove(inst, UUID), 0);
	assert_int_equal(lstat(dir, &st), -1);
	snprintf(p, sizeof(p), "%s/victim", outside);
	head_is(p, "keep");
	/* absent: fine */
	assert_int_equal(disk_instance_dir_remove(inst, UUID), 0);

	/* a symlink at the instance's name: the link goes, its target stays */
	assert_int_equal(symlink(outside, dir), 0);
	assert_int_equal(disk_instance_dir_create(inst, UUID), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(disk_instance_dir_remove(inst, UUID), 0);
	assert_int_equal(lstat(dir, &st), -1);
	head_is(p, "keep");
	/* a missing instances_path */
	path_in(p, sizeof(p), "nowhere");
	assert_int_equal(disk_instance_dir_remove(p, UUID), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_argv),
		cmocka_unit_test(test_recorded_refusals),
		cmocka_unit_test(test_instance_paths),
		cmocka_unit_test_setup_teardown(test_real_overlay_and_copy,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_real_blank_disks,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_real_no_probing,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_real_failure_leaves_nothing,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_real_instance_dir,
		    setup_tmp, teardown_tmp),
	};

	setenv("TS_SOURCE_DIR", TS_TEST_SOURCE_DIR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
