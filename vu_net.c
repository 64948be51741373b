/* vu_net.c - the vhost-user frontend: the guest's virtio-net queues in
 * shared memory as the daemon's link to a VM
 *
 * Theory of operation
 * vhost_user.c speaks the protocol with QEMU and keeps the device; this
 * file moves frames. Queue 2k is pair k's receive queue (frames toward
 * the guest, into buffers it made available), 2k + 1 its transmit queue.
 * Every buffer starts with the 12-byte virtio-net header (VERSION_1).
 *
 * From the guest: a kick on a transmit queue takes every chain available
 * (up to VU_TX_BUDGET per wake-up, then the kick eventfd is signalled
 * again so that the loop comes back after serving others), copies each
 * frame out of guest memory into one of VU_BUFS receive buffers, and
 * hands the batch to tap_dispatch() as the tap and stream frontends do.
 * The parsers and protocols read only our copy, which the guest cannot
 * change under them (a length read twice from guest memory could differ
 * the second time). A TCP segment is copied only as far as its headers
 * reach (VU_TX_INLINE bytes, when all of them lie there): its payload
 * stays in the guest's buffer, named by the frame's ext pieces, and the
 * socket's sendmsg() takes it from there, the one copy it costs, or
 * none with MSG_ZEROCOPY (zerocopy.c, as for any batch of ours: it holds
 * the buffer of ours the batch's headers are in). Those chains go back
 * to the guest only once the batch was dispatched and no zerocopy send
 * holds that buffer any more (vu_tx_reap(), after each batch and at
 * each flush), so the guest never reuses pages the kernel still sends
 * from. Other chains go back at once. The header says whether the guest left the
 * checksum partial (CSUM) and whether the frame is a TCP segment of up
 * to 64 KiB for us to cut (HOST_TSO4/6): the protocols take both, as
 * from a tap with offloads. Other segmentation kinds are dropped.
 *
 * Toward the guest: vu_net_flush() is the output queue's flush hook. Each
 * frame goes to the receive queue of one pair, chosen by a hash of its
 * addresses and ports among the pairs whose receive queue runs (so a
 * flow's frames stay in order on one queue), non-IP frames to the first.
 * TCP payload is not copied here at all: tcp.c asks for the guest's
 * buffers first (q->direct, vu_net_direct()), which lends it chains of
 * the flow's receive queue with room left for the virtio-net header and
 * the frame's headers, and peeks the socket's data straight into them;
 * the flush then writes the headers in front and returns the chains. A
 * chain taken but not filled (the peek got less than the loan, a frame
 * that did not fit what was there) is kept as a spare for the next
 * frames of that queue, and given back unused when the queue stops or
 * changes or the memory table is replaced, so no chain outlives the
 * mapping its addresses point into.
 * With MRG_RXBUF a frame may take several buffers (num_buffers says how
 * many), else it must fit one. The header carries the partial checksum
 * (GUEST_CSUM) and TCP segmentation (GUEST_TSO4/6) when the guest took
 * them: then tcp.c builds 64 KiB frames that are never summed here. When
 * the guest has no buffers left, frames wait in a backlog (VU_BACKLOG
 * bytes, in order) that drains when it adds some (its kick on the
 * receive queue) or at the next flush; a full backlog drops whole frames
 * and counts them. Used entries are published once per queue per flush
 * and the guest signalled if it asked to be.
 *
 * A ring the guest broke (virtq.c) gets one error line here and its queue
 * stops; the others go on. Offered features follow the command line:
 * --no-vhost-offload (no CSUM, GUEST_CSUM, TSO), --no-vhost-tso,
 * --no-mrg-rxbuf, --vhost-queues N (1: no MQ), and captures keep full
 * checksums (no GUEST_CSUM toward the guest, so the capture shows what
 * the guest gets).
 * System calls: write (kicks of our own), epoll_ctl, close; and those of
 * vhost_user.c, accept.c (accept4), util.c (fcntl).
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "accept.h"
#include "epoll_ref.h"
#include "log.h"
#include "pcap.h"
#include "tap.h"
#include "tcp.h"
#include "vhost_user.h"
#include "vu_net.h"
#include "zerocopy.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_VU, write);
SYSCALL_ALLOW(SYS_VU, epoll_ctl);
SYSCALL_ALLOW(SYS_VU, close);

#define VU_BUFS		4		/* frames from the guest, copied */
#define VU_TX_BUDGET	1024		/* chains taken per kick */
#define VU_FRAMES_MAX	4096		/* frames dispatched as one batch */
#define VU_RX_CHAINS	128		/* buffers one frame may take */
#define VU_BACKLOG	(16 << 20)	/* frames waiting for guest buffers */
#define VU_VNET_HDR	sizeof(struct virtio_net_hdr_mrg_rxbuf)
#define VU_RX_IOV	20		/* pieces of one receive chain */
#define VU_TX_INLINE	192		/* bytes of a TCP frame copied out */
#define VU_EXT_IOV	16384		/* pieces of payload left in place */
#define VU_SPARE_MAX	4096		/* receive chains taken, not used */
#define VU_LENT_MAX	2048		/* chains lent for direct payload */
#define VU_LOANS_MAX	512		/* frames with lent chains, a flush */

_Static_assert(VU_VNET_HDR == 12, "VERSION_1 header is 12 bytes");

/**
 * struct vu_backlog_rec - A frame waiting for guest buffers
 * @len:	Bytes of frame that follow
 * @vh:		Its header, num_buffers not set yet
 */
struct vu_backlog_rec {
	uint32_t len;
	struct virtio_net_hdr vh;
};

static struct vu_dev vu;
static struct ctx *vu_ctx;
static struct vu_net_conf vu_conf;
static struct frame_buf vu_bufs[VU_BUFS];
static unsigned int vu_buf_next;

