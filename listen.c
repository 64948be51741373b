/* listen.c - forwarding sockets: the host's (-t, -u) and the namespace's
 * (-T, -U) listening TCP and bound UDP sockets, static and "auto"
 *
 * Theory of operation
 * Static ports (-t 22, -T 8080:80, -u 53) get their sockets once at start.
 * "auto" follows the other side: once a second the listening sockets of
 * the namespace (its /proc/net/tcp, tcp6, udp, udp6, opened inside it at
 * start:
 * a procfs net file keeps showing the namespace it was opened in) and of
 * the host are read, and a listener is opened for each candidate port
 * whose destination is bound over there, and closed when it no longer is.
 * Only the tables an "auto" direction reads are opened (the namespace's
 * for -t and -u auto, the host's for -T and -U auto): each one is a
 * descriptor held for the daemon's life.
 * Our own listeners on one side show up in that side's table, so they are
 * left out of the scan, or -t auto and -T auto would chase each other.
 * listen_timer() runs between epoll batches, never inside one: see
 * listen_close(). Host ports forwarded at run time (ctl.c) are claimed
 * (listen_host_claim()): they count as static ones, so "auto" neither
 * opens them nor chases them from the namespace.
 * System calls: pread, close, epoll_ctl (and those of tcp_listen(),
 * udp_listen(), udp_listen_close()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "tcp.h"
#include "udp.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS, pread64);
SYSCALL_ALLOW(SYS_NS, close);
SYSCALL_ALLOW(SYS_NS, epoll_ctl);

enum { DIR_IN, DIR_OUT, DIR_MAX };	/* host listens / namespace listens */
enum { P_TCP, P_UDP, P_MAX };

static const struct fwd_ports *listen_fp[P_MAX][DIR_MAX];
/* [proto][dir][v6][port]: descriptor + 1, 0: none (calloc()'d pages nobody
 * writes take no memory: only the ports "auto" opened are resident) */
static int *listen_auto_fd;
static uint8_t listen_static[P_MAX][DIR_MAX][FWD_MAP_SIZE];
/* /proc/net files, [proto][dir][v6]: DIR_IN scans the namespace's */
static int listen_proc[P_MAX][DIR_MAX][2] = {
	{ { -1, -1 }, { -1, -1 } }, { { -1, -1 }, { -1, -1 } },
};

/* Where the auto socket of a port is kept: descriptor + 1, 0 if none */
static int *listen_slot(int p, int dir, int v6, unsigned int port)
{
	return &listen_auto_fd[(((p * DIR_MAX + dir) * 2) + v6) * FWD_PORTS +
			       port];
}

/* Open one forwarding socket of protocol @p */
static int listen_open(struct ctx *c, int p, int af,
		       const union inany_addr *addr, const char *ifname,
		       uint16_t port, uint16_t dport, bool ns)
{
	if (p == P_TCP)
		return tcp_listen(c, af, addr, ifname, port, dport, ns);
	return udp_listen(c, af, addr, ifname, port, dport, ns);
}

static bool listen_af_on(const struct ctx *c, int dir, int af)
{
	if (dir == DIR_OUT)
		return true;	/* the namespace's loopback has both */
	return af == AF_INET ? c->net->v4.enabled : c->net->v6.enabled;
}

/*
 * Close one forwarding socket of protocol @p; UDP closes the flows that
 * reply through it first. Called between epoll batches (listen_timer()),
 * so no event fetched for the descriptor can reach whatever socket gets
 * its number next.
 */
