/* test/fuzz/fuzz_virtq.c - libFuzzer harness: the descriptor chain walker
 *
 * Theory of operation
 * Guest memory is three regions, each a static array of its own (so the
 * address sanitizer's redzones lie between them):
 *
 *   region  guest physical          size    host
 *   0       0x100000 - 0x106000     24 KiB  mem0
 *   1       0x106000 - 0x10a000     16 KiB  mem1 (right after 0 as the
 *                                           guest sees it, not here)
 *   2       0x200000 - 0x206000     24 KiB  mem2 (after a gap)
 *
 * Each region's front end address (uva) is FUZZ_UVA plus its guest
 * physical address, so vu_mem_uva() finds the rings. One queue's rings lie
 * at the start of region 0, packed: the descriptor table (16 * num bytes),
 * the available ring right after it, the used ring after that at the next
 * multiple of 4; they are mapped with vq_map() as SET_VRING_ADDR does.
 *
 * Input: byte 0 gives the ring size, num = 1 << (bits 0-3 % 9), so 1 to
 * 256, and whether indirect descriptors were negotiated (bit 4); bytes 1
 * and 2 the index we start at (last_avail and used_idx, little-endian, so
 * the 16-bit wrap is reached); bytes 3 to 6 are 32 operation bits, used
 * two per vq_pop() in turn (device-writable or readable chains wanted;
 * give the chain back with vq_unpop() or push it used). Everything after
 * is the guest's memory: copied from the start of region 0 on (so over
 * the descriptor table, the available ring's flags, index and entries,
 * and whatever indirect tables the descriptors name), then into region 2
 * and region 1; the rest of memory is zero.
 *
 * vq_pop() runs until the ring is empty or broken, at most 2 * num + 2
 * times. What must hold, else abort with a line starting "fuzz: ": each
 * piece of a chain is non-empty and wholly inside one region's host
 * memory, at most VQ_ELEM_IOV pieces, the chain's length is the sum of
 * its pieces (VQ_OK), the head is inside the ring; a chain taken moves
 * last_avail by one and leaves the queue working, any other error marks
 * it broken and takes nothing; a chain given back and taken again is the
 * same chain; the available count never exceeds the ring size.
 *
 * FUZZ_TRACE=1 in the environment prints what each vq_pop() returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "virtq.h"

#define FUZZ_UVA	0x7f0000000000ULL
#define FUZZ_GPA0	0x100000ULL
#define FUZZ_GPA2	0x200000ULL
#define FUZZ_SIZE0	0x6000
#define FUZZ_SIZE1	0x4000
#define FUZZ_SIZE2	0x6000
#define FUZZ_HDR	7	/* input bytes before the memory image */

#define FUZZ_ASSERT(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__,	\
				__LINE__, #cond);			\
			abort();					\
		}							\
	} while (0)

static uint8_t mem0[FUZZ_SIZE0] __attribute__((aligned(4096)));
static uint8_t mem1[FUZZ_SIZE1] __attribute__((aligned(4096)));
static uint8_t mem2[FUZZ_SIZE2] __attribute__((aligned(4096)));
static struct vu_mem mem;
static struct virtq q;
static struct vq_elem e, again;
static bool trace;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set region @i of the table */
static void region_set(unsigned int i, uint64_t gpa, uint8_t *host,
		       uint64_t size)
{
	mem.r[i].gpa = gpa;
	mem.r[i].size = size;
	mem.r[i].uva = FUZZ_UVA + gpa;
	mem.r[i].host = host;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	region_set(0, FUZZ_GPA0, mem0, FUZZ_SIZE0);
	region_set(1, FUZZ_GPA0 + FUZZ_SIZE0, mem1, FUZZ_SIZE1);
	region_set(2, FUZZ_GPA2, mem2, FUZZ_SIZE2);
	mem.n = 3;
	trace = getenv("FUZZ_TRACE");
	return 0;
}

/* Copy up to @room bytes of the input to @dst. Return: bytes copied */
static size_t image(uint8_t *dst, size_t room, const uint8_t **data,
		    size_t *size)
{
	size_t n = MIN(room, *size);

	memcpy(dst, *data, n);
	*data += n;
	*size -= n;
	return n;
}

/* Is [@p, @p + @len) wholly inside one region's host memory? */
static int in_one_region(const void *p, size_t len)
{
	unsigned int i;

	for (i = 0; i < mem.n; i++) {
		const uint8_t *h = mem.r[i].host;

		if ((const uint8_t *)p >= h &&
		    (const uint8_t *)p < h + mem.r[i].size &&
		    len <= (size_t)(h + mem.r[i].size - (const uint8_t *)p))
			return 1;
	}
	return 0;
}

