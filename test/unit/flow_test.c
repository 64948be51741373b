/* test/unit/flow_test.c - SipHash vectors and the flow table: slots, free
 * list, hash index (insertion, lookup, backward-shift removal), checked
 * directly and against a simple reference model
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "log.h"
#include "siphash.h"
#include "unit.h"

#define RAND_SEED	0x5eed0f10a7ab1eULL

static uint64_t rng_state;

/* splitmix64: deterministic, good enough to shuffle and pick */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static void addr4(union inany_addr *a, uint32_t host_order)
{
	struct in_addr v4 = { .s_addr = htonl(host_order) };

	inany_from_v4(a, v4);
}

/* 2001:db8::/32 with @n in the last 32 bits */
static void addr6(union inany_addr *a, uint32_t n)
{
	memset(a, 0, sizeof(*a));
	a->a6.s6_addr[0] = 0x20;
	a->a6.s6_addr[1] = 0x01;
	a->a6.s6_addr[2] = 0x0d;
	a->a6.s6_addr[3] = 0xb8;
	a->u32[3] = htonl(n);
}

/* A tuple unique to flow @i and side @s: IPv4 for even @i, IPv6 for odd */
static void tuple_of(struct flowside *fs, unsigned int i, unsigned int s)
{
	memset(fs, 0, sizeof(*fs));
	if (i & 1) {
		addr6(&fs->src, i);
		addr6(&fs->dst, 0xffff0000U | s);
	} else {
		addr4(&fs->src, 0x0a000000U | (i & 0xffffff));
		addr4(&fs->dst, 0xc0000201U);		/* 192.0.2.1 */
	}
	fs->sport = (uint16_t)(1000 + s);
	fs->dport = (uint16_t)(i >> 24 | s << 8);
}

/* Count used buckets by walking the whole index */
static unsigned int used_buckets(const struct flow_table *t)
{
	unsigned int n = 0;
	uint64_t b;

	for (b = 0; b <= t->hash_mask; b++)
		n += !!t->hash[b];
	return n;
}

/* Allocate flow @i's slot, set both sides, hash both: 0 on success */
static int add_flow(struct flow_table *t, unsigned int i, int *idx)
{
	struct flow *f;

	*idx = flow_alloc(t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	if (*idx < 0)
		return -1;
	f = flow_at(t, *idx);
	tuple_of(&f->side[TAPSIDE], i, TAPSIDE);
	tuple_of(&f->side[SOCKSIDE], i, SOCKSIDE);
	if (flow_hash_insert(t, *idx, TAPSIDE) ||
	    flow_hash_insert(t, *idx, SOCKSIDE))
		return -1;
	return 0;
}

/* Is tuple (@i, @s) found as side @s of flow @idx? */
static bool found_as(const struct flow_table *t, unsigned int i,
		     unsigned int s, int idx)
{
	enum flow_sidx side = !s;
	struct flowside fs;

	tuple_of(&fs, i, s);
	return flow_lookup(t, IPPROTO_TCP, &fs, &side) == idx &&
	       side == (enum flow_sidx)s;
}

static bool missing(const struct flow_table *t, unsigned int i,
		    unsigned int s)
{
	struct flowside fs;

	tuple_of(&fs, i, s);
	return flow_lookup(t, IPPROTO_TCP, &fs, NULL) == FLOW_NONE;
}

static void test_siphash_vectors(void)
{
	/* Key 00..0f, message 00 01 .. (len - 1): SipHash paper, appendix
	 * A (len 15), and the reference implementation's vector table
	 */
	static const struct {
		size_t len;
		uint64_t h;
	} v[] = {
		{ 0,	0x726fdb47dd0e0e31ULL },
		{ 1,	0x74f839c593dc67fdULL },
		{ 2,	0x0d6c8009d9a94f5aULL },
		{ 7,	0xab0200f58b01d137ULL },
		{ 8,	0x93f5f5799a932462ULL },
		{ 9,	0x9e0082df0ba9e4b0ULL },
		{ 15,	0xa129ca6149be45e5ULL },
		{ 16,	0x3f2acc7f57c29bdbULL },
		{ 62,	0xe51b38608ef25f57ULL },
		{ 63,	0x958a324ceb064572ULL },
	};
	const struct siphash_key key = {
		.k = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
	};
	uint8_t msg[64];
	unsigned int i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		uint64_t h = siphash24(&key, msg, v[i].len);

		if (h != v[i].h)
			printf("# len %zu: %016llx\n", v[i].len,
			       (unsigned long long)h);
		CHECK(h == v[i].h);
	}
}

