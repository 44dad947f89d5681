#include "tcp/flow_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * Layout (docs/design.md, "Flow table"):
 *   buckets  64-byte lines of 8 (16-bit signature, 32-bit index + 1) slots,
 *            two slots per flow; collisions probe the following buckets.
 *   entries  one stride per flow: a 64-byte header (key, deadline, timer
 *            links, hash, bucket position) then the caller's record. A lookup
 *            reads the bucket and the header, and set_expiry writes the
 *            header the lookup just read.
 *   wheel    one list head per 16 ms slot, plus one for the slot in progress,
 *            and a bit per slot saying it is not empty.
 */
#define SLOTS 8
#define NO_INDEX UINT32_MAX
/* entry.prev: the previous entry, HEAD | list for a list's first entry, or: */
#define HEAD 0x80000000u
#define IDLE 0xffffffffu /* in use, no deadline */
#define FREE 0xfffffffeu /* on the free list */
#define TICK_SHIFT 4     /* FLOW_TABLE_TICK_MS == 1 << TICK_SHIFT */
#define WHEEL_MASK (FLOW_TABLE_WHEEL_SLOTS - 1)
#define PENDING FLOW_TABLE_WHEEL_SLOTS /* list of the slot being expired */
#define BULK_GROUP 32

_Static_assert(FLOW_TABLE_TICK_MS == 1u << TICK_SHIFT, "tick is a power of two");
_Static_assert((FLOW_TABLE_WHEEL_SLOTS & WHEEL_MASK) == 0, "wheel size is a power of two");
_Static_assert(sizeof(struct flow_key) == 40, "flow_key is 40 bytes");

struct bucket {
	uint16_t sig[SLOTS]; /* 0: empty */
	uint32_t idx[SLOTS]; /* flow index + 1 */
	uint32_t passed;     /* entries stored beyond this bucket that probed through it */
	uint8_t pad[12];
};
_Static_assert(sizeof(struct bucket) == 64, "a bucket is one cache line");

struct entry {
	struct flow_key key;
	uint64_t expire_ms; /* UINT64_MAX: none */
	uint32_t prev;      /* see HEAD, IDLE, FREE */
	uint32_t next;      /* timer list, or free list when FREE */
	uint32_t hash;
	uint32_t pos; /* bucket * SLOTS + slot */
};
_Static_assert(sizeof(struct entry) == 64, "an entry header is one cache line");

struct flow_table {
	uint8_t *entries;
	struct bucket *buckets;
	uint32_t n_buckets;
	uint32_t capacity;
	size_t stride;
	uint32_t count;
	uint32_t changes;   /* inserts and removals: flow_table_changes() */
	uint32_t fresh;     /* entries never used: [fresh, capacity) */
	uint32_t free_head; /* entries freed since, linked through next */
	uint64_t cursor;    /* next tick to expire: every earlier slot has been */
	size_t entries_len, buckets_len;
	struct flow_table_stats stats;
	uint64_t occupied[FLOW_TABLE_WHEEL_SLOTS / 64];
	uint32_t wheel[FLOW_TABLE_WHEEL_SLOTS + 1];
};

/* ---- hash -------------------------------------------------------------------------------- */

static uint64_t seed[6];

/* A 64x64 multiply folded to 64 bits: every input bit reaches the middle
 * output bits, and a secret offset on each factor keeps the products
 * unpredictable (a linear CRC would let clients build collisions). */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
	unsigned __int128 p = (unsigned __int128)a * b;
	return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Before main(), so that every worker thread reads a seed that never
 * changes. Without getrandom() the clock and ASLR still vary it. */
__attribute__((constructor)) static void seed_init(void)
{
	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&ts;
	for (int i = 0; i < 6; i++)
		seed[i] = splitmix(&s);
}

uint32_t flow_key_hash(const struct flow_key *key)
{
	uint64_t w[5];

	memcpy(w, key, sizeof(w));
	uint64_t a = mum(w[0] ^ seed[0], w[1] ^ seed[1]); /* ports, client (IPv4: all of it) */
	uint64_t b = mum(w[2] ^ seed[2], w[3] ^ seed[3]);
	uint64_t c = mum(w[4] ^ seed[4], seed[5] | 1);
	uint64_t h = mum(a ^ seed[5], b ^ c ^ seed[0]);
	return (uint32_t)(h ^ (h >> 32));
}

/* ---- memory ------------------------------------------------------------------------------ */

/* Anonymous memory is zero and mapped page by page on first touch, so
 * creating a table is instant and it costs resident memory only as flows
 * arrive. Not huge pages: a 2 MiB first-touch fault stalled one insert for
 * 3-9 ms (docs/design.md), longer than the worker's receive ring lasts. */
static void *map_zero(size_t bytes, size_t *len)
{
	size_t want = (bytes + 4095) & ~(size_t)4095;
	void *p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	*len = want;
	return p;
}

