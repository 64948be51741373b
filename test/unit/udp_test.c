/* test/unit/udp_test.c - udp.c's flows, driven as the daemon drives them:
 * guest frames through tap_parse() and tap_dispatch(), socket events
 * through the handlers, frames toward the guest read from the output
 * queue, time from a fake clock (c.now_ms)
 *
 * Covered: an outbound flow with its own connected socket, both ways and
 * both IP versions; a batch of datagrams leaving with one sendmmsg(), and
 * --no-mmsg; datagrams too long for the MTU, a full table; inbound flows
 * through a forwarding socket (-u) and a namespace one (-U); idle expiry
 * in order of activity; eviction of inbound flows when their share is
 * full, the guest's flows untouched; closing a forwarding socket closes
 * its flows, and no reply reaches a socket that later got its descriptor
 * number; malformed and hostile datagrams from the guest; ICMP errors
 * relayed; udp_close_all(); no descriptor leaked.
 *
 * Everything runs in a user and network namespace of the test's own
 * (unshare(2)), on its loopback only: ports are fixed, nothing leaves.
 * The guest's side uses documentation addresses, mapped to loopback the
 * way the daemon maps the gateway (map_host_lo).
 *
 * sendmmsg() and sendmsg() are wrapped below to count the calls udp.c
 * makes; the wrappers pass every call on to the kernel unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"
#include "log.h"
#include "tap.h"
#include "udp.h"
#include "unit.h"
#include "unit_net.h"

#define FLOWS		64	/* inbound UDP share: a quarter, 16 */
#define SHARE_IN	(FLOWS / 4)
#define CAP_MAX		256	/* frames toward the guest we keep */
#define CAP_LEN		2048
#define GQ_MAX		64	/* frames of the guest in one batch */
#define T0		1000000	/* fake clock at start, ms */
#define UDP_HLEN	8

/* Guest side: addresses it holds and the gateway it sends through */
#define G4		"192.0.2.10"
#define GW4		"192.0.2.1"
#define G6		"2001:db8::10"
#define GW6		"2001:db8::1"

static struct flow_table flows;
static struct net_conf net;
static struct frame_queue q;
static struct ctx c;
static bool have_v6;

static const uint8_t our_mac[MAC_LEN] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
static const uint8_t guest_mac[MAC_LEN] = { 0x02, 0, 0, 0, 0, 0x10 };

/* Calls udp.c made, counted by the wrappers below */
static unsigned int sendmmsg_calls, sendmmsg_msgs, sendmsg_calls;

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	sendmmsg_calls++;
	sendmmsg_msgs += vlen;
	return (int)syscall(SYS_sendmmsg, fd, vec, vlen, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	sendmsg_calls++;
	return (ssize_t)syscall(SYS_sendmsg, fd, msg, flags);
}

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

/* One round of the daemon's loop, UDP events only; the clock stays */
static int loop_once(int ms)
{
	struct epoll_event ev[64];
	int n, i;

	n = epoll_wait(c.epollfd, ev, ARRAY_SIZE(ev), ms);
	for (i = 0; i < n; i++) {
		union epoll_ref ref = { .u64 = ev[i].data.u64 };

		if (ref.type == EPOLL_TYPE_UDP)
			udp_sock_handler(&c, ref, ev[i].events);
		else if (ref.type == EPOLL_TYPE_UDP_LISTEN)
			udp_listen_handler(&c, ref, ev[i].events);
	}
	q.flush(&q);
	flow_reap(&flows);
	return n;
}

/* Run the loop until @n frames were captured: true if they were */
static bool wait_frames(unsigned int n, int ms)
{
	uint64_t end = real_ms() + (uint64_t)ms;

	while (cap_n < n && real_ms() < end)
		loop_once(10);
	return cap_n >= n;
}

/* Run the loop until it is idle: no event for 20 ms */
static void settle(void)
{
	int i;

	for (i = 0; i < 50 && loop_once(20) > 0; i++)
		;
}

/* Pseudo-header sum of the @proto packet behind IP header @ip */
static uint32_t pseudo_p(const uint8_t *ip, uint8_t proto, uint32_t len)
{
	bool v4 = (ip[0] >> 4) == 4;
	uint32_t s = v4 ? sum16(ip + 12, 8, 0) : sum16(ip + 8, 32, 0);

	return s + proto + (len & 0xffff) + (len >> 16);
}

static uint32_t pseudo(const uint8_t *ip, uint32_t ulen)
{
	return pseudo_p(ip, IPPROTO_UDP, ulen);
}

/**
 * gframe() - Build a frame of the guest: Ethernet, IP, UDP, payload
 * @buf:	Buffer, at least 14 + 40 + 8 + @len bytes
 * @src:	Source address (IPv4 or IPv6, textual)
 * @sport:	Source port
 * @dst:	Destination address, same family
 * @dport:	Destination port
 * @pl:		Payload
 * @len:	Payload length
 *
 * Return: frame length, headers and checksums all correct
 */
static size_t gframe(uint8_t *buf, const char *src, uint16_t sport,
		     const char *dst, uint16_t dport, const void *pl,
		     size_t len)
{
	bool v4 = !strchr(src, ':');
	size_t l3 = v4 ? IP4_HDR_LEN : IP6_HDR_LEN;
	uint8_t *ip = buf + ETH_HDR_LEN, *uh = ip + l3;
	uint16_t ulen = (uint16_t)(UDP_HLEN + len);

	memcpy(buf, our_mac, MAC_LEN);
	memcpy(buf + MAC_LEN, guest_mac, MAC_LEN);
	wr16(buf + 12, v4 ? ETHTYPE_IP4 : ETHTYPE_IP6);
	memset(ip, 0, l3);
	if (v4) {
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(l3 + ulen));
		ip[6] = 0x40;
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		inet_pton(AF_INET, src, ip + 12);
		inet_pton(AF_INET, dst, ip + 16);
		wr16(ip + 10, (uint16_t)~fold(sum16(ip, l3, 0)));
	} else {
		ip[0] = 0x60;
		wr16(ip + 4, ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		inet_pton(AF_INET6, src, ip + 8);
		inet_pton(AF_INET6, dst, ip + 24);
	}
	wr16(uh, sport);
	wr16(uh + 2, dport);
	wr16(uh + 4, ulen);
	wr16(uh + 6, 0);
	memcpy(uh + UDP_HLEN, pl, len);
	wr16(uh + 6, (uint16_t)~fold(sum16(uh, ulen, pseudo(ip, ulen))));
	if (!rd16(uh + 6))
		wr16(uh + 6, 0xffff);
	return ETH_HDR_LEN + l3 + ulen;
}

