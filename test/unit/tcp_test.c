/* test/unit/tcp_test.c - tcp.c's connections as a state machine, driven as
 * the daemon drives them: the guest's segments through tap_parse() and
 * tap_dispatch(), socket events and due deadlines through dispatch.c
 * (tcp_sock_handler(), tcp_listen_handler(); flow_timer_due() and
 * tcp_flow_timer()) with a fake clock (c.now_ms), segments toward the
 * guest read from the output queue
 *
 * Covered: the outbound handshake with and without MSS and window scale
 * options (and odd ones: scale 20, MSS 1, a closed port), payload both
 * ways; sequence numbers across 2^32 both ways, old and duplicate
 * segments on either side of the wrap; the guest's scaled window bounding
 * what is sent, zero window, window update, zero window probes, a late
 * old ACK; data with the handshake's ACK and with the FIN, FIN again;
 * flag combinations (RFC 9293 3.10.7.4, RFC 5961) in SYN-RECEIVED,
 * SYN-SENT (inbound, through a -t listener) and once established; the
 * RST that answers an ACK not of our SYN in either; the per-flow
 * limit of challenge ACKs;
 * retransmission of data and FIN, its give-up, SYN-ACK and SYN
 * retransmission and give-up, keepalive, half-close and inactivity
 * bounds; counted drops (port 0, --no-tcp, a long header, a full share,
 * eviction of a connection still connecting); deferred slot reuse and
 * stale events; tcp_close_all().
 *
 * The connection state of tcp.c is private: each check looks at what a
 * peer sees (frames toward the guest, the server's socket) and at the flow
 * table. Everything runs in a user and network namespace of the test's own
 * (unshare(2)), on its loopback only; the guest uses documentation
 * addresses, its gateway mapped to loopback (map_host_lo).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"
#include "dispatch.h"
#include "log.h"
#include "tap.h"
#include "tcp.h"
#include "tcp_timer.h"
#include "unit.h"
#include "unit_net.h"

#define FLOWS		64
#define CAP_MAX		512	/* frames toward the guest we keep */
#define CAP_LEN		2048
#define GQ_MAX		16	/* frames of the guest in one batch */
#define T0		1000000	/* fake clock at start, ms */
#define TH_LEN		20
#define MSS		1000	/* the guest's MSS in most tests */

#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_PSH		0x08
#define TH_ACK		0x10

#define G4		"192.0.2.10"
#define GW4		"192.0.2.1"

static struct flow_table flows;
static struct net_conf net;
static struct frame_queue q;
static struct ctx c;

static const uint8_t our_mac[MAC_LEN] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
static const uint8_t guest_mac[MAC_LEN] = { 0x02, 0, 0, 0, 0, 0x10 };

/* Frames toward the guest, as flushed */
static struct {
	uint8_t d[CAP_LEN];
	size_t len;
} cap[CAP_MAX];
static unsigned int cap_n, cap_lost;

/* The frontend's flush: keep a copy of each frame, empty the queue */
static void cap_flush(struct frame_queue *fq)
{
	unsigned int i;
	int k;

	for (i = 0; i < fq->n; i++) {
		const struct frame_out *o = &fq->out[i];
		size_t off = 0;

		if (cap_n == CAP_MAX || o->len > CAP_LEN) {
			cap_lost++;
			continue;
		}
		for (k = 0; k < o->iovcnt; k++) {
			memcpy(cap[cap_n].d + off, o->iov[k].iov_base,
			       o->iov[k].iov_len);
			off += o->iov[k].iov_len;
		}
		cap[cap_n++].len = o->len;
	}
	frame_queue_reset(fq);
}

static void cap_clear(void)
{
	cap_n = cap_lost = 0;
}

/* Pseudo-header sum of a TCP segment of @len bytes behind IPv4 @ip */
static uint32_t pseudo(const uint8_t *ip, uint32_t len)
{
	return sum16(ip + 12, 8, 0) + IPPROTO_TCP + len;
}

/**
 * struct seg - A TCP segment, the guest's to build or ours as captured
 * @sport:	Source port
 * @dport:	Destination port
 * @seq:	Sequence number
 * @ack:	Acknowledgement number
 * @flags:	TH_* flags
 * @wnd:	Window field (unscaled)
 * @mss:	MSS option, 0: none
 * @ws:		Window scale option, -1: none
 * @pl:		Payload
 * @len:	Payload length
 */
struct seg {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	uint16_t wnd;
	uint16_t mss;
	int ws;
	const uint8_t *pl;
	size_t len;
};

/* Build the guest's frame for @s, G4 -> GW4: return its length */
static size_t gframe(uint8_t *buf, const struct seg *s)
{
	uint8_t *ip = buf + ETH_HDR_LEN, *th = ip + IP4_HDR_LEN;
	size_t optlen = (s->mss ? 4 : 0) + (s->ws >= 0 ? 4 : 0);
	uint16_t tlen = (uint16_t)(TH_LEN + optlen + s->len);
	uint8_t *o = th + TH_LEN;

	memcpy(buf, our_mac, MAC_LEN);
	memcpy(buf + MAC_LEN, guest_mac, MAC_LEN);
	wr16(buf + 12, ETHTYPE_IP4);
	memset(ip, 0, IP4_HDR_LEN + TH_LEN);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(IP4_HDR_LEN + tlen));
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	inet_pton(AF_INET, G4, ip + 12);
	inet_pton(AF_INET, GW4, ip + 16);
	wr16(ip + 10, (uint16_t)~fold(sum16(ip, IP4_HDR_LEN, 0)));
	wr16(th, s->sport);
	wr16(th + 2, s->dport);
	wr32(th + 4, s->seq);
	wr32(th + 8, s->ack);
	th[12] = (uint8_t)(((TH_LEN + optlen) / 4) << 4);
	th[13] = s->flags;
	wr16(th + 14, s->wnd);
	if (s->mss) {
		o[0] = 2;
		o[1] = 4;
		wr16(o + 2, s->mss);
		o += 4;
	}
	if (s->ws >= 0) {
		o[0] = 1;
		o[1] = 3;
		o[2] = 3;
		o[3] = (uint8_t)s->ws;
	}
	if (s->len)
		memcpy(th + TH_LEN + optlen, s->pl, s->len);
	wr16(th + 16, (uint16_t)~fold(sum16(th, tlen, pseudo(ip, tlen))));
	return ETH_HDR_LEN + IP4_HDR_LEN + tlen;
}

/**
 * cap_seg() - Parse captured frame @i, checking every header and checksum
 * @i:		Index in cap[]
 * @s:		Parsed segment, its payload pointing into cap[]
 *
 * Return: true if it is a well-formed TCP segment from GW4 to G4
 */
static bool cap_seg(unsigned int i, struct seg *s)
{
	const uint8_t *f = cap[i].d, *ip = f + ETH_HDR_LEN, *th;
	uint8_t a[4], b[4];
	size_t tlen, doff, k;

	if (i >= cap_n || cap[i].len < ETH_HDR_LEN + IP4_HDR_LEN + TH_LEN)
		return false;
	inet_pton(AF_INET, GW4, a);
	inet_pton(AF_INET, G4, b);
	if (memcmp(f, guest_mac, MAC_LEN) || rd16(f + 12) != ETHTYPE_IP4 ||
	    ip[0] != 0x45 || ip[9] != IPPROTO_TCP ||
	    rd16(ip + 2) != cap[i].len - ETH_HDR_LEN ||
	    fold(sum16(ip, IP4_HDR_LEN, 0)) != 0xffff ||
	    memcmp(ip + 12, a, 4) || memcmp(ip + 16, b, 4))
		return false;
	th = ip + IP4_HDR_LEN;
	tlen = cap[i].len - ETH_HDR_LEN - IP4_HDR_LEN;
	doff = (size_t)(th[12] >> 4) * 4;
	if (doff < TH_LEN || doff > tlen ||
	    fold(sum16(th, tlen, pseudo(ip, (uint32_t)tlen))) != 0xffff)
		return false;
	*s = (struct seg){ .sport = rd16(th), .dport = rd16(th + 2),
			   .seq = rd32(th + 4), .ack = rd32(th + 8),
			   .flags = th[13], .wnd = rd16(th + 14), .ws = -1,
			   .pl = th + doff, .len = tlen - doff };
	for (k = TH_LEN; k < doff; ) {
		if (th[k] == 0)
			break;
		if (th[k] == 1) {
			k++;
			continue;
		}
		if (k + 1 >= doff || th[k + 1] < 2)
			return false;
		if (th[k] == 2 && th[k + 1] == 4)
			s->mss = rd16(th + k + 2);
		if (th[k] == 3 && th[k + 1] == 3)
			s->ws = th[k + 2];
		k += th[k + 1];
	}
	return true;
}

/* Frames the guest sends in one batch */
static uint8_t gq[GQ_MAX][CAP_LEN];
static size_t gq_len[GQ_MAX];
static unsigned int gq_n;

static void gq_add(const struct seg *s)
{
	gq_len[gq_n] = gframe(gq[gq_n], s);
	gq_n++;
}

/* What the frontend does with a batch read from the tap, not reaping */
static void guest_dispatch(void)
{
	static struct frame_in f[GQ_MAX];
	unsigned int i, n = 0;

	for (i = 0; i < gq_n; i++)
		if (!tap_parse(&c, gq[i], gq_len[i], &f[n]))
			n++;
	tap_dispatch(&c, f, n);
	gq_n = 0;
}

