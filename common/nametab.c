/* nametab: objects by name, open addressing (see nametab.h). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"
#include "nametab.h"

#define FIRST_CAP	64

static const char *
name_of(const struct nametab *t, const void *obj)
{
	return (const char *)obj + t->keyoff;
}

/* Into a table with room (cap a power of 2, at most half full). */
static void
put(void **slot, size_t cap, const char *name, void *obj)
{
	size_t i = (size_t)hash_fnv64(name) & (cap - 1);

	while (slot[i] != NULL)
		i = (i + 1) & (cap - 1);
	slot[i] = obj;
}

void
nametab_init(struct nametab *t, size_t keyoff)
{
	memset(t, 0, sizeof(*t));
	t->keyoff = keyoff;
}

void *
nametab_find(const struct nametab *t, const char *name)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = (size_t)hash_fnv64(name) & (t->cap - 1);
	    t->slot[i] != NULL; i = (i + 1) & (t->cap - 1))
		if (strcmp(name_of(t, t->slot[i]), name) == 0)
			return t->slot[i];
	return NULL;
}

int
nametab_add(struct nametab *t, void *obj)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : FIRST_CAP;
		void **ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < t->cap; i++)
			if (t->slot[i] != NULL)
				put(ns, ncap, name_of(t, t->slot[i]),
				    t->slot[i]);
		free(t->slot);
		t->slot = ns;
		t->cap = ncap;
	}
	put(t->slot, t->cap, name_of(t, obj), obj);
	t->n++;
	return 0;
}

void
nametab_clear(struct nametab *t)
{
	free(t->slot);
	nametab_init(t, t->keyoff);
}