/* IPv4 header checksum again after a test changed the header */
static void ip4_fix(uint8_t *frame)
{
	uint8_t *ip = frame + ETH_HDR_LEN;

	wr16(ip + 10, 0);
	wr16(ip + 10, (uint16_t)~fold(sum16(ip, IP4_HDR_LEN, 0)));
}

/* Frames the guest sends in one batch, dispatched by guest_flush() */
static uint8_t gq[GQ_MAX][CAP_LEN];
static size_t gq_len[GQ_MAX];
static unsigned int gq_n;

static uint8_t *gq_next(void)
{
	return gq[gq_n];
}

static void gq_add(size_t len)
{
	gq_len[gq_n++] = len;
}

/* Queue one well-formed datagram of the guest */
static void gsend(const char *src, uint16_t sport, const char *dst,
		  uint16_t dport, const void *pl, size_t len)
{
	gq_add(gframe(gq_next(), src, sport, dst, dport, pl, len));
}

/* What the frontend does with a batch read from the tap, then the end
 * of the loop iteration: flush the queue, reap freed flows
 */
static void guest_flush(void)
{
	static struct frame_in f[GQ_MAX];
	unsigned int i, n = 0;

	for (i = 0; i < gq_n; i++)
		if (!tap_parse(&c, gq[i], gq_len[i], &f[n]))
			n++;
	tap_dispatch(&c, f, n);
	gq_n = 0;
	q.flush(&q);
	flow_reap(&flows);
}

/**
 * cap_is() - Is captured frame @i the datagram we expect toward the guest?
 * @i:		Index in cap[]
 * @src:	Source address it must carry (textual)
 * @sport:	Source port
 * @dst:	Destination address
 * @dport:	Destination port
 * @pl:		Payload
 * @len:	Payload length
 *
 * Return: true if MACs, headers, lengths, both checksums and payload match
 */
static bool cap_is(unsigned int i, const char *src, uint16_t sport,
		   const char *dst, uint16_t dport, const void *pl, size_t len)
{
	bool v4 = !strchr(src, ':');
	size_t l3 = v4 ? IP4_HDR_LEN : IP6_HDR_LEN;
	const uint8_t *f = cap[i].d, *ip = f + ETH_HDR_LEN, *uh = ip + l3;
	uint8_t a[16], b[16];
	int af = v4 ? AF_INET : AF_INET6;
	size_t alen = v4 ? 4 : 16;

	if (i >= cap_n || cap[i].len != ETH_HDR_LEN + l3 + UDP_HLEN + len)
		return false;
	if (memcmp(f, guest_mac, MAC_LEN) || memcmp(f + MAC_LEN, our_mac,
						     MAC_LEN) ||
	    rd16(f + 12) != (v4 ? ETHTYPE_IP4 : ETHTYPE_IP6))
		return false;
	inet_pton(af, src, a);
	inet_pton(af, dst, b);
	if (v4 && (ip[0] != 0x45 || ip[9] != IPPROTO_UDP ||
		   rd16(ip + 2) != l3 + UDP_HLEN + len ||
		   fold(sum16(ip, l3, 0)) != 0xffff ||
		   memcmp(ip + 12, a, alen) || memcmp(ip + 16, b, alen)))
		return false;
	if (!v4 && ((ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP ||
		    rd16(ip + 4) != UDP_HLEN + len ||
		    memcmp(ip + 8, a, alen) || memcmp(ip + 24, b, alen)))
		return false;
	if (rd16(uh) != sport || rd16(uh + 2) != dport ||
	    rd16(uh + 4) != UDP_HLEN + len || !rd16(uh + 6) ||
	    fold(sum16(uh, UDP_HLEN + len,
		       pseudo(ip, (uint32_t)(UDP_HLEN + len)))) != 0xffff)
		return false;
	return !memcmp(uh + UDP_HLEN, pl, len);
}

/* Loopback address and port of family @af as a socket address */
static socklen_t sa_lo(int af, uint16_t port, struct sockaddr_storage *ss)
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

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ?
		     ((const struct sockaddr_in *)ss)->sin_port :
		     ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* A UDP socket of the test on loopback, port 0 for any: -1 on failure */
static int usock(int af, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_lo(af, port, &ss);
	int s = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&ss, sl)) {
		close(s);
		return -1;
	}
	return s;
}

/* Port a socket of the test is bound to */
static uint16_t sock_port(int s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(s, (struct sockaddr *)&ss, &sl))
		return 0;
	return sa_port(&ss);
}

/* Send from test socket @s to loopback port @port */
static bool usend(int s, int af, uint16_t port, const void *pl, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_lo(af, port, &ss);

	return sendto(s, pl, len, 0, (struct sockaddr *)&ss, sl) ==
	       (ssize_t)len;
}

/* Receive one datagram waiting up to @ms: length, -1 if none came;
 * @from_port: where it came from, if not NULL
 */
static ssize_t urecv(int s, void *buf, size_t len, int ms,
		     uint16_t *from_port)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	n = recvfrom(s, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
	if (n >= 0 && from_port)
		*from_port = sa_port(&ss);
	return n;
}