/* The end of a loop iteration: flush the queue, reap freed flows */
static void batch_end(void)
{
	q.flush(&q);
	flow_reap(&flows);
}

static void guest_flush(void)
{
	guest_dispatch();
	batch_end();
}

/* One segment of the guest, in a batch of its own */
static void gsend(const struct seg *s)
{
	gq_add(s);
	guest_flush();
}

/* One round of the daemon's loop: the protocols' events, as it hands
 * them on; the clock stays
 */
static int loop_once(int ms)
{
	struct epoll_event ev[64];
	int n, i;

	n = epoll_wait(c.epollfd, ev, ARRAY_SIZE(ev), ms);
	for (i = 0; i < n; i++) {
		union epoll_ref ref = { .u64 = ev[i].data.u64 };

		dispatch_event(&c, ref, ev[i].events);
	}
	batch_end();
	return n;
}

/* Run the loop until it is idle: no event for 20 ms */
static void settle(void)
{
	int i;

	for (i = 0; i < 50 && loop_once(20) > 0; i++)
		;
}

/* The loop's timers at fake time @now: flow_timer_due(), then
 * tcp_flow_timer() for each due connection, as the daemon runs them
 */
static void timers_at(uint64_t now)
{
	c.now_ms = now;
	dispatch_timers(&c);
	batch_end();
}

/* Move the fake clock to the next deadline and run it: false if none */
static bool timer_next(void)
{
	uint64_t t = flow_timer_next(&flows);

	if (t == UINT64_MAX)
		return false;
	timers_at(MAX(t, c.now_ms));
	return true;
}

/* Payload bytes in captured frames from @from on */
static size_t cap_bytes(unsigned int from)
{
	struct seg s;
	size_t n = 0;

	for (; from < cap_n; from++)
		if (cap_seg(from, &s))
			n += s.len;
	return n;
}

/* Run the loop until @n payload bytes were captured from @from on */
static bool wait_bytes(unsigned int from, size_t n, int ms)
{
	uint64_t end = real_ms() + (uint64_t)ms;

	while (cap_bytes(from) < n && real_ms() < end)
		loop_once(10);
	return cap_bytes(from) >= n;
}

/* Index of the first captured frame from @from with all of @flags set
 * (and, for flags without TH_SYN, no SYN), -1 if none
 */
static int cap_find(unsigned int from, uint8_t flags, struct seg *s)
{
	for (; from < cap_n; from++)
		if (cap_seg(from, s) && (s->flags & flags) == flags &&
		    ((flags & TH_SYN) || !(s->flags & TH_SYN)))
			return (int)from;
	return -1;
}

static unsigned int cap_count(uint8_t flags)
{
	unsigned int i, n = 0;
	struct seg s;

	for (i = 0; i < cap_n; i++)
		n += cap_seg(i, &s) && (s.flags & flags) == flags;
	return n;
}

/* Open descriptors, but for accept.c's reserve (/dev/null, opened once
 * on the first connection accepted, held for the process's lifetime)
 */
static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], to[64];
	ssize_t len;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, to, sizeof(to) - 1);
		if (len > 0) {
			to[len] = '\0';
			if (!strcmp(to, "/dev/null"))
				continue;
		}
		n++;
	}
	closedir(d);
	return n;
}

/* Pattern payload @len bytes long, different for each @salt */
static const uint8_t *pat(unsigned int salt, size_t len)
{
	static uint8_t buf[4][1 << 16];
	static unsigned int next;
	uint8_t *p = buf[next++ % ARRAY_SIZE(buf)];
	size_t i;

	for (i = 0; i < len && i < sizeof(buf[0]); i++)
		p[i] = (uint8_t)(salt * 131 + i * 7 + (i >> 8));
	return p;
}

/* A listening socket on 127.0.0.1:@port, -1 on failure */
static int listener(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 8)) {
		close(s);
		return -1;
	}
	return s;
}

/* Accept from @lfd within @ms: the server's end, non-blocking, or -1 */
static int accept_wait(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* Read exactly @n bytes from the server's end within @ms: true if so */
static bool sread(int s, uint8_t *buf, size_t n, int ms)
{
	uint64_t end = real_ms() + (uint64_t)ms;
	size_t got = 0;

	while (got < n && real_ms() < end) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 10) != 1)
			continue;
		r = recv(s, buf + got, n - got, MSG_DONTWAIT);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return got == n;
}

/* Nothing to read on the server's end, and no end of stream either */
static bool sempty(int s)
{
	uint8_t b[64];

	return recv(s, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* The server's end was reset (within @ms) */
static bool sreset(int s, int ms)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	uint8_t b[64];
	ssize_t r;
	int i;

	poll(&p, 1, ms);
	for (i = 0; i < 1000; i++) {	/* data queued before the reset */
		r = recv(s, b, sizeof(b), MSG_DONTWAIT);
		if (r <= 0)
			return r < 0 && errno == ECONNRESET;
	}
	return false;
}

/* TCP state of a socket of the test (TCP_INFO), -1 if unknown */
static int tcp_state(int s)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);

	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &sl))
		return -1;
	return ti.tcpi_state;
}

/**
 * struct tconn - The test's view of one connection
 * @gport:	The guest's port
 * @port:	Server port (on loopback, the gateway's for the guest)
 * @gseq:	Next sequence number the guest sends
 * @rcv:	Next sequence number the guest expects (what it ACKs)
 * @isn:	Our ISN as the SYN-ACK said
 * @wnd:	Window field the guest puts in its segments
 * @ws:		Window scale the guest offered, -1: none
 * @lfd:	Server's listener
 * @srv:	Server's end of the connection
 */
struct tconn {
	uint16_t gport;
	uint16_t port;
	uint32_t gseq;
	uint32_t rcv;
	uint32_t isn;
	uint16_t wnd;
	int ws;
	int lfd;
	int srv;
};

/* A segment of the guest on @t with @flags at its current sequence */
static struct seg gseg(const struct tconn *t, uint8_t flags)
{
	return (struct seg){ .sport = t->gport, .dport = t->port,
			     .seq = t->gseq, .ack = t->rcv, .flags = flags,
			     .wnd = t->wnd, .ws = -1 };
}

/* The guest acknowledges everything it got, with its window field */
static void gack(const struct tconn *t)
{
	struct seg s = gseg(t, TH_ACK);

	gsend(&s);
}

/* The guest sends @len bytes of @p on @t */
static void gdata(struct tconn *t, const uint8_t *p, size_t len)
{
	struct seg s = gseg(t, TH_ACK | TH_PSH);

	s.pl = p;
	s.len = len;
	gsend(&s);
	t->gseq += (uint32_t)len;
}

/* Flow index of the live connection of guest port @gport, -1 if none */
static int conn_idx(uint16_t gport)
{
	unsigned int i;

	for (i = 0; i < flows.size; i++)
		if (flows.flows[i].type == FLOW_TCP &&
		    flows.flows[i].side[TAPSIDE].sport == gport)
			return (int)i;
	return -1;
}

/**
 * syn() - The guest's SYN on @t; the SYN-ACK checked
 * @t:		Connection: @gport, @port, @gseq (ISN), @wnd, @ws, @lfd set
 * @mss:	MSS option, 0 for none
 *
 * Return: true if the SYN-ACK came as it should and the server accepted
 */
static bool syn(struct tconn *t, uint16_t mss)
{
	struct seg s = gseg(t, TH_SYN), r;
	unsigned int from = cap_n;
	uint64_t end = real_ms() + 1000;
	bool ok;
	int i;

	s.ack = 0;
	s.mss = mss;
	s.ws = t->ws;
	gsend(&s);
	while ((i = cap_find(from, TH_SYN | TH_ACK, &r)) < 0 &&
	       real_ms() < end)
		loop_once(10);
	if (i < 0)
		return false;
	ok = r.sport == t->port && r.dport == t->gport &&
	     r.ack == t->gseq + 1 && r.len == 0 && r.mss &&
	     r.mss >= (mss ? MIN(MAX(mss, 536), 1460) : 536) &&
	     r.mss <= 1460 && (r.ws >= 0) == (t->ws >= 0) &&
	     !(r.flags & (TH_RST | TH_FIN));
	t->isn = r.seq;
	t->rcv = r.seq + 1;
	t->gseq++;
	t->srv = accept_wait(t->lfd, 1000);
	return ok && t->srv >= 0;
}

/* syn() and the guest's ACK: established. Return: true on success */
static bool open_conn(struct tconn *t, uint16_t gport, uint16_t port,
		      uint32_t gisn, uint16_t mss, int ws, uint16_t wnd)
{
	*t = (struct tconn){ .gport = gport, .port = port, .gseq = gisn,
			     .wnd = wnd, .ws = ws, .srv = -1 };
	t->lfd = listener(port);
	if (t->lfd < 0 || !syn(t, mss))
		return false;
	gack(t);
	return conn_idx(gport) >= 0;
}

/* Close the test's sockets of @t and every connection, as between two
 * guests; forget captured frames, restore the defaults
 */
static void done(struct tconn *t)
{
	tcp_close_all(&c);
	batch_end();
	settle();
	if (t->srv >= 0)
		close(t->srv);
	if (t->lfd >= 0)
		close(t->lfd);
	t->srv = t->lfd = -1;
	cap_clear();
	net.tcp_keepalive_s = net.tcp_fin_timeout_s = net.tcp_timeout_s = 0;
}

/* Is @t still a working connection? Data both ways gets through, and
 * the guest's ACK drops it from the socket (nothing sent again)
 */
