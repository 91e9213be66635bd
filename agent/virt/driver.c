/*
 * driver: libvirt guests for the agent's compute handler; see driver.h.
 *
 * The parts that differ between virt types sit behind a small table of
 * operations (struct vt_ops): how a domain definition is rendered from a
 * spec (and what must exist on disk before it is defined), what a failed
 * definition leaves to undo, and where the console log comes from. The
 * libvirt life cycle (define, start, shutdown, destroy, managed save,
 * undefine) and the power-state moves are the same for all types and live
 * here once.
 *
 * The test driver keeps its domains inside this process (test:///default
 * shares one state between all connections of a process), has no disks and
 * no console: its console log is synthetic, one line per life-cycle event,
 * kept in memory per guest.
 *
 * qemu/kvm guests (section "qemu" below) are made of files in
 * <instances_path>/<uuid>/: the root disk (a qcow2 overlay on a base from
 * the image cache, or a raw copy of it, per [libvirt] images_type),
 * ephemeral and swap disks, the config drive, the console log, and
 * "disk.info" (the root disk's format as it was made, so that a later
 * change of images_type never makes a disk be read with the wrong format:
 * formats are never probed). Base images, kernels and ramdisks come from
 * the image cache, referenced by the instance UUID; the references are
 * re-added from each domain's metadata when the driver starts (agent
 * restart) and a maintenance thread prunes unused bases.
 *
 * Failure of a make-guest step never leaves what a retry would trip over:
 * the files made by the failed call are removed (and the instance directory
 * with its image references when the call created it); files that existed
 * before the call (a disk holding the guest's data) are never removed by a
 * failed ensure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "config.h"
#include "err.h"
#include "image/imgcache.h"
#include "log.h"
#include "storage/disk.h"
#include "virt/configdrive.h"
#include "virt/console.h"
#include "virt/domxml.h"
#include "virt/driver.h"

#define CONSOLE_CAP		(1024 * 1024)	/* bytes kept / returned */
#define SYNTH_LOG_CAP		(64 * 1024)	/* synthetic log per guest */
#define POLL_MS			100
#define SHUTDOWN_RESEND_MS	5000	/* ACPI request repeated (Nova) */
#define IMAGE_TIMEOUT_MS	30000	/* image API: connect, each read */
#define GIB			(1ull << 30)
#define MIB			(1ull << 20)
#define DISK_INFO_NAME		"disk.info"
#define PRUNE_MAX_INTERVAL	600	/* seconds between cache prunes */
/* Where a local system libvirtd keeps each domain's qemu log (kept after
 * undefine); removed with the guest. */
#define QEMU_SYSTEM_URI		"qemu:///system"
#define QEMU_LOG_DIR		"/var/log/libvirt/qemu"

struct synth_log {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		*buf;
	size_t		 len;
	struct synth_log *next;
};

struct vt_ops;

struct driver {
	struct virt		*virt;		/* the connection (borrowed) */
	char			*instances_path;
	char			*state_path;
	enum driver_virt_type	 virt_type;
	int			 shutdown_timeout;
	const struct config	*cfg;
	const struct vt_ops	*ops;
	pthread_mutex_t		 lock;		/* logs, stopping */
	int64_t			 t0;		/* for synthetic log stamps */
	struct synth_log	*logs;

	/* qemu/kvm only (NULL / unused for the test driver) */
	struct imgcache		*cache;
	struct imgcache_http	*http;		/* image API, no token */
	char			*api_url;	/* image API base */
	char			*kernel_cmdline; /* default for direct boot */
	char			*vnc_listen;	/* NULL: no VNC */
	enum disk_root_mode	 root_mode;
	unsigned		 grace;		/* cache grace, seconds */
	pthread_t		 pruner;
	int			 pruner_started;
	int			 stopping;	/* under lock; wakes pruner */
	pthread_cond_t		 stop_cond;
};

/* What one make-guest call created, so that a failure undoes exactly
 * that. */
struct made {
	int	dir;		/* the instance directory (and image refs) */
	int	root, info, eph, swap, cfg;
};

/*
 * What differs per virt type. render() makes what the guest needs on the
 * host (recording it in *m) and returns an owned domain XML for the spec;
 * undo() removes what m says a failed call made (may be NULL); console()
 * reads the log (NULL: the synthetic in-memory log). reboot_flags and
 * shutdown_flags are passed to virDomainReboot/ShutdownFlags.
 * soft_reboot_cycles: a soft reboot is Nova's: a graceful shutdown and a
 * fresh start, so that a guest ignoring the ACPI button is powered off
 * after shutdown_timeout and still reboots (libvirt's own ACPI reboot
 * would silently do nothing to it).
 */
struct vt_ops {
	const char	*name;
	int		(*render)(struct driver *, const struct driver_spec *,
			    struct made *m, char **xml);
	void		(*undo)(struct driver *, const struct driver_spec *,
			    const struct made *m);
	int		(*console)(struct driver *, const char *uuid,
			    size_t max, char **out, size_t *len);
	unsigned	reboot_flags;
	unsigned	shutdown_flags;
	int		soft_reboot_cycles;
};

static const char *
lverr(void)
{
	return virt_last_error();
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- XML */

struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 failed;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 512;
		char *np;

		while (b->len + n + 1 > ncap)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = 1;
		return;
	}
	sb_add(b, tmp, (size_t)n);
}

/* Text content or attribute value, escaped; control characters other than
 * tab/newline cannot appear in XML 1.0 at all and are dropped. */
static void
sb_esc(struct sbuf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '<': sb_add(b, "&lt;", 4); break;
		case '>': sb_add(b, "&gt;", 4); break;
		case '&': sb_add(b, "&amp;", 5); break;
		case '\'': sb_add(b, "&apos;", 6); break;
		case '"': sb_add(b, "&quot;", 6); break;
		default:
			if (c >= 0x20 || c == '\t' || c == '\n')
				sb_add(b, s, 1);
		}
	}
}

