/* virtq.c - guest memory and split virtqueues as a vhost-user back end
 * sees them: translation of guest addresses, descriptor chains, used ring
 *
 * Theory of operation
 * The front end (QEMU) passes the guest's memory as descriptors with a
 * table of regions (vhost_user.c maps them); every address the guest
 * gives is a guest physical address, and the ring addresses of
 * SET_VRING_ADDR are in the front end's own address space. Nothing the
 * guest wrote is trusted: vu_mem_gpa_iov() and vu_mem_uva() give a host
 * address only for a range that lies wholly inside mapped regions (a
 * buffer that crosses from one region into the next is split there), so
 * no length or address of the guest's can reach memory outside its own.
 *
 * The rings live in guest memory, which the guest changes while we read
 * it. Every descriptor is read once into a local copy (then a compiler
 * barrier), and only the copy is checked and used: a guest that rewrites a
 * descriptor under us changes which of its own bytes we move, never
 * where. vq_pop() walks one chain with a step bound (the ring size, or
 * the indirect table's size), so a chain that loops ends as an error;
 * indices beyond the ring, an indirect table inside an indirect table or
 * of a bad length, buffers outside memory and a device-writable buffer
 * where a readable one belongs (or the reverse) all mark the queue broken:
 * the caller logs it once and the queue does nothing more until the front
 * end sets it up again. The available index may run at most the ring size
 * ahead of what we took, else the ring is broken too.
 *
 * Used entries are written as chains are done and published together by
 * vq_publish() with a release store of the used index, which then says
 * whether the guest wants an interrupt (it may suppress them with
 * VRING_AVAIL_F_NO_INTERRUPT; event indices are not negotiated).
 * Memory ordering follows the virtio spec: the available index is read
 * with acquire semantics before the entries it covers, and a full fence
 * separates publishing from reading the guest's flags.
 * This file makes no system call.
 */
#include <string.h>

#include "virtq.h"

/* A region holds [@addr, @addr + @len) if it starts at @start, spans @size */
static bool range_in(uint64_t start, uint64_t size, uint64_t addr,
		     uint64_t len)
{
	return addr >= start && addr - start < size &&
	       len <= size - (addr - start);
}

/**
 * vu_mem_uva() - Translate a front end address range wholly inside one region
 * @m:		Memory table
 * @uva:	Address in the front end's address space
 * @len:	Bytes that must lie in the region
 *
 * Return: address here, NULL if the range is not inside one region
 */
void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < m->n; i++) {
		const struct vu_region *r = &m->r[i];

		if (range_in(r->uva, r->size, uva, len))
			return r->host + (uva - r->uva);
	}
	return NULL;
}

/* The region holding guest physical address @gpa, NULL if none */
static const struct vu_region *vu_mem_find(const struct vu_mem *m,
					   uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (range_in(m->r[i].gpa, m->r[i].size, gpa, 1))
			return &m->r[i];
	return NULL;
}

/**
 * vu_mem_gpa_iov() - Translate a guest buffer into pieces here
 * @m:		Memory table
 * @gpa:	Guest physical address
 * @len:	Length, more than 0
 * @iov:	Pieces, filled
 * @max:	Room in @iov
 *
 * Return: pieces used, -1 if part of the buffer is outside guest memory,
 *	   -2 if it needs more than @max pieces
 */
int vu_mem_gpa_iov(const struct vu_mem *m, uint64_t gpa, uint64_t len,
		   struct iovec *iov, unsigned int max)
{
	unsigned int n = 0;

	if (gpa + len < gpa)
		return -1;
	while (len) {
		const struct vu_region *r = vu_mem_find(m, gpa);
		uint64_t off, part;

		if (!r)
			return -1;
		if (n == max)
			return -2;
		off = gpa - r->gpa;
		part = len < r->size - off ? len : r->size - off;
		iov[n].iov_base = r->host + off;
		iov[n++].iov_len = (size_t)part;
		gpa += part;
		len -= part;
	}
	return (int)n;
}

/**
 * vq_strerror() - What a chain error means, for a log line
 * @e:		Error
 *
 * Return: description
 */
