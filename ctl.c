/* ctl.c - run-time forwarding control: the -c/--conf-path socket through
 * which passtd-ctl (pesto) adds, deletes and lists -t and -u forwards
 *
 * Theory of operation
 * At start-up, before the daemon is confined, a UNIX stream socket is
 * bound at the path given, with the umask set so that only the owner may
 * connect (mode 0600: whoever may connect may open ports in our name), and
 * its directory is kept (struct path_at) to remove it at exit, when the
 * file system is out of reach.
 *
 * Protocol (ours; passtd-ctl is its only client). One request per
 * connection, one connection served at a time:
 *	request:	VERB [ARGS] "\n"	(or the end of the stream),
 *			at most CTL_REQ_MAX bytes with the newline
 *	VERB:		"add" OPT SPEC	(OPT: -t, --tcp-ports, -u, --udp-ports;
 *					 SPEC as on the command line)
 *			"delete" OPT SPEC
 *			"show"
 *	reply:		"ok\n" or "error: MESSAGE\n", then for "show" one
 *			line per forward, then the daemon closes the stream
 * A request that is not one of these, too long, or holds a control
 * character gets an error reply and changes nothing. An add is all or
 * nothing: every socket of the SPEC is bound, or those bound are closed
 * again and the first failure is the reply. A delete names a forward
 * added at run time, with any SPEC that stands for the same sockets
 * (-t 8080 and -t 8080:8080 alike); it closes their listening sockets:
 * TCP connections accepted through them go on, the flows that reply
 * through a UDP socket end with it (they have no socket of their own).
 * Forwards of the command line are listed but stay.
 *
 * Everything is non-blocking and driven by the loop: while a client is
 * served the listening socket is out of the epoll set, so a second
 * client waits in its backlog; a client that does not complete its
 * request and read the reply within CTL_TIMEOUT_MS is dropped (the loop
 * sleeps until that deadline, ctl_next_ms()). Events are handled after the
 * loop's batch (ctl_run()): a delete closes sockets, and no event of the
 * batch may be left for their numbers. Memory is static: the forwards'
 * table is bounded (CTL_FWD_MAX entries, CTL_SOCKS_MAX sockets in all).
 *
 * System calls: declared below (and those of tcp_listen(), udp_listen(),
 * udp_listen_close()).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "epoll_ref.h"
#include "listen.h"
#include "log.h"
#include "stream.h"
#include "tcp.h"
#include "udp.h"
#include "util.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, accept4);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvfrom);
SYSCALL_ALLOW(SYS_NS | SYS_VM, sendto);
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_ctl);
SYSCALL_ALLOW(SYS_NS | SYS_VM, close);
SYSCALL_ALLOW(SYS_NS | SYS_VM, shutdown);
SYSCALL_ALLOW(SYS_NS | SYS_VM, listen);	/* tcp_listen() at run time */

#define CTL_SPEC_MAX	256		/* SPEC text, NUL included */

/**
 * struct ctl_sock - One socket of a forward added at run time
 * @fd:		Socket
 * @udp:	UDP (else TCP)
 * @any:	Bound to the wildcard address of its family
 * @af:		AF_INET or AF_INET6
 * @port:	Port bound
 * @dport:	Port it forwards to
 * @addr:	Address bound, unless @any
 * @ifname:	Interface bound to, "" for none
 */
struct ctl_sock {
	int fd;
	bool udp;
	bool any;
	int af;
	uint16_t port;
	uint16_t dport;
	union inany_addr addr;
	char ifname[IFNAMSIZ];
};

/**
 * struct ctl_fwd - A forward added at run time
 * @first:	Its first socket in ctl_socks[]
 * @n:		Number of sockets, contiguous from @first
 * @udp:	-u (else -t)
 * @spec:	SPEC as it was added
 */
struct ctl_fwd {
	unsigned int first;
	unsigned int n;
	bool udp;
	char spec[CTL_SPEC_MAX];
};