/* Nothing waits on @s */
static bool uempty(int s)
{
	uint8_t b[64];

	return recv(s, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN;
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

/* Pattern payload @len bytes long, different for each @salt */
static const uint8_t *pat(unsigned int salt, size_t len)
{
	static uint8_t buf[8][CAP_LEN];
	static unsigned int next;
	uint8_t *p = buf[next++ % ARRAY_SIZE(buf)];
	size_t i;

	for (i = 0; i < len && i < CAP_LEN; i++)
		p[i] = (uint8_t)(salt * 131 + i * 7 + (i >> 8));
	return p;
}

/* Close every flow, as between two guests, and forget captured frames */
static void reset_flows(void)
{
	udp_close_all(&c);
	flow_reap(&flows);
	settle();
	cap_clear();
	net.udp_timeout_s = UDP_TIMEOUT_DEFAULT;
}

/* The guest's first datagram: a flow with a socket of its own, connected
 * to the server; the server's reply comes back, and only the server's
 */
static void outbound(const char *g, const char *gw, int af)
{
	const uint8_t *req = pat(1, 300), *rep = pat(2, 1000);
	int srv = usock(af, 6001), other = usock(af, 0), fds = fd_count();
	uint16_t fport = 0;
	uint8_t buf[CAP_LEN];

	CHECK(srv >= 0 && other >= 0);
	c.now_ms = T0;
	gsend(g, 40001, gw, 6001, req, 300);
	guest_flush();
	CHECK(flows.count == 1);
	CHECK(flows.share_count[FLOW_SHARE_UDP_OUT] == 1);
	CHECK(fd_count() == fds + 1);		/* its own socket */
	CHECK(urecv(srv, buf, sizeof(buf), 500, &fport) == 300);
	CHECK(!memcmp(buf, req, 300));
	CHECK(fport && fport != 40001);		/* from that socket */

	/* the server answers the address it saw */
	CHECK(usend(srv, af, fport, rep, 1000));
	CHECK(wait_frames(1, 1000));
	CHECK(cap_n == 1 && cap_is(0, gw, 6001, g, 40001, rep, 1000));

	/* a second datagram: same flow, same socket */
	gsend(g, 40001, gw, 6001, req, 300);
	guest_flush();
	CHECK(flows.count == 1 && fd_count() == fds + 1);
	CHECK(urecv(srv, buf, sizeof(buf), 500, &fport) == 300);

	/* the socket is connected: another sender does not get through */
	cap_clear();
	CHECK(usend(other, af, fport, rep, 100));
	settle();
	CHECK(cap_n == 0);
	CHECK(flows.count == 1);

	reset_flows();
	CHECK(fd_count() == fds);
	close(srv);
	close(other);
}

static void test_outbound_v4(void)
{
	outbound(G4, GW4, AF_INET);
}

static void test_outbound_v6(void)
{
	if (!have_v6) {
		printf("# no IPv6 on lo: skipped\n");
		return;
	}
	outbound(G6, GW6, AF_INET6);
}

/* @n datagrams of sizes size(i) in one batch: what the server gets */
static int batch(int srv, unsigned int n, size_t (*size)(unsigned int))
{
	uint8_t buf[CAP_LEN];
	unsigned int i, good = 0;

	for (i = 0; i < n; i++)
		gsend(G4, 40002, GW4, 6002, pat(i, size(i)), size(i));
	sendmmsg_calls = sendmmsg_msgs = sendmsg_calls = 0;
	guest_flush();
	for (i = 0; i < n; i++) {
		ssize_t len = urecv(srv, buf, sizeof(buf), 500, NULL);

		if (len < 0)
			break;		/* the rest will not come */
		/* in order, each whole */
		good += len == (ssize_t)size(i) &&
			!memcmp(buf, pat(i, size(i)), size(i));
	}
	CHECK(uempty(srv));
	return (int)good;
}

static size_t size_equal(unsigned int i)
{
	(void)i;
	return 1000;
}

static size_t size_growing(unsigned int i)
{
	return 100 + i * 37;	/* every one longer: a message each */
}

static size_t size_mixed(unsigned int i)
{
	return i % 5 == 4 ? 10 + i : 600;	/* runs of 4, shorter ends */
}

/* Datagrams of one flow in one batch leave with one sendmmsg() */
static void test_batch_sendmmsg(void)
{
	int srv = usock(AF_INET, 6002);

	CHECK(srv >= 0);
	c.now_ms = T0;
	CHECK(batch(srv, 24, size_growing) == 24);
	CHECK(sendmmsg_calls == 1 && sendmmsg_msgs == 24);
	CHECK(sendmsg_calls == 0);
	CHECK(flows.count == 1);

	CHECK(batch(srv, 30, size_mixed) == 30);
	CHECK(sendmmsg_calls == 1 && sendmsg_calls == 0);

	/* equal sizes: one message (UDP_SEGMENT), the receiver gets each */
	CHECK(batch(srv, 32, size_equal) == 32);
	CHECK(sendmmsg_calls == 1 && sendmsg_calls == 0);
	printf("# 32 equal datagrams: %u message(s) in one sendmmsg()\n",
	       sendmmsg_msgs);

	/* more than --udp-batch (32): one call per batch */
	CHECK(batch(srv, 40, size_equal) == 40);
	CHECK(sendmmsg_calls == 2 && sendmsg_calls == 0);
	CHECK(flows.count == 1);

	reset_flows();
	close(srv);
}

/* --no-mmsg: one call per datagram, both ways */
static void test_no_mmsg(void)
{
	int srv = usock(AF_INET, 6002);
	uint16_t port = 0;
	uint8_t buf[CAP_LEN];
	int i, good = 0;

	CHECK(srv >= 0);
	net.no_mmsg = true;
	c.now_ms = T0;
	CHECK(batch(srv, 10, size_mixed) == 10);
	CHECK(sendmmsg_calls == 0 && sendmsg_calls == 10);
	gsend(G4, 40002, GW4, 6002, pat(0, 10), 10);
	guest_flush();
	CHECK(urecv(srv, buf, sizeof(buf), 500, &port) == 10);
	for (i = 0; i < 5; i++)
		CHECK(usend(srv, AF_INET, port, pat((unsigned int)i, 99), 99));
	CHECK(wait_frames(5, 1000));
	for (i = 0; i < 5 && cap_n == 5; i++)
		good += cap_is((unsigned int)i, GW4, 6002, G4, 40002,
			       pat((unsigned int)i, 99), 99);
	CHECK(good == 5);
	net.no_mmsg = false;
	reset_flows();
	close(srv);
}

/* What the MTU lets through toward the guest: longer is a counted drop */
static void test_too_long(void)
{
	size_t max = 1500 - IP4_HDR_LEN - UDP_HLEN;
	uint64_t d = drop_counters[DROP_UDP_TRUNC];
	int srv = usock(AF_INET, 6005);
	uint16_t port = 0;
	uint8_t buf[CAP_LEN];

	CHECK(srv >= 0);
	c.now_ms = T0;
	gsend(G4, 40005, GW4, 6005, pat(0, 10), 10);
	guest_flush();
	CHECK(urecv(srv, buf, sizeof(buf), 500, &port) == 10);
	CHECK(usend(srv, AF_INET, port, pat(1, max), max));
	CHECK(usend(srv, AF_INET, port, pat(2, max + 1), max + 1));
	CHECK(usend(srv, AF_INET, port, pat(3, 20), 20));
	CHECK(wait_frames(2, 1000));
	settle();
	CHECK(cap_n == 2);
	CHECK(cap_is(0, GW4, 6005, G4, 40005, pat(1, max), max));
	CHECK(cap_is(1, GW4, 6005, G4, 40005, pat(3, 20), 20));
	CHECK(drop_counters[DROP_UDP_TRUNC] == d + 1);
	reset_flows();
	close(srv);
}

/* A table full of other flows: the guest's datagram is a counted drop,
 * and works again once there is room
 */
static void test_table_full(void)
{
	static int held[FLOWS + 1];
	uint64_t d = drop_counters[DROP_FLOW_FULL];
	int srv = usock(AF_INET, 6006), n = 0, fds = fd_count();
	uint8_t buf[CAP_LEN];

	CHECK(srv >= 0);
	while ((held[n] = flow_alloc(&flows, FLOW_TCP, IPPROTO_TCP,
				     FLOW_SHARE_TCP_OUT)) != FLOW_NONE)
		n++;
	CHECK(n == FLOWS);
	c.now_ms = T0;
	gsend(G4, 40006, GW4, 6006, pat(0, 10), 10);
	guest_flush();
	CHECK(drop_counters[DROP_FLOW_FULL] == d + 1);
	CHECK(flows.count == FLOWS && fd_count() == fds && uempty(srv));
	flow_free(&flows, held[--n]);
	flow_reap(&flows);
	gsend(G4, 40006, GW4, 6006, pat(0, 10), 10);
	guest_flush();
	CHECK(urecv(srv, buf, sizeof(buf), 500, NULL) == 10);
	reset_flows();
	while (n--)
		flow_free(&flows, held[n]);
	flow_reap(&flows);
	CHECK(flows.count == 0);
	close(srv);
}

/* -u: a peer's datagram makes a flow; the guest's reply leaves through
 * the forwarding socket, so the peer sees it from the port it used
 */
static void inbound(int af, const char *g, const char *gw, uint16_t port,
		    uint16_t dport)
{
	const uint8_t *req = pat(3, 200), *rep = pat(4, 700);
	int fwd = udp_listen(&c, af, NULL, NULL, port, dport, false);
	int peer = usock(af, 0), fds;
	uint16_t pport = sock_port(peer), from = 0;
	uint8_t buf[CAP_LEN];

	CHECK(fwd >= 0 && peer >= 0);
	fds = fd_count();
	c.now_ms = T0;
	CHECK(usend(peer, af, port, req, 200));
	CHECK(wait_frames(1, 1000));
	CHECK(cap_n == 1 && cap_is(0, gw, pport, g, dport, req, 200));
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 1);
	CHECK(flows.count == 1);

	gsend(g, dport, gw, pport, rep, 700);
	guest_flush();
	CHECK(urecv(peer, buf, sizeof(buf), 500, &from) == 700);
	CHECK(from == port && !memcmp(buf, rep, 700));
	CHECK(flows.count == 1);		/* no outbound flow */
	CHECK(fd_count() == fds);		/* no socket of its own */

	/* the peer again: the same flow */
	cap_clear();
	CHECK(usend(peer, af, port, req, 200));
	CHECK(wait_frames(1, 1000));
	CHECK(cap_n == 1 && flows.count == 1);

	reset_flows();
	udp_listen_close(&c, fwd);
	close(peer);
}

static void test_inbound(void)
{
	inbound(AF_INET, G4, GW4, 5001, 5001);
	inbound(AF_INET, G4, GW4, 5002, 7002);	/* -u 5002:7002 */
	if (have_v6)
		inbound(AF_INET6, G6, GW6, 5003, 5003);
}

/* Idle expiry with a fake clock, in order of last activity */
static void test_expiry(void)
{
	int srv = usock(AF_INET, 6003), fwd, peer = usock(AF_INET, 0);
	const uint8_t *p = pat(5, 50);
	uint64_t t = T0;
	uint8_t buf[CAP_LEN];
	uint16_t port[3];
	int fds = fd_count(), i, a, b;

	CHECK(srv >= 0 && peer >= 0);
	net.udp_timeout_s = 10;

	/* A at t, B at t+1000, A again at t+2000 */
	c.now_ms = t;
	gsend(G4, 41001, GW4, 6003, p, 50);
	guest_flush();
	c.now_ms = t + 1000;
	gsend(G4, 41002, GW4, 6003, p, 50);
	guest_flush();
	c.now_ms = t + 2000;
	gsend(G4, 41001, GW4, 6003, p, 50);
	guest_flush();
	CHECK(flows.count == 2 && fd_count() == fds + 2);

	c.now_ms = t + 1000 + 10000 - 1;
	udp_timer(&c);
	flow_reap(&flows);
	CHECK(flows.count == 2);

	c.now_ms = t + 1000 + 10000 + 1;	/* B idle too long, A not */
	udp_timer(&c);
	flow_reap(&flows);
	CHECK(flows.count == 1 && fd_count() == fds + 1);
	for (i = 0; i < 3; i++)
		CHECK(urecv(srv, buf, sizeof(buf), 500, &port[i]) == 50);
	CHECK(port[0] == port[2] && port[0] != port[1]);
	/* B's socket is closed: the server's answer to it goes nowhere */
	cap_clear();
	CHECK(usend(srv, AF_INET, port[1], p, 50));
	settle();
	CHECK(cap_n == 0);

	c.now_ms = t + 2000 + 10000;		/* A: exactly the timeout */
	udp_timer(&c);
	flow_reap(&flows);
	CHECK(flows.count == 1);
	c.now_ms = t + 2000 + 10000 + 1;
	udp_timer(&c);
	flow_reap(&flows);
	CHECK(flows.count == 0 && fd_count() == fds);

	/* replies from the server are activity too */
	t += 100000;
	c.now_ms = t;
	gsend(G4, 41003, GW4, 6003, p, 50);
	guest_flush();
	CHECK(urecv(srv, buf, sizeof(buf), 500, &port[0]) == 50);
	c.now_ms = t + 5000;
	CHECK(usend(srv, AF_INET, port[0], p, 50));
	CHECK(wait_frames(1, 1000));
	c.now_ms = t + 10001;
	udp_timer(&c);
	flow_reap(&flows);
	CHECK(flows.count == 1);
	c.now_ms = t + 15001;
	udp_timer(&c);
	flow_reap(&flows);
	CHECK(flows.count == 0);

	/* inbound flows expire the same way */
	fwd = udp_listen(&c, AF_INET, NULL, NULL, 5004, 5004, false);
	CHECK(fwd >= 0);
	t += 100000;
	c.now_ms = t;
	CHECK(usend(peer, AF_INET, 5004, p, 50));
	cap_clear();
	CHECK(wait_frames(1, 1000));
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 1);
	c.now_ms = t + 10000;
	udp_timer(&c);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 1);
	c.now_ms = t + 10001;
	udp_timer(&c);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 0);

	/* ...and the peer's datagrams are activity */
	t += 100000;
	c.now_ms = t;
	CHECK(usend(peer, AF_INET, 5004, p, 50));
	settle();
	c.now_ms = t + 5000;
	CHECK(usend(peer, AF_INET, 5004, p, 50));
	settle();
	c.now_ms = t + 10001;
	udp_timer(&c);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 1);
	c.now_ms = t + 15001;
	udp_timer(&c);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 0);

	/* The walk stops at the first flow still in use: white box, C is
	 * made to look idle without moving in the activity list (as no code
	 * path does), behind a live D, and must survive the timer
	 */
	t += 100000;
	c.now_ms = t;
	gsend(G4, 41004, GW4, 6003, p, 50);
	guest_flush();
	c.now_ms = t + 1;
	gsend(G4, 41005, GW4, 6003, p, 50);
	guest_flush();
	a = flow_oldest(&flows, FLOW_SHARE_UDP_OUT);
	b = a == FLOW_NONE ? FLOW_NONE : flow_newer(&flows, a);
	CHECK(a != FLOW_NONE && b != FLOW_NONE);
	if (b != FLOW_NONE) {
		flow_at(&flows, b)->last_ms = 0;
		c.now_ms = t + 5000;
		udp_timer(&c);
		flow_reap(&flows);
		CHECK(flows.count == 2);
	}

	reset_flows();
	udp_listen_close(&c, fwd);
	CHECK(fd_count() == fds);
	close(srv);
	close(peer);
}

