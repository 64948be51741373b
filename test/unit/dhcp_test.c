/* test/unit/dhcp_test.c - DHCPv4 server: replies to well-formed requests,
 * addressing, options, and hostile input (no reply, counted, no overread)
 *
 * Requests are built as whole Ethernet frames and go through frame_parse()
 * and dhcp_input(), as from the tap; replies are read back from the output
 * queue. Parser tests copy each message to a heap buffer of its exact size
 * so that AddressSanitizer or valgrind catch any read past its end.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "dhcp.h"
#include "dnsname.h"
#include "frame.h"
#include "log.h"
#include "unit.h"

static const uint8_t guest_mac[MAC_LEN] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
static const uint8_t our_mac[MAC_LEN] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };

static struct net_conf nc;
static struct frame_queue q;
static struct ctx c;

/* A request being built: BOOTP message and its length */
struct req {
	uint8_t m[2048];
	size_t len;
};

/* A reply read back from the queue */
struct reply {
	const uint8_t *eth;
	const uint8_t *ip;
	const uint8_t *udp;
	const uint8_t *msg;
	size_t msg_len;
};

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

static void setup(void)
{
	memset(&nc, 0, sizeof(nc));
	nc.v4.enabled = true;
	nc.v4.addr = ip4("192.0.2.10");
	nc.v4.prefix_len = 24;
	nc.v4.gw = ip4("192.0.2.1");
	nc.v4.dns[0] = ip4("192.0.2.53");
	nc.v4.dns[1] = ip4("198.51.100.53");
	nc.v4.dns_n = 2;
	memcpy(nc.our_mac, our_mac, MAC_LEN);
	nc.mtu = 1500;
	strcpy(nc.search[0], "example.test");
	strcpy(nc.search[1], "corp.example.test");
	nc.search_n = 2;
	nc.dhcp_dns = true;
	nc.dhcp_search = true;

	frame_queue_reset(&q);
	memcpy(q.our_mac, our_mac, MAC_LEN);
	memcpy(q.guest_mac, guest_mac, MAC_LEN);
	c.net = &nc;
	c.q = &q;
}

static void req_init(struct req *r, uint8_t type)
{
	memset(r, 0, sizeof(*r));
	r->m[BOOTP_OP] = BOOTREQUEST;
	r->m[BOOTP_HTYPE] = 1;
	r->m[BOOTP_HLEN] = MAC_LEN;
	wr32(r->m + BOOTP_XID, 0xdeadbeef);
	memcpy(r->m + BOOTP_CHADDR, guest_mac, MAC_LEN);
	wr32(r->m + BOOTP_COOKIE, DHCP_MAGIC);
	r->len = DHCP_OPT_OFF;
	if (type) {
		r->m[r->len++] = DHCP_OPT_MSG_TYPE;
		r->m[r->len++] = 1;
		r->m[r->len++] = type;
	}
}

static void req_opt(struct req *r, uint8_t code, const void *data,
		    uint8_t len)
{
	r->m[r->len++] = code;
	r->m[r->len++] = len;
	if (len)
		memcpy(r->m + r->len, data, len);
	r->len += len;
}

static void req_addr(struct req *r, uint8_t code, const char *a)
{
	struct in_addr v = ip4(a);

	req_opt(r, code, &v, 4);
}

static void req_end(struct req *r)
{
	r->m[r->len++] = DHCP_OPT_END;
}

/* Wrap a message into Ethernet, IPv4, UDP; feed it to dhcp_input() */
static int send_msg(const uint8_t *msg, size_t len)
{
	/* IP header 4-byte aligned, as a tap reader would place it */
	static uint32_t buf[4096 / 4];
	uint8_t *fr = (uint8_t *)buf + 2;
	uint8_t *ip = fr + ETH_HDR_LEN, *udp = ip + IP4_HDR_LEN;
	struct frame_in f;

	memset(buf, 0, sizeof(buf));
	memcpy(fr, MAC_BROADCAST, MAC_LEN);
	memcpy(fr + MAC_LEN, guest_mac, MAC_LEN);
	wr16(fr + 12, ETHTYPE_IP4);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(IP4_HDR_LEN + 8 + len));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	wr32(ip + 16, 0xffffffff);
	wr16(ip + 10, csum(ip, IP4_HDR_LEN, 0));
	wr16(udp, DHCP_CLIENT_PORT);
	wr16(udp + 2, DHCP_SERVER_PORT);
	wr16(udp + 4, (uint16_t)(8 + len));
	memcpy(udp + 8, msg, len);
	if (frame_parse(fr, ETH_HDR_LEN + IP4_HDR_LEN + 8 + len, &f))
		return -100;
	return dhcp_input(&c, &f);
}

