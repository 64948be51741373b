/* udp.c - UDP translation: flows, batched socket I/O
 *
 * Theory of operation
 * A flow is created by the first datagram in either direction and lives
 * until it has been idle for --udp-timeout seconds.
 * - Outbound (the guest sends first): the flow owns a socket connected to
 *   the destination (after fwd_guest_dst(): the address maps, and DNS
 *   to --dns-forward goes to the host's resolver), so replies come back
 *   to it and to no one else. Its tap side is hashed for the guest's
 *   datagrams.
 * - Inbound (-u): a forwarding socket bound to the host port receives from
 *   any peer; the first datagram of a peer makes a flow hashed on both
 *   sides, and the guest's replies leave through the same forwarding
 *   socket with sendto(), so the peer sees them come from the port it
 *   used. These flows have a share of the table of their own (flow.c): a
 *   remote peer can make them at will, from as many source ports as it
 *   likes, so when the share is full the least recently active one is
 *   evicted for the new one, and the guest's own flows keep their slots.
 * - Namespace loopback to host loopback (-U): a socket inside the
 *   namespace bound to its loopback; each peer gets a host socket connected
 *   to the host's loopback; nothing crosses the tap.
 *
 * Forwarding sockets live in slots (struct udp_fwdsock), and a flow that
 * sends through one (inbound, -U) refers to it by slot and generation,
 * never by descriptor number: when an "auto" socket is closed, its
 * generation changes and every flow that referred to it is closed with
 * it, so a reply can never go out through a descriptor number the kernel
 * has handed to an unrelated socket since. Expiry walks each share's
 * flows from the least recently active (flow.c) and stops at the first
 * one still in use.
 *
 * Guest to socket: all datagrams of a flow in one tap batch leave with one
 * sendmmsg(), each run of equal sizes in it (the last may be shorter) as
 * one message with UDP_SEGMENT: the kernel builds, routes and queues one
 * buffer for the run, and cuts it into datagrams as late as it can (at
 * the device, or at a local receiver). Off with --no-gso. These sends
 * copy, never MSG_ZEROCOPY: measured in the guest (doc/performance.md,
 * "UDP and MSG_ZEROCOPY"), lending costs more than the copy for every
 * shape we have, and a run of datagrams lent from the tap buffer, one
 * iovec each, is refused beyond about 13 (an skb takes 17 fragments).
 *
 * Socket to guest: recvmmsg() fills up to --udp-batch frame slots
 * reserved in the output queue, each iovec pointing right after the
 * Ethernet, IP and UDP headers, which are written once the datagram is in.
 * --no-mmsg uses one recvmsg()/sendmsg() per datagram, for comparison.
 *
 * Registered arrays: a kernel with SO_RECVMMSG_REG (contrib/kernel/, not
 * mainline) keeps a copy of a socket's recvmmsg() headers and iovecs, and
 * a call with MSG_RECVMMSG_REG receives into them without reading and
 * checking them again. Ours need a fixed address: the start of the output
 * arena (frame_reserve_first(), which flushes what is queued first), one
 * array of headers per family (the slots differ) and per kind of socket
 * (forwarding sockets want source addresses). A socket is registered when
 * a recvmmsg() returned UDP_REG_BUSY datagrams, or a whole smaller batch
 * (busy sockets only: each registration takes some of the kernel's
 * memory, charged to the socket), and never again if that failed.
 * Probed at start; off with --no-mmsg-register; counted at exit
 * (--debug).
 *
 * Yielding: datagrams written to the tap are delivered to the guest's
 * socket within our write(), and wake its reader; sent to a local socket
 * (another namespace on this machine, the host's loopback) they are
 * delivered within our send. That reader often waits for our CPU.
 * Nothing tells us how fast it reads, and its buffer is small
 * (rmem_max). If we go on while it waits, its socket overflows, and what
 * we did for those datagrams is lost with them. So after every
 * --udp-yield datagrams handed on, either way, we flush the frames queued
 * for the guest and call sched_yield(): a waiting reader runs, and if
 * none waits we go on at once. An unpaced sender then loses its excess
 * before we work on it (at our socket, or at the tap), not after.
 * That holds on a machine whose other CPU-bound tasks are the sender
 * alone, on another CPU. Where one shares our CPU (a busy loop, any
 * container host), the scheduler hands it the CPU for a whole slice at
 * each yield (EEVDF moves the yielding task's deadline a slice ahead),
 * and our share of the CPU, not the reader's, is what we give away:
 * measured with one busy loop, yielding lost a third of the datagrams
 * that not yielding delivers. So each yield is timed: a reader draining
 * a batch gives the CPU back within tens of microseconds; if the yield
 * took longer than UDP_YIELD_LONG_NS, the CPU went to a task with work
 * of its own, and yielding pauses for UDP_YIELD_PAUSE_NS, then is tried
 * again (one lost slice per pause, while the load lasts).
 *
 * ICMP errors for a flow's datagrams arrive on its socket's error queue
 * (IP_RECVERR, IPV6_RECVERR) and go to the guest as ICMP or ICMPv6 errors
 * quoting the datagram's headers as the guest sent them.
 *
 * System calls: socket, bind, connect, setsockopt, sendmmsg, recvmmsg,
 * sendmsg, recvmsg, close, epoll_ctl, sched_yield (and clock_gettime,
 * through util.c's now_ns()); getsockopt only at start (the probe).
 */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "fwdsock.h"
#include "log.h"
#include "udp.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET6, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW(SYS_NS | SYS_VM, bind);
SYSCALL_ALLOW(SYS_NS | SYS_VM, connect);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_IP);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_IPV6);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_UDP);
SYSCALL_ALLOW(SYS_NS | SYS_VM, sendmmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvmmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, sendmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, sendto);
SYSCALL_ALLOW(SYS_NS | SYS_VM, close);
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_ctl);
SYSCALL_ALLOW(SYS_NS | SYS_VM, sched_yield);

#define UDP_HDR_LEN	8
#define UDP_OWN		(1 << 0)	/* @sock is the flow's own socket */
#define UDP_INBOUND	(1 << 1)	/* created by a -u forwarding socket */
#define UDP_NS		(1 << 2)	/* -U: namespace loopback to host */
/* Registration state of a socket (flow flags, udp_fwdsock.reg) */
#define UDP_REG		(1 << 3)	/* SO_RECVMMSG_REG array registered */
#define UDP_REG_NO	(1 << 4)	/* registration failed: plain calls */

/* The registered recvmmsg() array of the patched kernel (contrib/kernel/
 * patches/6.12/0001-net-*.patch), in no libc: values of its
 * include/uapi/asm-generic/socket.h, include/linux/socket.h and
 * include/uapi/linux/socket.h. 85 follows mainline's numbers (SO_INQ is
 * 84); whatever a kernel means by it, the probe reads the registration
 * back before anything relies on it */
