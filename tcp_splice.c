/* tcp_splice.c - loopback-to-loopback TCP connections relayed socket to
 * socket with splice(2), never entering the tap
 *
 * Theory of operation
 * A spliced connection joins two TCP sockets that both sit on a loopback
 * interface: s[0], accepted by a listener of tcp.c (on the host for -t,
 * inside the namespace for -T), and s[1], opened here and connected to the
 * loopback address of the other side at the forwarded port. For -t, s[1]
 * must live in the namespace: it comes from a pool of sockets the top layer
 * opened there (c->ns_sockets forks a helper, so it is called for a batch:
 * by tcp_splice_timer() when a pool is below half, or right away when a
 * connection finds it empty). A pool is filled only once a connection has
 * used it: a daemon that never splices toward the namespace (-t none, or
 * no connection from the host's loopback yet) holds none of those
 * sockets. For -T, s[1] is a plain socket() here.
 *
 * Data never reaches user space: direction d moves s[d] -> pipe d -> s[!d]
 * with splice(2), which passes the socket's buffer pages to the pipe and
 * from the pipe to the other socket. State per flow index, in an array
 * allocated once by tcp_splice_init(): both sockets, both pipes, the bytes
 * each pipe holds (pending[d]: data that left one socket and did not reach
 * the other yet, kept until written, never dropped while the flow lives),
 * flags, the epoll mask registered for each socket, byte counters.
 *
 * Flow control: a direction reads from s[d] only into an empty pipe, and
 * writes the pipe out right after. When s[!d] refuses (EAGAIN, its send
 * buffer is full) the direction is blocked: EPOLLIN comes off s[d] and
 * EPOLLOUT goes on s[!d]; once EPOLLOUT has emptied the pipe they swap
 * back. Meanwhile the peer behind s[d] stalls on TCP's own window, so at
 * most one pipe per direction is buffered here.
 *
 * Epoll is level-triggered, and the mask registered for a socket is always
 * exactly what the flow waits for (splice_epoll()): readiness we do not
 * want is not reported, and work cut short by the budget (SPLICE_BUDGET
 * bytes read per direction per event, so one fast flow does not starve
 * the others) is reported again by the next epoll_wait(). Two kernel
 * behaviours need care:
 * - EPOLLERR and EPOLLHUP cannot be masked. TCP reports EPOLLHUP once a
 *   FIN was received and we shut the socket's send side, which can happen
 *   with data still unread: if that direction is blocked, a level-triggered
 *   EPOLLHUP would fire in a loop. So a socket we shut down and want
 *   nothing from leaves the epoll set (EPOLL_CTL_DEL) until it is wanted
 *   again. A socket we did not shut down only reports EPOLLHUP together
 *   with an error (reset, refused or timed-out connection).
 * - Events of one epoll_wait() batch can be stale: an earlier event may
 *   close a flow and a listener event later in the batch may get both the
 *   flow slot (flow.c hands out the last freed one first) and the same
 *   descriptor numbers for a new connection. Events are hints only: errors
 *   are confirmed with SO_ERROR, EOF only by splice() returning 0, a full
 *   socket only by EAGAIN; a stale hint costs one system call.
 *
 * Half-close: EOF from s[d] is forwarded as shutdown(s[!d], SHUT_WR) once
 * pipe d is empty; the other direction carries on. The flow is closed when
 * both directions saw EOF and forwarded it. An error on either socket
 * (SO_ERROR, or ECONNRESET or EPIPE from splice()) aborts the flow: the
 * other socket is closed with SO_LINGER {1, 0}, which sends a RST, so its
 * peer sees the connection fail instead of end cleanly. A refused connect()
 * is such an error: the client is reset as soon as the kernel answers our
 * SYN with a RST. Orderly ends close without SO_LINGER.
 *
 * Ending: when the daemon stops (its command ended), a flow may still hold
 * data out of the namespace: in a pipe, or unread in the receive queue of
 * the namespace's socket (the client there wrote it, exited, and counts it
 * as sent). Exiting then would discard it, and the implicit close() of the
 * socket outside sends a FIN: the peer sees a truncated stream end as if
 * in order. So the top layer keeps relaying while tcp_splice_draining()
 * counts such flows (bounded by TCP_SPLICE_DRAIN_MS), then calls
 * tcp_splice_end(): a drained flow, whose namespace side reached EOF and
 * had it all written out, is closed in order (the kernel still delivers
 * what sits in the send queue of the socket outside), any other one with
 * a reset, so a truncation is never mistaken for an end.
 *
 * Pipes start at the kernel's default size and grow to SPLICE_PIPE_SIZE
 * (F_SETPIPE_SZ) once a direction moved SPLICE_GROW_AFTER bytes: pipe pages
 * count against fs.pipe-user-pages-soft for unprivileged users, and short
 * connections should not use that up. A refused growth is ignored.
 *
 * Sockets registered with epoll must fit the 24 bits of epoll_ref.fd (pipes
 * are never registered). splice() into a socket raises SIGPIPE on EPIPE:
 * the daemon ignores SIGPIPE.
 *
 * System calls: socket, connect, pipe2, fcntl, splice, shutdown,
 * getsockopt, setsockopt, epoll_ctl, close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tcp_splice.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW_ARGS(SYS_NS, socket, 0, AF_INET, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW_ARGS(SYS_NS, socket, 0, AF_INET6, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW(SYS_NS, connect);
SYSCALL_ALLOW(SYS_NS, pipe2);
SYSCALL_ALLOW_ARG(SYS_NS, fcntl, 1, F_GETFL);
SYSCALL_ALLOW_ARG(SYS_NS, fcntl, 1, F_SETFL);
SYSCALL_ALLOW_ARG(SYS_NS, fcntl, 1, F_SETPIPE_SZ);
SYSCALL_ALLOW(SYS_NS, splice);
SYSCALL_ALLOW(SYS_NS, shutdown);
SYSCALL_ALLOW_ARG(SYS_NS, getsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW_ARG(SYS_NS, setsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW(SYS_NS, epoll_ctl);
SYSCALL_ALLOW(SYS_NS, close);

#define SPLICE_FD_MAX		EPOLL_REF_FD_MAX
#define SPLICE_PIPE_SIZE	(1 << 20)	/* grown pipe, bytes */
#define SPLICE_GROW_AFTER	(256 << 10)	/* grow once this much moved */
#define SPLICE_CHUNK		SPLICE_PIPE_SIZE /* asked per splice() read */
#define SPLICE_BUDGET		(4 << 20)	/* read per direction, call */
#define SPLICE_POOL_RETRY_MS	10000		/* after a failed pool refill */
#define SPLICE_FLAGS		(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

