/*
 * libFuzzer target for controller/token.c (and the key look-up of
 * controller/keyrepo.c).
 *
 * Properties checked on arbitrary bytes:
 *  - token_validate() of the bytes as a string never crashes, leaks or reads
 *    out of bounds, and a rejection leaves the output zeroed;
 *  - token_payload_unpack() of the bytes accepts only canonical payloads:
 *    what it accepts packs back to the same bytes, seals, and validates to
 *    the same payload;
 *  - the audit id and identity id parsers accept only what their formatters
 *    print back unchanged;
 *  - capability_check() (controller/auth/capability.c) of the bytes as a
 *    string never crashes and never accepts: nothing but the key's holder
 *    makes a valid MAC; the bytes after the capability prefix get the same
 *    (so the fuzzer needs not find the prefix).
 * The key repository lives in a temporary directory made at start-up.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/capability.h"
#include "auth/keyrepo.h"
#include "auth/token.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct keyrepo *repo;
static char base[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
cleanup(void)
{
	keyrepo_free(&repo);
	nftw(base, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char keys[128];

	snprintf(base, sizeof(base), "/tmp/ts-fuzz-token-XXXXXX");
	if (mkdtemp(base) == NULL)
		abort();
	snprintf(keys, sizeof(keys), "%s/keys", base);
	if (keyrepo_setup(keys, 3) != 0 ||
	    (repo = keyrepo_load(keys)) == NULL)
		abort();
	atexit(cleanup);
	return 0;
}

static void
check_payload(const uint8_t *data, size_t size)
{
	struct token_payload p, back;
	uint8_t buf[TOKEN_PAYLOAD_LEN];
	char tok[TOKEN_BUFSZ];

	if (token_payload_unpack(data, size, &p) != 0) {
		if (!sodium_is_zero((const uint8_t *)&p, sizeof(p)))
			abort();
		return;
	}
	if (token_payload_pack(&p, buf) != 0 || size != sizeof(buf) ||
	    memcmp(buf, data, size) != 0)
		abort();
	if (token_issue(repo, &p, tok, sizeof(tok)) != 0 ||
	    strlen(tok) != TOKEN_LEN)
		abort();
	/* Valid at the instant of issue: expires_at > issued_at. */
	if (token_validate(repo, tok, (time_t)(p.issued_at_ms / 1000),
	    &back) != 0 || token_payload_pack(&back, buf) != 0 ||
	    memcmp(buf, data, size) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_payload p;
	uint8_t id[TOKEN_ID_LEN], id2[TOKEN_ID_LEN];
	char aud[TOKEN_AUDIT_BUFSZ], ids[TOKEN_ID_BUFSZ];
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (token_validate(repo, s, 1700000000, &p) != 0 &&
	    !sodium_is_zero((const uint8_t *)&p, sizeof(p)))
		abort();
	check_payload(data, size);
	if (capability_check(repo, s, 1700000000, "h1",
	    "8a1f6d3e-5b2c-4f7a-9e0d-1c2b3a4d5e6f", NULL) == 0 ||
	    capability_check_upload(repo, s, 1700000000, "h1",
	    "8a1f6d3e-5b2c-4f7a-9e0d-1c2b3a4d5e6f", NULL) == 0)
		abort();
	if (size <= CAPABILITY_LEN) {
		char c[CAPABILITY_BUFSZ + 8];

		snprintf(c, sizeof(c), "%s%s", CAPABILITY_PREFIX, s);
		if (capability_check(repo, c, 1700000000, "h1",
		    "8a1f6d3e-5b2c-4f7a-9e0d-1c2b3a4d5e6f", NULL) == 0 ||
		    capability_check_upload(repo, c, 1700000000, "h1",
		    "8a1f6d3e-5b2c-4f7a-9e0d-1c2b3a4d5e6f", NULL) == 0)
			abort();
	}
	if (token_audit_id_parse(s, id) == 0) {
		token_audit_id_format(id, aud);
		if (strcmp(aud, s) != 0)
			abort();
	}
	if (token_id_parse(s, id) == 0) {
		token_id_format(id, ids);
		if (token_id_parse(ids, id2) != 0 ||
		    memcmp(id, id2, sizeof(id)) != 0)
			abort();
	}
	free(s);
	return 0;
}