/* The <metadata> element every tinystack domain carries. */
static void
sb_metadata(struct sbuf *b, const struct driver_spec *s)
{
	sb_printf(b, "<metadata><ts:instance xmlns:ts='%s'>", DRIVER_XMLNS);
	sb_printf(b, "<ts:generation>%llu</ts:generation>",
	    (unsigned long long)s->generation);
	sb_add(b, "<ts:project>", 12);
	sb_esc(b, s->project_id);
	sb_add(b, "</ts:project><ts:user>", 22);
	sb_esc(b, s->user_id);
	sb_add(b, "</ts:user><ts:flavor>", 21);
	sb_esc(b, s->flavor_name);
	sb_add(b, "</ts:flavor></ts:instance></metadata>", 37);
}

/* ---------------------------------------------------------------- test */

static int
test_render(struct driver *d, const struct driver_spec *s, struct made *m,
    char **xml)
{
	struct sbuf b = { 0 };

	sb_add(&b, "<domain type='test'><name>", 26);
	sb_esc(&b, s->name);
	sb_printf(&b, "</name><uuid>%s</uuid>", s->uuid);
	sb_printf(&b, "<memory unit='MiB'>%llu</memory><vcpu>%u</vcpu>",
	    (unsigned long long)s->memory_mb, s->vcpus);
	sb_metadata(&b, s);
	sb_add(&b, "<os><type arch='x86_64'>hvm</type></os></domain>", 48);
	if (b.failed) {
		free(b.p);
		err_set(TS_ENOMEM, "driver: out of memory rendering %s",
		    s->uuid);
		return -1;
	}
	*xml = b.p;
	return 0;
}

static const struct vt_ops test_ops = {
	.name = "test",
	.render = test_render,
	.undo = NULL,
	.console = NULL,
	.reboot_flags = 0,
	.shutdown_flags = 0,
};

/* ---------------------------------------------------------------- qemu */

/*
 * imgcache source: the controller's image API with the token of the
 * command whose get downloads the image (the owner's short-lived token,
 * struct imgcache_image's token, from driver_spec's image_token); the
 * client has no token of its own, so a request carries that one or none.
 */
static int
http_fetch(void *arg, const char *image_id, const char *token,
    imgcache_sink_fn sink, void *sink_arg)
{
	struct driver *d = arg;

	if (token == NULL || token[0] == '\0')
		log_warnx("image %s: the command carries no image token; "
		    "asking the image API without one", image_id);
	return imgcache_http_fetch(d->http, image_id, token, sink, sink_arg);
}

/* 1 if path exists (as anything), 0 if not; -1 with err set. */
static int
exists(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	err_set_errno(TS_EIO, "driver: %s", path);
	return -1;
}

static const char *
mode_format(enum disk_root_mode m)
{
	return m == DISK_ROOT_RAW_COPY ? "raw" : "qcow2";
}

/* The format the instance's root and ephemeral disks were made in, from
 * disk.info; the configured mode's when the file is missing (made by an
 * agent that crashed between the disk and its record). */
static const char *
disk_format_read(struct driver *d, const char *info)
{
	char buf[16] = "";
	FILE *f;

	if ((f = fopen(info, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "qcow2") == 0)
		return "qcow2";
	if (strcmp(buf, "raw") == 0)
		return "raw";
	if (buf[0] != '\0')
		log_warnx("%s: unknown format '%.15s'; using %s", info, buf,
		    mode_format(d->root_mode));
	return mode_format(d->root_mode);
}

/* Writes disk.info (temporary file + rename: never half written). */
static int
disk_format_write(const char *info, const char *format)
{
	char tmp[DISK_PATH_MAX + 8];
	int fd, rc = 0;
	size_t n = strlen(format);

	snprintf(tmp, sizeof(tmp), "%s.tmp", info);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1) {
		err_set_errno(TS_EIO, "driver: %s", tmp);
		return -1;
	}
	if (write(fd, format, n) != (ssize_t)n || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1) {
		err_set_errno(TS_EIO, "driver: writing %s", tmp);
		rc = -1;
	}
	if (close(fd) == -1 && rc == 0) {
		err_set_errno(TS_EIO, "driver: writing %s", tmp);
		rc = -1;
	}
	if (rc == 0 && rename(tmp, info) == -1) {
		err_set_errno(TS_EIO, "driver: renaming %s", tmp);
		rc = -1;
	}
	if (rc == -1)
		unlink(tmp);
	return rc;
}

/* One image through the cache for the spec's instance, with the command's
 * token. what names it in messages ("image", "kernel", "ramdisk"). */
static int
image_get(struct driver *d, const struct driver_spec *s, const char *what,
    const char *id, const char *format, const char *sha512, uint64_t size,
    struct imgcache_base *out)
{
	struct imgcache_image img = { .id = id, .disk_format = format,
	    .sha512 = sha512, .size = size, .token = s->image_token };
	int64_t t0 = mono_ms();
	int rc;

	if (sha512 == NULL || sha512[0] == '\0') {
		err_set(TS_EINVALID, "driver: %s %s of %s has no checksum to "
		    "verify it against", what, id, s->uuid);
		return -1;
	}
	rc = imgcache_get(d->cache, &img, s->uuid, out);
	if (rc == -1) {
		err_prefix("%s %s: ", what, id);
		return -1;
	}
	log_debug("guest %s: %s %s ready in %lld ms (%s)", s->uuid, what, id,
	    (long long)(mono_ms() - t0), out->path);
	return 0;
}

static int
qemu_spec_ok(const struct driver_spec *s)
{
	const char *ids[] = { s->image_id, s->kernel_id, s->ramdisk_id };

	if (s->image_id == NULL || s->image_id[0] == '\0') {
		err_set(TS_EINVALID, "driver: %s has no image (booting from "
		    "a volume is not supported)", s->uuid);
		return 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (ids[i] != NULL && ids[i][0] != '\0' &&
		    !codec_uuid_valid(ids[i])) {
			err_set(TS_EINVALID, "driver: image id '%.40s' of %s "
			    "is not a UUID", ids[i], s->uuid);
			return 0;
		}
	}
	if (s->image_disk_format == NULL || s->image_disk_format[0] == '\0') {
		err_set(TS_EINVALID, "driver: image %s of %s has no disk format",
		    s->image_id, s->uuid);
		return 0;
	}
	if (s->root_gb > DISK_SIZE_MAX / GIB ||
	    s->ephemeral_gb > DISK_SIZE_MAX / GIB ||
	    s->swap_mb > DISK_SIZE_MAX / MIB) {
		err_set(TS_EINVALID, "driver: disk sizes of %s out of range",
		    s->uuid);
		return 0;
	}
	return 1;
}