#ifndef SO_RECVMMSG_REG
#define SO_RECVMMSG_REG		85
#endif
#ifndef MSG_RECVMMSG_REG
#define MSG_RECVMMSG_REG	0x200000
#endif
struct udp_recvmmsg_reg {
	uint64_t vec;
	uint32_t vlen;
	uint32_t flags;
};
/* Datagrams in one train toward the guest: the kernel cuts up to 128 */
#define UDP_TRAIN_MAX	64
/* One UDP_SEGMENT send: at most 64 datagrams (the kernel's limit,
 * UDP_MAX_SEGMENTS, until it became 128), and what one IPv4 datagram
 * can carry */
#define UDP_SEG_MAX	64
#define UDP_SEG_BYTES	(65535 - 20 - UDP_HDR_LEN)

/* Forwarding sockets: host and namespace, both families, every port */
#define UDP_FWD_MAX	(4 * 65536)

/**
 * struct udp_flow - Per-flow state, indexed by flow index
 * @sock:	The flow's own socket, -1 if none (set when the flow is made:
 *		free slots are not marked, see udp_init())
 * @fwd_slot:	Forwarding socket replies leave through (inbound, -U)...
 * @fwd_gen:	...and its generation then (see udp_fwd_fd())
 * @flags:	UDP_* flags
 * @seg_refused: smallest datagram size whose UDP_SEGMENT send failed,
 *		0 if none did: only smaller ones are sent so since
 */
struct udp_flow {
	int sock;
	uint32_t fwd_slot;
	uint32_t fwd_gen;
	uint8_t flags;
	uint16_t seg_refused;
};

/**
 * struct udp_fwdsock - A forwarding socket (-u, -U), by slot
 * @fd:		Descriptor, -1 if the slot is free (slots at or above
 *		udp_fwd_hi were never used and are not marked)
 * @gen:	Generation, bumped when the socket is closed
 * @port:	Port it is bound to
 * @dport:	Port its datagrams go to on the other side
 * @ns:		Bound inside the namespace (-U)
 * @v6:		IPv6 socket
 * @reg:	UDP_REG, UDP_REG_NO or 0 (not yet)
 */
struct udp_fwdsock {
	int fd;
	uint32_t gen;
	uint16_t port;
	uint16_t dport;
	bool ns;
	bool v6;
	uint8_t reg;
};

static struct udp_flow *udp_flows;
static unsigned int udp_flow_max;
static struct udp_fwdsock *udp_fwd;
static unsigned int udp_fwd_hi;		/* no socket ever at or above it */
static unsigned int udp_fwd_lo;		/* every slot below it in use */
static struct mmsghdr udp_mmh[UDP_BATCH_MAX];
/* Registered headers: [IPv4][forwarding socket], kernel copies iovecs */
static struct mmsghdr udp_reg_mmh[2][2][UDP_BATCH_MAX];
static struct iovec udp_reg_iov[UDP_BATCH_MAX];
static struct mmsghdr *udp_mh = udp_mmh;	/* the batch received */
static struct iovec udp_iov[UDP_BATCH_MAX];
static struct sockaddr_storage udp_addr[UDP_BATCH_MAX];
static uint8_t *udp_slot[UDP_BATCH_MAX];
static unsigned int udp_since_yield;	/* datagrams handed on */
/* Control data of each message of a send batch: UDP_SEGMENT's size */
static union {
	uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
} udp_seg_cmsg[UDP_BATCH_MAX];
static bool udp_seg_ok;		/* UDP_SEGMENT: probed, no --no-gso */
static bool udp_reg_ok;		/* SO_RECVMMSG_REG: probed, no option */
/* A call that returns this many datagrams (or a whole smaller batch)
 * marks a busy socket, which gets its array registered */
#define UDP_REG_BUSY	8
/* Registrations made and refused, datagrams received through them */
static unsigned long long udp_reg_socks, udp_reg_refused, udp_reg_dgrams;

/* A yield that kept us off the CPU longer than this gave it to a task
 * with work of its own (a busy loop, an unpaced sender), not to a reader
 * draining the datagrams we handed on: that takes tens of microseconds */
#define UDP_YIELD_LONG_NS	250000ULL
/* ...then yielding stops for this long, and is tried again after it */
#define UDP_YIELD_PAUSE_NS	50000000ULL

static uint64_t udp_yield_off_until;	/* no yielding before, ns */

/*
 * After --udp-yield datagrams handed on: out with those for the guest,
 * and let their reader run (see "Yielding" above), unless the last
 * yield went to a CPU-bound task: then not for UDP_YIELD_PAUSE_NS
 */
static void udp_yield_point(struct ctx *c)
{
	uint64_t t0, took;

	if (!c->net->udp_yield ||
	    udp_since_yield < c->net->udp_yield)
		return;
	c->q->flush(c->q);
	udp_since_yield = 0;
	t0 = now_ns();
	if (t0 < udp_yield_off_until)
		return;
	sched_yield();
	took = now_ns() - t0;
	if (took > UDP_YIELD_LONG_NS) {
		udp_yield_off_until = t0 + took + UDP_YIELD_PAUSE_NS;
		log_trace("udp: a yield took %llu us, none for %llu ms",
			  (unsigned long long)(took / 1000),
			  UDP_YIELD_PAUSE_NS / 1000000);
	}
}

/* Does this kernel take UDP_SEGMENT (Linux 4.18)? */
static bool udp_segment_supported(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	int size = 1400;
	bool ok;

	if (s < 0)
		return false;
	ok = !setsockopt(s, SOL_UDP, UDP_SEGMENT, &size, sizeof(size));
	close(s);
	return ok;
}

/*
 * Does this kernel take SO_RECVMMSG_REG (patched, see contrib/kernel/)?
 * A one-entry array registered and read back on a socket of our own: a
 * kernel without it refuses the option (ENOPROTOOPT)
 */
static bool udp_mmsg_register_supported(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	struct mmsghdr mh = { 0 };
	struct udp_recvmmsg_reg r = { (uintptr_t)&mh, 1, 0 }, back = { 0 };
	socklen_t len = sizeof(back);
	bool ok;

	if (s < 0)
		return false;
	ok = !setsockopt(s, SOL_SOCKET, SO_RECVMMSG_REG, &r, sizeof(r)) &&
	     !getsockopt(s, SOL_SOCKET, SO_RECVMMSG_REG, &back, &len) &&
	     len == sizeof(back) && back.vec == r.vec && back.vlen == 1;
	close(s);
	return ok;
}

