/*
 * identity_bootstrap: `tinystack-manage bootstrap`, after keystone-manage
 * bootstrap: everything a fresh cloud needs to be logged into, created if
 * missing and left alone if present, so it can run on every deployment.
 *
 * Like Keystone's, it re-enables a disabled admin and resets the admin's
 * password when it differs (which persists a revocation event for the
 * admin's tokens; a running controller picks it up within a second), and it
 * points existing catalog endpoints at the URLs given, so a changed
 * public_host or port reaches the catalog. The password is checked and
 * hashed before the one write transaction that does all the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "identity_int.h"
#include "log.h"
#include "password.h"

struct svc_def {
	const char	*type;
	const char	*name;
	const char	*description;
	unsigned	 port;
	const char	*path;
};

struct boot {
	const struct identity_bootstrap_opts	*o;
	struct identity_bootstrap_result	*res;
	char		 hash[PASSWORD_HASH_BUFSZ];
	bool		 reset_password;	/* the stored hash differs */
	int64_t		 now;
	char		 scheme[8];
};

static int
nomem(void)
{
	err_set(TS_ENOMEM, "out of memory");
	return -1;
}

static int
ensure_domain(struct store_txn *txn, struct boot *b)
{
	struct rec_project d = { 0 };

	if (idstore_domain_get(txn, IDSTORE_DEFAULT_DOMAIN, &d) == 0) {
		codec_clear(&schema_rec_project, &d);
		return 0;
	}
	if (err_code() != TS_ENOT_FOUND)
		return -1;
	d.id = (char *)IDSTORE_DEFAULT_DOMAIN;
	d.name = (char *)"Default";
	d.description = (char *)"The default domain";
	d.is_domain = true;
	d.enabled = true;
	d.created_at = d.updated_at = b->now;
	b->res->created++;
	return idstore_project_put(txn, &d, NULL);
}

static int
ensure_role(struct store_txn *txn, struct boot *b, const char *name,
    char id[IDSTORE_ID_BUFSZ])
{
	struct rec_role r = { 0 };
	char nid[TOKEN_ID_BUFSZ];

	if (idstore_role_find(txn, NULL, name, &r) == 0) {
		snprintf(id, IDSTORE_ID_BUFSZ, "%s", r.id);
		codec_clear(&schema_rec_role, &r);
		return 0;
	}
	if (err_code() != TS_ENOT_FOUND)
		return -1;
	idstore_id_new(nid);
	r.id = nid;
	r.name = (char *)name;
	r.created_at = b->now;
	snprintf(id, IDSTORE_ID_BUFSZ, "%s", nid);
	b->res->created++;
	return idstore_role_put(txn, &r, NULL);
}

static int
ensure_project(struct store_txn *txn, struct boot *b, const char *name,
    const char *description, char id[IDSTORE_ID_BUFSZ])
{
	struct rec_project p = { 0 };
	char nid[TOKEN_ID_BUFSZ];

	if (idstore_project_find(txn, IDSTORE_DEFAULT_DOMAIN, name, &p) == 0) {
		snprintf(id, IDSTORE_ID_BUFSZ, "%s", p.id);
		codec_clear(&schema_rec_project, &p);
		return 0;
	}
	if (err_code() != TS_ENOT_FOUND)
		return -1;
	idstore_id_new(nid);
	p.id = nid;
	p.name = (char *)name;
	p.description = (char *)description;
	p.domain_id = (char *)IDSTORE_DEFAULT_DOMAIN;
	p.parent_id = (char *)IDSTORE_DEFAULT_DOMAIN;
	p.enabled = true;
	p.created_at = p.updated_at = b->now;
	snprintf(id, IDSTORE_ID_BUFSZ, "%s", nid);
	b->res->created++;
	return idstore_project_put(txn, &p, NULL);
}

static int
ensure_admin(struct store_txn *txn, struct boot *b)
{
	struct rec_user u = { 0 }, old = { 0 };
	struct revoke_event ev = { .kind = REVOKE_USER };
	char nid[TOKEN_ID_BUFSZ], *keep;
	int rc = -1;

	if (idstore_user_find(txn, IDSTORE_DEFAULT_DOMAIN, b->o->admin_username,
	    &u) == -1) {
		if (err_code() != TS_ENOT_FOUND)
			return -1;
		idstore_id_new(nid);
		u.id = nid;
		u.name = (char *)b->o->admin_username;
		u.domain_id = (char *)IDSTORE_DEFAULT_DOMAIN;
		u.enabled = true;
		u.password_hash = b->hash;
		u.password_changed_at = u.created_at = u.updated_at = b->now;
		snprintf(b->res->user_id, sizeof(b->res->user_id), "%s", nid);
		b->res->created++;
		return idstore_user_put(txn, &u, NULL);
	}
	snprintf(b->res->user_id, sizeof(b->res->user_id), "%s", u.id);
	if (u.enabled && !b->reset_password) {
		codec_clear(&schema_rec_user, &u);
		return 0;
	}
	if (idstore_user_get(txn, u.id, &old) == -1)
		goto out;
	u.enabled = true;
	u.updated_at = b->now;
	keep = u.password_hash;
	if (b->reset_password) {
		u.password_hash = b->hash;
		u.password_changed_at = b->now;
		b->res->password_reset = true;
	}
	rc = idstore_user_put(txn, &u, &old);
	u.password_hash = keep;
	if (rc == 0 && b->reset_password) {
		/* Tokens issued under the old password end now. */
		if (token_id_parse(u.id, ev.user_id) == -1) {
			err_set(TS_EINTERNAL, "user id %s", u.id);
			rc = -1;
		} else {
			ev.issued_before_ms = (uint64_t)b->now;
			rc = idstore_revocation_add(txn, &ev, b->now, NULL);
		}
	}
out:
	codec_clear(&schema_rec_user, &u);
	codec_clear(&schema_rec_user, &old);
	return rc;
}