static bool alive(struct tconn *t)
{
	const uint8_t *p = pat(99, 300);
	unsigned int from = cap_n;
	uint8_t buf[300];
	struct seg s;
	int i;

	if (conn_idx(t->gport) < 0)
		return false;
	gdata(t, p, 100);
	if (!sread(t->srv, buf, 100, 500) || memcmp(buf, p, 100))
		return false;
	if (send(t->srv, p, 300, 0) != 300 || !wait_bytes(from, 300, 1000))
		return false;
	i = cap_find(from, TH_ACK, &s);
	while (i >= 0 && !s.len)
		i = cap_find((unsigned int)i + 1, TH_ACK, &s);
	if (i < 0 || s.seq != t->rcv || memcmp(s.pl, p, s.len))
		return false;
	t->rcv += 300;
	gack(t);
	return true;
}

/* Handshake with both options, payload both ways, an orderly close */
static void test_handshake(void)
{
	static uint8_t buf[8000];
	const uint8_t *up = pat(1, 5000), *down = pat(2, 8000);
	unsigned int from;
	struct tconn t;
	size_t got = 0;
	struct seg s;
	int i, fds = fd_count();

	c.now_ms = T0;
	CHECK(open_conn(&t, 40001, 6001, 1000, MSS, 7, 65535));
	CHECK(flows.count == 1 && flows.share_count[FLOW_SHARE_TCP_OUT] == 1);

	/* guest to server: five segments in one batch */
	for (i = 0; i < 5; i++) {
		s = gseg(&t, TH_ACK);
		s.pl = up + i * 1000;
		s.len = 1000;
		gq_add(&s);
		t.gseq += 1000;
	}
	from = cap_n;
	guest_flush();
	CHECK(sread(t.srv, buf, 5000, 1000) && !memcmp(buf, up, 5000));
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);

	/* server to guest: frames of at most the MSS, in order, intact */
	from = cap_n;
	CHECK(send(t.srv, down, 8000, 0) == 8000);
	CHECK(wait_bytes(from, 8000, 1000));
	for (i = (int)from; i < (int)cap_n; i++) {
		if (!cap_seg((unsigned int)i, &s) || !s.len)
			continue;
		CHECK(s.len <= MSS && s.seq == t.rcv + got);
		CHECK(got + s.len <= 8000 && !memcmp(s.pl, down + got, s.len));
		got += s.len;
	}
	CHECK(got == 8000);
	t.rcv += 8000;
	gack(&t);

	/* the guest closes first, then the server: both FINs acknowledged */
	from = cap_n;
	s = gseg(&t, TH_FIN | TH_ACK);
	gsend(&s);
	t.gseq++;
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	CHECK(recv(t.srv, buf, 1, 0) == 0);	/* end of stream */
	close(t.srv);
	t.srv = -1;
	from = cap_n;
	settle();
	CHECK((i = cap_find(from, TH_FIN | TH_ACK, &s)) >= 0);
	CHECK(i < 0 || s.seq == t.rcv);
	t.rcv++;
	gack(&t);
	CHECK(conn_idx(40001) < 0 && flows.count == 0);
	done(&t);
	CHECK(fd_count() == fds);
}

/* No options in the SYN: MSS 536 toward the guest, no window scaling in
 * the SYN-ACK (RFC 7323, 2.2), and the window field taken unscaled
 */
static void test_handshake_no_opts(void)
{
	const uint8_t *down = pat(3, 3000);
	unsigned int from, i;
	struct tconn t;
	struct seg s;

	c.now_ms = T0;
	/* syn() checks the SYN-ACK has no window scale, MSS >= 536 */
	CHECK(open_conn(&t, 40002, 6002, 77, 0, -1, 2000));
	from = cap_n;
	CHECK(send(t.srv, down, 3000, 0) == 3000);
	settle();
	CHECK(cap_bytes(from) == 2000);		/* the window, unscaled */
	for (i = from; i < cap_n; i++)
		if (cap_seg(i, &s) && s.len)
			CHECK(s.len <= 536 && s.wnd > 0);
	t.rcv += 2000;
	from = cap_n;
	gack(&t);
	CHECK(wait_bytes(from, 1000, 1000) && cap_bytes(from) == 1000);
	t.rcv += 1000;
	gack(&t);
	CHECK(alive(&t));
	done(&t);
}

/* A window scale above 14 counts as 14 (RFC 7323 2.3); an MSS of 1 as
 * 536 (tcp.c's floor: one frame per byte otherwise); a SYN to a port
 * nothing listens on draws a RST the guest's SYN-SENT accepts
 */
static void test_odd_options(void)
{
	static uint8_t big[20000];
	unsigned int from, i;
	struct tconn t;
	struct seg s;
	int fds = fd_count();

	memcpy(big, pat(14, 20000), 20000);
	c.now_ms = T0;
	CHECK(open_conn(&t, 40019, 6019, 1, 1, 20, 1));	/* 1 << 14 */
	from = cap_n;
	CHECK(send(t.srv, big, 20000, 0) == 20000);
	settle();
	CHECK(cap_bytes(from) == 16384);
	for (i = from; i < cap_n; i++)
		if (cap_seg(i, &s) && s.len && s.seq + s.len != t.rcv + 16384)
			CHECK(s.len == 536);
	done(&t);

	from = cap_n;
	s = (struct seg){ .sport = 40019, .dport = 6099, .seq = 0xabcdef,
			  .flags = TH_SYN, .wnd = 100, .ws = -1 };
	gsend(&s);
	settle();
	CHECK(cap_find(from, TH_RST | TH_ACK, &s) >= 0 &&
	      s.ack == 0xabcdef + 1 && s.sport == 6099 && s.dport == 40019);
	CHECK(flows.count == 0 && fd_count() == fds);
	cap_clear();
}

/* Sequence numbers across 2^32 both ways: the guest's ISN just below it,
 * ours placed below it through the fake clock (tcp.c's ISN is a keyed
 * hash of the tuple plus 250 per ms: RFC 6528)
 */
static void test_wrap(void)
{
	static uint8_t buf[6000];
	const uint8_t *up = pat(4, 6000), *down = pat(5, 6000);
	uint32_t isn0, want = 0xfffff000U;
	unsigned int from;
	struct tconn t;
	size_t got;
	struct seg s;
	uint64_t k;

	c.now_ms = T0;
	CHECK(open_conn(&t, 40003, 6003, 0xfffffff0U, MSS, 2, 16384));
	isn0 = t.isn;
	done(&t);

	/* same tuple later: ISN = isn0 + 250 * dt, just below 2^32 */
	k = (uint32_t)(want - isn0) / 250;
	c.now_ms = T0 + k;
	CHECK(open_conn(&t, 40003, 6003, 0xfffffff0U, MSS, 2, 16384));
	CHECK((uint32_t)(0 - t.isn) < 0x1000 + 250);
	printf("# guest ISN 0x%08x, ours 0x%08x\n", 0xfffffff0U, t.isn);

	/* guest to server across the wrap, one segment at a time */
	gdata(&t, up, 1000);
	gdata(&t, up + 1000, 1000);
	CHECK(sread(t.srv, buf, 2000, 1000) && !memcmp(buf, up, 2000));
	CHECK(t.gseq < 0x1000);			/* wrapped */

	/* duplicates from before and after the wrap: not taken again */
	s = gseg(&t, TH_ACK);
	s.seq = 0xfffffff1U;			/* the first segment again */
	s.pl = up;
	s.len = 1000;
	from = cap_n;
	gsend(&s);
	s.seq = 0xfffffff1U + 1000;		/* the second, past the wrap */
	s.pl = up + 1000;
	gsend(&s);
	CHECK(sempty(t.srv));
	CHECK(cap_count(TH_ACK) >= 2);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);

	/* partly old, partly new: only the new part goes to the server */
	s = gseg(&t, TH_ACK);
	s.seq = t.gseq - 500;
	s.pl = up + 1500;
	s.len = 1500;
	gsend(&s);
	t.gseq += 1000;
	CHECK(sread(t.srv, buf, 1000, 1000) && !memcmp(buf, up + 2000, 1000));
	CHECK(sempty(t.srv));

	/* server to guest across our wrap */
	from = cap_n;
	CHECK(send(t.srv, down, 6000, 0) == 6000);
	CHECK(wait_bytes(from, 6000, 1000));
	got = 0;
	for (; from < cap_n; from++) {
		if (!cap_seg(from, &s) || !s.len)
			continue;
		CHECK(s.seq == t.rcv + (uint32_t)got);
		CHECK(!memcmp(s.pl, down + got, s.len));
		got += s.len;
	}
	CHECK(got == 6000);
	CHECK(t.rcv + 6000 < 0x2000);		/* crossed it */

	/* ACKs around our wrap: one forward below 2^32, an older one, all
	 * of it past 2^32, then the first again: old, not a huge new one
	 * (it would drop data from the socket, rewind or retransmit)
	 */
	s = gseg(&t, TH_ACK);
	s.ack = t.rcv + 1000;
	CHECK((uint32_t)(0 - s.ack) < 0x1000);	/* still below 2^32 */
	gsend(&s);
	s.ack = t.rcv + 500;
	gsend(&s);
	t.rcv += 6000;
	gack(&t);
	s.ack = t.rcv - 5000;
	from = cap_n;
	gsend(&s);
	gsend(&s);
	gsend(&s);			/* three duplicates would rewind */
	CHECK(cap_bytes(from) == 0);
	CHECK(flow_timer_next(&flows) == UINT64_MAX);	/* all acked */
	/* an ACK past what we sent, across the wrap: an ACK back only */
	s.ack = t.rcv + 100;
	gsend(&s);
	CHECK(cap_bytes(from) == 0 && cap_n > from);
	CHECK(alive(&t));
	done(&t);
}

