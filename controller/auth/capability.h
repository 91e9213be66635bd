/*
 * capability: the image download capability the controller hands an agent
 * in each command that may build a guest (compute.schema,
 * instance_spec.image_token), instead of a token of the instance's owner.
 *
 * It allows one thing: GET /v2/images/{id}/file of the image API, for the
 * (at most three) image ids the instance needs (root image, kernel,
 * ramdisk), from the host the instance is placed on (the agent's
 * X-Tinystack-Host header), until it expires (minutes). It names no user,
 * no project and no role: presented anywhere else it is refused exactly as
 * an invalid token is (401), and token_validate() never accepts it (it is
 * not TOKEN_LEN characters of base64 and starts with a '.'-terminated
 * prefix base64 does not contain).
 *
 * Wire form: CAPABILITY_PREFIX then 200 characters of URL-safe base64
 * without padding of 150 bytes (all integers big-endian):
 *
 *   0    u8   format (1)
 *   1    u32  key id (fingerprint of the token key it was derived from)
 *   5    u64  issued_at, seconds since the epoch
 *   13   u64  expires_at, seconds since the epoch
 *   21   16   instance UUID
 *   37   32   SHA-256 of the host name
 *   69   u8   number of image ids, 1..CAPABILITY_MAX_IMAGES
 *   70   48   image UUIDs, 16 bytes each; unused slots zero
 *   118  32   HMAC-SHA256 of bytes 0..117
 *
 * The MAC key is derived from a key of the identity token repository
 * (keyrepo.h) with crypto_kdf (BLAKE2b, context "tscapab1"), so token keys
 * are never used directly for a second purpose, and capabilities follow key
 * rotation: minted under the primary key, accepted under any loaded key.
 * The content is not secret (the agent knows all of it) and is not
 * encrypted; only its integrity matters.
 *
 * Format 2 is the upload capability of a server snapshot or backup
 * (compute_snapshot.c): the same layout with exactly one image, allowing
 * only PUT /v2/images/{id}/file of that image, from the instance's host.
 * Each check accepts its own format only: a download capability never
 * uploads and an upload capability never downloads.
 *
 * The host is bound by its hash: a capability copied out of another
 * agent's command (or its configuration) is refused from any other host
 * name, but the header is only as trustworthy as the connection: someone
 * who can read the request on the wire can replay both until expiry. TLS
 * on the image API closes that.
 */
#ifndef TS_CAPABILITY_H
#define TS_CAPABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "keyrepo.h"

#define CAPABILITY_PREFIX	"tscap1."
#define CAPABILITY_MAX_IMAGES	3
#define CAPABILITY_LEN		207	/* characters, always exactly */
#define CAPABILITY_BUFSZ	(CAPABILITY_LEN + 1)

/* Does tok claim to be a capability (its prefix; nothing verified)? */
bool	capability_is(const char *tok);

/*
 * A capability for host to download images[0..n-1] (canonical UUIDs, 1..
 * CAPABILITY_MAX_IMAGES; duplicates allowed) for instance, issued at now
 * for lifetime_s seconds (> 0), into out (outlen >= CAPABILITY_BUFSZ).
 * -1 with TS_EINVALID for bad arguments.
 */
int	capability_issue(const struct keyrepo *, const char *host,
	    const char *instance, const char *const *images, size_t n,
	    time_t now, unsigned lifetime_s, char *out, size_t outlen);

/*
 * Check cap for a download of image_id by host at now: format and MAC
 * under any key of the repository, expiry (expired when expires_at <=
 * now), host. -1 with TS_EUNAUTHORIZED for any of those (the message says
 * which, for the log; never any part of cap), then TS_ENOT_FOUND when
 * image_id is not one of its images (Glance's answer for an image the
 * caller cannot see: a capability does not reveal which other images
 * exist). instance (may be NULL) gets the instance UUID on success.
 */
int	capability_check(const struct keyrepo *, const char *cap, time_t now,
	    const char *host, const char *image_id, char instance[37]);

/* The upload capability (format 2) of image for instance on host. */
int	capability_issue_upload(const struct keyrepo *, const char *host,
	    const char *instance, const char *image, time_t now,
	    unsigned lifetime_s, char *out, size_t outlen);
/* capability_check() for an upload (format 2 only). */
int	capability_check_upload(const struct keyrepo *, const char *cap,
	    time_t now, const char *host, const char *image_id,
	    char instance[37]);

#endif
