/* test/tools/udp_zc_send.c - UDP bulk sender with and without
 * MSG_ZEROCOPY, for measuring what zerocopy saves per byte; and a
 * receiver that counts and checks what arrives
 *
 * Theory of operation
 * The sender sends one shape of UDP send as fast as a blocking connected
 * socket takes it, for -t seconds or -n sends: a single datagram of -s
 * bytes, or with -g SEG a train of -s bytes cut into datagrams of SEG
 * bytes by the kernel (UDP_SEGMENT, one control message per send). The
 * payload sits in one page-aligned buffer, contiguous, or with -S STRIDE
 * as one iovec per datagram, STRIDE bytes apart from -O OFFSET on: the
 * way the daemon's guest datagrams sit in its receive buffer, each behind
 * its own headers. The buffer is written once, before the first send, so
 * a zerocopy send never races a writer and nothing needs to be held.
 *
 * With -z the socket has SO_ZEROCOPY and every send MSG_ZEROCOPY. The
 * kernel numbers each successful zerocopy send of a socket from 0 and
 * queues on its error queue one notification per range of numbers it is
 * done with (struct sock_extended_err, origin SO_EE_ORIGIN_ZEROCOPY,
 * range ee_info..ee_data, adjacent ranges merged while they wait), with
 * SO_EE_CODE_ZEROCOPY_COPIED in ee_code when it copied the pages after
 * all (local delivery; a datagram above the device MTU, which is
 * fragmented and so checksummed in software; a device without
 * scatter-gather or checksum offload). The sender reads the error queue
 * without waiting every -r sends, and waits for it (poll, POLLERR) only
 * when -w sends are in flight, so the notifications cost about one
 * recvmsg() per merged range plus one that finds the queue empty, not a
 * system call per send. ENOBUFS from a send (the notification does not
 * fit in the socket's option memory, or pinning would pass
 * RLIMIT_MEMLOCK) is counted; the error queue is drained and the send
 * retried. IP_RECVERR is not set: notifications are queued without it,
 * and the queue then carries nothing else.
 *
 * What it reports is its own cost: getrusage() user + system time over
 * the send loop and the final drain of notifications (which waits at
 * most 1 s), per 10^9 payload bytes the kernel took; throughput is those
 * bytes over the loop's CLOCK_MONOTONIC time (guest time under QEMU
 * -icount). Softirq work (the device's transmit completions, which free
 * the buffers and queue the notifications) is charged to the sender only
 * on kernels without IRQ_TIME_ACCOUNTING. Sends still not completed at
 * the end are reported as pending, not as a failure: a device frees what
 * it sent when it next transmits or interrupts, which an idle one may
 * not do for a while.
 *
 * The receiver binds PORT, optionally with UDP_GRO (-G: the kernel hands
 * up a train of equal datagrams as one buffer and says the size in a
 * control message), reads with recvmmsg() and counts bytes and
 * datagrams. Every datagram carries byte j = pattern(j), whatever its
 * number: -V checks every byte, so a send whose pages changed or went
 * out at the wrong offset shows. It ends after -t seconds, -i ms without
 * a datagram once one came, or as soon as -e BYTES arrived.
 *
 * Usage: udp_zc_send [OPTION]... send ADDR PORT
 *        udp_zc_send [OPTION]... recv PORT
 * Options:
 *	-4, -6	   address family (default: from ADDR; recv: IPv6 socket
 *		   taking both)
 *	-b ADDR	   recv: address to bind
 *	-t SECS	   send: seconds of sending (default 2, with -n 60);
 *		   recv: at most (default 60)
 *	-n N	   send: at most N sends (default: no bound)
 *	-s BYTES   send: payload per send (default 1400, at most 65507)
 *	-g SEG	   send: UDP_SEGMENT, datagrams of SEG bytes (at most 128)
 *	-S STRIDE  send -g: one iovec per datagram, STRIDE bytes apart
 *	-O OFFSET  send -S: offset of the first datagram in the buffer
 *	-z	   send: SO_ZEROCOPY and MSG_ZEROCOPY
 *	-w N	   send -z: sends in flight before waiting (default 256)
 *	-r N	   send -z: read notifications every N sends (default 32)
 *	-G	   recv: UDP_GRO
 *	-V	   recv: check every byte
 *	-i MS	   recv: end MS after the last datagram (default 2000)
 *	-e BYTES   recv: end once BYTES arrived; fewer is a failure
 *
 * Output: the receiver first prints "listening PORT". Both end with one
 * line of key=value pairs ("send ..." or "recv ..."); a failure is
 * explained on a line starting with "error:". Exit status: 0 as expected,
 * 1 failure (a send error other than ENOBUFS, bad bytes, fewer than -e),
 * 2 usage or set-up error.
 *
 * System calls: socket, setsockopt, bind, connect, sendmsg, recvmsg,
 * recvmmsg, poll, getrusage, clock_gettime, close.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <time.h>		/* before linux/errqueue.h, which needs it */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tool_common.h"

