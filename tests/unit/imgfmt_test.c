/*
 * imgfmt_test: the disk-image format inspector against real images made by
 * qemu-img and genisoimage in a temporary directory, each on first use
 * (virtual sizes checked against `qemu-img info`), a LUKS header written
 * here because qemu-img cannot make one deterministically, hand-edited malicious variants of them (the
 * security-and-reliability §1.1 attacks), truncations and huge sizes. Every
 * image is inspected through imgfmt_inspect_fd on the file and on a pipe and
 * fed in 1-byte, 7-byte, 64 KiB and random chunks, and all results must be
 * identical. Memory is checked to stay bounded on a 200 MiB stream.
 *
 * Needs /usr/bin/qemu-img (qemu-utils) and genisoimage. Programs are run
 * with posix_spawn and an argv array, never a shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "imgfmt.h"

extern char **environ;

#define KIB	1024u
#define MIB	(1024u * 1024u)
#define GIB	(1024ull * 1024 * 1024)
#define BIT(f)	(1u << (f))
#define ARGV(...)	((char *const []){ __VA_ARGS__, NULL })

static char dir[64];

/* A path in the temp dir; a small ring so that several can be live. */
static const char *
P(const char *name)
{
	static char ring[8][256];
	static unsigned k;
	char *p = ring[k++ % 8];

	snprintf(p, sizeof(ring[0]), "%s/%s", dir, name);
	return p;
}

/*
 * Run argv, in directory cwd when it is non-NULL, with the output on
 * descriptor capfd (1 or 2) captured into out (always NUL-terminated) when
 * out is non-NULL, and everything else discarded. Returns the exit status, -1 when the program could not be
 * started or did not exit normally. No cmocka asserts here: fixtures are
 * built with it and report their own failure.
 */
