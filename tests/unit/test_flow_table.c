/* Unit tests for lib/flow_table: keys, capacity and fail-open, slot reuse,
 * bulk lookups, timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tcp/flow_table.h"

#define TICK FLOW_TABLE_TICK_MS

static struct flow_key key_v4(uint32_t client, uint16_t port)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	memcpy(k.client, &client, 4);
	k.server[0] = 198;
	k.server[1] = 18;
	k.server[3] = 25;
	k.client_port = port;
	k.server_port = 25;
	return k;
}

static struct flow_key key_v6(uint32_t n)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.family = 6;
	k.client[0] = 0x20;
	k.client[1] = 0x01;
	k.client[2] = 0x0d;
	k.client[3] = 0xb8;
	memcpy(k.client + 12, &n, 4);
	k.server[0] = 0x20;
	k.server[1] = 0x01;
	k.server[15] = 0x25;
	k.client_port = (uint16_t)(1024 + n % 50000);
	k.server_port = 25;
	return k;
}

static int32_t insert(struct flow_table *t, const struct flow_key *k)
{
	return flow_table_insert(t, k, flow_key_hash(k));
}

static int32_t lookup(struct flow_table *t, const struct flow_key *k)
{
	return flow_table_lookup(t, k, flow_key_hash(k));
}

static struct flow_table *make(uint32_t capacity)
{
	char err[160];
	struct flow_table *t = flow_table_create(capacity, 200, err, sizeof(err));

	assert_non_null(t);
	return t;
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(((rng >> 32) * (uint64_t)n) >> 32);
}

/* ---- keys and index ------------------------------------------------------------------------ */

