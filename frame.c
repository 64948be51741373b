/* frame.c - Ethernet frames: the parsed view of a frame from the guest,
 * and the output queue that protocols fill and the tap side flushes
 *
 * Theory of operation
 * Input: frame_parse() checks every length a frame claims against the
 * bytes that arrived before anything reads past the Ethernet header, so
 * protocols see only L4 data that is really there. Anything malformed is
 * counted as a drop and never reaches a protocol.
 *
 * Output: one arena, allocated at start, holds frames that protocols build
 * in place: frame_ip_begin() reserves room and writes Ethernet and IP
 * headers, the protocol writes its L4 header and payload, frame_ip_end()
 * fixes lengths and checksums. Each queued frame is a short iovec list, so
 * a later data path can point a frame's payload at a buffer it owns rather
 * than copying into the arena. The tap side empties the queue once per
 * loop iteration; when the arena or the frame list fills up first, the
 * queue calls the flush hook the tap side registered.
 */
#include <errno.h>
#include <stdlib.h>

#include "checksum.h"
#include "frame.h"
#include "log.h"

#define IP6_EXT_MAX	8	/* extension headers we walk at most */

static int frame_parse_l4(struct frame_in *f)
{
	size_t min;

	switch (f->proto) {
	case IPPROTO_UDP:
		min = 8;
		break;
	case IPPROTO_TCP:
		min = 20;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		min = 4;
		break;
	default:
		return 0;
	}
	if (f->l4_len < min) {
		drop(DROP_L4_SHORT);
		return -1;
	}
	if (f->proto == IPPROTO_UDP) {
		uint16_t ulen = rd16(f->l4 + 4);

		if (ulen < 8 || ulen > f->l4_len) {
			drop(DROP_L4_SHORT);
			return -1;
		}
		f->l4_len = ulen;
	} else if (f->proto == IPPROTO_TCP) {
		size_t doff = (size_t)(f->l4[12] >> 4) * 4;

		if (doff < 20 || doff > f->l4_len) {
			drop(DROP_L4_SHORT);
			return -1;
		}
	}
	return 0;
}

static int frame_parse_ip4(struct frame_in *f, const uint8_t *p, size_t avail)
{
	size_t ihl, tot;

	if (avail < IP4_HDR_LEN) {
		drop(DROP_IP_SHORT);
		return -1;
	}
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if ((p[0] >> 4) != 4 || ihl < IP4_HDR_LEN || ihl > avail ||
	    csum(p, ihl, 0)) {
		drop(DROP_IP_BAD_HDR);
		return -1;
	}
	tot = rd16(p + 2);
	if (tot < ihl) {
		drop(DROP_IP_BAD_HDR);
		return -1;
	}
	if (tot > avail) {
		drop(DROP_IP_BAD_LEN);
		return -1;
	}
	if (rd16(p + 6) & 0x3fff) {	/* MF set or fragment offset */
		drop(DROP_IP_FRAG);
		return -1;
	}
	f->af = AF_INET;
	f->l3_len = tot;
	f->ttl = p[8];
	f->proto = p[9];
	inany_from_v4(&f->src, (struct in_addr){ 0 });
	inany_from_v4(&f->dst, (struct in_addr){ 0 });
	memcpy(&f->src.v4mapped.a4, p + 12, 4);
	memcpy(&f->dst.v4mapped.a4, p + 16, 4);
	f->l4 = p + ihl;
	f->l4_len = tot - ihl;
	return frame_parse_l4(f);
}

