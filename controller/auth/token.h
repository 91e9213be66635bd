/*
 * token: self-contained, encrypted Keystone v3 tokens and their revocation.
 *
 * A token carries who (user id), how (auth methods), where (scope), when
 * (issued, expires) and an audit id; nothing else. Roles and the catalog are
 * looked up at validation, so a removed role takes effect at once and tokens
 * stay short. Validation is a decrypt plus a revocation look-up in memory:
 * no disk and no lock held across the crypto (DESIGN.md decision 6).
 *
 * Wire form (all integers big-endian), 129 bytes, shown as 172 characters of
 * URL-safe base64 without padding (129 is a multiple of 3, so every
 * character carries payload bits and no two strings decode alike):
 *
 *   0   u8   format (1)                     \ associated data
 *   1   u32  key id (fingerprint, keyrepo.h)  /
 *   5   24   XChaCha20 nonce (random)
 *   29  100  XChaCha20-Poly1305 ciphertext of the 84-byte payload + tag
 *
 * Payload (version 1, 84 bytes, see token_payload_pack()):
 *
 *   0   u8   payload version (1)
 *   1   u8   methods bitmask (TOKEN_METHOD_*)
 *   2   u8   scope type (enum token_scope)
 *   3   u8   flags (bit 0: parent_audit_id present; other bits zero)
 *   4   16   user id
 *   20  16   scope id (project or domain; zero for unscoped and system)
 *   36  u64  issued_at, milliseconds since the epoch
 *   44  u64  expires_at, milliseconds since the epoch
 *   52  16   audit id (random)
 *   68  16   parent audit id: the audit id of the chain's original token
 *            (Keystone's audit_chain_id); zero when absent
 *
 * Times are milliseconds so that "tokens issued before T" revocations (a
 * password change) do not also catch the token issued right after them in
 * the same second.
 */
#ifndef TS_TOKEN_H
#define TS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keyrepo.h"

#define TOKEN_ID_LEN		16
#define TOKEN_LEN		172	/* characters, always exactly this */
#define TOKEN_BUFSZ		(TOKEN_LEN + 1)
#define TOKEN_PAYLOAD_LEN	84
/* Audit ids are shown like Keystone's: URL-safe base64, no padding. */
#define TOKEN_AUDIT_STR_LEN	22
#define TOKEN_AUDIT_BUFSZ	(TOKEN_AUDIT_STR_LEN + 1)
/* Ids are shown as 32 lowercase hex digits (Keystone's uuid4().hex). */
#define TOKEN_ID_STR_LEN	32
#define TOKEN_ID_BUFSZ		(TOKEN_ID_STR_LEN + 1)

#define TOKEN_METHOD_PASSWORD	0x01
#define TOKEN_METHOD_TOKEN	0x02
#define TOKEN_METHODS_KNOWN	(TOKEN_METHOD_PASSWORD | TOKEN_METHOD_TOKEN)

enum token_scope {
	TOKEN_SCOPE_UNSCOPED = 0,
	TOKEN_SCOPE_PROJECT,
	TOKEN_SCOPE_DOMAIN,
	TOKEN_SCOPE_SYSTEM,		/* Keystone's system scope "all" */
};

struct token_payload {
	uint8_t			methods;	/* TOKEN_METHOD_* bits */
	enum token_scope	scope_type;
	uint8_t			user_id[TOKEN_ID_LEN];
	uint8_t			scope_id[TOKEN_ID_LEN];	/* zero if none */
	uint64_t		issued_at_ms;
	uint64_t		expires_at_ms;
	uint8_t			audit_id[TOKEN_ID_LEN];
	bool			has_parent;
	uint8_t			parent_audit_id[TOKEN_ID_LEN];
};

/*
 * Fill p for a freshly authenticated user: a new random audit id, no parent,
 * issued now_ms, expiring lifetime_s later. scope_id is ignored (zeroed) for
 * unscoped and system scope.
 */
void	token_payload_init(struct token_payload *p, uint8_t methods,
	    const uint8_t user_id[TOKEN_ID_LEN], enum token_scope,
	    const uint8_t scope_id[TOKEN_ID_LEN], uint64_t now_ms,
	    unsigned lifetime_s);

/*
 * Fill child as parent rescoped to (scope, scope_id) at now_ms: same user,
 * methods plus TOKEN_METHOD_TOKEN, a new audit id, parent_audit_id set to the
 * chain's original audit id, and the parent's expiry: a rescoped token never
 * outlives the token it came from (CVE-2012-5563).
 */
void	token_payload_rescope(const struct token_payload *parent,
	    enum token_scope, const uint8_t scope_id[TOKEN_ID_LEN],
	    uint64_t now_ms, struct token_payload *child);