static int
ensure_region(struct store_txn *txn, struct boot *b)
{
	struct rec_region r = { 0 };

	if (idstore_region_get(txn, b->o->region_id, &r) == 0) {
		codec_clear(&schema_rec_region, &r);
		return 0;
	}
	if (err_code() != TS_ENOT_FOUND)
		return -1;
	r.id = (char *)b->o->region_id;
	r.created_at = b->now;
	b->res->created++;
	return idstore_region_put(txn, &r, false);
}

/* First catalog service of a type. */
struct find_svc {
	const char	*type;
	char		 id[IDSTORE_ID_BUFSZ];
};

static int
find_svc_cb(const void *obj, void *arg)
{
	const struct rec_catalog_service *s = obj;
	struct find_svc *f = arg;

	if (strcmp(s->type, f->type) != 0)
		return 0;
	snprintf(f->id, sizeof(f->id), "%s", s->id);
	return 1;
}

struct find_ep {
	const char	*service_id;
	const char	*interface;
	const char	*region_id;
	char		 id[IDSTORE_ID_BUFSZ];
	bool		 same_url;
	const char	*url;
};

static int
find_ep_cb(const void *obj, void *arg)
{
	const struct rec_catalog_endpoint *e = obj;
	struct find_ep *f = arg;

	if (strcmp(e->service_id, f->service_id) != 0 ||
	    strcmp(e->interface, f->interface) != 0 ||
	    e->region_id == NULL || strcmp(e->region_id, f->region_id) != 0)
		return 0;
	snprintf(f->id, sizeof(f->id), "%s", e->id);
	f->same_url = strcmp(e->url, f->url) == 0;
	return 1;
}

static int
ensure_endpoint(struct store_txn *txn, struct boot *b, const char *svc_id,
    const char *interface, const char *url)
{
	struct find_ep f = { svc_id, interface, b->o->region_id, "", false,
	    url };
	struct rec_catalog_endpoint e = { 0 };
	char nid[TOKEN_ID_BUFSZ];
	char *keep;
	int rc;

	if (idstore_each(txn, &schema_rec_catalog_endpoint, find_ep_cb,
	    &f) == -1)
		return -1;
	if (f.id[0] != '\0') {
		if (f.same_url)
			return 0;
		if (idstore_endpoint_get(txn, f.id, &e) == -1)
			return -1;
		keep = e.url;
		e.url = (char *)url;
		rc = idstore_endpoint_put(txn, &e, true);
		e.url = keep;
		codec_clear(&schema_rec_catalog_endpoint, &e);
		log_warnx("bootstrap: endpoint %s %s now %s", svc_id,
		    interface, url);
		return rc;
	}
	idstore_id_new(nid);
	e.id = nid;
	e.service_id = (char *)svc_id;
	e.interface = (char *)interface;
	e.region_id = (char *)b->o->region_id;
	e.url = (char *)url;
	e.enabled = true;
	e.created_at = b->now;
	b->res->created++;
	return idstore_endpoint_put(txn, &e, false);
}

static int
ensure_service(struct store_txn *txn, struct boot *b, const struct svc_def *d)
{
	static const char *const interfaces[] = { "public", "internal",
	    "admin", NULL };
	struct find_svc f = { d->type, "" };
	struct rec_catalog_service s = { 0 };
	char nid[TOKEN_ID_BUFSZ], url[512];
	size_t i;

	if ((size_t)snprintf(url, sizeof(url), "%s://%s:%u%s", b->scheme,
	    b->o->public_host, d->port, d->path) >= sizeof(url)) {
		err_set(TS_EINVALID, "catalog URL too long");
		return -1;
	}
	if (idstore_each(txn, &schema_rec_catalog_service, find_svc_cb,
	    &f) == -1)
		return -1;
	if (f.id[0] == '\0') {
		idstore_id_new(nid);
		s.id = nid;
		s.type = (char *)d->type;
		s.name = (char *)d->name;
		s.description = (char *)d->description;
		s.enabled = true;
		s.created_at = b->now;
		if (idstore_service_put(txn, &s, false) == -1)
			return -1;
		b->res->created++;
		snprintf(f.id, sizeof(f.id), "%s", nid);
	}
	for (i = 0; interfaces[i] != NULL; i++)
		if (ensure_endpoint(txn, b, f.id, interfaces[i], url) == -1)
			return -1;
	return 0;
}