struct qpaths {
	char	dir[DISK_PATH_MAX], root[DISK_PATH_MAX], info[DISK_PATH_MAX],
		eph[DISK_PATH_MAX], swap[DISK_PATH_MAX], cfg[DISK_PATH_MAX],
		con[DISK_PATH_MAX];
};

static int
qpaths_fill(struct driver *d, const char *uuid, struct qpaths *p)
{
	const char *ip = d->instances_path;

	if (disk_instance_path(p->dir, sizeof(p->dir), ip, uuid, NULL) == -1 ||
	    disk_instance_path(p->root, sizeof(p->root), ip, uuid,
	    DISK_ROOT_NAME) == -1 ||
	    disk_instance_path(p->info, sizeof(p->info), ip, uuid,
	    DISK_INFO_NAME) == -1 ||
	    disk_instance_path(p->eph, sizeof(p->eph), ip, uuid,
	    DISK_EPHEMERAL_NAME) == -1 ||
	    disk_instance_path(p->swap, sizeof(p->swap), ip, uuid,
	    DISK_SWAP_NAME) == -1 ||
	    disk_instance_path(p->cfg, sizeof(p->cfg), ip, uuid,
	    DISK_CONFIG_NAME) == -1 ||
	    disk_instance_path(p->con, sizeof(p->con), ip, uuid,
	    DISK_CONSOLE_NAME) == -1)
		return -1;
	return 0;
}

static void
qemu_undo(struct driver *d, const struct driver_spec *s, const struct made *m)
{
	struct qpaths p;

	if (qpaths_fill(d, s->uuid, &p) == -1)
		return;
	if (m->dir) {
		/* Nothing of this guest existed before the call. */
		if (disk_instance_dir_remove(d->instances_path, s->uuid) == -1)
			log_err("undoing");
		imgcache_release_owner(d->cache, s->uuid);
		return;
	}
	if (m->cfg)
		unlink(p.cfg);
	if (m->swap)
		unlink(p.swap);
	if (m->eph)
		unlink(p.eph);
	if (m->info)
		unlink(p.info);
	if (m->root)
		unlink(p.root);
}

/* Disks and config drive (each made only if missing), then the XML. */
static int
qemu_render(struct driver *d, const struct driver_spec *s, struct made *m,
    char **xml)
{
	struct imgcache_base base, kern, ramd;
	struct domxml_disk disks[4];
	struct domxml_spec ds;
	struct qpaths p;
	const char *fmt, *kfmt, *rfmt;
	int have_kernel = s->kernel_id != NULL && s->kernel_id[0] != '\0';
	int have_ramdisk = s->ramdisk_id != NULL && s->ramdisk_id[0] != '\0';
	int e;
	size_t nd = 0;

	*xml = NULL;
	if (!qemu_spec_ok(s) || qpaths_fill(d, s->uuid, &p) == -1)
		return -1;
	if ((e = exists(p.dir)) == -1)
		return -1;
	m->dir = !e;
	if (disk_instance_dir_create(d->instances_path, s->uuid) == -1) {
		m->dir = 0;
		return -1;
	}
	if (image_get(d, s, "image", s->image_id, s->image_disk_format,
	    s->image_sha512, s->image_size, &base) == -1)
		return -1;
	if (have_ramdisk && !have_kernel)
		log_warnx("guest %s: ramdisk %s without a kernel ignored",
		    s->uuid, s->ramdisk_id);
	if (have_kernel) {
		kfmt = s->kernel_disk_format && s->kernel_disk_format[0] ?
		    s->kernel_disk_format : "aki";
		if (image_get(d, s, "kernel", s->kernel_id, kfmt,
		    s->kernel_sha512, s->kernel_size, &kern) == -1)
			return -1;
		if (have_ramdisk) {
			rfmt = s->ramdisk_disk_format &&
			    s->ramdisk_disk_format[0] ?
			    s->ramdisk_disk_format : "ari";
			if (image_get(d, s, "ramdisk", s->ramdisk_id, rfmt,
			    s->ramdisk_sha512, s->ramdisk_size, &ramd) == -1)
				return -1;
		}
	}

	/* root disk: kept when it exists (it holds the guest's data) */
	if ((e = exists(p.root)) == -1)
		return -1;
	if (e) {
		fmt = disk_format_read(d, p.info);
	} else {
		int64_t t0 = mono_ms();

		fmt = mode_format(d->root_mode);
		if (disk_root_create(p.root, base.path, base.format,
		    base.virtual_size, s->root_gb * GIB, d->root_mode) == -1)
			return -1;
		m->root = 1;
		log_debug("guest %s: root disk (%s on a %s base) made in %lld "
		    "ms", s->uuid, fmt, base.format,
		    (long long)(mono_ms() - t0));
		if (disk_format_write(p.info, fmt) == -1)
			return -1;
		m->info = 1;
	}
	disks[nd++] = (struct domxml_disk){ .path = p.root, .format = fmt };
	if (s->ephemeral_gb > 0) {
		if ((e = exists(p.eph)) == -1)
			return -1;
		if (!e) {
			if (disk_blank_create(p.eph, fmt, s->ephemeral_gb * GIB)
			    == -1)
				return -1;
			m->eph = 1;
		}
		disks[nd++] = (struct domxml_disk){ .path = p.eph,
		    .format = fmt };
	}
	if (s->swap_mb > 0) {
		if ((e = exists(p.swap)) == -1)
			return -1;
		if (!e) {
			if (disk_blank_create(p.swap, "raw", s->swap_mb * MIB)
			    == -1)
				return -1;
			m->swap = 1;
		}
		disks[nd++] = (struct domxml_disk){ .path = p.swap,
		    .format = "raw" };
	}

	/* config drive: the only way key and user data reach the guest
	 * until the metadata service exists; made once */
	if ((e = exists(p.cfg)) == -1)
		return -1;
	if (!e) {
		struct configdrive_spec cs = {
			.uuid = s->uuid,
			.name = s->hostname && s->hostname[0] ? s->hostname :
			    s->name,
			.hostname = s->hostname,
			.project_id = s->project_id,
			/* the command carries the key's data, not its name */
			.key_name = s->key_data ? "default" : NULL,
			.key_data = s->key_data,
			.meta = s->metadata,
			.user_data = s->user_data,
			.user_data_len = s->user_data ? s->user_data_len : 0,
		};
		int64_t t0 = mono_ms();

		if (configdrive_build(&cs, p.cfg) == -1)
			return -1;
		m->cfg = 1;
		log_debug("guest %s: config drive made in %lld ms", s->uuid,
		    (long long)(mono_ms() - t0));
	}
	disks[nd++] = (struct domxml_disk){ .path = p.cfg, .format = "raw",
	    .device = DOMXML_DEVICE_CDROM, .bus = DOMXML_BUS_IDE };

	ds = (struct domxml_spec){
		.uuid = s->uuid,
		.name = s->name,
		.virt = d->virt_type == DRIVER_VIRT_KVM ? DOMXML_VIRT_KVM :
		    DOMXML_VIRT_QEMU,
		.vcpus = s->vcpus,
		.memory_mb = s->memory_mb,
		.kernel = have_kernel ? kern.path : NULL,
		.initrd = have_kernel && have_ramdisk ? ramd.path : NULL,
		.cmdline = !have_kernel ? NULL : s->kernel_cmdline &&
		    s->kernel_cmdline[0] ? s->kernel_cmdline :
		    d->kernel_cmdline[0] ? d->kernel_cmdline : NULL,
		.disks = disks,
		.ndisks = nd,
		.console_log = p.con,
		.vnc_listen = d->vnc_listen,
		.generation = s->generation,
		.project_id = s->project_id,
		.user_id = s->user_id,
		.flavor_name = s->flavor_name,
		.image_id = s->image_id,
		.kernel_id = have_kernel ? s->kernel_id : NULL,
		.ramdisk_id = have_kernel && have_ramdisk ? s->ramdisk_id :
		    NULL,
		.display_name = s->hostname,
	};
	if ((*xml = domxml_build(&ds)) == NULL) {
		err_prefix("guest %s: ", s->uuid);
		return -1;
	}
	return 0;
}