/* Flags: d is a direction (from s[d] to s[!d]), i a socket */
#define SPL_CONNECTING	(1U << 0)		/* connect() of s[1] pending */
#define SPL_EOF(d)	(1U << (1 + (d)))	/* read EOF from s[d] */
#define SPL_SHUT(i)	(1U << (3 + (i)))	/* sent SHUT_WR on s[i] */
#define SPL_BLOCK(d)	(1U << (5 + (d)))	/* pipe d waits for s[!d] */
#define SPL_GROWN(d)	(1U << (7 + (d)))	/* pipe d grown (or tried) */
#define SPL_REG(i)	(1U << (9 + (i)))	/* s[i] in the epoll set */
#define SPL_NS1		(1U << 11)		/* s[1] in the namespace (-t),
						 * else s[0] (-T) */
#define SPL_DONE	(SPL_EOF(0) | SPL_EOF(1) | SPL_SHUT(0) | SPL_SHUT(1))

/* Which sockets splice_close() resets: bit i for s[i] */
#define SPL_RST(i)	(1U << (i))
#define SPL_RST_BOTH	(SPL_RST(0) | SPL_RST(1))

/**
 * struct tcp_splice_conn - Per-flow state, indexed by flow index
 * @s:		Sockets: [0] accepted, [1] connected by us; -1 if none
 * @pr:		Read end of the pipe of each direction
 * @pw:		Write end of the pipe of each direction
 * @pending:	Bytes in the pipe of each direction
 * @ev:		Epoll mask registered for each socket
 * @flags:	SPL_* flags
 * @bytes:	Bytes delivered in each direction, for the log
 */