static void test_init_limits(void)
{
	struct flow_table t, u;
	struct flowside fs;
	int idx;

	CHECK(flow_table_init(&t, 0) == -EINVAL);
	CHECK(flow_table_init(&t, FLOW_SIZE_MAX + 1) == -EINVAL);

	CHECK(flow_table_init(&t, 1) == 0);
	CHECK(t.hash_mask == 3);
	CHECK(flow_table_init(&u, 1) == 0);
	CHECK(t.key[0] != u.key[0] || t.key[1] != u.key[1]);
	flow_table_destroy(&u);
	CHECK(add_flow(&t, 7, &idx) == 0 && idx == 0);
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	CHECK(found_as(&t, 7, TAPSIDE, 0) && found_as(&t, 7, SOCKSIDE, 0));
	flow_table_destroy(&t);

	/* 2^24 flows: buckets are allocated zeroed, so this is cheap */
	CHECK(flow_table_init(&t, 1U << 24) == 0);
	CHECK(t.hash_mask == (1U << 26) - 1);
	CHECK(add_flow(&t, 3, &idx) == 0);
	CHECK(found_as(&t, 3, SOCKSIDE, idx));
	tuple_of(&fs, 4, TAPSIDE);
	CHECK(flow_lookup(&t, IPPROTO_TCP, &fs, NULL) == FLOW_NONE);
	flow_free(&t, idx);
	CHECK(missing(&t, 3, TAPSIDE) && t.count == 0);
	flow_table_destroy(&t);
}

