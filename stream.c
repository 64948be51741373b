/* stream.c - the VM frontend: Ethernet frames over a UNIX stream socket,
 * each behind a 32-bit big-endian length, as QEMU's -netdev stream speaks
 *
 * Theory of operation
 * In VM mode the guest is a QEMU process connected to a UNIX stream socket
 * we listen on (or one we inherited, already connected). There is one
 * guest at a time: a second connection is accepted only to be closed,
 * with a log line, so that it fails at once instead of hanging in the
 * backlog. The stream carries, each way, a 32-bit big-endian length and
 * that many bytes of Ethernet frame (no virtio-net header, so frames
 * toward the guest carry full checksums).
 *
 * Input: on each wake-up one read() takes as many bytes as the receive
 * buffer holds, every complete frame in them is parsed (tap_parse()) and
 * the whole batch goes to tap_dispatch(), so protocols see the frames of
 * a flow together exactly as they do from the tap. A frame cut by the end
 * of a read stays at the end of the buffer and is completed by the next
 * read: before reading, the partial frame moves to the start of its
 * buffer, or to another buffer if a protocol still holds this one (see
 * struct frame_buf; the buffer read into is held by this file too, so
 * that the partial frame is never released under it). A length of zero
 * or beyond the largest frame the MTU allows cannot be resynchronised
 * (the stream has no markers): that client is closed with one error
 * line.
 *
 * Output: stream_flush() is the output queue's flush hook. It sends every
 * queued frame, each behind its length, with one sendmsg() per IOV_MAX
 * pieces. The socket is non-blocking: when it takes only part of the
 * bytes, what is left (the unsent end of one frame, then whole frames)
 * is copied to a static pending buffer and EPOLLOUT is requested; the
 * pending bytes go first on the next flush or when the socket is writable
 * again, so the length framing never breaks. When the guest does not read
 * and the pending buffer is full, whole frames are dropped and counted.
 * Without a guest, queued frames are discarded. Checksums are complete
 * (csum_skip is off): a frame with a partial one is completed here.
 * The listening socket takes guests through accept.c, which also
 * refuses them without spinning when the daemon is out of descriptors.
 * System calls: socket, bind, listen, connect, lstat, unlink, read,
 * sendmsg, send, setsockopt, getsockopt, epoll_ctl, close.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "accept.h"
#include "checksum.h"
#include "epoll_ref.h"
#include "log.h"
#include "pcap.h"
#include "stream.h"
#include "tap.h"
#include "zerocopy.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_VM, read);
SYSCALL_ALLOW(SYS_VM, sendto);
SYSCALL_ALLOW(SYS_VM, sendmsg);
SYSCALL_ALLOW_ARG(SYS_VM, setsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW_ARG(SYS_VM, getsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW(SYS_VM, epoll_ctl);
SYSCALL_ALLOW(SYS_VM, close);

#define STREAM_BUFS		4	/* receive buffers, TAP_RX_POOL each */
#define STREAM_FRAMES_MAX	4096	/* frames dispatched as one batch */
#define STREAM_LEN		4	/* length before each frame */
#define STREAM_TX_PENDING	(16 << 20)	/* unsent bytes kept, at most */
#define STREAM_SOCKBUF		(4 << 20)	/* socket buffers we ask for */
/* Pieces of one frame on the stream: its length, then its own pieces */
#define STREAM_FRAME_IOV	(1 + FRAME_IOV)

_Static_assert(STREAM_TX_PENDING >= STREAM_LEN + FRAME_MAX,
	       "the unsent end of any frame must fit the pending buffer");
_Static_assert(TAP_RX_POOL >= 2 * (STREAM_LEN + FRAME_MAX),
	       "a read must find room after a partial frame");

static int stream_fd = -1;		/* connected guest, -1 if none */
static int stream_epollfd = -1;

static struct frame_buf stream_bufs[STREAM_BUFS];
static struct frame_buf *stream_cur;	/* buffer with the partial frame */
static size_t stream_off;		/* where the partial frame starts */
static size_t stream_have;		/* its bytes so far */

