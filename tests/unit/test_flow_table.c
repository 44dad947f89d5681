/* Unit tests for lib/flow_table: lookups, capacity and fail-open, timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_table.h"

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
	char err[128];
	struct flow_table *t = flow_table_create(capacity, 200, err, sizeof(err));

	assert_non_null(t);
	return t;
}

static void test_inserted_flow_is_found_and_removed_flow_is_not(void **state)
{
	(void)state;
	struct flow_table *t = make(64);
	struct flow_key k = key_v4(0x0a000013, 40000);
	int32_t idx = insert(t, &k);

	assert_true(idx >= 0);
	assert_int_equal(lookup(t, &k), idx);
	assert_memory_equal(flow_table_key(t, idx), &k, sizeof(k));
	flow_table_remove(t, idx);
	assert_int_equal(lookup(t, &k), -1);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

static void test_every_key_field_matters(void **state)
{
	(void)state;
	struct flow_table *t = make(64);
	struct flow_key k = key_v4(0x0a000013, 40000);
	assert_true(insert(t, &k) >= 0);

	struct flow_key v = k;
	v.client_port++;
	assert_int_equal(lookup(t, &v), -1);
	v = k;
	v.server_port++;
	assert_int_equal(lookup(t, &v), -1);
	v = k;
	v.client[3] ^= 1;
	assert_int_equal(lookup(t, &v), -1);
	v = k;
	v.server[0] ^= 1;
	assert_int_equal(lookup(t, &v), -1);
	v = k;
	v.family = 6;
	assert_int_equal(lookup(t, &v), -1);
	flow_table_free(t);
}

static void test_ipv6_keys_are_distinct_by_every_address_byte(void **state)
{
	(void)state;
	struct flow_table *t = make(256);
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.family = 6;
	k.client_port = 1234;
	k.server_port = 25;
	for (int i = 0; i < 16; i++) {
		struct flow_key v = k;
		v.client[i] = 0x5a;
		assert_true(insert(t, &v) >= 0);
	}
	for (int i = 0; i < 16; i++) {
		struct flow_key v = k;
		v.client[i] = 0x5a;
		assert_true(lookup(t, &v) >= 0);
	}
	assert_int_equal(lookup(t, &k), -1);
	flow_table_free(t);
}

static void check_capacity(uint32_t capacity)
{
	struct flow_table *t = make(capacity);

	for (uint32_t i = 0; i < capacity; i++) {
		struct flow_key k = key_v4(i, (uint16_t)(i * 7));
		assert_true(insert(t, &k) >= 0);
	}
	assert_int_equal(flow_table_count(t), capacity);
	struct flow_key extra = key_v4(0xffffffff, 1);
	assert_int_equal(insert(t, &extra), -1);
	for (uint32_t i = 0; i < capacity; i++) {
		struct flow_key k = key_v4(i, (uint16_t)(i * 7));
		assert_true(lookup(t, &k) >= 0);
	}
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
	check_capacity(1);
	check_capacity(7);
	check_capacity(100);
	check_capacity(1000);
	check_capacity(65536);
}

static void test_insert_remove_cycles_do_not_leak_slots(void **state)
{
	(void)state;
	struct flow_table *t = make(100);

	for (int round = 0; round < 50; round++) {
		int32_t idx[100];
		for (uint32_t i = 0; i < 100; i++) {
			struct flow_key k = key_v4(i + (uint32_t)round * 1000, 9);
			idx[i] = insert(t, &k);
			assert_true(idx[i] >= 0);
		}
		for (int i = 0; i < 100; i++)
			flow_table_remove(t, idx[i]);
		assert_int_equal(flow_table_count(t), 0);
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

static void test_bulk_lookup_equals_single_lookups(void **state)
{
	(void)state;
	struct flow_table *t = make(4096);
	struct flow_key keys[64];
	const struct flow_key *ptrs[64];
	uint32_t hashes[64];
	int32_t out[64];

	for (uint32_t i = 0; i < 3000; i++) {
		struct flow_key k = key_v4(i * 2, 80);
		assert_true(insert(t, &k) >= 0);
	}
	for (uint32_t i = 0; i < 64; i++) {
		keys[i] = key_v4(i * 37, 80); /* even: present, odd: absent */
		ptrs[i] = &keys[i];
		hashes[i] = flow_key_hash(&keys[i]);
	}
	flow_table_lookup_bulk(t, ptrs, hashes, 64, out);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(out[i], lookup(t, &keys[i]));
		assert_int_equal(out[i] >= 0, (i * 37) % 2 == 0 && i * 37 < 6000);
	}
	flow_table_free(t);
}

static int expired_count;
static bool count_expired(void *arg, int32_t idx, void *record)
{
	(void)arg;
	(void)idx;
	(void)record;
	expired_count++;
	return false;
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
	assert_true(lookup(t, &a) >= 0);
	assert_int_equal(flow_table_expire(t, 19999, 64, keep_once, t), 0);
	assert_int_equal(flow_table_expire(t, 20000, 64, keep_once, t), 1);
	assert_int_equal(lookup(t, &a), -1);
	flow_table_free(t);
}

