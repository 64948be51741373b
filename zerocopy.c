/* zerocopy.c - MSG_ZEROCOPY sends from the frame buffers payload arrived
 * in, and the completions that give the buffers back
 *
 * Theory of operation
 * A protocol writing a batch of the guest's payload to a socket may lend
 * the kernel the frame buffer it arrived in instead of having it copied:
 * zc_sendmsg() sends with MSG_ZEROCOPY (the socket got SO_ZEROCOPY from
 * zc_sock_init()) and holds the buffer (frame_buf_hold()) until the
 * kernel says it no longer reads those pages. The kernel numbers the
 * successful MSG_ZEROCOPY sends of each socket from 0 (a failed one takes
 * no number), so each send in flight is a record carrying its number and
 * its buffer, on a list per socket in number order (struct zc_sock).
 *
 * Completions: the kernel queues on the socket's error queue one
 * notification per range of send numbers it is done with, merging
 * adjacent ranges while they wait there (struct sock_extended_err with
 * origin SO_EE_ORIGIN_ZEROCOPY, the range in ee_info..ee_data), and the
 * socket reads as EPOLLERR. zc_errqueue() drains the queue on that event:
 * one recvmsg(MSG_ERRQUEUE) per notification, each covering however many
 * sends completed meanwhile, not one call per send.
 *
 * IP_RECVERR/IPV6_RECVERR is not set, and need not be: the option only
 * decides whether ICMP errors and local send errors are queued on the
 * error queue; zerocopy notifications are queued there unconditionally,
 * and EPOLLERR is reported for a non-empty error queue whatever the
 * events asked for (Documentation/networking/msg_zerocopy.rst,
 * "Notification Reception": "Errors are signaled unconditionally"; in
 * Linux 6.12, __msg_zerocopy_callback() queues the notification without
 * looking at the option, and ip_recv_error()/ipv6_recv_error() hand it
 * out on MSG_ERRQUEUE as a SOL_IP/IP_RECVERR or SOL_IPV6/IPV6_RECVERR
 * control message, by the socket's family, again without looking at
 * it; the kernel's own packetdrill test tcp_zerocopy_basic.pkt reads
 * them without setting it). Setting it would only add harm: on a TCP
 * socket it makes every ICMP error a hard error of the connection. The
 * error queue of our sockets so carries nothing but notifications; the
 * socket's owner tells them from a real error with SO_ERROR.
 *
 * When the kernel could not take the pages by reference (every local
 * peer: loopback, veth, a tap, a bridge deliver to a socket, which copies
 * lent pages when it receives them), the notification carries
 * SO_EE_CODE_ZEROCOPY_COPIED: the send cost the page pinning and the
 * notification on top of the copy, so that socket stops using zerocopy
 * (said once in the log). A test option keeps it on all the same, so the
 * tests can run the whole mechanism on a machine where every path is
 * local.
 *
 * Bounds, so the frontend never stalls: the frontend registers its
 * receive buffers (zc_bufs()) and holds the one whose frames it is
 * dispatching; a send may lend a buffer only if, afterwards, one of them
 * is still free for the next read, so at most all but one are lent and
 * the frontend always has one to read into. A send that would go past
 * that, or finds no free record, or that the kernel refuses with ENOBUFS,
 * is sent again copying, and counted. The kernel says ENOBUFS before
 * taking any byte (a refused send takes no number, so the numbering
 * holds) when the notification it allocates for a send does not fit in
 * the socket's option memory (net.core.optmem_max, per network namespace
 * since Linux 6.9; a notification stays charged there until it is read,
 * so draining the queue promptly keeps this away), or when the pages to
 * pin would take the user past RLIMIT_MEMLOCK (counted per user, across
 * all its processes, unless CAP_IPC_LOCK in the initial namespace: a
 * rootless daemon is limited, by its neighbours' pinned pages too).
 * Batches below --zerocopy-min are always copied: pinning pages costs
 * more than copying a few of them.
 *
 * Ending: a socket closed while sends are in flight may still be sending
 * those pages (a closed socket lingers in the kernel until its data is
 * acknowledged) and, once closed, no notification comes any more. So the
 * owner hands such a socket over (zc_close()): it stays open here,
 * registered with epoll for its error queue alone, until the last
 * completion (bounded by the kernel's own retransmission limit, which
 * ends the connection and frees its data); an abortive close becomes a
 * disconnect first (connect(AF_UNSPEC): the reset, and the queues
 * dropped, with the socket still open to be told). If the table of such
 * sockets is full, the buffers are released at close and that is
 * counted. At exit the process goes, and the pinned pages with their
 * data stay for the kernel, so everything is released.
 *
 * A test option overwrites each buffer the moment the last hold goes: a
 * buffer given back before its completion then shows as corrupted data
 * at the receiver, as soon as the kernel reads the pages again (a
 * retransmission, or a copy made on delivery after the release).
 *
 * System calls: sendmsg, recvmsg, setsockopt(SOL_SOCKET), connect,
 * epoll_ctl, close.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>	/* before linux/errqueue.h, which uses timespec */
