/*
 * proc_test: the process runner against real programs (true, false, echo,
 * cat, head, sleep, env, ls, python3, and sh as the program under test for
 * cases a single binary cannot show), plus the dry-run hook, the recorder
 * and the golden-file helper.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "proc.h"

#define ARGV(...)	((const char *const []){ __VA_ARGS__, NULL })

static char *
make_tmpdir(void)
{
	char tmpl[] = "/tmp/proc_test.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void
rm_rf(const char *dir)
{
	struct proc_result r;

	/* test clean-up through the runner itself */
	assert_int_equal(proc_run(ARGV("rm", "-rf", "--", dir), NULL, &r), 0);
	proc_result_clear(&r);
}

/* Whether pid is gone: no such process, or a zombie nobody reaps yet. */
static bool
pid_dead(pid_t pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp == NULL || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X';
}

static bool
wait_dead(pid_t pid, unsigned ms)
{
	uint64_t end = (uint64_t)clock_mono_ms() + ms;

	while (!pid_dead(pid)) {
		if ((uint64_t)clock_mono_ms() > end)
			return false;
		usleep(10000);
	}
	return true;
}

/* ---------------------------------------------------------------------- */

static void
test_exit_zero(void **state)
{
	struct proc_result r;

	(void)state;
	assert_int_equal(proc_run(ARGV("/bin/true"), NULL, &r), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.termsig, 0);
	assert_false(r.timed_out);
	assert_false(r.truncated);
	assert_non_null(r.out);
	assert_non_null(r.err);
	assert_int_equal(r.out_len, 0);
	assert_string_equal(r.out, "");
	proc_result_clear(&r);
	assert_null(r.out);
	proc_result_clear(NULL);

	/* bare names come from the safe PATH */
	assert_int_equal(proc_run(ARGV("echo", "hi"), NULL, &r), 0);
	assert_string_equal(r.out, "hi\n");
	proc_result_clear(&r);
}

