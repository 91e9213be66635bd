/*
 * proc: run external programs; see proc.h for the contract.
 *
 * Spawning is fork + execve rather than posix_spawn because resource limits
 * must be set in the child before exec (prlimit() after posix_spawn would
 * race with the program starting). Everything the child needs (resolved
 * path, envp) is built before fork, and between fork and exec the child uses
 * only async-signal-safe system calls, which is what makes fork safe in a
 * threaded daemon. All signals are blocked around fork so no handler of the
 * parent runs in the child before it resets dispositions.
 *
 * Every descriptor this module opens is O_CLOEXEC, and the child also closes
 * everything above 2 with close_range(), so descriptors another thread opened
 * without O_CLOEXEC do not leak either. A failure between fork and exec is
 * reported to the parent over a close-on-exec pipe: EOF on it means exec
 * succeeded.
 *
 * Waiting uses a pidfd (poll()able, names exactly our child) next to the
 * output pipes; without pidfd support it falls back to polling waitpid on the
 * pid every few milliseconds. Either way only our pid is waited for, and it is
 * reaped last, after any group kill, so a pid or process-group id we signal
 * can never have been reused.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "proc.h"

/* After the program exits, a helper it left behind may still hold our
 * pipes open (a daemon that did not close stdio). Keep draining only while
 * data keeps coming, then stop rather than wait for the helper. */
#define LINGER_MS	200
/* Poll interval for the exit status when the kernel has no pidfd. */
#define FALLBACK_TICK_MS 20
#define READ_CHUNK	65536
#define STDERR_LINE_MAX	200
/* Golden files are small; refuse anything absurd rather than slurp it. */
#define GOLDEN_MAX	(16 * 1024 * 1024)
/* The LCS table is (n+1)*(m+1) entries; beyond this print less detail. */
#define DIFF_CELLS_MAX	(4u * 1024 * 1024)
#define DIFF_CONTEXT	3

static pthread_mutex_t	 hook_lock = PTHREAD_MUTEX_INITIALIZER;
static proc_hook_fn	 hook_fn;
static void		*hook_arg;

static const char default_path[] = "PATH=" PROC_SAFE_PATH;
static const char default_lang[] = "LANG=C";

/* ---------------------------------------------------------------------- */
/* Text built with common/buf; sb_finish() hands it over. */

/* Hand the buffer to the caller ("" if nothing was added), or NULL with
 * TS_ENOMEM recorded. */
static char *
sb_finish(struct buf *sb)
{
	if (sb->data == NULL)
		buf_reserve(sb, 0);
	if (sb->failed) {
		buf_free(sb);
		err_set(TS_ENOMEM, "proc: out of memory");
		return NULL;
	}
	return (char *)sb->data;
}

/* ---------------------------------------------------------------------- */
/* Quoting */

static bool
safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("_@%+=:,./-", c));
}

static void
sb_quote(struct buf *sb, const char *s, bool first)
{
	const unsigned char *p;
	bool bare = *s != '\0', ctl = false;

	for (p = (const unsigned char *)s; *p; p++) {
		if (!safe_char(*p) || (first && *p == '='))
			bare = false;
		if (*p < 0x20 || *p == 0x7f)
			ctl = true;
	}
	if (bare) {
		buf_puts(sb, s);
		return;
	}
	if (!ctl) {
		buf_append(sb, "'", 1);
		for (p = (const unsigned char *)s; *p; p++) {
			if (*p == '\'')
				buf_puts(sb, "'\\''");
			else
				buf_append(sb, (const char *)p, 1);
		}
		buf_append(sb, "'", 1);
		return;
	}
	/* $'...' keeps the word on one line; \xHH always has two digits so
	 * a following hex digit cannot be absorbed. */
	buf_puts(sb, "$'");
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\\':	buf_puts(sb, "\\\\"); break;
		case '\'':	buf_puts(sb, "\\'"); break;
		case '\n':	buf_puts(sb, "\\n"); break;
		case '\t':	buf_puts(sb, "\\t"); break;
		case '\r':	buf_puts(sb, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_printf(sb, "\\x%02x", *p);
			else
				buf_append(sb, (const char *)p, 1);
		}
	}
	buf_append(sb, "'", 1);
}

static void
sb_argv(struct buf *sb, const char *const argv[], bool basename0)
{
	const char *w, *slash;
	size_t i;

	for (i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			buf_append(sb, " ", 1);
		w = argv[i];
		if (i == 0 && basename0 && (slash = strrchr(w, '/')) != NULL &&
		    slash[1] != '\0')
			w = slash + 1;
		sb_quote(sb, w, i == 0);
	}
}

char *
proc_argv_format(const char *const argv[])
{
	struct buf sb = { 0 };

	if (argv == NULL) {
		err_set(TS_EINVALID, "proc: argv is NULL");
		return NULL;
	}
	sb_argv(&sb, argv, false);
	return sb_finish(&sb);
}

/* ---------------------------------------------------------------------- */
/* Results */

