/* contrib/kernel/tests/peek_off.c - functional test of TCP SO_PEEK_OFF, KTAP
 *
 * Theory of operation
 * Runs in a network namespace of its own (unshare(CLONE_NEWNET), or with a
 * user namespace too when not privileged) with only the loopback device
 * up: every connection is 127.0.0.1 or ::1 to an ephemeral port. Each
 * test builds a connected pair (listener, connect(), accept()), writes a
 * known pattern on one end and checks what MSG_PEEK, plain reads,
 * MSG_TRUNC and splice() see on the other, and what getsockopt() says
 * the offset is. The semantics checked are those of socket(7): the
 * offset is advanced by peeks, moved back by reads that consume, -1 (the
 * default) disables it, and it belongs to one socket.
 *
 * A kernel without SO_PEEK_OFF for TCP fails the first test (the option
 * accepted) and skips those that need it; the test of plain MSG_PEEK runs
 * either way. Every wait is bounded (poll() timeouts, a deadline for the
 * transfer), the sender of the transfer is a child that is waited for.
 *
 * Build: gcc -static -O2 -Wall -Wextra -Werror -o peek_off peek_off.c
 * Exit status: 0 all passed, 1 a failure, 4 (KSFT_SKIP) nothing ran.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

#define NTESTS		17
#define WAIT_MS		2000		/* for data to arrive */
#define XFER_BYTES	(4U << 20)	/* the integrity transfer */
#define XFER_SECONDS	60		/* its deadline */
#define XFER_STEPS	2000000		/* and its bound on steps */

static int test_no;
static int n_pass, n_fail, n_skip;
static bool peek_off_ok;		/* the kernel takes SO_PEEK_OFF */
static char why[256];			/* reason of the last failure */

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
 * send_pattern() - Send part of the pattern
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
 * wait_acked() - Wait until the peer acknowledged all a socket sent
 * @s:		Socket
 *
 * SIOCINQ of the receiver stops at an urgent mark: this is how to know
 * that data beyond one arrived.
 *
 * Return: true if SIOCOUTQ fell to 0 within WAIT_MS
 */
static bool wait_acked(int s)
{
	struct timespec ts = { 0, 1000000 };
	int i, outq = 0;

	for (i = 0; i < WAIT_MS; i++) {
		if (ioctl(s, SIOCOUTQ, &outq))
			return fail("SIOCOUTQ: %s", strerror(errno));
		if (!outq)
			return true;
		nanosleep(&ts, NULL);
	}
	return fail("%d bytes unacknowledged after %d ms", outq, WAIT_MS);
}

/**
 * peek_is() - Peek and check the bytes against the pattern
 * @s:		Socket
 * @len:	Bytes to ask for
 * @want:	Bytes expected (0: EOF; -1: EAGAIN)
 * @pos:	Stream position expected for the first byte
 *
 * Return: true if the peek returned @want bytes from @pos
 */
static bool peek_is(int s, size_t len, ssize_t want, uint32_t pos)
{
	uint8_t buf[256];
	ssize_t n;

	if (len > sizeof(buf))
		return fail("peek of %zu bytes: test bug", len);
	n = recv(s, buf, len, MSG_PEEK | MSG_DONTWAIT);
	if (want < 0) {
		if (n < 0 && errno == EAGAIN)
			return true;
		return fail("peek returned %zd (%s), expected EAGAIN", n,
			    n < 0 ? strerror(errno) : "data");
	}
	if (n != want)
		return fail("peek returned %zd (%s), expected %zd", n,
			    n < 0 ? strerror(errno) : "bytes", want);
	return same(buf, pos, (size_t)n);
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
	uint8_t buf[256];
	ssize_t n;

	if (len > sizeof(buf))
		return fail("read of %zu bytes: test bug", len);
	n = recv(s, buf, len, MSG_DONTWAIT);
	if (n != (ssize_t)len)
		return fail("read returned %zd (%s), expected %zu", n,
			    n < 0 ? strerror(errno) : "bytes", len);
	return same(buf, pos, len);
}

/* A test body: a connected pair to use, closed by the caller */
typedef bool (*test_fn)(int tx, int rx);

/**
 * on_af() - Run a test body on a fresh pair of a given family
 * @af:		AF_INET or AF_INET6
 * @fn:		Body
 *
 * Return: what the body returns
 */
