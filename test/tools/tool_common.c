/* test/tools/tool_common.c - Helpers shared by the test tools
 *
 * Monotonic time, number parsing, address resolution and printing, socket
 * set-up, and the deterministic test stream of tcp_stream and udp_stream
 * (word i of a stream is a SplitMix64 mix of the seed and i: word_at() in
 * tool_common.h). The small helpers on hot paths, word_at() and the
 * big-endian byte access of the frame builders, are inline in the header.
 * Nothing here keeps state: what the tools used to read from their option
 * globals (address family, deadline) is passed as a parameter.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "tool_common.h"

/**
 * now_ms() - Monotonic time in milliseconds
 *
 * Return: milliseconds
 */
int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * left_ms() - Milliseconds left before a deadline, at least 0
 * @deadline:	Deadline, monotonic milliseconds as from now_ms()
 *
 * Return: milliseconds, at most 1000000
 */
int left_ms(int64_t deadline)
{
	int64_t l = deadline - now_ms();

	if (l < 0)
		return 0;
	return l > 1000000 ? 1000000 : (int)l;
}

/**
 * parse_num() - Parse a non-negative decimal number
 * @s:		Text
 * @v:		Value, set on success
 *
 * Return: 0 on success, -1 on a malformed value
 */
int parse_num(const char *s, int64_t *v)
{
	long long n;
	char *end;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end || n < 0)
		return -1;
	*v = n;
	return 0;
}

/**
 * resolve() - Numeric address (with %scope) and port to a socket address
 * @family:	AF_INET, AF_INET6, or AF_UNSPEC for either
 * @type:	Socket type, SOCK_STREAM or SOCK_DGRAM
 * @host:	Address text, NULL for the wildcard address
 * @port:	Port text
 * @ss:		Socket address, set on success
 * @sl:		Its length, set on success
 *
 * Return: 0 on success, -1 on error (printed)
 */
int resolve(int family, int type, const char *host, const char *port,
	    struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo hints = {
		.ai_family = family,
		.ai_socktype = type,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	}, *ai;
	int rc;

	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		fprintf(stderr, "error: %s port %s: %s\n", host ? host : "any",
			port, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/**
 * addr_str() - Print a socket address as ADDR:PORT or [ADDR]:PORT
 * @sa:		Address
 * @buf:	Buffer, at least INET6_ADDRSTRLEN + 8 bytes
 * @size:	Buffer size
 *
 * Return: @buf
 */
char *addr_str(const struct sockaddr_storage *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}

/**
 * set_nonblock() - Make a descriptor non-blocking
 * @fd:		Descriptor
 */
void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/**
 * raise_nofile() - Raise the descriptor limit to its hard limit
 */
void raise_nofile(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r)) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/**
 * stream_fill() - Write stream bytes [@off, @off + @len) to @dst
 * @seed:	Stream seed
 * @off:	Stream offset
 * @dst:	Destination
 * @len:	Bytes
 */
void stream_fill(uint64_t seed, uint64_t off, uint8_t *dst, size_t len)
{
	uint64_t i = off / 8, w;
	size_t skip = off % 8, n;

	if (skip && len) {
		w = word_at(seed, i++);
		n = 8 - skip < len ? 8 - skip : len;
		memcpy(dst, (uint8_t *)&w + skip, n);
		dst += n;
		len -= n;
	}
	for (; len >= 8; len -= 8, dst += 8) {
		w = word_at(seed, i++);
		memcpy(dst, &w, 8);
	}
	if (len) {
		w = word_at(seed, i);
		memcpy(dst, &w, len);
	}
}
