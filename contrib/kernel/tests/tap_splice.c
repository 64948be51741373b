/* contrib/kernel/tests/tap_splice.c - functional test of the peeking TCP
 * splice read (SPLICE_F_PEEK) and of splice() into a tap, KTAP
 *
 * Theory of operation
 * Runs as root in a network namespace of its own (unshare(CLONE_NEWNET),
 * or with a user namespace too when not privileged), loopback up.
 *
 * Peek tests: each builds a connected TCP pair over 127.0.0.1 (one over
 * ::1), writes a known pattern on one end and splices from the other
 * into a pipe with SPLICE_F_PEEK, checking what the pipe gets, what a
 * recv() after it gets, and the peek offset (SO_PEEK_OFF). A probe first:
 * a peek of an idle connected socket gives EAGAIN on a kernel that has
 * the flag, EINVAL on one without (its tests are then skipped).
 *
 * Tap tests: a tap "tsp0" (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) in the
 * same namespace, 192.0.2.1/24, with a static ARP entry for the far end
 * 192.0.2.2 (whose frames this test writes). Frames go into a pipe
 * (write() or vmsplice()) and from the pipe to the tap with splice(); the
 * namespace's UDP and TCP sockets must receive exactly the payload. The
 * TCP connection is made by hand: a SYN written to the tap, the SYN-ACK
 * read from it, an ACK; then segments, among them a 60 KiB GSO TCPV4
 * frame with NEEDS_CSUM, a header split across two pipe buffers, 41
 * buffers (more than MAX_SKB_FRAGS) in one frame, and the daemon's path:
 * a peek splice from a TCP socket into pipe P, the headers into pipe H,
 * P to H, H to the tap. A probe first: splice() into a tap gives EINVAL
 * on a kernel without splice_write for tun.
 *
 * Every wait is bounded (poll() timeouts, counts of frames read), the
 * one child (a delayed sender) is waited for.
 *
 * Build: gcc -static -O2 -Wall -Wextra -Werror -o tap_splice tap_splice.c
 * Exit status: 0 all passed, 1 a failure, 4 (KSFT_SKIP) nothing ran.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#ifndef SPLICE_F_PEEK
#define SPLICE_F_PEEK	0x10
#endif

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

#define NTESTS		25
#define WAIT_MS		2000		/* for data or a frame to arrive */
#define LEAK_FRAMES	10000		/* frames of the page leak test */
#define LEAK_WARMUP	1000		/* frames before its first figure */
#define LEAK_MAX_KB	8192		/* MemAvailable it may lose, KiB */
#define GSO_BYTES	61440		/* payload of the GSO frame */
#define PIECES		40		/* vmsplice() pieces of one frame */
#define PIECE_BYTES	1000
#define MSS		1448

#define TAP_NAME	"tsp0"
#define PORT_UDP	5000
#define PORT_TCP	5001
#define PORT_PEER	40000
#define ISS		1000000U	/* our initial sequence number */

static int test_no;
static int n_pass, n_fail, n_skip;
static bool peek_ok;			/* the kernel has SPLICE_F_PEEK */
static bool tap_ok;			/* and splice_write for tun */
static char why[256];			/* reason of the last failure */

/* The tap and the connection made by hand over it */
static struct {
	int fd;				/* the tap */
	uint8_t mac[6];			/* its address */
	int udp;			/* 192.0.2.1:PORT_UDP */
	int lsn;			/* listening on 192.0.2.1:PORT_TCP */
	int sock;			/* the accepted end */
	uint32_t snd_nxt;		/* our next sequence number */
	uint32_t rcv_nxt;		/* theirs */
	uint32_t pos;			/* stream position sent so far */
	uint16_t ipid;
} tap = { .fd = -1, .udp = -1, .lsn = -1, .sock = -1 };

static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/**
 * fail() - Record why a check failed, for the result line
 * @fmt:	printf() format, then its arguments
 *
 * Return: false, for "return fail(...)"
 */
static bool __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

/**
 * result() - Print one KTAP result line
 * @ok:		The test passed
 * @name:	Its name
 */
static void result(bool ok, const char *name)
{
	test_no++;
	if (ok) {
		n_pass++;
		printf("ok %d %s\n", test_no, name);
	} else {
		n_fail++;
		printf("not ok %d %s # %s\n", test_no, name, why);
	}
	fflush(stdout);
}

/**
 * skip() - Print a skipped KTAP result
 * @name:	Test name
 * @reason:	Why it did not run
 */
static void skip(const char *name, const char *reason)
{
	test_no++;
	n_skip++;
	printf("ok %d %s # SKIP %s\n", test_no, name, reason);
	fflush(stdout);
}

/* Byte @pos of the stream every test sends: not periodic below 2^24 */
static uint8_t pattern(uint32_t pos)
{
	uint32_t x = pos * 2654435761U;

	return (uint8_t)(x >> 24 ^ x >> 11 ^ pos >> 16);
}

static void fill(uint8_t *buf, uint32_t pos, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(pos + (uint32_t)i);
}

/**
 * same() - Check a buffer against the pattern
 * @buf:	Bytes read
 * @pos:	Stream position of the first one
 * @len:	How many
 *
 * Return: true if they match, false (with the reason recorded) if not
 */
static bool same(const uint8_t *buf, uint32_t pos, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != pattern(pos + (uint32_t)i))
			return fail("byte at stream position %u is 0x%02x, "
				    "expected 0x%02x (from position %u)",
				    pos + (uint32_t)i, buf[i],
				    pattern(pos + (uint32_t)i), pos);
	}
	return true;
}

/**
 * netns() - Enter a network namespace of our own, loopback up
 *
 * Return: 0 on success, -1 if no namespace could be made
 */
static int netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s;

	if (unshare(CLONE_NEWNET) && unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -1;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		close(s);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		close(s);
		return -1;
	}
	close(s);
	return 0;
}

/* ---- Peek splice ---- */

