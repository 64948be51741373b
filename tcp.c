/* tcp.c - TCP translation between the guest's segments and host sockets
 *
 * Theory of operation
 * Each connection is a flow with one host socket; the sockets hold the
 * data, the daemon holds sequence numbers only (struct tcp_conn, in an
 * array indexed by flow index).
 *
 * Socket to guest: data is read with MSG_PEEK, straight into frames
 * reserved in the output queue, and stays in the socket's receive queue
 * until the guest acknowledges it; acknowledged bytes are then dropped
 * with recv(MSG_TRUNC), which copies nothing. With SO_PEEK_OFF (TCP since
 * Linux 6.9, probed at start) each peek starts after the bytes already
 * sent; without it (or with --no-peek-offset) the sent prefix is peeked
 * again into a discard buffer. A retransmission (three duplicate ACKs, or
 * no progress for the retransmission timeout) rewinds the peek offset to
 * the first unacknowledged byte. What we read never exceeds the window
 * the guest advertised, so the socket's receive buffer fills when the
 * guest is slow and the kernel closes the window toward the peer.
 *
 * Guest to socket: every in-order payload of a batch of frames of one
 * flow is written with one sendmsg(); a batch of at least --zerocopy-min
 * bytes lying in one receive buffer goes with MSG_ZEROCOPY, the buffer
 * lent to the kernel until its completion (zerocopy.c), which arrives as
 * EPOLLERR: tcp_sock_handler() reads it before taking EPOLLERR as an
 * error. Only what the socket took is acknowledged. The window we
 * advertise is the socket's free send buffer (SO_MEMINFO, with a wider
 * margin for zerocopy sends), so the guest rarely sends more than the
 * socket can take; if it does, the rest is not acknowledged, and once
 * the socket drains (EPOLLOUT) a window update and three duplicate ACKs
 * after it make the guest retransmit at once instead of waiting for its
 * retransmission timeout.
 *
 * Toward the guest the MSS is the one it announced, but at least 536
 * (IPv4) or 1220 (IPv6) bytes: a guest MSS of 1 would otherwise cost one
 * frame per byte. A SYN-ACK carries window scaling only if the guest's
 * SYN did (RFC 7323, 2.2).
 *
 * Sockets are registered edge-triggered: peeked data stays readable, so a
 * level-triggered EPOLLIN would fire until the guest acknowledges it.
 * Reading resumes when new data arrives or the guest opens its window.
 *
 * Connections between the host's and the namespace's loopback never reach
 * this file's data path: tcp_splice.c relays them socket to socket.
 *
 * How a connection ends, and who ends it. Each connection has two timers,
 * both deadlines in struct tcp_conn: @deadline (handshake,
 * retransmission, zero window probe) and @life_deadline (keepalive,
 * half-close bound, inactivity); their arithmetic (RTT estimate, what a
 * lifetime bound calls for) is in tcp_timer.c. The earlier of the two is
 * the flow's deadline in flow.c's heap (tcp_timer_sync()), so the loop
 * sleeps until it and calls tcp_flow_timer() for this connection alone:
 * no timer scans the table.
 *  - Both FINs sent and acknowledged: the guest's ACK of our FIN, or its
 *    FIN after ours, closes the socket (tcp_conn_input()).
 *  - A RST from the guest at the next sequence number: the host socket is
 *    closed with a reset (SO_LINGER 0). An error or reset on the host
 *    socket: a RST to the guest.
 *  - Handshake (@deadline): our SYN-ACK (outbound) or SYN (inbound) is
 *    sent again every TCP_SYN_MS, as many times as the host's TCP would
 *    (net.ipv4.tcp_synack_retries, tcp_syn_retries, read at start), then
 *    both sides reset; a refused connect() answers the guest's SYN with a
 *    RST. A full table gives up the oldest connection still connecting
 *    (tcp_evict_connecting()).
 *  - Retransmission (@deadline): TCP_RETRIES timeouts without progress,
 *    then both sides reset. The timeout follows the guest's round-trip
 *    time (RFC 6298: one segment timed at a time, the handshake first;
 *    none once anything was sent again, Karn's rule), doubled each time.
 *  - Lifetime (@life_deadline, tcp_life_timeout()): after
 *    --tcp-keepalive seconds without a segment from the guest, keepalives
 *    (an ACK one below the next sequence number, as Linux sends); a guest
 *    that forgot the connection answers with a RST, one that is gone not
 *    at all: after TCP_KA_PROBES unanswered ones both sides are reset.
 *    Once one side sent its FIN, --tcp-fin-timeout seconds without data
 *    or FIN either way reset both sides; in any state, --tcp-timeout
 *    seconds without data do. Timestamps (@tap_ms, @act_ms) are updated
 *    on the data path and the deadline recomputed when it fires, so the
 *    data path never touches a timer.
 *  - The guest went away (VM mode) or the daemon exits: tcp_close_all(),
 *    tcp_end().
 *
 * Listeners take connections through accept.c, which also refuses them
 * without spinning when the daemon is out of descriptors.
 *
 * System calls: socket, connect, bind, listen, setsockopt, getsockopt,
 * recvmsg, recv, sendmsg, shutdown, close, epoll_ctl (and zerocopy.c's
 * for the sockets it lends buffers to); at start only:
 * open, read (the host's SYN retry sysctls).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept.h"
#include "fwdsock.h"
#include "log.h"
#include "tap_splice.h"
#include "tcp.h"
#include "tcp_splice.h"
#include "tcp_timer.h"
#include "zerocopy.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET6, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW(SYS_NS | SYS_VM, connect);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, IPPROTO_TCP);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, getsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvfrom);
SYSCALL_ALLOW(SYS_NS | SYS_VM, sendmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, shutdown);
/* vhost-user: how much is unread, to lend the guest's buffers for it */
SYSCALL_ALLOW_ARG(SYS_VU, ioctl, 1, SIOCINQ);
SYSCALL_ALLOW(SYS_NS | SYS_VM, close);
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_ctl);

#define TCP_HDR_LEN	20
#define TCP_OPT_LEN	12	/* MSS (4), NOP + window scale (4), pad */
#define TCP_OPT_MSS_LEN	4	/* MSS alone (SYN-ACK, no window scaling) */
#define TCP_WS_OURS	8	/* our window scale toward the guest */
#define TCP_WND_MAX	((1U << (16 + TCP_WS_OURS)) - 1)
/* Smallest MSS we send with: what every TCP takes from a peer that sends
 * no MSS option (RFC 9293, 3.7.1), and for IPv6 what every link carries
 * (RFC 8200, 5: 1280 bytes). A smaller MSS from the guest (1 is valid on
 * the wire) would make one frame per byte. Our own MTU still caps it.
 */
#define TCP_MSS4_MIN	536
#define TCP_MSS6_MIN	1220
#define TCP_RETRIES	10	/* then the connection is reset */
#define TCP_SYN_MS	1000
#define TCP_SYN_RETRIES	3	/* if the host's sysctls cannot be read */
#define TCP_SYN_RETRIES_MAX 100
#define TCP_PROBE_MS	1000	/* zero window probes toward the guest */
#define TCP_BATCH_BYTES	(1U << 20)	/* peeked per recvmsg() */
#define TCP_BATCH_IOV	512
#define TCP_DIRECT_IOV	(IOV_MAX - 1)	/* pieces of frontend buffers */
#define TCP_DISCARD	(8U << 20)	/* without SO_PEEK_OFF: sent prefix */

#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_PSH		0x08
#define TH_ACK		0x10

/* Connection state flags */
enum {
	TAP_SYN_RCVD	= 1 << 0,	/* guest's SYN seen, connecting */
	SOCK_ACCEPTED	= 1 << 1,	/* inbound, our SYN sent to guest */
	ESTABLISHED	= 1 << 2,
	SOCK_FIN_RCVD	= 1 << 3,	/* peer closed its side */
	TAP_FIN_SENT	= 1 << 4,
	TAP_FIN_ACKED	= 1 << 5,
	TAP_FIN_RCVD	= 1 << 6,	/* guest closed its side */
	SOCK_FIN_SENT	= 1 << 7,	/* shutdown(SHUT_WR) done */
	SYNACK_SENT	= 1 << 8,
	WS_ON		= 1 << 9,	/* window scaling agreed */
	STALLED		= 1 << 10,	/* socket refused guest data */
	WND_CLOSED	= 1 << 11,	/* we advertised a zero window */
	PEEK_OFF	= 1 << 12,	/* SO_PEEK_OFF set on the socket */
	TAP_FIN_EVER	= 1 << 13,	/* FIN sent at least once */
	SOCK_UNREAD	= 1 << 14,	/* socket may hold data not peeked */
	FRONT_WAIT	= 1 << 15,	/* data waits for the frontend's room */
};

/* Connections whose data waits until the frontend has room (q->full) */
#define TCP_FRONT_WAIT_MAX	4096
static int tcp_front_wait[TCP_FRONT_WAIT_MAX];
static unsigned int tcp_front_wait_n;

/**
 * struct tcp_conn - Per-connection state, indexed by flow index
 * @sock:		Host socket, -1 if the slot is unused (slots at or above
 *			tcp_conn_hi were never used: not set, see tcp_init())
 * @flags:		State flags above
 * @ws_from_tap:	Guest's window scale
 * @ws_to_tap:		Our window scale toward the guest
 * @mss:		Largest payload per frame toward the guest
 * @dup_acks:		Duplicate ACKs seen from the guest
 * @retries:		Retransmissions without progress
 * @seq_to_tap:		Next sequence number we send to the guest
 * @seq_max_to_tap:	Highest sequence number sent so far (plus one)
 * @seq_ack_from_tap:	Last sequence number the guest acknowledged
 * @seq_from_tap:	Next sequence number expected from the guest
 * @seq_ack_to_tap:	Last acknowledgement we sent to the guest
 * @seq_isn:		Our initial sequence number
 * @wnd_from_tap:	Guest's window, bytes
 * @wnd_to_tap:		Window we advertised last, bytes
 * @events:		Events registered with epoll
 * @deadline:		Timer expiry (ms), 0 if none: handshake,
 *			retransmission, zero window probe
 * @life_deadline:	Lifetime timer expiry (ms), 0 if none: keepalive,
 *			half-close bound, inactivity timeout
 * @rtt:		Round-trip time estimate, retransmission timeout
 * @life:		What the lifetime timer looks at
 * @chal:		Challenge ACKs sent, for their limit
 * @zc:			MSG_ZEROCOPY sends in flight (zerocopy.c)
 */
