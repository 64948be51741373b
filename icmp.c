/* icmp.c - ICMP and ICMPv6 echo through unprivileged ping sockets
 *
 * Theory of operation
 * Each echo identifier the guest uses toward one destination is a flow:
 * the tap side is keyed (guest address, destination, id) and owns one ping
 * socket (SOCK_DGRAM, IPPROTO_ICMP or IPPROTO_ICMPV6). The kernel gives
 * the socket an identifier of its own and rewrites the one we send, so
 * replies read from the socket get the guest's identifier back before they
 * are queued toward the guest, with the destination the guest addressed
 * as their source (the address map may have sent the echo elsewhere, e.g.
 * the gateway to the host's loopback).
 *
 * Ping sockets are allowed by net.ipv4.ping_group_range (for both
 * families); when it excludes us, socket() fails with EACCES and the echo
 * is dropped with one warning.
 *
 * Errors: the sockets ask for IP_RECVERR (IPV6_RECVERR), so an ICMP error
 * about one of the guest's echo requests (destination or host
 * unreachable, time exceeded, packet too big, parameter problem) is kept
 * on the socket's error queue instead of being dropped. It is read with
 * MSG_ERRQUEUE after the replies on every wake-up (a queued error makes
 * the socket report EPOLLERR, whatever it was asked for) and relayed to
 * the guest as the same ICMP error, from the router that sent it (from
 * the address the guest pinged when that was the sender, or the host's
 * loopback stood for it), around the echo request as the guest sent it:
 * its own addresses and identifier, so its stack finds the socket.
 *
 * Sockets idle for ICMP_IDLE_MS are closed by icmp_timer().
 * System calls: socket, setsockopt, bind, sendto, recvfrom, recvmsg,
 * close, epoll_ctl.
 */
#include <errno.h>
#include <time.h>		/* linux/errqueue.h needs timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "fwdsock.h"
#include "icmp.h"
#include "log.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET6, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_IP);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_IPV6);
SYSCALL_ALLOW(SYS_NS | SYS_VM, sendto);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvfrom);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, close);
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_ctl);

#define ICMP_ECHO_REQUEST	8
#define ICMP_ECHO_REPLY		0
#define ICMP6_ECHO_REQUEST	128
#define ICMP6_ECHO_REPLY	129
#define ICMP_ECHO_HDR		8
#define ICMP_READ_BATCH		64	/* replies read per wake-up */
#define ICMP_MAX_MSG		(65535 - IP4_HDR_LEN)
#define ICMP_ERR_HDR		8	/* type, code, checksum, 4 more */
/* Bytes of the original echo relayed in an error: all fits in 1280 */
#define ICMP_ERR_DATA		(1280 - 2 * IP6_HDR_LEN - ICMP_ERR_HDR)

/**
 * struct icmp_flow - Per-flow state, indexed by flow index
 * @sock:	Ping socket, -1 if none (set when the flow is made: free
 *		slots are not marked, see icmp_init())
 */
struct icmp_flow {
	int sock;
};

static struct icmp_flow *icmp_flows;
static unsigned int icmp_flow_max;
static bool icmp_warned_perm;

