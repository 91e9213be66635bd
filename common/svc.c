/* svc: shared daemon start-up; see svc.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "svc.h"

static void
usage(const char *prog, const char *def, int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: %s [-fnd] [-c config] [-p pid-file]\n"
	    "  -c, --config FILE   configuration file (default %s)\n"
	    "  -f, --foreground    stay in the foreground\n"
	    "  -n, --check         check the configuration, print it normalized\n"
	    "  -p, --pid-file FILE pid file (overrides pid_file)\n"
	    "  -d, --debug         debug logging (overrides debug)\n",
	    prog, def);
	exit(status);
}

void
svc_args_parse(int argc, char **argv, const char *prog,
    const char *default_config, struct svc_args *a)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, "c:fnp:dh", lo, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'f': a->foreground = 1; break;
		case 'n': a->check = 1; break;
		case 'p': a->pid_file = optarg; break;
		case 'd': a->debug = 1; break;
		case 'h': usage(prog, default_config, 0); break;
		default: usage(prog, default_config, 2); break;
		}
	}
	if (optind != argc)
		usage(prog, default_config, 2);
	if (a->config == NULL) {
		a->config = default_config;
		/* An absent default file means "all defaults", not an error. */
		if (access(default_config, F_OK) == -1 && errno == ENOENT) {
			fprintf(stderr, "%s: %s not found, using defaults\n",
			    prog, default_config);
			a->config = NULL;
		}
	}
}

struct config *
svc_config_load(const struct config_opt *table, const struct svc_args *a)
{
	struct config *cfg = config_new(table);

	if (cfg == NULL)
		return NULL;
	if (a->config && config_load_file(cfg, a->config) == -1)
		goto fail;
	if (a->pid_file &&
	    config_set(cfg, "DEFAULT", "pid_file", a->pid_file) == -1)
		goto fail;
	if (a->debug && config_set(cfg, "DEFAULT", "debug", "true") == -1)
		goto fail;
	if (a->check) {
		config_print(cfg, stdout);
		config_free(&cfg);
		exit(0);
	}
	return cfg;
fail:
	if (a->check) {
		fprintf(stderr, "%s\n", err_msg());
		exit(1);
	}
	config_free(&cfg);
	return NULL;
}

int
svc_log_setup(const struct config *cfg, const char *ident, int foreground)
{
	enum log_level lvl = LOG_LVL_WARN;
	const char *file = config_get_str(cfg, "DEFAULT", "log_file");

	if (config_get_bool(cfg, "DEFAULT", "verbose"))
		lvl = LOG_LVL_INFO;
	if (config_get_bool(cfg, "DEFAULT", "debug"))
		lvl = LOG_LVL_DEBUG;
	if (config_get_bool(cfg, "DEFAULT", "use_syslog"))
		return log_init(ident, lvl, LOG_TO_SYSLOG, NULL);
	if (file[0])
		return log_init(ident, lvl, LOG_TO_FILE, file);
	/* A detached daemon's stderr is /dev/null: without a log file its
	 * lines go to syslog rather than nowhere. */
	if (!foreground)
		return log_init(ident, lvl, LOG_TO_SYSLOG, NULL);
	return log_init(ident, lvl, LOG_TO_STDERR, NULL);
}

void
svc_host(const struct config *cfg, char *out, size_t outlen)
{
	const char *h = config_get_str(cfg, "DEFAULT", "host");

	if (h[0]) {
		snprintf(out, outlen, "%s", h);
		return;
	}
	if (gethostname(out, outlen) == -1)
		snprintf(out, outlen, "localhost");
	out[outlen - 1] = '\0';
}
