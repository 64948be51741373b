/* vhost_user.c - the vhost-user protocol, back end side: messages from the
 * front end (QEMU), the device's features, memory table and virtqueues
 *
 * Theory of operation
 * With --vhost-user the daemon is the back end of the guest's virtio-net
 * device: QEMU connects to our UNIX socket and tells us, in messages, the
 * features it negotiated with the guest, the guest's memory (descriptors
 * of shared memory, which we map: SET_MEM_TABLE) and where each
 * virtqueue lies in it, with an eventfd the guest kicks when it adds
 * buffers and one we signal when we used them. From then on frames move
 * through the rings in guest memory (vu_net.c); QEMU is not on the path.
 *
 * Messages are a 12-byte header (request, flags, payload size) and a
 * payload, with descriptors passed alongside (SCM_RIGHTS) on the header.
 * The socket is non-blocking: vu_handler() reads the header, then exactly
 * the payload, into one buffer, keeping what it has across wake-ups, so
 * descriptors always come with the header they belong to and a slow
 * front end cannot make us wait. A message is checked whole before it acts:
 * version bits, a payload size that is the one its request takes (and at
 * most VU_PAYLOAD_MAX), the number of descriptors it may carry, queue
 * indices, ring sizes, a memory table of 1 to 8 regions whose ranges do
 * not wrap, ring addresses inside that table. A message that fails any of
 * these ends the front end's connection with one error line; the device
 * is reset (rings stopped, memory unmapped, descriptors closed) and the
 * next front end starts afresh. Requests we do not know are answered as
 * failed when the front end asks for a reply, and otherwise ignored.
 *
 * Replies (GET_* and, with REPLY_ACK, an acknowledgement of any other
 * message that asks for one) are written at once; they are small, and a
 * front end that does not read them is dropped.
 *
 * Each queue starts (VU_EV_START to the frontend) once it has a size,
 * mapped rings, a kick eventfd, and is enabled: with protocol features
 * negotiated rings start disabled until SET_VRING_ENABLE, otherwise the
 * kick enables them. GET_VRING_BASE stops a queue (VU_EV_STOP first, so
 * that the frontend publishes what it used) and answers the next
 * available index; its eventfds are closed, and the front end sends new
 * ones when it starts the queue again. Any change to a queue's set-up
 * (size, addresses, base, enable) first tells the frontend (VU_EV_STOP),
 * which gives back the guest's buffers it holds; a new memory table does
 * too (VU_EV_MEM), before the old mappings go. A memory table that changes while
 * queues run replaces the old mappings after the rings are translated
 * again; a ring the new table does not hold is broken.
 * System calls: recvmsg, sendto (send), mmap, munmap, close, epoll_ctl,
 * write (eventfd signal), read (eventfd), fstat is not needed.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "epoll_ref.h"
#include "log.h"
#include "util.h"
#include "vhost_user.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_VU, recvmsg);
SYSCALL_ALLOW(SYS_VU, sendto);
SYSCALL_ALLOW_ARG(SYS_VU, mmap, 3, MAP_SHARED | MAP_NORESERVE);
SYSCALL_ALLOW(SYS_VU, munmap);
SYSCALL_ALLOW(SYS_VU, close);
SYSCALL_ALLOW(SYS_VU, epoll_ctl);
SYSCALL_ALLOW(SYS_VU, read);
SYSCALL_ALLOW(SYS_VU, write);

#define VU_VRING_NOFD	(1ULL << 8)	/* SET_VRING_KICK/CALL: no fd */
#define VU_VRING_IDX	0xffULL

/* Payloads, little-endian as on every architecture we build for */
struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region r[VU_REGIONS_MAX];
};

/* A message being acted on: its header fields and payload */
struct vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	const uint8_t *payload;
	int *fds;
	unsigned int nfds;
};

/**
 * vu_has() - Did the front end negotiate a feature?
 * @d:		Device
 * @bit:	Feature bit
 *
 * Return: true if so
 */
bool vu_has(const struct vu_dev *d, unsigned int bit)
{
	return d->features & VU_BIT(bit);
}