struct tcp_conn {
	int sock;
	uint16_t flags;
	uint8_t ws_from_tap;
	uint8_t ws_to_tap;
	uint16_t mss;
	uint8_t dup_acks;
	uint8_t retries;
	uint32_t seq_to_tap;
	uint32_t seq_max_to_tap;
	uint32_t seq_ack_from_tap;
	uint32_t seq_from_tap;
	uint32_t seq_ack_to_tap;
	uint32_t seq_isn;
	uint32_t wnd_from_tap;
	uint32_t wnd_to_tap;
	uint32_t events;
	uint64_t deadline;
	uint64_t life_deadline;
	struct tcp_rtt rtt;
	struct tcp_life life;
	struct tcp_challenge chal;
	struct zc_sock zc;
};

/**
 * struct tcp_seg - A parsed segment from the guest
 * @seq:	Sequence number
 * @ack:	Acknowledgement number
 * @flags:	TH_* flags
 * @wnd:	Window field (unscaled)
 * @payload:	Payload
 * @inl:	Bytes of it at @payload; the rest is in @ext (frame_in)
 * @ext:	Pieces of the rest, NULL if none
 * @n_ext:	Number of pieces
 * @len:	Payload length
 * @mss:	MSS option, 0 if absent
 * @ws:		Window scale option, -1 if absent
 */
struct tcp_seg {
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *payload;
	size_t len;
	size_t inl;
	const struct iovec *ext;
	unsigned int n_ext;
	uint16_t mss;
	int ws;
};

static struct tcp_conn *tcp_conns;
/* No connection at or above this: the slots there were never used */
static unsigned int tcp_conn_hi;
static bool tcp_peek_off_ok;
static uint8_t *tcp_discard;
static unsigned int tcp_syn_retries = TCP_SYN_RETRIES;	/* our SYN */
static unsigned int tcp_synack_retries = TCP_SYN_RETRIES;

/* Sequence comparisons, modulo 2^32 (RFC 9293, 3.4) */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/**
 * tcp_peek_offset_supported() - Does this kernel do SO_PEEK_OFF for TCP?
 *
 * Return: true if setting SO_PEEK_OFF on a TCP socket works
 */
bool tcp_peek_offset_supported(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	int off = 0;
	bool ok;

	if (s < 0)
		return false;
	ok = !setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
	close(s);
	return ok;
}

/**
 * tcp_sysctl() - Read a retry count of the host's TCP
 * @name:	File under /proc/sys/net/ipv4 (of the daemon's namespace)
 * @fallback:	Value if it cannot be read
 *
 * Return: the value, at most TCP_SYN_RETRIES_MAX, or @fallback
 */
static unsigned int tcp_sysctl(const char *name, unsigned int fallback)
{
	char path[64], buf[16], *end;
	unsigned long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fallback;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return fallback;
	buf[n] = '\0';
	v = strtoul(buf, &end, 10);
	if (end == buf || !v)
		return fallback;
	return (unsigned int)MIN(v, TCP_SYN_RETRIES_MAX);
}

/**
 * tcp_init() - Allocate per-connection state and probe kernel features
 * @c:		Execution context
 * @flow_max:	Size of the flow table
 *
 * The array is left as calloc() gives it: its pages are not written, so
 * they take no memory until connections use them (the flow table hands
 * out low indices first). The unused marker (@sock -1) is written when
 * tcp_conn_hi passes a slot (tcp_conn_claim()), and the scans stop there.
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int tcp_init(struct ctx *c, unsigned int flow_max)
{
	struct zc_conf zc = { .off = c->net->no_zerocopy,
			      .min = c->net->zerocopy_min,
			      .force = c->net->zerocopy_force,
			      .scribble = c->net->zerocopy_scribble };

	zc_init(&zc);
	tcp_conns = calloc(flow_max, sizeof(*tcp_conns));
	if (!tcp_conns)
		return -ENOMEM;
	tcp_conn_hi = 0;
	tcp_peek_off_ok = !c->net->no_peek_offset &&
			  tcp_peek_offset_supported();
	if (!tcp_peek_off_ok) {
		tcp_discard = malloc(TCP_DISCARD);
		if (!tcp_discard)
			return -ENOMEM;
	}
	log_debug("tcp: SO_PEEK_OFF %s", tcp_peek_off_ok ? "in use" :
		  c->net->no_peek_offset ? "disabled (--no-peek-offset)" :
		  "not supported, sent data is peeked again and discarded");
	/* As the host's TCP would retry toward an unanswering peer */
	tcp_syn_retries = tcp_sysctl("tcp_syn_retries", TCP_SYN_RETRIES);
	tcp_synack_retries = tcp_sysctl("tcp_synack_retries",
					TCP_SYN_RETRIES);
	log_debug("tcp: SYN retries %u, SYN-ACK retries %u", tcp_syn_retries,
		  tcp_synack_retries);
	return tcp_splice_init(flow_max);
}

/**
 * tcp_conn_claim() - Make a slot ready for a new connection: the slots
 *		      up to it are passed by tcp_conn_hi for the first time
 *		      and get the unused marker now instead of at start
 * @idx:	Flow index of the new connection
 */
static void tcp_conn_claim(unsigned int idx)
{
	for (; tcp_conn_hi <= idx; tcp_conn_hi++)
		tcp_conns[tcp_conn_hi].sock = -1;
}

/* Does flow index @idx hold a connection with its socket? */
static bool tcp_conn_live(int idx)
{
	return idx >= 0 && (unsigned int)idx < tcp_conn_hi &&
	       tcp_conns[idx].sock >= 0;
}

/* Register or change a socket's epoll events */
static int tcp_epoll(struct ctx *c, int idx, uint32_t events)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	union epoll_ref ref = { .type = EPOLL_TYPE_TCP, .fd = conn->sock,
				.flow = (uint32_t)idx };
	struct epoll_event ev = { .events = events | EPOLLET,
				  .data.u64 = ref.u64 };
	int op = conn->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (conn->events == ev.events)
		return 0;
	conn->events = ev.events;
	return epoll_ctl(c->epollfd, op, conn->sock, &ev);
}

/* Window to advertise; a small one is rounded to zero (RFC 9293, 3.8.6.2.2
 * receiver-side silly window avoidance), and EPOLLOUT then tells us when
 * the socket has room again
 */
static uint32_t tcp_wnd_to_tap(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	uint32_t max = conn->flags & WS_ON ? TCP_WND_MAX : 65535;
	socklen_t sl = sizeof(mem);
	uint32_t wnd = 0, sndbuf;

	if (!getsockopt(conn->sock, SOL_SOCKET, SO_MEMINFO, mem, &sl) &&
	    mem[SK_MEMINFO_SNDBUF] > mem[SK_MEMINFO_WMEM_QUEUED]) {
		wnd = mem[SK_MEMINFO_SNDBUF] - mem[SK_MEMINFO_WMEM_QUEUED];
		/*
		 * queued memory counts buffer overhead too: keep a margin,
		 * twice as wide for zerocopy sends, which are charged every
		 * page they touch in full (a 64 KiB segment at any offset
		 * spans 17 pages: 6 % more), or the socket takes less than
		 * the window said and the guest has to send the rest again
		 */
		wnd -= wnd / (conn->zc.on ? 8 : 16);
	}
	sndbuf = mem[SK_MEMINFO_SNDBUF];
	if (wnd < MIN(sndbuf / 2, conn->mss)) {
		wnd = 0;
		if (!(conn->flags & WND_CLOSED)) {
			conn->flags |= WND_CLOSED;
			tcp_epoll(c, idx, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
		}
	}
	return MIN(wnd, max);
}

/*
 * Options of a SYN: MSS and window scale; a SYN-ACK carries window
 * scaling only if the guest's SYN did (RFC 7323, 2.2)
 */
static size_t tcp_opt_len(const struct tcp_conn *conn, uint8_t flags)
{
	if (!(flags & TH_SYN))
		return 0;
	if (flags & TH_ACK && !(conn->flags & WS_ON))
		return TCP_OPT_MSS_LEN;
	return TCP_OPT_LEN;
}

/**
 * tcp_build_wnd() - Queue a segment toward the guest, with a given window
 * @c:		Execution context
 * @idx:	Flow index
 * @flags:	TH_* flags
 * @seq:	Sequence number
 * @payload:	Payload to copy, NULL for none
 * @len:	Payload length
 * @wnd:	Window to advertise, bytes
 *
 * Return: 0 on success, -1 if the queue had no room
 */
static int tcp_build_wnd(struct ctx *c, int idx, uint8_t flags, uint32_t seq,
			 const uint8_t *payload, size_t len, uint32_t wnd)
{
	const struct flowside *ts = &flow_at(c->flows, idx)->side[TAPSIDE];
	struct tcp_conn *conn = &tcp_conns[idx];
	struct frame_ip_hdr h = { .src = ts->dst, .dst = ts->src,
				  .proto = IPPROTO_TCP };
	size_t optlen = tcp_opt_len(conn, flags);
	uint8_t *th = frame_ip_begin(c->q, &h, TCP_HDR_LEN + optlen + len);

	if (!th)
		return -1;
	conn->wnd_to_tap = wnd;
	if (!(flags & TH_SYN))
		wnd >>= conn->ws_to_tap;
	wr16(th, ts->dport);
	wr16(th + 2, ts->sport);
	wr32(th + 4, seq);
	wr32(th + 8, flags & TH_ACK ? conn->seq_from_tap : 0);
	th[12] = (uint8_t)(((TCP_HDR_LEN + optlen) / 4) << 4);
	th[13] = flags;
	wr16(th + 14, (uint16_t)MIN(wnd, 65535));
	wr16(th + 16, 0);
	wr16(th + 18, 0);
	if (optlen) {
		uint8_t *o = th + TCP_HDR_LEN;

		o[0] = 2;			/* MSS */
		o[1] = 4;
		wr16(o + 2, conn->mss);
	}
	if (optlen > TCP_OPT_MSS_LEN) {
		uint8_t *o = th + TCP_HDR_LEN + TCP_OPT_MSS_LEN;

		o[0] = 1;			/* NOP */
		o[1] = 3;			/* window scale */
		o[2] = 3;
		o[3] = conn->ws_to_tap;
		memset(o + 4, 1, 4);		/* NOPs */
	}
	if (len)
		memcpy(th + TCP_HDR_LEN + optlen, payload, len);
	if (flags & TH_ACK)
		conn->seq_ack_to_tap = conn->seq_from_tap;
	return frame_ip_end(c->q, TCP_HDR_LEN + optlen + len);
}

/* Queue a segment toward the guest with the window we have now */
static int tcp_build(struct ctx *c, int idx, uint8_t flags, uint32_t seq,
		     const uint8_t *payload, size_t len)
{
	const struct tcp_conn *conn = &tcp_conns[idx];
	uint32_t wnd = 65535;

	if (conn->flags & (ESTABLISHED | SYNACK_SENT | SOCK_ACCEPTED))
		wnd = tcp_wnd_to_tap(c, idx);
	return tcp_build_wnd(c, idx, flags, seq, payload, len, wnd);
}

static int tcp_send_flags(struct ctx *c, int idx, uint8_t flags)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	uint32_t seq = conn->seq_to_tap;

	if (flags & TH_SYN)
		seq = conn->seq_isn;
	return tcp_build(c, idx, flags, seq, NULL, 0);
}

