/*
 * jsonout: see jsonout.h. Escaping follows jansson's dump_string() without
 * JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH: '"' and '\\' escaped, \b \f \n
 * \r \t by name, other code points below 0x20 as \u00XX (upper-case hex),
 * everything else as it is.
 */
#include <string.h>

#include "err.h"
#include "http/jsonout.h"
#include "utf8.h"

/*
 * Bytes that end a run copied as it is: the ones escaped, NUL, and the
 * first byte of a multi-byte sequence (checked by utf8_seq()). A table:
 * the run loop is most of what a list of 1,000 servers spends escaping.
 */
static const unsigned char stop[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

int
jsonout_chars(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *run, *end = NULL;
	size_t k;
	char esc[7];

	while (*p != '\0') {
		/* The longest stretch needing no escape, checked as UTF-8. */
		for (run = p;;) {
			while (!stop[*p])
				p++;
			if (*p < 0x80)
				break;
			/* the end only found for a string that needs it */
			if (end == NULL)
				end = p + strlen((const char *)p);
			if ((k = utf8_seq(p, (size_t)(end - p))) == 0) {
				err_set(TS_EINVALID, "jsonout: string is not "
				    "valid UTF-8");
				b->failed = true;
				return -1;
			}
			p += k;
		}
		if (buf_append(b, run, (size_t)(p - run)) == -1)
			return -1;
		if (*p == '\0')
			break;
		esc[0] = '\\';
		switch (*p) {
		case '"': case '\\': esc[1] = (char)*p; k = 2; break;
		case '\b': esc[1] = 'b'; k = 2; break;
		case '\f': esc[1] = 'f'; k = 2; break;
		case '\n': esc[1] = 'n'; k = 2; break;
		case '\r': esc[1] = 'r'; k = 2; break;
		case '\t': esc[1] = 't'; k = 2; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			k = 6;
		}
		if (buf_append(b, esc, k) == -1)
			return -1;
		p++;
	}
	return b->failed ? -1 : 0;
}

int
jsonout_str(struct buf *b, const char *s)
{
	if (buf_append(b, "\"", 1) == -1 || jsonout_chars(b, s) == -1)
		return -1;
	return buf_append(b, "\"", 1);
}

int
jsonout_str_or_null(struct buf *b, const char *s)
{
	return s == NULL ? buf_append(b, "null", 4) : jsonout_str(b, s);
}

int
jsonout_int(struct buf *b, int64_t v)
{
	char t[24], *e = t + sizeof(t), *q = e;
	/* Through uint64_t: -INT64_MIN is not an int64_t. */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--q = '-';
	return buf_append(b, q, (size_t)(e - q));
}

int
jsonout_key(struct buf *b, const char *key)
{
	size_t n = strlen(key);

	if (buf_reserve(b, n + 3) == -1)
		return -1;
	b->data[b->len++] = '"';
	memcpy(b->data + b->len, key, n);
	b->len += n;
	b->data[b->len++] = '"';
	b->data[b->len++] = ':';
	b->data[b->len] = '\0';
	return 0;
}