static int frame_parse_ip6(struct frame_in *f, const uint8_t *p, size_t avail)
{
	size_t tot, off = IP6_HDR_LEN;
	uint8_t next;
	int i;

	if (avail < IP6_HDR_LEN) {
		drop(DROP_IP_SHORT);
		return -1;
	}
	if ((p[0] >> 4) != 6 || !rd16(p + 4)) {
		drop(DROP_IP_BAD_HDR);
		return -1;
	}
	tot = IP6_HDR_LEN + rd16(p + 4);
	if (tot > avail) {
		drop(DROP_IP_BAD_LEN);
		return -1;
	}
	next = p[6];
	for (i = 0; ; i++) {
		size_t hlen;

		if (next == IPPROTO_FRAGMENT) {
			drop(DROP_IP_FRAG);
			return -1;
		}
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS)
			break;
		if (i == IP6_EXT_MAX || off + 8 > tot) {
			drop(DROP_IP_BAD_HDR);
			return -1;
		}
		hlen = ((size_t)p[off + 1] + 1) * 8;
		if (off + hlen > tot) {
			drop(DROP_IP_BAD_HDR);
			return -1;
		}
		next = p[off];
		off += hlen;
	}
	f->af = AF_INET6;
	f->l3_len = tot;
	f->ttl = p[7];
	f->proto = next;
	memcpy(&f->src.a6, p + 8, 16);
	memcpy(&f->dst.a6, p + 24, 16);
	f->l4 = p + off;
	f->l4_len = tot - off;
	return frame_parse_l4(f);
}

/**
 * frame_parse() - Parse and bounds-check a frame from the guest
 * @buf:	Frame, starting at the Ethernet header
 * @len:	Bytes in @buf
 * @f:		Parsed view, valid while @buf is
 *
 * Return: 0 if the frame can be handed to a protocol, -1 if it was
 *	   dropped (and counted)
 */
int frame_parse(const uint8_t *buf, size_t len, struct frame_in *f)
{
	memset(f, 0, sizeof(*f));
	if (len < ETH_HDR_LEN) {
		drop(DROP_ETH_SHORT);
		return -1;
	}
	f->frame = buf;
	f->len = len;
	f->inl = len;
	f->dst_mac = buf;
	f->src_mac = buf + MAC_LEN;
	f->ethertype = rd16(buf + 12);
	f->l3 = buf + ETH_HDR_LEN;
	f->l3_len = len - ETH_HDR_LEN;

	switch (f->ethertype) {
	case ETHTYPE_ARP:
		return 0;
	case ETHTYPE_IP4:
		return frame_parse_ip4(f, f->l3, f->l3_len);
	case ETHTYPE_IP6:
		return frame_parse_ip6(f, f->l3, f->l3_len);
	default:
		drop(DROP_ETH_TYPE);
		return -1;
	}
}

/**
 * frame_buf_next_free() - The next receive buffer no one holds, in turn
 * @bufs:	A frontend's receive buffers
 * @n:		How many
 * @next:	Where the search starts, moved past the buffer returned
 *
 * Return: the buffer, NULL if all are held
 */
struct frame_buf *frame_buf_next_free(struct frame_buf *bufs, unsigned int n,
				      unsigned int *next)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct frame_buf *b = &bufs[*next];

		*next = (*next + 1) % n;
		if (!b->holds)
			return b;
	}
	return NULL;
}

/**
 * frame_queue_init() - Allocate an output queue (once, at start)
 * @q:		Queue
 * @size:	Arena size in bytes, at least FRAME_MAX
 * @max:	Most frames queued at once
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int frame_queue_init(struct frame_queue *q, size_t size, unsigned int max)
{
	memset(q, 0, sizeof(*q));
	q->arena = malloc(size);
	q->out = calloc(max, sizeof(*q->out));
	if (!q->arena || !q->out)
		return -ENOMEM;
	q->size = size;
	q->max = max;
	memcpy(q->guest_mac, MAC_BROADCAST, MAC_LEN);
	return 0;
}

/**
 * frame_queue_reset() - Forget every queued frame, after a flush
 * @q:		Queue
 */
void frame_queue_reset(struct frame_queue *q)
{
	q->n = 0;
	q->used = 0;
	q->cur = NULL;
}

/**
 * frame_eth_begin() - Start a frame and write its Ethernet header
 * @q:		Queue
 * @dst_mac:	Destination, NULL for the guest's MAC
 * @ethertype:	EtherType, host order
 * @room:	Most bytes the caller will write after the Ethernet header
 *
 * Return: where the caller writes the payload, NULL if it cannot fit
 */