static int
run_cap(char *const argv[], const char *cwd, int capfd, char *out,
    size_t outlen)
{
	posix_spawn_file_actions_t fa;
	int pfd[2] = { -1, -1 }, status, rc, fd;
	size_t have = 0;
	ssize_t n;
	pid_t pid;
	char sink[4096];

	if (out != NULL && pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	if (cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	for (fd = 1; fd <= 2; fd++) {
		if (out != NULL && fd == capfd)
			posix_spawn_file_actions_adddup2(&fa, pfd[1], fd);
		else
			posix_spawn_file_actions_addopen(&fa, fd, "/dev/null",
			    O_WRONLY, 0);
	}
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (out != NULL)
		close(pfd[1]);
	if (rc != 0) {
		if (out != NULL)
			close(pfd[0]);
		return -1;
	}
	if (out != NULL) {
		for (;;) {
			if (have + 1 < outlen)
				n = read(pfd[0], out + have, outlen - 1 - have);
			else
				n = read(pfd[0], sink, sizeof(sink));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (have + 1 < outlen)
				have += (size_t)n;
		}
		out[have] = '\0';
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
run(char *const argv[], char *out, size_t outlen)
{
	return run_cap(argv, NULL, 1, out, outlen);
}

#define RUN(...)	run(ARGV(__VA_ARGS__), NULL, 0)

static uint64_t
qemu_vsize_argv(char *const argv[])
{
	char out[16384], *p;

	assert_int_equal(run(argv, out, sizeof(out)), 0);
	p = strstr(out, "\"virtual-size\":");
	assert_non_null(p);
	return strtoull(p + strlen("\"virtual-size\":"), NULL, 10);
}

/* `qemu-img info` with the format given explicitly, as §1.1 demands. */
static uint64_t
qemu_vsize(const char *path, const char *fmt)
{
	return qemu_vsize_argv(ARGV("qemu-img", "info", "-f", (char *)fmt,
	    "--output=json", (char *)path));
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *b;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	b = malloc((size_t)sb.st_size + 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return b;
}

static void
spit(const char *path, const void *buf, size_t len)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* ---- inspection in every way, results compared ---- */

enum feed_mode { FEED_1, FEED_7, FEED_64K, FEED_RANDOM, FEED_MODES };

static void
feed_buf(const uint8_t *b, size_t len, enum feed_mode mode, unsigned seed,
    struct imgfmt_result *r)
{
	struct imgfmt *st;
	size_t off = 0, n = 0;

	st = imgfmt_new();
	assert_non_null(st);
	while (off < len) {
		switch (mode) {
		case FEED_1:
			n = 1;
			break;
		case FEED_7:
			n = 7;
			break;
		case FEED_64K:
			n = 64 * KIB;
			break;
		case FEED_RANDOM:
		case FEED_MODES:
			switch (rand_r(&seed) % 4) {
			case 0:
				n = 1 + (size_t)rand_r(&seed) % 16;
				break;
			case 1:
				n = 1 + (size_t)rand_r(&seed) % 4096;
				break;
			case 2:
				n = 1 + (size_t)rand_r(&seed) % (300 * KIB);
				break;
			default:
				n = 1 + (size_t)rand_r(&seed) % (3 * MIB);
				break;
			}
			break;
		}
		if (n > len - off)
			n = len - off;
		assert_int_equal(imgfmt_feed(st, b + off, n), 0);
		off += n;
		if (mode != FEED_1 || off % 4096 == 0)
			assert_true(imgfmt_buffered(st) <= IMGFMT_BUFFERED_MAX);
	}
	assert_int_equal(imgfmt_feed(st, b, 0), 0);
	assert_int_equal(imgfmt_finish(st, r), 0);
	imgfmt_free(&st);
	assert_null(st);
}

static void
assert_same(const struct imgfmt_result *a, const struct imgfmt_result *b)
{
	assert_int_equal(a->format, b->format);
	assert_string_equal(a->format_name, b->format_name);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->virtual_size, b->virtual_size);
	assert_int_equal(a->virtual_size_known, b->virtual_size_known);
	assert_int_equal(a->matched, b->matched);
	assert_int_equal(a->multiple_formats_matched,
	    b->multiple_formats_matched);
	assert_int_equal(a->has_backing_file, b->has_backing_file);
	assert_int_equal(a->has_data_file, b->has_data_file);
	assert_int_equal(a->unknown_incompat_features,
	    b->unknown_incompat_features);
	assert_int_equal(a->qcow2_incompat_features, b->qcow2_incompat_features);
	assert_int_equal(a->vmdk_extents_external, b->vmdk_extents_external);
	assert_string_equal(a->vmdk_create_type, b->vmdk_create_type);
	assert_int_equal(a->encrypted, b->encrypted);
	assert_int_equal(a->safe, b->safe);
	assert_string_equal(a->reason, b->reason);
	/* a clean verdict: unsafe exactly when there is a reason */
	assert_int_equal(a->safe, a->reason[0] == '\0');
}

static void
inspect_pipe(const char *path, struct imgfmt_result *r)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], status;
	pid_t pid;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	assert_int_equal(posix_spawnp(&pid, "cat", &fa, NULL,
	    ARGV("cat", "--", (char *)path), environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	assert_int_equal(imgfmt_inspect_fd(pfd[0], r), 0);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Inspect a file every way there is; all verdicts must agree. Edited
 * copies of large images skip the 1-byte feed (their originals had it). */
static void
inspect_modes(const char *path, struct imgfmt_result *r, bool one_byte)
{
	struct imgfmt_result x;
	size_t len;
	uint8_t *b;
	int fd, mode;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(imgfmt_inspect_fd(fd, r), 0);
	close(fd);
	b = slurp(path, &len);
	assert_int_equal(r->size, len);
	for (mode = 0; mode < FEED_MODES; mode++) {
		if (mode == FEED_1 && !one_byte)
			continue;
		feed_buf(b, len, (enum feed_mode)mode, (unsigned)len + 7u, &x);
		assert_same(r, &x);
	}
	inspect_pipe(path, &x);
	assert_same(r, &x);
	free(b);
}

static void
inspect(const char *path, struct imgfmt_result *r)
{
	inspect_modes(path, r, true);
}

/* Write a buffer to a scratch file and inspect it every way. */
static void
inspect_buf(const char *name, const void *buf, size_t len,
    struct imgfmt_result *r)
{
	spit(P(name), buf, len);
	inspect_modes(P(name), r, len <= MIB);
}

static void
expect_refused(const struct imgfmt_result *r, const char *disk_format,
    const char *msg)
{
	err_clear();
	assert_int_equal(imgfmt_check_declared(r, disk_format), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_string_equal(err_msg(), msg);
}

static void
expect_accepted(const struct imgfmt_result *r, const char *disk_format)
{
	err_clear();
	if (imgfmt_check_declared(r, disk_format) != 0)
		fail_msg("declared %s refused: %s", disk_format, err_msg());
}

/* ---- fixtures, each built on first use ---- */

/* A raw disk with an MBR-like first sector. */
static int
write_raw(const char *path)
{
	uint8_t *raw;
	size_t i;
	bool ok;
	int fd;

	if ((raw = calloc(1, MIB)) == NULL)
		return -1;
	raw[0] = 0xeb;
	raw[1] = 0x63;
	raw[2] = 0x90;
	for (i = 3; i < 440; i++)
		raw[i] = (uint8_t)(i * 7);
	raw[510] = 0x55;
	raw[511] = 0xaa;
	memcpy(raw + 4096, "filesystem", 10);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok = fd >= 0 && write(fd, raw, MIB) == (ssize_t)MIB;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	free(raw);
	return ok ? 0 : -1;
}

/* The ISO fixtures carry the raw disk as their one file. */
static int
write_isodir_disk(const char *path)
{
	char isodir[256];

	snprintf(isodir, sizeof(isodir), "%s/isodir", dir);
	if (mkdir(isodir, 0755) != 0 && errno != EEXIST)
		return -1;
	return write_raw(path);
}

/*
 * A LUKS1 image written byte by byte rather than by `qemu-img create -f
 * luks`: qemu-img times its PBKDF benchmark with the thread CPU clock and,
 * where that clock is coarse (some VMs), fails at random with "Unable to get
 * accurate CPU usage". The layout is the one qemu writes for
 * aes-256-xts-plain64 with sha256: the 592-byte header padded to 4 KiB,
 * eight 4000-stripe key-material areas of 504 sectors each, then 4 MiB of
 * payload. Slot 0 is enabled like a real header's, but its key material is
 * zeros, so no passphrase opens it: neither the inspector nor `qemu-img
 * info` (which opens LUKS headers without a secret) reads past the header.
 */
#define LUKS_KEY_BYTES		64u
#define LUKS_STRIPES		4000u
#define LUKS_SLOT_SECTORS	504u	/* 64 * 4000 bytes, 4 KiB aligned */
#define LUKS_FIRST_SLOT		8u	/* sectors: after the 4 KiB header */
#define LUKS_PAYLOAD_SECTORS	(LUKS_FIRST_SLOT + 8 * LUKS_SLOT_SECTORS)

static int
write_luks(const char *path)
{
	static const char uuid[] = "6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e";
	uint8_t h[592], *slot;
	unsigned i, s;
	bool ok;
	int fd;

	memset(h, 0, sizeof(h));
	memcpy(h, "LUKS\xba\xbe", 6);
	h[7] = 1;					/* version, BE16 */
	memcpy(h + 8, "aes", 3);			/* cipher-name[32] */
	memcpy(h + 40, "xts-plain64", 11);		/* cipher-mode[32] */
	memcpy(h + 72, "sha256", 6);			/* hash-spec[32] */
	put_be32(h + 104, LUKS_PAYLOAD_SECTORS);	/* payload-offset */
	put_be32(h + 108, LUKS_KEY_BYTES);		/* key-bytes */
	for (i = 0; i < 20; i++)			/* mk-digest[20] */
		h[112 + i] = (uint8_t)(0x11 * i + 3);
	for (i = 0; i < 32; i++)			/* mk-digest-salt[32] */
		h[132 + i] = (uint8_t)(0x2b * i + 5);
	put_be32(h + 164, 1000);			/* mk-digest-iter */
	memcpy(h + 168, uuid, sizeof(uuid) - 1);	/* uuid[40] */
	for (s = 0; s < 8; s++) {			/* 8 key slots of 48 */
		slot = h + 208 + 48 * s;
		if (s == 0) {
			put_be32(slot, 0x00ac71f3);	/* enabled */
			put_be32(slot + 4, 1000);	/* iterations */
			for (i = 0; i < 32; i++)	/* salt[32] */
				slot[8 + i] = (uint8_t)(0x3d * i + 7);
		} else {
			put_be32(slot, 0x0000dead);	/* disabled */
		}
		put_be32(slot + 40, LUKS_FIRST_SLOT + s * LUKS_SLOT_SECTORS);
		put_be32(slot + 44, LUKS_STRIPES);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok = fd >= 0 && write(fd, h, sizeof(h)) == (ssize_t)sizeof(h) &&
	    ftruncate(fd, (off_t)LUKS_PAYLOAD_SECTORS * 512 + 4 * MIB) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	return ok ? 0 : -1;
}

/*
 * Every file the tests read, and how it comes about. Built lazily so that
 * one program failing (a missing genisoimage, a qemu-img quirk) fails only
 * the tests that need its file, with the command in the message, instead of
 * the group setup hiding every test. "@name" in argv is the path of name in
 * the temp dir; relative names elsewhere (a backing file, a data file) stay
 * relative in the image, and commands run in the temp dir so that they are
 * created there.
 */
#define FIXTURE_ARGV_MAX	16

static const struct fixture {
	const char	*name;
	const char	*made_by;	/* written as a side effect of that one */
	const char	*needs;		/* built before this one's command runs */
	int		(*write)(const char *path);	/* bytes of our own */
	const char	*argv[FIXTURE_ARGV_MAX];
} fixtures[] = {
	{ "raw.img", .write = write_raw },
	{ "isodir/disk.img", .write = write_isodir_disk },
	{ "x.luks", .write = write_luks },
	{ "q2.qcow2", .argv = { "qemu-img", "create", "-q", "-f", "qcow2",
	    "-o", "compat=0.10", "@q2.qcow2", "1G" } },
	{ "q3.qcow2", .argv = { "qemu-img", "create", "-q", "-f", "qcow2",
	    "@q3.qcow2", "1G" } },
	{ "base.raw", .argv = { "qemu-img", "create", "-q", "-f", "raw",
	    "@base.raw", "1M" } },
	{ "over.qcow2", .needs = "base.raw", .argv = { "qemu-img", "create",
	    "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "@over.qcow2" } },
	{ "df.qcow2", .argv = { "qemu-img", "create", "-q", "-f", "qcow2",
	    "-o", "data_file=df.data", "@df.qcow2", "64M" } },
	{ "df.data", .made_by = "df.qcow2" },
	{ "sparse.vmdk", .argv = { "qemu-img", "create", "-q", "-f", "vmdk",
	    "@sparse.vmdk", "1G" } },
	{ "stream.vmdk", .argv = { "qemu-img", "create", "-q", "-f", "vmdk",
	    "-o", "subformat=streamOptimized", "@stream.vmdk", "1G" } },
	{ "flat.vmdk", .argv = { "qemu-img", "create", "-q", "-f", "vmdk",
	    "-o", "subformat=monolithicFlat", "@flat.vmdk", "1M" } },
	{ "flat-flat.vmdk", .made_by = "flat.vmdk" },
	{ "two.vmdk", .argv = { "qemu-img", "create", "-q", "-f", "vmdk",
	    "-o", "subformat=twoGbMaxExtentSparse", "@two.vmdk", "3G" } },
	{ "two-s001.vmdk", .made_by = "two.vmdk" },
	{ "two-s002.vmdk", .made_by = "two.vmdk" },
	{ "dyn.vhd", .argv = { "qemu-img", "create", "-q", "-f", "vpc",
	    "@dyn.vhd", "1G" } },
	{ "fixed.vhd", .argv = { "qemu-img", "create", "-q", "-f", "vpc",
	    "-o", "subformat=fixed", "@fixed.vhd", "4M" } },
	{ "x.vhdx", .argv = { "qemu-img", "create", "-q", "-f", "vhdx",
	    "@x.vhdx", "1G" } },
	{ "x.vdi", .argv = { "qemu-img", "create", "-q", "-f", "vdi",
	    "@x.vdi", "1G" } },
	{ "x.qed", .argv = { "qemu-img", "create", "-q", "-f", "qed",
	    "@x.qed", "1G" } },
	{ "x.parallels", .argv = { "qemu-img", "create", "-q", "-f",
	    "parallels", "@x.parallels", "64M" } },
	{ "x.iso", .needs = "isodir/disk.img", .argv = { "genisoimage",
	    "-quiet", "-V", "TEST", "-o", "@x.iso", "@isodir" } },
	{ "udf.iso", .needs = "isodir/disk.img", .argv = { "genisoimage",
	    "-quiet", "-udf", "-V", "TEST", "-o", "@udf.iso", "@isodir" } },
};

#define NFIXTURES	(sizeof(fixtures) / sizeof(fixtures[0]))

enum { FX_UNTRIED, FX_BUILT, FX_FAILED };
static int fx_state[NFIXTURES];
static char fx_why[NFIXTURES][1024];

static size_t
fixture_index(const char *name)
{
	size_t i;

	for (i = 0; i < NFIXTURES; i++)
		if (strcmp(fixtures[i].name, name) == 0)
			return i;
	fail_msg("no fixture is named %s", name);
	return 0;
}

/* Run a fixture's command; on failure say which command and what it said. */
static int
fixture_run(const struct fixture *f, char *why, size_t whylen)
{
	char paths[FIXTURE_ARGV_MAX][256], err[512], cmd[512];
	char *argv[FIXTURE_ARGV_MAX + 1];
	size_t i, off = 0, n;
	int rc;

	for (i = 0; i < FIXTURE_ARGV_MAX && f->argv[i] != NULL; i++) {
		if (f->argv[i][0] == '@') {
			snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir,
			    f->argv[i] + 1);
			argv[i] = paths[i];
		} else {
			argv[i] = (char *)f->argv[i];
		}
		/* the command, for the message only: it is never parsed */
		if (off < sizeof(cmd)) {
			snprintf(cmd + off, sizeof(cmd) - off, "%s%s",
			    i ? " " : "", argv[i]);
			off += strlen(cmd + off);
		}
	}
	argv[i] = NULL;
	/* In the temp dir: qemu-img create makes a data_file relative to its
	 * own cwd (while qemu opens it relative to the image), which used to
	 * leave df.data wherever the test ran. */
	rc = run_cap(argv, dir, 2, err, sizeof(err));
	if (rc == 0)
		return 0;
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == '\r'))
		err[--n] = '\0';
	if (rc == -1)
		snprintf(why, whylen, "`%s` could not be run or was killed%s%s",
		    cmd, n ? ": " : "", err);
	else
		snprintf(why, whylen, "`%s` exited with status %d%s%s", cmd,
		    rc, n ? ": " : "", err);
	return -1;
}

/* Build fixture i and what it needs, once; a failure is remembered so that
 * every test needing the file reports the same cause. */
static int
fixture_build(size_t i)
{
	const struct fixture *f = &fixtures[i];
	char *why = fx_why[i], path[256], cause[sizeof(fx_why[0])];
	size_t dep;

	if (fx_state[i] != FX_UNTRIED)
		return fx_state[i] == FX_BUILT ? 0 : -1;
	fx_state[i] = FX_FAILED;
	/* not P(): its ring must keep the paths the calling test holds */
	snprintf(path, sizeof(path), "%s/%s", dir, f->name);
	if (f->needs != NULL) {
		dep = fixture_index(f->needs);
		if (fixture_build(dep) != 0) {
			snprintf(cause, sizeof(cause), "%s", fx_why[dep]);
			snprintf(why, sizeof(fx_why[i]), "needs %s: %.900s",
			    f->needs, cause);
			return -1;
		}
	}
	if (f->made_by != NULL) {
		dep = fixture_index(f->made_by);
		if (fixture_build(dep) != 0) {
			snprintf(cause, sizeof(cause), "%s", fx_why[dep]);
			snprintf(why, sizeof(fx_why[i]), "made by %s: %.900s",
			    f->made_by, cause);
			return -1;
		}
		if (access(path, F_OK) != 0) {
			snprintf(why, sizeof(fx_why[i]), "%s did not write "
			    "it: %s", f->made_by, strerror(errno));
			return -1;
		}
	} else if (f->write != NULL) {
		if (f->write(path) != 0) {
			snprintf(why, sizeof(fx_why[i]), "writing %s: %s",
			    path, strerror(errno));
			return -1;
		}
	} else if (fixture_run(f, why, sizeof(fx_why[i])) != 0) {
		return -1;
	}
	fx_state[i] = FX_BUILT;
	return 0;
}

/* The path of a fixture, built first if need be; the test fails here,
 * naming the failed command, when it cannot be. */
static const char *
F(const char *name)
{
	size_t i = fixture_index(name);

	if (fixture_build(i) != 0)
		fail_msg("fixture %s: %s", name, fx_why[i]);
	return P(name);
}

/* The group setup only makes the temp dir: see fixtures[]. */
static int
setup(void **state)
{
	char tmpl[] = "/tmp/imgfmt_test.XXXXXX";

	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "imgfmt_test: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", tmpl);
	return 0;
}

static int
teardown(void **state)
{
	if (dir[0] != '\0' && RUN("rm", "-rf", "--", dir) != 0)
		return -1;
	return 0;
}

/* ---- raw ---- */

static void
test_raw(void **state)
{
	struct imgfmt_result r;

	inspect(F("raw.img"), &r);
	assert_int_equal(r.format, IMGFMT_RAW);
	assert_string_equal(r.format_name, "raw");
	assert_true(r.safe);
	assert_string_equal(r.reason, "");
	assert_int_equal(r.matched, 0);
	assert_true(r.virtual_size_known);
	assert_int_equal(r.virtual_size, MIB);
	assert_int_equal(r.virtual_size, qemu_vsize(F("raw.img"), "raw"));
	expect_accepted(&r, "raw");
	expect_accepted(&r, "ami");
	expect_accepted(&r, "ari");
	expect_accepted(&r, "aki");
	expect_refused(&r, "qcow2",
	    "image format mismatch: declared qcow2, detected raw");
	expect_refused(&r, "iso",
	    "image format mismatch: declared iso, detected raw");
	expect_refused(&r, "vhd",
	    "image format mismatch: declared vhd, detected raw");

	/* The empty image is raw too. */
	inspect_buf("empty.img", "", 0, &r);
	assert_int_equal(r.format, IMGFMT_RAW);
	assert_int_equal(r.virtual_size, 0);
	assert_true(r.safe);
}

/* ---- qcow2 ---- */

static void
test_qcow2_versions(void **state)
{
	static const char *const names[] = { "q2.qcow2", "q3.qcow2" };
	struct imgfmt_result r;
	size_t i;

	for (i = 0; i < 2; i++) {
		inspect(F(names[i]), &r);
		assert_int_equal(r.format, IMGFMT_QCOW2);
		assert_string_equal(r.format_name, "qcow2");
		assert_true(r.safe);
		assert_int_equal(r.matched, BIT(IMGFMT_QCOW2));
		assert_false(r.has_backing_file);
		assert_false(r.has_data_file);
		assert_false(r.unknown_incompat_features);
		assert_int_equal(r.virtual_size, GIB);
		assert_int_equal(r.virtual_size,
		    qemu_vsize(F(names[i]), "qcow2"));
		expect_accepted(&r, "qcow2");
		/* THE classic attack: qcow2 bytes declared raw. */
		expect_refused(&r, "raw",
		    "image format mismatch: declared raw, detected qcow2");
		expect_refused(&r, "ami",
		    "image format mismatch: declared ami, detected qcow2");
		expect_refused(&r, "vmdk",
		    "image format mismatch: declared vmdk, detected qcow2");
	}
}

static void
test_qcow2_backing_file(void **state)
{
	struct imgfmt_result r;

	inspect(F("over.qcow2"), &r);
	assert_int_equal(r.format, IMGFMT_QCOW2);
	assert_true(r.has_backing_file);
	assert_false(r.safe);
	assert_string_equal(r.reason, "qcow2 image has a backing file");
	assert_int_equal(r.virtual_size, MIB);
	assert_int_equal(r.virtual_size, qemu_vsize(F("over.qcow2"), "qcow2"));
	expect_refused(&r, "qcow2", "qcow2 image has a backing file: refused");
	/* CVE-2024-40767: a qcow2 with a backing file declared raw. */
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected qcow2");
}

static void
test_qcow2_data_file(void **state)
{
	struct imgfmt_result r;
	uint8_t *b;
	size_t len;

	inspect(F("df.qcow2"), &r);
	(void)F("df.data");	/* made beside the image, not in the cwd */
	assert_int_equal(r.format, IMGFMT_QCOW2);
	assert_true(r.has_data_file);
	assert_false(r.has_backing_file);
	assert_true(r.qcow2_incompat_features & 4);
	assert_false(r.unknown_incompat_features);
	assert_string_equal(r.reason, "qcow2 image has an external data file");
	assert_int_equal(r.virtual_size, 64 * MIB);
	assert_int_equal(r.virtual_size, qemu_vsize(F("df.qcow2"), "qcow2"));
	expect_refused(&r, "qcow2",
	    "qcow2 image has an external data file: refused");

	/* The data-file name extension alone still counts. */
	b = slurp(F("df.qcow2"), &len);
	b[79] &= (uint8_t)~4;
	inspect_buf("df-ext.qcow2", b, len, &r);
	assert_int_equal(r.qcow2_incompat_features & 4, 0);
	assert_true(r.has_data_file);
	assert_false(r.safe);
	free(b);
}

static void
test_qcow2_header_edits(void **state)
{
	struct imgfmt_result r;
	uint8_t *orig, *b;
	size_t len;

	orig = slurp(F("q3.qcow2"), &len);
	b = malloc(len);
	assert_non_null(b);

	/* An unknown incompatible feature bit (5); qemu refuses it too. */
	memcpy(b, orig, len);
	b[79] |= 0x20;
	inspect_buf("incompat5.qcow2", b, len, &r);
	assert_int_equal(r.format, IMGFMT_QCOW2);
	assert_true(r.unknown_incompat_features);
	assert_int_equal(r.qcow2_incompat_features, 0x20);
	assert_string_equal(r.reason,
	    "qcow2 image has unknown incompatible features 0x20");
	expect_refused(&r, "qcow2", "qcow2 image has unknown incompatible "
	    "features 0x20: refused");
	assert_int_not_equal(RUN("qemu-img", "info", "-f", "qcow2",
	    (char *)P("incompat5.qcow2")), 0);

	/* The top bit, with known bits set as well. */
	memcpy(b, orig, len);
	put_be64(b + 72, 0x8000000000000001ull);
	inspect_buf("incompat63.qcow2", b, len, &r);
	assert_true(r.unknown_incompat_features);
	assert_string_equal(r.reason, "qcow2 image has unknown incompatible "
	    "features 0x8000000000000000");

	/* Known bits: dirty and extended L2 are fine, corrupt is not. */
	memcpy(b, orig, len);
	b[79] |= 0x01;
	inspect_buf("dirty.qcow2", b, len, &r);
	assert_true(r.safe);
	assert_false(r.unknown_incompat_features);
	memcpy(b, orig, len);
	b[79] |= 0x02;
	inspect_buf("corrupt.qcow2", b, len, &r);
	assert_false(r.safe);
	assert_string_equal(r.reason, "qcow2 image is marked corrupt");

	/* Versions other than 2 and 3 (1 is the old qcow). */
	memcpy(b, orig, len);
	put_be32(b + 4, 4);
	inspect_buf("v4.qcow2", b, len, &r);
	assert_int_equal(r.format, IMGFMT_QCOW2);
	assert_string_equal(r.reason, "qcow2 version 4 is not supported");
	memcpy(b, orig, len);
	put_be32(b + 4, 1);
	put_be64(b + 8, 0x1000);	/* qcow v1 backing file offset */
	inspect_buf("v1.qcow", b, len, &r);
	assert_true(r.has_backing_file);
	assert_string_equal(r.reason, "qcow2 image has a backing file");

	/* A header extension whose length runs out of the cluster. */
	memcpy(b, orig, len);
	assert_int_equal(b[103], 112);	/* header_length */
	put_be32(b + 112 + 4, 0xfffffff0u);
	inspect_buf("extlen.qcow2", b, len, &r);
	assert_string_equal(r.reason,
	    "qcow2 header extension overruns the header cluster");

	/* A data-file extension planted in a v2 image's extension area. */
	memcpy(b, orig, 72);
	memset(b + 72, 0, 4096);
	put_be32(b + 4, 2);
	put_be32(b + 72, 0x44415441u);
	put_be32(b + 76, 10);
	memcpy(b + 80, "/etc/hosts", 10);
	inspect_buf("v2-datafile.qcow2", b, len, &r);
	assert_true(r.has_data_file);
	assert_string_equal(r.reason, "qcow2 image has an external data file");

	/* A 2 MiB header cluster whose extension list outruns what is kept. */
	{
		size_t big = 300 * KIB, k;
		uint8_t *t = calloc(1, big);

		assert_non_null(t);
		memcpy(t, orig, 112);
		put_be32(t + 20, 21);
		for (k = 112; k + 8 <= big; k += 8)
			put_be32(t + k, 0x12345678);	/* unknown type, length 0 */
		inspect_buf("longext.qcow2", t, big, &r);
		assert_string_equal(r.reason,
		    "qcow2 header extensions run past the first 256 KiB");
		free(t);
	}

	/* Cluster bits out of range. */
	memcpy(b, orig, len);
	put_be32(b + 20, 40);
	inspect_buf("cbits.qcow2", b, len, &r);
	assert_string_equal(r.reason, "qcow2 cluster_bits 40 out of range");

	free(b);
	free(orig);
}

/* ---- vmdk ---- */

static void
test_vmdk_single_file(void **state)
{
	struct imgfmt_result r;

	inspect(F("sparse.vmdk"), &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_string_equal(r.format_name, "vmdk");
	assert_true(r.safe);
	assert_string_equal(r.vmdk_create_type, "monolithicSparse");
	assert_false(r.vmdk_extents_external);
	assert_int_equal(r.virtual_size, GIB);
	assert_int_equal(r.virtual_size, qemu_vsize(F("sparse.vmdk"), "vmdk"));
	expect_accepted(&r, "vmdk");
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vmdk");

	inspect(F("stream.vmdk"), &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_true(r.safe);
	assert_string_equal(r.vmdk_create_type, "streamOptimized");
	assert_int_equal(r.virtual_size, qemu_vsize(F("stream.vmdk"), "vmdk"));
	expect_accepted(&r, "vmdk");
}

static void
test_vmdk_descriptor_files(void **state)
{
	struct imgfmt_result r;

	/* monolithicFlat: the image is a descriptor naming the data file. */
	inspect(F("flat.vmdk"), &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_true(r.vmdk_extents_external);
	assert_string_equal(r.vmdk_create_type, "monolithicFlat");
	assert_string_equal(r.reason,
	    "vmdk descriptor file keeps its data in 1 external extent file");
	assert_int_equal(r.virtual_size, qemu_vsize(F("flat.vmdk"), "vmdk"));
	expect_refused(&r, "vmdk", "vmdk descriptor file keeps its data in 1 "
	    "external extent file: refused");
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vmdk");

	/* Its extent is plain raw data. */
	inspect(F("flat-flat.vmdk"), &r);
	assert_int_equal(r.format, IMGFMT_RAW);
	assert_true(r.safe);

	inspect(F("two.vmdk"), &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_true(r.vmdk_extents_external);
	assert_string_equal(r.vmdk_create_type, "twoGbMaxExtentSparse");
	assert_string_equal(r.reason,
	    "vmdk descriptor file keeps its data in 2 external extent files");
	assert_int_equal(r.virtual_size, 3 * GIB);
	assert_int_equal(r.virtual_size, qemu_vsize(F("two.vmdk"), "vmdk"));

	/* A descriptor file naming a parent. */
	{
		static const char delta[] = "# Disk DescriptorFile\nversion=1\n"
		    "createType=\"monolithicSparse\"\n"
		    "parentFileNameHint=\"/var/lib/images/base.vmdk\"\n"
		    "RW 2048 SPARSE \"delta-s.vmdk\"\n";

		inspect_buf("delta.vmdk", delta, sizeof(delta) - 1, &r);
		assert_int_equal(r.format, IMGFMT_VMDK);
		assert_true(r.has_backing_file);
		assert_string_equal(r.reason,
		    "vmdk image names a parent (parentFileNameHint)");
	}

	/* A split extent on its own has an empty descriptor. */
	inspect(F("two-s001.vmdk"), &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_false(r.safe);
	assert_string_equal(r.reason, "vmdk embedded descriptor is empty");
}

static const char desc_head[] =
    "# Disk DescriptorFile\nversion=1\nCID=2a1b3c4d\nparentCID=ffffffff\n";
static const char desc_ddb[] =
    "\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n"
    "ddb.geometry.cylinders = \"2080\"\nddb.geometry.heads = \"16\"\n"
    "ddb.geometry.sectors = \"63\"\nddb.adapterType = \"ide\"\n";

/* sparse.vmdk with its embedded descriptor replaced. */
static void
vmdk_with_desc(const char *create_line, const char *extents,
    const char *extra, struct imgfmt_result *r)
{
	char text[4096];
	uint8_t *b;
	size_t len;
	int n;

	n = snprintf(text, sizeof(text), "%s%s\n# Extent description\n%s\n%s%s",
	    desc_head, create_line, extents, desc_ddb, extra);
	assert_true(n > 0 && (size_t)n < 20 * 512);
	b = slurp(F("sparse.vmdk"), &len);
	memset(b + 512, 0, 20 * 512);
	memcpy(b + 512, text, (size_t)n);
	inspect_buf("edit.vmdk", b, len, r);
	free(b);
}

static void
test_vmdk_descriptor_edits(void **state)
{
	const char *ct = "createType=\"monolithicSparse\"";
	const char *ext = "RW 2097152 SPARSE \"edit.vmdk\"";
	struct imgfmt_result r;

	/* The rewritten descriptor itself is fine (and qemu agrees). */
	vmdk_with_desc(ct, ext, "", &r);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, qemu_vsize(P("edit.vmdk"), "vmdk"));

	/* CVE-2022-47951: an extent naming a host path. */
	vmdk_with_desc(ct, "RW 2097152 SPARSE \"/etc/hosts\"", "", &r);
	assert_true(r.vmdk_extents_external);
	assert_string_equal(r.reason, "vmdk descriptor references other files");
	expect_refused(&r, "vmdk",
	    "vmdk descriptor references other files: refused");

	vmdk_with_desc(ct, "RW 2097152 SPARSE \"json:{'driver':'nbd'}\"", "", &r);
	assert_true(r.vmdk_extents_external);
	vmdk_with_desc(ct, "RW 2097152 SPARSE \"..\"", "", &r);
	assert_true(r.vmdk_extents_external);
	vmdk_with_desc(ct, "RW 2097152 FLAT \"edit.vmdk\" 0", "", &r);
	assert_true(r.vmdk_extents_external);
	vmdk_with_desc(ct, "RW 1048576 SPARSE \"edit.vmdk\"\n"
	    "RW 1048576 SPARSE \"other.vmdk\"", "", &r);
	assert_true(r.vmdk_extents_external);
	assert_string_equal(r.reason, "vmdk descriptor references other files");

	vmdk_with_desc("createType=\"monolithicFlat\"", ext, "", &r);
	assert_true(r.vmdk_extents_external);
	assert_string_equal(r.vmdk_create_type, "monolithicFlat");
	assert_string_equal(r.reason,
	    "vmdk createType monolithicFlat is not a single-file type");

	/* qemu finds parentFileNameHint with strstr(), even in a comment. */
	vmdk_with_desc(ct, ext, "# parentFileNameHint=\"/etc/hosts\"\n", &r);
	assert_true(r.has_backing_file);
	assert_string_equal(r.reason,
	    "vmdk image names a parent (parentFileNameHint)");

	vmdk_with_desc(ct, ext, "hello world\n", &r);
	assert_string_equal(r.reason, "vmdk descriptor line 17 is not "
	    "understood");
	vmdk_with_desc(ct, ext, "ddb.comment = \"caf\xc3\xa9\"\n", &r);
	assert_string_equal(r.reason, "vmdk descriptor is not plain ASCII text");
	vmdk_with_desc(ct, ext, "createType=\"vmfs\"\n", &r);
	assert_string_equal(r.reason,
	    "vmdk descriptor must name exactly one createType");
	vmdk_with_desc(ct, ext, "# createType=\"vmfs\"\n", &r);
	assert_string_equal(r.reason,
	    "vmdk descriptor must name exactly one createType");
	vmdk_with_desc(ct, "", "", &r);
	assert_string_equal(r.reason, "vmdk descriptor lists no extents");
	vmdk_with_desc(ct, "RW many SPARSE \"edit.vmdk\"", "", &r);
	assert_string_equal(r.reason, "vmdk extent line is malformed");
	vmdk_with_desc("", ext, "", &r);
	assert_string_equal(r.reason,
	    "vmdk descriptor must name exactly one createType");
}

static void
test_vmdk_header_edits(void **state)
{
	struct imgfmt_result r;
	uint8_t *orig, *b;
	size_t len;

	orig = slurp(F("sparse.vmdk"), &len);
	b = malloc(len);
	assert_non_null(b);

	/* Capacity 0 makes qemu open the descriptor's extents. */
	memcpy(b, orig, len);
	put_le64(b + 12, 0);
	inspect_buf("cap0.vmdk", b, len, &r);
	assert_string_equal(r.reason, "vmdk sparse header has zero capacity");

	memcpy(b, orig, len);
	put_le64(b + 28, 2);
	inspect_buf("desc2.vmdk", b, len, &r);
	assert_string_equal(r.reason,
	    "vmdk has no embedded descriptor at sector 1");

	memcpy(b, orig, len);
	put_le32(b + 4, 4);
	inspect_buf("v4.vmdk", b, len, &r);
	assert_string_equal(r.reason, "vmdk version 4 is not supported");

	/* Huge capacity: capacity * 512 would overflow. */
	memcpy(b, orig, len);
	put_le64(b + 12, 1ull << 60);
	inspect_buf("huge.vmdk", b, len, &r);
	assert_false(r.virtual_size_known);
	assert_string_equal(r.reason,
	    "vmdk capacity of 1152921504606846976 sectors is too large");

	/* Descriptor text with no NUL before the inspected region ends. */
	{
		size_t big = 300 * KIB, k;
		uint8_t *t = malloc(big);

		assert_non_null(t);
		memcpy(t, orig, 512);
		for (k = 512; k < big; k++)
			t[k] = (k % 64 == 63) ? '\n' : (k % 64 == 0 ? '#' : 'x');
		inspect_buf("longdesc.vmdk", t, big, &r);
		assert_string_equal(r.reason,
		    "vmdk descriptor runs past the first 256 KiB");
		free(t);
	}

	/* COWD, the VMware 3 sparse format. */
	memcpy(b, "COWD", 4);
	put_le32(b + 12, 2048);
	inspect_buf("x.cowd", b, len, &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_int_equal(r.virtual_size, MIB);
	assert_string_equal(r.reason,
	    "vmdk COWD (VMware 3) sparse images are not supported");

	free(b);
	free(orig);
}

/* streamOptimized with the grain directory at the end, as VMware writes
 * it: the header says GD_AT_END and a footer holds the real header. */
static void
test_vmdk_footer(void **state)
{
	struct imgfmt_result r;
	uint8_t *orig, *b;
	size_t len, blen;

	orig = slurp(F("stream.vmdk"), &len);
	assert_int_equal(len % 512, 0);
	blen = len + 1536;
	b = calloc(1, blen);
	assert_non_null(b);
	memcpy(b, orig, len);
	put_le64(b + 56, UINT64_MAX);
	put_le32(b + len + 12, 3);			/* footer marker */
	memcpy(b + len + 512, orig, 512);		/* header copy */
	inspect_buf("footer.vmdk", b, blen, &r);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, GIB);
	/* qemu reads the same footer the same way. */
	assert_int_equal(r.virtual_size, qemu_vsize(P("footer.vmdk"), "vmdk"));

	put_le32(b + len + 12, 2);
	inspect_buf("footer-bad.vmdk", b, blen, &r);
	assert_string_equal(r.reason, "vmdk footer invalid");
	put_le32(b + len + 12, 3);
	put_le64(b + len + 512 + 28, 7);
	inspect_buf("footer-desc.vmdk", b, blen, &r);
	assert_string_equal(r.reason,
	    "vmdk footer and header disagree about the descriptor");
	put_le64(b + len + 512 + 28, 1);
	put_le64(b + len + 512 + 12, 4096);
	inspect_buf("footer-cap.vmdk", b, blen, &r);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, 4096 * 512);
	put_le64(b + len + 512 + 12, 0);
	inspect_buf("footer-cap0.vmdk", b, blen, &r);
	assert_string_equal(r.reason, "vmdk footer has zero capacity");
	inspect_buf("footer-short.vmdk", b, blen - 100, &r);
	assert_string_equal(r.reason, "vmdk footer missing");
	free(b);
	free(orig);
}

static void
test_vmdk_text_probe(void **state)
{
	static const char flat[] = "version=1\nCID=1\ncreateType=\"vmfs\"\n"
	    "RW 100 VMFS \"/etc/passwd\"\n";
	static const char comments[] = "# hi\n   \r\nversion=2\r\nRW 1 FLAT "
	    "\"a\" 0\n";
	static const char not_desc[] = "\nversion=1\n";
	struct imgfmt_result r;

	inspect_buf("text1.vmdk", flat, sizeof(flat) - 1, &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_true(r.vmdk_extents_external);
	assert_string_equal(r.vmdk_create_type, "vmfs");
	assert_int_equal(r.virtual_size, 100 * 512);
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vmdk");
	inspect_buf("text2.vmdk", comments, sizeof(comments) - 1, &r);
	assert_int_equal(r.format, IMGFMT_VMDK);
	assert_false(r.safe);
	/* qemu's probe needs the version line before any other text. */
	inspect_buf("text3.img", not_desc, sizeof(not_desc) - 1, &r);
	assert_int_equal(r.format, IMGFMT_RAW);
}

/* ---- vhd ---- */

static void
vhd_fix_checksum(uint8_t *f)
{
	uint32_t sum = 0;
	size_t i;

	put_be32(f + 64, 0);
	for (i = 0; i < 512; i++)
		sum += f[i];
	put_be32(f + 64, ~sum);
}

static void
test_vhd(void **state)
{
	struct imgfmt_result r;
	uint8_t *b;
	size_t len;

	inspect(F("dyn.vhd"), &r);
	assert_int_equal(r.format, IMGFMT_VHD);
	assert_string_equal(r.format_name, "vhd");
	assert_int_equal(r.matched, BIT(IMGFMT_VHD));
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, qemu_vsize(F("dyn.vhd"), "vpc"));
	expect_accepted(&r, "vhd");
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vhd");
	assert_string_equal(imgfmt_format_qemu_driver(r.format), "vpc");

	/* Fixed: the only footer is the last 512 bytes. */
	inspect(F("fixed.vhd"), &r);
	assert_int_equal(r.format, IMGFMT_VHD);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, qemu_vsize(F("fixed.vhd"), "vpc"));
	expect_accepted(&r, "vhd");
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vhd");

	/* A bad checksum at offset 0 is a broken vhd: refused. */
	b = slurp(F("dyn.vhd"), &len);
	b[100] ^= 1;
	inspect_buf("badsum.vhd", b, len, &r);
	assert_int_equal(r.format, IMGFMT_VHD);
	assert_string_equal(r.reason, "vhd footer checksum mismatch");
	b[100] ^= 1;

	/* Differencing disks name a parent. */
	put_be32(b + 60, 4);
	vhd_fix_checksum(b);
	inspect_buf("diff.vhd", b, len, &r);
	assert_true(r.has_backing_file);
	assert_string_equal(r.reason,
	    "vhd differencing image references a parent");

	put_be32(b + 60, 5);
	vhd_fix_checksum(b);
	inspect_buf("type5.vhd", b, len, &r);
	assert_string_equal(r.reason, "vhd disk type 5 is not supported");

	/* Hyper-V sizes come from current_size; qemu caps them. */
	put_be32(b + 60, 3);
	memcpy(b + 28, "win ", 4);
	put_be64(b + 48, UINT64_MAX);
	vhd_fix_checksum(b);
	inspect_buf("huge.vhd", b, len, &r);
	assert_string_equal(r.reason,
	    "vhd virtual size exceeds qemu's 2040 GiB limit");
	put_be64(b + 48, 768 * MIB);
	vhd_fix_checksum(b);
	inspect_buf("win.vhd", b, len, &r);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, 768 * MIB);
	assert_int_equal(r.virtual_size, qemu_vsize(P("win.vhd"), "vpc"));
	/* An unknown creator: the larger of CHS and current_size. */
	memcpy(b + 28, "abcd", 4);
	vhd_fix_checksum(b);
	inspect_buf("abcd.vhd", b, len, &r);
	assert_int_equal(r.virtual_size, qemu_vsize(F("dyn.vhd"), "vpc"));
	assert_true(r.virtual_size > 768 * MIB);
	free(b);

	/* At the end, a bad checksum just means "not a vhd": raw. */
	b = slurp(F("fixed.vhd"), &len);
	b[len - 512 + 100] ^= 1;
	inspect_buf("badtail.vhd", b, len, &r);
	assert_int_equal(r.format, IMGFMT_RAW);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, len);
	expect_refused(&r, "vhd",
	    "image format mismatch: declared vhd, detected raw");
	b[len - 512 + 100] ^= 1;
	put_be32(b + len - 512 + 60, 3);
	vhd_fix_checksum(b + len - 512);
	inspect_buf("dyntail.vhd", b, len, &r);
	assert_string_equal(r.reason,
	    "vhd footer at the end of the file is not a fixed disk's");
	free(b);
}

/* ---- vhdx ---- */

static uint32_t
test_crc32c(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	uint32_t crc = 0xffffffffu, c;
	size_t i;
	int k;

	if (table[1] == 0)
		for (i = 0; i < 256; i++) {
			c = (uint32_t)i;
			for (k = 0; k < 8; k++)
				c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			table[i] = c;
		}
	for (i = 0; i < n; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#define VHDX_RT		(192 * KIB)
#define VHDX_META	(3 * MIB)	/* where qemu-img puts it */

static void
vhdx_fix_rt(uint8_t *b)
{
	put_le32(b + VHDX_RT + 4, 0);
	put_le32(b + VHDX_RT + 4, test_crc32c(b + VHDX_RT, 64 * KIB));
}

static void
test_vhdx(void **state)
{
	static const uint8_t parent[16] = {
		0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
		0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };
	static const uint8_t other[16] = "0123456789abcdef";
	struct imgfmt_result r;
	uint8_t *orig, *b;
	size_t len;
	int i;

	inspect(F("x.vhdx"), &r);
	assert_int_equal(r.format, IMGFMT_VHDX);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, GIB);
	assert_int_equal(r.virtual_size, qemu_vsize(F("x.vhdx"), "vhdx"));
	expect_accepted(&r, "vhdx");
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vhdx");

	orig = slurp(F("x.vhdx"), &len);
	b = malloc(len);
	assert_non_null(b);
	assert_memory_equal(orig + VHDX_META, "metadata", 8);
	/* The test's own CRC agrees with qemu's table. */
	memcpy(b, orig, len);
	vhdx_fix_rt(b);
	assert_memory_equal(b + VHDX_RT, orig + VHDX_RT, 16);

	memcpy(b, orig, len);
	b[VHDX_RT + 1000] ^= 1;
	inspect_buf("rtsum.vhdx", b, len, &r);
	assert_string_equal(r.reason, "vhdx region table checksum mismatch");

	/* A parent locator item (differencing disk), in place of page 83. */
	memcpy(b, orig, len);
	for (i = 0; i < 5; i++)
		if (b[VHDX_META + 32 + i * 32] == 0xab)	/* page 83 */
			memcpy(b + VHDX_META + 32 + i * 32, parent, 16);
	inspect_buf("parent.vhdx", b, len, &r);
	assert_true(r.has_backing_file);
	assert_string_equal(r.reason,
	    "vhdx differencing image references a parent");
	expect_refused(&r, "vhdx",
	    "vhdx differencing image references a parent: refused");

	/* File parameters' HasParent flag. */
	memcpy(b, orig, len);
	assert_memory_equal(b + VHDX_META + 32, "\x37\x67\xa1\xca", 4);
	b[VHDX_META + 64 * KIB + 4] |= 2;
	inspect_buf("hasparent.vhdx", b, len, &r);
	assert_true(r.has_backing_file);

	/* Unknown metadata: fine unless marked required. */
	memcpy(b, orig, len);
	memcpy(b + VHDX_META + 32 + 2 * 32, other, 16);
	put_le32(b + VHDX_META + 32 + 2 * 32 + 24, 0);
	inspect_buf("unknown.vhdx", b, len, &r);
	assert_true(r.safe);
	put_le32(b + VHDX_META + 32 + 2 * 32 + 24, 4);
	inspect_buf("required.vhdx", b, len, &r);
	assert_string_equal(r.reason,
	    "vhdx has an unknown required metadata item");

	/* No virtual disk size item. */
	memcpy(b, orig, len);
	memcpy(b + VHDX_META + 32 + 32, other, 16);
	put_le32(b + VHDX_META + 32 + 32 + 24, 0);
	inspect_buf("novds.vhdx", b, len, &r);
	assert_false(r.virtual_size_known);
	assert_string_equal(r.reason, "vhdx metadata has no virtual disk size");

	/* A metadata region off the 1 MiB grid (checksum kept valid). */
	memcpy(b, orig, len);
	for (i = 0; i < 2; i++)
		if (b[VHDX_RT + 16 + i * 32] == 0x06)
			put_le64(b + VHDX_RT + 16 + i * 32 + 16,
			    VHDX_META + 512);
	vhdx_fix_rt(b);
	inspect_buf("misplaced.vhdx", b, len, &r);
	assert_string_equal(r.reason, "vhdx metadata region (offset 0x300200, "
	    "length 1048576) is invalid");

	/* Region table: no metadata region, an unknown required region, too
	 * many entries (each with a valid checksum). */
	memcpy(b, orig, len);
	for (i = 0; i < 2; i++)
		if (b[VHDX_RT + 16 + i * 32] == 0x06)
			memcpy(b + VHDX_RT + 16 + i * 32, other, 16);
	vhdx_fix_rt(b);
	inspect_buf("nometa.vhdx", b, len, &r);
	assert_string_equal(r.reason,
	    "vhdx region table has no metadata region");
	memcpy(b, orig, len);
	memcpy(b + VHDX_RT + 16 + 2 * 32, other, 16);
	put_le32(b + VHDX_RT + 8, 3);
	put_le32(b + VHDX_RT + 16 + 2 * 32 + 28, 1);
	vhdx_fix_rt(b);
	inspect_buf("reqregion.vhdx", b, len, &r);
	assert_string_equal(r.reason, "vhdx has an unknown required region");
	put_le32(b + VHDX_RT + 8, 2048);
	vhdx_fix_rt(b);
	inspect_buf("manyregions.vhdx", b, len, &r);
	assert_string_equal(r.reason,
	    "vhdx region table has 2048 entries (limit 2047)");

	/* The virtual disk size listed twice (page 83 entry renamed). */
	memcpy(b, orig, len);
	memcpy(b + VHDX_META + 32 + 2 * 32, b + VHDX_META + 32 + 32, 16);
	inspect_buf("twovds.vhdx", b, len, &r);
	assert_string_equal(r.reason,
	    "vhdx metadata lists virtual disk size twice");

	/* Truncations at each stage. */
	inspect_buf("t1.vhdx", orig, 200 * KIB, &r);
	assert_string_equal(r.reason,
	    "vhdx image truncated before its region table");
	inspect_buf("t2.vhdx", orig, VHDX_META + 100, &r);
	assert_string_equal(r.reason, "vhdx metadata table truncated");
	inspect_buf("t3.vhdx", orig, VHDX_META + 64 * KIB + 4, &r);
	assert_string_equal(r.reason, "vhdx virtual disk size truncated");

	free(b);
	free(orig);
}

/* ---- vdi ---- */

static void
test_vdi(void **state)
{
	struct imgfmt_result r;
	uint8_t *b;
	size_t len;

	inspect(F("x.vdi"), &r);
	assert_int_equal(r.format, IMGFMT_VDI);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, GIB);
	assert_int_equal(r.virtual_size, qemu_vsize(F("x.vdi"), "vdi"));
	expect_accepted(&r, "vdi");
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vdi");

	b = slurp(F("x.vdi"), &len);
	put_le32(b + 0x4c, 4);
	inspect_buf("diff.vdi", b, len, &r);
	assert_true(r.has_backing_file);
	assert_string_equal(r.reason,
	    "vdi differencing image references a parent");
	put_le32(b + 0x4c, 1);
	put_le32(b + 0x44, 0x00020000);
	inspect_buf("v2.vdi", b, len, &r);
	assert_string_equal(r.reason, "vdi version 2.0 is not supported");
	put_le32(b + 0x44, 0x00010001);
	put_le64(b + 0x170, UINT64_MAX);
	inspect_buf("huge.vdi", b, len, &r);
	assert_int_equal(r.virtual_size, UINT64_MAX);
	assert_string_equal(r.reason,
	    "virtual size 18446744073709551615 exceeds 2^63-1 bytes");
	free(b);
}

/* ---- iso ---- */

static void
test_iso(void **state)
{
	struct imgfmt_result r;
	uint8_t *b;
	size_t len;

	inspect(F("x.iso"), &r);
	assert_int_equal(r.format, IMGFMT_ISO);
	assert_string_equal(r.format_name, "iso");
	assert_int_equal(r.matched, BIT(IMGFMT_ISO));
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, qemu_vsize(F("x.iso"), "raw"));
	expect_accepted(&r, "iso");
	/* qemu reads an ISO through its raw driver; clients default to raw */
	expect_accepted(&r, "raw");
	expect_refused(&r, "ami",
	    "image format mismatch: declared ami, detected iso");
	expect_refused(&r, "qcow2",
	    "image format mismatch: declared qcow2, detected iso");
	assert_string_equal(imgfmt_format_qemu_driver(r.format), "raw");

	inspect(F("udf.iso"), &r);
	assert_int_equal(r.format, IMGFMT_ISO);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, qemu_vsize(F("udf.iso"), "raw"));

	/* A UDF-only volume recognition sequence (no CD001). */
	b = slurp(F("udf.iso"), &len);
	memset(b + 32 * KIB, 0, 2 * 2048);
	memcpy(b + 32 * KIB + 1, "BEA01", 5);
	memcpy(b + 32 * KIB + 2048 + 1, "NSR02", 5);
	inspect_buf("udfonly.iso", b, len, &r);
	assert_int_equal(r.format, IMGFMT_ISO);
	assert_int_equal(r.virtual_size, len);
	free(b);

	/* A hybrid ISO: boot code and a partition table at offset 0. */
	b = slurp(F("x.iso"), &len);
	memcpy(b, "\xfa\x33\xc0\x8e\xd0", 5);
	b[446 + 4] = 0x17;
	b[510] = 0x55;
	b[511] = 0xaa;
	inspect_buf("hybrid.iso", b, len, &r);
	assert_int_equal(r.format, IMGFMT_ISO);
	assert_true(r.safe);

	/* The volume space size is trusted for the size, never allocated. */
	put_le32(b + 32 * KIB + 80, 0xffffffffu);
	inspect_buf("bigvol.iso", b, len, &r);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, 0xffffffffull * 2048);
	free(b);
}

static void
test_multiple_formats(void **state)
{
	struct imgfmt_result r;
	uint8_t *iso, *b, *hdr;
	size_t len, hlen;

	iso = slurp(F("x.iso"), &len);
	b = malloc(len);
	assert_non_null(b);

	/* A qcow2 header hidden in the ISO system area. */
	hdr = slurp(F("q3.qcow2"), &hlen);
	memcpy(b, iso, len);
	memcpy(b, hdr, 512);
	free(hdr);
	inspect_buf("iso-qcow2.iso", b, len, &r);
	assert_true(r.multiple_formats_matched);
	assert_int_equal(r.matched, BIT(IMGFMT_QCOW2) | BIT(IMGFMT_ISO));
	assert_int_equal(r.format, IMGFMT_QCOW2);
	assert_string_equal(r.reason,
	    "image matches more than one format (qcow2, iso)");
	expect_refused(&r, "iso",
	    "image matches more than one format (qcow2, iso): refused");
	expect_refused(&r, "qcow2",
	    "image matches more than one format (qcow2, iso): refused");
	expect_refused(&r, "raw",
	    "image matches more than one format (qcow2, iso): refused");

	/* The same with a vmdk header and with a vhd footer at 0. */
	hdr = slurp(F("sparse.vmdk"), &hlen);
	memcpy(b, iso, len);
	memcpy(b, hdr, 16 * KIB);
	free(hdr);
	inspect_buf("iso-vmdk.iso", b, len, &r);
	assert_int_equal(r.matched, BIT(IMGFMT_VMDK) | BIT(IMGFMT_ISO));
	expect_refused(&r, "iso",
	    "image matches more than one format (vmdk, iso): refused");

	hdr = slurp(F("dyn.vhd"), &hlen);
	memcpy(b, iso, len);
	memcpy(b, hdr, 512);
	inspect_buf("iso-vhd.iso", b, len, &r);
	assert_int_equal(r.matched, BIT(IMGFMT_VHD) | BIT(IMGFMT_ISO));

	/* An ISO whose last sector is a valid vhd footer. */
	memcpy(b, iso, len);
	memcpy(b + len - 512, hdr + hlen - 512, 512);
	inspect_buf("iso-vhdtail.iso", b, len, &r);
	assert_int_equal(r.matched, BIT(IMGFMT_VHD) | BIT(IMGFMT_ISO));
	assert_int_equal(r.format, IMGFMT_ISO);
	assert_false(r.safe);
	free(b);

	/* A qcow2 that ends in a vhd footer. */
	b = slurp(F("q3.qcow2"), &len);
	memcpy(b + len - 512, hdr + hlen - 512, 512);
	inspect_buf("qcow2-vhdtail.qcow2", b, len, &r);
	assert_int_equal(r.matched, BIT(IMGFMT_QCOW2) | BIT(IMGFMT_VHD));
	assert_string_equal(r.reason,
	    "image matches more than one format (qcow2, vhd)");

	/* A vdi signature at 0x40 of a qcow2 header. */
	memcpy(b + 0x40, "\x7f\x10\xda\xbe", 4);
	memset(b + len - 512, 0, 512);
	inspect_buf("qcow2-vdi.qcow2", b, len, &r);
	assert_int_equal(r.matched, BIT(IMGFMT_QCOW2) | BIT(IMGFMT_VDI));
	assert_true(r.multiple_formats_matched);
	free(b);
	free(hdr);
	free(iso);
}

/* ---- luks and always-refused formats ---- */

static void
test_luks(void **state)
{
	struct imgfmt_result r;

	inspect(F("x.luks"), &r);
	assert_int_equal(r.format, IMGFMT_LUKS);
	assert_string_equal(r.format_name, "luks");
	assert_true(r.encrypted);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, 4 * MIB);
	/* The real qemu reads the hand-written header: it opens LUKS without
	 * a secret for `info` (no IO, no key slot tried), so both the payload
	 * offset it finds and the size follow from the header alone. */
	{
		char out[16384], *p;

		assert_int_equal(run(ARGV("qemu-img", "info", "-f", "luks",
		    "--output=json", (char *)F("x.luks")), out, sizeof(out)), 0);
		p = strstr(out, "\"payload-offset\":");
		assert_non_null(p);
		assert_int_equal(strtoull(p + strlen("\"payload-offset\":"),
		    NULL, 10), LUKS_PAYLOAD_SECTORS * 512ull);
	}
	assert_int_equal(r.virtual_size, qemu_vsize(F("x.luks"), "luks"));
	expect_accepted(&r, "luks");
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected luks");
}

static void
test_refused_formats(void **state)
{
	static const char cloop[] = "#!/bin/sh\n#V2.0 Format\nmodprobe cloop "
	    "file=$0 && mount -r -t iso9660 /dev/cloop $1\n";
	uint8_t buf[1024];
	struct imgfmt_result r;

	inspect(F("x.qed"), &r);
	assert_int_equal(r.format, IMGFMT_QED);
	assert_string_equal(r.reason, "qed images are not supported");
	assert_null(imgfmt_format_qemu_driver(r.format));
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected qed");
	expect_refused(&r, "qed", "unsupported disk_format 'qed'");

	inspect(F("x.parallels"), &r);
	assert_int_equal(r.format, IMGFMT_PARALLELS);
	assert_string_equal(r.reason, "parallels images are not supported");

	memset(buf, 0, sizeof(buf));
	memcpy(buf, "Bochs Virtual HD Image", 23);
	inspect_buf("x.bochs", buf, sizeof(buf), &r);
	assert_int_equal(r.format, IMGFMT_BOCHS);
	assert_false(r.safe);

	memset(buf, 0, sizeof(buf));
	memcpy(buf, cloop, sizeof(cloop) - 1);
	inspect_buf("x.cloop", buf, sizeof(buf), &r);
	assert_int_equal(r.format, IMGFMT_CLOOP);
	assert_false(r.safe);
}

/* ---- truncation and sizes ---- */

static void
test_truncated_headers(void **state)
{
	static const struct {
		const char		*name;
		enum imgfmt_format	 fmt;
		size_t			 magic;	/* bytes needed to detect */
	} images[] = {
		{ "q2.qcow2", IMGFMT_QCOW2, 4 },
		{ "q3.qcow2", IMGFMT_QCOW2, 4 },
		{ "over.qcow2", IMGFMT_QCOW2, 4 },
		{ "sparse.vmdk", IMGFMT_VMDK, 4 },
		{ "stream.vmdk", IMGFMT_VMDK, 4 },
		{ "dyn.vhd", IMGFMT_VHD, 8 },
		{ "x.vhdx", IMGFMT_VHDX, 8 },
		{ "x.vdi", IMGFMT_VDI, 0x44 },
		{ "x.luks", IMGFMT_LUKS, 6 },
		{ "x.iso", IMGFMT_ISO, 32 * KIB + 6 },
	};
	static const size_t cuts[] = {
		0, 1, 3, 4, 5, 7, 8, 15, 16, 31, 32, 48, 64, 71, 72, 75, 79,
		100, 103, 104, 111, 112, 200, 0x170, 0x1c7, 0x1c8, 511, 512,
		513, 600, 1024, 4096, 32 * KIB + 5, 32 * KIB + 6, 34 * KIB,
		64 * KIB, 192 * KIB, 256 * KIB - 1, 256 * KIB, 300 * KIB,
	};
	struct imgfmt_result r, x;
	uint8_t *b;
	size_t i, k, len, cut;

	for (i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		b = slurp(F(images[i].name), &len);
		for (k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
			cut = cuts[k] < len ? cuts[k] : len;
			feed_buf(b, cut, FEED_64K, 1, &r);
			feed_buf(b, cut, cut <= 4096 ? FEED_1 : FEED_7, 1, &x);
			assert_same(&r, &x);
			feed_buf(b, cut, FEED_RANDOM, (unsigned)k, &x);
			assert_same(&r, &x);
			assert_int_equal(r.size, cut);
			if (cut >= images[i].magic)
				assert_int_equal(r.format, images[i].fmt);
			else
				assert_int_equal(r.format, IMGFMT_RAW);
		}
		free(b);
	}

	/* Specific verdicts on short headers. */
	b = slurp(F("q3.qcow2"), &len);
	feed_buf(b, 50, FEED_7, 1, &r);
	assert_string_equal(r.reason, "qcow2 header truncated");
	assert_true(r.virtual_size_known);	/* size field at 24 was there */
	feed_buf(b, 3, FEED_1, 1, &r);
	assert_int_equal(r.format, IMGFMT_RAW);
	assert_true(r.safe);
	free(b);
	b = slurp(F("sparse.vmdk"), &len);
	feed_buf(b, 60, FEED_7, 1, &r);
	assert_string_equal(r.reason, "vmdk header truncated");
	feed_buf(b, 400, FEED_7, 1, &r);
	assert_string_equal(r.reason, "vmdk descriptor truncated");
	free(b);
	b = slurp(F("dyn.vhd"), &len);
	feed_buf(b, 300, FEED_7, 1, &r);
	assert_string_equal(r.reason, "vhd footer truncated");
	free(b);
	b = slurp(F("x.vdi"), &len);
	feed_buf(b, 0x100, FEED_7, 1, &r);
	assert_string_equal(r.reason, "vdi header truncated");
	free(b);
	b = slurp(F("x.luks"), &len);
	feed_buf(b, 100, FEED_7, 1, &r);
	assert_string_equal(r.reason, "luks header truncated");
	free(b);
}

static void
test_huge_sizes(void **state)
{
	struct imgfmt_result r;
	uint8_t *b;
	size_t len;

	b = slurp(F("q3.qcow2"), &len);
	put_be64(b + 24, UINT64_MAX);
	inspect_buf("huge.qcow2", b, len, &r);
	assert_int_equal(r.virtual_size, UINT64_MAX);
	assert_string_equal(r.reason,
	    "virtual size 18446744073709551615 exceeds 2^63-1 bytes");
	expect_refused(&r, "qcow2", "virtual size 18446744073709551615 "
	    "exceeds 2^63-1 bytes: refused");
	/* Large but representable: reported for the caller's limits. */
	put_be64(b + 24, 1ull << 62);
	inspect_buf("big.qcow2", b, len, &r);
	assert_true(r.safe);
	assert_int_equal(r.virtual_size, 1ull << 62);
	free(b);
}

/* ---- streaming properties ---- */

static void
test_chunking_identical(void **state)
{
	static const char *const names[] = {
		"raw.img", "q2.qcow2", "q3.qcow2", "over.qcow2", "df.qcow2",
		"sparse.vmdk", "stream.vmdk", "flat.vmdk", "two.vmdk",
		"two-s002.vmdk", "dyn.vhd", "fixed.vhd", "x.vhdx", "x.vdi",
		"x.qed", "x.parallels", "x.luks", "x.iso", "udf.iso",
	};
	struct imgfmt_result r;
	size_t i;

	/* inspect() asserts every way of feeding agrees. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		inspect(F(names[i]), &r);
		assert_string_equal(r.format_name,
		    imgfmt_format_name(r.format));
	}
}

static void
test_memory_bounded(void **state)
{
	struct imgfmt_result r;
	struct imgfmt *st;
	uint8_t *zero;
	size_t i, after_first = 0;
	uint8_t *b;
	size_t len;
	int fd;

	/* A 200 MiB raw stream: the buffered amount stops growing. */
	zero = calloc(1, MIB);
	assert_non_null(zero);
	st = imgfmt_new();
	assert_non_null(st);
	for (i = 0; i < 200; i++) {
		assert_int_equal(imgfmt_feed(st, zero, MIB), 0);
		assert_true(imgfmt_buffered(st) <= IMGFMT_BUFFERED_MAX);
		if (i == 0)
			after_first = imgfmt_buffered(st);
		else
			assert_int_equal(imgfmt_buffered(st), after_first);
	}
	assert_int_equal(after_first, IMGFMT_HEAD_MAX + IMGFMT_TAIL_MAX);
	assert_int_equal(imgfmt_finish(st, &r), 0);
	imgfmt_free(&st);
	assert_int_equal(r.format, IMGFMT_RAW);
	assert_int_equal(r.virtual_size, 200ull * MIB);

	/* vhdx keeps its metadata table, and no more. */
	b = slurp(F("x.vhdx"), &len);
	st = imgfmt_new();
	assert_non_null(st);
	assert_int_equal(imgfmt_feed(st, b, len), 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(imgfmt_feed(st, zero, MIB), 0);
	assert_int_equal(imgfmt_buffered(st), IMGFMT_BUFFERED_MAX);
	imgfmt_free(&st);
	free(b);

	/* A 200 MiB sparse file through imgfmt_inspect_fd (which skips). */
	fd = open(P("sparse200.img"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 200 * (off_t)MIB), 0);
	assert_int_equal(imgfmt_inspect_fd(fd, &r), 0);
	close(fd);
	assert_int_equal(r.format, IMGFMT_RAW);
	assert_int_equal(r.size, 200ull * MIB);
	assert_int_equal(r.virtual_size, 200ull * MIB);
	free(zero);
}

/* ---- API ---- */

static void
test_api(void **state)
{
	struct imgfmt_result r;
	struct imgfmt *st = NULL;

	imgfmt_free(NULL);
	imgfmt_free(&st);
	st = imgfmt_new();
	assert_non_null(st);
	assert_int_equal(imgfmt_buffered(st), 0);
	assert_int_equal(imgfmt_feed(st, "QFI", 3), 0);
	assert_int_equal(imgfmt_finish(st, &r), 0);
	assert_int_equal(r.format, IMGFMT_RAW);
	err_clear();
	assert_int_equal(imgfmt_feed(st, "x", 1), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(imgfmt_finish(st, &r), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	imgfmt_free(&st);
	assert_null(st);

	assert_int_equal(imgfmt_inspect_fd(-1, &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	{
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(fd >= 0);
		err_clear();
		assert_int_equal(imgfmt_inspect_fd(fd, &r), -1);
		assert_int_equal(err_code(), TS_EIO);
		close(fd);
	}

	assert_string_equal(imgfmt_format_name(IMGFMT_FORMAT_COUNT), "unknown");
	assert_string_equal(imgfmt_format_name(IMGFMT_VHD), "vhd");
	assert_string_equal(imgfmt_format_qemu_driver(IMGFMT_QCOW2), "qcow2");
	assert_null(imgfmt_format_qemu_driver(IMGFMT_CLOOP));
	assert_null(imgfmt_format_qemu_driver(IMGFMT_FORMAT_COUNT));
}

static void
test_declared_policy(void **state)
{
	struct imgfmt_result r;

	memset(&r, 0, sizeof(r));
	r.format = IMGFMT_RAW;
	r.format_name = "raw";
	r.safe = true;
	expect_refused(&r, "ploop", "unsupported disk_format 'ploop'");
	expect_refused(&r, NULL, "unsupported disk_format ''");
	expect_refused(&r, "ra\nw", "unsupported disk_format 'ra?w'");
	expect_refused(&r, "RAW", "unsupported disk_format 'RAW'");
	expect_refused(&r, "a-very-long-format-name-that-goes-on-and-on",
	    "unsupported disk_format 'a-very-long-format-name-that-goe'");

	r.format = IMGFMT_VHDX;
	r.format_name = "vhdx";
	expect_accepted(&r, "vhdx");
	expect_refused(&r, "vhd",
	    "image format mismatch: declared vhd, detected vhdx");
	r.safe = false;
	snprintf(r.reason, sizeof(r.reason), "something bad");
	expect_refused(&r, "vhdx", "something bad: refused");
	/* A mismatch is reported before the format's own problem. */
	expect_refused(&r, "raw",
	    "image format mismatch: declared raw, detected vhdx");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_declared_policy),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_qcow2_versions),
		cmocka_unit_test(test_qcow2_backing_file),
		cmocka_unit_test(test_qcow2_data_file),
		cmocka_unit_test(test_qcow2_header_edits),
		cmocka_unit_test(test_vmdk_single_file),
		cmocka_unit_test(test_vmdk_descriptor_files),
		cmocka_unit_test(test_vmdk_descriptor_edits),
		cmocka_unit_test(test_vmdk_header_edits),
		cmocka_unit_test(test_vmdk_footer),
		cmocka_unit_test(test_vmdk_text_probe),
		cmocka_unit_test(test_vhd),
		cmocka_unit_test(test_vhdx),
		cmocka_unit_test(test_vdi),
		cmocka_unit_test(test_iso),
		cmocka_unit_test(test_multiple_formats),
		cmocka_unit_test(test_luks),
		cmocka_unit_test(test_refused_formats),
		cmocka_unit_test(test_truncated_headers),
		cmocka_unit_test(test_huge_sizes),
		cmocka_unit_test(test_chunking_identical),
		cmocka_unit_test(test_memory_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
