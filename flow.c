/* flow.c - the one table of every flow: fixed-size slots, a free list and
 * an open-addressing hash index over each flow's two sides
 *
 * Theory of operation
 * Slots: flow_table_init() allocates every array once; nothing here
 * allocates afterwards. A flow is an index into @flows; protocols keep
 * their own per-flow state in arrays of theirs indexed the same way. Freed
 * slots form a LIFO list threaded through @next_free, so flow_alloc() and
 * flow_free() are O(1); when it is empty, flow_alloc() takes the lowest
 * slot never used (@fresh). So indices are handed out from 0 up, and no
 * array here or in the protocols is written at start: calloc()'d pages
 * nobody wrote take no memory, and an idle daemon with a large table
 * stays small (its pages become resident as flows first reach them).
 *
 * Deferred free: a flow's descriptors are registered with epoll under its
 * index, and the kernel hands out the lowest free descriptor number. Were
 * a slot reused at once, an event of the old flow still waiting in the
 * same epoll_wait() batch would reach the new flow that got the slot (and,
 * likely, the same descriptor number): a stale EPOLLERR would reset it, a
 * stale EPOLLOUT would take its connect() as done. So flow_free() unhashes
 * the flow at once (no lookup finds it) but puts the slot on a dead list;
 * the loop calls flow_reap() after each batch, and only then are the
 * slots free again. A handler that gets an event for a dead slot sees it
 * FLOW_FREE (or its protocol state reset) and ignores it. A flow that
 * never registered a descriptor under its index (an inbound UDP flow,
 * which receives through its forwarding socket) can be freed at once with
 * flow_free_unregistered(), which eviction uses.
 *
 * Shares: each flow counts against one share (enum flow_share: protocol
 * and who made it), and each share has a cap, so that one party cannot
 * take every slot: remote peers can make inbound UDP flows at will, a
 * quarter of the table at most; the guest's own TCP connections may use
 * it all. Within each share, flows form a list in order of last activity
 * (flow_touch()), so the least recently active one is found in O(1): UDP
 * evicts from there when its share is full, and idle expiry walks from
 * there and stops at the first flow still active, instead of scanning the
 * table.
 *
 * Timers: a protocol gives a flow a deadline (retransmission, handshake,
 * keepalive...) with flow_timer_set(); deadlines sit in a binary min-heap,
 * so the loop knows the next one in O(1) and sleeps until then, and takes
 * the due ones off in O(log n) each (flow_timer_due()). A flow has one
 * deadline at a time: its protocol keeps what it stands for.
 *
 * Index: each side of a flow (TAPSIDE, SOCKSIDE) can be entered in the
 * hash index under its own tuple (protocol, source, destination, source
 * port, destination port), so a frame from the guest and a datagram from a
 * host socket both find their flow with one lookup. A bucket holds
 * (index << 1 | side) + 1, 0 meaning empty: 4 bytes per bucket, and the
 * tuple is read from the flow itself. A lookup therefore always compares
 * the full stored tuple and protocol: equal hashes prove nothing.
 *
 * Collisions are resolved by linear probing. Removal uses backward-shift
 * deletion instead of tombstones: after emptying a bucket, later entries
 * of the same cluster whose home bucket is at or before the hole move back
 * into it, so every entry stays reachable from its home bucket without a
 * gap, and lookups never wade through dead entries however long the
 * daemon runs. A side's tuple must not change while it is hashed: its
 * home bucket is recomputed from it on removal.
 *
 * Load: there are at least four buckets per flow, two sides each, so the
 * index is at most half full and probe sequences stay short (and always
 * end at an empty bucket). The bucket count is a power of two, so the home
 * bucket is the hash masked.
 *
 * Hashing: the guest chooses addresses and ports, so with a fixed hash it
 * could pick tuples that all land in one cluster and make every lookup
 * walk it. The hash is SipHash-2-4, a pseudo-random function keyed with
 * 128 random bits read with getrandom(2) at start: without the key,
 * nobody can predict which tuples collide.
 *
 * System calls: getrandom (flow_table_init() only).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/random.h>

#include "flow.h"
#include "log.h"
#include "siphash.h"
#include "util.h"

#define FREE_END	UINT_MAX	/* end of free, dead and LRU lists */

