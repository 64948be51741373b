/* test/tools/tcp_stream.c - TCP test endpoint: deterministic, verified
 * streams, echo and discard servers, many concurrent or idle connections
 *
 * Theory of operation
 * Every byte sent is a function of (seed, stream offset): the stream is a
 * sequence of 64-bit words, word i being a SplitMix64 mix of the seed and
 * i. A receiver regenerates what it should have got at the offset it has
 * reached and compares byte for byte, so a lost, repeated, reordered or
 * altered range is found at its exact offset; this is stronger than a
 * digest of the whole stream and costs a few nanoseconds per word, which
 * matters when 1 GiB goes through a daemon sharing two cores with both
 * ends. Both ends also print a 64-bit hash of the bytes they actually sent
 * or received (four FNV-style lanes over 32-byte blocks, independent of
 * how reads split the stream), so a test can compare the two ends too.
 *
 * Usage: tcp_stream [OPTION]... MODE ARG...
 *   connect HOST PORT   one connection as a client
 *   listen PORT         accept one connection as a server
 *     Behaviour of these two:
 *	-s BYTES   send BYTES of the stream (K, M, G suffixes: KiB, MiB,
 *		   GiB), then shut down writes; 0 (default): send nothing
 *	-d SECS	   stop sending after SECS seconds even if BYTES not sent
 *	-a	   send only after the peer's end of stream (a reply to a
 *		   half-close)
 *	-r	   verify what is received against the stream (without -r,
 *		   received bytes are counted and hashed only)
 *	-e BYTES   expect exactly BYTES received
 *	-p MS@AT   stop reading for MS milliseconds once AT bytes have
 *		   been received (the peer then sees a zero window)
 *	-R	   when done sending, close with SO_LINGER 0 (reset)
 *	-N	   when done sending, do not shut down writes
 *	-K BYTES   once BYTES have been received, close with SO_LINGER 0
 *		   (reset): the peer is known to be connected end to end
 *	-H	   with nothing to send: shut down writes at once (a
 *		   half-closed receiver); otherwise the socket is closed
 *		   only after the peer's end of stream
 *	-X END	   expected end: eof (default: end of stream, and our own
 *		   sending done), reset (ECONNRESET or EPIPE), refused
 *		   (connect fails with ECONNREFUSED), fail (refused, reset,
 *		   or end of stream before anything is received)
 *     Both always read until the peer's end of stream, so a sender
 *     returns only once its peer has read everything and closed, and a
 *     receiver closes only after the end of stream.
 *   echo PORT           echo every connection back, concurrently
 *   sink PORT           discard every connection, concurrently
 *     Servers run until SIGTERM, the timeout, or -n N connections ended.
 *   conns HOST PORT N BYTES
 *			 N connections to an echo server, at most -c at a
 *			 time (default: all at once); each sends BYTES with
 *			 seed SEED+i, verifies the echo, then shuts down
 *			 writes and waits for the server's end of stream
 *   hold HOST PORT N    N connections to an echo server opened one by one
 *			 (each connect bounded by -w MS), a 16-byte round
 *			 trip on each; prints "ready", waits for SIGUSR1 (or
 *			 -i SECS), then a second round trip on each one open
 * Common options:
 *	-4, -6	   address family (default: from HOST; servers listen on
 *		   both families unless one is given)
 *	-b ADDR	   address a server binds (default: any)
 *	-t SECS	   give up after SECS seconds (default 120): exit status 3
 *	-x SEED	   stream seed (default 1)
 *	-l BYTES   read and write size (default 64K)
 *	-c N	   conns: connections in progress at once
 *	-w MS	   hold: connect and round trip timeout (default 3000)
 *	-i SECS	   hold: wait at most SECS for SIGUSR1 (default: the timeout)
 *	-n N	   echo, sink: exit after N connections have ended
 *
 * Output: servers first print "listening PORT". Each mode then prints one
 * line of key=value pairs (sent, sent_hash, recv, recv_hash, end, peer,
 * ms, ...) and, on a failure, a line starting with "error:".
 * Exit status: 0 as expected, 1 failure (mismatch, unexpected end), 2
 * usage or set-up error, 3 timeout.
 *
 * System calls: socket, setsockopt, getsockopt, bind, listen, accept4,
 * connect, read, write, shutdown, close, poll, epoll_create1, epoll_ctl,
 * epoll_wait, getsockname, getpeername, setrlimit, sigaction,
 * clock_gettime.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tool_common.h"

#define EXIT_TIMEOUT	3

#define HOLD_RTT_BYTES	16
#define ECHO_BUF	16384

/* Options */
static int opt_family = AF_UNSPEC;
static const char *opt_bind;
static int64_t opt_timeout_ms = 120000;
static uint64_t opt_seed = 1;
static size_t opt_len = 65536;
static uint64_t opt_send;
static int64_t opt_send_ms = -1;
static bool opt_after_eof;
static bool opt_verify;
static int64_t opt_expect = -1;
static int64_t opt_pause_ms;
static uint64_t opt_pause_at;
static bool opt_rst;
static bool opt_shut_now;
static bool opt_no_shut;
static uint64_t opt_kill_at;
static const char *opt_end = "eof";
static unsigned opt_conc;
static int64_t opt_wait_ms = 3000;
static int64_t opt_idle_ms = -1;
static long opt_nconns = -1;