static void test_insert_lookup(void)
{
	struct flow_table t;
	struct flowside fs;
	enum flow_sidx side;
	struct flow *f;
	int a, b;

	CHECK(flow_table_init(&t, 16) == 0);
	CHECK(flow_alloc(&t, FLOW_FREE, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	CHECK(flow_alloc(&t, FLOW_TYPE_MAX, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	CHECK(add_flow(&t, 100, &a) == 0);
	f = flow_at(&t, a);
	CHECK(f->type == FLOW_TCP && f->proto == IPPROTO_TCP);
	CHECK(f->hashed == 3);
	CHECK(found_as(&t, 100, TAPSIDE, a));
	CHECK(found_as(&t, 100, SOCKSIDE, a));

	/* Same tuple, other protocol: not ours */
	tuple_of(&fs, 100, TAPSIDE);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &fs, &side) == FLOW_NONE);
	/* Reversed tuple */
	fs.src = f->side[TAPSIDE].dst;
	fs.dst = f->side[TAPSIDE].src;
	CHECK(flow_lookup(&t, IPPROTO_TCP, &fs, &side) == FLOW_NONE);

	/* Duplicates: same side twice, or another flow with our tuple */
	CHECK(flow_hash_insert(&t, a, TAPSIDE) == -EEXIST);
	b = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	CHECK(b >= 0 && b != a);
	tuple_of(&flow_at(&t, b)->side[SOCKSIDE], 100, TAPSIDE);
	CHECK(flow_hash_insert(&t, b, SOCKSIDE) == -EEXIST);
	/* ...which is fine under another protocol */
	flow_at(&t, b)->proto = IPPROTO_UDP;
	CHECK(flow_hash_insert(&t, b, SOCKSIDE) == 0);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &fs, NULL) == FLOW_NONE);
	tuple_of(&fs, 100, TAPSIDE);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &fs, &side) == b &&
	      side == SOCKSIDE);

	/* Bad arguments */
	CHECK(flow_hash_insert(&t, -1, TAPSIDE) == -EINVAL);
	CHECK(flow_hash_insert(&t, 16, TAPSIDE) == -EINVAL);
	CHECK(flow_hash_insert(&t, 5, TAPSIDE) == -EINVAL);	/* free */
	CHECK(flow_hash_insert(&t, a, 2) == -EINVAL);

	/* Unhash one side: the other stays */
	flow_hash_remove(&t, a, TAPSIDE);
	CHECK(missing(&t, 100, TAPSIDE));
	CHECK(found_as(&t, 100, SOCKSIDE, a));
	flow_hash_remove(&t, a, TAPSIDE);		/* no-op */
	CHECK(f->hashed == 2 && used_buckets(&t) == 2);
	CHECK(flow_hash_insert(&t, a, TAPSIDE) == 0);
	CHECK(found_as(&t, 100, TAPSIDE, a));

	/* Free: both sides gone, slot reused first; bad frees ignored */
	flow_free(&t, a);
	CHECK(missing(&t, 100, TAPSIDE) && missing(&t, 100, SOCKSIDE));
	CHECK(f->type == FLOW_FREE && t.count == 1);
	flow_free(&t, a);
	flow_free(&t, -1);
	flow_free(&t, 16);
	CHECK(t.count == 1 && used_buckets(&t) == 1);
	/* Not handed out again before the batch ends (flow_reap()) */
	CHECK(flow_alloc(&t, FLOW_PING, IPPROTO_ICMP, FLOW_SHARE_TCP_OUT) !=
	      a);
	flow_reap(&t);
	CHECK(flow_alloc(&t, FLOW_PING, IPPROTO_ICMP, FLOW_SHARE_TCP_OUT) == a);
	CHECK(f->hashed == 0 && f->proto == IPPROTO_ICMP);
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_TCP_OUT) != a);

	/* A caller's bug: tuple changed while hashed, entry removed anyway */
	CHECK(add_flow(&t, 200, &a) == 0);
	CHECK(used_buckets(&t) == 3);
	flow_at(&t, a)->side[SOCKSIDE].sport++;
	log_set_stderr(false);
	flow_free(&t, a);
	log_set_stderr(true);
	CHECK(used_buckets(&t) == 1 && missing(&t, 200, SOCKSIDE));
	flow_table_destroy(&t);
}

/* Home bucket of a tuple */
static uint32_t home_of(const struct flow_table *t, uint8_t proto,
			const struct flowside *fs)
{
	return (uint32_t)flow_hash(t, proto, fs) & t->hash_mask;
}

static void test_same_bucket_other_port(void)
{
	struct flowside fs, probe;
	struct flow_table t;
	uint8_t proto;
	uint32_t home;
	int a, b;

	CHECK(flow_table_init(&t, 4) == 0);		/* 16 buckets */
	CHECK(add_flow(&t, 42, &a) == 0);
	tuple_of(&fs, 42, TAPSIDE);
	home = home_of(&t, IPPROTO_TCP, &fs);

	/* Only the destination port differs, and the home bucket is ours */
	probe = fs;
	do
		probe.dport++;
	while (home_of(&t, IPPROTO_TCP, &probe) != home);
	CHECK(probe.dport != fs.dport);
	CHECK(flow_lookup(&t, IPPROTO_TCP, &probe, NULL) == FLOW_NONE);

	/* Same tuple, another protocol number with the same home bucket */
	for (proto = 0; proto < 255; proto++) {
		if (proto != IPPROTO_TCP && home_of(&t, proto, &fs) == home)
			break;
	}
	CHECK(proto != 255);
	CHECK(flow_lookup(&t, proto, &fs, NULL) == FLOW_NONE);

	/* Alone in one cluster; removing the first shifts the second back */
	flow_hash_remove(&t, a, SOCKSIDE);
	CHECK(t.hash[home] == (uint32_t)(a << 1 | TAPSIDE) + 1);
	b = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	flow_at(&t, b)->side[TAPSIDE] = probe;
	CHECK(flow_hash_insert(&t, b, TAPSIDE) == 0);
	CHECK(flow_lookup(&t, IPPROTO_TCP, &probe, NULL) == b);
	CHECK(found_as(&t, 42, TAPSIDE, a));
	flow_hash_remove(&t, a, TAPSIDE);
	CHECK(t.hash[home] == (uint32_t)(b << 1 | TAPSIDE) + 1);
	CHECK(flow_lookup(&t, IPPROTO_TCP, &probe, NULL) == b);
	CHECK(used_buckets(&t) == 1 && missing(&t, 42, TAPSIDE));
	flow_table_destroy(&t);
}

