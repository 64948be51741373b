/* virtq.h - guest memory and split virtqueues as a vhost-user back end
 * sees them: translation of guest addresses, descriptor chains, used ring
 */
#ifndef VIRTQ_H
#define VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VU_REGIONS_MAX	8	/* VHOST_MEMORY_BASELINE_NREGIONS */
#define VQ_NUM_MAX	32768	/* largest ring the virtio spec allows */
#define VQ_ELEM_IOV	64	/* pieces of one chain we gather */

/**
 * struct vu_region - One region of guest memory, mapped here
 * @gpa:	Guest physical address of its start
 * @size:	Length in bytes
 * @uva:	Its address in the front end's (QEMU's) address space
 * @host:	Its address here
 * @map:	Our mapping (which starts @host - mmap_offset), for munmap
 * @map_len:	Length of @map
 */
struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint8_t *host;
	void *map;
	size_t map_len;
};

/**
 * struct vu_mem - The guest's memory table
 * @n:		Regions in use
 * @r:		Regions
 */
struct vu_mem {
	unsigned int n;
	struct vu_region r[VU_REGIONS_MAX];
};

void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t len);
int vu_mem_gpa_iov(const struct vu_mem *m, uint64_t gpa, uint64_t len,
		   struct iovec *iov, unsigned int max);

/* Ring layout, as the virtio spec gives it (little-endian, VERSION_1) */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

#define VQ_DESC_F_NEXT		1
#define VQ_DESC_F_WRITE		2
#define VQ_DESC_F_INDIRECT	4
#define VQ_AVAIL_F_NO_INTERRUPT	1
#define VQ_USED_F_NO_NOTIFY	1

struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[];
};

/**
 * struct virtq - One virtqueue of the device
 * @num:	Ring size, 0 until set
 * @desc_uva:	Front end's addresses of the rings (SET_VRING_ADDR): kept
 *		to translate again when the memory table changes
 * @avail_uva:	Of the available ring
 * @used_uva:	Of the used ring
 * @desc:	Descriptor table, here (NULL if not translated)
 * @avail:	Available ring, here
 * @used:	Used ring, here
 * @last_avail:	Next available entry we take
 * @used_idx:	Our used index (published to @used->idx by vq_publish())
 * @indirect:	Indirect descriptors were negotiated
 * @enabled:	SET_VRING_ENABLE said so (or no protocol features)
 * @broken:	The guest broke the ring: no more work until set up again
 * @kick_fd:	Eventfd the guest kicks, -1 if none
 * @call_fd:	Eventfd we signal, -1 if none
 * @pending:	Used entries not yet published
 */
struct virtq {
	unsigned int num;
	uint64_t desc_uva;
	uint64_t avail_uva;
	uint64_t used_uva;
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;
	uint16_t last_avail;
	uint16_t used_idx;
	bool indirect;
	bool enabled;
	bool broken;
	int kick_fd;
	int call_fd;
	unsigned int pending;
};

/**
 * struct vq_elem - A descriptor chain taken from the available ring
 * @head:	Index of its first descriptor, for the used ring
 * @n:		Pieces in @iov (zero-length descriptors are left out)
 * @len:	Bytes in all pieces
 * @iov:	The pieces, as addresses here
 */
struct vq_elem {
	uint16_t head;
	unsigned int n;
	size_t len;
	struct iovec iov[VQ_ELEM_IOV];
};

/* Why a chain was refused, for one error line */
enum vq_err {
	VQ_OK = 0,
	VQ_EMPTY,		/* nothing available */
	VQ_ERR_AVAIL_IDX,	/* available index too far ahead */
	VQ_ERR_HEAD,		/* head or next index beyond the ring */
	VQ_ERR_LOOP,		/* chain longer than the ring */
	VQ_ERR_ADDR,		/* buffer outside guest memory */
	VQ_ERR_DIR,		/* readable and writable mixed up */
	VQ_ERR_INDIRECT,	/* bad indirect table */
	VQ_ERR_TOO_MANY,	/* more pieces than we gather (drop only) */
};

const char *vq_strerror(enum vq_err e);
void vq_reset(struct virtq *q);
int vq_map(struct virtq *q, const struct vu_mem *m);
bool vq_ready(const struct virtq *q);
enum vq_err vq_pop(struct virtq *q, const struct vu_mem *m, bool write,
		   struct vq_elem *e);
void vq_unpop(struct virtq *q, unsigned int n);
void vq_push(struct virtq *q, uint16_t head, uint32_t len);
bool vq_publish(struct virtq *q);
unsigned int vq_avail_count(const struct virtq *q);

#endif /* VIRTQ_H */
