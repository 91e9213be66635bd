/*
 * apierr: render an error as the body each OpenStack service's clients parse.
 *
 * The HTTP status of an internal error code comes from one table only,
 * err_code_http() (schemas/errors.def). This module owns the other half:
 * what the body looks like for each service, because the clients differ:
 *
 *   identity  {"error": {"code": 404, "title": "Not Found", "message": M}}
 *   compute   {"itemNotFound": {"code": 404, "message": M}}   key by status
 *   volume    same shape as compute (cinder copied nova's fault names)
 *   network   {"NeutronError": {"type": T, "message": M, "detail": ""}}
 *   image     webob's text/html error page (glanceclient and openstacksdk
 *             strip the tags and show the lines)
 *
 * JSON bodies are served as exactly "application/json" and glance's page as
 * "text/html; charset=UTF-8": tempest rejects any other error content type.
 * The message is sanitised (invalid UTF-8 -> '?') so that text quoted from
 * a hostile request can never make rendering fail.
 */
#ifndef TS_APIERR_H
#define TS_APIERR_H

#include <stddef.h>

#include "err.h"

enum apierr_service {
	APIERR_IDENTITY = 0,	/* keystone v3 */
	APIERR_COMPUTE,		/* nova v2.1 */
	APIERR_IMAGE,		/* glance v2 */
	APIERR_VOLUME,		/* cinder v3 */
	APIERR_NETWORK,		/* neutron v2.0 */
	APIERR__NSERVICES
};

/* Longest Neutron error type kept ("NetworkNotFound", "OverQuota"...). */
#define APIERR_TYPE_MAX		64

struct apierr_body {
	char		*data;		/* owned, NUL-terminated */
	size_t		 len;		/* bytes in data, without the NUL */
	const char	*content_type;	/* static string */
};

/*
 * Render the body of an error response with HTTP status `status` (400-599)
 * for `svc`. `message` is what the user sees (NULL -> a stock text for the
 * status). `type` is the Neutron error type (NULL -> derived from the status
 * and `code`); other services ignore it. `code` only refines defaults (e.g.
 * TS_EOVER_QUOTA -> Neutron type "OverQuota"); pass TS_EOK if unknown.
 * On success *out owns a buffer to release with apierr_body_release().
 * Returns -1 (TS_ENOMEM or TS_EINVALID for a bad service/status).
 */
int	apierr_render(enum apierr_service svc, int status, enum ts_errcode code,
	    const char *type, const char *message, struct apierr_body *out);
void	apierr_body_release(struct apierr_body *);

/* Reason phrase for a status as keystone titles it ("Not Found"); static. */
const char	*apierr_reason(int status);
/* The compute/volume fault key for a status ("itemNotFound"); static. */
const char	*apierr_fault_name(int status);
/* Default Neutron error type for a status and code ("HTTPNotFound"). */
const char	*apierr_neutron_type(int status, enum ts_errcode code);
/* "identity", "compute", "image", "volume", "network"; static. */
const char	*apierr_service_name(enum apierr_service);
/* The text shown for 5xx errors whose details stay in the log. */
#define APIERR_INTERNAL_MESSAGE	"An unexpected error prevented the server " \
				"from fulfilling your request."

#endif
