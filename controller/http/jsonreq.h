/*
 * jsonreq: typed readers for request bodies (jansson objects) and query
 * parameters, shared by every API service. A failed check is TS_EINVALID
 * (400) with the message the service's own clients and Tempest expect, so
 * the wording is chosen by a style:
 *
 *   KEYSTONE  Invalid input for field 'name': not a string.
 *   NOVA      Invalid input for field/attribute name. Value must be a string.
 *   GLANCE    Provided object does not match schema 'image': value is not
 *             a string: 'name'
 *   NEUTRON   Invalid input for name. Reason: Value must be a string.
 *
 * Strictness follows the service too: Nova's validators take integers as
 * decimal strings and booleans as words ("True", "yes", "1"...); Keystone
 * and Glance want JSON integers and booleans.
 *
 * Member readers share one contract: absent sets *present false (present
 * may be NULL) and leaves *out unchanged, unless JSONREQ_REQUIRED makes it
 * a 400; JSONREQ_NULLABLE accepts JSON null as *out = NULL. Returned
 * strings are borrowed from the object and live as long as it does.
 * Nothing depends on the HTTP layer: the body and query values are passed
 * in (http_req_json(), http_req_query()).
 */
#ifndef TS_JSONREQ_H
#define TS_JSONREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/apierr.h"

enum jsonreq_style {
	JSONREQ_KEYSTONE,
	JSONREQ_NOVA,
	JSONREQ_GLANCE,
	JSONREQ_NEUTRON	/* Nova's checks, Neutron's "Reason:" wording and
			 * JSON integers */
};

/* Member flags. */
#define JSONREQ_REQUIRED	0x1	/* absent -> 400 */
#define JSONREQ_NULLABLE	0x2	/* JSON null accepted, *out = NULL */
#define JSONREQ_NONBLANK	0x4	/* string: a non-space character */
#define JSONREQ_BYTES		0x8	/* string: length limits in bytes (a
					 * record's max=), not characters */

/* The wording of a service's errors (cinder uses Nova's). */
enum jsonreq_style jsonreq_style_of(enum apierr_service);

/* 400 "field k is invalid: why" in the style's shape; always -1. */
int	jsonreq_fail(enum jsonreq_style, const char *k, const char *why);

/*
 * The object under key of body ({"server": {...}}); 400 if body is not an
 * object or the member is missing or not an object. For GLANCE, whose
 * bodies are the resource itself, key is NULL and *obj = body.
 */
int	jsonreq_body(enum jsonreq_style, json_t *body, const char *key,
	    json_t **obj);

/*
 * String member, length in [min, max] characters (UTF-8 code points; bytes
 * with JSONREQ_BYTES). A string holding a NUL is refused.
 */
int	jsonreq_str(enum jsonreq_style, json_t *o, const char *k, size_t min,
	    size_t max, unsigned flags, const char **out, bool *present);
/* Integer member in [min, max]. For this reader and jsonreq_bool an
 * accepted null leaves *out unchanged. */
int	jsonreq_int(enum jsonreq_style, json_t *o, const char *k, int64_t min,
	    int64_t max, unsigned flags, int64_t *out, bool *present);
/* Boolean member. */
int	jsonreq_bool(enum jsonreq_style, json_t *o, const char *k,
	    unsigned flags, bool *out, bool *present);
/*
 * String member that must be one of allowed (NULL-terminated). A value of
 * another type fails the same way as an unknown string (jsonschema's
 * enum). what names the set in GLANCE's message ("the supported
 * formats"); NULL lists the values.
 */
int	jsonreq_enum(enum jsonreq_style, json_t *o, const char *k,
	    const char *const *allowed, const char *what, unsigned flags,
	    const char **out, bool *present);
/* String member shaped like a UUID (jsonreq_uuid_like); other types fail
 * the same way. */
int	jsonreq_uuid(enum jsonreq_style, json_t *o, const char *k,
	    unsigned flags, const char **out, bool *present);

/* 8-4-4-4-12 hex digits, either case. */
bool	jsonreq_uuid_like(const char *);
/*
 * A free-text name as Nova's name format allows: 1 to 255 bytes, no
 * leading or trailing blanks, valid UTF-8 without control characters.
 */
int	jsonreq_name(enum jsonreq_style, const char *k, const char *s);

/*
 * Query parameter k with value v (NULL = absent: *present false): a
 * decimal integer in [min, max].
 */
int	jsonreq_query_int(enum jsonreq_style, const char *k, const char *v,
	    int64_t min, int64_t max, int64_t *out, bool *present);
/*
 * A query flag: absent (NULL) is false, a key without a value ("") true.
 * KEYSTONE: "true", "1", "yes", "on" are true (any case). NOVA: also "t"
 * and "y"; anything unknown is false.
 */
bool	jsonreq_query_bool(enum jsonreq_style, const char *v);
/* strutils.bool_from_string(v, strict=True): the words of NOVA's flag
 * (any case) into *out, else -1 without an error set (each API words its
 * own 400). */
int	jsonreq_query_bool_strict(const char *v, bool *out);

/*
 * A list's query parameters as a table, Nova's query_schema: what each
 * known key accepts; keys not in the table are ignored (Nova strips them
 * while its schema has additionalProperties true, below 2.75 for servers
 * and flavors). Each value of a repeated key is checked.
 */
enum jsonreq_qkind {
	JSONREQ_Q_ANY = 0,	/* any string (common_query_param) */
	JSONREQ_Q_UINT,		/* non_negative_integer: digits only, no
				 * maximum (the handler caps it) */
	JSONREQ_Q_ENUM,		/* one of allowed (sort_key, sort_dir) */
	JSONREQ_Q_REFUSED	/* a key Nova refuses with "Invalid filter
				 * field: k." (joined-table filters) */
};

struct jsonreq_qparam {
	const char		*name;
	enum jsonreq_qkind	 kind;
	const char *const	*allowed;	/* JSONREQ_Q_ENUM, NULL-ended */
};

/*
 * The pairs of a query, read through at(arg, i, &k, &v) for i < n,
 * against the table params[0..np): 0 or 400 (TS_EINVALID) in Nova's
 * wording ("Invalid input for query parameters sort_key. Value: bogus.
 * 'bogus' is not one of ['created_at', ...]"). A key starting with '_'
 * is refused as REFUSED is (Nova's patternProperties "^_") when
 * underscore_refused.
 */
int	jsonreq_query_check(enum jsonreq_style, const struct jsonreq_qparam *,
	    size_t np, bool underscore_refused, size_t n,
	    int (*at)(void *arg, size_t i, const char **k, const char **v),
	    void *arg);

#endif
