/* test/unit/ndp_test.c - NDP responder: Neighbour Advertisements, Router
 * Advertisements and their options, validation, the unsolicited schedule
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "ctx.h"
#include "frame.h"
#include "fwd.h"
#include "log.h"
#include "ndp.h"
#include "unit.h"

#define ICMP6_OFF	(ETH_HDR_LEN + IP6_HDR_LEN)

static const uint8_t guest_mac[MAC_LEN] = {
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56
};
static const uint8_t our_mac[MAC_LEN] = {
	0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55
};
static const uint8_t mac_all_nodes[MAC_LEN] = {
	0x33, 0x33, 0x00, 0x00, 0x00, 0x01
};

#define GUEST_LL	"fe80::5054:ff:fe12:3456"
#define GUEST_ADDR	"2001:db8::10"
#define GW		"2001:db8::1"

static struct net_conf nc;
static struct frame_queue q;
static struct ctx c;

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	inet_pton(AF_INET6, s, &a);
	return a;
}

/* Fresh configuration: guest 2001:db8::10/64, gateway 2001:db8::1 */
static void setup(void)
{
	memset(&nc, 0, sizeof(nc));
	nc.v6.enabled = true;
	nc.v6.addr = ip6(GUEST_ADDR);
	nc.v6.prefix_len = 64;
	nc.v6.gw = ip6(GW);
	fwd_ll_from_mac(&nc.v6.our_ll, our_mac);
	nc.v6.dns[0] = ip6("2001:db8::53");
	nc.v6.dns[1] = ip6("2001:db8:1::53");
	nc.v6.dns_n = 2;
	strcpy(nc.search[0], "example.test");
	strcpy(nc.search[1], "lab.example.test");
	nc.search_n = 2;
	nc.dhcp_dns = nc.dhcp_search = true;
	nc.mtu = 1500;
	memcpy(nc.our_mac, our_mac, MAC_LEN);
	memcpy(nc.guest_mac, guest_mac, MAC_LEN);

	if (!q.arena && frame_queue_init(&q, 1 << 20, 64))
		abort();
	frame_queue_reset(&q);
	memcpy(q.our_mac, our_mac, MAC_LEN);
	memcpy(q.guest_mac, guest_mac, MAC_LEN);

	c.net = &nc;
	c.q = &q;
	c.now_ms = 1000;
	memset(drop_counters, 0, sizeof(drop_counters));
}

/**
 * ip6_frame() - Build an IPv6/ICMPv6 frame from the guest
 * @buf:	Output, ICMP6_OFF + @len bytes
 * @src:	IPv6 source
 * @dst:	IPv6 destination
 * @hops:	Hop limit
 * @msg:	ICMPv6 message, checksum filled here
 * @len:	Its length
 *
 * Return: frame length
 */
static size_t ip6_frame(uint8_t *buf, const char *src, const char *dst,
			uint8_t hops, const uint8_t *msg, size_t len)
{
	struct in6_addr s = ip6(src), d = ip6(dst);
	uint8_t *ip = buf + ETH_HDR_LEN, *l4 = buf + ICMP6_OFF;

	memcpy(buf, mac_all_nodes, MAC_LEN);
	memcpy(buf + MAC_LEN, guest_mac, MAC_LEN);
	wr16(buf + 12, ETHTYPE_IP6);
	memset(ip, 0, IP6_HDR_LEN);
	ip[0] = 0x60;
	wr16(ip + 4, (uint16_t)len);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = hops;
	memcpy(ip + 8, &s, 16);
	memcpy(ip + 24, &d, 16);
	memcpy(l4, msg, len);
	wr16(l4 + 2, 0);
	wr16(l4 + 2, csum(l4, len, csum_pseudo6(&s, &d, IPPROTO_ICMPV6,
						 (uint32_t)len)));
	return ICMP6_OFF + len;
}

/* Neighbour Solicitation for @target, with an SLLA option if @slla */
static size_t ns_msg(uint8_t *m, const char *target, bool slla)
{
	struct in6_addr t = ip6(target);

	memset(m, 0, 32);
	m[0] = 135;
	memcpy(m + 8, &t, 16);
	if (!slla)
		return 24;
	m[24] = 1;
	m[25] = 1;
	memcpy(m + 26, guest_mac, MAC_LEN);
	return 32;
}