void
proc_result_clear(struct proc_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

int
proc_result_set(struct proc_result *res, int status, const char *out,
    const char *err)
{
	char *o, *e;

	o = strdup(out ? out : "");
	e = strdup(err ? err : "");
	if (o == NULL || e == NULL) {
		free(o);
		free(e);
		err_set(TS_ENOMEM, "proc: out of memory");
		return -1;
	}
	proc_result_clear(res);
	res->out = o;
	res->out_len = strlen(o);
	res->err = e;
	res->err_len = strlen(e);
	res->status = status;
	return 0;
}

/* Give res empty buffers where it has none, so callers never see NULL. */
static int
result_fill_empty(struct proc_result *res)
{
	if (res->out == NULL) {
		if ((res->out = calloc(1, 1)) == NULL)
			goto oom;
		res->out_len = 0;
	}
	if (res->err == NULL) {
		if ((res->err = calloc(1, 1)) == NULL)
			goto oom;
		res->err_len = 0;
	}
	return 0;
oom:
	err_set(TS_ENOMEM, "proc: out of memory");
	return -1;
}

static const char *
prog_name(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	return slash && slash[1] != '\0' ? slash + 1 : argv0;
}

/* First line of the program's complaint, bounded and without control
 * characters, for error messages. stderr first, stdout if stderr is empty
 * (some tools, lvm among them, report some failures on stdout). */
static void
first_line(const struct proc_result *res, char *buf, size_t size)
{
	const char *s = res->err;
	size_t len = res->err_len, i, n = 0;

	buf[0] = '\0';
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len == 0) {
		s = res->out;
		len = res->out_len;
		while (len > 0 && isspace((unsigned char)*s)) {
			s++;
			len--;
		}
	}
	for (i = 0; i < len && s[i] != '\n' && n + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
}

/* Turn a finished run into the return value and the recorded error. */
static int
judge(const char *const argv[], unsigned timeout_ms, bool allow_nonzero,
    const struct proc_result *res)
{
	const char *name = prog_name(argv[0]);
	const char *abbrev;
	char line[STDERR_LINE_MAX + 1];

	if (res->timed_out) {
		err_set(TS_ETIMEOUT, "%s timed out after %u ms", name,
		    timeout_ms);
		log_warnx("%s", err_msg());
		return -1;
	}
	if (res->status < 0 && res->termsig == 0) {
		/* ECHILD from waitpid: something else in the process reaped
		 * our child (a waitpid(-1) loop, SIGCHLD set to SIG_IGN). */
		err_set(TS_EINTERNAL, "exit status of %s was lost (reaped "
		    "elsewhere)", name);
		log_warnx("%s", err_msg());
		return -1;
	}
	if (res->status < 0) {
		/* A program that aborts often says why first (glib's failed
		 * allocation, qemu's failed thread creation). */
		first_line(res, line, sizeof(line));
		abbrev = sigabbrev_np(res->termsig);
		if (abbrev)
			err_set(TS_EIO, "%s killed by SIG%s%s%s", name, abbrev,
			    line[0] ? ": " : "", line);
		else
			err_set(TS_EIO, "%s killed by signal %d%s%s", name,
			    res->termsig, line[0] ? ": " : "", line);
		log_warnx("%s", err_msg());
		return -1;
	}
	if (res->status != 0) {
		first_line(res, line, sizeof(line));
		if (allow_nonzero) {
			log_debug("%s exited with status %d%s%s", name,
			    res->status, line[0] ? ": " : "", line);
			return 0;
		}
		err_set(TS_EIO, "%s exited with status %d%s%s", name,
		    res->status, line[0] ? ": " : "", line);
		log_warnx("%s", err_msg());
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Spawning */

enum child_stage {
	STAGE_PGROUP = 1,
	STAGE_RLIMIT,
	STAGE_FDS,
	STAGE_CHDIR,
	STAGE_EXEC,
};

struct child_report {
	int	stage;
	int	err;
};

struct child_spec {
	const char		 *path;
	char *const		 *argv;
	char *const		 *envp;
	const char		 *cwd;
	const struct proc_limits *limits;
	bool			  new_pgroup;
	int			  fd[3];	/* becomes 0, 1, 2 */
	int			  report;
};

/* Child side only: async-signal-safe calls. */
static int
child_limit(int resource, uint64_t soft, uint64_t extra)
{
	struct rlimit cur, rl;

	if (getrlimit(resource, &cur) == -1)
		return -1;
	rl.rlim_cur = (rlim_t)soft;
	rl.rlim_max = (rlim_t)(soft + extra);
	if (cur.rlim_max != RLIM_INFINITY && rl.rlim_max > cur.rlim_max)
		rl.rlim_max = cur.rlim_max;
	if (rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	return setrlimit(resource, &rl);
}

static void __attribute__((noreturn))
child_fail(int report, int stage)
{
	struct child_report r = { stage, errno };
	ssize_t n;

	n = write(report, &r, sizeof(r));
	(void)n;
	_exit(127);
}

static void __attribute__((noreturn))
child_exec(const struct child_spec *cs)
{
	const struct proc_limits *l = cs->limits;
	struct sigaction sa;
	struct rlimit nocore = { 0, 0 };
	sigset_t none;
	int report, fd[3], i, s;

	/* Handlers would be reset by exec anyway; ignored signals would not,
	 * and a daemon ignoring SIGPIPE must not pass that on. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);

	/* Move everything we still need above 2 first: if the parent had
	 * 0-2 closed, a pipe may sit there and dup2 would clobber it. */
	report = fcntl(cs->report, F_DUPFD_CLOEXEC, 3);
	if (report == -1)
		child_fail(cs->report, STAGE_FDS);
	for (i = 0; i < 3; i++)
		if ((fd[i] = fcntl(cs->fd[i], F_DUPFD_CLOEXEC, 3)) == -1)
			child_fail(report, STAGE_FDS);
	for (i = 0; i < 3; i++)
		if (dup2(fd[i], i) == -1)	/* clears CLOEXEC on i */
			child_fail(report, STAGE_FDS);
	if (report > 3 && close_range(3, (unsigned)report - 1, 0) == -1 &&
	    errno != ENOSYS)
		child_fail(report, STAGE_FDS);
	if (close_range((unsigned)report + 1, ~0U, 0) == -1) {
		struct rlimit nf;
		int f;

		if (errno != ENOSYS || getrlimit(RLIMIT_NOFILE, &nf) == -1)
			child_fail(report, STAGE_FDS);
		for (f = 3; (rlim_t)f < nf.rlim_cur && f < 65536; f++)
			if (f != report)
				(void)close(f);
	}

	if (cs->new_pgroup && setpgid(0, 0) == -1)
		child_fail(report, STAGE_PGROUP);
	if (setrlimit(RLIMIT_CORE, &nocore) == -1 ||
	    (l->cpu_sec && child_limit(RLIMIT_CPU, l->cpu_sec, 1) == -1) ||
	    (l->as_bytes && child_limit(RLIMIT_AS, l->as_bytes, 0) == -1) ||
	    (l->fsize_bytes &&
	    child_limit(RLIMIT_FSIZE, l->fsize_bytes, 0) == -1) ||
	    (l->nofile && child_limit(RLIMIT_NOFILE, l->nofile, 0) == -1))
		child_fail(report, STAGE_RLIMIT);
	if (cs->cwd && chdir(cs->cwd) == -1)
		child_fail(report, STAGE_CHDIR);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(cs->path, cs->argv, cs->envp);
	child_fail(report, STAGE_EXEC);
}

/* Resolve argv[0] to an executable path without consulting the caller's
 * PATH. */
static int
resolve(const char *name, char *path, size_t size)
{
	const char *dir, *end;
	struct stat st;
	int n;

	if (strchr(name, '/') != NULL) {
		if (name[0] != '/') {
			err_set(TS_EINVALID, "proc: relative program path "
			    "\"%s\" (use an absolute path or a bare name)",
			    name);
			return -1;
		}
		if (strlen(name) >= size) {
			err_set(TS_EINVALID, "proc: program path too long");
			return -1;
		}
		memcpy(path, name, strlen(name) + 1);
		return 0;
	}
	for (dir = PROC_SAFE_PATH; *dir; dir = *end ? end + 1 : end) {
		end = strchrnul(dir, ':');
		n = snprintf(path, size, "%.*s/%s", (int)(end - dir), dir,
		    name);
		if (n < 0 || (size_t)n >= size)
			continue;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(path, X_OK) == 0)
			return 0;
	}
	err_set(TS_ENOT_FOUND, "%s: program not found in %s", name,
	    PROC_SAFE_PATH);
	return -1;
}

static bool
env_name_eq(const char *a, const char *b)
{
	while (*a && *a != '=' && *a == *b) {
		a++;
		b++;
	}
	return *a == '=' && *b == '=';
}

/* envp for the child: borrowed pointers, the array is owned. */
static char **
build_env(const char *const *env)
{
	size_t n = 0, i, k;
	char **envp;

	for (i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');

		if (eq == NULL || eq == env[i]) {
			err_set(TS_EINVALID, "proc: environment entry \"%s\" "
			    "is not NAME=value", env[i]);
			return NULL;
		}
		n++;
	}
	if ((envp = calloc(n + 3, sizeof(*envp))) == NULL) {
		err_set(TS_ENOMEM, "proc: out of memory");
		return NULL;
	}
	envp[0] = (char *)default_path;
	envp[1] = (char *)default_lang;
	k = 2;
	for (i = 0; i < n; i++) {
		if (env_name_eq(env[i], envp[0]))
			envp[0] = (char *)env[i];
		else if (env_name_eq(env[i], envp[1]))
			envp[1] = (char *)env[i];
		else
			envp[k++] = (char *)env[i];
	}
	envp[k] = NULL;
	return envp;
}

struct capture {
	int	 fd;
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
	bool	 truncated;
	bool	 oom;
};

/* Read what is available. Returns true if any bytes arrived. Bytes beyond
 * max (or after a failed allocation) are read and dropped so the child never
 * blocks on a full pipe. */
static bool
capture_read(struct capture *c)
{
	char scratch[4096];
	size_t want, ncap;
	ssize_t n;
	char *np, *dst;

	if (c->len < c->max && !c->oom) {
		want = c->max - c->len;
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		if (c->cap < c->len + want + 1) {
			ncap = c->cap ? c->cap : 4096;
			while (ncap < c->len + want + 1)
				ncap *= 2;
			if (ncap > c->max + 1)
				ncap = c->max + 1;
			if ((np = realloc(c->buf, ncap)) == NULL) {
				c->oom = true;
				return capture_read(c);
			}
			c->buf = np;
			c->cap = ncap;
		}
		dst = c->buf + c->len;
	} else {
		want = sizeof(scratch);
		dst = scratch;
	}
	n = read(c->fd, dst, want);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	if (n < 0)
		return false;
	if (dst == scratch)
		c->truncated = true;
	else
		c->len += (size_t)n;
	return true;
}

static int
capture_finish(struct capture *c, char **out, size_t *out_len)
{
	if (c->buf == NULL && (c->buf = malloc(1)) == NULL)
		c->oom = true;
	if (c->buf)
		c->buf[c->len] = '\0';
	*out = c->buf;
	*out_len = c->len;
	c->buf = NULL;
	return c->oom ? -1 : 0;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* pidfds are always close-on-exec. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static bool
child_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	/* WNOWAIT: look without reaping, so the pid (and its process group)
	 * stays ours until we have finished signalling it. */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		return errno == ECHILD;
	return si.si_pid == pid;
}

static void
reap(pid_t pid, struct proc_result *res)
{
	int st;

	while (waitpid(pid, &st, 0) == -1) {
		if (errno != EINTR) {
			res->status = -1;
			res->termsig = 0;
			return;
		}
	}
	if (WIFEXITED(st)) {
		res->status = WEXITSTATUS(st);
		res->termsig = 0;
	} else {
		res->status = -1;
		res->termsig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	}
}

static const char *
stage_text(int stage)
{
	switch (stage) {
	case STAGE_PGROUP:	return "setpgid";
	case STAGE_RLIMIT:	return "setrlimit";
	case STAGE_FDS:		return "set up descriptors";
	case STAGE_CHDIR:	return "chdir";
	default:		return "exec";
	}
}

/* The watcher: feed stdin, drain stdout/stderr, enforce the deadline, reap.
 * Called with SIGPIPE blocked in this thread. */
static void
supervise(pid_t pid, const struct proc_opts *o, int in_fd, struct capture *cap,
    unsigned timeout_ms, struct proc_result *res, uint64_t t0, bool *epipe)
{
	const unsigned char *in_p = o->stdin_buf;
	size_t in_left = o->stdin_len;
	pid_t target = o->new_pgroup ? -pid : pid;
	unsigned grace = o->kill_grace_ms ? o->kill_grace_ms :
	    PROC_KILL_GRACE_DEFAULT_MS;
	enum { RUNNING, TERMINATING, KILLED } phase = RUNNING;
	uint64_t deadline = t0 + timeout_ms, linger = 0, now, wait;
	struct pollfd pfd[4];
	int pidfd, nfds, i_in, i_out, i_err;
	bool exited = false;
	ssize_t n;

	pidfd = open_pidfd(pid);
	if (in_left == 0)
		close_fd(&in_fd);
	for (;;) {
		if (!exited && child_exited(pid)) {
			/* The leader is a zombie, so its group id is still
			 * ours: finish off helpers that ignored SIGTERM. */
			if (o->new_pgroup && res->timed_out)
				(void)kill(-pid, SIGKILL);
			reap(pid, res);
			res->duration_ms = (uint64_t)clock_mono_ms() - t0;
			exited = true;
			close_fd(&in_fd);
			close_fd(&pidfd);
			linger = (uint64_t)clock_mono_ms() + LINGER_MS;
		}
		if (exited && cap[0].fd < 0 && cap[1].fd < 0)
			break;
		now = (uint64_t)clock_mono_ms();
		if (exited && now >= linger)
			break;
		if (!exited && now >= deadline) {
			if (phase == RUNNING) {
				res->timed_out = true;
				/* a stopped process acts on TERM only once
				 * continued; CONT first: sent after, it would
				 * discard a stop the exiting child's own
				 * tracer (a sanitizer's leak scan) waits for */
				(void)kill(target, SIGCONT);
				(void)kill(target, SIGTERM);
				phase = TERMINATING;
				deadline = now + grace;
			} else if (phase == TERMINATING) {
				(void)kill(target, SIGKILL);
				phase = KILLED;
				deadline = UINT64_MAX;
			}
			continue;
		}

		nfds = 0;
		i_in = i_out = i_err = -1;
		if (in_fd >= 0) {
			pfd[nfds] = (struct pollfd){ in_fd, POLLOUT, 0 };
			i_in = nfds++;
		}
		if (cap[0].fd >= 0) {
			pfd[nfds] = (struct pollfd){ cap[0].fd, POLLIN, 0 };
			i_out = nfds++;
		}
		if (cap[1].fd >= 0) {
			pfd[nfds] = (struct pollfd){ cap[1].fd, POLLIN, 0 };
			i_err = nfds++;
		}
		/* pidfd readiness is acted on by child_exited() above */
		if (!exited && pidfd >= 0)
			pfd[nfds++] = (struct pollfd){ pidfd, POLLIN, 0 };
		wait = (exited ? linger : deadline) - now;
		if (!exited && pidfd < 0 && wait > FALLBACK_TICK_MS)
			wait = FALLBACK_TICK_MS;
		if (wait > INT_MAX)
			wait = INT_MAX;
		if (poll(pfd, (nfds_t)nfds, (int)wait) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* Cannot watch it any more: make sure it dies. */
			log_warn("proc: poll");
			(void)kill(target, SIGKILL);
			if (!exited) {
				reap(pid, res);
				res->duration_ms =
				    (uint64_t)clock_mono_ms() - t0;
			}
			break;
		}
		if (i_in >= 0 && pfd[i_in].revents) {
			n = write(in_fd, in_p, in_left);
			if (n > 0) {
				in_p += n;
				in_left -= (size_t)n;
				if (in_left == 0)
					close_fd(&in_fd);
			} else if (n == -1 && errno != EAGAIN &&
			    errno != EINTR) {
				/* EPIPE: it stopped reading; that is its
				 * business, not an error. */
				if (errno == EPIPE)
					*epipe = true;
				close_fd(&in_fd);
			}
		}
		if (i_out >= 0 && pfd[i_out].revents && capture_read(&cap[0]) &&
		    exited)
			linger = (uint64_t)clock_mono_ms() + LINGER_MS;
		if (i_err >= 0 && pfd[i_err].revents && capture_read(&cap[1]) &&
		    exited)
			linger = (uint64_t)clock_mono_ms() + LINGER_MS;
	}
	close_fd(&in_fd);
	close_fd(&pidfd);
	close_fd(&cap[0].fd);
	close_fd(&cap[1].fd);
}

static bool
sigchld_ignored(void)
{
	struct sigaction sa;

	if (sigaction(SIGCHLD, NULL, &sa) == -1)
		return false;
	return sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT);
}

static int
pipe_nb(int p[2], int nonblock_end)
{
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if (fcntl(p[nonblock_end], F_SETFL,
	    fcntl(p[nonblock_end], F_GETFL) | O_NONBLOCK) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	return 0;
}

static int
spawn_and_wait(const char *const argv[], const struct proc_opts *o,
    unsigned timeout_ms, struct proc_result *res)
{
	char path[PATH_MAX];
	char **envp = NULL;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int rep[2] = { -1, -1 }, rc = -1;
	struct capture cap[2];
	struct child_spec cs;
	struct child_report report;
	sigset_t all, pipeset, orig, pending;
	bool pipe_was_pending, epipe = false;
	uint64_t t0;
	ssize_t n;
	pid_t pid;

	memset(cap, 0, sizeof(cap));
	cap[0].fd = cap[1].fd = -1;
	if (resolve(argv[0], path, sizeof(path)) == -1)
		return -1;
	if (sigchld_ignored()) {
		err_set(TS_EINTERNAL, "proc: SIGCHLD is ignored, exit status "
		    "of %s could not be collected", prog_name(argv[0]));
		return -1;
	}
	if ((envp = build_env(o->env)) == NULL)
		return -1;

	if (o->stdin_buf) {
		if (pipe_nb(in, 1) == -1) {
			err_set_errno(TS_EIO, "proc: pipe");
			goto out;
		}
	} else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		err_set_errno(TS_EIO, "proc: /dev/null");
		goto out;
	}
	if (pipe_nb(out, 0) == -1 || pipe_nb(errp, 0) == -1 ||
	    pipe2(rep, O_CLOEXEC) == -1) {
		err_set_errno(TS_EIO, "proc: pipe");
		goto out;
	}

	cs = (struct child_spec){
		.path = path, .argv = (char *const *)argv,
		.envp = envp, .cwd = o->cwd, .limits = &o->limits,
		.new_pgroup = o->new_pgroup,
		.fd = { in[0], out[1], errp[1] }, .report = rep[1],
	};

	/* SIGPIPE stays blocked in this thread while we write the child's
	 * stdin; a SIGPIPE we cause is consumed before returning. */
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipeset, &orig);
	sigpending(&pending);
	pipe_was_pending = sigismember(&pending, SIGPIPE);

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	t0 = (uint64_t)clock_mono_ms();
	pid = fork();
	if (pid == 0)
		child_exec(&cs);
	{
		sigset_t during = orig;

		sigaddset(&during, SIGPIPE);
		pthread_sigmask(SIG_SETMASK, &during, NULL);
	}
	if (pid == -1) {
		err_set_errno(TS_EIO, "proc: fork for %s", prog_name(argv[0]));
		goto restore;
	}
	/* Also from this side, so a kill(-pid) can never precede it. */
	if (o->new_pgroup)
		(void)setpgid(pid, pid);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	close_fd(&rep[1]);

	do
		n = read(rep[0], &report, sizeof(report));
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		reap(pid, res);
		res->duration_ms = (uint64_t)clock_mono_ms() - t0;
		errno = n == (ssize_t)sizeof(report) ? report.err : EIO;
		if (n == (ssize_t)sizeof(report) && report.stage == STAGE_CHDIR)
			err_set_errno(TS_EIO, "cannot run %s: chdir %s",
			    prog_name(argv[0]), o->cwd);
		else if (n == (ssize_t)sizeof(report) &&
		    report.stage == STAGE_EXEC)
			err_set_errno(errno == ENOENT ? TS_ENOT_FOUND : TS_EIO,
			    "cannot run %s", path);
		else
			err_set_errno(TS_EIO, "cannot run %s: %s",
			    prog_name(argv[0]), stage_text(report.stage));
		goto restore;
	}

	cap[0].fd = out[0];
	cap[1].fd = errp[0];
	out[0] = errp[0] = -1;
	cap[0].max = cap[1].max = o->max_output ? o->max_output :
	    PROC_MAX_OUTPUT_DEFAULT;
	supervise(pid, o, in[1], cap, timeout_ms, res, t0, &epipe);
	in[1] = -1;	/* supervise() closed it */
	res->truncated = cap[0].truncated || cap[1].truncated;
	rc = 0;

restore:
	if (epipe && !pipe_was_pending) {
		struct timespec zero = { 0, 0 };

		(void)sigtimedwait(&pipeset, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
out:
	if (capture_finish(&cap[0], &res->out, &res->out_len) == -1 ||
	    capture_finish(&cap[1], &res->err, &res->err_len) == -1) {
		if (rc == 0)
			err_set(TS_ENOMEM, "proc: out of memory capturing "
			    "output of %s", prog_name(argv[0]));
		rc = -1;
	}
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	free(envp);
	return rc;
}

int
proc_run(const char *const argv[], const struct proc_opts *opts,
    struct proc_result *res)
{
	static const struct proc_opts defaults;
	const struct proc_opts *o = opts ? opts : &defaults;
	unsigned timeout_ms = o->timeout_ms ? o->timeout_ms :
	    PROC_TIMEOUT_DEFAULT_MS;
	proc_hook_fn fn;
	void *arg;
	char *line;
	int rc;

	memset(res, 0, sizeof(*res));
	res->status = -1;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
		err_set(TS_EINVALID, "proc: empty argv");
		(void)result_fill_empty(res);
		return -1;
	}
	if (o->stdin_len > 0 && o->stdin_buf == NULL) {
		err_set(TS_EINVALID, "proc: stdin_len without stdin_buf");
		(void)result_fill_empty(res);
		return -1;
	}

	pthread_mutex_lock(&hook_lock);
	fn = hook_fn;
	arg = hook_arg;
	pthread_mutex_unlock(&hook_lock);

	if (log_get_level() >= LOG_LVL_DEBUG &&
	    (line = proc_argv_format(argv)) != NULL) {
		log_debug("%s: %s", fn ? "dry-run" : "run", line);
		free(line);
	}

	if (fn) {
		err_clear();
		rc = fn(argv, o, res, arg);
		if (result_fill_empty(res) == -1)
			return -1;
		if (rc != 0) {
			if (err_code() == TS_EOK)
				err_set(TS_EIO, "cannot run %s (hook)",
				    prog_name(argv[0]));
			log_warnx("%s", err_msg());
			return -1;
		}
		return judge(argv, timeout_ms, o->allow_nonzero, res);
	}

	if (spawn_and_wait(argv, o, timeout_ms, res) == -1) {
		(void)result_fill_empty(res);
		log_warnx("%s", err_msg());
		return -1;
	}
	log_debug("%s: status %d signal %d in %llu ms", prog_name(argv[0]),
	    res->status, res->termsig, (unsigned long long)res->duration_ms);
	return judge(argv, timeout_ms, o->allow_nonzero, res);
}

void
proc_set_hook(proc_hook_fn fn, void *arg)
{
	pthread_mutex_lock(&hook_lock);
	hook_fn = fn;
	hook_arg = fn ? arg : NULL;
	pthread_mutex_unlock(&hook_lock);
}

/* ---------------------------------------------------------------------- */
/* Recorder */

struct proc_expect {
	char			*prefix;
	char			*out;
	char			*err;
	int			 status;
	bool			 used;
	struct proc_expect	*next;
};

struct proc_recorder {
	pthread_mutex_t		 lock;
	struct buf		 text;
	size_t			 count;
	struct proc_expect	*head;
	struct proc_expect	*tail;
};

static void
sb_size(struct buf *sb, uint64_t v)
{
	if (v >= (1ULL << 30) && v % (1ULL << 30) == 0)
		buf_printf(sb, "%lluGiB", (unsigned long long)(v >> 30));
	else if (v >= (1ULL << 20) && v % (1ULL << 20) == 0)
		buf_printf(sb, "%lluMiB", (unsigned long long)(v >> 20));
	else if (v >= (1ULL << 10) && v % (1ULL << 10) == 0)
		buf_printf(sb, "%lluKiB", (unsigned long long)(v >> 10));
	else
		buf_printf(sb, "%llu", (unsigned long long)v);
}

/* Whether any line of text equals delim. */
static bool
has_line(const char *text, size_t len, const char *delim)
{
	size_t dl = strlen(delim);
	const char *p = text, *end = text + len, *nl;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if ((size_t)(nl - p) == dl && memcmp(p, delim, dl) == 0)
			return true;
		p = nl + 1;
	}
	return false;
}

