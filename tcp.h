/* tcp.h - TCP translation between the guest's segments and host sockets */
#ifndef TCP_H
#define TCP_H

#include "ctx.h"
#include "epoll_ref.h"

#define TCP_DRAIN_MS	10000	/* relaying after the command ended, at most */

/* What a listener's epoll reference carries in its flow field */
#define TCP_LISTEN_NS	(1U << 16)	/* listener in the namespace (-T) */
#define TCP_LISTEN_V6	(1U << 17)

int tcp_init(struct ctx *c, unsigned int flow_max);
bool tcp_peek_offset_supported(void);
void tcp_tap_input(struct ctx *c, const struct frame_in *f, unsigned int n);
void tcp_sock_handler(struct ctx *c, union epoll_ref ref, uint32_t events);
void tcp_listen_handler(struct ctx *c, union epoll_ref ref);
int tcp_listen(struct ctx *c, int af, const union inany_addr *addr,
	       const char *ifname, uint16_t port, uint16_t dport, bool ns);
void tcp_flow_timer(struct ctx *c, int idx);
void tcp_close_all(struct ctx *c);
void tcp_front_resume(struct ctx *c);
bool tcp_front_waiting(void);
unsigned int tcp_draining(void);
void tcp_end(struct ctx *c);

#endif /* TCP_H */
