/* test/tools/vu_front.c - plays QEMU as a vhost-user front end: guest
 * memory, split virtqueues, frames through them, and hostile input
 *
 * Theory of operation
 * The tool connects to the UNIX socket of `passtd --vm --vhost-user`
 * (-s PATH) and does what QEMU does for a virtio-net device with a
 * vhost-user back end, written from the vhost-user specification (QEMU's
 * docs/interop/vhost-user.rst) and the virtio 1.x one (split virtqueues,
 * the virtio-net header), with no QEMU and no guest kernel:
 *
 * - Guest memory is one memfd of MEM_SIZE bytes given to the daemon as two
 *   regions at guest physical addresses far apart (REG0_GPA, REG1_GPA),
 *   at different offsets of the file and mapped here separately: every
 *   address the daemon translates (ring addresses in our address space,
 *   descriptor addresses in guest physical ones) goes through the table.
 *   Descriptor tables and available rings are in region 0, used rings and
 *   receive buffers in region 1, transmitted frames in both.
 * - Negotiation: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
 *   SET_OWNER, SET_FEATURES, SET_MEM_TABLE, then per queue SET_VRING_NUM,
 *   _BASE, _ADDR, _KICK, _CALL, _ERR and _ENABLE (QEMU's order; -k moves
 *   _CALL and _ERR first). Once REPLY_ACK is
 *   negotiated every message without a reply of its own asks for one
 *   (need_reply) and its acknowledgement must be 0.
 * - Queue 2k is pair k's receive queue: RX_BUFS_MRG buffers of 4 KiB with
 *   MRG_RXBUF, RX_BUFS buffers of 65562 bytes without, each one
 *   device-writable descriptor (or, with -r split, a chain of three: the
 *   12-byte header, a zero-length descriptor, the rest). Buffers are
 *   posted again as soon as their frame is read. Queue 2k+1 is its
 *   transmit queue: TX_SLOTS slots of TX_SLOT_DESCS descriptors, the chain
 *   of one frame in one slot, laid out as -l says (one descriptor, header
 *   and frame apart, many pieces with a zero-length one, or the same in
 *   an indirect table), a slot free again once the daemon returned it.
 * - Receiving: poll() on the call eventfds of every receive queue, bounded
 *   by -t; a frame is the used element's buffer, or num_buffers of them
 *   with MRG_RXBUF. What the daemon writes is checked as it arrives
 *   (used ids we posted, lengths within the buffers, num_buffers, header
 *   flags and GSO types only as negotiated, a call for every frame);
 *   a violation fails the step it happened in. Partial checksums
 *   (NEEDS_CSUM, with GUEST_CSUM) are completed before frames are matched.
 * - Hostile steps: a malformed message must make the daemon close the
 *   connection (read gives 0 or ECONNRESET within -t); the tool then
 *   connects again as a new front end, so the steps after it check that
 *   the daemon serves it. A malformed ring or chain must stop that queue
 *   only: a frame sent after it gets no answer, the other pairs still
 *   answer; `reset` (GET_VRING_BASE on every ring, then set-up again)
 *   restarts it from zero.
 *
 * The guest is 02:00:00:00:00:01 with 192.0.2.1 (-m, -a), the gateway
 * 192.0.2.2 (-g), as for stream_client.
 *
 * Usage: vu_front -s PATH [-q PAIRS] [-f FEATURES] [-P PROTOCOL_FEATURES]
 *		   [-n RING_SIZE] [-p PAIR] [-t MS] [-l LAYOUT] [-r one|split]
 *		   [-C] [-k] [-e ADDR:PORT] [-a ADDR] [-g GW] [-m MAC] STEP...
 *   -q	queue pairs to set up (default: all of GET_QUEUE_NUM)
 *   -f, -P  feature bits we accept, hexadecimal (default: all we know)
 *   -n	ring size (default 256, at least 64)
 *   -p	pair whose transmit queue the ring_ steps break (default 1, or 0
 *	with one pair)
 *   -l	transmit layout: one, two (default), many, ind, indmany
 *   -C	transmit frames with partial checksums (needs VIRTIO_NET_F_CSUM)
 *   -k	SET_VRING_CALL and _ERR before the ring's other messages, as DPDK's
 *	virtio-user sends them (default: after SET_VRING_KICK, as QEMU)
 *   -e	UDP echo server the ring_rx_ steps use to see other pairs alive
 * Steps:
 *   arp[=PAIR]		ARP request for the gateway on PAIR's transmit queue
 *			(default: the one of pair=); expect the reply, on
 *			receive queue 0
 *   pair=N		send the frames of later steps on pair N
 *   ping=ADDR		ICMP echo request; expect the reply
 *   udp=ADDR:PORT[,LEN]  one datagram of LEN bytes (default 32) to an
 *			echo server; expect it back intact
 *   udpflows=ADDR:PORT,N  N flows (source ports), two datagrams each, from
 *			every pair in turn: every echo back, each flow's on
 *			one receive queue, more than one queue used if
 *			there are several pairs and N >= 8
 *   tcp=ADDR:PORT[,LEN]  handshake, LEN bytes (default 64) to an echo
 *			server, all back, then reset
 *   mq			ARP from every pair, every reply on queue 0
 *   layouts		ARP in each transmit layout (indirect ones if
 *			negotiated)
 *   reset		GET_VRING_BASE on every ring (the index must be what
 *			the daemon used: the used index), a frame posted
 *			while stopped, every ring set up again from that
 *			index (from zero if a step broke it): the frame is
 *			answered, then ARP from every pair
 *   remap		SET_MEM_TABLE again while the rings run (the daemon
 *			maps the memory anew), then ARP from every pair
 *   reconnect		close, connect again as a new front end, ARP
 *   reset_owner	RESET_OWNER, set everything up again on the same
 *			connection, ARP
 *   msg_*		malformed messages, see msg_cases[]
 *   ring_*		malformed rings and chains, see ring_cases[]
 * Output: one line per step, "ok STEP" or "not ok STEP: why", with
 * "# " lines of detail. Exit status 0 if every step passed, 1 if one
 * failed (the steps after it do not run), 2 on usage errors.
 * System calls: socket, connect, sendmsg, recv, poll, memfd_create,
 * ftruncate, mmap, eventfd, read, write, open, close.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "tool_common.h"

/* vhost-user requests */
enum {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
};

#define VU_VERSION	0x1
#define VU_REPLY	0x4
#define VU_NEED_REPLY	0x8
#define VU_HDR_LEN	12
#define VU_PAYLOAD_MAX	4096
#define VU_NOFD		(1ULL << 8)	/* u64 of SET_VRING_KICK/CALL/ERR */
#define VU_MAX_REGIONS	8

#define F_PROTOCOL	30		/* VHOST_USER_F_PROTOCOL_FEATURES */
#define PF_MQ		0
#define PF_REPLY_ACK	3

#define BIT(n)		(1ULL << (n))
#define FEATURES_KNOWN	(BIT(VIRTIO_NET_F_CSUM) |			\
			 BIT(VIRTIO_NET_F_GUEST_CSUM) |			\
			 BIT(VIRTIO_NET_F_GUEST_TSO4) |			\
			 BIT(VIRTIO_NET_F_GUEST_TSO6) |			\
			 BIT(VIRTIO_NET_F_HOST_TSO4) |			\
			 BIT(VIRTIO_NET_F_HOST_TSO6) |			\
			 BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_MQ) |\
			 BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(F_PROTOCOL) |\
			 BIT(VIRTIO_F_VERSION_1))
#define PROTO_KNOWN	(BIT(PF_MQ) | BIT(PF_REPLY_ACK))

/* Guest memory: one memfd, two regions far apart in guest physical space */
#define MEM_SIZE	(32ULL << 20)
#define REG0_GPA	0x100000ULL
#define REG0_SIZE	(8ULL << 20)
#define REG1_GPA	0x2000000ULL
#define REG1_SIZE	(MEM_SIZE - REG0_SIZE)
#define GAP_GPA		(REG0_GPA + REG0_SIZE + 0x10000)	/* unmapped */

#define QMAX		32		/* queues, 16 pairs */
#define NET_HDR		12		/* struct virtio_net_hdr_mrg_rxbuf */
#define RX_BUF_MRG	4096
#define RX_BUF_BIG	(NET_HDR + 65550)
#define RX_BUFS_MRG	64
#define RX_BUFS		8
#define TX_SLOTS	32
#define TX_SLOT_DESCS	8
#define TX_AREA		2048		/* data per slot and region */
#define TX_IND		16		/* indirect table entries per slot */
#define TX_BIG		(NET_HDR + 65550 + 64)

#define FRAME_MAX	(65550 + NET_HDR)
#define ETH_LEN		14
#define IP4_LEN		20

enum layout { LAY_ONE, LAY_TWO, LAY_MANY, LAY_IND, LAY_INDMANY, LAY_N };
static const char *const layout_names[LAY_N] = {
	"one", "two", "many", "ind", "indmany",
};

/**
 * struct vq - One virtqueue, as the driver (we) sees it
 * @idx:	vhost-user queue index
 * @on:		Set up and enabled
 * @dead:	Broken by a ring_ step: restarted from zero by `reset`
 * @ring_gpa:	Descriptor table and available ring (region 0), 0 until set
 * @used_gpa:	Used ring (region 1)
 * @desc:	Descriptor table
 * @avail:	Available ring
 * @used:	Used ring
 * @avail_idx:	Next available index we publish
 * @used_idx:	Next used element we read
 * @kick:	Kick eventfd (we write)
 * @call:	Call eventfd (the daemon writes)
 * @err:	Error eventfd
 * @buf_gpa:	Receive buffers, or transmit slot areas in region 0
 * @buf1_gpa:	Transmit slot areas in region 1
 * @ind_gpa:	Transmit indirect tables
 * @big_gpa:	Transmit buffer for frames too long for slot areas
 * @buf_size:	Receive buffer size
 * @nbufs:	Receive buffers, or transmit slots
 * @per:	Descriptors per receive buffer
 * @busy:	Receive buffer posted / transmit slot in flight
 * @big:	Slot using the big buffer, -1 if none
 */
struct vq {
	int idx;
	bool on, dead;
	uint64_t ring_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, used_idx;
	int kick, call, err;
	uint64_t buf_gpa, buf1_gpa, ind_gpa, big_gpa;
	uint32_t buf_size;
	unsigned nbufs, per;
	bool busy[RX_BUFS_MRG > TX_SLOTS ? RX_BUFS_MRG : TX_SLOTS];
	int big;
};