uint8_t *frame_eth_begin(struct frame_queue *q, const uint8_t *dst_mac,
			 uint16_t ethertype, size_t room)
{
	size_t need = ETH_HDR_LEN + room;

	if (need > q->size || q->cur) {
		drop(DROP_QUEUE_FULL);
		return NULL;
	}
	if ((q->used + need > q->size || q->n == q->max) && q->flush)
		q->flush(q);
	if (q->used + need > q->size || q->n == q->max) {
		drop(DROP_QUEUE_FULL);
		return NULL;
	}
	q->cur = q->arena + q->used;
	q->cur_room = need;
	memcpy(q->cur, dst_mac ? dst_mac : q->guest_mac, MAC_LEN);
	memcpy(q->cur + MAC_LEN, q->our_mac, MAC_LEN);
	wr16(q->cur + 12, ethertype);
	return q->cur + ETH_HDR_LEN;
}

/**
 * frame_eth_end() - Queue the frame started by frame_eth_begin()
 * @q:		Queue
 * @len:	Bytes written after the Ethernet header
 *
 * Return: 0 on success, -EINVAL if @len exceeds the room reserved
 */
int frame_eth_end(struct frame_queue *q, size_t len)
{
	struct frame_out *o;
	size_t total = ETH_HDR_LEN + len;

	if (!q->cur || total > q->cur_room) {
		frame_abort(q);
		return -EINVAL;
	}
	o = &q->out[q->n++];
	/* a literal: every field a frame does not set is zero, not stale */
	*o = (struct frame_out){ .iov = { { q->cur, total } }, .iovcnt = 1,
				 .len = total };
	q->used += (total + 7) & ~(size_t)7;	/* keep headers aligned */
	q->cur = NULL;
	return 0;
}

/**
 * frame_abort() - Give up the frame being built
 * @q:		Queue
 */
void frame_abort(struct frame_queue *q)
{
	q->cur = NULL;
}

/**
 * frame_ip_hdr_len() - Length of Ethernet and IP headers for a family
 * @v4:		IPv4 (else IPv6)
 *
 * Return: header length in bytes
 */
size_t frame_ip_hdr_len(bool v4)
{
	return ETH_HDR_LEN + (v4 ? IP4_HDR_LEN : IP6_HDR_LEN);
}

/**
 * frame_ip_hdr_write() - Write Ethernet and IP headers at @buf
 * @q:		Queue, for the MAC addresses
 * @buf:	Start of the frame
 * @h:		What the headers say
 *
 * Lengths and checksums are left for frame_ip_hdr_finish().
 *
 * Return: where the L4 header goes
 */
uint8_t *frame_ip_hdr_write(const struct frame_queue *q, uint8_t *buf,
			    const struct frame_ip_hdr *h)
{
	bool v4 = inany_is_v4(&h->src);
	uint8_t ttl = h->ttl ? h->ttl : 64;
	uint8_t *p = buf + ETH_HDR_LEN;

	memcpy(buf, h->dst_mac ? h->dst_mac : q->guest_mac, MAC_LEN);
	memcpy(buf + MAC_LEN, q->our_mac, MAC_LEN);
	wr16(buf + 12, v4 ? ETHTYPE_IP4 : ETHTYPE_IP6);
	if (v4) {
		memset(p, 0, IP4_HDR_LEN);
		p[0] = 0x45;
		p[6] = 0x40;		/* don't fragment */
		p[8] = ttl;
		p[9] = h->proto;
		memcpy(p + 12, &h->src.v4mapped.a4, 4);
		memcpy(p + 16, &h->dst.v4mapped.a4, 4);
		return p + IP4_HDR_LEN;
	}
	memset(p, 0, IP6_HDR_LEN);
	p[0] = 0x60;
	p[6] = h->proto;
	p[7] = ttl;
	memcpy(p + 8, &h->src.a6, 16);
	memcpy(p + 24, &h->dst.a6, 16);
	return p + IP6_HDR_LEN;
}

