/* frame_test.c - unit tests for checksums, the frame parser and the
 * output queue
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "frame.h"
#include "log.h"
#include "unit.h"

static uint8_t buf[FRAME_MAX + 64];

/* Ethernet + IPv4 header (valid checksum) for an L4 part of @l4len */
static size_t ip4_frame(uint8_t proto, size_t l4len)
{
	uint8_t *ip = buf + ETH_HDR_LEN;

	memset(buf, 0, ETH_HDR_LEN + IP4_HDR_LEN + l4len);
	memset(buf, 0x02, 12);
	wr16(buf + 12, ETHTYPE_IP4);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(IP4_HDR_LEN + l4len));
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, (uint8_t[]){ 192, 0, 2, 1 }, 4);
	memcpy(ip + 16, (uint8_t[]){ 192, 0, 2, 2 }, 4);
	wr16(ip + 10, csum(ip, IP4_HDR_LEN, 0));
	if (proto == IPPROTO_UDP)
		wr16(ip + IP4_HDR_LEN + 4, (uint16_t)l4len);
	return ETH_HDR_LEN + IP4_HDR_LEN + l4len;
}

static void ip4_fix_csum(void)
{
	uint8_t *ip = buf + ETH_HDR_LEN;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;

	wr16(ip + 10, 0);
	wr16(ip + 10, csum(ip, ihl, 0));
}

static size_t ip6_frame(uint8_t next, size_t payload)
{
	uint8_t *ip = buf + ETH_HDR_LEN;

	memset(buf, 0, ETH_HDR_LEN + IP6_HDR_LEN + payload);
	memset(buf, 0x02, 12);
	wr16(buf + 12, ETHTYPE_IP6);
	ip[0] = 0x60;
	wr16(ip + 4, (uint16_t)payload);
	ip[6] = next;
	ip[7] = 64;
	ip[8] = 0x20;
	ip[9] = 0x01;
	ip[10] = 0x0d;
	ip[11] = 0xb8;
	ip[23] = 1;
	memcpy(ip + 24, ip + 8, 16);
	ip[39] = 2;
	return ETH_HDR_LEN + IP6_HDR_LEN + payload;
}

static void test_checksum(void)
{
	/* RFC 1071 section 3 example: sum 0xddf2, checksum ~ = 0x220d */
	static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03,
				       0xf4, 0xf5, 0xf6, 0xf7 };
	/* IPv4 header with a known checksum (0xb861) */
	uint8_t hdr[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
			  0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
			  0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t odd[3] = { 0x12, 0x34, 0x56 };

	CHECK(csum_fold(csum_partial(rfc, sizeof(rfc), 0)) == 0x220d);
	CHECK(csum(hdr, sizeof(hdr), 0) == 0xb861);
	wr16(hdr + 10, 0xb861);
	CHECK(csum(hdr, sizeof(hdr), 0) == 0);
	/* odd length pads with a zero byte: 0x1234 + 0x5600 */
	CHECK(csum_partial(odd, 3, 0) == 0x6834);
	CHECK(csum(NULL, 0, 0) == 0xffff);
	/* pseudo-header sums add up like the bytes they stand for */
	CHECK(csum_pseudo4((struct in_addr){ htonl(0xc0000201) },
			   (struct in_addr){ htonl(0xc0000202) }, 17, 8) ==
	      0xc000 + 0x0201 + 0xc000 + 0x0202 + 17 + 8);
}

static void test_parse_good(void)
{
	struct frame_in f;
	size_t len;

	len = ip4_frame(IPPROTO_UDP, 12);
	CHECK(!frame_parse(buf, len, &f));
	CHECK(f.af == AF_INET && f.proto == IPPROTO_UDP && f.l4_len == 12);
	CHECK(f.l4 == buf + ETH_HDR_LEN + IP4_HDR_LEN && f.ttl == 64);
	CHECK(inany_v4(&f.src)->s_addr == htonl(0xc0000201));
	/* Ethernet padding after the IP packet is not L4 data */
	CHECK(!frame_parse(buf, len + 20, &f) && f.l4_len == 12);

	len = ip6_frame(IPPROTO_ICMPV6, 8);
	CHECK(!frame_parse(buf, len, &f));
	CHECK(f.af == AF_INET6 && f.proto == IPPROTO_ICMPV6 && f.l4_len == 8);
	CHECK(f.src.a6.s6_addr[15] == 1 && f.dst.a6.s6_addr[15] == 2);

	/* hop-by-hop options header (8 bytes) then ICMPv6 */
	len = ip6_frame(IPPROTO_HOPOPTS, 16);
	buf[ETH_HDR_LEN + IP6_HDR_LEN] = IPPROTO_ICMPV6;
	CHECK(!frame_parse(buf, len, &f));
	CHECK(f.proto == IPPROTO_ICMPV6 && f.l4_len == 8);

	memset(buf, 0, 60);
	wr16(buf + 12, ETHTYPE_ARP);
	CHECK(!frame_parse(buf, 60, &f) && f.l3_len == 46);
}

