/*
 * compute_sshkey (prefix sshkey_): OpenSSH key material for key pairs.
 *
 * - Public keys as users import them ("ssh-ed25519 AAAA... comment"):
 *   parsed strictly (known type, base64 that decodes, and a blob whose
 *   embedded type name equals the declared one), so a key pair can never
 *   carry text that would break authorized_keys in a guest.
 * - Fingerprints as Nova shows them: MD5 of the key blob, colon hex.
 * - Server-side generation of ed25519 pairs with libsodium; the private
 *   key is written in OpenSSH's own format ("openssh-key-v1", no
 *   passphrase), what `ssh -i` reads. It is returned once and never kept.
 */
#ifndef TS_CONTROLLER_COMPUTE_SSHKEY_H
#define TS_CONTROLLER_COMPUTE_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#define SSHKEY_TEXT_MAX		16384	/* longest public key line */
#define SSHKEY_FP_LEN		47	/* "aa:bb:...:ff" */

/* MD5 (RFC 1321) of buf; only for fingerprints, never for security. */
void	sshkey_md5(const void *buf, size_t len, uint8_t out[16]);

/*
 * Parse an OpenSSH public key line. On success *blob is the decoded key
 * blob (owned, free()) and type the key type ("ssh-rsa", ...). -1 with
 * TS_EINVALID "Keypair data is invalid: ..." otherwise.
 */
int	sshkey_public_parse(const char *text, char type[32], uint8_t **blob,
	    size_t *bloblen);

/* "xx:xx:..." MD5 fingerprint of a key blob. */
void	sshkey_fingerprint(const uint8_t *blob, size_t len,
	    char out[SSHKEY_FP_LEN + 1]);

/*
 * A new ed25519 key pair: *public_line "ssh-ed25519 <b64> <comment>" and
 * *private_pem "-----BEGIN OPENSSH PRIVATE KEY-----..." (both owned;
 * wipe and free the private key with sshkey_private_free()). *fp gets the
 * fingerprint. -1 with err set.
 */
int	sshkey_ed25519_new(const char *comment, char **public_line,
	    char **private_pem, char fp[SSHKEY_FP_LEN + 1]);
void	sshkey_private_free(char **pem);

#endif