static int64_t start_ms, deadline_ms;
static volatile sig_atomic_t got_term, got_usr1;

/* ---------------------------------------------------------------- */
/* The stream and its hash */

/**
 * struct hash - Hash of a byte stream, independent of how it is split
 * @lane:	Four running lanes
 * @pend:	Bytes not yet making a whole 32-byte block
 * @npend:	Count of those
 * @len:	Total bytes
 */
struct hash {
	uint64_t lane[4];
	uint8_t pend[32];
	size_t npend;
	uint64_t len;
};

#define HASH_PRIME	0x100000001b3ULL

static void hash_init(struct hash *h)
{
	*h = (struct hash){ .lane = { 0xcbf29ce484222325ULL,
				      0x84222325cbf29ce4ULL,
				      0x9ce484222325cbf2ULL,
				      0x2325cbf29ce48422ULL } };
}

static inline void hash_block(struct hash *h, const uint8_t *p)
{
	uint64_t w[4];

	memcpy(w, p, 32);
	h->lane[0] = (h->lane[0] ^ w[0]) * HASH_PRIME;
	h->lane[1] = (h->lane[1] ^ w[1]) * HASH_PRIME;
	h->lane[2] = (h->lane[2] ^ w[2]) * HASH_PRIME;
	h->lane[3] = (h->lane[3] ^ w[3]) * HASH_PRIME;
}

/**
 * hash_update() - Add bytes to a hash
 * @h:		Hash state
 * @p:		Bytes
 * @len:	Count
 */
static void hash_update(struct hash *h, const uint8_t *p, size_t len)
{
	size_t n;

	h->len += len;
	if (h->npend) {
		n = 32 - h->npend < len ? 32 - h->npend : len;
		memcpy(h->pend + h->npend, p, n);
		h->npend += n;
		p += n;
		len -= n;
		if (h->npend < 32)
			return;
		hash_block(h, h->pend);
		h->npend = 0;
	}
	for (; len >= 32; len -= 32, p += 32)
		hash_block(h, p);
	memcpy(h->pend, p, len);
	h->npend = len;
}

/**
 * hash_final() - Final value of a hash (the state is not changed)
 * @h:		Hash state
 *
 * Return: 64-bit hash
 */
static uint64_t hash_final(const struct hash *h)
{
	uint64_t v = h->len * HASH_PRIME;
	size_t i;

	for (i = 0; i < 4; i++)
		v = (v ^ h->lane[i]) * HASH_PRIME;
	for (i = 0; i < h->npend; i++)
		v = (v ^ h->pend[i]) * HASH_PRIME;
	return v ^ (v >> 29);
}

/* ---------------------------------------------------------------- */
/* Sockets */

/**
 * parse_size() - Parse a byte count with an optional K, M, G suffix
 * @s:		Text
 * @v:		Value, set on success
 *
 * Return: 0 on success, -1 on a malformed value
 */
static int parse_size(const char *s, uint64_t *v)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': n <<= 10; end++; break;
	case 'M': case 'm': n <<= 20; end++; break;
	case 'G': case 'g': n <<= 30; end++; break;
	}
	if (*end)
		return -1;
	*v = n;
	return 0;
}

/**
 * listen_on() - Open a listening socket and print "listening PORT"
 * @port:	Port text
 *
 * Return: socket, or -1 on error (printed)
 */
static int listen_on(const char *port)
{
	const char *host = opt_bind;
	struct sockaddr_storage ss;
	int fd, one = 1, v6only;
	socklen_t sl;

	if (!host)
		host = opt_family == AF_INET ? "0.0.0.0" : "::";
	if (resolve(opt_family, SOCK_STREAM, host, port, &ss, &sl))
		return -1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("error: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		v6only = opt_family == AF_INET6;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			   sizeof(v6only));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 4096)) {
		fprintf(stderr, "error: bind/listen %s port %s: %s\n", host,
			port, strerror(errno));
		close(fd);
		return -1;
	}
	printf("listening %s\n", port);
	fflush(stdout);
	return fd;
}

/**
 * connect_start() - Start a non-blocking connection
 * @ss:		Destination
 * @sl:		Its length
 *
 * Return: socket (connected or in progress), or -errno
 */
