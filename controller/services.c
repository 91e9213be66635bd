/* services: builds, starts and frees every REST service alike; see
 * services.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute.h"
#include "config.h"
#include "dashboard/dashboard.h"
#include "core/fleet.h"
#include "err.h"
#include "http/http.h"
#include "http/request.h"
#include "identity/identity.h"
#include "image/image.h"
#include "log.h"
#include "network/network.h"
#include "services.h"
#include "volume/volume.h"

/*
 * One service. The hooks take the environment and the service's handle
 * (what new returned); only new is required. new fills in the service's
 * public handle in env for the services after it; free clears it.
 */
struct service_def {
	const char			*name;
	const char			*port_section;	/* NULL: "api" */
	const char			*port_option;
	/* A bool option of port_section that must be true for the service
	 * to listen (the dashboard, last in the table), or NULL. */
	const char			*enabled_option;
	/* Serves every listener before it under its name (http_mount). */
	bool				 mounts_all;
	enum apierr_service		 service;
	const struct http_route		*routes;
	const struct policy_default	*policy;
	size_t				 conn_memory;	/* 0: the server's */
	request_target_fn		 target;	/* NULL: empty */
	/* The request layer's token checker, called with the handle. */
	request_authenticate_fn		 authenticate;
	/* Its image capability checker, called with the handle. */
	request_capability_fn		 capability;
	void	*(*new)(struct services_env *);
	int	 (*start)(struct services_env *, void *svc);
	void	 (*tick)(struct services_env *, void *svc, int64_t now_ms);
	void	 (*stop)(struct services_env *, void *svc);
	void	 (*free)(struct services_env *, void *svc);
};

/* ---- identity ----------------------------------------------------------- */

static void *
identity_hook_new(struct services_env *env)
{
	return env->identity = identity_new(env->cfg, env->store);
}

static void
identity_hook_tick(struct services_env *env, void *svc, int64_t now_ms)
{
	identity_tick(svc, now_ms);
}

static void
identity_hook_free(struct services_env *env, void *svc)
{
	struct identity *id = svc;

	identity_free(&id);
	env->identity = NULL;
}

static int
identity_hook_authenticate(void *arg, const char *token,
    struct request_ctx *out)
{
	return identity_token_check(arg, token, out);
}

/* ---- image -------------------------------------------------------------- */

/* Its data store is opened (and recovered after a crash) here. */
static void *
image_hook_new(struct services_env *env)
{
	return env->image = image_service_new(env->cfg, env->store);
}

static void
image_hook_free(struct services_env *env, void *svc)
{
	struct image_service *im = svc;

	image_service_free(&im);
	env->image = NULL;
}

/* ---- compute ------------------------------------------------------------ */

/* The fleet calls compute's hooks on the bus thread; image capabilities
 * for the agents come from identity. */
static void *
compute_hook_new(struct services_env *env)
{
	struct fleet_hooks fh;

	if ((env->compute = compute_new(env->cfg, env->store, env->bus,
	    env->host)) == NULL)
		return NULL;
	compute_fleet_hooks(env->compute, &fh);
	if (fleet_add_hooks(env->fleet, &fh) == -1) {
		compute_free(&env->compute);
		return NULL;
	}
	compute_set_identity(env->compute, env->identity);
	compute_set_network(env->compute, env->network);
	compute_set_volume(env->compute, env->volume);
	compute_set_image(env->compute, env->image);
	return env->compute;
}

static int
compute_hook_start(struct services_env *env, void *svc)
{
	return compute_start(svc);
}

/* Before the bus it posts to (main frees the bus after the services). */
static void
compute_hook_free(struct services_env *env, void *svc)
{
	struct compute *co = svc;

	compute_free(&co);
	env->compute = NULL;
}

/* ---- network ------------------------------------------------------------ */

static void *
network_hook_new(struct services_env *env)
{
	return env->network = network_new(env->cfg, env->store);
}

static void
network_hook_free(struct services_env *env, void *svc)
{
	struct network *n = svc;

	network_free(&n);
	env->network = NULL;
}

/* ---- volume ------------------------------------------------------------- */

static void *
volume_hook_new(struct services_env *env)
{
	return env->volume = volume_new(env->cfg, env->store, env->host);
}