/**
 * udp_init() - Allocate per-flow state (once, at start)
 * @c:		Execution context
 * @flow_max:	Size of the flow table
 *
 * Both arrays are left as calloc() gives them: pages never written take
 * no memory, so only what flows and forwarding sockets use is resident.
 * A flow's state is set in full when the flow is made (udp_flow_set());
 * a forwarding slot at or above udp_fwd_hi is free without a marker.
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int udp_init(struct ctx *c, unsigned int flow_max)
{
	udp_flows = calloc(flow_max, sizeof(*udp_flows));
	udp_fwd = calloc(UDP_FWD_MAX, sizeof(*udp_fwd));
	if (!udp_flows || !udp_fwd)
		return -ENOMEM;
	udp_flow_max = flow_max;
	udp_fwd_hi = udp_fwd_lo = 0;
	udp_seg_ok = !c->net->no_gso && !c->net->no_mmsg &&
		     udp_segment_supported();
	udp_reg_ok = !c->net->no_mmsg && c->net->udp_batch > 1 &&
		     !c->net->no_mmsg_register &&
		     udp_mmsg_register_supported();
	log_debug("udp: %s, batches of %u, runs of equal datagrams %s",
		  c->net->no_mmsg ? "one datagram per call (--no-mmsg)" :
		  "recvmmsg/sendmmsg", c->net->udp_batch,
		  udp_seg_ok ? "sent with UDP_SEGMENT" : "sent one by one");
	log_debug("udp: registered recvmmsg() arrays (SO_RECVMMSG_REG): %s",
		  udp_reg_ok ? "used" :
		  c->net->no_mmsg_register ? "off (--no-mmsg-register)" :
		  c->net->no_mmsg || c->net->udp_batch < 2 ? "off (no batches)" :
		  "not supported by the kernel");
	return 0;
}

/**
 * udp_flow_set() - Set the whole state of a new flow: nothing is left
 *		    from the slot's earlier flows, or relied on from start
 * @idx:	Flow index, just allocated
 * @flags:	UDP_INBOUND, UDP_NS or 0 (UDP_OWN comes with the socket)
 */
static void udp_flow_set(int idx, uint8_t flags)
{
	udp_flows[idx] = (struct udp_flow){ .sock = -1, .flags = flags };
}

/**
 * udp_flow_close() - Close a flow's own socket, if any, and free the flow
 * @c:		Execution context
 * @idx:	Flow index
 *
 * A flow that never had a socket of its own registered no descriptor
 * under its index, so its slot may serve again at once (flow.c).
 */
static void udp_flow_close(struct ctx *c, int idx)
{
	struct udp_flow *uf = &udp_flows[idx];
	bool registered = uf->flags & UDP_OWN;

	if (uf->sock >= 0 && (uf->flags & UDP_OWN)) {
		epoll_ctl(c->epollfd, EPOLL_CTL_DEL, uf->sock, NULL);
		close(uf->sock);
	}
	uf->sock = -1;
	uf->fwd_slot = uf->fwd_gen = 0;
	uf->flags = 0;
	uf->seg_refused = 0;
	if (registered)
		flow_free(c->flows, idx);
	else
		flow_free_unregistered(c->flows, idx);
}

/**
 * udp_fwd_fd() - The forwarding socket a flow sends through
 * @uf:		Flow (inbound or -U)
 *
 * Return: its descriptor, or -1 if that socket was closed since the flow
 *	   was made (its slot's generation moved on)
 */
static int udp_fwd_fd(const struct udp_flow *uf)
{
	const struct udp_fwdsock *fs = &udp_fwd[uf->fwd_slot];

	if (!(uf->flags & (UDP_INBOUND | UDP_NS)) || fs->gen != uf->fwd_gen)
		return -1;
	return fs->fd;
}

/* Refer flow @idx to forwarding socket @slot, as it is now */
static void udp_fwd_ref(int idx, unsigned int slot)
{
	udp_flows[idx].fwd_slot = slot;
	udp_flows[idx].fwd_gen = udp_fwd[slot].gen;
}

/*
 * Ask for the largest buffers allowed (net.core.rmem_max, wmem_max cap
 * the request): one 64 KiB datagram fills a default-sized buffer quickly
 */
