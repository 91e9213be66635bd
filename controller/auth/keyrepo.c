/* keyrepo: token key repository; see keyrepo.h for layout and semantics. */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "keyrepo.h"
#include "log.h"

/* So that a promotion (max + 1) never wraps a uint32_t index. */
#define MAX_INDEX	(UINT32_MAX - 1)
/* A key file is 44 base64 characters and a newline; anything much larger is
 * not a key file. */
#define KEYFILE_MAX	128
#define KEY_B64_LEN	sodium_base64_ENCODED_LEN(KEYREPO_KEY_LEN, \
			    sodium_base64_VARIANT_URLSAFE)
#define TMP_PREFIX	".tmp."

/* Immutable once published; ids (file indexes) ascending, so ids[n - 1] is
 * the primary. kids are the key ids tokens carry. */
struct keyset {
	size_t		n;
	uint32_t	ids[KEYREPO_MAX_KEYS];
	uint32_t	kids[KEYREPO_MAX_KEYS];
	uint8_t		keys[KEYREPO_MAX_KEYS][KEYREPO_KEY_LEN];
};

static const char kid_context[] = "tinystack token key id v1";

struct keyrepo {
	char			*dir;
	/* Readers copy a key out under the read side; reload swaps `set`
	 * under the write side. Writer-preferring so a reload is not starved
	 * by a steady stream of validations. */
	pthread_rwlock_t	 lock;
	struct keyset		*set;
};

static int
crypto_ready(void)
{
	if (sodium_init() < 0) {
		err_set(TS_EINTERNAL, "keyrepo: libsodium failed to initialize");
		return -1;
	}
	return 0;
}

/* Canonical decimal only ("0", "17"; not "007", "+1", "1 "), so that one
 * index has exactly one file name. */
static int
parse_index(const char *name, uint32_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (name[0] == '\0' || (name[0] == '0' && name[1] != '\0'))
		return -1;
	for (p = name; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > MAX_INDEX)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Open dir and refuse one that others could plant keys in. */
static int
open_dir(const char *dir)
{
	struct stat st;
	int dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		if (errno == ENOENT)
			err_set(TS_ECONFIG, "key repository %s does not exist; "
			    "run `tinystack-manage token setup`", dir);
		else
			err_set_errno(TS_ECONFIG, "key repository %s", dir);
		return -1;
	}
	if (fstat(dfd, &st) == -1) {
		err_set_errno(TS_EIO, "key repository %s: fstat", dir);
		close(dfd);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		err_set(TS_ECONFIG, "key repository %s is writable by group or "
		    "others (mode %04o); chmod 700 it", dir,
		    (unsigned)(st.st_mode & 07777));
		close(dfd);
		return -1;
	}
	return dfd;
}

/*
 * List the key indexes of the directory, ascending. With cleanup, also
 * remove temp files left by an interrupted write (only under the flock).
 */
static int
scan(int dfd, const char *dir, bool cleanup, uint32_t *ids, size_t *np)
{
	struct dirent *de;
	DIR *d;
	size_t n = 0;
	uint32_t id;
	int nfd;

	if ((nfd = dup(dfd)) == -1) {
		err_set_errno(TS_EIO, "key repository %s: dup", dir);
		return -1;
	}
	if ((d = fdopendir(nfd)) == NULL) {
		err_set_errno(TS_EIO, "key repository %s: opendir", dir);
		close(nfd);
		return -1;
	}
	rewinddir(d);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (cleanup && strncmp(de->d_name, TMP_PREFIX,
		    strlen(TMP_PREFIX)) == 0) {
			if (unlinkat(dfd, de->d_name, 0) == -1)
				log_warn("keyrepo: %s/%s: unlink", dir,
				    de->d_name);
			continue;
		}
		if (parse_index(de->d_name, &id) == -1)
			continue;
		if (n == KEYREPO_MAX_KEYS) {
			err_set(TS_ECONFIG, "key repository %s has more than %d "
			    "keys", dir, KEYREPO_MAX_KEYS);
			closedir(d);
			return -1;
		}
		ids[n++] = id;
		errno = 0;
	}
	if (errno != 0) {
		err_set_errno(TS_EIO, "key repository %s: readdir", dir);
		closedir(d);
		return -1;
	}
	closedir(d);
	qsort(ids, n, sizeof(ids[0]), cmp_u32);
	*np = n;
	return 0;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write a fresh random key as dir/name: temp file, fsync, rename. The
 * caller fsyncs the directory once it is done with all its renames. */