static void test_inserted_flow_is_found_and_removed_flow_is_not(void **state)
{
	(void)state;
	struct flow_table *t = make(64);
	struct flow_key k = key_v4(0x0a000013, 40000);
	int32_t idx = insert(t, &k);

	assert_true(idx >= 0);
	assert_int_equal(flow_table_count(t), 1);
	assert_int_equal(lookup(t, &k), idx);
	assert_memory_equal(flow_table_key(t, idx), &k, sizeof(k));
	flow_table_remove(t, idx);
	assert_int_equal(lookup(t, &k), -1);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

/* Changing any single byte of a stored key, IPv4 or IPv6, is a miss. */
static void test_every_key_byte_matters(void **state)
{
	(void)state;
	struct flow_table *t = make(64);
	const struct flow_key bases[] = {key_v4(0x0a000013, 40000), key_v6(7)};

	for (size_t b = 0; b < 2; b++) {
		int32_t idx = insert(t, &bases[b]);
		assert_true(idx >= 0);
		for (size_t off = 0; off < sizeof(struct flow_key); off++) {
			for (int bit = 0; bit < 8; bit += 7) {
				struct flow_key v = bases[b];
				((uint8_t *)&v)[off] ^= (uint8_t)(1u << bit);
				assert_int_equal(lookup(t, &v), -1);
			}
		}
		assert_int_equal(lookup(t, &bases[b]), idx);
	}
	flow_table_free(t);
}

static void test_ipv4_and_ipv6_keys_with_the_same_bytes_are_distinct(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key v4 = key_v4(0x01020304, 1234);
	struct flow_key v6 = v4;

	v6.family = 6;
	int32_t i4 = insert(t, &v4), i6 = insert(t, &v6);
	assert_true(i4 >= 0 && i6 >= 0 && i4 != i6);
	assert_int_equal(lookup(t, &v4), i4);
	assert_int_equal(lookup(t, &v6), i6);
	flow_table_remove(t, i4);
	assert_int_equal(lookup(t, &v4), -1);
	assert_int_equal(lookup(t, &v6), i6);
	flow_table_free(t);
}

static void test_ipv6_keys_are_distinct_by_every_address_byte(void **state)
{
	(void)state;
	struct flow_table *t = make(64);
	struct flow_key k;
	int32_t idx[32];

	memset(&k, 0, sizeof(k));
	k.family = 6;
	k.client_port = 1234;
	k.server_port = 25;
	for (int i = 0; i < 32; i++) {
		struct flow_key v = k;
		(i < 16 ? v.client : v.server)[i % 16] = 0x5a;
		idx[i] = insert(t, &v);
		assert_true(idx[i] >= 0);
	}
	for (int i = 0; i < 32; i++) {
		struct flow_key v = k;
		(i < 16 ? v.client : v.server)[i % 16] = 0x5a;
		assert_int_equal(lookup(t, &v), idx[i]);
	}
	assert_int_equal(lookup(t, &k), -1);
	flow_table_free(t);
}

static void check_capacity(uint32_t capacity)
{
	struct flow_table *t = make(capacity);

	assert_int_equal(flow_table_capacity(t), capacity);
	for (uint32_t i = 0; i < capacity; i++) {
		struct flow_key k = key_v4(i, (uint16_t)(i * 7));
		assert_true(insert(t, &k) >= 0);
	}
	assert_int_equal(flow_table_count(t), capacity);
	struct flow_key extra = key_v4(0xffffffff, 1);
	assert_int_equal(insert(t, &extra), -1);
	assert_int_equal(flow_table_count(t), capacity);
	for (uint32_t i = 0; i < capacity; i++) {
		struct flow_key k = key_v4(i, (uint16_t)(i * 7));
		assert_true(lookup(t, &k) >= 0);
	}
	assert_int_equal(lookup(t, &extra), -1);
	/* Removing one makes room for exactly one. */
	struct flow_key first = key_v4(0, 0);
	flow_table_remove(t, lookup(t, &first));
	assert_true(insert(t, &extra) >= 0);
	assert_int_equal(insert(t, &first), -1);
	flow_table_free(t);
}

static void test_exactly_capacity_flows_fit_then_inserts_fail_open(void **state)
{
	(void)state;
	static const uint32_t capacities[] = {1, 2, 3, 5, 7, 8, 9, 100, 1000, 4097, 65536, 100003};

	for (size_t i = 0; i < sizeof(capacities) / sizeof(capacities[0]); i++)
		check_capacity(capacities[i]);
}

/* The same hash for every key forces one long probe chain: lookups must
 * follow it, removals in its middle must not cut it, and misses must stop. */
static void test_colliding_hashes_probe_past_full_buckets(void **state)
{
	(void)state;
	struct flow_table *t = make(64);
	struct flow_key k[40];
	int32_t idx[40];
	const uint32_t hash = 0xdeadbeef;

	for (int i = 0; i < 40; i++) {
		k[i] = key_v4((uint32_t)i, 9);
		idx[i] = flow_table_insert(t, &k[i], hash);
		assert_true(idx[i] >= 0);
	}
	for (int i = 0; i < 40; i++)
		assert_int_equal(flow_table_lookup(t, &k[i], hash), idx[i]);
	for (int i = 3; i < 40; i += 4)
		flow_table_remove(t, idx[i]);
	for (int i = 0; i < 40; i++)
		assert_int_equal(flow_table_lookup(t, &k[i], hash), i % 4 == 3 ? -1 : idx[i]);
	struct flow_key absent = key_v4(1000, 9);
	assert_int_equal(flow_table_lookup(t, &absent, hash), -1);
	/* Freed slots in the chain are reused. */
	for (int i = 3; i < 40; i += 4) {
		idx[i] = flow_table_insert(t, &k[i], hash);
		assert_true(idx[i] >= 0);
	}
	for (int i = 0; i < 40; i++)
		assert_int_equal(flow_table_lookup(t, &k[i], hash), idx[i]);
	flow_table_free(t);
}

static void test_removed_slot_is_reused_and_double_remove_does_nothing(void **state)
{
	(void)state;
	struct flow_table *t = make(2);
	struct flow_key a = key_v4(1, 1), b = key_v4(2, 2), c = key_v4(3, 3);
	int32_t ia = insert(t, &a), ib = insert(t, &b);

	assert_int_equal(insert(t, &c), -1);
	flow_table_remove(t, ia);
	flow_table_remove(t, ia);
	assert_int_equal(flow_table_count(t), 1);
	int32_t ic = insert(t, &c);
	assert_int_equal(ic, ia);
	assert_int_equal(insert(t, &a), -1);
	assert_int_equal(lookup(t, &b), ib);
	assert_int_equal(lookup(t, &c), ic);
	flow_table_free(t);
}

/* Random inserts and removals against a model; afterwards the table is
 * empty, every slot is free again and a miss reads a single bucket (the
 * probe counts were all undone). */
static void test_insert_remove_cycles_do_not_leak_slots(void **state)
{
	(void)state;
	enum { CAP = 1000, KEYS = 3000 };
	struct flow_table *t = make(CAP);
	static int32_t where[KEYS];
	uint32_t live = 0;

	for (int i = 0; i < KEYS; i++)
		where[i] = -1;
	for (int op = 0; op < 200000; op++) {
		uint32_t i = rnd(KEYS);
		struct flow_key k = key_v4(i, (uint16_t)i);
		assert_int_equal(lookup(t, &k), where[i]);
		if (where[i] >= 0) {
			flow_table_remove(t, where[i]);
			where[i] = -1;
			live--;
		} else {
			where[i] = insert(t, &k);
			assert_int_equal(where[i] >= 0, live < CAP);
			live += where[i] >= 0;
		}
		assert_int_equal(flow_table_count(t), live);
	}
	for (uint32_t i = 0; i < KEYS; i++)
		if (where[i] >= 0)
			flow_table_remove(t, where[i]);
	assert_int_equal(flow_table_count(t), 0);

	struct flow_table_stats before, after;
	flow_table_stats(t, &before);
	for (uint32_t i = 0; i < KEYS; i++) {
		struct flow_key k = key_v4(i, (uint16_t)i);
		assert_int_equal(lookup(t, &k), -1);
	}
	flow_table_stats(t, &after);
	assert_int_equal(after.probes, before.probes);
	for (uint32_t i = 0; i < CAP; i++) {
		struct flow_key k = key_v4(i + KEYS, 1);
		assert_true(insert(t, &k) >= 0);
	}
	flow_table_free(t);
}

static void test_record_is_zeroed_on_insert(void **state)
{
	(void)state;
	struct flow_table *t = make(4);
	struct flow_key k = key_v4(1, 1);
	int32_t idx = insert(t, &k);
	memset(flow_table_record(t, idx), 0xab, 200);
	flow_table_remove(t, idx);
	idx = insert(t, &k);
	uint8_t zero[200] = {0};
	assert_memory_equal(flow_table_record(t, idx), zero, sizeof(zero));
	flow_table_free(t);
}

/* Records are 64-byte aligned, and writing a whole record disturbs neither
 * its neighbours nor any key. */
static void test_records_are_aligned_and_independent(void **state)
{
	(void)state;
	char err[160];
	struct flow_table *t = flow_table_create(8, 100, err, sizeof(err));
	int32_t idx[8];

	assert_non_null(t);
	for (int i = 0; i < 8; i++) {
		struct flow_key k = key_v4((uint32_t)i, 5);
		idx[i] = insert(t, &k);
		assert_int_equal((uintptr_t)flow_table_record(t, idx[i]) % 64, 0);
		memset(flow_table_record(t, idx[i]), 0x10 + i, 100);
	}
	for (int i = 0; i < 8; i++) {
		struct flow_key k = key_v4((uint32_t)i, 5);
		assert_int_equal(lookup(t, &k), idx[i]);
		const uint8_t *r = flow_table_record(t, idx[i]);
		for (int j = 0; j < 100; j++)
			assert_int_equal(r[j], 0x10 + i);
	}
	flow_table_free(t);
}

static void test_bulk_lookup_equals_single_lookups(void **state)
{
	(void)state;
	struct flow_table *t = make(4096);
	static const unsigned sizes[] = {1, 2, 31, 32, 33, 100};
	struct flow_key keys[100];
	const struct flow_key *ptrs[100];
	uint32_t hashes[100];
	int32_t out[100];

	for (uint32_t i = 0; i < 3000; i += 2) {
		struct flow_key k = key_v4(i, 80);
		assert_true(insert(t, &k) >= 0);
	}
	/* A probe chain too, so that the bulk path meets full buckets. */
	for (uint32_t i = 0; i < 30; i++) {
		struct flow_key k = key_v4(i, 81);
		assert_true(flow_table_insert(t, &k, 0x12345678) >= 0);
	}
	for (int round = 0; round < 200; round++) {
		unsigned n = sizes[round % 6];
		for (unsigned i = 0; i < n; i++) {
			bool chain = rnd(4) == 0;
			uint32_t v = chain ? rnd(40) : rnd(6000);
			keys[i] = key_v4(v, chain ? 81 : 80);
			ptrs[i] = &keys[i];
			hashes[i] = chain ? 0x12345678 : flow_key_hash(&keys[i]);
		}
		flow_table_lookup_bulk(t, ptrs, hashes, n, out);
		for (unsigned i = 0; i < n; i++) {
			int32_t single = flow_table_lookup(t, ptrs[i], hashes[i]);
			assert_int_equal(out[i], single);
			uint32_t v;
			memcpy(&v, keys[i].client, 4);
			bool present = keys[i].client_port == 81 ? v < 30 : v % 2 == 0 && v < 3000;
			assert_int_equal(out[i] >= 0, present);
		}
	}
	flow_table_free(t);
}

static void test_create_rejects_sizes_out_of_range(void **state)
{
	(void)state;
	char err[160] = "";

	assert_null(flow_table_create(0, 256, err, sizeof(err)));
	assert_non_null(strstr(err, "out of range"));
	assert_null(flow_table_create(FLOW_TABLE_CAPACITY_MAX + 1, 256, err, sizeof(err)));
	assert_null(flow_table_create(16, 0, err, sizeof(err)));
	assert_null(flow_table_create(16, FLOW_TABLE_RECORD_MAX + 1, err, sizeof(err)));
	struct flow_table *t = flow_table_create(16, FLOW_TABLE_RECORD_MAX, err, sizeof(err));
	assert_non_null(t);
	flow_table_free(t);
	flow_table_free(NULL);
}

/* Sequential ports and addresses, the usual shape of an attack or a load
 * test, spread evenly: every one of 256 ranges of the hash gets its share. */
static void test_hash_spreads_sequential_keys_evenly(void **state)
{
	(void)state;
	enum { N = 1 << 16, RANGES = 256 };
	static unsigned by_port[RANGES], by_addr[RANGES];
	static uint32_t seen[N];

	for (uint32_t i = 0; i < N; i++) {
		struct flow_key p = key_v4(0x0a000001, (uint16_t)i);
		struct flow_key a = key_v4(0x0a000000 + i, 40000);
		uint32_t hp = flow_key_hash(&p);
		by_port[hp >> 24]++;
		by_addr[flow_key_hash(&a) >> 24]++;
		seen[i] = hp;
	}
	for (int r = 0; r < RANGES; r++) {
		/* 256 expected, sigma 16: 6 sigma either side. */
		assert_in_range(by_port[r], 160, 352);
		assert_in_range(by_addr[r], 160, 352);
	}
	unsigned collisions = 0;
	for (uint32_t i = 0; i < N; i++)
		for (uint32_t j = i + 1; j < i + 64 && j < N; j++)
			collisions += seen[i] == seen[j];
	assert_true(collisions <= 2);
}

static void test_one_million_flows_fit_in_the_default_table(void **state)
{
	(void)state;
	const uint32_t n = 1u << 20;
	char err[160];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct flow_table *t = flow_table_create(n, 256, err, sizeof(err));
	assert_non_null(t);
	for (uint32_t i = 0; i < n; i++) {
		struct flow_key k = key_v4(i, (uint16_t)i);
		assert_true(insert(t, &k) >= 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct flow_key extra = key_v4(n, 1);
	assert_int_equal(insert(t, &extra), -1);
	for (uint32_t i = 0; i < n; i += 997) {
		struct flow_key k = key_v4(i, (uint16_t)i);
		assert_true(lookup(t, &k) >= 0);
	}
	assert_int_equal(flow_table_count(t), n);
	/* 64 B header + 256 B record + 16 B of index per flow. */
	assert_true(flow_table_memory_bytes(t) / n <= 340);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	print_message("      1M flows created and filled in %.2f s, %.1f bytes per flow\n", s,
	              (double)flow_table_memory_bytes(t) / n);
	flow_table_free(t);
}

/* ---- timers -------------------------------------------------------------------------------- */

struct expiry_log {
	struct flow_table *t;
	int32_t idx[64];
	void *record[64];
	unsigned n;
};

static bool log_expired(void *arg, int32_t idx, void *record)
{
	struct expiry_log *log = arg;

	if (log->n < 64) {
		log->idx[log->n] = idx;
		log->record[log->n] = record;
	}
	log->n++;
	return false;
}

static void test_flow_without_deadline_never_expires(void **state)
{
	(void)state;
	struct flow_table *t = make(4);
	struct flow_key a = key_v4(1, 1);
	int32_t ia = insert(t, &a);

	assert_int_equal(flow_table_expiry(t, ia), UINT64_MAX);
	assert_int_equal(flow_table_expire(t, 10ull * 24 * 3600 * 1000, 64, NULL, NULL), 0);
	assert_int_equal(lookup(t, &a), ia);
	flow_table_free(t);
}

static void test_flows_expire_at_their_deadline_not_before(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key a = key_v4(1, 1), b = key_v4(2, 2);
	int32_t ia = insert(t, &a), ib = insert(t, &b);

	flow_table_set_expiry(t, ia, 10000); /* multiples of the tick: exact */
	flow_table_set_expiry(t, ib, 40000);
	assert_int_equal(flow_table_expiry(t, ia), 10000);
	assert_int_equal(flow_table_expire(t, 9999, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, 10000, 64, NULL, NULL), 1);
	assert_int_equal(lookup(t, &a), -1);
	assert_int_equal(lookup(t, &b), ib);
	assert_int_equal(flow_table_expire(t, 39999, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, 40000, 64, NULL, NULL), 1);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

/* Any deadline, stepping the clock a millisecond at a time: never early,
 * at most one tick late. */
static bool note_time(void *arg, int32_t idx, void *record)
{
	(void)record;
	((uint64_t *)arg)[idx + 1] = ((uint64_t *)arg)[0];
	return false;
}

static void test_expiry_is_never_early_and_at_most_one_tick_late(void **state)
{
	(void)state;
	enum { N = 3 * TICK };
	struct flow_table *t = make(N);
	uint64_t at[N + 1] = {0}; /* at[0]: now; at[idx + 1]: when idx expired */
	uint64_t deadline[N];

	for (uint32_t i = 0; i < N; i++) {
		struct flow_key k = key_v4(i, 1);
		int32_t idx = insert(t, &k);
		assert_int_equal(idx, (int32_t)i);
		deadline[i] = 5000 + i;
		flow_table_set_expiry(t, idx, deadline[i]);
	}
	for (at[0] = 4000; at[0] < 5000 + 5 * TICK; at[0]++)
		flow_table_expire(t, at[0], 64, note_time, at);
	for (uint32_t i = 0; i < N; i++) {
		assert_true(at[i + 1] >= deadline[i]);
		assert_true(at[i + 1] < deadline[i] + TICK);
	}
	assert_int_equal(flow_table_count(t), 0);
	/* Each was looked at once: when it was due, not a tick before. */
	struct flow_table_stats s;
	flow_table_stats(t, &s);
	assert_int_equal(s.timer_visits, N);
	flow_table_free(t);
}

static void test_flows_expire_in_deadline_order_with_their_records(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct expiry_log log = {.t = t};
	static const uint64_t deadline[5] = {3000, 1000, 5000, 2000, 4000};
	int32_t idx[5];

	for (int i = 0; i < 5; i++) {
		struct flow_key k = key_v4((uint32_t)i, 1);
		idx[i] = insert(t, &k);
		flow_table_set_expiry(t, idx[i], deadline[i]);
	}
	for (int i = 0; i < 5; i++)
		assert_int_equal(flow_table_expire(t, 10000, 1, log_expired, &log), 1);
	assert_int_equal(flow_table_expire(t, 10000, 1, log_expired, &log), 0);
	static const int order[5] = {1, 3, 0, 4, 2};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(log.idx[i], idx[order[i]]);
		assert_ptr_equal(log.record[i], flow_table_record(t, idx[order[i]]));
	}
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

static void test_later_deadline_postpones_lazily(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key a = key_v4(1, 1);
	int32_t ia = insert(t, &a);
	struct flow_table_stats s0, s1;

	flow_table_set_expiry(t, ia, 1000);
	for (uint64_t d = 1000; d <= 300000; d += 1000)
		flow_table_set_expiry(t, ia, d); /* a packet a second */
	assert_int_equal(flow_table_expiry(t, ia), 300000);
	flow_table_stats(t, &s0);
	assert_int_equal(flow_table_expire(t, 6000, 64, NULL, NULL), 0);
	flow_table_stats(t, &s1);
	/* Visited once at its old slot and moved to the new one. */
	assert_int_equal(s1.timer_visits - s0.timer_visits, 1);
	assert_int_equal(s1.timer_reslots - s0.timer_reslots, 1);
	assert_int_equal(flow_table_expire(t, 299999, 64, NULL, NULL), 0);
	assert_int_equal(lookup(t, &a), ia);
	assert_int_equal(flow_table_expire(t, 300000, 64, NULL, NULL), 1);
	flow_table_free(t);
}

/* Postponed by less than a tick, it stays when its old slot comes due. */
static void test_deadline_postponed_by_a_few_ms_is_not_expired_early(void **state)
{
	(void)state;
	struct flow_table *t = make(4);
	struct flow_key a = key_v4(1, 1);
	int32_t ia = insert(t, &a);

	flow_table_set_expiry(t, ia, 1024);
	flow_table_set_expiry(t, ia, 1027);
	assert_int_equal(flow_table_expire(t, 1024, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, 1026, 64, NULL, NULL), 0);
	assert_int_equal(lookup(t, &a), ia);
	assert_int_equal(flow_table_expire(t, 1027 + TICK - 1, 64, NULL, NULL), 1);
	flow_table_free(t);
}

static void test_earlier_deadline_is_honoured(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key a = key_v4(1, 1), b = key_v4(2, 2);
	int32_t ia = insert(t, &a), ib = insert(t, &b);

	flow_table_set_expiry(t, ia, 360000); /* idle */
	flow_table_set_expiry(t, ib, 360000);
	assert_int_equal(flow_table_expire(t, 1000, 64, NULL, NULL), 0);
	flow_table_set_expiry(t, ia, 11200); /* closing (a multiple of the tick: exact) */
	assert_int_equal(flow_table_expire(t, 11199, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, 11200, 64, NULL, NULL), 1);
	assert_int_equal(lookup(t, &a), -1);
	assert_int_equal(lookup(t, &b), ib);
	/* A deadline already past is due at the next tick. */
	flow_table_set_expiry(t, ib, 500);
	assert_int_equal(flow_table_expire(t, 11200 + TICK - 1, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, 11200 + TICK, 64, NULL, NULL), 1);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

static void test_deadline_beyond_the_wheel_horizon_is_kept(void **state)
{
	(void)state;
	struct flow_table *t = make(4);
	struct flow_key a = key_v4(1, 1);
	int32_t ia = insert(t, &a);
	const uint64_t hour = 3600 * 1000;

	assert_true(hour > (uint64_t)FLOW_TABLE_TICK_MS * FLOW_TABLE_WHEEL_SLOTS);
	flow_table_set_expiry(t, ia, hour);
	for (uint64_t now = 0; now < hour; now += 7 * 1000)
		assert_int_equal(flow_table_expire(t, now, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, hour - 1, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, hour, 64, NULL, NULL), 1);
	flow_table_free(t);
}

static void test_removed_flow_never_expires(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key a = key_v4(1, 1), b = key_v4(2, 2), c = key_v4(3, 3);
	int32_t ia = insert(t, &a), ib = insert(t, &b), ic = insert(t, &c);

	/* Same slot: removing the middle, the head and the tail of its list. */
	flow_table_set_expiry(t, ia, 1000);
	flow_table_set_expiry(t, ib, 1000);
	flow_table_set_expiry(t, ic, 1000);
	flow_table_remove(t, ib);
	assert_int_equal(flow_table_expire(t, 2000, 64, NULL, NULL), 2);
	ib = insert(t, &b);
	ia = insert(t, &a);
	flow_table_set_expiry(t, ia, 3000);
	flow_table_set_expiry(t, ib, 3000);
	flow_table_remove(t, ia);
	flow_table_remove(t, ib);
	assert_int_equal(flow_table_expire(t, 4000, 64, NULL, NULL), 0);
	flow_table_free(t);
}

/* The change count moves on every insert and removal, expiry's included,
 * and on nothing else: the worker reuses a bulk lookup's answers while it
 * stands still. */
static void test_change_count_moves_on_insert_remove_and_expiry_only(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key a = key_v4(1, 1), b = key_v4(2, 2);
	uint32_t c0 = flow_table_changes(t);

	int32_t ia = insert(t, &a);
	uint32_t c1 = flow_table_changes(t);
	assert_true(c1 != c0);
	assert_int_equal(lookup(t, &a), ia);
	assert_int_equal(lookup(t, &b), -1);
	flow_table_set_expiry(t, ia, 1000);
	assert_int_equal(flow_table_changes(t), c1);
	int32_t ib = insert(t, &b);
	uint32_t c2 = flow_table_changes(t);
	assert_true(c2 != c1);
	flow_table_remove(t, ib);
	uint32_t c3 = flow_table_changes(t);
	assert_true(c3 != c2);
	flow_table_remove(t, ib); /* not in use: nothing changes */
	assert_int_equal(flow_table_changes(t), c3);
	assert_int_equal(flow_table_expire(t, 2000, 64, NULL, NULL), 1);
	assert_true(flow_table_changes(t) != c3);
	flow_table_free(t);
}

/* A flow kept by its callback with a new deadline is due again then. */
static bool keep_once(void *arg, int32_t idx, void *record)
{
	struct flow_table *t = arg;
	int *calls = record;

	if ((*calls)++ > 0)
		return false;
	flow_table_set_expiry(t, idx, 20000);
	return true;
}

static void test_expire_callback_can_keep_a_flow_with_a_new_deadline(void **state)
{
	(void)state;
	struct flow_table *t = make(4);
	struct flow_key a = key_v4(1, 1);
	int32_t ia = insert(t, &a);

	flow_table_set_expiry(t, ia, 10000);
	assert_int_equal(flow_table_expire(t, 10000, 64, keep_once, t), 1);
	assert_int_equal(lookup(t, &a), ia);
	assert_int_equal(flow_table_expire(t, 19999, 64, keep_once, t), 0);
	assert_int_equal(flow_table_expire(t, 20000, 64, keep_once, t), 1);
	assert_int_equal(lookup(t, &a), -1);
	flow_table_free(t);
}

static bool keep_always(void *arg, int32_t idx, void *record)
{
	(void)idx;
	(void)record;
	(*(unsigned *)arg)++;
	return true;
}

static void test_flow_kept_without_a_new_deadline_is_due_again_next_tick(void **state)
{
	(void)state;
	struct flow_table *t = make(4);
	struct flow_key a = key_v4(1, 1);
	int32_t ia = insert(t, &a);
	unsigned calls = 0;

	flow_table_set_expiry(t, ia, 1024);
	assert_int_equal(flow_table_expire(t, 1024, 64, keep_always, &calls), 1);
	assert_int_equal(flow_table_expire(t, 1024 + TICK - 1, 64, keep_always, &calls), 0);
	assert_int_equal(flow_table_expire(t, 1024 + TICK, 64, keep_always, &calls), 1);
	assert_int_equal(calls, 2);
	assert_int_equal(lookup(t, &a), ia);
	flow_table_free(t);
}

/* The callback may remove other flows, due ones included, and insert. */
struct remove_ctx {
	struct flow_table *t;
	int32_t victim;
	unsigned calls;
};

static bool remove_victim(void *arg, int32_t idx, void *record)
{
	struct remove_ctx *c = arg;

	(void)record;
	c->calls++;
	if (c->victim >= 0 && c->victim != idx) {
		flow_table_remove(c->t, c->victim);
		c->victim = -1;
		struct flow_key k = key_v4(99, 99);
		assert_true(insert(c->t, &k) >= 0);
	}
	return false;
}

static void test_callback_may_remove_other_due_flows(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	int32_t idx[4];

	for (int i = 0; i < 4; i++) {
		struct flow_key k = key_v4((uint32_t)i, 1);
		idx[i] = insert(t, &k);
		flow_table_set_expiry(t, idx[i], 1000);
	}
	struct remove_ctx c = {.t = t, .victim = idx[2]};
	assert_int_equal(flow_table_expire(t, 2000, 64, remove_victim, &c), 3);
	assert_int_equal(c.calls, 3);
	assert_int_equal(flow_table_count(t), 1); /* the one it inserted */
	flow_table_free(t);
}

/* One expire call, checked for its bound: at most max due and 2 * max
 * visited. Returns how many were due. */
static unsigned expire_bounded(struct flow_table *t, uint64_t now, unsigned max)
{
	struct flow_table_stats s0, s1;

	flow_table_stats(t, &s0);
	unsigned n = flow_table_expire(t, now, max, NULL, NULL);
	flow_table_stats(t, &s1);
	assert_true(n <= max);
	assert_int_equal(s1.expired - s0.expired, n);
	assert_true(s1.timer_visits - s0.timer_visits <= 2 * max);
	return n;
}

static void test_clock_jump_expires_everything_with_bounded_work_per_call(void **state)
{
	(void)state;
	enum { N = 20000, MAX = 64 };
	struct flow_table *t = make(N);
	const uint64_t hour = 3600000;

	for (uint32_t i = 0; i < N; i++) {
		struct flow_key k = key_v4(i, 3);
		int32_t idx = insert(t, &k);
		flow_table_set_expiry(t, idx, 1000 + (uint64_t)rnd(600000));
		/* All postponed past the jump below, some beyond the horizon. */
		flow_table_set_expiry(t, idx, 2 * hour + (uint64_t)rnd(3 * hour));
	}
	assert_int_equal(expire_bounded(t, 500, MAX), 0);
	/* An hour: every old slot comes due and nothing is: the moves alone
	 * are spread over calls. */
	struct flow_table_stats s;
	unsigned calls = 0;
	do {
		assert_int_equal(expire_bounded(t, hour, MAX), 0);
		flow_table_stats(t, &s);
		assert_true(++calls < N);
	} while (s.timer_reslots < N);
	assert_true(calls >= N / (2 * MAX));
	assert_int_equal(flow_table_count(t), N);
	/* Ten hours: everything is due. */
	unsigned total = 0;
	calls = 0;
	while (flow_table_count(t) > 0) {
		total += expire_bounded(t, 10 * hour, MAX);
		assert_true(++calls < 10 * N / MAX);
	}
	assert_int_equal(total, N);
	flow_table_free(t);
}

/* Random deadlines, postponed and advanced at random while the clock moves
 * in random steps: each flow expires once, never early, and at most a tick
 * late whenever the call had budget to spare. */
static bool model_expired(void *arg, int32_t idx, void *record)
{
	uint64_t *expired_at = arg;
	uint64_t now = *(uint64_t *)record; /* the test writes now into every record */

	assert_int_equal(expired_at[idx], 0);
	expired_at[idx] = now;
	return false;
}

static void test_timers_match_a_model_under_random_updates(void **state)
{
	(void)state;
	enum { N = 2000 };
	char err[160];
	struct flow_table *t = flow_table_create(N, sizeof(uint64_t), err, sizeof(err));
	static uint64_t deadline[N], expired_at[N];
	uint64_t now = 1000000;

	assert_non_null(t);
	for (uint32_t i = 0; i < N; i++) {
		struct flow_key k = key_v4(i, 7);
		assert_int_equal(insert(t, &k), (int32_t)i); /* fresh indices in order */
		deadline[i] = now + 1000 + rnd(700000);
		flow_table_set_expiry(t, (int32_t)i, deadline[i]);
	}
	while (flow_table_count(t) > 0) {
		now += 1 + rnd(5000);
		for (int u = 0; u < 20; u++) {
			uint32_t i = rnd(N);
			if (expired_at[i] != 0)
				continue;
			/* Mostly later (a packet), sometimes earlier (closing). */
			deadline[i] = rnd(5) != 0 ? now + rnd(400000) : now + rnd(20000);
			flow_table_set_expiry(t, (int32_t)i, deadline[i]);
		}
		for (uint32_t i = 0; i < N; i++)
			if (expired_at[i] == 0)
				*(uint64_t *)flow_table_record(t, (int32_t)i) = now;
		while (flow_table_expire(t, now, 1000000, model_expired, expired_at) > 0)
			;
		for (uint32_t i = 0; i < N; i++) {
			if (expired_at[i] != 0) {
				assert_true(expired_at[i] >= deadline[i]);
				continue;
			}
			assert_true(now < deadline[i] + TICK);
		}
	}
	flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inserted_flow_is_found_and_removed_flow_is_not),
	    cmocka_unit_test(test_every_key_byte_matters),
	    cmocka_unit_test(test_ipv4_and_ipv6_keys_with_the_same_bytes_are_distinct),
	    cmocka_unit_test(test_ipv6_keys_are_distinct_by_every_address_byte),
	    cmocka_unit_test(test_exactly_capacity_flows_fit_then_inserts_fail_open),
	    cmocka_unit_test(test_colliding_hashes_probe_past_full_buckets),
	    cmocka_unit_test(test_removed_slot_is_reused_and_double_remove_does_nothing),
	    cmocka_unit_test(test_insert_remove_cycles_do_not_leak_slots),
	    cmocka_unit_test(test_record_is_zeroed_on_insert),
	    cmocka_unit_test(test_records_are_aligned_and_independent),
	    cmocka_unit_test(test_bulk_lookup_equals_single_lookups),
	    cmocka_unit_test(test_change_count_moves_on_insert_remove_and_expiry_only),
	    cmocka_unit_test(test_create_rejects_sizes_out_of_range),
	    cmocka_unit_test(test_hash_spreads_sequential_keys_evenly),
	    cmocka_unit_test(test_one_million_flows_fit_in_the_default_table),
	    cmocka_unit_test(test_flow_without_deadline_never_expires),
	    cmocka_unit_test(test_flows_expire_at_their_deadline_not_before),
	    cmocka_unit_test(test_expiry_is_never_early_and_at_most_one_tick_late),
	    cmocka_unit_test(test_flows_expire_in_deadline_order_with_their_records),
	    cmocka_unit_test(test_later_deadline_postpones_lazily),
	    cmocka_unit_test(test_deadline_postponed_by_a_few_ms_is_not_expired_early),
	    cmocka_unit_test(test_earlier_deadline_is_honoured),
	    cmocka_unit_test(test_deadline_beyond_the_wheel_horizon_is_kept),
	    cmocka_unit_test(test_removed_flow_never_expires),
	    cmocka_unit_test(test_expire_callback_can_keep_a_flow_with_a_new_deadline),
	    cmocka_unit_test(test_flow_kept_without_a_new_deadline_is_due_again_next_tick),
	    cmocka_unit_test(test_callback_may_remove_other_due_flows),
	    cmocka_unit_test(test_clock_jump_expires_everything_with_bounded_work_per_call),
	    cmocka_unit_test(test_timers_match_a_model_under_random_updates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
