#include "flow_table.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Layout: an index of 64-byte buckets, each holding 8 (signature, index)
 * slots, sized to 2 slots per flow so buckets stay about half full; records,
 * keys and timer links in three parallel arrays indexed by flow index. A
 * lookup reads one bucket line (usually), one key line and, for the caller,
 * one record line.
 *
 * Collisions go to the following buckets (linear probing by bucket). Each
 * bucket counts the entries that passed it because it was full, so a lookup
 * stops at the first bucket nobody passed, and removals keep that exact.
 */
#define SLOTS 8
#define NO_INDEX UINT32_MAX
#define NO_SLOT UINT32_MAX
#define WHEEL_SLOTS 1024u
#define WHEEL_TICK_MS 512u /* 1024 x 512 ms: a 524 s horizon covers the 360 s idle timer */

struct bucket {
	uint16_t sig[SLOTS];
	uint32_t idx[SLOTS]; /* flow index + 1; 0 = empty */
	uint32_t passed;     /* entries stored beyond this bucket that probed through it */
	uint8_t pad[12];
};

struct timer_link {
	uint64_t expire_ms;
	uint32_t prev, next; /* NO_INDEX-terminated list of a wheel slot */
	uint32_t slot;       /* NO_SLOT: not on the wheel */
};

struct flow_table {
	uint32_t capacity;
	uint32_t record_size;
	uint32_t bucket_mask;
	uint32_t count;
	uint32_t fresh;     /* indices never used yet: [fresh, capacity) */
	uint32_t free_top;  /* recycled indices on free_stack */
	uint64_t cursor_tick;
	bool cursor_set;
	struct bucket *buckets;
	uint8_t *records;
	struct flow_key *keys;
	struct timer_link *links;
	uint32_t *free_stack;
	uint32_t wheel[WHEEL_SLOTS]; /* head index per slot */
	size_t bytes;
};

uint32_t flow_key_hash(const struct flow_key *key)
{
	uint64_t w[5];
	uint64_t h = 0x243f6a8885a308d3ull;

	memcpy(w, key, sizeof(w));
	for (int i = 0; i < 5; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h >> 32);
}

static void *alloc_zero(size_t bytes, size_t *total)
{
	/* calloc of large sizes maps fresh zero pages lazily: creating a 1M
	 * table costs no page faults until flows arrive. */
	void *p = calloc(1, bytes + 64);
	*total += bytes + 64;
	return p;
}