struct tcp_splice_conn {
	int s[2];
	int pr[2];
	int pw[2];
	uint32_t pending[2];
	uint32_t ev[2];
	uint32_t flags;
	uint64_t bytes[2];
};

_Static_assert(sizeof(struct tcp_splice_conn) <= 64,
	       "per-flow splice state fits a cache line");

/**
 * struct splice_pool - Sockets opened in the namespace, not used yet
 * @fd:		Sockets, @n of them
 * @n:		Sockets available
 * @retry_ms:	Do not refill from the timer before this time
 * @used:	A connection took (or wanted) a socket: keep the pool filled
 */
struct splice_pool {
	int fd[TCP_SPLICE_POOL];
	int n;
	uint64_t retry_ms;
	bool used;
};

static struct tcp_splice_conn *splice_conns;
static unsigned int splice_max;
static unsigned int splice_hi;		/* no flow at or above this */
static struct splice_pool splice_pools[2];	/* AF_INET, AF_INET6 */

/**
 * splice_conn_reset() - Mark per-flow state unused
 * @conn:	Per-flow state
 */
static void splice_conn_reset(struct tcp_splice_conn *conn)
{
	*conn = (struct tcp_splice_conn){
		.s = { -1, -1 }, .pr = { -1, -1 }, .pw = { -1, -1 },
	};
}

/**
 * tcp_splice_init() - Allocate per-flow state (once, at start)
 * @flow_max:	Size of the flow table
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int tcp_splice_init(unsigned int flow_max)
{
	unsigned int i;

	free(splice_conns);
	splice_conns = calloc(flow_max, sizeof(*splice_conns));
	if (!splice_conns)
		return -ENOMEM;
	for (i = 0; i < flow_max; i++)
		splice_conn_reset(&splice_conns[i]);
	splice_max = flow_max;
	splice_hi = 0;
	return 0;
}

/**
 * splice_nonblock() - Make sure a descriptor is non-blocking
 * @fd:		Descriptor
 *
 * Return: 0 on success, negative errno on failure
 *
 * System calls: fcntl
 */
static int splice_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/**
 * splice_pool_fill() - Top a pool of namespace sockets up, one batch
 * @c:		Execution context
 * @af:		AF_INET or AF_INET6
 *
 * Return: 0 on success (the pool may still be short), negative errno if the
 *	   top layer could not open any socket
 *
 * System calls: fcntl, close (and whatever c->ns_sockets needs)
 */
static int splice_pool_fill(struct ctx *c, int af)
{
	struct splice_pool *p = &splice_pools[af == AF_INET6];
	int want = TCP_SPLICE_POOL - p->n, rc, i, base;

	if (!c->ns_sockets)
		return -EOPNOTSUPP;
	if (want <= 0)
		return 0;
	rc = c->ns_sockets(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   IPPROTO_TCP, p->fd + p->n, want);
	if (rc <= 0) {
		rc = rc ? rc : -EMFILE;
		p->retry_ms = c->now_ms + SPLICE_POOL_RETRY_MS;
		log_debug("tcp splice: no namespace sockets: %s",
			  strerror(-rc));
		return rc;
	}
	for (i = 0, base = p->n; i < MIN(rc, want); i++) {
		int fd = p->fd[base + i];

		/* Whatever the helper did, connect() must not block */
		if (splice_nonblock(fd))
			close(fd);
		else
			p->fd[p->n++] = fd;
	}
	return 0;
}

/**
 * splice_pool_take() - Take a socket of the namespace from its pool
 * @c:		Execution context
 * @af:		AF_INET or AF_INET6
 *
 * Return: socket, or negative errno
 */
static int splice_pool_take(struct ctx *c, int af)
{
	struct splice_pool *p = &splice_pools[af == AF_INET6];
	int rc;

	p->used = true;
	if (!p->n && (rc = splice_pool_fill(c, af)))
		return rc;
	if (!p->n)
		return -EMFILE;
	return p->fd[--p->n];
}

/**
 * splice_pool_drain() - Close every socket of a pool
 * @af:		AF_INET or AF_INET6
 */
static void splice_pool_drain(int af)
{
	struct splice_pool *p = &splice_pools[af == AF_INET6];

	while (p->n)
		close(p->fd[--p->n]);
}

