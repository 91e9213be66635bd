/*
 * fuzz_domxml: the owner-record reader (domxml_meta_parse) on arbitrary
 * text, as libvirt might hand back a domain definition or a metadata
 * element. It must never read outside the input, and every field it
 * returns must fit its buffer and hold no NUL before its end; a record it
 * accepts is rendered again by domxml_build() (when the fields are valid
 * there) and must read back identically. The volume-disk reader
 * (domxml_volumes) on the same text: every disk it lists has a UUID
 * serial, an attachment id that is empty or a UUID, a bounded target, and
 * domxml_volume_element() finds its element. The local-disk reader
 * (domxml_local_disks) too: each target it lists is 1..7 characters
 * without a quote.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "uuid.h"
#include "virt/domxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domxml_meta m, back;
	struct domxml_spec s = {
		.uuid = "3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b",
		.vcpus = 1,
		.memory_mb = 64,
		.kernel = "/k",
	};
	struct domxml_voldisk v[8];
	char *text, *xml;
	size_t n;

	if (size > 1 << 20 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (domxml_volumes(text, v, 8, &n) == 0) {
		if (n > 8)
			abort();
		for (size_t k = 0; k < n; k++) {
			if (!uuid_valid(v[k].volume_id) ||
			    (v[k].attachment_id[0] != '\0' &&
			    !uuid_valid(v[k].attachment_id)) ||
			    strnlen(v[k].target, sizeof(v[k].target)) ==
			    sizeof(v[k].target))
				abort();
			if ((xml = domxml_volume_element(text,
			    v[k].volume_id)) == NULL ||
			    strstr(xml, v[k].volume_id) == NULL)
				abort();
			free(xml);
		}
	}
	{
		char local[8][8];

		if (domxml_local_disks(text, local, 8, &n) == 0) {
			if (n > 8)
				abort();
			for (size_t k = 0; k < n; k++)
				if (local[k][0] == '\0' || strnlen(local[k],
				    sizeof(local[k])) == sizeof(local[k]) ||
				    strchr(local[k], '\'') != NULL)
					abort();
		}
	}
	if (domxml_meta_parse(text, &m) == 0) {
		if (strlen(m.project_id) > DOMXML_TEXT_MAX ||
		    strlen(m.user_id) > DOMXML_TEXT_MAX ||
		    strlen(m.flavor_name) > DOMXML_TEXT_MAX ||
		    strlen(m.image_id) > DOMXML_TEXT_MAX ||
		    strlen(m.kernel_id) > DOMXML_TEXT_MAX ||
		    strlen(m.ramdisk_id) > DOMXML_TEXT_MAX)
			abort();
		s.generation = m.generation;
		s.project_id = m.project_id[0] ? m.project_id : NULL;
		s.user_id = m.user_id[0] ? m.user_id : NULL;
		s.flavor_name = m.flavor_name[0] ? m.flavor_name : NULL;
		s.image_id = m.image_id[0] ? m.image_id : NULL;
		s.kernel_id = m.kernel_id[0] ? m.kernel_id : NULL;
		s.ramdisk_id = m.ramdisk_id[0] ? m.ramdisk_id : NULL;
		if ((xml = domxml_build(&s)) != NULL) {
			if (domxml_meta_parse(xml, &back) != 0 ||
			    memcmp(&m, &back, sizeof(m)) != 0)
				abort();
			free(xml);
		}
	}
	free(text);
	return 0;
}