static uint8_t stream_tx[STREAM_TX_PENDING];
static size_t stream_tx_off;		/* first unsent pending byte */
static size_t stream_tx_len;		/* end of pending bytes */
static bool stream_tx_wait;		/* EPOLLOUT requested */

/**
 * stream_init() - Set up receive buffers and take over the output queue
 * @c:		Execution context
 *
 * Return: 0 on success, -ENOMEM on failure
 */
int stream_init(struct ctx *c)
{
	unsigned int i;

	for (i = 0; i < STREAM_BUFS; i++) {
		stream_bufs[i].data = malloc(TAP_RX_POOL);
		if (!stream_bufs[i].data)
			return -ENOMEM;
		stream_bufs[i].size = TAP_RX_POOL;
	}
	/* held while it is the one read into (zerocopy.c's bound) */
	stream_cur = &stream_bufs[0];
	frame_buf_hold(stream_cur);
	zc_bufs(stream_bufs, STREAM_BUFS);
	stream_epollfd = c->epollfd;
	c->q->flush = stream_flush;
	c->q->csum_skip = false;	/* no virtio-net header to say so */
	return 0;
}

/* Fill a UNIX socket address; -ENAMETOOLONG if @path does not fit */
static int stream_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	strcpy(a->sun_path, path);
	return 0;
}

/*
 * Bind and listen on @path. A socket file nobody listens on any more (a
 * daemon that was killed leaves it behind) is replaced; one with a live
 * listener gives -EADDRINUSE, a file that is no socket -EEXIST.
 * Return: listening socket or negative errno
 */
static int stream_listen_one(const char *path)
{
	struct sockaddr_un a;
	int fd, probe, rc;
	struct stat st;

	rc = stream_addr(&a, path);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (errno != EADDRINUSE)
			goto fail_errno;
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			rc = -errno;
			goto fail;
		}
		rc = connect(probe, (struct sockaddr *)&a, sizeof(a));
		rc = rc ? errno : 0;
		close(probe);
		if (rc != ECONNREFUSED) {
			rc = -EADDRINUSE;
			goto fail;
		}
		/* Connecting to a file that is no socket is refused too:
		 * never remove one of those */
		if (lstat(path, &st) || !S_ISSOCK(st.st_mode)) {
			rc = -EEXIST;
			goto fail;
		}
		unlink(path);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			goto fail_errno;
	}
	if (listen(fd, 8))
		goto fail_errno;
	return fd;
fail_errno:
	rc = -errno;
fail:
	close(fd);
	return rc;
}

/**
 * stream_listen() - Listen for the guest on a UNIX socket
 * @path:	Socket path, NULL for the first free one of
 *		/tmp/passt_1.socket ... /tmp/passt_64.socket
 * @bound:	Path used, filled on success
 * @size:	Size of @bound
 *
 * Return: listening socket, or negative errno
 */
int stream_listen(const char *path, char *bound, size_t size)
{
	char p[STREAM_PATH_MAX];
	int i, fd = -EADDRINUSE;

	if (path) {
		fd = stream_listen_one(path);
		if (fd >= 0)
			snprintf(bound, size, "%s", path);
		return fd;
	}
	for (i = 1; i <= STREAM_DEFAULT_MAX; i++) {
		snprintf(p, sizeof(p), "/tmp/passt_%d.socket", i);
		fd = stream_listen_one(p);
		if (fd >= 0) {
			snprintf(bound, size, "%s", p);
			return fd;
		}
	}
	return fd;
}

