/* test/tools/vm_bench.c - plays a QEMU guest on a VM-mode daemon's stream
 * socket, or its vhost-user front end, to measure it: UDP frames per
 * second and TCP throughput, each way
 *
 * Theory of operation
 * A guest under TCG is too slow to load a daemon, so this tool stands in
 * for it: it speaks the socket protocol QEMU's -netdev stream speaks
 * (a 32-bit big-endian length, then the Ethernet frame), or with -V it is
 * the vhost-user front end of the daemon's virtio-net device, with as
 * little work of its own as possible, so that what is measured is the
 * daemon. The same binary also provides the far ends, plain sockets meant
 * to run in the "remote" namespace, so every number comes from one place.
 *
 * Guest: the address is given, not learnt (-a, default 192.0.2.1, the
 * host's address, which is what the daemon hands out), and so is the
 * gateway (-g, default 192.0.2.2). An ARP request for the gateway first
 * tells the daemon our MAC (it sends to the MAC it learnt from our frames)
 * and gives us the gateway's, the destination of everything we send.
 * ARP requests for our own address are answered; other frames that are
 * not part of the measurement (router advertisements, ...) are skipped.
 *
 * Stream transport: frames out are written many at a time: udp-out
 * repeats one frame (ID 0 with DF, so every copy is identical and built
 * once) -n times behind their lengths and writes that buffer again and
 * again; tcp-out writes up to 1 MiB of segments with one writev(), each
 * segment being a small header slot and the same payload buffer, whose
 * checksum is summed once. Frames in are parsed in place in one large
 * read buffer; only headers are looked at (no checksum is verified: the
 * functional tests do that). The socket is blocking: the daemon always
 * reads, so a write blocks only while the daemon is behind, which is the
 * back-pressure a guest gets.
 *
 * vhost-user transport (-V, vhost-user.rst of QEMU for the messages, the
 * virtio spec for the rings): guest memory is one memfd of VU_MEM bytes,
 * mapped shared here and passed whole with SET_MEM_TABLE as one region
 * (guest physical address = offset in it, the front end's address = our
 * mapping). Negotiation: SET_OWNER, GET_FEATURES, GET_PROTOCOL_FEATURES
 * and SET_PROTOCOL_FEATURES (MQ, REPLY_ACK: from then on every setting
 * message asks for an acknowledgement and a refusal is an error),
 * GET_QUEUE_NUM with -q PAIRS above 1, SET_FEATURES (VERSION_1, MRG_RXBUF
 * if offered, MQ with -q, and unless -O the checksum and TCPv4/v6
 * segmentation offloads both ways), then per queue SET_VRING_NUM (VQ_N),
 * SET_VRING_ADDR, SET_VRING_BASE 0, SET_VRING_KICK, SET_VRING_CALL
 * (eventfds, in QEMU's order) and SET_VRING_ENABLE 1. Queue 2k is pair k's receive queue,
 * 2k + 1 its transmit queue; every buffer starts with the 12-byte
 * virtio_net_hdr_mrg_rxbuf.
 *   Receive queues hold device-writable buffers of 4 KiB with MRG_RXBUF
 * (a frame of up to 64 KiB takes num_buffers of them), else fewer of
 * 72 KiB. Used entries are taken in order, the frame parsed in place in
 * its first buffer (headers only: gathered into a scratch buffer if that
 * one is short), and the buffers go back on the available ring at once;
 * the queue is kicked after a refill only when the daemon held less than
 * half of them (it waits for a kick only when it ran out). We wait in
 * poll() on the receive queues' call eventfds and the vhost-user socket
 * (the daemon closing it ends the run).
 *   Transmit chains are a header slot (virtio-net header, Ethernet, IP,
 * TCP or UDP headers, built in place) and, for data, the one payload
 * buffer in guest memory every chain points to, as the stream transport's
 * writev does; udp-out's chains all point to one frame built once. The
 * available index is published and the queue kicked once per batch;
 * transmit interrupts are suppressed (VRING_AVAIL_F_NO_INTERRUPT) except
 * while waiting for the daemon to return chains when all are in flight.
 * With offloads negotiated, segments carry NEEDS_CSUM (the TCP checksum
 * field holds the pseudo-header sum) and tcp-out sends frames of up to
 * 64 KiB with gso_type TCPV4 and gso_size the MSS; tcp-in takes the
 * daemon's 64 KiB GSO frames as they are. Without offloads (-O) segments
 * are of the MSS with full checksums, as on the stream.
 *   Nothing the daemon puts in the used rings is trusted: an index beyond
 * our buffers, a length below the header or a num_buffers beyond the
 * ring ends the run with an error.
 *
 * TCP: a minimal endpoint, enough for a lossless path. The SYN carries
 * MSS (-M MTU minus 40) and window scale 7; the window we advertise is
 * 65535 << 7 (8 MiB), as we consume at once. tcp-out sends full segments
 * of constant bytes while the peer's window allows; the peer acknowledges
 * only what its socket took (passt and passtd both do), so on three
 * duplicate ACKs (not counting those that answer segments sent before it
 * last went back), or 200 ms without progress, it goes back to the first
 * unacknowledged byte (the payload is constant: nothing to keep) and
 * counts a retransmission; after 200 ms of zero window it sends one
 * segment anyway as a probe. tcp-in takes segments in order, answers
 * every read with one cumulative ACK, and counts a segment beyond the
 * next expected byte as a gap (dropped, answered with a duplicate ACK so
 * the sender goes back) and one before it as a duplicate. Either way, 3 s
 * without progress is an error, as is a reset or a FIN before the end:
 * the tool never hangs. At the end, or on a failure, it resets the
 * connection. With -P N there are N connections from consecutive source
 * ports, opened together, each sending or receiving on its own (with -q,
 * connection i transmits on pair i modulo PAIRS; the daemon picks the
 * receive queue); figures are their sums.
 *
 * Usage: vm_bench [OPTION]... MODE ARG...
 * Guest modes, on the daemon's socket (-s PATH):
 *   udp-out HOST PORT LEN  send UDP datagrams of LEN bytes to HOST:PORT
 *			    for -d seconds; prints what was sent (the far
 *			    end, udp-sink, counts what arrived)
 *   udp-in PORT LEN	    count UDP datagrams to our PORT (the daemon's
 *			    -u PORT) arriving on the stream, from the first
 *			    until -i MS pass without one
 *   tcp-out HOST PORT	    connect, send for -d seconds (count what the
 *			    daemon acknowledged)
 *   tcp-in HOST PORT	    connect, receive for -d seconds
 *   Guest modes print "ready" once the gateway answered ARP.
 * Far ends, plain sockets:
 *   udp-sink PORT	    count datagrams (recvmmsg), from the first until
 *			    -i MS pass without one
 *   udp-source HOST PORT LEN  send datagrams of LEN bytes for -d seconds
 *			    (sendmmsg, 64 per call, as fast as possible)
 *   tcp-sink PORT	    accept one connection (-P N: N), read until its
 *			    end (their ends)
 *   tcp-source PORT	    accept one connection (-P N: N), write until it
 *			    ends (they end)
 *   Servers print "listening PORT" once they listen.
 * Options:
 *	-s PATH	   daemon socket (guest modes)
 *	-V	   be the daemon's vhost-user front end on -s PATH
 *	-q PAIRS   vhost-user queue pairs (default 1, at most VU_PAIRS)
 *	-R N	   vhost-user: post only N receive buffers per queue (32 to
 *		   VQ_N): a guest short of buffers (the daemon must hold
 *		   data back, not drop it)
 *	-O	   vhost-user: no checksum or segmentation offloads
 *	-P N	   TCP modes and their far ends: N connections (default 1)
 *	-a ADDR	   guest IPv4 address (default 192.0.2.1)
 *	-g ADDR	   gateway (default 192.0.2.2)
 *	-m MAC	   guest MAC (default 02:00:00:00:00:01)
 *	-M MTU	   guest MTU (default 65520)
 *	-d SECS	   measuring time (default 10)
 *	-n N	   udp-out: frames per write or batch (default 256)
 *	-i MS	   udp-in, udp-sink: silence that ends the count (1000)
 *	-b ADDR	   far ends: address to bind (servers) or send from
 *	-t SECS	   give up after SECS (default -d plus 30): exit status 3
 *
 * Output: one line of key=value pairs per measurement (mode, frames,
 * bytes, secs, fps, gbps, ...; Gbit/s count UDP or TCP payload only; with
 * -P above 1 also streams=N), and on a failure a line starting with
 * "error:" on standard error.
 * Exit status: 0 measured, 1 failure (no answer, reset, stall, nothing
 * received), 2 usage or set-up error, 3 timeout.
 *
 * System calls: socket, connect, bind, listen, accept, setsockopt, read,
 * write, writev, poll, sendmmsg, recvmmsg, close, clock_gettime, alarm;
 * with -V also memfd_create, ftruncate, mmap, eventfd, sendmsg, recv.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tool_common.h"

#define ETH_LEN		14
#define IP4_LEN		20
#define UDP_LEN		8
#define TCP_LEN		20
#define LEN_LEN		4		/* length before each frame */
#define VNET_LEN	12		/* virtio_net_hdr_mrg_rxbuf */
#define PRE		VNET_LEN	/* room before a frame in a slot */
#define FRAME_MAX	(ETH_LEN + 65535)
#define RX_SIZE		(4 << 20)	/* stream bytes per read, at most */
#define SOCKBUF		(4 << 20)	/* socket buffers we ask for */
#define TX_BYTES	(1 << 20)	/* bytes per write, about */
#define SEG_MAX		512		/* segments per writev */
#define MMSG		64		/* datagrams per (send|recv)mmsg */
#define WS_OURS		7		/* our window scale */
#define RTO_MS		200		/* go back: no ACK for this long */
#define STALL_MS	3000		/* no progress: give up */
#define CONN_MAX	64		/* -P at most */
#define SLOT_LEN	(PRE + ETH_LEN + IP4_LEN + TCP_LEN + 8)

#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_PSH		0x08
#define TH_ACK		0x10

#define SEQ_LT(a, b)	((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b)	((int32_t)((a) - (b)) <= 0)