static int send_req(const struct req *r)
{
	return send_msg(r->m, r->len);
}

/* Read back queued frame @i; check headers common to every reply */
static int get_reply(unsigned int i, struct reply *rp)
{
	const struct frame_out *o = &q.out[i];
	struct in_addr s, d;
	size_t ulen;

	if (i >= q.n || o->iovcnt != 1 ||
	    o->len < ETH_HDR_LEN + IP4_HDR_LEN + 8 + DHCP_OPT_OFF)
		return -1;
	rp->eth = o->iov[0].iov_base;
	rp->ip = rp->eth + ETH_HDR_LEN;
	rp->udp = rp->ip + IP4_HDR_LEN;
	rp->msg = rp->udp + 8;
	ulen = rd16(rp->udp + 4);
	CHECK(ulen == o->len - ETH_HDR_LEN - IP4_HDR_LEN);
	rp->msg_len = ulen - 8;
	CHECK(rd16(rp->eth + 12) == ETHTYPE_IP4);
	CHECK(mac_equal(rp->eth + MAC_LEN, our_mac));
	CHECK(rp->ip[9] == IPPROTO_UDP);
	CHECK(csum(rp->ip, IP4_HDR_LEN, 0) == 0);
	CHECK(rd16(rp->udp) == DHCP_SERVER_PORT);
	CHECK(rd16(rp->udp + 2) == DHCP_CLIENT_PORT);
	memcpy(&s, rp->ip + 12, 4);
	memcpy(&d, rp->ip + 16, 4);
	CHECK(s.s_addr == nc.v4.gw.s_addr);
	CHECK(csum(rp->udp, ulen, csum_pseudo4(s, d, IPPROTO_UDP,
					       (uint16_t)ulen)) == 0);
	CHECK(rp->msg[BOOTP_OP] == BOOTREPLY);
	CHECK(rd32(rp->msg + BOOTP_XID) == 0xdeadbeef);
	CHECK(!memcmp(rp->msg + BOOTP_CHADDR, guest_mac, MAC_LEN));
	CHECK(rd32(rp->msg + BOOTP_COOKIE) == DHCP_MAGIC);
	CHECK(rp->msg_len >= DHCP_MIN_LEN);
	return 0;
}

/* Find option @code (@nth instance) in a reply; NULL if absent */
static const uint8_t *find_opt_n(const struct reply *rp, uint8_t code,
				 int nth, size_t *len)
{
	size_t off = DHCP_OPT_OFF;

	while (off < rp->msg_len) {
		uint8_t o = rp->msg[off];

		if (o == DHCP_OPT_PAD) {
			off++;
			continue;
		}
		if (o == DHCP_OPT_END || off + 2 > rp->msg_len ||
		    off + 2 + rp->msg[off + 1] > rp->msg_len)
			return NULL;
		if (o == code && !nth--) {
			*len = rp->msg[off + 1];
			return rp->msg + off + 2;
		}
		off += 2 + (size_t)rp->msg[off + 1];
	}
	return NULL;
}

static const uint8_t *find_opt(const struct reply *rp, uint8_t code,
			       size_t *len)
{
	return find_opt_n(rp, code, 0, len);
}

static bool opt_is_addr(const struct reply *rp, uint8_t code, const char *a)
{
	struct in_addr v = ip4(a);
	const uint8_t *p;
	size_t len;

	p = find_opt(rp, code, &len);
	return p && len == 4 && !memcmp(p, &v, 4);
}

static int reply_type(const struct reply *rp)
{
	const uint8_t *p;
	size_t len;

	p = find_opt(rp, DHCP_OPT_MSG_TYPE, &len);
	return p && len == 1 ? p[0] : -1;
}

