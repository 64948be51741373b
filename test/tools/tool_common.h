/* test/tools/tool_common.h - Helpers shared by the test tools
 *
 * Monotonic time, number parsing, address resolution and printing, socket
 * set-up, the deterministic test stream of tcp_stream and udp_stream, and
 * big-endian byte access and checksum folding for the tools that build
 * frames (stream_client, vm_bench). The small helpers used on hot paths
 * are inline here; the rest is in tool_common.c, which the Makefile links
 * into each tool including this header.
 */

#ifndef TOOL_COMMON_H
#define TOOL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Exit statuses of the tools: done, failed, bad command line */
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

int64_t now_ms(void);
int left_ms(int64_t deadline);

int parse_num(const char *s, int64_t *v);

int resolve(int family, int type, const char *host, const char *port,
	    struct sockaddr_storage *ss, socklen_t *sl);
char *addr_str(const struct sockaddr_storage *sa, char *buf, size_t size);
void set_nonblock(int fd);
void raise_nofile(void);

/**
 * word_at() - Word @i of the stream of seed @seed (SplitMix64)
 * @seed:	Stream seed
 * @i:		Word index
 *
 * Return: the word
 */
static inline uint64_t word_at(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0xd1b54a32d192ed03ULL + i * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void stream_fill(uint64_t seed, uint64_t off, uint8_t *dst, size_t len);

/**
 * put16() - Store a 16-bit value in network order
 * @p:		Destination, 2 bytes
 * @v:		Value
 */
static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/**
 * get16() - Load a 16-bit value in network order
 * @p:		Source, 2 bytes
 *
 * Return: the value
 */
static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/**
 * put32() - Store a 32-bit value in network order
 * @p:		Destination, 4 bytes
 * @v:		Value
 */
static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/**
 * get32() - Load a 32-bit value in network order
 * @p:		Source, 4 bytes
 *
 * Return: the value
 */
static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/**
 * fold() - Fold a one's complement sum to 16 bits and complement it
 * @sum:	Sum, not folded
 *
 * Return: the checksum
 */
static inline uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif /* TOOL_COMMON_H */
