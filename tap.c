/* tap.c - the guest-facing frontend: read frames from the tap device,
 * parse and dispatch them to protocols, write queued frames back
 *
 * Theory of operation
 * The guest's MAC is the tap's own, read at start; it is learnt again
 * from every frame (the guest may change it, a VM guest may be another
 * machine after a reconnect: tap_guest_reset()).
 *
 * On each wake-up every frame the tap holds is read into one receive pool
 * (up to TAP_RX_POOL bytes), so that later each protocol can be handed
 * all frames of a flow as one batch. Frames are parsed by frame_parse(),
 * which drops and counts anything malformed; the guest's MAC and the
 * addresses it uses are learnt from what passes; then each frame goes to
 * the one protocol that owns it. Protocols never see the tap: they queue
 * frames on the output queue, which tap_flush() writes out, once per loop
 * iteration or when the queue fills up. The receive pool is one of
 * TAP_BUFS buffers, taken in turn: a protocol may keep a buffer lent to
 * the kernel (MSG_ZEROCOPY, zerocopy.c, which never lends the last free
 * one), and the buffer being dispatched is held meanwhile, so a release
 * during dispatch never frees it under the frames.
 *
 * A tap device returns exactly one frame per read() and takes one per
 * write(), each behind a virtio-net header (IFF_VNET_HDR). On reads the
 * header only tells whether the sender left the L4 checksum partial
 * (checksum offload, see ns_tap_open()). On writes, bulk TCP and UDP
 * frames carry only the pseudo-header sum and the header says
 * VIRTIO_NET_HDR_F_NEEDS_CSUM: the kernel then treats them as locally
 * built packets whose checksum is trusted on local delivery (and
 * completed if the namespace forwards them), so the payload is never
 * summed. A train of UDP datagrams of one flow and one size may go as one
 * frame marked VIRTIO_NET_HDR_GSO_UDP_L4, which the kernel cuts into
 * datagrams, and up to 64 KiB of TCP payload as one frame marked
 * VIRTIO_NET_HDR_GSO_TCPV4/6 with the MSS as segment size, which the
 * namespace's TCP takes whole: one write() instead of one per datagram or
 * segment (--no-gso: never). Taps take UDP trains since Linux 6.2 only:
 * ns_tap_open() probes for it, and without it each datagram is a frame.
 * With a capture, every frame gets its full checksum and goes as it is,
 * so the capture shows what the guest gets.
 * Frames longer than the MTU allows are dropped and counted, except those
 * the header marks for segmentation (the tap offers TSO, ns_tap_open()),
 * which may hold up to 64 KiB of IP packet. A write the tap refuses is
 * counted (DROP_TAP_WRITE, DROP_TAP_GSO), never as a full output queue.
 * System calls: read, writev, ioctl(SIOCGIFHWADDR).
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arp.h"
#include "dhcp.h"
#include "dhcpv6.h"
#include "icmp.h"
#include "log.h"
#include "ndp.h"
#include "pcap.h"
#include "tap.h"
#include "tap_splice.h"
#include "tcp.h"
#include "udp.h"
#include "zerocopy.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS, read);
SYSCALL_ALLOW(SYS_NS, writev);

#define TAP_FRAMES_MAX	4096	/* frames read per wake-up */

#define TAP_BUFS	4	/* receive buffers, each TAP_RX_POOL bytes */
#define TAP_VNET_HDR	sizeof(struct virtio_net_hdr)
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4	/* virtio 1.2; Linux headers since 6.2 */
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#endif



static int tap_fd = -1;
static struct frame_buf tap_bufs[TAP_BUFS];
static unsigned int tap_buf_next;

/* Set the guest's MAC: the destination of every frame we build */
static void tap_guest_mac(struct ctx *c, const uint8_t *mac)
{
	char buf[MAC_STRLEN];

	memcpy(c->net->guest_mac, mac, MAC_LEN);
	memcpy(c->q->guest_mac, mac, MAC_LEN);
	log_debug("guest MAC: %s", mac_ntop(mac, buf));
}

/*
 * The tap's own MAC is the guest's: frames we send before the guest sent
 * any (a connection forwarded to it, a datagram) must not go to the
 * broadcast address, where the guest's TCP drops them (not PACKET_HOST).
 * What the guest sends from later still wins (it may change its address).
 */
