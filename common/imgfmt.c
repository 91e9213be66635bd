/*
 * imgfmt: streaming disk-image format inspector; the detection and safety
 * rules are documented in imgfmt.h.
 *
 * Invariants:
 *  - head[] holds stream bytes [0, head_len); head_len == min(pos, HEAD_MAX)
 *    (imgfmt_inspect_fd only skips ahead once head[] is full).
 *  - tail[] is a ring holding the last tail_len (<= TAIL_MAX) stream bytes.
 *  - A capture fills strictly in stream order, so it only ever appends; a
 *    capture whose start has already streamed past is marked missed.
 *  - Every header read goes through at() or follows an explicit length check
 *    against the bytes actually held; offset arithmetic on values from the
 *    file is checked for overflow first.
 *  - Nothing recurses and nothing is allocated after imgfmt_new(); lengths
 *    read from the file only ever select bytes inside the fixed buffers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "imgfmt.h"

#define KIB		1024u
#define MIB		(1024u * 1024u)
#define FD_CHUNK	(64 * KIB)

/* qcow2 (docs/interop/qcow2.txt) */
#define QCOW2_V2_HDR		72
#define QCOW2_V3_HDR		104
#define QCOW2_INCOMPAT_CORRUPT	(1ull << 1)
#define QCOW2_INCOMPAT_DATA	(1ull << 2)
#define QCOW2_INCOMPAT_KNOWN	0x1full		/* dirty..extended L2 */
#define QCOW2_EXT_DATA_FILE	0x44415441u

/* vmdk (qemu block/vmdk.c) */
#define VMDK4_HDR		79		/* magic + packed VMDK4Header */
#define VMDK_DESC_OFF		512
#define VMDK_DESC_MAX		((1u << 20) - 1)	/* qemu's read cap */
#define VMDK_GD_AT_END		UINT64_MAX
#define VMDK_MARKER_FOOTER	3
#define VMDK_FOOTER_LEN		1536

/* vhd (qemu block/vpc.c) */
#define VHD_FOOTER		512
#define VHD_TYPE_FIXED		2
#define VHD_TYPE_DYNAMIC	3
#define VHD_TYPE_DIFF		4
#define VHD_MAX_SECTORS		0xff000000ull		/* 2040 GiB */
#define VHD_MAX_GEOMETRY	(65535ull * 16 * 255)

/* vhdx (MS-VHDX 2.2) */
#define VHDX_RT_OFF		(192 * KIB)
#define VHDX_RT_LEN		(64 * KIB)
#define VHDX_META_TABLE_LEN	(64 * KIB)
#define VHDX_MAX_ENTRIES	2047
#define VHDX_META_REQUIRED	(1u << 2)
#define VHDX_PARAMS_HAS_PARENT	(1u << 1)

/* vdi (qemu block/vdi.c) */
#define VDI_HDR			0x1c8
#define VDI_SIGNATURE		0xbeda107fu
#define VDI_VERSION_1_1		0x00010001u

/* iso 9660 / udf */
#define ISO_VD_START		(32 * KIB)
#define ISO_SECTOR		2048

_Static_assert(IMGFMT_HEAD_MAX >= VHDX_RT_OFF + VHDX_RT_LEN,
    "head must hold the vhdx region table");
_Static_assert(IMGFMT_VHDX_META_MAX == VHDX_META_TABLE_LEN,
    "metadata buffer is exactly one metadata table");
_Static_assert(IMGFMT_TAIL_MAX >= VMDK_FOOTER_LEN &&
    IMGFMT_TAIL_MAX >= VHD_FOOTER, "tail must hold the footers");
_Static_assert(IMGFMT_FORMAT_COUNT <= 32, "matched is a 32-bit mask");

static const char cloop_magic[] = "#!/bin/sh\n#V2.0 Format\n"
    "modprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";

