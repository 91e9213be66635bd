/*
 * svc: the start-up both daemons share: command line, configuration file,
 * logging. Options:
 *   -c, --config FILE   configuration file (default given by the daemon)
 *   -f, --foreground    do not detach; log to stderr unless log_file is set
 *   -n, --check         parse and validate the configuration, print it
 *                       normalized (secrets masked), exit 0 or 1
 *   -p, --pid-file F    overrides [DEFAULT] pid_file
 *   -d, --debug         overrides [DEFAULT] debug
 *   -h, --help
 */
#ifndef TS_SVC_H
#define TS_SVC_H

#include "config.h"

struct svc_args {
	const char	*config;
	const char	*pid_file;
	int		 foreground;
	int		 check;
	int		 debug;
};

/* Parses argv. Returns 0, or exits (status 0 for --help, 2 for misuse). */
void	svc_args_parse(int argc, char **argv, const char *prog,
	    const char *default_config, struct svc_args *);

/* Loads the configuration: the file must exist when given with -c; the
 * default path may be absent (defaults are used, with a notice). Applies
 * -p and -d. With --check prints the config and exits. NULL (err set) on a
 * bad file. */
struct config *svc_config_load(const struct config_opt *, const struct svc_args *);

/* Sets up logging from [DEFAULT] debug/verbose/log_file/use_syslog: syslog
 * if use_syslog, else log_file if set, else stderr in the foreground and
 * syslog when detached (stderr is /dev/null then). */
int	svc_log_setup(const struct config *, const char *ident, int foreground);

/* [DEFAULT] host, or gethostname() when empty. Copied into out. */
void	svc_host(const struct config *, char *out, size_t outlen);

#endif