static void
test_exit_nonzero(void **state)
{
	struct proc_result r;

	(void)state;
	err_clear();
	assert_int_equal(proc_run(ARGV("/bin/false"), NULL, &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_string_equal(err_msg(), "false exited with status 1");
	assert_int_equal(r.status, 1);
	assert_int_equal(r.termsig, 0);
	proc_result_clear(&r);

	/* the first line of stderr, trimmed, makes it into the message */
	assert_int_equal(proc_run(ARGV("/bin/sh", "-c",
	    "echo 'partial output'; printf '\\n  qemu-img: Could not open "
	    "x\\nsecond line\\n' >&2; exit 1"), NULL, &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_string_equal(err_msg(),
	    "sh exited with status 1: qemu-img: Could not open x");
	assert_string_equal(r.out, "partial output\n");
	proc_result_clear(&r);

	/* no stderr: stdout's first line is used */
	assert_int_equal(proc_run(ARGV("sh", "-c",
	    "echo '  Volume group \"vg9\" not found'; exit 5"), NULL, &r), -1);
	assert_string_equal(err_msg(),
	    "sh exited with status 5: Volume group \"vg9\" not found");
	assert_int_equal(r.status, 5);
	proc_result_clear(&r);
}

static void
test_allow_nonzero(void **state)
{
	struct proc_opts o = { .allow_nonzero = true };
	struct proc_result r;

	(void)state;
	assert_int_equal(proc_run(ARGV("sh", "-c", "echo listing; exit 5"), &o,
	    &r), 0);
	assert_int_equal(r.status, 5);
	assert_string_equal(r.out, "listing\n");
	proc_result_clear(&r);

	/* a signal is still an error */
	assert_int_equal(proc_run(ARGV("sh", "-c", "kill -KILL $$"), &o, &r),
	    -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_string_equal(err_msg(), "sh killed by SIGKILL");
	assert_int_equal(r.status, -1);
	assert_int_equal(r.termsig, SIGKILL);
	proc_result_clear(&r);

	/* what it said before dying is kept: the first line of stderr */
	assert_int_equal(proc_run(ARGV("sh", "-c", "printf 'out\\n'; "
	    "printf 'qemu: thread\\tfailed\\nmore\\n' >&2; kill -ABRT $$"),
	    &o, &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_string_equal(err_msg(), "sh killed by SIGABRT: qemu: thread?failed");
	assert_int_equal(r.termsig, SIGABRT);
	proc_result_clear(&r);
}

static void
test_stdout_stderr_separate(void **state)
{
	struct proc_result r;

	(void)state;
	assert_int_equal(proc_run(ARGV("sh", "-c",
	    "echo out1; echo err1 >&2; echo out2; echo err2 >&2"), NULL, &r),
	    0);
	assert_string_equal(r.out, "out1\nout2\n");
	assert_int_equal(r.out_len, 10);
	assert_string_equal(r.err, "err1\nerr2\n");
	assert_int_equal(r.err_len, 10);
	proc_result_clear(&r);

	/* argv[0] reaches the program as given, and NUL bytes survive */
	assert_int_equal(proc_run(ARGV("cat", "/proc/self/cmdline"), NULL,
	    &r), 0);
	assert_int_equal(r.out_len, sizeof("cat\0/proc/self/cmdline"));
	assert_memory_equal(r.out, "cat\0/proc/self/cmdline", r.out_len);
	proc_result_clear(&r);
}

static void
test_stdin(void **state)
{
	static const char text[] = "line one\nline two\n";
	struct proc_opts o = { .stdin_buf = text, .stdin_len = strlen(text) };
	struct proc_result r;
	size_t big = 3 * 1024 * 1024, i;
	char *buf;

	(void)state;
	assert_int_equal(proc_run(ARGV("/bin/cat"), &o, &r), 0);
	assert_string_equal(r.out, text);
	proc_result_clear(&r);

	/* more than a pipe holds, both ways at once */
	buf = malloc(big);
	assert_non_null(buf);
	for (i = 0; i < big; i++)
		buf[i] = (char)('a' + i % 23);
	o = (struct proc_opts){ .stdin_buf = buf, .stdin_len = big,
	    .max_output = big };
	assert_int_equal(proc_run(ARGV("cat"), &o, &r), 0);
	assert_int_equal(r.out_len, big);
	assert_memory_equal(r.out, buf, big);
	assert_false(r.truncated);
	proc_result_clear(&r);

	/* a program that never reads stdin: no SIGPIPE, no error */
	{
		sigset_t pending;

		o = (struct proc_opts){ .stdin_buf = buf, .stdin_len = big };
		assert_int_equal(proc_run(ARGV("true"), &o, &r), 0);
		assert_int_equal(r.status, 0);
		proc_result_clear(&r);
		sigpending(&pending);
		assert_false(sigismember(&pending, SIGPIPE));
	}
	free(buf);

	/* an empty buffer is immediate EOF; no buffer is /dev/null */
	o = (struct proc_opts){ .stdin_buf = "", .stdin_len = 0 };
	assert_int_equal(proc_run(ARGV("cat"), &o, &r), 0);
	assert_int_equal(r.out_len, 0);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("sh", "-c", "readlink /proc/$$/fd/0"),
	    NULL, &r), 0);
	assert_string_equal(r.out, "/dev/null\n");
	proc_result_clear(&r);

	o = (struct proc_opts){ .stdin_len = 3 };
	assert_int_equal(proc_run(ARGV("cat"), &o, &r), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	proc_result_clear(&r);
}

static void
test_output_cap(void **state)
{
	struct proc_opts o = { 0 };
	struct proc_result r;

	(void)state;
	assert_int_equal(proc_run(ARGV("head", "-c", "10485760", "/dev/zero"),
	    NULL, &r), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, PROC_MAX_OUTPUT_DEFAULT);
	assert_true(r.truncated);
	assert_int_equal(r.out[r.out_len], '\0');
	proc_result_clear(&r);

	/* exactly at the cap is not truncation; one byte more is */
	o.max_output = 3;
	assert_int_equal(proc_run(ARGV("printf", "abc"), &o, &r), 0);
	assert_string_equal(r.out, "abc");
	assert_false(r.truncated);
	proc_result_clear(&r);
	o.max_output = 2;
	assert_int_equal(proc_run(ARGV("sh", "-c", "printf abc; printf "
	    "xy >&2"), &o, &r), 0);
	assert_string_equal(r.out, "ab");
	assert_string_equal(r.err, "xy");
	assert_true(r.truncated);
	proc_result_clear(&r);
}

static void
test_timeout(void **state)
{
	struct proc_opts o = { .timeout_ms = 300 };
	struct proc_result r;
	uint64_t t0 = (uint64_t)clock_mono_ms(), took;

	(void)state;
	assert_int_equal(proc_run(ARGV("sleep", "30"), &o, &r), -1);
	took = (uint64_t)clock_mono_ms() - t0;
	assert_int_equal(err_code(), TS_ETIMEOUT);
	assert_string_equal(err_msg(), "sleep timed out after 300 ms");
	assert_true(r.timed_out);
	assert_int_equal(r.termsig, SIGTERM);
	/* The upper bounds only need to be far below the 30 s the child
	 * would sleep: a loaded machine may be slow to deliver the kill. */
	assert_true(took >= 300);
	assert_true(took < 20000);
	assert_true(r.duration_ms >= 300 && r.duration_ms < 20000);
	proc_result_clear(&r);

	/* ignores SIGTERM: SIGKILL after the grace period */
	o = (struct proc_opts){ .timeout_ms = 200, .kill_grace_ms = 200 };
	t0 = (uint64_t)clock_mono_ms();
	assert_int_equal(proc_run(ARGV("sh", "-c",
	    "trap '' TERM; while :; do sleep 0.05; done"), &o, &r), -1);
	took = (uint64_t)clock_mono_ms() - t0;
	assert_true(r.timed_out);
	assert_int_equal(r.termsig, SIGKILL);
	assert_true(took >= 400);
	assert_true(took < 20000);	/* it would loop for ever */
	proc_result_clear(&r);
}

/* Start sh with a background sleep that prints its pid, let it time out,
 * and return the sleep's pid. */
static pid_t
timeout_with_child(bool pgroup, const char *script, struct proc_result *r)
{
	/* The deadline must leave sh time to start the sleep and print its
	 * pid even on a loaded machine (300 ms was not always enough at load
	 * 50); the upper bound only needs to be far below the sleep's 30 s. */
	struct proc_opts o = { .timeout_ms = 2000, .kill_grace_ms = 300,
	    .new_pgroup = pgroup };
	uint64_t t0 = (uint64_t)clock_mono_ms();
	pid_t pid;

	assert_int_equal(proc_run(ARGV("sh", "-c", script), &o, r), -1);
	assert_int_equal(err_code(), TS_ETIMEOUT);
	assert_true(r->timed_out);
	assert_true((uint64_t)clock_mono_ms() - t0 < 20000);
	pid = (pid_t)atoi(r->out);
	assert_true(pid > 1);
	return pid;
}

static void
test_timeout_process_group(void **state)
{
	struct proc_result r;
	pid_t pid;

	(void)state;
	/* Without a group only sh is signalled: its child survives. It also
	 * keeps our stdout pipe open, which must not make us wait for it. */
	pid = timeout_with_child(false, "sleep 30 & echo $!; wait", &r);
	proc_result_clear(&r);
	assert_false(pid_dead(pid));
	kill(pid, SIGKILL);
	assert_true(wait_dead(pid, 10000));

	/* With a group the whole group goes */
	pid = timeout_with_child(true, "sleep 30 & echo $!; wait", &r);
	proc_result_clear(&r);
	assert_true(wait_dead(pid, 10000));

	/* ... including members that ignore SIGTERM */
	pid = timeout_with_child(true,
	    "trap '' TERM; sleep 30 & echo $!; wait", &r);
	proc_result_clear(&r);
	assert_true(wait_dead(pid, 10000));
}

static void
test_rlimit_as(void **state)
{
	struct proc_opts o = { .limits.as_bytes = 256ULL << 20,
	    .timeout_ms = 10000 };
	struct proc_result r;

	(void)state;
	/* python3 is a build dependency (packaging/install-deps.sh) */
	if (access("/usr/bin/python3", X_OK) != 0)
		fail_msg("/usr/bin/python3 is missing: %s (install it with "
		    "packaging/install-deps.sh)", strerror(errno));
	assert_int_equal(proc_run(ARGV("/usr/bin/python3", "-c",
	    "x = bytearray(512 << 20)"), &o, &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "MemoryError"));
	proc_result_clear(&r);

	/* the same limit leaves room for a modest allocation */
	assert_int_equal(proc_run(ARGV("/usr/bin/python3", "-c",
	    "x = bytearray(32 << 20)"), &o, &r), 0);
	proc_result_clear(&r);
}

static void
test_rlimit_cpu(void **state)
{
	/* The wall-clock timeout is far away on purpose: on a loaded machine
	 * one CPU second can take many wall seconds, and what is checked is
	 * that the CPU limit (SIGXCPU), not the timeout, ended the child. */
	struct proc_opts o = { .limits.cpu_sec = 1, .timeout_ms = 120000 };
	struct proc_result r;

	(void)state;
	assert_int_equal(proc_run(ARGV("sh", "-c", "while :; do :; done"), &o,
	    &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_false(r.timed_out);
	assert_int_equal(r.termsig, SIGXCPU);
	assert_string_equal(err_msg(), "sh killed by SIGXCPU");
	proc_result_clear(&r);
}

static void
test_rlimit_fsize_nofile_cwd(void **state)
{
	struct proc_opts o = { 0 };
	struct proc_result r;
	struct stat st;
	char *dir = make_tmpdir(), path[512];

	(void)state;
	o.cwd = dir;
	o.limits.fsize_bytes = 4096;
	assert_int_equal(proc_run(ARGV("sh", "-c",
	    "pwd; head -c 100000 /dev/zero > big"), &o, &r), -1);
	assert_true(r.termsig == SIGXFSZ || r.status == 128 + SIGXFSZ);
	assert_int_equal(strncmp(r.out, dir, strlen(dir)), 0);
	proc_result_clear(&r);
	snprintf(path, sizeof(path), "%s/big", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4096);

	/* limits as the child sees them; no core dumps ever */
	o = (struct proc_opts){ .limits = { .cpu_sec = 7,
	    .as_bytes = 256ULL << 20, .nofile = 64 } };
	assert_int_equal(proc_run(ARGV("sh", "-c",
	    "ulimit -n; ulimit -t; ulimit -v; ulimit -c; ulimit -H -t"), &o,
	    &r), 0);
	assert_string_equal(r.out, "64\n7\n262144\n0\n8\n");
	proc_result_clear(&r);

	/* a cwd that does not exist fails before exec, clearly */
	o = (struct proc_opts){ .cwd = "/nonexistent-proc-test-dir" };
	assert_int_equal(proc_run(ARGV("true"), &o, &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_non_null(strstr(err_msg(),
	    "cannot run true: chdir /nonexistent-proc-test-dir"));
	assert_int_equal(r.status, 127);
	proc_result_clear(&r);

	rm_rf(dir);
	free(dir);
}

static void
test_env_clean(void **state)
{
	const char *env1[] = { "FOO=bar baz", "EMPTY=", NULL };
	const char *env2[] = { "LANG=C.UTF-8", "X=1", NULL };
	const char *bad[] = { "NOEQUALS", NULL };
	struct proc_opts o = { .env = env1 };
	struct proc_result r;

	(void)state;
	setenv("PROC_TEST_SECRET", "leak", 1);
	assert_int_equal(proc_run(ARGV("env"), NULL, &r), 0);
	assert_string_equal(r.out, "PATH=" PROC_SAFE_PATH "\nLANG=C\n");
	proc_result_clear(&r);

	assert_int_equal(proc_run(ARGV("env"), &o, &r), 0);
	assert_string_equal(r.out, "PATH=" PROC_SAFE_PATH "\nLANG=C\n"
	    "FOO=bar baz\nEMPTY=\n");
	proc_result_clear(&r);

	o.env = env2;
	assert_int_equal(proc_run(ARGV("env"), &o, &r), 0);
	assert_string_equal(r.out, "PATH=" PROC_SAFE_PATH "\nLANG=C.UTF-8\n"
	    "X=1\n");
	proc_result_clear(&r);

	o.env = bad;
	assert_int_equal(proc_run(ARGV("env"), &o, &r), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	proc_result_clear(&r);
	unsetenv("PROC_TEST_SECRET");
}

static void
test_no_fd_leak(void **state)
{
	struct proc_result r;
	int fd, p[2];

	(void)state;
	/* deliberately inheritable */
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(proc_run(ARGV("sh", "-c", "ls /proc/$$/fd"), NULL,
	    &r), 0);
	assert_string_equal(r.out, "0\n1\n2\n");
	proc_result_clear(&r);
	close(fd);
	close(p[0]);
	close(p[1]);
}

static int
count_fds(void)
{
	char path[64];
	int n = 0, fd;

	/* probe instead of listing, so nothing here opens a descriptor */
	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* Whatever happens to the child, the parent keeps no descriptor. */
static void
test_no_parent_fd_leak(void **state)
{
	struct proc_opts slow = { .timeout_ms = 100, .new_pgroup = true };
	struct proc_opts badcwd = { .cwd = "/nonexistent-proc-test-dir" };
	struct proc_opts in = { .stdin_buf = "x\n", .stdin_len = 2 };
	struct proc_result r;
	int before = count_fds();

	(void)state;
	assert_int_equal(proc_run(ARGV("sleep", "0.2"), NULL, &r), 0);
	assert_true(r.duration_ms >= 200 && r.duration_ms < 20000);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("cat"), &in, &r), 0);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("false"), NULL, &r), -1);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("sleep", "5"), &slow, &r), -1);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("true"), &badcwd, &r), -1);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("/nonexistent/x"), NULL, &r), -1);
	proc_result_clear(&r);
	assert_int_equal(count_fds(), before);
}

static void
test_missing_program(void **state)
{
	struct proc_result r;
	char *dir = make_tmpdir(), prog[512], *oldpath;
	const char *p;
	FILE *f;

	(void)state;
	assert_int_equal(proc_run(ARGV("no-such-program-tinystack", "x"),
	    NULL, &r), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_string_equal(err_msg(), "no-such-program-tinystack: program "
	    "not found in " PROC_SAFE_PATH);
	assert_int_equal(r.status, -1);
	assert_non_null(r.out);
	proc_result_clear(&r);

	assert_int_equal(proc_run(ARGV("/nonexistent/tinystack-x"), NULL, &r),
	    -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_string_equal(err_msg(), "cannot run /nonexistent/tinystack-x: "
	    "No such file or directory");
	proc_result_clear(&r);

	/* not executable */
	snprintf(prog, sizeof(prog), "%s/not-executable", dir);
	f = fopen(prog, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(proc_run(ARGV(prog), NULL, &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_non_null(strstr(err_msg(), "Permission denied"));
	proc_result_clear(&r);

	assert_int_equal(proc_run(ARGV("./configure"), NULL, &r), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV(""), NULL, &r), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	proc_result_clear(&r);
	assert_int_equal(proc_run((const char *const[]){ NULL }, NULL, &r),
	    -1);
	assert_int_equal(err_code(), TS_EINVALID);
	proc_result_clear(&r);

	/* the caller's PATH is never searched */
	snprintf(prog, sizeof(prog), "%s/tinystack-only-here", dir);
	f = fopen(prog, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\necho found\n", f);
	fclose(f);
	assert_int_equal(chmod(prog, 0755), 0);
	p = getenv("PATH");
	oldpath = strdup(p ? p : "");
	setenv("PATH", dir, 1);
	assert_int_equal(proc_run(ARGV("tinystack-only-here"), NULL, &r), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	proc_result_clear(&r);
	setenv("PATH", oldpath, 1);
	free(oldpath);
	/* by absolute path it runs */
	assert_int_equal(proc_run(ARGV(prog), NULL, &r), 0);
	assert_string_equal(r.out, "found\n");
	proc_result_clear(&r);
	rm_rf(dir);
	free(dir);
}

static void
test_signals_reset(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int;
	sigset_t term, old_mask;
	struct proc_result r;

	(void)state;
	/* a daemon that ignores SIGINT or blocks SIGTERM must not pass that
	 * on to its children */
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGINT, &ign, &old_int), 0);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old_mask);

	assert_int_equal(proc_run(ARGV("sh", "-c",
	    "kill -INT $$; echo survived"), NULL, &r), -1);
	assert_int_equal(r.termsig, SIGINT);
	assert_string_equal(r.out, "");
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("sh", "-c",
	    "kill -TERM $$; echo survived"), NULL, &r), -1);
	assert_int_equal(r.termsig, SIGTERM);
	proc_result_clear(&r);

	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGINT, &old_int, NULL);
}

static void
test_sigchld_ignored(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	struct proc_result r;

	(void)state;
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	assert_int_equal(proc_run(ARGV("true"), NULL, &r), -1);
	assert_int_equal(err_code(), TS_EINTERNAL);
	proc_result_clear(&r);
	sigaction(SIGCHLD, &old, NULL);
	assert_int_equal(proc_run(ARGV("true"), NULL, &r), 0);
	proc_result_clear(&r);
}

/* ---------------------------------------------------------------------- */
/* Logging */

struct logcap {
	char	lines[16][512];
	int	n;
};

static void
log_capture(enum log_level lvl, const char *line, void *arg)
{
	struct logcap *c = arg;

	(void)lvl;
	if (c->n < 16)
		snprintf(c->lines[c->n++], sizeof(c->lines[0]), "%s", line);
}

static bool
logged(const struct logcap *c, const char *needle)
{
	for (int i = 0; i < c->n; i++)
		if (strstr(c->lines[i], needle))
			return true;
	return false;
}

static void
test_logging(void **state)
{
	struct logcap c = { .n = 0 };
	struct proc_result r;
	enum log_level old = log_get_level();

	(void)state;
	log_set_capture(log_capture, &c);
	log_set_level(LOG_LVL_DEBUG);
	assert_int_equal(proc_run(ARGV("echo", "password=hunter2", "a b"),
	    NULL, &r), 0);
	proc_result_clear(&r);
	assert_true(logged(&c, "DEBUG [-] run: echo password=*** 'a b'"));
	assert_false(logged(&c, "hunter2"));

	c.n = 0;
	log_set_level(LOG_LVL_WARN);
	assert_int_equal(proc_run(ARGV("sh", "-c", "echo 'disk full' >&2; "
	    "exit 3"), NULL, &r), -1);
	proc_result_clear(&r);
	assert_int_equal(c.n, 1);
	assert_true(logged(&c,
	    "WARNING [-] sh exited with status 3: disk full"));

	log_set_capture(NULL, NULL);
	log_set_level(old);
}

/* ---------------------------------------------------------------------- */
/* Formatting, hook, recorder, golden */

static void
test_argv_format(void **state)
{
	const char *const *cases[] = {
		ARGV("qemu-img", "info", "-f", "qcow2", "--output=json",
		    "/var/lib/tinystack/images/x.qcow2"),
		ARGV("echo", "hello world"),
		ARGV("echo", "it's"),
		ARGV("echo", ""),
		ARGV("echo", "$HOME", "`id`", "a;b", "a|b", "a&b", "(x)"),
		ARGV("echo", "line1\nline2"),
		ARGV("echo", "tab\there", "back\\slash", "quote'and\nnewline"),
		ARGV("echo", "*.qcow2", "~root", "#comment", "a=b", "-x"),
		ARGV("FOO=bar", "x"),
		ARGV("echo", "\x01\x7f", "\x1b[31mred"),
		ARGV("echo", "\xc3\xbc" "n\xc3\xaf" "code"),
		ARGV("/usr/sbin/tgtadm", "--lld", "iscsi", "--op", "new",
		    "--mode", "target", "--tid", "1", "-T",
		    "iqn.2010-10.org.tinystack:volume-1"),
		ARGV("dnsmasq", "--dhcp-range=10.0.0.2,10.0.0.254,24h",
		    "--conf-file="),
		ARGV("lonely"),
	};
	char *text = NULL, *line;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		line = proc_argv_format(cases[i]);
		assert_non_null(line);
		assert_null(strchr(line, '\n'));
		fprintf(f, "%s\n", line);
		free(line);
	}
	fclose(f);
	assert_int_equal(proc_golden_compare(text,
	    "tests/golden/proc/format.txt"), 0);
	free(text);

	line = proc_argv_format((const char *const[]){ NULL });
	assert_string_equal(line, "");
	free(line);
	assert_null(proc_argv_format(NULL));
	assert_int_equal(err_code(), TS_EINVALID);
}

/* The quoting must mean what it says: sh reads it back to the same words. */
static void
test_argv_format_roundtrip(void **state)
{
	const char *const words[] = { "echo", "it's", "", "a b", "$x",
	    "l1\nl2", "t\tb\\s", "q'\n'", NULL };
	struct proc_result r;
	char *line, *script;

	(void)state;
	line = proc_argv_format(words);
	assert_non_null(line);
	/* dash has no $'...', bash does; bash is essential on Debian and the
	 * integration tests need it, so its absence fails */
	if (access("/bin/bash", X_OK) != 0) {
		int e = errno;

		free(line);
		fail_msg("/bin/bash is missing: %s", strerror(e));
	}
	assert_true(asprintf(&script, "for w in %s; do printf '[%%s]' \"$w\";"
	    " done", line + 5) > 0);
	assert_int_equal(proc_run(ARGV("bash", "-c", script), NULL, &r), 0);
	assert_string_equal(r.out,
	    "[it's][][a b][$x][l1\nl2][t\tb\\s][q'\n']");
	proc_result_clear(&r);
	free(script);
	free(line);
}

static int
fake_hook(const char *const argv[], const struct proc_opts *o,
    struct proc_result *res, void *arg)
{
	int *calls = arg;

	(*calls)++;
	if (strcmp(argv[0], "explode") == 0) {
		err_set(TS_EIO, "fake spawn failure");
		return -1;
	}
	if (strcmp(argv[0], "slow") == 0) {
		res->timed_out = true;
		res->termsig = SIGTERM;
		res->status = -1;
		return 0;
	}
	return proc_result_set(res, o && o->allow_nonzero ? 4 : 0,
	    "canned\n", NULL);
}

static void
test_hook(void **state)
{
	struct proc_opts o = { .allow_nonzero = true, .timeout_ms = 50 };
	struct proc_result r;
	int calls = 0;

	(void)state;
	proc_set_hook(fake_hook, &calls);
	/* nothing runs: this program does not exist */
	assert_int_equal(proc_run(ARGV("no-such-program-tinystack"), NULL, &r),
	    0);
	assert_string_equal(r.out, "canned\n");
	assert_string_equal(r.err, "");
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("anything"), &o, &r), 0);
	assert_int_equal(r.status, 4);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("explode"), NULL, &r), -1);
	assert_string_equal(err_msg(), "fake spawn failure");
	assert_non_null(r.out);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("slow"), &o, &r), -1);
	assert_int_equal(err_code(), TS_ETIMEOUT);
	assert_string_equal(err_msg(), "slow timed out after 50 ms");
	proc_result_clear(&r);
	assert_int_equal(calls, 4);

	/* the recorder refuses to displace another hook */
	assert_null(proc_recorder_new());
	assert_int_equal(err_code(), TS_ECONFLICT);

	proc_set_hook(NULL, NULL);
	assert_int_equal(proc_run(ARGV("echo", "real"), NULL, &r), 0);
	assert_string_equal(r.out, "real\n");
	proc_result_clear(&r);
	assert_int_equal(calls, 4);
}