#ifndef SO_ZEROCOPY		/* Linux 4.14 */
#define SO_ZEROCOPY	60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY	0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY		5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED	1
#endif
#ifndef UDP_SEGMENT		/* Linux 4.18 */
#define UDP_SEGMENT	103
#endif
#ifndef UDP_GRO			/* Linux 5.0 */
#define UDP_GRO		104
#endif

#define PAYLOAD_MAX	65507		/* one IPv4 datagram */
#define SEGS_MAX	128		/* UDP_MAX_SEGMENTS, Linux 6.x */
#define BUF_SIZE	(1 << 20)	/* sender's buffer, also -S layouts */
#define CLOCK_EVERY	16		/* sends between clock readings */
#define DRAIN_MS	1000		/* final wait for notifications */
#define RECV_BATCH	16
#define RECV_LEN	65536

/* Options */
static int opt_family = AF_UNSPEC;
static const char *opt_bind;
static int64_t opt_secs = -1;
static int64_t opt_count;
static int64_t opt_size = 1400;
static int64_t opt_seg;
static int64_t opt_stride;
static int64_t opt_offset;
static bool opt_zc;
static int64_t opt_window = 256;
static int64_t opt_reap = 32;
static bool opt_gro;
static bool opt_verify;
static int64_t opt_idle_ms = 2000;
static int64_t opt_expect;

/**
 * struct zc_stats - What the sender counts
 * @bytes:	Payload bytes the kernel took
 * @sends:	Successful sends
 * @dgrams:	Datagrams in them
 * @done:	Sends completed (notified), zerocopy only
 * @copied:	Of those, reported SO_EE_CODE_ZEROCOPY_COPIED
 * @notes:	Notifications read
 * @other:	Error queue messages that were not zerocopy notifications
 * @enobufs:	Sends refused with ENOBUFS (then retried)
 * @waits:	Times the window was full and the sender waited
 */
struct zc_stats {
	uint64_t bytes, sends, dgrams;
	uint64_t done, copied, notes, other, enobufs, waits;
};

/**
 * now_ns() - Monotonic time in nanoseconds
 *
 * Return: nanoseconds
 */
static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/**
 * cpu_s() - User and system time of this process so far, and its
 * context switches
 * @user:	Seconds of user time, set
 * @sys:	Seconds of system time, set
 * @csw:	Voluntary and involuntary context switches, set (2)
 */
static void cpu_s(double *user, double *sys, long *csw)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	csw[0] = ru.ru_nvcsw;
	csw[1] = ru.ru_nivcsw;
}

/**
 * pattern() - Byte @j of every datagram
 * @j:		Offset in the datagram
 *
 * Return: the byte
 */
static inline uint8_t pattern(size_t j)
{
	return (uint8_t)(j * 31 + 7 + (j >> 8));
}

/* ---------------------------------------------------------------- */
/* Sender */

/**
 * layout() - Fill the buffer and point the iovecs at the payload
 * @buf:	Page-aligned buffer, BUF_SIZE bytes
 * @iov:	iovecs, SEGS_MAX
 *
 * Return: number of iovecs used
 */
static size_t layout(uint8_t *buf, struct iovec *iov)
{
	size_t seg = opt_seg ? (size_t)opt_seg : (size_t)opt_size;
	size_t left = (size_t)opt_size, n = 0, j, p;

	if (!opt_stride) {
		for (p = 0; p < (size_t)opt_size; p++)
			buf[p] = pattern(p % seg);
		iov[0] = (struct iovec){ .iov_base = buf,
					 .iov_len = (size_t)opt_size };
		return 1;
	}
	memset(buf, 0xee, BUF_SIZE);	/* what lies between: headers */
	for (p = (size_t)opt_offset; left; p += (size_t)opt_stride, n++) {
		size_t len = left < seg ? left : seg;

		for (j = 0; j < len; j++)
			buf[p + j] = pattern(j);
		iov[n] = (struct iovec){ .iov_base = buf + p, .iov_len = len };
		left -= len;
	}
	return n;
}