static void
record_call(struct buf *sb, const char *const argv[],
    const struct proc_opts *o)
{
	const struct proc_limits *l = &o->limits;
	const char *in = o->stdin_buf, *eq;
	char delim[32] = "EOF";
	bool text_in = false;
	size_t i;
	int k;

	for (i = 0; o->env && o->env[i]; i++) {
		if (strcmp(o->env[i], default_path) == 0 ||
		    strcmp(o->env[i], default_lang) == 0)
			continue;
		eq = strchr(o->env[i], '=');
		if (eq == NULL)
			continue;
		buf_append(sb, o->env[i], (size_t)(eq - o->env[i]) + 1);
		sb_quote(sb, eq + 1, false);
		buf_append(sb, " ", 1);
	}
	sb_argv(sb, argv, false);
	if (in) {
		text_in = o->stdin_len > 0 && in[o->stdin_len - 1] == '\n' &&
		    memchr(in, '\0', o->stdin_len) == NULL;
		if (text_in) {
			for (k = 1; has_line(in, o->stdin_len, delim); k++)
				snprintf(delim, sizeof(delim), "EOF%d", k);
			buf_printf(sb, " <<'%s'", delim);
		} else {
			buf_printf(sb, " < (%zu bytes)", o->stdin_len);
		}
	}
	if (o->cwd || l->cpu_sec || l->as_bytes || l->fsize_bytes ||
	    l->nofile) {
		buf_puts(sb, " #");
		if (o->cwd) {
			buf_puts(sb, " cwd=");
			sb_quote(sb, o->cwd, false);
		}
		if (l->cpu_sec)
			buf_printf(sb, " cpu=%llus",
			    (unsigned long long)l->cpu_sec);
		if (l->as_bytes) {
			buf_puts(sb, " as=");
			sb_size(sb, l->as_bytes);
		}
		if (l->fsize_bytes) {
			buf_puts(sb, " fsize=");
			sb_size(sb, l->fsize_bytes);
		}
		if (l->nofile)
			buf_printf(sb, " nofile=%llu",
			    (unsigned long long)l->nofile);
	}
	buf_append(sb, "\n", 1);
	if (text_in) {
		buf_append(sb, in, o->stdin_len);
		buf_puts(sb, delim);
		buf_append(sb, "\n", 1);
	}
}