/* Router Solicitation, with an SLLA option if @slla */
static size_t rs_msg(uint8_t *m, bool slla)
{
	memset(m, 0, 16);
	m[0] = 133;
	if (!slla)
		return 8;
	m[8] = 1;
	m[9] = 1;
	memcpy(m + 10, guest_mac, MAC_LEN);
	return 16;
}

/* Parse @buf and hand it to ndp_input() */
static int ndp_run(const uint8_t *buf, size_t len)
{
	struct frame_in f;

	if (frame_parse(buf, len, &f))
		return -2;
	return ndp_input(&c, &f);
}

/* Solicit @target from the guest's link-local address, return ndp_input() */
static int ns_run(const char *src, const char *target)
{
	uint8_t m[32], buf[128];
	size_t len = ns_msg(m, target, true);

	len = ip6_frame(buf, src, "ff02::1:ff00:1", 255, m, len);
	return ndp_run(buf, len);
}

/* Parse queued frame @i back, check the IPv6 and ICMPv6 basics */
static bool out_parse(unsigned int i, struct frame_in *r)
{
	uint32_t sum;

	CHECK(q.n > i);
	if (q.n <= i)
		return false;
	CHECK(q.out[i].iovcnt == 1);
	if (frame_parse(q.out[i].iov[0].iov_base, q.out[i].len, r)) {
		CHECK(!"reply parses");
		return false;
	}
	CHECK(r->af == AF_INET6);
	CHECK(r->proto == IPPROTO_ICMPV6);
	CHECK(r->ttl == 255);
	CHECK(mac_equal(r->src_mac, our_mac));
	sum = csum_pseudo6(&r->src.a6, &r->dst.a6, IPPROTO_ICMPV6,
			   (uint32_t)r->l4_len);
	CHECK(csum(r->l4, r->l4_len, sum) == 0);
	return true;
}

/* Check q.out[0] is an NA for @target with @flags */
static void check_na(const char *target, uint8_t flags)
{
	struct in6_addr t = ip6(target), g = ip6(GUEST_LL);
	struct frame_in r;

	CHECK(q.n == 1);
	if (!out_parse(0, &r))
		return;
	CHECK(mac_equal(r.dst_mac, guest_mac));
	CHECK(!memcmp(&r.src.a6, &t, 16));
	CHECK(!memcmp(&r.dst.a6, &g, 16));
	CHECK(r.l4_len == 32);
	if (r.l4_len < 32)
		return;
	CHECK(r.l4[0] == 136 && r.l4[1] == 0);
	CHECK(r.l4[4] == flags);
	CHECK(!r.l4[5] && !r.l4[6] && !r.l4[7]);
	CHECK(!memcmp(r.l4 + 8, &t, 16));
	CHECK(r.l4[24] == 2 && r.l4[25] == 1);
	CHECK(mac_equal(r.l4 + 26, our_mac));
}

static void test_ns_gateway(void)
{
	char ll[INET6_ADDRSTRLEN];

	setup();
	CHECK(ns_run(GUEST_LL, GW) == 1);
	check_na(GW, 0xe0);

	/* Our link-local address: a router too */
	setup();
	inet_ntop(AF_INET6, &nc.v6.our_ll, ll, sizeof(ll));
	CHECK(ns_run(GUEST_LL, ll) == 1);
	check_na(ll, 0xe0);
	CHECK(drop_counters[DROP_NDP_BAD] == 0);
}

static void test_ns_other(void)
{
	uint8_t m[32], buf[128];
	size_t len;

	/* Any other address: answered, without the Router flag */
	setup();
	CHECK(ns_run(GUEST_LL, "2001:db8::99") == 1);
	check_na("2001:db8::99", 0x60);

	/* No SLLA option is fine too */
	setup();
	len = ns_msg(m, "2001:db8::99", false);
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:99", 255, m, len);
	CHECK(ndp_run(buf, len) == 1);
	check_na("2001:db8::99", 0x60);
}

