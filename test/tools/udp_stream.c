/* test/tools/udp_stream.c - UDP test endpoint: sequence-numbered, verified
 * datagrams, echo servers with delayed replies, many flows, port
 * unreachable, and a tiny DNS responder and client
 *
 * Theory of operation
 * A flow is one socket pair; all its datagrams have the same size. The
 * content of datagram number SEQ of size LEN is a function of (seed, LEN,
 * SEQ): with LEN >= 8, the first 8 bytes hold SEQ (little endian) and the
 * rest is the SplitMix64 stream of the seed at offset SEQ * LEN + 8, so a
 * receiver reads the number and checks every other byte against what it
 * regenerates: an altered datagram is "corrupt", a number seen before a
 * "dup", a number below the highest seen a "reorder", a number never seen
 * a "lost". With 1 <= LEN < 8 the bytes hold the low bits of SEQ and the
 * receiver takes the number nearest to the one it expects next; with LEN
 * 0 only the count is known (more than sent: duplicates). A size change
 * within a flow is corruption too.
 *
 * Usage: udp_stream [OPTION]... MODE ARG...
 *   send HOST PORT	 one connected socket per size of -z, -n datagrams
 *			 on each, round robin, paced at -r datagrams per
 *			 second in all (0: as fast as possible); with -E,
 *			 the echoes coming back on each socket are verified
 *			 as a receiver would, until all are in or -i MS
 *			 passed without one
 *   recv PORT		 verify what arrives, one flow per source address
 *			 and port; ends once -f flows each got all -n
 *			 datagrams (then 200 ms more for late duplicates), or
 *			 -i MS after the last datagram; -X none: succeed
 *			 only if nothing arrives within -i MS
 *   echo PORT		 send every datagram back to its source, from the
 *			 address it was sent to (IP_PKTINFO); -D MS,...
 *			 also sends it again after each delay (at most
 *			 1024 pending, 2 KiB each)
 *   flows HOST PORT N	 N connected sockets (N source ports), each sends
 *			 one 16-byte datagram to an echo server and waits for
 *			 its own echo; unanswered ones are sent again, for
 *			 -y rounds in all, each round waiting -w MS
 *   unreach HOST PORT	 connected socket: send, expect ECONNREFUSED on
 *			 the next receive (the ICMP error came back); sends
 *			 again every 500 ms until the timeout
 *   late HOST PORT	 send one datagram to an echo server, note when
 *			 every reply arrives over -i MS, then send another on
 *			 the same socket and wait -w MS for its echo
 *   dnsd PORT		 answer DNS queries: A with -A ADDR, AAAA with
 *			 -Q ADDR, anything else with no answer
 *   query HOST PORT NAME  one DNS query (type -q A|AAAA), sent again
 *			 every 500 ms until an answer or the timeout
 * Options:
 *	-4, -6	   address family (default: from HOST; servers listen on
 *		   both families unless one is given, or -b)
 *	-b ADDR	   address a server binds, or a client sends from
 *	-t SECS	   give up after SECS seconds (default 60): exit status 3
 *	-x SEED	   content seed (default 1), the same on both ends
 *	-z SIZES   send: comma list of datagram sizes, one flow each
 *		   (default 1400; 0 to 65507)
 *	-n N	   send: datagrams per flow; recv: expected per flow
 *	-f N	   recv: flows expected
 *	-r RATE	   send, flows: datagrams per second in all (default 0)
 *	-k N	   send: the rate paces bursts of N datagrams, sent back
 *		   to back (default 1)
 *	-E	   send: verify echoes
 *	-L	   send -E, recv: losses are reported, not failures
 *	-i MS	   idle end of recv and send -E (default 2000); late:
 *		   how long to collect replies
 *	-w MS	   flows: wait per round (default 2000); late: wait for
 *		   the second echo (default 2000)
 *	-y N	   flows: rounds (default 3)
 *	-D MS,...  echo: delayed replies
 *	-B	   send: allow broadcast destinations (SO_BROADCAST)
 *	-J GROUP%IF  recv: join a multicast group on an interface
 *	-X none	   recv: expect nothing
 *	-A, -Q ADDR  dnsd: the IPv4 / IPv6 answer
 *	-q TYPE	   query: A (default) or AAAA
 *
 * Output: servers first print "listening PORT". Each mode then prints
 * lines of key=value pairs; a failure is explained on a line starting
 * with "error:". Exit status: 0 as expected, 1 failure (loss, corruption,
 * duplicate, reordering, no answer), 2 usage or set-up error, 3 timeout.
 *
 * System calls: socket, setsockopt, bind, connect, sendto, send, sendmsg,
 * recvfrom, recvmsg, recv, poll, ppoll, epoll_create1, epoll_ctl,
 * epoll_wait, close, setrlimit, sigaction, clock_gettime, if_nametoindex.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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

#define DGRAM_MAX	65535		/* receive buffer: beyond any datagram */
#define SEND_FLOWS_MAX	16
#define RECV_FLOWS_MAX	1024
#define SEQ_LIMIT	(1ULL << 28)	/* without -n: bounds the bitmaps */
#define SOCK_BUF	(4 << 20)
#define FLOWS_DGRAM	16
#define DELAY_SLOTS	1024
#define DELAY_DATA	2048
#define DELAYS_MAX	8
#define LINGER_MS	200

/* Options */
static int opt_family = AF_UNSPEC;
static const char *opt_bind;
static int64_t opt_timeout_ms = 60000;
static uint64_t opt_seed = 1;
static size_t opt_sizes[SEND_FLOWS_MAX] = { 1400 };
static unsigned opt_nsizes = 1;
static uint64_t opt_count;
static unsigned opt_flows;
static uint64_t opt_rate;
static uint64_t opt_burst = 1;
static bool opt_echo;
static bool opt_allow_loss;
static int64_t opt_idle_ms = 2000;
static int64_t opt_wait_ms = 2000;
static unsigned opt_rounds = 3;
static int64_t opt_delays[DELAYS_MAX];
static unsigned opt_ndelays;
static bool opt_broadcast;
static const char *opt_join;
static bool opt_expect_none;
static const char *opt_answer4, *opt_answer6;
static uint16_t opt_qtype = 1;

static int64_t start_ms, deadline_ms;
static volatile sig_atomic_t got_term;

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
 * min_ms() - The smaller of two timeouts, at least 0
 * @a:		Milliseconds
 * @b:		Milliseconds
 *
 * Return: milliseconds
 */
static int min_ms(int64_t a, int64_t b)
{
	int64_t m = a < b ? a : b;

	return m < 0 ? 0 : (int)m;
}

static void on_signal(int sig)
{
	(void)sig;
	got_term = 1;
}

/* ---------------------------------------------------------------- */
/* Datagram content */

/**
 * dgram_fill() - Content of datagram @seq of size @len
 * @buf:	Destination, @len bytes
 * @len:	Datagram size
 * @seq:	Sequence number
 */
