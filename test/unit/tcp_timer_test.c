/* tcp_timer_test.c - unit tests for the TCP timer arithmetic (tcp_timer.c):
 * RTT estimate and retransmission timeout, lifetime bounds, the challenge
 * ACK limit, fake clock
 */
#include <string.h>

#include "tcp_timer.h"
#include "unit.h"

static struct net_conf nc;

/* The bounds in seconds: keepalive, half-close, inactivity */
static void bounds(unsigned int ka, unsigned int fin, unsigned int idle)
{
	memset(&nc, 0, sizeof(nc));
	nc.tcp_keepalive_s = ka;
	nc.tcp_fin_timeout_s = fin;
	nc.tcp_timeout_s = idle;
}

static void test_rto_first_sample(void)
{
	struct tcp_rtt r = { 0 };

	CHECK(tcp_rtt_rto(&r) == TCP_RTO_INIT_MS);
	tcp_rtt_start(&r, 1000, 5000);
	CHECK(!tcp_rtt_ack(&r, 999, 5100));	/* not up to the timed byte */
	CHECK(tcp_rtt_rto(&r) == TCP_RTO_INIT_MS);
	CHECK(tcp_rtt_ack(&r, 1000, 5400));	/* 400 ms */
	/* RFC 6298 2.2: SRTT 400, RTTVAR 200, RTO 400 + 4 * 200 */
	CHECK(r.srtt8 == 400 * 8 && r.rttvar8 == 200 * 8);
	CHECK(tcp_rtt_rto(&r) == 1200);
	CHECK(!tcp_rtt_ack(&r, 2000, 5500));	/* nothing timed any more */
}

static void test_rto_converges(void)
{
	struct tcp_rtt r = { 0 };
	uint64_t now = 1;
	int i;

	for (i = 0; i < 100; i++) {
		tcp_rtt_start(&r, (uint32_t)i, now);
		now += 400;
		CHECK(tcp_rtt_ack(&r, (uint32_t)i, now));
	}
	/* steady 400 ms: SRTT 400, RTTVAR gone, the floor above SRTT */
	CHECK(r.srtt8 / 8 == 400);
	CHECK(tcp_rtt_rto(&r) == 400 + TCP_RTO_MIN_MS);
}

static void test_rto_bounds(void)
{
	struct tcp_rtt r = { 0 };

	tcp_rtt_start(&r, 1, 100);
	CHECK(tcp_rtt_ack(&r, 1, 100));		/* below the clock's tick */
	CHECK(tcp_rtt_rto(&r) == TCP_RTO_MIN_MS);
	memset(&r, 0, sizeof(r));
	tcp_rtt_start(&r, 1, 100);
	CHECK(tcp_rtt_ack(&r, 1, 100 + 60000));	/* a minute */
	CHECK(tcp_rtt_rto(&r) == TCP_RTO_MAX_MS);
}

static void test_rto_karn(void)
{
	struct tcp_rtt r = { 0 };

	tcp_rtt_start(&r, 500, 1000);
	tcp_rtt_start(&r, 900, 1100);		/* one timed at a time */
	CHECK(r.seq == 500 && r.sent_ms == 1000);
	tcp_rtt_cancel(&r);			/* sent again */
	CHECK(!tcp_rtt_ack(&r, 900, 1500));
	CHECK(tcp_rtt_rto(&r) == TCP_RTO_INIT_MS);
}

static void test_rto_wraparound(void)
{
	struct tcp_rtt r = { 0 };

	tcp_rtt_start(&r, 0xfffffff0U, 1000);
	CHECK(!tcp_rtt_ack(&r, 0xffffffe0U, 1010));	/* before it */
	CHECK(tcp_rtt_ack(&r, 0x10, 1020));		/* past 2^32 */
	CHECK(r.srtt8 == 20 * 8);
}

static void test_keepalive_unanswered(void)
{
	struct tcp_life l = { .tap_ms = 1000, .act_ms = 1000 };
	uint64_t t;
	int i;

	bounds(2, 0, 0);
	CHECK(tcp_life_due(&nc, &l) == 3000);
	CHECK(tcp_life_check(&nc, &l, 2999) == TCP_LIFE_NONE);
	for (i = 0; i < TCP_KA_PROBES; i++) {
		t = tcp_life_due(&nc, &l);
		CHECK(t == 3000 + (uint64_t)i * 2000);
		CHECK(tcp_life_check(&nc, &l, t) == TCP_LIFE_PROBE);
		CHECK(l.ka_sent == i + 1);
	}
	t = tcp_life_due(&nc, &l);
	CHECK(tcp_life_check(&nc, &l, t - 1) == TCP_LIFE_NONE);
	CHECK(tcp_life_check(&nc, &l, t) == TCP_LIFE_GONE);
}