static struct ctl_fwd ctl_fwds[CTL_FWD_MAX];
static unsigned int ctl_fwd_n;
static struct ctl_sock ctl_socks[CTL_SOCKS_MAX];
static unsigned int ctl_sock_n;
/* Sockets a SPEC stands for, before they are opened or looked up */
static struct ctl_sock ctl_want[CTL_SOCKS_MAX];
static struct fwd_ports ctl_fp;		/* the SPEC of a request, parsed */

/* The command line's -t and -u, for show and to refuse their ports */
static const struct fwd_ports *ctl_cmdline[2];

/**
 * struct ctl_conn - The control socket and the client being served
 * @lfd:	Listening socket, -1 without -c
 * @fd:		Client, -1 for none
 * @deadline:	When the client is dropped (ms)
 * @in_len:	Bytes of the request read
 * @in:		Request
 * @out_len:	Bytes of the reply
 * @out_sent:	Bytes of it sent
 * @out_full:	The reply did not fit (show truncated)
 * @replying:	Request complete, reply being sent
 * @draining:	Reply sent and our side shut down: what the client still
 *		sends is read and dropped until its end of stream
 * @out:	Reply
 */
struct ctl_conn {
	int lfd;
	int fd;
	uint64_t deadline;
	size_t in_len;
	char in[CTL_REQ_MAX + 1];
	size_t out_len;
	size_t out_sent;
	bool out_full;
	bool replying;
	bool draining;
	char out[CTL_REPLY_MAX];
};

static struct ctl_conn ctl = { .lfd = -1, .fd = -1 };
static struct path_at ctl_path_at = { .dirfd = -1 };

/* Append to the reply; what does not fit is cut, and said so at the end */
static void ctl_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ctl_out(const char *fmt, ...)
{
	size_t room = sizeof(ctl.out) - ctl.out_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(ctl.out + ctl.out_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		ctl.out_full = true;
		return;
	}
	ctl.out_len += (size_t)n;
}

/* Watch @fd for @events (0: not at all), as @type */
static int ctl_epoll(struct ctx *c, int op, int fd, enum epoll_type type,
		     uint32_t events)
{
	union epoll_ref ref = { .type = type, .fd = fd };
	struct epoll_event ev = { .events = events, .data.u64 = ref.u64 };

	return epoll_ctl(c->epollfd, op, fd, &ev);
}

/**
 * ctl_init() - Listen on the control socket (start-up, before confining)
 * @c:		Execution context
 * @path:	Socket path
 * @tcp_in:	The command line's -t forwarding
 * @udp_in:	The command line's -u forwarding
 *
 * Return: 0, or negative errno
 */
int ctl_init(struct ctx *c, const char *path, const struct fwd_ports *tcp_in,
	     const struct fwd_ports *udp_in)
{
	char bound[STREAM_PATH_MAX];
	mode_t old;
	int fd;

	ctl_cmdline[0] = tcp_in;
	ctl_cmdline[1] = udp_in;
	old = umask(0177);	/* the socket is born 0600: no window */
	fd = stream_listen(path, bound, sizeof(bound));
	umask(old);
	if (fd < 0)
		return fd;
	if (fd >= EPOLL_REF_FD_MAX ||
	    ctl_epoll(c, EPOLL_CTL_ADD, fd, EPOLL_TYPE_CTL, EPOLLIN)) {
		close(fd);
		return -EIO;
	}
	ctl.lfd = fd;
	path_at_open(path, &ctl_path_at);
	log_info("forwarding control on UNIX socket %s", path);
	return 0;
}

/**
 * ctl_exit() - Remove the control socket's file (exit)
 */
void ctl_exit(void)
{
	path_at_unlink(&ctl_path_at);
}

/* The client is done (or dropped): take the next one */
static void ctl_end(struct ctx *c)
{
	ctl_epoll(c, EPOLL_CTL_DEL, ctl.fd, EPOLL_TYPE_CTL_CONN, 0);
	close(ctl.fd);
	ctl.fd = -1;
	ctl_epoll(c, EPOLL_CTL_MOD, ctl.lfd, EPOLL_TYPE_CTL, EPOLLIN);
}