static void
test_recorder_expectations(void **state)
{
	struct proc_recorder *rec = proc_recorder_new();
	struct proc_opts nz = { .allow_nonzero = true };
	struct proc_result r;

	(void)state;
	assert_non_null(rec);
	assert_int_equal(proc_recorder_expect(rec, "lvs", "  vol-1\n", 0), 0);
	assert_int_equal(proc_recorder_expect(rec, "lvs vg9", "", 5), 0);
	assert_int_equal(proc_recorder_expect_full(rec, "lvcreate", NULL,
	    "  Volume group \"vg0\" has insufficient free space\n", 5), 0);
	assert_int_equal(proc_recorder_expect(rec, "lvcreate", NULL, 0), 0);
	assert_int_equal(proc_recorder_expect(rec, "x", NULL, 256), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	assert_int_equal(proc_recorder_expect(rec, "", NULL, 0), -1);

	/* basename match, longest prefix, whole words only */
	assert_int_equal(proc_run(ARGV("/usr/sbin/lvs", "--noheadings", "vg0"),
	    NULL, &r), 0);
	assert_string_equal(r.out, "  vol-1\n");
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("lvs", "vg9"), &nz, &r), 0);
	assert_int_equal(r.status, 5);
	assert_string_equal(r.out, "");
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("lvs", "vg99"), NULL, &r), 0);
	assert_string_equal(r.out, "  vol-1\n");
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("lvscan"), NULL, &r), 0);
	assert_string_equal(r.out, "");
	proc_result_clear(&r);

	/* fail once, then succeed (and keep succeeding) */
	assert_int_equal(proc_run(ARGV("lvcreate", "-n", "v", "vg0"), NULL,
	    &r), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_string_equal(err_msg(), "lvcreate exited with status 5: "
	    "Volume group \"vg0\" has insufficient free space");
	proc_result_clear(&r);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(proc_run(ARGV("lvcreate", "-n", "v", "vg0"),
		    NULL, &r), 0);
		proc_result_clear(&r);
	}
	assert_int_equal(proc_recorder_count(rec), 7);
	assert_string_equal(proc_recorder_text(rec),
	    "/usr/sbin/lvs --noheadings vg0\nlvs vg9\nlvs vg99\nlvscan\n"
	    "lvcreate -n v vg0\nlvcreate -n v vg0\nlvcreate -n v vg0\n");
	proc_recorder_reset(rec);
	assert_string_equal(proc_recorder_text(rec), "");
	assert_int_equal(proc_recorder_count(rec), 0);

	proc_recorder_free(&rec);
	assert_null(rec);
	proc_recorder_free(&rec);
	/* uninstalled: real execution again */
	assert_int_equal(proc_run(ARGV("lvscan-does-not-exist"), NULL, &r),
	    -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	proc_result_clear(&r);
}

