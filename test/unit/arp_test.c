/* test/unit/arp_test.c - ARP responder: which requests are answered, what
 * the replies say, and what malformed packets are counted as
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "ctx.h"
#include "frame.h"
#include "fwd.h"
#include "log.h"
#include "unit.h"

#define ARP_FRAME_LEN	(ETH_HDR_LEN + 28)

static const uint8_t guest_mac[MAC_LEN] = {
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56
};
static const uint8_t our_mac[MAC_LEN] = {
	0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55
};

static struct net_conf nc;
static struct frame_queue q;
static struct ctx c;

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

/* Fresh configuration: guest 192.0.2.10/24, gateway 192.0.2.1 */
static void setup(void)
{
	memset(&nc, 0, sizeof(nc));
	nc.v4.enabled = true;
	nc.v4.addr = ip4("192.0.2.10");
	nc.v4.prefix_len = 24;
	nc.v4.gw = ip4("192.0.2.1");
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

/* Ethernet broadcast frame holding an Ethernet/IPv4 ARP packet */
static size_t arp_frame(uint8_t *buf, uint16_t op, const char *spa,
			const char *tpa)
{
	struct in_addr s = ip4(spa), t = ip4(tpa);
	uint8_t *p = buf + ETH_HDR_LEN;

	memcpy(buf, MAC_BROADCAST, MAC_LEN);
	memcpy(buf + MAC_LEN, guest_mac, MAC_LEN);
	wr16(buf + 12, ETHTYPE_ARP);
	wr16(p, 1);
	wr16(p + 2, ETHTYPE_IP4);
	p[4] = 6;
	p[5] = 4;
	wr16(p + 6, op);
	memcpy(p + 8, guest_mac, MAC_LEN);
	memcpy(p + 14, &s, 4);
	memset(p + 18, 0, MAC_LEN);
	memcpy(p + 24, &t, 4);
	return ARP_FRAME_LEN;
}

/* Parse @buf and hand it to arp_input() */
static int arp_run(const uint8_t *buf, size_t len)
{
	struct frame_in f;

	if (frame_parse(buf, len, &f))
		return -2;
	return arp_input(&c, &f);
}

/* Check q.out[0] is our reply to the guest's request for @tpa */
static void check_reply(const char *tpa)
{
	struct in_addr t = ip4(tpa), g = nc.v4.addr;
	const uint8_t *o, *p;

	CHECK(q.n == 1);
	if (q.n != 1)
		return;
	CHECK(q.out[0].len == ARP_FRAME_LEN);
	o = q.out[0].iov[0].iov_base;
	p = o + ETH_HDR_LEN;
	CHECK(mac_equal(o, guest_mac));
	CHECK(mac_equal(o + MAC_LEN, our_mac));
	CHECK(rd16(o + 12) == ETHTYPE_ARP);
	CHECK(rd16(p) == 1 && rd16(p + 2) == ETHTYPE_IP4);
	CHECK(p[4] == 6 && p[5] == 4);
	CHECK(rd16(p + 6) == 2);
	CHECK(mac_equal(p + 8, our_mac));
	CHECK(!memcmp(p + 14, &t, 4));
	CHECK(mac_equal(p + 18, guest_mac));
	CHECK(!memcmp(p + 24, &g, 4));
}

static void test_request_gateway(void)
{
	uint8_t buf[64];
	size_t len;

	setup();
	len = arp_frame(buf, 1, "192.0.2.10", "192.0.2.1");
	CHECK(arp_run(buf, len) == 0);
	check_reply("192.0.2.1");
}

static void test_request_any_address(void)
{
	uint8_t buf[64];
	size_t len;

	setup();
	len = arp_frame(buf, 1, "192.0.2.10", "192.0.2.77");
	CHECK(arp_run(buf, len) == 0);
	check_reply("192.0.2.77");

	/* Minimum Ethernet frame: padding after the 28 bytes is fine */
	setup();
	memset(buf, 0, sizeof(buf));
	arp_frame(buf, 1, "192.0.2.10", "198.51.100.1");
	CHECK(arp_run(buf, 60) == 0);
	check_reply("198.51.100.1");
}

static void test_request_guest_addr(void)
{
	uint8_t buf[64];
	size_t len;

	setup();
	len = arp_frame(buf, 1, "192.0.2.1", "192.0.2.10");
	CHECK(arp_run(buf, len) == 0);
	CHECK(q.n == 0);

	/* An address seen in use by the guest counts as its own */
	setup();
	nc.v4.addr_seen = ip4("192.0.2.20");
	len = arp_frame(buf, 1, "192.0.2.10", "192.0.2.20");
	CHECK(arp_run(buf, len) == 0);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_ARP_BAD] == 0);
}