static uint8_t *vu_backlog;
static size_t vu_backlog_head;		/* first waiting byte */
static size_t vu_backlog_tail;		/* end of waiting bytes */

/* A receive buffer chain taken from a queue (kept compact: guests post
 * buffers of one or a few descriptors) */
struct vu_chain {
	uint16_t head;
	uint16_t qi;
	uint16_t pos;		/* available index it was taken from */
	uint16_t n;
	uint32_t len;
	struct iovec iov[VU_RX_IOV];
};

/*
 * Guest buffers a batch left payload in, by the receive buffer of ours the
 * batch's headers are in (so by the batch): returned once it was sent,
 * and, if a MSG_ZEROCOPY send lent them to the kernel (zerocopy.c then
 * holds that buffer of ours), once the kernel is done with them
 */
static uint16_t vu_tx_held[VU_BUFS][VU_FRAMES_MAX];
static unsigned int vu_tx_held_n[VU_BUFS];
static unsigned int vu_tx_held_q[VU_BUFS];	/* their transmit queue */

/* Frames of this front end's: into the guest in place, copied; from it;
 * per queue either way */
static uint64_t vu_n_direct, vu_n_copied, vu_n_tx, vu_n_split;
static uint64_t vu_n_queue[VU_QUEUES_MAX];

/*
 * Chains taken from a receive queue and not used (a frame that did not
 * fit what was there, payload lent for less than it could hold): they go
 * to the next frames of that queue before any new chain is taken, in any
 * order (the guest finds a used buffer by its head, not its position)
 */
static struct vu_chain vu_spare[VU_SPARE_MAX];
static unsigned int vu_spare_n;

/* Chains lent for direct payload (q->direct()), in the order lent */
static struct vu_chain vu_lent[VU_LENT_MAX];
static unsigned int vu_lent_n;

/**
 * struct vu_loan - The chains lent for one frame's payload
 * @first:	Its first chain in vu_lent
 * @n:		Chains
 * @used:	A frame took it (its chains went to the guest)
 */
struct vu_loan {
	uint16_t first;
	uint16_t n;
	bool used;
};

static struct vu_loan vu_loans[VU_LOANS_MAX];
static unsigned int vu_loans_n;		/* loans made since the flush */

/* Features the command line lets us offer */
static uint64_t vu_offer(const struct vu_net_conf *vc)
{
	uint64_t f = VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_PROTOCOL_FEATURES) |
		     VU_BIT(VU_F_INDIRECT_DESC);

	if (!vc->no_mrg_rxbuf)
		f |= VU_BIT(VU_F_MRG_RXBUF);
	if (vc->pairs > 1)
		f |= VU_BIT(VU_F_MQ);
	if (vc->no_offload)
		return f;
	f |= VU_BIT(VU_F_CSUM) | VU_BIT(VU_F_GUEST_CSUM);
	if (!vc->no_tso)
		f |= VU_BIT(VU_F_HOST_TSO4) | VU_BIT(VU_F_HOST_TSO6) |
		     VU_BIT(VU_F_GUEST_TSO4) | VU_BIT(VU_F_GUEST_TSO6);
	return f;
}

/* Features set: what the output queue may build for this guest */
static void vu_features_set(struct ctx *c)
{
	struct frame_queue *q = c->q;

	q->csum_skip = vu_has(&vu, VU_F_GUEST_CSUM) && !vu_conf.capture;
	q->gso = q->csum_skip && vu_has(&vu, VU_F_GUEST_TSO4) &&
		 vu_has(&vu, VU_F_GUEST_TSO6) && !c->net->no_gso;
	q->gso_udp = false;	/* GUEST_USO is not offered */
	log_debug("vhost-user: features %#llx: checksums to the guest %s, "
		  "TCP segmentation %s, merged buffers %s",
		  (unsigned long long)vu.features,
		  q->csum_skip ? "offloaded" : "complete",
		  q->gso ? "offloaded" : "off",
		  vu_has(&vu, VU_F_MRG_RXBUF) ? "on" : "off");
}

/* Empty the backlog: the guest can take frames again */
static void vu_backlog_clear(void)
{
	vu_backlog_head = vu_backlog_tail = 0;
	if (vu_ctx)
		vu_ctx->q->full = false;
}

static void vu_rx_drain(void);
static void vu_tx(struct ctx *c, unsigned int i);
static void vu_spare_flush(unsigned int i);
static void vu_tx_forget(unsigned int i);
static int vu_net_direct(struct frame_queue *q, const uint8_t *hdr,
			 size_t hdr_len, size_t len, struct iovec *iov,
			 unsigned int max, uint32_t *loan);

/* The guest added receive buffers (or a queue started): what waits in
 * the backlog goes first, then connections that held their data back */
static void vu_rx_room(void)
{
	vu_rx_drain();
	if (!vu_ctx->q->full)
		tcp_front_resume(vu_ctx);
}

/* What the front end that left moved, in one line, then forget it */
static void vu_stats(void)
{
	char q[VU_QUEUES_MAX * 24] = "", *p = q;
	unsigned int i;

	for (i = 0; i < 2 * vu.pairs; i++)
		if (vu_n_queue[i])
			p += snprintf(p, sizeof(q) - (size_t)(p - q),
				      " %u:%llu", i,
				      (unsigned long long)vu_n_queue[i]);
	log_info("vhost-user: %llu frames from the guest (%llu sent from its "
		 "memory); to it %llu with the payload read in place, %llu "
		 "copied; per queue:%s",
		 (unsigned long long)vu_n_tx, (unsigned long long)vu_n_split,
		 (unsigned long long)vu_n_direct,
		 (unsigned long long)vu_n_copied, q);
	vu_n_tx = vu_n_direct = vu_n_copied = vu_n_split = 0;
	memset(vu_n_queue, 0, sizeof(vu_n_queue));
}