/* RST toward the guest for a segment that belongs to no connection */
static void tcp_rst_no_conn(struct ctx *c, const struct frame_in *f,
			    const struct tcp_seg *s)
{
	struct frame_ip_hdr h = { .src = f->dst, .dst = f->src,
				  .proto = IPPROTO_TCP };
	uint8_t *th;

	if (s->flags & TH_RST)
		return;
	th = frame_ip_begin(c->q, &h, TCP_HDR_LEN);
	if (!th)
		return;
	memset(th, 0, TCP_HDR_LEN);
	memcpy(th, f->l4 + 2, 2);
	memcpy(th + 2, f->l4, 2);
	th[12] = (TCP_HDR_LEN / 4) << 4;
	if (s->flags & TH_ACK) {
		wr32(th + 4, s->ack);
		th[13] = TH_RST;
	} else {
		wr32(th + 8, s->seq + (uint32_t)s->len +
			     !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN));
		th[13] = TH_RST | TH_ACK;
	}
	frame_ip_end(c->q, TCP_HDR_LEN);
}

/* Parse the TCP header and the options we use (MSS, window scale) */
static void tcp_parse(const struct frame_in *f, struct tcp_seg *s)
{
	const uint8_t *th = f->l4;
	size_t doff = (size_t)(th[12] >> 4) * 4, i;

	s->seq = rd32(th + 4);
	s->ack = rd32(th + 8);
	s->flags = th[13] & 0x3f;
	s->wnd = rd16(th + 14);
	s->payload = th + doff;
	s->len = f->l4_len - doff;
	/* headers are always at f->frame (vu_net.c checks it): the payload
	 * may continue in guest memory */
	s->inl = MIN(s->len, f->inl - (size_t)(s->payload - f->frame));
	s->ext = f->ext;
	s->n_ext = f->n_ext;
	s->mss = 0;
	s->ws = -1;
	if (!(s->flags & TH_SYN))
		return;
	for (i = TCP_HDR_LEN; i < doff; ) {
		uint8_t kind = th[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff || (olen = th[i + 1]) < 2 || i + olen > doff)
			break;
		if (kind == 2 && olen == 4)
			s->mss = rd16(th + i + 2);
		else if (kind == 3 && olen == 3)
			s->ws = MIN(th[i + 2], 14);
		i += olen;
	}
}

/* Close a connection; @rst makes the peer see a reset */
static void tcp_conn_close(struct ctx *c, int idx, bool rst)
{
	struct tcp_conn *conn = &tcp_conns[idx];

	if (conn->sock >= 0) {
		if (rst) {
			struct linger l = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(conn->sock, SOL_SOCKET, SO_LINGER, &l,
				   sizeof(l));
		}
		epoll_ctl(c->epollfd, EPOLL_CTL_DEL, conn->sock, NULL);
		/* sends in flight: zerocopy.c closes it once they complete */
		if (!zc_close(&conn->zc, conn->sock, c->epollfd, rst))
			close(conn->sock);
	}
	log_trace("tcp: flow %d closed%s", idx, rst ? " (reset)" : "");
	memset(conn, 0, sizeof(*conn));
	conn->sock = -1;
	flow_free(c->flows, idx);
}

/* Reset both ways: RST to the guest, reset to the peer */
static void tcp_conn_rst(struct ctx *c, int idx)
{
	tcp_send_flags(c, idx, TH_RST | TH_ACK);
	tcp_conn_close(c, idx, true);
}

/* Give the flow the earlier of the connection's two deadlines */
static void tcp_timer_sync(struct ctx *c, const struct tcp_conn *conn)
{
	uint64_t due = conn->deadline;

	if (conn->life_deadline && (!due || conn->life_deadline < due))
		due = conn->life_deadline;
	flow_timer_set(c->flows, (int)(conn - tcp_conns), due);
}

/* Arm the handshake, retransmission or probe timer @ms from now */
static void tcp_timer_set(struct ctx *c, struct tcp_conn *conn, uint64_t ms)
{
	conn->deadline = c->now_ms + ms;
	tcp_timer_sync(c, conn);
}

/* Stop the handshake, retransmission or probe timer */
static void tcp_timer_stop(struct ctx *c, struct tcp_conn *conn)
{
	conn->deadline = 0;
	tcp_timer_sync(c, conn);
}

/**
 * tcp_log_end() - Say why a connection is ended (debug level)
 * @c:		Execution context
 * @idx:	Flow index
 * @fmt:	Reason, printf() format
 */
static void tcp_log_end(const struct ctx *c, int idx, const char *fmt, ...)
{
	const struct flowside *ts = &flow_at(c->flows, idx)->side[TAPSIDE];
	char src[INANY_STRLEN], dst[INANY_STRLEN], why[64];
	va_list ap;

	if (log_level < LOG_LVL_DEBUG)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_debug("tcp: flow %d, guest [%s]:%u, peer [%s]:%u: %s", idx,
		  inany_ntop(&ts->src, src, sizeof(src)), ts->sport,
		  inany_ntop(&ts->dst, dst, sizeof(dst)), ts->dport, why);
}

/* Keepalive or zero window probe: an old sequence number draws an ACK
 * (RFC 9293, 3.8.4), or a RST from a guest that forgot the connection
 */
static void tcp_send_probe(struct ctx *c, int idx)
{
	tcp_build(c, idx, TH_ACK, tcp_conns[idx].seq_to_tap - 1, NULL, 0);
}

/* Data or a FIN moved, either way: the connection is not idle */
static void tcp_active(const struct ctx *c, struct tcp_conn *conn)
{
	conn->life.act_ms = c->now_ms;
}

/* A bound may have come closer (established, half-closed): arm again */
static void tcp_life_arm(struct ctx *c, struct tcp_conn *conn)
{
	conn->life_deadline = tcp_life_due(c->net, &conn->life);
	tcp_timer_sync(c, conn);
}

/* One side sent its FIN: the half-close bound applies from now */
static void tcp_half_closed(struct ctx *c, struct tcp_conn *conn)
{
	conn->life.half_closed = true;
	tcp_active(c, conn);
	tcp_life_arm(c, conn);
}

/* Handshake done: the lifetime timer starts */
static void tcp_established(struct ctx *c, struct tcp_conn *conn)
{
	conn->flags |= ESTABLISHED | SOCK_UNREAD;	/* data may wait */
	conn->deadline = 0;
	/* the SYN or SYN-ACK was timed, unless sent again */
	tcp_rtt_ack(&conn->rtt, conn->seq_isn + 1, c->now_ms);
	conn->life.tap_ms = conn->life.act_ms = c->now_ms;
	tcp_life_arm(c, conn);
}

/**
 * tcp_life_timeout() - Lifetime timer of a connection expired
 * @c:		Execution context
 * @idx:	Flow index
 *
 * Resets both sides, or sends a keepalive, as tcp_life_check() finds (a
 * guest that forgot the connection answers the keepalive with a RST,
 * which ends it at once in tcp_segs_acceptable()), then arms the timer
 * for what is due next.
 */
static void tcp_life_timeout(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	const struct net_conf *nc = c->net;

	switch (tcp_life_check(nc, &conn->life, c->now_ms)) {
	case TCP_LIFE_IDLE:
		tcp_log_end(c, idx, "no data for %u s", nc->tcp_timeout_s);
		tcp_conn_rst(c, idx);
		return;
	case TCP_LIFE_HALF:
		tcp_log_end(c, idx, "half-closed, no data for %u s",
			    nc->tcp_fin_timeout_s);
		tcp_conn_rst(c, idx);
		return;
	case TCP_LIFE_GONE:
		tcp_log_end(c, idx, "no answer to %u keepalives",
			    TCP_KA_PROBES);
		tcp_conn_rst(c, idx);
		return;
	case TCP_LIFE_PROBE:
		tcp_send_probe(c, idx);
		break;
	case TCP_LIFE_NONE:
		break;
	}
	tcp_life_arm(c, conn);
}

/* MSS toward the guest: its own MSS (none: the floor), at least the
 * floor, capped by our MTU
 */
static uint16_t tcp_mss(const struct ctx *c, bool v4, uint16_t guest_mss)
{
	int mtu = net_mtu(c->net);
	int mss = mtu - (v4 ? IP4_HDR_LEN : IP6_HDR_LEN) - TCP_HDR_LEN;
	int floor = v4 ? TCP_MSS4_MIN : TCP_MSS6_MIN;

	return (uint16_t)MIN(mss, MAX(guest_mss, floor));
}

/* Initial sequence number: keyed hash of the tuple plus a clock (RFC 6528) */
static uint32_t tcp_isn(struct ctx *c, const struct flowside *fs)
{
	return (uint32_t)flow_hash(c->flows, IPPROTO_TCP, fs) +
	       (uint32_t)(c->now_ms * 250);
}