static bool ip_dst_is(const struct reply *rp, const char *a)
{
	struct in_addr v = ip4(a);

	return !memcmp(rp->ip + 16, &v, 4);
}

static bool yiaddr_is(const struct reply *rp, const char *a)
{
	struct in_addr v = ip4(a);

	return !memcmp(rp->msg + BOOTP_YIADDR, &v, 4);
}

static void test_discover_offer(void)
{
	struct reply rp;
	const uint8_t *p;
	struct req r;
	size_t len;

	setup();
	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 1);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPOFFER);
	CHECK(yiaddr_is(&rp, "192.0.2.10"));
	CHECK(rd32(rp.msg + BOOTP_CIADDR) == 0);
	/* no broadcast flag, no ciaddr: unicast to yiaddr at chaddr */
	CHECK(ip_dst_is(&rp, "192.0.2.10"));
	CHECK(mac_equal(rp.eth, guest_mac));
	CHECK(opt_is_addr(&rp, DHCP_OPT_NETMASK, "255.255.255.0"));
	CHECK(opt_is_addr(&rp, DHCP_OPT_ROUTER, "192.0.2.1"));
	CHECK(opt_is_addr(&rp, DHCP_OPT_SERVER_ID, "192.0.2.1"));
	CHECK(opt_is_addr(&rp, DHCP_OPT_BROADCAST, "192.0.2.255"));
	p = find_opt(&rp, DHCP_OPT_LEASE, &len);
	CHECK(p && len == 4 && rd32(p) == 0xffffffff);
	/* fits the 576-byte datagram every client accepts */
	CHECK(rp.msg_len <= DHCP_DEF_LEN);
}

/* Offset of the End option in a reply, 0 if not found */
static size_t end_off(const struct reply *rp)
{
	size_t off = DHCP_OPT_OFF;

	while (off < rp->msg_len) {
		if (rp->msg[off] == DHCP_OPT_END)
			return off;
		if (rp->msg[off] == DHCP_OPT_PAD)
			off++;
		else if (off + 2 > rp->msg_len)
			return 0;
		else
			off += 2 + (size_t)rp->msg[off + 1];
	}
	return 0;
}

static void test_padding(void)
{
	struct reply rp;
	struct req r;
	size_t i, end;

	setup();
	nc.dhcp_dns = nc.dhcp_search = false;
	nc.mtu = 0;
	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(rp.msg_len == DHCP_MIN_LEN);
	end = end_off(&rp);
	CHECK(end > DHCP_OPT_OFF);
	for (i = end + 1; end && i < rp.msg_len; i++)
		CHECK(rp.msg[i] == 0);
}

static void test_broadcast_flag(void)
{
	struct reply rp;
	struct req r;

	setup();
	req_init(&r, DHCPDISCOVER);
	wr16(r.m + BOOTP_FLAGS, DHCP_FLAG_BROADCAST);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPOFFER);
	CHECK(ip_dst_is(&rp, "255.255.255.255"));
	CHECK(mac_equal(rp.eth, MAC_BROADCAST));
	CHECK(rd16(rp.msg + BOOTP_FLAGS) == DHCP_FLAG_BROADCAST);
}

static void test_request_ack(void)
{
	struct reply rp;
	struct req r;

	setup();
	req_init(&r, DHCPREQUEST);
	req_addr(&r, DHCP_OPT_REQ_ADDR, "192.0.2.10");
	req_addr(&r, DHCP_OPT_SERVER_ID, "192.0.2.1");
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPACK);
	CHECK(yiaddr_is(&rp, "192.0.2.10"));
	CHECK(ip_dst_is(&rp, "192.0.2.10"));
	CHECK(opt_is_addr(&rp, DHCP_OPT_SERVER_ID, "192.0.2.1"));
	CHECK(opt_is_addr(&rp, DHCP_OPT_NETMASK, "255.255.255.0"));
}

