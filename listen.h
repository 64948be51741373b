/* listen.h - forwarding sockets: the host's (-t, -u) and the namespace's
 * (-T, -U) TCP listeners and bound UDP sockets, static and "auto"
 */
#ifndef LISTEN_H
#define LISTEN_H

#include "ctx.h"

int listen_init(struct ctx *c, const struct fwd_ports *const fp[4],
		const int ns_proc[4]);
void listen_timer(struct ctx *c);
bool listen_auto(const struct ctx *c);
void listen_host_claim(struct ctx *c, bool udp, uint16_t port, bool claim);
bool listen_proc_needed(const struct ctx *c, const struct fwd_ports *fp,
			bool udp);

#endif /* LISTEN_H */