/**
 * splice_sock_error() - Read and clear a socket's pending error
 * @fd:		Socket
 *
 * Return: positive errno pending on @fd, 0 if none
 *
 * System calls: getsockopt
 */
static int splice_sock_error(int fd)
{
	socklen_t sl = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl))
		return errno;
	return err;
}

/**
 * splice_epoll() - Register exactly the events a socket's flow waits for
 * @c:		Execution context
 * @idx:	Flow index
 * @i:		Socket, 0 or 1
 *
 * Reading s[i] is wanted unless connect() is pending, EOF was read or its
 * direction is blocked; writing when connect() is pending (s[1]) or the
 * other direction is blocked on s[i]. A socket we shut down and want
 * nothing from leaves the set: EPOLLHUP could not be masked otherwise.
 *
 * Return: 0 on success, negative errno on failure
 *
 * System calls: epoll_ctl
 */
static int splice_epoll(struct ctx *c, int idx, int i)
{
	struct tcp_splice_conn *conn = &splice_conns[idx];
	union epoll_ref ref = { .type = EPOLL_TYPE_TCP_SPLICE,
				.fd = conn->s[i], .flow = (uint32_t)idx };
	struct epoll_event ev = { .data.u64 = ref.u64 };
	uint32_t f = conn->flags, want = 0;
	int op;

	if (!(f & (SPL_CONNECTING | SPL_EOF(i) | SPL_BLOCK(i))))
		want |= EPOLLIN | EPOLLRDHUP;
	if ((i == 1 && (f & SPL_CONNECTING)) || (f & SPL_BLOCK(!i)))
		want |= EPOLLOUT;

	if (!want && (f & SPL_SHUT(i)))
		op = (f & SPL_REG(i)) ? EPOLL_CTL_DEL : -1;
	else if (!(f & SPL_REG(i)))
		op = EPOLL_CTL_ADD;
	else
		op = conn->ev[i] == want ? -1 : EPOLL_CTL_MOD;
	if (op < 0)
		return 0;

	ev.events = want;
	if (epoll_ctl(c->epollfd, op, conn->s[i], &ev))
		return -errno;
	conn->ev[i] = want;
	if (op == EPOLL_CTL_DEL)
		conn->flags &= ~SPL_REG(i);
	else
		conn->flags |= SPL_REG(i);
	return 0;
}

/**
 * splice_close() - Close both sockets and pipes of a flow, free the flow
 * @c:		Execution context
 * @idx:	Flow index
 * @rst:	SPL_RST() bits: sockets to close with a RST (SO_LINGER {1, 0})
 *
 * System calls: setsockopt, epoll_ctl, close
 */
static void splice_close(struct ctx *c, int idx, unsigned int rst)
{
	static const struct linger abort_lg = { .l_onoff = 1, .l_linger = 0 };
	struct tcp_splice_conn *conn = &splice_conns[idx];
	int i;

	for (i = 0; i < 2; i++) {
		if (conn->s[i] < 0)
			continue;
		/* A copy of the descriptor would keep it in the set */
		if (conn->flags & SPL_REG(i))
			epoll_ctl(c->epollfd, EPOLL_CTL_DEL, conn->s[i], NULL);
		if (rst & SPL_RST(i))
			setsockopt(conn->s[i], SOL_SOCKET, SO_LINGER,
				   &abort_lg, sizeof(abort_lg));
		close(conn->s[i]);
	}
	for (i = 0; i < 2; i++) {
		if (conn->pr[i] >= 0)
			close(conn->pr[i]);
		if (conn->pw[i] >= 0)
			close(conn->pw[i]);
	}
	log_trace("tcp splice: flow %d closed%s: %llu bytes from the accepted "
		  "side, %llu to it", idx, rst ? " with reset" : "",
		  (unsigned long long)conn->bytes[0],
		  (unsigned long long)conn->bytes[1]);
	splice_conn_reset(conn);
	flow_free(c->flows, idx);
}

/**
 * splice_abort() - Close a flow after an error on one of its sockets
 * @c:		Execution context
 * @idx:	Flow index
 * @bad:	Socket that failed, 0 or 1: the other one is reset
 * @err:	Positive errno, for the log
 */