static void tap_mac_read(struct ctx *c, int fd)
{
	struct ifreq ifr = { 0 };

	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		log_debug("tap: cannot read its MAC: %s", strerror(errno));
		return;
	}
	tap_guest_mac(c, (const uint8_t *)ifr.ifr_hwaddr.sa_data);
}

/**
 * tap_init() - Take over a tap descriptor and set up the receive pool
 * @c:		Execution context
 * @fd:		Open tap device, IFF_TAP | IFF_NO_PI
 * @uso:	The kernel takes UDP trains on it (probed by ns_tap_open())
 *
 * Return: 0 on success, negative errno on failure
 */
int tap_init(struct ctx *c, int fd, bool uso)
{
	unsigned int i;
	int rc;

	for (i = 0; i < TAP_BUFS; i++) {
		tap_bufs[i].data = malloc(TAP_RX_POOL);
		if (!tap_bufs[i].data)
			return -ENOMEM;
		tap_bufs[i].size = TAP_RX_POOL;
	}
	zc_bufs(tap_bufs, TAP_BUFS);
	tap_fd = fd;
	tap_mac_read(c, fd);
	c->q->flush = tap_flush;
	/* a train needs the partial checksum, which captures do without */
	c->q->gso = c->q->csum_skip && !c->net->no_gso;
	c->q->gso_udp = c->q->gso && uso;
	log_debug("tap: UDP trains %s", c->q->gso_udp ? "in use" :
		  c->net->no_gso ? "disabled (--no-gso)" :
		  !c->q->csum_skip ? "not used with a capture" :
		  "not supported by the kernel (no TUN_F_USO4/6), one frame "
		  "per datagram");
	rc = fd_nonblock(fd);
	if (rc)
		return rc;
	/* the payload never passes through us: no capture of it */
	tap_splice_init(fd, c->q->csum_skip && !c->net->no_tap_splice);
	return 0;
}

/**
 * tap_guest_reset() - Forget what was learnt from the guest: a new one
 *		       (VM mode) starts from a clean state
 * @c:		Execution context
 *
 * Its MAC and the addresses it used go (frames go to the broadcast MAC
 * until the new guest sends one, an address the old one held is no longer
 * taken for the guest's in ARP, NDP and UDP replies), and the router
 * advertisements start over, as they do at start. DHCP and DHCPv6 keep
 * no state per client.
 */
void tap_guest_reset(struct ctx *c)
{
	struct net_conf *nc = c->net;

	memcpy(nc->guest_mac, MAC_BROADCAST, MAC_LEN);
	memcpy(c->q->guest_mac, MAC_BROADCAST, MAC_LEN);
	nc->v4.addr_seen.s_addr = 0;
	nc->v6.addr_seen = in6addr_any;
	nc->v6.addr_ll_seen = in6addr_any;
	ndp_reset();
}

/* Remember the guest's MAC and the addresses it actually uses */
static void tap_learn(struct ctx *c, const struct frame_in *f)
{
	struct net_conf *nc = c->net;

	if (!(f->src_mac[0] & 1) && !mac_equal(f->src_mac, MAC_ZERO) &&
	    !mac_equal(f->src_mac, nc->guest_mac))
		tap_guest_mac(c, f->src_mac);
	/* No unicast source: not the guest's address (RFC 1122 3.2.1.3) */
	if (fwd_is_broadcast(nc, &f->src))
		return;
	if (f->af == AF_INET) {
		const struct in_addr *a = inany_v4(&f->src);

		if (a->s_addr)
			nc->v4.addr_seen = *a;
	} else if (f->af == AF_INET6) {
		const struct in6_addr *a = &f->src.a6;

		if (IN6_IS_ADDR_LINKLOCAL(a))
			nc->v6.addr_ll_seen = *a;
		else if (!IN6_IS_ADDR_UNSPECIFIED(a))
			nc->v6.addr_seen = *a;
	}
}

/* DHCP and DHCPv6 are answered here; other UDP goes to udp.c in runs */
static bool tap_is_dhcp(const struct frame_in *f)
{
	uint16_t dport = rd16(f->l4 + 2);

	return (f->af == AF_INET && dport == 67) ||
	       (f->af == AF_INET6 && dport == 547);
}