/* vhost-user (vhost-user.rst): requests, flags, the bits beyond virtio's */
#define VU_GET_FEATURES			1
#define VU_SET_FEATURES			2
#define VU_SET_OWNER			3
#define VU_SET_MEM_TABLE		5
#define VU_SET_VRING_NUM		8
#define VU_SET_VRING_ADDR		9
#define VU_SET_VRING_BASE		10
#define VU_SET_VRING_KICK		12
#define VU_SET_VRING_CALL		13
#define VU_GET_PROTOCOL_FEATURES	15
#define VU_SET_PROTOCOL_FEATURES	16
#define VU_GET_QUEUE_NUM		17
#define VU_SET_VRING_ENABLE		18
#define VU_FLAG_VERSION		0x1
#define VU_FLAG_REPLY		0x4
#define VU_FLAG_NEED_REPLY	0x8
#define VU_HDR_LEN		12
#define VU_F_PROTOCOL_FEATURES	30
#define VU_PF_MQ		0
#define VU_PF_REPLY_ACK		3
#define BIT(b)			(1ULL << (b))

#define VU_MEM		(256ULL << 20)	/* guest memory */
#define VU_PAIRS	8		/* -q at most */
#define VQ_N		1024		/* ring size, every queue */
#define VU_SLOTS	(VQ_N / 2)	/* transmit chains: 2 descriptors */
#define VU_SLOT		256		/* bytes of a transmit header slot */
#define VU_RXBUF	4096		/* receive buffer, MRG_RXBUF */
#define VU_RXBUF_BIG	(72 << 10)	/* receive buffer without it */
#define VU_RXBIG_N	256		/* how many of those */
#define VU_PAYLOAD	(72 << 10)	/* the shared transmit payload */
#define VU_SCRATCH	256		/* headers of a frame, gathered */

static int sock = -1;
static uint8_t guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static uint8_t gw_mac[6];
static bool gw_known;
static struct in_addr guest_ip, gw_ip, bind_ip;
static unsigned int mtu = 65520;
static unsigned int secs = 10;
static unsigned int per_write = 256;
static unsigned int idle_ms = 1000;
static unsigned int nconn = 1;

static uint8_t *rx;			/* stream bytes not parsed yet */
static size_t rx_len;

/**
 * struct vu_queue - One virtqueue as the front end keeps it
 * @desc:	Descriptor table, in guest memory
 * @avail:	Available ring
 * @used:	Used ring
 * @kick:	Kick eventfd (we write it)
 * @call:	Call eventfd (the daemon writes it)
 * @avail_idx:	Next available index, ours (published in batches)
 * @last_used:	Used entries taken so far
 * @buf:	Receive buffers or transmit header slots, in guest memory
 * @buf_len:	Bytes of each
 * @nbuf:	How many
 * @free:	Transmit: slots not in flight
 * @nfree:	How many
 */
struct vu_queue {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kick, call;
	uint16_t avail_idx, last_used;
	uint8_t *buf;
	uint32_t buf_len;
	unsigned int nbuf;
	uint16_t free[VU_SLOTS];
	unsigned int nfree;
};

static bool vhost;			/* -V */
static bool no_offload;			/* -O */
static unsigned int pairs = 1;		/* -q */
static unsigned int rx_bufs;		/* -R: receive buffers posted, 0: all */
static int vu_sock = -1;
static uint8_t *gmem;			/* guest memory, mapped here */
static size_t gmem_used;
static uint64_t vu_proto;		/* protocol features set */
static bool vu_mrg, vu_csum, vu_tso;	/* negotiated: what we may do */
static struct vu_queue vq[2 * VU_PAIRS];
static uint8_t vu_scratch[VU_SCRATCH];
/* Return: monotonic time in nanoseconds */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One's complement sum of @len bytes, added to @sum, not folded */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

/* Add two one's complement sums, carrying around */
static uint32_t add32(uint32_t a, uint32_t b)
{
	uint64_t s = (uint64_t)a + b;

	return (uint32_t)((s & 0xffffffff) + (s >> 32));
}

/* SIGALRM: the -t bound */
static void on_alarm(int sig)
{
	static const char msg[] = "error: timeout\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

/**
 * fail() - Print an error line
 * @fmt:	printf format, then its arguments
 *
 * Return: 1, the exit status of a failure
 */
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/**
 * write_all() - Write all of a buffer to the stream, blocking
 * @p:		Bytes
 * @len:	Their length
 *
 * Return: 0, or -1 if the daemon closed the stream or writing failed
 */
static int write_all(const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(sock, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * writev_all() - Write all pieces to the stream, blocking
 * @iov:	Pieces, modified as they go
 * @cnt:	Number of pieces, at most IOV_MAX
 *
 * Return: 0, or -1 if the daemon closed the stream or writing failed
 */
static int writev_all(struct iovec *iov, int cnt)
{
	while (cnt) {
		ssize_t n = writev(sock, iov, cnt);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Why the last write or transmit failed, set by the vhost-user path */
static const char *tx_err;

/* Return: why the last write failed, in words */
static const char *write_why(void)
{
	return tx_err ? tx_err : strerror(errno);
}

/* Guest physical address of @p, which lies in guest memory */
static uint64_t gpa(const void *p)
{
	return (uint64_t)((const uint8_t *)p - gmem);
}

/**
 * galloc() - Take a piece of guest memory, never given back
 * @len:	Bytes
 * @align:	Alignment, a power of two
 *
 * Return: the piece (zeroed: the memfd is new), NULL if memory is full
 */
static void *galloc(size_t len, size_t align)
{
	size_t off = (gmem_used + align - 1) & ~(align - 1);

	if (off + len > VU_MEM)
		return NULL;
	gmem_used = off + len;
	return gmem + off;
}

/**
 * vu_send() - Send one vhost-user message
 * @req:	Request
 * @flags:	VU_FLAG_NEED_REPLY or 0
 * @pl:		Payload, NULL if @size is 0
 * @size:	Its length
 * @fds:	Descriptors to pass with the header
 * @nfds:	How many, at most 1 here
 *
 * Return: 0, or -1 if it could not be sent whole
 */
static int vu_send(uint32_t req, uint32_t flags, const void *pl,
		   uint32_t size, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint32_t h[3] = { req, VU_FLAG_VERSION | flags, size };
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)pl, size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;

	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), fds, sizeof(int));
	}
	do
		n = sendmsg(vu_sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)(sizeof(h) + size) ? 0 : -1;
}

/**
 * vu_read() - Read exactly @len bytes from the vhost-user socket
 * @p:		Destination
 * @len:	Bytes
 *
 * Return: 0, or -1 if the daemon closed it or was silent for STALL_MS
 */
static int vu_read(void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		struct pollfd pfd = { .fd = vu_sock, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, STALL_MS) <= 0)
			return -1;
		n = recv(vu_sock, b, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * vu_reply() - Read the 64-bit reply to request @req
 * @req:	Request it answers
 * @v:		Its value, set
 *
 * Return: 0, or 1 (printed) if there is no such reply
 */
static int vu_reply(uint32_t req, uint64_t *v)
{
	uint32_t h[3];

	if (vu_read(h, sizeof(h)) || h[0] != req ||
	    !(h[1] & VU_FLAG_REPLY) || h[2] != sizeof(*v) ||
	    vu_read(v, sizeof(*v)))
		return fail("vhost-user: no reply to request %u", req);
	return 0;
}

/* GET_* request @req, its answer in @v. Return: 0, or 1 (printed) */
static int vu_get(uint32_t req, uint64_t *v)
{
	if (vu_send(req, 0, NULL, 0, NULL, 0))
		return fail("vhost-user: request %u: %s", req,
			    strerror(errno));
	return vu_reply(req, v);
}

/**
 * vu_set() - Send a setting message, wait for its acknowledgement
 * @req:	Request
 * @pl:		Payload
 * @size:	Its length
 * @fd:		Descriptor to pass, -1 for none
 *
 * With REPLY_ACK negotiated every setting message asks for an
 * acknowledgement, so that a refusal stops us where it happened.
 *
 * Return: 0, or 1 (printed) on failure or refusal
 */
static int vu_set(uint32_t req, const void *pl, uint32_t size, int fd)
{
	bool ack = vu_proto & BIT(VU_PF_REPLY_ACK);
	uint64_t v;

	if (vu_send(req, ack ? VU_FLAG_NEED_REPLY : 0, pl, size, &fd,
		    fd >= 0 ? 1 : 0))
		return fail("vhost-user: request %u: %s", req,
			    strerror(errno));
	if (!ack)
		return 0;
	if (vu_reply(req, &v))
		return 1;
	if (v)
		return fail("vhost-user: request %u refused (%llu)", req,
			    (unsigned long long)v);
	return 0;
}

/**
 * vu_queue_setup() - Lay out queue @i in guest memory, pass it over
 * @i:		Queue index: even receive, odd transmit
 *
 * Receive queues get their buffers on the available ring at once;
 * transmit queues start empty, with interrupts suppressed.
 *
 * Return: 0, or exit status on failure (printed)
 */
static int vu_queue_setup(unsigned int i)
{
	struct {
		uint32_t index, num;
	} st = { i, VQ_N };
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} ad;
	struct vu_queue *q = &vq[i];
	uint64_t idx = i;
	bool rxq = !(i % 2);
	unsigned int k;

	q->desc = galloc(sizeof(*q->desc) * VQ_N, 4096);
	q->avail = galloc(sizeof(*q->avail) + sizeof(uint16_t) * (VQ_N + 1),
			  4096);
	q->used = galloc(sizeof(*q->used) +
			 sizeof(struct vring_used_elem) * VQ_N +
			 sizeof(uint16_t), 4096);
	q->buf_len = rxq ? (vu_mrg ? VU_RXBUF : VU_RXBUF_BIG) : VU_SLOT;
	q->nbuf = rxq ? (vu_mrg ? VQ_N : VU_RXBIG_N) : VU_SLOTS;
	if (rxq && rx_bufs && rx_bufs < q->nbuf)
		q->nbuf = rx_bufs;	/* a guest short of buffers */
	q->buf = galloc((size_t)q->buf_len * q->nbuf, 4096);
	q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick < 0 || q->call < 0)
		return fail("eventfd: %s", strerror(errno)), 2;
	if (!q->desc || !q->avail || !q->used || !q->buf)
		return fail("vhost-user: queue %u: out of guest memory", i),
		       2;
	if (rxq) {
		for (k = 0; k < q->nbuf; k++) {
			uint8_t *b = q->buf + (size_t)k * q->buf_len;

			q->desc[k].addr = htole64(gpa(b));
			q->desc[k].len = htole32(q->buf_len);
			q->desc[k].flags = htole16(VRING_DESC_F_WRITE);
			q->avail->ring[k] = htole16((uint16_t)k);
		}
		q->avail_idx = (uint16_t)q->nbuf;
		q->avail->idx = htole16(q->avail_idx);
	} else {
		for (k = 0; k < q->nbuf; k++)
			q->free[k] = (uint16_t)(q->nbuf - 1 - k);
		q->nfree = q->nbuf;
		q->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	}
	ad.index = i;
	ad.flags = 0;
	ad.desc = (uintptr_t)q->desc;
	ad.used = (uintptr_t)q->used;
	ad.avail = (uintptr_t)q->avail;
	ad.log = 0;
	if (vu_set(VU_SET_VRING_NUM, &st, sizeof(st), -1) ||
	    vu_set(VU_SET_VRING_ADDR, &ad, sizeof(ad), -1))
		return 1;
	/* KICK before CALL, as QEMU sends them: passtd's SET_VRING_KICK
	 * stops the queue, which closes a call eventfd given before it */
	st.num = 0;
	if (vu_set(VU_SET_VRING_BASE, &st, sizeof(st), -1) ||
	    vu_set(VU_SET_VRING_KICK, &idx, sizeof(idx), q->kick) ||
	    vu_set(VU_SET_VRING_CALL, &idx, sizeof(idx), q->call))
		return 1;
	st.num = 1;
	return vu_set(VU_SET_VRING_ENABLE, &st, sizeof(st), -1);
}