/*
 * The table is full: give up the oldest connection still waiting for its
 * host connect() to complete (for example toward an address that never
 * answers), so that a burst of such SYNs cannot lock out new ones for
 * the kernel's whole SYN retry time. Established connections are never
 * evicted. Return: true if a slot was freed
 */
static bool tcp_evict_connecting(struct ctx *c)
{
	uint64_t oldest = UINT64_MAX;
	unsigned int i;
	int victim = -1;

	for (i = 0; i < tcp_conn_hi; i++) {
		const struct tcp_conn *conn = &tcp_conns[i];
		uint64_t t;

		if (conn->sock < 0 || !(conn->flags & TAP_SYN_RCVD) ||
		    (conn->flags & SYNACK_SENT))
			continue;
		t = flow_at(c->flows, (int)i)->last_ms;
		if (t < oldest && c->now_ms - t >= TCP_SYN_MS) {
			oldest = t;
			victim = (int)i;
		}
	}
	if (victim < 0)
		return false;
	log_debug("tcp: flow table full: dropping pending connection %d",
		  victim);
	tcp_send_flags(c, victim, TH_RST | TH_ACK);
	tcp_conn_close(c, victim, false);
	return true;
}

/* New outbound connection from the guest's SYN */
static void tcp_conn_from_tap(struct ctx *c, const struct frame_in *f,
			      const struct tcp_seg *s)
{
	struct flowside key = { .src = f->src, .dst = f->dst,
				.sport = rd16(f->l4), .dport = rd16(f->l4 + 2) };
	struct sockaddr_storage sa;
	struct tcp_conn *conn;
	union inany_addr dst;
	struct flow *fl;
	int idx, s_fd, one = 1;
	socklen_t sl;

	if (inany_is_multicast(&f->dst) || inany_is_unspecified(&f->dst) ||
	    !key.dport) {
		drop(DROP_L4_PROTO);
		return;
	}
	idx = flow_alloc(c->flows, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	if (idx == FLOW_NONE) {
		drop(DROP_FLOW_FULL);
		/* The victim's slot is free after this batch (flow.c,
		 * "Deferred free"): no reset, the guest's next SYN takes it */
		if (!tcp_evict_connecting(c))
			tcp_rst_no_conn(c, f, s);
		return;
	}
	fl = flow_at(c->flows, idx);
	fl->side[TAPSIDE] = key;
	fwd_guest_dst(c->net, IPPROTO_TCP, &f->dst, key.dport, &dst);
	fl->side[SOCKSIDE].dst = dst;
	fl->side[SOCKSIDE].dport = key.dport;
	fl->last_ms = c->now_ms;

	s_fd = socket(f->af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		      IPPROTO_TCP);
	if (s_fd < 0 || s_fd >= EPOLL_REF_FD_MAX ||
	    flow_hash_insert(c->flows, idx, TAPSIDE)) {
		if (s_fd >= 0)
			close(s_fd);
		flow_free(c->flows, idx);
		drop(DROP_SOCK_ERR);
		tcp_rst_no_conn(c, f, s);
		return;
	}
	tcp_conn_claim((unsigned int)idx);
	conn = &tcp_conns[idx];
	memset(conn, 0, sizeof(*conn));
	conn->sock = s_fd;
	conn->flags = TAP_SYN_RCVD;
	conn->seq_from_tap = s->seq + 1;
	conn->mss = tcp_mss(c, f->af == AF_INET, s->mss);
	if (s->ws >= 0) {
		conn->flags |= WS_ON;
		conn->ws_from_tap = (uint8_t)s->ws;
		conn->ws_to_tap = TCP_WS_OURS;
	}
	conn->wnd_from_tap = s->wnd;
	conn->seq_isn = tcp_isn(c, &key);
	conn->seq_to_tap = conn->seq_ack_from_tap = conn->seq_isn + 1;
	conn->seq_max_to_tap = conn->seq_to_tap;
	setsockopt(s_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	sl = inany_to_sockaddr(&dst, key.dport, fwd_scope(c->net, &dst),
			       &sa);
	if (fwdsock_bind_out(c->net, s_fd, &dst, 0) ||
	    (connect(s_fd, (struct sockaddr *)&sa, sl) &&
	     errno != EINPROGRESS)) {
		log_trace("tcp: connect: %s", strerror(errno));
		tcp_send_flags(c, idx, TH_RST | TH_ACK);
		tcp_conn_close(c, idx, false);
		return;
	}
	tcp_epoll(c, idx, EPOLLOUT | EPOLLRDHUP);
}

/* The host socket connected: answer the guest's SYN */
static void tcp_connected(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	socklen_t sl = sizeof(int);
	int err = 0;

	getsockopt(conn->sock, SOL_SOCKET, SO_ERROR, &err, &sl);
	if (err) {
		log_trace("tcp: connect: %s", strerror(err));
		tcp_send_flags(c, idx, TH_RST | TH_ACK);
		tcp_conn_close(c, idx, false);
		return;
	}
	if (tcp_peek_off_ok) {
		int off = 0;

		if (!setsockopt(conn->sock, SOL_SOCKET, SO_PEEK_OFF, &off,
				sizeof(off)))
			conn->flags |= PEEK_OFF;
	}
	zc_sock_init(&conn->zc, conn->sock);
	conn->flags |= SYNACK_SENT;
	tcp_epoll(c, idx, EPOLLIN | EPOLLRDHUP);
	tcp_send_flags(c, idx, TH_SYN | TH_ACK);
	tcp_rtt_start(&conn->rtt, conn->seq_isn + 1, c->now_ms);
	tcp_timer_set(c, conn, TCP_SYN_MS);
}

/* Remember how far we ever sent: ACKs up to there stay valid on rewind */
static void tcp_seq_sent(struct tcp_conn *conn)
{
	if (seq_lt(conn->seq_max_to_tap, conn->seq_to_tap))
		conn->seq_max_to_tap = conn->seq_to_tap;
}

/* Rewind to the first unacknowledged byte, to send again from there */
static void tcp_rewind(struct tcp_conn *conn)
{
	conn->seq_to_tap = conn->seq_ack_from_tap;
	conn->flags |= SOCK_UNREAD;	/* what was sent is to be peeked again */
	tcp_rtt_cancel(&conn->rtt);
	if (conn->flags & TAP_FIN_SENT && !(conn->flags & TAP_FIN_ACKED))
		conn->flags &= (uint16_t)~TAP_FIN_SENT;
	if (conn->flags & PEEK_OFF) {
		int off = 0;

		setsockopt(conn->sock, SOL_SOCKET, SO_PEEK_OFF, &off,
			   sizeof(off));
	}
}

/* Send FIN to the guest once every byte of the peer's data was sent */
static void tcp_fin_to_tap(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];

	if (conn->flags & TAP_FIN_SENT)
		return;
	if (tcp_send_flags(c, idx, TH_FIN | TH_ACK))
		return;
	if (!(conn->flags & TAP_FIN_EVER)) {
		conn->flags |= TAP_FIN_EVER;
		tcp_half_closed(c, conn);
	}
	conn->flags |= TAP_FIN_SENT;
	conn->seq_to_tap++;
	tcp_seq_sent(conn);
	if (!conn->deadline)
		tcp_timer_set(c, conn, tcp_rtt_rto(&conn->rtt));
}

/*
 * Peek new data into frames: returns bytes of new data (0 at EOF), -1 if
 * nothing could be read now, -2 if the socket failed. A reset socket
 * reports its error once, to the first read after the queued data, and
 * then reads as EOF: that report must turn into an RST, not a FIN.
 */
static ssize_t tcp_peek(int idx, const struct iovec *dst, unsigned int ndst)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	uint32_t in_flight = conn->seq_to_tap - conn->seq_ack_from_tap;
	struct iovec iov[TCP_DIRECT_IOV + 1];
	struct msghdr mh = { .msg_iov = iov };
	unsigned int n = 0;
	ssize_t got;

	if (!(conn->flags & PEEK_OFF)) {
		if (in_flight > TCP_DISCARD)
			return -1;
		iov[n].iov_base = tcp_discard;
		iov[n++].iov_len = in_flight;
	}
	memcpy(iov + n, dst, ndst * sizeof(*dst));
	mh.msg_iovlen = n + ndst;
	got = recvmsg(conn->sock, &mh, MSG_PEEK | MSG_DONTWAIT);
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	if (!(conn->flags & PEEK_OFF)) {
		if ((size_t)got < in_flight)
			return -1;	/* acknowledged data vanished? */
		got -= in_flight;
		if (!got && !(conn->flags & SOCK_FIN_RCVD))
			return -1;	/* no new data, and no EOF yet */
	}
	return got;
}

/* Where peeked payload goes in the arena: after the headers of each slot */
static unsigned int tcp_slots_iov(uint8_t **slots, size_t hdr,
				  unsigned int nslots, size_t want,
				  size_t seg, struct iovec *iov)
{
	unsigned int i;

	for (i = 0; i < nslots; i++) {
		iov[i].iov_base = slots[i] + hdr;
		iov[i].iov_len = MIN(want, seg);
		want -= iov[i].iov_len;
	}
	return nslots;
}

/*
 * Bytes the socket holds beyond what the guest was sent and has not
 * acknowledged: what a peek can get now (0 if unknown). Buffers are lent
 * for that much only: a loan the peek does not fill costs the frontend
 * (vhost-user: guest buffers taken from the ring and given back)
 */
static size_t tcp_unread_new(const struct tcp_conn *conn)
{
	uint32_t in_flight = conn->seq_to_tap - conn->seq_ack_from_tap;
	int unread;

	if (ioctl(conn->sock, SIOCINQ, &unread) || unread < 0 ||
	    (uint32_t)unread <= in_flight)
		return 0;
	return (uint32_t)unread - in_flight;
}

/*
 * Borrow the frontend's own buffers (c->q->direct, vhost-user: the
 * guest's receive buffers) for the payload of up to @n frames of @seg
 * bytes, @want in all, so that the peek reads it there: frame i's
 * headers are in @slots[i] as always (addresses and ports written now,
 * for the frontend's choice of queue), its loan in @loans[i]. Return:
 * frames that got buffers, from the first; their pieces in @iov, *@niov
 * of them. Loans no frame is queued with go back at the next flush.
 */
