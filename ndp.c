/* ndp.c - IPv6 neighbour discovery responder (RFC 4861): Neighbour and
 * Router Advertisements toward the guest
 *
 * Theory of operation
 * We are the guest's only neighbour and its router. Every NDP message from
 * the guest is validated as RFC 4861 asks (hop limit 255, code 0, ICMPv6
 * checksum, minimum length, options of non-zero length inside the
 * message) and then:
 * - a Neighbour Solicitation is answered with our MAC for any target but
 *   the guest's own addresses, so everything the guest sends, on-link or
 *   not, comes to us. Duplicate Address Detection probes (source ::) are
 *   never answered: an answer would make the guest's address fail DAD.
 * - a Router Solicitation is answered at once with a Router Advertisement
 *   to all nodes (ff02::1). The multicast answer is the one RFC 4861 6.2.6
 *   allows whatever the solicitor's source (it may be ::), and it is the
 *   same frame the unsolicited schedule sends. The link has one host and
 *   each RA answers one RS, so there is nothing to amplify and no delay or
 *   rate limit is applied.
 * - advertisements and redirects from the guest are ignored.
 *
 * RAs come from our link-local address, which conf.c makes the gateway
 * when that is link-local (the host's router): the guest's default route
 * is then the host's. The RA carries our MAC, the MTU, the guest's prefix
 * for SLAAC and, as DHCP would, the DNS servers (RDNSS) and search list
 * (DNSSL, RFC 8106), all inside the IPv6 minimum MTU so that any guest can
 * receive it.
 *
 * Unsolicited RAs: ndp_timer() runs when ndp_next_ms() says. The first RA
 * goes out on its first run after start (or after ndp_reset(), when a VM guest
 * reconnects), the next MAX_INITIAL_RTR_ADVERTISEMENTS - 1 at
 * MAX_INITIAL_RTR_ADVERT_INTERVAL, then one every 200 to 600 s, chosen at
 * random (RFC 4861 6.2.4). The schedule is static state: one per process.
 */
#include "checksum.h"
#include "dnsname.h"
#include "fwd.h"
#include "log.h"
#include "ndp.h"

#define NDP_RS		133	/* Router Solicitation */
#define NDP_RA		134	/* Router Advertisement */
#define NDP_NS		135	/* Neighbour Solicitation */
#define NDP_NA		136	/* Neighbour Advertisement */
#define NDP_REDIRECT	137

#define NDP_HOP_LIMIT	255

/* Option types */
#define NDP_OPT_SLLA	1	/* source link-layer address */
#define NDP_OPT_TLLA	2	/* target link-layer address */
#define NDP_OPT_PREFIX	3
#define NDP_OPT_MTU	5
#define NDP_OPT_RDNSS	25	/* RFC 8106 */
#define NDP_OPT_DNSSL	31	/* RFC 8106 */

#define NDP_NA_LEN	32	/* header, target, TLLA option */
#define NDP_NA_ROUTER	0x80
#define NDP_NA_SOLICIT	0x40
#define NDP_NA_OVERRIDE	0x20

#define NDP_RA_HDR_LEN	16
#define NDP_RA_MAX	(1280 - IP6_HDR_LEN)	/* IPv6 minimum MTU */
#define NDP_RA_MANAGED	0x80
#define NDP_RA_OTHER	0x40
#define NDP_RA_HOPS	64
#define NDP_RA_LIFETIME	9000	/* s: MaxRtrAdvInterval * 3, at most */
#define NDP_PIO_ONLINK	0x80
#define NDP_PIO_AUTO	0x40
#define NDP_INFINITE	0xffffffff
#define NDP_OPT_MAX	(255 * 8)	/* longest option */
#define IP6_MIN_MTU	1280

/* RFC 4861 10: router constants, in ms */
#define MAX_INITIAL_RTR_ADVERTISEMENTS	3
#define MAX_INITIAL_RTR_ADVERT_INTERVAL	16000
#define NDP_RA_MIN_INTERVAL		200000
#define NDP_RA_MAX_INTERVAL		600000

/* Minimum length of each message (RFC 4861 4.1 to 4.5), from NDP_RS on */
static const size_t ndp_min_len[] = { 8, 16, 24, 24, 40 };

static const uint8_t ndp_mac_all_nodes[MAC_LEN] = {
	0x33, 0x33, 0x00, 0x00, 0x00, 0x01
};
static const struct in6_addr ndp_all_nodes = {
	.s6_addr = { 0xff, 0x02, [15] = 0x01 }
};

/**
 * struct ndp_ra_sched - Schedule of unsolicited Router Advertisements
 * @started:	Schedule running (first RA sent)
 * @sent:	Unsolicited RAs sent since start or reset
 * @next_ms:	When the next one is due
 * @rand:	Pseudo-random state for the interval (xorshift32)
 */