/* Fill @size flows, remove half at random, refill through freed slots */
static void fill_and_drain(unsigned int size)
{
	unsigned int *order = malloc(size * sizeof(*order));
	int *idx = malloc(size * sizeof(*idx));
	bool *gone = calloc(size, sizeof(*gone));
	unsigned int i, j, tmp, bad = 0;
	struct flow_table t;

	CHECK(order && idx && gone);
	if (!order || !idx || !gone)
		goto out;
	CHECK(flow_table_init(&t, size) == 0);

	for (i = 0; i < size; i++)
		bad += add_flow(&t, i, &idx[i]) != 0;
	CHECK(!bad && t.count == size);
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	CHECK(used_buckets(&t) == 2 * size);
	for (i = 0; i < size; i++)
		bad += !found_as(&t, i, TAPSIDE, idx[i]) ||
		       !found_as(&t, i, SOCKSIDE, idx[i]);
	CHECK(!bad);

	for (i = 0; i < size; i++)
		order[i] = i;
	for (i = size - 1; i > 0; i--) {		/* Fisher-Yates */
		j = rnd_below(i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < size / 2; i++) {
		flow_free(&t, idx[order[i]]);
		gone[order[i]] = true;
	}
	flow_reap(&t);
	CHECK(t.count == size - size / 2);
	CHECK(used_buckets(&t) == 2 * (size - size / 2));
	for (i = 0; i < size; i++) {
		if (gone[i])
			bad += !missing(&t, i, TAPSIDE) ||
			       !missing(&t, i, SOCKSIDE);
		else
			bad += !found_as(&t, i, TAPSIDE, idx[i]) ||
			       !found_as(&t, i, SOCKSIDE, idx[i]);
	}
	CHECK(!bad);

	/* Refill: new tuples (offset by @size) land in the freed slots */
	for (i = 0; i < size / 2; i++) {
		int n;

		bad += add_flow(&t, size + order[i], &n) != 0;
		bad += !gone[n];		/* index of a freed flow */
		gone[n] = false;
		idx[order[i]] = n;
	}
	CHECK(!bad && t.count == size);
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	for (i = 0; i < size / 2; i++) {
		j = order[i];
		bad += !found_as(&t, size + j, SOCKSIDE, idx[j]) ||
		       !missing(&t, j, TAPSIDE);
	}
	CHECK(!bad);
	flow_table_destroy(&t);
out:
	free(order);
	free(idx);
	free(gone);
}

static void test_fill_1024(void)
{
	fill_and_drain(1024);
}

static void test_fill_40000(void)
{
	fill_and_drain(40000);
}

static void test_ipv4_ipv6(void)
{
	struct flowside f4, f6, fs;
	struct flow_table t;
	enum flow_sidx side;
	int a, b;

	CHECK(flow_table_init(&t, 8) == 0);
	memset(&f4, 0, sizeof(f4));
	addr4(&f4.src, 0xc0000202U);			/* 192.0.2.2 */
	addr4(&f4.dst, 0xc6336401U);			/* 198.51.100.1 */
	f4.sport = 40000;
	f4.dport = 53;
	/* Same last 32 bits and ports, but IPv6 */
	f6 = f4;
	addr6(&f6.src, 0xc0000202U);
	addr6(&f6.dst, 0xc6336401U);

	a = flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_TCP_OUT);
	b = flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_TCP_OUT);
	flow_at(&t, a)->side[SOCKSIDE] = f4;
	flow_at(&t, b)->side[TAPSIDE] = f6;
	CHECK(flow_hash_insert(&t, a, SOCKSIDE) == 0);
	CHECK(flow_hash_insert(&t, b, TAPSIDE) == 0);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &f4, &side) == a &&
	      side == SOCKSIDE);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &f6, &side) == b &&
	      side == TAPSIDE);
	CHECK(inany_is_v4(&flow_at(&t, a)->side[SOCKSIDE].src));
	CHECK(!inany_is_v4(&flow_at(&t, b)->side[TAPSIDE].src));

	/* IPv4 parsed from text is the same key as the one built above */
	CHECK(inany_pton("192.0.2.2", &fs.src) == AF_INET);
	CHECK(inany_pton("198.51.100.1", &fs.dst) == AF_INET);
	fs.sport = 40000;
	fs.dport = 53;
	CHECK(flow_lookup(&t, IPPROTO_UDP, &fs, NULL) == a);
	CHECK(inany_pton("2001:db8::c000:202", &fs.src) == AF_INET6);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &fs, NULL) == FLOW_NONE);
	CHECK(inany_pton("2001:db8::c633:6401", &fs.dst) == AF_INET6);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &fs, NULL) == b);

	flow_free(&t, a);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &f4, NULL) == FLOW_NONE);
	CHECK(flow_lookup(&t, IPPROTO_UDP, &f6, NULL) == b);
	flow_table_destroy(&t);
}

