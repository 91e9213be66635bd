/*
 * clock: milliseconds from the two clocks the daemons use.
 *
 * clock_mono_ms() (CLOCK_MONOTONIC) is for intervals, deadlines, timers and
 * back-off: it never jumps when the wall clock is set. clock_wall_ms()
 * (CLOCK_REALTIME, Unix epoch) is for timestamps that leave the process or
 * outlive it: records, messages, tokens. Never compare one with the other.
 */
#ifndef TS_CLOCK_H
#define TS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin, e.g. boot). */
int64_t	clock_mono_ms(void);
/* Microseconds on the same clock, for durations measured as figures. */
int64_t	clock_mono_us(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t	clock_wall_ms(void);
/* ts = now on clock clk plus ms (>= 0): the absolute deadline
 * pthread_cond_timedwait() takes (on the clock its condition was made
 * with). */
void	clock_deadline(struct timespec *ts, clockid_t clk, int64_t ms);

/*
 * A point in time given by an operator (tinystack-manage logs errors
 * --since), as Unix ms: relative to now_ms, "<N>s", "<N>m", "<N>h" or
 * "<N>d" ago (N a positive integer); or ISO 8601 UTC
 * "YYYY-MM-DDTHH:MM[:SS[.fff]]" with an optional "Z" or "+HH:MM"/"-HH:MM"
 * offset (a space instead of the "T" accepted). 0, or -1 (nothing set:
 * the caller names the bad value).
 */
int	clock_parse_since(const char *s, int64_t now_ms, int64_t *out_ms);

#endif