/* Hand one parsed frame (not TCP, not UDP but DHCP) to its protocol */
static void tap_dispatch_one(struct ctx *c, const struct frame_in *f)
{
	if (f->ethertype == ETHTYPE_ARP) {
		arp_input(c, f);
		return;
	}
	switch (f->proto) {
	case IPPROTO_ICMP:
		if (f->af == AF_INET)
			icmp_tap_input(c, f);
		else
			drop(DROP_L4_PROTO);
		break;
	case IPPROTO_ICMPV6:
		if (f->af == AF_INET6 && !ndp_input(c, f))
			icmp_tap_input(c, f);
		break;
	case IPPROTO_UDP:
		if (f->af == AF_INET)
			dhcp_input(c, f);
		else
			dhcpv6_input(c, f);
		break;
	default:
		drop(DROP_L4_PROTO);
	}
}

/**
 * struct tap_group - Frames of one flow in a batch, linked in order
 * @first:	Index of its first frame
 * @last:	Index of its last frame
 * @n:		Number of frames
 * @bucket:	Its bucket in tap_group_bucket[]
 */
struct tap_group {
	unsigned int first;
	unsigned int last;
	unsigned int n;
	uint32_t bucket;
};

#define TAP_GROUP_BUCKETS	(2 * TAP_FRAMES_MAX)	/* a power of two */

static struct tap_group tap_groups[TAP_FRAMES_MAX];
static unsigned int tap_group_next[TAP_FRAMES_MAX];	/* next of a flow */
static int tap_group_of[TAP_FRAMES_MAX];	/* -1: not TCP or UDP */
static uint16_t tap_group_bucket[TAP_GROUP_BUCKETS];	/* group + 1 */
static struct frame_in tap_group_frames[TAP_FRAMES_MAX];

/* Does this frame go to tcp.c or udp.c, in a batch of its flow? */
static bool tap_is_flow(const struct frame_in *f)
{
	return f->af && (f->proto == IPPROTO_TCP ||
			 (f->proto == IPPROTO_UDP && !tap_is_dhcp(f)));
}

/* Group of frame @i, made if it is the first of its flow: by a keyed
 * hash of the tuple (the guest picks tuples: with a fixed hash it could
 * make every frame probe every group) */
static unsigned int tap_group_find(struct ctx *c, const struct frame_in *f,
				   unsigned int i, unsigned int *ng)
{
	const uint32_t mask = TAP_GROUP_BUCKETS - 1;
	struct flowside fs = { .src = f[i].src, .dst = f[i].dst,
			       .sport = rd16(f[i].l4),
			       .dport = rd16(f[i].l4 + 2) };
	uint32_t h = (uint32_t)flow_hash(c->flows, f[i].proto, &fs) & mask;
	unsigned int g;

	for (; tap_group_bucket[h]; h = (h + 1) & mask) {
		g = tap_group_bucket[h] - 1U;
		if (frame_same_flow(&f[tap_groups[g].first], &f[i]))
			return g;
	}
	g = (*ng)++;
	tap_group_bucket[h] = (uint16_t)(g + 1);
	tap_groups[g] = (struct tap_group){ .first = i, .last = i,
					    .bucket = h };
	return g;
}

/*
 * Sort @n frames into groups, one per flow, in order within each. A frame
 * of the same flow as the one before it (the common case: one flow's
 * burst) joins its group without a lookup. Return: number of groups
 */
static unsigned int tap_group(struct ctx *c, const struct frame_in *f,
			      unsigned int n)
{
	unsigned int i, ng = 0, g;

	for (i = 0; i < n; i++) {
		tap_group_of[i] = -1;
		if (!tap_is_flow(&f[i]))
			continue;
		if (i && tap_group_of[i - 1] >= 0 &&
		    frame_same_flow(&f[i - 1], &f[i]))
			g = (unsigned int)tap_group_of[i - 1];
		else
			g = tap_group_find(c, f, i, &ng);
		if (tap_groups[g].n)
			tap_group_next[tap_groups[g].last] = i;
		tap_groups[g].last = i;
		tap_groups[g].n++;
		tap_group_of[i] = (int)g;
	}
	return ng;
}

