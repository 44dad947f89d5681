/* Unit tests for lib/tcp/syn_queue: oldest first, bounded, stale entries
 * left to the caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp/syn_queue.h"

static void test_pops_oldest_first(void **state)
{
	struct syn_queue q;
	int32_t idx;
	uint32_t isn;
	(void)state;

	assert_int_equal(syn_queue_init(&q, 4), 0);
	assert_false(syn_queue_pop(&q, &idx, &isn));
	for (int32_t i = 0; i < 3; i++)
		syn_queue_push(&q, i, 100u + (uint32_t)i);
	for (int32_t i = 0; i < 3; i++) {
		assert_true(syn_queue_pop(&q, &idx, &isn));
		assert_int_equal(idx, i);
		assert_int_equal(isn, 100u + (uint32_t)i);
	}
	assert_false(syn_queue_pop(&q, &idx, &isn));
	syn_queue_free(&q);
}

static void test_full_ring_forgets_the_oldest(void **state)
{
	struct syn_queue q;
	int32_t idx;
	uint32_t isn;
	(void)state;

	assert_int_equal(syn_queue_init(&q, 3), 0); /* rounded up to 4 */
	for (int32_t i = 0; i < 10; i++)
		syn_queue_push(&q, i, (uint32_t)i);
	for (int32_t want = 6; want < 10; want++) {
		assert_true(syn_queue_pop(&q, &idx, &isn));
		assert_int_equal(idx, want);
	}
	assert_false(syn_queue_pop(&q, &idx, &isn));
	syn_queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pops_oldest_first),
	    cmocka_unit_test(test_full_ring_forgets_the_oldest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
