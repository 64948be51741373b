/* vhost_user_test.c - unit tests for the vhost-user message state machine
 * (vhost_user.c), fed through vu_input() with no socket: messages split
 * at every byte, requests that answer (no reply goes anywhere without a
 * socket), and the checks that drop a front end: payload sizes, version
 * flags, features, ring sizes, queue indices; unknown requests ignored
 */
#include <string.h>

#include "log.h"
#include "vhost_user.h"
#include "unit.h"

#define PAIRS	2
#define OFFER	(VU_BIT(VU_F_VERSION_1) | VU_BIT(VU_F_PROTOCOL_FEATURES) | \
		 VU_BIT(VU_F_INDIRECT_DESC) | VU_BIT(VU_F_MQ))

static struct vu_dev d;
static unsigned int events[VU_EV_GONE + 1];
static uint8_t msg[VU_HDR_LEN + VU_PAYLOAD_MAX + 16];

/* The frontend's hook: count what happened */
static void ev_count(struct vu_dev *dev, unsigned int i, enum vu_event ev)
{
	(void)dev;
	(void)i;
	events[ev]++;
}

/* A fresh device, no front end socket, no epoll instance */
static void dev_setup(void)
{
	memset(events, 0, sizeof(events));
	vu_dev_init(&d, -1, OFFER, PAIRS, ev_count);
}

/* Build a message into msg. Return: its length */
static size_t mk(uint32_t req, uint32_t flags, const void *payload,
		 uint32_t size)
{
	uint32_t h[3] = { req, flags, size };

	memcpy(msg, h, sizeof(h));
	if (payload)
		memcpy(msg + VU_HDR_LEN, payload, size);
	else
		memset(msg + VU_HDR_LEN, 0, size);
	return VU_HDR_LEN + size;
}

static size_t mk_u64(uint32_t req, uint64_t v)
{
	return mk(req, VU_FLAG_VERSION, &v, sizeof(v));
}

static size_t mk_state(uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t s[2] = { index, num };

	return mk(req, VU_FLAG_VERSION, s, sizeof(s));
}

/* Feed one message whole. Return: what vu_input() says */
static int feed(size_t len)
{
	return vu_input(&d, msg, len, NULL, 0);
}

static void test_split(void)
{
	size_t len, i;
	int rc = 0;

	dev_setup();
	len = mk_u64(VU_SET_FEATURES, VU_BIT(VU_F_VERSION_1) |
		     VU_BIT(VU_F_INDIRECT_DESC));
	for (i = 0; i + 1 < len; i++) {
		rc |= vu_input(&d, msg + i, 1, NULL, 0);
		if (d.features || events[VU_EV_FEATURES])
			break;	/* acted on too early */
	}
	CHECK(!rc && i == len - 1);
	CHECK(!d.features && !events[VU_EV_FEATURES] && d.have == len - 1);
	CHECK(vu_input(&d, msg + len - 1, 1, NULL, 0) == 0);
	CHECK(d.features == (VU_BIT(VU_F_VERSION_1) |
			     VU_BIT(VU_F_INDIRECT_DESC)));
	CHECK(events[VU_EV_FEATURES] == 1 && d.have == 0);
	CHECK(d.vq[0].indirect && d.vq[2 * PAIRS - 1].indirect);

	/* two messages in one piece, the second cut in its header */
	len = mk_state(VU_SET_VRING_NUM, 1, 64);
	memcpy(msg + len, msg, len);
	msg[len + VU_HDR_LEN] = 2;	/* index 2: ring size 64 too */
	CHECK(vu_input(&d, msg, len + 5, NULL, 0) == 0);
	CHECK(d.vq[1].num == 64 && !d.vq[2].num && d.have == 5);
	CHECK(vu_input(&d, msg + len + 5, len - 5, NULL, 0) == 0);
	CHECK(d.vq[2].num == 64 && d.have == 0);
}