/* The device's events (vhost_user.c) */
static void vu_event(struct vu_dev *d, unsigned int i, enum vu_event ev)
{
	(void)d;
	switch (ev) {
	case VU_EV_START:
		log_debug("vhost-user: queue %u started", i);
		/* what is there already is taken as if kicked */
		__attribute__((fallthrough));
	case VU_EV_KICK:
		if (i % 2)
			vu_tx(vu_ctx, i);
		else
			vu_rx_room();
		break;
	case VU_EV_STOP:
		log_trace("vhost-user: queue %u stops or changes", i);
		if (i % 2)
			vu_tx_forget(i);
		vu_spare_flush(i);
		vu_queue_notify(&vu, i);
		break;
	case VU_EV_MEM:
		for (i = 0; i < 2 * vu.pairs; i += 2) {
			vu_spare_flush(i);
			vu_queue_notify(&vu, i);
		}
		break;
	case VU_EV_FEATURES:
		vu_features_set(vu_ctx);
		break;
	case VU_EV_GONE:
		vu_stats();
		vu_backlog_clear();
		vu_spare_n = 0;
		memset(vu_tx_held_n, 0, sizeof(vu_tx_held_n));
		break;
	}
}

/**
 * vu_net_init() - Set up the device, buffers, and take over the output queue
 * @c:		Execution context
 * @vc:		What to offer
 *
 * Return: 0, or -ENOMEM
 */
int vu_net_init(struct ctx *c, const struct vu_net_conf *vc)
{
	unsigned int i;

	for (i = 0; i < VU_BUFS; i++) {
		vu_bufs[i].data = malloc(TAP_RX_POOL);
		if (!vu_bufs[i].data)
			return -ENOMEM;
		vu_bufs[i].size = TAP_RX_POOL;
	}
	vu_backlog = malloc(VU_BACKLOG);
	if (!vu_backlog)
		return -ENOMEM;
	zc_bufs(vu_bufs, VU_BUFS);
	vu_ctx = c;
	vu_conf = *vc;
	vu_dev_init(&vu, c->epollfd, vu_offer(vc), vc->pairs, vu_event);
	c->q->flush = vu_net_flush;
	c->q->direct = vu_net_direct;
	c->q->csum_skip = false;	/* until the guest takes offloads */
	c->q->gso = c->q->gso_udp = false;
	log_debug("vhost-user: offering features %#llx, %u queue pairs",
		  (unsigned long long)vu.offered, vc->pairs);
	return 0;
}

