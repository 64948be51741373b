/* arp.c - ARP responder (RFC 826): answers the guest's requests with our
 * MAC
 *
 * Every host the guest can reach is behind us, so we answer a request for
 * any IPv4 address except the guest's own: the guest then sends all its
 * traffic to our MAC, whatever it thinks is on-link. We never answer for
 * the guest's address, nor announcements (target == sender), nor probes
 * (sender 0.0.0.0, RFC 5227) for it: the guest must not see its address
 * as taken. Replies and anything but requests are ignored; we keep no
 * cache, as every frame toward the guest goes to the MAC the tap side
 * learnt from it.
 */
#include "arp.h"
#include "fwd.h"
#include "log.h"

#define ARP_LEN		28	/* Ethernet/IPv4 ARP packet */
#define ARP_HTYPE_ETH	1
#define ARP_OP_REQUEST	1
#define ARP_OP_REPLY	2

/* Field offsets in an Ethernet/IPv4 ARP packet */
#define ARP_HTYPE	0
#define ARP_PTYPE	2
#define ARP_HLEN	4
#define ARP_PLEN	5
#define ARP_OP		6
#define ARP_SHA		8
#define ARP_SPA		14
#define ARP_THA		18
#define ARP_TPA		24

/**
 * arp_valid() - Is this an Ethernet/IPv4 ARP packet we can read?
 * @p:		ARP packet
 * @len:	Bytes available from @p
 *
 * Return: true if long enough and of the Ethernet/IPv4 kind
 */
static bool arp_valid(const uint8_t *p, size_t len)
{
	return len >= ARP_LEN && rd16(p + ARP_HTYPE) == ARP_HTYPE_ETH &&
	       rd16(p + ARP_PTYPE) == ETHTYPE_IP4 && p[ARP_HLEN] == MAC_LEN &&
	       p[ARP_PLEN] == 4;
}

/**
 * arp_should_answer() - Decide whether to answer a request
 * @c:		Execution context
 * @spa:	Sender IPv4 address
 * @tpa:	Target IPv4 address
 *
 * Return: true unless the target is the guest's own address, the request
 *	   is an announcement, or the target is 0.0.0.0
 */
static bool arp_should_answer(const struct ctx *c, struct in_addr spa,
			      struct in_addr tpa)
{
	union inany_addr t;

	if (!tpa.s_addr || tpa.s_addr == spa.s_addr)
		return false;
	if (tpa.s_addr == c->net->v4.addr.s_addr)
		return false;
	inany_from_v4(&t, tpa);
	/* A probe (sender 0.0.0.0) for the guest's address lands here too */
	return !fwd_is_guest_addr(c->net, &t);
}

/**
 * arp_reply() - Queue a reply to a request
 * @c:		Execution context
 * @f:		Frame holding the request
 * @req:	Request (validated)
 */
static void arp_reply(struct ctx *c, const struct frame_in *f,
		      const uint8_t *req)
{
	uint8_t *p;

	/* Ethernet to whoever sent the frame, ARP to the sender it names */
	p = frame_eth_begin(c->q, f->src_mac, ETHTYPE_ARP, ARP_LEN);
	if (!p)
		return;
	wr16(p + ARP_HTYPE, ARP_HTYPE_ETH);
	wr16(p + ARP_PTYPE, ETHTYPE_IP4);
	p[ARP_HLEN] = MAC_LEN;
	p[ARP_PLEN] = 4;
	wr16(p + ARP_OP, ARP_OP_REPLY);
	memcpy(p + ARP_SHA, c->net->our_mac, MAC_LEN);
	memcpy(p + ARP_SPA, req + ARP_TPA, 4);
	memcpy(p + ARP_THA, req + ARP_SHA, MAC_LEN);
	memcpy(p + ARP_TPA, req + ARP_SPA, 4);
	frame_eth_end(c->q, ARP_LEN);
}

/**
 * arp_input() - Handle an ARP packet from the guest
 * @c:		Execution context
 * @f:		Frame, with @f->l3 at the ARP packet (not validated yet)
 *
 * Return: 0 if answered or ignored, -1 if malformed (drop counted)
 */
int arp_input(struct ctx *c, const struct frame_in *f)
{
	struct in_addr spa, tpa;
	const uint8_t *p = f->l3;

	if (!p || !arp_valid(p, f->l3_len)) {
		drop(DROP_ARP_BAD);
		return -1;
	}
	if (!c->net->v4.enabled || rd16(p + ARP_OP) != ARP_OP_REQUEST)
		return 0;

	memcpy(&spa, p + ARP_SPA, 4);
	memcpy(&tpa, p + ARP_TPA, 4);
	if (arp_should_answer(c, spa, tpa))
		arp_reply(c, f, p);
	return 0;
}