struct flow_table *flow_table_create(uint32_t capacity, uint32_t record_size, char *err,
                                     size_t err_size)
{
	if (capacity < 1 || capacity > FLOW_TABLE_CAPACITY_MAX || record_size < 1 ||
	    record_size > FLOW_TABLE_RECORD_MAX) {
		snprintf(err, err_size,
		         "flow table: capacity %u or record size %u out of range (1-%u, 1-%u)",
		         capacity, record_size, FLOW_TABLE_CAPACITY_MAX, FLOW_TABLE_RECORD_MAX);
		return NULL;
	}
	struct flow_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto oom;
	t->capacity = capacity;
	t->n_buckets = (capacity + SLOTS / 2 - 1) / (SLOTS / 2);
	t->stride = sizeof(struct entry) + ((record_size + 63u) & ~(size_t)63);
	t->free_head = NO_INDEX;
	t->buckets = map_zero((size_t)t->n_buckets * sizeof(struct bucket), &t->buckets_len);
	t->entries = map_zero((size_t)capacity * t->stride, &t->entries_len);
	if (t->buckets == NULL || t->entries == NULL) {
		flow_table_free(t);
		goto oom;
	}
	memset(t->wheel, 0xff, sizeof(t->wheel));
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
	if (t->buckets != NULL)
		munmap(t->buckets, t->buckets_len);
	if (t->entries != NULL)
		munmap(t->entries, t->entries_len);
	free(t);
}

/* ---- index ------------------------------------------------------------------------------- */

static inline struct entry *entry_at(const struct flow_table *t, uint32_t idx)
{
	return (struct entry *)(t->entries + (size_t)idx * t->stride);
}

/* The bucket from the high bits (a multiply maps the hash onto any bucket
 * count, so the index needs no power-of-two rounding), the signature from
 * all of them, never 0 (0 marks an empty slot). */
static inline uint32_t bucket_of(const struct flow_table *t, uint32_t hash)
{
	return (uint32_t)(((uint64_t)hash * t->n_buckets) >> 32);
}

static inline uint16_t sig_of(uint32_t hash)
{
	uint16_t s = (uint16_t)(hash ^ (hash >> 16));
	return s != 0 ? s : 1;
}

static inline uint32_t bucket_next(const struct flow_table *t, uint32_t b)
{
	return b + 1 == t->n_buckets ? 0 : b + 1;
}

/* Bit s set when slot s holds signature sig. */
static inline unsigned sig_match(const struct bucket *b, uint16_t sig)
{
#ifdef __SSE2__
	__m128i eq =
	    _mm_cmpeq_epi16(_mm_load_si128((const __m128i *)b->sig), _mm_set1_epi16((short)sig));
	return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128()));
#else
	unsigned m = 0;
	for (int s = 0; s < SLOTS; s++)
		m |= (unsigned)(b->sig[s] == sig) << s;
	return m;
#endif
}

