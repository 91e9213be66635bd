/*
 * imgfmt: streaming disk-image format inspector (security-and-reliability
 * §1.1). The Image API runs every upload through it before the image can
 * become active, and the agent runs every cached image through it before
 * handing the file to qemu. It decides, from the bytes alone, which format
 * the image really is and whether that format makes qemu open any file other
 * than the image itself.
 *
 * Streaming: the image is presented as consecutive chunks of any size (one
 * byte is fine) with imgfmt_feed(), then imgfmt_finish() fills a result.
 * Memory is bounded and independent of the image size: the first
 * IMGFMT_HEAD_MAX bytes, a rolling copy of the last IMGFMT_TAIL_MAX bytes
 * (VHD and VMDK footers live at the end), and for VHDX only the 64 KiB
 * metadata table plus two 8-byte items captured at offsets found in the
 * region table. Nothing is ever allocated from a length read from the file.
 * imgfmt_buffered() reports what is held; it never exceeds
 * IMGFMT_BUFFERED_MAX.
 *
 * Detection (all signatures are looked for; see "multiple formats" below):
 *   qcow2   "QFI\xfb" at 0 (qcow v1 shares the magic: reported as qcow2 and
 *           refused as an unsupported version)
 *   vmdk    "KDMV" sparse header at 0, "COWD" (VMDK3) at 0, or descriptor
 *           text at 0 (qemu's probe rule: comment and blank lines, then
 *           version=1|2|3; or text starting "# Disk DescriptorFile")
 *   vhd     "conectix" footer at 0 (dynamic disks), or a footer with a valid
 *           checksum in the last 512 bytes (fixed disks)
 *   vhdx    "vhdxfile" at 0
 *   vdi     signature 0xbeda107f (LE) at 0x40, as qemu probes it
 *   iso     ISO 9660 "CD001" or UDF "NSR02"/"NSR03" in the volume
 *           descriptors from 32 KiB (0x8001, 0x8801, 0x9001, ...)
 *   luks    "LUKS\xba\xbe" at 0 (its own format, never raw)
 *   qed, parallels, bochs, cloop: recognised (qemu probes them) and refused
 *   raw     none of the above
 *
 * Virtual size: qcow2 size field; vmdk capacity * 512 (sparse; the footer's
 * when the grain directory is at the end) or the sum of the RW extents
 * (descriptor file); vhd as qemu computes it (CHS geometry for "vpc " and
 * "qemu" creators, current_size for Hyper-V, disk2vhd, Xen, Azure and "qem2"
 * or when the geometry is maxed out, and the larger of the two for unknown
 * creators, on which qemu versions disagree); vhdx the Virtual Disk Size
 * metadata item; vdi disk_size at 0x170; iso the primary volume
 * descriptor's volume space size * logical block size (the stream length
 * when there is no usable PVD, e.g. UDF only); luks1 the stream length less
 * the payload offset; raw the stream length. virtual_size_known is false
 * when the header could not be read. The caller compares the size against
 * its flavor, quota and absolute limits before anything is converted.
 *
 * Safety verdict (result.safe, and result.reason when not safe):
 *  - qcow2: refused for a backing file (offset at 8 non-zero), an external
 *    data file (incompatible bit 2, or a data-file name header extension),
 *    any incompatible feature bit above bit 4, the corrupt bit, version other
 *    than 2 or 3, an invalid cluster size or header length, an unknown
 *    encryption method, and a header-extension list that overruns the header
 *    area or runs past the inspected IMGFMT_HEAD_MAX bytes.
 *  - vmdk: only a "KDMV" sparse file whose embedded descriptor (at sector 1,
 *    text up to the first NUL, as qemu reads it) is strictly well formed:
 *    every line a comment, a ddb line, key=value or an extent; ASCII only;
 *    exactly one createType, equal to monolithicSparse or streamOptimized;
 *    exactly one extent, of type SPARSE, whose file name has no '/', '\',
 *    ':' or control character and is not "." or ".."; no parentFileNameHint
 *    anywhere in the text (qemu finds it with strstr, even inside a
 *    comment); non-zero capacity (with capacity 0 qemu opens the
 *    descriptor's extents instead). A stream-optimized file with its grain
 *    directory at the end must carry a valid footer that agrees with the
 *    header. Descriptor-text files and COWD images are always refused
 *    (their data lives in other files).
 *  - vhd: refused when the footer at offset 0 fails its checksum (that magic
 *    is what qemu probes, so a bad checksum is a broken or hostile vhd, not a
 *    raw disk); a footer at the end with a bad checksum is not a vhd at all
 *    (any raw disk can end with anything), so such a file is raw. Refused
 *    for differencing disks (type 4, they name a parent), unknown types, a
 *    footer-only file whose footer is not a fixed disk's, and sizes over
 *    qemu's 2040 GiB limit.
 *  - vhdx: refused unless the region table (checked with its CRC-32C), the
 *    metadata table, the virtual disk size and the file parameters were all
 *    read; refused for a parent locator or the HasParent flag, for unknown
 *    required regions or metadata items.
 *  - vdi: refused for versions other than 1.1 and image types other than
 *    normal (1) and fixed (2); type 4 (differencing) sets has_backing_file.
 *  - luks: only version 1 (the one qemu opens); usable as "luks" only.
 *  - qed, parallels, bochs, cloop, COWD: always refused.
 *  - Any format whose header is cut short (truncated image) is refused,
 *    except raw and iso, which have no header qemu interprets. Only headers
 *    are checked: an image cut short after them (a qcow2 missing its L1
 *    table, say) may pass here and fail later in qemu-img, harmlessly.
 *  - A virtual size above INT64_MAX is refused (no qemu path handles it).
 *  - Multiple formats: refused when the bytes match more than one format.
 *    The rule: every detector above is run on every image, and the image is
 *    ambiguous when two or more match; the dynamic-vhd head footer and its
 *    copy at the end count once. So a qcow2/vmdk/vhd/vhdx/vdi/luks magic at
 *    offset 0 together with an ISO volume descriptor at 32 KiB is refused
 *    (the "qcow2 hidden in the ISO system area" attack), as is any header
 *    format or ISO whose last 512 bytes are a valid VHD footer. Structures
 *    an ISO legitimately carries (an MBR or GPT for hybrid boot, El Torito,
 *    a UDF bridge) are not formats here, so hybrid ISOs stay unambiguous.
 *
 * A struct imgfmt is used by one thread at a time; separate inspectors are
 * independent.
 */