static void test_no_fd(void)
{
	dev_setup();
	CHECK(feed(mk(VU_GET_FEATURES, VU_FLAG_VERSION, NULL, 0)) == 0);
	CHECK(feed(mk(VU_GET_PROTOCOL_FEATURES, VU_FLAG_VERSION, NULL,
		      0)) == 0);
	CHECK(feed(mk(VU_GET_QUEUE_NUM, VU_FLAG_VERSION, NULL, 0)) == 0);
	CHECK(feed(mk(VU_SET_OWNER, VU_FLAG_VERSION, NULL, 0)) == 0);
	CHECK(feed(mk_u64(VU_SET_PROTOCOL_FEATURES,
			  VU_BIT(VU_PF_MQ) | VU_BIT(VU_PF_REPLY_ACK))) == 0);
	CHECK(d.protocol == (VU_BIT(VU_PF_MQ) | VU_BIT(VU_PF_REPLY_ACK)));
	/* acknowledged (REPLY_ACK), to nobody */
	CHECK(vu_input(&d, msg, mk(VU_SET_OWNER, VU_FLAG_VERSION |
				   VU_FLAG_NEED_REPLY, NULL, 0),
		       NULL, 0) == 0);
	CHECK(feed(mk_state(VU_SET_VRING_NUM, 0, 256)) == 0);
	CHECK(feed(mk_state(VU_SET_VRING_BASE, 0, 77)) == 0);
	CHECK(d.vq[0].last_avail == 77 && d.vq[0].used_idx == 77);
	CHECK(feed(mk_state(VU_SET_VRING_ENABLE, 0, 1)) == 0);
	CHECK(d.vq[0].enabled);
	/* stops the queue, keeps its size */
	CHECK(feed(mk_state(VU_GET_VRING_BASE, 0, 0)) == 0);
	CHECK(d.vq[0].num == 256 && !d.vq[0].enabled);
	CHECK(feed(mk_state(VU_SET_VRING_ENABLE, 0, 0)) == 0);
	/* eventfd messages saying "no descriptor" */
	CHECK(feed(mk_u64(VU_SET_VRING_CALL, 0x100 | 1)) == 0);
	CHECK(feed(mk_u64(VU_SET_VRING_KICK, 0x100 | 1)) == 0);
	CHECK(feed(mk_u64(VU_SET_VRING_ERR, 0x100 | 1)) == 0);
	CHECK(!events[VU_EV_START]);	/* no kick eventfd: never runs */
	CHECK(d.fd == -1 && d.nfds == 0);

	/* one that should have carried a descriptor, and has none */
	CHECK(feed(mk_u64(VU_SET_VRING_CALL, 1)) == -1);
	dev_setup();
	CHECK(feed(mk_u64(VU_SET_VRING_KICK, 1)) == -1);
	/* a memory table without its descriptors */
	dev_setup();
	{
		uint64_t t[5] = { 1, 0x100000, 0x10000, 0x7f0000100000, 0 };

		CHECK(feed(mk(VU_SET_MEM_TABLE, VU_FLAG_VERSION, t,
			      sizeof(t))) == -1);
		CHECK(d.mem.n == 0);
	}
}

static void test_size(void)
{
	uint32_t h[3] = { VU_GET_FEATURES, VU_FLAG_VERSION,
			  VU_PAYLOAD_MAX + 1 };

	/* refused on the header, before any payload comes */
	dev_setup();
	CHECK(vu_input(&d, (const uint8_t *)h, sizeof(h) - 1, NULL, 0) == 0);
	CHECK(vu_input(&d, (const uint8_t *)h + sizeof(h) - 1, 1, NULL,
		       0) == -1);
	vu_dev_close(&d);
	CHECK(events[VU_EV_GONE] == 1 && d.have == 0);

	/* the largest payload is taken (and this request ignored) */
	dev_setup();
	CHECK(feed(mk(99, VU_FLAG_VERSION, NULL, VU_PAYLOAD_MAX)) == 0);
	CHECK(d.have == 0);
	dev_setup();
	CHECK(feed(mk(99, VU_FLAG_VERSION, NULL, VU_PAYLOAD_MAX + 1)) == -1);

	/* a size not the one the request takes */
	dev_setup();
	CHECK(feed(mk(VU_SET_FEATURES, VU_FLAG_VERSION, NULL, 4)) == -1);
	dev_setup();
	CHECK(feed(mk(VU_GET_FEATURES, VU_FLAG_VERSION, NULL, 8)) == -1);
	dev_setup();
	CHECK(feed(mk(VU_SET_VRING_NUM, VU_FLAG_VERSION, NULL, 16)) == -1);
}

static void test_flags(void)
{
	uint32_t f[] = { 0, 2, 3, VU_FLAG_VERSION | VU_FLAG_REPLY };
	unsigned int i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		dev_setup();
		CHECK(feed(mk(VU_GET_FEATURES, f[i], NULL, 0)) == -1);
	}
	dev_setup();
	CHECK(feed(mk(VU_GET_FEATURES, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY,
		      NULL, 0)) == 0);
	/* unknown requests are checked for their version too */
	dev_setup();
	CHECK(feed(mk(99, 0, NULL, 0)) == -1);
}

static void test_features(void)
{
	dev_setup();
	CHECK(feed(mk_u64(VU_SET_FEATURES, OFFER)) == 0);
	CHECK(d.features == OFFER);
	CHECK(feed(mk_u64(VU_SET_FEATURES, OFFER |
			  VU_BIT(VU_F_MRG_RXBUF))) == -1);
	CHECK(d.features == OFFER);
	dev_setup();
	CHECK(feed(mk_u64(VU_SET_FEATURES, VU_BIT(63))) == -1);
	CHECK(!d.features && !events[VU_EV_FEATURES]);
	/* protocol features we do not know */
	dev_setup();
	CHECK(feed(mk_u64(VU_SET_PROTOCOL_FEATURES, VU_BIT(1))) == -1);
	CHECK(!d.protocol);
}