static inline bool key_equal(const struct flow_key *a, const struct flow_key *b)
{
	uint64_t x[5], y[5], d = 0;

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	for (int i = 0; i < 5; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static inline int32_t bucket_find(const struct flow_table *t, const struct bucket *b,
                                  unsigned match, const struct flow_key *key)
{
	while (match != 0) {
		uint32_t idx = b->idx[__builtin_ctz(match)] - 1;
		if (key_equal(&entry_at(t, idx)->key, key))
			return (int32_t)idx;
		match &= match - 1;
	}
	return -1;
}

/* The probe past a full home bucket: rare at two slots per flow. */
static int32_t lookup_beyond(struct flow_table *t, const struct flow_key *key, uint32_t b,
                             uint16_t sig)
{
	for (uint32_t n = 1; n < t->n_buckets; n++) {
		b = bucket_next(t, b);
		t->stats.probes++;
		const struct bucket *bk = &t->buckets[b];
		int32_t idx = bucket_find(t, bk, sig_match(bk, sig), key);
		if (idx >= 0 || bk->passed == 0)
			return idx;
	}
	return -1;
}

int32_t flow_table_lookup(struct flow_table *t, const struct flow_key *key, uint32_t hash)
{
	uint32_t b = bucket_of(t, hash);
	uint16_t sig = sig_of(hash);
	const struct bucket *bk = &t->buckets[b];
	int32_t idx = bucket_find(t, bk, sig_match(bk, sig), key);

	if (idx >= 0 || bk->passed == 0)
		return idx;
	return lookup_beyond(t, key, b, sig);
}

static void lookup_group(struct flow_table *t, const struct flow_key *const *keys,
                         const uint32_t *hashes, unsigned n, int32_t *out)
{
	const struct bucket *bk[BULK_GROUP];
	unsigned match[BULK_GROUP];

	for (unsigned i = 0; i < n; i++) {
		bk[i] = &t->buckets[bucket_of(t, hashes[i])];
		__builtin_prefetch(bk[i], 0, 3);
	}
	for (unsigned i = 0; i < n; i++) {
		match[i] = sig_match(bk[i], sig_of(hashes[i]));
		if (match[i] != 0) {
			uint32_t first = bk[i]->idx[__builtin_ctz(match[i])] - 1;
			__builtin_prefetch(entry_at(t, first), 0, 3);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		out[i] = bucket_find(t, bk[i], match[i], keys[i]);
		if (out[i] < 0 && bk[i]->passed != 0)
			out[i] = lookup_beyond(t, keys[i], (uint32_t)(bk[i] - t->buckets),
			                       sig_of(hashes[i]));
	}
}

void flow_table_lookup_bulk(struct flow_table *t, const struct flow_key *const *keys,
                            const uint32_t *hashes, unsigned n, int32_t *out)
{
	/* Each stage runs over a whole group so that its misses overlap; 32
	 * beat 8, 16 and a rolling pipeline (docs/design.md). */
	for (unsigned i = 0; i < n; i += BULK_GROUP) {
		unsigned k = n - i < BULK_GROUP ? n - i : BULK_GROUP;
		lookup_group(t, keys + i, hashes + i, k, out + i);
	}
}

int32_t flow_table_insert(struct flow_table *t, const struct flow_key *key, uint32_t hash)
{
	uint32_t idx;

	if (t->free_head != NO_INDEX) {
		idx = t->free_head;
		t->free_head = entry_at(t, idx)->next;
	} else if (t->fresh < t->capacity) {
		idx = t->fresh++;
	} else {
		return -1;
	}
	/* Slots outnumber flows two to one, so the probe ends at a free slot. */
	uint32_t b = bucket_of(t, hash);
	unsigned empty;
	while ((empty = sig_match(&t->buckets[b], 0)) == 0) {
		t->buckets[b].passed++;
		b = bucket_next(t, b);
		t->stats.probes++;
	}
	unsigned s = (unsigned)__builtin_ctz(empty);
	t->buckets[b].sig[s] = sig_of(hash);
	t->buckets[b].idx[s] = idx + 1;

	struct entry *e = entry_at(t, idx);
	e->key = *key;
	e->expire_ms = UINT64_MAX;
	e->prev = IDLE;
	e->next = NO_INDEX;
	e->hash = hash;
	e->pos = b * SLOTS + s;
	memset(e + 1, 0, t->stride - sizeof(*e));
	__atomic_store_n(&t->count, t->count + 1, __ATOMIC_RELAXED);
	t->changes++;
	return (int32_t)idx;
}

/* ---- timers ------------------------------------------------------------------------------ */

/* Entries sit in the slot of their deadline's tick rounded up (the cursor's
 * if that has passed): when a slot is expired every entry in it is due,
 * unless its deadline was postponed since, or lies beyond the horizon and
 * wrapped around; those are moved on. */
static inline uint64_t tick_of(uint64_t ms)
{
	return ms >= UINT64_MAX - FLOW_TABLE_TICK_MS ? UINT64_MAX >> TICK_SHIFT
	                                             : (ms + FLOW_TABLE_TICK_MS - 1) >> TICK_SHIFT;
}

static void timer_link(struct flow_table *t, uint32_t idx, struct entry *e)
{
	uint64_t tick = tick_of(e->expire_ms);

	if (tick < t->cursor)
		tick = t->cursor;
	uint32_t slot = (uint32_t)(tick & WHEEL_MASK);
	uint32_t head = t->wheel[slot];
	e->prev = HEAD | slot;
	e->next = head;
	if (head != NO_INDEX)
		entry_at(t, head)->prev = idx;
	else
		t->occupied[slot / 64] |= 1ull << (slot % 64);
	t->wheel[slot] = idx;
}

static void timer_unlink(struct flow_table *t, struct entry *e)
{
	if (e->prev & HEAD) {
		uint32_t slot = e->prev & ~HEAD;
		t->wheel[slot] = e->next;
		if (e->next == NO_INDEX && slot != PENDING)
			t->occupied[slot / 64] &= ~(1ull << (slot % 64));
	} else
		entry_at(t, e->prev)->next = e->next;
	if (e->next != NO_INDEX)
		entry_at(t, e->next)->prev = e->prev;
	e->prev = IDLE;
}

static inline bool timer_linked(const struct entry *e)
{
	return e->prev != IDLE && e->prev != FREE;
}

void flow_table_set_expiry(struct flow_table *t, int32_t idx, uint64_t expire_ms)
{
	struct entry *e = entry_at(t, (uint32_t)idx);

	if (timer_linked(e)) {
		if (expire_ms >= e->expire_ms) {
			e->expire_ms = expire_ms; /* lazy: moved when its slot comes due */
			return;
		}
		timer_unlink(t, e);
	}
	e->expire_ms = expire_ms;
	timer_link(t, (uint32_t)idx, e);
}

bool flow_table_in_use(const struct flow_table *t, int32_t idx)
{
	return idx >= 0 && (uint32_t)idx < t->fresh && entry_at(t, (uint32_t)idx)->prev != FREE;
}

uint64_t flow_table_expiry(const struct flow_table *t, int32_t idx)
{
	return entry_at(t, (uint32_t)idx)->expire_ms;
}

void flow_table_remove(struct flow_table *t, int32_t idx)
{
	if ((uint32_t)idx >= t->fresh)
		return;
	struct entry *e = entry_at(t, (uint32_t)idx);
	if (e->prev == FREE)
		return;
	if (timer_linked(e))
		timer_unlink(t, e);
	uint32_t b = e->pos / SLOTS;
	t->buckets[b].sig[e->pos % SLOTS] = 0;
	t->buckets[b].idx[e->pos % SLOTS] = 0;
	/* Undo the passes its insert recorded between home and b. */
	for (uint32_t p = bucket_of(t, e->hash); p != b; p = bucket_next(t, p))
		t->buckets[p].passed--;
	e->prev = FREE;
	e->next = t->free_head;
	t->free_head = (uint32_t)idx;
	__atomic_store_n(&t->count, t->count - 1, __ATOMIC_RELAXED);
	t->changes++;
}

/* The first tick in [from, to] whose slot holds entries, or to + 1; at most
 * one read per 64 slots (to - from < the wheel's size). */
static uint64_t next_occupied(const struct flow_table *t, uint64_t from, uint64_t to)
{
	for (uint64_t tick = from; tick <= to;) {
		uint32_t slot = (uint32_t)(tick & WHEEL_MASK);
		uint64_t word = t->occupied[slot / 64] >> (slot % 64);
		if (word != 0) {
			tick += (uint64_t)__builtin_ctzll(word);
			return tick <= to ? tick : to + 1;
		}
		tick += 64 - slot % 64;
	}
	return to + 1;
}

unsigned flow_table_expire(struct flow_table *t, uint64_t now_ms, unsigned max,
                           flow_expire_fn *on_expire, void *arg)
{
	uint64_t target = now_ms >> TICK_SHIFT;
	unsigned due = 0, visits = 0;

	for (;;) {
		/* The slot in progress first: its entries are all at or before
		 * the cursor, so whatever is relinked lands elsewhere. */
		uint32_t idx;
		while ((idx = t->wheel[PENDING]) != NO_INDEX) {
			if (due >= max || visits >= 2 * max)
				return due;
			struct entry *e = entry_at(t, idx);
			timer_unlink(t, e);
			visits++;
			t->stats.timer_visits++;
			if (e->expire_ms > now_ms) {
				t->stats.timer_reslots++;
				timer_link(t, idx, e);
				continue;
			}
			due++;
			t->stats.expired++;
			bool keep =
			    on_expire != NULL && on_expire(arg, (int32_t)idx, (uint8_t *)(e + 1));
			if (!keep)
				flow_table_remove(t, (int32_t)idx);
			else if (e->prev == IDLE)
				timer_link(t, idx, e); /* due again at the cursor's tick */
		}
		if (t->cursor > target || due >= max || visits >= 2 * max)
			break;
		/* Far behind: one lap of the wheel visits every slot, and every
		 * entry sits in some slot, so start the lap that ends at now. */
		if (target - t->cursor >= FLOW_TABLE_WHEEL_SLOTS)
			t->cursor = target - FLOW_TABLE_WHEEL_SLOTS + 1;
		t->cursor = next_occupied(t, t->cursor, target);
		if (t->cursor > target)
			break;
		uint32_t slot = (uint32_t)(t->cursor & WHEEL_MASK);
		uint32_t head = t->wheel[slot];
		entry_at(t, head)->prev = HEAD | PENDING;
		t->wheel[PENDING] = head;
		t->wheel[slot] = NO_INDEX;
		t->occupied[slot / 64] &= ~(1ull << (slot % 64));
		t->cursor++;
	}
	return due;
}

/* ---- accessors --------------------------------------------------------------------------- */

void *flow_table_record(struct flow_table *t, int32_t idx)
{
	return entry_at(t, (uint32_t)idx) + 1;
}

const struct flow_key *flow_table_key(const struct flow_table *t, int32_t idx)
{
	return &entry_at(t, (uint32_t)idx)->key;
}

uint32_t flow_table_changes(const struct flow_table *t)
{
	return t->changes;
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
	return sizeof(*t) + t->buckets_len + t->entries_len;
}

void flow_table_stats(const struct flow_table *t, struct flow_table_stats *out)
{
	*out = t->stats;
}
