/*
 * jsonreq: typed request readers with each service's 400 wording
 * (jsonreq.h). The messages are what Tempest and the clients were seen to
 * accept; change one only together with the tests that quote it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "http/jsonreq.h"

/* Longest list of allowed values quoted in an enum message. */
#define ENUM_TEXT_MAX	256

enum jsonreq_style
jsonreq_style_of(enum apierr_service svc)
{
	switch (svc) {
	case APIERR_IDENTITY:
		return JSONREQ_KEYSTONE;
	case APIERR_IMAGE:
		return JSONREQ_GLANCE;
	case APIERR_NETWORK:
		return JSONREQ_NEUTRON;
	default:
		return JSONREQ_NOVA;
	}
}

int
jsonreq_fail(enum jsonreq_style st, const char *k, const char *why)
{
	switch (st) {
	case JSONREQ_KEYSTONE:
		err_set(TS_EINVALID, "Invalid input for field '%s': %s", k, why);
		break;
	case JSONREQ_GLANCE:
		err_set(TS_EINVALID, "Provided object does not match schema "
		    "'image': %s: '%s'", why, k);
		break;
	case JSONREQ_NEUTRON:
		/* neutron_lib's attribute validation (InvalidInput). */
		err_set(TS_EINVALID, "Invalid input for %s. Reason: %s", k,
		    why);
		break;
	default:
		err_set(TS_EINVALID, "Invalid input for field/attribute %s. %s",
		    k, why);
		break;
	}
	return -1;
}

int
jsonreq_body(enum jsonreq_style st, json_t *body, const char *key,
    json_t **obj)
{
	json_t *o;

	if (body == NULL || !json_is_object(body)) {
		if (st == JSONREQ_KEYSTONE)
			err_set(TS_EINVALID, "Expecting to find %s in request "
			    "body; the server could not comply with the "
			    "request since it is either malformed or otherwise "
			    "incorrect.", key != NULL ? key : "an object");
		else if (st == JSONREQ_GLANCE)
			err_set(TS_EINVALID, "Body expected in request.");
		else
			err_set(TS_EINVALID, "The request body is missing or "
			    "not a JSON object.");
		return -1;
	}
	if (key == NULL) {
		*obj = body;
		return 0;
	}
	o = json_object_get(body, key);
	if (o == NULL || !json_is_object(o)) {
		if (st == JSONREQ_NOVA)
			err_set(TS_EINVALID, "Invalid input for field/attribute "
			    "%s. Value: %s. It is a required object.", key,
			    o != NULL ? "(not an object)" : "None");
		else if (st == JSONREQ_KEYSTONE)
			jsonreq_fail(st, key, "expected an object.");
		else
			jsonreq_fail(st, key, "value is not an object");
		return -1;
	}
	*obj = o;
	return 0;
}

/*
 * The member k of o, or NULL when there is nothing to read: absent (400 if
 * required) or an accepted null (*is_null). *rc is the reader's result in
 * those cases.
 */
static json_t *
member(enum jsonreq_style st, json_t *o, const char *k, unsigned flags,
    bool *present, bool *is_null, int *rc)
{
	json_t *v = json_object_get(o, k);
	char why[320];

	*rc = 0;
	*is_null = false;
	if (present != NULL)
		*present = v != NULL;
	if (v == NULL) {
		if (flags & JSONREQ_REQUIRED) {
			snprintf(why, sizeof(why), "'%s' is a required "
			    "property%s", k, st == JSONREQ_GLANCE ? "" : ".");
			*rc = jsonreq_fail(st, k, why);
		}
		return NULL;
	}
	if (json_is_null(v) && (flags & JSONREQ_NULLABLE)) {
		*is_null = true;
		return NULL;
	}
	return v;
}

/* Code points of valid UTF-8 (jansson only produces valid UTF-8). */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static bool
blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