/* Empty the buckets tap_group() filled */
static void tap_group_clear(unsigned int ng)
{
	unsigned int g;

	for (g = 0; g < ng; g++)
		tap_group_bucket[tap_groups[g].bucket] = 0;
	memset(tap_groups, 0, ng * sizeof(tap_groups[0]));
}

/* Hand group @g, the frames of one flow, to its protocol at once */
static void tap_group_dispatch(struct ctx *c, const struct frame_in *f,
			       unsigned int g)
{
	const struct tap_group *gr = &tap_groups[g];
	const struct frame_in *run = &f[gr->first];
	unsigned int i, k;

	if (gr->last - gr->first + 1 != gr->n) {	/* interleaved: gather */
		for (i = gr->first, k = 0; k < gr->n;
		     i = tap_group_next[i], k++)
			tap_group_frames[k] = f[i];
		run = tap_group_frames;
	}
	if (run->proto == IPPROTO_TCP)
		tcp_tap_input(c, run, gr->n);
	else
		udp_tap_input(c, run, gr->n);
}

/**
 * tap_dispatch() - Hand parsed frames to protocols, TCP and UDP per flow
 * @c:		Execution context
 * @f:		Parsed frames
 * @n:		Number of frames
 *
 * All TCP or UDP frames of one flow in the batch go to their protocol
 * together, in order, adjacent or not (several flows sending at once
 * interleave theirs), so that their payload reaches the socket with one
 * sendmsg() or sendmmsg(). A flow goes where its first frame stood.
 */
void tap_dispatch(struct ctx *c, const struct frame_in *f, unsigned int n)
{
	unsigned int i, ng;

	while (n > TAP_FRAMES_MAX) {
		tap_dispatch(c, f, TAP_FRAMES_MAX);
		f += TAP_FRAMES_MAX;
		n -= TAP_FRAMES_MAX;
	}
	ng = tap_group(c, f, n);
	for (i = 0; i < n; i++) {
		if (tap_group_of[i] < 0)
			tap_dispatch_one(c, &f[i]);
		else if (tap_groups[tap_group_of[i]].first == i)
			tap_group_dispatch(c, f, (unsigned int)tap_group_of[i]);
	}
	tap_group_clear(ng);
}

/**
 * tap_parse() - Parse a frame from the guest into @f, learning from it
 * @c:		Execution context
 * @buf:	Frame, starting at the Ethernet header
 * @len:	Length of the frame
 * @f:		Parsed view
 *
 * Return: 0 if the frame is to be dispatched, -1 if it was dropped
 */
int tap_parse(struct ctx *c, const uint8_t *buf, size_t len,
	      struct frame_in *f)
{
	pcap_frame(buf, len);
	if (frame_parse(buf, len, f))
		return -1;
	tap_learn(c, f);
	return 0;
}


/**
 * tap_handler() - Read and dispatch every frame the tap holds
 * @c:		Execution context
 */
void tap_handler(struct ctx *c)
{
	static struct frame_in frames[TAP_FRAMES_MAX];
	size_t max = ETH_HDR_LEN + (size_t)net_mtu(c->net);
	/* segmentation offload frames may be longer than the MTU */
	size_t rd = MAX(max, ETH_HDR_LEN + IP6_HDR_LEN + 65535);
	struct frame_buf *b = frame_buf_next_free(tap_bufs, TAP_BUFS,
						  &tap_buf_next);
	uint8_t *tap_pool;
	size_t used = 0;
	unsigned int n = 0;

	/*
	 * All held (zero-copy sends in flight): leave the frames in the tap;
	 * the descriptor stays readable, so the next loop iteration after a
	 * release reads them. zerocopy.c never lends the last free buffer,
	 * so this does not happen (and cannot spin)
	 */
	if (!b)
		return;
	tap_pool = b->data;

	/* Read everything first, so that protocols get whole batches */
	while (n < TAP_FRAMES_MAX &&
	       used + TAP_VNET_HDR + rd + 1 <= TAP_RX_POOL) {
		/* one byte more than allowed tells an oversized frame */
		ssize_t len = read(tap_fd, tap_pool + used,
				   TAP_VNET_HDR + rd + 1);
		const struct virtio_net_hdr *vh = (const void *)(tap_pool + used);
		uint8_t *frame = tap_pool + used + TAP_VNET_HDR;

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("tap: read: %s", strerror(errno));
			break;
		}
		if ((size_t)len < TAP_VNET_HDR) {
			drop(DROP_ETH_SHORT);
			continue;
		}
		len -= (ssize_t)TAP_VNET_HDR;
		if ((size_t)len > (vh->gso_type == VIRTIO_NET_HDR_GSO_NONE ?
				   max : rd)) {
			drop(DROP_TOO_BIG);
			continue;
		}
		if (!tap_parse(c, frame, (size_t)len, &frames[n])) {
			frames[n].csum_partial = vh->flags &
						 VIRTIO_NET_HDR_F_NEEDS_CSUM;
			frames[n++].buf = b;
		}
		used += (TAP_VNET_HDR + (size_t)len + 7) & ~(size_t)7;
	}
	/* our hold while protocols see the frames: a completion or a close
	 * during dispatch releases a send's hold, never the frames' buffer */
	frame_buf_hold(b);
	tap_dispatch(c, frames, n);
	frame_buf_release(b);
}