/* Take a waiting client, if any; the next one waits until it is done */
static void ctl_accept(struct ctx *c)
{
	int fd = accept4(ctl.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (fd >= EPOLL_REF_FD_MAX ||
	    ctl_epoll(c, EPOLL_CTL_ADD, fd, EPOLL_TYPE_CTL_CONN, EPOLLIN)) {
		close(fd);
		return;
	}
	ctl.fd = fd;
	ctl.deadline = c->now_ms + CTL_TIMEOUT_MS;
	ctl.in_len = ctl.out_len = ctl.out_sent = 0;
	ctl.out_full = ctl.replying = ctl.draining = false;
	ctl_epoll(c, EPOLL_CTL_MOD, ctl.lfd, EPOLL_TYPE_CTL, 0);
}

/* Is the family on for host-side sockets? */
static bool ctl_af_on(const struct ctx *c, int af)
{
	return af == AF_INET ? c->net->v4.enabled : c->net->v6.enabled;
}

/*
 * The sockets ctl_fp stands for, into ctl_want[], as listen.c opens those
 * of the command line: each (binding, port), for each family it allows.
 * Return: how many, or -1 with the reason in the reply
 */
static int ctl_spec_socks(const struct ctx *c, bool udp)
{
	static const int afs[2] = { AF_INET, AF_INET6 };
	struct fwd_iter it = FWD_ITER_INIT;
	unsigned int n = 0, i;

	while (fwd_listen_next(&ctl_fp, NULL, &it)) {
		const struct fwd_bind *b = it.bind;

		for (i = 0; i < 2; i++) {
			struct ctl_sock *s = &ctl_want[n];

			if ((!b->any && inany_af(&b->addr) != afs[i]) ||
			    !ctl_af_on(c, afs[i]))
				continue;
			if (n == CTL_SOCKS_MAX) {
				ctl_out("error: more than %u sockets\n",
					CTL_SOCKS_MAX);
				return -1;
			}
			*s = (struct ctl_sock){
				.fd = -1, .udp = udp, .any = b->any,
				.af = afs[i], .port = (uint16_t)it.port,
				.dport = fwd_port_dest(&ctl_fp,
						       (uint16_t)it.port),
				.addr = b->addr,
			};
			memcpy(s->ifname, b->ifname, IFNAMSIZ);
			n++;
		}
	}
	if (!n)
		ctl_out("error: no socket to open (family disabled?)\n");
	return n ? (int)n : -1;
}

/* Would sockets @a and @b take the same port of the same address? */
static bool ctl_sock_clash(const struct ctl_sock *a, const struct ctl_sock *b)
{
	return a->udp == b->udp && a->af == b->af && a->port == b->port &&
	       (a->any || b->any || inany_equal(&a->addr, &b->addr));
}

/* Are @a and @b the same socket, destination included? */
static bool ctl_sock_same(const struct ctl_sock *a, const struct ctl_sock *b)
{
	return a->udp == b->udp && a->af == b->af && a->port == b->port &&
	       a->dport == b->dport && a->any == b->any &&
	       (a->any || inany_equal(&a->addr, &b->addr)) &&
	       !strcmp(a->ifname, b->ifname);
}

/* Is the port of @s taken by the command line or a run-time forward? */
static bool ctl_taken(const struct ctl_sock *s)
{
	const struct fwd_ports *fp = ctl_cmdline[s->udp];
	unsigned int i;

	if (fwd_port_forwarded(fp, s->port)) {
		ctl_out("error: %s port %u is forwarded by the command line\n",
			s->udp ? "UDP" : "TCP", s->port);
		return true;
	}
	for (i = 0; i < ctl_sock_n; i++) {
		if (ctl_sock_clash(&ctl_socks[i], s)) {
			ctl_out("error: %s port %u (IPv%d) is forwarded "
				"already\n", s->udp ? "UDP" : "TCP", s->port,
				s->af == AF_INET ? 4 : 6);
			return true;
		}
	}
	return false;
}

/* Does another run-time socket than those from @skip on use @s's port? */
static bool ctl_port_used(const struct ctl_sock *s, unsigned int skip,
			  unsigned int n)
{
	unsigned int i;

	for (i = 0; i < ctl_sock_n; i++)
		if ((i < skip || i >= skip + n) && ctl_socks[i].udp == s->udp &&
		    ctl_socks[i].port == s->port)
			return true;
	return false;
}

/* Close a run-time socket, and give its port back if nothing else has it */
static void ctl_sock_close(struct ctx *c, const struct ctl_sock *s,
			   unsigned int skip, unsigned int n)
{
	if (s->fd >= 0) {
		if (s->udp) {
			udp_listen_close(c, s->fd);
		} else {
			epoll_ctl(c->epollfd, EPOLL_CTL_DEL, s->fd, NULL);
			close(s->fd);
		}
	}
	if (!ctl_port_used(s, skip, n))
		listen_host_claim(c, s->udp, s->port, false);
}

/* Open socket @s; Return: 0, or -1 with the reason in the reply */
static int ctl_sock_open(struct ctx *c, struct ctl_sock *s)
{
	const union inany_addr *addr = s->any ? NULL : &s->addr;
	int fd;

	listen_host_claim(c, s->udp, s->port, true);
	if (s->udp)
		fd = udp_listen(c, s->af, addr, s->ifname, s->port, s->dport,
				false);
	else
		fd = tcp_listen(c, s->af, addr, s->ifname, s->port, s->dport,
				false);
	if (fd >= 0) {
		s->fd = fd;
		return 0;
	}
	ctl_out("error: cannot bind %s port %u (IPv%d): %s\n",
		s->udp ? "UDP" : "TCP", s->port, s->af == AF_INET ? 4 : 6,
		strerror(-fd));
	return -1;
}

/* Parse "-t SPEC" (or -u, --tcp-ports, --udp-ports) into ctl_fp */
static int ctl_parse_spec(char *args, bool *udp, char **spec)
{
	char err[256], *opt = strtok(args, " "), *rest;

	*spec = strtok(NULL, " ");
	rest = strtok(NULL, " ");
	if (!opt || !*spec || rest) {
		ctl_out("error: expected -t SPEC or -u SPEC\n");
		return -1;
	}
	if (!strcmp(opt, "-t") || !strcmp(opt, "--tcp-ports")) {
		*udp = false;
	} else if (!strcmp(opt, "-u") || !strcmp(opt, "--udp-ports")) {
		*udp = true;
	} else {
		ctl_out("error: only -t and -u forwards change at run time\n");
		return -1;
	}
	if (strlen(*spec) >= CTL_SPEC_MAX) {
		ctl_out("error: SPEC too long\n");
		return -1;
	}
	fwd_ports_init(&ctl_fp);
	if (fwd_ports_parse(&ctl_fp, *spec, false, err, sizeof(err))) {
		ctl_out("error: -%c %s: %s\n", *udp ? 'u' : 't', *spec, err);
		return -1;
	}
	if ((ctl_fp.flags & (FWD_NONE | FWD_ALL | FWD_AUTO)) ||
	    !(ctl_fp.flags & FWD_SPEC)) {
		ctl_out("error: -%c %s: port ranges only (not none, all, "
			"auto)\n", *udp ? 'u' : 't', *spec);
		return -1;
	}
	return 0;
}

/* add OPT SPEC: bind every socket of SPEC, or none */
static void ctl_add(struct ctx *c, char *args)
{
	struct ctl_fwd *f = &ctl_fwds[ctl_fwd_n];
	int n, i, rc = 0;
	char *spec;
	bool udp;

	if (ctl_parse_spec(args, &udp, &spec))
		return;
	if (udp ? c->net->no_udp : c->net->no_tcp) {
		ctl_out("error: %s is disabled\n", udp ? "UDP" : "TCP");
		return;
	}
	if (ctl_fwd_n == CTL_FWD_MAX) {
		ctl_out("error: %u forwards added already\n", CTL_FWD_MAX);
		return;
	}
	n = ctl_spec_socks(c, udp);
	if (n < 0)
		return;
	if ((unsigned int)n > CTL_SOCKS_MAX - ctl_sock_n) {
		ctl_out("error: more than %u sockets in all\n", CTL_SOCKS_MAX);
		return;
	}
	for (i = 0; i < n && !rc; i++)
		rc = ctl_taken(&ctl_want[i]) ? -1 : 0;
	for (i = 0; i < n && !rc; i++)
		rc = ctl_sock_open(c, &ctl_want[i]);
	if (rc) {
		/* ctl_want[] is not in ctl_socks[]: nothing to skip */
		while (i--)
			ctl_sock_close(c, &ctl_want[i], 0, 0);
		return;
	}
	memcpy(&ctl_socks[ctl_sock_n], ctl_want, sizeof(ctl_want[0]) * n);
	*f = (struct ctl_fwd){ .first = ctl_sock_n, .n = (unsigned int)n,
			       .udp = udp };
	snprintf(f->spec, sizeof(f->spec), "%s", spec);
	ctl_sock_n += (unsigned int)n;
	ctl_fwd_n++;
	log_info("control: added -%c %s (%d sockets)", udp ? 'u' : 't', spec,
		 n);
	ctl_out("ok\n");
}

/* Is forward @f exactly the @n sockets of ctl_want[]? */
static bool ctl_fwd_match(const struct ctl_fwd *f, bool udp, unsigned int n)
{
	unsigned int i;

	if (f->udp != udp || f->n != n)
		return false;
	for (i = 0; i < n; i++)
		if (!ctl_sock_same(&ctl_socks[f->first + i], &ctl_want[i]))
			return false;
	return true;
}

/* Take forward @k out of the table, its sockets closed */
static void ctl_fwd_remove(struct ctx *c, unsigned int k)
{
	struct ctl_fwd *f = &ctl_fwds[k];
	unsigned int i, first = f->first, n = f->n;

	for (i = 0; i < n; i++)
		ctl_sock_close(c, &ctl_socks[first + i], first, n);
	memmove(&ctl_socks[first], &ctl_socks[first + n],
		sizeof(ctl_socks[0]) * (ctl_sock_n - first - n));
	ctl_sock_n -= n;
	memmove(f, f + 1, sizeof(*f) * (ctl_fwd_n - k - 1));
	ctl_fwd_n--;
	for (i = 0; i < ctl_fwd_n; i++)
		if (ctl_fwds[i].first > first)
			ctl_fwds[i].first -= n;
}

/* delete OPT SPEC: close the sockets of the run-time forward it names */
static void ctl_delete(struct ctx *c, char *args)
{
	unsigned int k;
	char *spec;
	bool udp;
	int n;

	if (ctl_parse_spec(args, &udp, &spec))
		return;
	n = ctl_spec_socks(c, udp);
	if (n < 0)
		return;
	for (k = 0; k < ctl_fwd_n; k++) {
		if (!ctl_fwd_match(&ctl_fwds[k], udp, (unsigned int)n))
			continue;
		log_info("control: deleted -%c %s", udp ? 'u' : 't',
			 ctl_fwds[k].spec);
		ctl_fwd_remove(c, k);
		ctl_out("ok\n");
		return;
	}
	ctl_out("error: -%c %s: no such forward added at run time\n",
		udp ? 'u' : 't', spec);
}

/* One run of ports of binding @b with one translation, as in a SPEC */
static void ctl_show_run(const struct fwd_ports *fp, unsigned int first,
			 unsigned int last, bool *sep)
{
	uint16_t d = fwd_port_dest(fp, (uint16_t)first);

	ctl_out("%s%u", *sep ? "," : "", first);
	if (last > first)
		ctl_out("-%u", last);
	if (d != first) {
		ctl_out(":%u", d);
		if (last > first)
			ctl_out("-%u", fwd_port_dest(fp, (uint16_t)last));
	}
	*sep = true;
}

/* The ports of binding @b, as a SPEC's comma list; Return: any printed */
static bool ctl_show_ports(const struct fwd_ports *fp,
			   const struct fwd_bind *b, bool first)
{
	unsigned int p, q;
	bool sep = false;

	if (first && (fp->flags & FWD_AUTO)) {
		ctl_out("auto");
		sep = true;
	} else if (b->all || (first && !(fp->flags & FWD_SPEC))) {
		ctl_out("%s", fp->flags & FWD_AUTO ? "auto" : "all");
		sep = true;
	}
	for (p = 1; p < FWD_PORTS; p = q + 1) {
		for (q = p; q < FWD_PORTS && !fwd_bit_test(b->map, q); q++)
			;
		if (q == FWD_PORTS)
			break;
		for (p = q; q + 1 < FWD_PORTS && fwd_bit_test(b->map, q + 1) &&
		     fp->delta[q + 1] == fp->delta[p]; q++)
			;
		ctl_show_run(fp, p, q, &sep);
	}
	for (p = 1; first && p < FWD_PORTS; p++) {
		if (fwd_bit_test(fp->excl, p)) {
			ctl_out("%s~%u", sep ? "," : "", p);
			sep = true;
		}
	}
	return sep;
}

/*
 * The command line's forwarding of one protocol, a line per binding with
 * ports (exclusions, which hold for all of them, with the first)
 */
static void ctl_show_cmdline(const struct fwd_ports *fp, char opt)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int i;
	size_t start;

	if (!fp->flags || (fp->flags & FWD_NONE))
		return;
	for (i = 0; i < fp->bind_n; i++) {
		const struct fwd_bind *b = &fp->bind[i];

		start = ctl.out_len;
		ctl_out("-%c ", opt);
		if (!b->any)
			ctl_out("%s", inany_ntop(&b->addr, a, sizeof(a)));
		if (*b->ifname)
			ctl_out("%%%s", b->ifname);
		if (!b->any || *b->ifname)
			ctl_out("/");
		if (ctl_show_ports(fp, b, !i))
			ctl_out("\t(command line)\n");
		else
			ctl.out_len = start;	/* nothing bound there */
	}
}