static bool on_af(int af, test_fn fn)
{
	int tx, rx;
	bool ok;

	if (!tcp_pair(af, &tx, &rx))
		return false;
	ok = fn(tx, rx);
	close(tx);
	close(rx);
	return ok;
}

/**
 * run() - Run one test on a fresh IPv4 pair and print its result
 * @name:	Test name
 * @fn:		Body
 * @needs:	It needs SO_PEEK_OFF (skipped without)
 */
static void run(const char *name, test_fn fn, bool needs)
{
	if (needs && !peek_off_ok) {
		skip(name, "no SO_PEEK_OFF for TCP in this kernel");
		return;
	}
	why[0] = '\0';
	result(on_af(AF_INET, fn), name);
}

/**
 * accepted() - SO_PEEK_OFF is accepted on a TCP socket of a family
 * @af:		AF_INET or AF_INET6
 *
 * Return: true if setsockopt() succeeded on a connected socket
 */
static bool accepted(int af)
{
	int tx, rx;
	bool ok;

	if (!tcp_pair(af, &tx, &rx))
		return false;
	ok = !set_off(rx, 0);
	if (!ok)
		fail("setsockopt(SO_PEEK_OFF, 0): %s%s", strerror(errno),
		     errno == EOPNOTSUPP ?
		     " (this kernel has no SO_PEEK_OFF for TCP)" : "");
	close(tx);
	close(rx);
	return ok;
}

/* The offset starts disabled (-1), and reads back as set */
static bool t_getsockopt(int tx, int rx)
{
	(void)tx;
	if (!off_is(rx, -1))
		return false;
	if (set_off(rx, 7))
		return fail("setsockopt(SO_PEEK_OFF, 7): %s", strerror(errno));
	if (!off_is(rx, 7))
		return false;
	if (set_off(rx, 0))
		return fail("setsockopt(SO_PEEK_OFF, 0): %s", strerror(errno));
	return off_is(rx, 0);
}

/* Without the option MSG_PEEK reads from the start every time */
static bool t_plain_peek(int tx, int rx)
{
	return send_pattern(tx, 0, 100) && wait_inq(rx, 100) &&
	       peek_is(rx, 40, 40, 0) && peek_is(rx, 40, 40, 0) &&
	       read_is(rx, 30, 0) && peek_is(rx, 100, 70, 30) &&
	       peek_is(rx, 10, 10, 30);
}

/* Successive peeks return successive data, and advance the offset */
static bool t_successive(int tx, int rx)
{
	return !set_off(rx, 0) && send_pattern(tx, 0, 100) &&
	       wait_inq(rx, 100) && peek_is(rx, 10, 10, 0) &&
	       peek_is(rx, 25, 25, 10) && peek_is(rx, 1, 1, 35) &&
	       off_is(rx, 36) && peek_is(rx, 200, 64, 36) &&
	       off_is(rx, 100) && peek_is(rx, 10, -1, 0);
}

/* A consuming read moves the offset back: peeking continues in place */
static bool t_read_back(int tx, int rx)
{
	return !set_off(rx, 0) && send_pattern(tx, 0, 100) &&
	       wait_inq(rx, 100) && peek_is(rx, 30, 30, 0) &&
	       read_is(rx, 12, 0) && off_is(rx, 18) &&
	       peek_is(rx, 10, 10, 30) && read_is(rx, 50, 12) &&
	       off_is(rx, 0) && peek_is(rx, 5, 5, 62) && off_is(rx, 5);
}

/* A read with MSG_TRUNC consumes (copying nothing): the offset too */
static bool t_trunc_back(int tx, int rx)
{
	ssize_t n;

	if (set_off(rx, 0) || !send_pattern(tx, 0, 100) ||
	    !wait_inq(rx, 100) || !peek_is(rx, 40, 40, 0))
		return false;
	n = recv(rx, NULL, 25, MSG_TRUNC | MSG_DONTWAIT);
	if (n != 25)
		return fail("recv(MSG_TRUNC, 25) returned %zd", n);
	return off_is(rx, 15) && peek_is(rx, 10, 10, 40);
}

