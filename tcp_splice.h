/* tcp_splice.h - loopback-to-loopback TCP connections relayed socket to
 * socket with splice(2), never entering the tap
 *
 * Use: tcp_splice_init() once; tcp_splice_conn_new() for each connection
 * accepted from a loopback peer; tcp_splice_sock_handler() for every
 * EPOLL_TYPE_TCP_SPLICE event; tcp_splice_timer() once tcp_splice_next_ms()
 * is due, tcp_splice_flow_timer() once a flow's deadline is (flow.c);
 * tcp_splice_close_all() when the guest goes away. When the daemon stops:
 * keep relaying while tcp_splice_draining() is not 0, for at most
 * TCP_SPLICE_DRAIN_MS, then tcp_splice_end(). SIGPIPE must be ignored
 * (splice() raises it on EPIPE). c->ns_sockets is asked for batches of
 * (af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP) sockets.
 */
#ifndef TCP_SPLICE_H
#define TCP_SPLICE_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "epoll_ref.h"

#define TCP_SPLICE_POOL		32	/* namespace sockets kept per family */
#define TCP_SPLICE_CONNECT_MS	30000	/* connect() in progress this long:
					 * reset the accepted side */
#define TCP_SPLICE_DRAIN_MS	10000	/* stopping: relay what is in
					 * flight for at most this long */

int tcp_splice_init(unsigned int flow_max);
int tcp_splice_conn_new(struct ctx *c, int accepted, int af, bool to_ns,
			uint16_t dport);
void tcp_splice_sock_handler(struct ctx *c, union epoll_ref ref,
			     uint32_t events);
void tcp_splice_timer(struct ctx *c);
uint64_t tcp_splice_next_ms(const struct ctx *c);
void tcp_splice_flow_timer(struct ctx *c, int idx);
void tcp_splice_close_all(struct ctx *c);
unsigned int tcp_splice_draining(void);
void tcp_splice_end(struct ctx *c);

#endif /* TCP_SPLICE_H */
