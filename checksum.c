/* checksum.c - Internet checksum (RFC 1071) and pseudo-header sums
 *
 * Sums are kept as 32-bit accumulators of 16-bit big-endian words so that
 * header and payload parts can be added in any order and folded once.
 */
#include <string.h>

#include "checksum.h"

/**
 * csum_partial() - Add a buffer to a running checksum accumulator
 * @buf:	Data, any alignment
 * @len:	Length in bytes; an odd length pads the last byte with zero
 * @sum:	Accumulator so far
 *
 * Return: new accumulator (unfolded)
 */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	uint64_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0, acc;
	const uint8_t *p = buf;
	uint32_t w, folded;

	/*
	 * RFC 1071, 2(B): the one's complement sum does not depend on byte
	 * order, so add native 32-bit words into 64-bit accumulators (no
	 * carries to track below 2^32 words) and swap once at the end. Four
	 * independent accumulators over 64-byte blocks let the compiler
	 * vectorise the loop (the Makefile builds this file with -O3).
	 */
	while (len >= 64) {
		uint32_t v[16];
		int i;

		memcpy(v, p, 64);
		for (i = 0; i < 16; i += 4) {
			acc0 += v[i];
			acc1 += v[i + 1];
			acc2 += v[i + 2];
			acc3 += v[i + 3];
		}
		p += 64;
		len -= 64;
	}
	acc = acc0 + acc1 + acc2 + acc3;
	while (len >= 4) {
		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t h = 0;

		memcpy(&h, p, 1);	/* pads the last byte with zero */
		acc += h;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	folded = (uint32_t)acc;
	if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
		folded = ((folded & 0xff) << 8) | (folded >> 8);
	return sum + folded;
}

/**
 * csum_fold() - Fold an accumulator to 16 bits and complement it
 * @sum:	Accumulator
 *
 * Return: checksum in host order, ready for wr16()
 */
uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/**
 * csum() - Checksum of a buffer on top of an accumulator
 * @buf:	Data
 * @len:	Length in bytes
 * @sum:	Accumulator, e.g. a pseudo-header sum, or 0
 *
 * Return: folded checksum in host order
 */
uint16_t csum(const void *buf, size_t len, uint32_t sum)
{
	return csum_fold(csum_partial(buf, len, sum));
}

/**
 * csum_pseudo4() - Accumulator for an IPv4 pseudo-header
 * @src:	Source address
 * @dst:	Destination address
 * @proto:	L4 protocol number
 * @len:	L4 length (header and payload)
 *
 * Return: accumulator
 */
uint32_t csum_pseudo4(struct in_addr src, struct in_addr dst, uint8_t proto,
		      uint16_t len)
{
	uint32_t sum;

	sum = csum_partial(&src, 4, 0);
	sum = csum_partial(&dst, 4, sum);
	return sum + proto + len;
}

/**
 * csum_pseudo6() - Accumulator for an IPv6 pseudo-header (RFC 8200, 8.1)
 * @src:	Source address
 * @dst:	Destination address
 * @proto:	Upper-layer protocol number
 * @len:	Upper-layer length
 *
 * Return: accumulator
 */
uint32_t csum_pseudo6(const struct in6_addr *src, const struct in6_addr *dst,
		      uint8_t proto, uint32_t len)
{
	uint32_t sum;

	sum = csum_partial(src, 16, 0);
	sum = csum_partial(dst, 16, sum);
	sum = csum_partial((const uint8_t[]){ len >> 24, (len >> 16) & 0xff,
					      (len >> 8) & 0xff, len & 0xff },
			   4, sum);
	return sum + proto;
}