/* Inbound flows fill their share: the least recently active is evicted
 * for a new peer, the guest's own flows stay
 */
static void test_evict(void)
{
	static int peer[SHARE_IN + 41];
	uint64_t ev = drop_counters[DROP_UDP_EVICT];
	int fwd = udp_listen(&c, AF_INET, NULL, NULL, 5010, 5010, false);
	int srv = usock(AF_INET, 6010), i, good;
	const uint8_t *p = pat(6, 64);
	uint16_t sport[3], from;
	uint8_t buf[CAP_LEN];

	CHECK(fwd >= 0 && srv >= 0);
	c.now_ms = T0;
	for (i = 0; i < 3; i++) {
		gsend(G4, (uint16_t)(42001 + i), GW4, 6010, p, 64);
		guest_flush();
		CHECK(urecv(srv, buf, sizeof(buf), 500, &sport[i]) == 64);
	}
	for (i = 0; i < (int)ARRAY_SIZE(peer); i++) {
		peer[i] = usock(AF_INET, 0);
		CHECK(peer[i] >= 0);
	}

	/* peers 0 to 15 fill the share, peer 0 speaks again last */
	for (i = 0; i < SHARE_IN; i++) {
		c.now_ms = T0 + 1 + (uint64_t)i;
		CHECK(usend(peer[i], AF_INET, 5010, p, 64));
		settle();
	}
	c.now_ms = T0 + 100;
	CHECK(usend(peer[0], AF_INET, 5010, p, 64));
	settle();
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == SHARE_IN);
	CHECK(drop_counters[DROP_UDP_EVICT] == ev);
	CHECK(cap_n == SHARE_IN + 1);

	/* peer 16 takes peer 1's slot */
	cap_clear();
	c.now_ms = T0 + 200;
	CHECK(usend(peer[SHARE_IN], AF_INET, 5010, p, 64));
	CHECK(wait_frames(1, 1000));
	CHECK(cap_is(0, GW4, sock_port(peer[SHARE_IN]), G4, 5010, p, 64));
	CHECK(drop_counters[DROP_UDP_EVICT] == ev + 1);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == SHARE_IN);
	CHECK(flows.share_count[FLOW_SHARE_UDP_OUT] == 3);

	/* the guest answers each peer: through the forwarding socket, but
	 * peer 1 no longer has a flow (its answer makes an outbound one)
	 */
	for (i = 0, good = 0; i <= SHARE_IN; i++) {
		c.now_ms = T0 + 300;
		gsend(G4, 5010, GW4, sock_port(peer[i]), p, 64);
		guest_flush();
		from = 0;
		CHECK(urecv(peer[i], buf, sizeof(buf), 500, &from) == 64);
		good += (from == 5010) == (i != 1);
	}
	CHECK(good == SHARE_IN + 1);

	/* a flood of 40 more: each evicts one, the guest's flows stay */
	for (i = SHARE_IN + 1; i < (int)ARRAY_SIZE(peer); i++) {
		c.now_ms = T0 + 400 + (uint64_t)i;
		CHECK(usend(peer[i], AF_INET, 5010, p, 64));
	}
	settle();
	CHECK(drop_counters[DROP_UDP_EVICT] == ev + 1 + 40);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == SHARE_IN);
	CHECK(flows.share_count[FLOW_SHARE_UDP_OUT] == 4);
	cap_clear();
	for (i = 0; i < 3; i++)
		CHECK(usend(srv, AF_INET, sport[i], p, 64));
	CHECK(wait_frames(3, 1000));
	for (i = 0, good = 0; i < 3 && cap_n == 3; i++)
		good += cap_is((unsigned int)i, GW4, 6010, G4,
			       (uint16_t)(42001 + i), p, 64);
	CHECK(good == 3);

	reset_flows();
	udp_listen_close(&c, fwd);
	for (i = 0; i < (int)ARRAY_SIZE(peer); i++)
		close(peer[i]);
	close(srv);
}