/**
 * tcp_pair() - A connected TCP pair over loopback
 * @af:		AF_INET or AF_INET6
 * @tx:		Connecting end, set on success
 * @rx:		Accepted end, set on success
 *
 * Return: true on success, false (reason recorded) on failure
 */
static bool tcp_pair(int af, int *tx, int *rx)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)af };
	socklen_t sl = af == AF_INET ? sizeof(struct sockaddr_in) :
				       sizeof(struct sockaddr_in6);
	int l, c, a;

	if (af == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	l = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return fail("socket: %s", strerror(errno));
	if (bind(l, (struct sockaddr *)&ss, sl) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&ss, &sl)) {
		fail("listener: %s", strerror(errno));
		close(l);
		return false;
	}
	c = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&ss, sl)) {
		fail("connect: %s", strerror(errno));
		if (c >= 0)
			close(c);
		close(l);
		return false;
	}
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (a < 0) {
		fail("accept: %s", strerror(errno));
		close(c);
		return false;
	}
	/* A peek must not wait: SPLICE_F_NONBLOCK is for the pipe only */
	if (fcntl(a, F_SETFL, O_NONBLOCK)) {
		fail("O_NONBLOCK: %s", strerror(errno));
		close(c);
		close(a);
		return false;
	}
	*tx = c;
	*rx = a;
	return true;
}

static int set_off(int s, int off)
{
	return setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
}

/**
 * off_is() - Check the offset getsockopt() reports
 * @s:		Socket
 * @want:	Expected offset
 *
 * Return: true if it is @want
 */
static bool off_is(int s, int want)
{
	socklen_t sl = sizeof(int);
	int off = INT_MIN;

	if (getsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off, &sl))
		return fail("getsockopt(SO_PEEK_OFF): %s", strerror(errno));
	if (off != want)
		return fail("SO_PEEK_OFF is %d, expected %d", off, want);
	return true;
}

/**
 * send_pattern() - Send part of the pattern, all of it
 * @s:		Socket
 * @pos:	Stream position of the first byte
 * @len:	Bytes, at most 64 KiB
 *
 * Return: true if all of it went
 */
static bool send_pattern(int s, uint32_t pos, size_t len)
{
	static uint8_t buf[65536];

	fill(buf, pos, len);
	if (send(s, buf, len, 0) != (ssize_t)len)
		return fail("send: %s", strerror(errno));
	return true;
}

/**
 * wait_inq() - Wait until a socket's receive queue holds enough bytes
 * @s:		Socket
 * @n:		Bytes wanted (SIOCINQ)
 *
 * Return: true if they arrived within WAIT_MS
 */
static bool wait_inq(int s, int n)
{
	struct timespec ts = { 0, 1000000 };
	int i, inq = 0;

	for (i = 0; i < WAIT_MS; i++) {
		if (ioctl(s, SIOCINQ, &inq))
			return fail("SIOCINQ: %s", strerror(errno));
		if (inq >= n)
			return true;
		nanosleep(&ts, NULL);
	}
	return fail("%d bytes queued after %d ms, expected %d", inq, WAIT_MS,
		    n);
}

/**
 * peek() - splice() with SPLICE_F_PEEK | SPLICE_F_NONBLOCK
 * @s:		Socket
 * @pipe_w:	Pipe's write end
 * @len:	Bytes to ask for
 *
 * Return: what splice() returns, errno set
 */
static ssize_t peek(int s, int pipe_w, size_t len)
{
	return splice(s, NULL, pipe_w, NULL, len,
		      SPLICE_F_PEEK | SPLICE_F_NONBLOCK);
}

/**
 * pipe_is() - Read a pipe and check its bytes against the pattern
 * @pipe_r:	Pipe's read end
 * @len:	Bytes it must hold, all of them
 * @pos:	Stream position of the first
 *
 * Return: true if the pipe held exactly @len bytes from @pos
 */
static bool pipe_is(int pipe_r, size_t len, uint32_t pos)
{
	static uint8_t buf[1 << 20];
	int inq = -1;
	ssize_t n;

	if (ioctl(pipe_r, FIONREAD, &inq) || inq != (int)len)
		return fail("pipe holds %d bytes, expected %zu", inq, len);
	if (len > sizeof(buf))
		return fail("pipe of %zu bytes: test bug", len);
	n = read(pipe_r, buf, len);
	if (n != (ssize_t)len)
		return fail("pipe read %zd", n);
	return same(buf, pos, len);
}

/**
 * peek_is() - Peek into a pipe, check the count, the bytes and the offset
 * @s:		Socket
 * @p:		Pipe, empty
 * @len:	Bytes to ask for
 * @want:	Bytes expected
 * @pos:	Stream position expected for the first byte
 * @off:	SO_PEEK_OFF expected afterwards
 *
 * Return: true if all is as expected
 */
static bool peek_is(int s, const int p[2], size_t len, ssize_t want,
		    uint32_t pos, int off)
{
	ssize_t n = peek(s, p[1], len);

	if (n != want)
		return fail("peek splice returned %zd (%s), expected %zd", n,
			    n < 0 ? strerror(errno) : "bytes", want);
	return pipe_is(p[0], (size_t)n, pos) && off_is(s, off);
}

/**
 * read_is() - Consume bytes and check them against the pattern
 * @s:		Socket
 * @len:	Bytes to read (all must come)
 * @pos:	Stream position expected for the first byte
 *
 * Return: true if @len bytes from @pos were read
 */
static bool read_is(int s, size_t len, uint32_t pos)
{
	static uint8_t buf[65536];
	ssize_t n;

	if (len > sizeof(buf))
		return fail("read of %zu bytes: test bug", len);
	n = recv(s, buf, len, MSG_DONTWAIT | MSG_WAITALL);
	if (n != (ssize_t)len)
		return fail("read returned %zd (%s), expected %zu", n,
			    n < 0 ? strerror(errno) : "bytes", len);
	return same(buf, pos, len);
}

/* A peek test body: a connected pair and an empty pipe, closed after */
typedef bool (*peek_fn)(int tx, int rx, const int p[2]);