static unsigned int tcp_direct_reserve(struct ctx *c, int idx, uint8_t **slots,
				       size_t hdr, unsigned int n,
				       size_t want, size_t seg,
				       struct iovec *iov, unsigned int *niov,
				       uint32_t *loans)
{
	const struct flowside *ts = &flow_at(c->flows, idx)->side[TAPSIDE];
	struct frame_ip_hdr h = { .src = ts->dst, .dst = ts->src,
				  .proto = IPPROTO_TCP };
	unsigned int i;

	*niov = 0;
	for (i = 0; i < n && want; i++) {
		size_t len = MIN(want, seg);
		uint8_t *th = frame_ip_hdr_write(c->q, slots[i], &h);
		int k;

		wr16(th, ts->dport);
		wr16(th + 2, ts->sport);
		k = c->q->direct(c->q, slots[i], hdr, len, iov + *niov,
				 TCP_DIRECT_IOV - *niov, &loans[i]);
		if (k < 0)
			break;
		*niov += (unsigned int)k;
		want -= len;
	}
	return i;
}

/*
 * Peek new data into tap_splice.c's pipe, by reference: as tcp_peek(),
 * with SO_PEEK_OFF. A short count may only mean the pipe filled (16
 * pieces), so the caller peeks again until nothing is left (-1)
 */
static ssize_t tcp_peek_piped(int idx, size_t want)
{
	ssize_t got = tap_splice_peek(tcp_conns[idx].sock, want);

	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	return got;
}

/*
 * Payload bytes per frame toward the guest: one segment of the MSS, or,
 * where the frontend takes segmentation offload, as many whole segments
 * as fit a 64 KiB packet, which the guest's kernel takes as one (as if
 * its own NIC had coalesced them): at MTU 1500 one write() then moves 44
 * segments instead of one
 */
static size_t tcp_seg_len(const struct ctx *c, const struct tcp_conn *conn,
			  bool v4)
{
	size_t room = 65535 - (v4 ? IP4_HDR_LEN : 0) - TCP_HDR_LEN;

	if (!c->q->gso || conn->mss * 2 > room)
		return conn->mss;
	return room / conn->mss * conn->mss;
}

/* Queue one frame of peeked data (@len bytes in @slot after the headers) */
static int tcp_push_slot(struct ctx *c, const struct tcp_conn *conn,
			 uint8_t *slot, uint8_t *th, size_t len)
{
	uint16_t l4_off = (uint16_t)(th - slot);
	size_t flen = frame_ip_hdr_finish(slot, TCP_HDR_LEN + len,
					  !c->q->csum_skip);

	if (len > conn->mss)
		return frame_push_gso(c->q, slot, flen, l4_off, FRAME_GSO_TCP,
				      conn->mss);
	if (c->q->csum_skip)
		return frame_push_partial(c->q, slot, flen, l4_off, 16);
	return frame_push(c->q, slot, flen);
}

/*
 * Send peeked data as frames: slot i holds up to @seg bytes of payload,
 * or, @piped, slot 0 the headers of one frame whose payload is in
 * tap_splice.c's pipe, or, with @loans, slot i the headers of a frame
 * whose payload is in the frontend's buffers of loan @loans[i]
 * (tcp_direct_reserve())
 */
static void tcp_send_slots(struct ctx *c, int idx, uint8_t **slots,
			   size_t got, size_t seg, bool piped,
			   const uint32_t *loans)
{
	const struct flowside *ts = &flow_at(c->flows, idx)->side[TAPSIDE];
	struct tcp_conn *conn = &tcp_conns[idx];
	struct frame_ip_hdr h = { .src = ts->dst, .dst = ts->src,
				  .proto = IPPROTO_TCP };
	uint32_t wnd = tcp_wnd_to_tap(c, idx), max = conn->seq_max_to_tap;
	unsigned int i;

	conn->wnd_to_tap = wnd;
	for (i = 0; got; i++) {
		size_t len = MIN(got, seg);
		uint8_t *th = frame_ip_hdr_write(c->q, slots[i], &h);

		wr16(th, ts->dport);
		wr16(th + 2, ts->sport);
		wr32(th + 4, conn->seq_to_tap);
		wr32(th + 8, conn->seq_from_tap);
		th[12] = (TCP_HDR_LEN / 4) << 4;
		th[13] = TH_ACK | (len == got ? TH_PSH : 0);
		wr16(th + 14, (uint16_t)MIN(wnd >> conn->ws_to_tap, 65535));
		wr32(th + 16, 0);
		if (tcp_push_slot(c, conn, slots[i], th, len)) {
			if (piped) {	/* peeked, not sent: peek it again */
				tap_splice_abort();
				tcp_rewind(conn);
			}
			break;
		}
		if (piped)
			frame_pipe_last(c->q, len);
		else if (loans)
			frame_direct_last(c->q, len, loans[i]);
		conn->seq_to_tap += (uint32_t)len;
		got -= len;
	}
	tcp_seq_sent(conn);
	if (conn->seq_max_to_tap != max) {
		tcp_active(c, conn);	/* new data, not a retransmission */
		tcp_rtt_start(&conn->rtt, conn->seq_max_to_tap, c->now_ms);
	}
	conn->seq_ack_to_tap = conn->seq_from_tap;
}

/* Note that connection @idx waits for the frontend's room. Return: true
 * if it does (false: no room to note it, it goes on as before) */
static bool tcp_front_wait_add(struct tcp_conn *conn, int idx)
{
	if (conn->flags & FRONT_WAIT)
		return true;
	if (tcp_front_wait_n == TCP_FRONT_WAIT_MAX)
		return false;
	conn->flags |= FRONT_WAIT;
	tcp_front_wait[tcp_front_wait_n++] = idx;
	return true;
}

static void tcp_data_from_sock(struct ctx *c, int idx);

/**
 * tcp_front_resume() - The frontend has room again: send what waited for
 *			it, connection by connection, while it lasts
 * @c:		Execution context
 *
 * Called from the frontend's event (the guest added receive buffers),
 * never from a flush: sending flushes.
 */
void tcp_front_resume(struct ctx *c)
{
	static int todo[TCP_FRONT_WAIT_MAX];
	unsigned int i, n = tcp_front_wait_n;

	memcpy(todo, tcp_front_wait, n * sizeof(*todo));
	tcp_front_wait_n = 0;
	for (i = 0; i < n; i++) {
		struct tcp_conn *conn = &tcp_conns[todo[i]];

		/* a closed connection's flags are gone, and a new one in
		 * its slot never waited */
		if (!(conn->flags & FRONT_WAIT))
			continue;
		if (c->q->full) {
			tcp_front_wait[tcp_front_wait_n++] = todo[i];
			continue;	/* still waiting, in order */
		}
		conn->flags &= (uint16_t)~FRONT_WAIT;
		tcp_data_from_sock(c, todo[i]);
	}
}

/**
 * tcp_front_waiting() - Does data of some connection wait for the frontend?
 *
 * Return: true if so
 */
bool tcp_front_waiting(void)
{
	return tcp_front_wait_n;
}

/**
 * tcp_data_from_sock() - Send the guest what its window allows
 * @c:		Execution context
 * @idx:	Flow index
 */
static void tcp_data_from_sock(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	bool v4 = inany_is_v4(&flow_at(c->flows, idx)->side[TAPSIDE].src);
	size_t hdr = frame_ip_hdr_len(v4) + TCP_HDR_LEN;
	static struct iovec iov[TCP_DIRECT_IOV];
	static uint32_t loans[TCP_BATCH_IOV];
	uint8_t *slots[TCP_BATCH_IOV];

	while (conn->sock >= 0 && (conn->flags & ESTABLISHED) &&
	       !(conn->flags & TAP_FIN_SENT)) {
		uint32_t in_flight = conn->seq_to_tap - conn->seq_ack_from_tap;

		/* The socket keeps the data until the guest can take it:
		 * nothing is built to be dropped (tcp_front_resume()) */
		if (c->q->full && tcp_front_wait_add(conn, idx))
			return;
		size_t seg = tcp_seg_len(c, conn, v4);
		size_t want, slot_len = (hdr + seg + 7) & ~(size_t)7;
		unsigned int n, i, nd, niov;
		bool piped, direct;
		size_t dwant;
		uint8_t *region;
		ssize_t got;

		if (conn->wnd_from_tap <= in_flight) {
			if (!conn->deadline)
				tcp_timer_set(c, conn, in_flight ?
					      tcp_rtt_rto(&conn->rtt) :
					      TCP_PROBE_MS);
			return;
		}
		want = MIN(conn->wnd_from_tap - in_flight, TCP_BATCH_BYTES);
		n = (unsigned int)MIN((want + seg - 1) / seg, TCP_BATCH_IOV);
		n = MIN(n, frame_room(c->q));
		if (!n) {
			c->q->flush(c->q);
			n = 1;
		}
		want = MIN(want, (size_t)n * seg);
		if (!(conn->flags & PEEK_OFF) && in_flight > TCP_DISCARD)
			return;		/* unread data stays: SOCK_UNREAD */
		piped = (conn->flags & PEEK_OFF) && tap_splice_on();
		if (piped) {
			/* the pipe holds one frame: queued alone, headers
			 * only, payload no more than one frame's */
			c->q->flush(c->q);
			n = 1;
			want = MIN(want, seg);
			slot_len = (hdr + 7) & ~(size_t)7;
		}
		region = frame_reserve(c->q, n * slot_len);
		if (!region)
			return;
		for (i = 0; i < n; i++)
			slots[i] = region + i * slot_len;

		direct = false;
		if (piped) {
			got = tcp_peek_piped(idx, want);
		} else if (c->q->direct &&
			   (dwant = tcp_unread_new(conn)) &&
			   (nd = tcp_direct_reserve(c, idx, slots, hdr, n,
						    MIN(want, dwant), seg, iov,
						    &niov, loans))) {
			/* payload straight into the frontend's buffers */
			direct = true;
			want = MIN(MIN(want, dwant), (size_t)nd * seg);
			got = tcp_peek(idx, iov, niov);
		} else {
			niov = tcp_slots_iov(slots, hdr, n, want, seg, iov);
			got = tcp_peek(idx, iov, niov);
		}
		if (got == -2) {
			tcp_conn_rst(c, idx);
			return;
		}
		if (got < 0) {
			/* Nothing new: the next event says when there is.
			 * Not on a short read: the end of stream may come
			 * after the last data, with no event of its own */
			conn->flags &= (uint16_t)~SOCK_UNREAD;
			return;
		}
		if (!got) {
			log_trace("tcp: flow %d: end of stream from socket "
				  "(want %zu, flags 0x%x)", idx, want,
				  conn->flags);
			conn->flags |= SOCK_FIN_RCVD;
			tcp_fin_to_tap(c, idx);
			return;
		}
		tcp_send_slots(c, idx, slots, (size_t)got, seg, piped,
			       direct ? loans : NULL);
		/* Out now, not at the end of the loop: the payload is still
		 * in the CPU's caches for the copy into the frontend, and
		 * the guest starts on it while we peek the next batch */
		c->q->flush(c->q);
		if (!conn->deadline)
			tcp_timer_set(c, conn, tcp_rtt_rto(&conn->rtt));
		/* all there is for now, unless the end of stream came with
		 * it (EPOLLRDHUP): then the next peek finds it, and the FIN
		 * need not wait for the guest's ACK of this data
		 */
		if ((size_t)got < want && !(conn->flags & SOCK_FIN_RCVD) &&
		    !piped)
			return;
	}
}

