/*
 * fuzz_image_json: the Image API's request decoders (controller/image_json.c
 * and image_list.c) on hostile input. The first byte picks the decoder:
 *   0  create body (image_json_from_create), then render the result
 *   1  JSON-patch, v2.0 media type, as a member
 *   2  JSON-patch, v2.1 media type, as an admin
 *   3  a list query string "k=v&k=v" (image_list_query_parse), then the filter
 *      and sort functions on two fixed images
 * Invariants checked: no crash or sanitizer report, a failed patch leaves
 * the image exactly as it was, a successful one renders.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "image/image_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
base_image(struct rec_image *img, const char *id, uint64_t size)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:[s, s]}", "name",
	    "cirros", "disk_format", "qcow2", "container_format", "bare",
	    "os_distro", "cirros", "tags", "a", "b");

	memset(img, 0, sizeof(*img));
	if (j == NULL || image_json_from_create(j, img) == -1)
		abort();
	json_decref(j);
	snprintf(img->id, sizeof(img->id), "%s", id);
	img->status = strdup("queued");
	img->visibility = strdup("shared");
	img->owner = strdup("p1");
	if (img->status == NULL || img->visibility == NULL ||
	    img->owner == NULL)
		abort();
	img->has_size = true;
	img->size = size;
	img->created_at = 1000;
	img->updated_at = 2000;
}

static void
fuzz_json(int mode, const uint8_t *data, size_t size)
{
	struct rec_image img;
	json_t *j, *before, *after, *out;
	json_error_t e;

	if ((j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    &e)) == NULL)
		return;
	if (mode == 0) {
		memset(&img, 0, sizeof(img));
		if (image_json_from_create(j, &img) == 0) {
			snprintf(img.id, sizeof(img.id),
			    "00000000-0000-4000-8000-000000000001");
			img.status = strdup("queued");
			if (img.visibility == NULL)
				img.visibility = strdup("private");
			if (img.status != NULL && img.visibility != NULL &&
			    (out = image_json_to_json(&img)) != NULL)
				json_decref(out);
			codec_clear(&schema_rec_image, &img);
		}
		json_decref(j);
		return;
	}
	base_image(&img, "00000000-0000-4000-8000-000000000001", 5);
	before = image_json_to_json(&img);
	if (image_json_patch_apply(&img, j, mode == 1 ? IMAGE_PATCH_V20 :
	    IMAGE_PATCH_V21, mode == 2) == -1) {
		after = image_json_to_json(&img);
		if (before == NULL || after == NULL || !json_equal(before,
		    after))
			abort();	/* a failed patch changed the image */
		json_decref(after);
	} else if ((out = image_json_to_json(&img)) == NULL) {
		abort();
	} else {
		json_decref(out);
	}
	json_decref(before);
	codec_clear(&schema_rec_image, &img);
	json_decref(j);
}

static void
fuzz_query(const uint8_t *data, size_t size)
{
	struct image_kv kv[64];
	struct image_query q;
	struct rec_image a, b;
	char *buf, *p, *amp, *eq;
	size_t n = 0;
	int ab, ba;

	if ((buf = malloc(size + 1)) == NULL)
		return;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; *p != '\0' && n < 64; p = amp) {
		amp = p + strcspn(p, "&");
		if (*amp == '&')
			*amp++ = '\0';
		eq = strchr(p, '=');
		if (eq != NULL)
			*eq++ = '\0';
		kv[n].key = p;
		kv[n].value = eq != NULL ? eq : "";
		n++;
	}
	if (image_list_query_parse(&q, kv, n) == 0) {
		base_image(&a, "00000000-0000-4000-8000-000000000001", 5);
		base_image(&b, "00000000-0000-4000-8000-000000000002", 7);
		(void)image_list_query_match(&q, &a);
		(void)image_list_query_match(&q, &b);
		ab = image_list_query_cmp(&q, &a, &b);
		ba = image_list_query_cmp(&q, &b, &a);
		/* A total order: antisymmetric, and only equal to itself
		 * (the id breaks every tie). */
		if (ab == 0 || (ab > 0) == (ba > 0) ||
		    image_list_query_cmp(&q, &a, &a) != 0)
			abort();
		codec_clear(&schema_rec_image, &a);
		codec_clear(&schema_rec_image, &b);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 4 == 3)
		fuzz_query(data + 1, size - 1);
	else
		fuzz_json(data[0] % 4, data + 1, size - 1);
	err_clear();
	return 0;
}
