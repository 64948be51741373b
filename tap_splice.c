/* tap_splice.c - TCP payload from host sockets into the tap by reference:
 * a peeking splice() into a pipe, and splice() from the pipe into the tap
 *
 * Theory of operation
 * Toward the namespace, tcp.c peeks each frame's payload out of the
 * socket and the tap copies it again from our frame. On a kernel with
 * the patches of contrib/kernel/patches/6.12/0002 and 0003 neither copy
 * is needed: splice() with SPLICE_F_PEEK gives a pipe references to the
 * socket's queued pages without consuming them (honouring SO_PEEK_OFF, so
 * the socket still holds the data until the guest acknowledges it), and
 * a tap takes a frame from a pipe, its headers copied and its payload
 * attached by page reference.
 *
 * The frame's headers must come first in the pipe the tap reads, but
 * their lengths depend on how much the peek got, which is known only
 * after it. So there are two pipes: the payload is peeked into @payload
 * (16 buffers, the default: at most 16 pieces, which with the headers
 * fit the kernel's 17 fragments of an skb), the headers built for what
 * came are written into @frame, the payload moved behind them (a splice
 * between pipes moves buffers, it copies nothing), and @frame spliced
 * into the tap as one frame. One frame at a time: both pipes are empty
 * between frames, so a frame never meets another's bytes. Any failure
 * empties both pipes (the frame is dropped and counted, as a refused
 * write() is, and TCP sends it again).
 *
 * Used in namespace mode only, with checksum offload (no capture: the
 * payload never passes through us, so a capture could not show it), when
 * both probes at start pass; --no-tap-splice keeps the copying path.
 * System calls: splice, read (emptying a pipe after a failure), writev;
 * at start only: pipe2, fcntl(F_SETPIPE_SZ), socket, bind, listen,
 * connect, accept4, getsockname (the probe).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "tap_splice.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS, splice);
SYSCALL_ALLOW(SYS_NS, read);
SYSCALL_ALLOW(SYS_NS, writev);

/* Of the patched kernel (include/linux/splice.h there) */
#ifndef SPLICE_F_PEEK
#define SPLICE_F_PEEK		0x10
#endif

#define TS_FRAME_PIPE	(128 * 1024)	/* 32 buffers: headers + 16 */
#define TS_DRAIN_MAX	64		/* reads to empty a pipe, at most */

static int ts_payload[2] = { -1, -1 };	/* peeked payload */
static int ts_frame[2] = { -1, -1 };	/* headers, then the payload */
static bool ts_on;
static unsigned long long ts_frames, ts_bytes, ts_failed;

/* Does splice() from an empty pipe into @tap wait rather than refuse? */
static bool ts_probe_tap(int tap)
{
	ssize_t rc = splice(ts_frame[0], NULL, tap, NULL, 1,
			    SPLICE_F_NONBLOCK);

	return rc < 0 && errno == EAGAIN;
}

/* A connected loopback pair: *@a connects, *@b is accepted */
static int ts_tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*a = *b = -1;
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&sa, sl) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &sl))
		goto out;
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sl))
		goto out;
	*b = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
out:
	close(l);
	return *b < 0 ? -1 : 0;
}

/*
 * Does a peeking splice() from an idle connected TCP socket wait (EAGAIN)
 * rather than refuse the flag (EINVAL, a kernel without it)? Without a
 * loopback to probe on (no lo in this namespace): no
 */
static bool ts_probe_peek(void)
{
	int a, b;
	ssize_t rc = -1;
	int err = 0;

	if (!ts_tcp_pair(&a, &b)) {
		rc = splice(b, NULL, ts_payload[1], NULL, 1,
			    SPLICE_F_PEEK | SPLICE_F_NONBLOCK);
		err = errno;
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return rc < 0 && err == EAGAIN;
}

static void ts_close(void)
{
	int *fds[] = { ts_payload, ts_frame };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		if (fds[i][0] >= 0)
			close(fds[i][0]);
		if (fds[i][1] >= 0)
			close(fds[i][1]);
		fds[i][0] = fds[i][1] = -1;
	}
}

/**
 * tap_splice_init() - Probe both kernel features, set up the pipes
 * @tap:	The tap, non-blocking
 * @want:	Checksum offload on and no --no-tap-splice
 *
 * Return: true if frames can go by splice()
 */