#include <linux/errqueue.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "zerocopy.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, sendmsg);
SYSCALL_ALLOW(SYS_NS | SYS_VM, recvmsg);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, setsockopt, 1, SOL_SOCKET);
SYSCALL_ALLOW(SYS_NS | SYS_VM, connect);
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_ctl);
SYSCALL_ALLOW(SYS_NS | SYS_VM, close);

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY	60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY	0x4000000
#endif

#define ZC_RECORDS	4096	/* sends in flight, all sockets */
#define ZC_LINGER	256	/* closed sockets waiting for completions */
#define ZC_ERRQ_MAX	1024	/* notifications read per event */
#define ZC_SCRIBBLE	0xa5	/* what --zerocopy-scribble writes */

/**
 * struct zc_rec - One send in flight
 * @buf:	Buffer it lent
 * @id:		The kernel's number for it
 * @len:	Bytes the socket took
 * @next:	Next record of the socket (or of the free list), ZC_NONE
 */
struct zc_rec {
	struct frame_buf *buf;
	uint32_t id;
	uint32_t len;
	uint16_t next;
};

/**
 * struct zc_linger - A closed socket whose sends are still in flight
 * @fd:		Its descriptor, -1 if the slot is free
 * @z:		Its sends
 */
struct zc_linger {
	int fd;
	struct zc_sock z;
};

/**
 * struct zc_stats - Counters, logged at exit (--debug)
 * @sends:	MSG_ZEROCOPY sends the kernel took
 * @bytes:	Bytes they carried
 * @notes:	Notifications read
 * @done:	Sends they completed
 * @copied:	Of those, sends the kernel copied anyway
 * @bound:	Copying sends: the held buffers or records were at the bound
 * @nobufs:	Copying sends: ENOBUFS (optmem limit)
 * @lingered:	Sockets closed with sends in flight, kept until completion
 * @at_close:	Sends released at close without completion (table full)
 * @held:	Sends in flight now
 * @held_bytes:	Bytes they hold now
 * @peak_bytes:	Most bytes held at once
 */
struct zc_stats {
	uint64_t sends;
	uint64_t bytes;
	uint64_t notes;
	uint64_t done;
	uint64_t copied;
	uint64_t bound;
	uint64_t nobufs;
	uint64_t lingered;
	uint64_t at_close;
	uint64_t held;
	uint64_t held_bytes;
	uint64_t peak_bytes;
};

static struct zc_conf zc_conf = { .off = true };
static struct frame_buf *zc_fbufs;	/* the frontend's receive buffers */
static unsigned int zc_nfbufs;
static struct zc_rec zc_recs[ZC_RECORDS];
static uint16_t zc_free;		/* free list of records */
static uint16_t zc_rec_hi = 1;		/* from here: never used */
static struct zc_linger zc_lingers[ZC_LINGER];
static unsigned int zc_linger_hi;	/* slots at or above: never used */
static struct zc_stats zc_stats;
static bool zc_copied_said;