/**
 * icmp_init() - Allocate per-flow state (once, at start)
 * @flow_max:	Size of the flow table
 *
 * The array is left as calloc() gives it, so pages no flow uses take no
 * memory: icmp_flow_get() sets a new flow's state, nothing else reads a
 * slot whose flow is not FLOW_PING.
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int icmp_init(unsigned int flow_max)
{
	icmp_flows = calloc(flow_max, sizeof(*icmp_flows));
	if (!icmp_flows)
		return -ENOMEM;
	icmp_flow_max = flow_max;
	return 0;
}

static void icmp_flow_close(struct ctx *c, int idx)
{
	struct icmp_flow *ifl = &icmp_flows[idx];

	if (ifl->sock >= 0) {
		epoll_ctl(c->epollfd, EPOLL_CTL_DEL, ifl->sock, NULL);
		close(ifl->sock);
		ifl->sock = -1;
	}
	flow_free(c->flows, idx);
}

/* Open the ping socket of a new flow, keeping the guest's id if free */
static int icmp_sock_open(struct ctx *c, int idx, int af, uint16_t id)
{
	int proto = af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	union epoll_ref ref = { .type = EPOLL_TYPE_PING, .flow = (uint32_t)idx };
	struct epoll_event ev = { .events = EPOLLIN };
	const union inany_addr *dst;
	int s, one = 1;

	s = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (s < 0)
		return -errno;
	if (s >= EPOLL_REF_FD_MAX) {
		close(s);
		return -EMFILE;
	}
	if (setsockopt(s, af == AF_INET ? SOL_IP : SOL_IPV6,
		       af == AF_INET ? IP_RECVERR : IPV6_RECVERR, &one,
		       sizeof(one)))
		log_debug("icmp: no IP_RECVERR: %s", strerror(errno));
	dst = &flow_at(c->flows, idx)->side[SOCKSIDE].dst;
	if (fwdsock_bind_out(c->net, s, dst, id)) {
		log_trace("icmp: echo id %u taken on host, kernel picks", id);
		if (fwdsock_bind_out(c->net, s, dst, 0)) {
			int rc = -errno;

			close(s);
			return rc;
		}
	}
	ref.fd = s;
	ev.data.u64 = ref.u64;
	if (epoll_ctl(c->epollfd, EPOLL_CTL_ADD, s, &ev)) {
		int rc = -errno;

		close(s);
		return rc;
	}
	icmp_flows[idx].sock = s;
	return 0;
}

/* Find or create the flow of an echo request from the guest */
static int icmp_flow_get(struct ctx *c, const struct frame_in *f, uint16_t id)
{
	struct flowside key = { .src = f->src, .dst = f->dst,
				.sport = id, .dport = id };
	enum flow_sidx side;
	struct flow *fl;
	int idx, rc;

	idx = flow_lookup(c->flows, IPPROTO_ICMP, &key, &side);
	if (idx != FLOW_NONE)
		return idx;

	idx = flow_alloc(c->flows, FLOW_PING, IPPROTO_ICMP, FLOW_SHARE_PING);
	if (idx == FLOW_NONE) {
		drop(DROP_FLOW_FULL);
		return FLOW_NONE;
	}
	fl = flow_at(c->flows, idx);
	fl->side[TAPSIDE] = key;
	fwd_guest_to_host(c->net, &f->dst, &fl->side[SOCKSIDE].dst);
	icmp_flows[idx].sock = -1;
	rc = icmp_sock_open(c, idx, f->af, id);
	if (rc) {
		if (rc == -EACCES || rc == -EPERM) {
			if (!icmp_warned_perm)
				log_warn("icmp: ping sockets not allowed, see "
					 "net.ipv4.ping_group_range");
			icmp_warned_perm = true;
		} else {
			log_debug("icmp: socket: %s", strerror(-rc));
		}
		drop(DROP_SOCK_ERR);
		flow_free(c->flows, idx);
		return FLOW_NONE;
	}
	if (flow_hash_insert(c->flows, idx, TAPSIDE)) {
		icmp_flow_close(c, idx);
		drop(DROP_FLOW_FULL);
		return FLOW_NONE;
	}
	return idx;
}

/**
 * icmp_tap_input() - Send an echo request from the guest to its target
 * @c:		Execution context
 * @f:		Parsed frame, ICMP or ICMPv6 (not NDP)
 *
 * Return: 0 if sent or ignored, -1 if dropped
 */
int icmp_tap_input(struct ctx *c, const struct frame_in *f)
{
	uint8_t req = f->af == AF_INET ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
	const union inany_addr *dst;
	struct sockaddr_storage sa;
	struct flow *fl;
	socklen_t sl;
	int idx;

	if (c->net->no_icmp || f->l4[0] != req || f->l4[1] != 0 ||
	    f->l4_len < ICMP_ECHO_HDR || inany_is_multicast(&f->dst)) {
		drop(DROP_ICMP_BAD);
		return -1;
	}
	idx = icmp_flow_get(c, f, rd16(f->l4 + 4));
	if (idx == FLOW_NONE)
		return -1;
	fl = flow_at(c->flows, idx);
	flow_touch(c->flows, idx, c->now_ms);
	dst = &fl->side[SOCKSIDE].dst;
	sl = inany_to_sockaddr(dst, 0, fwd_scope(c->net, dst), &sa);
	if (sendto(icmp_flows[idx].sock, f->l4, f->l4_len, MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, sl) < 0) {
		log_trace("icmp: sendto: %s", strerror(errno));
		drop(DROP_SOCK_ERR);
		return -1;
	}
	return 0;
}