/* show: the command line's -t and -u, then what was added at run time */
static void ctl_show(void)
{
	unsigned int k;

	ctl_out("ok\n");
	ctl_show_cmdline(ctl_cmdline[0], 't');
	ctl_show_cmdline(ctl_cmdline[1], 'u');
	for (k = 0; k < ctl_fwd_n; k++)
		ctl_out("-%c %s\t(%u sockets)\n", ctl_fwds[k].udp ? 'u' : 't',
			ctl_fwds[k].spec, ctl_fwds[k].n);
}

/* The request is complete: act on it, fill the reply */
static void ctl_request(struct ctx *c)
{
	char *req = ctl.in, *verb, *args;
	size_t i;

	ctl.in[ctl.in_len] = '\0';
	if (ctl.in_len && ctl.in[ctl.in_len - 1] == '\n')
		ctl.in[--ctl.in_len] = '\0';
	for (i = 0; i < ctl.in_len; i++) {
		if ((unsigned char)req[i] < 0x20 || req[i] == 0x7f) {
			ctl_out("error: malformed request\n");
			return;
		}
	}
	verb = strtok(req, " ");
	args = strtok(NULL, "");
	if (!verb)
		ctl_out("error: empty request\n");
	else if (!strcmp(verb, "show") && !args)
		ctl_show();
	else if (!strcmp(verb, "add") && args)
		ctl_add(c, args);
	else if (!strcmp(verb, "delete") && args)
		ctl_delete(c, args);
	else
		ctl_out("error: unknown request (add, delete, show)\n");
	if (strncmp(ctl.out, "ok\n", 3))
		log_debug("control: %.*s", (int)strcspn(ctl.out, "\n"),
			  ctl.out);
}

