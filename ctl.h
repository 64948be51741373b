/* ctl.h - run-time forwarding control: the -c/--conf-path socket of
 * passtd-ctl (pesto)
 */
#ifndef CTL_H
#define CTL_H

#include <stdint.h>

#include "ctx.h"

#define CTL_REQ_MAX	512	/* request, newline included */
#define CTL_REPLY_MAX	16384	/* reply; a longer "show" is cut */
#define CTL_TIMEOUT_MS	2000	/* a client has this long, start to end */
#define CTL_FWD_MAX	64	/* forwards added at run time */
#define CTL_SOCKS_MAX	1024	/* their sockets, all together */

int ctl_init(struct ctx *c, const char *path, const struct fwd_ports *tcp_in,
	     const struct fwd_ports *udp_in);
void ctl_exit(void);
void ctl_run(struct ctx *c);
uint64_t ctl_next_ms(void);
void ctl_timer(struct ctx *c);

#endif /* CTL_H */
