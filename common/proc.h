/*
 * proc: the one door for running external programs (dnsmasq, qemu-img, lvm,
 * tgtadm, nft, virtlogd, ...).
 *
 * A program is an argv array, never a shell string. argv[0] is either an
 * absolute path or a bare name looked up in PROC_SAFE_PATH only; the caller's
 * PATH is never consulted. The child gets a clean environment (PATH and LANG
 * plus exactly what opts->env lists), stdin from a buffer or /dev/null, no
 * file descriptors other than 0, 1 and 2, default signal dispositions, an
 * empty signal mask, no core dumps, and the resource limits the caller asks
 * for. stdout and stderr are captured separately up to a cap. Every run has a
 * wall-clock deadline: SIGTERM at the deadline, SIGKILL after a grace period.
 *
 * Threads: proc_run() may be called from many threads at once; the only
 * global state is the hook. It installs no signal handlers and reaps only the
 * pid it started (waitpid on that pid), so it cannot steal another child's
 * status from the daemon. The process must not set SIGCHLD to SIG_IGN (the
 * kernel would then reap children itself and their status would be lost);
 * proc_run() refuses to run in that state.
 *
 * Tests: proc_set_hook() replaces execution with a function (dry-run); the
 * recorder built on it logs every call in a stable one-line format for
 * golden files and answers with canned output.
 */
#ifndef TS_PROC_H
#define TS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROC_SAFE_PATH		"/usr/sbin:/usr/bin:/sbin:/bin"
#define PROC_MAX_OUTPUT_DEFAULT	(1024 * 1024)	/* per stream */
#define PROC_TIMEOUT_DEFAULT_MS	60000
#define PROC_KILL_GRACE_DEFAULT_MS 2000

/* Resource limits applied in the child before exec. 0 leaves the limit as
 * inherited. Soft and hard limits are both set (the child cannot raise them),
 * clamped to the parent's hard limit. For cpu_sec the hard limit is one
 * second above the soft one: SIGXCPU first, SIGKILL if that is ignored. */
struct proc_limits {
	uint64_t	 cpu_sec;	/* RLIMIT_CPU, seconds of CPU time */
	uint64_t	 as_bytes;	/* RLIMIT_AS, address space */
	uint64_t	 fsize_bytes;	/* RLIMIT_FSIZE, largest file written */
	uint64_t	 nofile;	/* RLIMIT_NOFILE, open files */
};

/* Everything is optional; a zeroed struct (or opts == NULL) means: empty
 * extra environment, inherited cwd, stdin from /dev/null, 1 MiB per stream,
 * 60 s timeout, 2 s grace, inherited limits, same process group, non-zero
 * exit is an error. All pointers are borrowed for the duration of the call. */
struct proc_opts {
	/* NULL-terminated "NAME=value" list added to PATH and LANG=C. An entry
	 * naming PATH or LANG replaces the default (argv[0] is still looked up
	 * in PROC_SAFE_PATH). */
	const char *const	*env;
	const char		*cwd;		/* NULL: inherit */
	/* stdin: stdin_len bytes of stdin_buf, then EOF. NULL: /dev/null. A
	 * program that exits without reading it all is not an error. */
	const void		*stdin_buf;
	size_t			 stdin_len;
	size_t			 max_output;	/* per stream; 0: default */
	unsigned		 timeout_ms;	/* 0: PROC_TIMEOUT_DEFAULT_MS */
	unsigned		 kill_grace_ms;	/* 0: PROC_KILL_GRACE_DEFAULT_MS */
	struct proc_limits	 limits;
	/* Run the child as leader of a new process group, and on timeout
	 * signal the whole group, so helpers it forked die with it. When the
	 * program exits by itself its group is left alone. */
	bool			 new_pgroup;
	/* A non-zero exit status is reported in res but proc_run() returns 0.
	 * Death by a signal, a timeout or a spawn failure are still errors. */
	bool			 allow_nonzero;
};

/* Filled by proc_run() whether it succeeds or not. out and err are owned,
 * malloc'd, NUL-terminated (the lengths exclude the NUL; the data may contain
 * NUL bytes) and never NULL after proc_run() returns; free them with
 * proc_result_clear(). */
struct proc_result {
	char		*out;		/* captured stdout */
	size_t		 out_len;
	char		*err;		/* captured stderr */
	size_t		 err_len;
	int		 status;	/* exit status 0..255, -1 if it did not exit */
	int		 termsig;	/* signal that killed it, else 0 */
	bool		 timed_out;	/* killed because the deadline passed */
	bool		 truncated;	/* output beyond max_output was discarded */
	uint64_t	 duration_ms;	/* wall clock from spawn to reap */
};

