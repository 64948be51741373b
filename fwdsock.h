/* fwdsock.h - forwarding sockets shared by TCP and UDP: bound on the host
 * or inside the namespace, registered with epoll
 */
#ifndef FWDSOCK_H
#define FWDSOCK_H

#include "ctx.h"
#include "epoll_ref.h"

int fwdsock_open(struct ctx *c, int af, int type, int proto,
		 const union inany_addr *addr, const char *ifname,
		 uint16_t port, bool ns, union epoll_ref ref);

int fwdsock_bind_out(const struct net_conf *nc, int fd,
		     const union inany_addr *dst, uint16_t port);

#endif /* FWDSOCK_H */