static struct ndp_ra_sched {
	bool started;
	unsigned int sent;
	uint64_t next_ms;
	uint32_t rand;
} ndp_sched;

/**
 * ndp_opts_valid() - Check the options of a message
 * @p:		First option
 * @len:	Bytes from @p to the end of the message
 * @slla:	Set if a source link-layer address option is present
 *
 * Return: true if every option has a non-zero length and ends inside the
 *	   message
 */
static bool ndp_opts_valid(const uint8_t *p, size_t len, bool *slla)
{
	size_t off = 0;

	*slla = false;
	while (off < len) {
		size_t olen;

		if (len - off < 2 || !p[off + 1])
			return false;
		olen = (size_t)p[off + 1] * 8;
		if (olen > len - off)
			return false;
		if (p[off] == NDP_OPT_SLLA)
			*slla = true;
		off += olen;
	}
	return true;
}

/**
 * ndp_valid() - Validate an NDP message as RFC 4861 (6.1, 7.1) asks
 * @f:		Frame, with @f->l4 at the ICMPv6 message
 * @type:	Message type, NDP_RS to NDP_REDIRECT
 *
 * Return: true if the message can be processed
 */
static bool ndp_valid(const struct frame_in *f, uint8_t type)
{
	size_t min = ndp_min_len[type - NDP_RS];
	bool unspec = IN6_IS_ADDR_UNSPECIFIED(&f->src.a6);
	uint32_t sum;
	bool slla;

	if (f->ttl != NDP_HOP_LIMIT || f->l4[1] || f->l4_len < min ||
	    IN6_IS_ADDR_MULTICAST(&f->src.a6))
		return false;
	sum = csum_pseudo6(&f->src.a6, &f->dst.a6, IPPROTO_ICMPV6,
			   (uint32_t)f->l4_len);
	if (!f->csum_partial && csum(f->l4, f->l4_len, sum))
		return false;
	if (!ndp_opts_valid(f->l4 + min, f->l4_len - min, &slla))
		return false;

	switch (type) {
	case NDP_NS:
	case NDP_NA:
		/* Target at offset 8: never a multicast address */
		if (f->l4[8] == 0xff)
			return false;
		break;
	}
	/* No link-layer address may come from the unspecified address */
	return !(unspec && slla && (type == NDP_RS || type == NDP_NS));
}

/**
 * ndp_na() - Queue a Neighbour Advertisement answering a solicitation
 * @c:		Execution context
 * @f:		Frame holding the solicitation
 * @target:	Address solicited
 */
static void ndp_na(struct ctx *c, const struct frame_in *f,
		   const struct in6_addr *target)
{
	struct frame_ip_hdr h = {
		.dst_mac = f->src_mac,
		.dst = f->src,
		.proto = IPPROTO_ICMPV6,
		.ttl = NDP_HOP_LIMIT,
	};
	const struct net6 *n6 = &c->net->v6;
	uint8_t *p;

	inany_from_v6(&h.src, target);
	p = frame_ip_begin(c->q, &h, NDP_NA_LEN);
	if (!p)
		return;
	memset(p, 0, NDP_NA_LEN);
	p[0] = NDP_NA;
	p[4] = NDP_NA_SOLICIT | NDP_NA_OVERRIDE;
	if (IN6_ARE_ADDR_EQUAL(target, &n6->our_ll) ||
	    IN6_ARE_ADDR_EQUAL(target, &n6->gw))
		p[4] |= NDP_NA_ROUTER;
	memcpy(p + 8, target, sizeof(*target));
	p[24] = NDP_OPT_TLLA;
	p[25] = 1;
	memcpy(p + 26, c->net->our_mac, MAC_LEN);
	frame_ip_end(c->q, NDP_NA_LEN);
}

/**
 * ndp_ns() - Answer a Neighbour Solicitation unless it is for the guest
 * @c:		Execution context
 * @f:		Frame holding the solicitation (validated)
 */
static void ndp_ns(struct ctx *c, const struct frame_in *f)
{
	union inany_addr target;

	/* Duplicate Address Detection: the address is the guest's to take */
	if (IN6_IS_ADDR_UNSPECIFIED(&f->src.a6))
		return;
	memcpy(&target.a6, f->l4 + 8, sizeof(target.a6));
	if (IN6_IS_ADDR_UNSPECIFIED(&target.a6) ||
	    inany_equal(&target, &f->src) ||
	    fwd_is_guest_addr(c->net, &target))
		return;
	ndp_na(c, f, &target.a6);
}

/**
 * ndp_opt_prefix() - Write the Prefix Information option
 * @c:		Execution context
 * @p:		Where to write, 32 bytes
 *
 * Return: bytes written, 0 if the guest has no address to take a prefix
 *	   from
 */