static int
bootstrap_fn(struct store_txn *txn, void *arg)
{
	struct boot *b = arg;
	const struct identity_bootstrap_opts *o = b->o;
	const struct svc_def svcs[] = {
		{ "identity", "keystone", "Identity", o->identity_port, "/v3" },
		{ "compute", "nova", "Compute", o->compute_port, "/v2.1" },
		{ "image", "glance", "Image", o->image_port, "" },
		{ "volumev3", "cinderv3", "Block Storage", o->volume_port,
		    "/v3/%(project_id)s" },
		{ "block-storage", "cinder", "Block Storage", o->volume_port,
		    "/v3/%(project_id)s" },
		{ "network", "neutron", "Networking", o->network_port, "" },
	};
	char admin_role[IDSTORE_ID_BUFSZ], member_role[IDSTORE_ID_BUFSZ],
	    reader_role[IDSTORE_ID_BUFSZ], service_project[IDSTORE_ID_BUFSZ];
	size_t i;

	if (ensure_domain(txn, b) == -1 ||
	    ensure_role(txn, b, o->role_name, admin_role) == -1 ||
	    ensure_role(txn, b, "member", member_role) == -1 ||
	    ensure_role(txn, b, "reader", reader_role) == -1 ||
	    /* Keystone's default rules: admin implies member implies
	     * reader (idempotent). */
	    idstore_implied_put(txn, admin_role, member_role, b->now) == -1 ||
	    idstore_implied_put(txn, member_role, reader_role, b->now) == -1 ||
	    ensure_project(txn, b, o->project_name, "Bootstrap project for "
	    "initializing the cloud.", b->res->project_id) == -1 ||
	    ensure_project(txn, b, "service", "Project of the service users.",
	    service_project) == -1 ||
	    ensure_admin(txn, b) == -1 ||
	    idstore_grant(txn, IDSTORE_USER, b->res->user_id, IDSTORE_PROJECT,
	    b->res->project_id, admin_role, b->now) == -1 ||
	    idstore_grant(txn, IDSTORE_USER, b->res->user_id, IDSTORE_SYSTEM,
	    "all", admin_role, b->now) == -1 ||
	    ensure_region(txn, b) == -1)
		return -1;
	for (i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++)
		if (ensure_service(txn, b, &svcs[i]) == -1)
			return -1;
	return 0;
}

/* Whether the stored admin password differs from the one given (checked
 * outside any write: verification costs tens of milliseconds). */
static int
password_differs(struct store *st, const struct identity_bootstrap_opts *o,
    bool *differs)
{
	struct store_txn *txn = NULL;
	struct rec_user u;
	char *hash = NULL;
	int rc;

	*differs = false;
	if (store_read_begin(st, &txn) == -1)
		return -1;
	rc = idstore_user_find(txn, IDSTORE_DEFAULT_DOMAIN, o->admin_username,
	    &u);
	if (rc == 0 && u.password_hash != NULL &&
	    (hash = strdup(u.password_hash)) == NULL)
		rc = nomem();
	if (rc == 0 && u.password_hash == NULL)
		*differs = true;
	codec_clear(&schema_rec_user, &u);
	store_txn_end(&txn);
	if (rc == -1)
		return err_code() == TS_ENOT_FOUND ? 0 : -1;
	if (hash != NULL && password_verify(hash, o->admin_password) == -1) {
		if (err_code() != TS_EUNAUTHORIZED) {
			free(hash);
			return -1;
		}
		*differs = true;
	}
	free(hash);
	return 0;
}

int
identity_bootstrap(struct store *st, const struct identity_bootstrap_opts *o,
    struct identity_bootstrap_result *res)
{
	struct boot b;
	int rc;

	memset(&b, 0, sizeof(b));
	memset(res, 0, sizeof(*res));
	b.o = o;
	b.res = res;
	b.now = db_now_ms();
	snprintf(b.scheme, sizeof(b.scheme), "%s", o->https ? "https" :
	    "http");
	if (o->admin_password == NULL || *o->admin_password == '\0') {
		err_set(TS_EINVALID, "an admin password is required");
		return -1;
	}
	if (password_differs(st, o, &b.reset_password) == -1 ||
	    password_hash(o->admin_password, o->opslimit, o->memlimit,
	    b.hash) == -1)
		return -1;
	rc = store_write(st, bootstrap_fn, &b);
	explicit_bzero(b.hash, sizeof(b.hash));
	if (rc == 0)
		snprintf(res->auth_url, sizeof(res->auth_url), "%s://%s:%u/v3",
		    b.scheme, o->public_host, o->identity_port);
	return rc;
}