/* Length of prefix if it matches line on a word boundary, else 0. */
static size_t
prefix_match(const char *prefix, const char *line)
{
	size_t n = strlen(prefix);

	if (n == 0 || strncmp(prefix, line, n) != 0)
		return 0;
	return line[n] == '\0' || line[n] == ' ' ? n : 0;
}

static int
recorder_hook(const char *const argv[], const struct proc_opts *o,
    struct proc_result *res, void *arg)
{
	struct proc_recorder *rec = arg;
	struct buf full = { 0 }, base = { 0 };
	struct proc_expect *e, *pick = NULL, *last = NULL;
	size_t best = 0, m, m2;
	int rc = -1;

	sb_argv(&full, argv, false);
	sb_argv(&base, argv, true);
	if (full.failed || base.failed) {
		err_set(TS_ENOMEM, "proc: out of memory");
		goto out;
	}

	pthread_mutex_lock(&rec->lock);
	record_call(&rec->text, argv, o);
	rec->count++;
	for (e = rec->head; e; e = e->next) {
		m = prefix_match(e->prefix, (const char *)full.data);
		m2 = prefix_match(e->prefix, (const char *)base.data);
		if (m2 > m)
			m = m2;
		if (m > best) {
			best = m;
			pick = last = NULL;
		}
		if (m == 0 || m < best)
			continue;
		/* same length and both match: the same prefix */
		last = e;
		if (pick == NULL && !e->used)
			pick = e;
	}
	if (pick == NULL)
		pick = last;
	if (pick)
		pick->used = true;
	rc = rec->text.failed ? -1 : 0;
	if (rc == 0)
		rc = proc_result_set(res, pick ? pick->status : 0,
		    pick ? pick->out : NULL, pick ? pick->err : NULL);
	else
		err_set(TS_ENOMEM, "proc: recorder out of memory");
	pthread_mutex_unlock(&rec->lock);
out:
	buf_free(&full);
	buf_free(&base);
	return rc;
}

