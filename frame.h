/* frame.h - Ethernet frames: the parsed view of a frame from the guest,
 * and the output queue that protocols fill and the tap side flushes
 */
#ifndef FRAME_H
#define FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "inany.h"
#include "util.h"

#define ETH_HDR_LEN	14
#define IP4_HDR_LEN	20
#define IP6_HDR_LEN	40
#define ETHTYPE_IP4	0x0800
#define ETHTYPE_ARP	0x0806
#define ETHTYPE_IP6	0x86dd

/* Largest frame: an IPv4/IPv6 packet of 65535 bytes plus headers */
#define FRAME_MAX	(ETH_HDR_LEN + IP6_HDR_LEN + 65535)
/* Each queued frame may carry up to this many pieces (headers, payload) */
#define FRAME_IOV	2

/**
 * struct frame_buf - A buffer frames from the guest are read into
 * @data:	Storage
 * @size:	Bytes of storage
 * @holds:	References kept after dispatch: a protocol that hands a
 *		frame's payload to the kernel without copying it (e.g.
 *		MSG_ZEROCOPY) holds the buffer until the kernel says it is
 *		done; the frontend reads into a buffer only when it has none
 */
struct frame_buf {
	uint8_t *data;
	size_t size;
	unsigned int holds;
};

static inline void frame_buf_hold(struct frame_buf *b)
{
	b->holds++;
}

static inline void frame_buf_release(struct frame_buf *b)
{
	b->holds--;
}

struct frame_buf *frame_buf_next_free(struct frame_buf *bufs, unsigned int n,
				      unsigned int *next);

/**
 * struct frame_in - A frame from the guest, parsed and bounds-checked
 * @frame:	Start of the Ethernet header
 * @len:	Length of the whole frame
 * @src_mac:	Ethernet source
 * @dst_mac:	Ethernet destination
 * @ethertype:	EtherType, host order
 * @l3:		Network header (IP, or the ARP packet)
 * @l3_len:	Bytes from @l3 to the end of the IP packet (or frame for ARP)
 * @af:		AF_INET or AF_INET6 for IP, 0 otherwise
 * @src:	IP source
 * @dst:	IP destination
 * @proto:	L4 protocol (after IPv6 extension headers)
 * @ttl:	IPv4 TTL or IPv6 hop limit
 * @l4:		L4 header
 * @l4_len:	L4 header and payload, as the IP header says
 * @buf:	Buffer the frame lies in, for frame_buf_hold()
 * @csum_partial: The L4 checksum holds only the pseudo-header sum (the
 *		sender offloaded it): it cannot be verified
 * @inl:	Bytes of the frame at @frame (all of it, unless @ext)
 * @ext:	NULL, or pieces holding the rest of the frame, @len - @inl
 *		bytes: the payload of a TCP segment that vu_net.c left in
 *		guest memory, for the socket to take from there. Every
 *		header is at @frame; nothing but a send reads @ext
 * @n_ext:	Pieces in @ext
 */
struct frame_in {
	const uint8_t *frame;
	size_t len;
	const uint8_t *src_mac;
	const uint8_t *dst_mac;
	uint16_t ethertype;
	const uint8_t *l3;
	size_t l3_len;
	int af;
	union inany_addr src;
	union inany_addr dst;
	uint8_t proto;
	uint8_t ttl;
	const uint8_t *l4;
	size_t l4_len;
	struct frame_buf *buf;
	bool csum_partial;
	size_t inl;
	const struct iovec *ext;
	unsigned int n_ext;
};

int frame_parse(const uint8_t *buf, size_t len, struct frame_in *f);
bool frame_same_flow(const struct frame_in *a, const struct frame_in *b);

/**
 * struct frame_out - One queued frame
 * @iov:	Pieces of the frame, in order
 * @iovcnt:	Pieces used
 * @len:	Total length
 * @csum_start:	Offset of an L4 header whose checksum the frontend must
 *		have completed (CHECKSUM_PARTIAL), 0 if the frame is complete
 * @csum_off:	Offset of the checksum field from @csum_start
 * @gso_size:	Payload bytes of each packet the frame carries, for a frame
 *		the kernel splits (frame_push_gso()), 0 otherwise
 * @gso_type:	What the kernel splits it into: FRAME_GSO_*
 * @piped:	Payload bytes that follow @iov in tap_splice.c's pipe, not
 *		in memory (frame_pipe_last()), 0 for a frame all in @iov
 * @direct:	Payload bytes that are already in the frontend's buffers
 *		(frame_direct_last(), q->direct()), 0 for a frame all in @iov
 * @loan:	With @direct, the loan of those buffers (q->direct())
 */
struct frame_out {
	struct iovec iov[FRAME_IOV];
	int iovcnt;
	size_t len;
	uint16_t csum_start;
	uint16_t csum_off;
	uint16_t gso_size;
	uint8_t gso_type;
	uint32_t piped;
	uint32_t direct;
	uint32_t loan;
};

/* Kinds of frames the kernel splits (segmentation offload) */
enum frame_gso {
	FRAME_GSO_NONE = 0,
	FRAME_GSO_UDP,		/* UDP datagrams of gso_size bytes */
	FRAME_GSO_TCP,		/* TCP segments of gso_size bytes */
};