static void udp_sock_bufs(int s)
{
	int size = 8 << 20;

	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* A socket of our own for a flow: non-blocking, ICMP errors queued */
static int udp_sock_new(struct ctx *c, int idx, int af,
			const union inany_addr *dst, uint16_t dport)
{
	union epoll_ref ref = { .type = EPOLL_TYPE_UDP, .flow = (uint32_t)idx };
	struct epoll_event ev = { .events = EPOLLIN };
	int s, one = 1, rc;
	struct sockaddr_storage sa;
	socklen_t sl;

	s = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (s < 0)
		return -errno;
	if (af == AF_INET)
		setsockopt(s, SOL_IP, IP_RECVERR, &one, sizeof(one));
	else
		setsockopt(s, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
	udp_sock_bufs(s);
	sl = inany_to_sockaddr(dst, dport, fwd_scope(c->net, dst), &sa);
	ref.fd = s;
	ev.data.u64 = ref.u64;
	if (s >= EPOLL_REF_FD_MAX || fwdsock_bind_out(c->net, s, dst, 0) ||
	    connect(s, (struct sockaddr *)&sa, sl) ||
	    epoll_ctl(c->epollfd, EPOLL_CTL_ADD, s, &ev)) {
		rc = s >= EPOLL_REF_FD_MAX ? -EMFILE : -errno;
		close(s);
		return rc;
	}
	udp_flows[idx].sock = s;
	udp_flows[idx].flags |= UDP_OWN;
	return 0;
}

/* New outbound flow for the guest's first datagram */
static int udp_flow_from_tap(struct ctx *c, const struct flowside *key,
			     int af)
{
	struct flow *fl;
	int idx, rc;

	idx = flow_alloc(c->flows, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_OUT);
	if (idx == FLOW_NONE) {
		drop(DROP_FLOW_FULL);
		return FLOW_NONE;
	}
	fl = flow_at(c->flows, idx);
	fl->side[TAPSIDE] = *key;
	fwd_guest_dst(c->net, IPPROTO_UDP, &key->dst, key->dport,
		      &fl->side[SOCKSIDE].dst);
	fl->side[SOCKSIDE].dport = key->dport;
	udp_flow_set(idx, 0);
	rc = udp_sock_new(c, idx, af, &fl->side[SOCKSIDE].dst, key->dport);
	if (rc || flow_hash_insert(c->flows, idx, TAPSIDE)) {
		log_trace("udp: new flow: %s", strerror(rc ? -rc : EEXIST));
		drop(DROP_SOCK_ERR);
		udp_flow_close(c, idx);
		return FLOW_NONE;
	}
	return idx;
}

/*
 * Datagrams from @iov[0] on that can leave as one UDP_SEGMENT send: equal
 * sizes, the last possibly shorter, smaller than @refused unless that is
 * 0. Return: how many (1: send it alone)
 */
static unsigned int udp_seg_run(const struct iovec *iov, unsigned int n,
				uint16_t refused)
{
	size_t size = iov[0].iov_len, total = size;
	unsigned int k = 1;

	if (refused && size >= refused)
		return 1;
	while (size && k < n && k < UDP_SEG_MAX) {
		size_t len = iov[k].iov_len;

		if (!len || len > size || total + len > UDP_SEG_BYTES)
			break;
		total += len;
		k++;
		if (len < size)
			break;		/* a shorter one ends the run */
	}
	return k;
}

/*
 * Make message @m of a send batch out of @k datagrams starting at @iov:
 * several of them carry UDP_SEGMENT, so that the kernel builds and routes
 * one buffer for them all and cuts it up as late as it can
 */
static void udp_msg(struct mmsghdr *m, unsigned int mi, struct iovec *iov,
		    unsigned int k, struct sockaddr_storage *peer,
		    socklen_t pl)
{
	struct cmsghdr *cm = &udp_seg_cmsg[mi].align;
	uint16_t size = (uint16_t)iov[0].iov_len;

	m->msg_hdr = (struct msghdr){
		.msg_name = pl ? peer : NULL, .msg_namelen = pl,
		.msg_iov = iov, .msg_iovlen = k,
	};
	if (k < 2)
		return;
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(size));
	memcpy(CMSG_DATA(cm), &size, sizeof(size));
	m->msg_hdr.msg_control = udp_seg_cmsg[mi].buf;
	m->msg_hdr.msg_controllen = sizeof(udp_seg_cmsg[mi].buf);
}

/* Send the @n datagrams at @iov with one sendmsg() each, to @name if set */
static void udp_send_each(int s, struct iovec *iov, size_t n, void *name,
			  socklen_t namelen)
{
	struct msghdr m = { .msg_name = name, .msg_namelen = namelen,
			    .msg_iovlen = 1 };
	size_t i;

	for (i = 0; i < n; i++) {
		m.msg_iov = &iov[i];
		if (sendmsg(s, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			drop(DROP_SOCK_ERR);
	}
}

/*
 * Send message @m again as one datagram per call, after its UDP_SEGMENT
 * send failed (the size is above the path MTU: the datagrams must be
 * fragmented, which segments cannot be; a device without checksum
 * offload): the flow sends datagrams of this size or larger one by one
 * from now on
 */
static void udp_send_unsegmented(int s, struct udp_flow *uf,
				 const struct msghdr *m)
{
	uint16_t size = (uint16_t)m->msg_iov[0].iov_len;

	if (!uf->seg_refused || size < uf->seg_refused)
		uf->seg_refused = size;
	udp_send_each(s, m->msg_iov, m->msg_iovlen, m->msg_name,
		      m->msg_namelen);
}

/*
 * Send datagrams of one flow: one sendmmsg() whose messages each carry a
 * run of equal datagrams (UDP_SEGMENT) or one datagram, or with
 * --no-mmsg one call per datagram
 */
static void udp_send(struct ctx *c, int idx, const struct frame_in *f,
		     unsigned int n)
{
	struct udp_flow *uf = &udp_flows[idx];
	const struct flow *fl = flow_at(c->flows, idx);
	bool seg = udp_seg_ok;
	struct sockaddr_storage peer;
	unsigned int i, k, m = 0;
	socklen_t pl = 0;
	int s = uf->sock, sent;

	if (!(uf->flags & UDP_OWN)) {	/* inbound: reply via sendto() */
		s = udp_fwd_fd(uf);
		pl = inany_to_sockaddr(&fl->side[SOCKSIDE].src,
				       fl->side[SOCKSIDE].sport, 0, &peer);
	}
	if (s < 0) {		/* never: closing the socket closed us */
		drop(DROP_SOCK_ERR);
		return;
	}
	n = MIN(n, c->net->udp_batch);
	udp_since_yield += n;
	for (i = 0; i < n; i++) {
		udp_iov[i].iov_base = (void *)(f[i].l4 + UDP_HDR_LEN);
		udp_iov[i].iov_len = f[i].l4_len - UDP_HDR_LEN;
	}
	if (c->net->no_mmsg) {
		udp_send_each(s, udp_iov, n, pl ? &peer : NULL, pl);
		return;
	}
	for (i = 0; i < n; i += k, m++) {
		k = seg ? udp_seg_run(&udp_iov[i], n - i, uf->seg_refused) : 1;
		udp_msg(&udp_mmh[m], m, &udp_iov[i], k, &peer, pl);
	}
	for (i = 0; i < m; i += (unsigned int)sent) {
		sent = sendmmsg(s, &udp_mmh[i], m - i,
				MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent > 0)
			continue;
		/* a queued ICMP error is reported once, then retry */
		if (sent < 0 && errno == ECONNREFUSED)
			sent = sendmmsg(s, &udp_mmh[i], m - i,
					MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent > 0)
			continue;
		if (udp_mmh[i].msg_hdr.msg_controllen &&
		    (errno == EMSGSIZE || errno == EINVAL || errno == EIO))
			udp_send_unsegmented(s, uf, &udp_mmh[i].msg_hdr);
		else
			for (k = 0; k < udp_mmh[i].msg_hdr.msg_iovlen; k++)
				drop(DROP_SOCK_ERR);
		sent = 1;	/* skip the one refused */
	}
}

/*
 * A reply to an inbound flow may leave the guest from another of its
 * addresses than the one the datagram went to (an unbound socket, and a
 * SLAAC address next to the configured one): try the addresses we know
 */
static int udp_reply_lookup(struct ctx *c, const struct flowside *key)
{
	const struct net_conf *nc = c->net;
	union inany_addr cand[2];
	struct flowside k = *key;
	enum flow_sidx side;
	int i, idx;

	if (inany_is_v4(&key->src)) {
		inany_from_v4(&cand[0], nc->v4.addr);
		inany_from_v4(&cand[1], nc->v4.addr_seen);
	} else {
		inany_from_v6(&cand[0], &nc->v6.addr);
		inany_from_v6(&cand[1], &nc->v6.addr_seen);
	}
	for (i = 0; i < 2; i++) {
		if (inany_equal(&cand[i], &key->src))
			continue;
		k.src = cand[i];
		idx = flow_lookup(c->flows, IPPROTO_UDP, &k, &side);
		if (idx != FLOW_NONE && (udp_flows[idx].flags & UDP_INBOUND))
			return idx;
	}
	return FLOW_NONE;
}

/**
 * udp_tap_input() - Datagrams of one flow from the guest
 * @c:		Execution context
 * @f:		Parsed frames, all UDP of the same addresses and ports
 * @n:		Number of frames
 */
void udp_tap_input(struct ctx *c, const struct frame_in *f, unsigned int n)
{
	struct flowside key = { .src = f->src, .dst = f->dst,
				.sport = rd16(f->l4), .dport = rd16(f->l4 + 2) };
	enum flow_sidx side;
	int idx;

	if (c->net->no_udp) {
		drop(DROP_L4_PROTO);
		return;
	}
	/* Not to multicast or broadcast, and not from there or from no
	 * address at all: no host sends that (RFC 1122 3.2.1.3) */
	if (!key.dport || fwd_is_broadcast(c->net, &f->dst) ||
	    fwd_is_broadcast(c->net, &f->src) ||
	    inany_is_unspecified(&f->src)) {
		drop(DROP_UDP_MCAST);
		return;
	}
	idx = flow_lookup(c->flows, IPPROTO_UDP, &key, &side);
	if (idx == FLOW_NONE)
		idx = udp_reply_lookup(c, &key);
	if (idx == FLOW_NONE)
		idx = udp_flow_from_tap(c, &key, f->af);
	if (idx == FLOW_NONE)
		return;
	flow_touch(c->flows, idx, c->now_ms);
	while (n) {
		unsigned int k = MIN(n, c->net->udp_batch);

		udp_send(c, idx, f, k);
		udp_yield_point(c);
		f += k;
		n -= k;
	}
}

/* Largest payload that fits one frame toward the guest */
static size_t udp_payload_max(const struct ctx *c, bool v4)
{
	int mtu = net_mtu(c->net);

	return (size_t)mtu - (v4 ? IP4_HDR_LEN : IP6_HDR_LEN) - UDP_HDR_LEN;
}

/*
 * Write headers in front of a received payload and queue the frame;
 * @gso_size: the payload is a train of datagrams of that size (the last
 * may be shorter) for the kernel to cut apart, 0 for one datagram
 */
static void udp_frame(struct ctx *c, int idx, uint8_t *slot, size_t len,
		      size_t gso_size)
{
	const struct flowside *ts = &flow_at(c->flows, idx)->side[TAPSIDE];
	struct frame_ip_hdr h = { .src = ts->dst, .dst = ts->src,
				  .proto = IPPROTO_UDP };
	uint8_t *uh = frame_ip_hdr_write(c->q, slot, &h);
	uint16_t l4_off = (uint16_t)(uh - slot);
	size_t flen;
	int rc;

	wr16(uh, ts->dport);
	wr16(uh + 2, ts->sport);
	flen = frame_ip_hdr_finish(slot, UDP_HDR_LEN + len, !c->q->csum_skip);
	if (gso_size)
		rc = frame_push_gso(c->q, slot, flen, l4_off, FRAME_GSO_UDP,
				    (uint16_t)gso_size);
	else if (c->q->csum_skip)
		rc = frame_push_partial(c->q, slot, flen, l4_off, 6);
	else
		rc = frame_push(c->q, slot, flen);
	if (rc)
		drop(DROP_QUEUE_FULL);
}

/**
 * udp_to_guest() - Queue received datagrams of one flow toward the guest
 * @c:		Execution context
 * @idx:	Flow index
 * @first:	First datagram (index into the receive batch)
 * @n:		Number of datagrams, all of this flow
 *
 * Where the frontend takes trains (gso), a run of datagrams of equal
 * size, the last possibly shorter, becomes one frame: the payloads move
 * up behind the first one's headers (a copy of the payload in user space
 * costs less than a write() and a trip through the namespace's IP layer
 * for each datagram), and the kernel cuts them apart again.
 */
static void udp_to_guest(struct ctx *c, int idx, int first, int n)
{
	int i = first, j, end = first + n;

	udp_since_yield += (unsigned int)n;
	for (; i < end; i = j) {
		size_t size = udp_mh[i].msg_len, total = size;
		uint8_t *train = udp_iov[i].iov_base;

		j = i + 1;
		if (udp_mh[i].msg_hdr.msg_flags & MSG_TRUNC) {
			drop(DROP_UDP_TRUNC);
			continue;
		}
		while (c->q->gso_udp && size && j < end &&
		       j - i < UDP_TRAIN_MAX &&
		       !(udp_mh[j].msg_hdr.msg_flags & MSG_TRUNC) &&
		       udp_mh[j].msg_len && udp_mh[j].msg_len <= size &&
		       total + udp_mh[j].msg_len <= UDP_SEG_BYTES) {
			size_t len = udp_mh[j].msg_len;

			/* Slots follow each other in the region: the train
			 * grows over those already taken, never past the
			 * payload it moves, which may overlap its end */
			memmove(train + total, udp_iov[j++].iov_base, len);
			total += len;
			if (len < size)
				break;		/* a shorter one ends a train */
		}
		udp_frame(c, idx, udp_slot[i], total, j - i > 1 ? size : 0);
	}
}

/*
 * A slot for an inbound flow: when the share of those is full, the least
 * recently active one gives up its slot (it has no socket of its own, so
 * the slot serves again at once). Return: flow index, or FLOW_NONE
 */
static int udp_flow_alloc_in(struct ctx *c)
{
	int idx = flow_alloc(c->flows, FLOW_UDP, IPPROTO_UDP,
			     FLOW_SHARE_UDP_IN), old;

	if (idx != FLOW_NONE)
		return idx;
	old = flow_oldest(c->flows, FLOW_SHARE_UDP_IN);
	if (old == FLOW_NONE)
		return FLOW_NONE;	/* the table is full of other flows */
	log_trace("udp: inbound flows at their share: flow %d evicted", old);
	drop(DROP_UDP_EVICT);
	udp_flow_close(c, old);
	return flow_alloc(c->flows, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_IN);
}

/* Inbound flow for a peer's first datagram on a -u forwarding socket */
static int udp_flow_from_fwd(struct ctx *c, const struct flowside *sk,
			     unsigned int slot, uint16_t dport)
{
	struct flowside *ts;
	struct flow *fl;
	int idx;

	idx = udp_flow_alloc_in(c);
	if (idx == FLOW_NONE) {
		drop(DROP_FLOW_FULL);
		return FLOW_NONE;
	}
	fl = flow_at(c->flows, idx);
	fl->side[SOCKSIDE] = *sk;
	ts = &fl->side[TAPSIDE];
	ts->dport = sk->sport;
	ts->sport = dport;
	fwd_host_to_guest(c->net, &sk->src, &ts->dst, &ts->src);
	udp_flow_set(idx, UDP_INBOUND);
	udp_fwd_ref(idx, slot);
	if (flow_hash_insert(c->flows, idx, SOCKSIDE) ||
	    flow_hash_insert(c->flows, idx, TAPSIDE)) {
		udp_flow_close(c, idx);
		drop(DROP_FLOW_FULL);
		return FLOW_NONE;
	}
	return idx;
}

/* -U: a namespace peer's flow, with a host socket to the host's loopback */
static int udp_flow_ns(struct ctx *c, const struct flowside *sk,
		       unsigned int slot, uint16_t dport)
{
	union inany_addr lo;
	int idx, af = inany_af(&sk->src);

	idx = flow_alloc(c->flows, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_OUT);
	if (idx == FLOW_NONE) {
		drop(DROP_FLOW_FULL);
		return FLOW_NONE;
	}
	flow_at(c->flows, idx)->side[SOCKSIDE] = *sk;
	udp_flow_set(idx, UDP_NS);
	udp_fwd_ref(idx, slot);
	if (af == AF_INET)
		inany_from_v4(&lo, (struct in_addr){ htonl(INADDR_LOOPBACK) });
	else
		inany_from_v6(&lo, &in6addr_loopback);
	if (udp_sock_new(c, idx, af, &lo, dport) ||
	    flow_hash_insert(c->flows, idx, SOCKSIDE)) {
		udp_flow_close(c, idx);
		drop(DROP_SOCK_ERR);
		return FLOW_NONE;
	}
	return idx;
}

/*
 * Lay out @n frame slots of @slot bytes from @region, each payload @hdr
 * bytes in, for up to @max bytes: the iovecs at @iov, and if set, the
 * slots' starts (udp_slot) and headers @mh (@named: source addresses)
 */
static void udp_slots(uint8_t *region, unsigned int n, size_t slot,
		      size_t hdr, size_t max, struct iovec *iov,
		      bool set_slot, struct mmsghdr *mh, bool named)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint8_t *p = region + i * slot;

		if (set_slot)
			udp_slot[i] = p;
		iov[i].iov_base = p + hdr;
		iov[i].iov_len = max;
		if (!mh)
			continue;
		mh[i].msg_hdr = (struct msghdr){
			.msg_name = named ? &udp_addr[i] : NULL,
			.msg_namelen = named ? sizeof(udp_addr[i]) : 0,
			.msg_iov = &iov[i], .msg_iovlen = 1,
		};
	}
}

/* Register with @s the array for its family (@v4) and kind (@named),
 * over --udp-batch slots of @slot bytes at the start of the arena */
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, setsockopt, 1, SOL_SOCKET,
		   2, 0xffffffff, SO_RECVMMSG_REG);
