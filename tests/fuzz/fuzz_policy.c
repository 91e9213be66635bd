/*
 * libFuzzer target for controller/policy.c.
 *
 * The same bytes are tried three ways:
 *  - as a policy file (JSON when it starts with '{' or '[', the YAML
 *    subset otherwise) merged over the identity defaults: loading never
 *    crashes, leaks, overflows the stack or reads out of bounds, and when it
 *    loads, enforcing the identity rules and a few others for several
 *    personas never fails in any way other than a clean TS_EFORBIDDEN;
 *  - as the value of a YAML line ("fuzz": <bytes>), so that the scalar
 *    readers (plain, 'single', "double" with escapes, comments after the
 *    value) see every input even when the first byte would make it JSON;
 *  - as a single check string: the parser terminates on any bytes, and a
 *    rule that loads evaluates to the same decision twice (no hidden state).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "auth/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const r_admin[] = { "admin", "member", "reader" };
static const char *const r_reader[] = { "Reader", "x" };
static const struct policy_creds creds[] = {
	{ .user_id = "u1", .project_id = "p1", .project_domain_id = "d1",
	  .roles = r_admin, .nroles = 3 },
	{ .user_id = "u2", .project_id = "p1", .roles = r_reader,
	  .nroles = 2 },
	{ .user_id = "u3", .system_scope = true, .is_admin = true,
	  .roles = r_reader, .nroles = 1 },
	{ .user_id = "" },
};
static const struct policy_kv kv[] = {
	{ "user_id", "u2" }, { "project_id", "p1" },
	{ "target.user.id", "u1" }, { "target.project.id", "p1" },
	{ "target.domain.id", "d1" }, { "target.token.user_id", "u2" },
	{ "x", "" },
};
static const struct policy_target target = { kv, 7 };

static void
enforce_all(const struct policy *p, const char *rule)
{
	size_t i;
	int a, b;

	for (i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
		err_clear();
		a = policy_enforce(p, rule, &creds[i], &target);
		if (a != 0 && (a != -1 || err_code() != TS_EFORBIDDEN))
			abort();
		b = policy_enforce(p, rule, &creds[i], &target);
		if (a != b)
			abort();
	}
	(void)policy_enforce(p, rule, NULL, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct policy_default *tabs[] = { policy_identity_defaults,
	    NULL };
	const struct policy_default *d;
	struct policy_default one[] = {
		{ "fuzz", NULL, NULL }, { "x", "role:x", NULL },
		{ "default", "!", NULL },
		{ NULL, NULL, NULL },
	};
	const struct policy_default *tabs1[] = { one, NULL };
	struct policy *p;
	char *s;

	p = policy_new(tabs, (const char *)data, size, "fuzz");
	if (p != NULL) {
		for (d = policy_identity_defaults; d->name != NULL; d++)
			enforce_all(p, d->name);
		enforce_all(p, "a");
		enforce_all(p, "rule");
		policy_free(&p);
	} else if (err_code() != TS_ECONFIG && err_code() != TS_ENOMEM) {
		abort();
	}

	if ((s = malloc(size + 9)) == NULL)
		return 0;
	memcpy(s, "\"fuzz\": ", 8);
	memcpy(s + 8, data, size);
	p = policy_new(tabs1, s, size + 8, "fuzz.yaml");
	if (p != NULL) {
		enforce_all(p, "fuzz");
		policy_free(&p);
	} else if (err_code() != TS_ECONFIG && err_code() != TS_ENOMEM) {
		abort();
	}

	memcpy(s, data, size);
	s[size] = '\0';
	one[0].check = s;
	p = policy_new(tabs1, NULL, 0, "fuzz");
	if (p != NULL) {
		enforce_all(p, "fuzz");
		policy_free(&p);
	} else if (err_code() != TS_ECONFIG && err_code() != TS_ENOMEM) {
		abort();
	}
	free(s);
	return 0;
}
