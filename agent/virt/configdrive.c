/*
 * configdrive: config drive ISO through genisoimage; see configdrive.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "proc.h"
#include "uuid.h"
#include "virt/configdrive.h"
#include "virt/driver.h"

#define PATH_BUF	4096
#define HOSTNAME_MAX	63
#define GENISO_TIMEOUT_MS	60000
#define GENISO_CPU_SEC		30
#define GENISO_AS		(1024ull * 1024 * 1024)
#define GENISO_FSIZE		(64ull * 1024 * 1024)

/* The work tree: every file a build may create, deepest first, so that
 * removing them in this order empties the tree. */
static const char *const tree_files[] = {
	"openstack/latest/meta_data.json",
	"openstack/latest/user_data",
	"openstack/latest/network_data.json",
	"openstack/latest/vendor_data.json",
	NULL
};
static const char *const tree_dirs[] = {
	"openstack/latest",
	"openstack",
	"",
	NULL
};

/* Bounded, and no control characters except where allowed. jansson checks
 * UTF-8 itself (json_string() returns NULL). */
static bool
text_ok(const char *s, size_t max, bool allow_newline)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && !(allow_newline && c == '\n')) || c == 0x7f)
			return false;
	}
	return n <= max;
}

/* Nova's hostname from a display name: lower case, runs of anything but
 * [a-z0-9] become one '-', no leading or trailing '-', at most 63
 * characters; "server-<uuid>" (first 8) if nothing is left. */
static void
hostname_from(const char *name, const char *uuid, char out[HOSTNAME_MAX + 1])
{
	size_t o = 0;
	bool dash = false;

	for (const char *c = name; *c && o < HOSTNAME_MAX; c++) {
		char ch = *c;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			if (dash && o > 0 && o < HOSTNAME_MAX - 1)
				out[o++] = '-';
			dash = false;
			out[o++] = ch;
		} else {
			dash = true;
		}
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, HOSTNAME_MAX + 1, "server-%.8s", uuid);
}

#define BAD(...) do { err_set(TS_EINVALID, __VA_ARGS__); goto fail; } while (0)

static int
set_str(json_t *o, const char *key, const char *val)
{
	json_t *s = json_string(val);

	if (s == NULL) {
		err_set(TS_EINVALID, "configdrive: %s is not UTF-8", key);
		return -1;
	}
	if (json_object_set_new(o, key, s) == -1) {
		err_set(TS_ENOMEM, "configdrive: out of memory");
		return -1;
	}
	return 0;
}