static void
test_recorder_golden(void **state)
{
	static const char ruleset[] =
	    "table inet tinystack {\n"
	    "\tchain fwd { type filter hook forward priority 0; }\n"
	    "}\n";
	static const char tricky[] = "EOF\nstill input\n";
	static const char qemu_json[] = "{\"format\": \"qcow2\", "
	    "\"virtual-size\": 1073741824}\n";
	const char *dns_env[] = { "DNSMASQ_INTERFACE=tap 1", "LANG=C",
	    "PATH=" PROC_SAFE_PATH, NULL };
	struct proc_recorder *rec = proc_recorder_new();
	struct proc_opts qemu = { .limits = { .cpu_sec = 30,
	    .as_bytes = 1ULL << 30 }, .timeout_ms = 120000 };
	struct proc_opts o;
	struct proc_result r;

	(void)state;
	assert_non_null(rec);
	assert_int_equal(proc_recorder_expect(rec, "qemu-img info", qemu_json,
	    0), 0);
	assert_int_equal(proc_recorder_expect(rec, "lvs", "", 5), 0);

	assert_int_equal(proc_run(ARGV("qemu-img", "info", "-f", "qcow2",
	    "--output=json", "/x"), &qemu, &r), 0);
	assert_string_equal(r.out, qemu_json);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("qemu-img", "convert", "-f", "qcow2",
	    "-O", "raw", "/var/lib/tinystack/images/img 1",
	    "/dev/vg0/vol-1"), &qemu, &r), 0);
	proc_result_clear(&r);

	o = (struct proc_opts){ .allow_nonzero = true };
	assert_int_equal(proc_run(ARGV("lvs", "--noheadings", "-o", "lv_name",
	    "vg0/vol-1"), &o, &r), 0);
	assert_int_equal(r.status, 5);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("lvcreate", "-n", "vol-1", "-L",
	    "1024m", "vg0"), NULL, &r), 0);
	proc_result_clear(&r);
	assert_int_equal(proc_run(ARGV("tgtadm", "--lld", "iscsi", "--op",
	    "new", "--mode", "target", "--tid", "1", "-T",
	    "iqn.2010-10.org.tinystack:volume-1"), NULL, &r), 0);
	proc_result_clear(&r);

	o = (struct proc_opts){ .stdin_buf = ruleset,
	    .stdin_len = strlen(ruleset) };
	assert_int_equal(proc_run(ARGV("nft", "-f", "-"), &o, &r), 0);
	proc_result_clear(&r);
	o = (struct proc_opts){ .stdin_buf = tricky,
	    .stdin_len = strlen(tricky) };
	assert_int_equal(proc_run(ARGV("nft", "-f", "-"), &o, &r), 0);
	proc_result_clear(&r);
	o = (struct proc_opts){ .stdin_buf = "no newline", .stdin_len = 10 };
	assert_int_equal(proc_run(ARGV("tee", "/dev/null"), &o, &r), 0);
	proc_result_clear(&r);

	o = (struct proc_opts){ .env = dns_env,
	    .cwd = "/var/lib/tinystack/dhcp/net-1", .new_pgroup = true,
	    .limits.nofile = 1024 };
	assert_int_equal(proc_run(ARGV("dnsmasq", "--conf-file=",
	    "--dhcp-hostsfile=/var/lib/tinystack/dhcp/net-1/hosts",
	    "--interface=tap 1"), &o, &r), 0);
	proc_result_clear(&r);
	o = (struct proc_opts){ .limits.fsize_bytes = 10ULL << 30 | 512 };
	assert_int_equal(proc_run(ARGV("virtlogd", "--daemon"), &o, &r), 0);
	proc_result_clear(&r);

	assert_int_equal(proc_recorder_count(rec), 10);
	assert_int_equal(proc_golden_compare(proc_recorder_text(rec),
	    "tests/golden/proc/recorder.txt"), 0);
	proc_recorder_free(&rec);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void
