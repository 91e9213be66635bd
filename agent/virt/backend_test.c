/*
 * backend_test: guests of libvirt's test driver, with a synthetic console
 * log; see backend_test.h.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "virt/backend_test.h"
#include "virt/domxml.h"
#include "virt/driver.h"

#define SYNTH_LOG_CAP		(64 * 1024)	/* synthetic log per guest */

struct synth_log {
	char		 uuid[CODEC_UUID_LEN + 1];
	char		*buf;
	size_t		 len;
	struct synth_log *next;
};

struct backend_test {
	pthread_mutex_t		 lock;		/* logs */
	int64_t			 t0;		/* for the stamps */
	struct synth_log	*logs;
};

struct backend_test *
backend_test_new(void)
{
	struct backend_test *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->t0 = clock_mono_ms();
	return t;
}

void
backend_test_free(struct backend_test **tp)
{
	struct backend_test *t = *tp;

	if (t == NULL)
		return;
	while (t->logs) {
		struct synth_log *l = t->logs;

		t->logs = l->next;
		free(l->buf);
		free(l);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

int
backend_test_render(struct backend_test *t, const struct driver_spec *s,
    char **xml)
{
	struct domxml_spec ds = {
		.uuid = s->uuid,
		.name = s->name,
		.vcpus = s->vcpus,
		.memory_mb = s->memory_mb,
		.generation = s->generation,
		.project_id = s->project_id,
		.user_id = s->user_id,
		.flavor_name = s->flavor_name,
	};
	struct domxml_nic nics[DOMXML_NICS_MAX];
	struct driver_nic_host hn[DOMXML_NICS_MAX];
	struct domxml_volume vols[DOMXML_VOLUMES_MAX];

	(void)t;
	if (s->nnics > DOMXML_NICS_MAX) {
		err_set(TS_EINVALID, "guest %s: %zu NICs, at most %d", s->uuid,
		    s->nnics, DOMXML_NICS_MAX);
		return -1;
	}
	for (size_t k = 0; k < s->nnics; k++) {
		if (driver_nic_host(&s->nics[k], &hn[k]) == -1)
			return -1;
		nics[k] = (struct domxml_nic){ .mac = s->nics[k].mac,
		    .bridge = hn[k].bridge, .target = hn[k].tap,
		    .mtu = s->nics[k].mtu };
	}
	ds.nics = s->nnics > 0 ? nics : NULL;
	ds.nnics = s->nnics;
	if (driver_volumes_domxml(s, vols) == -1)
		return -1;
	ds.volumes = s->nvolumes > 0 ? vols : NULL;
	ds.nvolumes = s->nvolumes;

	if ((*xml = domxml_build_test(&ds)) == NULL)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ synthetic */

static struct synth_log *
log_find(struct backend_test *t, const char *uuid, int create)
{
	struct synth_log *l;

	for (l = t->logs; l; l = l->next)
		if (strcmp(l->uuid, uuid) == 0)
			return l;
	if (!create || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	snprintf(l->uuid, sizeof(l->uuid), "%s", uuid);
	l->next = t->logs;
	t->logs = l;
	return l;
}

void
backend_test_logv(struct backend_test *t, const char *uuid, const char *fmt,
    va_list ap)
{
	char line[512];
	struct synth_log *l;
	int64_t ms = clock_mono_ms() - t->t0;
	int n;

	n = snprintf(line, sizeof(line), "[%6lld.%03lld] ",
	    (long long)(ms / 1000), (long long)(ms % 1000));
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	strcat(line, "\n");
	n = (int)strlen(line);
	pthread_mutex_lock(&t->lock);
	if ((l = log_find(t, uuid, 1)) != NULL) {
		char *nb;

		if (l->len + (size_t)n > SYNTH_LOG_CAP) {
			size_t cut = l->len / 2;

			memmove(l->buf, l->buf + cut, l->len - cut);
			l->len -= cut;
		}
		if ((nb = realloc(l->buf, l->len + (size_t)n + 1)) != NULL) {
			l->buf = nb;
			memcpy(l->buf + l->len, line, (size_t)n + 1);
			l->len += (size_t)n;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

int
backend_test_console(struct backend_test *t, const char *uuid, size_t max,
    char **out, size_t *len)
{
	struct synth_log *l;
	size_t off = 0, n = 0;

	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&t->lock);
	if ((l = log_find(t, uuid, 0)) != NULL) {
		n = l->len;
		if (n > max) {
			off = n - max;
			n = max;
		}
	}
	if ((*out = malloc(n + 1)) != NULL) {
		if (n)
			memcpy(*out, l->buf + off, n);
		(*out)[n] = '\0';
		*len = n;
	}
	pthread_mutex_unlock(&t->lock);
	if (*out == NULL) {
		err_set(TS_ENOMEM, "driver: out of memory");
		return -1;
	}
	return 0;
}

void
backend_test_forget(struct backend_test *t, const char *uuid)
{
	struct synth_log **pp, *l;

	pthread_mutex_lock(&t->lock);
	for (pp = &t->logs; (l = *pp) != NULL; pp = &l->next) {
		if (strcmp(l->uuid, uuid) == 0) {
			*pp = l->next;
			free(l->buf);
			free(l);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}