/* The memory table as the daemon gets it */
struct vu_region {
	uint64_t gpa, size, uaddr, offset;
};

static struct {
	uint64_t gpa, size, offset, next;
	uint8_t *hva;
} reg[2] = {
	{ .gpa = REG0_GPA, .size = REG0_SIZE, .offset = 0 },
	{ .gpa = REG1_GPA, .size = REG1_SIZE, .offset = REG0_SIZE },
};

static int memfd = -1;
static int vu = -1;			/* the connection */
static const char *sock_path;
static struct vq vqs[QMAX];
static int pairs, qnum;			/* pairs set up, pairs offered */
static int opt_pairs;
static uint64_t want_features = FEATURES_KNOWN, features;
static uint64_t want_proto = PROTO_KNOWN, proto;
static unsigned ring_num = 256;
static int hostile_pair = -1, tx_pair;
static int timeout_ms = 3000;
static enum layout tx_layout = LAY_TWO;
static bool rx_split, tx_partial, call_first;
static bool probe_set;
static struct in_addr probe_ip;
static uint16_t probe_port;

static uint8_t guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static struct in_addr guest_ip, gw_ip;
static uint16_t ip_id = 1;

static char why[512];			/* reason of the current failure */
static unsigned violations;		/* daemon misbehaviour seen */
static int got_queue;			/* receive queue of the last frame */
static bool rx_csum_valid;		/* last frame: DATA_VALID */

/**
 * fail() - Note why the current step fails
 * @fmt:	printf format
 *
 * Return: -1
 */
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char buf[sizeof(why)];		/* @why may be an argument */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(why, buf, sizeof(why));
	return -1;
}

/**
 * violation() - Report something the daemon must not do; fails the step
 * @fmt:	printf format
 */
static void __attribute__((format(printf, 1, 2))) violation(const char *fmt,
							    ...)
{
	va_list ap;

	printf("# violation: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	violations++;
}

/* Guest memory */

/**
 * g2h() - Our pointer to guest physical memory
 * @gpa:	Guest physical address
 * @len:	Bytes needed there
 *
 * Return: the pointer, NULL if not all inside one region
 */
static void *g2h(uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (gpa >= reg[i].gpa && len <= reg[i].size &&
		    gpa - reg[i].gpa <= reg[i].size - len)
			return reg[i].hva + (gpa - reg[i].gpa);
	}
	return NULL;
}

/* Our address of guest physical @gpa, as SET_VRING_ADDR takes it */
static uint64_t g2u(uint64_t gpa)
{
	return (uint64_t)(uintptr_t)g2h(gpa, 1);
}

/**
 * galloc() - Take guest memory from a region, for good
 * @r:		Region, 0 or 1
 * @size:	Bytes
 * @align:	Alignment, a power of two
 *
 * Return: guest physical address; exits if the region is full
 */
static uint64_t galloc(int r, uint64_t size, uint64_t align)
{
	uint64_t off = (reg[r].next + align - 1) & ~(align - 1);

	if (off + size > reg[r].size) {
		printf("not ok setup: guest memory region %d full\n", r);
		exit(EXIT_FAIL);
	}
	reg[r].next = off + size;
	return reg[r].gpa + off;
}

/**
 * mem_init() - Create the memfd and map both regions
 *
 * Return: 0, or -1 with the reason noted
 */
static int mem_init(void)
{
	int i;

	memfd = memfd_create("vu_front guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)MEM_SIZE))
		return fail("memfd: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		reg[i].hva = mmap(NULL, reg[i].size, PROT_READ | PROT_WRITE,
				  MAP_SHARED, memfd, (off_t)reg[i].offset);
		if (reg[i].hva == MAP_FAILED)
			return fail("mmap: %s", strerror(errno));
	}
	return 0;
}

/* Protocol messages */

/**
 * vu_send() - Send one message, descriptors on its first byte
 * @req:	Request
 * @flags:	Header flags
 * @size:	Size in the header
 * @p:		Payload
 * @len:	Payload bytes actually sent (may differ from @size)
 * @fds:	Descriptors to pass, or NULL
 * @nfds:	How many
 *
 * Return: 0, or -1 with the reason noted
 */
static int vu_send(uint32_t req, uint32_t flags, uint32_t size,
		   const void *p, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} u;
	uint32_t hdr[3] = { htole32(req), htole32(flags), htole32(size) };
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = VU_HDR_LEN },
		{ .iov_base = (void *)p, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	size_t total = VU_HDR_LEN + len;
	ssize_t n;

	if (nfds > 16)
		return fail("too many descriptors");
	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(vu, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail("request %u: sendmsg: %s", req, strerror(errno));
	/* The rest, if the socket took only part: no descriptors again */
	while ((size_t)n < total) {
		const uint8_t *rest = (size_t)n < VU_HDR_LEN ?
				      (const uint8_t *)hdr + n :
				      (const uint8_t *)p + (n - VU_HDR_LEN);
		size_t left = (size_t)n < VU_HDR_LEN ? VU_HDR_LEN - (size_t)n :
			      total - (size_t)n;
		ssize_t m = send(vu, rest, left, MSG_NOSIGNAL);

		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0)
			return fail("request %u: send: %s", req,
				    m ? strerror(errno) : "closed");
		n += m;
	}
	return 0;
}

/**
 * read_full() - Read exactly @len bytes from the connection, bounded
 * @p:		Destination
 * @len:	Bytes
 *
 * Return: 0, or -1 with the reason noted
 */
static int read_full(void *p, size_t len)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = vu, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, left_ms(deadline)) == 0)
			return fail("no reply in %d ms", timeout_ms);
		n = recv(vu, (uint8_t *)p + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("connection closed by the daemon%s%s",
				    n ? ": " : "", n ? strerror(errno) : "");
		got += (size_t)n;
	}
	return 0;
}

/**
 * vu_reply() - Read the reply to @req, of exactly @size bytes
 * @req:	Request it answers
 * @p:		Payload
 * @size:	Its size
 *
 * Return: 0, or -1 with the reason noted
 */
static int vu_reply(uint32_t req, void *p, uint32_t size)
{
	uint32_t hdr[3];

	if (read_full(hdr, sizeof(hdr)))
		return fail("request %u: %s", req, why);
	if (le32toh(hdr[0]) != req || le32toh(hdr[1]) != (VU_VERSION |
							  VU_REPLY) ||
	    le32toh(hdr[2]) != size)
		return fail("reply to request %u: header %u 0x%x %u, want "
			    "%u 0x%x %u", req, le32toh(hdr[0]),
			    le32toh(hdr[1]), le32toh(hdr[2]), req,
			    VU_VERSION | VU_REPLY, size);
	if (read_full(p, size))
		return fail("request %u: %s", req, why);
	return 0;
}

/**
 * vu_do() - A request without a reply of its own; acknowledged with
 *	     REPLY_ACK
 * @req:	Request
 * @p:		Payload
 * @size:	Its size
 * @fds:	Descriptors, or NULL
 * @nfds:	How many
 *
 * Return: 0, or -1 with the reason noted
 */
static int vu_do(uint32_t req, const void *p, uint32_t size, const int *fds,
		 int nfds)
{
	bool ack = proto & BIT(PF_REPLY_ACK);
	uint64_t r;

	if (vu_send(req, VU_VERSION | (ack ? VU_NEED_REPLY : 0), size, p,
		    size, fds, nfds))
		return -1;
	if (!ack)
		return 0;
	if (vu_reply(req, &r, sizeof(r)))
		return -1;
	if (r)
		return fail("request %u acknowledged with failure %llu", req,
			    (unsigned long long)le64toh(r));
	return 0;
}

/**
 * vu_get() - A request with a reply of its own (GET_*)
 * @req:	Request
 * @p:		Payload
 * @size:	Its size
 * @r:		Reply payload
 * @rsize:	Its size
 *
 * With REPLY_ACK the request asks for a reply too: the reply is the
 * acknowledgement, no other may follow (the next reply read would not
 * match).
 * Return: 0, or -1 with the reason noted
 */
static int vu_get(uint32_t req, const void *p, uint32_t size, void *r,
		  uint32_t rsize)
{
	bool ack = proto & BIT(PF_REPLY_ACK);

	if (vu_send(req, VU_VERSION | (ack ? VU_NEED_REPLY : 0), size, p,
		    size, NULL, 0))
		return -1;
	return vu_reply(req, r, rsize);
}

/* SET_VRING_{NUM,BASE,ENABLE}: struct vhost_vring_state */
static int vu_state(uint32_t req, unsigned idx, unsigned num)
{
	struct vhost_vring_state s = { .index = htole32(idx),
				       .num = htole32(num) };

	return vu_do(req, &s, sizeof(s), NULL, 0);
}

/* SET_VRING_{KICK,CALL,ERR} with an eventfd */
static int vu_vring_fd(uint32_t req, unsigned idx, int fd)
{
	uint64_t v = htole64(idx);

	return vu_do(req, &v, sizeof(v), &fd, 1);
}

/* Rings */

/* Publish @v as the available index, then kick unless told not to */
static void avail_publish(struct vq *q, uint16_t v)
{
	uint64_t one = 1;

	__atomic_store_n(&q->avail->idx, htole16(v), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(le16toh(__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE)) &
	      VRING_USED_F_NO_NOTIFY))
		(void)!write(q->kick, &one, sizeof(one));
}

/* The used index the daemon published */
static uint16_t used_now(const struct vq *q)
{
	return le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));
}

/* Is @q a receive queue? */
static bool is_rx(const struct vq *q)
{
	return !(q->idx & 1);
}

/**
 * rx_post() - Make receive buffer @b available
 * @q:		Receive queue
 * @b:		Buffer
 */
static void rx_post(struct vq *q, unsigned b)
{
	q->avail->ring[q->avail_idx % ring_num] = htole16((uint16_t)(b *
								    q->per));
	q->busy[b] = true;
	q->avail_idx++;
}

/**
 * ring_alloc() - Guest memory of queue @q, taken the first time only
 * @q:		Queue
 */
