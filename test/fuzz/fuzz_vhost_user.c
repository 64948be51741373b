/* test/fuzz/fuzz_vhost_user.c - libFuzzer harness: vhost-user messages
 *
 * Theory of operation
 * The front end's byte stream goes into vhost_user.c's message state
 * machine through vu_input(), with no socket (the device's fd is -1, so
 * no reply is sent) and no epoll instance. The device offers every
 * feature the daemon can offer and 8 queue pairs, as passtd does by
 * default. The input is both the stream and where it is cut, as for
 * fuzz_stream: its first byte n says that the next n % 16 bytes are the
 * sizes of the pieces (1 to 256 bytes, used in turn), the rest is the
 * stream. Pieces are fed one vu_input() call each, so headers and
 * payloads split across calls are covered. No descriptors come with any
 * piece: SET_MEM_TABLE, SET_VRING_KICK with an fd and the like fail their
 * checks, and nothing is ever mapped.
 *
 * After a -1 (the front end would be dropped) the device is closed with
 * vu_dev_close() and a fresh one takes the rest of the stream, as a new
 * front end would. After each piece the harness checks what must hold
 * whatever the stream: no descriptors kept, no memory mapped, only
 * offered features set, ring sizes that are 0 or a power of two, no
 * queue started (no kick eventfd can exist), the partial message within
 * the buffer; the events the device sends make sense. A broken rule aborts, with a line starting "fuzz: ".
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "util.h"
#include "vhost_user.h"

#define FUZZ_PAIRS	8

#define FUZZ_ASSERT(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__,	\
				__LINE__, #cond);			\
			abort();					\
		}							\
	} while (0)

/* Everything passtd can offer (vu_net.c, vu_offer()) */
#define FUZZ_OFFER	(VU_BIT(VU_F_VERSION_1) |			\
			 VU_BIT(VU_F_PROTOCOL_FEATURES) |		\
			 VU_BIT(VU_F_INDIRECT_DESC) |			\
			 VU_BIT(VU_F_MRG_RXBUF) | VU_BIT(VU_F_MQ) |	\
			 VU_BIT(VU_F_CSUM) | VU_BIT(VU_F_GUEST_CSUM) |	\
			 VU_BIT(VU_F_HOST_TSO4) | VU_BIT(VU_F_HOST_TSO6) | \
			 VU_BIT(VU_F_GUEST_TSO4) | VU_BIT(VU_F_GUEST_TSO6))

static struct vu_dev dev;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The frontend's hook: no kick eventfd can come without descriptors, so
 * no queue runs, and no memory table is taken; queues stop (or change)
 * at any time, every queue of the device when it is reset
 */
static void fuzz_event(struct vu_dev *d, unsigned int i, enum vu_event ev)
{
	FUZZ_ASSERT(d == &dev);
	FUZZ_ASSERT(ev != VU_EV_START && ev != VU_EV_KICK &&
		    ev != VU_EV_MEM);
	FUZZ_ASSERT(ev == VU_EV_STOP ? i < VU_QUEUES_MAX : i == 0);
}

/* What holds after any piece of any stream */
static void dev_check(const struct vu_dev *d)
{
	unsigned int i;

	FUZZ_ASSERT(d->fd == -1 && d->nfds == 0);
	FUZZ_ASSERT(d->mem.n == 0);
	FUZZ_ASSERT(!(d->features & ~FUZZ_OFFER));
	FUZZ_ASSERT(!(d->protocol & ~(VU_BIT(VU_PF_MQ) |
				      VU_BIT(VU_PF_REPLY_ACK))));
	FUZZ_ASSERT(d->have < VU_HDR_LEN + VU_PAYLOAD_MAX);
	for (i = 0; i < VU_QUEUES_MAX; i++) {
		const struct virtq *q = &d->vq[i];

		FUZZ_ASSERT(q->num <= VQ_NUM_MAX && !(q->num & (q->num - 1)));
		FUZZ_ASSERT(i < 2 * FUZZ_PAIRS || !q->num);
		FUZZ_ASSERT(!q->desc && !q->avail && !q->used);
		FUZZ_ASSERT(q->kick_fd == -1 && q->call_fd == -1);
		FUZZ_ASSERT(!vq_ready(q));
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* FUZZ_TRACE=1: see what the device does with an input */
	if (getenv("FUZZ_TRACE")) {
		log_level = LOG_LVL_TRACE;
	} else {
		log_level = LOG_LVL_ERR;
		log_set_stderr(false);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *cuts;
	size_t ncuts, k = 0;

	if (!size)
		return 0;
	ncuts = data[0] % 16;
	if (ncuts >= size)
		return 0;
	cuts = data + 1;
	data += 1 + ncuts;
	size -= 1 + ncuts;

	vu_dev_init(&dev, -1, FUZZ_OFFER, FUZZ_PAIRS, fuzz_event);
	while (size) {
		size_t piece = ncuts ? (size_t)cuts[k++ % ncuts] + 1 : size;

		piece = MIN(piece, size);
		if (vu_input(&dev, data, piece, NULL, 0)) {
			/* dropped: a new front end starts afresh */
			vu_dev_close(&dev);
			dev_check(&dev);
			FUZZ_ASSERT(!dev.features && !dev.protocol &&
				    !dev.have);
			vu_dev_init(&dev, -1, FUZZ_OFFER, FUZZ_PAIRS,
				    fuzz_event);
		}
		dev_check(&dev);
		data += piece;
		size -= piece;
	}
	vu_dev_close(&dev);
	dev_check(&dev);
	return 0;
}