/* The guest's window, shifted by its scale, bounds what is in flight */
static void test_window_scale(void)
{
	static uint8_t big[40000];
	unsigned int from;
	struct tconn t;

	memcpy(big, pat(6, 40000), 40000);
	c.now_ms = T0;
	/* window field 1500 << 3: 12000 bytes */
	CHECK(open_conn(&t, 40004, 6004, 5, MSS, 3, 1500));
	from = cap_n;
	CHECK(send(t.srv, big, 40000, 0) == 40000);
	settle();
	CHECK(cap_bytes(from) == 12000);
	t.rcv += 12000;

	/* half the window acknowledged, the window field the same */
	from = cap_n;
	t.rcv -= 6000;
	gack(&t);
	CHECK(cap_bytes(from) == 6000);
	t.rcv += 6000;

	/* all of it, a smaller window field: 500 << 3 */
	t.wnd = 500;
	from = cap_n;
	t.rcv += 6000;
	gack(&t);
	CHECK(cap_bytes(from) == 4000);
	t.rcv += 4000;

	/* the rest, 18000 bytes, with a window of 65535 << 3 */
	t.wnd = 65535;
	from = cap_n;
	gack(&t);
	CHECK(wait_bytes(from, 18000, 1000) && cap_bytes(from) == 18000);
	t.rcv += 18000;
	gack(&t);
	CHECK(alive(&t));
	done(&t);
}

/* Zero window: nothing sent, a probe on the deadline, a window update
 * resumes sending
 */
static void test_zero_window(void)
{
	const uint8_t *down = pat(7, 3000);
	unsigned int from;
	struct tconn t;
	struct seg s;
	int i, probes = 0;

	c.now_ms = T0;
	CHECK(open_conn(&t, 40005, 6005, 9, MSS, 0, 0));
	from = cap_n;
	CHECK(send(t.srv, down, 3000, 0) == 3000);
	settle();
	CHECK(cap_bytes(from) == 0);
	for (i = 0; i < 3; i++) {
		unsigned int f = cap_n;

		CHECK(timer_next());
		CHECK(cap_find(f, TH_ACK, &s) >= 0 && !s.len &&
		      s.seq == t.rcv - 1);	/* an old sequence number */
		probes += cap_n > f;
	}
	CHECK(probes == 3 && cap_bytes(from) == 0);
	CHECK(conn_idx(40005) >= 0);

	/* window update */
	t.wnd = 2000;
	from = cap_n;
	gack(&t);
	CHECK(cap_bytes(from) == 2000);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.seq == t.rcv);
	t.rcv += 2000;
	gack(&t);
	CHECK(cap_bytes(from) == 3000);
	t.rcv += 1000;
	gack(&t);
	CHECK(alive(&t));
	done(&t);
}

/* An ACK older than the last one, arriving late (reordered), does not
 * update the window (RFC 9293 3.10.7.4, SND.WL2 =< SEG.ACK): after the
 * guest closed its window, an old segment's open window lets nothing out
 */
static void test_old_ack_window(void)
{
	const uint8_t *down = pat(12, 4000);
	unsigned int from;
	struct tconn t;
	struct seg old;

	c.now_ms = T0;
	CHECK(open_conn(&t, 40017, 6017, 9, MSS, 0, 1000));
	from = cap_n;
	CHECK(send(t.srv, down, 4000, 0) == 4000);
	CHECK(wait_bytes(from, 1000, 1000));
	settle();
	CHECK(cap_bytes(from) == 1000);
	old = gseg(&t, TH_ACK);		/* acknowledges nothing new yet */
	old.wnd = 3000;
	t.rcv += 1000;
	t.wnd = 0;			/* everything, and the window closes */
	from = cap_n;
	gack(&t);
	CHECK(cap_bytes(from) == 0);
	gsend(&old);			/* the old one, late */
	CHECK(cap_bytes(from) == 0);
	t.wnd = 3000;
	gack(&t);
	CHECK(wait_bytes(from, 3000, 1000) && cap_bytes(from) == 3000);
	t.rcv += 3000;
	gack(&t);
	CHECK(alive(&t));
	done(&t);
}

/* Data on the ACK that completes the handshake, data with the FIN, and
 * the FIN again: taken once each
 */
static void test_data_fin(void)
{
	const uint8_t *p = pat(13, 700);
	uint8_t buf[800];
	unsigned int from;
	struct tconn t;
	struct seg s;

	c.now_ms = T0;
	t = (struct tconn){ .gport = 40018, .port = 6018, .gseq = 1,
			    .wnd = 65535, .ws = 7, .srv = -1 };
	t.lfd = listener(6018);
	CHECK(t.lfd >= 0 && syn(&t, MSS));
	s = gseg(&t, TH_ACK | TH_PSH);
	s.pl = p;
	s.len = 300;
	gsend(&s);
	t.gseq += 300;
	CHECK(conn_idx(40018) >= 0);
	CHECK(sread(t.srv, buf, 300, 1000) && !memcmp(buf, p, 300));

	from = cap_n;
	s = gseg(&t, TH_ACK | TH_PSH | TH_FIN);
	s.pl = p + 300;
	s.len = 400;
	gsend(&s);
	t.gseq += 401;
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	CHECK(sread(t.srv, buf, 400, 1000) && !memcmp(buf, p + 300, 400));
	CHECK(recv(t.srv, buf, 1, MSG_DONTWAIT) == 0);

	/* the FIN again, with its data: an ACK, nothing else */
	from = cap_n;
	s = gseg(&t, TH_ACK | TH_FIN);
	s.seq = t.gseq - 401;
	s.pl = p + 300;
	s.len = 400;
	gsend(&s);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	CHECK(conn_idx(40018) >= 0);

	/* the server still sends, then closes: FIN, the guest's ACK ends it */
	from = cap_n;
	CHECK(send(t.srv, p, 200, 0) == 200);
	close(t.srv);
	t.srv = -1;
	CHECK(wait_bytes(from, 200, 1000));
	settle();
	/* the end of stream came with the data, in one event: the FIN
	 * follows the data at once, not only after the guest's ACK of it
	 */
	CHECK(cap_find(from, TH_FIN, &s) >= 0 && s.seq == t.rcv + 200);
	/* only the data acknowledged: the FIN again on the timeout */
	t.rcv += 200;
	gack(&t);
	from = cap_n;
	CHECK(timer_next());
	CHECK(cap_find(from, TH_FIN, &s) >= 0 && s.seq == t.rcv);
	CHECK(cap_bytes(from) == 0 && conn_idx(40018) >= 0);
	t.rcv++;
	gack(&t);
	CHECK(conn_idx(40018) < 0 && flows.count == 0);
	done(&t);
}

/* Flags the guest may send on an established connection, one by one */
static void test_flags_established(void)
{
	uint64_t d_full = drop_counters[DROP_FLOW_FULL];
	const uint8_t *p = pat(8, 500);
	unsigned int from;
	struct tconn t;
	struct seg s;
	int fds = fd_count();

	c.now_ms = T0;
	CHECK(open_conn(&t, 40006, 6006, 0x7ffffff0U, MSS, 7, 65535));

	/* SYN+FIN, SYN alone, SYN+RST off the next sequence number:
	 * challenge ACKs (RFC 5961 4.2), nothing else
	 */
	from = cap_n;
	s = gseg(&t, TH_SYN | TH_FIN | TH_ACK);
	gsend(&s);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq &&
	      s.seq == t.rcv);
	from = cap_n;
	s = gseg(&t, TH_SYN);
	s.seq = t.gseq - 1;
	gsend(&s);
	CHECK(cap_find(from, TH_ACK, &s) >= 0);
	s = gseg(&t, TH_SYN | TH_RST);
	s.seq = t.gseq + 1;
	gsend(&s);
	CHECK(cap_count(TH_RST) == 0 && sempty(t.srv));
	CHECK(alive(&t));

	/* FIN without ACK: dropped (RFC 9293 3.10.7.4, fifth) */
	s = gseg(&t, TH_FIN);
	gsend(&s);
	CHECK(sempty(t.srv));		/* no end of stream */
	/* no flags at all: dropped */
	s = gseg(&t, 0);
	s.pl = p;
	s.len = 100;
	gsend(&s);
	CHECK(sempty(t.srv));
	CHECK(alive(&t));

	/* RST out of the window, and in it but not at the next sequence
	 * number: a challenge ACK, the host socket stays (RFC 5961 3.2);
	 * a second later, so that the limit (test_challenge_limit) allows
	 * all of those that follow
	 */
	c.now_ms += TCP_CHALLENGE_MS;
	from = cap_n;
	s = gseg(&t, TH_RST | TH_ACK);
	s.seq = t.gseq + 0x40000000U;
	gsend(&s);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	from = cap_n;
	s = gseg(&t, TH_RST);
	s.seq = t.gseq + 100;
	gsend(&s);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	CHECK(cap_count(TH_RST) == 0);
	CHECK(alive(&t));

	/* ACK of data never sent: an ACK back, its payload not taken */
	from = cap_n;
	s = gseg(&t, TH_ACK);
	s.ack = t.rcv + 5000;
	s.pl = p;
	s.len = 200;
	gsend(&s);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	CHECK(sempty(t.srv));

	/* data beyond the window, and after a gap: not taken, ACKed */
	from = cap_n;
	s = gseg(&t, TH_ACK);
	s.seq = t.gseq + 0x20000000U;
	s.pl = p;
	s.len = 200;
	gsend(&s);
	s.seq = t.gseq + 1000;
	gsend(&s);
	CHECK(sempty(t.srv));
	CHECK(cap_count(TH_ACK) >= 2);
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	CHECK(alive(&t));
	CHECK(drop_counters[DROP_FLOW_FULL] == d_full);

	/* the ACK field of a segment outside the window is not processed
	 * (RFC 9293 3.10.7.4: the sequence number is checked first), far
	 * ahead or far behind: the data stays unacknowledged, and is sent
	 * again on the retransmission timeout
	 */
	from = cap_n;
	CHECK(send(t.srv, p, 500, 0) == 500 && wait_bytes(from, 500, 1000));
	s = gseg(&t, TH_ACK);
	s.ack = t.rcv + 500;
	s.seq = t.gseq + 0x20000000U;
	gsend(&s);
	s.seq = t.gseq - 0x20000000U;
	gsend(&s);
	from = cap_n;
	CHECK(timer_next() && cap_bytes(from) == 500);
	t.rcv += 500;
	gack(&t);
	CHECK(alive(&t));

	/* RST at the next sequence number: the server sees a reset, the
	 * flow goes, no RST back toward the guest
	 */
	from = cap_n;
	s = gseg(&t, TH_RST);
	gsend(&s);
	CHECK(conn_idx(40006) < 0 && flows.count == 0);
	CHECK(sreset(t.srv, 500));
	CHECK(cap_count(TH_RST) == 0);

	/* a segment for the connection now gone: RST from its ACK */
	from = cap_n;
	s = gseg(&t, TH_ACK);
	gsend(&s);
	CHECK(cap_find(from, TH_RST, &s) >= 0 && s.seq == t.rcv);
	CHECK(flows.count == 0);
	done(&t);
	CHECK(fd_count() == fds);
}

