/* test/unit/tcp_splice_test.c - the splice relay over real loopback
 * sockets, in one process: bulk integrity both ways at once, half-close
 * in either order, backpressure without busy-looping, resets, refused and
 * stuck connects, many short connections, IPv6, the socket pool, stale
 * events, a full flow table, stopping with data in flight, and no
 * descriptor leaked
 *
 * The "namespace" is this one: the fake ns_sockets hook calls socket().
 * Endpoints are non-blocking sockets pumped between epoll_wait() rounds of
 * the splice loop, every wait bounded in time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctx.h"
#include "dispatch.h"
#include "log.h"
#include "tcp_splice.h"
#include "unit.h"

#define FLOWS		1024
#define PAT_LEN		((1 << 20) + 7)	/* odd period: shifts show up */
#define BULK		(64ULL << 20)
#define MANY		200
#define MSG_LEN		64
#define SPIN_MAX	64	/* events allowed while a flow waits 300 ms */

static struct flow_table flows;
static struct net_conf net;
static struct ctx c;
static int hook_calls;
static bool hook_fail;
static unsigned int events_seen;
static uint8_t pat[PAT_LEN];
static uint8_t rxbuf[256 << 10];

/* Listeners: [0] IPv4, [1] IPv6; "front" stands for tcp.c's, "srv" for
 * the server inside the namespace
 */
static int front_fd[2], srv_fd[2];
static uint16_t front_port[2], srv_port[2];

/* The top layer's hook, without a namespace */
static int fake_ns_sockets(int af, int type, int proto, int *fds, int n)
{
	int i;

	hook_calls++;
	if (hook_fail)
		return -EPERM;
	for (i = 0; i < n; i++) {
		fds[i] = socket(af, type, proto);
		if (fds[i] < 0)
			return i ? i : -errno;
	}
	return n;
}

static socklen_t sa_loop(int af, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	return sizeof(struct sockaddr_in6);
}

/* Non-blocking listener on loopback, ephemeral port */
static int listener(int af, uint16_t *port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_loop(af, 0, &ss);
	int s = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&ss, sl) ||
	    listen(s, backlog) || getsockname(s, (struct sockaddr *)&ss, &sl))
		return -1;
	*port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
			((struct sockaddr_in6 *)&ss)->sin6_port);
	return s;
}

/* A port nothing listens on */
static uint16_t port_unused(int af)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_loop(af, 0, &ss);
	int s = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port;

	bind(s, (struct sockaddr *)&ss, sl);
	getsockname(s, (struct sockaddr *)&ss, &sl);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	close(s);
	return port;
}

/* Connect (completes from the listener's backlog), then non-blocking */
static int client(int af, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_loop(af, port, &ss);
	int s = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&ss, sl) ||
	    fd_nonblock(s)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* What tcp.c does: accept (blocking socket on purpose) and splice */
static int front_accept(int af, bool to_ns, uint16_t dport)
{
	int a = accept4(front_fd[af == AF_INET6], NULL, NULL, SOCK_CLOEXEC);

	if (a < 0)
		return -2;
	return tcp_splice_conn_new(&c, a, af, to_ns, dport);
}

/* One round of the daemon's loop, splice events only */
static int loop_once(int ms)
{
	struct epoll_event ev[64];
	int n, i;

	n = epoll_wait(c.epollfd, ev, ARRAY_SIZE(ev), ms);
	c.now_ms = now_ms();
	for (i = 0; i < n; i++) {
		union epoll_ref ref = { .u64 = ev[i].data.u64 };

		if (ref.type == EPOLL_TYPE_TCP_SPLICE) {
			tcp_splice_sock_handler(&c, ref, ev[i].events);
			events_seen++;
		}
	}
	flow_reap(&flows);
	return n;
}

/* What the daemon's loop does with flows whose deadline came */
static void flow_timers_run(void)
{
	dispatch_timers(&c);
	flow_reap(&flows);
}