struct frame_queue;
typedef void (*frame_flush_fn)(struct frame_queue *q);
typedef int (*frame_direct_fn)(struct frame_queue *q, const uint8_t *hdr,
			       size_t hdr_len, size_t len, struct iovec *iov,
			       unsigned int max, uint32_t *loan);

/**
 * struct frame_queue - Frames toward the guest, flushed once per loop
 * @arena:	Storage for frames built in place
 * @size:	Size of @arena
 * @used:	Bytes of @arena in use
 * @out:	Queued frames
 * @n:		Number of queued frames
 * @max:	Capacity of @out
 * @our_mac:	Source MAC of every frame we build
 * @guest_mac:	Default destination MAC (broadcast until learnt)
 * @flush:	Called when the queue must be emptied to make room
 * @cur:	Frame being built (Ethernet header), NULL if none
 * @cur_room:	Room reserved for it
 * @cur_l4:	Its L4 header
 * @csum_skip:	The frontend can hand frames with a partial L4 checksum
 *		(pseudo-header only) to the kernel, which then takes them
 *		as verified: bulk data frames need not be summed
 * @gso:	The frontend can hand the kernel one frame carrying several
 *		UDP datagrams or TCP segments of one flow (frame_push_gso()),
 *		which it splits: one write for a train of datagrams, one for
 *		64 KiB of TCP payload whatever the MTU
 * @gso_udp:	With @gso, the frontend also takes UDP trains
 *		(FRAME_GSO_UDP): a tap does since Linux 6.2, probed at start
 * @full:	The frontend holds frames it could not hand over yet (a
 *		vhost-user guest without receive buffers): TCP builds no
 *		more data frames until the frontend calls tcp_front_resume()
 * @direct:	NULL, or the frontend lends buffers of its own for the
 *		payload of the next frame (vhost-user: the guest's receive
 *		buffers), so that it is read there from the socket with no
 *		copy of ours: called with the frame's headers (@hdr_len
 *		bytes: addresses and ports are set), the payload length; it
 *		fills @iov (at most @max pieces) with where the payload
 *		goes and returns the pieces used, or -1 (no buffers: build
 *		the frame in the arena), and names the loan in *@loan. A
 *		frame of those buffers is queued with frame_direct_last()
 *		and its loan; buffers lent but never queued go back at the
 *		next flush
 */
struct frame_queue {
	uint8_t *arena;
	size_t size;
	size_t used;
	struct frame_out *out;
	unsigned int n;
	unsigned int max;
	uint8_t our_mac[MAC_LEN];
	uint8_t guest_mac[MAC_LEN];
	frame_flush_fn flush;
	uint8_t *cur;
	size_t cur_room;
	uint8_t *cur_l4;
	bool csum_skip;
	bool gso;
	bool gso_udp;
	bool full;
	frame_direct_fn direct;
};

/**
 * struct frame_ip_hdr - What the IP header of an outgoing frame says
 * @dst_mac:	Ethernet destination, NULL for the guest's MAC
 * @src:	IP source (family chooses IPv4 or IPv6)
 * @dst:	IP destination, same family
 * @proto:	L4 protocol
 * @ttl:	TTL or hop limit, 0 for the default 64
 */
struct frame_ip_hdr {
	const uint8_t *dst_mac;
	union inany_addr src;
	union inany_addr dst;
	uint8_t proto;
	uint8_t ttl;
};

int frame_queue_init(struct frame_queue *q, size_t size, unsigned int max);
void frame_queue_reset(struct frame_queue *q);
uint8_t *frame_eth_begin(struct frame_queue *q, const uint8_t *dst_mac,
			 uint16_t ethertype, size_t room);
int frame_eth_end(struct frame_queue *q, size_t len);
uint8_t *frame_ip_begin(struct frame_queue *q, const struct frame_ip_hdr *h,
			size_t room);
int frame_ip_end(struct frame_queue *q, size_t l4_len);
void frame_abort(struct frame_queue *q);
size_t frame_ip_hdr_len(bool v4);
uint8_t *frame_ip_hdr_write(const struct frame_queue *q, uint8_t *buf,
			    const struct frame_ip_hdr *h);
size_t frame_ip_hdr_finish(uint8_t *buf, size_t l4_len, bool l4_csum);
uint8_t *frame_reserve(struct frame_queue *q, size_t len);
uint8_t *frame_reserve_first(struct frame_queue *q, size_t len);
unsigned int frame_room(const struct frame_queue *q);
int frame_push(struct frame_queue *q, uint8_t *buf, size_t len);
int frame_push_partial(struct frame_queue *q, uint8_t *buf, size_t len,
		       uint16_t csum_start, uint16_t csum_off);
int frame_push_gso(struct frame_queue *q, uint8_t *buf, size_t len,
		   uint16_t csum_start, enum frame_gso type, uint16_t gso_size);
void frame_pipe_last(struct frame_queue *q, size_t payload);
void frame_direct_last(struct frame_queue *q, size_t payload, uint32_t loan);
int frame_csum_complete(struct frame_out *o);

#endif /* FRAME_H */
