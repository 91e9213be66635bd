/*
 * image_json: the Image API's JSON: rendering images and members as Glance
 * does, validating create bodies, and applying JSON-patch documents
 * (image.h). Validation follows Glance's RequestDeserializer and its image
 * schema: what the schema rejects is 400, read-only and reserved
 * attributes are 403, quotas on properties and tags are 413. Every length
 * and count is checked before anything is copied. Members are read with
 * http/jsonreq.h (JSONREQ_GLANCE wording).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec.h"
#include "err.h"
#include "image_int.h"
#include "http/jsonreq.h"

#define NAME_MAX_LEN	255
#define OWNER_MAX_LEN	255
#define PROP_KEY_MAX	255
#define PROP_VAL_MAX	65535
#define INT_ATTR_MAX	2147483647LL	/* Glance's integer columns */
/* Longest JSON pointer accepted ("/" + escaped 255-byte key). */
#define POINTER_MAX	1024

static const char *const disk_formats[] = {
	"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi",
	"iso", "ploop", NULL
};
static const char *const container_formats[] = {
	"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed",
	NULL
};
static const char *const visibilities[] = {
	"public", "private", "shared", "community", NULL
};
/* Attributes a client never sets (403 "read-only"). */
static const char *const readonly_attrs[] = {
	"created_at", "updated_at", "status", "checksum", "size",
	"virtual_size", "direct_url", "self", "file", "schema", "id",
	"os_hash_algo", "os_hash_value", "stores", NULL
};
/* Names no extra property may take (403 "reserved"). */
static const char *const reserved_attrs[] = {
	"location", "locations", "deleted", "deleted_at", NULL
};
#define RESERVED_NS	"os_glance"

static bool
in_list(const char *const *l, const char *s)
{
	for (; *l != NULL; l++)
		if (strcmp(*l, s) == 0)
			return true;
	return false;
}

bool
image_json_disk_format_valid(const char *s)
{
	return in_list(disk_formats, s);
}

bool
image_json_container_format_valid(const char *s)
{
	return in_list(container_formats, s);
}

bool
image_json_visibility_valid(const char *s)
{
	return in_list(visibilities, s);
}

