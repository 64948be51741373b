/* arp.h - ARP responder: answers the guest's requests with our MAC */
#ifndef ARP_H
#define ARP_H

#include "ctx.h"
#include "frame.h"

int arp_input(struct ctx *c, const struct frame_in *f);

#endif /* ARP_H */