static int
bad_length(enum jsonreq_style st, const char *k, size_t len, size_t min,
    size_t max)
{
	char why[128];

	switch (st) {
	case JSONREQ_KEYSTONE:
		snprintf(why, sizeof(why), "length %zu is not between %zu and "
		    "%zu.", len, min, max);
		break;
	case JSONREQ_GLANCE:
		snprintf(why, sizeof(why), "value is too %s",
		    len > max ? "long" : "short");
		break;
	default:
		snprintf(why, sizeof(why), "Length must be between %zu and "
		    "%zu.", min, max);
		break;
	}
	return jsonreq_fail(st, k, why);
}

int
jsonreq_str(enum jsonreq_style st, json_t *o, const char *k, size_t min,
    size_t max, unsigned flags, const char **out, bool *present)
{
	bool is_null;
	int rc;
	json_t *v = member(st, o, k, flags, present, &is_null, &rc);
	const char *s;
	size_t bytes, len;

	if (v == NULL) {
		if (is_null)
			*out = NULL;
		return rc;
	}
	if (!json_is_string(v))
		return jsonreq_fail(st, k, st == JSONREQ_KEYSTONE ?
		    "not a string." : st == JSONREQ_GLANCE ?
		    "value is not a string" : "Value must be a string.");
	s = json_string_value(v);
	bytes = json_string_length(v);
	len = (flags & JSONREQ_BYTES) ? bytes : utf8_chars(s, bytes);
	/* Nova reports an embedded NUL as a length error, as it always has. */
	if (len < min || len > max || (st == JSONREQ_NOVA &&
	    strlen(s) != bytes))
		return bad_length(st, k, len, min, max);
	if (strlen(s) != bytes)
		return jsonreq_fail(st, k, st == JSONREQ_KEYSTONE ?
		    "contains a NUL character." : "value contains a NUL byte");
	if ((flags & JSONREQ_NONBLANK) && blank(s))
		return jsonreq_fail(st, k, "must contain a non-space "
		    "character.");
	*out = s;
	return 0;
}

/* Nova's tolerant integer: a JSON integer, an integral real or a decimal
 * string (blanks around it allowed). */
static int
lax_int(json_t *v, int64_t *n)
{
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		*n = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		if (json_real_value(v) != (double)(int64_t)json_real_value(v))
			return -1;
		*n = (int64_t)json_real_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	while (*s == ' ')
		s++;
	errno = 0;
	*n = strtoll(s, &end, 10);
	while (*end == ' ')
		end++;
	if (*s == '\0' || *end != '\0' || errno)
		return -1;
	return 0;
}

static int
out_of_range(enum jsonreq_style st, const char *k, int64_t n, int64_t min,
    int64_t max)
{
	char why[128];

	switch (st) {
	case JSONREQ_GLANCE:
		if (n < min && min == 0)
			err_set(TS_EINVALID, "Cannot set %s to a negative "
			    "value.", k);
		else if (n < min)
			err_set(TS_EINVALID, "Value of %s is too small: at "
			    "least %lld.", k, (long long)min);
		else
			err_set(TS_EINVALID, "Value of %s is too large: at "
			    "most %lld.", k, (long long)max);
		return -1;
	case JSONREQ_KEYSTONE:
		snprintf(why, sizeof(why), "%lld is not between %lld and "
		    "%lld.", (long long)n, (long long)min, (long long)max);
		break;
	default:
		snprintf(why, sizeof(why), "Value: %lld. It must be between "
		    "%lld and %lld.", (long long)n, (long long)min,
		    (long long)max);
		break;
	}
	return jsonreq_fail(st, k, why);
}

int
jsonreq_int(enum jsonreq_style st, json_t *o, const char *k, int64_t min,
    int64_t max, unsigned flags, int64_t *out, bool *present)
{
	bool is_null;
	int rc;
	json_t *v = member(st, o, k, flags, present, &is_null, &rc);
	int64_t n;

	if (v == NULL)
		return rc;
	if (st == JSONREQ_NOVA ? lax_int(v, &n) == -1 : !json_is_integer(v))
		return jsonreq_fail(st, k, st == JSONREQ_KEYSTONE ?
		    "not an integer." : st == JSONREQ_GLANCE ?
		    "value is not an integer" : "Value must be an integer.");
	if (st != JSONREQ_NOVA)
		n = json_integer_value(v);
	if (n < min || n > max)
		return out_of_range(st, k, n, min, max);
	*out = n;
	return 0;
}

