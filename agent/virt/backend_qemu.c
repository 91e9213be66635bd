/*
 * backend_qemu: disks, config drive, image cache and console of qemu/kvm
 * guests; see backend_qemu.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "ifname.h"
#include "image/imgcache.h"
#include "log.h"
#include "storage/disk.h"
#include "uuid.h"
#include "virt/backend_qemu.h"
#include "virt/configdrive.h"
#include "virt/console.h"
#include "virt/domxml.h"
#include "virt/driver.h"
#include "virt/virt.h"

#define IMAGE_TIMEOUT_MS	30000	/* image API: connect, each read */
#define GIB			(1ull << 30)
#define MIB			(1ull << 20)
#define DISK_INFO_NAME		"disk.info"
#define PRUNE_MAX_INTERVAL	600	/* seconds between cache prunes */
/* Where a local system libvirtd keeps each domain's qemu log (kept after
 * undefine); removed with the guest. */
#define QEMU_SYSTEM_URI		"qemu:///system"
#define QEMU_LOG_DIR		"/var/log/libvirt/qemu"

struct backend_qemu {
	struct virt		*virt;		/* borrowed */
	const char		*name;		/* "qemu", "kvm" */
	int			 kvm;
	char			*instances_path;
	char			*cache_dir;	/* the image cache's */
	const struct config	*cfg;		/* borrowed; may be NULL */
	struct imgcache		*cache;
	struct imgcache_http	*http;		/* image API, no token */
	char			*api_url;	/* image API base */
	char			*kernel_cmdline; /* default for direct boot */
	char			*vnc_listen;	/* NULL: no VNC */
	enum disk_root_mode	 root_mode;
	unsigned		 grace;		/* cache grace, seconds */
	pthread_mutex_t		 lock;		/* stopping */
	pthread_cond_t		 stop_cond;
	int			 stopping;	/* wakes the pruner */
	pthread_t		 pruner;
	int			 pruner_started;
};

static const char *
lverr(void)
{
	return virt_last_error();
}

/*
 * imgcache source: the controller's image API with the credential of the
 * command whose get downloads the image (the controller's image
 * capability for this instance and host, struct imgcache_image's token,
 * from driver_spec's image_token) and the agent's host; the client has no
 * token of its own, so a request carries that one or none.
 */
static int
http_fetch(void *arg, const char *image_id, const char *token,
    imgcache_sink_fn sink, void *sink_arg)
{
	struct backend_qemu *q = arg;

	if (token == NULL || token[0] == '\0')
		log_warnx("image %s: the command carries no image capability; "
		    "asking the image API without one", image_id);
	return imgcache_http_fetch(q->http, image_id, token, sink, sink_arg);
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
disk_format_read(struct backend_qemu *q, const char *info)
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
		    mode_format(q->root_mode));
	return mode_format(q->root_mode);
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
image_get(struct backend_qemu *q, const struct driver_spec *s,
    const char *what, const char *id, const char *format, const char *sha512,
    uint64_t size, struct imgcache_base *out)
{
	struct imgcache_image img = { .id = id, .disk_format = format,
	    .sha512 = sha512, .size = size, .token = s->image_token };
	int64_t t0 = clock_mono_ms();
	int rc;

	if (sha512 == NULL || sha512[0] == '\0') {
		err_set(TS_EINVALID, "driver: %s %s of %s has no checksum to "
		    "verify it against", what, id, s->uuid);
		return -1;
	}
	rc = imgcache_get(q->cache, &img, s->uuid, out);
	if (rc == -1) {
		err_prefix("%s %s: ", what, id);
		return -1;
	}
	log_debug("guest %s: %s %s ready in %lld ms (%s)", s->uuid, what, id,
	    (long long)(clock_mono_ms() - t0), out->path);
	return 0;
}

/* Boots from a volume: one of its volumes is the root disk. */
static int
boots_from_volume(const struct driver_spec *s)
{
	for (size_t k = 0; k < s->nvolumes; k++)
		if (s->volumes[k].boot)
			return 1;
	return 0;
}