static void ring_alloc(struct vq *q)
{
	uint64_t used_len = 6 + 8ULL * ring_num;

	if (q->ring_gpa)
		return;
	q->ring_gpa = galloc(0, 16ULL * ring_num + 6 + 2ULL * ring_num, 4096);
	q->used_gpa = galloc(1, used_len, 4096);
	q->desc = g2h(q->ring_gpa, 16ULL * ring_num);
	q->avail = g2h(q->ring_gpa + 16ULL * ring_num, 6 + 2ULL * ring_num);
	q->used = g2h(q->used_gpa, used_len);
	if (is_rx(q)) {
		/* Room for both sizes: features may change on reconnect */
		q->buf_gpa = galloc(1, (uint64_t)RX_BUF_BIG * RX_BUFS, 4096);
		q->buf1_gpa = galloc(1, (uint64_t)RX_BUF_MRG * RX_BUFS_MRG,
				     4096);
	} else {
		q->buf_gpa = galloc(0, (uint64_t)TX_AREA * TX_SLOTS, 4096);
		q->ind_gpa = galloc(0, 16ULL * TX_IND * TX_SLOTS, 4096);
		q->buf1_gpa = galloc(1, (uint64_t)TX_AREA * TX_SLOTS, 4096);
		q->big_gpa = galloc(1, TX_BIG, 4096);
	}
}

/**
 * ring_reset() - Fresh ring: nothing available or used, buffers posted
 * @q:		Queue
 */
static void ring_reset(struct vq *q)
{
	bool mrg = features & BIT(VIRTIO_NET_F_MRG_RXBUF);
	unsigned b, d;

	ring_alloc(q);
	memset(q->desc, 0, 16ULL * ring_num);
	memset(q->avail, 0, 6 + 2ULL * ring_num);
	memset(q->used, 0, 6 + 8ULL * ring_num);
	memset(q->busy, 0, sizeof(q->busy));
	q->avail_idx = q->used_idx = 0;
	q->dead = false;
	q->big = -1;
	if (!is_rx(q)) {
		q->nbufs = ring_num / TX_SLOT_DESCS < TX_SLOTS ?
			   ring_num / TX_SLOT_DESCS : TX_SLOTS;
		return;
	}

	q->buf_size = mrg ? RX_BUF_MRG : RX_BUF_BIG;
	q->nbufs = mrg ? RX_BUFS_MRG : RX_BUFS;
	q->per = rx_split ? 3 : 1;
	if (q->nbufs * q->per > ring_num)
		q->nbufs = ring_num / q->per;
	for (b = 0; b < q->nbufs; b++) {
		uint64_t a = (mrg ? q->buf1_gpa : q->buf_gpa) +
			     (uint64_t)b * q->buf_size;
		struct vring_desc *dd = q->desc + b * q->per;

		if (!rx_split) {
			dd[0].addr = htole64(a);
			dd[0].len = htole32(q->buf_size);
			dd[0].flags = htole16(VRING_DESC_F_WRITE);
		} else {
			/* header, zero-length, the rest */
			for (d = 0; d < 3; d++) {
				dd[d].flags = htole16(VRING_DESC_F_WRITE |
						      (d < 2 ?
						       VRING_DESC_F_NEXT : 0));
				dd[d].next = htole16((uint16_t)(b * 3 + d +
								1));
			}
			dd[0].addr = htole64(a);
			dd[0].len = htole32(NET_HDR);
			dd[1].addr = htole64(a + NET_HDR);
			dd[1].len = 0;
			dd[2].addr = htole64(a + NET_HDR);
			dd[2].len = htole32(q->buf_size - NET_HDR);
		}
		rx_post(q, b);
	}
	q->avail->idx = htole16(q->avail_idx);
}

/**
 * ring_start() - Give a ring to the daemon and enable it
 * @q:		Queue
 * @base:	First available index the daemon is to use
 *
 * Return: 0, or -1 with the reason noted
 */
static int ring_start(struct vq *q, uint16_t base)
{
	struct vhost_vring_addr a = {
		.index = htole32((uint32_t)q->idx),
		.desc_user_addr = htole64(g2u(q->ring_gpa)),
		.avail_user_addr = htole64(g2u(q->ring_gpa + 16ULL *
					       ring_num)),
		.used_user_addr = htole64(g2u(q->used_gpa)),
	};
	unsigned i = (unsigned)q->idx;

	/* QEMU's order: the call after the kick; -k: before (DPDK's) */
	if ((call_first && (vu_vring_fd(VU_SET_VRING_CALL, i, q->call) ||
			    vu_vring_fd(VU_SET_VRING_ERR, i, q->err))) ||
	    vu_state(VU_SET_VRING_NUM, i, ring_num) ||
	    vu_state(VU_SET_VRING_BASE, i, base) ||
	    vu_do(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) ||
	    vu_vring_fd(VU_SET_VRING_KICK, i, q->kick) ||
	    (!call_first && (vu_vring_fd(VU_SET_VRING_CALL, i, q->call) ||
			     vu_vring_fd(VU_SET_VRING_ERR, i, q->err))))
		return fail("queue %u: %s", i, why);
	if ((features & BIT(F_PROTOCOL)) &&
	    vu_state(VU_SET_VRING_ENABLE, i, 1))
		return fail("queue %u: enable: %s", i, why);
	q->on = true;
	avail_publish(q, q->avail_idx);
	return 0;
}

/**
 * mem_table_send() - Send SET_MEM_TABLE with both regions of the memfd
 *
 * Sent at set-up, and again while rings run (step remap): the daemon maps
 * the memory anew and must drop every address of the old mappings.
 *
 * Return: 0 on success, -1 with the reason noted
 */
static int mem_table_send(void)
{
	struct vu_region r[2];
	struct {
		uint32_t n, pad;
		struct vu_region r[2];
	} mem;
	int fds[2] = { memfd, memfd };
	int i;

	for (i = 0; i < 2; i++) {
		r[i].gpa = htole64(reg[i].gpa);
		r[i].size = htole64(reg[i].size);
		r[i].uaddr = htole64((uint64_t)(uintptr_t)reg[i].hva);
		r[i].offset = htole64(reg[i].offset);
	}
	mem.n = htole32(2);
	mem.pad = 0;
	memcpy(mem.r, r, sizeof(r));
	return vu_do(VU_SET_MEM_TABLE, &mem, sizeof(mem), fds, 2);
}

/**
 * front_setup() - Negotiate and set up every ring, as a new front end
 * @connect_again:	Connect first (else: on the open connection)
 *
 * Return: 0, or -1 with the reason noted
 */
static int front_setup(bool connect_again)
{
	uint64_t v, offered, poffered;
	int i;

	if (connect_again) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		if (vu >= 0)
			close(vu);
		vu = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
		if (vu < 0 || connect(vu, (struct sockaddr *)&a, sizeof(a)))
			return fail("connect %s: %s", sock_path,
				    strerror(errno));
	}
	for (i = 0; i < QMAX; i++)
		vqs[i].on = false;
	proto = features = 0;

	if (vu_get(VU_GET_FEATURES, NULL, 0, &v, sizeof(v)))
		return -1;
	offered = le64toh(v);
	if (!(offered & BIT(VIRTIO_F_VERSION_1)))
		return fail("VERSION_1 not offered (0x%llx)",
			    (unsigned long long)offered);
	features = offered & want_features;

	if (features & BIT(F_PROTOCOL)) {
		if (vu_get(VU_GET_PROTOCOL_FEATURES, NULL, 0, &v, sizeof(v)))
			return -1;
		poffered = le64toh(v);
		v = htole64(poffered & want_proto);
		if (vu_do(VU_SET_PROTOCOL_FEATURES, &v, sizeof(v), NULL, 0))
			return -1;
		proto = poffered & want_proto;
	}

	qnum = 1;
	if (proto & BIT(PF_MQ)) {
		if (vu_get(VU_GET_QUEUE_NUM, NULL, 0, &v, sizeof(v)))
			return -1;
		if (!le64toh(v) || le64toh(v) > QMAX / 2)
			return fail("GET_QUEUE_NUM: %llu pairs",
				    (unsigned long long)le64toh(v));
		qnum = (int)le64toh(v);
	}
	pairs = (features & BIT(VIRTIO_NET_F_MQ)) ? qnum : 1;
	if (opt_pairs && opt_pairs < pairs)
		pairs = opt_pairs;

	if (vu_do(VU_SET_OWNER, NULL, 0, NULL, 0))
		return -1;
	v = htole64(features);
	if (vu_do(VU_SET_FEATURES, &v, sizeof(v), NULL, 0))
		return -1;

	if (mem_table_send())
		return -1;

	for (i = 0; i < 2 * pairs; i++) {
		ring_reset(&vqs[i]);
		if (ring_start(&vqs[i], 0))
			return -1;
	}
	if (hostile_pair < 0 || hostile_pair >= pairs)
		hostile_pair = pairs > 1 ? 1 : 0;
	return 0;
}

/* Receiving */

/**
 * rx_elem() - Take one used element of a receive queue, copy its bytes
 * @q:		Receive queue
 * @f:		Destination
 * @size:	Room there
 *
 * The buffer is posted again (published by the caller).
 * Return: bytes, 0 if none is used, -1 on a violation
 */
static long rx_elem(struct vq *q, uint8_t *f, size_t size)
{
	struct vring_used_elem e;
	uint32_t id, len, left, d;
	unsigned b;
	size_t got = 0;

	if (q->used_idx == used_now(q))
		return 0;
	e = q->used->ring[q->used_idx % ring_num];
	q->used_idx++;
	id = le32toh(e.id);
	len = le32toh(e.len);
	b = id / q->per;
	if (id % q->per || b >= q->nbufs || !q->busy[b]) {
		violation("queue %d: used id %u was not available", q->idx,
			  id);
		return -1;
	}
	q->busy[b] = false;
	if (len > q->buf_size || len > size) {
		violation("queue %d: used length %u, buffer %u", q->idx, len,
			  q->buf_size);
		return -1;
	}
	/* Our own chain, as we wrote it */
	for (left = len, d = id; left; d = le16toh(q->desc[d].next)) {
		uint32_t dl = le32toh(q->desc[d].len);
		uint32_t n = dl < left ? dl : left;

		memcpy(f + got, g2h(le64toh(q->desc[d].addr), n), n);
		got += n;
		left -= n;
		if (!(le16toh(q->desc[d].flags) & VRING_DESC_F_NEXT))
			break;
	}
	if (!q->dead)
		rx_post(q, b);
	return (long)got;
}

/**
 * rx_frame() - Take one frame of a receive queue, check its header
 * @q:		Receive queue
 * @f:		Destination: header, then the frame
 * @size:	Room there
 *
 * Return: bytes with the header, 0 if none, -1 on a violation
 */