/* A TCP connection of the test, its client end made with socket() now:
 * the lowest free descriptor number. Return: client end, -1 on failure
 */
static int tcp_pair(int lfd, int *srv)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || getsockname(lfd, (struct sockaddr *)&ss, &sl) ||
	    connect(s, (struct sockaddr *)&ss, sl)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	*srv = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	return s;
}

static int tcp_listener(void)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_lo(AF_INET, 0, &ss);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&ss, sl) || listen(s, 4)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* udp_listen_close(): the flows that used the socket are gone, and the
 * guest's next datagram on their tuple does not go out through the old
 * descriptor number, now a TCP socket's
 */
static void test_listen_close(void)
{
	int lfd = tcp_listener(), peer = usock(AF_INET, 0), fwd, cl, sv = -1;
	const uint8_t *p = pat(7, 80);
	uint16_t pport = sock_port(peer), from = 0;
	uint8_t buf[CAP_LEN];

	fwd = udp_listen(&c, AF_INET, NULL, NULL, 5020, 5020, false);
	CHECK(lfd >= 0 && peer >= 0 && fwd >= 0);
	c.now_ms = T0;
	CHECK(usend(peer, AF_INET, 5020, p, 80));
	CHECK(wait_frames(1, 1000));
	gsend(G4, 5020, GW4, pport, p, 80);
	guest_flush();
	CHECK(urecv(peer, buf, sizeof(buf), 500, &from) == 80 && from == 5020);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 1);

	udp_listen_close(&c, fwd);
	flow_reap(&flows);
	CHECK(flows.count == 0);
	CHECK(flows.share_count[FLOW_SHARE_UDP_IN] == 0);

	cl = tcp_pair(lfd, &sv);
	CHECK(cl == fwd && sv >= 0);		/* the number came back */
	c.now_ms = T0 + 10;
	gsend(G4, 5020, GW4, pport, p, 80);
	guest_flush();
	CHECK(sv >= 0 && uempty(sv));		/* nothing in the stream */
	from = 0;				/* a new flow may send it */
	if (urecv(peer, buf, sizeof(buf), 200, &from) >= 0)
		CHECK(from != 5020);

	/* the port opened again: a new generation, a new flow */
	reset_flows();
	fwd = udp_listen(&c, AF_INET, NULL, NULL, 5020, 5020, false);
	CHECK(fwd >= 0);
	CHECK(usend(peer, AF_INET, 5020, p, 80));
	CHECK(wait_frames(1, 1000));
	gsend(G4, 5020, GW4, pport, p, 80);
	guest_flush();
	CHECK(urecv(peer, buf, sizeof(buf), 500, &from) == 80 && from == 5020);
	CHECK(sv >= 0 && uempty(sv));

	reset_flows();
	udp_listen_close(&c, fwd);
	close(cl);
	close(sv);
	close(lfd);
	close(peer);
}