/**
 * run_peek() - Run a peek test on a fresh pair and pipe, print its result
 * @name:	Test name
 * @af:		AF_INET or AF_INET6
 * @fn:		Body
 */
static void run_peek(const char *name, int af, peek_fn fn)
{
	int tx, rx, p[2];
	bool ok = false;

	if (!peek_ok) {
		skip(name, "no SPLICE_F_PEEK in this kernel");
		return;
	}
	why[0] = '\0';
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
		fail("pipe: %s", strerror(errno));
	} else {
		if (tcp_pair(af, &tx, &rx)) {
			ok = fn(tx, rx, p);
			close(tx);
			close(rx);
		}
		close(p[0]);
		close(p[1]);
	}
	result(ok, name);
}

/**
 * probe_peek() - A peek of an idle connected socket: EAGAIN if the kernel
 * has SPLICE_F_PEEK, EINVAL if not
 *
 * Return: true if it has
 */
static bool probe_peek(void)
{
	int tx, rx, p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	if (!tcp_pair(AF_INET, &tx, &rx)) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	n = peek(rx, p[1], 4096);
	if (n < 0 && errno == EAGAIN)
		n = 0;
	else if (n < 0 && errno == EINVAL)
		fail("EINVAL: this kernel has no SPLICE_F_PEEK");
	else
		fail("returned %zd (%s), expected EAGAIN", n,
		     n < 0 ? strerror(errno) : "bytes");
	close(tx);
	close(rx);
	close(p[0]);
	close(p[1]);
	return !n;
}

static bool t_leaves(int tx, int rx, const int p[2])
{
	return send_pattern(tx, 0, 1000) && wait_inq(rx, 1000) &&
	       peek_is(rx, p, 4096, 1000, 0, -1) && wait_inq(rx, 1000) &&
	       read_is(rx, 1000, 0);
}

static bool t_successive(int tx, int rx, const int p[2])
{
	return !set_off(rx, 0) && send_pattern(tx, 0, 3000) &&
	       wait_inq(rx, 3000) && peek_is(rx, p, 1000, 1000, 0, 1000) &&
	       peek_is(rx, p, 1000, 1000, 1000, 2000) &&
	       peek_is(rx, p, 4096, 1000, 2000, 3000) && read_is(rx, 3000, 0);
}

static bool t_head(int tx, int rx, const int p[2])
{
	return send_pattern(tx, 0, 2000) && wait_inq(rx, 2000) &&
	       peek_is(rx, p, 500, 500, 0, -1) &&
	       peek_is(rx, p, 500, 500, 0, -1) && read_is(rx, 2000, 0);
}

static bool t_read_back(int tx, int rx, const int p[2])
{
	return !set_off(rx, 0) && send_pattern(tx, 0, 3000) &&
	       wait_inq(rx, 3000) && peek_is(rx, p, 2000, 2000, 0, 2000) &&
	       read_is(rx, 700, 0) && off_is(rx, 1300) &&
	       peek_is(rx, p, 4096, 1000, 2000, 2300) &&
	       read_is(rx, 2300, 700) && off_is(rx, 0);
}

static bool t_eagain(int tx, int rx, const int p[2])
{
	ssize_t n;

	if (!set_off(rx, 0) && send_pattern(tx, 0, 100) &&
	    wait_inq(rx, 100) && peek_is(rx, p, 4096, 100, 0, 100)) {
		n = peek(rx, p[1], 4096);
		if (n >= 0 || errno != EAGAIN)
			return fail("peek at the end returned %zd (%s)", n,
				    n < 0 ? strerror(errno) : "bytes");
		if (set_off(rx, INT_MAX))
			return fail("SO_PEEK_OFF INT_MAX: %s",
				    strerror(errno));
		n = peek(rx, p[1], 4096);
		if (n >= 0 || errno != EAGAIN)
			return fail("peek at INT_MAX returned %zd (%s)", n,
				    n < 0 ? strerror(errno) : "bytes");
		return off_is(rx, INT_MAX) && read_is(rx, 100, 0);
	}
	return false;
}

static bool t_eof(int tx, int rx, const int p[2])
{
	struct timespec ts = { 0, 50000000 };

	if (!set_off(rx, 0) && send_pattern(tx, 0, 100) && !shutdown(tx,
	    SHUT_WR) && wait_inq(rx, 100) && !nanosleep(&ts, NULL) &&
	    peek_is(rx, p, 4096, 100, 0, 100) &&
	    peek_is(rx, p, 4096, 0, 0, 100) && read_is(rx, 100, 0))
		return peek_is(rx, p, 4096, 0, 0, 0);
	return false;
}

static bool t_pipe_full(int tx, int rx, const int p[2])
{
	ssize_t n;

	if (fcntl(p[1], F_SETPIPE_SZ, 4096) < 0)
		return fail("F_SETPIPE_SZ: %s", strerror(errno));
	if (!set_off(rx, 0) && send_pattern(tx, 0, 65536) &&
	    wait_inq(rx, 65536)) {
		n = peek(rx, p[1], 65536);
		if (n <= 0 || n >= 65536)
			return fail("peek into a one-page pipe returned %zd",
				    n);
		printf("# one-page pipe: peek of 65536 returned %zd\n", n);
		return off_is(rx, (int)n) && pipe_is(p[0], (size_t)n, 0) &&
		       peek_is(rx, p, 1000, 1000, (uint32_t)n, (int)n + 1000);
	}
	return false;
}