bool tap_splice_init(int tap, bool want)
{
	const char *why = "off (--no-tap-splice, or a capture)";

	ts_on = false;
	if (!want)
		goto out;
	why = "cannot create its pipes";
	if (pipe2(ts_payload, O_NONBLOCK | O_CLOEXEC) ||
	    pipe2(ts_frame, O_NONBLOCK | O_CLOEXEC) ||
	    fcntl(ts_frame[1], F_SETPIPE_SZ, TS_FRAME_PIPE) < 0)
		goto fail;
	why = "not supported by the kernel (no splice() into a tap)";
	if (!ts_probe_tap(tap))
		goto fail;
	why = "not supported by the kernel (no SPLICE_F_PEEK)";
	if (!ts_probe_peek())
		goto fail;
	ts_on = true;
	why = "in use";
	goto out;
fail:
	ts_close();
out:
	log_debug("tap: TCP payload by splice() (peek, tap splice_write): "
		  "%s", why);
	return ts_on;
}

/* Empty @fd (a pipe's read end), at most TS_DRAIN_MAX reads */
static void ts_drain(int fd)
{
	static char discard[65536];
	unsigned int i;

	for (i = 0; i < TS_DRAIN_MAX; i++)
		if (read(fd, discard, sizeof(discard)) <= 0)
			return;
}

/* After a failure: both pipes empty again, the frame counted */
static void ts_fail(void)
{
	ts_drain(ts_payload[0]);
	ts_drain(ts_frame[0]);
	ts_failed++;
}

/**
 * tap_splice_abort() - Drop a peeked payload that will not be sent
 */
void tap_splice_abort(void)
{
	ts_fail();
}

/**
 * tap_splice_peek() - Peek up to @len bytes of TCP payload into the pipe
 * @sock:	Connected TCP socket, non-blocking, SO_PEEK_OFF set
 * @len:	Bytes wanted
 *
 * Return: bytes peeked, 0 at the end of the stream, -1 with errno set
 */
ssize_t tap_splice_peek(int sock, size_t len)
{
	ssize_t n = splice(sock, NULL, ts_payload[1], NULL, len,
			   SPLICE_F_PEEK | SPLICE_F_NONBLOCK);

	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		int err = errno;

		ts_fail();
		errno = err;
	}
	return n;
}

/**
 * tap_splice_write() - Write one frame: @hdr, then the @len bytes peeked
 * @tap:	The tap
 * @hdr:	Virtio-net header and the frame's headers
 * @cnt:	Entries of @hdr
 * @len:	Payload bytes in the payload pipe (tap_splice_peek())
 *
 * Return: 0 on success, -1 if the frame was dropped (both pipes emptied)
 */
int tap_splice_write(int tap, const struct iovec *hdr, int cnt, size_t len)
{
	size_t hlen = 0, moved = 0;
	ssize_t n;
	int i;

	for (i = 0; i < cnt; i++)
		hlen += hdr[i].iov_len;
	if (writev(ts_frame[1], hdr, cnt) != (ssize_t)hlen)
		goto fail;
	while (moved < len) {
		n = splice(ts_payload[0], NULL, ts_frame[1], NULL,
			   len - moved, SPLICE_F_NONBLOCK);
		if (n <= 0)
			goto fail;
		moved += (size_t)n;
	}
	if (splice(ts_frame[0], NULL, tap, NULL, hlen + len,
		   SPLICE_F_NONBLOCK) != (ssize_t)(hlen + len))
		goto fail;
	ts_frames++;
	ts_bytes += len;
	return 0;
fail:
	log_trace("tap: spliced frame of %zu bytes: %s", hlen + len,
		  strerror(errno));
	ts_fail();
	return -1;
}

/**
 * tap_splice_on() - Do TCP frames go by splice()?
 *
 * Return: true once tap_splice_init() found both features
 */
bool tap_splice_on(void)
{
	return ts_on;
}

/**
 * tap_splice_end() - Counters at exit (--debug), pipes closed
 */
void tap_splice_end(void)
{
	if (ts_on)
		log_debug("tap: at exit: %llu frames by splice() (%llu bytes "
			  "of payload), %llu dropped", ts_frames, ts_bytes,
			  ts_failed);
	ts_close();
	ts_on = false;
}
