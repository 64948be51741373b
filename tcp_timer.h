/* tcp_timer.h - arithmetic of a TCP connection's timers: the round-trip
 * time estimate and retransmission timeout, the lifetime bounds
 * (keepalive, half-close, inactivity) and the challenge ACK limit; no
 * sockets, the clock is an argument
 */
#ifndef TCP_TIMER_H
#define TCP_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "fwd.h"

#define TCP_RTO_INIT_MS	1000	/* RFC 6298, 2.1: before any RTT sample */
#define TCP_RTO_MIN_MS	200	/* as Linux: ACK delays stay below */
#define TCP_RTO_MAX_MS	8000
#define TCP_KA_PROBES	4	/* keepalives without an answer, then reset */
#define TCP_KA_INTVL_MS	75000	/* between two keepalives, at most */
#define TCP_CHALLENGE_MAX 5	/* challenge ACKs of one flow... */
#define TCP_CHALLENGE_MS 1000	/* ...in an interval this long */

/**
 * struct tcp_rtt - Round-trip time estimate of a connection (RFC 6298)
 * @seq:	Sequence number whose acknowledgement gives the next sample
 * @srtt8:	Smoothed RTT, 1/8 ms
 * @rttvar8:	RTT variation, 1/8 ms
 * @rto_ms:	Retransmission timeout, 0 before the first sample
 * @sent_ms:	When the segment ending at @seq was sent
 * @timed:	A segment is being timed (@seq, @sent_ms valid)
 */
struct tcp_rtt {
	uint32_t seq;
	uint32_t srtt8;
	uint32_t rttvar8;
	uint32_t rto_ms;
	uint64_t sent_ms;
	bool timed;
};

/**
 * struct tcp_life - What the lifetime bounds of a connection look at
 * @tap_ms:	Last segment from the guest
 * @act_ms:	Last data or FIN, either way
 * @ka_ms:	Last keepalive sent
 * @ka_sent:	Keepalives sent since the guest last answered
 * @half_closed: One side has sent its FIN
 */
struct tcp_life {
	uint64_t tap_ms;
	uint64_t act_ms;
	uint64_t ka_ms;
	uint8_t ka_sent;
	bool half_closed;
};

/**
 * struct tcp_challenge - Challenge ACKs of a connection (RFC 5961 7)
 * @start_ms:	Start of the current interval
 * @sent:	Sent in it, 0: no interval yet
 */
struct tcp_challenge {
	uint64_t start_ms;
	uint8_t sent;
};

/* What tcp_life_check() found due */
enum tcp_life_due_act {
	TCP_LIFE_NONE,		/* nothing yet */
	TCP_LIFE_PROBE,		/* send a keepalive now */
	TCP_LIFE_IDLE,		/* no data for --tcp-timeout: reset */
	TCP_LIFE_HALF,		/* half-closed, no data for --tcp-fin-timeout */
	TCP_LIFE_GONE,		/* keepalives without an answer: reset */
};

uint64_t tcp_rtt_rto(const struct tcp_rtt *r);
void tcp_rtt_start(struct tcp_rtt *r, uint32_t seq, uint64_t now);
void tcp_rtt_cancel(struct tcp_rtt *r);
bool tcp_rtt_ack(struct tcp_rtt *r, uint32_t ack, uint64_t now);

bool tcp_challenge_ok(struct tcp_challenge *ch, uint64_t now);

uint64_t tcp_life_due(const struct net_conf *nc, const struct tcp_life *l);
enum tcp_life_due_act tcp_life_check(const struct net_conf *nc,
				     struct tcp_life *l, uint64_t now);

#endif /* TCP_TIMER_H */