static int accept_wait(int lfd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int s;

	do {
		s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s >= 0)
			return s;
		loop_once(1);
	} while (now_ms() < end);
	return -1;
}

static bool wait_flows(unsigned int n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (flows.count != n && now_ms() < end)
		loop_once(1);
	return flows.count == n;
}

/* Run the loop until @fd reads EOF (0) or fails (errno), -1 on timeout */
static int wait_end(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	ssize_t n;

	do {
		loop_once(1);
		n = recv(fd, rxbuf, sizeof(rxbuf), MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN)
			return errno;
	} while (now_ms() < end);
	return -1;
}

static void abort_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* A client and the server end of a new spliced connection */
static bool pair(int af, bool to_ns, int *cl, int *sv)
{
	int i = af == AF_INET6;

	*cl = client(af, front_port[i]);
	if (*cl < 0 || front_accept(af, to_ns, srv_port[i]))
		return false;
	*sv = accept_wait(srv_fd[i], 1000);
	return *sv >= 0;
}

/**
 * struct ep - One end of a test stream: sends the pattern from @tx_salt,
 *	       expects it from @rx_salt
 */
struct ep {
	int fd;
	uint64_t tx_len, tx_off, rx_len, rx_off;
	uint32_t tx_salt, rx_salt;
	bool tx_after_eof;	/* send only once EOF was read */
	bool tx_shut;		/* shutdown(SHUT_WR) once all is sent */
	bool want_eof;		/* done only once EOF was read */
	bool rx_hold;		/* do not read for now */
	bool shut_done, rx_eof, bad;
	int err;
};

static bool ep_send(struct ep *e)
{
	bool progress = false;
	int i;

	if (e->err || (e->tx_after_eof && !e->rx_eof))
		return false;
	for (i = 0; i < 16 && e->tx_off < e->tx_len; i++) {
		size_t off = (e->tx_off + e->tx_salt) % PAT_LEN;
		size_t len = MIN(PAT_LEN - off, e->tx_len - e->tx_off);
		ssize_t n = send(e->fd, pat + off, MIN(len, sizeof(rxbuf)),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN)
				e->err = errno;
			break;
		}
		e->tx_off += (uint64_t)n;
		progress = true;
	}
	if (e->tx_off == e->tx_len && e->tx_shut && !e->shut_done) {
		if (shutdown(e->fd, SHUT_WR))
			e->err = errno;
		e->shut_done = progress = true;
	}
	return progress;
}

static void ep_check(struct ep *e, const uint8_t *buf, size_t n)
{
	while (n && !e->bad) {
		size_t off = (e->rx_off + e->rx_salt) % PAT_LEN;
		size_t len = MIN(n, PAT_LEN - off);

		if (e->rx_off + len > e->rx_len || memcmp(buf, pat + off, len))
			e->bad = true;
		buf += len;
		n -= len;
		e->rx_off += len;
	}
}

static bool ep_recv(struct ep *e)
{
	bool progress = false;
	ssize_t n;
	int i;

	for (i = 0; i < 16 && !e->rx_hold && !e->rx_eof && !e->err; i++) {
		n = recv(e->fd, rxbuf, sizeof(rxbuf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN)
				e->err = errno;
			break;
		}
		if (n == 0)
			e->rx_eof = true;
		ep_check(e, rxbuf, (size_t)n);
		progress = true;
	}
	return progress;
}

static bool ep_done(const struct ep *e)
{
	if (e->err || e->bad)
		return true;
	return e->tx_off == e->tx_len && (!e->tx_shut || e->shut_done) &&
	       e->rx_off == e->rx_len && (!e->want_eof || e->rx_eof);
}

/* Pump @n endpoints and the loop until all are done or @ms passed */
static bool drive(struct ep *e, int n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	bool progress = true, done;
	int i;

	do {
		loop_once(progress ? 0 : 1);
		progress = false;
		done = true;
		for (i = 0; i < n; i++) {
			progress |= ep_recv(&e[i]);
			progress |= ep_send(&e[i]);
			done &= ep_done(&e[i]);
		}
		if (done)
			return true;
	} while (now_ms() < end);
	return false;
}

