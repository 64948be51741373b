/* tcp_timer.c - arithmetic of a TCP connection's timers
 *
 * Theory of operation
 * tcp.c keeps, per connection, a deadline for each of its two timers and
 * the state here; it updates timestamps on its data path and asks these
 * functions, when a deadline is due, what to do and when the next one is.
 * Nothing here touches a socket or a frame, and the clock is an argument,
 * so the unit tests drive every timer with a fake one.
 *
 * Round-trip time (RFC 6298): one segment is timed at a time, from its
 * sending to the acknowledgement that covers it. Once anything is sent
 * again, that acknowledgement may be for either copy, so the timing is
 * dropped (Karn's rule, RFC 6298 3). SRTT and RTTVAR are kept in 1/8 ms.
 * The timeout is SRTT + 4 RTTVAR, but at least TCP_RTO_MIN_MS above SRTT
 * (as Linux does): when the guest's RTT hardly varies, its delayed ACKs
 * must not look like losses. TCP_RTO_INIT_MS before the first sample.
 *
 * Lifetime: the connection is reset after --tcp-timeout seconds without
 * data or FIN either way, or --tcp-fin-timeout seconds of that once half
 * closed. After --tcp-keepalive seconds without any segment from the
 * guest, keepalives go every MIN(--tcp-keepalive, TCP_KA_INTVL_MS); a
 * segment from the guest answers them, TCP_KA_PROBES without an answer
 * mean the guest is gone. Timestamps only ever grow, so a deadline
 * computed by tcp_life_due() can only be early, never late: the caller
 * asks tcp_life_check() when it is due and arms the next one it returns.
 *
 * Challenge ACKs (RFC 5961: the reply to a SYN, to a RST off the next
 * sequence number, to a segment outside the window) go out at most
 * TCP_CHALLENGE_MAX per TCP_CHALLENGE_MS per connection; the rest are
 * not sent (RFC 5961 7 asks for a limit and leaves the numbers open).
 * Per connection, not global: Linux limits them per socket (one per
 * net.ipv4.tcp_invalid_ratelimit, 500 ms) and its global limit is off by
 * default since 6.0, the global counter having been an off-path side
 * channel (CVE-2016-5696). Here a flood on one connection neither
 * silences the others nor tells the guest about them. A small burst
 * rather than one: a guest that lost a connection and tries again (SYN,
 * our challenge ACK, its RST) does not meet the limit.
 *
 * System calls: none.
 */
#include "tcp_timer.h"

/**
 * tcp_rtt_rto() - Retransmission timeout
 * @r:		RTT estimate
 *
 * Return: timeout (ms), TCP_RTO_INIT_MS before any sample
 */
uint64_t tcp_rtt_rto(const struct tcp_rtt *r)
{
	return r->rto_ms ? r->rto_ms : TCP_RTO_INIT_MS;
}

/**
 * tcp_rtt_start() - Time a segment, unless one is timed already
 * @r:		RTT estimate
 * @seq:	Sequence number the segment ends at
 * @now:	Time it is sent (ms)
 */
void tcp_rtt_start(struct tcp_rtt *r, uint32_t seq, uint64_t now)
{
	if (r->timed)
		return;
	r->timed = true;
	r->seq = seq;
	r->sent_ms = now;
}

/**
 * tcp_rtt_cancel() - Something was sent again: no sample from this timing
 * @r:		RTT estimate
 */
void tcp_rtt_cancel(struct tcp_rtt *r)
{
	r->timed = false;
}

/**
 * tcp_rtt_ack() - An acknowledgement arrived: sample if it covers the
 *		   timed segment, and compute the new timeout
 * @r:		RTT estimate
 * @ack:	Acknowledgement number
 * @now:	Time it arrived (ms)
 *
 * Return: true if it gave a sample
 */
