/*
 * buf: the one growable byte buffer (msgpack output, XML documents, argv
 * records).
 *
 * Zero-initialise before first use ({ 0 }). Whenever data is non-NULL a NUL
 * byte follows the len bytes held, so text built here is a C string. A
 * failed allocation is recorded (err_set, TS_ENOMEM) and sticks: every later
 * call returns -1 without doing anything, so a writer may append many pieces
 * and check once (the return value of the last call, or failed). buf_free()
 * or buf_reset() clear it.
 *
 * Ownership: the caller owns data and may take it (then zero the struct
 * instead of calling buf_free()). Any append may move data.
 */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;		/* bytes allocated, including the NUL */
	bool	 failed;
};

/* Room for n more bytes (and the NUL) without moving data. 0 or -1. */
int	buf_reserve(struct buf *, size_t n);
/* Append n bytes (n may be 0). 0 or -1. */
int	buf_append_grow(struct buf *, const void *, size_t n);

/*
 * Appends n bytes. Inline while they fit (a view of 1,000 servers is
 * some 50,000 small appends into a buffer reserved up front); growing,
 * a failed buffer and n == 0 take buf_append_grow().
 */
static inline int
buf_append(struct buf *b, const void *data, size_t n)
{
	if (n > 0 && n < b->cap - b->len && !b->failed) {
		memcpy(b->data + b->len, data, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append_grow(b, data, n);
}
/* Append a NUL-terminated string, without its NUL. 0 or -1. */
int	buf_puts(struct buf *, const char *);
/* Append formatted text, of any length. 0 or -1 (also on a format error,
 * recorded as TS_EINTERNAL). */
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Forget the contents and a failure, keep the storage. */
void	buf_reset(struct buf *);
/* Free the storage and zero the struct; NULL is fine. */
void	buf_free(struct buf *);

#endif
