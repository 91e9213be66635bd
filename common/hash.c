/* hash: FNV-1a (see hash.h for why its values must never change). */
#include <string.h>

#include "hash.h"

#define FNV32_PRIME 16777619u
#define FNV64_PRIME 1099511628211ULL

uint32_t
hash_fnv32(const char *s)
{
	uint32_t h = HASH_FNV32_INIT;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * FNV32_PRIME;
	return h;
}

uint32_t
hash_fnv32_add(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		h = (h ^ *c++) * FNV32_PRIME;
	return h;
}

uint64_t
hash_fnv64(const char *s)
{
	return hash_fnv64_add(HASH_FNV64_INIT, s, strlen(s));
}

uint64_t
hash_fnv64_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		h = (h ^ *c++) * FNV64_PRIME;
	return h;
}
