/* vollvm: the LVM backend of the volume store; see vollvm.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "proc.h"
#include "storage/vollvm.h"
#include "uuid.h"

#define ARGV_MAX	24
#define LIST_MAX	65536
#define MIB		(1024ull * 1024)
/* A wipe writes the whole LV: this long per GiB at least. */
#define WIPE_MS_PER_GIB	60000

static const char *const lvm_env[] = { "LVM_SUPPRESS_FD_WARNINGS=1", NULL };

bool
vollvm_vg_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 127 || name[0] == '-' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '_' ||
		    c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* argv: prog, the metadata-only switch when activation is off, then the
 * rest (NULL-terminated). */
static int
run(const struct vollvm_conf *c, const char *const *rest, unsigned timeout,
    struct proc_result *r)
{
	const char *argv[ARGV_MAX];
	struct proc_opts o = { .env = lvm_env, .timeout_ms = timeout ? timeout :
	    VOLLVM_TIMEOUT_MS };
	size_t n = 0;

	argv[n++] = rest[0];
	if (!c->activation) {
		argv[n++] = "--config";
		argv[n++] = "global{activation=0}";
	}
	for (size_t i = 1; rest[i] != NULL && n < ARGV_MAX - 1; i++)
		argv[n++] = rest[i];
	argv[n] = NULL;
	return proc_run(argv, &o, r);
}

static int
run0(const struct vollvm_conf *c, const char *const *rest)
{
	struct proc_result r = { 0 };
	int rc = run(c, rest, 0, &r);

	proc_result_clear(&r);
	return rc;
}

static int
lv_name(const char *id, bool snapshot, char *buf, size_t len)
{
	int n;

	if (!uuid_valid(id)) {
		err_set(TS_EINVALID, "vollvm: '%s' is not a UUID", id);
		return -1;
	}
	n = snprintf(buf, len, "%s%s", snapshot ? VOLLVM_SNAP_PREFIX :
	    "volume-", id);
	if (n < 0 || (size_t)n >= len) {
		err_set(TS_EINVALID, "vollvm: name too long");
		return -1;
	}
	return 0;
}

/* "<vg>/<lv>" */
static int
vg_lv(const struct vollvm_conf *c, const char *id, bool snapshot, char *buf,
    size_t len)
{
	char lv[64];
	int n;

	if (lv_name(id, snapshot, lv, sizeof(lv)) == -1)
		return -1;
	n = snprintf(buf, len, "%s/%s", c->vg, lv);
	if (n < 0 || (size_t)n >= len) {
		err_set(TS_EINVALID, "vollvm: name too long");
		return -1;
	}
	return 0;
}

int
vollvm_path(const struct vollvm_conf *c, const char *id, bool snapshot,
    char *buf, size_t len)
{
	char lv[64];
	int n;

	if (lv_name(id, snapshot, lv, sizeof(lv)) == -1)
		return -1;
	n = snprintf(buf, len, "/dev/%s/%s", c->vg, lv);
	if (n < 0 || (size_t)n >= len) {
		err_set(TS_EINVALID, "vollvm: path too long");
		return -1;
	}
	return 0;
}

/* The rows of report[0][key] of an LVM JSON report (borrowed from root),
 * NULL with err set. */
static json_t *
report_rows(json_t *root, const char *key)
{
	json_t *rep = json_object_get(root, "report"), *rows;

	if (!json_is_array(rep) || json_array_size(rep) < 1 ||
	    !json_is_array(rows = json_object_get(json_array_get(rep, 0),
	    key))) {
		err_set(TS_EIO, "vollvm: unexpected report (no %s rows)", key);
		return NULL;
	}
	return rows;
}

/* A size field "<bytes>" (--units b --nosuffix). */
static int
size_field(json_t *row, const char *key, uint64_t *out)
{
	const char *s = json_string_value(json_object_get(row, key));
	char *end;
	unsigned long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9') {
		err_set(TS_EIO, "vollvm: report without %s", key);
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		err_set(TS_EIO, "vollvm: bad %s '%s'", key, s);
		return -1;
	}
	*out = v;
	return 0;
}

static json_t *
report(const struct vollvm_conf *c, const char *const *argv)
{
	struct proc_result r = { 0 };
	json_error_t je;
	json_t *root;

	if (run(c, argv, 0, &r) == -1) {
		proc_result_clear(&r);
		return NULL;
	}
	root = json_loadb(r.out, r.out_len, 0, &je);
	proc_result_clear(&r);
	if (root == NULL)
		err_set(TS_EIO, "vollvm: %s: unreadable JSON report: %s",
		    argv[0], je.text);
	return root;
}

int
vollvm_list(const struct vollvm_conf *c, struct volstore_item **items,
    size_t *n)
{
	const char *argv[] = { "lvs", "--reportformat", "json", "--units", "b",
	    "--nosuffix", "-o", "lv_name,lv_size", c->vg, NULL };
	struct volstore_item *v = NULL;
	json_t *root, *rows, *row;
	size_t i, cnt = 0;

	*items = NULL;
	*n = 0;
	if ((root = report(c, argv)) == NULL)
		return -1;
	if ((rows = report_rows(root, "lv")) == NULL)
		goto fail;
	if ((v = calloc(json_array_size(rows) + 1, sizeof(*v))) == NULL) {
		err_set(TS_ENOMEM, "vollvm: out of memory");
		goto fail;
	}
	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row,
		    "lv_name")), *id;
		bool snap;

		if (name == NULL || cnt >= LIST_MAX)
			continue;
		if (strncmp(name, "volume-", 7) == 0) {
			id = name + 7;
			snap = false;
		} else if (strncmp(name, VOLLVM_SNAP_PREFIX,
		    strlen(VOLLVM_SNAP_PREFIX)) == 0) {
			id = name + strlen(VOLLVM_SNAP_PREFIX);
			snap = true;
		} else
			continue;	/* another's LV: left alone */
		if (!uuid_valid(id) || size_field(row, "lv_size",
		    &v[cnt].size) == -1)
			continue;
		snprintf(v[cnt].id, sizeof(v[cnt].id), "%s", id);
		v[cnt].snapshot = snap;
		cnt++;
	}
	json_decref(root);
	*items = v;
	*n = cnt;
	return 0;