static bool ep_ok(const struct ep *e)
{
	return !e->err && !e->bad && e->rx_off == e->rx_len;
}

/* Both ways at once, @len each, then both half-close */
static void bulk(int af, bool to_ns, uint64_t len)
{
	struct ep e[2] = {
		{ .tx_len = len, .rx_len = len, .rx_salt = 5555,
		  .tx_shut = true, .want_eof = true },
		{ .tx_len = len, .rx_len = len, .tx_salt = 5555,
		  .tx_shut = true, .want_eof = true },
	};

	CHECK(pair(af, to_ns, &e[0].fd, &e[1].fd));
	CHECK(drive(e, 2, 15000));
	CHECK(ep_ok(&e[0]) && e[0].rx_eof);
	CHECK(ep_ok(&e[1]) && e[1].rx_eof);
	CHECK(wait_flows(0, 1000));	/* both FINs forwarded: flow closed */
	close(e[0].fd);
	close(e[1].fd);
}

/* No namespace socket is opened before a connection needs one; then the
 * pool is kept filled
 */
static void test_pool_prefill(void)
{
	int e[2];

	c.now_ms = now_ms();
	tcp_splice_timer(&c);
	CHECK(hook_calls == 0);		/* never used: no pool */
	CHECK(pair(AF_INET, true, &e[0], &e[1]));
	CHECK(hook_calls == 1);		/* filled for the first one */
	close(e[0]);
	close(e[1]);
	CHECK(wait_flows(0, 1000));
	tcp_splice_timer(&c);
	CHECK(hook_calls == 1);		/* IPv4 full, IPv6 never used */
	CHECK(pair(AF_INET6, true, &e[0], &e[1]));
	CHECK(hook_calls == 2);
	close(e[0]);
	close(e[1]);
	CHECK(wait_flows(0, 1000));
	tcp_splice_timer(&c);
	CHECK(hook_calls == 2);		/* full: nothing to do */
}

static void test_bulk_64m_both_ways(void)
{
	bulk(AF_INET, true, BULK);
}

/* One side sends, half-closes, then the other side sends */
static void half_close(int af, int first)
{
	struct ep e[2] = {
		{ .tx_len = 3 << 20, .rx_len = 1 << 20, .tx_salt = 1,
		  .rx_salt = 2, .tx_shut = true, .want_eof = true },
		{ .tx_len = 1 << 20, .rx_len = 3 << 20, .tx_salt = 2,
		  .rx_salt = 1, .tx_shut = true, .want_eof = true },
	};

	e[!first].tx_after_eof = true;
	CHECK(pair(af, true, &e[0].fd, &e[1].fd));
	CHECK(drive(e, 2, 5000));
	CHECK(ep_ok(&e[0]) && ep_ok(&e[1]));
	CHECK(e[0].rx_eof && e[1].rx_eof);
	CHECK(wait_flows(0, 1000));
	close(e[0].fd);
	close(e[1].fd);
}

static void test_half_close_client_first(void)
{
	half_close(AF_INET, 0);
}

static void test_half_close_server_first(void)
{
	half_close(AF_INET, 1);
}

/* The server does not read for a while: no busy loop, nothing lost */
static void test_backpressure(void)
{
	struct ep e[2] = {
		{ .tx_len = 32 << 20, .tx_shut = true },
		{ .rx_len = 32 << 20, .want_eof = true, .rx_hold = true },
	};

	CHECK(pair(AF_INET, true, &e[0].fd, &e[1].fd));
	events_seen = 0;
	CHECK(!drive(e, 2, 300));
	CHECK(events_seen < SPIN_MAX);
	e[1].rx_hold = false;
	CHECK(drive(e, 2, 5000));
	CHECK(ep_ok(&e[1]) && e[1].rx_eof);
	close(e[0].fd);
	close(e[1].fd);
	CHECK(wait_flows(0, 1000));
}

