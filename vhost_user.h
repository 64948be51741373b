/* vhost_user.h - the vhost-user protocol, back end side: messages from the
 * front end (QEMU), the device's features, memory table and virtqueues
 */
#ifndef VHOST_USER_H
#define VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtq.h"

#define VU_PAIRS_MAX		16	/* queue pairs we can serve */
#define VU_QUEUES_MAX		(2 * VU_PAIRS_MAX)
#define VU_HDR_LEN		12	/* request, flags, size */
#define VU_PAYLOAD_MAX		4096	/* larger than any message we take */
#define VU_FDS_MAX		8	/* descriptors one message may carry */

/* Requests (vhost-user.rst, "Front-end message types") */
enum vu_request {
	VU_GET_FEATURES		= 1,
	VU_SET_FEATURES		= 2,
	VU_SET_OWNER		= 3,
	VU_RESET_OWNER		= 4,
	VU_SET_MEM_TABLE	= 5,
	VU_SET_LOG_BASE		= 6,
	VU_SET_LOG_FD		= 7,
	VU_SET_VRING_NUM	= 8,
	VU_SET_VRING_ADDR	= 9,
	VU_SET_VRING_BASE	= 10,
	VU_GET_VRING_BASE	= 11,
	VU_SET_VRING_KICK	= 12,
	VU_SET_VRING_CALL	= 13,
	VU_SET_VRING_ERR	= 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM	= 17,
	VU_SET_VRING_ENABLE	= 18,
	VU_RESET_DEVICE		= 34,
};

#define VU_FLAG_VERSION		0x1
#define VU_FLAG_VERSION_MASK	0x3
#define VU_FLAG_REPLY		0x4
#define VU_FLAG_NEED_REPLY	0x8

/* Device feature bits (virtio 1.x, virtio-net) and vhost-user's own */
#define VU_F_CSUM		0
#define VU_F_GUEST_CSUM		1
#define VU_F_GUEST_TSO4		7
#define VU_F_GUEST_TSO6		8
#define VU_F_HOST_TSO4		11
#define VU_F_HOST_TSO6		12
#define VU_F_MRG_RXBUF		15
#define VU_F_MQ			22
#define VU_F_INDIRECT_DESC	28
#define VU_F_PROTOCOL_FEATURES	30
#define VU_F_VERSION_1		32

/* Protocol feature bits */
#define VU_PF_MQ		0
#define VU_PF_REPLY_ACK		3

#define VU_BIT(b)		(1ULL << (b))

/* What the device may do: the front end's requests as events */
enum vu_event {
	VU_EV_KICK,		/* the guest kicked queue @i */
	VU_EV_START,		/* queue @i can now carry frames */
	VU_EV_STOP,		/* queue @i stops: nothing more goes in it */
	VU_EV_FEATURES,		/* features were set (@i unused) */
	VU_EV_MEM,		/* a new memory table replaces the old */
	VU_EV_GONE,		/* the front end left or was dropped */
};

struct vu_dev;
typedef void (*vu_event_fn)(struct vu_dev *d, unsigned int i,
			    enum vu_event ev);

/**
 * struct vu_dev - The device, and the one front end connected to it
 * @fd:		Front end's socket, -1 if none
 * @epollfd:	epoll instance the kick eventfds are added to
 * @offered:	Feature bits we offer
 * @features:	Feature bits the front end set
 * @protocol:	Protocol features the front end set
 * @pairs:	Queue pairs we offer (GET_QUEUE_NUM)
 * @mem:	Memory table
 * @vq:		Queues: 2k receive (toward the guest), 2k + 1 transmit
 * @event:	Called on the events above (the frontend above us)
 * @buf:	Message being received: header, then payload
 * @have:	Bytes of it so far
 * @fds:	Descriptors that came with it
 * @nfds:	How many
 */
struct vu_dev {
	int fd;
	int epollfd;
	uint64_t offered;
	uint64_t features;
	uint64_t protocol;
	unsigned int pairs;
	struct vu_mem mem;
	struct virtq vq[VU_QUEUES_MAX];
	vu_event_fn event;
	uint8_t buf[VU_HDR_LEN + VU_PAYLOAD_MAX];
	size_t have;
	int fds[VU_FDS_MAX];
	unsigned int nfds;
};

void vu_dev_init(struct vu_dev *d, int epollfd, uint64_t offered,
		 unsigned int pairs, vu_event_fn event);
void vu_dev_attach(struct vu_dev *d, int fd);
void vu_dev_close(struct vu_dev *d);
int vu_input(struct vu_dev *d, const uint8_t *data, size_t len,
	     const int *fds, unsigned int nfds);
int vu_handler(struct vu_dev *d);
void vu_kick_handler(struct vu_dev *d, unsigned int i);
void vu_queue_notify(struct vu_dev *d, unsigned int i);
bool vu_has(const struct vu_dev *d, unsigned int bit);

#endif /* VHOST_USER_H */
