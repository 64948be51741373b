/* test/unit/dhcpv6_test.c - DHCPv6 server: replies to each client message
 * type, options, and hostile input (no reply, counted, no overread)
 *
 * Messages are built as whole Ethernet frames and go through frame_parse()
 * and dhcpv6_input(), as from the tap; replies are read back from the
 * output queue. Parser tests copy each message to a heap buffer of its
 * exact size so that AddressSanitizer or valgrind catch any overread.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "dhcpv6.h"
#include "dnsname.h"
#include "frame.h"
#include "log.h"
#include "unit.h"

static const uint8_t guest_mac[MAC_LEN] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
static const uint8_t our_mac[MAC_LEN] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
static const uint8_t client_duid[] = { 0, 3, 0, 1, 0x52, 0x54, 0, 0x12,
				       0x34, 0x56 };
static const uint8_t our_duid[] = { 0, 3, 0, 1, 0x9a, 0x55, 0x9a, 0x55,
				    0x9a, 0x55 };

static struct net_conf nc;
static struct frame_queue q;
static struct ctx c;

/* A message being built */
struct msg {
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

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	inet_pton(AF_INET6, s, &a);
	return a;
}

static void setup(void)
{
	memset(&nc, 0, sizeof(nc));
	nc.v6.enabled = true;
	nc.v6.addr = ip6("2001:db8::10");
	nc.v6.prefix_len = 64;
	nc.v6.gw = ip6("fe80::1");
	nc.v6.our_ll = ip6("fe80::1");
	nc.v6.dns[0] = ip6("2001:db8::53");
	nc.v6.dns_n = 1;
	memcpy(nc.our_mac, our_mac, MAC_LEN);
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

static void msg_init(struct msg *r, uint8_t type, bool client_id)
{
	memset(r, 0, sizeof(*r));
	r->m[0] = type;
	r->m[1] = 0xab;
	r->m[2] = 0xcd;
	r->m[3] = 0xef;
	r->len = DHCPV6_HDR_LEN;
	if (client_id) {
		wr16(r->m + r->len, DHCPV6_OPT_CLIENTID);
		wr16(r->m + r->len + 2, sizeof(client_duid));
		memcpy(r->m + r->len + 4, client_duid, sizeof(client_duid));
		r->len += 4 + sizeof(client_duid);
	}
}

static void msg_opt(struct msg *r, uint16_t code, const void *data,
		    size_t len)
{
	wr16(r->m + r->len, code);
	wr16(r->m + r->len + 2, (uint16_t)len);
	if (len)
		memcpy(r->m + r->len + 4, data, len);
	r->len += 4 + len;
}

/* IA_NA with @iaid, and an IA Address @addr unless NULL */
static void msg_ia_na(struct msg *r, uint32_t iaid, const char *addr)
{
	uint8_t b[12 + 4 + 24] = { 0 };
	struct in6_addr a;

	wr32(b, iaid);
	if (addr) {
		a = ip6(addr);
		wr16(b + 12, DHCPV6_OPT_IAADDR);
		wr16(b + 14, 24);
		memcpy(b + 16, &a, 16);
	}
	msg_opt(r, DHCPV6_OPT_IA_NA, b, addr ? sizeof(b) : 12);
}

/* Wrap a message into Ethernet, IPv6, UDP; feed it to dhcpv6_input() */
static int send_msg(const uint8_t *msg, size_t len)
{
	/* IP header 4-byte aligned, as a tap reader would place it */
	static uint32_t buf[4096 / 4];
	static const uint8_t mcast[MAC_LEN] = { 0x33, 0x33, 0, 1, 0, 2 };
	uint8_t *fr = (uint8_t *)buf + 2;
	uint8_t *ip = fr + ETH_HDR_LEN, *udp = ip + IP6_HDR_LEN;
	struct in6_addr src, dst = ip6("ff02::1:2");
	struct frame_in f;

	fwd_ll_from_mac(&src, guest_mac);
	memset(buf, 0, sizeof(buf));
	memcpy(fr, mcast, MAC_LEN);
	memcpy(fr + MAC_LEN, guest_mac, MAC_LEN);
	wr16(fr + 12, ETHTYPE_IP6);
	ip[0] = 0x60;
	wr16(ip + 4, (uint16_t)(8 + len));
	ip[6] = IPPROTO_UDP;
	ip[7] = 1;
	memcpy(ip + 8, &src, 16);
	memcpy(ip + 24, &dst, 16);
	wr16(udp, DHCPV6_CLIENT_PORT);
	wr16(udp + 2, DHCPV6_SERVER_PORT);
	wr16(udp + 4, (uint16_t)(8 + len));
	memcpy(udp + 8, msg, len);
	if (frame_parse(fr, ETH_HDR_LEN + IP6_HDR_LEN + 8 + len, &f))
		return -100;
	return dhcpv6_input(&c, &f);
}

static int send_req(const struct msg *r)
{
	return send_msg(r->m, r->len);
}

/* Read back queued frame @i; check what every reply has */
static int get_reply(unsigned int i, struct reply *rp)
{
	const struct frame_out *o = &q.out[i];
	struct in6_addr ll;
	size_t ulen;

	if (i >= q.n || o->iovcnt != 1 ||
	    o->len < ETH_HDR_LEN + IP6_HDR_LEN + 8 + DHCPV6_HDR_LEN)
		return -1;
	rp->eth = o->iov[0].iov_base;
	rp->ip = rp->eth + ETH_HDR_LEN;
	rp->udp = rp->ip + IP6_HDR_LEN;
	rp->msg = rp->udp + 8;
	ulen = rd16(rp->udp + 4);
	CHECK(ulen == o->len - ETH_HDR_LEN - IP6_HDR_LEN);
	CHECK(ulen == rd16(rp->ip + 4));
	rp->msg_len = ulen - 8;
	CHECK(rd16(rp->eth + 12) == ETHTYPE_IP6);
	CHECK(mac_equal(rp->eth, guest_mac));
	CHECK(mac_equal(rp->eth + MAC_LEN, our_mac));
	CHECK(rp->ip[6] == IPPROTO_UDP);
	CHECK(!memcmp(rp->ip + 8, &nc.v6.our_ll, 16));
	fwd_ll_from_mac(&ll, guest_mac);
	CHECK(!memcmp(rp->ip + 24, &ll, 16));
	CHECK(rd16(rp->udp) == DHCPV6_SERVER_PORT);
	CHECK(rd16(rp->udp + 2) == DHCPV6_CLIENT_PORT);
	CHECK(csum(rp->udp, ulen,
		   csum_pseudo6((const struct in6_addr *)(const void *)
				(rp->ip + 8),
				(const struct in6_addr *)(const void *)
				(rp->ip + 24),
				IPPROTO_UDP, (uint32_t)ulen)) == 0);
	CHECK(!memcmp(rp->msg + 1, "\xab\xcd\xef", 3));
	return 0;
}

/* Find option @code (@nth instance) in an option list; NULL if absent */
static const uint8_t *find_in(const uint8_t *b, size_t blen, uint16_t code,
			      int nth, size_t *len)
{
	size_t off = 0;

	while (off + 4 <= blen) {
		uint16_t o = rd16(b + off), l = rd16(b + off + 2);

		if (off + 4 + l > blen)
			return NULL;
		if (o == code && !nth--) {
			*len = l;
			return b + off + 4;
		}
		off += 4 + (size_t)l;
	}
	return NULL;
}

static const uint8_t *find_opt(const struct reply *rp, uint16_t code,
			       size_t *len)
{
	return find_in(rp->msg + 4, rp->msg_len - 4, code, 0, len);
}

/* Check the reply's type, Client and Server Identifiers */
static void check_ids(const struct reply *rp, uint8_t type, bool client_id)
{
	const uint8_t *p;
	size_t len;

	CHECK(rp->msg[0] == type);
	p = find_opt(rp, DHCPV6_OPT_CLIENTID, &len);
	if (client_id)
		CHECK(p && len == sizeof(client_duid) &&
		      !memcmp(p, client_duid, len));
	else
		CHECK(!p);
	p = find_opt(rp, DHCPV6_OPT_SERVERID, &len);
	CHECK(p && len == sizeof(our_duid) && !memcmp(p, our_duid, len));
}

/* Check an IA_NA holding our address with infinite lifetimes */
static void check_ia(const uint8_t *p, size_t len, uint32_t iaid)
{
	const uint8_t *a;
	size_t alen;

	CHECK(p && len >= 12);
	if (!p || len < 12)
		return;
	CHECK(rd32(p) == iaid);
	CHECK(rd32(p + 4) == DHCPV6_INFINITE);
	CHECK(rd32(p + 8) == DHCPV6_INFINITE);
	a = find_in(p + 12, len - 12, DHCPV6_OPT_IAADDR, 0, &alen);
	CHECK(a && alen == 24);
	if (!a || alen != 24)
		return;
	CHECK(!memcmp(a, &nc.v6.addr, 16));
	CHECK(rd32(a + 16) == DHCPV6_INFINITE);
	CHECK(rd32(a + 20) == DHCPV6_INFINITE);
}

static int status_of(const uint8_t *b, size_t blen)
{
	const uint8_t *p;
	size_t len;

	p = find_in(b, blen, DHCPV6_OPT_STATUS, 0, &len);
	return p && len >= 2 ? rd16(p) : -1;
}

static int reply_status(const struct reply *rp)
{
	return status_of(rp->msg + 4, rp->msg_len - 4);
}

static void test_solicit_advertise(void)
{
	struct reply rp;
	const uint8_t *p;
	struct msg r;
	size_t len;

	setup();
	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_opt(&r, DHCPV6_OPT_ELAPSED, "\0\0", 2);
	msg_opt(&r, DHCPV6_OPT_ORO, "\0\x17\0\x18", 4);
	msg_ia_na(&r, 0x01020304, NULL);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 1);
	if (get_reply(0, &rp))
		return;
	check_ids(&rp, DHCPV6_ADVERTISE, true);
	p = find_opt(&rp, DHCPV6_OPT_IA_NA, &len);
	check_ia(p, len, 0x01020304);
	p = find_opt(&rp, DHCPV6_OPT_PREFERENCE, &len);
	CHECK(p && len == 1 && p[0] == 255);
	CHECK(!find_opt(&rp, DHCPV6_OPT_RAPID_COMMIT, &len));
	CHECK(reply_status(&rp) == -1);
}