/* Make a connected socket the front end's */
static int vu_take(struct ctx *c, int fd)
{
	union epoll_ref ref = { .type = EPOLL_TYPE_VU, .fd = fd };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = ref.u64 };

	if (fd_nonblock(fd))
		return -errno;
	if (epoll_ctl(c->epollfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	vu_dev_attach(&vu, fd);
	vu_backlog_clear();
	tap_guest_reset(c);
	return 0;
}

/**
 * vu_net_attach() - Use an inherited connected socket as the front end (-F)
 * @c:		Execution context
 * @fd:		Descriptor
 *
 * Return: 0, or negative errno
 */
int vu_net_attach(struct ctx *c, int fd)
{
	return vu_take(c, fd);
}

/**
 * vu_net_accept() - Accept a front end on the listening socket
 * @c:		Execution context
 * @lfd:	Listening socket
 *
 * Return: 0 if one connected, 1 if refused or none pending, negative errno
 */
int vu_net_accept(struct ctx *c, int lfd)
{
	int fd = accept_conn(lfd, NULL, NULL);
	int rc;

	if (fd < 0)
		return fd == -EAGAIN || fd == -EINTR ||
		       fd == -ECONNABORTED ? 1 : fd;
	if (vu.fd >= 0) {
		log_warn("vhost-user: front end refused: one is connected");
		close(fd);
		return 1;
	}
	rc = vu_take(c, fd);
	if (rc) {
		close(fd);
		return rc;
	}
	log_info("vhost-user: front end connected");
	return 0;
}

/**
 * vu_net_handler() - Events on the front end's socket
 * @c:		Execution context
 * @events:	epoll events
 *
 * Return: 0, or -1 if it left or was dropped (the caller closes flows)
 */
int vu_net_handler(struct ctx *c, uint32_t events)
{
	(void)events;
	if (vu.fd < 0)
		return 0;
	if (!vu_handler(&vu))
		return 0;
	vu_dev_close(&vu);
	frame_queue_reset(c->q);
	tap_guest_reset(c);
	return -1;
}

/**
 * vu_net_kick() - A kick eventfd of queue @i is readable
 * @c:		Execution context
 * @i:		Queue index
 */
void vu_net_kick(struct ctx *c, unsigned int i)
{
	(void)c;
	vu_kick_handler(&vu, i);
}

/* A ring the guest broke: one line, the queue stops (virtq.c marked it) */
static void vu_broken(unsigned int i, enum vq_err e)
{
	log_err("vhost-user: queue %u: %s: queue stopped", i, vq_strerror(e));
}

/* Copy bytes [@off, @off + @len) of pieces @iov to @dst + @off */
static void iov_to_buf(uint8_t *dst, const struct iovec *iov, unsigned int n,
		       size_t off, size_t len)
{
	unsigned int i;

	dst += off;
	for (i = 0; i < n && len; i++) {
		size_t k;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		k = MIN(len, iov[i].iov_len - off);
		memcpy(dst, (const uint8_t *)iov[i].iov_base + off, k);
		dst += k;
		len -= k;
		off = 0;
	}
}


/*
 * Check a frame from the guest (header at @p, @len bytes with it) and
 * parse it into @f. Return: 0 to dispatch it, -1 if dropped
 */
static int vu_tx_frame(struct ctx *c, uint8_t *p, size_t len,
		       struct frame_in *f)
{
	const struct virtio_net_hdr *vh = (const void *)p;
	size_t max = ETH_HDR_LEN + (size_t)net_mtu(c->net);

	if (len < VU_VNET_HDR + ETH_HDR_LEN) {
		drop(DROP_ETH_SHORT);
		return -1;
	}
	len -= VU_VNET_HDR;
	switch (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		max = ETH_HDR_LEN + IP6_HDR_LEN + 65535;
		break;
	default:
		drop(DROP_TOO_BIG);	/* a kind we did not offer */
		return -1;
	}
	if (len > max) {
		drop(DROP_TOO_BIG);
		return -1;
	}
	if (tap_parse(c, p + VU_VNET_HDR, len, f))
		return -1;
	f->csum_partial = vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	return 0;
}

/*
 * Could the frame whose first @hl bytes (virtio-net header included) were
 * copied to @p leave the rest in guest memory? Only a TCP segment all of
 * whose headers (IPv4 with options, or IPv6 without extension headers,
 * and the largest TCP header) lie in the copy: parsers and protocols
 * then read nothing else, and the payload goes from the guest's buffer
 * to the socket. Not with a capture, which writes the whole frame
 */
static bool vu_tx_split_ok(const uint8_t *p, size_t hl)
{
	const uint8_t *eth = p + VU_VNET_HDR, *l4;

	if (vu_conf.capture || hl < VU_VNET_HDR + ETH_HDR_LEN + IP6_HDR_LEN)
		return false;
	switch (rd16(eth + 12)) {
	case ETHTYPE_IP4:
		if (eth[ETH_HDR_LEN] >> 4 != 4 ||
		    eth[ETH_HDR_LEN + 9] != IPPROTO_TCP)
			return false;
		l4 = eth + ETH_HDR_LEN + (eth[ETH_HDR_LEN] & 0xf) * 4u;
		break;
	case ETHTYPE_IP6:
		if (eth[ETH_HDR_LEN + 6] != IPPROTO_TCP)
			return false;
		l4 = eth + ETH_HDR_LEN + IP6_HDR_LEN;
		break;
	default:
		return false;
	}
	return l4 + 60 <= p + hl;
}

/* Pieces of @iov from byte @off on, to the end, into @out (at most @max).
 * Return: pieces, -1 if more than @max */
static int vu_iov_tail(const struct iovec *iov, unsigned int n, size_t off,
		       struct iovec *out, unsigned int max)
{
	unsigned int j, k = 0;

	for (j = 0; j < n; j++) {
		if (off >= iov[j].iov_len) {
			off -= iov[j].iov_len;
			continue;
		}
		if (k == max)
			return -1;
		out[k].iov_base = (uint8_t *)iov[j].iov_base + off;
		out[k++].iov_len = iov[j].iov_len - off;
		off = 0;
	}
	return (int)k;
}

static struct iovec vu_tx_ext[VU_EXT_IOV];
static unsigned int vu_tx_ext_n;

/*
 * Copy a frame out of chain @e into @p (@rd bytes at most): its headers
 * only, if its payload may stay in guest memory (its pieces are then at
 * vu_tx_ext + vu_tx_ext_n, and the chain is held), else all of it.
 * Return: bytes copied; *@n_ext the pieces left in place, -1 if none
 */
static size_t vu_tx_copy(const struct vq_elem *e, uint8_t *p, size_t rd,
			 unsigned int held, int *n_ext)
{
	size_t hl = MIN(e->len, VU_TX_INLINE);

	*n_ext = -1;
	iov_to_buf(p, e->iov, e->n, 0, hl);
	if (e->len > hl && vu_tx_split_ok(p, hl) && held < VU_FRAMES_MAX)
		*n_ext = vu_iov_tail(e->iov, e->n, hl, vu_tx_ext + vu_tx_ext_n,
				     VU_EXT_IOV - vu_tx_ext_n);
	if (*n_ext >= 0)
		return hl;
	iov_to_buf(p, e->iov, e->n, hl, MIN(e->len, rd) - hl);
	return MIN(e->len, rd);
}

/* Take a batch of frames from transmit queue @i into buffer @b. Return:
 * frames parsed into @frames; *@more if chains were left */
static unsigned int vu_tx_batch(struct ctx *c, unsigned int i,
				struct frame_buf *b, struct frame_in *frames,
				unsigned int *budget, bool *more)
{
	size_t rd = VU_VNET_HDR + ETH_HDR_LEN + IP6_HDR_LEN + 65535;
	unsigned int bi = (unsigned int)(b - vu_bufs), n = 0;
	struct virtq *q = &vu.vq[i];
	static struct vq_elem e;
	size_t used = 0;

	*more = false;
	vu_tx_held_q[bi] = i;
	while (n < VU_FRAMES_MAX && *budget) {
		enum vq_err rc;
		size_t len;
		int n_ext;

		if (used + rd > b->size) {
			*more = true;
			break;
		}
		rc = vq_pop(q, &vu.mem, false, &e);
		if (rc == VQ_EMPTY)
			break;
		(*budget)--;
		if (rc == VQ_ERR_TOO_MANY) {
			vq_push(q, e.head, 0);
			drop(DROP_TOO_BIG);
			continue;
		}
		if (rc) {
			vu_broken(i, rc);
			break;
		}
		if (e.len > rd) {
			vq_push(q, e.head, 0);
			drop(DROP_TOO_BIG);
			continue;
		}
		len = vu_tx_copy(&e, b->data + used, rd, vu_tx_held_n[bi],
				 &n_ext);
		vu_n_tx++;
		vu_n_queue[i]++;
		if (!vu_tx_frame(c, b->data + used, n_ext >= 0 ? e.len : len,
				 &frames[n])) {
			struct frame_in *f = &frames[n++];

			f->buf = b;
			if (n_ext >= 0) {
				f->inl = len - VU_VNET_HDR;
				f->ext = vu_tx_ext + vu_tx_ext_n;
				f->n_ext = (unsigned int)n_ext;
				vu_tx_ext_n += f->n_ext;
				vu_n_split++;
			}
		}
		if (n_ext >= 0)
			vu_tx_held[bi][vu_tx_held_n[bi]++] = e.head;
		else
			vq_push(q, e.head, 0);
		used += (len + 7) & ~(size_t)7;
	}
	if (!*budget)
		*more = vq_ready(q) && vq_avail_count(q);
	return n;
}

/*
 * Give the guest back the buffers a batch left payload in, for every
 * batch that was sent and whose buffer of ours no zerocopy send holds any
 * more (the kernel is done with their pages). Return: true if any went
 */
static bool vu_tx_reap(void)
{
	unsigned int bi, k;
	bool any = false;

	for (bi = 0; bi < VU_BUFS; bi++) {
		struct virtq *q = &vu.vq[vu_tx_held_q[bi]];

		if (vu_bufs[bi].holds || !vu_tx_held_n[bi])
			continue;
		for (k = 0; k < vu_tx_held_n[bi] && q->used; k++)
			vq_push(q, vu_tx_held[bi][k], 0);
		vu_tx_held_n[bi] = 0;
		vu_queue_notify(&vu, vu_tx_held_q[bi]);
		any = true;
	}
	vu_tx_ext_n = 0;
	return any;
}

/* Transmit queue @i stops or changes: what it holds goes back unsent, or,
 * if its rings are gone, is forgotten (zerocopy sends of those pages may
 * still run: the guest that reset its device sees them go) */
static void vu_tx_forget(unsigned int i)
{
	unsigned int bi, k;

	for (bi = 0; bi < VU_BUFS; bi++) {
		struct virtq *q = &vu.vq[i];

		if (vu_tx_held_q[bi] != i || !vu_tx_held_n[bi])
			continue;
		for (k = 0; k < vu_tx_held_n[bi] && q->used; k++)
			vq_push(q, vu_tx_held[bi][k], 0);
		vu_tx_held_n[bi] = 0;
	}
}

/* Take and dispatch what the guest queued on transmit queue @i (odd) */
static void vu_tx(struct ctx *c, unsigned int i)
{
	static struct frame_in frames[VU_FRAMES_MAX];
	unsigned int budget = VU_TX_BUDGET, n;
	struct virtq *q = &vu.vq[i];
	bool more = true;

	/* buffers zerocopy sends let go of since: their guest chains go
	 * back first, so that a free buffer of ours holds none */
	vu_tx_reap();
	while (more && budget && vq_ready(q)) {
		/* zerocopy.c never lends the last free buffer */
		struct frame_buf *b = frame_buf_next_free(vu_bufs, VU_BUFS,
							  &vu_buf_next);

		if (!b)
			break;
		n = vu_tx_batch(c, i, b, frames, &budget, &more);
		frame_buf_hold(b);
		tap_dispatch(c, frames, n);
		frame_buf_release(b);
		/* the sockets took what they took: the guest's buffers go
		 * back, unless a zerocopy send still holds them */
		vu_tx_reap();
		vu_queue_notify(&vu, i);
	}
	/* Left for later: kick ourselves, the loop serves others first */
	if (more && vq_ready(q)) {
		uint64_t one = 1;

		if (write(q->kick_fd, &one, sizeof(one)) < 0)
			log_debug("vhost-user: queue %u: cannot kick: %s", i,
				  strerror(errno));
	}
}

/* The pair frame @p (with @len bytes in its first piece) goes to */
static unsigned int vu_rx_pair(const uint8_t *p, size_t len)
{
	unsigned int ready[VU_PAIRS_MAX], n = 0, i;
	uint32_t h = 0;
	size_t a, alen, l4;

	for (i = 0; i < vu.pairs; i++)
		if (vq_ready(&vu.vq[2 * i]))
			ready[n++] = i;
	if (n <= 1)
		return n ? ready[0] : 0;
	if (len >= ETH_HDR_LEN + IP4_HDR_LEN && rd16(p + 12) == ETHTYPE_IP4) {
		a = ETH_HDR_LEN + 12;
		alen = 8;
		l4 = ETH_HDR_LEN + (p[ETH_HDR_LEN] & 0xf) * 4u;
	} else if (len >= ETH_HDR_LEN + IP6_HDR_LEN &&
		   rd16(p + 12) == ETHTYPE_IP6) {
		a = ETH_HDR_LEN + 8;
		alen = 32;
		l4 = ETH_HDR_LEN + IP6_HDR_LEN;
	} else {
		return ready[0];
	}
	for (i = 0; i < alen; i++)
		h = (h ^ p[a + i]) * 16777619u;
	for (i = 0; i < 4 && l4 + i < len; i++)
		h = (h ^ p[l4 + i]) * 16777619u;
	return ready[(h ^ (h >> 16)) % n];
}

/* Give chain @ch back: to the available ring if it is the last taken
 * from it (the common case: the end of a batch, given back last first),
 * else to the spares, or, if those are full, to the guest unused */
static void vu_spare_put(const struct vu_chain *ch)
{
	struct virtq *q = &vu.vq[ch->qi];

	if (q->used && (uint16_t)(ch->pos + 1) == q->last_avail) {
		vq_unpop(q, 1);
		return;
	}
	if (vu_spare_n < VU_SPARE_MAX) {
		vu_spare[vu_spare_n++] = *ch;
		return;
	}
	/* the guest counts a short buffer as a length error and reuses it */
	vq_push(&vu.vq[ch->qi], ch->head, 0);
	drop(DROP_QUEUE_FULL);
}

/* Return every spare chain of queue @i to the guest, unused (it stops or
 * changes, or its memory is mapped anew: no chain may keep an old
 * address); a queue whose rings are gone just forgets them */
static void vu_spare_flush(unsigned int i)
{
	unsigned int k, n = 0;

	for (k = 0; k < vu_spare_n; k++) {
		if (vu_spare[k].qi != i)
			vu_spare[n++] = vu_spare[k];
		else if (vu.vq[i].used)
			vq_push(&vu.vq[i], vu_spare[k].head, 0);
	}
	vu_spare_n = n;
}

/*
 * Take the next receive chain of queue @i into @ch: a spare one first.
 * Return: VQ_OK, VQ_EMPTY, or the error that broke the queue (logged)
 */
static enum vq_err vu_chain_take(unsigned int i, struct vu_chain *ch)
{
	struct virtq *q = &vu.vq[i];
	static struct vq_elem e;
	unsigned int k, tries;
	enum vq_err rc;

	for (k = vu_spare_n; k--; ) {
		if (vu_spare[k].qi != i)
			continue;
		*ch = vu_spare[k];
		vu_spare[k] = vu_spare[--vu_spare_n];
		return VQ_OK;
	}
	for (tries = 0; tries < q->num; tries++) {
		rc = vq_pop(q, &vu.mem, true, &e);
		if (rc == VQ_EMPTY)
			return rc;
		if (rc && rc != VQ_ERR_TOO_MANY) {
			vu_broken(i, rc);
			return rc;
		}
		if (rc || e.n > VU_RX_IOV || !e.len) {
			vq_push(q, e.head, 0);	/* not a buffer we can use */
			drop(DROP_QUEUE_FULL);
			continue;
		}
		ch->head = e.head;
		ch->qi = (uint16_t)i;
		ch->pos = (uint16_t)(q->last_avail - 1);
		ch->n = (uint16_t)e.n;
		ch->len = (uint32_t)e.len;
		memcpy(ch->iov, e.iov, e.n * sizeof(*e.iov));
		return VQ_OK;
	}
	return VQ_EMPTY;
}

static int vu_chains_iov(const struct vu_chain *ch, unsigned int nch,
			 size_t off, size_t len, struct iovec *iov,
			 unsigned int max);

/* Copy @len bytes from @src into the chains @ch from byte @off on */
static void vu_chains_write(const struct vu_chain *ch, unsigned int nch,
			    size_t off, const uint8_t *src, size_t len)
{
	static struct iovec iov[VU_RX_CHAINS * VU_RX_IOV];
	int n = vu_chains_iov(ch, nch, off, len, iov, ARRAY_SIZE(iov)), k;

	for (k = 0; k < n; k++) {
		memcpy(iov[k].iov_base, src, iov[k].iov_len);
		src += iov[k].iov_len;
	}
}

/*
 * Return the chains a frame of @total bytes (header included) filled to
 * the guest, each with what it got; the rest become spares. Return: the
 * chains used (the header's num_buffers)
 */
static unsigned int vu_chains_used(const struct vu_chain *ch,
				   unsigned int nch, size_t total)
{
	unsigned int k, used;

	for (k = 0; k < nch && total; k++) {
		vq_push(&vu.vq[ch[k].qi], ch[k].head,
			(uint32_t)MIN(total, ch[k].len));
		total -= MIN(total, ch[k].len);
	}
	used = k;
	for (k = nch; k-- > used; )
		vu_spare_put(&ch[k]);
	return used;
}

/* How many of the chains @ch a frame of @total bytes fills */
static unsigned int vu_chains_needed(const struct vu_chain *ch,
				     unsigned int nch, size_t total)
{
	unsigned int k;

	for (k = 0; k < nch && total; k++)
		total -= MIN(total, ch[k].len);
	return k;
}

/* Outcomes of putting a frame into the guest */
enum vu_rx_rc { VU_RX_DONE, VU_RX_NOROOM, VU_RX_DROP };

/*
 * Take chains of queue @i into @ch until they hold @total bytes (one
 * chain without MRG_RXBUF). Return: chains taken, or -1 with what was
 * taken given back (*@rc: VU_RX_NOROOM, or VU_RX_DROP if they never can)
 */
static int vu_chains_get(unsigned int i, size_t total, struct vu_chain *ch,
			 unsigned int max, enum vu_rx_rc *rc)
{
	bool mrg = vu_has(&vu, VU_F_MRG_RXBUF);
	unsigned int n = 0, k;
	size_t have = 0;

	while (have < total) {
		enum vq_err e;

		if (n == max || (n && !mrg)) {
			*rc = VU_RX_DROP;	/* buffers too small */
			drop(DROP_TOO_BIG);
			goto fail;
		}
		e = vu_chain_take(i, &ch[n]);
		if (e) {
			*rc = e == VQ_EMPTY ? VU_RX_NOROOM : VU_RX_DROP;
			goto fail;
		}
		have += ch[n++].len;
	}
	return (int)n;
fail:
	for (k = n; k--; )
		vu_spare_put(&ch[k]);
	return -1;
}

/*
 * Put one frame (header @vh, pieces @iov of @len bytes) into receive
 * queue @i. Return: VU_RX_DONE, VU_RX_NOROOM (no buffers: try later),
 * VU_RX_DROP (cannot ever go: dropped and counted)
 */
static enum vu_rx_rc vu_rx_put(unsigned int i, struct virtio_net_hdr *vh,
			       const struct iovec *iov, int iovcnt,
			       size_t len)
{
	static struct vu_chain ch[VU_RX_CHAINS];
	struct virtio_net_hdr_mrg_rxbuf mh = { .hdr = *vh };
	size_t total = VU_VNET_HDR + len, off = VU_VNET_HDR;
	enum vu_rx_rc rc;
	int n, k;

	n = vu_chains_get(i, total, ch, VU_RX_CHAINS, &rc);
	if (n < 0)
		return rc;
	mh.num_buffers = (uint16_t)n;
	vu_chains_write(ch, (unsigned int)n, 0, (const uint8_t *)&mh,
			VU_VNET_HDR);
	for (k = 0; k < iovcnt; k++) {
		vu_chains_write(ch, (unsigned int)n, off, iov[k].iov_base,
				iov[k].iov_len);
		off += iov[k].iov_len;
	}
	vu_chains_used(ch, (unsigned int)n, total);
	vu_n_copied++;
	vu_n_queue[i]++;
	return VU_RX_DONE;
}

/* Put frame @o into the guest. Return: as vu_rx_put() */
static enum vu_rx_rc vu_rx_frame(struct virtio_net_hdr *vh,
				 const struct iovec *iov, int iovcnt,
				 size_t len)
{
	unsigned int pair = vu_rx_pair(iov[0].iov_base, iov[0].iov_len);

	if (!vq_ready(&vu.vq[2 * pair]))
		return VU_RX_NOROOM;
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE &&
	    !vu_has(&vu, (vh->gso_type == VIRTIO_NET_HDR_GSO_TCPV4) ?
		    VU_F_GUEST_TSO4 : VU_F_GUEST_TSO6)) {
		drop(DROP_TOO_BIG);	/* features changed under it */
		return VU_RX_DROP;
	}
	return vu_rx_put(2 * pair, vh, iov, iovcnt, len);
}