static void dgram_fill(uint8_t *buf, size_t len, uint64_t seq)
{
	size_t i;

	for (i = 0; i < len && i < 8; i++)
		buf[i] = seq >> (8 * i);
	if (len > 8)
		stream_fill(opt_seed ^ ((uint64_t)len << 40), seq * len + 8,
			    buf + 8, len - 8);
}

/**
 * struct vflow - What a receiver knows of one flow
 * @peer:	Source address (recv), unused for echoes
 * @plen:	Its length
 * @len:	Datagram size, -1 before the first
 * @recv:	Datagrams received
 * @bytes:	Bytes received
 * @distinct:	Distinct sequence numbers accepted
 * @dup:	Sequence numbers seen again
 * @reorder:	Sequence numbers below the highest seen before
 * @corrupt:	Datagrams with wrong content or size
 * @hi:		Highest sequence number seen plus one
 * @seen:	Bitmap of sequence numbers seen
 * @seen_bits:	Its size
 * @err:	First corruption, described
 */
struct vflow {
	struct sockaddr_storage peer;
	socklen_t plen;
	int64_t len;
	uint64_t recv, bytes, distinct, dup, reorder, corrupt, hi;
	uint8_t *seen;
	uint64_t seen_bits;
	char err[160];
};

/**
 * vflow_mark() - Mark a sequence number seen
 * @v:		Flow
 * @seq:	Sequence number, below SEQ_LIMIT or the -n count
 *
 * Return: true if it was seen before
 */
static bool vflow_mark(struct vflow *v, uint64_t seq)
{
	uint64_t bits;
	uint8_t *p;
	bool was;

	if (seq >= v->seen_bits) {
		bits = v->seen_bits ? v->seen_bits * 2 : 8192;
		while (bits <= seq)
			bits *= 2;
		p = realloc(v->seen, bits / 8);
		if (!p) {
			fprintf(stderr, "error: out of memory\n");
			exit(EXIT_USAGE);
		}
		memset(p + v->seen_bits / 8, 0, (bits - v->seen_bits) / 8);
		v->seen = p;
		v->seen_bits = bits;
	}
	was = v->seen[seq / 8] & (1 << (seq % 8));
	v->seen[seq / 8] |= 1 << (seq % 8);
	return was;
}

/**
 * vflow_corrupt() - Count a corrupt datagram, describe the first one
 * @v:		Flow
 * @fmt:	Description
 */
static void __attribute__((format(printf, 2, 3)))
vflow_corrupt(struct vflow *v, const char *fmt, ...)
{
	va_list ap;

	if (!v->corrupt++) {
		va_start(ap, fmt);
		vsnprintf(v->err, sizeof(v->err), fmt, ap);
		va_end(ap);
	}
}

/**
 * vflow_verify() - Check one received datagram of a flow
 * @v:		Flow
 * @buf:	Datagram
 * @n:		Its size
 */
static void vflow_verify(struct vflow *v, const uint8_t *buf, size_t n)
{
	static uint8_t xbuf[DGRAM_MAX];
	uint64_t limit = opt_count ? opt_count : SEQ_LIMIT, seq = 0;
	size_t i;

	v->recv++;
	v->bytes += n;
	if (v->len < 0) {
		v->len = n;
	} else if ((int64_t)n != v->len) {
		vflow_corrupt(v, "size %zu in a flow of %" PRId64 "-byte "
			      "datagrams", n, v->len);
		return;
	}
	if (!n)
		return;

	if (n < 8) {
		uint64_t mask = (1ULL << (8 * n)) - 1, low = 0;
		int64_t d;

		for (i = 0; i < n; i++)
			low |= (uint64_t)buf[i] << (8 * i);
		/* The number nearest to the next one expected */
		d = (int64_t)((low - v->hi) & mask);
		if (d > (int64_t)(mask >> 1))
			d -= (int64_t)mask + 1;
		if ((int64_t)v->hi + d < 0) {
			vflow_corrupt(v, "%zu-byte datagram 0x%" PRIx64
				      " before the first", n, low);
			return;
		}
		seq = v->hi + d;
	} else {
		for (i = 0; i < 8; i++)
			seq |= (uint64_t)buf[i] << (8 * i);
		if (seq < limit) {
			dgram_fill(xbuf, n, seq);
			if (memcmp(buf, xbuf, n)) {
				for (i = 0; buf[i] == xbuf[i]; i++)
					;
				vflow_corrupt(v, "datagram %" PRIu64 " of %zu"
					      " bytes: byte %zu is 0x%02x, "
					      "expected 0x%02x", seq, n, i,
					      buf[i], xbuf[i]);
				return;
			}
		}
	}
	if (seq >= limit) {
		vflow_corrupt(v, "sequence number %" PRIu64 " beyond %" PRIu64,
			      seq, limit);
		return;
	}
	if (vflow_mark(v, seq)) {
		v->dup++;
		return;
	}
	v->distinct++;
	if (seq < v->hi)
		v->reorder++;
	else
		v->hi = seq + 1;
}

/**
 * vflow_complete() - Has a flow got every datagram expected?
 * @v:		Flow
 *
 * Return: true if so (never without -n)
 */
static bool vflow_complete(const struct vflow *v)
{
	if (!opt_count)
		return false;
	if (v->len == 0)
		return v->recv >= opt_count;
	return v->distinct >= opt_count;
}

/**
 * struct vsum - Totals over flows
 */
struct vsum {
	uint64_t recv, bytes, lost, dup, reorder, corrupt;
};

/**
 * vflow_report() - Print a flow's line, add it to the totals
 * @v:		Flow
 * @name:	Flow name
 * @sum:	Totals, updated
 *
 * Return: true if the flow is good
 */
static bool vflow_report(const struct vflow *v, const char *name,
			 struct vsum *sum)
{
	uint64_t distinct = v->distinct, dup = v->dup, lost = 0;
	bool ok;

	if (v->len == 0) {
		distinct = v->recv;
		if (opt_count && distinct > opt_count) {
			dup += distinct - opt_count;
			distinct = opt_count;
		}
	}
	if (opt_count && distinct < opt_count)
		lost = opt_count - distinct;

	printf("flow %s len=%" PRId64 " recv=%" PRIu64 " bytes=%" PRIu64
	       " lost=%" PRIu64 " dup=%" PRIu64 " reorder=%" PRIu64
	       " corrupt=%" PRIu64 "\n", name, v->len, v->recv, v->bytes,
	       lost, dup, v->reorder, v->corrupt);
	if (v->corrupt)
		printf("error: flow %s: %" PRIu64 " corrupt, first: %s\n", name,
		       v->corrupt, v->err);

	sum->recv += v->recv;
	sum->bytes += v->bytes;
	sum->lost += lost;
	sum->dup += dup;
	sum->reorder += v->reorder;
	sum->corrupt += v->corrupt;
	ok = !v->corrupt && !dup && !v->reorder &&
	     (opt_allow_loss || !lost);
	return ok;
}

/* ---------------------------------------------------------------- */
/* Sockets */

