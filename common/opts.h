/*
 * opts: the option tables of tinystack-controller and tinystack-agent.
 *
 * One table per daemon; a module that needs a new option appends a line to
 * its daemon's table in opts.c (and regenerates the packaged sample, see
 * tests/unit/config_test.c). Section and key names are the public
 * interface of the configuration files: renaming one breaks deployments.
 * Values that need the environment are left empty here and resolved by the
 * daemon: host "" means gethostname(), [api] public_host "" means host.
 */
#ifndef TS_OPTS_H
#define TS_OPTS_H

#include "config.h"

/* Terminated by CONFIG_OPT_END; static, valid for the whole process. */
extern const struct config_opt opts_controller[];
extern const struct config_opt opts_agent[];

#endif
