/*
 * identity_json: Keystone's "extra" attributes and the response pieces
 * shared by the identity handlers (identity.h). Request fields are read
 * with http/jsonreq.h (JSONREQ_KEYSTONE).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "err.h"
#include "identity_int.h"
#include "store.h"

/* Largest stored "extra" object (rec_*.extra max). */
#define EXTRA_MAX	65535

static bool
known_key(const char *k, const char *const *known)
{
	for (; *known != NULL; known++)
		if (strcmp(k, *known) == 0)
			return true;
	return false;
}

int
identity_json_extra(json_t *o, const char *const *known, const char *old, char **out)
{
	json_t *extra = NULL, *v;
	const char *k;
	json_error_t jerr;
	char *s;

	*out = NULL;
	if (old != NULL)
		extra = json_loads(old, 0, &jerr);
	if (extra == NULL || !json_is_object(extra)) {
		json_decref(extra);
		if ((extra = json_object()) == NULL)
			goto nomem;
	}
	json_object_foreach(o, k, v) {
		if (known_key(k, known))
			continue;
		if (json_object_set(extra, k, v) == -1)
			goto nomem;
	}
	if (json_object_size(extra) == 0) {
		json_decref(extra);
		return 0;
	}
	s = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(extra);
	if (s == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	if (strlen(s) > EXTRA_MAX) {
		free(s);
		err_set(TS_EINVALID, "Additional attributes exceed %d bytes.",
		    EXTRA_MAX);
		return -1;
	}
	*out = s;
	return 0;
nomem:
	json_decref(extra);
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

void
identity_json_merge_extra(json_t *obj, const char *extra)
{
	json_t *x, *v;
	const char *k;
	json_error_t jerr;

	if (extra == NULL || (x = json_loads(extra, 0, &jerr)) == NULL)
		return;
	if (json_is_object(x))
		json_object_foreach(x, k, v)
			if (json_object_get(obj, k) == NULL)
				json_object_set(obj, k, v);
	json_decref(x);
}

json_t *
identity_json_url(struct http_req *req, const char *fmt, ...)
{
	char base[512], path[1024], url[1536];
	va_list ap;
	int n;

	if (http_req_base_url(req, base, sizeof(base)) == -1) {
		err_set(TS_EINTERNAL, "base URL does not fit");
		return NULL;
	}
	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (size_t)snprintf(url, sizeof(url), "%s%s", base, path) >=
	    sizeof(url)) {
		err_set(TS_EINTERNAL, "URL does not fit");
		return NULL;
	}
	return json_string(url);
}

json_t *
identity_json_list(struct http_req *req, const char *key, json_t *items)
{
	json_t *self = identity_json_url(req, "%s", http_req_path(req));

	if (items == NULL || self == NULL) {
		json_decref(items);
		json_decref(self);
		return NULL;
	}
	return json_pack("{s:o, s:{s:o, s:n, s:n}}", key, items, "links",
	    "self", self, "previous", "next");
}

json_t *
identity_json_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

void
identity_json_time(int64_t ms, char out[IDENTITY_JSON_TIME_BUFSZ])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char d[24];

	gmtime_r(&t, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, IDENTITY_JSON_TIME_BUFSZ, "%s.%06dZ", d,
	    (int)(ms % 1000) * 1000);
}

int
identity_json_write(struct http_req *req, int (*fn)(struct store_txn *, void *),
    void *arg)
{
	return store_write(identity_store(identity_of(req)), fn, arg);
}

int
identity_json_read(struct http_req *req, struct store_txn **txn)
{
	return store_read_begin(identity_store(identity_of(req)), txn);
}
