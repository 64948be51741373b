/* listen.c - forwarding listeners: the host's (-t) and the namespace's
 * (-T) listening sockets, static and "auto"
 *
 * Theory of operation
 * Static ports (-t 22, -T 8080:80) get their listeners once at start.
 * "auto" follows the other side: once a second the listening sockets of
 * the namespace (its /proc/net/tcp and tcp6, opened inside it at start:
 * a procfs net file keeps showing the namespace it was opened in) and of
 * the host are read, and a listener is opened for each candidate port
 * whose destination is bound over there, and closed when it no longer is.
 * Our own listeners on one side show up in that side's table, so they are
 * left out of the scan, or -t auto and -T auto would chase each other.
 * System calls: pread, close (and those of tcp_listen()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "tcp.h"

enum { DIR_IN, DIR_OUT, DIR_MAX };	/* host listens / namespace listens */

static const struct fwd_ports *listen_fp[DIR_MAX];
static int *listen_auto_fd;		/* [dir][v6][port], -1 if none */
static uint8_t listen_static[DIR_MAX][FWD_MAP_SIZE];
static int listen_proc[DIR_MAX][2] = { { -1, -1 }, { -1, -1 } };

static int *listen_slot(int dir, int v6, unsigned int port)
{
	return &listen_auto_fd[((dir * 2) + v6) * FWD_PORTS + port];
}

static bool listen_af_on(const struct ctx *c, int dir, int af)
{
	if (dir == DIR_OUT)
		return true;	/* the namespace's loopback has both */
	return af == AF_INET ? c->net->v4.enabled : c->net->v6.enabled;
}

/* Open the static listeners of one binding and port */
static void listen_static_one(struct ctx *c, int dir,
			      const struct fwd_bind *b, uint16_t port)
{
	uint16_t dport = fwd_port_dest(listen_fp[dir], port);
	int afs[2] = { AF_INET, AF_INET6 }, i, rc;

	for (i = 0; i < 2; i++) {
		const union inany_addr *addr = b->any ? NULL : &b->addr;

		if (!b->any && inany_af(&b->addr) != afs[i])
			continue;
		if (!listen_af_on(c, dir, afs[i]))
			continue;
		rc = tcp_listen(c, afs[i], addr, b->ifname, port, dport,
				dir == DIR_OUT);
		if (rc < 0)
			log_warn("cannot listen on %s TCP port %u (IPv%d): %s",
				 dir == DIR_OUT ? "namespace" : "host", port,
				 afs[i] == AF_INET ? 4 : 6, strerror(-rc));
	}
	fwd_bit_set(listen_static[dir], port);
}

/**
 * listen_init() - Open static listeners, prepare "auto" scanning
 * @c:		Execution context
 * @tcp_in:	-t forwarding (host to namespace)
 * @tcp_out:	-T forwarding (namespace to host)
 * @ns_tcp4:	/proc/net/tcp opened inside the namespace, or -1
 * @ns_tcp6:	/proc/net/tcp6 opened inside the namespace, or -1
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int listen_init(struct ctx *c, const struct fwd_ports *tcp_in,
		const struct fwd_ports *tcp_out, int ns_tcp4, int ns_tcp6)
{
	unsigned int i, dir;

	listen_fp[DIR_IN] = tcp_in;
	listen_fp[DIR_OUT] = tcp_out;
	listen_auto_fd = malloc(sizeof(int) * DIR_MAX * 2 * FWD_PORTS);
	if (!listen_auto_fd)
		return -ENOMEM;
	for (i = 0; i < DIR_MAX * 2 * FWD_PORTS; i++)
		listen_auto_fd[i] = -1;
	listen_proc[DIR_IN][0] = ns_tcp4;
	listen_proc[DIR_IN][1] = ns_tcp6;
	listen_proc[DIR_OUT][0] = open("/proc/net/tcp", O_RDONLY | O_CLOEXEC);
	listen_proc[DIR_OUT][1] = open("/proc/net/tcp6", O_RDONLY | O_CLOEXEC);

	if (c->net->no_tcp)
		return 0;
	for (dir = 0; dir < DIR_MAX; dir++) {
		struct fwd_iter it = FWD_ITER_INIT;

		while (fwd_listen_next(listen_fp[dir], NULL, &it))
			listen_static_one(c, (int)dir, it.bind,
					  (uint16_t)it.port);
	}
	listen_timer(c);
	return 0;
}

/* Ports bound on the side @dir forwards to, less our own listeners */
static void listen_scan(int dir, uint8_t *bound)
{
	int other = dir == DIR_IN ? DIR_OUT : DIR_IN, v6;
	unsigned int p;

	memset(bound, 0, FWD_MAP_SIZE);
	for (v6 = 0; v6 < 2; v6++)
		if (listen_proc[dir][v6] >= 0)
			fwd_scan_fd(listen_proc[dir][v6], true, bound);
	for (p = 1; p < FWD_PORTS; p++) {
		if (!fwd_bit_test(bound, p))
			continue;
		if (fwd_bit_test(listen_static[other], p) ||
		    *listen_slot(other, 0, p) >= 0 ||
		    *listen_slot(other, 1, p) >= 0)
			bound[p / 8] &= (uint8_t)~(1U << (p % 8));
	}
}

/* Open or close the auto listeners of one port */
static void listen_auto_port(struct ctx *c, int dir, uint16_t port,
			     bool want)
{
	int v6, rc;

	for (v6 = 0; v6 < 2; v6++) {
		int af = v6 ? AF_INET6 : AF_INET, *fd = listen_slot(dir, v6,
								      port);

		if (!want && *fd >= 0) {
			close(*fd);
			*fd = -1;
			log_debug("auto: closed %s TCP port %u (IPv%d)",
				  dir == DIR_OUT ? "namespace" : "host", port,
				  v6 ? 6 : 4);
		} else if (want && *fd < 0 && listen_af_on(c, dir, af)) {
			rc = tcp_listen(c, af, NULL, NULL, port,
					fwd_port_dest(listen_fp[dir], port),
					dir == DIR_OUT);
			if (rc >= 0) {
				*fd = rc;
				log_debug("auto: forwarding %s TCP port %u "
					  "(IPv%d)", dir == DIR_OUT ?
					  "namespace" : "host", port,
					  v6 ? 6 : 4);
			}
		}
	}
}

/**
 * listen_timer() - Keep "auto" listeners in step with the other side
 * @c:		Execution context
 */
void listen_timer(struct ctx *c)
{
	static uint8_t bound[FWD_MAP_SIZE];
	int dir;

	if (c->net->no_tcp)
		return;
	for (dir = 0; dir < DIR_MAX; dir++) {
		const struct fwd_ports *fp = listen_fp[dir];
		unsigned int p;

		if (!(fp->flags & FWD_AUTO))
			continue;
		listen_scan(dir == DIR_IN ? DIR_IN : DIR_OUT, bound);
		for (p = 1; p < FWD_PORTS; p++) {
			bool want = !fwd_bit_test(listen_static[dir], p) &&
				    fwd_port_auto_candidate(fp, (uint16_t)p) &&
				    fwd_bit_test(bound,
						 fwd_port_dest(fp, (uint16_t)p));

			listen_auto_port(c, dir, (uint16_t)p, want);
		}
	}
}