char *
configdrive_meta_data(const struct configdrive_spec *s)
{
	json_t *o = NULL, *meta, *pk, *keys;
	char host[HOSTNAME_MAX + 1];
	char *text = NULL;

	if (s == NULL || !uuid_valid(s->uuid))
		BAD("configdrive: uuid is not a canonical UUID");
	if (s->name == NULL || !text_ok(s->name, CONFIGDRIVE_TEXT_MAX, false))
		BAD("configdrive: name is missing, too long or has control "
		    "characters");
	if (s->hostname != NULL && !text_ok(s->hostname, HOSTNAME_MAX, false))
		BAD("configdrive: hostname is too long or has control "
		    "characters");
	if ((s->availability_zone != NULL &&
	    !text_ok(s->availability_zone, CONFIGDRIVE_TEXT_MAX, false)) ||
	    (s->project_id != NULL &&
	    !text_ok(s->project_id, CONFIGDRIVE_TEXT_MAX, false)))
		BAD("configdrive: availability_zone or project_id is too long "
		    "or has control characters");
	if ((s->key_data == NULL) != (s->key_name == NULL))
		BAD("configdrive: key_name and key_data go together");
	if (s->key_name != NULL &&
	    (!text_ok(s->key_name, CONFIGDRIVE_TEXT_MAX, false) ||
	    !text_ok(s->key_data, CONFIGDRIVE_KEY_MAX, true)))
		BAD("configdrive: key_name or key_data is too long or has "
		    "control characters");
	if (s->admin_pass != NULL &&
	    !text_ok(s->admin_pass, CONFIGDRIVE_TEXT_MAX, false))
		BAD("configdrive: admin_pass is too long or has control "
		    "characters");
	if (s->meta != NULL && s->meta->n > CONFIGDRIVE_META_MAX)
		BAD("configdrive: more than %d meta entries",
		    CONFIGDRIVE_META_MAX);

	if ((o = json_object()) == NULL || (meta = json_object()) == NULL ||
	    json_object_set_new(o, "meta", meta) == -1 ||
	    (pk = json_object()) == NULL ||
	    json_object_set_new(o, "public_keys", pk) == -1 ||
	    (keys = json_array()) == NULL ||
	    json_object_set_new(o, "keys", keys) == -1 ||
	    json_object_set_new(o, "devices", json_array()) == -1 ||
	    json_object_set_new(o, "launch_index",
	    json_integer(s->launch_index)) == -1) {
		err_set(TS_ENOMEM, "configdrive: out of memory");
		goto fail;
	}
	if (s->hostname == NULL)
		hostname_from(s->name, s->uuid, host);
	if (set_str(o, "uuid", s->uuid) == -1 ||
	    set_str(o, "name", s->name) == -1 ||
	    set_str(o, "hostname", s->hostname ? s->hostname : host) == -1 ||
	    set_str(o, "availability_zone", s->availability_zone ?
	    s->availability_zone : "nova") == -1 ||
	    (s->project_id && set_str(o, "project_id", s->project_id) == -1) ||
	    (s->admin_pass && set_str(o, "admin_pass", s->admin_pass) == -1))
		goto fail;
	for (size_t i = 0; s->meta != NULL && i < s->meta->n; i++) {
		const char *k = s->meta->items[i].k, *v = s->meta->items[i].v;

		if (k == NULL || v == NULL || k[0] == '\0' ||
		    !text_ok(k, CONFIGDRIVE_TEXT_MAX, false) ||
		    strlen(v) > CONFIGDRIVE_TEXT_MAX)
			BAD("configdrive: meta entry %zu is empty, too long or "
			    "has control characters in its key", i);
		if (json_object_get(meta, k) != NULL)
			BAD("configdrive: meta key '%s' given twice", k);
		if (set_str(meta, k, v) == -1)
			goto fail;
	}
	if (s->key_name != NULL) {
		json_t *key = json_object();

		if (key == NULL || json_array_append_new(keys, key) == -1) {
			err_set(TS_ENOMEM, "configdrive: out of memory");
			goto fail;
		}
		if (set_str(pk, s->key_name, s->key_data) == -1 ||
		    set_str(key, "name", s->key_name) == -1 ||
		    set_str(key, "type", "ssh") == -1 ||
		    set_str(key, "data", s->key_data) == -1)
			goto fail;
	}
	if ((text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2))) == NULL) {
		err_set(TS_ENOMEM, "configdrive: out of memory");
		goto fail;
	}
	json_decref(o);
	{
		size_t n = strlen(text);
		char *t = realloc(text, n + 2);

		if (t == NULL) {
			free(text);
			err_set(TS_ENOMEM, "configdrive: out of memory");
			return NULL;
		}
		t[n] = '\n';
		t[n + 1] = '\0';
		return t;
	}
fail:
	json_decref(o);
	return NULL;
}

void
configdrive_spec_of(const struct driver_spec *d, struct configdrive_spec *out)
{
	*out = (struct configdrive_spec){
		.uuid = d->uuid,
		.name = d->hostname && d->hostname[0] ? d->hostname : d->name,
		.hostname = d->hostname,
		.project_id = d->project_id,
		.key_name = d->key_data ? "default" : NULL,
		.key_data = d->key_data,
		/* Nova takes any string as adminPass: one the document would
		 * refuse is left out rather than failing the guest's build. */
		.admin_pass = d->admin_pass && text_ok(d->admin_pass,
		    CONFIGDRIVE_TEXT_MAX, false) ? d->admin_pass : NULL,
		.meta = d->metadata,
		.user_data = d->user_data,
		.user_data_len = d->user_data ? d->user_data_len : 0,
	};
}

/* Writes len bytes to a new file (never through a link, never over an
 * existing file). */
static int
write_new(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd == -1) {
		err_set_errno(TS_EIO, "configdrive: create %s", path);
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, (const char *)buf + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err_set_errno(TS_EIO, "configdrive: write %s", path);
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) == -1) {
		err_set_errno(TS_EIO, "configdrive: close %s", path);
		return -1;
	}
	return 0;
}

static int
join(char *out, const char *a, const char *b)
{
	int n = b[0] ? snprintf(out, PATH_BUF, "%s/%s", a, b) :
	    snprintf(out, PATH_BUF, "%s", a);

	if (n < 0 || n >= PATH_BUF) {
		err_set(TS_EINVALID, "configdrive: path too long");
		return -1;
	}
	return 0;
}

/* Removes the work tree (only the names a build creates). Absent: 0. */
static int
remove_tree(const char *tree)
{
	char p[PATH_BUF];

	for (int i = 0; tree_files[i]; i++) {
		if (join(p, tree, tree_files[i]) == -1)
			return -1;
		if (unlink(p) == -1 && errno != ENOENT && errno != ENOTDIR) {
			err_set_errno(TS_EIO, "configdrive: unlink %s", p);
			return -1;
		}
	}
	for (int i = 0; tree_dirs[i]; i++) {
		if (join(p, tree, tree_dirs[i]) == -1)
			return -1;
		if (rmdir(p) == -1 && errno != ENOENT) {
			/* A symlink planted at a directory name: remove it. */
			if (errno == ENOTDIR && unlink(p) == 0)
				continue;
			err_set_errno(TS_EIO, "configdrive: rmdir %s", p);
			return -1;
		}
	}
	return 0;
}