static void test_request_renew(void)
{
	struct reply rp;
	struct req r;
	size_t len;

	setup();
	req_init(&r, DHCPREQUEST);
	memcpy(r.m + BOOTP_CIADDR, &nc.v4.addr, 4);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPACK);
	CHECK(ip_dst_is(&rp, "192.0.2.10"));
	CHECK(mac_equal(rp.eth, guest_mac));
	CHECK(!memcmp(rp.msg + BOOTP_CIADDR, &nc.v4.addr, 4));
	CHECK(find_opt(&rp, DHCP_OPT_LEASE, &len));
}

static void test_request_nak(void)
{
	struct in_addr foreign;
	struct reply rp;
	struct req r;
	size_t len;

	setup();
	req_init(&r, DHCPREQUEST);
	req_addr(&r, DHCP_OPT_REQ_ADDR, "192.0.2.99");
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPNAK);
	CHECK(yiaddr_is(&rp, "0.0.0.0"));
	CHECK(ip_dst_is(&rp, "255.255.255.255"));
	CHECK(mac_equal(rp.eth, MAC_BROADCAST));
	CHECK(opt_is_addr(&rp, DHCP_OPT_SERVER_ID, "192.0.2.1"));
	CHECK(!find_opt(&rp, DHCP_OPT_LEASE, &len));
	CHECK(!find_opt(&rp, DHCP_OPT_ROUTER, &len));

	/* renewing a foreign address: NAK, broadcast too */
	setup();
	req_init(&r, DHCPREQUEST);
	foreign = ip4("10.0.0.2");
	memcpy(r.m + BOOTP_CIADDR, &foreign, 4);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPNAK);
	CHECK(ip_dst_is(&rp, "255.255.255.255"));
}

static void test_request_other_server(void)
{
	uint64_t bad = drop_counters[DROP_DHCP_BAD];
	struct req r;

	setup();
	req_init(&r, DHCPREQUEST);
	req_addr(&r, DHCP_OPT_REQ_ADDR, "192.0.2.10");
	req_addr(&r, DHCP_OPT_SERVER_ID, "192.0.2.254");
	req_end(&r);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_DHCP_BAD] == bad);
}

static void test_inform(void)
{
	struct reply rp;
	struct req r;
	size_t len;

	setup();
	req_init(&r, DHCPINFORM);
	memcpy(r.m + BOOTP_CIADDR, &nc.v4.addr, 4);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPACK);
	CHECK(yiaddr_is(&rp, "0.0.0.0"));
	CHECK(!find_opt(&rp, DHCP_OPT_LEASE, &len));
	CHECK(opt_is_addr(&rp, DHCP_OPT_ROUTER, "192.0.2.1"));
	CHECK(find_opt(&rp, DHCP_OPT_DNS, &len));
	CHECK(ip_dst_is(&rp, "192.0.2.10"));
	CHECK(mac_equal(rp.eth, guest_mac));
}

static void test_release_decline(void)
{
	uint64_t bad = drop_counters[DROP_DHCP_BAD];
	struct req r;

	setup();
	req_init(&r, DHCPRELEASE);
	memcpy(r.m + BOOTP_CIADDR, &nc.v4.addr, 4);
	req_addr(&r, DHCP_OPT_SERVER_ID, "192.0.2.1");
	req_end(&r);
	CHECK(send_req(&r) == 0);
	req_init(&r, DHCPDECLINE);
	req_addr(&r, DHCP_OPT_REQ_ADDR, "192.0.2.10");
	req_end(&r);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_DHCP_BAD] == bad);
}

/* Concatenate every option 119 instance and compare with the encoding */
static bool search_is(const struct reply *rp, const char *const *names,
		      int n)
{
	uint8_t want[2048], got[2048];
	size_t wl = 0, gl = 0, len;
	const uint8_t *p;
	int i;

	for (i = 0; i < n; i++)
		wl += (size_t)dns_name_encode(names[i], want + wl,
					      sizeof(want) - wl);
	for (i = 0; (p = find_opt_n(rp, DHCP_OPT_SEARCH, i, &len)); i++) {
		memcpy(got + gl, p, len);
		gl += len;
	}
	return wl == gl && !memcmp(want, got, wl);
}