/* Segmentation offload fields of the virtio-net header of frame @o */
static void tap_gso_hdr(struct virtio_net_hdr *vh, const struct frame_out *o)
{
	const uint8_t *frame = o->iov[0].iov_base;
	const uint8_t *l4 = frame + o->csum_start;
	bool v4 = (frame[ETH_HDR_LEN] >> 4) == 4;

	vh->gso_size = o->gso_size;
	if (o->gso_type == FRAME_GSO_UDP) {
		vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		vh->hdr_len = (uint16_t)(o->csum_start + 8);
		return;
	}
	vh->gso_type = v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	vh->hdr_len = (uint16_t)(o->csum_start + (l4[12] >> 4) * 4);
}

/**
 * tap_vnet_hdr() - The virtio-net header that goes before frame @o
 * @vh:		Header, filled
 * @o:		Queued frame
 *
 * The same header goes to a tap and into a vhost-user guest's buffer.
 */
void tap_vnet_hdr(struct virtio_net_hdr *vh, const struct frame_out *o)
{
	memset(vh, 0, sizeof(*vh));
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	if (o->csum_start) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = o->csum_start;
		vh->csum_offset = o->csum_off;
	}
	if (o->gso_size)
		tap_gso_hdr(vh, o);
}

/*
 * A write the tap refused: counted apart from a full output queue. A
 * train refused with EINVAL means the kernel does not take UDP trains
 * after all (the probe cannot see every kernel: a backport may know the
 * flags but not the frames): no more trains from now on.
 */
static void tap_write_failed(struct frame_queue *q, const struct frame_out *o)
{
	log_trace("tap: write: %s", strerror(errno));
	if (errno != EINVAL || o->gso_type != FRAME_GSO_UDP) {
		drop(DROP_TAP_WRITE);
		return;
	}
	drop(DROP_TAP_GSO);
	if (q->gso_udp)
		log_warn("tap: the kernel refuses UDP trains, sending one "
			 "frame per datagram from now on");
	q->gso_udp = false;
}

/**
 * tap_flush() - Write every queued frame to the tap, then empty the queue
 * @q:		Output queue
 */
void tap_flush(struct frame_queue *q)
{
	unsigned int i;

	for (i = 0; i < q->n; i++) {
		const struct frame_out *o = &q->out[i];

		struct virtio_net_hdr vh;
		struct iovec iov[FRAME_IOV + 1] = { { &vh, TAP_VNET_HDR } };

		tap_vnet_hdr(&vh, o);
		memcpy(iov + 1, o->iov, sizeof(*iov) * (size_t)o->iovcnt);
		if (o->piped) {
			if (tap_splice_write(tap_fd, iov, o->iovcnt + 1,
					     o->piped))
				drop(DROP_TAP_WRITE);
			continue;
		}
		pcap_frame_iov(o->iov, o->iovcnt, o->len);
		if (writev(tap_fd, iov, o->iovcnt + 1) < 0)
			tap_write_failed(q, o);
	}
	frame_queue_reset(q);
}
