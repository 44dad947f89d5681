/*
 * flow_table: one worker's table of tracked TCP sessions.
 *
 * Keys are oriented 5-tuples (the worker already knows which side is the
 * client); values are fixed-size records whose layout belongs to the caller.
 * All memory is allocated by flow_table_create() and never after: lookups,
 * inserts, removals and timers never allocate. When every record is in use,
 * an insert fails and the caller lets the new session through untracked
 * (fail open); live flows are never evicted.
 *
 * Single-threaded: owned and used by exactly one worker. Nothing else may
 * touch it while that worker runs (counts may be read, see flow_table_count).
 *
 * Timers: each flow has one deadline in milliseconds on the worker's clock.
 * flow_table_set_expiry() is O(1) and cheap enough for every packet (a later
 * deadline is stored lazily and re-slotted only when its old slot comes
 * due); flow_table_expire() does bounded work per call.
 */
#ifndef HG_FLOW_TABLE_H
#define HG_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An oriented session key; compared byte for byte, so pad must be zero and
 * IPv4 addresses use the first 4 bytes with the rest zero. */
struct flow_key {
	uint8_t family; /* 4 or 6 */
	uint8_t pad[3];
	uint16_t client_port, server_port; /* host order */
	uint8_t client[16], server[16];
};

struct flow_table;

/* The key's 32-bit hash (a multiply-xorshift mix over its 40 bytes). */
uint32_t flow_key_hash(const struct flow_key *key);

/* A table of capacity flows with records of record_size bytes (rounded up
 * to a multiple of 64, records are cache-line aligned). NULL with a
 * one-line message in err when memory is short or sizes are out of range. */
struct flow_table *flow_table_create(uint32_t capacity, uint32_t record_size, char *err,
				     size_t err_size);
void flow_table_free(struct flow_table *t);

/* The record index of key, or -1. hash must be flow_key_hash(key). */
int32_t flow_table_lookup(struct flow_table *t, const struct flow_key *key, uint32_t hash);

/* Prefetch what a lookup of hash will read first (its home bucket). */
void flow_table_prefetch(const struct flow_table *t, uint32_t hash);

/* n lookups at once, with the buckets prefetched ahead: out[i] is the index
 * of keys[i] or -1. */
void flow_table_lookup_bulk(struct flow_table *t, const struct flow_key *const *keys,
			    const uint32_t *hashes, unsigned n, int32_t *out);

/* Add key (which must not be present). Returns its index, with a zeroed
 * record and no deadline, or -1 when the table is full. */
int32_t flow_table_insert(struct flow_table *t, const struct flow_key *key, uint32_t hash);

/* Remove the flow at idx (its timer too). */
void flow_table_remove(struct flow_table *t, int32_t idx);

void *flow_table_record(struct flow_table *t, int32_t idx);
const struct flow_key *flow_table_key(const struct flow_table *t, int32_t idx);

/* Set the flow's deadline (an earlier one than before is honoured too). */
void flow_table_set_expiry(struct flow_table *t, int32_t idx, uint64_t expire_ms);

/* For each flow whose deadline is <= now_ms (up to max of them), call
 * on_expire (may be NULL): it returns true to keep the flow, after setting
 * a new deadline with flow_table_set_expiry() (a timer of its own, such as
 * a retransmission), or false to have it removed. Returns how many flows
 * were due. The work per call is bounded by about 2 * max entries visited. */
typedef bool flow_expire_fn(void *arg, int32_t idx, void *record);
unsigned flow_table_expire(struct flow_table *t, uint64_t now_ms, unsigned max,
			   flow_expire_fn *on_expire, void *arg);

/* Flows in the table. Readable from another thread (relaxed, may lag). */
uint32_t flow_table_count(const struct flow_table *t);
uint32_t flow_table_capacity(const struct flow_table *t);

/* Bytes allocated for the table, all included. */
size_t flow_table_memory_bytes(const struct flow_table *t);

#endif
