/*
 * census: see census.h. One thread, one slot: a census read while the
 * previous one is still untaken replaces it (only the newest matters).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "clock.h"
#include "err.h"

struct census {
	struct virt		*virt;		/* borrowed */
	void			(*ready)(void *);
	void			*arg;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 stop;
	int			 wanted;	/* a census was asked for */
	uint64_t		 tag;		/* of the newest request */
	int64_t			 busy_since;	/* monotonic ms; 0: idle */
	/* The slot: a result not taken yet. */
	int			 have;
	int			 failed;	/* the result is an error */
	enum ts_errcode		 err_code;
	char			 err_msg[ERR_MSG_MAX];
	struct census_snap	 snap;
};

static void *
run(void *arg)
{
	struct census *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct census_snap s = { 0 };
		int rc;

		while (!c->stop && !c->wanted)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->wanted = 0;
		c->busy_since = clock_mono_ms();
		s.tag = c->tag;
		pthread_mutex_unlock(&c->mu);

		rc = virt_host_info(c->virt, &s.host);
		if (rc == 0)
			rc = virt_guests_list(c->virt, &s.guests, &s.n);

		pthread_mutex_lock(&c->mu);
		c->busy_since = 0;
		census_snap_clear(&c->snap);
		c->have = 1;
		c->failed = rc == -1;
		if (rc == -1) {
			c->err_code = err_code();
			snprintf(c->err_msg, sizeof(c->err_msg), "%s",
			    err_msg());
		} else {
			c->snap = s;
		}
		pthread_mutex_unlock(&c->mu);
		c->ready(c->arg);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

struct census *
census_new(struct virt *v, void (*ready)(void *), void *arg)
{
	struct census *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		err_set(TS_ENOMEM, "census: out of memory");
		return NULL;
	}
	c->virt = v;
	c->ready = ready;
	c->arg = arg;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, run, c) != 0) {
		err_set(TS_EINTERNAL, "census: cannot start its thread");
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return NULL;
	}
	return c;
}

void
census_free(struct census **cp)
{
	struct census *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	census_snap_clear(&c->snap);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	*cp = NULL;
}

void
census_request(struct census *c, uint64_t tag)
{
	pthread_mutex_lock(&c->mu);
	c->wanted = 1;
	c->tag = tag;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

int
census_take(struct census *c, struct census_snap *out)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->mu);
	if (c->have && c->failed) {
		err_set(c->err_code, "%s", c->err_msg);
		rc = -1;
	} else if (c->have) {
		*out = c->snap;
		memset(&c->snap, 0, sizeof(c->snap));
		rc = 1;
	}
	c->have = 0;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int64_t
census_busy_ms(struct census *c, int64_t now)
{
	int64_t since;

	pthread_mutex_lock(&c->mu);
	since = c->busy_since;
	pthread_mutex_unlock(&c->mu);
	return since == 0 ? 0 : now - since;
}

void
census_snap_clear(struct census_snap *s)
{
	free(s->guests);
	memset(s, 0, sizeof(*s));
}