/* Make a connected socket the guest's: non-blocking, watched by epoll */
static int stream_take(struct ctx *c, int fd)
{
	union epoll_ref ref = { .type = EPOLL_TYPE_STREAM, .fd = fd };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = ref.u64 };
	int sz = STREAM_SOCKBUF;

	if (fd_nonblock(fd))
		return -errno;
	/* Larger buffers mean fewer partial writes; the kernel caps them */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (epoll_ctl(c->epollfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	stream_fd = fd;
	stream_tx_wait = false;
	/* Again: the RA schedule ran on while no guest was there */
	tap_guest_reset(c);
	return 0;
}

/**
 * stream_attach() - Use an inherited connected socket as the guest (-F)
 * @c:		Execution context
 * @fd:		Descriptor: must be a stream socket
 *
 * Return: 0 on success, negative errno (-ENOTSOCK: not a stream socket)
 */
int stream_attach(struct ctx *c, int fd)
{
	socklen_t sl = sizeof(int);
	int type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl))
		return errno == EBADF ? -EBADF : -ENOTSOCK;
	if (type != SOCK_STREAM)
		return -ENOTSOCK;
	return stream_take(c, fd);
}

/**
 * stream_accept() - Accept a guest's connection on the listening socket
 * @c:		Execution context
 * @lfd:	Listening socket
 *
 * Return: 0 if a guest connected, 1 if the connection was refused (a
 *	   guest is connected already) or nothing was pending, negative errno
 */
int stream_accept(struct ctx *c, int lfd)
{
	int fd = accept_conn(lfd, NULL, NULL);
	int rc;

	if (fd < 0)
		return fd == -EAGAIN || fd == -EINTR ||
		       fd == -ECONNABORTED ? 1 : fd;
	if (stream_fd >= 0) {
		/* Closing at once tells the second client, rather than
		 * leaving it connected to nothing */
		log_warn("guest connection refused: one guest is connected");
		close(fd);
		return 1;
	}
	rc = stream_take(c, fd);
	if (rc) {
		close(fd);
		return rc;
	}
	log_info("guest connected");
	return 0;
}

/**
 * stream_connected() - Is a guest connected?
 *
 * Return: true if so
 */
bool stream_connected(void)
{
	return stream_fd >= 0;
}

/* Watch for writability only while pending bytes wait for it */
static void stream_tx_watch(bool out)
{
	union epoll_ref ref = { .type = EPOLL_TYPE_STREAM, .fd = stream_fd };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = ref.u64 };

	if (out == stream_tx_wait || stream_fd < 0)
		return;
	if (out)
		ev.events |= EPOLLOUT;
	if (!epoll_ctl(stream_epollfd, EPOLL_CTL_MOD, stream_fd, &ev))
		stream_tx_wait = out;
}

/* Forget the guest: socket, partial frame, pending output, what we learnt */
static void stream_close(struct ctx *c)
{
	epoll_ctl(c->epollfd, EPOLL_CTL_DEL, stream_fd, NULL);
	close(stream_fd);
	stream_fd = -1;
	stream_tx_wait = false;
	stream_off = stream_have = 0;
	stream_tx_off = stream_tx_len = 0;
	frame_queue_reset(c->q);
	/* The next guest may be another machine: learn it afresh */
	tap_guest_reset(c);
}

/*
 * Send pending bytes. Return: 0 if all went or the socket is full (the
 * rest waits for EPOLLOUT), -1 if the connection failed
 */
static int stream_tx_send(void)
{
	while (stream_tx_off < stream_tx_len) {
		ssize_t n = send(stream_fd, stream_tx + stream_tx_off,
				 stream_tx_len - stream_tx_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				stream_tx_watch(true);
				return 0;
			}
			log_debug("stream: send: %s", strerror(errno));
			return -1;
		}
		stream_tx_off += (size_t)n;
	}
	stream_tx_off = stream_tx_len = 0;
	stream_tx_watch(false);
	return 0;
}

/* Copy bytes [@from, @to) of a frame as the stream has it (length, then
 * frame) to the end of the pending buffer, which has room for them */