/* Is everything done both ways? Then the connection can go */
static bool tcp_conn_finished(const struct tcp_conn *conn)
{
	return (conn->flags & TAP_FIN_ACKED) && (conn->flags & SOCK_FIN_SENT);
}

/**
 * tcp_ack_from_tap() - Process the guest's acknowledgement and window
 * @c:		Execution context
 * @idx:	Flow index
 * @s:		Segment
 * @trunc:	Bytes newly acknowledged are added here: the caller drops
 *		them from the socket once for the whole batch
 *
 * Return: true if the acknowledgement moved forward
 */
static bool tcp_ack_from_tap(struct ctx *c, int idx, const struct tcp_seg *s,
			     uint32_t *trunc)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	uint32_t acked, wnd = (uint32_t)s->wnd << conn->ws_from_tap;

	if (!(s->flags & TH_ACK))
		return false;
	if (seq_lt(conn->seq_max_to_tap, s->ack) ||
	    seq_le(s->ack, conn->seq_ack_from_tap)) {
		/* duplicate (or stale) ACK */
		if (s->ack == conn->seq_ack_from_tap && !s->len &&
		    wnd == conn->wnd_from_tap &&
		    conn->seq_to_tap != conn->seq_ack_from_tap &&
		    ++conn->dup_acks == 3) {
			tcp_rewind(conn);
			conn->dup_acks = 0;
		}
		/* an older ACK, reordered, says nothing of the window now
		 * (RFC 9293 3.10.7.4: SND.WL2 =< SEG.ACK)
		 */
		if (s->ack == conn->seq_ack_from_tap)
			conn->wnd_from_tap = wnd;
		return false;
	}
	acked = s->ack - conn->seq_ack_from_tap;
	if (seq_lt(conn->seq_to_tap, s->ack))
		conn->seq_to_tap = s->ack;	/* acked beyond a rewind */
	/* our FIN counts one sequence number (even if rewound since) */
	if (conn->flags & TAP_FIN_EVER && s->ack == conn->seq_max_to_tap) {
		conn->flags |= TAP_FIN_SENT | TAP_FIN_ACKED;
		acked--;
	}
	*trunc += acked;	/* dropped from the socket once per batch */
	tcp_rtt_ack(&conn->rtt, s->ack, c->now_ms);
	conn->seq_ack_from_tap = s->ack;
	conn->wnd_from_tap = wnd;
	conn->dup_acks = 0;
	conn->retries = 0;
	if (conn->seq_to_tap != conn->seq_ack_from_tap)
		tcp_timer_set(c, conn, tcp_rtt_rto(&conn->rtt));
	else
		tcp_timer_stop(c, conn);
	return true;
}

/* Shut the socket's sending side once the guest's FIN is in order */
static void tcp_fin_from_tap(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];

	if (conn->flags & TAP_FIN_RCVD)
		return;
	conn->seq_from_tap++;
	conn->flags |= TAP_FIN_RCVD;
	if (!shutdown(conn->sock, SHUT_WR))
		conn->flags |= SOCK_FIN_SENT;
	tcp_half_closed(c, conn);
}

/* Sequence order of the segments of a batch, as indices into it */
static uint16_t tcp_order[TCP_BATCH_IOV];

/*
 * Put the segments of a batch in sequence order (tcp_order), relative to
 * @next: a guest in loss recovery interleaves its retransmissions with new
 * data, and a segment beyond a gap may come before the ones that fill it.
 * Taking the batch in arrival order and stopping at the gap would refuse
 * the in-order segments behind it, which the guest then recovers one per
 * retransmission timeout. A batch is nearly always in order already:
 * insertion sort, one pass then.
 */
static void tcp_seq_order(const struct tcp_seg *segs, unsigned int n,
			  uint32_t next)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		uint16_t cur = (uint16_t)i;
		int32_t off = (int32_t)(segs[i].seq - next);

		for (j = i; j; j--) {
			const struct tcp_seg *prev = &segs[tcp_order[j - 1]];

			if ((int32_t)(prev->seq - next) <= off)
				break;
			tcp_order[j] = tcp_order[j - 1];
		}
		tcp_order[j] = cur;
	}
}

/*
 * Add the payload of @s from byte @skip on to @iov at *@k (up to
 * TCP_BATCH_IOV pieces): the bytes at s->payload, then those in guest
 * memory. Return: bytes added
 */
static size_t tcp_seg_iov(const struct tcp_seg *s, size_t skip,
			  struct iovec *iov, unsigned int *k)
{
	size_t want = s->len - skip, added = 0;
	unsigned int j;

	if (skip < s->inl && *k < TCP_BATCH_IOV) {
		iov[*k].iov_base = (void *)(s->payload + skip);
		iov[(*k)++].iov_len = s->inl - skip;
		added = s->inl - skip;
	}
	skip = skip > s->inl ? skip - s->inl : 0;
	/* the pieces may run past the IP packet (padding): up to s->len */
	for (j = 0; j < s->n_ext && *k < TCP_BATCH_IOV && added < want; j++) {
		size_t plen = s->ext[j].iov_len, m;

		if (skip >= plen) {
			skip -= plen;
			continue;
		}
		m = MIN(plen - skip, want - added);
		iov[*k].iov_base = (uint8_t *)s->ext[j].iov_base + skip;
		iov[(*k)++].iov_len = m;
		added += m;
		skip = 0;
	}
	return added;
}

/**
 * tcp_data_to_sock() - Write the in-order payload of a batch to the socket
 * @c:		Execution context
 * @idx:	Flow index
 * @segs:	Parsed segments of the batch
 * @n:		Number of segments
 * @buf:	Buffer all their frames lie in, NULL if not one: a batch of
 *		at least --zerocopy-min bytes may lend it to the kernel
 *
 * Return: true if the guest must get an ACK
 */
static bool tcp_data_to_sock(struct ctx *c, int idx, const struct tcp_seg *segs,
			     unsigned int n, struct frame_buf *buf)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	struct iovec iov[TCP_BATCH_IOV];
	struct msghdr mh = { .msg_iov = iov };
	uint32_t next = conn->seq_from_tap;
	bool need_ack = false, fin = false;
	size_t total = 0;
	unsigned int i, k = 0;
	ssize_t sent;

	tcp_seq_order(segs, n, next);
	for (i = 0; i < n && k < TCP_BATCH_IOV; i++) {
		const struct tcp_seg *s = &segs[tcp_order[i]];
		uint32_t skip;

		/*
		 * Data, FIN, and segments that are not acceptable (RFC 9293,
		 * 3.10.7.4: window probes, keepalives) all get an ACK
		 */
		if (s->len || (s->flags & TH_FIN) || s->seq != next)
			need_ack = true;
		if (seq_lt(next, s->seq))
			break;		/* gap: out of order, ACK what we have */
		skip = next - s->seq;
		if (skip < s->len) {
			size_t got = tcp_seg_iov(s, skip, iov, &k);

			total += got;
			next += (uint32_t)got;
			if (got < s->len - skip)
				break;		/* no room for more pieces */
		}
		if ((s->flags & TH_FIN) && s->seq + (uint32_t)s->len == next)
			fin = true;
	}
	if (total) {
		mh.msg_iovlen = k;
		sent = zc_sendmsg(&conn->zc, conn->sock, &mh, total, buf,
				  MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0 && errno != EAGAIN && errno != EINTR &&
		    errno != ENOBUFS && !(conn->flags & SOCK_FIN_SENT)) {
			/*
			 * The socket is gone (reset by the peer). The error
			 * is consumed now: the EPOLLERR that follows may be
			 * only zerocopy completions, and SO_ERROR reads 0
			 */
			tcp_log_end(c, idx, "send: %s", strerror(errno));
			tcp_conn_rst(c, idx);
			return false;
		}
		if (sent < 0)
			sent = 0;
		if (sent)
			tcp_active(c, conn);
		conn->seq_from_tap += (uint32_t)sent;
		if ((size_t)sent < total) {
			conn->flags |= STALLED;
			tcp_epoll(c, idx, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
			fin = false;
		}
	}
	if (fin && conn->seq_from_tap == next)
		tcp_fin_from_tap(c, idx);
	return need_ack;
}