static void splice_abort(struct ctx *c, int idx, int bad, int err)
{
	log_debug("tcp splice: flow %d, %s side: %s", idx,
		  bad ? "connected" : "accepted", strerror(err));
	splice_close(c, idx, SPL_RST(!bad));
}

/**
 * splice_grow() - Enlarge the pipe of a direction once it carries bulk data
 * @conn:	Per-flow state
 * @d:		Direction
 *
 * System calls: fcntl
 */
static void splice_grow(struct tcp_splice_conn *conn, int d)
{
	if ((conn->flags & SPL_GROWN(d)) ||
	    conn->bytes[d] + conn->pending[d] < SPLICE_GROW_AFTER)
		return;
	conn->flags |= SPL_GROWN(d);
	/* EPERM over fs.pipe-max-size or pipe-user-pages-soft: keep it */
	if (fcntl(conn->pw[d], F_SETPIPE_SZ, SPLICE_PIPE_SIZE) < 0)
		log_trace("tcp splice: F_SETPIPE_SZ: %s", strerror(errno));
}

/**
 * splice_flush() - Write out what the pipe of a direction holds
 * @conn:	Per-flow state
 * @d:		Direction: the pipe goes to s[!d]
 *
 * Return: 0 if the pipe is empty or s[!d] is full (SPL_BLOCK(d) set),
 *	   negative errno if writing to s[!d] failed
 *
 * System calls: splice
 */
static int splice_flush(struct tcp_splice_conn *conn, int d)
{
	ssize_t n;

	while (conn->pending[d]) {
		n = splice(conn->pr[d], NULL, conn->s[!d], NULL,
			   conn->pending[d], SPLICE_FLAGS);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			conn->flags |= SPL_BLOCK(d);
			return 0;
		}
		if (n < 0)
			return -errno;
		/* A pipe holding data cannot read as empty: do not spin */
		if (n == 0)
			return -EIO;
		conn->pending[d] -= (uint32_t)n;
		conn->bytes[d] += (uint64_t)n;
	}
	conn->flags &= ~SPL_BLOCK(d);
	return 0;
}

/**
 * splice_dir() - Move data of one direction until blocked, dry or budget
 * @conn:	Per-flow state
 * @d:		Direction: from s[d] through pipe d to s[!d]
 * @bad:	On failure, socket that failed, 0 or 1
 *
 * The pipe is only filled when empty, so EAGAIN reading means no data.
 * Return with the pipe empty or the direction blocked, never with data
 * waiting in the pipe for an event that will not come.
 *
 * Return: 0 on success, negative errno on failure of socket @bad
 *
 * System calls: splice, fcntl
 */
static int splice_dir(struct tcp_splice_conn *conn, int d, int *bad)
{
	size_t budget = SPLICE_BUDGET;
	ssize_t n;
	int rc;

	if (conn->flags & SPL_CONNECTING)
		return 0;
	for (;;) {
		rc = splice_flush(conn, d);
		if (rc) {
			*bad = !d;
			return rc;
		}
		if (conn->flags & (SPL_BLOCK(d) | SPL_EOF(d)) || !budget)
			return 0;

		n = splice(conn->s[d], NULL, conn->pw[d], NULL,
			   MIN(budget, (size_t)SPLICE_CHUNK), SPLICE_FLAGS);
		if (n == 0) {
			conn->flags |= SPL_EOF(d);
			return 0;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0) {
			*bad = d;
			return -errno;
		}
		conn->pending[d] += (uint32_t)n;
		budget -= (size_t)n;
		splice_grow(conn, d);
	}
}

/**
 * splice_progress() - Forward EOFs, close a finished flow, update epoll
 * @c:		Execution context
 * @idx:	Flow index
 *
 * System calls: shutdown, epoll_ctl, setsockopt, close
 */