/* The client half-closes at once and does not read; the server answers
 * and half-closes too: its socket gets FIN after we shut it down, with
 * data possibly still queued (EPOLLHUP that cannot be masked)
 */
static void test_hup_while_blocked(void)
{
	struct ep e[2] = {
		{ .rx_len = 8 << 20, .rx_salt = 9, .tx_shut = true,
		  .want_eof = true, .rx_hold = true },
		{ .tx_len = 8 << 20, .tx_salt = 9, .tx_after_eof = true,
		  .tx_shut = true, .want_eof = true },
	};

	CHECK(pair(AF_INET, true, &e[0].fd, &e[1].fd));
	events_seen = 0;
	CHECK(!drive(e, 2, 300));
	CHECK(events_seen < SPIN_MAX);
	printf("# server %s its FIN while the client held\n",
	       e[1].shut_done ? "sent" : "had not sent");
	e[0].rx_hold = false;
	CHECK(drive(e, 2, 5000));
	CHECK(ep_ok(&e[0]) && e[0].rx_eof && e[1].rx_eof);
	CHECK(wait_flows(0, 1000));
	close(e[0].fd);
	close(e[1].fd);
}

/* Run the loop until @fd reads something: bytes read, 0 on timeout */
static ssize_t recv_wait(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	ssize_t n;

	do {
		loop_once(1);
		n = recv(fd, rxbuf, sizeof(rxbuf), MSG_DONTWAIT);
		if (n > 0)
			return n;
	} while (now_ms() < end);
	return 0;
}

/* One end resets: the other end sees ECONNRESET */
static void reset(int resetter)
{
	int fd[2];
	char b = 'x';

	CHECK(pair(AF_INET, true, &fd[0], &fd[1]));
	CHECK(send(fd[!resetter], &b, 1, 0) == 1);
	CHECK(recv_wait(fd[resetter], 1000) == 1);
	abort_close(fd[resetter]);
	CHECK(wait_end(fd[!resetter], 2000) == ECONNRESET);
	CHECK(wait_flows(0, 1000));
	close(fd[!resetter]);
}

static void test_server_reset(void)
{
	reset(1);
}

static void test_client_reset(void)
{
	reset(0);
}

static void test_refused(void)
{
	uint64_t t0 = now_ms();
	int cl = client(AF_INET, front_port[0]);

	CHECK(front_accept(AF_INET, true, port_unused(AF_INET)) >= -1);
	CHECK(wait_end(cl, 1000) == ECONNRESET);
	CHECK(now_ms() - t0 < 500);
	CHECK(wait_flows(0, 1000));
	close(cl);
}

/* Accept queue full: our SYN is dropped, the timer gives up */
static void test_connect_timeout(void)
{
	uint16_t port;
	int l = listener(AF_INET, &port, 0);
	int filler = client(AF_INET, port);	/* takes the only slot */
	int cl = client(AF_INET, front_port[0]);

	CHECK(l >= 0 && filler >= 0 && cl >= 0);
	CHECK(front_accept(AF_INET, true, port) == 0);
	CHECK(wait_end(cl, 100) == -1);
	CHECK(flows.count == 1);
	CHECK(flow_timer_next(&flows) > now_ms() + TCP_SPLICE_CONNECT_MS - 1000);
	flow_timers_run();
	CHECK(flows.count == 1);		/* not yet */
	c.now_ms = now_ms() + TCP_SPLICE_CONNECT_MS + 1000;
	flow_timers_run();
	CHECK(flows.count == 0);
	CHECK(wait_end(cl, 500) == ECONNRESET);
	close(cl);
	close(filler);
	close(l);
}

