/* apierr: per-service error bodies; see apierr.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apierr.h"
#include "err.h"
#include "utf8.h"

/* Longest message rendered; err.h messages are shorter, this bounds what a
 * caller passes directly. */
#define MSG_MAX		1024

struct status_row {
	int		 status;
	const char	*reason;	/* keystone "title" (Python's phrases) */
	const char	*fault;		/* nova/cinder fault key, NULL = computeFault */
	const char	*neutron;	/* neutron type (webob class name) */
	const char	*text;		/* stock message */
};

/*
 * Fault keys follow nova/api/openstack/wsgi.py Fault._fault_names (cinder
 * has the same map); anything unlisted is "computeFault" there, including
 * 406 and 500. Neutron names generic errors after the webob exception class.
 */
static const struct status_row rows[] = {
	{ 400, "Bad Request", "badRequest", "HTTPBadRequest",
	  "The server could not comply with the request since it is either "
	  "malformed or otherwise incorrect." },
	{ 401, "Unauthorized", "unauthorized", "HTTPUnauthorized",
	  "The request you have made requires authentication." },
	{ 403, "Forbidden", "forbidden", "HTTPForbidden",
	  "You are not authorized to perform the requested action." },
	{ 404, "Not Found", "itemNotFound", "HTTPNotFound",
	  "The resource could not be found." },
	{ 405, "Method Not Allowed", "badMethod", "HTTPMethodNotAllowed",
	  "The method is not allowed for the requested URL." },
	{ 406, "Not Acceptable", NULL, "HTTPNotAcceptable",
	  "The requested version or media type is not acceptable." },
	{ 409, "Conflict", "conflictingRequest", "HTTPConflict",
	  "There was a conflict when trying to complete your request." },
	{ 413, "Request Entity Too Large", "overLimit",
	  "HTTPRequestEntityTooLarge",
	  "The request is larger than the server is willing or able to "
	  "process." },
	{ 414, "Request-URI Too Long", NULL, "HTTPRequestURITooLong",
	  "The request URL is too long." },
	{ 415, "Unsupported Media Type", "badMediaType",
	  "HTTPUnsupportedMediaType",
	  "The request media type is not supported by this server." },
	{ 429, "Too Many Requests", "overLimit", "HTTPTooManyRequests",
	  "Too many requests." },
	{ 500, "Internal Server Error", NULL, "HTTPInternalServerError",
	  APIERR_INTERNAL_MESSAGE },
	{ 501, "Not Implemented", "notImplemented", "HTTPNotImplemented",
	  "The server does not support the action requested." },
	{ 503, "Service Unavailable", "serviceUnavailable",
	  "HTTPServiceUnavailable",
	  "The service is temporarily unavailable." },
	{ 504, "Gateway Timeout", NULL, "HTTPGatewayTimeout",
	  "The server did not answer in time." },
};

static const char *const svc_names[APIERR__NSERVICES] = {
	[APIERR_IDENTITY] = "identity",
	[APIERR_COMPUTE] = "compute",
	[APIERR_IMAGE] = "image",
	[APIERR_VOLUME] = "volume",
	[APIERR_NETWORK] = "network",
};

static const struct status_row *
row_for(int status)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].status == status)
			return &rows[i];
	return NULL;
}

const char *
apierr_reason(int status)
{
	const struct status_row *r = row_for(status);

	if (r != NULL)
		return r->reason;
	return status >= 500 ? "Internal Server Error" : "Error";
}

const char *
apierr_fault_name(int status)
{
	const struct status_row *r = row_for(status);

	return r != NULL && r->fault != NULL ? r->fault : "computeFault";
}

const char *
apierr_neutron_type(int status, enum ts_errcode code)
{
	const struct status_row *r;

	/* neutronclient maps the type to a "<type>Client" exception class;
	 * OverQuotaClient is the one our codes can name. */
	if (code == TS_EOVER_QUOTA)
		return "OverQuota";
	r = row_for(status);
	return r != NULL ? r->neutron : "HTTPError";
}

const char *
apierr_service_name(enum apierr_service svc)
{
	return (unsigned)svc < APIERR__NSERVICES ? svc_names[svc] : "unknown";
}

/* Copy msg into dst (size MSG_MAX + 1, may be msg itself: output never
 * runs ahead of input) replacing invalid UTF-8 bytes with '?' and cutting
 * on a character boundary. */