/* The words Nova's strutils.bool_from_string accepts, any case. */
static int
word_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "t", "yes", "y",
	    "on", NULL };
	static const char *const no[] = { "0", "false", "f", "no", "n",
	    "off", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	return -1;
}

int
jsonreq_bool(enum jsonreq_style st, json_t *o, const char *k, unsigned flags,
    bool *out, bool *present)
{
	bool is_null, b;
	int rc;
	json_t *v = member(st, o, k, flags, present, &is_null, &rc);

	if (v == NULL)
		return rc;
	if (json_is_boolean(v))
		b = json_is_true(v);
	else if (st != JSONREQ_NOVA || !json_is_string(v) ||
	    word_bool(json_string_value(v), &b) == -1)
		return jsonreq_fail(st, k, st == JSONREQ_KEYSTONE ?
		    "not a boolean." : st == JSONREQ_GLANCE ?
		    "value is not a boolean" : "Value must be a boolean.");
	*out = b;
	return 0;
}

int
jsonreq_enum(enum jsonreq_style st, json_t *o, const char *k,
    const char *const *allowed, const char *what, unsigned flags,
    const char **out, bool *present)
{
	bool is_null;
	int rc;
	json_t *v = member(st, o, k, flags, present, &is_null, &rc);
	char list[ENUM_TEXT_MAX], why[ENUM_TEXT_MAX + 64];
	size_t i, n = 0;

	if (v == NULL) {
		if (is_null)
			*out = NULL;
		return rc;
	}
	if (json_is_string(v))
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(json_string_value(v), allowed[i]) == 0) {
				*out = allowed[i];
				return 0;
			}
	list[0] = '\0';
	for (i = 0; allowed[i] != NULL && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
		    i > 0 ? ", " : "", allowed[i]);
	if (what == NULL)
		what = list;
	snprintf(why, sizeof(why), st == JSONREQ_KEYSTONE ? "not one of %s." :
	    st == JSONREQ_GLANCE ? "value is not one of %s" :
	    "Value must be one of %s.", what);
	return jsonreq_fail(st, k, why);
}

bool
jsonreq_uuid_like(const char *s)
{
	size_t i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;	/* also stops at a NUL */
		}
	}
	return s[36] == '\0';
}

int
jsonreq_uuid(enum jsonreq_style st, json_t *o, const char *k, unsigned flags,
    const char **out, bool *present)
{
	bool is_null;
	int rc;
	json_t *v = member(st, o, k, flags, present, &is_null, &rc);

	if (v == NULL) {
		if (is_null)
			*out = NULL;
		return rc;
	}
	if (!json_is_string(v) || !jsonreq_uuid_like(json_string_value(v)))
		return jsonreq_fail(st, k, st == JSONREQ_KEYSTONE ?
		    "not a UUID." : st == JSONREQ_GLANCE ?
		    "value does not match the UUID pattern" :
		    "Value must be a UUID.");
	*out = json_string_value(v);
	return 0;
}

/* Valid UTF-8 without control characters. */
static bool
text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n;

		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
			n = 1;
		else if ((*p & 0xf0) == 0xe0)
			n = 2;
		else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
			n = 3;
		else
			return false;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n + 1;
	}
	return true;
}

int
jsonreq_name(enum jsonreq_style st, const char *k, const char *s)
{
	size_t n = strlen(s);
	char why[160];

	if (n == 0 || n > 255 || isspace((unsigned char)s[0]) ||
	    isspace((unsigned char)s[n - 1]) || !text_ok(s)) {
		snprintf(why, sizeof(why), "Value: %.64s. It must be 1 to 255 "
		    "printable characters without leading or trailing "
		    "whitespace.", s);
		return jsonreq_fail(st, k, why);
	}
	return 0;
}