const char *vq_strerror(enum vq_err e)
{
	switch (e) {
	case VQ_OK:		return "no error";
	case VQ_EMPTY:		return "empty";
	case VQ_ERR_AVAIL_IDX:	return "available index too far ahead";
	case VQ_ERR_HEAD:	return "descriptor index beyond the ring";
	case VQ_ERR_LOOP:	return "descriptor chain loops";
	case VQ_ERR_ADDR:	return "buffer outside guest memory";
	case VQ_ERR_DIR:	return "buffer of the wrong direction";
	case VQ_ERR_INDIRECT:	return "bad indirect descriptor table";
	case VQ_ERR_TOO_MANY:	return "chain of too many pieces";
	}
	return "?";
}

/**
 * vq_reset() - Forget a queue's set-up (descriptors are the caller's)
 * @q:		Queue
 */
void vq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->call_fd = -1;
}

/**
 * vq_map() - Translate the ring addresses through the memory table
 * @q:		Queue with its size and front end addresses set
 * @m:		Memory table
 *
 * Return: 0, or -1 if a ring is not wholly inside one region or misaligned
 */
int vq_map(struct virtq *q, const struct vu_mem *m)
{
	uint64_t num = q->num;

	q->desc = vu_mem_uva(m, q->desc_uva, 16 * num);
	/* both rings end with an event index field: 2 bytes more */
	q->avail = vu_mem_uva(m, q->avail_uva, 4 + 2 * num + 2);
	q->used = vu_mem_uva(m, q->used_uva, 4 + 8 * num + 2);
	if (!q->desc || !q->avail || !q->used ||
	    ((uintptr_t)q->desc & 15) || ((uintptr_t)q->avail & 1) ||
	    ((uintptr_t)q->used & 3)) {
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return -1;
	}
	return 0;
}

/**
 * vq_ready() - Can the queue carry frames?
 * @q:		Queue
 *
 * Return: true if it is set up, mapped, enabled and not broken
 */
bool vq_ready(const struct virtq *q)
{
	return q->num && q->desc && q->kick_fd >= 0 && q->enabled &&
	       !q->broken;
}

/*
 * One descriptor, read once from guest memory into a copy that alone is
 * used: memcpy() because an indirect table need not be aligned, and a
 * compiler barrier so that no later use reads guest memory again
 */
static struct vq_desc vq_desc_read(const struct vq_desc *t, unsigned int i)
{
	struct vq_desc c;

	memcpy(&c, (const uint8_t *)t + (size_t)i * sizeof(c), sizeof(c));
	__asm__ __volatile__("" ::: "memory");
	return c;
}

/**
 * vq_avail_count() - Chains the guest made available that we did not take
 * @q:		Queue, mapped
 *
 * Return: count, 0 if the guest's index is not plausible
 */
unsigned int vq_avail_count(const struct virtq *q)
{
	uint16_t idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - q->last_avail);

	return n > q->num ? 0 : n;
}

/* Walk state of vq_pop(): the table walked and where we are in it */
struct vq_walk {
	const struct vq_desc *table;
	unsigned int size;
	unsigned int idx;
	unsigned int steps;
	bool indirect;
};

/* Enter the indirect table descriptor @d names. Return: VQ_OK or error */
static enum vq_err vq_indirect(const struct virtq *q, const struct vu_mem *m,
			       const struct vq_desc *d, struct vq_walk *w)
{
	struct iovec iov;

	if (!q->indirect || w->indirect || (d->flags & VQ_DESC_F_NEXT) ||
	    !d->len || d->len % sizeof(struct vq_desc) ||
	    d->len / sizeof(struct vq_desc) > VQ_NUM_MAX)
		return VQ_ERR_INDIRECT;
	/* the table must be contiguous here: one piece */
	if (vu_mem_gpa_iov(m, d->addr, d->len, &iov, 1) != 1)
		return VQ_ERR_INDIRECT;
	w->table = iov.iov_base;
	w->size = d->len / sizeof(struct vq_desc);
	w->idx = 0;
	w->steps = 0;
	w->indirect = true;
	return VQ_OK;
}

/* Add descriptor @d's buffer to @e. Return: VQ_OK or error */
static enum vq_err vq_gather(const struct vu_mem *m, const struct vq_desc *d,
			     struct vq_elem *e, bool *too_many)
{
	int n;