static void test_flows_expire_at_their_deadline_not_before(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key a = key_v4(1, 1), b = key_v4(2, 2);
	int32_t ia = insert(t, &a), ib = insert(t, &b);

	flow_table_set_expiry(t, ia, 10000);
	flow_table_set_expiry(t, ib, 40000);
	expired_count = 0;
	assert_int_equal(flow_table_expire(t, 9999, 64, count_expired, NULL), 0);
	assert_int_equal(flow_table_expire(t, 10000, 64, count_expired, NULL), 1);
	assert_int_equal(lookup(t, &a), -1);
	assert_true(lookup(t, &b) >= 0);
	assert_int_equal(flow_table_expire(t, 39999, 64, count_expired, NULL), 0);
	assert_int_equal(flow_table_expire(t, 40001, 64, count_expired, NULL), 1);
	assert_int_equal(expired_count, 2);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

static void test_later_deadline_postpones_and_earlier_one_is_honoured(void **state)
{
	(void)state;
	struct flow_table *t = make(16);
	struct flow_key a = key_v4(1, 1), b = key_v4(2, 2);
	int32_t ia = insert(t, &a), ib = insert(t, &b);

	flow_table_set_expiry(t, ia, 1000);
	flow_table_set_expiry(t, ia, 300000); /* lazily postponed */
	flow_table_set_expiry(t, ib, 360000);
	flow_table_set_expiry(t, ib, 5000); /* moved earlier: closing timer */
	assert_int_equal(flow_table_expire(t, 6000, 64, NULL, NULL), 1);
	assert_int_equal(lookup(t, &b), -1);
	assert_int_equal(flow_table_expire(t, 299999, 64, NULL, NULL), 0);
	assert_true(lookup(t, &a) >= 0);
	assert_int_equal(flow_table_expire(t, 300000, 64, NULL, NULL), 1);
	flow_table_free(t);
}

static void test_deadline_beyond_the_wheel_horizon_is_kept(void **state)
{
	(void)state;
	struct flow_table *t = make(4);
	struct flow_key a = key_v4(1, 1);
	int32_t ia = insert(t, &a);

	flow_table_set_expiry(t, ia, 3600 * 1000); /* an hour: beyond 1024 x 512 ms */
	for (uint64_t now = 0; now < 3600 * 1000; now += 100 * 1000)
		assert_int_equal(flow_table_expire(t, now, 64, NULL, NULL), 0);
	assert_int_equal(flow_table_expire(t, 3600 * 1000 + 1, 64, NULL, NULL), 1);
	flow_table_free(t);
}

static void test_clock_jump_expires_everything_with_bounded_work_per_call(void **state)
{
	(void)state;
	struct flow_table *t = make(5000);

	for (uint32_t i = 0; i < 5000; i++) {
		struct flow_key k = key_v4(i, 3);
		flow_table_set_expiry(t, insert(t, &k), 1000 + i * 50);
	}
	unsigned total = 0, calls = 0, n;
	while ((n = flow_table_expire(t, 10 * 3600 * 1000, 64, NULL, NULL)) > 0 || total < 5000) {
		assert_true(n <= 64);
		total += n;
		assert_true(++calls < 1000000);
	}
	assert_int_equal(total, 5000);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

static void test_one_million_flows_fit_in_the_default_table(void **state)
{
	(void)state;
	const uint32_t n = 1u << 20;
	struct flow_table *t = make(n);

	for (uint32_t i = 0; i < n; i++) {
		struct flow_key k = key_v4(i, (uint16_t)i);
		assert_true(insert(t, &k) >= 0);
	}
	for (uint32_t i = 0; i < n; i += 997) {
		struct flow_key k = key_v4(i, (uint16_t)i);
		assert_true(lookup(t, &k) >= 0);
	}
	assert_int_equal(flow_table_count(t), n);
	flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inserted_flow_is_found_and_removed_flow_is_not),
		cmocka_unit_test(test_every_key_field_matters),
		cmocka_unit_test(test_ipv6_keys_are_distinct_by_every_address_byte),
		cmocka_unit_test(test_exactly_capacity_flows_fit_then_inserts_fail_open),
		cmocka_unit_test(test_insert_remove_cycles_do_not_leak_slots),
		cmocka_unit_test(test_record_is_zeroed_on_insert),
		cmocka_unit_test(test_bulk_lookup_equals_single_lookups),
		cmocka_unit_test(test_flows_expire_at_their_deadline_not_before),
		cmocka_unit_test(test_later_deadline_postpones_and_earlier_one_is_honoured),
		cmocka_unit_test(test_deadline_beyond_the_wheel_horizon_is_kept),
		cmocka_unit_test(test_expire_callback_can_keep_a_flow_with_a_new_deadline),
		cmocka_unit_test(test_clock_jump_expires_everything_with_bounded_work_per_call),
		cmocka_unit_test(test_one_million_flows_fit_in_the_default_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