static void test_solicit_rapid_commit(void)
{
	struct reply rp;
	const uint8_t *p;
	struct msg r;
	size_t len;

	setup();
	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_opt(&r, DHCPV6_OPT_RAPID_COMMIT, NULL, 0);
	msg_ia_na(&r, 7, NULL);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	check_ids(&rp, DHCPV6_REPLY, true);
	p = find_opt(&rp, DHCPV6_OPT_RAPID_COMMIT, &len);
	CHECK(p && len == 0);
	p = find_opt(&rp, DHCPV6_OPT_IA_NA, &len);
	check_ia(p, len, 7);
}

static void test_solicit_no_ia(void)
{
	struct reply rp;
	struct msg r;
	size_t len;

	setup();
	msg_init(&r, DHCPV6_SOLICIT, true);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	check_ids(&rp, DHCPV6_ADVERTISE, true);
	CHECK(reply_status(&rp) == DHCPV6_NO_ADDRS_AVAIL);
	CHECK(!find_opt(&rp, DHCPV6_OPT_IA_NA, &len));
}

static void test_two_ia_na(void)
{
	struct reply rp;
	const uint8_t *p;
	struct msg r;
	size_t len;

	setup();
	msg_init(&r, DHCPV6_REQUEST, true);
	msg_opt(&r, DHCPV6_OPT_SERVERID, our_duid, sizeof(our_duid));
	msg_ia_na(&r, 1, "2001:db8::10");
	msg_ia_na(&r, 2, NULL);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	check_ids(&rp, DHCPV6_REPLY, true);
	p = find_in(rp.msg + 4, rp.msg_len - 4, DHCPV6_OPT_IA_NA, 0, &len);
	check_ia(p, len, 1);
	p = find_in(rp.msg + 4, rp.msg_len - 4, DHCPV6_OPT_IA_NA, 1, &len);
	CHECK(p && len > 12 && rd32(p) == 2);
	if (p && len > 12)
		CHECK(status_of(p + 12, len - 12) == DHCPV6_NO_ADDRS_AVAIL);
}

