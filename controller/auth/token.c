/*
 * token: issue and validate sealed tokens; the in-memory revocation list.
 * Formats are described in token.h. Invariant: every token this module
 * issues unpacks again (pack and unpack apply the same consistency rules), so
 * a payload that decrypts but does not unpack means a foreign or broken key.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "token.h"

#define FORMAT_V1	1
#define PAYLOAD_V1	1
#define FLAG_PARENT	0x01
#define HDR_LEN		5	/* format + key id: the associated data */
#define NONCE_LEN	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN		crypto_aead_xchacha20poly1305_ietf_ABYTES
#define RAW_LEN		(HDR_LEN + NONCE_LEN + TOKEN_PAYLOAD_LEN + TAG_LEN)

_Static_assert(RAW_LEN == 129, "token wire size changed");
_Static_assert(RAW_LEN % 3 == 0, "base64 of the token must have no slack bits");
_Static_assert(TOKEN_BUFSZ == sodium_base64_ENCODED_LEN(RAW_LEN,
    sodium_base64_VARIANT_URLSAFE_NO_PADDING), "TOKEN_LEN mismatch");
_Static_assert(TOKEN_LEN < 255, "tokens must stay under 255 characters");
_Static_assert(TOKEN_AUDIT_BUFSZ == sodium_base64_ENCODED_LEN(TOKEN_ID_LEN,
    sodium_base64_VARIANT_URLSAFE_NO_PADDING), "audit id length mismatch");
_Static_assert(KEYREPO_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
    "key size mismatch");

/* Keystone's default domain id "default": not a version-4 UUID (byte 6 is
 * 't', version nibble 7), so no generated id collides with it. */
static const uint8_t default_domain[TOKEN_ID_LEN] = {
	'd', 'e', 'f', 'a', 'u', 'l', 't'
};

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static bool
is_zero(const uint8_t *id)
{
	return sodium_is_zero(id, TOKEN_ID_LEN) == 1;
}

static uint64_t
secs_to_ms(time_t t)
{
	return t <= 0 ? 0 : (uint64_t)t * 1000u;
}

/* The consistency rules shared by pack and unpack; NULL if p is fine. */
static const char *
payload_problem(const struct token_payload *p)
{
	bool scoped;

	if (p->methods == 0 || (p->methods & ~TOKEN_METHODS_KNOWN) != 0)
		return "bad methods";
	switch (p->scope_type) {
	case TOKEN_SCOPE_UNSCOPED:
	case TOKEN_SCOPE_SYSTEM:
		scoped = false;
		break;
	case TOKEN_SCOPE_PROJECT:
	case TOKEN_SCOPE_DOMAIN:
		scoped = true;
		break;
	default:
		return "bad scope type";
	}
	if (is_zero(p->scope_id) == scoped)
		return scoped ? "scope id missing" : "scope id on an unscoped "
		    "or system token";
	if (is_zero(p->user_id))
		return "user id missing";
	if (is_zero(p->audit_id))
		return "audit id missing";
	if (is_zero(p->parent_audit_id) == p->has_parent)
		return p->has_parent ? "parent audit id missing" :
		    "parent audit id without the parent flag";
	if (p->expires_at_ms <= p->issued_at_ms)
		return "expires before it is issued";
	return NULL;
}

int
token_payload_pack(const struct token_payload *p, uint8_t out[TOKEN_PAYLOAD_LEN])
{
	const char *why;

	if ((why = payload_problem(p)) != NULL) {
		err_set(TS_EINVALID, "token: cannot issue: %s", why);
		return -1;
	}
	out[0] = PAYLOAD_V1;
	out[1] = p->methods;
	out[2] = (uint8_t)p->scope_type;
	out[3] = p->has_parent ? FLAG_PARENT : 0;
	memcpy(out + 4, p->user_id, TOKEN_ID_LEN);
	memcpy(out + 20, p->scope_id, TOKEN_ID_LEN);
	put_be64(out + 36, p->issued_at_ms);
	put_be64(out + 44, p->expires_at_ms);
	memcpy(out + 52, p->audit_id, TOKEN_ID_LEN);
	memcpy(out + 68, p->parent_audit_id, TOKEN_ID_LEN);
	return 0;
}