static bool udp_register(struct ctx *c, int s, bool v4, bool named,
			 size_t slot, size_t hdr, size_t max)
{
	struct mmsghdr *mh = udp_reg_mmh[v4][named];
	unsigned int n = c->net->udp_batch;
	struct udp_recvmmsg_reg r = { (uintptr_t)mh, n, 0 };

	if (n * slot > c->q->size)
		return false;
	/* udp_slot and udp_iov still describe the batch just received */
	udp_slots(c->q->arena, n, slot, hdr, max, udp_reg_iov, false, mh,
		  named);
	if (setsockopt(s, SOL_SOCKET, SO_RECVMMSG_REG, &r, sizeof(r))) {
		log_debug("udp: SO_RECVMMSG_REG on socket %d: %s", s,
			  strerror(errno));
		udp_reg_refused++;
		return false;
	}
	log_trace("udp: socket %d: recvmmsg() array registered", s);
	udp_reg_socks++;
	return true;
}

/*
 * Receive up to a batch from registered socket @s into the slots at the
 * start of the arena. Return: datagrams received, -1 if the arena start
 * is not free this time (a flush kept frames), -EINVAL if the kernel
 * refused the registration
 */
static int udp_recv_reg(struct ctx *c, int s, bool v4, bool named,
			size_t slot, size_t hdr, size_t max)
{
	unsigned int batch = MIN(c->net->udp_batch, c->q->max);
	uint8_t *region = frame_reserve_first(c->q, batch * slot);
	struct mmsghdr *mh = udp_reg_mmh[v4][named];
	int n;

	if (region != c->q->arena)
		return -1;
	udp_slots(region, batch, slot, hdr, max, udp_iov, true, NULL, false);
	udp_mh = mh;
	n = recvmmsg(s, mh, batch, MSG_DONTWAIT | MSG_RECVMMSG_REG, NULL);
	if (n < 0 && errno == EINVAL) {
		frame_queue_reset(c->q);	/* it holds our region only */
		udp_reg_refused++;
		return -EINVAL;
	}
	if (n <= 0)
		return 0;
	udp_reg_dgrams += (unsigned int)n;
	return n;
}