/**
 * parse_list() - Parse a comma list of non-negative numbers
 * @s:		Text
 * @v:		Values, set on success
 * @max:	Room in @v
 *
 * Return: count, or -1 on a malformed list
 */
static int parse_list(const char *s, int64_t *v, unsigned max)
{
	char buf[256], *tok, *save;
	unsigned n = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n >= max || parse_num(tok, &v[n]))
			return -1;
		n++;
	}
	return n ? (int)n : -1;
}

/**
 * sock_bufs() - Large socket buffers, as far as net.core.*mem_max allow
 * @fd:		Socket
 */
static void sock_bufs(int fd)
{
	int v = SOCK_BUF;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/**
 * join_group() - Join the multicast group of -J GROUP%IF
 * @fd:		Socket
 * @family:	Its family
 *
 * Return: 0 on success, -1 on error (printed)
 */
static int join_group(int fd, int family)
{
	char group[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], *pct;
	unsigned ifindex = 0;
	int rc = -1;

	snprintf(group, sizeof(group), "%s", opt_join);
	pct = strchr(group, '%');
	if (pct) {
		*pct = '\0';
		ifindex = if_nametoindex(pct + 1);
		if (!ifindex) {
			fprintf(stderr, "error: no interface %s\n", pct + 1);
			return -1;
		}
	}
	if (family == AF_INET) {
		struct ip_mreqn m = { .imr_ifindex = ifindex };

		if (inet_pton(AF_INET, group, &m.imr_multiaddr) == 1)
			rc = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m,
					sizeof(m));
	} else {
		struct ipv6_mreq m = { .ipv6mr_interface = ifindex };

		if (inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr) == 1)
			rc = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m,
					sizeof(m));
	}
	if (rc)
		fprintf(stderr, "error: join %s: %s\n", opt_join,
			strerror(errno));
	return rc;
}

/**
 * server_socket() - Bind a server socket, print "listening PORT"
 * @port:	Port text
 *
 * Return: socket, or -1 on error (printed)
 */