static long rx_frame(struct vq *q, uint8_t *f, size_t size)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	bool mrg = features & BIT(VIRTIO_NET_F_MRG_RXBUF);
	long n = rx_elem(q, f, size), m;
	uint16_t nb, i, start, off;
	int64_t deadline;
	size_t total;

	if (n <= 0)
		goto out;
	if (n < NET_HDR + ETH_LEN) {
		violation("queue %d: %ld bytes used", q->idx, n);
		n = -1;
		goto out;
	}
	memcpy(&h, f, sizeof(h));
	nb = le16toh(h.num_buffers);
	if (!nb || (!mrg && nb != 1)) {
		violation("queue %d: num_buffers %u%s", q->idx, nb,
			  mrg ? "" : " without MRG_RXBUF");
		n = -1;
		goto out;
	}
	total = (size_t)n;
	for (i = 1; i < nb; i++) {
		deadline = now_ms() + 100;
		while (!(m = rx_elem(q, f + total, size - total)) &&
		       now_ms() < deadline)
			;
		if (m <= 0) {
			violation("queue %d: num_buffers %u, buffer %u %s",
				  q->idx, nb, i, m ? "bad" : "not used");
			n = -1;
			goto out;
		}
		total += (size_t)m;
	}
	n = (long)total;

	if ((h.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !(features & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		violation("queue %d: NEEDS_CSUM without GUEST_CSUM", q->idx);
	if ((h.hdr.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 &&
	     !(features & BIT(VIRTIO_NET_F_GUEST_TSO4))) ||
	    (h.hdr.gso_type == VIRTIO_NET_HDR_GSO_TCPV6 &&
	     !(features & BIT(VIRTIO_NET_F_GUEST_TSO6))) ||
	    (h.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE &&
	     h.hdr.gso_type != VIRTIO_NET_HDR_GSO_TCPV4 &&
	     h.hdr.gso_type != VIRTIO_NET_HDR_GSO_TCPV6))
		violation("queue %d: gso_type %u not negotiated", q->idx,
			  h.hdr.gso_type);
	rx_csum_valid = h.hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID;
	if (h.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint8_t *fr = f + NET_HDR;
		size_t flen = total - NET_HDR;
		uint32_t sum = 0;
		size_t k;

		start = le16toh(h.hdr.csum_start);
		off = le16toh(h.hdr.csum_offset);
		if ((size_t)start + off + 2 > flen) {
			violation("queue %d: csum_start %u offset %u, %zu "
				  "bytes", q->idx, start, off, flen);
		} else {
			for (k = start; k + 1 < flen; k += 2)
				sum += get16(fr + k);
			if ((flen - start) & 1)
				sum += (uint32_t)fr[flen - 1] << 8;
			put16(fr + start + off, fold(sum));
		}
	}
out:
	if (q->avail_idx != le16toh(q->avail->idx))
		avail_publish(q, q->avail_idx);
	return n;
}

/**
 * wait_for() - Wait for a frame that @match accepts, on any receive queue
 * @f:		Buffer, FRAME_MAX bytes: header, then the frame
 * @ms:		Timeout
 * @match:	Matcher, gets the frame without the header
 * @arg:	Its argument
 *
 * Frames arriving without a call are violations. Sets got_queue.
 * Return: frame length (without header), 0 on timeout
 */
static long wait_for(uint8_t *f, int ms,
		     bool (*match)(const uint8_t *, long, void *), void *arg)
{
	int64_t deadline = now_ms() + ms;
	bool last = false;

	for (;;) {
		struct pollfd pfd[QMAX / 2];
		int i, n = 0;
		bool any = false;
		uint64_t c;

		for (i = 0; i < 2 * pairs; i += 2) {
			struct vq *q = &vqs[i];
			long len;

			if (!q->on)
				continue;
			while ((len = rx_frame(q, f, FRAME_MAX)) != 0) {
				if (len < 0)
					continue;
				any = true;
				if (last)
					violation("queue %d: frame used, no "
						  "call", q->idx);
				got_queue = q->idx;
				if (!match || match(f + NET_HDR,
						    len - NET_HDR, arg))
					return len - NET_HDR;
			}
			pfd[n].fd = q->call;
			pfd[n++].events = POLLIN;
		}
		if (last)
			return 0;
		if (any)
			continue;
		if (poll(pfd, (nfds_t)n, left_ms(deadline)) <= 0) {
			last = true;
			continue;
		}
		for (i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN)
				(void)!read(pfd[i].fd, &c, sizeof(c));
	}
}

/* Transmitting */

/**
 * tx_reclaim() - Free the slots the daemon returned
 * @q:		Transmit queue
 */
static void tx_reclaim(struct vq *q)
{
	while (q->used_idx != used_now(q)) {
		uint32_t id = le32toh(q->used->ring[q->used_idx %
						    ring_num].id);
		unsigned s = id / TX_SLOT_DESCS;

		q->used_idx++;
		if (id % TX_SLOT_DESCS || s >= q->nbufs || !q->busy[s]) {
			violation("queue %d: used id %u was not available",
				  q->idx, id);
			continue;
		}
		q->busy[s] = false;
		if (q->big == (int)s)
			q->big = -1;
	}
}

/**
 * tx_wait() - Wait until the daemon returned every chain of a queue
 * @q:		Transmit queue
 * @ms:		Timeout
 *
 * Return: true if it did
 */
static bool tx_wait(struct vq *q, int ms)
{
	int64_t deadline = now_ms() + ms;
	uint64_t c;

	for (;;) {
		struct pollfd pfd = { .fd = q->call, .events = POLLIN };

		tx_reclaim(q);
		if (q->used_idx == q->avail_idx)
			return true;
		if (now_ms() >= deadline)
			return false;
		if (poll(&pfd, 1, left_ms(deadline) < 20 ? left_ms(deadline) :
			 20) > 0)
			(void)!read(q->call, &c, sizeof(c));
	}
}

/**
 * tx_slot() - A free transmit slot, waiting for one if needed
 * @q:		Transmit queue
 * @big:	The big buffer is needed too
 *
 * Return: slot, -1 if none came free in time (reason noted)
 */
static int tx_slot(struct vq *q, bool big)
{
	int64_t deadline = now_ms() + timeout_ms;
	unsigned s;

	do {
		tx_reclaim(q);
		for (s = 0; s < q->nbufs && (!big || q->big < 0); s++)
			if (!q->busy[s])
				return (int)s;
		usleep(1000);
	} while (now_ms() < deadline);
	return fail("queue %d: no transmit slot returned", q->idx);
}

/**
 * tx_post() - Put one chain (header and frame) on a transmit queue
 * @q:		Transmit queue
 * @pkt:	virtio-net header, then the frame
 * @len:	Bytes
 * @lay:	Layout of the chain
 *
 * Pieces go to the slot's areas in region 0 and 1 in turn, one too long
 * for them to the queue's big buffer.
 * Return: 0, or -1 with the reason noted
 */
static int tx_post(struct vq *q, const uint8_t *pkt, size_t len,
		   enum layout lay)
{
	uint32_t cut[6];
	uint64_t area[2], used_area[2] = { 0, 0 };
	struct vring_desc *t;
	bool ind = lay == LAY_IND || lay == LAY_INDMANY;
	unsigned n = 0, i, base;
	size_t off = 0;
	int s;

	if (ind && !(features & BIT(VIRTIO_RING_F_INDIRECT_DESC)))
		return fail("INDIRECT_DESC not negotiated");
	if (len > TX_BIG)
		return fail("frame of %zu bytes too long", len);
	s = tx_slot(q, len > TX_AREA);
	if (s < 0)
		return -1;
	base = (unsigned)s * TX_SLOT_DESCS;
	if (lay == LAY_ONE) {
		cut[n++] = (uint32_t)len;
	} else if ((lay == LAY_MANY || lay == LAY_INDMANY) &&
		   len > NET_HDR + 10) {
		cut[n++] = 5;
		cut[n++] = NET_HDR - 5;
		cut[n++] = 0;
		cut[n++] = 10;
		cut[n++] = (uint32_t)(len - NET_HDR - 10);
	} else {
		cut[n++] = NET_HDR;
		cut[n++] = (uint32_t)(len - NET_HDR);
	}

	area[0] = q->buf_gpa + (uint64_t)s * TX_AREA;
	area[1] = q->buf1_gpa + (uint64_t)s * TX_AREA;
	t = ind ? g2h(q->ind_gpa + 16ULL * TX_IND * (unsigned)s,
		      16ULL * TX_IND) : q->desc + base;
	for (i = 0; i < n; i++) {
		int r = (int)(i & 1);
		uint64_t a;

		if (used_area[r] + cut[i] <= TX_AREA) {
			a = area[r] + used_area[r];
			used_area[r] += cut[i];
		} else if (used_area[!r] + cut[i] <= TX_AREA) {
			a = area[!r] + used_area[!r];
			used_area[!r] += cut[i];
		} else if (q->big < 0 && cut[i] <= TX_BIG) {
			a = q->big_gpa;
			q->big = s;
		} else {
			return fail("queue %d: frame of %zu bytes does not "
				    "fit", q->idx, len);
		}
		memcpy(g2h(a, cut[i] ? cut[i] : 1), pkt + off, cut[i]);
		off += cut[i];
		t[i].addr = htole64(a);
		t[i].len = htole32(cut[i]);
		t[i].flags = htole16(i + 1 < n ? VRING_DESC_F_NEXT : 0);
		t[i].next = htole16((uint16_t)((ind ? 0 : base) + i + 1));
	}
	if (ind) {
		q->desc[base].addr = htole64(q->ind_gpa + 16ULL * TX_IND *
					     (unsigned)s);
		q->desc[base].len = htole32(16 * n);
		q->desc[base].flags = htole16(VRING_DESC_F_INDIRECT);
		q->desc[base].next = 0;
	}
	q->busy[s] = true;
	q->avail->ring[q->avail_idx % ring_num] = htole16((uint16_t)base);
	q->avail_idx++;
	avail_publish(q, q->avail_idx);
	return 0;
}

/* Partial checksum of the frame being built: start, offset; 0 if none */
static uint16_t csum_start, csum_off;

/**
 * send_frame_lay() - Send an Ethernet frame on a pair's transmit queue
 * @pair:	Queue pair
 * @f:		Frame
 * @len:	Its length
 * @lay:	Layout of the chain
 *
 * Return: 0, or -1 with the reason noted
 */
static int send_frame_lay(int pair, const uint8_t *f, size_t len,
			  enum layout lay)
{
	static uint8_t pkt[FRAME_MAX];
	struct virtio_net_hdr_mrg_rxbuf h = { .num_buffers = 0 };

	if (len > FRAME_MAX - NET_HDR)
		return fail("frame too long");
	if (csum_start) {
		h.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.hdr.csum_start = htole16(csum_start);
		h.hdr.csum_offset = htole16(csum_off);
		csum_start = 0;
	}
	memcpy(pkt, &h, NET_HDR);
	memcpy(pkt + NET_HDR, f, len);
	return tx_post(&vqs[2 * pair + 1], pkt, NET_HDR + len, lay);
}

static int send_frame(int pair, const uint8_t *f, size_t len)
{
	return send_frame_lay(pair, f, len, tx_layout);
}

/* Frames */

/* One's complement sum, not folded */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* Ethernet header from the guest to broadcast. Return: the payload */
static uint8_t *eth(uint8_t *f, uint16_t type)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, type);
	return f + ETH_LEN;
}