static bool t_outlive(int tx, int rx, const int p[2])
{
	static uint8_t junk[65536];
	ssize_t n;

	if (fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0)
		return fail("F_SETPIPE_SZ: %s", strerror(errno));
	if (!(send_pattern(tx, 0, 32768) && wait_inq(rx, 32768)))
		return false;
	n = peek(rx, p[1], 32768);
	if (n != 32768)
		return fail("peek returned %zd", n);
	n = recv(rx, NULL, 32768, MSG_TRUNC | MSG_DONTWAIT);
	if (n != 32768)
		return fail("recv(MSG_TRUNC) returned %zd", n);
	/* New data through the same socket, into freed memory if reused */
	memset(junk, 0x5a, sizeof(junk));
	if (send(tx, junk, sizeof(junk), 0) != sizeof(junk) ||
	    !wait_inq(rx, sizeof(junk)) ||
	    recv(rx, junk, sizeof(junk), MSG_WAITALL) != sizeof(junk))
		return fail("second transfer failed");
	return pipe_is(p[0], 32768, 0);
}

static bool t_blocking(int tx, int rx, const int p[2])
{
	struct timeval tv = { 2, 0 };
	pid_t pid;
	int st;
	ssize_t n;

	if (!(!set_off(rx, 0) && send_pattern(tx, 0, 100) &&
	      wait_inq(rx, 100) && peek_is(rx, p, 4096, 100, 0, 100)))
		return false;
	if (setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    fcntl(rx, F_SETFL, 0))
		return fail("blocking socket: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	if (!pid) {
		struct timespec ts = { 0, 100000000 };

		nanosleep(&ts, NULL);
		_exit(send_pattern(tx, 100, 200) ? 0 : 1);
	}
	/* Blocking on the socket, the pipe has room */
	n = splice(rx, NULL, p[1], NULL, 4096, SPLICE_F_PEEK);
	waitpid(pid, &st, 0);
	if (n <= 0)
		return fail("blocking peek returned %zd (%s)", n,
			    n < 0 ? strerror(errno) : "EOF");
	if (!pipe_is(p[0], (size_t)n, 100) || !off_is(rx, 100 + (int)n) ||
	    !wait_inq(rx, 300))
		return false;
	/* Blocking, more data than asked for: exactly what was asked */
	if (set_off(rx, 0))
		return fail("SO_PEEK_OFF 0: %s", strerror(errno));
	n = splice(rx, NULL, p[1], NULL, 150, SPLICE_F_PEEK);
	if (n != 150)
		return fail("blocking peek of 150 of 300 returned %zd", n);
	return pipe_is(p[0], 150, 0) && off_is(rx, 150);
}

/**
 * einval() - Check that a splice() with SPLICE_F_PEEK fails with EINVAL
 * @in:		Source
 * @out:	Destination
 * @what:	What is spliced, for the reason
 *
 * Return: true if it failed with EINVAL
 */
static bool einval(int in, int out, const char *what)
{
	ssize_t n = splice(in, NULL, out, NULL, 4096,
			   SPLICE_F_PEEK | SPLICE_F_NONBLOCK);

	if (n >= 0 || errno != EINVAL)
		return fail("%s: splice returned %zd (%s), expected EINVAL",
			    what, n, n < 0 ? strerror(errno) : "bytes");
	return true;
}

static bool t_einval_udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int s, p[2];
	bool ok = false;
	char c;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || pipe2(p, O_CLOEXEC))
		return fail("socket, pipe: %s", strerror(errno));
	if (bind(s, (struct sockaddr *)&a, sl) ||
	    getsockname(s, (struct sockaddr *)&a, &sl) ||
	    connect(s, (struct sockaddr *)&a, sl) || send(s, "x", 1, 0) != 1)
		fail("UDP: %s", strerror(errno));
	else if (einval(s, p[1], "UDP"))
		ok = recv(s, &c, 1, MSG_DONTWAIT) == 1 ||
		     fail("the datagram is gone");
	close(s);
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_einval_unix(void)
{
	int sv[2], p[2];
	bool ok = false;
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    pipe2(p, O_CLOEXEC))
		return fail("socketpair, pipe: %s", strerror(errno));
	if (send(sv[0], "x", 1, 0) != 1)
		fail("send: %s", strerror(errno));
	else if (einval(sv[1], p[1], "AF_UNIX"))
		ok = recv(sv[1], &c, 1, MSG_DONTWAIT) == 1 ||
		     fail("the byte is gone");
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_einval_file(void)
{
	char name[] = "/tmp/tap_splice.XXXXXX";
	int f, p[2], q[2];
	struct iovec iov = { .iov_base = name, .iov_len = 4 };
	bool ok = false;

	f = mkstemp(name);
	if (f < 0 || pipe2(p, O_CLOEXEC) || pipe2(q, O_CLOEXEC))
		return fail("mkstemp, pipe: %s", strerror(errno));
	unlink(name);
	if (write(f, "data", 4) != 4 || lseek(f, 0, SEEK_SET))
		fail("file: %s", strerror(errno));
	else if (einval(f, p[1], "regular file") &&
		 write(q[1], "x", 1) == 1 && einval(q[0], p[1], "pipe") &&
		 einval(q[0], f, "pipe to file")) {
		if (vmsplice(p[1], &iov, 1, SPLICE_F_PEEK) >= 0 ||
		    errno != EINVAL)
			fail("vmsplice took SPLICE_F_PEEK");
		else if (tee(q[0], p[1], 1, SPLICE_F_PEEK) >= 0 ||
			 errno != EINVAL)
			fail("tee took SPLICE_F_PEEK");
		else
			ok = true;
	}
	close(f);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	return ok;
}

/* ---- Frames ---- */

/* One's complement sum of @len bytes, folded, not inverted */
static uint32_t sum16(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

#define VNET_LEN	sizeof(struct virtio_net_hdr)
#define ETH_LEN		14
#define IP_LEN		20
#define L3_OFF		(VNET_LEN + ETH_LEN)
#define L4_OFF		(L3_OFF + IP_LEN)

/**
 * frame_hdr() - virtio-net, Ethernet and IPv4 headers, 192.0.2.2 to .1
 * @f:		Frame buffer
 * @proto:	IPPROTO_UDP or IPPROTO_TCP
 * @l4len:	Transport header and payload bytes
 */
static void frame_hdr(uint8_t *f, uint8_t proto, size_t l4len)
{
	uint8_t *ip = f + L3_OFF;

	memset(f, 0, L4_OFF);
	memcpy(f + VNET_LEN, tap.mac, 6);
	memcpy(f + VNET_LEN + 6, peer_mac, 6);
	put16(f + VNET_LEN + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_LEN + l4len));
	put16(ip + 4, tap.ipid++);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, 0xc0000202);	/* 192.0.2.2 */
	put32(ip + 16, 0xc0000201);	/* 192.0.2.1 */
	put16(ip + 10, (uint16_t)~sum16(ip, IP_LEN, 0));
}

