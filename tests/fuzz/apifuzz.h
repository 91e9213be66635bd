/*
 * apifuzz: the shared half of the API fuzz targets (fuzz_compute_api,
 * fuzz_identity_api, fuzz_image_api, fuzz_network_api, fuzz_volume_api,
 * fuzz_http_req).
 *
 * The controller runs in-process, built once per process by
 * tests/unit/ctltest.c (temporary LMDB store, inproc bus without agents,
 * listeners on ephemeral 127.0.0.1 ports, personas with tokens), and each
 * input is one real request through libmicrohttpd, the routing, the
 * authentication and policy hooks and the handler.
 *
 * An input for apifuzz_run() is
 *   byte 0    the route (index into the target's table, modulo its size)
 *   byte 1    the caller (admin, member, other project's member, reader)
 *   then      a query string up to the first '\n' (percent-encoded by the
 *             harness where the request line needs it), then the body
 *             (up to its first NUL: the request helper sends C strings).
 * In the query and the body "@N@" stands for fixture N's id (ids are
 * random: an input that names one reaches the code past the lookup), and
 * "@P@" (also in a route's path) for the caller's project.
 *
 * What is a finding (abort, so libFuzzer keeps the input): a crash or
 * sanitizer report anywhere (the handlers run on MHD's pool threads of
 * the same process), a leak, an exchange that fails (the server hung up
 * or answered nothing; a connection that cannot be made for want of an
 * ephemeral port is tried again), and a 5xx other than 501 and 503:
 * those two are documented answers (a feature this cloud does not offer;
 * a dependency such as a host or an agent that is not there), never the
 * input's fault.
 *
 * State stays small: what a 2xx create made is deleted again at once by
 * the route's cleanup, so the store and the quotas look the same to every
 * input. Fixtures the routes act on are the target's own, never the
 * personas' projects or users, whose tokens must keep working.
 */
#ifndef TS_APIFUZZ_H
#define TS_APIFUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "ctltest.h"

#define APIFUZZ_MAXFIX	10

/* One fuzzed route. */
struct apifuzz_route {
	enum ctltest_svc svc;
	const char	*method;
	/* "@N@" stands for fixture N's id, here and in del and predel. */
	const char	*path;
	/* After a 2xx: the created object's id at this path of the answer
	 * ("server.id") is deleted as the same caller with DELETE del
	 * ("%s": the id), after a PATCH of del with predel when not NULL
	 * (keystone deletes only disabled domains). NULL: nothing to undo. */
	const char	*idkey;
	const char	*del;
	const char	*predel;
	const char	*predel_hdrs;	/* its headers, or NULL */
	/* Extra request headers ("Name: value\r\n"), or NULL. */
	const char	*hdrs;
};

/* A target: its routes and the fixture builder that runs once. */
struct apifuzz_target {
	const char			*name;
	const struct apifuzz_route	*routes;
	size_t				 nroutes;
	/* Create the fixtures; store their ids in fix[]. 0 or -1. */
	int	(*setup)(struct ctltest *, char fix[APIFUZZ_MAXFIX][128]);
};

/* The controller, built on first use and freed at exit. Aborts if it
 * cannot be built (nothing can be fuzzed then). */
struct ctltest	*apifuzz_ctl(void);
/* Abort with the last answer unless it is an acceptable one (see above). */
void		 apifuzz_check(struct ctltest *, const char *what);
/* A fixture: POST body to path on svc as who, expecting 201 (Cinder's
 * 202 too); copies the answer's string at key (a dotted path) into out
 * (128 bytes). 0 / -1. */
int		 apifuzz_create(struct ctltest *, enum ctltest_svc svc,
    enum ctltest_who who, const char *path, const char *body,
    const char *key, char out[128]);
/* One input against target (format above). */
void		 apifuzz_run(const struct apifuzz_target *, const uint8_t *data,
		    size_t size);

#endif
