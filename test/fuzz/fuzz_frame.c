/* test/fuzz/fuzz_frame.c - libFuzzer harness: frames of one protocol from
 * the guest, through tap_parse() and tap_dispatch() as the tap reads them
 *
 * Theory of operation
 * Built once per protocol (FUZZ_PROTO: FUZZ_ARP, FUZZ_NDP, FUZZ_DHCP,
 * FUZZ_DHCPV6, FUZZ_ICMP, FUZZ_TCP, FUZZ_UDP). The input is a sequence of
 * records, each one frame:
 *
 *   byte 0	bit 0: IPv6; bit 1: (TCP) acknowledge what the daemon sent
 *		last; bit 2: dispatch the batch after this frame; bit 3:
 *		checksum left partial (offload); bit 4: raw, the harness
 *		fixes no length or checksum of the L4 header; bits 5-7:
 *		destination address (fuzz_dests())
 *   byte 1	bits 0-3: advance the clock by 2^n ms and run the timers
 *		(0: not); bit 4: peers shut down their side; bit 5: peers
 *		reset; bit 6: (TCP) the sequence number is the one the
 *		daemon acknowledged last; bit 7: peers connect to the
 *		forwarded TCP port and send to the forwarded UDP port
 *		(-t/-u FUZZ_FWD_PORT: inbound flows toward the guest)
 *   byte 2-3	length of what follows (big-endian, cut to what is left)
 *   then	the protocol's bytes: for ARP the ARP packet, for DHCP and
 *		DHCPv6 the UDP payload, for the others the L4 header and
 *		payload
 *
 * The harness builds the Ethernet and IP headers around them, from the
 * guest's MAC and address, so the frames reach the protocol instead of
 * being dropped by frame_parse(); the guest still controls every byte of
 * the protocol's own header. Between batches the peers answer and the
 * daemon handles its sockets' events (fuzz_pump()).
 */
#include <string.h>

#include "checksum.h"
#include "fuzz.h"
#include "tap.h"

#define FUZZ_ARP	1
#define FUZZ_NDP	2
#define FUZZ_DHCP	3
#define FUZZ_DHCPV6	4
#define FUZZ_ICMP	5
#define FUZZ_TCP	6
#define FUZZ_UDP	7

#ifndef FUZZ_PROTO
#error "FUZZ_PROTO not set"
#endif

#define BATCH_MAX	64
#define HDR_MAX		(ETH_HDR_LEN + IP6_HDR_LEN + 8)
#define ARENA		(BATCH_MAX * (HDR_MAX + 65536))

static uint8_t arena[ARENA];
static struct frame_buf arena_buf = { arena, sizeof(arena), 0 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

/* IP protocol number of the frames of this harness */
static uint8_t l4_proto(int v6)
{
	switch (FUZZ_PROTO) {
	case FUZZ_TCP:
		return IPPROTO_TCP;
	case FUZZ_UDP: case FUZZ_DHCP: case FUZZ_DHCPV6:
		return IPPROTO_UDP;
	default:
		return v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	}
}

/* Offset of the L4 checksum field, -1 for none */
static int l4_csum_off(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
}

/* Source and destination of a frame from the guest */
static void frame_addrs(int v6, unsigned int pick, union inany_addr *src,
			union inany_addr *dst)
{
	const struct net_conf *nc = fuzz_ctx.net;
	static const struct in6_addr ll = { .s6_addr = { 0xfe, 0x80,
							 [15] = 0x10 } };