/* Read one reply from @s straight into a frame toward the guest */
static int icmp_reply_one(struct ctx *c, int s, const struct flow *fl)
{
	const struct flowside *ts = &fl->side[TAPSIDE];
	struct frame_ip_hdr h = {
		.src = ts->dst, .dst = ts->src,
		.proto = inany_is_v4(&ts->src) ? IPPROTO_ICMP : IPPROTO_ICMPV6,
	};
	uint8_t *l4;
	ssize_t n;

	l4 = frame_ip_begin(c->q, &h, ICMP_MAX_MSG);
	if (!l4)
		return -1;
	n = recv(s, l4, ICMP_MAX_MSG, MSG_DONTWAIT);
	if (n < ICMP_ECHO_HDR) {
		frame_abort(c->q);
		return n < 0 ? -1 : 0;
	}
	if (l4[0] != (h.proto == IPPROTO_ICMP ? ICMP_ECHO_REPLY :
						 ICMP6_ECHO_REPLY)) {
		frame_abort(c->q);
		drop(DROP_ICMP_BAD);
		return 0;
	}
	wr16(l4 + 4, ts->sport);
	return frame_ip_end(c->q, (size_t)n);
}

/* ICMP error types we relay; the 4 bytes after the checksum from @info */
static bool icmp_err_hdr(uint8_t *l4, bool v4,
			 const struct sock_extended_err *ee)
{
	memset(l4, 0, ICMP_ERR_HDR);
	l4[0] = ee->ee_type;
	l4[1] = ee->ee_code;
	if (v4) {
		if (ee->ee_type == 3 && ee->ee_code == 4)   /* frag. needed */
			wr16(l4 + 6, (uint16_t)ee->ee_info);
		else if (ee->ee_type == 12)	/* parameter problem */
			l4[4] = (uint8_t)ee->ee_info;
		return ee->ee_origin == SO_EE_ORIGIN_ICMP &&
		       (ee->ee_type == 3 || ee->ee_type == 11 ||
			ee->ee_type == 12);
	}
	if (ee->ee_type == 2 || ee->ee_type == 4)  /* MTU, pointer */
		wr32(l4 + 4, ee->ee_info);
	return ee->ee_origin == SO_EE_ORIGIN_ICMP6 &&
	       ee->ee_type >= 1 && ee->ee_type <= 4;
}

/*
 * The guest's echo request, as it sent it, behind the error header: its
 * addresses, our copy of the ICMP message with its identifier back (the
 * kernel had put the socket's); the IPv4 ICMP checksum is adjusted for
 * it (the ICMPv6 one also covers addresses the guest never used)
 * Return: L4 length of the error message
 */
static size_t icmp_err_inner(uint8_t *l4, const struct flowside *ts,
			     const uint8_t *orig, size_t n)
{
	bool v4 = inany_is_v4(&ts->src);
	uint8_t *ip = l4 + ICMP_ERR_HDR, *in;

	if (v4) {
		memset(ip, 0, IP4_HDR_LEN);
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(IP4_HDR_LEN + n));
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, &ts->src.v4mapped.a4, 4);
		memcpy(ip + 16, &ts->dst.v4mapped.a4, 4);
		wr16(ip + 10, csum(ip, IP4_HDR_LEN, 0));
		in = ip + IP4_HDR_LEN;
	} else {
		memset(ip, 0, IP6_HDR_LEN);
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)n);
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = 64;
		memcpy(ip + 8, &ts->src.a6, 16);
		memcpy(ip + 24, &ts->dst.a6, 16);
		in = ip + IP6_HDR_LEN;
	}
	memcpy(in, orig, n);
	if (n >= ICMP_ECHO_HDR) {
		uint32_t sum = (uint16_t)~rd16(in + 2) +
			       (uint16_t)~rd16(in + 4) + ts->sport;

		wr16(in + 4, ts->sport);
		if (v4)
			wr16(in + 2, (uint16_t)~csum_fold(sum));
	}
	return (size_t)(in - l4) + n;
}

/*
 * Read one error from the queue of @s (IP_RECVERR) and relay it
 * Return: 0 if one was read (relayed or dropped), -1 if the queue is empty
 */
