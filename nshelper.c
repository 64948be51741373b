/* nshelper.c - the namespace helper: opens and binds the sockets the
 * confined daemon needs inside the target namespace at run time
 *
 * Theory of operation
 * Sockets for the namespace side (forwarding sockets of -T, -U and their
 * "auto" forms, the connecting side of spliced connections) must be made
 * inside the target network namespace, and binding one to a port below
 * ip_unprivileged_port_start needs CAP_NET_BIND_SERVICE in the user
 * namespace owning it. The daemon holds neither: it left for a user
 * namespace of its own, with no capability (isolation.c). So before it
 * does, it forks this helper, which joins the target's namespaces, is
 * confined in turn (empty root, every capability but
 * CAP_NET_BIND_SERVICE dropped, a filter of eight calls) and then only
 * answers requests on a SOCK_SEQPACKET socket pair:
 *  - NSHELPER_SOCKETS: open up to NSHELPER_BATCH TCP or UDP sockets of
 *    one family; they come back with SCM_RIGHTS;
 *  - NSHELPER_BIND: bind the socket that comes with the request (made by
 *    an earlier NSHELPER_SOCKETS, its options already set by the daemon)
 *    to an address and port, optionally to a device first.
 *  - NSHELPER_KEEP: hold the descriptor that comes with the request (the
 *    tap) until the helper ends, once: closing the last descriptor of a
 *    tap waits for the device's unregistration (20 to 40 ms, more under
 *    load), and with the helper holding it the daemon's exit does not
 *    wait for that: the helper, ending right after the daemon, does.
 *    Whoever waits for the daemon to be gone (Podman, after removing the
 *    namespace) is not kept waiting by the kernel's clean-up.
 * Anything else (another family or type, a raw socket, a descriptor that
 * is not an IPv4 or IPv6 socket, a second descriptor to keep) is refused
 * with EPERM or EINVAL. The
 * helper never writes anything but replies. It ends when the daemon's end
 * of the pair closes, whatever way the daemon ended, so it cannot outlive
 * it; the daemon, finding the helper gone, gets EIO for each request.
 *
 * Requests are synchronous (the helper does nothing that blocks), and
 * bounded by a receive timeout on the daemon's side. The helper's first
 * message says it is confined and serving: the daemon reads it at its
 * first request or before it confines itself (nshelper_wait()), so both
 * set themselves up at the same time.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "isolation.h"
#include "log.h"
#include "nshelper.h"
#include "util.h"

enum nshelper_op {
	NSHELPER_SOCKETS	= 1,
	NSHELPER_BIND		= 2,
	NSHELPER_KEEP		= 3,
};

/**
 * struct nshelper_req - A request from the daemon
 * @op:		enum nshelper_op
 * @af:		AF_INET or AF_INET6
 * @type:	SOCK_STREAM or SOCK_DGRAM, SOCK_NONBLOCK and SOCK_CLOEXEC
 * @proto:	0, IPPROTO_TCP or IPPROTO_UDP
 * @n:		NSHELPER_SOCKETS: how many
 * @sl:		NSHELPER_BIND: length of @sa
 * @sa:		NSHELPER_BIND: address and port
 * @ifname:	NSHELPER_BIND: device to bind to first, "" for none
 */
struct nshelper_req {
	int32_t op;
	int32_t af;
	int32_t type;
	int32_t proto;
	uint32_t n;
	uint32_t sl;
	struct sockaddr_storage sa;
	char ifname[IFNAMSIZ];
};

/* Room for the descriptors of one reply */
union nshelper_cmsg {
	char buf[CMSG_SPACE(sizeof(int) * NSHELPER_BATCH)];
	struct cmsghdr align;
};

#define NSHELPER_TIMEOUT_S	2	/* the daemon gives up waiting after */

static int nshelper_fd = -1;		/* the daemon's end */
static bool nshelper_ready;		/* its first message was read */

SYSCALL_ALLOW(SYS_NS | SYS_HELPER, sendmsg);
SYSCALL_ALLOW(SYS_NS | SYS_HELPER, recvmsg);

/* Send @len bytes of @msg and @n descriptors; Return: 0, or negative errno */
static int nshelper_send(int s, const void *msg, size_t len, const int *fds,
			 int n)
{
	union nshelper_cmsg u;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (n > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	}
	return sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* In the helper: reply @rc, with @n descriptors */
static void nshelper_reply(int s, int32_t rc, const int *fds, int n)
{
	nshelper_send(s, &rc, sizeof(rc), fds, n);
}

/*
 * Receive a message of up to @len bytes into @buf and the descriptors
 * that came with it, at most @max into @fds. Return: bytes, 0 at the end,
 * or negative errno; *@n: descriptors received
 */
static ssize_t nshelper_recv(int s, void *buf, size_t len, int *fds,
			     int max, int *n)
{
	struct iovec iov = { buf, len };
	union nshelper_cmsg u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t rc;

	*n = 0;
	rc = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	if (rc < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int i, k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + sizeof(int) * (size_t)i,
			       sizeof(fd));
			if (*n < max)
				fds[(*n)++] = fd;
			else
				close(fd);	/* more than was asked for */
		}
	}
	return rc;
}