void
image_json_time(int64_t ms, char out[IMAGE_TIME_BUFSZ])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, IMAGE_TIME_BUFSZ, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- rendering ----------------------------------------------------------- */

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
image_json_to_json(const struct rec_image *img)
{
	char t[IMAGE_TIME_BUFSZ], link[64];
	json_t *o, *tags;
	size_t i;
	int bad = 0;

	if ((o = json_object()) == NULL || (tags = json_array()) == NULL) {
		json_decref(o);
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	for (i = 0; i < img->properties.n; i++)
		bad |= json_object_set_new(o, img->properties.items[i].k,
		    json_string(img->properties.items[i].v));
	bad |= json_object_set_new(o, "name", str_or_null(img->name));
	bad |= json_object_set_new(o, "disk_format",
	    str_or_null(img->disk_format));
	bad |= json_object_set_new(o, "container_format",
	    str_or_null(img->container_format));
	bad |= json_object_set_new(o, "visibility",
	    json_string(img->visibility));
	bad |= json_object_set_new(o, "size", img->has_size ?
	    json_integer((json_int_t)img->size) : json_null());
	bad |= json_object_set_new(o, "virtual_size", img->has_virtual_size ?
	    json_integer((json_int_t)img->virtual_size) : json_null());
	bad |= json_object_set_new(o, "status", json_string(img->status));
	bad |= json_object_set_new(o, "checksum", str_or_null(img->checksum));
	bad |= json_object_set_new(o, "protected",
	    json_boolean(img->protected));
	bad |= json_object_set_new(o, "min_ram",
	    json_integer(img->min_ram));
	bad |= json_object_set_new(o, "min_disk",
	    json_integer(img->min_disk));
	bad |= json_object_set_new(o, "owner", str_or_null(img->owner));
	bad |= json_object_set_new(o, "os_hidden",
	    json_boolean(img->os_hidden));
	bad |= json_object_set_new(o, "os_hash_algo",
	    str_or_null(img->os_hash_algo));
	bad |= json_object_set_new(o, "os_hash_value",
	    str_or_null(img->os_hash_value));
	bad |= json_object_set_new(o, "id", json_string(img->id));
	image_json_time(img->created_at, t);
	bad |= json_object_set_new(o, "created_at", json_string(t));
	image_json_time(img->updated_at, t);
	bad |= json_object_set_new(o, "updated_at", json_string(t));
	for (i = 0; i < img->tags.n; i++)
		bad |= json_array_append_new(tags,
		    json_string(img->tags.items[i]));
	bad |= json_object_set_new(o, "tags", tags);
	snprintf(link, sizeof(link), "/v2/images/%s", img->id);
	bad |= json_object_set_new(o, "self", json_string(link));
	snprintf(link, sizeof(link), "/v2/images/%s/file", img->id);
	bad |= json_object_set_new(o, "file", json_string(link));
	bad |= json_object_set_new(o, "schema",
	    json_string("/v2/schemas/image"));
	if (bad) {
		json_decref(o);
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	return o;
}

json_t *
image_json_member_to_json(const struct rec_image_member *m)
{
	char c[IMAGE_TIME_BUFSZ], u[IMAGE_TIME_BUFSZ];
	json_t *o;

	image_json_time(m->created_at, c);
	image_json_time(m->updated_at, u);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "image_id", m->image_id, "member_id", m->member_id,
	    "status", m->status, "created_at", c, "updated_at", u,
	    "schema", "/v2/schemas/member");
	if (o == NULL)
		err_set(TS_ENOMEM, "out of memory");
	return o;
}

/* ---- copies ---------------------------------------------------------------- */

static int
dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int
image_json_copy(struct rec_image *d, const struct rec_image *s)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	memcpy(d->id, s->id, sizeof(d->id));
	d->protected = s->protected;
	d->os_hidden = s->os_hidden;
	d->min_disk = s->min_disk;
	d->min_ram = s->min_ram;
	d->has_size = s->has_size;
	d->size = s->size;
	d->has_virtual_size = s->has_virtual_size;
	d->virtual_size = s->virtual_size;
	d->created_at = s->created_at;
	d->updated_at = s->updated_at;
	if (dup_str(&d->name, s->name) == -1 ||
	    dup_str(&d->status, s->status) == -1 ||
	    dup_str(&d->visibility, s->visibility) == -1 ||
	    dup_str(&d->owner, s->owner) == -1 ||
	    dup_str(&d->disk_format, s->disk_format) == -1 ||
	    dup_str(&d->container_format, s->container_format) == -1 ||
	    dup_str(&d->checksum, s->checksum) == -1 ||
	    dup_str(&d->os_hash_algo, s->os_hash_algo) == -1 ||
	    dup_str(&d->os_hash_value, s->os_hash_value) == -1)
		goto fail;
	if (s->tags.n > 0) {
		if ((d->tags.items = calloc(s->tags.n, sizeof(char *))) ==
		    NULL)
			goto nomem;
		for (i = 0; i < s->tags.n; i++, d->tags.n++)
			if (dup_str(&d->tags.items[i], s->tags.items[i]) == -1)
				goto fail;
	}
	if (s->properties.n > 0) {
		d->properties.items = calloc(s->properties.n,
		    sizeof(*d->properties.items));
		if (d->properties.items == NULL)
			goto nomem;
		for (i = 0; i < s->properties.n; i++, d->properties.n++)
			if (dup_str(&d->properties.items[i].k,
			    s->properties.items[i].k) == -1 ||
			    dup_str(&d->properties.items[i].v,
			    s->properties.items[i].v) == -1) {
				d->properties.n++;	/* clear frees it */
				goto fail;
			}
	}
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
fail:
	codec_clear(&schema_rec_image, d);
	return -1;
}

/* ---- attribute setters (shared by create and patch) ------------------------ */

