/* logcap: see logcap.h. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "logcap.h"

static struct {
	char	lines[LOGCAP_KEEP][512];
	int	n;		/* all lines, also those not kept */
} lc;
static pthread_mutex_t	lc_lock = PTHREAD_MUTEX_INITIALIZER;

static void
cap_fn(enum log_level lvl, const char *line, void *arg)
{
	(void)lvl;
	(void)arg;
	pthread_mutex_lock(&lc_lock);
	if (lc.n < LOGCAP_KEEP)
		snprintf(lc.lines[lc.n], sizeof(lc.lines[0]), "%s", line);
	lc.n++;
	pthread_mutex_unlock(&lc_lock);
}

void
logcap_begin(void)
{
	pthread_mutex_lock(&lc_lock);
	memset(&lc, 0, sizeof(lc));
	pthread_mutex_unlock(&lc_lock);
	log_set_level(LOG_LVL_INFO);
	log_set_capture(cap_fn, NULL);
}

void
logcap_stop(void)
{
	log_set_capture(NULL, NULL);
	log_set_level(LOG_LVL_ERROR);
}

int
logcap_lines(void)
{
	int n;

	pthread_mutex_lock(&lc_lock);
	n = lc.n;
	pthread_mutex_unlock(&lc_lock);
	return n;
}

int
logcap_count(const char *needle)
{
	int n = 0;

	pthread_mutex_lock(&lc_lock);
	for (int i = 0; i < lc.n && i < LOGCAP_KEEP; i++)
		n += strstr(lc.lines[i], needle) != NULL;
	/* A count over a capture that overflowed misses lines: say so, so a
	 * 0 is not mistaken for "not logged". */
	if (lc.n > LOGCAP_KEEP)
		fprintf(stderr, "logcap: %d lines captured, only the first %d "
		    "searched for \"%s\"\n", lc.n, LOGCAP_KEEP, needle);
	pthread_mutex_unlock(&lc_lock);
	return n;
}

void
logcap_end_one(const char *needle)
{
	logcap_stop();
	if (lc.n != 1 || strstr(lc.lines[0], needle) == NULL)
		fail_msg("%d line(s) logged, want one with \"%s\"; first: %s",
		    lc.n, needle, lc.n ? lc.lines[0] : "-");
}