/* Echo server for test_many(): read all, then write it back and shut */
static bool many_server(int fd, uint8_t *buf, size_t *len, bool *eof)
{
	ssize_t n;

	if (*eof)
		return true;
	n = recv(fd, buf + *len, MSG_LEN - *len + 1, MSG_DONTWAIT);
	if (n > 0)
		*len += (size_t)n;
	if (n != 0)
		return false;
	*eof = true;
	return send(fd, buf, *len, MSG_NOSIGNAL) == (ssize_t)*len &&
	       !shutdown(fd, SHUT_WR);
}

static bool many_client(int fd, uint8_t *buf, size_t *len, bool *eof)
{
	ssize_t n;

	if (*eof)
		return true;
	n = recv(fd, buf + *len, MSG_LEN - *len + 1, MSG_DONTWAIT);
	if (n > 0)
		*len += (size_t)n;
	*eof = !n;
	return *eof;
}

static void test_many(void)
{
	static uint8_t sbuf[MANY][MSG_LEN + 1], cbuf[MANY][MSG_LEN + 1];
	size_t slen[MANY] = { 0 }, clen[MANY] = { 0 };
	bool seof[MANY] = { 0 }, ceof[MANY] = { 0 }, all = false;
	int cl[MANY], sv[MANY], i, calls = hook_calls, good = 0;
	uint64_t end;

	for (i = 0; i < MANY; i++) {
		cl[i] = client(AF_INET, front_port[0]);
		CHECK(front_accept(AF_INET, true, srv_port[0]) == 0);
	}
	CHECK(flows.count == MANY);
	calls = hook_calls - calls;
	CHECK(calls >= (MANY - TCP_SPLICE_POOL) / TCP_SPLICE_POOL &&
	      calls <= MANY / TCP_SPLICE_POOL + 1);
	for (i = 0; i < MANY; i++) {
		sv[i] = accept_wait(srv_fd[0], 1000);
		CHECK(sv[i] >= 0);
		CHECK(send(cl[i], pat + i, MSG_LEN, 0) == MSG_LEN);
		CHECK(!shutdown(cl[i], SHUT_WR));
	}
	for (end = now_ms() + 5000; !all && now_ms() < end;) {
		loop_once(1);
		all = true;
		for (i = 0; i < MANY; i++) {
			all &= many_server(sv[i], sbuf[i], &slen[i], &seof[i]);
			all &= many_client(cl[i], cbuf[i], &clen[i], &ceof[i]);
		}
	}
	CHECK(all);
	for (i = 0; i < MANY; i++) {
		/* servers are accepted in any order: content says who */
		good += clen[i] == MSG_LEN && !memcmp(cbuf[i], pat + i,
						      MSG_LEN);
		close(cl[i]);
		close(sv[i]);
	}
	CHECK(good == MANY);
	CHECK(wait_flows(0, 1000));
}

static void test_ipv6(void)
{
	bulk(AF_INET6, false, 8 << 20);		/* plain socket() side */
	bulk(AF_INET6, true, 1 << 20);		/* pool side */
	half_close(AF_INET6, 1);
}

static void test_flow_table_full(void)
{
	static int held[FLOWS + 1];	/* and the FLOW_NONE that ends it */
	uint64_t drops = drop_counters[DROP_FLOW_FULL];
	int n = 0, cl = client(AF_INET, front_port[0]);

	while ((held[n] = flow_alloc(&flows, FLOW_UDP, IPPROTO_UDP,
				     FLOW_SHARE_TCP_OUT)) != FLOW_NONE)
		n++;
	CHECK(front_accept(AF_INET, true, srv_port[0]) == -1);
	CHECK(drop_counters[DROP_FLOW_FULL] == drops + 1);
	CHECK(wait_end(cl, 500) >= 0);		/* EOF or reset, not hang */
	while (n--)
		flow_free(&flows, held[n]);
	flow_reap(&flows);
	CHECK(flows.count == 0);
	close(cl);
}