/* Expect frame_parse() to drop @len bytes of buf, counting @why */
static int dropped(size_t len, enum drop_reason why)
{
	uint64_t before = drop_counters[why];
	struct frame_in f;

	return frame_parse(buf, len, &f) == -1 &&
	       drop_counters[why] == before + 1;
}

static void test_parse_hostile(void)
{
	uint8_t *ip = buf + ETH_HDR_LEN;
	size_t len;
	size_t i;

	CHECK(dropped(0, DROP_ETH_SHORT));
	CHECK(dropped(10, DROP_ETH_SHORT));
	len = ip4_frame(IPPROTO_UDP, 12);
	wr16(buf + 12, 0x8100);
	CHECK(dropped(len, DROP_ETH_TYPE));

	ip4_frame(IPPROTO_UDP, 12);
	CHECK(dropped(ETH_HDR_LEN + 19, DROP_IP_SHORT));
	len = ip4_frame(IPPROTO_UDP, 12);
	wr16(ip + 2, 200);
	ip4_fix_csum();
	CHECK(dropped(len, DROP_IP_BAD_LEN));
	len = ip4_frame(IPPROTO_UDP, 12);
	ip[0] = 0x43;			/* IHL 3 */
	CHECK(dropped(len, DROP_IP_BAD_HDR));
	len = ip4_frame(IPPROTO_UDP, 12);
	ip[0] = 0x4f;			/* IHL 15: 60 bytes, frame has 32 */
	CHECK(dropped(len, DROP_IP_BAD_HDR));
	len = ip4_frame(IPPROTO_UDP, 40);
	ip[0] = 0x48;			/* 12 bytes of options */
	wr16(ip + 2, 28);		/* total length inside the options */
	ip4_fix_csum();
	CHECK(dropped(len, DROP_IP_BAD_HDR));
	len = ip4_frame(IPPROTO_UDP, 12);
	ip[10] ^= 1;			/* bad header checksum */
	CHECK(dropped(len, DROP_IP_BAD_HDR));
	len = ip4_frame(IPPROTO_UDP, 12);
	ip[6] = 0x20;			/* more fragments */
	ip4_fix_csum();
	CHECK(dropped(len, DROP_IP_FRAG));
	len = ip4_frame(IPPROTO_UDP, 4);	/* UDP header cut */
	CHECK(dropped(len, DROP_L4_SHORT));
	len = ip4_frame(IPPROTO_UDP, 12);
	wr16(ip + IP4_HDR_LEN + 4, 13);	/* UDP length over IP length */
	CHECK(dropped(len, DROP_L4_SHORT));
	len = ip4_frame(IPPROTO_TCP, 20);
	ip[IP4_HDR_LEN + 12] = 0xf0;	/* data offset 60 > 20 */
	CHECK(dropped(len, DROP_L4_SHORT));

	ip6_frame(IPPROTO_UDP, 8);
	CHECK(dropped(ETH_HDR_LEN + 39, DROP_IP_SHORT));
	len = ip6_frame(IPPROTO_UDP, 8);
	wr16(ip + 4, 100);
	CHECK(dropped(len, DROP_IP_BAD_LEN));
	len = ip6_frame(IPPROTO_UDP, 0);
	CHECK(dropped(len, DROP_IP_BAD_HDR));	/* jumbogram length 0 */
	len = ip6_frame(IPPROTO_FRAGMENT, 16);
	CHECK(dropped(len, DROP_IP_FRAG));
	len = ip6_frame(IPPROTO_HOPOPTS, 16);
	buf[ETH_HDR_LEN + IP6_HDR_LEN + 1] = 5;	/* 48 bytes, 16 there */
	CHECK(dropped(len, DROP_IP_BAD_HDR));
	/* a chain of more extension headers than we walk */
	len = ip6_frame(IPPROTO_DSTOPTS, 8 * 12);
	for (i = 0; i < 12; i++)
		buf[ETH_HDR_LEN + IP6_HDR_LEN + i * 8] = IPPROTO_DSTOPTS;
	CHECK(dropped(len, DROP_IP_BAD_HDR));
}

