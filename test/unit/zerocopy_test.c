/* test/unit/zerocopy_test.c - MSG_ZEROCOPY sends over real loopback TCP
 * sockets: small batches copy, a lent buffer is held until its
 * completion, the kernel's "copied" turns lending off (or not, forced),
 * the bound on lent buffers, the scribble on release, and a socket closed
 * with sends in flight (kept until they complete, or disconnected)
 *
 * Loopback delivery copies lent pages, so every completion here says
 * SO_EE_CODE_ZEROCOPY_COPIED. Every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zerocopy.h"
#include "unit.h"

#define BUF_SIZE	(1 << 20)
#define SEND_LEN	(256 << 10)
#define WAIT_MS		2000

static struct frame_buf fb[3];

/* A connected pair of non-blocking loopback TCP sockets; @rcvbuf > 0
 * shrinks the receiver's buffer (before the handshake, so it holds) */
static int tcp_pair(int *snd, int *rcv, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int l, one = 1;

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		return -1;
	if (rcvbuf)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(l, (struct sockaddr *)&a, sl) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &sl))
		goto fail;
	*snd = socket(AF_INET, SOCK_STREAM, 0);
	if (*snd < 0 || connect(*snd, (struct sockaddr *)&a, sl))
		goto fail;
	*rcv = accept(l, NULL, NULL);
	if (*rcv < 0)
		goto fail;
	close(l);
	setsockopt(*snd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(*snd, F_SETFL, O_NONBLOCK);
	fcntl(*rcv, F_SETFL, O_NONBLOCK);
	return 0;
fail:
	close(l);
	return -1;
}

/* Read and discard what the receiver has */
static void drain(int rcv)
{
	static char sink[1 << 16];
	int i;

	for (i = 0; i < 1000 && recv(rcv, sink, sizeof(sink), 0) > 0; i++)
		;
}

