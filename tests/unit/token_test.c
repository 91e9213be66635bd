/* Unit tests for controller/keyrepo.c and controller/token.c: the key
 * repository on disk, sealed tokens, rotation, revocation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "err.h"
#include "auth/keyrepo.h"
#include "auth/token.h"

#define NOW	((time_t)1700000000)
#define NOW_MS	((uint64_t)NOW * 1000u)
#define HOUR	3600u

struct fx {
	char	base[64];
	char	keys[128];
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "%s/ts-token-XXXXXX",
	    tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->keys, sizeof(f->keys), "%s/keys", f->base);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->base, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
key_path(const struct fx *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->keys, name);
}

static int
exists(const struct fx *f, const char *name)
{
	char p[256];

	key_path(f, name, p, sizeof(p));
	return access(p, F_OK) == 0;
}

static void
read_file(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void
id_from(uint8_t id[TOKEN_ID_LEN], uint8_t seed)
{
	int i;

	for (i = 0; i < TOKEN_ID_LEN; i++)
		id[i] = (uint8_t)(seed + i * 7 + 1);
}

/* A project-scoped password token for user `u` on project `proj`. */
static void
payload(struct token_payload *p, uint8_t u, uint8_t proj, uint64_t now_ms,
    unsigned life)
{
	uint8_t user[TOKEN_ID_LEN], scope[TOKEN_ID_LEN];

	id_from(user, u);
	id_from(scope, proj);
	token_payload_init(p, TOKEN_METHOD_PASSWORD, user, TOKEN_SCOPE_PROJECT,
	    scope, now_ms, life);
}

static struct keyrepo *
fresh_repo(const struct fx *f, unsigned max_active)
{
	struct keyrepo *r;

	assert_int_equal(keyrepo_setup(f->keys, max_active), 0);
	r = keyrepo_load(f->keys);
	assert_non_null(r);
	return r;
}