static int
make_tree(const struct configdrive_spec *s, const char *tree,
    const char *meta_data)
{
	char p[PATH_BUF];

	for (int i = 2; i >= 0; i--) {	/* tree_dirs, shallowest first */
		if (join(p, tree, tree_dirs[i]) == -1)
			return -1;
		if (mkdir(p, 0700) == -1) {
			err_set_errno(TS_EIO, "configdrive: mkdir %s", p);
			return -1;
		}
	}
	if (join(p, tree, tree_files[0]) == -1 ||
	    write_new(p, meta_data, strlen(meta_data)) == -1)
		return -1;
	if (s->user_data != NULL &&
	    (join(p, tree, tree_files[1]) == -1 ||
	    write_new(p, s->user_data, s->user_data_len) == -1))
		return -1;
	if (s->network_data != NULL &&
	    (join(p, tree, tree_files[2]) == -1 ||
	    write_new(p, s->network_data, strlen(s->network_data)) == -1))
		return -1;
	if (join(p, tree, tree_files[3]) == -1 || write_new(p, "{}\n", 3) == -1)
		return -1;
	return 0;
}

static int
check_network_data(const char *text)
{
	json_error_t jerr;
	json_t *j;
	bool obj;

	if (strlen(text) > CONFIGDRIVE_NETWORK_DATA_MAX) {
		err_set(TS_EINVALID, "configdrive: network_data is larger than "
		    "%d bytes", CONFIGDRIVE_NETWORK_DATA_MAX);
		return -1;
	}
	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	obj = json_is_object(j);
	json_decref(j);
	if (!obj) {
		err_set(TS_EINVALID, "configdrive: network_data is not a JSON "
		    "object");
		return -1;
	}
	return 0;
}

int
configdrive_build(const struct configdrive_spec *s, const char *iso_path)
{
	char tree[PATH_BUF], tmp[PATH_BUF];
	const char *argv[] = { CONFIGDRIVE_GENISOIMAGE, "-o", tmp, "-ldots",
	    "-allow-lowercase", "-allow-multidot", "-l", "-publisher",
	    "tinystack", "-quiet", "-J", "-r", "-V", CONFIGDRIVE_LABEL, tree,
	    NULL };
	struct proc_opts o = {
		.timeout_ms = GENISO_TIMEOUT_MS,
		.new_pgroup = true,
		.limits = {
			.cpu_sec = GENISO_CPU_SEC,
			.as_bytes = GENISO_AS,
			.fsize_bytes = GENISO_FSIZE,
			.nofile = 64,
		},
	};
	struct proc_result res = { 0 };
	char *meta_data;
	int r = -1;

	if (iso_path == NULL || iso_path[0] != '/' ||
	    !text_ok(iso_path, PATH_BUF - 16, false)) {
		err_set(TS_EINVALID, "configdrive: the ISO path must be a clean "
		    "absolute path");
		return -1;
	}
	if (s == NULL || (s->user_data == NULL && s->user_data_len != 0) ||
	    s->user_data_len > CONFIGDRIVE_USER_DATA_MAX) {
		err_set(TS_EINVALID, "configdrive: user_data is larger than %d "
		    "bytes", CONFIGDRIVE_USER_DATA_MAX);
		return -1;
	}
	if (s->network_data != NULL && check_network_data(s->network_data) == -1)
		return -1;
	if ((meta_data = configdrive_meta_data(s)) == NULL)
		return -1;
	snprintf(tree, sizeof(tree), "%s.tree", iso_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", iso_path);

	/* Leftovers of an interrupted build. */
	if (remove_tree(tree) == -1)
		goto out;
	if (unlink(tmp) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "configdrive: unlink %s", tmp);
		goto out;
	}
	if (make_tree(s, tree, meta_data) == -1)
		goto out;
	if (proc_run(argv, &o, &res) == -1)
		goto out;
	if (chmod(tmp, 0644) == -1 || rename(tmp, iso_path) == -1) {
		err_set_errno(TS_EIO, "configdrive: install %s", iso_path);
		goto out;
	}
	r = 0;
out:
	proc_result_clear(&res);
	free(meta_data);
	if (r == -1 && unlink(tmp) == -1 && errno != ENOENT)
		log_warn("configdrive: removing %s", tmp);
	/* Keep the first error: a failed clean-up only logs. */
	if (r == -1) {
		struct ts_err saved = *err_last();

		if (remove_tree(tree) == -1)
			log_err("configdrive: removing the work tree");
		err_restore(&saved);
	} else if (remove_tree(tree) == -1) {
		log_err("configdrive: removing the work tree");
	}
	return r;
}