/* The pseudo-header sum of the frame's IPv4 header, for @l4len bytes */
static uint32_t pseudo(const uint8_t *f, size_t l4len)
{
	uint32_t sum = sum16(f + L3_OFF + 12, 8, 0);

	return sum16(NULL, 0, sum + f[L3_OFF + 9] + (uint32_t)l4len);
}

/**
 * udp_frame() - A whole UDP frame to 192.0.2.1:PORT_UDP
 * @f:		Frame buffer
 * @pos:	Pattern position of the payload
 * @plen:	Payload bytes
 *
 * Return: frame length, virtio-net header included
 */
static size_t udp_frame(uint8_t *f, uint32_t pos, size_t plen)
{
	uint8_t *u = f + L4_OFF;
	uint16_t c;

	frame_hdr(f, IPPROTO_UDP, 8 + plen);
	put16(u, PORT_PEER);
	put16(u + 2, PORT_UDP);
	put16(u + 4, (uint16_t)(8 + plen));
	put16(u + 6, 0);
	fill(u + 8, pos, plen);
	c = (uint16_t)~sum16(u, 8 + plen, pseudo(f, 8 + plen));
	put16(u + 6, c ? c : 0xffff);
	return L4_OFF + 8 + plen;
}

/**
 * tcp_hdr() - Headers of a TCP segment of ours on the connection
 * @f:		Frame buffer, at least L4_OFF + 24 bytes
 * @plen:	Payload bytes (which follow the headers in the frame)
 * @flags:	TCP flags
 * @gso:	Mark NEEDS_CSUM, and GSO TCPV4 with MSS when @plen > MSS
 *
 * The checksum: with @gso, the pseudo-header sum (CHECKSUM_PARTIAL), else
 * left for tcp_csum() once the payload is in place.
 *
 * Return: header bytes, virtio-net header included
 */
static size_t tcp_hdr(uint8_t *f, size_t plen, uint8_t flags, bool gso)
{
	struct virtio_net_hdr *v = (struct virtio_net_hdr *)f;
	size_t thl = flags & 0x02 ? 24 : 20;
	uint8_t *t = f + L4_OFF;

	frame_hdr(f, IPPROTO_TCP, thl + plen);
	memset(t, 0, thl);
	put16(t, PORT_PEER);
	put16(t + 2, PORT_TCP);
	put32(t + 4, tap.snd_nxt);
	put32(t + 8, flags & 0x10 ? tap.rcv_nxt : 0);
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = flags;
	put16(t + 14, 65535);
	if (thl == 24) {		/* MSS option on the SYN */
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, 1460);
	}
	if (gso) {
		v->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		v->csum_start = L4_OFF - VNET_LEN;
		v->csum_offset = 16;
		v->hdr_len = (uint16_t)(L4_OFF - VNET_LEN + thl);
		if (plen > MSS) {
			v->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
			v->gso_size = MSS;
		}
		put16(t + 16, (uint16_t)pseudo(f, thl + plen));
	}
	return L4_OFF + thl;
}

/* The full TCP checksum of a frame whose payload follows its headers */
static void tcp_csum(uint8_t *f, size_t hlen, size_t plen)
{
	size_t l4 = hlen - L4_OFF + plen;

	put16(f + L4_OFF + 16, 0);
	put16(f + L4_OFF + 16,
	      (uint16_t)~sum16(f + L4_OFF, l4, pseudo(f, l4)));
}

/**
 * tap_open() - The tap in this namespace, up, 192.0.2.1/24, ARP entry
 *
 * Return: true on success
 */
static bool tap_open(void)
{
	struct ifreq ifr = { .ifr_name = TAP_NAME };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	struct arpreq ar = { 0 };
	int s;

	tap.fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap.fd < 0)
		return fail("/dev/net/tun: %s", strerror(errno));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(tap.fd, TUNSETIFF, &ifr))
		return fail("TUNSETIFF: %s", strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail("socket: %s", strerror(errno));
	if (ioctl(s, SIOCGIFHWADDR, &ifr)) {
		close(s);
		return fail("SIOCGIFHWADDR: %s", strerror(errno));
	}
	memcpy(tap.mac, ifr.ifr_hwaddr.sa_data, 6);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0xc0000201);
	if (ioctl(s, SIOCSIFADDR, &ifr))
		goto err;
	sin->sin_addr.s_addr = htonl(0xffffff00);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) || ioctl(s, SIOCGIFFLAGS, &ifr))
		goto err;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		goto err;
	sin = (struct sockaddr_in *)&ar.arp_pa;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0xc0000202);
	ar.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(ar.arp_ha.sa_data, peer_mac, 6);
	ar.arp_flags = ATF_PERM | ATF_COM;
	strcpy(ar.arp_dev, TAP_NAME);
	if (ioctl(s, SIOCSARP, &ar))
		goto err;
	close(s);
	return true;
err:
	fail("tap set-up: %s", strerror(errno));
	close(s);
	return false;
}

/**
 * bound() - A socket bound to 192.0.2.1:@port
 * @type:	SOCK_DGRAM or SOCK_STREAM (then listening)
 * @port:	Port
 *
 * Return: the socket, -1 on failure
 */