static void splice_progress(struct ctx *c, int idx)
{
	struct tcp_splice_conn *conn = &splice_conns[idx];
	int d, i;

	for (d = 0; d < 2; d++) {
		if (!(conn->flags & SPL_EOF(d)) || conn->pending[d] ||
		    (conn->flags & SPL_SHUT(!d)))
			continue;
		/* ENOTCONN: s[!d] was reset meanwhile */
		if (shutdown(conn->s[!d], SHUT_WR)) {
			splice_abort(c, idx, !d, errno);
			return;
		}
		conn->flags |= SPL_SHUT(!d);
	}
	if ((conn->flags & SPL_DONE) == SPL_DONE) {
		splice_close(c, idx, 0);
		return;
	}
	for (i = 0; i < 2; i++) {
		int rc = splice_epoll(c, idx, i);

		if (rc) {
			log_debug("tcp splice: epoll_ctl: %s", strerror(-rc));
			splice_close(c, idx, SPL_RST_BOTH);
			return;
		}
	}
}

/**
 * splice_sock_open() - Get the socket to connect, here or in the namespace
 * @c:		Execution context
 * @af:		AF_INET or AF_INET6
 * @to_ns:	Take it from the pool of namespace sockets
 *
 * Return: socket, or negative errno
 *
 * System calls: socket, close
 */
static int splice_sock_open(struct ctx *c, int af, bool to_ns)
{
	int s;

	if (to_ns)
		s = splice_pool_take(c, af);
	else if ((s = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			     IPPROTO_TCP)) < 0)
		s = -errno;
	if (s >= SPLICE_FD_MAX) {
		close(s);
		return -EMFILE;
	}
	return s;
}

/**
 * splice_pipes_open() - Open the pipe of each direction
 * @conn:	Per-flow state
 *
 * Return: 0 on success, negative errno on failure (pipes opened so far are
 *	   left for splice_close())
 *
 * System calls: pipe2
 */
static int splice_pipes_open(struct tcp_splice_conn *conn)
{
	int d, p[2];

	for (d = 0; d < 2; d++) {
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			return -errno;
		conn->pr[d] = p[0];
		conn->pw[d] = p[1];
	}
	return 0;
}

/**
 * splice_connect() - Start connecting a socket to loopback
 * @s:		Socket, non-blocking
 * @af:		AF_INET or AF_INET6
 * @port:	Destination port
 *
 * Return: 0 if connected, -EINPROGRESS if pending, other negative errno
 *
 * System calls: connect
 */
static int splice_connect(int s, int af, uint16_t port)
{
	struct sockaddr_in a4 = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr = { htonl(INADDR_LOOPBACK) },
	};
	struct sockaddr_in6 a6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	int rc;

	if (af == AF_INET)
		rc = connect(s, (struct sockaddr *)&a4, sizeof(a4));
	else
		rc = connect(s, (struct sockaddr *)&a6, sizeof(a6));
	return rc ? -errno : 0;
}

/**
 * splice_conn_setup() - Open the other socket and the pipes, connect
 * @c:		Execution context
 * @idx:	Flow index, s[0] already set
 * @af:		AF_INET or AF_INET6
 * @to_ns:	Connect inside the namespace
 * @dport:	Destination port
 *
 * Return: 0 on success, negative errno on failure
 */
static int splice_conn_setup(struct ctx *c, int idx, int af, bool to_ns,
			     uint16_t dport)
{
	struct tcp_splice_conn *conn = &splice_conns[idx];
	int rc, i;

	rc = splice_sock_open(c, af, to_ns);
	if (rc < 0)
		return rc;
	conn->s[1] = rc;
	if (to_ns)
		conn->flags |= SPL_NS1;
	rc = splice_pipes_open(conn);
	if (rc)
		return rc;
	rc = splice_connect(conn->s[1], af, dport);
	if (rc == -EINPROGRESS) {
		conn->flags |= SPL_CONNECTING;
		flow_timer_set(c->flows, idx,
			       c->now_ms + TCP_SPLICE_CONNECT_MS + 1);
	} else if (rc) {
		return rc;
	}
	for (i = 0; i < 2; i++) {
		rc = splice_epoll(c, idx, i);
		if (rc)
			return rc;
	}
	return 0;
}

/**
 * tcp_splice_conn_new() - Splice an accepted loopback connection to the
 *			   loopback address of the other side
 * @c:		Execution context
 * @accepted:	Accepted socket, owned from now on (closed on failure)
 * @af:		AF_INET or AF_INET6, of @accepted and of the connection made
 * @to_ns:	Connect inside the namespace (-t), or here (-T)
 * @dport:	Port to connect to
 *
 * Return: 0 on success, -1 on failure (@accepted was closed, with a RST
 *	   if the connection could not be made)
 *
 * System calls: fcntl, socket, pipe2, connect, epoll_ctl, setsockopt, close
 */