	if (!d->len)
		return VQ_OK;	/* legal, and carries nothing */
	if (*too_many)
		return vu_mem_gpa_iov(m, d->addr, d->len, NULL, 0) == -1 ?
		       VQ_ERR_ADDR : VQ_OK;
	n = vu_mem_gpa_iov(m, d->addr, d->len, e->iov + e->n,
			   VQ_ELEM_IOV - e->n);
	if (n == -1)
		return VQ_ERR_ADDR;
	if (n == -2) {
		*too_many = true;
		return VQ_OK;
	}
	e->n += (unsigned int)n;
	e->len += d->len;
	return VQ_OK;
}

/* Walk the chain from @head into @e. Return: VQ_OK, or what was wrong */
static enum vq_err vq_walk_chain(const struct virtq *q,
				 const struct vu_mem *m, uint16_t head,
				 bool write, struct vq_elem *e)
{
	struct vq_walk w = { q->desc, q->num, head, 0, false };
	bool too_many = false;
	enum vq_err rc;

	e->n = 0;
	e->len = 0;
	for (;;) {
		struct vq_desc d;

		if (w.idx >= w.size)
			return VQ_ERR_HEAD;
		if (++w.steps > w.size)
			return VQ_ERR_LOOP;
		d = vq_desc_read(w.table, w.idx);
		if (d.flags & VQ_DESC_F_INDIRECT) {
			rc = vq_indirect(q, m, &d, &w);
			if (rc)
				return rc;
			continue;
		}
		if (!!(d.flags & VQ_DESC_F_WRITE) != write)
			return VQ_ERR_DIR;
		rc = vq_gather(m, &d, e, &too_many);
		if (rc)
			return rc;
		if (!(d.flags & VQ_DESC_F_NEXT))
			break;
		w.idx = d.next;
	}
	return too_many ? VQ_ERR_TOO_MANY : VQ_OK;
}

/**
 * vq_pop() - Take the next available chain
 * @q:		Queue, ready
 * @m:		Memory table
 * @write:	Buffers must be device-writable (receive queue), else
 *		device-readable (transmit queue)
 * @e:		Chain, filled
 *
 * Return: VQ_OK; VQ_EMPTY; VQ_ERR_TOO_MANY for a chain taken but not
 *	   gathered (give it back used, length 0); any other error marks
 *	   the queue broken
 */
enum vq_err vq_pop(struct virtq *q, const struct vu_mem *m, bool write,
		   struct vq_elem *e)
{
	uint16_t idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - q->last_avail);
	enum vq_err rc;
	uint16_t head;

	if (!n)
		return VQ_EMPTY;
	if (n > q->num) {
		q->broken = true;
		return VQ_ERR_AVAIL_IDX;
	}
	head = ((volatile uint16_t *)q->avail->ring)[q->last_avail % q->num];
	rc = vq_walk_chain(q, m, head, write, e);
	if (rc && rc != VQ_ERR_TOO_MANY) {
		q->broken = true;
		return rc;
	}
	e->head = head;
	q->last_avail++;
	return rc;
}

/**
 * vq_unpop() - Give back the last chains taken, unused
 * @q:		Queue
 * @n:		How many
 */
void vq_unpop(struct virtq *q, unsigned int n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}

/**
 * vq_push() - Return a chain to the guest (published by vq_publish())
 * @q:		Queue
 * @head:	Its head index
 * @len:	Bytes we wrote into it (0 for a transmit chain)
 */
void vq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	volatile struct vq_used_elem *u = &q->used->ring[q->used_idx %
							 q->num];

	u->id = head;
	u->len = len;
	q->used_idx++;
	q->pending++;
}

/**
 * vq_publish() - Make pushed chains visible to the guest
 * @q:		Queue
 *
 * Return: true if the guest wants to be told (signal the call eventfd)
 */
bool vq_publish(struct virtq *q)
{
	uint16_t flags;

	if (!q->pending)
		return false;
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
	q->pending = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = __atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED);
	return !(flags & VQ_AVAIL_F_NO_INTERRUPT);
}