static int
write_key(int dfd, const char *dir, const char *name)
{
	uint8_t key[KEYREPO_KEY_LEN];
	char b64[KEY_B64_LEN + 1], tmp[32];
	size_t len;
	int fd;

	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%08x", randombytes_random());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		err_set_errno(TS_EIO, "key repository %s: create %s", dir, tmp);
		return -1;
	}
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, KEY_B64_LEN, key, sizeof(key),
	    sodium_base64_VARIANT_URLSAFE);
	sodium_memzero(key, sizeof(key));
	len = strlen(b64);
	b64[len++] = '\n';
	if (write_all(fd, b64, len) == -1 || fsync(fd) == -1) {
		err_set_errno(TS_EIO, "key repository %s: write %s", dir, tmp);
		sodium_memzero(b64, sizeof(b64));
		close(fd);
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	sodium_memzero(b64, sizeof(b64));
	if (close(fd) == -1) {
		err_set_errno(TS_EIO, "key repository %s: close %s", dir, tmp);
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	if (renameat(dfd, tmp, dfd, name) == -1) {
		err_set_errno(TS_EIO, "key repository %s: rename %s to %s",
		    dir, tmp, name);
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	return 0;
}

static int
sync_dir(int dfd, const char *dir)
{
	if (fsync(dfd) == -1) {
		err_set_errno(TS_EIO, "key repository %s: fsync", dir);
		return -1;
	}
	return 0;
}

/* Called with the flock held and ids/n freshly scanned (n > 0). */
static int
rotate_locked(int dfd, const char *dir, unsigned max_active, uint32_t *ids,
    size_t n)
{
	char from[16], to[16];
	uint32_t newid;
	size_t i, first;

	if (ids[0] == 0) {
		if (ids[n - 1] == MAX_INDEX) {
			err_set(TS_ECONFIG, "key repository %s: key index "
			    "space exhausted", dir);
			return -1;
		}
		newid = ids[n - 1] + 1;
		snprintf(from, sizeof(from), "0");
		snprintf(to, sizeof(to), "%u", newid);
		if (renameat(dfd, from, dfd, to) == -1) {
			err_set_errno(TS_EIO, "key repository %s: rename 0 to "
			    "%s", dir, to);
			return -1;
		}
		log_info("keyrepo: %s: promoted staged key 0 to primary %u",
		    dir, newid);
		memmove(ids, ids + 1, (n - 1) * sizeof(ids[0]));
		ids[n - 1] = newid;
	} else {
		/* A rotation stopped between the promotion and writing the
		 * new staged key: the promotion is done, finish the rest. */
		log_info("keyrepo: %s: no staged key; writing it", dir);
	}
	if (write_key(dfd, dir, "0") == -1)
		return -1;

	/* ids now holds only non-staged keys, ascending: keep the newest
	 * max_active - 1 of them next to the staged key. */
	first = n > max_active - 1 ? n - (max_active - 1) : 0;
	for (i = 0; i < first; i++) {
		snprintf(to, sizeof(to), "%u", ids[i]);
		if (unlinkat(dfd, to, 0) == -1) {
			err_set_errno(TS_EIO, "key repository %s: remove key "
			    "%s", dir, to);
			return -1;
		}
		log_info("keyrepo: %s: removed excess key %s", dir, to);
	}
	return sync_dir(dfd, dir);
}

static int
check_max_active(unsigned max_active)
{
	if (max_active < 2 || max_active > KEYREPO_MAX_KEYS) {
		err_set(TS_EINVALID, "keyrepo: max_active_keys must be 2..%d, "
		    "not %u", KEYREPO_MAX_KEYS, max_active);
		return -1;
	}
	return 0;
}

/* LOCK_EX for setup and rotate; LOCK_SH for load, so a load never sees a
 * rotation half done (no staged key yet, or a key about to be pruned). */
static int
lock_dir(int dfd, const char *dir, int op)
{
	while (flock(dfd, op) == -1) {
		if (errno != EINTR) {
			err_set_errno(TS_EIO, "key repository %s: flock", dir);
			return -1;
		}
	}
	return 0;
}

int
keyrepo_setup(const char *dir, unsigned max_active)
{
	uint32_t ids[KEYREPO_MAX_KEYS];
	size_t n;
	int dfd, rc = -1;

	if (check_max_active(max_active) == -1 || crypto_ready() == -1)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		err_set_errno(TS_EIO, "key repository %s: mkdir", dir);
		return -1;
	}
	if ((dfd = open_dir(dir)) == -1)
		return -1;
	if (lock_dir(dfd, dir, LOCK_EX) == -1 ||
	    scan(dfd, dir, true, ids, &n) == -1)
		goto out;
	if (n > 0) {
		log_info("keyrepo: %s already holds %zu key(s); left as is",
		    dir, n);
		rc = 0;
		goto out;
	}
	if (write_key(dfd, dir, "0") == -1)
		goto out;
	ids[0] = 0;
	rc = rotate_locked(dfd, dir, max_active, ids, 1);
out:
	close(dfd);	/* releases the flock */
	return rc;
}

int
keyrepo_rotate(const char *dir, unsigned max_active)
{
	uint32_t ids[KEYREPO_MAX_KEYS];
	size_t n;
	int dfd, rc = -1;

	if (check_max_active(max_active) == -1 || crypto_ready() == -1)
		return -1;
	if ((dfd = open_dir(dir)) == -1)
		return -1;
	if (lock_dir(dfd, dir, LOCK_EX) == -1 ||
	    scan(dfd, dir, true, ids, &n) == -1)
		goto out;
	if (n == 0) {
		err_set(TS_ECONFIG, "key repository %s has no keys; run "
		    "`tinystack-manage token setup` first", dir);
		goto out;
	}
	rc = rotate_locked(dfd, dir, max_active, ids, n);
out:
	close(dfd);
	return rc;
}

/* Read and decode one key file into out. */
static int
read_key(int dfd, const char *dir, uint32_t id, uint8_t out[KEYREPO_KEY_LEN])
{
	char name[16], buf[KEYFILE_MAX + 1];
	const char *end;
	struct stat st;
	size_t len = 0, binlen;
	ssize_t r;
	int fd, rc = -1;

	snprintf(name, sizeof(name), "%u", id);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ELOOP)
			err_set(TS_ECONFIG, "key file %s/%s is a symbolic link; "
			    "key files must be regular files", dir, name);
		else
			err_set_errno(TS_ECONFIG, "key file %s/%s", dir, name);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		err_set_errno(TS_EIO, "key file %s/%s: fstat", dir, name);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(TS_ECONFIG, "key file %s/%s is not a regular file",
		    dir, name);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		err_set(TS_ECONFIG, "key file %s/%s is accessible by group or "
		    "others (mode %04o); chmod 600 it", dir, name,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			err_set_errno(TS_EIO, "key file %s/%s: read", dir, name);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > KEYFILE_MAX ||
	    sodium_base642bin(out, KEYREPO_KEY_LEN, buf, len, "\r\n", &binlen,
	    &end, sodium_base64_VARIANT_URLSAFE) != 0 ||
	    end != buf + len || binlen != KEYREPO_KEY_LEN) {
		err_set(TS_ECONFIG, "key file %s/%s is not a 32-byte key in "
		    "URL-safe base64", dir, name);
		sodium_memzero(out, KEYREPO_KEY_LEN);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* The fingerprint a token carries to name its key; see keyrepo.h. */
static uint32_t
key_id(const uint8_t key[KEYREPO_KEY_LEN])
{
	uint8_t h[crypto_generichash_BYTES_MIN];

	crypto_generichash(h, sizeof(h), (const uint8_t *)kid_context,
	    sizeof(kid_context) - 1, key, KEYREPO_KEY_LEN);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
}

static void
keyset_free(struct keyset *set)
{
	if (set != NULL)
		sodium_free(set);	/* wipes */
}

static struct keyset *
keyset_load(const char *dir)
{
	struct keyset *set;
	size_t i;
	int dfd;

	if (crypto_ready() == -1)
		return NULL;
	if ((dfd = open_dir(dir)) == -1)
		return NULL;
	if ((set = sodium_malloc(sizeof(*set))) == NULL) {
		err_set(TS_ENOMEM, "keyrepo: out of memory");
		close(dfd);
		return NULL;
	}
	memset(set, 0, sizeof(*set));
	if (lock_dir(dfd, dir, LOCK_SH) == -1 ||
	    scan(dfd, dir, false, set->ids, &set->n) == -1)
		goto fail;
	if (set->n == 0) {
		err_set(TS_ECONFIG, "key repository %s has no keys; run "
		    "`tinystack-manage token setup`", dir);
		goto fail;
	}
	for (i = 0; i < set->n; i++) {
		if (read_key(dfd, dir, set->ids[i], set->keys[i]) == -1)
			goto fail;
		set->kids[i] = key_id(set->keys[i]);
	}
	close(dfd);
	sodium_mprotect_readonly(set);
	return set;
fail:
	close(dfd);
	keyset_free(set);
	return NULL;
}

struct keyrepo *
keyrepo_load(const char *dir)
{
	pthread_rwlockattr_t attr;
	struct keyrepo *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->dir = strdup(dir)) == NULL) {
		err_set(TS_ENOMEM, "keyrepo: out of memory");
		free(r);
		return NULL;
	}
	if ((r->set = keyset_load(dir)) == NULL) {
		free(r->dir);
		free(r);
		return NULL;
	}
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return r;
}

