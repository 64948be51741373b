/* virtq_test.c - unit tests for guest address translation, ring mapping,
 * the descriptor chain walker and the used ring (virtq.c)
 *
 * Guest memory here is three static arrays: region 0 (8 KiB at guest
 * physical 0x100000) and region 1 (4 KiB) right after it as the guest
 * sees it, region 2 (4 KiB at 0x200000) after a gap. One queue's rings
 * lie in region 0: descriptors at its start, the available ring at 0x1000,
 * the used ring at 0x1800; buffers and indirect tables elsewhere.
 */
#include <string.h>

#include "virtq.h"
#include "unit.h"

#define UVA	0x7f0000000000ULL
#define GPA0	0x100000ULL
#define GPA1	0x102000ULL
#define GPA2	0x200000ULL
#define AVAIL	0x1000
#define USED	0x1800

static uint8_t m0[0x2000] __attribute__((aligned(4096)));
static uint8_t m1[0x1000] __attribute__((aligned(4096)));
static uint8_t m2[0x1000] __attribute__((aligned(4096)));
static struct vu_mem mem;
static struct virtq q;
static struct vq_elem e;

/* Region @i of @m at guest physical @gpa, here at @host */
static void region(struct vu_mem *m, unsigned int i, uint64_t gpa,
		   uint8_t *host, uint64_t size)
{
	m->r[i].gpa = gpa;
	m->r[i].size = size;
	m->r[i].uva = UVA + gpa;
	m->r[i].host = host;
	if (m->n <= i)
		m->n = i + 1;
}

/* The three regions, zeroed */
static void mem_setup(void)
{
	memset(&mem, 0, sizeof(mem));
	memset(m0, 0, sizeof(m0));
	memset(m1, 0, sizeof(m1));
	memset(m2, 0, sizeof(m2));
	region(&mem, 0, GPA0, m0, sizeof(m0));
	region(&mem, 1, GPA1, m1, sizeof(m1));
	region(&mem, 2, GPA2, m2, sizeof(m2));
}

/* A fresh queue of @num entries, mapped, over zeroed memory */
static void q_setup(unsigned int num, bool indirect)
{
	mem_setup();
	vq_reset(&q);
	q.num = num;
	q.indirect = indirect;
	q.enabled = true;
	q.desc_uva = UVA + GPA0;
	q.avail_uva = UVA + GPA0 + AVAIL;
	q.used_uva = UVA + GPA0 + USED;
	if (vq_map(&q, &mem))
		printf("# cannot map the test queue\n");
}

