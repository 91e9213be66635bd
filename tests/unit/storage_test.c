/*
 * agent/storage block storage (volstore, volfile, vollvm, tgt, storsvc):
 *   - the file backend for real in a temporary directory (sparse create,
 *     grow only, snapshot copy, fill from another volume with qemu-img,
 *     wipe and remove, listing that ignores foreign files);
 *   - LVM and tgtadm commands recorded and compared with golden files
 *     (tests/golden/storage/, rewritten with TS_UPDATE_GOLDEN=1), the LVM
 *     JSON reports and tgtadm's show output parsed;
 *   - the storage worker's converge and its thread: host_storage in,
 *     host_storage_state out.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "buf.h"
#include "clock.h"
#include "codec.h"
#include "err.h"
#include "image/imgcache.h"
#include "msg_gen.h"
#include "proc.h"
#include "storage/storsvc.h"
#include "storage/tgt.h"
#include "storage/volfile.h"
#include "storage/vollvm.h"
#include "storage/volstore.h"

#define VA	"aaaaaaaa-0000-4000-8000-000000000001"
#define VB	"bbbbbbbb-0000-4000-8000-000000000002"
#define VC	"cccccccc-0000-4000-8000-000000000003"
#define VD	"dddddddd-0000-4000-8000-000000000004"
#define VE	"eeeeeeee-0000-4000-8000-000000000005"
#define VU	"ffffffff-0000-4000-8000-000000000006"
#define SA	"5aaaaaaa-0000-4000-8000-000000000007"
#define GIB	(1024ull * 1024 * 1024)

static char tmpdir[256];

static int
setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/storage_test.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown_dir(void **state)
{
	char cmd[512];

	/* Only the test's own directory. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
write_at(const char *path, off_t off, const char *s)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, s, strlen(s), off), (ssize_t)strlen(s));
	close(fd);
}

static int
has_at(const char *path, off_t off, const char *s)
{
	char buf[128] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, buf, strlen(s), off);
	close(fd);
	return n == (ssize_t)strlen(s) && memcmp(buf, s, n) == 0;
}

/* ------------------------------------------------------- file backend */

