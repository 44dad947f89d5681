#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/block_pool.h"

static void test_create_rejects_sizes_and_counts_outside_the_limits(void **state)
{
	(void)state;
	assert_null(block_pool_create(BLOCK_POOL_MIN_BLOCK_SIZE - 1, 4));
	assert_null(block_pool_create(BLOCK_POOL_MAX_BLOCK_SIZE + 1, 4));
	assert_null(block_pool_create(2048, 0));
	assert_null(block_pool_create(2048, BLOCK_POOL_MAX_COUNT + 1));
}

static void test_new_pool_reports_its_geometry_and_nothing_in_use(void **state)
{
	struct block_pool *pool = block_pool_create(2048, 10);

	(void)state;
	assert_non_null(pool);
	assert_int_equal(block_pool_block_size(pool), 2048);
	assert_int_equal(block_pool_capacity(pool), 10);
	assert_int_equal(block_pool_in_use(pool), 0);
	assert_int_equal(block_pool_exhausted(pool), 0);
	block_pool_free(pool);
}

static void test_get_hands_out_every_block_once_then_none_and_counts_it(void **state)
{
	struct block_pool *pool = block_pool_create(64, 8);
	uint32_t seen[8];

	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		seen[i] = block_pool_get(pool);
		assert_true(seen[i] < 8);
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(seen[i], seen[j]);
		assert_int_equal(block_pool_in_use(pool), i + 1);
	}
	assert_int_equal(block_pool_get(pool), BLOCK_POOL_NONE);
	assert_int_equal(block_pool_get(pool), BLOCK_POOL_NONE);
	assert_int_equal(block_pool_exhausted(pool), 2);
	for (unsigned i = 0; i < 8; i++)
		block_pool_put(pool, seen[i]);
	assert_int_equal(block_pool_in_use(pool), 0);
	block_pool_free(pool);
}

static void test_put_block_is_handed_out_again(void **state)
{
	struct block_pool *pool = block_pool_create(64, 1);
	uint32_t a, b;

	(void)state;
	a = block_pool_get(pool);
	assert_int_equal(block_pool_get(pool), BLOCK_POOL_NONE);
	block_pool_put(pool, a);
	assert_int_equal(block_pool_in_use(pool), 0);
	b = block_pool_get(pool);
	assert_int_equal(b, a);
	block_pool_put(pool, b);
	block_pool_free(pool);
}

static void test_put_none_does_nothing(void **state)
{
	struct block_pool *pool = block_pool_create(64, 2);
	uint32_t a = block_pool_get(pool);

	(void)state;
	block_pool_put(pool, BLOCK_POOL_NONE);
	assert_int_equal(block_pool_in_use(pool), 1);
	block_pool_put(pool, a);
	assert_int_equal(block_pool_in_use(pool), 0);
	block_pool_free(pool);
}

static void test_blocks_do_not_overlap_and_are_aligned(void **state)
{
	enum { SIZE = 256, COUNT = 16 };
	struct block_pool *pool = block_pool_create(SIZE, COUNT);
	uint32_t blocks[COUNT];

	(void)state;
	for (unsigned i = 0; i < COUNT; i++) {
		blocks[i] = block_pool_get(pool);
		assert_int_equal((uintptr_t)block_pool_data(pool, blocks[i]) % 64, 0);
		memset(block_pool_data(pool, blocks[i]), (int)i, SIZE);
	}
	for (unsigned i = 0; i < COUNT; i++) {
		const uint8_t *p = block_pool_data(pool, blocks[i]);

		for (unsigned k = 0; k < SIZE; k++)
			assert_int_equal(p[k], i);
		block_pool_put(pool, blocks[i]);
	}
	assert_int_equal(block_pool_in_use(pool), 0);
	block_pool_free(pool);
}

static void test_free_of_null_is_a_no_op(void **state)
{
	(void)state;
	block_pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_rejects_sizes_and_counts_outside_the_limits),
	    cmocka_unit_test(test_new_pool_reports_its_geometry_and_nothing_in_use),
	    cmocka_unit_test(test_get_hands_out_every_block_once_then_none_and_counts_it),
	    cmocka_unit_test(test_put_block_is_handed_out_again),
	    cmocka_unit_test(test_put_none_does_nothing),
	    cmocka_unit_test(test_blocks_do_not_overlap_and_are_aligned),
	    cmocka_unit_test(test_free_of_null_is_a_no_op),
	};

	return cmocka_run_group_tests_name("block_pool", tests, NULL, NULL);
}