/*
 * Seal p under the repository's primary key into out (NUL-terminated,
 * exactly TOKEN_LEN characters; outlen >= TOKEN_BUFSZ). Returns -1 with
 * TS_EINVALID for an inconsistent payload (same rules as unpack) or a short
 * buffer.
 */
int	token_issue(const struct keyrepo *, const struct token_payload *p,
	    char *out, size_t outlen);

/*
 * Decode, authenticate and check expiry of tok (NUL-terminated, any bytes).
 * Returns 0 and fills out, or -1 with TS_EUNAUTHORIZED whose message says
 * what was wrong (malformed, unknown key, tampered/wrong key, expired); the
 * HTTP layer shows none of that. A token is expired when expires_at_ms <=
 * now * 1000. Revocation is a separate step: token_revoke_list_check().
 */
int	token_validate(const struct keyrepo *, const char *tok, time_t now,
	    struct token_payload *out);

/* The plaintext payload codec, exposed for tests and the fuzzer. pack
 * returns -1 (TS_EINVALID) for an inconsistent payload; unpack returns -1
 * (TS_EUNAUTHORIZED) for anything but exactly TOKEN_PAYLOAD_LEN consistent
 * bytes of version 1. */
int	token_payload_pack(const struct token_payload *,
	    uint8_t out[TOKEN_PAYLOAD_LEN]);
int	token_payload_unpack(const uint8_t *buf, size_t len,
	    struct token_payload *);

void	token_audit_id_new(uint8_t out[TOKEN_ID_LEN]);
/* 22 characters + NUL. */
void	token_audit_id_format(const uint8_t id[TOKEN_ID_LEN],
	    char out[TOKEN_AUDIT_BUFSZ]);
/* Returns -1 (TS_EINVALID) unless s is exactly a formatted audit id. */
int	token_audit_id_parse(const char *s, uint8_t out[TOKEN_ID_LEN]);

/*
 * Identity ids <-> the 16 bytes carried in a token. Accepted: 32 hex digits
 * (Keystone's uuid4().hex), the dashed 36-character UUID form, and the
 * literal "default" (Keystone's default domain id), which maps to a reserved
 * value that is not a version-4 UUID. Format writes lowercase undashed hex,
 * or "default" for the reserved value, so format(parse(s)) names the same id.
 * Parse returns -1 (TS_EINVALID) for anything else.
 */
int	token_id_parse(const char *s, uint8_t out[TOKEN_ID_LEN]);
void	token_id_format(const uint8_t id[TOKEN_ID_LEN],
	    char out[TOKEN_ID_BUFSZ]);

/*
 * Revocation list: events like Keystone's revocation events, kept in memory
 * (rebuilt by the caller from storage at start) and checked on every
 * validation. Reads take the read side of a rwlock (or nothing at all while
 * the list is empty); adds and prunes take the write side.
 */
enum revoke_kind {
	/* The token with this audit id, and every token rescoped from it
	 * (whose parent_audit_id is this id): DELETE /v3/auth/tokens. */
	REVOKE_AUDIT_ID = 1,
	/* Every token of user_id issued at or before issued_before_ms:
	 * password change, user disabled or deleted. */
	REVOKE_USER,
	/* Every token scoped to project_id (or to a domain with that id:
	 * Keystone domains are projects) issued at or before
	 * issued_before_ms: project disabled or deleted. */
	REVOKE_PROJECT,
	/* Every token of user_id scoped to project_id issued at or before
	 * issued_before_ms: role assignment removed. */
	REVOKE_USER_PROJECT,
};

/* A plain record; persisting it is the storage layer's business. Fields a
 * kind does not use are ignored. */
struct revoke_event {
	enum revoke_kind	kind;
	uint8_t			audit_id[TOKEN_ID_LEN];
	uint8_t			user_id[TOKEN_ID_LEN];
	uint8_t			project_id[TOKEN_ID_LEN];
	/* For REVOKE_AUDIT_ID, the time of the revocation: it matches
	 * regardless of time and this only dates the event for pruning. */
	uint64_t		issued_before_ms;
};

struct revoke_list;

struct revoke_list *token_revoke_list_new(void);
void	token_revoke_list_free(struct revoke_list **);
/* Copies ev. Returns -1 with TS_EINVALID (unknown kind) or TS_ENOMEM. */
int	token_revoke_list_add(struct revoke_list *, const struct revoke_event *ev);
/* 0 if no event matches p, else -1 with TS_EUNAUTHORIZED "token revoked". */
int	token_revoke_list_check(const struct revoke_list *,
	    const struct token_payload *p);
/* Drop events no live token can match any more: those dated before
 * now - max_lifetime_s, where max_lifetime_s is at least the longest token
 * lifetime ever issued. Returns the number of events dropped. */
size_t	token_revoke_list_prune(struct revoke_list *, time_t now,
	    unsigned max_lifetime_s);
size_t	token_revoke_list_count(const struct revoke_list *);

#endif