/* Keep frame @o for later in the backlog. Return: 0, -1 if full */
static int vu_backlog_add(const struct virtio_net_hdr *vh,
			  const struct frame_out *o)
{
	struct vu_backlog_rec r = { (uint32_t)o->len, *vh };
	size_t need = (sizeof(r) + o->len + 7) & ~(size_t)7;
	uint8_t *p;
	int k;

	if (vu_backlog_tail + need > VU_BACKLOG && vu_backlog_head) {
		memmove(vu_backlog, vu_backlog + vu_backlog_head,
			vu_backlog_tail - vu_backlog_head);
		vu_backlog_tail -= vu_backlog_head;
		vu_backlog_head = 0;
	}
	if (vu_backlog_tail + need > VU_BACKLOG) {
		drop(DROP_QUEUE_FULL);
		return -1;
	}
	p = vu_backlog + vu_backlog_tail;
	memcpy(p, &r, sizeof(r));
	p += sizeof(r);
	for (k = 0; k < o->iovcnt; k++) {
		memcpy(p, o->iov[k].iov_base, o->iov[k].iov_len);
		p += o->iov[k].iov_len;
	}
	vu_backlog_tail += need;
	vu_ctx->q->full = true;
	return 0;
}

/* Publish every receive queue's used entries, signal the guest */
static void vu_rx_notify(void)
{
	unsigned int i;

	for (i = 0; i < vu.pairs; i++)
		vu_queue_notify(&vu, 2 * i);
}

