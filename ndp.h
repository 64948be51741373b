/* ndp.h - IPv6 neighbour discovery responder (RFC 4861): Neighbour and
 * Router Advertisements toward the guest
 */
#ifndef NDP_H
#define NDP_H

#include "ctx.h"
#include "frame.h"

int ndp_input(struct ctx *c, const struct frame_in *f);
void ndp_timer(struct ctx *c);
uint64_t ndp_next_ms(const struct ctx *c);
void ndp_reset(void);

#endif /* NDP_H */
