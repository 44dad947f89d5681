#include "tcp/block_pool.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>

struct block_pool {
	uint8_t *data;
	uint32_t *free_list; /* free block indices; the top is free_list[n_free - 1] */
	uint8_t *used;       /* one byte per block: catches a double put */
	uint32_t block_size;
	uint32_t count;
	uint32_t n_free;
	uint64_t exhausted;
};

struct block_pool *block_pool_create(uint32_t block_size, uint32_t count)
{
	struct block_pool *pool;
	size_t bytes = (size_t)block_size * count;
	void *data = NULL;

	if (block_size < BLOCK_POOL_MIN_BLOCK_SIZE || block_size > BLOCK_POOL_MAX_BLOCK_SIZE ||
	    count == 0 || count > BLOCK_POOL_MAX_COUNT)
		return NULL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	if (posix_memalign(&data, 64, bytes) != 0)
		data = NULL;
	pool->data = data;
	pool->free_list = malloc((size_t)count * sizeof(*pool->free_list));
	pool->used = calloc(count, 1);
	if (!pool->data || !pool->free_list || !pool->used) {
		block_pool_free(pool);
		return NULL;
	}
	pool->block_size = block_size;
	pool->count = count;
	/* Hand out low indices first: a lightly used pool touches few pages. */
	for (uint32_t i = 0; i < count; i++)
		pool->free_list[i] = count - 1 - i;
	pool->n_free = count;
	return pool;
}

void block_pool_free(struct block_pool *pool)
{
	if (!pool)
		return;
	free(pool->data);
	free(pool->free_list);
	free(pool->used);
	free(pool);
}

uint32_t block_pool_get(struct block_pool *pool)
{
	uint32_t block;

	if (pool->n_free == 0) {
		pool->exhausted++;
		return BLOCK_POOL_NONE;
	}
	block = pool->free_list[--pool->n_free];
	pool->used[block] = 1;
	return block;
}

void block_pool_put(struct block_pool *pool, uint32_t block)
{
	bool ok;

	if (block == BLOCK_POOL_NONE)
		return;
	ok = block < pool->count && pool->used[block];
	assert(ok && "block_pool_put: block out of range or already free");
	if (!ok)
		return;
	pool->used[block] = 0;
	pool->free_list[pool->n_free++] = block;
}

uint8_t *block_pool_data(struct block_pool *pool, uint32_t block)
{
	assert(block < pool->count && pool->used[block]);
	return pool->data + (size_t)block * pool->block_size;
}

uint32_t block_pool_block_size(const struct block_pool *pool)
{
	return pool->block_size;
}

uint32_t block_pool_capacity(const struct block_pool *pool)
{
	return pool->count;
}

uint32_t block_pool_in_use(const struct block_pool *pool)
{
	return pool->count - pool->n_free;
}

uint64_t block_pool_exhausted(const struct block_pool *pool)
{
	return pool->exhausted;
}