int tcp_splice_conn_new(struct ctx *c, int accepted, int af, bool to_ns,
			uint16_t dport)
{
	struct tcp_splice_conn *conn;
	int idx, rc;

	if (accepted < 0)
		return -1;
	if (accepted >= SPLICE_FD_MAX || !splice_conns || !dport ||
	    (af != AF_INET && af != AF_INET6) || splice_nonblock(accepted)) {
		log_debug("tcp splice: cannot splice descriptor %d", accepted);
		close(accepted);
		return -1;
	}
	idx = flow_alloc(c->flows, FLOW_TCP_SPLICE, IPPROTO_TCP,
			 to_ns ? FLOW_SHARE_TCP_IN : FLOW_SHARE_TCP_OUT);
	if (idx == FLOW_NONE || (unsigned int)idx >= splice_max) {
		flow_free(c->flows, idx);
		close(accepted);
		drop(DROP_FLOW_FULL);
		return -1;
	}
	flow_at(c->flows, idx)->last_ms = c->now_ms;
	conn = &splice_conns[idx];
	conn->s[0] = accepted;
	splice_hi = MAX(splice_hi, (unsigned int)idx + 1);

	rc = splice_conn_setup(c, idx, af, to_ns, dport);
	if (rc) {
		log_debug("tcp splice: to port %u: %s", dport, strerror(-rc));
		splice_close(c, idx, SPL_RST(0));
		return -1;
	}
	return 0;
}

/**
 * splice_connected() - Handle a wake-up of s[1] while connect() is pending
 * @c:		Execution context
 * @idx:	Flow index
 * @events:	Epoll events reported for s[1]
 *
 * A stale EPOLLOUT can make a socket still in SYN-SENT look connected:
 * harmless, splice() into it gets EAGAIN until it is, and a failure shows
 * up later as an error on it, which resets s[0] all the same.
 *
 * Return: true if the connection is established: relay both ways now
 *
 * System calls: getsockopt (and what splice_abort() needs)
 */
static bool splice_connected(struct ctx *c, int idx, uint32_t events)
{
	struct tcp_splice_conn *conn = &splice_conns[idx];
	int err = splice_sock_error(conn->s[1]);

	if (err) {
		splice_abort(c, idx, 1, err);	/* ECONNREFUSED: reset s[0] */
		return false;
	}
	if (!(events & EPOLLOUT))
		return false;
	conn->flags &= ~SPL_CONNECTING;
	flow_timer_set(c->flows, idx, 0);
	return true;
}

/**
 * tcp_splice_sock_handler() - Handle events on either socket of a flow
 * @c:		Execution context
 * @ref:	Epoll reference: flow index and the socket's descriptor
 * @events:	Epoll events
 */
void tcp_splice_sock_handler(struct ctx *c, union epoll_ref ref,
			     uint32_t events)
{
	struct tcp_splice_conn *conn;
	int idx = (int)ref.flow, side, bad = 0, rc = 0, err;

	/* An earlier event of the batch may have closed this flow */
	if (ref.flow >= splice_max ||
	    flow_at(c->flows, idx)->type != FLOW_TCP_SPLICE)
		return;
	conn = &splice_conns[idx];
	if (ref.fd == conn->s[0])
		side = 0;
	else if (ref.fd == conn->s[1])
		side = 1;
	else
		return;
	flow_at(c->flows, idx)->last_ms = c->now_ms;

	if (conn->flags & SPL_CONNECTING) {
		/* s[0] has no events registered yet: only errors, or stale */
		if (side == 0) {
			if ((err = splice_sock_error(ref.fd)))
				splice_abort(c, idx, 0, err);
			return;
		}
		if (!splice_connected(c, idx, events))
			return;
		events = EPOLLIN | EPOLLOUT;
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		/* Stale, or EPOLLHUP of a socket we shut down: no error */
		if ((err = splice_sock_error(ref.fd))) {
			splice_abort(c, idx, side, err);
			return;
		}
	}

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		rc = splice_dir(conn, side, &bad);
	if (!rc && (events & EPOLLOUT))
		rc = splice_dir(conn, !side, &bad);
	if (rc) {
		splice_abort(c, idx, bad, -rc);
		return;
	}
	splice_progress(c, idx);
}