/*
 * Reference model: what the table should hold, searched by brute force.
 * Tuples come from a small space so that duplicates and clusters are
 * frequent.
 */
#define MODEL_SIZE	64	/* largest model table */
#define MODEL_OPS	100000

struct model_flow {
	bool used;
	uint8_t proto;
	bool hashed[2];
	struct flowside side[2];
};

static struct model_flow model[MODEL_SIZE];
static int msize;		/* flows in this run, at most MODEL_SIZE */

static uint8_t rnd_proto(void)
{
	return rnd_below(2) ? IPPROTO_TCP : IPPROTO_UDP;
}

static void rnd_tuple(struct flowside *fs)
{
	unsigned int s = rnd_below(4), d = rnd_below(2);

	memset(fs, 0, sizeof(*fs));
	if (s < 2) {
		addr4(&fs->src, 0x0a000001U + s);
		addr4(&fs->dst, 0xc0000201U + d);
	} else {
		addr6(&fs->src, s);
		addr6(&fs->dst, 0x100 + d);
	}
	fs->sport = (uint16_t)(1024 + rnd_below(8));
	fs->dport = (uint16_t)(80 + rnd_below(4));
}

static bool fs_eq(const struct flowside *a, const struct flowside *b)
{
	return inany_equal(&a->src, &b->src) && inany_equal(&a->dst, &b->dst) &&
	       a->sport == b->sport && a->dport == b->dport;
}

/* Model lookup: flow index with @side set, or FLOW_NONE */
static int model_lookup(uint8_t proto, const struct flowside *fs,
			enum flow_sidx *side)
{
	int i, s;

	for (i = 0; i < msize; i++) {
		for (s = 0; s < 2; s++) {
			if (model[i].used && model[i].hashed[s] &&
			    model[i].proto == proto &&
			    fs_eq(&model[i].side[s], fs)) {
				*side = (enum flow_sidx)s;
				return i;
			}
		}
	}
	return FLOW_NONE;
}

static int model_pick_used(void)
{
	int i = (int)rnd_below((unsigned int)msize), n;

	for (n = 0; n < msize; n++, i = (i + 1) % msize)
		if (model[i].used)
			return i;
	return FLOW_NONE;
}

