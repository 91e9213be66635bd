/* Unit tests for controller/auth/capability.c: the image download
 * capability's round trip and every refusal (tampering, expiry, another
 * image, another host, another key repository), key rotation, and that a
 * capability is never a Keystone token nor the other way round. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "err.h"
#include "auth/capability.h"
#include "auth/keyrepo.h"
#include "auth/token.h"

#define NOW	((time_t)1700000000)
#define LIFE	300u
#define HOST	"compute-1"
#define INST	"0b6c8bfc-1d3a-4c1e-9a7e-3f0a3e2b1c4d"
#define IMG	"8a1f6d3e-5b2c-4f7a-9e0d-1c2b3a4d5e6f"
#define KERNEL	"c7e2a9b1-3d4f-4a5b-8c6d-7e8f9a0b1c2d"
#define RAMDISK	"1e2d3c4b-5a69-4788-9abc-def012345678"
#define OTHER	"99999999-9999-4999-8999-999999999999"

struct fx {
	char		 base[64];
	char		 keys[128];
	struct keyrepo	*repo;
	char		 cap[CAPABILITY_BUFSZ];
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
	const char *imgs[] = { IMG, KERNEL, RAMDISK };

	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "%s/ts-cap-XXXXXX",
	    tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->keys, sizeof(f->keys), "%s/keys", f->base);
	assert_int_equal(keyrepo_setup(f->keys, 3), 0);
	assert_non_null(f->repo = keyrepo_load(f->keys));
	assert_int_equal(capability_issue(f->repo, HOST, INST, imgs, 3, NOW,
	    LIFE, f->cap, sizeof(f->cap)), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	keyrepo_free(&f->repo);
	nftw(f->base, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
refused(const struct fx *f, const char *cap, time_t now, const char *host,
    const char *img, enum ts_errcode code)
{
	char inst[37] = "unchanged";

	assert_int_equal(capability_check(f->repo, cap, now, host, img,
	    inst), -1);
	assert_int_equal(err_code(), code);
	assert_string_equal(inst, "unchanged");
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	char inst[37];

	assert_int_equal(strlen(f->cap), CAPABILITY_LEN);
	assert_true(capability_is(f->cap));
	assert_memory_equal(f->cap, CAPABILITY_PREFIX,
	    strlen(CAPABILITY_PREFIX));
	/* Each of its images, at issue and until the last second. */
	assert_int_equal(capability_check(f->repo, f->cap, NOW, HOST, IMG,
	    inst), 0);
	assert_string_equal(inst, INST);
	assert_int_equal(capability_check(f->repo, f->cap, NOW + LIFE - 1,
	    HOST, KERNEL, NULL), 0);
	assert_int_equal(capability_check(f->repo, f->cap, NOW, HOST, RAMDISK,
	    NULL), 0);
}

static void
test_single_image(void **state)
{
	struct fx *f = *state;
	const char *one[] = { IMG };
	char cap[CAPABILITY_BUFSZ];

	assert_int_equal(capability_issue(f->repo, HOST, INST, one, 1, NOW,
	    LIFE, cap, sizeof(cap)), 0);
	assert_int_equal(capability_check(f->repo, cap, NOW, HOST, IMG, NULL),
	    0);
	/* Unused slots are zero: the nil UUID is not in it either. */
	refused(f, cap, NOW, HOST, KERNEL, TS_ENOT_FOUND);
	refused(f, cap, NOW, HOST, "00000000-0000-0000-0000-000000000000",
	    TS_ENOT_FOUND);
}

/* An upload capability (format 2) names one image and does only that:
 * the download check refuses it, and the upload check refuses a download
 * capability, another image, another host and expiry. */
