/* util.c - small helpers shared by every module: MAC addresses, time,
 * file descriptors, number parsing
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

const uint8_t MAC_BROADCAST[MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t MAC_ZERO[MAC_LEN];

/**
 * mac_parse() - Parse a MAC address in "xx:xx:xx:xx:xx:xx" form
 * @s:		String to parse
 * @mac:	Filled with the address on success
 *
 * Return: 0 on success, -EINVAL if @s is not exactly a MAC address
 */
int mac_parse(const char *s, uint8_t mac[MAC_LEN])
{
	unsigned int b[MAC_LEN];
	int n = 0, i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n",
		   &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &n) != MAC_LEN ||
	    n != 17 || s[n])
		return -EINVAL;
	for (i = 0; i < MAC_LEN; i++)
		mac[i] = b[i];
	return 0;
}

/**
 * mac_ntop() - Format a MAC address
 * @mac:	Address
 * @buf:	Output buffer
 *
 * Return: @buf
 */
const char *mac_ntop(const uint8_t mac[MAC_LEN], char buf[MAC_STRLEN])
{
	snprintf(buf, MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

/**
 * now_ms() - Monotonic time in milliseconds
 *
 * Return: milliseconds since an arbitrary start
 */
uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/**
 * write_all() - Write a whole buffer to a blocking descriptor
 * @fd:		Descriptor
 * @buf:	Data
 * @len:	Length of @buf
 *
 * Return: 0 on success, negative errno on failure
 */
int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * fd_nonblock() - Set O_NONBLOCK on a descriptor
 * @fd:		Descriptor
 *
 * Return: 0 on success, negative errno on failure
 */
int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/**
 * str_to_uint() - Parse a whole decimal string as an unsigned number
 * @s:		String
 * @max:	Largest value accepted
 * @out:	Parsed value on success
 *
 * Return: 0 on success, -EINVAL on junk or empty input, -ERANGE over @max
 */
int str_to_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
