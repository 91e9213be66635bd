/*
 * Unit tests for agent/configdrive.c: meta_data.json (golden files in
 * tests/golden/configdrive/, rewritten with TS_UPDATE_GOLDEN=1), field
 * validation, the genisoimage argv (recorded by a hook that also makes the
 * output file), leftovers of an interrupted build, and a real ISO built
 * with genisoimage, recognised as ISO 9660 by common/imgfmt and read back
 * with isoinfo.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "imgfmt.h"
#include "proc.h"
#include "virt/configdrive.h"
#include "virt/driver.h"

#define UUID	"2d6f8a1b-3c4e-4f50-8a9b-0c1d2e3f4a5b"

static char tmp[64];

static struct ts_strmap_ent meta_items[] = {
	{ .k = "role", .v = "web" },
	{ .k = "owner", .v = "ops \"team\" <a&b>" },
	{ .k = "unicode", .v = "caf\xc3\xa9" },
};
static struct ts_strmap meta = { .items = meta_items, .n = 3 };

static const char user_data[] = "#cloud-config\nruncmd:\n - echo hi\n";

static struct configdrive_spec
full_spec(void)
{
	struct configdrive_spec s = {
		.uuid = UUID,
		.name = "Web Server #1 (prod)",
		.availability_zone = "az-1",
		.project_id = "6c1d5ae7a9b04a6b8e1f2d3c4b5a6978",
		.launch_index = 2,
		.key_name = "mykey",
		.key_data = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x user@host",
		.admin_pass = "Pa55 \"word\"",
		.meta = &meta,
		.user_data = user_data,
		.user_data_len = sizeof(user_data) - 1,
		.network_data = "{\"links\": [], \"networks\": [], "
		    "\"services\": []}",
	};

	return s;
}

static int
setup_tmp(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/configdrive_test.XXXXXX");
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

/* ---------------------------------------------------------- metadata */

static void
test_meta_data_golden(void **state)
{
	struct configdrive_spec s = full_spec();
	struct configdrive_spec m = { .uuid = UUID, .name = "!!!" };
	char *j = configdrive_meta_data(&s);

	assert_non_null(j);
	assert_int_equal(proc_golden_compare(j,
	    "tests/golden/configdrive/meta_data_full.json"), 0);
	free(j);
	/* minimal: defaults, hostname from the UUID when the name has no
	 * usable character */
	j = configdrive_meta_data(&m);
	assert_non_null(j);
	assert_int_equal(proc_golden_compare(j,
	    "tests/golden/configdrive/meta_data_minimal.json"), 0);
	free(j);
}

/* adminPass reaches meta_data.json from the command's spec; one with a
 * control character (Nova accepts any string) is left out, not fatal. */
static void
test_admin_pass(void **state)
{
	struct driver_spec d = { .uuid = UUID, .name = "vm",
	    .admin_pass = "s3cret" };
	struct configdrive_spec s;
	char *j;

	configdrive_spec_of(&d, &s);
	assert_string_equal(s.admin_pass, "s3cret");
	assert_non_null(j = configdrive_meta_data(&s));
	assert_non_null(strstr(j, "\"admin_pass\": \"s3cret\""));
	free(j);
	d.admin_pass = "bad\001pass";
	configdrive_spec_of(&d, &s);
	assert_null(s.admin_pass);
	assert_non_null(j = configdrive_meta_data(&s));
	assert_null(strstr(j, "admin_pass"));
	free(j);
	/* given directly, the document refuses it */
	s.admin_pass = "bad\001pass";
	assert_null(configdrive_meta_data(&s));
	assert_int_equal(err_code(), TS_EINVALID);
	d.admin_pass = NULL;
	configdrive_spec_of(&d, &s);
	assert_null(s.admin_pass);
}

static void
hostname_is(const char *name, const char *want)
{
	struct configdrive_spec s = { .uuid = UUID, .name = name };
	char needle[128], *j = configdrive_meta_data(&s);

	assert_non_null(j);
	snprintf(needle, sizeof(needle), "\"hostname\": \"%s\"", want);
	if (strstr(j, needle) == NULL)
		fail_msg("want %s in:\n%s", needle, j);
	free(j);
}

static void
test_hostnames(void **state)
{
	struct configdrive_spec s = { .uuid = UUID, .name = "x",
	    .hostname = "given" };
	char *j;

	hostname_is("web01", "web01");
	hostname_is("Web Server #1 (prod)", "web-server-1-prod");
	hostname_is("--a__b--", "a-b");
	hostname_is("caf\xc3\xa9", "caf");
	hostname_is("", "server-2d6f8a1b");
	hostname_is("0123456789012345678901234567890123456789012345678901234567"
	    "89abcdefgh", "0123456789012345678901234567890123456789012345678901"
	    "23456789abc");
	j = configdrive_meta_data(&s);
	assert_non_null(strstr(j, "\"hostname\": \"given\""));
	free(j);
}

