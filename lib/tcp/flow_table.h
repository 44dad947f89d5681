/*
 * flow_table: one worker's table of tracked TCP sessions.
 *
 * Owns: keys (oriented 5-tuples; the worker already knows which side is the
 * client), one fixed-size record per flow whose layout belongs to the caller,
 * and one deadline per flow. Never looks inside a record.
 *
 * Never allocates after flow_table_create(): lookups, inserts, removals and
 * timers only use the memory reserved there. When every record is in use an
 * insert returns -1 and the caller lets the session through untracked (fail
 * open); live flows are never evicted to make room.
 *
 * Single-threaded: owned and used by exactly one worker thread; nothing else
 * may call into it while that worker runs, except flow_table_count().
 *
 * Timers: each flow has at most one deadline, in milliseconds on the
 * worker's clock (any monotonic origin). flow_table_set_expiry() is cheap
 * enough for every packet: a later deadline is one store, the entry is moved
 * only when its old slot comes due. flow_table_expire() does bounded work per
 * call and hands a flow to its callback at the first call whose now_ms has
 * reached the deadline rounded up to a multiple of FLOW_TABLE_TICK_MS: never
 * early, at most one tick late.
 */
#ifndef HG_FLOW_TABLE_H
#define HG_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Timer resolution and horizon: 65536 slots of 16 ms (1048 s). Deadlines
 * farther away are kept too; they are re-slotted once per horizon. */
#define FLOW_TABLE_TICK_MS 16u
#define FLOW_TABLE_WHEEL_SLOTS 65536u

/* Limits accepted by flow_table_create(). */
#define FLOW_TABLE_CAPACITY_MAX (1u << 28)
#define FLOW_TABLE_RECORD_MAX 65536u

/* An oriented session key, compared byte for byte: pad must be zero, and an
 * IPv4 address fills the first 4 bytes of its array with the rest zero. */
struct flow_key {
	uint8_t family; /* 4 or 6 */
	uint8_t pad[3];
	uint16_t client_port, server_port; /* host order */
	uint8_t client[16], server[16];
};

struct flow_table;

/* The key's 32-bit hash: a multiply-fold mix of its 40 bytes with a secret
 * seed drawn once per process, so that remote clients cannot choose tuples
 * that collide (the same key hashes the same in every thread of a process,
 * differently in the next process). Thread-safe. */
uint32_t flow_key_hash(const struct flow_key *key);

/* A table for capacity flows (1 .. FLOW_TABLE_CAPACITY_MAX) with records of
 * record_size bytes (1 .. FLOW_TABLE_RECORD_MAX). Records are 64-byte
 * aligned: the size is rounded up to a multiple of 64. All memory is
 * reserved here (zero pages, mapped by the kernel on first touch). NULL
 * with a one-line message in err when a size is out of range or memory is
 * short. */
struct flow_table *flow_table_create(uint32_t capacity, uint32_t record_size, char *err,
                                     size_t err_size);

/* Releases everything; t may be NULL. */
void flow_table_free(struct flow_table *t);

/* The index of key's flow, or -1. hash must be flow_key_hash(key). Reads
 * one 64-byte bucket and, on a 16-bit signature match, one key line. */
int32_t flow_table_lookup(struct flow_table *t, const struct flow_key *key, uint32_t hash);

/* n lookups at once: out[i] is flow_table_lookup(t, keys[i], hashes[i]).
 * Groups of 32 go stage by stage: all buckets prefetched, then all
 * candidate keys, then the compares, so the misses overlap. */
void flow_table_lookup_bulk(struct flow_table *t, const struct flow_key *const *keys,
                            const uint32_t *hashes, unsigned n, int32_t *out);

/* A number that moves on every insert and removal (timers' included): a
 * lookup's answer stays true while it has not moved, so a group's lookups
 * can be done in bulk ahead of the segments that use them. */
uint32_t flow_table_changes(const struct flow_table *t);

/* Add key, which must not be in the table (look it up first). Returns its
 * index, with a zeroed record and no deadline (it never expires until
 * flow_table_set_expiry()), or -1 when count == capacity. Succeeds whenever
 * count < capacity: the index has twice as many slots as flows. */
int32_t flow_table_insert(struct flow_table *t, const struct flow_key *key, uint32_t hash);

/* Remove the flow at idx with its timer; the index may be reused by the
 * next insert. Removing an index that is not in use does nothing. */
void flow_table_remove(struct flow_table *t, int32_t idx);

/* The record and key of a flow in use; valid until it is removed. */
void *flow_table_record(struct flow_table *t, int32_t idx);
const struct flow_key *flow_table_key(const struct flow_table *t, int32_t idx);

/* Give the flow the deadline expire_ms, replacing the previous one, earlier
 * or later. A later deadline is a single store (the entry stays where it is
 * until that slot comes due and is then moved); an earlier one relinks the
 * entry at once. A deadline already past is due at the next tick. */
void flow_table_set_expiry(struct flow_table *t, int32_t idx, uint64_t expire_ms);

/* The flow's current deadline (UINT64_MAX when it has none). */
uint64_t flow_table_expiry(const struct flow_table *t, int32_t idx);

/* True when idx names a flow in the table (any index may be asked). */
bool flow_table_in_use(const struct flow_table *t, int32_t idx);

/* Called for each due flow. Return false to have the flow removed (the
 * callback must not remove it itself), or true to keep it: then it should
 * have set a new deadline with flow_table_set_expiry() (a timer of its own,
 * such as a retransmission); kept without one it is due again a tick later.
 * It may insert, remove and re-arm other flows. */
typedef bool flow_expire_fn(void *arg, int32_t idx, void *record);

/* Hand each flow that is due at now_ms to on_expire (NULL: remove them all),
 * oldest tick first. Returns how many were due, at most max. Bounded work:
 * at most 2 * max entries are visited (due ones and ones whose deadline was
 * postponed and are moved on) and empty slots are skipped 64 at a time (at
 * most 1024 reads, after any pause), so a backlog after a pause or a clock
 * jump is spread over calls, and a call may return 0 while due flows remain
 * (call it every loop). now_ms going backwards is harmless: nothing is due. */
unsigned flow_table_expire(struct flow_table *t, uint64_t now_ms, unsigned max,
                           flow_expire_fn *on_expire, void *arg);

/* Flows in the table. The only call another thread may make (a relaxed
 * read: it may lag the worker by a few updates). */
uint32_t flow_table_count(const struct flow_table *t);
uint32_t flow_table_capacity(const struct flow_table *t);

/* Bytes reserved for the table, all included. Resident memory grows to this
 * as flows arrive. */
size_t flow_table_memory_bytes(const struct flow_table *t);

/* Work counters since create, for telemetry and tests. */
struct flow_table_stats {
	uint64_t timer_visits;  /* entries examined by flow_table_expire() */
	uint64_t timer_reslots; /* of those, moved to a later slot (postponed) */
	uint64_t expired;       /* of those, handed to on_expire */
	uint64_t probes;        /* buckets read beyond the first by lookups and inserts */
};
void flow_table_stats(const struct flow_table *t, struct flow_table_stats *out);

#endif