static void
assert_rejected(const struct keyrepo *r, const char *tok, time_t now,
    const char *why)
{
	struct token_payload out;

	err_clear();
	assert_int_equal(token_validate(r, tok, now, &out), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	if (why != NULL && strstr(err_msg(), why) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", why, err_msg());
	/* Nothing of a rejected token leaks out. */
	assert_true(sodium_is_zero((const uint8_t *)&out, sizeof(out)));
}

/* ---- key repository ----------------------------------------------------- */

static void
test_setup_creates_staged_and_primary(void **state)
{
	struct fx *f = *state;
	char p[256], buf[256];
	struct keyrepo *r;
	struct stat st;

	assert_int_equal(keyrepo_setup(f->keys, 3), 0);
	assert_int_equal(stat(f->keys, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_true(exists(f, "0"));
	assert_true(exists(f, "1"));
	assert_false(exists(f, "2"));
	key_path(f, "1", p, sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* 32 bytes of URL-safe base64 with padding, and a newline. */
	read_file(p, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 45);
	assert_int_equal(buf[43], '=');
	assert_int_equal(buf[44], '\n');
	assert_int_equal(strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789-_"), 43);

	r = keyrepo_load(f->keys);
	assert_non_null(r);
	assert_int_equal(keyrepo_count(r), 2);
	assert_int_equal(keyrepo_primary_index(r), 1);
	keyrepo_free(&r);
	assert_null(r);
	keyrepo_free(&r);	/* NULL is fine */
}

static void
test_setup_leaves_existing_keys(void **state)
{
	struct fx *f = *state;
	char p[256], before[256], after[256];

	assert_int_equal(keyrepo_setup(f->keys, 3), 0);
	key_path(f, "1", p, sizeof(p));
	read_file(p, before, sizeof(before));
	assert_int_equal(keyrepo_setup(f->keys, 3), 0);
	read_file(p, after, sizeof(after));
	assert_string_equal(before, after);
	assert_false(exists(f, "2"));
}

static void
test_max_active_bounds(void **state)
{
	struct fx *f = *state;

	err_clear();
	assert_int_equal(keyrepo_setup(f->keys, 1), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(keyrepo_setup(f->keys, KEYREPO_MAX_KEYS + 1), -1);
	assert_int_equal(keyrepo_setup(f->keys, 2), 0);
	assert_int_equal(keyrepo_rotate(f->keys, 0), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

static void
expect_load_refused(const struct fx *f, const char *why)
{
	err_clear();
	assert_null(keyrepo_load(f->keys));
	assert_int_equal(err_code(), TS_ECONFIG);
	if (strstr(err_msg(), why) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", why, err_msg());
}

static void
test_load_refuses_exposed_or_bad_keys(void **state)
{
	struct fx *f = *state;
	char p[256], q[256];
	int fd;

	expect_load_refused(f, "does not exist");
	assert_int_equal(mkdir(f->keys, 0700), 0);
	expect_load_refused(f, "no keys");
	assert_int_equal(keyrepo_setup(f->keys, 3), 0);

	key_path(f, "1", p, sizeof(p));
	assert_int_equal(chmod(p, 0640), 0);
	expect_load_refused(f, "chmod 600");
	assert_int_equal(chmod(p, 0604), 0);
	expect_load_refused(f, "group or others");
	assert_int_equal(chmod(p, 0600), 0);

	assert_int_equal(chmod(f->keys, 0770), 0);
	expect_load_refused(f, "chmod 700");
	assert_int_equal(chmod(f->keys, 0700), 0);

	/* A symlink planted as a key is not followed. */
	key_path(f, "5", q, sizeof(q));
	assert_int_equal(symlink(p, q), 0);
	expect_load_refused(f, "symbolic link");
	assert_int_equal(unlink(q), 0);

	/* Not a 32-byte key. */
	fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "c2hvcnQ=\n", 9), 9);
	close(fd);
	expect_load_refused(f, "32-byte key");
	assert_int_equal(unlink(q), 0);

	/* Names that are not canonical indexes are ignored. */
	key_path(f, "07", q, sizeof(q));
	fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	struct keyrepo *r = keyrepo_load(f->keys);
	assert_non_null(r);
	assert_int_equal(keyrepo_count(r), 2);
	keyrepo_free(&r);
}

/* ---- tokens ------------------------------------------------------------- */

static void
test_roundtrip_every_scope(void **state)
{
	static const enum token_scope scopes[] = { TOKEN_SCOPE_UNSCOPED,
	    TOKEN_SCOPE_PROJECT, TOKEN_SCOPE_DOMAIN, TOKEN_SCOPE_SYSTEM };
	struct fx *f = *state;
	struct keyrepo *r = fresh_repo(f, 3);
	struct token_payload in, out;
	uint8_t user[TOKEN_ID_LEN], scope[TOKEN_ID_LEN];
	char tok[TOKEN_BUFSZ];
	size_t i;

	id_from(user, 1);
	id_from(scope, 2);
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		token_payload_init(&in, TOKEN_METHOD_PASSWORD, user, scopes[i],
		    scope, NOW_MS + 123, HOUR);
		assert_int_equal(token_issue(r, &in, tok, sizeof(tok)), 0);
		assert_int_equal(strlen(tok), TOKEN_LEN);
		assert_true(strlen(tok) < 255);
		assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh"
		    "ijklmnopqrstuvwxyz0123456789-_"), TOKEN_LEN);
		assert_int_equal(token_validate(r, tok, NOW, &out), 0);
		assert_int_equal(out.scope_type, scopes[i]);
		assert_int_equal(out.methods, TOKEN_METHOD_PASSWORD);
		assert_memory_equal(out.user_id, user, TOKEN_ID_LEN);
		if (scopes[i] == TOKEN_SCOPE_PROJECT ||
		    scopes[i] == TOKEN_SCOPE_DOMAIN)
			assert_memory_equal(out.scope_id, scope, TOKEN_ID_LEN);
		else
			assert_true(sodium_is_zero(out.scope_id, TOKEN_ID_LEN));
		assert_int_equal(out.issued_at_ms, NOW_MS + 123);
		assert_int_equal(out.expires_at_ms, NOW_MS + 123 + HOUR * 1000);
		assert_memory_equal(out.audit_id, in.audit_id, TOKEN_ID_LEN);
		assert_false(out.has_parent);
		assert_true(sodium_is_zero(out.parent_audit_id, TOKEN_ID_LEN));
	}
	/* Two tokens of the same payload differ (random nonce). */
	{
		char tok2[TOKEN_BUFSZ];

		assert_int_equal(token_issue(r, &in, tok2, sizeof(tok2)), 0);
		assert_string_not_equal(tok, tok2);
	}
	keyrepo_free(&r);
}

static void
test_issue_rejects_bad_payloads(void **state)
{
	struct fx *f = *state;
	struct keyrepo *r = fresh_repo(f, 3);
	struct token_payload p, bad;
	char tok[TOKEN_BUFSZ];

	payload(&p, 1, 2, NOW_MS, HOUR);
	err_clear();
	assert_int_equal(token_issue(r, &p, tok, TOKEN_BUFSZ - 1), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	bad = p; bad.methods = 0;
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; bad.methods = 0x04;
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; bad.scope_type = (enum token_scope)9;
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; memset(bad.scope_id, 0, TOKEN_ID_LEN);
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; bad.scope_type = TOKEN_SCOPE_SYSTEM;	/* keeps a scope id */
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; memset(bad.user_id, 0, TOKEN_ID_LEN);
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; memset(bad.audit_id, 0, TOKEN_ID_LEN);
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; bad.has_parent = true;
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; bad.parent_audit_id[3] = 1;
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	bad = p; bad.expires_at_ms = bad.issued_at_ms;
	assert_int_equal(token_issue(r, &bad, tok, sizeof(tok)), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(token_issue(r, &p, tok, sizeof(tok)), 0);
	keyrepo_free(&r);
}

static void
test_tamper_any_character_is_rejected(void **state)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno"
	    "pqrstuvwxyz0123456789-_";
	struct fx *f = *state;
	struct keyrepo *r = fresh_repo(f, 3);
	struct token_payload p, out;
	char tok[TOKEN_BUFSZ], t2[TOKEN_BUFSZ];
	size_t i, k;

	payload(&p, 1, 2, NOW_MS, HOUR);
	assert_int_equal(token_issue(r, &p, tok, sizeof(tok)), 0);
	assert_int_equal(token_validate(r, tok, NOW, &out), 0);
	for (i = 0; i < TOKEN_LEN; i++) {
		/* Six substitutions per position (alphabet offsets 1, 2, 4,
		 * ..., 32), all of them valid base64. */
		for (k = 1; k <= 32; k *= 2) {
			memcpy(t2, tok, sizeof(t2));
			t2[i] = alpha[(strchr(alpha, tok[i]) - alpha + k) % 64];
			assert_rejected(r, t2, NOW, NULL);
		}
		memcpy(t2, tok, sizeof(t2));
		t2[i] = '+';	/* standard, not URL-safe, base64 */
		assert_rejected(r, t2, NOW, "malformed");
	}
	keyrepo_free(&r);
}

static void
test_malformed_strings_are_rejected(void **state)
{
	struct fx *f = *state;
	struct keyrepo *r = fresh_repo(f, 3);
	struct token_payload p;
	char tok[TOKEN_BUFSZ], t2[2 * TOKEN_BUFSZ];
	uint8_t raw[129];
	size_t binlen;

	payload(&p, 1, 2, NOW_MS, HOUR);
	assert_int_equal(token_issue(r, &p, tok, sizeof(tok)), 0);

	assert_rejected(r, "", NOW, "malformed");
	assert_rejected(r, NULL, NOW, "malformed");
	snprintf(t2, sizeof(t2), "%.*s", TOKEN_LEN - 1, tok);
	assert_rejected(r, t2, NOW, "malformed");
	snprintf(t2, sizeof(t2), "%sA", tok);
	assert_rejected(r, t2, NOW, "malformed");
	snprintf(t2, sizeof(t2), "%s=", tok);
	assert_rejected(r, t2, NOW, "malformed");
	snprintf(t2, sizeof(t2), " %.*s", TOKEN_LEN - 1, tok);
	assert_rejected(r, t2, NOW, "malformed");

	/* Right shape, unknown format byte. */
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), tok, TOKEN_LEN,
	    NULL, &binlen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	raw[0] = 2;
	sodium_bin2base64(t2, sizeof(t2), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_rejected(r, t2, NOW, "unknown format");
	/* Another key id: unknown key. */
	raw[0] = 1;
	raw[1] ^= 0x80;
	sodium_bin2base64(t2, sizeof(t2), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_rejected(r, t2, NOW, "unknown key");
	keyrepo_free(&r);
}

static void
test_expiry(void **state)
{
	struct fx *f = *state;
	struct keyrepo *r = fresh_repo(f, 3);
	struct token_payload p, out;
	char tok[TOKEN_BUFSZ];

	payload(&p, 1, 2, NOW_MS, 60);
	assert_int_equal(token_issue(r, &p, tok, sizeof(tok)), 0);
	assert_int_equal(token_validate(r, tok, NOW + 59, &out), 0);
	assert_rejected(r, tok, NOW + 60, "expired");
	assert_rejected(r, tok, NOW + 86400, "expired");
	keyrepo_free(&r);
}

static void
test_other_repository_is_rejected(void **state)
{
	struct fx *f = *state;
	struct keyrepo *r = fresh_repo(f, 3), *other;
	struct token_payload p;
	char tok[TOKEN_BUFSZ], dir2[256];

	snprintf(dir2, sizeof(dir2), "%s/keys2", f->base);
	assert_int_equal(keyrepo_setup(dir2, 3), 0);
	other = keyrepo_load(dir2);
	assert_non_null(other);
	payload(&p, 1, 2, NOW_MS, HOUR);
	assert_int_equal(token_issue(r, &p, tok, sizeof(tok)), 0);
	assert_rejected(other, tok, NOW, "unknown key");
	keyrepo_free(&other);
	keyrepo_free(&r);
}

static void
test_rotation_lifecycle(void **state)
{
	struct fx *f = *state;
	struct keyrepo *r = fresh_repo(f, 3);
	struct token_payload p, out;
	char old[TOKEN_BUFSZ], tok[TOKEN_BUFSZ], p0[256], p2[256];
	char staged[256], promoted[256];
	int i;

	payload(&p, 1, 2, NOW_MS, HOUR);
	assert_int_equal(token_issue(r, &p, old, sizeof(old)), 0);

	/* Rotation 1: 0 becomes 2 (same key), a new 0 is staged, 1 stays. */
	key_path(f, "0", p0, sizeof(p0));
	read_file(p0, staged, sizeof(staged));
	assert_int_equal(keyrepo_rotate(f->keys, 3), 0);
	key_path(f, "2", p2, sizeof(p2));
	read_file(p2, promoted, sizeof(promoted));
	assert_string_equal(staged, promoted);
	assert_true(exists(f, "0") && exists(f, "1") && exists(f, "2"));
	assert_int_equal(keyrepo_reload(r), 0);
	assert_int_equal(keyrepo_primary_index(r), 2);
	assert_int_equal(keyrepo_count(r), 3);
	assert_int_equal(token_validate(r, old, NOW, &out), 0);
	assert_int_equal(token_issue(r, &p, tok, sizeof(tok)), 0);
	assert_int_equal(token_validate(r, tok, NOW, &out), 0);

	/* Rotation 2 prunes key 1: the old token is dead, the newer lives. */
	assert_int_equal(keyrepo_rotate(f->keys, 3), 0);
	assert_false(exists(f, "1"));
	assert_true(exists(f, "0") && exists(f, "2") && exists(f, "3"));
	assert_int_equal(keyrepo_reload(r), 0);
	assert_rejected(r, old, NOW, "unknown key");
	assert_int_equal(token_validate(r, tok, NOW, &out), 0);

	/* After max_active rotations in all, nothing from before survives. */
	assert_int_equal(keyrepo_rotate(f->keys, 3), 0);
	assert_int_equal(keyrepo_reload(r), 0);
	assert_rejected(r, old, NOW, "unknown key");
	assert_rejected(r, tok, NOW, "unknown key");
	assert_int_equal(keyrepo_count(r), 3);
	assert_int_equal(keyrepo_primary_index(r), 4);

	/* A larger max_active keeps more; a smaller one prunes at once. */
	for (i = 0; i < 5; i++)
		assert_int_equal(keyrepo_rotate(f->keys, 6), 0);
	assert_int_equal(keyrepo_reload(r), 0);
	assert_int_equal(keyrepo_count(r), 6);
	assert_int_equal(keyrepo_rotate(f->keys, 2), 0);
	assert_int_equal(keyrepo_reload(r), 0);
	assert_int_equal(keyrepo_count(r), 2);
	assert_int_equal(keyrepo_primary_index(r), 10);
	keyrepo_free(&r);
}

static void
test_staged_key_validates_before_reload(void **state)
{
	struct fx *f = *state;
	struct keyrepo *before = fresh_repo(f, 3), *after;
	struct token_payload p, out;
	char tok[TOKEN_BUFSZ];

	/* `before` still holds the pre-rotation set: its staged key 0 is
	 * what the rotation promotes, so it accepts the new primary's
	 * tokens — e.g. on a second controller that reloads later. */
	assert_int_equal(keyrepo_rotate(f->keys, 3), 0);
	after = keyrepo_load(f->keys);
	assert_non_null(after);
	payload(&p, 1, 2, NOW_MS, HOUR);
	assert_int_equal(token_issue(after, &p, tok, sizeof(tok)), 0);
	assert_int_equal(token_validate(before, tok, NOW, &out), 0);
	keyrepo_free(&after);
	keyrepo_free(&before);
}

static void
test_interrupted_rotation_is_finished(void **state)
{
	struct fx *f = *state;
	char p0[256], p2[256], tmp[256];
	struct keyrepo *r;
	int fd;

	assert_int_equal(keyrepo_setup(f->keys, 3), 0);
	/* Crash after promoting 0 -> 2, before writing the new 0, with a
	 * half-written temp file left behind. */
	key_path(f, "0", p0, sizeof(p0));
	key_path(f, "2", p2, sizeof(p2));
	assert_int_equal(rename(p0, p2), 0);
	key_path(f, ".tmp.deadbeef", tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* Loading still works (temp files are not keys). */
	r = keyrepo_load(f->keys);
	assert_non_null(r);
	assert_int_equal(keyrepo_primary_index(r), 2);
	keyrepo_free(&r);

	assert_int_equal(keyrepo_rotate(f->keys, 3), 0);
	assert_true(exists(f, "0") && exists(f, "1") && exists(f, "2"));
	assert_false(exists(f, "3"));
	assert_false(exists(f, ".tmp.deadbeef"));
	r = keyrepo_load(f->keys);
	assert_non_null(r);
	assert_int_equal(keyrepo_primary_index(r), 2);
	assert_int_equal(keyrepo_count(r), 3);
	keyrepo_free(&r);

	err_clear();
	assert_int_equal(keyrepo_rotate(f->base, 3), -1);	/* no keys */
	assert_int_equal(err_code(), TS_ECONFIG);
}

struct hammer {
	struct keyrepo	*repo;
	const char	*tok;
	atomic_int	 stop;
	atomic_long	 ok, bad;
	atomic_int	 phase;	/* set by the test after its last reload */
	atomic_int	 after;	/* threads that did a full round since */
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct token_payload out, p;
	char tok[TOKEN_BUFSZ];
	int counted = 0;

	payload(&p, 9, 9, NOW_MS, HOUR);
	while (!atomic_load(&h->stop)) {
		int phase = atomic_load(&h->phase);

		if (token_validate(h->repo, h->tok, NOW, &out) == 0 &&
		    token_issue(h->repo, &p, tok, sizeof(tok)) == 0 &&
		    token_validate(h->repo, tok, NOW, &out) == 0)
			atomic_fetch_add(&h->ok, 1);
		else
			atomic_fetch_add(&h->bad, 1);
		if (phase && !counted) {
			counted = 1;
			atomic_fetch_add(&h->after, 1);
		}
	}
	return NULL;
}

static void
test_reload_while_validating(void **state)
{
	struct fx *f = *state;
	struct hammer h;
	struct token_payload p;
	char tok[TOKEN_BUFSZ];
	pthread_t th[4];
	int i;

	memset(&h, 0, sizeof(h));
	h.repo = fresh_repo(f, 40);
	payload(&p, 1, 2, NOW_MS, HOUR);
	assert_int_equal(token_issue(h.repo, &p, tok, sizeof(tok)), 0);
	h.tok = tok;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h),
		    0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(keyrepo_rotate(f->keys, 40), 0);
		assert_int_equal(keyrepo_reload(h.repo), 0);
	}
	/* A failed reload keeps the working set. */
	assert_int_equal(chmod(f->keys, 0777), 0);
	assert_int_equal(keyrepo_reload(h.repo), -1);
	assert_int_equal(chmod(f->keys, 0700), 0);
	/* The witness for "no validation failed": every thread has done a
	 * whole round that began after the failed reload (bounded wait). */
	atomic_store(&h.phase, 1);
	for (i = 0; i < 10000 && atomic_load(&h.after) < 4; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&h.after), 4);
	atomic_store(&h.stop, 1);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(atomic_load(&h.ok) > 0);
	assert_int_equal(atomic_load(&h.bad), 0);
	assert_int_equal(keyrepo_primary_index(h.repo), 21);
	keyrepo_free(&h.repo);
}

/* ---- payload codec, rescoping, ids -------------------------------------- */

static void
test_payload_codec_is_strict(void **state)
{
	struct token_payload p, out;
	uint8_t buf[TOKEN_PAYLOAD_LEN], b2[TOKEN_PAYLOAD_LEN + 1];

	payload(&p, 1, 2, NOW_MS, HOUR);
	assert_int_equal(token_payload_pack(&p, buf), 0);
	assert_int_equal(token_payload_unpack(buf, sizeof(buf), &out), 0);
	assert_memory_equal(&out.audit_id, &p.audit_id, TOKEN_ID_LEN);
	assert_int_equal(out.expires_at_ms, p.expires_at_ms);

	/* Trailing or missing bytes. */
	memcpy(b2, buf, sizeof(buf));
	b2[TOKEN_PAYLOAD_LEN] = 0;
	assert_int_equal(token_payload_unpack(b2, sizeof(b2), &out), -1);
	assert_int_equal(token_payload_unpack(buf, sizeof(buf) - 1, &out), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
#define MUTATED(off, val) do {						\
	memcpy(b2, buf, sizeof(buf));					\
	b2[off] = (val);						\
	assert_int_equal(token_payload_unpack(b2, TOKEN_PAYLOAD_LEN, &out), \
	    -1);							\
	assert_true(sodium_is_zero((uint8_t *)&out, sizeof(out)));	\
} while (0)
	MUTATED(0, 2);			/* version */
	MUTATED(1, 0);			/* no method */
	MUTATED(1, 0x80);		/* unknown method */
	MUTATED(2, 4);			/* scope type */
	MUTATED(2, TOKEN_SCOPE_UNSCOPED);	/* scope id on unscoped */
	MUTATED(3, 0x02);		/* unknown flag */
	MUTATED(3, 0x01);		/* parent flag, zero parent */
	MUTATED(70, 0x01);		/* parent without the flag */
	MUTATED(36, 0xff);		/* issued after expiry */
#undef MUTATED
}

static void
test_rescope_keeps_chain_and_expiry(void **state)
{
	struct token_payload root, child, grandchild;
	uint8_t proj[TOKEN_ID_LEN];

	payload(&root, 1, 2, NOW_MS, HOUR);
	root.scope_type = TOKEN_SCOPE_UNSCOPED;
	memset(root.scope_id, 0, TOKEN_ID_LEN);
	id_from(proj, 5);
	token_payload_rescope(&root, TOKEN_SCOPE_PROJECT, proj, NOW_MS + 5000,
	    &child);
	assert_int_equal(child.methods, TOKEN_METHOD_PASSWORD |
	    TOKEN_METHOD_TOKEN);
	assert_memory_equal(child.user_id, root.user_id, TOKEN_ID_LEN);
	assert_memory_equal(child.scope_id, proj, TOKEN_ID_LEN);
	assert_int_equal(child.issued_at_ms, NOW_MS + 5000);
	/* Never extended (CVE-2012-5563). */
	assert_int_equal(child.expires_at_ms, root.expires_at_ms);
	assert_true(child.has_parent);
	assert_memory_equal(child.parent_audit_id, root.audit_id,
	    TOKEN_ID_LEN);
	assert_memory_not_equal(child.audit_id, root.audit_id, TOKEN_ID_LEN);
	/* The chain id stays the original token's. */
	token_payload_rescope(&child, TOKEN_SCOPE_SYSTEM, NULL, NOW_MS + 9000,
	    &grandchild);
	assert_memory_equal(grandchild.parent_audit_id, root.audit_id,
	    TOKEN_ID_LEN);
	assert_true(sodium_is_zero(grandchild.scope_id, TOKEN_ID_LEN));
	assert_int_equal(grandchild.expires_at_ms, root.expires_at_ms);
}

static void
test_id_codec(void **state)
{
	uint8_t id[TOKEN_ID_LEN];
	char s[TOKEN_ID_BUFSZ];

	assert_int_equal(token_id_parse("0123456789abcdef0123456789ABCDEF", id),
	    0);
	assert_int_equal(id[0], 0x01);
	assert_int_equal(id[15], 0xef);
	token_id_format(id, s);
	assert_string_equal(s, "0123456789abcdef0123456789abcdef");
	assert_int_equal(token_id_parse("01234567-89ab-cdef-0123-456789abcdef",
	    id), 0);
	token_id_format(id, s);
	assert_string_equal(s, "0123456789abcdef0123456789abcdef");
	assert_int_equal(token_id_parse("default", id), 0);
	token_id_format(id, s);
	assert_string_equal(s, "default");

	err_clear();
	assert_int_equal(token_id_parse("", id), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_true(sodium_is_zero(id, TOKEN_ID_LEN));
	assert_int_equal(token_id_parse("Default", id), -1);
	assert_int_equal(token_id_parse("0123456789abcdef0123456789abcde", id),
	    -1);
	assert_int_equal(token_id_parse("0123456789abcdef0123456789abcdefa",
	    id), -1);
	assert_int_equal(token_id_parse("0123456789abcdef0123456789abcdeg", id),
	    -1);
	assert_int_equal(token_id_parse("0123456789-abcdef0123456789abcdef", id),
	    -1);
	assert_int_equal(token_id_parse("01234567+89ab-cdef-0123-456789abcdef",
	    id), -1);
	assert_int_equal(token_id_parse("00000000000000000000000000000000", id),
	    -1);
	/* The reserved value has one spelling only. */
	assert_int_equal(token_id_parse("64656661756c74000000000000000000", id),
	    -1);
}

static void
test_audit_id_format(void **state)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno"
	    "pqrstuvwxyz0123456789-_";
	uint8_t id[TOKEN_ID_LEN], back[TOKEN_ID_LEN];
	char s[TOKEN_AUDIT_BUFSZ], t[TOKEN_AUDIT_BUFSZ];

	token_audit_id_new(id);
	token_audit_id_format(id, s);
	assert_int_equal(strlen(s), 22);
	assert_int_equal(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	    "rstuvwxyz0123456789-_"), 22);
	assert_int_equal(token_audit_id_parse(s, back), 0);
	assert_memory_equal(id, back, TOKEN_ID_LEN);

	/* The last character carries 2 bits of the id and 4 of slack: a
	 * spelling with a slack bit set names the same bytes and is refused. */
	memcpy(t, s, sizeof(t));
	t[21] = alpha[(strchr(alpha, s[21]) - alpha) ^ 1];
	assert_int_equal(token_audit_id_parse(t, back), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(token_audit_id_parse("short", back), -1);
	assert_int_equal(token_audit_id_parse("AAAAAAAAAAAAAAAAAAAAAA", back),
	    -1);	/* all zero */
	assert_int_equal(token_audit_id_parse("AAAAAAAAAAAAAAAAAAAAA=", back),
	    -1);
}

/* ---- revocation --------------------------------------------------------- */

static void
assert_revoked(const struct revoke_list *l, const struct token_payload *p)
{
	err_clear();
	assert_int_equal(token_revoke_list_check(l, p), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	assert_string_equal(err_msg(), "token revoked");
}

static void
test_revoke_by_audit_id_and_chain(void **state)
{
	struct revoke_list *l = token_revoke_list_new();
	struct token_payload root, child, grandchild, other, sibling;
	struct revoke_event ev;
	uint8_t proj[TOKEN_ID_LEN];

	assert_non_null(l);
	payload(&root, 1, 2, NOW_MS, HOUR);
	payload(&other, 1, 2, NOW_MS, HOUR);
	id_from(proj, 3);
	token_payload_rescope(&root, TOKEN_SCOPE_PROJECT, proj, NOW_MS + 1,
	    &child);
	token_payload_rescope(&child, TOKEN_SCOPE_DOMAIN, proj, NOW_MS + 2,
	    &grandchild);
	token_payload_rescope(&root, TOKEN_SCOPE_SYSTEM, NULL, NOW_MS + 3,
	    &sibling);
	assert_int_equal(token_revoke_list_check(l, &root), 0);

	/* Revoking one rescoped token leaves its chain alone. */
	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_AUDIT_ID;
	memcpy(ev.audit_id, child.audit_id, TOKEN_ID_LEN);
	ev.issued_before_ms = NOW_MS + 10;
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_revoked(l, &child);
	assert_int_equal(token_revoke_list_check(l, &root), 0);
	assert_int_equal(token_revoke_list_check(l, &sibling), 0);

	/* Revoking the original revokes every token rescoped from it. */
	memcpy(ev.audit_id, root.audit_id, TOKEN_ID_LEN);
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_revoked(l, &root);
	assert_revoked(l, &grandchild);
	assert_revoked(l, &sibling);
	assert_int_equal(token_revoke_list_check(l, &other), 0);
	assert_int_equal(token_revoke_list_count(l), 2);
	token_revoke_list_free(&l);
	assert_null(l);
	token_revoke_list_free(&l);
}

static void
test_revoke_by_user(void **state)
{
	struct revoke_list *l = token_revoke_list_new();
	struct token_payload before, at, after, unscoped, someone;
	struct revoke_event ev;

	payload(&before, 1, 2, NOW_MS - 1000, HOUR);
	payload(&at, 1, 3, NOW_MS, HOUR);
	payload(&after, 1, 2, NOW_MS + 1, HOUR);
	payload(&someone, 7, 2, NOW_MS - 1000, HOUR);
	unscoped = before;
	unscoped.scope_type = TOKEN_SCOPE_UNSCOPED;
	memset(unscoped.scope_id, 0, TOKEN_ID_LEN);

	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_USER;		/* password changed at NOW_MS */
	memcpy(ev.user_id, before.user_id, TOKEN_ID_LEN);
	ev.issued_before_ms = NOW_MS;
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_revoked(l, &before);
	assert_revoked(l, &at);
	assert_revoked(l, &unscoped);
	assert_int_equal(token_revoke_list_check(l, &after), 0);
	assert_int_equal(token_revoke_list_check(l, &someone), 0);

	/* An older event for the same user does not shrink the window. */
	ev.issued_before_ms = NOW_MS - 5000;
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_revoked(l, &at);
	assert_int_equal(token_revoke_list_count(l), 1);
	token_revoke_list_free(&l);
}

static void
test_revoke_by_project(void **state)
{
	struct revoke_list *l = token_revoke_list_new();
	struct token_payload proj, dom, otherproj, unscoped, later;
	struct revoke_event ev;

	payload(&proj, 1, 2, NOW_MS, HOUR);
	payload(&dom, 4, 2, NOW_MS, HOUR);
	dom.scope_type = TOKEN_SCOPE_DOMAIN;
	payload(&otherproj, 1, 3, NOW_MS, HOUR);
	payload(&later, 1, 2, NOW_MS + 60000, HOUR);
	unscoped = proj;
	unscoped.scope_type = TOKEN_SCOPE_UNSCOPED;
	memset(unscoped.scope_id, 0, TOKEN_ID_LEN);

	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_PROJECT;
	memcpy(ev.project_id, proj.scope_id, TOKEN_ID_LEN);
	ev.issued_before_ms = NOW_MS + 1;
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_revoked(l, &proj);
	assert_revoked(l, &dom);
	assert_int_equal(token_revoke_list_check(l, &otherproj), 0);
	assert_int_equal(token_revoke_list_check(l, &unscoped), 0);
	assert_int_equal(token_revoke_list_check(l, &later), 0);
	token_revoke_list_free(&l);
}

static void
test_revoke_by_user_on_project(void **state)
{
	struct revoke_list *l = token_revoke_list_new();
	struct token_payload mine, mine_elsewhere, theirs;
	struct revoke_event ev;

	payload(&mine, 1, 2, NOW_MS, HOUR);
	payload(&mine_elsewhere, 1, 3, NOW_MS, HOUR);
	payload(&theirs, 5, 2, NOW_MS, HOUR);
	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_USER_PROJECT;	/* role removed from user 1 on 2 */
	memcpy(ev.user_id, mine.user_id, TOKEN_ID_LEN);
	memcpy(ev.project_id, mine.scope_id, TOKEN_ID_LEN);
	ev.issued_before_ms = NOW_MS;
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_revoked(l, &mine);
	assert_int_equal(token_revoke_list_check(l, &mine_elsewhere), 0);
	assert_int_equal(token_revoke_list_check(l, &theirs), 0);
	token_revoke_list_free(&l);
}

static void
test_revoke_rejects_bad_events(void **state)
{
	struct revoke_list *l = token_revoke_list_new();
	struct revoke_event ev;

	memset(&ev, 0, sizeof(ev));
	err_clear();
	ev.kind = (enum revoke_kind)42;
	assert_int_equal(token_revoke_list_add(l, &ev), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	ev.kind = REVOKE_USER;			/* no user id */
	assert_int_equal(token_revoke_list_add(l, &ev), -1);
	ev.kind = REVOKE_USER_PROJECT;
	id_from(ev.user_id, 1);			/* no project id */
	assert_int_equal(token_revoke_list_add(l, &ev), -1);
	assert_int_equal(token_revoke_list_count(l), 0);
	token_revoke_list_free(&l);
}

static void
test_revoke_many_and_prune(void **state)
{
	struct revoke_list *l = token_revoke_list_new();
	struct token_payload p;
	struct revoke_event ev;
	uint8_t user[TOKEN_ID_LEN];
	int i;

	/* 2000 audit-id events dated one per second from NOW - 2000 s, and
	 * one user event at NOW. */
	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_AUDIT_ID;
	for (i = 0; i < 2000; i++) {
		memset(ev.audit_id, 0, TOKEN_ID_LEN);
		memcpy(ev.audit_id, &i, sizeof(i));
		ev.audit_id[15] = 0xaa;
		ev.issued_before_ms = NOW_MS - (uint64_t)(2000 - i) * 1000;
		assert_int_equal(token_revoke_list_add(l, &ev), 0);
	}
	ev.kind = REVOKE_USER;
	id_from(ev.user_id, 1);
	ev.issued_before_ms = NOW_MS;
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_int_equal(token_revoke_list_count(l), 2001);

	payload(&p, 2, 2, NOW_MS - 3000000, HOUR);
	for (i = 0; i < 2000; i += 97) {
		memset(p.audit_id, 0, TOKEN_ID_LEN);
		memcpy(p.audit_id, &i, sizeof(i));
		p.audit_id[15] = 0xaa;
		assert_revoked(l, &p);
	}

	/* With a 1000 s maximum lifetime at NOW, events dated NOW - 1000 s
	 * or earlier can match only expired tokens. */
	assert_int_equal(token_revoke_list_prune(l, NOW, 1000), 1001);
	assert_int_equal(token_revoke_list_count(l), 1000);
	i = 999;		/* dated NOW - 1001 s: gone */
	memset(p.audit_id, 0, TOKEN_ID_LEN);
	memcpy(p.audit_id, &i, sizeof(i));
	p.audit_id[15] = 0xaa;
	assert_int_equal(token_revoke_list_check(l, &p), 0);
	i = 1001;		/* dated NOW - 999 s: kept */
	memcpy(p.audit_id, &i, sizeof(i));
	assert_revoked(l, &p);
	id_from(user, 1);
	memcpy(p.user_id, user, TOKEN_ID_LEN);
	token_audit_id_new(p.audit_id);
	assert_revoked(l, &p);
	/* Far in the future everything goes, and adding works again. */
	assert_int_equal(token_revoke_list_prune(l, NOW + 100000, 1000), 1000);
	assert_int_equal(token_revoke_list_count(l), 0);
	assert_int_equal(token_revoke_list_check(l, &p), 0);
	assert_int_equal(token_revoke_list_add(l, &ev), 0);
	assert_revoked(l, &p);
	token_revoke_list_free(&l);
}

struct checker {
	struct revoke_list		*l;
	const struct token_payload	*revoked, *fine;
	atomic_int			 stop;
	atomic_long			 wrong, rounds;
};

static void *
checker_run(void *arg)
{
	struct checker *c = arg;

	while (!atomic_load(&c->stop)) {
		if (token_revoke_list_check(c->l, c->revoked) != -1 ||
		    token_revoke_list_check(c->l, c->fine) != 0)
			atomic_fetch_add(&c->wrong, 1);
		atomic_fetch_add(&c->rounds, 1);
	}
	return NULL;
}

static void
test_revoke_while_checking(void **state)
{
	struct token_payload revoked, fine;
	struct revoke_event ev;
	struct checker c;
	pthread_t th[4];
	int i;

	memset(&c, 0, sizeof(c));
	c.l = token_revoke_list_new();
	payload(&revoked, 1, 2, NOW_MS, HOUR);
	payload(&fine, 3, 4, NOW_MS, HOUR);
	c.revoked = &revoked;
	c.fine = &fine;
	memset(&ev, 0, sizeof(ev));
	ev.kind = REVOKE_AUDIT_ID;
	memcpy(ev.audit_id, revoked.audit_id, TOKEN_ID_LEN);
	ev.issued_before_ms = NOW_MS + 1000000;	/* outlives the prunes */
	assert_int_equal(token_revoke_list_add(c.l, &ev), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, checker_run, &c),
		    0);
	/* Grow the table through several resizes, then prune it back. */
	ev.kind = REVOKE_USER;
	for (i = 0; i < 5000; i++) {
		id_from(ev.user_id, 100);
		memcpy(ev.user_id, &i, sizeof(i));
		ev.issued_before_ms = NOW_MS - 10000000 + (uint64_t)i;
		assert_int_equal(token_revoke_list_add(c.l, &ev), 0);
	}
	assert_int_equal(token_revoke_list_prune(c.l, NOW, 60), 5000);
	while (atomic_load(&c.rounds) < 1000)
		usleep(1000);
	atomic_store(&c.stop, 1);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&c.wrong), 0);
	assert_int_equal(token_revoke_list_count(c.l), 1);
	token_revoke_list_free(&c.l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_setup_creates_staged_and_primary),
		T(test_setup_leaves_existing_keys),
		T(test_max_active_bounds),
		T(test_load_refuses_exposed_or_bad_keys),
		T(test_roundtrip_every_scope),
		T(test_issue_rejects_bad_payloads),
		T(test_tamper_any_character_is_rejected),
		T(test_malformed_strings_are_rejected),
		T(test_expiry),
		T(test_other_repository_is_rejected),
		T(test_rotation_lifecycle),
		T(test_staged_key_validates_before_reload),
		T(test_interrupted_rotation_is_finished),
		T(test_reload_while_validating),
#undef T
		cmocka_unit_test(test_payload_codec_is_strict),
		cmocka_unit_test(test_rescope_keeps_chain_and_expiry),
		cmocka_unit_test(test_id_codec),
		cmocka_unit_test(test_audit_id_format),
		cmocka_unit_test(test_revoke_by_audit_id_and_chain),
		cmocka_unit_test(test_revoke_by_user),
		cmocka_unit_test(test_revoke_by_project),
		cmocka_unit_test(test_revoke_by_user_on_project),
		cmocka_unit_test(test_revoke_rejects_bad_events),
		cmocka_unit_test(test_revoke_many_and_prune),
		cmocka_unit_test(test_revoke_while_checking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