/*
 * Run argv[0] with arguments argv (NULL-terminated) and wait for it.
 * *res is overwritten without being freed: clear a previous result first.
 * Returns 0 if the program ran and exited 0 (or non-zero with
 * allow_nonzero). Otherwise -1 with the error recorded: TS_EINVALID (bad
 * argv/opts), TS_ENOT_FOUND (no such program), TS_EIO ("qemu-img exited with
 * status 1: <first line of stderr, or of stdout if stderr is empty>",
 * "... killed by SIGXCPU", spawn failures), TS_ETIMEOUT ("... timed out
 * after N ms"), TS_EINTERNAL (SIGCHLD ignored, status reaped elsewhere),
 * TS_ENOMEM. res is filled in every case so a caller can inspect status and
 * output. Every run is logged at debug level (formatted argv; log.c redacts
 * secrets), every failure as a warning with the error message.
 */
int	proc_run(const char *const argv[], const struct proc_opts *opts,
	    struct proc_result *res);

/* Free res's buffers and zero it. Accepts NULL and a zeroed struct. */
void	proc_result_clear(struct proc_result *res);

/* Replace res's output with copies of out and err (NULL means ""), set the
 * exit status and clear the other fields; for hooks that return canned
 * results. Returns -1 (TS_ENOMEM) if a copy fails. */
int	proc_result_set(struct proc_result *res, int status, const char *out,
	    const char *err);

/*
 * argv as one line of POSIX shell words, for logs and golden files: words
 * made only of [A-Za-z0-9_@%+=:,./-] are left bare ('=' is quoted in the
 * first word so it cannot read as an assignment), the empty string is '',
 * other words are 'single-quoted' with ' written as '\'', and words holding
 * control characters (newline, tab, ...) use $'...' with backslash escapes so
 * the result is always one line. Caller owns the result; NULL on ENOMEM
 * (err set) or if argv is NULL (TS_EINVALID).
 */
char	*proc_argv_format(const char *const argv[]);

/*
 * Dry-run hook. While one is set, proc_run() calls it instead of executing
 * anything, after validating argv. The hook fills res (stdout/stderr buffers
 * malloc'd, e.g. with proc_result_set(); status; timed_out/termsig to
 * simulate those) and returns 0, and proc_run() then judges res exactly as
 * for a real run; or it records an error and returns -1 to simulate a spawn
 * failure. It may be called from several threads at once. NULL restores
 * real execution. arg is borrowed until the hook is replaced.
 */
typedef int (*proc_hook_fn)(const char *const argv[],
    const struct proc_opts *opts, struct proc_result *res, void *arg);
void	proc_set_hook(proc_hook_fn hook, void *arg);

/*
 * Recorder: a ready-made hook for tests. proc_recorder_new() installs it
 * (failing with TS_ECONFLICT if another hook is set) and
 * proc_recorder_free() uninstalls it. Each call appends one line:
 *
 *   [NAME=value ...] argv [<<'EOF'] [# cwd=DIR cpu=Ns as=SIZE fsize=SIZE nofile=N]
 *
 * env entries that differ from the defaults come first, words quoted as by
 * proc_argv_format(); the trailing comment lists cwd and resource limits
 * when set (sizes as exact KiB/MiB/GiB multiples where possible). Text on
 * stdin that ends in a newline follows as a here-document closed by EOF (or
 * EOF1, EOF2, ... if a line equals EOF); other stdin is noted as
 * "< (N bytes)" instead. Calls without a matching expectation succeed with
 * empty output.
 */
struct proc_recorder;

struct proc_recorder	*proc_recorder_new(void);
void	proc_recorder_free(struct proc_recorder **rec);

/*
 * Answer calls whose formatted argv starts with prefix (whole words; the
 * first word is compared both as given and as its basename, so "lvs" matches
 * "/usr/sbin/lvs -o name") with stdout out (NULL: ""), stderr err and exit
 * status (0..255). The longest matching prefix wins. Several expectations
 * with the same prefix are used in the order registered, and the last one
 * keeps answering once the others are used up, so "fail once, then succeed"
 * is two calls. Strings are copied. Returns -1 on bad status or ENOMEM.
 */
int	proc_recorder_expect(struct proc_recorder *rec, const char *prefix,
	    const char *out, int status);
int	proc_recorder_expect_full(struct proc_recorder *rec, const char *prefix,
	    const char *out, const char *err, int status);

/* All recorded lines, each ending in a newline; "" if none. Borrowed: valid
 * until the next recorded call, proc_recorder_reset() or _free(). */
const char	*proc_recorder_text(const struct proc_recorder *rec);
size_t		 proc_recorder_count(const struct proc_recorder *rec);
/* Forget recorded lines; expectations (and how far they were used) stay. */
void		 proc_recorder_reset(struct proc_recorder *rec);

/*
 * Compare text with the golden file at golden_path (relative paths are taken
 * from $TS_SOURCE_DIR when it is set). With TS_UPDATE_GOLDEN=1 in the
 * environment the file is rewritten with text instead (parent directories
 * created) and 0 returned. On a mismatch prints a unified diff (golden ->
 * actual) to stderr and returns -1 with TS_ECONFLICT; a missing or unreadable
 * file is -1 with TS_ENOT_FOUND / TS_EIO.
 */
int	proc_golden_compare(const char *text, const char *golden_path);

#endif
