/* flow.h - the one table of every flow (TCP connection, UDP flow, ICMP
 * echo id): fixed size, open addressing, keyed hash of each side's tuple
 */
#ifndef FLOW_H
#define FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "inany.h"

enum flow_type {
	FLOW_FREE = 0,
	FLOW_PING,		/* ICMP/ICMPv6 echo id */
	FLOW_TCP,
	FLOW_TCP_SPLICE,
	FLOW_UDP,
	FLOW_TYPE_MAX,
};

/*
 * Shares of the table: who made the flow, and with which protocol. Each
 * share has a cap (flow_table_init()), so that flows one party can make at
 * will (a remote peer's datagrams to a -u port, say) cannot take the slots
 * another party needs (the guest's next connection).
 */
enum flow_share {
	FLOW_SHARE_TCP_OUT = 0,	/* the guest connects (and -T splices) */
	FLOW_SHARE_TCP_IN,	/* a host peer connects to a -t port */
	FLOW_SHARE_UDP_OUT,	/* the guest sends first (and -U) */
	FLOW_SHARE_UDP_IN,	/* a remote peer sends first to a -u port */
	FLOW_SHARE_PING,	/* ICMP echo ids */
	FLOW_SHARE_MAX,
};

/* Which side of a flow: the guest's (tap) or the host socket's */
enum flow_sidx {
	TAPSIDE = 0,
	SOCKSIDE = 1,
};

/**
 * struct flowside - Addresses and ports of one side, as that side sees them
 * @src:	Source address (the peer that sends on this side)
 * @dst:	Destination address
 * @sport:	Source port (or ICMP echo id)
 * @dport:	Destination port (or ICMP echo id)
 */
struct flowside {
	union inany_addr src;
	union inany_addr dst;
	uint16_t sport;
	uint16_t dport;
};

/**
 * struct flow - What every flow has; protocols keep the rest in arrays
 *		 of their own indexed by the same flow index
 * @type:	enum flow_type, FLOW_FREE if unused
 * @proto:	IP protocol number (IPPROTO_ICMP for both ICMP families)
 * @hashed:	Bit per side: inserted in the hash table
 * @share:	enum flow_share, the share it counts against
 * @side:	Tuples of the two sides
 * @last_ms:	Last activity, for idle expiry (flow_touch())
 * @deadline_ms: When its protocol's timer fires (flow_timer_set()), 0: none
 */
struct flow {
	uint8_t type;
	uint8_t proto;
	uint8_t hashed;
	uint8_t share;
	struct flowside side[2];
	uint64_t last_ms;
	uint64_t deadline_ms;
};

/**
 * struct flow_table - Flows and the hash index over their sides
 * @flows:	Flow array, @size entries
 * @size:	Capacity
 * @count:	Flows in use (not counting freed slots not yet reaped)
 * @free_head:	First free index (free list threaded through @next_free)
 *		among slots used before
 * @fresh:	First slot never used: it and those above are free, on no list
 * @dead_head:	First freed index not yet reusable (flow_reap()), same links
 * @next_free:	Free and dead list links
 * @share_count: Flows in use (or dead, not reaped) per share
 * @share_max:	Cap per share
 * @lru_prev:	Per share, doubly linked list of flows, most recently
 * @lru_next:	touched first: links (FREE_END terminated)
 * @lru_head:	Most recently touched flow per share
 * @lru_tail:	Least recently touched flow per share
 * @timers:	Binary min-heap of flow indices by @deadline_ms
 * @timer_pos:	Per flow, its position in @timers plus one, 0 if absent
 * @timer_n:	Entries in @timers
 * @hash:	Open-addressing buckets: (flow index << 1 | side) + 1, 0 empty
 * @hash_mask:	Bucket count minus one (a power of two, >= 2 * @size)
 * @key:	Secret hash key, random at start
 */
struct flow_table {
	struct flow *flows;
	unsigned int size;
	unsigned int count;
	unsigned int free_head;
	unsigned int fresh;
	unsigned int dead_head;
	unsigned int *next_free;
	unsigned int share_count[FLOW_SHARE_MAX];
	unsigned int share_max[FLOW_SHARE_MAX];
	unsigned int *lru_prev;
	unsigned int *lru_next;
	unsigned int lru_head[FLOW_SHARE_MAX];
	unsigned int lru_tail[FLOW_SHARE_MAX];
	unsigned int *timers;
	unsigned int *timer_pos;
	unsigned int timer_n;
	uint32_t *hash;
	uint32_t hash_mask;
	uint64_t key[2];
};

#define FLOW_NONE	(-1)

/* Largest table: bucket values (index << 1 | side) + 1 must fit 32 bits */
#define FLOW_SIZE_MAX	(1U << 30)

int flow_table_init(struct flow_table *t, unsigned int size);
void flow_table_destroy(struct flow_table *t);
int flow_alloc(struct flow_table *t, enum flow_type type, uint8_t proto,
	       enum flow_share share);
void flow_free(struct flow_table *t, int idx);
void flow_free_unregistered(struct flow_table *t, int idx);
void flow_reap(struct flow_table *t);
void flow_touch(struct flow_table *t, int idx, uint64_t now_ms);
int flow_oldest(const struct flow_table *t, enum flow_share share);
int flow_newer(const struct flow_table *t, int idx);
void flow_timer_set(struct flow_table *t, int idx, uint64_t deadline_ms);
uint64_t flow_timer_next(const struct flow_table *t);
int flow_timer_due(struct flow_table *t, uint64_t now_ms);
int flow_hash_insert(struct flow_table *t, int idx, enum flow_sidx side);
void flow_hash_remove(struct flow_table *t, int idx, enum flow_sidx side);
int flow_lookup(const struct flow_table *t, uint8_t proto,
		const struct flowside *fs, enum flow_sidx *side);
uint64_t flow_hash(const struct flow_table *t, uint8_t proto,
		   const struct flowside *fs);

static inline struct flow *flow_at(const struct flow_table *t, int idx)
{
	return &t->flows[idx];
}

#endif /* FLOW_H */