static int server_socket(const char *port)
{
	const char *host = opt_bind;
	struct sockaddr_storage ss;
	int fd, one = 1, v6only;
	socklen_t sl;

	if (!host)
		host = opt_family == AF_INET ? "0.0.0.0" : "::";
	if (resolve(opt_family, SOCK_DGRAM, host, port, &ss, &sl))
		return -1;

	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("error: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		v6only = opt_family == AF_INET6 || opt_bind;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			   sizeof(v6only));
	}
	sock_bufs(fd);
	if (bind(fd, (struct sockaddr *)&ss, sl)) {
		fprintf(stderr, "error: bind %s port %s: %s\n", host, port,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (opt_join && join_group(fd, ss.ss_family)) {
		close(fd);
		return -1;
	}
	set_nonblock(fd);
	printf("listening %s\n", port);
	fflush(stdout);
	return fd;
}

/**
 * client_socket() - A non-blocking socket connected to a destination, from
 * the -b address if given
 * @ss:		Destination
 * @sl:		Its length
 *
 * Return: socket, or -errno
 */
static int client_socket(const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd, one = 1, rc;

	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	if (opt_bind) {
		struct sockaddr_storage la;
		socklen_t ll;

		if (resolve(opt_family, SOCK_DGRAM, opt_bind, "0", &la, &ll)) {
			close(fd);
			return -EINVAL;
		}
		if (bind(fd, (struct sockaddr *)&la, ll)) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	if (opt_broadcast)
		setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)ss, sl)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/**
 * wait_in() - Wait until one of some sockets is readable, or a timeout
 * @p:		poll entries (POLLIN set)
 * @n:		Their count
 * @ns:		Timeout, nanoseconds
 *
 * Return: poll's result
 */
static int wait_in(struct pollfd *p, unsigned n, int64_t ns)
{
	struct timespec ts;

	if (ns < 0)
		ns = 0;
	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	return ppoll(p, n, &ts, NULL);
}

/* ---------------------------------------------------------------- */
/* send */

/**
 * send_drain() - Verify the echoes waiting on the sockets of send -E
 * @fds:	Sockets
 * @v:		Flows, one per socket
 * @n:		Count
 * @refused:	ECONNREFUSED seen, updated
 *
 * Return: datagrams read
 */
static unsigned send_drain(const int *fds, struct vflow *v, unsigned n,
			   uint64_t *refused)
{
	static uint8_t buf[DGRAM_MAX];
	unsigned i, got = 0;
	ssize_t r;

	for (i = 0; i < n; i++) {
		for (;;) {
			r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
			if (r < 0) {
				if (errno == ECONNREFUSED)
					(*refused)++;
				if (errno == ECONNREFUSED || errno == EINTR)
					continue;
				break;
			}
			vflow_verify(&v[i], buf, r);
			got++;
		}
	}
	return got;
}

/**
 * mode_send() - send HOST PORT
 * @host:	Destination address
 * @port:	Destination port
 *
 * Return: exit status
 */
static int mode_send(const char *host, const char *port)
{
	uint64_t total = opt_count * opt_nsizes, k, sent = 0, bytes = 0;
	uint64_t refused = 0, failed = 0;
	static struct vflow v[SEND_FLOWS_MAX];
	static uint8_t buf[DGRAM_MAX];
	struct pollfd p[SEND_FLOWS_MAX];
	int fds[SEND_FLOWS_MAX], err = 0;
	int64_t t0 = now_ns(), last, idle_end;
	struct sockaddr_storage ss;
	bool ok = true, timeout = false;
	struct vsum sum = { 0 };
	char name[32];
	socklen_t sl;
	unsigned i;

	if (!opt_count || resolve(opt_family, SOCK_DGRAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	for (i = 0; i < opt_nsizes; i++) {
		fds[i] = client_socket(&ss, sl);
		if (fds[i] < 0) {
			fprintf(stderr, "error: socket to %s port %s: %s\n",
				host, port, strerror(-fds[i]));
			return EXIT_USAGE;
		}
		sock_bufs(fds[i]);
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		v[i].len = -1;
	}

	for (k = 0; k < total && !got_term; k++) {
		unsigned f = k % opt_nsizes;
		size_t len = opt_sizes[f];
		ssize_t r;

		if (opt_rate) {
			uint64_t first = k / opt_burst * opt_burst;
			int64_t due = t0 + (int64_t)(first * 1000000000ULL /
						     opt_rate);

			while (now_ns() < due && !got_term) {
				if (opt_echo)
					wait_in(p, opt_nsizes, due - now_ns());
				else
					wait_in(NULL, 0, due - now_ns());
				if (opt_echo)
					send_drain(fds, v, opt_nsizes,
						   &refused);
			}
		}
		if (now_ms() >= deadline_ms) {
			timeout = true;
			break;
		}
		dgram_fill(buf, len, k / opt_nsizes);
		for (;;) {
			r = send(fds[f], buf, len, MSG_NOSIGNAL);
			if (r >= 0)
				break;
			if (errno == ECONNREFUSED) {
				refused++;
				continue;
			}
			if (errno == EAGAIN || errno == ENOBUFS ||
			    errno == EINTR) {
				struct pollfd po = { .fd = fds[f],
						     .events = POLLOUT };

				if (now_ms() >= deadline_ms)
					break;
				if (errno == ENOBUFS)
					wait_in(NULL, 0, 200000);
				else
					poll(&po, 1, 10);
				if (opt_echo)
					send_drain(fds, v, opt_nsizes,
						   &refused);
				continue;
			}
			break;
		}
		if (r < 0) {
			if (!failed++)
				err = errno;
			continue;
		}
		sent++;
		bytes += r;
		if (opt_echo && !(k % 8))
			send_drain(fds, v, opt_nsizes, &refused);
	}
	printf("sent=%" PRIu64 " bytes=%" PRIu64 " flows=%u failed=%" PRIu64
	       " refused=%" PRIu64 " ms=%" PRId64 "\n", sent, bytes,
	       opt_nsizes, failed, refused, (now_ns() - t0) / 1000000);
	if (failed)
		printf("error: %" PRIu64 " sends failed, first: %s\n", failed,
		       strerror(err));
	if (refused)
		printf("error: %" PRIu64 " ECONNREFUSED: nobody listening\n",
		       refused);
	ok = sent == total && !refused && !timeout;
	if (timeout)
		printf("error: timeout after %" PRIu64 " of %" PRIu64 "\n",
		       sent, total);

	if (opt_echo) {
		bool all;

		last = now_ms();
		for (;;) {
			if (send_drain(fds, v, opt_nsizes, &refused))
				last = now_ms();
			for (all = true, i = 0; i < opt_nsizes; i++)
				all = all && vflow_complete(&v[i]);
			if (all || got_term)
				break;
			idle_end = last + opt_idle_ms;
			if (now_ms() >= idle_end || now_ms() >= deadline_ms)
				break;
			poll(p, opt_nsizes, min_ms(idle_end - now_ms(),
						   left_ms(deadline_ms)));
		}
		if (all) {	/* late duplicates */
			idle_end = now_ms() + LINGER_MS;
			while (now_ms() < idle_end) {
				poll(p, opt_nsizes, min_ms(idle_end - now_ms(),
							   LINGER_MS));
				send_drain(fds, v, opt_nsizes, &refused);
			}
		}
		for (i = 0; i < opt_nsizes; i++) {
			snprintf(name, sizeof(name), "echo%u", i);
			if (!vflow_report(&v[i], name, &sum))
				ok = false;
		}
		printf("echo recv=%" PRIu64 " bytes=%" PRIu64 " lost=%" PRIu64
		       " dup=%" PRIu64 " reorder=%" PRIu64 " corrupt=%" PRIu64
		       " ms=%" PRId64 "\n", sum.recv, sum.bytes, sum.lost,
		       sum.dup, sum.reorder, sum.corrupt,
		       (now_ns() - t0) / 1000000);
	}
	fflush(stdout);
	for (i = 0; i < opt_nsizes; i++)
		close(fds[i]);
	if (timeout)
		return EXIT_TIMEOUT;
	return ok ? EXIT_OK : EXIT_FAIL;
}

/* ---------------------------------------------------------------- */
/* recv */

/**
 * same_addr() - Do two socket addresses match (address and port)?
 * @a:		Address
 * @b:		Address
 *
 * Return: true if they do
 */
static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	return false;
}

/**
 * mode_recv() - recv PORT
 * @port:	Port
 *
 * Return: exit status
 */
static int mode_recv(const char *port)
{
	static struct vflow v[RECV_FLOWS_MAX];
	static uint8_t buf[DGRAM_MAX];
	int64_t t0, last = -1, end, linger = -1;
	uint64_t extra = 0, others = 0;
	struct sockaddr_storage ss;
	unsigned nflows = 0, i, done;
	struct vsum sum = { 0 };
	bool ok = true, timeout = false;
	struct pollfd p;
	char name[64];
	socklen_t sl;
	ssize_t r;
	int fd;

	fd = server_socket(port);
	if (fd < 0)
		return EXIT_USAGE;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	t0 = now_ms();

	while (!got_term) {
		if (linger >= 0)
			end = linger;
		else if (opt_expect_none)
			end = t0 + opt_idle_ms;
		else if (last >= 0)
			end = last + opt_idle_ms;
		else
			end = deadline_ms;
		if (end > deadline_ms)
			end = deadline_ms;
		if (now_ms() >= end) {
			timeout = linger < 0 && !opt_expect_none &&
				  (last < 0 || end == deadline_ms) &&
				  now_ms() >= deadline_ms;
			break;
		}
		poll(&p, 1, min_ms(end - now_ms(), 1000));
		for (;;) {
			sl = sizeof(ss);
			r = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&ss, &sl);
			if (r < 0)
				break;
			last = now_ms();
			for (i = 0; i < nflows; i++)
				if (same_addr(&v[i].peer, &ss))
					break;
			if (i == nflows) {
				if (nflows == RECV_FLOWS_MAX) {
					others++;
					continue;
				}
				v[i].peer = ss;
				v[i].plen = sl;
				v[i].len = -1;
				nflows++;
			}
			vflow_verify(&v[i], buf, r);
		}
		if (linger < 0 && opt_count && opt_flows &&
		    nflows >= opt_flows) {
			for (done = 0, i = 0; i < nflows; i++)
				done += vflow_complete(&v[i]);
			if (done >= opt_flows)
				linger = now_ms() + LINGER_MS;
		}
	}

	for (i = 0; i < nflows; i++) {
		if (!vflow_report(&v[i], addr_str(&v[i].peer, name,
						   sizeof(name)), &sum))
			ok = false;
	}
	if (opt_flows > nflows) {
		extra = (uint64_t)(opt_flows - nflows) * opt_count;
		sum.lost += extra;
		printf("error: %u flows expected, %u seen\n", opt_flows,
		       nflows);
		ok = false;
	} else if (opt_flows && nflows > opt_flows) {
		printf("error: %u flows expected, %u seen\n", opt_flows,
		       nflows);
		ok = false;
	}
	if (others) {
		printf("error: %" PRIu64 " datagrams from too many sources\n",
		       others);
		ok = false;
	}
	if (opt_expect_none && sum.recv) {
		printf("error: %" PRIu64 " datagrams arrived, none expected\n",
		       sum.recv);
		ok = false;
	}
	printf("flows=%u recv=%" PRIu64 " bytes=%" PRIu64 " lost=%" PRIu64
	       " dup=%" PRIu64 " reorder=%" PRIu64 " corrupt=%" PRIu64
	       " end=%s ms=%" PRId64 "\n", nflows, sum.recv, sum.bytes,
	       sum.lost, sum.dup, sum.reorder, sum.corrupt,
	       got_term ? "signal" : linger >= 0 ? "done" :
	       timeout ? "timeout" : "idle", now_ms() - t0);
	fflush(stdout);
	close(fd);
	if (timeout && !opt_expect_none)
		return EXIT_TIMEOUT;
	return ok ? EXIT_OK : EXIT_FAIL;
}

/* ---------------------------------------------------------------- */
/* echo */

/**
 * struct reply_src - Destination address of a received datagram, to
 * answer from it (a server bound to any address would otherwise answer
 * from the address of the route back)
 * @cbuf:	Control message for sendmsg(), IP_PKTINFO or IPV6_PKTINFO
 * @clen:	Its length, 0 if none
 */
struct reply_src {
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cbuf;
	size_t clen;
};

/**
 * pktinfo_on() - Ask for the destination address of received datagrams
 * @fd:		Socket
 */
static void pktinfo_on(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

/**
 * recv_from() - Receive a datagram, its source and its destination
 * @fd:		Socket, with pktinfo_on()
 * @buf:	Buffer
 * @size:	Its size
 * @ss:		Source, set
 * @sl:		Its length, set
 * @rs:		Destination, as a control message to answer from it
 *
 * Return: recvmsg()'s result
 */
static ssize_t recv_from(int fd, void *buf, size_t size,
			 struct sockaddr_storage *ss, socklen_t *sl,
			 struct reply_src *rs)
{
	union {
		char buf[256];
		struct cmsghdr align;
	} in;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = {
		.msg_name = ss, .msg_namelen = sizeof(*ss),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = in.buf, .msg_controllen = sizeof(in.buf),
	};
	struct cmsghdr *c, *out;
	ssize_t r;

	rs->clen = 0;
	r = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (r < 0)
		return r;
	*sl = mh.msg_namelen;
	out = (struct cmsghdr *)rs->cbuf.buf;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			out->cmsg_level = IPPROTO_IP;
			out->cmsg_type = IP_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(out), &pi, sizeof(pi));
			rs->clen = CMSG_SPACE(sizeof(pi));
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			/* Keep the interface only for link-local scope */
			if (!IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				pi.ipi6_ifindex = 0;
			out->cmsg_level = IPPROTO_IPV6;
			out->cmsg_type = IPV6_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(out), &pi, sizeof(pi));
			rs->clen = CMSG_SPACE(sizeof(pi));
		}
	}
	return r;
}