int
keyrepo_reload(struct keyrepo *r)
{
	struct keyset *set, *old;

	if ((set = keyset_load(r->dir)) == NULL)
		return -1;
	pthread_rwlock_wrlock(&r->lock);
	old = r->set;
	r->set = set;
	pthread_rwlock_unlock(&r->lock);
	/* Readers never keep a pointer into a set past their read lock. */
	keyset_free(old);
	return 0;
}

void
keyrepo_free(struct keyrepo **rp)
{
	struct keyrepo *r;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	pthread_rwlock_destroy(&r->lock);
	keyset_free(r->set);
	free(r->dir);
	free(r);
	*rp = NULL;
}

/* The lock is the one mutable part of a logically const repository. */
static pthread_rwlock_t *
lockp(const struct keyrepo *r)
{
	return (pthread_rwlock_t *)&r->lock;
}

uint32_t
keyrepo_primary_index(const struct keyrepo *r)
{
	uint32_t id;

	pthread_rwlock_rdlock(lockp(r));
	id = r->set->ids[r->set->n - 1];
	pthread_rwlock_unlock(lockp(r));
	return id;
}

size_t
keyrepo_count(const struct keyrepo *r)
{
	size_t n;

	pthread_rwlock_rdlock(lockp(r));
	n = r->set->n;
	pthread_rwlock_unlock(lockp(r));
	return n;
}

void
keyrepo_primary_copy(const struct keyrepo *r, uint32_t *kid,
    uint8_t out[KEYREPO_KEY_LEN])
{
	const struct keyset *set;

	pthread_rwlock_rdlock(lockp(r));
	set = r->set;
	*kid = set->kids[set->n - 1];
	memcpy(out, set->keys[set->n - 1], KEYREPO_KEY_LEN);
	pthread_rwlock_unlock(lockp(r));
}

int
keyrepo_key_copy(const struct keyrepo *r, uint32_t kid, unsigned nth,
    uint8_t out[KEYREPO_KEY_LEN])
{
	const struct keyset *set;
	size_t i;
	int rc = -1;

	pthread_rwlock_rdlock(lockp(r));
	set = r->set;
	for (i = 0; i < set->n; i++) {
		if (set->kids[i] == kid && nth-- == 0) {
			memcpy(out, set->keys[i], KEYREPO_KEY_LEN);
			rc = 0;
			break;
		}
	}
	pthread_rwlock_unlock(lockp(r));
	if (rc == -1)
		err_set(TS_EUNAUTHORIZED, "token: sealed under an unknown key "
		    "(rotated out, or from another repository)");
	return rc;
}
