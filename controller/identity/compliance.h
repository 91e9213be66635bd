/*
 * compliance: Keystone's [security_compliance] (PCI-DSS) rules for local
 * passwords: lockout after failed checks, password expiry (and the
 * "change upon first use" variant: a password expired from the start),
 * password history, minimum age, a password regex, and the user options
 * that exempt a user (ignore_lockout_failure_attempts,
 * ignore_password_expiry, ignore_change_password_upon_first_use) or forbid
 * self-service changes (lock_password).
 *
 * The state lives in the user record (failed_auth_count/_at,
 * password_expires_at, password_self_set, password_history, options:
 * schemas/records.schema); these functions only decide and update a
 * struct rec_user in memory, with the time passed in, so the rules are
 * tested without a clock or a store. Everything is off by default: with
 * the default config no function refuses anything and records keep their
 * zero state.
 */
#ifndef TS_COMPLIANCE_H
#define TS_COMPLIANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "msg_gen.h"

/* Bits of rec_user.options (Keystone's boolean user options). */
#define COMPLIANCE_OPT_IGNORE_LOCKOUT	0x1u	/* ignore_lockout_failure_attempts */
#define COMPLIANCE_OPT_IGNORE_EXPIRY	0x2u	/* ignore_password_expiry */
#define COMPLIANCE_OPT_IGNORE_FIRST_USE	0x4u	/* ignore_change_password_upon_first_use */
#define COMPLIANCE_OPT_LOCK_PASSWORD	0x8u	/* lock_password */

/* Name of each bit as the API spells it, NULL-terminated, index i = bit i. */
extern const char *const compliance_option_names[];

struct compliance;

/*
 * The rules of cfg's [security_compliance]. NULL with err set:
 * TS_ECONFIG for a password_regex that does not compile, TS_ENOMEM.
 */
struct compliance *compliance_new(const struct config *cfg);
void	compliance_free(struct compliance **);

/* Is the lockout on (failures worth storing)? */
bool	compliance_counts_failures(const struct compliance *);
/* Is u locked out at now_ms? (attempts reached and the last failure less
 * than lockout_duration ago, unless the user ignores lockouts.) */
bool	compliance_locked(const struct compliance *, const struct rec_user *u,
	    int64_t now_ms);
/*
 * Record a failed password check on u: a lockout that has run out starts
 * the count again (Keystone resets it when it sees the lock expired).
 * Returns true if u changed (lockout enabled), false if there is nothing
 * to store.
 */
bool	compliance_failure(const struct compliance *, struct rec_user *u,
	    int64_t now_ms);
/* A successful check: true if u changed (a failure count was cleared). */
bool	compliance_success(struct rec_user *u);

/* Is u's password expired at now_ms (and the user not exempt)? */
bool	compliance_expired(const struct rec_user *u, int64_t now_ms);

/*
 * A new password's text against password_regex (a match from its first
 * character, as Python's re.match). -1 TS_EINVALID with Keystone's
 * message naming password_regex_description.
 */
int	compliance_check_text(const struct compliance *, const char *pw);

/*
 * May u change its own password at now_ms? -1 with Keystone's errors:
 * TS_EFORBIDDEN (lock_password), TS_EINVALID (minimum_password_age, for a
 * password the user set itself).
 */
int	compliance_check_self_change(const struct compliance *,
	    const struct rec_user *u, int64_t now_ms);

/*
 * Is pw one of u's last unique_last_password_count passwords (the current
 * one and the history)? 0 if not (or no history is kept), -1 TS_EINVALID
 * with Keystone's message if it is, or another error of
 * password_verify(). Costs one argon2id verification per password
 * compared: call it outside any transaction.
 */
int	compliance_check_history(const struct compliance *,
	    const struct rec_user *u, const char *pw);

/*
 * Set u's password to hash (an argon2id string, or NULL to remove it) at
 * now_ms: the old hash goes into the history (trimmed to the configured
 * count), the expiry and the self-service flag are set. self_service: the
 * user changed its own password (never "first use"); otherwise creation
 * or an administrator's reset. -1 TS_ENOMEM.
 */
int	compliance_set_password(const struct compliance *, struct rec_user *u,
	    const char *hash, bool self_service, int64_t now_ms);

#endif
