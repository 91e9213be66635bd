/* replygate: see replygate.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "replygate.h"

struct held {
	struct held	*next;
	size_t		 len;
	unsigned char	 data[];
};

struct replygate {
	int		(*post)(const void *, size_t, void *);
	void		*arg;
	pthread_mutex_t	 mu;
	uint64_t	 count;
	int64_t		 held_since;	/* 0: not held */
	struct held	*head, *tail;
};

struct replygate *
replygate_new(int (*post)(const void *, size_t, void *), void *arg)
{
	struct replygate *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		err_set(TS_ENOMEM, "replygate: out of memory");
		return NULL;
	}
	g->post = post;
	g->arg = arg;
	pthread_mutex_init(&g->mu, NULL);
	return g;
}

void
replygate_free(struct replygate **gp)
{
	struct replygate *g;

	if (gp == NULL || (g = *gp) == NULL)
		return;
	while (g->head != NULL) {
		struct held *h = g->head;

		g->head = h->next;
		free(h);
	}
	pthread_mutex_destroy(&g->mu);
	free(g);
	*gp = NULL;
}

int
replygate_send(struct replygate *g, const void *buf, size_t len)
{
	struct held *h;

	pthread_mutex_lock(&g->mu);
	if (g->held_since == 0) {
		/* Counted under the lock: a hold taken after this sees it in
		 * the count, so its census is asked for after it. */
		g->count++;
		pthread_mutex_unlock(&g->mu);
		return g->post(buf, len, g->arg);
	}
	if ((h = malloc(sizeof(*h) + len)) == NULL) {
		pthread_mutex_unlock(&g->mu);
		err_set(TS_ENOMEM, "replygate: out of memory holding %zu "
		    "bytes", len);
		return -1;
	}
	h->next = NULL;
	h->len = len;
	memcpy(h->data, buf, len);
	if (g->tail != NULL)
		g->tail->next = h;
	else
		g->head = h;
	g->tail = h;
	pthread_mutex_unlock(&g->mu);
	return 0;
}

uint64_t
replygate_count(struct replygate *g)
{
	uint64_t n;

	pthread_mutex_lock(&g->mu);
	n = g->count;
	pthread_mutex_unlock(&g->mu);
	return n;
}

void
replygate_hold(struct replygate *g)
{
	pthread_mutex_lock(&g->mu);
	if (g->held_since == 0)
		g->held_since = clock_mono_ms();
	pthread_mutex_unlock(&g->mu);
}

int64_t
replygate_held_since(struct replygate *g)
{
	int64_t t;

	pthread_mutex_lock(&g->mu);
	t = g->held_since;
	pthread_mutex_unlock(&g->mu);
	return t;
}

void
replygate_release(struct replygate *g)
{
	struct held *h;

	pthread_mutex_lock(&g->mu);
	h = g->head;
	g->head = g->tail = NULL;
	/* Counted before the hold ends: nothing sent after the release can
	 * be counted ahead of the queue's replies. */
	for (struct held *p = h; p != NULL; p = p->next)
		g->count++;
	g->held_since = 0;
	/* Posted under the lock, so a sender that comes after the release
	 * queues behind them in the bus (post only copies into a queue). */
	while (h != NULL) {
		struct held *next = h->next;

		if (g->post(h->data, h->len, g->arg) == -1)
			log_warnx("reply held for the hello: %s", err_msg());
		free(h);
		h = next;
	}
	pthread_mutex_unlock(&g->mu);
}