/*
 * Read what the client sent; once the request is complete, act on it.
 * Return: true if the reply is ready, false to wait for more (or if the
 * client is gone: then it was ended here)
 */
static bool ctl_read(struct ctx *c)
{
	size_t room;
	char *nl;
	ssize_t n;

	for (;;) {
		room = CTL_REQ_MAX - ctl.in_len;
		if (!room) {
			ctl_out("error: request too long (%u bytes at most)\n",
				CTL_REQ_MAX);
			return true;
		}
		n = recv(ctl.fd, ctl.in + ctl.in_len, room, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n < 0 || (n == 0 && !ctl.in_len)) {
			ctl_end(c);
			return false;
		}
		if (n == 0)
			break;		/* the end of the stream ends it too */
		nl = memchr(ctl.in + ctl.in_len, '\n', (size_t)n);
		ctl.in_len += (size_t)n;
		if (nl && nl != ctl.in + ctl.in_len - 1) {
			ctl_out("error: one request per connection\n");
			return true;
		}
		if (nl)
			break;
	}
	ctl_request(c);
	return true;
}

/*
 * Send what is left of the reply. Once it is all out, shut our side down
 * (the client sees the end of the reply) and read what the client may
 * still send (a request cut short, or too long) until its end of stream:
 * closing with unread data would reset the connection, and the client
 * could lose the reply.
 */