/**
 * frame_ip_begin() - Start an IP frame: Ethernet and IP headers
 * @q:		Queue
 * @h:		What the headers say
 * @room:	Most L4 bytes (header and payload) the caller will write
 *
 * Return: where the caller writes the L4 header, NULL if it cannot fit
 */
uint8_t *frame_ip_begin(struct frame_queue *q, const struct frame_ip_hdr *h,
			size_t room)
{
	bool v4 = inany_is_v4(&h->src);
	size_t l3 = v4 ? IP4_HDR_LEN : IP6_HDR_LEN;
	uint8_t *p;

	if (room > 65535 - (v4 ? l3 : 0))
		return NULL;
	p = frame_eth_begin(q, h->dst_mac, v4 ? ETHTYPE_IP4 : ETHTYPE_IP6,
			    l3 + room);
	if (!p)
		return NULL;
	q->cur_l4 = frame_ip_hdr_write(q, q->cur, h);
	return q->cur_l4;
}

/* Offset of the checksum field in an L4 header, -1 if none we fill */
static int frame_l4_csum_off(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_UDP:
		return 6;
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return 2;
	default:
		return -1;
	}
}

/**
 * frame_ip_hdr_finish() - Fill lengths and checksums of a built IP frame
 * @buf:	Start of the frame (Ethernet header)
 * @l4_len:	L4 bytes after the IP header
 * @l4_csum:	Compute the L4 checksum; else the field gets the
 *		pseudo-header sum only, to be completed or trusted by the
 *		kernel (see csum_skip and frame_push_partial())
 *
 * Fills the IP length fields, the IPv4 header checksum and the L4 checksum
 * (UDP, TCP, ICMP, ICMPv6), and for UDP the length field.
 *
 * Return: length of the whole frame
 */
size_t frame_ip_hdr_finish(uint8_t *buf, size_t l4_len, bool l4_csum)
{
	uint8_t *ip = buf + ETH_HDR_LEN;
	bool v4 = (ip[0] >> 4) == 4;
	size_t l3 = v4 ? IP4_HDR_LEN : IP6_HDR_LEN;
	uint8_t proto = v4 ? ip[9] : ip[6], *l4 = ip + l3;
	int off = frame_l4_csum_off(proto);
	uint32_t sum = 0;

	if (proto == IPPROTO_UDP)
		wr16(l4 + 4, (uint16_t)l4_len);
	if (v4) {
		struct in_addr s4, d4;

		wr16(ip + 2, (uint16_t)(l3 + l4_len));
		wr16(ip + 10, 0);
		wr16(ip + 10, csum(ip, l3, 0));
		memcpy(&s4, ip + 12, 4);
		memcpy(&d4, ip + 16, 4);
		if (proto != IPPROTO_ICMP)
			sum = csum_pseudo4(s4, d4, proto, (uint16_t)l4_len);
	} else {
		struct in6_addr s6, d6;

		wr16(ip + 4, (uint16_t)l4_len);
		memcpy(&s6, ip + 8, 16);
		memcpy(&d6, ip + 24, 16);
		sum = csum_pseudo6(&s6, &d6, proto, (uint32_t)l4_len);
	}
	if (!l4_csum && off >= 0 && (size_t)off + 2 <= l4_len) {
		wr16(l4 + off, (uint16_t)~csum_fold(sum));
	} else if (off >= 0 && (size_t)off + 2 <= l4_len) {
		uint16_t c;

		wr16(l4 + off, 0);
		c = csum(l4, l4_len, sum);
		if (!c && proto == IPPROTO_UDP)
			c = 0xffff;
		wr16(l4 + off, c);
	}
	return ETH_HDR_LEN + l3 + l4_len;
}

/**
 * frame_ip_end() - Finish and queue the frame started by frame_ip_begin()
 * @q:		Queue
 * @l4_len:	L4 bytes written
 *
 * Return: 0 on success, -EINVAL if @l4_len exceeds the room reserved
 */