/* Send @len bytes of @b through zc_sendmsg(); return what it returns */
static ssize_t zsend(struct zc_sock *z, int fd, struct frame_buf *b,
		     size_t len)
{
	struct iovec iov = { b->data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	return zc_sendmsg(z, fd, &mh, len, b, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Drain the receiver and read completions until @z has nothing in flight */
static void wait_done(struct zc_sock *z, int snd, int rcv)
{
	int i;

	for (i = 0; i < WAIT_MS / 10 && z->first; i++) {
		struct pollfd p = { .fd = snd };

		drain(rcv);
		poll(&p, 1, 10);
		zc_errqueue(z, snd);
	}
}

static void conf(bool force, bool scribble)
{
	struct zc_conf zc = { .min = 16384, .force = force,
			      .scribble = scribble };
	unsigned int i;

	zc_init(&zc);
	for (i = 0; i < 3; i++) {
		fb[i].holds = 0;
		memset(fb[i].data, 'x', fb[i].size);
	}
	zc_bufs(fb, 3);
}

/* A batch below --zerocopy-min is copied: nothing held */
static void test_small_copies(void)
{
	struct zc_sock z;
	int s, r;

	conf(false, false);
	CHECK(!tcp_pair(&s, &r, 0));
	zc_sock_init(&z, s);
	CHECK(z.on);
	fb[0].holds = 1;		/* the frontend's own hold */
	CHECK(zsend(&z, s, &fb[0], 1000) == 1000);
	CHECK(fb[0].holds == 1 && !z.first);
	close(s);
	close(r);
}

/* A lent buffer is held until its completion, which says "copied" on
 * loopback: lending stops on that socket */
static void test_lend_complete_copied(void)
{
	struct zc_sock z;
	int s, r;

	conf(false, false);
	CHECK(!tcp_pair(&s, &r, 0));
	zc_sock_init(&z, s);
	fb[0].holds = 1;
	CHECK(zsend(&z, s, &fb[0], SEND_LEN) > 0);
	CHECK(fb[0].holds == 2 && z.first);
	CHECK(zc_active(&z));
	wait_done(&z, s, r);
	CHECK(!z.first && fb[0].holds == 1);
	CHECK(!z.on);			/* copied: off */
	CHECK(zsend(&z, s, &fb[0], SEND_LEN) > 0);
	CHECK(fb[0].holds == 1);	/* copied, not lent */
	CHECK(!zc_active(&z));
	close(s);
	close(r);
}

/* Forced: lending goes on after "copied"; successive sends each hold */
static void test_forced_stays_on(void)
{
	struct zc_sock z;
	int s, r, i;

	conf(true, false);
	CHECK(!tcp_pair(&s, &r, 0));
	zc_sock_init(&z, s);
	fb[0].holds = 1;
	for (i = 0; i < 3; i++) {
		CHECK(zsend(&z, s, &fb[0], SEND_LEN / 4) > 0);
		CHECK(fb[0].holds == 2 + (unsigned int)i);
	}
	wait_done(&z, s, r);
	CHECK(z.on && fb[0].holds == 1 && z.next_id == 3);
	close(s);
	close(r);
}

/* One registered buffer always stays free: with the others lent, the one
 * being dispatched is sent by copying */
static void test_bound(void)
{
	struct zc_sock z;
	int s, r;

	conf(true, false);
	CHECK(!tcp_pair(&s, &r, 0));
	zc_sock_init(&z, s);
	fb[0].holds = 1;		/* dispatching */
	fb[1].holds = 1;		/* lent elsewhere */
	CHECK(zsend(&z, s, &fb[0], SEND_LEN) > 0);
	CHECK(fb[0].holds == 2);	/* fb[2] was free */
	fb[2].holds = 1;		/* now nothing is free */
	CHECK(zsend(&z, s, &fb[2], SEND_LEN) > 0);
	CHECK(fb[2].holds == 1);	/* copied */
	CHECK(zsend(&z, s, &fb[0], SEND_LEN / 4) > 0);
	CHECK(fb[0].holds == 3);	/* already lent: no buffer more */
	wait_done(&z, s, r);
	CHECK(fb[0].holds == 1);
	close(s);
	close(r);
}

/* --zerocopy-scribble: the last hold going overwrites the buffer */
static void test_scribble(void)
{
	struct zc_sock z;
	int s, r;

	conf(true, true);
	CHECK(!tcp_pair(&s, &r, 0));
	zc_sock_init(&z, s);
	CHECK(zsend(&z, s, &fb[0], SEND_LEN) > 0);
	CHECK(fb[0].holds == 1 && fb[0].data[0] == 'x');
	wait_done(&z, s, r);
	CHECK(!fb[0].holds);
	CHECK(fb[0].data[0] == 0xa5 && fb[0].data[fb[0].size - 1] == 0xa5);
	close(s);
	close(r);
}

/* Closed with sends in flight: kept open until they complete */
static void test_close_lingers(void)
{
	struct epoll_event ev;
	struct zc_sock z;
	int s, r, ep, i;

	conf(true, false);
	ep = epoll_create1(0);
	CHECK(ep >= 0);
	CHECK(!tcp_pair(&s, &r, 4096));
	zc_sock_init(&z, s);
	fb[0].holds = 1;
	for (i = 0; i < 8; i++)
		if (zsend(&z, s, &fb[0], SEND_LEN) <= 0)
			break;
	CHECK(z.first);			/* the receiver is full */
	shutdown(s, SHUT_WR);
	CHECK(zc_close(&z, s, ep, false));
	CHECK(!z.first && fb[0].holds > 1);
	CHECK(fcntl(s, F_GETFD) >= 0);	/* still open */
	for (i = 0; i < WAIT_MS / 10 && fb[0].holds > 1; i++) {
		drain(r);
		if (epoll_wait(ep, &ev, 1, 10) == 1) {
			union epoll_ref ref = { .u64 = ev.data.u64 };

			CHECK(ref.type == EPOLL_TYPE_ZC && ref.fd == s);
			zc_linger_handler(ep, ref);
		}
	}
	CHECK(fb[0].holds == 1);
	CHECK(fcntl(s, F_GETFD) < 0);	/* closed by zerocopy.c */
	close(r);
	close(ep);
}

/* Closed with a reset and sends in flight: disconnected first, so the
 * kernel drops its queues and completes them at once */
static void test_close_reset(void)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	struct zc_sock z;
	int s, r, ep, i;

	conf(true, false);
	ep = epoll_create1(0);
	CHECK(!tcp_pair(&s, &r, 4096));
	zc_sock_init(&z, s);
	fb[0].holds = 1;
	for (i = 0; i < 8; i++)
		if (zsend(&z, s, &fb[0], SEND_LEN) <= 0)
			break;
	CHECK(z.first);
	setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	CHECK(!zc_close(&z, s, ep, true));	/* the caller closes */
	CHECK(fb[0].holds == 1 && !z.first);
	close(s);
	close(r);
	close(ep);
}

int main(void)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		fb[i].data = malloc(BUF_SIZE);
		fb[i].size = BUF_SIZE;
		if (!fb[i].data)
			return 1;
	}
	UNIT_PLAN(7);
	UNIT_RUN(test_small_copies);
	UNIT_RUN(test_lend_complete_copied);
	UNIT_RUN(test_forced_stays_on);
	UNIT_RUN(test_bound);
	UNIT_RUN(test_scribble);
	UNIT_RUN(test_close_lingers);
	UNIT_RUN(test_close_reset);
	zc_end();
	UNIT_EXIT();
}