/* Inbound connection: the guest answered our SYN */
static void tcp_synack_from_tap(struct ctx *c, int idx, const struct tcp_seg *s)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	const struct flowside *ts = &flow_at(c->flows, idx)->side[TAPSIDE];

	/* SYN-SENT (RFC 9293, 3.10.7.3): only an ACK of our SYN counts; an
	 * ACK of something else, unless a RST, draws one at its ACK number,
	 * as in SYN-RECEIVED (tcp_segs_acceptable())
	 */
	if (!(s->flags & TH_ACK) || s->ack != conn->seq_isn + 1) {
		if ((s->flags & (TH_ACK | TH_RST)) == TH_ACK)
			tcp_build(c, idx, TH_RST, s->ack, NULL, 0);
		return;
	}
	if (s->flags & TH_RST) {
		tcp_conn_close(c, idx, true);
		return;
	}
	if (!(s->flags & TH_SYN))
		return;		/* no sequence number to start from */
	conn->seq_from_tap = s->seq + 1;
	conn->mss = tcp_mss(c, inany_is_v4(&ts->src), s->mss);
	if (s->ws >= 0) {
		conn->flags |= WS_ON;
		conn->ws_from_tap = (uint8_t)s->ws;
	} else {
		conn->ws_to_tap = 0;
	}
	conn->wnd_from_tap = s->wnd;	/* never scaled in a SYN */
	conn->seq_ack_from_tap = conn->seq_to_tap = s->ack;
	conn->seq_max_to_tap = s->ack;
	tcp_established(c, conn);
	tcp_send_flags(c, idx, TH_ACK);
	tcp_epoll(c, idx, EPOLLIN | EPOLLRDHUP);
	tcp_data_from_sock(c, idx);
}

static struct tcp_seg tcp_ok_segs[TCP_BATCH_IOV];

/*
 * Does the segment start outside the receive window we offered? Old
 * duplicates just behind the next expected byte (retransmissions, window
 * probes, keepalives) are inside: their new part, if any, is used
 */
static bool tcp_seq_outside(const struct tcp_conn *conn,
			    const struct tcp_seg *s)
{
	uint32_t wnd = MAX(conn->wnd_to_tap, 65535U);
	uint32_t ahead = s->seq - conn->seq_from_tap;

	if ((int32_t)ahead >= 0)
		return ahead > wnd;
	return conn->seq_from_tap - s->seq > wnd;
}

/*
 * Keep the segments a correct TCP acts on (RFC 9293, 3.10.7.4; RFC 5961):
 * a RST only at exactly the next expected sequence number, and nothing
 * that acknowledges data never sent. The others draw a challenge ACK, one
 * per batch and as many as tcp_challenge_ok() allows (the rest counted:
 * DROP_TCP_CHALLENGE); in SYN-RECEIVED, an ACK of anything but our
 * SYN-ACK draws a RST. Copies the kept ones to tcp_ok_segs; may close
 * the connection.
 * Return: number kept
 */
static unsigned int tcp_segs_acceptable(struct ctx *c, int idx,
					const struct tcp_seg *segs,
					unsigned int n)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	bool challenge = false;
	unsigned int i, m = 0;

	for (i = 0; i < n; i++) {
		const struct tcp_seg *s = &segs[i];

		if (s->flags & TH_RST) {
			if (s->seq == conn->seq_from_tap) {
				tcp_log_end(c, idx, "reset by the guest");
				tcp_conn_close(c, idx, true);
				return 0;
			}
			challenge = true;
			continue;
		}
		if (s->flags & TH_SYN) {
			/* retransmitted SYN before the handshake completed:
			 * answer it again; later, a challenge ACK (RFC 5961)
			 */
			if (!(conn->flags & ESTABLISHED) &&
			    (conn->flags & SYNACK_SENT) &&
			    s->seq + 1 == conn->seq_from_tap) {
				tcp_send_flags(c, idx, TH_SYN | TH_ACK);
				tcp_rtt_cancel(&conn->rtt);
			} else {
				challenge = true;
			}
			continue;
		}
		/*
		 * without ACK, acknowledging data never sent, or starting
		 * outside the window we offered (far behind, or beyond): dropped
		 */
		if (!(s->flags & TH_ACK) || tcp_seq_outside(conn, s)) {
			challenge = true;
			continue;
		}
		/* SYN-RECEIVED, an ACK not of our SYN (RFC 9293, 3.10.7.4,
		 * fifth check): a RST at its ACK number, on this flow only.
		 * It ends nothing here: what it may end is the guest's end
		 * of an earlier connection on these ports, the ACK's source
		 */
		if (!(conn->flags & ESTABLISHED) &&
		    (conn->flags & SYNACK_SENT) &&
		    s->ack != conn->seq_isn + 1) {
			tcp_build(c, idx, TH_RST, s->ack, NULL, 0);
			continue;
		}
		if (seq_lt(conn->seq_max_to_tap, s->ack)) {
			challenge = true;
			continue;
		}
		tcp_ok_segs[m++] = *s;
	}
	if (!challenge || !(conn->flags & (ESTABLISHED | SYNACK_SENT)))
		return m;
	if (tcp_challenge_ok(&conn->chal, c->now_ms))
		tcp_send_flags(c, idx, TH_ACK);
	else
		drop(DROP_TCP_CHALLENGE);
	return m;
}

/* Segments of an existing connection, in arrival order, all in @buf
 * (NULL if not all in one buffer) */
static void tcp_conn_input(struct ctx *c, int idx, const struct tcp_seg *segs,
			   unsigned int n, struct frame_buf *buf)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	uint32_t trunc = 0;
	bool need_ack;
	unsigned int i;

	flow_at(c->flows, idx)->last_ms = c->now_ms;
	conn->life.tap_ms = c->now_ms;	/* the guest is there (keepalives) */
	if (conn->flags & SOCK_ACCEPTED && !(conn->flags & ESTABLISHED)) {
		tcp_synack_from_tap(c, idx, &segs[0]);
		return;
	}
	n = tcp_segs_acceptable(c, idx, segs, n);
	if (!n || conn->sock < 0)
		return;
	segs = tcp_ok_segs;
	if (conn->flags & TAP_SYN_RCVD && !(conn->flags & SYNACK_SENT))
		return;		/* guest retransmitted its SYN: still waiting */
	if (!(conn->flags & ESTABLISHED)) {
		/* what is left acknowledges our SYN-ACK, and only it */
		tcp_established(c, conn);
		conn->wnd_from_tap = (uint32_t)segs[0].wnd <<
				     conn->ws_from_tap;
	}
	for (i = 0; i < n; i++)
		tcp_ack_from_tap(c, idx, &segs[i], &trunc);
	if (trunc)
		recv(conn->sock, NULL, trunc, MSG_TRUNC | MSG_DONTWAIT);
	need_ack = tcp_data_to_sock(c, idx, segs, n, buf);
	if (conn->sock < 0)
		return;
	if (tcp_conn_finished(conn) && (conn->flags & SOCK_FIN_RCVD)) {
		tcp_send_flags(c, idx, TH_ACK);
		tcp_conn_close(c, idx, false);
		return;
	}
	if (need_ack || conn->seq_ack_to_tap != conn->seq_from_tap)
		tcp_send_flags(c, idx, TH_ACK);
	/* Peek only if the socket may have data for the guest: an upload
	 * would otherwise peek in vain for every batch of its frames */
	if (conn->flags & SOCK_UNREAD)
		tcp_data_from_sock(c, idx);
}

/* Up to TCP_BATCH_IOV frames of one flow from the guest */
static void tcp_tap_batch(struct ctx *c, const struct frame_in *f,
			  unsigned int n)
{
	static struct tcp_seg segs[TCP_BATCH_IOV];
	struct flowside key = { .src = f->src, .dst = f->dst,
				.sport = rd16(f->l4), .dport = rd16(f->l4 + 2) };
	struct frame_buf *buf = f[0].buf;
	enum flow_sidx side;
	unsigned int i;
	int idx;

	if (c->net->no_tcp) {
		drop(DROP_L4_PROTO);
		return;
	}
	for (i = 0; i < n; i++) {
		tcp_parse(&f[i], &segs[i]);
		if (f[i].buf != buf)
			buf = NULL;
	}

	idx = flow_lookup(c->flows, IPPROTO_TCP, &key, &side);
	if (!tcp_conn_live(idx)) {
		if ((segs[0].flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN)
			tcp_conn_from_tap(c, &f[0], &segs[0]);
		else
			tcp_rst_no_conn(c, &f[0], &segs[0]);
		return;
	}
	tcp_conn_input(c, idx, segs, n, buf);
}

/**
 * tcp_tap_input() - Handle a batch of TCP frames of one flow from the guest
 * @c:		Execution context
 * @f:		Parsed frames (tcp_same_flow() holds for all of them)
 * @n:		Number of frames
 *
 * A wake-up may bring more frames of one flow than one sendmsg() takes
 * (a 2 MiB read at MTU 1500 is about 1400 segments): they go in turns of
 * TCP_BATCH_IOV, in order, none left behind.
 */
void tcp_tap_input(struct ctx *c, const struct frame_in *f, unsigned int n)
{
	while (n > TCP_BATCH_IOV) {
		tcp_tap_batch(c, f, TCP_BATCH_IOV);
		f += TCP_BATCH_IOV;
		n -= TCP_BATCH_IOV;
	}
	tcp_tap_batch(c, f, n);
}

/*
 * Make the guest send again what the socket refused, at once: Linux
 * (tcp_ack(), tcp_time_to_recover()) retransmits on the third duplicate
 * ACK, and an ACK that moves the window, like the update just sent, is a
 * window update, not a duplicate. So three more, each with the window of
 * that update, not recomputed: the socket's free space may grow between
 * two of them, and a changed window would not count.
 */
static void tcp_dup_acks(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];
	int i;

	for (i = 0; i < 3; i++)
		tcp_build_wnd(c, idx, TH_ACK, conn->seq_to_tap, NULL, 0,
			      conn->wnd_to_tap);
}

/*
 * EPOLLERR on a socket with zerocopy sends: completions on its error
 * queue, which it then reads as well as an error does. Read them, and
 * tell whether that was all (SO_ERROR, which also clears a real error:
 * that one then resets the connection, as it would have without).
 * Return: true if the socket has no error
 */
static bool tcp_zc_errqueue(struct tcp_conn *conn)
{
	socklen_t sl = sizeof(int);
	int err = 0;

	zc_errqueue(&conn->zc, conn->sock);
	if (getsockopt(conn->sock, SOL_SOCKET, SO_ERROR, &err, &sl))
		return false;
	return !err;
}

/**
 * tcp_sock_handler() - Events on a connection's host socket
 * @c:		Execution context
 * @ref:	Epoll reference
 * @events:	Events
 */