/* ARP request for the gateway. Return: frame length */
static size_t arp_request(uint8_t *f)
{
	uint8_t *a = eth(f, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, &guest_ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &gw_ip, 4);
	return ETH_LEN + 28;
}

/*
 * IPv4 frame around an L4 payload already at f + ETH_LEN + IP4_LEN, its
 * checksum filled here (with -C, partially for UDP and TCP: the
 * pseudo-header sum, and csum_start/csum_off set for the header).
 * Return: frame length
 */
static size_t ip4(uint8_t *f, struct in_addr src, struct in_addr dst,
		  uint8_t proto_nr, size_t l4_len)
{
	uint8_t *ip = eth(f, 0x0800), *l4 = ip + IP4_LEN;
	int off = proto_nr == 6 ? 16 : proto_nr == 17 ? 6 : 2;
	uint32_t sum = 0;
	uint16_t c;

	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(IP4_LEN + l4_len));
	put16(ip + 4, ip_id++);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto_nr;
	put16(ip + 10, 0);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, fold(sum16(ip, IP4_LEN, 0)));
	if (proto_nr != 1) {
		sum = sum16(ip + 12, 8, 0) + proto_nr + (uint32_t)l4_len;
		if (proto_nr == 17)
			put16(l4 + 4, (uint16_t)l4_len);
	}
	put16(l4 + off, 0);
	if (tx_partial && proto_nr != 1) {
		put16(l4 + off, (uint16_t)~fold(sum));
		csum_start = ETH_LEN + IP4_LEN;
		csum_off = (uint16_t)off;
		return ETH_LEN + IP4_LEN + l4_len;
	}
	c = fold(sum16(l4, l4_len, sum));
	put16(l4 + off, proto_nr == 17 && !c ? 0xffff : c);
	return ETH_LEN + IP4_LEN + l4_len;
}

/* IPv4 frame of protocol @p from @src? Return: L4 header or NULL */
static const uint8_t *ip4_in(const uint8_t *f, long len, uint8_t p,
			     struct in_addr src, size_t *l4_len)
{
	const uint8_t *ip = f + ETH_LEN;
	size_t ihl, tot;

	if (len < ETH_LEN + IP4_LEN || get16(f + 12) != 0x0800 ||
	    ip[9] != p || memcmp(ip + 12, &src, 4))
		return NULL;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (tot > (size_t)len - ETH_LEN || tot < ihl || ihl < IP4_LEN)
		return NULL;
	if (fold(sum16(ip, ihl, 0))) {
		violation("bad IPv4 header checksum");
		return NULL;
	}
	if (!rx_csum_valid && p != 1 &&
	    fold(sum16(ip + 12, 8, 0) + p + (uint32_t)(tot - ihl) +
		 sum16(ip + ihl, tot - ihl, 0)) &&
	    !(p == 17 && !get16(ip + ihl + 6))) {
		violation("bad L4 checksum");
		return NULL;
	}
	*l4_len = tot - ihl;
	return ip + ihl;
}

/* ARP reply for the gateway, to us? */
static bool match_arp(const uint8_t *f, long len, void *arg)
{
	const uint8_t *a = f + ETH_LEN;

	(void)arg;
	return len >= ETH_LEN + 28 && get16(f + 12) == 0x0806 &&
	       get16(a + 6) == 2 && !memcmp(a + 14, &gw_ip, 4) &&
	       !memcmp(a + 18, guest_mac, 6) && !memcmp(f, guest_mac, 6);
}

/* Short wait: how long a dead queue gets to prove it is dead */
static int quiet_ms(void)
{
	return timeout_ms / 4 > 300 ? timeout_ms / 4 : 300;
}

/**
 * arp_on() - ARP request on one pair; expect the reply on queue 0
 * @pair:	Queue pair
 * @lay:	Transmit layout
 *
 * Return: 0, or -1 with the reason noted
 */
static int arp_on(int pair, enum layout lay)
{
	static uint8_t f[FRAME_MAX];

	if (pair < 0 || pair >= pairs)
		return fail("no pair %d (%d set up)", pair, pairs);
	if (send_frame_lay(pair, f, arp_request(f), lay))
		return -1;
	if (!wait_for(f, timeout_ms, match_arp, NULL))
		return fail("pair %d: no ARP reply in %d ms", pair,
			    timeout_ms);
	if (got_queue != 0)
		return fail("pair %d: ARP reply on queue %d, not 0", pair,
			    got_queue);
	return 0;
}

/* ARP on every pair but @skip (-1: none) */
static int arp_all(int skip)
{
	int p;

	for (p = 0; p < pairs; p++)
		if (p != skip && arp_on(p, tx_layout))
			return -1;
	return 0;
}

/* Parse ADDR:PORT[,N] */
static int addr_port(const char *s, struct in_addr *a, uint16_t *port,
		     long *n)
{
	char buf[64], *colon, *comma;

	snprintf(buf, sizeof(buf), "%s", s);
	comma = strchr(buf, ',');
	if (comma) {
		*comma = 0;
		if (!n)
			return -1;
		*n = atol(comma + 1);
	}
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = 0;
	*port = (uint16_t)atoi(colon + 1);
	return inet_pton(AF_INET, buf, a) == 1 && *port ? 0 : -1;
}

struct echo_want {
	struct in_addr src;
	uint16_t id, seq;
	const uint8_t *data;
	size_t len;
};

static bool match_ping(const uint8_t *f, long len, void *arg)
{
	struct echo_want *w = arg;
	const uint8_t *icmp;
	size_t l4;

	icmp = ip4_in(f, len, 1, w->src, &l4);
	return icmp && l4 == 8 + w->len && icmp[0] == 0 &&
	       !fold(sum16(icmp, l4, 0)) &&
	       get16(icmp + 4) == w->id && get16(icmp + 6) == w->seq &&
	       !memcmp(icmp + 8, w->data, w->len);
}

static int step_ping(const char *dst)
{
	static uint8_t f[FRAME_MAX];
	static const uint8_t data[] = "passtd vhost-user ping";
	uint8_t *icmp = f + ETH_LEN + IP4_LEN;
	struct echo_want w = { .id = 0x4242, .seq = 1, .data = data,
			       .len = sizeof(data) };

	if (inet_pton(AF_INET, dst, &w.src) != 1)
		return fail("bad address %s", dst);
	icmp[0] = 8;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, w.id);
	put16(icmp + 6, w.seq);
	memcpy(icmp + 8, data, sizeof(data));
	put16(icmp + 2, fold(sum16(icmp, 8 + sizeof(data), 0)));
	if (send_frame(tx_pair, f, ip4(f, guest_ip, w.src, 1,
				       8 + sizeof(data))))
		return -1;
	if (!wait_for(f, timeout_ms, match_ping, &w))
		return fail("no echo reply in %d ms", timeout_ms);
	return 0;
}

/**
 * struct udp_want - Echoes expected from a UDP echo server
 * @src:	Server address
 * @sport:	Server port
 * @base:	Our first source port
 * @flows:	Flows, source ports @base to @base + @flows - 1
 * @len:	Datagram length
 * @got:	Echoes received, per flow
 * @queue:	Receive queue of each flow's first echo
 * @split:	A flow's echoes came on two queues
 */
struct udp_want {
	struct in_addr src;
	uint16_t sport, base;
	int flows;
	size_t len;
	int got[64];
	int queue[64];
	bool split;
};

/* Payload byte @i of flow @flow */
static uint8_t udp_byte(int flow, size_t i)
{
	return (uint8_t)(flow * 7 + i * 13 + (i >> 8));
}

static bool match_udp(const uint8_t *f, long len, void *arg)
{
	struct udp_want *w = arg;
	const uint8_t *u;
	size_t l4, i;
	int fl;

	u = ip4_in(f, len, 17, w->src, &l4);
	if (!u || l4 != 8 + w->len || get16(u) != w->sport)
		return false;
	fl = get16(u + 2) - w->base;
	if (fl < 0 || fl >= w->flows)
		return false;
	for (i = 0; i < w->len; i++)
		if (u[8 + i] != udp_byte(fl, i))
			return false;
	if (!w->got[fl]++)
		w->queue[fl] = got_queue;
	else if (w->queue[fl] != got_queue)
		w->split = true;
	return true;
}

/**
 * udp_round() - Datagrams on @w->flows flows, from the pairs in turn
 * @w:		What to send and expect
 * @per:	Datagrams per flow
 * @pair:	Pair to send from, -1: every pair in turn
 *
 * Return: echoes received
 */
static int udp_round(struct udp_want *w, int per, int pair)
{
	static uint8_t f[FRAME_MAX];
	uint8_t *u = f + ETH_LEN + IP4_LEN;
	int fl, k, got = 0;
	int64_t deadline;
	size_t i;

	for (fl = 0; fl < w->flows; fl++) {
		for (k = 0; k < per; k++) {
			put16(u, (uint16_t)(w->base + fl));
			put16(u + 2, w->sport);
			for (i = 0; i < w->len; i++)
				u[8 + i] = udp_byte(fl, i);
			if (send_frame(pair < 0 ? fl % pairs : pair, f,
				       ip4(f, guest_ip, w->src, 17,
					   8 + w->len)))
				return got;
		}
	}
	deadline = now_ms() + timeout_ms;
	while (got < w->flows * per && now_ms() < deadline)
		if (wait_for(f, left_ms(deadline), match_udp, w))
			got++;
	return got;
}