/*
 * Receive up to a batch from @s into frame slots; @named: fill the
 * source addresses; @reg: the socket's UDP_REG and UDP_REG_NO bits,
 * updated. Return: datagrams received (0 if none)
 */
static int udp_recv(struct ctx *c, int s, bool v4, bool named,
		    uint8_t *reg)
{
	size_t hdr = frame_ip_hdr_len(v4) + UDP_HDR_LEN;
	size_t max = udp_payload_max(c, v4);
	size_t slot = (hdr + max + 7) & ~(size_t)7;
	unsigned int batch = c->net->no_mmsg ? 1 : c->net->udp_batch;
	uint8_t *region;
	int n;

	if (*reg & UDP_REG) {
		n = udp_recv_reg(c, s, v4, named, slot, hdr, max);
		if (n >= 0)
			return n;
		if (n == -EINVAL)
			*reg = (uint8_t)((*reg & ~UDP_REG) | UDP_REG_NO);
	}
	udp_mh = udp_mmh;
	batch = MIN(batch, frame_room(c->q));
	if (!batch) {
		c->q->flush(c->q);
		batch = 1;
	}
	region = frame_reserve(c->q, batch * slot);
	if (!region)
		return 0;
	udp_slots(region, batch, slot, hdr, max, udp_iov, true, udp_mmh,
		  named);
	if (batch == 1) {
		ssize_t len = recvmsg(s, &udp_mmh[0].msg_hdr, MSG_DONTWAIT);

		udp_mmh[0].msg_len = len < 0 ? 0 : (unsigned int)len;
		return len < 0 ? 0 : 1;
	}
	n = recvmmsg(s, udp_mmh, batch, MSG_DONTWAIT, NULL);
	if (udp_reg_ok && n >= (int)MIN(c->net->udp_batch, UDP_REG_BUSY) &&
	    !(*reg & (UDP_REG | UDP_REG_NO)))
		*reg |= udp_register(c, s, v4, named, slot, hdr, max) ?
			UDP_REG : UDP_REG_NO;
	return n < 0 ? 0 : n;
}