static void stream_tx_copy(const struct frame_out *o, size_t from, size_t to)
{
	uint8_t len[STREAM_LEN];
	size_t pos = 0, a, b;
	int i;

	wr32(len, (uint32_t)o->len);
	for (i = -1; i < o->iovcnt && pos < to; i++) {
		const uint8_t *base = i < 0 ? len : o->iov[i].iov_base;
		size_t plen = i < 0 ? STREAM_LEN : o->iov[i].iov_len;

		a = MAX(from, pos);
		b = MIN(to, pos + plen);
		if (a < b) {
			memcpy(stream_tx + stream_tx_len, base + (a - pos),
			       b - a);
			stream_tx_len += b - a;
		}
		pos += plen;
	}
}

/*
 * Keep what sendmsg() did not take of frames @first onwards, @sent bytes
 * of which (counted from the length of frame @first) did go. Return: number
 * of frames dropped for lack of room
 */
static unsigned int stream_tx_keep(const struct frame_queue *q,
				   unsigned int first, size_t sent)
{
	unsigned int i, dropped = 0;

	if (stream_tx_off) {
		memmove(stream_tx, stream_tx + stream_tx_off,
			stream_tx_len - stream_tx_off);
		stream_tx_len -= stream_tx_off;
		stream_tx_off = 0;
	}
	for (i = first; i < q->n; i++) {
		const struct frame_out *o = &q->out[i];
		size_t all = STREAM_LEN + o->len;

		if (!o->iovcnt)
			continue;
		if (sent >= all) {
			sent -= all;
			continue;
		}
		/* A frame begun must be finished: it always fits (the
		 * buffer was empty, see stream_flush()); others may not */
		if (!sent && stream_tx_len + all > STREAM_TX_PENDING) {
			drop(DROP_QUEUE_FULL);
			dropped++;
			continue;
		}
		stream_tx_copy(o, sent, all);
		sent = 0;
	}
	log_trace("stream: %zu bytes pending, %u frames dropped",
		  stream_tx_len, dropped);
	return dropped;
}

/* Before sending: complete checksums (or skip the frame), capture */
static void stream_tx_prepare(struct frame_queue *q)
{
	unsigned int i;

	for (i = 0; i < q->n; i++) {
		struct frame_out *o = &q->out[i];

		if (frame_csum_complete(o)) {
			drop(DROP_QUEUE_FULL);
			o->iovcnt = 0;	/* skipped from here on */
			o->len = 0;
			continue;
		}
		pcap_frame_iov(o->iov, o->iovcnt, o->len);
	}
}

/**
 * stream_flush() - Send every queued frame to the guest, empty the queue
 * @q:		Output queue
 */