	if (FUZZ_PROTO == FUZZ_DHCP) {
		/* a client with no address yet, or renewing */
		inany_from_v4(src, (struct in_addr){ pick & 1 ? nc->v4.addr.s_addr
							   : 0 });
		inany_from_v4(dst, (struct in_addr){ pick & 2 ? nc->v4.gw.s_addr
							   : 0xffffffff });
		return;
	}
	if (FUZZ_PROTO == FUZZ_DHCPV6 || FUZZ_PROTO == FUZZ_NDP ||
	    (v6 && (pick & 4))) {
		static const struct in6_addr all_dhcp = { .s6_addr = {
			0xff, 0x02, [13] = 1, [15] = 2 } };

		/* link-local or unspecified (DAD) source, on-link target */
		inany_from_v6(src, pick & 1 ? &in6addr_any : &ll);
		if (FUZZ_PROTO == FUZZ_DHCPV6 && !(pick & 2))
			inany_from_v6(dst, &all_dhcp);
		else
			fuzz_dests(1, 4 + (pick >> 1), dst);
		return;
	}
	if (v6)
		inany_from_v6(src, &nc->v6.addr);
	else
		inany_from_v4(src, nc->v4.addr);
	fuzz_dests(v6, pick, dst);
}

/* TCP: acknowledge, or continue from, what the daemon sent last */
static void tcp_fixup(uint8_t *l4, size_t len, uint8_t ctl, uint8_t act)
{
	if (FUZZ_PROTO != FUZZ_TCP || len < 20 || !fuzz_tcp_seen.valid)
		return;
	if (ctl & 0x02)
		wr32(l4 + 8, fuzz_tcp_seen.next);
	if (act & 0x40)
		wr32(l4 + 4, fuzz_tcp_seen.ack);
}

/* UDP header for DHCP and DHCPv6 payloads; Return: its length */
static size_t udp_hdr(uint8_t *l4)
{
	if (FUZZ_PROTO == FUZZ_DHCP) {
		wr16(l4, 68);
		wr16(l4 + 2, 67);
	} else if (FUZZ_PROTO == FUZZ_DHCPV6) {
		wr16(l4, 546);
		wr16(l4 + 2, 547);
	} else {
		return 0;
	}
	return 8;
}

/* Fill L4 length and checksum fields, as a guest's stack would */
static void l4_finish(uint8_t *l4, size_t len, uint8_t proto,
		      const union inany_addr *src, const union inany_addr *dst)
{
	int off = l4_csum_off(proto);
	uint32_t sum;

	if (proto == IPPROTO_UDP && len >= 8)
		wr16(l4 + 4, (uint16_t)len);
	if ((size_t)off + 2 > len)
		return;
	wr16(l4 + off, 0);
	if (inany_is_v4(src))
		sum = proto == IPPROTO_ICMP ? 0 :
		      csum_pseudo4(*inany_v4(src), *inany_v4(dst), proto,
				   (uint16_t)len);
	else
		sum = csum_pseudo6(&src->a6, &dst->a6, proto, (uint32_t)len);
	wr16(l4 + off, csum(l4, len, sum));
}

/**
 * frame_build() - Build one frame around the protocol's bytes
 * @p:		Where the frame goes
 * @ctl:	Record's byte 0
 * @act:	Record's byte 1
 * @body:	Protocol's bytes
 * @blen:	Their length
 *
 * Return: length of the frame
 */
static size_t frame_build(uint8_t *p, uint8_t ctl, uint8_t act,
			  const uint8_t *body, size_t blen)
{
	int v6 = FUZZ_PROTO == FUZZ_NDP || FUZZ_PROTO == FUZZ_DHCPV6 ||
		 (FUZZ_PROTO != FUZZ_DHCP && FUZZ_PROTO != FUZZ_ARP &&
		  (ctl & 1));
	uint8_t proto = l4_proto(v6), *ip = p + ETH_HDR_LEN, *l4;
	union inany_addr src, dst;
	size_t l3 = v6 ? IP6_HDR_LEN : IP4_HDR_LEN, len;

	memcpy(p + 6, fuzz_guest_mac, MAC_LEN);
	memcpy(p, fuzz_ctx.net->our_mac, MAC_LEN);
	if (FUZZ_PROTO == FUZZ_ARP) {
		if (ctl & 0x80)		/* a request goes to everyone */
			memset(p, 0xff, MAC_LEN);
		wr16(p + 12, ETHTYPE_ARP);
		memcpy(ip, body, blen);
		return ETH_HDR_LEN + blen;
	}
	frame_addrs(v6, ctl >> 5, &src, &dst);
	if (v6 && dst.a6.s6_addr[0] == 0xff) {
		p[0] = p[1] = 0x33;
		memcpy(p + 2, &dst.a6.s6_addr[12], 4);
	} else if (!v6 && (inany_is_multicast(&dst) ||
			   (ntohl(inany_v4(&dst)->s_addr) & 0xff) == 0xff)) {
		memset(p, 0xff, MAC_LEN);
	}
	l4 = ip + l3;
	len = udp_hdr(l4);
	memcpy(l4 + len, body, blen);
	len += blen;
	tcp_fixup(l4, len, ctl, act);
	if (!(ctl & 0x10))
		l4_finish(l4, len, proto, &src, &dst);
	if (v6) {
		wr16(p + 12, ETHTYPE_IP6);
		memset(ip, 0, IP6_HDR_LEN);
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)len);
		ip[6] = proto;
		ip[7] = 255;
		memcpy(ip + 8, &src.a6, 16);
		memcpy(ip + 24, &dst.a6, 16);
	} else {
		wr16(p + 12, ETHTYPE_IP4);
		memset(ip, 0, IP4_HDR_LEN);
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(IP4_HDR_LEN + len));
		ip[6] = 0x40;	/* don't fragment */
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, inany_v4(&src), 4);
		memcpy(ip + 16, inany_v4(&dst), 4);
		wr16(ip + 10, csum(ip, IP4_HDR_LEN, 0));
	}
	return ETH_HDR_LEN + l3 + len;
}

/* Between batches: peers, timers, as the loop would */
static void after_batch(uint8_t act)
{
	if (act & 0x30)
		fuzz_peer_close(act & 0x20);
	if (act & 0x80)
		fuzz_peer_inbound();
	fuzz_pump();
	if (act & 0x0f)
		fuzz_tick(1U << (act & 0x0f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame_in frames[BATCH_MAX];
	struct ctx *c = &fuzz_ctx;
	size_t used = 0;
	unsigned int n = 0;
	uint8_t act = 0;

	while (size >= 4) {
		uint8_t ctl = data[0];
		size_t blen = MIN((size_t)rd16(data + 2), size - 4);
		size_t len;

		act = data[1];
		if (blen > 65535 - HDR_MAX)
			blen = 65535 - HDR_MAX;
		len = frame_build(arena + used, ctl, act, data + 4, blen);
		data += 4 + blen;
		size -= 4 + blen;
		if (!tap_parse(c, arena + used, len, &frames[n])) {
			frames[n].csum_partial = ctl & 0x08;
			frames[n++].buf = &arena_buf;
		}
		used += (len + 7) & ~(size_t)7;
		if ((ctl & 0x04) || n == BATCH_MAX ||
		    used + HDR_MAX + 65536 > ARENA) {
			tap_dispatch(c, frames, n);
			after_batch(act);
			n = 0;
			used = 0;
		}
	}
	tap_dispatch(c, frames, n);
	after_batch(act);
	fuzz_reset();
	return 0;
}