static void test_request_renew_rebind(void)
{
	static const uint8_t types[] = {
		DHCPV6_REQUEST, DHCPV6_RENEW, DHCPV6_REBIND
	};
	struct reply rp;
	const uint8_t *p;
	struct msg r;
	size_t len, i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		setup();
		msg_init(&r, types[i], true);
		if (types[i] != DHCPV6_REBIND)
			msg_opt(&r, DHCPV6_OPT_SERVERID, our_duid,
				sizeof(our_duid));
		msg_ia_na(&r, 42, "2001:db8::10");
		CHECK(send_req(&r) == 0);
		if (get_reply(0, &rp))
			continue;
		check_ids(&rp, DHCPV6_REPLY, true);
		p = find_opt(&rp, DHCPV6_OPT_IA_NA, &len);
		check_ia(p, len, 42);
	}
}

static void test_other_server(void)
{
	static const uint8_t other[] = { 0, 3, 0, 1, 1, 2, 3, 4, 5, 6 };
	static const uint8_t types[] = {
		DHCPV6_REQUEST, DHCPV6_RENEW, DHCPV6_RELEASE,
		DHCPV6_DECLINE, DHCPV6_INFO_REQUEST
	};
	uint64_t bad = drop_counters[DROP_DHCP_BAD];
	struct msg r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		setup();
		msg_init(&r, types[i], true);
		msg_opt(&r, DHCPV6_OPT_SERVERID, other, sizeof(other));
		if (types[i] != DHCPV6_INFO_REQUEST)
			msg_ia_na(&r, 1, "2001:db8::10");
		CHECK(send_req(&r) == 0);
		CHECK(q.n == 0);
	}
	CHECK(drop_counters[DROP_DHCP_BAD] == bad);
}