static void
test_meta_data_rejects(void **state)
{
	struct configdrive_spec s;
	struct ts_strmap_ent bad[2] = { { .k = "a", .v = "1" },
	    { .k = "a", .v = "2" } };
	struct ts_strmap dup = { .items = bad, .n = 2 };
	char longv[300];

	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
#define NO(mut) do { s = full_spec(); mut; err_clear(); \
	assert_null(configdrive_meta_data(&s)); \
	assert_int_equal(err_code(), TS_EINVALID); } while (0)
	NO(s.uuid = "not-a-uuid");
	NO(s.uuid = NULL);
	NO(s.name = NULL);
	NO(s.name = "tab\tname");
	NO(s.name = "bad \xff utf8");
	NO(s.hostname = "host\nname");
	NO(s.project_id = longv);
	NO(s.key_data = NULL);
	NO(s.key_name = NULL);
	NO(s.key_data = "ssh-rsa AAA\x01");
	NO(s.meta = &dup);
	NO(bad[0].v = longv; s.meta = &dup; dup.n = 1);
	NO((bad[0].k = "", bad[0].v = "x", s.meta = &dup, dup.n = 1));
	NO((bad[0].k = "k\n", s.meta = &dup, dup.n = 1));
	NO((bad[0].k = "k", bad[0].v = "\xc3", s.meta = &dup, dup.n = 1));
#undef NO
	assert_null(configdrive_meta_data(NULL));
}

/* ------------------------------------------------------------ recorded */

static struct hook_log {
	char	text[8192];
} seen;

/* Records the argv like the recorder does, and makes the -o file. */
static int
iso_hook(const char *const argv[], const struct proc_opts *o,
    struct proc_result *res, void *arg)
{
	char *line = proc_argv_format(argv);
	int fd;