/* Descriptor @i of @table (the queue's own if NULL) */
static void desc(struct vq_desc *table, unsigned int i, uint64_t addr,
		 uint32_t len, uint16_t flags, uint16_t next)
{
	struct vq_desc *d = &(table ? table : q.desc)[i];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Make the chain at @head available */
static void avail(uint16_t head)
{
	q.avail->ring[q.avail->idx % q.num] = head;
	q.avail->idx++;
}

static void test_gpa_iov(void)
{
	struct vu_mem top = { 0 };
	static uint8_t hi[0x1000], lo[0x1000];
	struct iovec iov[4];

	mem_setup();
	/* inside one region */
	CHECK(vu_mem_gpa_iov(&mem, GPA0 + 0x10, 100, iov, 4) == 1);
	CHECK(iov[0].iov_base == m0 + 0x10 && iov[0].iov_len == 100);
	CHECK(vu_mem_gpa_iov(&mem, GPA2, sizeof(m2), iov, 4) == 1);
	CHECK(iov[0].iov_base == m2 && iov[0].iov_len == sizeof(m2));
	/* across two regions adjacent in guest memory: two pieces */
	CHECK(vu_mem_gpa_iov(&mem, GPA1 - 0x10, 0x30, iov, 4) == 2);
	CHECK(iov[0].iov_base == m0 + sizeof(m0) - 0x10 &&
	      iov[0].iov_len == 0x10);
	CHECK(iov[1].iov_base == m1 && iov[1].iov_len == 0x20);
	/* one byte past the end of memory before a gap */
	CHECK(vu_mem_gpa_iov(&mem, GPA1 + sizeof(m1) - 0x10, 0x11, iov,
			     4) == -1);
	CHECK(vu_mem_gpa_iov(&mem, GPA1 + sizeof(m1) - 0x10, 0x10, iov,
			     4) == 1);
	/* in the gap, before all memory */
	CHECK(vu_mem_gpa_iov(&mem, 0x150000, 1, iov, 4) == -1);
	CHECK(vu_mem_gpa_iov(&mem, 0, 1, iov, 4) == -1);
	CHECK(vu_mem_gpa_iov(&mem, GPA2 - 1, 2, iov, 4) == -1);
	/* more pieces than room */
	CHECK(vu_mem_gpa_iov(&mem, GPA1 - 0x10, 0x30, iov, 1) == -2);
	CHECK(vu_mem_gpa_iov(&mem, GPA0, 1, iov, 0) == -2);

	/*
	 * Wrapping: a region at the very top and one at 0 (a table the
	 * daemon refuses, so only the wrap check is left to refuse this)
	 */
	region(&top, 0, 0xfffffffffffff000ULL, hi, sizeof(hi));
	region(&top, 1, 0, lo, sizeof(lo));
	CHECK(vu_mem_gpa_iov(&top, 0xfffffffffffffff0ULL, 0xf, iov, 4) == 1);
	CHECK(vu_mem_gpa_iov(&top, 0xfffffffffffffff0ULL, 0x20, iov,
			     4) == -1);
	CHECK(vu_mem_gpa_iov(&mem, GPA0, UINT64_MAX, iov, 4) == -1);
}

static void test_uva(void)
{
	mem_setup();
	CHECK(vu_mem_uva(&mem, UVA + GPA0, sizeof(m0)) == m0);
	CHECK(vu_mem_uva(&mem, UVA + GPA2 + 8, 8) == m2 + 8);
	/* the next region follows, but a range must be inside one */
	CHECK(!vu_mem_uva(&mem, UVA + GPA0, sizeof(m0) + 1));
	CHECK(!vu_mem_uva(&mem, UVA + GPA0 - 1, 2));
	CHECK(!vu_mem_uva(&mem, UVA + GPA2, UINT64_MAX));
	CHECK(!vu_mem_uva(&mem, GPA0, 1));
}

static void test_map(void)
{
	q_setup(16, false);
	CHECK((uint8_t *)q.desc == m0);
	CHECK((uint8_t *)q.avail == m0 + AVAIL);
	CHECK((uint8_t *)q.used == m0 + USED);

	/* descriptors in the gap */
	q.desc_uva = UVA + 0x150000;
	CHECK(vq_map(&q, &mem) == -1);
	CHECK(!q.desc && !q.avail && !q.used);

	/* the used ring runs off the end of region 0 (into region 1) */
	q.desc_uva = UVA + GPA0;
	q.used_uva = UVA + GPA1 - 16;
	CHECK(vq_map(&q, &mem) == -1);
	CHECK(!q.desc && !q.avail && !q.used);
	/* its last field (the event index) too, by two bytes */
	q.used_uva = UVA + GPA1 - (4 + 8 * 16);
	CHECK(vq_map(&q, &mem) == -1);
	q.used_uva = UVA + GPA1 - (4 + 8 * 16 + 4);	/* aligned to 4 */
	CHECK(vq_map(&q, &mem) == 0);
	/* the available ring's, likewise */
	q.used_uva = UVA + GPA0 + USED;
	q.avail_uva = UVA + GPA1 - (4 + 2 * 16);
	CHECK(vq_map(&q, &mem) == -1);
	q.avail_uva = UVA + GPA1 - (4 + 2 * 16 + 2);
	CHECK(vq_map(&q, &mem) == 0);
	/* the descriptor table's end */
	q.avail_uva = UVA + GPA0 + AVAIL;
	q.desc_uva = UVA + GPA1 - 16 * 16 + 16;
	CHECK(vq_map(&q, &mem) == -1);
	q.desc_uva = UVA + GPA1 - 16 * 16;
	CHECK(vq_map(&q, &mem) == 0);

	/* misaligned: descriptors to 16, available to 2, used to 4 */
	q.desc_uva = UVA + GPA0 + 8;
	CHECK(vq_map(&q, &mem) == -1);
	CHECK(!q.desc && !q.avail && !q.used);
	q.desc_uva = UVA + GPA0;
	q.avail_uva = UVA + GPA0 + AVAIL + 1;
	CHECK(vq_map(&q, &mem) == -1);
	q.avail_uva = UVA + GPA0 + AVAIL + 2;
	CHECK(vq_map(&q, &mem) == 0);
	q.used_uva = UVA + GPA0 + USED + 2;
	CHECK(vq_map(&q, &mem) == -1);
	q.used_uva = UVA + GPA0 + USED + 4;
	CHECK(vq_map(&q, &mem) == 0);
}

static void test_pop_direct(void)
{
	q_setup(8, false);
	desc(NULL, 5, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 2);
	desc(NULL, 2, GPA2 + 0x10, 20, VQ_DESC_F_NEXT, 7);
	desc(NULL, 7, GPA1 + 0x20, 30, 0, 0);
	avail(5);
	CHECK(vq_avail_count(&q) == 1);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK);
	CHECK(e.head == 5 && e.n == 3 && e.len == 60);
	CHECK(e.iov[0].iov_base == m0 + 0x400 && e.iov[0].iov_len == 10);
	CHECK(e.iov[1].iov_base == m2 + 0x10 && e.iov[1].iov_len == 20);
	CHECK(e.iov[2].iov_base == m1 + 0x20 && e.iov[2].iov_len == 30);
	CHECK(q.last_avail == 1 && !q.broken);
	CHECK(vq_avail_count(&q) == 0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_EMPTY);
	CHECK(q.last_avail == 1 && !q.broken);

	/* a device-writable chain for a receive queue */
	desc(NULL, 0, GPA2, 1500, VQ_DESC_F_WRITE, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, true, &e) == VQ_OK);
	CHECK(e.head == 0 && e.n == 1 && e.len == 1500);

	/* a buffer across regions: two pieces, one length */
	desc(NULL, 1, GPA1 - 4, 8, 0, 0);
	avail(1);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK);
	CHECK(e.n == 2 && e.len == 8);

	/* given back, the same chain comes again */
	vq_unpop(&q, 1);
	CHECK(q.last_avail == 2);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK && e.head == 1);
	CHECK(q.last_avail == 3);
}

