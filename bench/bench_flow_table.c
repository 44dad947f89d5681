/*
 * helogate-bench-flow: the flow table's costs at a given number of flows.
 *
 *   helogate-bench-flow [-r record_size] [-q queries] [flows ...]
 *
 * For each size (default 10000 1000000 4000000) it fills a table of exactly
 * that capacity, then times random lookups one at a time and in bursts of
 * 32 with flow_table_lookup_bulk(), on hits and on misses: "single" runs
 * 32 lookups back to back (the core overlaps their misses), "serialized"
 * fences after each (a worker with work between lookups). Query keys are
 * built from a counter in registers, as the worker builds them from a
 * packet, so only the table's own memory misses are measured. Cycles are
 * TSC ticks.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tcp/flow_table.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define UNIT "cycles"
/* Nothing after it starts before everything before it is done: a lookup
 * cannot overlap the next one, as in a worker with work between them. */
static inline void serialize(void)
{
	_mm_lfence();
}
static inline uint64_t ticks(void)
{
	return __rdtsc();
}
#else
#define UNIT "ns"
static inline uint64_t ticks(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static inline void serialize(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#endif

#define BURST 32

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Distinct keys for distinct i: an odd multiplier is a bijection. */
static void key_of(uint32_t i, struct flow_key *k)
{
	uint32_t client = i * 2654435761u;

	memset(k, 0, sizeof(*k));
	k->family = 4;
	memcpy(k->client, &client, 4);
	k->server[0] = 192;
	k->server[2] = 2;
	k->server[3] = 25;
	k->client_port = (uint16_t)(1024 + i % 60000);
	k->server_port = 25;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_below(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(((rng_state >> 32) * (uint64_t)n) >> 32);
}

struct batch {
	struct flow_key keys[BURST];
	const struct flow_key *ptrs[BURST];
	uint32_t hashes[BURST];
	int32_t out[BURST];
};

/* A burst of random keys, present (i < flows) or absent (i >= flows). */
static void batch_fill(struct batch *b, uint32_t flows, int hits)
{
	for (int j = 0; j < BURST; j++) {
		uint32_t i = rng_below(flows);
		key_of(hits ? i : flows + i, &b->keys[j]);
		b->ptrs[j] = &b->keys[j];
		b->hashes[j] = flow_key_hash(&b->keys[j]);
	}
}

struct result {
	double single, serial, bulk;
	uint64_t found;
};

/* Rotate single, serialized single and bulk bursts so that all three see
 * the same machine state. */
static struct result measure(struct flow_table *t, uint32_t flows, uint64_t queries, int hits)
{
	struct batch b;
	uint64_t single = 0, serial = 0, bulk = 0, found = 0;
	uint64_t rounds = queries / (3 * BURST);

	for (uint64_t r = 0; r < rounds; r++) {
		batch_fill(&b, flows, hits);
		uint64_t t0 = ticks();
		for (int j = 0; j < BURST; j++)
			b.out[j] = flow_table_lookup(t, b.ptrs[j], b.hashes[j]);
		single += ticks() - t0;
		for (int j = 0; j < BURST; j++)
			found += b.out[j] >= 0;

		batch_fill(&b, flows, hits);
		t0 = ticks();
		for (int j = 0; j < BURST; j++) {
			b.out[j] = flow_table_lookup(t, b.ptrs[j], b.hashes[j]);
			serialize();
		}
		serial += ticks() - t0;
		for (int j = 0; j < BURST; j++)
			found += b.out[j] >= 0;

		batch_fill(&b, flows, hits);
		t0 = ticks();
		flow_table_lookup_bulk(t, b.ptrs, b.hashes, BURST, b.out);
		bulk += ticks() - t0;
		for (int j = 0; j < BURST; j++)
			found += b.out[j] >= 0;
	}
	struct result res = {
	    .single = (double)single / (double)(rounds * BURST),
	    .serial = (double)serial / (double)(rounds * BURST),
	    .bulk = (double)bulk / (double)(rounds * BURST),
	    .found = found,
	};
	return res;
}

static double hash_cost(uint64_t n)
{
	struct flow_key k;
	uint32_t acc = 0;

	key_of(1, &k);
	uint64_t t0 = ticks();
	for (uint64_t i = 0; i < n; i++) {
		k.client_port = (uint16_t)i;
		acc += flow_key_hash(&k);
	}
	uint64_t t1 = ticks();
	if (acc == 1)
		fputs("", stderr); /* keeps acc alive */
	return (double)(t1 - t0) / (double)n;
}

static int run(uint32_t flows, uint32_t record_size, uint64_t queries)
{
	char err[160];
	double t0 = seconds();
	struct flow_table *t = flow_table_create(flows, record_size, err, sizeof(err));
	double created = seconds() - t0;

	if (t == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct flow_key k;
	uint64_t worst = 0, c0 = ticks();
	t0 = seconds();
	for (uint32_t i = 0; i < flows; i++) {
		key_of(i, &k);
		uint32_t hash = flow_key_hash(&k);
		uint64_t c = ticks();
		if (flow_table_insert(t, &k, hash) < 0) {
			fprintf(stderr, "insert %u of %u failed\n", i, flows);
			return 1;
		}
		c = ticks() - c;
		worst = c > worst ? c : worst;
	}
	double filled = seconds() - t0;
	double ticks_per_us = (double)(ticks() - c0) / (filled * 1e6);

	struct result hit = measure(t, flows, queries, 1);
	struct result miss = measure(t, flows, queries, 0);
	uint64_t rounds = queries / (3 * BURST);
	if (hit.found != rounds * 3 * BURST || miss.found != 0) {
		fprintf(stderr, "wrong answers: %" PRIu64 " hits, %" PRIu64 " false hits\n",
		        hit.found, miss.found);
		return 1;
	}
	printf("| %9u | %6.1f | %6.2f | %5.0f | %6.0f ", flows,
	       (double)flow_table_memory_bytes(t) / flows, created * 1e3, filled * 1e9 / flows,
	       (double)worst / ticks_per_us);
	printf("| %5.0f | %5.0f | %5.0f | %7.0f | %5.0f | %5.0f |\n", hit.single, hit.serial,
	       hit.bulk, miss.single, miss.serial, miss.bulk);
	fflush(stdout);
	flow_table_free(t);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t record_size = 256;
	uint64_t queries = 4000000;
	int opt;

	while ((opt = getopt(argc, argv, "r:q:")) != -1) {
		if (opt == 'r')
			record_size = (uint32_t)strtoul(optarg, NULL, 0);
		else if (opt == 'q')
			queries = strtoull(optarg, NULL, 0);
		else {
			fprintf(stderr, "usage: %s [-r record_size] [-q queries] [flows ...]\n",
			        argv[0]);
			return 2;
		}
	}
	printf("record %u B, %" PRIu64 " queries per row, bursts of %d, %s per lookup "
	       "(hash not included); flow_key_hash: %.1f %s\n\n",
	       record_size, queries, BURST, UNIT, hash_cost(10000000), UNIT);
	printf("| flows | B/flow | create ms | fill ns/flow | worst insert us "
	       "| hit: single | serialized | bulk | miss: single | serialized | bulk |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	if (optind == argc) {
		static const uint32_t sizes[] = {10000, 1000000, 4000000};
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (run(sizes[i], record_size, queries) != 0)
				return 1;
		return 0;
	}
	for (int i = optind; i < argc; i++)
		if (run((uint32_t)strtoul(argv[i], NULL, 0), record_size, queries) != 0)
			return 1;
	return 0;
}