static const char *
prop_get(const struct rec_image *img, const char *k)
{
	size_t i;

	for (i = 0; i < img->properties.n; i++)
		if (strcmp(img->properties.items[i].k, k) == 0)
			return img->properties.items[i].v;
	return NULL;
}

static int
prop_set(struct rec_image *img, const char *k, const char *v)
{
	struct ts_strmap_ent *n;
	char *nv, *nk;
	size_t i;

	for (i = 0; i < img->properties.n; i++)
		if (strcmp(img->properties.items[i].k, k) == 0) {
			if ((nv = strdup(v)) == NULL)
				goto nomem;
			free(img->properties.items[i].v);
			img->properties.items[i].v = nv;
			return 0;
		}
	if (img->properties.n >= IMAGE_PROPERTY_MAX) {
		err_set(TS_ETOO_LARGE, "Attempted to add more than %d "
		    "properties: maximum number of properties reached.",
		    IMAGE_PROPERTY_MAX);
		return -1;
	}
	n = realloc(img->properties.items, (img->properties.n + 1) *
	    sizeof(*n));
	if (n == NULL)
		goto nomem;
	img->properties.items = n;
	nk = strdup(k);
	nv = strdup(v);
	if (nk == NULL || nv == NULL) {
		free(nk);
		free(nv);
		goto nomem;
	}
	n[img->properties.n].k = nk;
	n[img->properties.n].v = nv;
	img->properties.n++;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static void
prop_del(struct rec_image *img, const char *k)
{
	size_t i;

	for (i = 0; i < img->properties.n; i++)
		if (strcmp(img->properties.items[i].k, k) == 0) {
			free(img->properties.items[i].k);
			free(img->properties.items[i].v);
			memmove(&img->properties.items[i],
			    &img->properties.items[i + 1],
			    (img->properties.n - i - 1) *
			    sizeof(img->properties.items[0]));
			img->properties.n--;
			return;
		}
}

static int
set_tags(struct rec_image *img, json_t *v)
{
	char **items = NULL;
	size_t i, j, n = 0;
	const char *s;
	json_t *e;

	if (!json_is_array(v))
		return jsonreq_fail(JSONREQ_GLANCE, "tags", "value is not an "
		    "array");
	if (json_array_size(v) > IMAGE_TAG_MAX) {
		err_set(TS_ETOO_LARGE, "Attempted to add more than %d tags: "
		    "maximum number of tags reached.", IMAGE_TAG_MAX);
		return -1;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) ||
		    json_string_length(e) > IMAGE_TAG_LEN_MAX ||
		    strlen(json_string_value(e)) != json_string_length(e))
			return jsonreq_fail(JSONREQ_GLANCE, "tags", "tags must "
			    "be strings of at most 255 bytes");
	}
	if (json_array_size(v) > 0 &&
	    (items = calloc(json_array_size(v), sizeof(*items))) == NULL)
		goto nomem;
	json_array_foreach(v, i, e) {
		s = json_string_value(e);
		for (j = 0; j < n; j++)
			if (strcmp(items[j], s) == 0)
				break;
		if (j < n)
			continue;	/* a set, as Glance keeps them */
		if ((items[n] = strdup(s)) == NULL)
			goto nomem;
		n++;
	}
	for (i = 0; i < img->tags.n; i++)
		free(img->tags.items[i]);
	free(img->tags.items);
	img->tags.items = items;
	img->tags.n = n;
	return 0;
nomem:
	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static int
set_int_attr(uint32_t *field, json_t *o, const char *attr)
{
	int64_t x;

	if (jsonreq_int(JSONREQ_GLANCE, o, attr, 0, INT_ATTR_MAX, 0, &x,
	    NULL) == -1)
		return -1;
	*field = (uint32_t)x;
	return 0;
}

static bool
is_base(const char *k)
{
	static const char *const base[] = {
		"name", "visibility", "protected", "os_hidden", "owner",
		"disk_format", "container_format", "min_disk", "min_ram",
		"tags", NULL
	};

	return in_list(base, k);
}

