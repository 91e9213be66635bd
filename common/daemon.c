/* daemon: signals, detaching, pid files; see daemon.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "err.h"
#include "log.h"

static int	ready_fd = -1;		/* child's end of the readiness pipe */
static int	pid_fd = -1;
static char	pid_path[PATH_MAX];

int
daemon_signals_block(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		err_set(TS_EINTERNAL, "sigprocmask failed");
		return -1;
	}
	/* SIGPIPE stays blocked and is never read: writes to a closed socket
	 * then fail with EPIPE instead of killing the daemon. */
	sigdelset(&set, SIGPIPE);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		err_set_errno(TS_EINTERNAL, "signalfd");
		return -1;
	}
	return fd;
}

int
daemon_signal_read(int sigfd)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

int
daemon_detach(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) == -1) {
		err_set_errno(TS_EINTERNAL, "pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		err_set_errno(TS_EINTERNAL, "fork");
		return -1;
	}
	if (pid > 0) {
		int st;

		close(p[1]);
		/* EOF without a byte means the daemon died during start-up. */
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		waitpid(pid, &st, WNOHANG);
		_exit(1);
	}
	close(p[0]);
	if (setsid() == -1) {
		err_set_errno(TS_EINTERNAL, "setsid");
		return -1;
	}
	/* Second fork: the daemon is not a session leader, so it can never
	 * acquire a controlling terminal. The first child waits for nothing. */
	if ((pid = fork()) == -1) {
		err_set_errno(TS_EINTERNAL, "fork");
		return -1;
	}
	if (pid > 0)
		_exit(0);
	ready_fd = p[1];
	if (chdir("/") == -1) {
		err_set_errno(TS_EINTERNAL, "chdir /");
		return -1;
	}
	umask(022);
	return 0;
}

void
daemon_ready(void)
{
	int null;

	if (ready_fd == -1)
		return;
	if (write(ready_fd, "1", 1) != 1) {
		/* the parent is gone; nothing to tell */
	}
	close(ready_fd);
	ready_fd = -1;
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

int
daemon_mkdirs(const char *path, int mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		err_set(TS_EINVALID, "bad directory path '%s'", path);
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdir(buf, (mode_t)mode) == -1 && errno != EEXIST) {
				err_set_errno(TS_EIO, "mkdir %s", buf);
				return -1;
			}
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	return 0;
}

int
daemon_pidfile_create(const char *path)
{
	char dir[PATH_MAX], buf[32];
	char *slash;
	int fd, n;

	if (path[0] == '\0')
		return 0;	/* pid_file = (empty): none wanted */
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		err_set(TS_EINVALID, "pid file path too long");
		return -1;
	}
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (daemon_mkdirs(dir, 0755) == -1)
			return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		err_set_errno(TS_EIO, "open pid file %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		ssize_t r = read(fd, buf, sizeof(buf) - 1);

		buf[r > 0 ? r : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		err_set(TS_ECONFLICT, "already running (pid %s, pid file %s)",
		    buf[0] ? buf : "?", path);
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		err_set_errno(TS_EIO, "write pid file %s", path);
		close(fd);
		return -1;
	}
	pid_fd = fd;
	snprintf(pid_path, sizeof(pid_path), "%s", path);
	return 0;
}

void
daemon_pidfile_remove(void)
{
	if (pid_fd == -1)
		return;
	unlink(pid_path);
	close(pid_fd);
	pid_fd = -1;
}

unsigned long
daemon_nofile_raise(unsigned long cap, unsigned long *before)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (before != NULL)
		*before = (unsigned long)rl.rlim_cur;
	want = rl.rlim_max;
	if (cap != 0 && (want == RLIM_INFINITY || want > (rlim_t)cap))
		want = (rlim_t)cap;
	if (want <= rl.rlim_cur)
		return (unsigned long)rl.rlim_cur;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return getrlimit(RLIMIT_NOFILE, &rl) == 0 ?
		    (unsigned long)rl.rlim_cur : 0;
	return (unsigned long)want;
}
