/*
 * replygate: the agent's replies to the controller (the compute, network
 * and storage workers' answers), counted as they are handed to the bus,
 * and held back while the bus thread wants a census no reply can overtake.
 *
 * Why: a census read before a reply went out may show a guest as it was
 * before that reply's command; sent after the reply it would undo it in
 * the controller's eyes (A3, docs/RELIABILITY.md), so the agent sends a
 * census only when no reply went out since it was asked for (the count,
 * census.h's tag) and reads it again otherwise. While replies stream (a
 * backlog after a partition heals) every census is stale by the time it
 * is in, and the hello, which has no census-free fallback, starved for
 * 16 s (A7). While held, replies are queued instead of counted and sent,
 * so a census asked for under the hold is current; the release sends the
 * queue in order (after the hello).
 *
 * Threads: replygate_send() and replygate_count() from any thread;
 * replygate_hold() and replygate_release() from one (the bus thread).
 */
#ifndef TS_AGENT_REPLYGATE_H
#define TS_AGENT_REPLYGATE_H

#include <stddef.h>
#include <stdint.h>

struct replygate;

/* post(buf, len, arg) hands one reply to the bus (bus_post()); it is
 * called from the sender's thread, or from the releaser's for held ones.
 * NULL with err set. */
struct replygate	*replygate_new(int (*post)(const void *, size_t, void *),
			    void *arg);
/* Drops what is held (the controller sends those commands again).
 * Accepts NULL; clears *gp. */
void			 replygate_free(struct replygate **gp);
/* Counts and posts buf, or queues a copy while held. 0, or -1 with err
 * set (post's failure, or no memory). */
int			 replygate_send(struct replygate *, const void *buf,
			    size_t len);
/* Replies counted so far: handed to post, held ones not included. */
uint64_t		 replygate_count(struct replygate *);
/* Holds until replygate_release(); holding twice is holding. */
void			 replygate_hold(struct replygate *);
/* Whether held, and since when (monotonic ms; 0: not held). */
int64_t			 replygate_held_since(struct replygate *);
/* Ends the hold: counts and posts the queued replies in order (a post
 * that fails is logged and dropped, as the senders' own). Not held:
 * nothing. */
void			 replygate_release(struct replygate *);

#endif