static unsigned int model_op_alloc(struct flow_table *t)
{
	uint8_t proto = rnd_proto();
	int idx = flow_alloc(t, FLOW_UDP, proto, FLOW_SHARE_TCP_OUT), i, s;
	bool any_free = false;

	for (i = 0; i < msize; i++)
		any_free |= !model[i].used;
	if (idx == FLOW_NONE)
		return any_free;
	if (idx < 0 || idx >= msize || model[idx].used)
		return 1;

	memset(&model[idx], 0, sizeof(model[idx]));
	model[idx].used = true;
	model[idx].proto = proto;
	for (s = 0; s < 2; s++) {
		rnd_tuple(&model[idx].side[s]);
		flow_at(t, idx)->side[s] = model[idx].side[s];
	}
	return 0;
}

static unsigned int model_op_insert(struct flow_table *t)
{
	int idx = model_pick_used(), expect, rc, other;
	enum flow_sidx s = rnd_below(2), os;

	if (idx == FLOW_NONE)
		return 0;
	if (!model[idx].hashed[s] && rnd_below(2)) {	/* new tuple */
		rnd_tuple(&model[idx].side[s]);
		flow_at(t, idx)->side[s] = model[idx].side[s];
	}
	other = model_lookup(model[idx].proto, &model[idx].side[s], &os);
	expect = model[idx].hashed[s] || other != FLOW_NONE ? -EEXIST : 0;
	rc = flow_hash_insert(t, idx, s);
	if (!rc)
		model[idx].hashed[s] = true;
	return rc != expect;
}

static unsigned int model_op_lookup(const struct flow_table *t)
{
	enum flow_sidx ms = TAPSIDE, ts = TAPSIDE;
	uint8_t proto = rnd_proto();
	struct flowside fs;
	int m;

	rnd_tuple(&fs);
	m = model_lookup(proto, &fs, &ms);
	if (flow_lookup(t, proto, &fs, &ts) != m)
		return 1;
	return m != FLOW_NONE && ms != ts;
}

/* Everything the model holds is in the table, and nothing else */
static unsigned int model_verify(const struct flow_table *t)
{
	unsigned int bad = 0, used = 0, hashed = 0;
	enum flow_sidx side;
	int i, s;

	for (i = 0; i < msize; i++) {
		if (!model[i].used) {
			bad += flow_at(t, i)->type != FLOW_FREE;
			continue;
		}
		used++;
		for (s = 0; s < 2; s++) {
			if (!model[i].hashed[s])
				continue;
			hashed++;
			bad += flow_lookup(t, model[i].proto, &model[i].side[s],
					   &side) != i || side != (unsigned)s;
		}
		bad += flow_at(t, i)->hashed !=
		       (model[i].hashed[0] | model[i].hashed[1] << 1);
	}
	return bad + (t->count != used) + (used_buckets(t) != hashed);
}

/* @ops random operations on a table of @size flows, checked as they go */
static void model_run(int size, unsigned int ops)
{
	unsigned int n, op, bad = 0, verify_bad = 0;
	struct flow_table t;
	int idx;

	msize = size;
	memset(model, 0, sizeof(model));
	CHECK(flow_table_init(&t, (unsigned int)size) == 0);
	/* Fixed key, set while empty, so runs are reproducible */
	t.key[0] = 0x0123456789abcdefULL;
	t.key[1] = 0xfedcba9876543210ULL;

	for (n = 0; n < ops; n++) {
		op = rnd_below(100);
		if (op < 20) {
			bad += model_op_alloc(&t);
		} else if (op < 28) {
			idx = (int)rnd_below((unsigned int)msize + 1);
			flow_free(&t, idx);
			flow_reap(&t);
			if (idx < msize)
				model[idx].used = false;
		} else if (op < 63) {
			bad += model_op_insert(&t);
		} else if (op < 70) {
			enum flow_sidx s = rnd_below(2);

			idx = model_pick_used();
			if (idx != FLOW_NONE) {
				flow_hash_remove(&t, idx, s);
				model[idx].hashed[s] = false;
			}
		} else {
			bad += model_op_lookup(&t);
		}
		if (n % 500 == 0)
			verify_bad += model_verify(&t);
	}
	verify_bad += model_verify(&t);
	if (bad || verify_bad)
		printf("# size %d: %u op mismatches, %u verify mismatches\n",
		       size, bad, verify_bad);
	CHECK(!bad && !verify_bad);
	flow_table_destroy(&t);
}

