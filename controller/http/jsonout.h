/*
 * jsonout: JSON text written straight into a buf, for the large responses
 * (os-hypervisors at fleet scale) where building jansson objects first
 * costs more than the data. The bytes are what jansson's json_dumps(...,
 * JSON_COMPACT) writes for the same values (jsonout_test compares them),
 * so a view may move between the two without clients seeing a difference.
 *
 * Errors stick in the buf (see buf.h): write many pieces, check once with
 * the last call or buf.failed; a string that is not valid UTF-8 fails the
 * buf with TS_EINVALID (jansson refuses it too).
 */
#ifndef TS_JSONOUT_H
#define TS_JSONOUT_H

#include <stdint.h>

#include "buf.h"

/* A JSON string: quoted, escaped as jansson escapes. */
int	jsonout_str(struct buf *, const char *s);
/* What jsonout_str() writes between the quotes: pieces of one string may
 * be escaped apart when each is valid UTF-8 on its own. */
int	jsonout_chars(struct buf *, const char *s);
/* jsonout_str(s), or null when s is NULL. */
int	jsonout_str_or_null(struct buf *, const char *s);
/* A decimal integer. */
int	jsonout_int(struct buf *, int64_t v);
/* "key": (a key and its colon; key is a plain literal, not escaped). */
int	jsonout_key(struct buf *, const char *key);

#endif