static void *align64(void *p)
{
	return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* The raw pointers for free(), kept just after the struct. */
struct flow_table_alloc {
	struct flow_table t;
	void *raw[5];
};

struct flow_table *flow_table_create(uint32_t capacity, uint32_t record_size, char *err,
				     size_t err_size)
{
	if (capacity < 1 || capacity > (1u << 28) || record_size < 1 || record_size > 65536) {
		snprintf(err, err_size, "flow table: capacity %u or record size %u out of range",
			 capacity, record_size);
		return NULL;
	}
	struct flow_table_alloc *a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto oom;
	struct flow_table *t = &a->t;
	uint64_t n_buckets = 1;
	while (n_buckets * SLOTS < (uint64_t)capacity * 2)
		n_buckets <<= 1;
	t->capacity = capacity;
	t->record_size = (record_size + 63u) & ~63u;
	t->bucket_mask = (uint32_t)(n_buckets - 1);
	t->bytes = sizeof(*a);
	a->raw[0] = alloc_zero(n_buckets * sizeof(struct bucket), &t->bytes);
	a->raw[1] = alloc_zero((size_t)capacity * t->record_size, &t->bytes);
	a->raw[2] = alloc_zero((size_t)capacity * sizeof(struct flow_key), &t->bytes);
	a->raw[3] = alloc_zero((size_t)capacity * sizeof(struct timer_link), &t->bytes);
	a->raw[4] = alloc_zero((size_t)capacity * sizeof(uint32_t), &t->bytes);
	for (int i = 0; i < 5; i++)
		if (a->raw[i] == NULL) {
			flow_table_free(t);
			goto oom;
		}
	t->buckets = align64(a->raw[0]);
	t->records = align64(a->raw[1]);
	t->keys = a->raw[2];
	t->links = a->raw[3];
	t->free_stack = a->raw[4];
	for (uint32_t i = 0; i < WHEEL_SLOTS; i++)
		t->wheel[i] = NO_INDEX;
	return t;
oom:
	snprintf(err, err_size, "flow table: cannot allocate %u flows of %u bytes", capacity,
		 record_size);
	return NULL;
}

void flow_table_free(struct flow_table *t)
{
	if (t == NULL)
		return;
	struct flow_table_alloc *a = (struct flow_table_alloc *)t;
	for (int i = 0; i < 5; i++)
		free(a->raw[i]);
	free(a);
}

static inline uint16_t sig_of(uint32_t hash)
{
	return (uint16_t)(hash >> 16);
}

static int32_t find_in_bucket(const struct flow_table *t, const struct bucket *b,
			      const struct flow_key *key, uint16_t sig)
{
	for (int s = 0; s < SLOTS; s++) {
		if (b->sig[s] != sig || b->idx[s] == 0)
			continue;
		uint32_t idx = b->idx[s] - 1;
		if (memcmp(&t->keys[idx], key, sizeof(*key)) == 0)
			return (int32_t)idx;
	}
	return -1;
}

int32_t flow_table_lookup(struct flow_table *t, const struct flow_key *key, uint32_t hash)
{
	uint32_t b = hash & t->bucket_mask;
	uint16_t sig = sig_of(hash);

	for (uint32_t probes = 0; probes <= t->bucket_mask; probes++) {
		const struct bucket *bk = &t->buckets[b];
		int32_t idx = find_in_bucket(t, bk, key, sig);
		if (idx >= 0)
			return idx;
		if (bk->passed == 0)
			return -1;
		b = (b + 1) & t->bucket_mask;
	}
	return -1;
}

void flow_table_prefetch(const struct flow_table *t, uint32_t hash)
{
	__builtin_prefetch(&t->buckets[hash & t->bucket_mask], 0, 3);
}

void flow_table_lookup_bulk(struct flow_table *t, const struct flow_key *const *keys,
			    const uint32_t *hashes, unsigned n, int32_t *out)
{
	/* Prefetch every bucket first, then each candidate key, then compare:
	 * the misses overlap instead of queueing one after another. */
	for (unsigned i = 0; i < n; i++)
		flow_table_prefetch(t, hashes[i]);
	for (unsigned i = 0; i < n; i++) {
		const struct bucket *bk = &t->buckets[hashes[i] & t->bucket_mask];
		uint16_t sig = sig_of(hashes[i]);
		for (int s = 0; s < SLOTS; s++)
			if (bk->sig[s] == sig && bk->idx[s] != 0)
				__builtin_prefetch(&t->keys[bk->idx[s] - 1], 0, 3);
	}
	for (unsigned i = 0; i < n; i++)
		out[i] = flow_table_lookup(t, keys[i], hashes[i]);
}

int32_t flow_table_insert(struct flow_table *t, const struct flow_key *key, uint32_t hash)
{
	uint32_t idx;

	if (t->free_top > 0)
		idx = t->free_stack[--t->free_top];
	else if (t->fresh < t->capacity)
		idx = t->fresh++;
	else
		return -1;
	/* There are twice as many slots as flows, so a free slot exists. */
	uint32_t b = hash & t->bucket_mask;
	for (;;) {
		struct bucket *bk = &t->buckets[b];
		for (int s = 0; s < SLOTS; s++) {
			if (bk->idx[s] == 0) {
				bk->sig[s] = sig_of(hash);
				bk->idx[s] = idx + 1;
				goto placed;
			}
		}
		bk->passed++;
		b = (b + 1) & t->bucket_mask;
	}
placed:
	t->keys[idx] = *key;
	memset(t->records + (size_t)idx * t->record_size, 0, t->record_size);
	t->links[idx].slot = NO_SLOT;
	__atomic_store_n(&t->count, t->count + 1, __ATOMIC_RELAXED);
	return (int32_t)idx;
}

static void timer_unlink(struct flow_table *t, uint32_t idx)
{
	struct timer_link *l = &t->links[idx];

	if (l->slot == NO_SLOT)
		return;
	if (l->prev != NO_INDEX)
		t->links[l->prev].next = l->next;
	else
		t->wheel[l->slot] = l->next;
	if (l->next != NO_INDEX)
		t->links[l->next].prev = l->prev;
	l->slot = NO_SLOT;
}

static uint64_t tick_of(uint64_t ms)
{
	return ms / WHEEL_TICK_MS;
}

/* Link idx into the slot of its deadline, clamped to the wheel's horizon
 * (a clamped entry is re-slotted when that slot comes due). */
static void timer_link(struct flow_table *t, uint32_t idx)
{
	struct timer_link *l = &t->links[idx];
	uint64_t tick = tick_of(l->expire_ms);

	if (!t->cursor_set) {
		t->cursor_tick = tick;
		t->cursor_set = true;
	}
	if (tick < t->cursor_tick)
		tick = t->cursor_tick;
	if (tick >= t->cursor_tick + WHEEL_SLOTS)
		tick = t->cursor_tick + WHEEL_SLOTS - 1;
	uint32_t slot = (uint32_t)(tick % WHEEL_SLOTS);
	l->slot = slot;
	l->prev = NO_INDEX;
	l->next = t->wheel[slot];
	if (l->next != NO_INDEX)
		t->links[l->next].prev = idx;
	t->wheel[slot] = idx;
}

void flow_table_set_expiry(struct flow_table *t, int32_t idx, uint64_t expire_ms)
{
	struct timer_link *l = &t->links[idx];

	if (l->slot != NO_SLOT && expire_ms >= l->expire_ms) {
		l->expire_ms = expire_ms; /* lazy: re-slotted when its slot comes due */
		return;
	}
	timer_unlink(t, (uint32_t)idx);
	l->expire_ms = expire_ms;
	timer_link(t, (uint32_t)idx);
}

void flow_table_remove(struct flow_table *t, int32_t idx)
{
	const struct flow_key *key = &t->keys[idx];
	uint32_t hash = flow_key_hash(key);
	uint32_t home = hash & t->bucket_mask, b = home;

	timer_unlink(t, (uint32_t)idx);
	for (;;) {
		struct bucket *bk = &t->buckets[b];
		for (int s = 0; s < SLOTS; s++) {
			if (bk->idx[s] == (uint32_t)idx + 1) {
				bk->idx[s] = 0;
				/* Undo the passes the insert recorded on the way. */
				for (uint32_t p = home; p != b; p = (p + 1) & t->bucket_mask)
					t->buckets[p].passed--;
				goto removed;
			}
		}
		b = (b + 1) & t->bucket_mask;
	}
removed:
	t->free_stack[t->free_top++] = (uint32_t)idx;
	__atomic_store_n(&t->count, t->count - 1, __ATOMIC_RELAXED);
}

unsigned flow_table_expire(struct flow_table *t, uint64_t now_ms, unsigned max,
			   flow_expire_fn *on_expire, void *arg)
{
	unsigned removed = 0, visited = 0;
	uint64_t target = tick_of(now_ms);

	if (!t->cursor_set)
		return 0;
	while (t->cursor_tick <= target && removed < max && visited < 2 * max) {
		uint32_t slot = (uint32_t)(t->cursor_tick % WHEEL_SLOTS);
		uint32_t idx = t->wheel[slot];
		bool slot_done = true;
		/* Detach the slot's list, then expire or re-slot each entry, so
		 * that entries re-linked into this same slot are not revisited. */
		t->wheel[slot] = NO_INDEX;
		while (idx != NO_INDEX) {
			struct timer_link *l = &t->links[idx];
			uint32_t next = l->next;
			if (removed >= max || visited >= 2 * max) {
				/* Out of budget: put the rest back for the next call. */
				l->prev = NO_INDEX;
				uint32_t last = idx;
				while (t->links[last].next != NO_INDEX)
					last = t->links[last].next;
				t->links[last].next = t->wheel[slot];
				if (t->wheel[slot] != NO_INDEX)
					t->links[t->wheel[slot]].prev = last;
				t->wheel[slot] = idx;
				slot_done = false;
				break;
			}
			visited++;
			l->slot = NO_SLOT;
			if (l->expire_ms <= now_ms) {
				removed++;
				bool keep = on_expire != NULL &&
					    on_expire(arg, (int32_t)idx,
						      t->records + (size_t)idx * t->record_size);
				if (!keep)
					flow_table_remove(t, (int32_t)idx);
				else if (l->slot == NO_SLOT)
					timer_link(t, idx); /* kept without a new deadline: it is due again */
				if (keep && tick_of(l->expire_ms) <= t->cursor_tick)
					slot_done = false;
			} else {
				timer_link(t, idx);
				if (tick_of(l->expire_ms) <= t->cursor_tick)
					slot_done = false; /* due later in this very tick */
			}
			idx = next;
		}
		if (!slot_done || t->cursor_tick == target)
			break;
		t->cursor_tick++;
	}
	return removed;
}

void *flow_table_record(struct flow_table *t, int32_t idx)
{
	return t->records + (size_t)idx * t->record_size;
}

const struct flow_key *flow_table_key(const struct flow_table *t, int32_t idx)
{
	return &t->keys[idx];
}

uint32_t flow_table_count(const struct flow_table *t)
{
	return __atomic_load_n(&t->count, __ATOMIC_RELAXED);
}

uint32_t flow_table_capacity(const struct flow_table *t)
{
	return t->capacity;
}

size_t flow_table_memory_bytes(const struct flow_table *t)
{
	return t->bytes;
}