static void test_info_request(void)
{
	struct reply rp;
	const uint8_t *p;
	struct msg r;
	size_t len;

	setup();
	msg_init(&r, DHCPV6_INFO_REQUEST, false);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	check_ids(&rp, DHCPV6_REPLY, false);
	CHECK(!find_opt(&rp, DHCPV6_OPT_IA_NA, &len));
	p = find_opt(&rp, DHCPV6_OPT_DNS, &len);
	CHECK(p && len == 16 && !memcmp(p, &nc.v6.dns[0], 16));

	setup();
	msg_init(&r, DHCPV6_INFO_REQUEST, true);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	check_ids(&rp, DHCPV6_REPLY, true);
}

static void test_release_decline(void)
{
	static const uint8_t types[] = { DHCPV6_RELEASE, DHCPV6_DECLINE };
	struct reply rp;
	struct msg r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		setup();
		msg_init(&r, types[i], true);
		msg_opt(&r, DHCPV6_OPT_SERVERID, our_duid, sizeof(our_duid));
		msg_ia_na(&r, 1, "2001:db8::10");
		CHECK(send_req(&r) == 0);
		if (get_reply(0, &rp))
			continue;
		check_ids(&rp, DHCPV6_REPLY, true);
		CHECK(reply_status(&rp) == DHCPV6_SUCCESS);
	}
}