int frame_ip_end(struct frame_queue *q, size_t l4_len)
{
	size_t l3;

	if (!q->cur)
		return -EINVAL;
	l3 = (size_t)(q->cur_l4 - q->cur) - ETH_HDR_LEN;
	if (ETH_HDR_LEN + l3 + l4_len > q->cur_room) {
		frame_abort(q);
		return -EINVAL;
	}
	frame_ip_hdr_finish(q->cur, l4_len, true);
	return frame_eth_end(q, l3 + l4_len);
}

/**
 * frame_reserve() - Reserve a region of the arena for frames built by the
 *		     caller in place (e.g. many segments read by one recvmsg())
 * @q:		Queue
 * @len:	Bytes needed
 *
 * The region belongs to the caller until the queue is flushed; frames in it
 * are queued with frame_push(). May flush the queue first to make room.
 *
 * Return: start of the region (8-byte aligned), NULL if it cannot fit
 */
uint8_t *frame_reserve(struct frame_queue *q, size_t len)
{
	uint8_t *p;

	len = (len + 7) & ~(size_t)7;
	if (len > q->size || q->cur)
		return NULL;
	if (q->used + len > q->size && q->flush)
		q->flush(q);
	if (q->used + len > q->size)
		return NULL;
	p = q->arena + q->used;
	q->used += len;
	return p;
}

/**
 * frame_reserve_first() - Reserve a region at the start of the arena,
 *			   flushing the queue first if anything is in it
 * @q:		Queue
 * @len:	Bytes needed
 *
 * The region has the same address every time, q->arena: buffers there
 * can be registered with the kernel once (udp.c, SO_RECVMMSG_REG).
 *
 * Return: q->arena, or NULL if the region cannot be there (a frame is
 *	   being built, the flush kept frames, @len is too large)
 */
uint8_t *frame_reserve_first(struct frame_queue *q, size_t len)
{
	if (q->cur)
		return NULL;
	if ((q->n || q->used) && q->flush)
		q->flush(q);
	if (q->n || q->used)
		return NULL;
	return frame_reserve(q, len);
}

/**
 * frame_room() - How many more frames can be queued before a flush
 * @q:		Queue
 *
 * Return: free frame entries
 */
unsigned int frame_room(const struct frame_queue *q)
{
	return q->max - q->n;
}

/**
 * frame_push() - Queue a frame that lies in memory the caller keeps valid
 *		  until the next flush (a frame_reserve() region)
 * @q:		Queue
 * @buf:	Frame
 * @len:	Length
 *
 * Return: 0 on success, -ENOSPC if the frame list is full
 */
int frame_push(struct frame_queue *q, uint8_t *buf, size_t len)
{
	struct frame_out *o;

	if (q->n == q->max)
		return -ENOSPC;
	o = &q->out[q->n++];
	*o = (struct frame_out){ .iov = { { buf, len } }, .iovcnt = 1,
				 .len = len };
	return 0;
}

/**
 * frame_push_partial() - Queue a frame whose L4 checksum holds only the
 *			  pseudo-header sum (frame_ip_hdr_finish() without
 *			  l4_csum), for a frontend with csum_skip
 * @q:		Queue
 * @buf:	Frame
 * @len:	Length
 * @csum_start:	Offset of the L4 header
 * @csum_off:	Offset of its checksum field from @csum_start
 *
 * Return: 0 on success, -ENOSPC if the frame list is full
 */
int frame_push_partial(struct frame_queue *q, uint8_t *buf, size_t len,
		       uint16_t csum_start, uint16_t csum_off)
{
	int rc = frame_push(q, buf, len);

	if (!rc) {
		q->out[q->n - 1].csum_start = csum_start;
		q->out[q->n - 1].csum_off = csum_off;
	}
	return rc;
}

