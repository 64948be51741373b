/* netlink.h - routing netlink: read the host's template interface, and
 * configure links, addresses and routes inside the target namespace
 */
#ifndef NETLINK_H
#define NETLINK_H

#include <stdint.h>

#include "util.h"

int nl_sock(void);
int nl_route_default(int s, int af, unsigned int *ifindex, void *gw);
int nl_route_ifaces(int s, int af, unsigned int *idx, int max);
int nl_addr_first(int s, unsigned int ifindex, int af, void *addr,
		  int *prefix_len);
int nl_link_set(int s, unsigned int ifindex, bool up, int mtu,
		const uint8_t *mac);
int nl_link_txqlen(int s, unsigned int ifindex, uint32_t qlen);
int nl_addr_add(int s, unsigned int ifindex, int af, const void *addr,
		int prefix_len);
int nl_route_add_default(int s, unsigned int ifindex, int af,
			 const void *gw);

#endif /* NETLINK_H */