/* Flags the guest may send while our SYN-ACK waits for its ACK */
static void test_flags_handshake(void)
{
	unsigned int from;
	struct tconn t;
	struct seg s;

	c.now_ms = T0;
	t = (struct tconn){ .gport = 40007, .port = 6007, .gseq = 4242,
			    .wnd = 65535, .ws = 7, .srv = -1 };
	t.lfd = listener(6007);
	CHECK(t.lfd >= 0 && syn(&t, MSS));
	CHECK(conn_idx(40007) >= 0);

	/* the SYN again: the same SYN-ACK again */
	from = cap_n;
	s = gseg(&t, TH_SYN);
	s.seq = t.gseq - 1;
	s.ack = 0;
	s.ws = 7;
	gsend(&s);
	CHECK(cap_find(from, TH_SYN | TH_ACK, &s) >= 0 && s.seq == t.isn &&
	      s.ack == t.gseq);

	/* an ACK of something else (a RST back: test_synrcvd_bad_ack), FIN
	 * alone, RST off the sequence: none establishes or ends the
	 * connection
	 */
	s = gseg(&t, TH_ACK);
	s.ack = t.rcv + 10;
	gsend(&s);
	s = gseg(&t, TH_FIN);
	gsend(&s);
	s = gseg(&t, TH_RST);
	s.seq = t.gseq + 1000;
	gsend(&s);
	/* SYN+FIN as the SYN again, SYN+RST off the sequence, no flags */
	s = gseg(&t, TH_SYN | TH_FIN);
	s.seq = t.gseq - 1;
	gsend(&s);
	s = gseg(&t, TH_SYN | TH_RST);
	s.seq = t.gseq + 1000;
	gsend(&s);
	s = gseg(&t, 0);
	gsend(&s);
	CHECK(conn_idx(40007) >= 0 && sempty(t.srv));
	CHECK(cap_count(TH_RST) == 1);

	/* the right ACK establishes it */
	gack(&t);
	CHECK(alive(&t));
	done(&t);

	/* a RST at the next sequence number in SYN-RECEIVED: reset */
	t = (struct tconn){ .gport = 40008, .port = 6007, .gseq = 99,
			    .wnd = 65535, .ws = -1, .srv = -1 };
	t.lfd = listener(6007);
	CHECK(t.lfd >= 0 && syn(&t, 0));
	s = gseg(&t, TH_RST);
	gsend(&s);
	CHECK(conn_idx(40008) < 0);
	CHECK(sreset(t.srv, 500));
	done(&t);

	/* SYN+ACK, SYN+RST from the guest without a connection: a RST
	 * (SYN+RST: nothing), no flow
	 */
	from = cap_n;
	s = (struct seg){ .sport = 40009, .dport = 6007, .seq = 1, .ack = 7,
			  .flags = TH_SYN | TH_ACK, .wnd = 100, .ws = -1 };
	gsend(&s);
	CHECK(cap_find(from, TH_RST, &s) >= 0 && s.seq == 7);
	s = (struct seg){ .sport = 40009, .dport = 6007, .seq = 1,
			  .flags = TH_SYN | TH_RST, .wnd = 100, .ws = -1 };
	from = cap_n;
	gsend(&s);
	CHECK(cap_n == from && flows.count == 0);
	cap_clear();
}

/* Expect exactly one frame from @from on: a RST of @t's flow (no ACK)
 * at sequence number @seq, as RFC 9293 3.10.7.3 and 3.10.7.4 answer an
 * unacceptable ACK in SYN-SENT and SYN-RECEIVED
 */
static bool rst_at(unsigned int from, const struct tconn *t, uint32_t seq)
{
	struct seg s;

	return cap_n == from + 1 && cap_seg(from, &s) &&
	       s.flags == TH_RST && s.seq == seq && s.ack == 0 &&
	       s.sport == t->port && s.dport == t->gport && !s.len;
}

/* SYN-RECEIVED: an ACK that does not acknowledge our SYN (at or before
 * our ISN, or beyond it) draws a RST at its ACK number, only on its own
 * flow, and changes nothing: the right ACK still establishes (RFC 9293
 * 3.10.7.4, fifth check)
 */
static void test_synrcvd_bad_ack(void)
{
	const int32_t bad[] = { 0, -1, -0x40000000, 2, 0x40000000 };
	struct tconn t, u;
	unsigned int from, i;
	struct seg s;

	c.now_ms = T0;
	t = (struct tconn){ .gport = 40050, .port = 6050, .gseq = 5000,
			    .wnd = 65535, .ws = 7, .srv = -1 };
	t.lfd = listener(6050);
	CHECK(t.lfd >= 0 && syn(&t, MSS));
	u = (struct tconn){ .gport = 40051, .port = 6050, .gseq = 9000,
			    .wnd = 65535, .ws = 7, .srv = -1, .lfd = t.lfd };
	CHECK(syn(&u, MSS));
	CHECK(conn_idx(40050) >= 0 && conn_idx(40051) >= 0);

	/* our ISN itself, one below, far behind, just past SND.NXT, far
	 * ahead: each a RST at that number, the flow stays
	 */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		from = cap_n;
		s = gseg(&t, TH_ACK);
		s.ack = t.isn + (uint32_t)bad[i];
		gsend(&s);
		CHECK(rst_at(from, &t, s.ack));
	}
	/* with data: a RST, the data not taken */
	from = cap_n;
	s = gseg(&t, TH_ACK | TH_PSH);
	s.ack = t.isn;
	s.pl = pat(50, 100);
	s.len = 100;
	gsend(&s);
	CHECK(rst_at(from, &t, t.isn));
	/* a RST with a wrong ACK is no ACK to answer: nothing, it stays */
	from = cap_n;
	s = gseg(&t, TH_RST | TH_ACK);
	s.seq = t.gseq + 1000;
	s.ack = t.isn;
	gsend(&s);
	CHECK(cap_n == from + 1 && cap_seg(from, &s) && s.flags == TH_ACK);
	CHECK(conn_idx(40050) >= 0 && conn_idx(40051) >= 0);
	CHECK(sempty(t.srv) && sempty(u.srv));

	/* a bad ACK and the right one in one batch: a RST for the first,
	 * the second establishes
	 */
	from = cap_n;
	s = gseg(&t, TH_ACK);
	s.ack = t.isn;
	gq_add(&s);
	s.ack = t.rcv;
	gq_add(&s);
	guest_flush();
	CHECK(cap_n > from && cap_seg(from, &s) && s.flags == TH_RST &&
	      s.seq == t.isn);
	CHECK(alive(&t));
	/* the other connection, in SYN-RECEIVED all along, never saw one */
	CHECK(cap_count(TH_RST) == ARRAY_SIZE(bad) + 2);
	gack(&u);
	CHECK(alive(&u));
	u.lfd = -1;
	done(&u);
	done(&t);
}

/* Plain ACKs (no data, no SYN, FIN or RST) toward @t from @from on */
static unsigned int acks_to(unsigned int from, const struct tconn *t)
{
	unsigned int n = 0;
	struct seg s;

	for (; from < cap_n; from++)
		n += cap_seg(from, &s) && s.flags == TH_ACK && !s.len &&
		     s.dport == t->gport;
	return n;
}

/* A flood of segments that draw challenge ACKs (RFC 5961 7): at most
 * TCP_CHALLENGE_MAX a second per flow, the rest counted; another flow
 * still gets its own, and a second later this one does again
 */
