/* udp.h - UDP translation: flows, batched socket I/O */
#ifndef UDP_H
#define UDP_H

#include "ctx.h"
#include "epoll_ref.h"

int udp_init(struct ctx *c, unsigned int flow_max);
void udp_tap_input(struct ctx *c, const struct frame_in *f, unsigned int n);
void udp_sock_handler(struct ctx *c, union epoll_ref ref, uint32_t events);
void udp_listen_handler(struct ctx *c, union epoll_ref ref, uint32_t events);
int udp_listen(struct ctx *c, int af, const union inany_addr *addr,
	       const char *ifname, uint16_t port, uint16_t dport, bool ns);
void udp_timer(struct ctx *c);
uint64_t udp_next_ms(const struct ctx *c);
void udp_close_all(struct ctx *c);
void udp_log(void);
void udp_listen_close(struct ctx *c, int fd);

#endif /* UDP_H */
