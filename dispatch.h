/* dispatch.h - protocols' socket events and flows' deadlines to their
 * protocol
 */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "epoll_ref.h"

bool dispatch_event(struct ctx *c, union epoll_ref ref, uint32_t events);
void dispatch_timers(struct ctx *c);

#endif /* DISPATCH_H */