bool tcp_rtt_ack(struct tcp_rtt *r, uint32_t ack, uint64_t now)
{
	uint32_t r8, err8;
	uint64_t rto;

	if (!r->timed || (int32_t)(ack - r->seq) < 0)
		return false;
	r->timed = false;
	r8 = (uint32_t)MIN(now - r->sent_ms, TCP_RTO_MAX_MS) * 8;
	if (!r->rto_ms) {
		r->srtt8 = r8;
		r->rttvar8 = r8 / 2;
	} else {
		err8 = r8 > r->srtt8 ? r8 - r->srtt8 : r->srtt8 - r8;
		r->rttvar8 = r->rttvar8 - r->rttvar8 / 4 + err8 / 4;
		r->srtt8 = r->srtt8 - r->srtt8 / 8 + r8 / 8;
	}
	/* 4 RTTVAR is rttvar8 / 2 in ms */
	rto = r->srtt8 / 8 + MAX(r->rttvar8 / 2, TCP_RTO_MIN_MS);
	r->rto_ms = (uint32_t)MIN(rto, TCP_RTO_MAX_MS);
	return true;
}

/* Time between two keepalives */
static uint64_t tcp_ka_intvl(const struct net_conf *nc)
{
	return MIN(nc->tcp_keepalive_s * 1000ULL, TCP_KA_INTVL_MS);
}

/* Is a keepalive out without an answer? */
static bool tcp_ka_pending(const struct tcp_life *l)
{
	return l->ka_sent && l->tap_ms < l->ka_ms;
}

/**
 * tcp_life_due() - When the lifetime timer of a connection is due next
 * @nc:		Configuration (the three bounds, seconds, 0 for none)
 * @l:		Lifetime state
 *
 * Return: expiry (ms), 0 if none
 */
uint64_t tcp_life_due(const struct net_conf *nc, const struct tcp_life *l)
{
	uint64_t due = UINT64_MAX;

	if (nc->tcp_timeout_s)
		due = l->act_ms + nc->tcp_timeout_s * 1000ULL;
	if (nc->tcp_fin_timeout_s && l->half_closed)
		due = MIN(due, l->act_ms + nc->tcp_fin_timeout_s * 1000ULL);
	if (nc->tcp_keepalive_s && tcp_ka_pending(l))
		due = MIN(due, l->ka_ms + tcp_ka_intvl(nc));
	else if (nc->tcp_keepalive_s)
		due = MIN(due, l->tap_ms + nc->tcp_keepalive_s * 1000ULL);
	return due == UINT64_MAX ? 0 : due;
}

/**
 * tcp_life_check() - What the lifetime bounds call for now
 * @nc:		Configuration
 * @l:		Lifetime state: keepalive counters updated for a probe
 * @now:	Current time (ms)
 *
 * Return: the action; for TCP_LIFE_PROBE the caller sends the keepalive
 */
enum tcp_life_due_act tcp_life_check(const struct net_conf *nc,
				     struct tcp_life *l, uint64_t now)
{
	if (nc->tcp_timeout_s && now >= l->act_ms + nc->tcp_timeout_s * 1000ULL)
		return TCP_LIFE_IDLE;
	if (nc->tcp_fin_timeout_s && l->half_closed &&
	    now >= l->act_ms + nc->tcp_fin_timeout_s * 1000ULL)
		return TCP_LIFE_HALF;
	if (!nc->tcp_keepalive_s)
		return TCP_LIFE_NONE;
	if (l->ka_sent && !tcp_ka_pending(l))
		l->ka_sent = 0;				/* answered */
	if (l->ka_sent ? now < l->ka_ms + tcp_ka_intvl(nc) :
	    now < l->tap_ms + nc->tcp_keepalive_s * 1000ULL)
		return TCP_LIFE_NONE;
	if (l->ka_sent >= TCP_KA_PROBES)
		return TCP_LIFE_GONE;
	l->ka_sent++;
	l->ka_ms = now;
	return TCP_LIFE_PROBE;
}

/**
 * tcp_challenge_ok() - May a challenge ACK go out now? Count it if so
 * @ch:		Challenge ACKs of the connection
 * @now:	Current time (ms)
 *
 * Return: true if it is within TCP_CHALLENGE_MAX for this interval
 */
bool tcp_challenge_ok(struct tcp_challenge *ch, uint64_t now)
{
	if (!ch->sent || now - ch->start_ms >= TCP_CHALLENGE_MS) {
		ch->start_ms = now;
		ch->sent = 0;
	}
	if (ch->sent >= TCP_CHALLENGE_MAX)
		return false;
	ch->sent++;
	return true;
}