/**
 * send_to() - Answer a datagram from the address it was sent to
 * @fd:		Socket
 * @buf:	Data
 * @len:	Its length
 * @ss:		Destination
 * @sl:		Its length
 * @rs:		Source, from recv_from()
 *
 * Return: sendmsg()'s result
 */
static ssize_t send_to(int fd, const void *buf, size_t len,
		       const struct sockaddr_storage *ss, socklen_t sl,
		       const struct reply_src *rs)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = (void *)ss, .msg_namelen = sl,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = rs->clen ? (void *)rs->cbuf.buf : NULL,
		.msg_controllen = rs->clen,
	};

	return sendmsg(fd, &mh, 0);
}

/**
 * struct delayed - A reply the echo server sends later
 * @due:	When, milliseconds
 * @peer:	Destination
 * @plen:	Its length
 * @rs:		Our address it was sent to
 * @len:	Data length
 * @data:	Data
 */
struct delayed {
	int64_t due;
	struct sockaddr_storage peer;
	socklen_t plen;
	struct reply_src rs;
	size_t len;
	uint8_t data[DELAY_DATA];
};

/**
 * mode_echo() - echo PORT
 * @port:	Port
 *
 * Return: exit status
 */
static int mode_echo(const char *port)
{
	static struct delayed q[DELAY_SLOTS];
	static uint8_t buf[DGRAM_MAX];
	struct reply_src rs;
	uint64_t echoed = 0, bytes = 0, delayed = 0, dropped = 0, failed = 0;
	struct sockaddr_storage ss;
	int64_t next, now;
	unsigned nq = 0, i, j;
	struct pollfd p;
	socklen_t sl;
	ssize_t r;
	int fd;

	fd = server_socket(port);
	if (fd < 0)
		return EXIT_USAGE;
	pktinfo_on(fd);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };

	while (!got_term && now_ms() < deadline_ms) {
		now = now_ms();
		next = deadline_ms;
		for (i = 0; i < nq; ) {
			if (q[i].due <= now) {
				if (send_to(fd, q[i].data, q[i].len,
					    &q[i].peer, q[i].plen,
					    &q[i].rs) < 0)
					failed++;
				else
					delayed++;
				q[i] = q[--nq];
				continue;
			}
			if (q[i].due < next)
				next = q[i].due;
			i++;
		}
		poll(&p, 1, min_ms(next - now, left_ms(deadline_ms)));
		for (i = 0; i < 256; i++) {
			r = recv_from(fd, buf, sizeof(buf), &ss, &sl, &rs);
			if (r < 0)
				break;
			if (send_to(fd, buf, r, &ss, sl, &rs) < 0)
				failed++;
			echoed++;
			bytes += r;
			for (j = 0; j < opt_ndelays; j++) {
				if (nq == DELAY_SLOTS || r > DELAY_DATA) {
					dropped++;
					continue;
				}
				q[nq].due = now_ms() + opt_delays[j];
				q[nq].peer = ss;
				q[nq].plen = sl;
				q[nq].rs = rs;
				q[nq].len = r;
				memcpy(q[nq].data, buf, r);
				nq++;
			}
		}
	}
	printf("echoed=%" PRIu64 " bytes=%" PRIu64 " delayed=%" PRIu64
	       " dropped=%" PRIu64 " failed=%" PRIu64 " end=%s\n", echoed,
	       bytes, delayed, dropped, failed, got_term ? "signal" : "timeout");
	fflush(stdout);
	close(fd);
	return got_term ? EXIT_OK : EXIT_TIMEOUT;
}

/* ---------------------------------------------------------------- */
/* flows */

/**
 * flows_dgram() - The datagram flow @i sends (and expects back)
 * @buf:	Destination, FLOWS_DGRAM bytes
 * @i:		Flow index
 */
static void flows_dgram(uint8_t *buf, unsigned i)
{
	uint64_t w = word_at(opt_seed, i);

	memcpy(buf, &i, sizeof(i));
	memset(buf + sizeof(i), 0x5a, 8 - sizeof(i));
	memcpy(buf + 8, &w, 8);
}

/**
 * struct flows_state - Progress of the flows mode
 * @fds:	Sockets, one per flow
 * @done:	Flows answered
 * @ok:		Count of those
 * @wrong:	Replies with wrong content
 * @refused:	ECONNREFUSED seen
 */
struct flows_state {
	int *fds;
	bool *done;
	unsigned ok;
	uint64_t wrong, refused;
};

/**
 * flows_take() - Read the replies epoll reported
 * @st:		State, updated
 * @evs:	Events
 * @e:		Their count
 */