/**
 * note_one() - Account one error queue message
 * @m:		The message as received
 * @st:		Counters
 */
static void note_one(struct msghdr *m, struct zc_stats *st)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		struct sock_extended_err ee;
		uint32_t n;

		if (!((cm->cmsg_level == SOL_IP &&
		       cm->cmsg_type == IP_RECVERR) ||
		      (cm->cmsg_level == SOL_IPV6 &&
		       cm->cmsg_type == IPV6_RECVERR)))
			continue;
		memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
		if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee.ee_errno) {
			st->other++;
			continue;
		}
		n = ee.ee_data - ee.ee_info + 1;	/* wraps like the key */
		st->notes++;
		st->done += n;
		if (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
			st->copied += n;
		return;
	}
	st->other++;
}

/**
 * reap() - Read the notifications on the error queue
 * @s:		Socket
 * @st:		Counters
 * @wait_ms:	If nothing is queued, wait this long for one (0: never)
 */
static void reap(int s, struct zc_stats *st, int wait_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
				    sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} ctl;
	struct pollfd pfd = { .fd = s, .events = 0 };	/* POLLERR */
	struct msghdr m;
	bool got = false;

	for (;;) {
		m = (struct msghdr){ .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		if (recvmsg(s, &m, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0) {
			note_one(&m, st);
			got = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (got || !wait_ms || errno != EAGAIN)
			return;
		if (poll(&pfd, 1, wait_ms) <= 0)
			return;		/* nothing came: the caller decides */
		wait_ms = 0;
	}
}

/**
 * send_one() - One send of the shape, retried after ENOBUFS
 * @s:		Connected socket
 * @m:		Message
 * @st:		Counters
 *
 * Return: 0 on success, -1 on a send error (printed)
 */
static int send_one(int s, struct msghdr *m, struct zc_stats *st)
{
	int flags = opt_zc ? MSG_ZEROCOPY : 0, tries = 0;
	ssize_t n;

	for (;;) {
		n = sendmsg(s, m, flags);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == ENOBUFS && opt_zc && tries++ < 1000) {
			st->enobufs++;
			reap(s, st, 10);
			continue;
		}
		fprintf(stderr, "error: sendmsg of %" PRId64 " bytes: %s\n",
			opt_size, strerror(errno));
		return -1;
	}
	st->bytes += (uint64_t)n;
	st->sends++;
	st->dgrams += opt_seg ? ((uint64_t)n + (uint64_t)opt_seg - 1) /
				(uint64_t)opt_seg : 1;
	return 0;
}

/**
 * sock_connected() - A UDP socket connected to the destination, set up
 * @host:	Address
 * @port:	Port
 *
 * Return: socket, or -1 on error (printed)
 */
static int sock_connected(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int s, one = 1;

	if (resolve(opt_family, SOCK_DGRAM, host, port, &ss, &sl))
		return -1;
	s = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&ss, sl)) {
		fprintf(stderr, "error: socket to %s: %s\n", host,
			strerror(errno));
		return -1;
	}
	if (opt_zc && setsockopt(s, SOL_SOCKET, SO_ZEROCOPY, &one,
				 sizeof(one))) {
		fprintf(stderr, "error: SO_ZEROCOPY: %s\n", strerror(errno));
		return -1;
	}
	return s;
}

/**
 * do_send() - Send the shape until the time or count is up, report
 * @host:	Destination address
 * @port:	Destination port
 *
 * Return: exit status
 */