static int connect_start(const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd, rc;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)ss, sl);
	if (rc && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/**
 * connect_wait() - Wait for a non-blocking connection to complete
 * @fd:		Socket
 * @ms:		Timeout
 *
 * Return: 0 when connected, -errno on failure, -ETIMEDOUT on timeout
 */
static int connect_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int err = 0, rc;

	do {
		rc = poll(&p, 1, ms);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return -ETIMEDOUT;
	if (rc < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl))
		return -errno;
	return -err;
}

/**
 * rst_close() - Close a socket with a reset (SO_LINGER with zero time)
 * @fd:		Socket
 */
static void rst_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

/* ---------------------------------------------------------------- */
/* One connection: connect and listen modes */

/**
 * struct conn1 - State of the single connection of connect/listen modes
 */
struct conn1 {
	int fd;
	uint64_t sent, recvd;
	struct hash hs, hr;
	bool send_on, send_done, recv_done, verify_failed;
	bool paused_once;
	int64_t pause_until, send_stop_ms;
	const char *end;
	char err[256];
	uint8_t *sbuf, *rbuf, *xbuf;
	size_t spos, slen;
};

/**
 * conn1_verify() - Check received bytes against the stream
 * @c:		Connection state
 * @p:		Bytes received
 * @n:		Count, received at stream offset @c->recvd
 *
 * Return: true if they match
 */
static bool conn1_verify(struct conn1 *c, const uint8_t *p, size_t n)
{
	size_t i;

	stream_fill(opt_seed, c->recvd, c->xbuf, n);
	if (!memcmp(p, c->xbuf, n))
		return true;
	for (i = 0; i < n && p[i] == c->xbuf[i]; i++)
		;
	snprintf(c->err, sizeof(c->err),
		 "mismatch at offset %" PRIu64 ": expected 0x%02x, got 0x%02x",
		 c->recvd + i, c->xbuf[i], p[i]);
	return false;
}

/**
 * conn1_send() - Send what the socket takes
 * @c:		Connection state
 *
 * Return: 0, or -1 on a fatal error (end set)
 */
static int conn1_send(struct conn1 *c)
{
	ssize_t n;

	while (!c->send_done) {
		if (c->sent >= opt_send ||
		    (c->send_stop_ms >= 0 && now_ms() >= c->send_stop_ms)) {
			c->send_done = true;
			if (opt_rst) {
				rst_close(c->fd);
				c->fd = -1;
				c->end = "abort";
				return 0;
			}
			if (!opt_no_shut)
				shutdown(c->fd, SHUT_WR);
			return 0;
		}
		if (c->spos == c->slen) {
			uint64_t want = opt_send - c->sent;

			c->slen = want < opt_len ? want : opt_len;
			stream_fill(opt_seed, c->sent, c->sbuf, c->slen);
			c->spos = 0;
		}
		n = send(c->fd, c->sbuf + c->spos, c->slen - c->spos,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			c->end = (errno == ECONNRESET || errno == EPIPE) ?
				 "reset" : "error";
			snprintf(c->err, sizeof(c->err), "send: %s",
				 strerror(errno));
			return -1;
		}
		hash_update(&c->hs, c->sbuf + c->spos, n);
		c->spos += n;
		c->sent += n;
	}
	return 0;
}

/**
 * conn1_recv() - Receive what is there
 * @c:		Connection state
 *
 * Return: 0, or -1 on the end of the connection (end set)
 */
static int conn1_recv(struct conn1 *c)
{
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		if (opt_pause_ms && !c->paused_once &&
		    c->recvd >= opt_pause_at) {
			c->paused_once = true;
			c->pause_until = now_ms() + opt_pause_ms;
			return 0;
		}
		n = recv(c->fd, c->rbuf, opt_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			c->end = errno == ECONNRESET ? "reset" : "error";
			if (errno != ECONNRESET)
				snprintf(c->err, sizeof(c->err), "recv: %s",
					 strerror(errno));
			return -1;
		}
		if (n == 0) {
			c->recv_done = true;
			return 0;
		}
		if (opt_verify && !c->verify_failed &&
		    !conn1_verify(c, c->rbuf, n))
			c->verify_failed = true;
		hash_update(&c->hr, c->rbuf, n);
		c->recvd += n;
		if (c->verify_failed) {
			c->end = "mismatch";
			return -1;
		}
		if (opt_kill_at && c->recvd >= opt_kill_at) {
			rst_close(c->fd);
			c->fd = -1;
			c->end = "abort";
			return -1;
		}
	}
	return 0;
}

/**
 * conn1_run() - Drive one connected socket to its end
 * @fd:		Connected socket
 * @peer:	Peer address text, for the report
 *
 * Return: exit status
 */