static void test_pop_zero_len(void)
{
	q_setup(4, false);
	desc(NULL, 0, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 1);
	desc(NULL, 1, 0, 0, VQ_DESC_F_NEXT, 2);	/* nowhere, but empty */
	desc(NULL, 2, GPA0 + 0x800, 5, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK);
	CHECK(e.n == 2 && e.len == 15);
	CHECK(e.iov[1].iov_base == m0 + 0x800 && e.iov[1].iov_len == 5);
}

static void test_pop_dir(void)
{
	/* a writable buffer in a readable chain */
	q_setup(4, false);
	desc(NULL, 0, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 1);
	desc(NULL, 1, GPA0 + 0x800, 10, VQ_DESC_F_WRITE, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_DIR);
	CHECK(q.broken && q.last_avail == 0);

	/* a readable one where writable ones belong */
	q_setup(4, false);
	desc(NULL, 0, GPA0 + 0x400, 10, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, true, &e) == VQ_ERR_DIR);
	CHECK(q.broken);
}

static void test_pop_head(void)
{
	q_setup(4, false);
	desc(NULL, 0, GPA0 + 0x400, 10, 0, 0);
	avail(4);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_HEAD);
	CHECK(q.broken && q.last_avail == 0);

	q_setup(4, false);
	desc(NULL, 3, GPA0 + 0x400, 10, 0, 0);
	avail(3);	/* the last one is fine */
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK && e.head == 3);

	q_setup(4, false);
	desc(NULL, 0, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 4);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_HEAD);
	CHECK(q.broken);

	/* a guest that broke the ring may not break us: out of memory */
	q_setup(4, false);
	desc(NULL, 0, GPA2 + sizeof(m2) - 4, 8, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_ADDR);
	CHECK(q.broken);
}

static void test_pop_loop(void)
{
	q_setup(4, false);
	desc(NULL, 0, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 1);
	desc(NULL, 1, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_LOOP);
	CHECK(q.broken && q.last_avail == 0);

	/* onto itself, with empty buffers */
	q_setup(4, false);
	desc(NULL, 2, 0, 0, VQ_DESC_F_NEXT, 2);
	avail(2);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_LOOP);

	/* a chain as long as the ring is no loop */
	q_setup(4, false);
	desc(NULL, 0, GPA0 + 0x400, 1, VQ_DESC_F_NEXT, 1);
	desc(NULL, 1, GPA0 + 0x400, 1, VQ_DESC_F_NEXT, 2);
	desc(NULL, 2, GPA0 + 0x400, 1, VQ_DESC_F_NEXT, 3);
	desc(NULL, 3, GPA0 + 0x400, 1, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK && e.n == 4);
}

