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
 * frame out of guest memory into one of VU_BUFS receive buffers, returns
 * the chain to the guest, and hands the batch to tap_dispatch() as the
 * tap and stream frontends do. The copy is the one place guest data is
 * read: the parsers and protocols see only our copy, which the guest
 * cannot change under them. The header says whether the guest left the
 * checksum partial (CSUM) and whether the frame is a TCP segment of up
 * to 64 KiB for us to cut (HOST_TSO4/6): the protocols take both, as
 * from a tap with offloads. Other segmentation kinds are dropped.
 *
 * Toward the guest: vu_net_flush() is the output queue's flush hook. Each
 * frame goes to the receive queue of one pair, chosen by a hash of its
 * addresses and ports among the pairs whose receive queue runs (so a
 * flow's frames stay in order on one queue), non-IP frames to the first.
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
 * System calls: those of vhost_user.c, and accept4 (accept.c), fcntl.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "accept.h"
#include "epoll_ref.h"
#include "log.h"
#include "pcap.h"
#include "tap.h"
#include "vhost_user.h"
#include "vu_net.h"
#include "zerocopy.h"
#include "syscalls.h"

#define VU_BUFS		4		/* frames from the guest, copied */
#define VU_TX_BUDGET	1024		/* chains taken per kick */
#define VU_FRAMES_MAX	4096		/* frames dispatched as one batch */
#define VU_RX_CHAINS	128		/* buffers one frame may take */
#define VU_BACKLOG	(16 << 20)	/* frames waiting for guest buffers */
#define VU_VNET_HDR	sizeof(struct virtio_net_hdr_mrg_rxbuf)

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

static struct vq_elem vu_rx_elem[VU_RX_CHAINS];

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

/* Empty the backlog */
static void vu_backlog_clear(void)
{
	vu_backlog_head = vu_backlog_tail = 0;
}

static void vu_rx_drain(void);
static void vu_tx(struct ctx *c, unsigned int i);

/* The device's events (vhost_user.c) */
static void vu_event(struct vu_dev *d, unsigned int i, enum vu_event ev)
{
	(void)d;
	switch (ev) {
	case VU_EV_KICK:
		if (i % 2)
			vu_tx(vu_ctx, i);
		else
			vu_rx_drain();
		break;
	case VU_EV_START:
		log_debug("vhost-user: queue %u started", i);
		if (i % 2)
			vu_tx(vu_ctx, i);
		else
			vu_rx_drain();
		break;
	case VU_EV_STOP:
		log_debug("vhost-user: queue %u stopped", i);
		vu_queue_notify(&vu, i);
		break;
	case VU_EV_FEATURES:
		vu_features_set(vu_ctx);
		break;
	case VU_EV_GONE:
		vu_backlog_clear();
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

/* Copy @len bytes from pieces @iov into @dst */
static void iov_to_buf(uint8_t *dst, const struct iovec *iov, unsigned int n,
		       size_t len)
{
	unsigned int i;

	for (i = 0; i < n && len; i++) {
		size_t k = MIN(len, iov[i].iov_len);

		memcpy(dst, iov[i].iov_base, k);
		dst += k;
		len -= k;
	}
}

/* Next receive buffer no protocol holds, NULL if all are held */
static struct frame_buf *vu_buf_get(void)
{
	unsigned int i;

	for (i = 0; i < VU_BUFS; i++) {
		struct frame_buf *b = &vu_bufs[vu_buf_next];

		vu_buf_next = (vu_buf_next + 1) % VU_BUFS;
		if (!b->holds)
			return b;
	}
	return NULL;
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

/* Take a batch of frames from transmit queue @i into buffer @b. Return:
 * frames parsed into @frames; *@more if chains were left */
static unsigned int vu_tx_batch(struct ctx *c, unsigned int i,
				struct frame_buf *b, struct frame_in *frames,
				unsigned int *budget, bool *more)
{
	size_t rd = VU_VNET_HDR + ETH_HDR_LEN + IP6_HDR_LEN + 65535;
	struct virtq *q = &vu.vq[i];
	static struct vq_elem e;
	unsigned int n = 0;
	size_t used = 0;

	*more = false;
	while (n < VU_FRAMES_MAX && *budget) {
		enum vq_err rc;
		size_t len;

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
		len = MIN(e.len, rd);
		iov_to_buf(b->data + used, e.iov, e.n, len);
		vq_push(q, e.head, 0);
		if (e.len > rd) {
			drop(DROP_TOO_BIG);
			continue;
		}
		if (!vu_tx_frame(c, b->data + used, len, &frames[n]))
			frames[n++].buf = b;
		used += (len + 7) & ~(size_t)7;
	}
	if (!*budget)
		*more = vq_ready(q) && vq_avail_count(q);
	return n;
}

/* Take and dispatch what the guest queued on transmit queue @i (odd) */
static void vu_tx(struct ctx *c, unsigned int i)
{
	static struct frame_in frames[VU_FRAMES_MAX];
	unsigned int budget = VU_TX_BUDGET, n;
	struct virtq *q = &vu.vq[i];
	bool more = true;

	while (more && budget && vq_ready(q)) {
		/* zerocopy.c never lends the last free buffer */
		struct frame_buf *b = vu_buf_get();

		if (!b)
			break;
		n = vu_tx_batch(c, i, b, frames, &budget, &more);
		vu_queue_notify(&vu, i);
		frame_buf_hold(b);
		tap_dispatch(c, frames, n);
		frame_buf_release(b);
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

/* Copy header @vh and frame pieces into the chains @e, starting at byte
 * 0 of the first; return each chain to the queue with what it got */
static void vu_rx_copy(struct virtq *q, unsigned int nchains,
		       const struct virtio_net_hdr_mrg_rxbuf *vh,
		       const struct iovec *iov, int iovcnt)
{
	const uint8_t *src = (const uint8_t *)vh;
	size_t srclen = VU_VNET_HDR;
	unsigned int k;
	int s = -1;

	for (k = 0; k < nchains; k++) {
		struct vq_elem *e = &vu_rx_elem[k];
		uint32_t put = 0;
		unsigned int j;

		for (j = 0; j < e->n; j++) {
			uint8_t *dst = e->iov[j].iov_base;
			size_t room = e->iov[j].iov_len;

			while (room) {
				size_t m;

				if (!srclen) {
					if (++s >= iovcnt)
						break;
					src = iov[s].iov_base;
					srclen = iov[s].iov_len;
					continue;
				}
				m = MIN(room, srclen);
				memcpy(dst, src, m);
				dst += m;
				room -= m;
				src += m;
				srclen -= m;
				put += (uint32_t)m;
			}
		}
		vq_push(q, e->head, put);
	}
}

/* Outcomes of putting a frame into the guest */
enum vu_rx_rc { VU_RX_DONE, VU_RX_NOROOM, VU_RX_DROP };

/*
 * Put one frame (header @vh, pieces @iov of @len bytes) into receive
 * queue @i. Return: VU_RX_DONE, VU_RX_NOROOM (no buffers: try later),
 * VU_RX_DROP (cannot ever go: dropped and counted)
 */
static enum vu_rx_rc vu_rx_put(unsigned int i, struct virtio_net_hdr *vh,
			       const struct iovec *iov, int iovcnt,
			       size_t len)
{
	struct virtio_net_hdr_mrg_rxbuf mh = { .hdr = *vh };
	bool mrg = vu_has(&vu, VU_F_MRG_RXBUF);
	size_t total = VU_VNET_HDR + len, have = 0;
	struct virtq *q = &vu.vq[i];
	unsigned int n = 0;

	while (have < total) {
		enum vq_err rc;

		if (n == VU_RX_CHAINS || (n && !mrg)) {
			vq_unpop(q, n);
			drop(DROP_TOO_BIG);	/* buffers too small */
			return VU_RX_DROP;
		}
		rc = vq_pop(q, &vu.mem, true, &vu_rx_elem[n]);
		if (rc == VQ_EMPTY) {
			vq_unpop(q, n);
			return VU_RX_NOROOM;
		}
		if (rc == VQ_ERR_TOO_MANY) {
			vq_push(q, vu_rx_elem[n].head, 0);
			continue;
		}
		if (rc) {
			vu_broken(i, rc);
			drop(DROP_QUEUE_FULL);
			return VU_RX_DROP;
		}
		/* the header may span pieces: vu_rx_copy() spreads it */
		have += vu_rx_elem[n++].len;
	}
	mh.num_buffers = (uint16_t)n;
	vu_rx_copy(q, n, &mh, iov, iovcnt);
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

/* The header for frame @o; -1 if its checksum cannot be made complete */
static int vu_rx_hdr(struct frame_out *o, struct virtio_net_hdr *vh)
{
	if (o->csum_start && !vu_has(&vu, VU_F_GUEST_CSUM) &&
	    !o->gso_size && frame_csum_complete(o))
		return -1;
	tap_vnet_hdr(vh, o);
	return 0;
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
		pcap_frame_iov(o->iov, o->iovcnt, o->len);
		if (vu_backlog_head == vu_backlog_tail &&
		    vu_rx_frame(&vh, o->iov, o->iovcnt, o->len) !=
		    VU_RX_NOROOM)
			continue;
		vu_backlog_add(&vh, o);
	}
	vu_rx_notify();
out:
	frame_queue_reset(q);
}