static void test_ns_not_answered(void)
{
	uint8_t m[32], buf[128];
	size_t len;

	/* DAD probe for the guest's address, and for any other */
	setup();
	len = ns_msg(m, GUEST_ADDR, false);
	len = ip6_frame(buf, "::", "ff02::1:ff00:10", 255, m, len);
	CHECK(ndp_run(buf, len) == 1);
	len = ns_msg(m, "2001:db8::99", false);
	len = ip6_frame(buf, "::", "ff02::1:ff00:99", 255, m, len);
	CHECK(ndp_run(buf, len) == 1);
	CHECK(q.n == 0);

	/* The guest's own addresses */
	CHECK(ns_run(GUEST_LL, GUEST_ADDR) == 1);
	nc.v6.addr_seen = ip6("2001:db8::20");
	CHECK(ns_run(GUEST_LL, "2001:db8::20") == 1);
	nc.v6.addr_ll_seen = ip6(GUEST_LL);
	CHECK(ns_run(GUEST_ADDR, GUEST_LL) == 1);
	/* Its source address, even before the tap side records it */
	nc.v6.addr_ll_seen = ip6("::");
	CHECK(ns_run(GUEST_LL, GUEST_LL) == 1);
	CHECK(q.n == 0);

	/* --no-ndp, IPv6 disabled */
	nc.no_ndp = true;
	CHECK(ns_run(GUEST_LL, GW) == 1);
	nc.no_ndp = false;
	nc.v6.enabled = false;
	CHECK(ns_run(GUEST_LL, GW) == 1);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_NDP_BAD] == 0);
}

static void test_ns_malformed(void)
{
	uint8_t m[48], buf[128];
	size_t len;

	/* Hop limit below 255: may have come through a router */
	setup();
	len = ns_msg(m, GW, true);
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 64, m, len);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 1);

	/* Bad checksum */
	len = ns_msg(m, GW, true);
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 255, m, len);
	buf[ICMP6_OFF + 2] ^= 0x01;
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 2);

	/* Code not 0 */
	len = ns_msg(m, GW, true);
	m[1] = 1;
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 255, m, len);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 3);

	/* Option of length 0 */
	len = ns_msg(m, GW, true);
	m[25] = 0;
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 255, m, len);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 4);

	/* Option running past the end of the message */
	len = ns_msg(m, GW, true);
	m[25] = 2;
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 255, m, len);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 5);

	/* One stray byte after the options: no room for an option header */
	len = ns_msg(m, GW, true);
	m[len] = 1;
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 255, m, len + 1);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 6);

	/* Truncated: 20 bytes, checksum right */
	ns_msg(m, GW, false);
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 255, m, 20);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 7);

	/* Multicast target */
	len = ns_msg(m, "ff02::1", true);
	len = ip6_frame(buf, GUEST_LL, "ff02::1:ff00:1", 255, m, len);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 8);

	/* DAD carrying a link-layer address */
	len = ns_msg(m, GUEST_ADDR, true);
	len = ip6_frame(buf, "::", "ff02::1:ff00:10", 255, m, len);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 9);
	CHECK(q.n == 0);
}

static void test_not_ndp(void)
{
	uint8_t m[16] = { 128, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g' };
	uint8_t buf[128];
	size_t len;

	setup();
	len = ip6_frame(buf, GUEST_ADDR, "2001:db8::99", 64, m, sizeof(m));
	CHECK(ndp_run(buf, len) == 0);
	m[0] = 1;	/* Destination Unreachable */
	len = ip6_frame(buf, GUEST_ADDR, "2001:db8::99", 64, m, sizeof(m));
	CHECK(ndp_run(buf, len) == 0);
	m[0] = 143;	/* MLDv2 report */
	len = ip6_frame(buf, GUEST_LL, "ff02::16", 1, m, sizeof(m));
	CHECK(ndp_run(buf, len) == 0);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_NDP_BAD] == 0);
}