/* The tail of the guest's console log, at most max bytes after
 * sanitizing (which may grow it: cut again from the front, on a character
 * boundary). */
static int
qemu_console(struct driver *d, const char *uuid, size_t max, char **out,
    size_t *len)
{
	struct qpaths p;
	char *t;
	size_t n, off = 0;

	if (qpaths_fill(d, uuid, &p) == -1)
		return -1;
	if (console_tail(p.con, 0, max, CONSOLE_SANITIZE | CONSOLE_MISSING_OK,
	    &t, &n) == -1)
		return -1;
	if (n > max) {
		off = n - max;
		while (off < n && ((unsigned char)t[off] & 0xc0) == 0x80)
			off++;
		memmove(t, t + off, n - off + 1);
		n -= off;
	}
	*out = t;
	*len = n;
	return 0;
}

static const struct vt_ops qemu_ops = {
	.name = "qemu",
	.render = qemu_render,
	.undo = qemu_undo,
	.console = qemu_console,
	.reboot_flags = VIR_DOMAIN_REBOOT_ACPI_POWER_BTN,
	.shutdown_flags = VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
	.soft_reboot_cycles = 1,
};

/*
 * Agent restart: every managed domain's disks still use their bases, so
 * the references they hold are added again from the owner records. A
 * base missing from the cache is only logged (the guest keeps running;
 * a rebuild downloads it again).
 */
static void
refs_restore(struct driver *d, virConnectPtr c)
{
	virDomainPtr *doms = NULL;
	int nd;
	size_t refs = 0;

	if ((nd = virConnectListAllDomains(c, &doms, 0)) < 0) {
		log_warnx("driver: listing domains for the image cache: %s",
		    lverr());
		return;
	}
	for (int i = 0; i < nd; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		char *md = virDomainGetMetadata(doms[i],
		    VIR_DOMAIN_METADATA_ELEMENT, DRIVER_XMLNS, 0);
		struct domxml_meta meta;

		if (md != NULL && virDomainGetUUIDString(doms[i], uuid) == 0 &&
		    domxml_meta_parse(md, &meta) == 0) {
			const char *ids[] = { meta.image_id, meta.kernel_id,
			    meta.ramdisk_id };

			for (size_t k = 0; k < 3; k++) {
				if (ids[k][0] == '\0')
					continue;
				if (imgcache_ref_add(d->cache, ids[k], uuid) ==
				    0)
					refs++;
				else
					log_warnx("guest %s: image %s: %s",
					    uuid, ids[k], err_msg());
			}
		}
		free(md);
		virDomainFree(doms[i]);
	}
	free(doms);
	log_info("driver: %zu image cache reference(s) restored from %d "
	    "domain(s)", refs, nd);
}