static void listen_close(struct ctx *c, int p, int fd)
{
	if (p == P_UDP) {
		udp_listen_close(c, fd);
		return;
	}
	epoll_ctl(c->epollfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

/* Open the static listeners of one binding and port */
static void listen_static_one(struct ctx *c, int p, int dir,
			      const struct fwd_bind *b, uint16_t port)
{
	uint16_t dport = fwd_port_dest(listen_fp[p][dir], port);
	int afs[2] = { AF_INET, AF_INET6 }, i, rc;

	for (i = 0; i < 2; i++) {
		const union inany_addr *addr = b->any ? NULL : &b->addr;

		if (!b->any && inany_af(&b->addr) != afs[i])
			continue;
		if (!listen_af_on(c, dir, afs[i]))
			continue;
		rc = listen_open(c, p, afs[i], addr, b->ifname, port, dport,
				 dir == DIR_OUT);
		if (rc < 0)
			log_warn("cannot bind %s %s port %u (IPv%d): %s",
				 dir == DIR_OUT ? "namespace" : "host",
				 p == P_TCP ? "TCP" : "UDP", port,
				 afs[i] == AF_INET ? 4 : 6, strerror(-rc));
	}
	fwd_bit_set(listen_static[p][dir], port);
}

/**
 * listen_proc_needed() - Will "auto" scan the tables of the other side?
 * @c:		Execution context
 * @fp:		Forwarding map of one protocol and direction
 * @udp:	It is UDP's (-u, -U), not TCP's
 *
 * The tables are opened at start, as the file system is gone after it,
 * and only these: each is one descriptor more held for the daemon's life.
 *
 * Return: true if @fp is "auto" and its protocol is enabled
 */
bool listen_proc_needed(const struct ctx *c, const struct fwd_ports *fp,
			bool udp)
{
	return (fp->flags & FWD_AUTO) &&
	       !(udp ? c->net->no_udp : c->net->no_tcp);
}

/**
 * listen_init() - Open static forwarding sockets, prepare "auto" scanning
 * @c:		Execution context
 * @fp:		Forwarding maps: -t, -T, -u, -U
 * @ns_proc:	/proc/net/tcp, tcp6, udp, udp6 opened inside the namespace
 *		(-1 where it could not be opened, or is not needed: see
 *		listen_proc_needed())
 *
 * The host's tables are opened only for a protocol whose namespace
 * side (-T, -U) is "auto": no other direction scans them.
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int listen_init(struct ctx *c, const struct fwd_ports *const fp[4],
		const int ns_proc[4])
{
	static const char *const host[4] = {
		"/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp",
		"/proc/net/udp6",
	};
	unsigned int i, p, dir;
	int fd;

	listen_fp[P_TCP][DIR_IN] = fp[0];
	listen_fp[P_TCP][DIR_OUT] = fp[1];
	listen_fp[P_UDP][DIR_IN] = fp[2];
	listen_fp[P_UDP][DIR_OUT] = fp[3];
	listen_auto_fd = calloc(P_MAX * DIR_MAX * 2 * FWD_PORTS, sizeof(int));
	if (!listen_auto_fd)
		return -ENOMEM;
	for (i = 0; i < 4; i++) {
		p = i / 2;
		listen_proc[p][DIR_IN][i % 2] = ns_proc[i];
		fd = -1;
		if (listen_proc_needed(c, listen_fp[p][DIR_OUT], p == P_UDP))
			fd = open(host[i], O_RDONLY | O_CLOEXEC);
		listen_proc[p][DIR_OUT][i % 2] = fd;
	}
	for (p = 0; p < P_MAX; p++) {
		if (p == P_TCP ? c->net->no_tcp : c->net->no_udp)
			continue;
		for (dir = 0; dir < DIR_MAX; dir++) {
			struct fwd_iter it = FWD_ITER_INIT;

			while (fwd_listen_next(listen_fp[p][dir], NULL, &it))
				listen_static_one(c, (int)p, (int)dir, it.bind,
						  (uint16_t)it.port);
		}
	}
	listen_timer(c);
	return 0;
}

/* Ports bound on the side @dir forwards to, less our own sockets */
static void listen_scan(int p, int dir, uint8_t *bound)
{
	int other = dir == DIR_IN ? DIR_OUT : DIR_IN, v6;
	unsigned int port;

	memset(bound, 0, FWD_MAP_SIZE);
	for (v6 = 0; v6 < 2; v6++)
		if (listen_proc[p][dir][v6] >= 0)
			fwd_scan_fd(listen_proc[p][dir][v6], p == P_TCP, bound);
	for (port = 1; port < FWD_PORTS; port++) {
		if (!fwd_bit_test(bound, port))
			continue;
		if (fwd_bit_test(listen_static[p][other], port) ||
		    *listen_slot(p, other, 0, port) ||
		    *listen_slot(p, other, 1, port))
			bound[port / 8] &= (uint8_t)~(1U << (port % 8));
	}
}

/* Open or close the auto sockets of one port */
static void listen_auto_port(struct ctx *c, int p, int dir, uint16_t port,
			     bool want)
{
	const char *side = dir == DIR_OUT ? "namespace" : "host";
	const char *proto = p == P_TCP ? "TCP" : "UDP";
	int v6, rc;

	for (v6 = 0; v6 < 2; v6++) {
		int af = v6 ? AF_INET6 : AF_INET;
		int *fd = listen_slot(p, dir, v6, port);

		if (!want && *fd) {
			listen_close(c, p, *fd - 1);
			*fd = 0;
			log_debug("auto: closed %s %s port %u (IPv%d)", side,
				  proto, port, v6 ? 6 : 4);
		} else if (want && !*fd && listen_af_on(c, dir, af)) {
			rc = listen_open(c, p, af, NULL, NULL, port,
					 fwd_port_dest(listen_fp[p][dir], port),
					 dir == DIR_OUT);
			if (rc >= 0) {
				*fd = rc + 1;
				log_debug("auto: forwarding %s %s port %u "
					  "(IPv%d)", side, proto, port,
					  v6 ? 6 : 4);
			}
		}
	}
}

/**
 * listen_host_claim() - Take a host port for a run-time forward, or give
 * it back (ctl.c, between epoll batches)
 * @c:		Execution context
 * @udp:	UDP port (else TCP)
 * @port:	Port
 * @claim:	Take it (closing "auto" sockets that hold it), or give it back
 *		(unless the command line forwards it)
 */
void listen_host_claim(struct ctx *c, bool udp, uint16_t port, bool claim)
{
	int p = udp ? P_UDP : P_TCP;

	if (claim) {
		fwd_bit_set(listen_static[p][DIR_IN], port);
		listen_auto_port(c, p, DIR_IN, port, false);
	} else if (!fwd_port_forwarded(listen_fp[p][DIR_IN], port)) {
		listen_static[p][DIR_IN][port / 8] &=
			(uint8_t)~(1U << (port % 8));
	}
}

/**
 * listen_auto() - Is any direction of any protocol forwarded "auto"?
 * @c:		Execution context
 *
 * Return: true if listen_timer() has work (once a second)
 */
bool listen_auto(const struct ctx *c)
{
	int p, dir;

	for (p = 0; p < P_MAX; p++) {
		if (p == P_TCP ? c->net->no_tcp : c->net->no_udp)
			continue;
		for (dir = 0; dir < DIR_MAX; dir++)
			if (listen_fp[p][dir]->flags & FWD_AUTO)
				return true;
	}
	return false;
}

/**
 * listen_timer() - Keep "auto" forwarding in step with the other side
 * @c:		Execution context
 */
void listen_timer(struct ctx *c)
{
	static uint8_t bound[FWD_MAP_SIZE];
	int p, dir;

	for (p = 0; p < P_MAX; p++) {
		if (p == P_TCP ? c->net->no_tcp : c->net->no_udp)
			continue;
		for (dir = 0; dir < DIR_MAX; dir++) {
			const struct fwd_ports *fp = listen_fp[p][dir];
			unsigned int port;

			if (!(fp->flags & FWD_AUTO))
				continue;
			listen_scan(p, dir, bound);
			for (port = 1; port < FWD_PORTS; port++) {
				uint16_t pt = (uint16_t)port;
				bool want =
				    !fwd_bit_test(listen_static[p][dir], port) &&
				    fwd_port_auto_candidate(fp, pt) &&
				    fwd_bit_test(bound, fwd_port_dest(fp, pt));

				listen_auto_port(c, p, dir, pt, want);
			}
		}
	}
}