static void test_dns_search(void)
{
	static const char *const names[] = {
		"example.test", "corp.example.test"
	};
	struct reply rp;
	const uint8_t *p;
	struct req r;
	size_t len;

	setup();
	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	p = find_opt(&rp, DHCP_OPT_DNS, &len);
	CHECK(p && len == 8 && !memcmp(p, nc.v4.dns, 8));
	CHECK(search_is(&rp, names, 2));

	setup();
	nc.dhcp_dns = false;
	nc.dhcp_search = false;
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(!find_opt(&rp, DHCP_OPT_DNS, &len));
	CHECK(!find_opt(&rp, DHCP_OPT_SEARCH, &len));

	/* enabled but nothing to announce */
	setup();
	nc.v4.dns_n = 0;
	nc.search_n = 0;
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(!find_opt(&rp, DHCP_OPT_DNS, &len));
	CHECK(!find_opt(&rp, DHCP_OPT_SEARCH, &len));
}

static void test_search_split(void)
{
	static char names[SEARCH_MAX][DOMAIN_MAX];
	const char *ptr[SEARCH_MAX];
	uint8_t max[2];
	struct reply rp;
	struct req r;
	size_t len;
	int i;

	setup();
	for (i = 0; i < 4; i++) {
		memset(names[i], 'a' + i, 60);
		names[i][60] = '\0';
		strcat(names[i], ".example.test");
		strcpy(nc.search[i], names[i]);
		ptr[i] = names[i];
	}
	nc.search_n = 4;
	req_init(&r, DHCPDISCOVER);
	wr16(max, 1500);
	req_opt(&r, DHCP_OPT_MAX_SIZE, max, 2);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(find_opt_n(&rp, DHCP_OPT_SEARCH, 1, &len));	/* split */
	CHECK(search_is(&rp, ptr, 4));
	CHECK(rp.msg_len <= 1500 - 28);

	/* without option 57: cut at a whole name, within 548 bytes */
	setup();
	for (i = 0; i < 4; i++)
		strcpy(nc.search[i], names[i]);
	nc.search_n = 4;
	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(rp.msg_len <= DHCP_DEF_LEN);
	CHECK(search_is(&rp, ptr, 3));
	CHECK(find_opt(&rp, DHCP_OPT_LEASE, &len));
}

static void test_mtu(void)
{
	static const struct {
		int mtu;
		int want;		/* -1: absent */
	} t[] = {
		{ 1500, 1500 }, { 0, -1 }, { 67, -1 }, { 68, 68 },
		{ 65520, 65520 }, { 70000, 65535 },
	};
	struct reply rp;
	const uint8_t *p;
	struct req r;
	size_t len, i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		setup();
		nc.mtu = t[i].mtu;
		req_init(&r, DHCPDISCOVER);
		req_end(&r);
		CHECK(send_req(&r) == 0);
		if (get_reply(0, &rp))
			continue;
		p = find_opt(&rp, DHCP_OPT_MTU, &len);
		if (t[i].want < 0)
			CHECK(!p);
		else
			CHECK(p && len == 2 && rd16(p) == t[i].want);
	}
}

static void test_hostname_fqdn(void)
{
	uint8_t fq[3] = { 0x01, 0, 0 };	/* S: please update */
	uint8_t want[64];
	struct reply rp;
	const uint8_t *p;
	struct req r;
	size_t len;
	int wl;

	setup();
	strcpy(nc.hostname, "guest");
	strcpy(nc.fqdn, "guest.example.test");
	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	p = find_opt(&rp, DHCP_OPT_HOSTNAME, &len);
	CHECK(p && len == 5 && !memcmp(p, "guest", 5));
	CHECK(!find_opt(&rp, DHCP_OPT_FQDN, &len));	/* not asked */

	setup();
	strcpy(nc.fqdn, "guest.example.test");
	req_init(&r, DHCPREQUEST);
	req_opt(&r, DHCP_OPT_FQDN, fq, 3);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(!find_opt(&rp, DHCP_OPT_HOSTNAME, &len));
	p = find_opt(&rp, DHCP_OPT_FQDN, &len);
	wl = dns_name_encode("guest.example.test", want, sizeof(want));
	CHECK(p && len == 3 + (size_t)wl && !memcmp(p + 3, want, (size_t)wl));
	CHECK(p && p[0] == (0x08 | 0x04 | 0x02));	/* N, E, O */
}

