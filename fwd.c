/* fwd.c - address maps between the guest's view and the host's sockets
 *
 * The guest shares the host's addresses, so most destinations are used
 * as they are. Two addresses are special, as in pasta:
 * - the --map-host-loopback address (by default the gateway) stands for
 *   the host itself and is reached through the host's loopback;
 * - the --map-guest-addr address stands for the host's own address on the
 *   template interface, which the guest cannot otherwise reach because it
 *   holds that address itself.
 */
#include "fwd.h"

/**
 * fwd_guest_to_host() - Translate a destination chosen by the guest
 * @nc:		Network configuration
 * @dst:	Destination as the guest addressed it
 * @out:	Destination for the host socket
 *
 * Return: 1 if the address was mapped, 0 if used as it is
 */
int fwd_guest_to_host(const struct net_conf *nc, const union inany_addr *dst,
		      union inany_addr *out)
{
	const struct in_addr *v4 = inany_v4(dst);

	*out = *dst;
	if (v4) {
		if (nc->v4.map_host_lo.s_addr &&
		    v4->s_addr == nc->v4.map_host_lo.s_addr) {
			inany_from_v4(out, (struct in_addr){
				htonl(INADDR_LOOPBACK) });
			return 1;
		}
		if (nc->v4.map_guest_addr.s_addr &&
		    v4->s_addr == nc->v4.map_guest_addr.s_addr) {
			inany_from_v4(out, nc->v4.addr_host);
			return 1;
		}
		return 0;
	}
	if (!IN6_IS_ADDR_UNSPECIFIED(&nc->v6.map_host_lo) &&
	    inany_equal6(dst, &nc->v6.map_host_lo)) {
		inany_from_v6(out, &in6addr_loopback);
		return 1;
	}
	if (!IN6_IS_ADDR_UNSPECIFIED(&nc->v6.map_guest_addr) &&
	    inany_equal6(dst, &nc->v6.map_guest_addr)) {
		inany_from_v6(out, &nc->v6.addr_host);
		return 1;
	}
	return 0;
}

/**
 * fwd_is_guest_addr() - Is this an address the guest holds?
 * @nc:		Network configuration
 * @a:		Address
 *
 * Return: true for the assigned address and the addresses seen in use
 */
bool fwd_is_guest_addr(const struct net_conf *nc, const union inany_addr *a)
{
	const struct in_addr *v4 = inany_v4(a);

	if (v4)
		return v4->s_addr && (v4->s_addr == nc->v4.addr.s_addr ||
				      v4->s_addr == nc->v4.addr_seen.s_addr);
	if (IN6_IS_ADDR_UNSPECIFIED(&a->a6))
		return false;
	return inany_equal6(a, &nc->v6.addr) ||
	       inany_equal6(a, &nc->v6.addr_seen) ||
	       inany_equal6(a, &nc->v6.addr_ll_seen);
}

/**
 * fwd_ll_from_mac() - Link-local address from a MAC (modified EUI-64)
 * @ll:		Output address, fe80::/64 plus the interface identifier
 * @mac:	MAC address
 */
void fwd_ll_from_mac(struct in6_addr *ll, const uint8_t mac[MAC_LEN])
{
	memset(ll, 0, sizeof(*ll));
	ll->s6_addr[0] = 0xfe;
	ll->s6_addr[1] = 0x80;
	ll->s6_addr[8] = mac[0] ^ 0x02;
	ll->s6_addr[9] = mac[1];
	ll->s6_addr[10] = mac[2];
	ll->s6_addr[11] = 0xff;
	ll->s6_addr[12] = 0xfe;
	ll->s6_addr[13] = mac[3];
	ll->s6_addr[14] = mac[4];
	ll->s6_addr[15] = mac[5];
}