static void
volume_hook_free(struct services_env *env, void *svc)
{
	struct volume *v = svc;

	volume_free(&v);
	env->volume = NULL;
}

/* ---- dashboard ---------------------------------------------------------- */

static void *
dashboard_hook_new(struct services_env *env)
{
	return dashboard_new(env->cfg, env->store);
}

static void
dashboard_hook_free(struct services_env *env, void *svc)
{
	struct dashboard *d = svc;

	(void)env;
	dashboard_free(&d);
}

/* ---- network dataplane -------------------------------------------------- */

/*
 * Not a REST service: the desired network state of every host, derived
 * from the network records whoever wrote them, and sent to the agents
 * through the fleet's hooks. Without a bus (tools) there is nothing to do.
 */
static int
netsync_setup(struct services_env *env)
{
	struct fleet_hooks fh;

	if (env->bus == NULL || env->fleet == NULL)
		return 0;
	if ((env->netsync = netsync_new(env->cfg, env->store, env->bus,
	    env->host)) == NULL)
		return -1;
	/* The DHCP entries of servers' ports carry the servers' hostnames. */
	if (env->compute != NULL)
		netsync_set_hostname(env->netsync, compute_instance_hostname,
		    env->compute);
	netsync_fleet_hooks(env->netsync, &fh);
	if (fleet_add_hooks(env->fleet, &fh) == -1) {
		netsync_free(&env->netsync);
		return -1;
	}
	/* The API's and compute's writes: derived at the next tick. */
	if (env->network != NULL)
		network_set_netsync(env->network, env->netsync);
	return 0;
}

/* ---- storage sync -------------------------------------------------------- */

/*
 * Not a REST service either: the desired storage state of every host,
 * derived from the volume records, sent through the fleet's hooks, and
 * the hosts' reports applied to the records. Without a bus (tools)
 * there is nothing to do.
 */
static int
storesync_setup(struct services_env *env)
{
	struct fleet_hooks fh;

	if (env->bus == NULL || env->fleet == NULL)
		return 0;
	if ((env->storesync = storesync_new(env->cfg, env->store, env->bus,
	    env->host)) == NULL)
		return -1;
	if (env->identity != NULL)
		storesync_set_identity(env->storesync, env->identity);
	if (env->image != NULL)
		storesync_set_image(env->storesync, env->image);
	storesync_fleet_hooks(env->storesync, &fh);
	if (fleet_add_hooks(env->fleet, &fh) == -1) {
		storesync_free(&env->storesync);
		return -1;
	}
	if (env->volume != NULL)
		volume_set_storesync(env->volume, env->storesync);
	if (env->compute != NULL)
		storesync_set_ready_fn(env->storesync, compute_volume_ready,
		    env->compute);
	return 0;
}

/* ---- the table ---------------------------------------------------------- */

static const struct service_def defs[] = {
	{
		.name = "identity",
		.port_option = "identity_port",
		.service = APIERR_IDENTITY,
		.routes = identity_routes,
		.policy = policy_identity_defaults,
		.target = identity_policy_target,
		.authenticate = identity_hook_authenticate,
		.capability = identity_capability_check,
		.new = identity_hook_new,
		.tick = identity_hook_tick,
		.free = identity_hook_free,
	},
	{
		.name = "image",
		.port_option = "image_port",
		.service = APIERR_IMAGE,
		.routes = image_routes,
		.policy = image_policy_defaults,
		.conn_memory = IMAGE_CONN_MEMORY,
		.new = image_hook_new,
		.free = image_hook_free,
	},
	{
		.name = "network",
		.port_option = "network_port",
		.service = APIERR_NETWORK,
		.routes = network_routes,
		.policy = network_policy_defaults,
		.new = network_hook_new,
		.free = network_hook_free,
	},
	{
		.name = "volume",
		.port_option = "volume_port",
		.service = APIERR_VOLUME,
		.routes = volume_routes,
		.policy = volume_policy_defaults,
		.new = volume_hook_new,
		.free = volume_hook_free,
	},
	{
		.name = "compute",
		.port_option = "compute_port",
		.service = APIERR_COMPUTE,
		.routes = compute_routes,
		.policy = policy_compute_defaults,
		.new = compute_hook_new,
		.start = compute_hook_start,
		.free = compute_hook_free,
	},
	{
		/* Its own 404s in keystone's shape. */
		.name = "dashboard",
		.port_section = "dashboard",
		.port_option = "port",
		.enabled_option = "enabled",
		.mounts_all = true,
		.service = APIERR_IDENTITY,
		.routes = dashboard_routes,
		.policy = dashboard_policy_defaults,
		.new = dashboard_hook_new,
		.free = dashboard_hook_free,
	},
};