static int conn1_run(int fd, const char *peer)
{
	struct conn1 c = { .fd = fd, .pause_until = 0, .send_stop_ms = -1 };
	int64_t t0 = now_ms(), now;
	struct pollfd p;
	int rc, ms;
	bool ok;

	hash_init(&c.hs);
	hash_init(&c.hr);
	c.sbuf = malloc(opt_len);
	c.rbuf = malloc(opt_len);
	c.xbuf = malloc(opt_len);
	if (!c.sbuf || !c.rbuf || !c.xbuf) {
		fprintf(stderr, "error: out of memory\n");
		return EXIT_USAGE;
	}
	set_nonblock(fd);
	c.send_on = !opt_after_eof;
	if (opt_send_ms >= 0)
		c.send_stop_ms = t0 + opt_send_ms;
	if (!opt_send && !opt_rst) {
		c.send_done = true;
		if (opt_shut_now)
			shutdown(fd, SHUT_WR);
	}

	while (!c.end) {
		if (c.recv_done && c.send_done) {
			c.end = "eof";
			break;
		}
		if (c.recv_done && opt_after_eof)
			c.send_on = true;
		if (c.send_on && !c.send_done) {
			if (conn1_send(&c) || c.fd < 0)
				break;
			if (c.send_done)
				continue;
		}
		now = now_ms();
		if (now >= deadline_ms) {
			c.end = "timeout";
			break;
		}
		p = (struct pollfd){ .fd = fd };
		if (c.send_on && !c.send_done)
			p.events |= POLLOUT;
		ms = left_ms(deadline_ms);
		if (c.pause_until > now) {
			if (c.pause_until - now < ms)
				ms = c.pause_until - now;
		} else if (!c.recv_done) {
			p.events |= POLLIN;
		}
		if (c.send_stop_ms >= 0 && !c.send_done && c.send_on) {
			int64_t d = c.send_stop_ms - now;

			if (d < ms)
				ms = d < 0 ? 0 : d;
		}
		if (!p.events)
			p.fd = -1;	/* paused: just wait */
		rc = poll(&p, 1, ms);
		if (rc < 0 && errno != EINTR) {
			c.end = "error";
			snprintf(c.err, sizeof(c.err), "poll: %s",
				 strerror(errno));
			break;
		}
		if (got_term) {
			c.end = "signal";
			break;
		}
		if (rc > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (p.events & POLLIN)) {
			if (conn1_recv(&c))
				break;
		} else if (rc > 0 && (p.revents & POLLERR) &&
			   !(p.events & POLLOUT)) {
			/* Error while not reading: pick it up */
			int err = 0;
			socklen_t sl = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
			c.end = err == ECONNRESET ? "reset" : "error";
			break;
		}
	}
	if (c.fd >= 0 && strcmp(c.end, "abort"))
		close(c.fd);

	if (!strcmp(opt_end, "eof"))
		ok = !strcmp(c.end, "eof");
	else if (!strcmp(opt_end, "reset"))
		ok = !strcmp(c.end, "reset");
	else if (!strcmp(opt_end, "fail"))
		ok = !strcmp(c.end, "reset") ||
		     (!strcmp(c.end, "eof") && !c.recvd);
	else
		ok = false;
	/* Closing with a reset ourselves is the expected end for -R, -K */
	if ((opt_rst || opt_kill_at) && !strcmp(c.end, "abort"))
		ok = !strcmp(opt_end, "eof") || !strcmp(opt_end, "reset");
	if (c.verify_failed)
		ok = false;
	if (ok && opt_expect >= 0 && c.recvd != (uint64_t)opt_expect) {
		snprintf(c.err, sizeof(c.err),
			 "received %" PRIu64 " bytes, expected %" PRId64,
			 c.recvd, opt_expect);
		ok = false;
	}

	printf("sent=%" PRIu64 " sent_hash=%016" PRIx64 " recv=%" PRIu64
	       " recv_hash=%016" PRIx64 " end=%s peer=%s ms=%" PRId64 "\n",
	       c.sent, hash_final(&c.hs), c.recvd, hash_final(&c.hr), c.end,
	       peer, now_ms() - t0);
	if (!ok) {
		if (!c.err[0])
			snprintf(c.err, sizeof(c.err),
				 "connection ended with %s, expected %s",
				 c.end, opt_end);
		printf("error: %s\n", c.err);
	}
	fflush(stdout);
	free(c.sbuf);
	free(c.rbuf);
	free(c.xbuf);
	if (!ok && !strcmp(c.end, "timeout"))
		return EXIT_TIMEOUT;
	return ok ? EXIT_OK : EXIT_FAIL;
}

/**
 * mode_connect() - connect HOST PORT
 * @host:	Address
 * @port:	Port
 *
 * Return: exit status
 */