/* Highest descriptor number open, -1 on failure */
static int fd_max(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int max = -1;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		max = MAX(max, atoi(de->d_name));
	closedir(d);
	return max;
}

/* Every event bit on every open descriptor number, for the flow at @live
 * and its neighbours
 */
static void stale_inject(unsigned int live)
{
	static const uint32_t evs[] = { EPOLLIN, EPOLLOUT, EPOLLRDHUP,
					EPOLLERR, EPOLLHUP,
					EPOLLERR | EPOLLHUP | EPOLLIN |
					EPOLLOUT | EPOLLRDHUP };
	int fd, max = fd_max();
	unsigned int k, idx;

	CHECK(max > 0);
	for (idx = live ? live - 1 : 0; idx <= live + 1; idx++) {
		for (fd = 0; fd <= max; fd++) {
			for (k = 0; k < ARRAY_SIZE(evs); k++) {
				union epoll_ref ref = {
					.type = EPOLL_TYPE_TCP_SPLICE,
					.fd = fd, .flow = idx,
				};

				tcp_splice_sock_handler(&c, ref, evs[k]);
			}
		}
	}
}

/* Stale hints (see tcp_splice.c) must not hurt a healthy connection,
 * whether its connect() is pending, done, or it moves data
 */
static void test_stale_events(void)
{
	struct ep e[2] = {
		{ .tx_len = 1 << 20, .rx_len = 1 << 20, .rx_salt = 3,
		  .tx_shut = true, .want_eof = true },
		{ .tx_len = 1 << 20, .rx_len = 1 << 20, .tx_salt = 3,
		  .tx_shut = true, .want_eof = true },
	};
	unsigned int idx, live = FLOWS;
	char b = 'x';

	CHECK(pair(AF_INET, true, &e[0].fd, &e[1].fd));
	for (idx = 0; idx < FLOWS; idx++) {
		if (flow_at(&flows, (int)idx)->type == FLOW_TCP_SPLICE)
			live = idx;
	}
	CHECK(live < FLOWS);
	stale_inject(live);
	CHECK(send(e[0].fd, &b, 1, 0) == 1);
	CHECK(recv_wait(e[1].fd, 1000) == 1);
	stale_inject(live);
	CHECK(flows.count == 1);
	CHECK(send(e[1].fd, &b, 1, 0) == 1);
	CHECK(recv_wait(e[0].fd, 1000) == 1);
	CHECK(drive(e, 2, 5000));
	CHECK(ep_ok(&e[0]) && ep_ok(&e[1]) && e[0].rx_eof && e[1].rx_eof);
	CHECK(wait_flows(0, 1000));
	close(e[0].fd);
	close(e[1].fd);
}

static void test_close_all(void)
{
	int cl[3], sv[3], i, calls;

	for (i = 0; i < 3; i++)
		CHECK(pair(i == 1 ? AF_INET6 : AF_INET, true, &cl[i], &sv[i]));
	tcp_splice_close_all(&c);
	CHECK(flows.count == 0);
	for (i = 0; i < 3; i++) {
		CHECK(wait_end(cl[i], 500) == ECONNRESET);
		CHECK(wait_end(sv[i], 500) == ECONNRESET);
		close(cl[i]);
		close(sv[i]);
	}

	/* Pools are empty now: a failing hook resets the client */
	hook_fail = true;
	calls = hook_calls;
	cl[0] = client(AF_INET, front_port[0]);
	CHECK(front_accept(AF_INET, true, srv_port[0]) == -1);
	CHECK(hook_calls == calls + 1);
	CHECK(wait_end(cl[0], 500) == ECONNRESET);
	CHECK(flows.count == 0);
	close(cl[0]);
	tcp_splice_timer(&c);		/* IPv4 in back-off, IPv6 fails */
	CHECK(hook_calls == calls + 2);
	tcp_splice_timer(&c);		/* both in back-off */
	CHECK(hook_calls == calls + 2);
	hook_fail = false;
	c.now_ms = now_ms() + 60000;
	tcp_splice_timer(&c);
	CHECK(hook_calls == calls + 4);
	tcp_splice_close_all(&c);
}

