/* fwdsock.c - forwarding sockets shared by TCP and UDP: bound on the host
 * or inside the namespace, registered with epoll
 *
 * A socket for the namespace side is opened there through the ctx hook
 * (only the top layer enters namespaces); binding, options and epoll do
 * not depend on the caller's namespace, so the rest is the same for both.
 * System calls: declared next to the code that makes them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fwdsock.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET6, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET6, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, IPPROTO_IPV6);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_IP);
SYSCALL_ALLOW(SYS_NS, listen);
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_ctl);
SYSCALL_ALLOW(SYS_NS | SYS_VM, close);

SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW(SYS_NS | SYS_VM, bind);

/*
 * Bind @fd to @sa, first to @ifname if there is one; inside the namespace
 * through the top layer, which has the privilege the daemon lacks.
 * Return: 0, or -1 with errno set
 */
static int fwdsock_bind(struct ctx *c, int fd, struct sockaddr_storage *sa,
			socklen_t sl, const char *ifname, bool ns)
{
	int rc;

	/* Without the hook (unit tests) the caller may bind it itself */
	if (ns && c->ns_bind) {
		rc = c->ns_bind(fd, (struct sockaddr *)sa, sl, ifname);
		errno = -rc;
		return rc ? -1 : 0;
	}
	if (ifname && *ifname &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
		       (socklen_t)strlen(ifname) + 1))
		return -1;
	return bind(fd, (struct sockaddr *)sa, sl);
}

/**
 * fwdsock_bind_out() - Bind a socket to the outside to the -o source
 * @nc:		Network configuration
 * @fd:		New TCP, UDP or ping socket, not connected yet
 * @dst:	Where it is going to connect or send
 * @port:	Local port (0: the kernel picks; a ping socket's echo id)
 *
 * Without -o for @dst's family (or to the host's loopback, see
 * fwd_out_src()), a ping socket is bound to the wildcard address with
 * @port and the others are left alone. Bound to an address with port 0,
 * a socket would take an ephemeral port of its own at once, one that no
 * other destination can share (about 28000 flows in all);
 * IP_BIND_ADDRESS_NO_PORT leaves the choice to connect(), which only needs
 * the whole address pair to be unique, as without -o.
 *
 * Return: 0 if bound or nothing to bind, -1 with errno set
 */
int fwdsock_bind_out(const struct net_conf *nc, int fd,
		     const union inany_addr *dst, uint16_t port)
{
	struct sockaddr_storage sa;
	union inany_addr src;
	socklen_t sl;

	if (!fwd_out_src(nc, dst, &src)) {
		if (!port)
			return 0;
		if (inany_is_v4(dst))
			inany_from_v4(&src, (struct in_addr){ INADDR_ANY });
		else
			inany_from_v6(&src, &in6addr_any);
	}
	if (!port) {
		int one = 1;

		setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
	}
	sl = inany_to_sockaddr(&src, port, 0, &sa);
	return bind(fd, (struct sockaddr *)&sa, sl);
}

/**
 * fwdsock_open() - Open, bind and register a forwarding socket
 * @c:		Execution context
 * @af:		AF_INET or AF_INET6
 * @type:	SOCK_STREAM (also put in listening state) or SOCK_DGRAM
 * @proto:	IPPROTO_TCP or IPPROTO_UDP
 * @addr:	Address to bind, NULL for any (host) or loopback (namespace)
 * @ifname:	Interface to bind to, NULL or "" for none
 * @port:	Port to bind
 * @ns:		Open the socket inside the namespace
 * @ref:	Epoll reference; its fd field is filled here
 *
 * Return: the socket, or negative errno
 */
int fwdsock_open(struct ctx *c, int af, int type, int proto,
		 const union inany_addr *addr, const char *ifname,
		 uint16_t port, bool ns, union epoll_ref ref)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_storage sa;
	union inany_addr any;
	int fd, one = 1, rc;
	socklen_t sl;

	type |= SOCK_NONBLOCK | SOCK_CLOEXEC;
	if (ns) {
		if (!c->ns_sockets || c->ns_sockets(af, type, proto, &fd, 1) != 1)
			return -EIO;
	} else {
		fd = socket(af, type, proto);
	}
	if (fd < 0)
		return -errno;
	/* --freebind: an address given with -t/-u may come up later */
	if (addr && !ns && c->net->freebind &&
	    setsockopt(fd, af == AF_INET ? SOL_IP : IPPROTO_IPV6,
		       af == AF_INET ? IP_FREEBIND : IPV6_FREEBIND, &one,
		       sizeof(one))) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!addr) {
		if (af == AF_INET)
			inany_from_v4(&any, (struct in_addr){ ns ?
				htonl(INADDR_LOOPBACK) : INADDR_ANY });
		else
			inany_from_v6(&any, ns ? &in6addr_loopback :
				      &in6addr_any);
		addr = &any;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	sl = inany_to_sockaddr(addr, port, 0, &sa);
	ref.fd = fd;
	ev.data.u64 = ref.u64;
	if (fwdsock_bind(c, fd, &sa, sl, ifname, ns) ||
	    ((type & SOCK_STREAM) == SOCK_STREAM && listen(fd, 1024)) ||
	    fd >= EPOLL_REF_FD_MAX || epoll_ctl(c->epollfd, EPOLL_CTL_ADD, fd, &ev)) {
		rc = fd >= EPOLL_REF_FD_MAX ? -EMFILE : -errno;
		close(fd);
		return rc ? rc : -EIO;
	}
	return fd;
}