static void
test_upload(void **state)
{
	struct fx *f = *state;
	char cap[CAPABILITY_BUFSZ], inst[37] = "unchanged";

	assert_int_equal(capability_issue_upload(f->repo, HOST, INST, IMG, NOW,
	    LIFE, cap, sizeof(cap)), 0);
	assert_int_equal(strlen(cap), CAPABILITY_LEN);
	assert_true(capability_is(cap));
	assert_int_equal(capability_check_upload(f->repo, cap, NOW, HOST, IMG,
	    inst), 0);
	assert_string_equal(inst, INST);
	refused(f, cap, NOW, HOST, IMG, TS_EUNAUTHORIZED);	/* download */
	assert_int_equal(capability_check_upload(f->repo, f->cap, NOW, HOST,
	    IMG, NULL), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	assert_int_equal(capability_check_upload(f->repo, cap, NOW, HOST,
	    KERNEL, NULL), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_int_equal(capability_check_upload(f->repo, cap, NOW, "h2",
	    IMG, NULL), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	assert_int_equal(capability_check_upload(f->repo, cap, NOW + LIFE,
	    HOST, IMG, NULL), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	assert_int_equal(capability_issue_upload(f->repo, HOST, INST, "x",
	    NOW, LIFE, cap, sizeof(cap)), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

/* Every single changed character of the encoding is refused. */
static void
test_tampered(void **state)
{
	struct fx *f = *state;
	char t[CAPABILITY_BUFSZ];
	size_t i, plen = strlen(CAPABILITY_PREFIX);

	for (i = 0; i < CAPABILITY_LEN; i++) {
		memcpy(t, f->cap, sizeof(t));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		refused(f, t, NOW, HOST, IMG, TS_EUNAUTHORIZED);
	}
	/* A prefix that is not the capability's is not one. */
	memcpy(t, f->cap, sizeof(t));
	t[plen - 1] = '_';
	assert_false(capability_is(t));
	/* Truncated, extended, empty, NULL. */
	memcpy(t, f->cap, sizeof(t));
	t[CAPABILITY_LEN - 1] = '\0';
	refused(f, t, NOW, HOST, IMG, TS_EUNAUTHORIZED);
	refused(f, "", NOW, HOST, IMG, TS_EUNAUTHORIZED);
	refused(f, NULL, NOW, HOST, IMG, TS_EUNAUTHORIZED);
	{
		char longer[CAPABILITY_BUFSZ + 1];

		snprintf(longer, sizeof(longer), "%sA", f->cap);
		refused(f, longer, NOW, HOST, IMG, TS_EUNAUTHORIZED);
	}
}

static void
test_expired(void **state)
{
	struct fx *f = *state;

	refused(f, f->cap, NOW + LIFE, HOST, IMG, TS_EUNAUTHORIZED);
	refused(f, f->cap, NOW + 10 * LIFE, HOST, IMG, TS_EUNAUTHORIZED);
}

static void
test_other_image(void **state)
{
	struct fx *f = *state;

	refused(f, f->cap, NOW, HOST, OTHER, TS_ENOT_FOUND);
	refused(f, f->cap, NOW, HOST, "not-a-uuid", TS_ENOT_FOUND);
	refused(f, f->cap, NOW, HOST, NULL, TS_ENOT_FOUND);
	/* Upper case is another string: image ids are canonical. */
	refused(f, f->cap, NOW, HOST, "8A1F6D3E-5B2C-4F7A-9E0D-1C2B3A4D5E6F",
	    TS_ENOT_FOUND);
}

/* The host check comes before the image: another host learns nothing. */
static void
test_other_host(void **state)
{
	struct fx *f = *state;

	refused(f, f->cap, NOW, "compute-2", IMG, TS_EUNAUTHORIZED);
	refused(f, f->cap, NOW, "compute-2", OTHER, TS_EUNAUTHORIZED);
	refused(f, f->cap, NOW, HOST "x", IMG, TS_EUNAUTHORIZED);
	refused(f, f->cap, NOW, "", IMG, TS_EUNAUTHORIZED);
	refused(f, f->cap, NOW, NULL, IMG, TS_EUNAUTHORIZED);
}

/* Minted under the old primary, accepted after one rotation (the key is
 * still loaded), refused by another repository. */
static void
test_keys(void **state)
{
	struct fx *f = *state;
	char other[160];
	struct keyrepo *o;

	assert_int_equal(keyrepo_rotate(f->keys, 3), 0);
	assert_int_equal(keyrepo_reload(f->repo), 0);
	assert_int_equal(capability_check(f->repo, f->cap, NOW, HOST, IMG,
	    NULL), 0);
	snprintf(other, sizeof(other), "%s/other", f->base);
	assert_int_equal(keyrepo_setup(other, 3), 0);
	assert_non_null(o = keyrepo_load(other));
	assert_int_equal(capability_check(o, f->cap, NOW, HOST, IMG, NULL),
	    -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	keyrepo_free(&o);
}

/* A capability is no Keystone token, and a token is no capability. */
static void
test_not_a_token(void **state)
{
	struct fx *f = *state;
	struct token_payload p, out;
	uint8_t id[TOKEN_ID_LEN] = { 1, 2, 3 };
	char tok[TOKEN_BUFSZ];

	assert_int_equal(token_validate(f->repo, f->cap, NOW, &out), -1);
	assert_int_equal(err_code(), TS_EUNAUTHORIZED);
	/* Even without its prefix, the body is no token. */
	assert_int_equal(token_validate(f->repo, f->cap +
	    strlen(CAPABILITY_PREFIX), NOW, &out), -1);
	token_payload_init(&p, TOKEN_METHOD_PASSWORD, id, TOKEN_SCOPE_PROJECT,
	    id, (uint64_t)NOW * 1000, LIFE);
	assert_int_equal(token_issue(f->repo, &p, tok, sizeof(tok)), 0);
	assert_false(capability_is(tok));
	refused(f, tok, NOW, HOST, IMG, TS_EUNAUTHORIZED);
}

static void
test_bad_issue(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { IMG, KERNEL, RAMDISK, OTHER };
	const char *bad[] = { "nope" };
	char cap[CAPABILITY_BUFSZ];

	assert_int_equal(capability_issue(f->repo, HOST, INST, imgs, 4, NOW,
	    LIFE, cap, sizeof(cap)), -1);
	assert_int_equal(capability_issue(f->repo, HOST, INST, imgs, 0, NOW,
	    LIFE, cap, sizeof(cap)), -1);
	assert_int_equal(capability_issue(f->repo, HOST, INST, bad, 1, NOW,
	    LIFE, cap, sizeof(cap)), -1);
	assert_int_equal(capability_issue(f->repo, HOST, "x", imgs, 1, NOW,
	    LIFE, cap, sizeof(cap)), -1);
	assert_int_equal(capability_issue(f->repo, "", INST, imgs, 1, NOW,
	    LIFE, cap, sizeof(cap)), -1);
	assert_int_equal(capability_issue(f->repo, HOST, INST, imgs, 1, NOW,
	    0, cap, sizeof(cap)), -1);
	assert_int_equal(capability_issue(f->repo, HOST, INST, imgs, 1, NOW,
	    LIFE, cap, CAPABILITY_LEN), -1);
	assert_int_equal(err_code(), TS_EINVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_image, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_image, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_host, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_token, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_issue, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