static void test_keepalive_answered(void)
{
	struct tcp_life l = { .tap_ms = 0, .act_ms = 0 };

	bounds(10, 0, 0);
	CHECK(tcp_life_check(&nc, &l, 10000) == TCP_LIFE_PROBE);
	l.tap_ms = 10003;			/* the guest's ACK */
	CHECK(tcp_life_due(&nc, &l) == 20003);
	CHECK(tcp_life_check(&nc, &l, 20003) == TCP_LIFE_PROBE);
	CHECK(l.ka_sent == 1);			/* counting starts again */
	/* the interval between keepalives is at most TCP_KA_INTVL_MS */
	bounds(3600, 0, 0);
	CHECK(tcp_life_due(&nc, &l) == 20003 + TCP_KA_INTVL_MS);
}

static void test_idle_and_half_closed(void)
{
	struct tcp_life l = { .tap_ms = 0, .act_ms = 0 };

	bounds(0, 5, 60);
	CHECK(tcp_life_due(&nc, &l) == 60000);
	l.act_ms = 1000;			/* data moved */
	CHECK(tcp_life_check(&nc, &l, 60000) == TCP_LIFE_NONE);
	CHECK(tcp_life_due(&nc, &l) == 61000);
	l.half_closed = true;
	CHECK(tcp_life_due(&nc, &l) == 6000);
	CHECK(tcp_life_check(&nc, &l, 5999) == TCP_LIFE_NONE);
	CHECK(tcp_life_check(&nc, &l, 6000) == TCP_LIFE_HALF);
	CHECK(tcp_life_check(&nc, &l, 61000) == TCP_LIFE_IDLE);
	/* keepalives answered do not keep an idle connection alive */
	bounds(1, 0, 60);
	l.half_closed = false;
	l.tap_ms = 60999;
	CHECK(tcp_life_check(&nc, &l, 61000) == TCP_LIFE_IDLE);
}

static void test_all_off(void)
{
	struct tcp_life l = { 0 };

	bounds(0, 0, 0);
	l.half_closed = true;
	CHECK(tcp_life_due(&nc, &l) == 0);
	CHECK(tcp_life_check(&nc, &l, UINT64_MAX / 2) == TCP_LIFE_NONE);
}

/* TCP_CHALLENGE_MAX in an interval, from the first one on; the clock
 * may start at 0, and an interval starts again only with a challenge
 */
static void test_challenge_limit(void)
{
	struct tcp_challenge ch = { 0 };
	unsigned int i, n = 0;

	for (i = 0; i < 3 * TCP_CHALLENGE_MAX; i++)
		n += tcp_challenge_ok(&ch, i);
	CHECK(n == TCP_CHALLENGE_MAX);
	CHECK(!tcp_challenge_ok(&ch, TCP_CHALLENGE_MS - 1));
	CHECK(tcp_challenge_ok(&ch, TCP_CHALLENGE_MS));
	/* long after: the interval starts at that one, not on a grid */
	for (i = 0; i < TCP_CHALLENGE_MAX; i++)
		CHECK(tcp_challenge_ok(&ch, 10 * TCP_CHALLENGE_MS + 500));
	CHECK(!tcp_challenge_ok(&ch, 11 * TCP_CHALLENGE_MS + 499));
	CHECK(tcp_challenge_ok(&ch, 11 * TCP_CHALLENGE_MS + 500));
}

int main(void)
{
	UNIT_PLAN(10);
	UNIT_RUN(test_rto_first_sample);
	UNIT_RUN(test_rto_converges);
	UNIT_RUN(test_rto_bounds);
	UNIT_RUN(test_rto_karn);
	UNIT_RUN(test_rto_wraparound);
	UNIT_RUN(test_keepalive_unanswered);
	UNIT_RUN(test_keepalive_answered);
	UNIT_RUN(test_idle_and_half_closed);
	UNIT_RUN(test_all_off);
	UNIT_RUN(test_challenge_limit);
	UNIT_EXIT();
}