fail:
	free(v);
	json_decref(root);
	return -1;
}

int
vollvm_capacity(const struct vollvm_conf *c, uint64_t *total_b,
    uint64_t *free_b)
{
	const char *argv[] = { "vgs", "--reportformat", "json", "--units", "b",
	    "--nosuffix", "-o", "vg_size,vg_free", c->vg, NULL };
	json_t *root, *rows;
	int rc = -1;

	if ((root = report(c, argv)) == NULL)
		return -1;
	if ((rows = report_rows(root, "vg")) != NULL) {
		if (json_array_size(rows) != 1)
			err_set(TS_EIO, "vollvm: no volume group %s", c->vg);
		else if (size_field(json_array_get(rows, 0), "vg_size",
		    total_b) == 0 && size_field(json_array_get(rows, 0),
		    "vg_free", free_b) == 0)
			rc = 0;
	}
	json_decref(root);
	return rc;
}

int
vollvm_create(const struct vollvm_conf *c, const char *id, uint64_t size_gb)
{
	char lv[64], sz[32];

	if (lv_name(id, false, lv, sizeof(lv)) == -1)
		return -1;
	snprintf(sz, sizeof(sz), "%" PRIu64 "g", size_gb);
	if (c->activation) {
		const char *argv[] = { "lvcreate", "-q", "-y", "-L", sz, "-n",
		    lv, c->vg, NULL };

		return run0(c, argv);
	} else {
		const char *argv[] = { "lvcreate", "-an", "-Zn", "-q", "-y",
		    "-L", sz, "-n", lv, c->vg, NULL };

		return run0(c, argv);
	}
}

int
vollvm_extend(const struct vollvm_conf *c, const char *id, uint64_t size_gb)
{
	char vl[256], sz[32];
	const char *argv[] = { "lvextend", "-q", "-L", sz, vl, NULL };

	if (vg_lv(c, id, false, vl, sizeof(vl)) == -1)
		return -1;
	snprintf(sz, sizeof(sz), "%" PRIu64 "g", size_gb);
	return run0(c, argv);
}

int
vollvm_snap_create(const struct vollvm_conf *c, const char *snap_id,
    const char *vol_id, uint64_t size_gb)
{
	char lv[64], origin[256], sz[32];

	if (lv_name(snap_id, true, lv, sizeof(lv)) == -1 ||
	    vg_lv(c, vol_id, false, origin, sizeof(origin)) == -1)
		return -1;
	if (!c->activation) {
		/* lvcreate: "Can't create snapshot without using
		 * device-mapper kernel driver", whatever the switches. */
		err_set(TS_EUNAVAILABLE, "vollvm: metadata-only LVM "
		    "([storage] lvm_activation = false) cannot make snapshots "
		    "(they need device-mapper)");
		return -1;
	}
	snprintf(sz, sizeof(sz), "%" PRIu64 "g", size_gb ? size_gb : 1);
	{
		const char *argv[] = { "lvcreate", "-q", "-s", "-L", sz, "-n",
		    lv, origin, NULL };

		return run0(c, argv);
	}
}

int
vollvm_remove(const struct vollvm_conf *c, const char *id, bool snapshot,
    uint64_t size)
{
	char vl[256], dev[VOLSTORE_PATH_MAX];
	struct volstore_item *items;
	size_t n;
	bool found = false;

	if (vg_lv(c, id, snapshot, vl, sizeof(vl)) == -1 ||
	    vollvm_path(c, id, snapshot, dev, sizeof(dev)) == -1)
		return -1;
	if (vollvm_list(c, &items, &n) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (items[i].snapshot == snapshot &&
		    strcmp(items[i].id, id) == 0) {
			found = true;
			if (size == 0)
				size = items[i].size;
		}
	free(items);
	if (!found)
		return 0;
	if (c->activation) {
		/* Cinder's volume_clear=zero: the whole LV overwritten before
		 * its extents go back to the group. Zeroes written through a
		 * snapshot land in its copy-on-write extents, which hold the
		 * origin's old blocks. */
		char of[VOLSTORE_PATH_MAX + 4], cnt[32];
		const char *argv[] = { "dd", "if=/dev/zero", of, "bs=1M", cnt,
		    "oflag=direct", "conv=fdatasync", NULL };
		struct proc_opts o = { .timeout_ms = (unsigned)(60000 +
		    (size / VOLSTORE_GIB + 1) * WIPE_MS_PER_GIB) };
		struct proc_result r = { 0 };
		int rc;

		snprintf(of, sizeof(of), "of=%s", dev);
		snprintf(cnt, sizeof(cnt), "count=%llu", (unsigned long long)
		    ((size + MIB - 1) / MIB));
		rc = proc_run(argv, &o, &r);
		proc_result_clear(&r);
		if (rc == -1) {
			err_prefix("vollvm: wiping %s: ", vl);
			return -1;
		}
	}
	{
		const char *argv[] = { "lvremove", "-q", "-f", vl, NULL };

		return run0(c, argv);
	}
}
