/*
 * nametab: objects found by their name, for sets that only grow (the
 * hosts netsync and storesync track). Open addressing, at most half full,
 * hashed with common/hash. The table holds borrowed pointers: the caller
 * owns the objects and keeps each one (and its name) alive and unchanged
 * while it is in the table; nothing is ever removed.
 */
#ifndef TS_NAMETAB_H
#define TS_NAMETAB_H

#include <stddef.h>

struct nametab {
	void		**slot;
	size_t		  cap, n;
	size_t		  keyoff;	/* offset of the object's name (a char
					 * array or NUL-terminated field) */
};

/* An empty table of objects whose name is at keyoff (offsetof()). */
void	 nametab_init(struct nametab *t, size_t keyoff);
/* The object named name, or NULL. */
void	*nametab_find(const struct nametab *t, const char *name);
/* Adds obj (not already in t). -1 (TS_ENOMEM) with t unchanged when the
 * table could not grow. */
int	 nametab_add(struct nametab *t, void *obj);
/* Frees the table, not the objects; t is empty again. */
void	 nametab_clear(struct nametab *t);

#endif