static void test_challenge_limit(void)
{
	uint64_t d = drop_counters[DROP_TCP_CHALLENGE];
	unsigned int from, i;
	struct tconn t, u;
	struct seg s;

	c.now_ms = T0;
	CHECK(open_conn(&t, 40052, 6052, 123456, MSS, 7, 65535));
	u = (struct tconn){ .gport = 40053, .port = 6052, .gseq = 654321,
			    .wnd = 65535, .ws = 7, .srv = -1, .lfd = t.lfd };
	CHECK(syn(&u, MSS));
	gack(&u);

	/* 100 RSTs, each a batch of its own, in and out of the window,
	 * within the same millisecond
	 */
	from = cap_n;
	for (i = 0; i < 100; i++) {
		s = gseg(&t, TH_RST);
		s.seq = t.gseq + (i % 2 ? 100 : 0x40000000U) + i;
		gsend(&s);
	}
	printf("# %u challenge ACKs for 100 RSTs\n", acks_to(from, &t));
	CHECK(acks_to(from, &t) == TCP_CHALLENGE_MAX);
	CHECK(drop_counters[DROP_TCP_CHALLENGE] - d ==
	      100 - TCP_CHALLENGE_MAX);
	CHECK(cap_count(TH_RST) == 0 && sempty(t.srv));

	/* the other flow: its challenge ACK, at once */
	from = cap_n;
	s = gseg(&u, TH_SYN);
	gsend(&s);
	CHECK(acks_to(from, &u) == 1 && acks_to(from, &t) == 0);

	/* just before the second is over: still nothing; then one again,
	 * and SYNs and ACKs of data never sent count the same
	 */
	c.now_ms = T0 + TCP_CHALLENGE_MS - 1;
	from = cap_n;
	s = gseg(&t, TH_SYN);
	gsend(&s);
	CHECK(acks_to(from, &t) == 0);
	c.now_ms = T0 + TCP_CHALLENGE_MS;
	for (i = 0; i < 2 * TCP_CHALLENGE_MAX; i++) {
		s = gseg(&t, i % 2 ? TH_SYN : TH_ACK);
		if (!(i % 2))
			s.ack = t.rcv + 1000;
		gsend(&s);
	}
	CHECK(acks_to(from, &t) == TCP_CHALLENGE_MAX &&
	      cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq &&
	      s.seq == t.rcv);
	CHECK(drop_counters[DROP_TCP_CHALLENGE] - d ==
	      100 - TCP_CHALLENGE_MAX + 1 + TCP_CHALLENGE_MAX);
	CHECK(alive(&t) && alive(&u));
	u.lfd = -1;
	done(&u);
	done(&t);
}

/* A host peer connects to a -t port: our SYN toward the guest; what the
 * guest may answer in SYN-SENT (RFC 9293 3.10.7.3)
 */
static bool inbound_syn(int *cl, struct tconn *t, struct seg *syn_out)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(5001),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me;
	socklen_t sl = sizeof(me);
	unsigned int from = cap_n;
	uint64_t end = real_ms() + 1000;
	int i;

	*cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*cl < 0 || (connect(*cl, (struct sockaddr *)&a, sizeof(a)) &&
			errno != EINPROGRESS) ||
	    getsockname(*cl, (struct sockaddr *)&me, &sl))
		return false;
	while ((i = cap_find(from, TH_SYN, syn_out)) < 0 && real_ms() < end)
		loop_once(10);
	*t = (struct tconn){ .gport = 5001, .port = ntohs(me.sin_port),
			     .gseq = 777, .wnd = 65535, .ws = -1, .srv = *cl,
			     .lfd = -1 };
	if (i < 0)
		return false;
	t->isn = syn_out->seq;
	t->rcv = syn_out->seq + 1;
	return syn_out->flags == TH_SYN && syn_out->dport == 5001 &&
	       syn_out->sport == t->port && syn_out->mss &&
	       syn_out->ws >= 0;
}

static void test_inbound(void)
{
	int lfd, cl, fds, fd = open("/proc/sys/net/ipv4/tcp_syn_retries",
				    O_RDONLY | O_CLOEXEC);
	unsigned int retries = 3, n = 0, i, from;
	struct tconn t;
	char b[16] = "";
	struct seg s, r;

	if (fd >= 0 && read(fd, b, sizeof(b) - 1) > 0)
		retries = (unsigned int)atoi(b);
	if (fd >= 0)
		close(fd);
	fds = fd_count();
	net.no_splice = true;		/* loopback peers through the tap */
	c.now_ms = T0;
	lfd = tcp_listen(&c, AF_INET, NULL, NULL, 5001, 5001, false);
	CHECK(lfd >= 0);

	/* RST without ACK, RST with an ACK of something else: ignored;
	 * a SYN-ACK or an ACK of something else: a RST at its ACK number,
	 * without ACK, and the connection stays (RFC 9293 3.10.7.3)
	 */
	CHECK(inbound_syn(&cl, &t, &r));
	CHECK(flows.share_count[FLOW_SHARE_TCP_IN] == 1);
	from = cap_n;
	s = gseg(&t, TH_RST);
	gsend(&s);
	s = gseg(&t, TH_RST | TH_ACK);
	s.ack = t.isn + 5;
	gsend(&s);
	CHECK(cap_n == from);
	s = gseg(&t, TH_SYN | TH_ACK);
	s.ack = t.isn + 5;
	gsend(&s);
	CHECK(rst_at(from, &t, t.isn + 5));
	from = cap_n;
	s = gseg(&t, TH_ACK);
	s.ack = t.isn;
	gsend(&s);
	CHECK(rst_at(from, &t, t.isn));
	/* the right ACK, but no SYN: nothing to synchronise with, dropped
	 * (3.10.7.3, fifth), no ACK back; nor data taken
	 */
	from = cap_n;
	s = gseg(&t, TH_ACK | TH_PSH);
	s.seq = t.gseq + 1;
	s.pl = pat(11, 100);
	s.len = 100;
	gsend(&s);
	CHECK(cap_n == from);
	CHECK(conn_idx(5001) >= 0 && sempty(cl));
	/* the guest's SYN-ACK: established, our ACK, data both ways */
	from = cap_n;
	s = gseg(&t, TH_SYN | TH_ACK);
	s.mss = MSS;
	s.ws = 2;
	gsend(&s);
	t.gseq++;
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq &&
	      s.seq == t.rcv);
	CHECK(alive(&t));
	done(&t);

	/* RST+ACK acknowledging our SYN: refused, the peer sees a reset */
	CHECK(inbound_syn(&cl, &t, &r));
	s = gseg(&t, TH_RST | TH_ACK);
	s.seq = 0;
	gsend(&s);
	CHECK(conn_idx(5001) < 0 && flows.count == 0);
	CHECK(sreset(cl, 500));
	done(&t);

	/* no answer: our SYN again as often as the host would, then reset */
	CHECK(inbound_syn(&cl, &t, &r));
	for (i = 0; i < 30 && conn_idx(5001) >= 0; i++) {
		from = cap_n;
		if (!timer_next())
			break;
		if (cap_find(from, TH_SYN, &s) >= 0 && s.seq == t.isn)
			n++;
	}
	printf("# %u SYN retransmissions (host: %u)\n", n, retries);
	CHECK(n == retries && conn_idx(5001) < 0);
	CHECK(sreset(cl, 500));
	done(&t);
	close(lfd);
	net.no_splice = false;
	CHECK(fd_count() == fds);
}

/* No ACK from the guest: the same bytes again after each timeout, then
 * both sides reset
 */
static void test_retransmit(void)
{
	const uint8_t *down = pat(9, 1500);
	unsigned int from, n = 0, i;
	struct tconn t;
	struct seg s;
	bool same = true;

	c.now_ms = T0;
	CHECK(open_conn(&t, 40010, 6010, 3, MSS, 7, 65535));
	from = cap_n;
	CHECK(send(t.srv, down, 1500, 0) == 1500);
	CHECK(wait_bytes(from, 1500, 1000));
	settle();

	/* an ACK of the first 500 bytes: the rest is resent from there */
	t.rcv += 500;
	gack(&t);
	for (i = 0; i < 30 && conn_idx(40010) >= 0; i++) {
		unsigned int f = cap_n;
		size_t got = 0;

		if (!timer_next())
			break;
		if (conn_idx(40010) < 0)
			break;
		for (; f < cap_n; f++) {
			if (!cap_seg(f, &s) || !s.len)
				continue;
			same &= s.seq == t.rcv + got &&
				!memcmp(s.pl, down + 500 + got, s.len);
			got += s.len;
		}
		same &= got == 1000;
		n++;
	}
	printf("# %u retransmissions, then reset\n", n);
	CHECK(same);
	CHECK(n == 10);			/* TCP_RETRIES */
	CHECK(conn_idx(40010) < 0 && flows.count == 0);
	CHECK(cap_find(from, TH_RST, &s) >= 0);
	CHECK(sreset(t.srv, 500));
	done(&t);
}

/* Our SYN-ACK unanswered: sent again as often as the host would, then
 * both sides reset
 */