/* Check a chain vq_pop() returned with @rc */
static void elem_check(const struct vq_elem *el, enum vq_err rc)
{
	size_t sum = 0;
	unsigned int i;

	FUZZ_ASSERT(el->n <= VQ_ELEM_IOV);
	FUZZ_ASSERT(el->head < q.num);
	for (i = 0; i < el->n; i++) {
		FUZZ_ASSERT(el->iov[i].iov_len > 0);
		FUZZ_ASSERT(in_one_region(el->iov[i].iov_base,
					  el->iov[i].iov_len));
		sum += el->iov[i].iov_len;
	}
	if (rc == VQ_OK)
		FUZZ_ASSERT(el->len == sum);
	else
		FUZZ_ASSERT(el->len <= sum);
}

/* The same chain, twice? */
static int elem_same(const struct vq_elem *a, const struct vq_elem *b)
{
	unsigned int i;

	if (a->head != b->head || a->n != b->n || a->len != b->len)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->iov[i].iov_base != b->iov[i].iov_base ||
		    a->iov[i].iov_len != b->iov[i].iov_len)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int num, i, pops, pushed = 0;
	uint32_t ops;
	uint16_t start;
	size_t avail_off;

	if (size < FUZZ_HDR)
		return 0;
	num = 1U << ((data[0] & 0xf) % 9);
	memcpy(&start, data + 1, sizeof(start));
	memcpy(&ops, data + 3, sizeof(ops));

	vq_reset(&q);
	q.num = num;
	q.indirect = data[0] & 0x10;
	q.enabled = true;
	q.last_avail = q.used_idx = start;
	avail_off = 16 * num;
	q.desc_uva = FUZZ_UVA + FUZZ_GPA0;
	q.avail_uva = q.desc_uva + avail_off;
	q.used_uva = q.desc_uva + ((avail_off + 4 + 2 * num + 2 + 3) & ~3UL);
	FUZZ_ASSERT(!vq_map(&q, &mem));

	data += FUZZ_HDR;
	size -= FUZZ_HDR;
	memset(mem0, 0, sizeof(mem0));
	memset(mem1, 0, sizeof(mem1));
	memset(mem2, 0, sizeof(mem2));
	image(mem0, sizeof(mem0), &data, &size);
	image(mem2, sizeof(mem2), &data, &size);
	image(mem1, sizeof(mem1), &data, &size);

	for (i = 0, pops = 0; pops < 2 * num + 2; pops++) {
		bool write = ops >> (i++ % 32) & 1;
		bool unpop = ops >> (i++ % 32) & 1;
		uint16_t before = q.last_avail;
		enum vq_err rc;

		FUZZ_ASSERT(vq_avail_count(&q) <= num);
		rc = vq_pop(&q, &mem, write, &e);
		if (trace)
			fprintf(stderr, "vq_pop(%s) at %u: %s, head %u, "
				"%u pieces, %zu bytes\n", write ? "write" :
				"read", before, vq_strerror(rc), e.head, e.n,
				e.len);
		if (rc == VQ_EMPTY) {
			FUZZ_ASSERT(!q.broken && q.last_avail == before);
			break;
		}
		if (rc != VQ_OK && rc != VQ_ERR_TOO_MANY) {
			FUZZ_ASSERT(q.broken && q.last_avail == before);
			break;
		}
		FUZZ_ASSERT(!q.broken);
		FUZZ_ASSERT(q.last_avail == (uint16_t)(before + 1));
		elem_check(&e, rc);
		if (unpop) {
			enum vq_err rc2;

			/* memory did not change: the same chain again */
			vq_unpop(&q, 1);
			FUZZ_ASSERT(q.last_avail == before);
			rc2 = vq_pop(&q, &mem, write, &again);
			FUZZ_ASSERT(rc2 == rc && elem_same(&e, &again));
		}
		vq_push(&q, e.head, rc == VQ_OK && write ?
			(uint32_t)MIN(e.len, 1500) : 0);
		if (++pushed % 3 == 0)
			(void)vq_publish(&q);
		if (q.broken)
			break;
	}
	(void)vq_publish(&q);
	FUZZ_ASSERT(q.pending == 0);
	/* the guest's memory holds any index until we publish one */
	FUZZ_ASSERT(!pushed || q.used->idx == q.used_idx);
	FUZZ_ASSERT(q.used_idx == (uint16_t)(start + pushed));
	return 0;
}