struct proc_recorder *
proc_recorder_new(void)
{
	struct proc_recorder *rec;

	if ((rec = calloc(1, sizeof(*rec))) == NULL) {
		err_set(TS_ENOMEM, "proc: out of memory");
		return NULL;
	}
	pthread_mutex_init(&rec->lock, NULL);
	pthread_mutex_lock(&hook_lock);
	if (hook_fn != NULL) {
		pthread_mutex_unlock(&hook_lock);
		pthread_mutex_destroy(&rec->lock);
		free(rec);
		err_set(TS_ECONFLICT, "proc: a hook is already installed");
		return NULL;
	}
	hook_fn = recorder_hook;
	hook_arg = rec;
	pthread_mutex_unlock(&hook_lock);
	return rec;
}

void
proc_recorder_free(struct proc_recorder **recp)
{
	struct proc_recorder *rec;
	struct proc_expect *e, *next;

	if (recp == NULL || (rec = *recp) == NULL)
		return;
	*recp = NULL;
	pthread_mutex_lock(&hook_lock);
	if (hook_fn == recorder_hook && hook_arg == rec) {
		hook_fn = NULL;
		hook_arg = NULL;
	}
	pthread_mutex_unlock(&hook_lock);
	for (e = rec->head; e; e = next) {
		next = e->next;
		free(e->prefix);
		free(e->out);
		free(e->err);
		free(e);
	}
	free(rec->text.data);
	pthread_mutex_destroy(&rec->lock);
	free(rec);
}