/* Every prefix of valid frames parses or drops, never reads past @len */
static void test_parse_truncations(void)
{
	size_t full, len;
	uint8_t *copy;
	struct frame_in f;
	int i;

	for (i = 0; i < 2; i++) {
		full = i ? ip6_frame(IPPROTO_UDP, 32) :
			   ip4_frame(IPPROTO_UDP, 32);
		if (i)
			wr16(buf + ETH_HDR_LEN + IP6_HDR_LEN + 4, 32);
		for (len = 0; len <= full; len++) {
			copy = malloc(len ? len : 1);
			memcpy(copy, buf, len);
			CHECK(frame_parse(copy, len, &f) == (len == full ?
							     0 : -1));
			free(copy);
		}
	}
}

static void test_queue(void)
{
	static struct frame_queue q;	/* lives as long as the daemon's */
	struct frame_ip_hdr h = { .proto = IPPROTO_UDP };
	struct frame_in f;
	uint8_t *l4;
	unsigned int n;

	CHECK(!frame_queue_init(&q, 1 << 16, 4));
	memset(q.our_mac, 0x9a, MAC_LEN);
	inany_from_v4(&h.src, (struct in_addr){ htonl(0xc0000202) });
	inany_from_v4(&h.dst, (struct in_addr){ htonl(0xc0000201) });
	l4 = frame_ip_begin(&q, &h, 100);
	CHECK(l4 != NULL);
	memset(l4, 0, 8);
	wr16(l4, 67);
	wr16(l4 + 2, 68);
	memcpy(l4 + 8, "hello", 5);
	CHECK(!frame_ip_end(&q, 13));
	CHECK(q.n == 1 && q.out[0].len == ETH_HDR_LEN + IP4_HDR_LEN + 13);

	/* what we build parses back, with valid IP and UDP checksums */
	CHECK(!frame_parse(q.out[0].iov[0].iov_base, q.out[0].len, &f));
	CHECK(f.l4_len == 13 && rd16(f.l4 + 4) == 13);
	CHECK(csum(f.l4, 13, csum_pseudo4(*inany_v4(&f.src),
					  *inany_v4(&f.dst), IPPROTO_UDP,
					  13)) == 0);
	CHECK(mac_equal(f.src_mac, q.our_mac) &&
	      mac_equal(f.dst_mac, MAC_BROADCAST));

	/* more than reserved is refused; the frame list has a bound */
	l4 = frame_ip_begin(&q, &h, 10);
	CHECK(l4 && frame_ip_end(&q, 11) == -EINVAL && q.n == 1);
	for (n = 0; n < 5; n++) {
		l4 = frame_ip_begin(&q, &h, 8);
		if (l4) {
			memset(l4, 0, 8);
			frame_ip_end(&q, 8);
		}
	}
	CHECK(q.n == 4);
	CHECK(frame_ip_begin(&q, &h, 1 << 16) == NULL);
	frame_queue_reset(&q);
	CHECK(q.n == 0 && q.used == 0);
}