/* Set a writable base attribute k (is_base(k)) from the member k of o. */
static int
set_base(struct rec_image *img, json_t *o, const char *k)
{
	const char *s;
	bool b;

	if (strcmp(k, "name") == 0) {
		if (jsonreq_str(JSONREQ_GLANCE, o, k, 0, NAME_MAX_LEN,
		    JSONREQ_BYTES | JSONREQ_NULLABLE, &s, NULL) == -1)
			return -1;
		return codec_str_set(&img->name, s);
	}
	if (strcmp(k, "owner") == 0) {
		if (jsonreq_str(JSONREQ_GLANCE, o, k, 0, OWNER_MAX_LEN,
		    JSONREQ_BYTES | JSONREQ_NULLABLE, &s, NULL) == -1)
			return -1;
		return codec_str_set(&img->owner, s);
	}
	if (strcmp(k, "visibility") == 0) {
		if (jsonreq_enum(JSONREQ_GLANCE, o, k, visibilities, NULL, 0,
		    &s, NULL) == -1)
			return -1;
		return codec_str_set(&img->visibility, s);
	}
	if (strcmp(k, "disk_format") == 0 ||
	    strcmp(k, "container_format") == 0) {
		bool disk = k[0] == 'd';

		/* The type and length first: their messages differ. */
		if (jsonreq_str(JSONREQ_GLANCE, o, k, 0, 32, JSONREQ_BYTES |
		    JSONREQ_NULLABLE, &s, NULL) == -1 ||
		    jsonreq_enum(JSONREQ_GLANCE, o, k, disk ? disk_formats :
		    container_formats, "the supported formats",
		    JSONREQ_NULLABLE, &s, NULL) == -1)
			return -1;
		return codec_str_set(disk ? &img->disk_format :
		    &img->container_format, s);
	}
	if (strcmp(k, "protected") == 0 || strcmp(k, "os_hidden") == 0) {
		if (jsonreq_bool(JSONREQ_GLANCE, o, k, 0, &b, NULL) == -1)
			return -1;
		if (k[0] == 'p')
			img->protected = b;
		else
			img->os_hidden = b;
		return 0;
	}
	if (strcmp(k, "min_disk") == 0)
		return set_int_attr(&img->min_disk, o, k);
	if (strcmp(k, "min_ram") == 0)
		return set_int_attr(&img->min_ram, o, k);
	if (strcmp(k, "tags") == 0)
		return set_tags(img, json_object_get(o, k));
	err_set(TS_EINTERNAL, "unhandled attribute %s", k);
	return -1;
}

/* 403 for names a client may not use as extra properties. */
static int
check_writable(const char *k)
{
	if (in_list(readonly_attrs, k)) {
		err_set(TS_EFORBIDDEN, "Attribute '%s' is read-only.", k);
		return -1;
	}
	if (in_list(reserved_attrs, k) ||
	    strncmp(k, RESERVED_NS, strlen(RESERVED_NS)) == 0) {
		err_set(TS_EFORBIDDEN, "Attribute '%s' is reserved.", k);
		return -1;
	}
	return 0;
}

/*
 * An extra property value (the member k of o): a string (Glance's
 * additionalProperties), with the schema-image.json patterns for kernel_id
 * and ramdisk_id. *out NULL means "unset it" (null for the two that allow
 * it).
 */
static int
extra_value(json_t *o, const char *k, const char **out)
{
	static const char *const deletion_policies[] = {
		"on_image_deletion", "do_not_delete", NULL
	};
	bool id_prop = strcmp(k, "kernel_id") == 0 ||
	    strcmp(k, "ramdisk_id") == 0;

	if (jsonreq_str(JSONREQ_GLANCE, o, k, 0, PROP_VAL_MAX, JSONREQ_BYTES |
	    (id_prop ? JSONREQ_NULLABLE : 0), out, NULL) == -1)
		return -1;
	if (id_prop && *out != NULL)
		return jsonreq_uuid(JSONREQ_GLANCE, o, k, 0, out, NULL);
	if (strcmp(k, "cinder_encryption_key_deletion_policy") == 0)
		return jsonreq_enum(JSONREQ_GLANCE, o, k, deletion_policies,
		    NULL, 0, out, NULL);
	return 0;
}

