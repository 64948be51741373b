/* test/tools/frame_inject.c - write raw Ethernet frames to an interface
 *
 * Theory of operation
 * Run inside the guest namespace, this sends frames through an AF_PACKET
 * SOCK_RAW socket bound to the tap: whatever is sent there is read by the
 * daemon at the other end of the tap, exactly like a frame from the guest's
 * own stack, but without the stack's checks. Frames are either given as hex
 * strings or built by name from a table of malformed frames (truncated
 * headers, lengths that lie, option lists that run past the end...).
 *
 * Frames are addressed like the guest's own traffic: source MAC is the
 * interface's, destination MAC the daemon's default (-d to change), IPv4
 * from 192.0.2.1 to the gateway 192.0.2.2, IPv6 from 2001:db8::1 (or a
 * link-local for NDP) to 2001:db8::2 or the matching multicast group.
 * Checksums are computed over the bytes present, so a frame is wrong only
 * where it means to be.
 *
 * The tcp mode builds TCP segments from specifications instead, with
 * correct IP and TCP checksums, for tests of what a hostile guest can send
 * on a live connection: sequence and acknowledgement numbers can be given
 * relative to the flow's own, learnt by watching the interface for the
 * next segment the guest's stack sends on that 4-tuple.
 *
 * Usage:
 *	frame_inject [-d MAC] [-s MAC] IFACE hex HEX...
 *	frame_inject [-d MAC] [-s MAC] IFACE gen NAME...  (NAME or big:SIZE)
 *	frame_inject [-d MAC] [-s MAC] IFACE tcp SPEC...
 *	frame_inject list
 * SPEC is KEY=VALUE[,KEY=VALUE]...:
 *	src, dst     addresses (default: guest to gateway, 192.0.2.1 to
 *		     192.0.2.2, or 2001:db8::1 to 2001:db8::2 if the other
 *		     one given is IPv6)
 *	sport, dport port, or LO-HI for one picked at random per segment
 *		     (default 40000, 9)
 *	seq, ack     number, "rand", or +N / -N: relative to the learnt next
 *		     sequence number / acknowledgement of the guest's own
 *		     segments on the 4-tuple (default seq 0x1111, ack 0)
 *	flags	     number (0x100: AE/NS bit), or letters FSRPAUECN
 *		     (default S)
 *	win	     window field, or "learnt" (default 65535)
 *	doff	     data offset field, words (default: from the options)
 *	opts	     option bytes, hex, padded with zeros to 4 bytes
 *	len	     payload bytes (default 0)
 *	count	     segments to send (default 1, at most 100000)
 *	every	     milliseconds between two of them (default 0, at most
 *		     1000)
 * Relative values and win=learnt need fixed ports; the tool waits up to
 * 3 s for the guest to send on the flow, once per flow and run: the
 * specifications of one run share what was learnt.
 * Exit status: 0 if every frame was sent, 1 otherwise, 2 on usage errors.
 *
 * System calls: socket, bind, ioctl (SIOCGIFINDEX, SIOCGIFHWADDR,
 * SIOCGIFMTU), poll, recvfrom, sendto, nanosleep, clock_gettime, close.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX	(70 * 1024)
#define ETH_HLEN_	14
#define IP4_HLEN	20
#define IP6_HLEN	40

static uint8_t frame[FRAME_MAX];
static uint8_t src_mac[6];
static uint8_t dst_mac[6] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };

static const uint8_t guest4[4] = { 192, 0, 2, 1 };
static const uint8_t gw4[4] = { 192, 0, 2, 2 };
static const uint8_t bcast4[4] = { 255, 255, 255, 255 };
static const uint8_t zero4[4] = { 0, 0, 0, 0 };

static const uint8_t guest6[16] = { 0x20, 0x01, 0x0d, 0xb8,
				    [15] = 0x01 };
static const uint8_t gw6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
static const uint8_t ll6[16] = { 0xfe, 0x80, [13] = 0x01, [15] = 0x01 };
static const uint8_t allrouters6[16] = { 0xff, 0x02, [15] = 0x02 };
static const uint8_t dhcp6_servers[16] = { 0xff, 0x02, [13] = 0x01,
					   [15] = 0x02 };
static const uint8_t snm_gw6[16] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff,
				     [15] = 0x02 };

/**
 * csum_add() - Add bytes to a 32-bit ones' complement accumulator
 * @sum:	Accumulator
 * @p:		Data
 * @len:	Length in bytes
 *
 * Return: new accumulator value
 */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

/**
 * csum_fold() - Fold an accumulator into a 16-bit checksum
 * @sum:	Accumulator
 *
 * Return: checksum, host order
 */
static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/**
 * put16() - Store a 16-bit value in network order
 * @p:		Destination
 * @v:		Value
 */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/**
 * eth() - Write the Ethernet header
 * @type:	Ethertype
 *
 * Return: offset of the payload
 */
static size_t eth(uint16_t type)
{
	memcpy(frame, dst_mac, 6);
	memcpy(frame + 6, src_mac, 6);
	put16(frame + 12, type);
	return ETH_HLEN_;
}

/**
 * ip4() - Write an IPv4 header at the start of the payload, checksummed
 * @ihl:	Header length in 32-bit words (may be invalid)
 * @tot:	Total length field (may lie)
 * @proto:	Protocol
 * @src:	Source address
 * @dst:	Destination address
 * @avail:	Bytes of header actually present in the frame (checksum span)
 *
 * Return: offset after a 20-byte header
 */
static size_t ip4(unsigned ihl, uint16_t tot, uint8_t proto,
		  const uint8_t *src, const uint8_t *dst, size_t avail)
{
	uint8_t *h = frame + eth(ETHERTYPE_IP);
	size_t span = ihl * 4 < avail ? ihl * 4 : avail;

	memset(h, 0, IP4_HLEN);
	h[0] = (uint8_t)(0x40 | (ihl & 0xf));
	put16(h + 2, tot);
	put16(h + 4, 0x1234);
	h[6] = 0x40;			/* DF */
	h[8] = 64;
	h[9] = proto;
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	if (span >= 12)
		put16(h + 10, csum_fold(csum_add(0, h, span)));
	return ETH_HLEN_ + IP4_HLEN;
}

/**
 * ip4_fix_csum() - Recompute the IPv4 header checksum after edits
 * @hlen:	Header length in bytes to cover
 */
static void ip4_fix_csum(size_t hlen)
{
	uint8_t *h = frame + ETH_HLEN_;

	put16(h + 10, 0);
	put16(h + 10, csum_fold(csum_add(0, h, hlen)));
}

/**
 * ip6() - Write an IPv6 header at the start of the payload
 * @plen:	Payload length field (may lie)
 * @nh:		Next header
 * @src:	Source address
 * @dst:	Destination address
 *
 * Return: offset after the header
 */