static void test_confirm(void)
{
	struct reply rp;
	struct msg r;

	setup();
	msg_init(&r, DHCPV6_CONFIRM, true);
	msg_ia_na(&r, 1, "2001:db8::10");
	CHECK(send_req(&r) == 0);
	if (!get_reply(0, &rp)) {
		check_ids(&rp, DHCPV6_REPLY, true);
		CHECK(reply_status(&rp) == DHCPV6_SUCCESS);
	}

	setup();
	msg_init(&r, DHCPV6_CONFIRM, true);
	msg_ia_na(&r, 1, "2001:db8:1::10");
	CHECK(send_req(&r) == 0);
	if (!get_reply(0, &rp))
		CHECK(reply_status(&rp) == DHCPV6_NOT_ON_LINK);

	/* no address to confirm: no reply (RFC 8415, 18.3.3) */
	setup();
	msg_init(&r, DHCPV6_CONFIRM, true);
	msg_ia_na(&r, 1, NULL);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 0);
}

static void test_dns_search(void)
{
	uint8_t want[64];
	struct reply rp;
	const uint8_t *p;
	struct msg r;
	size_t len;
	int wl;

	setup();
	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_ia_na(&r, 1, NULL);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	p = find_opt(&rp, DHCPV6_OPT_DNS, &len);
	CHECK(p && len == 16 && !memcmp(p, &nc.v6.dns[0], 16));
	wl = dns_name_encode("example.test", want, sizeof(want));
	wl += dns_name_encode("corp.example.test", want + wl,
			      sizeof(want) - (size_t)wl);
	p = find_opt(&rp, DHCPV6_OPT_DOMAIN_LIST, &len);
	CHECK(p && len == (size_t)wl && !memcmp(p, want, len));

	setup();
	nc.dhcp_dns = false;
	nc.dhcp_search = false;
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(!find_opt(&rp, DHCPV6_OPT_DNS, &len));
	CHECK(!find_opt(&rp, DHCPV6_OPT_DOMAIN_LIST, &len));
	CHECK(find_opt(&rp, DHCPV6_OPT_IA_NA, &len));
}

static void test_fqdn(void)
{
	uint8_t want[64];
	struct reply rp;
	const uint8_t *p;
	struct msg r;
	size_t len;
	int wl;

	setup();
	strcpy(nc.fqdn, "guest.example.test");
	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_ia_na(&r, 1, NULL);
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	CHECK(!find_opt(&rp, DHCPV6_OPT_FQDN, &len));	/* not asked */

	setup();
	strcpy(nc.fqdn, "guest.example.test");
	msg_opt(&r, DHCPV6_OPT_FQDN, "\x01", 1);	/* S, no name */
	CHECK(send_req(&r) == 0);
	if (get_reply(0, &rp))
		return;
	p = find_opt(&rp, DHCPV6_OPT_FQDN, &len);
	wl = dns_name_encode("guest.example.test", want, sizeof(want));
	CHECK(p && len == 1 + (size_t)wl && !memcmp(p + 1, want, len - 1));
	CHECK(p && p[0] == (0x04 | 0x02));		/* N, O */
}

static void test_disabled(void)
{
	struct msg r;

	setup();
	nc.no_dhcpv6 = true;
	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_ia_na(&r, 1, NULL);
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 0);

	setup();
	nc.v6.enabled = false;
	CHECK(send_req(&r) == 0);
	CHECK(q.n == 0);
}

/* Hostile messages: each must be dropped, counted, and not answered */
static void hostile(const struct msg *r, const char *what)
{
	uint64_t bad = drop_counters[DROP_DHCP_BAD];
	struct dhcpv6_msg m;
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
	CHECK(dhcpv6_parse(exact, r->len, &m) == -1);
	free(exact);
}

