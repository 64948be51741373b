/* test/fuzz/fuzz_common.c - the daemon's context for the frame harnesses
 *
 * Theory of operation
 * Each harness process first enters new user and network namespaces of
 * its own (fuzz_netns()): only a loopback link exists there, holding the
 * documentation addresses 192.0.2.1/24 and 2001:db8::1/64, so whatever a
 * fuzzed frame makes the daemon connect to or send stays inside this
 * process's namespace, which goes away with it. The context is built the
 * way passtd.c builds it: options through conf_parse() (documentation
 * addresses, a small flow table), conf_host() for the rest, the output
 * queue, the flow table and every protocol's state. The output queue's
 * flush hook only looks at TCP segments (so a harness can acknowledge
 * what the daemon sent, see struct fuzz_tcp_seen) and empties the queue.
 *
 * Peers: one TCP listener and one UDP socket, both on [::]:FUZZ_PORT,
 * stand for the far side. fuzz_pump() runs the daemon's socket events
 * (bounded rounds of epoll_wait() with no wait) and plays the peers:
 * accepts, echoes what arrives, so data flows toward the guest too.
 *
 * FUZZ_TRACE=1 in the environment logs what the daemon does (debug an
 * input with it); otherwise the daemon is silent.
 *
 * Between inputs fuzz_reset() closes every flow and every peer socket,
 * restores the configuration and the clock: nothing of one input is
 * left for the next. It then counts the open sockets and aborts if
 * there are more than after set-up, so a leaked socket is a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "dispatch.h"
#include "epoll_ref.h"
#include "fuzz.h"
#include "icmp.h"
#include "listen.h"
#include "log.h"
#include "ndp.h"
#include "netlink.h"
#include "tcp.h"
#include "tcp_splice.h"
#include "udp.h"

#define FUZZ_PEERS	16		/* accepted connections kept */
#define FUZZ_ROUNDS	8		/* epoll rounds per pump */
#define FUZZ_NOW_MS	1000000		/* clock at the start of each input */

const uint8_t fuzz_guest_mac[MAC_LEN] = { 0x02, 0, 0x5e, 0, 0x53, 0x01 };

struct ctx fuzz_ctx;
struct fuzz_tcp_seen fuzz_tcp_seen;

static struct conf conf;
static struct net_conf net_saved;
static struct frame_queue queue;
static struct flow_table flows;
static int tcp_listener = -1, udp_peer = -1;
static int peers[FUZZ_PEERS];
static unsigned int peers_n;
static int socks_start = -1;	/* open sockets after set-up */

/*
 * Number of open sockets of this process, -1 if unknown: only sockets,
 * as libFuzzer opens pipes of its own (to a symbolizer) as it goes
 */
static int socks_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	char path[300], link[64];
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		n += len > 7 && !memcmp(link, "socket:", 7);
	}
	closedir(d);
	return n;
}

/* Write @s to the file @path; abort the harness if that fails */
static void fuzz_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path,
			strerror(errno));
		abort();
	}
	close(fd);
}

/*
 * IPv4 default route via 192.0.2.2 on lo. An address on lo makes its
 * whole prefix local, so 192.0.2.2 answers like 192.0.2.1; packets for
 * other destinations go out of lo, come back and are dropped (no
 * forwarding): connections to remote hosts stay pending, for the SYN
 * timers and eviction. Not "onlink", as nl_route_add_default() asks,
 * which the kernel refuses for a local gateway. Best effort.
 */
static void route_via_lo(int nl, unsigned int lo)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rtm;
		struct rtattr gw_attr;
		uint32_t gw;
		struct rtattr oif_attr;
		uint32_t oif;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_NEWROUTE,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE |
				       NLM_F_EXCL | NLM_F_ACK },
		.rtm = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
			 .rtm_protocol = RTPROT_BOOT,
			 .rtm_scope = RT_SCOPE_UNIVERSE,
			 .rtm_type = RTN_UNICAST },
		.gw_attr = { RTA_LENGTH(4), RTA_GATEWAY },
		.gw = htonl(0xc0000202),
		.oif_attr = { RTA_LENGTH(4), RTA_OIF },
		.oif = lo,
	};
	char buf[512];

	if (send(nl, &req, sizeof(req), 0) == sizeof(req))
		(void)!recv(nl, buf, sizeof(buf), 0);
}

/**
 * fuzz_netns() - Enter new user and network namespaces, set up loopback
 *
 * Aborts if that is not possible: without it, a fuzzed frame could reach
 * the machine's real network.
 */