static void test_disabled(void)
{
	struct req r;

	setup();
	nc.no_dhcp = true;
	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 0);

	setup();
	nc.v4.enabled = false;
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 0);
}

static void test_pads_then_valid(void)
{
	struct reply rp;
	struct req r;

	setup();
	req_init(&r, 0);
	memset(r.m + r.len, 0, 1000);
	r.len += 1000;
	r.m[r.len++] = DHCP_OPT_MSG_TYPE;
	r.m[r.len++] = 1;
	r.m[r.len++] = DHCPDISCOVER;
	req_end(&r);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(reply_type(&rp) == DHCPOFFER);

	/* unknown options, also of zero length, are skipped */
	setup();
	req_init(&r, DHCPDISCOVER);
	req_opt(&r, 224, NULL, 0);
	req_opt(&r, DHCP_OPT_PARAM_REQ, "\x01\x03\x06\x0f", 4);
	req_end(&r);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 1);
}

/* Hostile messages: each must be dropped, counted, and not answered */
static void hostile(const struct req *r, const char *what)
{
	uint64_t bad = drop_counters[DROP_DHCP_BAD];
	struct dhcp_msg m;
	uint8_t *exact;
	int ret;

	setup();
	ret = send_req(r);
	if (ret != -1 || q.n || drop_counters[DROP_DHCP_BAD] != bad + 1)
		printf("# hostile input accepted: %s\n", what);
	CHECK(ret == -1);
	CHECK(q.n == 0);
	CHECK(drop_counters[DROP_DHCP_BAD] == bad + 1);

	exact = malloc(r->len ? r->len : 1);
	if (!exact)
		return;
	memcpy(exact, r->m, r->len);
	CHECK(dhcp_parse(exact, r->len, &m) == -1);
	free(exact);
}

static void test_hostile(void)
{
	struct req r;

	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	r.len = 100;
	hostile(&r, "truncated BOOTP header");

	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	r.len = DHCP_OPT_OFF - 1;
	hostile(&r, "truncated cookie");

	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	wr32(r.m + BOOTP_COOKIE, 0);
	hostile(&r, "no magic cookie");

	req_init(&r, DHCPDISCOVER);
	r.m[r.len++] = DHCP_OPT_HOSTNAME;
	r.m[r.len++] = 40;
	memset(r.m + r.len, 'x', 10);
	r.len += 10;
	hostile(&r, "option past the end");

	req_init(&r, DHCPDISCOVER);
	r.m[r.len++] = DHCP_OPT_HOSTNAME;
	hostile(&r, "option length missing");

	req_init(&r, 0);
	req_opt(&r, DHCP_OPT_MSG_TYPE, NULL, 0);
	req_end(&r);
	hostile(&r, "zero-length option 53");

	req_init(&r, 0);
	req_opt(&r, DHCP_OPT_MSG_TYPE, "\x01\x01", 2);
	req_end(&r);
	hostile(&r, "option 53 of length 2");

	req_init(&r, DHCPREQUEST);
	req_opt(&r, DHCP_OPT_REQ_ADDR, "\xc0\x00\x02", 3);
	req_end(&r);
	hostile(&r, "option 50 of length 3");

	req_init(&r, DHCPREQUEST);
	req_opt(&r, DHCP_OPT_SERVER_ID, "\xc0\x00\x02\x01\x00", 5);
	req_end(&r);
	hostile(&r, "option 54 of length 5");

	req_init(&r, DHCPDISCOVER);
	hostile(&r, "no end option");

	req_init(&r, 0);
	memset(r.m + r.len, 0, 1000);
	r.len += 1000;
	hostile(&r, "1000 pad bytes, no end");

	req_init(&r, 0);
	memset(r.m + r.len, 0, 1000);
	r.len += 1000;
	req_end(&r);
	hostile(&r, "1000 pad bytes, no type");

	req_init(&r, 42);
	req_end(&r);
	hostile(&r, "unknown message type");

	req_init(&r, DHCPOFFER);
	req_end(&r);
	hostile(&r, "server message type");

	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	r.m[BOOTP_OP] = BOOTREPLY;
	hostile(&r, "BOOTREPLY");

	req_init(&r, DHCPDISCOVER);
	req_end(&r);
	r.m[BOOTP_HLEN] = 16;
	hostile(&r, "hardware address length 16");
}

