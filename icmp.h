/* icmp.h - ICMP and ICMPv6 echo through unprivileged ping sockets */
#ifndef ICMP_H
#define ICMP_H

#include "ctx.h"
#include "epoll_ref.h"

#define ICMP_IDLE_MS	60000	/* an echo id's socket closes when idle */

int icmp_init(unsigned int flow_max);
int icmp_tap_input(struct ctx *c, const struct frame_in *f);
void icmp_sock_input(struct ctx *c, union epoll_ref ref);
void icmp_timer(struct ctx *c);
uint64_t icmp_next_ms(const struct ctx *c);
void icmp_close_all(struct ctx *c);

#endif /* ICMP_H */