/* Prunes the image cache every grace/4 seconds (1..PRUNE_MAX_INTERVAL). */
static void *
pruner(void *arg)
{
	struct driver *d = arg;
	unsigned every = d->grace / 4;

	if (every < 1)
		every = 1;
	if (every > PRUNE_MAX_INTERVAL)
		every = PRUNE_MAX_INTERVAL;
	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		struct timespec ts;
		int n;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += every;
		while (!d->stopping && pthread_cond_timedwait(&d->stop_cond,
		    &d->lock, &ts) != ETIMEDOUT)
			;
		if (d->stopping)
			break;
		pthread_mutex_unlock(&d->lock);
		if ((n = imgcache_prune(d->cache)) == -1)
			log_err("image cache prune");
		else if (n > 0)
			log_info("image cache: %d unused file(s) pruned", n);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static const char *
opt_str(const struct driver *d, const char *sec, const char *key,
    const char *def)
{
	return d->cfg ? config_get_str(d->cfg, sec, key) : def;
}

static int
visible_ascii(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return 0;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/* Options and the image cache of a qemu/kvm driver; strict: anything
 * odd is TS_EINVALID before a guest is touched. */
static int
qemu_setup(struct driver *d, const struct driver_opts *o)
{
	struct imgcache_opts co = { 0 };
	char dir[IMGCACHE_PATH_MAX];
	const char *url = opt_str(d, "image", "api_url", "");
	const char *cdir = opt_str(d, "image", "cache_dir", "");
	const char *itype = opt_str(d, "libvirt", "images_type", "qcow2");
	const char *cmd = opt_str(d, "libvirt", "kernel_cmdline",
	    "root=/dev/vda console=ttyS0");
	const char *vnc = opt_str(d, "vnc", "server_listen", "127.0.0.1");
	int vnc_on = d->cfg ? config_get_bool(d->cfg, "vnc", "enabled") : 1;
	int64_t grace = d->cfg ? config_get_int(d->cfg, "image",
	    "cache_grace") : IMGCACHE_GRACE_DEFAULT;
	unsigned char a[16];
	int rc;

	if (d->instances_path[0] != '/') {
		err_set(TS_EINVALID, "driver: instances_path '%s' is not "
		    "absolute", d->instances_path);
		return -1;
	}
	if (strcmp(itype, "qcow2") == 0)
		d->root_mode = DISK_ROOT_OVERLAY;
	else if (strcmp(itype, "raw") == 0)
		d->root_mode = DISK_ROOT_RAW_COPY;
	else {
		err_set(TS_EINVALID, "driver: [libvirt] images_type '%s' is "
		    "neither qcow2 nor raw", itype);
		return -1;
	}
	if (!visible_ascii(cmd, DOMXML_CMDLINE_MAX)) {
		err_set(TS_EINVALID, "driver: [libvirt] kernel_cmdline: at "
		    "most %d printable ASCII characters", DOMXML_CMDLINE_MAX);
		return -1;
	}
	if (vnc_on && inet_pton(AF_INET, vnc, a) != 1 &&
	    inet_pton(AF_INET6, vnc, a) != 1) {
		err_set(TS_EINVALID, "driver: [vnc] server_listen '%s' is not "
		    "an IP address", vnc);
		return -1;
	}
	if (grace < 1 || grace > UINT32_MAX) {
		err_set(TS_EINVALID, "driver: [image] cache_grace out of "
		    "range");
		return -1;
	}
	d->grace = (unsigned)grace;
	if (o->image_source == NULL) {
		if (url[0] == '\0') {
			err_set(TS_EINVALID, "driver: [image] api_url is needed "
			    "for %s guests", d->ops->name);
			return -1;
		}
		/* checks the URL once, here, rather than at every fetch; the
		 * client is shared by concurrent downloads (each request
		 * carries its own token) */
		if ((d->http = imgcache_http_new(url, IMAGE_TIMEOUT_MS)) ==
		    NULL) {
			err_prefix("[image] api_url: ");
			return -1;
		}
		co.source = (struct imgcache_source){ http_fetch, d };
	} else {
		co.source = *o->image_source;
	}
	if (cdir[0] != '\0')
		rc = snprintf(dir, sizeof(dir), "%s", cdir);
	else
		rc = snprintf(dir, sizeof(dir), "%s/_base", d->instances_path);
	if (rc < 0 || (size_t)rc >= sizeof(dir)) {
		err_set(TS_EINVALID, "driver: image cache path too long");
		return -1;
	}
	if ((d->api_url = strdup(url)) == NULL ||
	    (d->kernel_cmdline = strdup(cmd)) == NULL ||
	    (vnc_on && (d->vnc_listen = strdup(vnc)) == NULL)) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return -1;
	}
	co.dir = dir;
	co.grace_sec = d->grace;
	if ((d->cache = imgcache_new(&co)) == NULL)
		return -1;
	log_info("driver: %s guests in %s, image cache %s (%s disks, grace "
	    "%u s), image API %s, VNC %s", d->ops->name, d->instances_path, dir,
	    mode_format(d->root_mode), d->grace,
	    o->image_source ? "(test source)" : d->api_url,
	    d->vnc_listen ? d->vnc_listen : "off");
	return 0;
}

/* Virt types whose operations exist in this build. */
static const struct vt_ops *
ops_for(enum driver_virt_type t)
{
	switch (t) {
	case DRIVER_VIRT_TEST:
		return &test_ops;
	case DRIVER_VIRT_QEMU:
	case DRIVER_VIRT_KVM:
		return &qemu_ops;
	default:
		return NULL;
	}
}

/* ------------------------------------------------------------ synthetic */

static struct synth_log *
log_find(struct driver *d, const char *uuid, int create)
{
	struct synth_log *l;

	for (l = d->logs; l; l = l->next)
		if (strcmp(l->uuid, uuid) == 0)
			return l;
	if (!create || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	snprintf(l->uuid, sizeof(l->uuid), "%s", uuid);
	l->next = d->logs;
	d->logs = l;
	return l;
}

/* Appends one line in the style of a kernel log to the guest's synthetic
 * console; the oldest half is dropped when the cap is reached. Best
 * effort: a failed allocation loses the line, never the operation. */
static void __attribute__((format(printf, 3, 4)))
synth(struct driver *d, const char *uuid, const char *fmt, ...)
{
	char line[512];
	struct synth_log *l;
	int64_t t = mono_ms() - d->t0;
	va_list ap;
	int n;

	if (d->ops->console != NULL)
		return;
	n = snprintf(line, sizeof(line), "[%6lld.%03lld] ",
	    (long long)(t / 1000), (long long)(t % 1000));
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	n = (int)strlen(line);
	pthread_mutex_lock(&d->lock);
	if ((l = log_find(d, uuid, 1)) != NULL) {
		char *nb;

		if (l->len + (size_t)n > SYNTH_LOG_CAP) {
			size_t cut = l->len / 2;

			memmove(l->buf, l->buf + cut, l->len - cut);
			l->len -= cut;
		}
		if ((nb = realloc(l->buf, l->len + (size_t)n + 1)) != NULL) {
			l->buf = nb;
			memcpy(l->buf + l->len, line, (size_t)n + 1);
			l->len += (size_t)n;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static void
synth_drop(struct driver *d, const char *uuid)
{
	struct synth_log **pp, *l;

	pthread_mutex_lock(&d->lock);
	for (pp = &d->logs; (l = *pp) != NULL; pp = &l->next) {
		if (strcmp(l->uuid, uuid) == 0) {
			*pp = l->next;
			free(l->buf);
			free(l);
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

int
driver_virt_type_parse(const char *s, enum driver_virt_type *t)
{
	if (strcmp(s, "test") == 0)
		*t = DRIVER_VIRT_TEST;
	else if (strcmp(s, "qemu") == 0)
		*t = DRIVER_VIRT_QEMU;
	else if (strcmp(s, "kvm") == 0)
		*t = DRIVER_VIRT_KVM;
	else {
		err_set(TS_EINVALID, "unknown virt type '%s'", s);
		return -1;
	}
	return 0;
}

struct driver *
driver_new(struct virt *virt, const struct driver_opts *o)
{
	struct driver *d;
	virConnectPtr c;

	if (virt == NULL || o->instances_path == NULL) {
		err_set(TS_EINVALID, "driver: virt and instances_path needed");
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->stop_cond, NULL);
	d->virt = virt;
	d->virt_type = o->virt_type;
	d->shutdown_timeout = o->shutdown_timeout > 0 ? o->shutdown_timeout :
	    60;
	d->cfg = o->cfg;
	d->t0 = mono_ms();
	if ((d->instances_path = strdup(o->instances_path)) == NULL ||
	    (d->state_path = strdup(o->state_path ? o->state_path : "")) ==
	    NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		driver_free(&d);
		return NULL;
	}
	if ((d->ops = ops_for(o->virt_type)) == NULL) {
		err_set(TS_ENOT_IMPLEMENTED, "driver: virt type %d has no "
		    "implementation in this build (only test:// URIs)",
		    (int)o->virt_type);
		driver_free(&d);
		return NULL;
	}
	if (d->ops == &qemu_ops && qemu_setup(d, o) == -1) {
		driver_free(&d);
		return NULL;
	}
	if ((c = virt_conn(d->virt)) == NULL) {
		driver_free(&d);
		return NULL;
	}
	if (d->cache != NULL)
		refs_restore(d, c);
	virConnectClose(c);
	if (d->cache != NULL) {
		int rc;

		if ((rc = pthread_create(&d->pruner, NULL, pruner, d)) != 0) {
			errno = rc;
			err_set_errno(TS_EINTERNAL, "driver: pruner thread");
			driver_free(&d);
			return NULL;
		}
		d->pruner_started = 1;
	}
	return d;
}

void
driver_free(struct driver **dp)
{
	struct driver *d = *dp;

	if (d == NULL)
		return;
	if (d->pruner_started) {
		pthread_mutex_lock(&d->lock);
		d->stopping = 1;
		pthread_cond_broadcast(&d->stop_cond);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->pruner, NULL);
	}
	imgcache_free(&d->cache);
	imgcache_http_free(&d->http);
	free(d->api_url);
	free(d->kernel_cmdline);
	free(d->vnc_listen);
	while (d->logs) {
		struct synth_log *l = d->logs;

		d->logs = l->next;
		free(l->buf);
		free(l);
	}
	pthread_cond_destroy(&d->stop_cond);
	pthread_mutex_destroy(&d->lock);
	free(d->instances_path);
	free(d->state_path);
	free(d);
	*dp = NULL;
}

/* ---------------------------------------------------------------- guests */

static int
uuid_ok(const char *uuid)
{
	if (!codec_uuid_valid(uuid)) {
		err_set(TS_EINVALID, "driver: '%.40s' is not a UUID", uuid);
		return 0;
	}
	return 1;
}

/* The domain of a UUID: NULL with TS_ENOT_FOUND (or TS_EUNAVAILABLE). */
static virDomainPtr
dom_get(virConnectPtr c, const char *uuid)
{
	virDomainPtr dom = virDomainLookupByUUIDString(c, uuid);

	if (dom == NULL) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			err_set(TS_ENOT_FOUND, "no guest %s on this host", uuid);
		else
			err_set(TS_EUNAVAILABLE, "libvirt: look-up of %s: %s",
			    uuid, lverr());
	}
	return dom;
}

/* Generation from the metadata; *managed tells whether it is ours. */
static uint64_t
dom_generation(virDomainPtr dom, int *managed)
{
	char *m = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
	    DRIVER_XMLNS, 0);
	const char *p;
	uint64_t g = 0;

	*managed = 0;
	if (m == NULL)
		return 0;
	*managed = 1;
	/* Our own element, read back as libvirt formats it. */
	if ((p = strstr(m, "generation>")) != NULL)
		g = strtoull(p + 11, NULL, 10);
	free(m);
	return g;
}

static int
guest_fill(virDomainPtr dom, struct driver_guest *g)
{
	virDomainInfo di;
	const char *name, *word;

	memset(g, 0, sizeof(*g));
	if (virDomainGetUUIDString(dom, g->uuid) < 0 ||
	    (name = virDomainGetName(dom)) == NULL ||
	    virDomainGetInfo(dom, &di) < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: domain info: %s", lverr());
		return -1;
	}
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->power_state = virt_domain_power(dom, &word);
	g->generation = dom_generation(dom, &g->managed);
	g->vcpus = di.nrVirtCpu;
	g->memory_mb = di.maxMem / 1024;
	return 0;
}

int
driver_guest_get(struct driver *d, const char *uuid, struct driver_guest *g)
{
	virConnectPtr c;
	virDomainPtr dom;
	int rc;

	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	rc = guest_fill(dom, g);
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

static int
cmp_guest(const void *a, const void *b)
{
	return strcmp(((const struct driver_guest *)a)->uuid,
	    ((const struct driver_guest *)b)->uuid);
}

int
driver_guests_list(struct driver *d, struct driver_guest **out, size_t *n)
{
	virConnectPtr c;
	virDomainPtr *doms = NULL;
	struct driver_guest *gs;
	int nd;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if ((c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((nd = virConnectListAllDomains(c, &doms, 0)) < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: list domains: %s", lverr());
		virConnectClose(c);
		return -1;
	}
	if ((gs = calloc(nd ? (size_t)nd : 1, sizeof(*gs))) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		k = (size_t)-1;
	}
	for (int i = 0; i < nd; i++) {
		/* A domain may vanish between listing and asking: skip it. */
		if (gs != NULL && guest_fill(doms[i], &gs[k]) == 0)
			k++;
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(c);
	if (gs == NULL)
		return -1;
	if (k > 1)
		qsort(gs, k, sizeof(*gs), cmp_guest);
	*out = gs;
	*n = k;
	return 0;
}

/* Makes what the guest needs and (re)defines it; a failure undoes what
 * this call made. */
static int
define(struct driver *d, virConnectPtr c, const struct driver_spec *s)
{
	struct made m = { 0 };
	virDomainPtr dom = NULL;
	char *xml = NULL;
	int64_t t0 = mono_ms(), t1;

	if (d->ops->render(d, s, &m, &xml) == 0) {
		t1 = mono_ms();
		if ((dom = virDomainDefineXML(c, xml)) == NULL)
			err_set(TS_EIO, "libvirt: define %s: %s", s->uuid,
			    lverr());
		else
			log_debug("guest %s: prepared in %lld ms, defined in "
			    "%lld ms", s->uuid, (long long)(t1 - t0),
			    (long long)(mono_ms() - t1));
	}
	free(xml);
	if (dom == NULL) {
		if (d->ops->undo) {
			enum ts_errcode code = err_code();
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", err_msg());
			d->ops->undo(d, s, &m);
			err_set(code, "%s", msg);
		}
		return -1;
	}
	virDomainFree(dom);
	return 0;
}

static int
spec_ok(const struct driver_spec *s)
{
	if (!uuid_ok(s->uuid))
		return 0;
	if (s->name == NULL || s->name[0] == '\0' || s->vcpus == 0 ||
	    s->memory_mb == 0 || s->generation == 0) {
		err_set(TS_EINVALID, "driver: spec of %s lacks a name, vCPUs, "
		    "memory or generation", s->uuid);
		return 0;
	}
	return 1;
}

int
driver_guest_ensure(struct driver *d, const struct driver_spec *s)
{
	virConnectPtr c;
	virDomainPtr dom;
	uint64_t g;
	int managed, rc = 0;

	if (!spec_ok(s) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, s->uuid)) == NULL) {
		if (err_code() != TS_ENOT_FOUND) {
			virConnectClose(c);
			return -1;
		}
		rc = define(d, c, s);
		if (rc == 0) {
			log_info("guest %s defined (generation %llu)", s->uuid,
			    (unsigned long long)s->generation);
			synth(d, s->uuid, "tinystack: %s defined: %u vCPU(s), "
			    "%llu MiB RAM, flavor %s", s->name, s->vcpus,
			    (unsigned long long)s->memory_mb,
			    s->flavor_name ? s->flavor_name : "-");
		}
		virConnectClose(c);
		return rc;
	}
	g = dom_generation(dom, &managed);
	if (managed && g > s->generation) {
		err_set(TS_ECONFLICT, "guest %s has generation %llu, newer "
		    "than the command's %llu", s->uuid, (unsigned long long)g,
		    (unsigned long long)s->generation);
		rc = -1;
	} else if (!managed || g < s->generation) {
		/* Re-defining an existing domain only replaces its persistent
		 * definition; a running guest keeps going. */
		rc = define(d, c, s);
		if (rc == 0)
			log_info("guest %s re-defined with generation %llu "
			    "(was %llu)", s->uuid,
			    (unsigned long long)s->generation,
			    (unsigned long long)g);
	}
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

/* Waits until the domain is inactive, up to ms. 1 if it is. */
static int
wait_inactive(virDomainPtr dom, int64_t ms)
{
	int64_t until = mono_ms() + ms;

	for (;;) {
		if (virDomainIsActive(dom) == 0)
			return 1;
		if (mono_ms() >= until)
			return 0;
		usleep(POLL_MS * 1000);
	}
}

static int
lv_fail(const char *what, const char *uuid)
{
	err_set(TS_EIO, "libvirt: %s %s: %s", what, uuid, lverr());
	return -1;
}

static int
power_off(struct driver *d, virDomainPtr dom, const char *uuid)
{
	int st, reason;

	if (virDomainGetState(dom, &st, &reason, 0) < 0)
		return lv_fail("state of", uuid);
	if (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_BLOCKED) {
		int64_t until = mono_ms() + (int64_t)d->shutdown_timeout * 1000;

		/* As Nova does, the request is repeated: a guest may miss an
		 * ACPI event while it boots. */
		while (virDomainShutdownFlags(dom, d->ops->shutdown_flags) ==
		    0) {
			int64_t left = until - mono_ms();

			if (wait_inactive(dom, left < SHUTDOWN_RESEND_MS ?
			    left : SHUTDOWN_RESEND_MS)) {
				synth(d, uuid, "reboot: Power down");
				return 0;
			}
			if (mono_ms() >= until)
				break;
		}
		if (virDomainIsActive(dom) == 0)
			return 0;
		log_warnx("guest %s did not shut down within %d s; destroying",
		    uuid, d->shutdown_timeout);
	}
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
		return lv_fail("destroy", uuid);
	synth(d, uuid, "tinystack: powered off");
	return 0;
}

static int
start(struct driver *d, virDomainPtr dom, const char *uuid, int restore)
{
	if (virDomainCreate(dom) < 0)
		return lv_fail("start", uuid);
	if (restore)
		synth(d, uuid, "tinystack: restored from saved state");
	else
	{
		/* What a console shows of a boot, so that clients reading
		 * the last N lines have lines to read. */
		synth(d, uuid, "Linux version 6.1.0-tinystack (test driver)");
		synth(d, uuid, "Command line: console=ttyS0");
		synth(d, uuid, "Memory: available");
		synth(d, uuid, "Run /init as init process");
		synth(d, uuid, "%s login: ", uuid);
	}
	return 0;
}

int
driver_guest_set_power(struct driver *d, const char *uuid,
    enum virt_power want)
{
	virConnectPtr c;
	virDomainPtr dom;
	enum virt_power cur;
	const char *word;
	int rc = 0;

	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	cur = virt_domain_power(dom, &word);
	if (cur == want)
		goto out;
	switch (want) {
	case VIRT_POWER_RUNNING:
		if (cur == VIRT_POWER_PAUSED) {
			if (virDomainResume(dom) < 0)
				rc = lv_fail("resume", uuid);
			else
				synth(d, uuid, "tinystack: unpaused");
		} else if (cur == VIRT_POWER_CRASHED) {
			if ((rc = power_off(d, dom, uuid)) == 0)
				rc = start(d, dom, uuid, 0);
		} else {
			rc = start(d, dom, uuid, cur == VIRT_POWER_SUSPENDED);
		}
		break;
	case VIRT_POWER_SHUTDOWN:
		if (cur == VIRT_POWER_SUSPENDED) {
			if (virDomainManagedSaveRemove(dom, 0) < 0)
				rc = lv_fail("discard saved state of", uuid);
		} else {
			rc = power_off(d, dom, uuid);
		}
		break;
	case VIRT_POWER_PAUSED:
		/* From any state: a guest that must be paused but is not
		 * running (recreated after a host restart) is started first. */
		if (cur != VIRT_POWER_RUNNING) {
			if (cur == VIRT_POWER_CRASHED)
				rc = power_off(d, dom, uuid);
			if (rc == 0)
				rc = start(d, dom, uuid,
				    cur == VIRT_POWER_SUSPENDED);
		}
		if (rc == 0 && virDomainSuspend(dom) < 0)
			rc = lv_fail("pause", uuid);
		else if (rc == 0)
			synth(d, uuid, "tinystack: paused");
		break;
	case VIRT_POWER_SUSPENDED:
		if (cur == VIRT_POWER_SHUTDOWN || cur == VIRT_POWER_CRASHED) {
			if (cur == VIRT_POWER_CRASHED)
				rc = power_off(d, dom, uuid);
			if (rc == 0)
				rc = start(d, dom, uuid, 0);
		}
		if (rc == 0 && virDomainManagedSave(dom, 0) < 0)
			rc = lv_fail("suspend", uuid);
		else if (rc == 0)
			synth(d, uuid, "PM: suspend to disk: state saved");
		break;
	default:
		err_set(TS_EINVALID, "driver: power state %d cannot be "
		    "requested", (int)want);
		rc = -1;
	}
out:
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

int
driver_guest_reboot(struct driver *d, const struct driver_spec *s, int hard)
{
	virConnectPtr c;
	virDomainPtr dom;
	const char *word;
	enum virt_power cur;
	int rc = 0;

	if (!spec_ok(s) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, s->uuid)) == NULL) {
		virConnectClose(c);
		return -1;
	}
	cur = virt_domain_power(dom, &word);
	if (!hard && cur == VIRT_POWER_RUNNING && d->ops->soft_reboot_cycles) {
		if ((rc = power_off(d, dom, s->uuid)) == 0)
			rc = start(d, dom, s->uuid, 0);
		goto out;
	}
	if (!hard && cur == VIRT_POWER_RUNNING) {
		if (virDomainReboot(dom, d->ops->reboot_flags) == 0) {
			synth(d, s->uuid, "reboot: Restarting system");
			goto out;
		}
		log_warnx("soft reboot of %s failed (%s); rebooting hard",
		    s->uuid, lverr());
	}
	/* Hard: stop at once, rebuild the definition, start. */
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
		rc = lv_fail("destroy", s->uuid);
		goto out;
	}
	if (cur == VIRT_POWER_SUSPENDED &&
	    virDomainManagedSaveRemove(dom, 0) < 0) {
		rc = lv_fail("discard saved state of", s->uuid);
		goto out;
	}
	synth(d, s->uuid, "tinystack: hard reboot");
	if ((rc = define(d, c, s)) == 0)
		rc = start(d, dom, s->uuid, 0);
out:
	virDomainFree(dom);
	virConnectClose(c);
	return rc;
}

/* Undefine with the saved state, snapshots' metadata and NVRAM; drivers
 * without NVRAM support (the test driver) refuse that flag: again
 * without it. */
static int
undefine(virDomainPtr dom, const char *uuid)
{
	unsigned fl = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
	    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;

	if (virDomainUndefineFlags(dom, fl | VIR_DOMAIN_UNDEFINE_NVRAM) == 0)
		return 0;
	if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
		return 0;
	if (virDomainUndefineFlags(dom, fl) == 0 ||
	    virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
		return 0;
	return lv_fail("undefine", uuid);
}

int
driver_guest_delete(struct driver *d, const char *uuid)
{
	virConnectPtr c;
	virDomainPtr dom;
	char qlog[512];
	int rc = 0;

	if (!uuid_ok(uuid) || (c = virt_conn(d->virt)) == NULL)
		return -1;
	if ((dom = dom_get(c, uuid)) == NULL) {
		if (err_code() != TS_ENOT_FOUND) {
			virConnectClose(c);
			return -1;
		}
	} else {
		if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
			rc = lv_fail("destroy", uuid);
		if (rc == 0)
			rc = undefine(dom, uuid);
		virDomainFree(dom);
	}
	virConnectClose(c);
	if (rc == -1)
		return -1;
	/* Files only once the domain is gone: a guest never runs on a
	 * deleted disk. */
	if (d->instances_path[0] == '/' &&
	    disk_instance_dir_remove(d->instances_path, uuid) == -1)
		return -1;
	if (d->cache != NULL)
		imgcache_release_owner(d->cache, uuid);
	if (d->ops == &qemu_ops && strcmp(virt_uri(d->virt), QEMU_SYSTEM_URI) == 0) {
		/* libvirt keeps the qemu log of an undefined domain for ever
		 * (Nova leaves it too); the issue asks for nothing left. The
		 * name is ours: "instance-" + a validated UUID. */
		snprintf(qlog, sizeof(qlog), "%s/%s%s.log", QEMU_LOG_DIR,
		    DRIVER_NAME_PREFIX, uuid);
		if (unlink(qlog) == -1 && errno != ENOENT)
			log_warn("removing %s", qlog);
	}
	synth_drop(d, uuid);
	return 0;
}

int
driver_console_get(struct driver *d, const char *uuid, size_t max,
    char **out, size_t *len)
{
	struct driver_guest g;
	struct synth_log *l;
	size_t off = 0, n = 0;

	*out = NULL;
	*len = 0;
	if (max == 0 || max > CONSOLE_CAP)
		max = CONSOLE_CAP;
	if (driver_guest_get(d, uuid, &g) == -1)
		return -1;
	if (d->ops->console)
		return d->ops->console(d, uuid, max, out, len);
	pthread_mutex_lock(&d->lock);
	if ((l = log_find(d, uuid, 0)) != NULL) {
		n = l->len;
		if (n > max) {
			off = n - max;
			n = max;
		}
	}
	if ((*out = malloc(n + 1)) != NULL) {
		if (n)
			memcpy(*out, l->buf + off, n);
		(*out)[n] = '\0';
		*len = n;
	}
	pthread_mutex_unlock(&d->lock);
	if (*out == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return -1;
	}
	return 0;
}
