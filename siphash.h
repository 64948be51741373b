/* siphash.h - SipHash-2-4, a keyed 64-bit hash for tables that untrusted
 * input can fill (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF", 2012)
 */
#ifndef SIPHASH_H
#define SIPHASH_H

#include "util.h"

/**
 * struct siphash_key - The 128-bit secret key as two 64-bit halves
 * @k:		k0 and k1: key bytes 0..7 and 8..15, each read little-endian
 */
struct siphash_key {
	uint64_t k[2];
};

uint64_t siphash24(const struct siphash_key *key, const void *data,
		   size_t len);

#endif /* SIPHASH_H */
