/* test/unit/unit_net.h - what the unit tests with real sockets share: a
 * user and network namespace of their own with the loopback up, a clock,
 * and Internet checksum helpers written here, not taken from checksum.c
 *
 * Static functions: each test file that includes it is a program of its
 * own (test/unit/unit.h).
 */
#ifndef UNIT_NET_H
#define UNIT_NET_H

/* Not every test file uses every helper */
#define UNIT_UNUSED	__attribute__((unused))

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* A user and network namespace of our own, as `unshare -rn`, lo up */
static UNIT_UNUSED int unit_ns_enter(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	unsigned int uid = getuid(), gid = getgid();
	char map[64];
	int s, rc = 0;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -1;
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	if (write_file("/proc/self/uid_map", map))
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", gid);
	if (write_file("/proc/self/gid_map", map))
		return -1;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
		rc = -1;
	ifr.ifr_flags |= IFF_UP;
	if (!rc && ioctl(s, SIOCSIFFLAGS, &ifr))
		rc = -1;
	if (s >= 0)
		close(s);
	return rc;
}

static UNIT_UNUSED uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Internet checksum helpers, written here, not taken from checksum.c */
static UNIT_UNUSED uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static UNIT_UNUSED uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

#endif /* UNIT_NET_H */
