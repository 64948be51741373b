/* accept.c - accepting connections on listening sockets, also when the
 * daemon is out of descriptors
 *
 * Theory of operation
 * Listening sockets are level-triggered: while a connection waits in the
 * listen queue, every epoll_wait() reports the listener again. If
 * accept4() fails for want of a descriptor (EMFILE: our RLIMIT_NOFILE,
 * ENFILE: the system's table of open files), the connection stays in the
 * queue, so retrying on every wake-up spins at full speed while the
 * client waits for nothing.
 *
 * So one descriptor is held in reserve from the start (a copy of one of
 * /dev/null, kept to make the next copy from: there is no file system to
 * open it from once the daemon is confined). On
 * EMFILE or ENFILE, if a connection is pending (accept4() reserves the
 * descriptor before it looks at the queue, so these errors come with an
 * empty queue too; poll() tells), the reserve is closed, which frees one
 * descriptor number (and, once the reserve is a socket taken at an earlier
 * refusal, one open file: the first reserve shares the open file of its
 * copy, so the first ENFILE frees none); the pending connection is
 * accepted into them and shut down at once, so its client sees the
 * connection end instead of hanging; and that socket, still holding the
 * number and the file, becomes the reserve, closed (with a reset, if the
 * peer has not closed yet) at the next such refusal. Nothing is opened
 * on the way, so nothing can fail for want of a descriptor, and the
 * listen queue drains one refusal per call: the listener goes quiet once
 * it is empty.
 *
 * Each refusal is counted (DROP_NO_FD). The condition is logged once at
 * the first refusal, and at most once a minute after that, with the
 * number of refusals since, rather than once per event.
 *
 * Should the reserve ever be lost (accept4() fails again after the
 * reserve was closed: another process took the freed open file, or the
 * peer went away), it is opened again after the next connection
 * accepted, or at the next refusal, if it can be; until then a
 * connection that cannot be accepted stays queued, and the listener is
 * reported again.
 *
 * System calls: declared below (syscalls.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "accept.h"
#include "log.h"
#include "util.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, accept4);
SYSCALL_ALLOW(SYS_NS | SYS_VM, close);
SYSCALL_ALLOW(SYS_NS | SYS_VM, shutdown);
SYSCALL_ALLOW(SYS_NS | SYS_VM, poll);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, fcntl, 1, F_DUPFD_CLOEXEC);

#define ACCEPT_LOG_MS	60000	/* at most one warning a minute */

static int accept_reserve = -1;		/* the descriptor held in reserve */
static int accept_template = -1;	/* /dev/null, copied into the reserve */
static uint64_t accept_log_ms;		/* last warning, 0: none yet */
static uint64_t accept_refused;		/* refusals since the last warning */

/* Open the reserve if there is none. Return: 0 if there is one */
static int accept_reserve_open(void)
{
	if (accept_template < 0)	/* at start, with a file system */
		accept_template = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (accept_reserve < 0 && accept_template >= 0)
		accept_reserve = fcntl(accept_template, F_DUPFD_CLOEXEC, 0);
	return accept_reserve < 0 ? -errno : 0;
}

/**
 * accept_init() - Open the reserve descriptor (at start, while the file
 * system is at hand)
 */
void accept_init(void)
{
	int rc = accept_reserve_open();

	if (rc)
		log_warn("accept: no reserve descriptor: %s", strerror(-rc));
}

/* Is a connection waiting on @lfd? */
static bool accept_pending(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Count a refusal for want of descriptors, warn at most once a minute */
static void accept_refusal(int err)
{
	uint64_t now = now_ms();

	drop(DROP_NO_FD);
	accept_refused++;
	if (accept_log_ms && now - accept_log_ms < ACCEPT_LOG_MS)
		return;
	if (!accept_log_ms)
		log_warn("accept: out of descriptors (%s): closing new "
			 "connections at once", strerror(err));
	else
		log_warn("accept: still out of descriptors (%s): %llu "
			 "connections closed since the last warning",
			 strerror(err), (unsigned long long)accept_refused);
	accept_log_ms = now;
	accept_refused = 0;
}

/*
 * Accept the pending connection into the reserve's descriptor, end it,
 * keep its socket as the next reserve. Return: 0 if a connection was
 * refused, -EAGAIN if none was pending, other negative errno if none
 * could be taken
 */
static int accept_refuse(int lfd, int err)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	if (!accept_pending(lfd))
		return -EAGAIN;
	if (accept_reserve_open())
		return -err;
	close(accept_reserve);
	accept_reserve = -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		err = errno;
		accept_reserve_open();
		return -err;
	}
	/* The client sees the end now; the reset comes when it is closed */
	shutdown(fd, SHUT_RDWR);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	accept_reserve = fd;
	accept_refusal(err);
	return 0;
}

/**
 * accept_conn() - Accept a connection, non-blocking and close-on-exec
 * @lfd:	Listening socket
 * @sa:		Peer address, or NULL
 * @sl:		Size of @sa on input, length of the address on output, or
 *		NULL
 *
 * Return: the new descriptor; -ECONNABORTED if a pending connection went
 *	   away (the kernel's, or ours: closed for want of a descriptor):
 *	   the next one may be accepted; other negative errno (-EAGAIN:
 *	   none pending)
 */
int accept_conn(int lfd, struct sockaddr *sa, socklen_t *sl)
{
	int fd = accept4(lfd, sa, sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int rc;

	if (fd >= 0) {
		if (accept_reserve < 0)		/* lost: see above */
			accept_reserve_open();
		return fd;
	}
	if (errno != EMFILE && errno != ENFILE)
		return -errno;
	rc = accept_refuse(lfd, errno);
	return rc ? rc : -ECONNABORTED;
}