static size_t ndp_opt_prefix(const struct ctx *c, uint8_t *p)
{
	const struct net6 *n6 = &c->net->v6;
	int plen = n6->prefix_len ? n6->prefix_len : 64;
	int i;

	if (IN6_IS_ADDR_UNSPECIFIED(&n6->addr))
		return 0;
	plen = MIN(MAX(plen, 1), 128);
	memset(p, 0, 32);
	p[0] = NDP_OPT_PREFIX;
	p[1] = 4;
	p[2] = (uint8_t)plen;
	p[3] = NDP_PIO_ONLINK | NDP_PIO_AUTO;
	wr32(p + 4, NDP_INFINITE);		/* valid lifetime */
	wr32(p + 8, NDP_INFINITE);		/* preferred lifetime */
	memcpy(p + 16, &n6->addr, 16);
	for (i = plen; i < 128; i++)
		p[16 + i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	return 32;
}

/**
 * ndp_opt_rdnss() - Write the Recursive DNS Server option (RFC 8106 5.1)
 * @c:		Execution context
 * @p:		Where to write, 8 + 16 * DNS_MAX bytes
 *
 * Return: bytes written, 0 if there is no server to announce
 */
static size_t ndp_opt_rdnss(const struct ctx *c, uint8_t *p)
{
	const struct net6 *n6 = &c->net->v6;
	size_t len = 8;
	int i;

	if (!c->net->dhcp_dns)
		return 0;
	for (i = 0; i < MIN(n6->dns_n, DNS_MAX); i++) {
		if (IN6_IS_ADDR_UNSPECIFIED(&n6->dns[i]))
			continue;
		memcpy(p + len, &n6->dns[i], 16);
		len += 16;
	}
	if (len == 8)
		return 0;
	p[0] = NDP_OPT_RDNSS;
	p[1] = (uint8_t)(len / 8);
	wr16(p + 2, 0);
	wr32(p + 4, NDP_INFINITE);
	return len;
}

/**
 * ndp_opt_dnssl() - Write the DNS Search List option (RFC 8106 5.2)
 * @c:		Execution context
 * @p:		Where to write
 * @room:	Bytes available at @p
 *
 * Names that are invalid or do not fit are left out.
 *
 * Return: bytes written, a multiple of 8, 0 if no name is announced
 */
static size_t ndp_opt_dnssl(const struct ctx *c, uint8_t *p, size_t room)
{
	size_t len = 8, end;
	int i;

	room = MIN(room, NDP_OPT_MAX) & ~(size_t)7;
	if (!c->net->dhcp_search || room <= len)
		return 0;
	for (i = 0; i < MIN(c->net->search_n, SEARCH_MAX); i++) {
		int n = dns_name_encode(c->net->search[i], p + len,
					room - len);

		/* The root name (one zero byte) would read as padding */
		if (n > 1)
			len += (size_t)n;
	}
	if (len == 8)
		return 0;
	end = (len + 7) & ~(size_t)7;
	memset(p + len, 0, end - len);
	p[0] = NDP_OPT_DNSSL;
	p[1] = (uint8_t)(end / 8);
	wr16(p + 2, 0);
	wr32(p + 4, NDP_INFINITE);
	return end;
}

/**
 * ndp_ra_build() - Write a Router Advertisement
 * @c:		Execution context
 * @p:		Where to write, NDP_RA_MAX bytes
 *
 * Return: length of the message
 */
static size_t ndp_ra_build(const struct ctx *c, uint8_t *p)
{
	size_t len = NDP_RA_HDR_LEN;

	memset(p, 0, NDP_RA_HDR_LEN);
	p[0] = NDP_RA;
	p[4] = NDP_RA_HOPS;
	if (!c->net->no_dhcpv6)
		p[5] = NDP_RA_MANAGED | NDP_RA_OTHER;
	wr16(p + 6, NDP_RA_LIFETIME);
	/* Reachable time and retransmission timer: 0, unspecified */

	p[len] = NDP_OPT_SLLA;
	p[len + 1] = 1;
	memcpy(p + len + 2, c->net->our_mac, MAC_LEN);
	len += 8;

	if (c->net->mtu >= IP6_MIN_MTU) {
		p[len] = NDP_OPT_MTU;
		p[len + 1] = 1;
		wr16(p + len + 2, 0);
		wr32(p + len + 4, (uint32_t)c->net->mtu);
		len += 8;
	}
	len += ndp_opt_prefix(c, p + len);
	len += ndp_opt_rdnss(c, p + len);
	len += ndp_opt_dnssl(c, p + len, NDP_RA_MAX - len);
	return len;
}

/**
 * ndp_ra_send() - Queue a Router Advertisement to all nodes
 * @c:		Execution context
 */
static void ndp_ra_send(struct ctx *c)
{
	struct frame_ip_hdr h = {
		.dst_mac = ndp_mac_all_nodes,
		.proto = IPPROTO_ICMPV6,
		.ttl = NDP_HOP_LIMIT,
	};
	uint8_t *p;

	inany_from_v6(&h.src, &c->net->v6.our_ll);
	inany_from_v6(&h.dst, &ndp_all_nodes);
	p = frame_ip_begin(c->q, &h, NDP_RA_MAX);
	if (!p)
		return;
	frame_ip_end(c->q, ndp_ra_build(c, p));
}

/**
 * ndp_ra_enabled() - Do we send Router Advertisements at all?
 * @c:		Execution context
 *
 * Return: true if IPv6 is on and neither --no-ndp nor --no-ra was given
 */
static bool ndp_ra_enabled(const struct ctx *c)
{
	return c->net->v6.enabled && !c->net->no_ndp && !c->net->no_ra;
}

/**
 * ndp_input() - Handle an ICMPv6 message from the guest if it is NDP
 * @c:		Execution context
 * @f:		IPv6 frame, with @f->l4 at the ICMPv6 message (>= 4 bytes)
 *
 * Return: 1 if NDP (answered or ignored), 0 if not NDP, -1 if malformed
 *	   NDP (drop counted)
 */
int ndp_input(struct ctx *c, const struct frame_in *f)
{
	uint8_t type;

	if (f->af != AF_INET6 || !f->l4 || f->l4_len < 4)
		return 0;
	type = f->l4[0];
	if (type < NDP_RS || type > NDP_REDIRECT)
		return 0;
	if (!ndp_valid(f, type)) {
		drop(DROP_NDP_BAD);
		return -1;
	}
	if (!c->net->v6.enabled || c->net->no_ndp)
		return 1;

	if (type == NDP_NS)
		ndp_ns(c, f);
	else if (type == NDP_RS && ndp_ra_enabled(c))
		ndp_ra_send(c);
	return 1;
}

/**
 * ndp_rand() - Next pseudo-random number for the RA schedule
 *
 * Intervals only need to differ between routers (RFC 4861 6.2.4), not to
 * be unpredictable, so a xorshift generator does and needs no system call.
 *
 * Return: 32 pseudo-random bits
 */
static uint32_t ndp_rand(void)
{
	uint32_t x = ndp_sched.rand;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	ndp_sched.rand = x;
	return x;
}

/**
 * ndp_ra_interval() - Time until the next unsolicited RA
 *
 * Return: interval in ms, after the RA counted in ndp_sched.sent
 */
static uint64_t ndp_ra_interval(void)
{
	uint32_t span = NDP_RA_MAX_INTERVAL - NDP_RA_MIN_INTERVAL + 1;

	if (ndp_sched.sent < MAX_INITIAL_RTR_ADVERTISEMENTS)
		return MAX_INITIAL_RTR_ADVERT_INTERVAL;
	return NDP_RA_MIN_INTERVAL + ndp_rand() % span;
}

/**
 * ndp_timer() - Send unsolicited Router Advertisements when due
 * @c:		Execution context, @c->now_ms the current time
 */
void ndp_timer(struct ctx *c)
{
	int i;

	if (!ndp_ra_enabled(c))
		return;
	if (!ndp_sched.started) {
		ndp_sched.started = true;
		ndp_sched.sent = 0;
		ndp_sched.next_ms = c->now_ms;
		ndp_sched.rand = (uint32_t)c->now_ms ^
				 (uint32_t)(c->now_ms >> 32);
		for (i = 0; i < MAC_LEN; i++)
			ndp_sched.rand = ndp_sched.rand * 31 +
					 c->net->our_mac[i];
		if (!ndp_sched.rand)
			ndp_sched.rand = 1;
	}
	if (c->now_ms < ndp_sched.next_ms)
		return;

	ndp_ra_send(c);
	ndp_sched.sent++;
	ndp_sched.next_ms = c->now_ms + ndp_ra_interval();
}

/**
 * ndp_next_ms() - When ndp_timer() has work next
 * @c:		Execution context
 *
 * Return: time in ms (0: at once), UINT64_MAX if never
 */
uint64_t ndp_next_ms(const struct ctx *c)
{
	if (!ndp_ra_enabled(c))
		return UINT64_MAX;
	return ndp_sched.started ? ndp_sched.next_ms : 0;
}

/**
 * ndp_reset() - Restart the unsolicited RA schedule, e.g. when a new guest
 *		 connects: the next ndp_timer() run sends an RA at once
 */
void ndp_reset(void)
{
	ndp_sched.started = false;
}