test_golden_compare(void **state)
{
	char *dir = make_tmpdir(), path[512], *got;
	const char *old = getenv("TS_UPDATE_GOLDEN");
	char *saved = old ? strdup(old) : NULL;
	int errfd, devnull;

	(void)state;
	snprintf(path, sizeof(path), "%s/sub/dir/g.txt", dir);
	unsetenv("TS_UPDATE_GOLDEN");
	/* keep the expected diff noise out of the test log */
	errfd = dup(STDERR_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	fflush(stderr);
	dup2(devnull, STDERR_FILENO);

	assert_int_equal(proc_golden_compare("a\n", path), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);

	setenv("TS_UPDATE_GOLDEN", "1", 1);
	assert_int_equal(proc_golden_compare("one\ntwo\nthree\n", path), 0);
	got = slurp(path);
	assert_non_null(got);
	assert_string_equal(got, "one\ntwo\nthree\n");
	free(got);

	setenv("TS_UPDATE_GOLDEN", "0", 1);
	assert_int_equal(proc_golden_compare("one\ntwo\nthree\n", path), 0);
	assert_int_equal(proc_golden_compare("one\n2\nthree\n", path), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	/* a missing final newline is a difference */
	assert_int_equal(proc_golden_compare("one\ntwo\nthree", path), -1);
	/* mismatch leaves the file alone */
	got = slurp(path);
	assert_string_equal(got, "one\ntwo\nthree\n");
	free(got);

	fflush(stderr);
	dup2(errfd, STDERR_FILENO);
	close(errfd);
	close(devnull);
	if (saved) {
		setenv("TS_UPDATE_GOLDEN", saved, 1);
		free(saved);
	} else {
		unsetenv("TS_UPDATE_GOLDEN");
	}
	rm_rf(dir);
	free(dir);
}

/* The diff itself, captured through a pipe on stderr. */
static void
test_golden_diff_output(void **state)
{
	char *dir = make_tmpdir(), path[512], buf[4096];
	const char *old = getenv("TS_UPDATE_GOLDEN");
	char *saved = old ? strdup(old) : NULL;
	int errfd, p[2];
	ssize_t n;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/g.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", f);
	fclose(f);
	unsetenv("TS_UPDATE_GOLDEN");

	assert_int_equal(pipe(p), 0);
	errfd = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	assert_int_equal(proc_golden_compare(
	    "1\n2\n3\nfour\n5\n6\n7\n8\n9\n10\n11\n12\n13\n", path), -1);
	fflush(stderr);
	dup2(errfd, STDERR_FILENO);
	close(errfd);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, " (golden)\n+++ actual\n"
	    "@@ -1,7 +1,7 @@\n 1\n 2\n 3\n-4\n+four\n 5\n 6\n 7\n"
	    "@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n"));

	if (saved) {
		setenv("TS_UPDATE_GOLDEN", saved, 1);
		free(saved);
	}
	rm_rf(dir);
	free(dir);
}