int
proc_recorder_expect_full(struct proc_recorder *rec, const char *prefix,
    const char *out, const char *err, int status)
{
	struct proc_expect *e;

	if (prefix == NULL || prefix[0] == '\0' || status < 0 ||
	    status > 255) {
		err_set(TS_EINVALID, "proc: expectation needs a prefix and a "
		    "status 0..255");
		return -1;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->prefix = strdup(prefix)) == NULL ||
	    (e->out = strdup(out ? out : "")) == NULL ||
	    (e->err = strdup(err ? err : "")) == NULL) {
		if (e) {
			free(e->prefix);
			free(e->out);
		}
		free(e);
		err_set(TS_ENOMEM, "proc: out of memory");
		return -1;
	}
	e->status = status;
	pthread_mutex_lock(&rec->lock);
	if (rec->tail)
		rec->tail->next = e;
	else
		rec->head = e;
	rec->tail = e;
	pthread_mutex_unlock(&rec->lock);
	return 0;
}

int
proc_recorder_expect(struct proc_recorder *rec, const char *prefix,
    const char *out, int status)
{
	return proc_recorder_expect_full(rec, prefix, out, NULL, status);
}

const char *
proc_recorder_text(const struct proc_recorder *rec)
{
	return rec->text.data ? (const char *)rec->text.data : "";
}