/**
 * vu_start() - Connect as the daemon's vhost-user front end, set it up
 * @path:	Daemon's socket
 *
 * Return: 0, or exit status on failure (printed)
 */
static int vu_start(const char *path)
{
	const uint64_t offloads = BIT(VIRTIO_NET_F_CSUM) |
		BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		BIT(VIRTIO_NET_F_GUEST_TSO6);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct {
		uint32_t n, pad;
		uint64_t gpa, size, uva, off;
	} mt;
	uint64_t offered, want, pf, nq;
	unsigned int i;
	int mfd, rc;

	strcpy(a.sun_path, path);
	vu_sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mfd = memfd_create("vm_bench guest", MFD_CLOEXEC);
	if (vu_sock < 0 || mfd < 0 || ftruncate(mfd, (off_t)VU_MEM))
		return fail("set-up: %s", strerror(errno)), 2;
	gmem = mmap(NULL, VU_MEM, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		    0);
	if (gmem == MAP_FAILED)
		return fail("mmap guest memory: %s", strerror(errno)), 2;
	if (connect(vu_sock, (struct sockaddr *)&a, sizeof(a)))
		return fail("connect %s: %s", path, strerror(errno)), 2;

	if (vu_set(VU_SET_OWNER, NULL, 0, -1) ||
	    vu_get(VU_GET_FEATURES, &offered))
		return 1;
	if (!(offered & BIT(VIRTIO_F_VERSION_1)))
		return fail("vhost-user: VERSION_1 not offered (%#llx)",
			    (unsigned long long)offered);
	want = BIT(VIRTIO_F_VERSION_1) |
	       (offered & (BIT(VU_F_PROTOCOL_FEATURES) |
			   BIT(VIRTIO_NET_F_MRG_RXBUF)));
	if (!no_offload)
		want |= offered & offloads;
	if (pairs > 1) {
		if (!(offered & BIT(VIRTIO_NET_F_MQ)) ||
		    !(offered & BIT(VU_F_PROTOCOL_FEATURES)))
			return fail("vhost-user: %u pairs wanted, MQ not "
				    "offered (%#llx)", pairs,
				    (unsigned long long)offered);
		want |= BIT(VIRTIO_NET_F_MQ);
	}
	if (offered & BIT(VU_F_PROTOCOL_FEATURES)) {
		if (vu_get(VU_GET_PROTOCOL_FEATURES, &pf))
			return 1;
		pf &= BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK);
		if (vu_set(VU_SET_PROTOCOL_FEATURES, &pf, sizeof(pf), -1))
			return 1;
		vu_proto = pf;
	}
	if (pairs > 1) {
		if (!(vu_proto & BIT(VU_PF_MQ)))
			return fail("vhost-user: protocol feature MQ not "
				    "offered");
		if (vu_get(VU_GET_QUEUE_NUM, &nq))
			return 1;
		if (nq < pairs)
			return fail("vhost-user: the daemon offers %llu queue "
				    "pairs, not %u", (unsigned long long)nq,
				    pairs);
	}
	if (vu_set(VU_SET_FEATURES, &want, sizeof(want), -1))
		return 1;
	vu_mrg = want & BIT(VIRTIO_NET_F_MRG_RXBUF);
	vu_csum = want & BIT(VIRTIO_NET_F_CSUM);
	vu_tso = vu_csum && (want & BIT(VIRTIO_NET_F_HOST_TSO4));

	mt.n = 1;
	mt.pad = 0;
	mt.gpa = 0;
	mt.size = VU_MEM;
	mt.uva = (uintptr_t)gmem;
	mt.off = 0;
	rc = vu_set(VU_SET_MEM_TABLE, &mt, sizeof(mt), mfd);
	close(mfd);
	if (rc)
		return rc;
	for (i = 0; i < 2 * pairs; i++) {
		rc = vu_queue_setup(i);
		if (rc)
			return rc;
	}
	return 0;
}

/* Transmit header slot @s of queue @q */
static uint8_t *vu_slot(const struct vu_queue *q, unsigned int s)
{
	return q->buf + (size_t)s * VU_SLOT;
}

/* Take back the chains the daemon used on transmit queue @q. Return: 0,
 * or -1 if it returned one we did not give (tx_err set) */
static int vu_tx_reclaim(struct vu_queue *q)
{
	uint16_t end = le16toh(__atomic_load_n(&q->used->idx,
					       __ATOMIC_ACQUIRE));

	while (q->last_used != end) {
		unsigned int id = le32toh(q->used->ring[q->last_used %
							VQ_N].id);

		if (id % 2 || id / 2 >= q->nbuf || q->nfree >= q->nbuf) {
			tx_err = "broken used entry on a transmit queue";
			return -1;
		}
		q->free[q->nfree++] = (uint16_t)(id / 2);
		q->last_used++;
	}
	return 0;
}

/* Publish what was added to transmit queue @q, kick unless told not to.
 * Return: 0, or -1 if the kick failed */