int
jsonreq_query_int(enum jsonreq_style st, const char *k, const char *v,
    int64_t min, int64_t max, int64_t *out, bool *present)
{
	char *end;
	long long n;

	*present = false;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno || n < min || n > max) {
		if (st == JSONREQ_NOVA)
			err_set(TS_EINVALID, "Invalid input for query "
			    "parameters %s. Value: %.32s.", k, v);
		else
			err_set(TS_EINVALID, "Invalid value for query "
			    "parameter %s: %.32s.", k, v);
		return -1;
	}
	*out = n;
	*present = true;
	return 0;
}

int
jsonreq_query_bool_strict(const char *v, bool *out)
{
	return v != NULL ? word_bool(v, out) : -1;
}

bool
jsonreq_query_bool(enum jsonreq_style st, const char *v)
{
	bool b = false;

	if (v == NULL)
		return false;
	if (*v == '\0')
		return true;
	if (st != JSONREQ_NOVA)
		return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
		    strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0;
	if (word_bool(v, &b) == -1)
		return false;
	return b;
}

/* Python's repr of a list of strings, as jsonschema quotes an enum. */
static void
py_list(const char *const *allowed, char *out, size_t cap)
{
	size_t n = 0;

	n += (size_t)snprintf(out, cap, "[");
	for (size_t i = 0; allowed[i] != NULL && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s'%s'", i > 0 ?
		    ", " : "", allowed[i]);
	if (n < cap)
		snprintf(out + n, cap - n, "]");
}

static int
qparam(enum jsonreq_style st, const struct jsonreq_qparam *p, const char *k,
    const char *v)
{
	char list[ERR_MSG_MAX];
	size_t i;

	switch (p->kind) {
	case JSONREQ_Q_UINT:
		/* jsonschema: the pattern's failure comes first. */
		if (*v != '\0' && strspn(v, "0123456789") == strlen(v))
			return 0;
		if (st != JSONREQ_NOVA)
			break;
		if (*v == '\0') {
			err_set(TS_EINVALID, "Invalid input for query "
			    "parameters %s. Value: . '' is too short", k);
			return -1;
		}
		err_set(TS_EINVALID, "Invalid input for query parameters %s. "
		    "Value: %.64s. '%.64s' does not match '^[0-9]*$'", k, v,
		    v);
		return -1;
	case JSONREQ_Q_ENUM:
		for (i = 0; p->allowed[i] != NULL; i++)
			if (strcmp(v, p->allowed[i]) == 0)
				return 0;
		if (st != JSONREQ_NOVA)
			break;
		/* Nova's longest list (servers' sort keys) is cut at the
		 * message's limit. */
		py_list(p->allowed, list, sizeof(list));
		err_set(TS_EINVALID, "Invalid input for query parameters %s. "
		    "Value: %.64s. '%.64s' is not one of %s", k, v, v, list);
		return -1;
	case JSONREQ_Q_REFUSED:
		err_set(TS_EINVALID, "Invalid filter field: %.64s.", k);
		return -1;
	default:
		return 0;
	}
	err_set(TS_EINVALID, "Invalid value for query parameter %s: %.32s.",
	    k, v);
	return -1;
}

int
jsonreq_query_check(enum jsonreq_style st, const struct jsonreq_qparam *params,
    size_t np, bool underscore_refused, size_t n,
    int (*at)(void *, size_t, const char **, const char **), void *arg)
{
	static const struct jsonreq_qparam refused = { NULL,
	    JSONREQ_Q_REFUSED, NULL };
	const char *k, *v;
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (at(arg, i, &k, &v) == -1)
			return -1;
		if (underscore_refused && k[0] == '_') {
			if (qparam(st, &refused, k, v) == -1)
				return -1;
			continue;
		}
		for (j = 0; j < np && strcmp(params[j].name, k) != 0; j++)
			;
		if (j < np && qparam(st, &params[j], k, v != NULL ? v : "") ==
		    -1)
			return -1;
	}
	return 0;
}