/**
 * tcp_splice_timer() - Refill socket pools, reset connections whose
 *			connect() takes longer than TCP_SPLICE_CONNECT_MS
 * @c:		Execution context
 */
void tcp_splice_timer(struct ctx *c)
{
	static const int afs[2] = { AF_INET, AF_INET6 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(afs); i++) {
		const struct splice_pool *p = &splice_pools[i];

		if (c->ns_sockets && p->used && p->n < TCP_SPLICE_POOL / 2 &&
		    c->now_ms >= p->retry_ms)
			splice_pool_fill(c, afs[i]);
	}
}

/**
 * tcp_splice_next_ms() - When tcp_splice_timer() has work next
 * @c:		Execution context
 *
 * Return: time in ms (now or earlier if due), UINT64_MAX if never
 */
uint64_t tcp_splice_next_ms(const struct ctx *c)
{
	uint64_t due = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(splice_pools); i++) {
		const struct splice_pool *p = &splice_pools[i];

		if (c->ns_sockets && p->used && p->n < TCP_SPLICE_POOL / 2)
			due = MIN(due, p->retry_ms);
	}
	return due;
}

/**
 * tcp_splice_flow_timer() - A flow's deadline came: connect() took longer
 *			     than TCP_SPLICE_CONNECT_MS
 * @c:		Execution context
 * @idx:	Flow index of a spliced connection
 */
void tcp_splice_flow_timer(struct ctx *c, int idx)
{
	if (splice_conns[idx].flags & SPL_CONNECTING)
		splice_abort(c, idx, 1, ETIMEDOUT);
}

/**
 * splice_drained() - Did a flow relay all the namespace side sent, if it
 *		      ended?
 * @conn:	Per-flow state, in use
 *
 * Return: true if EOF was read from the namespace's socket and forwarded
 *	   (with the pipe emptied first) to the socket outside
 */
static bool splice_drained(const struct tcp_splice_conn *conn)
{
	int ns = !!(conn->flags & SPL_NS1);

	return conn->flags & SPL_SHUT(!ns);
}

/**
 * tcp_splice_draining() - Count flows still relaying out of the namespace
 *
 * A flow counts until its namespace side ended and all of it was written
 * out: its data can sit in a pipe or a receive queue we did not read yet,
 * or, while connect() is pending, in the receive queue of s[0].
 *
 * Return: number of such flows
 */
unsigned int tcp_splice_draining(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < splice_hi; i++) {
		if (splice_conns[i].s[0] >= 0 &&
		    !splice_drained(&splice_conns[i]))
			n++;
	}
	return n;
}

/**
 * tcp_splice_end() - Close every flow as the daemon stops, close the pools
 * @c:		Execution context
 *
 * Drained flows (see tcp_splice_draining()) are closed in order: their
 * sockets' send queues are still delivered, then a FIN. Others are reset
 * on both sides, so that no peer takes a cut stream for a complete one.
 */
void tcp_splice_end(struct ctx *c)
{
	unsigned int i;

	for (i = 0; i < splice_hi; i++) {
		const struct tcp_splice_conn *conn = &splice_conns[i];

		if (conn->s[0] < 0)
			continue;
		splice_close(c, (int)i,
			     splice_drained(conn) ? 0 : SPL_RST_BOTH);
	}
	splice_pool_drain(AF_INET);
	splice_pool_drain(AF_INET6);
}

/**
 * tcp_splice_close_all() - Reset every spliced connection, close the pools
 * @c:		Execution context
 */
void tcp_splice_close_all(struct ctx *c)
{
	unsigned int i;

	for (i = 0; i < splice_hi; i++) {
		if (splice_conns[i].s[0] >= 0)
			splice_close(c, (int)i, SPL_RST_BOTH);
	}
	splice_pool_drain(AF_INET);
	splice_pool_drain(AF_INET6);
}