/* Is (@af, @type, @proto) one of the kinds the helper serves? */
static bool nshelper_kind_ok(int af, int type, int proto)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (af != AF_INET && af != AF_INET6)
		return false;
	if (base == SOCK_STREAM)
		return !proto || proto == IPPROTO_TCP;
	if (base == SOCK_DGRAM)
		return !proto || proto == IPPROTO_UDP;
	return false;
}

SYSCALL_ALLOW_ARGS(SYS_HELPER, socket, 0, AF_INET, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW_ARGS(SYS_HELPER, socket, 0, AF_INET6, 1, 0xf, SOCK_STREAM);
SYSCALL_ALLOW_ARGS(SYS_HELPER, socket, 0, AF_INET, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW_ARGS(SYS_HELPER, socket, 0, AF_INET6, 1, 0xf, SOCK_DGRAM);
SYSCALL_ALLOW(SYS_HELPER, close);

/* In the helper: open the sockets of @r and send them */
static void nshelper_do_sockets(int s, const struct nshelper_req *r)
{
	int fds[NSHELPER_BATCH], n = 0, rc = 0;

	if (!nshelper_kind_ok(r->af, r->type, r->proto) || !r->n ||
	    r->n > NSHELPER_BATCH) {
		nshelper_reply(s, -EPERM, NULL, 0);
		return;
	}
	while (n < (int)r->n) {
		fds[n] = socket(r->af, r->type | SOCK_CLOEXEC, r->proto);
		if (fds[n] < 0) {
			rc = -errno;
			break;
		}
		n++;
	}
	nshelper_reply(s, n ? n : rc, fds, n);
	while (n--)
		close(fds[n]);
}

SYSCALL_ALLOW_ARG(SYS_HELPER, getsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW_ARGS(SYS_HELPER, setsockopt, 1, SOL_SOCKET, 2, ~0U,
		   SO_BINDTODEVICE);
SYSCALL_ALLOW(SYS_HELPER, bind);

/* In the helper: is @fd an IPv4 or IPv6 socket of family @af we serve? */
static bool nshelper_fd_ok(int fd, int af)
{
	int dom, type, proto;
	socklen_t sl = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &sl) || dom != af)
		return false;
	sl = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl))
		return false;
	sl = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &sl))
		return false;
	return nshelper_kind_ok(af, type, proto);
}

/* In the helper: bind @fd as @r says, reply with the result */
static void nshelper_do_bind(int s, const struct nshelper_req *r, int fd)
{
	socklen_t want = r->af == AF_INET6 ? sizeof(struct sockaddr_in6) :
			 sizeof(struct sockaddr_in);
	int rc = 0;

	if (fd < 0 || !nshelper_fd_ok(fd, r->af) || r->sl != want ||
	    r->sa.ss_family != r->af ||
	    strnlen(r->ifname, IFNAMSIZ) == IFNAMSIZ)
		rc = -EPERM;
	else if (r->ifname[0] &&
		 setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, r->ifname,
			    (socklen_t)strlen(r->ifname) + 1))
		rc = -errno;
	else if (bind(fd, (const struct sockaddr *)&r->sa, r->sl))
		rc = -errno;
	nshelper_reply(s, rc, NULL, 0);
}

/* In the helper: answer requests until the daemon is gone */
static void nshelper_serve(int s)
{
	int kept = -1;

	for (;;) {
		struct nshelper_req r;
		int fd = -1, n;
		ssize_t len;

		len = nshelper_recv(s, &r, sizeof(r), &fd, 1, &n);
		if (!len || (len < 0 && len != -EINTR))
			_exit(0);
		if (len < 0)
			continue;
		if (len != sizeof(r))
			nshelper_reply(s, -EINVAL, NULL, 0);
		else if (r.op == NSHELPER_SOCKETS)
			nshelper_do_sockets(s, &r);
		else if (r.op == NSHELPER_BIND)
			nshelper_do_bind(s, &r, n ? fd : -1);
		else if (r.op == NSHELPER_KEEP && n && kept < 0) {
			kept = fd;	/* never closed: see above */
			n = 0;
			nshelper_reply(s, 0, NULL, 0);
		} else {
			nshelper_reply(s, -EINVAL, NULL, 0);
		}
		if (n)
			close(fd);
	}
}

