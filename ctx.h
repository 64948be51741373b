/* ctx.h - the execution context handed to every protocol handler: the
 * shared state of the layer below protocols, and nothing of any protocol
 */
#ifndef CTX_H
#define CTX_H

#include <stdint.h>
#include <sys/socket.h>

#include "flow.h"
#include "frame.h"
#include "fwd.h"

/**
 * struct ctx - Execution context
 * @net:	Guest-facing network configuration and address maps
 * @q:		Output queue toward the guest
 * @flows:	Flow table
 * @epollfd:	Loop's epoll descriptor, for sockets protocols open
 * @now_ms:	Time of the current loop iteration (monotonic, ms)
 * @ns_sockets:	Open @n sockets inside the target namespace into @fds;
 *		returns how many were opened or negative errno (set by the
 *		top layer, which alone may enter namespaces)
 * @ns_bind:	Bind a socket from @ns_sockets to @sa (@sl bytes), first to
 *		device @ifname if not NULL or ""; 0 or negative errno (the
 *		namespace's privileged ports need the top layer too)
 */
struct ctx {
	struct net_conf *net;
	struct frame_queue *q;
	struct flow_table *flows;
	int epollfd;
	uint64_t now_ms;
	int (*ns_sockets)(int af, int type, int proto, int *fds, int n);
	int (*ns_bind)(int fd, const struct sockaddr *sa, socklen_t sl,
		       const char *ifname);
};

#endif /* CTX_H */
