/*
 * block_pool: fixed-size byte blocks for one worker, allocated once.
 *
 * Owns all the memory its blocks live in: block_pool_create() allocates
 * count blocks of block_size bytes and a free list of their indices, and
 * nothing is allocated afterwards. Blocks are named by a uint32_t index so
 * that per-flow state stays small; BLOCK_POOL_NONE names no block.
 * Single-threaded: one pool per worker, used only by that worker. Exhaustion
 * is not an error: block_pool_get() returns BLOCK_POOL_NONE, counts it, and
 * the caller fails open (reliability rule 10). Shared by stream (held and
 * out-of-order bytes) and the SMTP line buffer.
 */
#ifndef HG_BLOCK_POOL_H
#define HG_BLOCK_POOL_H

#include <stdint.h>

#define BLOCK_POOL_NONE UINT32_MAX

/* Limits accepted by block_pool_create(). */
#define BLOCK_POOL_MIN_BLOCK_SIZE 64u
#define BLOCK_POOL_MAX_BLOCK_SIZE (1u << 20)
#define BLOCK_POOL_MAX_COUNT (1u << 28)

struct block_pool;

/* A pool of count blocks of block_size bytes each, every block free. Block
 * data is 64-byte aligned when block_size is a multiple of 64. NULL when
 * block_size or count is outside the limits above, or memory is short. */
struct block_pool *block_pool_create(uint32_t block_size, uint32_t count);

/* Free the pool and all its blocks (blocks still in use included). NULL: no-op. */
void block_pool_free(struct block_pool *pool);

/* Take a free block: its index, or BLOCK_POOL_NONE when every block is in
 * use (counted in block_pool_exhausted()). The block's bytes are whatever
 * its last user left there. */
uint32_t block_pool_get(struct block_pool *pool);

/* Give a block back. Putting BLOCK_POOL_NONE does nothing. Putting an index
 * out of range or a block that is already free is a caller bug: it asserts
 * in debug builds and is ignored otherwise (the free list stays sound). */
void block_pool_put(struct block_pool *pool, uint32_t block);

/* The block_size bytes of a block in use. block must come from
 * block_pool_get() and not have been put back. */
uint8_t *block_pool_data(struct block_pool *pool, uint32_t block);

uint32_t block_pool_block_size(const struct block_pool *pool);

/* Blocks in the pool (the count given at creation). */
uint32_t block_pool_capacity(const struct block_pool *pool);

/* Blocks taken and not yet put back. */
uint32_t block_pool_in_use(const struct block_pool *pool);

/* How many block_pool_get() calls found the pool empty, since creation. */
uint64_t block_pool_exhausted(const struct block_pool *pool);

#endif