static int vu_tx_kick(struct vu_queue *q)
{
	uint64_t one = 1;

	if (le16toh(q->avail->idx) == q->avail_idx)
		return 0;
	__atomic_store_n(&q->avail->idx, htole16(q->avail_idx),
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (le16toh(q->used->flags) & VRING_USED_F_NO_NOTIFY)
		return 0;
	/* EAGAIN: the counter is full, a kick is pending anyway */
	if (write(q->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -1;
	return 0;
}

/**
 * vu_tx_slot() - A free header slot of transmit queue @q, waiting if none
 * @q:		Transmit queue
 *
 * If every chain is in flight, what was added is published and kicked,
 * and we wait (with an interrupt asked for) until the daemon returns one,
 * STALL_MS at most: the back-pressure a blocking write gives.
 *
 * Return: slot index, or -1 (tx_err or errno set)
 */
static int vu_tx_slot(struct vu_queue *q)
{
	uint64_t deadline = now_ns() + STALL_MS * 1000000ULL;
	int rc = vu_tx_reclaim(q);

	while (!rc && !q->nfree) {
		struct pollfd p[2] = { { .fd = q->call, .events = POLLIN },
				       { .fd = vu_sock, .events = POLLIN } };
		uint64_t v;

		if (vu_tx_kick(q))
			return -1;
		q->avail->flags = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		rc = vu_tx_reclaim(q);
		if (rc || q->nfree)
			break;
		if (now_ns() >= deadline) {
			tx_err = "the daemon took no frame for 3 s";
			rc = -1;
			break;
		}
		if (poll(p, 2, 100) > 0) {
			if (p[1].revents) {
				tx_err = "the daemon closed the vhost-user "
					 "socket";
				rc = -1;
				break;
			}
			if (read(q->call, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				return -1;
		}
		rc = vu_tx_reclaim(q);
	}
	q->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	if (rc)
		return -1;
	return q->free[--q->nfree];
}

/**
 * vu_tx_add() - Put a chain on transmit queue @q (published by kick)
 * @q:		Transmit queue
 * @s:		Slot the chain takes (its descriptors 2s and 2s + 1)
 * @hdr:	First piece, in guest memory: header and frame headers
 * @hlen:	Its length
 * @pay:	Second piece, in guest memory, NULL for none
 * @plen:	Its length
 */
static void vu_tx_add(struct vu_queue *q, unsigned int s, const uint8_t *hdr,
		      size_t hlen, const uint8_t *pay, size_t plen)
{
	struct vring_desc *d = &q->desc[2 * s];

	d[0].addr = htole64(gpa(hdr));
	d[0].len = htole32((uint32_t)hlen);
	d[0].flags = htole16(pay ? VRING_DESC_F_NEXT : 0);
	d[0].next = htole16((uint16_t)(2 * s + 1));
	if (pay) {
		d[1].addr = htole64(gpa(pay));
		d[1].len = htole32((uint32_t)plen);
		d[1].flags = 0;
		d[1].next = 0;
	}
	q->avail->ring[q->avail_idx++ % VQ_N] = htole16((uint16_t)(2 * s));
}

/**
 * send_frame() - Send one frame without a separate payload
 * @slot:	PRE bytes (the virtio-net header, for vhost-user), then the
 *		frame
 * @flen:	Frame length, at most VU_SLOT - PRE
 * @txq:	vhost-user: queue pair to send on
 *
 * Return: 0, or -1 if writing failed
 */
static int send_frame(uint8_t *slot, size_t flen, unsigned int txq)
{
	struct vu_queue *q = &vq[2 * txq + 1];
	int s;

	if (!vhost) {
		put32(slot + PRE - LEN_LEN, (uint32_t)flen);
		return write_all(slot + PRE - LEN_LEN, LEN_LEN + flen);
	}
	s = vu_tx_slot(q);
	if (s < 0)
		return -1;
	memcpy(vu_slot(q, (unsigned int)s), slot, PRE + flen);
	vu_tx_add(q, (unsigned int)s, vu_slot(q, (unsigned int)s), PRE + flen,
		  NULL, 0);
	return vu_tx_kick(q);
}

/**
 * eth_ip4() - Ethernet and IPv4 headers of a frame from the guest
 * @f:		Frame start (Ethernet header)
 * @dst:	Destination address
 * @proto:	IP protocol
 * @l4_len:	Length of the IP payload
 *
 * ID 0 with DF set (RFC 6864: atomic datagrams), so that identical
 * payloads make identical frames.
 */
static void eth_ip4(uint8_t *f, struct in_addr dst, uint8_t proto,
		    size_t l4_len)
{
	uint8_t *ip = f + ETH_LEN;

	memcpy(f, gw_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(IP4_LEN + l4_len));
	put32(ip + 4, 0x00004000);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, &guest_ip, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, fold(sum16(ip, IP4_LEN, 0)));
}

/**
 * arp_send() - Send an ARP request for the gateway, or a reply
 * @op:		1: request for the gateway, 2: reply to @dst_mac
 * @dst_mac:	Who asked (reply only)
 * @dst_ip:	Its address, as in the request (reply only)
 *
 * Return: 0, or -1 if writing failed
 */
static int arp_send(uint16_t op, const uint8_t *dst_mac, const uint8_t *dst_ip)
{
	uint8_t b[PRE + ETH_LEN + 28] = { 0 }, *f = b + PRE, *a = f + ETH_LEN;

	if (op == 1)
		memset(f, 0xff, 6);
	else
		memcpy(f, dst_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, &guest_ip, 4);
	if (op == 1) {
		memset(a + 18, 0, 6);
		memcpy(a + 24, &gw_ip, 4);
	} else {
		memcpy(a + 18, dst_mac, 6);
		memcpy(a + 24, dst_ip, 4);
	}
	return send_frame(b, ETH_LEN + 28, 0);
}

/**
 * arp_in() - Handle an ARP frame: learn the gateway's MAC, answer for us
 * @f:		Frame
 * @len:	Its length
 */
static void arp_in(const uint8_t *f, size_t len)
{
	const uint8_t *a = f + ETH_LEN;

	if (len < ETH_LEN + 28 || get16(a) != 1 || get16(a + 2) != 0x0800)
		return;
	if (get16(a + 6) == 2 && !memcmp(a + 14, &gw_ip, 4)) {
		memcpy(gw_mac, a + 8, 6);
		gw_known = true;
	} else if (get16(a + 6) == 1 && !memcmp(a + 24, &guest_ip, 4)) {
		arp_send(2, a + 8, a + 14);
	}
}

/* What a guest mode does with each frame, and its argument */
typedef void (*frame_fn)(const uint8_t *f, size_t len, void *arg);

/**
 * frame_in() - Hand a frame from the daemon over: ARP here, IPv4 to @fn
 * @f:		Frame; its headers at least are contiguous
 * @len:	Its length
 * @fn:		Called with each IPv4 frame, may be NULL
 * @arg:	Passed to @fn
 */
static void frame_in(const uint8_t *f, size_t len, frame_fn fn, void *arg)
{
	if (get16(f + 12) == 0x0806)
		arp_in(f, len);
	else if (get16(f + 12) == 0x0800 && len >= ETH_LEN + IP4_LEN && fn)
		fn(f, len, arg);
}

/* Used entry @k past the last taken of @q: id and length, checked.
 * Return: 0, or -2 if the daemon gave one we could not have given it */
static int vu_used_at(const struct vu_queue *q, uint16_t k, unsigned int *id,
		      uint32_t *len)
{
	const struct vring_used_elem *e;

	e = &q->used->ring[(uint16_t)(q->last_used + k) % VQ_N];
	*id = le32toh(e->id);
	*len = le32toh(e->len);
	return *id < q->nbuf && *len <= q->buf_len ? 0 : -2;
}

/* The first VU_SCRATCH bytes of a frame in @nb buffers, gathered */
static const uint8_t *vu_gather(const struct vu_queue *q, uint16_t nb)
{
	size_t have = 0, skip = VNET_LEN;
	uint16_t k;

	for (k = 0; k < nb && have < VU_SCRATCH; k++) {
		unsigned int id;
		uint32_t len;
		size_t m;

		vu_used_at(q, k, &id, &len);
		m = len - skip < VU_SCRATCH - have ? len - skip :
		    VU_SCRATCH - have;
		memcpy(vu_scratch + have, q->buf + (size_t)id * q->buf_len +
		       skip, m);
		have += m;
		skip = 0;
	}
	return vu_scratch;
}

/**
 * vu_rx_queue() - Take every frame the daemon put in receive queue @q
 * @q:		Receive queue
 * @fn:		As frame_in()
 * @arg:	Passed to @fn
 *
 * Buffers go back on the available ring as soon as their frame is
 * parsed; the queue is kicked after the refill only if the daemon held
 * less than half of them (it may have run out and wait for a kick).
 *
 * Return: frames taken, -2 on a broken used entry, -1 if the kick failed
 */
static int vu_rx_queue(struct vu_queue *q, frame_fn fn, void *arg)
{
	uint16_t end = le16toh(__atomic_load_n(&q->used->idx,
					       __ATOMIC_ACQUIRE));
	uint16_t held;
	uint64_t one = 1;
	int frames = 0;

	if ((uint16_t)(end - q->last_used) > q->nbuf)
		return -2;
	while (q->last_used != end) {
		uint16_t ready = (uint16_t)(end - q->last_used), nb = 1, k;
		const struct virtio_net_hdr_mrg_rxbuf *vh;
		const uint8_t *f;
		unsigned int id;
		size_t flen, first;
		uint32_t len;

		if (vu_used_at(q, 0, &id, &len) || len < VNET_LEN + ETH_LEN)
			return -2;
		vh = (const void *)(q->buf + (size_t)id * q->buf_len);
		if (vu_mrg)
			nb = le16toh(vh->num_buffers);
		if (!nb || nb > q->nbuf)
			return -2;
		if (nb > ready)
			break;		/* the rest is not published yet */
		f = (const uint8_t *)vh + VNET_LEN;
		flen = first = len - VNET_LEN;
		for (k = 1; k < nb; k++) {
			if (vu_used_at(q, k, &id, &len))
				return -2;
			flen += len;
		}
		if (flen > FRAME_MAX)
			return -2;
		if (first < flen && first < VU_SCRATCH)
			f = vu_gather(q, nb);
		frame_in(f, flen, fn, arg);
		for (k = 0; k < nb; k++) {
			vu_used_at(q, k, &id, &len);
			q->avail->ring[q->avail_idx++ % VQ_N] =
				htole16((uint16_t)id);
		}
		q->last_used = (uint16_t)(q->last_used + nb);
		frames++;
	}
	if (!frames)
		return 0;
	held = (uint16_t)(le16toh(q->avail->idx) - q->last_used);
	__atomic_store_n(&q->avail->idx, htole16(q->avail_idx),
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (held < q->nbuf / 2 &&
	    !(le16toh(q->used->flags) & VRING_USED_F_NO_NOTIFY) &&
	    write(q->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -1;
	return frames;
}

/* Take the frames of every receive queue. Return: as vu_rx_queue() */
static int vu_rx_all(frame_fn fn, void *arg)
{
	unsigned int i;
	int n = 0, rc;

	for (i = 0; i < pairs; i++) {
		rc = vu_rx_queue(&vq[2 * i], fn, arg);
		if (rc < 0)
			return rc;
		n += rc;
	}
	return n;
}

/**
 * vu_rx_pump() - rx_pump() for vhost-user: take frames, waiting if none
 * @ms:		Wait at most this long for one (0: don't)
 * @fn:		As frame_in()
 * @arg:	Passed to @fn
 *
 * Return: 1 if frames came, 0 if none in time, -1 if the daemon closed
 *	   the socket (or a kick failed), -2 on a broken used entry
 */
static int vu_rx_pump(int ms, frame_fn fn, void *arg)
{
	struct pollfd p[VU_PAIRS + 1];
	unsigned int i;
	int n;

	n = vu_rx_all(fn, arg);
	if (n || !ms)
		return n < 0 ? n : n > 0;
	p[0].fd = vu_sock;
	p[0].events = POLLIN;
	for (i = 0; i < pairs; i++) {
		p[i + 1].fd = vq[2 * i].call;
		p[i + 1].events = POLLIN;
	}
	if (poll(p, pairs + 1, ms) <= 0)
		return 0;
	if (p[0].revents) {
		char c;
		ssize_t r = recv(vu_sock, &c, 1, MSG_DONTWAIT);

		if (!r || (r < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
	}
	for (i = 0; i < pairs; i++) {
		uint64_t v;

		if ((p[i + 1].revents & POLLIN) &&
		    read(vq[2 * i].call, &v, sizeof(v)) < 0 &&
		    errno != EAGAIN)
			return -1;
	}
	n = vu_rx_all(fn, arg);
	return n < 0 ? n : n > 0;
}

/**
 * rx_pump() - Read once from the stream, hand every whole frame over
 * @ms:		Wait at most this long for something to read (0: don't)
 * @fn:		Called with each IPv4 frame (ARP is handled here)
 * @arg:	Passed to @fn
 *
 * Return: 1 if something was read, 0 if nothing came in time, -1 if the
 *	   daemon closed the stream, -2 on a broken length
 */
static int rx_pump(int ms, frame_fn fn, void *arg)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	size_t off = 0;
	ssize_t n;

	if (vhost)
		return vu_rx_pump(ms, fn, arg);
	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = read(sock, rx + rx_len, RX_SIZE - rx_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	rx_len += (size_t)n;
	while (rx_len - off >= LEN_LEN) {
		uint32_t len = get32(rx + off);
		const uint8_t *f = rx + off + LEN_LEN;

		if (len < ETH_LEN || len > FRAME_MAX)
			return -2;
		if (rx_len - off < LEN_LEN + len)
			break;
		frame_in(f, len, fn, arg);
		off += LEN_LEN + len;
	}
	memmove(rx, rx + off, rx_len - off);
	rx_len -= off;
	return 1;
}

/* Why rx_pump() failed, in words */
static const char *rx_why(int rc)
{
	if (vhost)
		return rc == -1 ? "daemon closed the vhost-user socket" :
		       "broken used ring entry from the daemon";
	return rc == -1 ? "daemon closed the stream" :
	       "broken frame length from the daemon";
}

/**
 * guest_start() - Connect to the daemon, learn the gateway's MAC
 * @path:	Daemon's socket
 *
 * Return: 0 (then "ready" is printed), 1 on failure, 2 on set-up errors
 */
static int guest_start(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int sz = SOCKBUF, i, rc;

	if (!path)
		return fail("guest modes need -s PATH"), 2;
	if (strlen(path) >= sizeof(a.sun_path))
		return fail("socket path too long: %s", path), 2;
	strcpy(a.sun_path, path);
	if (vhost) {
		rc = vu_start(path);
		if (rc)
			return rc;
	} else {
		rx = malloc(RX_SIZE);
		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!rx || sock < 0)
			return fail("set-up: %s", strerror(errno)), 2;
		/* As the daemon does; the kernel caps them */
		setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (connect(sock, (struct sockaddr *)&a, sizeof(a)))
			return fail("connect %s: %s", path, strerror(errno)),
			       2;
	}
	for (i = 0; i < 30 && !gw_known; i++) {
		uint64_t end = now_ns() + 100000000ULL;

		if (arp_send(1, NULL, NULL))
			return fail("write: %s", write_why());
		while (!gw_known && now_ns() < end) {
			rc = rx_pump(10, NULL, NULL);
			if (rc < 0)
				return fail("%s", rx_why(rc));
		}
	}
	if (!gw_known)
		return fail("no ARP reply for the gateway %s",
			    inet_ntoa(gw_ip));
	printf("ready\n");
	fflush(stdout);
	return 0;
}

/* Seconds between two monotonic times */
static double elapsed(uint64_t t0, uint64_t t1)
{
	return (double)(t1 - t0) / 1e9;
}

/**
 * udp_out_vu() - udp-out's loop on vhost-user: -n chains per batch, all
 *		  pointing to one frame in guest memory
 * @f:		The frame, built
 * @flen:	Its length
 * @frames:	Frames sent, counted
 * @t1:		Time of the last batch, set
 *
 * Return: 0, or exit status on failure (printed)
 */
static int udp_out_vu(const uint8_t *f, size_t flen, uint64_t *frames,
		      uint64_t *t1)
{
	uint8_t *g = galloc(VNET_LEN + flen, 64);
	struct vu_queue *q = &vq[1];
	uint64_t end;
	unsigned int i;
	int rc, s;

	if (!g)
		return fail("out of guest memory"), 2;
	memcpy(g + VNET_LEN, f, flen);	/* the header stays zero */
	*t1 = now_ns();
	end = *t1 + (uint64_t)secs * 1000000000ULL;
	do {
		for (i = 0; i < per_write; i++) {
			s = vu_tx_slot(q);
			if (s < 0)
				return fail("write: %s", write_why());
			vu_tx_add(q, (unsigned int)s, g, VNET_LEN + flen,
				  NULL, 0);
		}
		if (vu_tx_kick(q))
			return fail("kick: %s", strerror(errno));
		*frames += per_write;
		while ((rc = rx_pump(0, NULL, NULL)) > 0)
			;
		if (rc < 0)
			return fail("%s", rx_why(rc));
		*t1 = now_ns();
	} while (*t1 < end);
	return 0;
}

/**
 * mode_udp_out() - Send UDP datagrams to HOST:PORT for -d seconds
 * @host:	Destination address
 * @port:	Destination port
 * @len:	Payload length
 *
 * Return: exit status
 */
static int mode_udp_out(struct in_addr host, uint16_t port, size_t len)
{
	size_t flen = ETH_LEN + IP4_LEN + UDP_LEN + len, blen, i;
	uint16_t sport = (uint16_t)(40000 + getpid() % 20000);
	uint64_t frames = 0, t0, t1, end;
	uint8_t *buf, *f, *u;
	int rc = 0;
	uint32_t sum;

	blen = (LEN_LEN + flen) * (vhost ? 1 : per_write);
	buf = calloc(1, blen);
	if (!buf)
		return fail("out of memory"), 2;
	f = buf + LEN_LEN;
	u = f + ETH_LEN + IP4_LEN;
	eth_ip4(f, host, 17, UDP_LEN + len);
	put16(u, sport);
	put16(u + 2, port);
	put16(u + 4, (uint16_t)(UDP_LEN + len));
	for (i = 0; i < len; i++)
		u[UDP_LEN + i] = (uint8_t)i;
	sum = sum16(f + ETH_LEN + 12, 8, 17 + (uint32_t)(UDP_LEN + len));
	sum = fold(sum16(u, UDP_LEN + len, sum));
	put16(u + 6, sum ? (uint16_t)sum : 0xffff);
	put32(buf, (uint32_t)flen);

	t0 = now_ns();
	if (vhost) {
		rc = udp_out_vu(f, flen, &frames, &t1);
		if (rc)
			goto out;
		goto done;
	}
	for (i = 1; i < per_write; i++)
		memcpy(buf + i * (LEN_LEN + flen), buf, LEN_LEN + flen);

	end = t0 + (uint64_t)secs * 1000000000ULL;
	do {
		if (write_all(buf, blen)) {
			rc = fail("write: %s", strerror(errno));
			goto out;
		}
		frames += per_write;
		/* Whatever the daemon sends (ICMP errors, ...) is skipped */
		while ((rc = rx_pump(0, NULL, NULL)) > 0)
			;
		if (rc < 0) {
			rc = fail("%s", rx_why(rc));
			goto out;
		}
		t1 = now_ns();
	} while (t1 < end);

done:
	printf("mode=udp-out len=%zu frames=%llu secs=%.3f fps=%.0f "
	       "gbps=%.3f per_write=%u\n", len, (unsigned long long)frames,
	       elapsed(t0, t1), (double)frames / elapsed(t0, t1),
	       (double)frames * (double)len * 8 / elapsed(t0, t1) / 1e9,
	       per_write);
out:
	free(buf);
	return rc;
}
/**
 * struct udp_count - What udp-in counts
 * @port:	Our port
 * @len:	Payload length expected
 * @frames:	Datagrams of that length to our port
 * @other:	Datagrams of another length to our port
 */
struct udp_count {
	uint16_t port;
	size_t len;
	uint64_t frames, other;
};

/* udp-in: count a frame if it is a datagram to our port */
static void udp_in_frame(const uint8_t *f, size_t len, void *arg)
{
	const uint8_t *ip = f + ETH_LEN, *u = ip + (ip[0] & 15) * 4;
	struct udp_count *c = arg;

	if (ip[9] != 17 || (size_t)(u - f) + UDP_LEN > len ||
	    memcmp(ip + 16, &guest_ip, 4) || get16(u + 2) != c->port)
		return;
	if (get16(u + 4) == UDP_LEN + c->len)
		c->frames++;
	else
		c->other++;
}

/**
 * mode_udp_in() - Count datagrams to our port arriving on the stream
 * @port:	Our port
 * @len:	Payload length expected
 *
 * Return: exit status
 */
static int mode_udp_in(uint16_t port, size_t len)
{
	struct udp_count c = { .port = port, .len = len };
	uint64_t t0 = 0, t1 = 0, now, base = 0;
	double s;
	int rc;

	for (;;) {
		uint64_t before = c.frames + c.other;

		rc = rx_pump(c.frames ? (int)idle_ms : 1000, udp_in_frame, &c);
		if (rc < 0)
			return fail("%s", rx_why(rc));
		now = now_ns();
		if (c.frames + c.other != before) {
			if (!t0) {
				t0 = now;
				base = c.frames;
			}
			t1 = now;
		} else if (t1 && now - t1 >= idle_ms * 1000000ULL) {
			break;
		}
	}
	if (t1 == t0 || c.frames == base)
		return fail("%llu datagrams of %zu bytes to port %u, all "
			    "in one read", (unsigned long long)c.frames, len,
			    port);
	/* The rate counts from the end of the first read */
	s = elapsed(t0, t1);
	printf("mode=udp-in len=%zu frames=%llu secs=%.3f fps=%.0f "
	       "gbps=%.3f other=%llu\n", len, (unsigned long long)c.frames,
	       s, (double)(c.frames - base) / s,
	       (double)(c.frames - base) * (double)len * 8 / s / 1e9,
	       (unsigned long long)c.other);
	return 0;
}

/**
 * struct tcp_conn - The guest's side of one TCP connection
 * @peer:	Peer address
 * @pport:	Peer port
 * @lport:	Our port
 * @mss:	Largest payload we send: our MSS and the peer's, the smaller
 * @txq:	vhost-user: queue pair it transmits on
 * @ws_peer:	Peer's window scale, 0 if it has none (then we use none)
 * @ws:		Whether window scaling is on
 * @snd_una:	First byte not acknowledged
 * @snd_nxt:	Next byte to send
 * @snd_max:	Highest byte sent so far, plus one
 * @snd_wnd:	Peer's window, scaled
 * @recover:	snd_max when we last went back: duplicate ACKs before
 *		snd_una passes it answer segments sent before going back
 * @rcv_nxt:	Next byte expected from the peer
 * @psum:	Sum of the payload's first @mss bytes
 * @acked:	Bytes acknowledged since the measurement started
 * @received:	Bytes received in order since the measurement started
 * @dupacks:	Duplicate ACKs in a row
 * @rexmit:	Times we went back to the first unacknowledged byte
 * @gaps:	Segments beyond the next expected byte (dropped)
 * @dups:	Segments before it (retransmissions by the peer)
 * @ack_due:	A duplicate ACK or an ACK for new data is owed
 * @progress:	Time of the last progress (data acknowledged or received)
 * @rto_at:	tcp-out: when to go back if nothing is acknowledged
 * @closed_at:	tcp-out: since when the peer's window is zero, or 0
 * @una_mark:	tcp-out: snd_una before the last receive
 * @syn_ack:	The SYN-ACK arrived
 * @rst:	The peer reset the connection
 * @fin:	The peer sent a FIN
 */
struct tcp_conn {
	struct in_addr peer;
	uint16_t pport, lport, mss;
	unsigned int txq;
	uint8_t ws_peer;
	bool ws;
	uint32_t snd_una, snd_nxt, snd_max, recover, rcv_nxt, psum;
	uint64_t snd_wnd, acked, received;
	unsigned int dupacks;
	uint64_t rexmit, gaps, dups;
	bool ack_due;
	uint64_t progress, rto_at, closed_at;
	uint32_t una_mark;
	bool syn_ack, rst, fin;
};

/* Payload of every segment we send (in guest memory with -V) */
static uint8_t *payload;

/* The connections (-P), reset by main() if a TCP mode fails */
static struct tcp_conn conns[CONN_MAX];
static unsigned int nlive;

/* The bytes of one segment or TSO frame tcp-out sends, at most */
static size_t tcp_seg(const struct tcp_conn *t)
{
	size_t k = (65535 - IP4_LEN - TCP_LEN) / t->mss;

	return vu_tso && k > 1 ? k * t->mss : t->mss;
}

/**
 * tcp_hdr() - Build a segment's headers after PRE bytes of @slot
 * @t:		Connection
 * @slot:	Where: SLOT_LEN bytes
 * @flags:	TCP flags
 * @seq:	Sequence number
 * @dlen:	Payload length (the payload itself follows elsewhere)
 *
 * The stream's length goes in the last LEN_LEN bytes before the frame;
 * with vhost-user the virtio-net header fills them: with checksum
 * offload the TCP checksum is left partial (NEEDS_CSUM, the pseudo-header
 * sum in the field), a payload beyond the MSS is a TSO frame.
 *
 * Return: bytes of @slot used, PRE included
 */
static size_t tcp_hdr(const struct tcp_conn *t, uint8_t *slot, uint8_t flags,
		      uint32_t seq, size_t dlen)
{
	size_t hl = flags & TH_SYN ? TCP_LEN + 8 : TCP_LEN;
	uint8_t *f = slot + PRE, *ip = f + ETH_LEN, *th = ip + IP4_LEN;
	uint32_t sum;

	put32(slot + PRE - LEN_LEN, (uint32_t)(ETH_LEN + IP4_LEN + hl + dlen));
	eth_ip4(f, t->peer, 6, hl + dlen);
	put16(th, t->lport);
	put16(th + 2, t->pport);
	put32(th + 4, seq);
	put32(th + 8, flags & TH_ACK ? t->rcv_nxt : 0);
	th[12] = (uint8_t)((hl / 4) << 4);
	th[13] = flags;
	put16(th + 14, 65535);	/* << WS_OURS, once scaling is on */
	put32(th + 16, 0);
	if (flags & TH_SYN) {
		th[20] = 2;		/* MSS */
		th[21] = 4;
		put16(th + 22, (uint16_t)(mtu - IP4_LEN - TCP_LEN));
		th[24] = 1;		/* NOP */
		th[25] = 3;		/* window scale */
		th[26] = 3;
		th[27] = WS_OURS;
	}
	sum = sum16(ip + 12, 8, 6 + (uint32_t)(hl + dlen));
	if (vhost) {
		struct virtio_net_hdr_mrg_rxbuf *vh = (void *)slot;

		memset(vh, 0, VNET_LEN);
		if (vu_csum) {
			vh->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			vh->hdr.csum_start = htole16(ETH_LEN + IP4_LEN);
			vh->hdr.csum_offset = htole16(16);
			if (dlen > t->mss) {
				vh->hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
				vh->hdr.gso_size = htole16(t->mss);
				vh->hdr.hdr_len = htole16((uint16_t)
					(ETH_LEN + IP4_LEN + hl));
			}
			put16(th + 16, (uint16_t)~fold(sum));
			return PRE + ETH_LEN + IP4_LEN + hl;
		}
	}
	sum = sum16(th, hl, sum);
	if (dlen == t->mss)
		sum = add32(sum, t->psum);
	else if (dlen)
		sum = sum16(payload, dlen, sum);
	put16(th + 16, fold(sum));
	return PRE + ETH_LEN + IP4_LEN + hl;
}

/**
 * tcp_ctl() - Send a segment without payload
 * @t:		Connection
 * @flags:	TCP flags
 * @seq:	Sequence number
 *
 * Return: 0, or -1 if writing failed
 */
static int tcp_ctl(const struct tcp_conn *t, uint8_t flags, uint32_t seq)
{
	uint8_t slot[SLOT_LEN];

	return send_frame(slot, tcp_hdr(t, slot, flags, seq, 0) - PRE, t->txq);
}

/**
 * tcp_go_back() - Send again from the first unacknowledged byte
 * @t:		Connection
 *
 * Segments sent before this are still on their way and will be dropped
 * by the daemon, each perhaps answered by a duplicate ACK: those must not
 * make us go back again, so duplicate ACKs count only once snd_una has
 * passed what was sent so far (as NewReno's "recover" does).
 */
static void tcp_go_back(struct tcp_conn *t)
{
	t->recover = t->snd_max;
	t->snd_nxt = t->snd_una;
	t->dupacks = 0;
	t->rexmit++;
}

/**
 * tcp_in_frame() - Handle a frame for the TCP modes
 * @f:		Frame
 * @len:	Its length
 * @arg:	Unused: the connection is the one of the destination port
 *
 * Takes the SYN-ACK's options, in-order data, ACKs and window updates;
 * counts gaps, duplicates and duplicate ACKs; notes resets and FINs.
 */
static void tcp_in_frame(const uint8_t *f, size_t len, void *arg)
{
	const uint8_t *ip = f + ETH_LEN, *th = ip + (ip[0] & 15) * 4, *o;
	size_t tot = get16(ip + 2), hl, dl;
	struct tcp_conn *t;
	uint16_t k;
	uint32_t seq, ack;
	uint64_t wnd;

	(void)arg;
	if (ip[9] != 6 || tot > len - ETH_LEN ||
	    (size_t)(th - ip) + TCP_LEN > tot)
		return;
	k = (uint16_t)(get16(th + 2) - conns[0].lport);
	if (k >= nlive)
		return;
	t = &conns[k];
	if (memcmp(ip + 12, &t->peer, 4) || get16(th) != t->pport)
		return;
	hl = (size_t)(th[12] >> 4) * 4;
	if (hl < TCP_LEN || (size_t)(th - ip) + hl > tot)
		return;
	dl = tot - (size_t)(th - ip) - hl;
	seq = get32(th + 4);
	ack = get32(th + 8);
	if (th[13] & TH_RST) {
		t->rst = true;
		return;
	}
	if (th[13] & TH_SYN) {
		if (t->syn_ack || !(th[13] & TH_ACK) ||
		    ack != t->snd_nxt + 1)
			return;
		t->rcv_nxt = seq + 1;
		for (o = th + TCP_LEN; o < th + hl && *o; ) {
			if (*o == 1) {
				o++;
				continue;
			}
			if (o + 2 > th + hl || o[1] < 2 || o + o[1] > th + hl)
				break;
			if (o[0] == 2 && o[1] == 4 && get16(o + 2) < t->mss)
				t->mss = get16(o + 2);
			if (o[0] == 3 && o[1] == 3) {
				t->ws = true;
				t->ws_peer = o[2] > 14 ? 14 : o[2];
			}
			o += o[1];
		}
		t->snd_wnd = get16(th + 14);
		t->syn_ack = true;
		return;
	}
	if (!t->syn_ack)
		return;

	/* Data toward us: in order only */
	if (dl) {
		if (seq == t->rcv_nxt) {
			t->rcv_nxt += (uint32_t)dl;
			t->received += dl;
			t->progress = now_ns();
		} else if (SEQ_LT(seq, t->rcv_nxt)) {
			t->dups++;
		} else {
			t->gaps++;
		}
		t->ack_due = true;
	}
	if (th[13] & TH_FIN && seq + dl == t->rcv_nxt)
		t->fin = true;

	/* Acknowledgements of ours */
	if (!(th[13] & TH_ACK))
		return;
	wnd = (uint64_t)get16(th + 14) << t->ws_peer;
	if (SEQ_LT(t->snd_una, ack) && SEQ_LE(ack, t->snd_max)) {
		t->acked += ack - t->snd_una;
		t->snd_una = ack;
		if (SEQ_LT(t->snd_nxt, ack))
			t->snd_nxt = ack;
		t->dupacks = 0;
		t->progress = now_ns();
	} else if (ack == t->snd_una && !dl && wnd == t->snd_wnd &&
		   t->snd_nxt != t->snd_una && SEQ_LE(t->recover, ack) &&
		   ++t->dupacks >= 3) {
		tcp_go_back(t);		/* not taken: go back */
	}
	t->snd_wnd = wnd;
}

/**
 * tcp_connect() - Open every connection together: SYN, SYN-ACK, ACK
 *
 * Connections have peer and ports set; SYNs go again every second to
 * those not answered yet.
 *
 * Return: 0, or exit status on failure
 */
static int tcp_connect(void)
{
	uint64_t now = now_ns(), end = now + STALL_MS * 1000000ULL;
	uint64_t syn_at = 0;
	unsigned int i, open = 0;
	struct tcp_conn *t;
	int rc;

	for (i = 0; i < nlive; i++) {
		t = &conns[i];
		t->mss = (uint16_t)(mtu - IP4_LEN - TCP_LEN);
		t->snd_una = t->snd_nxt = ((uint32_t)now_ns() ^ 0x5a5a5a5a) +
					  i * 0x01000193U;
	}
	for (; open < nlive && now < end; now = now_ns()) {
		for (i = 0, open = 0; i < nlive; i++) {
			t = &conns[i];
			if (t->rst)
				return fail("connection to %s:%u refused",
					    inet_ntoa(t->peer), t->pport);
			if (t->syn_ack) {
				open++;
				continue;
			}
			if (now >= syn_at &&	/* again every second */
			    tcp_ctl(t, TH_SYN, t->snd_nxt))
				return fail("write: %s", write_why());
		}
		if (now >= syn_at)
			syn_at = now + 1000000000ULL;
		if (open == nlive)
			break;
		rc = rx_pump(10, tcp_in_frame, NULL);
		if (rc < 0)
			return fail("%s", rx_why(rc));
	}
	for (i = 0; i < nlive; i++) {
		t = &conns[i];
		if (t->rst)
			return fail("connection to %s:%u refused",
				    inet_ntoa(t->peer), t->pport);
		if (!t->syn_ack)
			return fail("no SYN-ACK from %s:%u",
				    inet_ntoa(t->peer), t->pport);
		if (!t->ws)
			t->ws_peer = 0;
		t->snd_una = t->snd_nxt = t->snd_max = t->recover =
			t->snd_nxt + 1;
		t->progress = now_ns();
		t->psum = sum16(payload, t->mss, 0);
		if (tcp_ctl(t, TH_ACK, t->snd_nxt))
			return fail("write: %s", write_why());
	}
	return 0;
}

/**
 * tcp_send_batch() - Send what the window allows, up to about TX_BYTES
 * @t:		Connection
 * @probe:	Send one segment even if the window is closed
 *
 * Return: segments sent, or -1 if writing failed
 */
static int tcp_send_batch(struct tcp_conn *t, bool probe)
{
	static uint8_t slots[SEG_MAX][SLOT_LEN];
	static struct iovec iov[SEG_MAX * 2];
	struct vu_queue *q = &vq[2 * t->txq + 1];
	size_t bytes = 0, seg = tcp_seg(t), hl;
	int n = 0, s;

	while (n < SEG_MAX && bytes < TX_BYTES) {
		int64_t room = (int64_t)t->snd_wnd -
			       (int32_t)(t->snd_nxt - t->snd_una);
		size_t dlen = seg;

		if (room < (int64_t)dlen) {
			if (room > 0)
				dlen = (size_t)room;
			else if (probe && !n)
				dlen = t->mss;
			else
				break;
		}
		if (vhost) {
			s = vu_tx_slot(q);
			if (s < 0)
				return -1;
			hl = tcp_hdr(t, vu_slot(q, (unsigned int)s),
				     TH_ACK | TH_PSH, t->snd_nxt, dlen);
			vu_tx_add(q, (unsigned int)s,
				  vu_slot(q, (unsigned int)s), hl, payload,
				  dlen);
		} else {
			hl = tcp_hdr(t, slots[n], TH_ACK | TH_PSH, t->snd_nxt,
				     dlen);
			iov[n * 2].iov_base = slots[n] + PRE - LEN_LEN;
			iov[n * 2].iov_len = hl - (PRE - LEN_LEN);
			iov[n * 2 + 1].iov_base = payload;
			iov[n * 2 + 1].iov_len = dlen;
		}
		t->snd_nxt += (uint32_t)dlen;
		if (SEQ_LT(t->snd_max, t->snd_nxt))
			t->snd_max = t->snd_nxt;
		bytes += dlen;
		n++;
	}
	if (vhost)
		return n && vu_tx_kick(q) ? -1 : n;
	if (n && writev_all(iov, n * 2))
		return -1;
	return n;
}

/* Print the line of a TCP measurement: @bytes over every connection */
static void tcp_report(const char *mode, uint64_t bytes, double s)
{
	uint64_t rexmit = 0, gaps = 0, dups = 0;
	unsigned int i;

	for (i = 0; i < nlive; i++) {
		rexmit += conns[i].rexmit;
		gaps += conns[i].gaps;
		dups += conns[i].dups;
	}
	printf("mode=%s bytes=%llu secs=%.3f gbps=%.3f mss=%u rexmit=%llu "
	       "gaps=%llu dups=%llu", mode, (unsigned long long)bytes, s,
	       (double)bytes * 8 / s / 1e9, conns[0].mss,
	       (unsigned long long)rexmit, (unsigned long long)gaps,
	       (unsigned long long)dups);
	if (nlive > 1)
		printf(" streams=%u", nlive);
	printf("\n");
}

/**
 * tcp_open() - Set up -P connections to HOST:PORT and the shared payload
 * @host:	Peer address
 * @port:	Peer port
 *
 * Return: 0, or exit status on failure
 */
static int tcp_open(struct in_addr host, uint16_t port)
{
	size_t i, plen = vhost ? VU_PAYLOAD : mtu - IP4_LEN - TCP_LEN;
	uint16_t lport = (uint16_t)(40000 + getpid() % 20000);

	memset(conns, 0, sizeof(conns));
	for (i = 0; i < nconn; i++) {
		conns[i].peer = host;
		conns[i].pport = port;
		conns[i].lport = (uint16_t)(lport + i);
		conns[i].txq = (unsigned int)i % pairs;
	}
	payload = vhost ? galloc(plen, 64) : malloc(plen);
	if (!payload)
		return fail("out of memory"), 2;
	for (i = 0; i < plen; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	nlive = nconn;
	if (tcp_connect())
		return 1;
	return 0;
}

/**
 * mode_tcp_out() - Send to HOST:PORT for -d seconds
 * @host:	Peer address
 * @port:	Peer port
 *
 * Return: exit status
 */
static int mode_tcp_out(struct in_addr host, uint16_t port)
{
	uint64_t t0, now, end, acked = 0;
	struct tcp_conn *t;
	unsigned int i;
	int rc, n;

	rc = tcp_open(host, port);
	if (rc)
		return rc;
	t0 = now = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ULL;
	for (i = 0; i < nlive; i++)
		conns[i].rto_at = now + RTO_MS * 1000000ULL;
	while (now < end) {
		bool any = false;

		for (i = 0; i < nlive; i++) {
			bool window, probe = false;

			t = &conns[i];
			window = (int64_t)t->snd_wnd >
				 (int32_t)(t->snd_nxt - t->snd_una);
			if (!window && !t->snd_wnd) {
				if (!t->closed_at)
					t->closed_at = now;
				probe = now - t->closed_at >=
					RTO_MS * 1000000ULL;
			} else {
				t->closed_at = 0;
			}
			t->una_mark = t->snd_una;
			if (window || probe) {
				n = tcp_send_batch(t, probe);
				if (n < 0)
					return fail("write: %s", write_why());
				if (probe)
					t->closed_at = 0;
			}
			any |= window;
		}
		rc = rx_pump(any ? 0 : 10, tcp_in_frame, NULL);
		while (rc > 0)
			rc = rx_pump(0, tcp_in_frame, NULL);
		if (rc < 0)
			return fail("%s", rx_why(rc));
		now = now_ns();
		for (i = 0; i < nlive; i++) {
			t = &conns[i];
			if (t->rst)
				return fail("connection reset by the peer");
			if (t->snd_una != t->una_mark) {
				t->rto_at = now + RTO_MS * 1000000ULL;
			} else if (now >= t->rto_at &&
				   t->snd_nxt != t->snd_una) {
				tcp_go_back(t);
				t->rto_at = now + RTO_MS * 1000000ULL;
			}
			if (now - t->progress >= STALL_MS * 1000000ULL)
				return fail("stalled: nothing acknowledged for "
					    "%u ms (window %llu, %u bytes in "
					    "flight)", STALL_MS,
					    (unsigned long long)t->snd_wnd,
					    t->snd_nxt - t->snd_una);
		}
	}
	for (i = 0; i < nlive; i++) {
		tcp_ctl(&conns[i], TH_RST | TH_ACK, conns[i].snd_nxt);
		acked += conns[i].acked;
	}
	tcp_report("tcp-out", acked, elapsed(t0, now));
	return 0;
}

/**
 * mode_tcp_in() - Receive from HOST:PORT for -d seconds
 * @host:	Peer address
 * @port:	Peer port
 *
 * Return: exit status
 */
static int mode_tcp_in(struct in_addr host, uint16_t port)
{
	uint64_t t0, now, end, received = 0;
	struct tcp_conn *t;
	unsigned int i;
	int rc;

	rc = tcp_open(host, port);
	if (rc)
		return rc;
	t0 = now = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ULL;
	while (now < end) {
		rc = rx_pump(10, tcp_in_frame, NULL);
		if (rc < 0)
			return fail("%s", rx_why(rc));
		for (i = 0; i < nlive; i++) {
			t = &conns[i];
			if (t->rst)
				return fail("connection reset by the peer");
			if (t->fin)
				return fail("the peer closed after %llu bytes",
					    (unsigned long long)t->received);
			if (t->ack_due) {
				if (tcp_ctl(t, TH_ACK, t->snd_nxt))
					return fail("write: %s", write_why());
				t->ack_due = false;
			}
		}
		now = now_ns();
		for (i = 0; i < nlive; i++) {
			t = &conns[i];
			if (now - t->progress >= STALL_MS * 1000000ULL)
				return fail("stalled: nothing received for %u "
					    "ms (%llu bytes, %llu gaps)",
					    STALL_MS,
					    (unsigned long long)t->received,
					    (unsigned long long)t->gaps);
		}
	}
	for (i = 0; i < nlive; i++) {
		tcp_ctl(&conns[i], TH_RST | TH_ACK, conns[i].snd_nxt);
		received += conns[i].received;
	}
	tcp_report("tcp-in", received, elapsed(t0, now));
	return 0;
}

/**
 * server_socket() - Socket bound to -b ADDR (or any) and PORT
 * @type:	SOCK_STREAM (then listening) or SOCK_DGRAM
 * @port:	Port
 *
 * Return: socket, or -1 after printing the error
 */
static int server_socket(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr = bind_ip };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    (type == SOCK_STREAM && listen(fd, CONN_MAX))) {
		fail("socket on port %u: %s", port, strerror(errno));
		return -1;
	}
	printf("listening %u\n", port);
	fflush(stdout);
	return fd;
}

/**
 * mode_udp_sink() - Count datagrams from the first until -i MS of silence
 * @port:	Port
 *
 * Return: exit status
 */
static int mode_udp_sink(uint16_t port)
{
	static uint8_t bufs[MMSG][64];
	struct mmsghdr msgs[MMSG];
	struct iovec iov[MMSG];
	uint64_t frames = 0, bytes = 0, t0 = 0, t1 = 0, base = 0, bbase = 0;
	int fd = server_socket(SOCK_DGRAM, port), i, n;
	double s;

	if (fd < 0)
		return 2;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < MMSG; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		/* MSG_TRUNC: the datagram's real length, copying little */
		n = recvmmsg(fd, msgs, MMSG, MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n > 0) {
			t1 = now_ns();
			frames += (uint64_t)n;
			for (i = 0; i < n; i++)
				bytes += msgs[i].msg_len;
			if (!t0) {
				t0 = t1;
				base = frames;
				bbase = bytes;
			}
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return fail("recvmmsg: %s", strerror(errno));
		if (poll(&pfd, 1, frames ? (int)idle_ms : -1) == 0)
			break;
	}
	if (t1 == t0)
		return fail("only %llu datagrams", (unsigned long long)frames);
	/* The rate counts from the end of the first batch */
	s = elapsed(t0, t1);
	printf("mode=udp-sink frames=%llu bytes=%llu secs=%.3f fps=%.0f "
	       "gbps=%.3f\n", (unsigned long long)frames,
	       (unsigned long long)bytes, s, (double)(frames - base) / s,
	       (double)(bytes - bbase) * 8 / s / 1e9);
	return 0;
}

/**
 * mode_udp_source() - Send datagrams to HOST:PORT for -d seconds
 * @host:	Destination
 * @port:	Destination port
 * @len:	Payload length
 *
 * Return: exit status
 */
static int mode_udp_source(struct in_addr host, uint16_t port, size_t len)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr = bind_ip };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(port), .sin_addr = host };
	uint64_t frames = 0, errors = 0, t0, t1, end;
	struct mmsghdr msgs[MMSG];
	struct iovec iov;
	uint8_t *buf = calloc(1, len + 1);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), i, n;

	if (!buf || fd < 0 ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		return fail("socket to %s:%u: %s", inet_ntoa(host), port,
			    strerror(errno)), 2;
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < MMSG; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = t1 = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ULL;
	while (t1 < end) {
		n = sendmmsg(fd, msgs, MMSG, 0);
		if (n > 0)
			frames += (uint64_t)n;
		else if (errno == ECONNREFUSED || errno == ENOBUFS ||
			 errno == EAGAIN || errno == EINTR)
			errors++;	/* port unreachable, full queue */
		else
			return fail("sendmmsg: %s", strerror(errno));
		t1 = now_ns();
	}
	printf("mode=udp-source len=%zu frames=%llu secs=%.3f fps=%.0f "
	       "errors=%llu\n", len, (unsigned long long)frames,
	       elapsed(t0, t1), (double)frames / elapsed(t0, t1),
	       (unsigned long long)errors);
	return 0;
}

/**
 * mode_tcp_server() - tcp-sink or tcp-source: one connection on PORT
 * @port:	Port
 * @source:	Write until the connection ends, instead of reading
 *
 * Return: exit status
 */
static int mode_tcp_server(uint16_t port, bool source)
{
	static uint8_t buf[256 << 10];
	int lfd = server_socket(SOCK_STREAM, port), fd;
	uint64_t bytes = 0, t0 = 0, t1 = 0;
	const char *end = "eof";
	ssize_t n;

	if (lfd < 0)
		return 2;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return fail("accept: %s", strerror(errno)), 2;
	close(lfd);
	memset(buf, 'x', sizeof(buf));
	t0 = now_ns();
	for (;;) {
		if (source)
			n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		else
			n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
			end = "reset";
			break;
		}
		if (n < 0)
			return fail("%s: %s", source ? "send" : "read",
				    strerror(errno));
		if (!n)
			break;
		bytes += (uint64_t)n;
		t1 = now_ns();
	}
	close(fd);
	printf("mode=tcp-%s bytes=%llu secs=%.3f gbps=%.3f end=%s\n",
	       source ? "source" : "sink", (unsigned long long)bytes,
	       elapsed(t0, t1 > t0 ? t1 : t0 + 1),
	       (double)bytes * 8 / elapsed(t0, t1 > t0 ? t1 : t0 + 1) / 1e9,
	       end);
	return 0;
}

/**
 * tcp_servers() - tcp-sink or tcp-source with -P N: N connections on PORT
 * @port:	Port
 * @source:	Write until the connections end, instead of reading
 *
 * Connections are taken as they come while the first ones are served,
 * all of them non-blocking under one poll(); the run ends once N came
 * and every one of them ended.
 *
 * Return: exit status
 */
static int tcp_servers(uint16_t port, bool source)
{
	static uint8_t buf[256 << 10];
	int lfd = server_socket(SOCK_STREAM, port);
	unsigned int accepted = 0, open = 0, i;
	uint64_t bytes = 0, t0 = 0, t1 = 0;
	struct pollfd p[CONN_MAX + 1];
	const char *end = "eof";
	ssize_t n;

	if (lfd < 0)
		return 2;
	memset(buf, 'x', sizeof(buf));
	p[0].fd = lfd;
	p[0].events = POLLIN;
	while (accepted < nconn || open) {
		if (poll(p, accepted + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll: %s", strerror(errno)), 2;
		}
		if (p[0].fd >= 0 && (p[0].revents & POLLIN)) {
			int fd = accept(lfd, NULL, NULL);

			if (fd < 0)
				return fail("accept: %s", strerror(errno)), 2;
			set_nonblock(fd);
			if (!t0)
				t0 = now_ns();
			accepted++;
			open++;
			p[accepted].fd = fd;
			p[accepted].events = source ? POLLOUT : POLLIN;
			p[accepted].revents = 0;
			if (accepted == nconn) {
				close(lfd);
				p[0].fd = -1;
			}
		}
		for (i = 1; i <= accepted; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (source)
				n = send(p[i].fd, buf, sizeof(buf),
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			else
				n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
				end = "reset";
			else if (n < 0)
				return fail("%s: %s", source ? "send" : "read",
					    strerror(errno));
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open--;
				continue;
			}
			bytes += (uint64_t)n;
			t1 = now_ns();
		}
	}
	printf("mode=tcp-%s bytes=%llu secs=%.3f gbps=%.3f end=%s "
	       "streams=%u\n", source ? "source" : "sink",
	       (unsigned long long)bytes,
	       elapsed(t0, t1 > t0 ? t1 : t0 + 1),
	       (double)bytes * 8 / elapsed(t0, t1 > t0 ? t1 : t0 + 1) / 1e9,
	       end, nconn);
	return 0;
}

/**
 * parse_port() - Parse a port number
 * @s:		Text
 * @port:	Port, set on success
 *
 * Return: 0, or -1 if it is no port
 */
static int parse_port(const char *s, uint16_t *port)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (*e || v <= 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/**
 * parse_uint() - Parse a non-negative number with an upper bound
 * @s:		Text
 * @max:	Largest value taken
 * @v:		Value, set on success
 *
 * Return: 0, or -1 if it is not one
 */
static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *e;

	errno = 0;
	*v = strtoul(s, &e, 10);
	return *s && !*e && !errno && *v <= max ? 0 : -1;
}

/* Print the usage summary. Return: 2, the exit status of usage errors */
static int usage(void)
{
	fprintf(stderr,
"Usage: vm_bench [OPTION]... MODE ARG...\n"
"  guest modes (-s PATH): udp-out HOST PORT LEN | udp-in PORT LEN |\n"
"                         tcp-out HOST PORT | tcp-in HOST PORT\n"
"  far ends: udp-sink PORT | udp-source HOST PORT LEN |\n"
"            tcp-sink PORT | tcp-source PORT\n"
"  options: -s PATH -V -q PAIRS -O -R N -P N -a ADDR -g ADDR -m MAC -M MTU\n"
"           -d SECS -n N -i MS -b ADDR -t SECS\n");
	return 2;
}

/**
 * main() - Parse options and arguments, run one mode
 * @argc:	Argument count
 * @argv:	Options, then MODE and its arguments
 *
 * Return: exit status (see the header)
 */
int main(int argc, char **argv)
{
	unsigned long v, timeout = 0;
	const char *path = NULL, *mode;
	struct in_addr host = { 0 };
	uint16_t port = 0;
	unsigned int i;
	size_t len = 0;
	int opt, rc;

	inet_pton(AF_INET, "192.0.2.1", &guest_ip);
	inet_pton(AF_INET, "192.0.2.2", &gw_ip);
	while ((opt = getopt(argc, argv, "s:Vq:OP:R:a:g:m:M:d:n:i:b:t:")) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'V':
			vhost = true;
			break;
		case 'q':
			if (parse_uint(optarg, VU_PAIRS, &v) || !v)
				return usage();
			pairs = (unsigned int)v;
			break;
		case 'O':
			no_offload = true;
			break;
		case 'P':
			if (parse_uint(optarg, CONN_MAX, &v) || !v)
				return usage();
			nconn = (unsigned int)v;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &guest_ip) != 1)
				return usage();
			break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &gw_ip) != 1)
				return usage();
			break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &bind_ip) != 1)
				return usage();
			break;
		case 'm':
			if (sscanf(optarg, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
				   &guest_mac[0], &guest_mac[1], &guest_mac[2],
				   &guest_mac[3], &guest_mac[4],
				   &guest_mac[5]) != 6)
				return usage();
			break;
		case 'M':
			if (parse_uint(optarg, 65520, &v) || v < 576)
				return usage();
			mtu = (unsigned int)v;
			break;
		case 'd':
			if (parse_uint(optarg, 3600, &v) || !v)
				return usage();
			secs = (unsigned int)v;
			break;
		case 'n':
			if (parse_uint(optarg, 4096, &v) || !v)
				return usage();
			per_write = (unsigned int)v;
			break;
		case 'R':
			if (parse_uint(optarg, VQ_N, &v) || v < 32)
				return usage();
			rx_bufs = (unsigned int)v;
			break;
		case 'i':
			if (parse_uint(optarg, 60000, &v) || !v)
				return usage();
			idle_ms = (unsigned int)v;
			break;
		case 't':
			if (parse_uint(optarg, 86400, &v) || !v)
				return usage();
			timeout = v;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	mode = argv[optind];
	argv += optind + 1;
	argc -= optind + 1;

	/* HOST PORT [LEN], PORT [LEN], or PORT, by mode */
	if (!strcmp(mode, "udp-out") || !strcmp(mode, "tcp-out") ||
	    !strcmp(mode, "tcp-in") || !strcmp(mode, "udp-source")) {
		if (argc < 2 || inet_pton(AF_INET, argv[0], &host) != 1 ||
		    parse_port(argv[1], &port))
			return usage();
		argv += 2;
		argc -= 2;
	} else {
		if (argc < 1 || parse_port(argv[0], &port))
			return usage();
		argv++;
		argc--;
	}
	if (!strcmp(mode, "udp-out") || !strcmp(mode, "udp-in") ||
	    !strcmp(mode, "udp-source")) {
		if (argc != 1 || parse_uint(argv[0], 65507, &v))
			return usage();
		len = v;
	} else if (argc) {
		return usage();
	}
	if (!vhost && (pairs > 1 || no_offload))
		return fail("-q and -O are for vhost-user (-V)"), 2;
	if (nconn > 1 && strncmp(mode, "tcp-", 4))
		return fail("-P is for the TCP modes"), 2;
	if ((!strcmp(mode, "udp-out") || !strcmp(mode, "udp-in")) &&
	    IP4_LEN + UDP_LEN + len > mtu)
		return fail("datagram of %zu bytes over the MTU %u", len,
			    mtu), 2;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned int)(timeout ? timeout : secs + 30UL));

	if (!strcmp(mode, "udp-sink"))
		return mode_udp_sink(port);
	if (!strcmp(mode, "udp-source"))
		return mode_udp_source(host, port, len);
	if (!strcmp(mode, "tcp-sink"))
		return nconn > 1 ? tcp_servers(port, false) :
		       mode_tcp_server(port, false);
	if (!strcmp(mode, "tcp-source"))
		return nconn > 1 ? tcp_servers(port, true) :
		       mode_tcp_server(port, true);
	if (strcmp(mode, "udp-out") && strcmp(mode, "udp-in") &&
	    strcmp(mode, "tcp-out") && strcmp(mode, "tcp-in"))
		return usage();

	rc = guest_start(path);
	if (rc)
		return rc;
	if (!strcmp(mode, "udp-out"))
		return mode_udp_out(host, port, len);
	if (!strcmp(mode, "udp-in"))
		return mode_udp_in(port, len);
	if (!strcmp(mode, "tcp-out"))
		rc = mode_tcp_out(host, port);
	else
		rc = mode_tcp_in(host, port);
	/* Failed with connections open: leave nothing behind */
	for (i = 0; rc && i < nlive; i++)
		if (conns[i].syn_ack)
			tcp_ctl(&conns[i], TH_RST | TH_ACK, conns[i].snd_nxt);
	return rc;
}