/* Cap of each share, in 1/16 of the table (at least one flow) */
static const unsigned int flow_share_16th[FLOW_SHARE_MAX] = {
	[FLOW_SHARE_TCP_OUT]	= 16,
	[FLOW_SHARE_TCP_IN]	= 8,
	[FLOW_SHARE_UDP_OUT]	= 12,
	[FLOW_SHARE_UDP_IN]	= 4,
	[FLOW_SHARE_PING]	= 2,
};

/**
 * struct flow_hkey - Hash input: one side's tuple and the protocol,
 *		      packed with explicit padding so no byte is undefined
 * @src:	Source address
 * @dst:	Destination address
 * @sport:	Source port
 * @dport:	Destination port
 * @proto:	IP protocol number
 * @pad:	Zero
 */
struct flow_hkey {
	union inany_addr src;
	union inany_addr dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t pad[3];
};

_Static_assert(sizeof(struct flow_hkey) == 40, "hash key has no holes");
_Static_assert((uint64_t)((FLOW_SIZE_MAX - 1) << 1 | 1) + 1 <= UINT32_MAX,
	       "bucket values fit 32 bits");

/**
 * flow_hash() - Keyed hash of one side's tuple and the protocol
 * @t:		Flow table (holds the key)
 * @proto:	IP protocol number
 * @fs:		Tuple
 *
 * Return: 64-bit SipHash-2-4; the home bucket is this masked
 */
uint64_t flow_hash(const struct flow_table *t, uint8_t proto,
		   const struct flowside *fs)
{
	const struct siphash_key key = { .k = { t->key[0], t->key[1] } };
	const struct flow_hkey hk = {
		.src = fs->src,
		.dst = fs->dst,
		.sport = fs->sport,
		.dport = fs->dport,
		.proto = proto,
	};

	return siphash24(&key, &hk, sizeof(hk));
}

static inline uint32_t bucket_val(unsigned int idx, enum flow_sidx side)
{
	return ((uint32_t)idx << 1 | side) + 1;
}

static inline unsigned int bucket_idx(uint32_t val)
{
	return (val - 1) >> 1;
}

static inline enum flow_sidx bucket_side(uint32_t val)
{
	return (val - 1) & 1;
}

static inline const struct flowside *bucket_fs(const struct flow_table *t,
					       uint32_t val)
{
	return &t->flows[bucket_idx(val)].side[bucket_side(val)];
}

static inline uint32_t bucket_home(const struct flow_table *t, uint8_t proto,
				   const struct flowside *fs)
{
	return (uint32_t)flow_hash(t, proto, fs) & t->hash_mask;
}

static bool flowside_eq(const struct flowside *a, const struct flowside *b)
{
	return a->sport == b->sport && a->dport == b->dport &&
	       inany_equal(&a->src, &b->src) && inany_equal(&a->dst, &b->dst);
}

/* Does bucket value @val stand for protocol @proto and tuple @fs? */
static bool bucket_match(const struct flow_table *t, uint32_t val,
			 uint8_t proto, const struct flowside *fs)
{
	return t->flows[bucket_idx(val)].proto == proto &&
	       flowside_eq(bucket_fs(t, val), fs);
}

static bool flow_idx_valid(const struct flow_table *t, int idx)
{
	return idx >= 0 && (unsigned int)idx < t->size &&
	       t->flows[idx].type != FLOW_FREE;
}

/**
 * flow_table_init() - Allocate an empty table and draw its hash key
 * @t:		Table to set up
 * @size:	Number of flow slots, 1 to FLOW_SIZE_MAX
 *
 * The index gets the smallest power of two of buckets that is at least
 * four times @size: both sides of every flow fill it at most half.
 *
 * Return: 0 on success, -EINVAL for a bad @size, -ENOMEM, or the negative
 *	   errno of getrandom()
 */