static int step_udp(const char *arg)
{
	struct udp_want w = { .flows = 1, .base = 40001 };
	long len = 32;

	if (addr_port(arg, &w.src, &w.sport, &len) || len < 0 ||
	    len > 65000)
		return fail("bad ADDR:PORT[,LEN] %s", arg);
	w.len = (size_t)len;
	if (udp_round(&w, 1, tx_pair) != 1)
		return fail("no echo of %zu bytes in %d ms", w.len,
			    timeout_ms);
	printf("# echo on queue %d\n", w.queue[0]);
	return 0;
}

static int step_udpflows(const char *arg)
{
	struct udp_want w = { .base = 41000, .len = 16 };
	int fl, distinct = 0, got;
	bool seen[QMAX] = { false };
	long n = 16;

	if (addr_port(arg, &w.src, &w.sport, &n) || n < 1 || n > 64)
		return fail("bad ADDR:PORT,N %s", arg);
	w.flows = (int)n;
	got = udp_round(&w, 2, -1);
	printf("# flow queues:");
	for (fl = 0; fl < w.flows; fl++) {
		printf(" %d", w.got[fl] ? w.queue[fl] : -1);
		if (w.got[fl] && !seen[w.queue[fl]]) {
			seen[w.queue[fl]] = true;
			distinct++;
		}
	}
	printf("\n");
	if (got != 2 * w.flows)
		return fail("%d of %d echoes", got, 2 * w.flows);
	if (w.split)
		return fail("one flow's echoes on two receive queues");
	if (pairs > 1 && w.flows >= 8 && distinct < 2)
		return fail("%d flows all on one receive queue", w.flows);
	return 0;
}

/**
 * struct tcp_st - The client side of one TCP connection
 * @peer:	Server address
 * @pport:	Server port
 * @lport:	Our port
 * @snd:	Next sequence number we send
 * @acked:	Highest acknowledgement from the peer
 * @wnd:	Peer's window
 * @rcv:	Next sequence number we expect
 * @data:	Bytes received, in order
 * @got:	Bytes received
 * @flags:	Flags of the last matching segment
 */
struct tcp_st {
	struct in_addr peer;
	uint16_t pport, lport;
	uint32_t snd, acked, wnd, rcv;
	uint8_t data[65536];
	size_t got;
	uint8_t flags;
};

static int tcp_send(struct tcp_st *t, uint8_t flags, const void *data,
		    size_t len)
{
	static uint8_t f[FRAME_MAX];
	uint8_t *th = f + ETH_LEN + IP4_LEN;
	size_t hl = flags & 0x02 ? 24 : 20;

	memset(th, 0, hl);
	put16(th, t->lport);
	put16(th + 2, t->pport);
	put32(th + 4, t->snd);
	put32(th + 8, flags & 0x10 ? t->rcv : 0);
	th[12] = (uint8_t)((hl / 4) << 4);
	th[13] = flags;
	put16(th + 14, 65535);
	if (hl == 24) {
		th[20] = 2;		/* MSS: segments up to our MTU */
		th[21] = 4;
		put16(th + 22, 65480);
	}
	memcpy(th + hl, data, len);
	return send_frame(tx_pair, f, ip4(f, guest_ip, t->peer, 6, hl + len));
}

/* Segment of our connection: take its data in order, note acks */
static bool match_tcp(const uint8_t *f, long len, void *arg)
{
	struct tcp_st *t = arg;
	const uint8_t *th;
	size_t l4, hl, dl;

	th = ip4_in(f, len, 6, t->peer, &l4);
	if (!th || l4 < 20 || get16(th) != t->pport ||
	    get16(th + 2) != t->lport)
		return false;
	hl = (size_t)(th[12] >> 4) * 4;
	if (hl < 20 || hl > l4)
		return false;
	t->flags = th[13];
	t->wnd = get16(th + 14);
	if (t->flags & 0x10)
		t->acked = get32(th + 8);
	if (t->flags & 0x02) {
		t->rcv = get32(th + 4) + 1;
		return true;
	}
	dl = l4 - hl;
	if (dl && get32(th + 4) == t->rcv &&
	    t->got + dl <= sizeof(t->data)) {
		memcpy(t->data + t->got, th + hl, dl);
		t->got += dl;
		t->rcv += (uint32_t)dl;
	}
	return true;
}

static int step_tcp(const char *arg)
{
	static uint8_t f[FRAME_MAX], msg[60000];
	static struct tcp_st t;
	static uint16_t lport = 40002;
	uint32_t isn = 1000000;
	size_t i, sent = 0, seg;
	int64_t deadline;
	long len = 64;

	memset(&t, 0, sizeof(t));
	t.lport = lport++;
	t.snd = isn;
	if (addr_port(arg, &t.peer, &t.pport, &len) || len < 1 ||
	    len > (long)sizeof(msg))
		return fail("bad ADDR:PORT[,LEN] %s", arg);
	for (i = 0; i < (size_t)len; i++)
		msg[i] = (uint8_t)('a' + i % 26);
	if (tcp_send(&t, 0x02, NULL, 0))
		return -1;
	if (!wait_for(f, timeout_ms, match_tcp, &t) ||
	    (t.flags & 0x12) != 0x12)
		return fail("no SYN-ACK (flags 0x%02x)", t.flags);
	t.snd++;
	if (tcp_send(&t, 0x10, NULL, 0))
		return -1;
	deadline = now_ms() + timeout_ms;
	while ((sent < (size_t)len || t.got < (size_t)len) &&
	       now_ms() < deadline && !(t.flags & 0x05)) {
		uint32_t inflight = t.snd - t.acked;

		seg = (size_t)len - sent < 8192 ? (size_t)len - sent : 8192;
		if (seg && inflight + seg <= (t.wnd ? t.wnd : 1)) {
			if (tcp_send(&t, 0x18, msg + sent, seg))
				return -1;
			sent += seg;
			t.snd += (uint32_t)seg;
			continue;
		}
		if (wait_for(f, left_ms(deadline), match_tcp, &t) &&
		    t.got)
			tcp_send(&t, 0x10, NULL, 0);
	}
	tcp_send(&t, 0x14, NULL, 0);		/* done: reset */
	if (t.got != (size_t)len || memcmp(t.data, msg, (size_t)len))
		return fail("%zu of %ld bytes sent, %zu back%s", sent, len,
			    t.got, t.flags & 0x05 ? " (FIN/RST)" : "");
	return 0;
}

static int step_layouts(void)
{
	int l;

	for (l = 0; l < LAY_N; l++) {
		if ((l == LAY_IND || l == LAY_INDMANY) &&
		    !(features & BIT(VIRTIO_RING_F_INDIRECT_DESC))) {
			printf("# layout %s: INDIRECT_DESC not negotiated\n",
			       layout_names[l]);
			continue;
		}
		if (arp_on(tx_pair, (enum layout)l))
			return fail("layout %s: %s", layout_names[l], why);
	}
	return 0;
}

/**
 * step_reset() - Stop every ring, post a frame, restart every ring
 *
 * Return: 0, or -1 with the reason noted
 */
static int step_reset(void)
{
	static uint8_t f[FRAME_MAX];
	struct vhost_vring_state st = { 0 };
	uint16_t base[QMAX], tx0_used = 0;
	bool posted = false;
	int i;

	for (i = 1; i < 2 * pairs; i += 2)
		if (vqs[i].on && !vqs[i].dead && !tx_wait(&vqs[i], timeout_ms))
			violation("queue %d: chains not returned", i);

	for (i = 0; i < 2 * pairs; i++) {
		struct vq *q = &vqs[i];
		uint16_t want = is_rx(q) ? used_now(q) : q->avail_idx;

		st.index = htole32((uint32_t)i);
		st.num = 0;
		if (vu_get(VU_GET_VRING_BASE, &st, sizeof(st), &st,
			   sizeof(st)))
			return -1;
		q->on = false;
		base[i] = (uint16_t)le32toh(st.num);
		if (le32toh(st.index) != (uint32_t)i)
			return fail("GET_VRING_BASE %d: reply for queue %u", i,
				    le32toh(st.index));
		if (q->dead) {
			printf("# queue %d (stopped): base %u, used %u, "
			       "available %u\n", i, base[i], used_now(q),
			       q->avail_idx);
			continue;
		}
		if (base[i] != want || le32toh(st.num) > 0xffff)
			return fail("GET_VRING_BASE %d: %u, want %u", i,
				    le32toh(st.num), want);
	}

	/* A chain posted on a stopped ring is used only once restarted */
	if (!vqs[1].dead) {
		tx0_used = used_now(&vqs[1]);
		if (send_frame(0, f, arp_request(f)))
			return -1;
		usleep(200 * 1000);
		if (used_now(&vqs[1]) != tx0_used)
			violation("queue 1: used a chain while stopped");
		posted = true;
	}

	for (i = 0; i < 2 * pairs; i++) {
		struct vq *q = &vqs[i];

		if (q->dead) {
			ring_reset(q);
			base[i] = 0;
		}
		if (ring_start(q, base[i]))
			return -1;
	}
	if (posted && !wait_for(f, timeout_ms, match_arp, NULL))
		return fail("ARP posted while stopped: no reply after restart");
	return arp_all(-1);
}

/**
 * expect_close() - The daemon must close the connection within -t
 *
 * Return: 0 if it did, -1 with the reason noted
 */
static int expect_close(void)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t buf[4096];

	for (;;) {
		struct pollfd pfd = { .fd = vu, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, left_ms(deadline)) == 0)
			return fail("connection still open after %d ms",
				    timeout_ms);
		n = recv(vu, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n > 0)
			printf("# %zd bytes from the daemon before closing\n",
			       n);
	}
}

/* Malformed messages */
enum msg_kind { M_VERSION, M_SIZE, M_FDS, M_MEM, M_QUEUE, M_RING };

/**
 * struct msg_case - One malformed message
 * @name:	Step name
 * @what:	What is wrong with it, for the output
 */
struct msg_case {
	const char *name;
	const char *what;
};