static void
test_file_backend(void **state)
{
	struct volstore_opts o = { .backend = "file" };
	struct volstore *vs;
	struct volstore_item *it;
	char dir[300], pa[VOLSTORE_PATH_MAX], pb[VOLSTORE_PATH_MAX],
	    ps[VOLSTORE_PATH_MAX], foreign[400];
	struct volstore_source src = { .source_volume = VA };
	struct stat st;
	size_t n;
	int fd;

	snprintf(dir, sizeof(dir), "%s/vols", tmpdir);
	o.file_dir = dir;
	assert_non_null(vs = volstore_new(&o));
	assert_string_equal(volstore_backend(vs), "file");
	assert_true(volstore_has_devices(vs));

	assert_int_equal(volstore_create(vs, VA, 1, NULL), 0);
	assert_int_equal(volstore_path(vs, VA, false, pa, sizeof(pa)), 0);
	assert_int_equal(stat(pa, &st), 0);
	assert_true((uint64_t)st.st_size == GIB);
	assert_true(st.st_blocks < 64);		/* sparse */
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second create is refused and changes nothing. */
	write_at(pa, 4096, "MARK-A");
	assert_int_equal(volstore_create(vs, VA, 2, NULL), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(stat(pa, &st), 0);
	assert_true((uint64_t)st.st_size == GIB);
	assert_true(has_at(pa, 4096, "MARK-A"));
	/* Sizes: 0 refused, grow, never shrink. */
	assert_int_equal(volstore_create(vs, VB, 0, NULL), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(volstore_extend(vs, VA, 2), 0);
	assert_int_equal(volstore_extend(vs, VA, 1), 0);
	assert_int_equal(stat(pa, &st), 0);
	assert_true((uint64_t)st.st_size == 2 * GIB);
	assert_true(has_at(pa, 4096, "MARK-A"));

	/* Snapshot: a copy holding the volume's data, 0600. */
	assert_int_equal(volstore_snap_create(vs, SA, VA), 0);
	assert_int_equal(volstore_path(vs, SA, true, ps, sizeof(ps)), 0);
	assert_true(has_at(ps, 4096, "MARK-A"));
	assert_int_equal(stat(ps, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(volstore_snap_create(vs, SA, VA), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	/* A volume filled from another (qemu-img convert -n, for real). */
	assert_int_equal(volstore_create(vs, VB, 2, &src), 0);
	assert_int_equal(volstore_path(vs, VB, false, pb, sizeof(pb)), 0);
	assert_true(has_at(pb, 4096, "MARK-A"));
	/* ... from a snapshot larger than the volume: refused, nothing left. */
	src = (struct volstore_source){ .source_snapshot = SA };
	assert_int_equal(volstore_create(vs, VC, 1, &src), -1);
	assert_int_equal(volstore_path(vs, VC, false, foreign,
	    sizeof(foreign)), 0);
	assert_int_equal(access(foreign, F_OK), -1);
	/* ... from a source not here. */
	src = (struct volstore_source){ .source_volume = VD };
	assert_int_equal(volstore_create(vs, VC, 2, &src), -1);
	assert_non_null(strstr(err_msg(), "not on this host"));
	assert_int_equal(access(foreign, F_OK), -1);

	/* Listing: ours only. */
	snprintf(foreign, sizeof(foreign), "%s/volume-not-a-uuid", dir);
	assert_true((fd = open(foreign, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	snprintf(foreign, sizeof(foreign), "%s/notes.txt", dir);
	assert_true((fd = open(foreign, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(volstore_list(vs, &it, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true((!it[i].snapshot && (strcmp(it[i].id, VA) == 0 ||
		    strcmp(it[i].id, VB) == 0)) || (it[i].snapshot &&
		    strcmp(it[i].id, SA) == 0));
	free(it);

	/* Removal: gone, and an absent one is not an error. */
	assert_int_equal(volstore_snap_remove(vs, SA), 0);
	assert_int_equal(access(ps, F_OK), -1);
	assert_int_equal(volstore_remove(vs, VA), 0);
	assert_int_equal(access(pa, F_OK), -1);
	assert_int_equal(volstore_remove(vs, VA), 0);
	assert_int_equal(volstore_list(vs, &it, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(it[0].id, VB);
	free(it);
	assert_int_equal(access(foreign, F_OK), 0);
	volstore_free(&vs);
	assert_null(vs);
}

static void
test_file_wipe(void **state)
{
	char dir[300], p[VOLSTORE_PATH_MAX];
	struct stat st;
	int fd;

	/* A file still open elsewhere when it is removed (tgtd's would be)
	 * reads back no data: its blocks were punched and truncated. */
	snprintf(dir, sizeof(dir), "%s/wipe", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(volfile_create(dir, VA, 16 * 1024 * 1024), 0);
	assert_int_equal(volfile_path(dir, VA, false, p, sizeof(p)), 0);
	write_at(p, 1024 * 1024, "SECRET-DATA");
	assert_true((fd = open(p, O_RDONLY)) >= 0);
	assert_int_equal(volfile_remove(dir, VA, false), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_blocks, 0);
	close(fd);
	assert_int_equal(access(p, F_OK), -1);
	/* Bad ids never make a path. */
	assert_int_equal(volfile_path(dir, "../x", false, p, sizeof(p)), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

/* ------------------------------------------------------ image fills */

#define IMG	"1a1a1a1a-0000-4000-8000-000000000009"
static unsigned char img_data[1024 * 1024];
static char fetched_token[64];
static uint64_t fake_now = 1000;

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* The image API stand-in: the raw image, and the token it was asked with. */
static int
img_fetch(void *arg, const char *image_id, const char *token,
    imgcache_sink_fn sink, void *sink_arg)
{
	(void)arg;
	snprintf(fetched_token, sizeof(fetched_token), "%s", token ? token :
	    "");
	if (strcmp(image_id, IMG) != 0) {
		err_set(TS_ENOT_FOUND, "no image %s", image_id);
		return -1;
	}
	return sink(img_data, sizeof(img_data), sink_arg);
}

static void
test_image_fill(void **state)
{
	unsigned char h[crypto_hash_sha512_BYTES];
	char hex[2 * crypto_hash_sha512_BYTES + 1], dir[300], cdir[300],
	    p[VOLSTORE_PATH_MAX];
	struct imgcache_opts co = { .source = { img_fetch, NULL },
	    .grace_sec = 60, .now = fake_clock };
	struct volstore_opts o = { .backend = "file" };
	struct volstore_source src = { .image_id = IMG,
	    .image_disk_format = "raw", .image_sha512 = hex,
	    .image_size = sizeof(img_data), .image_token = "cap-token-1" };
	struct imgcache *cache;
	struct volstore *vs;

	assert_true(sodium_init() >= 0);
	memcpy(img_data, "TSIMGMARK", 9);
	crypto_hash_sha512(h, img_data, sizeof(img_data));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(cdir, sizeof(cdir), "%s/cache", tmpdir);
	co.dir = cdir;
	assert_non_null(cache = imgcache_new(&co));
	snprintf(dir, sizeof(dir), "%s/imgvols", tmpdir);
	o.file_dir = dir;
	o.cache = cache;
	assert_non_null(vs = volstore_new(&o));

	/* Filled through the cache with the volume's token; the volume
	 * holds no reference on the base afterwards. */
	assert_int_equal(volstore_create(vs, VA, 1, &src), 0);
	assert_string_equal(fetched_token, "cap-token-1");
	assert_int_equal(volstore_path(vs, VA, false, p, sizeof(p)), 0);
	assert_true(has_at(p, 0, "TSIMGMARK"));
	assert_int_equal(imgcache_refs(cache, IMG), 0);
	/* Idle for the grace: pruned by the worker's call, once per
	 * interval. */
	{
		char base[400];

		snprintf(base, sizeof(base), "%s/%s", cdir, IMG);
		assert_int_equal(access(base, F_OK), 0);
		fake_now += 61;
		assert_int_equal(volstore_prune_images(vs), 1);
		assert_int_equal(access(base, F_OK), -1);
		/* The next is due in VOLSTORE_PRUNE_SEC. */
		assert_int_equal(volstore_create(vs, VD, 1, &src), 0);
		assert_int_equal(access(base, F_OK), 0);
		fake_now += 61;
		assert_int_equal(volstore_prune_images(vs), 0);
		assert_int_equal(access(base, F_OK), 0);
		assert_int_equal(volstore_remove(vs, VD), 0);
	}
	/* A checksum that does not match (a fresh image id: not cached):
	 * refused, no volume left. */
	src.image_sha512 = "00";
	assert_int_equal(volstore_create(vs, VB, 1, &src), -1);
	assert_int_equal(volstore_path(vs, VB, false, p, sizeof(p)), 0);
	assert_int_equal(access(p, F_OK), -1);
	/* No checksum at all: refused before anything is fetched. */
	src.image_sha512 = NULL;
	fetched_token[0] = '\0';
	assert_int_equal(volstore_create(vs, VB, 1, &src), -1);
	assert_non_null(strstr(err_msg(), "checksum"));
	assert_string_equal(fetched_token, "");
	assert_int_equal(access(p, F_OK), -1);
	/* Without an image cache: refused, said why. */
	volstore_free(&vs);
	o.cache = NULL;
	assert_non_null(vs = volstore_new(&o));
	src.image_sha512 = hex;
	assert_int_equal(volstore_create(vs, VB, 1, &src), -1);
	assert_non_null(strstr(err_msg(), "no image cache"));
	assert_int_equal(access(p, F_OK), -1);
	volstore_free(&vs);
	imgcache_free(&cache);
}

/* The recorded lines with the test's directory written as $DIR. */
static char *
recorded(const struct proc_recorder *rec)
{
	const char *t = proc_recorder_text(rec);
	size_t dl = strlen(tmpdir), n = 0;
	char *out = malloc(strlen(t) * 2 + 1);

	assert_non_null(out);
	while (*t) {
		if (strncmp(t, tmpdir, dl) == 0) {
			memcpy(out + n, "$DIR", 4);
			n += 4;
			t += dl;
		} else
			out[n++] = *t++;
	}
	out[n] = '\0';
	return out;
}

static void
test_file_golden(void **state)
{
	struct proc_recorder *rec;
	struct volstore_opts o = { .backend = "file" };
	struct volstore_source src = { .source_volume = VA };
	struct volstore *vs;
	char dir[300], *text;

	snprintf(dir, sizeof(dir), "%s/golden", tmpdir);
	o.file_dir = dir;
	assert_non_null(vs = volstore_new(&o));
	assert_non_null(rec = proc_recorder_new());
	/* create, extend and remove are system calls: nothing recorded */
	assert_int_equal(volstore_create(vs, VA, 1, NULL), 0);
	assert_int_equal(volstore_extend(vs, VA, 2), 0);
	assert_int_equal(proc_recorder_count(rec), 0);
	assert_int_equal(volstore_snap_create(vs, SA, VA), 0);
	assert_int_equal(volstore_create(vs, VB, 2, &src), 0);
	src = (struct volstore_source){ .source_snapshot = SA };
	assert_int_equal(volstore_create(vs, VC, 3, &src), 0);
	assert_int_equal(volstore_remove(vs, VA), 0);
	text = recorded(rec);
	assert_int_equal(proc_golden_compare(text,
	    "tests/golden/storage/file.txt"), 0);
	free(text);
	proc_recorder_free(&rec);
	volstore_free(&vs);
}

/* ------------------------------------------------------------- lvm */

static const char lvs_json[] =
    "  {\n      \"report\": [\n          {\n              \"lv\": [\n"
    "                  {\"lv_name\":\"volume-" VA "\", \"lv_size\":\"1073741824\"},\n"
    "                  {\"lv_name\":\"_snapshot-" SA "\", \"lv_size\":\"1073741824\"},\n"
    "                  {\"lv_name\":\"root\", \"lv_size\":\"8589934592\"},\n"
    "                  {\"lv_name\":\"volume-bad\", \"lv_size\":\"1\"}\n"
    "              ]\n          }\n      ]\n  }\n";
static const char vgs_json[] =
    "{\"report\":[{\"vg\":[{\"vg_size\":\"21470642176\","
    "\"vg_free\":\"19323158528\"}]}]}\n";

static void
lvm_ops(bool activation)
{
	struct vollvm_conf c = { .vg = "cinder-volumes",
	    .activation = activation };
	struct volstore_opts o = { .backend = "lvm", .lvm_vg = c.vg,
	    .lvm_activation = activation };
	struct volstore *vs;
	struct volstore_item *it;
	uint64_t total, fr;
	char p[VOLSTORE_PATH_MAX];
	size_t n;

	assert_non_null(vs = volstore_new(&o));
	assert_int_equal(volstore_has_devices(vs), activation);
	assert_int_equal(volstore_create(vs, VB, 2, NULL), 0);
	assert_int_equal(volstore_extend(vs, VA, 3), 0);
	if (activation)
		assert_int_equal(volstore_snap_create(vs, SA, VA), 0);
	else {
		assert_int_equal(volstore_snap_create(vs, SA, VA), -1);
		assert_int_equal(err_code(), TS_EUNAVAILABLE);
	}
	assert_int_equal(volstore_list(vs, &it, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(it[0].id, VA);
	assert_false(it[0].snapshot);
	assert_true(it[0].size == GIB);
	assert_string_equal(it[1].id, SA);
	assert_true(it[1].snapshot);
	free(it);
	assert_int_equal(volstore_capacity(vs, &total, &fr), 0);
	assert_true(total == 21470642176ull && fr == 19323158528ull);
	assert_int_equal(volstore_snap_remove(vs, SA), 0);
	assert_int_equal(volstore_remove(vs, VA), 0);
	/* Not listed: nothing to remove, nothing run but the listing. */
	assert_int_equal(volstore_remove(vs, VC), 0);
	assert_int_equal(vollvm_path(&c, VA, false, p, sizeof(p)), 0);
	assert_string_equal(p, "/dev/cinder-volumes/volume-" VA);
	volstore_free(&vs);
}

static void
test_lvm_golden(void **state)
{
	struct proc_recorder *rec = proc_recorder_new();
	struct volstore_opts o = { .backend = "lvm", .lvm_vg = "-bad" };

	assert_non_null(rec);
	assert_int_equal(proc_recorder_expect(rec, "lvs", lvs_json, 0), 0);
	assert_int_equal(proc_recorder_expect(rec, "vgs", vgs_json, 0), 0);
	lvm_ops(true);
	lvm_ops(false);
	assert_int_equal(proc_golden_compare(proc_recorder_text(rec),
	    "tests/golden/storage/lvm.txt"), 0);
	/* A bad group name or a bad report: refused. */
	proc_recorder_reset(rec);
	assert_null(volstore_new(&o));
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(proc_recorder_count(rec), 0);
	proc_recorder_free(&rec);
	assert_non_null(rec = proc_recorder_new());
	assert_int_equal(proc_recorder_expect(rec, "lvs", "{\"report\":7}", 0),
	    0);
	{
		struct vollvm_conf c = { .vg = "vg", .activation = true };
		struct volstore_item *it;
		size_t n;

		assert_int_equal(vollvm_list(&c, &it, &n), -1);
		assert_int_equal(err_code(), TS_EIO);
	}
	proc_recorder_free(&rec);
}

/* ------------------------------------------------------------- tgt */

static const char show_text[] =
    "Target 1: iqn.2010-10.org.openstack:volume-" VA "\n"
    "    System information:\n"
    "        Driver: iscsi\n"
    "        State: ready\n"
    "    I_T nexus information:\n"
    "        I_T nexus: 2\n"
    "            Initiator: iqn.old:host alias: none\n"
    "            Connection: 0\n"
    "                IP Address: 10.0.0.1\n"
    "        I_T nexus: 3\n"
    "            Initiator: iqn.keep:host alias: none\n"
    "            Connection: 0\n"
    "                IP Address: 10.0.0.2\n"
    "        I_T nexus: 5\n"
    "            Initiator: iqn.stray:host alias: h9\n"
    "            Connection: 0\n"
    "                IP Address: 10.0.0.9\n"
    "            Connection: 1\n"
    "                IP Address: 10.0.0.9\n"
    "        I_T nexus: x\n"
    "            Initiator: iqn.bad-sid:host alias: none\n"
    "            Connection: 0\n"
    "        I_T nexus: 6\n"
    "            Connection: 0\n"
    "    LUN information:\n"
    "        LUN: 0\n"
    "            Type: controller\n"
    "            Backing store type: null\n"
    "            Backing store path: None\n"
    "            Backing store flags: \n"
    "        LUN: 1\n"
    "            Type: disk\n"
    "            Size: 67 MB, Block size: 512\n"
    "            Backing store type: rdwr\n"
    "            Backing store path: /v/volume-" VA "\n"
    "            Backing store flags: \n"
    "    Account information:\n"
    "        old-user\n"
    "        keep-user\n"
    "    ACL information:\n"
    "        iqn.old:host\n"
    "        iqn.keep:host\n"
    "Target 3: iqn.2010-10.org.openstack:volume-" VC "\n"
    "    System information:\n"
    "        Driver: iscsi\n"
    "    I_T nexus information:\n"
    "        I_T nexus: 1\n"
    "            Initiator: iqn.c:host alias: none\n"
    "            Connection: 0\n"
    "    LUN information:\n"
    "        LUN: 0\n"
    "            Backing store path: None\n"
    "    Account information:\n"
    "        c-user (outgoing)\n"
    "    ACL information:\n"
    "Target 4: iqn.2001-04.com.example:not-ours\n"
    "    I_T nexus information:\n"
    "        I_T nexus: 1\n"
    "            Initiator: iqn.other:host alias: none\n"
    "            Connection: 0\n"
    "    LUN information:\n";

/* Captured from Debian 12's tgtd (tgt 1:1.0.85-1+deb12u1) with two
 * sessions open through qemu-io's libiscsi. */
static const char show_real[] =
    "Target 1: iqn.x:vol1\n"
    "    System information:\n"
    "        Driver: iscsi\n"
    "        State: ready\n"
    "    I_T nexus information:\n"
    "        I_T nexus: 2\n"
    "            Initiator: iqn.b:host-b alias: none\n"
    "            Connection: 0\n"
    "                IP Address: 127.0.0.1\n"
    "        I_T nexus: 3\n"
    "            Initiator: iqn.a:host-a alias: none\n"
    "            Connection: 0\n"
    "                IP Address: 127.0.0.1\n"
    "    LUN information:\n"
    "        LUN: 0\n"
    "            Type: controller\n"
    "            SCSI ID: IET     00010000\n"
    "            SCSI SN: beaf10\n"
    "            Size: 0 MB, Block size: 1\n"
    "            Online: Yes\n"
    "            Removable media: No\n"
    "            Prevent removal: No\n"
    "            Readonly: No\n"
    "            SWP: No\n"
    "            Thin-provisioning: No\n"
    "            Backing store type: null\n"
    "            Backing store path: None\n"
    "            Backing store flags: \n"
    "        LUN: 1\n"
    "            Type: disk\n"
    "            SCSI ID: IET     00010001\n"
    "            SCSI SN: beaf11\n"
    "            Size: 67 MB, Block size: 512\n"
    "            Online: Yes\n"
    "            Removable media: No\n"
    "            Prevent removal: No\n"
    "            Readonly: No\n"
    "            SWP: No\n"
    "            Thin-provisioning: No\n"
    "            Backing store type: rdwr\n"
    "            Backing store path: /tmp/tgtf/vol.img\n"
    "            Backing store flags: \n"
    "    Account information:\n"
    "        u1\n"
    "    ACL information:\n"
    "        iqn.a:host-a\n"
    "        iqn.b:host-b\n"
    ;

static void
test_show_parse(void **state)
{
	struct tgt_target *t;
	size_t n;

	assert_int_equal(tgt_show_parse(show_text, &t, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(t[0].tid, 1);
	assert_string_equal(t[0].name, TGT_IQN_PREFIX VA);
	assert_string_equal(t[0].lun1, "/v/volume-" VA);
	assert_int_equal(t[0].naccounts, 2);
	assert_string_equal(t[0].accounts[0], "old-user");
	assert_int_equal(t[0].nacl, 2);
	assert_string_equal(t[0].acl[1], "iqn.keep:host");
	assert_int_equal(t[1].tid, 3);
	assert_string_equal(t[1].lun1, "");
	assert_int_equal(t[1].naccounts, 1);
	assert_string_equal(t[1].accounts[0], "c-user");
	assert_int_equal(t[1].nacl, 0);
	assert_string_equal(t[2].name, "iqn.2001-04.com.example:not-ours");
	/* Sessions: a malformed number or a session without its initiator
	 * is skipped, never guessed. */
	assert_int_equal(t[0].nnexus, 3);
	assert_int_equal(t[0].nexus[0].sid, 2);
	assert_string_equal(t[0].nexus[0].initiator, "iqn.old:host");
	assert_int_equal(t[0].nexus[0].ncid, 1);
	assert_int_equal(t[0].nexus[0].cid[0], 0);
	assert_string_equal(t[0].nexus[1].initiator, "iqn.keep:host");
	assert_int_equal(t[0].nexus[2].sid, 5);
	assert_string_equal(t[0].nexus[2].initiator, "iqn.stray:host");
	assert_int_equal(t[0].nexus[2].ncid, 2);
	assert_int_equal(t[0].nexus[2].cid[1], 1);
	assert_int_equal(t[1].nnexus, 1);
	assert_int_equal(t[2].nnexus, 1);
	tgt_targets_free(&t, n);
	assert_null(t);

	assert_int_equal(tgt_show_parse(show_real, &t, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(t[0].name, "iqn.x:vol1");
	assert_string_equal(t[0].lun1, "/tmp/tgtf/vol.img");
	assert_int_equal(t[0].nacl, 2);
	assert_int_equal(t[0].nnexus, 2);
	assert_int_equal(t[0].nexus[0].sid, 2);
	assert_string_equal(t[0].nexus[0].initiator, "iqn.b:host-b");
	assert_int_equal(t[0].nexus[0].ncid, 1);
	assert_int_equal(t[0].nexus[0].cid[0], 0);
	assert_int_equal(t[0].nexus[1].sid, 3);
	assert_string_equal(t[0].nexus[1].initiator, "iqn.a:host-a");
	tgt_targets_free(&t, n);
	assert_null(t);
	assert_int_equal(tgt_show_parse("", &t, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tgt_show_parse("Target x: y\nTarget 0: z\n", &t, &n),
	    0);
	assert_int_equal(n, 0);
	free(t);

	/* Bounded: sessions beyond TGT_MAX_NEXUS and connections beyond
	 * TGT_MAX_CONN are not read; numbers out of range are skipped. */
	{
		struct buf b = { 0 };

		buf_printf(&b, "Target 1: iqn.x:y\n    I_T nexus information:\n"
		    "        I_T nexus: 99999999999999999999999\n"
		    "            Initiator: iqn.big:sid alias: none\n"
		    "        I_T nexus: 1\n"
		    "            Initiator: iqn.big:cid alias: none\n"
		    "            Connection: 4294967296\n"
		    "            Connection: -1\n");
		for (int i = 0; i < TGT_MAX_CONN + 2; i++)
			buf_printf(&b, "            Connection: %d\n", i);
		for (int i = 0; i < TGT_MAX_NEXUS + 10; i++)
			buf_printf(&b, "        I_T nexus: %d\n"
			    "            Initiator: iqn.many:%d alias: none\n",
			    i + 2, i);
		assert_false(b.failed);
		assert_int_equal(tgt_show_parse((const char *)b.data, &t, &n),
		    0);
		assert_int_equal(n, 1);
		assert_int_equal(t[0].nnexus, TGT_MAX_NEXUS);
		assert_string_equal(t[0].nexus[0].initiator, "iqn.big:cid");
		assert_int_equal(t[0].nexus[0].ncid, TGT_MAX_CONN);
		assert_int_equal(t[0].nexus[0].cid[0], 0);
		tgt_targets_free(&t, n);
		buf_free(&b);
	}
}

static void
test_tgt_golden(void **state)
{
	struct proc_recorder *rec = proc_recorder_new();
	struct tgt *t;
	struct tgt_acl acla[] = {
		{ "iqn.keep:host", "keep-user", "keep-secret" },
		{ "iqn.new:host", "new-user", "new-secret" },
	};
	struct tgt_acl aclb[] = { { "iqn.b:host", "b-user", "b-secret" } };
	struct tgt_acl bad[] = { { "-x", "u", "s" } };
	struct tgt_want w[5];

	assert_non_null(rec);
	assert_null(tgt_new("127.0.0.1", 3261));
	assert_null(tgt_new("127.0.0.1:3260", 0));
	assert_non_null(t = tgt_new("127.0.0.1:3261", 3261));
	assert_string_equal(tgt_portal(t), "127.0.0.1:3261");
	memset(w, 0, sizeof(w));
	snprintf(w[0].iqn, sizeof(w[0].iqn), TGT_IQN_PREFIX VA);
	w[0].path = "/v/volume-" VA;
	w[0].acls = acla;
	w[0].nacl = 2;
	snprintf(w[1].iqn, sizeof(w[1].iqn), TGT_IQN_PREFIX VB);
	w[1].path = "/v/volume-" VB;
	w[1].acls = aclb;
	w[1].nacl = 1;
	snprintf(w[2].iqn, sizeof(w[2].iqn), TGT_IQN_PREFIX VC);
	snprintf(w[3].iqn, sizeof(w[3].iqn), TGT_IQN_PREFIX VD);
	snprintf(w[4].iqn, sizeof(w[4].iqn), TGT_IQN_PREFIX VE);
	w[4].path = "/v/volume-" VE;
	w[4].acls = bad;
	w[4].nacl = 1;
	/* tgtd not answering: nothing done. */
	assert_int_equal(proc_recorder_expect(rec,
	    "tgtadm -C 3261 --lld iscsi --op show --mode target", "", 1), 0);
	assert_int_equal(tgt_converge(t, w, 5), -1);
	assert_int_equal(err_code(), TS_EUNAVAILABLE);
	assert_int_equal(proc_recorder_count(rec), 1);
	proc_recorder_reset(rec);
	assert_int_equal(proc_recorder_expect(rec,
	    "tgtadm -C 3261 --lld iscsi --op show --mode target", show_text,
	    0), 0);
	/* A new account is made at once (no delete up front); b-user was
	 * left by a crash (tgtd says it exists): deleted and made anew. */
	assert_int_equal(proc_recorder_expect(rec,
	    "tgtadm -C 3261 --lld iscsi --op new --mode account --user "
	    "b-user", "", 22), 0);
	assert_int_equal(proc_recorder_expect(rec,
	    "tgtadm -C 3261 --lld iscsi --op new --mode account --user "
	    "b-user", "", 0), 0);
	assert_int_equal(tgt_converge(t, w, 5), 0);
	assert_true(w[0].ok && w[1].ok && w[2].ok && w[3].ok);
	assert_false(w[4].ok);
	assert_non_null(strstr(w[4].msg, "bad initiator"));
	assert_int_equal(proc_golden_compare(proc_recorder_text(rec),
	    "tests/golden/storage/tgt.txt"), 0);
	tgt_free(&t);
	assert_null(t);
	proc_recorder_free(&rec);
}

/* --------------------------------------------------------- storsvc */

static struct msg_host_storage *
msg_new(const char *host, uint64_t gen)
{
	struct msg_host_storage *m = codec_new(&schema_msg_host_storage);

	assert_non_null(m);
	m->host = strdup(host);
	m->generation = gen;
	m->volumes.items = calloc(8, sizeof(*m->volumes.items));
	m->snapshots.items = calloc(8, sizeof(*m->snapshots.items));
	return m;
}

static struct sch_sto_volume *
vol_add(struct msg_host_storage *m, const char *id, bool present,
    uint64_t gb)
{
	struct sch_sto_volume *v = &m->volumes.items[m->volumes.n++];

	snprintf(v->id, sizeof(v->id), "%s", id);
	v->present = present;
	v->size_gb = gb;
	return v;
}

static void
snap_add(struct msg_host_storage *m, const char *id, const char *vol,
    bool present)
{
	struct sch_sto_snapshot *s = &m->snapshots.items[m->snapshots.n++];

	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->volume_id, sizeof(s->volume_id), "%s", vol);
	s->present = present;
}

static const struct sch_sto_status *
status_of(const struct msg_host_storage_state *st, const char *id,
    bool snap)
{
	size_t n = snap ? st->snapshots.n : st->volumes.n;
	const struct sch_sto_status *v = snap ? st->snapshots.items :
	    st->volumes.items;

	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

static struct volstore *
file_store(const char *sub, char *dir, size_t len)
{
	struct volstore_opts o = { .backend = "file" };

	snprintf(dir, len, "%s/%s", tmpdir, sub);
	o.file_dir = dir;
	return volstore_new(&o);
}

static void
test_converge(void **state)
{
	char dir[300];
	struct volstore *vs = file_store("conv", dir, sizeof(dir));
	struct msg_host_storage *m = msg_new("h1", 4);
	struct msg_host_storage_state st;
	const struct sch_sto_status *s;
	struct sch_sto_volume *v;
	char p[VOLSTORE_PATH_MAX];

	assert_non_null(vs);
	/* Already here: U (not named), R (named for removal). */
	assert_int_equal(volfile_create(dir, VU, GIB), 0);
	assert_int_equal(volfile_create(dir, VD, GIB), 0);
	vol_add(m, VA, true, 1);
	v = vol_add(m, VB, true, 2);
	v->source_volume = strdup(VA);
	vol_add(m, VD, false, 1);
	v = vol_add(m, VE, true, 1);
	v->exports.items = calloc(1, sizeof(*v->exports.items));
	v->exports.n = 1;
	v->exports.items[0].initiator = strdup("iqn.x:h2");
	v->exports.items[0].chap_user = strdup("u");
	v->exports.items[0].chap_secret = strdup("s");
	snap_add(m, SA, VA, true);
	snap_add(m, VC, VC, true);	/* of a volume not here */

	memset(&st, 0, sizeof(st));
	assert_int_equal(storsvc_converge(vs, NULL, m, &st), 0);
	assert_true(st.generation == 4);
	assert_string_equal(st.backend, "file");
	assert_string_equal(st.portal, "");
	assert_true(st.total_gb > 0);
	assert_int_equal(st.volumes.n, 4);
	assert_non_null(s = status_of(&st, VA, false));
	assert_true(s->present && s->ok && s->size_gb == 1);
	assert_null(s->iqn);
	assert_non_null(s = status_of(&st, VB, false));
	assert_true(s->present && s->ok && s->size_gb == 2);
	assert_non_null(s = status_of(&st, VD, false));
	assert_true(!s->present && s->ok);
	assert_non_null(s = status_of(&st, VE, false));
	assert_true(s->present && !s->ok);
	assert_non_null(strstr(s->message, "no iSCSI target service"));
	assert_non_null(s = status_of(&st, SA, true));
	assert_true(s->present && s->ok);
	assert_non_null(s = status_of(&st, VC, true));
	assert_true(!s->present && !s->ok);
	assert_non_null(strstr(s->message, "not on this host"));
	assert_int_equal(st.unknown.n, 1);
	assert_string_equal(st.unknown.items[0], VU);
	assert_int_equal(volfile_path(dir, VD, false, p, sizeof(p)), 0);
	assert_int_equal(access(p, F_OK), -1);
	codec_clear(&schema_msg_host_storage_state, &st);

	/* The next state: A grown, the snapshot and B removed; U, never
	 * named, stays. */
	codec_free(&schema_msg_host_storage, (void **)&m);
	m = msg_new("h1", 5);
	vol_add(m, VA, true, 3);
	vol_add(m, VB, false, 2);
	snap_add(m, SA, VA, false);
	memset(&st, 0, sizeof(st));
	assert_int_equal(storsvc_converge(vs, NULL, m, &st), 0);
	assert_non_null(s = status_of(&st, VA, false));
	assert_true(s->present && s->ok && s->size_gb == 3);
	assert_non_null(s = status_of(&st, VB, false));
	assert_true(!s->present && s->ok);
	assert_non_null(s = status_of(&st, SA, true));
	assert_true(!s->present && s->ok);
	/* E, made last time, is not named now: unknown, and kept. */
	assert_int_equal(st.unknown.n, 2);
	assert_true((strcmp(st.unknown.items[0], VU) == 0 &&
	    strcmp(st.unknown.items[1], VE) == 0) ||
	    (strcmp(st.unknown.items[0], VE) == 0 &&
	    strcmp(st.unknown.items[1], VU) == 0));
	assert_int_equal(volfile_path(dir, VU, false, p, sizeof(p)), 0);
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(volfile_path(dir, VE, false, p, sizeof(p)), 0);
	assert_int_equal(access(p, F_OK), 0);
	codec_clear(&schema_msg_host_storage_state, &st);
	codec_free(&schema_msg_host_storage, (void **)&m);
	volstore_free(&vs);
}

struct sink {
	pthread_mutex_t			 mu;
	pthread_cond_t			 cv;
	struct msg_host_storage_state	 st[8];
	char				 reply[8][CODEC_REQUEST_ID_MAX + 1];
	size_t				 n;
};

static int
sink_send(const void *buf, size_t len, void *arg)
{
	struct sink *k = arg;
	struct codec_envelope env;

	memset(&env, 0, sizeof(env));
	if (codec_envelope_decode(buf, len, SCHEMA_FROM_AGENT, &env) == -1)
		return -1;
	pthread_mutex_lock(&k->mu);
	if (env.type == &schema_msg_host_storage_state && k->n < 8) {
		struct msg_host_storage_state *st = env.body;

		snprintf(k->reply[k->n], sizeof(k->reply[k->n]), "%s",
		    st->in_reply_to ? st->in_reply_to : "");
		k->st[k->n++] = *st;
		memset(st, 0, sizeof(*st));
	}
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	codec_envelope_clear(&env);
	return 0;
}

static void
test_worker(void **state)
{
	char dir[300];
	struct volstore *vs = file_store("worker", dir, sizeof(dir));
	struct tgt *tg = NULL;
	struct sink k = { .n = 0 };
	struct storsvc *s;
	struct msg_host_storage *m;
	int64_t until;

	pthread_mutex_init(&k.mu, NULL);
	pthread_cond_init(&k.cv, NULL);
	assert_non_null(vs);
	assert_non_null(s = storsvc_new(&vs, &tg, "h1", 60000, sink_send,
	    &k));
	assert_null(vs);
	/* For another host: ignored. Then ours. */
	m = msg_new("h2", 7);
	vol_add(m, VA, true, 1);
	storsvc_submit(s, &m, "req-other");
	assert_null(m);
	m = msg_new("h1", 8);
	vol_add(m, VA, true, 1);
	storsvc_submit(s, &m, "req-ours");
	until = clock_mono_ms() + 20000;
	pthread_mutex_lock(&k.mu);
	while (k.n == 0 && clock_mono_ms() < until) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&k.cv, &k.mu, &ts);
	}
	pthread_mutex_unlock(&k.mu);
	storsvc_free(&s);
	assert_null(s);
	assert_int_equal(k.n, 1);
	assert_true(k.st[0].generation == 8);
	assert_string_equal(k.reply[0], "req-ours");
	assert_int_equal(k.st[0].volumes.n, 1);
	assert_true(k.st[0].volumes.items[0].ok);
	for (size_t i = 0; i < k.n; i++)
		codec_clear(&schema_msg_host_storage_state, &k.st[i]);
	pthread_cond_destroy(&k.cv);
	pthread_mutex_destroy(&k.mu);
}

/* ---- volume uploads (os-volume_upload_image) ------------------------------ */

#define IMG1	"1a000000-0000-4000-8000-000000000001"
#define IMG2	"2b000000-0000-4000-8000-000000000002"

struct fake_up {
	pthread_mutex_t	mu;
	pthread_cond_t	cv;
	int		calls;
	int		fail;		/* the next upload fails */
	int		hold;		/* the next upload waits for release */
	int		held;		/* one is waiting */
	char		head[8];	/* the first bytes of the file PUT */
	char		token[32];
	char		marker[16];	/* what the volume had at 1 MiB */
	off_t		marker_at;
};

/* The agent's imgcache_http_upload() stand-in, on the upload's thread:
 * reads the converted file as the image API would. */
static int
fake_upload(void *arg, const char *image_id, const char *token,
    const char *path)
{
	struct fake_up *f = arg;
	int fd = open(path, O_RDONLY), fail;

	pthread_mutex_lock(&f->mu);
	f->calls++;
	snprintf(f->token, sizeof(f->token), "%s", token);
	if (fd >= 0) {
		if (pread(fd, f->head, sizeof(f->head), 0) !=
		    (ssize_t)sizeof(f->head))
			memset(f->head, 0, sizeof(f->head));
		if (f->marker_at > 0 && pread(fd, f->marker,
		    sizeof(f->marker) - 1, f->marker_at) <= 0)
			f->marker[0] = '\0';
		close(fd);
	}
	if (f->hold) {
		int64_t until = clock_mono_ms() + 30000;

		f->held = 1;
		pthread_cond_broadcast(&f->cv);
		while (f->hold && clock_mono_ms() < until) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		}
		f->held = 0;
	}
	fail = f->fail;
	f->fail = 0;
	pthread_mutex_unlock(&f->mu);
	if (fd < 0) {
		err_set(TS_EIO, "fake upload: %s", path);
		return -1;
	}
	if (fail) {
		err_set(TS_EUNAVAILABLE, "imgcache: upload of image %s: 503",
		    image_id);
		return -1;
	}
	return 0;
}

/* The first report from index `from` on that answers image for VA
 * (bounded wait); its index. */
static size_t
wait_answer(struct sink *k, size_t from, const char *image)
{
	int64_t until = clock_mono_ms() + 60000;
	size_t i = from;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		for (; i < k->n; i++) {
			const struct sch_sto_status *st = status_of(&k->st[i],
			    VA, false);

			if (st != NULL && st->upload_image_id != NULL &&
			    strcmp(st->upload_image_id, image) == 0) {
				pthread_mutex_unlock(&k->mu);
				return i;
			}
		}
		if (k->n == 8 || clock_mono_ms() >= until)
			break;
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&k->cv, &k->mu, &ts);
		}
	}
	pthread_mutex_unlock(&k->mu);
	fail_msg("no answer for the upload of %s", image);
	return 0;
}

static size_t
nreports(struct sink *k)
{
	size_t n;

	pthread_mutex_lock(&k->mu);
	n = k->n;
	pthread_mutex_unlock(&k->mu);
	return n;
}

static struct msg_host_storage *
up_msg(uint64_t gen, const char *image, const char *fmt, const char *tok)
{
	struct msg_host_storage *m = msg_new("h1", gen);
	struct sch_sto_volume *v = vol_add(m, VA, true, 1);

	if (image != NULL) {
		v->upload_image_id = strdup(image);
		v->upload_disk_format = strdup(fmt);
		v->upload_token = tok ? strdup(tok) : NULL;
	}
	return m;
}

static void
test_worker_upload(void **state)
{
	char dir[300], updir[300], p[VOLSTORE_PATH_MAX];
	struct volstore *vs = file_store("upload", dir, sizeof(dir));
	struct tgt *tg = NULL;
	struct sink k = { .n = 0 };
	struct fake_up f = { .calls = 0 };
	const struct sch_sto_status *st;
	struct storsvc *s;
	struct msg_host_storage *m;
	size_t i, n;

	pthread_mutex_init(&k.mu, NULL);
	pthread_cond_init(&k.cv, NULL);
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	assert_non_null(vs);
	snprintf(updir, sizeof(updir), "%s/uploads", tmpdir);
	assert_int_equal(mkdir(updir, 0700), 0);
	/* Known bytes at 1 MiB of VA. */
	assert_int_equal(volfile_create(dir, VA, GIB), 0);
	assert_int_equal(volfile_path(dir, VA, false, p, sizeof(p)), 0);
	write_at(p, 1 << 20, "TSUPLOAD");
	assert_non_null(s = storsvc_new(&vs, &tg, "h1", 60000, sink_send,
	    &k));
	storsvc_set_uploader(s, updir, fake_upload, &f);

	/* A raw upload: the volume's bytes, answered ok; the worker
	 * converges on while it runs (VB made meanwhile). */
	f.marker_at = 1 << 20;
	f.hold = 1;
	m = up_msg(1, IMG1, "raw", "cap-1");
	storsvc_submit(s, &m, "req-1");
	pthread_mutex_lock(&f.mu);
	{
		int64_t until = clock_mono_ms() + 30000;

		while (!f.held && clock_mono_ms() < until) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&f.cv, &f.mu, &ts);
		}
	}
	assert_true(f.held);
	pthread_mutex_unlock(&f.mu);
	n = nreports(&k);
	m = up_msg(2, IMG1, "raw", "cap-1");
	vol_add(m, VB, true, 1);
	storsvc_submit(s, &m, "req-2");
	{
		int64_t until = clock_mono_ms() + 30000;

		while (nreports(&k) <= n && clock_mono_ms() < until)
			usleep(10000);
	}
	pthread_mutex_lock(&k.mu);
	assert_true(k.n > n);
	assert_non_null(st = status_of(&k.st[k.n - 1], VB, false));
	assert_true(st->present && st->ok);	/* made during the upload */
	assert_non_null(st = status_of(&k.st[k.n - 1], VA, false));
	assert_null(st->upload_image_id);	/* still running */
	pthread_mutex_unlock(&k.mu);
	pthread_mutex_lock(&f.mu);
	f.hold = 0;
	pthread_cond_broadcast(&f.cv);
	pthread_mutex_unlock(&f.mu);
	i = wait_answer(&k, 0, IMG1);
	pthread_mutex_lock(&f.mu);
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.token, "cap-1");
	assert_string_equal(f.marker, "TSUPLOAD");
	pthread_mutex_unlock(&f.mu);
	assert_non_null(st = status_of(&k.st[i], VA, false));
	assert_true(st->ok);
	assert_true(st->has_upload_ok && st->upload_ok);
	assert_null(st->upload_message);
	/* the converted file is gone */
	snprintf(p, sizeof(p), "%s/upload-%s", updir, IMG1);
	assert_int_equal(access(p, F_OK), -1);

	/* Named again (a re-send): answered at once, not uploaded twice. */
	n = nreports(&k);
	m = up_msg(3, IMG1, "raw", "cap-1");
	storsvc_submit(s, &m, "req-3");
	i = wait_answer(&k, n, IMG1);
	assert_non_null(st = status_of(&k.st[i], VA, false));
	assert_true(st->has_upload_ok && st->upload_ok);

	/* qcow2, and the upload fails: answered with the reason. */
	pthread_mutex_lock(&f.mu);
	f.marker_at = 0;
	f.fail = 1;
	pthread_mutex_unlock(&f.mu);
	m = up_msg(4, IMG2, "qcow2", "cap-2");
	storsvc_submit(s, &m, "req-4");
	i = wait_answer(&k, n, IMG2);
	pthread_mutex_lock(&f.mu);
	assert_int_equal(f.calls, 2);
	assert_memory_equal(f.head, "QFI\xfb", 4);
	pthread_mutex_unlock(&f.mu);
	assert_non_null(st = status_of(&k.st[i], VA, false));
	assert_true(st->ok);	/* the volume itself is fine */
	assert_true(st->has_upload_ok && !st->upload_ok);
	assert_non_null(strstr(st->upload_message, "503"));
	storsvc_free(&s);
	for (size_t x = 0; x < k.n; x++)
		codec_clear(&schema_msg_host_storage_state, &k.st[x]);
	k.n = 0;

	/* Without a capability, or in a format qemu-img is not asked for:
	 * failed, no upload. */
	vs = file_store("upload", dir, sizeof(dir));
	assert_non_null(s = storsvc_new(&vs, &tg, "h1", 60000, sink_send,
	    &k));
	storsvc_set_uploader(s, updir, fake_upload, &f);
	m = up_msg(5, IMG1, "raw", NULL);
	storsvc_submit(s, &m, "req-5");
	i = wait_answer(&k, 0, IMG1);
	assert_non_null(st = status_of(&k.st[i], VA, false));
	assert_true(st->has_upload_ok && !st->upload_ok);
	assert_non_null(strstr(st->upload_message, "no upload capability"));
	m = up_msg(6, IMG2, "vmdk", "cap-3");
	storsvc_submit(s, &m, "req-6");
	i = wait_answer(&k, i + 1, IMG2);
	assert_non_null(st = status_of(&k.st[i], VA, false));
	assert_true(st->has_upload_ok && !st->upload_ok);
	assert_non_null(strstr(st->upload_message, "neither raw nor qcow2"));
	pthread_mutex_lock(&f.mu);
	assert_int_equal(f.calls, 2);
	pthread_mutex_unlock(&f.mu);

	/* Not named: no answer. */
	n = nreports(&k);
	m = up_msg(7, NULL, NULL, NULL);
	storsvc_submit(s, &m, "req-7");
	{
		int64_t until = clock_mono_ms() + 30000;

		while (nreports(&k) <= n && clock_mono_ms() < until)
			usleep(10000);
	}
	pthread_mutex_lock(&k.mu);
	assert_true(k.n > n);
	assert_non_null(st = status_of(&k.st[k.n - 1], VA, false));
	assert_null(st->upload_image_id);
	assert_false(st->has_upload_ok);
	pthread_mutex_unlock(&k.mu);

	storsvc_free(&s);
	for (size_t x = 0; x < k.n; x++)
		codec_clear(&schema_msg_host_storage_state, &k.st[x]);
	pthread_cond_destroy(&k.cv);
	pthread_mutex_destroy(&k.mu);
	pthread_cond_destroy(&f.cv);
	pthread_mutex_destroy(&f.mu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_backend),
		cmocka_unit_test(test_file_wipe),
		cmocka_unit_test(test_image_fill),
		cmocka_unit_test(test_file_golden),
		cmocka_unit_test(test_lvm_golden),
		cmocka_unit_test(test_show_parse),
		cmocka_unit_test(test_tgt_golden),
		cmocka_unit_test(test_converge),
		cmocka_unit_test(test_worker),
		cmocka_unit_test(test_worker_upload),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
