/*
 * policy: RBAC rules in the oslo.policy language, as Keystone's policy.json.
 *
 * A policy maps rule names ("identity:get_user") to check strings. The
 * language is a subset of oslo.policy's:
 *
 *   ""  "@"                 always
 *   "!"                     never
 *   role:NAME               the caller has role NAME (case-insensitive)
 *   rule:NAME               the rule NAME holds
 *   ATTR:LITERAL            credential attribute equals LITERAL
 *   ATTR:%(KEY)s            credential attribute equals target value KEY
 *   not X,  X and Y,  X or Y,  ( X )
 *
 * Precedence: not binds tightest, then and, then or; keywords are
 * case-insensitive. ATTR is one of user_id, project_id, domain_id,
 * user_domain_id, project_domain_id, system_scope (value "all" for a
 * system-scoped token), is_admin (literal True/False/1/0 only), or
 * Keystone's aliases token.user.domain.id, token.project.id,
 * token.project.domain.id, token.domain.id. A credential attribute that is
 * unset or empty, or a target key that is absent, never matches. oslo's
 * http: checks, literal left-hand sides and partial %()s substitutions are
 * not supported and are rejected at load, as are references to unknown rules
 * and reference cycles: a policy that loads cannot fail at enforce time.
 *
 * Limits: a check string of POLICY_MAX_CHECK bytes, POLICY_MAX_NODES terms,
 * POLICY_MAX_DEPTH nested parentheses/nots; POLICY_MAX_RULES rules; a
 * policy file of POLICY_MAX_FILE bytes; evaluation (nesting across rule
 * references) at most POLICY_MAX_EVAL_DEPTH deep, so enforcement uses a
 * small, bounded stack. Errors name the rule and the column.
 *
 * A loaded policy is immutable: policy_enforce() may run on any number of
 * threads at once, takes no lock and allocates nothing.
 *
 * Security: build the target only from the token and database look-ups,
 * never from the request body (CVE-2026-42999: a body field overriding
 * project_id or user_id walked past RBAC).
 */
#ifndef TS_POLICY_H
#define TS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define POLICY_MAX_CHECK	4096
#define POLICY_MAX_NAME		255
#define POLICY_MAX_NODES	256
#define POLICY_MAX_DEPTH	32
#define POLICY_MAX_RULES	4096
#define POLICY_MAX_FILE		(1024 * 1024)
#define POLICY_MAX_EVAL_DEPTH	128

/* One built-in rule. Tables end with { NULL, NULL, NULL }. */
struct policy_default {
	const char	*name;
	const char	*check;
	const char	*description;	/* one sentence, for the sample */
};

/* What the caller's token says. Strings are borrowed for the call; NULL or
 * "" means unset. */
struct policy_creds {
	const char		*user_id;
	const char		*user_domain_id;
	const char		*project_id;	/* project-scoped tokens */
	const char		*project_domain_id;
	const char		*domain_id;	/* domain-scoped tokens */
	bool			 system_scope;	/* system-scoped token */
	/* The cloud-admin context as the caller defines it (Keystone's
	 * is_admin); the built-in defaults do not use it. */
	bool			 is_admin;
	const char *const	*roles;		/* role names */
	size_t			 nroles;
};

struct policy_kv {
	const char	*key;
	const char	*value;
};

/* The object acted on, as flat keys ("target.user.id"), borrowed. */
struct policy_target {
	const struct policy_kv	*kv;
	size_t			 n;
};

struct policy;

/*
 * Build a policy from the default tables (a NULL-terminated array of
 * { NULL, NULL, NULL }-terminated tables; a name defined twice is an
 * error), then the rules of json (may be NULL), which replace defaults of
 * the same name or add rules. origin names json in messages. Every check
 * string is parsed, references are resolved, cycles and limits are
 * checked. Returns NULL with TS_ECONFIG (message: origin, line or rule,
 * column, what) or TS_ENOMEM. Caller owns the result.
 *
 * json is the text of a policy file in either form oslo.policy reads:
 * - JSON (policy.json): {"rule": "check", ...}, when the first character
 *   that is not white space is '{' (or '[', refused);
 * - YAML (policy.yaml), only the subset oslopolicy-sample-generator and
 *   operators write: one `"rule": "check"` mapping entry per line at
 *   column 0, keys and values plain, 'single' or "double" quoted (escapes
 *   \" \\ \/ \t only), '#' comments (whole lines, or after a value
 *   and a blank), blank lines, an optional leading "---". Anything else
 *   (indentation, flow collections, anchors, tags, block scalars, a plain
 *   value starting with a YAML indicator such as @ or !, duplicate keys)
 *   is refused with the line number rather than guessed at. A file of only
 *   comments and blank lines (the installed policy.yaml) overrides
 *   nothing.
 */
struct policy	*policy_new(const struct policy_default *const *tables,
		    const char *json, size_t jsonlen, const char *origin);

/* As policy_new() with the contents of the file at path (NULL: defaults
 * only). A missing or unreadable file is an error (TS_ECONFIG). */
struct policy	*policy_load(const struct policy_default *const *tables,
		    const char *path);

void	policy_free(struct policy **);

/*
 * 0 if the rule allows creds to act on target (NULL: no keys), else -1
 * with TS_EFORBIDDEN "Policy doesn't allow RULE to be performed.". A rule
 * the policy does not define falls back to the rule "default" (denied if
 * there is none), as oslo.policy does.
 */
int	policy_enforce(const struct policy *, const char *rule,
	    const struct policy_creds *creds,
	    const struct policy_target *target);

/* Whether the policy defines rule (without the "default" fallback). */
bool	policy_has_rule(const struct policy *, const char *rule);

/*
 * Write every rule of the tables in the format oslopolicy-sample-generator
 * writes for YAML: the description as '# ' lines (wrapped at 70 columns),
 * then `#"rule": "check"`, then a blank line. Returns 0, or -1 with TS_EIO.
 */
int	policy_print_sample(const struct policy_default *const *tables,
	    FILE *fp);

/*
 * Built-in rules for the identity API, Keystone's names and legacy
 * (project-scoped admin) semantics plus system-scoped readers. Target keys
 * the rules read:
 *   user_id               the {user_id} of the URL (owner rules)
 *   target.user.id        the user acted on
 *   target.project.id     the project acted on
 *   target.domain.id      the domain acted on
 *   target.token.user_id  the user of the X-Subject-Token
 */
extern const struct policy_default policy_identity_defaults[];

#endif