/* Deliver waiting frames, in order, while the guest has buffers */
static void vu_rx_drain(void)
{
	while (vu_backlog_head < vu_backlog_tail) {
		struct vu_backlog_rec r;
		struct iovec iov;

		memcpy(&r, vu_backlog + vu_backlog_head, sizeof(r));
		iov.iov_base = vu_backlog + vu_backlog_head + sizeof(r);
		iov.iov_len = r.len;
		if (vu_rx_frame(&r.vh, &iov, 1, r.len) == VU_RX_NOROOM)
			break;
		vu_backlog_head += (sizeof(r) + r.len + 7) & ~(size_t)7;
	}
	if (vu_backlog_head == vu_backlog_tail)
		vu_backlog_clear();
	vu_rx_notify();
}

/* The pieces of chains @ch from byte @off on, @len bytes, into @iov.
 * Return: pieces, -1 if more than @max */
static int vu_chains_iov(const struct vu_chain *ch, unsigned int nch,
			 size_t off, size_t len, struct iovec *iov,
			 unsigned int max)
{
	unsigned int k, j, n = 0;

	for (k = 0; k < nch && len; k++) {
		for (j = 0; j < ch[k].n && len; j++) {
			size_t piece = ch[k].iov[j].iov_len, m;

			if (off >= piece) {
				off -= piece;
				continue;
			}
			if (n == max)
				return -1;
			m = MIN(piece - off, len);
			iov[n].iov_base = (uint8_t *)ch[k].iov[j].iov_base + off;
			iov[n++].iov_len = m;
			len -= m;
			off = 0;
		}
	}
	return (int)n;
}