#ifndef TS_IMGFMT_H
#define TS_IMGFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMGFMT_HEAD_MAX		(256 * 1024)	/* covers the vhdx region table */
#define IMGFMT_TAIL_MAX		1536		/* vmdk footer: its last 3 sectors */
#define IMGFMT_VHDX_META_MAX	(64 * 1024)	/* vhdx metadata table */
#define IMGFMT_BUFFERED_MAX	(IMGFMT_HEAD_MAX + IMGFMT_TAIL_MAX + \
				 IMGFMT_VHDX_META_MAX + 16)
#define IMGFMT_REASON_MAX	192

enum imgfmt_format {
	IMGFMT_RAW = 0,
	IMGFMT_QCOW2,
	IMGFMT_VMDK,
	IMGFMT_VHD,
	IMGFMT_VHDX,
	IMGFMT_VDI,
	IMGFMT_ISO,
	IMGFMT_LUKS,
	IMGFMT_QED,
	IMGFMT_PARALLELS,
	IMGFMT_BOCHS,
	IMGFMT_CLOOP,
	IMGFMT_FORMAT_COUNT
};

struct imgfmt_result {
	enum imgfmt_format	 format;
	const char		*format_name;	/* static; Glance disk_format name */
	uint64_t		 size;		/* bytes in the stream */
	uint64_t		 virtual_size;
	bool			 virtual_size_known;
	uint32_t		 matched;	/* 1u << format, for every match */
	bool			 multiple_formats_matched;
	bool			 has_backing_file;	/* qcow2, vmdk, vhd, vhdx, vdi parents */
	bool			 has_data_file;		/* qcow2 external data file */
	bool			 unknown_incompat_features;	/* qcow2 */
	uint64_t		 qcow2_incompat_features;
	bool			 vmdk_extents_external;
	char			 vmdk_create_type[32];	/* "" if none or not vmdk */
	bool			 encrypted;	/* luks, or qcow2 with crypt_method */
	bool			 safe;
	char			 reason[IMGFMT_REASON_MAX];	/* "" when safe */
};

struct imgfmt;

/* An inspector at stream position 0. NULL (TS_ENOMEM) on allocation failure. */
struct imgfmt	*imgfmt_new(void);
/* Accepts NULL; clears the caller's pointer. */
void		 imgfmt_free(struct imgfmt **);

/*
 * Present the next len bytes of the image (len 0 is a no-op). Never fails on
 * content: whatever the bytes are, the verdict comes from imgfmt_finish().
 * -1 (TS_EINVALID) only when called after imgfmt_finish().
 */
int		 imgfmt_feed(struct imgfmt *, const void *buf, size_t len);

/*
 * End of stream: fill *result (entirely overwritten). Returns 0; -1
 * (TS_EINVALID) if already finished. After this only imgfmt_free() and
 * imgfmt_buffered() may be called.
 */
int		 imgfmt_finish(struct imgfmt *, struct imgfmt_result *result);

/* Bytes of image data currently held; always <= IMGFMT_BUFFERED_MAX. */
size_t		 imgfmt_buffered(const struct imgfmt *);

/*
 * Inspect a whole file: reads from offset 0 to EOF with pread() (the fd's
 * offset is left alone); a pipe or socket is read with read() to EOF. For a
 * regular file the parts no detector needs are skipped, so a large image
 * costs a few reads; the result is the same as streaming every byte.
 * -1 with TS_EIO if reading fails or the file changes size meanwhile.
 */
int		 imgfmt_inspect_fd(int fd, struct imgfmt_result *result);

/*
 * The upload policy. 0 if an image whose declared Glance disk_format is
 * disk_format may be used; else -1 with TS_EINVALID and one of:
 *   "unsupported disk_format 'X'"          no inspector (ploop, ...)
 *   "<reason>: refused"                    several formats matched
 *   "image format mismatch: declared X, detected Y"
 *   "<reason>: refused"                    the detected format is unsafe
 * Accepted pairs: declared == detected; declared ami/ari/aki/raw with
 * detected raw; declared raw with detected iso (qemu reads an ISO through
 * its raw driver, and clients default --disk-format to raw). Declared iso
 * needs an ISO 9660/UDF signature; declared qcow2 with raw bytes is a
 * mismatch.
 */
int		 imgfmt_check_declared(const struct imgfmt_result *,
		    const char *disk_format);

/* Glance disk_format name of a format ("vhd" for qemu's vpc). Static. */
const char	*imgfmt_format_name(enum imgfmt_format);
/* The qemu -f driver for a format that may be used ("raw" for iso, "vpc"
 * for vhd), or NULL for formats that are always refused. Static. */
const char	*imgfmt_format_qemu_driver(enum imgfmt_format);

#endif