/**
 * vu_dev_init() - Set up the device with no front end
 * @d:		Device
 * @epollfd:	epoll instance for the kick eventfds
 * @offered:	Feature bits to offer
 * @pairs:	Queue pairs to offer, 1 to VU_PAIRS_MAX
 * @event:	Frontend's event hook
 */
void vu_dev_init(struct vu_dev *d, int epollfd, uint64_t offered,
		 unsigned int pairs, vu_event_fn event)
{
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->epollfd = epollfd;
	d->offered = offered;
	d->pairs = pairs;
	d->event = event;
	for (i = 0; i < VU_QUEUES_MAX; i++)
		vq_reset(&d->vq[i]);
}

/* Close a descriptor we own, if any, and mark it gone */
static void fd_drop(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Queue @i is about to change: the frontend gives back what it holds */
static void vu_queue_quiesce(struct vu_dev *d, unsigned int i)
{
	d->event(d, i, VU_EV_STOP);
}

/* Stop queue @i: the frontend first, then its eventfds; keep its set-up */
static void vu_queue_stop(struct vu_dev *d, unsigned int i)
{
	struct virtq *q = &d->vq[i];

	vu_queue_quiesce(d, i);
	if (q->kick_fd >= 0 && d->epollfd >= 0)
		epoll_ctl(d->epollfd, EPOLL_CTL_DEL, q->kick_fd, NULL);
	fd_drop(&q->kick_fd);
	fd_drop(&q->call_fd);
}

/* Unmap every region of @m */
static void vu_mem_unmap(struct vu_mem *m)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		munmap(m->r[i].map, m->r[i].map_len);
	m->n = 0;
}

/* Forget the front end's device state: queues, memory, features */
static void vu_dev_reset(struct vu_dev *d)
{
	unsigned int i;

	for (i = 0; i < VU_QUEUES_MAX; i++) {
		vu_queue_stop(d, i);
		vq_reset(&d->vq[i]);
	}
	vu_mem_unmap(&d->mem);
	d->features = 0;
	d->protocol = 0;
}

/**
 * vu_dev_attach() - A front end connected: it is the device's now
 * @d:		Device, without one
 * @fd:		Its socket, non-blocking, already watched by epoll
 */
void vu_dev_attach(struct vu_dev *d, int fd)
{
	d->fd = fd;
	d->have = 0;
	d->nfds = 0;
}

/**
 * vu_dev_close() - The front end is gone: reset the device, close its socket
 * @d:		Device
 */
void vu_dev_close(struct vu_dev *d)
{
	unsigned int i;

	vu_dev_reset(d);
	for (i = 0; i < d->nfds; i++)
		fd_drop(&d->fds[i]);
	d->nfds = 0;
	d->have = 0;
	if (d->fd >= 0) {
		if (d->epollfd >= 0)
			epoll_ctl(d->epollfd, EPOLL_CTL_DEL, d->fd, NULL);
		close(d->fd);
	}
	d->fd = -1;
	d->event(d, 0, VU_EV_GONE);
}

