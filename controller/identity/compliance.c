/* compliance: [security_compliance] password rules; see compliance.h. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance.h"
#include "err.h"
#include "password.h"

#define DAY_MS	(86400 * (int64_t)1000)

const char *const compliance_option_names[] = {
	"ignore_lockout_failure_attempts",
	"ignore_password_expiry",
	"ignore_change_password_upon_first_use",
	"lock_password",
	NULL
};

struct compliance {
	unsigned	 lockout_attempts;	/* 0: no lockout */
	int64_t		 lockout_ms;
	int64_t		 expires_days;		/* 0: never */
	unsigned	 unique_count;		/* 0: no history */
	int64_t		 min_age_days;
	bool		 first_use;
	bool		 has_regex;
	regex_t		 regex;
	char		*regex_desc;
};

struct compliance *
compliance_new(const struct config *cfg)
{
	const char *sec = "security_compliance", *re;
	struct compliance *c;
	char *anchored;
	size_t n;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	c->lockout_attempts = (unsigned)config_get_int(cfg, sec,
	    "lockout_failure_attempts");
	c->lockout_ms = config_get_int(cfg, sec, "lockout_duration") * 1000;
	c->expires_days = config_get_int(cfg, sec, "password_expires_days");
	c->unique_count = (unsigned)config_get_int(cfg, sec,
	    "unique_last_password_count");
	c->min_age_days = config_get_int(cfg, sec, "minimum_password_age");
	c->first_use = config_get_bool(cfg, sec,
	    "change_password_upon_first_use");
	if ((c->regex_desc = strdup(config_get_str(cfg, sec,
	    "password_regex_description"))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto fail;
	}
	re = config_get_str(cfg, sec, "password_regex");
	if (*re == '\0')
		return c;
	/* re.match: anchored at the start only. */
	n = strlen(re) + 4;
	if ((anchored = malloc(n)) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(anchored, n, "^(%s)", re);
	rc = regcomp(&c->regex, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc != 0) {
		char msg[256];

		regerror(rc, NULL, msg, sizeof(msg));
		err_set(TS_ECONFIG, "[security_compliance] password_regex does "
		    "not compile as a POSIX extended regular expression: %s",
		    msg);
		goto fail;
	}
	c->has_regex = true;
	return c;
fail:
	compliance_free(&c);
	return NULL;
}

void
compliance_free(struct compliance **cp)
{
	struct compliance *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	if (c->has_regex)
		regfree(&c->regex);
	free(c->regex_desc);
	free(c);
	*cp = NULL;
}

bool
compliance_counts_failures(const struct compliance *c)
{
	return c->lockout_attempts > 0;
}

bool
compliance_locked(const struct compliance *c, const struct rec_user *u,
    int64_t now_ms)
{
	if (c->lockout_attempts == 0 ||
	    (u->options & COMPLIANCE_OPT_IGNORE_LOCKOUT))
		return false;
	return u->failed_auth_count >= c->lockout_attempts &&
	    now_ms < u->failed_auth_at + c->lockout_ms;
}

bool
compliance_failure(const struct compliance *c, struct rec_user *u,
    int64_t now_ms)
{
	if (c->lockout_attempts == 0)
		return false;
	if (u->failed_auth_count >= c->lockout_attempts &&
	    now_ms >= u->failed_auth_at + c->lockout_ms)
		u->failed_auth_count = 0;
	if (u->failed_auth_count < UINT32_MAX)
		u->failed_auth_count++;
	u->failed_auth_at = now_ms;
	return true;
}

bool
compliance_success(struct rec_user *u)
{
	if (u->failed_auth_count == 0)
		return false;
	u->failed_auth_count = 0;
	u->failed_auth_at = 0;
	return true;
}

bool
compliance_expired(const struct rec_user *u, int64_t now_ms)
{
	return u->password_expires_at != 0 &&
	    !(u->options & COMPLIANCE_OPT_IGNORE_EXPIRY) &&
	    now_ms >= u->password_expires_at;
}

int
compliance_check_text(const struct compliance *c, const char *pw)
{
	if (!c->has_regex || regexec(&c->regex, pw, 0, NULL, 0) == 0)
		return 0;
	err_set(TS_EINVALID, "The password does not match the requirements: "
	    "%s.", c->regex_desc);
	return -1;
}

int
compliance_check_self_change(const struct compliance *c,
    const struct rec_user *u, int64_t now_ms)
{
	int64_t until, left;

	if (u->options & COMPLIANCE_OPT_LOCK_PASSWORD) {
		err_set(TS_EFORBIDDEN, "You cannot change your password at "
		    "this time due to password policy disallowing password "
		    "changes. Please contact your administrator to reset your "
		    "password.");
		return -1;
	}
	if (c->min_age_days == 0 || !u->password_self_set)
		return 0;
	until = u->password_changed_at + c->min_age_days * DAY_MS;
	if (now_ms >= until)
		return 0;
	/* Whole days left, as Python's timedelta.days. */
	left = (until - now_ms) / DAY_MS;
	err_set(TS_EINVALID, "You cannot change your password at this time due "
	    "to the minimum password age. Once you change your password, it "
	    "must be used for %lld day(s) before it can be changed. Please try "
	    "again in %lld day(s) or contact your administrator to reset your "
	    "password.", (long long)c->min_age_days, (long long)left);
	return -1;
}

static int
reused(const char *hash, const char *pw)
{
	if (hash == NULL)
		return 0;
	if (password_verify(hash, pw) == 0)
		return 1;
	/* A mismatch is the expected answer; anything else is an error. */
	return err_code() == TS_EUNAUTHORIZED ? 0 : -1;
}

int
compliance_check_history(const struct compliance *c,
    const struct rec_user *u, const char *pw)
{
	size_t i, n, first;
	int r;

	if (c->unique_count == 0)
		return 0;
	if ((r = reused(u->password_hash, pw)) == 0) {
		/* The current password counts as one of the last. */
		n = u->password_history.n;
		first = n > c->unique_count - 1 ? n - (c->unique_count - 1) : 0;
		for (i = first; i < n && r == 0; i++)
			r = reused(u->password_history.items[i], pw);
	}
	if (r == -1)
		return -1;
	if (r == 1) {
		err_set(TS_EINVALID, "The new password cannot be identical to a "
		    "previous password. The total number which includes the new "
		    "password must be unique is %u.", c->unique_count);
		return -1;
	}
	err_clear();
	return 0;
}

/* Keep the last keep entries of the history. */
static void
history_trim(struct rec_user *u, size_t keep)
{
	size_t i, drop;

	if (u->password_history.n <= keep)
		return;
	drop = u->password_history.n - keep;
	for (i = 0; i < drop; i++) {
		explicit_bzero(u->password_history.items[i],
		    strlen(u->password_history.items[i]));
		free(u->password_history.items[i]);
	}
	memmove(u->password_history.items, u->password_history.items + drop,
	    keep * sizeof(*u->password_history.items));
	u->password_history.n = keep;
}

int
compliance_set_password(const struct compliance *c, struct rec_user *u,
    const char *hash, bool self_service, int64_t now_ms)
{
	size_t keep = c->unique_count > 0 ? c->unique_count - 1 : 0;
	char *nh = NULL, **items;

	if (hash != NULL && (nh = strdup(hash)) == NULL)
		goto nomem;
	if (keep > 0 && u->password_hash != NULL) {
		items = realloc(u->password_history.items,
		    (u->password_history.n + 1) * sizeof(*items));
		if (items == NULL)
			goto nomem;
		u->password_history.items = items;
		items[u->password_history.n++] = u->password_hash;
	} else if (u->password_hash != NULL) {
		explicit_bzero(u->password_hash, strlen(u->password_hash));
		free(u->password_hash);
	}
	u->password_hash = nh;
	history_trim(u, keep);
	u->password_changed_at = now_ms;
	u->password_self_set = self_service;
	u->password_expires_at = 0;
	if (hash == NULL || (u->options & COMPLIANCE_OPT_IGNORE_EXPIRY))
		return 0;
	if (!self_service && c->first_use &&
	    !(u->options & COMPLIANCE_OPT_IGNORE_FIRST_USE))
		u->password_expires_at = now_ms;
	else if (c->expires_days > 0)
		u->password_expires_at = now_ms + c->expires_days * DAY_MS;
	return 0;
nomem:
	free(nh);
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}