/* VHDX GUIDs as stored on disk (first three fields little-endian). */
static const uint8_t guid_bat[16] = {	/* 2DC27766-F623-4200-9D64-115E9BFD4A08 */
	0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
	0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
static const uint8_t guid_meta[16] = {	/* 8B7CA206-4790-4B9A-B8FE-575F050F886E */
	0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
	0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
static const uint8_t guid_fparams[16] = { /* CAA16737-FA36-4D43-B3B6-33F0AA44E76B */
	0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
	0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
static const uint8_t guid_vds[16] = {	/* 2FA54224-CD1B-4876-B211-5DBED83BF4B8 */
	0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
	0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
static const uint8_t guid_page83[16] = { /* BECA12AB-B2E6-4523-93EF-C309E000C746 */
	0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
	0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46 };
static const uint8_t guid_lss[16] = {	/* 8141BF1D-A96F-4709-BA47-F233A8FAAB5F */
	0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
	0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };
static const uint8_t guid_pss[16] = {	/* CDA348C7-445D-4471-9CC9-E9885251C556 */
	0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44,
	0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56 };
static const uint8_t guid_parent[16] = { /* A8D35F2D-B30B-454D-ABF7-D3D84834AB0C */
	0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
	0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };

/* A byte range at a fixed stream offset, filled as the stream passes it. */
struct capture {
	uint64_t	 off;
	uint32_t	 len;
	uint32_t	 have;
	uint8_t		*buf;		/* points into struct imgfmt */
	bool		 armed;
	bool		 missed;
};

enum vhdx_stage {
	VHDX_WAIT_REGIONS = 0,	/* until head[] holds the region table */
	VHDX_WAIT_META,		/* metadata table capture armed */
	VHDX_WAIT_ITEMS,	/* item captures armed (if the items exist) */
	VHDX_FAILED,		/* vhdx_reason says why */
};

struct imgfmt {
	uint64_t	 pos;		/* stream bytes presented so far */
	bool		 finished;
	size_t		 head_len;
	size_t		 tail_len;
	size_t		 tail_w;	/* ring index of the next byte */

	enum vhdx_stage	 vhdx_stage;
	char		 vhdx_reason[IMGFMT_REASON_MAX];
	bool		 vhdx_parent;
	uint32_t	 vhdx_meta_len;
	struct capture	 cap_meta;
	struct capture	 cap_vds;
	struct capture	 cap_fparams;
	uint8_t		 vds[8];
	uint8_t		 fparams[8];

	uint8_t		 tail[IMGFMT_TAIL_MAX];
	/* Large buffers last: calloc'd pages stay untouched until used. */
	uint8_t		 meta[IMGFMT_VHDX_META_MAX];
	uint8_t		 head[IMGFMT_HEAD_MAX];
};

static const char *const format_names[IMGFMT_FORMAT_COUNT] = {
	[IMGFMT_RAW] = "raw",
	[IMGFMT_QCOW2] = "qcow2",
	[IMGFMT_VMDK] = "vmdk",
	[IMGFMT_VHD] = "vhd",
	[IMGFMT_VHDX] = "vhdx",
	[IMGFMT_VDI] = "vdi",
	[IMGFMT_ISO] = "iso",
	[IMGFMT_LUKS] = "luks",
	[IMGFMT_QED] = "qed",
	[IMGFMT_PARALLELS] = "parallels",
	[IMGFMT_BOCHS] = "bochs",
	[IMGFMT_CLOOP] = "cloop",
};

static const char *const qemu_drivers[IMGFMT_FORMAT_COUNT] = {
	[IMGFMT_RAW] = "raw",
	[IMGFMT_QCOW2] = "qcow2",
	[IMGFMT_VMDK] = "vmdk",
	[IMGFMT_VHD] = "vpc",
	[IMGFMT_VHDX] = "vhdx",
	[IMGFMT_VDI] = "vdi",
	[IMGFMT_ISO] = "raw",
	[IMGFMT_LUKS] = "luks",
};

const char *
imgfmt_format_name(enum imgfmt_format f)
{
	if ((unsigned)f >= IMGFMT_FORMAT_COUNT)
		return "unknown";
	return format_names[f];
}

const char *
imgfmt_format_qemu_driver(enum imgfmt_format f)
{
	if ((unsigned)f >= IMGFMT_FORMAT_COUNT)
		return NULL;
	return qemu_drivers[f];
}

/* ---- byte access ---- */

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | (uint64_t)be32(p + 4);
}

/* The n bytes at off in a buffer of len bytes, or NULL if they are not all
 * there. */
static const uint8_t *
at(const uint8_t *b, size_t len, uint64_t off, size_t n)
{
	if (off > len || n > len - off)
		return NULL;
	return b + off;
}

/* ---- streaming state ---- */

static void
capture_arm(struct capture *c, uint64_t off, uint32_t len)
{
	c->off = off;
	c->len = len;
	c->have = 0;
	c->armed = true;
	c->missed = false;
}

static bool
capture_done(const struct capture *c)
{
	return c->armed && c->have == c->len;
}

/* Take whatever part of the chunk [start, start + n) the capture still
 * needs. Idempotent for a chunk already seen. */
static void
capture_chunk(struct capture *c, uint64_t start, const uint8_t *p, size_t n)
{
	uint64_t want;
	size_t skip, take;

	if (!c->armed || c->have == c->len || c->missed)
		return;
	want = c->off + c->have;
	if (want < start) {
		c->missed = true;
		return;
	}
	if (want - start >= n)
		return;
	skip = (size_t)(want - start);
	take = n - skip;
	if (take > c->len - c->have)
		take = c->len - c->have;
	memcpy(c->buf + c->have, p + skip, take);
	c->have += (uint32_t)take;
}

static void
tail_push(struct imgfmt *st, const uint8_t *p, size_t n)
{
	size_t first;

	if (n >= IMGFMT_TAIL_MAX) {
		memcpy(st->tail, p + n - IMGFMT_TAIL_MAX, IMGFMT_TAIL_MAX);
		st->tail_w = 0;
		st->tail_len = IMGFMT_TAIL_MAX;
		return;
	}
	first = IMGFMT_TAIL_MAX - st->tail_w;
	if (first > n)
		first = n;
	memcpy(st->tail + st->tail_w, p, first);
	memcpy(st->tail, p + first, n - first);
	st->tail_w = (st->tail_w + n) % IMGFMT_TAIL_MAX;
	st->tail_len += n;
	if (st->tail_len > IMGFMT_TAIL_MAX)
		st->tail_len = IMGFMT_TAIL_MAX;
}

/* The ring, oldest byte first, into out[IMGFMT_TAIL_MAX]; returns its
 * length. */
static size_t
tail_linear(const struct imgfmt *st, uint8_t *out)
{
	size_t start, first;

	start = (st->tail_w + IMGFMT_TAIL_MAX - st->tail_len) % IMGFMT_TAIL_MAX;
	first = IMGFMT_TAIL_MAX - start;
	if (first > st->tail_len)
		first = st->tail_len;
	memcpy(out, st->tail + start, first);
	memcpy(out + first, st->tail, st->tail_len - first);
	return st->tail_len;
}

/* CRC-32C (Castagnoli), as VHDX checksums use it, with the 4 checksum bytes
 * at skip read as zero. Bitwise: it runs once per vhdx image on 64 KiB. */
static uint32_t
crc32c(const uint8_t *p, size_t n, size_t skip)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		crc ^= (i >= skip && i < skip + 4) ? 0 : p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void vhdx_fail(struct imgfmt *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
vhdx_fail(struct imgfmt *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->vhdx_reason, sizeof(st->vhdx_reason), fmt, ap);
	va_end(ap);
	st->vhdx_stage = VHDX_FAILED;
}

/* Region table 1 is complete in head[]: find the metadata region and arm
 * the capture of its table. qemu reads only this copy of the table. */
static void
vhdx_parse_regions(struct imgfmt *st)
{
	const uint8_t *rt = st->head + VHDX_RT_OFF, *e;
	uint64_t meta_off = 0, off;
	uint32_t count, i, meta_len = 0;
	bool have_meta = false;

	if (memcmp(rt, "regi", 4) != 0) {
		vhdx_fail(st, "vhdx region table signature missing");
		return;
	}
	if (crc32c(rt, VHDX_RT_LEN, 4) != le32(rt + 4)) {
		vhdx_fail(st, "vhdx region table checksum mismatch");
		return;
	}
	count = le32(rt + 8);
	if (count > VHDX_MAX_ENTRIES) {
		vhdx_fail(st, "vhdx region table has %u entries (limit %u)",
		    count, VHDX_MAX_ENTRIES);
		return;
	}
	for (i = 0; i < count; i++) {
		e = rt + 16 + (size_t)i * 32;	/* <= 16 + 2046 * 32 + 32 */
		off = le64(e + 16);
		if (memcmp(e, guid_meta, 16) == 0) {
			if (have_meta) {
				vhdx_fail(st, "vhdx region table lists two "
				    "metadata regions");
				return;
			}
			have_meta = true;
			meta_off = off;
			meta_len = le32(e + 24);
		} else if (memcmp(e, guid_bat, 16) != 0 &&
		    (le32(e + 28) & 1) != 0) {
			vhdx_fail(st, "vhdx has an unknown required region");
			return;
		}
	}
	if (!have_meta) {
		vhdx_fail(st, "vhdx region table has no metadata region");
		return;
	}
	/* The spec puts regions on 1 MiB boundaries past the headers, which
	 * also guarantees the table is still ahead of the stream. */
	if (meta_off < MIB || meta_off % MIB != 0 ||
	    meta_len < VHDX_META_TABLE_LEN || meta_off > UINT64_MAX - meta_len) {
		vhdx_fail(st, "vhdx metadata region (offset %#llx, length %u) "
		    "is invalid", (unsigned long long)meta_off, meta_len);
		return;
	}
	st->vhdx_meta_len = meta_len;
	capture_arm(&st->cap_meta, meta_off, VHDX_META_TABLE_LEN);
	st->vhdx_stage = VHDX_WAIT_META;
}

/* Arm a capture of the 8-byte metadata item at item_off in the region. */
static bool
vhdx_arm_item(struct imgfmt *st, struct capture *c, const char *what,
    uint32_t item_off, uint32_t item_len)
{
	if (c->armed) {
		vhdx_fail(st, "vhdx metadata lists %s twice", what);
		return false;
	}
	/* Items follow the 64 KiB table (spec), so they are still ahead. */
	if (item_off < VHDX_META_TABLE_LEN || item_len < 8 ||
	    st->vhdx_meta_len < 8 || item_off > st->vhdx_meta_len - 8) {
		vhdx_fail(st, "vhdx %s item (offset %u, length %u) is invalid",
		    what, item_off, item_len);
		return false;
	}
	capture_arm(c, st->cap_meta.off + item_off, 8);
	return true;
}

static void
vhdx_parse_meta(struct imgfmt *st)
{
	const uint8_t *m = st->meta, *e;
	uint32_t i, count, item_off, item_len, flags;

	if (memcmp(m, "metadata", 8) != 0) {
		vhdx_fail(st, "vhdx metadata table signature missing");
		return;
	}
	count = le16(m + 10);
	if (count > VHDX_MAX_ENTRIES) {
		vhdx_fail(st, "vhdx metadata table has %u entries (limit %u)",
		    count, VHDX_MAX_ENTRIES);
		return;
	}
	for (i = 0; i < count; i++) {
		e = m + 32 + (size_t)i * 32;	/* <= 32 + 2046 * 32 + 32 */
		item_off = le32(e + 16);
		item_len = le32(e + 20);
		flags = le32(e + 24);
		if (memcmp(e, guid_vds, 16) == 0) {
			if (!vhdx_arm_item(st, &st->cap_vds, "virtual disk size",
			    item_off, item_len))
				return;
		} else if (memcmp(e, guid_fparams, 16) == 0) {
			if (!vhdx_arm_item(st, &st->cap_fparams,
			    "file parameters", item_off, item_len))
				return;
		} else if (memcmp(e, guid_parent, 16) == 0) {
			st->vhdx_parent = true;
		} else if (memcmp(e, guid_page83, 16) != 0 &&
		    memcmp(e, guid_lss, 16) != 0 &&
		    memcmp(e, guid_pss, 16) != 0 &&
		    (flags & VHDX_META_REQUIRED) != 0) {
			vhdx_fail(st, "vhdx has an unknown required metadata "
			    "item");
			return;
		}
	}
	st->vhdx_stage = VHDX_WAIT_ITEMS;
}

/* Advance the VHDX walk after the chunk [start, start + n) was taken in;
 * new captures get the same chunk since it may already hold their bytes. */
static void
vhdx_progress(struct imgfmt *st, uint64_t start, const uint8_t *p, size_t n)
{
	if (st->vhdx_stage == VHDX_FAILED || st->head_len < 8 ||
	    memcmp(st->head, "vhdxfile", 8) != 0)
		return;
	if (st->vhdx_stage == VHDX_WAIT_REGIONS) {
		if (st->head_len < VHDX_RT_OFF + VHDX_RT_LEN)
			return;
		vhdx_parse_regions(st);
		if (st->vhdx_stage != VHDX_WAIT_META)
			return;
		capture_chunk(&st->cap_meta, start, p, n);
	}
	if (st->vhdx_stage == VHDX_WAIT_META) {
		if (!capture_done(&st->cap_meta))
			return;
		vhdx_parse_meta(st);
		if (st->vhdx_stage != VHDX_WAIT_ITEMS)
			return;
		capture_chunk(&st->cap_vds, start, p, n);
		capture_chunk(&st->cap_fparams, start, p, n);
	}
}

struct imgfmt *
imgfmt_new(void)
{
	struct imgfmt *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		err_set_errno(TS_ENOMEM, "imgfmt: allocating an inspector");
		return NULL;
	}
	st->cap_meta.buf = st->meta;
	st->cap_vds.buf = st->vds;
	st->cap_fparams.buf = st->fparams;
	return st;
}

void
imgfmt_free(struct imgfmt **stp)
{
	if (stp == NULL || *stp == NULL)
		return;
	free(*stp);
	*stp = NULL;
}

int
imgfmt_feed(struct imgfmt *st, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t start = st->pos;
	size_t n;

	if (st->finished) {
		err_set(TS_EINVALID, "imgfmt: data fed after finish");
		return -1;
	}
	if (len == 0)
		return 0;
	if (len > UINT64_MAX - st->pos) {
		err_set(TS_EINVALID, "imgfmt: stream longer than 2^64 bytes");
		return -1;
	}
	if (st->head_len < IMGFMT_HEAD_MAX) {
		n = IMGFMT_HEAD_MAX - st->head_len;
		if (n > len)
			n = len;
		memcpy(st->head + st->head_len, p, n);
		st->head_len += n;
	}
	tail_push(st, p, len);
	capture_chunk(&st->cap_meta, start, p, len);
	capture_chunk(&st->cap_vds, start, p, len);
	capture_chunk(&st->cap_fparams, start, p, len);
	st->pos += len;
	vhdx_progress(st, start, p, len);
	return 0;
}

size_t
imgfmt_buffered(const struct imgfmt *st)
{
	return st->head_len + st->tail_len + st->cap_meta.have +
	    st->cap_vds.have + st->cap_fparams.have;
}

/* ---- verdict ---- */

struct ctx {
	const struct imgfmt	*st;
	const uint8_t		*h;	/* stream bytes [0, hl) */
	size_t			 hl;
	bool			 h_all;	/* h holds the whole stream */
	const uint8_t		*t;	/* the stream's last tl bytes */
	size_t			 tl;
	uint64_t		 size;
	struct imgfmt_result	*r;
};

static void refuse(struct imgfmt_result *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Mark the image unsafe; the first reason recorded is the one reported, so
 * callers record the most important finding first. */
static void
refuse(struct imgfmt_result *r, const char *fmt, ...)
{
	va_list ap;

	r->safe = false;
	if (r->reason[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static bool
magic_at(const struct ctx *c, size_t off, const void *m, size_t n)
{
	const uint8_t *p = at(c->h, c->hl, off, n);

	return p != NULL && memcmp(p, m, n) == 0;
}

/* ASCII case-insensitive prefix test on a byte range. */
static bool
prefix_ci(const uint8_t *b, size_t n, const char *s)
{
	size_t i, sl = strlen(s);
	int x, y;

	if (n < sl)
		return false;
	for (i = 0; i < sl; i++) {
		x = b[i];
		y = (unsigned char)s[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

static bool
equal_ci(const uint8_t *b, size_t n, const char *s)
{
	return n == strlen(s) && prefix_ci(b, n, s);
}

static unsigned
count_ci(const uint8_t *b, size_t n, const char *s)
{
	size_t i;
	unsigned count = 0;

	for (i = 0; i < n; i++)
		if (prefix_ci(b + i, n - i, s))
			count++;
	return count;
}

/* qemu's vmdk_probe() for descriptor text (it looks at the first 2048
 * bytes): comment lines and lines of blanks, then "version=1|2|3". Text
 * starting "# Disk DescriptorFile" counts too, whatever follows. */
static bool
vmdk_text_probe(const uint8_t *b, size_t n)
{
	static const char dd[] = "# Disk DescriptorFile";
	static const char *const versions[] = {
		"version=1\n", "version=2\n", "version=3\n",
		"version=1\r\n", "version=2\r\n", "version=3\r\n",
	};
	size_t i = 0, k, vl;

	if (n >= sizeof(dd) - 1 && memcmp(b, dd, sizeof(dd) - 1) == 0)
		return true;
	if (n > 2048)
		n = 2048;
	while (i < n) {
		if (b[i] == '#') {
			while (i < n && b[i] != '\n')
				i++;
			i++;
			continue;
		}
		if (b[i] == ' ') {
			while (i < n && b[i] == ' ')
				i++;
			if (i < n && b[i] == '\r')
				i++;
			if (i == n || b[i] != '\n')
				return false;
			i++;
			continue;
		}
		for (k = 0; k < sizeof(versions) / sizeof(versions[0]); k++) {
			vl = strlen(versions[k]);
			if (n - i >= vl && memcmp(b + i, versions[k], vl) == 0)
				return true;
		}
		return false;
	}
	return false;
}

static bool
vhd_footer_ok(const uint8_t *f)
{
	uint32_t sum = 0;
	size_t i;

	if (memcmp(f, "conectix", 8) != 0)
		return false;
	for (i = 0; i < VHD_FOOTER; i++)
		if (i < 64 || i >= 68)
			sum += f[i];
	return (uint32_t)~sum == be32(f + 64);
}

/* A fixed disk's footer: the last 512 bytes, valid checksum. */
static const uint8_t *
vhd_tail_footer(const struct ctx *c)
{
	const uint8_t *f;

	if (c->tl < VHD_FOOTER)
		return NULL;
	f = c->t + c->tl - VHD_FOOTER;
	return vhd_footer_ok(f) ? f : NULL;
}

struct iso_info {
	bool		 pvd;
	uint32_t	 blocks;
	uint16_t	 block_size;
};

/* Walk the volume descriptors from sector 16: ISO 9660 ("CD001", ending at
 * the terminator) and the UDF volume recognition sequence. */
static bool
iso_scan(const struct ctx *c, struct iso_info *iso)
{
	const uint8_t *d, *pvd;
	size_t off;
	bool match = false;
	uint16_t bs;

	memset(iso, 0, sizeof(*iso));
	for (off = ISO_VD_START; ; off += ISO_SECTOR) {
		if ((d = at(c->h, c->hl, off, 6)) == NULL)
			break;
		if (memcmp(d + 1, "CD001", 5) == 0) {
			match = true;
			if (d[0] == 1 && !iso->pvd &&
			    (pvd = at(c->h, c->hl, off, 132)) != NULL) {
				bs = le16(pvd + 128);
				/* 2^n, n >= 9 (ECMA-119 6.1.2) */
				if (bs >= 512 && (bs & (bs - 1)) == 0) {
					iso->pvd = true;
					iso->blocks = le32(pvd + 80);
					iso->block_size = bs;
				}
			}
			if (d[0] == 255)
				break;
		} else if (memcmp(d + 1, "NSR02", 5) == 0 ||
		    memcmp(d + 1, "NSR03", 5) == 0) {
			match = true;
		} else if (memcmp(d + 1, "BEA01", 5) != 0 &&
		    memcmp(d + 1, "TEA01", 5) != 0 &&
		    memcmp(d + 1, "BOOT2", 5) != 0 &&
		    memcmp(d + 1, "CDW02", 5) != 0) {
			break;
		}
	}
	return match;
}

/* ---- qcow2 ---- */

static void
parse_qcow2(struct ctx *c)
{
	struct imgfmt_result *r = c->r;
	const uint8_t *h = c->h, *e;
	size_t hl = c->hl;
	uint32_t version = 0, cluster_bits = 0, hdr_len = QCOW2_V2_HDR;
	uint32_t crypt = 0, type, len;
	uint64_t backing = 0, incompat = 0, off, end;
	bool trunc = false;
	char why[IMGFMT_REASON_MAX] = "";

	/* qcow v1 shares the magic and the offsets of these two fields. */
	if (hl >= 8)
		version = be32(h + 4);
	if (hl >= 16)
		backing = be64(h + 8);
	if (hl >= 32) {
		r->virtual_size = be64(h + 24);
		r->virtual_size_known = true;
	}
	if (hl < QCOW2_V2_HDR) {
		trunc = true;
	} else {
		cluster_bits = be32(h + 20);
		crypt = be32(h + 32);
		if (version == 3) {
			if (hl < QCOW2_V3_HDR) {
				trunc = true;
			} else {
				incompat = be64(h + 72);
				hdr_len = be32(h + 100);
			}
		}
	}
	r->has_backing_file = backing != 0;
	r->qcow2_incompat_features = incompat;
	r->has_data_file = (incompat & QCOW2_INCOMPAT_DATA) != 0;
	r->unknown_incompat_features = (incompat & ~QCOW2_INCOMPAT_KNOWN) != 0;
	r->encrypted = crypt != 0;

	if (!trunc && (version == 2 || version == 3)) {
		if (cluster_bits < 9 || cluster_bits > 21)
			snprintf(why, sizeof(why), "qcow2 cluster_bits %u out "
			    "of range", cluster_bits);
		else if (crypt > 2)
			snprintf(why, sizeof(why), "qcow2 encryption method %u "
			    "is unknown", crypt);
		else if (hdr_len < (version == 3 ? QCOW2_V3_HDR : QCOW2_V2_HDR) ||
		    hdr_len > (1u << cluster_bits))
			snprintf(why, sizeof(why), "qcow2 header_length %u is "
			    "invalid", hdr_len);
	}
	if (!trunc && why[0] == '\0' && (version == 2 || version == 3)) {
		/* Header extensions, bounded as qemu bounds them: the first
		 * cluster, or the backing file name if that comes first. */
		off = hdr_len;
		end = (uint64_t)1 << cluster_bits;
		if (backing != 0 && backing < end)
			end = backing;
		while (off < end) {
			if ((e = at(h, hl, off, 8)) == NULL) {
				if (c->h_all)
					trunc = true;
				else
					snprintf(why, sizeof(why), "qcow2 header "
					    "extensions run past the first %u KiB",
					    IMGFMT_HEAD_MAX / KIB);
				break;
			}
			type = be32(e);
			len = be32(e + 4);
			off += 8;
			if (off > end || len > end - off) {
				snprintf(why, sizeof(why), "qcow2 header "
				    "extension overruns the header cluster");
				break;
			}
			if (type == 0)
				break;
			if (type == QCOW2_EXT_DATA_FILE)
				r->has_data_file = true;
			off += ((uint64_t)len + 7) & ~(uint64_t)7;
		}
	}

	if (r->has_backing_file)
		refuse(r, "qcow2 image has a backing file");
	if (r->has_data_file)
		refuse(r, "qcow2 image has an external data file");
	if (r->unknown_incompat_features)
		refuse(r, "qcow2 image has unknown incompatible features %#llx",
		    (unsigned long long)(incompat & ~QCOW2_INCOMPAT_KNOWN));
	if (hl >= 8 && version != 2 && version != 3)
		refuse(r, "qcow2 version %u is not supported", version);
	if (trunc)
		refuse(r, "qcow2 header truncated");
	if (incompat & QCOW2_INCOMPAT_CORRUPT)
		refuse(r, "qcow2 image is marked corrupt");
	if (why[0] != '\0')
		refuse(r, "%s", why);
}

/* ---- vmdk ---- */

struct vmdk_desc {
	unsigned	 bad_line;	/* first line not understood, 1-based */
	bool		 not_text;
	bool		 parent;
	unsigned	 create_types;	/* "createType" occurrences anywhere */
	bool		 create_type_ok;
	char		 create_type[32];
	unsigned	 extents;
	bool		 extent_malformed;
	bool		 extent_external;	/* not SPARSE, or a name with a path */
	uint64_t	 rw_sectors;
	bool		 sectors_overflow;
};

static bool
is_blank(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static void
vmdk_extent(const uint8_t *l, size_t n, struct vmdk_desc *d)
{
	size_t i = 0, ts, name_s, name_e;
	uint64_t sectors = 0;
	bool rw;

	d->extents++;
	while (i < n && !is_blank(l[i]))
		i++;
	rw = equal_ci(l, i, "RW");
	while (i < n && is_blank(l[i]))
		i++;
	if (i == n || l[i] < '0' || l[i] > '9')
		goto malformed;
	for (; i < n && l[i] >= '0' && l[i] <= '9'; i++) {
		if (sectors > (UINT64_MAX - 9) / 10) {
			d->sectors_overflow = true;
			goto malformed;
		}
		sectors = sectors * 10 + (uint64_t)(l[i] - '0');
	}
	while (i < n && is_blank(l[i]))
		i++;
	ts = i;
	while (i < n && ((l[i] >= 'A' && l[i] <= 'Z') ||
	    (l[i] >= 'a' && l[i] <= 'z')))
		i++;
	if (i - ts != 6 || memcmp(l + ts, "SPARSE", 6) != 0)
		d->extent_external = true;
	while (i < n && is_blank(l[i]))
		i++;
	if (i == n || l[i] != '"')
		goto malformed;
	name_s = ++i;
	while (i < n && l[i] != '"')
		i++;
	if (i == n)
		goto malformed;
	name_e = i++;
	if (name_e == name_s ||
	    memchr(l + name_s, '/', name_e - name_s) != NULL ||
	    memchr(l + name_s, '\\', name_e - name_s) != NULL ||
	    memchr(l + name_s, ':', name_e - name_s) != NULL ||
	    (name_e - name_s <= 2 && l[name_s] == '.' &&
	    (name_e - name_s == 1 || l[name_s + 1] == '.')))
		d->extent_external = true;
	while (i < n && is_blank(l[i]))
		i++;
	while (i < n && l[i] >= '0' && l[i] <= '9')
		i++;	/* flat offset: only meaningful for FLAT extents */
	if (i != n)
		goto malformed;
	if (rw) {
		if (sectors > UINT64_MAX - d->rw_sectors)
			d->sectors_overflow = true;
		else
			d->rw_sectors += sectors;
	}
	return;
malformed:
	d->extent_malformed = true;
}

static void
vmdk_create_type(const uint8_t *v, size_t n, struct vmdk_desc *d)
{
	size_t i;

	/* createType="X": exactly one quoted word */
	if (n < 3 || v[0] != '"' || v[n - 1] != '"' ||
	    memchr(v + 1, '"', n - 2) != NULL || n - 2 >= sizeof(d->create_type))
		return;
	for (i = 0; i < n - 2; i++)
		d->create_type[i] = (char)v[i + 1];
	d->create_type[n - 2] = '\0';
	d->create_type_ok = true;
}

/*
 * The descriptor grammar, one construct per line (after trimming blanks):
 * empty; "#" comment; "ddb..." line; key=value with no blank in the key;
 * an extent line starting RW, RDONLY or NOACCESS. Anything else is a bad
 * line. Only printable ASCII, tab, CR and LF are text.
 */
static void
vmdk_desc_parse(const uint8_t *text, size_t len, struct vmdk_desc *d)
{
	size_t i = 0, s, e, k, tok;
	unsigned lineno = 0;
	const uint8_t *l, *eq;

	memset(d, 0, sizeof(*d));
	for (k = 0; k < len; k++)
		if (text[k] >= 0x7f || (text[k] < 0x20 && text[k] != '\t' &&
		    text[k] != '\r' && text[k] != '\n'))
			d->not_text = true;
	/* qemu finds these with strstr() anywhere in the text, comments
	 * included, so that is where they are looked for. */
	d->parent = count_ci(text, len, "parentFileNameHint") > 0;
	d->create_types = count_ci(text, len, "createType");

	while (i < len) {
		s = i;
		while (i < len && text[i] != '\n')
			i++;
		e = i;
		if (i < len)
			i++;
		lineno++;
		while (s < e && is_blank(text[s]))
			s++;
		while (e > s && is_blank(text[e - 1]))
			e--;
		l = text + s;
		if (e == s || l[0] == '#' || prefix_ci(l, e - s, "ddb"))
			continue;
		eq = memchr(l, '=', e - s);
		if (eq != NULL && memchr(l, ' ', (size_t)(eq - l)) == NULL &&
		    memchr(l, '\t', (size_t)(eq - l)) == NULL) {
			if (equal_ci(l, (size_t)(eq - l), "createType"))
				vmdk_create_type(eq + 1,
				    (size_t)(l + (e - s) - (eq + 1)), d);
			continue;
		}
		for (tok = 0; tok < e - s && !is_blank(l[tok]); tok++)
			;
		if (equal_ci(l, tok, "RW") || equal_ci(l, tok, "RDONLY") ||
		    equal_ci(l, tok, "NOACCESS")) {
			vmdk_extent(l, e - s, d);
			continue;
		}
		if (d->bad_line == 0)
			d->bad_line = lineno;
	}
}

static void
copy_create_type(struct imgfmt_result *r, const struct vmdk_desc *d)
{
	size_t i;

	if (!d->create_type_ok)
		return;
	for (i = 0; d->create_type[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)d->create_type[i];

		r->vmdk_create_type[i] = (ch >= 0x20 && ch < 0x7f) ?
		    (char)ch : '?';
	}
	r->vmdk_create_type[i] = '\0';
}

/* Check the VMware stream-optimized footer (grain directory at the end):
 * marker sector, header copy, end-of-stream marker, as qemu checks them.
 * On success the footer header replaces capacity, as it does in qemu. */
static bool
vmdk_footer(struct ctx *c, uint64_t desc_off, uint64_t desc_size,
    uint64_t *capacity)
{
	struct imgfmt_result *r = c->r;
	const uint8_t *f, *fh;

	if (c->size % 512 != 0 || c->tl < VMDK_FOOTER_LEN ||
	    c->size < VMDK_FOOTER_LEN + 512) {
		refuse(r, "vmdk footer missing");
		return false;
	}
	f = c->t + c->tl - VMDK_FOOTER_LEN;
	fh = f + 512;
	if (le32(f + 8) != 0 || le32(f + 12) != VMDK_MARKER_FOOTER ||
	    memcmp(fh, "KDMV", 4) != 0 || le64(f + 1024) != 0 ||
	    le32(f + 1032) != 0 || le32(f + 1036) != 0) {
		refuse(r, "vmdk footer invalid");
		return false;
	}
	if (le64(fh + 56) == VMDK_GD_AT_END) {
		refuse(r, "vmdk footer has no grain directory");
		return false;
	}
	if (le64(fh + 28) != desc_off || le64(fh + 36) != desc_size) {
		refuse(r, "vmdk footer and header disagree about the "
		    "descriptor");
		return false;
	}
	*capacity = le64(fh + 12);
	return true;
}

static void
vmdk_rules(struct imgfmt_result *r, const struct vmdk_desc *d)
{
	if (d->parent) {
		r->has_backing_file = true;
		refuse(r, "vmdk image names a parent (parentFileNameHint)");
	}
	/* qemu takes the first occurrence, this parser the last line: only
	 * a single one is unambiguous. */
	if (d->create_types != 1 || !d->create_type_ok)
		refuse(r, "vmdk descriptor must name exactly one createType");
	if (d->create_type_ok && strcmp(d->create_type, "monolithicSparse") &&
	    strcmp(d->create_type, "streamOptimized")) {
		r->vmdk_extents_external = true;
		refuse(r, "vmdk createType %s is not a single-file type",
		    r->vmdk_create_type);
	}
	if (d->extents > 1 || d->extent_external) {
		r->vmdk_extents_external = true;
		refuse(r, "vmdk descriptor references other files");
	}
	if (d->extents == 0)
		refuse(r, "vmdk descriptor lists no extents");
	if (d->not_text)
		refuse(r, "vmdk descriptor is not plain ASCII text");
	if (d->bad_line != 0)
		refuse(r, "vmdk descriptor line %u is not understood",
		    d->bad_line);
	if (d->extent_malformed)
		refuse(r, "vmdk extent line is malformed");
}

static void
parse_vmdk_sparse(struct ctx *c)
{
	struct imgfmt_result *r = c->r;
	const uint8_t *h = c->h, *nul;
	uint64_t capacity, desc_off, desc_size, gd_off, limit;
	uint32_t version;
	size_t avail, text_len;
	struct vmdk_desc d;
	bool text_ok = false;

	if (c->hl < VMDK4_HDR) {
		refuse(r, "vmdk header truncated");
		return;
	}
	version = le32(h + 4);
	capacity = le64(h + 12);
	desc_off = le64(h + 28);
	desc_size = le64(h + 36);
	gd_off = le64(h + 56);

	/* qemu opens the descriptor's extents when capacity is 0. */
	if (capacity == 0)
		refuse(r, "vmdk sparse header has zero capacity");
	if (gd_off == VMDK_GD_AT_END && capacity != 0 &&
	    vmdk_footer(c, desc_off, desc_size, &capacity) && capacity == 0)
		refuse(r, "vmdk footer has zero capacity");
	if (capacity <= (uint64_t)INT64_MAX / 512) {
		r->virtual_size = capacity * 512;
		r->virtual_size_known = true;
	} else {
		refuse(r, "vmdk capacity of %llu sectors is too large",
		    (unsigned long long)capacity);
	}

	/* The embedded descriptor, read as qemu reads it: text from offset
	 * 512 up to the first NUL, the 1 MiB cap, or the end of the file. */
	if (desc_off != 1 || desc_size == 0) {
		refuse(r, "vmdk has no embedded descriptor at sector 1");
	} else if (c->hl <= VMDK_DESC_OFF) {
		refuse(r, "vmdk descriptor truncated");
	} else {
		limit = VMDK_DESC_OFF + (uint64_t)VMDK_DESC_MAX;
		avail = c->hl < limit ? c->hl : (size_t)limit;
		nul = memchr(h + VMDK_DESC_OFF, 0, avail - VMDK_DESC_OFF);
		if (nul != NULL) {
			text_len = (size_t)(nul - (h + VMDK_DESC_OFF));
			text_ok = true;
		} else if (c->h_all || avail == limit) {
			text_len = avail - VMDK_DESC_OFF;
			text_ok = true;
		} else {
			refuse(r, "vmdk descriptor runs past the first %u KiB",
			    IMGFMT_HEAD_MAX / KIB);
		}
		if (text_ok && text_len == 0) {
			refuse(r, "vmdk embedded descriptor is empty");
		} else if (text_ok) {
			vmdk_desc_parse(h + VMDK_DESC_OFF, text_len, &d);
			copy_create_type(r, &d);
			vmdk_rules(r, &d);
		}
	}
	if (version < 1 || version > 3)
		refuse(r, "vmdk version %u is not supported", version);
}

static void
parse_vmdk(struct ctx *c)
{
	struct imgfmt_result *r = c->r;
	const uint8_t *nul;
	struct vmdk_desc d;
	size_t len;

	if (magic_at(c, 0, "KDMV", 4)) {
		parse_vmdk_sparse(c);
		return;
	}
	if (magic_at(c, 0, "COWD", 4)) {
		if (c->hl >= 16) {
			r->virtual_size = (uint64_t)le32(c->h + 12) * 512;
			r->virtual_size_known = true;
		}
		refuse(r, "vmdk COWD (VMware 3) sparse images are not "
		    "supported");
		return;
	}
	/* A descriptor file: the text is the whole image and the data lives
	 * in the extent files it names. Never usable on its own. */
	nul = memchr(c->h, 0, c->hl);
	len = nul != NULL ? (size_t)(nul - c->h) : c->hl;
	vmdk_desc_parse(c->h, len, &d);
	copy_create_type(r, &d);
	if (d.parent)
		r->has_backing_file = true;
	if (d.extents > 0)
		r->vmdk_extents_external = true;
	if (!d.sectors_overflow && d.rw_sectors <= (uint64_t)INT64_MAX / 512) {
		r->virtual_size = d.rw_sectors * 512;
		r->virtual_size_known = true;
	}
	if (d.parent)
		refuse(r, "vmdk image names a parent (parentFileNameHint)");
	if (d.extents > 0)
		refuse(r, "vmdk descriptor file keeps its data in %u external "
		    "extent file%s", d.extents, d.extents == 1 ? "" : "s");
	else
		refuse(r, "vmdk descriptor file lists no extents");
}

/* ---- vhd ---- */

/* tail is the validated footer at the end for a footer-only (fixed) disk,
 * NULL when the footer is at offset 0. */
static void
parse_vhd(struct ctx *c, const uint8_t *tail)
{
	struct imgfmt_result *r = c->r;
	const uint8_t *f = tail, *app;
	uint64_t chs, cur, sectors;
	uint32_t type;
	bool chs_app, cur_app;

	if (f == NULL) {
		if ((f = at(c->h, c->hl, 0, VHD_FOOTER)) == NULL) {
			refuse(r, "vhd footer truncated");
			return;
		}
		if (!vhd_footer_ok(f)) {
			refuse(r, "vhd footer checksum mismatch");
			return;
		}
	}
	/*
	 * Size as qemu computes it: CHS geometry for Virtual PC and old qemu
	 * images, current_size for the creators known to use it or when the
	 * geometry is maxed out. For creators qemu versions disagree on (7.2
	 * uses CHS, later ones current_size) the larger is reported, so size
	 * checks hold under either.
	 */
	chs = (uint64_t)be16(f + 56) * f[58] * f[59];
	cur = be64(f + 48) / 512;
	app = f + 28;
	chs_app = memcmp(app, "vpc ", 4) == 0 || memcmp(app, "qemu", 4) == 0;
	cur_app = memcmp(app, "win ", 4) == 0 || memcmp(app, "qem2", 4) == 0 ||
	    memcmp(app, "d2v ", 4) == 0 || memcmp(app, "CTXS", 4) == 0 ||
	    memcmp(app, "tap\0", 4) == 0 || memcmp(app, "wa\0\0", 4) == 0;
	if (chs == VHD_MAX_GEOMETRY || cur_app)
		sectors = cur;
	else if (chs_app)
		sectors = chs;
	else
		sectors = chs > cur ? chs : cur;
	r->virtual_size = sectors * 512;	/* cur <= UINT64_MAX / 512 */
	r->virtual_size_known = true;

	type = be32(f + 60);
	if (type == VHD_TYPE_DIFF) {
		r->has_backing_file = true;
		refuse(r, "vhd differencing image references a parent");
	} else if (tail != NULL && type != VHD_TYPE_FIXED) {
		refuse(r, "vhd footer at the end of the file is not a fixed "
		    "disk's");
	} else if (type != VHD_TYPE_FIXED && type != VHD_TYPE_DYNAMIC) {
		refuse(r, "vhd disk type %u is not supported", type);
	}
	if (sectors > VHD_MAX_SECTORS)
		refuse(r, "vhd virtual size exceeds qemu's 2040 GiB limit");
}

/* ---- vhdx ---- */

static void
parse_vhdx(struct ctx *c)
{
	const struct imgfmt *st = c->st;
	struct imgfmt_result *r = c->r;

	switch (st->vhdx_stage) {
	case VHDX_FAILED:
		refuse(r, "%s", st->vhdx_reason);
		return;
	case VHDX_WAIT_REGIONS:
		refuse(r, "vhdx image truncated before its region table");
		return;
	case VHDX_WAIT_META:
		refuse(r, "vhdx metadata table truncated");
		return;
	case VHDX_WAIT_ITEMS:
		break;
	}
	if (st->vhdx_parent || (capture_done(&st->cap_fparams) &&
	    (le32(st->fparams + 4) & VHDX_PARAMS_HAS_PARENT) != 0)) {
		r->has_backing_file = true;
		refuse(r, "vhdx differencing image references a parent");
	}
	if (capture_done(&st->cap_vds)) {
		r->virtual_size = le64(st->vds);
		r->virtual_size_known = true;
	} else if (st->cap_vds.armed) {
		refuse(r, "vhdx virtual disk size truncated");
	} else {
		refuse(r, "vhdx metadata has no virtual disk size");
	}
	if (!st->cap_fparams.armed)
		refuse(r, "vhdx metadata has no file parameters");
	else if (!capture_done(&st->cap_fparams))
		refuse(r, "vhdx file parameters truncated");
}

/* ---- vdi, luks, iso ---- */

static void
parse_vdi(struct ctx *c)
{
	struct imgfmt_result *r = c->r;
	const uint8_t *h = c->h;
	uint32_t version, type;

	if (c->hl < VDI_HDR) {
		refuse(r, "vdi header truncated");
		return;
	}
	version = le32(h + 0x44);
	type = le32(h + 0x4c);
	r->virtual_size = le64(h + 0x170);
	r->virtual_size_known = true;
	if (type == 4) {
		r->has_backing_file = true;
		refuse(r, "vdi differencing image references a parent");
	} else if (type != 1 && type != 2) {
		refuse(r, "vdi image type %u is not supported", type);
	}
	if (version != VDI_VERSION_1_1)
		refuse(r, "vdi version %u.%u is not supported", version >> 16,
		    version & 0xffff);
}

static void
parse_luks(struct ctx *c)
{
	struct imgfmt_result *r = c->r;
	uint64_t payload;
	uint16_t version;

	r->encrypted = true;
	if (c->hl < 8) {
		refuse(r, "luks header truncated");
		return;
	}
	version = be16(c->h + 6);
	if (version != 1) {
		refuse(r, "luks version %u is not supported", version);
		return;
	}
	if (c->hl < 108) {
		refuse(r, "luks header truncated");
		return;
	}
	payload = (uint64_t)be32(c->h + 104) * 512;
	if (payload > c->size) {
		refuse(r, "luks payload offset lies beyond the end of the image");
		return;
	}
	r->virtual_size = c->size - payload;
	r->virtual_size_known = true;
}

static void
parse_iso(struct ctx *c, const struct iso_info *iso)
{
	struct imgfmt_result *r = c->r;

	/* qemu reads an ISO through its raw driver; the volume size is what
	 * the filesystem claims, the stream length the fallback. */
	if (iso->pvd)
		r->virtual_size = (uint64_t)iso->blocks * iso->block_size;
	else
		r->virtual_size = c->size;
	r->virtual_size_known = true;
}

/* ---- detection ---- */

static void
analyse(const struct imgfmt *st, struct imgfmt_result *r)
{
	/* Which detector names the image when several match (it is refused
	 * then anyway): header formats first, ISO, then a footer-only VHD. */
	static const enum imgfmt_format order[] = {
		IMGFMT_QCOW2, IMGFMT_VMDK, IMGFMT_VHDX, IMGFMT_VHD, IMGFMT_VDI,
		IMGFMT_LUKS, IMGFMT_QED, IMGFMT_PARALLELS, IMGFMT_BOCHS,
		IMGFMT_CLOOP, IMGFMT_ISO,
	};
	uint8_t tail[IMGFMT_TAIL_MAX];
	struct iso_info iso;
	struct ctx c;
	const uint8_t *p, *vhd_tail = NULL;
	uint32_t m = 0;
	size_t i, n;
	bool vhd_head = false;
	char names[IMGFMT_REASON_MAX];

	memset(r, 0, sizeof(*r));
	r->safe = true;
	r->size = st->pos;
	c.st = st;
	c.h = st->head;
	c.hl = st->head_len;
	c.h_all = st->head_len == st->pos;
	c.tl = tail_linear(st, tail);
	c.t = tail;
	c.size = st->pos;
	c.r = r;

	if (magic_at(&c, 0, "QFI\xfb", 4))
		m |= 1u << IMGFMT_QCOW2;
	if (magic_at(&c, 0, "KDMV", 4) || magic_at(&c, 0, "COWD", 4) ||
	    vmdk_text_probe(c.h, c.hl))
		m |= 1u << IMGFMT_VMDK;
	if (magic_at(&c, 0, "conectix", 8)) {
		m |= 1u << IMGFMT_VHD;
		vhd_head = true;
	}
	if (magic_at(&c, 0, "vhdxfile", 8))
		m |= 1u << IMGFMT_VHDX;
	if ((p = at(c.h, c.hl, 0x40, 4)) != NULL && le32(p) == VDI_SIGNATURE)
		m |= 1u << IMGFMT_VDI;
	if (magic_at(&c, 0, "LUKS\xba\xbe", 6))
		m |= 1u << IMGFMT_LUKS;
	if (magic_at(&c, 0, "QED\0", 4))
		m |= 1u << IMGFMT_QED;
	if (magic_at(&c, 0, "WithoutFreeSpace", 16) ||
	    magic_at(&c, 0, "WithouFreSpacExt", 16))
		m |= 1u << IMGFMT_PARALLELS;
	if (magic_at(&c, 0, "Bochs Virtual HD Image", 23))
		m |= 1u << IMGFMT_BOCHS;
	if (magic_at(&c, 0, cloop_magic, sizeof(cloop_magic) - 1))
		m |= 1u << IMGFMT_CLOOP;
	if (iso_scan(&c, &iso))
		m |= 1u << IMGFMT_ISO;
	if (!vhd_head && (vhd_tail = vhd_tail_footer(&c)) != NULL)
		m |= 1u << IMGFMT_VHD;
	r->matched = m;

	/* A footer-only vhd is the weakest match: any format wins over it. */
	r->format = (m & (1u << IMGFMT_VHD)) ? IMGFMT_VHD : IMGFMT_RAW;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((m & (1u << order[i])) &&
		    (order[i] != IMGFMT_VHD || vhd_head)) {
			r->format = order[i];
			break;
		}
	r->format_name = imgfmt_format_name(r->format);

	if ((m & (m - 1)) != 0) {
		r->multiple_formats_matched = true;
		names[0] = '\0';
		for (i = 0, n = 0; i < IMGFMT_FORMAT_COUNT; i++)
			if ((m & (1u << i)) && n < sizeof(names))
				n += (size_t)snprintf(names + n,
				    sizeof(names) - n, "%s%s", n ? ", " : "",
				    format_names[i]);
		refuse(r, "image matches more than one format (%s)", names);
	}

	switch (r->format) {
	case IMGFMT_RAW:
		r->virtual_size = c.size;
		r->virtual_size_known = true;
		break;
	case IMGFMT_QCOW2:
		parse_qcow2(&c);
		break;
	case IMGFMT_VMDK:
		parse_vmdk(&c);
		break;
	case IMGFMT_VHD:
		parse_vhd(&c, vhd_tail);
		break;
	case IMGFMT_VHDX:
		parse_vhdx(&c);
		break;
	case IMGFMT_VDI:
		parse_vdi(&c);
		break;
	case IMGFMT_ISO:
		parse_iso(&c, &iso);
		break;
	case IMGFMT_LUKS:
		parse_luks(&c);
		break;
	case IMGFMT_QED:
	case IMGFMT_PARALLELS:
	case IMGFMT_BOCHS:
	case IMGFMT_CLOOP:
	case IMGFMT_FORMAT_COUNT:
		refuse(r, "%s images are not supported", r->format_name);
		break;
	}
	if (r->virtual_size_known && r->virtual_size > (uint64_t)INT64_MAX)
		refuse(r, "virtual size %llu exceeds 2^63-1 bytes",
		    (unsigned long long)r->virtual_size);
}

int
imgfmt_finish(struct imgfmt *st, struct imgfmt_result *result)
{
	if (st->finished) {
		err_set(TS_EINVALID, "imgfmt: finished twice");
		return -1;
	}
	st->finished = true;
	analyse(st, result);
	return 0;
}

/* ---- files ---- */

/* Once head[] is full: the first stream offset a capture still needs, or
 * UINT64_MAX when nothing but the tail is left. */
static uint64_t
next_needed(const struct imgfmt *st)
{
	const struct capture *caps[] = {
		&st->cap_meta, &st->cap_vds, &st->cap_fparams,
	};
	uint64_t need = UINT64_MAX, at_off;
	size_t i;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (!caps[i]->armed || caps[i]->missed ||
		    caps[i]->have == caps[i]->len)
			continue;
		at_off = caps[i]->off + caps[i]->have;
		if (at_off < need)
			need = at_off;
	}
	return need;
}

static int
inspect_regular(struct imgfmt *st, int fd, uint64_t size, uint8_t *buf)
{
	uint64_t target, tail_start;
	struct stat sb;
	ssize_t n;

	tail_start = size > IMGFMT_TAIL_MAX ? size - IMGFMT_TAIL_MAX : 0;
	for (;;) {
		/* Skip what no detector reads: same result, fewer reads. */
		if (st->head_len == IMGFMT_HEAD_MAX) {
			target = next_needed(st);
			if (target > tail_start)
				target = tail_start;
			if (target > st->pos) {
				st->pos = target;
				st->tail_len = 0;
				st->tail_w = 0;
			}
		}
		n = pread(fd, buf, FD_CHUNK, (off_t)st->pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set_errno(TS_EIO, "imgfmt: reading the image");
			return -1;
		}
		if (n == 0)
			break;
		if (imgfmt_feed(st, buf, (size_t)n) == -1)
			return -1;
	}
	if (fstat(fd, &sb) == -1) {
		err_set_errno(TS_EIO, "imgfmt: fstat");
		return -1;
	}
	if ((uint64_t)sb.st_size != size || st->pos != size) {
		err_set(TS_EIO, "imgfmt: image changed size while being "
		    "inspected");
		return -1;
	}
	return 0;
}

static int
inspect_stream(struct imgfmt *st, int fd, uint8_t *buf)
{
	ssize_t n;

	for (;;) {
		n = read(fd, buf, FD_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set_errno(TS_EIO, "imgfmt: reading the image");
			return -1;
		}
		if (n == 0)
			return 0;
		if (imgfmt_feed(st, buf, (size_t)n) == -1)
			return -1;
	}
}

int
imgfmt_inspect_fd(int fd, struct imgfmt_result *result)
{
	struct imgfmt *st = NULL;
	uint8_t *buf = NULL;
	struct stat sb;
	int rc = -1;

	if (fstat(fd, &sb) == -1) {
		err_set_errno(TS_EIO, "imgfmt: fstat");
		return -1;
	}
	if ((st = imgfmt_new()) == NULL)
		return -1;
	if ((buf = malloc(FD_CHUNK)) == NULL) {
		err_set_errno(TS_ENOMEM, "imgfmt: read buffer");
		goto out;
	}
	if (S_ISREG(sb.st_mode))
		rc = inspect_regular(st, fd, (uint64_t)sb.st_size, buf);
	else
		rc = inspect_stream(st, fd, buf);
	if (rc == 0)
		rc = imgfmt_finish(st, result);
out:
	free(buf);
	imgfmt_free(&st);
	return rc;
}

/* ---- policy ---- */

int
imgfmt_check_declared(const struct imgfmt_result *r, const char *disk_format)
{
	static const struct {
		const char		*name;
		enum imgfmt_format	 fmt;
	} declared[] = {
		{ "raw", IMGFMT_RAW },
		{ "ami", IMGFMT_RAW },
		{ "ari", IMGFMT_RAW },
		{ "aki", IMGFMT_RAW },
		{ "qcow2", IMGFMT_QCOW2 },
		{ "vmdk", IMGFMT_VMDK },
		{ "vhd", IMGFMT_VHD },
		{ "vhdx", IMGFMT_VHDX },
		{ "vdi", IMGFMT_VDI },
		{ "iso", IMGFMT_ISO },
		{ "luks", IMGFMT_LUKS },
	};
	char shown[33];
	size_t i;
	bool known = false, ok;
	enum imgfmt_format want = IMGFMT_RAW;

	if (disk_format != NULL)
		for (i = 0; i < sizeof(declared) / sizeof(declared[0]); i++)
			if (strcmp(disk_format, declared[i].name) == 0) {
				known = true;
				want = declared[i].fmt;
				break;
			}
	if (!known) {
		/* The name is user input: show a short, printable copy. */
		for (i = 0; disk_format != NULL && disk_format[i] != '\0' &&
		    i < sizeof(shown) - 1; i++)
			shown[i] = (disk_format[i] >= 0x20 &&
			    disk_format[i] < 0x7f) ? disk_format[i] : '?';
		shown[i] = '\0';
		err_set(TS_EINVALID, "unsupported disk_format '%s'", shown);
		return -1;
	}
	if (r->multiple_formats_matched) {
		err_set(TS_EINVALID, "%s: refused", r->reason);
		return -1;
	}
	ok = r->format == want ||
	    (strcmp(disk_format, "raw") == 0 && r->format == IMGFMT_ISO);
	if (!ok) {
		err_set(TS_EINVALID, "image format mismatch: declared %s, "
		    "detected %s", disk_format, imgfmt_format_name(r->format));
		return -1;
	}
	if (!r->safe) {
		err_set(TS_EINVALID, "%s: refused", r->reason);
		return -1;
	}
	return 0;
}
