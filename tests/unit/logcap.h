/*
 * logcap: the log lines a test's code under test writes while one message
 * or command is handled, for "dropped, logged once" checks. Capture is
 * process-wide (common/log's capture hook) and thread-safe (workers log
 * on their own threads); the first LOGCAP_KEEP lines are kept, all are
 * counted.
 */
#ifndef TS_TEST_LOGCAP_H
#define TS_TEST_LOGCAP_H

/* Enough for a host report that re-creates every earlier test's guests of
 * that host (recon_test logs one line each). */
#define LOGCAP_KEEP	256

/* Starts capturing at INFO (and above), forgetting earlier lines. */
void		 logcap_begin(void);
/* Stops capturing, back to ERROR only. What was captured stays. */
void		 logcap_stop(void);
/* Lines logged since logcap_begin(), kept or not. */
int		 logcap_lines(void);
/* Kept lines holding needle. */
int		 logcap_count(const char *needle);
/* logcap_stop(), then fails the test unless exactly one line was logged
 * and it holds needle. */
void		 logcap_end_one(const char *needle);

#endif