static void ctl_write(struct ctx *c)
{
	ssize_t n;

	while (ctl.out_sent < ctl.out_len) {
		n = send(ctl.fd, ctl.out + ctl.out_sent,
			 ctl.out_len - ctl.out_sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			ctl_end(c);
			return;
		}
		ctl.out_sent += (size_t)n;
	}
	shutdown(ctl.fd, SHUT_WR);
	ctl.draining = true;
	ctl_epoll(c, EPOLL_CTL_MOD, ctl.fd, EPOLL_TYPE_CTL_CONN, EPOLLIN);
}

/* Drop what the client sends after its request, until its end */
static void ctl_drain(struct ctx *c)
{
	ssize_t n;

	do
		n = recv(ctl.fd, ctl.in, sizeof(ctl.in), MSG_DONTWAIT);
	while (n > 0);
	if (n == 0 || errno != EAGAIN)
		ctl_end(c);
}

/**
 * ctl_run() - Serve the control socket (after the loop's batch)
 * @c:		Execution context
 */
void ctl_run(struct ctx *c)
{
	if (ctl.lfd < 0)
		return;
	if (ctl.fd < 0)
		ctl_accept(c);
	if (ctl.fd < 0)
		return;
	if (ctl.draining) {
		ctl_drain(c);
		return;
	}
	if (!ctl.replying) {
		if (!ctl_read(c))
			return;
		ctl.replying = true;
		if (ctl.out_full) {
			/* room for the mark was kept: see CTL_REPLY_MAX */
			ctl.out_len = MIN(ctl.out_len, sizeof(ctl.out) - 32);
			ctl.out_len += (size_t)snprintf(ctl.out + ctl.out_len,
							32, "(truncated)\n");
		}
		ctl_epoll(c, EPOLL_CTL_MOD, ctl.fd, EPOLL_TYPE_CTL_CONN,
			  EPOLLOUT);
	}
	ctl_write(c);
	if (ctl.fd >= 0 && ctl.draining)
		ctl_drain(c);
}

/**
 * ctl_next_ms() - When the client being served is dropped
 *
 * Return: time in ms, UINT64_MAX if no client is being served
 */
uint64_t ctl_next_ms(void)
{
	return ctl.fd < 0 ? UINT64_MAX : ctl.deadline;
}

/**
 * ctl_timer() - Drop a client that did not finish in CTL_TIMEOUT_MS
 * @c:		Execution context
 */
void ctl_timer(struct ctx *c)
{
	if (ctl.fd < 0 || c->now_ms < ctl.deadline)
		return;
	log_debug("control: client timed out");
	ctl_end(c);
}