/*
 * A flow in a slot above slots no spliced flow ever had (other
 * protocols' flows took them): tcp_splice_init() resets no slot, so the
 * scans must neither take those for spliced flows (their zeroed state
 * holds descriptor 0) nor miss this one
 */
static void test_fresh_slots(void)
{
	unsigned int fresh = flows.fresh;
	int other[FLOWS], n = 0, cl, sv, i;

	/* Every slot used so far, then two never used */
	do {
		other[n] = flow_alloc(&flows, FLOW_UDP, IPPROTO_UDP,
				      FLOW_SHARE_UDP_OUT);
	} while (other[n] >= 0 && other[n++] < (int)fresh + 1);
	CHECK(n > 0 && other[n - 1] == (int)fresh + 1);
	CHECK(pair(AF_INET, true, &cl, &sv));
	CHECK(flows.count == (unsigned int)n + 1);
	CHECK(flow_at(&flows, (int)fresh + 2)->type == FLOW_TCP_SPLICE);
	CHECK(tcp_splice_draining() == 1);
	tcp_splice_close_all(&c);
	CHECK(flows.count == (unsigned int)n);	/* theirs are left alone */
	for (i = 0; i < n; i++)
		CHECK(flow_at(&flows, other[i])->type == FLOW_UDP);
	CHECK(wait_end(cl, 500) == ECONNRESET);
	CHECK(wait_end(sv, 500) == ECONNRESET);
	close(cl);
	close(sv);
	for (i = 0; i < n; i++)
		flow_free_unregistered(&flows, other[i]);
	flow_reap(&flows);
}

/* Run the loop, the client sending, until no flow is draining */
static bool wait_drained(struct ep *e, int n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int i;

	do {
		loop_once(1);
		for (i = 0; i < n; i++) {
			ep_recv(&e[i]);
			ep_send(&e[i]);
		}
		if (!tcp_splice_draining())
			return true;
	} while (now_ms() < end);
	return false;
}

/* The daemon stops while a flow carries data out of the namespace: -T (the
 * client, s[0], in the namespace), the server outside half-closed at once,
 * the client wrote all it could, shut down and closed: its command ended,
 * and for it everything was sent. The data is still in flight here (the
 * server does not read for now): the flow counts as draining. Stopping now
 * (@drain false) must reset the server, not end the cut stream with a FIN
 * as exit() did; relaying on until nothing drains must deliver it all.
 */
static void end_in_flight(bool drain)
{
	struct ep e[2] = {
		{ .tx_len = BULK, .tx_salt = 11, .tx_shut = true },
		{ .rx_len = BULK, .rx_salt = 11, .want_eof = true,
		  .rx_hold = true },
	};
	uint64_t end;

	CHECK(pair(AF_INET, false, &e[0].fd, &e[1].fd));
	CHECK(!shutdown(e[1].fd, SHUT_WR));
	CHECK(wait_end(e[0].fd, 1000) == 0);	/* server's FIN forwarded */
	CHECK(!drive(e, 2, 300));		/* buffers on the way fill */
	CHECK(e[0].tx_off > 0 && e[0].tx_off < BULK && !e[0].err);
	e[0].tx_len = e[1].rx_len = e[0].tx_off;
	ep_send(&e[0]);				/* shutdown(), then exit */
	CHECK(e[0].shut_done);
	close(e[0].fd);
	loop_once(10);
	CHECK(flows.count == 1 && tcp_splice_draining() == 1);

	e[1].rx_hold = false;
	if (drain) {
		CHECK(wait_drained(&e[1], 1, 5000));
	} else {
		tcp_splice_end(&c);
		CHECK(flows.count == 0);
	}
	for (end = now_ms() + 2000; !ep_done(&e[1]) && now_ms() < end;)
		ep_recv(&e[1]);
	if (drain) {
		tcp_splice_end(&c);
		CHECK(ep_ok(&e[1]) && e[1].rx_eof);
	} else {
		CHECK(e[1].err == ECONNRESET && !e[1].rx_eof && !e[1].bad);
		CHECK(e[1].rx_off < e[1].rx_len);
	}
	CHECK(flows.count == 0);
	close(e[1].fd);
}