int flow_table_init(struct flow_table *t, unsigned int size)
{
	uint64_t nb = 1;
	uint8_t key[16];
	size_t got = 0;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	if (!size || size > FLOW_SIZE_MAX)
		return -EINVAL;

	/* Blocks only until the kernel's pool is first initialised */
	while (got < sizeof(key)) {
		ssize_t n = getrandom(key + got, sizeof(key) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	memcpy(t->key, key, sizeof(key));

	while (nb < (uint64_t)size * 4)
		nb <<= 1;

	t->flows = calloc(size, sizeof(*t->flows));
	t->next_free = malloc((size_t)size * sizeof(*t->next_free));
	t->lru_prev = malloc((size_t)size * sizeof(*t->lru_prev));
	t->lru_next = malloc((size_t)size * sizeof(*t->lru_next));
	t->timers = malloc((size_t)size * sizeof(*t->timers));
	t->timer_pos = calloc(size, sizeof(*t->timer_pos));
	t->hash = calloc(nb, sizeof(*t->hash));
	if (!t->flows || !t->next_free || !t->lru_prev || !t->lru_next ||
	    !t->timers || !t->timer_pos || !t->hash) {
		flow_table_destroy(t);
		return -ENOMEM;
	}

	t->free_head = FREE_END;	/* and @fresh 0: every slot */
	t->dead_head = FREE_END;
	for (i = 0; i < FLOW_SHARE_MAX; i++) {
		uint64_t max = (uint64_t)size * flow_share_16th[i] / 16;

		t->share_max[i] = max ? (unsigned int)max : 1;
		t->lru_head[i] = t->lru_tail[i] = FREE_END;
	}
	t->size = size;
	t->hash_mask = (uint32_t)(nb - 1);

	log_debug("flow table: %u flows, %llu hash buckets", size,
		  (unsigned long long)nb);
	return 0;
}

/**
 * flow_table_destroy() - Release what flow_table_init() allocated
 * @t:		Table, left zeroed (size 0); harmless if init failed
 */
void flow_table_destroy(struct flow_table *t)
{
	free(t->flows);
	free(t->next_free);
	free(t->lru_prev);
	free(t->lru_next);
	free(t->timers);
	free(t->timer_pos);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

/* Unlink flow @idx from its share's activity list */
static void flow_lru_unlink(struct flow_table *t, unsigned int idx)
{
	unsigned int sh = t->flows[idx].share;
	unsigned int prev = t->lru_prev[idx], next = t->lru_next[idx];

	if (prev == FREE_END)
		t->lru_head[sh] = next;
	else
		t->lru_next[prev] = next;
	if (next == FREE_END)
		t->lru_tail[sh] = prev;
	else
		t->lru_prev[next] = prev;
}

/* Put flow @idx first (most recently active) in its share's list */
static void flow_lru_push(struct flow_table *t, unsigned int idx)
{
	unsigned int sh = t->flows[idx].share;

	t->lru_prev[idx] = FREE_END;
	t->lru_next[idx] = t->lru_head[sh];
	if (t->lru_head[sh] == FREE_END)
		t->lru_tail[sh] = idx;
	else
		t->lru_prev[t->lru_head[sh]] = idx;
	t->lru_head[sh] = idx;
}

/* Deadline of the flow at heap position @i */
static inline uint64_t heap_key(const struct flow_table *t, unsigned int i)
{
	return t->flows[t->timers[i]].deadline_ms;
}

/* Put flow index @idx at heap position @i */
static inline void heap_put(struct flow_table *t, unsigned int i,
			    unsigned int idx)
{
	t->timers[i] = idx;
	t->timer_pos[idx] = i + 1;
}

/* Move the entry at heap position @i up or down to its place */
static void heap_fix(struct flow_table *t, unsigned int i)
{
	unsigned int idx = t->timers[i], child;
	uint64_t key = t->flows[idx].deadline_ms;

	while (i && heap_key(t, (i - 1) / 2) > key) {
		heap_put(t, i, t->timers[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		child = 2 * i + 1;
		if (child >= t->timer_n)
			break;
		if (child + 1 < t->timer_n &&
		    heap_key(t, child + 1) < heap_key(t, child))
			child++;
		if (heap_key(t, child) >= key)
			break;
		heap_put(t, i, t->timers[child]);
		i = child;
	}
	heap_put(t, i, idx);
}

/**
 * flow_timer_set() - Give a flow a deadline, move it, or clear it
 * @t:		Flow table
 * @idx:	Flow index, in use
 * @deadline_ms: When the flow's timer is due, 0 for no timer
 */
void flow_timer_set(struct flow_table *t, int idx, uint64_t deadline_ms)
{
	unsigned int pos = t->timer_pos[idx], last;

	t->flows[idx].deadline_ms = deadline_ms;
	if (!deadline_ms) {
		if (!pos)
			return;
		t->timer_pos[idx] = 0;
		last = t->timers[--t->timer_n];
		if (pos - 1 == t->timer_n)
			return;
		heap_put(t, pos - 1, last);
		heap_fix(t, pos - 1);
		return;
	}
	if (!pos) {
		pos = ++t->timer_n;
		heap_put(t, pos - 1, (unsigned int)idx);
	}
	heap_fix(t, pos - 1);
}

/**
 * flow_timer_next() - The earliest deadline of any flow
 * @t:		Flow table
 *
 * Return: deadline in ms, UINT64_MAX if no flow has one
 */
uint64_t flow_timer_next(const struct flow_table *t)
{
	return t->timer_n ? heap_key(t, 0) : UINT64_MAX;
}

/**
 * flow_timer_due() - Take the earliest deadline off if it is due
 * @t:		Flow table
 * @now_ms:	Current time
 *
 * The flow's deadline is cleared (0) before it is returned: its protocol
 * sets a new one if it needs one.
 *
 * Return: flow index whose deadline is at or before @now_ms, FLOW_NONE if
 *	   none is
 */
int flow_timer_due(struct flow_table *t, uint64_t now_ms)
{
	int idx;

	if (!t->timer_n || heap_key(t, 0) > now_ms)
		return FLOW_NONE;
	idx = (int)t->timers[0];
	flow_timer_set(t, idx, 0);
	return idx;
}

/**
 * flow_alloc() - Take a free slot for a new flow
 * @t:		Flow table
 * @type:	Flow type, not FLOW_FREE
 * @proto:	IP protocol number
 * @share:	Share the flow counts against
 *
 * The flow comes back zeroed except @type, @proto and @share, with no side
 * hashed, first in its share's activity list.
 *
 * Return: flow index, or FLOW_NONE if the table or the share is full, or
 *	   @type or @share is bad
 */
int flow_alloc(struct flow_table *t, enum flow_type type, uint8_t proto,
	       enum flow_share share)
{
	unsigned int idx = t->free_head;
	struct flow *f;

	if (idx == FREE_END && t->fresh < t->size)
		idx = t->fresh;
	if (idx == FREE_END || type <= FLOW_FREE || type >= FLOW_TYPE_MAX ||
	    (unsigned int)share >= FLOW_SHARE_MAX ||
	    t->share_count[share] >= t->share_max[share])
		return FLOW_NONE;

	if (idx == t->free_head)
		t->free_head = t->next_free[idx];
	else
		t->fresh++;
	t->count++;
	t->share_count[share]++;

	f = &t->flows[idx];
	memset(f, 0, sizeof(*f));
	f->type = (uint8_t)type;
	f->proto = proto;
	f->share = (uint8_t)share;
	flow_lru_push(t, idx);
	return (int)idx;
}

/* Unhash a flow, take it off its share; the slot is the caller's */
static bool flow_release(struct flow_table *t, int idx)
{
	struct flow *f;

	if (!flow_idx_valid(t, idx))
		return false;

	f = &t->flows[idx];
	if (f->hashed & (1U << TAPSIDE))
		flow_hash_remove(t, idx, TAPSIDE);
	if (f->hashed & (1U << SOCKSIDE))
		flow_hash_remove(t, idx, SOCKSIDE);
	flow_timer_set(t, idx, 0);
	flow_lru_unlink(t, (unsigned int)idx);
	t->share_count[f->share]--;
	t->count--;

	memset(f, 0, sizeof(*f));	/* type is FLOW_FREE again */
	return true;
}

/**
 * flow_free() - Unhash a flow at once, free its slot after the batch
 * @t:		Flow table
 * @idx:	Flow index; out of range or already free is ignored
 *
 * The flow no longer counts (@count, its share), but its slot is not
 * handed out before flow_reap(): see "Deferred free" above.
 */
void flow_free(struct flow_table *t, int idx)
{
	if (!flow_release(t, idx))
		return;
	t->next_free[idx] = t->dead_head;
	t->dead_head = (unsigned int)idx;
}

/**
 * flow_free_unregistered() - Free a flow's slot at once
 * @t:		Flow table
 * @idx:	Flow index; out of range or already free is ignored
 *
 * Only for a flow that never registered a descriptor with epoll under its
 * index: no event of it can be pending, so the slot can serve at once.
 */
void flow_free_unregistered(struct flow_table *t, int idx)
{
	if (!flow_release(t, idx))
		return;
	t->next_free[idx] = t->free_head;
	t->free_head = (unsigned int)idx;
}

/**
 * flow_reap() - Make the slots freed since the last call reusable
 * @t:		Flow table
 *
 * Called once no event fetched before those frees can still be handled:
 * after each epoll_wait() batch.
 */
void flow_reap(struct flow_table *t)
{
	while (t->dead_head != FREE_END) {
		unsigned int idx = t->dead_head;

		t->dead_head = t->next_free[idx];
		t->next_free[idx] = t->free_head;
		t->free_head = idx;
	}
}

/**
 * flow_touch() - Note activity on a flow: first in its share's list
 * @t:		Flow table
 * @idx:	Flow index, in use
 * @now_ms:	Current time
 */
void flow_touch(struct flow_table *t, int idx, uint64_t now_ms)
{
	t->flows[idx].last_ms = now_ms;
	if (t->lru_head[t->flows[idx].share] == (unsigned int)idx)
		return;
	flow_lru_unlink(t, (unsigned int)idx);
	flow_lru_push(t, (unsigned int)idx);
}

/**
 * flow_oldest() - Least recently active flow of a share
 * @t:		Flow table
 * @share:	Share
 *
 * Return: flow index, FLOW_NONE if the share has no flow
 */
int flow_oldest(const struct flow_table *t, enum flow_share share)
{
	unsigned int idx = t->lru_tail[share];

	return idx == FREE_END ? FLOW_NONE : (int)idx;
}

/**
 * flow_newer() - Next more recently active flow of the same share
 * @t:		Flow table
 * @idx:	Flow index, in use
 *
 * Return: flow index, FLOW_NONE if @idx is the most recently active
 */
int flow_newer(const struct flow_table *t, int idx)
{
	unsigned int prev = t->lru_prev[idx];

	return prev == FREE_END ? FLOW_NONE : (int)prev;
}

/**
 * flow_hash_insert() - Enter one side of a flow in the index, under the
 *			tuple and protocol the flow holds now
 * @t:		Flow table
 * @idx:	Flow index
 * @side:	TAPSIDE or SOCKSIDE
 *
 * The probe from the home bucket to the first empty one passes every
 * entry that could equal the new one, so duplicates are caught on the way.
 *
 * Return: 0 on success, -EINVAL for a free or bad flow or side, -EEXIST if
 *	   this side is already hashed or another side holds the same tuple
 */
int flow_hash_insert(struct flow_table *t, int idx, enum flow_sidx side)
{
	const struct flowside *fs;
	struct flow *f;
	uint32_t b;

	if (!flow_idx_valid(t, idx) || (side != TAPSIDE && side != SOCKSIDE))
		return -EINVAL;

	f = &t->flows[idx];
	if (f->hashed & (1U << side))
		return -EEXIST;

	fs = &f->side[side];
	/* At most half the buckets are used: an empty one always comes */
	for (b = bucket_home(t, f->proto, fs); t->hash[b];
	     b = (b + 1) & t->hash_mask) {
		if (bucket_match(t, t->hash[b], f->proto, fs))
			return -EEXIST;
	}

	t->hash[b] = bucket_val((unsigned int)idx, side);
	f->hashed |= 1U << side;
	return 0;
}

/**
 * flow_hash_shift() - Fill a hole by moving later cluster entries back
 * @t:		Flow table
 * @hole:	Bucket just emptied
 *
 * An entry at bucket j may move to the hole i if its home h is not in the
 * cyclic range (i, j]: then i lies between h and j, on its probe path.
 * The entry's old bucket becomes the new hole; a cluster ends at the first
 * empty bucket, and nothing beyond it can depend on the hole.
 */
static void flow_hash_shift(struct flow_table *t, uint32_t hole)
{
	uint32_t mask = t->hash_mask, j, val, home;

	for (j = (hole + 1) & mask; (val = t->hash[j]); j = (j + 1) & mask) {
		home = bucket_home(t, t->flows[bucket_idx(val)].proto,
				   bucket_fs(t, val));
		/* Distances from the home forward, modulo the bucket count */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			t->hash[hole] = val;
			hole = j;
		}
	}
	t->hash[hole] = 0;
}

/**
 * flow_hash_scan() - Find a bucket value by walking the whole index
 * @t:		Flow table
 * @val:	Bucket value
 * @b:		Set to the bucket holding @val, if found
 *
 * Only reached when a side's tuple was changed while it was hashed, a
 * caller's bug: rather than leave a stale entry that would stay forever,
 * find it the slow way.
 *
 * Return: true if found
 */
static bool flow_hash_scan(const struct flow_table *t, uint32_t val,
			   uint32_t *b)
{
	uint64_t i;

	log_err("flow %u side %u: tuple changed while hashed",
		bucket_idx(val), bucket_side(val));
	for (i = 0; i <= t->hash_mask; i++) {
		if (t->hash[i] == val) {
			*b = (uint32_t)i;
			return true;
		}
	}
	return false;
}

/**
 * flow_hash_find() - Find the bucket holding a hashed side
 * @t:		Flow table
 * @f:		Flow
 * @idx:	Its index
 * @side:	Side, hashed
 * @b:		Set to the bucket, if found
 *
 * Return: true if found, which it always is unless the index is corrupt
 */
static bool flow_hash_find(const struct flow_table *t, const struct flow *f,
			   int idx, enum flow_sidx side, uint32_t *b)
{
	uint32_t val = bucket_val((unsigned int)idx, side), i, v;

	for (i = bucket_home(t, f->proto, &f->side[side]); (v = t->hash[i]);
	     i = (i + 1) & t->hash_mask) {
		if (v == val) {
			*b = i;
			return true;
		}
	}
	return flow_hash_scan(t, val, b);
}

/**
 * flow_hash_remove() - Take one side of a flow out of the index
 * @t:		Flow table
 * @idx:	Flow index
 * @side:	TAPSIDE or SOCKSIDE; nothing happens if it is not hashed
 *
 * The side's tuple should be the one it was inserted with: otherwise the
 * entry is still removed, but by a walk over the whole index.
 */
void flow_hash_remove(struct flow_table *t, int idx, enum flow_sidx side)
{
	struct flow *f;
	uint32_t b;

	if (!flow_idx_valid(t, idx) || (side != TAPSIDE && side != SOCKSIDE))
		return;

	f = &t->flows[idx];
	if (!(f->hashed & (1U << side)))
		return;

	if (flow_hash_find(t, f, idx, side, &b))
		flow_hash_shift(t, b);
	f->hashed &= ~(1U << side);
}

/**
 * flow_lookup() - Find the flow side with a given tuple
 * @t:		Flow table
 * @proto:	IP protocol number
 * @fs:		Tuple as seen on the side looked for
 * @side:	Set to the side found, if not NULL
 *
 * Return: flow index, or FLOW_NONE if no hashed side has this tuple
 */
int flow_lookup(const struct flow_table *t, uint8_t proto,
		const struct flowside *fs, enum flow_sidx *side)
{
	uint32_t b, val;

	for (b = bucket_home(t, proto, fs); (val = t->hash[b]);
	     b = (b + 1) & t->hash_mask) {
		if (bucket_match(t, val, proto, fs)) {
			if (side)
				*side = bucket_side(val);
			return (int)bucket_idx(val);
		}
	}
	return FLOW_NONE;
}