static int
check_key(const char *k, size_t len)
{
	if (len == 0 || len > PROP_KEY_MAX || strlen(k) != len) {
		err_set(TS_EINVALID, "Custom property names must be 1 to 255 "
		    "bytes.");
		return -1;
	}
	return 0;
}

/* ---- create ---------------------------------------------------------------- */

int
image_json_from_create(json_t *body, struct rec_image *img)
{
	const char *k, *s;
	json_t *v;
	size_t i;

	if (jsonreq_body(JSONREQ_GLANCE, body, NULL, &body) == -1)
		return -1;
	json_object_foreach(body, k, v) {
		if (check_key(k, strlen(k)) == -1)
			goto fail;
		if (strcmp(k, "id") == 0) {
			if (jsonreq_uuid(JSONREQ_GLANCE, body, k, 0, &s,
			    NULL) == -1)
				goto fail;
			snprintf(img->id, sizeof(img->id), "%s", s);
			for (i = 0; img->id[i] != '\0'; i++)
				img->id[i] = (char)tolower(
				    (unsigned char)img->id[i]);
			continue;
		}
		if (is_base(k)) {
			if (set_base(img, body, k) == -1)
				goto fail;
			continue;
		}
		if (check_writable(k) == -1)
			goto fail;
		if (extra_value(body, k, &s) == -1)
			goto fail;
		if (s != NULL && prop_set(img, k, s) == -1)
			goto fail;
	}
	return 0;
fail:
	codec_clear(&schema_rec_image, img);
	return -1;
}

/* ---- JSON-patch ---------------------------------------------------------- */

int
image_json_patch_media(const char *ct, enum image_json_patch_media *out)
{
	static const char v20[] = "application/openstack-images-v2.0-json-patch";
	static const char v21[] = "application/openstack-images-v2.1-json-patch";
	size_t n;

	if (ct != NULL) {
		n = strcspn(ct, ";");
		while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
			n--;
		if (n == sizeof(v20) - 1 && strncasecmp(ct, v20, n) == 0) {
			*out = IMAGE_PATCH_V20;
			return 0;
		}
		if (n == sizeof(v21) - 1 && strncasecmp(ct, v21, n) == 0) {
			*out = IMAGE_PATCH_V21;
			return 0;
		}
	}
	err_set(TS_EUNSUPPORTED_MEDIA, "Image PATCH expects Content-Type one "
	    "of: %s, %s", v20, v21);
	return -1;
}

/*
 * Decode a JSON pointer of exactly one token ("/name") into out, as
 * Glance's _decode_json_pointer with its depth limit of 1: "~1" is '/',
 * "~0" is '~', surrounding spaces are stripped.
 */
static int
decode_pointer(const char *p, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0, a, b;

	if (len == 0 || p[0] != '/') {
		err_set(TS_EINVALID, "Pointer `%.*s` does not start with "
		    "\"/\".", (int)(len > 80 ? 80 : len), p);
		return -1;
	}
	if (len > POINTER_MAX || strlen(p) != len) {
		err_set(TS_EINVALID, "Invalid JSON pointer for this resource.");
		return -1;
	}
	for (i = 1; i < len; i++) {
		if (p[i] == '/') {
			err_set(TS_EINVALID, "Invalid JSON pointer for this "
			    "resource: '%.*s'", (int)(len > 80 ? 80 : len), p);
			return -1;
		}
		if (p[i] == '~') {
			if (i + 1 >= len || (p[i + 1] != '0' &&
			    p[i + 1] != '1')) {
				err_set(TS_EINVALID, "Pointer `%.*s` contains "
				    "\"~\" not part of a recognized escape "
				    "sequence.", (int)(len > 80 ? 80 : len), p);
				return -1;
			}
			if (o + 1 >= outlen)
				goto long_;
			out[o++] = p[i + 1] == '1' ? '/' : '~';
			i++;
			continue;
		}
		if (o + 1 >= outlen)
			goto long_;
		out[o++] = p[i];
	}
	out[o] = '\0';
	for (a = 0; a < o && isspace((unsigned char)out[a]); a++)
		;
	for (b = o; b > a && isspace((unsigned char)out[b - 1]); b--)
		;
	memmove(out, out + a, b - a);
	out[b - a] = '\0';
	if (out[0] == '\0') {
		err_set(TS_EINVALID, "Pointer `%.*s` does not contain a valid "
		    "token.", (int)(len > 80 ? 80 : len), p);
		return -1;
	}
	return 0;
long_:
	err_set(TS_EINVALID, "Custom property names must be 1 to 255 bytes.");
	return -1;
}