/* Dense clusters in a small table, then a roomier one */
/* Freed slots wait for flow_reap(), unless the flow never registered */
static void test_deferred_free(void)
{
	struct flow_table t;
	int a, b, c;

	CHECK(flow_table_init(&t, 2) == 0);
	a = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	b = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	CHECK(a >= 0 && b >= 0 && a != b);
	flow_free(&t, a);
	CHECK(t.count == 1 && flow_at(&t, a)->type == FLOW_FREE);
	/* The only free slot is dead until the batch ends */
	CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	flow_free(&t, a);			/* twice: ignored */
	flow_reap(&t);
	flow_reap(&t);
	c = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	CHECK(c == a && t.count == 2);
	CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	/* No descriptor registered under it: reusable at once */
	flow_free_unregistered(&t, b);
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_OUT) == b);
	flow_table_destroy(&t);
}

/*
 * Slots come from index 0 up (so per-flow arrays are written only as far
 * as flows reach, see flow.c "Slots"); freed ones are taken again
 * before any slot never used
 */
static void test_alloc_order(void)
{
	struct flow_table t;
	int i;

	CHECK(flow_table_init(&t, 6) == 0);
	for (i = 0; i < 3; i++)
		CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP,
				 FLOW_SHARE_TCP_OUT) == i);
	flow_free(&t, 0);
	flow_free_unregistered(&t, 2);
	/* 0 waits for flow_reap(), 2 is free at once */
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_OUT) == 2);
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_OUT) == 3);
	flow_free(&t, 1);
	flow_reap(&t);
	i = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	CHECK(i == 0 || i == 1);
	CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) ==
	      1 - i);
	CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) == 4);
	CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) == 5);
	CHECK(t.count == 6);
	CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) ==
	      FLOW_NONE);
	flow_free_unregistered(&t, 3);
	CHECK(flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT) == 3);
	flow_table_destroy(&t);
}

/* Each share stops at its cap; flows of a share in order of activity */
static void test_shares_lru(void)
{
	struct flow_table t;
	int in[4], i, x;

	CHECK(flow_table_init(&t, 16) == 0);
	CHECK(t.share_max[FLOW_SHARE_UDP_IN] == 4);
	CHECK(t.share_max[FLOW_SHARE_TCP_OUT] == 16);
	CHECK(flow_oldest(&t, FLOW_SHARE_UDP_IN) == FLOW_NONE);
	for (i = 0; i < 4; i++) {
		in[i] = flow_alloc(&t, FLOW_UDP, IPPROTO_UDP,
				   FLOW_SHARE_UDP_IN);
		CHECK(in[i] >= 0);
		flow_touch(&t, in[i], 100 + (uint64_t)i);
	}
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_IN) ==
	      FLOW_NONE);
	CHECK(flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_MAX) ==
	      FLOW_NONE);
	/* Another share still has room */
	x = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP, FLOW_SHARE_TCP_OUT);
	CHECK(x >= 0 && flow_oldest(&t, FLOW_SHARE_TCP_OUT) == x);
	CHECK(flow_newer(&t, x) == FLOW_NONE);

	/* Oldest first: in[0] .. in[3]; touching in[0] makes in[1] oldest */
	CHECK(flow_oldest(&t, FLOW_SHARE_UDP_IN) == in[0]);
	CHECK(flow_newer(&t, in[0]) == in[1]);
	flow_touch(&t, in[0], 200);
	CHECK(flow_at(&t, in[0])->last_ms == 200);
	CHECK(flow_oldest(&t, FLOW_SHARE_UDP_IN) == in[1]);
	CHECK(flow_newer(&t, in[3]) == in[0]);
	CHECK(flow_newer(&t, in[0]) == FLOW_NONE);
	flow_touch(&t, in[0], 201);		/* already newest */
	CHECK(flow_newer(&t, in[3]) == in[0]);

	/* Freeing unlinks, and makes room in the share at once */
	flow_free(&t, in[2]);
	CHECK(flow_newer(&t, in[1]) == in[3]);
	CHECK(t.share_count[FLOW_SHARE_UDP_IN] == 3);
	i = flow_alloc(&t, FLOW_UDP, IPPROTO_UDP, FLOW_SHARE_UDP_IN);
	CHECK(i >= 0 && i != in[2]);
	CHECK(flow_newer(&t, in[0]) == i);
	flow_free(&t, in[1]);
	flow_free(&t, in[3]);
	flow_free(&t, in[0]);
	CHECK(flow_oldest(&t, FLOW_SHARE_UDP_IN) == i);
	flow_free(&t, i);
	CHECK(flow_oldest(&t, FLOW_SHARE_UDP_IN) == FLOW_NONE);
	CHECK(t.share_count[FLOW_SHARE_UDP_IN] == 0 && t.count == 1);
	flow_table_destroy(&t);
}

