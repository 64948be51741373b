/* dispatch.c - events of the protocols' sockets, and flows' deadlines,
 * to the protocol that owns them
 *
 * Theory of operation
 * The loop (passtd.c) handles its own descriptors (tap, VM socket,
 * signals, the namespace watch) and hands every other event here: the
 * type packed in the epoll reference names the protocol, the reference
 * its flow or forwarding socket. Due deadlines of flow.c's heap go to the
 * protocol by the flow's type. One place for both, so that whatever
 * drives the protocols (the loop, the fuzzing harnesses, unit tests)
 * drives them the same way. Neither frees a flow's slot: the caller calls
 * flow_reap() once the batch is done.
 *
 * System calls: none of its own (those of the handlers).
 */
#include "dispatch.h"
#include "icmp.h"
#include "tcp.h"
#include "tcp_splice.h"
#include "udp.h"
#include "zerocopy.h"

/**
 * dispatch_event() - Hand one event to the protocol of its descriptor
 * @c:		Execution context
 * @ref:	Epoll reference
 * @events:	Epoll events
 *
 * Return: true if the type was a protocol's, false if not ours
 */
bool dispatch_event(struct ctx *c, union epoll_ref ref, uint32_t events)
{
	switch (ref.type) {
	case EPOLL_TYPE_PING:
		icmp_sock_input(c, ref);
		return true;
	case EPOLL_TYPE_TCP:
		tcp_sock_handler(c, ref, events);
		return true;
	case EPOLL_TYPE_TCP_LISTEN:
		tcp_listen_handler(c, ref);
		return true;
	case EPOLL_TYPE_UDP:
		udp_sock_handler(c, ref, events);
		return true;
	case EPOLL_TYPE_UDP_LISTEN:
		udp_listen_handler(c, ref, events);
		return true;
	case EPOLL_TYPE_TCP_SPLICE:
		tcp_splice_sock_handler(c, ref, events);
		return true;
	case EPOLL_TYPE_ZC:
		zc_linger_handler(c->epollfd, ref);
		return true;
	default:
		return false;
	}
}

/**
 * dispatch_timers() - Run every flow deadline due by @c->now_ms
 * @c:		Execution context
 */
void dispatch_timers(struct ctx *c)
{
	int idx;

	while ((idx = flow_timer_due(c->flows, c->now_ms)) != FLOW_NONE) {
		switch (flow_at(c->flows, idx)->type) {
		case FLOW_TCP:
			tcp_flow_timer(c, idx);
			break;
		case FLOW_TCP_SPLICE:
			tcp_splice_flow_timer(c, idx);
			break;
		default:
			break;
		}
	}
}