void tcp_sock_handler(struct ctx *c, union epoll_ref ref, uint32_t events)
{
	int idx = (int)ref.flow;
	struct tcp_conn *conn = &tcp_conns[idx];

	if (conn->sock != ref.fd)
		return;		/* closed earlier in this batch */
	if (events & EPOLLERR && zc_active(&conn->zc) &&
	    tcp_zc_errqueue(conn))
		events &= ~(uint32_t)EPOLLERR;
	if (events & EPOLLERR || (events & EPOLLHUP &&
				  !(conn->flags & SOCK_FIN_RCVD) &&
				  !(events & EPOLLIN))) {
		if (conn->flags & TAP_SYN_RCVD && !(conn->flags & SYNACK_SENT))
			tcp_connected(c, idx);	/* reports the error */
		else
			tcp_conn_rst(c, idx);
		return;
	}
	if (conn->flags & TAP_SYN_RCVD && !(conn->flags & SYNACK_SENT)) {
		if (events & EPOLLOUT)
			tcp_connected(c, idx);
		return;
	}
	if (events & EPOLLOUT) {
		bool stalled = conn->flags & STALLED;

		conn->flags &= (uint16_t)~(STALLED | WND_CLOSED);
		tcp_epoll(c, idx, EPOLLIN | EPOLLRDHUP);
		tcp_send_flags(c, idx, TH_ACK);	/* window update */
		if (stalled)
			tcp_dup_acks(c, idx);
	}
	if (events & EPOLLRDHUP)
		conn->flags |= SOCK_FIN_RCVD;
	if (events & (EPOLLIN | EPOLLRDHUP)) {
		conn->flags |= SOCK_UNREAD;
		tcp_data_from_sock(c, idx);
	}
}

/* Timer of one connection expired */
static void tcp_conn_timeout(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];

	conn->deadline = 0;
	if (!(conn->flags & ESTABLISHED)) {
		if (++conn->retries > (conn->flags & SOCK_ACCEPTED ?
				       tcp_syn_retries : tcp_synack_retries)) {
			tcp_conn_rst(c, idx);
			return;
		}
		if (conn->flags & (SOCK_ACCEPTED | SYNACK_SENT))
			tcp_send_flags(c, idx, TH_SYN |
				       (conn->flags & SYNACK_SENT ? TH_ACK : 0));
		tcp_rtt_cancel(&conn->rtt);
		tcp_timer_set(c, conn, TCP_SYN_MS);
		return;
	}
	if (conn->seq_to_tap != conn->seq_ack_from_tap) {
		if (++conn->retries > TCP_RETRIES) {
			tcp_conn_rst(c, idx);
			return;
		}
		tcp_rewind(conn);
		/* sends the FIN again too, once all data is out */
		tcp_data_from_sock(c, idx);
		if (conn->sock >= 0)
			tcp_timer_set(c, conn, MIN(tcp_rtt_rto(&conn->rtt) <<
						   conn->retries,
						   TCP_RTO_MAX_MS));
		return;
	}
	if (!conn->wnd_from_tap) {
		tcp_send_probe(c, idx);		/* zero window probe */
		tcp_timer_set(c, conn, TCP_PROBE_MS);
	}
}

/**
 * tcp_flow_timer() - The flow's deadline came: run what is due
 * @c:		Execution context
 * @idx:	Flow index of a connection
 */
void tcp_flow_timer(struct ctx *c, int idx)
{
	struct tcp_conn *conn = &tcp_conns[idx];

	if (!tcp_conn_live(idx))
		return;
	if (conn->deadline && c->now_ms >= conn->deadline)
		tcp_conn_timeout(c, idx);
	if (conn->sock >= 0 && conn->life_deadline &&
	    c->now_ms >= conn->life_deadline)
		tcp_life_timeout(c, idx);
	if (conn->sock >= 0)
		tcp_timer_sync(c, conn);
}

/**
 * tcp_draining() - Connections that may still carry data from the guest
 *
 * When the command in the namespace ends, what it wrote last may still be
 * in flight: in a spliced flow's pipe, or not yet sent (or not yet
 * acknowledged) by the namespace's kernel toward the tap. The loop keeps
 * relaying while this is not zero, for a bounded time.
 *
 * Return: number of such connections
 */
unsigned int tcp_draining(void)
{
	unsigned int i, n = tcp_splice_draining();

	for (i = 0; i < tcp_conn_hi; i++) {
		const struct tcp_conn *conn = &tcp_conns[i];

		if (conn->sock >= 0 && (conn->flags & ESTABLISHED) &&
		    !(conn->flags & TAP_FIN_RCVD))
			n++;
	}
	return n;
}

/**
 * tcp_end() - Close every connection before exiting: those done sending
 *	       normally (the kernel still delivers what is queued), the
 *	       others with a reset, so a cut stream is not taken for a
 *	       complete one
 * @c:		Execution context
 */
void tcp_end(struct ctx *c)
{
	unsigned int i, n = 0;

	for (i = 0; i < tcp_conn_hi; i++)
		n += tcp_conns[i].sock >= 0;
	log_debug("tcp: at exit: %u connections, %u flows in use", n,
		  c->flows->count);
	for (i = 0; i < tcp_conn_hi; i++) {
		const struct tcp_conn *conn = &tcp_conns[i];

		if (conn->sock >= 0)
			tcp_conn_close(c, (int)i, !(conn->flags & TAP_FIN_RCVD));
	}
	tcp_splice_end(c);
}

/**
 * tcp_close_all() - Close every connection (guest went away)
 * @c:		Execution context
 */
void tcp_close_all(struct ctx *c)
{
	unsigned int i;

	for (i = 0; i < tcp_conn_hi; i++)
		if (tcp_conns[i].sock >= 0)
			tcp_conn_close(c, (int)i, true);
	tcp_splice_close_all(c);
}

/* Inbound connection accepted on a host listener, through the tap */
static void tcp_conn_from_sock(struct ctx *c, int fd,
			       const union inany_addr *peer, uint16_t pport,
			       uint16_t dport)
{
	const struct net_conf *nc = c->net;
	struct flowside key = { .sport = dport, .dport = pport };
	struct tcp_conn *conn;
	struct flow *fl;
	int idx, one = 1;

	idx = flow_alloc(c->flows, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_IN);
	if (idx == FLOW_NONE) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		drop(DROP_FLOW_FULL);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(fd);
		return;
	}
	fl = flow_at(c->flows, idx);
	fl->side[SOCKSIDE].src = *peer;
	fl->side[SOCKSIDE].sport = pport;
	fwd_host_to_guest(nc, peer, &key.dst, &key.src);
	fl->side[TAPSIDE] = key;
	fl->last_ms = c->now_ms;
	tcp_conn_claim((unsigned int)idx);
	conn = &tcp_conns[idx];
	memset(conn, 0, sizeof(*conn));
	conn->sock = fd;
	if (flow_hash_insert(c->flows, idx, TAPSIDE)) {
		tcp_conn_close(c, idx, true);
		return;
	}
	conn->flags = SOCK_ACCEPTED;
	conn->ws_to_tap = TCP_WS_OURS;
	conn->mss = tcp_mss(c, inany_is_v4(peer), 65535);
	conn->seq_isn = tcp_isn(c, &key);
	conn->seq_to_tap = conn->seq_ack_from_tap = conn->seq_isn + 1;
	conn->seq_max_to_tap = conn->seq_to_tap;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tcp_peek_off_ok) {
		int off = 0;

		if (!setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
			conn->flags |= PEEK_OFF;
	}
	zc_sock_init(&conn->zc, fd);
	if (tcp_epoll(c, idx, EPOLLRDHUP)) {
		tcp_conn_close(c, idx, true);
		return;
	}
	tcp_send_flags(c, idx, TH_SYN);
	tcp_rtt_start(&conn->rtt, conn->seq_isn + 1, c->now_ms);
	tcp_timer_set(c, conn, TCP_SYN_MS);
}

/**
 * tcp_listen_handler() - Accept connections on a forwarding listener
 * @c:		Execution context
 * @ref:	Epoll reference: flow field holds the destination port and
 *		TCP_LISTEN_* flags
 */
void tcp_listen_handler(struct ctx *c, union epoll_ref ref)
{
	uint16_t dport = ref.flow & 0xffff;
	bool ns = ref.flow & TCP_LISTEN_NS;
	int i;

	for (i = 0; i < 64; i++) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		union inany_addr peer;
		uint16_t pport;
		int fd;

		fd = accept_conn(ref.fd, (struct sockaddr *)&sa, &sl);
		if (fd == -ECONNABORTED)
			continue;
		if (fd < 0)
			return;
		if (fd >= EPOLL_REF_FD_MAX) {
			close(fd);
			drop(DROP_SOCK_ERR);
			continue;
		}
		inany_from_sockaddr(&peer, &pport, &sa);
		if (ns)
			tcp_splice_conn_new(c, fd, sa.ss_family, false, dport);
		else if (inany_is_loopback(&peer) && !c->net->no_splice)
			tcp_splice_conn_new(c, fd, sa.ss_family, true, dport);
		else
			tcp_conn_from_sock(c, fd, &peer, pport, dport);
	}
}

/**
 * tcp_listen() - Open a forwarding listener
 * @c:		Execution context
 * @af:		AF_INET or AF_INET6
 * @addr:	Address to bind, NULL for any (host) or loopback (namespace)
 * @ifname:	Interface to bind to, NULL or "" for none
 * @port:	Port to listen on
 * @dport:	Port connections go to on the other side
 * @ns:		Listen inside the namespace (-T) instead of on the host
 *
 * Return: the socket, or negative errno
 */
int tcp_listen(struct ctx *c, int af, const union inany_addr *addr,
	       const char *ifname, uint16_t port, uint16_t dport, bool ns)
{
	union epoll_ref ref = { .type = EPOLL_TYPE_TCP_LISTEN,
				.flow = dport | (ns ? TCP_LISTEN_NS : 0) |
					(af == AF_INET6 ? TCP_LISTEN_V6 : 0) };

	return fwdsock_open(c, af, SOCK_STREAM, IPPROTO_TCP, addr, ifname,
			    port, ns, ref);
}