#define NDEFS	(sizeof(defs) / sizeof(defs[0]))

/* The same services' rule tables as one static list, for the policy
 * engine (which re-reads it on every reload) and the tools; kept in the
 * table's order (tests/unit/routes_test.c checks it against defs). */
const struct policy_default *const services_policy_tables[] = {
	policy_identity_defaults,
	image_policy_defaults,
	network_policy_defaults,
	volume_policy_defaults,
	policy_compute_defaults,
	dashboard_policy_defaults,
	NULL
};
_Static_assert(sizeof(services_policy_tables) /
    sizeof(services_policy_tables[0]) == NDEFS + 1,
    "one rule table per service");

const char *
services_name(size_t i)
{
	return i < NDEFS ? defs[i].name : NULL;
}

const struct http_route *
services_routes(size_t i)
{
	return i < NDEFS ? defs[i].routes : NULL;
}

const struct policy_default *
services_policy(size_t i)
{
	return i < NDEFS ? defs[i].policy : NULL;
}

_Static_assert(NDEFS <= HTTP_MAX_LISTENERS, "one listener per service");

struct services {
	struct services_env	 env;
	struct request		*request;	/* owned: policy, auth hooks */
	void			*svc[NDEFS];	/* owned, by the defs' hooks */
	struct http_server	*http;		/* owned */
	struct http_listener	 listeners[NDEFS];
	size_t			 nlisteners;	/* the first, by table order */
	struct http_mount	 mounts[NDEFS];	/* the dashboard's */
	size_t			 nmounts;
};

/* ---- life cycle --------------------------------------------------------- */

static int
http_setup(struct services *s)
{
	const struct config *cfg = s->env.cfg;
	struct http_opts o;
	const char *cert, *key;

	memset(&o, 0, sizeof(o));
	o.bind = config_get_str(cfg, "api", "bind_host");
	o.metrics = s->env.metrics;
	o.listeners = s->listeners;
	o.nlisteners = s->nlisteners;
	o.mounts = s->mounts;
	o.nmounts = s->nmounts;
	o.threads = (unsigned)config_get_int(cfg, "api", "threads");
	o.max_connections = (unsigned)config_get_int(cfg, "api",
	    "connection_limit");
	o.conn_timeout = (unsigned)config_get_int(cfg, "api",
	    "connection_timeout");
	o.max_body_size = (size_t)config_get_int(cfg, "api", "max_body_size");
	o.max_noauth_body = (size_t)config_get_int(cfg, "api",
	    "max_auth_body_size");
	o.per_ip_connections = (unsigned)config_get_int(cfg, "api",
	    "per_ip_connection_limit");
	cert = config_get_str(cfg, "api", "tls_cert_file");
	key = config_get_str(cfg, "api", "tls_key_file");
	o.tls_cert_file = *cert ? cert : NULL;
	o.tls_key_file = *key ? key : NULL;
	/* The controller blocks SIGPIPE in every thread (daemon.c), so
	 * writes to a closed socket fail with EPIPE instead of killing it. */
	o.sigpipe_ignored = true;
	request_http_opts(s->request, &o);
	s->http = http_server_new(&o);
	return s->http != NULL ? 0 : -1;
}