/* Send a reply to @m carrying @v; -1 if the front end does not take it */
static int vu_reply(const struct vu_dev *d, const struct vu_msg *m,
		    uint64_t v)
{
	uint8_t out[VU_HDR_LEN + sizeof(uint64_t)];
	uint32_t h[3] = { m->request, VU_FLAG_VERSION | VU_FLAG_REPLY,
			  sizeof(v) };

	if (d->fd < 0)
		return 0;	/* no socket: fed by a test */
	memcpy(out, h, sizeof(h));
	memcpy(out + VU_HDR_LEN, &v, sizeof(v));
	if (send(d->fd, out, sizeof(out), MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(out)) {
		log_err("vhost-user: cannot send a reply: %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* The queue a message names, -1 (logged) if beyond those we offer */
static int vu_queue_index(const struct vu_dev *d, uint64_t index)
{
	if (index >= 2ULL * d->pairs) {
		log_err("vhost-user: queue %llu beyond the %u we offer",
			(unsigned long long)index, 2 * d->pairs);
		return -1;
	}
	return (int)index;
}

/* Tell the frontend queue @i can run, if it can */
static void vu_queue_try_start(struct vu_dev *d, unsigned int i)
{
	if (vq_ready(&d->vq[i]))
		d->event(d, i, VU_EV_START);
}

/* SET_FEATURES: only what we offer, no more */
static int vu_set_features(struct vu_dev *d, uint64_t f)
{
	unsigned int i;

	if (f & ~d->offered) {
		log_err("vhost-user: front end set features %#llx we did not "
			"offer (%#llx)", (unsigned long long)f,
			(unsigned long long)d->offered);
		return -1;
	}
	d->features = f;
	for (i = 0; i < VU_QUEUES_MAX; i++)
		d->vq[i].indirect = f & VU_BIT(VU_F_INDIRECT_DESC);
	d->event(d, 0, VU_EV_FEATURES);
	return 0;
}

/* Check one region of a memory table. Return: 0, or -1 (logged) */
static int vu_region_check(const struct vu_mem_region *r)
{
	if (!r->size || r->gpa + r->size < r->gpa ||
	    r->uva + r->size < r->uva ||
	    r->mmap_offset + r->size < r->mmap_offset ||
	    r->mmap_offset + r->size > (uint64_t)SIZE_MAX) {
		log_err("vhost-user: memory region of %#llx bytes at %#llx "
			"(offset %#llx) wraps or is empty",
			(unsigned long long)r->size,
			(unsigned long long)r->gpa,
			(unsigned long long)r->mmap_offset);
		return -1;
	}
	return 0;
}

/* Map the regions of @t from @fds into @m. Return: 0, or -1 (logged) */
static int vu_mem_map(const struct vu_mem_table *t, const int *fds,
		      struct vu_mem *m)
{
	unsigned int i;

	m->n = 0;
	for (i = 0; i < t->nregions; i++) {
		const struct vu_mem_region *r = &t->r[i];
		struct vu_region *o = &m->r[i];
		size_t len = (size_t)(r->mmap_offset + r->size);
		void *p;

		if (vu_region_check(r))
			goto fail;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, fds[i], 0);
		if (p == MAP_FAILED) {
			log_err("vhost-user: cannot map memory region %u "
				"(%zu bytes): %s", i, len, strerror(errno));
			goto fail;
		}
		o->gpa = r->gpa;
		o->size = r->size;
		o->uva = r->uva;
		o->map = p;
		o->map_len = len;
		o->host = (uint8_t *)p + r->mmap_offset;
		m->n++;
	}
	return 0;
fail:
	vu_mem_unmap(m);
	return -1;
}

/* SET_MEM_TABLE: map the new table, move the rings to it, drop the old */
static int vu_set_mem_table(struct vu_dev *d, const struct vu_msg *m)
{
	struct vu_mem_table t = { 0 };
	struct vu_mem old = d->mem;
	unsigned int i;

	memcpy(&t, m->payload, MIN(m->size, sizeof(t)));
	if (!t.nregions || t.nregions > VU_REGIONS_MAX ||
	    m->size != 8 + t.nregions * sizeof(struct vu_mem_region) ||
	    m->nfds != t.nregions) {
		log_err("vhost-user: memory table of %u regions, %u bytes, "
			"%u descriptors", t.nregions, m->size, m->nfds);
		return -1;
	}
	if (vu_mem_map(&t, m->fds, &d->mem)) {
		d->mem = old;
		return -1;
	}
	for (i = 0; i < VU_QUEUES_MAX; i++) {
		struct virtq *q = &d->vq[i];

		if (!q->desc)
			continue;
		if (vq_map(q, &d->mem)) {
			log_err("vhost-user: queue %u: rings not in the new "
				"memory table: queue stopped", i);
			vu_queue_stop(d, i);
			q->broken = true;
		}
	}
	/* nothing of the frontend's may point into the old mappings */
	d->event(d, 0, VU_EV_MEM);
	vu_mem_unmap(&old);
	log_debug("vhost-user: memory table of %u regions", t.nregions);
	return 0;
}

/* SET_VRING_NUM: a power of two up to VQ_NUM_MAX */
static int vu_set_vring_num(struct vu_dev *d, const struct vu_vring_state *s)
{
	int i = vu_queue_index(d, s->index);

	if (i < 0)
		return -1;
	if (!s->num || s->num > VQ_NUM_MAX || (s->num & (s->num - 1))) {
		log_err("vhost-user: queue %d: ring size %u", i, s->num);
		return -1;
	}
	vu_queue_quiesce(d, (unsigned int)i);
	d->vq[i].num = s->num;
	/* mapped again with the new size by SET_VRING_ADDR */
	d->vq[i].desc = NULL;
	d->vq[i].avail = NULL;
	d->vq[i].used = NULL;
	return 0;
}

/* SET_VRING_ADDR: rings must lie in the memory table, as the size says */
static int vu_set_vring_addr(struct vu_dev *d, const struct vu_vring_addr *a)
{
	int i = vu_queue_index(d, a->index);
	struct virtq *q;

	if (i < 0)
		return -1;
	q = &d->vq[i];
	if (!q->num) {
		log_err("vhost-user: queue %d: addresses before its size", i);
		return -1;
	}
	vu_queue_quiesce(d, (unsigned int)i);
	q->desc_uva = a->desc;
	q->avail_uva = a->avail;
	q->used_uva = a->used;
	if (vq_map(q, &d->mem)) {
		log_err("vhost-user: queue %d: rings at %#llx, %#llx, %#llx "
			"not inside guest memory", i,
			(unsigned long long)a->desc,
			(unsigned long long)a->avail,
			(unsigned long long)a->used);
		return -1;
	}
	/* what the guest saw last, where a previous back end left it */
	q->used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_RELAXED);
	q->broken = false;
	vu_queue_try_start(d, (unsigned int)i);
	return 0;
}

/* SET_VRING_BASE: where the next available entry is */
static int vu_set_vring_base(struct vu_dev *d, const struct vu_vring_state *s)
{
	int i = vu_queue_index(d, s->index);

	if (i < 0)
		return -1;
	if (s->num > 0xffff) {
		log_err("vhost-user: queue %d: base %u", i, s->num);
		return -1;
	}
	vu_queue_quiesce(d, (unsigned int)i);
	d->vq[i].last_avail = (uint16_t)s->num;
	d->vq[i].used_idx = (uint16_t)s->num;
	return 0;
}

/* GET_VRING_BASE: stop the queue, answer where it stopped */
static int vu_get_vring_base(struct vu_dev *d, const struct vu_msg *m,
			     const struct vu_vring_state *s)
{
	int i = vu_queue_index(d, s->index);
	struct virtq *q;
	uint16_t base;

	if (i < 0)
		return -1;
	q = &d->vq[i];
	vu_queue_stop(d, (unsigned int)i);
	base = q->last_avail;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->enabled = false;
	q->broken = false;
	/* a vring state: { u32 index, u32 num }, little-endian */
	return vu_reply(d, m, (uint64_t)base << 32 | (uint32_t)i);
}

/* SET_VRING_KICK and SET_VRING_CALL: the eventfd, or none */
static int vu_set_vring_fd(struct vu_dev *d, const struct vu_msg *m,
			   uint64_t v, bool kick)
{
	union epoll_ref ref = { .type = EPOLL_TYPE_VU_KICK };
	struct epoll_event ev = { .events = EPOLLIN };
	bool nofd = v & VU_VRING_NOFD;
	int i = vu_queue_index(d, v & VU_VRING_IDX);
	struct virtq *q;

	if (i < 0 || m->nfds != (nofd ? 0U : 1U) || (v & ~0x1ffULL)) {
		if (i >= 0)
			log_err("vhost-user: queue %d: eventfd message with "
				"%u descriptors, flags %#llx", i, m->nfds,
				(unsigned long long)v);
		return -1;
	}
	q = &d->vq[i];
	if (!kick) {
		fd_drop(&q->call_fd);
		if (!nofd) {
			q->call_fd = m->fds[0];
			m->fds[0] = -1;
		}
		return 0;
	}
	/* a new kick replaces the old one; the call eventfd stays */
	vu_queue_quiesce(d, (unsigned int)i);
	if (q->kick_fd >= 0 && d->epollfd >= 0)
		epoll_ctl(d->epollfd, EPOLL_CTL_DEL, q->kick_fd, NULL);
	fd_drop(&q->kick_fd);
	if (nofd) {
		log_warn("vhost-user: queue %d: polling mode (no kick "
			 "eventfd) is not supported: queue idle", i);
		return 0;
	}
	q->kick_fd = m->fds[0];
	m->fds[0] = -1;
	/* we read it when epoll says so, and kick it ourselves: no waits */
	if (fd_nonblock(q->kick_fd)) {
		log_err("vhost-user: queue %d: kick eventfd: %s", i,
			strerror(errno));
		fd_drop(&q->kick_fd);
		return -1;
	}
	ref.fd = q->kick_fd;
	ref.flow = (uint32_t)i;
	ev.data.u64 = ref.u64;
	if (d->epollfd >= 0 &&
	    epoll_ctl(d->epollfd, EPOLL_CTL_ADD, q->kick_fd, &ev)) {
		log_err("vhost-user: queue %d: cannot watch its kick: %s", i,
			strerror(errno));
		fd_drop(&q->kick_fd);
		return -1;
	}
	if (!(d->features & VU_BIT(VU_F_PROTOCOL_FEATURES)))
		q->enabled = true;
	vu_queue_try_start(d, (unsigned int)i);
	return 0;
}

/* SET_VRING_ENABLE: 1 starts the queue (once set up), 0 stops it */
static int vu_set_vring_enable(struct vu_dev *d,
			       const struct vu_vring_state *s)
{
	int i = vu_queue_index(d, s->index);
	struct virtq *q;

	if (i < 0 || s->num > 1) {
		if (i >= 0)
			log_err("vhost-user: queue %d: enable %u", i, s->num);
		return -1;
	}
	q = &d->vq[i];
	if (!s->num) {
		vu_queue_quiesce(d, (unsigned int)i);
		q->enabled = false;
		return 0;
	}
	q->enabled = true;
	vu_queue_try_start(d, (unsigned int)i);
	return 0;
}

/* The payload size request @r takes, -1 for a request we do not know */
static long vu_msg_size(uint32_t r)
{
	switch (r) {
	case VU_GET_FEATURES:
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
		return 0;
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return sizeof(uint64_t);
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		return sizeof(struct vu_vring_state);
	case VU_SET_VRING_ADDR:
		return sizeof(struct vu_vring_addr);
	case VU_SET_MEM_TABLE:
		return -2;	/* depends on the region count */
	}
	return -1;
}

/* Check a whole message's form before acting. Return: 0, or -1 (logged) */
static int vu_msg_check(const struct vu_msg *m)
{
	long want = vu_msg_size(m->request);
	bool fds_ok;

	if ((m->flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION ||
	    (m->flags & VU_FLAG_REPLY)) {
		log_err("vhost-user: message %u with flags %#x", m->request,
			m->flags);
		return -1;
	}
	if (want == -1)
		return 0;	/* not ours: vu_msg_act() says so */
	if (want >= 0 && m->size != (uint32_t)want) {
		log_err("vhost-user: message %u of %u bytes, not %ld",
			m->request, m->size, want);
		return -1;
	}
	fds_ok = m->request == VU_SET_MEM_TABLE ||
		 m->request == VU_SET_VRING_KICK ||
		 m->request == VU_SET_VRING_CALL ||
		 m->request == VU_SET_VRING_ERR || !m->nfds;
	if (!fds_ok) {
		log_err("vhost-user: message %u with %u descriptors",
			m->request, m->nfds);
		return -1;
	}
	return 0;
}

/* Act on a checked message. Return: 0, 1 if it sent its own reply, -1 */
static int vu_msg_act(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_vring_state *s = (const void *)m->payload;
	uint64_t v = 0;

	if (m->size >= sizeof(v))
		memcpy(&v, m->payload, sizeof(v));
	switch (m->request) {
	case VU_GET_FEATURES:
		return vu_reply(d, m, d->offered) ? -1 : 1;
	case VU_SET_FEATURES:
		return vu_set_features(d, v);
	case VU_GET_PROTOCOL_FEATURES:
		return vu_reply(d, m, VU_BIT(VU_PF_MQ) |
				VU_BIT(VU_PF_REPLY_ACK)) ? -1 : 1;
	case VU_SET_PROTOCOL_FEATURES:
		if (v & ~(VU_BIT(VU_PF_MQ) | VU_BIT(VU_PF_REPLY_ACK))) {
			log_err("vhost-user: protocol features %#llx",
				(unsigned long long)v);
			return -1;
		}
		d->protocol = v;
		return 0;
	case VU_GET_QUEUE_NUM:
		return vu_reply(d, m, d->pairs) ? -1 : 1;
	case VU_SET_OWNER:
		return 0;
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		vu_dev_reset(d);
		return 0;
	case VU_SET_MEM_TABLE:
		return vu_set_mem_table(d, m);
	case VU_SET_VRING_NUM:
		return vu_set_vring_num(d, s);
	case VU_SET_VRING_ADDR:
		return vu_set_vring_addr(d, (const void *)m->payload);
	case VU_SET_VRING_BASE:
		return vu_set_vring_base(d, s);
	case VU_GET_VRING_BASE:
		return vu_get_vring_base(d, m, s) ? -1 : 1;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
		return vu_set_vring_fd(d, m, v, m->request ==
				       VU_SET_VRING_KICK);
	case VU_SET_VRING_ENABLE:
		return vu_set_vring_enable(d, s);
	case VU_SET_VRING_ERR:
		/* we never report ring errors this way: not kept */
		return vu_queue_index(d, v & VU_VRING_IDX) < 0 ? -1 : 0;
	}
	log_warn("vhost-user: request %u not supported", m->request);
	return 2;	/* failed, but not fatal */
}

/* Act on the complete message in @d's buffer. Return: 0, or -1 to drop */
static int vu_msg_run(struct vu_dev *d)
{
	uint32_t h[3];
	struct vu_msg m;
	unsigned int i;
	bool ack;
	int rc;

	/* The payload follows a 12-byte header: copied where its 64-bit
	 * fields are aligned before anything reads them in place */
	static union {
		uint64_t align;
		uint8_t b[VU_PAYLOAD_MAX];
	} payload;

	memcpy(h, d->buf, sizeof(h));
	memcpy(payload.b, d->buf + VU_HDR_LEN, h[2]);
	m = (struct vu_msg){ h[0], h[1], h[2], payload.b, d->fds, d->nfds };
	log_trace("vhost-user: message %u, %u bytes, %u descriptors",
		  m.request, m.size, m.nfds);
	/* as negotiated before this message: a reset forgets it */
	ack = (m.flags & VU_FLAG_NEED_REPLY) &&
	      (d->protocol & VU_BIT(VU_PF_REPLY_ACK));
	rc = vu_msg_check(&m);
	if (!rc)
		rc = vu_msg_act(d, &m);
	if (rc >= 0 && rc != 1 && ack)
		rc = vu_reply(d, &m, rc ? 1 : 0) ? -1 : 0;
	for (i = 0; i < d->nfds; i++)
		fd_drop(&d->fds[i]);	/* what the message did not take */
	d->nfds = 0;
	d->have = 0;
	return rc < 0 ? -1 : 0;
}

/* Bytes still needed for the message being received */
static size_t vu_need(const struct vu_dev *d)
{
	uint32_t size;

	if (d->have < VU_HDR_LEN)
		return VU_HDR_LEN - d->have;
	memcpy(&size, d->buf + 8, sizeof(size));
	return VU_HDR_LEN + size - d->have;
}

/*
 * @n bytes arrived at the end of @d's buffer, with descriptors @fds (ours
 * now). Return: 0, or -1 if the front end must be dropped
 */
static int vu_got(struct vu_dev *d, size_t n, const int *fds,
		  unsigned int nfds)
{
	unsigned int i;
	uint32_t size;

	for (i = 0; i < nfds; i++) {
		if (d->nfds == VU_FDS_MAX) {
			close(fds[i]);
			log_err("vhost-user: more than %d descriptors with "
				"one message", VU_FDS_MAX);
			return -1;
		}
		d->fds[d->nfds++] = fds[i];
	}
	d->have += n;
	if (d->have < VU_HDR_LEN)
		return 0;
	memcpy(&size, d->buf + 8, sizeof(size));
	if (size > VU_PAYLOAD_MAX) {
		log_err("vhost-user: message of %u bytes (at most %d)", size,
			VU_PAYLOAD_MAX);
		return -1;
	}
	if (d->have < VU_HDR_LEN + size)
		return 0;
	return vu_msg_run(d);
}

/**
 * vu_input() - Feed bytes of the front end's stream (tests, fuzzing)
 * @d:		Device
 * @data:	Bytes
 * @len:	How many
 * @fds:	Descriptors that came with the first byte (ours now)
 * @nfds:	How many
 *
 * Return: 0, or -1 if the stream is malformed (the front end is dropped)
 */
int vu_input(struct vu_dev *d, const uint8_t *data, size_t len,
	     const int *fds, unsigned int nfds)
{
	while (len) {
		size_t n = MIN(len, vu_need(d));

		memcpy(d->buf + d->have, data, n);
		if (vu_got(d, n, fds, nfds))
			return -1;
		nfds = 0;
		data += n;
		len -= n;
	}
	return 0;
}

/* Descriptors from a received message's control data; closed on excess */
static unsigned int vu_cmsg_fds(struct msghdr *mh, int *fds)
{
	struct cmsghdr *cm;
	unsigned int n = 0;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t k, cnt;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int),
			       sizeof(fd));
			if (n < VU_FDS_MAX)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

/**
 * vu_handler() - Read and act on what the front end sent
 * @d:		Device with a front end
 *
 * Return: 0, or -1 if it left or was dropped (vu_dev_close() is next)
 */
int vu_handler(struct vu_dev *d)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	int fds[VU_FDS_MAX];
	unsigned int i, nfds;

	/* bounded: a front end that keeps writing yields to the others */
	for (i = 0; i < 64; i++) {
		struct iovec iov = { d->buf + d->have, vu_need(d) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(d->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			if (n < 0)
				log_info("vhost-user: front end: %s",
					 strerror(errno));
			else
				log_info("vhost-user: front end left");
			return -1;
		}
		nfds = vu_cmsg_fds(&mh, fds);
		if (mh.msg_flags & MSG_CTRUNC) {
			log_err("vhost-user: descriptors truncated");
			while (nfds)
				close(fds[--nfds]);
			return -1;
		}
		if (vu_got(d, (size_t)n, fds, nfds))
			return -1;
	}
	return 0;
}

/**
 * vu_kick_handler() - The guest kicked queue @i: clear the eventfd, tell
 * @d:		Device
 * @i:		Queue index
 */
void vu_kick_handler(struct vu_dev *d, unsigned int i)
{
	struct virtq *q;
	uint64_t v;

	if (i >= VU_QUEUES_MAX || d->vq[i].kick_fd < 0)
		return;
	q = &d->vq[i];
	if (read(q->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("vhost-user: queue %u: kick: %s", i,
			  strerror(errno));
	if (vq_ready(q))
		d->event(d, i, VU_EV_KICK);
}

/**
 * vu_queue_notify() - Publish queue @i's used entries, signal if asked to
 * @d:		Device
 * @i:		Queue index
 */
void vu_queue_notify(struct vu_dev *d, unsigned int i)
{
	struct virtq *q = &d->vq[i];
	uint64_t one = 1;

	if (!q->used || !vq_publish(q) || q->call_fd < 0)
		return;
	if (write(q->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("vhost-user: queue %u: call: %s", i,
			  strerror(errno));
}