void fuzz_netns(void)
{
	struct in6_addr a6 = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8,
					    [15] = 1 } };
	struct in_addr a4 = { htonl(0xc0000201) };
	uid_t uid = getuid();
	gid_t gid = getgid();
	unsigned int lo;
	char map[64];
	int nl;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
		fprintf(stderr, "fuzz: cannot create namespaces: %s\n",
			strerror(errno));
		abort();
	}
	snprintf(map, sizeof(map), "0 %u 1", uid);
	fuzz_write_file("/proc/self/uid_map", map);
	fuzz_write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", gid);
	fuzz_write_file("/proc/self/gid_map", map);
	/* ping sockets for our group: ICMP echo flows open them */
	fuzz_write_file("/proc/sys/net/ipv4/ping_group_range", "0 0");

	nl = nl_sock();
	lo = if_nametoindex("lo");
	if (nl < 0 || !lo || nl_link_set(nl, lo, true, 0, NULL) ||
	    nl_addr_add(nl, lo, AF_INET, &a4, 24) ||
	    nl_addr_add(nl, lo, AF_INET6, &a6, 64)) {
		fprintf(stderr, "fuzz: cannot set up loopback\n");
		abort();
	}
	route_via_lo(nl, lo);
	close(nl);
}

/* Open the peers: a TCP listener and a UDP socket on [::]:FUZZ_PORT */
static void peers_open(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_port = htons(FUZZ_PORT) };
	int zero = 0;

	tcp_listener = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK |
			      SOCK_CLOEXEC, 0);
	udp_peer = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK |
			  SOCK_CLOEXEC, 0);
	if (tcp_listener < 0 || udp_peer < 0 ||
	    setsockopt(tcp_listener, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		       sizeof(zero)) ||
	    setsockopt(udp_peer, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		       sizeof(zero)) ||
	    bind(tcp_listener, (struct sockaddr *)&sa, sizeof(sa)) ||
	    bind(udp_peer, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(tcp_listener, 64)) {
		fprintf(stderr, "fuzz: peers: %s\n", strerror(errno));
		abort();
	}
}

/* Output queue hook: note the last TCP segment, then forget the queue */
static void fuzz_flush(struct frame_queue *q)
{
	unsigned int i;

	if (q->n)
		log_trace("fuzz: %u frames toward the guest", q->n);
	for (i = 0; i < q->n; i++) {
		const struct frame_out *o = &q->out[i];
		const uint8_t *p = o->iov[0].iov_base, *l4;
		size_t l3, len = o->iov[0].iov_len, ip_len, hl;
		bool v4;

		if (len < ETH_HDR_LEN + IP4_HDR_LEN)
			continue;
		v4 = rd16(p + 12) == ETHTYPE_IP4;
		if (!v4 && rd16(p + 12) != ETHTYPE_IP6)
			continue;
		l3 = v4 ? (size_t)(p[ETH_HDR_LEN] & 0xf) * 4 : IP6_HDR_LEN;
		if (len < ETH_HDR_LEN + l3 + 20 ||
		    p[ETH_HDR_LEN + (v4 ? 9 : 6)] != IPPROTO_TCP)
			continue;
		l4 = p + ETH_HDR_LEN + l3;
		ip_len = v4 ? rd16(p + ETH_HDR_LEN + 2) - l3 :
			      rd16(p + ETH_HDR_LEN + 4);
		hl = (size_t)(l4[12] >> 4) * 4;
		fuzz_tcp_seen.valid = 1;
		fuzz_tcp_seen.next = rd32(l4 + 4) +
				     (uint32_t)(ip_len > hl ? ip_len - hl : 0) +
				     !!(l4[13] & 0x02) + !!(l4[13] & 0x01);
		fuzz_tcp_seen.ack = rd32(l4 + 8);
		log_trace("fuzz: TCP %u > %u flags 0x%02x seq %u ack %u",
			  rd16(l4), rd16(l4 + 2), l4[13], rd32(l4 + 4),
			  rd32(l4 + 8));
	}
	frame_queue_reset(q);
}

/**
 * fuzz_init() - Build the context as passtd.c does, in a new namespace
 */