static void flows_take(struct flows_state *st, const struct epoll_event *evs,
		       int e)
{
	uint8_t out[FLOWS_DGRAM], in[FLOWS_DGRAM + 1];
	ssize_t r;

	for (; e > 0; e--) {
		unsigned j = evs[e - 1].data.u32;

		for (;;) {
			r = recv(st->fds[j], in, sizeof(in), MSG_DONTWAIT);
			if (r < 0 && errno == ECONNREFUSED) {
				st->refused++;
				continue;
			}
			if (r < 0)
				break;
			flows_dgram(out, j);
			if (r != FLOWS_DGRAM || memcmp(in, out, FLOWS_DGRAM)) {
				st->wrong++;
			} else if (!st->done[j]) {
				st->done[j] = true;
				st->ok++;
			}
		}
	}
}

/**
 * mode_flows() - flows HOST PORT N
 * @host:	Echo server address
 * @port:	Its port
 * @nstr:	Flow count
 *
 * Return: exit status
 */
static int mode_flows(const char *host, const char *port, const char *nstr)
{
	struct flows_state st = { 0 };
	uint64_t resent = 0, sent = 0;
	unsigned n, i, round, k, err_first = 0;
	int64_t t0 = now_ms(), nn, t1, round_end;
	struct epoll_event ev, evs[256];
	uint8_t out[FLOWS_DGRAM];
	struct sockaddr_storage ss;
	socklen_t sl;
	ssize_t r;
	int ep, e;

	if (parse_num(nstr, &nn) || !nn || nn > 1000000 ||
	    resolve(opt_family, SOCK_DGRAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	n = nn;
	raise_nofile();
	st.fds = calloc(n, sizeof(*st.fds));
	st.done = calloc(n, sizeof(*st.done));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!st.fds || !st.done || ep < 0)
		return EXIT_USAGE;
	for (i = 0; i < n; i++) {
		st.fds[i] = client_socket(&ss, sl);
		if (st.fds[i] < 0) {
			printf("error: socket %u of %u: %s\n", i, n,
			       strerror(-st.fds[i]));
			fflush(stdout);
			return EXIT_USAGE;
		}
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = i };
		epoll_ctl(ep, EPOLL_CTL_ADD, st.fds[i], &ev);
	}

	for (round = 0; round < opt_rounds && st.ok < n && !got_term &&
	     now_ms() < deadline_ms; round++) {
		t1 = now_ms();
		for (k = 0, i = 0; i < n && !got_term; i++) {
			if (st.done[i])
				continue;
			if (opt_rate) {
				int64_t due = t1 + (int64_t)k * 1000 /
					      (int64_t)opt_rate;

				if (due > now_ms())
					wait_in(NULL, 0, (due - now_ms()) *
						1000000);
			}
			k++;
			flows_dgram(out, i);
			r = send(st.fds[i], out, sizeof(out), MSG_NOSIGNAL);
			if (r < 0 && errno == ECONNREFUSED) {
				st.refused++;
				r = send(st.fds[i], out, sizeof(out),
					 MSG_NOSIGNAL);
			}
			if (r == (ssize_t)sizeof(out)) {
				sent++;
				if (round)
					resent++;
			} else if (!err_first) {
				err_first = r < 0 ? errno : EMSGSIZE;
			}
			/* Take what is in already, without waiting */
			if (!(k % 64))
				flows_take(&st, evs, epoll_wait(ep, evs, 256, 0));
		}
		round_end = now_ms() + opt_wait_ms;
		while (st.ok < n && now_ms() < round_end && !got_term &&
		       now_ms() < deadline_ms) {
			e = epoll_wait(ep, evs, 256,
				       min_ms(round_end - now_ms(),
					      left_ms(deadline_ms)));
			flows_take(&st, evs, e);
		}
		printf("round %u: answered=%u of %u ms=%" PRId64 "\n",
		       round + 1, st.ok, n, now_ms() - t0);
	}
	printf("flows=%u ok=%u wrong=%" PRIu64 " refused=%" PRIu64
	       " sent=%" PRIu64 " resent=%" PRIu64 " rounds=%u ms=%" PRId64
	       "\n", n, st.ok, st.wrong, st.refused, sent, resent, round,
	       now_ms() - t0);
	if (err_first)
		printf("error: send: %s\n", strerror(err_first));
	if (st.ok < n)
		printf("error: %u flows got no reply\n", n - st.ok);
	if (st.wrong)
		printf("error: %" PRIu64 " replies with wrong content\n",
		       st.wrong);
	fflush(stdout);
	for (i = 0; i < n; i++)
		close(st.fds[i]);
	close(ep);
	return st.ok == n && !st.wrong ? EXIT_OK : EXIT_FAIL;
}

/* ---------------------------------------------------------------- */
/* unreach, late */

/**
 * mode_unreach() - unreach HOST PORT
 * @host:	Address
 * @port:	Closed port
 *
 * Return: exit status
 */
