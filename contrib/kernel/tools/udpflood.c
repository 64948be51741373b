// SPDX-License-Identifier: GPL-2.0-or-later
/* udpflood.c - send UDP datagrams as fast as they go, and count them, for
 * the in-guest benchmark (contrib/kernel/bench-guest.sh, KBENCH_PROTO=udp)
 *
 * Usage: udpflood send ADDR PORT LEN SECONDS
 *	  udpflood recv PORT IDLE_MS MAX_SECONDS
 *
 * Theory of operation
 * send: sendmmsg() batches of UF_BATCH datagrams of LEN bytes to
 * ADDR:PORT (IPv4 or IPv6) for SECONDS of CLOCK_MONOTONIC (guest time
 * under QEMU -icount), unpaced, as iperf3 -b 0 would be; failed sends
 * (a port unreachable, a full buffer) are counted apart. Prints
 * "sent N failed M".
 * recv: binds [::]:PORT (IPv4 too) and reads with recvmmsg() batches of
 * UF_BATCH until IDLE_MS have passed without a datagram since the first
 * one, or MAX_SECONDS in all. Prints "received N BYTES" once done.
 * iperf3 3.12 is not used for this: with -u -b 0 under -icount its
 * control connection fails at the end of the test ("unable to read from
 * stream socket").
 *
 * Build: gcc -static -O2 -o udpflood udpflood.c (run.sh does).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UF_BATCH	64
#define UF_LEN_MAX	65507

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Parse @addr:@port into @sa. Return: its length, 0 if not an address */
static socklen_t uf_addr(const char *addr, const char *port,
			 struct sockaddr_in6 *sa)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(port));
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &sa->sin6_addr) == 1) {
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons((uint16_t)atoi(port));
		return sizeof(*sa);
	}
	return 0;
}

/* send ADDR PORT LEN SECONDS */
static int uf_send(char **argv)
{
	static uint8_t buf[UF_LEN_MAX];
	struct mmsghdr mh[UF_BATCH];
	struct iovec iov = { buf, 0 };
	struct sockaddr_in6 sa;
	socklen_t sl = uf_addr(argv[0], argv[1], &sa);
	long len = atol(argv[2]), secs = atol(argv[3]);
	unsigned long long sent = 0, failed = 0;
	uint64_t end;
	int s, i, n;

	if (!sl || len < 0 || len > UF_LEN_MAX || secs < 1 || secs > 3600) {
		fprintf(stderr, "udpflood: bad arguments\n");
		return 1;
	}
	s = socket(sa.sin6_family, SOCK_DGRAM, 0);
	if (s < 0) {
		perror("udpflood: socket");
		return 1;
	}
	iov.iov_len = (size_t)len;
	for (i = 0; i < UF_BATCH; i++)
		mh[i].msg_hdr = (struct msghdr){ .msg_name = &sa,
						 .msg_namelen = sl,
						 .msg_iov = &iov,
						 .msg_iovlen = 1 };
	end = now_ns() + (uint64_t)secs * 1000000000ULL;
	while (now_ns() < end) {
		n = sendmmsg(s, mh, UF_BATCH, 0);
		if (n > 0)
			sent += (unsigned int)n;
		else
			failed++;
	}
	printf("sent %llu failed %llu\n", sent, failed);
	close(s);
	return 0;
}

/* recv PORT IDLE_MS MAX_SECONDS */
static int uf_recv(char **argv)
{
	static uint8_t buf[UF_BATCH][2048];
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)atoi(argv[0])) };
	long idle = atol(argv[1]), secs = atol(argv[2]);
	unsigned long long got = 0, bytes = 0;
	struct mmsghdr mh[UF_BATCH];
	struct iovec iov[UF_BATCH];
	int s, i, n, off = 0, size = 4 << 20;
	uint64_t end;

	if (idle < 1 || secs < 1 || secs > 3600) {
		fprintf(stderr, "udpflood: bad arguments\n");
		return 1;
	}
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s < 0 || setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off,
				sizeof(off)) ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("udpflood: socket");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	for (i = 0; i < UF_BATCH; i++) {
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
		mh[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i],
						 .msg_iovlen = 1 };
	}
	end = now_ns() + (uint64_t)secs * 1000000000ULL;
	for (;;) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		uint64_t t = now_ns();
		int wait_ms = got ? (int)idle : 1000;

		if (t >= end)
			break;
		if (poll(&pfd, 1, wait_ms) <= 0) {
			if (got)
				break;
			continue;
		}
		n = recvmmsg(s, mh, UF_BATCH, MSG_DONTWAIT, NULL);
		for (i = 0; i < n; i++)
			bytes += mh[i].msg_len;
		if (n > 0)
			got += (unsigned int)n;
	}
	printf("received %llu %llu\n", got, bytes);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "send"))
		return uf_send(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "recv"))
		return uf_recv(argv + 2);
	fprintf(stderr, "Usage: udpflood send ADDR PORT LEN SECONDS\n"
			"       udpflood recv PORT IDLE_MS MAX_SECONDS\n");
	return 1;
}