/* The top layer's hook for -U, without a namespace: we are in our own */
static int fake_ns_sockets(int af, int type, int proto, int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = socket(af, type, proto);
		if (fds[i] < 0)
			return i ? i : -errno;
	}
	return n;
}

/* -U: a namespace peer's datagram goes to the host's loopback through a
 * socket of the flow; closing the forwarding socket closes that too
 */
static void test_ns_listen_close(void)
{
	int srv = usock(AF_INET, 7030), peer = usock(AF_INET, 0), fds, fwd;
	const uint8_t *p = pat(8, 90), *r = pat(9, 91);
	uint16_t from = 0, hport = 0;
	uint8_t buf[CAP_LEN];

	fwd = udp_listen(&c, AF_INET, NULL, NULL, 5030, 7030, true);
	CHECK(srv >= 0 && peer >= 0 && fwd >= 0);
	fds = fd_count();
	c.now_ms = T0;
	CHECK(usend(peer, AF_INET, 5030, p, 90));
	settle();
	CHECK(urecv(srv, buf, sizeof(buf), 500, &hport) == 90);
	CHECK(!memcmp(buf, p, 90));
	CHECK(flows.share_count[FLOW_SHARE_UDP_OUT] == 1);
	CHECK(fd_count() == fds + 1);
	CHECK(cap_n == 0);			/* nothing crosses the tap */

	CHECK(usend(srv, AF_INET, hport, r, 91));
	settle();
	CHECK(urecv(peer, buf, sizeof(buf), 500, &from) == 91);
	CHECK(from == 5030 && !memcmp(buf, r, 91));

	udp_listen_close(&c, fwd);
	flow_reap(&flows);
	CHECK(flows.count == 0);
	CHECK(fd_count() == fds - 1);		/* flow's and forwarding */
	CHECK(usend(srv, AF_INET, hport, r, 91));
	settle();
	CHECK(uempty(peer) && cap_n == 0);

	reset_flows();
	close(srv);
	close(peer);
}

/* One hostile or malformed frame: @why counted once, no flow, no socket,
 * nothing at the server
 */
static void hostile(int srv, enum drop_reason why, const char *what)
{
	uint64_t d = drop_counters[why];
	int fds = fd_count();

	bool sent;
	int k;

	guest_flush();
	sent = !uempty(srv);
	for (k = 0; k < 64 && !uempty(srv); k++)
		;			/* nothing left for the next case */
	if (drop_counters[why] != d + 1 || flows.count || fd_count() != fds ||
	    sent) {
		printf("# %s: not dropped as expected\n", what);
		unit_failed_checks++;
	}
	reset_flows();
}