/* splice() out of the socket consumes: the offset moves back */
static bool t_splice_back(int tx, int rx)
{
	uint8_t buf[64];
	int p[2];
	ssize_t n;
	bool ok;

	if (set_off(rx, 0) || !send_pattern(tx, 0, 100) ||
	    !wait_inq(rx, 100) || !peek_is(rx, 40, 40, 0))
		return false;
	if (pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	n = splice(rx, NULL, p[1], NULL, 16, SPLICE_F_NONBLOCK);
	ok = n == 16 && read(p[0], buf, sizeof(buf)) == 16 &&
	     same(buf, 0, 16);
	if (n != 16)
		fail("splice() returned %zd (%s)", n,
		     n < 0 ? strerror(errno) : "bytes");
	close(p[0]);
	close(p[1]);
	return ok && off_is(rx, 24) && peek_is(rx, 8, 8, 40);
}

/* An offset past the queued data: nothing, until data arrives there */
static bool t_beyond(int tx, int rx)
{
	return !set_off(rx, 150) && send_pattern(tx, 0, 100) &&
	       wait_inq(rx, 100) && peek_is(rx, 10, -1, 0) &&
	       off_is(rx, 150) && send_pattern(tx, 100, 100) &&
	       wait_inq(rx, 200) && peek_is(rx, 20, 20, 150) &&
	       off_is(rx, 170);
}

/* The largest offset, after a partial read: nothing, no kernel warning */
static bool t_huge(int tx, int rx)
{
	static char log[1 << 17];
	int n;

	if (!send_pattern(tx, 0, 100) || !wait_inq(rx, 100) ||
	    !read_is(rx, 1, 0) || set_off(rx, INT_MAX) ||
	    !peek_is(rx, 10, -1, 0) || !off_is(rx, INT_MAX))
		return false;
	if (set_off(rx, 0) || !peek_is(rx, 10, 10, 1))
		return false;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1);
	if (n < 0)
		return true;	/* no access to the log: checked the rest */
	log[n] = '\0';
	if (strstr(log, "TCP recvmsg seq # bug"))
		return fail("the kernel warned: TCP recvmsg seq # bug");
	return true;
}

/* At the end of the data, after the peer's FIN, a peek reads EOF */
static bool t_eof(int tx, int rx)
{
	struct pollfd pfd = { .fd = rx, .events = POLLRDHUP };

	if (set_off(rx, 0) || !send_pattern(tx, 0, 50) || shutdown(tx, SHUT_WR))
		return false;
	if (poll(&pfd, 1, WAIT_MS) != 1 || !(pfd.revents & POLLRDHUP))
		return fail("no FIN within %d ms", WAIT_MS);
	return peek_is(rx, 30, 30, 0) && peek_is(rx, 30, 20, 30) &&
	       peek_is(rx, 30, 0, 0) && off_is(rx, 50) &&
	       !set_off(rx, 80) && peek_is(rx, 30, 0, 0);
}

/* -1 disables it: peeks start at the first unread byte again */
static bool t_disable(int tx, int rx)
{
	return !set_off(rx, 0) && send_pattern(tx, 0, 100) &&
	       wait_inq(rx, 100) && peek_is(rx, 30, 30, 0) &&
	       read_is(rx, 10, 0) && !set_off(rx, -1) && off_is(rx, -1) &&
	       peek_is(rx, 15, 15, 10) && peek_is(rx, 15, 15, 10) &&
	       off_is(rx, -1) && read_is(rx, 5, 10) && off_is(rx, -1);
}

/* Two sockets keep their own offsets */
static bool t_per_socket(int tx, int rx)
{
	int tx2, rx2;
	bool ok;

	if (!tcp_pair(AF_INET, &tx2, &rx2))
		return false;
	ok = !set_off(rx, 0) && !set_off(rx2, 5) &&
	     send_pattern(tx, 0, 100) && send_pattern(tx2, 0, 100) &&
	     wait_inq(rx, 100) && wait_inq(rx2, 100) &&
	     peek_is(rx, 20, 20, 0) && off_is(rx2, 5) &&
	     peek_is(rx2, 10, 10, 5) && off_is(rx, 20) &&
	     read_is(rx2, 15, 0) && off_is(rx, 20) && off_is(rx2, 0) &&
	     off_is(tx, -1) && peek_is(rx, 10, 10, 20);
	close(tx2);
	close(rx2);
	return ok;
}