static void test_synack_retransmit(void)
{
	int fd = open("/proc/sys/net/ipv4/tcp_synack_retries",
		      O_RDONLY | O_CLOEXEC);
	unsigned int retries = 3, n = 0, i;
	struct tconn t;
	char b[16] = "";
	struct seg s;

	if (fd >= 0 && read(fd, b, sizeof(b) - 1) > 0)
		retries = (unsigned int)atoi(b);
	if (fd >= 0)
		close(fd);
	c.now_ms = T0;
	t = (struct tconn){ .gport = 40011, .port = 6011, .gseq = 5,
			    .wnd = 65535, .ws = 7, .srv = -1 };
	t.lfd = listener(6011);
	CHECK(t.lfd >= 0 && syn(&t, MSS));
	for (i = 0; i < 30 && conn_idx(40011) >= 0; i++) {
		unsigned int f = cap_n;

		if (!timer_next())
			break;
		if (cap_find(f, TH_SYN | TH_ACK, &s) >= 0 && s.seq == t.isn &&
		    s.ack == t.gseq)
			n++;
	}
	printf("# %u SYN-ACK retransmissions (host: %u)\n", n, retries);
	CHECK(n == retries);
	CHECK(conn_idx(40011) < 0);
	CHECK(cap_find(0, TH_RST, &s) >= 0);
	CHECK(sreset(t.srv, 500));
	done(&t);
}

/* Keepalives toward a silent guest; an answer keeps the connection,
 * silence after TCP_KA_PROBES ends it
 */
static void test_keepalive(void)
{
	unsigned int n = 0, i;
	struct tconn t;
	struct seg s;

	net.tcp_keepalive_s = 2;
	c.now_ms = T0;
	CHECK(open_conn(&t, 40012, 6012, 1, MSS, 7, 65535));
	CHECK(flow_timer_next(&flows) == T0 + 2000);
	cap_clear();
	timers_at(T0 + 1999);
	CHECK(cap_n == 0);
	timers_at(T0 + 2000);
	CHECK(cap_find(0, TH_ACK, &s) >= 0 && s.seq == t.rcv - 1 && !s.len);

	/* the guest answers: no reset however long, while it does */
	for (i = 0; i < 8; i++) {
		gack(&t);
		CHECK(timer_next());
	}
	CHECK(conn_idx(40012) >= 0);
	gack(&t);

	/* now silent */
	cap_clear();
	for (i = 0; i < 10 && conn_idx(40012) >= 0; i++)
		if (timer_next() && conn_idx(40012) >= 0)
			n++;
	CHECK(n == 4);			/* TCP_KA_PROBES, then reset */
	CHECK(cap_count(TH_ACK) >= 4 && cap_find(0, TH_RST, &s) >= 0);
	CHECK(conn_idx(40012) < 0);
	CHECK(sreset(t.srv, 500));
	done(&t);
}

/* Half-closed without data for --tcp-fin-timeout: both sides reset */
static void test_half_close(void)
{
	struct tconn t;
	struct seg s;
	uint8_t b;
	uint64_t t1;

	net.tcp_fin_timeout_s = 3;
	c.now_ms = T0;
	CHECK(open_conn(&t, 40013, 6013, 1, MSS, 7, 65535));
	CHECK(flow_timer_next(&flows) == UINT64_MAX);	/* no bound yet */
	c.now_ms = T0 + 500;
	s = gseg(&t, TH_FIN | TH_ACK);
	gsend(&s);
	t.gseq++;
	CHECK(recv(t.srv, &b, 1, 0) == 0);
	t1 = flow_timer_next(&flows);
	CHECK(t1 == T0 + 500 + 3000);
	timers_at(T0 + 3499);
	CHECK(conn_idx(40013) >= 0);
	/* the server still sends: that is activity, the bound moves */
	CHECK(send(t.srv, "abc", 3, 0) == 3);
	c.now_ms = T0 + 3400;
	CHECK(wait_bytes(0, 3, 1000));
	t.rcv += 3;
	gack(&t);
	/* recomputed when it fires, not on the data path */
	CHECK(flow_timer_next(&flows) == T0 + 3500);
	timers_at(T0 + 6399);
	CHECK(conn_idx(40013) >= 0);
	cap_clear();
	timers_at(T0 + 6400);
	CHECK(conn_idx(40013) < 0);
	CHECK(cap_find(0, TH_RST, &s) >= 0);
	/* the server had read the end of stream: in CLOSE_WAIT, Linux
	 * reports a reset as EPIPE, and the socket is closed
	 */
	CHECK(send(t.srv, &b, 1, MSG_NOSIGNAL) < 0 && errno == EPIPE);
	CHECK(tcp_state(t.srv) == TCP_CLOSE);
	done(&t);
}

/* No data either way for --tcp-timeout: both sides reset */
static void test_inactivity(void)
{
	struct tconn t;
	struct seg s;

	net.tcp_timeout_s = 5;
	c.now_ms = T0;
	CHECK(open_conn(&t, 40014, 6014, 1, MSS, 7, 65535));
	c.now_ms = T0 + 3000;
	CHECK(alive(&t));			/* data: activity */
	timers_at(T0 + 7999);
	CHECK(conn_idx(40014) >= 0);
	cap_clear();
	/* segments without data are no activity */
	gack(&t);
	timers_at(T0 + 8000);
	CHECK(conn_idx(40014) < 0);
	CHECK(cap_find(0, TH_RST, &s) >= 0);
	CHECK(sreset(t.srv, 500));
	done(&t);
}

/* What tcp.c refuses, each a counted drop: a SYN to port 0, --no-tcp,
 * a header longer than the segment, a full share of the table (a RST to
 * the guest, or the oldest connection still connecting given up for it)
 */
static void test_drops(void)
{
	uint64_t proto = drop_counters[DROP_L4_PROTO];
	uint64_t shrt = drop_counters[DROP_L4_SHORT];
	uint64_t full = drop_counters[DROP_FLOW_FULL];
	int held[FLOWS], n = 0, lfd = listener(6030), fds;
	unsigned int from;
	struct seg s = { .sport = 40040, .dport = 0, .seq = 1000,
			 .flags = TH_SYN, .wnd = 100, .ws = -1 };

	CHECK(lfd >= 0);
	fds = fd_count();
	c.now_ms = T0;
	gsend(&s);
	CHECK(drop_counters[DROP_L4_PROTO] == proto + 1 && flows.count == 0);
	net.no_tcp = true;
	s.dport = 6030;
	gsend(&s);
	CHECK(drop_counters[DROP_L4_PROTO] == proto + 2 && flows.count == 0);
	net.no_tcp = false;
	gq_add(&s);
	gq[0][ETH_HDR_LEN + IP4_HDR_LEN + 12] = 0xf0;	/* 60-byte header */
	guest_flush();
	CHECK(drop_counters[DROP_L4_SHORT] == shrt + 1 && flows.count == 0);
	CHECK(fd_count() == fds && cap_n == 0);

	/* the guest's share full of other flows: a RST, counted */
	while (n < FLOWS && (held[n] = flow_alloc(&flows, FLOW_TCP,
						  IPPROTO_TCP,
						  FLOW_SHARE_TCP_OUT)) !=
	       FLOW_NONE)
		n++;
	CHECK(n > 0);
	CHECK(flows.share_count[FLOW_SHARE_TCP_OUT] == (unsigned int)n);
	gsend(&s);
	CHECK(drop_counters[DROP_FLOW_FULL] == full + 1);
	CHECK(cap_find(0, TH_RST | TH_ACK, &s) >= 0 && s.ack == 1001);
	CHECK(fd_count() == fds);

	/* one slot for a connection still connecting: given up, after
	 * TCP_SYN_MS, for the next SYN, which takes the slot after the batch
	 */
	flow_free(&flows, held[--n]);
	flow_reap(&flows);
	s = (struct seg){ .sport = 40041, .dport = 6030, .seq = 5,
			  .flags = TH_SYN, .wnd = 100, .ws = -1 };
	gsend(&s);			/* no loop: connect() not seen */
	CHECK(conn_idx(40041) >= 0);
	c.now_ms = T0 + 1000;
	from = cap_n;
	s.sport = 40042;
	gsend(&s);
	CHECK(drop_counters[DROP_FLOW_FULL] == full + 2);
	CHECK(conn_idx(40041) < 0 && conn_idx(40042) < 0);
	CHECK(cap_find(from, TH_RST | TH_ACK, &s) >= 0 && s.dport == 40041 &&
	      s.ack == 6);
	s = (struct seg){ .sport = 40042, .dport = 6030, .seq = 5,
			  .flags = TH_SYN, .wnd = 100, .ws = -1 };
	gsend(&s);			/* its SYN again */
	CHECK(conn_idx(40042) >= 0);
	tcp_close_all(&c);
	while (n--)
		flow_free(&flows, held[n]);
	batch_end();
	settle();
	CHECK(flows.count == 0 && fd_count() == fds);
	close(lfd);
	cap_clear();
}

/* A connection closed in a batch keeps its slot until flow_reap(): a new
 * one in the same batch, which gets the old descriptor number, is not
 * touched by a stale event of the old one
 */
