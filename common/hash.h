/*
 * hash: FNV-1a, the one non-cryptographic string hash of the project:
 * bucket indexes, change digests, and names derived from ids.
 *
 * Some of these values name things outside the process (network
 * namespaces, conntrack zones, a hashed router tag), so the functions
 * must keep giving the same value for the same input across releases.
 * Not for anything an attacker could aim collisions at.
 */
#ifndef TS_HASH_H
#define TS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV32_INIT 2166136261u
#define HASH_FNV64_INIT 14695981039346656037ULL

/* FNV-1a of a NUL-terminated string, without its NUL. */
uint32_t hash_fnv32(const char *s);
uint64_t hash_fnv64(const char *s);

/* h folded with n more bytes: a digest built piece by piece (or of bytes
 * that are not a NUL-terminated string), started from HASH_FNV32_INIT /
 * HASH_FNV64_INIT. */
uint32_t hash_fnv32_add(uint32_t h, const void *p, size_t n);
uint64_t hash_fnv64_add(uint64_t h, const void *p, size_t n);

#endif