/**
 * zc_init() - Take the options
 * @conf:	What they say
 */
void zc_init(const struct zc_conf *conf)
{
	zc_conf = *conf;
	if (!zc_conf.min)
		zc_conf.min = 1;
	if (zc_conf.off) {
		log_debug("zerocopy: disabled (--no-zerocopy)");
		return;
	}
	log_debug("zerocopy: TCP batches from %zu bytes%s%s", zc_conf.min,
		  zc_conf.force ? ", kept on when copied" : "",
		  zc_conf.scribble ? ", buffers overwritten on release" : "");
}

/**
 * zc_bufs() - Register the frontend's receive buffers
 * @bufs:	Array of buffers
 * @n:		How many
 */
void zc_bufs(struct frame_buf *bufs, unsigned int n)
{
	zc_fbufs = bufs;
	zc_nfbufs = n;
}

/**
 * zc_sock_init() - Set a socket up for zerocopy sends (after connect)
 * @z:		Its state, zeroed
 * @fd:		Socket
 */
void zc_sock_init(struct zc_sock *z, int fd)
{
	int one = 1;

	memset(z, 0, sizeof(*z));
	if (zc_conf.off)
		return;
	z->on = !setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
}

/*
 * May a send lend @b? If some send does already (the frontend's own hold
 * is the other), it costs no buffer more; otherwise one of the frontend's
 * buffers must stay free for its next read
 */
static bool zc_can_hold(const struct frame_buf *b)
{
	unsigned int i;

	if (b->holds >= 2)
		return true;
	for (i = 0; i < zc_nfbufs; i++)
		if (!zc_fbufs[i].holds)
			return true;
	return false;
}

/* A free record, ZC_NONE if there is none */
static uint16_t zc_rec_get(void)
{
	uint16_t r = zc_free;

	if (r) {
		zc_free = zc_recs[r].next;
		return r;
	}
	if (zc_rec_hi < ZC_RECORDS)
		return zc_rec_hi++;
	return ZC_NONE;
}

/* Give a record back */
static void zc_rec_put(uint16_t r)
{
	zc_recs[r].buf = NULL;
	zc_recs[r].next = zc_free;
	zc_free = r;
}

/* The kernel is done with the send of record @r: its buffer may go */
static void zc_rec_release(uint16_t r)
{
	struct frame_buf *b = zc_recs[r].buf;

	zc_stats.held--;
	zc_stats.held_bytes -= zc_recs[r].len;
	frame_buf_release(b);
	if (!b->holds && zc_conf.scribble)
		memset(b->data, ZC_SCRIBBLE, b->size);
	zc_rec_put(r);
}

/**
 * zc_sendmsg() - Send a batch, lending its buffer if it is worth it
 * @z:		The socket's zerocopy state
 * @fd:		Socket
 * @mh:		Message (payload in @buf)
 * @total:	Bytes in @mh
 * @buf:	Buffer all of the payload lies in, NULL if not one buffer
 * @flags:	sendmsg() flags
 *
 * Return: what sendmsg() returns
 */
