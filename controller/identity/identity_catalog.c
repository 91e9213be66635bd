/*
 * identity_catalog: the service catalog (services, endpoints, regions in
 * LMDB) as tokens carry it, v3 and v2.0 shapes. See identity.h. No HTTP
 * here, so the unit test links it alone; the REST handlers for the
 * catalog's records are in identity_catalog_api.c.
 *
 * Endpoint URLs are stored as templates; "%(project_id)s" (and Keystone's
 * other spellings) is expanded per token. A catalog for a token without a
 * project leaves such endpoints out, as Keystone does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "identity_int.h"
#include "log.h"

/* ---- URL templates ------------------------------------------------------ */

int
identity_catalog_url(const char *tmpl, const char *project_id, char *out,
    size_t outlen)
{
	static const char *const keys[] = { "project_id", "tenant_id", NULL };
	const char *p = tmpl, *end;
	size_t o = 0, n, i;
	bool known;

	while (*p != '\0') {
		if ((p[0] == '%' || p[0] == '$') && p[1] == '(' &&
		    (end = strstr(p + 2, ")s")) != NULL) {
			n = (size_t)(end - (p + 2));
			known = false;
			for (i = 0; keys[i] != NULL; i++)
				if (strlen(keys[i]) == n &&
				    strncmp(p + 2, keys[i], n) == 0)
					known = true;
			if (!known) {
				err_set(TS_EINVALID, "endpoint URL '%s': unknown "
				    "substitution", tmpl);
				return -1;
			}
			if (project_id == NULL)
				return 1;
			n = strlen(project_id);
			if (o + n >= outlen)
				goto too_long;
			memcpy(out + o, project_id, n);
			o += n;
			p = end + 2;
			continue;
		}
		if (o + 1 >= outlen)
			goto too_long;
		out[o++] = *p++;
	}
	if (outlen == 0)
		goto too_long;
	out[o] = '\0';
	return 0;
too_long:
	err_set(TS_EINVALID, "endpoint URL '%s' too long", tmpl);
	return -1;
}

/* ---- rendering ---------------------------------------------------------- */

struct render {
	json_t		*services;	/* id -> v3 service object */
	json_t		*order;		/* service ids in key order */
	const char	*project_id;
	bool		 v2;
};

static int
render_service(const void *obj, void *arg)
{
	const struct rec_catalog_service *s = obj;
	struct render *r = arg;
	json_t *o;

	if (!s->enabled)
		return 0;
	o = json_pack("{s:[], s:s, s:s, s:s}", "endpoints", "id", s->id,
	    "type", s->type, "name", s->name ? s->name : "");
	if (o == NULL || json_object_set_new(r->services, s->id, o) == -1 ||
	    json_array_append_new(r->order, json_string(s->id)) == -1) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* v2: the entry of region in service svc, created on first use. */
static json_t *
v2_region_entry(json_t *eps, const char *region)
{
	json_t *e;
	size_t i;

	json_array_foreach(eps, i, e)
		if (strcmp(json_string_value(json_object_get(e, "region")),
		    region) == 0)
			return e;
	e = json_pack("{s:s}", "region", region);
	if (e == NULL || json_array_append_new(eps, e) == -1)
		return NULL;
	return e;
}

static int
render_endpoint(const void *obj, void *arg)
{
	const struct rec_catalog_endpoint *e = obj;
	struct render *r = arg;
	json_t *svc, *eps, *o;
	char url[4096];
	const char *key;
	int rc;

	if (!e->enabled ||
	    (svc = json_object_get(r->services, e->service_id)) == NULL)
		return 0;
	if ((rc = identity_catalog_url(e->url, r->project_id, url,
	    sizeof(url))) != 0) {
		if (rc == -1)
			log_warnx("catalog: endpoint %s left out: %s", e->id,
			    err_msg());
		return 0;
	}
	if (*url == '\0')
		return 0;	/* clients ignore empty URLs anyway */
	eps = json_object_get(svc, "endpoints");
	if (r->v2) {
		if (strcmp(e->interface, "public") == 0)
			key = "publicURL";
		else if (strcmp(e->interface, "internal") == 0)
			key = "internalURL";
		else if (strcmp(e->interface, "admin") == 0)
			key = "adminURL";
		else
			return 0;
		o = v2_region_entry(eps, e->region_id ? e->region_id : "");
		if (o == NULL || json_object_set_new(o, key,
		    json_string(url)) == -1 ||
		    (json_object_get(o, "id") == NULL &&
		    json_object_set_new(o, "id", json_string(e->id)) == -1))
			goto nomem;
		return 0;
	}
	o = json_pack("{s:s, s:s, s:o, s:o, s:s}", "id", e->id, "interface",
	    e->interface,
	    "region_id", e->region_id ? json_string(e->region_id) : json_null(),
	    "region", e->region_id ? json_string(e->region_id) : json_null(),
	    "url", url);
	if (o == NULL || json_array_append_new(eps, o) == -1)
		goto nomem;
	return 0;
nomem:
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static json_t *
render(struct store_txn *txn, const char *project_id, bool v2)
{
	struct render r = { json_object(), json_array(), project_id, v2 };
	json_t *out = json_array(), *svc, *id;
	size_t i;

	if (r.services == NULL || r.order == NULL || out == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		goto fail;
	}
	if (idstore_each(txn, &schema_rec_catalog_service, render_service,
	    &r) == -1 || idstore_each(txn, &schema_rec_catalog_endpoint,
	    render_endpoint, &r) == -1)
		goto fail;
	json_array_foreach(r.order, i, id) {
		svc = json_object_get(r.services, json_string_value(id));
		if (v2) {
			json_object_del(svc, "id");
			if (json_object_set_new(svc, "endpoints_links",
			    json_array()) == -1)
				goto nomem;
		}
		if (json_array_append(out, svc) == -1)
			goto nomem;
	}
	json_decref(r.services);
	json_decref(r.order);
	return out;
nomem:
	err_set(TS_ENOMEM, "out of memory");
fail:
	json_decref(r.services);
	json_decref(r.order);
	json_decref(out);
	return NULL;
}

json_t *
identity_catalog_v3(struct store_txn *txn, const char *project_id)
{
	return render(txn, project_id, false);
}

json_t *
identity_catalog_v2(struct store_txn *txn, const char *project_id)
{
	return render(txn, project_id, true);
}

