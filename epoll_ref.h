/* epoll_ref.h - the 64-bit reference every descriptor registers with
 * epoll: its type, its descriptor and the flow it belongs to, so the loop
 * dispatches without looking anything up
 */
#ifndef EPOLL_REF_H
#define EPOLL_REF_H

#include <stdint.h>

enum epoll_type {
	EPOLL_TYPE_NONE = 0,
	EPOLL_TYPE_TAP,		/* tap device */
	EPOLL_TYPE_STREAM,	/* QEMU stream socket (VM mode) */
	EPOLL_TYPE_LISTEN,	/* VM mode listening socket */
	EPOLL_TYPE_PING,	/* ping socket of an ICMP echo flow */
	EPOLL_TYPE_TCP,
	EPOLL_TYPE_TCP_LISTEN,	/* host listener (-t) or namespace one (-T) */
	EPOLL_TYPE_TCP_SPLICE,	/* either socket of a spliced connection */
	EPOLL_TYPE_UDP,		/* socket of one outbound UDP flow */
	EPOLL_TYPE_UDP_LISTEN,	/* host (-u) or namespace (-U) UDP port */
	EPOLL_TYPE_SIGNAL,	/* signalfd */
	EPOLL_TYPE_NETNS,	/* pidfd or inotify: the target may be gone */
	EPOLL_TYPE_CTL,		/* -c/--conf-path listening socket */
	EPOLL_TYPE_CTL_CONN,	/* its client (passtd-ctl) */
	EPOLL_TYPE_ZC,		/* closed socket, zerocopy sends due */
	EPOLL_TYPE_VU,		/* vhost-user front end's socket */
	EPOLL_TYPE_VU_KICK,	/* kick eventfd of virtqueue @flow */
};

union epoll_ref {
	struct {
		uint32_t type:8;
		int32_t fd:24;
		uint32_t flow;
	};
	uint64_t u64;
};

/* Descriptors beyond what @fd's 24 bits hold cannot be registered */
#define EPOLL_REF_FD_MAX	(1 << 23)

_Static_assert(sizeof(union epoll_ref) == sizeof(uint64_t),
	       "epoll reference must fit epoll_data");

#endif /* EPOLL_REF_H */