/* A slot of the frame list reused by another kind of frame keeps nothing */
static void test_queue_reuse(void)
{
	static struct frame_queue q;
	struct frame_ip_hdr h = { .proto = IPPROTO_UDP };
	uint8_t *slot, *l4;

	CHECK(!frame_queue_init(&q, 1 << 16, 4));
	inany_from_v4(&h.src, (struct in_addr){ htonl(0xc0000202) });
	inany_from_v4(&h.dst, (struct in_addr){ htonl(0xc0000201) });
	slot = frame_reserve(&q, 2048);
	CHECK(slot != NULL);
	if (!slot)
		return;
	l4 = frame_ip_hdr_write(&q, slot, &h);
	memset(l4, 0, 8);
	CHECK(!frame_push_gso(&q, slot,
			      frame_ip_hdr_finish(slot, 8 + 3 * 100, false),
			      (uint16_t)(l4 - slot), FRAME_GSO_UDP, 100));
	CHECK(q.n == 1 && q.out[0].gso_size == 100 &&
	      q.out[0].gso_type == FRAME_GSO_UDP &&
	      q.out[0].csum_start == ETH_HDR_LEN + IP4_HDR_LEN &&
	      q.out[0].csum_off == 6);
	frame_queue_reset(&q);

	l4 = frame_ip_begin(&q, &h, 8);
	CHECK(l4 != NULL);
	if (!l4)
		return;
	memset(l4, 0, 8);
	CHECK(!frame_ip_end(&q, 8));
	CHECK(q.n == 1 && !q.out[0].gso_size && !q.out[0].csum_start);
	frame_queue_reset(&q);

	slot = frame_reserve(&q, 2048);
	CHECK(slot && !frame_push(&q, slot, 60));
	CHECK(q.n == 1 && !q.out[0].gso_size && !q.out[0].csum_start);
}

/* Flush hook of test_reserve_first(): counts, and empties the queue */
static int flushes;

static void count_flush(struct frame_queue *q)
{
	flushes++;
	frame_queue_reset(q);
}

/* frame_reserve_first(): the arena's start every time, after a flush of
 * what is queued; none while a frame is being built */
static void test_reserve_first(void)
{
	static struct frame_queue q;
	struct frame_ip_hdr h = { .proto = IPPROTO_UDP };
	uint8_t *p, *l4;

	CHECK(!frame_queue_init(&q, 1 << 16, 8));
	q.flush = count_flush;
	inany_from_v4(&h.src, (struct in_addr){ htonl(0xc0000202) });
	inany_from_v4(&h.dst, (struct in_addr){ htonl(0xc0000201) });
	flushes = 0;
	CHECK(frame_reserve_first(&q, 4096) == q.arena && !flushes);
	CHECK(!frame_push(&q, q.arena, 60));
	CHECK(frame_reserve(&q, 64) == q.arena + 4096);
	CHECK(frame_reserve_first(&q, 4096) == q.arena && flushes == 1);
	CHECK(q.n == 0 && q.used == 4096);
	/* Too large: flushed all the same, then refused */
	CHECK(frame_reserve_first(&q, (1 << 16) + 8) == NULL && flushes == 2);
	l4 = frame_ip_begin(&q, &h, 8);
	CHECK(l4 != NULL);
	p = frame_reserve_first(&q, 64);
	CHECK(p == NULL && flushes == 2 && q.cur);
}

/* A frame whose payload is in tap_splice.c's pipe: headers in memory */
static void test_pipe_last(void)
{
	static struct frame_queue q;
	uint8_t *p;

	CHECK(!frame_queue_init(&q, 1 << 16, 8));
	q.flush = count_flush;
	p = frame_reserve(&q, 64);
	CHECK(p != NULL);
	CHECK(!frame_push_gso(&q, p, 54 + 30000, 34, FRAME_GSO_TCP, 1460));
	frame_pipe_last(&q, 30000);
	CHECK(q.out[0].iov[0].iov_base == p && q.out[0].iov[0].iov_len == 54);
	CHECK(q.out[0].iovcnt == 1 && q.out[0].piped == 30000);
	CHECK(q.out[0].len == 54 + 30000 && q.out[0].gso_size == 1460);
	/* The next frame, in the same slot after a reset, is all in memory */
	frame_queue_reset(&q);
	CHECK(!frame_push(&q, p, 60));
	CHECK(q.out[0].piped == 0 && q.out[0].iov[0].iov_len == 60);
}

int main(void)
{
	UNIT_PLAN(7);
	UNIT_RUN(test_checksum);
	UNIT_RUN(test_parse_good);
	UNIT_RUN(test_parse_hostile);
	UNIT_RUN(test_parse_truncations);
	UNIT_RUN(test_queue);
	UNIT_RUN(test_queue_reuse);
	UNIT_RUN(test_reserve_first);
	UNIT_RUN(test_pipe_last);
	UNIT_EXIT();
}