/* Every prefix of a valid message, on an exact-size heap buffer */
static void test_truncations(void)
{
	struct dhcp_msg m;
	struct req r;
	size_t n;

	req_init(&r, DHCPREQUEST);
	req_addr(&r, DHCP_OPT_REQ_ADDR, "192.0.2.10");
	req_addr(&r, DHCP_OPT_SERVER_ID, "192.0.2.1");
	req_opt(&r, DHCP_OPT_HOSTNAME, "client", 6);
	req_end(&r);
	for (n = 0; n <= r.len; n++) {
		uint8_t *b = malloc(n ? n : 1);

		if (!b)
			return;
		memcpy(b, r.m, n);
		CHECK(dhcp_parse(b, n, &m) == (n == r.len ? 0 : -1));
		free(b);
	}
	CHECK(m.type == DHCPREQUEST && m.has_req_addr && m.has_server_id);
	CHECK(m.xid == 0xdeadbeef);
}

/* Random mutations: nothing may crash or read out of bounds */
static void test_fuzz(void)
{
	uint8_t out[DHCP_MAX_LEN];
	struct dhcp_msg m;
	struct req r, base;
	unsigned int seed = 1, i, j;

	req_init(&base, DHCPREQUEST);
	req_addr(&base, DHCP_OPT_REQ_ADDR, "192.0.2.10");
	req_opt(&base, DHCP_OPT_MAX_SIZE, "\x05\xdc", 2);
	req_opt(&base, DHCP_OPT_FQDN, "\x01\x00\x00\x01x", 5);
	req_end(&base);
	setup();
	strcpy(nc.fqdn, "guest.example.test");
	strcpy(nc.hostname, "guest");
	for (i = 0; i < 20000; i++) {
		size_t len = base.len;
		uint8_t *b;

		memcpy(&r, &base, sizeof(r));
		for (j = 0; j < 1 + (unsigned int)rand_r(&seed) % 4; j++) {
			size_t at = DHCP_OPT_OFF - 8 +
				    (size_t)rand_r(&seed) % (len - 232);

			r.m[at] = (uint8_t)rand_r(&seed);
		}
		if (rand_r(&seed) % 4 == 0)
			len = (size_t)rand_r(&seed) % (len + 1);
		b = malloc(len ? len : 1);
		if (!b)
			return;
		memcpy(b, r.m, len);
		if (!dhcp_parse(b, len, &m)) {
			int t = dhcp_reply_type(&nc, &m);

			if (t)
				CHECK(dhcp_build(&nc, &m, (uint8_t)t, out,
						 sizeof(out)) >= DHCP_MIN_LEN);
		}
		free(b);
		frame_queue_reset(&q);
		send_msg(r.m, len);
	}
}

int main(void)
{
	log_level = LOG_LVL_ERR;
	if (frame_queue_init(&q, 1 << 20, 64))
		return 1;

	UNIT_PLAN(18);
	UNIT_RUN(test_discover_offer);
	UNIT_RUN(test_padding);
	UNIT_RUN(test_broadcast_flag);
	UNIT_RUN(test_request_ack);
	UNIT_RUN(test_request_renew);
	UNIT_RUN(test_request_nak);
	UNIT_RUN(test_request_other_server);
	UNIT_RUN(test_inform);
	UNIT_RUN(test_release_decline);
	UNIT_RUN(test_dns_search);
	UNIT_RUN(test_search_split);
	UNIT_RUN(test_mtu);
	UNIT_RUN(test_hostname_fqdn);
	UNIT_RUN(test_disabled);
	UNIT_RUN(test_pads_then_valid);
	UNIT_RUN(test_hostile);
	UNIT_RUN(test_truncations);
	UNIT_RUN(test_fuzz);

	free(q.arena);
	free(q.out);
	UNIT_EXIT();
}