static void test_gratuitous_and_probe(void)
{
	uint8_t buf[64];
	size_t len;

	setup();
	len = arp_frame(buf, 1, "192.0.2.10", "192.0.2.10");
	CHECK(arp_run(buf, len) == 0);
	CHECK(q.n == 0);

	/* Announcement of some other address: still not answered */
	len = arp_frame(buf, 1, "192.0.2.30", "192.0.2.30");
	CHECK(arp_run(buf, len) == 0);
	CHECK(q.n == 0);

	/* RFC 5227 probe for the guest's address */
	len = arp_frame(buf, 1, "0.0.0.0", "192.0.2.10");
	CHECK(arp_run(buf, len) == 0);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_ARP_BAD] == 0);
}

static void test_reply_ignored(void)
{
	uint8_t buf[64];
	size_t len;

	setup();
	len = arp_frame(buf, 2, "192.0.2.10", "192.0.2.1");
	CHECK(arp_run(buf, len) == 0);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_ARP_BAD] == 0);
}

static void test_v4_disabled(void)
{
	uint8_t buf[64];
	size_t len;

	setup();
	nc.v4.enabled = false;
	len = arp_frame(buf, 1, "192.0.2.10", "192.0.2.1");
	CHECK(arp_run(buf, len) == 0);
	CHECK(q.n == 0);
}

static void test_malformed(void)
{
	/* Byte of the ARP packet to change, and the value to put there */
	static const struct { size_t off; uint8_t val; } bad[] = {
		{ 1, 6 },	/* htype 6 (IEEE 802) */
		{ 2, 0x86 },	/* ptype 0x86dd */
		{ 4, 8 },	/* hlen */
		{ 5, 16 },	/* plen */
	};
	uint8_t buf[64];
	size_t len, i;

	setup();
	len = arp_frame(buf, 1, "192.0.2.10", "192.0.2.1");
	CHECK(arp_run(buf, len - 1) == -1);
	CHECK(drop_counters[DROP_ARP_BAD] == 1);
	CHECK(arp_run(buf, ETH_HDR_LEN) == -1);
	CHECK(drop_counters[DROP_ARP_BAD] == 2);
	CHECK(q.n == 0);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		setup();
		len = arp_frame(buf, 1, "192.0.2.10", "192.0.2.1");
		buf[ETH_HDR_LEN + bad[i].off] = bad[i].val;
		CHECK(arp_run(buf, len) == -1);
		CHECK(drop_counters[DROP_ARP_BAD] == 1);
		CHECK(q.n == 0);
	}
}

int main(void)
{
	UNIT_PLAN(7);
	UNIT_RUN(test_request_gateway);
	UNIT_RUN(test_request_any_address);
	UNIT_RUN(test_request_guest_addr);
	UNIT_RUN(test_gratuitous_and_probe);
	UNIT_RUN(test_reply_ignored);
	UNIT_RUN(test_v4_disabled);
	UNIT_RUN(test_malformed);
	free(q.arena);
	free(q.out);
	UNIT_EXIT();
}