static int do_send(const char *host, const char *port)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	static struct iovec iov[SEGS_MAX];
	struct zc_stats st = { 0 };
	double u0, s0, u1, s1, secs, gb;
	long c0[2], c1[2];
	int64_t t0, t1, end;
	struct msghdr m;
	uint8_t *buf;
	int s, rc = EXIT_OK;

	buf = aligned_alloc(4096, BUF_SIZE);
	s = sock_connected(host, port);
	if (!buf || s < 0)
		return EXIT_USAGE;
	m = (struct msghdr){ .msg_iov = iov, .msg_iovlen = layout(buf, iov) };
	if (opt_seg) {
		uint16_t seg = (uint16_t)opt_seg;
		struct cmsghdr *cm = &ctl.align;

		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
	}

	cpu_s(&u0, &s0, c0);
	t0 = t1 = now_ns();
	end = t0 + (opt_secs >= 0 ? opt_secs : opt_count ? 60 : 2) *
		   1000000000LL;
	while ((!opt_count || (int64_t)st.sends < opt_count) && t1 < end) {
		if (send_one(s, &m, &st)) {
			rc = EXIT_FAIL;
			break;
		}
		if (opt_zc && st.sends - st.done >= (uint64_t)opt_window) {
			st.waits++;
			reap(s, &st, DRAIN_MS);
		} else if (opt_zc && !(st.sends % (uint64_t)opt_reap)) {
			reap(s, &st, 0);
		}
		if (!(st.sends % CLOCK_EVERY))
			t1 = now_ns();
	}
	t1 = now_ns();
	end = t1 + DRAIN_MS * 1000000LL;
	while (opt_zc && st.done < st.sends && now_ns() < end)
		reap(s, &st, DRAIN_MS);
	cpu_s(&u1, &s1, c1);
	close(s);

	secs = (double)(t1 - t0) / 1e9;
	gb = (double)st.bytes / 1e9;
	printf("send bytes=%" PRIu64 " sends=%" PRIu64 " datagrams=%" PRIu64
	       " secs=%.3f gbit=%.3f user_s=%.3f sys_s=%.3f"
	       " cpu_s_per_gb=%.3f vcsw=%ld ivcsw=%ld zerocopy=%d"
	       " completions=%" PRIu64 " copied=%" PRIu64 " pending=%" PRIu64
	       " notifications=%" PRIu64 " other=%" PRIu64 " enobufs=%" PRIu64
	       " waits=%" PRIu64 "\n",
	       st.bytes, st.sends, st.dgrams, secs,
	       secs > 0 ? gb * 8 / secs : 0, u1 - u0, s1 - s0,
	       gb > 0 ? (u1 - u0 + s1 - s0) / gb : 0, c1[0] - c0[0],
	       c1[1] - c0[1], opt_zc, st.done, st.copied,
	       opt_zc ? st.sends - st.done : 0, st.notes, st.other,
	       st.enobufs, st.waits);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Receiver */

/**
 * check() - Count the datagrams in one buffer received, check their bytes
 * @p:		Data
 * @len:	Length
 * @seg:	Datagram size (UDP_GRO), or 0: one datagram
 * @bad:	Bad bytes, increased
 *
 * Return: number of datagrams
 */
static uint64_t check(const uint8_t *p, size_t len, size_t seg,
		      uint64_t *bad)
{
	size_t j;

	if (!seg || seg > len)
		seg = len;
	if (opt_verify)
		for (j = 0; j < len; j++)
			*bad += p[j] != pattern(j % seg);
	return seg ? (len + seg - 1) / seg : 1;
}

/**
 * gro_size() - Datagram size of a UDP_GRO buffer, from its control data
 * @m:		Message as received
 *
 * Return: size, 0 if none given (one datagram)
 */
static size_t gro_size(struct msghdr *m)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			int v;

			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

/**
 * sock_bound() - A UDP socket bound to the port, set up
 * @port:	Port
 *
 * Return: socket, or -1 on error (printed)
 */
static int sock_bound(const char *port)
{
	int fam = opt_family == AF_UNSPEC && !opt_bind ? AF_INET6 : opt_family;
	int s, one = 1, zero = 0, rcvbuf = 4 << 20;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (resolve(fam, SOCK_DGRAM, opt_bind, port, &ss, &sl))
		return -1;
	s = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (s < 0)
		goto err;
	if (ss.ss_family == AF_INET6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (opt_gro && setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof(one)))
		goto err;
	if (bind(s, (struct sockaddr *)&ss, sl))
		goto err;
	return s;
err:
	fprintf(stderr, "error: socket on port %s: %s\n", port,
		strerror(errno));
	return -1;
}

/**
 * do_recv() - Count what arrives until the end condition, report
 * @port:	Port to bind
 *
 * Return: exit status
 */