enum patch_op { OP_ADD, OP_REMOVE, OP_REPLACE };

static int
parse_op(json_t *ch, enum image_json_patch_media media, enum patch_op *op,
    json_t **path)
{
	static const char *const names[] = { "add", "remove", "replace" };
	const char *s;
	json_t *v;
	int i, found = -1;

	if (media == IMAGE_PATCH_V21) {
		v = json_object_get(ch, "op");
		if (v == NULL) {
			err_set(TS_EINVALID, "Unable to find `op` in JSON "
			    "Schema change. It must be one of the following: "
			    "add, remove, replace.");
			return -1;
		}
		s = json_is_string(v) ? json_string_value(v) : "";
		for (i = 0; i < 3; i++)
			if (strcmp(s, names[i]) == 0)
				found = i;
		if (found < 0) {
			err_set(TS_EINVALID, "Invalid operation: `%.64s`. It "
			    "must be one of the following: add, remove, "
			    "replace.", s);
			return -1;
		}
		*path = json_object_get(ch, "path");
		if (*path == NULL) {
			err_set(TS_EINVALID, "Unable to find 'path' in JSON "
			    "Schema change");
			return -1;
		}
	} else {
		for (i = 0; i < 3; i++) {
			if ((v = json_object_get(ch, names[i])) == NULL)
				continue;
			if (found >= 0) {
				err_set(TS_EINVALID, "Operation objects must "
				    "contain only one member named \"add\", "
				    "\"remove\", or \"replace\".");
				return -1;
			}
			found = i;
			*path = v;
		}
		if (found < 0) {
			err_set(TS_EINVALID, "Operation objects must contain "
			    "exactly one member named \"add\", \"remove\", or "
			    "\"replace\".");
			return -1;
		}
	}
	if (!json_is_string(*path)) {
		err_set(TS_EINVALID, "The path of a change must be a string.");
		return -1;
	}
	*op = (enum patch_op)found;
	return 0;
}