static const struct msg_case msg_cases[] = {
	{ "msg_version0", "GET_FEATURES, version bits 0" },
	{ "msg_version2", "GET_FEATURES, version bits 2" },
	{ "msg_big", "SET_FEATURES, size 4097" },
	{ "msg_size_u64", "SET_FEATURES, size 4" },
	{ "msg_size_get", "GET_FEATURES, size 8" },
	{ "msg_size_state", "SET_VRING_NUM, size 12" },
	{ "msg_size_addr", "SET_VRING_ADDR, size 32" },
	{ "msg_size_mem", "SET_MEM_TABLE, 2 regions, size of 1" },
	{ "msg_fds_u64", "SET_FEATURES with a descriptor" },
	{ "msg_fds_kick", "SET_VRING_KICK without descriptor or bit 8" },
	{ "msg_fds_call2", "SET_VRING_CALL with 2 descriptors" },
	{ "msg_fds_mem", "SET_MEM_TABLE, 2 regions, 1 descriptor" },
	{ "msg_mem0", "SET_MEM_TABLE, 0 regions" },
	{ "msg_mem9", "SET_MEM_TABLE, 9 regions" },
	{ "msg_map", "SET_MEM_TABLE, region on an eventfd" },
	{ "msg_map_ro", "SET_MEM_TABLE, region on a read-only memfd" },
	{ "msg_queue", "SET_VRING_NUM, queue 2 * GET_QUEUE_NUM" },
	{ "msg_queue_kick", "SET_VRING_KICK, queue 2 * GET_QUEUE_NUM" },
	{ "msg_queue_enable", "SET_VRING_ENABLE, queue 2 * GET_QUEUE_NUM" },
	{ "msg_num0", "SET_VRING_NUM 0" },
	{ "msg_num100", "SET_VRING_NUM 100" },
	{ "msg_num65536", "SET_VRING_NUM 65536" },
	{ "msg_addr", "SET_VRING_ADDR, descriptors outside the table" },
	{ "msg_addr_used", "SET_VRING_ADDR, used ring across a region end" },
};

/**
 * step_msg() - Send one malformed message, expect the connection closed,
 *		connect again as a new front end
 * @name:	Step name, from msg_cases[]
 *
 * Return: 0, or -1 with the reason noted
 */
static int step_msg(const char *name)
{
	uint8_t p[VU_PAYLOAD_MAX + 16] = { 0 };
	struct vu_region *r = (struct vu_region *)(p + 8);
	struct vhost_vring_addr *a = (struct vhost_vring_addr *)p;
	uint32_t req = 0, flags = VU_VERSION, size = 0, nr = 0;
	int fds[VU_MAX_REGIONS + 1], nfds = 0, efd, i, tmp = -1;
	uint64_t u = htole64(0);
	char path[64];

	efd = eventfd(0, EFD_CLOEXEC);
	if (!strcmp(name, "msg_version0") || !strcmp(name, "msg_version2")) {
		req = VU_GET_FEATURES;
		flags = name[11] == '0' ? 0 : 2;
	} else if (!strcmp(name, "msg_big")) {
		req = VU_SET_FEATURES;
		size = VU_PAYLOAD_MAX + 1;
	} else if (!strcmp(name, "msg_size_u64")) {
		req = VU_SET_FEATURES;
		size = 4;
	} else if (!strcmp(name, "msg_size_get")) {
		req = VU_GET_FEATURES;
		size = 8;
	} else if (!strcmp(name, "msg_size_state")) {
		req = VU_SET_VRING_NUM;
		size = 12;
		p[4] = 64;
	} else if (!strcmp(name, "msg_size_addr")) {
		req = VU_SET_VRING_ADDR;
		size = 32;
	} else if (!strncmp(name, "msg_fds_", 8) &&
		   strcmp(name, "msg_fds_mem")) {
		req = name[8] == 'u' ? VU_SET_FEATURES : name[8] == 'k' ?
		      VU_SET_VRING_KICK : VU_SET_VRING_CALL;
		size = 8;
		memcpy(p, &u, 8);
		nfds = name[8] == 'u' ? 1 : name[8] == 'k' ? 0 : 2;
		fds[0] = fds[1] = efd;
	} else if (!strncmp(name, "msg_mem", 7) ||
		   !strncmp(name, "msg_map", 7) ||
		   !strcmp(name, "msg_size_mem") ||
		   !strcmp(name, "msg_fds_mem")) {
		req = VU_SET_MEM_TABLE;
		nr = !strcmp(name, "msg_mem0") ? 0 :
		     !strcmp(name, "msg_mem9") ? 9 :
		     !strncmp(name, "msg_map", 7) ? 1 : 2;
		for (i = 0; i < (int)nr; i++) {
			/* 1 MiB each, in order, inside the memfd */
			r[i].gpa = htole64(0x10000000ULL + (uint64_t)i *
					   0x100000);
			r[i].size = htole64(0x100000);
			r[i].uaddr = htole64((uint64_t)(uintptr_t)reg[1].hva +
					     (uint64_t)i * 0x100000);
			r[i].offset = htole64(reg[1].offset +
					      (uint64_t)i * 0x100000);
			fds[i] = memfd;
		}
		p[0] = (uint8_t)nr;
		size = 8 + 32 * nr;
		nfds = (int)nr;
		if (!strcmp(name, "msg_size_mem"))
			size = 8 + 32;
		if (!strcmp(name, "msg_fds_mem"))
			nfds = 1;
		if (!strcmp(name, "msg_map"))
			fds[0] = efd;
		if (!strcmp(name, "msg_map_ro")) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d",
				 memfd);
			tmp = open(path, O_RDONLY | O_CLOEXEC);
			if (tmp < 0)
				return fail("%s: %s", path, strerror(errno));
			fds[0] = tmp;
		}
	} else if (!strncmp(name, "msg_queue", 9)) {
		req = !strcmp(name, "msg_queue") ? VU_SET_VRING_NUM :
		      !strcmp(name, "msg_queue_kick") ? VU_SET_VRING_KICK :
		      VU_SET_VRING_ENABLE;
		u = htole64(2ULL * (unsigned)qnum);
		memcpy(p, &u, 8);
		if (req != VU_SET_VRING_KICK)
			p[4] = req == VU_SET_VRING_NUM ? 64 : 1;
		size = 8;
		fds[0] = efd;
		nfds = req == VU_SET_VRING_KICK;
	} else if (!strncmp(name, "msg_num", 7)) {
		uint32_t n = htole32((uint32_t)atol(name + 7));

		req = VU_SET_VRING_NUM;
		size = 8;
		memcpy(p + 4, &n, 4);
	} else if (!strncmp(name, "msg_addr", 8)) {
		req = VU_SET_VRING_ADDR;
		size = sizeof(*a);
		a->index = 0;
		a->desc_user_addr = htole64(g2u(vqs[0].ring_gpa));
		a->avail_user_addr = htole64(g2u(vqs[0].ring_gpa +
						 16ULL * ring_num));
		a->used_user_addr = htole64(g2u(vqs[0].used_gpa));
		if (!strcmp(name, "msg_addr"))
			a->desc_user_addr = htole64(0x1000);
		else
			a->used_user_addr = htole64((uint64_t)(uintptr_t)
						    reg[1].hva + reg[1].size -
						    16);
	} else {
		return fail("no such step");
	}

	for (i = 0; i < (int)(sizeof(msg_cases) / sizeof(msg_cases[0])); i++)
		if (!strcmp(msg_cases[i].name, name))
			printf("# %s\n", msg_cases[i].what);
	/* Not all of it may go: the daemon can close first */
	vu_send(req, flags, size, p, size, fds, nfds);
	if (efd >= 0)
		close(efd);
	if (tmp >= 0)
		close(tmp);
	if (expect_close())
		return -1;
	if (front_setup(true))
		return fail("next front end: %s", why);
	return 0;
}

/* Malformed rings and chains */
static const char *const ring_cases[] = {
	"ring_avail", "ring_head", "ring_next", "ring_loop", "ring_gap",
	"ring_end", "ring_wrap", "ring_ind_nested", "ring_ind_len",
	"ring_ind_zero", "ring_ind_addr", "ring_ind_next", "ring_tx_write",
	"ring_rx_read", "ring_rx_head", "ring_rx_addr",
};

/**
 * rx_break() - Break every buffer posted on receive queue 0, send ARP
 * @how:	"read", "head" or "addr"
 *
 * Return: 0 if queue 0 stays silent and the others work, else -1
 */
static int rx_break(const char *how)
{
	static uint8_t f[FRAME_MAX];
	struct vq *q = &vqs[0];
	uint16_t p;
	unsigned b;
	int i;

	while (wait_for(f, 50, NULL, NULL))
		;			/* take what was pending */
	for (p = used_now(q); p != q->avail_idx; p++) {
		uint16_t head = le16toh(q->avail->ring[p % ring_num]);

		if (!strcmp(how, "head")) {
			q->avail->ring[p % ring_num] =
				htole16((uint16_t)(ring_num + 1));
			continue;
		}
		for (b = head; b < head + q->per; b++) {
			uint16_t fl = le16toh(q->desc[b].flags);

			if (!strcmp(how, "read"))
				q->desc[b].flags = htole16(fl &
							   ~VRING_DESC_F_WRITE);
			else
				q->desc[b].addr = htole64(GAP_GPA);
		}
	}
	q->dead = true;
	printf("# queue 0 broken\n");
	if (send_frame(0, f, arp_request(f)))
		return -1;
	if (wait_for(f, quiet_ms(), match_arp, NULL))
		return fail("ARP answered on queue %d after queue 0 broke",
			    got_queue);
	/* Other pairs: transmit still used; UDP answered elsewhere */
	for (i = 1; i < pairs; i++) {
		if (send_frame(i, f, arp_request(f)))
			return -1;
		if (!tx_wait(&vqs[2 * i + 1], timeout_ms))
			return fail("queue %d: chain not used after queue 0 "
				    "broke", 2 * i + 1);
	}
	if (probe_set && pairs > 1) {
		struct udp_want w = { .src = probe_ip, .sport = probe_port,
				      .base = 42000, .flows = 16, .len = 16 };
		int got = udp_round(&w, 1, -1);

		if (!got)
			return fail("no UDP echo on any queue");
		for (i = 0; i < w.flows; i++)
			if (w.got[i] && w.queue[i] == 0)
				return fail("UDP echo on broken queue 0");
		printf("# %d of 16 UDP echoes on other queues\n", got);
	}
	return 0;
}

/**
 * step_ring() - Break a transmit queue (or receive queue 0), check that
 *		 only it stopped
 * @name:	Step name, from ring_cases[]
 *
 * Return: 0, or -1 with the reason noted
 */