static void test_hostile(void)
{
	static const uint8_t big[200];
	uint8_t b[64] = { 0 };
	struct msg r;

	msg_init(&r, DHCPV6_SOLICIT, false);
	r.len = 3;
	hostile(&r, "truncated header");

	msg_init(&r, DHCPV6_SOLICIT, false);
	r.len = 0;
	hostile(&r, "empty message");

	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_ia_na(&r, 1, NULL);
	wr16(r.m + r.len - 16 + 2, 200);	/* IA_NA length */
	hostile(&r, "option length past the end");

	msg_init(&r, DHCPV6_SOLICIT, true);
	r.m[r.len++] = 0;
	r.m[r.len++] = 8;
	hostile(&r, "two trailing bytes");

	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_ia_na(&r, 1, "2001:db8::10");
	wr16(r.m + r.len - 24 - 2, 30);		/* IA Address length */
	hostile(&r, "IA_NA with truncated nested option");

	msg_init(&r, DHCPV6_SOLICIT, true);
	wr32(b, 1);
	wr16(b + 12, DHCPV6_OPT_IAADDR);
	msg_opt(&r, DHCPV6_OPT_IA_NA, b, 14);
	hostile(&r, "IA_NA with half a nested option header");

	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_opt(&r, DHCPV6_OPT_IA_NA, b, 11);
	hostile(&r, "IA_NA shorter than 12");

	msg_init(&r, DHCPV6_SOLICIT, true);
	memset(b, 0, sizeof(b));
	wr16(b + 12, DHCPV6_OPT_IAADDR);
	wr16(b + 14, 20);
	msg_opt(&r, DHCPV6_OPT_IA_NA, b, 12 + 4 + 20);
	hostile(&r, "IA Address shorter than 24");

	msg_init(&r, DHCPV6_SOLICIT, true);
	memset(b, 0, sizeof(b));
	wr16(b + 12, DHCPV6_OPT_IAADDR);
	wr16(b + 14, 24 + 4);
	wr16(b + 16 + 24, DHCPV6_OPT_STATUS);
	wr16(b + 16 + 26, 40);
	msg_opt(&r, DHCPV6_OPT_IA_NA, b, 12 + 4 + 24 + 4);
	hostile(&r, "IA Address with truncated nested option");

	msg_init(&r, DHCPV6_SOLICIT, false);
	msg_ia_na(&r, 1, NULL);
	hostile(&r, "Solicit without Client Identifier");

	msg_init(&r, DHCPV6_REQUEST, false);
	msg_opt(&r, DHCPV6_OPT_SERVERID, our_duid, sizeof(our_duid));
	msg_ia_na(&r, 1, NULL);
	hostile(&r, "Request without Client Identifier");

	msg_init(&r, DHCPV6_SOLICIT, false);
	msg_opt(&r, DHCPV6_OPT_CLIENTID, NULL, 0);
	hostile(&r, "empty Client Identifier");

	msg_init(&r, DHCPV6_SOLICIT, false);
	msg_opt(&r, DHCPV6_OPT_CLIENTID, big, 131);
	hostile(&r, "Client Identifier over 130 bytes");

	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_opt(&r, DHCPV6_OPT_SERVERID, our_duid, sizeof(our_duid));
	hostile(&r, "Solicit with Server Identifier");

	msg_init(&r, DHCPV6_INFO_REQUEST, false);
	msg_ia_na(&r, 1, NULL);
	hostile(&r, "Information-request with IA_NA");

	msg_init(&r, DHCPV6_SOLICIT, true);
	msg_opt(&r, DHCPV6_OPT_RAPID_COMMIT, "x", 1);
	hostile(&r, "Rapid Commit with data");

	msg_init(&r, 0, true);
	hostile(&r, "message type 0");

	msg_init(&r, 200, true);
	hostile(&r, "unknown message type");

	msg_init(&r, DHCPV6_ADVERTISE, true);
	hostile(&r, "server message type");

	msg_init(&r, DHCPV6_RELAY_FORW, true);
	hostile(&r, "relayed message");
}