static int mode_connect(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	char peer[INET6_ADDRSTRLEN + 16];
	int64_t t0 = now_ms();
	socklen_t sl;
	int fd, rc;

	if (resolve(opt_family, SOCK_STREAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	addr_str(&ss, peer, sizeof(peer));

	fd = connect_start(&ss, sl);
	rc = fd < 0 ? fd : connect_wait(fd, left_ms(deadline_ms));
	if (rc < 0) {
		const char *end = rc == -ECONNREFUSED ? "refused" :
				  rc == -ETIMEDOUT ? "timeout" :
				  rc == -ECONNRESET ? "reset" : "error";
		bool ok = !strcmp(opt_end, end) ||
			  (!strcmp(opt_end, "fail") &&
			   (rc == -ECONNREFUSED || rc == -ECONNRESET));

		if (fd >= 0)
			close(fd);
		printf("sent=0 recv=0 end=%s peer=%s ms=%" PRId64 "\n", end,
		       peer, now_ms() - t0);
		if (!ok)
			printf("error: connect: %s\n", strerror(-rc));
		fflush(stdout);
		if (!ok && rc == -ETIMEDOUT)
			return EXIT_TIMEOUT;
		return ok ? EXIT_OK : EXIT_FAIL;
	}
	if (!strcmp(opt_end, "refused")) {
		printf("sent=0 recv=0 end=connected peer=%s ms=%" PRId64 "\n",
		       peer, now_ms() - t0);
		printf("error: connected, expected a refusal\n");
		close(fd);
		return EXIT_FAIL;
	}
	return conn1_run(fd, peer);
}

/**
 * mode_listen() - listen PORT: serve one connection
 * @port:	Port
 *
 * Return: exit status
 */
static int mode_listen(const char *port)
{
	struct sockaddr_storage ss;
	char peer[INET6_ADDRSTRLEN + 16];
	socklen_t sl = sizeof(ss);
	struct pollfd p;
	int lfd, fd, rc;

	lfd = listen_on(port);
	if (lfd < 0)
		return EXIT_USAGE;
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	do {
		rc = poll(&p, 1, left_ms(deadline_ms));
	} while (rc < 0 && errno == EINTR && !got_term);
	if (rc <= 0) {
		printf("sent=0 recv=0 end=timeout peer=none ms=%" PRId64 "\n",
		       now_ms() - start_ms);
		printf("error: no connection\n");
		fflush(stdout);
		close(lfd);
		return EXIT_TIMEOUT;
	}
	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	close(lfd);
	if (fd < 0) {
		perror("error: accept");
		return EXIT_FAIL;
	}
	return conn1_run(fd, addr_str(&ss, peer, sizeof(peer)));
}

/* ---------------------------------------------------------------- */
/* Servers for many connections: echo and sink */

/**
 * struct sconn - A connection of the echo or sink server
 * @fd:		Socket, -1 if unused
 * @buf:	Echo: bytes read and not written back yet
 * @pos:	Start of those
 * @len:	End of those
 * @eof:	Peer's end of stream seen
 */
struct sconn {
	int fd;
	uint8_t *buf;
	size_t pos, len;
	bool eof;
};

/**
 * server_close() - End a connection of the echo or sink server
 * @ep:		epoll descriptor
 * @s:		Connection
 */
static void server_close(int ep, struct sconn *s)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	free(s->buf);
	free(s);
}

/**
 * server_io() - Handle events of a connection of the echo or sink server
 * @ep:		epoll descriptor
 * @s:		Connection
 * @echo:	Echo (true) or discard (false)
 * @bytes:	Total bytes received, updated
 *
 * Return: true if the connection ended (and was freed)
 */
static bool server_io(int ep, struct sconn *s, bool echo, uint64_t *bytes)
{
	static uint8_t dbuf[65536];
	struct epoll_event ev = { .data.ptr = s };
	ssize_t n;
	int i;

	for (i = 0; i < 16; i++) {
		if (echo && s->pos < s->len) {
			n = send(s->fd, s->buf + s->pos, s->len - s->pos,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				goto end;
			if (n > 0)
				s->pos += n;
			if (s->pos < s->len) {
				ev.events = EPOLLOUT;
				epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
				return false;
			}
		}
		s->pos = s->len = 0;
		if (s->eof)
			goto end;
		n = recv(s->fd, echo ? s->buf : dbuf,
			 echo ? ECHO_BUF : sizeof(dbuf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			goto end;
		}
		if (n == 0) {
			s->eof = true;
			continue;
		}
		*bytes += n;
		if (echo)
			s->len = n;
	}
	ev.events = EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
	return false;
end:
	server_close(ep, s);
	return true;
}

/**
 * mode_server() - echo PORT, sink PORT
 * @port:	Port
 * @echo:	Echo (true) or discard (false)
 *
 * Return: exit status
 */
static int mode_server(const char *port, bool echo)
{
	struct epoll_event ev, evs[256];
	uint64_t bytes = 0;
	long ended = 0, accepted = 0;
	int lfd, ep, n, i, fd;
	struct sconn *s;

	raise_nofile();
	lfd = listen_on(port);
	if (lfd < 0)
		return EXIT_USAGE;
	set_nonblock(lfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	while (!got_term && now_ms() < deadline_ms &&
	       (opt_nconns < 0 || ended < opt_nconns)) {
		n = epoll_wait(ep, evs, 256, left_ms(deadline_ms) < 200 ?
			       left_ms(deadline_ms) : 200);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr) {
				if (server_io(ep, evs[i].data.ptr, echo,
					      &bytes))
					ended++;
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL,
					     SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
				s = calloc(1, sizeof(*s));
				if (s && echo)
					s->buf = malloc(ECHO_BUF);
				if (!s || (echo && !s->buf)) {
					close(fd);
					free(s);
					continue;
				}
				s->fd = fd;
				accepted++;
				ev = (struct epoll_event){
					.events = EPOLLIN, .data.ptr = s };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			}
		}
	}
	printf("accepted=%ld ended=%ld bytes=%" PRIu64 " end=%s\n", accepted,
	       ended, bytes, got_term ? "signal" :
	       (opt_nconns >= 0 && ended >= opt_nconns) ? "done" : "timeout");
	fflush(stdout);
	/* Connections still open are closed by exit */
	if (!got_term && !(opt_nconns >= 0 && ended >= opt_nconns))
		return EXIT_TIMEOUT;
	return EXIT_OK;
}

/* ---------------------------------------------------------------- */
/* Many clients: conns */

/**
 * struct cconn - A connection of the conns mode
 */
struct cconn {
	int fd;
	unsigned idx;
	bool connected, shut;
	uint64_t sent, recvd;
};

enum cresult { C_OK, C_REFUSED, C_RESET, C_TIMEOUT, C_MISMATCH, C_SHORT,
	       C_OTHER, C_MAX };
static const char *const cresult_name[C_MAX] = {
	"ok", "refused", "reset", "timeout", "mismatch", "short", "other",
};

/**
 * mode_conns() - conns HOST PORT N BYTES
 * @host:	Address
 * @port:	Port
 * @nstr:	Connection count
 * @bstr:	Bytes each
 *
 * Return: exit status
 */
static int mode_conns(const char *host, const char *port, const char *nstr,
		      const char *bstr)
{
	unsigned long count[C_MAX] = { 0 };
	static uint8_t buf[65536], xbuf[65536];
	struct epoll_event ev, evs[256];
	unsigned started = 0, ended = 0, active = 0, n, conc, i;
	int64_t t0 = now_ms(), nn;
	struct sockaddr_storage ss;
	uint64_t bytes;
	struct cconn *c;
	socklen_t sl;
	int ep, k, e;
	ssize_t r;

	if (parse_num(nstr, &nn) || nn == 0 || parse_size(bstr, &bytes) ||
	    resolve(opt_family, SOCK_STREAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	n = nn;
	conc = opt_conc ? opt_conc : n;
	raise_nofile();
	ep = epoll_create1(EPOLL_CLOEXEC);

	while (ended < n) {
		while (started < n && active < conc) {
			c = calloc(1, sizeof(*c));
			if (!c)
				return EXIT_USAGE;
			c->idx = started++;
			c->fd = connect_start(&ss, sl);
			if (c->fd < 0) {
				count[c->fd == -ECONNREFUSED ? C_REFUSED :
				      C_OTHER]++;
				ended++;
				free(c);
				continue;
			}
			ev = (struct epoll_event){ .events = EPOLLOUT,
						   .data.ptr = c };
			epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
			active++;
		}
		if (ended >= n)
			break;
		if (now_ms() >= deadline_ms || got_term)
			break;
		k = epoll_wait(ep, evs, 256, left_ms(deadline_ms) < 200 ?
			       left_ms(deadline_ms) : 200);
		for (i = 0; k > 0 && i < (unsigned)k; i++) {
			enum cresult res = C_MAX;
			uint64_t seed;

			c = evs[i].data.ptr;
			seed = opt_seed + c->idx;
			if (!c->connected) {
				socklen_t el = sizeof(e);

				e = 0;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e,
					   &el);
				if (e) {
					res = e == ECONNREFUSED ? C_REFUSED :
					      e == ECONNRESET ? C_RESET :
					      e == ETIMEDOUT ? C_TIMEOUT :
					      C_OTHER;
					goto done;
				}
				c->connected = true;
			}
			while (c->sent < bytes) {
				size_t want = bytes - c->sent;

				if (want > sizeof(buf))
					want = sizeof(buf);
				stream_fill(seed, c->sent, buf, want);
				r = send(c->fd, buf, want,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
				if (r < 0)
					break;
				c->sent += r;
			}
			if (c->sent < bytes && errno != EAGAIN) {
				res = errno == ECONNRESET || errno == EPIPE ?
				      C_RESET : C_OTHER;
				goto done;
			}
			for (;;) {
				r = recv(c->fd, buf, sizeof(buf),
					 MSG_DONTWAIT);
				if (r <= 0)
					break;
				if (c->recvd + r > bytes) {
					res = C_MISMATCH;
					goto done;
				}
				stream_fill(seed, c->recvd, xbuf, r);
				if (memcmp(buf, xbuf, r)) {
					res = C_MISMATCH;
					goto done;
				}
				c->recvd += r;
			}
			/* Close only once the echo is complete: data never
			 * flows after a FIN here (test/tcp.sh checks that
			 * separately)
			 */
			if (c->recvd == bytes && !c->shut) {
				shutdown(c->fd, SHUT_WR);
				c->shut = true;
			}
			if (r == 0) {
				res = c->recvd == bytes ? C_OK : C_SHORT;
				goto done;
			}
			if (errno != EAGAIN && errno != EINTR) {
				res = errno == ECONNRESET ? C_RESET : C_OTHER;
				goto done;
			}
			ev = (struct epoll_event){
				.events = c->sent < bytes ?
					  EPOLLIN | EPOLLOUT : EPOLLIN,
				.data.ptr = c };
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			continue;
done:
			count[res]++;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			free(c);
			active--;
			ended++;
		}
	}
	count[C_TIMEOUT] += n - ended;

	printf("conns=%u", n);
	for (i = 0; i < C_MAX; i++)
		printf(" %s=%lu", cresult_name[i], count[i]);
	printf(" ms=%" PRId64 "\n", now_ms() - t0);
	fflush(stdout);
	return count[C_OK] == n ? EXIT_OK : EXIT_FAIL;
}

/* ---------------------------------------------------------------- */
/* Idle connections: hold */

/**
 * roundtrip() - Send HOLD_RTT_BYTES and read their echo, bounded in time
 * @fd:		Connected socket
 * @seed:	Stream seed
 * @off:	Stream offset
 *
 * Return: C_OK, C_RESET, C_TIMEOUT, C_MISMATCH or C_OTHER
 */
static enum cresult roundtrip(int fd, uint64_t seed, uint64_t off)
{
	uint8_t out[HOLD_RTT_BYTES], in[HOLD_RTT_BYTES];
	int64_t end = now_ms() + opt_wait_ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t r;

	stream_fill(seed, off, out, sizeof(out));
	r = send(fd, out, sizeof(out), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r != (ssize_t)sizeof(out))
		return r < 0 && (errno == ECONNRESET || errno == EPIPE) ?
		       C_RESET : C_OTHER;
	while (got < sizeof(in)) {
		int64_t ms = end - now_ms();

		if (ms <= 0)
			return C_TIMEOUT;
		if (poll(&p, 1, (int)ms) < 0 && errno != EINTR)
			return C_OTHER;
		r = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
		if (r == 0)
			return C_RESET;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return errno == ECONNRESET ? C_RESET : C_OTHER;
		}
		got += r;
	}
	return memcmp(in, out, sizeof(in)) ? C_MISMATCH : C_OK;
}

/**
 * mode_hold() - hold HOST PORT N
 * @host:	Address
 * @port:	Port
 * @nstr:	Connection count
 *
 * Return: exit status
 */
static int mode_hold(const char *host, const char *port, const char *nstr)
{
	unsigned long count[C_MAX] = { 0 }, count2[C_MAX] = { 0 };
	int64_t nn, t, max_fail_ms = 0, idle_end;
	long first_fail = -1, open = 0;
	struct sockaddr_storage ss;
	unsigned n, i;
	socklen_t sl;
	int *fds, rc;

	if (parse_num(nstr, &nn) || nn == 0 ||
	    resolve(opt_family, SOCK_STREAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	n = nn;
	raise_nofile();
	fds = calloc(n, sizeof(*fds));
	if (!fds)
		return EXIT_USAGE;

	for (i = 0; i < n; i++) {
		enum cresult res;

		fds[i] = -1;
		if (now_ms() >= deadline_ms || got_term) {
			count[C_TIMEOUT] += n - i;
			if (first_fail < 0)
				first_fail = i;
			break;
		}
		t = now_ms();
		rc = connect_start(&ss, sl);
		if (rc >= 0) {
			fds[i] = rc;
			rc = connect_wait(rc, opt_wait_ms);
		}
		if (rc < 0)
			res = rc == -ECONNREFUSED ? C_REFUSED :
			      rc == -ECONNRESET ? C_RESET :
			      rc == -ETIMEDOUT ? C_TIMEOUT : C_OTHER;
		else
			res = roundtrip(fds[i], opt_seed + i, 0);
		count[res]++;
		if (res != C_OK) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
			if (first_fail < 0)
				first_fail = i;
			if (now_ms() - t > max_fail_ms)
				max_fail_ms = now_ms() - t;
		} else {
			open++;
		}
	}
	printf("phase1 n=%u", n);
	for (i = 0; i < C_MAX; i++)
		printf(" %s=%lu", cresult_name[i], count[i]);
	printf(" first_fail=%ld max_fail_ms=%" PRId64 "\n", first_fail,
	       max_fail_ms);
	printf("ready\n");
	fflush(stdout);

	idle_end = opt_idle_ms >= 0 ? now_ms() + opt_idle_ms : deadline_ms;
	if (idle_end > deadline_ms)
		idle_end = deadline_ms;
	while (!got_usr1 && !got_term && now_ms() < idle_end)
		poll(NULL, 0, 50);

	for (i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		count2[roundtrip(fds[i], opt_seed + i, HOLD_RTT_BYTES)]++;
	}
	printf("phase2 open=%ld", open);
	for (i = 0; i < C_MAX; i++)
		printf(" %s=%lu", cresult_name[i], count2[i]);
	printf("\n");
	fflush(stdout);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return count[C_OK] == n && count2[C_OK] == n ? EXIT_OK : EXIT_FAIL;
}

/* ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
"Usage: tcp_stream [OPTION]... connect HOST PORT\n"
"       tcp_stream [OPTION]... listen PORT\n"
"       tcp_stream [OPTION]... echo|sink PORT\n"
"       tcp_stream [OPTION]... conns HOST PORT N BYTES\n"
"       tcp_stream [OPTION]... hold HOST PORT N\n"
"Options: -4 -6 -b ADDR -t SECS -x SEED -l BYTES -s BYTES -d SECS -a -r\n"
"         -e BYTES -p MS@AT -R -N -K BYTES -H -X eof|reset|refused|fail -c N -w MS\n"
"         -i SECS -n N   (see the comment at the top of tcp_stream.c)\n");
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int64_t v;
	uint64_t u;
	char *at;
	int opt;

	while ((opt = getopt(argc, argv, "46b:t:x:l:s:d:are:p:RNK:HX:c:w:i:n:")) !=
	       -1) {
		switch (opt) {
		case '4': opt_family = AF_INET; break;
		case '6': opt_family = AF_INET6; break;
		case 'b': opt_bind = optarg; break;
		case 't':
			if (parse_num(optarg, &v))
				usage();
			opt_timeout_ms = v * 1000;
			break;
		case 'x':
			if (parse_size(optarg, &opt_seed))
				usage();
			break;
		case 'l':
			if (parse_size(optarg, &u) || !u || u > (64 << 20))
				usage();
			opt_len = u;
			break;
		case 's':
			if (parse_size(optarg, &opt_send))
				usage();
			break;
		case 'd':
			if (parse_num(optarg, &v))
				usage();
			opt_send_ms = v * 1000;
			break;
		case 'a': opt_after_eof = true; break;
		case 'r': opt_verify = true; break;
		case 'e':
			if (parse_size(optarg, &u))
				usage();
			opt_expect = u;
			break;
		case 'p':
			at = strchr(optarg, '@');
			if (!at)
				usage();
			*at = '\0';
			if (parse_num(optarg, &opt_pause_ms) ||
			    parse_size(at + 1, &opt_pause_at))
				usage();
			break;
		case 'R': opt_rst = true; break;
		case 'H': opt_shut_now = true; break;
		case 'N': opt_no_shut = true; break;
		case 'K':
			if (parse_size(optarg, &opt_kill_at) || !opt_kill_at)
				usage();
			break;
		case 'X':
			if (strcmp(optarg, "eof") && strcmp(optarg, "reset") &&
			    strcmp(optarg, "refused") && strcmp(optarg, "fail"))
				usage();
			opt_end = optarg;
			break;
		case 'c':
			if (parse_num(optarg, &v) || !v)
				usage();
			opt_conc = v;
			break;
		case 'w':
			if (parse_num(optarg, &opt_wait_ms))
				usage();
			break;
		case 'i':
			if (parse_num(optarg, &v))
				usage();
			opt_idle_ms = v * 1000;
			break;
		case 'n':
			if (parse_num(optarg, &v))
				usage();
			opt_nconns = v;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	start_ms = now_ms();
	deadline_ms = start_ms + opt_timeout_ms;

	if (!strcmp(argv[0], "connect") && argc == 3)
		return mode_connect(argv[1], argv[2]);
	if (!strcmp(argv[0], "listen") && argc == 2)
		return mode_listen(argv[1]);
	if (!strcmp(argv[0], "echo") && argc == 2)
		return mode_server(argv[1], true);
	if (!strcmp(argv[0], "sink") && argc == 2)
		return mode_server(argv[1], false);
	if (!strcmp(argv[0], "conns") && argc == 5)
		return mode_conns(argv[1], argv[2], argv[3], argv[4]);
	if (!strcmp(argv[0], "hold") && argc == 4)
		return mode_hold(argv[1], argv[2], argv[3]);
	usage();
	return EXIT_USAGE;
}
