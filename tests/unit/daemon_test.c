/*
 * daemon_test: daemon_nofile_raise(), in a child process each (the limits
 * are the process's own, so a case cannot leak into the next).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"

/* Runs fn in a child with RLIMIT_NOFILE soft/hard; the child's exit
 * status is fn's result (0 when every check held). */
static int
in_child(rlim_t soft, rlim_t hard, int (*fn)(void))
{
	pid_t p;
	int st;

	p = fork();
	assert_true(p != -1);
	if (p == 0) {
		struct rlimit rl = { soft, hard };

		_exit(setrlimit(RLIMIT_NOFILE, &rl) == -1 ? 99 : fn());
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int
soft_now(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (int)rl.rlim_cur : -1;
}

static int
raise_to_hard(void)
{
	unsigned long before = 0;

	if (daemon_nofile_raise(0, &before) != 900 || before != 100)
		return 1;
	return soft_now() == 900 ? 0 : 2;
}

static int
raise_capped(void)
{
	if (daemon_nofile_raise(500, NULL) != 500)
		return 1;
	return soft_now() == 500 ? 0 : 2;
}

static int
never_lowers(void)
{
	/* soft 800 already above the cap: left alone */
	if (daemon_nofile_raise(500, NULL) != 800)
		return 1;
	return soft_now() == 800 ? 0 : 2;
}

static void
test_nofile_raise(void **state)
{
	(void)state;
	/* Within the test's own hard limit, which a child may lower. */
	assert_int_equal(in_child(100, 900, raise_to_hard), 0);
	assert_int_equal(in_child(100, 900, raise_capped), 0);
	assert_int_equal(in_child(800, 900, never_lowers), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nofile_raise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