size_t
proc_recorder_count(const struct proc_recorder *rec)
{
	return rec->count;
}

void
proc_recorder_reset(struct proc_recorder *rec)
{
	pthread_mutex_lock(&rec->lock);
	free(rec->text.data);
	memset(&rec->text, 0, sizeof(rec->text));
	rec->count = 0;
	pthread_mutex_unlock(&rec->lock);
}

/* ---------------------------------------------------------------------- */
/* Golden files */

struct line {
	const char	*p;
	size_t		 len;	/* including the newline, if any */
};

static size_t
split_lines(const char *text, size_t len, struct line **out)
{
	size_t n = 0, i = 0, k = 0;
	const char *nl;
	struct line *v;

	for (const char *p = text; p < text + len; n++) {
		nl = memchr(p, '\n', (size_t)(text + len - p));
		p = nl ? nl + 1 : text + len;
	}
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL) {
		*out = NULL;
		return 0;
	}
	while (i < len) {
		nl = memchr(text + i, '\n', len - i);
		v[k].p = text + i;
		v[k].len = nl ? (size_t)(nl - (text + i)) + 1 : len - i;
		i += v[k].len;
		k++;
	}
	*out = v;
	return n;
}

static bool
line_eq(const struct line *a, const struct line *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static void
print_line(char tag, const struct line *l)
{
	bool nl = l->len > 0 && l->p[l->len - 1] == '\n';

	fprintf(stderr, "%c%.*s\n", tag, (int)(l->len - nl), l->p);
	if (!nl)
		fprintf(stderr, "\\ No newline at end of file\n");
}

struct diff_op {
	char	tag;	/* ' ', '-', '+' */
	size_t	ai;	/* index into a before this op */
	size_t	bj;
};

/* Unified diff golden (a) -> actual (b) on stderr. Falls back to naming the
 * first differing line when the inputs are too large for the LCS table. */
static void
print_diff(const char *path, const char *a_text, size_t a_len,
    const char *b_text, size_t b_len)
{
	struct line *a = NULL, *b = NULL;
	struct diff_op *ops = NULL;
	uint32_t *dp = NULL;
	size_t n, m, i, j, nops = 0, k, start, end, h, last;
	size_t ac, bc;

	n = split_lines(a_text, a_len, &a);
	m = split_lines(b_text, b_len, &b);
	fprintf(stderr, "--- %s (golden)\n+++ actual\n", path);
	if (a == NULL || b == NULL || (n + 1) * (m + 1) > DIFF_CELLS_MAX ||
	    (dp = calloc((n + 1) * (m + 1), sizeof(*dp))) == NULL ||
	    (ops = calloc(n + m + 1, sizeof(*ops))) == NULL) {
		for (i = 0; i < n && i < m && line_eq(&a[i], &b[i]); i++)
			;
		fprintf(stderr, "(too large to diff; first difference at "
		    "line %zu)\n", i + 1);
		goto out;
	}
#define DP(x, y) dp[(x) * (m + 1) + (y)]
	for (i = n; i-- > 0;)
		for (j = m; j-- > 0;)
			DP(i, j) = line_eq(&a[i], &b[j]) ? DP(i + 1, j + 1) + 1 :
			    (DP(i + 1, j) >= DP(i, j + 1) ? DP(i + 1, j) :
			    DP(i, j + 1));
	i = j = 0;
	while (i < n || j < m) {
		ops[nops].ai = i;
		ops[nops].bj = j;
		if (i < n && j < m && line_eq(&a[i], &b[j])) {
			ops[nops++].tag = ' ';
			i++;
			j++;
		} else if (i < n && (j == m || DP(i + 1, j) >= DP(i, j + 1))) {
			ops[nops++].tag = '-';
			i++;
		} else {
			ops[nops++].tag = '+';
			j++;
		}
	}
#undef DP
	for (k = 0; k < nops;) {
		if (ops[k].tag == ' ') {
			k++;
			continue;
		}
		/* A hunk: changes closer than 2*context are joined. */
		start = k > DIFF_CONTEXT ? k - DIFF_CONTEXT : 0;
		last = k;
		for (h = k; h < nops; h++) {
			if (ops[h].tag != ' ')
				last = h;
			else if (h - last > 2 * DIFF_CONTEXT)
				break;
		}
		end = last + DIFF_CONTEXT + 1 < nops ? last + DIFF_CONTEXT + 1 :
		    nops;
		ac = bc = 0;
		for (h = start; h < end; h++) {
			ac += ops[h].tag != '+';
			bc += ops[h].tag != '-';
		}
		fprintf(stderr, "@@ -%zu,%zu +%zu,%zu @@\n",
		    ops[start].ai + (ac ? 1 : 0), ac,
		    ops[start].bj + (bc ? 1 : 0), bc);
		for (h = start; h < end; h++) {
			if (ops[h].tag == '+')
				print_line('+', &b[ops[h].bj]);
			else
				print_line(ops[h].tag, &a[ops[h].ai]);
		}
		k = end;
	}
out:
	free(a);
	free(b);
	free(dp);
	free(ops);
}

static int
mkdir_parents(char *path)
{
	char *p;

	for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			err_set_errno(TS_EIO, "mkdir %s", path);
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static int
golden_write(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		err_set(TS_EINVALID, "golden path too long");
		return -1;
	}
	if (mkdir_parents(dir) == -1)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		err_set_errno(TS_EIO, "%s", tmp);
		return -1;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set_errno(TS_EIO, "write %s", tmp);
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)n;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		err_set_errno(TS_EIO, "%s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static char *
golden_read(const char *path, size_t *lenp)
{
	struct buf sb = { 0 };
	char chunk[8192];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_set_errno(errno == ENOENT ? TS_ENOT_FOUND : TS_EIO,
		    "golden file %s", path);
		return NULL;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_append(&sb, chunk, (size_t)n);
		if (sb.len > GOLDEN_MAX) {
			close(fd);
			buf_free(&sb);
			err_set(TS_ETOO_LARGE, "golden file %s too large",
			    path);
			return NULL;
		}
	}
	if (n == -1) {
		err_set_errno(TS_EIO, "read %s", path);
		close(fd);
		buf_free(&sb);
		return NULL;
	}
	close(fd);
	*lenp = sb.len;
	return sb_finish(&sb);
}

int
proc_golden_compare(const char *text, const char *golden_path)
{
	const char *src = getenv("TS_SOURCE_DIR"), *upd;
	char path[PATH_MAX];
	char *golden;
	size_t glen = 0, tlen = strlen(text);
	int n;

	if (golden_path[0] != '/' && src && src[0])
		n = snprintf(path, sizeof(path), "%s/%s", src, golden_path);
	else
		n = snprintf(path, sizeof(path), "%s", golden_path);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		err_set(TS_EINVALID, "golden path too long");
		return -1;
	}
	upd = getenv("TS_UPDATE_GOLDEN");
	if (upd && strcmp(upd, "1") == 0) {
		if (golden_write(path, text) == -1) {
			fprintf(stderr, "golden: %s\n", err_msg());
			return -1;
		}
		fprintf(stderr, "golden: updated %s\n", path);
		return 0;
	}
	if ((golden = golden_read(path, &glen)) == NULL) {
		fprintf(stderr, "golden: %s (run with TS_UPDATE_GOLDEN=1 to "
		    "create it)\n", err_msg());
		return -1;
	}
	if (glen == tlen && memcmp(golden, text, tlen) == 0) {
		free(golden);
		return 0;
	}
	print_diff(path, golden, glen, text, tlen);
	free(golden);
	err_set(TS_ECONFLICT, "output differs from golden file %s", path);
	fprintf(stderr, "golden: %s (TS_UPDATE_GOLDEN=1 rewrites it)\n",
	    err_msg());
	return -1;
}