static size_t ip6(uint16_t plen, uint8_t nh, const uint8_t *src,
		  const uint8_t *dst)
{
	uint8_t *h = frame + eth(ETHERTYPE_IPV6);

	memset(h, 0, IP6_HLEN);
	h[0] = 0x60;
	put16(h + 4, plen);
	h[6] = nh;
	h[7] = 255;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
	return ETH_HLEN_ + IP6_HLEN;
}

/**
 * l4_csum6() - Checksum an upper-layer header over IPv6
 * @off:	Offset of the upper-layer header in the frame
 * @len:	Bytes present from @off
 * @proto:	Upper-layer protocol
 * @csum_at:	Offset of the checksum field from @off
 */
static void l4_csum6(size_t off, size_t len, uint8_t proto, size_t csum_at)
{
	uint8_t *h = frame + ETH_HLEN_;
	uint8_t pseudo[8] = { 0 };
	uint32_t sum;

	pseudo[2] = (uint8_t)(len >> 8);
	pseudo[3] = (uint8_t)len;
	pseudo[7] = proto;
	put16(frame + off + csum_at, 0);
	sum = csum_add(0, h + 8, 32);
	sum = csum_add(sum, pseudo, sizeof(pseudo));
	sum = csum_add(sum, frame + off, len);
	put16(frame + off + csum_at, csum_fold(sum));
}

/**
 * udp() - Write a UDP header (checksum left zero: valid over IPv4)
 * @off:	Offset in the frame
 * @sport:	Source port
 * @dport:	Destination port
 * @len:	Length field (may lie)
 */
static void udp(size_t off, uint16_t sport, uint16_t dport, uint16_t len)
{
	put16(frame + off, sport);
	put16(frame + off + 2, dport);
	put16(frame + off + 4, len);
	put16(frame + off + 6, 0);
}

/**
 * bootp() - Write a BOOTREQUEST with magic cookie, over UDP to port 67
 * @opts:	DHCP options following the cookie
 * @optlen:	Their length
 * @cookie:	Write a correct magic cookie
 *
 * Return: frame length
 */
static size_t bootp(const uint8_t *opts, size_t optlen, int cookie)
{
	size_t l3 = ETH_HLEN_, l4 = l3 + IP4_HLEN, b = l4 + 8;
	size_t blen = 240 + optlen;
	uint8_t *p = frame + b;

	memset(p, 0, 240);
	p[0] = 1;			/* BOOTREQUEST */
	p[1] = 1;			/* Ethernet */
	p[2] = 6;
	memcpy(p + 4, "\x12\x34\x56\x78", 4);
	memcpy(p + 28, src_mac, 6);
	if (cookie)
		memcpy(p + 236, "\x63\x82\x53\x63", 4);
	else
		memcpy(p + 236, "\xde\xad\xbe\xef", 4);
	memcpy(p + 240, opts, optlen);

	ip4(5, (uint16_t)(IP4_HLEN + 8 + blen), IPPROTO_UDP, zero4, bcast4,
	    IP4_HLEN);
	udp(l4, 68, 67, (uint16_t)(8 + blen));
	return b + blen;
}

/**
 * icmp6() - Write an ICMPv6 message of given bytes, checksummed
 * @src:	Source address
 * @dst:	Destination address
 * @msg:	Message, from the type field on (checksum bytes ignored)
 * @len:	Its length
 *
 * Return: frame length
 */
static size_t icmp6(const uint8_t *src, const uint8_t *dst,
		    const uint8_t *msg, size_t len)
{
	size_t off = ip6((uint16_t)len, IPPROTO_ICMPV6, src, dst);

	memcpy(frame + off, msg, len);
	if (len >= 4)
		l4_csum6(off, len, IPPROTO_ICMPV6, 2);
	return off + len;
}

/**
 * dhcp6() - Write a DHCPv6 message over UDP to port 547
 * @msg:	Message, from the message type on
 * @len:	Its length
 *
 * Return: frame length
 */
static size_t dhcp6(const uint8_t *msg, size_t len)
{
	size_t off = ip6((uint16_t)(8 + len), IPPROTO_UDP, ll6,
			 dhcp6_servers);

	udp(off, 546, 547, (uint16_t)(8 + len));
	memcpy(frame + off + 8, msg, len);
	l4_csum6(off, 8 + len, IPPROTO_UDP, 6);
	return off + 8 + len;
}

/* Builders: each fills the frame and returns its length */

/* Packet sockets refuse frames shorter than the 14-byte Ethernet header,
 * and so a tap never carries one: the shortest frames are headers alone.
 */
static size_t f_eth_short(void)
{
	return eth(ETHERTYPE_IPV6);
}

static size_t f_eth_hdr_only(void)
{
	return eth(ETHERTYPE_IP);
}

static size_t f_arp_req(void)
{
	size_t off;
	uint8_t *a;

	memset(dst_mac, 0xff, 6);	/* broadcast, like a real request */
	off = eth(ETHERTYPE_ARP);
	a = frame + off;
	put16(a, 1);
	put16(a + 2, ETHERTYPE_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, src_mac, 6);
	memcpy(a + 14, guest4, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, gw4, 4);
	return off + 28;
}

static size_t f_arp_trunc(void)
{
	size_t len = f_arp_req();

	return len - 20;
}

static size_t f_arp_bad_len(void)
{
	size_t len = f_arp_req();

	frame[ETH_HLEN_ + 4] = 32;	/* hardware address length */
	frame[ETH_HLEN_ + 5] = 32;	/* protocol address length */
	return len;
}

static size_t f_ipv4_trunc(void)
{
	ip4(5, 28, IPPROTO_UDP, guest4, gw4, 12);
	return ETH_HLEN_ + 12;
}

