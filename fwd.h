/* fwd.h - the guest-facing network configuration and the address maps
 * between what the guest sees and what the host's sockets use
 */
#ifndef FWD_H
#define FWD_H

#include <stdbool.h>
#include <stdint.h>

#include "inany.h"
#include "util.h"

#define DNS_MAX		4	/* resolvers per family */
#define SEARCH_MAX	8	/* search domains */
#define DOMAIN_MAX	254	/* longest domain name, with NUL */

struct net4 {
	bool enabled;
	struct in_addr addr;		/* assigned to the guest */
	int prefix_len;
	struct in_addr gw;		/* gateway as the guest sees it */
	struct in_addr addr_host;	/* host's own address on template */
	struct in_addr map_host_lo;	/* -> host loopback; 0: none */
	struct in_addr map_guest_addr;	/* -> addr_host; 0: none */
	struct in_addr dns[DNS_MAX];	/* announced to the guest */
	int dns_n;
	struct in_addr dns_fwd;		/* --dns-forward; 0: none */
	struct in_addr dns_host;	/* where dns_fwd queries go */
	struct in_addr addr_seen;	/* last source seen from guest */
};

struct net6 {
	bool enabled;
	struct in6_addr addr;		/* assigned to the guest */
	int prefix_len;
	struct in6_addr gw;		/* gateway as the guest sees it */
	struct in6_addr addr_host;
	struct in6_addr our_ll;		/* our link-local: RA, DHCPv6, NA */
	struct in6_addr map_host_lo;	/* -> host loopback; ::: none */
	struct in6_addr map_guest_addr;
	struct in6_addr dns[DNS_MAX];
	int dns_n;
	struct in6_addr dns_fwd;
	struct in6_addr dns_host;
	struct in6_addr addr_seen;	/* last global source from guest */
	struct in6_addr addr_ll_seen;	/* last link-local source */
};

struct net_conf {
	struct net4 v4;
	struct net6 v6;
	uint8_t our_mac[MAC_LEN];	/* -M: our side of the link */
	uint8_t guest_mac[MAC_LEN];	/* learnt from the guest's frames */
	int mtu;			/* 0: do not advertise */
	char search[SEARCH_MAX][DOMAIN_MAX];
	int search_n;
	char hostname[DOMAIN_MAX];	/* -H, DHCP option 12 */
	char fqdn[DOMAIN_MAX];		/* --fqdn, DHCP 81 / DHCPv6 39 */
	bool no_dhcp, no_ndp, no_dhcpv6, no_ra, no_icmp;
	bool no_tcp, no_udp;		/* --no-tcp, --no-udp */
	bool no_splice;			/* --no-splice: loopback via tap */
	bool no_peek_offset;		/* --no-peek-offset */
	bool dhcp_dns;			/* announce DNS via DHCP/NDP/DHCPv6 */
	bool dhcp_search;		/* announce search list */
};

int fwd_guest_to_host(const struct net_conf *nc, const union inany_addr *dst,
		      union inany_addr *out);
bool fwd_is_guest_addr(const struct net_conf *nc, const union inany_addr *a);
void fwd_ll_from_mac(struct in6_addr *ll, const uint8_t mac[MAC_LEN]);

#endif /* FWD_H */