static void test_ignored_types(void)
{
	uint8_t m[40] = { 0 }, buf[128];
	struct in6_addr t = ip6(GUEST_ADDR);
	size_t len;

	/* Unsolicited NA from the guest, RA, Redirect: NDP, no answer */
	setup();
	m[0] = 136;
	m[4] = 0x20;
	memcpy(m + 8, &t, 16);
	len = ip6_frame(buf, GUEST_ADDR, "ff02::1", 255, m, 24);
	CHECK(ndp_run(buf, len) == 1);
	memset(m, 0, sizeof(m));
	m[0] = 134;
	len = ip6_frame(buf, GUEST_LL, "ff02::1", 255, m, 16);
	CHECK(ndp_run(buf, len) == 1);
	m[0] = 137;
	len = ip6_frame(buf, GUEST_LL, GUEST_ADDR, 255, m, 40);
	CHECK(ndp_run(buf, len) == 1);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_NDP_BAD] == 0);

	/* Truncated Redirect */
	len = ip6_frame(buf, GUEST_LL, GUEST_ADDR, 255, m, 32);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 1);
}

/**
 * struct ra - What a Router Advertisement said
 * @flags:	M and O flags byte
 * @opt:	Offset of each option type seen in the message, 0 if none
 * @l4:		Message
 * @len:	Its length
 */
struct ra {
	uint8_t flags;
	size_t opt[256];
	const uint8_t *l4;
	size_t len;
};

/* Parse queued frame @i as an RA to all nodes, fill @ra */
static bool ra_parse(unsigned int i, struct ra *ra)
{
	struct in6_addr all = ip6("ff02::1");
	struct frame_in r;
	size_t off;

	memset(ra, 0, sizeof(*ra));
	if (!out_parse(i, &r))
		return false;
	CHECK(mac_equal(r.dst_mac, mac_all_nodes));
	CHECK(!memcmp(&r.src.a6, &nc.v6.our_ll, 16));
	CHECK(!memcmp(&r.dst.a6, &all, 16));
	CHECK(r.l4_len >= 16 && r.l4_len <= 1280 - 40);
	if (r.l4_len < 16)
		return false;
	CHECK(r.l4[0] == 134 && r.l4[1] == 0);
	CHECK(r.l4[4] == 64);
	CHECK(rd16(r.l4 + 6) == 9000);
	CHECK(rd32(r.l4 + 8) == 0 && rd32(r.l4 + 12) == 0);
	ra->flags = r.l4[5];
	ra->l4 = r.l4;
	ra->len = r.l4_len;
	for (off = 16; off + 2 <= r.l4_len; off += r.l4[off + 1] * 8u) {
		CHECK(r.l4[off + 1] && off + r.l4[off + 1] * 8u <= r.l4_len);
		if (!r.l4[off + 1])
			return false;
		CHECK(!ra->opt[r.l4[off]]);
		ra->opt[r.l4[off]] = off;
	}
	CHECK(off == r.l4_len);
	return true;
}

/* Send a Router Solicitation from @src, return ndp_input() */
static int rs_run(const char *src, bool slla)
{
	uint8_t m[16], buf[128];
	size_t len = rs_msg(m, slla);

	len = ip6_frame(buf, src, "ff02::2", 255, m, len);
	return ndp_run(buf, len);
}

static void test_rs_full(void)
{
	static const uint8_t dnssl[] = {
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
		3, 'l', 'a', 'b',
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
	};
	struct in6_addr pfx = ip6("2001:db8::"), dns0 = ip6("2001:db8::53");
	struct in6_addr dns1 = ip6("2001:db8:1::53");
	const uint8_t *o;
	struct ra ra;
	size_t i;

	setup();
	CHECK(rs_run(GUEST_LL, true) == 1);
	CHECK(q.n == 1);
	if (!ra_parse(0, &ra))
		return;
	CHECK(ra.flags == 0xc0);

	CHECK(ra.opt[1]);
	o = ra.l4 + ra.opt[1];
	CHECK(o[1] == 1 && mac_equal(o + 2, our_mac));

	CHECK(ra.opt[5]);
	o = ra.l4 + ra.opt[5];
	CHECK(o[1] == 1 && rd16(o + 2) == 0 && rd32(o + 4) == 1500);

	CHECK(ra.opt[3]);
	o = ra.l4 + ra.opt[3];
	CHECK(o[1] == 4 && o[2] == 64 && o[3] == 0xc0);
	CHECK(rd32(o + 4) == 0xffffffff && rd32(o + 8) == 0xffffffff);
	CHECK(rd32(o + 12) == 0);
	CHECK(!memcmp(o + 16, &pfx, 16));

	CHECK(ra.opt[25]);
	o = ra.l4 + ra.opt[25];
	CHECK(o[1] == 5 && rd32(o + 4) == 0xffffffff);
	CHECK(!memcmp(o + 8, &dns0, 16) && !memcmp(o + 24, &dns1, 16));

	CHECK(ra.opt[31]);
	o = ra.l4 + ra.opt[31];
	CHECK(o[1] == (8 + sizeof(dnssl) + 7) / 8);
	CHECK(rd32(o + 4) == 0xffffffff);
	CHECK(!memcmp(o + 8, dnssl, sizeof(dnssl)));
	for (i = 8 + sizeof(dnssl); i < o[1] * 8u; i++)
		CHECK(o[i] == 0);
	CHECK(drop_counters[DROP_NDP_BAD] == 0);
}