int
token_payload_unpack(const uint8_t *buf, size_t len, struct token_payload *out)
{
	struct token_payload p;
	const char *why;

	memset(out, 0, sizeof(*out));
	if (len != TOKEN_PAYLOAD_LEN) {
		err_set(TS_EUNAUTHORIZED, "token: payload of %zu bytes", len);
		return -1;
	}
	if (buf[0] != PAYLOAD_V1) {
		err_set(TS_EUNAUTHORIZED, "token: payload version %u", buf[0]);
		return -1;
	}
	if (buf[2] > TOKEN_SCOPE_SYSTEM || (buf[3] & ~FLAG_PARENT) != 0) {
		err_set(TS_EUNAUTHORIZED, "token: bad scope type or flags");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.methods = buf[1];
	p.scope_type = (enum token_scope)buf[2];
	p.has_parent = (buf[3] & FLAG_PARENT) != 0;
	memcpy(p.user_id, buf + 4, TOKEN_ID_LEN);
	memcpy(p.scope_id, buf + 20, TOKEN_ID_LEN);
	p.issued_at_ms = get_be64(buf + 36);
	p.expires_at_ms = get_be64(buf + 44);
	memcpy(p.audit_id, buf + 52, TOKEN_ID_LEN);
	memcpy(p.parent_audit_id, buf + 68, TOKEN_ID_LEN);
	if ((why = payload_problem(&p)) != NULL) {
		err_set(TS_EUNAUTHORIZED, "token: inconsistent payload: %s",
		    why);
		return -1;
	}
	*out = p;
	return 0;
}

void
token_audit_id_new(uint8_t out[TOKEN_ID_LEN])
{
	/* randombytes_buf() initializes libsodium's RNG on first use. */
	do
		randombytes_buf(out, TOKEN_ID_LEN);
	while (is_zero(out));
}

void
token_payload_init(struct token_payload *p, uint8_t methods,
    const uint8_t user_id[TOKEN_ID_LEN], enum token_scope scope,
    const uint8_t scope_id[TOKEN_ID_LEN], uint64_t now_ms, unsigned lifetime_s)
{
	memset(p, 0, sizeof(*p));
	p->methods = methods;
	p->scope_type = scope;
	memcpy(p->user_id, user_id, TOKEN_ID_LEN);
	if ((scope == TOKEN_SCOPE_PROJECT || scope == TOKEN_SCOPE_DOMAIN) &&
	    scope_id != NULL)
		memcpy(p->scope_id, scope_id, TOKEN_ID_LEN);
	p->issued_at_ms = now_ms;
	p->expires_at_ms = now_ms + (uint64_t)lifetime_s * 1000u;
	token_audit_id_new(p->audit_id);
}

void
token_payload_rescope(const struct token_payload *parent, enum token_scope scope,
    const uint8_t scope_id[TOKEN_ID_LEN], uint64_t now_ms,
    struct token_payload *child)
{
	struct token_payload c;

	memset(&c, 0, sizeof(c));
	c.methods = parent->methods | TOKEN_METHOD_TOKEN;
	c.scope_type = scope;
	memcpy(c.user_id, parent->user_id, TOKEN_ID_LEN);
	if ((scope == TOKEN_SCOPE_PROJECT || scope == TOKEN_SCOPE_DOMAIN) &&
	    scope_id != NULL)
		memcpy(c.scope_id, scope_id, TOKEN_ID_LEN);
	c.issued_at_ms = now_ms;
	c.expires_at_ms = parent->expires_at_ms;
	token_audit_id_new(c.audit_id);
	c.has_parent = true;
	memcpy(c.parent_audit_id, parent->has_parent ?
	    parent->parent_audit_id : parent->audit_id, TOKEN_ID_LEN);
	*child = c;	/* parent and child may be the same object */
}

int
token_issue(const struct keyrepo *repo, const struct token_payload *p,
    char *out, size_t outlen)
{
	uint8_t pt[TOKEN_PAYLOAD_LEN], raw[RAW_LEN], key[KEYREPO_KEY_LEN];
	unsigned long long clen;
	uint32_t kid;

	if (outlen < TOKEN_BUFSZ) {
		err_set(TS_EINVALID, "token: output buffer of %zu bytes",
		    outlen);
		return -1;
	}
	if (token_payload_pack(p, pt) == -1)
		return -1;
	keyrepo_primary_copy(repo, &kid, key);
	raw[0] = FORMAT_V1;
	put_be32(raw + 1, kid);
	randombytes_buf(raw + HDR_LEN, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw + HDR_LEN + NONCE_LEN,
	    &clen, pt, sizeof(pt), raw, HDR_LEN, NULL, raw + HDR_LEN, key);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(pt, sizeof(pt));
	sodium_bin2base64(out, outlen, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int
token_validate(const struct keyrepo *repo, const char *tok, time_t now,
    struct token_payload *out)
{
	uint8_t raw[RAW_LEN], pt[TOKEN_PAYLOAD_LEN], key[KEYREPO_KEY_LEN];
	unsigned long long ptlen;
	const char *end;
	size_t len, binlen;
	unsigned nth;
	int rc;

	memset(out, 0, sizeof(*out));
	/* Never echo any part of tok into a message: it may be a valid
	 * credential presented in the wrong place. */
	len = tok == NULL ? 0 : strnlen(tok, TOKEN_LEN + 1);
	if (len != TOKEN_LEN) {
		err_set(TS_EUNAUTHORIZED, "token: malformed (not %d "
		    "characters)", TOKEN_LEN);
		return -1;
	}
	if (sodium_base642bin(raw, sizeof(raw), tok, len, NULL, &binlen, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != tok + len || binlen != RAW_LEN) {
		err_set(TS_EUNAUTHORIZED, "token: malformed (not URL-safe "
		    "base64)");
		return -1;
	}
	if (raw[0] != FORMAT_V1) {
		err_set(TS_EUNAUTHORIZED, "token: unknown format %u", raw[0]);
		return -1;
	}
	/* Usually one key carries this id; on a fingerprint collision, try
	 * each (at most KEYREPO_MAX_KEYS). */
	for (nth = 0;; nth++) {
		if (keyrepo_key_copy(repo, get_be32(raw + 1), nth, key) == -1) {
			if (nth == 0)
				return -1;
			rc = -1;
			break;
		}
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen,
		    NULL, raw + HDR_LEN + NONCE_LEN, TOKEN_PAYLOAD_LEN +
		    TAG_LEN, raw, HDR_LEN, raw + HDR_LEN, key);
		sodium_memzero(key, sizeof(key));
		if (rc == 0)
			break;
	}
	if (rc != 0) {
		err_set(TS_EUNAUTHORIZED, "token: authentication failed "
		    "(tampered, or sealed by another key repository)");
		return -1;
	}
	rc = token_payload_unpack(pt, (size_t)ptlen, out);
	sodium_memzero(pt, sizeof(pt));
	if (rc == -1)
		return -1;
	if (out->expires_at_ms <= secs_to_ms(now)) {
		err_set(TS_EUNAUTHORIZED, "token: expired");
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

void
token_audit_id_format(const uint8_t id[TOKEN_ID_LEN],
    char out[TOKEN_AUDIT_BUFSZ])
{
	sodium_bin2base64(out, TOKEN_AUDIT_BUFSZ, id, TOKEN_ID_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
token_audit_id_parse(const char *s, uint8_t out[TOKEN_ID_LEN])
{
	char again[TOKEN_AUDIT_BUFSZ];
	const char *end;
	size_t binlen;

	if (strnlen(s, TOKEN_AUDIT_STR_LEN + 1) != TOKEN_AUDIT_STR_LEN ||
	    sodium_base642bin(out, TOKEN_ID_LEN, s, TOKEN_AUDIT_STR_LEN, NULL,
	    &binlen, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + TOKEN_AUDIT_STR_LEN || binlen != TOKEN_ID_LEN)
		goto bad;
	/* 22 characters carry 132 bits: only the canonical spelling of the
	 * 128 is accepted, so one audit id has one string. */
	token_audit_id_format(out, again);
	if (strcmp(again, s) != 0 || is_zero(out))
		goto bad;
	return 0;
bad:
	memset(out, 0, TOKEN_ID_LEN);
	err_set(TS_EINVALID, "malformed audit id");
	return -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
token_id_parse(const char *s, uint8_t out[TOKEN_ID_LEN])
{
	size_t len, i, o = 0;
	int hi, lo;
	bool dashed;

	memset(out, 0, TOKEN_ID_LEN);
	if (strcmp(s, "default") == 0) {
		memcpy(out, default_domain, TOKEN_ID_LEN);
		return 0;
	}
	len = strnlen(s, 37);
	if (len != 32 && len != 36)
		goto bad;
	dashed = len == 36;
	for (i = 0; i < len; ) {
		if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i++] != '-')
				goto bad;
			continue;
		}
		if ((hi = hexval(s[i])) < 0 || (lo = hexval(s[i + 1])) < 0)
			goto bad;
		out[o++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	/* The nil UUID is no identity, and the reserved value is spelled
	 * only "default". */
	if (is_zero(out) || memcmp(out, default_domain, TOKEN_ID_LEN) == 0)
		goto bad;
	return 0;
bad:
	memset(out, 0, TOKEN_ID_LEN);
	err_set(TS_EINVALID, "malformed id (expected 32 hex digits)");
	return -1;
}

void
token_id_format(const uint8_t id[TOKEN_ID_LEN], char out[TOKEN_ID_BUFSZ])
{
	if (memcmp(id, default_domain, TOKEN_ID_LEN) == 0) {
		memcpy(out, "default", sizeof("default"));
		return;
	}
	sodium_bin2hex(out, TOKEN_ID_BUFSZ, id, TOKEN_ID_LEN);
}

/*
 * Revocation list: one open-addressing hash table keyed by (kind, id[, id]),
 * keyed SipHash so crafted ids cannot build long probe chains. Each entry
 * keeps only the latest issued_before_ms for its key: a "revoke everything
 * issued before T" subsumes every earlier one for the same key.
 */
#define RKEY_LEN	(2 * TOKEN_ID_LEN)
#define RTAB_MIN	64

struct rentry {
	uint64_t	before_ms;
	uint8_t		kind;		/* 0: empty slot */
	uint8_t		key[RKEY_LEN];
};

struct revoke_list {
	pthread_rwlock_t	 lock;
	/* Entry count, readable without the lock: checks skip the lock
	 * entirely while nothing is revoked. */
	_Atomic size_t		 n;
	size_t			 cap;		/* power of two, or 0 */
	struct rentry		*tab;
	uint8_t			 hkey[crypto_shorthash_KEYBYTES];
};

static pthread_rwlock_t *
rl_lock(const struct revoke_list *l)
{
	/* The lock is the one mutable part of a logically const list. */
	return (pthread_rwlock_t *)&l->lock;
}

static size_t
rhash(const struct revoke_list *l, uint8_t kind, const uint8_t *key)
{
	uint8_t in[1 + RKEY_LEN], h[crypto_shorthash_BYTES];
	uint64_t v;

	in[0] = kind;
	memcpy(in + 1, key, RKEY_LEN);
	crypto_shorthash(h, in, sizeof(in), l->hkey);
	memcpy(&v, h, sizeof(v));
	return (size_t)v;
}

/* Slot holding (kind, key), or the empty slot where it would go. */
static struct rentry *
rslot(const struct rentry *tab, size_t cap, size_t h, uint8_t kind,
    const uint8_t *key)
{
	size_t i, mask = cap - 1;
	const struct rentry *e;

	for (i = h & mask;; i = (i + 1) & mask) {
		e = &tab[i];
		if (e->kind == 0 || (e->kind == kind &&
		    memcmp(e->key, key, RKEY_LEN) == 0))
			return (struct rentry *)e;
	}
}

static const struct rentry *
rfind(const struct revoke_list *l, uint8_t kind, const uint8_t *a,
    const uint8_t *b)
{
	uint8_t key[RKEY_LEN];
	const struct rentry *e;

	if (l->cap == 0)
		return NULL;
	memcpy(key, a, TOKEN_ID_LEN);
	if (b != NULL)
		memcpy(key + TOKEN_ID_LEN, b, TOKEN_ID_LEN);
	else
		memset(key + TOKEN_ID_LEN, 0, TOKEN_ID_LEN);
	e = rslot(l->tab, l->cap, rhash(l, kind, key), kind, key);
	return e->kind == 0 ? NULL : e;
}

/* Rebuild into a table of cap slots, keeping entries dated after cutoff.
 * Returns -1 (nothing changed) if memory runs out. */
static int
rrebuild(struct revoke_list *l, size_t cap, uint64_t cutoff_ms, size_t *kept)
{
	struct rentry *tab, *dst;
	const struct rentry *e;
	size_t i, n = 0;

	if ((tab = calloc(cap, sizeof(*tab))) == NULL)
		return -1;
	for (i = 0; i < l->cap; i++) {
		e = &l->tab[i];
		if (e->kind == 0 || e->before_ms < cutoff_ms)
			continue;
		dst = rslot(tab, cap, rhash(l, e->kind, e->key), e->kind,
		    e->key);
		*dst = *e;
		n++;
	}
	free(l->tab);
	l->tab = tab;
	l->cap = cap;
	*kept = n;
	return 0;
}

struct revoke_list *
token_revoke_list_new(void)
{
	pthread_rwlockattr_t attr;
	struct revoke_list *l;

	if (sodium_init() < 0) {
		err_set(TS_EINTERNAL, "revoke: libsodium failed to initialize");
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		err_set(TS_ENOMEM, "revoke: out of memory");
		return NULL;
	}
	crypto_shorthash_keygen(l->hkey);
	atomic_init(&l->n, 0);
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&l->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return l;
}

void
token_revoke_list_free(struct revoke_list **lp)
{
	struct revoke_list *l;

	if (lp == NULL || (l = *lp) == NULL)
		return;
	pthread_rwlock_destroy(&l->lock);
	free(l->tab);
	free(l);
	*lp = NULL;
}

int
token_revoke_list_add(struct revoke_list *l, const struct revoke_event *ev)
{
	uint8_t key[RKEY_LEN];
	struct rentry *e;
	size_t n, kept;

	memset(key, 0, sizeof(key));
	switch (ev->kind) {
	case REVOKE_AUDIT_ID:
		memcpy(key, ev->audit_id, TOKEN_ID_LEN);
		break;
	case REVOKE_USER:
		memcpy(key, ev->user_id, TOKEN_ID_LEN);
		break;
	case REVOKE_PROJECT:
		memcpy(key, ev->project_id, TOKEN_ID_LEN);
		break;
	case REVOKE_USER_PROJECT:
		memcpy(key, ev->user_id, TOKEN_ID_LEN);
		memcpy(key + TOKEN_ID_LEN, ev->project_id, TOKEN_ID_LEN);
		if (is_zero(key + TOKEN_ID_LEN))
			goto empty;
		break;
	default:
		err_set(TS_EINVALID, "revoke: unknown event kind %d",
		    (int)ev->kind);
		return -1;
	}
	if (is_zero(key))
		goto empty;

	pthread_rwlock_wrlock(&l->lock);
	n = atomic_load(&l->n);
	if ((n + 1) * 2 > l->cap && rrebuild(l, l->cap == 0 ? RTAB_MIN :
	    l->cap * 2, 0, &kept) == -1) {
		pthread_rwlock_unlock(&l->lock);
		err_set(TS_ENOMEM, "revoke: out of memory");
		return -1;
	}
	e = rslot(l->tab, l->cap, rhash(l, (uint8_t)ev->kind, key),
	    (uint8_t)ev->kind, key);
	if (e->kind == 0) {
		e->kind = (uint8_t)ev->kind;
		memcpy(e->key, key, RKEY_LEN);
		e->before_ms = ev->issued_before_ms;
		atomic_store(&l->n, n + 1);
	} else if (ev->issued_before_ms > e->before_ms) {
		e->before_ms = ev->issued_before_ms;
	}
	pthread_rwlock_unlock(&l->lock);
	return 0;
empty:
	err_set(TS_EINVALID, "revoke: event without the id its kind needs");
	return -1;
}

static bool
revoked_locked(const struct revoke_list *l, const struct token_payload *p)
{
	const struct rentry *e;
	bool scoped = p->scope_type == TOKEN_SCOPE_PROJECT ||
	    p->scope_type == TOKEN_SCOPE_DOMAIN;

	if (rfind(l, REVOKE_AUDIT_ID, p->audit_id, NULL) != NULL)
		return true;
	if (p->has_parent &&
	    rfind(l, REVOKE_AUDIT_ID, p->parent_audit_id, NULL) != NULL)
		return true;
	e = rfind(l, REVOKE_USER, p->user_id, NULL);
	if (e != NULL && p->issued_at_ms <= e->before_ms)
		return true;
	if (!scoped)
		return false;
	e = rfind(l, REVOKE_PROJECT, p->scope_id, NULL);
	if (e != NULL && p->issued_at_ms <= e->before_ms)
		return true;
	e = rfind(l, REVOKE_USER_PROJECT, p->user_id, p->scope_id);
	return e != NULL && p->issued_at_ms <= e->before_ms;
}

int
token_revoke_list_check(const struct revoke_list *l, const struct token_payload *p)
{
	bool revoked;

	if (atomic_load(&l->n) == 0)
		return 0;
	pthread_rwlock_rdlock(rl_lock(l));
	revoked = revoked_locked(l, p);
	pthread_rwlock_unlock(rl_lock(l));
	if (revoked) {
		err_set(TS_EUNAUTHORIZED, "token revoked");
		return -1;
	}
	return 0;
}

size_t
token_revoke_list_prune(struct revoke_list *l, time_t now, unsigned max_lifetime_s)
{
	uint64_t now_ms = secs_to_ms(now), life_ms = (uint64_t)max_lifetime_s *
	    1000u, cutoff;
	size_t n, kept, cap;

	/* An event dated d can only match tokens issued at or before d, all
	 * expired by d + max lifetime; keep those with d + life > now. */
	if (now_ms <= life_ms)
		return 0;
	cutoff = now_ms - life_ms + 1;
	pthread_rwlock_wrlock(&l->lock);
	n = atomic_load(&l->n);
	if (n == 0) {
		pthread_rwlock_unlock(&l->lock);
		return 0;
	}
	/* Size for the current count (nothing may be dropped), which also
	 * shrinks a table grown by a burst of revocations. */
	for (cap = RTAB_MIN; cap < n * 2; cap *= 2)
		;
	if (rrebuild(l, cap, cutoff, &kept) == -1) {
		pthread_rwlock_unlock(&l->lock);
		return 0;	/* nothing dropped; the next prune retries */
	}
	atomic_store(&l->n, kept);
	pthread_rwlock_unlock(&l->lock);
	return n - kept;
}

size_t
token_revoke_list_count(const struct revoke_list *l)
{
	return atomic_load(&l->n);
}
