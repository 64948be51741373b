/* siphash.c - SipHash-2-4, written from the description in the paper
 *
 * The state is four 64-bit words initialised from the key and four
 * constants ("somepseudorandomlygeneratedbytes"). The message is taken in
 * 64-bit little-endian words m: v3 ^= m, two SipRounds, v0 ^= m. The last
 * word holds the remaining 0 to 7 bytes with the message length modulo 256
 * in its top byte, so there is always a last word. Finalisation: v2 ^= 0xff,
 * four SipRounds, and the hash is v0 ^ v1 ^ v2 ^ v3.
 *
 * No system calls.
 */
#include "siphash.h"
#include "util.h"

#define SIP_C0		0x736f6d6570736575ULL	/* "somepseu" */
#define SIP_C1		0x646f72616e646f6dULL	/* "dorandom" */
#define SIP_C2		0x6c7967656e657261ULL	/* "lygenera" */
#define SIP_C3		0x7465646279746573ULL	/* "tedbytes" */

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline uint64_t rotl64(uint64_t x, unsigned int b)
{
	return x << b | x >> (64 - b);
}

/* One SipRound: add-rotate-xor over the four words */
static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);

	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;

	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;

	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

/* Compression of one message word: c = 2 rounds */
static inline void sip_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

/* Little-endian load of @n bytes (at most 8), whatever the host order */
static inline uint64_t sip_load(const uint8_t *p, size_t n)
{
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < n; i++)
		m |= (uint64_t)p[i] << (8 * i);
	return m;
}

/**
 * siphash24() - SipHash-2-4 of a byte string
 * @key:	Secret key
 * @data:	Message
 * @len:	Length of @data in bytes
 *
 * Return: 64-bit hash; the paper prints it as the 8 bytes of this value
 *	   in little-endian order
 */
uint64_t siphash24(const struct siphash_key *key, const void *data,
		   size_t len)
{
	struct sip_state s = {
		.v0 = key->k[0] ^ SIP_C0,
		.v1 = key->k[1] ^ SIP_C1,
		.v2 = key->k[0] ^ SIP_C2,
		.v3 = key->k[1] ^ SIP_C3,
	};
	const uint8_t *p = data;
	size_t left = len;

	for (; left >= 8; left -= 8, p += 8)
		sip_compress(&s, sip_load(p, 8));
	sip_compress(&s, sip_load(p, left) | (uint64_t)(len & 0xff) << 56);

	s.v2 ^= 0xff;
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);

	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