static size_t f_ipv4_totlen(void)
{
	size_t off = ip4(5, 1500, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	udp(off, 40000, 9, 1480);
	return off + 8;
}

static size_t f_ipv4_totlen_small(void)
{
	size_t off = ip4(5, 10, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	udp(off, 40000, 9, 12);
	memset(frame + off + 8, 'x', 4);
	return off + 12;
}

static size_t f_ipv4_ihl3(void)
{
	size_t off = ip4(3, 28, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	udp(off, 40000, 9, 8);
	return off + 8;
}

static size_t f_ipv4_ihl15_short(void)
{
	ip4(15, 24, IPPROTO_UDP, guest4, gw4, 24);
	memset(frame + ETH_HLEN_ + IP4_HLEN, 1, 4);	/* NOPs */
	ip4_fix_csum(24);
	return ETH_HLEN_ + 24;
}

static size_t f_ipv4_opts_overrun(void)
{
	uint8_t *o = frame + ETH_HLEN_ + IP4_HLEN;

	ip4(15, 68, IPPROTO_UDP, guest4, gw4, 60);
	memset(o, 1, 40);
	o[36] = 0x44;			/* timestamp... */
	o[37] = 250;			/* ...far longer than the header */
	o[38] = 5;
	ip4_fix_csum(60);
	udp(ETH_HLEN_ + 60, 40000, 9, 8);
	return ETH_HLEN_ + 68;
}

static size_t f_ipv4_opt_len0(void)
{
	uint8_t *o = frame + ETH_HLEN_ + IP4_HLEN;

	ip4(6, 32, IPPROTO_UDP, guest4, gw4, 24);
	o[0] = 0x83;			/* loose source route, length 0 */
	o[1] = 0;
	o[2] = 0x07;			/* record route, length 1 */
	o[3] = 1;
	ip4_fix_csum(24);
	udp(ETH_HLEN_ + 24, 40000, 9, 8);
	return ETH_HLEN_ + 32;
}

static size_t f_ipv4_frag(void)
{
	size_t off = ip4(5, 36, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	put16(frame + ETH_HLEN_ + 6, 0x2000 | 100);	/* MF, offset 800 */
	ip4_fix_csum(IP4_HLEN);
	memset(frame + off, 'f', 16);
	return off + 16;
}

static size_t f_udp4_len_big(void)
{
	size_t off = ip4(5, 40, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	udp(off, 40000, 9, 2000);
	memset(frame + off + 8, 'u', 12);
	return off + 20;
}

static size_t f_udp4_len_small(void)
{
	size_t off = ip4(5, 40, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	udp(off, 40000, 9, 4);
	memset(frame + off + 8, 'u', 12);
	return off + 20;
}

static size_t f_udp4_trunc(void)
{
	size_t off = ip4(5, 24, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	put16(frame + off, 40000);
	put16(frame + off + 2, 9);
	return off + 4;
}

static size_t f_tcp4_trunc(void)
{
	size_t off = ip4(5, 30, IPPROTO_TCP, guest4, gw4, IP4_HLEN);

	put16(frame + off, 40000);
	put16(frame + off + 2, 9);
	memset(frame + off + 4, 0, 6);
	return off + 10;
}

/**
 * tcp4_syn() - Write a TCP SYN from the guest to the gateway's port 9
 * @doff:	Data offset, 32-bit words (may be invalid)
 * @opts:	Options
 * @optlen:	Their length
 *
 * Return: frame length
 */
static size_t tcp4_syn(unsigned doff, const uint8_t *opts, size_t optlen)
{
	size_t len = 20 + optlen;
	size_t off = ip4(5, (uint16_t)(IP4_HLEN + len), IPPROTO_TCP, guest4,
			 gw4, IP4_HLEN);
	uint8_t *t = frame + off;
	uint8_t pseudo[12];

	memset(t, 0, 20);
	put16(t, 40001);
	put16(t + 2, 9);
	put16(t + 4, 0x1111);
	t[12] = (uint8_t)((doff & 0xf) << 4);
	t[13] = 0x02;			/* SYN */
	put16(t + 14, 65535);
	memcpy(t + 20, opts, optlen);
	memcpy(pseudo, guest4, 4);
	memcpy(pseudo + 4, gw4, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	put16(pseudo + 10, (uint16_t)len);
	put16(t + 16, csum_fold(csum_add(csum_add(0, pseudo, 12), t, len)));
	return off + len;
}

static size_t f_tcp4_doff15(void)
{
	return tcp4_syn(15, NULL, 0);
}

static size_t f_tcp4_doff0(void)
{
	return tcp4_syn(0, NULL, 0);
}

static size_t f_tcp4_opt_len0(void)
{
	static const uint8_t o[] = { 2, 0, 0x05, 0xb4 };	/* MSS, len 0 */

	return tcp4_syn(6, o, sizeof(o));
}

static size_t f_tcp4_opt_overrun(void)
{
	static const uint8_t o[] = { 1, 1, 3, 40 };	/* wscale, len 40 */

	return tcp4_syn(6, o, sizeof(o));
}

static size_t f_icmp4_trunc(void)
{
	size_t off = ip4(5, 24, IPPROTO_ICMP, guest4, gw4, IP4_HLEN);

	frame[off] = 8;			/* echo request, no id/sequence */
	frame[off + 1] = 0;
	put16(frame + off + 2, csum_fold(csum_add(0, frame + off, 2)));
	return off + 4;
}

static size_t f_dhcp_short(void)
{
	size_t l4 = ETH_HLEN_ + IP4_HLEN;

	ip4(5, IP4_HLEN + 18, IPPROTO_UDP, zero4, bcast4, IP4_HLEN);
	udp(l4, 68, 67, 18);
	memset(frame + l4 + 8, 0, 10);
	frame[l4 + 8] = 1;
	return l4 + 18;
}

static size_t f_dhcp_no_cookie(void)
{
	static const uint8_t o[] = { 53, 1, 1, 255 };

	return bootp(o, sizeof(o), 0);
}

static size_t f_dhcp_opt53_len0(void)
{
	static const uint8_t o[] = { 53, 0, 55, 2, 1, 3, 255 };

	return bootp(o, sizeof(o), 1);
}

static size_t f_dhcp_opt_overrun(void)
{
	static const uint8_t o[] = { 53, 1, 1, 12, 200, 'h', 'o', 's', 't' };

	return bootp(o, sizeof(o), 1);
}

static size_t f_dhcp_no_end(void)
{
	static const uint8_t o[] = { 53, 1, 3, 50, 4, 192, 0, 2, 1 };

	return bootp(o, sizeof(o), 1);
}

static size_t f_dhcp_code_last(void)
{
	static const uint8_t o[] = { 53, 1, 1, 61 };	/* no length byte */

	return bootp(o, sizeof(o), 1);
}

static size_t f_dhcp_bad_type(void)
{
	static const uint8_t o[] = { 53, 4, 0xff, 0xff, 0xff, 0xff, 53, 1,
				     200, 255 };

	return bootp(o, sizeof(o), 1);
}

static size_t f_dhcp_udp_len_lie(void)
{
	static const uint8_t o[] = { 53, 1, 1, 255 };
	size_t len = bootp(o, sizeof(o), 1);

	put16(frame + ETH_HLEN_ + IP4_HLEN + 4, 60000);
	return len;
}

static size_t f_ipv6_trunc(void)
{
	ip6(8, IPPROTO_UDP, guest6, gw6);
	return ETH_HLEN_ + 20;
}

static size_t f_ipv6_plen(void)
{
	size_t off = ip6(1000, IPPROTO_UDP, guest6, gw6);

	udp(off, 40000, 9, 1000);
	l4_csum6(off, 8, IPPROTO_UDP, 6);
	return off + 8;
}

static size_t f_ipv6_ext_overrun(void)
{
	size_t off = ip6(16, 0, guest6, gw6);	/* hop-by-hop */

	memset(frame + off, 0, 16);
	frame[off] = IPPROTO_UDP;
	frame[off + 1] = 255;		/* (255 + 1) * 8 bytes */
	frame[off + 2] = 1;		/* PadN running on */
	frame[off + 3] = 200;
	return off + 16;
}

static size_t f_ipv6_ext_chain(void)
{
	size_t n = 60, i, off = ip6((uint16_t)(n * 8 + 8), 60, guest6, gw6);

	for (i = 0; i < n; i++) {	/* destination options, padded */
		uint8_t *e = frame + off + i * 8;

		memset(e, 0, 8);
		e[0] = i + 1 < n ? 60 : IPPROTO_UDP;
		e[2] = 1;
		e[3] = 4;
	}
	off += n * 8;
	udp(off, 40000, 9, 8);
	l4_csum6(off, 8, IPPROTO_UDP, 6);
	return off + 8;
}

static size_t f_ipv6_ext_end(void)
{
	size_t off = ip6(8, 60, guest6, gw6);	/* dest. opts, then EOF */

	memset(frame + off, 0, 8);
	frame[off] = 60;
	frame[off + 2] = 1;
	frame[off + 3] = 4;
	return off + 8;
}

static size_t f_ipv6_frag(void)
{
	size_t off = ip6(24, 44, guest6, gw6);	/* fragment header */

	memset(frame + off, 0, 8);
	frame[off] = IPPROTO_UDP;
	put16(frame + off + 2, (100 << 3) | 1);	/* offset 800, MF */
	memcpy(frame + off + 4, "\x00\x00\x12\x34", 4);
	memset(frame + off + 8, 'f', 16);
	return off + 24;
}

static size_t f_icmp6_trunc(void)
{
	static const uint8_t m[] = { 128, 0 };

	return icmp6(guest6, gw6, m, sizeof(m));
}

static size_t f_ndp_ns_trunc(void)
{
	static const uint8_t m[] = { 135, 0, 0, 0, 0, 0, 0, 0,
				     0x20, 0x01, 0x0d, 0xb8 };

	return icmp6(ll6, snm_gw6, m, sizeof(m));
}

static size_t f_ndp_ns_optlen0(void)
{
	uint8_t m[32] = { 135, 0 };

	memcpy(m + 8, gw6, 16);
	m[24] = 1;			/* source link-layer address... */
	m[25] = 0;			/* ...of length 0 */
	memcpy(m + 26, src_mac, 6);
	return icmp6(ll6, snm_gw6, m, sizeof(m));
}

static size_t f_ndp_rs_optlen0(void)
{
	uint8_t m[24] = { 133, 0 };

	m[8] = 1;
	m[9] = 0;
	memcpy(m + 10, src_mac, 6);
	m[16] = 1;
	m[17] = 1;
	memcpy(m + 18, src_mac, 6);
	return icmp6(ll6, allrouters6, m, sizeof(m));
}

static size_t f_ndp_rs_opt_overrun(void)
{
	uint8_t m[16] = { 133, 0 };

	m[8] = 1;
	m[9] = 255;			/* 2040 bytes */
	memcpy(m + 10, src_mac, 6);
	return icmp6(ll6, allrouters6, m, sizeof(m));
}

static size_t f_dhcpv6_trunc(void)
{
	static const uint8_t m[] = { 1, 0xab };

	return dhcp6(m, sizeof(m));
}

static size_t f_dhcpv6_opt_overrun(void)
{
	static const uint8_t m[] = { 1, 0xab, 0xcd, 0xef,
				     0, 1, 0x03, 0xe8, 0, 3, 0, 1 };

	return dhcp6(m, sizeof(m));
}

static size_t f_dhcpv6_opt_len0(void)
{
	static const uint8_t m[] = { 1, 0xab, 0xcd, 0xef,
				     0, 1, 0, 0,	/* client ID, empty */
				     0, 3, 0, 0,	/* IA_NA, empty */
				     0, 6, 0, 0,	/* ORO, empty */
				     0, 3, 0, 4, 0, 0, 0, 1 };

	return dhcp6(m, sizeof(m));
}

static size_t f_dhcpv6_ia_overrun(void)
{
	static const uint8_t m[] = { 1, 0xab, 0xcd, 0xef,
				     0, 1, 0, 10, 0, 3, 0, 1,
				     0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
				     0, 3, 0, 16,	/* IA_NA... */
				     0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
				     0, 5, 0, 200 };	/* ...IA address long */

	return dhcp6(m, sizeof(m));
}

static const struct builder {
	const char *name;
	size_t (*fn)(void);
	const char *what;
} builders[] = {
	{ "eth-short",		f_eth_short,	"IPv6 ethertype, no payload" },
	{ "eth-hdr-only",	f_eth_hdr_only,	"IPv4 ethertype, no payload" },
	{ "arp-req",		f_arp_req,	"valid ARP request (sanity)" },
	{ "arp-trunc",		f_arp_trunc,	"ARP, 8 bytes" },
	{ "arp-bad-len",	f_arp_bad_len,	"ARP, address lengths 32" },
	{ "ipv4-trunc",		f_ipv4_trunc,	"12 bytes of IPv4 header" },
	{ "ipv4-totlen",	f_ipv4_totlen,	"total length 1500 > frame" },
	{ "ipv4-totlen-small",	f_ipv4_totlen_small, "total length 10" },
	{ "ipv4-ihl3",		f_ipv4_ihl3,	"IHL 3" },
	{ "ipv4-ihl15-short",	f_ipv4_ihl15_short, "IHL 15, 24-byte packet" },
	{ "ipv4-opts-overrun",	f_ipv4_opts_overrun, "option past header" },
	{ "ipv4-opt-len0",	f_ipv4_opt_len0, "options of length 0, 1" },
	{ "ipv4-frag",		f_ipv4_frag,	"non-first fragment" },
	{ "udp4-len-big",	f_udp4_len_big,	"UDP length 2000 > packet" },
	{ "udp4-len-small",	f_udp4_len_small, "UDP length 4" },
	{ "udp4-trunc",		f_udp4_trunc,	"4 bytes of UDP header" },
	{ "tcp4-trunc",		f_tcp4_trunc,	"10 bytes of TCP header" },
	{ "tcp4-doff15",	f_tcp4_doff15,	"SYN, data offset 15" },
	{ "tcp4-doff0",		f_tcp4_doff0,	"SYN, data offset 0" },
	{ "tcp4-opt-len0",	f_tcp4_opt_len0, "SYN, MSS option length 0" },
	{ "tcp4-opt-overrun",	f_tcp4_opt_overrun, "SYN, option length 40" },
	{ "icmp4-trunc",	f_icmp4_trunc,	"echo request, 4 bytes" },
	{ "dhcp-short",		f_dhcp_short,	"10 bytes of BOOTP" },
	{ "dhcp-no-cookie",	f_dhcp_no_cookie, "wrong magic cookie" },
	{ "dhcp-opt53-len0",	f_dhcp_opt53_len0, "option 53, length 0" },
	{ "dhcp-opt-overrun",	f_dhcp_opt_overrun, "option 12 past the end" },
	{ "dhcp-no-end",	f_dhcp_no_end,	"no end option" },
	{ "dhcp-code-last",	f_dhcp_code_last, "option code, no length" },
	{ "dhcp-bad-type",	f_dhcp_bad_type, "option 53 length 4, type 200" },
	{ "dhcp-udp-len-lie",	f_dhcp_udp_len_lie, "UDP length 60000" },
	{ "ipv6-trunc",		f_ipv6_trunc,	"20 bytes of IPv6 header" },
	{ "ipv6-plen",		f_ipv6_plen,	"payload length 1000 > frame" },
	{ "ipv6-ext-overrun",	f_ipv6_ext_overrun, "hop-by-hop past the end" },
	{ "ipv6-ext-chain",	f_ipv6_ext_chain, "60 destination options" },
	{ "ipv6-ext-end",	f_ipv6_ext_end,	"extension chain cut short" },
	{ "ipv6-frag",		f_ipv6_frag,	"non-first fragment" },
	{ "icmp6-trunc",	f_icmp6_trunc,	"ICMPv6, 2 bytes" },
	{ "ndp-ns-trunc",	f_ndp_ns_trunc,	"NS, target cut short" },
	{ "ndp-ns-optlen0",	f_ndp_ns_optlen0, "NS, option length 0" },
	{ "ndp-rs-optlen0",	f_ndp_rs_optlen0, "RS, option length 0" },
	{ "ndp-rs-opt-overrun",	f_ndp_rs_opt_overrun, "RS, option too long" },
	{ "dhcpv6-trunc",	f_dhcpv6_trunc,	"DHCPv6, 2 bytes" },
	{ "dhcpv6-opt-overrun",	f_dhcpv6_opt_overrun, "option past the end" },
	{ "dhcpv6-opt-len0",	f_dhcpv6_opt_len0, "empty options" },
	{ "dhcpv6-ia-overrun",	f_dhcpv6_ia_overrun, "IA address too long" },
};

/**
 * big() - Build an oversized IPv4/UDP frame whose lengths say 65535
 * @size:	Frame size
 *
 * Return: frame length
 */
static size_t big(size_t size)
{
	size_t off = ip4(5, 65535, IPPROTO_UDP, guest4, gw4, IP4_HLEN);

	udp(off, 40000, 9, 65515);
	memset(frame + off + 8, 'B', size - off - 8);
	return size;
}

/**
 * parse_mac() - Parse a MAC address in aa:bb:cc:dd:ee:ff form
 * @s:		String
 * @mac:	Result
 *
 * Return: 0 on success, -1 on error
 */
static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/**
 * parse_hex() - Parse a hex string into the frame buffer
 * @s:		Hex digits, optionally separated by spaces, ':' or '.'
 *
 * Return: frame length, or 0 on error
 */
static size_t parse_hex(const char *s)
{
	size_t len = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == ' ' || *s == ':' || *s == '.' || *s == '\n')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return 0;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (len >= FRAME_MAX)
			return 0;
		frame[len++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? len : 0;
}

/**
 * send_frame() - Send the frame buffer
 * @s:		Packet socket
 * @ifindex:	Interface index
 * @name:	Frame name, for messages
 * @len:	Frame length
 *
 * Return: 0 on success, -errno on failure
 */
static int send_frame(int s, int ifindex, const char *name, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = ifindex,
		.sll_halen = 6,
	};

	memcpy(sll.sll_addr, frame, 6);
	if (sendto(s, frame, len, 0, (struct sockaddr *)&sll,
		   sizeof(sll)) < 0) {
		int err = errno;

		fprintf(stderr, "%s (%zu bytes): %s\n", name, len,
			strerror(err));
		return -err;
	}
	printf("sent %s (%zu bytes)\n", name, len);
	return 0;
}

/* The "tcp" mode: TCP segments built from KEY=VALUE specifications */

#define TCP_COUNT_MAX	100000UL
#define TCP_LEARN_MS	3000
#define TCP_SEND_TRIES	500		/* 1 ms apart, while the tap is full */

enum tcp_num_mode { NUM_ABS, NUM_REL, NUM_RAND };

/**
 * struct tcp_spec - A TCP segment to send, possibly many times
 * @af:		AF_INET or AF_INET6
 * @src:	Source address
 * @dst:	Destination address
 * @sport_lo:	Source port, or first of a range picked at random
 * @sport_hi:	Last of that range
 * @dport_lo:	Destination port, likewise
 * @dport_hi:	Last of that range
 * @seq_mode:	Sequence number: absolute, relative to learnt, random
 * @seq:	Its value or offset
 * @ack_mode:	Acknowledgement number, likewise
 * @ack:	Its value or offset
 * @flags:	Flags: bits 0-7 in byte 13, bit 8 the AE/NS bit of byte 12
 * @win:	Window field, -1 for the learnt one
 * @doff:	Data offset field (words), -1: from the options
 * @opts:	Option bytes, padded with zeros to a multiple of 4
 * @optlen:	Their length
 * @len:	Payload length
 * @count:	How many segments to send
 * @every_ms:	Pause between two of them, milliseconds
 */
struct tcp_spec {
	int af;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	enum tcp_num_mode seq_mode;
	uint32_t seq;
	enum tcp_num_mode ack_mode;
	uint32_t ack;
	uint16_t flags;
	int win;
	int doff;
	uint8_t opts[40];
	size_t optlen;
	size_t len;
	unsigned long count;
	unsigned long every_ms;
};

static uint8_t sniff_buf[FRAME_MAX];
static uint64_t rng_state;

/**
 * rnd() - Next pseudo-random number (xorshift64*)
 *
 * Return: 32 random bits
 */
static uint32_t rnd(void)
{
	if (!rng_state) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		rng_state = ((uint64_t)ts.tv_nsec << 20) ^
			    (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
			    0x9e3779b97f4a7c15ULL;
	}
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/**
 * tcp_parse_ports() - Parse a port, or a range LO-HI to pick from
 * @s:		String
 * @lo:		First port
 * @hi:		Last port
 *
 * Return: 0 on success, -1 on error
 */
static int tcp_parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-')
		b = strtoul(end + 1, &end, 10);
	if (*end || end == s || a > b || b > 65535)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/**
 * tcp_parse_num() - Parse a sequence or acknowledgement number
 * @s:		"rand", "+N" or "-N" (relative to the learnt value), or "N"
 * @mode:	Mode found
 * @v:		Value or offset
 *
 * Return: 0 on success, -1 on error
 */
static int tcp_parse_num(const char *s, enum tcp_num_mode *mode, uint32_t *v)
{
	unsigned long long n;
	char *end;

	if (!strcmp(s, "rand")) {
		*mode = NUM_RAND;
		return 0;
	}
	*mode = (*s == '+' || *s == '-') ? NUM_REL : NUM_ABS;
	n = strtoull(s + (*mode == NUM_REL), &end, 0);
	if (*end || end == s + (*mode == NUM_REL) || n > 0xffffffffULL)
		return -1;
	*v = (uint32_t)n;
	if (*s == '-')
		*v = (uint32_t)-*v;
	return 0;
}

/**
 * tcp_parse_flags() - Parse TCP flags: a number, or letters FSRPAUEC and N
 *		       (AE/NS, the bit in the data offset byte)
 * @s:		String
 * @flags:	Result
 *
 * Return: 0 on success, -1 on error
 */
static int tcp_parse_flags(const char *s, uint16_t *flags)
{
	static const char letters[] = "FSRPAUECN";
	unsigned long n;
	char *end;

	if (*s >= '0' && *s <= '9') {
		n = strtoul(s, &end, 0);
		if (*end || n > 0x1ff)
			return -1;
		*flags = (uint16_t)n;
		return 0;
	}
	for (*flags = 0; *s; s++) {
		const char *p = strchr(letters, *s);

		if (!p)
			return -1;
		*flags |= (uint16_t)(1 << (p - letters));
	}
	return 0;
}

/**
 * tcp_parse_addr() - Parse an IPv4 or IPv6 address
 * @s:		String
 * @addr:	Result, 4 or 16 bytes
 *
 * Return: AF_INET or AF_INET6, -1 on error
 */
static int tcp_parse_addr(const char *s, uint8_t *addr)
{
	if (strchr(s, ':'))
		return inet_pton(AF_INET6, s, addr) == 1 ? AF_INET6 : -1;
	return inet_pton(AF_INET, s, addr) == 1 ? AF_INET : -1;
}

/**
 * tcp_spec_parse() - Parse a comma-separated list of KEY=VALUE pairs
 * @arg:	Specification (see usage())
 * @t:		Result
 *
 * Return: 0 on success, -1 on error (reported)
 */
static int tcp_spec_parse(const char *arg, struct tcp_spec *t)
{
	char buf[512], *save = NULL, *kv;
	int af_src = 0, af_dst = 0;

	memset(t, 0, sizeof(*t));
	t->sport_lo = t->sport_hi = 40000;
	t->dport_lo = t->dport_hi = 9;
	t->seq = 0x1111;
	t->flags = 0x02;
	t->win = 65535;
	t->doff = -1;
	t->count = 1;

	if (strlen(arg) >= sizeof(buf))
		goto bad;
	strcpy(buf, arg);
	for (kv = strtok_r(buf, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		unsigned long n;
		char *end;

		if (!v)
			goto bad;
		*v++ = 0;
		if (!strcmp(kv, "src")) {
			if ((af_src = tcp_parse_addr(v, t->src)) < 0)
				goto bad;
		} else if (!strcmp(kv, "dst")) {
			if ((af_dst = tcp_parse_addr(v, t->dst)) < 0)
				goto bad;
		} else if (!strcmp(kv, "sport")) {
			if (tcp_parse_ports(v, &t->sport_lo, &t->sport_hi))
				goto bad;
		} else if (!strcmp(kv, "dport")) {
			if (tcp_parse_ports(v, &t->dport_lo, &t->dport_hi))
				goto bad;
		} else if (!strcmp(kv, "seq")) {
			if (tcp_parse_num(v, &t->seq_mode, &t->seq))
				goto bad;
		} else if (!strcmp(kv, "ack")) {
			if (tcp_parse_num(v, &t->ack_mode, &t->ack))
				goto bad;
		} else if (!strcmp(kv, "flags")) {
			if (tcp_parse_flags(v, &t->flags))
				goto bad;
		} else if (!strcmp(kv, "win")) {
			if (!strcmp(v, "learnt")) {
				t->win = -1;
				continue;
			}
			n = strtoul(v, &end, 0);
			if (*end || end == v || n > 65535)
				goto bad;
			t->win = (int)n;
		} else if (!strcmp(kv, "doff")) {
			n = strtoul(v, &end, 0);
			if (*end || end == v || n > 15)
				goto bad;
			t->doff = (int)n;
		} else if (!strcmp(kv, "opts")) {
			size_t i, l = strlen(v);

			if (l % 2 || l / 2 > sizeof(t->opts))
				goto bad;
			for (i = 0; i < l / 2; i++) {
				unsigned int b;

				if (sscanf(v + 2 * i, "%2x", &b) != 1)
					goto bad;
				t->opts[i] = (uint8_t)b;
			}
			t->optlen = (l / 2 + 3) & ~(size_t)3;
		} else if (!strcmp(kv, "len")) {
			n = strtoul(v, &end, 0);
			if (*end || end == v || n > 1400)
				goto bad;
			t->len = n;
		} else if (!strcmp(kv, "count")) {
			n = strtoul(v, &end, 0);
			if (*end || end == v || !n || n > TCP_COUNT_MAX)
				goto bad;
			t->count = n;
		} else if (!strcmp(kv, "every")) {
			n = strtoul(v, &end, 0);
			if (*end || end == v || n > 1000)
				goto bad;
			t->every_ms = n;
		} else {
			goto bad;
		}
	}

	/* Defaults: the guest to the gateway, in the family given */
	if (af_src && af_dst && af_src != af_dst)
		goto bad;
	t->af = af_src ? af_src : af_dst ? af_dst : AF_INET;
	if (!af_src)
		memcpy(t->src, t->af == AF_INET ? guest4 : guest6,
		       t->af == AF_INET ? 4 : 16);
	if (!af_dst)
		memcpy(t->dst, t->af == AF_INET ? gw4 : gw6,
		       t->af == AF_INET ? 4 : 16);
	if ((t->seq_mode == NUM_REL || t->ack_mode == NUM_REL ||
	     t->win < 0) &&
	    (t->sport_lo != t->sport_hi || t->dport_lo != t->dport_hi)) {
		fprintf(stderr, "%s: relative values need fixed ports\n", arg);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "bad tcp specification: %s\n", arg);
	return -1;
}

/**
 * struct tcp_learnt - What was learnt about a flow, kept for one run
 * @t:		Specification holding the flow's addresses and ports
 * @rc:		Result of tcp_learn(): 0 learnt, -1 nothing seen
 * @seq:	Next sequence number of the guest
 * @ack:	Its last acknowledgement number
 * @win:	Its last window field
 */
static struct tcp_learnt {
	struct tcp_spec t;
	int rc;
	uint32_t seq, ack;
	uint16_t win;
} learnt[16];
static unsigned int n_learnt;

/**
 * tcp_learn() - Watch the interface for a segment of the flow the guest
 *		 sends, and learn its next sequence number, acknowledgement
 *		 and window
 * @ifindex:	Interface index
 * @t:		Specification: addresses and (fixed) ports of the flow
 * @seq:	Next sequence number the guest sends
 * @ack:	Acknowledgement number the guest sent last
 * @win:	Window field the guest sent last
 *
 * Return: 0 on success, -1 if no segment was seen in time
 */
static int tcp_learn(int ifindex, const struct tcp_spec *t, uint32_t *seq,
		     uint32_t *ack, uint16_t *win)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	size_t alen = t->af == AF_INET ? 4 : 16;
	struct timespec t0, now;
	int s, rc = -1;

	s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (s < 0 || bind(s, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("packet socket for learning");
		if (s >= 0)
			close(s);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		const uint8_t *ip, *th, *end;
		size_t ihl, tot, doff, plen;
		long left_ms;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = TCP_LEARN_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
					  (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) <= 0)
			break;
		n = recv(s, sniff_buf, sizeof(sniff_buf), MSG_DONTWAIT);
		if (n < ETH_HLEN_ + IP4_HLEN + 20)
			continue;
		ip = sniff_buf + ETH_HLEN_;
		end = sniff_buf + n;
		if (t->af == AF_INET && get16(sniff_buf + 12) == ETHERTYPE_IP) {
			ihl = (size_t)(ip[0] & 0xf) * 4;
			if (ip[9] != IPPROTO_TCP || ihl < IP4_HLEN ||
			    memcmp(ip + 12, t->src, 4) ||
			    memcmp(ip + 16, t->dst, 4))
				continue;
			tot = get16(ip + 2);
		} else if (t->af == AF_INET6 &&
			   get16(sniff_buf + 12) == ETHERTYPE_IPV6 &&
			   n >= ETH_HLEN_ + IP6_HLEN + 20) {
			ihl = IP6_HLEN;
			if (ip[6] != IPPROTO_TCP ||
			    memcmp(ip + 8, t->src, alen) ||
			    memcmp(ip + 24, t->dst, alen))
				continue;
			tot = IP6_HLEN + get16(ip + 4);
		} else {
			continue;
		}
		if (!tot || ip + tot > end)	/* GSO without lengths */
			tot = (size_t)(end - ip);
		th = ip + ihl;
		if (th + 20 > end || get16(th) != t->sport_lo ||
		    get16(th + 2) != t->dport_lo)
			continue;
		doff = (size_t)(th[12] >> 4) * 4;
		plen = tot >= ihl + doff ? tot - ihl - doff : 0;
		*seq = get32(th + 4) + (uint32_t)plen + !!(th[13] & 0x02) +
		       !!(th[13] & 0x01);
		*ack = get32(th + 8);
		*win = get16(th + 14);
		rc = 0;
		break;
	}
	close(s);
	return rc;
}

/**
 * tcp_build() - Write a TCP segment in the frame buffer, checksummed
 * @t:		Specification
 * @sport:	Source port
 * @dport:	Destination port
 * @seq:	Sequence number
 * @ack:	Acknowledgement number
 * @win:	Window field
 *
 * Return: frame length
 */
static size_t tcp_build(const struct tcp_spec *t, uint16_t sport,
			uint16_t dport, uint32_t seq, uint32_t ack,
			uint16_t win)
{
	size_t hlen = 20 + t->optlen, len = hlen + t->len, off;
	unsigned doff = t->doff >= 0 ? (unsigned)t->doff : hlen / 4;
	uint8_t *th;

	if (t->af == AF_INET)
		off = ip4(5, (uint16_t)(IP4_HLEN + len), IPPROTO_TCP, t->src,
			  t->dst, IP4_HLEN);
	else
		off = ip6((uint16_t)len, IPPROTO_TCP, t->src, t->dst);
	th = frame + off;
	memset(th, 0, len);
	put16(th, sport);
	put16(th + 2, dport);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (uint8_t)((doff & 0xf) << 4 | (t->flags >> 8 & 1));
	th[13] = (uint8_t)t->flags;
	put16(th + 14, win);
	memcpy(th + 20, t->opts, t->optlen);
	memset(th + hlen, 'h', t->len);
	if (t->af == AF_INET) {
		uint8_t pseudo[12];

		memcpy(pseudo, t->src, 4);
		memcpy(pseudo + 4, t->dst, 4);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_TCP;
		put16(pseudo + 10, (uint16_t)len);
		put16(th + 16, csum_fold(csum_add(csum_add(0, pseudo, 12),
						  th, len)));
	} else {
		l4_csum6(off, len, IPPROTO_TCP, 16);
	}
	return off + len;
}

/**
 * send_quiet() - Send the frame buffer, waiting a little while the
 *		  interface's queue is full
 * @s:		Packet socket
 * @ifindex:	Interface index
 * @len:	Frame length
 *
 * Return: 0 on success, -errno on failure
 */
static int send_quiet(int s, int ifindex, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = ifindex,
		.sll_halen = 6,
	};
	int tries;

	memcpy(sll.sll_addr, frame, 6);
	for (tries = 0; tries < TCP_SEND_TRIES; tries++) {
		struct timespec ms = { 0, 1000000 };

		if (sendto(s, frame, len, 0, (struct sockaddr *)&sll,
			   sizeof(sll)) >= 0)
			return 0;
		if (errno != ENOBUFS && errno != EAGAIN)
			return -errno;
		nanosleep(&ms, NULL);
	}
	return -ENOBUFS;
}

/**
 * tcp_send_spec() - Send the segments of one specification
 * @s:		Packet socket
 * @ifindex:	Interface index
 * @arg:	Specification
 *
 * Return: 0 if all were sent, -1 otherwise
 */
static int tcp_send_spec(int s, int ifindex, const char *arg)
{
	uint32_t lseq = 0, lack = 0;
	unsigned long i, sent = 0;
	struct tcp_spec t;
	uint16_t lwin = 0;
	size_t len = 0;
	int err = 0;

	if (tcp_spec_parse(arg, &t))
		return -1;
	if (t.seq_mode == NUM_REL || t.ack_mode == NUM_REL || t.win < 0) {
		char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
		struct tcp_learnt *l;
		unsigned int k;

		/* Learn once per flow and run: segments that follow one
		 * that ended the flow are still sent, and no time is lost
		 */
		for (k = 0; k < n_learnt; k++) {
			l = &learnt[k];
			if (l->t.af == t.af && !memcmp(l->t.src, t.src, 16) &&
			    !memcmp(l->t.dst, t.dst, 16) &&
			    l->t.sport_lo == t.sport_lo &&
			    l->t.dport_lo == t.dport_lo)
				break;
		}
		inet_ntop(t.af, t.src, a, sizeof(a));
		inet_ntop(t.af, t.dst, b, sizeof(b));
		if (k == n_learnt) {
			if (n_learnt == sizeof(learnt) / sizeof(learnt[0]))
				n_learnt--;	/* reuse the last one */
			l = &learnt[n_learnt++];
			l->t = t;
			l->rc = tcp_learn(ifindex, &t, &l->seq, &l->ack,
					  &l->win);
			if (!l->rc)
				printf("learnt %s:%u > %s:%u: next seq %u, "
				       "ack %u, win %u\n", a, t.sport_lo, b,
				       t.dport_lo, l->seq, l->ack, l->win);
		} else {
			l = &learnt[k];
		}
		if (l->rc) {
			fprintf(stderr, "%s: no segment %s:%u > %s:%u seen in "
				"%d ms\n", arg, a, t.sport_lo, b, t.dport_lo,
				TCP_LEARN_MS);
			return -1;
		}
		lseq = l->seq;
		lack = l->ack;
		lwin = l->win;
	}
	for (i = 0; i < t.count; i++) {
		uint16_t sport = (uint16_t)(t.sport_lo +
				 rnd() % (t.sport_hi - t.sport_lo + 1U));
		uint16_t dport = (uint16_t)(t.dport_lo +
				 rnd() % (t.dport_hi - t.dport_lo + 1U));
		uint32_t seq = t.seq_mode == NUM_RAND ? rnd() :
			       t.seq_mode == NUM_REL ? lseq + t.seq : t.seq;
		uint32_t ack = t.ack_mode == NUM_RAND ? rnd() :
			       t.ack_mode == NUM_REL ? lack + t.ack : t.ack;

		if (i && t.every_ms) {
			struct timespec p = { (time_t)(t.every_ms / 1000),
					      (long)(t.every_ms % 1000) *
					      1000000 };

			nanosleep(&p, NULL);
		}
		memset(frame, 0, ETH_HLEN_ + IP6_HLEN + 60 + t.len);
		len = tcp_build(&t, sport, dport, seq, ack,
				(uint16_t)(t.win < 0 ? lwin : t.win));
		err = send_quiet(s, ifindex, len);
		if (err)
			break;
		sent++;
	}
	if (err)
		fprintf(stderr, "%s: %s after %lu of %lu\n", arg,
			strerror(-err), sent, t.count);
	printf("sent %lu of %lu: %s (%zu bytes)\n", sent, t.count, arg, len);
	return sent == t.count ? 0 : -1;
}

/**
 * usage() - Print usage and exit
 * @status:	Exit status
 */
static void usage(int status)
{
	FILE *f = status ? stderr : stdout;

	fprintf(f, "Usage: frame_inject [-d MAC] [-s MAC] IFACE hex HEX...\n"
		   "       frame_inject [-d MAC] [-s MAC] IFACE gen NAME...\n"
		   "       frame_inject [-d MAC] [-s MAC] IFACE tcp SPEC...\n"
		   "       frame_inject list\n"
		   "NAME is one from the list, or big:SIZE\n"
		   "SPEC is KEY=VALUE[,KEY=VALUE]... (see the top comment)\n");
	exit(status);
}

int main(int argc, char **argv)
{
	int s, i, ifindex, mtu, failed = 0, have_src = 0, gen;
	struct ifreq ifr;
	const char *ifname;
	size_t n;

	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (n = 0; n < sizeof(builders) / sizeof(builders[0]); n++)
			printf("%-20s %s\n", builders[n].name,
			       builders[n].what);
		printf("%-20s %s\n", "big:SIZE",
		       "oversized IPv4/UDP frame, lengths 65535");
		return 0;
	}

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-d")) {
			if (parse_mac(argv[i + 1], dst_mac))
				usage(2);
		} else if (!strcmp(argv[i], "-s")) {
			if (parse_mac(argv[i + 1], src_mac))
				usage(2);
			have_src = 1;
		} else {
			usage(strcmp(argv[i], "-h") ? 2 : 0);
		}
	}
	if (argc - i < 3)
		usage(2);
	ifname = argv[i++];
	if (!strcmp(argv[i], "gen"))
		gen = 1;
	else if (!strcmp(argv[i], "hex"))
		gen = 0;
	else if (!strcmp(argv[i], "tcp"))
		gen = 2;
	else
		usage(2);
	i++;

	s = socket(AF_PACKET, SOCK_RAW, 0);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	if (strlen(ifname) >= IFNAMSIZ) {
		fprintf(stderr, "%s: name too long\n", ifname);
		return 1;
	}
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFINDEX, &ifr)) {
		perror(ifname);
		return 1;
	}
	ifindex = ifr.ifr_ifindex;
	if (ioctl(s, SIOCGIFMTU, &ifr)) {
		perror("SIOCGIFMTU");
		return 1;
	}
	mtu = ifr.ifr_mtu;
	if (!have_src) {
		if (ioctl(s, SIOCGIFHWADDR, &ifr)) {
			perror("SIOCGIFHWADDR");
			return 1;
		}
		memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
	}

	for (; i < argc; i++) {
		uint8_t saved_dst[6];
		size_t len = 0;

		memcpy(saved_dst, dst_mac, 6);
		if (gen == 2) {
			if (tcp_send_spec(s, ifindex, argv[i]))
				failed = 1;
			continue;
		}
		if (!gen) {
			len = parse_hex(argv[i]);
			if (!len) {
				fprintf(stderr, "bad hex string: %s\n",
					argv[i]);
				failed = 1;
				continue;
			}
		} else if (!strncmp(argv[i], "big:", 4)) {
			char *end;
			unsigned long size = strtoul(argv[i] + 4, &end, 0);

			if (*end || size < 64 || size > FRAME_MAX) {
				fprintf(stderr, "bad size: %s\n", argv[i]);
				failed = 1;
				continue;
			}
			len = big(size);
			if (send_frame(s, ifindex, argv[i], len) == -EMSGSIZE) {
				/* The interface takes MTU + header at most */
				len = big((size_t)mtu + ETH_HLEN_);
				if (send_frame(s, ifindex, "big:mtu", len))
					failed = 1;
			}
			continue;
		} else {
			for (n = 0; n < sizeof(builders) / sizeof(builders[0]);
			     n++) {
				if (!strcmp(argv[i], builders[n].name))
					break;
			}
			if (n == sizeof(builders) / sizeof(builders[0])) {
				fprintf(stderr, "unknown frame: %s\n",
					argv[i]);
				failed = 1;
				continue;
			}
			memset(frame, 0, sizeof(frame));
			len = builders[n].fn();
		}
		if (send_frame(s, ifindex, argv[i], len))
			failed = 1;
		memcpy(dst_mac, saved_dst, 6);
	}

	close(s);
	return failed;
}
