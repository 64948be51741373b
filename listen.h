/* listen.h - forwarding listeners: the host's (-t) and the namespace's
 * (-T) listening sockets, static and "auto"
 */
#ifndef LISTEN_H
#define LISTEN_H

#include "ctx.h"

int listen_init(struct ctx *c, const struct fwd_ports *tcp_in,
		const struct fwd_ports *tcp_out, int ns_tcp4, int ns_tcp6);
void listen_timer(struct ctx *c);

#endif /* LISTEN_H */
