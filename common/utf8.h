/*
 * utf8: the one UTF-8 validator.
 *
 * Strict RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF, no lead bytes 0xc0, 0xc1 or 0xf5..0xff. This is what
 * jansson, libvirt's XML parser and Python's strict decoder accept, so text
 * that passes here is never refused further on.
 */
#ifndef TS_UTF8_H
#define TS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid sequence at s, which has n >= 1 readable
 * bytes; 0 if the bytes there are not valid UTF-8 (or the sequence is cut
 * off by n). A NUL byte counts as a one-byte sequence. */
size_t	utf8_seq(const unsigned char *s, size_t n);

/* True if the NUL-terminated string s is valid UTF-8. */
bool	utf8_valid(const char *s);
/* Makes s valid UTF-8 in place, for text from outside that is kept and
 * shown (an agent's error message): each byte that starts no valid
 * sequence becomes '?', and s is cut to at most max bytes on a sequence
 * boundary. Returns the new length. */
size_t	utf8_clean(char *s, size_t max);

#endif