/**
 * frame_push_gso() - Queue a frame carrying several UDP datagrams or TCP
 *		      segments of one flow back to back, for a frontend
 *		      with gso
 * @q:		Queue
 * @buf:	Frame: one IP and L4 header, then all the payload; lengths
 *		and the partial checksum (frame_ip_hdr_finish() without
 *		l4_csum) cover the whole frame, and the kernel rewrites
 *		them for each packet it cuts
 * @len:	Length
 * @csum_start:	Offset of the L4 header
 * @type:	FRAME_GSO_UDP or FRAME_GSO_TCP
 * @gso_size:	Payload bytes of each packet (the last may be shorter)
 *
 * Return: 0 on success, -ENOSPC if the frame list is full
 */
int frame_push_gso(struct frame_queue *q, uint8_t *buf, size_t len,
		   uint16_t csum_start, enum frame_gso type, uint16_t gso_size)
{
	int rc = frame_push_partial(q, buf, len, csum_start,
				    type == FRAME_GSO_UDP ? 6 : 16);

	if (!rc) {
		q->out[q->n - 1].gso_size = gso_size;
		q->out[q->n - 1].gso_type = (uint8_t)type;
	}
	return rc;
}

/**
 * frame_pipe_last() - Make the last queued frame one whose payload is not
 *		       in memory but in the payload pipe (tap_splice.c): only
 *		       its headers were built, the payload is the frontend's
 *		       to splice behind them
 * @q:		Queue, not empty
 * @payload:	Bytes at the end of the frame's one piece that are in the
 *		pipe instead
 */
void frame_pipe_last(struct frame_queue *q, size_t payload)
{
	struct frame_out *o = &q->out[q->n - 1];

	o->piped = (uint32_t)payload;
	o->iov[0].iov_len -= payload;
}

/**
 * frame_direct_last() - Make the last queued frame one whose payload is
 *			 already in the frontend's buffers (q->direct()): only
 *			 its headers are in memory here
 * @q:		Queue, not empty
 * @payload:	Bytes at the end of the frame's one piece that are there
 *		instead
 * @loan:	The loan q->direct() named for those buffers
 */
void frame_direct_last(struct frame_queue *q, size_t payload, uint32_t loan)
{
	struct frame_out *o = &q->out[q->n - 1];

	o->direct = (uint32_t)payload;
	o->loan = loan;
	o->iov[0].iov_len -= payload;
}

/**
 * frame_same_flow() - Do two parsed frames belong to the same L4 flow?
 * @a:		Frame (TCP or UDP)
 * @b:		Frame
 *
 * Return: true if protocol, addresses and ports match
 */
bool frame_same_flow(const struct frame_in *a, const struct frame_in *b)
{
	return a->proto == b->proto && a->af && b->af &&
	       !memcmp(a->l4, b->l4, 4) && inany_equal(&a->src, &b->src) &&
	       inany_equal(&a->dst, &b->dst);
}

/**
 * frame_csum_complete() - Complete an L4 checksum left partial
 * @o:		Queued frame
 *
 * Only frames built for a frontend with csum_skip have one; a frontend
 * without it (or a guest that did not take checksum offload) must never
 * hand the guest a checksum it would reject.
 *
 * Return: 0, or -1 if the frame cannot be completed (drop it)
 */
int frame_csum_complete(struct frame_out *o)
{
	const uint8_t *ip;
	uint8_t *l4;
	uint16_t sum;

	if (!o->csum_start)
		return 0;
	if (o->iovcnt != 1 || o->csum_start <= ETH_HDR_LEN ||
	    o->csum_start + o->csum_off + 2u > o->len)
		return -1;
	ip = (const uint8_t *)o->iov[0].iov_base + ETH_HDR_LEN;
	l4 = (uint8_t *)o->iov[0].iov_base + o->csum_start;
	/* The field holds the pseudo-header sum: summing over it adds the
	 * rest, as a device completing CHECKSUM_PARTIAL does */
	sum = csum(l4, o->len - o->csum_start, 0);
	if (!sum && (ip[0] >> 4 == 4 ? ip[9] : ip[6]) == IPPROTO_UDP)
		sum = 0xffff;
	wr16(l4 + o->csum_off, sum);
	o->csum_start = 0;
	return 0;
}