static void test_pop_avail_idx(void)
{
	unsigned int i;

	q_setup(4, false);
	for (i = 0; i < 4; i++) {
		desc(NULL, i, GPA0 + 0x400, 1, 0, 0);
		avail((uint16_t)i);
	}
	/* exactly the ring size ahead: fine */
	CHECK(vq_avail_count(&q) == 4);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK);
	vq_unpop(&q, 1);
	q.avail->idx = 5;
	CHECK(vq_avail_count(&q) == 0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_AVAIL_IDX);
	CHECK(q.broken && q.last_avail == 0);

	/* around the wrap of the 16-bit indices */
	q_setup(4, false);
	q.last_avail = 0xffff;
	desc(NULL, 0, GPA0 + 0x400, 1, 0, 0);
	desc(NULL, 1, GPA0 + 0x400, 1, 0, 0);
	q.avail->ring[3] = 1;
	q.avail->ring[0] = 0;
	q.avail->idx = 1;
	CHECK(vq_avail_count(&q) == 2);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK && e.head == 1);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK && e.head == 0);
	CHECK(q.last_avail == 1);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_EMPTY);
	q.last_avail = 0xffff;
	q.avail->idx = 4;	/* 5 ahead of 0xffff */
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_AVAIL_IDX);
}

static void test_pop_indirect(void)
{
	struct vq_desc *t = (struct vq_desc *)(void *)(m2 + 0x100);

	/* valid: a table of three, in region 2 */
	q_setup(4, true);
	desc(NULL, 1, GPA2 + 0x100, 3 * 16, VQ_DESC_F_INDIRECT, 0);
	desc(t, 0, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 2);
	desc(t, 2, GPA0 + 0x800, 20, VQ_DESC_F_NEXT, 1);
	desc(t, 1, GPA1, 30, 0, 0);
	avail(1);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK);
	CHECK(e.head == 1 && e.n == 3 && e.len == 60);
	CHECK(e.iov[0].iov_base == m0 + 0x400);
	CHECK(e.iov[1].iov_base == m0 + 0x800);
	CHECK(e.iov[2].iov_base == m1);
	CHECK(!q.broken);

	/* its next index beyond the table (not the ring) */
	q_setup(8, true);
	desc(NULL, 0, GPA2 + 0x100, 2 * 16, VQ_DESC_F_INDIRECT, 0);
	desc(t, 0, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 2);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_HEAD);
	/* a loop inside the table */
	q_setup(8, true);
	desc(NULL, 0, GPA2 + 0x100, 2 * 16, VQ_DESC_F_INDIRECT, 0);
	desc(t, 0, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 1);
	desc(t, 1, GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_LOOP);

	/* an indirect descriptor inside the table */
	q_setup(4, true);
	desc(NULL, 0, GPA2 + 0x100, 2 * 16, VQ_DESC_F_INDIRECT, 0);
	desc(t, 0, GPA2 + 0x100, 2 * 16, VQ_DESC_F_INDIRECT, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_INDIRECT);
	CHECK(q.broken && q.last_avail == 0);

	/* a table of length 0, and one not a multiple of 16 */
	q_setup(4, true);
	desc(NULL, 0, GPA2 + 0x100, 0, VQ_DESC_F_INDIRECT, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_INDIRECT);
	CHECK(q.broken);
	q_setup(4, true);
	desc(NULL, 0, GPA2 + 0x100, 24, VQ_DESC_F_INDIRECT, 0);
	desc(t, 0, GPA0 + 0x400, 10, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_INDIRECT);

	/* INDIRECT together with NEXT */
	q_setup(4, true);
	desc(NULL, 0, GPA2 + 0x100, 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT,
	     1);
	desc(NULL, 1, GPA0 + 0x400, 10, 0, 0);
	desc(t, 0, GPA0 + 0x400, 10, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_INDIRECT);

	/* not negotiated */
	q_setup(4, false);
	desc(NULL, 0, GPA2 + 0x100, 16, VQ_DESC_F_INDIRECT, 0);
	desc(t, 0, GPA0 + 0x400, 10, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_INDIRECT);
	CHECK(q.broken);

	/* a table outside memory, or across two regions */
	q_setup(4, true);
	desc(NULL, 0, 0x150000, 16, VQ_DESC_F_INDIRECT, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_INDIRECT);
	q_setup(4, true);
	desc(NULL, 0, GPA1 - 16, 32, VQ_DESC_F_INDIRECT, 0);
	desc((struct vq_desc *)(void *)(m0 + sizeof(m0) - 16), 0,
	     GPA0 + 0x400, 10, VQ_DESC_F_NEXT, 1);
	desc((struct vq_desc *)(void *)m1, 0, GPA0 + 0x400, 10, 0, 0);
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_INDIRECT);
}