static int do_recv(const char *port)
{
	static uint8_t bufs[RECV_BATCH][RECV_LEN];
	static union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[RECV_BATCH];
	static struct mmsghdr mm[RECV_BATCH];
	static struct iovec iov[RECV_BATCH];
	uint64_t bytes = 0, dgrams = 0, reads = 0, bad = 0;
	int64_t first = 0, last = 0, end;
	int s, i, n, rc = EXIT_OK;

	s = sock_bound(port);
	if (s < 0)
		return EXIT_USAGE;
	printf("listening %s\n", port);
	fflush(stdout);
	end = now_ns() + (opt_secs < 0 ? 60 : opt_secs) * 1000000000LL;
	while (!opt_expect || bytes < (uint64_t)opt_expect) {
		int64_t now = now_ns(), left = end - now;
		struct pollfd pfd = { .fd = s, .events = POLLIN };

		if (first && now - last > opt_idle_ms * 1000000)
			break;
		if (first && left > opt_idle_ms * 1000000)
			left = opt_idle_ms * 1000000;
		if (left <= 0 || poll(&pfd, 1, (int)(left / 1000000) + 1) < 0)
			break;
		for (i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], RECV_LEN };
			mm[i].msg_hdr = (struct msghdr){
				.msg_iov = &iov[i], .msg_iovlen = 1,
				.msg_control = ctl[i].buf,
				.msg_controllen = sizeof(ctl[i].buf) };
		}
		n = recvmmsg(s, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		last = now_ns();
		if (!first)
			first = last;
		reads++;
		for (i = 0; i < n; i++) {
			bytes += mm[i].msg_len;
			dgrams += check(bufs[i], mm[i].msg_len,
					gro_size(&mm[i].msg_hdr), &bad);
		}
	}
	close(s);
	printf("recv bytes=%" PRIu64 " datagrams=%" PRIu64 " reads=%" PRIu64
	       " secs=%.3f gbit=%.3f bad=%" PRIu64 "\n", bytes, dgrams, reads,
	       (double)(last - first) / 1e9,
	       last > first ? bytes * 8.0 / (double)(last - first) : 0, bad);
	if (bad) {
		fprintf(stderr, "error: %" PRIu64 " bad bytes\n", bad);
		rc = EXIT_FAIL;
	}
	if (opt_expect && bytes < (uint64_t)opt_expect) {
		fprintf(stderr, "error: %" PRIu64 " of %" PRId64 " bytes\n",
			bytes, opt_expect);
		rc = EXIT_FAIL;
	}
	return rc;
}

/* ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
"Usage: udp_zc_send [OPTION]... send ADDR PORT\n"
"       udp_zc_send [OPTION]... recv PORT\n"
"Options: -4 -6 -b ADDR -t SECS -n N -s BYTES -g SEG -S STRIDE -O OFFSET\n"
"         -z -w N -r N -G -V -i MS -e BYTES\n"
"         (see the comment at the top of udp_zc_send.c)\n");
	exit(EXIT_USAGE);
}

/**
 * num() - Parse a number option within bounds, or give the usage
 * @s:		Text
 * @min:	Smallest allowed
 * @max:	Largest allowed
 *
 * Return: the value
 */
static int64_t num(const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (parse_num(s, &v) || v < min || v > max)
		usage();
	return v;
}

/* Options that must agree with each other: the usage if they do not */
static void check_opts(void)
{
	size_t seg = opt_seg ? (size_t)opt_seg : (size_t)opt_size;
	size_t n = ((size_t)opt_size + seg - 1) / seg;

	if (opt_seg && n > SEGS_MAX)
		usage();
	if (opt_stride && (!opt_seg || opt_stride < opt_seg ||
			   (size_t)opt_offset + n * (size_t)opt_stride >
			   BUF_SIZE))
		usage();
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "46b:t:n:s:g:S:O:zw:r:GVi:e:"))
	       != -1) {
		switch (opt) {
		case '4': opt_family = AF_INET; break;
		case '6': opt_family = AF_INET6; break;
		case 'b': opt_bind = optarg; break;
		case 't': opt_secs = num(optarg, 0, 86400); break;
		case 'n': opt_count = num(optarg, 1, INT64_MAX); break;
		case 's': opt_size = num(optarg, 1, PAYLOAD_MAX); break;
		case 'g': opt_seg = num(optarg, 1, PAYLOAD_MAX); break;
		case 'S': opt_stride = num(optarg, 1, BUF_SIZE); break;
		case 'O': opt_offset = num(optarg, 0, BUF_SIZE); break;
		case 'z': opt_zc = true; break;
		case 'w': opt_window = num(optarg, 1, 1 << 20); break;
		case 'r': opt_reap = num(optarg, 1, 1 << 20); break;
		case 'G': opt_gro = true; break;
		case 'V': opt_verify = true; break;
		case 'i': opt_idle_ms = num(optarg, 1, 3600000); break;
		case 'e': opt_expect = num(optarg, 1, INT64_MAX); break;
		default: usage();
		}
	}
	check_opts();
	setvbuf(stdout, NULL, _IOLBF, 0);
	argc -= optind;
	argv += optind;
	if (argc == 3 && !strcmp(argv[0], "send"))
		return do_send(argv[1], argv[2]);
	if (argc == 2 && !strcmp(argv[0], "recv"))
		return do_recv(argv[1]);
	usage();
	return EXIT_USAGE;
}