struct services *
services_new(const struct services_env *env)
{
	const char *pf, *old, *sect;
	bool must_exist = false;
	struct services *s;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return NULL;
	}
	s->env = *env;
	/* [oslo_policy] policy_file may be missing (built-in rules until it
	 * appears), as with oslo.policy; the deprecated [identity]
	 * policy_file keeps its old meaning: a missing file is an error. */
	pf = config_get_str(env->cfg, "oslo_policy", "policy_file");
	old = config_get_str(env->cfg, "identity", "policy_file");
	if (*old != '\0') {
		log_warnx("[identity] policy_file is deprecated: use "
		    "[oslo_policy] policy_file");
		pf = old;
		must_exist = true;
	}
	if ((s->request = request_new(services_policy_tables, pf,
	    must_exist)) == NULL)
		goto fail;
	for (i = 0; i < NDEFS; i++) {
		const struct service_def *d = &defs[i];

		if ((s->svc[i] = d->new(&s->env)) == NULL)
			goto fail;
		sect = d->port_section != NULL ? d->port_section : "api";
		s->listeners[i].port = (uint16_t)config_get_int(env->cfg,
		    sect, d->port_option);
		if (d->enabled_option == NULL ||
		    config_get_bool(env->cfg, sect, d->enabled_option))
			s->nlisteners = i + 1;
		if (d->mounts_all && s->nlisteners == i + 1)
			for (size_t j = 0; j < i; j++) {
				s->mounts[s->nmounts].at = i;
				s->mounts[s->nmounts].prefix = defs[j].name;
				s->mounts[s->nmounts++].listener = j;
			}
		s->listeners[i].service = d->service;
		s->listeners[i].routes = d->routes;
		s->listeners[i].app = s->svc[i];
		s->listeners[i].conn_memory = d->conn_memory;
		if (d->target != NULL)
			request_set_target(s->request, d->service, d->target);
		if (d->authenticate != NULL)
			request_set_authenticator(s->request, d->authenticate,
			    s->svc[i]);
		if (d->capability != NULL)
			request_set_capability_checker(s->request,
			    d->capability, s->svc[i]);
	}
	if (netsync_setup(&s->env) == -1 || storesync_setup(&s->env) == -1 ||
	    http_setup(s) == -1)
		goto fail;
	return s;
fail:
	services_free(&s);
	return NULL;
}

int
services_start(struct services *s)
{
	size_t i;

	for (i = 0; i < NDEFS; i++)
		if (defs[i].start != NULL &&
		    defs[i].start(&s->env, s->svc[i]) == -1)
			return -1;
	if (http_server_start(s->http) == -1)
		return -1;
	for (i = 0; i < s->nlisteners; i++)
		log_warnx("%s %s listening on %s port %u", defs[i].name,
		    defs[i].enabled_option != NULL ? "page" : "API",
		    config_get_str(s->env.cfg, "api", "bind_host"),
		    http_server_port(s->http, i));
	return 0;
}

int
services_netsync_fd(const struct services *s)
{
	return s->env.netsync != NULL ? netsync_wake_fd(s->env.netsync) : -1;
}

void
services_netsync_woken(struct services *s, int64_t now_ms)
{
	if (s->env.netsync != NULL)
		netsync_woken(s->env.netsync, now_ms);
}

int
services_storesync_fd(const struct services *s)
{
	return s->env.storesync != NULL ?
	    storesync_wake_fd(s->env.storesync) : -1;
}

void
services_storesync_woken(struct services *s, int64_t now_ms)
{
	if (s->env.storesync != NULL)
		(void)storesync_woken(s->env.storesync, now_ms);
}

void
services_tick(struct services *s, int64_t now_ms)
{
	size_t i;

	for (i = 0; i < NDEFS; i++)
		if (defs[i].tick != NULL)
			defs[i].tick(&s->env, s->svc[i], now_ms);
	if (s->env.netsync != NULL)
		netsync_tick(s->env.netsync, now_ms);
	if (s->env.storesync != NULL)
		storesync_tick(s->env.storesync, now_ms);
	request_tick(s->request, now_ms);
}

void
services_stop(struct services *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->http != NULL)
		http_server_stop(s->http);
	for (i = NDEFS; i-- > 0;)
		if (defs[i].stop != NULL && s->svc[i] != NULL)
			defs[i].stop(&s->env, s->svc[i]);
}

void
services_free(struct services **sp)
{
	struct services *s;
	size_t i;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	http_server_free(&s->http);
	netsync_free(&s->env.netsync);	/* before the fleet it hooks into */
	if (s->env.volume != NULL)
		volume_set_storesync(s->env.volume, NULL);
	storesync_free(&s->env.storesync);
	for (i = NDEFS; i-- > 0;)
		if (s->svc[i] != NULL)
			defs[i].free(&s->env, s->svc[i]);
	request_free(&s->request);
	free(s);
	*sp = NULL;
}

const struct services_env *
services_env(const struct services *s)
{
	return &s->env;
}

uint16_t
services_port(const struct services *s, size_t i)
{
	return http_server_port(s->http, i);
}