static int
apply_one(struct rec_image *img, json_t *ch, enum image_json_patch_media media,
    bool admin)
{
	char key[PROP_KEY_MAX + 2];
	enum patch_op op;
	const char *s;
	json_t *path, *value = NULL, *one;
	bool base;
	int rc;

	if (!json_is_object(ch)) {
		err_set(TS_EINVALID, "Operations must be JSON objects.");
		return -1;
	}
	if (parse_op(ch, media, &op, &path) == -1)
		return -1;
	if (decode_pointer(json_string_value(path), json_string_length(path),
	    key, sizeof(key)) == -1)
		return -1;
	if (check_key(key, strlen(key)) == -1)
		return -1;
	if (op != OP_REMOVE) {
		if ((value = json_object_get(ch, "value")) == NULL) {
			err_set(TS_EINVALID, "Operation \"%s\" requires a "
			    "member named \"value\".", op == OP_ADD ? "add" :
			    "replace");
			return -1;
		}
	}
	if (check_writable(key) == -1)
		return -1;
	base = is_base(key);
	if (strcmp(key, "owner") == 0 && !admin) {
		err_set(TS_EFORBIDDEN, "Owner can't be updated by non admin.");
		return -1;
	}
	if ((strcmp(key, "disk_format") == 0 ||
	    strcmp(key, "container_format") == 0) &&
	    strcmp(img->status, "queued") != 0) {
		/* The data was inspected against the declared format. */
		err_set(TS_EFORBIDDEN, "Attribute %s can be only replaced for "
		    "a queued image.", key);
		return -1;
	}
	switch (op) {
	case OP_REMOVE:
		if (base) {
			err_set(TS_EFORBIDDEN, "Property %s may not be "
			    "removed.", key);
			return -1;
		}
		if (prop_get(img, key) == NULL) {
			err_set(TS_ECONFLICT, "Property %s does not exist.",
			    key);
			return -1;
		}
		prop_del(img, key);
		return 0;
	case OP_ADD:
		/* Every base attribute exists on every image (possibly
		 * null), which is what Glance's hasattr() checks. */
		if (media == IMAGE_PATCH_V20 && (base ||
		    prop_get(img, key) != NULL)) {
			err_set(TS_ECONFLICT, "Property %s already present.",
			    key);
			return -1;
		}
		break;
	case OP_REPLACE:
		if (!base && prop_get(img, key) == NULL) {
			err_set(TS_ECONFLICT, "Property %s does not exist.",
			    key);
			return -1;
		}
		break;
	}
	/* The readers take an object: the value under its key. s stays
	 * valid after one goes, as ch holds value too. */
	if ((one = json_pack("{s:O}", key, value)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (base)
		rc = set_base(img, one, key);
	else if ((rc = extra_value(one, key, &s)) == 0) {
		if (s == NULL)
			prop_del(img, key);
		else
			rc = prop_set(img, key, s);
	}
	json_decref(one);
	return rc;
}

int
image_json_patch_apply(struct rec_image *img, json_t *patch,
    enum image_json_patch_media media, bool admin)
{
	struct rec_image work;
	json_t *ch;
	size_t i;

	if (patch == NULL || !json_is_array(patch)) {
		err_set(TS_EINVALID, "Request body must be a JSON array of "
		    "operation objects.");
		return -1;
	}
	if (image_json_copy(&work, img) == -1)
		return -1;
	json_array_foreach(patch, i, ch) {
		if (apply_one(&work, ch, media, admin) == -1) {
			codec_clear(&schema_rec_image, &work);
			return -1;
		}
	}
	codec_clear(&schema_rec_image, img);
	*img = work;
	return 0;
}

/* ---- extra properties alone (compute's image metadata) -------------------- */

int
image_json_props_apply(struct rec_image *img, const struct image_kv *set,
    size_t n, bool purge, const char *remove)
{
	struct rec_image work;
	size_t i;

	if (image_json_copy(&work, img) == -1)
		return -1;
	if (purge)
		while (work.properties.n > 0)
			prop_del(&work, work.properties.items[0].k);
	if (remove != NULL) {
		if (prop_get(&work, remove) == NULL) {
			err_set(TS_ENOT_FOUND, "Property %s not found.",
			    remove);
			goto fail;
		}
		prop_del(&work, remove);
	}
	for (i = 0; i < n; i++) {
		if (check_key(set[i].key, strlen(set[i].key)) == -1)
			goto fail;
		/* A base attribute is no extra property: Glance would
		 * take the name as the attribute's, never as metadata. */
		if (is_base(set[i].key)) {
			err_set(TS_EFORBIDDEN, "Attribute '%s' is reserved.",
			    set[i].key);
			goto fail;
		}
		if (check_writable(set[i].key) == -1)
			goto fail;
		if (strlen(set[i].value) > PROP_VAL_MAX) {
			err_set(TS_EINVALID, "Value of %s is longer than %d "
			    "bytes.", set[i].key, PROP_VAL_MAX);
			goto fail;
		}
		if (prop_set(&work, set[i].key, set[i].value) == -1)
			goto fail;
	}
	codec_clear(&schema_rec_image, img);
	*img = work;
	return 0;
fail:
	codec_clear(&schema_rec_image, &work);
	return -1;
}