static int mode_unreach(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	int64_t t0 = now_ms();
	unsigned sends = 0;
	uint8_t buf[64];
	struct pollfd p;
	socklen_t sl;
	ssize_t r;
	int fd;

	if (resolve(opt_family, SOCK_DGRAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	fd = client_socket(&ss, sl);
	if (fd < 0) {
		printf("error: socket: %s\n", strerror(-fd));
		return EXIT_USAGE;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (!got_term && now_ms() < deadline_ms) {
		dgram_fill(buf, 32, sends);
		r = send(fd, buf, 32, MSG_NOSIGNAL);
		if (r < 0 && errno == ECONNREFUSED)
			goto refused;
		sends++;
		poll(&p, 1, min_ms(500, left_ms(deadline_ms)));
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0 && errno == ECONNREFUSED)
			goto refused;
		if (r >= 0) {
			printf("end=data sends=%u ms=%" PRId64 "\n", sends,
			       now_ms() - t0);
			printf("error: a reply from a port meant to be "
			       "closed\n");
			return EXIT_FAIL;
		}
	}
	printf("end=timeout sends=%u ms=%" PRId64 "\n", sends, now_ms() - t0);
	printf("error: no ECONNREFUSED: the port unreachable error did not "
	       "come back\n");
	return EXIT_FAIL;
refused:
	printf("end=refused sends=%u ms=%" PRId64 "\n", sends, now_ms() - t0);
	close(fd);
	return EXIT_OK;
}

/**
 * mode_late() - late HOST PORT
 * @host:	Echo server address
 * @port:	Its port
 *
 * Return: exit status
 */
static int mode_late(const char *host, const char *port)
{
	uint8_t out[FLOWS_DGRAM], in[FLOWS_DGRAM + 1];
	unsigned replies = 0, wrong = 0, refused = 0;
	int64_t t0, end, t1;
	struct sockaddr_storage ss;
	char at[256] = "";
	struct pollfd p;
	socklen_t sl;
	ssize_t r;
	int fd;

	if (resolve(opt_family, SOCK_DGRAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	fd = client_socket(&ss, sl);
	if (fd < 0) {
		printf("error: socket: %s\n", strerror(-fd));
		return EXIT_USAGE;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };

	dgram_fill(out, sizeof(out), 0);
	t0 = now_ms();
	if (send(fd, out, sizeof(out), MSG_NOSIGNAL) < 0) {
		printf("error: send: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	end = t0 + opt_idle_ms;
	while (!got_term && now_ms() < end && now_ms() < deadline_ms) {
		poll(&p, 1, min_ms(end - now_ms(), left_ms(deadline_ms)));
		while ((r = recv(fd, in, sizeof(in), MSG_DONTWAIT)) >= 0 ||
		       errno == ECONNREFUSED) {
			if (r < 0) {
				refused++;
				continue;
			}
			if (r != (ssize_t)sizeof(out) ||
			    memcmp(in, out, sizeof(out))) {
				wrong++;
				continue;
			}
			replies++;
			snprintf(at + strlen(at), sizeof(at) - strlen(at),
				 "%s%" PRId64, replies > 1 ? "," : "",
				 now_ms() - t0);
		}
	}
	printf("replies=%u at=%s wrong=%u refused=%u\n", replies,
	       *at ? at : "-", wrong, refused);

	dgram_fill(out, sizeof(out), 1);
	t1 = now_ms();
	if (send(fd, out, sizeof(out), MSG_NOSIGNAL) < 0 &&
	    (errno != ECONNREFUSED ||
	     send(fd, out, sizeof(out), MSG_NOSIGNAL) < 0)) {
		printf("again=error ms=0\nerror: send: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	end = t1 + opt_wait_ms;
	while (!got_term && now_ms() < end && now_ms() < deadline_ms) {
		poll(&p, 1, min_ms(end - now_ms(), left_ms(deadline_ms)));
		while ((r = recv(fd, in, sizeof(in), MSG_DONTWAIT)) >= 0 ||
		       errno == ECONNREFUSED) {
			if (r == (ssize_t)sizeof(out) &&
			    !memcmp(in, out, sizeof(out))) {
				printf("again=ok ms=%" PRId64 "\n",
				       now_ms() - t1);
				fflush(stdout);
				close(fd);
				return EXIT_OK;
			}
		}
	}
	printf("again=timeout ms=%" PRId64 "\n", now_ms() - t1);
	printf("error: no echo of the second datagram\n");
	fflush(stdout);
	close(fd);
	return EXIT_FAIL;
}

/* ---------------------------------------------------------------- */
/* DNS */

#define DNS_HDR		12
#define DNS_TYPE_A	1
#define DNS_TYPE_AAAA	28

/**
 * dns_name_end() - Skip an encoded name
 * @p:		Message
 * @len:	Its length
 * @off:	Offset of the name
 * @out:	Its dotted text, or NULL (at least 256 bytes)
 *
 * Return: offset after the name, -1 if malformed
 */
static int dns_name_end(const uint8_t *p, size_t len, size_t off, char *out)
{
	size_t o = 0;

	if (out)
		*out = '\0';
	while (off < len) {
		uint8_t l = p[off];

		if (!l)
			return off + 1;
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? (int)off + 2 : -1;
		if (l > 63 || off + 1 + l > len)
			return -1;
		if (out && o + l + 2 < 256) {
			if (o)
				out[o++] = '.';
			memcpy(out + o, p + off + 1, l);
			o += l;
			out[o] = '\0';
		}
		off += 1 + l;
	}
	return -1;
}

/**
 * mode_dnsd() - dnsd PORT
 * @port:	Port
 *
 * Return: exit status
 */
static int mode_dnsd(const char *port)
{
	uint8_t q[512], a[600], rdata[16];
	struct in6_addr a6;
	struct in_addr a4;
	struct sockaddr_storage ss;
	char name[256], peer[64];
	uint64_t queries = 0;
	uint16_t qtype;
	size_t rdlen;
	struct pollfd p;
	socklen_t sl;
	ssize_t r;
	int fd, end;

	if ((opt_answer4 && inet_pton(AF_INET, opt_answer4, &a4) != 1) ||
	    (opt_answer6 && inet_pton(AF_INET6, opt_answer6, &a6) != 1)) {
		fprintf(stderr, "error: bad -A or -Q address\n");
		return EXIT_USAGE;
	}
	fd = server_socket(port);
	if (fd < 0)
		return EXIT_USAGE;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };

	while (!got_term && now_ms() < deadline_ms) {
		poll(&p, 1, min_ms(1000, left_ms(deadline_ms)));
		sl = sizeof(ss);
		r = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT,
			     (struct sockaddr *)&ss, &sl);
		if (r < DNS_HDR || (q[2] & 0x80))
			continue;
		end = dns_name_end(q, r, DNS_HDR, name);
		if (end < 0 || end + 4 > r)
			continue;
		qtype = q[end] << 8 | q[end + 1];
		end += 4;
		queries++;
		printf("query %s type %u from %s\n", name, qtype,
		       addr_str(&ss, peer, sizeof(peer)));
		fflush(stdout);

		rdlen = 0;
		if (qtype == DNS_TYPE_A && opt_answer4) {
			memcpy(rdata, &a4, 4);
			rdlen = 4;
		} else if (qtype == DNS_TYPE_AAAA && opt_answer6) {
			memcpy(rdata, &a6, 16);
			rdlen = 16;
		}
		memcpy(a, q, end);
		a[2] = 0x84 | (q[2] & 0x01);	/* QR, AA, RD copied */
		a[3] = 0x80;			/* RA, NOERROR */
		a[4] = 0; a[5] = 1;		/* QDCOUNT */
		a[6] = 0; a[7] = rdlen ? 1 : 0;	/* ANCOUNT */
		memset(a + 8, 0, 4);
		if (rdlen) {
			uint8_t *rr = a + end;

			rr[0] = 0xc0; rr[1] = DNS_HDR;	/* name: the question */
			rr[2] = qtype >> 8; rr[3] = qtype & 0xff;
			rr[4] = 0; rr[5] = 1;		/* IN */
			rr[6] = 0; rr[7] = 0; rr[8] = 0; rr[9] = 60;
			rr[10] = 0; rr[11] = rdlen;
			memcpy(rr + 12, rdata, rdlen);
			end += 12 + rdlen;
		}
		sendto(fd, a, end, 0, (struct sockaddr *)&ss, sl);
	}
	printf("queries=%" PRIu64 " end=%s\n", queries,
	       got_term ? "signal" : "timeout");
	fflush(stdout);
	close(fd);
	return got_term ? EXIT_OK : EXIT_TIMEOUT;
}

/**
 * mode_query() - query HOST PORT NAME
 * @host:	Server address
 * @port:	Server port
 * @qname:	Name to look up
 *
 * Return: exit status
 */
static int mode_query(const char *host, const char *port, const char *qname)
{
	uint8_t q[300], a[1500];
	struct sockaddr_storage ss;
	uint16_t id = (getpid() ^ now_ms()) & 0xffff;
	char text[INET6_ADDRSTRLEN];
	const char *lab = qname;
	int64_t t0 = now_ms();
	unsigned sends = 0, an;
	size_t ql = DNS_HDR, l;
	struct pollfd p;
	socklen_t sl;
	ssize_t r;
	int fd, off;

	if (resolve(opt_family, SOCK_DGRAM, host, port, &ss, &sl))
		return EXIT_USAGE;
	memset(q, 0, DNS_HDR);
	q[0] = id >> 8; q[1] = id & 0xff;
	q[2] = 0x01;			/* RD */
	q[5] = 1;			/* QDCOUNT */
	while (*lab) {
		l = strcspn(lab, ".");
		if (!l || l > 63 || ql + l + 6 > sizeof(q))
			return EXIT_USAGE;
		q[ql++] = l;
		memcpy(q + ql, lab, l);
		ql += l;
		lab += l;
		if (*lab == '.')
			lab++;
	}
	q[ql++] = 0;
	q[ql++] = opt_qtype >> 8; q[ql++] = opt_qtype & 0xff;
	q[ql++] = 0; q[ql++] = 1;

	fd = client_socket(&ss, sl);
	if (fd < 0) {
		printf("error: socket: %s\n", strerror(-fd));
		return EXIT_USAGE;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (!got_term && now_ms() < deadline_ms) {
		if (send(fd, q, ql, MSG_NOSIGNAL) < 0 &&
		    errno != ECONNREFUSED) {
			printf("error: send: %s\n", strerror(errno));
			return EXIT_FAIL;
		}
		sends++;
		poll(&p, 1, min_ms(500, left_ms(deadline_ms)));
		while ((r = recv(fd, a, sizeof(a), MSG_DONTWAIT)) >= 0 ||
		       errno == ECONNREFUSED) {
			if (r < DNS_HDR || a[0] != q[0] || a[1] != q[1] ||
			    !(a[2] & 0x80))
				continue;
			an = a[6] << 8 | a[7];
			off = dns_name_end(a, r, DNS_HDR, NULL);
			if (off < 0 || !an) {
				printf("answer=none rcode=%u sends=%u ms=%"
				       PRId64 "\n", a[3] & 0xf, sends,
				       now_ms() - t0);
				printf("error: no answer record\n");
				return EXIT_FAIL;
			}
			off = dns_name_end(a, r, off + 4, NULL);
			if (off < 0 || off + 10 > r)
				continue;
			l = a[off + 8] << 8 | a[off + 9];
			if (off + 10 + (ssize_t)l > r ||
			    (l != 4 && l != 16))
				continue;
			inet_ntop(l == 4 ? AF_INET : AF_INET6, a + off + 10,
				  text, sizeof(text));
			printf("answer=%s rcode=%u sends=%u ms=%" PRId64 "\n",
			       text, a[3] & 0xf, sends, now_ms() - t0);
			fflush(stdout);
			close(fd);
			return EXIT_OK;
		}
	}
	printf("answer=none sends=%u ms=%" PRId64 "\n", sends, now_ms() - t0);
	printf("error: no reply\n");
	fflush(stdout);
	close(fd);
	return EXIT_TIMEOUT;
}

/* ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
"Usage: udp_stream [OPTION]... send HOST PORT\n"
"       udp_stream [OPTION]... recv|echo|dnsd PORT\n"
"       udp_stream [OPTION]... flows HOST PORT N\n"
"       udp_stream [OPTION]... unreach|late HOST PORT\n"
"       udp_stream [OPTION]... query HOST PORT NAME\n"
"Options: -4 -6 -b ADDR -t SECS -x SEED -z SIZES -n N -f N -r RATE -k N -E -L\n"
"         -i MS -w MS -y N -D MS,... -B -J GROUP%%IF -X none -A ADDR\n"
"         -Q ADDR -q A|AAAA   (see the comment at the top of udp_stream.c)\n");
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int64_t v, list[SEND_FLOWS_MAX];
	int opt, n, i;

	while ((opt = getopt(argc, argv, "46b:t:x:z:n:f:r:k:ELi:w:y:D:BJ:X:A:Q:q:"))
	       != -1) {
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
			if (parse_num(optarg, &v))
				usage();
			opt_seed = v;
			break;
		case 'z':
			n = parse_list(optarg, list, SEND_FLOWS_MAX);
			if (n < 0)
				usage();
			for (i = 0; i < n; i++) {
				if (list[i] > 65507)
					usage();
				opt_sizes[i] = list[i];
			}
			opt_nsizes = n;
			break;
		case 'n':
			if (parse_num(optarg, &v) || v > (int64_t)SEQ_LIMIT)
				usage();
			opt_count = v;
			break;
		case 'f':
			if (parse_num(optarg, &v) || v > RECV_FLOWS_MAX)
				usage();
			opt_flows = v;
			break;
		case 'r':
			if (parse_num(optarg, &v))
				usage();
			opt_rate = v;
			break;
		case 'k':
			if (parse_num(optarg, &v) || !v)
				usage();
			opt_burst = v;
			break;
		case 'E': opt_echo = true; break;
		case 'L': opt_allow_loss = true; break;
		case 'i':
			if (parse_num(optarg, &opt_idle_ms))
				usage();
			break;
		case 'w':
			if (parse_num(optarg, &opt_wait_ms))
				usage();
			break;
		case 'y':
			if (parse_num(optarg, &v) || !v)
				usage();
			opt_rounds = v;
			break;
		case 'D':
			n = parse_list(optarg, opt_delays, DELAYS_MAX);
			if (n < 0)
				usage();
			opt_ndelays = n;
			break;
		case 'B': opt_broadcast = true; break;
		case 'J': opt_join = optarg; break;
		case 'X':
			if (strcmp(optarg, "none"))
				usage();
			opt_expect_none = true;
			break;
		case 'A': opt_answer4 = optarg; break;
		case 'Q': opt_answer6 = optarg; break;
		case 'q':
			if (!strcmp(optarg, "A"))
				opt_qtype = DNS_TYPE_A;
			else if (!strcmp(optarg, "AAAA"))
				opt_qtype = DNS_TYPE_AAAA;
			else
				usage();
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
	signal(SIGPIPE, SIG_IGN);
	start_ms = now_ms();
	deadline_ms = start_ms + opt_timeout_ms;

	if (!strcmp(argv[0], "send") && argc == 3)
		return mode_send(argv[1], argv[2]);
	if (!strcmp(argv[0], "recv") && argc == 2)
		return mode_recv(argv[1]);
	if (!strcmp(argv[0], "echo") && argc == 2)
		return mode_echo(argv[1]);
	if (!strcmp(argv[0], "flows") && argc == 4)
		return mode_flows(argv[1], argv[2], argv[3]);
	if (!strcmp(argv[0], "unreach") && argc == 3)
		return mode_unreach(argv[1], argv[2]);
	if (!strcmp(argv[0], "late") && argc == 3)
		return mode_late(argv[1], argv[2]);
	if (!strcmp(argv[0], "dnsd") && argc == 2)
		return mode_dnsd(argv[1]);
	if (!strcmp(argv[0], "query") && argc == 4)
		return mode_query(argv[1], argv[2], argv[3]);
	usage();
	return EXIT_USAGE;
}