static int
qemu_spec_ok(const struct driver_spec *s)
{
	const char *ids[] = { s->image_id, s->kernel_id, s->ramdisk_id };
	int bfv = boots_from_volume(s);

	if (bfv && s->image_id != NULL && s->image_id[0] != '\0') {
		err_set(TS_EINVALID, "driver: %s has an image and a boot "
		    "volume", s->uuid);
		return 0;
	}
	if (!bfv && (s->image_id == NULL || s->image_id[0] == '\0')) {
		err_set(TS_EINVALID, "driver: %s has no image and no boot "
		    "volume", s->uuid);
		return 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (ids[i] != NULL && ids[i][0] != '\0' &&
		    !uuid_valid(ids[i])) {
			err_set(TS_EINVALID, "driver: image id '%.40s' of %s "
			    "is not a UUID", ids[i], s->uuid);
			return 0;
		}
	}
	if (!bfv && (s->image_disk_format == NULL ||
	    s->image_disk_format[0] == '\0')) {
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
qpaths_fill(struct backend_qemu *q, const char *uuid, struct qpaths *p)
{
	const char *ip = q->instances_path;

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

void
backend_qemu_undo(struct backend_qemu *q, const struct driver_spec *s,
    const struct backend_qemu_made *m)
{
	struct qpaths p;

	if (qpaths_fill(q, s->uuid, &p) == -1)
		return;
	if (m->dir) {
		/* Nothing of this guest existed before the call. */
		if (disk_instance_dir_remove(q->instances_path, s->uuid) == -1)
			log_err("undoing");
		imgcache_release_owner(q->cache, s->uuid);
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

/*
 * The guest's interfaces: the bridge named from the network id
 * (common/ifname.h, the name agent/net gives it) unless the spec names
 * one, the tap from the port id. A missing bridge would fail the domain's
 * start deep in libvirt ("Cannot get interface MTU on 'tsb...': No such
 * device"); after an agent start the network converger may just not have
 * made it yet, so wait for it, boundedly (BRIDGE_WAIT_MS in all), then
 * fail with a fault that says what is missing (a build goes to ERROR with
 * it; a guest re-created from a host report is tried again at the next).
 * Waiting in a compute worker is fine: other guests have other workers.
 */
#define BRIDGE_WAIT_MS	10000
#define BRIDGE_POLL_MS	250

struct qnics {
	struct domxml_nic	v[DOMXML_NICS_MAX];
	char			br[DOMXML_NICS_MAX][IFNAME_MAX + 1];
	char			tap[DOMXML_NICS_MAX][IFNAME_MAX + 1];
};

static int
qemu_nics(const struct driver_spec *s, struct qnics *qn)
{
	int64_t deadline = clock_mono_ms() + BRIDGE_WAIT_MS;

	if (s->nnics > DOMXML_NICS_MAX) {
		err_set(TS_EINVALID, "guest %s: %zu NICs, at most %d", s->uuid,
		    s->nnics, DOMXML_NICS_MAX);
		return -1;
	}
	for (size_t k = 0; k < s->nnics; k++) {
		const struct driver_nic *n = &s->nics[k];

		if (n->bridge != NULL && n->bridge[0] != '\0')
			snprintf(qn->br[k], sizeof(qn->br[k]), "%s", n->bridge);
		else if (ifname_of(IFNAME_BRIDGE_PREFIX, n->network_id,
		    qn->br[k]) == -1)
			return -1;
		if (ifname_of(IFNAME_TAP_PREFIX, n->port_id, qn->tap[k]) == -1)
			return -1;
		qn->v[k] = (struct domxml_nic){ .mac = n->mac,
		    .bridge = qn->br[k], .target = qn->tap[k], .model = NULL,
		    .mtu = n->mtu };
		while (if_nametoindex(qn->br[k]) == 0) {
			if (clock_mono_ms() >= deadline) {
				err_set(TS_EUNAVAILABLE, "guest %s: bridge %s of "
				    "network %s does not exist on this host "
				    "(its network is not set up here yet)",
				    s->uuid, qn->br[k], n->network_id);
				return -1;
			}
			usleep(BRIDGE_POLL_MS * 1000);
		}
	}
	return 0;
}

/* Disks and config drive (each made only if missing), then the XML. */
/* A config drive built on a thread of its own while the disks are made
 * (two processes, genisoimage and qemu-img, each 0.1-0.5 s on a loaded
 * host, side by side: a live migration's prepare and a boot wait for the
 * longer one only). The spec's strings are the caller's, borrowed until
 * cfg_join(). */
struct cfgjob {
	struct configdrive_spec	 cs;
	const char		*path;
	const char		*uuid;
	pthread_t		 tid;
	int			 started, rc;
	enum ts_errcode		 code;
	char			 msg[512];
	int64_t			 ms;
};

static void *
cfg_run(void *arg)
{
	struct cfgjob *j = arg;
	int64_t t0 = clock_mono_ms();

	if ((j->rc = configdrive_build(&j->cs, j->path)) == -1) {
		j->code = err_code();
		snprintf(j->msg, sizeof(j->msg), "%s", err_msg());
	}
	j->ms = clock_mono_ms() - t0;
	return NULL;
}

/* Starts the build; on a thread when one can be had, else at once. */
static void
cfg_start(struct cfgjob *j)
{
	if (pthread_create(&j->tid, NULL, cfg_run, j) == 0)
		j->started = 1;
	else
		cfg_run(j);
}

/* Waits for the build: 0, or -1 with its error set here. */
static int
cfg_join(struct cfgjob *j)
{
	if (j->started) {
		pthread_join(j->tid, NULL);
		j->started = 0;
	}
	if (j->rc == -1) {
		err_set(j->code, "%s", j->msg);
		return -1;
	}
	log_debug("guest %s: config drive made in %lld ms", j->uuid,
	    (long long)j->ms);
	return 0;
}

int
backend_qemu_render(struct backend_qemu *q, const struct driver_spec *s,
    struct backend_qemu_made *m, char **xml)
{
	struct imgcache_base base, kern, ramd;
	struct domxml_disk disks[4];
	struct domxml_volume vols[DOMXML_VOLUMES_MAX];
	struct domxml_spec ds;
	struct qnics qn;
	struct qpaths p;
	struct cfgjob cj = { .rc = 0 };
	const char *fmt, *kfmt, *rfmt;
	int have_kernel = s->kernel_id != NULL && s->kernel_id[0] != '\0';
	int have_ramdisk = s->ramdisk_id != NULL && s->ramdisk_id[0] != '\0';
	int bfv = boots_from_volume(s);
	int e;
	size_t nd = 0;

	*xml = NULL;
	if (!qemu_spec_ok(s) || qpaths_fill(q, s->uuid, &p) == -1 ||
	    driver_volumes_domxml(s, vols) == -1 || qemu_nics(s, &qn) == -1)
		return -1;
	if ((e = exists(p.dir)) == -1)
		return -1;
	m->dir = !e;
	if (disk_instance_dir_create(q->instances_path, s->uuid) == -1) {
		m->dir = 0;
		return -1;
	}
	if (!bfv && image_get(q, s, "image", s->image_id,
	    s->image_disk_format, s->image_sha512, s->image_size, &base) == -1)
		return -1;
	if (have_ramdisk && !have_kernel)
		log_warnx("guest %s: ramdisk %s without a kernel ignored",
		    s->uuid, s->ramdisk_id);
	if (have_kernel) {
		kfmt = s->kernel_disk_format && s->kernel_disk_format[0] ?
		    s->kernel_disk_format : "aki";
		if (image_get(q, s, "kernel", s->kernel_id, kfmt,
		    s->kernel_sha512, s->kernel_size, &kern) == -1)
			return -1;
		if (have_ramdisk) {
			rfmt = s->ramdisk_disk_format &&
			    s->ramdisk_disk_format[0] ?
			    s->ramdisk_disk_format : "ari";
			if (image_get(q, s, "ramdisk", s->ramdisk_id, rfmt,
			    s->ramdisk_sha512, s->ramdisk_size, &ramd) == -1)
				return -1;
		}
	}

	/* config drive: key and user data also served by the metadata
	 * service (the same configdrive_spec_of() mapping); made once,
	 * beside the disks */
	if ((e = exists(p.cfg)) == -1)
		return -1;
	if (!e) {
		configdrive_spec_of(s, &cj.cs);
		cj.path = p.cfg;
		cj.uuid = s->uuid;
		cfg_start(&cj);
	}
	/* root disk: kept when it exists (it holds the guest's data); none
	 * when the guest boots from a volume (ephemeral and swap disks keep
	 * the configured format) */
	if (bfv) {
		if ((e = exists(p.info)) == -1)
			goto cfg_fail;
		fmt = e ? disk_format_read(q, p.info) : mode_format(q->root_mode);
		if (!e) {
			if (disk_format_write(p.info, fmt) == -1)
				goto cfg_fail;
			m->info = 1;
		}
	} else if ((e = exists(p.root)) == -1) {
		goto cfg_fail;
	} else if (e) {
		fmt = disk_format_read(q, p.info);
	} else {
		int64_t t0 = clock_mono_ms();

		fmt = mode_format(q->root_mode);
		if (disk_root_create(p.root, base.path, base.format,
		    base.virtual_size, s->root_gb * GIB, q->root_mode) == -1)
			goto cfg_fail;
		m->root = 1;
		log_debug("guest %s: root disk (%s on a %s base) made in %lld "
		    "ms", s->uuid, fmt, base.format,
		    (long long)(clock_mono_ms() - t0));
		if (disk_format_write(p.info, fmt) == -1)
			goto cfg_fail;
		m->info = 1;
	}
	if (!bfv)
		disks[nd++] = (struct domxml_disk){ .path = p.root,
		    .format = fmt };
	if (s->ephemeral_gb > 0) {
		if ((e = exists(p.eph)) == -1)
			goto cfg_fail;
		if (!e) {
			if (disk_blank_create(p.eph, fmt, s->ephemeral_gb * GIB)
			    == -1)
				goto cfg_fail;
			m->eph = 1;
		}
		disks[nd++] = (struct domxml_disk){ .path = p.eph,
		    .format = fmt };
	}
	if (s->swap_mb > 0) {
		if ((e = exists(p.swap)) == -1)
			goto cfg_fail;
		if (!e) {
			if (disk_blank_create(p.swap, "raw", s->swap_mb * MIB)
			    == -1)
				goto cfg_fail;
			m->swap = 1;
		}
		disks[nd++] = (struct domxml_disk){ .path = p.swap,
		    .format = "raw" };
	}

	if (cj.path != NULL) {
		if (cfg_join(&cj) == -1)
			return -1;
		m->cfg = 1;
	}
	disks[nd++] = (struct domxml_disk){ .path = p.cfg, .format = "raw",
	    .device = DOMXML_DEVICE_CDROM, .bus = DOMXML_BUS_IDE };

	ds = (struct domxml_spec){
		.uuid = s->uuid,
		.name = s->name,
		.virt = q->kvm ? DOMXML_VIRT_KVM :
		    DOMXML_VIRT_QEMU,
		.vcpus = s->vcpus,
		.memory_mb = s->memory_mb,
		.kernel = have_kernel ? kern.path : NULL,
		.initrd = have_kernel && have_ramdisk ? ramd.path : NULL,
		.cmdline = !have_kernel ? NULL : s->kernel_cmdline &&
		    s->kernel_cmdline[0] ? s->kernel_cmdline :
		    q->kernel_cmdline[0] ? q->kernel_cmdline : NULL,
		.disks = disks,
		.ndisks = nd,
		.nics = s->nnics > 0 ? qn.v : NULL,
		.nnics = s->nnics,
		.volumes = s->nvolumes > 0 ? vols : NULL,
		.nvolumes = s->nvolumes,
		.console_log = p.con,
		.vnc_listen = q->vnc_listen,
		.generation = s->generation,
		.project_id = s->project_id,
		.user_id = s->user_id,
		.flavor_name = s->flavor_name,
		.image_id = bfv ? NULL : s->image_id,
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
cfg_fail:
	/* The disks' error stands; a config drive made meanwhile is the
	 * caller's to undo with them (m->cfg). */
	if (cj.path != NULL) {
		enum ts_errcode code = err_code();
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_msg());
		if (cfg_join(&cj) == 0)
			m->cfg = 1;
		err_set(code, "%s", msg);
	}
	return -1;
}

/* Writes (or touches) the prepared marker: its mtime is the prepare's. */
static int
mark_write(const char *mark)
{
	int fd;

	if ((fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1) {
		err_set_errno(TS_EIO, "driver: %s", mark);
		return -1;
	}
	if (futimens(fd, NULL) == -1 || close(fd) == -1) {
		err_set_errno(TS_EIO, "driver: %s", mark);
		return -1;
	}
	return 0;
}

int
backend_qemu_prepare(struct backend_qemu *q, const struct driver_spec *s,
    int fresh, int *backing)
{
	struct backend_qemu_made m = { 0 };
	struct qpaths p;
	char mark[DISK_PATH_MAX], *xml = NULL;
	int had_dir, marked;

	*backing = 0;
	if (qpaths_fill(q, s->uuid, &p) == -1 ||
	    disk_instance_path(mark, sizeof(mark), q->instances_path, s->uuid,
	    BACKEND_QEMU_PREPARED_NAME) == -1)
		return -1;
	if ((had_dir = exists(p.dir)) == -1 || (marked = exists(mark)) == -1)
		return -1;
	/* What an earlier prepare of a migration that never arrived left:
	 * an incremental copy writes only the guest's clusters, so a disk
	 * holding older writes would mix them in. Made again, empty. */
	if (had_dir && marked && fresh) {
		const char *old[] = { p.root, p.info, p.eph, p.swap, p.cfg };

		for (size_t k = 0; k < sizeof(old) / sizeof(old[0]); k++)
			if (unlink(old[k]) == -1 && errno != ENOENT) {
				err_set_errno(TS_EIO, "driver: %s", old[k]);
				return -1;
			}
		log_info("guest %s: disks of an earlier prepared migration "
		    "made again", s->uuid);
	}
	/* The marker first: an agent that dies mid-way leaves a directory
	 * its leftover scan finds (driver_guest_migrate_leftovers()). */
	if (disk_instance_dir_create(q->instances_path, s->uuid) == -1)
		return -1;
	if (mark_write(mark) == -1) {
		if (!had_dir && disk_instance_dir_remove(q->instances_path,
		    s->uuid) == -1)
			log_err("undoing");
		return -1;
	}
	if (backend_qemu_render(q, s, &m, &xml) == -1) {
		enum ts_errcode code = err_code();
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err_msg());
		m.dir = !had_dir;
		backend_qemu_undo(q, s, &m);
		err_set(code, "%s", msg);
		return -1;
	}
	free(xml);
	*backing = m.root && q->root_mode == DISK_ROOT_OVERLAY;
	return 0;
}

int
backend_qemu_prepared_age(struct backend_qemu *q, const char *uuid,
    int64_t *age_ms)
{
	char mark[DISK_PATH_MAX];
	struct stat st;

	if (disk_instance_path(mark, sizeof(mark), q->instances_path, uuid,
	    BACKEND_QEMU_PREPARED_NAME) == -1)
		return -1;
	if (lstat(mark, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		err_set_errno(TS_EIO, "driver: %s", mark);
		return -1;
	}
	*age_ms = clock_wall_ms() - ((int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000);
	return 1;
}

int
backend_qemu_root_backed(struct backend_qemu *q, const char *uuid,
    const char *image_id)
{
	struct qpaths p;
	char base[DISK_PATH_MAX], backing[DISK_PATH_MAX];
	int e;

	if (image_id == NULL || !uuid_valid(image_id) ||
	    qpaths_fill(q, uuid, &p) == -1)
		return 0;
	if ((e = exists(p.root)) != 1 || strcmp(disk_format_read(q, p.info),
	    "qcow2") != 0)
		return 0;
	snprintf(base, sizeof(base), "%s/%s", q->cache_dir, image_id);
	/* From the header, not qemu-img info: this is on the migration's
	 * critical path. */
	if ((e = disk_backing_file(p.root, backing, sizeof(backing))) ==
	    -1) {
		log_warnx("guest %s: root disk not inspected (%s): copied in "
		    "full", uuid, err_msg());
		return 0;
	}
	return e == 1 && strcmp(backing, base) == 0;
}

void
backend_qemu_paths(const struct backend_qemu *q, const char **instances,
    const char **cache)
{
	*instances = q->instances_path;
	*cache = q->cache_dir;
}

/* The tail of the guest's console log, at most max bytes after
 * sanitizing (which may grow it: cut again from the front, on a character
 * boundary). */
int
backend_qemu_snapshot_copy(struct backend_qemu *q, const char *uuid,
    const char *image_id, char *out, size_t outlen)
{
	struct qpaths p;
	struct disk_info di;
	const char *fmt;
	char name[64];

	if (!uuid_valid(image_id)) {
		err_set(TS_EINVALID, "driver: snapshot image id is not a UUID");
		return -1;
	}
	snprintf(name, sizeof(name), "snapshot-%s", image_id);
	if (qpaths_fill(q, uuid, &p) == -1 ||
	    disk_instance_path(out, outlen, q->instances_path, uuid, name) ==
	    -1)
		return -1;
	if (exists(p.root) != 1) {
		err_set(TS_ENOT_FOUND, "driver: instance %s has no root disk "
		    "here", uuid);
		return -1;
	}
	/* what an earlier attempt (a crash mid-copy) left */
	if (unlink(out) == -1 && errno != ENOENT) {
		err_set_errno(TS_EIO, "driver: %s", out);
		return -1;
	}
	fmt = disk_format_read(q, p.info);
	if (disk_info(p.root, fmt, &di) == -1)
		return -1;
	return disk_snapshot_copy(p.root, fmt, di.virtual_size, out);
}

int
backend_qemu_console(struct backend_qemu *q, const char *uuid, size_t max,
    char **out, size_t *len)
{
	struct qpaths p;
	char *t;
	size_t n, off = 0;

	if (qpaths_fill(q, uuid, &p) == -1)
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

/*
 * Agent restart: every managed domain's disks still use their bases, so
 * the references they hold are added again from the owner records. A
 * base missing from the cache is only logged (the guest keeps running;
 * a rebuild downloads it again).
 */
static void
refs_restore(struct backend_qemu *q, virConnectPtr c)
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
				if (imgcache_ref_add(q->cache, ids[k], uuid) ==
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
	struct backend_qemu *q = arg;
	unsigned every = q->grace / 4;

	if (every < 1)
		every = 1;
	if (every > PRUNE_MAX_INTERVAL)
		every = PRUNE_MAX_INTERVAL;
	pthread_mutex_lock(&q->lock);
	while (!q->stopping) {
		struct timespec ts;
		int n;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += every;
		while (!q->stopping && pthread_cond_timedwait(&q->stop_cond,
		    &q->lock, &ts) != ETIMEDOUT)
			;
		if (q->stopping)
			break;
		pthread_mutex_unlock(&q->lock);
		if ((n = imgcache_prune(q->cache)) == -1)
			log_err("image cache prune");
		else if (n > 0)
			log_info("image cache: %d unused file(s) pruned", n);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static const char *
opt_str(const struct backend_qemu *q, const char *sec, const char *key,
    const char *def)
{
	return q->cfg ? config_get_str(q->cfg, sec, key) : def;
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
setup(struct backend_qemu *q, const struct driver_opts *o)
{
	struct imgcache_opts co = { 0 };
	char dir[IMGCACHE_PATH_MAX];
	const char *url = opt_str(q, "image", "api_url", "");
	const char *cdir = opt_str(q, "image", "cache_dir", "");
	const char *itype = opt_str(q, "libvirt", "images_type", "qcow2");
	const char *cmd = opt_str(q, "libvirt", "kernel_cmdline",
	    "root=/dev/vda console=ttyS0");
	const char *vnc = opt_str(q, "vnc", "server_listen", "127.0.0.1");
	int vnc_on = q->cfg ? config_get_bool(q->cfg, "vnc", "enabled") : 1;
	int64_t grace = q->cfg ? config_get_int(q->cfg, "image",
	    "cache_grace") : IMGCACHE_GRACE_DEFAULT;
	unsigned char a[16];
	int rc;

	if (q->instances_path[0] != '/') {
		err_set(TS_EINVALID, "driver: instances_path '%s' is not "
		    "absolute", q->instances_path);
		return -1;
	}
	if (strcmp(itype, "qcow2") == 0)
		q->root_mode = DISK_ROOT_OVERLAY;
	else if (strcmp(itype, "raw") == 0)
		q->root_mode = DISK_ROOT_RAW_COPY;
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
	q->grace = (unsigned)grace;
	if (o->image_source == NULL) {
		if (url[0] == '\0') {
			err_set(TS_EINVALID, "driver: [image] api_url is needed "
			    "for %s guests", q->name);
			return -1;
		}
		/* checks the URL once, here, rather than at every fetch; the
		 * client is shared by concurrent downloads (each request
		 * carries its own token) */
		if ((q->http = imgcache_http_new(url, opt_str(q, "image",
		    "ca_file", ""), IMAGE_TIMEOUT_MS)) == NULL) {
			err_prefix("[image] api_url: ");
			return -1;
		}
		if (o->host != NULL && o->host[0] != '\0' &&
		    imgcache_http_set_host(q->http, o->host) == -1)
			return -1;
		co.source = (struct imgcache_source){ http_fetch, q };
	} else {
		co.source = *o->image_source;
	}
	if (cdir[0] != '\0')
		rc = snprintf(dir, sizeof(dir), "%s", cdir);
	else
		rc = snprintf(dir, sizeof(dir), "%s/_base", q->instances_path);
	if (rc < 0 || (size_t)rc >= sizeof(dir)) {
		err_set(TS_EINVALID, "driver: image cache path too long");
		return -1;
	}
	if ((q->api_url = strdup(url)) == NULL ||
	    (q->cache_dir = strdup(dir)) == NULL ||
	    (q->kernel_cmdline = strdup(cmd)) == NULL ||
	    (vnc_on && (q->vnc_listen = strdup(vnc)) == NULL)) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return -1;
	}
	co.dir = dir;
	co.grace_sec = q->grace;
	if ((q->cache = imgcache_new(&co)) == NULL)
		return -1;
	log_info("driver: %s guests in %s, image cache %s (%s disks, grace "
	    "%u s), image API %s, VNC %s", q->name, q->instances_path, dir,
	    mode_format(q->root_mode), q->grace,
	    o->image_source ? "(test source)" : q->api_url,
	    q->vnc_listen ? q->vnc_listen : "off");
	return 0;
}

struct backend_qemu *
backend_qemu_new(struct virt *virt, const struct driver_opts *o, int kvm)
{
	struct backend_qemu *q;
	virConnectPtr c;
	int rc;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->stop_cond, NULL);
	q->virt = virt;
	q->kvm = kvm;
	q->name = "qemu";
	q->cfg = o->cfg;
	if ((q->instances_path = strdup(o->instances_path)) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		backend_qemu_free(&q);
		return NULL;
	}
	if (setup(q, o) == -1 || (c = virt_conn(q->virt)) == NULL) {
		backend_qemu_free(&q);
		return NULL;
	}
	refs_restore(q, c);
	virConnectClose(c);
	if ((rc = pthread_create(&q->pruner, NULL, pruner, q)) != 0) {
		errno = rc;
		err_set_errno(TS_EINTERNAL, "driver: pruner thread");
		backend_qemu_free(&q);
		return NULL;
	}
	q->pruner_started = 1;
	return q;
}

void
backend_qemu_free(struct backend_qemu **qp)
{
	struct backend_qemu *q = *qp;

	if (q == NULL)
		return;
	if (q->pruner_started) {
		pthread_mutex_lock(&q->lock);
		q->stopping = 1;
		pthread_cond_broadcast(&q->stop_cond);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->pruner, NULL);
	}
	imgcache_free(&q->cache);
	imgcache_http_free(&q->http);
	free(q->api_url);
	free(q->cache_dir);
	free(q->kernel_cmdline);
	free(q->vnc_listen);
	free(q->instances_path);
	pthread_cond_destroy(&q->stop_cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
	*qp = NULL;
}

void
backend_qemu_forget(struct backend_qemu *q, const char *uuid)
{
	char qlog[512];

	imgcache_release_owner(q->cache, uuid);
	if (strcmp(virt_uri(q->virt), QEMU_SYSTEM_URI) == 0) {
		/* libvirt keeps the qemu log of an undefined domain for ever
		 * (Nova leaves it too); the issue asks for nothing left. The
		 * name is ours: "instance-" + a validated UUID. */
		snprintf(qlog, sizeof(qlog), "%s/%s%s.log", QEMU_LOG_DIR,
		    DRIVER_NAME_PREFIX, uuid);
		if (unlink(qlog) == -1 && errno != ENOENT)
			log_warn("removing %s", qlog);
	}
}

int
backend_qemu_resize(struct backend_qemu *q, const char *uuid, int mode,
    uint64_t root_gb)
{
	struct qpaths p;
	struct disk_info di;
	char keep[DISK_PATH_MAX];
	const char *fmt;
	int e, k;

	if (qpaths_fill(q, uuid, &p) == -1 ||
	    disk_instance_path(keep, sizeof(keep), q->instances_path, uuid,
	    "disk.resize") == -1)
		return -1;
	if ((k = exists(keep)) == -1)
		return -1;
	if (mode == 0 || mode == 3) {
		if (!k)
			return 0;
		if (mode == 0 ? unlink(keep) == -1 : rename(keep, p.root) ==
		    -1) {
			err_set_errno(TS_EIO, "driver: %s", keep);
			return -1;
		}
		log_info("guest %s: root disk %s", uuid, mode == 0 ?
		    "copy of the resize dropped (confirmed)" :
		    "put back from its copy (resize reverted)");
		return 0;
	}
	if ((e = exists(p.root)) != 1)
		return e;	/* no root disk: boots from a volume */
	fmt = disk_format_read(q, p.info);
	if (disk_info(p.root, fmt, &di) == -1)
		return -1;
	if (!k && disk_copy(p.root, keep, di.actual_size > di.virtual_size ?
	    di.actual_size : di.virtual_size) == -1)
		return -1;
	if (root_gb > 0 && root_gb * GIB > di.virtual_size &&
	    disk_grow(p.root, fmt, root_gb * GIB) == -1) {
		if (rename(keep, p.root) == -1)
			log_warnx("guest %s: %s not put back: %s", uuid, keep,
			    strerror(errno));
		return -1;
	}
	log_info("guest %s: root disk resized to %llu GiB (the old one kept "
	    "for a revert)", uuid, (unsigned long long)root_gb);
	return 0;
}