	snprintf(seen.text + strlen(seen.text),
	    sizeof(seen.text) - strlen(seen.text), "%s # cpu=%llus as=%llu "
	    "fsize=%llu timeout=%ums\n", line,
	    (unsigned long long)o->limits.cpu_sec,
	    (unsigned long long)o->limits.as_bytes,
	    (unsigned long long)o->limits.fsize_bytes, o->timeout_ms);
	free(line);
	if (arg != NULL)	/* simulate a failing genisoimage */
		return proc_result_set(res, 1, "", "genisoimage: boom\n");
	if (strcmp(argv[1], "-o") == 0 &&
	    (fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0)
		close(fd);
	return proc_result_set(res, 0, "", "");
}

static void
exists(const char *p, bool want)
{
	struct stat st;

	if ((lstat(p, &st) == 0) != want)
		fail_msg("%s %s", p, want ? "missing" : "left behind");
}

static void
test_recorded_build(void **state)
{
	struct configdrive_spec s = full_spec();
	char iso[128], tree[160], part[160], want[8192], p[256];

	snprintf(iso, sizeof(iso), "%s/disk.config", tmp);
	snprintf(tree, sizeof(tree), "%s.tree", iso);
	snprintf(part, sizeof(part), "%s.tmp", iso);
	/* leftovers of an interrupted build are cleared first */
	assert_int_equal(mkdir(tree, 0700), 0);
	snprintf(p, sizeof(p), "%s/openstack", tree);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/openstack/latest", tree);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/openstack/latest/user_data", tree);
	assert_int_equal(close(open(p, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(close(open(part, O_WRONLY | O_CREAT, 0600)), 0);

	seen.text[0] = '\0';
	proc_set_hook(iso_hook, NULL);
	if (configdrive_build(&s, iso) != 0)
		fail_msg("%s", err_msg());
	proc_set_hook(NULL, NULL);
	snprintf(want, sizeof(want), "genisoimage -o %s.tmp -ldots "
	    "-allow-lowercase -allow-multidot -l -publisher tinystack -quiet -J "
	    "-r -V config-2 %s.tree # cpu=30s as=1073741824 fsize=67108864 "
	    "timeout=60000ms\n", iso, iso);
	assert_string_equal(seen.text, want);
	exists(iso, true);
	exists(tree, false);
	exists(part, false);

	/* a failing genisoimage leaves no ISO, no tree, no part file, and an
	 * existing ISO alone */
	proc_set_hook(iso_hook, (void *)1);
	err_clear();
	assert_int_equal(configdrive_build(&s, iso), -1);
	proc_set_hook(NULL, NULL);
	assert_int_equal(err_code(), TS_EIO);
	assert_non_null(strstr(err_msg(), "boom"));
	exists(iso, true);
	exists(tree, false);
	exists(part, false);
}

static void
test_build_rejects(void **state)
{
	struct configdrive_spec s = full_spec();
	char *big = calloc(1, CONFIGDRIVE_USER_DATA_MAX + 1);
	struct proc_recorder *rec = proc_recorder_new();

	assert_non_null(big);
	assert_non_null(rec);
#define NO(mut, path) do { s = full_spec(); mut; err_clear(); \
	assert_int_equal(configdrive_build(&s, path), -1); \
	assert_int_equal(err_code(), TS_EINVALID); } while (0)
	NO((void)0, "relative/disk.config");
	NO((void)0, NULL);
	NO((void)0, "/tmp/x\n.config");
	NO((s.user_data = big, s.user_data_len = CONFIGDRIVE_USER_DATA_MAX + 1),
	    "/nonexistent/disk.config");
	NO((s.user_data = NULL, s.user_data_len = 5), "/nonexistent/d");
	NO(s.network_data = "[1, 2]", "/nonexistent/d");
	NO(s.network_data = "{\"a\": 1, \"a\": 2}", "/nonexistent/d");
	NO(s.network_data = "{", "/nonexistent/d");
	NO(s.uuid = "x", "/nonexistent/d");
#undef NO
	err_clear();
	assert_int_equal(configdrive_build(NULL, "/nonexistent/d"), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(proc_recorder_count(rec), 0);
	proc_recorder_free(&rec);
	free(big);
}

/* --------------------------------------------------------------- real */

static char *
isoinfo_get(const char *iso, const char *file, size_t *len)
{
	const char *argv[] = { "isoinfo", "-R", "-i", iso, "-x", file, NULL };
	struct proc_result r = { 0 };
	char *out;

	if (proc_run(argv, NULL, &r) != 0)
		fail_msg("isoinfo: %s", err_msg());
	out = r.out;
	*len = r.out_len;
	r.out = NULL;
	proc_result_clear(&r);
	return out;
}

static void
test_real_iso(void **state)
{
	struct configdrive_spec s = full_spec();
	struct imgfmt_result res;
	char iso[128], *got, *meta_json;
	struct proc_result r = { 0 };
	struct stat st;
	size_t len;
	int fd;

	snprintf(iso, sizeof(iso), "%s/disk.config", tmp);
	if (configdrive_build(&s, iso) != 0)
		fail_msg("%s", err_msg());
	assert_int_equal(stat(iso, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	/* an ISO 9660 image, safe, as the image inspector sees it */
	fd = open(iso, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(imgfmt_inspect_fd(fd, &res), 0);
	close(fd);
	assert_int_equal(res.format, IMGFMT_ISO);
	assert_true(res.safe);

	/* label config-2 */
	{
		const char *argv[] = { "isoinfo", "-d", "-i", iso, NULL };

		assert_int_equal(proc_run(argv, NULL, &r), 0);
		assert_non_null(strstr(r.out, "Volume id: config-2"));
		proc_result_clear(&r);
	}

	/* the files, byte for byte */
	meta_json = configdrive_meta_data(&s);
	got = isoinfo_get(iso, "/openstack/latest/meta_data.json", &len);
	assert_int_equal(len, strlen(meta_json));
	assert_memory_equal(got, meta_json, len);
	free(got);
	free(meta_json);
	got = isoinfo_get(iso, "/openstack/latest/user_data", &len);
	assert_int_equal(len, sizeof(user_data) - 1);
	assert_memory_equal(got, user_data, len);
	free(got);
	got = isoinfo_get(iso, "/openstack/latest/network_data.json", &len);
	assert_int_equal(len, strlen(s.network_data));
	free(got);
	got = isoinfo_get(iso, "/openstack/latest/vendor_data.json", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(got, "{}\n", 3);
	free(got);

	/* rebuilt in place (user data gone): the old ISO is replaced */
	s.user_data = NULL;
	s.user_data_len = 0;
	s.network_data = NULL;
	assert_int_equal(configdrive_build(&s, iso), 0);
	{
		const char *argv[] = { "isoinfo", "-R", "-f", "-i", iso, NULL };

		assert_int_equal(proc_run(argv, NULL, &r), 0);
		assert_null(strstr(r.out, "user_data"));
		assert_null(strstr(r.out, "network_data"));
		assert_non_null(strstr(r.out, "/openstack/latest/meta_data.json"));
		proc_result_clear(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_data_golden),
		cmocka_unit_test(test_hostnames),
		cmocka_unit_test(test_admin_pass),
		cmocka_unit_test(test_meta_data_rejects),
		cmocka_unit_test_setup_teardown(test_recorded_build, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test_setup_teardown(test_real_iso, setup_tmp,
		    teardown_tmp),
	};

	setenv("TS_SOURCE_DIR", TS_TEST_SOURCE_DIR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