void fuzz_init(void)
{
	static char *argv[] = {
		"pasta", "-q", "--flows", "64",
		"-a", "192.0.2.1", "-n", "24", "-g", "192.0.2.2",
		"-a", "2001:db8::1", "-g", "2001:db8::2",
		"-D", "192.0.2.53", "-D", "2001:db8::53", "-S", "example.test",
		"-H", "guest", "--fqdn", "guest.example.test",
		"--dns-forward", "192.0.2.54", "-i", "lo",
		"-t", "9000", "-u", "9000", "-T", "none", "-U", "none",
		"--no-splice", NULL
	};
	struct ctx *c = &fuzz_ctx;
	int nl;

	fuzz_netns();
	if (conf_parse(&conf, (int)(sizeof(argv) / sizeof(argv[0])) - 1,
		       argv))
		abort();
	nl = nl_sock();
	if (nl < 0 || conf_host(&conf, nl))
		abort();
	close(nl);
	/* FUZZ_TRACE=1: see what the daemon does with an input */
	if (getenv("FUZZ_TRACE")) {
		log_level = LOG_LVL_TRACE;
	} else {
		log_level = LOG_LVL_ERR;
		log_set_stderr(false);
	}

	c->net = &conf.net;
	c->q = &queue;
	c->flows = &flows;
	c->ns_sockets = NULL;		/* no target namespace: no splicing */
	c->epollfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epollfd < 0 ||
	    frame_queue_init(&queue, 16 << 20, 8192) ||
	    flow_table_init(&flows, conf.flows) || icmp_init(conf.flows) ||
	    tcp_init(c, conf.flows) || udp_init(c, conf.flows))
		abort();
	memcpy(queue.our_mac, conf.net.our_mac, MAC_LEN);
	if (listen_init(c, (const struct fwd_ports *const[4]){
				&conf.tcp_in, &conf.tcp_out, &conf.udp_in,
				&conf.udp_out }, (const int[4]){ -1, -1, -1, -1 }))
		abort();
	queue.flush = fuzz_flush;
	queue.csum_skip = true;		/* as with a tap */
	net_saved = conf.net;
	peers_open();
	fuzz_reset();
	socks_start = socks_open();
}

/* Dispatch the daemon's pending socket events, as the loop does */
static void daemon_events(void)
{
	struct epoll_event ev[64];
	struct ctx *c = &fuzz_ctx;
	int n, i;

	n = epoll_wait(c->epollfd, ev, 64, 0);
	for (i = 0; i < n; i++)
		dispatch_event(c, (union epoll_ref){ .u64 = ev[i].data.u64 },
			       ev[i].events);
	flow_reap(c->flows);	/* the batch is done, as in the loop */
	c->q->flush(c->q);
}

/* Play the peers: accept, echo what TCP and UDP peers received */
static void peers_serve(void)
{
	static uint8_t buf[65536];
	struct sockaddr_storage sa;
	unsigned int i, k;
	socklen_t sl;
	ssize_t n;
	int fd;

	while (peers_n < FUZZ_PEERS &&
	       (fd = accept4(tcp_listener, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		peers[peers_n++] = fd;
		/* something to send toward the guest at once */
		if (send(fd, "220 fuzz\r\n", 10, MSG_NOSIGNAL) < 0)
			continue;
	}
	for (i = 0; i < peers_n; i++) {
		n = recv(peers[i], buf, sizeof(buf), 0);
		if (n > 0 && send(peers[i], buf, (size_t)n,
				  MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			continue;
	}
	for (k = 0; k < 64; k++) {
		sl = sizeof(sa);
		n = recvfrom(udp_peer, buf, sizeof(buf), 0,
			     (struct sockaddr *)&sa, &sl);
		if (n < 0)
			break;
		if (sendto(udp_peer, buf, (size_t)n, MSG_DONTWAIT,
			   (struct sockaddr *)&sa, sl) < 0)
			continue;
	}
}

/**
 * fuzz_pump() - Let the peers answer and the daemon handle its sockets
 */
void fuzz_pump(void)
{
	unsigned int i;

	fuzz_ctx.q->flush(fuzz_ctx.q);
	for (i = 0; i < FUZZ_ROUNDS; i++) {
		peers_serve();
		daemon_events();
	}
}

/* A peer socket from 127.0.0.1 @sport to the forwarded port, or -1 */
static int peer_connect(int type, uint16_t sport)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(FUZZ_FWD_PORT),
				  .sin_addr = { htonl(INADDR_LOOPBACK) } };
	struct sockaddr_in from = to;
	int one = 1, s;

	from.sin_port = htons(sport);
	s = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&from, sizeof(from)) ||
	    (connect(s, (struct sockaddr *)&to, sizeof(to)) &&
	     errno != EINPROGRESS)) {
		close(s);
		return -1;
	}
	return s;
}