static void test_end_reset_in_flight(void)
{
	end_in_flight(false);
}

static void test_end_drain_in_flight(void)
{
	end_in_flight(true);
}

/* Stopping with a drained flow still open (the server did not end its
 * side): closed in order, the server still gets what the kernel queued
 * toward it, then EOF, no reset
 */
static void test_end_drained_open(void)
{
	struct ep e[2] = {
		{ .tx_len = 256 << 10, .tx_salt = 12, .tx_shut = true },
		{ .rx_len = 256 << 10, .rx_salt = 12, .want_eof = true,
		  .rx_hold = true },
	};

	CHECK(pair(AF_INET6, false, &e[0].fd, &e[1].fd));
	CHECK(tcp_splice_draining() == 1);
	CHECK(wait_drained(e, 2, 2000));
	CHECK(flows.count == 1);		/* server to client: open */
	close(e[0].fd);
	tcp_splice_end(&c);
	CHECK(flows.count == 0);
	e[1].rx_hold = false;
	CHECK(drive(&e[1], 1, 2000));
	CHECK(ep_ok(&e[1]) && e[1].rx_eof);
	close(e[1].fd);
}

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int fds_at_start;

static void test_no_fd_leak(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		close(front_fd[i]);
		close(srv_fd[i]);
	}
	close(c.epollfd);
	CHECK(fd_count() == fds_at_start);
}

static int setup(void)
{
	struct rlimit rl;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int i;

	signal(SIGPIPE, SIG_IGN);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < PAT_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pat[i] = (uint8_t)(x >> 32);
	}
	fds_at_start = fd_count();
	if (flow_table_init(&flows, FLOWS) || tcp_splice_init(FLOWS))
		return -1;
	c = (struct ctx){ .net = &net, .flows = &flows,
			  .epollfd = epoll_create1(EPOLL_CLOEXEC),
			  .ns_sockets = fake_ns_sockets };
	for (i = 0; i < 2; i++) {
		int af = i ? AF_INET6 : AF_INET;

		front_fd[i] = listener(af, &front_port[i], 512);
		srv_fd[i] = listener(af, &srv_port[i], 512);
		if (front_fd[i] < 0 || srv_fd[i] < 0)
			return -1;
	}
	return c.epollfd < 0 ? -1 : 0;
}

int main(void)
{
	if (setup()) {
		printf("KTAP version 1\n1..0 # SKIP no loopback sockets\n");
		return 4;
	}
	UNIT_PLAN(20);
	UNIT_RUN(test_pool_prefill);
	UNIT_RUN(test_fresh_slots);
	UNIT_RUN(test_bulk_64m_both_ways);
	UNIT_RUN(test_half_close_client_first);
	UNIT_RUN(test_half_close_server_first);
	UNIT_RUN(test_backpressure);
	UNIT_RUN(test_hup_while_blocked);
	UNIT_RUN(test_server_reset);
	UNIT_RUN(test_client_reset);
	UNIT_RUN(test_refused);
	UNIT_RUN(test_connect_timeout);
	UNIT_RUN(test_many);
	UNIT_RUN(test_ipv6);
	UNIT_RUN(test_flow_table_full);
	UNIT_RUN(test_stale_events);
	UNIT_RUN(test_close_all);
	UNIT_RUN(test_end_reset_in_flight);
	UNIT_RUN(test_end_drain_in_flight);
	UNIT_RUN(test_end_drained_open);
	UNIT_RUN(test_no_fd_leak);
	flow_table_destroy(&flows);
	UNIT_EXIT();
}