/* Forward datagrams a -U flow's host socket received to the namespace peer */
static void udp_ns_reply(struct ctx *c, int idx, int n)
{
	const struct flow *fl = flow_at(c->flows, idx);
	struct sockaddr_storage sa;
	socklen_t sl = inany_to_sockaddr(&fl->side[SOCKSIDE].src,
					 fl->side[SOCKSIDE].sport, 0, &sa);
	int i, fwd = udp_fwd_fd(&udp_flows[idx]);

	for (i = 0; i < n; i++) {
		struct msghdr mh = { .msg_name = &sa, .msg_namelen = sl,
				     .msg_iov = &udp_iov[i], .msg_iovlen = 1 };

		udp_iov[i].iov_len = udp_mh[i].msg_len;
		if (fwd < 0 ||
		    sendmsg(fwd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			drop(DROP_SOCK_ERR);
	}
}

/* Quote the guest's datagram headers in an ICMP error toward it */
static void udp_icmp_error(struct ctx *c, int idx,
			   const struct sock_extended_err *ee)
{
	const struct flowside *ts = &flow_at(c->flows, idx)->side[TAPSIDE];
	bool v4 = inany_is_v4(&ts->src);
	struct frame_ip_hdr h = { .src = ts->dst, .dst = ts->src,
				  .proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6 };
	size_t l3 = v4 ? IP4_HDR_LEN : IP6_HDR_LEN, len = 8 + l3 + UDP_HDR_LEN;
	uint8_t *m = frame_ip_begin(c->q, &h, len), *ip, *uh;

	if (!m)
		return;
	memset(m, 0, len);
	m[0] = ee->ee_type;
	m[1] = ee->ee_code;
	wr32(m + 4, ee->ee_info);	/* next-hop MTU where it applies */
	ip = m + 8;
	if (v4) {
		ip[0] = 0x45;
		wr16(ip + 2, IP4_HDR_LEN + UDP_HDR_LEN);
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, &ts->src.v4mapped.a4, 4);
		memcpy(ip + 16, &ts->dst.v4mapped.a4, 4);
		wr16(ip + 10, csum(ip, IP4_HDR_LEN, 0));
	} else {
		ip[0] = 0x60;
		wr16(ip + 4, UDP_HDR_LEN);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, &ts->src.a6, 16);
		memcpy(ip + 24, &ts->dst.a6, 16);
	}
	uh = ip + l3;
	wr16(uh, ts->sport);
	wr16(uh + 2, ts->dport);
	wr16(uh + 4, UDP_HDR_LEN);
	frame_ip_end(c->q, len);
}

