/* vu_net.h - the vhost-user frontend: the guest's virtio-net queues in
 * shared memory as the daemon's link to a VM
 */
#ifndef VU_NET_H
#define VU_NET_H

#include "ctx.h"

/**
 * struct vu_net_conf - What the device offers (command line)
 * @pairs:	Queue pairs (--vhost-queues), 1 to VU_PAIRS_MAX
 * @no_offload:	--no-vhost-offload: no checksum or segmentation offload
 * @no_tso:	--no-vhost-tso: checksum offload only
 * @no_mrg_rxbuf: --no-mrg-rxbuf: one receive buffer per frame
 * @capture:	A capture is written: frames carry full checksums
 */
struct vu_net_conf {
	unsigned int pairs;
	bool no_offload;
	bool no_tso;
	bool no_mrg_rxbuf;
	bool capture;
};

#define VU_PAIRS_DEFAULT	8

int vu_net_init(struct ctx *c, const struct vu_net_conf *vc);
int vu_net_accept(struct ctx *c, int lfd);
int vu_net_attach(struct ctx *c, int fd);
int vu_net_handler(struct ctx *c, uint32_t events);
void vu_net_kick(struct ctx *c, unsigned int i);
void vu_net_flush(struct frame_queue *q);

#endif /* VU_NET_H */