static int step_ring(const char *name)
{
	static uint8_t f[FRAME_MAX];
	struct vq *q = &vqs[2 * hostile_pair + 1];
	const char *k = name + 5;
	uint64_t tgpa;
	struct vring_desc *d, *t;
	size_t flen = arp_request(f);
	unsigned base;
	int s;

	if (!strncmp(k, "rx_", 3))
		return rx_break(k + 3);
	if (!strncmp(k, "ind_", 4) &&
	    !(features & BIT(VIRTIO_RING_F_INDIRECT_DESC)))
		return fail("INDIRECT_DESC not negotiated");

	/* A valid ARP request in slot s, header and frame apart */
	tx_reclaim(q);
	s = tx_slot(q, false);
	if (s < 0)
		return -1;
	base = (unsigned)s * TX_SLOT_DESCS;
	d = q->desc + base;
	memset(g2h(q->buf_gpa + (uint64_t)s * TX_AREA, NET_HDR), 0, NET_HDR);
	memcpy(g2h(q->buf1_gpa + (uint64_t)s * TX_AREA, flen), f, flen);
	d[0].addr = htole64(q->buf_gpa + (uint64_t)s * TX_AREA);
	d[0].len = htole32(NET_HDR);
	d[0].flags = htole16(VRING_DESC_F_NEXT);
	d[0].next = htole16((uint16_t)(base + 1));
	d[1].addr = htole64(q->buf1_gpa + (uint64_t)s * TX_AREA);
	d[1].len = htole32((uint32_t)flen);
	d[1].flags = 0;
	tgpa = q->ind_gpa + 16ULL * TX_IND * (unsigned)s;
	t = g2h(tgpa, 16ULL * TX_IND);
	memcpy(t, d, 32);
	t[0].next = htole16(1);

	if (!strcmp(k, "next")) {
		d[0].next = htole16((uint16_t)(ring_num + 3));
	} else if (!strcmp(k, "loop")) {
		d[1].flags = htole16(VRING_DESC_F_NEXT);
		d[1].next = htole16((uint16_t)base);
	} else if (!strcmp(k, "gap")) {
		d[1].addr = htole64(GAP_GPA);
	} else if (!strcmp(k, "end")) {
		d[1].addr = htole64(REG1_GPA + REG1_SIZE - 8);
	} else if (!strcmp(k, "wrap")) {
		d[1].addr = htole64(0xfffffffffffff000ULL);
		d[1].len = htole32(0x2000);
	} else if (!strcmp(k, "tx_write")) {
		d[1].flags = htole16(VRING_DESC_F_WRITE);
	} else if (!strncmp(k, "ind_", 4)) {
		d[0].addr = htole64(tgpa);
		d[0].len = htole32(32);
		d[0].flags = htole16(VRING_DESC_F_INDIRECT);
		d[0].next = 0;
		if (!strcmp(k, "ind_nested")) {
			t[1].addr = htole64(tgpa);
			t[1].len = htole32(32);
			t[1].flags = htole16(VRING_DESC_F_INDIRECT);
		} else if (!strcmp(k, "ind_len")) {
			d[0].len = htole32(24);
		} else if (!strcmp(k, "ind_zero")) {
			d[0].len = 0;
		} else if (!strcmp(k, "ind_addr")) {
			d[0].addr = htole64(GAP_GPA);
		} else if (!strcmp(k, "ind_next")) {
			t[0].next = htole16(5);
		} else {
			return fail("no such step");
		}
	} else if (strcmp(k, "avail") && strcmp(k, "head")) {
		return fail("no such step");
	}

	q->dead = true;
	q->busy[s] = true;
	printf("# queue %d broken\n", q->idx);
	if (!strcmp(k, "avail")) {
		avail_publish(q, (uint16_t)(q->avail_idx + ring_num + 1));
	} else {
		q->avail->ring[q->avail_idx % ring_num] =
			htole16((uint16_t)(strcmp(k, "head") ? base :
					   ring_num));
		q->avail_idx++;
		avail_publish(q, q->avail_idx);
		/* A valid frame behind it: never used */
		usleep(50 * 1000);
		if (send_frame(hostile_pair, f, flen))
			return -1;
	}
	if (wait_for(f, quiet_ms(), match_arp, NULL))
		return fail("ARP answered from broken queue %d", q->idx);
	return arp_all(hostile_pair);
}

static int step_reconnect(void)
{
	if (front_setup(true))
		return -1;
	return arp_on(0, tx_layout);
}

static int step_remap(void)
{
	if (mem_table_send())
		return fail("SET_MEM_TABLE while running: %s", why);
	return arp_all(-1);
}

static int step_reset_owner(void)
{
	if (vu_do(VU_RESET_OWNER, NULL, 0, NULL, 0))
		return -1;
	if (front_setup(false))
		return fail("after RESET_OWNER: %s", why);
	return arp_all(-1);
}

/**
 * run_step() - Run one step
 * @s:		Step, as on the command line
 *
 * Return: 0 on success, -1 with the reason noted
 */
static int run_step(const char *s)
{
	const char *eq = strchr(s, '=');
	const char *arg = eq ? eq + 1 : NULL;
	size_t n = eq ? (size_t)(eq - s) : strlen(s);

#define IS(name)	(n == strlen(name) && !strncmp(s, name, n))
	if (IS("arp"))
		return arp_on(arg ? atoi(arg) : tx_pair, tx_layout);
	if (IS("pair") && arg) {
		if (atoi(arg) < 0 || atoi(arg) >= pairs)
			return fail("no pair %s (%d set up)", arg, pairs);
		tx_pair = atoi(arg);
		return 0;
	}
	if (IS("ping") && arg)
		return step_ping(arg);
	if (IS("udp") && arg)
		return step_udp(arg);
	if (IS("udpflows") && arg)
		return step_udpflows(arg);
	if (IS("tcp") && arg)
		return step_tcp(arg);
	if (IS("mq"))
		return arp_all(-1);
	if (IS("layouts"))
		return step_layouts();
	if (IS("reset"))
		return step_reset();
	if (IS("reconnect"))
		return step_reconnect();
	if (IS("reset_owner"))
		return step_reset_owner();
	if (IS("remap"))
		return step_remap();
	if (!strncmp(s, "msg_", 4))
		return step_msg(s);
	if (!strncmp(s, "ring_", 5))
		return step_ring(s);
#undef IS
	return fail("unknown step");
}

static void usage(void)
{
	unsigned i;

	fprintf(stderr, "Usage: vu_front -s PATH [-q PAIRS] [-f FEATURES] "
		"[-P PROTOCOL_FEATURES] [-n RING_SIZE] [-p PAIR] [-t MS] "
		"[-l LAYOUT] [-r one|split] [-C] [-k] [-e ADDR:PORT] [-a ADDR] "
		"[-g GW] [-m MAC] STEP...\nSteps: arp[=PAIR] pair=N "
		"ping=ADDR udp=ADDR:PORT[,LEN] udpflows=ADDR:PORT,N "
		"tcp=ADDR:PORT[,LEN] mq layouts reset reconnect reset_owner");
	for (i = 0; i < sizeof(msg_cases) / sizeof(msg_cases[0]); i++)
		fprintf(stderr, " %s", msg_cases[i].name);
	for (i = 0; i < sizeof(ring_cases) / sizeof(ring_cases[0]); i++)
		fprintf(stderr, " %s", ring_cases[i]);
	fprintf(stderr, "\n");
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	int opt, i, l;

	inet_pton(AF_INET, "192.0.2.1", &guest_ip);
	inet_pton(AF_INET, "192.0.2.2", &gw_ip);
	while ((opt = getopt(argc, argv, "s:q:f:P:n:p:t:l:r:Cke:a:g:m:")) !=
	       -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'q':
			opt_pairs = atoi(optarg);
			if (opt_pairs < 1 || opt_pairs > QMAX / 2)
				usage();
			break;
		case 'f':
			want_features = strtoull(optarg, NULL, 16);
			break;
		case 'P':
			want_proto = strtoull(optarg, NULL, 16);
			break;
		case 'n':
			ring_num = (unsigned)atoi(optarg);
			if (ring_num < 64 || ring_num > 32768 ||
			    ring_num & (ring_num - 1))
				usage();
			break;
		case 'p':
			hostile_pair = atoi(optarg);
			break;
		case 't':
			timeout_ms = atoi(optarg);
			if (timeout_ms < 100)
				usage();
			break;
		case 'l':
			for (l = 0; l < LAY_N; l++)
				if (!strcmp(optarg, layout_names[l]))
					break;
			if (l == LAY_N)
				usage();
			tx_layout = (enum layout)l;
			break;
		case 'r':
			rx_split = !strcmp(optarg, "split");
			break;
		case 'C':
			tx_partial = true;
			break;
		case 'k':
			call_first = true;
			break;
		case 'e':
			if (addr_port(optarg, &probe_ip, &probe_port, NULL))
				usage();
			probe_set = true;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &guest_ip) != 1)
				usage();
			break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &gw_ip) != 1)
				usage();
			break;
		case 'm':
			if (sscanf(optarg, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
				   &guest_mac[0], &guest_mac[1], &guest_mac[2],
				   &guest_mac[3], &guest_mac[4],
				   &guest_mac[5]) != 6)
				usage();
			break;
		default:
			usage();
		}
	}
	if (!sock_path || optind >= argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < QMAX; i++) {
		vqs[i].idx = i;
		vqs[i].kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vqs[i].call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vqs[i].err = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vqs[i].kick < 0 || vqs[i].call < 0 || vqs[i].err < 0) {
			printf("not ok setup: eventfd: %s\n", strerror(errno));
			return EXIT_FAIL;
		}
	}
	if (mem_init() || front_setup(true)) {
		printf("not ok setup: %s\n", why);
		return EXIT_FAIL;
	}
	if (tx_partial && !(features & BIT(VIRTIO_NET_F_CSUM))) {
		printf("not ok setup: -C without VIRTIO_NET_F_CSUM\n");
		return EXIT_FAIL;
	}
	printf("# features 0x%llx, protocol features 0x%llx, %d of %d "
	       "pairs, ring size %u\n", (unsigned long long)features,
	       (unsigned long long)proto, pairs, qnum, ring_num);

	for (i = optind; i < argc; i++) {
		unsigned before = violations;
		int rc = run_step(argv[i]);

		if (!rc && violations != before)
			rc = fail("%u violations", violations - before);
		if (rc) {
			printf("not ok %s: %s\n", argv[i], why);
			return EXIT_FAIL;
		}
		printf("ok %s\n", argv[i]);
	}
	return EXIT_OK;
}