/**
 * vu_net_direct() - Lend guest receive buffers for a frame's payload
 * @q:		Output queue
 * @hdr:	The frame's headers (addresses and ports set)
 * @hdr_len:	Their length
 * @len:	Payload bytes
 * @iov:	Where the payload goes, filled
 * @max:	Room in @iov
 * @loan:	Names the loan, for frame_direct_last()
 *
 * The buffers of the receive queue the frame's flow goes to are taken
 * now, with room for the virtio-net header and @hdr_len bytes in the
 * first piece; vu_net_flush() writes those when the frame is queued.
 * Only for frames with offloaded checksums (the payload is never summed
 * here) and with no frame waiting in the backlog (order).
 *
 * Return: pieces, or -1 to build the frame in the queue's arena
 */
static int vu_net_direct(struct frame_queue *q, const uint8_t *hdr,
			 size_t hdr_len, size_t len, struct iovec *iov,
			 unsigned int max, uint32_t *loan)
{
	size_t total = VU_VNET_HDR + hdr_len + len;
	struct vu_loan *l = &vu_loans[vu_loans_n];
	unsigned int pair, k;
	enum vu_rx_rc rc;
	int n, pieces;

	if (vu.fd < 0 || !q->csum_skip || vu_loans_n == VU_LOANS_MAX)
		return -1;
	if (vu_backlog_head != vu_backlog_tail) {
		vu_rx_drain();
		if (vu_backlog_head != vu_backlog_tail)
			return -1;
	}
	pair = vu_rx_pair(hdr, hdr_len);
	if (!vq_ready(&vu.vq[2 * pair]))
		return -1;
	n = vu_chains_get(2 * pair, total, vu_lent + vu_lent_n,
			  MIN(VU_RX_CHAINS, VU_LENT_MAX - vu_lent_n), &rc);
	if (n < 0)
		return -1;
	pieces = -1;
	if (vu_lent[vu_lent_n].iov[0].iov_len >= VU_VNET_HDR + hdr_len)
		pieces = vu_chains_iov(vu_lent + vu_lent_n, (unsigned int)n,
				       VU_VNET_HDR + hdr_len, len, iov, max);
	if (pieces < 0) {
		for (k = (unsigned int)n; k--; )
			vu_spare_put(&vu_lent[vu_lent_n + k]);
		return -1;
	}
	l->first = (uint16_t)vu_lent_n;
	l->n = (uint16_t)n;
	l->used = false;
	vu_lent_n += (unsigned int)n;
	*loan = vu_loans_n++;
	return pieces;
}