static int bound(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(0xc0000201) };
	int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) ||
	    (type == SOCK_STREAM && listen(s, 1))) {
		fail("socket on port %u: %s", port, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/**
 * probe_tap() - splice() into the tap: EAGAIN from an empty pipe with
 * SPLICE_F_NONBLOCK if the kernel has tun splice_write, EINVAL if not
 *
 * Return: true if it has
 */
static bool probe_tap(void)
{
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	n = splice(p[0], NULL, tap.fd, NULL, 4096, SPLICE_F_NONBLOCK);
	if (n < 0 && errno == EAGAIN)
		n = 0;
	else if (n < 0 && errno == EINVAL)
		fail("EINVAL: this kernel has no splice_write for tun");
	else
		fail("returned %zd (%s), expected EAGAIN", n,
		     n < 0 ? strerror(errno) : "bytes");
	close(p[0]);
	close(p[1]);
	return !n;
}

/**
 * to_tap() - Splice a whole frame from a pipe into the tap
 * @pipe_r:	Pipe's read end, holding the frame
 * @len:	Frame length
 *
 * Return: true if splice() took it all and the pipe is empty
 */
static bool to_tap(int pipe_r, size_t len)
{
	ssize_t n = splice(pipe_r, NULL, tap.fd, NULL, len,
			   SPLICE_F_NONBLOCK);
	int inq = -1;

	if (n != (ssize_t)len)
		return fail("splice into the tap returned %zd (%s), "
			    "expected %zu", n,
			    n < 0 ? strerror(errno) : "bytes", len);
	if (ioctl(pipe_r, FIONREAD, &inq) || inq)
		return fail("%d bytes left in the pipe", inq);
	return true;
}

/* Receive exactly @len bytes of a datagram on the UDP socket, check them */
static bool udp_is(size_t len, uint32_t pos)
{
	static uint8_t buf[65536];
	struct pollfd pfd = { .fd = tap.udp, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, WAIT_MS) != 1)
		return fail("no datagram within %d ms", WAIT_MS);
	n = recv(tap.udp, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)len)
		return fail("datagram of %zd bytes, expected %zu", n, len);
	return same(buf, pos, len);
}

static bool t_udp_same(void)
{
	static uint8_t f[2048];
	size_t len = udp_frame(f, 0, 1400);
	int p[2];
	bool ok;

	if (write(tap.fd, f, len) != (ssize_t)len)
		return fail("write of the frame: %s", strerror(errno));
	if (!udp_is(1400, 0))
		return false;
	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	ok = write(p[1], f, len) == (ssize_t)len && to_tap(p[0], len) &&
	     udp_is(1400, 0);
	close(p[0]);
	close(p[1]);
	return ok;
}

/**
 * tap_frame() - Read frames from the tap until a TCP segment to us
 * @buf:	Buffer, 65536 + VNET_LEN bytes
 *
 * Return: the TCP header in @buf, NULL if none came within WAIT_MS
 */
static const uint8_t *tap_frame(uint8_t *buf)
{
	struct pollfd pfd = { .fd = tap.fd, .events = POLLIN };
	const uint8_t *ip = buf + L3_OFF;
	ssize_t n;
	int i;

	for (i = 0; i < 100; i++) {
		if (poll(&pfd, 1, WAIT_MS) != 1)
			break;
		n = read(tap.fd, buf, 65536 + VNET_LEN);
		if (n < (ssize_t)(L4_OFF + 20) || buf[VNET_LEN + 12] != 0x08 ||
		    buf[VNET_LEN + 13] != 0 || ip[9] != IPPROTO_TCP ||
		    get32(ip + 16) != 0xc0000202)
			continue;
		return buf + L3_OFF + (ip[0] & 0xf) * 4;
	}
	return NULL;
}

static bool t_handshake(void)
{
	static uint8_t buf[65536 + VNET_LEN];
	struct pollfd pfd;
	const uint8_t *t;
	size_t len;

	tap.snd_nxt = ISS;
	len = tcp_hdr(buf, 0, 0x02, false);
	tcp_csum(buf, len, 0);
	if (write(tap.fd, buf, len) != (ssize_t)len)
		return fail("write of the SYN: %s", strerror(errno));
	t = tap_frame(buf);
	if (!t || t[13] != 0x12 || get32(t + 8) != ISS + 1)
		return fail("no SYN-ACK");
	if ((t[14] << 8 | t[15]) < GSO_BYTES)
		return fail("SYN-ACK window %u", t[14] << 8 | t[15]);
	tap.rcv_nxt = get32(t + 4) + 1;
	tap.snd_nxt = ISS + 1;
	len = tcp_hdr(buf, 0, 0x10, false);
	tcp_csum(buf, len, 0);
	if (write(tap.fd, buf, len) != (ssize_t)len)
		return fail("write of the ACK: %s", strerror(errno));
	pfd.fd = tap.lsn;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, WAIT_MS) != 1)
		return fail("no connection to accept");
	tap.sock = accept4(tap.lsn, NULL, NULL, SOCK_CLOEXEC);
	if (tap.sock < 0)
		return fail("accept: %s", strerror(errno));
	return true;
}