/* Drain a flow socket's error queue, relaying ICMP errors to the guest */
static void udp_errqueue(struct ctx *c, int idx, int s)
{
	int i;

	for (i = 0; i < 16; i++) {
		uint8_t ctl[256] __attribute__((aligned(8)));
		struct msghdr mh = { .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct cmsghdr *cm;

		if (recvmsg(s, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			const struct sock_extended_err *ee =
				(const void *)CMSG_DATA(cm);

			if (!((cm->cmsg_level == SOL_IP &&
			       cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == SOL_IPV6 &&
			       cm->cmsg_type == IPV6_RECVERR)))
				continue;
			if ((ee->ee_origin == SO_EE_ORIGIN_ICMP ||
			     ee->ee_origin == SO_EE_ORIGIN_ICMP6) &&
			    !(udp_flows[idx].flags & UDP_NS))
				udp_icmp_error(c, idx, ee);
		}
	}
}

/**
 * udp_sock_handler() - Events on a flow's own socket
 * @c:		Execution context
 * @ref:	Epoll reference
 * @events:	Events
 */
void udp_sock_handler(struct ctx *c, union epoll_ref ref, uint32_t events)
{
	int idx = (int)ref.flow, round, n;
	struct udp_flow *uf = &udp_flows[idx];
	bool v4;

	if (uf->sock != ref.fd || !(uf->flags & UDP_OWN))
		return;		/* closed earlier in this batch */
	if (events & EPOLLERR)
		udp_errqueue(c, idx, ref.fd);
	if (!(events & EPOLLIN))
		return;
	v4 = inany_is_v4(&flow_at(c->flows, idx)->side[SOCKSIDE].dst);
	flow_touch(c->flows, idx, c->now_ms);
	for (round = 0; round < 8; round++) {
		n = udp_recv(c, ref.fd, v4, false, &uf->flags);
		if (!n)
			return;
		if (uf->flags & UDP_NS) {
			udp_ns_reply(c, idx, n);
			continue;
		}
		udp_to_guest(c, idx, 0, n);
		udp_yield_point(c);
	}
}

/*
 * Datagram @i received on a forwarding socket: find or make its flow. A
 * -U datagram is sent on to the host here. Return: the flow whose guest
 * gets the datagram, FLOW_NONE if it went elsewhere or was dropped
 */
static int udp_fwd_one(struct ctx *c, unsigned int slot, int i)
{
	const struct udp_fwdsock *fs = &udp_fwd[slot];
	bool ns = fs->ns;
	uint16_t dport = fs->dport;
	struct flowside sk = { .dport = dport };
	enum flow_sidx side;
	int idx;

	inany_from_sockaddr(&sk.src, &sk.sport, &udp_addr[i]);
	if (inany_is_v4(&sk.src))
		inany_from_v4(&sk.dst, (struct in_addr){
			ns ? htonl(INADDR_LOOPBACK) : INADDR_ANY });
	else
		inany_from_v6(&sk.dst, ns ? &in6addr_loopback : &in6addr_any);
	idx = flow_lookup(c->flows, IPPROTO_UDP, &sk, &side);
	if (idx == FLOW_NONE)
		idx = ns ? udp_flow_ns(c, &sk, slot, dport) :
			   udp_flow_from_fwd(c, &sk, slot, dport);
	if (idx == FLOW_NONE)
		return FLOW_NONE;
	flow_touch(c->flows, idx, c->now_ms);
	if (!ns)
		return idx;
	if (udp_mh[i].msg_hdr.msg_flags & MSG_TRUNC)
		drop(DROP_UDP_TRUNC);
	else if (send(udp_flows[idx].sock, udp_iov[i].iov_base,
		      udp_mh[i].msg_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		drop(DROP_SOCK_ERR);
	return FLOW_NONE;
}

/* Did datagrams @i and @j of the batch come from the same peer? */
static bool udp_same_peer(int i, int j)
{
	socklen_t len = udp_mh[i].msg_hdr.msg_namelen;

	return len == udp_mh[j].msg_hdr.msg_namelen &&
	       !memcmp(&udp_addr[i], &udp_addr[j], len);
}

/**
 * udp_listen_handler() - Datagrams on a forwarding socket (-u, -U)
 * @c:		Execution context
 * @ref:	Epoll reference: flow field holds the socket's slot
 * @events:	Events
 *
 * Consecutive datagrams of one peer share a flow: it is looked up once,
 * and they go to the guest together (trains, see udp_to_guest()).
 */
void udp_listen_handler(struct ctx *c, union epoll_ref ref, uint32_t events)
{
	unsigned int slot = ref.flow;
	int round, n, i, j, idx;
	bool v4;

	if (!(events & EPOLLIN) || slot >= UDP_FWD_MAX ||
	    udp_fwd[slot].fd != ref.fd)
		return;		/* closed since */
	v4 = !udp_fwd[slot].v6;
	for (round = 0; round < 8; round++) {
		n = udp_recv(c, ref.fd, v4, true, &udp_fwd[slot].reg);
		if (!n)
			return;
		for (i = 0; i < n; i = j) {
			idx = udp_fwd_one(c, slot, i);
			for (j = i + 1; idx != FLOW_NONE && j < n &&
			     udp_same_peer(i, j); j++)
				;
			if (idx != FLOW_NONE)
				udp_to_guest(c, idx, i, j - i);
		}
		udp_yield_point(c);
	}
}

/**
 * udp_listen() - Open a forwarding socket
 * @c:		Execution context
 * @af:		AF_INET or AF_INET6
 * @addr:	Address to bind, NULL for any (host) or loopback (namespace)
 * @ifname:	Interface to bind to, NULL or "" for none
 * @port:	Port to bind
 * @dport:	Port datagrams go to on the other side
 * @ns:		Bind inside the namespace (-U) instead of on the host
 *
 * Return: the socket, or negative errno (-ENOSPC: no slot left)
 */
int udp_listen(struct ctx *c, int af, const union inany_addr *addr,
	       const char *ifname, uint16_t port, uint16_t dport, bool ns)
{
	union epoll_ref ref = { .type = EPOLL_TYPE_UDP_LISTEN };
	unsigned int slot;
	int fd;

	/* From the lowest slot that may be free: -u all opens 131070; at
	 * udp_fwd_hi, every slot is free */
	for (slot = udp_fwd_lo; slot < udp_fwd_hi && udp_fwd[slot].fd >= 0;
	     slot++)
		;
	udp_fwd_lo = slot;
	if (slot == UDP_FWD_MAX)
		return -ENOSPC;
	ref.flow = slot;
	fd = fwdsock_open(c, af, SOCK_DGRAM, IPPROTO_UDP, addr, ifname, port,
			  ns, ref);
	if (fd < 0)
		return fd;
	udp_sock_bufs(fd);
	udp_fwd[slot] = (struct udp_fwdsock){
		.fd = fd, .gen = udp_fwd[slot].gen, .port = port,
		.dport = dport, .ns = ns, .v6 = af == AF_INET6,
	};
	udp_fwd_hi = MAX(udp_fwd_hi, slot + 1);
	udp_fwd_lo = slot + 1;
	return fd;
}

/* Close the flows of share @sh that send through forwarding slot @slot */
static void udp_fwd_flows_close(struct ctx *c, enum flow_share sh,
				unsigned int slot)
{
	int idx, next;

	for (idx = flow_oldest(c->flows, sh); idx != FLOW_NONE; idx = next) {
		const struct udp_flow *uf = &udp_flows[idx];

		next = flow_newer(c->flows, idx);
		if ((uf->flags & (UDP_INBOUND | UDP_NS)) &&
		    uf->fwd_slot == slot && uf->fwd_gen == udp_fwd[slot].gen)
			udp_flow_close(c, idx);
	}
}

/**
 * udp_listen_close() - Close a forwarding socket and the flows using it
 * @c:		Execution context
 * @fd:		Socket, as udp_listen() returned it
 *
 * The flows that reply through it go first: none may keep its number,
 * which the kernel hands out again.
 */
void udp_listen_close(struct ctx *c, int fd)
{
	unsigned int slot;

	for (slot = 0; slot < udp_fwd_hi && udp_fwd[slot].fd != fd; slot++)
		;
	if (slot == udp_fwd_hi || fd < 0)
		return;
	udp_fwd_flows_close(c, FLOW_SHARE_UDP_IN, slot);
	udp_fwd_flows_close(c, FLOW_SHARE_UDP_OUT, slot);
	udp_fwd[slot].gen++;
	udp_fwd[slot].fd = -1;
	udp_fwd_lo = MIN(udp_fwd_lo, slot);
	epoll_ctl(c->epollfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

/* Expire the flows of share @sh idle for more than @idle_ms */
static void udp_expire(struct ctx *c, enum flow_share sh, uint64_t idle_ms)
{
	int idx, next;

	for (idx = flow_oldest(c->flows, sh); idx != FLOW_NONE; idx = next) {
		next = flow_newer(c->flows, idx);
		if (c->now_ms - flow_at(c->flows, idx)->last_ms <= idle_ms)
			return;		/* the others are more recent */
		log_trace("udp: flow %d expired", idx);
		udp_flow_close(c, idx);
	}
}

/**
 * udp_timer() - Expire flows idle for --udp-timeout seconds
 * @c:		Execution context
 */
void udp_timer(struct ctx *c)
{
	uint64_t idle = (uint64_t)c->net->udp_timeout_s * 1000;

	udp_expire(c, FLOW_SHARE_UDP_OUT, idle);
	udp_expire(c, FLOW_SHARE_UDP_IN, idle);
}

/* When the least recently active flow of share @sh expires */
static uint64_t udp_share_next_ms(const struct ctx *c, enum flow_share sh)
{
	int idx = flow_oldest(c->flows, sh);

	if (idx == FLOW_NONE)
		return UINT64_MAX;
	return flow_at(c->flows, idx)->last_ms +
	       (uint64_t)c->net->udp_timeout_s * 1000 + 1;
}

/**
 * udp_next_ms() - When udp_timer() has a flow to expire next
 * @c:		Execution context
 *
 * Return: time in ms, UINT64_MAX if there is no flow
 */
uint64_t udp_next_ms(const struct ctx *c)
{
	return MIN(udp_share_next_ms(c, FLOW_SHARE_UDP_OUT),
		   udp_share_next_ms(c, FLOW_SHARE_UDP_IN));
}

/**
 * udp_log() - Log the counters of registered arrays (debug level)
 */
void udp_log(void)
{
	if (!udp_reg_ok)
		return;
	log_debug("udp: at exit: %llu sockets registered (%llu refused), "
		  "%llu datagrams received through registered arrays",
		  udp_reg_socks, udp_reg_refused, udp_reg_dgrams);
}

/**
 * udp_close_all() - Close every flow (guest went away)
 * @c:		Execution context
 */
void udp_close_all(struct ctx *c)
{
	static const enum flow_share shares[] = {
		FLOW_SHARE_UDP_OUT, FLOW_SHARE_UDP_IN,
	};
	unsigned int i;
	int idx;

	for (i = 0; i < ARRAY_SIZE(shares); i++)
		while ((idx = flow_oldest(c->flows, shares[i])) != FLOW_NONE)
			udp_flow_close(c, idx);
}
