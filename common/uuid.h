/*
 * uuid: the one check of a UUID's text form.
 *
 * Accepted is exactly the canonical form libuuid's uuid_unparse_lower()
 * writes and every id in tinystack has: 36 characters, lower-case hex
 * digits, dashes at offsets 8, 13, 18 and 23, then the terminating NUL.
 * Upper case, braces, "urn:uuid:" and the 32-digit form without dashes are
 * refused; a caller that accepts them (the compute API's name-or-id
 * look-ups) folds the case itself first.
 *
 * The name shadows nothing: libuuid's header is always included as
 * <uuid/uuid.h>.
 */
#ifndef TS_UUID_H
#define TS_UUID_H

#include <stdbool.h>

#define UUID_TEXT_LEN	36	/* characters, without the NUL */

/* True if s is a canonical lower-case UUID; false for NULL. */
bool	uuid_valid(const char *s);

#endif