static void test_hostile(void)
{
	int srv = usock(AF_INET, 6040), srv6 = have_v6 ? usock(AF_INET6, 6040) :
						     -1;
	const uint8_t *p = pat(10, 100);
	uint8_t buf[CAP_LEN], *f;
	size_t len;

	CHECK(srv >= 0);
	c.now_ms = T0;

	f = gq_next();			/* UDP length past the frame */
	len = gframe(f, G4, 43001, GW4, 6040, p, 100);
	wr16(f + ETH_HDR_LEN + IP4_HDR_LEN + 4, 8 + 101);
	gq_add(len);
	hostile(srv, DROP_L4_SHORT, "UDP length > IP payload");

	f = gq_next();			/* UDP length 0 */
	len = gframe(f, G4, 43001, GW4, 6040, p, 100);
	wr16(f + ETH_HDR_LEN + IP4_HDR_LEN + 4, 0);
	gq_add(len);
	hostile(srv, DROP_L4_SHORT, "UDP length 0");

	f = gq_next();			/* UDP length 7 */
	len = gframe(f, G4, 43001, GW4, 6040, p, 100);
	wr16(f + ETH_HDR_LEN + IP4_HDR_LEN + 4, 7);
	gq_add(len);
	hostile(srv, DROP_L4_SHORT, "UDP length 7");

	f = gq_next();			/* IP length past the frame */
	len = gframe(f, G4, 43001, GW4, 6040, p, 100);
	wr16(f + ETH_HDR_LEN + 2, IP4_HDR_LEN + 8 + 100 + 1);
	ip4_fix(f);
	gq_add(len);
	hostile(srv, DROP_IP_BAD_LEN, "IP length > frame");

	f = gq_next();			/* ends inside the UDP header */
	len = gframe(f, G4, 43001, GW4, 6040, p, 0);
	wr16(f + ETH_HDR_LEN + 2, IP4_HDR_LEN + 4);
	ip4_fix(f);
	gq_add(len - 4);
	hostile(srv, DROP_L4_SHORT, "truncated UDP header");

	f = gq_next();			/* a fragment */
	len = gframe(f, G4, 43001, GW4, 6040, p, 100);
	wr16(f + ETH_HDR_LEN + 6, 0x2000);	/* MF */
	ip4_fix(f);
	gq_add(len);
	hostile(srv, DROP_IP_FRAG, "first fragment");

	gsend(G4, 43001, GW4, 0, p, 100);
	hostile(srv, DROP_UDP_MCAST, "destination port 0");
	gsend(G4, 43001, "255.255.255.255", 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "limited broadcast");
	gsend(G4, 43001, "192.0.2.255", 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "subnet broadcast");
	gsend(G4, 43001, "224.0.0.251", 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "IPv4 multicast");
	gsend(G4, 43001, "239.1.2.3", 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "IPv4 multicast 239/8");
	if (have_v6) {
		gsend(G6, 43001, "ff02::1", 6040, p, 100);
		hostile(srv6, DROP_UDP_MCAST,
			"IPv6 all-nodes");
		gsend(G6, 43001, "ff05::1:3", 6040, p, 100);
		hostile(srv6, DROP_UDP_MCAST,
			"IPv6 site multicast");
		gsend(G6, 43001, GW6, 0, p, 100);
		hostile(srv6, DROP_UDP_MCAST,
			"IPv6 destination port 0");
	}
	/* RFC 1122 3.2.1.3: no datagram comes from a multicast, broadcast
	 * or unspecified address; nor does tap.c take one for the guest's
	 */
	gsend("224.0.0.1", 43001, GW4, 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "multicast source");
	gsend("255.255.255.255", 43001, GW4, 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "limited broadcast source");
	gsend("192.0.2.255", 43001, GW4, 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "subnet broadcast source");
	gsend("0.0.0.0", 43001, GW4, 6040, p, 100);
	hostile(srv, DROP_UDP_MCAST, "unspecified source");
	CHECK(net.v4.addr_seen.s_addr == net.v4.addr.s_addr);
	if (have_v6) {
		gsend("ff02::1", 43001, GW6, 6040, p, 100);
		hostile(srv6, DROP_UDP_MCAST, "IPv6 multicast source");
		gsend("::", 43001, GW6, 6040, p, 100);
		hostile(srv6, DROP_UDP_MCAST, "IPv6 unspecified source");
		CHECK(IN6_ARE_ADDR_EQUAL(&net.v6.addr_seen, &net.v6.addr));
	}

	net.no_udp = true;
	gsend(G4, 43001, GW4, 6040, p, 100);
	hostile(srv, DROP_L4_PROTO, "--no-udp");
	net.no_udp = false;

	/* Not malformed: a zero-length datagram is valid UDP (RFC 768) and
	 * is sent on as one; bytes past the UDP length are padding
	 */
	gsend(G4, 43002, GW4, 6040, p, 0);
	guest_flush();
	CHECK(urecv(srv, buf, sizeof(buf), 500, NULL) == 0);
	CHECK(flows.count == 1);
	f = gq_next();
	len = gframe(f, G4, 43002, GW4, 6040, p, 100);
	wr16(f + ETH_HDR_LEN + IP4_HDR_LEN + 4, 8 + 4);
	gq_add(len);
	guest_flush();
	CHECK(urecv(srv, buf, sizeof(buf), 500, NULL) == 4);
	CHECK(!memcmp(buf, p, 4));
	CHECK(uempty(srv));

	reset_flows();
	close(srv);
	if (srv6 >= 0)
		close(srv6);
}

/**
 * cap_icmp_is() - Is captured frame @i the ICMP error we expect?
 * @i:		Index in cap[]
 * @gw:		Where it comes from: the destination the guest used
 * @g:		The guest's address
 * @gport:	The guest's port
 * @dport:	The destination port the guest used
 *
 * Return: true for a port unreachable (ICMP 3/3, ICMPv6 1/4) with a valid
 *	   checksum, quoting the guest's IP and UDP headers
 */