/* An urgent byte out of line takes a place in the stream, not in reads */
static bool t_urgent(int tx, int rx)
{
	uint8_t b[2];

	fill(b, 4, 1);
	if (set_off(rx, 0) || !send_pattern(tx, 0, 4) ||
	    send(tx, b, 1, MSG_OOB) != 1 || !send_pattern(tx, 5, 4) ||
	    !wait_acked(tx))
		return false;
	/* A read stops at the urgent mark, the next one skips the byte */
	return peek_is(rx, 20, 4, 0) && peek_is(rx, 20, 4, 5) &&
	       off_is(rx, 9) && read_is(rx, 4, 0) && off_is(rx, 5) &&
	       read_is(rx, 4, 5) && off_is(rx, 0) && peek_is(rx, 4, -1, 0);
}

/* A disconnect (connect(AF_UNSPEC)) purges the queue and disables the
 * offset, as mainline does
 */
static bool t_disconnect(int tx, int rx)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	if (set_off(rx, 0) || !send_pattern(tx, 0, 100) ||
	    !wait_inq(rx, 100) || !peek_is(rx, 60, 60, 0))
		return false;
	if (connect(rx, &sa, sizeof(sa)))
		return fail("connect(AF_UNSPEC): %s", strerror(errno));
	return off_is(rx, -1);
}

/* xorshift32: the transfer's choices, the same on every run */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/**
 * sender() - The transfer's sending child: the pattern in uneven writes
 * @s:		Socket
 *
 * Return: exit status for the child
 */