/* ---------------------------------------------------------------------- */
/* Concurrency */

#define NTHREADS	20

struct job {
	int	 id;
	int	 rc;
	bool	 ok;
	char	 msg[128];
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	struct proc_opts o = { 0 };
	struct proc_result r;
	size_t len = 200000 + (size_t)j->id * 1000, i;
	char *in = malloc(len), expect[64];

	if (in == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		in[i] = (char)('A' + (j->id + i) % 26);
	o.stdin_buf = in;
	o.stdin_len = len;
	j->rc = proc_run(ARGV("cat"), &o, &r);
	j->ok = j->rc == 0 && r.out_len == len &&
	    memcmp(r.out, in, len) == 0;
	proc_result_clear(&r);

	snprintf(expect, sizeof(expect), "job %d\n", j->id);
	snprintf(j->msg, sizeof(j->msg), "job %d", j->id);
	if (proc_run(ARGV("echo", j->msg), NULL, &r) != 0 ||
	    strcmp(r.out, expect) != 0)
		j->ok = false;
	proc_result_clear(&r);

	/* errors are per thread */
	snprintf(expect, sizeof(expect), "exit %d", j->id % 7 + 1);
	if (proc_run(ARGV("sh", "-c", expect), NULL, &r) != -1 ||
	    r.status != j->id % 7 + 1 || err_code() != TS_EIO)
		j->ok = false;
	snprintf(expect, sizeof(expect), "sh exited with status %d",
	    j->id % 7 + 1);
	if (strcmp(err_msg(), expect) != 0)
		j->ok = false;
	proc_result_clear(&r);
	free(in);
	return NULL;
}

static void
test_concurrent(void **state)
{
	pthread_t t[NTHREADS];
	struct job jobs[NTHREADS];
	int i;

	(void)state;
	for (i = 0; i < NTHREADS; i++) {
		jobs[i] = (struct job){ .id = i, .rc = -2 };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &jobs[i]),
		    0);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(jobs[i].rc, 0);
		assert_true(jobs[i].ok);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_zero),
		cmocka_unit_test(test_exit_nonzero),
		cmocka_unit_test(test_allow_nonzero),
		cmocka_unit_test(test_stdout_stderr_separate),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_process_group),
		cmocka_unit_test(test_rlimit_as),
		cmocka_unit_test(test_rlimit_cpu),
		cmocka_unit_test(test_rlimit_fsize_nofile_cwd),
		cmocka_unit_test(test_env_clean),
		cmocka_unit_test(test_no_fd_leak),
		cmocka_unit_test(test_no_parent_fd_leak),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_signals_reset),
		cmocka_unit_test(test_sigchld_ignored),
		cmocka_unit_test(test_logging),
		cmocka_unit_test(test_argv_format),
		cmocka_unit_test(test_argv_format_roundtrip),
		cmocka_unit_test(test_hook),
		cmocka_unit_test(test_recorder_expectations),
		cmocka_unit_test(test_recorder_golden),
		cmocka_unit_test(test_golden_compare),
		cmocka_unit_test(test_golden_diff_output),
		cmocka_unit_test(test_concurrent),
	};

	/* expected failures would otherwise log a warning each; test_logging
	 * checks what is logged */
	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