static bool cap_icmp_is(unsigned int i, const char *gw, const char *g,
			uint16_t gport, uint16_t dport)
{
	bool v4 = !strchr(g, ':');
	size_t l3 = v4 ? IP4_HDR_LEN : IP6_HDR_LEN, alen = v4 ? 4 : 16;
	const uint8_t *ip = cap[i].d + ETH_HDR_LEN, *m = ip + l3, *in = m + 8;
	uint8_t proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, a[16], b[16];
	uint32_t len = (uint32_t)(8 + l3 + UDP_HLEN);
	int af = v4 ? AF_INET : AF_INET6;

	if (i >= cap_n || cap[i].len != ETH_HDR_LEN + l3 + len ||
	    (v4 ? ip[9] : ip[6]) != proto)
		return false;
	inet_pton(af, gw, a);
	inet_pton(af, g, b);
	if (memcmp(ip + (v4 ? 12 : 8), a, alen) ||
	    memcmp(ip + (v4 ? 16 : 24), b, alen))
		return false;
	if (m[0] != (v4 ? 3 : 1) || m[1] != (v4 ? 3 : 4) ||
	    fold(sum16(m, len, v4 ? 0 : pseudo_p(ip, proto, len))) != 0xffff)
		return false;
	/* the quoted datagram: from the guest to where it sent it */
	if ((in[0] >> 4) != (v4 ? 4 : 6) ||
	    (v4 ? in[9] : in[6]) != IPPROTO_UDP ||
	    memcmp(in + (v4 ? 12 : 8), b, alen) ||
	    memcmp(in + (v4 ? 16 : 24), a, alen))
		return false;
	return rd16(in + l3) == gport && rd16(in + l3 + 2) == dport;
}

/* A datagram to a port nothing listens on: the kernel's ICMP error
 * reaches the guest as one of its own, quoting the guest's datagram
 */
static void icmp_error(const char *g, const char *gw)
{
	const uint8_t *p = pat(12, 30);

	c.now_ms = T0;
	gsend(g, 43020, gw, 6060, p, 30);
	guest_flush();
	CHECK(flows.count == 1);
	CHECK(wait_frames(1, 1000));
	CHECK(cap_n == 1 && cap_icmp_is(0, gw, g, 43020, 6060));
	reset_flows();
}

static void test_icmp_error(void)
{
	icmp_error(G4, GW4);
	if (have_v6)
		icmp_error(G6, GW6);
}

/* udp_close_all(): no flow, no descriptor left */
static void test_close_all(void)
{
	int fwd = udp_listen(&c, AF_INET, NULL, NULL, 5050, 5050, false);
	int srv = usock(AF_INET, 6050), peer = usock(AF_INET, 0), fds, i;
	const uint8_t *p = pat(11, 20);
	uint16_t port = 0;
	uint8_t buf[CAP_LEN];

	CHECK(fwd >= 0 && srv >= 0 && peer >= 0);
	fds = fd_count();
	c.now_ms = T0;
	for (i = 0; i < 5; i++) {
		gsend(G4, (uint16_t)(44001 + i), GW4, 6050, p, 20);
		guest_flush();
	}
	if (have_v6) {
		gsend(G6, 44001, GW6, 6050, p, 20);
		guest_flush();
	}
	CHECK(usend(peer, AF_INET, 5050, p, 20));
	settle();
	CHECK(flows.count == 6U + have_v6);
	CHECK(fd_count() == fds + 5 + have_v6);
	CHECK(urecv(srv, buf, sizeof(buf), 500, &port) == 20);

	udp_close_all(&c);
	CHECK(flows.count == 0);
	CHECK(flow_oldest(&flows, FLOW_SHARE_UDP_OUT) == FLOW_NONE);
	CHECK(flow_oldest(&flows, FLOW_SHARE_UDP_IN) == FLOW_NONE);
	flow_reap(&flows);
	CHECK(fd_count() == fds);
	cap_clear();
	CHECK(usend(srv, AF_INET, port, p, 20));
	settle();
	CHECK(cap_n == 0);

	/* the forwarding socket stays (listen.c owns it) and works on */
	CHECK(usend(peer, AF_INET, 5050, p, 20));
	CHECK(wait_frames(1, 1000));
	CHECK(flows.count == 1);

	reset_flows();
	udp_listen_close(&c, fwd);
	close(srv);
	close(peer);
}

static int fds_at_start;

static void test_no_fd_leak(void)
{
	close(c.epollfd);
	CHECK(fd_count() == fds_at_start);
	CHECK(cap_lost == 0);
}

static void net_setup(void)
{
	inet_pton(AF_INET, G4, &net.v4.addr);
	inet_pton(AF_INET, GW4, &net.v4.gw);
	inet_pton(AF_INET, GW4, &net.v4.map_host_lo);
	net.v4.prefix_len = 24;
	net.v4.enabled = true;
	inet_pton(AF_INET6, G6, &net.v6.addr);
	inet_pton(AF_INET6, GW6, &net.v6.gw);
	inet_pton(AF_INET6, GW6, &net.v6.map_host_lo);
	net.v6.prefix_len = 64;
	net.v6.enabled = true;
	memcpy(net.our_mac, our_mac, MAC_LEN);
	net.mtu = 1500;
	net.udp_batch = UDP_BATCH_DEFAULT;
	net.udp_yield = 0;
	net.udp_timeout_s = UDP_TIMEOUT_DEFAULT;
}

static int setup(void)
{
	int s;

	if (unit_ns_enter())
		return -1;
	s = usock(AF_INET6, 0);
	have_v6 = s >= 0;
	if (s >= 0)
		close(s);
	fds_at_start = fd_count();
	net_setup();
	if (flow_table_init(&flows, FLOWS) ||
	    frame_queue_init(&q, 4 << 20, CAP_MAX))
		return -2;
	memcpy(q.our_mac, our_mac, MAC_LEN);
	q.flush = cap_flush;
	c = (struct ctx){ .net = &net, .q = &q, .flows = &flows,
			  .epollfd = epoll_create1(EPOLL_CLOEXEC),
			  .ns_sockets = fake_ns_sockets };
	if (c.epollfd < 0 || udp_init(&c, FLOWS))
		return -2;
	return 0;
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
	UNIT_PLAN(15);
	UNIT_RUN(test_outbound_v4);
	UNIT_RUN(test_outbound_v6);
	UNIT_RUN(test_batch_sendmmsg);
	UNIT_RUN(test_no_mmsg);
	UNIT_RUN(test_too_long);
	UNIT_RUN(test_table_full);
	UNIT_RUN(test_inbound);
	UNIT_RUN(test_expiry);
	UNIT_RUN(test_evict);
	UNIT_RUN(test_listen_close);
	UNIT_RUN(test_ns_listen_close);
	UNIT_RUN(test_hostile);
	UNIT_RUN(test_icmp_error);
	UNIT_RUN(test_close_all);
	UNIT_RUN(test_no_fd_leak);
	flow_table_destroy(&flows);
	free(q.arena);
	free(q.out);
	UNIT_EXIT();
}