static int sender(int s)
{
	static uint8_t buf[65536];
	uint32_t pos = 0, seed = 7;
	ssize_t n;
	size_t len;

	while (pos < XFER_BYTES) {
		len = rnd(&seed) % sizeof(buf) + 1;
		len = MIN(len, XFER_BYTES - pos);
		fill(buf, pos, len);
		n = send(s, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return 1;
		pos += (uint32_t)n;
	}
	return shutdown(s, SHUT_WR) ? 1 : 0;
}

/**
 * xfer_peek() - One peek of the transfer, checked
 * @rx:		Socket
 * @buf:	Buffer
 * @size:	Its size
 * @base:	Stream position of the first unread byte
 * @off:	Expected offset, advanced
 *
 * Return: bytes peeked, 0 at EOF, -1 if nothing now, -2 on failure
 */
static ssize_t xfer_peek(int rx, uint8_t *buf, size_t size, uint32_t base,
			 uint32_t *off)
{
	ssize_t n = recv(rx, buf, size, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN ? -1 : (fail("peek: %s",
						    strerror(errno)), -2);
	if (!same(buf, base + *off, (size_t)n))
		return -2;
	*off += (uint32_t)n;
	return n;
}

/**
 * xfer_consume() - One consuming read of peeked bytes, checked
 * @rx:		Socket
 * @buf:	Buffer
 * @len:	Bytes to consume, at most the offset and the buffer's size
 * @base:	Stream position of the first unread byte, advanced
 * @off:	Expected offset, moved back
 * @trunc:	Use MSG_TRUNC (no copy) instead of reading into @buf
 *
 * Return: true on success
 */
static bool xfer_consume(int rx, uint8_t *buf, size_t len, uint32_t *base,
			 uint32_t *off, bool trunc)
{
	ssize_t n;

	n = recv(rx, trunc ? NULL : buf, len,
		 MSG_DONTWAIT | (trunc ? MSG_TRUNC : 0));
	if (n != (ssize_t)len)
		return fail("consuming %zu peeked bytes returned %zd", len, n);
	if (!trunc && !same(buf, *base, len))
		return false;
	*base += (uint32_t)n;
	*off -= (uint32_t)n;
	return true;
}

/**
 * t_transfer() - Data integrity over a larger transfer
 * @tx:		Sending end, handed to a child
 * @rx:		Receiving end
 *
 * Peeks of random sizes, consuming reads (copies or MSG_TRUNC) of random
 * parts of what was peeked, now and then a rewind to offset 0 as a
 * retransmission does: every byte peeked must be the pattern at the
 * position the offset says, and getsockopt() must agree with our count
 * after every step.
 *
 * Return: true if the whole stream was seen, in order, by the deadline
 */
static bool t_transfer(int tx, int rx)
{
	static uint8_t buf[65536];
	uint32_t base = 0, off = 0, seed = 1, steps, r;
	size_t len;
	time_t end = time(NULL) + XFER_SECONDS;
	bool eof = false, ok = false;
	int status;
	pid_t pid;
	ssize_t n;

	if (set_off(rx, 0))
		return fail("setsockopt: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	if (!pid) {
		close(rx);
		_exit(sender(tx));
	}
	for (steps = 0; steps < XFER_STEPS; steps++) {
		struct pollfd pfd = { .fd = rx, .events = POLLIN };

		if (time(NULL) > end) {
			fail("deadline: %u of %u bytes read", base,
			     XFER_BYTES);
			break;
		}
		r = rnd(&seed) % 100;
		if (r < 3) {
			if (set_off(rx, 0))
				break;
			off = 0;
			eof = false;	/* to be peeked again */
		} else if (r < 70 || !off) {
			/* Mostly segment-sized peeks, some large */
			len = rnd(&seed) % 4 ? rnd(&seed) % 2048 + 1 :
					       rnd(&seed) % sizeof(buf) + 1;
			n = xfer_peek(rx, buf, len, base, &off);
			if (n == -2)
				break;
			if (!n && base + off != XFER_BYTES) {
				fail("EOF at %u, sent %u", base + off,
				     XFER_BYTES);
				break;
			}
			if (!n)
				eof = true;
			if (n == -1 && !off &&
			    poll(&pfd, 1, WAIT_MS) != 1) {
				fail("no data for %d ms at %u", WAIT_MS, base);
				break;
			}
		} else {
			len = rnd(&seed) % off + 1;
			if (!xfer_consume(rx, buf, MIN(len, sizeof(buf)),
					  &base, &off, r & 1))
				break;
		}
		if (!off_is(rx, (int)off))
			break;
		if (eof && !off) {
			ok = true;	/* base is XFER_BYTES */
			break;
		}
	}
	if (steps == XFER_STEPS)
		fail("%u steps: %u of %u bytes read", steps, base, XFER_BYTES);
	if (!ok)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);	/* it shut down, or was killed */
	if (ok && !(WIFEXITED(status) && !WEXITSTATUS(status)))
		return fail("the sender failed");
	if (ok)
		printf("# transfer: %u bytes, %u steps\n", base, steps);
	return ok;
}

/* The peek sequences over IPv6 */
static bool v6_successive(void)
{
	return on_af(AF_INET6, t_successive) && on_af(AF_INET6, t_read_back);
}

int main(void)
{
	printf("KTAP version 1\n1..%d\n", NTESTS);
	if (netns()) {
		printf("# no network namespace: %s\n", strerror(errno));
		for (test_no = 0; test_no < NTESTS; )
			skip("peek_off", "no network namespace");
		return KSFT_SKIP;
	}
	why[0] = '\0';
	peek_off_ok = accepted(AF_INET);
	result(peek_off_ok, "SO_PEEK_OFF accepted on TCP/IPv4");
	if (peek_off_ok) {
		why[0] = '\0';
		result(accepted(AF_INET6), "SO_PEEK_OFF accepted on TCP/IPv6");
	} else {
		skip("SO_PEEK_OFF accepted on TCP/IPv6",
		     "no SO_PEEK_OFF for TCP/IPv4");
	}
	run("plain MSG_PEEK unchanged without SO_PEEK_OFF", t_plain_peek,
	    false);
	run("getsockopt: -1 by default, then the value set", t_getsockopt,
	    true);
	run("successive peeks return successive data", t_successive, true);
	run("a consuming read moves the offset back", t_read_back, true);
	run("MSG_TRUNC moves the offset back", t_trunc_back, true);
	run("splice() moves the offset back", t_splice_back, true);
	run("offset beyond the queued data", t_beyond, true);
	run("offset INT_MAX: nothing, no kernel warning", t_huge, true);
	run("peek at the end after FIN reads EOF", t_eof, true);
	run("-1 disables the offset", t_disable, true);
	run("offsets are per socket", t_per_socket, true);
	run("urgent byte out of line keeps the offset in step", t_urgent,
	    true);
	run("a disconnect resets the offset to -1", t_disconnect, true);
	if (peek_off_ok) {
		why[0] = '\0';
		result(v6_successive(), "successive peeks and reads over IPv6");
	} else {
		skip("successive peeks and reads over IPv6",
		     "no SO_PEEK_OFF for TCP in this kernel");
	}
	run("data integrity: 4 MiB of peeks, reads and rewinds", t_transfer,
	    true);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       n_pass, n_fail, n_skip);
	if (n_fail)
		return KSFT_FAIL;
	return n_pass ? KSFT_PASS : KSFT_SKIP;
}