static void test_vring_num(void)
{
	uint32_t bad[] = { 0, 3, 6, 100, VQ_NUM_MAX + 1, 2 * VQ_NUM_MAX,
			   0xffffffff };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dev_setup();
		CHECK(feed(mk_state(VU_SET_VRING_NUM, 0, bad[i])) == -1);
		CHECK(!d.vq[0].num);
	}
	dev_setup();
	CHECK(feed(mk_state(VU_SET_VRING_NUM, 0, 1)) == 0);
	CHECK(d.vq[0].num == 1);
	CHECK(feed(mk_state(VU_SET_VRING_NUM, 0, VQ_NUM_MAX)) == 0);
	CHECK(d.vq[0].num == VQ_NUM_MAX);
	/* a base beyond 16 bits */
	CHECK(feed(mk_state(VU_SET_VRING_BASE, 0, 0x10000)) == -1);
	dev_setup();
	CHECK(feed(mk_state(VU_SET_VRING_ENABLE, 0, 2)) == -1);
}

static void test_queue_index(void)
{
	uint32_t req[] = { VU_SET_VRING_NUM, VU_SET_VRING_BASE,
			   VU_GET_VRING_BASE, VU_SET_VRING_ENABLE };
	unsigned int i;

	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		dev_setup();
		CHECK(feed(mk_state(req[i], 2 * PAIRS - 1, 1)) == 0);
		CHECK(feed(mk_state(req[i], 2 * PAIRS, 1)) == -1);
		dev_setup();
		CHECK(feed(mk_state(req[i], VU_QUEUES_MAX, 1)) == -1);
		dev_setup();
		CHECK(feed(mk_state(req[i], 0xffffffff, 1)) == -1);
	}
	dev_setup();
	CHECK(feed(mk_u64(VU_SET_VRING_CALL, 0x100 | (2 * PAIRS))) == -1);
	dev_setup();
	CHECK(feed(mk_u64(VU_SET_VRING_ERR, 0x100 | (2 * PAIRS))) == -1);
	dev_setup();
	/* flag bits beyond "no descriptor" */
	CHECK(feed(mk_u64(VU_SET_VRING_CALL, 0x300)) == -1);
}

static void test_unknown(void)
{
	dev_setup();
	CHECK(feed(mk(99, VU_FLAG_VERSION, "abcd", 4)) == 0);
	CHECK(feed(mk(0, VU_FLAG_VERSION, NULL, 0)) == 0);
	CHECK(feed(mk(VU_SET_LOG_BASE + 100, VU_FLAG_VERSION, NULL,
		      0)) == 0);
	/* asked to answer, with REPLY_ACK: answered failed, not dropped */
	CHECK(feed(mk_u64(VU_SET_PROTOCOL_FEATURES,
			  VU_BIT(VU_PF_REPLY_ACK))) == 0);
	CHECK(feed(mk(99, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, NULL,
		      0)) == 0);
	/* the device still works */
	CHECK(feed(mk_u64(VU_SET_FEATURES, VU_BIT(VU_F_VERSION_1))) == 0);
	CHECK(d.features == VU_BIT(VU_F_VERSION_1));
}

static void test_close(void)
{
	dev_setup();
	CHECK(feed(mk_u64(VU_SET_FEATURES, OFFER)) == 0);
	CHECK(feed(mk_state(VU_SET_VRING_NUM, 1, 128)) == 0);
	CHECK(vu_input(&d, msg, 7, NULL, 0) == 0);	/* half a header */
	vu_dev_close(&d);
	CHECK(d.fd == -1 && !d.have && !d.features && !d.vq[1].num);
	CHECK(d.vq[1].kick_fd == -1 && d.vq[1].call_fd == -1);
	CHECK(events[VU_EV_GONE] == 1);
	/* and a new front end starts from nothing */
	CHECK(feed(mk(VU_GET_FEATURES, VU_FLAG_VERSION, NULL, 0)) == 0);
	/* RESET_DEVICE forgets likewise, without the hang-up */
	CHECK(feed(mk_u64(VU_SET_FEATURES, OFFER)) == 0);
	CHECK(feed(mk(VU_RESET_DEVICE, VU_FLAG_VERSION, NULL, 0)) == 0);
	CHECK(!d.features && events[VU_EV_GONE] == 1);
}

int main(void)
{
	log_set_stderr(false);
	UNIT_PLAN(9);
	UNIT_RUN(test_split);
	UNIT_RUN(test_no_fd);
	UNIT_RUN(test_size);
	UNIT_RUN(test_flags);
	UNIT_RUN(test_features);
	UNIT_RUN(test_vring_num);
	UNIT_RUN(test_queue_index);
	UNIT_RUN(test_unknown);
	UNIT_RUN(test_close);
	UNIT_EXIT();
}
