/* tap.h - the guest-facing frontend: read frames from the tap device,
 * parse and dispatch them to protocols, write queued frames back
 */
#ifndef TAP_H
#define TAP_H

#include <linux/virtio_net.h>

#include "ctx.h"

#define TAP_RX_POOL	(2 << 20)	/* bytes of frames read per wake-up */

int tap_init(struct ctx *c, int fd, bool uso);
void tap_guest_reset(struct ctx *c);
void tap_handler(struct ctx *c);
void tap_flush(struct frame_queue *q);
void tap_vnet_hdr(struct virtio_net_hdr *vh, const struct frame_out *o);
void tap_dispatch(struct ctx *c, const struct frame_in *f, unsigned int n);
int tap_parse(struct ctx *c, const uint8_t *buf, size_t len,
	      struct frame_in *f);

#endif /* TAP_H */