static void
sanitize(const char *msg, char *dst)
{
	const unsigned char *s = (const unsigned char *)msg;
	size_t n = strlen(msg), i = 0, o = 0, k;

	while (i < n) {
		k = utf8_seq(s + i, n - i);
		if (k == 0) {
			if (o + 1 > MSG_MAX)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + k > MSG_MAX)
			break;
		memmove(dst + o, s + i, k);	/* dst may be msg */
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

static int
render_json(json_t *doc, struct apierr_body *out)
{
	char *s;

	if (doc == NULL) {
		err_set(TS_ENOMEM, "apierr: cannot build error body");
		return -1;
	}
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (s == NULL) {
		err_set(TS_ENOMEM, "apierr: cannot serialise error body");
		return -1;
	}
	out->data = s;
	out->len = strlen(s);
	out->content_type = "application/json";
	return 0;
}

/* Append src to the buffer at *o with HTML escaping; dst is large enough
 * (6 bytes per input byte at most). */
static void
html_escape(const char *src, char *dst, size_t *o)
{
	const char *rep;

	for (; *src != '\0'; src++) {
		switch (*src) {
		case '&':  rep = "&amp;"; break;
		case '<':  rep = "&lt;"; break;
		case '>':  rep = "&gt;"; break;
		case '"':  rep = "&quot;"; break;
		case '\'': rep = "&#x27;"; break;
		default:
			dst[(*o)++] = *src;
			continue;
		}
		memcpy(dst + *o, rep, strlen(rep));
		*o += strlen(rep);
	}
}

/*
 * Glance raises webob exceptions; with the clients' "Accept: * / *" webob
 * renders this page (html_template_obj + body_template_obj). Both
 * glanceclient and openstacksdk strip the tags line by line.
 */
static int
render_html(int status, const char *msg, struct apierr_body *out)
{
	char head[64], *buf;
	size_t cap, o = 0;
	int n;

	snprintf(head, sizeof(head), "%d %s", status, apierr_reason(status));
	cap = 256 + 2 * strlen(head) + 6 * strlen(msg);
	if ((buf = malloc(cap)) == NULL) {
		err_set(TS_ENOMEM, "apierr: cannot allocate error page");
		return -1;
	}
	n = snprintf(buf, cap, "<html>\n <head>\n  <title>%s</title>\n"
	    " </head>\n <body>\n  <h1>%s</h1>\n  ", head, head);
	o = (size_t)n;
	html_escape(msg, buf, &o);
	n = snprintf(buf + o, cap - o, "<br /><br />\n\n\n\n </body>\n</html>");
	o += (size_t)n;
	out->data = buf;
	out->len = o;
	out->content_type = "text/html; charset=UTF-8";
	return 0;
}

int
apierr_render(enum apierr_service svc, int status, enum ts_errcode code,
    const char *type, const char *message, struct apierr_body *out)
{
	const struct status_row *r = row_for(status);
	char msg[MSG_MAX + 1], typ[APIERR_TYPE_MAX + 1];

	memset(out, 0, sizeof(*out));
	if ((unsigned)svc >= APIERR__NSERVICES || status < 400 ||
	    status > 599) {
		err_set(TS_EINVALID, "apierr: bad service %d or status %d",
		    (int)svc, status);
		return -1;
	}
	if (message == NULL || *message == '\0')
		message = r != NULL ? r->text : apierr_reason(status);
	sanitize(message, msg);

	switch (svc) {
	case APIERR_IDENTITY:
		return render_json(json_pack("{s:{s:i,s:s,s:s}}", "error",
		    "code", status, "title", apierr_reason(status),
		    "message", msg), out);
	case APIERR_COMPUTE:
	case APIERR_VOLUME:
		return render_json(json_pack("{s:{s:i,s:s}}",
		    apierr_fault_name(status), "code", status, "message", msg),
		    out);
	case APIERR_NETWORK:
		if (type == NULL || *type == '\0')
			type = apierr_neutron_type(status, code);
		/* A type is an identifier; keep it one even if a caller
		 * passed something odd. */
		snprintf(typ, sizeof(typ), "%s", type);
		sanitize(typ, typ);
		return render_json(json_pack("{s:{s:s,s:s,s:s}}",
		    "NeutronError", "type", typ, "message", msg,
		    "detail", ""), out);
	case APIERR_IMAGE:
		return render_html(status, msg, out);
	default:
		break;
	}
	err_set(TS_EINVALID, "apierr: bad service %d", (int)svc);
	return -1;
}

void
apierr_body_release(struct apierr_body *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}