/* Receive @len bytes of the stream on the accepted socket, check them */
static bool stream_is(size_t len)
{
	struct timeval tv = { WAIT_MS / 1000, 0 };
	static uint8_t buf[1 << 17];
	ssize_t n;

	setsockopt(tap.sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(tap.sock, buf, len, MSG_WAITALL);
	if (n != (ssize_t)len)
		return fail("received %zd of %zu bytes (%s)", n, len,
			    n < 0 ? strerror(errno) : "short");
	if (!same(buf, tap.pos, len))
		return false;
	tap.pos += (uint32_t)len;
	return true;
}

/**
 * segment() - Headers and payload of the next segment, the stream's bytes
 * @f:		Buffer for the whole frame
 * @plen:	Payload bytes
 * @gso:	NEEDS_CSUM (and GSO above MSS), else a full checksum
 * @hlen:	Header bytes, set
 *
 * Return: frame length
 */
static size_t segment(uint8_t *f, size_t plen, bool gso, size_t *hlen)
{
	*hlen = tcp_hdr(f, plen, 0x18, gso);
	fill(f + *hlen, tap.pos, plen);
	if (!gso)
		tcp_csum(f, *hlen, plen);
	tap.snd_nxt += (uint32_t)plen;
	return *hlen + plen;
}

static bool t_tcp_same(void)
{
	static uint8_t f[4096];
	size_t hlen, len;
	int p[2];
	bool ok;

	len = segment(f, 1000, false, &hlen);
	if (write(tap.fd, f, len) != (ssize_t)len)
		return fail("write of the segment: %s", strerror(errno));
	if (!stream_is(1000))
		return false;
	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	len = segment(f, 1000, false, &hlen);
	ok = write(p[1], f, len) == (ssize_t)len && to_tap(p[0], len) &&
	     stream_is(1000);
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_gso(void)
{
	static uint8_t f[GSO_BYTES + 128];
	size_t hlen, len;
	int p[2];
	bool ok;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	len = segment(f, GSO_BYTES, true, &hlen);
	ok = write(p[1], f, len) == (ssize_t)len && to_tap(p[0], len) &&
	     stream_is(GSO_BYTES);
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_split_hdr(void)
{
	static uint8_t f[2048];
	struct iovec iov[2];
	size_t hlen, len;
	int p[2];
	bool ok;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	len = segment(f, 1400, false, &hlen);
	iov[0].iov_base = f;
	iov[0].iov_len = 30;		/* into the Ethernet header */
	iov[1].iov_base = f + 30;
	iov[1].iov_len = len - 30;
	ok = vmsplice(p[1], iov, 2, 0) == (ssize_t)len && to_tap(p[0], len) &&
	     stream_is(1400);
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_pieces(void)
{
	static uint8_t f[PIECES * PIECE_BYTES + 128];
	struct iovec iov[PIECES + 1];
	size_t hlen, len, i;
	ssize_t n;
	int p[2];
	bool ok;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	if (fcntl(p[1], F_SETPIPE_SZ, 64 * 4096) < 0) {
		close(p[0]);
		close(p[1]);
		return fail("F_SETPIPE_SZ: %s", strerror(errno));
	}
	len = segment(f, PIECES * PIECE_BYTES, true, &hlen);
	iov[0].iov_base = f;
	iov[0].iov_len = hlen;
	for (i = 0; i < PIECES; i++) {
		iov[i + 1].iov_base = f + hlen + i * PIECE_BYTES;
		iov[i + 1].iov_len = PIECE_BYTES;
	}
	n = vmsplice(p[1], iov, PIECES + 1, 0);
	ok = n == (ssize_t)len && to_tap(p[0], len) &&
	     stream_is(PIECES * PIECE_BYTES);
	if (n != (ssize_t)len)
		fail("vmsplice returned %zd", n);
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_bad_vnet(void)
{
	static uint8_t f[2048];
	struct virtio_net_hdr *v = (struct virtio_net_hdr *)f;
	size_t len = udp_frame(f, 0, 1400);
	int p[2], inq = -1;
	ssize_t n, m;
	bool ok = false;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	/* Shorter than the virtio-net header */
	if (write(p[1], f, 5) != 5)
		goto out;
	n = splice(p[0], NULL, tap.fd, NULL, 5, SPLICE_F_NONBLOCK);
	/* An unknown GSO type */
	v->gso_type = 0x55;
	v->gso_size = 1000;
	if (write(p[1], f, len) != (ssize_t)len)
		goto out;
	m = splice(p[0], NULL, tap.fd, NULL, len, SPLICE_F_NONBLOCK);
	if (n >= 0 || m >= 0)
		fail("bad frames: splice returned %zd and %zd", n, m);
	else if (ioctl(p[0], FIONREAD, &inq) || inq)
		fail("%d bytes left in the pipe", inq);
	else
		ok = true;
out:
	if (!ok && !why[0])
		fail("write: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_eagain_tap(void)
{
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	n = splice(p[0], NULL, tap.fd, NULL, 1500, SPLICE_F_NONBLOCK);
	close(p[0]);
	close(p[1]);
	if (n >= 0 || errno != EAGAIN)
		return fail("empty pipe: splice returned %zd (%s)", n,
			    n < 0 ? strerror(errno) : "bytes");
	return true;
}

/* MemAvailable from /proc/meminfo, in KiB, -1 if not found */
static long mem_available(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/**
 * leak_run() - Frames from a pipe to the UDP socket, each received
 * @count:	How many
 *
 * Return: true if every one arrived intact
 */
static bool leak_run(int count)
{
	static uint8_t f[2048];
	size_t len = udp_frame(f, 0, 1400);
	int i, p[2];
	bool ok = true;

	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	for (i = 0; i < count && ok; i++) {
		ok = write(p[1], f, len) == (ssize_t)len &&
		     to_tap(p[0], len) && udp_is(1400, 0);
		if (!ok && !why[0])
			fail("frame %d: write: %s", i, strerror(errno));
	}
	close(p[0]);
	close(p[1]);
	return ok;
}

static bool t_leak(void)
{
	long before, after;

	if (!leak_run(LEAK_WARMUP))
		return false;
	before = mem_available();
	if (!leak_run(LEAK_FRAMES))
		return false;
	after = mem_available();
	printf("# MemAvailable %ld kB before %d frames, %ld kB after\n",
	       before, LEAK_FRAMES, after);
	if (before < 0 || after < 0)
		return fail("no MemAvailable in /proc/meminfo");
	if (before - after > LEAK_MAX_KB)
		return fail("%ld KiB lost over %d frames", before - after,
			    LEAK_FRAMES);
	return true;
}

static bool t_combined(void)
{
	int tx, rx, pp[2] = { -1, -1 }, ph[2] = { -1, -1 };
	static uint8_t h[128];
	size_t hlen, m;
	ssize_t n;
	bool ok = false;

	if (!tcp_pair(AF_INET, &tx, &rx))
		return false;
	if (pipe2(pp, O_CLOEXEC) || pipe2(ph, O_CLOEXEC) ||
	    fcntl(ph[1], F_SETPIPE_SZ, 32 * 4096) < 0) {
		fail("pipes: %s", strerror(errno));
		goto out;
	}
	/* The loopback pair carries the tap stream's next bytes */
	if (set_off(rx, 0) || !send_pattern(tx, tap.pos, 32768) ||
	    !wait_inq(rx, 32768))
		goto out;
	n = peek(rx, pp[1], 32768);
	if (n <= 0) {
		fail("peek splice returned %zd (%s)", n,
		     n < 0 ? strerror(errno) : "EOF");
		goto out;
	}
	m = (size_t)n;
	hlen = tcp_hdr(h, m, 0x18, true);
	tap.snd_nxt += (uint32_t)m;
	if (write(ph[1], h, hlen) != (ssize_t)hlen) {
		fail("headers to H: %s", strerror(errno));
		goto out;
	}
	n = splice(pp[0], NULL, ph[1], NULL, m, SPLICE_F_NONBLOCK);
	if (n != (ssize_t)m) {
		fail("P to H returned %zd (%s), expected %zu", n,
		     n < 0 ? strerror(errno) : "bytes", m);
		goto out;
	}
	ok = to_tap(ph[0], hlen + m) && stream_is(m) && off_is(rx, (int)m) &&
	     read_is(rx, m, tap.pos - (uint32_t)m);
out:
	close(tx);
	close(rx);
	close(pp[0]);
	close(pp[1]);
	close(ph[0]);
	close(ph[1]);
	return ok;
}

/* A tap test body */
typedef bool (*tap_fn)(void);

/**
 * run_tap() - Run a tap test and print its result
 * @name:	Test name
 * @fn:		Body
 * @conn:	It needs the connection made by hand
 * @peek:	It needs SPLICE_F_PEEK too
 */
static void run_tap(const char *name, tap_fn fn, bool conn, bool peek)
{
	if (!tap_ok) {
		skip(name, "no splice_write for tun in this kernel");
		return;
	}
	if (peek && !peek_ok) {
		skip(name, "no SPLICE_F_PEEK in this kernel");
		return;
	}
	if (conn && tap.sock < 0) {
		skip(name, "no TCP connection over the tap");
		return;
	}
	why[0] = '\0';
	result(fn(), name);
}

int main(void)
{
	printf("KTAP version 1\n1..%d\n", NTESTS);
	if (netns()) {
		printf("# no network namespace: %s\n", strerror(errno));
		for (test_no = 0; test_no < NTESTS; )
			skip("tap_splice", "no network namespace");
		return KSFT_SKIP;
	}
	why[0] = '\0';
	peek_ok = probe_peek();
	result(peek_ok, "SPLICE_F_PEEK: EAGAIN on an idle TCP socket");
	run_peek("peek leaves the data for recv()", AF_INET, t_leaves);
	run_peek("SO_PEEK_OFF 0: successive peeks, offset advanced",
		 AF_INET, t_successive);
	run_peek("SO_PEEK_OFF -1: every peek from the head", AF_INET,
		 t_head);
	run_peek("a consuming recv() moves the offset back", AF_INET,
		 t_read_back);
	run_peek("EAGAIN past the data, and at offset INT_MAX", AF_INET,
		 t_eagain);
	run_peek("0 at EOF only with no data past the offset", AF_INET,
		 t_eof);
	run_peek("pipe full: short count, offset advanced by it", AF_INET,
		 t_pipe_full);
	run_peek("pipe pages intact after recv(MSG_TRUNC) of the data",
		 AF_INET, t_outlive);
	run_peek("blocking peek waits for data past the offset", AF_INET,
		 t_blocking);
	run_peek("IPv6: successive peeks, offset advanced", AF_INET6,
		 t_successive);
	if (peek_ok) {
		why[0] = '\0';
		result(t_einval_udp(), "EINVAL on UDP, datagram kept");
		why[0] = '\0';
		result(t_einval_unix(), "EINVAL on AF_UNIX, data kept");
		why[0] = '\0';
		result(t_einval_file(),
		       "EINVAL: file, pipe, to file, vmsplice, tee");
	} else {
		skip("EINVAL on UDP, datagram kept", "no SPLICE_F_PEEK");
		skip("EINVAL on AF_UNIX, data kept", "no SPLICE_F_PEEK");
		skip("EINVAL: file, pipe, to file, vmsplice, tee",
		     "no SPLICE_F_PEEK");
	}

	why[0] = '\0';
	if (!tap_open() || (tap.udp = bound(SOCK_DGRAM, PORT_UDP)) < 0 ||
	    (tap.lsn = bound(SOCK_STREAM, PORT_TCP)) < 0) {
		result(false, "tun splice_write: EAGAIN from an empty pipe");
	} else {
		tap_ok = probe_tap();
		result(tap_ok, "tun splice_write: EAGAIN from an empty pipe");
	}
	run_tap("UDP: spliced frame arrives as written", t_udp_same, false,
		false);
	run_tap("TCP handshake by hand over the tap", t_handshake, false,
		false);
	run_tap("TCP: 60 KiB GSO TCPV4 NEEDS_CSUM frame delivered", t_gso,
		true, false);
	run_tap("TCP: spliced segment arrives as written", t_tcp_same, true,
		false);
	run_tap("header split across two pipe buffers", t_split_hdr, true,
		false);
	run_tap("41 pipe buffers (> MAX_SKB_FRAGS) in one frame", t_pieces,
		true, false);
	run_tap("bad virtio-net header: EINVAL, frame out of the pipe",
		t_bad_vnet, false, false);
	run_tap("empty pipe, SPLICE_F_NONBLOCK: EAGAIN", t_eagain_tap, false,
		false);
	run_tap("no page leak over 10000 frames", t_leak, false, false);
	run_tap("peek splice to P, headers to H, P to H, H to the tap",
		t_combined, true, true);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       n_pass, n_fail, n_skip);
	if (n_fail)
		return KSFT_FAIL;
	return n_pass ? KSFT_PASS : KSFT_SKIP;
}