static int icmp_err_one(struct ctx *c, int s, const struct flow *fl)
{
	static uint8_t orig[ICMP_ERR_DATA];
	const struct flowside *ts = &fl->side[TAPSIDE];
	bool v4 = inany_is_v4(&ts->src);
	union {
		char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
				    sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { orig, sizeof(orig) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = &ctl,
			     .msg_controllen = sizeof(ctl) };
	struct frame_ip_hdr h = { .dst = ts->src, .src = ts->dst,
				  .proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6 };
	const struct sock_extended_err *ee = NULL;
	struct sockaddr_storage off = { 0 };
	struct cmsghdr *cm;
	union inany_addr from;
	uint8_t *l4;
	ssize_t n;

	n = recvmsg(s, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if ((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
		    (cm->cmsg_level == SOL_IPV6 &&
		     cm->cmsg_type == IPV6_RECVERR))
			ee = (const void *)CMSG_DATA(cm);
	if (!ee) {
		drop(DROP_ICMP_BAD);
		return 0;
	}
	/* From the router that sent it, unless that is who the guest pinged */
	memcpy(&off, SO_EE_OFFENDER(ee), v4 ? sizeof(struct sockaddr_in) :
						sizeof(struct sockaddr_in6));
	inany_from_sockaddr(&from, NULL, &off);
	if (off.ss_family == (v4 ? AF_INET : AF_INET6) &&
	    !inany_is_loopback(&from) &&
	    !inany_equal(&from, &fl->side[SOCKSIDE].dst))
		h.src = from;
	l4 = frame_ip_begin(c->q, &h, ICMP_ERR_HDR + IP6_HDR_LEN + (size_t)n);
	if (!l4) {
		drop(DROP_QUEUE_FULL);
		return 0;
	}
	if (!icmp_err_hdr(l4, v4, ee)) {
		frame_abort(c->q);
		drop(DROP_ICMP_BAD);
		return 0;
	}
	if (frame_ip_end(c->q, icmp_err_inner(l4, ts, orig, (size_t)n)))
		drop(DROP_QUEUE_FULL);
	return 0;
}

/**
 * icmp_sock_input() - Relay echo replies and errors from a ping socket to
 *		       the guest
 * @c:		Execution context
 * @ref:	Epoll reference of the socket
 */
void icmp_sock_input(struct ctx *c, union epoll_ref ref)
{
	struct flow *fl = flow_at(c->flows, (int)ref.flow);
	int i;

	/* An earlier event of the same batch may have closed this flow */
	if (fl->type != FLOW_PING || icmp_flows[ref.flow].sock != ref.fd)
		return;
	flow_touch(c->flows, (int)ref.flow, c->now_ms);
	for (i = 0; i < ICMP_READ_BATCH; i++) {
		if (icmp_reply_one(c, ref.fd, fl))
			break;
	}
	for (i = 0; i < ICMP_READ_BATCH; i++) {
		if (icmp_err_one(c, ref.fd, fl))
			break;
	}
}

/**
 * icmp_timer() - Close ping sockets idle for ICMP_IDLE_MS
 * @c:		Execution context
 */
void icmp_timer(struct ctx *c)
{
	int idx, next;

	/* Least recently active first (flow.c): stop at one still in use */
	for (idx = flow_oldest(c->flows, FLOW_SHARE_PING); idx != FLOW_NONE;
	     idx = next) {
		next = flow_newer(c->flows, idx);
		if (c->now_ms - flow_at(c->flows, idx)->last_ms <= ICMP_IDLE_MS)
			return;
		icmp_flow_close(c, idx);
	}
}

/**
 * icmp_next_ms() - When icmp_timer() has a flow to close next
 * @c:		Execution context
 *
 * Return: time in ms, UINT64_MAX if there is no flow
 */
uint64_t icmp_next_ms(const struct ctx *c)
{
	int idx = flow_oldest(c->flows, FLOW_SHARE_PING);

	if (idx == FLOW_NONE)
		return UINT64_MAX;
	return flow_at(c->flows, idx)->last_ms + ICMP_IDLE_MS + 1;
}

/**
 * icmp_close_all() - Close every echo flow (guest went away)
 * @c:		Execution context
 */
void icmp_close_all(struct ctx *c)
{
	int idx;

	while ((idx = flow_oldest(c->flows, FLOW_SHARE_PING)) != FLOW_NONE)
		icmp_flow_close(c, idx);
}