ssize_t zc_sendmsg(struct zc_sock *z, int fd, const struct msghdr *mh,
		   size_t total, struct frame_buf *buf, int flags)
{
	uint16_t r;
	ssize_t n;

	if (!z->on || total < zc_conf.min || !buf)
		return sendmsg(fd, mh, flags);
	if (!zc_can_hold(buf) || !(r = zc_rec_get())) {
		zc_stats.bound++;
		return sendmsg(fd, mh, flags);
	}
	n = sendmsg(fd, mh, flags | MSG_ZEROCOPY);
	if (n <= 0) {
		zc_rec_put(r);
		if (n < 0 && errno == ENOBUFS) {
			zc_stats.nobufs++;
			return sendmsg(fd, mh, flags);
		}
		return n;
	}
	zc_recs[r].buf = buf;
	zc_recs[r].id = z->next_id++;
	zc_recs[r].len = (uint32_t)n;
	zc_recs[r].next = ZC_NONE;
	if (z->last)
		zc_recs[z->last].next = r;
	else
		z->first = r;
	z->last = r;
	frame_buf_hold(buf);
	zc_stats.sends++;
	zc_stats.bytes += (uint64_t)n;
	zc_stats.held++;
	zc_stats.held_bytes += (uint64_t)n;
	if (zc_stats.held_bytes > zc_stats.peak_bytes)
		zc_stats.peak_bytes = zc_stats.held_bytes;
	return n;
}

/**
 * zc_done() - Release the sends a notification completes
 * @z:		The socket's zerocopy state
 * @lo:		First send number
 * @hi:		Last send number (inclusive, modulo 2^32)
 * @copied:	The kernel copied the pages instead
 */
static void zc_done(struct zc_sock *z, uint32_t lo, uint32_t hi, bool copied)
{
	uint32_t span = hi - lo;
	uint16_t r = z->first, prev = ZC_NONE;

	zc_stats.notes++;
	zc_stats.done += (uint64_t)span + 1;
	while (r) {
		uint16_t next = zc_recs[r].next;
		uint32_t id = zc_recs[r].id;

		if ((int32_t)(id - hi) > 0)
			break;		/* the list is in number order */
		if (id - lo <= span) {
			if (prev)
				zc_recs[prev].next = next;
			else
				z->first = next;
			if (z->last == r)
				z->last = prev;
			zc_rec_release(r);
		} else {
			prev = r;
		}
		r = next;
	}
	if (!copied)
		return;
	zc_stats.copied += (uint64_t)span + 1;
	if (!zc_copied_said)
		log_info("zerocopy: the kernel copied the pages lent to a "
			 "socket (a local peer): %s", zc_conf.force ?
			 "kept on (--zerocopy-force)" :
			 "off for such sockets");
	zc_copied_said = true;
	if (!zc_conf.force)
		z->on = false;
}

/**
 * zc_errqueue() - Read every completion waiting on a socket's error queue
 * @z:		The socket's zerocopy state
 * @fd:		Socket
 */
void zc_errqueue(struct zc_sock *z, int fd)
{
	unsigned int i;

	for (i = 0; i < ZC_ERRQ_MAX && z->first; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					    sizeof(struct sockaddr_in6))];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = { .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *cm;

		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;		/* EAGAIN: drained */
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			struct sock_extended_err ee;

			if (!(cm->cmsg_level == SOL_IP &&
			      cm->cmsg_type == IP_RECVERR) &&
			    !(cm->cmsg_level == SOL_IPV6 &&
			      cm->cmsg_type == IPV6_RECVERR))
				continue;
			if (cm->cmsg_len < CMSG_LEN(sizeof(ee)))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY ||
			    ee.ee_errno)
				continue;
			zc_done(z, ee.ee_info, ee.ee_data,
				ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED);
		}
	}
}

/* Release every send of @z without its completion (counted) */
static void zc_release_all(struct zc_sock *z)
{
	uint16_t r = z->first;

	while (r) {
		uint16_t next = zc_recs[r].next;

		zc_rec_release(r);
		zc_stats.at_close++;
		r = next;
	}
	z->first = z->last = ZC_NONE;
}

/* A free slot for a lingering socket, -1 if none (taken once its @fd is
 * set: zc_linger_hi moves past it then) */
static int zc_linger_slot(void)
{
	unsigned int i;

	for (i = 0; i < zc_linger_hi; i++)
		if (zc_lingers[i].fd < 0)
			return (int)i;
	if (zc_linger_hi < ZC_LINGER)
		return (int)zc_linger_hi;
	return -1;
}

