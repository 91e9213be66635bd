/*
 * zmtp: see zmtp.h for the contract. Work in progress: this body only
 * compiles so that the header can be used; the protocol follows.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "zmtp.h"

struct zmtp_conn {
	const struct zmtp_cfg	*cfg;
};

struct zmtp_conn *
zmtp_conn_new(const struct zmtp_cfg *cfg)
{
	struct zmtp_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		err_set(TS_ENOMEM, "zmtp: connection");
		return NULL;
	}
	c->cfg = cfg;
	return c;
}

void
zmtp_conn_free(struct zmtp_conn **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	free(*cp);
	*cp = NULL;
}

int
zmtp_conn_rspace(struct zmtp_conn *c, uint8_t **p, size_t *room)
{
	(void)c; (void)p; (void)room;
	err_set(TS_ENOT_IMPLEMENTED, "zmtp: not yet");
	return -1;
}

void
zmtp_conn_rdone(struct zmtp_conn *c, size_t n)
{
	(void)c; (void)n;
}

int
zmtp_conn_next(struct zmtp_conn *c, struct zmtp_frame *out)
{
	(void)c; (void)out;
	err_set(TS_ENOT_IMPLEMENTED, "zmtp: not yet");
	return -1;
}

int
zmtp_conn_send(struct zmtp_conn *c, const void *p, size_t n)
{
	(void)c; (void)p; (void)n;
	err_set(TS_ENOT_IMPLEMENTED, "zmtp: not yet");
	return -1;
}

size_t
zmtp_conn_pending(struct zmtp_conn *c, const uint8_t **p)
{
	(void)c;
	*p = NULL;
	return 0;
}

void
zmtp_conn_sent(struct zmtp_conn *c, size_t n)
{
	(void)c; (void)n;
}

size_t
zmtp_conn_queued(const struct zmtp_conn *c)
{
	(void)c;
	return 0;
}

const char *
zmtp_conn_host(const struct zmtp_conn *c)
{
	(void)c;
	return NULL;
}

const char *
zmtp_conn_rid(const struct zmtp_conn *c)
{
	(void)c;
	return NULL;
}

const uint8_t *
zmtp_conn_key(const struct zmtp_conn *c)
{
	(void)c;
	return NULL;
}

size_t
zmtp_conn_footprint(const struct zmtp_conn *c)
{
	return c == NULL ? 0 : sizeof(*c);
}