static void test_rs_minimal(void)
{
	struct ra ra;

	/* No DHCPv6, DNS, search list or MTU: flags and options left out */
	setup();
	nc.no_dhcpv6 = true;
	nc.dhcp_dns = nc.dhcp_search = false;
	nc.mtu = 0;
	CHECK(rs_run(GUEST_LL, true) == 1);
	if (!ra_parse(0, &ra))
		return;
	CHECK(ra.flags == 0);
	CHECK(ra.opt[1] && ra.opt[3]);
	CHECK(!ra.opt[5] && !ra.opt[25] && !ra.opt[31]);
	CHECK(ra.len == 16 + 8 + 32);

	/* MTU under the IPv6 minimum: not advertised; empty lists */
	setup();
	nc.mtu = 1279;
	nc.v6.dns_n = 0;
	nc.search_n = 0;
	CHECK(rs_run(GUEST_LL, false) == 1);
	if (!ra_parse(0, &ra))
		return;
	CHECK(!ra.opt[5] && !ra.opt[25] && !ra.opt[31]);
}

static void test_rs_prefix_and_names(void)
{
	struct in6_addr pfx = ip6("2001:db8:1:2::");
	const uint8_t *o;
	struct ra ra;
	int i, j;

	/* Prefix length 0 means /64; host bits are cleared */
	setup();
	nc.v6.addr = ip6("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
	nc.v6.prefix_len = 0;
	/* A label over 63 bytes and the root name are left out */
	memset(nc.search[0], 'a', 64);
	nc.search[0][64] = '\0';
	strcpy(nc.search[1], ".");
	strcpy(nc.search[2], "x.test");
	nc.search_n = 3;
	CHECK(rs_run(GUEST_LL, true) == 1);
	if (!ra_parse(0, &ra))
		return;
	CHECK(ra.opt[3]);
	o = ra.l4 + ra.opt[3];
	CHECK(o[2] == 64 && !memcmp(o + 16, &pfx, 16));
	CHECK(ra.opt[31]);
	o = ra.l4 + ra.opt[31];
	CHECK(o[1] == 2);
	CHECK(!memcmp(o + 8, "\1x\4test\0", 8));

	/* No valid name at all: no DNSSL */
	setup();
	strcpy(nc.search[0], "a..b");
	nc.search_n = 1;
	CHECK(rs_run(GUEST_LL, true) == 1);
	if (!ra_parse(0, &ra))
		return;
	CHECK(!ra.opt[31]);

	/* Long names: the RA stays within the IPv6 minimum MTU */
	setup();
	for (i = 0; i < SEARCH_MAX; i++) {
		memset(nc.search[i], 'a' + i, 250);
		nc.search[i][250] = '\0';
		for (j = 60; j < 250; j += 61)
			nc.search[i][j] = '.';
	}
	nc.search_n = SEARCH_MAX;
	CHECK(rs_run(GUEST_LL, true) == 1);
	if (!ra_parse(0, &ra))
		return;
	CHECK(ra.opt[31]);
	CHECK(ra.len > 1000);
}

static void test_rs_cases(void)
{
	uint8_t m[16], buf[128];
	size_t len;

	/* From the unspecified address, without SLLA: answered */
	setup();
	CHECK(rs_run("::", false) == 1);
	CHECK(q.n == 1);

	/* From the unspecified address with SLLA: malformed */
	setup();
	CHECK(rs_run("::", true) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 1);

	/* Hop limit, option length 0, truncated */
	len = rs_msg(m, true);
	len = ip6_frame(buf, GUEST_LL, "ff02::2", 254, m, len);
	CHECK(ndp_run(buf, len) == -1);
	len = rs_msg(m, true);
	m[9] = 0;
	len = ip6_frame(buf, GUEST_LL, "ff02::2", 255, m, len);
	CHECK(ndp_run(buf, len) == -1);
	rs_msg(m, false);
	len = ip6_frame(buf, GUEST_LL, "ff02::2", 255, m, 4);
	CHECK(ndp_run(buf, len) == -1);
	CHECK(drop_counters[DROP_NDP_BAD] == 4);
	CHECK(q.n == 0);

	/* --no-ra, --no-ndp */
	setup();
	nc.no_ra = true;
	CHECK(rs_run(GUEST_LL, true) == 1);
	nc.no_ra = false;
	nc.no_ndp = true;
	CHECK(rs_run(GUEST_LL, true) == 1);
	CHECK(q.n == 0);
}

/* Run ndp_timer() at @t, return how many frames it queued */
static unsigned int tick(uint64_t t)
{
	unsigned int n = q.n;

	c.now_ms = t;
	ndp_timer(&c);
	return q.n - n;
}

static void test_timer(void)
{
	uint64_t t0 = 5000, t, last, gap[3];
	struct ra ra;
	int k;

	setup();
	ndp_reset();
	CHECK(tick(t0) == 1);
	if (ra_parse(0, &ra))
		CHECK(ra.flags == 0xc0 && ra.opt[3]);
	CHECK(tick(t0 + 1000) == 0);
	CHECK(tick(t0 + 15000) == 0);

	/* Two more at 16 s intervals */
	CHECK(tick(t0 + 16000) == 1);
	CHECK(tick(t0 + 31000) == 0);
	CHECK(tick(t0 + 32000) == 1);

	/* Then every 200 to 600 s, not always the same */
	last = t0 + 32000;
	for (k = 0; k < 3; k++) {
		for (t = last + 1000; t < last + 200000; t += 1000)
			CHECK(tick(t) == 0);
		for (; t <= last + 601000; t += 1000)
			if (tick(t) == 1)
				break;
		CHECK(t >= last + 200000 && t <= last + 601000);
		gap[k] = t - last;
		last = t;
	}
	CHECK(gap[0] != gap[1] || gap[1] != gap[2]);

	/* Reset, e.g. a new guest: an RA on the next run */
	frame_queue_reset(&q);
	ndp_reset();
	CHECK(tick(t + 1000) == 1);
	CHECK(tick(t + 2000) == 0);

	/* Nothing with --no-ra, --no-ndp, or without IPv6 */
	ndp_reset();
	nc.no_ra = true;
	CHECK(tick(t + 3000) == 0);
	nc.no_ra = false;
	nc.no_ndp = true;
	CHECK(tick(t + 4000) == 0);
	nc.no_ndp = false;
	nc.v6.enabled = false;
	CHECK(tick(t + 5000) == 0);
	nc.v6.enabled = true;
	CHECK(tick(t + 6000) == 1);
}

int main(void)
{
	UNIT_PLAN(11);
	UNIT_RUN(test_ns_gateway);
	UNIT_RUN(test_ns_other);
	UNIT_RUN(test_ns_not_answered);
	UNIT_RUN(test_ns_malformed);
	UNIT_RUN(test_not_ndp);
	UNIT_RUN(test_ignored_types);
	UNIT_RUN(test_rs_full);
	UNIT_RUN(test_rs_minimal);
	UNIT_RUN(test_rs_prefix_and_names);
	UNIT_RUN(test_rs_cases);
	UNIT_RUN(test_timer);
	free(q.arena);
	free(q.out);
	UNIT_EXIT();
}
