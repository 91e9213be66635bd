/*
 * fuzz_imgfmt: the disk-image format inspector on arbitrary bytes.
 *
 * Input: [mode:1][split1:le16][split2:le16][payload].
 *  - mode bit 0 clear: the payload is the image.
 *  - mode bit 0 set: the payload describes a sparse image, so that small
 *    inputs reach structures far into a file (the vhdx metadata region at
 *    1 MiB and beyond, vmdk and vhd footers at the end): le32 image size
 *    (capped at 8 MiB), then records {le32 offset, le16 length, bytes}
 *    written over zeros (clipped to the image).
 *
 * The image is inspected four ways: fed whole; fed in three chunks split at
 * the two split points (scaled to the image); fed in pieces of 1..7 bytes
 * (small images only); and through imgfmt_inspect_fd on a memfd, which
 * skips what no detector needs. All verdicts must be identical, the
 * buffered amount must stay within IMGFMT_BUFFERED_MAX, and the policy must
 * never accept an unsafe or ambiguous image.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"
#include "imgfmt.h"

#define SPARSE_MAX	(8u * 1024 * 1024)
#define SMALL_MAX	(16u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t *image;		/* SPARSE_MAX bytes, reused */
static int memfd = -1;

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_imgfmt: %s\n", what);
		abort();
	}
}

static void
same(const struct imgfmt_result *a, const struct imgfmt_result *b)
{
	check(a->format == b->format, "format differs");
	check(strcmp(a->format_name, b->format_name) == 0, "name differs");
	check(a->size == b->size, "size differs");
	check(a->virtual_size == b->virtual_size, "virtual_size differs");
	check(a->virtual_size_known == b->virtual_size_known, "known differs");
	check(a->matched == b->matched, "matched differs");
	check(a->multiple_formats_matched == b->multiple_formats_matched,
	    "multiple differs");
	check(a->has_backing_file == b->has_backing_file, "backing differs");
	check(a->has_data_file == b->has_data_file, "data file differs");
	check(a->unknown_incompat_features == b->unknown_incompat_features,
	    "unknown features differ");
	check(a->qcow2_incompat_features == b->qcow2_incompat_features,
	    "features differ");
	check(a->vmdk_extents_external == b->vmdk_extents_external,
	    "extents differ");
	check(strcmp(a->vmdk_create_type, b->vmdk_create_type) == 0,
	    "create type differs");
	check(a->encrypted == b->encrypted, "encrypted differs");
	check(a->safe == b->safe, "safe differs");
	check(strcmp(a->reason, b->reason) == 0, "reason differs");
}

static void
feed(struct imgfmt *st, const uint8_t *p, size_t n)
{
	check(imgfmt_feed(st, p, n) == 0, "feed failed");
	check(imgfmt_buffered(st) <= IMGFMT_BUFFERED_MAX, "buffer cap");
}

static void
finish(struct imgfmt **stp, struct imgfmt_result *r)
{
	check(imgfmt_finish(*stp, r) == 0, "finish failed");
	imgfmt_free(stp);
}

static void
policy(const struct imgfmt_result *r)
{
	static const char *const declared[] = {
		"raw", "ami", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso",
		"luks", "ploop",
	};
	size_t i;

	check(r->safe == (r->reason[0] == '\0'), "safe without reason");
	check(strcmp(r->format_name, imgfmt_format_name(r->format)) == 0,
	    "format name");
	check(!r->multiple_formats_matched || !r->safe, "ambiguous yet safe");
	check(!(r->has_backing_file || r->has_data_file ||
	    r->unknown_incompat_features || r->vmdk_extents_external) ||
	    !r->safe, "external reference yet safe");
	for (i = 0; i < sizeof(declared) / sizeof(declared[0]); i++) {
		if (imgfmt_check_declared(r, declared[i]) != 0)
			continue;
		check(r->safe && !r->multiple_formats_matched,
		    "policy accepted an unsafe image");
		check(imgfmt_format_qemu_driver(r->format) != NULL,
		    "policy accepted a refused format");
	}
}

static size_t
build_sparse(const uint8_t *p, size_t n)
{
	size_t size, off, len;

	if (n < 4)
		return 0;
	size = rd32(p) % (SPARSE_MAX + 1);
	memset(image, 0, size);
	p += 4;
	n -= 4;
	while (n >= 6) {
		off = rd32(p);
		len = (size_t)(p[4] | p[5] << 8);
		p += 6;
		n -= 6;
		if (len > n)
			len = n;
		if (off < size)
			memcpy(image + off, p, off + len <= size ? len :
			    size - off);
		p += len;
		n -= len;
	}
	return size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imgfmt_result whole, x;
	struct imgfmt *st;
	const uint8_t *img;
	size_t len, s1, s2, t, off, n;
	unsigned k;

	if (size < 5)
		return 0;
	if (image == NULL && (image = malloc(SPARSE_MAX)) == NULL)
		abort();
	if (memfd == -1 && (memfd = memfd_create("fuzz_imgfmt", MFD_CLOEXEC)) ==
	    -1)
		abort();
	if (data[0] & 1) {
		len = build_sparse(data + 5, size - 5);
		img = image;
	} else {
		len = size - 5;
		img = data + 5;
	}
	s1 = (size_t)((uint64_t)(data[1] | data[2] << 8) * len / 65535);
	s2 = (size_t)((uint64_t)(data[3] | data[4] << 8) * len / 65535);
	if (s1 > s2) {
		t = s1;
		s1 = s2;
		s2 = t;
	}

	check((st = imgfmt_new()) != NULL, "new");
	feed(st, img, len);
	finish(&st, &whole);
	check(whole.size == len, "size");
	policy(&whole);

	check((st = imgfmt_new()) != NULL, "new");
	feed(st, img, s1);
	feed(st, img + s1, s2 - s1);
	feed(st, img + s2, len - s2);
	finish(&st, &x);
	same(&whole, &x);

	if (len <= SMALL_MAX) {
		check((st = imgfmt_new()) != NULL, "new");
		for (off = 0, k = 0; off < len; off += n, k++) {
			n = 1 + (k + data[1]) % 7;
			if (n > len - off)
				n = len - off;
			feed(st, img + off, n);
		}
		finish(&st, &x);
		same(&whole, &x);
	}

	check(ftruncate(memfd, 0) == 0, "ftruncate");
	for (off = 0; off < len; off += n) {
		ssize_t w = pwrite(memfd, img + off, len - off, (off_t)off);

		check(w > 0, "pwrite");
		n = (size_t)w;
	}
	check(imgfmt_inspect_fd(memfd, &x) == 0, "inspect_fd");
	same(&whole, &x);
	return 0;
}
