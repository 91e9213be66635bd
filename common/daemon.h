/*
 * daemon: what both daemons need to run as services.
 *
 * Start-up order: daemon_signals_block() before any thread exists (so every
 * thread inherits the mask and only the main loop sees SIGTERM/SIGINT/SIGHUP
 * through its signalfd), then daemon_detach() unless --foreground, then the
 * pid file, then the work; daemon_ready() tells the waiting parent that
 * start-up succeeded, so `tinystack-controller` exits 0 only for a daemon
 * that is really up, and with the error otherwise.
 */
#ifndef TS_DAEMON_H
#define TS_DAEMON_H

/* Blocks SIGTERM, SIGINT, SIGHUP, SIGPIPE in the calling thread (and the
 * threads it creates later) and returns a signalfd for the first three
 * (non-blocking, close-on-exec); -1 with err set on failure. */
int	daemon_signals_block(void);
/* Reads one pending signal from the signalfd: returns its number, 0 if none. */
int	daemon_signal_read(int sigfd);

/* Forks into the background. The parent waits until the child calls
 * daemon_ready() (exit 0) or exits/fails (exit 1, after the child's error
 * has been printed to the inherited stderr). Returns 0 in the child. */
int	daemon_detach(void);
/* Start-up is complete: releases the parent and points stdio at /dev/null. */
void	daemon_ready(void);

/* Creates and locks the pid file (directories included). Fails with
 * TS_ECONFLICT when another live process holds it. The lock lasts until
 * daemon_pidfile_remove() or process exit. An empty path means no pid file
 * (0, nothing done). */
int	daemon_pidfile_create(const char *path);
void	daemon_pidfile_remove(void);

/* mkdir -p with mode for each created component; 0 if it already exists. */
int	daemon_mkdirs(const char *path, int mode);

/*
 * Raises this process's soft RLIMIT_NOFILE to its hard limit, capped at
 * cap (0: no cap), never lowering it. A controller holds one descriptor
 * per connected agent: systemd's default soft limit of 1024 stops it
 * short of a thousand hosts, with libzmq failing accept() in silence.
 * Returns the soft limit now in force (the old one if it could not be
 * raised), or 0 if getrlimit() failed; *before, if not NULL, gets the
 * soft limit found.
 */
unsigned long	daemon_nofile_raise(unsigned long cap, unsigned long *before);

#endif