/* Deadlines: the heap gives the earliest first, against a brute force */
static void test_timers(void)
{
	static uint64_t want[64];
	struct flow_table t;
	unsigned int n, bad = 0;
	int idx[64], i, due;

	CHECK(flow_table_init(&t, 64) == 0);
	CHECK(flow_timer_next(&t) == UINT64_MAX);
	CHECK(flow_timer_due(&t, UINT64_MAX - 1) == FLOW_NONE);
	for (i = 0; i < 64; i++)
		idx[i] = flow_alloc(&t, FLOW_TCP, IPPROTO_TCP,
				    FLOW_SHARE_TCP_OUT);
	for (n = 0; n < 20000; n++) {
		uint64_t min = UINT64_MAX, now;

		i = (int)rnd_below(64);
		want[i] = rnd_below(4) ? 1 + rnd_below(1000) : 0;
		flow_timer_set(&t, idx[i], want[i]);
		if (rnd_below(50) == 0) {	/* free and take again */
			flow_free_unregistered(&t, idx[i]);
			want[i] = 0;
			bad += flow_alloc(&t, FLOW_TCP, IPPROTO_TCP,
					  FLOW_SHARE_TCP_OUT) != idx[i];
		}
		for (i = 0; i < 64; i++)
			if (want[i] && want[i] < min)
				min = want[i];
		bad += flow_timer_next(&t) != min;
		if (rnd_below(10))
			continue;
		now = rnd_below(1000);
		while ((due = flow_timer_due(&t, now)) != FLOW_NONE) {
			bad += !want[due] || want[due] > now;
			bad += flow_at(&t, due)->deadline_ms != 0;
			want[due] = 0;
		}
		for (i = 0; i < 64; i++)
			bad += want[i] && want[i] <= now;
	}
	CHECK(!bad);
	flow_table_destroy(&t);
}

static void test_random_model(void)
{
	model_run(8, MODEL_OPS);
	model_run(MODEL_SIZE, MODEL_OPS);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* results show up if we hang */
	rng_state = RAND_SEED;

	UNIT_PLAN(12);
	UNIT_RUN(test_siphash_vectors);
	UNIT_RUN(test_init_limits);
	UNIT_RUN(test_insert_lookup);
	UNIT_RUN(test_same_bucket_other_port);
	UNIT_RUN(test_fill_1024);
	UNIT_RUN(test_fill_40000);
	UNIT_RUN(test_ipv4_ipv6);
	UNIT_RUN(test_deferred_free);
	UNIT_RUN(test_alloc_order);
	UNIT_RUN(test_shares_lru);
	UNIT_RUN(test_timers);
	UNIT_RUN(test_random_model);
	UNIT_EXIT();
}