/* Every prefix of a valid message, on an exact-size heap buffer */
static void test_truncations(void)
{
	struct dhcpv6_msg m;
	struct msg r;
	size_t n;

	msg_init(&r, DHCPV6_REQUEST, true);
	msg_opt(&r, DHCPV6_OPT_SERVERID, our_duid, sizeof(our_duid));
	msg_ia_na(&r, 9, "2001:db8::10");
	msg_opt(&r, DHCPV6_OPT_FQDN, "\x00\x01x", 3);
	for (n = 0; n <= r.len; n++) {
		uint8_t *b = malloc(n ? n : 1);
		int want;

		if (!b)
			return;
		memcpy(b, r.m, n);
		/* a cut right after an option leaves a valid message: after
		 * Client Identifier, Server Identifier, IA_NA, FQDN
		 */
		want = (n == 18 || n == 32 || n == 76 || n == 83) ? 0 : -1;
		CHECK(dhcpv6_parse(b, n, &m) == want);
		free(b);
	}
	CHECK(r.len == 83);
	CHECK(!dhcpv6_parse(r.m, r.len, &m));
	CHECK(m.type == DHCPV6_REQUEST && m.ia_n == 1 && m.iaid[0] == 9);
	CHECK(m.has_ia_addr && m.has_fqdn && m.server_id_len == 10);
}

/* Random mutations: nothing may crash or read out of bounds */
static void test_fuzz(void)
{
	uint8_t out[DHCPV6_MAX_LEN];
	struct dhcpv6_msg m;
	struct msg r, base;
	unsigned int seed = 1, i, j;

	msg_init(&base, DHCPV6_SOLICIT, true);
	msg_opt(&base, DHCPV6_OPT_RAPID_COMMIT, NULL, 0);
	msg_ia_na(&base, 9, "2001:db8::10");
	msg_ia_na(&base, 10, NULL);
	msg_opt(&base, DHCPV6_OPT_FQDN, "\x01\x01x\x00", 4);
	setup();
	strcpy(nc.fqdn, "guest.example.test");
	for (i = 0; i < 20000; i++) {
		size_t len = base.len;
		uint8_t *b;

		memcpy(&r, &base, sizeof(r));
		for (j = 0; j < 1 + (unsigned int)rand_r(&seed) % 4; j++)
			r.m[(size_t)rand_r(&seed) % len] =
				(uint8_t)rand_r(&seed);
		if (rand_r(&seed) % 4 == 0)
			len = (size_t)rand_r(&seed) % (len + 1);
		b = malloc(len ? len : 1);
		if (!b)
			return;
		memcpy(b, r.m, len);
		if (!dhcpv6_parse(b, len, &m)) {
			int t = dhcpv6_reply_type(&nc, &m);

			if (t)
				CHECK(dhcpv6_build(&nc, &m, (uint8_t)t, out,
						   sizeof(out)) > 0);
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

	UNIT_PLAN(15);
	UNIT_RUN(test_solicit_advertise);
	UNIT_RUN(test_solicit_rapid_commit);
	UNIT_RUN(test_solicit_no_ia);
	UNIT_RUN(test_two_ia_na);
	UNIT_RUN(test_request_renew_rebind);
	UNIT_RUN(test_other_server);
	UNIT_RUN(test_info_request);
	UNIT_RUN(test_release_decline);
	UNIT_RUN(test_confirm);
	UNIT_RUN(test_dns_search);
	UNIT_RUN(test_fqdn);
	UNIT_RUN(test_disabled);
	UNIT_RUN(test_hostile);
	UNIT_RUN(test_truncations);
	UNIT_RUN(test_fuzz);

	free(q.arena);
	free(q.out);
	UNIT_EXIT();
}