/**
 * zc_close() - The owner closes a socket: keep it if sends are in flight
 * @z:		The socket's zerocopy state (idle afterwards)
 * @fd:		Socket, no longer registered with epoll by its owner
 * @epollfd:	Loop's epoll descriptor
 * @rst:	The owner closes it with a reset (SO_LINGER 0 set)
 *
 * Return: true if the socket was taken over (the caller must not close
 *	   it), false if the caller closes it
 */
bool zc_close(struct zc_sock *z, int fd, int epollfd, bool rst)
{
	struct epoll_event ev = { .events = EPOLLET };
	union epoll_ref ref = { .type = EPOLL_TYPE_ZC, .fd = fd };
	int slot;

	if (!z->first)
		return false;
	zc_errqueue(z, fd);
	if (!z->first)
		return false;
	slot = zc_linger_slot();
	if (slot < 0) {
		zc_release_all(z);
		return false;
	}
	if (rst) {
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		/* the reset, and the queues freed: completions come now */
		connect(fd, &sa, sizeof(sa));
		zc_errqueue(z, fd);
		if (!z->first)
			return false;
	}
	ref.flow = (uint32_t)slot;
	ev.data.u64 = ref.u64;
	if (epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &ev)) {
		zc_release_all(z);
		return false;
	}
	zc_lingers[slot].fd = fd;
	zc_lingers[slot].z = *z;
	if ((unsigned int)slot == zc_linger_hi)
		zc_linger_hi++;
	memset(z, 0, sizeof(*z));
	zc_stats.lingered++;
	return true;
}

/**
 * zc_linger_handler() - Completions for a closed socket
 * @epollfd:	Loop's epoll descriptor
 * @ref:	Epoll reference: flow field holds the slot
 */
void zc_linger_handler(int epollfd, union epoll_ref ref)
{
	struct zc_linger *l;

	if (ref.flow >= zc_linger_hi)
		return;
	l = &zc_lingers[ref.flow];
	if (l->fd != ref.fd)
		return;
	zc_errqueue(&l->z, l->fd);
	if (l->z.first)
		return;
	epoll_ctl(epollfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	l->fd = -1;
}

/**
 * zc_end() - At exit: close the sockets still waiting for completions
 *
 * The pages they lent stay with the kernel after the process is gone, so
 * their buffers are simply released.
 */
void zc_end(void)
{
	unsigned int i;

	for (i = 0; i < zc_linger_hi; i++) {
		struct zc_linger *l = &zc_lingers[i];

		if (l->fd < 0)
			continue;
		zc_errqueue(&l->z, l->fd);
		zc_release_all(&l->z);
		close(l->fd);
		l->fd = -1;
	}
}

/**
 * zc_log() - Log the counters (debug level)
 */
void zc_log(void)
{
	const struct zc_stats *s = &zc_stats;

	if (zc_conf.off)
		return;
	log_debug("zerocopy: %llu sends (%llu bytes), %llu completed in %llu "
		  "notifications, %llu copied by the kernel",
		  (unsigned long long)s->sends, (unsigned long long)s->bytes,
		  (unsigned long long)s->done, (unsigned long long)s->notes,
		  (unsigned long long)s->copied);
	log_debug("zerocopy: copying fallbacks: %llu at the held bound, %llu "
		  "ENOBUFS; %llu sockets closed with sends in flight, %llu "
		  "sends released at close",
		  (unsigned long long)s->bound, (unsigned long long)s->nobufs,
		  (unsigned long long)s->lingered,
		  (unsigned long long)s->at_close);
	log_debug("zerocopy: held at exit: %llu sends, %llu bytes (peak %llu)",
		  (unsigned long long)s->held,
		  (unsigned long long)s->held_bytes,
		  (unsigned long long)s->peak_bytes);
}