static void test_stale_event(void)
{
	struct tconn a, b;
	union epoll_ref ref = { .type = EPOLL_TYPE_TCP };
	unsigned int from;
	uint64_t end;
	int ia, ib, fd_a;
	struct seg s;

	c.now_ms = T0;
	CHECK(open_conn(&a, 40015, 6015, 1, MSS, 7, 65535));
	ia = conn_idx(40015);
	/* the descriptor tcp.c holds: the one after the server's end */
	fd_a = a.srv - 1;
	CHECK(ia >= 0);

	/* in one batch: a's RST, b's SYN */
	b = (struct tconn){ .gport = 40016, .port = 6015, .gseq = 7,
			    .wnd = 65535, .ws = 7, .srv = -1, .lfd = -1 };
	s = gseg(&a, TH_RST);
	gq_add(&s);
	s = gseg(&b, TH_SYN);
	s.ack = 0;
	s.mss = MSS;
	s.ws = 7;
	gq_add(&s);
	from = cap_n;
	end = real_ms() + 1000;
	guest_dispatch();
	ib = conn_idx(40016);
	CHECK(ib >= 0 && ib != ia);		/* the slot is not reused */
	/* the old connection's last events, as one epoll_wait() batch may
	 * still hold them
	 */
	ref.fd = fd_a;
	ref.flow = (uint32_t)ia;
	tcp_sock_handler(&c, ref, EPOLLERR | EPOLLHUP | EPOLLIN | EPOLLOUT);
	batch_end();
	CHECK(conn_idx(40016) == ib);
	CHECK(cap_count(TH_RST) == 0);
	/* nor a SYN-ACK for b before its connect() was seen to complete */
	CHECK(cap_find(from, TH_SYN | TH_ACK, &s) < 0);
	CHECK(sreset(a.srv, 500));
	close(a.srv);
	a.srv = -1;

	/* b completes its handshake untouched */
	b.gseq++;
	while (cap_find(from, TH_SYN | TH_ACK, &s) < 0 && real_ms() < end)
		loop_once(10);
	CHECK(cap_find(from, TH_SYN | TH_ACK, &s) >= 0 && s.ack == b.gseq);
	b.isn = s.seq;
	b.rcv = s.seq + 1;
	b.srv = accept_wait(a.lfd, 1000);
	CHECK(b.srv >= 0);
	gack(&b);
	b.lfd = a.lfd;
	CHECK(alive(&b));

	/* after the reap the slot may serve again: an event of a's
	 * descriptor number under a's index still finds nothing there,
	 * unless b holds both (then it is b's own)
	 */
	ref.fd = fd_a;
	ref.flow = (uint32_t)ia;
	tcp_sock_handler(&c, ref, EPOLLERR);
	batch_end();
	CHECK(conn_idx(40016) == ib && cap_count(TH_RST) == 0);
	CHECK(alive(&b));
	done(&b);
}

/* tcp_close_all(): no flow, no descriptor left, every peer reset */
static void test_close_all(void)
{
	struct tconn t[4];
	int fds = fd_count(), i;

	c.now_ms = T0;
	for (i = 0; i < 4; i++)
		CHECK(open_conn(&t[i], (uint16_t)(40020 + i),
				(uint16_t)(6020 + i), 1, MSS, 7, 65535));
	/* one more still in its handshake */
	{
		struct seg s = { .sport = 40030, .dport = 6020, .seq = 1,
				 .flags = TH_SYN, .wnd = 100, .ws = -1 };

		gsend(&s);
	}
	CHECK(flows.count == 5);
	tcp_close_all(&c);
	CHECK(flows.count == 0);
	flow_reap(&flows);
	for (i = 0; i < 4; i++) {
		CHECK(sreset(t[i].srv, 500));
		close(t[i].srv);
		t[i].srv = -1;
	}
	for (i = 0; i < 4; i++)
		done(&t[i]);
	CHECK(fd_count() == fds);
	CHECK(flow_timer_next(&flows) == UINT64_MAX);
}

/*
 * Run first, on a table no flow used yet: a connection in a slot above
 * slots no connection ever had (other protocols' flows took them).
 * tcp_init() marks no slot unused, so the scans must neither take those
 * for connections (their zeroed state holds descriptor 0) nor miss this
 */
static void test_fresh_slots(void)
{
	int other[2], fds = fd_count(), i, idx;
	struct tconn t;

	c.now_ms = T0;
	for (i = 0; i < 2; i++)
		other[i] = flow_alloc(&flows, FLOW_UDP, IPPROTO_UDP,
				      FLOW_SHARE_UDP_OUT);
	CHECK(other[0] == 0 && other[1] == 1);
	CHECK(open_conn(&t, 40040, 6040, 1, MSS, 7, 65535));
	idx = conn_idx(40040);
	CHECK(idx == 2);
	CHECK(tcp_draining() == 1);
	tcp_close_all(&c);
	CHECK(flows.count == 2);		/* theirs are left alone */
	for (i = 0; i < 2; i++)
		CHECK(flow_at(&flows, other[i])->type == FLOW_UDP);
	CHECK(sreset(t.srv, 500));
	CHECK(tcp_draining() == 0);
	for (i = 0; i < 2; i++)
		flow_free_unregistered(&flows, other[i]);
	done(&t);
	CHECK(fd_count() == fds);
}

static int fds_at_start;

static void test_no_fd_leak(void)
{
	close(c.epollfd);
	CHECK(fd_count() == fds_at_start);
	CHECK(cap_lost == 0);
}

static int setup(void)
{
	if (unit_ns_enter())
		return -1;
	inet_pton(AF_INET, G4, &net.v4.addr);
	inet_pton(AF_INET, GW4, &net.v4.gw);
	inet_pton(AF_INET, GW4, &net.v4.map_host_lo);
	net.v4.prefix_len = 24;
	net.v4.enabled = true;
	memcpy(net.our_mac, our_mac, MAC_LEN);
	net.mtu = 1500;
	fds_at_start = fd_count();
	if (flow_table_init(&flows, FLOWS) ||
	    frame_queue_init(&q, 4 << 20, CAP_MAX))
		return -2;
	memcpy(q.our_mac, our_mac, MAC_LEN);
	q.flush = cap_flush;
	c = (struct ctx){ .net = &net, .q = &q, .flows = &flows,
			  .epollfd = epoll_create1(EPOLL_CLOEXEC) };
	if (c.epollfd < 0 || tcp_init(&c, FLOWS))
		return -2;
	return 0;
}

/*
 * A batch from the tap need not be in sequence order: a guest in loss
 * recovery interleaves retransmissions and new data. Every segment that
 * continues the stream is taken, wherever it lies in the batch; before,
 * the first one beyond a gap ended the batch and the in-order
 * retransmissions behind it were lost again, one recovered per timeout
 */
static void test_batch_order(void)
{
	const uint8_t *p = pat(17, 1200);
	uint8_t buf[1300];
	unsigned int from;
	struct tconn t;
	struct seg s;

	c.now_ms = T0;
	t = (struct tconn){ .gport = 40019, .port = 6019, .gseq = 1,
			    .wnd = 65535, .ws = 7, .srv = -1 };
	t.lfd = listener(6019);
	CHECK(t.lfd >= 0 && syn(&t, MSS));

	/* 300..600, then 0..300, then 600..900: all of it, in order */
	from = cap_n;
	s = gseg(&t, TH_ACK);
	s.len = 300;
	s.seq = t.gseq + 300;
	s.pl = p + 300;
	gq_add(&s);
	s.seq = t.gseq;
	s.pl = p;
	gq_add(&s);
	s.seq = t.gseq + 600;
	s.pl = p + 600;
	gq_add(&s);
	guest_flush();
	CHECK(sread(t.srv, buf, 900, 1000) && !memcmp(buf, p, 900));
	CHECK(sempty(t.srv));
	t.gseq += 900;
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);

	/* beyond a gap, then in order: the in-order part is taken, the ACK
	 * asks for the gap
	 */
	from = cap_n;
	s = gseg(&t, TH_ACK);
	s.len = 100;
	s.seq = t.gseq + 200;
	s.pl = p + 1100;
	gq_add(&s);
	s.seq = t.gseq;
	s.pl = p + 900;
	gq_add(&s);
	guest_flush();
	CHECK(sread(t.srv, buf, 100, 1000) && !memcmp(buf, p + 900, 100));
	CHECK(sempty(t.srv));
	t.gseq += 100;
	CHECK(cap_find(from, TH_ACK, &s) >= 0 && s.ack == t.gseq);
	CHECK(alive(&t));
	done(&t);
}

int main(void)
{
	int rc = setup();

	if (rc == -1) {
		printf("KTAP version 1\n1..0 # SKIP no user and network "
		       "namespace (%s)\n", strerror(errno));
		return 4;
	}
	if (rc) {
		printf("KTAP version 1\n1..0 # SKIP set-up failed\n");
		return 4;
	}
	UNIT_PLAN(24);
	UNIT_RUN(test_fresh_slots);
	UNIT_RUN(test_handshake);
	UNIT_RUN(test_handshake_no_opts);
	UNIT_RUN(test_odd_options);
	UNIT_RUN(test_wrap);
	UNIT_RUN(test_window_scale);
	UNIT_RUN(test_zero_window);
	UNIT_RUN(test_old_ack_window);
	UNIT_RUN(test_data_fin);
	UNIT_RUN(test_batch_order);
	UNIT_RUN(test_flags_established);
	UNIT_RUN(test_flags_handshake);
	UNIT_RUN(test_synrcvd_bad_ack);
	UNIT_RUN(test_challenge_limit);
	UNIT_RUN(test_inbound);
	UNIT_RUN(test_retransmit);
	UNIT_RUN(test_synack_retransmit);
	UNIT_RUN(test_keepalive);
	UNIT_RUN(test_half_close);
	UNIT_RUN(test_inactivity);
	UNIT_RUN(test_drops);
	UNIT_RUN(test_stale_event);
	UNIT_RUN(test_close_all);
	UNIT_RUN(test_no_fd_leak);
	tcp_end(&c);
	flow_table_destroy(&flows);
	free(q.arena);
	free(q.out);
	UNIT_EXIT();
}