static void test_pop_too_many(void)
{
	unsigned int i;

	/* VQ_ELEM_IOV pieces: still fine */
	q_setup(128, false);
	for (i = 0; i < VQ_ELEM_IOV; i++)
		desc(NULL, i, GPA0 + 0x400 + i, 1,
		     i + 1 < VQ_ELEM_IOV ? VQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK);
	CHECK(e.n == VQ_ELEM_IOV && e.len == VQ_ELEM_IOV);

	/* one more descriptor */
	q_setup(128, false);
	for (i = 0; i <= VQ_ELEM_IOV; i++)
		desc(NULL, i, GPA0 + 0x400 + i, 1,
		     i < VQ_ELEM_IOV ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	avail(0);
	desc(NULL, 100, GPA0 + 0x800, 7, 0, 0);
	avail(100);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_TOO_MANY);
	CHECK(!q.broken && q.last_avail == 1 && e.head == 0);
	CHECK(e.n <= VQ_ELEM_IOV);
	/* the queue goes on */
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_OK);
	CHECK(e.head == 100 && e.n == 1 && e.len == 7);

	/* one more piece: the last buffer crosses into region 1 */
	q_setup(128, false);
	for (i = 0; i < VQ_ELEM_IOV; i++)
		desc(NULL, i, i + 1 < VQ_ELEM_IOV ? GPA0 + 0x400 + i :
		     GPA1 - 1, i + 1 < VQ_ELEM_IOV ? 1 : 2,
		     i + 1 < VQ_ELEM_IOV ? VQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_TOO_MANY);
	CHECK(!q.broken && q.last_avail == 1);

	/* but past the bound, a buffer outside memory still breaks it */
	q_setup(128, false);
	for (i = 0; i <= VQ_ELEM_IOV + 1; i++)
		desc(NULL, i, i <= VQ_ELEM_IOV ? GPA0 + 0x400 + i : 0x150000,
		     1, i <= VQ_ELEM_IOV ? VQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	avail(0);
	CHECK(vq_pop(&q, &mem, false, &e) == VQ_ERR_ADDR);
	CHECK(q.broken && q.last_avail == 0);
}

static void test_push_publish(void)
{
	q_setup(4, false);
	desc(NULL, 2, GPA2, 100, VQ_DESC_F_WRITE, 0);
	desc(NULL, 3, GPA2 + 100, 100, VQ_DESC_F_WRITE, 0);
	avail(2);
	avail(3);
	CHECK(vq_pop(&q, &mem, true, &e) == VQ_OK && e.head == 2);
	vq_push(&q, e.head, 42);
	/* nothing visible before vq_publish() */
	CHECK(q.used->idx == 0);
	CHECK(q.used->ring[0].id == 2 && q.used->ring[0].len == 42);
	CHECK(vq_pop(&q, &mem, true, &e) == VQ_OK && e.head == 3);
	vq_push(&q, e.head, 0);
	CHECK(q.used->ring[1].id == 3 && q.used->ring[1].len == 0);
	CHECK(vq_publish(&q));
	CHECK(q.used->idx == 2 && q.used_idx == 2 && !q.pending);
	/* nothing pending: no interrupt, index as it was */
	CHECK(!vq_publish(&q));
	CHECK(q.used->idx == 2);

	/* the guest does not want interrupts: published all the same */
	q.avail->flags = VQ_AVAIL_F_NO_INTERRUPT;
	avail(2);
	CHECK(vq_pop(&q, &mem, true, &e) == VQ_OK);
	vq_push(&q, e.head, 7);
	CHECK(!vq_publish(&q));
	CHECK(q.used->idx == 3 && q.used->ring[2].len == 7);
	q.avail->flags = 0;
	vq_push(&q, 3, 8);
	CHECK(vq_publish(&q));

	/* used entries around the wrap of the index */
	q_setup(4, false);
	q.used_idx = 0xffff;
	vq_push(&q, 1, 11);
	vq_push(&q, 0, 12);
	CHECK(q.used->ring[3].id == 1 && q.used->ring[3].len == 11);
	CHECK(q.used->ring[0].id == 0 && q.used->ring[0].len == 12);
	CHECK(vq_publish(&q) && q.used->idx == 1);
}

int main(void)
{
	UNIT_PLAN(12);
	UNIT_RUN(test_gpa_iov);
	UNIT_RUN(test_uva);
	UNIT_RUN(test_map);
	UNIT_RUN(test_pop_direct);
	UNIT_RUN(test_pop_zero_len);
	UNIT_RUN(test_pop_dir);
	UNIT_RUN(test_pop_head);
	UNIT_RUN(test_pop_loop);
	UNIT_RUN(test_pop_avail_idx);
	UNIT_RUN(test_pop_indirect);
	UNIT_RUN(test_pop_too_many);
	UNIT_RUN(test_push_publish);
	UNIT_EXIT();
}