/* Frame @o's payload is in its loan's chains: write its header and
 * headers in front, return the chains to the guest */
static void vu_rx_lent(struct frame_out *o, struct virtio_net_hdr *vh)
{
	struct virtio_net_hdr_mrg_rxbuf mh = { .hdr = *vh };
	struct vu_loan *l;
	struct vu_chain *ch;
	size_t total;

	if (o->loan >= vu_loans_n || vu_loans[o->loan].used) {
		drop(DROP_QUEUE_FULL);	/* cannot be: a frame without loan */
		return;
	}
	l = &vu_loans[o->loan];
	l->used = true;
	ch = &vu_lent[l->first];
	total = VU_VNET_HDR + o->len;
	mh.num_buffers = (uint16_t)vu_chains_needed(ch, l->n, total);
	/* the first piece holds both: vu_net_direct() checked */
	memcpy(ch->iov[0].iov_base, &mh, VU_VNET_HDR);
	memcpy((uint8_t *)ch->iov[0].iov_base + VU_VNET_HDR,
	       o->iov[0].iov_base, o->iov[0].iov_len);
	vu_chains_used(ch, l->n, total);
	vu_n_direct++;
	vu_n_queue[ch->qi]++;
}

/* Loans no frame took (a peek that got less, or nothing): their chains
 * become spares */
static void vu_loans_end(void)
{
	unsigned int i, k;

	for (i = vu_loans_n; i--; ) {
		const struct vu_loan *l = &vu_loans[i];

		for (k = l->n; !l->used && k--; )
			vu_spare_put(&vu_lent[l->first + k]);
	}
	vu_loans_n = 0;
	vu_lent_n = 0;
}

/* The header for frame @o; -1 if its checksum cannot be made complete */
static int vu_rx_hdr(struct frame_out *o, struct virtio_net_hdr *vh)
{
	if (o->csum_start && !vu_has(&vu, VU_F_GUEST_CSUM) &&
	    !o->gso_size && frame_csum_complete(o))
		return -1;
	tap_vnet_hdr(vh, o);
	return 0;
}

/*
 * The backlog drained in a flush while connections wait for room: they
 * are resumed from the loop (a flush may not send), by the kick of a
 * running receive queue, signalled here
 */
static void vu_rx_kick_self(void)
{
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < vu.pairs; i++) {
		struct virtq *q = &vu.vq[2 * i];

		if (!vq_ready(q))
			continue;
		if (write(q->kick_fd, &one, sizeof(one)) < 0)
			log_debug("vhost-user: queue %u: cannot kick: %s",
				  2 * i, strerror(errno));
		return;
	}
}

/**
 * vu_net_flush() - Put every queued frame into the guest, empty the queue
 * @q:		Output queue
 */
void vu_net_flush(struct frame_queue *q)
{
	unsigned int i;

	if (vu.fd < 0)
		goto out;
	vu_tx_reap();	/* zerocopy sends completed since the last flush */
	vu_rx_drain();
	for (i = 0; i < q->n; i++) {
		struct frame_out *o = &q->out[i];
		struct virtio_net_hdr vh;

		if (!o->iovcnt)
			continue;
		if (vu_rx_hdr(o, &vh)) {
			drop(DROP_QUEUE_FULL);
			continue;
		}
		if (o->direct) {
			/* already in place, whatever waits in the backlog */
			vu_rx_lent(o, &vh);
			continue;
		}
		pcap_frame_iov(o->iov, o->iovcnt, o->len);
		if (vu_backlog_head == vu_backlog_tail &&
		    vu_rx_frame(&vh, o->iov, o->iovcnt, o->len) !=
		    VU_RX_NOROOM)
			continue;
		vu_backlog_add(&vh, o);
	}
	vu_loans_end();
	vu_rx_notify();
	if (!q->full && tcp_front_waiting())
		vu_rx_kick_self();
out:
	vu_loans_n = vu_lent_n = 0;
	frame_queue_reset(q);
}