/**
 * fuzz_peer_inbound() - A peer connects to the forwarded TCP port, and
 *			 one sends a datagram to the forwarded UDP port
 *
 * From 127.0.0.1, source port FUZZ_IN_SPORT (TCP) and FUZZ_IN_SPORT + 1
 * (UDP), so that the guest's replies can name the flow. Both are peers
 * like the accepted ones: they echo what comes back.
 */
void fuzz_peer_inbound(void)
{
	int i, s;

	for (i = 0; i < 2 && peers_n < FUZZ_PEERS; i++) {
		s = peer_connect(i ? SOCK_DGRAM : SOCK_STREAM,
				 (uint16_t)(FUZZ_IN_SPORT + i));
		if (s < 0)
			continue;
		peers[peers_n++] = s;
		/* TCP: before the connection is up, this fails; no matter */
		if (send(s, "inbound\n", 8, MSG_NOSIGNAL) < 0)
			continue;
	}
}

/**
 * fuzz_peer_close() - The far side of every accepted connection ends it
 * @rst:	Abort with a reset (SO_LINGER 0) instead of a FIN
 */
void fuzz_peer_close(int rst)
{
	struct linger l = { 1, 0 };
	unsigned int i;

	for (i = 0; i < peers_n; i++) {
		if (!rst) {
			shutdown(peers[i], SHUT_WR);
			continue;
		}
		setsockopt(peers[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(peers[i]);
	}
	if (rst)
		peers_n = 0;
}

/**
 * fuzz_tick() - Advance the clock and run the loop's timers
 * @ms:		Milliseconds
 */
void fuzz_tick(unsigned int ms)
{
	struct ctx *c = &fuzz_ctx;

	c->now_ms += ms;
	dispatch_timers(c);
	tcp_splice_timer(c);
	icmp_timer(c);
	udp_timer(c);
	ndp_timer(c);
	flow_reap(c->flows);
	c->q->flush(c->q);
}

/**
 * fuzz_reset() - Forget everything an input left: flows, peers, state
 */
void fuzz_reset(void)
{
	struct ctx *c = &fuzz_ctx;
	unsigned int i;

	tcp_close_all(c);
	udp_close_all(c);
	icmp_close_all(c);
	flow_reap(c->flows);
	for (i = 0; i < peers_n; i++)
		close(peers[i]);
	peers_n = 0;
	peers_serve();		/* accept and drop what connected last */
	for (i = 0; i < peers_n; i++)
		close(peers[i]);
	peers_n = 0;
	ndp_reset();
	conf.net = net_saved;
	memcpy(queue.guest_mac, MAC_BROADCAST, MAC_LEN);
	frame_queue_reset(&queue);
	memset(&fuzz_tcp_seen, 0, sizeof(fuzz_tcp_seen));
	c->now_ms = FUZZ_NOW_MS;
	/* every flow is closed now: so must every socket it opened be */
	if (socks_start >= 0 && socks_open() > socks_start) {
		fprintf(stderr, "fuzz: socket leak: %d open, %d at start\n",
			socks_open(), socks_start);
		abort();
	}
}

/**
 * fuzz_dests() - Destination addresses a harness may pick for a frame
 * @v6:		IPv6 instead of IPv4
 * @i:		Which one (taken modulo the number there are)
 * @dst:	Address, filled
 */
void fuzz_dests(int v6, unsigned int i, union inany_addr *dst)
{
	static const uint32_t d4[] = {
		0xc0000202,	/* gateway: mapped to the host's loopback */
		0xc0000201,	/* the guest's (and the host's) address */
		0xc6336401,	/* a remote host, 198.51.100.1 */
		0xc0000235,	/* announced resolver */
		0xc0000236,	/* --dns-forward */
		0xffffffff, 0xc00002ff, 0xe0000001,
	};
	static const uint8_t d6[][16] = {
		{ 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
		{ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1 },
		{ 0x20, 0x01, 0x0d, 0xb8, [14] = 0, [15] = 0x53 },
		{ 0xff, 0x02, [15] = 1 },
		{ 0xff, 0x02, [15] = 2 },
		{ 0xff, 0x02, [11] = 1, 0xff, 0, 0, 2 },	/* solicited */
		{ 0xfe, 0x80, [15] = 1 },
	};

	if (v6) {
		struct in6_addr a;

		memcpy(&a, d6[i % 8], 16);
		if (i % 8 == 7)
			a = fuzz_ctx.net->v6.our_ll;
		inany_from_v6(dst, &a);
	} else {
		inany_from_v4(dst, (struct in_addr){ htonl(d4[i % 8]) });
	}
}
