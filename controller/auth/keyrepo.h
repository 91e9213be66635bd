/*
 * keyrepo: the token key repository, after Keystone's fernet key repository.
 *
 * A directory (mode 0700) holds key files named by a decimal index: "0",
 * "1", "2", ... Each file is mode 0600 and holds one 32-byte key written as
 * URL-safe base64 with padding (44 characters) and a newline, the same shape
 * as a fernet key file, so keys can be inspected and copied with ordinary
 * tools. Files whose names are not a canonical decimal index (no sign, no
 * leading zero) are ignored; ".tmp.*" files are left by an interrupted write
 * and are removed by the next setup or rotate.
 *
 * Roles, as in fernet:
 *   - the highest index is the primary key: it encrypts new tokens;
 *   - every key decrypts, so tokens sealed under an older primary keep
 *     validating until their key is pruned;
 *   - key 0 is the staged key, the next primary. It already decrypts, so a
 *     copy of the repository distributed before the rotation accepts tokens
 *     issued after it.
 *
 * Rotation renames 0 to max+1 (the new primary), writes a new 0, and removes
 * the oldest non-staged keys until at most max_active keys remain (staged
 * included). A token therefore survives max_active - 2 rotations. Every file
 * is written as temp + fsync + rename and the directory is fsynced; setup and
 * rotate hold flock() on the directory so two admin commands cannot interleave.
 *
 * Tokens name their key by a 32-bit key id that is a fingerprint of the key
 * (BLAKE2b keyed by the key itself), not by its file index: the index of the
 * staged key changes when it is promoted, its fingerprint does not. So a
 * server that loaded the repository before a rotation already validates the
 * tokens sealed under the new primary with its copy of staged key 0, which
 * is the point of staging. Two keys sharing a fingerprint (about 1 in 10^6
 * for 64 keys) still work: validation tries each match.
 *
 * A loaded repository (struct keyrepo) is an immutable key set behind a
 * writer-preferring rwlock: readers (token_issue, token_validate) hold the
 * read side only long enough to copy one 32-byte key, and keyrepo_reload()
 * builds the new set outside the lock and swaps it in. Key material lives in
 * sodium_malloc() memory (guarded, locked, read-only once loaded) and every
 * copy is wiped after use.
 */
#ifndef TS_KEYREPO_H
#define TS_KEYREPO_H

#include <stddef.h>
#include <stdint.h>

#define KEYREPO_KEY_LEN		32
/* Upper bound on keys in one repository; Keystone's default is 3. */
#define KEYREPO_MAX_KEYS	64
#define KEYREPO_DEFAULT_MAX_ACTIVE 3

struct keyrepo;

/*
 * Create dir (0700, parent must exist) and, if it holds no key yet, keys 0
 * (staged) and 1 (primary). A repository that already has keys is left as
 * it is (returns 0), like `keystone-manage fernet_setup`. max_active must be
 * 2..KEYREPO_MAX_KEYS. Errors: TS_EINVALID (max_active), TS_ECONFIG (not a
 * directory, writable by group/others), TS_EIO.
 */
int	keyrepo_setup(const char *dir, unsigned max_active);

/*
 * Promote the staged key to primary, stage a new key 0 and prune down to
 * max_active keys. If an earlier rotation was interrupted after promoting
 * (no key 0), this only writes the missing staged key and prunes.
 * Errors: TS_EINVALID, TS_ECONFIG (no keys: run setup first), TS_EIO.
 */
int	keyrepo_rotate(const char *dir, unsigned max_active);

/*
 * Load every key of dir. Refuses (TS_ECONFIG, message names the file and
 * the fix) a missing directory, a directory writable by group or others, a
 * key file accessible by group or others, a symlinked or non-regular key
 * file, a malformed key, and a repository with no keys. The path is copied
 * for keyrepo_reload(). Caller owns the result; free with keyrepo_free().
 */
struct keyrepo	*keyrepo_load(const char *dir);

/* Re-read the directory and swap the key set in atomically. Safe while other
 * threads issue and validate tokens. On failure the old set stays in use and
 * -1 is returned (error as for keyrepo_load). Not safe against a concurrent
 * keyrepo_free(). */
int	keyrepo_reload(struct keyrepo *);

void	keyrepo_free(struct keyrepo **);

/* File index of the primary key and number of keys of the current set. */
uint32_t keyrepo_primary_index(const struct keyrepo *);
size_t	keyrepo_count(const struct keyrepo *);

/*
 * For token.c. Copy the primary key and its key id (fingerprint) into out,
 * or the nth key (0, 1, ... in index order) whose key id is kid. Returns 0,
 * or -1 with TS_EUNAUTHORIZED when there is no such key. The caller must
 * sodium_memzero() out after use.
 */
void	keyrepo_primary_copy(const struct keyrepo *, uint32_t *kid,
	    uint8_t out[KEYREPO_KEY_LEN]);
int	keyrepo_key_copy(const struct keyrepo *, uint32_t kid, unsigned nth,
	    uint8_t out[KEYREPO_KEY_LEN]);

#endif