/* The helper's life: join, confine, say it is ready, serve */
static void nshelper_main(const struct ns_target *t, int s)
{
	const struct isolation is = { .mode = SYS_HELPER,
				      .keep_bind_service = true };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (devnull < 0 || ns_enter(t))
		_exit(1);
	log_file_close();	/* the helper never writes but its replies */
	log_set_stderr(false);
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	isolation_close_inherited(s);
	if (isolation_enter(&is))
		_exit(1);
	nshelper_reply(s, 0, NULL, 0);
	nshelper_serve(s);
}

/**
 * nshelper_start() - Fork the helper into the target's namespaces; it
 * confines itself while the daemon goes on with its own set-up
 * @t:		Target
 *
 * Return: 0 on success, negative errno
 */
int nshelper_start(const struct ns_target *t)
{
	struct timeval tv = { .tv_sec = NSHELPER_TIMEOUT_S };
	int sv[2], rc;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (!pid)
		nshelper_main(t, sv[1]);
	close(sv[1]);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nshelper_fd = sv[0];
	return 0;
}

/**
 * nshelper_wait() - Wait until the helper says it is confined and serving
 *
 * Return: 0 if it is, negative errno if it failed or is gone
 */
int nshelper_wait(void)
{
	int32_t ready;
	ssize_t rc;
	int fd, n;

	if (nshelper_ready)
		return 0;
	if (nshelper_fd < 0)
		return -EIO;
	rc = nshelper_recv(nshelper_fd, &ready, sizeof(ready), &fd, 0, &n);
	if (rc != sizeof(ready) || ready) {
		close(nshelper_fd);
		nshelper_fd = -1;
		return rc < 0 ? (int)rc : -ECHILD;
	}
	nshelper_ready = true;
	return 0;
}

/* Send @r (and @fd, if not negative), wait for the reply and its fds */
static int nshelper_ask(const struct nshelper_req *r, int fd, int *fds,
			int max)
{
	int32_t rc;
	ssize_t len;
	int n = 0;

	if (nshelper_wait())
		return -EIO;
	if (nshelper_send(nshelper_fd, r, sizeof(*r), &fd, fd >= 0) < 0)
		return -EIO;
	len = nshelper_recv(nshelper_fd, &rc, sizeof(rc), fds, max, &n);
	if (len != sizeof(rc)) {
		while (n--)
			close(fds[n]);
		return -EIO;
	}
	if (rc > n)		/* fewer arrived than sent: no room (EMFILE) */
		return n ? n : -EMFILE;
	return rc;
}

/**
 * nshelper_sockets() - Open sockets inside the target namespace
 * @af:		AF_INET or AF_INET6
 * @type:	SOCK_STREAM or SOCK_DGRAM, with SOCK_NONBLOCK, SOCK_CLOEXEC
 * @proto:	IPPROTO_TCP, IPPROTO_UDP or 0
 * @fds:	Filled with the sockets
 * @n:		How many are wanted (at most NSHELPER_BATCH are opened)
 *
 * Return: how many were opened, or negative errno
 */
int nshelper_sockets(int af, int type, int proto, int *fds, int n)
{
	struct nshelper_req r = { .op = NSHELPER_SOCKETS, .af = af,
				  .type = type, .proto = proto,
				  .n = (uint32_t)MIN(n, NSHELPER_BATCH) };

	return nshelper_ask(&r, -1, fds, (int)r.n);
}

/**
 * nshelper_keep() - Have the helper hold a descriptor until it ends
 * @fd:		Descriptor (the tap)
 *
 * Return: 0 on success, negative errno on failure
 */
int nshelper_keep(int fd)
{
	struct nshelper_req r = { .op = NSHELPER_KEEP };

	return nshelper_ask(&r, fd, NULL, 0);
}

/**
 * nshelper_bind() - Bind a socket of the namespace, with its privilege
 * @fd:		Socket, from nshelper_sockets()
 * @sa:		Address and port
 * @sl:		Length of @sa
 * @ifname:	Device to bind to first, NULL or "" for none
 *
 * Return: 0 on success, negative errno on failure
 */
int nshelper_bind(int fd, const struct sockaddr *sa, socklen_t sl,
		  const char *ifname)
{
	struct nshelper_req r = { .op = NSHELPER_BIND, .af = sa->sa_family,
				  .sl = sl };

	if (sl > sizeof(r.sa) || (ifname && strlen(ifname) >= IFNAMSIZ))
		return -EINVAL;
	memcpy(&r.sa, sa, sl);
	if (ifname)
		strcpy(r.ifname, ifname);
	return nshelper_ask(&r, fd, NULL, 0);
}