void stream_flush(struct frame_queue *q)
{
	static struct iovec iov[IOV_MAX];
	/* a frame takes two pieces at least: its length, its data */
	static uint8_t lens[IOV_MAX / 2][STREAM_LEN];
	unsigned int i = 0, first, nf, niov;
	size_t total;
	ssize_t n;

	if (stream_fd < 0 || !q->n)
		goto out;
	stream_tx_prepare(q);
	/* Older bytes first: new frames queue behind them if any remain */
	if (stream_tx_len && (stream_tx_send() || stream_tx_len)) {
		stream_tx_keep(q, 0, 0);
		goto out;
	}
	while (i < q->n) {
		first = i;
		total = 0;
		for (nf = niov = 0; i < q->n && nf < ARRAY_SIZE(lens) &&
		     niov + STREAM_FRAME_IOV <= IOV_MAX; i++) {
			const struct frame_out *o = &q->out[i];

			if (!o->iovcnt)
				continue;
			wr32(lens[nf], (uint32_t)o->len);
			iov[niov].iov_base = lens[nf++];
			iov[niov++].iov_len = STREAM_LEN;
			memcpy(iov + niov, o->iov, sizeof(*iov) * o->iovcnt);
			niov += (unsigned int)o->iovcnt;
			total += STREAM_LEN + o->len;
		}
		do {
			struct msghdr mh = { .msg_iov = iov,
					     .msg_iovlen = niov };

			n = sendmsg(stream_fd, &mh,
				    MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			/* The read side sees the hang-up and closes */
			log_debug("stream: sendmsg: %s", strerror(errno));
			goto out;
		}
		if (n < 0)
			n = 0;
		if ((size_t)n < total) {
			stream_tx_keep(q, first, (size_t)n);
			stream_tx_send();
			goto out;
		}
	}
out:
	frame_queue_reset(q);
}

/* Next receive buffer no protocol holds, NULL if all are held */
static struct frame_buf *stream_buf_get(void)
{
	unsigned int i;

	for (i = 0; i < STREAM_BUFS; i++)
		if (!stream_bufs[i].holds)
			return &stream_bufs[i];
	return NULL;
}

/*
 * Read what the guest sent and dispatch every complete frame. Return: 1
 * if something was read, 0 if not (nothing there, or no free buffer), -1
 * if the guest is gone or broke the framing (the caller closes)
 */
static int stream_read(struct ctx *c)
{
	static struct frame_in frames[STREAM_FRAMES_MAX];
	size_t max = ETH_HDR_LEN + (size_t)net_mtu(c->net);
	struct frame_buf *b = stream_cur;
	size_t end, off = 0;
	unsigned int nf = 0;
	int rc = 0;
	ssize_t n;

	/*
	 * Move the partial frame to the start of a buffer nobody holds, if
	 * a protocol holds this one besides us (zerocopy.c leaves one free)
	 */
	if (b->holds > 1) {
		b = stream_buf_get();
		if (!b)
			return 0;	/* level-triggered: read on release */
		memcpy(b->data, stream_cur->data + stream_off, stream_have);
		frame_buf_release(stream_cur);
		frame_buf_hold(b);
		stream_cur = b;
	} else if (stream_off) {
		memmove(b->data, b->data + stream_off, stream_have);
	}
	stream_off = 0;

	n = read(stream_fd, b->data + stream_have, b->size - stream_have);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		log_info("guest connection: %s", strerror(errno));
		return -1;
	}
	if (!n) {
		if (stream_have)
			log_info("guest disconnected in the middle of a "
				 "frame (%zu bytes of it received)",
				 stream_have);
		else
			log_info("guest disconnected");
		return -1;
	}
	end = stream_have + (size_t)n;

	while (end - off >= STREAM_LEN) {
		uint32_t len = rd32(b->data + off);

		if (!len || len > max) {
			log_err("guest sent a frame length of %u (1 to %zu "
				"allowed): closing its connection", len, max);
			rc = -1;
			break;
		}
		if (end - off - STREAM_LEN < len)
			break;
		if (!tap_parse(c, b->data + off + STREAM_LEN, len,
			       &frames[nf])) {
			frames[nf].csum_partial = false;
			frames[nf++].buf = b;
		}
		off += STREAM_LEN + len;
		if (nf == STREAM_FRAMES_MAX) {
			tap_dispatch(c, frames, nf);
			nf = 0;
		}
	}
	tap_dispatch(c, frames, nf);
	stream_off = off;
	stream_have = end - off;
	return rc ? rc : 1;
}

/**
 * stream_handler() - Events on the guest's socket
 * @c:		Execution context
 * @events:	epoll events
 *
 * Return: 0, or -1 if the guest went away or was disconnected (for a
 *	   broken stream); its socket is closed then, the caller closes flows
 */
int stream_handler(struct ctx *c, uint32_t events)
{
	int rc, i = 0;

	if (stream_fd < 0)
		return 0;
	if ((events & EPOLLOUT) && stream_tx_send())
		goto gone;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		return 0;
	/*
	 * After a hang-up nothing more comes: read up to the end now, so that
	 * a guest reconnecting at once (same loop iteration) finds the old
	 * connection gone rather than being refused. Bounded: the peer can
	 * add nothing, but buffers may all be held.
	 */
	do
		rc = stream_read(c);
	while (rc > 0 && (events & (EPOLLHUP | EPOLLRDHUP)) && ++i < 64);
	if (rc < 0)
		goto gone;
	return 0;
gone:
	stream_close(c);
	return -1;
}
